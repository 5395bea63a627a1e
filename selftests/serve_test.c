// SPDX-License-Identifier: GPL-2.0
/*
 * The in-kernel STOQ server: a socket handed in with PEER_ADD serves the
 * manifest and the verified chunks of exported layers; only TCP sockets with
 * kTLS both ways are taken (plaintext only with the insecure flag); a peer
 * that sends garbage, or a frame too slowly, loses its socket, with a counter
 * and a reason; a request for what is not here gets a status and the socket
 * carries on.  The test plays the client itself, over loopback, with kTLS
 * keys it installs itself.  The second fixture attaches a remote layer from
 * the kernel's own server, to check what the module does with its cache.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <linux/tls.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "kselftest_harness.h"
#include "hbx_test.h"
#include "manifest.h"

#ifndef SOL_TLS
#define SOL_TLS 282
#endif

#define CHUNK_SHIFT	14
#define IMAGE_SIZE	(40 * 4096)
#define NCHUNKS		((IMAGE_SIZE + (1 << CHUNK_SHIFT) - 1) >> CHUNK_SHIFT)

struct peer_info {
	uint32_t	id, state, socks_up;
	uint64_t	requests, bytes_tx, protocol_errors;
	char		last_error[64];
	int		count;
};

static int peer_cb(uint8_t cmd, struct nlattr **tb, void *arg)
{
	struct peer_info *p = arg;

	p->count++;
	if (tb[HBX_A_PEER_ID])
		p->id = nla_get_u32(tb[HBX_A_PEER_ID]);
	if (tb[HBX_A_PEER_STATE])
		p->state = nla_get_u32(tb[HBX_A_PEER_STATE]);
	if (tb[HBX_A_PEER_SOCKETS_UP])
		p->socks_up = nla_get_u32(tb[HBX_A_PEER_SOCKETS_UP]);
	if (tb[HBX_A_PEER_REQUESTS])
		p->requests = nla_get_u64(tb[HBX_A_PEER_REQUESTS]);
	if (tb[HBX_A_PEER_BYTES_TX])
		p->bytes_tx = nla_get_u64(tb[HBX_A_PEER_BYTES_TX]);
	if (tb[HBX_A_PEER_PROTOCOL_ERRORS])
		p->protocol_errors = nla_get_u64(tb[HBX_A_PEER_PROTOCOL_ERRORS]);
	if (tb[HBX_A_PEER_LAST_ERROR])
		snprintf(p->last_error, sizeof(p->last_error), "%s",
			 nla_get_string(tb[HBX_A_PEER_LAST_ERROR]));
	return 0;
}

/*
 * PEER_ADD of nfds sockets in role with that timeout; to the live peer
 * with id to_peer, or a new one if it is 0.
 */
static int peer_add_socks_to(struct hbx_nl *nl, uint32_t to_peer, uint32_t role,
			     const int *fds, int nfds, int insecure,
			     uint32_t timeout_ms, struct peer_info *p)
{
	struct nl_msg *msg = hbx_nl_msg(nl, HBX_CMD_PEER_ADD, 0);
	struct nlattr *nest;
	int i;

	memset(p, 0, sizeof(*p));
	if (to_peer)
		nla_put_u32(msg, HBX_A_PEER_ID, to_peer);
	nla_put_u32(msg, HBX_A_PEER_ROLE, role);
	nla_put_string(msg, HBX_A_PEER_NAME, "test-client");
	nla_put_u32(msg, HBX_A_PEER_TIMEOUT_MS, timeout_ms);
	if (insecure)
		nla_put_flag(msg, HBX_A_PEER_INSECURE);
	nest = nla_nest_start(msg, HBX_A_PEER_SOCKETS);
	for (i = 0; i < nfds; i++)
		nla_put_u32(msg, HBX_A_PEER_SOCKET_FD, fds[i]);
	nla_nest_end(msg, nest);
	return hbx_nl_request(nl, msg, HBX_A_PEER_MAX, peer_cb, p);
}

/* PEER_ADD of nfds sockets in role, 5 s timeout. */
static int peer_add_socks(struct hbx_nl *nl, uint32_t role, const int *fds,
			  int nfds, int insecure, struct peer_info *p)
{
	return peer_add_socks_to(nl, 0, role, fds, nfds, insecure, 5000, p);
}

static int peer_add(struct hbx_nl *nl, int fd, int insecure, struct peer_info *p)
{
	return peer_add_socks(nl, HBX_PEER_ROLE_SERVER, &fd, 1, insecure, p);
}

static int peer_get(struct hbx_nl *nl, uint32_t id, struct peer_info *p)
{
	struct nl_msg *msg = hbx_nl_msg(nl, HBX_CMD_PEER_GET, 0);

	memset(p, 0, sizeof(*p));
	nla_put_u32(msg, HBX_A_PEER_ID, id);
	return hbx_nl_request(nl, msg, HBX_A_PEER_MAX, peer_cb, p);
}

static int peer_del(struct hbx_nl *nl, uint32_t id)
{
	struct nl_msg *msg = hbx_nl_msg(nl, HBX_CMD_PEER_DEL, 0);

	nla_put_u32(msg, HBX_A_PEER_ID, id);
	return hbx_nl_request(nl, msg, HBX_A_PEER_MAX, NULL, NULL);
}

static int layer_index_cb(uint8_t cmd, struct nlattr **tb, void *arg)
{
	if (tb[HBX_A_LAYER_INDEX])
		*(uint32_t *)arg = nla_get_u32(tb[HBX_A_LAYER_INDEX]);
	return 0;
}

/* A connected loopback TCP pair: *client is ours, *server goes to the kernel. */
static int tcp_pair(int *client, int *server)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	int l = socket(AF_INET, SOCK_STREAM, 0);
	struct timeval tv = { .tv_sec = 10 };

	if (l < 0 || bind(l, (void *)&a, sizeof(a)) || listen(l, 1) ||
	    getsockname(l, (void *)&a, &alen))
		return -1;
	*client = socket(AF_INET, SOCK_STREAM, 0);
	if (connect(*client, (void *)&a, sizeof(a)))
		return -1;
	*server = accept(l, NULL, NULL);
	close(l);
	/* Nothing in a test may wait forever. */
	setsockopt(*client, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return *server < 0 ? -1 : 0;
}

/* kTLS both ways on both ends, keys chosen here: no handshake needed. */
static int ktls_pair(int client, int server)
{
	struct tls12_crypto_info_aes_gcm_128 a = { 0 }, b = { 0 };
	int ends[2] = { client, server }, i;

	a.info.version = b.info.version = TLS_1_2_VERSION;
	a.info.cipher_type = b.info.cipher_type = TLS_CIPHER_AES_GCM_128;
	memset(a.key, 0x11, sizeof(a.key));
	memset(a.salt, 0x22, sizeof(a.salt));
	memset(b.key, 0x33, sizeof(b.key));
	memset(b.salt, 0x44, sizeof(b.salt));
	for (i = 0; i < 2; i++) {
		if (setsockopt(ends[i], SOL_TCP, TCP_ULP, "tls", sizeof("tls")))
			return -1;
		/* client -> server uses a, server -> client uses b */
		if (setsockopt(ends[i], SOL_TLS, TLS_TX, i ? (void *)&b : (void *)&a,
			       sizeof(a)) ||
		    setsockopt(ends[i], SOL_TLS, TLS_RX, i ? (void *)&a : (void *)&b,
			       sizeof(a)))
			return -1;
	}
	return 0;
}

static int send_all(int fd, const void *buf, size_t len)
{
	return send(fd, buf, len, MSG_NOSIGNAL) == (ssize_t)len ? 0 : -1;
}

static int recv_all(int fd, void *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = recv(fd, (char *)buf + got, len - got, 0);

		if (n <= 0)
			return -1;
		got += n;
	}
	return 0;
}

/* The header of a frame we send. */
static struct hbx_stoq_hdr frame_hdr(uint8_t type, uint64_t id, uint32_t len)
{
	struct hbx_stoq_hdr h = {
		.magic = htobe32(HBX_STOQ_MAGIC), .version = HBX_STOQ_VERSION,
		.type = type, .len = htobe32(len), .id = htobe64(id),
	};

	return h;
}

static int send_frame(int fd, uint8_t type, uint64_t id, const void *p, uint32_t len)
{
	struct hbx_stoq_hdr h = frame_hdr(type, id, len);

	return send_all(fd, &h, sizeof(h)) || (len && send_all(fd, p, len)) ? -1 : 0;
}

static int send_hello(int fd)
{
	struct hbx_stoq_hello h = { .version = htobe32(HBX_STOQ_VERSION) };

	return send_frame(fd, HBX_STOQ_HELLO, 1, &h, sizeof(h));
}

static int send_get(int fd, uint8_t type, const uint8_t *digest, uint64_t chunk,
		    uint64_t id)
{
	struct hbx_stoq_get g;

	memcpy(g.digest, digest, sizeof(g.digest));
	g.chunk = htobe64(chunk);
	return send_frame(fd, type, id, &g, sizeof(g));
}

/* Read one frame; *data is malloc'd.  Returns its status, or -1. */
static int recv_frame(int fd, struct hbx_stoq_hdr *h, void **data)
{
	uint32_t len;

	*data = NULL;
	if (recv_all(fd, h, sizeof(*h)) || be32toh(h->magic) != HBX_STOQ_MAGIC)
		return -1;
	len = be32toh(h->len);
	if (len > (4U << 20))
		return -1;
	*data = malloc(len + 1);
	if (len && recv_all(fd, *data, len))
		return -1;
	return be16toh(h->status);
}

/* The kernel closed its end: reads see EOF (or a reset). */
static int closed_by_peer(int fd)
{
	char c;

	return recv(fd, &c, 1, 0) <= 0;
}

FIXTURE(serve) {
	struct hbx_nl	*nl;
	char		dir[64], image[96], manifest[96];
	uint8_t		*data, *mbuf;
	size_t		mlen;
	uint8_t		digest[HBX_DIGEST_SIZE];
	uint32_t	layer;
	int		client, server;
};

static void write_file(const char *path, const void *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	if (fd < 0 || write(fd, buf, len) != (ssize_t)len)
		abort();
	close(fd);
}

