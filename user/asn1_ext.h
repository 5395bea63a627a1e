/* SPDX-License-Identifier: GPL-2.0 */
/*
 * DER that mbedTLS 2.28 cannot write or does not expose: the
 * subjectAltName and extendedKeyUsage extensions, times, and reading
 * extensions (SANs, cRLNumber) back out of parsed certificates and CRLs.
 *
 * The writers work like mbedtls_asn1_write_*(): backwards from *p, never
 * below start, returning the length written or a negative mbedTLS error.
 */
#ifndef HBX_ASN1_EXT_H
#define HBX_ASN1_EXT_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509_crl.h>
#include "cert_san.h"

/* Length and tag in front of the len bytes just written; the total length. */
int hbx_asn1_wrap(unsigned char **p, unsigned char *start, size_t len,
		  unsigned char tag);
/* GeneralNames: dNSName [2] IA5String, iPAddress [7] OCTET STRING. */
int hbx_asn1_write_san(unsigned char **p, unsigned char *start,
		       const struct hbx_san_list *l);
/* ExtKeyUsageSyntax: serverAuth and clientAuth (every peer is both). */
int hbx_asn1_write_eku_peer(unsigned char **p, unsigned char *start);
/* UTCTime until 2049, GeneralizedTime after (RFC 5280 4.1.2.5). */
int hbx_asn1_write_time(unsigned char **p, unsigned char *start, time_t t);
/* Extension ::= SEQUENCE { extnID, critical DEFAULT FALSE, extnValue }. */
int hbx_asn1_write_ext(unsigned char **p, unsigned char *start,
		       const char *oid, size_t oid_len, bool critical,
		       const unsigned char *val, size_t val_len);
/* The SHA-1 key identifier mbedTLS puts in subjectKeyIdentifier. */
int hbx_asn1_key_id(const mbedtls_pk_context *pk, unsigned char id[20]);

/*
 * Find extension oid in the Extensions a certificate (v3_ext) or CRL
 * (crl_ext) holds: 0 with *val and *len set to its extnValue, 1 if absent,
 * -1 if malformed.
 */
int hbx_asn1_find_ext(const mbedtls_x509_buf *exts, const char *oid,
		      size_t oid_len, unsigned char **val, size_t *len);
/* Append the DNS names and IP addresses of a GeneralNames value. */
int hbx_asn1_read_san(unsigned char *p, size_t len, struct hbx_san_list *l);
/* The CRL's cRLNumber: 0, or -1 if it has none we can read. */
int hbx_crl_number(const mbedtls_x509_crl *crl, uint64_t *n);

#endif
