// SPDX-License-Identifier: GPL-2.0
/*
 * OCI image layouts and docker-archives: find the image's manifest, config
 * and layers, checking every blob against the digest that names it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <json-c/json.h>
#include "archive_dl.h"
#include "hex.h"
#include "manifest.h"
#include "oci_image.h"

#define OCI_JSON_MAX	(4 << 20)	/* a manifest, index or config */

#define MT_OCI_INDEX	"application/vnd.oci.image.index.v1+json"
#define MT_OCI_MANIFEST	"application/vnd.oci.image.manifest.v1+json"
#define MT_OCI_CONFIG	"application/vnd.oci.image.config.v1+json"
#define MT_DOCKER_LIST	"application/vnd.docker.distribution.manifest.list.v2+json"
#define MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define MT_DOCKER_CONFIG "application/vnd.docker.container.image.v1+json"

static const struct {
	const char		*media_type;
	enum oci_compression	compression;
} layer_types[] = {
	{ "application/vnd.oci.image.layer.v1.tar",			OCI_PLAIN },
	{ "application/vnd.oci.image.layer.v1.tar+gzip",		OCI_GZIP },
	{ "application/vnd.oci.image.layer.v1.tar+zstd",		OCI_ZSTD },
	{ "application/vnd.oci.image.layer.nondistributable.v1.tar",	OCI_PLAIN },
	{ "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip", OCI_GZIP },
	{ "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd", OCI_ZSTD },
	{ "application/vnd.docker.image.rootfs.diff.tar.gzip",		OCI_GZIP },
	{ "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",	OCI_GZIP },
};

void oci_seterr(char *err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, OCI_ERR_LEN, fmt, ap);
	va_end(ap);
}

void oci_digest_buf(const void *buf, size_t len, char out[OCI_DIGEST_LEN + 1])
{
	uint8_t d[HBX_DIGEST_SIZE];

	hbx_sha256(buf, len, d);
	hbx_digest_format(d, out);
}

int oci_clean_path(const char *in, char *out, size_t len, char *err)
{
	const char *p = in, *c;
	size_t n;

	for (;;) {
		if (*p == '/')
			p++;
		else if (p[0] == '.' && p[1] == '/')
			p += 2;
		else
			break;
	}
	if (!strcmp(p, "."))
		p = "";
	n = strlen(p);
	while (n && p[n - 1] == '/')
		n--;
	if (n >= len) {
		oci_seterr(err, "path '%s' is too long", in);
		return -1;
	}
	memcpy(out, p, n);
	out[n] = '\0';
	for (c = out; *c; c = strchr(c, '/') ? strchr(c, '/') + 1 : c + strlen(c)) {
		size_t k = strcspn(c, "/");

		if (k == 2 && c[0] == '.' && c[1] == '.') {
			oci_seterr(err, "path '%s' leaves the root ('..')", in);
			return -1;
		}
	}
	if (!*out)
		strcpy(out, ".");
	return 0;
}

bool oci_digest_valid(const char *d)
{
	size_t i;

	if (!d || strncmp(d, "sha256:", 7) || strlen(d) != OCI_DIGEST_LEN)
		return false;
	for (i = 7; i < OCI_DIGEST_LEN; i++)
		if (!strchr("0123456789abcdef", d[i]))
			return false;
	return true;
}

static int read_file(const char *path, size_t max, char **buf, size_t *len,
		     char *err)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0) {
		oci_seterr(err, "cannot open %s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		oci_seterr(err, "%s is not a regular file", path);
		goto err_close;
	}
	if ((size_t)st.st_size > max) {
		oci_seterr(err, "%s is too large (%lld bytes, at most %zu)", path,
			   (long long)st.st_size, max);
		goto err_close;
	}
	*buf = malloc(st.st_size + 1);
	if (!*buf) {
		oci_seterr(err, "out of memory");
		goto err_close;
	}
	n = read(fd, *buf, st.st_size);
	if (n != st.st_size) {
		oci_seterr(err, "cannot read %s: %s", path, n < 0 ? strerror(errno) : "short read");
		free(*buf);
		goto err_close;
	}
	(*buf)[n] = '\0';
	*len = n;
	close(fd);
	return 0;

err_close:
	close(fd);
	return -1;
}

