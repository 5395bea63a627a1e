// SPDX-License-Identifier: GPL-2.0
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <mbedtls/oid.h>
#include <mbedtls/x509_crt.h>
#include "asn1_ext.h"
#include "cert_util.h"
#include "cert_write.h"

bool hbx_cert_name_ok(const char *name)
{
	size_t n = strlen(name), i;

	if (!n || n > HBX_CERT_NAME_MAX || !isalnum((unsigned char)name[0]))
		return false;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)name[i]) && !strchr("._-", name[i]))
			return false;
	return true;
}

bool hbx_ca_name_ok(const char *name)
{
	size_t n = strlen(name), i;

	if (!n || n > HBX_CERT_NAME_MAX || name[0] == ' ' || name[n - 1] == ' ')
		return false;
	/* mbedtls_x509_string_to_names() would read ',' and '=' as syntax. */
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)name[i]) && !strchr(" ._-:@()", name[i]))
			return false;
	return true;
}

void hbx_serial_new(struct hbx_rng *rng, unsigned char serial[HBX_SERIAL_LEN])
{
	hbx_rng_random(rng, serial, HBX_SERIAL_LEN);
	/* Positive and exactly 16 octets: top bit clear, next one set. */
	serial[0] = (serial[0] & 0x7f) | 0x40;
}

static int set_extensions(mbedtls_x509write_cert *w, const struct hbx_crt_spec *s)
{
	unsigned char buf[HBX_SAN_MAX * (HBX_DNS_NAME_MAX + 4) + 16];
	unsigned char *end = buf + sizeof(buf), *c = end;
	int ret, len;

	ret = mbedtls_x509write_crt_set_basic_constraints(w, s->ca, s->ca ? 0 : -1);
	if (!ret)
		ret = mbedtls_x509write_crt_set_subject_key_identifier(w);
	if (!ret)
		ret = mbedtls_x509write_crt_set_authority_key_identifier(w);
	if (!ret)
		ret = mbedtls_x509write_crt_set_key_usage(w, s->ca ?
			MBEDTLS_X509_KU_KEY_CERT_SIGN | MBEDTLS_X509_KU_CRL_SIGN :
			MBEDTLS_X509_KU_DIGITAL_SIGNATURE);
	if (ret || s->ca)
		return ret;

	len = hbx_asn1_write_eku_peer(&c, buf);
	if (len < 0)
		return len;
	ret = mbedtls_x509write_crt_set_extension(w, MBEDTLS_OID_EXTENDED_KEY_USAGE,
			MBEDTLS_OID_SIZE(MBEDTLS_OID_EXTENDED_KEY_USAGE), 0, c, len);
	if (ret || !s->san || !s->san->n)
		return ret;
	c = end;
	len = hbx_asn1_write_san(&c, buf, s->san);
	if (len < 0)
		return len;
	/* Not critical: the subject is not empty (RFC 5280 4.2.1.6). */
	return mbedtls_x509write_crt_set_extension(w, MBEDTLS_OID_SUBJECT_ALT_NAME,
			MBEDTLS_OID_SIZE(MBEDTLS_OID_SUBJECT_ALT_NAME), 0, c, len);
}

int hbx_crt_pem(const struct hbx_crt_spec *s, struct hbx_rng *rng,
		unsigned char *buf, size_t len)
{
	char subject[128], issuer[128], nb[15], na[15];
	mbedtls_x509write_cert w;
	mbedtls_mpi serial;
	int ret;

	snprintf(subject, sizeof(subject), "CN=%s,O=" HBX_CERT_ORG, s->subject_cn);
	snprintf(issuer, sizeof(issuer), "CN=%s,O=" HBX_CERT_ORG, s->issuer_cn);
	hbx_time_x509write(s->not_before, nb);
	hbx_time_x509write(s->not_after, na);

	mbedtls_x509write_crt_init(&w);
	mbedtls_mpi_init(&serial);
	mbedtls_x509write_crt_set_version(&w, MBEDTLS_X509_CRT_VERSION_3);
	mbedtls_x509write_crt_set_md_alg(&w, MBEDTLS_MD_SHA256);
	mbedtls_x509write_crt_set_subject_key(&w, s->subject_key);
	mbedtls_x509write_crt_set_issuer_key(&w, s->issuer_key);
	ret = mbedtls_x509write_crt_set_subject_name(&w, subject);
	if (!ret)
		ret = mbedtls_x509write_crt_set_issuer_name(&w, issuer);
	if (!ret)
		ret = mbedtls_mpi_read_binary(&serial, s->serial, HBX_SERIAL_LEN);
	if (!ret)
		ret = mbedtls_x509write_crt_set_serial(&w, &serial);
	if (!ret)
		ret = mbedtls_x509write_crt_set_validity(&w, nb, na);
	if (!ret)
		ret = set_extensions(&w, s);
	if (!ret)
		ret = mbedtls_x509write_crt_pem(&w, buf, len, hbx_rng_random, rng);
	mbedtls_mpi_free(&serial);
	mbedtls_x509write_crt_free(&w);
	if (ret)
		return hbx_cert_fail_tls(ret, "cannot create the certificate for '%s'",
					 s->subject_cn);
	return 0;
}
