// SPDX-License-Identifier: GPL-2.0
#include <inttypes.h>
#include <string.h>
#include <mbedtls/ecp.h>
#include <mbedtls/oid.h>
#include <mbedtls/pk.h>
#include "asn1_ext.h"
#include "cert_info.h"
#include "cert_san.h"
#include "cert_util.h"

int hbx_key_identity(const mbedtls_pk_context *pk, char *out)
{
	unsigned char der[1024];
	uint8_t d[HBX_DIGEST_SIZE];
	int len;

	/* Written at the end of der; the same bytes a certificate's pk_raw holds. */
	len = mbedtls_pk_write_pubkey_der((mbedtls_pk_context *)pk, der, sizeof(der));
	if (len <= 0)
		return -1;
	hbx_sha256(der + sizeof(der) - len, len, d);
	hbx_digest_format(d, out);
	return 0;
}

void hbx_cert_identity(const mbedtls_x509_crt *crt, char *out)
{
	uint8_t d[HBX_DIGEST_SIZE];

	/* pk_raw is the SubjectPublicKeyInfo exactly as the certificate has it. */
	hbx_sha256(crt->pk_raw.p, crt->pk_raw.len, d);
	hbx_digest_format(d, out);
}

/* Everything show prints, as strings; lists are NULL-terminated. */
struct cert_fields {
	char		subject[256], issuer[256], serial[2 * 32 + 1];
	char		not_before[HBX_ISO_TIME_LEN + 1], not_after[HBX_ISO_TIME_LEN + 1];
	char		key_type[64], identity[HBX_DIGEST_STR_LEN + 1];
	size_t		key_bits;
	char		san[HBX_SAN_MAX][HBX_SAN_STR_MAX];
	size_t		nsan;
	const char	*usage[10], *eku[8];
	char		eku_other[4][64];
};

static const struct { unsigned int bit; const char *name; } usages[] = {
	{ MBEDTLS_X509_KU_DIGITAL_SIGNATURE,	"digital-signature" },
	{ MBEDTLS_X509_KU_NON_REPUDIATION,	"non-repudiation" },
	{ MBEDTLS_X509_KU_KEY_ENCIPHERMENT,	"key-encipherment" },
	{ MBEDTLS_X509_KU_DATA_ENCIPHERMENT,	"data-encipherment" },
	{ MBEDTLS_X509_KU_KEY_AGREEMENT,	"key-agreement" },
	{ MBEDTLS_X509_KU_KEY_CERT_SIGN,	"key-cert-sign" },
	{ MBEDTLS_X509_KU_CRL_SIGN,		"crl-sign" },
};

static void usage_fields(const mbedtls_x509_crt *crt, struct cert_fields *f)
{
	const mbedtls_x509_sequence *s;
	size_t i, n = 0, other = 0;

	if (crt->ext_types & MBEDTLS_X509_EXT_KEY_USAGE)
		for (i = 0; i < sizeof(usages) / sizeof(usages[0]); i++)
			if (crt->key_usage & usages[i].bit)
				f->usage[n++] = usages[i].name;
	f->usage[n] = NULL;
	n = 0;
	for (s = &crt->ext_key_usage; s && s->buf.p && n < 7; s = s->next) {
		if (!MBEDTLS_OID_CMP(MBEDTLS_OID_SERVER_AUTH, &s->buf))
			f->eku[n++] = "server-auth";
		else if (!MBEDTLS_OID_CMP(MBEDTLS_OID_CLIENT_AUTH, &s->buf))
			f->eku[n++] = "client-auth";
		else if (other < 4 && mbedtls_oid_get_numeric_string(f->eku_other[other],
				sizeof(f->eku_other[0]), &s->buf) > 0)
			f->eku[n++] = f->eku_other[other++];
	}
	f->eku[n] = NULL;
}

static void cert_fields(const mbedtls_x509_crt *crt, struct cert_fields *f)
{
	const mbedtls_ecp_curve_info *curve = NULL;
	struct hbx_san_list san;
	size_t i;

	memset(f, 0, sizeof(*f));
	mbedtls_x509_dn_gets(f->subject, sizeof(f->subject), &crt->subject);
	mbedtls_x509_dn_gets(f->issuer, sizeof(f->issuer), &crt->issuer);
	hbx_hex(crt->serial.p, crt->serial.len < 32 ? crt->serial.len : 32, f->serial);
	hbx_x509_time_iso(&crt->valid_from, f->not_before);
	hbx_x509_time_iso(&crt->valid_to, f->not_after);
	if (mbedtls_pk_can_do(&crt->pk, MBEDTLS_PK_ECKEY))
		curve = mbedtls_ecp_curve_info_from_grp_id(mbedtls_pk_ec(crt->pk)->grp.id);
	snprintf(f->key_type, sizeof(f->key_type), "%s%s%s",
		 mbedtls_pk_get_name(&crt->pk), curve ? " " : "",
		 curve ? curve->name : "");
	f->key_bits = mbedtls_pk_get_bitlen(&crt->pk);
	hbx_cert_identity(crt, f->identity);
	if (!hbx_san_from_crt(crt, &san))
		for (i = 0; i < san.n; i++)
			hbx_san_format(&san.v[i], f->san[f->nsan++], HBX_SAN_STR_MAX);
	usage_fields(crt, f);
}

static void json_list(struct hbx_json *j, const char *key, const char *const *v)
{
	hbx_json_array_begin(j, key);
	for (; *v; v++)
		hbx_json_string(j, NULL, *v);
	hbx_json_array_end(j);
}

