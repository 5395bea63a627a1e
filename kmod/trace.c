// SPDX-License-Identifier: GPL-2.0
/*
 * The one place the hyperbox tracepoints are instantiated.  The events take
 * the module's objects and fill their fields here, so the callers stay one
 * line each and the fields are computed only while someone listens.
 */
#include <linux/blk-mq.h>
#include <linux/string.h>
#include <net/net_namespace.h>
#include "layer.h"
#include "peer.h"
#include "pull.h"

static u64 hbx_trace_chunks_here(const struct hbx_chunks *c)
{
	return atomic64_read(&c->nr_verified);
}

static u8 hbx_trace_fetch_result(int err)
{
	switch (err) {
	case 0:			return HBX_FETCH_OK;
	case -ETIMEDOUT:	return HBX_FETCH_TIMEOUT;
	case -ENOENT:		return HBX_FETCH_NOT_HERE;
	case -EBADMSG:		/* fall through: bytes that did not match */
	case -EPROTO:		/* a reply of the wrong length */
	case -ERANGE:		return HBX_FETCH_CORRUPT;
	case -ENOTCONN:		/* fall through */
	case -EPIPE:		/* fall through */
	case -ECONNRESET:	/* fall through */
	case -ESHUTDOWN:	return HBX_FETCH_PEER_DOWN;
	case -EINTR:		/* fall through */
	case -ECANCELED:	return HBX_FETCH_CANCELLED;
	default:		return HBX_FETCH_FAILED;
	}
}

#define hbx_trace_assign_read(e, l, rq) do {				\
	(e)->layer = (l)->index;					\
	(e)->pos = (u64)blk_rq_pos(rq) << SECTOR_SHIFT;			\
	(e)->len = blk_rq_bytes(rq);					\
	(e)->chunk = (e)->pos >> (l)->manifest.chunk_shift;		\
} while (0)

/* A fetch's layer and peer. */
#define hbx_trace_assign_lp(e, l, p) do {				\
	(e)->layer = (l)->index;					\
	(e)->peer = (p)->id;						\
} while (0)

#define hbx_trace_assign_peer(e, p) do {				\
	(e)->peer = (p)->id;						\
	(e)->netns_cookie = (p)->net->net_cookie;			\
	(e)->role = (p)->role;						\
} while (0)

#define hbx_trace_assign_layer_add(e, l) do {				\
	(e)->layer = (l)->index;					\
	(e)->image_size = (l)->manifest.image_size;			\
	(e)->chunks = (l)->manifest.chunk_count;			\
	(e)->chunk_size = 1U << (l)->manifest.chunk_shift;		\
	(e)->chunks_here = hbx_trace_chunks_here(&(l)->chunks);		\
	(e)->peers = (l)->src.nr_peers;					\
	(e)->always = (l)->chunks.always;				\
} while (0)

#define hbx_trace_assign_layer_del(e, l) do {				\
	(e)->layer = (l)->index;					\
	(e)->openers = READ_ONCE((l)->openers);				\
} while (0)

#define hbx_trace_assign_pull(e, p) do {				\
	(e)->layer = (p)->chunks->id;					\
	(e)->chunks = (p)->chunks->manifest->chunk_count;		\
	(e)->chunks_here = hbx_trace_chunks_here((p)->chunks);		\
} while (0)

/* Called after hbx_pull_finish() set them, so unlocked reads are settled. */
#define hbx_trace_assign_pull_finish(e, p) do {				\
	(e)->state = READ_ONCE((p)->state);				\
	(e)->err = READ_ONCE((p)->error);				\
	(e)->ns = (p)->end_ns - (p)->start_ns;				\
	(e)->bytes = atomic64_read(&(p)->chunks->bytes_fetched) -	\
		     (p)->start_bytes;					\
} while (0)

#define CREATE_TRACE_POINTS
#include "trace.h"

bool hbx_trace_read_hit(const struct hbx_layer *layer, struct request *rq)
{
	const struct hbx_manifest *m = &layer->manifest;
	u64 pos = (u64)blk_rq_pos(rq) << SECTOR_SHIFT;
	unsigned int len = blk_rq_bytes(rq);
	u64 i;

	if (!len || pos + len > m->image_size)
		return false;
	for (i = pos >> m->chunk_shift; i <= (pos + len - 1) >> m->chunk_shift; i++)
		if (!test_bit_acquire(i, layer->chunks.verified))
			return false;
	return true;
}