static struct json_object *parse_json(const char *buf, size_t len,
				      const char *what, char *err)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *o;

	if (!tok) {
		oci_seterr(err, "out of memory");
		return NULL;
	}
	o = json_tokener_parse_ex(tok, buf, (int)len);
	if (!o || json_tokener_get_error(tok) != json_tokener_success ||
	    (!json_object_is_type(o, json_type_object) &&
	     !json_object_is_type(o, json_type_array))) {
		oci_seterr(err, "%s is not valid JSON (%s)", what,
			   json_tokener_error_desc(json_tokener_get_error(tok)));
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(tok);
	return o;
}

struct json_object *oci_json_get(struct json_object *o, const char *key,
				 enum json_type type)
{
	struct json_object *v;

	if (!o || !json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, type))
		return NULL;
	return v;
}

const char *oci_json_str(struct json_object *o, const char *key)
{
	return json_object_get_string(oci_json_get(o, key, json_type_string));
}

/* A descriptor's digest and size, checked for form. */
static int descriptor(struct json_object *d, const char *what,
		      const char **digest, int64_t *size, char *err)
{
	struct json_object *s = oci_json_get(d, "size", json_type_int);

	*digest = oci_json_str(d, "digest");
	if (!*digest || !s) {
		oci_seterr(err, "the %s descriptor has no digest or size", what);
		return -1;
	}
	if (!oci_digest_valid(*digest)) {
		oci_seterr(err, "the %s digest '%s' is not sha256:<64 hex digits> (only sha256 is supported)",
			   what, *digest);
		return -1;
	}
	*size = json_object_get_int64(s);
	if (*size < 0) {
		oci_seterr(err, "the %s descriptor has a negative size", what);
		return -1;
	}
	return 0;
}

static void blob_path(const char *dir, const char *digest, char *out, size_t len)
{
	snprintf(out, len, "%s/blobs/sha256/%s", dir, digest + 7);
}

/* Read a JSON blob of dir and check it against its digest and size. */
static int read_blob(const char *dir, const char *digest, int64_t size,
		     const char *what, char **buf, size_t *len, char *err)
{
	char path[PATH_MAX], got[OCI_DIGEST_LEN + 1];

	blob_path(dir, digest, path, sizeof(path));
	if (read_file(path, OCI_JSON_MAX, buf, len, err))
		return -1;
	oci_digest_buf(*buf, *len, got);
	if (strcmp(got, digest) || (size >= 0 && (int64_t)*len != size)) {
		oci_seterr(err, "the %s blob does not match its digest: want %s (%lld bytes), it has %s (%zu bytes)",
			   what, digest, (long long)size, got, *len);
		free(*buf);
		return -1;
	}
	return 0;
}

static bool platform_is_ours(struct json_object *d)
{
	struct json_object *p = oci_json_get(d, "platform", json_type_object);
	const char *os = oci_json_str(p, "os"), *arch = oci_json_str(p, "architecture");

	return os && arch && !strcmp(os, "linux") && !strcmp(arch, "amd64");
}

/* The manifests entry named ref (or the only one); NULL with err set. */
static struct json_object *pick_manifest(struct json_object *index,
					 const char *ref, bool by_platform,
					 const char *src, char *err)
{
	struct json_object *m = oci_json_get(index, "manifests", json_type_array);
	size_t i, n = m ? json_object_array_length(m) : 0;

	if (!n) {
		oci_seterr(err, "%s lists no image", src);
		return NULL;
	}
	for (i = 0; i < n; i++) {
		struct json_object *d = json_object_array_get_idx(m, i);
		const char *name = oci_json_str(oci_json_get(d, "annotations", json_type_object),
					   "org.opencontainers.image.ref.name");

		if (by_platform ? platform_is_ours(d) : ref && name && !strcmp(name, ref))
			return d;
	}
	if (n == 1 && (by_platform || !ref))
		return json_object_array_get_idx(m, 0);
	if (by_platform)
		oci_seterr(err, "%s has no linux/amd64 image", src);
	else if (ref)
		oci_seterr(err, "%s has no image named '%s'", src, ref);
	else
		oci_seterr(err, "%s holds %zu images: name one as SRC:REF", src, n);
	return NULL;
}

