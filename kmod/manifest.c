// SPDX-License-Identifier: GPL-2.0
/*
 * Layer manifests: read from a file user space handed in, checked before
 * anything is built from them.  Every field is untrusted until it has been
 * bounds-checked here and the whole buffer hashes to the digest the caller
 * asked for.
 */
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/overflow.h>
#include <crypto/hash.h>
#include <net/netlink.h>
#include "manifest.h"

/* A manifest's bytes with their reference count in front. */
struct hbx_manifest_bytes {
	refcount_t	ref;
	u8		data[];
};

static void *hbx_manifest_alloc(size_t len)
{
	struct hbx_manifest_bytes *b = kvmalloc(struct_size(b, data, len), GFP_KERNEL);

	if (!b)
		return NULL;
	refcount_set(&b->ref, 1);
	return b->data;
}

const void *hbx_manifest_get_bytes(const struct hbx_manifest *m)
{
	refcount_inc(&container_of(m->buf, struct hbx_manifest_bytes, data[0])->ref);
	return m->buf;
}

void hbx_manifest_put_bytes(const void *bytes)
{
	struct hbx_manifest_bytes *b;

	if (!bytes)
		return;
	b = container_of(bytes, struct hbx_manifest_bytes, data[0]);
	if (refcount_dec_and_test(&b->ref))
		kvfree(b);
}

static int hbx_read_full(struct file *file, void *buf, size_t len)
{
	loff_t pos = 0;

	while (len) {
		ssize_t n = kernel_read(file, buf, len, &pos);

		if (n < 0)
			return n;
		if (n == 0)
			return -ENODATA;	/* shrank while we read */
		buf += n;
		len -= n;
	}
	return 0;
}

static int hbx_manifest_parse(struct hbx_manifest *m,
			      struct netlink_ext_ack *extack,
			      const struct nlattr *attr)
{
	const struct hbx_manifest_header *h = m->buf;
	u64 chunk_size, want_chunks, body;

	if (le32_to_cpu(h->magic) != HBX_MANIFEST_MAGIC) {
		NL_SET_ERR_MSG_ATTR(extack, attr, "manifest has a bad magic number");
		return -EINVAL;
	}
	if (le16_to_cpu(h->version) == 1) {
		NL_SET_ERR_MSG_ATTR(extack, attr,
				    "manifest version 1 hashes whole chunks: rebuild the layer (hbx layer build)");
		return -EOPNOTSUPP;
	}
	if (le16_to_cpu(h->version) != HBX_MANIFEST_VERSION) {
		NL_SET_ERR_MSG_ATTR(extack, attr, "manifest version is not supported");
		return -EOPNOTSUPP;
	}
	if (h->hash_algo != HBX_HASH_SHA256) {
		NL_SET_ERR_MSG_ATTR(extack, attr, "manifest hash algorithm is not supported");
		return -EOPNOTSUPP;
	}
	if (memchr_inv(h->reserved, 0, sizeof(h->reserved))) {
		NL_SET_ERR_MSG_ATTR(extack, attr, "manifest reserved bytes are not zero");
		return -EINVAL;
	}
	if (h->chunk_shift < HBX_CHUNK_SHIFT_MIN ||
	    h->chunk_shift > HBX_CHUNK_SHIFT_MAX) {
		NL_SET_ERR_MSG_ATTR(extack, attr, "manifest chunk size is out of range (4 KiB to 4 MiB)");
		return -EINVAL;
	}
	m->chunk_shift = h->chunk_shift;
	m->image_size = le64_to_cpu(h->image_size);
	m->chunk_count = le64_to_cpu(h->chunk_count);
	chunk_size = 1ULL << m->chunk_shift;

	if (!m->image_size) {
		NL_SET_ERR_MSG_ATTR(extack, attr, "manifest describes an empty image");
		return -EINVAL;
	}
	if (m->image_size > MAX_LFS_FILESIZE) {
		NL_SET_ERR_MSG_ATTR(extack, attr, "manifest image size is larger than any file can be");
		return -EFBIG;
	}
	if (!IS_ALIGNED(m->image_size, HBX_BLOCK_SIZE)) {
		NL_SET_ERR_MSG_ATTR(extack, attr, "manifest image size is not a multiple of 4096");
		return -EINVAL;
	}
	/* Not DIV_ROUND_UP: image_size + chunk_size - 1 wraps near 2^64. */
	want_chunks = (m->image_size >> h->chunk_shift) +
		      !!(m->image_size & (chunk_size - 1));
	if (m->chunk_count != want_chunks) {
		NL_SET_ERR_MSG_ATTR(extack, attr, "manifest chunk count does not match its image size");
		return -EINVAL;
	}
	if (check_mul_overflow(m->chunk_count, (u64)HBX_DIGEST_SIZE, &body) ||
	    body != m->len - sizeof(*h)) {
		NL_SET_ERR_MSG_ATTR(extack, attr, "manifest length does not match its chunk count");
		return -EINVAL;
	}
	m->chunk_digests = m->buf + sizeof(*h);
	return 0;
}

