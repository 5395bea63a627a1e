// SPDX-License-Identifier: GPL-2.0
/*
 * Host-side unit tests of libhbx: manifests, digests, JSON, TCP.  No kernel
 * needed; the VM suite covers the module.
 */
#include <arpa/inet.h>
#include <endian.h>
#include <fcntl.h>
#include <netdb.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <json-c/json.h>
#include "kselftest_harness.h"
#include "json.h"
#include "manifest.h"
#include "net.h"

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
	/*
	 * Version 2: a chunk's digest is sha256 of its leaf hashes.  The leaf
	 * of a zero block is ad7facb2...92ca7 (sha256sum of 4096 zeros); a
	 * one-block chunk's digest, from coreutils alone:
	 *   head -c 4096 /dev/zero | sha256sum | cut -c1-64 | xxd -r -p | sha256sum
	 */
	static const char zero4k[] =
		"bb9112be14e7f7bedba9636f28a83d12784188a1aca78da399c6e61e35f06144";
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

/* Two zero leaves, then a short chunk of one: sha256sum of the leaves. */
TEST(manifest_v2_chunk_digest_covers_its_leaves_and_a_short_last_chunk)
{
	/* (leaf; leaf) | sha256sum, leaf = sha256 of 4096 zeros in binary. */
	static const char two[] =
		"90cefbd5d8858e0ddfb9bd65d7a4920c83019fbe5149e2ee4c2ba34943a1efce";
	static const char one[] =
		"bb9112be14e7f7bedba9636f28a83d12784188a1aca78da399c6e61e35f06144";
	uint8_t *zeros = calloc(1, 3 * 4096), m[sizeof(struct hbx_manifest_header) + 2 * 32];
	struct hbx_manifest_info info;
	int in = tmpfile_with(zeros, 3 * 4096), out = tmpfile_with(NULL, 0);
	char buf[65];

	ASSERT_EQ(0, hbx_manifest_build(in, 13, out, &info));
	ASSERT_EQ(2, info.chunk_count);
	ASSERT_EQ(sizeof(m), pread(out, m, sizeof(m), 0));
	hex(m + sizeof(struct hbx_manifest_header), buf);
	EXPECT_STREQ(two, buf);
	hex(m + sizeof(struct hbx_manifest_header) + 32, buf);
	EXPECT_STREQ(one, buf);
	free(zeros);
	close(in);
	close(out);
}

/* Block i of the test image: bytes that differ from block to block. */
static void fill_blocks(uint8_t *p, int blocks)
{
	for (int i = 0; i < blocks * 4096; i++)
		p[i] = (uint8_t)(i * 131 + (i >> 12) * 7 + (i >> 9));
}

/*
 * The manifest and hash file of a 5-block image in 8 KiB chunks, against
 * python's hashlib: the chunk digests, then the hash file, in hex.
 */
TEST(manifest_v2_and_hash_file_match_an_independent_computation)
{
	static const char py[] =
		"python3 -c 'import hashlib, sys\n"
		"d = open(\"/dev/fd/%d\", \"rb\").read()\n"
		"leaves = [hashlib.sha256(d[o:o + 4096]).digest() for o in range(0, len(d), 4096)]\n"
		"for c in range(0, len(leaves), 2):\n"
		"    print(hashlib.sha256(b\"\".join(leaves[c:c + 2])).hexdigest())\n"
		"print(b\"\".join(leaves).hex())'";
	enum { BLOCKS = 5, CHUNKS = 3 };
	size_t mlen = sizeof(struct hbx_manifest_header) + CHUNKS * 32;
	uint8_t *img = malloc(BLOCKS * 4096), *m = malloc(mlen), *plain = malloc(mlen);
	uint8_t hashes[BLOCKS * 32 + 1], leaves[2 * 32], d[32];
	struct hbx_manifest_info info, again;
	int in, out, hout, out2;
	char cmd[1024], line[BLOCKS * 64 + 2], got[BLOCKS * 64 + 1];
	struct stat st;
	FILE *f;

	fill_blocks(img, BLOCKS);
	in = tmpfile_with(img, BLOCKS * 4096);
	out = tmpfile_with(NULL, 0);
	hout = tmpfile_with(NULL, 0);
	out2 = tmpfile_with(NULL, 0);
	ASSERT_LE(0, in);
	ASSERT_EQ(0, hbx_manifest_build_hashes(in, 13, out, hout, &info));
	EXPECT_EQ(CHUNKS, info.chunk_count);
	ASSERT_EQ(0, fstat(hout, &st));
	EXPECT_EQ(BLOCKS * 32, st.st_size);	/* 32 bytes a block, nothing else */
	ASSERT_EQ(BLOCKS * 32, pread(hout, hashes, sizeof(hashes), 0));
	ASSERT_EQ(mlen, pread(out, m, mlen, 0));

	/* Without a hash file: the same manifest. */
	ASSERT_EQ(0, hbx_manifest_build(in, 13, out2, &again));
	ASSERT_EQ(mlen, pread(out2, plain, mlen, 0));
	EXPECT_EQ(0, memcmp(m, plain, mlen));
	EXPECT_EQ(0, memcmp(info.digest, again.digest, 32));

	/* hbx_chunk_digest on the first chunk gives its leaves too. */
	hbx_chunk_digest(img, 2 * 4096, d, leaves);
	EXPECT_EQ(0, memcmp(d, m + sizeof(struct hbx_manifest_header), 32));
	EXPECT_EQ(0, memcmp(leaves, hashes, sizeof(leaves)));

	snprintf(cmd, sizeof(cmd), py, in);
	f = popen(cmd, "r");
	ASSERT_NE(NULL, f);
	for (int c = 0; c < CHUNKS; c++) {
		ASSERT_NE(NULL, fgets(line, sizeof(line), f));
		line[strcspn(line, "\n")] = 0;
		hex(m + sizeof(struct hbx_manifest_header) + c * 32, got);
		EXPECT_STREQ(line, got);
	}
	ASSERT_NE(NULL, fgets(line, sizeof(line), f));
	line[strcspn(line, "\n")] = 0;
	for (int b = 0; b < BLOCKS; b++)
		hex(hashes + b * 32, got + b * 64);
	EXPECT_STREQ(line, got);
	EXPECT_EQ(0, pclose(f));
	free(img);
	free(m);
	free(plain);
	close(in);
	close(out);
	close(hout);
	close(out2);
}

