/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Layer manifests in user space: build one (version 2) and the hash file
 * from an image, check one read back, and the "sha256:<hex>" digest that
 * names a layer.
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
 * A chunk's version 2 digest: the SHA-256 of the SHA-256s of its 4 KiB
 * blocks (its leaf hashes), concatenated in order.  len is a non-zero
 * multiple of HBX_BLOCK_SIZE; leaves, if not NULL, gets the leaf hashes
 * (len / HBX_BLOCK_SIZE * HBX_DIGEST_SIZE bytes).
 */
void hbx_chunk_digest(const void *data, size_t len,
		      uint8_t digest[HBX_DIGEST_SIZE], uint8_t *leaves);

/*
 * Hash image_fd chunk by chunk and write the (version 2) manifest to out_fd
 * and, if hashes_fd >= 0, the hash file to hashes_fd: every block's leaf
 * hash, 32 bytes each, in order, nothing else.  The image must be a
 * non-empty multiple of 4096 bytes.  Returns 0 or -errno.
 */
int hbx_manifest_build_hashes(int image_fd, unsigned int chunk_shift,
			      int out_fd, int hashes_fd,
			      struct hbx_manifest_info *info);
/* The same without a hash file. */
int hbx_manifest_build(int image_fd, unsigned int chunk_shift, int out_fd,
		       struct hbx_manifest_info *info);

/*
 * Read a manifest's header from fd (at offset 0) and check that it is one
 * this hbx can hand on: the magic and version 2.  Fills info's sizes (not
 * its digest).  Returns 0, or -errno with *why set to a sentence: a
 * version 1 manifest is refused ("manifest version 1: rebuild the layer with
 * hbx layer build").  The kernel checks the rest.
 */
int hbx_manifest_check(int fd, struct hbx_manifest_info *info,
		       const char **why);

/* SHA-256 of a whole file (a manifest's digest).  0 or -errno. */
int hbx_file_digest(int fd, uint8_t digest[HBX_DIGEST_SIZE]);

#endif
