// SPDX-License-Identifier: GPL-2.0
/*
 * The "hyperbox" generic netlink family: strict policies on every operation,
 * an extack message on every rejection, notifications on "events".
 * kmod/hyperbox.yaml is the contract this file implements.
 */
#include <linux/capability.h>
#include <linux/kdev_t.h>
#include <linux/module.h>
#include <net/genetlink.h>
#include <net/sock.h>
#include "compat/genl.h"
#include "layer.h"
#include "peer.h"
#include "netlink.h"
#include "version.h"

enum hbx_mcgrp_id {
	HBX_MCGRP_EVENTS_ID,
};

static const struct genl_multicast_group hbx_mcgrps[] = {
	[HBX_MCGRP_EVENTS_ID] = {
		.name = HBX_MCGRP_EVENTS,
		.flags = GENL_MCAST_CAP_NET_ADMIN,
	},
};

static struct genl_family hbx_family;

/* GENL_REQ_ATTR_CHECK() names the missing attribute; add a sentence. */
#define HBX_REQUIRE(info, attr, msg) ({					\
	bool __missing = GENL_REQ_ATTR_CHECK(info, attr);		\
									\
	if (__missing)							\
		NL_SET_ERR_MSG((info)->extack, msg);			\
	__missing;							\
})

/* Fds are ints in user space; fget() rejects anything that is not open. */
/*
 * For commands that take no attributes.  An explicit policy, not none: with
 * split ops (6.2+) an op without a policy parses nothing, so unknown
 * attributes would be ignored instead of refused.
 */
static const struct nla_policy hbx_no_attrs_policy[2] = {
	[0] = { .type = NLA_REJECT },
	[1] = { .type = NLA_REJECT },
};

static const struct nla_policy hbx_layer_peers_policy[HBX_A_LAYER_PEER + 1] = {
	[HBX_A_LAYER_PEER]		= { .type = NLA_U32 },
};

/* Checked again by hbx_export_name_get(): printable, no spaces. */
#define HBX_EXPORT_NAME_POLICY \
	{ .type = NLA_NUL_STRING, .len = HBX_EXPORT_NAME_MAX - 1 }

static const struct nla_policy hbx_layer_add_policy[HBX_A_LAYER_EXPORT_NAME + 1] = {
	[HBX_A_LAYER_IMAGE_FD]		= { .type = NLA_U32 },
	[HBX_A_LAYER_MANIFEST_FD]	= { .type = NLA_U32 },
	[HBX_A_LAYER_DIGEST]		= NLA_POLICY_EXACT_LEN(HBX_DIGEST_SIZE),
	[HBX_A_LAYER_FLAGS]		= NLA_POLICY_MASK(NLA_U32, HBX_LAYER_FLAGS_ALL),
	[HBX_A_LAYER_PEER]		= { .type = NLA_U32 },
	[HBX_A_LAYER_CACHE_FD]		= { .type = NLA_U32 },
	[HBX_A_LAYER_PEERS]		= NLA_POLICY_NESTED(hbx_layer_peers_policy),
	[HBX_A_LAYER_PULL_WINDOW]	= NLA_POLICY_RANGE(NLA_U32, 1, HBX_PULL_WINDOW_MAX),
	[HBX_A_LAYER_VERIFY]		= NLA_POLICY_RANGE(NLA_U32, HBX_VERIFY_ALWAYS,
							   HBX_VERIFY_ONCE),
	[HBX_A_LAYER_HASHES_FD]		= { .type = NLA_U32 },
	[HBX_A_LAYER_EXPORT_NAME]	= HBX_EXPORT_NAME_POLICY,
};

static const struct nla_policy hbx_layer_pull_policy[HBX_A_LAYER_PULL_WINDOW + 1] = {
	[HBX_A_LAYER_INDEX]		= NLA_POLICY_MAX(NLA_U32, HBX_MAX_LAYERS - 1),
	[HBX_A_LAYER_PULL_WINDOW]	= NLA_POLICY_RANGE(NLA_U32, 1, HBX_PULL_WINDOW_MAX),
};

static const struct nla_policy hbx_layer_del_policy[HBX_A_LAYER_FORCE + 1] = {
	[HBX_A_LAYER_INDEX]		= NLA_POLICY_MAX(NLA_U32, HBX_MAX_LAYERS - 1),
	[HBX_A_LAYER_FORCE]		= { .type = NLA_FLAG },
};

static const struct nla_policy hbx_layer_get_policy[HBX_A_LAYER_INDEX + 1] = {
	[HBX_A_LAYER_INDEX]		= NLA_POLICY_MAX(NLA_U32, HBX_MAX_LAYERS - 1),
};

