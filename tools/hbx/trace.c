// SPDX-License-Identifier: GPL-2.0
/*
 * hbx trace: every interval, log2 latency histograms of reads,
 * verifications and fetches (fetches also per peer), rates per layer and
 * per peer, verification failures as they happen, and what the tracing
 * itself cost.  hbx trace events: one line per event.  In the style of
 * libbpf-tools, with -j for scripts and OTLP/HTTP JSON for collectors.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "hbx.h"
#include "layer.h"
#include "trace.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	stop = 1;
}

static void catch_signals(void)
{
	struct sigaction sa = { .sa_handler = on_signal };

	/* No SA_RESTART: a wait in poll ends at once. */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

static uint64_t unix_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static const char *clock_str(void)
{
	static char buf[16];
	time_t now = time(NULL);
	struct tm tm;

	strftime(buf, sizeof(buf), "%H:%M:%S", localtime_r(&now, &tm));
	return buf;
}

/* One event's fields, named as the tracepoint names them. */
struct ev_field {
	const char	*key;
	enum { F_U64, F_S64, F_STR, F_BOOL } kind;
	uint64_t	u;
	int64_t		s;
	const char	*str;
};

static const char *const ev_names[HBX_TR_EV_TYPES] = {
	[HBX_TR_EV_READ] = "read",
	[HBX_TR_EV_CHUNK_VERIFY] = "chunk-verify",
	[HBX_TR_EV_BLOCKS_VERIFY] = "blocks-verify",
	[HBX_TR_EV_FETCH_SEND] = "fetch-send",
	[HBX_TR_EV_FETCH_DONE] = "fetch-done",
	[HBX_TR_EV_SERVE] = "serve",
	[HBX_TR_EV_PEER_UP] = "peer-up",
	[HBX_TR_EV_PEER_DOWN] = "peer-down",
	[HBX_TR_EV_LAYER_ADD] = "layer-add",
	[HBX_TR_EV_LAYER_DEL] = "layer-del",
	[HBX_TR_EV_PULL_START] = "pull-start",
	[HBX_TR_EV_PULL_PROGRESS] = "pull-progress",
	[HBX_TR_EV_PULL_FINISH] = "pull-finish",
};

#define U(k, v)   (struct ev_field){ .key = k, .kind = F_U64, .u = (v) }
#define S(k, v)   (struct ev_field){ .key = k, .kind = F_S64, .s = (v) }
#define STR(k, v) (struct ev_field){ .key = k, .kind = F_STR, .str = (v) }
#define B(k, v)   (struct ev_field){ .key = k, .kind = F_BOOL, .u = !!(v) }

