// SPDX-License-Identifier: GPL-2.0
/*
 * Where a remote layer's chunks come from: its peers, asked one at a time,
 * the one that answered last first.  A peer that errs, times out, lacks the
 * chunk or sends bytes that do not match the manifest costs a retry at the
 * next; when every peer has failed, the fetch waits a little and goes round
 * again until the layer's timeout.  Nothing that did not match the manifest
 * leaves this file.
 */
#include <crypto/hash.h>
#include <linux/jiffies.h>
#include <linux/kthread.h>
#include <linux/sched/signal.h>
#include <net/genetlink.h>
#include "client.h"
#include "fetch.h"
#include "layer.h"
#include "netlink.h"
#include "peer.h"

/*
 * Between rounds over peers that all failed: short at first (a peer busy
 * with that very chunk answers NOT_HERE and has it a moment later), then up
 * to a tenth of a second (a reconnect may come).
 */
#define HBX_FETCH_BACKOFF_MIN	max(HZ / 200, 1)
#define HBX_FETCH_BACKOFF	(HZ / 10)

int hbx_fetch_get_peers(struct hbx_layer *layer,
			const struct hbx_layer_params *p,
			struct genl_info *info)
{
	const struct nlattr *attr = info->attrs[HBX_A_LAYER_PEERS] ?:
				    info->attrs[HBX_A_LAYER_PEER];
	unsigned int i, j;

	for (i = 0; i < p->nr_peers; i++)
		for (j = 0; j < i; j++)
			if (p->peer_ids[j] == p->peer_ids[i]) {
				NL_SET_ERR_MSG_ATTR(info->extack, attr,
						    "the same peer is given twice");
				return -EINVAL;
			}
	for (i = 0; i < p->nr_peers; i++) {
		layer->peers[i] = hbx_peer_get_client(genl_info_net(info),
						      p->peer_ids[i]);
		if (!layer->peers[i]) {
			NL_SET_ERR_MSG_ATTR(info->extack, attr,
					    "no client peer with that id in this network namespace");
			return -ENOENT;
		}
		layer->nr_peers = i + 1;
	}
	return 0;
}

void hbx_fetch_put_peers(struct hbx_layer *layer)
{
	while (layer->nr_peers)
		hbx_peer_put(layer->peers[--layer->nr_peers]);
}

static const char *hbx_fetch_why(int err)
{
	switch (err) {
	case -ENOENT:		return "the peer does not have that layer";
	case -ETIMEDOUT:	return "the peer did not answer in time";
	case -ENOTCONN:		return "the peer has no connection up";
	case -EINTR:		return "interrupted";
	case -EBADMSG:		return "the peer sent a manifest that does not match the digest";
	default:		return "could not fetch the manifest from the peer";
	}
}

/* The longest of the peers' timeouts; 0 (wait forever) if any has none. */
static unsigned long hbx_fetch_timeout(const struct hbx_layer *layer)
{
	unsigned long longest = 0;
	unsigned int i;

	for (i = 0; i < layer->nr_peers; i++) {
		if (!layer->peers[i]->timeout_ms)
			return 0;
		longest = max_t(unsigned long, longest,
				msecs_to_jiffies(layer->peers[i]->timeout_ms));
	}
	return longest;
}

/* Deleted peers never come back (a reconnect re-uses a live peer). */
static bool hbx_fetch_all_deleted(const struct hbx_layer *layer)
{
	unsigned int i;

	for (i = 0; i < layer->nr_peers; i++)
		if (!READ_ONCE(layer->peers[i]->stopping))
			return false;
	return true;
}

/*
 * Who is waiting may go: the layer is deleted, or the thread asking (a
 * server answering for a peer, with fetch-first) is told to stop.  User
 * processes are not kthreads; they can be killed instead.
 */
static bool hbx_fetch_cancelled(void *ctx)
{
	struct hbx_layer *layer = ctx;

	return READ_ONCE(layer->dead) ||
	       ((current->flags & PF_KTHREAD) && kthread_should_stop());
}

static const struct hbx_cancel *hbx_fetch_cancel(struct hbx_layer *layer,
						 struct hbx_cancel *c)
{
	c->cancelled = hbx_fetch_cancelled;
	c->ctx = layer;
	return c;
}

/* One peer, once: 0 if it sent exactly the chunk the manifest names. */
static int hbx_fetch_from(struct hbx_layer *layer, struct hbx_peer *peer,
			  u64 index, void *buf, u32 len)
{
	struct hbx_cancel cancel;
	u32 got = len;
	int err;

	err = hbx_client_get_chunk(peer, layer->manifest.digest, index, buf, &got,
				   hbx_fetch_cancel(layer, &cancel));
	if (!err && got != len)
		err = -EPROTO;
	if (!err) {
		err = hbx_chunk_matches(&layer->chunks, index, buf);
		if (err == 0) {
			/* Wrong bytes: counted, and never written anywhere. */
			atomic64_inc(&layer->chunks.nr_failed);
			atomic64_inc(&peer->corrupt_chunks);
			err = -EBADMSG;
		} else if (err == 1) {
			err = 0;
		}
	}
	return err;
}

