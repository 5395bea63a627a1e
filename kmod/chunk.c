// SPDX-License-Identifier: GPL-2.0
/*
 * Chunk verification.  The first read of a chunk hashes it from the backing
 * image and compares it with the manifest; a bitmap remembers the chunks that
 * matched, so later reads cost one test_bit().  A chunk that fails stays
 * unverified and every read of it fails: bad bytes are never returned.
 * A verified bit is set after the bytes it vouches for are in place, and
 * read with acquire ordering, so whoever sees it sees them.
 */
#include <linux/bitmap.h>
#include <linux/bvec.h>
#include <linux/file.h>
#include <linux/pagemap.h>
#include <linux/fs.h>
#include <linux/wait_bit.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/uio.h>
#include <crypto/hash.h>
#include "chunk.h"
#include "manifest.h"
#include "rxbuf.h"
#include "trace.h"

/* Chunks are hashed through a bounded buffer, whatever their size. */
#define HBX_HASH_BUF_SIZE (128U << 10)

static unsigned long *hbx_bitmap_alloc(u64 bits)
{
	return kvcalloc(BITS_TO_LONGS(bits), sizeof(unsigned long),
			GFP_KERNEL_ACCOUNT);
}

int hbx_chunks_init(struct hbx_chunks *c, int id, const struct hbx_manifest *m,
		    struct file *image, struct crypto_shash *sha256, bool always)
{
	memset(c, 0, sizeof(*c));
	c->id = id;
	c->manifest = m;
	c->always = always;
	c->verified = hbx_bitmap_alloc(m->chunk_count);
	c->failed = hbx_bitmap_alloc(m->chunk_count);
	c->busy = hbx_bitmap_alloc(m->chunk_count);
	if (always)
		c->leaves = kvcalloc(m->chunk_count, sizeof(*c->leaves),
				     GFP_KERNEL_ACCOUNT);
	if (!c->verified || !c->failed || !c->busy || (always && !c->leaves)) {
		hbx_chunks_free(c);
		return -ENOMEM;
	}
	c->image = image;
	c->sha256 = sha256;
	return 0;
}

void hbx_chunks_free(struct hbx_chunks *c)
{
	u64 i;

	if (c->leaves)
		for (i = 0; i < c->manifest->chunk_count; i++)
			kfree(c->leaves[i]);
	kvfree(c->leaves);
	c->leaves = NULL;
	if (c->hashes)
		fput(c->hashes);
	c->hashes = NULL;
	kvfree(c->verified);
	kvfree(c->failed);
	kvfree(c->busy);
	c->verified = NULL;
	c->failed = NULL;
	c->busy = NULL;
}

static bool hbx_chunk_verified(const struct hbx_chunks *c, u64 index)
{
	return test_bit_acquire(index, c->verified);
}

/* The chunk's bytes are in place (written or hashed): publish that. */
static void hbx_chunk_set_verified(struct hbx_chunks *c, u64 index)
{
	smp_mb__before_atomic();
	set_bit(index, c->verified);
	atomic64_inc(&c->nr_verified);
}

/*
 * The chunk's lock bit.  Waiting is killable, and bounded by whoever holds
 * it: a hash, or a fetch within its peers' timeout.
 */
static int hbx_chunk_lock(struct hbx_chunks *c, u64 index, bool may_wait)
{
	if (!may_wait)
		return test_and_set_bit_lock(index, c->busy) ? -EBUSY : 0;
	return wait_on_bit_lock(c->busy, index, TASK_KILLABLE) ? -EINTR : 0;
}

static void hbx_chunk_unlock(struct hbx_chunks *c, u64 index)
{
	clear_and_wake_up_bit(index, c->busy);
}

static u32 hbx_chunk_blocks(const struct hbx_manifest *m, u64 index)
{
	return hbx_manifest_chunk_len(m, index) >> HBX_BLOCK_SHIFT;
}

static u64 hbx_chunk_first_block(const struct hbx_manifest *m, u64 index)
{
	return index << (m->chunk_shift - HBX_BLOCK_SHIFT);
}

