// SPDX-License-Identifier: GPL-2.0
/*
 * Loading bpf/hbxtrace.bpf.c for hbx trace and hbx top, with a sentence for
 * each way it can fail, and reading its counters.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "hbx.h"
#include "layer.h"
#include "trace.h"
#include "hbxtrace.skel.h"

const char *const hbx_tr_result_names[HBX_TR_RESULTS] = {
	[HBX_FETCH_OK] = "ok",
	[HBX_FETCH_TIMEOUT] = "timeout",
	[HBX_FETCH_NOT_HERE] = "not-here",
	[HBX_FETCH_CORRUPT] = "corrupt",
	[HBX_FETCH_PEER_DOWN] = "peer-down",
	[HBX_FETCH_FAILED] = "failed",
	[HBX_FETCH_CANCELLED] = "cancelled",
	[7] = "other",
};

/* The events every program attaches to: all must be there. */
static const char *const tr_events[] = {
	"hbx_read", "hbx_chunk_verify", "hbx_blocks_verify", "hbx_fetch_send",
	"hbx_fetch_done", "hbx_serve", "hbx_peer_up", "hbx_peer_down",
	"hbx_layer_add", "hbx_layer_del", "hbx_pull_start", "hbx_pull_progress",
	"hbx_pull_finish",
};

static int libbpf_quiet(enum libbpf_print_level level, const char *fmt,
			va_list ap)
{
	if (level == LIBBPF_WARN && getenv("HBX_DEBUG"))
		return vfprintf(stderr, fmt, ap);
	return 0;
}

uint64_t hbx_tr_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

int hbx_tr_parse_secs(const char *what, const char *s, double *secs)
{
	static const struct hbx_num n = { HBX_NUM_DURATION, 50, 86400 * 1000, 1000 };
	uint64_t ms;

	if (hbx_arg_num(what, s, &n, &ms))
		return -1;
	*secs = ms / 1000.0;
	return 0;
}

int hbx_tr_parse_count(const char *what, const char *s, uint64_t *count)
{
	static const struct hbx_num n = { HBX_NUM_COUNT, 1, UINT64_MAX, 0 };

	return hbx_arg_num(what, s, &n, count);
}

/* Where tracefs is, mounting it if nobody has (libbpf needs it too). */
static const char *tracefs_events(void)
{
	static const char *const dirs[] = {
		"/sys/kernel/tracing", "/sys/kernel/debug/tracing",
	};
	static char path[64];
	struct stat st;
	int denied = 0;
	size_t i;

	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(path, sizeof(path), "%s/events", dirs[i]);
		if (!stat(path, &st))
			return path;
		denied |= errno == EACCES;
	}
	if (denied || geteuid()) {
		errno = EACCES;
		return NULL;
	}
	if (!mount("tracefs", dirs[0], "tracefs", 0, NULL)) {
		snprintf(path, sizeof(path), "%s/events", dirs[0]);
		return path;
	}
	return NULL;
}

static void say_load_error(int e);

static int check_module(void)
{
	char path[160];
	const char *events;
	size_t i;

	if (access("/sys/module/hyperbox", F_OK)) {
		hbx_err("the hyperbox module is not loaded (modprobe hyperbox): there is nothing to trace");
		return -1;
	}
	events = tracefs_events();
	if (!events && (errno == EACCES || errno == EPERM)) {
		say_load_error(EPERM);
		return -1;
	}
	if (!events) {
		hbx_err("tracefs is not mounted and could not be (%s): the tracepoints cannot be found",
			strerror(errno));
		return -1;
	}
	snprintf(path, sizeof(path), "%s/hyperbox", events);
	if (access(path, F_OK)) {
		hbx_err("the loaded hyperbox module has no tracepoints (%s is missing): it is older than this hbx",
			path);
		return -1;
	}
	for (i = 0; i < sizeof(tr_events) / sizeof(tr_events[0]); i++) {
		snprintf(path, sizeof(path), "%s/hyperbox/%s/id", events, tr_events[i]);
		if (access(path, F_OK)) {
			hbx_err("the loaded hyperbox module has no %s tracepoint: it is older than this hbx (load the module that came with it)",
				tr_events[i]);
			return -1;
		}
	}
	return 0;
}

static int check_filters(const struct hbx_tr_opts *o)
{
	struct hbx_layer_info *v = NULL;
	struct hbx_nl *nl;
	ssize_t n = 0, i;
	int ret = 0;

	if (o->layer < 0 && o->peer < 0)
		return 0;
	nl = hbx_connect();
	if (!nl)
		return -1;
	if (o->layer >= 0) {
		n = hbx_layer_dump(nl, &v);
		for (i = 0; i < n && v[i].index != (uint32_t)o->layer; i++)
			;
		if (n >= 0 && i == n)
			hbx_err("no layer %d is attached (hbx layer list shows those that are)",
				o->layer);
		if (n < 0 || i == n)
			ret = -1;
		free(v);
	}
	if (!ret && o->peer >= 0) {
		struct nl_msg *msg = hbx_nl_msg(nl, HBX_CMD_PEER_GET, 0);

		if (!msg || nla_put_u32(msg, HBX_A_PEER_ID, o->peer) ||
		    hbx_nl_request(nl, msg, HBX_A_PEER_MAX, NULL, NULL)) {
			hbx_err("no peer %lld in this network namespace (hbx peer list shows them)",
				(long long)o->peer);
			ret = -1;
		}
	}
	hbx_nl_close(nl);
	return ret;
}

