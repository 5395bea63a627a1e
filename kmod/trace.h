/* SPDX-License-Identifier: GPL-2.0 */
/*
 * hyperbox tracepoints: what hbx trace and hbx top (eBPF) attach to, and
 * what anyone can watch with tracefs.
 */
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
	TP_PROTO(int layer, u64 pos, u32 len, int err),
	TP_ARGS(layer, pos, len, err),
	TP_STRUCT__entry(
		__field(int, layer)
		__field(u64, pos)
		__field(u32, len)
		__field(int, err)
	),
	TP_fast_assign(
		__entry->layer = layer;
		__entry->pos = pos;
		__entry->len = len;
		__entry->err = err;
	),
	TP_printk("hbx%d pos=%llu len=%u err=%d", __entry->layer, __entry->pos,
		  __entry->len, __entry->err)
);

#endif /* HBX_TRACE_H */

#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE trace
#include <trace/define_trace.h>
