// SPDX-License-Identifier: GPL-2.0
/*
 * hbx trace, hbx trace events, hbx top: counters, log2 latency histograms
 * and a ring buffer of events, from the module's tracepoints.  Classic
 * tp/hyperbox/... programs (the module has no BTF): each record is read
 * through a struct that mirrors the event's TP_STRUCT__entry in
 * kmod/trace.h after the 8-byte common header, the layout its tracefs
 * format file shows (selftests/hbxtrace_test.sh checks the fields).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "hbxtrace.h"

/* Filters, set before load: -1 for all. */
const volatile __s32 filter_layer = -1;
const volatile __s64 filter_peer = -1;
const volatile __u32 ring_mode = HBX_TR_RING_FAILURES;

__u64 events_lost;	/* ring buffer full */

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, HBX_TR_LAYERS);
	__type(key, __u32);
	__type(value, struct hbx_tr_layer);
} layers SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, HBX_TR_PEERS);
	__type(key, __u32);
	__type(value, struct hbx_tr_peer);
} peers SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, HBX_TR_HISTS);
	__type(key, __u32);
	__type(value, struct hbx_tr_hist_slots);
} hists SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, HBX_TR_RINGBUF_SIZE);
} events SEC(".maps");

/* The records, as the format files lay them out. */
struct tp_read {
	__u64 common;
	int layer; __u64 pos; __u32 len; int err; __u64 chunk; __u64 ns; bool hit;
};
struct tp_chunk_verify {
	__u64 common;
	int layer; __u64 chunk; __u32 len; bool ok; __u64 ns;
};
struct tp_blocks_verify {
	__u64 common;
	int layer; __u64 block; __u64 count; __u64 bad; __u64 ns;
};
struct tp_fetch_send {
	__u64 common;
	__u64 chunk; __u32 peer; int layer; __u32 len;
};
struct tp_fetch_done {
	__u64 common;
	__u64 chunk; __u64 ns; __u32 peer; int layer; __u32 len; int err; __u8 result;
};
struct tp_serve {
	__u64 common;
	__u64 chunk; __u64 ns; __u32 peer; int layer; __u32 len; __u16 status;
	bool manifest; bool zero_copy;
};
struct tp_peer_up {
	__u64 common;
	__u64 netns_cookie; __u32 peer; __u32 sock; __u32 role;
	char reason[HBX_TR_REASON_MAX];
};
struct tp_peer_down {
	__u64 common;
	__u64 netns_cookie; __u32 peer; __u32 sock; __u32 role; bool last;
	char reason[HBX_TR_REASON_MAX];
};
struct tp_layer_add {
	__u64 common;
	__u64 image_size; __u64 chunks; __u64 chunks_here; int layer;
	__u32 chunk_size; __u32 peers; bool always;
};
struct tp_layer_del {
	__u64 common;
	int layer; __u32 openers; bool force;
};
struct tp_pull_start {
	__u64 common;
	__u64 chunks; __u64 chunks_here; int layer; __u32 window;
};
struct tp_pull_progress {
	__u64 common;
	__u64 chunks; __u64 chunks_here; __u64 chunk; int layer;
};
struct tp_pull_finish {
	__u64 common;
	__u64 chunks; __u64 chunks_here; __u64 bytes; __u64 ns; int layer;
	__u32 state; int err;
};

static __always_inline bool layer_out(int layer)
{
	return filter_layer >= 0 && layer != filter_layer;
}

static __always_inline bool peer_out(__u32 peer)
{
	return filter_peer >= 0 && (__s64)peer != filter_peer;
}

static __always_inline struct hbx_tr_layer *layer_stats(int layer)
{
	__u32 key = layer;

	return bpf_map_lookup_elem(&layers, &key);
}

static __always_inline struct hbx_tr_peer *peer_stats(__u32 id)
{
	static const struct hbx_tr_peer zero;
	struct hbx_tr_peer *p = bpf_map_lookup_elem(&peers, &id);

	if (p)
		return p;
	bpf_map_update_elem(&peers, &id, &zero, BPF_NOEXIST);
	return bpf_map_lookup_elem(&peers, &id);
}

static __always_inline __u32 log2_slot(__u64 v)
{
	__u32 r = 0;

	/* floor(log2(v)), as libbpf-tools' log2l; slot 0 holds 0 and 1. */
	if (v >> 32) { v >>= 32; r += 32; }
	if (v >> 16) { v >>= 16; r += 16; }
	if (v >> 8) { v >>= 8; r += 8; }
	if (v >> 4) { v >>= 4; r += 4; }
	if (v >> 2) { v >>= 2; r += 2; }
	if (v >> 1) { r += 1; }
	return r < HBX_TR_SLOTS ? r : HBX_TR_SLOTS - 1;
}

