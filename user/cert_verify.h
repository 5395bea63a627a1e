/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Is this a good peer certificate of our cluster?  The one place where
 * mbedTLS verify flags become a reason and a sentence for hbx cert verify.
 * The TLS handshake (user/tls.c) ranks the flags the same way and words
 * them from the peer's side.
 */
#ifndef HBX_CERT_VERIFY_H
#define HBX_CERT_VERIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <mbedtls/x509_crl.h>
#include <mbedtls/x509_crt.h>

/* Most important first: hbx_cert_why() reports the first that applies. */
enum hbx_cert_reason {
	HBX_CERT_OK = 0,
	HBX_CERT_MISSING,		/* no certificate at all */
	HBX_CERT_NOT_TRUSTED,		/* not signed by this CA */
	HBX_CERT_REVOKED,
	HBX_CERT_EXPIRED,
	HBX_CERT_NOT_YET_VALID,
	HBX_CERT_CA_EXPIRED,		/* the CA certificate itself */
	HBX_CERT_NAME_MISMATCH,
	HBX_CERT_BAD_USAGE,		/* keyUsage/extendedKeyUsage not for TLS peers */
	HBX_CERT_BAD_ALGORITHM,
	HBX_CERT_CRL_NOT_TRUSTED,	/* the CRL is not from this CA */
	HBX_CERT_CRL_EXPIRED,		/* nextUpdate has passed */
	HBX_CERT_CRL_NOT_YET_VALID,
	HBX_CERT_OTHER,
};

/* "ok", "revoked", "not-yet-valid"...: the -j "reason". */
const char *hbx_cert_reason_name(int reason);

/*
 * The errno the TLS code reports for a reason (user/tls.h): -EKEYREVOKED,
 * -EKEYEXPIRED (the certificate's or the CRL's dates), -ENOKEY (none sent),
 * -EINVAL (a CRL that is not the CA's: our own files disagree),
 * -EKEYREJECTED (everything else); 0 for HBX_CERT_OK.
 */
int hbx_cert_reason_errno(int reason);

/*
 * Map verify flags to a reason and a sentence in why ("certificate 'node1'
 * has been revoked (serial ... is on the CRL)").  crt adds names and dates
 * and may be NULL; name is the expected peer name for a mismatch, or NULL.
 */
int hbx_cert_why(const mbedtls_x509_crt *crt, uint32_t flags, const char *name,
		 char *why, size_t whylen);

/*
 * Does crt name name as the TLS handshake checks it (tls.c's
 * expected_name, mbedTLS's rule): a SAN dNSName (ASCII case-insensitive,
 * "*." wildcards) when the certificate has a SAN extension, else its CN.
 * IP addresses in SANs are not matched: mbedTLS 2.28 does not.
 */
bool hbx_cert_names(const mbedtls_x509_crt *crt, const char *name);

/*
 * Check crt against ca (signature, validity dates of both), crl if not NULL
 * (which must be ca's: mbedTLS would silently ignore another CA's CRL), its
 * usage (digitalSignature, serverAuth and clientAuth when present) and name
 * if not NULL.  Returns HBX_CERT_OK (0) or the reason, with why filled in.
 * Dates are checked against the real clock.
 */
int hbx_cert_check(const mbedtls_x509_crt *crt, const mbedtls_x509_crt *ca,
		   mbedtls_x509_crl *crl, const char *name, char *why,
		   size_t whylen);

#endif
