// SPDX-License-Identifier: GPL-2.0
/*
 * faults_ctl: the control path under fault injection, for
 * selftests/faults_debug.sh on a kernel with CONFIG_FAULT_INJECTION.  As
 * syzkaller does it, systematically: for n = 1, 2, ... the n-th
 * allocation point this task reaches in one request fails
 * (/proc/thread-self/fail-nth; failslab and fail_page_alloc count alike),
 * until a request passes all of its points, so every allocation of the
 * path has failed once.  For LAYER_ADD, LAYER_DEL, PEER_ADD and PEER_DEL:
 * each try must work, or fail with an errno having changed nothing; one
 * that was done but whose answer netlink itself lost (its ack could not
 * be allocated) is counted apart.  Between tries everything is deleted,
 * without faults.  Counts go to stdout as "key value" lines.  Exit 0
 * unless an invariant broke.
 *   usage: faults_ctl IMAGE
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include "fuzz_common.h"
#include "hbx_test.h"
#include "manifest.h"

static int nth_fd = -1;

static int del(struct hbx_nl *nl, int cmd, int attr, uint32_t id, int maxattr);

/* Fail the n-th allocation point from now on (0: none). */
static void fail_nth(int n)
{
	char buf[16];
	int len = snprintf(buf, sizeof(buf), "%d", n);

	if (pwrite(nth_fd, buf, len, 0) != len) {
		perror("faults_ctl: /proc/thread-self/fail-nth");
		exit(2);
	}
}

/* Whether the armed fault was injected; disarms it either way. */
static int fail_injected(void)
{
	char buf[16] = "";

	if (pread(nth_fd, buf, sizeof(buf) - 1, 0) <= 0) {
		perror("faults_ctl: /proc/thread-self/fail-nth");
		exit(2);
	}
	fail_nth(0);
	return atoi(buf) == 0;
}

static int index_cb(uint8_t cmd, struct nlattr **tb, void *arg)
{
	if (tb[HBX_A_LAYER_INDEX])
		*(uint32_t *)arg = nla_get_u32(tb[HBX_A_LAYER_INDEX]);
	if (tb[HBX_A_PEER_ID])
		*(uint32_t *)arg = nla_get_u32(tb[HBX_A_PEER_ID]);
	return 0;
}

static int count_cb(uint8_t cmd, struct nlattr **tb, void *arg)
{
	(*(int *)arg)++;
	return 0;
}

/*
 * After a request that failed (a fault may have cost netlink a message),
 * libnl's sequence numbers may be out of step: a new socket starts clean.
 */
static void renew(struct hbx_nl **nl, int err)
{
	if (!err)
		return;
	hbx_nl_close(*nl);
	if (hbx_nl_open(nl)) {
		fprintf(stderr, "faults_ctl: cannot reopen netlink\n");
		exit(2);
	}
}

struct ids {
	uint32_t	id[64];
	int		n;
};

static int ids_cb(uint8_t cmd, struct nlattr **tb, void *arg)
{
	struct ids *ids = arg;
	uint32_t id = ~0U;

	index_cb(cmd, tb, &id);
	if (id != ~0U && ids->n < 64)
		ids->id[ids->n++] = id;
	return 0;
}

/* Delete every layer and peer there is (no fault armed): a clean start. */
static void clear_all(struct hbx_nl *nl)
{
	struct ids layers = { .n = 0 }, peers = { .n = 0 };
	int i;

	hbx_nl_request(nl, hbx_nl_msg(nl, HBX_CMD_LAYER_GET, NLM_F_DUMP),
		       HBX_A_LAYER_MAX, ids_cb, &layers);
	for (i = 0; i < layers.n; i++)
		del(nl, HBX_CMD_LAYER_DEL, HBX_A_LAYER_INDEX, layers.id[i], HBX_A_LAYER_MAX);
	hbx_nl_request(nl, hbx_nl_msg(nl, HBX_CMD_PEER_GET, NLM_F_DUMP),
		       HBX_A_PEER_MAX, ids_cb, &peers);
	for (i = 0; i < peers.n; i++)
		del(nl, HBX_CMD_PEER_DEL, HBX_A_PEER_ID, peers.id[i], HBX_A_PEER_MAX);
}

