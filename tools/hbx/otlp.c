// SPDX-License-Identifier: GPL-2.0
/*
 * hbx trace --otlp URL, --otlp-file F: each interval's metrics as one OTLP
 * ExportMetricsServiceRequest in the protocol's JSON encoding (proto3 JSON:
 * lowerCamelCase names, 64-bit integers as decimal strings, enums as
 * numbers), POSTed to URL/v1/metrics as OTLP/HTTP says, or appended to F as
 * a line.  Histograms are explicit-bucket histograms with the log2 bounds
 * of the BPF histograms; counts are delta sums; rates are gauges.
 */
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/utsname.h>
#include <unistd.h>
#include "hbx.h"
#include "trace.h"
#include "version.h"

struct otlp_ctx {
	struct hbx_json	j;
	char		start[24], end[24];
	double		secs;
};

static void str_u64(struct hbx_json *j, const char *key, uint64_t v)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%" PRIu64, v);
	hbx_json_string(j, key, buf);
}

/* {"key": k, "value": {"stringValue"|"intValue": v}} */
static void attr_str(struct hbx_json *j, const char *key, const char *v)
{
	hbx_json_object_begin(j, NULL);
	hbx_json_string(j, "key", key);
	hbx_json_object_begin(j, "value");
	hbx_json_string(j, "stringValue", v);
	hbx_json_object_end(j);
	hbx_json_object_end(j);
}

static void attr_int(struct hbx_json *j, const char *key, uint64_t v)
{
	hbx_json_object_begin(j, NULL);
	hbx_json_string(j, "key", key);
	hbx_json_object_begin(j, "value");
	str_u64(j, "intValue", v);
	hbx_json_object_end(j);
	hbx_json_object_end(j);
}

/* A data point's attributes: layer and/or peer (-1: absent), result. */
struct point_attrs {
	int64_t		layer, peer;
	const char	*result;
};

static void point_begin(struct otlp_ctx *c, const struct point_attrs *a)
{
	struct hbx_json *j = &c->j;

	hbx_json_object_begin(j, NULL);
	hbx_json_array_begin(j, "attributes");
	if (a && a->layer >= 0)
		attr_int(j, "hyperbox.layer", a->layer);
	if (a && a->peer >= 0)
		attr_int(j, "hyperbox.peer", a->peer);
	if (a && a->result)
		attr_str(j, "hyperbox.fetch.result", a->result);
	hbx_json_array_end(j);
	hbx_json_string(j, "startTimeUnixNano", c->start);
	hbx_json_string(j, "timeUnixNano", c->end);
}

static void metric_begin(struct otlp_ctx *c, const char *name, const char *unit,
			 const char *desc, const char *kind)
{
	struct hbx_json *j = &c->j;

	hbx_json_object_begin(j, NULL);
	hbx_json_string(j, "name", name);
	hbx_json_string(j, "description", desc);
	hbx_json_string(j, "unit", unit);
	hbx_json_object_begin(j, kind);
	hbx_json_array_begin(j, "dataPoints");
}

enum { GAUGE, SUM, HIST };

/* 1: AGGREGATION_TEMPORALITY_DELTA. */
static void metric_end(struct otlp_ctx *c, int kind)
{
	struct hbx_json *j = &c->j;

	hbx_json_array_end(j);
	if (kind != GAUGE)
		hbx_json_u64(j, "aggregationTemporality", 1);
	if (kind == SUM)
		hbx_json_bool(j, "isMonotonic", true);
	hbx_json_object_end(j);
	hbx_json_object_end(j);
}

static void sum_point(struct otlp_ctx *c, const struct point_attrs *a, uint64_t v)
{
	point_begin(c, a);
	str_u64(&c->j, "asInt", v);
	hbx_json_object_end(&c->j);
}

static void gauge_point(struct otlp_ctx *c, const struct point_attrs *a, double v)
{
	point_begin(c, a);
	hbx_json_double(&c->j, "asDouble", v);
	hbx_json_object_end(&c->j);
}

