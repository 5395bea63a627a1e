/* SPDX-License-Identifier: GPL-2.0 */
#ifndef HBX_NETLINK_H
#define HBX_NETLINK_H

#include <linux/types.h>
#include <linux/hyperbox.h>

#include <linux/netlink.h>

struct hbx_layer;

/* NL_SET_ERR_MSG_ATTR() for a message picked at run time; msg is static. */
static inline void hbx_extack_attr(struct netlink_ext_ack *extack,
				   const struct nlattr *attr, const char *msg)
{
	if (extack) {
		extack->_msg = msg;
		extack->bad_attr = attr;
	}
}

/* What this build of the module offers (HBX_A_INFO_FEATURES). */
#define HBX_FEATURES (HBX_FEATURE_LAYERS | HBX_FEATURE_VERIFY | \
		      HBX_FEATURE_EVENTS | HBX_FEATURE_SERVE | HBX_FEATURE_REMOTE | \
		      HBX_FEATURE_LAZY_PULL | HBX_FEATURE_EXPORT_NAMES)

int hbx_netlink_init(void);
void hbx_netlink_exit(void);

void hbx_notify_layer(struct hbx_layer *layer, u8 cmd);
/* A chunk, or (block != -1) a 4 KiB block read from storage, did not match. */
void hbx_notify_verify_fail(struct hbx_layer *layer, u64 chunk, u64 block);
struct hbx_peer;
void hbx_notify_peer_down(struct hbx_peer *peer);

#endif
