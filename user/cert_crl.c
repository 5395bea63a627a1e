// SPDX-License-Identifier: GPL-2.0
#include <stdlib.h>
#include <string.h>
#include <mbedtls/asn1write.h>
#include <mbedtls/oid.h>
#include <mbedtls/sha256.h>
#include "asn1_ext.h"
#include "cert_crl.h"
#include "cert_util.h"
#include "pem_file.h"

#define SEQ (MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE)

/* AlgorithmIdentifier for ECDSA: the parameters are absent, not NULL (RFC 5758). */
static int write_ecdsa_sha256(unsigned char **p, unsigned char *start)
{
	int ret;
	size_t len = 0;

	MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_oid(p, start,
			MBEDTLS_OID_ECDSA_SHA256, MBEDTLS_OID_SIZE(MBEDTLS_OID_ECDSA_SHA256)));
	return hbx_asn1_wrap(p, start, len, SEQ);
}

static int write_extensions(unsigned char **p, unsigned char *start,
			    const struct hbx_crl_spec *s)
{
	/* tag, length, a leading zero and up to 8 value bytes */
	unsigned char num[2 + 1 + 8], aki[24], *c;
	uint64_t v = s->number;
	size_t len = 0;
	int ret, i;

	/* cRLNumber ::= INTEGER, minimal big-endian, positive. */
	c = num + sizeof(num);
	do {
		*--c = v & 0xff;
		v >>= 8;
	} while (v);
	if (*c & 0x80)
		*--c = 0;
	i = num + sizeof(num) - c;
	memmove(num + 2, c, i);
	num[0] = MBEDTLS_ASN1_INTEGER;
	num[1] = i;
	MBEDTLS_ASN1_CHK_ADD(len, hbx_asn1_write_ext(p, start, MBEDTLS_OID_CRL_NUMBER,
			MBEDTLS_OID_SIZE(MBEDTLS_OID_CRL_NUMBER), false, num, i + 2));

	/* AuthorityKeyIdentifier ::= SEQUENCE { keyIdentifier [0] } */
	if (hbx_asn1_key_id(&s->ca->pk, aki + 4))
		return MBEDTLS_ERR_ASN1_INVALID_DATA;
	aki[0] = SEQ;
	aki[1] = 22;
	aki[2] = MBEDTLS_ASN1_CONTEXT_SPECIFIC | 0;
	aki[3] = 20;
	MBEDTLS_ASN1_CHK_ADD(len, hbx_asn1_write_ext(p, start,
			MBEDTLS_OID_AUTHORITY_KEY_IDENTIFIER,
			MBEDTLS_OID_SIZE(MBEDTLS_OID_AUTHORITY_KEY_IDENTIFIER),
			false, aki, sizeof(aki)));
	ret = hbx_asn1_wrap(p, start, len, SEQ);
	if (ret < 0)
		return ret;
	return hbx_asn1_wrap(p, start, ret,
		    MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_ASN1_CONSTRUCTED | 0);
}

static int write_revoked(unsigned char **p, unsigned char *start,
			 const struct hbx_index *ix)
{
	unsigned char serial[HBX_SERIAL_HEX_MAX / 2];
	size_t len = 0, i = ix->n, n;
	int ret, serial_len;

	while (i--) {
		const struct hbx_index_entry *e = &ix->v[i];

		if (!e->revoked)
			continue;
		serial_len = hbx_unhex(e->serial, serial, sizeof(serial));
		if (serial_len < 0)
			return MBEDTLS_ERR_ASN1_INVALID_DATA;
		n = 0;
		MBEDTLS_ASN1_CHK_ADD(n, hbx_asn1_write_time(p, start, e->revoked_at));
		/* The serial's INTEGER content exactly as the certificate has it. */
		MBEDTLS_ASN1_CHK_ADD(n, mbedtls_asn1_write_raw_buffer(p, start,
				serial, serial_len));
		MBEDTLS_ASN1_CHK_ADD(n, mbedtls_asn1_write_len(p, start, serial_len));
		MBEDTLS_ASN1_CHK_ADD(n, mbedtls_asn1_write_tag(p, start,
							     MBEDTLS_ASN1_INTEGER));
		MBEDTLS_ASN1_CHK_ADD(len, hbx_asn1_wrap(p, start, n, SEQ));
	}
	return len ? hbx_asn1_wrap(p, start, len, SEQ) : 0;
}

