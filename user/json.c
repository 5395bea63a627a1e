// SPDX-License-Identifier: GPL-2.0
#include <inttypes.h>
#include "json.h"

void hbx_json_init(struct hbx_json *j, FILE *out)
{
	j->out = out;
	j->depth = 0;
	j->need_comma[0] = false;
}

/* The length of the valid UTF-8 sequence at s (RFC 3629), or 0. */
static size_t utf8_len(const unsigned char *s)
{
	unsigned char c = s[0];
	uint32_t cp;
	size_t n, i;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4, cp = c & 0x07;
	else
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)	/* also stops at the NUL */
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;	/* overlong, past Unicode, or a surrogate */
	return n;
}

static void hbx_json_put_string(FILE *out, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t n;

	fputc('"', out);
	while (*s) {
		unsigned char c = *s;

		n = utf8_len(s);
		if (!n)
			fprintf(out, "\\u%04x", c);	/* not UTF-8: see json.h */
		else if (c == '"' || c == '\\')
			fprintf(out, "\\%c", c);
		else if (c == '\n')
			fputs("\\n", out);
		else if (c == '\t')
			fputs("\\t", out);
		else if (c < 0x20)
			fprintf(out, "\\u%04x", c);
		else
			fwrite(s, 1, n, out);
		s += n ? n : 1;
	}
	fputc('"', out);
}

/* Comma and key before a value; key is NULL inside arrays. */
static void hbx_json_prefix(struct hbx_json *j, const char *key)
{
	if (j->need_comma[j->depth])
		fputc(',', j->out);
	j->need_comma[j->depth] = true;
	if (key) {
		hbx_json_put_string(j->out, key);
		fputc(':', j->out);
	}
}

static void hbx_json_open(struct hbx_json *j, const char *key, char c)
{
	hbx_json_prefix(j, key);
	fputc(c, j->out);
	if (j->depth < HBX_JSON_MAX_DEPTH - 1)
		j->depth++;
	j->need_comma[j->depth] = false;
}

static void hbx_json_close(struct hbx_json *j, char c)
{
	fputc(c, j->out);
	if (j->depth > 0)
		j->depth--;
}

void hbx_json_object_begin(struct hbx_json *j, const char *key)
{
	hbx_json_open(j, key, '{');
}

void hbx_json_object_end(struct hbx_json *j)
{
	hbx_json_close(j, '}');
}

void hbx_json_array_begin(struct hbx_json *j, const char *key)
{
	hbx_json_open(j, key, '[');
}

void hbx_json_array_end(struct hbx_json *j)
{
	hbx_json_close(j, ']');
}

void hbx_json_string(struct hbx_json *j, const char *key, const char *value)
{
	hbx_json_prefix(j, key);
	hbx_json_put_string(j->out, value);
}

void hbx_json_u64(struct hbx_json *j, const char *key, uint64_t value)
{
	hbx_json_prefix(j, key);
	fprintf(j->out, "%" PRIu64, value);
}

void hbx_json_s64(struct hbx_json *j, const char *key, int64_t value)
{
	hbx_json_prefix(j, key);
	fprintf(j->out, "%" PRId64, value);
}

void hbx_json_double(struct hbx_json *j, const char *key, double value)
{
	hbx_json_prefix(j, key);
	/* JSON has no NaN or infinity. */
	if (value != value || value > 1e300 || value < -1e300)
		value = 0;
	fprintf(j->out, "%.6g", value);
}

void hbx_json_bool(struct hbx_json *j, const char *key, bool value)
{
	hbx_json_prefix(j, key);
	fputs(value ? "true" : "false", j->out);
}

void hbx_json_finish(struct hbx_json *j)
{
	fputc('\n', j->out);
	fflush(j->out);
}