static int set_diff_ids(struct oci_image *img, char *err)
{
	struct json_object *cfg, *rootfs, *ids;
	unsigned int i;
	int ret = -1;

	cfg = parse_json(img->config, img->config_len, "the image config", err);
	if (!cfg)
		return -1;
	rootfs = oci_json_get(cfg, "rootfs", json_type_object);
	ids = oci_json_get(rootfs, "diff_ids", json_type_array);
	if (!ids || json_object_array_length(ids) != img->nr_layers) {
		oci_seterr(err, "the image config lists %zu diff_ids for %u layers",
			   ids ? json_object_array_length(ids) : 0, img->nr_layers);
		goto out;
	}
	for (i = 0; i < img->nr_layers; i++) {
		struct json_object *v = json_object_array_get_idx(ids, i);
		const char *s = json_object_is_type(v, json_type_string) ?
				json_object_get_string(v) : "";

		if (!oci_digest_valid(s)) {
			oci_seterr(err, "diff_id %u '%s' is not sha256:<64 hex digits>", i, s);
			goto out;
		}
		strcpy(img->layers[i].diff_id, s);
	}
	ret = 0;
out:
	json_object_put(cfg);
	return ret;
}

static int alloc_layers(struct oci_image *img, size_t n, char *err)
{
	img->layers = calloc(n ? n : 1, sizeof(*img->layers));
	if (!img->layers) {
		oci_seterr(err, "out of memory");
		return -1;
	}
	img->nr_layers = n;
	return 0;
}

