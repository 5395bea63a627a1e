// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <linux/netlink.h>
#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>
#include <netlink/netlink.h>
#include "nl.h"

struct hbx_nl {
	struct nl_sock	*sk;
	int		family;
	char		error[256];
	bool		error_from_kernel;	/* error[] is an extack message */
};

struct hbx_nl_ctx {
	struct hbx_nl	*nl;
	int		maxattr;
	hbx_nl_reply_fn	fn;
	void		*arg;
	int		err;
	int		done;
};

static void hbx_nl_set_error(struct hbx_nl *nl, int err, const char *msg)
{
	nl->error_from_kernel = false;
	snprintf(nl->error, sizeof(nl->error), "%s",
		 msg && *msg ? msg : strerror(-err));
}

const char *hbx_nl_error(const struct hbx_nl *nl)
{
	return nl->error;
}

bool hbx_nl_error_from_kernel(const struct hbx_nl *nl)
{
	return nl->error_from_kernel;
}

struct nl_sock *hbx_nl_sock(struct hbx_nl *nl)
{
	return nl->sk;
}

/*
 * An NLMSG_ERROR with NLM_F_ACK_TLVS carries the kernel's extack after the
 * echoed request (or just its header when capped).
 */
static void hbx_nl_parse_extack(struct hbx_nl *nl, struct nlmsgerr *e)
{
	struct nlmsghdr *hdr = (struct nlmsghdr *)((char *)e - NLMSG_HDRLEN);
	struct nlattr *tb[NLMSGERR_ATTR_MAX + 1];
	size_t ack_len = sizeof(*e);
	char msg[200] = "";
	int len;

	if (!(hdr->nlmsg_flags & NLM_F_ACK_TLVS))
		return;
	if (!(hdr->nlmsg_flags & NLM_F_CAPPED))
		ack_len += e->msg.nlmsg_len - NLMSG_HDRLEN;
	len = (int)hdr->nlmsg_len - NLMSG_HDRLEN - (int)ack_len;
	if (len <= 0 || nla_parse(tb, NLMSGERR_ATTR_MAX,
				  (struct nlattr *)((char *)e + ack_len), len,
				  NULL))
		return;
	if (tb[NLMSGERR_ATTR_MSG])
		snprintf(msg, sizeof(msg), "%s",
			 nla_get_string(tb[NLMSGERR_ATTR_MSG]));
	else if (tb[NLMSGERR_ATTR_MISS_TYPE])
		snprintf(msg, sizeof(msg), "missing attribute %u",
			 nla_get_u32(tb[NLMSGERR_ATTR_MISS_TYPE]));
	if (*msg) {
		hbx_nl_set_error(nl, e->error, msg);
		nl->error_from_kernel = true;
	}
}

static int hbx_nl_on_error(struct sockaddr_nl *who, struct nlmsgerr *e,
			   void *arg)
{
	struct hbx_nl_ctx *ctx = arg;

	(void)who;
	ctx->err = e->error;
	hbx_nl_set_error(ctx->nl, e->error, NULL);
	hbx_nl_parse_extack(ctx->nl, e);
	ctx->done = 1;
	return NL_STOP;
}

static int hbx_nl_on_done(struct nl_msg *msg, void *arg)
{
	struct hbx_nl_ctx *ctx = arg;

	(void)msg;
	ctx->done = 1;
	return NL_STOP;
}

static int hbx_nl_on_valid(struct nl_msg *msg, void *arg)
{
	struct hbx_nl_ctx *ctx = arg;
	struct genlmsghdr *gh = nlmsg_data(nlmsg_hdr(msg));
	struct nlattr *tb[ctx->maxattr + 1];
	int err;

	if (nlmsg_hdr(msg)->nlmsg_type != ctx->nl->family)
		return NL_SKIP;
	err = genlmsg_parse(nlmsg_hdr(msg), 0, tb, ctx->maxattr, NULL);
	if (err < 0) {
		ctx->err = -EPROTO;
		hbx_nl_set_error(ctx->nl, -EPROTO,
				 "could not parse the kernel's reply");
		return NL_STOP;
	}
	err = ctx->fn ? ctx->fn(gh->cmd, tb, ctx->arg) : 0;
	if (err) {
		ctx->err = err < 0 ? err : 0;
		ctx->done = 1;
		return NL_STOP;
	}
	return NL_OK;
}

static struct nl_cb *hbx_nl_callbacks(struct hbx_nl_ctx *ctx)
{
	struct nl_cb *cb = nl_cb_alloc(NL_CB_DEFAULT);

	if (!cb)
		return NULL;
	nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, hbx_nl_on_valid, ctx);
	nl_cb_set(cb, NL_CB_FINISH, NL_CB_CUSTOM, hbx_nl_on_done, ctx);
	nl_cb_set(cb, NL_CB_ACK, NL_CB_CUSTOM, hbx_nl_on_done, ctx);
	nl_cb_err(cb, NL_CB_CUSTOM, hbx_nl_on_error, ctx);
	return cb;
}

