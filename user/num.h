/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Strict parsing of the numbers people type on hbx's command line.
 *
 * strtoul() takes " 12", "+12", "12abc" (stopping at the 'a'), "" (as 0)
 * and "-1" (as ULONG_MAX), and a caller that stores into a u32 silently
 * truncates 4294967297 to 1.  These parsers take decimal digits only,
 * then a unit where the kind of number has units, then nothing; the range
 * is checked after the unit applies, in 64 bits, with overflow caught.
 *
 *   count     "32"                       no units
 *   size      "65536", "64K", "1MiB"     bytes; K M G T are powers of 1024,
 *                                        optionally followed by "iB"; "B"
 *   duration  "30s", "500ms", "2m", "1h" in milliseconds; "1.5s" is 1500 ms;
 *                                        a bare number is in the option's
 *                                        own unit (hbx_num.bare_ms)
 */
#ifndef HBX_NUM_H
#define HBX_NUM_H

#include <stddef.h>
#include <stdint.h>

enum hbx_num_kind {
	HBX_NUM_COUNT,
	HBX_NUM_SIZE,
	HBX_NUM_DURATION,
};

/* What one option takes.  min and max are in bytes or milliseconds. */
struct hbx_num {
	enum hbx_num_kind	kind;
	uint64_t		min, max;
	uint64_t		bare_ms;	/* durations: ms in a bare 1 (1 or 1000) */
};

enum hbx_num_err {
	HBX_NUM_OK = 0,
	HBX_NUM_EMPTY,		/* "" */
	HBX_NUM_NEGATIVE,	/* "-1": no count, size or duration is negative */
	HBX_NUM_NOT_NUMBER,	/* "abc", "2x", " 2", "+2", "0x10" */
	HBX_NUM_NOT_WHOLE,	/* "1.5" where whole numbers go */
	HBX_NUM_BAD_UNIT,	/* "64X", "30y": digits, then no unit we know */
	HBX_NUM_TOO_FINE,	/* "0.0001s": less than the base unit */
	HBX_NUM_RANGE,		/* past 64 bits, or outside [min, max] */
};

/* Parse s as n describes into *v (bytes, ms or the count); an hbx_num_err. */
int hbx_num_parse(const char *s, const struct hbx_num *n, uint64_t *v);

/*
 * Why s was refused, as one sentence naming what (an option, "--window",
 * or an argument, "the layer index") and what it takes, without a final
 * period: "--window '4294967297' is out of range: give a number from 1 to
 * 32".
 */
void hbx_num_explain(int err, const char *what, const char *s,
		     const struct hbx_num *n, char *buf, size_t len);

/* v as the parser would read it back, in its largest exact unit: "4K", "2m". */
void hbx_num_format(const struct hbx_num *n, uint64_t v, char *buf, size_t len);

#endif