/* Hash first: a manifest that is not the one asked for is not parsed. */
static int hbx_manifest_check(struct hbx_manifest *m, const u8 *expected_digest,
			      struct crypto_shash *sha256,
			      struct netlink_ext_ack *extack,
			      const struct nlattr *attr)
{
	int err;

	err = crypto_shash_tfm_digest(sha256, m->buf, m->len, m->digest);
	if (err)
		goto err_free;
	if (expected_digest && memcmp(m->digest, expected_digest, HBX_DIGEST_SIZE)) {
		NL_SET_ERR_MSG_ATTR(extack, attr, "manifest does not match the expected digest");
		err = -EBADMSG;
		goto err_free;
	}
	err = hbx_manifest_parse(m, extack, attr);
	if (err)
		goto err_free;
	return 0;

err_free:
	hbx_manifest_free(m);
	return err;
}

int hbx_manifest_load(struct hbx_manifest *m, struct file *file,
		      const u8 *expected_digest, struct crypto_shash *sha256,
		      struct netlink_ext_ack *extack,
		      const struct nlattr *fd_attr)
{
	loff_t size = i_size_read(file_inode(file));
	int err;

	memset(m, 0, sizeof(*m));
	if (size < (loff_t)sizeof(struct hbx_manifest_header)) {
		NL_SET_ERR_MSG_ATTR(extack, fd_attr, "manifest is shorter than its header");
		return -EINVAL;
	}
	if (size > HBX_MANIFEST_MAX) {
		NL_SET_ERR_MSG_ATTR(extack, fd_attr, "manifest is larger than 64 MiB");
		return -EFBIG;
	}
	m->len = size;
	m->buf = hbx_manifest_alloc(m->len);
	if (!m->buf)
		return -ENOMEM;

	err = hbx_read_full(file, m->buf, m->len);
	if (err) {
		NL_SET_ERR_MSG_ATTR(extack, fd_attr, "could not read the manifest");
		hbx_manifest_free(m);
		return err;
	}
	return hbx_manifest_check(m, expected_digest, sha256, extack, fd_attr);
}

int hbx_manifest_adopt(struct hbx_manifest *m, void *buf, size_t len,
		       const u8 *expected_digest, struct crypto_shash *sha256,
		       struct netlink_ext_ack *extack, const struct nlattr *attr)
{
	memset(m, 0, sizeof(*m));
	if (len < sizeof(struct hbx_manifest_header) || len > HBX_MANIFEST_MAX) {
		kvfree(buf);
		NL_SET_ERR_MSG_ATTR(extack, attr, "manifest has an impossible size");
		return -EINVAL;
	}
	m->buf = hbx_manifest_alloc(len);
	if (m->buf)
		memcpy(m->buf, buf, len);
	kvfree(buf);
	if (!m->buf)
		return -ENOMEM;
	m->len = len;
	return hbx_manifest_check(m, expected_digest, sha256, extack, attr);
}

int hbx_export_name_key(struct crypto_shash *sha256, const char *name,
			u8 key[HBX_DIGEST_SIZE])
{
	static const char prefix[] = HBX_EXPORT_NAME_KEY_PREFIX;
	SHASH_DESC_ON_STACK(desc, sha256);
	int err;

	desc->tfm = sha256;
	err = crypto_shash_init(desc) ?:
	      crypto_shash_update(desc, prefix, sizeof(prefix)) ?:
	      crypto_shash_finup(desc, name, strlen(name), key);
	shash_desc_zero(desc);
	return err;
}

void hbx_manifest_free(struct hbx_manifest *m)
{
	hbx_manifest_put_bytes(m->buf);
	m->buf = NULL;
}