static void say_load_error(int e)
{
	FILE *f;
	int v = -1;

	if (e == EPERM || e == EACCES) {
		f = fopen("/proc/sys/kernel/unprivileged_bpf_disabled", "re");
		if (f) {
			if (fscanf(f, "%d", &v) != 1)
				v = -1;
			fclose(f);
		}
		if (geteuid())
			hbx_err("not allowed to load BPF programs: run as root (CAP_BPF and CAP_PERFMON)%s",
				v > 0 ? "; kernel.unprivileged_bpf_disabled is set" : "");
		else
			hbx_err("not allowed to load BPF programs (%s): a lockdown or an LSM refuses it",
				strerror(e));
		return;
	}
	hbx_err("could not load the BPF programs: %s (HBX_DEBUG=1 shows libbpf's log)",
		strerror(e));
}

static int ring_cb(void *ctx, void *data, size_t size)
{
	const struct hbx_tr_opts *o = ctx;

	if (size < sizeof(struct hbx_tr_event))
		return 0;
	return o->on_event(o->ctx, data);
}

int hbx_tr_open(struct hbx_tr *t, const struct hbx_tr_opts *o)
{
	static struct hbx_tr_opts opts;
	int e;

	memset(t, 0, sizeof(*t));
	t->stats_fd = -1;
	if (check_module() || check_filters(o))
		return -1;
	libbpf_set_print(libbpf_quiet);
	t->skel = hbxtrace_bpf__open();
	if (!t->skel) {
		say_load_error(errno);
		return -1;
	}
	t->skel->rodata->filter_layer = o->layer;
	t->skel->rodata->filter_peer = o->peer;
	t->skel->rodata->ring_mode = o->ring_mode;
	e = hbxtrace_bpf__load(t->skel);
	if (e) {
		say_load_error(-e);
		goto err;
	}
	e = hbxtrace_bpf__attach(t->skel);
	if (e) {
		hbx_err("could not attach to the hyperbox tracepoints: %s", strerror(-e));
		goto err;
	}
	if (o->on_event) {
		opts = *o;
		t->rb = ring_buffer__new(bpf_map__fd(t->skel->maps.events), ring_cb,
					 &opts, NULL);
		if (!t->rb) {
			hbx_err("could not open the BPF ring buffer: %s", strerror(errno));
			goto err;
		}
	}
	/* Run counts and times (kernel.bpf_stats_enabled) while we hold it. */
	t->stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
	return 0;
err:
	hbx_tr_close(t);
	return -1;
}

void hbx_tr_close(struct hbx_tr *t)
{
	if (t->rb)
		ring_buffer__free(t->rb);
	t->rb = NULL;
	if (t->stats_fd >= 0)
		close(t->stats_fd);
	t->stats_fd = -1;
	hbxtrace_bpf__destroy(t->skel);
	t->skel = NULL;
}

int hbx_tr_poll(struct hbx_tr *t, int timeout_ms)
{
	int n;

	if (!t->rb) {
		struct timespec ts = { timeout_ms / 1000, (timeout_ms % 1000) * 1000000L };

		nanosleep(&ts, NULL);
		return 0;
	}
	n = ring_buffer__poll(t->rb, timeout_ms);
	return n == -EINTR ? 0 : n;
}

static void prog_stats(struct hbx_tr *t, struct hbx_tr_snap *s)
{
	struct bpf_program *prog;

	bpf_object__for_each_program(prog, t->skel->obj) {
		struct bpf_prog_info info;
		__u32 len = sizeof(info);

		memset(&info, 0, sizeof(info));
		if (bpf_obj_get_info_by_fd(bpf_program__fd(prog), &info, &len))
			continue;
		s->run_cnt += info.run_cnt;
		s->run_ns += info.run_time_ns;
	}
}

int hbx_tr_read(struct hbx_tr *t, struct hbx_tr_snap *s)
{
	int lfd = bpf_map__fd(t->skel->maps.layers);
	int pfd = bpf_map__fd(t->skel->maps.peers);
	int hfd = bpf_map__fd(t->skel->maps.hists);
	__u32 key, next, *prev = NULL;

	memset(s, 0, sizeof(*s));
	s->t_ns = hbx_tr_now_ns();
	for (key = 0; key < HBX_TR_LAYERS; key++)
		if (bpf_map_lookup_elem(lfd, &key, &s->layers[key]))
			return -1;
	for (key = 0; key < HBX_TR_HISTS; key++)
		if (bpf_map_lookup_elem(hfd, &key, &s->hists[key]))
			return -1;
	while (s->nr_peers < HBX_TR_PEERS && !bpf_map_get_next_key(pfd, prev, &next)) {
		struct hbx_tr_peer_snap *p = &s->peers[s->nr_peers];

		if (!bpf_map_lookup_elem(pfd, &next, &p->s)) {
			p->id = next;
			s->nr_peers++;
		}
		key = next;
		prev = &key;
	}
	s->lost = t->skel->bss->events_lost;
	prog_stats(t, s);
	return 0;
}

uint64_t hbx_tr_lost(struct hbx_tr *t)
{
	return t->skel->bss->events_lost;
}

const struct hbx_tr_peer *hbx_tr_peer_of(const struct hbx_tr_snap *s, uint32_t id)
{
	unsigned int i;

	for (i = 0; i < s->nr_peers; i++)
		if (s->peers[i].id == id)
			return &s->peers[i].s;
	return NULL;
}