/* Bucket i of a log2 histogram holds [2^i, 2^(i+1)): bound i is 2^(i+1). */
static void hist_point(struct otlp_ctx *c, const struct point_attrs *a,
		       const struct hbx_tr_hist_slots *h)
{
	struct hbx_json *j = &c->j;
	uint64_t n = 0;
	int i;

	for (i = 0; i < HBX_TR_SLOTS; i++)
		n += h->slots[i];
	point_begin(c, a);
	str_u64(j, "count", n);
	hbx_json_double(j, "sum", (double)h->sum_ns);
	hbx_json_array_begin(j, "bucketCounts");
	for (i = 0; i < HBX_TR_SLOTS; i++)
		str_u64(j, NULL, h->slots[i]);
	hbx_json_array_end(j);
	hbx_json_array_begin(j, "explicitBounds");
	for (i = 0; i < HBX_TR_SLOTS - 1; i++)
		hbx_json_double(j, NULL, (double)(1ULL << (i + 1)));
	hbx_json_array_end(j);
	hbx_json_object_end(j);
}

static void hist_diff(struct hbx_tr_hist_slots *d, const struct hbx_tr_hist_slots *cur,
		      const struct hbx_tr_hist_slots *prev)
{
	int i;

	for (i = 0; i < HBX_TR_SLOTS; i++)
		d->slots[i] = cur->slots[i] - (prev ? prev->slots[i] : 0);
	d->sum_ns = cur->sum_ns - (prev ? prev->sum_ns : 0);
}

static bool layer_seen(const struct hbx_tr_layer *l)
{
	return l->seen || l->reads || l->fetches || l->served;
}

/* A per-layer counter: cur - prev of the field at offset off. */
#define LAYER_FIELD(s, i, f) ((s)->layers[i].f)

static void layer_sums(struct otlp_ctx *c, const struct hbx_tr_snap *prev,
		       const struct hbx_tr_snap *cur, const char *name,
		       const char *unit, const char *desc, size_t off)
{
	unsigned int i;

	metric_begin(c, name, unit, desc, "sum");
	for (i = 0; i < HBX_TR_LAYERS; i++) {
		struct point_attrs a = { .layer = i, .peer = -1 };
		const uint64_t *cv = (const void *)((const char *)&cur->layers[i] + off);
		const uint64_t *pv = (const void *)((const char *)&prev->layers[i] + off);

		if (layer_seen(&cur->layers[i]))
			sum_point(c, &a, *cv - *pv);
	}
	metric_end(c, SUM);
}

static void layer_rate(struct otlp_ctx *c, const struct hbx_tr_snap *prev,
		       const struct hbx_tr_snap *cur, const char *name,
		       const char *desc, size_t off)
{
	unsigned int i;

	metric_begin(c, name, "MBy/s", desc, "gauge");
	for (i = 0; i < HBX_TR_LAYERS; i++) {
		struct point_attrs a = { .layer = i, .peer = -1 };
		const uint64_t *cv = (const void *)((const char *)&cur->layers[i] + off);
		const uint64_t *pv = (const void *)((const char *)&prev->layers[i] + off);

		if (layer_seen(&cur->layers[i]))
			gauge_point(c, &a, c->secs > 0 ? (*cv - *pv) / c->secs / 1e6 : 0);
	}
	metric_end(c, GAUGE);
}

#define OFF(f) offsetof(struct hbx_tr_layer, f)

static const char *const hist_metric[HBX_TR_HISTS][2] = {
	[HBX_TR_HIST_READ] = { "hyperbox.read.duration", "read requests of /dev/hbxN" },
	[HBX_TR_HIST_VERIFY] = { "hyperbox.verify.duration", "chunk verifications" },
	[HBX_TR_HIST_BLOCKS] = { "hyperbox.blocks_verify.duration", "block checks of a read (verify always)" },
	[HBX_TR_HIST_FETCH] = { "hyperbox.fetch.duration", "chunk fetches from peers" },
	[HBX_TR_HIST_SERVE] = { "hyperbox.serve.duration", "answers to peers' requests" },
};

