/* SPDX-License-Identifier: GPL-2.0 */
/* Docker's default seccomp profile on x86_64, as a yardstick for stats. */
#ifndef HBX_DOCKER_DEFAULT_H
#define HBX_DOCKER_DEFAULT_H

#include <stdbool.h>
#include <stddef.h>

/* 309 syscall names, sorted (strcmp order). */
extern const size_t hbx_docker_default_count;
const char *const *hbx_docker_default_names(void);
bool hbx_docker_default_allows(const char *name);

#endif