static __always_inline void hist_add(struct hbx_tr_hist_slots *h, __u64 ns)
{
	__u32 slot = log2_slot(ns);

	if (slot < HBX_TR_SLOTS)
		__sync_fetch_and_add(&h->slots[slot], 1);
	__sync_fetch_and_add(&h->sum_ns, ns);
}

static __always_inline void hist(__u32 which, __u64 ns)
{
	struct hbx_tr_hist_slots *h = bpf_map_lookup_elem(&hists, &which);

	if (h)
		hist_add(h, ns);
}

static __always_inline struct hbx_tr_event *ev_new(__u32 type, bool failure)
{
	struct hbx_tr_event *e;

	if (ring_mode != HBX_TR_RING_ALL && !(failure && ring_mode == HBX_TR_RING_FAILURES))
		return NULL;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		__sync_fetch_and_add(&events_lost, 1);
		return NULL;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->ts_ns = bpf_ktime_get_ns();
	e->type = type;
	e->layer = -1;
	e->peer = -1;
	return e;
}

SEC("tp/hyperbox/hbx_read")
int hbx_read(struct tp_read *ctx)
{
	int layer = ctx->layer;
	__u64 ns = ctx->ns;
	struct hbx_tr_layer *l;
	struct hbx_tr_event *e;

	if (layer_out(layer))
		return 0;
	l = layer_stats(layer);
	if (l) {
		__sync_fetch_and_add(&l->reads, 1);
		__sync_fetch_and_add(&l->seen, 1);
		if (ctx->err)
			__sync_fetch_and_add(&l->read_errors, 1);
		else
			__sync_fetch_and_add(&l->read_bytes, ctx->len);
		if (ctx->hit)
			__sync_fetch_and_add(&l->hits, 1);
		else
			__sync_fetch_and_add(&l->misses, 1);
	}
	hist(HBX_TR_HIST_READ, ns);
	e = ev_new(HBX_TR_EV_READ, ctx->err != 0);
	if (e) {
		e->layer = layer;
		e->chunk = ctx->chunk;
		e->ns = ns;
		e->a = ctx->pos;
		e->b = ctx->len;
		e->err = ctx->err;
		e->flags = ctx->hit;
		bpf_ringbuf_submit(e, 0);
	}
	return 0;
}

SEC("tp/hyperbox/hbx_chunk_verify")
int hbx_chunk_verify(struct tp_chunk_verify *ctx)
{
	int layer = ctx->layer;
	bool ok = ctx->ok;
	struct hbx_tr_layer *l;
	struct hbx_tr_event *e;

	if (layer_out(layer))
		return 0;
	l = layer_stats(layer);
	if (l) {
		__sync_fetch_and_add(ok ? &l->verified : &l->verify_failed, 1);
		__sync_fetch_and_add(&l->verify_bytes, ctx->len);
		__sync_fetch_and_add(&l->seen, 1);
	}
	hist(HBX_TR_HIST_VERIFY, ctx->ns);
	e = ev_new(HBX_TR_EV_CHUNK_VERIFY, !ok);
	if (e) {
		e->layer = layer;
		e->chunk = ctx->chunk;
		e->ns = ctx->ns;
		e->a = ctx->len;
		e->flags = ok;
		bpf_ringbuf_submit(e, 0);
	}
	return 0;
}

SEC("tp/hyperbox/hbx_blocks_verify")
int hbx_blocks_verify(struct tp_blocks_verify *ctx)
{
	int layer = ctx->layer;
	bool ok = ctx->bad == (__u64)-1;
	struct hbx_tr_layer *l;
	struct hbx_tr_event *e;

	if (layer_out(layer))
		return 0;
	l = layer_stats(layer);
	if (l) {
		__sync_fetch_and_add(&l->block_checks, 1);
		__sync_fetch_and_add(&l->blocks, ctx->count + !ok);
		if (!ok)
			__sync_fetch_and_add(&l->block_failed, 1);
		__sync_fetch_and_add(&l->seen, 1);
	}
	hist(HBX_TR_HIST_BLOCKS, ctx->ns);
	e = ev_new(HBX_TR_EV_BLOCKS_VERIFY, !ok);
	if (e) {
		e->layer = layer;
		e->ns = ctx->ns;
		e->a = ctx->block;
		e->b = ctx->count;
		e->c = ctx->bad;
		e->flags = ok;
		bpf_ringbuf_submit(e, 0);
	}
	return 0;
}

