/* SPDX-License-Identifier: GPL-2.0 */
#ifndef HBX_CHUNK_H
#define HBX_CHUNK_H

#include <linux/mutex.h>
#include <linux/atomic.h>
#include <linux/types.h>

struct crypto_shash;
struct file;
struct hbx_manifest;

/* Hashed locks: two readers of one unverified chunk hash it once. */
#define HBX_VERIFY_LOCKS 512

/* Per-layer verification state: which chunks are known good. */
struct hbx_chunks {
	int			id;		/* the layer's index, for tracing */
	const struct hbx_manifest *manifest;
	struct file		*image;
	struct crypto_shash	*sha256;
	unsigned long		*verified;	/* bitmap, one bit per chunk */
	unsigned long		*failed;	/* chunks known not to match */
	struct mutex		locks[HBX_VERIFY_LOCKS];
	atomic64_t		nr_verified;
	atomic64_t		nr_hashed;	/* chunk hashes computed */
	atomic64_t		nr_failed;	/* chunks that failed verification */
	atomic64_t		nr_fetched;	/* remote: chunks fetched from a peer */
	atomic64_t		bytes_fetched;

	/*
	 * Remote layers: where a chunk that is not (correctly) in the image
	 * comes from.  Fills buf with the len bytes of chunk index, already
	 * checked with hbx_chunk_matches(); 0 or -errno.
	 */
	int			(*fetch)(void *ctx, u64 index, void *buf, u32 len);
	void			*fetch_ctx;
};

int hbx_chunks_init(struct hbx_chunks *c, int id, const struct hbx_manifest *m,
		    struct file *image, struct crypto_shash *sha256);
void hbx_chunks_free(struct hbx_chunks *c);

/*
 * Make sure chunks [first, last] are verified, hashing those that are not.
 * A remote layer's chunk that is missing or wrong in the image (its cache)
 * is fetched, checked and written there first.
 * Returns 0; -EBADMSG if a chunk was just found not to match the manifest
 * (*bad is then its index); -EIO for a chunk that failed before (the image
 * cannot change while attached, so it is not hashed again); or another
 * error if the image could not be read.
 */
int hbx_chunks_verify(struct hbx_chunks *c, u64 first, u64 last, u64 *bad);

/*
 * For the server: as hbx_chunks_verify() for one chunk, but it never waits
 * for another task working on the same chunk (-EBUSY), so two nodes that
 * fetch from each other cannot wait on each other; and with may_fetch
 * false, a remote layer's chunk that is not (correctly) in its cache yet
 * gives -ENODATA instead of being fetched.
 */
int hbx_chunk_verify_serving(struct hbx_chunks *c, u64 index, bool may_fetch);

/* Whether buf holds chunk index's bytes; -errno if it could not be hashed. */
int hbx_chunk_matches(struct hbx_chunks *c, u64 index, const void *buf);

#endif
