/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Shared by syscalls.bpf.c and user/seccomp_learn.c: what the tracer of
 * `hbx seccomp learn` records.  Include <linux/types.h> (user space) or
 * vmlinux.h (BPF) first.
 */
#ifndef HBX_BPF_SYSCALLS_H
#define HBX_BPF_SYSCALLS_H

/* The ABIs an x86-64 kernel runs; syscall numbers differ between them. */
enum hbx_sc_abi {
	HBX_SC_ABI_X86_64,	/* native */
	HBX_SC_ABI_IA32,	/* 32-bit tasks (int 0x80, sysenter, compat syscall) */
	HBX_SC_ABI_X32,		/* x32: the 64-bit table with __X32_SYSCALL_BIT */
	HBX_SC_ABIS,
};

#define HBX_SC_ABI_MASK_ALL	((1u << HBX_SC_ABIS) - 1)

/* Above the highest number of every ABI (x32's go to 547). */
#define HBX_SC_NR_MAX		1024

#define HBX_SC_X32_SYSCALL_BIT	0x40000000
#define HBX_SC_TS_COMPAT	0x0002		/* thread_info.status */

/*
 * Argument values kept for the syscalls Docker's default profile filters by
 * argument.  clone3 passes its flags in memory: the tracer reads them (it
 * cannot always, see HBX_SC_ARG_CLONE3_UNREAD).
 */
enum hbx_sc_arg_kind {
	HBX_SC_ARG_CLONE_NS = 1,	/* clone flags & HBX_SC_CLONE_NS_MASK */
	HBX_SC_ARG_CLONE3_NS,		/* clone_args.flags & the same mask */
	HBX_SC_ARG_CLONE3_UNREAD,	/* clone_args could not be read */
	HBX_SC_ARG_SOCKET_FAMILY,	/* socket arg 0 */
	HBX_SC_ARG_PERSONALITY,		/* personality arg 0 */
	HBX_SC_ARG_UNSHARE_NS,		/* unshare flags & HBX_SC_NS_MASK */
	HBX_SC_ARG_SETNS_NS,		/* setns nstype (arg 1) & HBX_SC_NS_MASK */
};

/* CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET. */
#define HBX_SC_CLONE_NS_MASK	0x7E020000ULL
/*
 * The same plus CLONE_NEWTIME (0x80), which unshare and setns take but
 * clone cannot (the bit is part of clone's exit signal).  Flags outside it
 * create or join no namespace (CLONE_FS, CLONE_FILES, CLONE_SYSVSEM).
 */
#define HBX_SC_NS_MASK		0x7E020080ULL

/* Key of the args hash map; the value is a hit count (__u64). */
struct hbx_sc_arg_key {
	__u32	kind;		/* enum hbx_sc_arg_kind */
	__u32	abi;		/* enum hbx_sc_abi */
	__u64	value;
};

#define HBX_SC_ARGS_MAX		4096

#endif