TEST(manifest_check_refuses_version_1_with_a_sentence)
{
	struct hbx_manifest_header h = {
		.magic = htole32(HBX_MANIFEST_MAGIC), .version = htole16(1),
		.hash_algo = HBX_HASH_SHA256, .chunk_shift = 16,
		.image_size = htole64(65536), .chunk_count = htole64(1),
	};
	struct hbx_manifest_info info;
	const char *why = NULL;
	int fd = tmpfile_with(&h, sizeof(h));

	EXPECT_EQ(-EPROTONOSUPPORT, hbx_manifest_check(fd, &info, &why));
	EXPECT_STREQ("manifest version 1: rebuild the layer with hbx layer build", why);
	close(fd);

	h.version = htole16(3);
	fd = tmpfile_with(&h, sizeof(h));
	EXPECT_EQ(-EPROTONOSUPPORT, hbx_manifest_check(fd, &info, &why));
	EXPECT_NE(NULL, strstr(why, "unknown manifest version"));
	close(fd);

	h.version = htole16(HBX_MANIFEST_VERSION);
	fd = tmpfile_with(&h, sizeof(h));
	EXPECT_EQ(0, hbx_manifest_check(fd, &info, &why));
	EXPECT_EQ(65536, info.image_size);
	EXPECT_EQ(65536, info.chunk_size);
	EXPECT_EQ(1, info.chunk_count);
	close(fd);

	h.magic = 0;
	fd = tmpfile_with(&h, sizeof(h));
	EXPECT_EQ(-EINVAL, hbx_manifest_check(fd, &info, &why));
	close(fd);
	fd = tmpfile_with(&h, 8);
	EXPECT_EQ(-EIO, hbx_manifest_check(fd, &info, &why));
	EXPECT_NE(NULL, strstr(why, "shorter"));
	close(fd);
}

TEST(manifest_built_is_version_2_and_passes_the_check)
{
	uint8_t *data = calloc(1, 2 * 4096);
	struct hbx_manifest_info info, got;
	int in = tmpfile_with(data, 2 * 4096), out = tmpfile_with(NULL, 0);
	const char *why;

	ASSERT_EQ(0, hbx_manifest_build(in, 12, out, &info));
	EXPECT_EQ(2, HBX_MANIFEST_VERSION);
	EXPECT_EQ(0, hbx_manifest_check(out, &got, &why));
	EXPECT_EQ(info.image_size, got.image_size);
	EXPECT_EQ(info.chunk_count, got.chunk_count);
	free(data);
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

/* What hbx_json_string() writes for s, as a whole document. */
static char *json_of(const char *s)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	struct hbx_json j;

	hbx_json_init(&j, f);
	hbx_json_array_begin(&j, NULL);
	hbx_json_string(&j, NULL, s);
	hbx_json_array_end(&j);
	hbx_json_finish(&j);
	fclose(f);
	return out;
}

