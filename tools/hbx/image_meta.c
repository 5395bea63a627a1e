// SPDX-License-Identifier: GPL-2.0
/*
 * The meta layer of an image (see image.h): how hbx image export serves an
 * image's manifest and config to peers, and how hbx image pull reads them
 * back.  Peers only ever ask for layers by digest, and the module checks
 * every byte against it, so the image travels as a layer of its own and
 * needs nothing new on the wire or in the kernel.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "hbx.h"
#include "image.h"
#include "io.h"
#include "layer.h"

static void meta_paths(const struct hbx_store *s, const char *image_digest,
		       struct hbx_image_layer *meta)
{
	snprintf(meta->image, sizeof(meta->image), "%s/meta/%s.erofs", s->dir,
		 image_digest + 7);
	snprintf(meta->manifest, sizeof(meta->manifest), "%s/meta/%s.manifest", s->dir,
		 image_digest + 7);
}

/* path's bytes, checked against digest (the store is content-addressed). */
static char *read_checked(const char *path, size_t max, const char *digest, size_t *len)
{
	char got[OCI_DIGEST_LEN + 1], *buf = hbx_read_small(path, max, len);

	if (!buf)
		return NULL;
	oci_digest_buf(buf, *len, got);
	if (strcmp(got, digest)) {
		hbx_err("%s does not match its digest %s (it has %s)", path, digest, got);
		free(buf);
		return NULL;
	}
	return buf;
}

/*
 * A file of the meta layer's tree: owner root, mode 0644, whoever builds it,
 * so that every node builds the same bytes (mkfs.erofs pins the times).
 */
