/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The local image store of hbx image (default /var/lib/hyperbox):
 *
 *   layers/HEX.erofs, HEX.manifest   one HyperBox layer (HEX: its digest),
 *                                    stored once whichever images use it
 *   blobs/sha256/HEX                 OCI config blobs
 *   images/HEX.json                  image manifests (HEX: sha256 of the file)
 *   layers/HEX.cache                 a pulled layer's chunks (hbx image pull)
 *   meta/HEX.erofs, HEX.manifest     an image's meta layer (HEX: the image's),
 *                                    what hbx image export serves peers
 *   attached/HEX                     the index of the layer (or meta layer)
 *                                    HEX this store attached, remotely (pull)
 *                                    or to export it: layers are the
 *                                    module's, not a network namespace's, so
 *                                    a store finds its own by this record
 *   names                            "sha256:HEX NAME" lines
 *   tmp/                             imports and pulls in progress
 *   lock                             flock()ed while the store changes
 *
 * An import stages everything under tmp/ and commits under the lock, the
 * name last, so an image is there whole or not at all.
 */
#ifndef HBX_CLI_IMAGE_H
#define HBX_CLI_IMAGE_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <json-c/json.h>
#include "oci_image.h"

#define HBX_STORE_DEFAULT	"/var/lib/hyperbox"
#define HBX_IMAGE_MEDIA_TYPE	"application/vnd.hyperbox.image.v1+json"
#define HBX_IMAGE_NAME_MAX	255

#define HBX_STORE_DIR_MAX	2048	/* leaves room for the paths under it */

struct hbx_store {
	char	dir[HBX_STORE_DIR_MAX];
	int	lock_fd;
};

struct hbx_store_name {
	char	digest[OCI_DIGEST_LEN + 1];
	char	name[HBX_IMAGE_NAME_MAX + 1];
};

struct hbx_image_layer {
	char	digest[OCI_DIGEST_LEN + 1];	/* the HyperBox layer */
	char	image[HBX_STORE_DIR_MAX + 96], manifest[HBX_STORE_DIR_MAX + 96];
	uint64_t size;
};

struct hbx_image {
	char			digest[OCI_DIGEST_LEN + 1];
	char			config_digest[OCI_DIGEST_LEN + 1];
	struct json_object	*doc;		/* the image manifest */
	struct hbx_image_layer	*layers;
	unsigned int		nr_layers;
};

/* These print their own errors and return -1 on failure. */
int hbx_store_open(struct hbx_store *s, const char *dir, bool create);
void hbx_store_close(struct hbx_store *s);
int hbx_store_lock(struct hbx_store *s);
ssize_t hbx_store_names(struct hbx_store *s, struct hbx_store_name **out);
int hbx_store_names_write(struct hbx_store *s, const struct hbx_store_name *v,
			  size_t n);
/* A name, or an image digest (sha256:HEX, or a unique prefix of HEX). */
int hbx_store_resolve(struct hbx_store *s, const char *what,
		      char digest[OCI_DIGEST_LEN + 1]);
int hbx_image_load(struct hbx_store *s, const char *digest, struct hbx_image *img);
void hbx_image_free(struct hbx_image *img);
/* The OCI config blob of an image, checked and parsed. */
struct json_object *hbx_image_config(struct hbx_store *s, const struct hbx_image *img);
/* Delete images no name points to, then layers and blobs no image uses. */
int hbx_store_gc(struct hbx_store *s);
bool hbx_image_name_valid(const char *name);
/* json-c, as we write it: pretty, "/" unescaped. */
const char *hbx_json_c_string(struct json_object *o);
int hbx_write_file_atomic(const char *path, const void *buf, size_t len);
/*
 * A directory of its own under the store's tmp/ (prefix "import" or
 * "pull"), locked for as long as hbx runs; the staging of an hbx that died
 * is swept first.
 */
int hbx_store_staging(struct hbx_store *s, const char *prefix, char *tmp, size_t len);
struct hbx_nl;
struct hbx_layer_info;
/*
 * The layer this store attached for digest, if it is still attached (live,
 * that digest): 0 and *l; -1, silently, if not.
 */
int hbx_store_attached_get(struct hbx_store *s, struct hbx_nl *nl, const char *digest,
			   struct hbx_layer_info *l);
int hbx_store_attached_set(struct hbx_store *s, const char *digest, uint32_t index);
void hbx_store_attached_clear(struct hbx_store *s, const char *digest);
/* Read a small file whole (at most max bytes): malloc'd, NUL-terminated. */
char *hbx_read_small(const char *path, size_t max, size_t *len);

/*
 * The meta layer: an image served to peers as a layer of its own, an EROFS
 * image of two files, image.json (the image manifest, byte for byte) and
 * config.json (the OCI config blob).  Built reproducibly, so every node that
 * holds an image serves the same meta layer, with the same digest: that
 * digest is the image's remote reference, NAME@sha256:HEX.
 */
#define HBX_META_IMAGE		"image.json"
#define HBX_META_CONFIG		"config.json"
#define HBX_IMAGE_JSON_MAX	(1 << 20)
#define HBX_IMAGE_CONFIG_MAX	(4 << 20)
/* Build (if need be) the image's meta layer; its paths and digest into *meta. */
int hbx_meta_build(struct hbx_store *s, const struct hbx_image *img,
		   struct hbx_image_layer *meta);
/* The same if it is built already; -1, silently, if not. */
int hbx_meta_find(const struct hbx_store *s, const char *image_digest,
		  struct hbx_image_layer *meta);
/*
 * The meta layer mounted at dir: its image manifest and config, checked
 * against each other (the config's digest) and for the shape of an image.
 * *image_digest is the SHA-256 of image.json.  Both malloc'd.
 */
int hbx_meta_read(const char *dir, char **image_json, size_t *image_len,
		  char **config, size_t *config_len,
		  char image_digest[OCI_DIGEST_LEN + 1]);
/* "NAME@sha256:HEX" or "sha256:HEX" (name then empty). */
int hbx_image_ref_parse(const char *ref, char *name, size_t name_len,
			char digest[OCI_DIGEST_LEN + 1]);

/* --store DIR and -j, shared by the image commands. */
struct hbx_image_opts {
	const char	*store;
	bool		json;
};

int image_main(int argc, char **argv);
int image_import_main(int argc, char **argv);
int image_mount_main(int argc, char **argv);
int image_umount_main(int argc, char **argv);
int image_bundle_main(int argc, char **argv);
int image_export_main(int argc, char **argv);
int image_pull_main(int argc, char **argv);

#endif
