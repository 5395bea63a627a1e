/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Shared by the fuzzers (fuzz_genl_test, fuzz_stoq_test): a seeded PRNG,
 * TAP lines, the kernel log since the start, loopback TCP pairs, a layer
 * of known bytes, and the checks that end every fuzzer: the module still
 * attaches, serves and detaches a good layer and nothing is left behind.
 */
#ifndef HBX_FUZZ_COMMON_H
#define HBX_FUZZ_COMMON_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include "hbx_test.h"
#include "manifest.h"

/* splitmix64: one 64-bit state, reproducible from the seed alone. */
struct fz_rng {
	uint64_t s;
};

static inline uint64_t fz_next(struct fz_rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Uniform in [0, n); 0 when n is 0. */
static inline uint32_t fz_below(struct fz_rng *r, uint32_t n)
{
	return n ? (uint32_t)(fz_next(r) % n) : 0;
}

/* True pct times in a hundred. */
static inline int fz_pct(struct fz_rng *r, unsigned int pct)
{
	return fz_below(r, 100) < pct;
}

static inline void fz_bytes(struct fz_rng *r, void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len) {
		uint64_t v = fz_next(r);
		size_t n = len < 8 ? len : 8;

		memcpy(p, &v, n);
		p += n;
		len -= n;
	}
}

static inline double fz_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A seed from the clock unless one was given. */
static inline uint64_t fz_default_seed(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ((uint64_t)ts.tv_sec * 1000003ULL) ^ ts.tv_nsec ^ ((uint64_t)getpid() << 32);
}

/* TAP, to fz_out (stdout unless a fuzzer moved it out of the kernel's reach). */
static FILE *fz_out;
static int fz_tap_n, fz_tap_failed;

static inline void fz_diag(const char *fmt, ...)
{
	va_list ap;

	fputs("# ", fz_out);
	va_start(ap, fmt);
	vfprintf(fz_out, fmt, ap);
	va_end(ap);
	fputc('\n', fz_out);
	fflush(fz_out);
}

static inline int fz_tap(int ok, const char *name)
{
	fz_tap_n++;
	if (!ok)
		fz_tap_failed++;
	fprintf(fz_out, "%sok %d %s\n", ok ? "" : "not ", fz_tap_n, name);
	fflush(fz_out);
	return ok;
}

static inline int fz_tap_end(void)
{
	fprintf(fz_out, "1..%d\n", fz_tap_n);
	fflush(fz_out);
	return fz_tap_failed ? 1 : 0;
}

/*
 * The kernel log from now on: /dev/kmsg read from its end.  fz_kmsg_bad()
 * prints and counts the lines that mean the kernel is hurt.
 */
static inline int fz_kmsg_open(void)
{
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);

	if (fd >= 0)
		lseek(fd, 0, SEEK_END);
	return fd;
}

static inline int fz_kmsg_bad(int fd)
{
	static const char *const bad[] = {
		"WARNING:", "BUG:", "BUG ", "Oops", "general protection",
		"RIP:", "Call Trace", "blocked for more than", "UBSAN",
		"KASAN", "KFENCE", "refcount_t", "list_add corruption",
		"list_del corruption", "kmemleak", "stack-protector",
		"hardlockup", "soft lockup", "rcu_sched detected", "rcu: INFO",
	};
	char rec[8192];
	int n = 0, shown = 0;
	ssize_t len;

	if (fd < 0)
		return 0;
	for (;;) {
		const char *msg;
		size_t i;

		len = read(fd, rec, sizeof(rec) - 1);
		if (len < 0 && errno == EPIPE)
			continue;	/* overwritten records: go on */
		if (len <= 0)
			break;
		rec[len] = '\0';
		msg = strchr(rec, ';');
		msg = msg ? msg + 1 : rec;
		for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
			if (strstr(msg, bad[i])) {
				if (shown++ < 40)
					fz_diag("kernel: %.*s", (int)strcspn(msg, "\n"), msg);
				n++;
				break;
			}
	}
	return n;
}

