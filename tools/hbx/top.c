// SPDX-License-Identifier: GPL-2.0
/*
 * hbx top: a live view of the layers (rates from the tracepoints, state
 * from the module's dumps), the peers, and the pressure stall information
 * of the host and of one cgroup, so a slow container shows whether it
 * waits on CPU, memory or I/O.  Full screen, one write per frame (no
 * flicker), q quits; -b -n COUNT -d SECS prints batch frames as top -b
 * does; -j one JSON snapshot over -d SECS.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include "hbx.h"
#include "layer.h"
#include "trace.h"
#include "version.h"

/* One pressure file: some and full, avg10/60/300 in percent, total in us. */
struct psi_line {
	bool		valid;
	double		avg10, avg60, avg300;
	uint64_t	total;
};
struct psi_res {
	bool		valid;
	struct psi_line	some, full;
};
struct psi {
	struct psi_res	cpu, memory, io;
};

static const char *const psi_names[3] = { "cpu", "memory", "io" };

static void psi_read_file(const char *path, struct psi_res *r)
{
	char line[256];
	FILE *f = fopen(path, "re");

	memset(r, 0, sizeof(*r));
	if (!f)
		return;
	r->valid = true;
	while (fgets(line, sizeof(line), f)) {
		struct psi_line *l = !strncmp(line, "some ", 5) ? &r->some :
				     !strncmp(line, "full ", 5) ? &r->full : NULL;

		if (l && sscanf(line + 5, "avg10=%lf avg60=%lf avg300=%lf total=%" SCNu64,
				&l->avg10, &l->avg60, &l->avg300, &l->total) == 4)
			l->valid = true;
	}
	fclose(f);
}

/* dir: "/proc/pressure" (files cpu, memory, io) or a cgroup (cpu.pressure...). */
static void psi_read(const char *dir, bool cgroup, struct psi *p)
{
	struct psi_res *res[3] = { &p->cpu, &p->memory, &p->io };
	char path[4200];
	int i;

	for (i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s%s", dir, psi_names[i],
			 cgroup ? ".pressure" : "");
		psi_read_file(path, res[i]);
	}
}

/* What the netlink dumps say, per frame. */
struct peer_info {
	uint32_t	id, role, state;
	uint64_t	protocol_errors, corrupt_chunks;
	char		name[HBX_PEER_NAME_MAX];
	char		last_error[64];
};
struct peer_infos {
	struct peer_info	*v;
	size_t			n;
};

