// SPDX-License-Identifier: GPL-2.0
/*
 * A generic netlink fuzzer for the "hyperbox" family, on a raw netlink
 * socket so that it can send what libnl would refuse to build: random
 * commands (valid numbers and not), attributes from the family's spaces and
 * outside them, nests inside nests, wrong types, truncated attributes and
 * headers, bad lengths, random flags (dumps, acks, echo), several messages
 * in one send, and fds of every wrong kind (files, /dev/null, pipes, UDP,
 * unconnected and listening TCP, both ends of a loopback connection, the
 * netlink socket itself, closed numbers).  Half the messages start from a
 * well-formed request of a real command and are then mutated, so the
 * handlers behind the policies run too; a few of those attach a real layer.
 *
 * Replies are drained after every send (the kernel queues them before the
 * send returns) and counted by errno.  Then everything the fuzzer made is
 * deleted, and the module must still: answer GET_INFO, hold no leftover
 * layer, peer or peer socket, attach a good layer, read back its bytes and
 * detach it, with nothing new in the kernel log that says it is hurt.
 *
 *   fuzz_genl_test [-n COUNT] [-s SEED] [-v]
 * COUNT defaults to $HBX_FUZZ_GENL_COUNT, else 100000 (5 to 20 s under TCG;
 * tools/check-debug.sh sets 1000000 for the debug kernel); the seed is printed, and the same seed and count send the same
 * messages.  Only the "hyperbox" family is addressed: other families are
 * never sent anything.  The TAP stream goes to a high fd and 0-2 become
 * /dev/null, so no random number handed in as an fd is the test's output.
 */
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/un.h>
#include "fuzz_common.h"

#ifndef NETLINK_EXT_ACK
#define NETLINK_EXT_ACK 11
#endif
#ifndef NETLINK_GET_STRICT_CHK
#define NETLINK_GET_STRICT_CHK 12
#endif

#define BUF_MAX		8192
#define SEEN_MAX	32

static struct fz_rng rng;
static int nlfd, out_fd;
static uint16_t family;
static uint32_t seq;
static int verbose;

/* Values worth sending where a number goes. */
static int fds[64], nfds;
static int pair_fds[6];		/* both ends of three loopback connections */
static uint32_t closed_fd;
static uint32_t seen_layers[SEEN_MAX], seen_peers[SEEN_MAX];
static int nseen_layers, nseen_peers;
static struct fz_layer good;
static char workdir[64];

/* Outcome counters. */
static unsigned long cnt_cmd[256], cnt_errno[4096], cnt_ack, cnt_data, cnt_done, cnt_enobufs,
		     cnt_other, cnt_sends, cnt_msgs, cnt_silent;

/* K_NUM (0) is the kind of attributes this table does not know yet. */
enum kind {
	K_NUM, K_U8, K_U16, K_U32, K_U64, K_FLAG, K_STR, K_BIN32, K_BIN, K_FD,
	K_LIDX, K_PID, K_ROLE, K_TIMEOUT, K_WINDOW, K_NEST_PEERS, K_NEST_SOCKS,
	K_NEST_RANDOM, K_KINDS
};

static const uint8_t layer_kinds[HBX_A_LAYER_MAX + 1] = {
	[HBX_A_LAYER_UNSPEC] = K_BIN,
	[HBX_A_LAYER_INDEX] = K_LIDX,
	[HBX_A_LAYER_IMAGE_FD] = K_FD,
	[HBX_A_LAYER_MANIFEST_FD] = K_FD,
	[HBX_A_LAYER_DIGEST] = K_BIN32,
	[HBX_A_LAYER_FLAGS] = K_U32,
	[HBX_A_LAYER_FORCE] = K_FLAG,
	[HBX_A_LAYER_DEVICE] = K_STR,
	[HBX_A_LAYER_DEV] = K_U32,
	[HBX_A_LAYER_SIZE] = K_U64,
	[HBX_A_LAYER_CHUNK_SIZE] = K_U32,
	[HBX_A_LAYER_CHUNKS_TOTAL] = K_U64,
	[HBX_A_LAYER_CHUNKS_VERIFIED] = K_U64,
	[HBX_A_LAYER_CHUNKS_HASHED] = K_U64,
	[HBX_A_LAYER_BYTES_READ] = K_U64,
	[HBX_A_LAYER_VERIFY_FAILURES] = K_U64,
	[HBX_A_LAYER_STATE] = K_U32,
	[HBX_A_LAYER_OPENERS] = K_U32,
	[HBX_A_LAYER_CHUNK] = K_U64,
	[HBX_A_LAYER_PAD] = K_BIN,
	[HBX_A_LAYER_EXPORTED] = K_U8,
	[HBX_A_LAYER_CHUNKS_SERVED] = K_U64,
	[HBX_A_LAYER_PEER] = K_PID,
	[HBX_A_LAYER_CACHE_FD] = K_FD,
	[HBX_A_LAYER_CHUNKS_FETCHED] = K_U64,
	[HBX_A_LAYER_PEERS] = K_NEST_PEERS,
	[HBX_A_LAYER_BYTES_FETCHED] = K_U64,
	[HBX_A_LAYER_FETCH_RETRIES] = K_U64,
	[HBX_A_LAYER_PULL_WINDOW] = K_WINDOW,
	[HBX_A_LAYER_PULL_STATE] = K_U32,
	[HBX_A_LAYER_PULL_ERROR] = K_U32,
	[HBX_A_LAYER_PULL_BYTES] = K_U64,
	[HBX_A_LAYER_PULL_NSECS] = K_U64,
	[HBX_A_LAYER_EXPORT_MISSING] = K_U32,
	[HBX_A_LAYER_EXPORT_NAME] = K_STR,
};