static int ev_fields(const struct hbx_tr_event *e, struct ev_field *f)
{
	int n = 0;

	if (e->layer >= 0)
		f[n++] = S("layer", e->layer);
	if (e->peer >= 0)
		f[n++] = S("peer", e->peer);
	switch (e->type) {
	case HBX_TR_EV_READ:
		f[n++] = U("chunk", e->chunk);
		f[n++] = U("pos", e->a);
		f[n++] = U("len", e->b);
		f[n++] = STR("cache", e->flags ? "hit" : "miss");
		f[n++] = S("err", e->err);
		f[n++] = U("ns", e->ns);
		break;
	case HBX_TR_EV_CHUNK_VERIFY:
		f[n++] = U("chunk", e->chunk);
		f[n++] = U("len", e->a);
		f[n++] = B("ok", e->flags);
		f[n++] = U("ns", e->ns);
		break;
	case HBX_TR_EV_BLOCKS_VERIFY:
		f[n++] = U("block", e->a);
		f[n++] = U("count", e->b);
		f[n++] = B("ok", e->flags);
		if (!e->flags)
			f[n++] = U("bad", e->c);
		f[n++] = U("ns", e->ns);
		break;
	case HBX_TR_EV_FETCH_SEND:
		f[n++] = U("chunk", e->chunk);
		f[n++] = U("len", e->a);
		break;
	case HBX_TR_EV_FETCH_DONE:
		f[n++] = U("chunk", e->chunk);
		f[n++] = U("len", e->a);
		f[n++] = STR("result", hbx_tr_result_names[e->b < HBX_TR_RESULTS ? e->b : 7]);
		f[n++] = S("err", e->err);
		f[n++] = U("ns", e->ns);
		break;
	case HBX_TR_EV_SERVE:
		if (e->flags & 2)
			f[n++] = B("manifest", 1);
		else
			f[n++] = U("chunk", e->chunk);
		f[n++] = U("len", e->a);
		f[n++] = U("status", e->b);
		f[n++] = STR("copy", e->flags & 1 ? "zero-copy" : "copied");
		f[n++] = U("ns", e->ns);
		break;
	case HBX_TR_EV_PEER_UP:
	case HBX_TR_EV_PEER_DOWN:
		f[n++] = U("netns-cookie", e->a);
		f[n++] = U("sock", e->b);
		f[n++] = STR("role", e->c == HBX_PEER_ROLE_SERVER ? "server" : "client");
		if (e->type == HBX_TR_EV_PEER_DOWN)
			f[n++] = B("last", e->flags);
		f[n++] = STR("reason", e->reason);
		break;
	case HBX_TR_EV_LAYER_ADD:
		f[n++] = U("image-size", e->a);
		f[n++] = U("chunks", e->b);
		f[n++] = U("chunks-here", e->c);
		f[n++] = U("chunk-size", e->ns);
		f[n++] = U("peers", (uint32_t)e->err);
		f[n++] = STR("verify", e->flags ? "always" : "once");
		break;
	case HBX_TR_EV_LAYER_DEL:
		f[n++] = U("openers", e->a);
		f[n++] = B("force", e->flags);
		break;
	case HBX_TR_EV_PULL_START:
		f[n++] = U("chunks-here", e->a);
		f[n++] = U("chunks", e->b);
		f[n++] = U("window", e->c);
		break;
	case HBX_TR_EV_PULL_PROGRESS:
		f[n++] = U("chunk", e->chunk);
		f[n++] = U("chunks-here", e->a);
		f[n++] = U("chunks", e->b);
		break;
	case HBX_TR_EV_PULL_FINISH:
		f[n++] = STR("state", hbx_pull_state_name(e->flags));
		f[n++] = S("err", e->err);
		f[n++] = U("chunks-here", e->a);
		f[n++] = U("chunks", e->b);
		f[n++] = U("bytes", e->c);
		f[n++] = U("ns", e->ns);
		break;
	}
	return n;
}

static const char *ev_name(uint32_t type)
{
	return HBX_NAME_OF(ev_names, type);
}

static void ev_json(struct hbx_json *j, const struct hbx_tr_event *e)
{
	struct ev_field f[16];
	int i, n = ev_fields(e, f);

	hbx_json_object_begin(j, NULL);
	hbx_json_string(j, "event", ev_name(e->type));
	hbx_json_u64(j, "time-ns", e->ts_ns);
	for (i = 0; i < n; i++) {
		switch (f[i].kind) {
		case F_U64:  hbx_json_u64(j, f[i].key, f[i].u); break;
		case F_S64:  hbx_json_s64(j, f[i].key, f[i].s); break;
		case F_STR:  hbx_json_string(j, f[i].key, f[i].str); break;
		case F_BOOL: hbx_json_bool(j, f[i].key, f[i].u); break;
		}
	}
	hbx_json_object_end(j);
}

static void ev_text(FILE *out, const char *prefix, const struct hbx_tr_event *e)
{
	struct ev_field f[16];
	int i, n = ev_fields(e, f);

	fprintf(out, "%s%-14s", prefix, ev_name(e->type));
	for (i = 0; i < n; i++) {
		switch (f[i].kind) {
		case F_U64:  fprintf(out, " %s=%" PRIu64, f[i].key, f[i].u); break;
		case F_S64:  fprintf(out, " %s=%" PRId64, f[i].key, f[i].s); break;
		case F_STR:  fprintf(out, " %s=%s", f[i].key, f[i].str); break;
		case F_BOOL: fprintf(out, " %s=%s", f[i].key, f[i].u ? "yes" : "no"); break;
		}
	}
	fputc('\n', out);
}