static void resource(struct otlp_ctx *c)
{
	struct hbx_json *j = &c->j;
	char host[256] = "", modver[64] = "unknown";
	struct utsname u;
	FILE *f;

	gethostname(host, sizeof(host) - 1);
	if (uname(&u))
		strcpy(u.release, "unknown");
	f = fopen("/sys/module/hyperbox/version", "re");
	if (f) {
		if (fgets(modver, sizeof(modver), f))
			modver[strcspn(modver, "\n")] = 0;
		fclose(f);
	}
	hbx_json_object_begin(j, "resource");
	hbx_json_array_begin(j, "attributes");
	attr_str(j, "service.name", "hbx-trace");
	attr_str(j, "host.name", host);
	attr_str(j, "os.type", "linux");
	attr_str(j, "os.version", u.release);
	attr_str(j, "hyperbox.module.version", modver);
	attr_str(j, "hyperbox.tools.version", HBX_VERSION);
	hbx_json_array_end(j);
	hbx_json_object_end(j);
}

static void metrics(struct otlp_ctx *c, const struct hbx_tr_snap *prev,
		    const struct hbx_tr_snap *cur)
{
	struct hbx_tr_hist_slots d;
	unsigned int i, k;

	for (k = 0; k < HBX_TR_HISTS; k++) {
		metric_begin(c, hist_metric[k][0], "ns", hist_metric[k][1], "histogram");
		hist_diff(&d, &cur->hists[k], &prev->hists[k]);
		hist_point(c, NULL, &d);
		metric_end(c, HIST);
	}
	metric_begin(c, "hyperbox.peer.fetch.duration", "ns", "chunk fetches, per peer", "histogram");
	for (i = 0; i < cur->nr_peers; i++) {
		const struct hbx_tr_peer *p = hbx_tr_peer_of(prev, cur->peers[i].id);
		struct point_attrs a = { .layer = -1, .peer = cur->peers[i].id };

		hist_diff(&d, &cur->peers[i].s.fetch_hist, p ? &p->fetch_hist : NULL);
		hist_point(c, &a, &d);
	}
	metric_end(c, HIST);

	layer_sums(c, prev, cur, "hyperbox.read.requests", "{request}", "read requests", OFF(reads));
	layer_sums(c, prev, cur, "hyperbox.read.bytes", "By", "bytes read", OFF(read_bytes));
	layer_sums(c, prev, cur, "hyperbox.read.errors", "{request}", "failed reads", OFF(read_errors));
	layer_sums(c, prev, cur, "hyperbox.read.hits", "{request}", "reads of chunks already verified", OFF(hits));
	layer_sums(c, prev, cur, "hyperbox.read.misses", "{request}", "reads that hashed or fetched", OFF(misses));
	layer_sums(c, prev, cur, "hyperbox.verify.chunks", "{chunk}", "chunks verified", OFF(verified));
	layer_sums(c, prev, cur, "hyperbox.verify.failures", "{chunk}", "chunks that failed verification", OFF(verify_failed));
	layer_sums(c, prev, cur, "hyperbox.verify.block_failures", "{block}", "blocks that failed verification", OFF(block_failed));
	layer_sums(c, prev, cur, "hyperbox.fetch.bytes", "By", "bytes fetched from peers", OFF(fetch_bytes));
	layer_sums(c, prev, cur, "hyperbox.serve.bytes", "By", "bytes served to peers", OFF(served_bytes));
	layer_rate(c, prev, cur, "hyperbox.read.rate", "read throughput", OFF(read_bytes));
	layer_rate(c, prev, cur, "hyperbox.fetch.rate", "fetch throughput", OFF(fetch_bytes));
	layer_rate(c, prev, cur, "hyperbox.serve.rate", "serve throughput", OFF(served_bytes));

	metric_begin(c, "hyperbox.read.hit_ratio", "1", "reads of chunks already verified, of all reads", "gauge");
	for (i = 0; i < HBX_TR_LAYERS; i++) {
		const struct hbx_tr_layer *l = &cur->layers[i], *p = &prev->layers[i];
		uint64_t hits = l->hits - p->hits, all = hits + l->misses - p->misses;
		struct point_attrs a = { .layer = i, .peer = -1 };

		if (layer_seen(l))
			gauge_point(c, &a, all ? (double)hits / all : 0);
	}
	metric_end(c, GAUGE);

	metric_begin(c, "hyperbox.peer.fetches", "{request}", "fetch answers by peer and result", "sum");
	for (i = 0; i < cur->nr_peers; i++) {
		const struct hbx_tr_peer *p = hbx_tr_peer_of(prev, cur->peers[i].id);

		for (k = 0; k < HBX_TR_RESULTS - 1; k++) {
			struct point_attrs a = { .layer = -1, .peer = cur->peers[i].id,
						 .result = hbx_tr_result_names[k] };

			sum_point(c, &a, cur->peers[i].s.results[k] - (p ? p->results[k] : 0));
		}
	}
	metric_end(c, SUM);
	metric_begin(c, "hyperbox.peer.fetch.bytes", "By", "bytes fetched, per peer", "sum");
	for (i = 0; i < cur->nr_peers; i++) {
		const struct hbx_tr_peer *p = hbx_tr_peer_of(prev, cur->peers[i].id);
		struct point_attrs a = { .layer = -1, .peer = cur->peers[i].id };

		sum_point(c, &a, cur->peers[i].s.bytes_fetched - (p ? p->bytes_fetched : 0));
	}
	metric_end(c, SUM);

	metric_begin(c, "hyperbox.trace.events_lost", "{event}", "ring buffer events lost", "sum");
	sum_point(c, NULL, cur->lost - prev->lost);
	metric_end(c, SUM);
	metric_begin(c, "hyperbox.trace.bpf.runs", "{run}", "BPF program runs", "sum");
	sum_point(c, NULL, cur->run_cnt - prev->run_cnt);
	metric_end(c, SUM);
	metric_begin(c, "hyperbox.trace.bpf.run_time", "ns", "BPF programs' run time", "sum");
	sum_point(c, NULL, cur->run_ns - prev->run_ns);
	metric_end(c, SUM);
}

