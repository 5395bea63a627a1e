/* SPDX-License-Identifier: GPL-2.0 */
#ifndef HBX_LAYER_H
#define HBX_LAYER_H

#include <linux/blk-mq.h>
#include <linux/mutex.h>
#include <linux/atomic.h>
#include <linux/workqueue.h>
#include "manifest.h"
#include "chunk.h"
#include "pull.h"
#include "fetch.h"

struct genl_info;
struct net;

#define HBX_MAX_LAYERS	256

struct hbx_layer {
	int			index;		/* N of /dev/hbxN */
	struct gendisk		*disk;
	struct blk_mq_tag_set	tag_set;
	/*
	 * Its own: a read that waits on the network (a remote layer's fetch,
	 * up to its peers' timeout) holds up this device's reads only.
	 */
	struct workqueue_struct	*io_wq;
	/*
	 * Write access denied while held (a cache: claimed).  The layer also
	 * holds chunks.direct, the image opened again with O_DIRECT.
	 */
	struct file		*image;
	struct hbx_manifest	manifest;
	struct hbx_chunks	chunks;

	struct mutex		lock;		/* openers, dead */
	unsigned int		openers;
	bool			dead;		/* deleted: opens and I/O fail */
	struct work_struct	destroy_work;	/* teardown after last close */

	atomic64_t		bytes_read;
	atomic64_t		chunks_served;	/* to peers */

	/*
	 * Served to peers there.  Not counted: a namespace that goes
	 * unexports its layers first (hbx_layers_net_exit()).
	 */
	struct net		*export_net;
	u32			export_missing;	/* enum hbx_export_missing */
	/* "" or the name peers may ask for its manifest by, and its key. */
	char			export_name[HBX_EXPORT_NAME_MAX];
	u8			export_key[HBX_DIGEST_SIZE];
	atomic_t		pins;		/* servers copying out of it */

	/* Remote layers: where chunks come from (fetch.c), and the pull. */
	struct hbx_source	src;
	struct hbx_pull		pull;
};

static inline bool hbx_layer_is_remote(const struct hbx_layer *layer)
{
	return layer->src.nr_peers;
}

struct hbx_layer_params {
	int		image_fd;
	int		manifest_fd;
	const u8	*digest;	/* NULL: remote, by export_name */
	const char	*export_name;
	bool		remote;		/* from the peers, cached in cache_fd */
	u32		peer_ids[HBX_LAYER_PEERS_MAX];
	unsigned int	nr_peers;
	int		cache_fd;
	u32		flags;		/* enum hbx_layer_flag */
	u32		pull_window;
	u32		verify;		/* enum hbx_verify_mode */
	int		hashes_fd;	/* -1: none */
};

int hbx_layer_init(void);
void hbx_layer_exit(void);
/* A network namespace is going: its exports end. */
void hbx_layers_net_exit(struct net *net);

/*
 * On success the layer is attached and published, and the registry is left
 * locked so the caller can report it before anyone can delete it; the caller
 * then calls hbx_layers_unlock().
 */
struct hbx_layer *hbx_layer_add(const struct hbx_layer_params *p,
				struct genl_info *info);
int hbx_layer_del(u32 index, bool force, struct genl_info *info);
/* name: "" or NULL for none. */
int hbx_layer_export(u32 index, bool on, u32 missing, const char *name,
		     struct genl_info *info);
int hbx_layer_pull(u32 index, u32 window, struct genl_info *info);

/*
 * The live layer with this manifest digest exported in net, pinned: its data
 * stays until hbx_layer_put_exported().  Hold pins only briefly.  by_name:
 * the digest may also be the key of the name it is exported under (a
 * manifest request; chunks are only ever asked for by digest).
 */
struct hbx_layer *hbx_layer_get_exported(struct net *net, const u8 *digest,
					 bool by_name);
void hbx_layer_put_exported(struct hbx_layer *layer);

/*
 * The registry lock keeps a looked-up layer alive; netlink holds it while it
 * fills a reply or walks a dump.  hbx_layers_gen changes on every add and
 * delete so a dump can flag itself inconsistent.
 */
void hbx_layers_lock(void);
void hbx_layers_unlock(void);
struct hbx_layer *hbx_layer_find(u32 index);
struct hbx_layer *hbx_layer_next(u32 *index);
unsigned int hbx_layers_gen(void);
unsigned int hbx_layers_count(void);

enum hbx_layer_state hbx_layer_state(struct hbx_layer *layer);
unsigned int hbx_layer_openers(struct hbx_layer *layer);

#endif