/* An exported layer of random bytes, and a loopback pair. */
FIXTURE_SETUP(serve)
{
	struct hbx_manifest_info info;
	int ifd, mfd, r;
	struct nl_msg *msg;

	ASSERT_EQ(0, hbx_nl_open(&self->nl));
	strcpy(self->dir, "/tmp/hbx-serve-test.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->dir));
	snprintf(self->image, sizeof(self->image), "%s/image", self->dir);
	snprintf(self->manifest, sizeof(self->manifest), "%s/manifest", self->dir);
	self->data = malloc(IMAGE_SIZE);
	r = open("/dev/urandom", O_RDONLY);
	ASSERT_EQ(IMAGE_SIZE, read(r, self->data, IMAGE_SIZE));
	close(r);
	write_file(self->image, self->data, IMAGE_SIZE);
	ifd = open(self->image, O_RDONLY);
	mfd = open(self->manifest, O_RDWR | O_CREAT | O_TRUNC, 0644);
	ASSERT_EQ(0, hbx_manifest_build(ifd, CHUNK_SHIFT, mfd, &info));
	memcpy(self->digest, info.digest, HBX_DIGEST_SIZE);
	self->mlen = lseek(mfd, 0, SEEK_END);
	self->mbuf = malloc(self->mlen);
	ASSERT_EQ(self->mlen, pread(mfd, self->mbuf, self->mlen, 0));

	msg = hbx_nl_msg(self->nl, HBX_CMD_LAYER_ADD, 0);
	nla_put_u32(msg, HBX_A_LAYER_IMAGE_FD, ifd);
	nla_put_u32(msg, HBX_A_LAYER_MANIFEST_FD, mfd);
	nla_put(msg, HBX_A_LAYER_DIGEST, HBX_DIGEST_SIZE, self->digest);
	ASSERT_EQ(0, hbx_nl_request(self->nl, msg, HBX_A_LAYER_MAX,
				    layer_index_cb, &self->layer));
	close(ifd);
	close(mfd);
	msg = hbx_nl_msg(self->nl, HBX_CMD_LAYER_EXPORT, 0);
	nla_put_u32(msg, HBX_A_LAYER_INDEX, self->layer);
	nla_put_u8(msg, HBX_A_LAYER_EXPORTED, 1);
	ASSERT_EQ(0, hbx_nl_request(self->nl, msg, HBX_A_LAYER_MAX, NULL, NULL));
	ASSERT_EQ(0, tcp_pair(&self->client, &self->server));
}

FIXTURE_TEARDOWN(serve)
{
	struct nl_msg *msg = hbx_nl_msg(self->nl, HBX_CMD_LAYER_DEL, 0);
	char cmd[128];

	close(self->client);
	close(self->server);
	nla_put_u32(msg, HBX_A_LAYER_INDEX, self->layer);
	EXPECT_EQ(0, hbx_nl_request(self->nl, msg, HBX_A_LAYER_MAX, NULL, NULL));
	hbx_nl_close(self->nl);
	free(self->data);
	free(self->mbuf);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", self->dir);
	if (system(cmd))
		TH_LOG("could not remove %s", self->dir);
}

/* Fetch the manifest and every chunk, pipelined, and compare. */
static void fetch_everything(struct __test_metadata *_metadata,
			     struct _test_data_serve *self)
{
	struct hbx_stoq_hdr h;
	void *data;
	uint64_t i;

	ASSERT_EQ(0, send_hello(self->client));
	ASSERT_EQ(0, recv_frame(self->client, &h, &data));
	EXPECT_EQ(HBX_STOQ_HELLO, h.type);
	free(data);

	ASSERT_EQ(0, send_get(self->client, HBX_STOQ_GET_MANIFEST, self->digest, 0, 7));
	ASSERT_EQ(HBX_STOQ_OK, recv_frame(self->client, &h, &data));
	EXPECT_EQ(7, be64toh(h.id));
	ASSERT_EQ(self->mlen, be32toh(h.len));
	EXPECT_EQ(0, memcmp(data, self->mbuf, self->mlen));
	free(data);

	/* Many requests in flight on one socket. */
	for (i = 0; i < NCHUNKS; i++)
		ASSERT_EQ(0, send_get(self->client, HBX_STOQ_GET_CHUNK,
				      self->digest, i, 100 + i));
	for (i = 0; i < NCHUNKS; i++) {
		uint64_t c;
		size_t want;

		ASSERT_EQ(HBX_STOQ_OK, recv_frame(self->client, &h, &data));
		c = be64toh(h.id) - 100;
		ASSERT_GT(NCHUNKS, c);
		want = IMAGE_SIZE - (c << CHUNK_SHIFT) < (1 << CHUNK_SHIFT) ?
		       IMAGE_SIZE - (c << CHUNK_SHIFT) : (1 << CHUNK_SHIFT);
		EXPECT_EQ(want, be32toh(h.len));
		EXPECT_EQ(0, memcmp(data, self->data + (c << CHUNK_SHIFT), want));
		free(data);
	}
}

TEST_F(serve, plaintext_peer_with_insecure_flag_serves_manifest_and_chunks)
{
	struct peer_info p, g;

	ASSERT_EQ(0, peer_add(self->nl, self->server, 1, &p)) {
		TH_LOG("%s", hbx_nl_error(self->nl));
	}
	fetch_everything(_metadata, self);
	/* The server counts a request once its reply is sent: let it catch up. */
	for (int i = 0; i < 50; i++) {
		ASSERT_EQ(0, peer_get(self->nl, p.id, &g));
		if (g.requests == 2 + NCHUNKS)
			break;
		usleep(20 * 1000);
	}
	EXPECT_EQ(HBX_PEER_STATE_UP, g.state);
	EXPECT_EQ(2 + NCHUNKS, g.requests);
	EXPECT_EQ(IMAGE_SIZE + self->mlen, g.bytes_tx);
	EXPECT_EQ(0, peer_del(self->nl, p.id));
	EXPECT_TRUE(closed_by_peer(self->client));
	EXPECT_EQ(-ENOENT, peer_get(self->nl, p.id, &g));
}

TEST_F(serve, ktls_peer_serves_through_kernel_tls)
{
	struct peer_info p;

	ASSERT_EQ(0, ktls_pair(self->client, self->server)) {
		TH_LOG("kTLS setup failed: %s (is the tls module loaded?)", strerror(errno));
	}
	ASSERT_EQ(0, peer_add(self->nl, self->server, 0, &p)) {
		TH_LOG("%s", hbx_nl_error(self->nl));
	}
	fetch_everything(_metadata, self);
	EXPECT_EQ(0, peer_del(self->nl, p.id));
}

TEST_F(serve, rejects_sockets_that_are_not_ktls_tcp)
{
	int udp = socket(AF_INET, SOCK_DGRAM, 0);
	int unconnected = socket(AF_INET, SOCK_STREAM, 0);
	int file = open("/dev/null", O_RDONLY);
	struct peer_info p, again;

	EXPECT_EQ(-EINVAL, peer_add(self->nl, self->server, 0, &p));
	EXPECT_TRUE(hbx_test_error_has(self->nl, "no kernel TLS"));
	EXPECT_EQ(-EINVAL, peer_add(self->nl, udp, 1, &p));
	EXPECT_TRUE(hbx_test_error_has(self->nl, "not a TCP socket"));
	EXPECT_EQ(-EINVAL, peer_add(self->nl, unconnected, 1, &p));
	EXPECT_TRUE(hbx_test_error_has(self->nl, "not connected"));
	EXPECT_EQ(-ENOTSOCK, peer_add(self->nl, file, 1, &p));
	EXPECT_TRUE(hbx_test_error_has(self->nl, "not an open socket"));

	ASSERT_EQ(0, peer_add(self->nl, self->server, 1, &p));
	EXPECT_EQ(-EBUSY, peer_add(self->nl, self->server, 1, &again));
	EXPECT_TRUE(hbx_test_error_has(self->nl, "already handed"));
	EXPECT_EQ(0, peer_del(self->nl, p.id));
	close(udp);
	close(unconnected);
	close(file);
}

/*
 * A malicious peer: over kTLS it set up itself, bad bytes after (or instead
 * of) a hello.  The socket must be dropped, counted, and the reason kept.
 */
static void expect_dropped(struct __test_metadata *_metadata,
			   struct _test_data_serve *self, const void *bytes,
			   size_t len, int hello, const char *why)
{
	struct hbx_stoq_hdr h;
	struct peer_info p, g;
	void *data;
	int i;

	/* A real kTLS connection: the garbage arrives as valid TLS records. */
	ASSERT_EQ(0, ktls_pair(self->client, self->server));
	ASSERT_EQ(0, peer_add(self->nl, self->server, 0, &p));
	if (hello) {
		ASSERT_EQ(0, send_hello(self->client));
		ASSERT_EQ(0, recv_frame(self->client, &h, &data));
		free(data);
	}
	ASSERT_EQ(0, send_all(self->client, bytes, len));
	if (len < sizeof(h))
		shutdown(self->client, SHUT_WR);	/* a truncated frame */
	/* A refusal may come first; then the socket closes. */
	for (i = 0; i < 3 && !closed_by_peer(self->client); i++)
		;
	for (i = 0; i < 50; i++) {
		ASSERT_EQ(0, peer_get(self->nl, p.id, &g));
		if (g.state == HBX_PEER_STATE_DOWN)
			break;
		usleep(100 * 1000);
	}
	EXPECT_EQ(HBX_PEER_STATE_DOWN, g.state);
	EXPECT_EQ(1, g.protocol_errors);
	EXPECT_NE(NULL, strstr(g.last_error, why)) {
		TH_LOG("last error \"%s\", wanted \"%s\"", g.last_error, why);
	}
	EXPECT_EQ(0, peer_del(self->nl, p.id));
}

static struct hbx_stoq_hdr hdr_of(uint32_t magic, uint8_t version, uint8_t type,
				  uint32_t len)
{
	struct hbx_stoq_hdr h = {
		.magic = htobe32(magic), .version = version, .type = type,
		.len = htobe32(len), .id = htobe64(1),
	};
	return h;
}

/* A whole request frame: header and get payload, as a peer would send it. */
struct get_frame {
	struct hbx_stoq_hdr	h;
	struct hbx_stoq_get	g;
};

static struct get_frame get_frame_of(uint8_t type, const uint8_t *digest,
				     uint64_t chunk)
{
	struct get_frame f = {
		.h = hdr_of(HBX_STOQ_MAGIC, HBX_STOQ_VERSION, type,
			    sizeof(struct hbx_stoq_get)),
		.g.chunk = htobe64(chunk),
	};

	memcpy(f.g.digest, digest, HBX_DIGEST_SIZE);
	return f;
}

/* A hello that arrives in pieces is still one frame: the stream stays in step. */
TEST_F(serve, a_hello_sent_in_pieces_keeps_the_stream_in_step)
{
	struct hbx_stoq_hello hello = { .version = htobe32(HBX_STOQ_VERSION) };
	struct hbx_stoq_hdr hdr = hdr_of(HBX_STOQ_MAGIC, HBX_STOQ_VERSION,
					 HBX_STOQ_HELLO, sizeof(hello));
	char frame[sizeof(hdr) + sizeof(hello)];
	size_t cuts[] = { 3, sizeof(hdr), sizeof(hdr) + 2, sizeof(frame) }, at = 0, i;
	struct hbx_stoq_hdr h;
	struct peer_info p;
	void *data;

	memcpy(frame, &hdr, sizeof(hdr));
	memcpy(frame + sizeof(hdr), &hello, sizeof(hello));
	ASSERT_EQ(0, peer_add(self->nl, self->server, 1, &p));
	for (i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		ASSERT_EQ(0, send_all(self->client, frame + at, cuts[i] - at));
		at = cuts[i];
		usleep(100 * 1000);
	}
	ASSERT_EQ(0, recv_frame(self->client, &h, &data));
	EXPECT_EQ(HBX_STOQ_HELLO, h.type);
	free(data);
	ASSERT_EQ(0, send_get(self->client, HBX_STOQ_GET_MANIFEST, self->digest, 0, 9));
	ASSERT_EQ(HBX_STOQ_OK, recv_frame(self->client, &h, &data));
	EXPECT_EQ(9, be64toh(h.id));
	EXPECT_EQ(self->mlen, be32toh(h.len));
	free(data);
	EXPECT_EQ(0, peer_del(self->nl, p.id));
}

TEST_F(serve, bad_magic_drops_the_socket)
{
	struct hbx_stoq_hdr h = hdr_of(0x12345678, HBX_STOQ_VERSION, HBX_STOQ_HELLO, 16);

	expect_dropped(_metadata, self, &h, sizeof(h), 0, "bad magic");
}

TEST_F(serve, unknown_version_drops_the_socket)
{
	struct hbx_stoq_hdr h = hdr_of(HBX_STOQ_MAGIC, 9, HBX_STOQ_HELLO, 16);

	expect_dropped(_metadata, self, &h, sizeof(h), 0, "protocol version");
}

TEST_F(serve, huge_length_drops_the_socket)
{
	struct hbx_stoq_hdr h = hdr_of(HBX_STOQ_MAGIC, HBX_STOQ_VERSION,
				       HBX_STOQ_GET_CHUNK, 0x7fffffff);

	expect_dropped(_metadata, self, &h, sizeof(h), 1, "too long");
}

TEST_F(serve, unknown_type_drops_the_socket)
{
	struct hbx_stoq_hdr h = hdr_of(HBX_STOQ_MAGIC, HBX_STOQ_VERSION, 77, 0);

	expect_dropped(_metadata, self, &h, sizeof(h), 1, "unknown frame type");
}

TEST_F(serve, request_before_hello_drops_the_socket)
{
	struct get_frame f = get_frame_of(HBX_STOQ_GET_CHUNK, self->digest, 0);

	expect_dropped(_metadata, self, &f, sizeof(f), 0, "not a hello");
}

TEST_F(serve, truncated_frame_drops_the_socket)
{
	struct hbx_stoq_hdr h = hdr_of(HBX_STOQ_MAGIC, HBX_STOQ_VERSION,
				       HBX_STOQ_GET_CHUNK, sizeof(struct hbx_stoq_get));

	expect_dropped(_metadata, self, &h, sizeof(h) / 2, 1, "truncated");
}

/* The peer is still up, saw no protocol error, and goes. */
static void expect_up_then_del(struct __test_metadata *_metadata,
			       struct _test_data_serve *self, uint32_t id)
{
	struct peer_info g;

	ASSERT_EQ(0, peer_get(self->nl, id, &g));
	EXPECT_EQ(HBX_PEER_STATE_UP, g.state);
	EXPECT_EQ(0, g.protocol_errors);
	EXPECT_EQ(0, peer_del(self->nl, id));
}

/*
 * A request for what is not here gets a status, and the socket carries on:
 * it may be carrying other layers' requests.
 */
static void expect_status_then_served(struct __test_metadata *_metadata,
				      struct _test_data_serve *self,
				      const struct get_frame *f, uint16_t status)
{
	struct get_frame good = get_frame_of(HBX_STOQ_GET_CHUNK, self->digest, 1);
	struct hbx_stoq_hdr h;
	struct peer_info p;
	void *data;

	ASSERT_EQ(0, peer_add(self->nl, self->server, 1, &p));
	ASSERT_EQ(0, send_hello(self->client));
	ASSERT_EQ(0, recv_frame(self->client, &h, &data));
	free(data);
	ASSERT_EQ(0, send_all(self->client, f, sizeof(*f)));
	EXPECT_EQ(status, recv_frame(self->client, &h, &data));
	EXPECT_EQ(0, be32toh(h.len));
	free(data);
	ASSERT_EQ(0, send_all(self->client, &good, sizeof(good)));
	EXPECT_EQ(HBX_STOQ_OK, recv_frame(self->client, &h, &data));
	EXPECT_EQ(0, memcmp(data, self->data + (1 << CHUNK_SHIFT), 1 << CHUNK_SHIFT));
	free(data);
	expect_up_then_del(_metadata, self, p.id);
}

TEST_F(serve, unknown_layer_gets_a_status_and_the_socket_stays)
{
	uint8_t other[HBX_DIGEST_SIZE];
	struct get_frame f;

	memset(other, 0xab, sizeof(other));
	f = get_frame_of(HBX_STOQ_GET_CHUNK, other, 0);
	expect_status_then_served(_metadata, self, &f, HBX_STOQ_UNKNOWN_LAYER);
}

TEST_F(serve, chunk_out_of_range_gets_a_status_and_the_socket_stays)
{
	struct get_frame f = get_frame_of(HBX_STOQ_GET_CHUNK, self->digest, NCHUNKS);

	expect_status_then_served(_metadata, self, &f, HBX_STOQ_OUT_OF_RANGE);
}

static int layer_export(struct hbx_nl *nl, uint32_t index, int on);
static int layer_del(struct hbx_nl *nl, uint32_t index);

/* A GET_CHUNKS frame: count chunks from chunk on. */
struct run_frame {
	struct hbx_stoq_hdr	h;
	struct hbx_stoq_get_run	r;
};

static struct run_frame run_frame_of(const uint8_t *digest, uint64_t chunk,
				     uint32_t count, uint64_t id)
{
	struct run_frame f = {
		.h = frame_hdr(HBX_STOQ_GET_CHUNKS, id, sizeof(struct hbx_stoq_get_run)),
		.r.chunk = htobe64(chunk),
		.r.count = htobe32(count),
	};

	memcpy(f.r.digest, digest, HBX_DIGEST_SIZE);
	return f;
}

/*
 * The fixture's image attached again in verify once and exported in place
 * of the fixture's layer: *index, to delete.  0 or -1.
 */
static int export_once_instead(struct _test_data_serve *self, uint32_t *index)
{
	int ifd = open(self->image, O_RDONLY), mfd = open(self->manifest, O_RDONLY);
	struct nl_msg *msg;
	int err;

	if (layer_export(self->nl, self->layer, 0))
		return -1;
	msg = hbx_nl_msg(self->nl, HBX_CMD_LAYER_ADD, 0);
	nla_put_u32(msg, HBX_A_LAYER_IMAGE_FD, ifd);
	nla_put_u32(msg, HBX_A_LAYER_MANIFEST_FD, mfd);
	nla_put(msg, HBX_A_LAYER_DIGEST, HBX_DIGEST_SIZE, self->digest);
	nla_put_u32(msg, HBX_A_LAYER_VERIFY, HBX_VERIFY_ONCE);
	err = hbx_nl_request(self->nl, msg, HBX_A_LAYER_MAX, layer_index_cb, index);
	close(ifd);
	close(mfd);
	return err || layer_export(self->nl, *index, 1) ? -1 : 0;
}

/* Hellos both ways on a plaintext peer: the server's features. */
static uint64_t hello_features(struct __test_metadata *_metadata,
			       struct _test_data_serve *self, struct peer_info *p)
{
	struct hbx_stoq_hello *hello;
	struct hbx_stoq_hdr h;
	uint64_t features;
	void *data;

	if (peer_add(self->nl, self->server, 1, p) || send_hello(self->client) ||
	    recv_frame(self->client, &h, &data) || h.type != HBX_STOQ_HELLO ||
	    be32toh(h.len) < sizeof(*hello)) {
		TH_LOG("no hello from the server");
		return 0;
	}
	hello = data;
	features = be64toh(hello->features);
	free(data);
	return features;
}

/*
 * A run comes back as one reply: the chunks' bytes back to back, the last
 * (short or not) included, and it counts as one request.
 */
TEST_F(serve, a_run_of_chunks_comes_back_as_one_reply_of_their_bytes)
{
	struct run_frame mid = run_frame_of(self->digest, 2, 5, 40);
	struct run_frame end = run_frame_of(self->digest, NCHUNKS - 3, 3, 41);
	struct peer_info p, g;
	struct hbx_stoq_hdr h;
	void *data;
	int i;

	ASSERT_TRUE(hello_features(_metadata, self, &p) & HBX_STOQ_FEATURE_RUNS);
	ASSERT_EQ(0, send_all(self->client, &mid, sizeof(mid)));
	ASSERT_EQ(0, send_all(self->client, &end, sizeof(end)));
	ASSERT_EQ(HBX_STOQ_OK, recv_frame(self->client, &h, &data));
	EXPECT_EQ(40, be64toh(h.id));
	ASSERT_EQ(5 << CHUNK_SHIFT, be32toh(h.len));
	EXPECT_EQ(0, memcmp(data, self->data + (2 << CHUNK_SHIFT), 5 << CHUNK_SHIFT));
	free(data);
	ASSERT_EQ(HBX_STOQ_OK, recv_frame(self->client, &h, &data));
	EXPECT_EQ(41, be64toh(h.id));
	ASSERT_EQ(IMAGE_SIZE - ((NCHUNKS - 3) << CHUNK_SHIFT), be32toh(h.len));
	EXPECT_EQ(0, memcmp(data, self->data + ((NCHUNKS - 3) << CHUNK_SHIFT),
			    be32toh(h.len)));
	free(data);
	for (i = 0; i < 50; i++) {
		ASSERT_EQ(0, peer_get(self->nl, p.id, &g));
		if (g.requests == 3)
			break;
		usleep(20 * 1000);
	}
	EXPECT_EQ(3, g.requests);	/* the hello and two runs */
	EXPECT_EQ(0, g.protocol_errors);
	EXPECT_EQ(0, peer_del(self->nl, p.id));
}

/*
 * A run that reaches past the layer's end (here also past the most a run
 * may ask) gets a status, and the socket carries on.
 */
TEST_F(serve, a_run_past_the_end_gets_out_of_range_and_the_socket_stays)
{
	struct run_frame past = run_frame_of(self->digest, NCHUNKS - 2, 3, 50);
	struct run_frame huge = run_frame_of(self->digest, 0,
					     (HBX_STOQ_RUN_BYTES >> CHUNK_SHIFT) + 1, 51);
	struct run_frame good = run_frame_of(self->digest, 0, 2, 52);
	struct peer_info p;
	struct hbx_stoq_hdr h;
	void *data;

	ASSERT_TRUE(hello_features(_metadata, self, &p) & HBX_STOQ_FEATURE_RUNS);
	ASSERT_EQ(0, send_all(self->client, &past, sizeof(past)));
	EXPECT_EQ(HBX_STOQ_OUT_OF_RANGE, recv_frame(self->client, &h, &data));
	EXPECT_EQ(0, be32toh(h.len));
	free(data);
	ASSERT_EQ(0, send_all(self->client, &huge, sizeof(huge)));
	EXPECT_EQ(HBX_STOQ_OUT_OF_RANGE, recv_frame(self->client, &h, &data));
	EXPECT_EQ(0, be32toh(h.len));
	free(data);
	ASSERT_EQ(0, send_all(self->client, &good, sizeof(good)));
	ASSERT_EQ(HBX_STOQ_OK, recv_frame(self->client, &h, &data));
	EXPECT_EQ(2 << CHUNK_SHIFT, be32toh(h.len));
	EXPECT_EQ(0, memcmp(data, self->data, 2 << CHUNK_SHIFT));
	free(data);
	expect_up_then_del(_metadata, self, p.id);
}

/*
 * Verify once sends from its image, not its device: spliced from the
 * image's page cache to a blocking socket, copied for a non-blocking one.
 * A run is one range either way.
 */
TEST_F(serve, a_run_from_a_verify_once_layer_is_its_images_bytes)
{
	int fds[2][2] = { { self->client, self->server } }, i, nonblocking;
	struct hbx_stoq_hdr h;
	struct peer_info p;
	uint32_t once;
	void *data;

	ASSERT_EQ(0, export_once_instead(self, &once));
	ASSERT_EQ(0, tcp_pair(&fds[1][0], &fds[1][1]));
	for (nonblocking = 0; nonblocking < 2; nonblocking++) {
		int client = fds[nonblocking][0], server = fds[nonblocking][1];
		struct run_frame f = run_frame_of(self->digest, 3, 4, 60 + nonblocking);

		if (nonblocking)
			ASSERT_EQ(0, fcntl(server, F_SETFL, O_NONBLOCK));
		ASSERT_EQ(0, peer_add(self->nl, server, 1, &p));
		ASSERT_EQ(0, send_hello(client));
		ASSERT_EQ(0, recv_frame(client, &h, &data));
		free(data);
		ASSERT_EQ(0, send_all(client, &f, sizeof(f)));
		ASSERT_EQ(HBX_STOQ_OK, recv_frame(client, &h, &data));
		EXPECT_EQ(60 + nonblocking, be64toh(h.id));
		ASSERT_EQ(4 << CHUNK_SHIFT, be32toh(h.len));
		EXPECT_EQ(0, memcmp(data, self->data + (3 << CHUNK_SHIFT), 4 << CHUNK_SHIFT)) {
			TH_LOG("%s: wrong bytes", nonblocking ? "copied" : "spliced");
		}
		free(data);
		EXPECT_EQ(0, peer_del(self->nl, p.id));
	}
	for (i = 0; i < 2; i++)
		close(fds[1][i]);
	EXPECT_EQ(0, layer_del(self->nl, once));
}

TEST_F(serve, a_run_of_no_chunks_drops_the_socket)
{
	struct run_frame f = run_frame_of(self->digest, 0, 0, 1);

	expect_dropped(_metadata, self, &f, sizeof(f), 1, "malformed run");
}

TEST_F(serve, a_run_with_its_reserved_field_set_drops_the_socket)
{
	struct run_frame f = run_frame_of(self->digest, 0, 1, 1);

	f.r.reserved = htobe32(1);
	expect_dropped(_metadata, self, &f, sizeof(f), 1, "malformed run");
}

TEST_F(serve, unexported_layer_is_not_served)
{
	struct nl_msg *msg = hbx_nl_msg(self->nl, HBX_CMD_LAYER_EXPORT, 0);
	struct get_frame f = get_frame_of(HBX_STOQ_GET_MANIFEST, self->digest, 0);
	struct hbx_stoq_hdr h;
	struct peer_info p;
	void *data;

	nla_put_u32(msg, HBX_A_LAYER_INDEX, self->layer);
	nla_put_u8(msg, HBX_A_LAYER_EXPORTED, 0);
	ASSERT_EQ(0, hbx_nl_request(self->nl, msg, HBX_A_LAYER_MAX, NULL, NULL));
	ASSERT_EQ(0, peer_add(self->nl, self->server, 1, &p));
	ASSERT_EQ(0, send_hello(self->client));
	ASSERT_EQ(0, recv_frame(self->client, &h, &data));
	free(data);
	ASSERT_EQ(0, send_all(self->client, &f, sizeof(f)));
	EXPECT_EQ(HBX_STOQ_UNKNOWN_LAYER, recv_frame(self->client, &h, &data));
	free(data);
	EXPECT_EQ(0, peer_del(self->nl, p.id));
}

/*
 * A slowloris: a request frame one byte a second.  Each byte comes well
 * within the 5 s timeout, but the frame must be whole within it too.
 */
TEST_F(serve, a_frame_dripped_byte_by_byte_is_cut_at_its_deadline)
{
	struct get_frame f = get_frame_of(HBX_STOQ_GET_CHUNK, self->digest, 0);
	struct hbx_stoq_hdr h;
	struct peer_info p, g;
	size_t i;
	void *data;

	ASSERT_EQ(0, peer_add(self->nl, self->server, 1, &p));
	ASSERT_EQ(0, send_hello(self->client));
	ASSERT_EQ(0, recv_frame(self->client, &h, &data));
	free(data);
	for (i = 0; i < sizeof(f) - 1; i++) {
		if (send(self->client, (char *)&f + i, 1, MSG_NOSIGNAL) != 1)
			break;		/* cut: what we wanted */
		ASSERT_EQ(0, peer_get(self->nl, p.id, &g));
		if (g.state == HBX_PEER_STATE_DOWN)
			break;
		sleep(1);
	}
	ASSERT_EQ(0, peer_get(self->nl, p.id, &g));
	EXPECT_EQ(HBX_PEER_STATE_DOWN, g.state) {
		TH_LOG("still up after %zu bytes in %zu s", i, i);
	}
	EXPECT_GT(10, i);
	EXPECT_NE(NULL, strstr(g.last_error, "in time")) {
		TH_LOG("last error \"%s\"", g.last_error);
	}
	EXPECT_EQ(0, peer_del(self->nl, p.id));
}

TEST_F(serve, the_same_socket_twice_is_refused)
{
	int fds[2] = { self->server, dup(self->server) };
	struct peer_info p;

	EXPECT_EQ(-EINVAL, peer_add_socks(self->nl, HBX_PEER_ROLE_SERVER, fds, 2, 1, &p));
	EXPECT_TRUE(hbx_test_error_has(self->nl, "same socket is given twice"));
	close(fds[1]);
}

TEST_F(serve, a_deleted_peers_id_is_not_reused_at_once)
{
	struct peer_info p, q;

	ASSERT_EQ(0, peer_add(self->nl, self->server, 1, &p));
	ASSERT_EQ(0, peer_del(self->nl, p.id));
	close(self->client);
	close(self->server);
	ASSERT_EQ(0, tcp_pair(&self->client, &self->server));
	ASSERT_EQ(0, peer_add(self->nl, self->server, 1, &q));
	EXPECT_NE(p.id, q.id);
	EXPECT_EQ(0, peer_del(self->nl, q.id));
}

/*
 * A dump of peers that spans several messages while a peer is deleted
 * says so (NLM_F_DUMP_INTR on what follows), so a lister knows to ask
 * again instead of trusting a list that was never true at any one time.
 */
TEST_F(serve, a_peer_dump_that_peers_change_under_is_flagged)
{
	enum { N = 100 };
	struct nl_msg *m = hbx_nl_msg(self->nl, HBX_CMD_PEER_GET, 0);
	struct {
		struct nlmsghdr		n;
		struct genlmsghdr	g;
	} req = {
		.n = { .nlmsg_len = sizeof(req), .nlmsg_type = nlmsg_hdr(m)->nlmsg_type,
		       .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP, .nlmsg_seq = 1 },
		.g = { .cmd = HBX_CMD_PEER_GET, .version = HBX_GENL_VERSION },
	};
	struct timeval tv = { .tv_sec = 10 };
	int clients[N], servers[N], i, fd, parts = 0, intr = 0, done = 0;
	static char buf[65536];
	uint32_t ids[N];
	struct peer_info p;

	nlmsg_free(m);
	for (i = 0; i < N; i++) {
		ASSERT_EQ(0, tcp_pair(&clients[i], &servers[i]));
		ASSERT_EQ(0, peer_add(self->nl, servers[i], 1, &p));
		ids[i] = p.id;
	}
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
	ASSERT_LE(0, fd);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	ASSERT_EQ(sizeof(req), send(fd, &req, sizeof(req), 0));
	while (!done) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		struct nlmsghdr *h;

		ASSERT_LT(0, n);
		for (h = (void *)buf; NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
			intr |= !!(h->nlmsg_flags & NLM_F_DUMP_INTR);
			done |= h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR;
		}
		/* The rest of the dump is made as this part is read. */
		if (!parts++)
			ASSERT_EQ(0, peer_del(self->nl, ids[0]));
	}
	close(fd);
	TH_LOG("%d peers dumped in %d parts, interrupted flag %s", N, parts,
	       intr ? "set" : "not set");
	EXPECT_LT(1, parts);
	EXPECT_TRUE(intr);
	for (i = 0; i < N; i++) {
		if (i)
			EXPECT_EQ(0, peer_del(self->nl, ids[i]));
		close(clients[i]);
		close(servers[i]);
	}
}

