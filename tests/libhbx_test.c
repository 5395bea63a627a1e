// SPDX-License-Identifier: GPL-2.0
/*
 * Host-side unit tests of libhbx: manifests, digests, JSON.  No kernel
 * needed; the VM suite covers the module.
 */
#include <endian.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include "kselftest_harness.h"
#include "json.h"
#include "manifest.h"

static int tmpfile_with(const void *buf, size_t len)
{
	char path[] = "/tmp/hbx-unit.XXXXXX";
	int fd = mkstemp(path);

	if (fd < 0)
		return -1;
	unlink(path);
	if (len && write(fd, buf, len) != (ssize_t)len) {
		close(fd);
		return -1;
	}
	return fd;
}

static void hex(const uint8_t *d, char *out)
{
	for (int i = 0; i < HBX_DIGEST_SIZE; i++)
		sprintf(out + 2 * i, "%02x", d[i]);
}

TEST(manifest_of_zero_blocks_has_known_chunk_digests)
{
	/* sha256 of 4096 zero bytes, from coreutils' sha256sum. */
	static const char zero4k[] =
		"ad7facb2586fc6e966c004d7d1d16b024f5805ff7cb47c7a85dabd8b48892ca7";
	uint8_t *zeros = calloc(1, 3 * 4096), *m;
	struct hbx_manifest_header *h;
	struct hbx_manifest_info info;
	int in = tmpfile_with(zeros, 3 * 4096), out = tmpfile_with(NULL, 0);
	uint8_t again[HBX_DIGEST_SIZE];
	char buf[65];
	struct stat st;

	ASSERT_LE(0, in);
	ASSERT_EQ(0, hbx_manifest_build(in, 12, out, &info));
	EXPECT_EQ(3 * 4096, info.image_size);
	EXPECT_EQ(3, info.chunk_count);
	EXPECT_EQ(4096, info.chunk_size);

	ASSERT_EQ(0, fstat(out, &st));
	ASSERT_EQ(sizeof(*h) + 3 * HBX_DIGEST_SIZE, st.st_size);
	m = malloc(st.st_size);
	ASSERT_EQ(st.st_size, pread(out, m, st.st_size, 0));
	h = (struct hbx_manifest_header *)m;
	EXPECT_EQ(HBX_MANIFEST_MAGIC, le32toh(h->magic));
	EXPECT_EQ(HBX_MANIFEST_VERSION, le16toh(h->version));
	EXPECT_EQ(HBX_HASH_SHA256, h->hash_algo);
	EXPECT_EQ(12, h->chunk_shift);
	EXPECT_EQ(3 * 4096, le64toh(h->image_size));
	EXPECT_EQ(3, le64toh(h->chunk_count));
	for (int i = 0; i < 3; i++) {
		hex(m + sizeof(*h) + i * HBX_DIGEST_SIZE, buf);
		EXPECT_STREQ(zero4k, buf);
	}
	/* The layer digest is the manifest file's own hash. */
	ASSERT_EQ(0, hbx_file_digest(out, again));
	EXPECT_EQ(0, memcmp(again, info.digest, HBX_DIGEST_SIZE));
	free(m);
	free(zeros);
	close(in);
	close(out);
}

TEST(manifest_last_chunk_may_be_short)
{
	uint8_t *data = calloc(1, 5 * 4096);
	struct hbx_manifest_info info;
	int in = tmpfile_with(data, 5 * 4096), out = tmpfile_with(NULL, 0);

	ASSERT_EQ(0, hbx_manifest_build(in, 13, out, &info));
	EXPECT_EQ(3, info.chunk_count);
	free(data);
	close(in);
	close(out);
}

TEST(manifest_refuses_empty_unaligned_and_bad_chunk_sizes)
{
	char junk[5000] = { 0 };
	struct hbx_manifest_info info;
	int empty = tmpfile_with(NULL, 0), odd = tmpfile_with(junk, sizeof(junk));
	int out = tmpfile_with(NULL, 0);

	EXPECT_EQ(-EINVAL, hbx_manifest_build(empty, 16, out, &info));
	EXPECT_EQ(-EINVAL, hbx_manifest_build(odd, 16, out, &info));
	EXPECT_EQ(-EINVAL, hbx_manifest_build(odd, 11, out, &info));
	EXPECT_EQ(-EINVAL, hbx_manifest_build(odd, 23, out, &info));
	close(empty);
	close(odd);
	close(out);
}

TEST(digest_round_trips_and_rejects_garbage)
{
	uint8_t d[HBX_DIGEST_SIZE], back[HBX_DIGEST_SIZE];
	char s[HBX_DIGEST_STR_LEN + 1];

	for (int i = 0; i < HBX_DIGEST_SIZE; i++)
		d[i] = i * 7;
	hbx_digest_format(d, s);
	EXPECT_EQ(HBX_DIGEST_STR_LEN, strlen(s));
	EXPECT_EQ(0, strncmp(s, "sha256:", 7));
	ASSERT_EQ(0, hbx_digest_parse(s, back));
	EXPECT_EQ(0, memcmp(d, back, sizeof(d)));
	ASSERT_EQ(0, hbx_digest_parse(s + 7, back));	/* bare hex */
	EXPECT_EQ(-EINVAL, hbx_digest_parse("sha256:00", back));
	s[20] = 'g';
	EXPECT_EQ(-EINVAL, hbx_digest_parse(s, back));
	EXPECT_EQ(-EINVAL, hbx_digest_parse("", back));
}

TEST(json_escapes_and_nests)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	struct hbx_json j;

	hbx_json_init(&j, f);
	hbx_json_object_begin(&j, NULL);
	hbx_json_string(&j, "s", "a\"b\\c\n\x01");
	hbx_json_array_begin(&j, "list");
	hbx_json_u64(&j, NULL, 1);
	hbx_json_u64(&j, NULL, 18446744073709551615ULL);
	hbx_json_array_end(&j);
	hbx_json_object_begin(&j, "o");
	hbx_json_bool(&j, "t", true);
	hbx_json_object_end(&j);
	hbx_json_object_end(&j);
	hbx_json_finish(&j);
	fclose(f);
	EXPECT_STREQ("{\"s\":\"a\\\"b\\\\c\\n\\u0001\",\"list\":[1,18446744073709551615],"
		     "\"o\":{\"t\":true}}\n", out);
	free(out);
}

TEST_HARNESS_MAIN