static int hbx_nl_receive(struct hbx_nl_ctx *ctx, struct nl_cb *cb)
{
	while (!ctx->done) {
		int err = nl_recvmsgs(ctx->nl->sk, cb);

		if (err < 0 && !ctx->done) {
			ctx->err = -EIO;
			snprintf(ctx->nl->error, sizeof(ctx->nl->error),
				 "netlink: %s", nl_geterror(err));
			break;
		}
	}
	return ctx->err;
}

int hbx_nl_open(struct hbx_nl **nlp)
{
	struct hbx_nl *nl = calloc(1, sizeof(*nl));
	int one = 1, err;

	*nlp = nl;
	if (!nl)
		return -ENOMEM;
	nl->sk = nl_socket_alloc();
	if (!nl->sk) {
		hbx_nl_set_error(nl, -ENOMEM, NULL);
		return -ENOMEM;
	}
	err = genl_connect(nl->sk);
	if (err < 0) {
		snprintf(nl->error, sizeof(nl->error),
			 "cannot open a generic netlink socket: %s",
			 nl_geterror(err));
		return -EIO;
	}
	/* Best effort: without them errors are still reported, just terser. */
	setsockopt(nl_socket_get_fd(nl->sk), SOL_NETLINK, NETLINK_EXT_ACK,
		   &one, sizeof(one));
	setsockopt(nl_socket_get_fd(nl->sk), SOL_NETLINK, NETLINK_CAP_ACK,
		   &one, sizeof(one));

	/* Resolving the family by name autoloads hyperbox.ko if it can. */
	nl->family = genl_ctrl_resolve(nl->sk, HBX_GENL_NAME);
	if (nl->family < 0) {
		snprintf(nl->error, sizeof(nl->error),
			 "the hyperbox kernel module is not loaded (try: modprobe hyperbox)");
		return -ENOENT;
	}
	return 0;
}

void hbx_nl_close(struct hbx_nl *nl)
{
	if (!nl)
		return;
	nl_socket_free(nl->sk);
	free(nl);
}

struct nl_msg *hbx_nl_msg(struct hbx_nl *nl, uint8_t cmd, int flags)
{
	struct nl_msg *msg = nlmsg_alloc();

	if (!msg)
		return NULL;
	if (!genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, nl->family, 0, flags,
			 cmd, HBX_GENL_VERSION)) {
		nlmsg_free(msg);
		return NULL;
	}
	return msg;
}

int hbx_nl_request(struct hbx_nl *nl, struct nl_msg *msg, int maxattr,
		   hbx_nl_reply_fn fn, void *arg)
{
	struct hbx_nl_ctx ctx = {
		.nl = nl, .maxattr = maxattr, .fn = fn, .arg = arg,
	};
	struct nl_cb *cb;
	int err;

	nl->error[0] = '\0';
	nl->error_from_kernel = false;
	cb = hbx_nl_callbacks(&ctx);
	if (!cb) {
		nlmsg_free(msg);
		hbx_nl_set_error(nl, -ENOMEM, NULL);
		return -ENOMEM;
	}
	err = nl_send_auto(nl->sk, msg);
	nlmsg_free(msg);
	if (err < 0) {
		snprintf(nl->error, sizeof(nl->error), "netlink send: %s",
			 nl_geterror(err));
		nl_cb_put(cb);
		return -EIO;
	}
	err = hbx_nl_receive(&ctx, cb);
	nl_cb_put(cb);
	return err;
}

int hbx_nl_subscribe(struct hbx_nl *nl)
{
	int grp, err;

	grp = genl_ctrl_resolve_grp(nl->sk, HBX_GENL_NAME, HBX_MCGRP_EVENTS);
	if (grp < 0) {
		hbx_nl_set_error(nl, -ENOENT, "the module has no events group");
		return -ENOENT;
	}
	err = nl_socket_add_membership(nl->sk, grp);
	if (err < 0) {
		snprintf(nl->error, sizeof(nl->error),
			 "cannot join the events group: %s", nl_geterror(err));
		return err == -NLE_PERM ? -EPERM : -EIO;
	}
	return 0;
}

static int hbx_nl_any_seq(struct nl_msg *msg, void *arg)
{
	return NL_OK;
}

int hbx_nl_listen(struct hbx_nl *nl, int maxattr, hbx_nl_reply_fn fn,
		  void *arg)
{
	struct hbx_nl_ctx ctx = {
		.nl = nl, .maxattr = maxattr, .fn = fn, .arg = arg,
	};
	struct nl_cb *cb;
	int err;

	cb = hbx_nl_callbacks(&ctx);
	if (!cb)
		return -ENOMEM;
	/* Notifications carry no sequence number of ours. */
	nl_cb_set(cb, NL_CB_SEQ_CHECK, NL_CB_CUSTOM, hbx_nl_any_seq, NULL);
	err = hbx_nl_receive(&ctx, cb);
	nl_cb_put(cb);
	return err;
}
