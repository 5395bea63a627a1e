// SPDX-License-Identifier: GPL-2.0
/*
 * The in-kernel STOQ client.  A requester sends a frame and sleeps on its
 * request; the socket's receiver (peer.c) hands each reply to the request
 * with its id.  Requests are reference counted: one reference is the
 * requester's, one the pending table's, inherited by whoever takes the
 * request out of the table (the reader, a dying socket, the requester
 * giving up).  A reply lands in a buffer the request owns, so a requester
 * that gives up only drops its reference and leaves.  It shuts the socket
 * down when the socket can no longer be trusted to answer: the reader was
 * mid-reply (so it ends at once rather than at its frame's deadline), or
 * nothing at all came back on it for a whole timeout while the request
 * was owed a reply (a silent peer would otherwise be picked again and
 * again, each pick costing a requester a timeout).  Every wait is bounded
 * by the peer's timeout and killable.
 */
#include <linux/completion.h>
#include <linux/file.h>
#include <linux/kref.h>
#include <linux/mm.h>
#include <linux/net.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <net/sock.h>
#include "client.h"
#include "peer.h"
#include "rxbuf.h"
#include "stoq.h"

#define HBX_CLIENT_CANCEL_POLL	(HZ / 10)

struct hbx_client_req {
	struct kref		ref;
	u32			id;
	struct hbx_peer_sock	*ps;		/* the slot it went out on */
	u32			gen;		/* and the slot's socket then */
	unsigned long		sent;		/* jiffies */
	struct completion	done;
	int			err;
	u16			status;
	u32			max;		/* the longest reply accepted */
	void			*buf;		/* the reply: the request's own */
	u32			len;
};

static struct hbx_client_req *hbx_client_req_new(struct hbx_peer_sock *ps,
						 u32 max)
{
	struct hbx_client_req *req = kzalloc(sizeof(*req), GFP_NOIO);

	if (!req)
		return NULL;
	kref_init(&req->ref);
	init_completion(&req->done);
	req->ps = ps;
	req->max = max;
	return req;
}

static void hbx_client_req_release(struct kref *ref)
{
	struct hbx_client_req *req = container_of(ref, struct hbx_client_req, ref);

	hbx_rxbuf_free(req->buf, req->len);
	kfree(req);
}

static void hbx_client_req_put(struct hbx_client_req *req)
{
	kref_put(&req->ref, hbx_client_req_release);
}

/* By whoever took the request out of the table, with the table's reference. */
static void hbx_client_complete(struct hbx_client_req *req, int err)
{
	req->err = err;
	complete(&req->done);
	hbx_client_req_put(req);
}

/*
 * A reply's header is in: the request with its id (if any) takes it now,
 * out of the table, and its payload goes to a buffer the request owns.
 * Anything else is read and dropped, to keep the stream in step.
 */
static int hbx_client_reply(struct hbx_peer_sock *ps, const char **why)
{
	struct hbx_peer *peer = ps->peer;
	u32 len = be32_to_cpu(ps->hdr.len);
	u64 id = be64_to_cpu(ps->hdr.id);
	struct hbx_client_req *req;

	/* Ids are ours and 32-bit: anything else is no request of ours. */
	req = id > U32_MAX ? NULL : xa_erase(&peer->pending, id);
	ps->skip = len;
	ps->step = HBX_RX_DISCARD;
	if (!req)
		return 0;
	req->status = be16_to_cpu(ps->hdr.status);
	if (req->status == HBX_STOQ_OK && len > req->max) {
		*why = "reply larger than the request allows";
		hbx_client_complete(req, -EPROTO);
		return -EPROTO;
	}
	if (req->status == HBX_STOQ_OK && len) {
		req->buf = hbx_rxbuf_alloc(len, GFP_NOIO);
		req->len = len;
	}
	if (!req->buf) {
		/* A refusal, or no memory: its bytes are dropped. */
		hbx_client_complete(req, req->status == HBX_STOQ_OK && len ? -ENOMEM : 0);
		return 0;
	}
	ps->req = req;
	ps->step = HBX_RX_PAYLOAD;
	return 0;
}

/* The peer's hello: its version, then whatever else it sent, dropped. */
static int hbx_client_hello(struct hbx_peer_sock *ps, const char **why)
{
	const struct hbx_stoq_hello *hello = (const void *)ps->payload;

	if (be32_to_cpu(hello->version) != HBX_STOQ_VERSION) {
		*why = "peer speaks another protocol version";
		return -EPROTO;
	}
	/* What the server takes, known before any request can be sent. */
	WRITE_ONCE(ps->runs, !!(be64_to_cpu(hello->features) & HBX_STOQ_FEATURE_RUNS));
	smp_store_release(&ps->ready, true);
	ps->skip = be32_to_cpu(ps->hdr.len) - sizeof(*hello);
	ps->step = HBX_RX_DISCARD;
	return 0;
}

