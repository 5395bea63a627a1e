/* SPDX-License-Identifier: GPL-2.0 */
/* A seccomp profile compiled with libseccomp, and loaded. */
#ifndef HBX_SECCOMP_FILTER_H
#define HBX_SECCOMP_FILTER_H

#include <stdbool.h>
#include <seccomp.h>
#include "seccomp_profile.h"

/*
 * The profile as a libseccomp filter.  complain: syscalls the profile does
 * not mention are logged (SCMP_ACT_LOG) and run instead of getting the
 * default action; the profile's own rules keep their actions.  Returns
 * NULL with a message in err.
 */
scmp_filter_ctx hbx_sc_filter_build(const struct hbx_sc_profile *p,
				    bool complain, char *err, size_t errlen);

/* no_new_privs, then load the filter into this process; errno on failure. */
int hbx_sc_filter_load(scmp_filter_ctx ctx, char *err, size_t errlen);

#endif
