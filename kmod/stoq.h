/* SPDX-License-Identifier: GPL-2.0 */
/* STOQ framing over a kernel socket (the protocol is in the UAPI header). */
#ifndef HBX_STOQ_H
#define HBX_STOQ_H

#include <linux/types.h>
#include <linux/hyperbox.h>

struct file;
struct page;
struct socket;

/*
 * Receiving frames a piece at a time, without blocking, as data arrives.
 * Waiting for a frame to begin costs nothing and has no bound; once its
 * first byte is in, the rest (header and payload) must arrive before a
 * deadline that nothing the peer sends can push back.  One receiver per
 * socket.
 */
struct hbx_stoq_rx {
	long		frame;		/* MAX_SCHEDULE_TIMEOUT: no bound */
	unsigned long	deadline;	/* set by the frame's first byte */
	bool		started;
	u32		got;		/* bytes of the current piece in */
};

/* A new frame: its clock starts at its first byte. */
void hbx_stoq_rx_begin(struct hbx_stoq_rx *rx);
/* A frame owed now (the answer to our hello): its clock starts at once. */
void hbx_stoq_rx_expect(struct hbx_stoq_rx *rx);
/*
 * What is left of the frame's time, in jiffies (<= 0: it is over), or
 * MAX_SCHEDULE_TIMEOUT when no frame is under way or it has no bound.
 */
long hbx_stoq_rx_left(const struct hbx_stoq_rx *rx);
/*
 * Take what has arrived of a len-byte piece of the frame into buf, after
 * the rx->got bytes already there: 0 once the piece is whole (the next
 * piece starts at 0); -EAGAIN when the socket has nothing more yet (call
 * again when it has); -EPIPE when the peer closed between frames, -EPROTO
 * within one; or a socket error.
 */
int hbx_stoq_recv_piece(struct socket *sock, struct hbx_stoq_rx *rx,
			void *buf, u32 len);
/* What is wrong with a request's header (at most HBX_STOQ_REQUEST_MAX
 * bytes of payload), or with a reply's or hello's; NULL if nothing. */
const char *hbx_stoq_check_request(const struct hbx_stoq_hdr *hdr);
const char *hbx_stoq_check_reply(const struct hbx_stoq_hdr *hdr);
/* Why receiving failed with err, in a sentence for the peer's last error. */
const char *hbx_stoq_recv_why(int err, const struct hbx_stoq_rx *rx);

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
/*
 * The same with the data in pages (each whole but the last), handed to the
 * socket by reference: the pages must not change until they are sent, and
 * the caller may drop its references when this returns.
 */
int hbx_stoq_send_pages(struct socket *sock, long timeout, u64 id,
			struct page **pages, u32 len);

#endif
