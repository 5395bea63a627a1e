// SPDX-License-Identifier: GPL-2.0
#include <inttypes.h>
#include "json.h"

void hbx_json_init(struct hbx_json *j, FILE *out)
{
	j->out = out;
	j->depth = 0;
	j->need_comma[0] = false;
}

static void hbx_json_put_string(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(out, "\\%c", c);
		else if (c == '\n')
			fputs("\\n", out);
		else if (c == '\t')
			fputs("\\t", out);
		else if (c < 0x20)
			fprintf(out, "\\u%04x", c);
		else
			fputc(c, out);
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