static char *build(const struct hbx_tr_snap *prev, const struct hbx_tr_snap *cur,
		   uint64_t start_ns, uint64_t end_ns, size_t *len)
{
	struct otlp_ctx c;
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);

	if (!f)
		return NULL;
	snprintf(c.start, sizeof(c.start), "%" PRIu64, start_ns);
	snprintf(c.end, sizeof(c.end), "%" PRIu64, end_ns);
	c.secs = (cur->t_ns - prev->t_ns) / 1e9;
	hbx_json_init(&c.j, f);
	hbx_json_object_begin(&c.j, NULL);
	hbx_json_array_begin(&c.j, "resourceMetrics");
	hbx_json_object_begin(&c.j, NULL);
	resource(&c);
	hbx_json_array_begin(&c.j, "scopeMetrics");
	hbx_json_object_begin(&c.j, NULL);
	hbx_json_object_begin(&c.j, "scope");
	hbx_json_string(&c.j, "name", "hbx-trace");
	hbx_json_string(&c.j, "version", HBX_VERSION);
	hbx_json_object_end(&c.j);
	hbx_json_array_begin(&c.j, "metrics");
	metrics(&c, prev, cur);
	hbx_json_array_end(&c.j);
	hbx_json_object_end(&c.j);
	hbx_json_array_end(&c.j);
	hbx_json_object_end(&c.j);
	hbx_json_array_end(&c.j);
	hbx_json_object_end(&c.j);
	hbx_json_finish(&c.j);
	if (fclose(f)) {
		free(buf);
		return NULL;
	}
	return buf;
}

struct url {
	char	host[256], port[8], path[512];
};

static int parse_url(const char *s, struct url *u)
{
	const char *p, *slash, *colon;
	size_t n;

	if (strncmp(s, "http://", 7))
		return -1;
	p = s + 7;
	slash = strchr(p, '/');
	n = slash ? (size_t)(slash - p) : strlen(p);
	if (!n || n >= sizeof(u->host))
		return -1;
	memcpy(u->host, p, n);
	u->host[n] = 0;
	strcpy(u->port, "4318");
	colon = strrchr(u->host, ':');
	if (colon && !strchr(u->host, ']')) {
		if (!colon[1] || strlen(colon + 1) >= sizeof(u->port) ||
		    strspn(colon + 1, "0123456789") != strlen(colon + 1))
			return -1;
		strcpy(u->port, colon + 1);
		u->host[colon - u->host] = 0;
	}
	if (!*u->host)
		return -1;
	/* OTLP/HTTP: the signal's path is appended to the base URL. */
	snprintf(u->path, sizeof(u->path), "%s", slash ? slash : "");
	n = strlen(u->path);
	while (n && u->path[n - 1] == '/')
		u->path[--n] = 0;
	if (n < 11 || strcmp(u->path + n - 11, "/v1/metrics"))
		strncat(u->path, "/v1/metrics", sizeof(u->path) - n - 1);
	return 0;
}

