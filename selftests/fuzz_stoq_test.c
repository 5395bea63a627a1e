// SPDX-License-Identifier: GPL-2.0
/*
 * A STOQ fuzzer: a malicious peer on both sides of the kernel's transport.
 *
 * Server side: loopback TCP sockets handed to the kernel as server-role
 * peers (plaintext, insecure flag, 500 ms timeout), 32 connections at a
 * time, each a case: a byte stream of hellos, good and mutated requests
 * (bit flips, random types, lengths, ids, digests), garbage and half
 * frames, sent in pieces with short waits (a slowloris) or one long one
 * (past the frame deadline), ended by waiting, a FIN or a reset.  The
 * kernel parses requests in order and answers each before it reads the
 * next, so the test knows the exact bytes every case must get back, and
 * whether the socket must then stay open (every frame whole and valid) or
 * be closed (a bad frame at once, a frame cut short at its deadline).  A
 * case fails on a wrong byte, a missing reply, a good stream dropped, or a
 * socket neither answered nor closed in time.  TCG on a busy host stalls:
 * a deadline missed while the VM (or this loop) stalled is not judged, and
 * a case that failed on timing under load runs again alone, up to three
 * times: only a case that fails alone too counts.
 *
 * Client side: a fake server behind a client-role peer answers the
 * kernel's hello and requests with random and mutated replies (wrong ids,
 * other chunks' bytes, flipped bits, short, long and huge lengths, bad
 * statuses, truncated payloads, extra and duplicate frames, garbage,
 * resets, slow and endless drips, silence) while sixteen readers read eight
 * remote layers attached from it with O_DIRECT: every read returns the
 * right bytes or EIO, within the timeout plus a margin, never wrong bytes.
 * A socket the kernel drops is replaced at once (PEER_ADD to the same peer);
 * two are up at all times.  A case is one request answered.
 *
 * After each side, a good layer is served by the kernel to the kernel (a
 * client peer and a server peer on the two ends of one connection) and
 * reads back right; at the end no peer socket is held and the kernel log
 * has nothing that says the kernel is hurt.
 *
 *   fuzz_stoq_test [-n CASES] [-s SEED] [-o FIRST] [-S|-C] [-v]
 * CASES per side, default 10000 (about 35 + 60 s on 6.1 under TCG); -o FIRST
 * starts the server side at case FIRST (each case derives from the seed and
 * its number alone, so a failing server case replays with
 * -S -s SEED -o CASE -n 1; -v says more, -v -v logs every piece and answer);
 * -S / -C run one side.  The client side's fake server runs in a thread
 * whose timing varies, so a seed replays it only roughly.
 */
#include <endian.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <netinet/tcp.h>
#include "fuzz_common.h"

#define TIMEOUT_MS	500
#define MARGIN		4.0		/* seconds TCG may add to any bound */
/*
 * The client side stops at this bound even short of its count, so a run
 * can never hold up CI; the shortfall is reported (a SKIP line), and every
 * invariant is still checked on what ran.
 */
#define CLIENT_MAX_S	300.0

/*
 * poll() until wake (fz_now()'s clock) at the latest.  Never a negative
 * timeout: that is "forever" to poll(), and with no socket open nothing
 * would wake it; a loaded host can make wake pass before the call.  (It
 * did: the client side's fake server slept with both sockets closed, the
 * kernel had none, and every read got EIO, round after round.)
 */
static void poll_until(struct pollfd *pfd, int n, double wake)
{
	double left = wake - fz_now();

	poll(pfd, n, left > 0 ? (int)(left * 1000) + 1 : 0);
}

/* Cases the client side answered when it stopped at its bound, or 0. */
static unsigned long client_short;
/* When the client side began: its readers end a round at the bound too. */
static double client_t0;
#define SLOTS		32
#define SERVER_PEERS	SLOTS	/* one per slot: its last error is the case's */
#define READERS		16

static uint64_t seed;
static int verbose;
static char workdir[64];
static struct fz_layer la;		/* served by the kernel (server side) */
static struct fz_layer lb;		/* served by the fake server (client side) */
static uint32_t la_index;
static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;

#define LOG(...) do {						\
	pthread_mutex_lock(&out_lock);				\
	fz_diag(__VA_ARGS__);					\
	pthread_mutex_unlock(&out_lock);			\
} while (0)

/*
 * The VM stalls now and then (TCG on a busy host): a ticker notes every gap
 * of 150 ms or more, so that a deadline missed during one is not blamed on
 * the kernel.
 */
static double stalls[256][2];
static int nstalls;
static volatile int ticker_stop;

static void *ticker(void *arg)
{
	double last = fz_now();

	while (!ticker_stop) {
		double now;

		usleep(10000);
		now = fz_now();
		if (now - last > 0.15) {
			pthread_mutex_lock(&out_lock);
			stalls[nstalls % 256][0] = last;
			stalls[nstalls % 256][1] = now;
			nstalls++;
			pthread_mutex_unlock(&out_lock);
		}
		last = now;
	}
	return NULL;
}

/* Whether the VM stalled between from and to. */
static int stalled(double from, double to)
{
	int hit = 0;

	pthread_mutex_lock(&out_lock);
	for (int i = 0; i < nstalls && i < 256; i++)
		if (stalls[i][1] >= from && stalls[i][0] <= to)
			hit = 1;
	pthread_mutex_unlock(&out_lock);
	return hit;
}

static struct fz_rng case_rng(uint64_t side, uint64_t idx)
{
	struct fz_rng r = { seed ^ (side << 62) ^ (idx * 0xd1342543de82ef95ULL) };

	fz_next(&r);
	return r;
}

struct peer_res {
	uint32_t id;
};

static int peer_id_cb(uint8_t cmd, struct nlattr **tb, void *arg)
{
	if (tb[HBX_A_PEER_ID])
		((struct peer_res *)arg)->id = nla_get_u32(tb[HBX_A_PEER_ID]);
	return 0;
}

#define NO_PEER	UINT32_MAX	/* peer ids start at 0 */

/* PEER_ADD of one socket: a new peer (NO_PEER) or one more socket for id. */
static int peer_add(struct hbx_nl *nl, uint32_t role, int fd, uint32_t id,
		    uint32_t timeout_ms, uint32_t *out)
{
	struct nl_msg *msg = hbx_nl_msg(nl, HBX_CMD_PEER_ADD, 0);
	struct peer_res res = { NO_PEER };
	struct nlattr *nest;
	int err;

	if (id != NO_PEER)
		nla_put_u32(msg, HBX_A_PEER_ID, id);
	nla_put_u32(msg, HBX_A_PEER_ROLE, role);
	nla_put_string(msg, HBX_A_PEER_NAME, "fuzz");
	nla_put_u32(msg, HBX_A_PEER_TIMEOUT_MS, timeout_ms);
	nla_put_flag(msg, HBX_A_PEER_INSECURE);
	nest = nla_nest_start(msg, HBX_A_PEER_SOCKETS);
	nla_put_u32(msg, HBX_A_PEER_SOCKET_FD, fd);
	nla_nest_end(msg, nest);
	err = hbx_nl_request(nl, msg, HBX_A_PEER_MAX, peer_id_cb, &res);
	if (!err && out)
		*out = res.id != NO_PEER ? res.id : id;
	return err;
}

static int peer_show_cb(uint8_t cmd, struct nlattr **tb, void *arg)
{
	LOG("peer %u: role %u, %llu protocol errors, last error \"%s\"",
	    tb[HBX_A_PEER_ID] ? nla_get_u32(tb[HBX_A_PEER_ID]) : 0,
	    tb[HBX_A_PEER_ROLE] ? nla_get_u32(tb[HBX_A_PEER_ROLE]) : 0,
	    tb[HBX_A_PEER_PROTOCOL_ERRORS] ?
	    (unsigned long long)nla_get_u64(tb[HBX_A_PEER_PROTOCOL_ERRORS]) : 0ULL,
	    tb[HBX_A_PEER_LAST_ERROR] ? nla_get_string(tb[HBX_A_PEER_LAST_ERROR]) : "");
	return 0;
}

/* With -v: every peer's last error. */
static void peers_show(struct hbx_nl *nl)
{
	if (verbose)
		hbx_nl_request(nl, hbx_nl_msg(nl, HBX_CMD_PEER_GET, NLM_F_DUMP),
			       HBX_A_PEER_MAX, peer_show_cb, NULL);
}

/* A remote layer, asked again while its manifest is on the way. */
static int remote_add(struct hbx_nl *nl, uint32_t peer, int cache, const uint8_t *digest,
		      double within, uint32_t *index, int *failures)
{
	double end = fz_now() + within;
	int err;

	do {
		struct nl_msg *msg = hbx_nl_msg(nl, HBX_CMD_LAYER_ADD, 0);

		nla_put_u32(msg, HBX_A_LAYER_PEER, peer);
		nla_put_u32(msg, HBX_A_LAYER_CACHE_FD, cache);
		nla_put(msg, HBX_A_LAYER_DIGEST, HBX_DIGEST_SIZE, digest);
		err = hbx_nl_request(nl, msg, HBX_A_LAYER_MAX, fz_index_cb, index);
		if (!err)
			return 0;
		if (err != -EINPROGRESS && failures)
			(*failures)++;
		usleep(err == -EINPROGRESS ? 10000 : 50000);
	} while (fz_now() < end);
	return err;
}

