// SPDX-License-Identifier: GPL-2.0
#include <string.h>
#include <mbedtls/asn1write.h>
#include <mbedtls/oid.h>
#include <mbedtls/sha1.h>
#include "asn1_ext.h"

#define SEQ (MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE)

int hbx_asn1_wrap(unsigned char **p, unsigned char *start, size_t len,
		unsigned char tag)
{
	int ret;
	size_t n = len;

	MBEDTLS_ASN1_CHK_ADD(n, mbedtls_asn1_write_len(p, start, len));
	MBEDTLS_ASN1_CHK_ADD(n, mbedtls_asn1_write_tag(p, start, tag));
	return (int)n;
}

int hbx_asn1_write_san(unsigned char **p, unsigned char *start,
		       const struct hbx_san_list *l)
{
	size_t i = l->n, len = 0, n;
	int ret;

	while (i--) {
		const struct hbx_san *s = &l->v[i];

		n = 0;
		if (s->type == HBX_SAN_DNS)
			MBEDTLS_ASN1_CHK_ADD(n, mbedtls_asn1_write_raw_buffer(p, start,
					(const unsigned char *)s->dns, strlen(s->dns)));
		else
			MBEDTLS_ASN1_CHK_ADD(n, mbedtls_asn1_write_raw_buffer(p, start,
					s->ip, s->ip_len));
		MBEDTLS_ASN1_CHK_ADD(len, hbx_asn1_wrap(p, start, n,
				MBEDTLS_ASN1_CONTEXT_SPECIFIC | s->type));
	}
	return hbx_asn1_wrap(p, start, len, SEQ);
}

int hbx_asn1_write_eku_peer(unsigned char **p, unsigned char *start)
{
	size_t len = 0;
	int ret;

	MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_oid(p, start,
			MBEDTLS_OID_CLIENT_AUTH, MBEDTLS_OID_SIZE(MBEDTLS_OID_CLIENT_AUTH)));
	MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_oid(p, start,
			MBEDTLS_OID_SERVER_AUTH, MBEDTLS_OID_SIZE(MBEDTLS_OID_SERVER_AUTH)));
	return hbx_asn1_wrap(p, start, len, SEQ);
}

int hbx_asn1_write_time(unsigned char **p, unsigned char *start, time_t t)
{
	char buf[32];
	struct tm tm;
	bool utc;
	size_t n;
	int ret;

	gmtime_r(&t, &tm);
	utc = tm.tm_year >= 50 && tm.tm_year < 150;
	n = strftime(buf, sizeof(buf), utc ? "%y%m%d%H%M%SZ" : "%Y%m%d%H%M%SZ", &tm);
	ret = mbedtls_asn1_write_raw_buffer(p, start, (unsigned char *)buf, n);
	if (ret < 0)
		return ret;
	return hbx_asn1_wrap(p, start, n, utc ? MBEDTLS_ASN1_UTC_TIME
				    : MBEDTLS_ASN1_GENERALIZED_TIME);
}

int hbx_asn1_write_ext(unsigned char **p, unsigned char *start,
		       const char *oid, size_t oid_len, bool critical,
		       const unsigned char *val, size_t val_len)
{
	size_t len = 0;
	int ret;

	MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_raw_buffer(p, start, val, val_len));
	MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_len(p, start, val_len));
	MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_tag(p, start,
						       MBEDTLS_ASN1_OCTET_STRING));
	if (critical)
		MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_bool(p, start, 1));
	MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_oid(p, start, oid, oid_len));
	return hbx_asn1_wrap(p, start, len, SEQ);
}

int hbx_asn1_key_id(const mbedtls_pk_context *pk, unsigned char id[20])
{
	unsigned char buf[MBEDTLS_MPI_MAX_SIZE * 2 + 20], *c = buf + sizeof(buf);
	int len = mbedtls_pk_write_pubkey(&c, buf, pk);

	if (len < 0)
		return len;
	return mbedtls_sha1_ret(c, len, id);
}

int hbx_asn1_find_ext(const mbedtls_x509_buf *exts, const char *oid,
		      size_t oid_len, unsigned char **val, size_t *vlen)
{
	unsigned char *p = exts->p, *end, *ext_end, *id;
	size_t len, id_len;
	int critical;

	if (!p || !exts->len)
		return 1;
	end = p + exts->len;
	if (mbedtls_asn1_get_tag(&p, end, &len, SEQ))
		return -1;
	end = p + len;
	while (p < end) {
		if (mbedtls_asn1_get_tag(&p, end, &len, SEQ))
			return -1;
		ext_end = p + len;
		if (mbedtls_asn1_get_tag(&p, ext_end, &id_len, MBEDTLS_ASN1_OID))
			return -1;
		id = p;
		p += id_len;
		mbedtls_asn1_get_bool(&p, ext_end, &critical);	/* optional */
		if (mbedtls_asn1_get_tag(&p, ext_end, &len, MBEDTLS_ASN1_OCTET_STRING))
			return -1;
		if (id_len == oid_len && !memcmp(id, oid, oid_len)) {
			*val = p;
			*vlen = len;
			return 0;
		}
		p = ext_end;
	}
	return 1;
}

int hbx_asn1_read_san(unsigned char *p, size_t len, struct hbx_san_list *l)
{
	unsigned char *end = p + len, tag;
	size_t n;

	if (mbedtls_asn1_get_tag(&p, end, &len, SEQ) || p + len != end)
		return -1;
	while (p < end && l->n < HBX_SAN_MAX) {
		struct hbx_san *s = &l->v[l->n];

		tag = *p++;
		if (mbedtls_asn1_get_len(&p, end, &n))
			return -1;
		memset(s, 0, sizeof(*s));
		if (tag == (MBEDTLS_ASN1_CONTEXT_SPECIFIC | HBX_SAN_DNS) &&
		    n <= HBX_DNS_NAME_MAX && !memchr(p, '\0', n)) {
			s->type = HBX_SAN_DNS;
			memcpy(s->dns, p, n);
			l->n++;
		} else if (tag == (MBEDTLS_ASN1_CONTEXT_SPECIFIC | HBX_SAN_IP) &&
			   (n == 4 || n == 16)) {
			s->type = HBX_SAN_IP;
			s->ip_len = n;
			memcpy(s->ip, p, n);
			l->n++;
		}
		p += n;
	}
	return 0;
}

int hbx_crl_number(const mbedtls_x509_crl *crl, uint64_t *n)
{
	unsigned char *p, *end;
	size_t len;

	if (hbx_asn1_find_ext(&crl->crl_ext, MBEDTLS_OID_CRL_NUMBER,
			      MBEDTLS_OID_SIZE(MBEDTLS_OID_CRL_NUMBER), &p, &len))
		return -1;
	end = p + len;
	if (mbedtls_asn1_get_tag(&p, end, &len, MBEDTLS_ASN1_INTEGER) ||
	    !len || len > 9 || (len == 9 && *p) || (*p & 0x80))
		return -1;
	for (*n = 0; len--; p++)
		*n = *n << 8 | *p;
	return 0;
}
