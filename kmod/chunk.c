// SPDX-License-Identifier: GPL-2.0
/*
 * Chunk verification.  The first read of a chunk hashes it from the backing
 * image and compares it with the manifest; a bitmap remembers the chunks that
 * matched, so later reads cost one test_bit().  A chunk that fails stays
 * unverified and every read of it fails: bad bytes are never returned.
 */
#include <linux/bitmap.h>
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <crypto/hash.h>
#include "chunk.h"
#include "manifest.h"
#include "trace.h"

/* Chunks are hashed through a bounded buffer, whatever their size. */
#define HBX_HASH_BUF_SIZE (128U << 10)

int hbx_chunks_init(struct hbx_chunks *c, int id, const struct hbx_manifest *m,
		    struct file *image, struct crypto_shash *sha256)
{
	int i;

	memset(c, 0, sizeof(*c));
	c->id = id;
	c->verified = kvcalloc(BITS_TO_LONGS(m->chunk_count),
			       sizeof(unsigned long), GFP_KERNEL);
	c->failed = kvcalloc(BITS_TO_LONGS(m->chunk_count),
			     sizeof(unsigned long), GFP_KERNEL);
	if (!c->verified || !c->failed) {
		kvfree(c->verified);
		kvfree(c->failed);
		return -ENOMEM;
	}
	c->manifest = m;
	c->image = image;
	c->sha256 = sha256;
	for (i = 0; i < HBX_VERIFY_LOCKS; i++)
		mutex_init(&c->locks[i]);
	return 0;
}

void hbx_chunks_free(struct hbx_chunks *c)
{
	int i;

	for (i = 0; i < HBX_VERIFY_LOCKS; i++)
		mutex_destroy(&c->locks[i]);
	kvfree(c->verified);
	kvfree(c->failed);
	c->verified = NULL;
	c->failed = NULL;
}

static int hbx_chunk_hash(struct hbx_chunks *c, u64 index, void *buf,
			  u8 *out)
{
	const struct hbx_manifest *m = c->manifest;
	loff_t pos = index << m->chunk_shift;
	u64 left = hbx_manifest_chunk_len(m, index);
	SHASH_DESC_ON_STACK(desc, c->sha256);
	int err;

	desc->tfm = c->sha256;
	err = crypto_shash_init(desc);
	while (!err && left) {
		size_t want = min_t(u64, left, HBX_HASH_BUF_SIZE);
		ssize_t n = kernel_read(c->image, buf, want, &pos);

		if (n < 0)
			err = n;
		else if (n == 0)
			err = -EIO;	/* the image ended early */
		else
			err = crypto_shash_update(desc, buf, n);
		left -= n > 0 ? n : 0;
	}
	if (!err)
		err = crypto_shash_final(desc, out);
	shash_desc_zero(desc);
	return err;
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
	const struct hbx_manifest *m = c->manifest;
	u8 digest[HBX_DIGEST_SIZE];
	int err;

	err = crypto_shash_tfm_digest(c->sha256, buf,
				      hbx_manifest_chunk_len(m, index), digest);
	if (err)
		return err;
	return !memcmp(digest, m->chunk_digests + index * HBX_DIGEST_SIZE,
		       HBX_DIGEST_SIZE);
}

/*
 * Fetch a remote layer's chunk (the fetcher checks it against the manifest)
 * and write it to the cache.  Only then is it marked verified: a crash
 * before the write leaves a hole or a torn chunk, which a re-attach hashes
 * and fetches again.
 */
static int hbx_chunk_fetch(struct hbx_chunks *c, u64 index)
{
	const struct hbx_manifest *m = c->manifest;
	u32 len = hbx_manifest_chunk_len(m, index);
	loff_t pos = index << m->chunk_shift;
	void *buf;
	int err;

	buf = kvmalloc(len, GFP_NOIO);
	if (!buf)
		return -ENOMEM;
	err = c->fetch(c->fetch_ctx, index, buf, len);
	if (!err && kernel_write(c->image, buf, len, &pos) != len)
		err = -EIO;
	if (!err) {
		atomic64_inc(&c->nr_fetched);
		atomic64_add(len, &c->bytes_fetched);
		set_bit(index, c->verified);
		atomic64_inc(&c->nr_verified);
	}
	kvfree(buf);
	return err;
}

static int hbx_chunk_verify_one(struct hbx_chunks *c, u64 index, void *buf,
				bool may_fetch, bool may_wait)
{
	struct mutex *lock = &c->locks[index % HBX_VERIFY_LOCKS];
	u8 digest[HBX_DIGEST_SIZE];
	u64 start;
	int err;

	if (may_wait)
		mutex_lock(lock);
	else if (!mutex_trylock(lock))
		return -EBUSY;
	/* Someone else may have hashed it while we waited. */
	if (test_bit(index, c->verified) || test_bit(index, c->failed)) {
		err = test_bit(index, c->failed) ? -EIO : 0;
		mutex_unlock(lock);
		return err;
	}
	start = ktime_get_ns();
	err = hbx_chunk_is_hole(c, index) ? -ENODATA :
	      hbx_chunk_hash(c, index, buf, digest);
	if (!err) {
		bool ok = !memcmp(digest, c->manifest->chunk_digests +
				  index * HBX_DIGEST_SIZE, HBX_DIGEST_SIZE);

		atomic64_inc(&c->nr_hashed);
		trace_hbx_chunk_verify(c->id, index, hbx_manifest_chunk_len(c->manifest, index),
				       ok, ktime_get_ns() - start);
		if (ok) {
			set_bit(index, c->verified);
			atomic64_inc(&c->nr_verified);
		} else {
			err = -EBADMSG;
		}
	}
	if (err && c->fetch) {
		/* Not here yet, or torn: fetch it.  Never sticky: retry later. */
		err = may_fetch ? hbx_chunk_fetch(c, index) : -ENODATA;
	} else if (err == -EBADMSG) {
		/* A local image cannot change while attached: fail it for good. */
		set_bit(index, c->failed);
		atomic64_inc(&c->nr_failed);
	}
	mutex_unlock(lock);
	return err;
}

int hbx_chunks_verify(struct hbx_chunks *c, u64 first, u64 last, u64 *bad)
{
	void *buf = NULL;
	u64 i;
	int err = 0;

	for (i = first; i <= last; i++) {
		if (test_bit(i, c->verified))
			continue;
		if (test_bit(i, c->failed)) {
			err = -EIO;
			break;
		}
		if (!buf) {
			buf = kvmalloc(HBX_HASH_BUF_SIZE, GFP_NOIO);
			if (!buf)
				return -ENOMEM;
		}
		err = hbx_chunk_verify_one(c, i, buf, true, true);
		if (err) {
			*bad = i;
			break;
		}
	}
	kvfree(buf);
	return err;
}

int hbx_chunk_verify_serving(struct hbx_chunks *c, u64 index, bool may_fetch)
{
	void *buf;
	int err;

	if (test_bit(index, c->verified))
		return 0;
	if (test_bit(index, c->failed))
		return -EIO;
	buf = kvmalloc(HBX_HASH_BUF_SIZE, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	err = hbx_chunk_verify_one(c, index, buf, may_fetch, false);
	kvfree(buf);
	return err;
}
