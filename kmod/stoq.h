/* SPDX-License-Identifier: GPL-2.0 */
/* STOQ framing over a kernel socket (the protocol is in the UAPI header). */
#ifndef HBX_STOQ_H
#define HBX_STOQ_H

#include <linux/types.h>
#include <linux/hyperbox.h>

struct file;
struct socket;

/*
 * Read one request frame: header and payload (at most HBX_STOQ_REQUEST_MAX
 * bytes).  Returns 0; -EPIPE when the peer closed cleanly between frames;
 * -EPROTO for a bad frame, with *why saying what was wrong; or another error
 * from the socket (*why says so too).
 */
int hbx_stoq_recv_request(struct socket *sock, struct hbx_stoq_hdr *hdr,
			  void *payload, const char **why);

/*
 * Read a reply (or hello) header: 0; -EAGAIN when the receive timeout
 * passed with nothing at all received; -EPROTO for a bad header (*why says
 * what); or a socket error.
 */
int hbx_stoq_recv_reply(struct socket *sock, struct hbx_stoq_hdr *hdr,
			const char **why);
/* Read exactly len payload bytes; -EPROTO if the peer stops short. */
int hbx_stoq_recv_data(struct socket *sock, void *buf, size_t len);

/* Send a frame of type with data; one call, all or an error. */
int hbx_stoq_send(struct socket *sock, u8 type, u16 status, u64 id,
		  const void *data, u32 len);
/*
 * Send an OK reply whose data is len bytes of file at pos, spliced from its
 * page cache without a copy.  An error leaves the socket mid-frame: end it.
 */
int hbx_stoq_send_file(struct socket *sock, u64 id, struct file *file,
		       loff_t pos, u32 len);

#endif