/* Whether the kernel log has a record with needle after kmsg's position. */
static int kmsg_says(int kmsg, const char *needle)
{
	static char rec[8192];
	ssize_t n;

	/* One record per read; EAGAIN at the end, EPIPE if some were overwritten. */
	while ((n = read(kmsg, rec, sizeof(rec) - 1)) > 0 || (n < 0 && errno == EPIPE)) {
		if (n <= 0)
			continue;
		rec[n] = '\0';
		if (strstr(rec, needle))
			return 1;
	}
	return 0;
}

/*
 * PEER_DEL while the other end keeps writing.  Deleting a peer runs each
 * socket's receiver one last time, which ends the socket and unhooks it
 * from the socket's wait queue.  A wake on another CPU could take that
 * queued run off the queue and queue it again behind the delete's flush;
 * the delete then cancelled it, freed the peer and left its entry hooked
 * on a socket user space still held, so the next byte queued a receiver on
 * freed memory (6.12: a NULL dereference in kernel_sock_shutdown from
 * hbx_peer_sock_failed).  Freeing a hooked peer now warns (the kernel
 * log is read here), and the delete waits until the socket is ended.
 */
TEST_F_TIMEOUT(serve, a_peer_deleted_while_its_socket_is_written_leaves_nothing_hooked, 300)
{
	enum { ROUNDS = 400 };
	int kmsg = open("/dev/kmsg", O_RDONLY | O_NONBLOCK), round, hooked;
	struct peer_info p;

	ASSERT_LE(0, kmsg);
	lseek(kmsg, 0, SEEK_END);
	for (round = 0; round < ROUNDS; round++) {
		int c, k, status;
		pid_t writer;

		ASSERT_EQ(0, tcp_pair(&c, &k));
		ASSERT_EQ(0, peer_add(self->nl, k, 1, &p));
		writer = fork();
		ASSERT_LE(0, writer);
		if (!writer) {
			/* Hellos a byte at a time: a wake for every byte, until cut off. */
			struct hbx_stoq_hdr h = frame_hdr(HBX_STOQ_HELLO, 1,
							  sizeof(struct hbx_stoq_hello));
			struct hbx_stoq_hello hello = { .version = htobe32(HBX_STOQ_VERSION) };
			unsigned char frame[sizeof(h) + sizeof(hello)];
			size_t i;

			memcpy(frame, &h, sizeof(h));
			memcpy(frame + sizeof(h), &hello, sizeof(hello));
			for (;;)
				for (i = 0; i < sizeof(frame); i++)
					if (send(c, frame + i, 1, MSG_NOSIGNAL) != 1)
						_exit(0);
		}
		usleep(round % 7 * 300);
		EXPECT_EQ(0, peer_del(self->nl, p.id));
		kill(writer, SIGKILL);
		waitpid(writer, &status, 0);
		close(c);
		close(k);
	}
	hooked = kmsg_says(kmsg, "still hooked");
	close(kmsg);
	TH_LOG("%d peers deleted while written to", ROUNDS);
	EXPECT_EQ(0, hooked);
}

