// SPDX-License-Identifier: GPL-2.0
/*
 * hbx seccomp learn|run|merge|diff|stats: learn a workload's syscalls with
 * eBPF, write an OCI seccomp profile, enforce it with libseccomp.
 */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <json-c/json.h>
#include "docker_default.h"
#include "hbx.h"
#include "seccomp_filter.h"
#include "seccomp_learn.h"
#include "seccomp_profile.h"
#include "seccomp_rules.h"
#include "which.h"

static void print_json(struct json_object *o)
{
	puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
					    JSON_C_TO_STRING_NOSLASHESCAPE));
	fflush(stdout);
	json_object_put(o);
}

static struct json_object *json_lines(char *const *v, size_t n)
{
	struct json_object *a = json_object_new_array();

	for (size_t i = 0; i < n; i++)
		json_object_array_add(a, json_object_new_string(v[i]));
	return a;
}

static void warn_cb(const char *msg, void *arg)
{
	(void)arg;
	hbx_err("warning: %s", msg);
}

/* What the shell would report for it. */
static int exit_code(int wstatus)
{
	if (WIFEXITED(wstatus))
		return WEXITSTATUS(wstatus);
	if (WIFSIGNALED(wstatus))
		return 128 + WTERMSIG(wstatus);
	return 1;
}

static int load(const char *path, struct hbx_sc_profile *p)
{
	char err[HBX_SC_ERR_MAX + 4200];

	if (hbx_sc_profile_load(path, p, err, sizeof(err))) {
		hbx_err("%s", err);
		return -1;
	}
	return 0;
}

static int save(const char *path, const struct hbx_sc_profile *p)
{
	char err[HBX_SC_ERR_MAX + 8400];

	if (hbx_sc_profile_save(path, p, err, sizeof(err))) {
		hbx_err("%s", err);
		return -1;
	}
	return 0;
}

/* Before the workload runs, not after: where the profile will go. */
static int check_writable(const char *path)
{
	char *copy = strdup(path);
	int ret = 0;

	if (copy && access(dirname(copy), W_OK)) {
		hbx_err("cannot write %s: %s", path, strerror(errno));
		ret = -1;
	}
	free(copy);
	return ret;
}

/* A command to run: found up front so a typo is an error, not a profile. */
static int find_command(const char *cmd, char *path, size_t len)
{
	int e = hbx_which(cmd, path, len);

	if (e) {
		hbx_err("cannot run '%s': %s", cmd, strerror(-e));
		return e == -EACCES ? 126 : 127;
	}
	return 0;
}

static int learn_main(int argc, char **argv)
{
	static const char usage[] =
		"seccomp learn {-o PROFILE | --append PROFILE [-o OUT]} [--arch native|all] [-j] -- COMMAND [ARG...]";
	static const struct option opts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "append", required_argument, NULL, 'a' },
		{ "arch", required_argument, NULL, 'A' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	const char *output = NULL, *append = NULL;
	struct hbx_sc_profile learned, old, merged, *result = &learned;
	struct hbx_sc_learn l = { .abi_mask = 1u << HBX_SC_ABI_X86_64 };
	struct hbx_sc_trace *t = NULL;
	struct hbx_sc_diff d = { 0 };
	char path[4096], err[HBX_SC_ERR_MAX + 8400];
	const char **names;
	bool json = false;
	int c, rc = 0, wstatus = 0, status = 1;

	while ((c = getopt_long(argc, argv, "+o:j", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			output = optarg;
			break;
		case 'a':
			append = optarg;
			break;
		case 'A':
			if (!strcmp(optarg, "all")) {
				l.abi_mask = HBX_SC_ABI_MASK_ALL;
			} else if (!strcmp(optarg, "native")) {
				l.abi_mask = 1u << HBX_SC_ABI_X86_64;
			} else {
				hbx_err("unknown architecture '%s' (native or all)", optarg);
				return 2;
			}
			break;
		case 'j':
			json = true;
			break;
		default:
			return hbx_usage(usage);
		}
	}
	if (optind >= argc || (!output && !append))
		return hbx_usage(usage);
	if (!output)
		output = append;

	hbx_sc_profile_init(&learned);
	hbx_sc_profile_init(&old);
	hbx_sc_profile_init(&merged);
	if ((append && load(append, &old)) || check_writable(output))
		goto out;
	rc = find_command(argv[optind], path, sizeof(path));
	if (rc)
		goto out;
	t = calloc(1, sizeof(*t));
	if (!t) {
		hbx_err("out of memory");
		goto out;
	}
	/*
	 * --append: the workload runs under the profile in complain mode, as
	 * `run --complain` would run it, so what the profile itself changes
	 * (clone3's ENOSYS and glibc's fallback to clone) is what gets traced,
	 * and the audit log shows what the profile lacked.
	 */
	if (append) {
		l.filter = hbx_sc_filter_build(&old, true, err, sizeof(err));
		if (!l.filter) {
			hbx_err("%s: %s", append, err);
			goto out;
		}
	}
	l.path = path;
	l.argv = argv + optind;
	if (hbx_sc_learn_run(&l, t, &wstatus, err, sizeof(err))) {
		hbx_err("%s", err);
		/* The command never ran: say so the way a shell would. */
		if (l.exec_errno)
			status = l.exec_errno == ENOENT ? 127 : 126;
		goto out;
	}
	if (l.leftovers)
		hbx_err("warning: killed %zu process%s the command left running",
			l.leftovers, l.leftovers == 1 ? "" : "es");
	if (hbx_sc_trace_to_profile(t, &learned, warn_cb, NULL, err,
				    sizeof(err))) {
		hbx_err("%s", err);
		goto out;
	}
	if (append) {
		if (hbx_sc_profile_merge(&old, &learned, &merged, err,
					 sizeof(err))) {
			hbx_err("%s", err);
			goto out;
		}
		result = &merged;
	}
	if (save(output, result))
		goto out;
	status = exit_code(wstatus);
	if (json) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "profile", json_object_new_string(output));
		json_object_object_add(o, "allowed", json_object_new_uint64(
			hbx_sc_profile_allowed(result, 0, &names)));
		free(names);
		if (append && !hbx_sc_profile_diff(&old, result, &d))
			json_object_object_add(o, "added",
					       json_lines(d.added, d.nadded));
		json_object_object_add(o, "leftovers",
				       json_object_new_uint64(l.leftovers));
		json_object_object_add(o, "exit-status",
				       json_object_new_int(status));
		print_json(o);
	}