/*
 * The kernel serving layer A to the kernel: a server peer and a client peer
 * on the two ends of one loopback connection, a remote layer read whole.
 */
static int good_peer_serves(struct hbx_nl *nl, const char *tag)
{
	uint32_t srv = NO_PEER, cli = NO_PEER, index;
	char path[128];
	int a, b, cache, ok = 0;

	snprintf(path, sizeof(path), "%s/good-%s.cache", workdir, tag);
	cache = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (cache < 0 || fz_tcp_pair(&a, &b))
		return 0;
	if (peer_add(nl, HBX_PEER_ROLE_SERVER, b, NO_PEER, 5000, &srv) ||
	    peer_add(nl, HBX_PEER_ROLE_CLIENT, a, NO_PEER, 5000, &cli)) {
		LOG("good peer: %s", hbx_nl_error(nl));
		goto out;
	}
	if (remote_add(nl, cli, cache, la.digest, 30, &index, NULL)) {
		LOG("good peer: remote layer: %s", hbx_nl_error(nl));
		goto out;
	}
	ok = !fz_read_compare(index, la.data, la.size);
	ok = !fz_layer_del(nl, index, 0) && ok;
out:
	if (cli != NO_PEER)
		fz_peer_del(nl, cli);
	if (srv != NO_PEER)
		fz_peer_del(nl, srv);
	close(a);
	close(b);
	close(cache);
	return ok;
}

/* ------------------------------------------------------------------ */
/* Server side: the test is the client, the kernel serves layer A.     */

#define HDR	((uint32_t)sizeof(struct hbx_stoq_hdr))
#define MAXP	24

struct buf {
	uint8_t	*p;
	size_t	len, cap;
};

static void buf_put(struct buf *b, const void *p, size_t len)
{
	if (b->len + len > b->cap) {
		b->cap = (b->len + len) * 2 + 256;
		b->p = realloc(b->p, b->cap);
	}
	memcpy(b->p + b->len, p, len);
	b->len += len;
}

static void put_hdr(struct buf *b, uint8_t type, uint16_t status, uint32_t len, uint64_t id)
{
	struct hbx_stoq_hdr h = {
		.magic = htobe32(HBX_STOQ_MAGIC), .version = HBX_STOQ_VERSION,
		.type = type, .status = htobe16(status), .len = htobe32(len),
		.id = htobe64(id),
	};

	buf_put(b, &h, sizeof(h));
}

enum { END_WAIT, END_FIN, END_RST };

struct scase {
	uint64_t	idx;
	int		fd;
	struct buf	stream, exp;
	size_t		cut[MAXP + 1];	/* piece i is stream[cut[i], cut[i+1]) */
	int		delay_ms[MAXP];	/* before piece i */
	double		sent_at[MAXP];
	int		npieces, piece, end, rst_after;
	size_t		min_len;	/* replies owed before a close is fine */
	int		expect_close;	/* the kernel must close */
	int		timeout_frame;	/* the close is a frame deadline */
	size_t		frame_start[64], frame_end[64];
	int		nframes;
	double		next_at, deadline, started, late;
	uint32_t	peer;
	size_t		got;
	int		closed;
};

/* Counters of the server side. */
static unsigned long s_answered, s_dropped, s_timed_out, s_fin, s_reset,
		     s_ambiguous, s_fail, s_reply_bytes, s_stalled;
static struct hbx_nl *s_nl;
#define RETRY_MAX	200
static uint64_t s_retry[RETRY_MAX];
static unsigned long s_nretry;
static int s_replaying;
static double s_peer_add_max;

/* The most chunks a run may ask for, with chunks of 1 << shift bytes. */
static uint64_t run_max(unsigned int shift)
{
	return HBX_STOQ_RUN_BYTES >> shift ?: 1;
}

/*
 * The kernel's parse of the stream (server.c, stoq.c): the replies it owes,
 * in order, and whether it must close.  Sets the case's expectations.
 */
static void oracle(struct scase *c)
{
	const uint8_t *s = c->stream.p;
	size_t pos = 0, n = c->stream.len;
	int hello = 0;

	c->exp.len = 0;
	c->expect_close = 1;
	c->timeout_frame = 0;
	c->nframes = 0;
	for (;;) {
		struct hbx_stoq_hdr h;
		uint32_t len, want;
		uint64_t id;

		if (pos == n) {
			c->expect_close = 0;	/* idle between frames: stays */
			break;
		}
		if (c->nframes < 64)
			c->frame_start[c->nframes] = pos;
		if (n - pos < HDR) {
			c->timeout_frame = 1;	/* half a header */
			c->frame_end[c->nframes++] = pos + HDR;
			break;
		}
		memcpy(&h, s + pos, HDR);
		len = be32toh(h.len);
		id = be64toh(h.id);
		want = h.type == HBX_STOQ_HELLO ? sizeof(struct hbx_stoq_hello) :
		       h.type == HBX_STOQ_GET_MANIFEST || h.type == HBX_STOQ_GET_CHUNK ?
		       sizeof(struct hbx_stoq_get) :
		       h.type == HBX_STOQ_GET_CHUNKS ? sizeof(struct hbx_stoq_get_run) : 0;
		if (be32toh(h.magic) != HBX_STOQ_MAGIC || h.version != HBX_STOQ_VERSION ||
		    !want || len > HBX_STOQ_REQUEST_MAX || len != want || h.reserved ||
		    h.status)
			break;				/* dropped on the header */
		c->frame_end[c->nframes++] = pos + HDR + len;
		if (n - pos < HDR + len) {
			c->timeout_frame = 1;	/* half a payload */
			break;
		}
		pos += HDR;
		if (!hello && h.type != HBX_STOQ_HELLO)
			break;
		if (h.type == HBX_STOQ_HELLO) {
			struct hbx_stoq_hello in, out = {
				.version = htobe32(HBX_STOQ_VERSION),
				.features = htobe64(HBX_STOQ_FEATURE_RUNS),
			};

			memcpy(&in, s + pos, sizeof(in));
			if (be32toh(in.version) != HBX_STOQ_VERSION)
				break;
			put_hdr(&c->exp, HBX_STOQ_HELLO, 0, sizeof(out), id);
			buf_put(&c->exp, &out, sizeof(out));
			hello = 1;
		} else {
			struct hbx_stoq_get_run g = { .count = htobe32(1) };
			uint64_t chunk, count;

			memcpy(&g, s + pos, len);
			chunk = be64toh(g.chunk);
			count = be32toh(g.count);
			if (!count || g.reserved)
				break;			/* a malformed run */
			if (memcmp(g.digest, la.digest, HBX_DIGEST_SIZE)) {
				put_hdr(&c->exp, HBX_STOQ_REPLY, HBX_STOQ_UNKNOWN_LAYER, 0, id);
			} else if (h.type == HBX_STOQ_GET_MANIFEST) {
				put_hdr(&c->exp, HBX_STOQ_REPLY, HBX_STOQ_OK, la.mlen, id);
				buf_put(&c->exp, la.mbuf, la.mlen);
			} else if (chunk >= la.chunks || count > la.chunks - chunk ||
				   count > run_max(la.shift)) {
				put_hdr(&c->exp, HBX_STOQ_REPLY, HBX_STOQ_OUT_OF_RANGE, 0, id);
			} else {
				size_t off = chunk << la.shift, l = count << la.shift;

				if (off + l > la.size)
					l = la.size - off;
				put_hdr(&c->exp, HBX_STOQ_REPLY, HBX_STOQ_OK, l, id);
				buf_put(&c->exp, la.data + off, l);
			}
		}
		pos += len;
	}
	c->min_len = c->exp.len;
}