struct down_event {
	int	seen;
	uint32_t id;
};

static int down_cb(uint8_t cmd, struct nlattr **tb, void *arg)
{
	struct down_event *e = arg;

	if (cmd != HBX_CMD_PEER_DOWN_NTF)
		return 0;
	e->seen = 1;
	e->id = tb[HBX_A_PEER_ID] ? nla_get_u32(tb[HBX_A_PEER_ID]) : ~0U;
	return 1;
}

TEST_F(serve, a_closed_connection_raises_peer_down)
{
	struct timeval tv = { .tv_sec = 10 };
	struct down_event e = { 0 };
	struct hbx_nl *events;
	struct peer_info p;

	ASSERT_EQ(0, hbx_nl_open(&events));
	ASSERT_EQ(0, hbx_nl_subscribe(events));
	setsockopt(nl_socket_get_fd(hbx_nl_sock(events)), SOL_SOCKET,
		   SO_RCVTIMEO, &tv, sizeof(tv));
	ASSERT_EQ(0, peer_add(self->nl, self->server, 1, &p));
	close(self->client);
	self->client = socket(AF_INET, SOCK_STREAM, 0);	/* for teardown */
	EXPECT_EQ(0, hbx_nl_listen(events, HBX_A_PEER_MAX, down_cb, &e));
	EXPECT_TRUE(e.seen);
	EXPECT_EQ(p.id, e.id);
	EXPECT_EQ(0, peer_del(self->nl, p.id));
	hbx_nl_close(events);
}

