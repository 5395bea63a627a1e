// SPDX-License-Identifier: GPL-2.0
/*
 * Host-side tests of hbx cert: the CA, issue/renew/revoke, the hand-built
 * SAN, EKU and CRL DER, and the verify reasons.  Where /usr/bin/openssl
 * exists it cross-checks our files; where tools/hbx/hbx is built (or $HBX
 * names it) the CLI is checked too.
 */
#include <ctype.h>
#include <fcntl.h>
#include <ftw.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <mbedtls/oid.h>
#include "kselftest_harness.h"
#include "cert_ca.h"
#include "cert_info.h"
#include "cert_issue.h"
#include "cert_util.h"
#include "cert_verify.h"
#include "asn1_ext.h"
#include "manifest.h"
#include "pem_file.h"
#include "tls.h"

#define DAY 86400L
#define OPENSSL "/usr/bin/openssl"

static int rm_one(const char *path, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	return remove(path);
}

static void rm_rf(const char *dir)
{
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static mode_t mode_of(const char *path)
{
	struct stat st;

	return stat(path, &st) ? (mode_t)-1 : st.st_mode & 07777;
}

static char *slurp(const char *path)
{
	unsigned char *buf = NULL;
	size_t len;

	return hbx_file_read(path, &buf, &len) ? NULL : (char *)buf;
}

/* Issue NAME from the CA in dir, with the clock moved by shift seconds. */
static int issue(const char *dir, const char *name, const char *san,
		 unsigned int days, long shift, bool force, struct hbx_issue *o)
{
	static struct hbx_san_list l;
	struct hbx_ca ca;
	char now[32];
	int ret;

	memset(&l, 0, sizeof(l));
	memset(o, 0, sizeof(*o));
	if (san && hbx_san_parse(&l, san))
		return -1;
	o->name = name;
	o->san = &l;
	o->days = days;
	o->force = force;
	if (shift) {
		snprintf(now, sizeof(now), "%ld", (long)time(NULL) + shift);
		setenv("HBX_CERT_NOW", now, 1);
	}
	ret = hbx_ca_open(&ca, dir);
	if (!ret) {
		ret = hbx_ca_issue(&ca, o);
		hbx_ca_close(&ca);
	}
	unsetenv("HBX_CERT_NOW");
	return ret;
}

static int revoke_cert(const char *dir, const char *what)
{
	struct hbx_ca ca;
	size_t count;
	int ret = hbx_ca_open(&ca, dir);

	if (!ret) {
		ret = hbx_ca_revoke(&ca, what, &count);
		hbx_ca_close(&ca);
	}
	return ret;
}

/* hbx_cert_check of crt against ca_dir's certificate and crl_dir's CRL. */
static int check(const char *crt_path, const char *ca_dir, const char *crl_dir,
		 const char *name, char *why, size_t whylen)
{
	mbedtls_x509_crt crt, ca;
	mbedtls_x509_crl crl;
	char path[512];
	int ret = -1;

	mbedtls_x509_crt_init(&crt);
	mbedtls_x509_crt_init(&ca);
	mbedtls_x509_crl_init(&crl);
	snprintf(path, sizeof(path), "%s/ca.crt", ca_dir);
	if (hbx_cert_load(&crt, crt_path) || hbx_cert_load(&ca, path))
		goto out;
	snprintf(path, sizeof(path), "%s/ca.crl", crl_dir);
	if (crl_dir && hbx_crl_load(&crl, path))
		goto out;
	ret = hbx_cert_check(&crt, &ca, crl_dir ? &crl : NULL, name, why, whylen);
out:
	if (ret < 0)
		snprintf(why, whylen, "%s", hbx_cert_error());
	mbedtls_x509_crl_free(&crl);
	mbedtls_x509_crt_free(&ca);
	mbedtls_x509_crt_free(&crt);
	return ret;
}

/* The hbx binary: $HBX, or ../tools/hbx/hbx from this test; NULL if absent. */
static const char *hbx_bin(void)
{
	static char path[4096];
	char self[4096];
	ssize_t n;

	if (getenv("HBX"))
		return access(getenv("HBX"), X_OK) ? NULL : getenv("HBX");
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n < 0)
		return NULL;
	self[n] = '\0';
	snprintf(path, sizeof(path), "%s/../tools/hbx/hbx", dirname(self));
	return access(path, X_OK) ? NULL : path;
}

/* Run a shell command; its exit status, stdout and stderr in out. */
static int run(char *out, size_t len, const char *fmt, ...)
{
	char cmd[2048];
	size_t have = 0, n;
	va_list ap;
	FILE *f;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd) - 8, fmt, ap);
	va_end(ap);
	strcat(cmd, " 2>&1");
	f = popen(cmd, "r");
	if (!f)
		return -1;
	while (have < len - 1 && (n = fread(out + have, 1, len - 1 - have, f)) > 0)
		have += n;
	out[have] = '\0';
	st = pclose(f);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

FIXTURE(ca) {
	char	dir[64];	/* scratch, removed after the test */
	char	ca[96];		/* the CA in it */
	char	path[256];
	char	why[512];
};

