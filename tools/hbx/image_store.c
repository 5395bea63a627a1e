// SPDX-License-Identifier: GPL-2.0
/* The image store: names, image manifests, garbage collection (see image.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include "hbx.h"
#include "image.h"
#include "io.h"
#include "layer.h"

static void store_path(const struct hbx_store *s, char *buf, size_t len,
		       const char *rel)
{
	snprintf(buf, len, "%s/%s", s->dir, rel);
}

int hbx_store_open(struct hbx_store *s, const char *dir, bool create)
{
	static const char *const subdirs[] = {
		"", "layers", "blobs", "blobs/sha256", "images", "meta", "attached", "tmp"
	};
	char path[PATH_MAX + 32];
	size_t i;

	s->lock_fd = -1;
	if (snprintf(s->dir, sizeof(s->dir), "%s", dir ? dir : HBX_STORE_DEFAULT) >=
	    (int)sizeof(s->dir)) {
		hbx_err("the store's path is too long");
		return -1;
	}
	for (i = 0; create && i < sizeof(subdirs) / sizeof(subdirs[0]); i++) {
		store_path(s, path, sizeof(path), subdirs[i]);
		if (mkdir(path, 0700) && errno != EEXIST) {
			hbx_err("cannot create %s: %s", path, strerror(errno));
			return -1;
		}
	}
	/* Absolute: imports unpack layers with the store's tmp/ as cwd. */
	if (!realpath(s->dir, path) || strlen(path) >= sizeof(s->dir)) {
		hbx_err("cannot resolve %s: %s", s->dir, strerror(errno ? errno : ENAMETOOLONG));
		return -1;
	}
	strcpy(s->dir, path);
	store_path(s, path, sizeof(path), "lock");
	s->lock_fd = open(path, O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0), 0600);
	if (s->lock_fd < 0) {
		if (errno == ENOENT)
			hbx_err("%s holds no image store", s->dir);
		else
			hbx_err("cannot open %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

void hbx_store_close(struct hbx_store *s)
{
	if (s->lock_fd >= 0)
		close(s->lock_fd);
	s->lock_fd = -1;
}

int hbx_store_lock(struct hbx_store *s)
{
	if (flock(s->lock_fd, LOCK_EX)) {
		hbx_err("cannot lock the store %s: %s", s->dir, strerror(errno));
		return -1;
	}
	return 0;
}

bool hbx_image_name_valid(const char *name)
{
	size_t i, n = strlen(name);

	if (!n || n > HBX_IMAGE_NAME_MAX || !strncmp(name, "sha256:", 7))
		return false;
	for (i = 0; i < n; i++)
		if (!(name[i] >= 'a' && name[i] <= 'z') && !(name[i] >= 'A' && name[i] <= 'Z') &&
		    !(name[i] >= '0' && name[i] <= '9') && !(i && strchr("._:/@+-", name[i])))
			return false;
	return true;
}

ssize_t hbx_store_names(struct hbx_store *s, struct hbx_store_name **out)
{
	char path[PATH_MAX + 32], line[512];
	struct hbx_store_name *v = NULL, *nv;
	size_t n = 0;
	FILE *f;

	*out = NULL;
	store_path(s, path, sizeof(path), "names");
	f = fopen(path, "re");
	if (!f) {
		if (errno == ENOENT)
			return 0;
		hbx_err("cannot read %s: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		char *sp = strchr(line, ' ');

		line[strcspn(line, "\n")] = '\0';
		if (!sp || sp - line != OCI_DIGEST_LEN || !hbx_image_name_valid(sp + 1))
			continue;
		nv = realloc(v, (n + 1) * sizeof(*v));
		if (!nv) {
			hbx_err("out of memory");
			free(v);
			fclose(f);
			return -1;
		}
		v = nv;
		snprintf(v[n].digest, sizeof(v[n].digest), "%.*s", OCI_DIGEST_LEN, line);
		snprintf(v[n].name, sizeof(v[n].name), "%s", sp + 1);
		n++;
	}
	fclose(f);
	*out = v;
	return n;
}

int hbx_write_file_atomic(const char *path, const void *buf, size_t len)
{
	char tmp[PATH_MAX + 16];
	int fd, err;

	snprintf(tmp, sizeof(tmp), "%s.partial", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		hbx_err("cannot create %s: %s", tmp, strerror(errno));
		return -1;
	}
	err = hbx_write_full(fd, buf, len);
	if (!err && fsync(fd))
		err = -errno;
	if (close(fd) && !err)
		err = -errno;
	if (!err && rename(tmp, path))
		err = -errno;
	if (err) {
		hbx_err("cannot write %s: %s", path, strerror(-err));
		unlink(tmp);
		return -1;
	}
	return 0;
}

/*
 * Each import or pull holds a lock in its staging directory for as long as
 * it runs; a staging directory whose lock is free belongs to one that died,
 * and goes.  Both happen under the store's lock, so a directory is never
 * seen between its creation and its lock's.
 */
static void sweep_staging(struct hbx_store *s)
{
	char path[HBX_STORE_DIR_MAX + 300];
	struct dirent *e;
	DIR *d;
	int fd;

	snprintf(path, sizeof(path), "%s/tmp", s->dir);
	d = opendir(path);
	while (d && (e = readdir(d))) {
		if (strncmp(e->d_name, "import.", 7) && strncmp(e->d_name, "pull.", 5) &&
		    strncmp(e->d_name, "meta.", 5))
			continue;
		snprintf(path, sizeof(path), "%s/tmp/%s/lock", s->dir, e->d_name);
		fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB)) {
			close(fd);
			continue;	/* alive */
		}
		if (fd >= 0)
			close(fd);
		snprintf(path, sizeof(path), "%s/tmp/%s", s->dir, e->d_name);
		hbx_remove_tree(path);
	}
	if (d)
		closedir(d);
}

int hbx_store_staging(struct hbx_store *s, const char *prefix, char *tmp, size_t len)
{
	char lock[HBX_STORE_DIR_MAX + 64];
	int fd = -1;

	if (hbx_store_lock(s))
		return -1;
	sweep_staging(s);
	snprintf(tmp, len, "%s/tmp/%s.XXXXXX", s->dir, prefix);
	if (!mkdtemp(tmp)) {
		hbx_err("cannot create a directory in %s/tmp: %s", s->dir, strerror(errno));
	} else {
		snprintf(lock, sizeof(lock), "%s/lock", tmp);
		fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		/* Kept open (and locked) until hbx exits. */
		if (fd < 0 || flock(fd, LOCK_EX)) {
			hbx_err("cannot lock %s: %s", lock, strerror(errno));
			hbx_remove_tree(tmp);
			fd = -1;
		}
	}
	flock(s->lock_fd, LOCK_UN);
	return fd < 0 ? -1 : 0;
}

static void attached_path(const struct hbx_store *s, const char *digest, char *buf,
			  size_t len)
{
	snprintf(buf, len, "%s/attached/%s", s->dir, digest + 7);
}

int hbx_store_attached_get(struct hbx_store *s, struct hbx_nl *nl, const char *digest,
			   struct hbx_layer_info *l)
{
	char path[HBX_STORE_DIR_MAX + 96], line[32];
	struct hbx_layer_info *v = NULL;
	unsigned long index;
	ssize_t n, i;
	char *end;
	FILE *f;
	int ret = -1;

	attached_path(s, digest, path, sizeof(path));
	f = fopen(path, "re");
	if (!f)
		return -1;
	if (!fgets(line, sizeof(line), f))
		line[0] = '\0';
	fclose(f);
	index = strtoul(line, &end, 10);
	if (end == line || *end != '\n' || index > UINT32_MAX)
		return -1;
	n = hbx_layer_dump(nl, &v);
	for (i = 0; i < n; i++) {
		if (v[i].index != index)
			continue;
		/* A reboot, or a detach, may have given the index to another layer. */
		if (v[i].state == HBX_LAYER_STATE_LIVE && !strcmp(v[i].digest, digest)) {
			*l = v[i];
			ret = 0;
		}
	}
	free(v);
	return ret;
}

int hbx_store_attached_set(struct hbx_store *s, const char *digest, uint32_t index)
{
	char path[HBX_STORE_DIR_MAX + 96], buf[16];

	attached_path(s, digest, path, sizeof(path));
	snprintf(buf, sizeof(buf), "%u\n", index);
	return hbx_write_file_atomic(path, buf, strlen(buf));
}

void hbx_store_attached_clear(struct hbx_store *s, const char *digest)
{
	char path[HBX_STORE_DIR_MAX + 96];

	attached_path(s, digest, path, sizeof(path));
	unlink(path);
}

char *hbx_read_small(const char *path, size_t max, size_t *len)
{
	char *buf = NULL;
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC), err;

	if (fd < 0 || fstat(fd, &st)) {
		err = errno;
	} else if (!S_ISREG(st.st_mode) || (size_t)st.st_size > max) {
		err = S_ISREG(st.st_mode) ? EFBIG : EINVAL;
	} else if (!(buf = malloc(st.st_size + 1))) {
		err = ENOMEM;
	} else {
		err = -hbx_pread_full(fd, buf, st.st_size, 0);
	}
	if (fd >= 0)
		close(fd);
	if (err) {
		hbx_err("cannot read %s: %s", path, strerror(err));
		free(buf);
		return NULL;
	}
	buf[st.st_size] = '\0';
	*len = st.st_size;
	return buf;
}