static const struct nla_policy hbx_layer_export_policy[HBX_A_LAYER_EXPORT_NAME + 1] = {
	[HBX_A_LAYER_INDEX]		= NLA_POLICY_MAX(NLA_U32, HBX_MAX_LAYERS - 1),
	[HBX_A_LAYER_EXPORTED]		= NLA_POLICY_MAX(NLA_U8, 1),
	[HBX_A_LAYER_EXPORT_MISSING]	= NLA_POLICY_RANGE(NLA_U32, HBX_EXPORT_MISSING_FETCH,
							   HBX_EXPORT_MISSING_NOT_HERE),
	[HBX_A_LAYER_EXPORT_NAME]	= HBX_EXPORT_NAME_POLICY,
};

static const struct nla_policy hbx_peer_sockets_policy[HBX_A_PEER_SOCKET_FD + 1] = {
	[HBX_A_PEER_SOCKET_FD]		= { .type = NLA_U32 },
};

static const struct nla_policy hbx_peer_add_policy[HBX_A_PEER_TIMEOUT_MS + 1] = {
	[HBX_A_PEER_ID]			= { .type = NLA_U32 },	/* add to this peer */
	[HBX_A_PEER_NAME]		= { .type = NLA_NUL_STRING,
					    .len = HBX_PEER_NAME_MAX - 1 },
	[HBX_A_PEER_IDENTITY]		= NLA_POLICY_EXACT_LEN(HBX_DIGEST_SIZE),
	[HBX_A_PEER_ROLE]		= NLA_POLICY_RANGE(NLA_U32, HBX_PEER_ROLE_SERVER,
							   HBX_PEER_ROLE_CLIENT),
	[HBX_A_PEER_SOCKETS]		= NLA_POLICY_NESTED(hbx_peer_sockets_policy),
	[HBX_A_PEER_INSECURE]		= { .type = NLA_FLAG },
	[HBX_A_PEER_TIMEOUT_MS]		= { .type = NLA_U32 },	/* checked below */
};

static const struct nla_policy hbx_peer_id_policy[HBX_A_PEER_ID + 1] = {
	[HBX_A_PEER_ID]			= { .type = NLA_U32 },
};

static int hbx_put_u64(struct sk_buff *skb, int type, u64 value)
{
	return nla_put_u64_64bit(skb, type, value, HBX_A_LAYER_PAD);
}

/* A remote layer's peers and the progress of its pull. */
static int hbx_layer_fill_remote(struct sk_buff *skb, struct hbx_layer *layer)
{
	const struct hbx_chunks *c = &layer->chunks;
	struct hbx_pull_progress pp;
	struct nlattr *nest;
	unsigned int i;

	if (!hbx_layer_is_remote(layer))
		return 0;
	if (nla_put_u32(skb, HBX_A_LAYER_PEER, layer->src.peers[0]->id))
		return -EMSGSIZE;
	nest = nla_nest_start(skb, HBX_A_LAYER_PEERS);
	if (!nest)
		return -EMSGSIZE;
	for (i = 0; i < layer->src.nr_peers; i++)
		if (nla_put_u32(skb, HBX_A_LAYER_PEER, layer->src.peers[i]->id))
			return -EMSGSIZE;
	nla_nest_end(skb, nest);

	hbx_pull_progress(&layer->pull, &pp);
	if (hbx_put_u64(skb, HBX_A_LAYER_CHUNKS_FETCHED, atomic64_read(&c->nr_fetched)) ||
	    hbx_put_u64(skb, HBX_A_LAYER_BYTES_FETCHED, atomic64_read(&c->bytes_fetched)) ||
	    hbx_put_u64(skb, HBX_A_LAYER_FETCH_RETRIES,
			atomic64_read(&layer->src.retries)) ||
	    nla_put_u32(skb, HBX_A_LAYER_PULL_STATE, pp.state) ||
	    (pp.window && nla_put_u32(skb, HBX_A_LAYER_PULL_WINDOW, pp.window)) ||
	    (pp.error && nla_put_u32(skb, HBX_A_LAYER_PULL_ERROR, pp.error)) ||
	    hbx_put_u64(skb, HBX_A_LAYER_PULL_BYTES, pp.bytes) ||
	    hbx_put_u64(skb, HBX_A_LAYER_PULL_NSECS, pp.nsecs))
		return -EMSGSIZE;
	return 0;
}

