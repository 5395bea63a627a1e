// SPDX-License-Identifier: GPL-2.0
/*
 * The in-kernel STOQ client.  Requesters send a frame and sleep on their
 * request; one thread per socket reads replies and hands each to the request
 * with its id.  Every wait is bounded by the peer's timeout and killable, and
 * a socket that dies fails the requests it carried at once.
 */
#include <linux/completion.h>
#include <linux/kthread.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <net/sock.h>
#include "client.h"
#include "peer.h"
#include "stoq.h"

#define HBX_CLIENT_CANCEL_POLL	(HZ / 10)

struct hbx_client_req {
	u32			id;
	struct hbx_peer_sock	*ps;		/* the socket it went out on */
	struct completion	done;
	int			err;
	u16			status;
	bool			alloc;		/* reply buffer made to measure */
	void			*buf;
	u32			cap, len;
};

/* Read and drop a payload nobody waits for any more. */
static int hbx_client_discard(struct socket *sock, u32 len)
{
	u8 scratch[256];
	int err = 0;

	while (len && !err) {
		u32 n = min_t(u32, len, sizeof(scratch));

		err = hbx_stoq_recv_data(sock, scratch, n);
		len -= n;
	}
	return err;
}

static void hbx_client_complete(struct hbx_client_req *req, int err)
{
	req->err = err;
	complete(&req->done);
}

/* Deliver one reply; a non-zero return ends the socket. */
static int hbx_client_deliver(struct hbx_peer_sock *ps,
			      const struct hbx_stoq_hdr *hdr, const char **why)
{
	struct hbx_peer *peer = ps->peer;
	u32 len = be32_to_cpu(hdr->len);
	struct hbx_client_req *req;
	int err;

	/* Ids are ours and 32-bit: anything else is no request of ours. */
	req = be64_to_cpu(hdr->id) > U32_MAX ? NULL :
	      xa_erase(&peer->pending, be64_to_cpu(hdr->id));
	if (!req)
		return hbx_client_discard(ps->sock, len);

	req->status = be16_to_cpu(hdr->status);
	if (req->status != HBX_STOQ_OK || !len) {
		err = hbx_client_discard(ps->sock, len);
		hbx_client_complete(req, 0);
		return err;
	}
	if (req->alloc) {
		req->buf = kvmalloc(len, GFP_KERNEL);
		req->cap = req->buf ? len : 0;
	}
	if (len > req->cap) {
		hbx_client_complete(req, req->alloc ? -ENOMEM : -EPROTO);
		*why = "reply larger than the request allows";
		return -EPROTO;
	}
	err = hbx_stoq_recv_data(ps->sock, req->buf, len);
	if (!err) {
		req->len = len;
		atomic64_add(len, &peer->bytes_rx);
	} else {
		*why = "truncated reply";
	}
	hbx_client_complete(req, err);
	return err;
}

void hbx_client_fail_pending(struct hbx_peer *peer, struct hbx_peer_sock *ps)
{
	struct hbx_client_req *req;
	unsigned long id;

	xa_for_each(&peer->pending, id, req)
		if ((!ps || req->ps == ps) && xa_erase(&peer->pending, id) == req)
			hbx_client_complete(req, -EPIPE);
}

void hbx_client_run(struct hbx_peer_sock *ps)
{
	struct hbx_stoq_hello hello = { .version = cpu_to_be32(HBX_STOQ_VERSION) };
	struct hbx_stoq_hdr hdr;
	const char *why = "socket send failed or timed out";
	int err;

	mutex_lock(&ps->send_lock);
	err = hbx_stoq_send(ps->sock, HBX_STOQ_HELLO, 0, 0, &hello, sizeof(hello));
	mutex_unlock(&ps->send_lock);

	while (!err && !kthread_should_stop()) {
		err = hbx_stoq_recv_reply(ps->sock, &hdr, &why);
		if (err == -EAGAIN) {
			err = 0;	/* idle until a request goes out */
			continue;
		}
		if (err)
			break;
		if (hdr.type == HBX_STOQ_HELLO) {
			err = hbx_stoq_recv_data(ps->sock, &hello,
						 min_t(u32, be32_to_cpu(hdr.len),
						       sizeof(hello)));
			if (!err && be32_to_cpu(hello.version) != HBX_STOQ_VERSION) {
				why = "peer speaks another protocol version";
				err = -EPROTO;
			}
			WRITE_ONCE(ps->ready, !err);
			continue;
		}
		if (!READ_ONCE(ps->ready)) {
			why = "reply before the hello";
			err = -EPROTO;
			break;
		}
		err = hbx_client_deliver(ps, &hdr, &why);
	}
	WRITE_ONCE(ps->ready, false);
	hbx_client_fail_pending(ps->peer, ps);
	hbx_peer_sock_failed(ps, why, err == -EPROTO);
}

static struct hbx_peer_sock *hbx_client_pick(struct hbx_peer *peer)
{
	unsigned int i, start = atomic_inc_return(&peer->next_sock);

	for (i = 0; i < peer->nr_socks; i++) {
		struct hbx_peer_sock *ps = &peer->socks[(start + i) % peer->nr_socks];

		if (READ_ONCE(ps->ready))
			return ps;
	}
	return NULL;
}

