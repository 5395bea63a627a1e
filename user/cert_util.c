// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <mbedtls/error.h>
#include <mbedtls/oid.h>
#include "cert_util.h"

static __thread char cert_err[512];

const char *hbx_cert_error(void)
{
	return cert_err[0] ? cert_err : "unknown error";
}

int hbx_cert_fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cert_err, sizeof(cert_err), fmt, ap);
	va_end(ap);
	return -1;
}

int hbx_cert_fail_tls(int ret, const char *fmt, ...)
{
	char tls[200];
	size_t n;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cert_err, sizeof(cert_err), fmt, ap);
	va_end(ap);
	mbedtls_strerror(ret, tls, sizeof(tls));
	n = strlen(cert_err);
	snprintf(cert_err + n, sizeof(cert_err) - n, ": %s", tls);
	return -1;
}

time_t hbx_cert_now(void)
{
	const char *s = getenv("HBX_CERT_NOW");
	char *end;
	long long v;

	if (s && *s) {
		errno = 0;
		v = strtoll(s, &end, 10);
		if (!errno && !*end && v > 0)
			return (time_t)v;
	}
	return time(NULL);
}

void hbx_time_x509write(time_t t, char out[15])
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 15, "%Y%m%d%H%M%S", &tm);
}

void hbx_time_iso(time_t t, char *out)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, HBX_ISO_TIME_LEN + 1, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int hbx_time_parse_iso(const char *s, time_t *t)
{
	struct tm tm = { 0 };
	const char *end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);

	if (!end || *end)
		return -1;
	*t = timegm(&tm);
	return 0;
}

time_t hbx_x509_time_epoch(const mbedtls_x509_time *x)
{
	struct tm tm = {
		.tm_year = x->year - 1900, .tm_mon = x->mon - 1, .tm_mday = x->day,
		.tm_hour = x->hour, .tm_min = x->min, .tm_sec = x->sec,
	};

	return timegm(&tm);
}

void hbx_x509_time_iso(const mbedtls_x509_time *x, char *out)
{
	snprintf(out, HBX_ISO_TIME_LEN + 1, "%04u-%02u-%02uT%02u:%02u:%02uZ",
		 (unsigned int)x->year % 10000, (unsigned int)x->mon % 100,
		 (unsigned int)x->day % 100, (unsigned int)x->hour % 100,
		 (unsigned int)x->min % 100, (unsigned int)x->sec % 100);
}

int hbx_x509_cn(const mbedtls_x509_name *dn, char *buf, size_t len)
{
	for (; dn; dn = dn->next) {
		if (!dn->oid.p || MBEDTLS_OID_CMP(MBEDTLS_OID_AT_CN, &dn->oid))
			continue;
		if (dn->val.len >= len || memchr(dn->val.p, '\0', dn->val.len))
			return -1;
		memcpy(buf, dn->val.p, dn->val.len);
		buf[dn->val.len] = '\0';
		return 0;
	}
	return -1;
}
