// SPDX-License-Identifier: GPL-2.0
/*
 * STOQ frames on a socket that may carry kTLS: the kernel's TLS layer does
 * the records, we see plaintext.  Nothing a peer sends is trusted: every
 * header field is checked before its length is used.
 */
#include <linux/bvec.h>
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/net.h>
#include <linux/socket.h>
#include <linux/splice.h>
#include <linux/uio.h>
#include <linux/vmalloc.h>
#include <net/sock.h>
#include "rxbuf.h"
#include "stoq.h"

long hbx_stoq_rx_left(const struct hbx_stoq_rx *rx)
{
	if (!rx->started || rx->frame == MAX_SCHEDULE_TIMEOUT)
		return MAX_SCHEDULE_TIMEOUT;
	return (long)(rx->deadline - jiffies);
}

void hbx_stoq_rx_begin(struct hbx_stoq_rx *rx)
{
	rx->started = false;
	rx->got = 0;
}

static void hbx_stoq_rx_start(struct hbx_stoq_rx *rx)
{
	rx->started = true;
	rx->deadline = jiffies + (rx->frame == MAX_SCHEDULE_TIMEOUT ? 0 : rx->frame);
}

void hbx_stoq_rx_expect(struct hbx_stoq_rx *rx)
{
	hbx_stoq_rx_begin(rx);
	hbx_stoq_rx_start(rx);
}

/*
 * A piece of at least a page goes in as pages when its buffer is pages
 * (kvmalloc's, not slab's): kTLS then decrypts each record that fits
 * straight into them.  Given a kvec it cannot; it decrypts into clear-text
 * pages of its own, freshly allocated (and zeroed: Debian's kernels
 * initialise every allocation), and copies out of those.
 */
static int hbx_stoq_recv_some(struct socket *sock, void *buf, u32 len)
{
	struct msghdr msg = { .msg_flags = MSG_DONTWAIT | MSG_NOSIGNAL };
	struct bio_vec bv[HBX_RXBUF_BVECS];
	struct kvec iov = { buf, len };
	unsigned int n;
	u32 covered;

	if (!hbx_rxbuf_is_pages(buf, len))
		return kernel_recvmsg(sock, &msg, &iov, 1, len, msg.msg_flags);
	n = hbx_rxbuf_bvec(bv, buf, len, &covered);
	iov_iter_bvec(&msg.msg_iter, ITER_DEST, bv, n, covered);
	return sock_recvmsg(sock, &msg, msg.msg_flags);
}

/*
 * Never blocks: the receiver runs when the socket has data (peer.c), so a
 * peer that sends nothing, or drips a byte at a time, holds no thread; the
 * frame's deadline, set by its first byte, is checked when the data stops
 * (hbx_stoq_rx_left()), so nothing the peer sends pushes it back.
 */
int hbx_stoq_recv_piece(struct socket *sock, struct hbx_stoq_rx *rx,
			void *buf, u32 len)
{
	while (rx->got < len) {
		int n = hbx_stoq_recv_some(sock, buf + rx->got, len - rx->got);

		if (n < 0)
			return n;
		if (n == 0)
			return rx->started ? -EPROTO : -EPIPE;
		if (!rx->started)
			hbx_stoq_rx_start(rx);
		rx->got += n;
	}
	rx->got = 0;
	return 0;
}

static u32 hbx_stoq_request_len(u8 type)
{
	switch (type) {
	case HBX_STOQ_HELLO:		return sizeof(struct hbx_stoq_hello);
	case HBX_STOQ_GET_MANIFEST:	/* fall through */
	case HBX_STOQ_GET_CHUNK:	return sizeof(struct hbx_stoq_get);
	case HBX_STOQ_GET_CHUNKS:	return sizeof(struct hbx_stoq_get_run);
	default:			return 0;
	}
}

const char *hbx_stoq_check_request(const struct hbx_stoq_hdr *hdr)
{
	u32 len = be32_to_cpu(hdr->len);

	if (be32_to_cpu(hdr->magic) != HBX_STOQ_MAGIC)
		return "bad magic";
	if (hdr->version != HBX_STOQ_VERSION)
		return "unsupported protocol version";
	if (!hbx_stoq_request_len(hdr->type))
		return "unknown frame type";
	if (len > HBX_STOQ_REQUEST_MAX)
		return "frame too long";
	if (len != hbx_stoq_request_len(hdr->type) || hdr->reserved || hdr->status)
		return "malformed frame";
	return NULL;
}

const char *hbx_stoq_check_reply(const struct hbx_stoq_hdr *hdr)
{
	if (be32_to_cpu(hdr->magic) != HBX_STOQ_MAGIC)
		return "bad magic";
	if (hdr->version != HBX_STOQ_VERSION)
		return "unsupported protocol version";
	if (hdr->type != HBX_STOQ_REPLY && hdr->type != HBX_STOQ_HELLO)
		return "unexpected frame type";
	if (be32_to_cpu(hdr->len) > HBX_MANIFEST_MAX)
		return "frame too long";
	return NULL;
}