FIXTURE_SETUP(ca)
{
	snprintf(self->dir, sizeof(self->dir), "/tmp/hbx-cert-test.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->dir));
	snprintf(self->ca, sizeof(self->ca), "%s/ca", self->dir);
	ASSERT_EQ(0, hbx_ca_init(self->ca, "Test CA", 3650, 30, false)) {
		TH_LOG("%s", hbx_cert_error());
	}
}

FIXTURE_TEARDOWN(ca)
{
	rm_rf(self->dir);
}

TEST_F(ca, init_makes_a_private_ca)
{
	mbedtls_x509_crt crt;
	uint32_t flags = 0;
	char cn[80];
	time_t now = time(NULL);

	EXPECT_EQ(0700, mode_of(self->ca));
	snprintf(self->path, sizeof(self->path), "%s/ca.key", self->ca);
	EXPECT_EQ(0600, mode_of(self->path));
	snprintf(self->path, sizeof(self->path), "%s/ca.crt", self->ca);
	mbedtls_x509_crt_init(&crt);
	ASSERT_EQ(0, hbx_cert_load(&crt, self->path));
	EXPECT_TRUE(crt.ca_istrue);
	EXPECT_EQ(MBEDTLS_X509_KU_KEY_CERT_SIGN | MBEDTLS_X509_KU_CRL_SIGN,
		  crt.key_usage);
	ASSERT_EQ(0, hbx_x509_cn(&crt.subject, cn, sizeof(cn)));
	EXPECT_STREQ("Test CA", cn);
	EXPECT_EQ(crt.subject_raw.len, crt.issuer_raw.len);
	/* 16 octets, positive. */
	EXPECT_EQ(16, crt.serial.len);
	EXPECT_EQ(0, crt.serial.p[0] & 0x80);
	/* now - 5 min .. now + 3650 days, give or take the test's runtime. */
	EXPECT_GE(60, labs(hbx_x509_time_epoch(&crt.valid_from) - (now - 300)));
	EXPECT_GE(60, labs(hbx_x509_time_epoch(&crt.valid_to) - (now + 3650 * DAY)));
	EXPECT_EQ(0, mbedtls_x509_crt_verify(&crt, &crt, NULL, NULL, &flags, NULL, NULL));
	mbedtls_x509_crt_free(&crt);
}

TEST_F(ca, init_does_not_replace_a_ca_without_force)
{
	char *before, *after;
	struct hbx_issue o;

	ASSERT_EQ(0, issue(self->ca, "node1", NULL, 0, 0, false, &o));
	snprintf(self->path, sizeof(self->path), "%s/ca.key", self->ca);
	before = slurp(self->path);
	ASSERT_NE(NULL, before);
	EXPECT_EQ(-1, hbx_ca_init(self->ca, "Test CA", 3650, 30, false));
	EXPECT_NE(NULL, strstr(hbx_cert_error(), "already holds a CA"));
	after = slurp(self->path);
	EXPECT_STREQ(before, after);
	free(after);

	ASSERT_EQ(0, hbx_ca_init(self->ca, "Test CA", 3650, 30, true));
	after = slurp(self->path);
	EXPECT_STRNE(before, after);
	EXPECT_EQ(0600, mode_of(self->path));
	/* The new CA no longer vouches for the old one's certificates. */
	EXPECT_EQ(HBX_CERT_NOT_TRUSTED, check(o.crt_path, self->ca, self->ca, NULL,
					      self->why, sizeof(self->why)));
	free(before);
	free(after);
}

TEST_F(ca, issued_certificate_verifies)
{
	mbedtls_x509_crt crt;
	mbedtls_pk_context key;
	struct hbx_issue o;

	ASSERT_EQ(0, issue(self->ca, "node1", "dns:node1.test,ip:10.0.0.1", 0, 0,
			   false, &o)) {
		TH_LOG("%s", hbx_cert_error());
	}
	EXPECT_EQ(HBX_CERT_OK, check(o.crt_path, self->ca, self->ca, NULL,
				     self->why, sizeof(self->why)));
	EXPECT_STREQ("ok", self->why);
	EXPECT_EQ(0600, mode_of(o.key_path));
	EXPECT_EQ(0644, mode_of(o.crt_path));

	mbedtls_x509_crt_init(&crt);
	mbedtls_pk_init(&key);
	ASSERT_EQ(0, hbx_cert_load(&crt, o.crt_path));
	ASSERT_EQ(0, mbedtls_pk_parse_keyfile(&key, o.key_path, NULL));
	EXPECT_EQ(0, mbedtls_pk_check_pair(&crt.pk, &key));
	EXPECT_FALSE(crt.ca_istrue);
	EXPECT_EQ(MBEDTLS_X509_KU_DIGITAL_SIGNATURE, crt.key_usage);
	EXPECT_EQ(0, mbedtls_x509_crt_check_extended_key_usage(&crt,
			MBEDTLS_OID_SERVER_AUTH, MBEDTLS_OID_SIZE(MBEDTLS_OID_SERVER_AUTH)));
	EXPECT_EQ(0, mbedtls_x509_crt_check_extended_key_usage(&crt,
			MBEDTLS_OID_CLIENT_AUTH, MBEDTLS_OID_SIZE(MBEDTLS_OID_CLIENT_AUTH)));
	/* ... and nothing else: no anyExtendedKeyUsage. */
	EXPECT_NE(0, mbedtls_x509_crt_check_extended_key_usage(&crt,
			MBEDTLS_OID_CODE_SIGNING, MBEDTLS_OID_SIZE(MBEDTLS_OID_CODE_SIGNING)));
	mbedtls_pk_free(&key);
	mbedtls_x509_crt_free(&crt);
}

TEST_F(ca, issue_records_the_serial_in_the_index)
{
	struct hbx_index ix;
	struct hbx_index_entry *e;
	mbedtls_x509_crt crt;
	struct hbx_issue o;
	char serial[64];

	ASSERT_EQ(0, issue(self->ca, "node1", NULL, 30, 0, false, &o));
	mbedtls_x509_crt_init(&crt);
	ASSERT_EQ(0, hbx_cert_load(&crt, o.crt_path));
	hbx_hex(crt.serial.p, crt.serial.len, serial);
	EXPECT_STREQ(o.serial, serial);
	ASSERT_EQ(0, hbx_index_load(self->ca, &ix));
	ASSERT_EQ(1, ix.n);
	e = hbx_index_find(&ix, serial);
	ASSERT_NE(NULL, e);
	EXPECT_STREQ("node1", e->name);
	EXPECT_FALSE(e->revoked);
	EXPECT_EQ(hbx_x509_time_epoch(&crt.valid_to), e->not_after);
	hbx_index_free(&ix);
	mbedtls_x509_crt_free(&crt);
}

TEST_F(ca, issue_does_not_replace_a_key_without_force)
{
	struct hbx_issue o;
	char *before, *after;

	umask(0);	/* the modes must not depend on it */
	ASSERT_EQ(0, issue(self->ca, "node1", NULL, 0, 0, false, &o));
	EXPECT_EQ(0600, mode_of(o.key_path));
	before = slurp(o.key_path);
	ASSERT_NE(NULL, before);
	EXPECT_EQ(-1, issue(self->ca, "node1", NULL, 0, 0, false, &o));
	EXPECT_NE(NULL, strstr(hbx_cert_error(), "already exists"));
	after = slurp(o.key_path);
	EXPECT_STREQ(before, after);
	free(after);

	ASSERT_EQ(0, issue(self->ca, "node1", NULL, 0, 0, true, &o));
	after = slurp(o.key_path);
	EXPECT_STRNE(before, after);
	EXPECT_EQ(0600, mode_of(o.key_path));
	free(before);
	free(after);
}

/* op (hbx_ca_issue or hbx_ca_renew) with the CA in dir open. */
static int with_ca(const char *dir, int (*op)(struct hbx_ca *, struct hbx_issue *),
		   struct hbx_issue *o)
{
	struct hbx_ca ca;
	int ret = hbx_ca_open(&ca, dir);

	if (!ret) {
		ret = op(&ca, o);
		hbx_ca_close(&ca);
	}
	return ret;
}

/* Issue with an explicit --out prefix. */
static int issue_out(const char *dir, const char *name, const char *out,
		     bool force, struct hbx_issue *o)
{
	memset(o, 0, sizeof(*o));
	o->name = name;
	o->out = out;
	o->force = force;
	return with_ca(dir, hbx_ca_issue, o);
}

TEST_F(ca, issue_never_overwrites_the_cas_own_files)
{
	const char *hbx = hbx_bin();
	char *key, *crt, *after, out[4096], link[256];
	struct hbx_issue o;
	struct hbx_ca ca;

	snprintf(self->path, sizeof(self->path), "%s/ca.key", self->ca);
	key = slurp(self->path);
	snprintf(self->path, sizeof(self->path), "%s/ca.crt", self->ca);
	crt = slurp(self->path);
	ASSERT_NE(NULL, key);
	ASSERT_NE(NULL, crt);

	/* The default prefix DIR/NAME. */
	EXPECT_EQ(-1, issue(self->ca, "ca", NULL, 0, 0, true, &o));
	EXPECT_NE(NULL, strstr(hbx_cert_error(), "the CA's own key")) {
		TH_LOG("%s", hbx_cert_error());
	}
	/* Another spelling of the same directory. */
	snprintf(self->path, sizeof(self->path), "%s/../ca/./ca", self->ca);
	EXPECT_EQ(-1, issue_out(self->ca, "node1", self->path, true, &o));
	/* A symlink to the CA's key under another name. */
	snprintf(self->path, sizeof(self->path), "%s/ca/ca.key", self->dir);
	snprintf(link, sizeof(link), "%s/elsewhere.key", self->dir);
	ASSERT_EQ(0, symlink(self->path, link));
	snprintf(self->path, sizeof(self->path), "%s/elsewhere", self->dir);
	EXPECT_EQ(-1, issue_out(self->ca, "node1", self->path, true, &o));
	if (hbx) {
		EXPECT_EQ(1, run(out, sizeof(out), "%s cert issue ca --dir %s --force",
				 hbx, self->ca));
		EXPECT_EQ(0, strncmp(out, "hbx: cert issue: ", 17)) {
			TH_LOG("%s", out);
		}
		EXPECT_NE(NULL, strstr(out, "pick another name")) {
			TH_LOG("%s", out);
		}
	}

	snprintf(self->path, sizeof(self->path), "%s/ca.key", self->ca);
	after = slurp(self->path);
	EXPECT_STREQ(key, after);
	free(after);
	snprintf(self->path, sizeof(self->path), "%s/ca.crt", self->ca);
	after = slurp(self->path);
	EXPECT_STREQ(crt, after);
	free(after);
	free(key);
	free(crt);
	ASSERT_EQ(0, hbx_ca_open(&ca, self->ca)) {
		TH_LOG("%s", hbx_cert_error());
	}
	EXPECT_EQ(0, ca.ix.n);	/* nothing was recorded either */
	hbx_ca_close(&ca);
	/* An ordinary --out elsewhere still works. */
	snprintf(self->path, sizeof(self->path), "%s/node1", self->dir);
	EXPECT_EQ(0, issue_out(self->ca, "node1", self->path, false, &o)) {
		TH_LOG("%s", hbx_cert_error());
	}
}

/* verify --name agrees with the handshake (mbedTLS's check on expected_name). */
TEST_F(ca, names_match_as_the_handshake_matches_them)
{
	struct hbx_issue o;
	size_t w = sizeof(self->why);
	mbedtls_x509_crt crt;
	uint32_t flags;

	ASSERT_EQ(0, issue(self->ca, "node1", "dns:node1.test,ip:10.0.0.1,ip:fd00::1",
			   0, 0, false, &o));
	EXPECT_EQ(HBX_CERT_OK, check(o.crt_path, self->ca, self->ca, "node1.test", self->why, w));
	EXPECT_EQ(HBX_CERT_OK, check(o.crt_path, self->ca, self->ca, "NODE1.test", self->why, w));
	/* With SANs the CN does not count, and the handshake matches no IP. */
	EXPECT_EQ(HBX_CERT_NAME_MISMATCH,
		  check(o.crt_path, self->ca, self->ca, "node1", self->why, w));
	EXPECT_EQ(HBX_CERT_NAME_MISMATCH,
		  check(o.crt_path, self->ca, self->ca, "10.0.0.1", self->why, w));
	EXPECT_EQ(HBX_CERT_NAME_MISMATCH,
		  check(o.crt_path, self->ca, self->ca, "fd00:0::1", self->why, w));
	EXPECT_EQ(HBX_CERT_NAME_MISMATCH,
		  check(o.crt_path, self->ca, self->ca, "node2", self->why, w));
	EXPECT_NE(NULL, strstr(self->why, "does not name 'node2' (it names dns:node1.test)")) {
		TH_LOG("%s", self->why);
	}
	EXPECT_STREQ("name-mismatch", hbx_cert_reason_name(HBX_CERT_NAME_MISMATCH));

	/* The same answers as mbedTLS's name check, name by name. */
	mbedtls_x509_crt_init(&crt);
	ASSERT_EQ(0, hbx_cert_load(&crt, o.crt_path));
	for (const char *const *n = (const char *const[]){ "node1.test", "node1",
			"10.0.0.1", "x.node1.test", NULL }; *n; n++) {
		flags = 0;
		mbedtls_x509_crt_verify(&crt, &crt, NULL, *n, &flags, NULL, NULL);
		EXPECT_EQ(!(flags & MBEDTLS_X509_BADCERT_CN_MISMATCH),
			  hbx_cert_names(&crt, *n)) {
			TH_LOG("%s", *n);
		}
	}
	mbedtls_x509_crt_free(&crt);

	/* No SAN (the name is no host name): the CN is what counts. */
	ASSERT_EQ(0, issue(self->ca, "node_2", NULL, 0, 0, false, &o));
	EXPECT_EQ(HBX_CERT_OK, check(o.crt_path, self->ca, self->ca, "node_2", self->why, w));
	EXPECT_EQ(HBX_CERT_NAME_MISMATCH,
		  check(o.crt_path, self->ca, self->ca, "node_3", self->why, w));
	EXPECT_NE(NULL, strstr(self->why, "(it names node_2)")) {
		TH_LOG("%s", self->why);
	}
}

TEST_F(ca, san_extension_parses_back)
{
	const mbedtls_x509_sequence *s;
	struct hbx_san_list san;
	mbedtls_x509_crt crt;
	struct hbx_issue o;
	char buf[4096];
	int dns = 0;

	ASSERT_EQ(0, issue(self->ca, "node1", "dns:node1.test,ip:10.0.0.1,ip:fd00::1",
			   0, 0, false, &o));
	mbedtls_x509_crt_init(&crt);
	ASSERT_EQ(0, hbx_cert_load(&crt, o.crt_path));
	/* mbedTLS's own SAN parser sees the dNSName. */
	EXPECT_TRUE(crt.ext_types & MBEDTLS_X509_EXT_SUBJECT_ALT_NAME);
	for (s = &crt.subject_alt_names; s && s->buf.p; s = s->next)
		if (s->buf.tag == (MBEDTLS_ASN1_CONTEXT_SPECIFIC | 2) &&
		    s->buf.len == 10 && !memcmp(s->buf.p, "node1.test", 10))
			dns++;
	EXPECT_EQ(1, dns);
	/* Our reader: every entry, in order, IPs as raw octets. */
	ASSERT_EQ(0, hbx_san_from_crt(&crt, &san));
	ASSERT_EQ(3, san.n);
	EXPECT_EQ(HBX_SAN_DNS, san.v[0].type);
	EXPECT_STREQ("node1.test", san.v[0].dns);
	EXPECT_EQ(HBX_SAN_IP, san.v[1].type);
	ASSERT_EQ(4, san.v[1].ip_len);
	EXPECT_EQ(0, memcmp(san.v[1].ip, "\x0a\x00\x00\x01", 4));
	ASSERT_EQ(16, san.v[2].ip_len);
	EXPECT_EQ(0xfd, san.v[2].ip[0]);
	EXPECT_EQ(1, san.v[2].ip[15]);
	mbedtls_x509_crt_free(&crt);

	if (access(OPENSSL, X_OK))
		SKIP(return, "no %s to cross-check with", OPENSSL);
	EXPECT_EQ(0, run(buf, sizeof(buf), OPENSSL " x509 -in %s -noout -text",
			 o.crt_path));
	EXPECT_NE(NULL, strstr(buf, "DNS:node1.test, IP Address:10.0.0.1, "
				    "IP Address:FD00:0:0:0:0:0:0:1")) {
		TH_LOG("%s", buf);
	}
	EXPECT_NE(NULL, strstr(buf, "TLS Web Server Authentication, "
				    "TLS Web Client Authentication"));
}

TEST_F(ca, issue_without_san_names_the_host)
{
	struct hbx_san_list san;
	mbedtls_x509_crt crt;
	struct hbx_issue o;

	ASSERT_EQ(0, issue(self->ca, "node-7.lan", NULL, 0, 0, false, &o));
	mbedtls_x509_crt_init(&crt);
	ASSERT_EQ(0, hbx_cert_load(&crt, o.crt_path));
	ASSERT_EQ(0, hbx_san_from_crt(&crt, &san));
	ASSERT_EQ(1, san.n);
	EXPECT_STREQ("node-7.lan", san.v[0].dns);
	mbedtls_x509_crt_free(&crt);
	/* A name that is no host name gets no SAN at all. */
	ASSERT_EQ(0, issue(self->ca, "node_8", NULL, 0, 0, false, &o));
	mbedtls_x509_crt_init(&crt);
	ASSERT_EQ(0, hbx_cert_load(&crt, o.crt_path));
	ASSERT_EQ(0, hbx_san_from_crt(&crt, &san));
	EXPECT_EQ(0, san.n);
	EXPECT_FALSE(crt.ext_types & MBEDTLS_X509_EXT_SUBJECT_ALT_NAME);
	mbedtls_x509_crt_free(&crt);
}

TEST_F(ca, revoked_certificate_is_rejected)
{
	struct hbx_issue o1, o2;
	mbedtls_x509_crt crt, ca;
	mbedtls_x509_crl crl;
	uint32_t flags = 0;

	ASSERT_EQ(0, issue(self->ca, "node1", NULL, 0, 0, false, &o1));
	ASSERT_EQ(0, issue(self->ca, "node2", NULL, 0, 0, false, &o2));
	ASSERT_EQ(0, revoke_cert(self->ca, "node1")) {
		TH_LOG("%s", hbx_cert_error());
	}
	EXPECT_EQ(HBX_CERT_REVOKED, check(o1.crt_path, self->ca, self->ca, NULL,
					  self->why, sizeof(self->why)));
	EXPECT_NE(NULL, strstr(self->why, "has been revoked")) {
		TH_LOG("%s", self->why);
	}
	EXPECT_EQ(-EKEYREVOKED, hbx_cert_reason_errno(HBX_CERT_REVOKED));
	EXPECT_EQ(HBX_CERT_OK, check(o2.crt_path, self->ca, self->ca, NULL,
				     self->why, sizeof(self->why)));

	/* mbedTLS itself, as the TLS handshake will call it. */
	mbedtls_x509_crt_init(&crt);
	mbedtls_x509_crt_init(&ca);
	mbedtls_x509_crl_init(&crl);
	snprintf(self->path, sizeof(self->path), "%s/ca.crt", self->ca);
	ASSERT_EQ(0, mbedtls_x509_crt_parse_file(&ca, self->path));
	snprintf(self->path, sizeof(self->path), "%s/ca.crl", self->ca);
	ASSERT_EQ(0, mbedtls_x509_crl_parse_file(&crl, self->path));
	ASSERT_EQ(0, mbedtls_x509_crt_parse_file(&crt, o1.crt_path));
	EXPECT_NE(0, mbedtls_x509_crt_verify(&crt, &ca, &crl, NULL, &flags, NULL, NULL));
	EXPECT_EQ(MBEDTLS_X509_BADCERT_REVOKED, flags);
	mbedtls_x509_crl_free(&crl);
	mbedtls_x509_crt_free(&ca);
	mbedtls_x509_crt_free(&crt);
}

TEST_F(ca, revoke_by_serial_once)
{
	struct hbx_issue o;
	char upper[64];
	size_t i;

	ASSERT_EQ(0, issue(self->ca, "node1", NULL, 0, 0, false, &o));
	for (i = 0; o.serial[i]; i++)
		upper[i] = toupper(o.serial[i]);
	upper[i] = '\0';
	ASSERT_EQ(0, revoke_cert(self->ca, upper));
	EXPECT_EQ(-1, revoke_cert(self->ca, o.serial));
	EXPECT_NE(NULL, strstr(hbx_cert_error(), "already revoked"));
	EXPECT_EQ(-1, revoke_cert(self->ca, "node1"));
	EXPECT_EQ(-1, revoke_cert(self->ca, "nosuch"));
	EXPECT_NE(NULL, strstr(hbx_cert_error(), "no certificate"));
}

TEST_F(ca, expired_certificate_is_rejected)
{
	struct hbx_issue o;

	/* Issued 100 days ago for 10 days. */
	ASSERT_EQ(0, issue(self->ca, "node1", NULL, 10, -100 * DAY, false, &o));
	EXPECT_EQ(HBX_CERT_EXPIRED, check(o.crt_path, self->ca, self->ca, NULL,
					  self->why, sizeof(self->why)));
	EXPECT_NE(NULL, strstr(self->why, "expired on")) {
		TH_LOG("%s", self->why);
	}
	EXPECT_EQ(-EKEYEXPIRED, hbx_cert_reason_errno(HBX_CERT_EXPIRED));
}

TEST_F(ca, future_certificate_is_not_yet_valid)
{
	struct hbx_issue o;

	ASSERT_EQ(0, issue(self->ca, "node1", NULL, 30, 10 * DAY, false, &o));
	EXPECT_EQ(HBX_CERT_NOT_YET_VALID, check(o.crt_path, self->ca, self->ca, NULL,
						self->why, sizeof(self->why)));
	EXPECT_NE(NULL, strstr(self->why, "not valid until")) {
		TH_LOG("%s", self->why);
	}
}

TEST_F(ca, another_cas_certificate_is_not_trusted)
{
	char other[128];
	struct hbx_issue o;

	/* Same name, different key: only the signature tells them apart. */
	snprintf(other, sizeof(other), "%s/other", self->dir);
	ASSERT_EQ(0, hbx_ca_init(other, "Test CA", 3650, 30, false));
	ASSERT_EQ(0, issue(other, "node1", NULL, 0, 0, false, &o));
	EXPECT_EQ(HBX_CERT_NOT_TRUSTED, check(o.crt_path, self->ca, self->ca, NULL,
					      self->why, sizeof(self->why)));
	EXPECT_NE(NULL, strstr(self->why, "not signed by this CA")) {
		TH_LOG("%s", self->why);
	}
	/* Nor is its CRL accepted for our certificates. */
	ASSERT_EQ(0, issue(self->ca, "node2", NULL, 0, 0, false, &o));
	EXPECT_EQ(HBX_CERT_CRL_NOT_TRUSTED, check(o.crt_path, self->ca, other, NULL,
						  self->why, sizeof(self->why)));
}

TEST_F(ca, stale_crl_is_reported)
{
	struct hbx_issue o;
	struct hbx_ca ca;
	char now[32];

	ASSERT_EQ(0, issue(self->ca, "node1", NULL, 0, 0, false, &o));
	snprintf(now, sizeof(now), "%ld", (long)time(NULL) - 10 * DAY);
	setenv("HBX_CERT_NOW", now, 1);
	ASSERT_EQ(0, hbx_ca_open(&ca, self->ca));
	EXPECT_EQ(0, hbx_ca_write_crl(&ca, 1));
	hbx_ca_close(&ca);
	unsetenv("HBX_CERT_NOW");
	EXPECT_EQ(HBX_CERT_CRL_EXPIRED, check(o.crt_path, self->ca, self->ca, NULL,
					      self->why, sizeof(self->why)));
	EXPECT_NE(NULL, strstr(self->why, "hbx cert crl"));
}

TEST_F(ca, renew_keeps_key_subject_and_sans)
{
	mbedtls_x509_crt old, renewed;
	struct hbx_san_list a, b;
	struct hbx_issue o, r = { .name = "node1" };
	char sa[HBX_SAN_STR_MAX], sb[HBX_SAN_STR_MAX];
	struct hbx_index ix;
	struct hbx_ca ca;
	char copy[256];
	size_t i;

	ASSERT_EQ(0, issue(self->ca, "node1", "dns:node1.test,ip:10.0.0.1", 0, 0,
			   false, &o));
	snprintf(copy, sizeof(copy), "%s/old.crt", self->dir);
	ASSERT_EQ(0, link(o.crt_path, copy));
	ASSERT_EQ(0, hbx_ca_open(&ca, self->ca));
	ASSERT_EQ(0, hbx_ca_renew(&ca, &r)) {
		TH_LOG("%s", hbx_cert_error());
	}
	hbx_ca_close(&ca);
	EXPECT_STRNE(o.serial, r.serial);
	EXPECT_STREQ(o.crt_path, r.crt_path);

	mbedtls_x509_crt_init(&old);
	mbedtls_x509_crt_init(&renewed);
	ASSERT_EQ(0, hbx_cert_load(&old, copy));
	ASSERT_EQ(0, hbx_cert_load(&renewed, r.crt_path));
	ASSERT_EQ(old.pk_raw.len, renewed.pk_raw.len);
	EXPECT_EQ(0, memcmp(old.pk_raw.p, renewed.pk_raw.p, old.pk_raw.len));
	ASSERT_EQ(old.subject_raw.len, renewed.subject_raw.len);
	EXPECT_EQ(0, memcmp(old.subject_raw.p, renewed.subject_raw.p,
			    old.subject_raw.len));
	ASSERT_EQ(0, hbx_san_from_crt(&old, &a));
	ASSERT_EQ(0, hbx_san_from_crt(&renewed, &b));
	ASSERT_EQ(2, a.n);
	ASSERT_EQ(2, b.n);
	for (i = 0; i < 2; i++) {
		hbx_san_format(&a.v[i], sa, sizeof(sa));
		hbx_san_format(&b.v[i], sb, sizeof(sb));
		EXPECT_STREQ(sa, sb);
	}
	mbedtls_x509_crt_free(&old);
	mbedtls_x509_crt_free(&renewed);

	/* Both serials are on record; the old one stays valid until it expires. */
	ASSERT_EQ(0, hbx_index_load(self->ca, &ix));
	EXPECT_EQ(2, ix.n);
	hbx_index_free(&ix);
	EXPECT_EQ(HBX_CERT_OK, check(copy, self->ca, self->ca, NULL, self->why,
				     sizeof(self->why)));
	EXPECT_EQ(HBX_CERT_OK, check(r.crt_path, self->ca, self->ca, "node1.test",
				     self->why, sizeof(self->why)));
}

TEST_F(ca, renew_refuses_a_revoked_certificate)
{
	struct hbx_issue o, r = { .name = "node1" };
	struct hbx_ca ca;

	ASSERT_EQ(0, issue(self->ca, "node1", NULL, 0, 0, false, &o));
	ASSERT_EQ(0, revoke_cert(self->ca, "node1"));
	ASSERT_EQ(0, hbx_ca_open(&ca, self->ca));
	EXPECT_EQ(-1, hbx_ca_renew(&ca, &r));
	hbx_ca_close(&ca);
	EXPECT_NE(NULL, strstr(hbx_cert_error(), "is revoked")) {
		TH_LOG("%s", hbx_cert_error());
	}
}

TEST_F(ca, crl_parses_and_its_number_grows)
{
	mbedtls_x509_crl crl;
	struct hbx_issue o;
	struct hbx_ca ca;
	uint64_t number;
	time_t this_update, now = time(NULL);

	snprintf(self->path, sizeof(self->path), "%s/ca.crl", self->ca);
	mbedtls_x509_crl_init(&crl);
	ASSERT_EQ(0, mbedtls_x509_crl_parse_file(&crl, self->path));
	EXPECT_EQ(2, crl.version);
	ASSERT_EQ(0, hbx_crl_number(&crl, &number));
	EXPECT_EQ(1, number);
	EXPECT_EQ(NULL, crl.entry.serial.p);
	this_update = hbx_x509_time_epoch(&crl.this_update);
	EXPECT_GE(60, labs(this_update - (now - HBX_CERT_BACKDATE)));
	EXPECT_EQ(30 * DAY + HBX_CERT_BACKDATE,
		  hbx_x509_time_epoch(&crl.next_update) - this_update);
	mbedtls_x509_crl_free(&crl);

	/* hbx cert crl --days 7, then a revocation keeps the 7 days. */
	ASSERT_EQ(0, hbx_ca_open(&ca, self->ca));
	ASSERT_EQ(0, hbx_ca_write_crl(&ca, 7));
	hbx_ca_close(&ca);
	ASSERT_EQ(0, issue(self->ca, "node1", NULL, 0, 0, false, &o));
	ASSERT_EQ(0, revoke_cert(self->ca, "node1"));
	mbedtls_x509_crl_init(&crl);
	ASSERT_EQ(0, mbedtls_x509_crl_parse_file(&crl, self->path));
	ASSERT_EQ(0, hbx_crl_number(&crl, &number));
	EXPECT_EQ(3, number);
	EXPECT_EQ(7 * DAY + HBX_CERT_BACKDATE, hbx_x509_time_epoch(&crl.next_update) -
					       hbx_x509_time_epoch(&crl.this_update));
	ASSERT_NE(NULL, crl.entry.serial.p);
	EXPECT_EQ(NULL, crl.entry.next);
	mbedtls_x509_crl_free(&crl);
}

/* Write the crlnumber file, re-sign the CRL: 0 and its cRLNumber, or -1. */
static int crl_after(const char *dir, const char *number, uint64_t *got)
{
	mbedtls_x509_crl crl;
	struct hbx_ca ca;
	char path[256];
	int ret;

	snprintf(path, sizeof(path), "%s/crlnumber", dir);
	if (hbx_file_write(path, number, strlen(number), 0644, true))
		return -2;
	if (hbx_ca_open(&ca, dir))
		return -2;
	ret = hbx_ca_write_crl(&ca, 0);
	hbx_ca_close(&ca);
	if (ret)
		return ret;
	snprintf(path, sizeof(path), "%s/ca.crl", dir);
	mbedtls_x509_crl_init(&crl);
	ret = mbedtls_x509_crl_parse_file(&crl, path) || hbx_crl_number(&crl, got) ?
	      -3 : 0;
	mbedtls_x509_crl_free(&crl);
	return ret;
}

TEST_F(ca, crl_number_past_2_56_encodes_and_a_bad_file_is_refused)
{
	static const char *const bad[] = {
		"-1\n", "+5\n", " 5\n", "5x\n", "", "\n", "99999999999999999999\n",
	};
	uint64_t n = 0;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		EXPECT_EQ(-1, crl_after(self->ca, bad[i], &n)) {
			TH_LOG("took '%s'", bad[i]);
		}
		EXPECT_NE(NULL, strstr(hbx_cert_error(), "crlnumber is malformed")) {
			TH_LOG("%s", hbx_cert_error());
		}
	}
	EXPECT_EQ(-1, crl_after(self->ca, "18446744073709551615\n", &n));
	EXPECT_NE(NULL, strstr(hbx_cert_error(), "largest cRLNumber")) {
		TH_LOG("%s", hbx_cert_error());
	}
	/* 2^56 needs 8 bytes, 2^63 a leading zero too: 11 bytes of DER. */
	EXPECT_EQ(0, crl_after(self->ca, "72057594037927935\n", &n));
	EXPECT_EQ(72057594037927936ULL, n);
	EXPECT_EQ(0, crl_after(self->ca, "9223372036854775807\n", &n));
	EXPECT_EQ(9223372036854775808ULL, n);
	EXPECT_EQ(0, crl_after(self->ca, "18446744073709551614\n", &n));
	EXPECT_EQ(18446744073709551615ULL, n);
}

