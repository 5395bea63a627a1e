/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What goes into HyperBox certificates: subjects "CN=NAME,O=HyperBox",
 * random positive 16-byte serials, the CA and peer profiles.
 */
#ifndef HBX_CERT_WRITE_H
#define HBX_CERT_WRITE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>
#include <mbedtls/pk.h>
#include "cert_rng.h"
#include "cert_san.h"
#include "cert_util.h"

#define HBX_SERIAL_LEN		16
#define HBX_SERIAL_HEX_MAX	(2 * 20)	/* RFC 5280 allows 20 octets */
#define HBX_CERT_ORG		"HyperBox"
/* notBefore lies this far in the past, for peers whose clocks lag. */
#define HBX_CERT_BACKDATE	(5 * 60)

struct hbx_crt_spec {
	const char		*subject_cn, *issuer_cn;
	mbedtls_pk_context	*subject_key, *issuer_key;
	time_t			not_before, not_after;
	bool			ca;
	const struct hbx_san_list *san;		/* peers only; may be empty */
	unsigned char		serial[HBX_SERIAL_LEN];
};

/* A peer name: [A-Za-z0-9][A-Za-z0-9._-]*, at most 64; it names files too. */
bool hbx_cert_name_ok(const char *name);
/* A CA name may also hold spaces and a little punctuation, no DN syntax. */
bool hbx_ca_name_ok(const char *name);

void hbx_serial_new(struct hbx_rng *rng, unsigned char serial[HBX_SERIAL_LEN]);

/*
 * The certificate as PEM in buf.  CA: basicConstraints CA:TRUE pathlen:0
 * (critical), keyUsage keyCertSign|cRLSign.  Peer: CA:FALSE, keyUsage
 * digitalSignature, extendedKeyUsage serverAuth+clientAuth, the SANs.
 * Both: SHA-256 ECDSA, subject and authority key identifiers.
 */
int hbx_crt_pem(const struct hbx_crt_spec *s, struct hbx_rng *rng,
		unsigned char *buf, size_t len);

#endif