static const uint8_t peer_kinds[HBX_A_PEER_MAX + 1] = {
	[HBX_A_PEER_UNSPEC] = K_BIN,
	[HBX_A_PEER_ID] = K_PID,
	[HBX_A_PEER_NAME] = K_STR,
	[HBX_A_PEER_IDENTITY] = K_BIN32,
	[HBX_A_PEER_ROLE] = K_ROLE,
	[HBX_A_PEER_SOCKETS] = K_NEST_SOCKS,
	[HBX_A_PEER_SOCKET_FD] = K_FD,
	[HBX_A_PEER_INSECURE] = K_FLAG,
	[HBX_A_PEER_TIMEOUT_MS] = K_TIMEOUT,
	[HBX_A_PEER_STATE] = K_U32,
	[HBX_A_PEER_SOCKETS_UP] = K_U32,
	[HBX_A_PEER_REQUESTS] = K_U64,
	[HBX_A_PEER_BYTES_TX] = K_U64,
	[HBX_A_PEER_PROTOCOL_ERRORS] = K_U64,
	[HBX_A_PEER_LAST_ERROR] = K_STR,
	[HBX_A_PEER_PAD] = K_BIN,
	[HBX_A_PEER_BYTES_RX] = K_U64,
	[HBX_A_PEER_CORRUPT_CHUNKS] = K_U64,
};

static const uint8_t info_kinds[] = {
	K_BIN, K_STR, K_U32, K_U64, K_U32, K_U32, K_U32, K_U32, K_U32, K_BIN,
};

static int is_peer_cmd(uint8_t cmd)
{
	return cmd >= HBX_CMD_PEER_ADD && cmd <= HBX_CMD_PEER_DOWN_NTF;
}

/* The attribute space of a command, and its size. */
static const uint8_t *space_of(uint8_t cmd, unsigned int *n)
{
	if (cmd == HBX_CMD_GET_INFO) {
		*n = sizeof(info_kinds);
		return info_kinds;
	}
	if (is_peer_cmd(cmd)) {
		*n = sizeof(peer_kinds);
		return peer_kinds;
	}
	*n = sizeof(layer_kinds);
	return layer_kinds;
}

/* Never hand the kernel the fd our TAP goes to. */
static uint32_t safe_u32(uint32_t v)
{
	return v == (uint32_t)out_fd ? closed_fd : v;
}

static uint32_t interesting_u32(void)
{
	static const uint32_t v[] = {
		0, 1, 2, 3, 4, 7, 8, 15, 16, 31, 32, 33, 63, 64, 255, 256, 4095,
		4096, 65535, 65536, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff,
	};

	switch (fz_below(&rng, 4)) {
	case 0:
		return safe_u32(v[fz_below(&rng, sizeof(v) / sizeof(v[0]))]);
	case 1:
		return safe_u32(fz_below(&rng, 300));
	default:
		return safe_u32((uint32_t)fz_next(&rng));
	}
}

static uint32_t pick_fd(void)
{
	if (fz_pct(&rng, 85))
		return fds[fz_below(&rng, nfds)];
	if (fz_pct(&rng, 50))
		return closed_fd;
	return interesting_u32();
}

static uint32_t pick_layer(void)
{
	if (nseen_layers && fz_pct(&rng, 60))
		return seen_layers[fz_below(&rng, nseen_layers)];
	if (fz_pct(&rng, 60))
		return fz_below(&rng, 8);
	return interesting_u32();
}

static uint32_t pick_peer(void)
{
	if (nseen_peers && fz_pct(&rng, 60))
		return seen_peers[fz_below(&rng, nseen_peers)];
	if (fz_pct(&rng, 50))
		return fz_below(&rng, 64);
	return interesting_u32();
}

/* The message under construction. */
static uint8_t buf[BUF_MAX];

static struct nlattr *put_hdr(size_t *off, uint16_t type, size_t len)
{
	struct nlattr *a = (void *)(buf + *off);

	if (*off + NLA_HDRLEN + len > BUF_MAX - 256)
		return NULL;
	a->nla_type = type;
	a->nla_len = NLA_HDRLEN + len;
	*off += NLA_ALIGN(NLA_HDRLEN + len);
	return a;
}

static void put_raw(size_t *off, uint16_t type, const void *p, size_t len)
{
	struct nlattr *a = put_hdr(off, type, len);

	if (a) {
		memcpy((char *)a + NLA_HDRLEN, p, len);
		memset((char *)a + NLA_HDRLEN + len, 0, NLA_ALIGN(len) - len);
	}
}

static void put_u32(size_t *off, uint16_t type, uint32_t v)
{
	put_raw(off, type, &v, sizeof(v));
}

static void put_attr(size_t *off, uint16_t type, int kind, int depth);

/* A nest of count attributes of one kind and type. */
static void put_nest_of(size_t *off, uint16_t type, uint16_t inner, int kind,
			int count, int depth)
{
	size_t start = *off;
	struct nlattr *a = put_hdr(off, type | (fz_pct(&rng, 80) ? NLA_F_NESTED : 0), 0);
	int i;

	if (!a)
		return;
	for (i = 0; i < count; i++)
		put_attr(off, inner, kind, depth + 1);
	a = (void *)(buf + start);
	a->nla_len = *off - start;
}