int hbx_store_names_write(struct hbx_store *s, const struct hbx_store_name *v,
			  size_t n)
{
	char path[PATH_MAX + 32];
	size_t i, len = 0;
	char *buf = malloc(n * (OCI_DIGEST_LEN + HBX_IMAGE_NAME_MAX + 2) + 1);
	int ret;

	if (!buf) {
		hbx_err("out of memory");
		return -1;
	}
	for (i = 0; i < n; i++)
		len += sprintf(buf + len, "%s %s\n", v[i].digest, v[i].name);
	store_path(s, path, sizeof(path), "names");
	ret = hbx_write_file_atomic(path, buf, len);
	free(buf);
	return ret;
}

/* Image digests in images/ that start with "sha256:" + prefix. */
static int find_image(struct hbx_store *s, const char *prefix,
		      char digest[OCI_DIGEST_LEN + 1])
{
	char path[PATH_MAX + 32];
	struct dirent *d;
	int found = 0;
	DIR *dir;

	store_path(s, path, sizeof(path), "images");
	dir = opendir(path);
	while (dir && (d = readdir(dir))) {
		size_t n = strlen(d->d_name);

		if (n != 64 + 5 || strcmp(d->d_name + 64, ".json") ||
		    strncmp(d->d_name, prefix, strlen(prefix)))
			continue;
		snprintf(digest, OCI_DIGEST_LEN + 1, "sha256:%.64s", d->d_name);
		found++;
	}
	if (dir)
		closedir(dir);
	return found;
}