/* Verify always: the chunk's leaf array (caller holds its lock), or NULL. */
static u8 *hbx_chunk_leaves(struct hbx_chunks *c, u64 index)
{
	u8 *leaves = c->leaves[index];

	if (!leaves) {
		leaves = kmalloc_array(hbx_chunk_blocks(c->manifest, index),
				       HBX_DIGEST_SIZE, GFP_NOIO | __GFP_ACCOUNT);
		WRITE_ONCE(c->leaves[index], leaves);
	}
	return leaves;
}

/*
 * Feed the leaf hash of each 4 KiB block of data into outer (a chunk's
 * digest is the hash of its leaves); keep them in leaves if given.
 */
static int hbx_hash_leaves(struct hbx_chunks *c, struct shash_desc *outer,
			   const u8 *data, u32 len, u8 *leaves)
{
	u8 leaf[HBX_DIGEST_SIZE], *out = leaf;
	u32 off;
	int err = 0;

	for (off = 0; !err && off < len; off += HBX_BLOCK_SIZE) {
		if (leaves)
			out = leaves + (off >> HBX_BLOCK_SHIFT) * HBX_DIGEST_SIZE;
		err = crypto_shash_tfm_digest(c->sha256, data + off, HBX_BLOCK_SIZE, out) ?:
		      crypto_shash_update(outer, out, HBX_DIGEST_SIZE);
	}
	return err;
}

static bool hbx_chunk_digest_is(const struct hbx_chunks *c, u64 index,
				const u8 *digest)
{
	return !memcmp(digest, c->manifest->chunk_digests + index * HBX_DIGEST_SIZE,
		       HBX_DIGEST_SIZE);
}

/* Read exactly len bytes at pos: 0, or -EIO if the file ends early. */
static int hbx_read_exact(struct file *file, void *buf, size_t len, loff_t pos)
{
	while (len) {
		ssize_t n = kernel_read(file, buf, len, &pos);

		if (n <= 0)
			return n ? n : -EIO;
		buf += n;
		len -= n;
	}
	return 0;
}

/*
 * Hash a chunk from the image into its digest (and, with verify always,
 * its leaves).  Reads go through the image's page cache; when the blocks
 * are later read with direct I/O, the pages read here are dropped again,
 * so the device's page cache stays the only copy.
 */
static int hbx_chunk_hash(struct hbx_chunks *c, u64 index, void *buf,
			  u8 *out, u8 *leaves)
{
	const struct hbx_manifest *m = c->manifest;
	loff_t start = index << m->chunk_shift, pos = start;
	u32 len = hbx_manifest_chunk_len(m, index), left = len;
	SHASH_DESC_ON_STACK(desc, c->sha256);
	int err;

	desc->tfm = c->sha256;
	err = crypto_shash_init(desc);
	while (!err && left) {
		u32 want = min_t(u32, left, HBX_HASH_BUF_SIZE);

		err = hbx_read_exact(c->image, buf, want, pos) ?:
		      hbx_hash_leaves(c, desc, buf, want, leaves);
		if (leaves)
			leaves += (want >> HBX_BLOCK_SHIFT) * HBX_DIGEST_SIZE;
		pos += want;
		left -= want;
	}
	if (!err)
		err = crypto_shash_final(desc, out);
	shash_desc_zero(desc);
	if (c->direct)
		invalidate_mapping_pages(c->image->f_mapping, start >> PAGE_SHIFT,
					 (start + len - 1) >> PAGE_SHIFT);
	return err;
}

/*
 * Verify always with a hash file: the chunk's leaves from it, kept if they
 * hash to the manifest's digest.  0, or -EBADMSG (the file is damaged
 * there: the caller hashes the chunk's data instead), or an I/O error.
 */
static int hbx_chunk_leaves_from_file(struct hbx_chunks *c, u64 index, u8 *leaves)
{
	const struct hbx_manifest *m = c->manifest;
	u32 size = hbx_chunk_blocks(m, index) * HBX_DIGEST_SIZE;
	u8 digest[HBX_DIGEST_SIZE];
	int err;

	err = hbx_read_exact(c->hashes, leaves, size,
			     hbx_chunk_first_block(m, index) * HBX_DIGEST_SIZE) ?:
	      crypto_shash_tfm_digest(c->sha256, leaves, size, digest);
	if (err)
		return err;
	return hbx_chunk_digest_is(c, index, digest) ? 0 : -EBADMSG;
}