static void put_attr(size_t *off, uint16_t type, int kind, int depth)
{
	uint8_t tmp[96];
	uint64_t v64;
	uint32_t n;

	/* Now and then, the wrong kind for this attribute. */
	if (fz_pct(&rng, 12))
		kind = fz_below(&rng, K_KINDS);
	if (depth > 4 && kind >= K_NEST_PEERS)
		kind = K_U32;
	switch (kind) {
	case K_NUM:
		put_u32(off, type, fz_pct(&rng, 50) ? pick_fd() : interesting_u32());
		break;
	case K_U8:
		tmp[0] = fz_pct(&rng, 50) ? fz_below(&rng, 3) : (uint8_t)fz_next(&rng);
		put_raw(off, type, tmp, 1);
		break;
	case K_U16:
		n = interesting_u32();
		put_raw(off, type, &n, 2);
		break;
	case K_U32:
		put_u32(off, type, fz_pct(&rng, 40) ? fz_below(&rng, 5) : interesting_u32());
		break;
	case K_U64:
		v64 = fz_pct(&rng, 50) ? interesting_u32() : fz_next(&rng);
		put_raw(off, type, &v64, 8);
		break;
	case K_FLAG:
		put_raw(off, type, NULL, 0);
		break;
	case K_STR:
		n = fz_pct(&rng, 10) ? 60 + fz_below(&rng, 30) : fz_below(&rng, 24);
		for (uint32_t i = 0; i < n; i++)
			tmp[i] = fz_pct(&rng, 90) ? 'a' + fz_below(&rng, 26) : (uint8_t)fz_next(&rng);
		if (fz_pct(&rng, 80))
			tmp[n++] = '\0';
		put_raw(off, type, tmp, n);
		break;
	case K_BIN32:
		if (fz_pct(&rng, 50))
			memcpy(tmp, good.digest, 32);
		else if (fz_pct(&rng, 30))
			memset(tmp, 0, 32);
		else
			fz_bytes(&rng, tmp, 32);
		n = fz_pct(&rng, 85) ? 32 : fz_below(&rng, 40);
		put_raw(off, type, tmp, n);
		break;
	case K_BIN:
		n = fz_below(&rng, 70);
		fz_bytes(&rng, tmp, n);
		put_raw(off, type, tmp, n);
		break;
	case K_FD:
		put_u32(off, type, pick_fd());
		break;
	case K_LIDX:
		put_u32(off, type, pick_layer());
		break;
	case K_PID:
		put_u32(off, type, pick_peer());
		break;
	case K_ROLE:
		put_u32(off, type, fz_pct(&rng, 80) ? 1 + fz_below(&rng, 2) : interesting_u32());
		break;
	case K_TIMEOUT:
		put_u32(off, type, fz_pct(&rng, 70) ? fz_below(&rng, 3000) : interesting_u32());
		break;
	case K_WINDOW:
		put_u32(off, type, fz_pct(&rng, 70) ? fz_below(&rng, 40) : interesting_u32());
		break;
	case K_NEST_PEERS:
		put_nest_of(off, type, HBX_A_LAYER_PEER, K_PID, fz_below(&rng, 11), depth);
		break;
	case K_NEST_SOCKS:
		put_nest_of(off, type, HBX_A_PEER_SOCKET_FD, K_FD,
			    fz_pct(&rng, 70) ? 1 + fz_below(&rng, 3) : fz_below(&rng, 20), depth);
		break;
	default: {	/* a nest of anything, nests included */
		size_t start = *off;
		struct nlattr *a = put_hdr(off, type | (fz_pct(&rng, 70) ? NLA_F_NESTED : 0), 0);
		int count = fz_below(&rng, 5);

		if (!a)
			break;
		for (int i = 0; i < count; i++)
			put_attr(off, fz_below(&rng, 40), fz_below(&rng, K_KINDS), depth + 1);
		a = (void *)(buf + start);
		a->nla_len = *off - start;
	}
	}
}

/* A random attribute of the command's space (or, sometimes, outside it). */
static void put_random_attr(size_t *off, uint8_t cmd)
{
	unsigned int n;
	const uint8_t *space = space_of(cmd, &n);
	uint16_t type;
	int kind;

	if (fz_pct(&rng, 85)) {
		type = fz_below(&rng, n + 3);
		kind = type < n ? space[type] : fz_below(&rng, K_KINDS);
	} else {
		type = fz_below(&rng, 0x4000);
		kind = fz_below(&rng, K_KINDS);
	}
	if (fz_pct(&rng, 5))
		type |= NLA_F_NET_BYTEORDER;
	if (fz_pct(&rng, 5))
		type |= NLA_F_NESTED;
	put_attr(off, type, kind, 0);
}

/*
 * An export name: one of a few, so exports clash and remote adds find
 * them, or any string at all.
 */
static void put_export_name(size_t *off)
{
	static const char *const names[] = { "a", "img/x:1", "b" };
	const char *name = names[fz_below(&rng, 3)];

	if (fz_pct(&rng, 70))
		put_raw(off, HBX_A_LAYER_EXPORT_NAME, name, strlen(name) + 1);
	else
		put_attr(off, HBX_A_LAYER_EXPORT_NAME, K_STR, 0);
}