int hbx_store_resolve(struct hbx_store *s, const char *what,
		      char digest[OCI_DIGEST_LEN + 1])
{
	struct hbx_store_name *v;
	ssize_t n = hbx_store_names(s, &v), i;
	const char *hex = !strncmp(what, "sha256:", 7) ? what + 7 : what;
	int found;

	if (n < 0)
		return -1;
	for (i = 0; i < n; i++) {
		if (!strcmp(v[i].name, what)) {
			strcpy(digest, v[i].digest);
			free(v);
			return 0;
		}
	}
	free(v);
	found = strlen(hex) >= 4 && strspn(hex, "0123456789abcdef") == strlen(hex) ?
		find_image(s, hex, digest) : 0;
	if (found == 1)
		return 0;
	if (found > 1)
		hbx_err("'%s' names more than one image: give more of the digest", what);
	else
		hbx_err("no image '%s' in %s", what, s->dir);
	return -1;
}

int hbx_image_load(struct hbx_store *s, const char *digest, struct hbx_image *img)
{
	char path[PATH_MAX + 32], got[OCI_DIGEST_LEN + 1], *buf;
	struct json_object *layers;
	struct stat st;
	size_t i, n;
	ssize_t len;
	int fd;

	memset(img, 0, sizeof(*img));
	snprintf(path, sizeof(path), "%s/images/%s.json", s->dir, digest + 7);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) || st.st_size > (1 << 20)) {
		hbx_err("cannot read the image manifest %s: %s", path,
			fd < 0 ? strerror(errno) : "too large");
		if (fd >= 0)
			close(fd);
		return -1;
	}
	buf = malloc(st.st_size + 1);
	len = buf ? read(fd, buf, st.st_size) : -1;
	close(fd);
	if (len != st.st_size) {
		hbx_err("cannot read the image manifest %s", path);
		free(buf);
		return -1;
	}
	buf[len] = '\0';
	/* Content-addressed: a manifest that changed is not this image. */
	oci_digest_buf(buf, len, got);
	if (strcmp(got, digest)) {
		hbx_err("the image manifest %s does not match its digest (it has %s)", path, got);
		free(buf);
		return -1;
	}
	img->doc = json_tokener_parse(buf);
	free(buf);
	strcpy(img->digest, digest);
	layers = oci_json_get(img->doc, "layers", json_type_array);
	n = layers ? json_object_array_length(layers) : 0;
	if (!n || !oci_digest_valid(oci_json_str(img->doc, "config"))) {
		hbx_err("the image manifest %s is malformed", path);
		goto err;
	}
	strcpy(img->config_digest, oci_json_str(img->doc, "config"));
	img->layers = calloc(n, sizeof(*img->layers));
	if (!img->layers) {
		hbx_err("out of memory");
		goto err;
	}
	img->nr_layers = n;
	for (i = 0; i < n; i++) {
		struct json_object *l = json_object_array_get_idx(layers, i);
		struct hbx_image_layer *il = &img->layers[i];
		const char *d = oci_json_str(l, "digest");

		if (!oci_digest_valid(d)) {
			hbx_err("the image manifest %s is malformed", path);
			goto err;
		}
		strcpy(il->digest, d);
		il->size = json_object_get_int64(oci_json_get(l, "size", json_type_int));
		snprintf(il->image, sizeof(il->image), "%s/layers/%s.erofs", s->dir, d + 7);
		snprintf(il->manifest, sizeof(il->manifest), "%s/layers/%s.manifest",
			 s->dir, d + 7);
	}
	return 0;
