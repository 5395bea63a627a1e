// SPDX-License-Identifier: GPL-2.0
/* hbx seccomp run: a profile compiled with libseccomp and loaded. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include "seccomp_filter.h"

static int add_arches(scmp_filter_ctx ctx, const struct hbx_sc_profile *p,
		      char *err, size_t errlen)
{
	/*
	 * seccomp_init() put the native architecture in already, and it stays
	 * even when the profile does not list it: without it nothing could
	 * even exec the workload.  Syscalls of an architecture the filter
	 * lacks get SCMP_FLTATR_ACT_BADARCH (kill, by default).
	 */
	for (size_t i = 0; i < p->narches; i++) {
		int rc = seccomp_arch_add(ctx, p->arches[i]);

		if (rc && rc != -EEXIST) {
			snprintf(err, errlen, "libseccomp cannot add architecture %s: %s",
				 hbx_sc_arch_name(p->arches[i]), strerror(-rc));
			return -1;
		}
	}
	return 0;
}

static int add_rule(scmp_filter_ctx ctx, const struct hbx_sc_rule *r,
		    char *err, size_t errlen)
{
	struct scmp_arg_cmp cmp[HBX_SC_ARGS];
	char line[256];
	int nr, rc;

	nr = seccomp_syscall_resolve_name(r->name);
	if (nr == __NR_SCMP_ERROR) {
		snprintf(err, errlen, "unknown syscall '%s'", r->name);
		return -1;
	}
	for (uint32_t i = 0; i < r->nargs; i++) {
		cmp[i].arg = r->args[i].index;
		cmp[i].op = r->args[i].op;
		/* For SCMP_CMP_MASKED_EQ, datum_a is the mask: OCI's "value". */
		cmp[i].datum_a = r->args[i].value;
		cmp[i].datum_b = r->args[i].value_two;
	}
	rc = seccomp_rule_add_array(ctx, r->action, nr, r->nargs, cmp);
	if (rc) {
		hbx_sc_rule_format(r, line, sizeof(line));
		snprintf(err, errlen, "libseccomp refuses the rule '%s': %s",
			 line, strerror(-rc));
		return -1;
	}
	return 0;
}

scmp_filter_ctx hbx_sc_filter_build(const struct hbx_sc_profile *p,
				    bool complain, char *err, size_t errlen)
{
	uint32_t def = p->default_action;
	scmp_filter_ctx ctx;
	int rc = 0;

	if (complain && hbx_sc_action_cmp(SCMP_ACT_LOG, def) < 0)
		def = SCMP_ACT_LOG;
	ctx = seccomp_init(def);
	if (!ctx) {
		snprintf(err, errlen, "libseccomp refuses the default action %s",
			 hbx_sc_action_name(def));
		return NULL;
	}
	if (add_arches(ctx, p, err, errlen))
		goto fail;
	if (complain)
		rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_LOG);
	if (!rc && (p->flags & HBX_SC_FLAG_LOG))
		rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_LOG, 1);
	if (!rc && (p->flags & HBX_SC_FLAG_SPEC_ALLOW))
		rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_SSB, 1);
	if (rc) {
		snprintf(err, errlen, "libseccomp cannot set a filter attribute: %s",
			 strerror(-rc));
		goto fail;
	}
	for (size_t i = 0; i < p->nrules; i++) {
		/* libseccomp refuses a rule that does what the default does. */
		if (p->rules[i].action == def)
			continue;
		if (add_rule(ctx, &p->rules[i], err, errlen))
			goto fail;
	}
	return ctx;
fail:
	seccomp_release(ctx);
	return NULL;
}

int hbx_sc_filter_load(scmp_filter_ctx ctx, char *err, size_t errlen)
{
	int rc;

	/* libseccomp would set it too (SCMP_FLTATR_CTL_NNP); say it here. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) {
		snprintf(err, errlen, "cannot set no_new_privs: %s", strerror(errno));
		return -1;
	}
	rc = seccomp_load(ctx);
	if (rc) {
		errno = -rc;
		snprintf(err, errlen, "cannot load the seccomp filter: %s",
			 strerror(-rc));
		return -1;
	}
	return 0;
}