/* The attributes of a well-formed request for cmd, values from the pools. */
static void put_template(size_t *off, uint8_t cmd)
{
	switch (cmd) {
	case HBX_CMD_LAYER_ADD:
		if (fz_pct(&rng, 60)) {
			/* Local: a good image and manifest often enough to attach. */
			put_u32(off, HBX_A_LAYER_IMAGE_FD, fz_pct(&rng, 50) ? fds[2] : pick_fd());
			put_u32(off, HBX_A_LAYER_MANIFEST_FD, fz_pct(&rng, 50) ? fds[3] : pick_fd());
		} else {
			if (fz_pct(&rng, 70))
				put_u32(off, HBX_A_LAYER_PEER, pick_peer());
			else
				put_attr(off, HBX_A_LAYER_PEERS, K_NEST_PEERS, 0);
			put_u32(off, HBX_A_LAYER_CACHE_FD, fz_pct(&rng, 50) ? fds[5] : pick_fd());
			if (fz_pct(&rng, 30))
				put_attr(off, HBX_A_LAYER_PULL_WINDOW, K_WINDOW, 0);
		}
		if (fz_pct(&rng, 20))
			put_export_name(off);
		if (fz_pct(&rng, 80))
			put_raw(off, HBX_A_LAYER_DIGEST, fz_pct(&rng, 70) ? good.digest :
				(uint8_t [32]){ 1 }, 32);
		if (fz_pct(&rng, 20))
			put_u32(off, HBX_A_LAYER_FLAGS, fz_below(&rng, 4));
		break;
	case HBX_CMD_LAYER_DEL:
		put_u32(off, HBX_A_LAYER_INDEX, pick_layer());
		if (fz_pct(&rng, 50))
			put_raw(off, HBX_A_LAYER_FORCE, NULL, 0);
		break;
	case HBX_CMD_LAYER_GET:
	case HBX_CMD_LAYER_PULL:
		put_u32(off, HBX_A_LAYER_INDEX, pick_layer());
		if (cmd == HBX_CMD_LAYER_PULL && fz_pct(&rng, 50))
			put_attr(off, HBX_A_LAYER_PULL_WINDOW, K_WINDOW, 0);
		break;
	case HBX_CMD_LAYER_EXPORT:
		put_u32(off, HBX_A_LAYER_INDEX, pick_layer());
		if (fz_pct(&rng, 90))
			put_raw(off, HBX_A_LAYER_EXPORTED, (uint8_t []){ fz_below(&rng, 3) }, 1);
		if (fz_pct(&rng, 30))
			put_u32(off, HBX_A_LAYER_EXPORT_MISSING, fz_below(&rng, 4));
		if (fz_pct(&rng, 40))
			put_export_name(off);
		break;
	case HBX_CMD_PEER_ADD:
		put_u32(off, HBX_A_PEER_ROLE, fz_pct(&rng, 90) ? 1 + fz_below(&rng, 2) : interesting_u32());
		if (fz_pct(&rng, 80))
			put_attr(off, HBX_A_PEER_NAME, K_STR, 0);
		if (fz_pct(&rng, 80))
			put_u32(off, HBX_A_PEER_TIMEOUT_MS, fz_pct(&rng, 80) ? 50 + fz_below(&rng, 1000) :
				interesting_u32());
		if (fz_pct(&rng, 80))
			put_raw(off, HBX_A_PEER_INSECURE, NULL, 0);
		if (fz_pct(&rng, 20))
			put_u32(off, HBX_A_PEER_ID, pick_peer());
		if (fz_pct(&rng, 10))
			put_attr(off, HBX_A_PEER_IDENTITY, K_BIN32, 0);
		if (fz_pct(&rng, 60)) {
			/* One end of a live connection, often. */
			size_t start = *off;
			struct nlattr *a = put_hdr(off, HBX_A_PEER_SOCKETS | NLA_F_NESTED, 0);
			int count = 1 + fz_below(&rng, 2);

			if (!a)
				break;
			for (int i = 0; i < count; i++)
				put_u32(off, HBX_A_PEER_SOCKET_FD, fz_pct(&rng, 70) ?
					pair_fds[fz_below(&rng, 6)] : pick_fd());
			a = (void *)(buf + start);
			a->nla_len = *off - start;
		} else {
			put_attr(off, HBX_A_PEER_SOCKETS, K_NEST_SOCKS, 0);
		}
		break;
	case HBX_CMD_PEER_DEL:
	case HBX_CMD_PEER_GET:
		put_u32(off, HBX_A_PEER_ID, pick_peer());
		break;
	default:
		break;
	}
}

/* Shuffle the attributes' order now and then: a byte-level mutation. */
static void mutate_bytes(size_t start, size_t *off)
{
	size_t len = *off - start;

	if (!len)
		return;
	switch (fz_below(&rng, 4)) {
	case 0:	/* flip a byte */
		buf[start + fz_below(&rng, len)] ^= 1 << fz_below(&rng, 8);
		break;
	case 1:	/* a random nla_len somewhere */
		if (len >= 4) {
			size_t at = start + (fz_below(&rng, len / 4) * 4);
			uint16_t l = fz_pct(&rng, 50) ? fz_below(&rng, 8) : (uint16_t)fz_next(&rng);

			memcpy(buf + at, &l, 2);
		}
		break;
	case 2:	/* cut the last attribute short */
		*off = start + fz_below(&rng, len);
		break;
	default: /* trailing garbage */
		if (*off + 16 < BUF_MAX) {
			size_t n = 1 + fz_below(&rng, 15);

			fz_bytes(&rng, buf + *off, n);
			*off += n;
		}
	}
}