static int hbx_client_header(struct hbx_peer_sock *ps, const char **why)
{
	WRITE_ONCE(ps->last_rx, jiffies);
	*why = hbx_stoq_check_reply(&ps->hdr);
	if (*why)
		return -EPROTO;
	if (ps->hdr.type == HBX_STOQ_HELLO) {
		if (be32_to_cpu(ps->hdr.len) < sizeof(struct hbx_stoq_hello)) {
			*why = "short hello";
			return -EPROTO;
		}
		ps->step = HBX_RX_HELLO;
		return 0;
	}
	if (!READ_ONCE(ps->ready)) {
		*why = "reply before the hello";
		return -EPROTO;
	}
	return hbx_client_reply(ps, why);
}

/* Drop what nobody wants of the frame, as far as it has come. */
static int hbx_client_discard(struct hbx_peer_sock *ps)
{
	u8 scratch[256];
	int err = 0;

	/* A piece's size stays put until it is whole: skip only moves then. */
	while (ps->skip && !err) {
		u32 n = min_t(u32, ps->skip, sizeof(scratch));

		err = hbx_stoq_recv_piece(ps->sock, &ps->rx, scratch, n);
		if (!err)
			ps->skip -= n;
	}
	return err;
}

/*
 * Read one frame, as far as the socket has it: 0 when it is whole and
 * handled, -EAGAIN when more must come first (the place is kept), or an
 * error that ends the socket.
 */
static int hbx_client_frame(struct hbx_peer_sock *ps, const char **why)
{
	struct hbx_client_req *req;
	int err = 0;

	while (!err) {
		switch (ps->step) {
		case HBX_RX_HEADER:
			err = hbx_stoq_recv_piece(ps->sock, &ps->rx, &ps->hdr,
						  sizeof(ps->hdr)) ?:
			      hbx_client_header(ps, why);
			break;
		case HBX_RX_HELLO:
			err = hbx_stoq_recv_piece(ps->sock, &ps->rx, ps->payload,
						  sizeof(struct hbx_stoq_hello)) ?:
			      hbx_client_hello(ps, why);
			break;
		case HBX_RX_PAYLOAD:
			req = ps->req;
			err = hbx_stoq_recv_piece(ps->sock, &ps->rx, req->buf, req->len);
			if (err)
				break;
			ps->req = NULL;
			atomic64_add(req->len, &ps->peer->bytes_rx);
			hbx_client_complete(req, 0);
			ps->step = HBX_RX_HEADER;
			hbx_stoq_rx_begin(&ps->rx);
			return 0;
		case HBX_RX_DISCARD:
			err = hbx_client_discard(ps);
			if (err)
				break;
			ps->step = HBX_RX_HEADER;
			hbx_stoq_rx_begin(&ps->rx);
			return 0;
		}
	}
	return err;
}

void hbx_client_fail_pending(struct hbx_peer *peer, struct hbx_peer_sock *ps)
{
	struct hbx_client_req *req;
	unsigned long id;

	/* The reply being read when the socket ended: no more is coming. */
	if (ps->req) {
		hbx_client_complete(ps->req, -EPIPE);
		ps->req = NULL;
	}
	/* Under the table's lock: no request can be freed while we look at it. */
	xa_lock(&peer->pending);
	xa_for_each(&peer->pending, id, req) {
		if (req->ps != ps)
			continue;
		__xa_erase(&peer->pending, id);
		hbx_client_complete(req, -EPIPE);
	}
	xa_unlock(&peer->pending);
}

int hbx_client_receive(struct hbx_peer_sock *ps, const char **why)
{
	struct hbx_stoq_hello hello = { .version = cpu_to_be32(HBX_STOQ_VERSION) };
	int err;

	if (!ps->hello) {
		mutex_lock(&ps->send_lock);
		err = hbx_stoq_send(ps->sock, hbx_peer_timeout(ps->peer), HBX_STOQ_HELLO,
				    0, 0, &hello, sizeof(hello));
		mutex_unlock(&ps->send_lock);
		if (err) {
			*why = "socket send failed or timed out";
			return err;
		}
		ps->hello = true;
		/* A server that never answers must not hold the slot. */
		hbx_stoq_rx_expect(&ps->rx);
	}
	return hbx_client_frame(ps, why);
}

