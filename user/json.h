/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A small streaming JSON writer: enough for -j output, with commas and
 * string escaping handled in one place.
 *
 * Strings are C strings of bytes (file names, layer names), not always
 * UTF-8, and JSON must be.  Valid UTF-8 is written as it is; a byte that
 * is not part of a valid sequence (stray continuation bytes, overlong
 * forms, surrogates, code points past U+10FFFF, truncated sequences) is
 * written as \u00XX, its value.  A valid U+0080..U+00FF is never escaped,
 * so "\u0080".."\u00ff" in our output always stands for one raw byte and
 * the original bytes can be recovered.
 */
#ifndef HBX_JSON_H
#define HBX_JSON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define HBX_JSON_MAX_DEPTH 16

struct hbx_json {
	FILE	*out;
	int	depth;
	bool	need_comma[HBX_JSON_MAX_DEPTH];
};

void hbx_json_init(struct hbx_json *j, FILE *out);
void hbx_json_object_begin(struct hbx_json *j, const char *key);
void hbx_json_object_end(struct hbx_json *j);
void hbx_json_array_begin(struct hbx_json *j, const char *key);
void hbx_json_array_end(struct hbx_json *j);
void hbx_json_string(struct hbx_json *j, const char *key, const char *value);
void hbx_json_u64(struct hbx_json *j, const char *key, uint64_t value);
void hbx_json_s64(struct hbx_json *j, const char *key, int64_t value);
/* %.6g; NaN and infinities (which JSON lacks) as 0. */
void hbx_json_double(struct hbx_json *j, const char *key, double value);
void hbx_json_bool(struct hbx_json *j, const char *key, bool value);
/* Ends the document with a newline. */
void hbx_json_finish(struct hbx_json *j);

#endif
