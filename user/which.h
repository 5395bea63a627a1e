/* SPDX-License-Identifier: GPL-2.0 */
/* Find a command as execvp(3) would, to report a missing one up front. */
#ifndef HBX_WHICH_H
#define HBX_WHICH_H

#include <stddef.h>

/*
 * cmd with a slash is taken as it is; otherwise the first executable
 * regular file of that name along $PATH (or /usr/local/bin:/usr/bin:/bin).
 * Returns 0 with the path in out, or -ENOENT, -EACCES, -ENAMETOOLONG.
 */
int hbx_which(const char *cmd, char *out, size_t len);

#endif