out:
	if (l.filter)
		seccomp_release(l.filter);
	hbx_sc_diff_free(&d);
	if (t)
		free(t->args);
	free(t);
	hbx_sc_profile_free(&learned);
	hbx_sc_profile_free(&old);
	hbx_sc_profile_free(&merged);
	return rc ? rc : status;
}

static int run_main(int argc, char **argv)
{
	static const char usage[] =
		"seccomp run --profile PROFILE [--complain] -- COMMAND [ARG...]";
	static const struct option opts[] = {
		{ "profile", required_argument, NULL, 'p' },
		{ "complain", no_argument, NULL, 'c' },
		{ NULL, 0, NULL, 0 }
	};
	const char *profile = NULL;
	struct hbx_sc_profile p;
	char path[4096], err[HBX_SC_ERR_MAX];
	scmp_filter_ctx ctx;
	bool complain = false;
	int c, rc;

	while ((c = getopt_long(argc, argv, "+p:", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			profile = optarg;
			break;
		case 'c':
			complain = true;
			break;
		default:
			return hbx_usage(usage);
		}
	}
	if (!profile || optind >= argc)
		return hbx_usage(usage);
	if (load(profile, &p))
		return 1;
	rc = find_command(argv[optind], path, sizeof(path));
	if (rc) {
		hbx_sc_profile_free(&p);
		return rc;
	}
	ctx = hbx_sc_filter_build(&p, complain, err, sizeof(err));
	hbx_sc_profile_free(&p);
	if (!ctx) {
		hbx_err("%s: %s", profile, err);
		return 1;
	}
	fflush(NULL);
	if (hbx_sc_filter_load(ctx, err, sizeof(err))) {
		hbx_err("%s", err);
		seccomp_release(ctx);
		return 1;
	}
	/* From here on only what the profile allows: execve, at least. */
	execv(path, argv + optind);
	rc = errno;
	hbx_err("cannot run '%s': %s%s", path, strerror(rc),
		rc == EPERM ? " (does the profile allow execve?)" : "");
	return rc == ENOENT ? 127 : 126;
}

static int merge_main(int argc, char **argv)
{
	static const char usage[] = "seccomp merge PROFILE PROFILE... -o OUT";
	static const struct option opts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 }
	};
	struct hbx_sc_profile acc, next, merged;
	const char *output = NULL;
	char err[HBX_SC_ERR_MAX];
	int c, status = 1;

	while ((c = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
		if (c != 'o')
			return hbx_usage(usage);
		output = optarg;
	}
	if (!output || argc - optind < 2)
		return hbx_usage(usage);
	if (load(argv[optind], &acc))
		return 1;
	for (int i = optind + 1; i < argc; i++) {
		if (load(argv[i], &next))
			goto out;
		c = hbx_sc_profile_merge(&acc, &next, &merged, err, sizeof(err));
		hbx_sc_profile_free(&next);
		if (c) {
			hbx_err("%s", err);
			goto out;
		}
		hbx_sc_profile_free(&acc);
		acc = merged;
	}
	if (!save(output, &acc))
		status = 0;
out:
	hbx_sc_profile_free(&acc);
	return status;
}

