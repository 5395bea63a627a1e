// SPDX-License-Identifier: GPL-2.0
/*
 * hbx layer pull N: fetch every chunk of a remote layer that is not here
 * yet, in the foreground.  The kernel does the work (LAYER_PULL starts its
 * background pull, or joins one already running); we watch its progress in
 * LAYER_GET and draw it, until every chunk is here or the pull fails.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "hbx.h"
#include "json.h"
#include "layer.h"

#define POLL_MS		200
#define BAR_WIDTH	30

static const char *const pull_state_names[] = {
	[HBX_PULL_STATE_NONE]		= "none",
	[HBX_PULL_STATE_RUNNING]	= "running",
	[HBX_PULL_STATE_DONE]		= "done",
	[HBX_PULL_STATE_FAILED]		= "failed",
	[HBX_PULL_STATE_STOPPED]	= "stopped",
};

const char *hbx_pull_state_name(uint32_t state)
{
	return HBX_NAME_OF(pull_state_names, state);
}

static double pull_rate(const struct hbx_layer_info *l)
{
	return l->pull_nsecs ? l->pull_bytes * 1e3 / l->pull_nsecs : 0.0;	/* MB/s */
}

/* One progress line; on a terminal it redraws itself in place. */
static void draw(const struct hbx_layer_info *l, bool tty)
{
	unsigned int fill = l->chunks_total ?
			    l->chunks_verified * BAR_WIDTH / l->chunks_total : 0;
	char bar[BAR_WIDTH + 1];

	memset(bar, '#', fill);
	memset(bar + fill, '.', BAR_WIDTH - fill);
	bar[BAR_WIDTH] = '\0';
	fprintf(stderr, "%s%s [%s] %" PRIu64 "/%" PRIu64 " chunks  %.1f MB/s%s",
		tty ? "\r" : "", l->device, bar, l->chunks_verified,
		l->chunks_total, pull_rate(l), tty ? "  " : "\n");
	fflush(stderr);
}

/* Poll until the pull ends; returns its final state, or 0 after an error. */
static uint32_t follow(struct hbx_nl *nl, uint32_t index, bool quiet,
		       struct hbx_layer_info *l)
{
	const struct timespec poll = { 0, POLL_MS * 1000000L };
	bool tty = isatty(STDERR_FILENO);
	unsigned int ticks = 0;

	for (;;) {
		if (hbx_layer_get(nl, index, l))
			return 0;
		if (l->pull_state != HBX_PULL_STATE_RUNNING)
			break;
		/* Off a terminal, a line every two seconds is plenty. */
		if (!quiet && (tty || ticks % (2000 / POLL_MS) == 0))
			draw(l, tty);
		ticks++;
		nanosleep(&poll, NULL);
	}
	if (!quiet) {
		draw(l, tty);
		if (tty)
			fputc('\n', stderr);
	}
	return l->pull_state;
}

int layer_pull_main(int argc, char **argv)
{
	static const char usage[] = "layer pull N [--window N] [-q] [-j]";
	static const struct option opts[] = {
		{ "window", required_argument, NULL, 'w' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	bool quiet = false, json = false;
	struct hbx_layer_info l;
	uint32_t index, window = 0, state;
	struct hbx_nl *nl;
	struct hbx_json j;
	int c;

	while ((c = getopt_long(argc, argv, "qj", opts, NULL)) != -1) {
		switch (c) {
		case 'q': quiet = true; break;
		case 'j': json = quiet = true; break;
		case 'w':
			if (hbx_arg_u32("--window", optarg, 1, HBX_PULL_WINDOW_MAX, &window))
				return 2;
			break;
		default: return hbx_usage(usage);
		}
	}
	if (optind != argc - 1)
		return hbx_usage(usage);
	if (hbx_parse_layer_index("the layer", argv[optind], &index))
		return 2;
	nl = hbx_connect();
	if (!nl)
		return 1;
	state = hbx_layer_pull_start(nl, index, window) ? 0 : follow(nl, index, quiet, &l);
	hbx_nl_close(nl);
	if (!state)
		return 1;
	if (json) {
		hbx_json_init(&j, stdout);
		hbx_layer_json(&j, NULL, &l);
		hbx_json_finish(&j);
	}
	if (state == HBX_PULL_STATE_FAILED) {
		hbx_err("/dev/%s: the pull failed: %s (%" PRIu64 " of %" PRIu64
			" chunks here; run it again to resume)", l.device,
			strerror(l.pull_error), l.chunks_verified, l.chunks_total);
		return 1;
	}
	if (state != HBX_PULL_STATE_DONE) {
		hbx_err("/dev/%s: the pull stopped (layer deleted?)", l.device);
		return 1;
	}
	if (!quiet)
		printf("/dev/%s: %" PRIu64 " chunks here; %" PRIu64 " bytes fetched in %.2f s"
		       " (%.1f MB/s)\n", l.device, l.chunks_total, l.pull_bytes,
		       l.pull_nsecs / 1e9, pull_rate(&l));
	return 0;
}