static int hbx_layer_fill(struct sk_buff *skb, struct hbx_layer *layer)
{
	const struct hbx_manifest *m = &layer->manifest;
	const struct hbx_chunks *c = &layer->chunks;

	if (nla_put_u32(skb, HBX_A_LAYER_INDEX, layer->index) ||
	    nla_put_string(skb, HBX_A_LAYER_DEVICE, layer->disk->disk_name) ||
	    nla_put_u32(skb, HBX_A_LAYER_DEV,
			new_encode_dev(disk_devt(layer->disk))) ||
	    nla_put(skb, HBX_A_LAYER_DIGEST, HBX_DIGEST_SIZE, m->digest) ||
	    hbx_put_u64(skb, HBX_A_LAYER_SIZE, m->image_size) ||
	    nla_put_u32(skb, HBX_A_LAYER_CHUNK_SIZE, hbx_manifest_chunk_size(m)) ||
	    hbx_put_u64(skb, HBX_A_LAYER_CHUNKS_TOTAL, m->chunk_count) ||
	    hbx_put_u64(skb, HBX_A_LAYER_CHUNKS_VERIFIED,
			atomic64_read(&c->nr_verified)) ||
	    hbx_put_u64(skb, HBX_A_LAYER_CHUNKS_HASHED,
			atomic64_read(&c->nr_hashed)) ||
	    hbx_put_u64(skb, HBX_A_LAYER_BYTES_READ,
			atomic64_read(&layer->bytes_read)) ||
	    hbx_put_u64(skb, HBX_A_LAYER_VERIFY_FAILURES,
			atomic64_read(&c->nr_failed)) ||
	    nla_put_u32(skb, HBX_A_LAYER_STATE, hbx_layer_state(layer)) ||
	    nla_put_u32(skb, HBX_A_LAYER_OPENERS, hbx_layer_openers(layer)) ||
	    nla_put_u8(skb, HBX_A_LAYER_EXPORTED, !!layer->export_net) ||
	    (layer->export_net &&
	     nla_put_u32(skb, HBX_A_LAYER_EXPORT_MISSING, READ_ONCE(layer->export_missing))) ||
	    hbx_put_u64(skb, HBX_A_LAYER_CHUNKS_SERVED,
			atomic64_read(&layer->chunks_served)) ||
	    nla_put_u32(skb, HBX_A_LAYER_VERIFY,
			c->always ? HBX_VERIFY_ALWAYS : HBX_VERIFY_ONCE) ||
	    hbx_put_u64(skb, HBX_A_LAYER_BLOCKS_VERIFIED, atomic64_read(&c->nr_blocks)) ||
	    nla_put_u8(skb, HBX_A_LAYER_DIRECT_IO, !!c->direct) ||
	    (layer->export_net && layer->export_name[0] &&
	     nla_put_string(skb, HBX_A_LAYER_EXPORT_NAME, layer->export_name)))
		return -EMSGSIZE;
	return hbx_layer_fill_remote(skb, layer);
}

static int hbx_peer_fill(struct sk_buff *skb, struct hbx_peer *peer)
{
	if (nla_put_u32(skb, HBX_A_PEER_ID, peer->id) ||
	    nla_put_string(skb, HBX_A_PEER_NAME, peer->name) ||
	    (peer->has_identity &&
	     nla_put(skb, HBX_A_PEER_IDENTITY, HBX_DIGEST_SIZE, peer->identity)) ||
	    nla_put_u32(skb, HBX_A_PEER_ROLE, peer->role) ||
	    (peer->insecure && nla_put_flag(skb, HBX_A_PEER_INSECURE)) ||
	    nla_put_u32(skb, HBX_A_PEER_TIMEOUT_MS, peer->timeout_ms) ||
	    nla_put_u32(skb, HBX_A_PEER_STATE, hbx_peer_state(peer)) ||
	    nla_put_u32(skb, HBX_A_PEER_SOCKETS_UP, hbx_peer_socks_up(peer)) ||
	    nla_put_u64_64bit(skb, HBX_A_PEER_REQUESTS,
			      atomic64_read(&peer->requests), HBX_A_PEER_PAD) ||
	    nla_put_u64_64bit(skb, HBX_A_PEER_BYTES_TX,
			      atomic64_read(&peer->bytes_tx), HBX_A_PEER_PAD) ||
	    nla_put_u64_64bit(skb, HBX_A_PEER_BYTES_RX,
			      atomic64_read(&peer->bytes_rx), HBX_A_PEER_PAD) ||
	    nla_put_u64_64bit(skb, HBX_A_PEER_PROTOCOL_ERRORS,
			      atomic64_read(&peer->protocol_errors), HBX_A_PEER_PAD) ||
	    nla_put_u64_64bit(skb, HBX_A_PEER_CORRUPT_CHUNKS,
			      atomic64_read(&peer->corrupt_chunks), HBX_A_PEER_PAD))
		return -EMSGSIZE;
	mutex_lock(&peer->lock);
	if (peer->last_error[0] &&
	    nla_put_string(skb, HBX_A_PEER_LAST_ERROR, peer->last_error)) {
		mutex_unlock(&peer->lock);
		return -EMSGSIZE;
	}
	mutex_unlock(&peer->lock);
	return 0;
}

/* Fills a message with one object's attributes. */
typedef int (*hbx_fill_fn)(struct sk_buff *skb, void *obj, u64 extra);

/* A notification on "events" in net: the object, and for verify-fail its chunk. */
static void hbx_notify(u8 cmd, hbx_fill_fn fill, void *obj, u64 extra,
		       struct net *net, gfp_t gfp)
{
	struct sk_buff *skb;
	void *hdr;

