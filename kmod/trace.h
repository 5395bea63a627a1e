/* SPDX-License-Identifier: GPL-2.0 */
/*
 * hyperbox tracepoints: what hbx trace and hbx top (eBPF) attach to, and
 * what anyone can watch with tracefs.  Every field is documented once, in
 * kmod/TRACEPOINTS.md; selftests/hbxtrace_test.sh checks that the tracefs
 * format files carry exactly those fields, and bpf/hbxtrace.bpf.c reads
 * them at the offsets these declarations give (classic tracepoints: the
 * module has no BTF).  Fields are only ever added, never renamed.
 *
 * The events take the module's objects; only trace.c, which instantiates
 * them, needs their definitions.
 */
#ifndef HBX_TRACE_HELPERS_H
#define HBX_TRACE_HELPERS_H
#include <linux/types.h>
#include <linux/hyperbox.h>

/* hbx_peer_up's and hbx_peer_down's reason, NUL-terminated. */
#define HBX_TRACE_REASON_MAX	48

struct hbx_layer;
struct hbx_peer;
struct hbx_pull;
struct request;

/*
 * hbx_read's hit: whether every chunk a request touches was already here
 * and verified when it started.  Only called while hbx_read is enabled.
 */
bool hbx_trace_read_hit(const struct hbx_layer *layer, struct request *rq);
#endif

#undef TRACE_SYSTEM
#define TRACE_SYSTEM hyperbox

#if !defined(HBX_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define HBX_TRACE_H

#include <linux/tracepoint.h>

/* A chunk was hashed on its first read; ok says whether it matched. */
TRACE_EVENT(hbx_chunk_verify,
	TP_PROTO(int layer, u64 chunk, u32 len, bool ok, u64 ns),
	TP_ARGS(layer, chunk, len, ok, ns),
	TP_STRUCT__entry(
		__field(int, layer)
		__field(u64, chunk)
		__field(u32, len)
		__field(bool, ok)
		__field(u64, ns)
	),
	TP_fast_assign(
		__entry->layer = layer;
		__entry->chunk = chunk;
		__entry->len = len;
		__entry->ok = ok;
		__entry->ns = ns;
	),
	TP_printk("hbx%d chunk=%llu len=%u %s in %llu ns", __entry->layer,
		  __entry->chunk, __entry->len,
		  __entry->ok ? "verified" : "FAILED", __entry->ns)
);

/*
 * Verify always: the blocks a read brought from storage were checked
 * against their leaf hashes; bad is the first that did not match, or -1.
 */
TRACE_EVENT(hbx_blocks_verify,
	TP_PROTO(int layer, u64 block, u64 count, u64 bad, u64 ns),
	TP_ARGS(layer, block, count, bad, ns),
	TP_STRUCT__entry(
		__field(int, layer)
		__field(u64, block)
		__field(u64, count)
		__field(u64, bad)
		__field(u64, ns)
	),
	TP_fast_assign(
		__entry->layer = layer;
		__entry->block = block;
		__entry->count = count;
		__entry->bad = bad;
		__entry->ns = ns;
	),
	TP_printk("hbx%d block=%llu count=%llu bad=%lld in %llu ns", __entry->layer,
		  __entry->block, __entry->count, (long long)__entry->bad, __entry->ns)
);

/* A read request finished: the I/O that readers of /dev/hbxN see. */
TRACE_EVENT(hbx_read,
	TP_PROTO(const struct hbx_layer *layer, struct request *rq, bool hit,
		 int err, u64 start_ns),
	TP_ARGS(layer, rq, hit, err, start_ns),
	TP_STRUCT__entry(
		__field(int, layer)
		__field(u64, pos)
		__field(u32, len)
		__field(int, err)
		__field(u64, chunk)
		__field(u64, ns)
		__field(bool, hit)
	),
	TP_fast_assign(
		hbx_trace_assign_read(__entry, layer, rq);
		__entry->err = err;
		__entry->ns = ktime_get_ns() - start_ns;
		__entry->hit = hit;
	),
	TP_printk("hbx%d pos=%llu len=%u err=%d chunk=%llu %s in %llu ns",
		  __entry->layer, __entry->pos, __entry->len, __entry->err,
		  __entry->chunk, __entry->hit ? "hit" : "miss", __entry->ns)
);

#define hbx_show_fetch_result(r)					\
	__print_symbolic(r, { HBX_FETCH_OK, "ok" },			\
			 { HBX_FETCH_TIMEOUT, "timeout" },		\
			 { HBX_FETCH_NOT_HERE, "not-here" },		\
			 { HBX_FETCH_CORRUPT, "corrupt" },		\
			 { HBX_FETCH_PEER_DOWN, "peer-down" },		\
			 { HBX_FETCH_FAILED, "failed" },		\
			 { HBX_FETCH_CANCELLED, "cancelled" })