/* One message at buf+at; returns its aligned length, 0 if it ended the batch. */
static size_t build_msg(size_t at, int *last)
{
	struct nlmsghdr *nlh = (void *)(buf + at);
	struct genlmsghdr *g = (void *)(buf + at + NLMSG_HDRLEN);
	size_t off = at + NLMSG_HDRLEN + GENL_HDRLEN, attrs;
	uint8_t cmd;
	uint16_t flags = NLM_F_REQUEST;
	int template = fz_pct(&rng, 50), n;

	static const uint8_t ops[] = {
		HBX_CMD_GET_INFO, HBX_CMD_LAYER_ADD, HBX_CMD_LAYER_DEL, HBX_CMD_LAYER_GET,
		HBX_CMD_LAYER_EXPORT, HBX_CMD_PEER_ADD, HBX_CMD_PEER_DEL, HBX_CMD_PEER_GET,
		HBX_CMD_LAYER_PULL,
	};

	if (fz_pct(&rng, 75))
		cmd = ops[fz_below(&rng, sizeof(ops))];
	else if (fz_pct(&rng, 60))
		cmd = fz_below(&rng, 24);
	else
		cmd = fz_next(&rng);
	/* Too many attached layers cost time to make: ask for fewer then. */
	if (cmd == HBX_CMD_LAYER_ADD && nseen_layers >= 8 && fz_pct(&rng, 80))
		cmd = HBX_CMD_LAYER_DEL;

	if (fz_pct(&rng, 30))
		flags |= NLM_F_ACK;
	if ((cmd == HBX_CMD_LAYER_GET || cmd == HBX_CMD_PEER_GET) ? fz_pct(&rng, 40) : fz_pct(&rng, 5))
		flags |= NLM_F_DUMP;
	if (fz_pct(&rng, 3))
		flags |= NLM_F_ECHO;
	if (fz_pct(&rng, 3))
		flags |= (uint16_t)fz_next(&rng) & ~NLM_F_REQUEST;
	if (fz_pct(&rng, 2))
		flags &= ~NLM_F_REQUEST;

	memset(nlh, 0, NLMSG_HDRLEN + GENL_HDRLEN);
	nlh->nlmsg_type = fz_pct(&rng, 99) ? family : fz_below(&rng, NLMSG_MIN_TYPE);
	nlh->nlmsg_flags = flags;
	nlh->nlmsg_seq = ++seq;
	g->cmd = cmd;
	g->version = fz_pct(&rng, 95) ? HBX_GENL_VERSION : (uint8_t)fz_next(&rng);
	if (fz_pct(&rng, 3))
		g->reserved = fz_next(&rng);

	attrs = off;
	if (template)
		put_template(&off, cmd);
	n = template ? (fz_pct(&rng, 30) ? 1 + fz_below(&rng, 3) : 0) :
		       (fz_pct(&rng, 10) ? 0 : 1 + fz_below(&rng, 8));
	while (n--)
		put_random_attr(&off, cmd);
	if (template && off > attrs && fz_pct(&rng, 15)) {
		/* Drop one attribute: a required one, sometimes. */
		size_t p = attrs, prev = attrs, k = fz_below(&rng, 4);

		while (p < off && k--) {
			struct nlattr *a = (void *)(buf + p);

			if (a->nla_len < NLA_HDRLEN)
				break;
			prev = p;
			p += NLA_ALIGN(a->nla_len);
		}
		if (p <= off && prev < p) {
			memmove(buf + prev, buf + p, off - p);
			off -= p - prev;
		}
	}
	*last = 0;
	if (fz_pct(&rng, 12)) {
		mutate_bytes(attrs, &off);
		*last = 1;	/* its length may be off: keep it last */
	}
	nlh->nlmsg_len = off - at;
	if (fz_pct(&rng, 4)) {
		/* Truncated headers and lying lengths. */
		switch (fz_below(&rng, 4)) {
		case 0:
			off = at + fz_below(&rng, NLMSG_HDRLEN + GENL_HDRLEN);
			nlh->nlmsg_len = off - at;
			break;
		case 1:
			nlh->nlmsg_len = fz_below(&rng, NLMSG_HDRLEN);
			break;
		case 2:
			nlh->nlmsg_len += 1 + fz_below(&rng, 64);
			break;
		default:
			nlh->nlmsg_len = fz_below(&rng, off - at + 1);
		}
		*last = 1;
	}
	return *last ? off - at : NLMSG_ALIGN(off - at);
}

static void remember(uint32_t *set, int *n, uint32_t v)
{
	for (int i = 0; i < *n; i++)
		if (set[i] == v)
			return;
	if (*n < SEEN_MAX)
		set[(*n)++] = v;
	else
		set[fz_below(&rng, SEEN_MAX)] = v;
}

static void forget(uint32_t *set, int *n, uint32_t v)
{
	for (int i = 0; i < *n; i++)
		if (set[i] == v) {
			set[i] = set[--*n];
			return;
		}
}