TEST_F(ca, crl_this_update_is_backdated_like_certificates)
{
	mbedtls_x509_crl crl;
	time_t now = time(NULL), this_update, next_update;
	struct hbx_ca ca;

	ASSERT_EQ(0, hbx_ca_open(&ca, self->ca));
	ASSERT_EQ(0, hbx_ca_write_crl(&ca, 7));
	hbx_ca_close(&ca);
	snprintf(self->path, sizeof(self->path), "%s/ca.crl", self->ca);
	mbedtls_x509_crl_init(&crl);
	ASSERT_EQ(0, mbedtls_x509_crl_parse_file(&crl, self->path));
	this_update = hbx_x509_time_epoch(&crl.this_update);
	next_update = hbx_x509_time_epoch(&crl.next_update);
	mbedtls_x509_crl_free(&crl);
	EXPECT_LE(this_update, now - HBX_CERT_BACKDATE + 5);
	EXPECT_GE(this_update, now - HBX_CERT_BACKDATE - 60);
	EXPECT_GE(next_update, now + 7 * DAY - 60);
	EXPECT_LE(next_update, now + 7 * DAY + 60);
	/* Re-signing keeps the lifetime: the backdating does not add a day. */
	ASSERT_EQ(0, hbx_ca_open(&ca, self->ca));
	ASSERT_EQ(0, hbx_ca_write_crl(&ca, 0));
	hbx_ca_close(&ca);
	mbedtls_x509_crl_init(&crl);
	ASSERT_EQ(0, mbedtls_x509_crl_parse_file(&crl, self->path));
	EXPECT_LE(hbx_x509_time_epoch(&crl.next_update), now + 7 * DAY + 60);
	mbedtls_x509_crl_free(&crl);
}