/*
 * A remote layer fetched from the kernel's own server over the loopback
 * pair: *srv serves the fixture's layer, *cli is the client peer.
 */
static int remote_peers_timeout(struct _test_data_serve *self,
				struct peer_info *srv, struct peer_info *cli,
				uint32_t timeout_ms)
{
	return peer_add(self->nl, self->server, 1, srv) ?:
	       peer_add_socks_to(self->nl, 0, HBX_PEER_ROLE_CLIENT, &self->client,
				 1, 1, timeout_ms, cli);
}

static int remote_peers(struct _test_data_serve *self, struct peer_info *srv,
			struct peer_info *cli)
{
	return remote_peers_timeout(self, srv, cli, 5000);
}

/*
 * LAYER_ADD of a remote layer, the fixture's by digest or, with a name, by
 * export name; asked again while the manifest is on its way.
 */
static int remote_add_as(struct _test_data_serve *self, uint32_t peer, int cache,
			 const char *name, hbx_nl_reply_fn cb, void *arg)
{
	int err, tries = 0;

	do {
		struct nl_msg *msg = hbx_nl_msg(self->nl, HBX_CMD_LAYER_ADD, 0);

		if (tries)
			usleep(20 * 1000);
		nla_put_u32(msg, HBX_A_LAYER_PEER, peer);
		nla_put_u32(msg, HBX_A_LAYER_CACHE_FD, cache);
		if (name)
			nla_put_string(msg, HBX_A_LAYER_EXPORT_NAME, name);
		else
			nla_put(msg, HBX_A_LAYER_DIGEST, HBX_DIGEST_SIZE, self->digest);
		err = hbx_nl_request(self->nl, msg, HBX_A_LAYER_MAX, cb, arg);
	} while (err == -EINPROGRESS && ++tries < 500);
	return err;
}

static int remote_add(struct _test_data_serve *self, uint32_t peer, int cache,
		      uint32_t *index)
{
	return remote_add_as(self, peer, cache, NULL, layer_index_cb, index);
}

static int layer_del(struct hbx_nl *nl, uint32_t index)
{
	struct nl_msg *msg = hbx_nl_msg(nl, HBX_CMD_LAYER_DEL, 0);

	nla_put_u32(msg, HBX_A_LAYER_INDEX, index);
	nla_put_flag(msg, HBX_A_LAYER_FORCE);
	return hbx_nl_request(nl, msg, HBX_A_LAYER_MAX, NULL, NULL);
}

static int open_cache(struct _test_data_serve *self, const char *name, int flags)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/%s", self->dir, name);
	return open(path, O_RDWR | O_CREAT | flags, 0600);
}

/* A write that O_APPEND sends to the end would leave the chunk a hole. */
TEST_F(serve, a_cache_opened_with_o_append_is_refused)
{
	int cache = open_cache(self, "append.cache", O_APPEND);
	struct peer_info srv, cli;
	uint32_t index;

	ASSERT_EQ(0, remote_peers(self, &srv, &cli));
	EXPECT_EQ(-EINVAL, remote_add(self, cli.id, cache, &index));
	EXPECT_TRUE(hbx_test_error_has(self->nl, "O_APPEND"));
	EXPECT_EQ(0, peer_del(self->nl, cli.id));
	EXPECT_EQ(0, peer_del(self->nl, srv.id));
	close(cache);
}

/* The description is the caller's; the module writes through its own. */
TEST_F(serve, o_append_set_on_the_cache_after_attach_cannot_misplace_chunks)
{
	int cache = open_cache(self, "setfl.cache", 0), dev;
	struct peer_info srv, cli;
	uint8_t *got = malloc(IMAGE_SIZE);
	char path[32];
	uint32_t index;

	ASSERT_EQ(0, remote_peers(self, &srv, &cli));
	ASSERT_EQ(0, remote_add(self, cli.id, cache, &index)) {
		TH_LOG("%s", hbx_nl_error(self->nl));
	}
	ASSERT_EQ(0, fcntl(cache, F_SETFL, O_APPEND));
	snprintf(path, sizeof(path), "/dev/hbx%u", index);
	dev = open(path, O_RDONLY);
	ASSERT_LE(0, dev);
	EXPECT_EQ(IMAGE_SIZE, pread(dev, got, IMAGE_SIZE, 0));
	EXPECT_EQ(0, memcmp(got, self->data, IMAGE_SIZE));
	EXPECT_EQ(IMAGE_SIZE, pread(cache, got, IMAGE_SIZE, 0));
	EXPECT_EQ(0, memcmp(got, self->data, IMAGE_SIZE));
	EXPECT_EQ(IMAGE_SIZE, lseek(cache, 0, SEEK_END));
	close(dev);
	EXPECT_EQ(0, layer_del(self->nl, index));
	EXPECT_EQ(0, peer_del(self->nl, cli.id));
	EXPECT_EQ(0, peer_del(self->nl, srv.id));
	close(cache);
	free(got);
}

/* Looking for holes in the cache moves no file position of the caller's. */
TEST_F(serve, reading_a_remote_layer_leaves_the_cache_fds_position_alone)
{
	int cache = open_cache(self, "position.cache", 0), dev;
	struct peer_info srv, cli;
	uint8_t *got = malloc(IMAGE_SIZE);
	char path[32];
	uint32_t index;

	ASSERT_EQ(12345, lseek(cache, 12345, SEEK_SET));
	ASSERT_EQ(0, remote_peers(self, &srv, &cli));
	ASSERT_EQ(0, remote_add(self, cli.id, cache, &index)) {
		TH_LOG("%s", hbx_nl_error(self->nl));
	}
	snprintf(path, sizeof(path), "/dev/hbx%u", index);
	dev = open(path, O_RDONLY);
	ASSERT_LE(0, dev);
	/* Twice: the second time the chunks are in the cache. */
	EXPECT_EQ(IMAGE_SIZE, pread(dev, got, IMAGE_SIZE, 0));
	posix_fadvise(dev, 0, 0, POSIX_FADV_DONTNEED);
	EXPECT_EQ(IMAGE_SIZE, pread(dev, got, IMAGE_SIZE, 0));
	EXPECT_EQ(0, memcmp(got, self->data, IMAGE_SIZE));
	EXPECT_EQ(12345, lseek(cache, 0, SEEK_CUR));
	close(dev);
	EXPECT_EQ(0, layer_del(self->nl, index));
	EXPECT_EQ(0, peer_del(self->nl, cli.id));
	EXPECT_EQ(0, peer_del(self->nl, srv.id));
	close(cache);
	free(got);
}

TEST_F(serve, a_cache_attached_twice_is_refused)
{
	int cache = open_cache(self, "twice.cache", 0);
	int again = open_cache(self, "twice.cache", 0);
	struct peer_info srv, cli;
	uint32_t index, second;

	ASSERT_EQ(0, remote_peers(self, &srv, &cli));
	ASSERT_EQ(0, remote_add(self, cli.id, cache, &index));
	EXPECT_EQ(-EBUSY, remote_add(self, cli.id, again, &second));
	EXPECT_TRUE(hbx_test_error_has(self->nl, "already attached"));
	EXPECT_EQ(0, layer_del(self->nl, index));
	/* Detached, it may be attached again. */
	ASSERT_EQ(0, remote_add(self, cli.id, again, &second));
	EXPECT_EQ(0, layer_del(self->nl, second));
	EXPECT_EQ(0, peer_del(self->nl, cli.id));
	EXPECT_EQ(0, peer_del(self->nl, srv.id));
	close(cache);
	close(again);
}

/* MemAvailable from /proc/meminfo, in KiB. */
static long mem_available_kib(void)
{
	FILE *f = fopen("/proc/meminfo", "r");
	char line[128];
	long kib = -1;

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "MemAvailable: %ld kB", &kib) == 1)
			break;
	if (f)
		fclose(f);
	return kib;
}

/*
 * GET_MANIFEST on many sockets whose readers never read.  The manifest is
 * shared by every request for it, so kernel memory grows by what the
 * sockets buffer, not by a copy of the manifest (4 MiB here) per request
 * that a slow reader holds for as long as it likes.
 */