	skb = genlmsg_new(NLMSG_DEFAULT_SIZE, gfp);
	if (!skb)
		return;
	hdr = genlmsg_put(skb, 0, 0, &hbx_family, 0, cmd);
	if (!hdr || fill(skb, obj, extra)) {
		nlmsg_free(skb);
		return;
	}
	genlmsg_end(skb, hdr);
	genlmsg_multicast_netns(&hbx_family, net, skb, 0, HBX_MCGRP_EVENTS_ID, gfp);
}

/* The reply to a do request: one object, same command. */
/*
 * A reply's buffer.  A command that creates something takes it first: an
 * allocation that failed after the creation would report an error for a
 * layer or peer that stays (found by fault injection, faults_debug.sh).
 */
static struct sk_buff *hbx_reply_new(void)
{
	return genlmsg_new(NLMSG_DEFAULT_SIZE, GFP_KERNEL);
}

/* Fill msg (from hbx_reply_new(), consumed) with obj and send it. */
static int hbx_reply_send(struct sk_buff *msg, struct genl_info *info,
			  hbx_fill_fn fill, void *obj)
{
	void *hdr = genlmsg_put_reply(msg, info, &hbx_family, 0, info->genlhdr->cmd);

	if (!hdr || fill(msg, obj, 0)) {
		nlmsg_free(msg);
		return -EMSGSIZE;
	}
	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);
}

static int hbx_reply(struct genl_info *info, hbx_fill_fn fill, void *obj)
{
	struct sk_buff *msg = hbx_reply_new();

	return msg ? hbx_reply_send(msg, info, fill, obj) : -ENOMEM;
}

static int hbx_layer_fill_msg(struct sk_buff *skb, void *layer, u64 unused)
{
	return hbx_layer_fill(skb, layer);
}

struct hbx_verify_fail {
	struct hbx_layer	*layer;
	u64			chunk, block;
};

static int hbx_verify_fail_fill(struct sk_buff *skb, void *arg, u64 unused)
{
	struct hbx_verify_fail *f = arg;

	return hbx_layer_fill(skb, f->layer) ?:
	       hbx_put_u64(skb, HBX_A_LAYER_CHUNK, f->chunk) ?:
	       (f->block != -1ULL ? hbx_put_u64(skb, HBX_A_LAYER_BLOCK, f->block) : 0);
}

static int hbx_peer_fill_msg(struct sk_buff *skb, void *peer, u64 unused)
{
	return hbx_peer_fill(skb, peer);
}

/* From the peer's socket receiver: tell the peer's own namespace. */
void hbx_notify_peer_down(struct hbx_peer *peer)
{
	hbx_notify(HBX_CMD_PEER_DOWN_NTF, hbx_peer_fill_msg, peer, 0, peer->net,
		   GFP_KERNEL);
}

/* Layers are host-wide block devices: tell the initial namespace. */
void hbx_notify_layer(struct hbx_layer *layer, u8 cmd)
{
	hbx_notify(cmd, hbx_layer_fill_msg, layer, 0, &init_net, GFP_KERNEL);
}

/* Called from the I/O path: no allocation may recurse into block I/O. */
void hbx_notify_verify_fail(struct hbx_layer *layer, u64 chunk, u64 block)
{
	struct hbx_verify_fail f = { layer, chunk, block };

	hbx_notify(HBX_CMD_VERIFY_FAIL_NTF, hbx_verify_fail_fill, &f, 0,
		   &init_net, GFP_NOIO);
}

static int hbx_get_info_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct sk_buff *msg;
	unsigned int layers;
	void *hdr;

	msg = genlmsg_new(NLMSG_DEFAULT_SIZE, GFP_KERNEL);
	if (!msg)
		return -ENOMEM;
	hdr = genlmsg_put_reply(msg, info, &hbx_family, 0, HBX_CMD_GET_INFO);
	if (!hdr)
		goto err_free;

	hbx_layers_lock();
	layers = hbx_layers_count();
	hbx_layers_unlock();

	if (nla_put_string(msg, HBX_A_INFO_MODULE_VERSION, HBX_VERSION) ||
	    nla_put_u32(msg, HBX_A_INFO_PROTOCOL_VERSION, HBX_PROTOCOL_VERSION) ||
	    nla_put_u64_64bit(msg, HBX_A_INFO_FEATURES, HBX_FEATURES,
			      HBX_A_INFO_PAD) ||
	    nla_put_u32(msg, HBX_A_INFO_MAX_LAYERS, HBX_MAX_LAYERS) ||
	    nla_put_u32(msg, HBX_A_INFO_CHUNK_SIZE_MIN, 1U << HBX_CHUNK_SHIFT_MIN) ||
	    nla_put_u32(msg, HBX_A_INFO_CHUNK_SIZE_MAX, 1U << HBX_CHUNK_SHIFT_MAX) ||
	    nla_put_u32(msg, HBX_A_INFO_MANIFEST_SIZE_MAX, HBX_MANIFEST_MAX) ||
	    nla_put_u32(msg, HBX_A_INFO_LAYERS, layers) ||
	    nla_put_u32(msg, HBX_A_INFO_PEER_SOCKETS, hbx_peer_socks_held()) ||
	    nla_put_u32(msg, HBX_A_INFO_PEER_SOCKETS_MAX, hbx_peer_socks_max()))
		goto err_cancel;
	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);

