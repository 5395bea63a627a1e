// SPDX-License-Identifier: GPL-2.0
/*
 * STOQ frames on a socket that may carry kTLS: the kernel's TLS layer does
 * the records, we see plaintext.  Nothing a peer sends is trusted: every
 * header field is checked before its length is used.
 */
#include <linux/fs.h>
#include <linux/net.h>
#include <linux/socket.h>
#include <linux/splice.h>
#include <linux/uio.h>
#include <net/sock.h>
#include "stoq.h"

/* Jiffies the next receive may wait: idle, or what is left of the frame's. */
static long hbx_rx_left(const struct hbx_stoq_rx *rx)
{
	if (!rx->started || rx->frame == MAX_SCHEDULE_TIMEOUT)
		return rx->started ? MAX_SCHEDULE_TIMEOUT : rx->idle;
	return (long)(rx->deadline - jiffies);
}

static void hbx_rx_begin(struct hbx_stoq_rx *rx)
{
	rx->started = false;
}

/*
 * Read exactly len bytes of the current frame.  The receive timeout is set
 * afresh before every call to what is left, so it never re-arms: a peer
 * sending one byte per timeout still ends at the frame's deadline.  Until
 * the frame starts, any byte ends the wait (no MSG_WAITALL), and starts the
 * frame's clock.
 */
static int hbx_recv_full(struct socket *sock, struct hbx_stoq_rx *rx,
			 void *buf, size_t len, size_t *got)
{
	*got = 0;
	while (*got < len) {
		struct kvec iov = { buf + *got, len - *got };
		struct msghdr msg = { .msg_flags = MSG_NOSIGNAL };
		long left = hbx_rx_left(rx);
		int n;

		if (left <= 0)
			return -ETIMEDOUT;
		WRITE_ONCE(sock->sk->sk_rcvtimeo, left);
		n = kernel_recvmsg(sock, &msg, &iov, 1, iov.iov_len,
				   (rx->started ? MSG_WAITALL : 0) | MSG_NOSIGNAL);
		if (n == -EAGAIN)
			return rx->started ? -ETIMEDOUT : -EAGAIN;
		if (n < 0)
			return n;
		if (n == 0)
			return -EPIPE;
		if (!rx->started) {
			rx->started = true;
			rx->deadline = jiffies + (rx->frame == MAX_SCHEDULE_TIMEOUT ?
						  0 : rx->frame);
		}
		*got += n;
	}
	return 0;
}

static u32 hbx_stoq_request_len(u8 type)
{
	switch (type) {
	case HBX_STOQ_HELLO:		return sizeof(struct hbx_stoq_hello);
	case HBX_STOQ_GET_MANIFEST:	/* fall through */
	case HBX_STOQ_GET_CHUNK:	return sizeof(struct hbx_stoq_get);
	default:			return 0;
	}
}

static const char *hbx_recv_why(int err, bool partial)
{
	switch (err) {
	case -EPIPE:	return partial ? "truncated frame" : "peer closed the connection";
	case -ETIMEDOUT: return "frame not received in time";
	default:	return "socket receive failed";
	}
}

int hbx_stoq_recv_request(struct socket *sock, struct hbx_stoq_rx *rx,
			  struct hbx_stoq_hdr *hdr, void *payload,
			  const char **why)
{
	size_t got;
	u32 len;
	int err;

	hbx_rx_begin(rx);
	err = hbx_recv_full(sock, rx, hdr, sizeof(*hdr), &got);
	if (err == -EPIPE && got) {
		*why = "truncated frame header";
		return -EPROTO;
	}
	if (err) {
		*why = hbx_recv_why(err, false);
		return err;
	}
	len = be32_to_cpu(hdr->len);
	if (be32_to_cpu(hdr->magic) != HBX_STOQ_MAGIC)
		*why = "bad magic";
	else if (hdr->version != HBX_STOQ_VERSION)
		*why = "unsupported protocol version";
	else if (!hbx_stoq_request_len(hdr->type))
		*why = "unknown frame type";
	else if (len > HBX_STOQ_REQUEST_MAX)
		*why = "frame too long";
	else if (len != hbx_stoq_request_len(hdr->type) || hdr->reserved ||
		 hdr->status)
		*why = "malformed frame";
	else
		*why = NULL;
	if (*why)
		return -EPROTO;

	err = hbx_recv_full(sock, rx, payload, len, &got);
	if (err)
		*why = hbx_recv_why(err, true);
	return err == -EPIPE ? -EPROTO : err;
}

int hbx_stoq_recv_reply(struct socket *sock, struct hbx_stoq_rx *rx,
			struct hbx_stoq_hdr *hdr, const char **why)
{
	size_t got;
	int err;