TEST_F_TIMEOUT(serve, a_manifest_asked_on_stuck_sockets_is_not_copied_for_each, 180)
{
	enum { NSOCK = 16 };
	const off_t image_size = 512 << 20;	/* sparse: 131072 chunks of 4 KiB */
	int c[NSOCK], k[NSOCK], ifd, mfd, i;
	struct hbx_manifest_info info;
	char image[128], manifest[128];
	long before, after, grown, mkib;
	struct nl_msg *msg;
	struct peer_info p;
	uint32_t index;

	snprintf(image, sizeof(image), "%s/big.image", self->dir);
	snprintf(manifest, sizeof(manifest), "%s/big.manifest", self->dir);
	ifd = open(image, O_RDWR | O_CREAT | O_TRUNC, 0644);
	ASSERT_EQ(0, ftruncate(ifd, image_size));
	close(ifd);
	ifd = open(image, O_RDONLY);
	mfd = open(manifest, O_RDWR | O_CREAT | O_TRUNC, 0644);
	ASSERT_EQ(0, hbx_manifest_build(ifd, HBX_CHUNK_SHIFT_MIN, mfd, &info));
	mkib = lseek(mfd, 0, SEEK_END) >> 10;
	ASSERT_LE(4 << 10, mkib);
	msg = hbx_nl_msg(self->nl, HBX_CMD_LAYER_ADD, 0);
	nla_put_u32(msg, HBX_A_LAYER_IMAGE_FD, ifd);
	nla_put_u32(msg, HBX_A_LAYER_MANIFEST_FD, mfd);
	nla_put(msg, HBX_A_LAYER_DIGEST, HBX_DIGEST_SIZE, info.digest);
	nla_put_u32(msg, HBX_A_LAYER_VERIFY, HBX_VERIFY_ONCE);
	ASSERT_EQ(0, hbx_nl_request(self->nl, msg, HBX_A_LAYER_MAX,
				    layer_index_cb, &index)) {
		TH_LOG("%s", hbx_nl_error(self->nl));
	}
	close(ifd);
	close(mfd);
	msg = hbx_nl_msg(self->nl, HBX_CMD_LAYER_EXPORT, 0);
	nla_put_u32(msg, HBX_A_LAYER_INDEX, index);
	nla_put_u8(msg, HBX_A_LAYER_EXPORTED, 1);
	ASSERT_EQ(0, hbx_nl_request(self->nl, msg, HBX_A_LAYER_MAX, NULL, NULL));

	/*
	 * Small socket buffers: what a stuck socket holds is then well under
	 * the manifest, and a copy per request stands out.
	 */
	for (i = 0; i < NSOCK; i++) {
		int small = 64 << 10;

		ASSERT_EQ(0, tcp_pair(&c[i], &k[i]));
		ASSERT_EQ(0, setsockopt(k[i], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)));
		ASSERT_EQ(0, setsockopt(c[i], SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)));
	}
	ASSERT_EQ(0, peer_add_socks(self->nl, HBX_PEER_ROLE_SERVER, k, NSOCK, 1, &p));
	for (i = 0; i < NSOCK; i++) {
		struct hbx_stoq_hdr h;
		void *data;

		ASSERT_EQ(0, send_hello(c[i]));
		ASSERT_EQ(0, recv_frame(c[i], &h, &data));
		free(data);
	}
	sleep(1);
	before = mem_available_kib();
	for (i = 0; i < NSOCK; i++)
		ASSERT_EQ(0, send_get(c[i], HBX_STOQ_GET_MANIFEST, info.digest, 0, 5));
	sleep(3);	/* every server thread is now stuck in its send */
	after = mem_available_kib();
	grown = before - after;
	TH_LOG("%d manifests of %ld KiB asked, none read: %ld KiB more in use",
	       NSOCK, mkib, grown);
	/* A copy per request would be 64 MiB; each socket buffers under 1. */
	EXPECT_GT(24 << 10, grown);

	EXPECT_EQ(0, peer_del(self->nl, p.id));
	for (i = 0; i < NSOCK; i++) {
		close(c[i]);
		close(k[i]);
	}
	EXPECT_EQ(0, layer_del(self->nl, index));
}

/*
 * A peer that says hello on a second socket, then never answers on it.
 * Requests are spread over a peer's sockets in turn, so without the fix
 * every second read waited out the whole timeout and failed; the request
 * that waits a whole timeout on a socket nothing came back on shuts it
 * down, so at most one read pays for it and the rest go to the socket
 * that works.
 */
TEST_F(serve, a_socket_that_never_answers_is_dropped_after_one_timeout)
{
	const uint32_t timeout_ms = 1000;
	int cache = open_cache(self, "silent.cache", 0), dev, mute_k, mute_t;
	struct peer_info srv, cli, more, g;
	int failed = 0, slow = 0;
	char path[32];
	uint32_t index;
	uint64_t i;
	void *buf;

	ASSERT_EQ(0, posix_memalign(&buf, 4096, 4096));
	ASSERT_EQ(0, remote_peers_timeout(self, &srv, &cli, timeout_ms));
	ASSERT_EQ(0, remote_add(self, cli.id, cache, &index)) {
		TH_LOG("%s", hbx_nl_error(self->nl));
	}
	/* The mute socket joins the live peer once the layer is attached. */
	ASSERT_EQ(0, tcp_pair(&mute_t, &mute_k));
	ASSERT_EQ(0, send_hello(mute_t));
	ASSERT_EQ(0, peer_add_socks_to(self->nl, cli.id, HBX_PEER_ROLE_CLIENT,
				       &mute_k, 1, 1, timeout_ms, &more));
	ASSERT_EQ(0, peer_get(self->nl, cli.id, &g));
	ASSERT_EQ(2, g.socks_up);
	usleep(300 * 1000);	/* its reader takes our hello: it is ready */

	snprintf(path, sizeof(path), "/dev/hbx%u", index);
	dev = open(path, O_RDONLY | O_DIRECT);
	ASSERT_LE(0, dev);
	/* One block of every chunk, each chunk's first read: a fetch each. */
	for (i = 0; i < NCHUNKS; i++) {
		struct timespec a, b;
		long ms;

		clock_gettime(CLOCK_MONOTONIC, &a);
		if (pread(dev, buf, 4096, i << CHUNK_SHIFT) != 4096)
			failed++;
		else
			EXPECT_EQ(0, memcmp(buf, self->data + (i << CHUNK_SHIFT), 4096));
		clock_gettime(CLOCK_MONOTONIC, &b);
		ms = (b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
		if (ms >= timeout_ms / 2)
			slow++;
	}
	TH_LOG("%d of %d reads failed, %d waited on the mute socket",
	       failed, (int)NCHUNKS, slow);
	/* Requests take the sockets in turn: one of them met the mute one. */
	EXPECT_EQ(1, slow);
	EXPECT_GE(1, failed);
	ASSERT_EQ(0, peer_get(self->nl, cli.id, &g));
	EXPECT_EQ(1, g.socks_up);
	EXPECT_NE(NULL, strstr(g.last_error, "no reply in a whole timeout")) {
		TH_LOG("last error \"%s\"", g.last_error);
	}
	close(dev);
	EXPECT_EQ(0, layer_del(self->nl, index));
	EXPECT_EQ(0, peer_del(self->nl, cli.id));
	EXPECT_EQ(0, peer_del(self->nl, srv.id));
	close(mute_t);
	close(mute_k);
	close(cache);
	free(buf);
}

/* Export (1) or withdraw (0) a layer. */
static int layer_export(struct hbx_nl *nl, uint32_t index, int on)
{
	struct nl_msg *msg = hbx_nl_msg(nl, HBX_CMD_LAYER_EXPORT, 0);

	nla_put_u32(msg, HBX_A_LAYER_INDEX, index);
	nla_put_u8(msg, HBX_A_LAYER_EXPORTED, on);
	return hbx_nl_request(nl, msg, HBX_A_LAYER_MAX, NULL, NULL);
}

/*
 * How a reader that took its time finds the stream: every frame whole and
 * right until the end (-1: a header out of step, or a reply with the wrong
 * bytes; else the number of whole replies before the end).
 */
static int replies_in_step(struct _test_data_serve *self, int fd)
{
	struct hbx_stoq_hdr h;
	int whole = 0;

	for (;;) {
		uint64_t chunk;
		uint32_t len;
		char *data;

		if (recv_all(fd, &h, sizeof(h)))
			return whole;		/* the end, maybe mid-header */
		len = be32toh(h.len);
		chunk = be64toh(h.id) - 100;
		if (be32toh(h.magic) != HBX_STOQ_MAGIC || chunk >= NCHUNKS ||
		    len != 1U << CHUNK_SHIFT)
			return -1;
		data = malloc(len);
		if (recv_all(fd, data, len)) {
			free(data);
			return whole;		/* the end, mid-reply */
		}
		if (memcmp(data, self->data + (chunk << CHUNK_SHIFT), len)) {
			free(data);
			return -1;
		}
		free(data);
		whole++;
	}
}

/*
 * A reply the peer does not take in time ends the socket, and nothing goes
 * out behind the half frame (spliced replies, verify once): the replies
 * that came are whole and right, then the stream ends.
 */
TEST_F(serve, a_reply_not_taken_in_time_ends_the_socket)
{
	struct timeval tv = { .tv_sec = 5 };
	int small = 4096, whole;
	struct hbx_stoq_hdr h;
	struct peer_info p, g;
	uint32_t once;
	uint64_t i;
	void *data;

	ASSERT_EQ(0, export_once_instead(self, &once));

	/* Small buffers both ways: a reply or two fill them. */
	ASSERT_EQ(0, setsockopt(self->server, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)));
	ASSERT_EQ(0, setsockopt(self->client, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)));
	ASSERT_EQ(0, setsockopt(self->client, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)));
	ASSERT_EQ(0, peer_add_socks_to(self->nl, 0, HBX_PEER_ROLE_SERVER, &self->server,
				       1, 1, 1000, &p));
	ASSERT_EQ(0, send_hello(self->client));
	ASSERT_EQ(0, recv_frame(self->client, &h, &data));
	free(data);
	for (i = 0; i < NCHUNKS; i++)
		ASSERT_EQ(0, send_get(self->client, HBX_STOQ_GET_CHUNK, self->digest, i, 100 + i));
	sleep(3);	/* the peer timeout is 1 s: a reply is late mid-frame */
	/* A socket still up would answer this behind the half frame. */
	send_get(self->client, HBX_STOQ_GET_CHUNK, self->digest, 0, 100);
	whole = replies_in_step(self, self->client);
	TH_LOG("%d whole replies, then the end", whole);
	EXPECT_LE(0, whole);
	EXPECT_GT((int)NCHUNKS, whole);
	ASSERT_EQ(0, peer_get(self->nl, p.id, &g));
	EXPECT_EQ(HBX_PEER_STATE_DOWN, g.state);
	EXPECT_NE(NULL, strstr(g.last_error, "in time")) {
		TH_LOG("last error \"%s\"", g.last_error);
	}
	EXPECT_EQ(0, peer_del(self->nl, p.id));
	EXPECT_EQ(0, layer_del(self->nl, once));
}

/* A server that takes our hello and says nothing does not hold the slot. */
TEST_F(serve, a_server_that_never_answers_our_hello_is_dropped_in_time)
{
	struct timeval tv = { .tv_sec = 5 };
	struct peer_info cli, g;
	struct hbx_stoq_hdr h;
	void *data;
	int i;

	ASSERT_EQ(0, setsockopt(self->server, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)));
	ASSERT_EQ(0, peer_add_socks_to(self->nl, 0, HBX_PEER_ROLE_CLIENT, &self->client,
				       1, 1, 1000, &cli));
	ASSERT_EQ(0, recv_frame(self->server, &h, &data));	/* its hello */
	free(data);
	EXPECT_EQ(HBX_STOQ_HELLO, h.type);
	for (i = 0; i < 100; i++) {
		ASSERT_EQ(0, peer_get(self->nl, cli.id, &g));
		if (g.state == HBX_PEER_STATE_DOWN)
			break;
		usleep(100 * 1000);
	}
	TH_LOG("down after %d ms: \"%s\"", i * 100, g.last_error);
	EXPECT_EQ(HBX_PEER_STATE_DOWN, g.state);
	EXPECT_GT(50, i);	/* the peer timeout is 1 s */
	EXPECT_NE(NULL, strstr(g.last_error, "in time"));
	EXPECT_TRUE(closed_by_peer(self->server));
	EXPECT_EQ(0, peer_del(self->nl, cli.id));
}

/*
 * A server's hello may be longer than ours (a later version may add fields
 * after the version): the client takes the version, drops the rest, and
 * reads the next frame from its first byte.  Before, it read only the bytes
 * it knew and took the rest for the next header: "bad magic", socket gone.
 */
