/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Shared by hbxtrace.bpf.c and tools/hbx/trace.c, top.c: what the programs
 * on the hyperbox tracepoints count (kmod/TRACEPOINTS.md has the events).
 * Include <linux/types.h> (user space) or vmlinux.h (BPF) first.
 *
 * Counters only grow; user space takes the difference between two reads
 * for an interval, so nothing is ever reset under a running program.
 */
#ifndef HBX_BPF_HBXTRACE_H
#define HBX_BPF_HBXTRACE_H

#define HBX_TR_LAYERS		256	/* HBX_MAX_LAYERS */
#define HBX_TR_PEERS		1024	/* peers tracked at once */
#define HBX_TR_SLOTS		40	/* log2 ns: up to 2^40 ns, 18 minutes */
#define HBX_TR_RESULTS		8	/* enum hbx_trace_fetch_result, and room */
#define HBX_TR_REASON_MAX	48	/* HBX_TRACE_REASON_MAX */

/* The latency histograms (hist map index). */
enum hbx_tr_hist {
	HBX_TR_HIST_READ,		/* hbx_read ns */
	HBX_TR_HIST_VERIFY,		/* hbx_chunk_verify ns */
	HBX_TR_HIST_BLOCKS,		/* hbx_blocks_verify ns */
	HBX_TR_HIST_FETCH,		/* hbx_fetch_done ns */
	HBX_TR_HIST_SERVE,		/* hbx_serve ns */
	HBX_TR_HISTS,
};

struct hbx_tr_hist_slots {
	__u64	slots[HBX_TR_SLOTS];
	__u64	sum_ns;
};

/* Per layer (array map, by layer index). */
struct hbx_tr_layer {
	__u64	reads, read_bytes, read_errors, hits, misses;
	__u64	verified, verify_failed, verify_bytes;	/* chunks hashed */
	__u64	block_checks, blocks, block_failed;	/* verify always */
	__u64	fetches, fetch_ok, fetch_bytes, fetch_failed;
	__u64	served, served_bytes, served_zero_copy;
	__u64	pull_chunks_here, pull_chunks;		/* last pull event */
	__u64	seen;					/* any event */
};

/* Per peer (hash map, by peer id). */
struct hbx_tr_peer {
	__u64	sent, done, bytes_fetched, fetch_ns;
	__u64	results[HBX_TR_RESULTS];	/* hbx_fetch_done by result */
	__u64	last_rtt_ns;			/* the last ok fetch's ns */
	__u64	served, served_bytes;
	__u64	ups, downs;
	__u64	netns_cookie;
	__u32	up;				/* 1 after up, 0 after last down */
	__u32	role;
	struct hbx_tr_hist_slots fetch_hist;
};

/* What goes through the ring buffer. */
enum hbx_tr_event_type {
	HBX_TR_EV_READ = 1,
	HBX_TR_EV_CHUNK_VERIFY,
	HBX_TR_EV_BLOCKS_VERIFY,
	HBX_TR_EV_FETCH_SEND,
	HBX_TR_EV_FETCH_DONE,
	HBX_TR_EV_SERVE,
	HBX_TR_EV_PEER_UP,
	HBX_TR_EV_PEER_DOWN,
	HBX_TR_EV_LAYER_ADD,
	HBX_TR_EV_LAYER_DEL,
	HBX_TR_EV_PULL_START,
	HBX_TR_EV_PULL_PROGRESS,
	HBX_TR_EV_PULL_FINISH,
	HBX_TR_EV_TYPES,
};

/*
 * One event; which of a..d mean what depends on the type (trace.c names
 * them as the tracepoint's fields).
 */
struct hbx_tr_event {
	__u64	ts_ns;			/* bpf_ktime_get_ns() */
	__u32	type;			/* enum hbx_tr_event_type */
	__s32	layer;			/* -1: none */
	__s64	peer;			/* -1: none */
	__u64	chunk;
	__u64	ns;
	__u64	a, b, c;
	__s32	err;
	__u32	flags;			/* ok, hit, zero_copy, last, force, ... */
	char	reason[HBX_TR_REASON_MAX];
};

/* Mode: what goes through the ring buffer. */
#define HBX_TR_RING_FAILURES	1	/* verify failures, read errors, corrupt fetches */
#define HBX_TR_RING_ALL		2

#define HBX_TR_RINGBUF_SIZE	(1 << 20)

#endif