/* hbx trace's failure lines: a sentence for a person. */
static void failure_text(const struct hbx_tr_event *e)
{
	const char *t = clock_str();

	switch (e->type) {
	case HBX_TR_EV_CHUNK_VERIFY:
		printf("%s FAILED verify: layer %d chunk %" PRIu64 " does not match its manifest (%" PRIu64 " bytes hashed)\n",
		       t, e->layer, (uint64_t)e->chunk, (uint64_t)e->a);
		break;
	case HBX_TR_EV_BLOCKS_VERIFY:
		printf("%s FAILED verify: layer %d block %" PRIu64 " does not match its leaf hash\n",
		       t, e->layer, (uint64_t)e->c);
		break;
	case HBX_TR_EV_READ:
		printf("%s FAILED read: layer %d chunk %" PRIu64 " pos %" PRIu64 " len %" PRIu64 ": %s\n",
		       t, e->layer, (uint64_t)e->chunk, (uint64_t)e->a, (uint64_t)e->b,
		       strerror(-e->err));
		break;
	case HBX_TR_EV_FETCH_DONE:
		printf("%s FAILED fetch: layer %d chunk %" PRIu64 " from peer %" PRId64 " was corrupt\n",
		       t, e->layer, (uint64_t)e->chunk, (int64_t)e->peer);
		break;
	case HBX_TR_EV_PULL_FINISH:
		printf("%s FAILED pull: layer %d: %s\n", t, e->layer, strerror(-e->err));
		break;
	default:
		ev_text(stdout, "FAILED ", e);
	}
	fflush(stdout);
}

#define FAILURES_KEPT	256

struct trace_run {
	bool			json;
	bool			events_mode;
	uint64_t		events_seen;
	/* -j: the interval's failures, in its object. */
	struct hbx_tr_event	failures[FAILURES_KEPT];
	unsigned int		nr_failures;
	uint64_t		failures_dropped;
};

static int on_event(void *ctx, const struct hbx_tr_event *e)
{
	struct trace_run *r = ctx;
	struct hbx_json j;

	r->events_seen++;
	if (r->events_mode) {
		if (r->json) {
			hbx_json_init(&j, stdout);
			ev_json(&j, e);
			hbx_json_finish(&j);
		} else {
			ev_text(stdout, "", e);
		}
		return 0;
	}
	if (!r->json) {
		failure_text(e);
	} else if (r->nr_failures < FAILURES_KEPT) {
		r->failures[r->nr_failures++] = *e;
	} else {
		r->failures_dropped++;
	}
	return 0;
}

/* Interval arithmetic: cur - prev, field by field (all __u64). */
static void diff_u64(void *out, const void *cur, const void *prev, size_t size)
{
	const __u64 *c = cur, *p = prev;
	__u64 *o = out;
	size_t i;

	for (i = 0; i < size / sizeof(__u64); i++)
		o[i] = c[i] - (p ? p[i] : 0);
}

static double mbps(uint64_t bytes, double secs)
{
	return secs > 0 ? bytes / secs / 1e6 : 0;
}

static uint64_t hist_count(const struct hbx_tr_hist_slots *h)
{
	uint64_t n = 0;
	int i;

	for (i = 0; i < HBX_TR_SLOTS; i++)
		n += h->slots[i];
	return n;
}

