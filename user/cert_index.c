// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "cert_index.h"
#include "cert_util.h"
#include "pem_file.h"

static void index_path(const char *dir, char *buf, size_t len)
{
	snprintf(buf, len, "%s/" HBX_INDEX_FILE, dir);
}

static int parse_line(char *line, struct hbx_index_entry *e)
{
	char *serial, *name, *not_after, *status, *revoked_at, *key, *extra, *save;
	unsigned char raw[HBX_SERIAL_HEX_MAX / 2];
	uint8_t digest[HBX_DIGEST_SIZE];

	serial = strtok_r(line, " \t", &save);
	name = strtok_r(NULL, " \t", &save);
	not_after = strtok_r(NULL, " \t", &save);
	status = strtok_r(NULL, " \t", &save);
	revoked_at = strtok_r(NULL, " \t", &save);
	key = strtok_r(NULL, " \t", &save);
	extra = strtok_r(NULL, " \t", &save);
	if (!revoked_at || extra || hbx_unhex(serial, raw, sizeof(raw)) < 0 ||
	    !hbx_cert_name_ok(name) || hbx_time_parse_iso(not_after, &e->not_after) ||
	    (key && hbx_digest_parse(key, digest)))
		return -1;
	snprintf(e->key, sizeof(e->key), "%s", key ? key : "");
	snprintf(e->serial, sizeof(e->serial), "%s", serial);
	snprintf(e->name, sizeof(e->name), "%s", name);
	if (!strcmp(status, "valid") && !strcmp(revoked_at, "-")) {
		e->revoked = false;
		e->revoked_at = 0;
		return 0;
	}
	e->revoked = true;
	if (strcmp(status, "revoked") ||
	    hbx_time_parse_iso(revoked_at, &e->revoked_at))
		return -1;
	return 0;
}

int hbx_index_load(const char *dir, struct hbx_index *ix)
{
	char path[4096], *line, *next;
	unsigned char *buf;
	size_t len;
	int err, lineno = 0;

	memset(ix, 0, sizeof(*ix));
	index_path(dir, path, sizeof(path));
	err = hbx_file_read(path, &buf, &len);
	if (err == -ENOENT)
		return hbx_cert_fail("%s is missing: is %s a CA made by hbx cert init?",
				     path, dir);
	if (err)
		return hbx_cert_fail("cannot read %s: %s", path, strerror(-err));
	for (line = (char *)buf; line && *line; line = next) {
		struct hbx_index_entry e;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		lineno++;
		if (*line == '#' || !line[strspn(line, " \t")])
			continue;
		if (parse_line(line, &e)) {
			free(buf);
			hbx_index_free(ix);
			return hbx_cert_fail("%s:%d is malformed", path, lineno);
		}
		if (hbx_index_add(ix, &e)) {
			free(buf);
			hbx_index_free(ix);
			return -1;
		}
	}
	free(buf);
	return 0;
}

int hbx_index_save(const char *dir, const struct hbx_index *ix)
{
	char path[4096], not_after[HBX_ISO_TIME_LEN + 1], revoked[HBX_ISO_TIME_LEN + 1];
	char *out = NULL;
	size_t len = 0, i;
	FILE *f;
	int err;

	f = open_memstream(&out, &len);
	if (!f)
		return hbx_cert_fail("out of memory");
	fprintf(f, "# serial name not-after status revoked-at key\n");
	for (i = 0; i < ix->n; i++) {
		const struct hbx_index_entry *e = &ix->v[i];

		hbx_time_iso(e->not_after, not_after);
		if (e->revoked)
			hbx_time_iso(e->revoked_at, revoked);
		fprintf(f, "%s %s %s %s %s%s%s\n", e->serial, e->name, not_after,
			e->revoked ? "revoked" : "valid", e->revoked ? revoked : "-",
			*e->key ? " " : "", e->key);
	}
	if (fclose(f)) {
		free(out);
		return hbx_cert_fail("out of memory");
	}
	index_path(dir, path, sizeof(path));
	err = hbx_file_write(path, out, len, 0644, true);
	free(out);
	if (err)
		return hbx_cert_fail("cannot write %s: %s", path, strerror(-err));
	return 0;
}

int hbx_index_add(struct hbx_index *ix, const struct hbx_index_entry *e)
{
	if (ix->n == ix->cap) {
		size_t cap = ix->cap ? 2 * ix->cap : 16;
		struct hbx_index_entry *v = realloc(ix->v, cap * sizeof(*v));

		if (!v)
			return hbx_cert_fail("out of memory");
		ix->v = v;
		ix->cap = cap;
	}
	ix->v[ix->n++] = *e;
	return 0;
}

struct hbx_index_entry *hbx_index_find(const struct hbx_index *ix,
				       const char *serial)
{
	size_t i;

	for (i = 0; i < ix->n; i++)
		if (!strcasecmp(ix->v[i].serial, serial))
			return &ix->v[i];
	return NULL;
}

void hbx_index_free(struct hbx_index *ix)
{
	free(ix->v);
	memset(ix, 0, sizeof(*ix));
}