/* A remote layer's chunk was asked of one peer. */
TRACE_EVENT(hbx_fetch_send,
	TP_PROTO(const struct hbx_layer *layer, const struct hbx_peer *peer,
		 u64 chunk, u32 count, u32 len),
	TP_ARGS(layer, peer, chunk, count, len),
	TP_STRUCT__entry(
		__field(u64, chunk)
		__field(u32, peer)
		__field(int, layer)
		__field(u32, len)
		__field(u32, count)
	),
	TP_fast_assign(
		hbx_trace_assign_lp(__entry, layer, peer);
		__entry->chunk = chunk;
		__entry->len = len;
		__entry->count = count;
	),
	TP_printk("hbx%d chunk=%llu count=%u len=%u from peer %u", __entry->layer,
		  __entry->chunk, __entry->count, __entry->len, __entry->peer)
);

/* That peer answered, or did not: result, and the bytes that came. */
TRACE_EVENT(hbx_fetch_done,
	TP_PROTO(const struct hbx_layer *layer, const struct hbx_peer *peer,
		 u64 chunk, u32 count, u32 len, int err, u64 start_ns),
	TP_ARGS(layer, peer, chunk, count, len, err, start_ns),
	TP_STRUCT__entry(
		__field(u64, chunk)
		__field(u64, ns)
		__field(u32, peer)
		__field(int, layer)
		__field(u32, len)
		__field(int, err)
		__field(u8, result)
		__field(u32, count)
	),
	TP_fast_assign(
		hbx_trace_assign_lp(__entry, layer, peer);
		__entry->chunk = chunk;
		__entry->ns = ktime_get_ns() - start_ns;
		__entry->len = err ? 0 : len;
		__entry->err = err;
		__entry->result = hbx_trace_fetch_result(err);
		__entry->count = err ? 0 : count;
	),
	TP_printk("hbx%d chunk=%llu count=%u len=%u from peer %u: %s (err=%d) in %llu ns",
		  __entry->layer, __entry->chunk, __entry->count, __entry->len,
		  __entry->peer, hbx_show_fetch_result(__entry->result), __entry->err,
		  __entry->ns)
);

/* A peer's request was answered: a chunk (or the manifest) or a status. */
TRACE_EVENT(hbx_serve,
	TP_PROTO(const struct hbx_peer *peer, const struct hbx_layer *layer,
		 u8 type, u64 chunk, u32 count, u16 status, u32 len,
		 bool zero_copy, u64 start_ns),
	TP_ARGS(peer, layer, type, chunk, count, status, len, zero_copy, start_ns),
	TP_STRUCT__entry(
		__field(u64, chunk)
		__field(u64, ns)
		__field(u32, peer)
		__field(int, layer)
		__field(u32, len)
		__field(u16, status)
		__field(bool, manifest)
		__field(bool, zero_copy)
		__field(u32, count)
	),
	TP_fast_assign(
		hbx_trace_assign_lp(__entry, layer, peer);
		__entry->chunk = chunk;
		__entry->ns = ktime_get_ns() - start_ns;
		__entry->len = status ? 0 : len;
		__entry->status = status;
		__entry->manifest = type == HBX_STOQ_GET_MANIFEST;
		__entry->zero_copy = zero_copy;
		__entry->count = status ? 0 : count;
	),
	TP_printk("hbx%d %s%llu count=%u len=%u to peer %u status=%u %s in %llu ns",
		  __entry->layer, __entry->manifest ? "manifest" : "chunk=",
		  __entry->manifest ? 0ULL : __entry->chunk, __entry->count, __entry->len,
		  __entry->peer, __entry->status,
		  __entry->zero_copy ? "zero-copy" : "copied", __entry->ns)
);

/* One of a peer's sockets came up (added, or a reconnect). */
TRACE_EVENT(hbx_peer_up,
	TP_PROTO(const struct hbx_peer *peer, unsigned int sock, const char *reason),
	TP_ARGS(peer, sock, reason),
	TP_STRUCT__entry(
		__field(u64, netns_cookie)
		__field(u32, peer)
		__field(u32, sock)
		__field(u32, role)
		__array(char, reason, HBX_TRACE_REASON_MAX)
	),
	TP_fast_assign(
		hbx_trace_assign_peer(__entry, peer);
		__entry->sock = sock;
		strscpy(__entry->reason, reason, HBX_TRACE_REASON_MAX);
	),
	TP_printk("peer %u socket %u up (netns %llu, role %u): %s", __entry->peer,
		  __entry->sock, __entry->netns_cookie, __entry->role, __entry->reason)
);

