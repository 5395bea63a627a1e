/* SPDX-License-Identifier: GPL-2.0 */
/*
 * From what a learn run saw to a profile: syscall numbers named per ABI,
 * and argument rules for clone, clone3, socket and personality.
 */
#ifndef HBX_SECCOMP_RULES_H
#define HBX_SECCOMP_RULES_H

#include <linux/types.h>
#include <stdint.h>
#include "seccomp_profile.h"
#include "syscalls.h"	/* bpf/: the ABIs and argument kinds */

/* One argument value the tracer saw (struct hbx_sc_arg_key + its count). */
struct hbx_sc_argval {
	uint32_t	kind;	/* enum hbx_sc_arg_kind */
	uint32_t	abi;	/* enum hbx_sc_abi */
	uint64_t	value;
	uint64_t	hits;
};

/* What a learn run saw, whoever traced it. */
struct hbx_sc_trace {
	uint32_t		abi_mask;	/* the ABIs that were traced */
	uint64_t		counts[HBX_SC_ABIS][HBX_SC_NR_MAX];
	struct hbx_sc_argval	*args;
	size_t			nargs;
	uint64_t		args_dropped;	/* values the tracer lost */
};

typedef void (*hbx_sc_warn_fn)(const char *msg, void *arg);

/* The libseccomp architecture of each ABI. */
uint32_t hbx_sc_abi_arch(enum hbx_sc_abi abi);

/*
 * A profile allowing what the trace saw and nothing else: default
 * SCMP_ACT_ERRNO(EPERM), the traced ABIs' architectures.  Things it
 * cannot express exactly are reported through warn (may be NULL).
 */
int hbx_sc_trace_to_profile(const struct hbx_sc_trace *t,
			    struct hbx_sc_profile *p, hbx_sc_warn_fn warn,
			    void *warn_arg, char *err, size_t errlen);

#endif