/* How many layers, or peers, this namespace has (-1: the dump failed). */
static int count(struct hbx_nl *nl, int cmd, int maxattr)
{
	struct nl_msg *msg = hbx_nl_msg(nl, cmd, NLM_F_DUMP);
	int n = 0;

	return hbx_nl_request(nl, msg, maxattr, count_cb, &n) ? -1 : n;
}

static struct nl_msg *layer_add_msg(struct hbx_nl *nl, int ifd, int mfd,
				    const uint8_t *digest)
{
	struct nl_msg *msg = hbx_nl_msg(nl, HBX_CMD_LAYER_ADD, 0);

	nla_put_u32(msg, HBX_A_LAYER_IMAGE_FD, ifd);
	nla_put_u32(msg, HBX_A_LAYER_MANIFEST_FD, mfd);
	nla_put(msg, HBX_A_LAYER_DIGEST, HBX_DIGEST_SIZE, digest);
	return msg;
}

static struct nl_msg *peer_add_msg(struct hbx_nl *nl, int fd)
{
	struct nl_msg *msg = hbx_nl_msg(nl, HBX_CMD_PEER_ADD, 0);
	struct nlattr *nest;

	nla_put_u32(msg, HBX_A_PEER_ROLE, HBX_PEER_ROLE_SERVER);
	nla_put_flag(msg, HBX_A_PEER_INSECURE);
	nest = nla_nest_start(msg, HBX_A_PEER_SOCKETS);
	nla_put_u32(msg, HBX_A_PEER_SOCKET_FD, fd);
	nla_nest_end(msg, nest);
	return msg;
}

static int del(struct hbx_nl *nl, int cmd, int attr, uint32_t id, int maxattr)
{
	struct nl_msg *msg = hbx_nl_msg(nl, cmd, 0);

	nla_put_u32(msg, attr, id);
	return hbx_nl_request(nl, msg, maxattr, NULL, NULL);
}

struct what {
	const char	*name;
	int		points, failed_cleanly, survived, answer_lost, broken;
};

static void report(const struct what *w)
{
	printf("%s_points %d\n%s_failed_cleanly %d\n%s_survived_a_fault %d\n"
	       "%s_answer_lost %d\n%s_broken %d\n",
	       w->name, w->points, w->name, w->failed_cleanly, w->name, w->survived,
	       w->name, w->answer_lost, w->name, w->broken);
}

/*
 * One try at the n-th point: err is the request's result, made whether
 * it did what it was asked (looked at with the fault disarmed), injected
 * whether the fault was (if not, every point of the path was tried).
 */
static void judge(struct what *w, int err, int made, int injected,
		  const char *why)
{
	if (injected)
		w->points++;
	if (!err && made) {
		w->survived += injected;	/* a fault it got past */
	} else if (err < 0 && err > -4096 && !made && injected) {
		w->failed_cleanly++;
	} else if (err == -EIO && !strncmp(why, "netlink:", 8) && made && injected) {
		/*
		 * Done, but the socket lost the answer: netlink could not
		 * allocate its ack (ENOBUFS on the socket, libnl's "Out of
		 * memory"), its way of saying "re-read the state".  An error
		 * of ours would come in the ack, as an errno.
		 */
		w->answer_lost++;
	} else {
		w->broken++;
		printf("# %s: result %d (%s), %s, fault %s\n", w->name, err, why,
		       made ? "made" : "not made",
		       injected ? "injected" : "not injected");
	}
}

