/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Roots with layers attached already (pulled ones), and a root's lower
 * layer let go of: shared by hbx rootfs and hbx image.
 */
#ifndef HBX_CLI_ROOTFS_H
#define HBX_CLI_ROOTFS_H

#include <stdbool.h>
#include "layer.h"

/*
 * An attached layer that something else holds (a pull, an export) mounted
 * read-only at dir; never detached here, not even when the mount fails.
 */
int hbx_mount_held(const struct hbx_layer_info *l, const char *dir);

/*
 * hbx_rootfs_mount(), where a layer whose image is NULL is not stored here
 * but attached already (pulled): attached[i], which hbx_mount_held() mounts.
 */
int hbx_rootfs_mount_attached(struct hbx_nl *nl, const struct hbx_rootfs_layer *layers,
			      const struct hbx_layer_info *attached, int n,
			      const char *upper, const char *work, const char *dir);

/*
 * Unmount the layer mounted at dir and detach it, unless something else
 * holds it: an export (peers fetch from it) or a pull (it is remote, and
 * hbx image pull attached it for the image's life).
 */
int hbx_rootfs_put_layer(struct hbx_nl *nl, const char *dir);

#endif
