// SPDX-License-Identifier: GPL-2.0
/*
 * TLS 1.2 with mbedTLS 2.28, then kTLS (see tls.h).  mbedTLS only ever runs
 * the handshake here: once it is done we take the key block it exported and
 * its record counters, make sure it holds no bytes it read past the
 * handshake, give both directions to the kernel and free the context without
 * a close_notify, since from then on the kernel owns the record stream.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/debug.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/oid.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crl.h>
#include <mbedtls/x509_crt.h>
#include "manifest.h"
#include "tls.h"
#include "tls_ktls.h"

#define HBX_TLS_DEFAULT_TIMEOUT_MS	10000

_Static_assert(HBX_TLS_ID_LEN == HBX_DIGEST_STR_LEN, "identity is a digest");

/* One suite per cipher: both ends are configured alike, nothing to haggle. */
static const int hbx_tls_suites[][2] = {
	[HBX_TLS_AES_256_GCM] = { MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, 0 },
	[HBX_TLS_AES_128_GCM] = { MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, 0 },
	[HBX_TLS_CHACHA20_POLY1305] = { MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, 0 },
};

static const char *const hbx_tls_cipher_names[][2] = {
	[HBX_TLS_AES_256_GCM] = { "aes256", "aes-256-gcm" },
	[HBX_TLS_AES_128_GCM] = { "aes128", "aes-128-gcm" },
	[HBX_TLS_CHACHA20_POLY1305] = { "chacha", "chacha20-poly1305" },
};

#define HBX_TLS_NCIPHERS \
	((int)(sizeof(hbx_tls_suites) / sizeof(hbx_tls_suites[0])))

const char *hbx_tls_cipher_name(int cipher)
{
	if (cipher < 0 || cipher >= HBX_TLS_NCIPHERS)
		return "unknown";
	return hbx_tls_cipher_names[cipher][0];
}

int hbx_tls_cipher_parse(const char *s)
{
	for (int i = 0; i < HBX_TLS_NCIPHERS; i++)
		if (!strcasecmp(s, hbx_tls_cipher_names[i][0]) ||
		    !strcasecmp(s, hbx_tls_cipher_names[i][1]))
			return i;
	return -EINVAL;
}

struct hbx_tls {
	const struct hbx_tls_config *cfg;
	const char	*crl_file;	/* hbx_tls_crl_file(): NULL with no_crl */
	char		crl_buf[4096];
	bool		client;
	char		*why;
	size_t		whylen;

	/* I/O: the socket, the handshake's deadline, what the peer sent first */
	int		fd;
	int		timeout_ms;
	int64_t		deadline;	/* CLOCK_MONOTONIC, ms */
	bool		timed_out;
	int		sock_err;
	bool		send_failed;
	uint8_t		first[8];
	size_t		nfirst;

	/* the peer's leaf certificate, seen by the verify callback */
	bool		have_peer;
	uint32_t	vflags;		/* every depth's flags, or-ed */
	uint32_t	leaf_flags;	/* the peer's own certificate's */
	uint32_t	ca_flags;	/* the CA certificates' above it */
	char		ca_cn[HBX_TLS_NAME_MAX + 1];	/* a CA cert with flags */
	char		peer_cn[HBX_TLS_NAME_MAX + 1];
	char		peer_names[160];	/* its SAN DNS names, or its CN */
	char		peer_issuer[160];
	char		peer_serial[64];
	char		peer_from[24], peer_to[24];
	char		peer_id[HBX_TLS_ID_LEN + 1];

	/* the traffic keys, from the key export callback */
	bool		have_keys;
	bool		bad_keys;
	struct hbx_ktls_keys keys;

	mbedtls_entropy_context		entropy;
	mbedtls_ctr_drbg_context	drbg;
	mbedtls_x509_crt		ca;
	mbedtls_x509_crl		crl;
	mbedtls_x509_crt		crt;
	mbedtls_pk_context		pk;
	mbedtls_ssl_config		conf;
	mbedtls_ssl_context		ssl;
};

__attribute__((format(printf, 3, 4)))
static int hbx_tls_fail(struct hbx_tls *t, int err, const char *fmt, ...)
{
	va_list ap;

	if (t->whylen) {
		va_start(ap, fmt);
		vsnprintf(t->why, t->whylen, fmt, ap);
		va_end(ap);
	}
	return err;
}

static const char *hbx_tls_strerror(int ret, char *buf, size_t len)
{
	mbedtls_strerror(ret, buf, len);
	return buf;
}

/* --- I/O with one deadline for the whole handshake ---------------------- */

static int64_t hbx_tls_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int hbx_tls_wait(struct hbx_tls *t, short events)
{
	struct pollfd pfd = { .fd = t->fd, .events = events };
	int64_t left;
	int n;

	for (;;) {
		left = t->deadline - hbx_tls_now();
		if (left <= 0) {
			t->timed_out = true;
			return MBEDTLS_ERR_SSL_TIMEOUT;
		}
		n = poll(&pfd, 1, (int)left);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR) {
			t->sock_err = errno;
			return MBEDTLS_ERR_NET_POLL_FAILED;
		}
	}
}