/* libbpf-tools' print_log2_hist, in ns. */
static void hist_text(const char *title, const struct hbx_tr_hist_slots *h)
{
	uint64_t max = 0, n = hist_count(h);
	int i, first = -1, last = -1;
	char bar[41];

	for (i = 0; i < HBX_TR_SLOTS; i++) {
		if (h->slots[i]) {
			if (first < 0)
				first = i;
			last = i;
			if (h->slots[i] > max)
				max = h->slots[i];
		}
	}
	if (!n)
		return;
	printf("\n%s: %" PRIu64 " events, average %.0f ns\n", title, n,
	       (double)h->sum_ns / n);
	printf("%24s : %-8s distribution\n", "ns", "count");
	for (i = first; i <= last; i++) {
		uint64_t low = i ? 1ULL << i : 0, high = (1ULL << (i + 1)) - 1;
		int w = (int)(h->slots[i] * 40 / max);

		memset(bar, '*', w);
		memset(bar + w, ' ', 40 - w);
		bar[40] = 0;
		printf("%11" PRIu64 " -> %-10" PRIu64 ": %-8" PRIu64 " |%s|\n", low, high,
		       (uint64_t)h->slots[i], bar);
	}
}

static void hist_json(struct hbx_json *j, const char *key,
		      const struct hbx_tr_hist_slots *h)
{
	int i;

	hbx_json_object_begin(j, key);
	hbx_json_u64(j, "count", hist_count(h));
	hbx_json_u64(j, "sum-ns", h->sum_ns);
	hbx_json_array_begin(j, "slots");
	for (i = 0; i < HBX_TR_SLOTS; i++) {
		if (!h->slots[i])
			continue;
		hbx_json_object_begin(j, NULL);
		hbx_json_u64(j, "low-ns", i ? 1ULL << i : 0);
		hbx_json_u64(j, "high-ns", (1ULL << (i + 1)) - 1);
		hbx_json_u64(j, "count", h->slots[i]);
		hbx_json_object_end(j);
	}
	hbx_json_array_end(j);
	hbx_json_object_end(j);
}

static const char *const hist_names[HBX_TR_HISTS] = {
	[HBX_TR_HIST_READ] = "read",
	[HBX_TR_HIST_VERIFY] = "verify",
	[HBX_TR_HIST_BLOCKS] = "blocks-verify",
	[HBX_TR_HIST_FETCH] = "fetch",
	[HBX_TR_HIST_SERVE] = "serve",
};

static const char *const hist_titles[HBX_TR_HISTS] = {
	[HBX_TR_HIST_READ] = "read latency",
	[HBX_TR_HIST_VERIFY] = "chunk verification latency",
	[HBX_TR_HIST_BLOCKS] = "block verification latency (verify always)",
	[HBX_TR_HIST_FETCH] = "fetch latency, all peers",
	[HBX_TR_HIST_SERVE] = "serve latency (to a ready answer)",
};

static bool layer_active(const struct hbx_tr_layer *d)
{
	return d->seen || d->reads || d->fetches || d->served;
}

static void layer_json(struct hbx_json *j, int index, const struct hbx_tr_layer *d,
		       double secs)
{
	uint64_t lookups = d->hits + d->misses;

	hbx_json_object_begin(j, NULL);
	hbx_json_u64(j, "layer", index);
	hbx_json_u64(j, "reads", d->reads);
	hbx_json_u64(j, "read-bytes", d->read_bytes);
	hbx_json_u64(j, "read-errors", d->read_errors);
	hbx_json_double(j, "read-mbps", mbps(d->read_bytes, secs));
	hbx_json_u64(j, "hits", d->hits);
	hbx_json_u64(j, "misses", d->misses);
	hbx_json_double(j, "hit-ratio", lookups ? (double)d->hits / lookups : 0);
	hbx_json_u64(j, "verified", d->verified);
	hbx_json_u64(j, "verify-failed", d->verify_failed);
	hbx_json_u64(j, "verify-bytes", d->verify_bytes);
	hbx_json_u64(j, "block-checks", d->block_checks);
	hbx_json_u64(j, "blocks", d->blocks);
	hbx_json_u64(j, "block-failures", d->block_failed);
	hbx_json_u64(j, "fetches", d->fetches);
	hbx_json_u64(j, "fetches-ok", d->fetch_ok);
	hbx_json_u64(j, "fetches-failed", d->fetch_failed);
	hbx_json_u64(j, "fetch-bytes", d->fetch_bytes);
	hbx_json_double(j, "fetch-mbps", mbps(d->fetch_bytes, secs));
	hbx_json_u64(j, "served", d->served);
	hbx_json_u64(j, "served-bytes", d->served_bytes);
	hbx_json_u64(j, "served-zero-copy", d->served_zero_copy);
	hbx_json_double(j, "served-mbps", mbps(d->served_bytes, secs));
	hbx_json_object_end(j);
}