static int peer_info_parse(uint8_t cmd, struct nlattr **tb, void *arg)
{
	struct peer_infos *p = arg;
	struct peer_info *r, *v = realloc(p->v, (p->n + 1) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	p->v = v;
	r = memset(&v[p->n++], 0, sizeof(*r));
	if (tb[HBX_A_PEER_ID])
		r->id = nla_get_u32(tb[HBX_A_PEER_ID]);
	if (tb[HBX_A_PEER_ROLE])
		r->role = nla_get_u32(tb[HBX_A_PEER_ROLE]);
	if (tb[HBX_A_PEER_STATE])
		r->state = nla_get_u32(tb[HBX_A_PEER_STATE]);
	if (tb[HBX_A_PEER_PROTOCOL_ERRORS])
		r->protocol_errors = nla_get_u64(tb[HBX_A_PEER_PROTOCOL_ERRORS]);
	if (tb[HBX_A_PEER_CORRUPT_CHUNKS])
		r->corrupt_chunks = nla_get_u64(tb[HBX_A_PEER_CORRUPT_CHUNKS]);
	if (tb[HBX_A_PEER_NAME])
		snprintf(r->name, sizeof(r->name), "%s", nla_get_string(tb[HBX_A_PEER_NAME]));
	if (tb[HBX_A_PEER_LAST_ERROR])
		snprintf(r->last_error, sizeof(r->last_error), "%s",
			 nla_get_string(tb[HBX_A_PEER_LAST_ERROR]));
	return 0;
}

struct top {
	struct hbx_tr		tr;
	struct hbx_nl		*nl;
	struct hbx_tr_snap	snaps[2];
	struct hbx_tr_snap	*prev, *cur;
	struct hbx_layer_info	*layers;
	ssize_t			nr_layers;
	struct peer_infos	peers;
	struct psi		host, cg;
	bool			host_psi, cg_psi;
	const char		*cgroup;
	double			delay;
	char			*frame;
	size_t			len, cap;
};

static void frame_reset(struct top *t)
{
	t->len = 0;
}

static void frame_add(struct top *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void frame_add(struct top *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(t->frame + t->len, t->cap - t->len, fmt, ap);
		va_end(ap);
		if (n < 0)
			return;
		if (t->len + n < t->cap) {
			t->len += n;
			return;
		}
		t->cap = (t->cap + n + 1) * 2;
		t->frame = realloc(t->frame, t->cap);
		if (!t->frame)
			abort();
	}
}

static int top_sample(struct top *t)
{
	struct hbx_tr_snap *tmp = t->prev;

	t->prev = t->cur;
	t->cur = tmp;
	if (hbx_tr_read(&t->tr, t->cur)) {
		hbx_err("could not read the BPF maps: %s", strerror(errno));
		return -1;
	}
	free(t->layers);
	t->layers = NULL;
	t->nr_layers = hbx_layer_dump(t->nl, &t->layers);
	if (t->nr_layers < 0)
		return -1;
	free(t->peers.v);
	t->peers.v = NULL;
	t->peers.n = 0;
	if (hbx_nl_request(t->nl, hbx_nl_msg(t->nl, HBX_CMD_PEER_GET, NLM_F_DUMP),
			   HBX_A_PEER_MAX, peer_info_parse, &t->peers)) {
		hbx_err("%s", hbx_nl_error(t->nl));
		return -1;
	}
	if (t->host_psi)
		psi_read("/proc/pressure", false, &t->host);
	if (t->cgroup)
		psi_read(t->cgroup, true, &t->cg);
	return 0;
}

static double secs_between(const struct top *t)
{
	return (t->cur->t_ns - t->prev->t_ns) / 1e9;
}

static double rate(uint64_t cur, uint64_t prev, double secs)
{
	return secs > 0 ? (cur - prev) / secs / 1e6 : 0;
}

/* One screen (or batch frame): lines cut at width, at most height of them. */
struct screen {
	int	width, height, lines;
	bool	tty;
};

static void line(struct top *t, struct screen *s, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void line(struct top *t, struct screen *s, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	if (s->height && s->lines >= s->height)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (s->width && n > s->width)
		buf[s->width] = 0;
	s->lines++;
	/* Clear to the end of the line: no leftovers of the last frame. */
	frame_add(t, "%s%s%s", buf, s->tty ? "\033[K" : "",
		  s->tty && s->height && s->lines == s->height ? "" : "\n");
}

static void psi_text(struct top *t, struct screen *s, const char *who,
		     const struct psi *p)
{
	if (!p->cpu.valid && !p->memory.valid && !p->io.valid) {
		line(t, s, "PSI %-8s not available", who);
		return;
	}
	line(t, s, "PSI %-8s some cpu %5.2f%% mem %5.2f%% io %5.2f%%  full mem %5.2f%% io %5.2f%%",
	     who, p->cpu.some.avg10, p->memory.some.avg10, p->io.some.avg10,
	     p->memory.full.avg10, p->io.full.avg10);
}

static const struct hbx_tr_peer *peer_prev(const struct top *t, uint32_t id)
{
	return hbx_tr_peer_of(t->prev, id);
}

static void render(struct top *t, struct screen *s)
{
	double secs = secs_between(t);
	uint64_t runs = t->cur->run_cnt - t->prev->run_cnt;
	uint64_t ns = t->cur->run_ns - t->prev->run_ns;
	char clock[16], pull[24];
	time_t now = time(NULL);
	struct tm tm;
	ssize_t i;

	strftime(clock, sizeof(clock), "%H:%M:%S", localtime_r(&now, &tm));
	s->lines = 0;
	line(t, s, "hbx top - %s  hyperbox %s  %zd layers  %zu peers%s", clock,
	     HBX_VERSION, t->nr_layers, t->peers.n, s->tty ? "  (q quits)" : "");
	psi_text(t, s, "host", &t->host);
	if (t->cgroup)
		psi_text(t, s, "cgroup", &t->cg);
	line(t, s, "BPF %" PRIu64 " runs %.0f ns/run  events lost %" PRIu64 "  interval %.1f s",
	     runs, runs ? (double)ns / runs : 0.0, t->cur->lost, secs);
	line(t, s, "%s", "");
	line(t, s, "%-6s %8s %8s %8s %6s %15s %5s %4s %s", "LAYER", "READ/s", "FETCH/s",
	     "SERVE/s", "HIT%", "CHUNKS HERE", "VFAIL", "OPEN", "PULL");
	for (i = 0; i < t->nr_layers; i++) {
		const struct hbx_layer_info *l = &t->layers[i];
		const struct hbx_tr_layer *c = &t->cur->layers[l->index < HBX_TR_LAYERS ? l->index : 0];
		const struct hbx_tr_layer *p = &t->prev->layers[l->index < HBX_TR_LAYERS ? l->index : 0];
		uint64_t hits = c->hits - p->hits, all = hits + c->misses - p->misses;
		char here[32], hit[8];

		snprintf(here, sizeof(here), "%" PRIu64 "/%" PRIu64, l->chunks_verified,
			 l->chunks_total);
		if (all)
			snprintf(hit, sizeof(hit), "%.1f", 100.0 * hits / all);
		else
			snprintf(hit, sizeof(hit), "-");
		if (l->nr_peers && l->pull_state && l->pull_state != HBX_PULL_STATE_NONE)
			snprintf(pull, sizeof(pull), "%s %.0f%%", hbx_pull_state_name(l->pull_state),
				 l->chunks_total ? 100.0 * l->chunks_verified / l->chunks_total : 0.0);
		else
			snprintf(pull, sizeof(pull), "%s", l->nr_peers ? "none" : "local");
		line(t, s, "%-6s %8.2f %8.2f %8.2f %6s %15s %5" PRIu64 " %4u %s", l->device,
		     rate(c->read_bytes, p->read_bytes, secs),
		     rate(c->fetch_bytes, p->fetch_bytes, secs),
		     rate(c->served_bytes, p->served_bytes, secs), hit, here,
		     l->verify_failures, l->openers, pull);
	}
	line(t, s, "%s", "");
	line(t, s, "%-4s %-22s %-5s %8s %5s %8s %8s %6s", "PEER", "ADDRESS", "STATE",
	     "RTT ms", "INFL", "IN MB/s", "OUT MB/s", "ERRORS");
	for (i = 0; i < (ssize_t)t->peers.n; i++) {
		const struct peer_info *pi = &t->peers.v[i];
		const struct hbx_tr_peer *c = hbx_tr_peer_of(t->cur, pi->id);
		const struct hbx_tr_peer *p = peer_prev(t, pi->id);
		static const struct hbx_tr_peer zero;
		uint64_t errors = pi->protocol_errors;
		int k;

		if (!c)
			c = &zero;
		if (!p)
			p = &zero;
		for (k = 1; k < HBX_TR_RESULTS; k++)
			errors += c->results[k];
		line(t, s, "%-4u %-22.22s %-5s %8.3f %5" PRIu64 " %8.2f %8.2f %6" PRIu64, pi->id,
		     pi->name, pi->state == HBX_PEER_STATE_UP ? "up" : "down",
		     c->last_rtt_ns / 1e6, hbx_tr_in_flight(c),
		     rate(c->bytes_fetched, p->bytes_fetched, secs),
		     rate(c->served_bytes, p->served_bytes, secs), errors);
	}
}

static void psi_json(struct hbx_json *j, const char *key, const struct psi *p)
{
	const struct psi_res *res[3] = { &p->cpu, &p->memory, &p->io };
	int i, k;

	hbx_json_object_begin(j, key);
	for (i = 0; i < 3; i++) {
		if (!res[i]->valid)
			continue;
		hbx_json_object_begin(j, psi_names[i]);
		for (k = 0; k < 2; k++) {
			const struct psi_line *l = k ? &res[i]->full : &res[i]->some;

			if (!l->valid)
				continue;
			hbx_json_object_begin(j, k ? "full" : "some");
			hbx_json_double(j, "avg10", l->avg10);
			hbx_json_double(j, "avg60", l->avg60);
			hbx_json_double(j, "avg300", l->avg300);
			hbx_json_u64(j, "total-us", l->total);
			hbx_json_object_end(j);
		}
		hbx_json_object_end(j);
	}
	hbx_json_object_end(j);
}

static void render_json(struct top *t)
{
	static const struct hbx_tr_peer zero;
	double secs = secs_between(t);
	struct hbx_json j;
	ssize_t i;

	hbx_json_init(&j, stdout);
	hbx_json_object_begin(&j, NULL);
	hbx_json_double(&j, "interval-s", secs);
	if (t->host_psi)
		psi_json(&j, "psi", &t->host);
	if (t->cgroup) {
		hbx_json_string(&j, "cgroup", t->cgroup);
		psi_json(&j, "cgroup-psi", &t->cg);
	}
	hbx_json_array_begin(&j, "layers");
	for (i = 0; i < t->nr_layers; i++) {
		const struct hbx_layer_info *l = &t->layers[i];
		unsigned int x = l->index < HBX_TR_LAYERS ? l->index : 0;
		const struct hbx_tr_layer *c = &t->cur->layers[x], *p = &t->prev->layers[x];
		uint64_t hits = c->hits - p->hits, all = hits + c->misses - p->misses;

		hbx_json_object_begin(&j, NULL);
		hbx_json_u64(&j, "index", l->index);
		hbx_json_string(&j, "device", l->device);
		hbx_json_double(&j, "read-mbps", rate(c->read_bytes, p->read_bytes, secs));
		hbx_json_double(&j, "fetch-mbps", rate(c->fetch_bytes, p->fetch_bytes, secs));
		hbx_json_double(&j, "served-mbps", rate(c->served_bytes, p->served_bytes, secs));
		hbx_json_double(&j, "hit-ratio", all ? (double)hits / all : 0);
		hbx_json_u64(&j, "chunks-verified", l->chunks_verified);
		hbx_json_u64(&j, "chunks-total", l->chunks_total);
		hbx_json_u64(&j, "verify-failures", l->verify_failures);
		hbx_json_u64(&j, "openers", l->openers);
		hbx_json_bool(&j, "remote", l->nr_peers > 0);
		if (l->nr_peers)
			hbx_json_string(&j, "pull-state", hbx_pull_state_name(l->pull_state));
		hbx_json_object_end(&j);
	}
	hbx_json_array_end(&j);
	hbx_json_array_begin(&j, "peers");
	for (i = 0; i < (ssize_t)t->peers.n; i++) {
		const struct peer_info *pi = &t->peers.v[i];
		const struct hbx_tr_peer *c = hbx_tr_peer_of(t->cur, pi->id) ?: &zero;
		const struct hbx_tr_peer *p = peer_prev(t, pi->id) ?: &zero;
		uint64_t errors = pi->protocol_errors;
		int k;

		for (k = 1; k < HBX_TR_RESULTS; k++)
			errors += c->results[k];
		hbx_json_object_begin(&j, NULL);
		hbx_json_u64(&j, "id", pi->id);
		hbx_json_string(&j, "name", pi->name);
		hbx_json_string(&j, "role", pi->role == HBX_PEER_ROLE_SERVER ? "server" : "client");
		hbx_json_string(&j, "state", pi->state == HBX_PEER_STATE_UP ? "up" : "down");
		hbx_json_u64(&j, "last-rtt-ns", c->last_rtt_ns);
		hbx_json_u64(&j, "in-flight", hbx_tr_in_flight(c));
		hbx_json_double(&j, "fetch-mbps", rate(c->bytes_fetched, p->bytes_fetched, secs));
		hbx_json_double(&j, "served-mbps", rate(c->served_bytes, p->served_bytes, secs));
		hbx_json_u64(&j, "errors", errors);
		hbx_json_string(&j, "last-error", pi->last_error);
		hbx_json_object_end(&j);
	}
	hbx_json_array_end(&j);
	hbx_json_u64(&j, "events-lost", t->cur->lost);
	hbx_json_object_begin(&j, "bpf");
	hbx_json_u64(&j, "run-count", t->cur->run_cnt - t->prev->run_cnt);
	hbx_json_u64(&j, "run-time-ns", t->cur->run_ns - t->prev->run_ns);
	hbx_json_object_end(&j);
	hbx_json_object_end(&j);
	hbx_json_finish(&j);
}

static volatile sig_atomic_t top_stop;

static void top_on_signal(int sig)
{
	top_stop = 1;
}

static struct termios saved_tio;
static bool tio_saved;

static void term_restore(void)
{
	static const char leave[] = "\033[?25h\033[?1049l";

	if (!tio_saved)
		return;
	tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_tio);
	if (write(STDOUT_FILENO, leave, sizeof(leave) - 1) < 0)
		return;
	tio_saved = false;
}

static int term_enter(void)
{
	static const char enter[] = "\033[?1049h\033[?25l\033[H\033[2J";
	struct termios tio;

	if (tcgetattr(STDIN_FILENO, &tio)) {
		hbx_err("the terminal cannot be set up (%s): use -b for batch output",
			strerror(errno));
		return -1;
	}
	saved_tio = tio;
	tio_saved = true;
	atexit(term_restore);
	tio.c_lflag &= ~(ICANON | ECHO);
	tio.c_cc[VMIN] = 0;
	tio.c_cc[VTIME] = 0;
	tcsetattr(STDIN_FILENO, TCSAFLUSH, &tio);
	return write(STDOUT_FILENO, enter, sizeof(enter) - 1) < 0 ? -1 : 0;
}

static int write_all(const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(STDOUT_FILENO, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= n;
	}
	return 0;
}

/* Wait up to delay for a key; true when it is q (or Ctrl-C came). */
static bool wait_key(double delay)
{
	uint64_t end = hbx_tr_now_ns() + (uint64_t)(delay * 1e9);
	struct pollfd pfd = { .fd = STDIN_FILENO, .events = POLLIN };
	char c;

	while (!top_stop) {
		uint64_t now = hbx_tr_now_ns();

		if (now >= end)
			return false;
		if (poll(&pfd, 1, (int)((end - now) / 1000000) + 1) > 0) {
			if (read(STDIN_FILENO, &c, 1) == 1 && (c == 'q' || c == 'Q'))
				return true;
			if (pfd.revents & (POLLHUP | POLLERR))
				return true;
		}
	}
	return true;
}

static int run_interactive(struct top *t)
{
	struct screen s = { .tty = true };
	struct winsize ws;

	if (term_enter())
		return 1;
	while (!top_stop) {
		if (top_sample(t))
			break;
		if (!ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) && ws.ws_col && ws.ws_row) {
			s.width = ws.ws_col;
			s.height = ws.ws_row;
		} else {
			s.width = 80;
			s.height = 24;
		}
		frame_reset(t);
		frame_add(t, "\033[H");
		render(t, &s);
		frame_add(t, "\033[J");
		/* The whole frame in one write: no flicker. */
		if (write_all(t->frame, t->len))
			break;
		if (wait_key(t->delay))
			break;
	}
	term_restore();
	return 0;
}

