// SPDX-License-Identifier: GPL-2.0
/*
 * The generic netlink control plane: GET_INFO answers, malformed requests
 * are rejected with a message and change nothing, callers without the
 * admin capabilities get EPERM.
 */
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/capability.h>
#include "kselftest_harness.h"
#include "hbx_test.h"
#include "version.h"

struct info {
	char		version[64];
	uint32_t	protocol, layers, max_layers, chunk_min, chunk_max;
	uint64_t	features;
	int		replies;
};

static int info_cb(uint8_t cmd, struct nlattr **tb, void *arg)
{
	struct info *in = arg;

	in->replies++;
	if (cmd != HBX_CMD_GET_INFO)
		return -EPROTO;
	if (tb[HBX_A_INFO_MODULE_VERSION])
		snprintf(in->version, sizeof(in->version), "%s",
			 nla_get_string(tb[HBX_A_INFO_MODULE_VERSION]));
	if (tb[HBX_A_INFO_PROTOCOL_VERSION])
		in->protocol = nla_get_u32(tb[HBX_A_INFO_PROTOCOL_VERSION]);
	if (tb[HBX_A_INFO_FEATURES])
		in->features = nla_get_u64(tb[HBX_A_INFO_FEATURES]);
	if (tb[HBX_A_INFO_LAYERS])
		in->layers = nla_get_u32(tb[HBX_A_INFO_LAYERS]);
	if (tb[HBX_A_INFO_MAX_LAYERS])
		in->max_layers = nla_get_u32(tb[HBX_A_INFO_MAX_LAYERS]);
	if (tb[HBX_A_INFO_CHUNK_SIZE_MIN])
		in->chunk_min = nla_get_u32(tb[HBX_A_INFO_CHUNK_SIZE_MIN]);
	if (tb[HBX_A_INFO_CHUNK_SIZE_MAX])
		in->chunk_max = nla_get_u32(tb[HBX_A_INFO_CHUNK_SIZE_MAX]);
	return 0;
}

static int get_info(struct hbx_nl *nl, struct info *in)
{
	memset(in, 0, sizeof(*in));
	return hbx_nl_request(nl, hbx_nl_msg(nl, HBX_CMD_GET_INFO, 0),
			      HBX_A_INFO_MAX, info_cb, in);
}

FIXTURE(genl) {
	struct hbx_nl *nl;
};

FIXTURE_SETUP(genl)
{
	ASSERT_EQ(0, hbx_nl_open(&self->nl)) {
		TH_LOG("%s", hbx_nl_error(self->nl));
	}
}

FIXTURE_TEARDOWN(genl)
{
	struct info in;

	/* Whatever a test sent, the module must still answer. */
	EXPECT_EQ(0, get_info(self->nl, &in));
	hbx_nl_close(self->nl);
}

TEST_F(genl, get_info_reports_version_protocol_and_limits)
{
	struct info in;

	ASSERT_EQ(0, get_info(self->nl, &in));
	EXPECT_EQ(1, in.replies);
	EXPECT_STREQ(HBX_VERSION, in.version);
	EXPECT_EQ(HBX_PROTOCOL_VERSION, in.protocol);
	EXPECT_TRUE(in.features & HBX_FEATURE_LAYERS);
	EXPECT_TRUE(in.features & HBX_FEATURE_VERIFY);
	EXPECT_EQ(1U << HBX_CHUNK_SHIFT_MIN, in.chunk_min);
	EXPECT_EQ(1U << HBX_CHUNK_SHIFT_MAX, in.chunk_max);
	EXPECT_LT(0, in.max_layers);
}

TEST_F(genl, rejects_unknown_attribute)
{
	struct nl_msg *msg = hbx_nl_msg(self->nl, HBX_CMD_GET_INFO, 0);

	ASSERT_NE(NULL, msg);
	nla_put_u32(msg, 77, 1);
	EXPECT_EQ(-EINVAL, hbx_nl_request(self->nl, msg, HBX_A_INFO_MAX, NULL, NULL));
	EXPECT_TRUE(hbx_nl_error_from_kernel(self->nl));
	EXPECT_TRUE(hbx_test_error_has(self->nl, "ttribute"));
}

TEST_F(genl, rejects_attribute_beyond_operation_policy)
{
	struct nl_msg *msg = hbx_nl_msg(self->nl, HBX_CMD_LAYER_DEL, 0);

	/* A real layer attribute, but not one LAYER_DEL takes. */
	nla_put_u32(msg, HBX_A_LAYER_INDEX, 0);
	nla_put_u32(msg, HBX_A_LAYER_IMAGE_FD, 0);
	EXPECT_EQ(-EINVAL, hbx_nl_request(self->nl, msg, HBX_A_LAYER_MAX, NULL, NULL));
	EXPECT_TRUE(hbx_nl_error_from_kernel(self->nl));
}

