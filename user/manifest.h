/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Layer manifests in user space: build one from an image, read one back,
 * and the "sha256:<hex>" digest that names a layer.
 */
#ifndef HBX_MANIFEST_USER_H
#define HBX_MANIFEST_USER_H

#include <stddef.h>
#include <stdint.h>
#include <linux/hyperbox.h>

#define HBX_DIGEST_STR_LEN (7 + 2 * HBX_DIGEST_SIZE)	/* "sha256:" + hex */

/* "sha256:<64 hex>" (buf holds HBX_DIGEST_STR_LEN + 1). */
void hbx_digest_format(const uint8_t digest[HBX_DIGEST_SIZE], char *buf);
/* Parse "sha256:<hex>" or bare hex; 0 or -EINVAL. */
int hbx_digest_parse(const char *s, uint8_t digest[HBX_DIGEST_SIZE]);

void hbx_sha256(const void *data, size_t len, uint8_t out[HBX_DIGEST_SIZE]);

struct hbx_manifest_info {
	uint64_t	image_size;
	uint64_t	chunk_count;
	uint32_t	chunk_size;
	uint8_t		digest[HBX_DIGEST_SIZE];	/* of the manifest */
};

/*
 * Hash image_fd chunk by chunk and write the manifest to out_fd.  The image
 * must be a non-empty multiple of 4096 bytes.  Returns 0 or -errno.
 */
int hbx_manifest_build(int image_fd, unsigned int chunk_shift, int out_fd,
		       struct hbx_manifest_info *info);

/* SHA-256 of a whole file (a manifest's digest).  0 or -errno. */
int hbx_file_digest(int fd, uint8_t digest[HBX_DIGEST_SIZE]);

#endif