TEST_F(ca, openssl_accepts_the_ca_certificates_and_crl)
{
	struct hbx_issue o1, o2;
	char out[4096];

	if (access(OPENSSL, X_OK))
		SKIP(return, "no %s to cross-check with", OPENSSL);
	ASSERT_EQ(0, issue(self->ca, "node1", "ip:10.0.0.1", 0, 0, false, &o1));
	ASSERT_EQ(0, issue(self->ca, "node2", NULL, 0, 0, false, &o2));
	ASSERT_EQ(0, revoke_cert(self->ca, "node2"));
	EXPECT_EQ(0, run(out, sizeof(out), OPENSSL " crl -in %s/ca.crl -CAfile "
			 "%s/ca.crt -noout -text", self->ca, self->ca)) {
		TH_LOG("%s", out);
	}
	EXPECT_NE(NULL, strstr(out, "verify OK"));
	EXPECT_NE(NULL, strstr(out, "X509v3 CRL Number: \n                2"));
	EXPECT_NE(NULL, strcasestr(out, o2.serial));	/* OpenSSL prints hex upper-case */
	EXPECT_EQ(0, run(out, sizeof(out), OPENSSL " verify -x509_strict -CAfile "
			 "%s/ca.crt -CRLfile %s/ca.crl -crl_check -purpose sslserver "
			 "%s", self->ca, self->ca, o1.crt_path)) {
		TH_LOG("%s", out);
	}
	EXPECT_EQ(0, run(out, sizeof(out), OPENSSL " verify -CAfile %s/ca.crt "
			 "-CRLfile %s/ca.crl -crl_check -purpose sslclient %s",
			 self->ca, self->ca, o1.crt_path));
	EXPECT_NE(0, run(out, sizeof(out), OPENSSL " verify -CAfile %s/ca.crt "
			 "-CRLfile %s/ca.crl -crl_check %s", self->ca, self->ca,
			 o2.crt_path));
	EXPECT_NE(NULL, strstr(out, "certificate revoked"));
	EXPECT_EQ(0, run(out, sizeof(out), OPENSSL " ec -in %s -noout -check",
			 o1.key_path));
}

