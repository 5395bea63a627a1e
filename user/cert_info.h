/* SPDX-License-Identifier: GPL-2.0 */
/* What hbx cert show prints about a certificate or a CRL, as text or -j. */
#ifndef HBX_CERT_INFO_H
#define HBX_CERT_INFO_H

#include <stdio.h>
#include <mbedtls/x509_crl.h>
#include <mbedtls/x509_crt.h>
#include "json.h"
#include "manifest.h"

/*
 * "sha256:<hex>" of the certificate's SubjectPublicKeyInfo DER: the peer's
 * identity, which stays the same when the certificate is renewed.  out
 * holds HBX_DIGEST_STR_LEN + 1.
 */
void hbx_cert_identity(const mbedtls_x509_crt *crt, char *out);
/* The same identity from the key itself: 0, or -1. */
int hbx_key_identity(const mbedtls_pk_context *pk, char *out);

/* Keys: subject, issuer, serial, not-before, not-after, san, key-type,
 * key-bits, public-key-sha256, ca, key-usage, extended-key-usage. */
void hbx_cert_json(struct hbx_json *j, const char *key, const mbedtls_x509_crt *crt);
void hbx_cert_print(FILE *out, const mbedtls_x509_crt *crt);

/* Keys: issuer, this-update, next-update, crl-number, revoked [serial,
 * revocation-date]. */
void hbx_crl_json(struct hbx_json *j, const char *key, const mbedtls_x509_crl *crl);
void hbx_crl_print(FILE *out, const mbedtls_x509_crl *crl);

#endif
