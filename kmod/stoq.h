/* SPDX-License-Identifier: GPL-2.0 */
/* STOQ framing over a kernel socket (the protocol is in the UAPI header). */
#ifndef HBX_STOQ_H
#define HBX_STOQ_H

#include <linux/types.h>
#include <linux/hyperbox.h>

struct file;
struct socket;

/*
 * How long receiving a frame may take.  Waiting for a frame to begin may
 * last idle jiffies; once its first byte is in, the rest (header and
 * payload) must arrive before a deadline that nothing the peer sends can
 * push back, so a peer that drips a byte at a time never holds a reader
 * past it.  MAX_SCHEDULE_TIMEOUT means no bound.  One reader per socket.
 */
struct hbx_stoq_rx {
	long		idle;
	long		frame;
	unsigned long	deadline;	/* set by the frame's first byte */
	bool		started;
};

/*
 * Read one request frame: header and payload (at most HBX_STOQ_REQUEST_MAX
 * bytes).  Returns 0; -EPIPE when the peer closed cleanly between frames;
 * -EPROTO for a bad frame, with *why saying what was wrong; -ETIMEDOUT for
 * a frame that did not complete in time; or another error from the socket
 * (*why says so too).
 */
int hbx_stoq_recv_request(struct socket *sock, struct hbx_stoq_rx *rx,
			  struct hbx_stoq_hdr *hdr, void *payload,
			  const char **why);

/*
 * Read a reply (or hello) header: 0; -EAGAIN when the idle time passed with
 * nothing at all received; -EPROTO for a bad header (*why says what);
 * -ETIMEDOUT, or a socket error.
 */
int hbx_stoq_recv_reply(struct socket *sock, struct hbx_stoq_rx *rx,
			struct hbx_stoq_hdr *hdr, const char **why);
/*
 * Read exactly len payload bytes of the frame being received, within its
 * deadline: 0, -EPROTO if the peer stops short, -ETIMEDOUT, or an error.
 */
int hbx_stoq_recv_data(struct socket *sock, struct hbx_stoq_rx *rx,
		       void *buf, size_t len);
/* Read and drop len payload bytes of the frame being received. */
int hbx_stoq_discard(struct socket *sock, struct hbx_stoq_rx *rx, u32 len);

/*
 * Send a frame of type with data, all of it within timeout jiffies
 * (MAX_SCHEDULE_TIMEOUT: no bound), or an error.  A short or failed send
 * leaves the socket mid-frame: the caller must end it.
 */
int hbx_stoq_send(struct socket *sock, long timeout, u8 type, u16 status,
		  u64 id, const void *data, u32 len);
/*
 * Send an OK reply whose data is len bytes of file at pos, spliced from its
 * page cache without a copy, within timeout.  An error leaves the socket
 * mid-frame: end it.
 */
int hbx_stoq_send_file(struct socket *sock, long timeout, u64 id,
		       struct file *file, loff_t pos, u32 len);

#endif
