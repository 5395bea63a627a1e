// SPDX-License-Identifier: GPL-2.0
/*
 * hbx image import SRC: an OCI image layout, oci-archive or docker-archive
 * into the store, one HyperBox layer per OCI layer.  Everything is staged in
 * the store's tmp/ (unpacked as root, then mkfs.erofs), checked against
 * every digest, and committed under the store's lock with the name last.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <linux/magic.h>
#include "hbx.h"
#include "image.h"
#include "json.h"
#include "layer.h"

static const char usage[] =
	"image import SRC[:REF] [--name NAME] [--store DIR] [-j]";

struct staged {
	char	digest[HBX_DIGEST_STR_LEN + 1];
	uint64_t size;
};

/* The image manifest: what the image is made of and where it came from. */
static struct json_object *image_doc(const struct oci_image *oci,
				     const struct staged *st)
{
	struct json_object *doc = json_object_new_object();
	struct json_object *src = json_object_new_object();
	struct json_object *layers = json_object_new_array();
	unsigned int i;

	json_object_object_add(doc, "schema-version", json_object_new_int(1));
	json_object_object_add(doc, "media-type", json_object_new_string(HBX_IMAGE_MEDIA_TYPE));
	json_object_object_add(doc, "config", json_object_new_string(oci->config_digest));
	json_object_object_add(src, "format", json_object_new_string(
		oci->format == OCI_FORMAT_LAYOUT ? "oci-layout" : "docker-archive"));
	if (*oci->manifest_digest) {
		json_object_object_add(src, "manifest",
				       json_object_new_string(oci->manifest_digest));
		json_object_object_add(src, "media-type",
				       json_object_new_string(oci->manifest_media_type));
	}
	json_object_object_add(doc, "source", src);
	for (i = 0; i < oci->nr_layers; i++) {
		const struct oci_layer *l = &oci->layers[i];
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "digest", json_object_new_string(st[i].digest));
		json_object_object_add(o, "size", json_object_new_int64(st[i].size));
		json_object_object_add(o, "diff-id", json_object_new_string(l->diff_id));
		if (*l->blob_digest)
			json_object_object_add(o, "blob", json_object_new_string(l->blob_digest));
		if (*l->media_type)
			json_object_object_add(o, "media-type", json_object_new_string(l->media_type));
		json_object_array_add(layers, o);
	}
	json_object_object_add(doc, "layers", layers);
	return doc;
}

/* rename(from, to) unless to exists; *moved says whether we did. */
static int move_in(const char *from, const char *to, bool *moved)
{
	*moved = false;
	if (!access(to, F_OK))
		return 0;
	if (rename(from, to)) {
		hbx_err("cannot move %s to %s: %s", from, to, strerror(errno));
		return -1;
	}
	*moved = true;
	return 0;
}

static int name_taken(struct hbx_store *s, const char *name)
{
	struct hbx_store_name *names;
	ssize_t n = hbx_store_names(s, &names), i;

	for (i = 0; i < n; i++)
		if (!strcmp(names[i].name, name))
			break;
	free(names);
	if (n >= 0 && i == n)
		return 0;
	if (n >= 0)
		hbx_err("an image named '%s' exists (hbx image rm it first)", name);
	return -1;
}

