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

/* Read exactly len bytes; a peer that stops mid-way ends the socket. */
static int hbx_recv_full(struct socket *sock, void *buf, size_t len,
			 size_t *got)
{
	*got = 0;
	while (*got < len) {
		struct kvec iov = { buf + *got, len - *got };
		struct msghdr msg = { .msg_flags = MSG_NOSIGNAL };
		int n = kernel_recvmsg(sock, &msg, &iov, 1, iov.iov_len,
				       MSG_WAITALL | MSG_NOSIGNAL);

		if (n < 0)
			return n;
		if (n == 0)
			return -EPIPE;
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

int hbx_stoq_recv_request(struct socket *sock, struct hbx_stoq_hdr *hdr,
			  void *payload, const char **why)
{
	size_t got;
	u32 len;
	int err;

	err = hbx_recv_full(sock, hdr, sizeof(*hdr), &got);
	if (err == -EPIPE && got) {
		*why = "truncated frame header";
		return -EPROTO;
	}
	if (err) {
		*why = err == -EPIPE ? "peer closed the connection" :
				       "socket receive failed";
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

	err = hbx_recv_full(sock, payload, len, &got);
	if (err == -EPIPE) {
		*why = "truncated frame";
		return -EPROTO;
	}
	if (err)
		*why = "socket receive failed";
	return err;
}

int hbx_stoq_recv_reply(struct socket *sock, struct hbx_stoq_hdr *hdr,
			const char **why)
{
	size_t got;
	int err;

	err = hbx_recv_full(sock, hdr, sizeof(*hdr), &got);
	if (err == -EAGAIN && !got)
		return -EAGAIN;		/* idle: no reply due, none came */
	if (err) {
		*why = err == -EPIPE ? (got ? "truncated frame header" :
				       "peer closed the connection") :
				       "socket receive failed or timed out";
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

int hbx_stoq_recv_data(struct socket *sock, void *buf, size_t len)
{
	size_t got;
	int err = hbx_recv_full(sock, buf, len, &got);

	return err == -EPIPE || err == -EAGAIN ? -EPROTO : err;
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

/* sk_sndtimeo bounds every send; a short one means the socket is done. */
static int hbx_stoq_sendmsg(struct socket *sock, struct kvec *iov, int nr,
			    size_t total, int flags)
{
	struct msghdr msg = { .msg_flags = MSG_NOSIGNAL | flags };
	int n = kernel_sendmsg(sock, &msg, iov, nr, total);

	if (n < 0)
		return n;
	return n == total ? 0 : -EPIPE;
}

int hbx_stoq_send(struct socket *sock, u8 type, u16 status, u64 id,
		  const void *data, u32 len)
{
	struct hbx_stoq_hdr hdr;
	struct kvec iov[2] = { { &hdr, sizeof(hdr) }, { (void *)data, len } };

	hbx_stoq_hdr_init(&hdr, type, status, id, len);
	return hbx_stoq_sendmsg(sock, iov, len ? 2 : 1, sizeof(hdr) + len, 0);
}

int hbx_stoq_send_file(struct socket *sock, u64 id, struct file *file,
		       loff_t pos, u32 len)
{
	struct hbx_stoq_hdr hdr;
	struct kvec iov = { &hdr, sizeof(hdr) };
	loff_t out = 0;
	int err;

	hbx_stoq_hdr_init(&hdr, HBX_STOQ_REPLY, HBX_STOQ_OK, id, len);
	/* MSG_MORE: the header and the data go out in one TLS record. */
	err = hbx_stoq_sendmsg(sock, &iov, 1, sizeof(hdr), MSG_MORE);
	while (!err && len) {
		/* Page-cache pages go to the socket by reference, as sendfile's. */
		long n = do_splice_direct(file, &pos, sock->file, &out, len, 0);

		if (n <= 0)
			err = n ? n : -EIO;	/* the file ended early */
		else
			len -= n;
	}
	return err;
}
