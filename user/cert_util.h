/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the cert files: the last error as a sentence, the clock
 * (with its test hook) and the time formats certificates and the index use.
 */
#ifndef HBX_CERT_UTIL_H
#define HBX_CERT_UTIL_H

#include "hex.h"

#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <mbedtls/x509.h>

#define HBX_ISO_TIME_LEN	20	/* "2025-01-02T03:04:05Z" */
#define HBX_CERT_NAME_MAX	64	/* ub-common-name */

/* The sentence the last failing hbx cert call left (per thread). */
const char *hbx_cert_error(void);
/* Set that sentence; both return -1 so callers can "return hbx_cert_fail()". */
int hbx_cert_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The same, with ": <mbedTLS's message for ret>" appended. */
int hbx_cert_fail_tls(int ret, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * Now, for everything hbx cert writes.  Test hook: HBX_CERT_NOW=<seconds
 * since the epoch> moves the clock for init/issue/renew/revoke/crl, so tests
 * can make expired and not-yet-valid certificates.  Verification always uses
 * the real clock (mbedTLS reads it itself).
 */
time_t hbx_cert_now(void);

/* "YYYYMMDDhhmmss", what mbedtls_x509write_crt_set_validity() takes. */
void hbx_time_x509write(time_t t, char out[15]);
/* ISO 8601 UTC, out holds HBX_ISO_TIME_LEN + 1. */
void hbx_time_iso(time_t t, char *out);
int hbx_time_parse_iso(const char *s, time_t *t);
time_t hbx_x509_time_epoch(const mbedtls_x509_time *t);
void hbx_x509_time_iso(const mbedtls_x509_time *t, char *out);

/* The CN of a distinguished name into buf: 0, or -1 if it has none. */
int hbx_x509_cn(const mbedtls_x509_name *dn, char *buf, size_t len);


#endif