TEST_F(serve, a_servers_longer_hello_keeps_the_stream_in_step)
{
	struct {
		struct hbx_stoq_hello hello;
		uint8_t more[12];
	} hello = { .hello.version = htobe32(HBX_STOQ_VERSION) };
	struct peer_info cli, g;
	struct hbx_stoq_hdr h;
	void *data;

	ASSERT_EQ(0, peer_add_socks_to(self->nl, 0, HBX_PEER_ROLE_CLIENT, &self->client,
				       1, 1, 5000, &cli));
	ASSERT_EQ(0, recv_frame(self->server, &h, &data));	/* its hello */
	free(data);
	memset(hello.more, 0x5a, sizeof(hello.more));
	ASSERT_EQ(0, send_frame(self->server, HBX_STOQ_HELLO, 1, &hello, sizeof(hello)));
	/* A reply to nothing: read and dropped, if read from its start. */
	ASSERT_EQ(0, send_frame(self->server, HBX_STOQ_REPLY, 77, NULL, 0));
	usleep(500 * 1000);
	ASSERT_EQ(0, peer_get(self->nl, cli.id, &g));
	TH_LOG("state %u, %u sockets up, last error \"%s\"", g.state, g.socks_up,
	       g.last_error);
	EXPECT_EQ(HBX_PEER_STATE_UP, g.state);
	EXPECT_EQ(1, g.socks_up);
	EXPECT_EQ(0, g.protocol_errors);
	EXPECT_EQ(0, peer_del(self->nl, cli.id));
}

/* CPU time the whole machine spent busy so far, in clock ticks (/proc/stat). */
static long long cpu_busy_ticks(void)
{
	long long user, nice, sys, idle, iowait, irq, softirq, steal = 0;
	FILE *f = fopen("/proc/stat", "r");
	int n;

	if (!f)
		return -1;
	n = fscanf(f, "cpu %lld %lld %lld %lld %lld %lld %lld %lld", &user, &nice,
		   &sys, &idle, &iowait, &irq, &softirq, &steal);
	fclose(f);
	return n >= 7 ? user + nice + sys + irq + softirq + steal : -1;
}

/*
 * A socket whose sending side is shut under the module (whoever handed it
 * in still has the fd): every request on it fails to send at once.  That
 * socket is ended by its first failed send, and the fetch waits for another
 * without burning a CPU.  Before, the socket stayed "ready" and the fetch
 * tried it again and again, a CPU spinning for the whole timeout.
 */
TEST_F(serve, a_socket_that_cannot_send_is_ended_not_retried_in_a_spin)
{
	const uint32_t timeout_ms = 3000;
	int cache = open_cache(self, "noshut.cache", 0), dev;
	long long busy, idle, ticks = sysconf(_SC_CLK_TCK);
	struct timespec a, b;
	struct peer_info cli, g;
	char path[32];
	uint32_t index;
	void *buf;
	pid_t server;
	long ms;

	ASSERT_EQ(0, posix_memalign(&buf, 4096, 4096));
	/*
	 * The server, in a child (an attach may wait for the manifest in
	 * its request): hello, the manifest, then it keeps its end open and
	 * reads nothing more.
	 */
	server = fork();
	ASSERT_LE(0, server);
	if (!server) {
		struct hbx_stoq_hdr h;
		void *data;

		if (recv_frame(self->server, &h, &data) < 0 || send_hello(self->server) ||
		    recv_frame(self->server, &h, &data) < 0 ||
		    h.type != HBX_STOQ_GET_MANIFEST ||
		    send_frame(self->server, HBX_STOQ_REPLY, be64toh(h.id),
			       self->mbuf, self->mlen))
			_exit(1);
		for (;;)
			pause();
	}
	ASSERT_EQ(0, peer_add_socks_to(self->nl, 0, HBX_PEER_ROLE_CLIENT, &self->client,
				       1, 1, timeout_ms, &cli));
	ASSERT_EQ(0, remote_add(self, cli.id, cache, &index)) {
		TH_LOG("%s", hbx_nl_error(self->nl));
	}

	ASSERT_EQ(0, shutdown(self->client, SHUT_WR));
	snprintf(path, sizeof(path), "/dev/hbx%u", index);
	dev = open(path, O_RDONLY | O_DIRECT);
	ASSERT_LE(0, dev);
	/*
	 * What the machine does anyway over as long: on the debug kernel
	 * (kmemleak, its harness's pollers) that was most of the 3 s.
	 */
	idle = cpu_busy_ticks();
	ASSERT_LE(0, idle);
	usleep(timeout_ms * 1000);
	idle = cpu_busy_ticks() - idle;
	busy = cpu_busy_ticks();
	clock_gettime(CLOCK_MONOTONIC, &a);
	EXPECT_GT(0, pread(dev, buf, 4096, 0));
	clock_gettime(CLOCK_MONOTONIC, &b);
	busy = cpu_busy_ticks() - busy;
	ms = (b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
	ASSERT_EQ(0, peer_get(self->nl, cli.id, &g));
	TH_LOG("the read failed after %ld ms, the machine busy %lld ms of it "
	       "(%lld ms over as long idle); %u sockets up, last error \"%s\"",
	       ms, busy * 1000 / ticks, idle * 1000 / ticks, g.socks_up, g.last_error);
	/* A spin keeps a CPU busy the whole wait; idle waiting, a little. */
	EXPECT_GT(ms / 3, (busy - idle) * 1000 / ticks);
	EXPECT_EQ(0, g.socks_up);
	EXPECT_NE(NULL, strstr(g.last_error, "could not be sent"));
	kill(server, SIGKILL);
	waitpid(server, NULL, 0);
	close(dev);
	EXPECT_EQ(0, layer_del(self->nl, index));
	EXPECT_EQ(0, peer_del(self->nl, cli.id));
	close(cache);
	free(buf);
}

/* Sockets a peer has no room for are refused all together. */
TEST_F(serve, a_peer_without_room_for_all_new_sockets_takes_none)
{
	int ends[HBX_PEER_SOCKETS_MAX + 1][2], first[HBX_PEER_SOCKETS_MAX - 1], i;
	struct peer_info p, more, g;
	int fds[2];

	for (i = 0; i <= HBX_PEER_SOCKETS_MAX; i++)
		ASSERT_EQ(0, tcp_pair(&ends[i][0], &ends[i][1]));
	for (i = 0; i < HBX_PEER_SOCKETS_MAX - 1; i++)
		first[i] = ends[i][1];
	ASSERT_EQ(0, peer_add_socks(self->nl, HBX_PEER_ROLE_SERVER, first,
				    HBX_PEER_SOCKETS_MAX - 1, 1, &p));
	fds[0] = ends[HBX_PEER_SOCKETS_MAX - 1][1];
	fds[1] = ends[HBX_PEER_SOCKETS_MAX][1];
	EXPECT_EQ(-E2BIG, peer_add_socks_to(self->nl, p.id, HBX_PEER_ROLE_SERVER, fds, 2,
					    1, 5000, &more));
	ASSERT_EQ(0, peer_get(self->nl, p.id, &g));
	EXPECT_EQ(HBX_PEER_SOCKETS_MAX - 1, g.socks_up);
	/* The one that fits still goes in. */
	EXPECT_EQ(0, peer_add_socks_to(self->nl, p.id, HBX_PEER_ROLE_SERVER, fds, 1,
				       1, 5000, &more));
	EXPECT_EQ(0, peer_del(self->nl, p.id));
	for (i = 0; i <= HBX_PEER_SOCKETS_MAX; i++) {
		close(ends[i][0]);
		close(ends[i][1]);
	}
}

/* --- export names ---------------------------------------------------------- */

/* LAYER_EXPORT on, under name (NULL: none). */
static int layer_export_as(struct hbx_nl *nl, uint32_t index, const char *name)
{
	struct nl_msg *msg = hbx_nl_msg(nl, HBX_CMD_LAYER_EXPORT, 0);

	nla_put_u32(msg, HBX_A_LAYER_INDEX, index);
	nla_put_u8(msg, HBX_A_LAYER_EXPORTED, 1);
	if (name)
		nla_put_string(msg, HBX_A_LAYER_EXPORT_NAME, name);
	return hbx_nl_request(nl, msg, HBX_A_LAYER_MAX, NULL, NULL);
}

struct layer_named {
	uint32_t	index;
	uint8_t		digest[HBX_DIGEST_SIZE];
	char		name[HBX_EXPORT_NAME_MAX];	/* "" if none */
};

static int layer_named_cb(uint8_t cmd, struct nlattr **tb, void *arg)
{
	struct layer_named *l = arg;

	if (tb[HBX_A_LAYER_INDEX])
		l->index = nla_get_u32(tb[HBX_A_LAYER_INDEX]);
	if (tb[HBX_A_LAYER_DIGEST])
		memcpy(l->digest, nla_data(tb[HBX_A_LAYER_DIGEST]), HBX_DIGEST_SIZE);
	l->name[0] = '\0';
	if (tb[HBX_A_LAYER_EXPORT_NAME])
		snprintf(l->name, sizeof(l->name), "%s",
			 nla_get_string(tb[HBX_A_LAYER_EXPORT_NAME]));
	return 0;
}

static int layer_get_named(struct hbx_nl *nl, uint32_t index, struct layer_named *l)
{
	struct nl_msg *msg = hbx_nl_msg(nl, HBX_CMD_LAYER_GET, 0);

	nla_put_u32(msg, HBX_A_LAYER_INDEX, index);
	return hbx_nl_request(nl, msg, HBX_A_LAYER_MAX, layer_named_cb, l);
}

static int remote_add_by_name(struct _test_data_serve *self, uint32_t peer,
			      int cache, const char *name, struct layer_named *l)
{
	return remote_add_as(self, peer, cache, name, layer_named_cb, l);
}

/* What a GET_MANIFEST by name carries in place of a digest (the UAPI's key). */
static void export_name_key(const char *name, uint8_t key[HBX_DIGEST_SIZE])
{
	char buf[sizeof(HBX_EXPORT_NAME_KEY_PREFIX) + HBX_EXPORT_NAME_MAX];
	size_t n = sizeof(HBX_EXPORT_NAME_KEY_PREFIX);

	memcpy(buf, HBX_EXPORT_NAME_KEY_PREFIX, n);
	memcpy(buf + n, name, strlen(name));
	hbx_sha256(buf, n + strlen(name), key);
}

TEST_F(serve, a_layer_exported_under_a_name_is_added_remotely_by_it)
{
	struct peer_info srv, cli;
	struct layer_named l, shown;
	uint8_t buf[4096];
	char dev[32];
	int cache, fd;

	ASSERT_EQ(0, layer_export_as(self->nl, self->layer, "test/layer:1")) {
		TH_LOG("%s", hbx_nl_error(self->nl));
	}
	ASSERT_EQ(0, layer_get_named(self->nl, self->layer, &shown));
	EXPECT_STREQ("test/layer:1", shown.name);
	ASSERT_EQ(0, remote_peers(self, &srv, &cli));
	cache = open_cache(self, "named.cache", 0);
	ASSERT_EQ(0, remote_add_by_name(self, cli.id, cache, "test/layer:1", &l)) {
		TH_LOG("%s", hbx_nl_error(self->nl));
	}
	/* The layer is the one exported under the name: same digest, same bytes. */
	EXPECT_EQ(0, memcmp(l.digest, self->digest, HBX_DIGEST_SIZE));
	snprintf(dev, sizeof(dev), "/dev/hbx%u", l.index);
	fd = open(dev, O_RDONLY);
	ASSERT_LE(0, fd);
	ASSERT_EQ(sizeof(buf), pread(fd, buf, sizeof(buf), 5 * 4096));
	EXPECT_EQ(0, memcmp(buf, self->data + 5 * 4096, sizeof(buf)));
	close(fd);
	EXPECT_EQ(0, layer_del(self->nl, l.index));
	close(cache);
	/* Exported again without the name: the name is gone. */
	ASSERT_EQ(0, layer_export_as(self->nl, self->layer, NULL));
	ASSERT_EQ(0, layer_get_named(self->nl, self->layer, &shown));
	EXPECT_STREQ("", shown.name);
	cache = open_cache(self, "named2.cache", 0);
	EXPECT_EQ(-ENOENT, remote_add_by_name(self, cli.id, cache, "test/layer:1", &l));
	EXPECT_NE(NULL, strstr(hbx_nl_error(self->nl), "does not have"));
	close(cache);
	EXPECT_EQ(0, peer_del(self->nl, cli.id));
	EXPECT_EQ(0, peer_del(self->nl, srv.id));
}

/* A name is a question for a manifest only: chunks are asked for by digest. */
TEST_F(serve, a_name_key_gets_the_manifest_but_no_chunk)
{
	struct get_frame f;
	struct hbx_stoq_hdr h;
	struct peer_info p;
	uint8_t key[HBX_DIGEST_SIZE];
	void *data;

	ASSERT_EQ(0, layer_export_as(self->nl, self->layer, "by-key"));
	export_name_key("by-key", key);
	ASSERT_EQ(0, peer_add(self->nl, self->server, 1, &p));
	ASSERT_EQ(0, send_hello(self->client));
	ASSERT_EQ(0, recv_frame(self->client, &h, &data));
	free(data);
	f = get_frame_of(HBX_STOQ_GET_MANIFEST, key, 0);
	ASSERT_EQ(0, send_all(self->client, &f, sizeof(f)));
	ASSERT_EQ(HBX_STOQ_OK, recv_frame(self->client, &h, &data));
	ASSERT_EQ(self->mlen, be32toh(h.len));
	EXPECT_EQ(0, memcmp(data, self->mbuf, self->mlen));
	free(data);
	f = get_frame_of(HBX_STOQ_GET_CHUNK, key, 0);
	ASSERT_EQ(0, send_all(self->client, &f, sizeof(f)));
	EXPECT_EQ(HBX_STOQ_UNKNOWN_LAYER, recv_frame(self->client, &h, &data));
	free(data);
	EXPECT_EQ(0, peer_del(self->nl, p.id));
}

/* A second layer: the fixture's image under a manifest of bigger chunks. */
static uint32_t second_layer(struct __test_metadata *_metadata,
			     struct _test_data_serve *self)
{
	struct hbx_manifest_info info;
	char path[128];
	uint32_t index;
	struct nl_msg *msg;
	int ifd, mfd;

	snprintf(path, sizeof(path), "%s/manifest2", self->dir);
	ifd = open(self->image, O_RDONLY);
	mfd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (ifd < 0 || mfd < 0 || hbx_manifest_build(ifd, CHUNK_SHIFT + 1, mfd, &info))
		abort();
	msg = hbx_nl_msg(self->nl, HBX_CMD_LAYER_ADD, 0);
	nla_put_u32(msg, HBX_A_LAYER_IMAGE_FD, ifd);
	nla_put_u32(msg, HBX_A_LAYER_MANIFEST_FD, mfd);
	nla_put(msg, HBX_A_LAYER_DIGEST, HBX_DIGEST_SIZE, info.digest);
	if (hbx_nl_request(self->nl, msg, HBX_A_LAYER_MAX, layer_index_cb, &index))
		abort();
	close(ifd);
	close(mfd);
	return index;
}

TEST_F(serve, an_export_name_is_one_layers_in_a_namespace)
{
	uint32_t other = second_layer(_metadata, self);
	struct layer_named shown;

	ASSERT_EQ(0, layer_export_as(self->nl, self->layer, "taken"));
	EXPECT_EQ(-EEXIST, layer_export_as(self->nl, other, "taken"));
	EXPECT_NE(NULL, strstr(hbx_nl_error(self->nl), "another layer is exported under that name"));
	/* Refused means unchanged: the other is not exported, the first keeps it. */
	ASSERT_EQ(0, layer_get_named(self->nl, other, &shown));
	EXPECT_STREQ("", shown.name);
	ASSERT_EQ(0, layer_get_named(self->nl, self->layer, &shown));
	EXPECT_STREQ("taken", shown.name);
	/* The same layer may say its own name again; once it lets go, so may others. */
	EXPECT_EQ(0, layer_export_as(self->nl, self->layer, "taken"));
	EXPECT_EQ(0, layer_export(self->nl, self->layer, 0));
	EXPECT_EQ(0, layer_export_as(self->nl, other, "taken"));
	EXPECT_EQ(0, layer_del(self->nl, other));
}

TEST_F(serve, bad_export_names_are_refused_with_a_sentence)
{
	static const char *const bad[] = { "", "a b", "tab\there", "\x7f", "caf\xc3\xa9" };
	char longest[HBX_EXPORT_NAME_MAX + 1];
	struct nl_msg *msg;
	int cache, err;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		EXPECT_EQ(-EINVAL, layer_export_as(self->nl, self->layer, bad[i]));
		EXPECT_NE(NULL, strstr(hbx_nl_error(self->nl), "printable")) {
			TH_LOG("name %zu: %s", i, hbx_nl_error(self->nl));
		}
	}
	memset(longest, 'x', sizeof(longest) - 1);
	longest[HBX_EXPORT_NAME_MAX - 1] = '\0';	/* 127: the most */
	EXPECT_EQ(0, layer_export_as(self->nl, self->layer, longest));
	longest[HBX_EXPORT_NAME_MAX - 1] = 'x';
	longest[HBX_EXPORT_NAME_MAX] = '\0';		/* 128: the policy says no */
	err = layer_export_as(self->nl, self->layer, longest);
	EXPECT_TRUE(err == -EINVAL || err == -ERANGE) {	/* 6.1, 6.12 */
		TH_LOG("a name of 128 got %d", err);
	}
	/* A name with exported 0, on a local layer, or beside a digest. */
	msg = hbx_nl_msg(self->nl, HBX_CMD_LAYER_EXPORT, 0);
	nla_put_u32(msg, HBX_A_LAYER_INDEX, self->layer);
	nla_put_u8(msg, HBX_A_LAYER_EXPORTED, 0);
	nla_put_string(msg, HBX_A_LAYER_EXPORT_NAME, "x");
	EXPECT_EQ(-EINVAL, hbx_nl_request(self->nl, msg, HBX_A_LAYER_MAX, NULL, NULL));
	EXPECT_NE(NULL, strstr(hbx_nl_error(self->nl), "only given when exporting"));
	msg = hbx_nl_msg(self->nl, HBX_CMD_LAYER_ADD, 0);
	nla_put_u32(msg, HBX_A_LAYER_IMAGE_FD, 0);
	nla_put_u32(msg, HBX_A_LAYER_MANIFEST_FD, 0);
	nla_put_string(msg, HBX_A_LAYER_EXPORT_NAME, "x");
	EXPECT_EQ(-EINVAL, hbx_nl_request(self->nl, msg, HBX_A_LAYER_MAX, NULL, NULL));
	EXPECT_NE(NULL, strstr(hbx_nl_error(self->nl), "only a remote layer"));
	cache = open_cache(self, "both.cache", 0);
	msg = hbx_nl_msg(self->nl, HBX_CMD_LAYER_ADD, 0);
	nla_put_u32(msg, HBX_A_LAYER_PEER, 0);
	nla_put_u32(msg, HBX_A_LAYER_CACHE_FD, cache);
	nla_put(msg, HBX_A_LAYER_DIGEST, HBX_DIGEST_SIZE, self->digest);
	nla_put_string(msg, HBX_A_LAYER_EXPORT_NAME, "x");
	EXPECT_EQ(-EINVAL, hbx_nl_request(self->nl, msg, HBX_A_LAYER_MAX, NULL, NULL));
	EXPECT_NE(NULL, strstr(hbx_nl_error(self->nl), "not both"));
	close(cache);
}

