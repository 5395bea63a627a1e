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
#include <linux/list.h>
#include <linux/mm.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/workqueue.h>
#include <net/genetlink.h>
#include "client.h"
#include "fetch.h"
#include "layer.h"
#include "netlink.h"
#include "peer.h"
#include "rxbuf.h"
#include "trace.h"

/*
 * Between rounds over peers that all failed: short at first (a peer busy
 * with that very chunk answers NOT_HERE and has it a moment later), then up
 * to a tenth of a second (a reconnect may come).
 */
#define HBX_FETCH_BACKOFF_MIN	max(HZ / 200, 1)
#define HBX_FETCH_BACKOFF	(HZ / 10)

int hbx_fetch_get_peers(struct hbx_source *src, const struct hbx_layer_params *p,
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
		src->peers[i] = hbx_peer_get_client(genl_info_net(info),
						    p->peer_ids[i]);
		if (!src->peers[i]) {
			NL_SET_ERR_MSG_ATTR(info->extack, attr,
					    "no client peer with that id in this network namespace");
			return -ENOENT;
		}
		src->nr_peers = i + 1;
	}
	return 0;
}

void hbx_fetch_put_peers(struct hbx_source *src)
{
	while (src->nr_peers)
		hbx_peer_put(src->peers[--src->nr_peers]);
}

/* The longest of the peers' timeouts; 0 (wait forever) if any has none. */
static unsigned long hbx_fetch_timeout(const struct hbx_source *src)
{
	unsigned long longest = 0;
	unsigned int i;

	for (i = 0; i < src->nr_peers; i++) {
		if (!src->peers[i]->timeout_ms)
			return 0;
		longest = max_t(unsigned long, longest,
				msecs_to_jiffies(src->peers[i]->timeout_ms));
	}
	return longest;
}

/* Deleted peers never come back (a reconnect re-uses a live peer). */
static bool hbx_fetch_all_deleted(const struct hbx_source *src)
{
	unsigned int i;

	for (i = 0; i < src->nr_peers; i++)
		if (!READ_ONCE(src->peers[i]->stopping))
			return false;
	return true;
}

static bool hbx_source_dead(const struct hbx_source *src)
{
	return READ_ONCE(*src->dead);
}

/*
 * Who is waiting may go: the layer is deleted, or the one asking is a
 * server's receiver answering for a peer with fetch-first, told to stop.
 * User processes can be killed instead.
 */
static bool hbx_fetch_cancelled(void *ctx)
{
	return hbx_source_dead(ctx) || hbx_peer_current_stopping();
}

static void hbx_fetch_cancel_init(struct hbx_cancel *c, struct hbx_source *src,
				  unsigned long deadline)
{
	c->cancelled = hbx_fetch_cancelled;
	c->ctx = src;
	c->deadline = deadline;
}

/* The bytes of count chunks from first on. */
static u32 hbx_fetch_run_len(const struct hbx_manifest *m, u64 first, u64 count)
{
	u32 len = 0;

	while (count--)
		len += hbx_manifest_chunk_len(m, first++);
	return len;
}

/*
 * One peer, once: how many chunks from first on it sent (at least one),
 * each exactly as the manifest names it, in *buf (the caller's to free,
 * *len bytes), or -errno.  A reply with a chunk that does not match, or
 * that is not whole chunks, is rejected whole.
 */
static int hbx_fetch_from(struct hbx_layer *layer, struct hbx_peer *peer,
			  u64 first, u64 count, void **buf, u32 *len,
			  const struct hbx_cancel *cancel)
{
	const struct hbx_manifest *m = &layer->manifest;
	u32 max = hbx_fetch_run_len(m, first, count), got = 0, off = 0;
	u64 start = ktime_get_ns(), k = 0;
	void *data = NULL;
	int err;

	trace_hbx_fetch_send(layer, peer, first, count, max);
	err = hbx_client_get_chunks(peer, m->digest, first, count, max,
				    &data, &got, cancel);
	while (!err && off < got && k < count) {
		u32 chunk_len = hbx_manifest_chunk_len(m, first + k);

		if (got - off < chunk_len) {
			err = -EPROTO;
			break;
		}
		err = hbx_chunk_matches(&layer->chunks, first + k, data + off);
		if (err == 0) {
			/* Wrong bytes: counted, and never written anywhere. */
			atomic64_inc(&layer->chunks.nr_failed);
			atomic64_inc(&peer->corrupt_chunks);
			err = -EBADMSG;
		} else if (err == 1) {
			err = 0;
		}
		off += chunk_len;
		k++;
	}
	if (!err && (!k || off != got))
		err = -EPROTO;
	trace_hbx_fetch_done(layer, peer, first, err ? 0 : k, got, err, start);
	if (err) {
		hbx_rxbuf_free(data, got);
		return err;
	}
	*buf = data;
	*len = got;
	return k;
}