int hbx_chunks_set_hashes(struct hbx_chunks *c, struct file *hashes,
			  const char **why)
{
	const struct hbx_manifest *m = c->manifest;
	loff_t want = (m->image_size >> HBX_BLOCK_SHIFT) * HBX_DIGEST_SIZE;
	loff_t size = i_size_read(file_inode(hashes));
	u64 ends[2] = { 0, m->chunk_count - 1 };
	u8 *leaves;
	int i, err = 0;

	if (size != want) {
		*why = size < want ? "hash file is shorter than the image needs" :
				     "hash file is longer than the image needs";
		return -EINVAL;
	}
	leaves = kvmalloc(hbx_chunk_blocks(m, 0) * HBX_DIGEST_SIZE, GFP_KERNEL);
	if (!leaves)
		return -ENOMEM;
	c->hashes = hashes;
	for (i = 0; i < 2 && !err; i++)
		err = hbx_chunk_leaves_from_file(c, ends[i], leaves);
	kvfree(leaves);
	if (err) {
		c->hashes = NULL;
		*why = err == -EBADMSG ?
		       "hash file does not match the manifest: another layer's?" :
		       "could not read the hash file";
		return err == -EBADMSG ? -EINVAL : err;
	}
	get_file(hashes);
	return 0;
}

/*
 * A remote layer's cache is sparse until chunks arrive: a chunk that is all
 * hole was never fetched, and hashing its zeros would only waste time.
 */
static bool hbx_chunk_is_hole(struct hbx_chunks *c, u64 index)
{
	loff_t pos = index << c->manifest->chunk_shift;
	loff_t data;

	if (!c->fetch)
		return false;
	data = vfs_llseek(c->image, pos, SEEK_DATA);
	return data == -ENXIO ||
	       (data >= 0 && data >= pos + hbx_manifest_chunk_len(c->manifest, index));
}

int hbx_chunk_matches(struct hbx_chunks *c, u64 index, const void *buf)
{
	u8 digest[HBX_DIGEST_SIZE], *leaves = NULL;
	SHASH_DESC_ON_STACK(desc, c->sha256);
	int err;

	if (c->always) {
		leaves = hbx_chunk_leaves(c, index);
		if (!leaves)
			return -ENOMEM;
	}
	desc->tfm = c->sha256;
	err = crypto_shash_init(desc) ?:
	      hbx_hash_leaves(c, desc, buf, hbx_manifest_chunk_len(c->manifest, index),
			      leaves) ?:
	      crypto_shash_final(desc, digest);
	shash_desc_zero(desc);
	return err ?: hbx_chunk_digest_is(c, index, digest);
}

/* Write len bytes of buf, whole pages of memory, at pos with direct I/O. */
static int hbx_write_direct(struct file *file, const void *buf, u32 len, loff_t pos)
{
	struct bio_vec bv[HBX_RXBUF_BVECS];
	struct iov_iter from;
	struct kiocb kiocb;
	unsigned int n;
	u32 covered;
	ssize_t done;

	while (len) {
		n = hbx_rxbuf_bvec(bv, buf, len, &covered);
		iov_iter_bvec(&from, ITER_SOURCE, bv, n, covered);
		init_sync_kiocb(&kiocb, file);	/* O_DIRECT: IOCB_DIRECT */
		kiocb.ki_pos = pos;
		/* Straight to ->write_iter, as for reads (layer.c). */
		file_start_write(file);
		done = file->f_op->write_iter(&kiocb, &from);
		file_end_write(file);
		if (done != covered)
			return done < 0 ? done : -EIO;
		buf += covered;
		pos += covered;
		len -= covered;
	}
	return 0;
}

/*
 * A fetched chunk into the cache, the module's own file (layer.c), at its
 * place.  Where the cache has direct I/O, the chunk goes straight to
 * storage: it is read back with direct I/O into the device's page cache,
 * so the cache file's page cache would be a second copy of it (and every
 * page of it allocated, cleared and copied into on the way).  What direct
 * I/O cannot take (a short last chunk, a filesystem that refuses the
 * alignment) is written buffered.
 */
