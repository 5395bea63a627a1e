// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <mbedtls/x509_crl.h>
#include "cert_ca.h"
#include "cert_crl.h"
#include "cert_key.h"
#include "cert_util.h"
#include "pem_file.h"

void hbx_ca_path(const struct hbx_ca *ca, const char *file, char *buf,
		 size_t len)
{
	snprintf(buf, len, "%s/%s", ca->dir, file);
}

static void ca_zero(struct hbx_ca *ca, const char *dir)
{
	memset(ca, 0, sizeof(*ca));
	snprintf(ca->dir, sizeof(ca->dir), "%s", dir);
	mbedtls_x509_crt_init(&ca->crt);
	mbedtls_pk_init(&ca->key);
	ca->lock_fd = -1;
}

static int ca_lock(struct hbx_ca *ca)
{
	ca->lock_fd = open(ca->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (ca->lock_fd < 0 && errno == ENOENT)
		return hbx_cert_fail("there is no CA in %s (it does not exist): "
				     "run hbx cert init --dir %s", ca->dir, ca->dir);
	if (ca->lock_fd < 0)
		return hbx_cert_fail("cannot open %s: %s", ca->dir, strerror(errno));
	if (flock(ca->lock_fd, LOCK_EX))
		return hbx_cert_fail("cannot lock %s: %s", ca->dir, strerror(errno));
	return 0;
}

/* The key, certificate and index, with the lock held. */
static int ca_load(struct hbx_ca *ca)
{
	char path[PATH_MAX + 16];

	hbx_ca_path(ca, HBX_CA_KEY, path, sizeof(path));
	if (access(path, F_OK))
		return hbx_cert_fail("there is no CA in %s (no %s): run hbx cert "
				     "init --dir %s", ca->dir, HBX_CA_KEY, ca->dir);
	if (hbx_key_load(&ca->key, path))
		return -1;
	hbx_ca_path(ca, HBX_CA_CRT, path, sizeof(path));
	if (hbx_cert_load(&ca->crt, path))
		return -1;
	if (mbedtls_pk_check_pair(&ca->crt.pk, &ca->key))
		return hbx_cert_fail("%s/%s is not the key of %s", ca->dir,
				     HBX_CA_KEY, path);
	if (!ca->crt.ca_istrue || hbx_x509_cn(&ca->crt.subject, ca->name,
					      sizeof(ca->name)))
		return hbx_cert_fail("%s is not a HyperBox CA certificate", path);
	if (hbx_index_load(ca->dir, &ca->ix))
		return -1;
	return hbx_rng_init(&ca->rng);
}

int hbx_ca_open(struct hbx_ca *ca, const char *dir)
{
	ca_zero(ca, dir);
	if (ca_lock(ca) || ca_load(ca)) {
		hbx_ca_close(ca);
		return -1;
	}
	return 0;
}

void hbx_ca_close(struct hbx_ca *ca)
{
	if (ca->lock_fd >= 0)
		close(ca->lock_fd);	/* drops the flock */
	ca->lock_fd = -1;
	/* A zeroed hbx_rng (init never ran) frees as a no-op. */
	hbx_rng_free(&ca->rng);
	mbedtls_x509_crt_free(&ca->crt);
	mbedtls_pk_free(&ca->key);
	hbx_index_free(&ca->ix);
}

static int ca_create(struct hbx_ca *ca, unsigned int days, bool force)
{
	struct hbx_crt_spec spec = { .ca = true };
	struct hbx_staged key_file, crt_file;
	char key_path[PATH_MAX + 16], crt_path[PATH_MAX + 16];
	unsigned char pem[4096];
	time_t now = hbx_cert_now();
	int err;

	hbx_ca_path(ca, HBX_CA_KEY, key_path, sizeof(key_path));
	hbx_ca_path(ca, HBX_CA_CRT, crt_path, sizeof(crt_path));
	if (!force && (!access(key_path, F_OK) || !access(crt_path, F_OK)))
		return hbx_cert_fail("%s already holds a CA; --force replaces it, "
				     "and every certificate it issued stops verifying",
				     ca->dir);
	if (hbx_rng_init(&ca->rng) || hbx_key_generate(&ca->key, &ca->rng))
		return -1;
	spec.subject_cn = spec.issuer_cn = ca->name;
	spec.subject_key = spec.issuer_key = &ca->key;
	spec.not_before = now - HBX_CERT_BACKDATE;
	spec.not_after = now + (time_t)days * 86400;
	hbx_serial_new(&ca->rng, spec.serial);
	if (hbx_crt_pem(&spec, &ca->rng, pem, sizeof(pem)))
		return -1;
	if (hbx_key_stage(&key_file, key_path, &ca->key))
		return -1;
	err = hbx_file_stage(&crt_file, crt_path, pem, strlen((char *)pem), 0644);
	if (err) {
		hbx_file_discard(&key_file);
		return hbx_cert_fail("cannot write %s: %s", crt_path, strerror(-err));
	}
	err = hbx_file_commit(&key_file, force);
	if (err) {
		hbx_file_discard(&crt_file);
		return hbx_cert_fail("cannot write %s: %s", key_path, strerror(-err));
	}
	err = hbx_file_commit(&crt_file, true);
	if (err)
		return hbx_cert_fail("cannot write %s: %s", crt_path, strerror(-err));
	err = mbedtls_x509_crt_parse(&ca->crt, pem, strlen((char *)pem) + 1);
	if (err)
		return hbx_cert_fail_tls(err, "cannot read back %s", crt_path);
	return 0;
}

int hbx_ca_init(const char *dir, const char *name, unsigned int days,
		unsigned int crl_days, bool force)
{
	struct hbx_ca ca;
	char path[PATH_MAX + 16];
	int err;

	if (!hbx_ca_name_ok(name))
		return hbx_cert_fail("'%s' is not a usable CA name (1 to %d letters, "
				     "digits, spaces or ._-:@())", name, HBX_CERT_NAME_MAX);
	if (!days || days > HBX_DAYS_MAX || crl_days > HBX_DAYS_MAX)
		return hbx_cert_fail("the lifetime must be 1 to %d days", HBX_DAYS_MAX);
	err = hbx_mkdir_private(dir);
	if (err)
		return hbx_cert_fail("cannot create %s: %s", dir, strerror(-err));
	ca_zero(&ca, dir);
	snprintf(ca.name, sizeof(ca.name), "%s", name);
	if (ca_lock(&ca) || ca_create(&ca, days, force))
		goto fail;
	/* A new CA starts a new history: empty index, cRLNumber from 1. */
	hbx_ca_path(&ca, HBX_CA_CRLNUMBER, path, sizeof(path));
	if (unlink(path) && errno != ENOENT) {
		hbx_cert_fail("cannot remove %s: %s", path, strerror(errno));
		goto fail;
	}
	if (hbx_index_save(dir, &ca.ix) ||
	    hbx_ca_write_crl(&ca, crl_days ? crl_days : HBX_CRL_DAYS_DEFAULT))
		goto fail;
	hbx_ca_close(&ca);
	return 0;
fail:
	hbx_ca_close(&ca);
	return -1;
}

/* The last cRLNumber used, 0 for none. */
static int read_crl_number(struct hbx_ca *ca, uint64_t *n)
{
	char path[PATH_MAX + 16], *end;
	unsigned char *buf;
	size_t len;
	int err;

	hbx_ca_path(ca, HBX_CA_CRLNUMBER, path, sizeof(path));
	err = hbx_file_read(path, &buf, &len);
	*n = 0;
	if (err == -ENOENT)
		return 0;
	if (err)
		return hbx_cert_fail("cannot read %s: %s", path, strerror(-err));
	/* strtoull() takes "-1" (and " 1", "+1") and wraps: digits only. */
	errno = 0;
	*n = strtoull((char *)buf, &end, 10);
	err = errno || !len || buf[0] < '0' || buf[0] > '9' ||
	      (*end && strcmp(end, "\n"));
	free(buf);
	if (err)
		return hbx_cert_fail("%s is malformed: it must hold the last cRLNumber "
				     "used, a decimal number from 0 to %llu",
				     path, (unsigned long long)UINT64_MAX - 1);
	if (*n == UINT64_MAX)
		return hbx_cert_fail("%s holds the largest cRLNumber hbx can write: "
				     "start a new CA (hbx cert init --force)", path);
	return 0;
}

/* The lifetime of the current CRL in days, or 0 if there is none. */
static unsigned int crl_lifetime(struct hbx_ca *ca)
{
	char path[PATH_MAX + 16];
	mbedtls_x509_crl crl;
	time_t d = 0;

	hbx_ca_path(ca, HBX_CA_CRL, path, sizeof(path));
	mbedtls_x509_crl_init(&crl);
	if (!mbedtls_x509_crl_parse_file(&crl, path))
		d = hbx_x509_time_epoch(&crl.next_update) -
		    hbx_x509_time_epoch(&crl.this_update);
	mbedtls_x509_crl_free(&crl);
	/* thisUpdate is backdated (hbx_ca_write_crl): not part of the lifetime. */
	if (d > HBX_CERT_BACKDATE)
		d -= HBX_CERT_BACKDATE;
	return d > 0 && d / 86400 <= HBX_DAYS_MAX ? (d + 86399) / 86400 : 0;
}

int hbx_ca_write_crl(struct hbx_ca *ca, unsigned int days)
{
	struct hbx_crl_spec spec = { &ca->crt, &ca->key, &ca->ix, 0, 0, 0 };
	char path[PATH_MAX + 16], num[32];
	unsigned char *pem;
	size_t pem_len;
	int err;

	if (!days)
		days = crl_lifetime(ca);
	if (!days)
		days = HBX_CRL_DAYS_DEFAULT;
	if (days > HBX_DAYS_MAX)
		return hbx_cert_fail("the CRL lifetime must be 1 to %d days", HBX_DAYS_MAX);
	if (read_crl_number(ca, &spec.number))
		return -1;
	spec.number++;
	/* Number first: a crash then skips a number, never reuses one. */
	hbx_ca_path(ca, HBX_CA_CRLNUMBER, path, sizeof(path));
	snprintf(num, sizeof(num), "%llu\n", (unsigned long long)spec.number);
	err = hbx_file_write(path, num, strlen(num), 0644, true);
	if (err)
		return hbx_cert_fail("cannot write %s: %s", path, strerror(-err));
	/* Backdated as certificates are, so a verifier whose clock is a few
	 * minutes behind does not see a CRL from the future. */
	spec.this_update = hbx_cert_now() - HBX_CERT_BACKDATE;
	spec.next_update = hbx_cert_now() + (time_t)days * 86400;
	if (hbx_crl_pem(&spec, &ca->rng, &pem, &pem_len))
		return -1;
	hbx_ca_path(ca, HBX_CA_CRL, path, sizeof(path));
	err = hbx_file_write(path, pem, pem_len, 0644, true);
	free(pem);
	if (err)
		return hbx_cert_fail("cannot write %s: %s", path, strerror(-err));
	return 0;
}

/* Mark every unrevoked certificate of key revoked; how many there were. */
static size_t revoke_key(struct hbx_ca *ca, const char *key, time_t now,
			 size_t *of_key)
{
	size_t i, n = 0;

	*of_key = 0;
	for (i = 0; i < ca->ix.n; i++) {
		struct hbx_index_entry *e = &ca->ix.v[i];

		if (strcasecmp(e->key, key))
			continue;
		(*of_key)++;
		if (e->revoked)
			continue;
		e->revoked = true;
		e->revoked_at = now;
		n++;
	}
	return n;
}

int hbx_ca_revoke_key(struct hbx_ca *ca, const char *key, size_t *count)
{
	uint8_t digest[HBX_DIGEST_SIZE];
	size_t of_key;

	if (hbx_digest_parse(key, digest))
		return hbx_cert_fail("'%s' is not a key identity (sha256:<64 hex digits>)",
				     key);
	*count = revoke_key(ca, key, hbx_cert_now(), &of_key);
	if (!*count && of_key)
		return hbx_cert_fail("every certificate of the key %s is already revoked",
				     key);
	if (!*count)
		return hbx_cert_fail("no certificate in %s/%s is for the key %s "
				     "(certificates issued before keys were recorded "
				     "are revoked by serial or name)", ca->dir,
				     HBX_INDEX_FILE, key);
	if (hbx_index_save(ca->dir, &ca->ix))
		return -1;
	return hbx_ca_write_crl(ca, 0);
}

int hbx_ca_revoke(struct hbx_ca *ca, const char *what, size_t *count)
{
	struct hbx_index_entry *e;
	time_t now = hbx_cert_now();
	size_t i, named = 0;

	if (!strncmp(what, "sha256:", 7))
		return hbx_ca_revoke_key(ca, what, count);
	e = hbx_index_find(&ca->ix, what);
	*count = 0;
	if (e && e->revoked)
		return hbx_cert_fail("certificate %s (%s) is already revoked",
				     e->serial, e->name);
	if (e) {
		e->revoked = true;
		e->revoked_at = now;
		*count = 1;
	}
	for (i = 0; !e && i < ca->ix.n; i++) {
		if (strcmp(ca->ix.v[i].name, what))
			continue;
		named++;
		if (ca->ix.v[i].revoked)
			continue;
		ca->ix.v[i].revoked = true;
		ca->ix.v[i].revoked_at = now;
		(*count)++;
	}
	if (!*count && named)
		return hbx_cert_fail("every certificate named '%s' is already revoked",
				     what);
	if (!*count)
		return hbx_cert_fail("no certificate in %s/%s has the serial or name '%s'",
				     ca->dir, HBX_INDEX_FILE, what);
	if (hbx_index_save(ca->dir, &ca->ix))
		return -1;
	return hbx_ca_write_crl(ca, 0);
}
