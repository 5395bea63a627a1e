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
	HBX_FEATURE_SERVE	= 1 << 3,	/* PEER_ADD servers, LAYER_EXPORT */
	HBX_FEATURE_REMOTE	= 1 << 4,	/* client peers, remote layers */
	HBX_FEATURE_LAZY_PULL	= 1 << 5,	/* prefetch, several peers, re-serve */
	HBX_FEATURE_EXPORT_NAMES = 1 << 6,	/* layers exported and added by name */
};

/*
 * Manifest: a header followed by chunk_count SHA-256 digests, one per chunk
 * of the image, in order.  All integers are little endian.  The layer's
 * identity is the SHA-256 of the manifest's bytes ("sha256:<hex>").
 *
 * Version 2: a chunk's digest is the SHA-256 of its leaf hashes, the
 * SHA-256 of each 4 KiB block of the chunk, concatenated in order.  Images
 * are whole blocks, so every leaf is a full 4 KiB, the last chunk's too
 * (a short last chunk just has fewer leaves).  So any block can be checked
 * alone once its chunk's leaves are known, as dm-verity checks a block.
 * Version 1 (a chunk's digest over its bytes) is refused: rebuild the layer.
 *
 * Hash file ("NAME.hashes", optional, handed in by fd): the leaf hashes of
 * every block of the image, 32 bytes each, in order, nothing else; checked
 * against the manifest's chunk digests before anything trusts it.
 */
#define HBX_MANIFEST_MAGIC	0x4d584248	/* "HBXM" */
#define HBX_MANIFEST_VERSION	2
#define HBX_HASH_SHA256		1
#define HBX_DIGEST_SIZE		32
#define HBX_CHUNK_SHIFT_MIN	12		/* 4 KiB */
#define HBX_CHUNK_SHIFT_MAX	22		/* 4 MiB */
#define HBX_CHUNK_SHIFT_DEFAULT	16		/* 64 KiB */
#define HBX_BLOCK_SIZE		4096		/* images are whole blocks */
#define HBX_BLOCK_SHIFT		12		/* one leaf hash per block */
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
	HBX_CMD_LAYER_EXPORT,	/* do: serve (or stop serving) a layer to peers */
	HBX_CMD_PEER_ADD,	/* do: hand sockets to the module */
	HBX_CMD_PEER_DEL,	/* do: close a peer's sockets */
	HBX_CMD_PEER_GET,	/* do (by id) and dump */
	HBX_CMD_PEER_DOWN_NTF,	/* notification: a peer's socket died */
	HBX_CMD_LAYER_PULL,	/* do: fetch every missing chunk in the background */

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
	HBX_A_INFO_PEER_SOCKETS,	/* u32, sockets all peers on the host hold now */
	HBX_A_INFO_PEER_SOCKETS_MAX,	/* u32, how many they may (max_peer_sockets) */

	__HBX_A_INFO_MAX,
	HBX_A_INFO_MAX = __HBX_A_INFO_MAX - 1
};

/* Layer states (HBX_A_LAYER_STATE). */
enum hbx_layer_state {
	HBX_LAYER_STATE_LIVE = 1,	/* serving reads */
	HBX_LAYER_STATE_DEAD,		/* force-deleted, still open: all I/O fails */
};

/* HBX_A_LAYER_FLAGS (LAYER_ADD); unknown bits are rejected. */
enum hbx_layer_flag {
	HBX_LAYER_F_PREFETCH	= 1 << 0,	/* remote: start a pull at once */
};
#define HBX_LAYER_FLAGS_ALL	HBX_LAYER_F_PREFETCH

/* A remote layer asks at most this many peers, in the order given. */
#define HBX_LAYER_PEERS_MAX	8

/* Pull (prefetch) window: chunk requests in flight at once. */
#define HBX_PULL_WINDOW_MAX	32
#define HBX_PULL_WINDOW_DEFAULT	8

/* HBX_A_LAYER_PULL_STATE. */
enum hbx_pull_state {
	HBX_PULL_STATE_NONE = 1,	/* no pull started (or a local layer) */
	HBX_PULL_STATE_RUNNING,
	HBX_PULL_STATE_DONE,		/* every chunk is here and verified */
	HBX_PULL_STATE_FAILED,		/* a chunk could not be fetched: PULL_ERROR */
	HBX_PULL_STATE_STOPPED,		/* the layer was deleted mid-pull */
};

/*
 * HBX_A_LAYER_VERIFY: when bytes read from the backing storage (the image,
 * or a remote layer's cache) are checked.
 */
enum hbx_verify_mode {
	HBX_VERIFY_ALWAYS = 1,	/* every read from storage, per 4 KiB block */
	HBX_VERIFY_ONCE,	/* a chunk's first read; then the storage is trusted */
};

/*
 * HBX_A_LAYER_EXPORT_MISSING: what a node serving a layer it is still
 * pulling does with a request for a chunk it does not have yet.
 */