err_cancel:
	genlmsg_cancel(msg, hdr);
err_free:
	nlmsg_free(msg);
	return -EMSGSIZE;
}

/* Block devices are host-wide: attaching or detaching one needs more than
 * CAP_NET_ADMIN, which the family's GENL_ADMIN_PERM already checked.
 */
static bool hbx_may_manage_layers(struct sk_buff *skb, struct genl_info *info)
{
	if (netlink_capable(skb, CAP_SYS_ADMIN))
		return true;
	NL_SET_ERR_MSG(info->extack, "managing layers needs CAP_SYS_ADMIN");
	return false;
}

/* HBX_A_LAYER_PEER, or the nest HBX_A_LAYER_PEERS of them, not both. */
static int hbx_layer_parse_peers(struct hbx_layer_params *p,
				 struct genl_info *info)
{
	const struct nlattr *nest = info->attrs[HBX_A_LAYER_PEERS], *attr;
	int rem;

	if (!nest) {
		p->peer_ids[p->nr_peers++] = nla_get_u32(info->attrs[HBX_A_LAYER_PEER]);
		return 0;
	}
	if (info->attrs[HBX_A_LAYER_PEER]) {
		NL_SET_ERR_MSG_ATTR(info->extack, nest, "give one peer or a list of peers, not both");
		return -EINVAL;
	}
	nla_for_each_nested(attr, nest, rem) {
		if (nla_type(attr) != HBX_A_LAYER_PEER)
			continue;
		if (p->nr_peers == HBX_LAYER_PEERS_MAX) {
			NL_SET_ERR_MSG_ATTR(info->extack, nest, "too many peers for one layer");
			return -E2BIG;
		}
		p->peer_ids[p->nr_peers++] = nla_get_u32(attr);
	}
	if (!p->nr_peers) {
		NL_SET_ERR_MSG_ATTR(info->extack, nest, "the list of peers is empty");
		return -EINVAL;
	}
	return 0;
}

/*
 * An export name, if given: what the policy cannot say.  Names travel in
 * messages and logs, so no spaces or control characters.
 */
static int hbx_export_name_get(struct genl_info *info, const char **name)
{
	const struct nlattr *attr = info->attrs[HBX_A_LAYER_EXPORT_NAME];
	const char *s;

	*name = NULL;
	if (!attr)
		return 0;
	for (s = nla_data(attr); *s; s++)
		if (*s < 0x21 || *s > 0x7e)
			break;
	if (*s || s == (const char *)nla_data(attr)) {
		NL_SET_ERR_MSG_ATTR(info->extack, attr,
				    "an export name is 1 to 127 printable characters, no spaces");
		return -EINVAL;
	}
	*name = nla_data(attr);
	return 0;
}

static u32 hbx_pull_window(struct genl_info *info)
{
	const struct nlattr *attr = info->attrs[HBX_A_LAYER_PULL_WINDOW];

	return attr ? nla_get_u32(attr) : HBX_PULL_WINDOW_DEFAULT;
}