static void peer_json(struct hbx_json *j, uint32_t id, const struct hbx_tr_peer *d,
		      const struct hbx_tr_peer *cur, double secs)
{
	int i;

	hbx_json_object_begin(j, NULL);
	hbx_json_u64(j, "peer", id);
	hbx_json_u64(j, "fetches-sent", d->sent);
	hbx_json_u64(j, "fetches-done", d->done);
	hbx_json_u64(j, "in-flight", hbx_tr_in_flight(cur));
	hbx_json_object_begin(j, "results");
	for (i = 0; i < HBX_TR_RESULTS - 1; i++)
		hbx_json_u64(j, hbx_tr_result_names[i], d->results[i]);
	hbx_json_object_end(j);
	hbx_json_u64(j, "fetch-bytes", d->bytes_fetched);
	hbx_json_double(j, "fetch-mbps", mbps(d->bytes_fetched, secs));
	hbx_json_u64(j, "last-rtt-ns", cur->last_rtt_ns);
	hbx_json_u64(j, "served", d->served);
	hbx_json_u64(j, "served-bytes", d->served_bytes);
	hbx_json_double(j, "served-mbps", mbps(d->served_bytes, secs));
	hbx_json_u64(j, "ups", d->ups);
	hbx_json_u64(j, "downs", d->downs);
	hbx_json_string(j, "state", cur->up ? "up" : cur->ups || cur->downs ? "down" : "unknown");
	hist_json(j, "fetch-latency", &d->fetch_hist);
	hbx_json_object_end(j);
}

static void cost_json(struct hbx_json *j, const struct hbx_tr_snap *cur,
		      const struct hbx_tr_snap *prev, bool stats)
{
	uint64_t runs = cur->run_cnt - prev->run_cnt, ns = cur->run_ns - prev->run_ns;

	hbx_json_u64(j, "events-lost", cur->lost - prev->lost);
	hbx_json_object_begin(j, "bpf");
	hbx_json_bool(j, "stats-enabled", stats);
	hbx_json_u64(j, "run-count", runs);
	hbx_json_u64(j, "run-time-ns", ns);
	hbx_json_double(j, "ns-per-run", runs ? (double)ns / runs : 0);
	hbx_json_object_end(j);
}

struct trace_opts {
	struct hbx_tr_opts	tr;
	double			interval;
	uint64_t		count;		/* 0: until Ctrl-C */
	bool			json;
	struct hbx_otlp		otlp;
};