enum hbx_export_missing {
	HBX_EXPORT_MISSING_FETCH = 1,	/* fetch it from our peers, then serve it */
	HBX_EXPORT_MISSING_NOT_HERE,	/* answer NOT_HERE: ask another peer */
};

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
	HBX_A_LAYER_EXPORTED,		/* u8: LAYER_EXPORT on (1) or off (0); dumps */
	HBX_A_LAYER_CHUNKS_SERVED,	/* u64: chunks sent to peers */
	HBX_A_LAYER_PEER,		/* u32: a remote layer's client peer */
	HBX_A_LAYER_CACHE_FD,		/* u32: a remote layer's cache file, rw */
	HBX_A_LAYER_CHUNKS_FETCHED,	/* u64: chunks fetched from the peer */
	HBX_A_LAYER_PEERS,		/* nest of HBX_A_LAYER_PEER: every peer, in order */
	HBX_A_LAYER_BYTES_FETCHED,	/* u64 */
	HBX_A_LAYER_FETCH_RETRIES,	/* u64: fetches a peer failed, asked again */
	HBX_A_LAYER_PULL_WINDOW,	/* u32: requests in flight while pulling */
	HBX_A_LAYER_PULL_STATE,		/* u32, enum hbx_pull_state */
	HBX_A_LAYER_PULL_ERROR,		/* u32: errno that failed the pull */
	HBX_A_LAYER_PULL_BYTES,		/* u64: bytes fetched by the current pull */
	HBX_A_LAYER_PULL_NSECS,		/* u64: how long it has run (or ran) */
	HBX_A_LAYER_EXPORT_MISSING,	/* u32, enum hbx_export_missing */
	HBX_A_LAYER_VERIFY,		/* u32, enum hbx_verify_mode; default always */
	HBX_A_LAYER_HASHES_FD,		/* u32: fd of a local layer's hash file, read */
	HBX_A_LAYER_BLOCK,		/* u64: 4 KiB block index (VERIFY_FAIL_NTF) */
	HBX_A_LAYER_BLOCKS_VERIFIED,	/* u64: blocks checked on reads from storage */
	HBX_A_LAYER_DIRECT_IO,		/* u8: storage read with direct I/O (1) or buffered */
	HBX_A_LAYER_EXPORT_NAME,	/* string: the name peers ask for it by */

	__HBX_A_LAYER_MAX,
	HBX_A_LAYER_MAX = __HBX_A_LAYER_MAX - 1
};

/*
 * HBX_A_LAYER_EXPORT_NAME: on LAYER_EXPORT, a name that peers may ask for
 * the layer's manifest by, unique among the exports of the caller's network
 * namespace; on LAYER_ADD of a remote layer, instead of a digest, the name
 * to ask the peers for (the layer is then whatever manifest the first peer
 * that knows the name sends: trusted as far as that peer is, its chunks
 * checked against it as always).  1 to HBX_EXPORT_NAME_MAX - 1 printable
 * ASCII characters, no spaces.  On the wire it is a GET_MANIFEST whose
 * digest is the name's key, SHA-256 of HBX_EXPORT_NAME_KEY_PREFIX (its NUL
 * included) followed by the name.
 */
#define HBX_EXPORT_NAME_MAX		128
#define HBX_EXPORT_NAME_KEY_PREFIX	"hyperbox export name"

/* Peer roles (HBX_A_PEER_ROLE). */
enum hbx_peer_role {
	HBX_PEER_ROLE_SERVER = 1,	/* we answer the peer's requests */
	HBX_PEER_ROLE_CLIENT,		/* we send requests for remote layers */
};

/* Peer states (HBX_A_PEER_STATE). */
enum hbx_peer_state {
	HBX_PEER_STATE_UP = 1,		/* at least one socket alive */
	HBX_PEER_STATE_DOWN,		/* every socket is gone */
};

#define HBX_PEER_NAME_MAX	64
#define HBX_PEER_SOCKETS_MAX	16

/* Attributes of peer commands and notifications. */
enum hbx_peer_attr {
	HBX_A_PEER_UNSPEC,
	HBX_A_PEER_ID,			/* u32 */
	HBX_A_PEER_NAME,		/* string: the name its certificate carries */
	HBX_A_PEER_IDENTITY,		/* binary[32]: SHA-256 of its public key */
	HBX_A_PEER_ROLE,		/* u32, enum hbx_peer_role */
	HBX_A_PEER_SOCKETS,		/* nest of HBX_A_PEER_SOCKET_FD */
	HBX_A_PEER_SOCKET_FD,		/* u32: a TCP socket with kTLS TX and RX */
	HBX_A_PEER_INSECURE,		/* flag: accept plaintext (benchmarks only) */
	HBX_A_PEER_TIMEOUT_MS,		/* u32: bound on every wait; 0 = forever */
	HBX_A_PEER_STATE,		/* u32, enum hbx_peer_state */
	HBX_A_PEER_SOCKETS_UP,		/* u32 */
	HBX_A_PEER_REQUESTS,		/* u64: requests handled */
	HBX_A_PEER_BYTES_TX,		/* u64: payload bytes sent */
	HBX_A_PEER_PROTOCOL_ERRORS,	/* u64: sockets dropped for bad frames */
	HBX_A_PEER_LAST_ERROR,		/* string: why the last socket was dropped */
	HBX_A_PEER_PAD,
	HBX_A_PEER_BYTES_RX,		/* u64: payload bytes received (client) */
	HBX_A_PEER_CORRUPT_CHUNKS,	/* u64: chunks it sent that did not match */