static int hbx_layer_add_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct hbx_layer_params p = { .verify = HBX_VERIFY_ALWAYS, .hashes_fd = -1 };
	struct hbx_layer *layer;
	struct sk_buff *msg;
	int err;

	if (!hbx_may_manage_layers(skb, info))
		return -EPERM;
	p.remote = info->attrs[HBX_A_LAYER_PEER] || info->attrs[HBX_A_LAYER_PEERS];
	if (p.remote) {
		/* Remote: the peer has the manifest and the image comes to a cache. */
		if (info->attrs[HBX_A_LAYER_IMAGE_FD] || info->attrs[HBX_A_LAYER_MANIFEST_FD]) {
			NL_SET_ERR_MSG(info->extack, "a remote layer takes a peer and a cache fd, not image or manifest fds");
			return -EINVAL;
		}
		if (HBX_REQUIRE(info, HBX_A_LAYER_CACHE_FD, "cache fd is required for a remote layer"))
			return -EINVAL;
		if (info->attrs[HBX_A_LAYER_HASHES_FD]) {
			NL_SET_ERR_MSG_ATTR(info->extack, info->attrs[HBX_A_LAYER_HASHES_FD],
					    "a remote layer's leaf hashes come with its chunks: no hash file");
			return -EINVAL;
		}
		err = hbx_layer_parse_peers(&p, info);
		if (err)
			return err;
		p.cache_fd = nla_get_u32(info->attrs[HBX_A_LAYER_CACHE_FD]);
	} else {
		if (HBX_REQUIRE(info, HBX_A_LAYER_IMAGE_FD, "image fd is required") ||
		    HBX_REQUIRE(info, HBX_A_LAYER_MANIFEST_FD, "manifest fd is required"))
			return -EINVAL;
		p.image_fd = nla_get_u32(info->attrs[HBX_A_LAYER_IMAGE_FD]);
		p.manifest_fd = nla_get_u32(info->attrs[HBX_A_LAYER_MANIFEST_FD]);
		if (info->attrs[HBX_A_LAYER_HASHES_FD])
			p.hashes_fd = nla_get_u32(info->attrs[HBX_A_LAYER_HASHES_FD]);
	}
	err = hbx_export_name_get(info, &p.export_name);
	if (err)
		return err;
	if (p.export_name && !p.remote) {
		NL_SET_ERR_MSG_ATTR(info->extack, info->attrs[HBX_A_LAYER_EXPORT_NAME],
				    "only a remote layer is added by export name");
		return -EINVAL;
	}
	if (p.export_name && info->attrs[HBX_A_LAYER_DIGEST]) {
		NL_SET_ERR_MSG_ATTR(info->extack, info->attrs[HBX_A_LAYER_EXPORT_NAME],
				    "give a digest or an export name, not both");
		return -EINVAL;
	}
	if (!p.export_name) {
		if (HBX_REQUIRE(info, HBX_A_LAYER_DIGEST, "manifest digest is required"))
			return -EINVAL;
		p.digest = nla_data(info->attrs[HBX_A_LAYER_DIGEST]);
	}
	if (info->attrs[HBX_A_LAYER_FLAGS])
		p.flags = nla_get_u32(info->attrs[HBX_A_LAYER_FLAGS]);
	if (p.flags & HBX_LAYER_F_PREFETCH && !p.remote) {
		NL_SET_ERR_MSG_ATTR(info->extack, info->attrs[HBX_A_LAYER_FLAGS],
				    "prefetch is for remote layers");
		return -EINVAL;
	}
	p.pull_window = hbx_pull_window(info);
	if (info->attrs[HBX_A_LAYER_VERIFY])
		p.verify = nla_get_u32(info->attrs[HBX_A_LAYER_VERIFY]);

	msg = hbx_reply_new();
	if (!msg)
		return -ENOMEM;
	layer = hbx_layer_add(&p, info);
	if (IS_ERR(layer)) {
		nlmsg_free(msg);
		return PTR_ERR(layer);
	}
	/* Still under the registry lock: nobody can delete it yet. */
	hbx_notify_layer(layer, HBX_CMD_LAYER_ADD_NTF);
	err = hbx_reply_send(msg, info, hbx_layer_fill_msg, layer);
	hbx_layers_unlock();
	return err;
}

static int hbx_layer_del_doit(struct sk_buff *skb, struct genl_info *info)
{
	if (!hbx_may_manage_layers(skb, info))
		return -EPERM;
	if (HBX_REQUIRE(info, HBX_A_LAYER_INDEX, "layer index is required"))
		return -EINVAL;
	return hbx_layer_del(nla_get_u32(info->attrs[HBX_A_LAYER_INDEX]),
			     nla_get_flag(info->attrs[HBX_A_LAYER_FORCE]), info);
}

static int hbx_layer_export_doit(struct sk_buff *skb, struct genl_info *info)
{
	const char *name;
	bool on;
	int err;

	if (!hbx_may_manage_layers(skb, info))
		return -EPERM;
	if (HBX_REQUIRE(info, HBX_A_LAYER_INDEX, "layer index is required") ||
	    HBX_REQUIRE(info, HBX_A_LAYER_EXPORTED, "exported (0 or 1) is required"))
		return -EINVAL;
	on = nla_get_u8(info->attrs[HBX_A_LAYER_EXPORTED]);
	err = hbx_export_name_get(info, &name);
	if (err)
		return err;
	if (name && !on) {
		NL_SET_ERR_MSG_ATTR(info->extack, info->attrs[HBX_A_LAYER_EXPORT_NAME],
				    "an export name is only given when exporting");
		return -EINVAL;
	}
	return hbx_layer_export(nla_get_u32(info->attrs[HBX_A_LAYER_INDEX]), on,
				info->attrs[HBX_A_LAYER_EXPORT_MISSING] ?
				nla_get_u32(info->attrs[HBX_A_LAYER_EXPORT_MISSING]) :
				HBX_EXPORT_MISSING_FETCH, name, info);
}

static int hbx_layer_pull_doit(struct sk_buff *skb, struct genl_info *info)
{
	if (!hbx_may_manage_layers(skb, info))
		return -EPERM;
	if (HBX_REQUIRE(info, HBX_A_LAYER_INDEX, "layer index is required"))
		return -EINVAL;
	return hbx_layer_pull(nla_get_u32(info->attrs[HBX_A_LAYER_INDEX]),
			      hbx_pull_window(info), info);
}

/*
 * Peers hold sockets, kernel memory and workers' time that no cgroup's
 * limits see, so only the host's network admin (CAP_NET_ADMIN in the
 * initial user namespace) may add them; the family lets a namespace's
 * admin in so the refusal can say why.  Deleting and listing stay with the namespace's own admin.
 */