TEST_F(ca, show_json_prints_the_public_key_digest)
{
	unsigned char der[256], digest[HBX_DIGEST_SIZE];
	char want[HBX_DIGEST_STR_LEN + 1], got[HBX_DIGEST_STR_LEN + 1];
	char key[128], out[8192];
	mbedtls_pk_context pk;
	mbedtls_x509_crt crt;
	struct hbx_issue o;
	const char *hbx = hbx_bin();
	int len;

	ASSERT_EQ(0, issue(self->ca, "node1", "ip:10.0.0.1", 0, 0, false, &o));
	/* The digest from the private key, independently of the certificate. */
	mbedtls_pk_init(&pk);
	ASSERT_EQ(0, mbedtls_pk_parse_keyfile(&pk, o.key_path, NULL));
	len = mbedtls_pk_write_pubkey_der(&pk, der, sizeof(der));
	ASSERT_LT(0, len);
	hbx_sha256(der + sizeof(der) - len, len, digest);
	hbx_digest_format(digest, want);
	mbedtls_pk_free(&pk);

	mbedtls_x509_crt_init(&crt);
	ASSERT_EQ(0, hbx_cert_load(&crt, o.crt_path));
	hbx_cert_identity(&crt, got);
	EXPECT_STREQ(want, got);
	mbedtls_x509_crt_free(&crt);

	if (!hbx)
		SKIP(return, "hbx is not built");
	ASSERT_EQ(0, run(out, sizeof(out), "%s cert show -j %s", hbx, o.crt_path));
	snprintf(key, sizeof(key), "\"public-key-sha256\":\"%s\"", want);
	EXPECT_NE(NULL, strstr(out, key)) {
		TH_LOG("%s", out);
	}
	EXPECT_NE(NULL, strstr(out, "\"san\":[\"ip:10.0.0.1\"]"));
	EXPECT_NE(NULL, strstr(out, "\"ca\":false"));
	snprintf(key, sizeof(key), "\"serial\":\"%s\"", o.serial);
	EXPECT_NE(NULL, strstr(out, key));
}

