/* SPDX-License-Identifier: GPL-2.0 */
#ifndef HBX_CLIENT_H
#define HBX_CLIENT_H

#include <linux/types.h>

struct hbx_peer;
struct hbx_peer_sock;

/*
 * Whoever waits for a reply may go away while the peer stays silent (a
 * deleted layer, a thread asked to stop): waits check this every
 * HBX_CLIENT_CANCEL_POLL and end with -ECANCELED when it says so.
 */
struct hbx_cancel {
	bool		(*cancelled)(void *ctx);
	void		*ctx;
	/*
	 * The asker's own deadline (jiffies; 0 for none): a request ends at
	 * the earlier of it and the peer's timeout, so one who asks several
	 * peers in turn is done by its deadline, not one timeout per peer.
	 */
	unsigned long	deadline;
};

/*
 * One frame for a client socket's receiver (peer.c's work): sends the
 * hello first, then reads a reply as far as the socket has it and hands it
 * to its request.  0 when the frame is done, -EAGAIN when it needs more
 * data (its place is kept), or an error (*why says it) that ends the socket.
 */
int hbx_client_receive(struct hbx_peer_sock *ps, const char **why);

/* Fail the requests waiting for a reply on ps (it is dying). */
void hbx_client_fail_pending(struct hbx_peer *peer, struct hbx_peer_sock *ps);

/* Whether a request would go out at once (a socket is up and ready). */
bool hbx_client_ready(struct hbx_peer *peer);

/*
 * Ask the peer for a layer's manifest, or for count chunks from chunk on
 * (at most max bytes; a socket whose server takes runs gets one GET_CHUNKS,
 * any other the first chunk's GET_CHUNK: the reply says which).  On
 * success *buf is the reply, the caller's (hbx_rxbuf_free()), and *len its
 * length.  Waits at most the peer's timeout and can be killed; a requester
 * that gives up leaves nothing behind that the socket's reader still
 * writes to.  Returns 0, -ENOTCONN (no socket up), -ENOENT (the peer does
 * not have it), -ERANGE, -ETIMEDOUT, -EINTR, -ECANCELED or another error.
 */
int hbx_client_get_manifest(struct hbx_peer *peer, const u8 *digest,
			    void **buf, u32 *len, const struct hbx_cancel *cancel);
int hbx_client_get_chunks(struct hbx_peer *peer, const u8 *digest, u64 chunk,
			  u64 count, u32 max, void **buf, u32 *len,
			  const struct hbx_cancel *cancel);

#endif