static int open_layout(const char *dir, const char *ref, struct oci_image *img,
		       char *err)
{
	struct json_object *index = NULL, *doc = NULL, *hold = NULL, *d, *cfgd, *layers;
	char path[PATH_MAX], *buf = NULL;
	const char *mt, *digest;
	int64_t size;
	size_t len, i, n;
	int depth, ret = -1;

	img->format = OCI_FORMAT_LAYOUT;
	snprintf(path, sizeof(path), "%s/oci-layout", dir);
	if (read_file(path, 4096, &buf, &len, err))
		return -1;
	doc = parse_json(buf, len, path, err);
	free(buf);
	if (!doc)
		return -1;
	mt = oci_json_str(doc, "imageLayoutVersion");
	if (!mt || strncmp(mt, "1.", 2)) {
		oci_seterr(err, "%s: unsupported image layout version '%s'", path, mt ? mt : "");
		goto out;
	}
	json_object_put(doc);
	doc = NULL;
	snprintf(path, sizeof(path), "%s/index.json", dir);
	if (read_file(path, OCI_JSON_MAX, &buf, &len, err))
		return -1;
	index = parse_json(buf, len, path, err);
	free(buf);
	if (!index)
		return -1;
	d = pick_manifest(index, ref, false, path, err);
	if (!d)
		goto out;
	for (depth = 0;; depth++) {
		mt = oci_json_str(d, "mediaType");
		if (descriptor(d, "manifest", &digest, &size, err))
			goto out;
		if (!mt || depth > 3) {
			oci_seterr(err, "the manifest descriptor %s has %s", digest,
				   mt ? "indexes nested too deep" : "no media type");
			goto out;
		}
		if (read_blob(dir, digest, size, "manifest", &buf, &len, err))
			goto out;
		json_object_put(doc);
		doc = parse_json(buf, len, digest, err);
		free(buf);
		if (!doc)
			goto out;
		if (!strcmp(mt, MT_OCI_MANIFEST) || !strcmp(mt, MT_DOCKER_MANIFEST))
			break;
		if (strcmp(mt, MT_OCI_INDEX) && strcmp(mt, MT_DOCKER_LIST)) {
			oci_seterr(err, "unknown manifest media type '%s'", mt);
			goto out;
		}
		d = pick_manifest(doc, NULL, true, digest, err);
		if (!d)
			goto out;
		json_object_put(hold);
		hold = json_object_get(d);	/* outlives doc */
	}
	snprintf(img->manifest_digest, sizeof(img->manifest_digest), "%s", digest);
	snprintf(img->manifest_media_type, sizeof(img->manifest_media_type), "%s", mt);
	if (ref)
		snprintf(img->ref, sizeof(img->ref), "%s", ref);

	cfgd = oci_json_get(doc, "config", json_type_object);
	mt = oci_json_str(cfgd, "mediaType");
	if (!cfgd || descriptor(cfgd, "config", &digest, &size, err))
		goto out_nocfg;
	if (!mt || (strcmp(mt, MT_OCI_CONFIG) && strcmp(mt, MT_DOCKER_CONFIG))) {
		oci_seterr(err, "unknown config media type '%s'", mt ? mt : "");
		goto out;
	}
	if (read_blob(dir, digest, size, "config", &img->config, &img->config_len, err))
		goto out;
	strcpy(img->config_digest, digest);

	layers = oci_json_get(doc, "layers", json_type_array);
	n = layers ? json_object_array_length(layers) : 0;
	if (!n) {
		oci_seterr(err, "the image manifest lists no layers");
		goto out;
	}
	if (alloc_layers(img, n, err))
		goto out;
	for (i = 0; i < n; i++) {
		struct oci_layer *l = &img->layers[i];
		struct stat st;
		size_t t;

		d = json_object_array_get_idx(layers, i);
		mt = oci_json_str(d, "mediaType");
		if (descriptor(d, "layer", &digest, &l->size, err))
			goto out;
		for (t = 0; mt && t < sizeof(layer_types) / sizeof(layer_types[0]); t++)
			if (!strcmp(mt, layer_types[t].media_type))
				break;
		if (!mt || t == sizeof(layer_types) / sizeof(layer_types[0])) {
			oci_seterr(err, "layer %zu has an unknown media type '%s'", i, mt ? mt : "");
			goto out;
		}
		l->compression = layer_types[t].compression;
		snprintf(l->media_type, sizeof(l->media_type), "%s", mt);
		strcpy(l->blob_digest, digest);
		blob_path(dir, digest, l->path, sizeof(l->path));
		if (stat(l->path, &st) || !S_ISREG(st.st_mode)) {
			oci_seterr(err, "layer %zu: blob %s is missing", i, digest);
			goto out;
		}
	}
	ret = set_diff_ids(img, err);
	goto out;
out_nocfg:
	if (!cfgd)
		oci_seterr(err, "the image manifest has no config");
out:
	json_object_put(doc);
	json_object_put(hold);
	json_object_put(index);
	return ret;
}

/* A path inside the archive, as manifest.json gives it. */
static int archive_path(const char *dir, const char *rel, char *out, size_t len,
			char *err)
{
	char clean[PATH_MAX];

	if (oci_clean_path(rel, clean, sizeof(clean), err))
		return -1;
	if (snprintf(out, len, "%s/%s", dir, clean) >= (int)len) {
		oci_seterr(err, "path '%s' is too long", rel);
		return -1;
	}
	return 0;
}

static bool tag_matches(struct json_object *tags, const char *ref)
{
	size_t i, n = tags ? json_object_array_length(tags) : 0;
	char full[300];

	snprintf(full, sizeof(full), "docker.io/library/%s", ref);
	for (i = 0; i < n; i++) {
		const char *t = json_object_get_string(json_object_array_get_idx(tags, i));

		if (t && (!strcmp(t, ref) || !strcmp(t, full)))
			return true;
	}
	return false;
}