/* One request frame, good or not, appended to the stream. */
static void gen_frame(struct fz_rng *r, struct buf *b, int kind)
{
	struct hbx_stoq_get g;
	struct hbx_stoq_hello hello = { .version = htobe32(HBX_STOQ_VERSION) };
	size_t start = b->len;
	uint64_t id = fz_pct(r, 70) ? fz_below(r, 1000) : fz_next(r);
	uint8_t junk[96];

	memcpy(g.digest, la.digest, HBX_DIGEST_SIZE);
	g.chunk = htobe64(fz_below(r, la.chunks));
	switch (kind) {
	case 0:		/* hello */
		if (fz_pct(r, 5))
			hello.version = htobe32(fz_below(r, 3));
		if (fz_pct(r, 10))
			fz_bytes(r, &hello.features, 8);
		put_hdr(b, HBX_STOQ_HELLO, 0, sizeof(hello), id);
		buf_put(b, &hello, sizeof(hello));
		break;
	case 1:		/* a good chunk request */
	case 2:		/* a manifest request */
	case 3:		/* past the end */
	case 4:		/* another layer */
		if (kind == 3)
			g.chunk = htobe64(fz_pct(r, 50) ? la.chunks + fz_below(r, 3) : fz_next(r));
		if (kind == 4) {
			if (fz_pct(r, 50))
				g.digest[fz_below(r, HBX_DIGEST_SIZE)] ^= 1 << fz_below(r, 8);
			else
				fz_bytes(r, g.digest, HBX_DIGEST_SIZE);
		}
		put_hdr(b, kind == 2 ? HBX_STOQ_GET_MANIFEST : HBX_STOQ_GET_CHUNK, 0,
			sizeof(g), id);
		buf_put(b, &g, sizeof(g));
		break;
	case 7: {	/* a run: mostly good, sometimes empty, too long or odd */
		struct hbx_stoq_get_run run = { .chunk = g.chunk };
		uint64_t max = run_max(la.shift);

		memcpy(run.digest, g.digest, HBX_DIGEST_SIZE);
		run.count = htobe32(fz_pct(r, 80) ? 1 + fz_below(r, max) : fz_below(r, max + 3));
		if (fz_pct(r, 5))
			run.reserved = (uint32_t)fz_next(r);
		if (fz_pct(r, 5))
			fz_bytes(r, run.digest, HBX_DIGEST_SIZE);
		put_hdr(b, HBX_STOQ_GET_CHUNKS, 0, sizeof(run), id);
		buf_put(b, &run, sizeof(run));
		break;
	}
	case 5: {	/* garbage */
		size_t n = 1 + fz_below(r, sizeof(junk));

		fz_bytes(r, junk, n);
		buf_put(b, junk, n);
		return;
	}
	default: {	/* a header of random fields, a payload of its length or not */
		uint32_t len = fz_pct(r, 50) ? fz_below(r, 80) : (uint32_t)fz_next(r);

		put_hdr(b, fz_below(r, 8), fz_pct(r, 70) ? 0 : fz_below(r, 6), len, id);
		if (len <= sizeof(junk) && fz_pct(r, 70)) {
			fz_bytes(r, junk, len);
			buf_put(b, junk, len);
		}
		return;
	}
	}
	/* Mutations of a well-formed frame: a field or a few bits. */
	if (fz_pct(r, 25)) {
		struct hbx_stoq_hdr *h = (void *)(b->p + start);

		switch (fz_below(r, 8)) {
		case 0:
			h->magic ^= htobe32(1U << fz_below(r, 32));
			break;
		case 1:
			h->version = fz_below(r, 4);
			break;
		case 2:
			h->type = fz_below(r, 6);
			break;
		case 3:
			h->status = htobe16(fz_below(r, 6));
			break;
		case 4:
			h->len = htobe32(fz_pct(r, 50) ? fz_below(r, 70) : (uint32_t)fz_next(r));
			break;
		case 5:
			h->reserved = (uint32_t)fz_next(r);
			break;
		case 6:
			h->id = fz_next(r);	/* any id is the client's to choose */
			break;
		default:
			for (int i = 1 + fz_below(r, 3); i; i--)
				b->p[start + fz_below(r, b->len - start)] ^= 1 << fz_below(r, 8);
		}
	}
}

static void case_make(struct scase *c, uint64_t idx)
{
	struct fz_rng r = case_rng(1, idx);
	int nframes, i, slow = fz_pct(&r, 12), late = fz_pct(&r, 3);
	size_t n;

	c->idx = idx;
	c->stream.len = 0;
	if (fz_pct(&r, 90))
		gen_frame(&r, &c->stream, 0);
	nframes = fz_below(&r, 7);
	for (i = 0; i < nframes; i++) {
		static const uint8_t kinds[] = { 1, 1, 1, 1, 2, 3, 4, 0, 5, 6, 1, 2, 7, 7 };

		gen_frame(&r, &c->stream, kinds[fz_below(&r, sizeof(kinds))]);
	}
	n = c->stream.len;
	/* Half a frame at the end, now and then. */
	if (n && fz_pct(&r, 10)) {
		struct buf tail = { 0 };

		gen_frame(&r, &tail, 1);
		buf_put(&c->stream, tail.p, 1 + fz_below(&r, tail.len - 1));
		free(tail.p);
		n = c->stream.len;
	}
	/* Pieces: cut points, sorted, with waits before them. */
	c->npieces = 1;
	c->cut[0] = 0;
	if (n > 1) {
		int cuts = slow ? 2 + fz_below(&r, 6) : fz_below(&r, 4);

		for (i = 0; i < cuts && c->npieces < MAXP; i++) {
			size_t at = 1 + fz_below(&r, n - 1), j;

			for (j = 1; j < (size_t)c->npieces && c->cut[j] < at; j++)
				;
			if (j < (size_t)c->npieces && c->cut[j] == at)
				continue;
			memmove(&c->cut[j + 1], &c->cut[j], (c->npieces - j) * sizeof(c->cut[0]));
			c->cut[j] = at;
			c->npieces++;
		}
	}
	c->cut[c->npieces] = n;
	for (i = 0; i < c->npieces; i++)
		c->delay_ms[i] = i && slow ? 5 + fz_below(&r, 25) : 0;
	if (late && c->npieces > 1)
		c->delay_ms[1 + fz_below(&r, c->npieces - 1)] = 750 + fz_below(&r, 200);
	c->end = fz_pct(&r, 75) ? END_WAIT : fz_pct(&r, 50) ? END_FIN : END_RST;
	c->rst_after = c->end == END_RST ? (int)fz_below(&r, c->npieces + 1) : c->npieces;
	oracle(c);
}

/* Waits inside frame f (not before its first byte): ms scripted or measured. */
static double frame_wait(const struct scase *c, int f, int measured)
{
	double w = 0;

	for (int i = 1; i < c->npieces; i++)
		if (c->cut[i] > c->frame_start[f] && c->cut[i] < c->frame_end[f]) {
			if (measured)
				w += (c->sent_at[i] - c->sent_at[i - 1]) * 1000;
			else
				w += c->delay_ms[i];
		}
	return w;
}

/*
 * Timing decides a frame cut by a long wait: a frame waited on past the
 * deadline ends the socket there.  Frames near the line either way are
 * not judged: only what came before them is owed.
 */
static void oracle_timing(struct scase *c, int measured)
{
	for (int f = 0; f < c->nframes && f < 64; f++) {
		double ws = frame_wait(c, f, 0), wm = measured ? frame_wait(c, f, 1) : 0;
		struct scase t;
		struct buf s = { 0 };

		/* Measured: only a frame meant to be fast that was not. */
		if (measured ? ws >= TIMEOUT_MS * 0.6 || wm < TIMEOUT_MS * 0.6 :
			       ws < TIMEOUT_MS * 0.6)
			continue;
		/* Replies owed: those of whole frames before f. */
		t = *c;
		buf_put(&s, c->stream.p, c->frame_start[f]);
		t.stream = s;
		t.exp = (struct buf){ 0 };
		oracle(&t);
		if (t.exp.len < c->min_len)
			c->min_len = t.exp.len;
		free(s.p);
		free(t.exp.p);
		if (!measured && ws > TIMEOUT_MS * 1.3) {
			c->expect_close = 1;
			c->timeout_frame = 1;
			c->exp.len = c->min_len;
		} else {
			s_ambiguous++;
			c->expect_close = -1;	/* either */
			c->timeout_frame = 1;
		}
		break;
	}
}

static int last_error_cb(uint8_t cmd, struct nlattr **tb, void *arg)
{
	if (tb[HBX_A_PEER_LAST_ERROR])
		snprintf(arg, 96, "%s", nla_get_string(tb[HBX_A_PEER_LAST_ERROR]));
	return 0;
}