/*
 * A ready socket, the next in turn if take is set.  Only a request takes a
 * turn: were the look before every fetch (hbx_client_ready()) to take one
 * too, every request would land on the same socket of two.
 */
static struct hbx_peer_sock *hbx_client_pick(struct hbx_peer *peer, bool take)
{
	unsigned int i, n = READ_ONCE(peer->nr_socks);
	unsigned int start = take ? atomic_inc_return(&peer->next_sock) :
				    atomic_read(&peer->next_sock);

	for (i = 0; i < n; i++) {
		struct hbx_peer_sock *ps = &peer->socks[(start + i) % n];

		if (READ_ONCE(ps->ready))
			return ps;
	}
	return NULL;
}

bool hbx_client_ready(struct hbx_peer *peer)
{
	return !READ_ONCE(peer->stopping) && hbx_client_pick(peer, false);
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

/*
 * Nothing came back on the request's socket since it was sent, and a whole
 * timeout has passed: the peer stopped answering on it.  A requester whose
 * wait was cut short by its own deadline cannot tell, and a peer that is
 * slow but still replying to others keeps its socket.
 */
static bool hbx_client_silent(struct hbx_peer *peer,
			      const struct hbx_client_req *req)
{
	long timeout = hbx_peer_timeout(peer);

	return timeout != MAX_SCHEDULE_TIMEOUT &&
	       !time_after(READ_ONCE(req->ps->last_rx), req->sent) &&
	       time_after_eq(jiffies, req->sent + timeout);
}

/*
 * The requester leaves before its reply.  Still in the table: gone with
 * it, and its socket too if it went silent.  Taken by a reader mid-reply:
 * that socket is ended, so the reader stops now rather than at the frame's
 * deadline, and frees the request.
 */
static void hbx_client_give_up(struct hbx_peer *peer, struct hbx_client_req *req)
{
	/* Only this request: its id may be another's once the reader took it. */
	if (xa_cmpxchg(&peer->pending, req->id, req, NULL, GFP_NOIO) == req) {
		hbx_client_req_put(req);
		if (hbx_client_silent(peer, req))
			hbx_peer_sock_abort(req->ps, req->gen,
					    "no reply in a whole timeout");
	} else if (!completion_done(&req->done)) {
		hbx_peer_sock_abort(req->ps, req->gen, "requester left mid-reply");
	}
	hbx_client_req_put(req);
}

/*
 * Send the request (its send lock held): a run as one GET_CHUNKS where the
 * socket's server takes them, else the question for its first chunk.
 */
static int hbx_client_send(struct hbx_peer_sock *ps, long timeout, u8 type,
			   const struct hbx_stoq_get_run *run, u32 id)
{
	struct hbx_stoq_get get = { .chunk = run->chunk };

	if (type == HBX_STOQ_GET_CHUNK && be32_to_cpu(run->count) > 1 &&
	    READ_ONCE(ps->runs))
		return hbx_stoq_send(ps->sock, timeout, HBX_STOQ_GET_CHUNKS, 0, id,
				     run, sizeof(*run));
	memcpy(get.digest, run->digest, HBX_DIGEST_SIZE);
	return hbx_stoq_send(ps->sock, timeout, type, 0, id, &get, sizeof(get));
}

/*
 * One try on one socket, waiting at most timeout: 0 and *out, the answered
 * request; -EPIPE if that socket died or could not send (try another); or
 * another error.
 */
static int hbx_client_try(struct hbx_peer *peer, struct hbx_peer_sock *ps,
			  u8 type, const struct hbx_stoq_get_run *run, u32 max,
			  long timeout, const struct hbx_cancel *cancel,
			  struct hbx_client_req **out)
{
	struct hbx_client_req *req = hbx_client_req_new(ps, max);
	bool sending;
	long left;
	int err;

	if (!req)
		return -ENOMEM;
	kref_get(&req->ref);	/* the table's */
	err = xa_alloc_cyclic(&peer->pending, &req->id, req, xa_limit_32b,
			      &peer->next_id, GFP_NOIO);
	if (err < 0) {
		hbx_client_req_put(req);
		hbx_client_req_put(req);
		return err;
	}

	/*
	 * A dying or replaced socket is not ready; its slot's lock orders
	 * that.  The lock's holder sends within its own deadline; waiting
	 * for it can be killed.
	 */
	req->sent = jiffies;
	if (mutex_lock_killable(&ps->send_lock)) {
		hbx_client_give_up(peer, req);
		return -EINTR;
	}
	req->gen = ps->gen;
	sending = smp_load_acquire(&ps->ready);
	err = sending ? hbx_client_send(ps, timeout, type, run, req->id) : -EPIPE;
	mutex_unlock(&ps->send_lock);
	if (err == -ERESTARTSYS || err == -EINTR) {
		/* A signal before the first byte: the socket is as it was. */
		hbx_client_give_up(peer, req);
		return -EINTR;
	}
	if (err) {
		/*
		 * Half a frame may have gone out: that socket is done.  Only
		 * if we sent on it: a socket not ready when we looked may be a
		 * new one in the slot by now, and none of ours.
		 */
		if (sending)
			hbx_peer_sock_abort(ps, req->gen, "a request could not be sent");
		hbx_client_give_up(peer, req);
		return err == -ETIMEDOUT ? err : -EPIPE;
	}
	atomic64_inc(&peer->requests);

	left = hbx_client_wait(req, timeout, cancel);
	if (left <= 0) {
		hbx_client_give_up(peer, req);
		return left ?: -ETIMEDOUT;
	}
	err = req->err;
	if (err) {
		hbx_client_req_put(req);
		return err;
	}
	*out = req;
	return 0;
}

static int hbx_client_status(const struct hbx_client_req *req)
{
	switch (req->status) {
	case HBX_STOQ_OK:		return req->len ? 0 : -EPROTO;
	case HBX_STOQ_UNKNOWN_LAYER:	/* fall through */
	case HBX_STOQ_NOT_HERE:		return -ENOENT;
	case HBX_STOQ_OUT_OF_RANGE:	return -ERANGE;
	default:			return -EIO;
	}
}

/*
 * Send a request and wait for its reply, within the peer's timeout: a
 * socket that dies under it is not the end, the request goes out again on
 * another.  With no socket up it fails at once with -ENOTCONN: waiting for
 * a reconnect is the caller's business (fetch.c), which can also give up
 * when the layer goes.  Killable throughout.
 */
static int hbx_client_request(struct hbx_peer *peer, u8 type,
			      const u8 *digest, u64 chunk, u64 count, u32 max,
			      void **buf, u32 *len,
			      const struct hbx_cancel *cancel)
{
	struct hbx_stoq_get_run run = {
		.chunk = cpu_to_be64(chunk),
		.count = cpu_to_be32(min_t(u64, count, U32_MAX)),
	};
	long timeout = hbx_peer_timeout(peer);
	bool bounded = timeout != MAX_SCHEDULE_TIMEOUT;
	unsigned long deadline = jiffies + (bounded ? timeout : 0);
	struct hbx_client_req *req;
	struct hbx_peer_sock *ps;
	long left;
	int err;

	if (cancel && cancel->deadline &&
	    (!bounded || time_before(cancel->deadline, deadline))) {
		deadline = cancel->deadline;
		bounded = true;
	}
	memcpy(run.digest, digest, HBX_DIGEST_SIZE);
	for (;;) {
		left = bounded ? (long)(deadline - jiffies) : MAX_SCHEDULE_TIMEOUT;
		if (left <= 0)
			return -ETIMEDOUT;
		if (fatal_signal_pending(current))
			return -EINTR;
		ps = READ_ONCE(peer->stopping) ? NULL : hbx_client_pick(peer, true);
		if (!ps)
			return -ENOTCONN;
		err = hbx_client_try(peer, ps, type, &run, max, left, cancel, &req);
		if (err == -EPIPE)
			continue;	/* that socket is no longer ready */
		if (err)
			return err;
		err = hbx_client_status(req);
		if (!err) {
			*buf = req->buf;
			*len = req->len;
			req->buf = NULL;
		}
		hbx_client_req_put(req);
		return err;
	}
}

int hbx_client_get_manifest(struct hbx_peer *peer, const u8 *digest,
			    void **buf, u32 *len, const struct hbx_cancel *cancel)
{
	return hbx_client_request(peer, HBX_STOQ_GET_MANIFEST, digest, 0, 1,
				  HBX_MANIFEST_MAX, buf, len, cancel);
}

int hbx_client_get_chunks(struct hbx_peer *peer, const u8 *digest, u64 chunk,
			  u64 count, u32 max, void **buf, u32 *len,
			  const struct hbx_cancel *cancel)
{
	return hbx_client_request(peer, HBX_STOQ_GET_CHUNK, digest, chunk, count,
				  max, buf, len, cancel);
}