static int commit(struct hbx_store *s, const char *name, const char *tmp,
		  const struct oci_image *oci, struct staged *st,
		  const char *image_json, const char *digest)
{
	char path[PATH_MAX + 128], from[PATH_MAX + 32];
	unsigned int nr = oci->nr_layers, i, nmoved = 0;
	char (*moved)[PATH_MAX + 128] = calloc(3 * nr + 2, sizeof(*moved));
	struct hbx_store_name *names = NULL, *nv;
	ssize_t n;
	bool m;
	int ret = -1;

	if (!moved) {
		hbx_err("out of memory");
		return -1;
	}
	if (hbx_store_lock(s))
		goto out;
	if (name_taken(s, name))
		goto out;
	n = hbx_store_names(s, &names);
	if (n < 0)
		goto out;
	/*
	 * The manifest (and hash file, if the build wrote one) before the
	 * image: a layer's image implies the rest.
	 */
	for (i = 0; i < nr; i++) {
		static const char *const ext[] = { "manifest", "hashes", "erofs" };
		unsigned int e;

		for (e = 0; e < 3; e++) {
			snprintf(from, sizeof(from), "%s/layer%u.%s", tmp, i, ext[e]);
			snprintf(path, sizeof(path), "%s/layers/%s.%s", s->dir,
				 st[i].digest + 7, ext[e]);
			if (e == 1 && access(from, F_OK))
				continue;
			if (move_in(from, path, &m))
				goto undo;
			if (m)
				strcpy(moved[nmoved++], path);
		}
	}
	snprintf(from, sizeof(from), "%s/config", tmp);
	snprintf(path, sizeof(path), "%s/blobs/sha256/%s", s->dir, oci->config_digest + 7);
	if (hbx_write_file_atomic(from, oci->config, oci->config_len) ||
	    move_in(from, path, &m))
		goto undo;
	if (m)
		strcpy(moved[nmoved++], path);
	snprintf(from, sizeof(from), "%s/image.json", tmp);
	snprintf(path, sizeof(path), "%s/images/%s.json", s->dir, digest + 7);
	if (hbx_write_file_atomic(from, image_json, strlen(image_json)) ||
	    move_in(from, path, &m))
		goto undo;
	if (m)
		strcpy(moved[nmoved++], path);
	nv = realloc(names, (n + 1) * sizeof(*names));
	if (!nv) {
		hbx_err("out of memory");
		goto undo;
	}
	names = nv;
	snprintf(names[n].name, sizeof(names[n].name), "%s", name);
	strcpy(names[n].digest, digest);
	if (hbx_store_names_write(s, names, n + 1))
		goto undo;
	syncfs(s->lock_fd);
	ret = 0;
	goto out;
undo:
	while (nmoved > 0)
		unlink(moved[--nmoved]);
out:
	free(names);
	free(moved);
	return ret;
}

static void print_result(const char *name, const char *digest,
			 const struct oci_image *oci, const struct staged *st,
			 bool json)
{
	struct hbx_json j;
	unsigned int i;

	if (!json) {
		printf("%s %s\n", digest, name);
		return;
	}
	hbx_json_init(&j, stdout);
	hbx_json_object_begin(&j, NULL);
	hbx_json_string(&j, "name", name);
	hbx_json_string(&j, "digest", digest);
	hbx_json_string(&j, "config", oci->config_digest);
	hbx_json_array_begin(&j, "layers");
	for (i = 0; i < oci->nr_layers; i++) {
		hbx_json_object_begin(&j, NULL);
		hbx_json_string(&j, "digest", st[i].digest);
		hbx_json_u64(&j, "size", st[i].size);
		hbx_json_string(&j, "diff-id", oci->layers[i].diff_id);
		hbx_json_object_end(&j);
	}
	hbx_json_array_end(&j);
	hbx_json_object_end(&j);
	hbx_json_finish(&j);
}

/* NAME from --name, the image's ref, or SRC's file name. */
static int pick_name(const char *given, const struct oci_image *oci,
		     const char *src, char *out, size_t len)
{
	const char *base = strrchr(src, '/');
	size_t n;

	if (given) {
		snprintf(out, len, "%s", given);
	} else if (*oci->ref) {
		snprintf(out, len, "%s", oci->ref);
	} else {
		while (base && !base[1] && base > src) {	/* "dir/" */
			const char *p = base - 1;

			while (p > src && *p != '/')
				p--;
			base = p;
		}
		snprintf(out, len, "%s", base ? base + (*base == '/') : src);
		n = strcspn(out, "/");
		out[n] = '\0';
		n = strlen(out);
		if (n > 4 && !strcmp(out + n - 4, ".tar"))
			out[n - 4] = '\0';
	}
	if (!hbx_image_name_valid(out)) {
		hbx_err("'%s' is not a valid image name (letters, digits and ._:/@+-, not starting with sha256:)%s",
			out, given ? "" : "; give one with --name");
		return -1;
	}
	return 0;
}