static int case_fail(struct scase *c, const char *why)
{
	char last[96] = "";
	struct nl_msg *msg = hbx_nl_msg(s_nl, HBX_CMD_PEER_GET, 0);

	nla_put_u32(msg, HBX_A_PEER_ID, c->peer);
	hbx_nl_request(s_nl, msg, HBX_A_PEER_MAX, last_error_cb, last);
	/*
	 * A frame deadline spent by a stall of the VM, or by our own loop
	 * sending a piece late (a slow PEER_ADD for another slot): not the
	 * kernel's fault.
	 */
	if (c->piece < c->npieces && fz_now() - c->next_at > c->late)
		c->late = fz_now() - c->next_at;
	if (strstr(last, "in time") &&
	    (stalled(c->started, fz_now()) || c->late > TIMEOUT_MS / 1000.0 * 0.3)) {
		s_stalled++;
		return -1;
	}
	if (verbose) {
		char hex[200] = "";

		for (size_t i = 0; i < c->stream.len && i < 64; i++)
			snprintf(hex + 3 * i, 4, "%02x ", c->stream.p[i]);
		LOG("case %llu: %zu bytes in %d pieces, end %d after %d, close %d (timeout %d), "
		    "frames %d, owed %zu (min %zu): %s", (unsigned long long)c->idx,
		    c->stream.len, c->npieces, c->end, c->rst_after, c->expect_close,
		    c->timeout_frame, c->nframes, c->exp.len, c->min_len, hex);
		for (int i = 0; i < c->npieces; i++)
			LOG("  piece %d at %zu, wait %d ms", i, c->cut[i], c->delay_ms[i]);
	}
	if (!s_replaying && s_nretry < RETRY_MAX && !strstr(why, "bytes")) {
		LOG("server case %llu: %s under load (got %zu of %zu reply bytes in %.3f s, "
		    "kernel: \"%s\"): judged again alone", (unsigned long long)c->idx, why,
		    c->got, c->exp.len, fz_now() - c->started, last);
		s_retry[s_nretry++] = c->idx;	/* timing: judged again alone */
		return -1;
	}
	LOG("FAIL server case %llu: %s (got %zu of %zu reply bytes in %.3f s, pieces up to %.3f s "
	    "late, kernel: \"%s\"; reproduce: -S -s %llu -o %llu -n 1)", (unsigned long long)c->idx,
	    why, c->got, c->exp.len, fz_now() - c->started, c->late, last,
	    (unsigned long long)seed, (unsigned long long)c->idx);
	s_fail++;
	return -1;
}

static int case_start(struct hbx_nl *nl, struct scase *c, uint64_t idx, uint32_t *peers,
		      int slot)
{
	int a, b, err;
	uint32_t *peer = &peers[slot % SERVER_PEERS];
	double t;

	case_make(c, idx);
	oracle_timing(c, 0);
	if (fz_tcp_pair(&a, &b))
		return -1;
	t = fz_now();
	err = *peer != NO_PEER ? peer_add(nl, HBX_PEER_ROLE_SERVER, b, *peer, TIMEOUT_MS, NULL) :
				 -ENOENT;
	if (err) {
		if (*peer != NO_PEER)
			fz_peer_del(nl, *peer);
		err = peer_add(nl, HBX_PEER_ROLE_SERVER, b, NO_PEER, TIMEOUT_MS, peer);
	}
	t = fz_now() - t;
	if (t > s_peer_add_max)
		s_peer_add_max = t;
	close(b);	/* the kernel's now: its close is ours to see */
	if (err) {
		LOG("server case %llu: peer add: %s", (unsigned long long)idx, hbx_nl_error(nl));
		close(a);
		return -1;
	}
	fcntl(a, F_SETFL, O_NONBLOCK);
	c->fd = a;
	c->piece = 0;
	c->got = 0;
	c->closed = 0;
	c->started = fz_now();
	c->late = 0;
	c->next_at = c->started + c->delay_ms[0] / 1000.0;
	c->deadline = 0;
	c->peer = *peer;
	return 0;
}

/* Send what is due.  Returns 1 when the case ended here (a reset). */
static int case_send(struct scase *c, double now)
{
	while (c->piece < c->npieces && now >= c->next_at) {
		size_t off = c->cut[c->piece], len = c->cut[c->piece + 1] - off;

		if (c->end == END_RST && c->piece == c->rst_after)
			break;
		c->sent_at[c->piece] = now;
		if (now - c->next_at > c->late)
			c->late = now - c->next_at;	/* our loop was busy */
		/* Small pieces into an empty buffer: a short send is the kernel gone. */
		if (len) {
			ssize_t w = send(c->fd, c->stream.p + off, len, MSG_NOSIGNAL);

			if (verbose > 1)
				LOG("case %llu: piece %d: %zu bytes at %.3f: %zd",
				    (unsigned long long)c->idx, c->piece, len, now, w);
		}
		c->piece++;
		if (c->piece < c->npieces)
			c->next_at = now + c->delay_ms[c->piece] / 1000.0;
	}
	if (c->end == END_RST && c->piece == c->rst_after) {
		struct linger lg = { 1, 0 };

		setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		s_reset++;
		return 1;
	}
	if (c->piece == c->npieces && !c->deadline) {
		if (c->end == END_FIN) {
			shutdown(c->fd, SHUT_WR);
			c->expect_close = 1;	/* end of stream: always closed */
			s_fin++;
		}
		oracle_timing(c, 1);
		c->deadline = now + MARGIN + (c->timeout_frame ? TIMEOUT_MS / 1000.0 : 0);
	}
	return 0;
}

/* Read what came; 1 when the case is over (well or not). */
static int case_recv(struct scase *c)
{
	uint8_t rb[65536];

	for (;;) {
		ssize_t n = recv(c->fd, rb, sizeof(rb), 0);

		if (n > 0) {
			if (c->got + n > c->exp.len)
				return case_fail(c, "more reply bytes than owed"), 1;
			if (memcmp(rb, c->exp.p + c->got, n))
				return case_fail(c, "wrong reply bytes"), 1;
			c->got += n;
			s_reply_bytes += n;
			continue;
		}
		if (n < 0 && errno == EAGAIN)
			break;
		/* EOF or a reset: the kernel closed. */
		c->closed = 1;
		if (c->expect_close == 0 && c->got < c->exp.len)
			return case_fail(c, "good stream closed before its replies"), 1;
		if (c->expect_close == 0)
			return case_fail(c, "good stream closed"), 1;
		if (c->got < c->min_len)
			return case_fail(c, "closed before the replies owed"), 1;
		if (c->timeout_frame)
			s_timed_out++;
		else
			s_dropped++;
		return 1;
	}
	if (c->deadline && c->expect_close == 0 && c->got == c->exp.len) {
		s_answered++;
		return 1;	/* answered; the socket stays: ours to close */
	}
	return 0;
}

static void case_end(struct scase *c)
{
	if (c->fd >= 0) {
		if (!c->closed && fz_below(&(struct fz_rng){ c->idx }, 2)) {
			struct linger lg = { 1, 0 };

			setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		}
		close(c->fd);
	}
	c->fd = -1;
}

/* Run count cases (first, first+1, ... or those in list), slots at a time. */
static unsigned long run_cases(struct hbx_nl *nl, const uint64_t *list, uint64_t first,
			       unsigned long count, int slots)
{
	static struct scase cs[SLOTS];
	uint32_t peers[SERVER_PEERS];
	struct pollfd pfd[SLOTS];
	unsigned long started = 0, done = 0, setup_failed = 0;
	double t0 = fz_now();
	int i;

	for (i = 0; i < SLOTS; i++)
		cs[i].fd = -1;
	for (i = 0; i < SERVER_PEERS; i++)
		peers[i] = NO_PEER;
	while (done < count) {
		double now = fz_now(), wake = now + 0.05;
		int np = 0, map[SLOTS];

		for (i = 0; i < slots; i++) {
			struct scase *c = &cs[i];

			if (c->fd < 0 && started < count) {
				uint64_t idx = list ? list[started] : first + started;

				started++;
				if (case_start(nl, c, idx, peers, i)) {
					setup_failed++;
					done++;
					if (setup_failed > 20) {
						LOG("server side: too many setup failures");
						return setup_failed;
					}
					continue;
				}
				now = fz_now();
			}
			if (c->fd < 0)
				continue;
			if (case_send(c, now)) {
				case_end(c);
				done++;
				continue;
			}
			if (c->deadline && c->expect_close == 0 && c->got == c->exp.len) {
				s_answered++;	/* nothing (more) owed */
				case_end(c);
				done++;
				continue;
			}
			if (c->deadline && now > c->deadline && c->expect_close == -1 &&
			    c->got >= c->min_len) {
				case_end(c);	/* not judged: timing */
				done++;
				continue;
			}
			if (c->deadline && now > c->deadline) {
				case_fail(c, c->expect_close == 1 ?
					  "neither closed nor answered in time" : "replies did not come in time");
				case_end(c);
				done++;
				continue;
			}
			if (c->piece < c->npieces && c->next_at < wake)
				wake = c->next_at;
			pfd[np].fd = c->fd;
			pfd[np].events = POLLIN;
			map[np++] = i;
		}
		if (!np)
			continue;
		poll_until(pfd, np, wake);
		for (i = 0; i < np; i++) {
			struct scase *c = &cs[map[i]];

			if (pfd[i].revents && case_recv(c)) {
				case_end(c);
				done++;
			}
		}
		if (verbose && done % 1000 == 0)
			LOG("server: %lu cases, %.1f s", done, fz_now() - t0);
	}
	peers_show(nl);
	for (i = 0; i < SERVER_PEERS; i++)
		if (peers[i] != NO_PEER && fz_peer_del(nl, peers[i]))
			LOG("server peer %u: delete: %s", peers[i], hbx_nl_error(nl));
	return setup_failed;
}