static int open_docker(const char *dir, const char *ref, struct oci_image *img,
		       char *err)
{
	struct json_object *doc, *e = NULL, *tags, *layers;
	char path[PATH_MAX], *buf;
	const char *cfg, *base;
	size_t len, i, n;
	int ret = -1;

	img->format = OCI_FORMAT_DOCKER_ARCHIVE;
	snprintf(path, sizeof(path), "%s/manifest.json", dir);
	if (read_file(path, OCI_JSON_MAX, &buf, &len, err))
		return -1;
	doc = parse_json(buf, len, "manifest.json", err);
	free(buf);
	if (!doc)
		return -1;
	n = json_object_is_type(doc, json_type_array) ? json_object_array_length(doc) : 0;
	for (i = 0; i < n && ref; i++)
		if (tag_matches(oci_json_get(json_object_array_get_idx(doc, i), "RepoTags",
					 json_type_array), ref))
			e = json_object_array_get_idx(doc, i);
	if (!e && n == 1 && !ref)
		e = json_object_array_get_idx(doc, 0);
	if (!e) {
		if (!n)
			oci_seterr(err, "manifest.json lists no image");
		else if (ref)
			oci_seterr(err, "the archive has no image tagged '%s'", ref);
		else
			oci_seterr(err, "the archive holds %zu images: name one as SRC:TAG", n);
		goto out;
	}
	tags = oci_json_get(e, "RepoTags", json_type_array);
	if (ref)
		snprintf(img->ref, sizeof(img->ref), "%s", ref);
	else if (tags && json_object_array_length(tags))
		snprintf(img->ref, sizeof(img->ref), "%s",
			 json_object_get_string(json_object_array_get_idx(tags, 0)) ?: "");

	cfg = oci_json_str(e, "Config");
	if (!cfg) {
		oci_seterr(err, "manifest.json names no Config");
		goto out;
	}
	if (archive_path(dir, cfg, path, sizeof(path), err) ||
	    read_file(path, OCI_JSON_MAX, &img->config, &img->config_len, err))
		goto out;
	oci_digest_buf(img->config, img->config_len, img->config_digest);
	/* podman and skopeo name the config by its digest: hold them to it. */
	base = strrchr(cfg, '/') ? strrchr(cfg, '/') + 1 : cfg;
	if (strlen(base) == 64 + 5 && !strcmp(base + 64, ".json")) {
		char want[OCI_DIGEST_LEN + 1];

		snprintf(want, sizeof(want), "sha256:%.64s", base);
		if (oci_digest_valid(want) && strcmp(want, img->config_digest)) {
			oci_seterr(err, "the config blob does not match its digest: want %s, it has %s",
				   want, img->config_digest);
			goto out;
		}
	}
	layers = oci_json_get(e, "Layers", json_type_array);
	n = layers ? json_object_array_length(layers) : 0;
	if (!n) {
		oci_seterr(err, "manifest.json lists no layers");
		goto out;
	}
	if (alloc_layers(img, n, err))
		goto out;
	for (i = 0; i < n; i++) {
		struct oci_layer *l = &img->layers[i];
		const char *p = json_object_get_string(json_object_array_get_idx(layers, i));
		struct stat st;

		if (!p || archive_path(dir, p, l->path, sizeof(l->path), err))
			goto out;
		if (stat(l->path, &st) || !S_ISREG(st.st_mode)) {
			oci_seterr(err, "layer %zu: %s is missing from the archive", i, p);
			goto out;
		}
		l->compression = OCI_SNIFF;
		l->size = -1;
	}
	ret = set_diff_ids(img, err);
out:
	json_object_put(doc);
	return ret;
}

