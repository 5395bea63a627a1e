/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Attached layers found by digest, and a root's lower layer let go of:
 * shared by rootfs (hbx rootfs) and the image commands (hbx image).
 */
#ifndef HBX_CLI_ROOTFS_H
#define HBX_CLI_ROOTFS_H

#include <stdbool.h>
#include "layer.h"

/* Which attached layers hbx_layer_find() may return. */
enum hbx_find {
	HBX_FIND_LOCAL		= 1 << 0,	/* backed by a local image */
	HBX_FIND_REMOTE		= 1 << 1,	/* fetched from peers (pulled) */
	HBX_FIND_REMOTE_FIRST	= 1 << 2,	/* both allowed: prefer remote */
};

/* A live attached layer with this digest; false if there is none. */
bool hbx_layer_find(struct hbx_nl *nl, const char *digest, unsigned int find,
		    struct hbx_layer_info *out);

/*
 * A layer whose image is not stored here (a hbx_rootfs_layer's image NULL):
 * the one hbx image pull attached, found by digest, mounted read-only at
 * dir.  It is never detached here, not even when the mount fails.
 */
int hbx_mount_pulled(struct hbx_nl *nl, const char *digest, const char *dir);

/*
 * Unmount the layer mounted at dir and detach it, unless something else
 * holds it: an export (peers fetch from it) or a pull (it is remote, and
 * hbx image pull attached it for the image's life).
 */
int hbx_rootfs_put_layer(struct hbx_nl *nl, const char *dir);

#endif