static bool hbx_may_add_peers(struct sk_buff *skb, struct genl_info *info)
{
	if (netlink_capable(skb, CAP_NET_ADMIN))
		return true;
	NL_SET_ERR_MSG(info->extack,
		       "adding peers needs CAP_NET_ADMIN in the initial user namespace");
	return false;
}

static int hbx_peer_parse_sockets(struct hbx_peer_params *p,
				  struct genl_info *info)
{
	const struct nlattr *nest = info->attrs[HBX_A_PEER_SOCKETS], *attr;
	int rem;

	nla_for_each_nested(attr, nest, rem) {
		if (nla_type(attr) != HBX_A_PEER_SOCKET_FD)
			continue;
		if (p->nr_fds == HBX_PEER_SOCKETS_MAX) {
			NL_SET_ERR_MSG_ATTR(info->extack, nest, "too many sockets for one peer");
			return -E2BIG;
		}
		p->fds[p->nr_fds++] = nla_get_u32(attr);
	}
	if (!p->nr_fds) {
		NL_SET_ERR_MSG_ATTR(info->extack, nest, "no socket given");
		return -EINVAL;
	}
	return 0;
}

static int hbx_peer_add_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct hbx_peer_params p = { .timeout_ms = HBX_PEER_TIMEOUT_MS_DEFAULT };
	struct hbx_peer *peer;
	struct sk_buff *msg;
	int err;

	if (!hbx_may_add_peers(skb, info))
		return -EPERM;
	if (HBX_REQUIRE(info, HBX_A_PEER_ROLE, "peer role is required") ||
	    HBX_REQUIRE(info, HBX_A_PEER_SOCKETS, "at least one socket is required"))
		return -EINVAL;
	p.role = nla_get_u32(info->attrs[HBX_A_PEER_ROLE]);
	if (info->attrs[HBX_A_PEER_NAME])
		p.name = nla_data(info->attrs[HBX_A_PEER_NAME]);
	if (info->attrs[HBX_A_PEER_IDENTITY])
		p.identity = nla_data(info->attrs[HBX_A_PEER_IDENTITY]);
	p.insecure = nla_get_flag(info->attrs[HBX_A_PEER_INSECURE]);
	if (info->attrs[HBX_A_PEER_TIMEOUT_MS])
		p.timeout_ms = nla_get_u32(info->attrs[HBX_A_PEER_TIMEOUT_MS]);
	if (p.timeout_ms > HBX_PEER_TIMEOUT_MS_MAX) {
		NL_SET_ERR_MSG_ATTR(info->extack, info->attrs[HBX_A_PEER_TIMEOUT_MS],
				    "timeout is longer than an hour");
		return -ERANGE;
	}
	err = hbx_peer_parse_sockets(&p, info);
	if (err)
		return err;

	msg = hbx_reply_new();
	if (!msg)
		return -ENOMEM;
	if (info->attrs[HBX_A_PEER_ID])
		peer = hbx_peer_add_sockets(nla_get_u32(info->attrs[HBX_A_PEER_ID]),
					    &p, info);
	else
		peer = hbx_peer_add(&p, info);
	if (IS_ERR(peer)) {
		nlmsg_free(msg);
		return PTR_ERR(peer);
	}
	err = hbx_reply_send(msg, info, hbx_peer_fill_msg, peer);
	hbx_peers_unlock();
	return err;
}

static int hbx_peer_del_doit(struct sk_buff *skb, struct genl_info *info)
{
	if (HBX_REQUIRE(info, HBX_A_PEER_ID, "peer id is required"))
		return -EINVAL;
	return hbx_peer_del(nla_get_u32(info->attrs[HBX_A_PEER_ID]), info);
}

static int hbx_peer_get_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct hbx_peer *peer;
	int err;

	if (HBX_REQUIRE(info, HBX_A_PEER_ID, "peer id is required"))
		return -EINVAL;
	hbx_peers_lock();
	peer = hbx_peer_find(genl_info_net(info),
			     nla_get_u32(info->attrs[HBX_A_PEER_ID]));
	if (peer) {
		err = hbx_reply(info, hbx_peer_fill_msg, peer);
	} else {
		NL_SET_ERR_MSG_ATTR(info->extack, info->attrs[HBX_A_PEER_ID],
				    "no peer with that id in this network namespace");
		err = -ENOENT;
	}
	hbx_peers_unlock();
	return err;
}

/* cb->args[0]: the next peer id to visit, in the caller's namespace. */
static int hbx_peer_get_dumpit(struct sk_buff *skb, struct netlink_callback *cb)
{
	struct net *net = sock_net(cb->skb->sk);
	struct hbx_peer *peer;
	u32 id = cb->args[0];
	int err = 0;
	void *hdr;

	hbx_peers_lock();
	cb->seq = hbx_peers_gen();
	while ((peer = hbx_peer_next(net, &id))) {
		hdr = genlmsg_put(skb, NETLINK_CB(cb->skb).portid,
				  cb->nlh->nlmsg_seq, &hbx_family, NLM_F_MULTI,
				  HBX_CMD_PEER_GET);
		if (!hdr) {
			err = -EMSGSIZE;
			break;
		}
		genl_dump_check_consistent(cb, hdr);
		err = hbx_peer_fill(skb, peer);
		if (err) {
			genlmsg_cancel(skb, hdr);
			break;
		}
		genlmsg_end(skb, hdr);
		id++;
	}
	hbx_peers_unlock();
	cb->args[0] = id;
	if (err == -EMSGSIZE && skb->len)
		return skb->len;
	return err ? err : skb->len;
}

