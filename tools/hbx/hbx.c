// SPDX-License-Identifier: GPL-2.0
/*
 * hbx: configure hyperbox.ko and run the HyperBox toolkit.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "hbx.h"
#include "layer.h"
#include "cert.h"
#include "image.h"
#include "trace.h"

const char *hbx_context = "";
static char context_buf[64], prog_buf[72];

static int help_main(int argc, char **argv);

/*
 * hbx help CMD... and hbx CMD... --help|-h: the command runs with only
 * "--help" for arguments, so its own parser stops at once and calls
 * hbx_usage(), which then prints to stdout and succeeds.
 */
static bool help_mode, help_printed;
static const char *help_summary, *help_page = "hbx";
static char page_buf[32];
static const char *const man_pages[] = {
	"layer", "image", "peer", "serve", "cert", "seccomp", "trace"
};

static const struct hbx_subcommand subcommands[] = {
	{ "version",	version_main,	"show the versions of hbx and the module" },
	{ "info",	info_main,	"show what the loaded module offers" },
	{ "layer",	layer_main,	"build, attach, list, mount and detach layers" },
	{ "rootfs",	rootfs_main,	"stack layers into a container root" },
	{ "image",	image_main,	"import OCI images, mount and run them, serve and pull them lazily" },
	{ "monitor",	monitor_main,	"print the module's notifications" },
	{ "serve",	serve_main,	"accept peers: mutual TLS, then kTLS sockets to the module" },
	{ "peer",	peer_main,	"list and delete peers" },
	{ "cert",	cert_main,	"run the cluster CA: keys, certificates, CRL" },
	{ "seccomp",	seccomp_main,	"learn, enforce, merge and diff seccomp profiles" },
	{ "trace",	trace_main,	"eBPF: latency histograms, rates and events of the module" },
	{ "top",	top_main,	"eBPF: a live view of layers, peers and pressure stalls" },
	{ "help",	help_main,	"show this help" },
	{ NULL, NULL, NULL }
};

void hbx_err(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "hbx: %s%s", hbx_context, *hbx_context ? ": " : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

const char *hbx_name_of(const char *const *names, size_t n, uint32_t value)
{
	return value < n && names[value] ? names[value] : "unknown";
}

int hbx_usage(const char *usage)
{
	/* Callers treat any return as "stop", but help must not go on: exit. */
	if (help_mode) {
		printf("usage: hbx %s\n\n%s.\n", usage, help_summary ? help_summary : "");
		/* What the placeholders with units take (hbx(8), NUMBERS). */
		if (strstr(usage, "DURATION"))
			printf("DURATION: 500ms, 30s, 2m, 1h or 1.5s; a bare number is seconds.\n");
		if (strstr(usage, "SIZE"))
			printf("SIZE: bytes, or 64K, 1M, 1G (K, M, G, T are powers of 1024).\n");
		printf("See %s(8).\n", help_page);
		exit(0);
	}
	fprintf(stderr, "usage: hbx %s\n", usage);
	return 2;
}

static void print_table(FILE *out, const struct hbx_subcommand *table,
			const char *group)
{
	for (; table->name; table++)
		fprintf(out, "  %s%s%-10s %s\n", group, *group ? " " : "",
			table->name, table->summary);
}

static int help_main(int argc, char **argv)
{
	if (argc > 1 && !help_mode && argv[1][0] != '-') {
		help_mode = true;
		return hbx_dispatch(subcommands, "", argc - 1, argv + 1);
	}
	help_printed = true;
	printf("usage: hbx COMMAND [ARGS...]\n\ncommands:\n");
	print_table(stdout, subcommands, "");
	printf("\nhbx help COMMAND... or hbx COMMAND... --help shows a command's usage.\n"
	       "Numbers are strict: sizes take K, M, G, T (64K), durations ms, s, m, h\n"
	       "(500ms, 30s; a bare number is seconds); a bad one exits 2 with a sentence.\n"
	       "Exit status: 0 success, 1 failure, 2 bad usage.  See hbx(8).\n");
	return 0;
}

static bool wants_help(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc && strcmp(argv[i], "--"); i++)
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
			return true;
	return false;
}