static void print_interval(struct trace_run *r, const struct trace_opts *o,
			   const struct hbx_tr_snap *prev, const struct hbx_tr_snap *cur,
			   bool stats)
{
	static struct hbx_tr_snap d;
	double secs = (cur->t_ns - prev->t_ns) / 1e9;
	struct hbx_json j;
	unsigned int i, k;

	for (i = 0; i < HBX_TR_LAYERS; i++)
		diff_u64(&d.layers[i], &cur->layers[i], &prev->layers[i], sizeof(d.layers[i]));
	for (i = 0; i < HBX_TR_HISTS; i++)
		diff_u64(&d.hists[i], &cur->hists[i], &prev->hists[i], sizeof(d.hists[i]));
	d.nr_peers = cur->nr_peers;
	for (i = 0; i < cur->nr_peers; i++) {
		d.peers[i].id = cur->peers[i].id;
		diff_u64(&d.peers[i].s, &cur->peers[i].s,
			 hbx_tr_peer_of(prev, cur->peers[i].id), sizeof(d.peers[i].s));
	}

	if (r->json) {
		hbx_json_init(&j, stdout);
		hbx_json_object_begin(&j, NULL);
		hbx_json_u64(&j, "time-unix-ns", unix_ns());
		hbx_json_double(&j, "interval-s", secs);
		hbx_json_array_begin(&j, "layers");
		for (i = 0; i < HBX_TR_LAYERS; i++)
			if (layer_active(&cur->layers[i]))
				layer_json(&j, i, &d.layers[i], secs);
		hbx_json_array_end(&j);
		hbx_json_array_begin(&j, "peers");
		for (i = 0; i < d.nr_peers; i++)
			peer_json(&j, d.peers[i].id, &d.peers[i].s, &cur->peers[i].s, secs);
		hbx_json_array_end(&j);
		hbx_json_object_begin(&j, "histograms");
		for (k = 0; k < HBX_TR_HISTS; k++)
			hist_json(&j, hist_names[k], &d.hists[k]);
		hbx_json_object_end(&j);
		hbx_json_array_begin(&j, "failures");
		for (i = 0; i < r->nr_failures; i++)
			ev_json(&j, &r->failures[i]);
		hbx_json_array_end(&j);
		hbx_json_u64(&j, "failures-not-shown", r->failures_dropped);
		cost_json(&j, cur, prev, stats);
		if (o->otlp.url || o->otlp.file) {
			hbx_json_u64(&j, "otlp-exports", o->otlp.sent);
			hbx_json_u64(&j, "otlp-failures", o->otlp.failed);
		}
		hbx_json_object_end(&j);
		hbx_json_finish(&j);
		r->nr_failures = 0;
		r->failures_dropped = 0;
		return;
	}

	printf("%s  interval %.2f s\n", clock_str(), secs);
	for (i = 0; i < HBX_TR_LAYERS; i++) {
		const struct hbx_tr_layer *l = &d.layers[i];
		uint64_t lookups = l->hits + l->misses;

		if (!layer_active(&cur->layers[i]))
			continue;
		printf("layer %-3u read %8.2f MB/s %6" PRIu64 " reqs %3" PRIu64 " errors  hit ratio %5.1f%%"
		       "  verified %" PRIu64 " (%" PRIu64 " failed)  fetched %8.2f MB/s  served %8.2f MB/s\n",
		       i, mbps(l->read_bytes, secs), (uint64_t)l->reads, (uint64_t)l->read_errors,
		       lookups ? 100.0 * l->hits / lookups : 0.0, (uint64_t)l->verified,
		       (uint64_t)(l->verify_failed + l->block_failed), mbps(l->fetch_bytes, secs),
		       mbps(l->served_bytes, secs));
	}
	for (i = 0; i < d.nr_peers; i++) {
		const struct hbx_tr_peer *p = &d.peers[i].s, *c = &cur->peers[i].s;

		printf("peer  %-3u fetched %8.2f MB/s  served %8.2f MB/s  last rtt %.3f ms  in flight %" PRIu64,
		       d.peers[i].id, mbps(p->bytes_fetched, secs), mbps(p->served_bytes, secs),
		       c->last_rtt_ns / 1e6, hbx_tr_in_flight(c));
		for (k = 0; k < HBX_TR_RESULTS - 1; k++)
			if (p->results[k])
				printf("  %s %" PRIu64, hbx_tr_result_names[k],
				       (uint64_t)p->results[k]);
		putchar('\n');
	}
	for (k = 0; k < HBX_TR_HISTS; k++)
		hist_text(hist_titles[k], &d.hists[k]);
	for (i = 0; i < d.nr_peers; i++) {
		char title[64];

		snprintf(title, sizeof(title), "fetch latency from peer %u", d.peers[i].id);
		hist_text(title, &d.peers[i].s.fetch_hist);
	}
	{
		uint64_t runs = cur->run_cnt - prev->run_cnt, ns = cur->run_ns - prev->run_ns;

		if (stats)
			printf("\ntracing cost: %" PRIu64 " BPF runs, %" PRIu64 " ns, %.0f ns per event; %" PRIu64 " events lost\n",
			       runs, ns, runs ? (double)ns / runs : 0.0, cur->lost - prev->lost);
		else
			printf("\ntracing cost: %" PRIu64 " BPF runs (run time not available: BPF_ENABLE_STATS refused); %" PRIu64 " events lost\n",
			       runs, cur->lost - prev->lost);
	}
	if (o->otlp.failed)
		printf("OTLP: %" PRIu64 " exports, %" PRIu64 " failed\n", o->otlp.sent,
		       o->otlp.failed);
	putchar('\n');
	fflush(stdout);
}

