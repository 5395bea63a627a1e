/* SPDX-License-Identifier: GPL-2.0 */
#ifndef HBX_CLI_H
#define HBX_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "nl.h"

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

/* names[value] if the table has it, else "unknown". */
const char *hbx_name_of(const char *const *names, size_t n, uint32_t value);
#define HBX_NAME_OF(names, value) hbx_name_of(names, sizeof(names) / sizeof(names[0]), value)

int version_main(int argc, char **argv);
int info_main(int argc, char **argv);
int serve_main(int argc, char **argv);
int peer_main(int argc, char **argv);
int seccomp_main(int argc, char **argv);

#endif
