/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The eBPF side of hbx trace, hbx trace events and hbx top: load the
 * programs of bpf/hbxtrace.bpf.c on the module's tracepoints, read their
 * counters as snapshots, and say what tracing costs.
 */
#ifndef HBX_CLI_TRACE_H
#define HBX_CLI_TRACE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <linux/types.h>
#include "hbxtrace.h"
#include "json.h"

struct hbxtrace_bpf;
struct ring_buffer;

struct hbx_tr {
	struct hbxtrace_bpf	*skel;
	struct ring_buffer	*rb;
	int			stats_fd;	/* BPF_ENABLE_STATS, or -1 */
};

struct hbx_tr_peer_snap {
	uint32_t		id;
	struct hbx_tr_peer	s;
};

struct hbx_tr_snap {
	uint64_t		t_ns;		/* CLOCK_MONOTONIC */
	struct hbx_tr_layer	layers[HBX_TR_LAYERS];
	struct hbx_tr_peer_snap	peers[HBX_TR_PEERS];
	unsigned int		nr_peers;
	struct hbx_tr_hist_slots hists[HBX_TR_HISTS];
	uint64_t		lost;		/* ring buffer events lost */
	uint64_t		run_cnt, run_ns; /* all programs, since load */
};

/* Filters: layer -1 and peer -1 for all. */
struct hbx_tr_opts {
	int32_t		layer;
	int64_t		peer;
	uint32_t	ring_mode;	/* HBX_TR_RING_* */
	/* Called for each ring buffer event; NULL: none wanted. */
	int		(*on_event)(void *ctx, const struct hbx_tr_event *e);
	void		*ctx;
};

/*
 * Everything that must hold before tracing can start (module loaded,
 * tracepoints there, --layer and --peer naming what exists), then load and
 * attach; prints why not and returns -1.
 */
int hbx_tr_open(struct hbx_tr *t, const struct hbx_tr_opts *o);
void hbx_tr_close(struct hbx_tr *t);
int hbx_tr_read(struct hbx_tr *t, struct hbx_tr_snap *s);
/* Ring buffer events lost so far. */
uint64_t hbx_tr_lost(struct hbx_tr *t);
/* Ring buffer events for at most timeout_ms; <0 on error (not EINTR). */
int hbx_tr_poll(struct hbx_tr *t, int timeout_ms);

uint64_t hbx_tr_now_ns(void);
/*
 * Fetches sent and not answered yet; 0 for answers to requests sent before
 * the programs were attached.
 */
static inline uint64_t hbx_tr_in_flight(const struct hbx_tr_peer *p)
{
	return p->sent > p->done ? p->sent - p->done : 0;
}

/* A peer's counters in a snapshot, or NULL. */
const struct hbx_tr_peer *hbx_tr_peer_of(const struct hbx_tr_snap *s, uint32_t id);

/*
 * "-i SECS" / "-d SECS": a duration from 50ms to 24h, a bare number (as
 * "0.5") being seconds; "-c COUNT" / "-n COUNT": a whole number from 1.
 * A bad one is refused with a sentence naming what; -1: exit 2.
 */
int hbx_tr_parse_secs(const char *what, const char *s, double *secs);
int hbx_tr_parse_count(const char *what, const char *s, uint64_t *count);

/* The fetch results' names, by enum hbx_trace_fetch_result. */
extern const char *const hbx_tr_result_names[HBX_TR_RESULTS];

/* OpenTelemetry export (otlp.c). */
struct hbx_otlp {
	const char	*url;		/* http://HOST[:PORT][/PATH], or NULL */
	FILE		*file;		/* --otlp-file, or NULL */
	uint64_t	sent, failed;
	bool		warned;
};
/* The interval [prev, cur] as one ExportMetricsServiceRequest. */
void hbx_otlp_export(struct hbx_otlp *o, const struct hbx_tr_snap *prev,
		     const struct hbx_tr_snap *cur, uint64_t start_unix_ns,
		     uint64_t end_unix_ns);
/* Whether url is one hbx can send to (http://); prints why not. */
int hbx_otlp_check_url(const char *url);

int trace_main(int argc, char **argv);
int top_main(int argc, char **argv);

#endif