static int hbx_cache_write(struct hbx_chunks *c, const void *buf, u32 len,
			   loff_t pos)
{
	if (c->direct && IS_ALIGNED(len, HBX_BLOCK_SIZE) &&
	    hbx_rxbuf_is_pages(buf, len) &&
	    !hbx_write_direct(c->direct, buf, len, pos))
		return 0;
	return kernel_write(c->image, buf, len, &pos) == len ? 0 : -EIO;
}

/*
 * Fetch count chunks of a remote layer from first on, whose locks the
 * caller holds, with one request (a reply may carry a run of chunks, each
 * checked by the fetcher against the manifest), and write what came to the
 * cache.  A chunk is marked verified only once it is written, so a crash
 * before leaves a hole or a torn chunk, which a re-attach hashes and
 * fetches again.  Every lock is let go here: a chunk is locked for one
 * request at most, however short the peers cut their runs.  Returns how
 * many chunks from first on are settled (at least one), or an error with
 * *bad = first.
 */
static int hbx_chunks_fetch(struct hbx_chunks *c, u64 first, u64 count, u64 *bad)
{
	const struct hbx_manifest *m = c->manifest;
	void *buf = NULL;
	int got, err;
	u32 len;
	u64 i;

	got = c->fetch(c->fetch_ctx, first, count, &buf, &len);
	if (got > 0) {
		err = hbx_cache_write(c, buf, len, first << m->chunk_shift);
		hbx_rxbuf_free(buf, len);
		if (err)
			got = -EIO;
	}
	if (got > 0) {
		atomic64_add(got, &c->nr_fetched);
		atomic64_add(len, &c->bytes_fetched);
		for (i = first; i < first + got; i++)
			hbx_chunk_set_verified(c, i);
	} else {
		*bad = first;
	}
	for (i = first; i < first + count; i++)
		hbx_chunk_unlock(c, i);
	return got;
}

/*
 * Establish one chunk: its leaves from the hash file if there is one and
 * they match, else its bytes hashed from the image.  0, -EBADMSG, -ENODATA
 * (a remote layer's chunk not in its cache), or an error.
 */
static int hbx_chunk_establish(struct hbx_chunks *c, u64 index, void **buf)
{
	u8 digest[HBX_DIGEST_SIZE], *leaves = NULL;
	u64 start = ktime_get_ns();
	bool ok;
	int err;

	if (c->always) {
		leaves = hbx_chunk_leaves(c, index);
		if (!leaves)
			return -ENOMEM;
		if (c->hashes && !hbx_chunk_leaves_from_file(c, index, leaves))
			return 0;
	}
	if (hbx_chunk_is_hole(c, index))
		return -ENODATA;
	/* Only now, and once per call: leaves from the hash file need none. */
	if (!*buf)
		*buf = kvmalloc(min_t(u32, HBX_HASH_BUF_SIZE,
				      hbx_manifest_chunk_size(c->manifest)), GFP_NOIO);
	if (!*buf)
		return -ENOMEM;
	err = hbx_chunk_hash(c, index, *buf, digest, leaves);
	if (err)
		return err;
	ok = hbx_chunk_digest_is(c, index, digest);
	atomic64_inc(&c->nr_hashed);
	trace_hbx_chunk_verify(c->id, index, hbx_manifest_chunk_len(c->manifest, index),
			       ok, ktime_get_ns() - start);
	return ok ? 0 : -EBADMSG;
}

/* hbx_chunk_begin()'s answer for a chunk that must be fetched. */
#define HBX_CHUNK_TO_FETCH	1

/*
 * Lock a chunk and settle it if this node can: 0 when it is verified
 * (by us or by whoever held it before), HBX_CHUNK_TO_FETCH when a remote
 * layer's chunk is not (correctly) in its cache, still locked for the
 * caller, or an error.
 */