	__HBX_A_PEER_MAX,
	HBX_A_PEER_MAX = __HBX_A_PEER_MAX - 1
};

/*
 * STOQ, the chunk transport between peers.  Every frame is a header and
 * len bytes of payload, integers big endian.  The client opens with HELLO;
 * the server answers HELLO with its own.  Then the client sends GET_MANIFEST
 * and GET_CHUNK requests, each with an id of its choosing, and may have many
 * in flight on one socket; every request gets one REPLY carrying its id, a
 * status and, on success, the manifest or the chunk's bytes.  A server only
 * sends chunks that have been verified against the manifest.
 *
 * A server whose HELLO sets HBX_STOQ_FEATURE_RUNS also takes GET_CHUNKS:
 * a run of count chunks from chunk on, answered by one REPLY whose bytes
 * are the first k of them back to back, 1 <= k <= count, each whole (a
 * server sends the chunks it has, verified, and stops before the first it
 * has not); the status is the first chunk's.  A run asks for at most
 * HBX_STOQ_RUN_BYTES or one chunk, whichever is more, and never past the
 * layer's end: a server refuses a longer one (OUT_OF_RANGE).  One request
 * and one reply per run rather than per chunk: fewer frames, wakeups and
 * round trips for the same bytes.  Clients ask it only of servers that
 * said they take it.  GET_MANIFEST
 * may name the layer by its export name's key instead of its digest
 * (HBX_A_LAYER_EXPORT_NAME); a server that has no such name answers
 * UNKNOWN_LAYER, as for a digest.  A frame with
 * a bad magic, version, type or length ends the socket.
 */
#define HBX_STOQ_MAGIC		0x53544f51	/* "STOQ" */
#define HBX_STOQ_VERSION	1
#define HBX_STOQ_REQUEST_MAX	64		/* payload bytes of any request */
#define HBX_STOQ_RUN_BYTES	(256U << 10)	/* the most a run asks, if over one chunk */
#define HBX_STOQ_FEATURE_RUNS	(1ULL << 0)	/* hello.features: takes GET_CHUNKS */

enum hbx_stoq_type {
	HBX_STOQ_HELLO = 1,		/* payload: struct hbx_stoq_hello */
	HBX_STOQ_GET_MANIFEST,		/* payload: struct hbx_stoq_get (chunk 0) */
	HBX_STOQ_GET_CHUNK,		/* payload: struct hbx_stoq_get */
	HBX_STOQ_REPLY,			/* payload: data, when status is OK */
	HBX_STOQ_GET_CHUNKS,		/* payload: struct hbx_stoq_get_run */
};

enum hbx_stoq_status {
	HBX_STOQ_OK = 0,
	HBX_STOQ_UNKNOWN_LAYER,		/* not exported here (in this netns) */
	HBX_STOQ_OUT_OF_RANGE,		/* chunk index beyond the layer */
	HBX_STOQ_NOT_HERE,		/* this peer does not have the chunk */
	HBX_STOQ_FAILED,		/* I/O or verification failure */
};

struct hbx_stoq_hdr {
	__be32	magic;
	__u8	version;
	__u8	type;		/* enum hbx_stoq_type */
	__be16	status;		/* enum hbx_stoq_status, REPLY only */
	__be32	len;		/* payload bytes after this header */
	__be32	reserved;	/* zero */
	__be64	id;		/* the request's id, echoed in its REPLY */
};

struct hbx_stoq_hello {
	__be32	version;	/* HBX_STOQ_VERSION */
	__be32	reserved;
	__be64	features;	/* HBX_STOQ_FEATURE_*; others are ignored */
};

struct hbx_stoq_get {
	__u8	digest[HBX_DIGEST_SIZE];	/* the layer */
	__be64	chunk;
};

struct hbx_stoq_get_run {
	__u8	digest[HBX_DIGEST_SIZE];	/* the layer */
	__be64	chunk;				/* the first */
	__be32	count;				/* chunks, at least 1 */
	__be32	reserved;			/* zero */
};

/*
 * Tracepoints (system "hyperbox", kmod/TRACEPOINTS.md documents every
 * field): the result of a fetch from one peer (hbx_fetch_done's result).
 */
enum hbx_trace_fetch_result {
	HBX_FETCH_OK = 0,		/* the chunk came and matched */
	HBX_FETCH_TIMEOUT,		/* no reply within the peer's timeout */
	HBX_FETCH_NOT_HERE,		/* the peer does not have it (yet) */
	HBX_FETCH_CORRUPT,		/* bytes that did not match, or a bad reply */
	HBX_FETCH_PEER_DOWN,		/* no socket up, or it died under the request */
	HBX_FETCH_FAILED,		/* the peer said it failed */
	HBX_FETCH_CANCELLED,		/* the asker went: killed, layer deleted */
	HBX_FETCH_RESULTS,
};

#endif /* _UAPI_LINUX_HYPERBOX_H */