	hbx_rx_begin(rx);
	err = hbx_recv_full(sock, rx, hdr, sizeof(*hdr), &got);
	if (err == -EAGAIN)
		return -EAGAIN;		/* idle: nothing came */
	if (err) {
		*why = err == -EPIPE && got ? "truncated frame header" :
					      hbx_recv_why(err, false);
		return err == -EPIPE && got ? -EPROTO : err;
	}
	if (be32_to_cpu(hdr->magic) != HBX_STOQ_MAGIC)
		*why = "bad magic";
	else if (hdr->version != HBX_STOQ_VERSION)
		*why = "unsupported protocol version";
	else if (hdr->type != HBX_STOQ_REPLY && hdr->type != HBX_STOQ_HELLO)
		*why = "unexpected frame type";
	else if (be32_to_cpu(hdr->len) > HBX_MANIFEST_MAX)
		*why = "frame too long";
	else
		return 0;
	return -EPROTO;
}

int hbx_stoq_recv_data(struct socket *sock, struct hbx_stoq_rx *rx,
		       void *buf, size_t len)
{
	size_t got;
	int err = hbx_recv_full(sock, rx, buf, len, &got);

	return err == -EPIPE ? -EPROTO : err;
}

int hbx_stoq_discard(struct socket *sock, struct hbx_stoq_rx *rx, u32 len)
{
	u8 scratch[256];
	int err = 0;

	while (len && !err) {
		u32 n = min_t(u32, len, sizeof(scratch));

		err = hbx_stoq_recv_data(sock, rx, scratch, n);
		len -= n;
	}
	return err;
}

static void hbx_stoq_hdr_init(struct hbx_stoq_hdr *hdr, u8 type, u16 status,
			      u64 id, u32 len)
{
	*hdr = (struct hbx_stoq_hdr) {
		.magic = cpu_to_be32(HBX_STOQ_MAGIC),
		.version = HBX_STOQ_VERSION,
		.type = type,
		.status = cpu_to_be16(status),
		.len = cpu_to_be32(len),
		.id = cpu_to_be64(id),
	};
}

/*
 * A send's deadline: sk_sndtimeo is set to what is left before every call,
 * since each call (one sendmsg, one piece of a splice) waits that long.
 */
static int hbx_tx_arm(struct socket *sock, unsigned long deadline, long timeout)
{
	long left = timeout == MAX_SCHEDULE_TIMEOUT ? timeout :
		    (long)(deadline - jiffies);

	if (left <= 0)
		return -ETIMEDOUT;
	WRITE_ONCE(sock->sk->sk_sndtimeo, left);
	return 0;
}

/* A short send means the socket is done. */
static int hbx_stoq_sendmsg(struct socket *sock, struct kvec *iov, int nr,
			    size_t total, int flags)
{
	struct msghdr msg = { .msg_flags = MSG_NOSIGNAL | flags };
	int n = kernel_sendmsg(sock, &msg, iov, nr, total);

	if (n < 0)
		return n == -EAGAIN ? -ETIMEDOUT : n;
	return n == total ? 0 : -EPIPE;
}

int hbx_stoq_send(struct socket *sock, long timeout, u8 type, u16 status,
		  u64 id, const void *data, u32 len)
{
	struct hbx_stoq_hdr hdr;
	struct kvec iov[2] = { { &hdr, sizeof(hdr) }, { (void *)data, len } };

	hbx_stoq_hdr_init(&hdr, type, status, id, len);
	/* One call: its wait is bounded by the timeout as a whole. */
	return hbx_tx_arm(sock, jiffies + timeout, timeout) ?:
	       hbx_stoq_sendmsg(sock, iov, len ? 2 : 1, sizeof(hdr) + len, 0);
}

/* Each splice call may wait the send timeout: keep the pieces small. */
#define HBX_SPLICE_PIECE	(64U << 10)

int hbx_stoq_send_file(struct socket *sock, long timeout, u64 id,
		       struct file *file, loff_t pos, u32 len)
{
	unsigned long deadline = jiffies + timeout;
	struct hbx_stoq_hdr hdr;
	struct kvec iov = { &hdr, sizeof(hdr) };
	loff_t out = 0;
	int err;

	hbx_stoq_hdr_init(&hdr, HBX_STOQ_REPLY, HBX_STOQ_OK, id, len);
	/* MSG_MORE: the header and the data go out in one TLS record. */
	err = hbx_tx_arm(sock, deadline, timeout) ?:
	      hbx_stoq_sendmsg(sock, &iov, 1, sizeof(hdr), MSG_MORE);
	while (!err && len && !(err = hbx_tx_arm(sock, deadline, timeout))) {
		/* Page-cache pages go to the socket by reference, as sendfile's. */
		long n = do_splice_direct(file, &pos, sock->file, &out,
					  min(len, HBX_SPLICE_PIECE), 0);

		if (n <= 0)
			err = n ? n : -EIO;	/* the file ended early */
		else
			len -= n;
	}
	return err;
}
