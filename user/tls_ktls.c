// SPDX-License-Identifier: GPL-2.0
/*
 * kTLS for TLS 1.2, from keys mbedTLS exported.  How each field is filled
 * (checked against net/tls/tls_sw.c and net/tls/tls.h of Linux 6.1):
 *
 * AES-GCM (RFC 5288): nonce = salt (4 bytes from the key block) || explicit
 *   part (8 bytes, sent in clear in front of every record).
 *   salt    = the sender's 4-byte key-block IV.
 *   iv      = explicit part of the first record the kernel sends; it then
 *             increments it per record (tls_advance_record_sn).  We use the
 *             sequence number, as mbedTLS and GnuTLS do, so it never repeats
 *             a nonce mbedTLS used for the Finished message.  On RX the
 *             kernel reads the explicit part from each record and ignores iv.
 * ChaCha20-Poly1305 (RFC 7905): nonce = 12-byte key-block IV XOR the
 *   padded sequence number; nothing explicit on the wire.
 *   iv      = the sender's 12-byte key-block IV; no salt.
 * rec_seq   = big-endian number of the next record, the same in both
 *   ciphers: it is in the additional data (and in ChaCha's nonce).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <linux/tls.h>
#include "tls.h"
#include "tls_ktls.h"

#ifndef SOL_TLS
#define SOL_TLS 282
#endif

size_t hbx_ktls_key_len(int cipher)
{
	switch (cipher) {
	case HBX_TLS_AES_128_GCM:
		return TLS_CIPHER_AES_GCM_128_KEY_SIZE;
	case HBX_TLS_AES_256_GCM:
		return TLS_CIPHER_AES_GCM_256_KEY_SIZE;
	case HBX_TLS_CHACHA20_POLY1305:
		return TLS_CIPHER_CHACHA20_POLY1305_KEY_SIZE;
	}
	return 0;
}

size_t hbx_ktls_iv_len(int cipher)
{
	switch (cipher) {
	case HBX_TLS_AES_128_GCM:
		return TLS_CIPHER_AES_GCM_128_SALT_SIZE;
	case HBX_TLS_AES_256_GCM:
		return TLS_CIPHER_AES_GCM_256_SALT_SIZE;
	case HBX_TLS_CHACHA20_POLY1305:
		return TLS_CIPHER_CHACHA20_POLY1305_IV_SIZE;
	}
	return 0;
}

int hbx_ktls_attach(int fd, char *why, size_t whylen)
{
	int err;

	if (!setsockopt(fd, SOL_TCP, TCP_ULP, "tls", sizeof("tls")))
		return 0;
	err = errno;
	switch (err) {
	case ENOENT:
		snprintf(why, whylen,
			 "kTLS is not available in this kernel (modprobe tls)");
		return -ENOPROTOOPT;
	case ENOTCONN:
		snprintf(why, whylen,
			 "the socket is not connected (or the peer already closed it)");
		break;
	case EEXIST:
		snprintf(why, whylen,
			 "the socket already has an upper-layer protocol (kTLS installed twice?)");
		break;
	case EOPNOTSUPP:
	case ENOPROTOOPT:
		snprintf(why, whylen, "kTLS needs a TCP socket");
		break;
	default:
		snprintf(why, whylen, "cannot enable kTLS on the socket: %s",
			 strerror(err));
	}
	return -err;
}

/* Everything but version and cipher_type has the same layout in these. */
union hbx_ktls_info {
	struct tls_crypto_info				info;
	struct tls12_crypto_info_aes_gcm_128		gcm128;
	struct tls12_crypto_info_aes_gcm_256		gcm256;
	struct tls12_crypto_info_chacha20_poly1305	chacha;
};

static socklen_t hbx_ktls_fill(union hbx_ktls_info *ci, int cipher,
			       const struct hbx_ktls_dir *d)
{
	memset(ci, 0, sizeof(*ci));
	ci->info.version = TLS_1_2_VERSION;
	switch (cipher) {
	case HBX_TLS_AES_128_GCM:
		ci->info.cipher_type = TLS_CIPHER_AES_GCM_128;
		memcpy(ci->gcm128.key, d->key, sizeof(ci->gcm128.key));
		memcpy(ci->gcm128.salt, d->iv, sizeof(ci->gcm128.salt));
		memcpy(ci->gcm128.iv, d->seq, sizeof(ci->gcm128.iv));
		memcpy(ci->gcm128.rec_seq, d->seq, sizeof(ci->gcm128.rec_seq));
		return sizeof(ci->gcm128);
	case HBX_TLS_AES_256_GCM:
		ci->info.cipher_type = TLS_CIPHER_AES_GCM_256;
		memcpy(ci->gcm256.key, d->key, sizeof(ci->gcm256.key));
		memcpy(ci->gcm256.salt, d->iv, sizeof(ci->gcm256.salt));
		memcpy(ci->gcm256.iv, d->seq, sizeof(ci->gcm256.iv));
		memcpy(ci->gcm256.rec_seq, d->seq, sizeof(ci->gcm256.rec_seq));
		return sizeof(ci->gcm256);
	case HBX_TLS_CHACHA20_POLY1305:
		ci->info.cipher_type = TLS_CIPHER_CHACHA20_POLY1305;
		memcpy(ci->chacha.key, d->key, sizeof(ci->chacha.key));
		memcpy(ci->chacha.iv, d->iv, sizeof(ci->chacha.iv));
		memcpy(ci->chacha.rec_seq, d->seq, sizeof(ci->chacha.rec_seq));
		return sizeof(ci->chacha);
	}
	return 0;
}

static int hbx_ktls_set(int fd, int dir, int cipher,
			const struct hbx_ktls_dir *d, char *why, size_t whylen)
{
	const char *name = dir == TLS_TX ? "TX" : "RX";
	union hbx_ktls_info ci;
	socklen_t len = hbx_ktls_fill(&ci, cipher, d);
	int ret, err;

	if (!len) {
		snprintf(why, whylen, "unknown cipher %d", cipher);
		return -EINVAL;
	}
	ret = setsockopt(fd, SOL_TLS, dir, &ci, len);
	err = errno;
	explicit_bzero(&ci, sizeof(ci));
	if (!ret)
		return 0;
	switch (err) {
	case ENOENT:
		snprintf(why, whylen,
			 "the kernel has no %s for kTLS (modprobe %s)",
			 hbx_tls_cipher_name(cipher),
			 cipher == HBX_TLS_CHACHA20_POLY1305 ?
			 "chacha20poly1305" : "gcm");
		return -ENOPROTOOPT;
	case EBUSY:
	case EEXIST:
		snprintf(why, whylen, "kTLS %s is already installed on the socket",
			 name);
		break;
	case EINVAL:
		snprintf(why, whylen,
			 "the kernel refused kTLS %s with %s for TLS 1.2", name,
			 hbx_tls_cipher_name(cipher));
		break;
	default:
		snprintf(why, whylen, "cannot install kTLS %s: %s", name,
			 strerror(err));
	}
	return -err;
}

int hbx_ktls_install(int fd, const struct hbx_ktls_keys *k, char *why,
		     size_t whylen)
{
	int ret = hbx_ktls_set(fd, TLS_TX, k->cipher, &k->tx, why, whylen);

	return ret ? ret : hbx_ktls_set(fd, TLS_RX, k->cipher, &k->rx, why,
					whylen);
}
