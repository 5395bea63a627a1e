/* SPDX-License-Identifier: GPL-2.0 */
#ifndef HBX_CHUNK_H
#define HBX_CHUNK_H

#include <linux/mutex.h>
#include <linux/atomic.h>
#include <linux/types.h>

struct crypto_shash;
struct file;
struct hbx_manifest;

/*
 * Per-layer verification state.  A chunk is "verified" when its bytes
 * matched the manifest once.  Verify once trusts the storage from then on.
 * Verify always keeps the chunk's leaf hashes (one per 4 KiB block,
 * themselves checked against the manifest) and checks every block read
 * from storage against its leaf: the bit then means "leaves known".
 */
struct hbx_chunks {
	int			id;		/* the layer's index, for tracing */
	const struct hbx_manifest *manifest;
	struct file		*image;		/* buffered reads and writes */
	/*
	 * Verify always: the image opened again with O_DIRECT (a remote
	 * layer's cache read-write), held by the layer.  Blocks go from
	 * storage straight into the request's pages, and a cache's chunks
	 * straight to storage, so the device's page cache is the only cache.
	 * NULL where the filesystem has no direct I/O (tmpfs before 6.6):
	 * then buffered, and reads still checked.
	 */
	struct file		*direct;
	struct crypto_shash	*sha256;
	bool			always;		/* enum hbx_verify_mode: always */
	unsigned long		*verified;	/* bitmap, one bit per chunk */
	unsigned long		*failed;	/* chunks known not to match */
	/*
	 * One lock bit per chunk: two readers of one unverified chunk hash
	 * (or fetch) it once, and a slow chunk never holds up another.
	 */
	unsigned long		*busy;
	/*
	 * Verify always: each chunk's leaf hashes, allocated on its first use
	 * (memory follows what is read), published before its verified bit.
	 */
	u8			**leaves;
	struct file		*hashes;	/* a local layer's hash file, or NULL */
	atomic64_t		nr_verified;
	atomic64_t		nr_hashed;	/* chunk hashes computed */
	atomic64_t		nr_failed;	/* chunks or blocks that did not match */
	atomic64_t		nr_blocks;	/* blocks checked on reads (always) */
	atomic64_t		nr_fetched;	/* remote: chunks fetched from a peer */
	atomic64_t		bytes_fetched;

	/*
	 * Remote layers: where chunks that are not (correctly) in the image
	 * come from.  Asked for count chunks from first on (their locks
	 * held), fills *buf (hbx_rxbuf_alloc()'d, the caller frees it with
	 * hbx_rxbuf_free(*buf, *len)) with the *len bytes of the first k of
	 * them, each already checked with hbx_chunk_matches(); returns k
	 * (1 <= k <= count) or -errno.
	 */
	int			(*fetch)(void *ctx, u64 first, u64 count, void **buf,
					 u32 *len);
	void			*fetch_ctx;
};

int hbx_chunks_init(struct hbx_chunks *c, int id, const struct hbx_manifest *m,
		    struct file *image, struct crypto_shash *sha256, bool always);
void hbx_chunks_free(struct hbx_chunks *c);

/*
 * Verify always, a local layer: take a hash file (its own reference).  Its
 * size must be the image's blocks times 32 and its first and last chunks'
 * leaves must match the manifest (a file of another layer, or a short one,
 * is refused, *why says why); any other chunk's leaves are checked when
 * first used, and a chunk whose leaves do not match is hashed from the
 * image instead.
 */
int hbx_chunks_set_hashes(struct hbx_chunks *c, struct file *hashes,
			  const char **why);

/*
 * Make sure chunks [first, last] are verified, hashing those that are not.
 * A remote layer's chunk that is missing or wrong in the image (its cache)
 * is fetched, checked and written there first; neighbours that are missing
 * are asked for together, at most HBX_STOQ_RUN_BYTES (or one chunk) at a
 * time.
 * Returns 0; -EBADMSG if a chunk was just found not to match the manifest
 * (*bad is then its index); -EIO for a chunk that failed before (the image
 * cannot change while attached, so it is not hashed again); or another
 * error if the image could not be read.
 */
int hbx_chunks_verify(struct hbx_chunks *c, u64 first, u64 last, u64 *bad);

/*
 * Verify always: whether the 4 KiB block's bytes (just read from storage)
 * match its leaf hash: 0, or -EBADMSG (counted).  Its chunk is verified.
 */
int hbx_block_check(struct hbx_chunks *c, u64 block, const void *data);

/*
 * For the server: as hbx_chunks_verify() for one chunk, but it never waits
 * for another task working on the same chunk (-EBUSY), so two nodes that
 * fetch from each other cannot wait on each other; and with may_fetch
 * false, a remote layer's chunk that is not (correctly) in its cache yet
 * gives -ENODATA instead of being fetched.
 */
int hbx_chunk_verify_serving(struct hbx_chunks *c, u64 index, bool may_fetch);

/*
 * Whether buf holds chunk index's bytes (1, or 0); -errno if it could not
 * be hashed.  With verify always, the leaves it computed are kept for the
 * chunk (trusted only once its verified bit is set).
 */
int hbx_chunk_matches(struct hbx_chunks *c, u64 index, const void *buf);

#endif