TEST_F(ca, cli_speaks_in_sentences)
{
	const char *hbx = hbx_bin();
	struct hbx_issue o;
	char out[4096];

	if (!hbx)
		SKIP(return, "hbx is not built");
	EXPECT_EQ(1, run(out, sizeof(out), "%s cert issue node1 --dir %s/none", hbx,
			 self->dir));
	EXPECT_EQ(0, strncmp(out, "hbx: cert issue: there is no CA in", 34)) {
		TH_LOG("%s", out);
	}
	EXPECT_EQ(2, run(out, sizeof(out), "%s cert issue node1 --dir %s --san "
			 "bogus", hbx, self->ca));
	EXPECT_NE(NULL, strstr(out, "is not a subject alternative name"));
	EXPECT_EQ(0, run(out, sizeof(out), "%s cert issue node1 --dir %s --san "
			 "dns:node1.test", hbx, self->ca));
	snprintf(self->path, sizeof(self->path), "%s/node1.crt", self->ca);
	EXPECT_EQ(0, run(out, sizeof(out), "%s cert verify %s --dir %s --name "
			 "node1.test", hbx, self->path, self->ca));
	EXPECT_STREQ("ok\n", out);
	EXPECT_EQ(1, run(out, sizeof(out), "%s cert verify %s --dir %s --name "
			 "node2", hbx, self->path, self->ca));
	EXPECT_EQ(0, run(out, sizeof(out), "%s cert revoke node1 --dir %s", hbx,
			 self->ca));
	EXPECT_EQ(1, run(out, sizeof(out), "%s cert verify %s --dir %s -j 2>/dev/null",
			 hbx, self->path, self->ca));
	EXPECT_NE(NULL, strstr(out, "\"ok\":false,\"reason\":\"revoked\"")) {
		TH_LOG("%s", out);
	}
	EXPECT_EQ(0, run(out, sizeof(out), "%s cert show -j %s/ca.crl", hbx, self->ca));
	EXPECT_NE(NULL, strstr(out, "\"crl-number\":2"));
	EXPECT_EQ(0, issue(self->ca, "node2", NULL, 0, 0, false, &o));
	EXPECT_EQ(0, run(out, sizeof(out), "%s cert list --dir %s -j", hbx, self->ca));
	EXPECT_NE(NULL, strstr(out, "\"state\":\"revoked\""));
	EXPECT_NE(NULL, strstr(out, "\"name\":\"node2\""));
}