/* MSG_DONTWAIT + poll: the fd's own flags and timeouts stay as they were. */
static int hbx_tls_send(void *ctx, const unsigned char *buf, size_t len)
{
	struct hbx_tls *t = ctx;
	ssize_t n;
	int ret;

	for (;;) {
		n = send(t->fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n >= 0)
			return (int)n;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			ret = hbx_tls_wait(t, POLLOUT);
			if (ret)
				return ret;
			continue;
		}
		t->sock_err = errno;
		t->send_failed = true;
		return errno == EPIPE || errno == ECONNRESET ?
			MBEDTLS_ERR_NET_CONN_RESET : MBEDTLS_ERR_NET_SEND_FAILED;
	}
}

/* mbedTLS asks for exactly the rest of the current record (never more, on a
 * stream), so nothing past the handshake is read from the socket. */
static int hbx_tls_recv(void *ctx, unsigned char *buf, size_t len)
{
	struct hbx_tls *t = ctx;
	ssize_t n;
	size_t k;
	int ret;

	for (;;) {
		n = recv(t->fd, buf, len, MSG_DONTWAIT);
		if (n >= 0) {
			k = sizeof(t->first) - t->nfirst;
			if (k > (size_t)n)
				k = n;
			memcpy(t->first + t->nfirst, buf, k);
			t->nfirst += k;
			return (int)n;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			ret = hbx_tls_wait(t, POLLIN);
			if (ret)
				return ret;
			continue;
		}
		t->sock_err = errno;
		return errno == ECONNRESET ? MBEDTLS_ERR_NET_CONN_RESET :
			MBEDTLS_ERR_NET_RECV_FAILED;
	}
}

/* --- callbacks ------------------------------------------------------------ */

/*
 * mbedTLS 2.28 ssl_populate_transform() passes the whole key block (RFC 5246
 * 6.3): client MAC key, server MAC key (maclen each, 0 for AEAD), client
 * write key, server write key (keylen each), client IV, server IV (ivlen
 * each: the 4-byte implicit part for GCM, all 12 bytes for ChaCha20).
 */
static int hbx_tls_export_keys(void *ctx, const unsigned char *ms,
			       const unsigned char *kb, size_t maclen,
			       size_t keylen, size_t ivlen,
			       const unsigned char client_random[32],
			       const unsigned char server_random[32],
			       mbedtls_tls_prf_types prf)
{
	struct hbx_tls *t = ctx;
	const unsigned char *ckey, *skey, *civ, *siv;
	struct hbx_ktls_dir *c = t->client ? &t->keys.tx : &t->keys.rx;
	struct hbx_ktls_dir *s = t->client ? &t->keys.rx : &t->keys.tx;

	if (maclen || keylen != hbx_ktls_key_len(t->keys.cipher) ||
	    ivlen != hbx_ktls_iv_len(t->keys.cipher)) {
		t->bad_keys = true;
		return 0;
	}
	ckey = kb + 2 * maclen;
	skey = ckey + keylen;
	civ = skey + keylen;
	siv = civ + ivlen;
	memcpy(c->key, ckey, keylen);
	memcpy(s->key, skey, keylen);
	memcpy(c->iv, civ, ivlen);
	memcpy(s->iv, siv, ivlen);
	t->have_keys = true;
	return 0;
}

/* Printable, bounded copy of an ASN.1 string. */
static void hbx_tls_copy_name(char *dst, size_t size, const unsigned char *p,
			      size_t len)
{
	size_t i;

	for (i = 0; i < len && i + 1 < size; i++)
		dst[i] = p[i] >= 0x20 && p[i] < 0x7f ? (char)p[i] : '?';
	dst[i] = '\0';
}

static void hbx_tls_time(char *dst, size_t size, const mbedtls_x509_time *tm)
{
	snprintf(dst, size, "%04d-%02d-%02d %02d:%02d UTC", tm->year, tm->mon,
		 tm->day, tm->hour, tm->min);
}