SEC("tp/hyperbox/hbx_fetch_send")
int hbx_fetch_send(struct tp_fetch_send *ctx)
{
	int layer = ctx->layer;
	__u32 id = ctx->peer;
	struct hbx_tr_layer *l;
	struct hbx_tr_peer *p;
	struct hbx_tr_event *e;

	if (layer_out(layer) || peer_out(id))
		return 0;
	l = layer_stats(layer);
	if (l) {
		__sync_fetch_and_add(&l->fetches, 1);
		__sync_fetch_and_add(&l->seen, 1);
	}
	p = peer_stats(id);
	if (p)
		__sync_fetch_and_add(&p->sent, 1);
	e = ev_new(HBX_TR_EV_FETCH_SEND, false);
	if (e) {
		e->layer = layer;
		e->peer = id;
		e->chunk = ctx->chunk;
		e->a = ctx->len;
		bpf_ringbuf_submit(e, 0);
	}
	return 0;
}

SEC("tp/hyperbox/hbx_fetch_done")
int hbx_fetch_done(struct tp_fetch_done *ctx)
{
	int layer = ctx->layer;
	__u32 id = ctx->peer, result = ctx->result;
	__u64 ns = ctx->ns;
	struct hbx_tr_layer *l;
	struct hbx_tr_peer *p;
	struct hbx_tr_event *e;

	if (layer_out(layer) || peer_out(id))
		return 0;
	l = layer_stats(layer);
	if (l) {
		if (result == 0) {
			__sync_fetch_and_add(&l->fetch_ok, 1);
			__sync_fetch_and_add(&l->fetch_bytes, ctx->len);
		} else {
			__sync_fetch_and_add(&l->fetch_failed, 1);
		}
	}
	p = peer_stats(id);
	if (p) {
		__sync_fetch_and_add(&p->done, 1);
		__sync_fetch_and_add(&p->fetch_ns, ns);
		if (result < HBX_TR_RESULTS)
			__sync_fetch_and_add(&p->results[result], 1);
		if (result == 0) {
			__sync_fetch_and_add(&p->bytes_fetched, ctx->len);
			p->last_rtt_ns = ns;
		}
		hist_add(&p->fetch_hist, ns);
	}
	hist(HBX_TR_HIST_FETCH, ns);
	/* 3: HBX_FETCH_CORRUPT, a failure worth a line as it happens. */
	e = ev_new(HBX_TR_EV_FETCH_DONE, result == 3);
	if (e) {
		e->layer = layer;
		e->peer = id;
		e->chunk = ctx->chunk;
		e->ns = ns;
		e->a = ctx->len;
		e->b = result;
		e->err = ctx->err;
		bpf_ringbuf_submit(e, 0);
	}
	return 0;
}

SEC("tp/hyperbox/hbx_serve")
int hbx_serve(struct tp_serve *ctx)
{
	int layer = ctx->layer;
	__u32 id = ctx->peer;
	struct hbx_tr_layer *l;
	struct hbx_tr_peer *p;
	struct hbx_tr_event *e;

	if (layer_out(layer) || peer_out(id))
		return 0;
	if (!ctx->status && !ctx->manifest) {
		l = layer_stats(layer);
		if (l) {
			__sync_fetch_and_add(&l->served, 1);
			__sync_fetch_and_add(&l->served_bytes, ctx->len);
			if (ctx->zero_copy)
				__sync_fetch_and_add(&l->served_zero_copy, 1);
			__sync_fetch_and_add(&l->seen, 1);
		}
		p = peer_stats(id);
		if (p) {
			__sync_fetch_and_add(&p->served, 1);
			__sync_fetch_and_add(&p->served_bytes, ctx->len);
		}
	}
	hist(HBX_TR_HIST_SERVE, ctx->ns);
	e = ev_new(HBX_TR_EV_SERVE, false);
	if (e) {
		e->layer = layer;
		e->peer = id;
		e->chunk = ctx->chunk;
		e->ns = ctx->ns;
		e->a = ctx->len;
		e->b = ctx->status;
		e->flags = ctx->zero_copy | (ctx->manifest << 1);
		bpf_ringbuf_submit(e, 0);
	}
	return 0;
}

SEC("tp/hyperbox/hbx_peer_up")
int hbx_peer_up(struct tp_peer_up *ctx)
{
	__u32 id = ctx->peer;
	struct hbx_tr_peer *p;
	struct hbx_tr_event *e;

	if (peer_out(id))
		return 0;
	p = peer_stats(id);
	if (p) {
		__sync_fetch_and_add(&p->ups, 1);
		p->up = 1;
		p->role = ctx->role;
		p->netns_cookie = ctx->netns_cookie;
	}
	e = ev_new(HBX_TR_EV_PEER_UP, false);
	if (e) {
		e->peer = id;
		e->a = ctx->netns_cookie;
		e->b = ctx->sock;
		e->c = ctx->role;
		bpf_probe_read_kernel_str(e->reason, sizeof(e->reason), ctx->reason);
		bpf_ringbuf_submit(e, 0);
	}
	return 0;
}

