// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include "cert_info.h"
#include "cert_issue.h"
#include "cert_key.h"
#include "cert_util.h"
#include "pem_file.h"

/*
 * Is path one of the CA's own files?  The default prefix is DIR/NAME, so
 * "issue ca --force" would otherwise write DIR/ca.key over the CA's key;
 * --out can reach them by another spelling, a symlink or a hard link.
 */
static bool is_ca_file(const struct hbx_ca *ca, const char *path)
{
	static const char *const own[] = {
		HBX_CA_KEY, HBX_CA_CRT, HBX_CA_CRL, HBX_CA_CRLNUMBER, HBX_INDEX_FILE,
	};
	char ca_path[PATH_MAX + 16], copy[PATH_MAX], dir[PATH_MAX], ca_dir[PATH_MAX];
	struct stat st, ca_st;
	const char *base;
	size_t i;

	for (i = 0; i < sizeof(own) / sizeof(own[0]); i++) {
		hbx_ca_path(ca, own[i], ca_path, sizeof(ca_path));
		if (!stat(path, &st) && !stat(ca_path, &ca_st) &&
		    st.st_dev == ca_st.st_dev && st.st_ino == ca_st.st_ino)
			return true;
	}
	snprintf(copy, sizeof(copy), "%s", path);
	if (!realpath(dirname(copy), dir) || !realpath(ca->dir, ca_dir) ||
	    strcmp(dir, ca_dir))
		return false;
	snprintf(copy, sizeof(copy), "%s", path);
	base = basename(copy);
	for (i = 0; i < sizeof(own) / sizeof(own[0]); i++)
		if (!strcmp(base, own[i]))
			return true;
	return false;
}

static int prepare(struct hbx_ca *ca, struct hbx_issue *o)
{
	char prefix[PATH_MAX];
	int n;

	if (!hbx_cert_name_ok(o->name))
		return hbx_cert_fail("'%s' is not a usable name (1 to %d letters, "
				     "digits or ._- starting with a letter or digit)",
				     o->name, HBX_CERT_NAME_MAX);
	if (!o->days)
		o->days = HBX_CERT_DAYS_DEFAULT;
	if (o->days > HBX_DAYS_MAX)
		return hbx_cert_fail("the lifetime must be 1 to %d days", HBX_DAYS_MAX);
	if (o->out)
		n = snprintf(prefix, sizeof(prefix), "%s", o->out);
	else
		n = snprintf(prefix, sizeof(prefix), "%s/%s", ca->dir, o->name);
	if (n >= (int)sizeof(prefix) ||
	    snprintf(o->key_path, sizeof(o->key_path), "%s.key", prefix) >=
	    (int)sizeof(o->key_path) ||
	    snprintf(o->crt_path, sizeof(o->crt_path), "%s.crt", prefix) >=
	    (int)sizeof(o->crt_path))
		return hbx_cert_fail("the path %s is too long", prefix);
	if (is_ca_file(ca, o->key_path) || is_ca_file(ca, o->crt_path))
		return hbx_cert_fail("%s would overwrite the CA's own %s in %s; "
				     "pick another name or --out PREFIX",
				     is_ca_file(ca, o->key_path) ? o->key_path :
				     o->crt_path, is_ca_file(ca, o->key_path) ?
				     "key" : "certificate", ca->dir);
	return 0;
}

/* Sign a certificate for key and record it in the index. */
static int sign(struct hbx_ca *ca, struct hbx_issue *o, mbedtls_pk_context *key,
		const struct hbx_san_list *san, unsigned char *pem, size_t len)
{
	struct hbx_crt_spec spec = {
		.subject_cn = o->name, .issuer_cn = ca->name,
		.subject_key = key, .issuer_key = &ca->key, .san = san,
	};
	struct hbx_index_entry e = { .revoked = false };
	char key_id[HBX_DIGEST_STR_LEN + 1];
	time_t now = hbx_cert_now(), ca_end = hbx_x509_time_epoch(&ca->crt.valid_to);
	char end[HBX_ISO_TIME_LEN + 1];

	spec.not_before = now - HBX_CERT_BACKDATE;
	spec.not_after = now + (time_t)o->days * 86400;
	if (spec.not_after > ca_end) {
		hbx_time_iso(ca_end, end);
		return hbx_cert_fail("a %u-day certificate would outlive the CA, which "
				     "expires %s; use a smaller --days", o->days, end);
	}
	do {
		hbx_serial_new(&ca->rng, spec.serial);
		hbx_hex(spec.serial, HBX_SERIAL_LEN, e.serial);
	} while (hbx_index_find(&ca->ix, e.serial));
	if (hbx_key_identity(key, key_id))
		return hbx_cert_fail("cannot encode the public key of '%s'", o->name);
	if (hbx_crt_pem(&spec, &ca->rng, pem, len))
		return -1;
	snprintf(e.name, sizeof(e.name), "%s", o->name);
	snprintf(e.key, sizeof(e.key), "%s", key_id);
	snprintf(o->key_id, sizeof(o->key_id), "%s", key_id);
	e.not_after = spec.not_after;
	snprintf(o->serial, sizeof(o->serial), "%s", e.serial);
	/* Recorded before the files appear: no certificate escapes the index. */
	if (hbx_index_add(&ca->ix, &e) || hbx_index_save(ca->dir, &ca->ix))
		return -1;
	return 0;
}