static int server_side(struct hbx_nl *nl, uint64_t first, unsigned long count)
{
	unsigned long setup_failed, passed_alone = 0, n, i;
	uint64_t retry[RETRY_MAX];
	double t0 = fz_now();

	s_nl = nl;
	setup_failed = run_cases(nl, NULL, first, count, SLOTS);
	/*
	 * A case whose verdict hangs on timing and failed under load runs
	 * again alone: a kernel that fails it then too is wrong.
	 */
	n = s_nretry;
	memcpy(retry, s_retry, n * sizeof(retry[0]));
	s_replaying = 1;
	for (i = 0; i < n; i++) {
		unsigned long before = s_fail;
		int k;

		for (k = 0; k < 3; k++) {
			s_fail = before;
			setup_failed += run_cases(nl, &retry[i], 0, 1, 1);
			if (s_fail == before)
				break;
		}
		if (s_fail == before)
			passed_alone++;
	}
		LOG("server side: %lu cases in %.1f s: %lu answered, %lu closed on a bad frame, "
	    "%lu closed at a frame deadline, %lu ended by our FIN, %lu by our reset, "
	    "%lu not judged (timing), %lu cut by a VM stall or our lateness, %lu failed under "
	    "load and passed alone, %lu failed, %lu setup failures, %lu reply bytes checked; "
	    "longest PEER_ADD %.3f s", count, fz_now() - t0, s_answered, s_dropped, s_timed_out,
	    s_fin, s_reset, s_ambiguous, s_stalled, passed_alone, s_fail, setup_failed,
	    s_reply_bytes, s_peer_add_max);
	return s_fail || setup_failed ? -1 : 0;
}

/* ------------------------------------------------------------------ */
/* Client side: the kernel asks, a fake server answers layer B badly.  */

enum behaviour {
	B_GOOD, B_SLOW, B_STATUS, B_CORRUPT, B_OTHER_CHUNK, B_SHORT, B_LONG,
	B_HUGE, B_WRONG_ID, B_DUP, B_EXTRA, B_TRUNC_FIN, B_TRUNC_RST, B_RST,
	B_GARBAGE, B_BAD_HDR, B_DRIP, B_STALL, B_SWAP, B_NBEHAVIOURS
};

static const char *const b_names[] = {
	"good", "good in slow pieces", "bad status", "flipped bits", "another chunk's bytes",
	"short", "long", "huge length", "wrong id first", "duplicate", "extra frame first",
	"truncated then FIN", "truncated then reset", "reset", "garbage", "mutated header",
	"endless drip", "silence", "a pending request's bytes",
};

static const uint8_t b_weights[B_NBEHAVIOURS] = {
	[B_GOOD] = 60, [B_SLOW] = 8, [B_STATUS] = 16, [B_CORRUPT] = 16, [B_OTHER_CHUNK] = 10,
	[B_SHORT] = 10, [B_LONG] = 6, [B_HUGE] = 4, [B_WRONG_ID] = 12, [B_DUP] = 6,
	[B_EXTRA] = 8, [B_TRUNC_FIN] = 4, [B_TRUNC_RST] = 4, [B_RST] = 4, [B_GARBAGE] = 6,
	[B_BAD_HDR] = 8, [B_DRIP] = 1, [B_STALL] = 1, [B_SWAP] = 10,
};

/* Output of the fake server: pieces sent when due, then maybe a close. */
struct outq {
	struct buf	b;
	size_t		off;
	double		next_at;
	int		step, interval_ms, then;	/* then: 0, END_FIN, END_RST */
	struct outq	*next;
};

struct fsock {
	int		fd;
	struct buf	in;
	struct outq	*q;
	int		hello_done;
	int		runs;		/* its hello offered runs */
};

struct pending {
	uint64_t	id, chunk;
};

static struct {
	pthread_mutex_t	lock;
	struct fz_rng	r;
	uint32_t	peer;
	struct fsock	s[2];
	int		stop;
	unsigned long	cases, target, manifests, hellos, reconnects, behaviour[B_NBEHAVIOURS];
	unsigned long	runs;		/* of the cases, GET_CHUNKS */
	unsigned long	kernel_bad;	/* the kernel sent something wrong */
	struct pending	pend[64];
	int		npend;
	pid_t		tid;		/* the fake server's thread */
} fk = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* Where a thread of ours sits in the kernel: its wchan and stack. */
static void show_kernel_stack(pid_t tid)
{
	static const char *const files[] = { "wchan", "stat", "stack" };
	char path[64], line[256];
	unsigned int i;

	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		FILE *f;

		snprintf(path, sizeof(path), "/proc/self/task/%d/%s", tid, files[i]);
		f = fopen(path, "r");
		while (f && fgets(line, sizeof(line), f))
			LOG("  %s: %s", files[i], strtok(line, "\n") ?: "");
		if (f)
			fclose(f);
	}
}

/*
 * Join the fake server within secs; if it does not stop, say where it sits
 * (a thread stuck in the kernel is a finding, and must not hang the run).
 */
static int join_fake_server(pthread_t srv, int secs)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += secs;
	if (!pthread_timedjoin_np(srv, NULL, &ts))
		return 0;
	LOG("FAIL client side: the fake server did not stop within %d s; it sits in:", secs);
	show_kernel_stack(fk.tid);
	return -1;
}

/*
 * Several remote layers of B at once, each with its own cache and two
 * readers: a device fetches one chunk at a time, so more devices, more
 * requests in flight for the fake server to mistreat.
 */
#define LAYERS	8
#define READ_CHUNKS	8ULL	/* the most one read asks for */

struct rlayer {
	uint32_t	index;
	uint8_t		*cached;	/* chunks read right this round */
	unsigned long	ncached;
};

static struct {
	struct rlayer	l[LAYERS];
	unsigned long	ok, eio, other, wrong, slow, reads;
	double		max_read;
	int		round_over;
	pthread_mutex_t	lock;
} rd = { .lock = PTHREAD_MUTEX_INITIALIZER };

static void q_add(struct fsock *s, struct buf *b, double delay, int step, int interval_ms,
		  int then)
{
	struct outq *o = calloc(1, sizeof(*o)), **t = &s->q;

	o->b = *b;
	*b = (struct buf){ 0 };
	o->next_at = fz_now() + delay;
	o->step = step;
	o->interval_ms = interval_ms;
	o->then = then;
	while (*t)
		t = &(*t)->next;
	*t = o;
}

