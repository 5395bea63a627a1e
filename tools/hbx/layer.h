/* SPDX-License-Identifier: GPL-2.0 */
/* Layers as hbx sees them: shared by layer, rootfs and monitor. */
#ifndef HBX_CLI_LAYER_H
#define HBX_CLI_LAYER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "json.h"
#include "manifest.h"
#include "nl.h"

struct hbx_layer_info {
	uint32_t	index, dev, chunk_size, state, openers;
	uint64_t	size, chunks_total, chunks_verified, chunks_hashed;
	uint64_t	bytes_read, verify_failures, chunk, chunks_fetched, chunks_served;
	bool		has_chunk, has_block;
	uint64_t	block, blocks_verified;
	uint32_t	verify;		/* enum hbx_verify_mode; 0: not sent */
	bool		direct_io;
	/* Remote layers (nr_peers > 0): peers and the pull. */
	uint32_t	peers[HBX_LAYER_PEERS_MAX], nr_peers;
	uint64_t	bytes_fetched, fetch_retries, pull_bytes, pull_nsecs;
	uint32_t	pull_state, pull_error, pull_window, export_missing;
	bool		exported;
	char		export_name[HBX_EXPORT_NAME_MAX];	/* "": none */
	char		device[32];
	char		digest[HBX_DIGEST_STR_LEN + 1];
};

void hbx_layer_parse(struct nlattr **tb, struct hbx_layer_info *l);
void hbx_layer_json(struct hbx_json *j, const char *key,
		    const struct hbx_layer_info *l);
const char *hbx_layer_state_name(uint32_t state);
/* "always", "once", or "unknown". */
const char *hbx_verify_mode_name(uint32_t mode);
/* "once" or "always" into *mode; -1 if it is neither. */
int hbx_parse_verify_mode(const char *s, uint32_t *mode);

/* IMAGE.erofs -> IMAGE.manifest; anything else gets ".manifest" appended. */
void hbx_layer_manifest_path(const char *image, char *buf, size_t len);
/* IMAGE.erofs -> IMAGE.hashes, derived the same way. */
void hbx_layer_hashes_path(const char *image, char *buf, size_t len);
/*
 * N, hbxN or /dev/hbxN into *index; if it is none of these, print a
 * sentence naming what ("the layer", "--layer") and return -1: exit 2.
 */
int hbx_parse_layer_index(const char *what, const char *s, uint32_t *index);

/* How a local layer is attached; NULL or 0 takes the default. */
struct hbx_attach_opts {
	const char	*manifest;	/* NULL: IMAGE's NAME.manifest */
	const char	*digest;	/* NULL: pin the manifest as it is now */
	const char	*hashes;	/* NULL: IMAGE's NAME.hashes if it exists */
	uint32_t	verify;		/* enum hbx_verify_mode; 0: the kernel's (always) */
};
/* These print their own errors and return -1 on failure. */
int hbx_layer_attach_opts(struct hbx_nl *nl, const char *image,
			  const struct hbx_attach_opts *o,
			  struct hbx_layer_info *l);
/* The same with the default hash file and verify mode. */
int hbx_layer_attach(struct hbx_nl *nl, const char *image, const char *manifest,
		     const char *digest, struct hbx_layer_info *l);
struct hbx_remote_opts {
	uint32_t	peers[HBX_LAYER_PEERS_MAX];
	unsigned int	nr_peers;
	/* Exactly one: the digest, or the name the peers export it under. */
	const char	*digest, *name;
	const char	*cache;
	bool		prefetch;
	uint32_t	window;		/* 0: the kernel's default */
	uint32_t	verify;		/* enum hbx_verify_mode; 0: the kernel's */
};
/*
 * Attach a remote layer; by name, l->digest is the one the peer sent.  Returns
 * 0, or a negative errno after printing why (-ENOENT: no peer has it).
 */
int hbx_layer_attach_remote(struct hbx_nl *nl, const struct hbx_remote_opts *r,
			    struct hbx_layer_info *l);