/* c's usage (a group's table, or a command's usage line) on stdout. */
static int run_help(const struct hbx_subcommand *c, const char *group,
		    int argc, char **argv)
{
	char *args[] = { (char *)c->name, NULL, NULL, NULL };
	int n = 1, ret;
	size_t i;

	help_mode = true;
	help_summary = c->summary;
	for (i = 0; !*group && i < sizeof(man_pages) / sizeof(man_pages[0]); i++)
		if (!strcmp(c->name, man_pages[i])) {
			snprintf(page_buf, sizeof(page_buf), "hbx-%s", c->name);
			help_page = page_buf;
		}
	/* A group's next word names its subcommand; a command gets no words. */
	if (argc > 1 && argv[1][0] != '-')
		args[n++] = argv[1];
	args[n++] = "--help";
	opterr = 0;
	ret = c->main(n, args);
	if (help_printed)
		return ret;
	printf("usage: hbx %s%s%s ...\n\n%s.\nSee %s(8).\n", group,
	       *group ? " " : "", c->name, c->summary, help_page);
	return 0;
}

int hbx_dispatch(const struct hbx_subcommand *table, const char *group,
		 int argc, char **argv)
{
	const struct hbx_subcommand *c;

	if (argc >= 1 && help_mode && *group &&
	    (!strcmp(argv[0], "--help") || !strcmp(argv[0], "-h"))) {
		help_printed = true;
		printf("usage: hbx %s COMMAND [ARGS...]\n\n%s.\n\ncommands:\n",
		       group, help_summary);
		print_table(stdout, table, group);
		printf("\nSee %s(8).\n", help_page);
		return 0;
	}
	if (argc < 1) {
		fprintf(stderr, "usage: hbx %s%sCOMMAND [ARGS...]\n", group,
			*group ? " " : "");
		print_table(stderr, table, group);
		return 2;
	}
	for (c = table; c->name; c++) {
		if (strcmp(argv[0], c->name))
			continue;
		snprintf(context_buf, sizeof(context_buf), "%s%s%s", group,
			 *group ? " " : "", c->name);
		hbx_context = context_buf;
		/* getopt's own messages then name the whole command. */
		snprintf(prog_buf, sizeof(prog_buf), "hbx %s", context_buf);
		argv[0] = prog_buf;
		if (help_mode || wants_help(argc, argv))
			return run_help(c, group, argc, argv);
		return c->main(argc, argv);
	}
	fprintf(stderr, "hbx: unknown command '%s%s%s'\n", group,
		*group ? " " : "", argv[0]);
	fprintf(stderr, "usage: hbx %s%sCOMMAND [ARGS...]\n", group,
		*group ? " " : "");
	print_table(stderr, table, group);
	return 2;
}

struct hbx_nl *hbx_connect(void)
{
	struct hbx_nl *nl;

	if (hbx_nl_open(&nl) < 0) {
		hbx_err("%s", nl ? hbx_nl_error(nl) : "out of memory");
		hbx_nl_close(nl);
		return NULL;
	}
	return nl;
}

int hbx_dir_main(int argc, char **argv, const char *usage,
		 int (*fn)(struct hbx_nl *nl, const char *dir))
{
	struct hbx_nl *nl;
	int ret;

	if (argc != 2 || argv[1][0] == '-')
		return hbx_usage(usage);
	nl = hbx_connect();
	if (!nl)
		return 1;
	ret = fn(nl, argv[1]) ? 1 : 0;
	hbx_nl_close(nl);
	return ret;
}

int main(int argc, char **argv)
{
	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")))
		return help_main(0, NULL);
	if (argc == 2 && !strcmp(argv[1], "--version"))
		return version_main(1, argv + 1);
	return hbx_dispatch(subcommands, "", argc - 1, argv + 1);
}
