/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Force-included into every kmod/ file.  Each difference between the kernels
 * we support (Debian 12's 6.1, bookworm's 6.12) becomes one named switch
 * here; code tests the switch, never LINUX_VERSION_CODE.
 */
#ifndef HBX_COMPAT_H
#define HBX_COMPAT_H

#include <linux/version.h>

/* 6.2: genl_split_ops (separate do and dump entries) replace genl_ops. */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 2, 0)
#define HBX_HAVE_SPLIT_OPS 1
#endif

/* 6.5: block_device_operations take (gendisk, blk_mode_t). */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 5, 0)
#define HBX_HAVE_BLK_MODE_T 1
#endif

/* 6.5: sendpage went; sendmsg takes pages by reference (MSG_SPLICE_PAGES). */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 5, 0)
#define HBX_HAVE_MSG_SPLICE_PAGES 1
#endif

/* 6.9: blk_mq_alloc_disk() takes queue_limits; the setters went away. */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 9, 0)
#define HBX_HAVE_QUEUE_LIMITS_ALLOC 1
#endif

/* 6.10: a block device's page cache is bdev->bd_mapping (bd_inode went). */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 10, 0)
#define HBX_HAVE_BD_MAPPING 1
#endif

#endif /* HBX_COMPAT_H */
