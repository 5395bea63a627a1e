/* SPDX-License-Identifier: GPL-2.0 */
/* hbx seccomp learn: run a command in its own cgroup and trace its syscalls. */
#ifndef HBX_SECCOMP_LEARN_H
#define HBX_SECCOMP_LEARN_H

#include <stddef.h>
#include <stdint.h>
#include <seccomp.h>
#include "seccomp_rules.h"

struct hbx_sc_learn {
	const char	*path;		/* the command, found (hbx_which) */
	char *const	*argv;		/* its argv */
	uint32_t	abi_mask;	/* 1 << HBX_SC_ABI_*: what to record */
	scmp_filter_ctx	filter;		/* NULL, or what the command runs under */
	size_t		leftovers;	/* out: processes killed after it exited */
	int		exec_errno;	/* out: why the command did not start */
};

/*
 * Start path in a new cgroup under the cgroup v2 mount, trace every syscall
 * its tasks (children included) enter from its execve on (under l->filter
 * if there is one, with no_new_privs), wait for it, kill
 * what it left running in the cgroup, remove the cgroup.  Fills *t (its
 * args array is malloc'd) and *wstatus.  Returns 0; or -1 with a sentence
 * in err, and nothing traced, when the kernel or the command is not up to
 * it (no cgroup v2, no BPF or BTF, not privileged, exec failed).
 */
int hbx_sc_learn_run(struct hbx_sc_learn *l, struct hbx_sc_trace *t,
		     int *wstatus, char *err, size_t errlen);

#endif
