/* SPDX-License-Identifier: GPL-2.0 */
/*
 * libhbx tls: the userspace half of the secure transport.  A TLS 1.2
 * handshake with mbedTLS and mutual certificate authentication against the
 * cluster CA, then kernel TLS (kTLS) installed on the same TCP socket for
 * both directions, so the socket can be handed to hyperbox.ko with no
 * userspace left in the data path.
 *
 * After a successful call the caller owns a plain fd whose every read() and
 * write() (or the module's kernel_recvmsg()/kernel_sendmsg()) is encrypted by
 * the kernel.  Nothing was sent or received past the handshake: the first
 * application record on the wire is the kernel's.  Our protocol has the
 * client speak first, so a server never writes before the client's kernel
 * can decrypt it.
 *
 * HBX_TLS_DEBUG=1..4 in the environment prints mbedTLS's debug log to stderr.
 * From 3 on that log holds the session's secrets; a warning says so first.
 */
#ifndef HBX_TLS_H
#define HBX_TLS_H

#include <stdbool.h>
#include <stddef.h>

enum hbx_tls_cipher {
	HBX_TLS_AES_256_GCM = 0,	/* the default */
	HBX_TLS_AES_128_GCM,
	HBX_TLS_CHACHA20_POLY1305,
};

struct hbx_tls_config {
	const char	*ca_file;	/* the cluster CA (PEM) */
	/*
	 * Its revocation list.  NULL: ca.crl in the CA certificate's
	 * directory (where hbx cert init puts it), and the handshake is
	 * refused if there is none there, unless no_crl says to run without
	 * revocation checks.  Revocation is never off without being asked.
	 */
	const char	*crl_file;
	bool		no_crl;
	const char	*cert_file;	/* our certificate (EC key, PEM) */
	const char	*key_file;	/* its private key */
	/*
	 * The name the peer's certificate must carry (a SAN DNS name, or the
	 * CN if it has no SAN).  Required on the client; on the server NULL
	 * accepts any client the CA signed.
	 */
	const char	*expected_name;
	int		cipher;		/* enum hbx_tls_cipher; both ends must agree */
	int		timeout_ms;	/* whole handshake; <= 0: 10 s */
};

#define HBX_TLS_NAME_MAX	64
#define HBX_TLS_ID_LEN		(7 + 64)	/* "sha256:" + hex */

struct hbx_tls_peer {
	char	name[HBX_TLS_NAME_MAX + 1];	/* subject CN of its certificate */
	/* sha256 of its certificate's SubjectPublicKeyInfo (DER): the key's
	 * identity, stable across renewals of the certificate */
	char	identity[HBX_TLS_ID_LEN + 1];
	int	cipher;				/* enum hbx_tls_cipher */
};

/*
 * Run the handshake on the connected TCP socket fd and install kTLS TX and
 * RX on it.  Returns 0 and fills peer (may be NULL), or a negative errno and
 * writes a sentence saying why into why (whylen bytes, may be 0):
 *   -EKEYEXPIRED   peer certificate (or the CA's, or our CRL) expired or
 *                  not yet valid
 *   -EKEYREVOKED   peer certificate revoked
 *   -EKEYREJECTED  not signed by the cluster CA, wrong name, wrong usage,
 *                  or the peer rejected ours
 *   -ENOKEY        peer sent no certificate
 *   -ETIMEDOUT     handshake timed out
 *   -EPROTO        peer does not speak TLS 1.2 with our cipher suite
 *   -ECONNRESET    peer closed the connection
 *   -ENOPROTOOPT   no kTLS in this kernel
 *   -EBADMSG       peer sent application data before the handoff
 *   -EINVAL        bad configuration (unreadable or mismatched files, a CRL
 *                  that is not the CA's)
 * (the same errnos as hbx_cert_reason_errno() in cert_verify.h)
 * On failure the fd is left open for the caller to close; it is not usable.
 */
int hbx_tls_client(int fd, const struct hbx_tls_config *cfg,
		   struct hbx_tls_peer *peer, char *why, size_t whylen);
int hbx_tls_server(int fd, const struct hbx_tls_config *cfg,
		   struct hbx_tls_peer *peer, char *why, size_t whylen);

/*
 * The revocation list cfg makes the handshake check: cfg->crl_file, else
 * ca.crl next to cfg->ca_file (into buf); NULL with cfg->no_crl.  It may
 * not exist: the handshake then fails saying so.
 */
const char *hbx_tls_crl_file(const struct hbx_tls_config *cfg, char *buf,
			     size_t len);

/* "aes256", "aes128", "chacha"; parse returns -EINVAL for anything else. */
const char *hbx_tls_cipher_name(int cipher);
int hbx_tls_cipher_parse(const char *s);

#endif
