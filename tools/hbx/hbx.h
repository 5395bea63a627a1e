/* SPDX-License-Identifier: GPL-2.0 */
#ifndef HBX_CLI_H
#define HBX_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "nl.h"
#include "num.h"

/* One subcommand: hbx NAME ARGS... (wg(8)'s table is the model). */
struct hbx_subcommand {
	const char	*name;
	int		(*main)(int argc, char **argv);
	const char	*summary;
};

/* "layer add" while that subcommand runs: prefixes every message. */
extern const char *hbx_context;

/* Print "hbx: <context>: <message>" to stderr. */
void hbx_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print the usage line and return the exit status for bad usage. */
int hbx_usage(const char *usage);
/* Dispatch argv[0] through a table (for nested commands like "layer"). */
int hbx_dispatch(const struct hbx_subcommand *table, const char *group,
		 int argc, char **argv);
/* Open the netlink connection or print why not. */
struct hbx_nl *hbx_connect(void);
/* A subcommand whose one argument is a directory: connect, run fn, exit status. */
int hbx_dir_main(int argc, char **argv, const char *usage,
		 int (*fn)(struct hbx_nl *nl, const char *dir));

/*
 * Number arguments (args.c): parse s strictly (num.h); if it is bad, print
 * one sentence naming the command and what ("--window", "the layer index")
 * and return -1, and the caller exits 2.
 */
int hbx_arg_num(const char *what, const char *s, const struct hbx_num *n,
		uint64_t *v);
int hbx_arg_u32(const char *what, const char *s, uint32_t min, uint32_t max,
		uint32_t *v);
/*
 * A peer's timeout: "--timeout-ms" takes whole milliseconds only (a unit
 * there is refused, pointing to --timeout); "--timeout" takes a duration,
 * a bare number being seconds.  0 is no timeout; the module refuses more
 * than an hour (HBX_PEER_TIMEOUT_MS_MAX in kmod/peer.h).
 */
#define HBX_CLI_TIMEOUT_MAX_MS	(3600 * 1000)
int hbx_arg_timeout(const char *opt, const char *s, uint32_t *ms);

/* The loaded module's HBX_FEATURE_* bits; prints why not and returns -1. */
int hbx_module_features(struct hbx_nl *nl, uint64_t *features);

/* names[value] if the table has it, else "unknown". */
const char *hbx_name_of(const char *const *names, size_t n, uint32_t value);
#define HBX_NAME_OF(names, value) hbx_name_of(names, sizeof(names) / sizeof(names[0]), value)

int version_main(int argc, char **argv);
int info_main(int argc, char **argv);
int serve_main(int argc, char **argv);
int peer_main(int argc, char **argv);
int seccomp_main(int argc, char **argv);

#endif