/*
 * The identity of the key --force replaces: from PREFIX.key, else from
 * PREFIX.crt if this CA issued it; "" if neither says.
 */
static void replaced_key(struct hbx_ca *ca, const struct hbx_issue *o,
			 char *id)
{
	mbedtls_pk_context key;
	mbedtls_x509_crt crt;
	uint32_t flags = 0;

	*id = '\0';
	mbedtls_pk_init(&key);
	if (!access(o->key_path, F_OK) &&
	    !mbedtls_pk_parse_keyfile(&key, o->key_path, NULL))
		hbx_key_identity(&key, id);
	mbedtls_pk_free(&key);
	if (*id || access(o->crt_path, F_OK))
		return;
	mbedtls_x509_crt_init(&crt);
	if (!mbedtls_x509_crt_parse_file(&crt, o->crt_path)) {
		mbedtls_x509_crt_verify(&crt, &ca->crt, NULL, NULL, &flags,
					NULL, NULL);
		if (!(flags & MBEDTLS_X509_BADCERT_NOT_TRUSTED))
			hbx_cert_identity(&crt, id);
	}
	mbedtls_x509_crt_free(&crt);
}

static bool has_valid_cert(const struct hbx_ca *ca, const char *key)
{
	for (size_t i = 0; i < ca->ix.n; i++)
		if (!ca->ix.v[i].revoked && !strcasecmp(ca->ix.v[i].key, key))
			return true;
	return false;
}

/* sign() recorded the certificate; its files did not appear: forget it. */
static void unrecord(struct hbx_ca *ca, const struct hbx_issue *o)
{
	struct hbx_index_entry *e = hbx_index_find(&ca->ix, o->serial);
	char why[512];

	if (!e)
		return;
	snprintf(why, sizeof(why), "%s", hbx_cert_error());
	*e = ca->ix.v[--ca->ix.n];
	if (hbx_index_save(ca->dir, &ca->ix))
		hbx_cert_fail("%s; and %s/%s still lists serial %s, which was "
			      "never written out: %s", why, ca->dir, HBX_INDEX_FILE,
			      o->serial, hbx_cert_error());
	else
		hbx_cert_fail("%s", why);
}