static void hbx_tls_note_peer(struct hbx_tls *t, mbedtls_x509_crt *crt)
{
	const mbedtls_x509_name *n;
	const mbedtls_x509_sequence *san;
	unsigned char der[2048];
	uint8_t digest[HBX_DIGEST_SIZE];
	size_t used = 0;
	int len;

	t->have_peer = true;
	for (n = &crt->subject; n; n = n->next)
		if (n->oid.p && !MBEDTLS_OID_CMP(MBEDTLS_OID_AT_CN, &n->oid))
			hbx_tls_copy_name(t->peer_cn, sizeof(t->peer_cn),
					  n->val.p, n->val.len);

	/* Name checks use the SAN DNS names if there are any, else the CN. */
	t->peer_names[0] = '\0';
	for (san = &crt->subject_alt_names; san; san = san->next) {
		if (!san->buf.p || san->buf.tag !=
		    (MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_X509_SAN_DNS_NAME))
			continue;
		if (used && used + 2 < sizeof(t->peer_names)) {
			strcpy(t->peer_names + used, ", ");
			used += 2;
		}
		hbx_tls_copy_name(t->peer_names + used,
				  sizeof(t->peer_names) - used, san->buf.p,
				  san->buf.len);
		used = strlen(t->peer_names);
	}
	if (!used)
		snprintf(t->peer_names, sizeof(t->peer_names), "%s",
			 *t->peer_cn ? t->peer_cn : "no name");

	if (mbedtls_x509_dn_gets(t->peer_issuer, sizeof(t->peer_issuer),
				 &crt->issuer) < 0)
		strcpy(t->peer_issuer, "?");
	if (mbedtls_x509_serial_gets(t->peer_serial, sizeof(t->peer_serial),
				     &crt->serial) < 0)
		strcpy(t->peer_serial, "?");
	hbx_tls_time(t->peer_from, sizeof(t->peer_from), &crt->valid_from);
	hbx_tls_time(t->peer_to, sizeof(t->peer_to), &crt->valid_to);

	/* mbedtls_pk_write_pubkey_der() writes at the end of the buffer. */
	len = mbedtls_pk_write_pubkey_der(&crt->pk, der, sizeof(der));
	if (len > 0) {
		hbx_sha256(der + sizeof(der) - len, len, digest);
		hbx_digest_format(digest, t->peer_id);
	}
}

/* Called for each certificate of the chain, the CA first, the peer's last;
 * flags are that certificate's own. */
static int hbx_tls_verify(void *ctx, mbedtls_x509_crt *crt, int depth,
			  uint32_t *flags)
{
	struct hbx_tls *t = ctx;
	const mbedtls_x509_name *n;

	t->vflags |= *flags;
	if (depth == 0) {
		t->leaf_flags = *flags;
		hbx_tls_note_peer(t, crt);
	} else if (*flags) {
		t->ca_flags |= *flags;
		for (n = &crt->subject; n; n = n->next)
			if (n->oid.p && !MBEDTLS_OID_CMP(MBEDTLS_OID_AT_CN, &n->oid))
				hbx_tls_copy_name(t->ca_cn, sizeof(t->ca_cn),
						  n->val.p, n->val.len);
	}
	return 0;
}

#if defined(MBEDTLS_DEBUG_C)
static void hbx_tls_debug(void *ctx, int level, const char *file, int line,
			  const char *msg)
{
	fprintf(stderr, "mbedtls: %s:%d: %s", file, line, msg);
}

/*
 * From level 3 mbedTLS dumps buffers, the premaster and master secrets and
 * the key block among them: whoever reads the log can decrypt the session,
 * and the kTLS keys are those keys.  Said once per process, loudly.
 */
static void hbx_tls_debug_warning(int level)
{
	static int said;

	if (level < 3 || __atomic_exchange_n(&said, 1, __ATOMIC_RELAXED))
		return;
	fprintf(stderr,
		"hbx: WARNING: HBX_TLS_DEBUG=%d writes this handshake's SECRETS (master\n"
		"hbx: WARNING: secret, key block) to stderr: anyone who reads this log can\n"
		"hbx: WARNING: decrypt the connection. Use HBX_TLS_DEBUG=2 or less unless\n"
		"hbx: WARNING: you are debugging the key exchange, and destroy the log.\n",
		level);
}
#endif

/* --- why a handshake failed, as a sentence -------------------------------- */