SEC("tp/hyperbox/hbx_peer_down")
int hbx_peer_down(struct tp_peer_down *ctx)
{
	__u32 id = ctx->peer;
	struct hbx_tr_peer *p;
	struct hbx_tr_event *e;

	if (peer_out(id))
		return 0;
	p = peer_stats(id);
	if (p) {
		__sync_fetch_and_add(&p->downs, 1);
		if (ctx->last)
			p->up = 0;
		p->role = ctx->role;
		p->netns_cookie = ctx->netns_cookie;
	}
	e = ev_new(HBX_TR_EV_PEER_DOWN, false);
	if (e) {
		e->peer = id;
		e->a = ctx->netns_cookie;
		e->b = ctx->sock;
		e->c = ctx->role;
		e->flags = ctx->last;
		bpf_probe_read_kernel_str(e->reason, sizeof(e->reason), ctx->reason);
		bpf_ringbuf_submit(e, 0);
	}
	return 0;
}

SEC("tp/hyperbox/hbx_layer_add")
int hbx_layer_add(struct tp_layer_add *ctx)
{
	int layer = ctx->layer;
	struct hbx_tr_event *e;

	if (layer_out(layer))
		return 0;
	e = ev_new(HBX_TR_EV_LAYER_ADD, false);
	if (e) {
		e->layer = layer;
		e->a = ctx->image_size;
		e->b = ctx->chunks;
		e->c = ctx->chunks_here;
		e->ns = ctx->chunk_size;	/* not a time: see trace.c */
		e->err = ctx->peers;
		e->flags = ctx->always;
		bpf_ringbuf_submit(e, 0);
	}
	return 0;
}

SEC("tp/hyperbox/hbx_layer_del")
int hbx_layer_del(struct tp_layer_del *ctx)
{
	int layer = ctx->layer;
	struct hbx_tr_event *e;

	if (layer_out(layer))
		return 0;
	e = ev_new(HBX_TR_EV_LAYER_DEL, false);
	if (e) {
		e->layer = layer;
		e->a = ctx->openers;
		e->flags = ctx->force;
		bpf_ringbuf_submit(e, 0);
	}
	return 0;
}

static __always_inline void pull_note(int layer, __u64 here, __u64 chunks)
{
	struct hbx_tr_layer *l = layer_stats(layer);

	if (l) {
		l->pull_chunks_here = here;
		l->pull_chunks = chunks;
		__sync_fetch_and_add(&l->seen, 1);
	}
}

SEC("tp/hyperbox/hbx_pull_start")
int hbx_pull_start(struct tp_pull_start *ctx)
{
	int layer = ctx->layer;
	struct hbx_tr_event *e;

	if (layer_out(layer))
		return 0;
	pull_note(layer, ctx->chunks_here, ctx->chunks);
	e = ev_new(HBX_TR_EV_PULL_START, false);
	if (e) {
		e->layer = layer;
		e->a = ctx->chunks_here;
		e->b = ctx->chunks;
		e->c = ctx->window;
		bpf_ringbuf_submit(e, 0);
	}
	return 0;
}

SEC("tp/hyperbox/hbx_pull_progress")
int hbx_pull_progress(struct tp_pull_progress *ctx)
{
	int layer = ctx->layer;
	struct hbx_tr_event *e;

	if (layer_out(layer))
		return 0;
	pull_note(layer, ctx->chunks_here, ctx->chunks);
	e = ev_new(HBX_TR_EV_PULL_PROGRESS, false);
	if (e) {
		e->layer = layer;
		e->chunk = ctx->chunk;
		e->a = ctx->chunks_here;
		e->b = ctx->chunks;
		bpf_ringbuf_submit(e, 0);
	}
	return 0;
}

SEC("tp/hyperbox/hbx_pull_finish")
int hbx_pull_finish(struct tp_pull_finish *ctx)
{
	int layer = ctx->layer;
	struct hbx_tr_event *e;

	if (layer_out(layer))
		return 0;
	pull_note(layer, ctx->chunks_here, ctx->chunks);
	e = ev_new(HBX_TR_EV_PULL_FINISH, ctx->err != 0);
	if (e) {
		e->layer = layer;
		e->ns = ctx->ns;
		e->a = ctx->chunks_here;
		e->b = ctx->chunks;
		e->c = ctx->bytes;
		e->err = ctx->err;
		e->flags = ctx->state;
		bpf_ringbuf_submit(e, 0);
	}
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
