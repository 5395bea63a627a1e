// SPDX-License-Identifier: GPL-2.0
/*
 * A learn run's trace as a profile.  Most syscalls are allowed outright.
 * The ones Docker's default profile filters by argument get rules no
 * other recorder emits, allowing exactly the values the workload used:
 *
 *   clone        (flags & CLONE_NEW*) == each namespace set seen, so a
 *                workload that never made namespaces cannot start to;
 *   clone3       its flags are in memory, out of seccomp's reach: it gets
 *                ENOSYS, as in Docker's profile, and glibc falls back to
 *                clone, whose rule then applies (clone3's namespace sets
 *                are added to clone's);
 *   socket       == each address family seen;
 *   personality  == each value seen;
 *   unshare      (flags & CLONE_NEW*) == each namespace set seen, and
 *   setns        (nstype & CLONE_NEW*) == each seen: as for clone, a
 *                workload that never made or joined a namespace cannot
 *                start to (Docker denies both without CAP_SYS_ADMIN;
 *                allowing them outright would let a learned profile
 *                undo the isolation it is meant to keep).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "seccomp_rules.h"

uint32_t hbx_sc_abi_arch(enum hbx_sc_abi abi)
{
	switch (abi) {
	case HBX_SC_ABI_IA32:
		return SCMP_ARCH_X86;
	case HBX_SC_ABI_X32:
		return SCMP_ARCH_X32;
	default:
		return SCMP_ARCH_X86_64;
	}
}

static const char *abi_label(enum hbx_sc_abi abi)
{
	static const char *const labels[] = { "x86_64", "i386", "x32" };

	return abi < HBX_SC_ABIS ? labels[abi] : "?";
}

struct build {
	const struct hbx_sc_trace	*t;
	struct hbx_sc_profile		*p;
	hbx_sc_warn_fn			warn;
	void				*warn_arg;
	char				*err;
	size_t				errlen;
	bool				seen_clone, seen_clone3, seen_socket,
					seen_personality, seen_unshare,
					seen_setns;
};

static void warn(struct build *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void warn(struct build *b, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	if (!b->warn)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	b->warn(msg, b->warn_arg);
}

static int add(struct build *b, const char *name, uint32_t action,
	       const struct hbx_sc_arg *arg)
{
	struct hbx_sc_rule r;

	memset(&r, 0, sizeof(r));
	snprintf(r.name, sizeof(r.name), "%s", name);
	r.action = action;
	if (arg) {
		r.args[0] = *arg;
		r.nargs = 1;
	}
	return hbx_sc_profile_add(b->p, &r, b->err, b->errlen);
}

static bool traced(const struct build *b, uint32_t abi)
{
	return abi < HBX_SC_ABIS && (b->t->abi_mask & (1u << abi));
}

/* Every syscall seen, by name; the argument-filtered ones are noted. */
static int add_syscalls(struct build *b)
{
	for (uint32_t abi = 0; abi < HBX_SC_ABIS; abi++) {
		if (!traced(b, abi))
			continue;
		for (uint32_t nr = 0; nr < HBX_SC_NR_MAX; nr++) {
			char *name;
			int rc = 0;

			if (!b->t->counts[abi][nr])
				continue;
			name = seccomp_syscall_resolve_num_arch(hbx_sc_abi_arch(abi),
				abi == HBX_SC_ABI_X32 ? nr | HBX_SC_X32_SYSCALL_BIT : nr);
			if (!name) {
				warn(b, "syscall %u of %s has no name in this libseccomp; the profile cannot allow it",
				     nr, abi_label(abi));
				continue;
			}
			if (!strcmp(name, "clone"))
				b->seen_clone = true;
			else if (!strcmp(name, "clone3"))
				b->seen_clone3 = true;
			else if (!strcmp(name, "socket"))
				b->seen_socket = true;
			else if (!strcmp(name, "personality"))
				b->seen_personality = true;
			else if (!strcmp(name, "unshare"))
				b->seen_unshare = true;
			else if (!strcmp(name, "setns"))
				b->seen_setns = true;
			else
				rc = add(b, name, SCMP_ACT_ALLOW, NULL);
			free(name);
			if (rc)
				return rc;
		}
	}
	return 0;
}

static bool saw_kind(const struct build *b, uint32_t kind)
{
	for (size_t i = 0; i < b->t->nargs; i++)
		if (b->t->args[i].kind == kind && traced(b, b->t->args[i].abi))
			return true;
	return false;
}