static int hbx_tls_verify_error(struct hbx_tls *t)
{
	uint32_t all = mbedtls_ssl_get_verify_result(&t->ssl), f, ca;
	const char *cn = *t->peer_cn ? t->peer_cn : "no CN";
	char info[256];

	if (all == (uint32_t)-1 || !all)
		all = t->vflags;
	/* Per certificate if the verify callback saw the chain, else all. */
	f = t->have_peer ? t->leaf_flags | (all & ~t->vflags) : all;
	ca = t->ca_flags;
	if (!t->have_peer || (all & MBEDTLS_X509_BADCERT_MISSING))
		return hbx_tls_fail(t, -ENOKEY, "peer sent no certificate");
	if (all & MBEDTLS_X509_BADCERT_NOT_TRUSTED)
		return hbx_tls_fail(t, -EKEYREJECTED,
				    "peer certificate is not signed by the cluster CA (%s, issued by %s)",
				    cn, t->peer_issuer);
	if (f & MBEDTLS_X509_BADCERT_REVOKED)
		return hbx_tls_fail(t, -EKEYREVOKED,
				    "peer certificate was revoked (%s, serial %s)",
				    cn, t->peer_serial);
	if (f & MBEDTLS_X509_BADCERT_EXPIRED)
		return hbx_tls_fail(t, -EKEYEXPIRED,
				    "peer certificate has expired (%s, valid until %s)",
				    cn, t->peer_to);
	if (f & MBEDTLS_X509_BADCERT_FUTURE)
		return hbx_tls_fail(t, -EKEYEXPIRED,
				    "peer certificate is not yet valid (%s, valid from %s)",
				    cn, t->peer_from);
	if (ca & MBEDTLS_X509_BADCERT_REVOKED)
		return hbx_tls_fail(t, -EKEYREVOKED,
				    "the CA certificate %s above the peer's was revoked",
				    t->ca_cn);
	if (ca & (MBEDTLS_X509_BADCERT_EXPIRED | MBEDTLS_X509_BADCERT_FUTURE))
		return hbx_tls_fail(t, -EKEYEXPIRED,
				    "the cluster CA certificate (%s) %s",
				    t->ca_cn, ca & MBEDTLS_X509_BADCERT_EXPIRED ?
				    "has expired" : "is not yet valid");
	if (f & MBEDTLS_X509_BADCERT_CN_MISMATCH)
		return hbx_tls_fail(t, -EKEYREJECTED,
				    "peer name does not match (wanted %s, certificate is for %s)",
				    t->cfg->expected_name, t->peer_names);
	if (all & (MBEDTLS_X509_BADCERT_KEY_USAGE |
		   MBEDTLS_X509_BADCERT_EXT_KEY_USAGE |
		   MBEDTLS_X509_BADCERT_NS_CERT_TYPE))
		return hbx_tls_fail(t, -EKEYREJECTED,
				    "peer certificate is not for TLS %s authentication (%s: key usage)",
				    t->client ? "server" : "client", cn);
	if (all & (MBEDTLS_X509_BADCERT_BAD_MD | MBEDTLS_X509_BADCERT_BAD_PK |
		   MBEDTLS_X509_BADCERT_BAD_KEY))
		return hbx_tls_fail(t, -EKEYREJECTED,
				    "peer certificate uses a key or signature we do not accept (%s)",
				    cn);
	/* Our own CRL is wrong: not the peer's fault, not its to fix. */
	if (all & (MBEDTLS_X509_BADCRL_NOT_TRUSTED | MBEDTLS_X509_BADCRL_BAD_MD |
		   MBEDTLS_X509_BADCRL_BAD_PK | MBEDTLS_X509_BADCRL_BAD_KEY))
		return hbx_tls_fail(t, -EINVAL,
				    "our revocation list %s is not validly signed by the cluster CA",
				    t->crl_file);
	if (all & MBEDTLS_X509_BADCRL_EXPIRED)
		return hbx_tls_fail(t, -EKEYEXPIRED,
				    "our revocation list %s has expired: it needs a fresh one (hbx cert crl)",
				    t->crl_file);
	if (all & MBEDTLS_X509_BADCRL_FUTURE)
		return hbx_tls_fail(t, -EKEYEXPIRED,
				    "our revocation list %s is not yet valid",
				    t->crl_file);
	if (mbedtls_x509_crt_verify_info(info, sizeof(info), "", all) < 0)
		snprintf(info, sizeof(info), "flags 0x%x", all);
	info[strcspn(info, "\n")] = '\0';
	return hbx_tls_fail(t, -EKEYREJECTED,
			    "peer certificate failed verification (%s: %s)", cn,
			    info);
}

/* A fatal alert from the peer: usually it rejected our certificate. */
static int hbx_tls_alert_error(struct hbx_tls *t, unsigned int alert)
{
	static const struct {
		unsigned int	code;
		int		err;
		const char	*name;
		const char	*what;
	} alerts[] = {
		{ 40, -EPROTO, "handshake_failure",
		  "peer refused the handshake: no common cipher suite, or it wanted a certificate" },
		{ 42, -EKEYREJECTED, "bad_certificate",
		  "peer rejected our certificate: not the name it wanted?" },
		{ 43, -EKEYREJECTED, "unsupported_certificate",
		  "peer rejected our certificate: its key usage does not allow this" },
		{ 44, -EKEYREVOKED, "certificate_revoked",
		  "peer rejected our certificate: it was revoked" },
		{ 45, -EKEYEXPIRED, "certificate_expired",
		  "peer rejected our certificate: it has expired" },
		{ 46, -EKEYREJECTED, "certificate_unknown",
		  "peer rejected our certificate: not yet valid, or otherwise unacceptable to it" },
		{ 48, -EKEYREJECTED, "unknown_ca",
		  "peer rejected our certificate: it is not signed by the peer's CA" },
		{ 49, -EACCES, "access_denied", "peer denied us access" },
		{ 70, -EPROTO, "protocol_version",
		  "peer does not accept TLS 1.2" },
		{ 71, -EPROTO, "insufficient_security",
		  "peer wants a stronger cipher suite" },
		{ 80, -EPROTO, "internal_error",
		  "peer failed internally during the handshake" },
	};

	for (size_t i = 0; i < sizeof(alerts) / sizeof(alerts[0]); i++)
		if (alerts[i].code == alert)
			return hbx_tls_fail(t, alerts[i].err,
					    "%s (TLS alert %s)", alerts[i].what,
					    alerts[i].name);
	return hbx_tls_fail(t, -EPROTO,
			    "peer aborted the handshake (TLS alert %u)", alert);
}