void hbx_cert_json(struct hbx_json *j, const char *key, const mbedtls_x509_crt *crt)
{
	struct cert_fields f;
	size_t i;

	cert_fields(crt, &f);
	hbx_json_object_begin(j, key);
	hbx_json_string(j, "type", "certificate");
	hbx_json_string(j, "subject", f.subject);
	hbx_json_string(j, "issuer", f.issuer);
	hbx_json_string(j, "serial", f.serial);
	hbx_json_string(j, "not-before", f.not_before);
	hbx_json_string(j, "not-after", f.not_after);
	hbx_json_array_begin(j, "san");
	for (i = 0; i < f.nsan; i++)
		hbx_json_string(j, NULL, f.san[i]);
	hbx_json_array_end(j);
	hbx_json_string(j, "key-type", f.key_type);
	hbx_json_u64(j, "key-bits", f.key_bits);
	hbx_json_string(j, "public-key-sha256", f.identity);
	hbx_json_bool(j, "ca", crt->ca_istrue);
	json_list(j, "key-usage", f.usage);
	json_list(j, "extended-key-usage", f.eku);
	hbx_json_object_end(j);
}

static void print_list(FILE *out, const char *key, const char *const *v)
{
	fprintf(out, "%-19s", key);
	if (!*v)
		fprintf(out, " none");
	for (; *v; v++)
		fprintf(out, " %s", *v);
	fputc('\n', out);
}

void hbx_cert_print(FILE *out, const mbedtls_x509_crt *crt)
{
	struct cert_fields f;
	size_t i;

	cert_fields(crt, &f);
	fprintf(out, "%-19s %s\n", "subject:", f.subject);
	fprintf(out, "%-19s %s\n", "issuer:", f.issuer);
	fprintf(out, "%-19s %s\n", "serial:", f.serial);
	fprintf(out, "%-19s %s\n", "not-before:", f.not_before);
	fprintf(out, "%-19s %s\n", "not-after:", f.not_after);
	fprintf(out, "%-19s%s", "san:", f.nsan ? "" : " none");
	for (i = 0; i < f.nsan; i++)
		fprintf(out, " %s", f.san[i]);
	fputc('\n', out);
	fprintf(out, "%-19s %s (%zu bits)\n", "key-type:", f.key_type, f.key_bits);
	fprintf(out, "%-19s %s\n", "public-key-sha256:", f.identity);
	fprintf(out, "%-19s %s\n", "ca:", crt->ca_istrue ? "yes" : "no");
	print_list(out, "key-usage:", f.usage);
	print_list(out, "extended-key-usage:", f.eku);
}

/* Every revoked entry of crl (an empty CRL has one zeroed entry). */
#define for_each_entry(e, crl) \
	for (e = &(crl)->entry; e && e->serial.p; e = e->next)

void hbx_crl_json(struct hbx_json *j, const char *key, const mbedtls_x509_crl *crl)
{
	char buf[256], when[HBX_ISO_TIME_LEN + 1];
	const mbedtls_x509_crl_entry *e;
	uint64_t number;

	hbx_json_object_begin(j, key);
	hbx_json_string(j, "type", "crl");
	mbedtls_x509_dn_gets(buf, sizeof(buf), &crl->issuer);
	hbx_json_string(j, "issuer", buf);
	hbx_x509_time_iso(&crl->this_update, when);
	hbx_json_string(j, "this-update", when);
	hbx_x509_time_iso(&crl->next_update, when);
	hbx_json_string(j, "next-update", when);
	if (!hbx_crl_number(crl, &number))
		hbx_json_u64(j, "crl-number", number);
	hbx_json_array_begin(j, "revoked");
	for_each_entry(e, crl) {
		hbx_json_object_begin(j, NULL);
		hbx_hex(e->serial.p, e->serial.len < 32 ? e->serial.len : 32, buf);
		hbx_json_string(j, "serial", buf);
		hbx_x509_time_iso(&e->revocation_date, when);
		hbx_json_string(j, "revocation-date", when);
		hbx_json_object_end(j);
	}
	hbx_json_array_end(j);
	hbx_json_object_end(j);
}

void hbx_crl_print(FILE *out, const mbedtls_x509_crl *crl)
{
	char buf[256], when[HBX_ISO_TIME_LEN + 1];
	const mbedtls_x509_crl_entry *e;
	uint64_t number;
	size_t n;

	mbedtls_x509_dn_gets(buf, sizeof(buf), &crl->issuer);
	fprintf(out, "%-19s %s\n", "issuer:", buf);
	hbx_x509_time_iso(&crl->this_update, when);
	fprintf(out, "%-19s %s\n", "this-update:", when);
	hbx_x509_time_iso(&crl->next_update, when);
	fprintf(out, "%-19s %s\n", "next-update:", when);
	if (!hbx_crl_number(crl, &number))
		fprintf(out, "%-19s %" PRIu64 "\n", "crl-number:", number);
	n = 0;
	for_each_entry(e, crl)
		n++;
	fprintf(out, "%-19s %zu\n", "revoked:", n);
	for_each_entry(e, crl) {
		hbx_hex(e->serial.p, e->serial.len < 32 ? e->serial.len : 32, buf);
		hbx_x509_time_iso(&e->revocation_date, when);
		fprintf(out, "  %s %s\n", buf, when);
	}
}