static int renew(const char *dir, const char *name, struct hbx_issue *o)
{
	memset(o, 0, sizeof(*o));
	o->name = name;
	return with_ca(dir, hbx_ca_renew, o);
}

/* The index entry of serial, as the CA has it now. */
static struct hbx_index_entry entry(const char *dir, const char *serial)
{
	struct hbx_index_entry e = { .serial = "" };
	struct hbx_index ix;

	if (!hbx_index_load(dir, &ix)) {
		if (hbx_index_find(&ix, serial))
			e = *hbx_index_find(&ix, serial);
		hbx_index_free(&ix);
	}
	return e;
}

TEST_F(ca, revoke_by_key_revokes_every_certificate_of_the_key)
{
	struct hbx_issue first, renewed, other;
	mbedtls_x509_crt crt;
	char id[HBX_DIGEST_STR_LEN + 1];
	struct hbx_ca ca;
	size_t count;

	ASSERT_EQ(0, issue(self->ca, "node1", NULL, 0, 0, false, &first));
	ASSERT_EQ(0, renew(self->ca, "node1", &renewed)) {
		TH_LOG("%s", hbx_cert_error());
	}
	ASSERT_EQ(0, issue(self->ca, "node2", NULL, 0, 0, false, &other));
	/* The index records the identity hbx cert show and hbx serve print. */
	mbedtls_x509_crt_init(&crt);
	ASSERT_EQ(0, hbx_cert_load(&crt, renewed.crt_path));
	hbx_cert_identity(&crt, id);
	mbedtls_x509_crt_free(&crt);
	EXPECT_STREQ(id, first.key_id);
	EXPECT_STREQ(id, renewed.key_id);
	EXPECT_STREQ(id, entry(self->ca, first.serial).key);

	ASSERT_EQ(0, hbx_ca_open(&ca, self->ca));
	EXPECT_EQ(0, hbx_ca_revoke(&ca, id, &count)) {
		TH_LOG("%s", hbx_cert_error());
	}
	EXPECT_EQ(2, count);
	EXPECT_EQ(-1, hbx_ca_revoke(&ca, id, &count));
	EXPECT_NE(NULL, strstr(hbx_cert_error(), "already revoked"));
	EXPECT_EQ(-1, hbx_ca_revoke(&ca, "sha256:00", &count));
	EXPECT_NE(NULL, strstr(hbx_cert_error(), "is not a key identity"));
	hbx_ca_close(&ca);
	EXPECT_TRUE(entry(self->ca, first.serial).revoked);
	EXPECT_TRUE(entry(self->ca, renewed.serial).revoked);
	EXPECT_FALSE(entry(self->ca, other.serial).revoked);
	EXPECT_EQ(HBX_CERT_REVOKED, check(renewed.crt_path, self->ca, self->ca,
					  NULL, self->why, sizeof(self->why)));
	EXPECT_EQ(HBX_CERT_OK, check(other.crt_path, self->ca, self->ca, NULL,
				     self->why, sizeof(self->why)));
}

TEST_F(ca, issue_force_revokes_every_certificate_of_the_replaced_key)
{
	struct hbx_issue first, renewed, again;

	ASSERT_EQ(0, issue(self->ca, "node1", NULL, 0, 0, false, &first));
	ASSERT_EQ(0, renew(self->ca, "node1", &renewed));
	ASSERT_EQ(0, issue(self->ca, "node1", NULL, 0, 0, true, &again)) {
		TH_LOG("%s", hbx_cert_error());
	}
	EXPECT_STRNE(first.key_id, again.key_id);
	EXPECT_STREQ(first.key_id, again.old_key_id);
	EXPECT_EQ(2, again.revoked);
	EXPECT_TRUE(entry(self->ca, first.serial).revoked);
	EXPECT_TRUE(entry(self->ca, renewed.serial).revoked);
	EXPECT_FALSE(entry(self->ca, again.serial).revoked);
	EXPECT_EQ(HBX_CERT_OK, check(again.crt_path, self->ca, self->ca, NULL,
				     self->why, sizeof(self->why)));
}

TEST_F(ca, failed_issue_leaves_no_index_entry)
{
	struct hbx_issue o;
	struct hbx_ca ca;

	snprintf(self->path, sizeof(self->path), "%s/missing/node1", self->dir);
	EXPECT_EQ(-1, issue_out(self->ca, "node1", self->path, false, &o));
	EXPECT_NE(NULL, strstr(hbx_cert_error(), "missing/node1.")) {
		TH_LOG("%s", hbx_cert_error());
	}
	ASSERT_EQ(0, hbx_ca_open(&ca, self->ca));
	EXPECT_EQ(0, ca.ix.n);
	hbx_ca_close(&ca);
}