/*
 * A peer that rejects our certificate sends an alert and closes, often while
 * we are still sending the rest of our flight: the send fails before
 * mbedTLS reads the alert.  The alert is still queued on the socket, ahead of
 * the reset, in the clear (the peer had not changed cipher spec yet).
 */
static int hbx_tls_queued_alert(struct hbx_tls *t)
{
	uint8_t rec[7];
	size_t got = 0;
	ssize_t n;

	while (got < sizeof(rec)) {
		n = recv(t->fd, rec + got, sizeof(rec) - got, MSG_DONTWAIT);
		if (n <= 0)
			break;
		got += n;
	}
	if (got == sizeof(rec) && rec[0] == MBEDTLS_SSL_MSG_ALERT &&
	    rec[1] == MBEDTLS_SSL_MAJOR_VERSION_3 && rec[3] == 0 && rec[4] == 2 &&
	    rec[5] == MBEDTLS_SSL_ALERT_LEVEL_FATAL)
		return rec[6];
	return -1;
}

static int hbx_tls_handshake_error(struct hbx_tls *t, int ret)
{
	char buf[128], seen[2 * sizeof(t->first) + 3];
	uint32_t flags;
	int alert;
	size_t i;

	if (t->timed_out)
		return hbx_tls_fail(t, -ETIMEDOUT,
				    "handshake timed out (no answer from the peer in %d ms)",
				    t->timeout_ms);
	/* Every TLS record starts with a type: handshake, or an alert. */
	if (t->nfirst && t->first[0] != MBEDTLS_SSL_MSG_HANDSHAKE &&
	    t->first[0] != MBEDTLS_SSL_MSG_ALERT) {
		for (i = 0; i < t->nfirst && t->first[i] >= 0x20 &&
			    t->first[i] < 0x7f; i++)
			;
		if (i) {
			hbx_tls_copy_name(seen, sizeof(seen), t->first, i);
			return hbx_tls_fail(t, -EPROTO,
					    "peer does not speak TLS (plaintext? it sent \"%s\")",
					    seen);
		}
		strcpy(seen, "0x");
		for (i = 0; i < t->nfirst; i++)
			sprintf(seen + 2 + 2 * i, "%02x", t->first[i]);
		return hbx_tls_fail(t, -EPROTO,
				    "peer does not speak TLS (it sent %s)", seen);
	}
	switch (ret) {
	case MBEDTLS_ERR_X509_CERT_VERIFY_FAILED:
		return hbx_tls_verify_error(t);
	case MBEDTLS_ERR_SSL_NO_CLIENT_CERTIFICATE:
		/* mbedTLS does not tell the client why; an alert does. */
		mbedtls_ssl_send_alert_message(&t->ssl,
					       MBEDTLS_SSL_ALERT_LEVEL_FATAL,
					       MBEDTLS_SSL_ALERT_MSG_HANDSHAKE_FAILURE);
		return hbx_tls_fail(t, -ENOKEY, "peer sent no certificate");
	case MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE:
		return hbx_tls_alert_error(t, t->ssl.in_msg[1]);
	case MBEDTLS_ERR_SSL_NO_CIPHER_CHOSEN:
		return hbx_tls_fail(t, -EPROTO,
				    "peer offers none of our cipher suites (we want %s: is it set to %s too?)",
				    mbedtls_ssl_get_ciphersuite_name(
					hbx_tls_suites[t->cfg->cipher][0]),
				    hbx_tls_cipher_name(t->cfg->cipher));
	case MBEDTLS_ERR_SSL_BAD_HS_PROTOCOL_VERSION:
		return hbx_tls_fail(t, -EPROTO, "peer does not speak TLS 1.2");
	case MBEDTLS_ERR_SSL_CONN_EOF:
	case MBEDTLS_ERR_NET_CONN_RESET:
		alert = t->send_failed ? hbx_tls_queued_alert(t) : -1;
		if (alert >= 0)
			return hbx_tls_alert_error(t, alert);
		return hbx_tls_fail(t, -ECONNRESET,
				    "peer closed the connection during the handshake%s",
				    t->client && t->nfirst ?
				    " (did it reject our certificate?)" : "");
	case MBEDTLS_ERR_NET_SEND_FAILED:
	case MBEDTLS_ERR_NET_RECV_FAILED:
	case MBEDTLS_ERR_NET_POLL_FAILED:
		return hbx_tls_fail(t, -t->sock_err,
				    "socket error during the handshake: %s",
				    strerror(t->sock_err));
	}
	flags = mbedtls_ssl_get_verify_result(&t->ssl);
	if (flags && flags != (uint32_t)-1)
		return hbx_tls_verify_error(t);
	return hbx_tls_fail(t, -EPROTO, "TLS handshake failed: %s (-0x%04x)",
			    hbx_tls_strerror(ret, buf, sizeof(buf)), -ret);
}