/* Exit 0: the same; 1: different; 2: trouble (as diff(1)). */
static int diff_main(int argc, char **argv)
{
	static const char usage[] = "seccomp diff PROFILE_A PROFILE_B [-j]";
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	struct hbx_sc_profile a, b;
	struct hbx_sc_diff d;
	bool json = false;
	size_t i = 0, j = 0;
	int c;

	while ((c = getopt_long(argc, argv, "j", opts, NULL)) != -1) {
		if (c != 'j')
			return hbx_usage(usage);
		json = true;
	}
	if (argc - optind != 2)
		return hbx_usage(usage);
	if (load(argv[optind], &a))
		return 2;
	if (load(argv[optind + 1], &b)) {
		hbx_sc_profile_free(&a);
		return 2;
	}
	c = hbx_sc_profile_diff(&a, &b, &d);
	hbx_sc_profile_free(&a);
	hbx_sc_profile_free(&b);
	if (c) {
		hbx_err("out of memory");
		return 2;
	}
	if (json) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "same", json_object_new_boolean(
			!d.nremoved && !d.nadded));
		json_object_object_add(o, "removed",
				       json_lines(d.removed, d.nremoved));
		json_object_object_add(o, "added", json_lines(d.added, d.nadded));
		print_json(o);
	} else {
		/* Interleaved by text, so "- clone" sits by "+ clone arg0 ...". */
		while (i < d.nremoved || j < d.nadded) {
			if (j == d.nadded ||
			    (i < d.nremoved && strcmp(d.removed[i], d.added[j]) <= 0))
				printf("- %s\n", d.removed[i++]);
			else
				printf("+ %s\n", d.added[j++]);
		}
	}
	c = d.nremoved || d.nadded;
	hbx_sc_diff_free(&d);
	return c;
}

static int stats_main(int argc, char **argv)
{
	static const char usage[] = "seccomp stats PROFILE [-j]";
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	struct hbx_sc_profile p;
	const char **names;
	size_t n, outside = 0, docker = hbx_docker_default_count;
	double reduction;
	bool json = false;
	char pct[32];
	int c;

	while ((c = getopt_long(argc, argv, "j", opts, NULL)) != -1) {
		if (c != 'j')
			return hbx_usage(usage);
		json = true;
	}
	if (argc - optind != 1)
		return hbx_usage(usage);
	if (load(argv[optind], &p))
		return 1;
	n = hbx_sc_profile_allowed(&p, SCMP_ARCH_X86_64, &names);
	if (!names) {
		hbx_err("out of memory");
		hbx_sc_profile_free(&p);
		return 1;
	}
	for (size_t i = 0; i < n; i++)
		outside += !hbx_docker_default_allows(names[i]);
	reduction = 100.0 * (1.0 - (double)n / (double)docker);
	snprintf(pct, sizeof(pct), "%.1f", reduction);

	if (json) {
		struct json_object *o = json_object_new_object(), *a;

		json_object_object_add(o, "allowed", json_object_new_uint64(n));
		json_object_object_add(o, "docker-default-allowed",
				       json_object_new_uint64(docker));
		json_object_object_add(o, "reduction-percent",
				       json_object_new_double_s(reduction, pct));
		a = json_object_new_array();
		for (size_t i = 0; i < n; i++)
			if (!hbx_docker_default_allows(names[i]))
				json_object_array_add(a, json_object_new_string(names[i]));
		json_object_object_add(o, "not-in-docker-default", a);
		json_object_object_add(o, "default-action", json_object_new_string(
			hbx_sc_action_name(p.default_action)));
		print_json(o);
	} else {
		printf("allowed (x86_64):         %zu\n", n);
		printf("Docker default (x86_64):  %zu\n", docker);
		printf("reduction:                %s%%\n", pct);
		printf("not in Docker's default:  %zu", outside);
		for (size_t i = 0, k = 0; i < n; i++)
			if (!hbx_docker_default_allows(names[i]))
				printf("%s%s", k++ ? ", " : " (", names[i]);
		printf("%s\n", outside ? ")" : "");
		if (hbx_sc_action_allows(p.default_action))
			printf("note: the default action (%s) allows every other syscall\n",
			       hbx_sc_action_name(p.default_action));
	}
	free(names);
	hbx_sc_profile_free(&p);
	return 0;
}

static const struct hbx_subcommand seccomp_subcommands[] = {
	{ "learn",	learn_main,	"trace a command's syscalls into a profile" },
	{ "run",	run_main,	"run a command under a profile" },
	{ "merge",	merge_main,	"the union of profiles" },
	{ "diff",	diff_main,	"what one profile allows that the other does not" },
	{ "stats",	stats_main,	"a profile against Docker's default" },
	{ NULL, NULL, NULL }
};

int seccomp_main(int argc, char **argv)
{
	return hbx_dispatch(seccomp_subcommands, "seccomp", argc - 1, argv + 1);
}