/* One of a peer's sockets went down; last: none of its sockets is up. */
TRACE_EVENT(hbx_peer_down,
	TP_PROTO(const struct hbx_peer *peer, unsigned int sock, const char *reason,
		 bool last),
	TP_ARGS(peer, sock, reason, last),
	TP_STRUCT__entry(
		__field(u64, netns_cookie)
		__field(u32, peer)
		__field(u32, sock)
		__field(u32, role)
		__field(bool, last)
		__array(char, reason, HBX_TRACE_REASON_MAX)
	),
	TP_fast_assign(
		hbx_trace_assign_peer(__entry, peer);
		__entry->sock = sock;
		__entry->last = last;
		strscpy(__entry->reason, reason, HBX_TRACE_REASON_MAX);
	),
	TP_printk("peer %u socket %u down%s (netns %llu, role %u): %s", __entry->peer,
		  __entry->sock, __entry->last ? ", the last" : "",
		  __entry->netns_cookie, __entry->role, __entry->reason)
);

/* A layer was attached as /dev/hbxN. */
TRACE_EVENT(hbx_layer_add,
	TP_PROTO(const struct hbx_layer *layer),
	TP_ARGS(layer),
	TP_STRUCT__entry(
		__field(u64, image_size)
		__field(u64, chunks)
		__field(u64, chunks_here)
		__field(int, layer)
		__field(u32, chunk_size)
		__field(u32, peers)
		__field(bool, always)
	),
	TP_fast_assign(
		hbx_trace_assign_layer_add(__entry, layer);
	),
	TP_printk("hbx%d added: %llu bytes, %llu chunks of %u, %llu here, %u peers, verify %s",
		  __entry->layer, __entry->image_size, __entry->chunks,
		  __entry->chunk_size, __entry->chunks_here, __entry->peers,
		  __entry->always ? "always" : "once")
);

/* A layer was deleted (it goes once its last opener closes it). */
TRACE_EVENT(hbx_layer_del,
	TP_PROTO(const struct hbx_layer *layer, bool force),
	TP_ARGS(layer, force),
	TP_STRUCT__entry(
		__field(int, layer)
		__field(u32, openers)
		__field(bool, force)
	),
	TP_fast_assign(
		hbx_trace_assign_layer_del(__entry, layer);
		__entry->force = force;
	),
	TP_printk("hbx%d deleted%s, %u openers", __entry->layer,
		  __entry->force ? " by force" : "", __entry->openers)
);

/* A pull of a remote layer started, with window workers. */
TRACE_EVENT(hbx_pull_start,
	TP_PROTO(const struct hbx_pull *pull, u32 window),
	TP_ARGS(pull, window),
	TP_STRUCT__entry(
		__field(u64, chunks)
		__field(u64, chunks_here)
		__field(int, layer)
		__field(u32, window)
	),
	TP_fast_assign(
		hbx_trace_assign_pull(__entry, pull);
		__entry->window = window;
	),
	TP_printk("hbx%d pull started, window %u: %llu of %llu chunks here",
		  __entry->layer, __entry->window, __entry->chunks_here,
		  __entry->chunks)
);

/* A pull worker has chunk here (fetched, or found in the cache). */
TRACE_EVENT(hbx_pull_progress,
	TP_PROTO(const struct hbx_pull *pull, u64 chunk),
	TP_ARGS(pull, chunk),
	TP_STRUCT__entry(
		__field(u64, chunks)
		__field(u64, chunks_here)
		__field(u64, chunk)
		__field(int, layer)
	),
	TP_fast_assign(
		hbx_trace_assign_pull(__entry, pull);
		__entry->chunk = chunk;
	),
	TP_printk("hbx%d pull: chunk=%llu, %llu of %llu chunks here", __entry->layer,
		  __entry->chunk, __entry->chunks_here, __entry->chunks)
);

/* A pull ended: done, failed (err) or stopped. */
TRACE_EVENT(hbx_pull_finish,
	TP_PROTO(const struct hbx_pull *pull),
	TP_ARGS(pull),
	TP_STRUCT__entry(
		__field(u64, chunks)
		__field(u64, chunks_here)
		__field(u64, bytes)
		__field(u64, ns)
		__field(int, layer)
		__field(u32, state)
		__field(int, err)
	),
	TP_fast_assign(
		hbx_trace_assign_pull(__entry, pull);
		hbx_trace_assign_pull_finish(__entry, pull);
	),
	TP_printk("hbx%d pull %s (err=%d): %llu bytes in %llu ns, %llu of %llu chunks here",
		  __entry->layer,
		  __print_symbolic(__entry->state, { HBX_PULL_STATE_DONE, "done" },
				   { HBX_PULL_STATE_FAILED, "failed" },
				   { HBX_PULL_STATE_STOPPED, "stopped" },
				   { HBX_PULL_STATE_RUNNING, "running" },
				   { HBX_PULL_STATE_NONE, "none" }),
		  __entry->err, __entry->bytes, __entry->ns, __entry->chunks_here,
		  __entry->chunks)
);

#endif /* HBX_TRACE_H */

#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE trace
#include <trace/define_trace.h>
