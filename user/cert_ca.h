/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The cluster CA: a directory holding
 *
 *   ca.key     ECDSA P-256 private key, 0600
 *   ca.crt     self-signed CA certificate
 *   ca.crl     the CRL, re-signed on every revocation and by hbx cert crl
 *   index      what the CA issued (cert_index.h)
 *   crlnumber  the last cRLNumber used
 *
 * Every change happens under flock() on the directory, so two hbx cert
 * commands never interleave their index and CRL updates.
 */
#ifndef HBX_CERT_CA_H
#define HBX_CERT_CA_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>
#include "cert_index.h"
#include "cert_rng.h"
#include "cert_write.h"

#define HBX_CA_DIR_DEFAULT	"/etc/hyperbox/ca"
#define HBX_CA_KEY		"ca.key"
#define HBX_CA_CRT		"ca.crt"
#define HBX_CA_CRL		"ca.crl"
#define HBX_CA_CRLNUMBER	"crlnumber"

#define HBX_CA_DAYS_DEFAULT	3650
#define HBX_CERT_DAYS_DEFAULT	90
#define HBX_CRL_DAYS_DEFAULT	30
#define HBX_DAYS_MAX		36500

struct hbx_ca {
	char			dir[PATH_MAX];
	char			name[HBX_CERT_NAME_MAX + 1];	/* its CN */
	mbedtls_x509_crt	crt;
	mbedtls_pk_context	key;
	struct hbx_rng		rng;
	struct hbx_index	ix;
	int			lock_fd;
};

/* Everything below returns 0, or -1 and hbx_cert_error(). */

/*
 * Create the CA in dir (made 0700 if missing): key, self-signed certificate
 * valid for days, an empty CRL valid for crl_days and an empty index.  An
 * existing ca.key or ca.crt is only replaced with force, which also starts
 * a new index: the old CA's certificates no longer verify anyway.
 */
int hbx_ca_init(const char *dir, const char *name, unsigned int days,
		unsigned int crl_days, bool force);

/* Lock dir and load the CA's key, certificate and index. */
int hbx_ca_open(struct hbx_ca *ca, const char *dir);
void hbx_ca_close(struct hbx_ca *ca);

/* DIR/FILE into buf. */
void hbx_ca_path(const struct hbx_ca *ca, const char *file, char *buf,
		 size_t len);

/*
 * Sign a new CRL of the index's revoked certificates with the next
 * cRLNumber, valid from now for days; 0 keeps the current CRL's lifetime
 * (HBX_CRL_DAYS_DEFAULT if there is none).
 */
int hbx_ca_write_crl(struct hbx_ca *ca, unsigned int days);

/*
 * Revoke the certificate whose serial (hex) is what, or else every
 * unrevoked certificate named what, or, when what is a key identity
 * ("sha256:<hex>"), every certificate of that key (hbx_ca_revoke_key);
 * then write a new CRL.  *count is how many were revoked.
 */
int hbx_ca_revoke(struct hbx_ca *ca, const char *what, size_t *count);

/*
 * Revoke every unrevoked certificate whose key is key ("sha256:<hex>" of
 * its SubjectPublicKeyInfo, as the index records it): the peer's identity
 * is its key, and renew gives one key several certificates.
 */
int hbx_ca_revoke_key(struct hbx_ca *ca, const char *key, size_t *count);

#endif
