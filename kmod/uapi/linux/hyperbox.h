/* SPDX-License-Identifier: ((GPL-2.0 WITH Linux-syscall-note) OR MIT) */
/*
 * HyperBox user/kernel interface: the generic netlink family "hyperbox" and
 * the layer manifest format.  This is the only copy; user space includes it
 * as <linux/hyperbox.h>.  kmod/hyperbox.yaml describes the same protocol in
 * ynl form and must be kept in step with this file.
 */
#ifndef _UAPI_LINUX_HYPERBOX_H
#define _UAPI_LINUX_HYPERBOX_H

#include <linux/types.h>

#define HBX_GENL_NAME		"hyperbox"
#define HBX_GENL_VERSION	1
#define HBX_MCGRP_EVENTS	"events"

/* Bumped whenever a command or attribute changes meaning. */
#define HBX_PROTOCOL_VERSION	1

/* Feature bits reported by HBX_CMD_GET_INFO in HBX_A_INFO_FEATURES. */
enum hbx_feature {
	HBX_FEATURE_LAYERS	= 1 << 0,	/* LAYER_ADD/DEL/GET */
	HBX_FEATURE_VERIFY	= 1 << 1,	/* SHA-256 chunk verification */
	HBX_FEATURE_EVENTS	= 1 << 2,	/* "events" notifications */
};

/*
 * Manifest: a header followed by chunk_count SHA-256 digests, one per chunk
 * of the image, in order.  All integers are little endian.  The layer's
 * identity is the SHA-256 of the manifest's bytes ("sha256:<hex>").
 */
#define HBX_MANIFEST_MAGIC	0x4d584248	/* "HBXM" */
#define HBX_MANIFEST_VERSION	1
#define HBX_HASH_SHA256		1
#define HBX_DIGEST_SIZE		32
#define HBX_CHUNK_SHIFT_MIN	12		/* 4 KiB */
#define HBX_CHUNK_SHIFT_MAX	22		/* 4 MiB */
#define HBX_CHUNK_SHIFT_DEFAULT	16		/* 64 KiB */
#define HBX_BLOCK_SIZE		4096		/* images are whole blocks */
#define HBX_MANIFEST_MAX	(64U << 20)	/* bounds a kernel allocation */

struct hbx_manifest_header {
	__le32	magic;
	__le16	version;
	__u8	hash_algo;	/* HBX_HASH_* */
	__u8	chunk_shift;	/* chunk size is 1 << chunk_shift */
	__le64	image_size;	/* bytes, a multiple of HBX_BLOCK_SIZE */
	__le64	chunk_count;	/* DIV_ROUND_UP(image_size, chunk size) */
	__u8	reserved[8];	/* zero */
};

/* Commands. */
enum hbx_cmd {
	HBX_CMD_UNSPEC,
	HBX_CMD_GET_INFO,	/* do: module version, protocol, features, limits */
	HBX_CMD_LAYER_ADD,	/* do: attach an image as /dev/hbxN */
	HBX_CMD_LAYER_DEL,	/* do: detach a layer */
	HBX_CMD_LAYER_GET,	/* do (by index) and dump */
	HBX_CMD_LAYER_ADD_NTF,	/* notification: a layer was attached */
	HBX_CMD_LAYER_DEL_NTF,	/* notification: a layer was detached */
	HBX_CMD_VERIFY_FAIL_NTF, /* notification: a chunk failed verification */

	__HBX_CMD_MAX,
	HBX_CMD_MAX = __HBX_CMD_MAX - 1
};

/* Attributes of HBX_CMD_GET_INFO replies. */
enum hbx_info_attr {
	HBX_A_INFO_UNSPEC,
	HBX_A_INFO_MODULE_VERSION,	/* string */
	HBX_A_INFO_PROTOCOL_VERSION,	/* u32 */
	HBX_A_INFO_FEATURES,		/* u64, enum hbx_feature bits */
	HBX_A_INFO_MAX_LAYERS,		/* u32 */
	HBX_A_INFO_CHUNK_SIZE_MIN,	/* u32 */
	HBX_A_INFO_CHUNK_SIZE_MAX,	/* u32 */
	HBX_A_INFO_MANIFEST_SIZE_MAX,	/* u32 */
	HBX_A_INFO_LAYERS,		/* u32, layers attached now */
	HBX_A_INFO_PAD,

	__HBX_A_INFO_MAX,
	HBX_A_INFO_MAX = __HBX_A_INFO_MAX - 1
};

/* Layer states (HBX_A_LAYER_STATE). */
enum hbx_layer_state {
	HBX_LAYER_STATE_LIVE = 1,	/* serving reads */
	HBX_LAYER_STATE_DEAD,		/* force-deleted, still open: all I/O fails */
};

/* HBX_A_LAYER_FLAGS: none defined yet; unknown bits are rejected. */
#define HBX_LAYER_FLAGS_ALL	0U

/* Attributes of layer commands and notifications. */
enum hbx_layer_attr {
	HBX_A_LAYER_UNSPEC,
	HBX_A_LAYER_INDEX,		/* u32: N of /dev/hbxN */
	HBX_A_LAYER_IMAGE_FD,		/* u32: fd of the EROFS image, read */
	HBX_A_LAYER_MANIFEST_FD,	/* u32: fd of the manifest, read */
	HBX_A_LAYER_DIGEST,		/* binary[32]: SHA-256 of the manifest */
	HBX_A_LAYER_FLAGS,		/* u32 */
	HBX_A_LAYER_FORCE,		/* flag: LAYER_DEL even while open */
	HBX_A_LAYER_DEVICE,		/* string: "hbxN" */
	HBX_A_LAYER_DEV,		/* u32: device number, new_encode_dev() */
	HBX_A_LAYER_SIZE,		/* u64: image bytes */
	HBX_A_LAYER_CHUNK_SIZE,		/* u32 */
	HBX_A_LAYER_CHUNKS_TOTAL,	/* u64 */
	HBX_A_LAYER_CHUNKS_VERIFIED,	/* u64 */
	HBX_A_LAYER_CHUNKS_HASHED,	/* u64: chunk hashes computed */
	HBX_A_LAYER_BYTES_READ,		/* u64: bytes served to readers */
	HBX_A_LAYER_VERIFY_FAILURES,	/* u64: chunks that did not match */
	HBX_A_LAYER_STATE,		/* u32, enum hbx_layer_state */
	HBX_A_LAYER_OPENERS,		/* u32: open handles (mounts count) */
	HBX_A_LAYER_CHUNK,		/* u64: chunk index (VERIFY_FAIL_NTF) */
	HBX_A_LAYER_PAD,

	__HBX_A_LAYER_MAX,
	HBX_A_LAYER_MAX = __HBX_A_LAYER_MAX - 1
};

#endif /* _UAPI_LINUX_HYPERBOX_H */
