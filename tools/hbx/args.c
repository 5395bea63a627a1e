// SPDX-License-Identifier: GPL-2.0
/*
 * Number arguments of hbx's commands, through user/num.c's strict parser:
 * a bad one is refused with one sentence that names the command and the
 * option ("hbx peer connect: --timeout-ms 'abc' is not a number: give ...")
 * and the command exits 2, like any other usage error.
 */
#include <stdio.h>
#include <string.h>
#include "hbx.h"

int hbx_arg_num(const char *what, const char *s, const struct hbx_num *n,
		uint64_t *v)
{
	char why[320];
	int err = hbx_num_parse(s, n, v);

	if (!err)
		return 0;
	hbx_num_explain(err, what, s, n, why, sizeof(why));
	hbx_err("%s", why);
	return -1;
}

int hbx_arg_u32(const char *what, const char *s, uint32_t min, uint32_t max,
		uint32_t *v)
{
	const struct hbx_num n = { HBX_NUM_COUNT, min, max, 0 };
	uint64_t x;

	if (hbx_arg_num(what, s, &n, &x))
		return -1;
	*v = x;
	return 0;
}

int hbx_arg_timeout(const char *opt, const char *s, uint32_t *ms)
{
	const struct hbx_num ms_only = { HBX_NUM_COUNT, 0, HBX_CLI_TIMEOUT_MAX_MS, 0 };
	const struct hbx_num duration = { HBX_NUM_DURATION, 0, HBX_CLI_TIMEOUT_MAX_MS, 1000 };
	char why[320];
	uint64_t v;
	int err;

	if (strcmp(opt, "--timeout-ms")) {
		if (hbx_arg_num(opt, s, &duration, &v))
			return -1;
		*ms = v;
		return 0;
	}
	err = hbx_num_parse(s, &ms_only, &v);
	if (!err) {
		*ms = v;
		return 0;
	}
	/*
	 * The option's name carries its unit: "--timeout-ms 5s" is a
	 * contradiction, refused rather than guessed at; say what takes it.
	 * ("1.5" is refused plainly: 1.5 ms or 1.5 s, who knows.)
	 */
	if (err == HBX_NUM_NOT_NUMBER && !hbx_num_parse(s, &duration, &v)) {
		hbx_err("--timeout-ms '%s' is not a number of milliseconds: give a whole "
			"number from 0 to %u, or use --timeout %s", s,
			HBX_CLI_TIMEOUT_MAX_MS, s);
		return -1;
	}
	hbx_num_explain(err, opt, s, &ms_only, why, sizeof(why));
	hbx_err("%s", why);
	return -1;
}
