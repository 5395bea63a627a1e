/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Seccomp profiles in the OCI runtime-spec / Docker JSON format: the model,
 * merge and diff (seccomp_profile.c), load and save (seccomp_json.c).  In memory a profile is one rule per syscall name
 * (a JSON entry naming several syscalls becomes several rules), kept
 * sorted, so that saving gives the same bytes for the same rules.
 */
#ifndef HBX_SECCOMP_PROFILE_H
#define HBX_SECCOMP_PROFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <seccomp.h>

#define HBX_SC_NAME_MAX		64
#define HBX_SC_ARGS		6	/* a syscall has at most six */
#define HBX_SC_ARCHES_MAX	24
#define HBX_SC_ERR_MAX		256

struct hbx_sc_arg {
	uint32_t		index;
	enum scmp_compare	op;
	uint64_t		value;		/* the mask for SCMP_CMP_MASKED_EQ */
	uint64_t		value_two;	/* the datum for SCMP_CMP_MASKED_EQ */
};

struct hbx_sc_rule {
	char			name[HBX_SC_NAME_MAX];
	uint32_t		action;		/* SCMP_ACT_*, errno included */
	uint32_t		nargs;
	struct hbx_sc_arg	args[HBX_SC_ARGS];
};

struct hbx_sc_profile {
	uint32_t		default_action;	/* SCMP_ACT_*, errno included */
	uint32_t		arches[HBX_SC_ARCHES_MAX];	/* SCMP_ARCH_* */
	size_t			narches;
	uint32_t		flags;		/* HBX_SC_FLAG_* */
	struct hbx_sc_rule	*rules;
	size_t			nrules, cap;
};

/* OCI "flags": seccomp(2) filter flags libseccomp can set. */
#define HBX_SC_FLAG_LOG		0x1	/* SECCOMP_FILTER_FLAG_LOG */
#define HBX_SC_FLAG_SPEC_ALLOW	0x2	/* SECCOMP_FILTER_FLAG_SPEC_ALLOW */

/* An empty profile: default SCMP_ACT_ERRNO(EPERM), no architectures. */
void hbx_sc_profile_init(struct hbx_sc_profile *p);
void hbx_sc_profile_free(struct hbx_sc_profile *p);

/*
 * Add a rule (copied), dropping exact duplicates.  Returns 0, or -1 with a
 * message in err when it conflicts with a rule of the same syscall and
 * arguments but another action.
 */
int hbx_sc_profile_add(struct hbx_sc_profile *p, const struct hbx_sc_rule *r,
		       char *err, size_t errlen);
/* Add an architecture unless present. */
int hbx_sc_profile_add_arch(struct hbx_sc_profile *p, uint32_t arch);
/* Sort the rules and architectures into their canonical order. */
void hbx_sc_profile_sort(struct hbx_sc_profile *p);

/* Parse a profile; on failure err says what and where. */
int hbx_sc_profile_parse(const char *json, struct hbx_sc_profile *p,
			 char *err, size_t errlen);
int hbx_sc_profile_load(const char *path, struct hbx_sc_profile *p,
			char *err, size_t errlen);
/* Canonical JSON (sorted, two-space indent, trailing newline); malloc'd. */
char *hbx_sc_profile_to_json(const struct hbx_sc_profile *p);
/* Write through a temporary file and rename: never a partial profile. */
int hbx_sc_profile_save(const char *path, const struct hbx_sc_profile *p,
			char *err, size_t errlen);

/*
 * out = the union of a and b: every rule of either, the architectures of
 * both, the more permissive default action.  A syscall allowed without
 * conditions absorbs that syscall's conditional rules.
 */
int hbx_sc_profile_merge(const struct hbx_sc_profile *a,
			 const struct hbx_sc_profile *b,
			 struct hbx_sc_profile *out, char *err, size_t errlen);

/* One rule as a line of text: "read", "socket arg0 == 1", ... */
void hbx_sc_rule_format(const struct hbx_sc_rule *r, char *buf, size_t len);

/* What diff reports: "- X" in a only, "+ X" in b only, sorted. */
struct hbx_sc_diff {
	char	**removed, **added;
	size_t	nremoved, nadded;
};
int hbx_sc_profile_diff(const struct hbx_sc_profile *a,
			const struct hbx_sc_profile *b, struct hbx_sc_diff *d);
void hbx_sc_diff_free(struct hbx_sc_diff *d);

/* Orders actions from the most permissive (SCMP_ACT_ALLOW) down. */
int hbx_sc_action_cmp(uint32_t a, uint32_t b);
/* Whether an action lets the syscall run. */
bool hbx_sc_action_allows(uint32_t action);
/* Sorted, distinct names the profile allows, conditionally or not, that
 * exist on arch (0: on any architecture).  Returns the count. */
size_t hbx_sc_profile_allowed(const struct hbx_sc_profile *p, uint32_t arch,
			      const char ***names);

/* Names and values: "SCMP_ACT_ALLOW", "SCMP_ARCH_X86_64", "SCMP_CMP_EQ". */
int hbx_sc_action_parse(const char *name, uint32_t errno_ret, uint32_t *action);
const char *hbx_sc_action_name(uint32_t action);
int hbx_sc_arch_parse(const char *name, uint32_t *arch);
const char *hbx_sc_arch_name(uint32_t arch);
int hbx_sc_op_parse(const char *name, enum scmp_compare *op);
const char *hbx_sc_op_name(enum scmp_compare op);
/* Whether libseccomp knows the syscall, on any architecture. */
bool hbx_sc_name_known(const char *name);

#endif
