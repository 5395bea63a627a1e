// SPDX-License-Identifier: GPL-2.0
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <mbedtls/sha256.h>
#include "hex.h"
#include "io.h"
#include "manifest.h"

void hbx_digest_format(const uint8_t digest[HBX_DIGEST_SIZE], char *buf)
{
	memcpy(buf, "sha256:", 7);
	hbx_hex(digest, HBX_DIGEST_SIZE, buf + 7);
}

int hbx_digest_parse(const char *s, uint8_t digest[HBX_DIGEST_SIZE])
{
	if (!strncmp(s, "sha256:", 7))
		s += 7;
	if (strlen(s) != 2 * HBX_DIGEST_SIZE ||
	    hbx_unhex(s, digest, HBX_DIGEST_SIZE) != HBX_DIGEST_SIZE)
		return -EINVAL;
	return 0;
}

void hbx_sha256(const void *data, size_t len, uint8_t out[HBX_DIGEST_SIZE])
{
	mbedtls_sha256_ret(data, len, out, 0);
}

void hbx_chunk_digest(const void *data, size_t len,
		      uint8_t digest[HBX_DIGEST_SIZE], uint8_t *leaves)
{
	mbedtls_sha256_context ctx;
	uint8_t leaf[HBX_DIGEST_SIZE];
	size_t off;

	mbedtls_sha256_init(&ctx);
	mbedtls_sha256_starts_ret(&ctx, 0);
	for (off = 0; off < len; off += HBX_BLOCK_SIZE) {
		hbx_sha256((const uint8_t *)data + off, HBX_BLOCK_SIZE, leaf);
		mbedtls_sha256_update_ret(&ctx, leaf, sizeof(leaf));
		if (leaves)
			memcpy(leaves + (off >> HBX_BLOCK_SHIFT) * HBX_DIGEST_SIZE,
			       leaf, sizeof(leaf));
	}
	mbedtls_sha256_finish_ret(&ctx, digest);
	mbedtls_sha256_free(&ctx);
}

int hbx_manifest_build_hashes(int image_fd, unsigned int chunk_shift,
			      int out_fd, int hashes_fd,
			      struct hbx_manifest_info *info)
{
	struct hbx_manifest_header h;
	size_t chunk = (size_t)1 << chunk_shift, mlen;
	uint8_t *manifest = NULL, *buf = NULL, *leaves = NULL;
	uint64_t i;
	struct stat st;
	int err;

	if (chunk_shift < HBX_CHUNK_SHIFT_MIN || chunk_shift > HBX_CHUNK_SHIFT_MAX)
		return -EINVAL;
	if (fstat(image_fd, &st))
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	if (st.st_size == 0 || st.st_size % HBX_BLOCK_SIZE)
		return -EINVAL;

	memset(info, 0, sizeof(*info));
	info->image_size = st.st_size;
	info->chunk_size = chunk;
	info->chunk_count = (info->image_size + chunk - 1) / chunk;
	mlen = sizeof(h) + info->chunk_count * HBX_DIGEST_SIZE;
	if (mlen > HBX_MANIFEST_MAX)
		return -EFBIG;

	manifest = calloc(1, mlen);
	buf = malloc(chunk);
	leaves = malloc((chunk >> HBX_BLOCK_SHIFT) * HBX_DIGEST_SIZE);
	err = -ENOMEM;
	if (!manifest || !buf || !leaves)
		goto out;

	memset(&h, 0, sizeof(h));
	h.magic = htole32(HBX_MANIFEST_MAGIC);
	h.version = htole16(HBX_MANIFEST_VERSION);
	h.hash_algo = HBX_HASH_SHA256;
	h.chunk_shift = chunk_shift;
	h.image_size = htole64(info->image_size);
	h.chunk_count = htole64(info->chunk_count);
	memcpy(manifest, &h, sizeof(h));

	/* Every leaf is a whole block: a short last chunk has fewer of them. */
	for (i = 0; i < info->chunk_count; i++) {
		off_t off = (off_t)(i * chunk);
		size_t len = info->image_size - off < chunk ?
			     info->image_size - off : chunk;

		err = hbx_pread_full(image_fd, buf, len, off);
		if (err)
			goto out;
		hbx_chunk_digest(buf, len, manifest + sizeof(h) + i * HBX_DIGEST_SIZE,
				 leaves);
		if (hashes_fd >= 0) {
			err = hbx_write_full(hashes_fd, leaves,
					     (len >> HBX_BLOCK_SHIFT) * HBX_DIGEST_SIZE);
			if (err)
				goto out;
		}
	}
	hbx_sha256(manifest, mlen, info->digest);
	err = hbx_write_full(out_fd, manifest, mlen);
out:
	free(manifest);
	free(buf);
	free(leaves);
	return err;
}

int hbx_manifest_build(int image_fd, unsigned int chunk_shift, int out_fd,
		       struct hbx_manifest_info *info)
{
	return hbx_manifest_build_hashes(image_fd, chunk_shift, out_fd, -1, info);
}

int hbx_manifest_check(int fd, struct hbx_manifest_info *info,
		       const char **why)
{
	struct hbx_manifest_header h;
	int err;

	memset(info, 0, sizeof(*info));
	err = hbx_pread_full(fd, &h, sizeof(h), 0);
	if (err) {
		*why = err == -EIO ? "manifest is shorter than its header" :
		       "cannot read the manifest";
		return err;
	}
	if (le32toh(h.magic) != HBX_MANIFEST_MAGIC) {
		*why = "not a HyperBox manifest (bad magic)";
		return -EINVAL;
	}
	if (le16toh(h.version) == 1) {
		*why = "manifest version 1: rebuild the layer with hbx layer build";
		return -EPROTONOSUPPORT;
	}
	if (le16toh(h.version) != HBX_MANIFEST_VERSION) {
		*why = "unknown manifest version (newer than this hbx)";
		return -EPROTONOSUPPORT;
	}
	info->image_size = le64toh(h.image_size);
	info->chunk_count = le64toh(h.chunk_count);
	info->chunk_size = h.chunk_shift < 32 ? 1U << h.chunk_shift : 0;
	*why = NULL;
	return 0;
}

int hbx_file_digest(int fd, uint8_t digest[HBX_DIGEST_SIZE])
{
	mbedtls_sha256_context ctx;
	uint8_t buf[65536];
	off_t off = 0;
	int err = 0;

	mbedtls_sha256_init(&ctx);
	mbedtls_sha256_starts_ret(&ctx, 0);
	for (;;) {
		ssize_t n = pread(fd, buf, sizeof(buf), off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = -errno;
			break;
		}
		if (n == 0)
			break;
		mbedtls_sha256_update_ret(&ctx, buf, n);
		off += n;
	}
	if (!err)
		mbedtls_sha256_finish_ret(&ctx, digest);
	mbedtls_sha256_free(&ctx);
	return err;
}