static int run_trace(struct trace_opts *o, bool events_mode)
{
	static struct hbx_tr_snap snaps[2];
	struct trace_run *r = calloc(1, sizeof(*r));
	struct hbx_tr_snap *prev = &snaps[0], *cur = &snaps[1], *tmp;
	uint64_t n = 0, next, start_unix, lost_shown = 0;
	struct hbx_tr t;
	int ret = 0;

	if (!r) {
		hbx_err("out of memory");
		return 1;
	}
	r->json = o->json;
	r->events_mode = events_mode;
	o->tr.on_event = on_event;
	o->tr.ctx = r;
	o->tr.ring_mode = events_mode ? HBX_TR_RING_ALL : HBX_TR_RING_FAILURES;
	if (hbx_tr_open(&t, &o->tr)) {
		free(r);
		return 1;
	}
	catch_signals();
	if (hbx_tr_read(&t, prev)) {
		hbx_err("could not read the BPF maps: %s", strerror(errno));
		ret = 1;
		goto out;
	}
	start_unix = unix_ns();
	fprintf(stderr, "hbx: %s: tracing hyperbox%s; Ctrl-C ends\n", hbx_context,
		events_mode ? " events" : "");
	next = prev->t_ns + (uint64_t)(o->interval * 1e9);
	while (!stop) {
		uint64_t now = hbx_tr_now_ns();
		int wait = now >= next ? 0 : (int)((next - now) / 1000000) + 1;

		if (events_mode && wait > 200)
			wait = 200;
		if (hbx_tr_poll(&t, wait) < 0) {
			hbx_err("could not read the BPF ring buffer: %s", strerror(errno));
			ret = 1;
			break;
		}
		if (events_mode) {
			uint64_t lost = hbx_tr_lost(&t);

			if (lost > lost_shown) {
				fprintf(stderr, "hbx: %s: %" PRIu64 " events lost (the ring buffer was full)\n",
					hbx_context, lost - lost_shown);
				lost_shown = lost;
			}
			continue;
		}
		if (hbx_tr_now_ns() < next)
			continue;
		if (hbx_tr_read(&t, cur))
			break;
		/* Exported first: the interval's line counts its export. */
		hbx_otlp_export(&o->otlp, prev, cur, start_unix, unix_ns());
		print_interval(r, o, prev, cur, t.stats_fd >= 0);
		start_unix = unix_ns();
		tmp = prev;
		prev = cur;
		cur = tmp;
		next += (uint64_t)(o->interval * 1e9);
		if (o->count && ++n >= o->count)
			break;
	}
	if (stop && !events_mode && !hbx_tr_read(&t, cur)) {
		/* Ctrl-C: the interval so far. */
		hbx_tr_poll(&t, 0);
		hbx_otlp_export(&o->otlp, prev, cur, start_unix, unix_ns());
		print_interval(r, o, prev, cur, t.stats_fd >= 0);
	}
	if (events_mode) {
		hbx_tr_poll(&t, 0);
		if (!hbx_tr_read(&t, cur)) {
			if (o->json)
				printf("{\"event\":\"summary\",\"events\":%" PRIu64 ",\"events-lost\":%" PRIu64
				       ",\"bpf-run-count\":%" PRIu64 ",\"bpf-run-time-ns\":%" PRIu64 "}\n",
				       r->events_seen, cur->lost, cur->run_cnt, cur->run_ns);
			else
				fprintf(stderr, "hbx: %s: %" PRIu64 " events, %" PRIu64 " lost; BPF: %" PRIu64 " runs, %" PRIu64 " ns%s\n",
					hbx_context, r->events_seen, cur->lost, cur->run_cnt,
					cur->run_ns, t.stats_fd >= 0 ? "" : " (run time not available)");
		}
	}
	if (o->otlp.failed)
		fprintf(stderr, "hbx: %s: %" PRIu64 " of %" PRIu64 " OTLP exports failed\n",
			hbx_context, o->otlp.failed, o->otlp.failed + o->otlp.sent);
out:
	hbx_tr_close(&t);
	if (o->otlp.file)
		fclose(o->otlp.file);
	free(r);
	return ret;
}

