/* SPDX-License-Identifier: GPL-2.0 */
#ifndef HBX_FETCH_H
#define HBX_FETCH_H

#include <linux/types.h>

struct genl_info;
struct hbx_layer;
struct hbx_layer_params;

/*
 * A remote layer's peers: referenced at attach, in the order given, each a
 * client peer of the caller's network namespace.  Put them with
 * hbx_fetch_put_peers().
 */
int hbx_fetch_get_peers(struct hbx_layer *layer,
			const struct hbx_layer_params *p,
			struct genl_info *info);
void hbx_fetch_put_peers(struct hbx_layer *layer);

/* The layer's manifest from the first peer that has it (unchecked). */
int hbx_fetch_manifest(struct hbx_layer *layer, const u8 *digest,
		       void **buf, u32 *len, struct genl_info *info);

/* The chunk fetcher of struct hbx_chunks: ctx is the layer. */
int hbx_fetch_chunk(void *ctx, u64 index, void *buf, u32 len);

#endif
