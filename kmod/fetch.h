/* SPDX-License-Identifier: GPL-2.0 */
#ifndef HBX_FETCH_H
#define HBX_FETCH_H

#include <linux/atomic.h>
#include <linux/types.h>
#include <linux/hyperbox.h>

struct genl_info;
struct hbx_layer_params;
struct hbx_peer;
struct netlink_ext_ack;
struct nlattr;

/*
 * Where a remote thing comes from: peers asked one at a time, the one that
 * answered last first.  *dead says the asker is gone (a deleted layer), so
 * every wait ends.
 */
struct hbx_source {
	struct hbx_peer	*peers[HBX_LAYER_PEERS_MAX];
	unsigned int	nr_peers;
	unsigned int	fetch_from;
	atomic64_t	retries;
	const bool	*dead;
};

/*
 * The peers of a remote layer: referenced, in the order given, each a
 * client peer of the caller's network namespace.  Put them with
 * hbx_fetch_put_peers().
 */
int hbx_fetch_get_peers(struct hbx_source *src, const struct hbx_layer_params *p,
			struct genl_info *info);
void hbx_fetch_put_peers(struct hbx_source *src);

/*
 * A remote layer's manifest, checked against digest.  The network is never
 * waited on here (callers hold genetlink's lock): the first call starts a
 * fetch in the background from src's peers and returns -EINPROGRESS, as do
 * calls while it runs; the first call after it ended gets the manifest
 * (*buf, kvmalloc'd, the caller's) or its error, with a sentence in extack.
 * by_name: digest is an export name's key (hbx_export_name_key()), and the
 * manifest is whatever the first peer that knows the name sends.
 */
int hbx_fetch_manifest(struct hbx_source *src, const u8 *digest, bool by_name,
		       void **buf, u32 *len, struct netlink_ext_ack *extack,
		       const struct nlattr *attr);
void hbx_fetch_exit(void);

/* The chunk fetcher of struct hbx_chunks (its fetch): ctx is the layer. */
int hbx_fetch_chunks(void *ctx, u64 first, u64 count, void **buf, u32 *len);

#endif
