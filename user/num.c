// SPDX-License-Identifier: GPL-2.0
/* Strict command-line numbers: see num.h for what each kind accepts. */
#include <ctype.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include "num.h"

struct unit {
	const char	*name;
	uint64_t	mult;
};

/* Largest first: hbx_num_format() takes the first that divides exactly. */
static const struct unit size_units[] = {
	{ "T", 1ULL << 40 }, { "TiB", 1ULL << 40 },
	{ "G", 1ULL << 30 }, { "GiB", 1ULL << 30 },
	{ "M", 1ULL << 20 }, { "MiB", 1ULL << 20 },
	{ "K", 1ULL << 10 }, { "KiB", 1ULL << 10 },
	{ "B", 1 },
};

static const struct unit duration_units[] = {
	{ "h", 3600000 }, { "m", 60000 }, { "s", 1000 }, { "ms", 1 },
};

#define N_UNITS(a) (sizeof(a) / sizeof((a)[0]))

/* The multiplier of unit u (the text after the digits), 0 if unknown. */
static uint64_t unit_mult(const struct hbx_num *n, const char *u)
{
	const struct unit *t = n->kind == HBX_NUM_SIZE ? size_units : duration_units;
	size_t i, count = n->kind == HBX_NUM_SIZE ? N_UNITS(size_units) :
						    N_UNITS(duration_units);

	if (!*u)
		return n->kind == HBX_NUM_DURATION ? n->bare_ms : 1;
	if (n->kind == HBX_NUM_COUNT)
		return 0;
	for (i = 0; i < count; i++) {
		/* "64k" and "1mib" too (hbx layer build took "64k" before);
		 * durations are lowercase only: "M" would read as months. */
		if (n->kind == HBX_NUM_SIZE ? !strcasecmp(u, t[i].name) :
					      !strcmp(u, t[i].name))
			return t[i].mult;
	}
	return 0;
}

/* *acc = *acc * 10 + digit, false on overflow. */
static bool push_digit(uint64_t *acc, char c)
{
	uint64_t d = (uint64_t)(c - '0');

	if (*acc > (UINT64_MAX - d) / 10)
		return false;
	*acc = *acc * 10 + d;
	return true;
}

int hbx_num_parse(const char *s, const struct hbx_num *n, uint64_t *v)
{
	uint64_t whole = 0, frac = 0, scale = 1, mult, r;
	bool overflow = false;
	const char *p = s;
	size_t fd;

	if (!*s)
		return HBX_NUM_EMPTY;
	if (s[0] == '-' && isdigit((unsigned char)s[1]))
		return HBX_NUM_NEGATIVE;
	/* No sign, space, "0x" or leading '.': a digit comes first. */
	if (!isdigit((unsigned char)*p))
		return HBX_NUM_NOT_NUMBER;
	for (; isdigit((unsigned char)*p); p++)
		overflow |= !push_digit(&whole, *p);
	if (*p == '.' && isdigit((unsigned char)p[1])) {
		if (n->kind != HBX_NUM_DURATION)
			return HBX_NUM_NOT_WHOLE;
		p++;
		fd = strspn(p, "0123456789");
		/* Trailing zeros carry nothing ("1.500s" is "1.5s"). */
		while (fd && p[fd - 1] == '0')
			fd--;
		/* A ms is 1e-7 h at the finest; more digits than 9 are finer. */
		if (fd > 9)
			return HBX_NUM_TOO_FINE;
		for (size_t i = 0; i < fd; i++) {
			push_digit(&frac, p[i]);
			scale *= 10;
		}
		p += strspn(p, "0123456789");
	}
	mult = unit_mult(n, p);
	if (!mult)
		return isalpha((unsigned char)*p) && n->kind != HBX_NUM_COUNT ?
		       HBX_NUM_BAD_UNIT : HBX_NUM_NOT_NUMBER;
	if (overflow || (whole && mult > UINT64_MAX / whole))
		return HBX_NUM_RANGE;
	r = whole * mult;
	if (frac) {
		/* frac < 1e9 and mult <= 3.6e6: no overflow in the product. */
		if (frac * mult % scale)
			return HBX_NUM_TOO_FINE;
		if (r > UINT64_MAX - frac * mult / scale)
			return HBX_NUM_RANGE;
		r += frac * mult / scale;
	}
	if (r < n->min || r > n->max)
		return HBX_NUM_RANGE;
	*v = r;
	return HBX_NUM_OK;
}

void hbx_num_format(const struct hbx_num *n, uint64_t v, char *buf, size_t len)
{
	const struct unit *t = n->kind == HBX_NUM_SIZE ? size_units : duration_units;
	size_t i, count = n->kind == HBX_NUM_SIZE ? N_UNITS(size_units) :
						    N_UNITS(duration_units);

	if (n->kind == HBX_NUM_COUNT) {
		snprintf(buf, len, "%" PRIu64, v);
		return;
	}
	if (!v) {
		snprintf(buf, len, "0%s", n->kind == HBX_NUM_SIZE ? "" : "s");
		return;
	}
	/* The short names ("K", not "KiB"): every other entry for sizes. */
	for (i = 0; i < count; i += n->kind == HBX_NUM_SIZE ? 2 : 1) {
		if (v % t[i].mult == 0) {
			snprintf(buf, len, "%" PRIu64 "%s", v / t[i].mult,
				 t[i].mult == 1 && n->kind == HBX_NUM_SIZE ? "" : t[i].name);
			return;
		}
	}
	snprintf(buf, len, "%" PRIu64, v);
}

/* "a number from 1 to 32", "a size from 4K to 4M (...)", "a duration ...". */
static void expectation(const struct hbx_num *n, char *buf, size_t len)
{
	char lo[32], hi[32];

	hbx_num_format(n, n->min, lo, sizeof(lo));
	hbx_num_format(n, n->max, hi, sizeof(hi));
	switch (n->kind) {
	case HBX_NUM_COUNT:
		if (n->max == UINT64_MAX)
			snprintf(buf, len, "a whole number of at least %s", lo);
		else
			snprintf(buf, len, "a whole number from %s to %s", lo, hi);
		break;
	case HBX_NUM_SIZE:
		snprintf(buf, len, "a size from %s to %s (bytes, or units K, M, G, T: "
			 "powers of 1024)", lo, hi);
		break;
	case HBX_NUM_DURATION:
		snprintf(buf, len, "a duration from %s to %s (units ms, s, m, h; "
			 "a bare number is %s)", lo, hi,
			 n->bare_ms == 1000 ? "seconds" :
			 n->bare_ms == 1 ? "milliseconds" : "in the option's unit");
		break;
	}
}

void hbx_num_explain(int err, const char *what, const char *s,
		     const struct hbx_num *n, char *buf, size_t len)
{
	static const char *const why[] = {
		[HBX_NUM_OK]		= "is fine",
		[HBX_NUM_EMPTY]		= "is empty",
		[HBX_NUM_NEGATIVE]	= "is negative",
		[HBX_NUM_NOT_NUMBER]	= "is not a number",
		[HBX_NUM_NOT_WHOLE]	= "is not a whole number",
		[HBX_NUM_BAD_UNIT]	= "has a unit hbx does not know",
		[HBX_NUM_TOO_FINE]	= "is finer than a millisecond",
		[HBX_NUM_RANGE]		= "is out of range",
	};
	char want[160];

	expectation(n, want, sizeof(want));
	snprintf(buf, len, "%s '%s' %s: give %s", what, s,
		 err >= 0 && (size_t)err < N_UNITS(why) ? why[err] : "is not valid", want);
}
