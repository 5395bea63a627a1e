/* SPDX-License-Identifier: GPL-2.0 */
/* Helpers shared by the hyperbox selftests. */
#ifndef HBX_TEST_H
#define HBX_TEST_H

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "nl.h"

/* True if the last error carried a message that contains want. */
static inline int hbx_test_error_has(struct hbx_nl *nl, const char *want)
{
	const char *msg = hbx_nl_error(nl);

	if (!strstr(msg, want)) {
		fprintf(stderr, "# error was \"%s\", wanted \"%s\"\n", msg, want);
		return 0;
	}
	return 1;
}

#endif