/*
 * The server side of a handshake on one end of a socketpair, up to where it
 * needs kTLS (which a unix socket has not): far enough to see which
 * revocation list it loaded, and why it refused.
 */
static int tls_setup(const struct hbx_tls_config *cfg, char *why, size_t len)
{
	int sv[2], ret;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		return -errno;
	ret = hbx_tls_server(sv[0], cfg, NULL, why, len);
	close(sv[0]);
	close(sv[1]);
	return ret;
}

TEST_F(ca, handshake_checks_the_cas_crl_unless_told_not_to)
{
	const char *hbx = hbx_bin();
	struct hbx_tls_config cfg = { 0 };
	char ca_crt[160], crl[160], rogue[160], out[4096];
	struct hbx_issue o;
	int ret;

	ASSERT_EQ(0, issue(self->ca, "node1", NULL, 0, 0, false, &o));
	snprintf(ca_crt, sizeof(ca_crt), "%s/ca.crt", self->ca);
	snprintf(crl, sizeof(crl), "%s/ca.crl", self->ca);
	cfg.ca_file = ca_crt;
	cfg.cert_file = o.crt_path;
	cfg.key_file = o.key_path;

	/* Without --crl, DIR/ca.crl is what is checked: another CA's in its
	 * place is refused, which shows it was read. */
	snprintf(rogue, sizeof(rogue), "%s/rogue", self->dir);
	ASSERT_EQ(0, hbx_ca_init(rogue, "Rogue CA", 3650, 30, false));
	snprintf(self->path, sizeof(self->path), "%s/ca.crl", rogue);
	ASSERT_EQ(0, rename(self->path, crl));
	ret = tls_setup(&cfg, self->why, sizeof(self->why));
	EXPECT_EQ(-EINVAL, ret);
	EXPECT_NE(NULL, strstr(self->why, "ca.crl was not issued by the CA")) {
		TH_LOG("%s", self->why);
	}

	/* No CRL there: refused, saying how to go on. */
	ASSERT_EQ(0, unlink(crl));
	ret = tls_setup(&cfg, self->why, sizeof(self->why));
	EXPECT_EQ(-EINVAL, ret);
	EXPECT_NE(NULL, strstr(self->why, "there is no revocation list")) {
		TH_LOG("%s", self->why);
	}
	EXPECT_NE(NULL, strstr(self->why, "--no-crl"));

	/* --no-crl: no CRL is looked for; setup goes on to kTLS. */
	cfg.no_crl = true;
	ret = tls_setup(&cfg, self->why, sizeof(self->why));
	EXPECT_EQ(NULL, strstr(self->why, "revocation")) {
		TH_LOG("%s", self->why);
	}
	EXPECT_EQ(NULL, hbx_tls_crl_file(&cfg, out, sizeof(out)));
	cfg.no_crl = false;
	EXPECT_STREQ(crl, hbx_tls_crl_file(&cfg, out, sizeof(out)));

	/* hbx serve says so before it listens (no module needed for that). */
	if (!hbx)
		return;
	EXPECT_EQ(1, run(out, sizeof(out), "%s serve --listen 127.0.0.1:0 --ca %s "
			 "--cert %s --key %s", hbx, ca_crt, o.crt_path, o.key_path));
	EXPECT_EQ(0, strncmp(out, "hbx: serve: there is no revocation list", 39)) {
		TH_LOG("%s", out);
	}
	run(out, sizeof(out), "%s serve --listen 127.0.0.1:0 --ca %s --cert %s "
	    "--key %s --no-crl", hbx, ca_crt, o.crt_path, o.key_path);
	EXPECT_NE(NULL, strstr(out, "revocation checks are OFF (--no-crl)")) {
		TH_LOG("%s", out);
	}
}

/* stderr of a handshake's setup with HBX_TLS_DEBUG=level, in out. */
static void tls_debug_stderr(const struct hbx_tls_config *cfg, const char *level,
			     char *out, size_t len)
{
	char path[] = "/tmp/hbx-stderr.XXXXXX", why[256];
	int fd = mkstemp(path), saved = dup(2);
	ssize_t n;

	*out = '\0';
	if (fd < 0 || saved < 0)
		return;
	fflush(stderr);
	dup2(fd, 2);
	setenv("HBX_TLS_DEBUG", level, 1);
	tls_setup(cfg, why, sizeof(why));
	unsetenv("HBX_TLS_DEBUG");
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	n = pread(fd, out, len - 1, 0);
	out[n > 0 ? n : 0] = '\0';
	close(fd);
	unlink(path);
}

TEST_F(ca, tls_debug_that_logs_secrets_warns_first)
{
	struct hbx_tls_config cfg = { .no_crl = true };
	char ca_crt[160], out[4096];
	struct hbx_issue o;

	ASSERT_EQ(0, issue(self->ca, "node1", NULL, 0, 0, false, &o));
	snprintf(ca_crt, sizeof(ca_crt), "%s/ca.crt", self->ca);
	cfg.ca_file = ca_crt;
	cfg.cert_file = o.crt_path;
	cfg.key_file = o.key_path;
	tls_debug_stderr(&cfg, "2", out, sizeof(out));
	EXPECT_EQ(NULL, strstr(out, "WARNING")) {
		TH_LOG("%s", out);
	}
	tls_debug_stderr(&cfg, "3", out, sizeof(out));
	EXPECT_NE(NULL, strstr(out, "hbx: WARNING: HBX_TLS_DEBUG=3 writes this "
			       "handshake's SECRETS")) {
		TH_LOG("%s", out);
	}
}

TEST(san_parse_rejects_garbage_and_drops_duplicates)
{
	static const char *const bad[] = {
		"dns:", "ip:300.1.1.1", "foo", "dns:-bad", "dns:a..b", "dns:*.x",
		"dns:a,,dns:b", "ip:10.0.0.1/24", "dns:a_b",
	};
	struct hbx_san_list l;
	char s[HBX_SAN_STR_MAX];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&l, 0, sizeof(l));
		EXPECT_EQ(-1, hbx_san_parse(&l, bad[i])) {
			TH_LOG("accepted '%s'", bad[i]);
		}
	}
	memset(&l, 0, sizeof(l));
	ASSERT_EQ(0, hbx_san_parse(&l, "dns:a.example,ip:10.0.0.1,DNS:A.example"));
	ASSERT_EQ(0, hbx_san_parse(&l, "ip:::1"));
	ASSERT_EQ(3, l.n);
	hbx_san_format(&l.v[2], s, sizeof(s));
	EXPECT_STREQ("ip:::1", s);
	EXPECT_FALSE(hbx_cert_name_ok("../etc"));
	EXPECT_FALSE(hbx_cert_name_ok("a b"));
	EXPECT_TRUE(hbx_cert_name_ok("node-1.rack_2"));
	EXPECT_FALSE(hbx_ca_name_ok("CN=x,O=y"));
}

TEST_HARNESS_MAIN