static int hbx_chunk_begin(struct hbx_chunks *c, u64 index, void **buf,
			   bool may_wait)
{
	int err;

	err = hbx_chunk_lock(c, index, may_wait);
	if (err)
		return err;
	/* Someone else may have hashed it while we waited. */
	if (hbx_chunk_verified(c, index) || test_bit(index, c->failed)) {
		err = test_bit(index, c->failed) ? -EIO : 0;
		hbx_chunk_unlock(c, index);
		return err;
	}
	err = hbx_chunk_establish(c, index, buf);
	if (!err) {
		hbx_chunk_set_verified(c, index);
	} else if (c->fetch && err != -ENOMEM) {
		/* Not here yet, or torn: fetch it.  Never sticky: retry later. */
		return HBX_CHUNK_TO_FETCH;
	} else if (err == -EBADMSG) {
		atomic64_inc(&c->nr_failed);
		/*
		 * Verify once trusts the image not to change while attached:
		 * fail the chunk for good.  Verify always checks again next
		 * time (and fails again while the storage stays wrong).
		 */
		if (!c->always)
			set_bit(index, c->failed);
	}
	hbx_chunk_unlock(c, index);
	return err;
}

/*
 * Chunks that must be fetched are gathered into runs of neighbours, each
 * locked, and each run is asked for at once: a large read or a pull costs a
 * request per run, not per chunk.  What a reply leaves out is taken up
 * again from there.
 */
int hbx_chunks_verify(struct hbx_chunks *c, u64 first, u64 last, u64 *bad)
{
	u64 i, run = 0, nr = 0, max = hbx_manifest_run_max(c->manifest);
	bool held = false;	/* chunk i is another's: ask for the run first */
	void *buf = NULL;
	int err = 0;

	for (i = first; ; i++) {
		bool more = i <= last;

		if (more && hbx_chunk_verified(c, i))
			continue;
		/*
		 * A run ends at a gap, at its size, at the end, or before a
		 * chunk another task holds: ask for it.  Never wait for a lock
		 * while holding a run, so a wait for a chunk lasts at most its
		 * holder's one request, never a chain of them.
		 */
		if (nr && (!more || run + nr != i || nr == max || held)) {
			held = false;
			err = hbx_chunks_fetch(c, run, nr, bad);
			if (err < 0) {
				nr = 0;
				break;
			}
			if (err < nr) {
				/* Cut short: take up the rest again from there. */
				i = run + err - 1;
				nr = 0;
				continue;
			}
			nr = 0;
			err = 0;
		}
		if (!more)
			break;
		if (test_bit(i, c->failed)) {
			err = -EIO;
			*bad = i;
			break;
		}
		err = hbx_chunk_begin(c, i, &buf, !nr);
		if (err == -EBUSY) {
			held = true;
			i--;	/* back to it once the run is asked for */
			continue;
		}
		if (err == HBX_CHUNK_TO_FETCH) {
			if (!nr)
				run = i;
			nr++;
			err = 0;
		} else if (err) {
			*bad = i;
			break;
		}
	}
	while (nr)	/* failing: the run is let go as it was */
		hbx_chunk_unlock(c, run + --nr);
	kvfree(buf);
	return err;
}

int hbx_block_check(struct hbx_chunks *c, u64 block, const void *data)
{
	unsigned int per_chunk_shift = c->manifest->chunk_shift - HBX_BLOCK_SHIFT;
	u64 chunk = block >> per_chunk_shift;
	const u8 *leaf = READ_ONCE(c->leaves[chunk]) +
			 (block - (chunk << per_chunk_shift)) * HBX_DIGEST_SIZE;
	u8 digest[HBX_DIGEST_SIZE];
	int err;

	err = crypto_shash_tfm_digest(c->sha256, data, HBX_BLOCK_SIZE, digest);
	if (err)
		return err;
	atomic64_inc(&c->nr_blocks);
	if (!memcmp(digest, leaf, HBX_DIGEST_SIZE))
		return 0;
	atomic64_inc(&c->nr_failed);
	return -EBADMSG;
}

int hbx_chunk_verify_serving(struct hbx_chunks *c, u64 index, bool may_fetch)
{
	void *buf = NULL;
	u64 bad;
	int err;

	if (hbx_chunk_verified(c, index))
		return 0;
	if (test_bit(index, c->failed))
		return -EIO;
	err = hbx_chunk_begin(c, index, &buf, false);
	if (err == HBX_CHUNK_TO_FETCH && may_fetch) {
		err = min(hbx_chunks_fetch(c, index, 1, &bad), 0);
	} else if (err == HBX_CHUNK_TO_FETCH) {
		hbx_chunk_unlock(c, index);
		err = -ENODATA;
	}
	kvfree(buf);
	return err;
}