/* --- setup ---------------------------------------------------------------- */

/* A missing or unreadable file gets errno's sentence, not mbedTLS's. */
static int hbx_tls_readable(struct hbx_tls *t, const char *what,
			    const char *path)
{
	FILE *f = fopen(path, "r");
	int err = errno;

	if (f) {
		fclose(f);
		return 0;
	}
	return hbx_tls_fail(t, -err, "cannot read the %s %s: %s", what, path,
			    strerror(err));
}

/* mbedTLS silently skips a CRL whose issuer is not a trusted CA, which
 * would turn revocation off without a word. */
static bool hbx_tls_crl_is_from(const mbedtls_x509_crl *crl,
				const mbedtls_x509_crt *ca)
{
	const mbedtls_x509_crt *c;

	for (; crl && crl->raw.p; crl = crl->next)
		for (c = ca; c && c->raw.p; c = c->next)
			if (crl->issuer_raw.len == c->subject_raw.len &&
			    !memcmp(crl->issuer_raw.p, c->subject_raw.p,
				    c->subject_raw.len))
				return true;
	return false;
}

const char *hbx_tls_crl_file(const struct hbx_tls_config *cfg, char *buf,
			     size_t len)
{
	const char *slash;

	if (cfg->crl_file || cfg->no_crl)
		return cfg->crl_file;
	slash = strrchr(cfg->ca_file, '/');
	if (!slash)
		snprintf(buf, len, "ca.crl");
	else
		snprintf(buf, len, "%.*s/ca.crl", (int)(slash - cfg->ca_file),
			 cfg->ca_file);
	return buf;
}

static int hbx_tls_load(struct hbx_tls *t)
{
	const struct hbx_tls_config *cfg = t->cfg;
	const char *crl;
	char buf[128];
	int ret;

	if ((ret = hbx_tls_readable(t, "CA certificate", cfg->ca_file)) ||
	    (ret = hbx_tls_readable(t, "certificate", cfg->cert_file)) ||
	    (ret = hbx_tls_readable(t, "key", cfg->key_file)))
		return ret;
	t->crl_file = crl = hbx_tls_crl_file(cfg, t->crl_buf, sizeof(t->crl_buf));
	if (crl && !cfg->crl_file && access(crl, F_OK))
		return hbx_tls_fail(t, -EINVAL,
				    "there is no revocation list next to the CA certificate (%s): "
				    "pass --crl FILE, or --no-crl to accept revoked certificates",
				    crl);
	if (crl && (ret = hbx_tls_readable(t, "revocation list", crl)))
		return ret;

	ret = mbedtls_x509_crt_parse_file(&t->ca, cfg->ca_file);
	if (ret)
		return hbx_tls_fail(t, -EINVAL,
				    "cannot load the CA certificate %s: %s",
				    cfg->ca_file, ret < 0 ?
				    hbx_tls_strerror(ret, buf, sizeof(buf)) :
				    "some certificates in it do not parse");
	if (crl) {
		ret = mbedtls_x509_crl_parse_file(&t->crl, crl);
		if (ret)
			return hbx_tls_fail(t, -EINVAL,
					    "cannot load the revocation list %s: %s",
					    crl,
					    hbx_tls_strerror(ret, buf, sizeof(buf)));
	}
	if (crl && !hbx_tls_crl_is_from(&t->crl, &t->ca))
		return hbx_tls_fail(t, -EINVAL,
				    "the revocation list %s was not issued by the CA in %s",
				    crl, cfg->ca_file);
	ret = mbedtls_x509_crt_parse_file(&t->crt, cfg->cert_file);
	if (ret)
		return hbx_tls_fail(t, -EINVAL,
				    "cannot load the certificate %s: %s",
				    cfg->cert_file, ret < 0 ?
				    hbx_tls_strerror(ret, buf, sizeof(buf)) :
				    "some certificates in it do not parse");
	ret = mbedtls_pk_parse_keyfile(&t->pk, cfg->key_file, NULL);
	if (ret)
		return hbx_tls_fail(t, -EINVAL, "cannot load the key %s: %s",
				    cfg->key_file,
				    hbx_tls_strerror(ret, buf, sizeof(buf)));
	if (!mbedtls_pk_can_do(&t->pk, MBEDTLS_PK_ECDSA))
		return hbx_tls_fail(t, -EINVAL,
				    "the key %s is not an EC key (our cipher suites use ECDSA)",
				    cfg->key_file);
	if (mbedtls_pk_check_pair(&t->crt.pk, &t->pk))
		return hbx_tls_fail(t, -EINVAL,
				    "the key %s does not belong to the certificate %s",
				    cfg->key_file, cfg->cert_file);
	return 0;
}