int main(int argc, char **argv)
{
	struct what ladd = { .name = "layer_add" }, ldel = { .name = "layer_del" };
	struct what padd = { .name = "peer_add" }, pdel = { .name = "peer_del" };
	struct hbx_manifest_info info;
	char manifest[] = "/tmp/faults_ctl.XXXXXX";
	int ifd, mfd, n, err, injected;
	char why[256];
	struct hbx_nl *nl;

	if (argc != 2) {
		fprintf(stderr, "usage: faults_ctl IMAGE\n");
		return 2;
	}
	ifd = open(argv[1], O_RDONLY);
	mfd = mkstemp(manifest);
	if (ifd < 0 || mfd < 0 || hbx_manifest_build(ifd, 16, mfd, &info) ||
	    hbx_nl_open(&nl)) {
		fprintf(stderr, "faults_ctl: cannot set up (%s)\n", strerror(errno));
		return 2;
	}
	unlink(manifest);
	nth_fd = open("/proc/thread-self/fail-nth", O_RDWR);
	if (nth_fd < 0) {
		fprintf(stderr, "faults_ctl: no fault injection in this kernel\n");
		return 2;
	}
	if (count(nl, HBX_CMD_LAYER_GET, HBX_A_LAYER_MAX) ||
	    count(nl, HBX_CMD_PEER_GET, HBX_A_PEER_MAX)) {
		fprintf(stderr, "faults_ctl: start with no layer and no peer\n");
		return 2;
	}

	for (n = 1, injected = 1; injected && n < 10000; n++) {
		struct nl_msg *msg = layer_add_msg(nl, ifd, mfd, info.digest);
		uint32_t index = ~0U;

		fail_nth(n);
		err = hbx_nl_request(nl, msg, HBX_A_LAYER_MAX, index_cb, &index);
		injected = fail_injected();
		snprintf(why, sizeof(why), "%s", err ? hbx_nl_error(nl) : "");
		renew(&nl, err);
		judge(&ladd, err, count(nl, HBX_CMD_LAYER_GET, HBX_A_LAYER_MAX) == 1, injected, why);
		clear_all(nl);
	}
	for (n = 1, injected = 1; injected && n < 10000; n++) {
		uint32_t index = ~0U;

		if (hbx_nl_request(nl, layer_add_msg(nl, ifd, mfd, info.digest),
				   HBX_A_LAYER_MAX, index_cb, &index)) {
			printf("# LAYER_ADD without faults: %s\n", hbx_nl_error(nl));
			return 1;
		}
		fail_nth(n);
		err = del(nl, HBX_CMD_LAYER_DEL, HBX_A_LAYER_INDEX, index, HBX_A_LAYER_MAX);
		/* "made" here: the layer is gone, as asked. */
		injected = fail_injected();
		snprintf(why, sizeof(why), "%s", err ? hbx_nl_error(nl) : "");
		renew(&nl, err);
		judge(&ldel, err, count(nl, HBX_CMD_LAYER_GET, HBX_A_LAYER_MAX) == 0, injected, why);
		clear_all(nl);
	}
	for (n = 1, injected = 1; injected && n < 10000; n++) {
		int ours, theirs;
		uint32_t id = 0;

		if (fz_tcp_pair(&ours, &theirs)) {
			perror("faults_ctl: loopback pair");
			return 2;
		}
		fail_nth(n);
		err = hbx_nl_request(nl, peer_add_msg(nl, theirs), HBX_A_PEER_MAX, index_cb, &id);
		injected = fail_injected();
		snprintf(why, sizeof(why), "%s", err ? hbx_nl_error(nl) : "");
		renew(&nl, err);
		judge(&padd, err, count(nl, HBX_CMD_PEER_GET, HBX_A_PEER_MAX) == 1, injected, why);
		clear_all(nl);
		close(ours);
		close(theirs);
	}
	for (n = 1, injected = 1; injected && n < 10000; n++) {
		int ours, theirs;
		uint32_t id = 0;

		if (fz_tcp_pair(&ours, &theirs) ||
		    hbx_nl_request(nl, peer_add_msg(nl, theirs), HBX_A_PEER_MAX, index_cb, &id)) {
			printf("# PEER_ADD without faults: %s\n", hbx_nl_error(nl));
			return 1;
		}
		fail_nth(n);
		err = del(nl, HBX_CMD_PEER_DEL, HBX_A_PEER_ID, id, HBX_A_PEER_MAX);
		injected = fail_injected();
		snprintf(why, sizeof(why), "%s", err ? hbx_nl_error(nl) : "");
		renew(&nl, err);
		judge(&pdel, err, count(nl, HBX_CMD_PEER_GET, HBX_A_PEER_MAX) == 0, injected, why);
		clear_all(nl);
		close(ours);
		close(theirs);
	}

	report(&ladd);
	report(&ldel);
	report(&padd);
	report(&pdel);
	printf("layers_left %d\npeers_left %d\n", count(nl, HBX_CMD_LAYER_GET, HBX_A_LAYER_MAX),
	       count(nl, HBX_CMD_PEER_GET, HBX_A_PEER_MAX));
	return ladd.broken || ldel.broken || padd.broken || pdel.broken ||
	       count(nl, HBX_CMD_LAYER_GET, HBX_A_LAYER_MAX) ||
	       count(nl, HBX_CMD_PEER_GET, HBX_A_PEER_MAX);
}