err:
	hbx_image_free(img);
	return -1;
}

struct json_object *hbx_image_config(struct hbx_store *s, const struct hbx_image *img)
{
	char path[PATH_MAX + 96], got[OCI_DIGEST_LEN + 1], *buf = NULL;
	struct json_object *cfg = NULL;
	ssize_t len = -1;
	struct stat st;
	int fd;

	snprintf(path, sizeof(path), "%s/blobs/sha256/%s", s->dir, img->config_digest + 7);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0 && !fstat(fd, &st) && st.st_size < (4 << 20) &&
	    (buf = malloc(st.st_size + 1)))
		len = read(fd, buf, st.st_size);
	if (fd >= 0)
		close(fd);
	if (len < 0 || len != st.st_size) {
		hbx_err("cannot read the image config %s", path);
		free(buf);
		return NULL;
	}
	buf[len] = '\0';
	oci_digest_buf(buf, len, got);
	if (strcmp(got, img->config_digest))
		hbx_err("the image config %s does not match its digest (it has %s)", path, got);
	else if (!(cfg = json_tokener_parse(buf)) || !json_object_is_type(cfg, json_type_object))
		hbx_err("the image config %s is not a JSON object", path);
	else {
		free(buf);
		return cfg;
	}
	json_object_put(cfg);
	free(buf);
	return NULL;
}

void hbx_image_free(struct hbx_image *img)
{
	json_object_put(img->doc);
	free(img->layers);
	img->doc = NULL;
	img->layers = NULL;
}

const char *hbx_json_c_string(struct json_object *o)
{
	return json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
					      JSON_C_TO_STRING_SPACED |
					      JSON_C_TO_STRING_NOSLASHESCAPE);
}

/* Is "sha256:<hex>" in v[0..n)? */
static bool in_list(char (*v)[OCI_DIGEST_LEN + 1], size_t n, const char *hex)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!strncmp(v[i] + 7, hex, 64))
			return true;
	return false;
}

/* Remove each file of dir named HEX<suffix>... whose HEX is not in keep. */
static void sweep(struct hbx_store *s, const char *sub,
		  char (*keep)[OCI_DIGEST_LEN + 1], size_t n)
{
	char path[HBX_STORE_DIR_MAX + 300];
	struct dirent *d;
	DIR *dir;

	store_path(s, path, sizeof(path), sub);
	dir = opendir(path);
	while (dir && (d = readdir(dir))) {
		if (strlen(d->d_name) < 64 || strspn(d->d_name, "0123456789abcdef") < 64 ||
		    in_list(keep, n, d->d_name))
			continue;
		snprintf(path, sizeof(path), "%s/%s/%s", s->dir, sub, d->d_name);
		unlink(path);
	}
	if (dir)
		closedir(dir);
}

int hbx_store_gc(struct hbx_store *s)
{
	char (*images)[OCI_DIGEST_LEN + 1] = NULL, (*used)[OCI_DIGEST_LEN + 1] = NULL;
	struct hbx_store_name *names;
	ssize_t n = hbx_store_names(s, &names), i;
	size_t nu = 0, j, cap = 0;
	int ret = -1;

	if (n < 0)
		return -1;
	images = calloc(n ? n : 1, sizeof(*images));
	if (!images)
		goto out;
	for (i = 0; i < n; i++)
		strcpy(images[i], names[i].digest);
	for (i = 0; i < n; i++) {
		struct hbx_image_layer meta;
		struct hbx_image img;

		if (hbx_image_load(s, images[i], &img))
			goto out;	/* keep everything rather than guess */
		if (nu + img.nr_layers + 2 > cap) {
			void *p;

			cap = 2 * (nu + img.nr_layers + 2);
			p = realloc(used, cap * sizeof(*used));
			if (!p) {
				hbx_image_free(&img);
				goto out;
			}
			used = p;
		}
		for (j = 0; j < img.nr_layers; j++)
			strcpy(used[nu++], img.layers[j].digest);
		strcpy(used[nu++], img.config_digest);
		hbx_image_free(&img);
		if (!hbx_meta_find(s, images[i], &meta))
			strcpy(used[nu++], meta.digest);
	}
	sweep(s, "images", images, n);
	sweep(s, "meta", images, n);
	sweep(s, "layers", used, nu);
	sweep(s, "blobs/sha256", used, nu);
	sweep(s, "attached", used, nu);
	ret = 0;
out:
	if (ret)
		hbx_err("cannot collect the store's garbage");
	free(names);
	free(images);
	free(used);
	return ret;
}
