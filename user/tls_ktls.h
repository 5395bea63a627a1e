/* SPDX-License-Identifier: GPL-2.0 */
/*
 * libhbx tls, internal to tls.c: the traffic keys of a finished TLS 1.2
 * handshake and their installation as kernel TLS on the socket.
 */
#ifndef HBX_TLS_KTLS_H
#define HBX_TLS_KTLS_H

#include <stddef.h>
#include <stdint.h>

/* What the sender of one direction encrypts with. */
struct hbx_ktls_dir {
	uint8_t	key[32];
	uint8_t	iv[12];		/* the key block's IV: 4 bytes for GCM (the
				 * implicit nonce part), 12 for ChaCha20-Poly1305 */
	uint8_t	seq[8];		/* big-endian number of the next record */
};

struct hbx_ktls_keys {
	int			cipher;		/* enum hbx_tls_cipher */
	struct hbx_ktls_dir	tx, rx;
};

/* Key and key-block IV lengths of cipher, 0 for an unknown one. */
size_t hbx_ktls_key_len(int cipher);
size_t hbx_ktls_iv_len(int cipher);

/*
 * Attach the "tls" ULP to the connected TCP socket fd.  Done before the
 * handshake: until TLS_TX/TLS_RX are set the socket passes bytes through
 * unchanged, and a kernel without kTLS is found out before a byte is sent.
 * 0 or -errno with a sentence in why.
 */
int hbx_ktls_attach(int fd, char *why, size_t whylen);

/* Install TX then RX.  0 or -errno with a sentence in why. */
int hbx_ktls_install(int fd, const struct hbx_ktls_keys *k, char *why,
		     size_t whylen);

#endif