/* One question for one peer: 0 when it answered well. */
typedef int (*hbx_ask_fn)(struct hbx_layer *layer, struct hbx_peer *peer,
			  void *arg);

/*
 * Ask the peers in turn, the one that answered last first, until one
 * answers; between rounds in which all failed, back off and go again until
 * the longest of their timeouts has passed.  Gives up at once when the
 * layer is deleted, every peer is deleted, the task is killed or the
 * thread told to stop (hbx_fetch_cancelled()), and, if
 * absent_is_final, when every peer said it does not have the thing (a
 * chunk a peer lacks may come to it later; a layer it does not export
 * will not).
 */
static int hbx_fetch_ask(struct hbx_layer *layer, hbx_ask_fn ask, void *arg,
			 bool absent_is_final)
{
	unsigned long timeout = hbx_fetch_timeout(layer);
	unsigned long deadline = jiffies + timeout;
	unsigned int n = layer->nr_peers, first, i, absent;
	long left, backoff = HBX_FETCH_BACKOFF_MIN;
	int err;

	for (;;) {
		first = READ_ONCE(layer->fetch_from);
		absent = 0;
		err = -ENOTCONN;	/* this round's: no peer was up */
		for (i = 0; i < n; i++) {
			unsigned int at = (first + i) % n;
			struct hbx_peer *peer = layer->peers[at];

			if (hbx_fetch_cancelled(layer))
				return READ_ONCE(layer->dead) ? -EIO : -ECANCELED;
			if (!hbx_client_ready(peer))
				continue;	/* no socket up: a reconnect may come */
			err = ask(layer, peer, arg);
			if (!err) {
				WRITE_ONCE(layer->fetch_from, at);
				return 0;
			}
			if (err == -EINTR || err == -ENOMEM || err == -ECANCELED)
				return err;
			absent += err == -ENOENT;
			atomic64_inc(&layer->fetch_retries);
		}
		if (absent_is_final && absent == n)
			return -ENOENT;
		left = timeout ? (long)(deadline - jiffies) : backoff;
		if (hbx_fetch_cancelled(layer))
			return READ_ONCE(layer->dead) ? -EIO : -ECANCELED;
		if (hbx_fetch_all_deleted(layer))
			return -ENOTCONN;	/* nothing can come back */
		if (left <= 0)
			return err == -ENOTCONN ? -ETIMEDOUT : err;
		if (schedule_timeout_killable(min(left, backoff)) ||
		    fatal_signal_pending(current))
			return -EINTR;
		backoff = min_t(long, backoff * 2, HBX_FETCH_BACKOFF);
	}
}

struct hbx_chunk_ask {
	u64	index;
	void	*buf;
	u32	len;
};

static int hbx_ask_chunk(struct hbx_layer *layer, struct hbx_peer *peer,
			 void *arg)
{
	struct hbx_chunk_ask *a = arg;

	return hbx_fetch_from(layer, peer, a->index, a->buf, a->len);
}

int hbx_fetch_chunk(void *ctx, u64 index, void *buf, u32 len)
{
	struct hbx_chunk_ask a = { .index = index, .buf = buf, .len = len };

	return hbx_fetch_ask(ctx, hbx_ask_chunk, &a, false);
}

struct hbx_manifest_ask {
	const u8	*digest;
	void		*buf;
	u32		len;
};

/* A manifest that does not hash to the digest is that peer's fault: next. */
static int hbx_ask_manifest(struct hbx_layer *layer, struct hbx_peer *peer,
			    void *arg)
{
	struct hbx_manifest_ask *a = arg;
	u8 digest[HBX_DIGEST_SIZE];
	struct hbx_cancel cancel;
	int err;

	err = hbx_client_get_manifest(peer, a->digest, &a->buf, &a->len,
				      hbx_fetch_cancel(layer, &cancel));
	if (err)
		return err;
	err = crypto_shash_tfm_digest(layer->chunks.sha256, a->buf, a->len, digest);
	if (!err && memcmp(digest, a->digest, HBX_DIGEST_SIZE)) {
		atomic64_inc(&peer->corrupt_chunks);
		err = -EBADMSG;
	}
	if (err) {
		kvfree(a->buf);
		a->buf = NULL;
	}
	return err;
}

int hbx_fetch_manifest(struct hbx_layer *layer, const u8 *digest,
		       void **buf, u32 *len, struct genl_info *info)
{
	struct hbx_manifest_ask a = { .digest = digest };
	int err;

	err = hbx_fetch_ask(layer, hbx_ask_manifest, &a, true);
	if (err) {
		hbx_extack_attr(info->extack, info->attrs[HBX_A_LAYER_PEERS] ?:
				info->attrs[HBX_A_LAYER_PEER],
				layer->nr_peers > 1 && err != -EINTR ?
				"no peer could give the manifest" : hbx_fetch_why(err));
		return err;
	}
	*buf = a.buf;
	*len = a.len;
	return 0;
}
