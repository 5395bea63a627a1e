/* SPDX-License-Identifier: GPL-2.0 */
/*
 * OCI images as they arrive: an OCI image layout directory, or a
 * docker-archive unpacked into one (podman save, docker save, skopeo).
 * Every blob read through here is checked against its descriptor's digest
 * and size; every layer against its diff_id.  Errors are sentences in err.
 */
#ifndef HBX_OCI_IMAGE_H
#define HBX_OCI_IMAGE_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>

#define OCI_ERR_LEN	512
#define OCI_DIGEST_LEN	(7 + 64)	/* "sha256:" + hex */

enum oci_format { OCI_FORMAT_LAYOUT, OCI_FORMAT_DOCKER_ARCHIVE };
enum oci_compression { OCI_PLAIN, OCI_GZIP, OCI_ZSTD, OCI_SNIFF };

struct oci_layer {
	char			path[PATH_MAX];		/* the blob */
	char			media_type[128];	/* "" in a docker-archive */
	enum oci_compression	compression;
	char			blob_digest[OCI_DIGEST_LEN + 1];	/* "" if unknown */
	int64_t			size;			/* -1 if unknown */
	char			diff_id[OCI_DIGEST_LEN + 1];
};

struct oci_image {
	enum oci_format		format;
	char			ref[256];		/* ref name or repo tag, "" if none */
	char			manifest_digest[OCI_DIGEST_LEN + 1];	/* "" in a docker-archive */
	char			manifest_media_type[128];
	char			config_digest[OCI_DIGEST_LEN + 1];
	char			*config;		/* the config blob, checked */
	size_t			config_len;
	struct oci_layer	*layers;
	unsigned int		nr_layers;
};

/*
 * Read the image in dir: an OCI layout (index.json) or an unpacked
 * docker-archive (manifest.json).  ref picks one of several images by
 * ref name / repo tag (NULL: the only one).  0 or -1 with err set.
 */
int oci_image_open(const char *dir, const char *ref, struct oci_image *img,
		   char *err);
void oci_image_free(struct oci_image *img);

/* Unpack an image archive (oci-archive or docker-archive, any compression). */
int oci_archive_unpack(const char *archive, const char *dir, char *err);

/*
 * Unpack layer l into the empty directory dir, as root: owners, modes,
 * mtimes, xattrs, devices, hard links.  OCI whiteouts become overlayfs ones
 * (.wh.NAME a 0/0 character device, .wh..wh..opq the trusted.overlay.opaque
 * xattr).  A directory the tar implies but does not hold takes its metadata
 * from the topmost of lowers[0..nr_lowers) (the layers below, bottom first)
 * that has it.  The blob digest, size and diff_id are checked at the end:
 * on a mismatch, -1 and the caller throws dir away.
 */
int oci_layer_unpack(const struct oci_layer *l, const char *dir,
		     const char *const *lowers, unsigned int nr_lowers,
		     char *err);

/* Greatest mtime in a tree (not following links); 0 for none. */
int64_t oci_tree_max_mtime(const char *dir);

/* Set err to a sentence (internal to oci_*.c, shared by them). */
void oci_seterr(char *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Strip leading "/" and "./" and refuse ".." components: 0, or -1 with err. */
int oci_clean_path(const char *in, char *out, size_t len, char *err);

/* o's member key if it has that type, else NULL (o may be NULL). */
struct json_object *oci_json_get(struct json_object *o, const char *key,
				 enum json_type type);
const char *oci_json_str(struct json_object *o, const char *key);
/* "sha256:" and 64 lower-case hex digits (the only algorithm we take). */
bool oci_digest_valid(const char *d);

/* "sha256:<hex>" of a buffer. */
void oci_digest_buf(const void *buf, size_t len, char out[OCI_DIGEST_LEN + 1]);

#endif