TEST(json_escapes_bytes_that_are_not_utf8_and_stays_valid)
{
	static const struct { const char *in, *out; } cases[] = {
		/* valid: as it is */
		{ "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
		  "[\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"]\n" },
		{ "a\xff" "b", "[\"a\\u00ffb\"]\n" },			/* never UTF-8 */
		{ "\x80", "[\"\\u0080\"]\n" },			/* stray continuation */
		{ "\xc3(", "[\"\\u00c3(\"]\n" },			/* truncated */
		{ "\xc3", "[\"\\u00c3\"]\n" },			/* truncated at the end */
		{ "\xc0\xaf", "[\"\\u00c0\\u00af\"]\n" },		/* overlong '/' */
		{ "\xe0\x80\xaf", "[\"\\u00e0\\u0080\\u00af\"]\n" },	/* overlong */
		{ "\xed\xa0\x80", "[\"\\u00ed\\u00a0\\u0080\"]\n" },	/* surrogate */
		{ "\xf4\x90\x80\x80", "[\"\\u00f4\\u0090\\u0080\\u0080\"]\n" }, /* > U+10FFFF */
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *out = json_of(cases[i].in);
		json_tokener *tok = json_tokener_new();
		json_object *o;

		json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
				       JSON_TOKENER_VALIDATE_UTF8);
		o = json_tokener_parse_ex(tok, out, strlen(out) - 1);
		json_tokener_free(tok);

		EXPECT_STREQ(cases[i].out, out);
		EXPECT_NE(NULL, o) {
			TH_LOG("not JSON: %s", out);
		}
		json_object_put(o);
		free(out);
	}
}

/* A listener on 127.0.0.1 only; its port. */
static int listen_v4(int *port)
{
	struct sockaddr_in in = { .sin_family = AF_INET };
	socklen_t len = sizeof(in);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&in, sizeof(in)) || listen(fd, 4) ||
	    getsockname(fd, (struct sockaddr *)&in, &len))
		return -1;
	*port = ntohs(in.sin_port);
	return fd;
}

TEST(tcp_connect_tries_every_address_the_name_has)
{
	static const char hosts[] = "::1 hbx-two\n127.0.0.1 hbx-two\n";
	char path[] = "/tmp/hbx-hosts.XXXXXX", spec[64], why[256];
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai;
	int tmp, lfd, fd, port, refused;

	/* A name with two addresses, ::1 first, in this test's own mounts. */
	tmp = mkstemp(path);
	ASSERT_LE(0, tmp);
	ASSERT_EQ(sizeof(hosts) - 1, write(tmp, hosts, sizeof(hosts) - 1));
	close(tmp);
	if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
	    mount(path, "/etc/hosts", NULL, MS_BIND, NULL)) {
		unlink(path);
		SKIP(return, "cannot put a hosts file in place (not root?)");
	}
	unlink(path);
	ASSERT_EQ(0, getaddrinfo("hbx-two", "1", &hints, &ai));
	if (ai->ai_family != AF_INET6 || !ai->ai_next) {
		freeaddrinfo(ai);
		SKIP(return, "hbx-two does not resolve to ::1 first");
	}
	freeaddrinfo(ai);

	lfd = listen_v4(&port);
	ASSERT_LE(0, lfd);
	snprintf(spec, sizeof(spec), "hbx-two:%d", port);
	fd = hbx_tcp_connect(spec, why, sizeof(why));
	EXPECT_LE(0, fd) {
		TH_LOG("%s", why);
	}
	if (fd >= 0)
		close(fd);

	/* Nothing listens anywhere: the sentence names the last error. */
	refused = listen_v4(&port);
	ASSERT_LE(0, refused);
	close(refused);
	snprintf(spec, sizeof(spec), "hbx-two:%d", port);
	memset(why, 0x7f, sizeof(why));
	why[sizeof(why) - 1] = '\0';
	EXPECT_EQ(-1, hbx_tcp_connect(spec, why, sizeof(why)));
	EXPECT_EQ(0, strncmp(why, "cannot connect to hbx-two:", 26)) {
		TH_LOG("%s", why);
	}
	EXPECT_NE(NULL, strstr(why, "refused"));
	close(lfd);
}

/* A free TCP port on every address: bind :0 on both families, keep its number. */
static int free_port(void)
{
	struct sockaddr_in6 in6 = { .sin6_family = AF_INET6 };
	socklen_t len = sizeof(in6);
	int fd = socket(AF_INET6, SOCK_STREAM, 0), port = -1;

	if (fd < 0)
		return listen_v4(&port) < 0 ? -1 : port;	/* no IPv6: v4 only */
	if (!bind(fd, (struct sockaddr *)&in6, sizeof(in6)) &&
	    !getsockname(fd, (struct sockaddr *)&in6, &len))
		port = ntohs(in6.sin6_port);
	close(fd);
	return port;
}