static int hbx_tls_setup(struct hbx_tls *t)
{
	static const char pers[] = "hyperbox tls";
	const struct hbx_tls_config *cfg = t->cfg;
	mbedtls_ssl_config *conf = &t->conf;
	char buf[128];
	int ret;

	ret = mbedtls_ctr_drbg_seed(&t->drbg, mbedtls_entropy_func, &t->entropy,
				    (const unsigned char *)pers, sizeof(pers));
	if (ret)
		return hbx_tls_fail(t, -EIO, "cannot seed the random generator: %s",
				    hbx_tls_strerror(ret, buf, sizeof(buf)));
	ret = hbx_tls_load(t);
	if (ret)
		return ret;

	ret = mbedtls_ssl_config_defaults(conf, t->client ?
					  MBEDTLS_SSL_IS_CLIENT :
					  MBEDTLS_SSL_IS_SERVER,
					  MBEDTLS_SSL_TRANSPORT_STREAM,
					  MBEDTLS_SSL_PRESET_DEFAULT);
	if (ret)
		return hbx_tls_fail(t, -ENOMEM, "cannot configure TLS: %s",
				    hbx_tls_strerror(ret, buf, sizeof(buf)));
	mbedtls_ssl_conf_min_version(conf, MBEDTLS_SSL_MAJOR_VERSION_3,
				     MBEDTLS_SSL_MINOR_VERSION_3);
	mbedtls_ssl_conf_max_version(conf, MBEDTLS_SSL_MAJOR_VERSION_3,
				     MBEDTLS_SSL_MINOR_VERSION_3);
	mbedtls_ssl_conf_ciphersuites(conf, hbx_tls_suites[cfg->cipher]);
	mbedtls_ssl_conf_authmode(conf, MBEDTLS_SSL_VERIFY_REQUIRED);
	mbedtls_ssl_conf_ca_chain(conf, &t->ca, t->crl_file ? &t->crl : NULL);
	ret = mbedtls_ssl_conf_own_cert(conf, &t->crt, &t->pk);
	if (ret)
		return hbx_tls_fail(t, -ENOMEM, "cannot configure TLS: %s",
				    hbx_tls_strerror(ret, buf, sizeof(buf)));
	mbedtls_ssl_conf_rng(conf, mbedtls_ctr_drbg_random, &t->drbg);
	mbedtls_ssl_conf_verify(conf, hbx_tls_verify, t);
	mbedtls_ssl_conf_export_keys_ext_cb(conf, hbx_tls_export_keys, t);
	/* One full handshake per connection: no resumption, no renegotiation,
	 * so the key block is exported exactly once. */
	mbedtls_ssl_conf_renegotiation(conf, MBEDTLS_SSL_RENEGOTIATION_DISABLED);
#if defined(MBEDTLS_SSL_SESSION_TICKETS)
	mbedtls_ssl_conf_session_tickets(conf, MBEDTLS_SSL_SESSION_TICKETS_DISABLED);
#endif
#if defined(MBEDTLS_DEBUG_C)
	if (getenv("HBX_TLS_DEBUG")) {
		int level = atoi(getenv("HBX_TLS_DEBUG"));

		hbx_tls_debug_warning(level);
		mbedtls_debug_set_threshold(level);
		mbedtls_ssl_conf_dbg(conf, hbx_tls_debug, NULL);
	}
#endif

	ret = mbedtls_ssl_setup(&t->ssl, conf);
	if (ret)
		return hbx_tls_fail(t, -ENOMEM, "cannot set up TLS: %s",
				    hbx_tls_strerror(ret, buf, sizeof(buf)));
	/* The client checks the server's name; a server given a name checks
	 * the client's (mbedTLS verifies against ssl->hostname either way). */
	if (cfg->expected_name) {
		ret = mbedtls_ssl_set_hostname(&t->ssl, cfg->expected_name);
		if (ret)
			return hbx_tls_fail(t, -EINVAL, "bad peer name %s: %s",
					    cfg->expected_name,
					    hbx_tls_strerror(ret, buf, sizeof(buf)));
	}
	mbedtls_ssl_set_bio(&t->ssl, t, hbx_tls_send, hbx_tls_recv, NULL);
	return 0;
}

/* --- the handoff ---------------------------------------------------------- */