static int write_tbs(unsigned char **p, unsigned char *start,
		     const struct hbx_crl_spec *s)
{
	const mbedtls_x509_buf *issuer = &s->ca->subject_raw;
	size_t len = 0;
	int ret;

	MBEDTLS_ASN1_CHK_ADD(len, write_extensions(p, start, s));
	MBEDTLS_ASN1_CHK_ADD(len, write_revoked(p, start, s->ix));
	MBEDTLS_ASN1_CHK_ADD(len, hbx_asn1_write_time(p, start, s->next_update));
	MBEDTLS_ASN1_CHK_ADD(len, hbx_asn1_write_time(p, start, s->this_update));
	MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_raw_buffer(p, start,
			issuer->p, issuer->len));
	MBEDTLS_ASN1_CHK_ADD(len, write_ecdsa_sha256(p, start));
	MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_int(p, start, 1));	/* v2 */
	return hbx_asn1_wrap(p, start, len, SEQ);
}

/* CertificateList around the tbs at tbs/tbs_len, written below *p. */
static int write_signed(unsigned char **p, unsigned char *start,
			const unsigned char *tbs, size_t tbs_len,
			const unsigned char *sig, size_t sig_len)
{
	size_t len = 0;
	int ret;

	MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_bitstring(p, start, sig,
			sig_len * 8));
	MBEDTLS_ASN1_CHK_ADD(len, write_ecdsa_sha256(p, start));
	MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_raw_buffer(p, start, tbs, tbs_len));
	return hbx_asn1_wrap(p, start, len, SEQ);
}

int hbx_crl_pem(const struct hbx_crl_spec *s, struct hbx_rng *rng,
		unsigned char **pem, size_t *pem_len)
{
	unsigned char hash[32], sig[MBEDTLS_PK_SIGNATURE_MAX_SIZE];
	size_t size = 1024 + s->ix->n * 64, sig_len = 0;
	unsigned char *tbs_buf = malloc(size), *der_buf = malloc(2 * size);
	unsigned char *tbs, *der;
	int tbs_len, der_len, err, ret = -1;

	if (!tbs_buf || !der_buf) {
		hbx_cert_fail("out of memory");
		goto out;
	}
	/* The mbedtls_asn1_write_*() way: from the end of the buffer down. */
	tbs = tbs_buf + size;
	der = der_buf + 2 * size;
	if (!mbedtls_pk_can_do(s->ca_key, MBEDTLS_PK_ECDSA)) {
		hbx_cert_fail("the CA key is not an ECDSA key");
		goto out;
	}
	tbs_len = write_tbs(&tbs, tbs_buf, s);
	if (tbs_len < 0) {
		hbx_cert_fail_tls(tbs_len, "cannot encode the CRL");
		goto out;
	}
	err = mbedtls_sha256_ret(tbs, tbs_len, hash, 0);
	if (!err)
		err = mbedtls_pk_sign(s->ca_key, MBEDTLS_MD_SHA256, hash, sizeof(hash),
				      sig, &sig_len, hbx_rng_random, rng);
	if (err) {
		hbx_cert_fail_tls(err, "cannot sign the CRL");
		goto out;
	}
	der_len = write_signed(&der, der_buf, tbs, tbs_len, sig, sig_len);
	if (der_len < 0) {
		hbx_cert_fail_tls(der_len, "cannot encode the CRL");
		goto out;
	}
	if (hbx_pem_encode(HBX_CRL_PEM_LABEL, der, der_len, pem, pem_len)) {
		hbx_cert_fail("cannot encode the CRL as PEM");
		goto out;
	}
	ret = 0;
out:
	free(tbs_buf);
	free(der_buf);
	return ret;
}