static const char trace_usage[] =
	"trace [--layer N] [--peer ID] [-i DURATION] [-c COUNT] [-j] [--otlp URL] [--otlp-file FILE]";
static const char events_usage[] = "trace events [--layer N] [--peer ID] [-j]";

int trace_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "layer", required_argument, NULL, 'L' },
		{ "peer", required_argument, NULL, 'P' },
		{ "interval", required_argument, NULL, 'i' },
		{ "count", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ "otlp", required_argument, NULL, 'O' },
		{ "otlp-file", required_argument, NULL, 'F' },
		{ NULL, 0, NULL, 0 }
	};
	struct trace_opts o = {
		.tr = { .layer = -1, .peer = -1 },
		.interval = 1,
	};
	bool events_mode = argc > 1 && !strcmp(argv[1], "events");
	const char *usage = events_mode ? events_usage : trace_usage;
	const char *otlp_file = NULL;
	uint32_t layer, peer;
	int c;

	if (events_mode) {
		argc--;
		argv++;
		hbx_context = "trace events";
		argv[0] = (char *)"hbx trace events";	/* getopt's messages */
	}
	while ((c = getopt_long(argc, argv, events_mode ? "j" : "i:c:j", longopts, NULL)) != -1) {
		/* Events come one by one: no intervals, no metrics to export. */
		if (events_mode && c != 'L' && c != 'P' && c != 'j')
			return hbx_usage(usage);
		switch (c) {
		case 'L':
			if (hbx_parse_layer_index("--layer", optarg, &layer))
				return 2;
			/* The BPF side keeps per-layer slots for the module's layers. */
			if (layer >= HBX_TR_LAYERS) {
				hbx_err("--layer '%s' is out of range: the module has layers "
					"0 to %d", optarg, HBX_TR_LAYERS - 1);
				return 2;
			}
			o.tr.layer = layer;
			break;
		case 'P':
			if (hbx_arg_u32("--peer", optarg, 0, UINT32_MAX, &peer))
				return 2;
			o.tr.peer = peer;
			break;
		case 'i':
			if (hbx_tr_parse_secs("--interval", optarg, &o.interval))
				return 2;
			break;
		case 'c':
			if (hbx_tr_parse_count("--count", optarg, &o.count))
				return 2;
			break;
		case 'j':
			o.json = true;
			break;
		case 'O':
			if (hbx_otlp_check_url(optarg))
				return 2;
			o.otlp.url = optarg;
			break;
		case 'F':
			otlp_file = optarg;
			break;
		default:
			return hbx_usage(usage);
		}
	}
	if (optind != argc)
		return hbx_usage(usage);
	if (otlp_file) {
		o.otlp.file = fopen(otlp_file, "ae");
		if (!o.otlp.file) {
			hbx_err("cannot open %s: %s", otlp_file, strerror(errno));
			return 1;
		}
	}
	return run_trace(&o, events_mode) ? 1 : 0;
}