/* 1 to HBX_EXPORT_NAME_MAX - 1 printable ASCII characters, no spaces. */
bool hbx_export_name_valid(const char *name);
/* "OPT 'NAME' is not an export name: ..." and -1 if it is not one: exit 2. */
int hbx_arg_export_name(const char *opt, const char *name);
/*
 * Whether the loaded module exports and adds layers by name; if not, a
 * sentence saying it cannot <what> and -1.
 */
int hbx_need_export_names(struct hbx_nl *nl, const char *what);
/*
 * LAYER_EXPORT: serve the layer (on) or stop; on, what a missing chunk gets
 * (0: the module's default) and the name it is served under (NULL: none).
 * 0 or a negative errno; the module's refusal is hbx_nl_error()'s to say
 * (an out-of-memory is said here).
 */
int hbx_layer_set_export(struct hbx_nl *nl, uint32_t index, bool on,
			 uint32_t missing, const char *name);
/*
 * Send msg (built: every attribute went in) and parse the reply into *l if
 * l is given; prints the error (the kernel's sentence) and returns -1.
 */
int hbx_layer_do(struct hbx_nl *nl, struct nl_msg *msg, bool built,
		 struct hbx_layer_info *l);
/* One layer by index, fresh from the kernel. */
int hbx_layer_get(struct hbx_nl *nl, uint32_t index, struct hbx_layer_info *l);
/* --remote "PEER[,PEER...]" into r->peers; else a sentence and -1: exit 2. */
int hbx_parse_peer_list(const char *s, struct hbx_remote_opts *r);
const char *hbx_pull_state_name(uint32_t state);
int hbx_layer_mount_dev(struct hbx_nl *nl, const struct hbx_layer_info *l,
			const char *dir);
int hbx_layer_detach(struct hbx_nl *nl, uint32_t index, bool force);
/* Start pulling a remote layer in the background, window chunks at once
 * (0: the kernel's default); prints the kernel's sentence and returns -1. */
int hbx_layer_pull_start(struct hbx_nl *nl, uint32_t index, uint32_t window);
ssize_t hbx_layer_dump(struct hbx_nl *nl, struct hbx_layer_info **out);
int hbx_layer_mount(struct hbx_nl *nl, const char *image, const char *manifest,
		    const char *digest, const char *dir,
		    struct hbx_layer_info *l);
int hbx_layer_umount(struct hbx_nl *nl, const char *dir);
/* The same, but a layer an export or a pull holds stays attached. */
int hbx_layer_umount_keep(struct hbx_nl *nl, const char *dir, bool keep_held);

/* hbx layer build's core: a reproducible EROFS image and its manifest. */
struct hbx_build_opts {
	unsigned int	chunk_shift;
	const char	*compress;	/* NULL, "lz4" or "lz4hc" */
	uint64_t	epoch;		/* every timestamp, or their ceiling: */
	bool		keep_mtimes;	/* keep mtimes, clamped to epoch */
};
int hbx_layer_build_dir(const char *src, const char *out,
			const struct hbx_build_opts *o,
			struct hbx_manifest_info *info);
/* Run argv and wait; 0 if it exited 0, else -1 after saying why. */
int hbx_run(char *const argv[]);
void hbx_remove_tree(const char *dir);

/* A layer of a root: its image, manifest (NULL: beside it), digest (or NULL). */
struct hbx_rootfs_layer {
	const char	*image, *manifest, *digest;
};
/* Overlay n layers (layers[0] at the bottom) on dir; upper/work optional. */
int hbx_rootfs_mount(struct hbx_nl *nl, const struct hbx_rootfs_layer *layers,
		     int n, const char *upper, const char *work, const char *dir);
int hbx_rootfs_umount(struct hbx_nl *nl, const char *dir);

int layer_main(int argc, char **argv);
int layer_pull_main(int argc, char **argv);
int layer_build_main(int argc, char **argv);
int rootfs_main(int argc, char **argv);
int monitor_main(int argc, char **argv);

#endif