int hbx_ca_issue(struct hbx_ca *ca, struct hbx_issue *o)
{
	struct hbx_san_list own = { 0 };
	const struct hbx_san_list *san = o->san;
	struct hbx_staged key_file, crt_file;
	mbedtls_pk_context key;
	unsigned char pem[16384];
	int err, ret = -1;

	if (prepare(ca, o))
		return -1;
	if (!o->force && (!access(o->key_path, F_OK) || !access(o->crt_path, F_OK)))
		return hbx_cert_fail("%s already exists; --force replaces it, or "
				     "hbx cert renew %s keeps its key",
				     access(o->key_path, F_OK) ? o->crt_path : o->key_path,
				     o->name);
	if (o->force)
		replaced_key(ca, o, o->old_key_id);
	if (!san || !san->n) {
		san = &own;
		if (hbx_dns_name_ok(o->name)) {
			own.n = 1;
			own.v[0].type = HBX_SAN_DNS;
			snprintf(own.v[0].dns, sizeof(own.v[0].dns), "%s", o->name);
		}
	}
	mbedtls_pk_init(&key);
	if (hbx_key_generate(&key, &ca->rng) ||
	    sign(ca, o, &key, san, pem, sizeof(pem)))
		goto out;
	/* From here on a failure takes the index entry back out. */
	if (hbx_key_stage(&key_file, o->key_path, &key))
		goto unrecord;
	err = hbx_file_stage(&crt_file, o->crt_path, pem, strlen((char *)pem), 0644);
	if (err) {
		hbx_file_discard(&key_file);
		hbx_cert_fail("cannot write %s: %s", o->crt_path, strerror(-err));
		goto unrecord;
	}
	/* Key first: a crash in between leaves a key without a certificate. */
	err = hbx_file_commit(&key_file, o->force);
	if (err) {
		hbx_file_discard(&crt_file);
		hbx_cert_fail("cannot write %s: %s", o->key_path, strerror(-err));
		goto unrecord;
	}
	err = hbx_file_commit(&crt_file, o->force);
	if (err) {
		hbx_cert_fail("cannot write %s: %s", o->crt_path, strerror(-err));
		goto unrecord;
	}
	/*
	 * The replaced key is retired: its certificates (renewals included)
	 * would otherwise stay valid for a key nobody should hold any more.
	 */
	if (*o->old_key_id && strcmp(o->old_key_id, o->key_id) &&
	    has_valid_cert(ca, o->old_key_id) &&
	    hbx_ca_revoke_key(ca, o->old_key_id, &o->revoked)) {
		hbx_cert_fail("issued %s, but the certificates of the replaced key "
			      "are not revoked (%s): run hbx cert revoke %s",
			      o->crt_path, hbx_cert_error(), o->old_key_id);
		goto out;
	}
	ret = 0;
	goto out;
unrecord:
	unrecord(ca, o);
out:
	mbedtls_pk_free(&key);
	return ret;
}

/* PREFIX.crt and PREFIX.key belong together, to NAME and to this CA. */
static int check_old(struct hbx_ca *ca, struct hbx_issue *o,
		     mbedtls_x509_crt *old, mbedtls_pk_context *key)
{
	char cn[HBX_CERT_NAME_MAX + 1], serial[HBX_SERIAL_HEX_MAX + 1];
	struct hbx_index_entry *e;
	uint32_t flags = 0;

	if (hbx_cert_load(old, o->crt_path) || hbx_key_load(key, o->key_path))
		return -1;
	if (mbedtls_pk_check_pair(&old->pk, key))
		return hbx_cert_fail("%s is not the key of %s", o->key_path, o->crt_path);
	if (hbx_x509_cn(&old->subject, cn, sizeof(cn)) || strcmp(cn, o->name))
		return hbx_cert_fail("%s is not the certificate of '%s'", o->crt_path,
				     o->name);
	mbedtls_x509_crt_verify(old, &ca->crt, NULL, NULL, &flags, NULL, NULL);
	if (flags & MBEDTLS_X509_BADCERT_NOT_TRUSTED)
		return hbx_cert_fail("%s was not issued by the CA in %s", o->crt_path,
				     ca->dir);
	if (old->serial.len > HBX_SERIAL_HEX_MAX / 2)
		return hbx_cert_fail("%s has an oversized serial", o->crt_path);
	hbx_hex(old->serial.p, old->serial.len, serial);
	e = hbx_index_find(&ca->ix, serial);
	if (!e)
		return hbx_cert_fail("%s (serial %s) is not in %s/%s", o->crt_path,
				     serial, ca->dir, HBX_INDEX_FILE);
	if (e->revoked)
		return hbx_cert_fail("%s (serial %s) is revoked; make a new key with "
				     "hbx cert issue %s --force", o->crt_path, serial,
				     o->name);
	return 0;
}

int hbx_ca_renew(struct hbx_ca *ca, struct hbx_issue *o)
{
	struct hbx_san_list san;
	mbedtls_x509_crt old;
	mbedtls_pk_context key;
	unsigned char pem[16384];
	int err, ret = -1;

	if (prepare(ca, o))
		return -1;
	mbedtls_x509_crt_init(&old);
	mbedtls_pk_init(&key);
	if (check_old(ca, o, &old, &key) || hbx_san_from_crt(&old, &san) ||
	    sign(ca, o, &key, &san, pem, sizeof(pem)))
		goto out;
	err = hbx_file_write(o->crt_path, pem, strlen((char *)pem), 0644, true);
	if (err) {
		hbx_cert_fail("cannot write %s: %s", o->crt_path, strerror(-err));
		unrecord(ca, o);
		goto out;
	}
	ret = 0;
out:
	mbedtls_x509_crt_free(&old);
	mbedtls_pk_free(&key);
	return ret;
}