static int put_file(const char *dir, const char *name, const char *buf, size_t len)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (hbx_write_file_atomic(path, buf, len))
		return -1;
	if (chmod(path, 0644) || (lchown(path, 0, 0) && errno != EPERM)) {
		hbx_err("cannot set the mode and owner of %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* Move a built file into meta/: rename(2), atomic; an existing one stays. */
static int move_built(const char *tmp, const char *ext, const char *to)
{
	char from[PATH_MAX + 32];

	snprintf(from, sizeof(from), "%s/meta.%s", tmp, ext);
	if (!access(to, F_OK))
		return 0;
	if (rename(from, to)) {
		hbx_err("cannot move %s to %s: %s", from, to, strerror(errno));
		return -1;
	}
	return 0;
}

static int build(struct hbx_store *s, const struct hbx_image *img,
		 const struct hbx_image_layer *meta)
{
	struct hbx_build_opts o = { .chunk_shift = HBX_CHUNK_SHIFT_DEFAULT };
	char tmp[HBX_STORE_DIR_MAX + 32], root[PATH_MAX], path[PATH_MAX + 96];
	char out[PATH_MAX + 32], hashes[HBX_STORE_DIR_MAX + 96];
	char *image_json = NULL, *config = NULL;
	struct hbx_manifest_info info;
	size_t image_len, config_len;
	int ret = -1;

	if (hbx_store_staging(s, "meta", tmp, sizeof(tmp)))
		return -1;
	snprintf(path, sizeof(path), "%s/images/%s.json", s->dir, img->digest + 7);
	image_json = read_checked(path, HBX_IMAGE_JSON_MAX, img->digest, &image_len);
	snprintf(path, sizeof(path), "%s/blobs/sha256/%s", s->dir, img->config_digest + 7);
	config = image_json ? read_checked(path, HBX_IMAGE_CONFIG_MAX, img->config_digest,
					   &config_len) : NULL;
	if (!config)
		goto out;
	snprintf(root, sizeof(root), "%s/root", tmp);
	if (mkdir(root, 0755) || chmod(root, 0755) || (lchown(root, 0, 0) && errno != EPERM)) {
		hbx_err("cannot create %s: %s", root, strerror(errno));
		goto out;
	}
	if (put_file(root, HBX_META_IMAGE, image_json, image_len) ||
	    put_file(root, HBX_META_CONFIG, config, config_len))
		goto out;
	snprintf(out, sizeof(out), "%s/meta.erofs", tmp);
	if (hbx_layer_build_dir(root, out, &o, &info))
		goto out;
	/* The manifest and hash file first: a meta layer's image implies the rest. */
	hbx_layer_hashes_path(meta->image, hashes, sizeof(hashes));
	if (move_built(tmp, "manifest", meta->manifest) ||
	    move_built(tmp, "hashes", hashes) ||
	    move_built(tmp, "erofs", meta->image))
		goto out;
	ret = 0;
out:
	free(image_json);
	free(config);
	hbx_remove_tree(tmp);
	return ret;
}

/* The meta layer's digest and size, if it is built: 1, 0 if not, -1 on error. */
static int meta_find(const struct hbx_store *s, const char *image_digest,
		     struct hbx_image_layer *meta)
{
	uint8_t digest[HBX_DIGEST_SIZE];
	struct stat st;
	int fd, err;

	memset(meta, 0, sizeof(*meta));
	meta_paths(s, image_digest, meta);
	if (access(meta->image, F_OK))
		return 0;
	fd = open(meta->manifest, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		hbx_err("cannot open %s: %s", meta->manifest, strerror(errno));
		return -1;
	}
	err = hbx_file_digest(fd, digest);
	close(fd);
	if (err || stat(meta->image, &st)) {
		hbx_err("cannot read the meta layer %s: %s", meta->image,
			strerror(err ? -err : errno));
		return -1;
	}
	hbx_digest_format(digest, meta->digest);
	meta->size = st.st_size;
	return 1;
}

int hbx_meta_find(const struct hbx_store *s, const char *image_digest,
		  struct hbx_image_layer *meta)
{
	return meta_find(s, image_digest, meta) == 1 ? 0 : -1;
}

int hbx_meta_build(struct hbx_store *s, const struct hbx_image *img,
		   struct hbx_image_layer *meta)
{
	int found = meta_find(s, img->digest, meta);

	if (found)
		return found < 0 ? -1 : 0;
	if (build(s, img, meta))
		return -1;
	return meta_find(s, img->digest, meta) == 1 ? 0 : -1;
}

/* Does image_json describe an image whose config is config? */
static int check_image(const char *image_json, const char *config, size_t config_len)
{
	struct json_object *doc = json_tokener_parse(image_json), *layers, *cfg;
	const char *want, *why = NULL;
	char got[OCI_DIGEST_LEN + 1];
	size_t i, n;

	layers = oci_json_get(doc, "layers", json_type_array);
	n = layers ? json_object_array_length(layers) : 0;
	want = oci_json_str(doc, "config");
	oci_digest_buf(config, config_len, got);
	if (!doc || strcmp(oci_json_str(doc, "media-type") ?: "", HBX_IMAGE_MEDIA_TYPE))
		why = "its image manifest is not an hbx image manifest";
	else if (!n || !oci_digest_valid(want))
		why = "its image manifest is malformed";
	else if (strcmp(want, got))
		why = "its config does not match the image manifest's config digest";
	for (i = 0; !why && i < n; i++)
		if (!oci_digest_valid(oci_json_str(json_object_array_get_idx(layers, i), "digest")))
			why = "its image manifest has a malformed layer digest";
	cfg = why ? NULL : json_tokener_parse(config);
	if (!why && (!cfg || !json_object_is_type(cfg, json_type_object)))
		why = "its config is not a JSON object";
	json_object_put(cfg);
	json_object_put(doc);
	if (why) {
		hbx_err("the meta layer is not an image: %s", why);
		return -1;
	}
	return 0;
}

int hbx_meta_read(const char *dir, char **image_json, size_t *image_len,
		  char **config, size_t *config_len,
		  char image_digest[OCI_DIGEST_LEN + 1])
{
	char path[PATH_MAX + 32];

	*config = NULL;
	snprintf(path, sizeof(path), "%s/%s", dir, HBX_META_IMAGE);
	*image_json = hbx_read_small(path, HBX_IMAGE_JSON_MAX, image_len);
	if (!*image_json)
		return -1;
	snprintf(path, sizeof(path), "%s/%s", dir, HBX_META_CONFIG);
	*config = hbx_read_small(path, HBX_IMAGE_CONFIG_MAX, config_len);
	if (!*config || strlen(*image_json) != *image_len ||
	    check_image(*image_json, *config, *config_len)) {
		free(*image_json);
		free(*config);
		*image_json = *config = NULL;
		return -1;
	}
	oci_digest_buf(*image_json, *image_len, image_digest);
	return 0;
}

int hbx_image_ref_parse(const char *ref, char *name, size_t name_len,
			char digest[OCI_DIGEST_LEN + 1])
{
	const char *at = strrchr(ref, '@');
	const char *d = at ? at + 1 : ref;

	if (!oci_digest_valid(d) || (at && (size_t)(at - ref) >= name_len))
		return -1;
	snprintf(name, name_len, "%.*s", at ? (int)(at - ref) : 0, ref);
	if (at && !hbx_image_name_valid(name))
		return -1;
	strcpy(digest, d);
	return 0;
}
