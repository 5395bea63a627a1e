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

int hbx_manifest_build(int image_fd, unsigned int chunk_shift, int out_fd,
		       struct hbx_manifest_info *info)
{
	struct hbx_manifest_header h;
	size_t chunk = (size_t)1 << chunk_shift, mlen;
	uint8_t *manifest = NULL, *buf = NULL;
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
	err = -ENOMEM;
	if (!manifest || !buf)
		goto out;

	memset(&h, 0, sizeof(h));
	h.magic = htole32(HBX_MANIFEST_MAGIC);
	h.version = htole16(HBX_MANIFEST_VERSION);
	h.hash_algo = HBX_HASH_SHA256;
	h.chunk_shift = chunk_shift;
	h.image_size = htole64(info->image_size);
	h.chunk_count = htole64(info->chunk_count);
	memcpy(manifest, &h, sizeof(h));

	for (i = 0; i < info->chunk_count; i++) {
		off_t off = (off_t)(i * chunk);
		size_t len = info->image_size - off < chunk ?
			     info->image_size - off : chunk;

		err = hbx_pread_full(image_fd, buf, len, off);
		if (err)
			goto out;
		hbx_sha256(buf, len, manifest + sizeof(h) + i * HBX_DIGEST_SIZE);
	}
	hbx_sha256(manifest, mlen, info->digest);
	err = hbx_write_full(out_fd, manifest, mlen);
out:
	free(manifest);
	free(buf);
	return err;
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