/* One rule per distinct value of the given kinds, on argument index. */
static int add_value_rules(struct build *b, const char *name, uint32_t kind1,
			   uint32_t kind2, unsigned int index,
			   enum scmp_compare op, uint64_t mask)
{
	for (size_t i = 0; i < b->t->nargs; i++) {
		const struct hbx_sc_argval *v = &b->t->args[i];
		struct hbx_sc_arg arg = { .index = index, .op = op };

		if ((v->kind != kind1 && v->kind != kind2) || !traced(b, v->abi))
			continue;
		if (op == SCMP_CMP_MASKED_EQ) {
			arg.value = mask;
			arg.value_two = v->value & mask;
		} else {
			arg.value = v->value;
		}
		/* hbx_sc_profile_add() drops the duplicates across ABIs. */
		if (add(b, name, SCMP_ACT_ALLOW, &arg))
			return -1;
	}
	return 0;
}

static int add_arg_rules(struct build *b)
{
	if (b->t->args_dropped) {
		/* Some values are unknown: allowing only the known ones could
		 * break the workload. */
		warn(b, "the tracer lost %llu argument values; clone, socket, personality, unshare and setns are allowed with any arguments",
		     (unsigned long long)b->t->args_dropped);
		if ((b->seen_clone && add(b, "clone", SCMP_ACT_ALLOW, NULL)) ||
		    (b->seen_unshare && add(b, "unshare", SCMP_ACT_ALLOW, NULL)) ||
		    (b->seen_setns && add(b, "setns", SCMP_ACT_ALLOW, NULL)) ||
		    (b->seen_clone3 && add(b, "clone3", SCMP_ACT_ALLOW, NULL)) ||
		    (b->seen_socket && add(b, "socket", SCMP_ACT_ALLOW, NULL)) ||
		    (b->seen_personality &&
		     add(b, "personality", SCMP_ACT_ALLOW, NULL)))
			return -1;
		return 0;
	}
	if (b->seen_clone3) {
		if (saw_kind(b, HBX_SC_ARG_CLONE3_UNREAD)) {
			warn(b, "clone3's arguments could not be read; clone3 is allowed with any flags");
			if (add(b, "clone3", SCMP_ACT_ALLOW, NULL))
				return -1;
		} else if (add(b, "clone3", SCMP_ACT_ERRNO(ENOSYS), NULL)) {
			return -1;
		}
	}
	if ((b->seen_clone || b->seen_clone3) &&
	    add_value_rules(b, "clone", HBX_SC_ARG_CLONE_NS,
			    HBX_SC_ARG_CLONE3_NS, 0, SCMP_CMP_MASKED_EQ,
			    HBX_SC_CLONE_NS_MASK))
		return -1;
	if (b->seen_socket &&
	    add_value_rules(b, "socket", HBX_SC_ARG_SOCKET_FAMILY, 0, 0,
			    SCMP_CMP_EQ, 0))
		return -1;
	if (b->seen_personality &&
	    add_value_rules(b, "personality", HBX_SC_ARG_PERSONALITY, 0, 0,
			    SCMP_CMP_EQ, 0))
		return -1;
	if (b->seen_unshare &&
	    add_value_rules(b, "unshare", HBX_SC_ARG_UNSHARE_NS, 0, 0,
			    SCMP_CMP_MASKED_EQ, HBX_SC_NS_MASK))
		return -1;
	/* nstype 0 lets the fd choose the type: it is allowed only if seen. */
	if (b->seen_setns &&
	    add_value_rules(b, "setns", HBX_SC_ARG_SETNS_NS, 0, 1,
			    SCMP_CMP_MASKED_EQ, HBX_SC_NS_MASK))
		return -1;
	return 0;
}

int hbx_sc_trace_to_profile(const struct hbx_sc_trace *t,
			    struct hbx_sc_profile *p, hbx_sc_warn_fn warn_fn,
			    void *warn_arg, char *err, size_t errlen)
{
	struct build b = {
		.t = t, .p = p, .warn = warn_fn, .warn_arg = warn_arg,
		.err = err, .errlen = errlen,
	};

	hbx_sc_profile_init(p);
	p->default_action = SCMP_ACT_ERRNO(EPERM);
	for (uint32_t abi = 0; abi < HBX_SC_ABIS; abi++)
		if (traced(&b, abi))
			hbx_sc_profile_add_arch(p, hbx_sc_abi_arch(abi));
	if (add_syscalls(&b) || add_arg_rules(&b)) {
		hbx_sc_profile_free(p);
		return -1;
	}
	hbx_sc_profile_sort(p);
	return 0;
}