static int hbx_layer_get_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct hbx_layer *layer;
	int err;

	if (HBX_REQUIRE(info, HBX_A_LAYER_INDEX, "layer index is required"))
		return -EINVAL;
	hbx_layers_lock();
	layer = hbx_layer_find(nla_get_u32(info->attrs[HBX_A_LAYER_INDEX]));
	if (layer) {
		err = hbx_reply(info, hbx_layer_fill_msg, layer);
	} else {
		NL_SET_ERR_MSG_ATTR(info->extack, info->attrs[HBX_A_LAYER_INDEX],
				    "no layer with that index");
		err = -ENOENT;
	}
	hbx_layers_unlock();
	return err;
}

/* cb->args[0]: the next layer index to visit. */
static int hbx_layer_get_dumpit(struct sk_buff *skb, struct netlink_callback *cb)
{
	struct hbx_layer *layer;
	u32 index = cb->args[0];
	int err = 0;
	void *hdr;

	hbx_layers_lock();
	cb->seq = hbx_layers_gen();
	while ((layer = hbx_layer_next(&index))) {
		hdr = genlmsg_put(skb, NETLINK_CB(cb->skb).portid,
				  cb->nlh->nlmsg_seq, &hbx_family, NLM_F_MULTI,
				  HBX_CMD_LAYER_GET);
		if (!hdr) {
			err = -EMSGSIZE;
			break;
		}
		genl_dump_check_consistent(cb, hdr);
		err = hbx_layer_fill(skb, layer);
		if (err) {
			genlmsg_cancel(skb, hdr);
			break;
		}
		genlmsg_end(skb, hdr);
		index++;
	}
	hbx_layers_unlock();
	cb->args[0] = index;
	/* A full skb ends this part of the dump; the next call resumes. */
	if (err == -EMSGSIZE && skb->len)
		return skb->len;
	return err ? err : skb->len;
}

/* In command order: split ops (6.2+) must be sorted, or registration fails. */
static const hbx_genl_op hbx_ops[] = {
	HBX_GENL_DO(HBX_CMD_GET_INFO, hbx_get_info_doit, hbx_no_attrs_policy,
		    GENL_ADMIN_PERM),
	HBX_GENL_DO(HBX_CMD_LAYER_ADD, hbx_layer_add_doit, hbx_layer_add_policy,
		    GENL_ADMIN_PERM),
	HBX_GENL_DO(HBX_CMD_LAYER_DEL, hbx_layer_del_doit, hbx_layer_del_policy,
		    GENL_ADMIN_PERM),
	HBX_GENL_DO_DUMP(HBX_CMD_LAYER_GET, hbx_layer_get_doit,
			 hbx_layer_get_dumpit, hbx_layer_get_policy,
			 GENL_ADMIN_PERM),
	HBX_GENL_DO(HBX_CMD_LAYER_EXPORT, hbx_layer_export_doit,
		    hbx_layer_export_policy, GENL_ADMIN_PERM),
	/* Peers are per network namespace; adding them is checked in the doit. */
	HBX_GENL_DO(HBX_CMD_PEER_ADD, hbx_peer_add_doit, hbx_peer_add_policy,
		    GENL_UNS_ADMIN_PERM),
	HBX_GENL_DO(HBX_CMD_PEER_DEL, hbx_peer_del_doit, hbx_peer_id_policy,
		    GENL_UNS_ADMIN_PERM),
	HBX_GENL_DO_DUMP(HBX_CMD_PEER_GET, hbx_peer_get_doit,
			 hbx_peer_get_dumpit, hbx_peer_id_policy,
			 GENL_UNS_ADMIN_PERM),
	HBX_GENL_DO(HBX_CMD_LAYER_PULL, hbx_layer_pull_doit,
		    hbx_layer_pull_policy, GENL_ADMIN_PERM),
};

static struct genl_family hbx_family __ro_after_init = {
	.name		= HBX_GENL_NAME,
	.version	= HBX_GENL_VERSION,
	.netnsok	= true,
	.parallel_ops	= true,
	.module		= THIS_MODULE,
	HBX_GENL_OPS(hbx_ops),
	.mcgrps		= hbx_mcgrps,
	.n_mcgrps	= ARRAY_SIZE(hbx_mcgrps),
};

int __init hbx_netlink_init(void)
{
	return genl_register_family(&hbx_family);
}

void hbx_netlink_exit(void)
{
	genl_unregister_family(&hbx_family);
}