static int hbx_tls_handoff(struct hbx_tls *t)
{
	mbedtls_ssl_context *ssl = &t->ssl;
	int want = hbx_tls_suites[t->cfg->cipher][0];

	if (ssl->session->ciphersuite != want)
		return hbx_tls_fail(t, -EPROTO,
				    "negotiated %s instead of %s",
				    mbedtls_ssl_get_ciphersuite_name(ssl->session->ciphersuite),
				    mbedtls_ssl_get_ciphersuite_name(want));
	if (!t->have_peer || !*t->peer_id)
		return hbx_tls_fail(t, -EKEYREJECTED,
				    "peer certificate has no usable public key");
	if (!t->have_keys || t->bad_keys)
		return hbx_tls_fail(t, -EPROTO,
				    "mbedTLS exported no usable keys for %s",
				    mbedtls_ssl_get_ciphersuite_name(want));
	/*
	 * Whatever mbedTLS has read past the handshake would be lost: the
	 * kernel only sees what is still in the socket.  On a stream mbedTLS
	 * reads record by record, so this only trips if the peer sent records
	 * after its Finished and mbedTLS had reason to read them.
	 */
	if (mbedtls_ssl_get_bytes_avail(ssl) || mbedtls_ssl_check_pending(ssl) ||
	    ssl->in_left)
		return hbx_tls_fail(t, -EBADMSG,
				    "peer sent application data before the handoff");
	if (ssl->out_left)
		return hbx_tls_fail(t, -EIO,
				    "the handshake's last bytes were not sent");
	/* In TLS (not DTLS) both are plain 64-bit big-endian counters; after a
	 * full handshake they are 1: the Finished messages were record 0. */
	memcpy(t->keys.tx.seq, ssl->cur_out_ctr, 8);
	memcpy(t->keys.rx.seq, ssl->in_ctr, 8);
	return hbx_ktls_install(t->fd, &t->keys, t->why, t->whylen);
}

static int hbx_tls_run(int fd, const struct hbx_tls_config *cfg, bool client,
		       struct hbx_tls_peer *peer, char *why, size_t whylen)
{
	struct hbx_tls *t;
	int ret;

	if (whylen)
		why[0] = '\0';
	if (!cfg || !cfg->ca_file || !cfg->cert_file || !cfg->key_file) {
		snprintf(why, whylen, "TLS needs a CA, a certificate and a key");
		return -EINVAL;
	}
	if (client && !cfg->expected_name) {
		snprintf(why, whylen, "a TLS client needs the peer's name");
		return -EINVAL;
	}
	if (cfg->cipher < 0 || cfg->cipher >= HBX_TLS_NCIPHERS) {
		snprintf(why, whylen, "unknown cipher %d", cfg->cipher);
		return -EINVAL;
	}
	t = calloc(1, sizeof(*t));
	if (!t) {
		snprintf(why, whylen, "out of memory");
		return -ENOMEM;
	}
	t->cfg = cfg;
	t->client = client;
	t->why = why;
	t->whylen = whylen;
	t->fd = fd;
	t->keys.cipher = cfg->cipher;
	t->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms :
			HBX_TLS_DEFAULT_TIMEOUT_MS;
	mbedtls_entropy_init(&t->entropy);
	mbedtls_ctr_drbg_init(&t->drbg);
	mbedtls_x509_crt_init(&t->ca);
	mbedtls_x509_crl_init(&t->crl);
	mbedtls_x509_crt_init(&t->crt);
	mbedtls_pk_init(&t->pk);
	mbedtls_ssl_config_init(&t->conf);
	mbedtls_ssl_init(&t->ssl);

	ret = hbx_tls_setup(t);
	if (ret)
		goto out;
	ret = hbx_ktls_attach(fd, why, whylen);
	if (ret)
		goto out;
	t->deadline = hbx_tls_now() + t->timeout_ms;
	do
		ret = mbedtls_ssl_handshake(&t->ssl);
	while (ret == MBEDTLS_ERR_SSL_WANT_READ ||
	       ret == MBEDTLS_ERR_SSL_WANT_WRITE);
	if (ret) {
		ret = hbx_tls_handshake_error(t, ret);
		goto out;
	}
	ret = hbx_tls_handoff(t);
	if (ret)
		goto out;
	if (peer) {
		memset(peer, 0, sizeof(*peer));
		snprintf(peer->name, sizeof(peer->name), "%s", t->peer_cn);
		snprintf(peer->identity, sizeof(peer->identity), "%s",
			 t->peer_id);
		peer->cipher = cfg->cipher;
	}
out:
	/* No mbedtls_ssl_close_notify(): the kernel owns the stream now. */
	mbedtls_ssl_free(&t->ssl);
	mbedtls_ssl_config_free(&t->conf);
	mbedtls_pk_free(&t->pk);
	mbedtls_x509_crt_free(&t->crt);
	mbedtls_x509_crl_free(&t->crl);
	mbedtls_x509_crt_free(&t->ca);
	mbedtls_ctr_drbg_free(&t->drbg);
	mbedtls_entropy_free(&t->entropy);
	explicit_bzero(&t->keys, sizeof(t->keys));
	free(t);
	return ret;
}

int hbx_tls_client(int fd, const struct hbx_tls_config *cfg,
		   struct hbx_tls_peer *peer, char *why, size_t whylen)
{
	return hbx_tls_run(fd, cfg, true, peer, why, whylen);
}

int hbx_tls_server(int fd, const struct hbx_tls_config *cfg,
		   struct hbx_tls_peer *peer, char *why, size_t whylen)
{
	return hbx_tls_run(fd, cfg, false, peer, why, whylen);
}