static void fsock_close(struct fsock *s, int rst)
{
	struct outq *o, *n;

	if (s->fd < 0)
		return;
	if (rst) {
		struct linger lg = { 1, 0 };

		setsockopt(s->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	}
	close(s->fd);
	s->fd = -1;
	s->in.len = 0;
	s->hello_done = 0;
	for (o = s->q; o; o = n) {
		n = o->next;
		free(o->b.p);
		free(o);
	}
	s->q = NULL;
}

/* Flush what is due on s; returns the next time anything is due. */
static double q_flush(struct fsock *s, double now)
{
	while (s->fd >= 0 && s->q) {
		struct outq *o = s->q;
		size_t n = o->b.len - o->off;
		ssize_t w;

		if (now < o->next_at)
			return o->next_at;
		if (o->step && (size_t)o->step < n)
			n = o->step;
		w = n ? send(s->fd, o->b.p + o->off, n, MSG_NOSIGNAL | MSG_DONTWAIT) : 0;
		if (w < 0 && errno == EAGAIN)
			return now + 0.002;
		if (w < 0) {
			fsock_close(s, 0);
			return now + 1;
		}
		o->off += w;
		if (o->off < o->b.len) {
			if (o->step)
				o->next_at = now + o->interval_ms / 1000.0;
			continue;
		}
		s->q = o->next;
		if (o->then) {
			int rst = o->then == END_RST;

			free(o->b.p);
			free(o);
			fsock_close(s, rst);
			return now + 1;
		}
		free(o->b.p);
		free(o);
	}
	return now + 1;
}

/* The bytes of count chunks from chunk on. */
static void chunk_bytes(uint64_t chunk, uint64_t count, const uint8_t **p, uint32_t *len)
{
	size_t off = chunk << lb.shift, l = count << lb.shift;

	if (off + l > lb.size)
		l = lb.size - off;
	*p = lb.data + off;
	*len = l;
}

/* The reply a request deserves, by behaviour. */
static void answer(struct fsock *s, uint8_t type, uint64_t id, uint64_t chunk,
		   uint64_t count)
{
	struct fz_rng *r = &fk.r;
	struct buf b = { 0 };
	const uint8_t *data;
	uint32_t len;
	int bh, w = 0, i;

	if (type == HBX_STOQ_GET_MANIFEST) {
		data = lb.mbuf;
		len = lb.mlen;
		fk.manifests++;
		/* The manifest mostly right: a layer must attach to be read. */
		bh = fz_pct(r, 80) ? B_GOOD : fz_below(r, B_STALL);
	} else {
		/* A run: whole, or cut short as a server that lacks the rest does. */
		chunk_bytes(chunk, fz_pct(r, 50) ? count : 1 + fz_below(r, count), &data, &len);
		for (i = 0; i < B_NBEHAVIOURS; i++)
			w += b_weights[i];
		w = fz_below(r, w);
		for (bh = 0; w >= b_weights[bh]; bh++)
			w -= b_weights[bh];
		fk.cases++;
	}
	fk.behaviour[bh]++;
	if (verbose > 1)
		LOG("fake server: %s %llu (id %llu): %s", type == HBX_STOQ_GET_MANIFEST ?
		    "manifest" : "chunk", (unsigned long long)chunk, (unsigned long long)id,
		    b_names[bh]);
	switch (bh) {
	case B_GOOD:
	case B_SLOW:
	case B_DRIP:
		put_hdr(&b, HBX_STOQ_REPLY, 0, len, id);
		buf_put(&b, data, len);
		if (bh == B_GOOD)
			q_add(s, &b, 0, 0, 0, 0);
		else if (bh == B_SLOW)
			q_add(s, &b, 0, 1 + fz_below(r, b.len / 3 + 1), 5 + fz_below(r, 20), 0);
		else
			q_add(s, &b, 0, 1, 150, 0);	/* never ends in time */
		break;
	case B_STATUS:
		i = fz_pct(r, 80) ? 1 + fz_below(r, 4) : (uint16_t)fz_next(r);
		len = fz_pct(r, 20) ? fz_below(r, 64) : 0;
		put_hdr(&b, HBX_STOQ_REPLY, i, len, id);
		for (uint32_t k = 0; k < len; k++)
			buf_put(&b, "x", 1);
		q_add(s, &b, 0, 0, 0, 0);
		break;
	case B_CORRUPT:
	case B_OTHER_CHUNK:
	case B_SWAP: {
		uint8_t *copy;

		if (bh == B_OTHER_CHUNK || (bh == B_SWAP && fk.npend)) {
			uint64_t other = bh == B_SWAP ? fk.pend[fz_below(r, fk.npend)].chunk :
				   fz_below(r, lb.chunks);

			if (other == chunk)
				other = (chunk + 1) % lb.chunks;
			chunk_bytes(other, 1, &data, &len);
		}
		put_hdr(&b, HBX_STOQ_REPLY, 0, len, id);
		copy = malloc(len);
		memcpy(copy, data, len);
		if (bh == B_CORRUPT)
			for (i = 1 + fz_below(r, 3); i; i--)
				copy[fz_below(r, len)] ^= 1 << fz_below(r, 8);
		buf_put(&b, copy, len);
		free(copy);
		q_add(s, &b, 0, 0, 0, 0);
		break;
	}
	case B_SHORT:
		len = fz_below(r, len);
		put_hdr(&b, HBX_STOQ_REPLY, 0, len, id);
		buf_put(&b, data, len);
		q_add(s, &b, 0, 0, 0, 0);
		break;
	case B_LONG: {
		uint32_t extra = 1 + fz_below(r, 4096);
		uint8_t *copy = calloc(1, len + extra);

		memcpy(copy, data, len);
		put_hdr(&b, HBX_STOQ_REPLY, 0, len + extra, id);
		buf_put(&b, copy, len + extra);
		free(copy);
		q_add(s, &b, 0, 0, 0, 0);
		break;
	}
	case B_HUGE:
		put_hdr(&b, HBX_STOQ_REPLY, 0, fz_pct(r, 50) ? 0xffffffffU :
			HBX_MANIFEST_MAX + 1 + fz_below(r, 1000), id);
		buf_put(&b, data, len);
		q_add(s, &b, 0, 0, 0, 0);
		break;
	case B_WRONG_ID:
	case B_DUP:
	case B_EXTRA:
		if (bh == B_WRONG_ID) {
			uint64_t wid = fz_pct(r, 50) ? id + 1 + fz_below(r, 3) :
				       fz_pct(r, 50) ? id | (1ULL << 40) : fz_next(r);

			put_hdr(&b, HBX_STOQ_REPLY, 0, len, wid);
			buf_put(&b, data, len);
		} else if (bh == B_EXTRA) {
			if (fz_pct(r, 30)) {
				struct hbx_stoq_hello h = { .version = htobe32(HBX_STOQ_VERSION) };

				put_hdr(&b, HBX_STOQ_HELLO, 0, sizeof(h), 0);
				buf_put(&b, &h, sizeof(h));
			} else {
				uint32_t l = fz_below(r, 9000);
				uint8_t *junk = malloc(l + 1);

				fz_bytes(r, junk, l);
				put_hdr(&b, HBX_STOQ_REPLY, fz_below(r, 5), l, fz_next(r));
				buf_put(&b, junk, l);
				free(junk);
			}
		}
		put_hdr(&b, HBX_STOQ_REPLY, 0, len, id);
		buf_put(&b, data, len);
		if (bh == B_DUP) {
			put_hdr(&b, HBX_STOQ_REPLY, 0, len, id);
			buf_put(&b, data, len);
		}
		q_add(s, &b, 0, 0, 0, 0);
		break;
	case B_TRUNC_FIN:
	case B_TRUNC_RST:
		put_hdr(&b, HBX_STOQ_REPLY, 0, len, id);
		buf_put(&b, data, fz_below(r, len));
		q_add(s, &b, fz_below(r, 50) / 1000.0, 0, 0,
		      bh == B_TRUNC_FIN ? END_FIN : END_RST);
		break;
	case B_RST:
		q_add(s, &b, 0, 0, 0, END_RST);
		break;
	case B_GARBAGE: {
		uint32_t l = 1 + fz_below(r, 200);
		uint8_t junk[200];

		fz_bytes(r, junk, l);
		buf_put(&b, junk, l);
		q_add(s, &b, 0, 0, 0, 0);
		break;
	}
	case B_BAD_HDR: {
		struct hbx_stoq_hdr *h;

		put_hdr(&b, HBX_STOQ_REPLY, 0, len, id);
		buf_put(&b, data, len);
		h = (void *)b.p;
		switch (fz_below(r, 5)) {
		case 0:
			h->magic ^= htobe32(1U << fz_below(r, 32));
			break;
		case 1:
			h->version = 2 + fz_below(r, 254);
			break;
		case 2:
			h->type = fz_pct(r, 50) ? fz_below(r, 4) : (uint8_t)fz_next(r);
			break;
		case 3:
			h->reserved = (uint32_t)fz_next(r) | 1;
			break;
		default:
			b.p[fz_below(r, HDR)] ^= 1 << fz_below(r, 8);
		}
		q_add(s, &b, 0, 0, 0, 0);
		break;
	}
	default:	/* silence */
		break;
	}
}

/* The kernel's hello on a new socket: mostly answered well. */
static void answer_hello(struct fsock *s, uint64_t id)
{
	struct fz_rng *r = &fk.r;
	struct hbx_stoq_hello h = { .version = htobe32(HBX_STOQ_VERSION) };
	struct buf b = { 0 };
	uint32_t extra = 0;
	int i;

	fk.hellos++;
	/* Half the servers take runs: the kernel must ask them only of those. */
	s->runs = fz_pct(r, 50);
	if (s->runs)
		h.features = htobe64(HBX_STOQ_FEATURE_RUNS);
	i = fz_below(r, 20);
	if (verbose > 1)
		LOG("fake server: hello on fd %d: answer %d", s->fd, i);
	switch (i) {
	case 0:
		h.version = htobe32(2 + fz_below(r, 10));
		break;
	case 1:	/* a reply before the hello */
		put_hdr(&b, HBX_STOQ_REPLY, 0, 0, 1);
		break;
	case 2:	/* a short hello */
		put_hdr(&b, HBX_STOQ_HELLO, 0, fz_below(r, sizeof(h)), id);
		buf_put(&b, &h, be32toh(((struct hbx_stoq_hdr *)b.p)->len));
		q_add(s, &b, 0, 0, 0, 0);
		return;
	case 3:
		extra = 1 + fz_below(r, 100);	/* a longer hello: the rest is dropped */
		break;
	}
	put_hdr(&b, HBX_STOQ_HELLO, 0, sizeof(h) + extra, id);
	buf_put(&b, &h, sizeof(h));
	while (extra--)
		buf_put(&b, "\0", 1);
	q_add(s, &b, 0, 0, 0, 0);
	s->hello_done = 1;
}

/* Frames from the kernel, parsed and answered; -1 if the kernel sent nonsense. */
static int fake_input(struct fsock *s)
{
	while (s->in.len >= HDR) {
		struct hbx_stoq_hdr h;
		uint32_t len;

		memcpy(&h, s->in.p, HDR);
		len = be32toh(h.len);
		if (be32toh(h.magic) != HBX_STOQ_MAGIC || h.version != HBX_STOQ_VERSION ||
		    h.status || h.reserved || len > HBX_STOQ_REQUEST_MAX ||
		    (h.type != HBX_STOQ_HELLO && h.type != HBX_STOQ_GET_MANIFEST &&
		     h.type != HBX_STOQ_GET_CHUNK && h.type != HBX_STOQ_GET_CHUNKS)) {
			LOG("FAIL client side: the kernel sent a bad frame (type %u, len %u)",
			    h.type, len);
			return -1;
		}
		if (s->in.len < HDR + len)
			return 0;
		if (h.type == HBX_STOQ_HELLO) {
			answer_hello(s, be64toh(h.id));
		} else {
			struct hbx_stoq_get_run g = { .count = htobe32(1) };
			size_t want = h.type == HBX_STOQ_GET_CHUNKS ? sizeof(g) :
				      sizeof(struct hbx_stoq_get);
			uint64_t chunk, count;

			if (len != want) {
				LOG("FAIL client side: the kernel sent a request of the wrong length");
				return -1;
			}
			memcpy(&g, s->in.p + HDR, len);
			chunk = be64toh(g.chunk);
			count = be32toh(g.count);
			if (h.type == HBX_STOQ_GET_CHUNKS && (!s->runs || count < 2 ||
			    count > run_max(lb.shift) || g.reserved)) {
				LOG("FAIL client side: the kernel asked a run it should not (runs offered: %d, count %llu)",
				    s->runs, (unsigned long long)count);
				return -1;
			}
			if (memcmp(g.digest, lb.digest, HBX_DIGEST_SIZE) ||
			    (h.type != HBX_STOQ_GET_MANIFEST &&
			     (chunk >= lb.chunks || count > lb.chunks - chunk))) {
				LOG("FAIL client side: the kernel asked for what it cannot want");
				return -1;
			}
			if (fk.npend == 64)
				memmove(fk.pend, fk.pend + 1, 63 * sizeof(fk.pend[0])), fk.npend--;
			fk.pend[fk.npend++] = (struct pending){ be64toh(h.id), chunk };
			fk.runs += h.type == HBX_STOQ_GET_CHUNKS;
			answer(s, h.type, be64toh(h.id), chunk, count);
		}
		memmove(s->in.p, s->in.p + HDR + len, s->in.len - HDR - len);
		s->in.len -= HDR + len;
	}
	return 0;
}

static int fake_connect(struct hbx_nl *nl, struct fsock *s)
{
	int a, b, err;

	if (fz_tcp_pair(&a, &b))
		return -1;
	err = peer_add(nl, HBX_PEER_ROLE_CLIENT, a, fk.peer, TIMEOUT_MS, &fk.peer);
	close(a);
	if (err) {
		LOG("client side: peer add: %s", hbx_nl_error(nl));
		close(b);
		return -1;
	}
	fcntl(b, F_SETFL, O_NONBLOCK);
	s->fd = b;
	fk.reconnects++;
	return 0;
}

static void *fake_server(void *arg)
{
	struct hbx_nl *nl = arg;
	uint8_t rb[65536];
	int fails = 0;

	fk.tid = gettid();

	double report = fz_now() + 5;

	while (!__atomic_load_n(&fk.stop, __ATOMIC_ACQUIRE)) {
		struct pollfd pfd[2];
		double now = fz_now(), wake = now + 0.05;
		int n = 0, i;

		if (verbose && now > report) {
			LOG("fake server: %lu cases, %lu hellos, %lu manifests, %lu sockets, "
			    "%lu reads (%lu EIO), sockets %d %d", fk.cases, fk.hellos, fk.manifests,
			    fk.reconnects, rd.reads, rd.eio, fk.s[0].fd, fk.s[1].fd);
			peers_show(nl);
			report = now + 5;
		}

		pthread_mutex_lock(&fk.lock);
		/*
		 * Two sockets up at all times: when one is dropped, requests
		 * in flight on it go out again on the other at once.
		 */
		for (i = 0; i < 2; i++)
			if (fk.s[i].fd < 0 && fake_connect(nl, &fk.s[i]) && ++fails > 50) {
				LOG("FAIL client side: no socket could be handed in");
				fk.kernel_bad++;
				fk.stop = 1;
			}
		for (i = 0; i < 2; i++) {
			double t = q_flush(&fk.s[i], now);

			if (t < wake)
				wake = t;
			if (fk.s[i].fd >= 0) {
				pfd[n].fd = fk.s[i].fd;
				pfd[n++].events = POLLIN;
			}
		}
		pthread_mutex_unlock(&fk.lock);
		poll_until(pfd, n, wake);
		pthread_mutex_lock(&fk.lock);
		for (i = 0; i < n; i++) {
			struct fsock *s = fk.s[0].fd == pfd[i].fd ? &fk.s[0] : &fk.s[1];
			ssize_t got;

			if (!pfd[i].revents || s->fd != pfd[i].fd)
				continue;
			got = recv(s->fd, rb, sizeof(rb), 0);
			if (got > 0) {
				buf_put(&s->in, rb, got);
				if (fake_input(s)) {
					fk.kernel_bad++;
					fsock_close(s, 1);
				}
			} else if (got == 0 || errno != EAGAIN) {
				fsock_close(s, 0);	/* the kernel dropped it */
			}
		}
		pthread_mutex_unlock(&fk.lock);
	}
	pthread_mutex_lock(&fk.lock);
	fsock_close(&fk.s[0], 0);
	fsock_close(&fk.s[1], 0);
	pthread_mutex_unlock(&fk.lock);
	return NULL;
}

static void *reader(void *arg)
{
	uintptr_t n = (uintptr_t)arg;
	struct rlayer *l = &rd.l[n % LAYERS];
	struct fz_rng r = { seed ^ n * 0x9e3779b97f4a7c15ULL };
	char path[32];
	uint8_t *buf;
	int fd;

	snprintf(path, sizeof(path), "/dev/hbx%u", l->index);
	fd = open(path, O_RDONLY | O_DIRECT | O_CLOEXEC);
	/* Reads of up to READ_CHUNKS chunks: several missing ones go as a run. */
	if (fd < 0 || posix_memalign((void **)&buf, 4096, READ_CHUNKS << lb.shift)) {
		LOG("reader: open %s: %s", path, strerror(errno));
		pthread_mutex_lock(&rd.lock);
		rd.other++;
		rd.round_over = 1;
		pthread_mutex_unlock(&rd.lock);
		return NULL;
	}
	while (!__atomic_load_n(&rd.round_over, __ATOMIC_ACQUIRE)) {
		uint64_t c = fz_below(&r, lb.chunks), n, k;
		const uint8_t *want;
		uint32_t len;
		double t;
		ssize_t got;
		int err;

		for (int tries = 0; tries < 8 && l->cached[c]; tries++)
			c = fz_below(&r, lb.chunks);
		n = 1 + fz_below(&r, READ_CHUNKS);
		if (n > lb.chunks - c)
			n = lb.chunks - c;
		chunk_bytes(c, n, &want, &len);
		t = fz_now();
		got = pread(fd, buf, len, c << lb.shift);
		err = errno;
		t = fz_now() - t;
		pthread_mutex_lock(&rd.lock);
		rd.reads++;
		if (t > rd.max_read)
			rd.max_read = t;
		/*
		 * Each chunk may cost a wait for another reader's request and
		 * one request of our own (a run cut short leaves the rest to
		 * another), each within the timeout.
		 */
		if (t > 2 * n * TIMEOUT_MS / 1000.0 + MARGIN &&
		    !stalled(fz_now() - t, fz_now())) {
			rd.slow++;
			LOG("FAIL client side: a read of chunks %llu+%llu of %s took %.1f s",
			    (unsigned long long)c, (unsigned long long)n, path, t);
		}
		if (got == (ssize_t)len && !memcmp(buf, want, len)) {
			rd.ok++;
			for (k = c; k < c + n; k++)
				if (!l->cached[k]) {
					l->cached[k] = 1;
					l->ncached++;
				}
		} else if (got == (ssize_t)len) {
			rd.wrong++;
			LOG("FAIL client side: chunks %llu+%llu of %s read back WRONG BYTES",
			    (unsigned long long)c, (unsigned long long)n, path);
		} else if (got < 0 && err == EIO) {
			rd.eio++;
		} else {
			rd.other++;
			LOG("FAIL client side: a read of chunk %llu of %s: %zd, %s",
			    (unsigned long long)c, path, got, got < 0 ? strerror(err) : "short");
		}
		/* A round whose chunks never come (every read EIO) ends at the bound. */
		if (l->ncached >= lb.chunks * 3 / 4 || __atomic_load_n(&fk.stop, __ATOMIC_RELAXED) ||
		    __atomic_load_n(&fk.cases, __ATOMIC_RELAXED) >= fk.target ||
		    fz_now() - client_t0 >= CLIENT_MAX_S)
			rd.round_over = 1;
		pthread_mutex_unlock(&rd.lock);
	}
	free(buf);
	close(fd);
	return NULL;
}

static int client_side(struct hbx_nl *nl, unsigned long count)
{
	struct hbx_nl *fnl;
	pthread_t srv, th[READERS];
	double t0 = fz_now();
	int rounds = 0, attach_failures = 0, manifest_errors = 0, err = 0, stuck, i, k;
	uint32_t peer;

	client_t0 = t0;

	if (hbx_nl_open(&fnl))
		return -1;
	fk.r.s = seed ^ 0x5eed;
	fk.target = count;
	fk.s[0].fd = fk.s[1].fd = -1;
	fk.peer = NO_PEER;
	for (k = 0; k < LAYERS; k++)
		rd.l[k].cached = calloc(lb.chunks, 1);
	/* The peer exists before anything is attached from it. */
	if (fake_connect(fnl, &fk.s[0])) {
		hbx_nl_close(fnl);
		return -1;
	}
	peer = fk.peer;
	pthread_create(&srv, NULL, fake_server, fnl);

	while (__atomic_load_n(&fk.cases, __ATOMIC_RELAXED) < count && !fk.kernel_bad &&
	       !attach_failures && !err && fz_now() - t0 < CLIENT_MAX_S) {
		for (k = 0; k < LAYERS; k++) {
			struct rlayer *l = &rd.l[k];
			char path[128];
			int cache;

			snprintf(path, sizeof(path), "%s/b-%d-%d.cache", workdir, rounds, k);
			cache = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
			if (remote_add(nl, peer, cache, lb.digest, 60, &l->index, &manifest_errors)) {
				LOG("FAIL client side: the remote layer did not attach in 60 s: %s",
				    hbx_nl_error(nl));
				attach_failures++;
				close(cache);
				break;
			}
			close(cache);
			unlink(path);
			memset(l->cached, 0, lb.chunks);
			l->ncached = 0;
		}
		rd.round_over = 0;
		for (i = 0; i < READERS && !attach_failures; i++)
			pthread_create(&th[i], NULL, reader, (void *)(uintptr_t)(rounds * READERS + i));
		for (i = 0; i < READERS && !attach_failures; i++)
			pthread_join(th[i], NULL);
		for (i = 0; i < k; i++)
			if (fz_layer_del(nl, rd.l[i].index, 1)) {
				LOG("FAIL client side: layer %u: delete: %s", rd.l[i].index,
				    hbx_nl_error(nl));
				err = -1;
			}
		rounds++;
		if (verbose)
			LOG("client: round %d, %lu cases, %.1f s", rounds, fk.cases, fz_now() - t0);
	}
	if (fz_now() - t0 >= CLIENT_MAX_S) {
		/* What the kernel's peer looked like when time ran out. */
		LOG("client side at its bound: %lu cases, %lu hellos, %lu manifests, "
		    "%lu sockets handed in, %lu reads (%lu EIO), sockets %d %d",
		    fk.cases, fk.hellos, fk.manifests, fk.reconnects, rd.reads, rd.eio,
		    fk.s[0].fd, fk.s[1].fd);
		hbx_nl_request(nl, hbx_nl_msg(nl, HBX_CMD_PEER_GET, NLM_F_DUMP),
			       HBX_A_PEER_MAX, peer_show_cb, NULL);
	}
	__atomic_store_n(&fk.stop, 1, __ATOMIC_RELEASE);
	stuck = join_fake_server(srv, 30);
	if (stuck) {
		fk.kernel_bad++;
		err = -1;
	}
	if (fz_peer_del(nl, peer))
		LOG("client peer %u: delete: %s", peer, hbx_nl_error(nl));
	if (stuck && !join_fake_server(srv, 10))
		stuck = 0;	/* the delete let it go */
	if (!stuck)		/* a stuck thread may still use its socket */
		hbx_nl_close(fnl);

	LOG("client side: %lu cases (chunk requests answered) in %.1f s, %d rounds of %d layers; "
	    "%lu reads: %lu right, %lu EIO, %lu wrong bytes, %lu other, %lu too slow (longest %.2f s)",
	    fk.cases, fz_now() - t0, rounds, LAYERS, rd.reads, rd.ok, rd.eio, rd.wrong, rd.other,
	    rd.slow, rd.max_read);
	LOG("client side: %lu hellos, %lu manifest requests (%d attach attempts failed), "
	    "%lu sockets handed in, %lu runs asked", fk.hellos, fk.manifests, manifest_errors,
	    fk.reconnects, fk.runs);
	for (i = 0; i < B_NBEHAVIOURS; i++)
		LOG("  %-6lu %s", fk.behaviour[i], b_names[i]);
	for (k = 0; k < LAYERS; k++)
		free(rd.l[k].cached);
	/* Half the servers offer runs and reads span chunks: some must come. */
	if (!fk.runs)
		LOG("FAIL client side: the kernel asked no run of the servers that offered them");
	if (rd.wrong || rd.other || rd.slow || fk.kernel_bad || attach_failures || err ||
	    !rd.ok || !fk.runs)
		return -1;
	client_short = fk.cases < count ? fk.cases : 0;
	return 0;
}

static void watchdog(int sig)
{
	static const char msg[] = "not ok 99 stoq_fuzz.hung (watchdog)\n";

	if (write(1, msg, sizeof(msg) - 1) < 0)
		_exit(3);
	_exit(2);
}

int main(int argc, char **argv)
{
	unsigned long count = 10000;
	uint64_t first = 0;
	int do_server = 1, do_client = 1, c, kmsg, socks0;
	struct fz_ids layers0, peers0;
	struct hbx_nl *nl;
	char cmd[128];

	seed = fz_default_seed();
	while ((c = getopt(argc, argv, "n:s:o:SCv")) != -1) {
		switch (c) {
		case 'n':
			count = strtoul(optarg, NULL, 0);
			break;
		case 's':
			seed = strtoull(optarg, NULL, 0);
			break;
		case 'o':
			first = strtoull(optarg, NULL, 0);
			break;
		case 'S':
			do_client = 0;
			break;
		case 'C':
			do_server = 0;
			break;
		case 'v':
			verbose++;
			break;
		default:
			fprintf(stderr, "usage: fuzz_stoq_test [-n CASES] [-s SEED] [-o FIRST] [-S|-C] [-v]\n");
			return 2;
		}
	}
	fz_out = stdout;
	signal(SIGPIPE, SIG_IGN);
	signal(SIGALRM, watchdog);
	printf("TAP version 13\n");
	fz_diag("stoq fuzz: seed %llu, %lu cases per side (reproduce: %s -s %llu -n %lu)",
		(unsigned long long)seed, count, argv[0], (unsigned long long)seed, count);
	kmsg = fz_kmsg_open();
	strcpy(workdir, "/tmp/hbx-stoq-fuzz.XXXXXX");
	if (!mkdtemp(workdir) || hbx_nl_open(&nl) ||
	    fz_layer_make(&la, workdir, "a", 12 * 8192, 13, seed) ||
	    fz_layer_make(&lb, workdir, "b", 256 * 4096, 12, seed + 1) ||
	    fz_layer_add(nl, &la, &la_index) || fz_layer_export(nl, la_index, 1)) {
		fz_tap(0, "stoq_fuzz.setup");
		return fz_tap_end();
	}
	fz_dump(nl, HBX_CMD_LAYER_GET, &layers0);
	fz_dump(nl, HBX_CMD_PEER_GET, &peers0);
	socks0 = fz_peer_sockets(nl);
	alarm(1500);
	{
		pthread_t t;

		pthread_create(&t, NULL, ticker, NULL);
		pthread_detach(t);
	}

	if (do_server) {
		fz_tap(!server_side(nl, first, count), "stoq_fuzz.server_side_answers_or_closes_every_case");
		fz_tap(good_peer_serves(nl, "server"), "stoq_fuzz.after_server_side_a_good_peer_is_served");
	}
	if (do_client) {
		fz_tap(!client_side(nl, count), "stoq_fuzz.client_side_reads_right_bytes_or_eio");
		if (client_short)
			fz_diag("client side stopped at its %.0f s bound after %lu of %lu cases "
				"(reported as a SKIP: see the log)", CLIENT_MAX_S, client_short, count);
		fprintf(fz_out, "ok %d stoq_fuzz.client_side_ran_its_count%s\n", ++fz_tap_n,
			client_short ? " # SKIP stopped at the time bound" : "");
		fz_tap(good_peer_serves(nl, "client"), "stoq_fuzz.after_client_side_a_good_peer_is_served");
	}

	c = fz_cleanup(nl, &layers0, &peers0);
	fz_tap(!c, "stoq_fuzz.nothing_left_to_clean_up");
	for (c = 0; c < 100 && fz_peer_sockets(nl) > socks0; c++)
		usleep(50 * 1000);
	if (!fz_tap(socks0 >= 0 && fz_peer_sockets(nl) == socks0, "stoq_fuzz.no_peer_socket_left"))
		fz_diag("%d peer sockets held, %d before", fz_peer_sockets(nl), socks0);
	fz_tap(!fz_layer_del(nl, la_index, 0), "stoq_fuzz.served_layer_detaches");
	fz_tap(!fz_kmsg_bad(kmsg), "stoq_fuzz.kernel_log_has_no_warning_bug_or_oops");
	if (fz_tap_failed)
		fz_diag("reproduce: %s -s %llu -n %lu", argv[0], (unsigned long long)seed, count);
	hbx_nl_close(nl);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", workdir);
	if (system(cmd))
		fz_diag("could not remove %s", workdir);
	return fz_tap_end();
}