int oci_image_open(const char *dir, const char *ref, struct oci_image *img,
		   char *err)
{
	char path[PATH_MAX];
	int ret;

	memset(img, 0, sizeof(*img));
	snprintf(path, sizeof(path), "%s/oci-layout", dir);
	if (!access(path, F_OK)) {
		ret = open_layout(dir, ref, img, err);
	} else {
		snprintf(path, sizeof(path), "%s/manifest.json", dir);
		if (access(path, F_OK)) {
			oci_seterr(err, "%s is neither an OCI image layout (no oci-layout) nor a docker-archive (no manifest.json)",
				   dir);
			return -1;
		}
		ret = open_docker(dir, ref, img, err);
	}
	if (ret)
		oci_image_free(img);
	return ret;
}

void oci_image_free(struct oci_image *img)
{
	free(img->config);
	free(img->layers);
	img->config = NULL;
	img->layers = NULL;
	img->nr_layers = 0;
}

static int unpack_archive(const char *archive, const char *dir, char *err)
{
	struct archive *a = sym_archive_read_new(), *w = sym_archive_write_disk_new();
	struct archive_entry *e;
	char clean[PATH_MAX];
	int cwd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int r, ret = -1;

	if (!a || !w || cwd < 0) {
		oci_seterr(err, "out of memory");
		goto out;
	}
	sym_archive_read_support_filter_all(a);
	sym_archive_read_support_format_tar(a);
	sym_archive_write_disk_set_options(w, ARCHIVE_EXTRACT_SECURE_SYMLINKS |
					   ARCHIVE_EXTRACT_SECURE_NODOTDOT |
					   ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS);
	if (sym_archive_read_open_filename(a, archive, 1 << 16)) {
		oci_seterr(err, "cannot read %s: %s", archive, sym_archive_error_string(a));
		goto out;
	}
	if (chdir(dir)) {
		oci_seterr(err, "cannot enter %s: %s", dir, strerror(errno));
		goto out;
	}
	while ((r = sym_archive_read_next_header(a, &e)) == ARCHIVE_OK) {
		mode_t type = sym_archive_entry_filetype(e);

		/* Blobs and JSON: docker-archive's layer.tar links are not needed. */
		if (type != AE_IFREG && type != AE_IFDIR)
			continue;
		if (oci_clean_path(sym_archive_entry_pathname(e), clean, sizeof(clean), err))
			goto out;
		sym_archive_entry_set_pathname(e, clean);
		sym_archive_entry_set_perm(e, type == AE_IFDIR ? 0700 : 0600);
		if (sym_archive_write_header(w, e) != ARCHIVE_OK) {
			oci_seterr(err, "cannot unpack %s from %s: %s", clean, archive,
				   sym_archive_error_string(w));
			goto out;
		}
		for (;;) {
			const void *buf;
			size_t len;
			la_int64_t off;

			r = sym_archive_read_data_block(a, &buf, &len, &off);
			if (r == ARCHIVE_EOF)
				break;
			if (r != ARCHIVE_OK) {
				oci_seterr(err, "cannot read %s: %s", archive,
					   sym_archive_error_string(a));
				goto out;
			}
			if (sym_archive_write_data_block(w, buf, len, off) != ARCHIVE_OK) {
				oci_seterr(err, "cannot unpack %s: %s", clean,
					   sym_archive_error_string(w));
				goto out;
			}
		}
		if (sym_archive_write_finish_entry(w) != ARCHIVE_OK) {
			oci_seterr(err, "cannot unpack %s: %s", clean, sym_archive_error_string(w));
			goto out;
		}
	}
	if (r != ARCHIVE_EOF) {
		oci_seterr(err, "cannot read %s: %s", archive, sym_archive_error_string(a));
		goto out;
	}
	if (sym_archive_write_close(w) != ARCHIVE_OK) {
		oci_seterr(err, "cannot unpack %s: %s", archive, sym_archive_error_string(w));
		goto out;
	}
	ret = 0;
out:
	if (cwd >= 0) {
		if (fchdir(cwd))
			ret = -1;
		close(cwd);
	}
	sym_archive_read_free(a);
	sym_archive_write_free(w);
	return ret;
}

int oci_archive_unpack(const char *archive, const char *dir, char *err)
{
	if (hbx_archive_load(err))
		return -1;
	return unpack_archive(archive, dir, err);
}