/* A connected loopback TCP pair; both ends blocking, TCP_NODELAY. */
static inline int fz_tcp_pair(int *a, int *b)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(sa);
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	*a = *b = -1;
	if (l < 0)
		return -1;
	if (bind(l, (void *)&sa, sizeof(sa)) || listen(l, 4) ||
	    getsockname(l, (void *)&sa, &alen))
		goto fail;
	*a = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (*a < 0 || connect(*a, (void *)&sa, sizeof(sa)))
		goto fail;
	*b = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	if (*b < 0)
		goto fail;
	close(l);
	/* Pieces go out when sent, not when Nagle lets them: timing is the test's. */
	setsockopt(*a, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(*b, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return 0;
fail:
	close(l);
	if (*a >= 0)
		close(*a);
	*a = *b = -1;
	return -1;
}

/* A layer of seeded bytes: DIR/image and DIR/manifest, the bytes in data. */
struct fz_layer {
	char		image[160], manifest[160];
	uint8_t		*data, *mbuf;
	size_t		size, mlen;
	unsigned int	shift;
	uint64_t	chunks;
	uint8_t		digest[HBX_DIGEST_SIZE];
};

static inline int fz_layer_make(struct fz_layer *l, const char *dir, const char *name,
				size_t size, unsigned int shift, uint64_t seed)
{
	struct fz_rng r = { seed };
	struct hbx_manifest_info info;
	int ifd, mfd, err = -1;

	memset(l, 0, sizeof(*l));
	snprintf(l->image, sizeof(l->image), "%s/%s.img", dir, name);
	snprintf(l->manifest, sizeof(l->manifest), "%s/%s.manifest", dir, name);
	l->size = size;
	l->shift = shift;
	l->data = malloc(size);
	if (!l->data)
		return -1;
	fz_bytes(&r, l->data, size);
	ifd = open(l->image, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	mfd = open(l->manifest, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (ifd < 0 || mfd < 0 || write(ifd, l->data, size) != (ssize_t)size ||
	    hbx_manifest_build(ifd, shift, mfd, &info))
		goto out;
	memcpy(l->digest, info.digest, HBX_DIGEST_SIZE);
	l->chunks = info.chunk_count;
	l->mlen = lseek(mfd, 0, SEEK_END);
	l->mbuf = malloc(l->mlen);
	if (l->mbuf && pread(mfd, l->mbuf, l->mlen, 0) == (ssize_t)l->mlen)
		err = 0;
out:
	if (ifd >= 0)
		close(ifd);
	if (mfd >= 0)
		close(mfd);
	return err;
}

static inline int fz_index_cb(uint8_t cmd, struct nlattr **tb, void *arg)
{
	if (tb[HBX_A_LAYER_INDEX])
		*(uint32_t *)arg = nla_get_u32(tb[HBX_A_LAYER_INDEX]);
	return 0;
}

/* Attach a local layer: 0 and *index, or -errno. */
static inline int fz_layer_add(struct hbx_nl *nl, const struct fz_layer *l, uint32_t *index)
{
	struct nl_msg *msg = hbx_nl_msg(nl, HBX_CMD_LAYER_ADD, 0);
	int ifd = open(l->image, O_RDONLY | O_CLOEXEC);
	int mfd = open(l->manifest, O_RDONLY | O_CLOEXEC);
	int err;

	nla_put_u32(msg, HBX_A_LAYER_IMAGE_FD, ifd);
	nla_put_u32(msg, HBX_A_LAYER_MANIFEST_FD, mfd);
	nla_put(msg, HBX_A_LAYER_DIGEST, HBX_DIGEST_SIZE, l->digest);
	err = hbx_nl_request(nl, msg, HBX_A_LAYER_MAX, fz_index_cb, index);
	close(ifd);
	close(mfd);
	return err;
}

static inline int fz_layer_export(struct hbx_nl *nl, uint32_t index, int on)
{
	struct nl_msg *msg = hbx_nl_msg(nl, HBX_CMD_LAYER_EXPORT, 0);

	nla_put_u32(msg, HBX_A_LAYER_INDEX, index);
	nla_put_u8(msg, HBX_A_LAYER_EXPORTED, on);
	return hbx_nl_request(nl, msg, HBX_A_LAYER_MAX, NULL, NULL);
}

static inline int fz_layer_del(struct hbx_nl *nl, uint32_t index, int force)
{
	struct nl_msg *msg = hbx_nl_msg(nl, HBX_CMD_LAYER_DEL, 0);

	nla_put_u32(msg, HBX_A_LAYER_INDEX, index);
	if (force)
		nla_put_flag(msg, HBX_A_LAYER_FORCE);
	return hbx_nl_request(nl, msg, HBX_A_LAYER_MAX, NULL, NULL);
}

static inline int fz_peer_del(struct hbx_nl *nl, uint32_t id)
{
	struct nl_msg *msg = hbx_nl_msg(nl, HBX_CMD_PEER_DEL, 0);

	nla_put_u32(msg, HBX_A_PEER_ID, id);
	return hbx_nl_request(nl, msg, HBX_A_PEER_MAX, NULL, NULL);
}

/* Ids from a dump of layers or peers. */
struct fz_ids {
	uint32_t	id[1024];
	int		n;
};

static inline int fz_ids_cb(uint8_t cmd, struct nlattr **tb, void *arg)
{
	struct fz_ids *ids = arg;
	struct nlattr *a = cmd == HBX_CMD_PEER_GET ? tb[HBX_A_PEER_ID] : tb[HBX_A_LAYER_INDEX];

	if (a && ids->n < 1024)
		ids->id[ids->n++] = nla_get_u32(a);
	return 0;
}

static inline int fz_dump(struct hbx_nl *nl, uint8_t cmd, struct fz_ids *ids)
{
	ids->n = 0;
	return hbx_nl_request(nl, hbx_nl_msg(nl, cmd, NLM_F_DUMP),
			      cmd == HBX_CMD_PEER_GET ? HBX_A_PEER_MAX : HBX_A_LAYER_MAX,
			      fz_ids_cb, ids);
}

static inline int fz_ids_has(const struct fz_ids *ids, uint32_t id)
{
	for (int i = 0; i < ids->n; i++)
		if (ids->id[i] == id)
			return 1;
	return 0;
}

/*
 * Delete every layer (forced) and peer not in before: what a fuzzer made.
 * Returns how many deletes failed.
 */
static inline int fz_cleanup(struct hbx_nl *nl, const struct fz_ids *layers_before,
			     const struct fz_ids *peers_before)
{
	struct fz_ids now;
	int failed = 0;

	if (!fz_dump(nl, HBX_CMD_LAYER_GET, &now))
		for (int i = 0; i < now.n; i++)
			if (!fz_ids_has(layers_before, now.id[i]) &&
			    fz_layer_del(nl, now.id[i], 1)) {
				fz_diag("layer %u: delete: %s", now.id[i], hbx_nl_error(nl));
				failed++;
			}
	if (!fz_dump(nl, HBX_CMD_PEER_GET, &now))
		for (int i = 0; i < now.n; i++)
			if (!fz_ids_has(peers_before, now.id[i]) &&
			    fz_peer_del(nl, now.id[i])) {
				fz_diag("peer %u: delete: %s", now.id[i], hbx_nl_error(nl));
				failed++;
			}
	return failed;
}

static inline int fz_peer_sockets_cb(uint8_t cmd, struct nlattr **tb, void *arg)
{
	(void)cmd;
	if (tb[HBX_A_INFO_PEER_SOCKETS])
		*(int *)arg = (int)nla_get_u32(tb[HBX_A_INFO_PEER_SOCKETS]);
	return 0;
}

/* Sockets all peers on the host hold (GET_INFO), or -1. */
static inline int fz_peer_sockets(struct hbx_nl *nl)
{
	int n = -1;

	if (hbx_nl_request(nl, hbx_nl_msg(nl, HBX_CMD_GET_INFO, 0), HBX_A_INFO_MAX,
			   fz_peer_sockets_cb, &n))
		return -1;
	return n;
}

/* Read all of /dev/hbxN with O_DIRECT and compare with want: 0 when equal. */
static inline int fz_read_compare(uint32_t index, const uint8_t *want, size_t size)
{
	char path[32];
	uint8_t *buf;
	int fd, err = -1;

	snprintf(path, sizeof(path), "/dev/hbx%u", index);
	fd = open(path, O_RDONLY | O_DIRECT | O_CLOEXEC);
	if (fd < 0) {
		fz_diag("open %s: %s", path, strerror(errno));
		return -1;
	}
	if (posix_memalign((void **)&buf, 4096, size))
		goto out;
	if (pread(fd, buf, size, 0) != (ssize_t)size)
		fz_diag("read %s: %s", path, strerror(errno));
	else if (memcmp(buf, want, size))
		fz_diag("%s: bytes differ from the image", path);
	else
		err = 0;
	free(buf);
out:
	close(fd);
	return err;
}

#endif