/* Count one reply, and learn real ids from it. */
static void account(const struct nlmsghdr *nlh, size_t len)
{
	if (nlh->nlmsg_type == NLMSG_ERROR) {
		const struct nlmsgerr *e = NLMSG_DATA(nlh);
		int err = len >= NLMSG_HDRLEN + sizeof(int) ? -e->error : 0;

		if (!err)
			cnt_ack++;
		else if (err > 0 && err < 4096)
			cnt_errno[err]++;
		else
			cnt_other++;
		if (verbose && err)
			fz_diag("seq %u: %s", nlh->nlmsg_seq, strerror(err));
		return;
	}
	if (nlh->nlmsg_type == NLMSG_DONE) {
		cnt_done++;
		return;
	}
	if (nlh->nlmsg_type != family) {
		cnt_other++;
		return;
	}
	cnt_data++;
	if (len >= NLMSG_HDRLEN + GENL_HDRLEN) {
		const struct genlmsghdr *g = NLMSG_DATA(nlh);

		cnt_cmd[g->cmd]++;
		const uint8_t *p = (const uint8_t *)g + GENL_HDRLEN;
		size_t rem = len - NLMSG_HDRLEN - GENL_HDRLEN;

		while (rem >= NLA_HDRLEN) {
			const struct nlattr *a = (const void *)p;
			uint32_t v;

			if (a->nla_len < NLA_HDRLEN || a->nla_len > rem)
				break;
			if ((a->nla_type & NLA_TYPE_MASK) == 1 && a->nla_len == NLA_HDRLEN + 4) {
				memcpy(&v, p + NLA_HDRLEN, 4);
				if (is_peer_cmd(g->cmd))
					remember(seen_peers, &nseen_peers, v);
				else if (g->cmd == HBX_CMD_LAYER_DEL_NTF)
					forget(seen_layers, &nseen_layers, v);
				else
					remember(seen_layers, &nseen_layers, v);
			}
			if (NLA_ALIGN(a->nla_len) >= rem)
				break;
			rem -= NLA_ALIGN(a->nla_len);
			p += NLA_ALIGN(a->nla_len);
		}
	}
}

/* Everything the kernel queued for us: it is all there once send returns. */
static void drain(void)
{
	static uint8_t rbuf[65536];

	for (;;) {
		ssize_t n = recv(nlfd, rbuf, sizeof(rbuf), MSG_DONTWAIT);
		struct nlmsghdr *nlh = (void *)rbuf;
		size_t rem;

		if (n < 0) {
			if (errno == ENOBUFS) {
				cnt_enobufs++;
				continue;
			}
			if (errno == EINTR)
				continue;
			return;	/* EAGAIN: all read */
		}
		rem = n;
		while (NLMSG_OK(nlh, rem)) {
			account(nlh, nlh->nlmsg_len);
			nlh = NLMSG_NEXT(nlh, rem);
		}
	}
}

static int resolve_family(void)
{
	struct {
		struct nlmsghdr n;
		struct genlmsghdr g;
		char attrs[64];
	} req = { 0 };
	uint8_t rbuf[4096];
	struct nlattr *a;
	struct nlmsghdr *nlh = (void *)rbuf;
	ssize_t len;
	size_t off;

	req.n.nlmsg_type = GENL_ID_CTRL;
	req.n.nlmsg_flags = NLM_F_REQUEST;
	req.n.nlmsg_seq = ++seq;
	req.g.cmd = CTRL_CMD_GETFAMILY;
	req.g.version = 1;
	a = (void *)req.attrs;
	a->nla_type = CTRL_ATTR_FAMILY_NAME;
	a->nla_len = NLA_HDRLEN + sizeof(HBX_GENL_NAME);
	memcpy((char *)a + NLA_HDRLEN, HBX_GENL_NAME, sizeof(HBX_GENL_NAME));
	req.n.nlmsg_len = NLMSG_HDRLEN + GENL_HDRLEN + NLA_ALIGN(a->nla_len);
	if (send(nlfd, &req, req.n.nlmsg_len, 0) < 0)
		return -1;
	len = recv(nlfd, rbuf, sizeof(rbuf), 0);
	if (len < (ssize_t)(NLMSG_HDRLEN + GENL_HDRLEN) || nlh->nlmsg_type != GENL_ID_CTRL)
		return -1;
	for (off = NLMSG_HDRLEN + GENL_HDRLEN; off + NLA_HDRLEN <= nlh->nlmsg_len;
	     off += NLA_ALIGN(a->nla_len)) {
		a = (void *)(rbuf + off);
		if (a->nla_len < NLA_HDRLEN)
			break;
		if (a->nla_type == CTRL_ATTR_FAMILY_ID) {
			memcpy(&family, (char *)a + NLA_HDRLEN, 2);
			return 0;
		}
	}
	return -1;
}

static int open_nl(void)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	int one = 1, big = 4 << 20;

	nlfd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
	if (nlfd < 0 || bind(nlfd, (void *)&sa, sizeof(sa)) ||
	    connect(nlfd, (void *)&sa, sizeof(sa)))
		return -1;
	setsockopt(nlfd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	if (setsockopt(nlfd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big)))
		setsockopt(nlfd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	return 0;
}

/* Fresh loopback connections for the pool; the kernel keeps what it took. */
static void refresh_pairs(void)
{
	for (int i = 0; i < 6; i += 2) {
		int a, b;

		if (pair_fds[i] > 0) {
			close(pair_fds[i]);
			close(pair_fds[i + 1]);
		}
		if (fz_tcp_pair(&a, &b)) {
			a = dup(fds[0]);
			b = dup(fds[0]);
		}
		/* Keep the numbers stable: the pool refers to them. */
		if (pair_fds[i] > 0) {
			dup2(a, pair_fds[i]);
			dup2(b, pair_fds[i + 1]);
			close(a);
			close(b);
		} else {
			pair_fds[i] = a;
			pair_fds[i + 1] = b;
		}
	}
}

