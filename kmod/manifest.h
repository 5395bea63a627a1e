/* SPDX-License-Identifier: GPL-2.0 */
#ifndef HBX_MANIFEST_H
#define HBX_MANIFEST_H

#include <linux/minmax.h>
#include <linux/types.h>
#include <linux/hyperbox.h>

struct crypto_shash;
struct file;
struct netlink_ext_ack;
struct nlattr;

/* A manifest that has been read, bounds-checked and matched to its digest. */
struct hbx_manifest {
	void		*buf;		/* the manifest's bytes: shared, see below */
	size_t		len;
	u64		image_size;
	u64		chunk_count;
	unsigned int	chunk_shift;
	u8		digest[HBX_DIGEST_SIZE];	/* SHA-256 of buf */
	const u8	*chunk_digests;	/* chunk_count digests inside buf */
};

int hbx_manifest_load(struct hbx_manifest *m, struct file *file,
		      const u8 *expected_digest, struct crypto_shash *sha256,
		      struct netlink_ext_ack *extack,
		      const struct nlattr *fd_attr);
/*
 * Take ownership of a manifest already in memory (kvmalloc'd buf, e.g.
 * fetched from a peer) and check it exactly as hbx_manifest_load() does;
 * on failure buf is freed.  A NULL expected_digest takes whatever the
 * manifest hashes to (a layer asked for by export name).
 */
int hbx_manifest_adopt(struct hbx_manifest *m, void *buf, size_t len,
		       const u8 *expected_digest, struct crypto_shash *sha256,
		       struct netlink_ext_ack *extack, const struct nlattr *attr);
void hbx_manifest_free(struct hbx_manifest *m);

/*
 * The key a layer exported under name is asked for by, in place of a
 * digest (HBX_A_LAYER_EXPORT_NAME): SHA-256 of the UAPI's prefix, its NUL
 * included, then the name: it names a manifest only by a SHA-256
 * collision.
 */
int hbx_export_name_key(struct crypto_shash *sha256, const char *name,
			u8 key[HBX_DIGEST_SIZE]);

/*
 * The manifest's bytes, referenced: a server sending them to a slow peer
 * shares them (no copy per request) and they outlive the layer until put.
 */
const void *hbx_manifest_get_bytes(const struct hbx_manifest *m);
void hbx_manifest_put_bytes(const void *bytes);

static inline u32 hbx_manifest_chunk_size(const struct hbx_manifest *m)
{
	return 1U << m->chunk_shift;
}

/* Bytes in chunk index: the chunk size, less for the last one. */
static inline u32 hbx_manifest_chunk_len(const struct hbx_manifest *m, u64 index)
{
	return min_t(u64, hbx_manifest_chunk_size(m),
		     m->image_size - (index << m->chunk_shift));
}

/* The most chunks one STOQ run asks for: HBX_STOQ_RUN_BYTES, or one chunk. */
static inline u32 hbx_manifest_run_max(const struct hbx_manifest *m)
{
	return max(1U, HBX_STOQ_RUN_BYTES >> m->chunk_shift);
}

#endif