static const char top_usage[] = "top [--cgroup PATH] [-d DURATION] [-b [-n COUNT]] [-j]";

static const char *cgroup_dir(const char *arg)
{
	static char path[4096];
	struct stat st;

	if (arg[0] == '/' || !strncmp(arg, "./", 2))
		snprintf(path, sizeof(path), "%s", arg);
	else
		snprintf(path, sizeof(path), "/sys/fs/cgroup/%s", arg);
	if (stat(path, &st) || !S_ISDIR(st.st_mode)) {
		hbx_err("no cgroup %s (give its directory, or a path under /sys/fs/cgroup)", path);
		return NULL;
	}
	snprintf(path + strlen(path), sizeof(path) - strlen(path), "/cpu.pressure");
	if (access(path, R_OK)) {
		path[strlen(path) - strlen("/cpu.pressure")] = 0;
		hbx_err("%s has no cpu.pressure: not a cgroup v2 directory, or the kernel has no PSI",
			path);
		return NULL;
	}
	path[strlen(path) - strlen("/cpu.pressure")] = 0;
	return path;
}

int top_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "cgroup", required_argument, NULL, 'C' },
		{ "batch", no_argument, NULL, 'b' },
		{ "iterations", required_argument, NULL, 'n' },
		{ "delay", required_argument, NULL, 'd' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	struct hbx_tr_opts o = { .layer = -1, .peer = -1, .ring_mode = 0 };
	struct sigaction sa = { .sa_handler = top_on_signal };
	bool batch = false, json = false, has_n = false;
	uint64_t count = 0, n = 0;
	struct top *t;
	int c, ret = 0;
	double delay = 1;

	while ((c = getopt_long(argc, argv, "bn:d:j", longopts, NULL)) != -1) {
		switch (c) {
		case 'C':
			break;	/* checked below, after -h */
		case 'b':
			batch = true;
			break;
		case 'n':
			if (hbx_tr_parse_count("--iterations", optarg, &count))
				return 2;
			has_n = true;
			break;
		case 'd':
			if (hbx_tr_parse_secs("--delay", optarg, &delay))
				return 2;
			break;
		case 'j':
			json = true;
			break;
		default:
			return hbx_usage(top_usage);
		}
	}
	if (optind != argc || (has_n && !batch) || (json && batch))
		return hbx_usage(top_usage);
	t = calloc(1, sizeof(*t));
	if (!t) {
		hbx_err("out of memory");
		return 1;
	}
	t->delay = delay;
	t->prev = &t->snaps[0];
	t->cur = &t->snaps[1];
	optind = 1;
	while ((c = getopt_long(argc, argv, "bn:d:j", longopts, NULL)) != -1)
		if (c == 'C' && !(t->cgroup = cgroup_dir(optarg))) {
			free(t);
			return 2;
		}
	if (!batch && !json && !isatty(STDOUT_FILENO)) {
		hbx_err("standard output is not a terminal: use -b for batch frames or -j for JSON");
		free(t);
		return 2;
	}
	t->host_psi = !access("/proc/pressure/cpu", R_OK);
	if (hbx_tr_open(&t->tr, &o)) {
		free(t);
		return 1;
	}
	t->nl = hbx_connect();
	if (!t->nl) {
		ret = 1;
		goto out;
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	/* The first sample: rates need two. */
	if (top_sample(t)) {
		ret = 1;
		goto out;
	}
	if (json) {
		struct timespec ts = { (time_t)delay, (long)((delay - (time_t)delay) * 1e9) };

		nanosleep(&ts, NULL);
		if (top_sample(t))
			ret = 1;
		else
			render_json(t);
	} else if (batch) {
		struct screen s = { 0 };

		while (!top_stop && (!count || n < count)) {
			struct timespec ts = { (time_t)delay,
					       (long)((delay - (time_t)delay) * 1e9) };

			nanosleep(&ts, NULL);
			if (top_stop || top_sample(t))
				break;
			frame_reset(t);
			render(t, &s);
			frame_add(t, "\n");
			if (write_all(t->frame, t->len))
				break;
			n++;
		}
	} else {
		ret = run_interactive(t);
	}
out:
	hbx_tr_close(&t->tr);
	hbx_nl_close(t->nl);
	free(t->layers);
	free(t->peers.v);
	free(t->frame);
	free(t);
	return ret;
}
