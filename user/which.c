// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "which.h"

static int executable(const char *path)
{
	struct stat st;

	if (stat(path, &st))
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EACCES;
	return access(path, X_OK) ? -errno : 0;
}

int hbx_which(const char *cmd, char *out, size_t len)
{
	const char *path = getenv("PATH"), *p, *end;
	int err = -ENOENT, e;

	if (!*cmd)
		return -ENOENT;
	if (strchr(cmd, '/')) {
		if (snprintf(out, len, "%s", cmd) >= (int)len)
			return -ENAMETOOLONG;
		return executable(out);
	}
	if (!path)
		path = "/usr/local/bin:/usr/bin:/bin";
	for (p = path; ; p = end + 1) {
		int dirlen;

		end = strchrnul(p, ':');
		dirlen = (int)(end - p);
		/* An empty entry means the current directory, as in execvp. */
		if (snprintf(out, len, "%.*s%s%s", dirlen, p, dirlen ? "/" : "",
			     cmd) < (int)len) {
			e = executable(out);
			if (!e)
				return 0;
			/* Like execvp: report EACCES if that is all we found. */
			if (e == -EACCES)
				err = e;
		}
		if (!*end)
			break;
	}
	return err;
}
