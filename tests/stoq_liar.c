// SPDX-License-Identifier: GPL-2.0
/*
 * stoq_liar: a test helper, not part of hbx.  A plaintext STOQ server that
 * says hello and gives the right manifest, then misbehaves with chunks as
 * its mode says:
 *   lie    answers well-formed and on time, one byte of every chunk flipped:
 *          the peer a client must catch, count and route around (default)
 *   stall  never answers a chunk request: a peer gone silent
 *   mute   says hello, then never answers anything, manifests included
 *   drip   starts each chunk reply, then sends one byte every half second:
 *          a slowloris that never ends a frame
 *   deaf   after the manifest, reads nothing for $STOQ_LIAR_DEAF_SECONDS
 *          (default 10) with a tiny receive window, so the client's sends
 *          block and time out, mid-frame too; then reads every byte that
 *          came and checks that the stream is whole frames, but for a cut
 *          one at its end (the client gave the socket up): prints
 *          "deaf: N whole frames, then EOF|a cut frame at EOF|..." or
 *          "deaf: N whole frames, then a broken one at byte B"
 * and three that say in their hello that they take runs (GET_CHUNKS),
 * answer single chunks well, and print "run of N from I" for each run:
 *   runs-short   answers a run with its first chunk only, right bytes
 *   runs-ragged  answers a run with its first chunk and half the next,
 *                right bytes: not whole chunks
 *   runs-lie     answers a run whole, one byte of its last chunk flipped
 * One process per connection.
 *   stoq_liar [--mode MODE] ADDR:PORT IMAGE MANIFEST
 */
#include <endian.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <poll.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include "io.h"
#include "manifest.h"
#include "net.h"
#include "stoq_wire.h"

static void die(const char *what)
{
	fprintf(stderr, "stoq_liar: %s\n", what);
	exit(1);
}

enum mode { LIE, STALL, DRIP, MUTE, DEAF, RUNS_SHORT, RUNS_RAGGED, RUNS_LIE };
static enum mode mode = LIE;
static const char *const modes[] = {
	[LIE] = "lie", [STALL] = "stall", [DRIP] = "drip", [MUTE] = "mute",
	[DEAF] = "deaf", [RUNS_SHORT] = "runs-short", [RUNS_RAGGED] = "runs-ragged",
	[RUNS_LIE] = "runs-lie",
};

static int takes_runs(void)
{
	return mode == RUNS_SHORT || mode == RUNS_RAGGED || mode == RUNS_LIE;
}

/*
 * The bytes a runs mode sends for count chunks from chunk on (buf holds
 * them, n bytes, read whole from the image): how many, after its damage.
 */
static size_t runs_reply(uint8_t *buf, size_t n, uint32_t count, uint32_t chunk_size)
{
	size_t one = n < chunk_size ? n : chunk_size;

	switch (mode) {
	case RUNS_SHORT:
		return one;
	case RUNS_RAGGED:
		return count > 1 && n > one ? one + (n - one) / 2 : one;
	default: {	/* RUNS_LIE: the middle of the last chunk */
		size_t last = (n - 1) / chunk_size * chunk_size;

		buf[last + (n - last) / 2] ^= 0x5a;
		return n;
	}
	}
}

/*
 * read(2) of up to len bytes, waiting at most 3 s for the first: 0 at EOF,
 * -1 when nothing came (the client still holds the socket, sending nothing).
 */
static ssize_t read_or_idle(int fd, uint8_t *buf, size_t len)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	if (poll(&p, 1, 3000) <= 0)
		return -1;
	return read(fd, buf, len);
}

/*
 * Deaf: what the client sent while we did not read must be whole frames,
 * one after another; only the last may be cut, by the end of the stream.
 */
static void deaf(int fd)
{
	const char *env = getenv("STOQ_LIAR_DEAF_SECONDS");
	uint8_t buf[sizeof(struct hbx_stoq_hdr) + HBX_STOQ_REQUEST_MAX];
	unsigned long long at = 0, frames = 0;
	size_t have = 0, need = sizeof(struct hbx_stoq_hdr);
	const char *end = "the client went quiet";
	ssize_t n;

	sleep(env ? atoi(env) : 10);
	while ((n = read_or_idle(fd, buf + have, need - have)) != -1) {
		if (n == 0) {
			end = have ? "a cut frame at EOF" : "EOF";
			break;
		}
		have += n;
		at += n;
		if (have < need)
			continue;
		if (need == sizeof(struct hbx_stoq_hdr)) {
			const struct hbx_stoq_hdr *h = (const void *)buf;

			if (be32toh(h->magic) != HBX_STOQ_MAGIC ||
			    h->version != HBX_STOQ_VERSION ||
			    be32toh(h->len) > HBX_STOQ_REQUEST_MAX) {
				printf("deaf: %llu whole frames, then a broken one at byte %llu\n",
				       frames, at - have);
				fflush(stdout);
				return;
			}
			need += be32toh(h->len);
			if (have < need)
				continue;
		}
		frames++;
		have = 0;
		need = sizeof(struct hbx_stoq_hdr);
	}
	printf("deaf: %llu whole frames, then %s\n", frames, end);
	fflush(stdout);
}

/* A reply header that promises len bytes, then a byte every half second. */
static void drip(int fd, uint64_t id, const uint8_t *buf, uint32_t len)
{
	struct hbx_stoq_hdr h = {
		.magic = htobe32(HBX_STOQ_MAGIC), .version = HBX_STOQ_VERSION,
		.type = HBX_STOQ_REPLY, .len = htobe32(len), .id = htobe64(id),
	};
	uint32_t i;

	if (stoq_xfer(fd, &h, sizeof(h), 1))
		return;
	for (i = 0; i < len; i++) {
		usleep(500 * 1000);
		if (stoq_xfer(fd, (void *)(buf + i), 1, 1))
			return;
	}
}