TEST_F(genl, rejects_wrong_attribute_type)
{
	struct nl_msg *msg = hbx_nl_msg(self->nl, HBX_CMD_LAYER_DEL, 0);

	/* The index is a u32; a u8 is the wrong type. */
	nla_put_u8(msg, HBX_A_LAYER_INDEX, 0);
	EXPECT_EQ(-EINVAL, hbx_nl_request(self->nl, msg, HBX_A_LAYER_MAX, NULL, NULL));
	EXPECT_TRUE(hbx_test_error_has(self->nl, "length"));
}

TEST_F(genl, rejects_oversized_attribute)
{
	struct nl_msg *msg = hbx_nl_msg(self->nl, HBX_CMD_LAYER_ADD, 0);
	char digest[2 * HBX_DIGEST_SIZE] = { 0 };

	nla_put_u32(msg, HBX_A_LAYER_IMAGE_FD, 0);
	nla_put_u32(msg, HBX_A_LAYER_MANIFEST_FD, 0);
	nla_put(msg, HBX_A_LAYER_DIGEST, sizeof(digest), digest);
	/* Exact-length binaries are range-checked: ERANGE, not EINVAL. */
	EXPECT_EQ(-ERANGE, hbx_nl_request(self->nl, msg, HBX_A_LAYER_MAX, NULL, NULL));
	EXPECT_TRUE(hbx_nl_error_from_kernel(self->nl));
}

TEST_F(genl, rejects_out_of_range_value)
{
	struct nl_msg *msg = hbx_nl_msg(self->nl, HBX_CMD_LAYER_DEL, 0);

	nla_put_u32(msg, HBX_A_LAYER_INDEX, 1U << 30);
	EXPECT_EQ(-ERANGE, hbx_nl_request(self->nl, msg, HBX_A_LAYER_MAX, NULL, NULL));
	EXPECT_TRUE(hbx_nl_error_from_kernel(self->nl));
}

TEST_F(genl, rejects_unknown_flag_bits)
{
	struct nl_msg *msg = hbx_nl_msg(self->nl, HBX_CMD_LAYER_ADD, 0);
	char digest[HBX_DIGEST_SIZE] = { 0 };

	nla_put_u32(msg, HBX_A_LAYER_IMAGE_FD, 0);
	nla_put_u32(msg, HBX_A_LAYER_MANIFEST_FD, 0);
	nla_put(msg, HBX_A_LAYER_DIGEST, sizeof(digest), digest);
	nla_put_u32(msg, HBX_A_LAYER_FLAGS, 1U << 31);
	EXPECT_EQ(-EINVAL, hbx_nl_request(self->nl, msg, HBX_A_LAYER_MAX, NULL, NULL));
	EXPECT_TRUE(hbx_nl_error_from_kernel(self->nl));
}

TEST_F(genl, rejects_missing_required_attribute)
{
	struct nl_msg *msg = hbx_nl_msg(self->nl, HBX_CMD_LAYER_DEL, 0);

	EXPECT_EQ(-EINVAL, hbx_nl_request(self->nl, msg, HBX_A_LAYER_MAX, NULL, NULL));
	EXPECT_TRUE(hbx_test_error_has(self->nl, "layer index is required"));

	msg = hbx_nl_msg(self->nl, HBX_CMD_LAYER_ADD, 0);
	nla_put_u32(msg, HBX_A_LAYER_IMAGE_FD, 0);
	EXPECT_EQ(-EINVAL, hbx_nl_request(self->nl, msg, HBX_A_LAYER_MAX, NULL, NULL));
	EXPECT_TRUE(hbx_test_error_has(self->nl, "manifest fd is required"));
}

TEST_F(genl, rejects_unknown_command)
{
	struct nl_msg *msg = hbx_nl_msg(self->nl, 200, 0);

	EXPECT_EQ(-EOPNOTSUPP, hbx_nl_request(self->nl, msg, HBX_A_INFO_MAX, NULL, NULL));
}

TEST_F(genl, rejects_deleting_unknown_layer)
{
	struct nl_msg *msg = hbx_nl_msg(self->nl, HBX_CMD_LAYER_DEL, 0);

	nla_put_u32(msg, HBX_A_LAYER_INDEX, 0);
	EXPECT_EQ(-ENOENT, hbx_nl_request(self->nl, msg, HBX_A_LAYER_MAX, NULL, NULL));
	EXPECT_TRUE(hbx_test_error_has(self->nl, "no layer with that index"));
}