const char *hbx_stoq_recv_why(int err, const struct hbx_stoq_rx *rx)
{
	switch (err) {
	case -EPIPE:	 return "peer closed the connection";
	case -EPROTO:	 return "truncated frame";
	case -ETIMEDOUT: return "frame not received in time";
	default:	 return "socket receive failed";
	}
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

/*
 * What one send call's count means here: nothing sent within the send
 * timeout (-EAGAIN) is a reply late mid-frame; a short send means the
 * socket is done.
 */
static int hbx_stoq_sent(int n, size_t total)
{
	if (n < 0)
		return n == -EAGAIN ? -ETIMEDOUT : n;
	return n == total ? 0 : -EPIPE;
}

static int hbx_stoq_sendmsg(struct socket *sock, struct kvec *iov, int nr,
			    size_t total, int flags)
{
	struct msghdr msg = { .msg_flags = MSG_NOSIGNAL | flags };

	return hbx_stoq_sent(kernel_sendmsg(sock, &msg, iov, nr, total), total);
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

/*
 * An OK reply's header, by the reply's deadline; MSG_MORE: it goes out in
 * one TLS record with the data that follows.
 */
static int hbx_stoq_send_reply_header(struct socket *sock, unsigned long deadline,
				      long timeout, u64 id, u32 len)
{
	struct hbx_stoq_hdr hdr;
	struct kvec iov = { &hdr, sizeof(hdr) };

	hbx_stoq_hdr_init(&hdr, HBX_STOQ_REPLY, HBX_STOQ_OK, id, len);
	return hbx_tx_arm(sock, deadline, timeout) ?:
	       hbx_stoq_sendmsg(sock, &iov, 1, sizeof(hdr), len ? MSG_MORE : 0);
}

int hbx_stoq_send_file(struct socket *sock, long timeout, u64 id,
		       struct file *file, loff_t pos, u32 len)
{
	unsigned long deadline = jiffies + timeout;
	loff_t out = 0;
	int err;

	err = hbx_stoq_send_reply_header(sock, deadline, timeout, id, len);
	while (!err && len && !(err = hbx_tx_arm(sock, deadline, timeout))) {
		/* Page-cache pages go to the socket by reference, as sendfile's. */
		long n = do_splice_direct(file, &pos, sock->file, &out,
					  min(len, HBX_SPLICE_PIECE), 0);

		/*
		 * Nothing sent before the send timeout is -EAGAIN here (and at
		 * once on a socket someone made non-blocking): not "try again"
		 * to the receiver that called us, but a reply late mid-frame.
		 */
		if (n == -EAGAIN)
			err = -ETIMEDOUT;
		else if (n <= 0)
			err = n ? n : -EIO;	/* the file ended early */
		else
			len -= n;
	}
	return err;
}

/*
 * Pages handed to the socket per call (their bvecs are on the stack); each
 * call waits at most what is left of the reply's time (hbx_tx_arm()).
 */
#define HBX_SEND_PAGES	16

#ifdef HBX_HAVE_MSG_SPLICE_PAGES
/* Up to HBX_SEND_PAGES of the pages, by reference; how many bytes it took. */
static int hbx_stoq_send_some_pages(struct socket *sock, struct page **pages,
				    u32 len, u32 *sent)
{
	struct msghdr msg = { .msg_flags = MSG_NOSIGNAL | MSG_SPLICE_PAGES };
	struct bio_vec bv[HBX_SEND_PAGES];
	unsigned int n;

	for (n = 0, *sent = 0; n < HBX_SEND_PAGES && *sent < len; n++) {
		u32 seg = min_t(u32, len - *sent, PAGE_SIZE);

		bvec_set_page(&bv[n], pages[n], seg, 0);
		*sent += seg;
	}
	if (*sent < len)
		msg.msg_flags |= MSG_MORE;
	iov_iter_bvec(&msg.msg_iter, ITER_SOURCE, bv, n, *sent);
	return hbx_stoq_sent(sock_sendmsg(sock, &msg), *sent);
}
#else
static int hbx_stoq_send_some_pages(struct socket *sock, struct page **pages,
				    u32 len, u32 *sent)
{
	u32 seg = min_t(u32, len, PAGE_SIZE);
	int flags = MSG_NOSIGNAL;

	if (seg < len)
		flags |= MSG_MORE;
	*sent = seg;
	return hbx_stoq_sent(kernel_sendpage(sock, pages[0], 0, seg, flags), seg);
}
#endif

int hbx_stoq_send_pages(struct socket *sock, long timeout, u64 id,
			struct page **pages, u32 len)
{
	unsigned long deadline = jiffies + timeout;
	u32 sent;
	int err;

	err = hbx_stoq_send_reply_header(sock, deadline, timeout, id, len);
	while (!err && len && !(err = hbx_tx_arm(sock, deadline, timeout))) {
		err = hbx_stoq_send_some_pages(sock, pages, len, &sent);
		pages += DIV_ROUND_UP(sent, PAGE_SIZE);
		len -= sent;
	}
	return err;
}