static void serve(int fd, int image, const uint8_t *m, size_t mlen)
{
	const struct hbx_manifest_header *mh = (const void *)m;
	uint32_t chunk_size = 1U << mh->chunk_shift;
	uint32_t run_max = chunk_size > HBX_STOQ_RUN_BYTES ? 1 : HBX_STOQ_RUN_BYTES / chunk_size;
	uint8_t *buf = malloc((size_t)chunk_size * run_max);
	uint8_t payload[HBX_STOQ_REQUEST_MAX];
	struct hbx_stoq_hello hello = {
		.version = htobe32(HBX_STOQ_VERSION),
		.features = htobe64(takes_runs() ? HBX_STOQ_FEATURE_RUNS : 0),
	};
	struct hbx_stoq_hdr h;

	while (buf && !stoq_xfer(fd, &h, sizeof(h), 0)) {
		uint32_t len = be32toh(h.len), count = 1;
		struct hbx_stoq_get *get = (void *)payload;
		struct hbx_stoq_get_run *run = (void *)payload;
		uint64_t id = be64toh(h.id), chunk;
		ssize_t n;

		if (len > sizeof(payload) || stoq_xfer(fd, payload, len, 0))
			break;
		if (h.type == HBX_STOQ_HELLO) {
			if (stoq_send_frame(fd, HBX_STOQ_HELLO, 0, id, &hello, sizeof(hello)))
				break;
			continue;
		}
		if (mode == MUTE)
			continue;
		if (h.type == HBX_STOQ_GET_MANIFEST) {
			if (stoq_send_frame(fd, HBX_STOQ_REPLY, 0, id, m, mlen))
				break;
			if (mode == DEAF) {
				deaf(fd);
				break;
			}
			continue;
		}
		if (mode == STALL)
			continue;	/* read and ignored: silence */
		chunk = be64toh(get->chunk);
		if (h.type == HBX_STOQ_GET_CHUNKS) {
			count = be32toh(run->count);
			if (!takes_runs() || !count || count > run_max)
				break;	/* a client that should not have asked */
		}
		n = pread(image, buf, (size_t)chunk_size * count, chunk * chunk_size);
		if (n <= 0)
			break;
		if (mode == DRIP) {
			drip(fd, id, buf, n);
			break;
		}
		if (h.type == HBX_STOQ_GET_CHUNKS) {
			printf("run of %u from %llu\n", count, (unsigned long long)chunk);
			fflush(stdout);
			n = runs_reply(buf, n, count, chunk_size);
		}
		if (mode == LIE)
			buf[n / 2] ^= 0x5a;	/* the lie */
		if (stoq_send_frame(fd, HBX_STOQ_REPLY, 0, id, buf, n))
			break;
	}
	free(buf);
	close(fd);
}

int main(int argc, char **argv)
{
	char why[256];
	struct stat st;
	uint8_t *m;
	int lfd, image, mfd;

	if (argc == 6 && !strcmp(argv[1], "--mode")) {
		for (mode = 0; mode < sizeof(modes) / sizeof(modes[0]); mode++)
			if (!strcmp(argv[2], modes[mode]))
				break;
		if (mode == sizeof(modes) / sizeof(modes[0]))
			die("unknown mode (lie, stall, drip, mute, deaf, runs-short, runs-ragged or runs-lie)");
		argv += 2;
		argc -= 2;
	}
	if (argc != 4)
		die("usage: stoq_liar [--mode MODE] ADDR:PORT IMAGE MANIFEST");
	image = open(argv[2], O_RDONLY);
	mfd = open(argv[3], O_RDONLY);
	if (image < 0 || mfd < 0 || fstat(mfd, &st) || !(m = malloc(st.st_size)) ||
	    hbx_pread_full(mfd, m, st.st_size, 0))
		die("cannot read the image or the manifest");
	lfd = hbx_tcp_listen(argv[1], why, sizeof(why));
	if (lfd < 0)
		die(why);
	/*
	 * Deaf: the smallest window the kernel allows, inherited at accept,
	 * and an MSS that is no multiple of a request frame (64 bytes): the
	 * client's segments end mid-frame, so its send buffer fills up
	 * mid-frame and a timed-out send leaves half a frame behind.
	 */
	if (mode == DEAF &&
	    (setsockopt(lfd, SOL_SOCKET, SO_RCVBUF, &(int){ 1 }, sizeof(int)) ||
	     setsockopt(lfd, IPPROTO_TCP, TCP_MAXSEG, &(int){ 1000 }, sizeof(int))))
		die("SO_RCVBUF or TCP_MAXSEG");
	signal(SIGCHLD, SIG_IGN);	/* no zombies */
	printf("lying on %s\n", argv[1]);	/* tests wait for this line */
	fflush(stdout);
	for (;;) {
		int fd = accept(lfd, NULL, NULL);

		if (fd < 0)
			continue;
		if (fork() == 0) {
			/*
			 * Die with the listener: a test that kills it must not
			 * leave a child holding the socket (and, under ip netns
			 * exec, copies of the test's mounts).
			 */
			if (prctl(PR_SET_PDEATHSIG, SIGTERM) || getppid() == 1)
				_exit(1);
			close(lfd);
			serve(fd, image, m, st.st_size);
			_exit(0);
		}
		close(fd);
	}
}