bool hbx_client_ready(struct hbx_peer *peer)
{
	return !READ_ONCE(peer->stopping) && hbx_client_pick(peer);
}

/* Wait for the reply: >0 when it came, 0 timed out, -EINTR, -ECANCELED. */
static long hbx_client_wait(struct hbx_client_req *req, long timeout,
			    const struct hbx_cancel *cancel)
{
	long slice, left;

	for (;;) {
		slice = min_t(long, timeout, HBX_CLIENT_CANCEL_POLL);
		left = wait_for_completion_killable_timeout(&req->done, slice);
		if (left > 0)
			return left;
		if (left < 0)
			return -EINTR;
		if (timeout != MAX_SCHEDULE_TIMEOUT) {
			timeout -= slice;
			if (timeout <= 0)
				return 0;
		}
		if (cancel && cancel->cancelled(cancel->ctx))
			return -ECANCELED;
	}
}

/* One try on one socket; -EPIPE if that socket died meanwhile. */
static int hbx_client_try(struct hbx_peer *peer, struct hbx_peer_sock *ps,
			  u8 type, const struct hbx_stoq_get *get,
			  struct hbx_client_req *req, long timeout,
			  const struct hbx_cancel *cancel)
{
	long left;
	int err;

	init_completion(&req->done);
	req->ps = ps;
	req->err = 0;
	err = xa_alloc_cyclic(&peer->pending, &req->id, req, xa_limit_32b,
			      &peer->next_id, GFP_NOIO);
	if (err < 0)
		return err;

	/* A socket being replaced is not ready; its slot's lock orders that. */
	mutex_lock(&ps->send_lock);
	err = READ_ONCE(ps->ready) ?
	      hbx_stoq_send(ps->sock, type, 0, req->id, get, sizeof(*get)) : -EPIPE;
	mutex_unlock(&ps->send_lock);
	if (err) {
		if (xa_erase(&peer->pending, req->id) != req)
			wait_for_completion(&req->done);	/* failed by the reader */
		return -EPIPE;
	}
	atomic64_inc(&peer->requests);

	left = hbx_client_wait(req, timeout, cancel);
	if (left > 0)
		return req->err;
	/* Gave up.  If the reader already took it, it is mid-copy: let it end. */
	if (xa_erase(&peer->pending, req->id) != req)
		wait_for_completion(&req->done);
	return left == 0 ? -ETIMEDOUT : left;
}

/*
 * Send a request and wait for its reply, within the peer's timeout: a
 * socket that dies under it is not the end, the request goes out again on
 * another.  With no socket up it fails at once with -ENOTCONN: waiting for
 * a reconnect is the caller's business (fetch.c), which can also give up
 * when the layer goes.  Killable throughout.
 */
static int hbx_client_request(struct hbx_peer *peer, u8 type,
			      const u8 *digest, u64 chunk,
			      struct hbx_client_req *req,
			      const struct hbx_cancel *cancel)
{
	struct hbx_stoq_get get = { .chunk = cpu_to_be64(chunk) };
	unsigned long deadline = jiffies + msecs_to_jiffies(peer->timeout_ms);
	struct hbx_peer_sock *ps;
	long left;
	int err;

	memcpy(get.digest, digest, HBX_DIGEST_SIZE);
	for (;;) {
		left = peer->timeout_ms ? (long)(deadline - jiffies) : MAX_SCHEDULE_TIMEOUT;
		if (left <= 0)
			return -ETIMEDOUT;
		ps = READ_ONCE(peer->stopping) ? NULL : hbx_client_pick(peer);
		if (!ps)
			return -ENOTCONN;
		err = hbx_client_try(peer, ps, type, &get, req, left, cancel);
		if (err != -EPIPE)
			return err;
	}
}

static int hbx_client_status(const struct hbx_client_req *req)
{
	switch (req->status) {
	case HBX_STOQ_OK:		return 0;
	case HBX_STOQ_UNKNOWN_LAYER:	/* fall through */
	case HBX_STOQ_NOT_HERE:		return -ENOENT;
	case HBX_STOQ_OUT_OF_RANGE:	return -ERANGE;
	default:			return -EIO;
	}
}

int hbx_client_get_manifest(struct hbx_peer *peer, const u8 *digest,
			    void **buf, u32 *len, const struct hbx_cancel *cancel)
{
	struct hbx_client_req req = { .alloc = true };
	int err;

	err = hbx_client_request(peer, HBX_STOQ_GET_MANIFEST, digest, 0, &req, cancel);
	if (!err)
		err = hbx_client_status(&req);
	if (!err && !req.len)
		err = -EPROTO;
	if (err) {
		kvfree(req.buf);
		return err;
	}
	*buf = req.buf;
	*len = req.len;
	return 0;
}

int hbx_client_get_chunk(struct hbx_peer *peer, const u8 *digest, u64 chunk,
			 void *buf, u32 *len, const struct hbx_cancel *cancel)
{
	struct hbx_client_req req = { .buf = buf, .cap = *len };
	int err;

	err = hbx_client_request(peer, HBX_STOQ_GET_CHUNK, digest, chunk, &req, cancel);
	if (!err)
		err = hbx_client_status(&req);
	*len = req.len;
	return err;
}