static int add_fd(int fd)
{
	if (fd >= 0 && nfds < (int)(sizeof(fds) / sizeof(fds[0])))
		fds[nfds++] = fd;
	return fd;
}

/* The pool of fds; fds[2], fds[3] and fds[5] are the good image, manifest, cache. */
static int make_fd_pool(void)
{
	char path[128];
	int p[2], l, a, b;
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct sockaddr_un su = { .sun_family = AF_UNIX };

	add_fd(open("/dev/null", O_RDONLY | O_CLOEXEC));		/* 0 */
	add_fd(open("/dev/null", O_RDWR | O_CLOEXEC));			/* 1 */
	add_fd(open(good.image, O_RDONLY | O_CLOEXEC));			/* 2 */
	add_fd(open(good.manifest, O_RDONLY | O_CLOEXEC));		/* 3 */
	/* Writable: a copy, or the good image could never attach (ETXTBSY). */
	snprintf(path, sizeof(path), "%s/copy.img", workdir);
	l = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (l >= 0 && write(l, good.data, good.size) != (ssize_t)good.size)
		l = -1;
	add_fd(l);							/* 4 */
	snprintf(path, sizeof(path), "%s/cache", workdir);
	add_fd(open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600));		/* 5 */
	snprintf(path, sizeof(path), "%s/cache-append", workdir);
	add_fd(open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
	snprintf(path, sizeof(path), "%s/cache-ro", workdir);
	close(open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600));
	add_fd(open(path, O_RDONLY | O_CLOEXEC));
	add_fd(open(workdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	add_fd(open(good.manifest, O_PATH | O_CLOEXEC));
	if (!pipe2(p, O_CLOEXEC)) {
		add_fd(p[0]);
		add_fd(p[1]);
	}
	add_fd(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
	add_fd(socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0));
	add_fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));	/* unconnected */
	l = add_fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
	if (l >= 0 && !bind(l, (void *)&sa, sizeof(sa)))
		listen(l, 1);					/* listening */
	a = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	snprintf(su.sun_path, sizeof(su.sun_path), "%s/unix", workdir);
	if (a >= 0 && !bind(a, (void *)&su, sizeof(su)))
		listen(a, 1);
	add_fd(a);
	if (!socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p)) {
		add_fd(p[0]);
		add_fd(p[1]);
	}
	add_fd(eventfd(0, EFD_CLOEXEC));
	add_fd(memfd_create("fuzz", MFD_CLOEXEC));
	add_fd(nlfd);
	add_fd(open("/proc/self/stat", O_RDONLY | O_CLOEXEC));
	/* A TCP connection whose far end is closed: connected, then reset. */
	if (!fz_tcp_pair(&a, &b)) {
		struct linger lg = { 1, 0 };

		setsockopt(b, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		close(b);
		add_fd(a);
	}
	refresh_pairs();
	for (int i = 0; i < 6; i++)
		add_fd(pair_fds[i]);
	/* A number that is surely closed. */
	closed_fd = dup(fds[0]);
	close(closed_fd);
	return nfds >= 20 ? 0 : -1;
}

static void watchdog(int sig)
{
	static const char msg[] = "not ok 1 genl_fuzz.hung (watchdog)\n";

	if (write(out_fd, msg, sizeof(msg) - 1) < 0)
		_exit(3);
	_exit(2);
}

