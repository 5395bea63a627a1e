// SPDX-License-Identifier: GPL-2.0
/*
 * hbx seccomp learn: every syscall the tasks of one cgroup (v2) enter, per
 * ABI, plus the arguments Docker's default profile filters on (clone's
 * namespace flags, socket's address family, personality's value) and the
 * namespace flags of unshare and setns.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "syscalls.h"

/* Set by user space before load: the cgroup the workload was started in. */
const volatile __u64 target_cgid = 0;
const volatile __u32 abi_mask = HBX_SC_ABI_MASK_ALL;

/*
 * The same cgroup, by fd, set after load: a workload that makes child
 * cgroups and moves tasks into them (a container runtime, systemd) is
 * still traced there.  Comparing cgroup ids alone missed those tasks.
 */
struct {
	__uint(type, BPF_MAP_TYPE_CGROUP_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} target_cg SEC(".maps");

/* Hit counts, read by user space through the mmap'ed .bss. */
__u64 counts[HBX_SC_ABIS][HBX_SC_NR_MAX];
__u64 args_dropped;	/* argument values lost to a full map */
__u64 nr_out_of_range;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, HBX_SC_ARGS_MAX);
	__type(key, struct hbx_sc_arg_key);
	__type(value, __u64);
} args SEC(".maps");

/* The same syscall has a different number in each ABI. */
static const __u32 nr_clone[HBX_SC_ABIS] = { 56, 120, 56 };
static const __u32 nr_socket[HBX_SC_ABIS] = { 41, 359, 41 };
static const __u32 nr_personality[HBX_SC_ABIS] = { 135, 136, 135 };
static const __u32 nr_unshare[HBX_SC_ABIS] = { 272, 310, 272 };
static const __u32 nr_setns[HBX_SC_ABIS] = { 308, 346, 308 };
#define NR_CLONE3 435	/* the same in all three */

static __always_inline void note_arg(__u32 kind, __u32 abi, __u64 value)
{
	struct hbx_sc_arg_key key = { .kind = kind, .abi = abi, .value = value };
	__u64 one = 1, *n;

	n = bpf_map_lookup_elem(&args, &key);
	if (n) {
		__sync_fetch_and_add(n, 1);
		return;
	}
	if (bpf_map_update_elem(&args, &key, &one, BPF_NOEXIST) == 0)
		return;
	/* Another CPU may have inserted it meanwhile; otherwise the map is full. */
	n = bpf_map_lookup_elem(&args, &key);
	if (n)
		__sync_fetch_and_add(n, 1);
	else
		__sync_fetch_and_add(&args_dropped, 1);
}

/* A 32-bit task's syscall: the kernel sets TS_COMPAT for its duration. */
static __always_inline bool in_ia32_syscall(void)
{
	struct task_struct *task = (void *)bpf_get_current_task();

	return BPF_CORE_READ(task, thread_info.status) & HBX_SC_TS_COMPAT;
}

SEC("tp/raw_syscalls/sys_enter")
int sys_enter(struct trace_event_raw_sys_enter *ctx)
{
	long id = ctx->id;
	__u32 abi;
	__u64 nr, flags;

	/* The cgroup itself (cheap), else anywhere below it. */
	if (bpf_get_current_cgroup_id() != target_cgid &&
	    bpf_current_task_under_cgroup(&target_cg, 0) != 1)
		return 0;
	if (id < 0)	/* a tracer cancelled the syscall */
		return 0;
	if (id & HBX_SC_X32_SYSCALL_BIT) {
		abi = HBX_SC_ABI_X32;
		nr = id & ~(long)HBX_SC_X32_SYSCALL_BIT;
	} else {
		abi = in_ia32_syscall() ? HBX_SC_ABI_IA32 : HBX_SC_ABI_X86_64;
		nr = id;
	}
	if (!(abi_mask & (1u << abi)))
		return 0;
	if (nr >= HBX_SC_NR_MAX) {
		__sync_fetch_and_add(&nr_out_of_range, 1);
		return 0;
	}
	__sync_fetch_and_add(&counts[abi][nr], 1);

	if (nr == nr_clone[abi]) {
		note_arg(HBX_SC_ARG_CLONE_NS, abi,
			 ctx->args[0] & HBX_SC_CLONE_NS_MASK);
	} else if (nr == NR_CLONE3) {
		/* struct clone_args starts with __u64 flags. */
		if (bpf_probe_read_user(&flags, sizeof(flags),
					(void *)ctx->args[0]))
			note_arg(HBX_SC_ARG_CLONE3_UNREAD, abi, 0);
		else
			note_arg(HBX_SC_ARG_CLONE3_NS, abi,
				 flags & HBX_SC_CLONE_NS_MASK);
	} else if (nr == nr_socket[abi]) {
		note_arg(HBX_SC_ARG_SOCKET_FAMILY, abi, ctx->args[0]);
	} else if (nr == nr_personality[abi]) {
		note_arg(HBX_SC_ARG_PERSONALITY, abi, ctx->args[0]);
	} else if (nr == nr_unshare[abi]) {
		note_arg(HBX_SC_ARG_UNSHARE_NS, abi, ctx->args[0] & HBX_SC_NS_MASK);
	} else if (nr == nr_setns[abi]) {
		note_arg(HBX_SC_ARG_SETNS_NS, abi, ctx->args[1] & HBX_SC_NS_MASK);
	}
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