static int import(struct hbx_store *s, const char *src, const char *ref,
		  const char *given_name, bool json)
{
	char tmp[HBX_STORE_DIR_MAX + 32], dir[PATH_MAX + 16], err[OCI_ERR_LEN], name[HBX_IMAGE_NAME_MAX + 1];
	char digest[OCI_DIGEST_LEN + 1], image[HBX_STORE_DIR_MAX + 64];
	struct hbx_build_opts o = { .chunk_shift = HBX_CHUNK_SHIFT_DEFAULT, .keep_mtimes = true };
	struct oci_image oci = { 0 };
	struct json_object *doc = NULL;
	struct staged *st = NULL;
	const char **lowers = NULL;
	struct statfs sfs;
	struct stat sst;
	unsigned int i;
	int ret = -1;

	if (stat(src, &sst)) {
		hbx_err("cannot read %s: %s", src, strerror(errno));
		return -1;
	}
	if (hbx_store_staging(s, "import", tmp, sizeof(tmp)))
		return -1;
	/* overlayfs would take our whiteouts for its own and hide them. */
	if (!statfs(tmp, &sfs) && sfs.f_type == OVERLAYFS_SUPER_MAGIC) {
		hbx_err("the store %s is on overlayfs, which cannot hold the whiteouts of a layer being built; use --store on another file system",
			s->dir);
		goto out;
	}
	if (S_ISREG(sst.st_mode)) {
		snprintf(dir, sizeof(dir), "%s/src", tmp);
		if (mkdir(dir, 0700)) {
			hbx_err("cannot create %s: %s", dir, strerror(errno));
			goto out;
		}
		if (oci_archive_unpack(src, dir, err)) {
			hbx_err("%s: %s", src, err);
			goto out;
		}
	} else {
		snprintf(dir, sizeof(dir), "%s", src);
	}
	if (oci_image_open(dir, ref, &oci, err)) {
		hbx_err("%s: %s", src, err);
		goto out;
	}
	if (pick_name(given_name, &oci, src, name, sizeof(name)) ||
	    name_taken(s, name))
		goto out;
	st = calloc(oci.nr_layers, sizeof(*st));
	lowers = calloc(oci.nr_layers, sizeof(*lowers));
	if (!st || !lowers) {
		hbx_err("out of memory");
		goto out;
	}
	for (i = 0; i < oci.nr_layers; i++) {
		struct hbx_manifest_info info;
		char *root = malloc(PATH_MAX);

		if (!root) {
			hbx_err("out of memory");
			goto out;
		}
		snprintf(root, PATH_MAX, "%.*s/root%u", HBX_STORE_DIR_MAX + 32, tmp, i);
		lowers[i] = root;
		if (mkdir(root, 0755)) {
			hbx_err("cannot create %s: %s", root, strerror(errno));
			goto out;
		}
		if (oci_layer_unpack(&oci.layers[i], root, lowers, i, err)) {
			hbx_err("%s: layer %u (%s): %s", src, i,
				*oci.layers[i].blob_digest ? oci.layers[i].blob_digest :
				oci.layers[i].diff_id, err);
			goto out;
		}
		/* The layer's own newest time: reproducible, and no mtime clamped. */
		o.epoch = oci_tree_max_mtime(root);
		snprintf(image, sizeof(image), "%s/layer%u.erofs", tmp, i);
		if (hbx_layer_build_dir(root, image, &o, &info))
			goto out;
		hbx_digest_format(info.digest, st[i].digest);
		st[i].size = info.image_size;
	}
	doc = image_doc(&oci, st);
	oci_digest_buf(hbx_json_c_string(doc), strlen(hbx_json_c_string(doc)), digest);
	if (commit(s, name, tmp, &oci, st, hbx_json_c_string(doc), digest))
		goto out;
	print_result(name, digest, &oci, st, json);
	ret = 0;
out:
	for (i = 0; lowers && i < oci.nr_layers; i++)
		free((void *)lowers[i]);
	free(lowers);
	free(st);
	json_object_put(doc);
	oci_image_free(&oci);
	hbx_remove_tree(tmp);
	return ret;
}

int image_import_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "store", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	const char *name = NULL, *store = NULL, *ref = NULL;
	char src[PATH_MAX];
	struct hbx_store s;
	bool json = false;
	struct stat st;
	int c, ret;

	while ((c = getopt_long(argc, argv, "n:s:j", opts, NULL)) != -1) {
		switch (c) {
		case 'n': name = optarg; break;
		case 's': store = optarg; break;
		case 'j': json = true; break;
		default: return hbx_usage(usage);
		}
	}
	if (optind != argc - 1)
		return hbx_usage(usage);
	if (name && !hbx_image_name_valid(name)) {
		hbx_err("'%s' is not a valid image name (letters, digits and ._:/@+-, not starting with sha256:)",
			name);
		return 2;
	}
	snprintf(src, sizeof(src), "%s", argv[optind]);
	/* SRC:REF picks one image of several, as umoci and skopeo write it. */
	if (stat(src, &st) && strrchr(src, ':')) {
		*strrchr(src, ':') = '\0';
		ref = argv[optind] + strlen(src) + 1;
	}
	if (hbx_store_open(&s, store, true))
		return 1;
	ret = import(&s, src, ref, name, json) ? 1 : 0;
	hbx_store_close(&s);
	return ret;
}