int main(int argc, char **argv)
{
	const char *env_count = getenv("HBX_FUZZ_GENL_COUNT");
	unsigned long count = env_count ? strtoul(env_count, NULL, 0) : 100000, i, progress_every;
	uint64_t seed = fz_default_seed();
	struct fz_ids layers0, peers0, layers1, peers1;
	struct hbx_nl *nl;
	int kmsg, socks0, c, bad, ok;
	double t0, t1;
	uint32_t idx;

	while ((c = getopt(argc, argv, "n:s:v")) != -1) {
		switch (c) {
		case 'n':
			count = strtoul(optarg, NULL, 0);
			break;
		case 's':
			seed = strtoull(optarg, NULL, 0);
			break;
		case 'v':
			verbose = 1;
			break;
		default:
			fprintf(stderr, "usage: fuzz_genl_test [-n COUNT] [-s SEED] [-v]\n");
			return 2;
		}
	}
	rng.s = seed;

	/*
	 * The TAP stream goes to a high fd, and 0-2 become /dev/null: a
	 * random number handed in as a cache fd must never be our output.
	 */
	out_fd = fcntl(1, F_DUPFD_CLOEXEC, 900);
	fz_out = fdopen(out_fd, "w");
	c = open("/dev/null", O_RDWR);
	dup2(c, 0);
	dup2(c, 1);
	dup2(c, 2);
	if (c > 2)
		close(c);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGALRM, watchdog);

	fprintf(fz_out, "TAP version 13\n");
	fz_diag("genl fuzz: seed %llu count %lu (reproduce: %s -s %llu -n %lu)",
		(unsigned long long)seed, count, argv[0], (unsigned long long)seed, count);

	kmsg = fz_kmsg_open();
	strcpy(workdir, "/tmp/hbx-genl-fuzz.XXXXXX");
	if (!mkdtemp(workdir) || fz_layer_make(&good, workdir, "good", 16 * 4096, 14, seed) ||
	    open_nl() || resolve_family() || hbx_nl_open(&nl) || make_fd_pool()) {
		fz_tap(0, "genl_fuzz.setup");
		return fz_tap_end();
	}
	fz_dump(nl, HBX_CMD_LAYER_GET, &layers0);
	fz_dump(nl, HBX_CMD_PEER_GET, &peers0);
	socks0 = fz_peer_sockets(nl);
	fz_diag("family %u, %d fds in the pool, %d layers and %d peers before",
		family, nfds, layers0.n, peers0.n);

	/* A hang detector, not a time limit: 25 min per 100,000 messages. */
	alarm(1500 * (count > 100000 ? count / 100000 : 1));
	progress_every = verbose ? 20000 : 100000;
	t0 = fz_now();
	for (i = 0; i < count;) {
		size_t at = 0;
		int batch = fz_pct(&rng, 10) ? 2 + fz_below(&rng, 5) : 1, last = 0;
		unsigned long before = i;

		while (batch-- && i < count && !last && at < BUF_MAX / 2) {
			at += build_msg(at, &last);
			i++;
			cnt_msgs++;
		}
		if (fz_pct(&rng, 1) && at > 8)
			at -= 1 + fz_below(&rng, 8);	/* a send cut mid-message */
		if (send(nlfd, buf, at, 0) < 0)
			cnt_silent++;
		cnt_sends++;
		drain();
		if (cnt_sends % 2000 == 0)
			refresh_pairs();
		if (cnt_sends % 50000 == 0) {
			int v = fz_pct(&rng, 50);

			setsockopt(nlfd, SOL_NETLINK, NETLINK_GET_STRICT_CHK, &v, sizeof(v));
		}
		/* Progress on a long run (1,000,000 on the debug kernel takes hours
		 * on a busy host) or when asked: its rate, and that it still goes. */
		if ((verbose || count > 100000) && i < count &&
		    i / progress_every != before / progress_every)
			fz_diag("%lu messages, %.1f s", i, fz_now() - t0);
	}
	t1 = fz_now();
	drain();

	fz_diag("%lu messages in %lu sends, %.1f s (%.0f/s)", cnt_msgs, cnt_sends,
		t1 - t0, cnt_msgs / (t1 - t0 > 0 ? t1 - t0 : 1));
	fz_diag("replies: %lu acks, %lu data, %lu dump ends, %lu other, %lu ENOBUFS, %lu sends refused",
		cnt_ack, cnt_data, cnt_done, cnt_other, cnt_enobufs, cnt_silent);
	for (c = 0; c < 256; c++)
		if (cnt_cmd[c])
			fz_diag("  %-8lu replies of command %d", cnt_cmd[c], c);
	for (c = 1; c < 4096; c++)
		if (cnt_errno[c])
			fz_diag("  %-8lu %s (%d)", cnt_errno[c], strerror(c), c);
	fz_tap(cnt_ack + cnt_data > 0 && cnt_errno[EINVAL] > 0, "genl_fuzz.messages_sent_and_answered");

	/* What the fuzzer made goes; then nothing may be left. */
	for (int k = 0; k < nfds; k++)
		if (fds[k] != nlfd)
			close(fds[k]);
	bad = fz_cleanup(nl, &layers0, &peers0);
	fz_dump(nl, HBX_CMD_LAYER_GET, &layers1);
	fz_dump(nl, HBX_CMD_PEER_GET, &peers1);
	ok = !bad && layers1.n == layers0.n && peers1.n == peers0.n;
	if (!ok)
		fz_diag("after cleanup: %d layers (%d before), %d peers (%d before), %d deletes failed",
			layers1.n, layers0.n, peers1.n, peers0.n, bad);
	fz_tap(ok, "genl_fuzz.everything_made_is_deleted");
	for (c = 0; c < 100 && fz_peer_sockets(nl) > socks0; c++)
		usleep(50 * 1000);
	if (!fz_tap(socks0 >= 0 && fz_peer_sockets(nl) == socks0, "genl_fuzz.no_peer_socket_left"))
		fz_diag("%d peer sockets held, %d before", fz_peer_sockets(nl), socks0);

	fz_tap(hbx_nl_request(nl, hbx_nl_msg(nl, HBX_CMD_GET_INFO, 0), HBX_A_INFO_MAX,
			      NULL, NULL) == 0, "genl_fuzz.module_still_answers_get_info");

	c = fz_layer_add(nl, &good, &idx);
	if (c)
		fz_diag("layer add: %s", hbx_nl_error(nl));
	ok = !c && !fz_read_compare(idx, good.data, good.size);
	ok = (!c && !fz_layer_del(nl, idx, 0)) && ok;
	fz_tap(ok, "genl_fuzz.good_layer_attaches_reads_right_and_detaches");

	bad = fz_kmsg_bad(kmsg);
	fz_tap(!bad, "genl_fuzz.kernel_log_has_no_warning_bug_or_oops");
	if (fz_tap_failed)
		fz_diag("reproduce: %s -s %llu -n %lu", argv[0], (unsigned long long)seed, count);

	hbx_nl_close(nl);
	snprintf((char *)buf, BUF_MAX, "rm -rf %s", workdir);
	if (system((char *)buf))
		fz_diag("could not remove %s", workdir);
	return fz_tap_end();
}
