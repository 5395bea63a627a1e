/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The CA's CRL, built by hand because mbedTLS 2.28 only parses CRLs
 * (RFC 5280 5.1):
 *
 *   CertificateList ::= SEQUENCE { tbsCertList, signatureAlgorithm,
 *                                  signatureValue BIT STRING }
 *   TBSCertList ::= SEQUENCE { version v2, signature ecdsa-with-SHA256,
 *       issuer (the CA certificate's subject, byte for byte), thisUpdate,
 *       nextUpdate, revokedCertificates (omitted when empty),
 *       crlExtensions [0] { authorityKeyIdentifier, cRLNumber } }
 */
#ifndef HBX_CERT_CRL_H
#define HBX_CERT_CRL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>
#include "cert_index.h"
#include "cert_rng.h"

#define HBX_CRL_PEM_LABEL "X509 CRL"

struct hbx_crl_spec {
	const mbedtls_x509_crt	*ca;
	mbedtls_pk_context	*ca_key;
	const struct hbx_index	*ix;		/* its revoked entries go in */
	uint64_t		number;		/* cRLNumber */
	time_t			this_update, next_update;
};

/* The signed CRL as PEM; *pem is malloc'd.  0, or -1 and hbx_cert_error(). */
int hbx_crl_pem(const struct hbx_crl_spec *s, struct hbx_rng *rng,
		unsigned char **pem, size_t *pem_len);

#endif
