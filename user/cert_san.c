// SPDX-License-Identifier: GPL-2.0
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <mbedtls/oid.h>
#include "asn1_ext.h"
#include "cert_san.h"
#include "cert_util.h"

bool hbx_dns_name_ok(const char *s)
{
	size_t total = strlen(s), label = 0;
	const char *c;

	if (!total || total > HBX_DNS_NAME_MAX)
		return false;
	for (c = s; ; c++) {
		if (*c == '.' || !*c) {
			if (!label || label > 63 || c[-1] == '-')
				return false;
			if (!*c)
				return true;
			label = 0;
			continue;
		}
		if (!isalnum((unsigned char)*c) && !(*c == '-' && label))
			return false;
		label++;
	}
}

static bool san_equal(const struct hbx_san *a, const struct hbx_san *b)
{
	if (a->type != b->type)
		return false;
	if (a->type == HBX_SAN_DNS)
		return !strcasecmp(a->dns, b->dns);
	return a->ip_len == b->ip_len && !memcmp(a->ip, b->ip, a->ip_len);
}

static int san_add(struct hbx_san_list *l, const struct hbx_san *s)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (san_equal(&l->v[i], s))
			return 0;
	if (l->n == HBX_SAN_MAX)
		return hbx_cert_fail("too many subject alternative names (at most %d)",
				     HBX_SAN_MAX);
	l->v[l->n++] = *s;
	return 0;
}

static int san_parse_one(struct hbx_san_list *l, const char *item)
{
	struct hbx_san s;

	memset(&s, 0, sizeof(s));
	if (!strncasecmp(item, "dns:", 4)) {
		if (!hbx_dns_name_ok(item + 4))
			return hbx_cert_fail("'%s' is not a valid DNS name", item + 4);
		s.type = HBX_SAN_DNS;
		if (snprintf(s.dns, sizeof(s.dns), "%s", item + 4) >= (int)sizeof(s.dns))
			return -1;	/* hbx_dns_name_ok() checked */
	} else if (!strncasecmp(item, "ip:", 3)) {
		s.type = HBX_SAN_IP;
		if (inet_pton(AF_INET, item + 3, s.ip) == 1)
			s.ip_len = 4;
		else if (inet_pton(AF_INET6, item + 3, s.ip) == 1)
			s.ip_len = 16;
		else
			return hbx_cert_fail("'%s' is not an IPv4 or IPv6 address",
					     item + 3);
	} else {
		return hbx_cert_fail("'%s' is not a subject alternative name "
				     "(want dns:NAME or ip:ADDRESS)", item);
	}
	return san_add(l, &s);
}

int hbx_san_parse(struct hbx_san_list *l, const char *spec)
{
	char item[HBX_SAN_STR_MAX + 8];
	const char *p = spec, *comma;
	size_t n;

	do {
		comma = strchr(p, ',');
		n = comma ? (size_t)(comma - p) : strlen(p);
		if (!n)
			return hbx_cert_fail("empty subject alternative name in '%s'", spec);
		if (n >= sizeof(item))
			return hbx_cert_fail("subject alternative name '%.*s...' is too long",
					     32, p);
		memcpy(item, p, n);
		item[n] = '\0';
		if (san_parse_one(l, item))
			return -1;
		p = comma + 1;
	} while (comma);
	return 0;
}

void hbx_san_format(const struct hbx_san *s, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN];

	if (s->type == HBX_SAN_DNS) {
		snprintf(buf, len, "dns:%s", s->dns);
		return;
	}
	inet_ntop(s->ip_len == 4 ? AF_INET : AF_INET6, s->ip, ip, sizeof(ip));
	snprintf(buf, len, "ip:%s", ip);
}

int hbx_san_from_crt(const mbedtls_x509_crt *crt, struct hbx_san_list *l)
{
	unsigned char *val;
	size_t len;
	int ret;

	l->n = 0;
	ret = hbx_asn1_find_ext(&crt->v3_ext, MBEDTLS_OID_SUBJECT_ALT_NAME,
				MBEDTLS_OID_SIZE(MBEDTLS_OID_SUBJECT_ALT_NAME),
				&val, &len);
	if (ret > 0)
		return 0;
	if (ret < 0 || hbx_asn1_read_san(val, len, l))
		return hbx_cert_fail("the certificate's subjectAltName is malformed");
	return 0;
}