static int hbx_devices(void)
{
	char cmd[] = "ls /sys/block | grep -c '^hbx'";
	FILE *f = popen(cmd, "r");
	int n = -1;

	if (f && fscanf(f, "%d", &n) != 1)
		n = -1;
	if (f)
		pclose(f);
	return n;
}

/*
 * A manifest asked for by name is not checked against a digest: what a
 * peer sends is parsed as any untrusted manifest.  Garbage attaches nothing,
 * says why, and leaves the socket in step.
 */
TEST_F(serve, a_peer_that_answers_a_name_with_garbage_attaches_nothing)
{
	struct timeval tv = { .tv_sec = 5 };
	uint8_t key[HBX_DIGEST_SIZE], junk[4096];
	struct hbx_stoq_get *get;
	struct peer_info cli, g;
	struct layer_named l;
	struct hbx_stoq_hdr h;
	int cache, devices = hbx_devices(), r, err;
	void *data;

	ASSERT_EQ(0, setsockopt(self->server, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)));
	ASSERT_EQ(0, peer_add_socks_to(self->nl, 0, HBX_PEER_ROLE_CLIENT, &self->client,
				       1, 1, 5000, &cli));
	ASSERT_EQ(0, recv_frame(self->server, &h, &data));	/* its hello */
	free(data);
	ASSERT_EQ(0, send_hello(self->server));
	cache = open_cache(self, "liar.cache", 0);
	struct nl_msg *msg = hbx_nl_msg(self->nl, HBX_CMD_LAYER_ADD, 0);

	nla_put_u32(msg, HBX_A_LAYER_PEER, cli.id);
	nla_put_u32(msg, HBX_A_LAYER_CACHE_FD, cache);
	nla_put_string(msg, HBX_A_LAYER_EXPORT_NAME, "liar");
	ASSERT_EQ(-EINPROGRESS, hbx_nl_request(self->nl, msg, HBX_A_LAYER_MAX, NULL, NULL));
	ASSERT_EQ(0, recv_frame(self->server, &h, &data));
	get = data;
	export_name_key("liar", key);
	EXPECT_EQ(HBX_STOQ_GET_MANIFEST, h.type);
	EXPECT_EQ(0, memcmp(get->digest, key, HBX_DIGEST_SIZE));
	r = open("/dev/urandom", O_RDONLY);
	ASSERT_EQ(sizeof(junk), read(r, junk, sizeof(junk)));
	close(r);
	ASSERT_EQ(0, send_frame(self->server, HBX_STOQ_REPLY, be64toh(h.id), junk, sizeof(junk)));
	free(data);
	err = remote_add_by_name(self, cli.id, cache, "liar", &l);
	TH_LOG("garbage for a name: %d, \"%s\"", err, hbx_nl_error(self->nl));
	EXPECT_GT(0, err);
	EXPECT_NE(-EINPROGRESS, err);
	EXPECT_NE(NULL, strstr(hbx_nl_error(self->nl), "manifest"));
	EXPECT_EQ(devices, hbx_devices());
	ASSERT_EQ(0, peer_get(self->nl, cli.id, &g));
	EXPECT_EQ(HBX_PEER_STATE_UP, g.state);
	EXPECT_EQ(0, g.protocol_errors);
	close(cache);
	EXPECT_EQ(0, peer_del(self->nl, cli.id));
}

TEST_HARNESS_MAIN