int hbx_otlp_check_url(const char *url)
{
	struct url u;

	if (parse_url(url, &u)) {
		hbx_err("bad OTLP URL '%s': give http://HOST[:PORT][/PATH] (OTLP/HTTP, JSON; https is not supported)",
			url);
		return -1;
	}
	return 0;
}

/* POST body; 0 on a 2xx answer, else -1 and *why. */
static int post(const char *url, const char *body, size_t len, char *why, size_t whylen)
{
	struct timeval tv = { 2, 0 };
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai, *a;
	char head[1024], reply[256];
	int fd = -1, e, code;
	ssize_t n;
	struct url u;

	if (parse_url(url, &u)) {
		snprintf(why, whylen, "bad URL");
		return -1;
	}
	e = getaddrinfo(u.host, u.port, &hints, &ai);
	if (e) {
		snprintf(why, whylen, "%s: %s", u.host, gai_strerror(e));
		return -1;
	}
	errno = ECONNREFUSED;
	for (a = ai; a; a = a->ai_next) {
		fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
		if (fd < 0)
			continue;
		/* Bounds connect too: a collector that is down costs 2 s. */
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		if (!connect(fd, a->ai_addr, a->ai_addrlen))
			break;
		e = errno;
		close(fd);
		fd = -1;
		errno = e;
	}
	freeaddrinfo(ai);
	if (fd < 0) {
		snprintf(why, whylen, "%s", strerror(errno));
		return -1;
	}
	snprintf(head, sizeof(head),
		 "POST %s HTTP/1.1\r\nHost: %s:%s\r\nContent-Type: application/json\r\n"
		 "Content-Length: %zu\r\nConnection: close\r\nUser-Agent: hbx/%s\r\n\r\n",
		 u.path, u.host, u.port, len, HBX_VERSION);
	if (send(fd, head, strlen(head), MSG_NOSIGNAL) != (ssize_t)strlen(head) ||
	    send(fd, body, len, MSG_NOSIGNAL) != (ssize_t)len) {
		snprintf(why, whylen, "send: %s", strerror(errno));
		close(fd);
		return -1;
	}
	n = recv(fd, reply, sizeof(reply) - 1, 0);
	close(fd);
	if (n <= 0) {
		snprintf(why, whylen, "no answer: %s", n ? strerror(errno) : "connection closed");
		return -1;
	}
	reply[n] = 0;
	if (sscanf(reply, "HTTP/%*s %d", &code) != 1) {
		snprintf(why, whylen, "not an HTTP answer");
		return -1;
	}
	if (code < 200 || code > 299) {
		snprintf(why, whylen, "HTTP status %d", code);
		return -1;
	}
	return 0;
}

void hbx_otlp_export(struct hbx_otlp *o, const struct hbx_tr_snap *prev,
		     const struct hbx_tr_snap *cur, uint64_t start_unix_ns,
		     uint64_t end_unix_ns)
{
	char why[512];
	size_t len;
	char *body;

	if (!o->url && !o->file)
		return;
	body = build(prev, cur, start_unix_ns, end_unix_ns, &len);
	if (!body) {
		o->failed++;
		return;
	}
	if (o->file) {
		fwrite(body, 1, len, o->file);
		fflush(o->file);
	}
	if (o->url) {
		if (post(o->url, body, len, why, sizeof(why))) {
			o->failed++;
			if (!o->warned)
				hbx_err("OTLP export to %s failed (%s); tracing goes on and counts the failed exports",
					o->url, why);
			o->warned = true;
		} else {
			o->sent++;
		}
	} else {
		o->sent++;
	}
	free(body);
}
