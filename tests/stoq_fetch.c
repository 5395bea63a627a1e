// SPDX-License-Identifier: GPL-2.0
/*
 * stoq_fetch: a test helper, not part of hbx.  Connects to a peer that
 * `hbx serve` handed to hyperbox.ko, runs the client side of the mutual-TLS
 * handshake (kTLS after it), then speaks STOQ: hello, the manifest (checked
 * against the digest), every chunk pipelined (each checked against the
 * manifest), and writes the image.
 *   stoq_fetch HOST:PORT --digest sha256:HEX -o IMAGE
 *              (--ca CA --cert C --key K --name SERVER [--cipher C] | --insecure)
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include "manifest.h"
#include "net.h"
#include "tls.h"
#include "stoq_wire.h"

static int die(const char *fmt, const char *arg)
{
	fprintf(stderr, "stoq_fetch: ");
	fprintf(stderr, fmt, arg);
	fputc('\n', stderr);
	exit(1);
}

static int connect_to(const char *spec)
{
	struct timeval tv = { .tv_sec = 20 };
	char why[256];
	int fd = hbx_tcp_connect(spec, why, sizeof(why));

	if (fd < 0)
		die("%s", why);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

static void xfer(int fd, void *buf, size_t len, int sending)
{
	if (stoq_xfer(fd, buf, len, sending))
		die("connection failed: %s", errno ? strerror(errno) : "closed by the peer");
}

static void send_frame(int fd, uint8_t type, uint64_t id, const void *p, uint32_t len)
{
	if (stoq_send_frame(fd, type, 0, id, p, len))
		die("connection failed: %s", errno ? strerror(errno) : "closed by the peer");
}

/* One reply; returns its payload (malloc'd) and fills *h. */
static void *recv_reply(int fd, struct hbx_stoq_hdr *h)
{
	uint32_t len;
	void *data;

	xfer(fd, h, sizeof(*h), 0);
	len = be32toh(h->len);
	if (be32toh(h->magic) != HBX_STOQ_MAGIC || len > (64U << 20))
		die("%s", "the server sent a bad frame");
	data = malloc(len ? len : 1);
	xfer(fd, data, len, 0);
	if (be16toh(h->status) != HBX_STOQ_OK)
		die("the server refused: status %s",
		    be16toh(h->status) == HBX_STOQ_UNKNOWN_LAYER ? "unknown layer" : "error");
	return data;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "digest", required_argument, NULL, 'd' },
		{ "ca", required_argument, NULL, 'a' },
		{ "cert", required_argument, NULL, 'c' },
		{ "key", required_argument, NULL, 'k' },
		{ "name", required_argument, NULL, 'n' },
		{ "cipher", required_argument, NULL, 'C' },
		{ "insecure", no_argument, NULL, 'I' },
		{ NULL, 0, NULL, 0 }
	};
	struct hbx_tls_config cfg = { .timeout_ms = 10000 };
	struct hbx_stoq_hello hello = { .version = htobe32(HBX_STOQ_VERSION) };
	struct hbx_manifest_header *mh;
	struct hbx_stoq_get get;
	struct hbx_stoq_hdr h;
	const char *out = NULL, *digest = NULL;
	uint8_t want[HBX_DIGEST_SIZE], got[HBX_DIGEST_SIZE], *m, *image;
	uint64_t i, chunks, size;
	int c, fd, ofd, insecure = 0;
	char why[256];

	while ((c = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
		switch (c) {
		case 'o': out = optarg; break;
		case 'd': digest = optarg; break;
		case 'a': cfg.ca_file = optarg; break;
		case 'c': cfg.cert_file = optarg; break;
		case 'k': cfg.key_file = optarg; break;
		case 'n': cfg.expected_name = optarg; break;
		case 'C': cfg.cipher = hbx_tls_cipher_parse(optarg); break;
		case 'I': insecure = 1; break;
		default: return 2;
		}
	}
	if (optind != argc - 1 || !out || !digest || hbx_digest_parse(digest, want))
		die("%s", "usage: stoq_fetch HOST:PORT --digest sha256:HEX -o IMAGE (TLS options | --insecure)");

	fd = connect_to(argv[optind]);
	if (!insecure && hbx_tls_client(fd, &cfg, NULL, why, sizeof(why)))
		die("handshake: %s", why);

	send_frame(fd, HBX_STOQ_HELLO, 1, &hello, sizeof(hello));
	free(recv_reply(fd, &h));
	memcpy(get.digest, want, sizeof(want));
	get.chunk = 0;
	send_frame(fd, HBX_STOQ_GET_MANIFEST, 2, &get, sizeof(get));
	m = recv_reply(fd, &h);
	hbx_sha256(m, be32toh(h.len), got);
	if (memcmp(got, want, sizeof(got)))
		die("%s", "the manifest does not match the digest");
	mh = (struct hbx_manifest_header *)m;
	if (le16toh(mh->version) != HBX_MANIFEST_VERSION)
		die("%s", le16toh(mh->version) == 1 ?
		    "manifest version 1: rebuild the layer with hbx layer build" :
		    "unknown manifest version");
	size = le64toh(mh->image_size);
	chunks = le64toh(mh->chunk_count);
	image = calloc(1, size);

	for (i = 0; i < chunks; i++) {
		get.chunk = htobe64(i);
		send_frame(fd, HBX_STOQ_GET_CHUNK, 100 + i, &get, sizeof(get));
	}
	for (i = 0; i < chunks; i++) {
		uint8_t *data = recv_reply(fd, &h);
		uint64_t idx = be64toh(h.id) - 100, off = idx << mh->chunk_shift;
		uint32_t len = be32toh(h.len);

		if (idx >= chunks || off + len > size)
			die("%s", "a reply for a chunk we did not ask for");
		if (!len || len % HBX_BLOCK_SIZE)
			die("%s", "a chunk that is not whole 4 KiB blocks");
		hbx_chunk_digest(data, len, got, NULL);	/* version 2: over its leaves */
		if (memcmp(got, m + sizeof(*mh) + idx * HBX_DIGEST_SIZE, sizeof(got)))
			die("%s", "a chunk does not match the manifest");
		memcpy(image + off, data, len);
		free(data);
	}
	ofd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (ofd < 0 || write(ofd, image, size) != (ssize_t)size)
		die("cannot write %s", out);
	close(ofd);
	printf("fetched %llu bytes in %llu chunks\n", (unsigned long long)size,
	       (unsigned long long)chunks);
	return 0;
}