/* LAYER_ADD of a remote layer: a cache fd, a digest, then what is given. */
static struct nl_msg *remote_add_msg(struct hbx_nl *nl)
{
	struct nl_msg *msg = hbx_nl_msg(nl, HBX_CMD_LAYER_ADD, 0);
	char digest[HBX_DIGEST_SIZE] = { 0 };

	nla_put_u32(msg, HBX_A_LAYER_CACHE_FD, 0);
	nla_put(msg, HBX_A_LAYER_DIGEST, sizeof(digest), digest);
	return msg;
}

static void put_peers(struct nl_msg *msg, const uint32_t *ids, int n)
{
	struct nlattr *nest;

	if (!n) {	/* nla_nest_end() would drop an empty nest */
		nla_put(msg, HBX_A_LAYER_PEERS | NLA_F_NESTED, 0, NULL);
		return;
	}
	nest = nla_nest_start(msg, HBX_A_LAYER_PEERS);
	while (n--)
		nla_put_u32(msg, HBX_A_LAYER_PEER, *ids++);
	nla_nest_end(msg, nest);
}

TEST_F(genl, rejects_bad_peer_lists_of_remote_layers)
{
	static const struct {
		uint32_t	ids[9];
		int		n;
		bool		single_too;
		const char	*why;
	} cases[] = {
		{ {}, 0, false, "the list of peers is empty" },
		{ { 1 }, 1, true, "give one peer or a list of peers, not both" },
		{ { 1, 2, 3, 4, 5, 6, 7, 8, 9 }, 9, false, "too many peers for one layer" },
		{ { 7, 7 }, 2, false, "the same peer is given twice" },
		{ { 4000 }, 1, false, "no client peer with that id in this network namespace" },
	};
	unsigned int i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct nl_msg *msg = remote_add_msg(self->nl);

		put_peers(msg, cases[i].ids, cases[i].n);
		if (cases[i].single_too)
			nla_put_u32(msg, HBX_A_LAYER_PEER, 1);
		EXPECT_GT(0, hbx_nl_request(self->nl, msg, HBX_A_LAYER_MAX, NULL, NULL));
		EXPECT_TRUE(hbx_test_error_has(self->nl, cases[i].why));
	}
}

TEST_F(genl, rejects_bad_pull_and_export_requests)
{
	struct nl_msg *msg = remote_add_msg(self->nl);
	uint32_t id = 4000;

	/* The window is 1..HBX_PULL_WINDOW_MAX. */
	put_peers(msg, &id, 1);
	nla_put_u32(msg, HBX_A_LAYER_PULL_WINDOW, HBX_PULL_WINDOW_MAX + 1);
	EXPECT_GT(0, hbx_nl_request(self->nl, msg, HBX_A_LAYER_MAX, NULL, NULL));
	EXPECT_TRUE(hbx_nl_error_from_kernel(self->nl));

	/* Prefetch needs peers to fetch from. */
	msg = hbx_nl_msg(self->nl, HBX_CMD_LAYER_ADD, 0);
	nla_put_u32(msg, HBX_A_LAYER_IMAGE_FD, 0);
	nla_put_u32(msg, HBX_A_LAYER_MANIFEST_FD, 0);
	nla_put(msg, HBX_A_LAYER_DIGEST, HBX_DIGEST_SIZE, (char[HBX_DIGEST_SIZE]){ 0 });
	nla_put_u32(msg, HBX_A_LAYER_FLAGS, HBX_LAYER_F_PREFETCH);
	EXPECT_EQ(-EINVAL, hbx_nl_request(self->nl, msg, HBX_A_LAYER_MAX, NULL, NULL));
	EXPECT_TRUE(hbx_test_error_has(self->nl, "prefetch is for remote layers"));

	msg = hbx_nl_msg(self->nl, HBX_CMD_LAYER_PULL, 0);
	EXPECT_EQ(-EINVAL, hbx_nl_request(self->nl, msg, HBX_A_LAYER_MAX, NULL, NULL));
	EXPECT_TRUE(hbx_test_error_has(self->nl, "layer index is required"));

	msg = hbx_nl_msg(self->nl, HBX_CMD_LAYER_PULL, 0);
	nla_put_u32(msg, HBX_A_LAYER_INDEX, 200);
	EXPECT_EQ(-ENOENT, hbx_nl_request(self->nl, msg, HBX_A_LAYER_MAX, NULL, NULL));
	EXPECT_TRUE(hbx_test_error_has(self->nl, "no layer with that index"));

	msg = hbx_nl_msg(self->nl, HBX_CMD_LAYER_PULL, 0);
	nla_put_u32(msg, HBX_A_LAYER_INDEX, 0);
	nla_put_u32(msg, HBX_A_LAYER_PULL_WINDOW, 0);
	EXPECT_GT(0, hbx_nl_request(self->nl, msg, HBX_A_LAYER_MAX, NULL, NULL));
	EXPECT_TRUE(hbx_nl_error_from_kernel(self->nl));

	msg = hbx_nl_msg(self->nl, HBX_CMD_LAYER_EXPORT, 0);
	nla_put_u32(msg, HBX_A_LAYER_INDEX, 0);
	nla_put_u8(msg, HBX_A_LAYER_EXPORTED, 1);
	nla_put_u32(msg, HBX_A_LAYER_EXPORT_MISSING, HBX_EXPORT_MISSING_NOT_HERE + 1);
	EXPECT_GT(0, hbx_nl_request(self->nl, msg, HBX_A_LAYER_MAX, NULL, NULL));
	EXPECT_TRUE(hbx_nl_error_from_kernel(self->nl));
}