/* One question for one peer: 0 when it answered well. */
typedef int (*hbx_ask_fn)(struct hbx_source *src, struct hbx_peer *peer,
			  void *arg, const struct hbx_cancel *cancel);

/*
 * Ask the peers in turn, the one that answered last first, until one
 * answers; between rounds in which all failed, back off and go again until
 * the longest of their timeouts has passed.  Gives up at once when the
 * asker is gone, every peer is deleted, the task is killed or the
 * receiver told to stop (hbx_fetch_cancelled()), and, if
 * absent_is_final, when every peer said it does not have the thing (a
 * chunk a peer lacks may come to it later; a layer it does not export
 * will not).
 */
static int hbx_fetch_ask(struct hbx_source *src, hbx_ask_fn ask, void *arg,
			 bool absent_is_final)
{
	unsigned long timeout = hbx_fetch_timeout(src);
	unsigned long deadline = jiffies + timeout;
	unsigned int n = src->nr_peers, first, i, absent;
	long left, backoff = HBX_FETCH_BACKOFF_MIN;
	struct hbx_cancel cancel;
	int err;

	/* Every request of every round ends by the deadline (none: timeout 0). */
	hbx_fetch_cancel_init(&cancel, src, timeout ? deadline : 0);

	for (;;) {
		first = READ_ONCE(src->fetch_from);
		absent = 0;
		err = -ENOTCONN;	/* this round's: no peer was up */
		for (i = 0; i < n; i++) {
			unsigned int at = (first + i) % n;
			struct hbx_peer *peer = src->peers[at];

			if (hbx_fetch_cancelled(src))
				return hbx_source_dead(src) ? -EIO : -ECANCELED;
			if (!hbx_client_ready(peer))
				continue;	/* no socket up: a reconnect may come */
			err = ask(src, peer, arg, &cancel);
			if (!err) {
				WRITE_ONCE(src->fetch_from, at);
				return 0;
			}
			if (err == -EINTR || err == -ENOMEM || err == -ECANCELED)
				return err;
			absent += err == -ENOENT;
			atomic64_inc(&src->retries);
		}
		if (absent_is_final && absent == n)
			return -ENOENT;
		left = timeout ? (long)(deadline - jiffies) : backoff;
		if (hbx_fetch_cancelled(src))
			return hbx_source_dead(src) ? -EIO : -ECANCELED;
		if (hbx_fetch_all_deleted(src))
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
	struct hbx_layer	*layer;
	u64			first;
	u64			count;
	void			**buf;
	u32			*len;
	int			got;	/* chunks sent, once one peer answered */
};

static int hbx_ask_chunks(struct hbx_source *src, struct hbx_peer *peer,
			  void *arg, const struct hbx_cancel *cancel)
{
	struct hbx_chunk_ask *a = arg;

	a->got = hbx_fetch_from(a->layer, peer, a->first, a->count, a->buf,
				a->len, cancel);
	return min(a->got, 0);
}

int hbx_fetch_chunks(void *ctx, u64 first, u64 count, void **buf, u32 *len)
{
	struct hbx_layer *layer = ctx;
	struct hbx_chunk_ask a = {
		.layer = layer, .first = first, .count = count,
		.buf = buf, .len = len,
	};

	return hbx_fetch_ask(&layer->src, hbx_ask_chunks, &a, false) ?: a.got;
}

/*
 * Remote manifests are fetched in the background, never inside a netlink
 * request: a request holds genetlink's lock, which every family and user
 * on the host shares, and a peer may take its whole timeout to answer.
 * LAYER_ADD starts a fetch and fails with -EINPROGRESS; asked again, it
 * finds the result here.  Keyed by digest alone: whoever fetched it, a
 * manifest that hashes to its digest is that manifest.  A manifest asked
 * for by export name is only what those peers said the name is: keyed by
 * the name's key and the very peers asked.  A result nobody collects goes
 * after HBX_MANIFEST_FETCH_KEEP (the reaper's delayed work).
 */
#define HBX_MANIFEST_FETCH_KEEP	(60 * HZ)
#define HBX_MANIFEST_FETCHES_MAX	64

struct hbx_manifest_fetch {
	struct list_head	node;
	u8			digest[HBX_DIGEST_SIZE];
	bool			by_name;	/* digest is an export name's key */
	u32			asked[HBX_LAYER_PEERS_MAX];	/* by_name: peer ids */
	unsigned int		nr_asked;
	struct hbx_source	src;		/* its own references */
	bool			cancelled;	/* module unload */
	struct work_struct	work;
	bool			done;		/* the fields below are set */
	unsigned long		done_at;
	int			err;
	void			*buf;
	u32			len;
};

static LIST_HEAD(hbx_manifest_fetches);
static DEFINE_MUTEX(hbx_manifest_fetches_lock);
static unsigned int hbx_manifest_fetches_nr;
static bool hbx_manifest_fetches_closing;	/* module unload */

/* Results nobody came back for go in time, not at the next LAYER_ADD. */
static void hbx_manifest_fetches_reap(struct work_struct *work);
static DECLARE_DELAYED_WORK(hbx_manifest_reaper, hbx_manifest_fetches_reap);

struct hbx_manifest_ask {
	const u8		*digest;
	bool			by_name;
	struct crypto_shash	*sha256;
	void			*buf;
	u32			len;
};

/* A manifest that does not hash to the digest is that peer's fault: next. */
static int hbx_ask_manifest(struct hbx_source *src, struct hbx_peer *peer,
			    void *arg, const struct hbx_cancel *cancel)
{
	struct hbx_manifest_ask *a = arg;
	u8 digest[HBX_DIGEST_SIZE];
	int err;

	err = hbx_client_get_manifest(peer, a->digest, &a->buf, &a->len, cancel);
	if (err || a->by_name)
		return err;
	err = crypto_shash_tfm_digest(a->sha256, a->buf, a->len, digest);
	if (!err && memcmp(digest, a->digest, HBX_DIGEST_SIZE)) {
		atomic64_inc(&peer->corrupt_chunks);
		err = -EBADMSG;
	}
	if (err) {
		hbx_rxbuf_free(a->buf, a->len);
		a->buf = NULL;
	}
	return err;
}

static void hbx_manifest_fetch_work(struct work_struct *work)
{
	struct hbx_manifest_fetch *f = container_of(work, struct hbx_manifest_fetch, work);
	struct hbx_manifest_ask a = { .digest = f->digest, .by_name = f->by_name };
	int err;

	a.sha256 = crypto_alloc_shash("sha256", 0, 0);
	err = IS_ERR(a.sha256) ? PTR_ERR(a.sha256) :
	      hbx_fetch_ask(&f->src, hbx_ask_manifest, &a, true);
	if (!IS_ERR(a.sha256))
		crypto_free_shash(a.sha256);
	/* The peers are needed no more: a result may wait a while. */
	hbx_fetch_put_peers(&f->src);
	mutex_lock(&hbx_manifest_fetches_lock);
	f->err = err;
	f->buf = err ? NULL : a.buf;
	f->len = err ? 0 : a.len;
	f->done_at = jiffies;
	f->done = true;
	if (!hbx_manifest_fetches_closing)
		queue_delayed_work(system_unbound_wq, &hbx_manifest_reaper,
				   HBX_MANIFEST_FETCH_KEEP + 1);
	mutex_unlock(&hbx_manifest_fetches_lock);
}

static void hbx_manifest_fetch_free(struct hbx_manifest_fetch *f)
{
	hbx_fetch_put_peers(&f->src);
	hbx_rxbuf_free(f->buf, f->len);
	kfree(f);
}

/* Caller holds the lock.  Results nobody came back for. */
static void hbx_manifest_fetches_expire(void)
{
	struct hbx_manifest_fetch *f, *next;

	list_for_each_entry_safe(f, next, &hbx_manifest_fetches, node) {
		if (f->done && time_after(jiffies, f->done_at + HBX_MANIFEST_FETCH_KEEP)) {
			list_del(&f->node);
			hbx_manifest_fetches_nr--;
			hbx_manifest_fetch_free(f);
		}
	}
}

static void hbx_manifest_fetches_reap(struct work_struct *work)
{
	struct hbx_manifest_fetch *f;
	unsigned long next = 0;

	mutex_lock(&hbx_manifest_fetches_lock);
	hbx_manifest_fetches_expire();
	/* Done later than the one that woke us: come back for those. */
	list_for_each_entry(f, &hbx_manifest_fetches, node)
		if (f->done && (!next || time_before(f->done_at, next)))
			next = f->done_at;
	if (next && !hbx_manifest_fetches_closing)
		queue_delayed_work(system_unbound_wq, &hbx_manifest_reaper,
				   max_t(long, next + HBX_MANIFEST_FETCH_KEEP + 1 - jiffies, 1));
	mutex_unlock(&hbx_manifest_fetches_lock);
}

static const char *hbx_fetch_why(int err, unsigned int nr_peers)
{
	if (nr_peers > 1 && err != -EINTR)
		return "no peer could give the manifest";
	switch (err) {
	case -ENOENT:		return "the peer does not have that layer";
	case -ETIMEDOUT:	return "the peer did not answer in time";
	case -ENOTCONN:		return "the peer has no connection up";
	case -EINTR:		return "interrupted";
	case -EBADMSG:		return "the peer sent a manifest that does not match the digest";
	default:		return "could not fetch the manifest from the peer";
	}
}

/*
 * The fetch f answers this question: the same digest, or the same name
 * asked of the same peers, by id: f lets its peers go once it is done,
 * and ids are handed out in turn (a deleted peer's id is not the next
 * one's), where an address could be a new peer's.
 */
static bool hbx_manifest_fetch_is(const struct hbx_manifest_fetch *f,
				  const struct hbx_source *src,
				  const u8 *digest, bool by_name)
{
	unsigned int i;

	if (f->by_name != by_name || memcmp(f->digest, digest, HBX_DIGEST_SIZE))
		return false;
	if (!by_name)
		return true;
	if (f->nr_asked != src->nr_peers)
		return false;
	for (i = 0; i < src->nr_peers; i++)
		if (f->asked[i] != src->peers[i]->id)
			return false;
	return true;
}

/* Start a fetch from src's peers (referenced anew: the caller keeps its own). */
static int hbx_manifest_fetch_start(struct hbx_source *src, const u8 *digest,
				    bool by_name)
{
	struct hbx_manifest_fetch *f;
	unsigned int i;

	if (hbx_manifest_fetches_nr >= HBX_MANIFEST_FETCHES_MAX)
		return -EBUSY;
	f = kzalloc(sizeof(*f), GFP_KERNEL_ACCOUNT);
	if (!f)
		return -ENOMEM;
	memcpy(f->digest, digest, HBX_DIGEST_SIZE);
	f->by_name = by_name;
	for (i = 0; i < src->nr_peers; i++) {
		kref_get(&src->peers[i]->ref);
		f->src.peers[i] = src->peers[i];
		if (by_name)
			f->asked[i] = src->peers[i]->id;
	}
	f->nr_asked = by_name ? src->nr_peers : 0;
	f->src.nr_peers = src->nr_peers;
	f->src.dead = &f->cancelled;
	INIT_WORK(&f->work, hbx_manifest_fetch_work);
	list_add(&f->node, &hbx_manifest_fetches);
	hbx_manifest_fetches_nr++;
	queue_work(system_unbound_wq, &f->work);
	return 0;
}

int hbx_fetch_manifest(struct hbx_source *src, const u8 *digest, bool by_name,
		       void **buf, u32 *len, struct netlink_ext_ack *extack,
		       const struct nlattr *attr)
{
	struct hbx_manifest_fetch *f, *found = NULL;
	int err;

	mutex_lock(&hbx_manifest_fetches_lock);
	hbx_manifest_fetches_expire();
	list_for_each_entry(f, &hbx_manifest_fetches, node)
		if (hbx_manifest_fetch_is(f, src, digest, by_name))
			found = f;
	if (found && found->done) {
		list_del(&found->node);
		hbx_manifest_fetches_nr--;
		mutex_unlock(&hbx_manifest_fetches_lock);
		err = found->err;
		if (err) {
			hbx_extack_attr(extack, attr, hbx_fetch_why(err, src->nr_peers));
		} else {
			*buf = found->buf;
			*len = found->len;
			found->buf = NULL;
		}
		hbx_manifest_fetch_free(found);
		return err;
	}
	err = found ? 0 : hbx_manifest_fetch_start(src, digest, by_name);
	mutex_unlock(&hbx_manifest_fetches_lock);
	if (err == -EBUSY)
		hbx_extack_attr(extack, attr, "too many manifest fetches under way");
	else if (!err)
		hbx_extack_attr(extack, attr,
				"the manifest is being fetched from the peers: ask again");
	return err ?: -EINPROGRESS;
}

/* Module unload: no netlink any more; end the fetches and drop them. */
void hbx_fetch_exit(void)
{
	struct hbx_manifest_fetch *f, *next;

	mutex_lock(&hbx_manifest_fetches_lock);
	hbx_manifest_fetches_closing = true;	/* no fetch re-arms the reaper */
	mutex_unlock(&hbx_manifest_fetches_lock);
	cancel_delayed_work_sync(&hbx_manifest_reaper);
	list_for_each_entry(f, &hbx_manifest_fetches, node)
		WRITE_ONCE(f->cancelled, true);
	list_for_each_entry_safe(f, next, &hbx_manifest_fetches, node) {
		flush_work(&f->work);
		list_del(&f->node);
		hbx_manifest_fetch_free(f);
	}
	hbx_manifest_fetches_nr = 0;
}