/* 1 if a TCP connect to addr (an IPv4 or IPv6 literal) at port succeeds. */
static int reaches(const char *addr, int port)
{
	char spec[64], why[256];
	int fd;

	snprintf(spec, sizeof(spec), strchr(addr, ':') ? "[%s]:%d" : "%s:%d", addr, port);
	fd = hbx_tcp_connect(spec, why, sizeof(why));
	if (fd < 0)
		return 0;
	close(fd);
	return 1;
}

static int have_ipv6_loopback(void)
{
	struct sockaddr_in6 in6 = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	int fd = socket(AF_INET6, SOCK_STREAM, 0), ok;

	ok = fd >= 0 && !bind(fd, (struct sockaddr *)&in6, sizeof(in6));
	if (fd >= 0)
		close(fd);
	return ok;
}

TEST(tcp_listen_on_a_bare_port_takes_every_address)
{
	char spec[32], why[256];
	int port = free_port(), fd;

	ASSERT_LT(0, port);
	snprintf(spec, sizeof(spec), ":%d", port);
	fd = hbx_tcp_listen(spec, why, sizeof(why));
	ASSERT_LE(0, fd) {
		TH_LOG("%s", why);
	}
	EXPECT_EQ(1, reaches("127.0.0.1", port));
	if (have_ipv6_loopback()) {
		EXPECT_EQ(1, reaches("::1", port));
	} else {
		TH_LOG("no IPv6 loopback here: only IPv4 checked");
	}
	close(fd);
}

TEST(tcp_listen_on_an_address_takes_only_that_address)
{
	char spec[32], why[256];
	int port = free_port(), fd;

	ASSERT_LT(0, port);
	snprintf(spec, sizeof(spec), "127.0.0.1:%d", port);
	fd = hbx_tcp_listen(spec, why, sizeof(why));
	ASSERT_LE(0, fd) {
		TH_LOG("%s", why);
	}
	EXPECT_EQ(1, reaches("127.0.0.1", port));
	if (have_ipv6_loopback()) {
		EXPECT_EQ(0, reaches("::1", port));
	}
	close(fd);
	if (!have_ipv6_loopback())
		SKIP(return, "no IPv6 loopback: [::1]:PORT not checked");
	snprintf(spec, sizeof(spec), "[::1]:%d", port);
	fd = hbx_tcp_listen(spec, why, sizeof(why));
	ASSERT_LE(0, fd) {
		TH_LOG("%s", why);
	}
	EXPECT_EQ(1, reaches("::1", port));
	EXPECT_EQ(0, reaches("127.0.0.1", port));
	close(fd);
}

TEST(tcp_specs_are_checked_strictly_before_any_lookup)
{
	static const char *const bad[] = {
		"7000", ":", "host:", "host:abc", "host:65536", "host:70x",
		"host:-1", "host: 80", "host:+80", "host:http",
	};
	char why[256];
	size_t i;

	EXPECT_EQ(0, hbx_tcp_spec_check(":7000", true, why, sizeof(why)));
	EXPECT_EQ(-1, hbx_tcp_spec_check(":7000", false, why, sizeof(why)));
	EXPECT_STREQ("':7000' is not HOST:PORT", why);
	EXPECT_EQ(0, hbx_tcp_spec_check("[::1]:7000", false, why, sizeof(why)));
	EXPECT_EQ(0, hbx_tcp_spec_check("1.2.3.4:65535", true, why, sizeof(why)));
	EXPECT_EQ(0, hbx_tcp_spec_check("node1.example.org:1", false, why, sizeof(why)));
	/* Port 0: to listen on, the kernel picks one; to connect to, never. */
	EXPECT_EQ(0, hbx_tcp_spec_check(":0", true, why, sizeof(why)));
	EXPECT_EQ(-1, hbx_tcp_spec_check("host:0", false, why, sizeof(why)));
	EXPECT_STREQ("'host:0': the port '0' is out of range: give a whole number "
		     "from 1 to 65535", why);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		EXPECT_EQ(-1, hbx_tcp_spec_check(bad[i], true, why, sizeof(why))) {
			TH_LOG("%s was taken", bad[i]);
		}
	}
	hbx_tcp_spec_check("host:70x", false, why, sizeof(why));
	EXPECT_STREQ("'host:70x': the port '70x' is not a number: give a whole number "
		     "from 1 to 65535", why);
	/* A refused spec never reaches getaddrinfo (no service names either). */
	EXPECT_EQ(-1, hbx_tcp_listen("127.0.0.1:http", why, sizeof(why)));
	EXPECT_NE(NULL, strstr(why, "is not a number"));
}

TEST_HARNESS_MAIN