TEST_F(genl, malformed_requests_change_nothing)
{
	struct info before, after;
	struct nl_msg *msg;

	ASSERT_EQ(0, get_info(self->nl, &before));
	msg = hbx_nl_msg(self->nl, HBX_CMD_LAYER_ADD, 0);
	nla_put_u32(msg, HBX_A_LAYER_IMAGE_FD, 9999);
	nla_put_u32(msg, HBX_A_LAYER_MANIFEST_FD, 9999);
	nla_put(msg, HBX_A_LAYER_DIGEST, HBX_DIGEST_SIZE, before.version);
	EXPECT_EQ(-EBADF, hbx_nl_request(self->nl, msg, HBX_A_LAYER_MAX, NULL, NULL));
	EXPECT_TRUE(hbx_test_error_has(self->nl, "not an open file descriptor"));
	ASSERT_EQ(0, get_info(self->nl, &after));
	EXPECT_EQ(before.layers, after.layers);
}

/* Drop the given capabilities from the effective, permitted and bounding sets. */
static int drop_caps(uint64_t caps)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2];
	int i;

	if (syscall(SYS_capget, &hdr, data))
		return -1;
	for (i = 0; i < 2; i++) {
		data[i].effective &= ~(uint32_t)(caps >> (32 * i));
		data[i].permitted &= ~(uint32_t)(caps >> (32 * i));
		data[i].inheritable &= ~(uint32_t)(caps >> (32 * i));
	}
	return syscall(SYS_capset, &hdr, data);
}

/* Run one request in a child without caps; return its errno result. */
static int request_without(uint64_t caps, uint8_t cmd, int with_index)
{
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		struct hbx_nl *nl;
		struct nl_msg *msg;
		int err;

		if (drop_caps(caps) || hbx_nl_open(&nl))
			_exit(100);
		msg = hbx_nl_msg(nl, cmd, 0);
		if (with_index)
			nla_put_u32(msg, HBX_A_LAYER_INDEX, 0);
		err = hbx_nl_request(nl, msg, HBX_A_LAYER_MAX, NULL, NULL);
		if (err == -EPERM && cmd == HBX_CMD_LAYER_DEL &&
		    !strstr(hbx_nl_error(nl), "CAP_SYS_ADMIN"))
			_exit(101);
		_exit(-err);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

#define CAP(x) (1ULL << (x))

TEST(get_info_needs_cap_net_admin)
{
	EXPECT_EQ(EPERM, request_without(CAP(CAP_NET_ADMIN), HBX_CMD_GET_INFO, 0));
}

TEST(layer_del_needs_cap_sys_admin)
{
	/* CAP_NET_ADMIN alone passes the family check but not the layer one. */
	EXPECT_EQ(EPERM, request_without(CAP(CAP_SYS_ADMIN), HBX_CMD_LAYER_DEL, 1));
}

TEST(unprivileged_user_gets_eperm)
{
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		struct hbx_nl *nl;
		int err;

		if (setgid(65534) || setuid(65534) || hbx_nl_open(&nl))
			_exit(100);
		err = hbx_nl_request(nl, hbx_nl_msg(nl, HBX_CMD_GET_INFO, 0),
				     HBX_A_INFO_MAX, NULL, NULL);
		_exit(-err);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(EPERM, WEXITSTATUS(status));
}

TEST_HARNESS_MAIN
