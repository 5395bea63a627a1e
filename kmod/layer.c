// SPDX-License-Identifier: GPL-2.0
/*
 * Layers: each attached EROFS image is a read-only blk-mq device /dev/hbxN.
 * Reads run in the device's own workqueue (file I/O may sleep).  Verify
 * always (the default): make sure the leaf hashes of the chunks a read
 * touches are known, read the blocks from storage with direct I/O straight
 * into the request's pages, and check each 4 KiB block against its leaf
 * before the request completes.  Verify once: check each chunk on its first
 * read, then copy from the backing file's page cache.
 *
 * Lifetime: a layer is in the registry from LAYER_ADD until its gendisk is
 * freed (free_disk), so a force-deleted layer that is still open shows up as
 * DEAD in dumps until its last opener goes.
 */
#include <linux/blkdev.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/idr.h>
#include <linux/magic.h>
#include <linux/module.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/uio.h>
#include <linux/wait_bit.h>
#include <net/net_namespace.h>
#include <crypto/hash.h>
#include <net/genetlink.h>
#include "layer.h"
#include "netlink.h"
#include "trace.h"
#include "client.h"
#include "peer.h"

#define HBX_QUEUE_DEPTH		128
/*
 * Requests of at most 256 KiB: a large read splits into several, which the
 * unbound workqueue verifies on several CPUs at once.
 */
#define HBX_MAX_IO_SECTORS	(256U << (10 - SECTOR_SHIFT))
/*
 * Remote layers: one chunk per request (at least 64 KiB), so a large read
 * becomes many fetches in flight at once rather than a few in a row.
 */
#define HBX_REMOTE_IO_SECTORS_MIN (64U << (10 - SECTOR_SHIFT))
#define HBX_INLINE_BVECS	16

static DEFINE_MUTEX(hbx_registry_mutex);
static DEFINE_IDR(hbx_registry);
static unsigned int hbx_registry_gen;
static int hbx_major;
static struct workqueue_struct *hbx_ctl_wq;	/* deferred teardown */

static void hbx_layer_destroy(struct hbx_layer *layer);

struct hbx_io {
	struct work_struct	work;
	struct request		*rq;
};

/* Copy [pos, pos + len) of file into the request's pages. */
static int hbx_read_into_request(struct file *file, struct request *rq,
				 loff_t pos, unsigned int len)
{
	struct bio_vec inline_bvecs[HBX_INLINE_BVECS], *bvecs = inline_bvecs;
	struct req_iterator it;
	struct bio_vec bv;
	struct iov_iter to;
	struct kiocb kiocb;
	unsigned int nr = 0;
	ssize_t n;

	rq_for_each_bvec(bv, rq, it)
		nr++;
	if (nr > HBX_INLINE_BVECS) {
		bvecs = kmalloc_array(nr, sizeof(*bvecs), GFP_NOIO);
		if (!bvecs)
			return -ENOMEM;
	}
	nr = 0;
	rq_for_each_bvec(bv, rq, it)
		bvecs[nr++] = bv;

	/*
	 * Straight to ->read_iter, as loop does: the file was checked when it
	 * was attached, and per-read fsnotify and LSM hooks cost more than the
	 * copy on a page-cache hit.
	 */
	iov_iter_bvec(&to, ITER_DEST, bvecs, nr, len);
	init_sync_kiocb(&kiocb, file);	/* direct I/O if file is O_DIRECT */
	kiocb.ki_pos = pos;
	n = file->f_op->read_iter(&kiocb, &to);
	if (bvecs != inline_bvecs)
		kfree(bvecs);
	return n == len ? 0 : -EIO;
}

/*
 * Verify always: every 4 KiB block just read from storage into the
 * request's pages against its leaf hash.  Block-sized segments: the
 * device's logical block size is 4 KiB.
 */
static blk_status_t hbx_check_blocks(struct hbx_layer *layer, struct request *rq,
				     loff_t pos)
{
	u64 block = pos >> HBX_BLOCK_SHIFT, first = block;
	u64 start = ktime_get_ns();
	struct req_iterator it;
	struct bio_vec bv;
	int err = 0;

	rq_for_each_segment(bv, rq, it) {
		unsigned int off;

		for (off = 0; off < bv.bv_len && !err; off += HBX_BLOCK_SIZE) {
			void *data = kmap_local_page(bv.bv_page);

			err = hbx_block_check(&layer->chunks, block, data + bv.bv_offset + off);
			kunmap_local(data);
			if (!err)
				block++;
		}
		if (err)
			break;
	}
	trace_hbx_blocks_verify(layer->index, first, block - first, err ? block : -1ULL,
				ktime_get_ns() - start);
	if (err == -EBADMSG)
		hbx_notify_verify_fail(layer, block >> (layer->manifest.chunk_shift -
							HBX_BLOCK_SHIFT), block);
	return err ? BLK_STS_IOERR : BLK_STS_OK;
}

static blk_status_t hbx_do_read(struct hbx_layer *layer, struct request *rq)
{
	const struct hbx_manifest *m = &layer->manifest;
	loff_t pos = (loff_t)blk_rq_pos(rq) << SECTOR_SHIFT;
	unsigned int len = blk_rq_bytes(rq);
	u64 bad;
	int err;

	if (READ_ONCE(layer->dead))
		return BLK_STS_IOERR;
	if (!len || pos + len > m->image_size)
		return BLK_STS_IOERR;

	err = hbx_chunks_verify(&layer->chunks, pos >> m->chunk_shift,
				(pos + len - 1) >> m->chunk_shift, &bad);
	if (err == -EBADMSG)
		hbx_notify_verify_fail(layer, bad, -1ULL);
	if (err)
		return BLK_STS_IOERR;

	if (!layer->chunks.always)
		return hbx_read_into_request(layer->image, rq, pos, len) ?
		       BLK_STS_IOERR : BLK_STS_OK;
	if (hbx_read_into_request(layer->chunks.direct ?: layer->image, rq, pos, len))
		return BLK_STS_IOERR;
	return hbx_check_blocks(layer, rq, pos);
}

static void hbx_io_work(struct work_struct *work)
{
	struct hbx_io *io = container_of(work, struct hbx_io, work);
	struct request *rq = io->rq;
	/* We sit under the page cache of whatever is mounted on us. */
	unsigned int noio = memalloc_noio_save();
	struct hbx_layer *layer = rq->q->queuedata;
	u64 start = trace_hbx_read_enabled() ? ktime_get_ns() : 0;
	bool hit = trace_hbx_read_enabled() && hbx_trace_read_hit(layer, rq);
	blk_status_t status = hbx_do_read(layer, rq);

	if (status == BLK_STS_OK)
		atomic64_add(blk_rq_bytes(rq), &layer->bytes_read);
	memalloc_noio_restore(noio);
	trace_hbx_read(layer, rq, hit, blk_status_to_errno(status), start);
	blk_mq_end_request(rq, status);
}

static blk_status_t hbx_queue_rq(struct blk_mq_hw_ctx *hctx,
				 const struct blk_mq_queue_data *bd)
{
	struct request *rq = bd->rq;
	struct hbx_io *io = blk_mq_rq_to_pdu(rq);
	struct hbx_layer *layer = hctx->queue->queuedata;

	if (req_op(rq) != REQ_OP_READ || READ_ONCE(layer->dead))
		return BLK_STS_IOERR;
	blk_mq_start_request(rq);
	queue_work(layer->io_wq, &io->work);
	return BLK_STS_OK;
}

static int hbx_init_request(struct blk_mq_tag_set *set, struct request *rq,
			    unsigned int hctx_idx, unsigned int numa_node)
{
	struct hbx_io *io = blk_mq_rq_to_pdu(rq);

	INIT_WORK(&io->work, hbx_io_work);
	io->rq = rq;
	return 0;
}

static const struct blk_mq_ops hbx_mq_ops = {
	.queue_rq	= hbx_queue_rq,
	.init_request	= hbx_init_request,
};

static void hbx_layer_destroy_work(struct work_struct *work)
{
	hbx_layer_destroy(container_of(work, struct hbx_layer, destroy_work));
}

static int hbx_layer_open(struct hbx_layer *layer)
{
	int err = 0;

	mutex_lock(&layer->lock);
	if (layer->dead)
		err = -ENXIO;
	else
		layer->openers++;
	mutex_unlock(&layer->lock);
	return err;
}

/*
 * A force-deleted layer is torn down when its last user goes.  Not here:
 * release runs under the disk's open_mutex, which del_gendisk() takes.
 */
static void hbx_layer_release(struct hbx_layer *layer)
{
	bool destroy;

	mutex_lock(&layer->lock);
	destroy = !--layer->openers && layer->dead;
	mutex_unlock(&layer->lock);
	if (destroy)
		queue_work(hbx_ctl_wq, &layer->destroy_work);
}

#ifdef HBX_HAVE_BLK_MODE_T
static int hbx_bdev_open(struct gendisk *disk, blk_mode_t mode)
{
	return hbx_layer_open(disk->private_data);
}

static void hbx_bdev_release(struct gendisk *disk)
{
	hbx_layer_release(disk->private_data);
}
#else
static int hbx_bdev_open(struct block_device *bdev, fmode_t mode)
{
	return hbx_layer_open(bdev->bd_disk->private_data);
}

static void hbx_bdev_release(struct gendisk *disk, fmode_t mode)
{
	hbx_layer_release(disk->private_data);
}
#endif

/* The last reference to the disk is gone: nothing can reach the layer. */
static void hbx_bdev_free_disk(struct gendisk *disk)
{
	struct hbx_layer *layer = disk->private_data;

	mutex_lock(&hbx_registry_mutex);
	idr_remove(&hbx_registry, layer->index);
	hbx_registry_gen++;
	mutex_unlock(&hbx_registry_mutex);
	/* Only now: dumps show a dead layer's peers until it is gone. */
	hbx_fetch_put_peers(&layer->src);
	mutex_destroy(&layer->lock);
	kfree(layer);
}

static const struct block_device_operations hbx_bdev_ops = {
	.owner		= THIS_MODULE,
	.open		= hbx_bdev_open,
	.release	= hbx_bdev_release,
	.free_disk	= hbx_bdev_free_disk,
};

static struct gendisk *hbx_alloc_disk(struct hbx_layer *layer)
{
	unsigned int max_sectors = HBX_MAX_IO_SECTORS;
	struct gendisk *disk;

	if (hbx_layer_is_remote(layer))
		max_sectors = clamp(hbx_manifest_chunk_size(&layer->manifest) >> SECTOR_SHIFT,
				    HBX_REMOTE_IO_SECTORS_MIN, HBX_MAX_IO_SECTORS);
#ifdef HBX_HAVE_QUEUE_LIMITS_ALLOC
	struct queue_limits lim = {
		.logical_block_size	= HBX_BLOCK_SIZE,
		.physical_block_size	= HBX_BLOCK_SIZE,
		.io_min			= HBX_BLOCK_SIZE,
		.max_hw_sectors		= max_sectors,
	};

	disk = blk_mq_alloc_disk(&layer->tag_set, &lim, layer);
#else
	disk = blk_mq_alloc_disk(&layer->tag_set, layer);
	if (!IS_ERR(disk)) {
		blk_queue_logical_block_size(disk->queue, HBX_BLOCK_SIZE);
		blk_queue_physical_block_size(disk->queue, HBX_BLOCK_SIZE);
		blk_queue_io_min(disk->queue, HBX_BLOCK_SIZE);
		blk_queue_max_hw_sectors(disk->queue, max_sectors);
		blk_queue_flag_set(QUEUE_FLAG_NONROT, disk->queue);
	}
#endif
	return disk;
}

static int hbx_layer_create_disk(struct hbx_layer *layer)
{
	struct blk_mq_tag_set *set = &layer->tag_set;
	struct gendisk *disk;
	int err;

	/*
	 * Unbound: a large read's requests verify on several CPUs at once.
	 * Reclaim-safe: we sit under the page cache of what is mounted on us.
	 */
	layer->io_wq = alloc_workqueue("hbx%d_io", WQ_UNBOUND | WQ_MEM_RECLAIM |
				       WQ_HIGHPRI, 0, layer->index);
	if (!layer->io_wq)
		return -ENOMEM;
	set->ops = &hbx_mq_ops;
	set->nr_hw_queues = 1;
	set->queue_depth = HBX_QUEUE_DEPTH;
	set->numa_node = NUMA_NO_NODE;
	set->cmd_size = sizeof(struct hbx_io);
	/*
	 * No I/O scheduler unless the admin picks one, as loop: the backing
	 * file's device has its own, and one here only adds a queue and its
	 * CPU to every read (mq-deadline is the default for one hw queue).
	 */
	set->flags = BLK_MQ_F_SHOULD_MERGE | BLK_MQ_F_NO_SCHED_BY_DEFAULT;
	set->driver_data = layer;
	err = blk_mq_alloc_tag_set(set);
	if (err)
		goto err_destroy_wq;

	disk = hbx_alloc_disk(layer);
	if (IS_ERR(disk)) {
		err = PTR_ERR(disk);
		goto err_free_tag_set;
	}
	disk->major = hbx_major;
	disk->first_minor = layer->index;
	disk->minors = 1;
	disk->fops = &hbx_bdev_ops;
	disk->private_data = layer;
	disk->flags |= GENHD_FL_NO_PART;
	snprintf(disk->disk_name, sizeof(disk->disk_name), "hbx%d", layer->index);
	set_capacity(disk, layer->manifest.image_size >> SECTOR_SHIFT);
	set_disk_ro(disk, true);

	layer->disk = disk;
	err = add_disk(disk);
	if (err)
		goto err_put_disk;
	return 0;

err_put_disk:
	/* Not added yet, so put_disk() does not call free_disk. */
	layer->disk = NULL;
	put_disk(disk);
err_free_tag_set:
	blk_mq_free_tag_set(set);
err_destroy_wq:
	destroy_workqueue(layer->io_wq);
	layer->io_wq = NULL;
	return err;
}

struct hbx_fd_msgs {
	const char *bad_fd, *not_regular, *not_readable;
};

static const struct hbx_fd_msgs hbx_image_fd_msgs = {
	"image fd is not an open file descriptor",
	"image fd is not a regular file",
	"image fd is not open for reading",
};

static const struct hbx_fd_msgs hbx_manifest_fd_msgs = {
	"manifest fd is not an open file descriptor",
	"manifest fd is not a regular file",
	"manifest fd is not open for reading",
};

static const struct hbx_fd_msgs hbx_hashes_fd_msgs = {
	"hash file fd is not an open file descriptor",
	"hash file fd is not a regular file",
	"hash file fd is not open for reading",
};

static const struct hbx_fd_msgs hbx_cache_fd_msgs = {
	"cache fd is not an open file descriptor",
	"cache fd is not a regular file",
	"cache fd is not open for reading",
};

/* User space hands us fds, never paths; check what each one is. */
static struct file *hbx_fget_regular(int fd, const struct hbx_fd_msgs *msgs,
				     struct netlink_ext_ack *extack,
				     const struct nlattr *attr)
{
	struct file *file = fget(fd);

	if (!file) {
		hbx_extack_attr(extack, attr, msgs->bad_fd);
		return ERR_PTR(-EBADF);
	}
	if (!S_ISREG(file_inode(file)->i_mode)) {
		hbx_extack_attr(extack, attr, msgs->not_regular);
		fput(file);
		return ERR_PTR(-EINVAL);
	}
	if (!(file->f_mode & FMODE_READ)) {
		hbx_extack_attr(extack, attr, msgs->not_readable);
		fput(file);
		return ERR_PTR(-EBADF);
	}
	return file;
}

/* A remote layer's manifest comes from its peers, checked as any other. */
static int hbx_layer_fetch_manifest(struct hbx_layer *layer,
				    const struct hbx_layer_params *p,
				    struct genl_info *info)
{
	const struct nlattr *attr = info->attrs[HBX_A_LAYER_PEERS] ?:
				    info->attrs[HBX_A_LAYER_PEER];
	const u8 *digest = p->digest;
	u8 key[HBX_DIGEST_SIZE];
	void *buf;
	u32 len;
	int err;

	if (!digest) {
		err = hbx_export_name_key(layer->chunks.sha256, p->export_name, key);
		if (err)
			return err;
		digest = key;
	}
	err = hbx_fetch_get_peers(&layer->src, p, info) ?:
	      hbx_fetch_manifest(&layer->src, digest, !p->digest, &buf, &len,
				 info->extack, attr);
	if (err)
		return err;
	/* By name: the layer is whatever the peer that knew the name sent. */
	return hbx_manifest_adopt(&layer->manifest, buf, len, p->digest,
				  layer->chunks.sha256, info->extack, attr);
}

static int hbx_layer_load_manifest(struct hbx_layer *layer,
				   const struct hbx_layer_params *p,
				   struct genl_info *info)
{
	const struct nlattr *attr = info->attrs[HBX_A_LAYER_MANIFEST_FD];
	struct file *file;
	int err;

	if (p->remote)
		return hbx_layer_fetch_manifest(layer, p, info);
	file = hbx_fget_regular(p->manifest_fd, &hbx_manifest_fd_msgs,
				info->extack, attr);
	if (IS_ERR(file))
		return PTR_ERR(file);
	err = hbx_manifest_load(&layer->manifest, file, p->digest,
				layer->chunks.sha256, info->extack, attr);
	fput(file);
	return err;
}

/*
 * Caches in use, by inode: claimed before anything is written to one, so
 * two layers (or two racing adds) never write the same cache.
 */
static DEFINE_XARRAY(hbx_caches);

static void hbx_cache_unclaim(struct file *file)
{
	xa_erase(&hbx_caches, (unsigned long)file_inode(file));
}

/*
 * A remote layer's cache: written by us as chunks arrive, so it must be
 * open read-write; grown (sparse) to the image size.  What is already in it
 * is hashed before anything is fetched, so a re-attach resumes.
 *
 * We write through a file of our own, opened on the same inode: whatever
 * user space later does to its description (F_SETFL O_APPEND, lseek) cannot
 * move our writes.  Appending files are refused, since a write that lands
 * at the end would leave the chunk's place a hole we thought written.
 */
static int hbx_layer_open_cache(struct hbx_layer *layer,
				const struct hbx_layer_params *p,
				struct genl_info *info)
{
	const struct nlattr *attr = info->attrs[HBX_A_LAYER_CACHE_FD];
	const char *why = NULL;
	struct file *file, *own;
	loff_t size;
	int err;

	file = hbx_fget_regular(p->cache_fd, &hbx_cache_fd_msgs, info->extack, attr);
	if (IS_ERR(file))
		return PTR_ERR(file);
	size = i_size_read(file_inode(file));
	if (!(file->f_mode & FMODE_WRITE))
		why = "cache fd is not open for writing";
	else if ((file->f_flags & O_APPEND) || IS_APPEND(file_inode(file)))
		why = "cache file is append-only or opened with O_APPEND";
	else if (!file->f_op->read_iter)
		why = "cache's filesystem does not support read_iter";
	else if (size > layer->manifest.image_size)
		why = "cache file is larger than the layer: another layer's?";
	if (why) {
		err = -EINVAL;
		goto err_put;
	}
	err = xa_insert(&hbx_caches, (unsigned long)file_inode(file), layer,
			GFP_KERNEL);
	if (err) {
		why = err == -EBUSY ? "cache file is already attached to a layer" :
				      "out of memory";
		goto err_put;
	}
	if (size < layer->manifest.image_size) {
		err = vfs_truncate(&file->f_path, layer->manifest.image_size);
		if (err) {
			why = "could not grow the cache file";
			goto err_unclaim;
		}
	}
	own = dentry_open(&file->f_path, O_RDWR | O_LARGEFILE, file->f_cred);
	if (IS_ERR(own)) {
		err = PTR_ERR(own);
		why = "could not open the cache file for writing";
		goto err_unclaim;
	}
	fput(file);
	layer->image = own;
	return 0;

err_unclaim:
	hbx_cache_unclaim(file);
err_put:
	hbx_extack_attr(info->extack, attr, why);
	fput(file);
	return err;
}

static int hbx_layer_open_image(struct hbx_layer *layer,
				const struct hbx_layer_params *p,
				struct genl_info *info)
{
	const struct nlattr *attr = info->attrs[HBX_A_LAYER_IMAGE_FD];
	struct file *file;
	loff_t size;
	int err;

	if (p->remote)
		return hbx_layer_open_cache(layer, p, info);
	file = hbx_fget_regular(p->image_fd, &hbx_image_fd_msgs,
				info->extack, attr);
	if (IS_ERR(file))
		return PTR_ERR(file);

	if (!file->f_op->read_iter) {
		NL_SET_ERR_MSG_ATTR(info->extack, attr,
				    "image's filesystem does not support read_iter");
		err = -EINVAL;
		goto err_put;
	}
	size = i_size_read(file_inode(file));
	if (size != layer->manifest.image_size) {
		hbx_extack_attr(info->extack, attr,
				size < layer->manifest.image_size ?
				"image is shorter than the manifest says" :
				"image is longer than the manifest says");
		err = -EINVAL;
		goto err_put;
	}
	/* What we verify must stay what we serve: no writers while attached. */
	err = deny_write_access(file);
	if (err) {
		NL_SET_ERR_MSG_ATTR(info->extack, attr,
				    "image is open for writing elsewhere");
		goto err_put;
	}
	layer->image = file;
	return 0;

err_put:
	fput(file);
	return err;
}

/*
 * Verify always: the backing file again, with O_DIRECT; a remote layer's
 * cache read-write, as its own file is (its chunks are written with it
 * too).  A filesystem without direct I/O refuses it; reads (and writes)
 * stay buffered then, and reads checked.
 */
static void hbx_layer_open_direct(struct hbx_layer *layer)
{
	int mode = hbx_layer_is_remote(layer) ? O_RDWR : O_RDONLY;
	struct file *file;

	/* tmpfs's page cache is its storage: nothing to bypass or drop. */
	if (!layer->chunks.always ||
	    file_inode(layer->image)->i_sb->s_magic == TMPFS_MAGIC)
		return;
	file = dentry_open(&layer->image->f_path, mode | O_LARGEFILE | O_DIRECT,
			   layer->image->f_cred);
	if (IS_ERR(file))
		return;
	layer->chunks.direct = file;
}

/* Verify always, a local layer: its hash file, if user space gave one. */
static int hbx_layer_open_hashes(struct hbx_layer *layer,
				 const struct hbx_layer_params *p,
				 struct genl_info *info)
{
	const struct nlattr *attr = info->attrs[HBX_A_LAYER_HASHES_FD];
	const char *why = "could not use the hash file";
	struct file *file;
	int err;

	/* Verify once checks whole chunks: it has no use for leaves. */
	if (p->hashes_fd < 0 || !layer->chunks.always)
		return 0;
	file = hbx_fget_regular(p->hashes_fd, &hbx_hashes_fd_msgs, info->extack, attr);
	if (IS_ERR(file))
		return PTR_ERR(file);
	err = hbx_chunks_set_hashes(&layer->chunks, file, &why);
	fput(file);
	if (err)
		hbx_extack_attr(info->extack, attr, why);
	return err;
}

static void hbx_layer_close_image(struct hbx_layer *layer)
{
	if (layer->chunks.direct)
		fput(layer->chunks.direct);
	layer->chunks.direct = NULL;
	if (hbx_layer_is_remote(layer))
		hbx_cache_unclaim(layer->image);
	else
		allow_write_access(layer->image);
	fput(layer->image);
	layer->image = NULL;
}

static int hbx_registry_reserve(struct hbx_layer *layer,
				struct netlink_ext_ack *extack)
{
	int index;

	mutex_lock(&hbx_registry_mutex);
	/* Reserve the index with NULL: lookups skip a layer being built. */
	index = idr_alloc(&hbx_registry, NULL, 0, HBX_MAX_LAYERS, GFP_KERNEL);
	mutex_unlock(&hbx_registry_mutex);
	if (index == -ENOSPC)
		NL_SET_ERR_MSG(extack, "too many layers attached");
	if (index < 0)
		return index;
	layer->index = index;
	return 0;
}

/* Leaves the registry locked for hbx_layer_add()'s caller. */
static void hbx_registry_publish(struct hbx_layer *layer)
{
	mutex_lock(&hbx_registry_mutex);
	idr_replace(&hbx_registry, layer, layer->index);
	hbx_registry_gen++;
}

static void hbx_registry_unreserve(struct hbx_layer *layer)
{
	mutex_lock(&hbx_registry_mutex);
	idr_remove(&hbx_registry, layer->index);
	mutex_unlock(&hbx_registry_mutex);
}

/* Everything but the gendisk itself, which free_disk releases. */
static void hbx_layer_release_data(struct hbx_layer *layer)
{
	hbx_chunks_free(&layer->chunks);
	hbx_layer_close_image(layer);
	hbx_manifest_free(&layer->manifest);
	crypto_free_shash(layer->chunks.sha256);
}

struct hbx_layer *hbx_layer_add(const struct hbx_layer_params *p,
				struct genl_info *info)
{
	struct crypto_shash *sha256;
	struct hbx_layer *layer;
	int err;

	layer = kzalloc(sizeof(*layer), GFP_KERNEL);
	if (!layer)
		return ERR_PTR(-ENOMEM);
	mutex_init(&layer->lock);
	INIT_WORK(&layer->destroy_work, hbx_layer_destroy_work);
	layer->src.dead = &layer->dead;

	/* Allocated per layer so accelerated drivers loaded later are used. */
	sha256 = crypto_alloc_shash("sha256", 0, 0);
	if (IS_ERR(sha256)) {
		NL_SET_ERR_MSG(info->extack, "the kernel has no sha256");
		err = PTR_ERR(sha256);
		goto err_free_layer;
	}
	layer->chunks.sha256 = sha256;

	err = hbx_layer_load_manifest(layer, p, info);
	if (err)
		goto err_free_sha256;
	err = hbx_layer_open_image(layer, p, info);
	if (err)
		goto err_free_manifest;
	err = hbx_registry_reserve(layer, info->extack);
	if (err)
		goto err_close_image;
	err = hbx_chunks_init(&layer->chunks, layer->index, &layer->manifest,
			      layer->image, sha256, p->verify == HBX_VERIFY_ALWAYS);
	if (err)
		goto err_unreserve;
	hbx_layer_open_direct(layer);
	err = hbx_layer_open_hashes(layer, p, info);
	if (err)
		goto err_free_chunks;
	hbx_pull_setup(&layer->pull, &layer->chunks);
	if (hbx_layer_is_remote(layer)) {
		layer->chunks.fetch = hbx_fetch_chunks;
		layer->chunks.fetch_ctx = layer;
	}
	err = hbx_layer_create_disk(layer);
	if (err) {
		NL_SET_ERR_MSG(info->extack, "could not create the block device");
		goto err_free_chunks;
	}
	if (p->flags & HBX_LAYER_F_PREFETCH)
		hbx_pull_start(&layer->pull, p->pull_window);
	hbx_registry_publish(layer);
	trace_hbx_layer_add(layer);
	return layer;

err_free_chunks:
	hbx_chunks_free(&layer->chunks);
err_unreserve:
	hbx_registry_unreserve(layer);
err_close_image:
	hbx_layer_close_image(layer);
err_free_manifest:
	hbx_manifest_free(&layer->manifest);
err_free_sha256:
	crypto_free_shash(sha256);
	hbx_fetch_put_peers(&layer->src);
err_free_layer:
	mutex_destroy(&layer->lock);
	kfree(layer);
	return ERR_PTR(err);
}

/*
 * Tear down a layer already marked dead.  del_gendisk() waits for requests
 * in flight and fails later ones, after which the data can go; the struct
 * itself lives until free_disk.
 */
static void hbx_layer_destroy(struct hbx_layer *layer)
{
	struct gendisk *disk = layer->disk;

	/* What the last opener of a dead layer left behind, read below. */
	if (WARN_ON_ONCE(!layer->dead || layer->openers))
		return;
	/* A pull's workers end after the chunk each is on. */
	hbx_pull_stop(&layer->pull);
	/* Dead: no new pins.  Servers copying out of it finish quickly. */
	wait_var_event(&layer->pins, !atomic_read(&layer->pins));

	del_gendisk(disk);
	blk_mq_free_tag_set(&layer->tag_set);
	destroy_workqueue(layer->io_wq);
	hbx_layer_release_data(layer);
	put_disk(disk);
}

/*
 * Caller holds hbx_registry_mutex.  Marks the layer dead: opens fail and
 * I/O gets EIO from now on.  Returns 1 if the caller must tear it down now,
 * 0 if it is still open and its last release will, or a negative errno.
 */
static int hbx_layer_kill(struct hbx_layer *layer, bool force,
			  struct netlink_ext_ack *extack)
{
	int ret;

	mutex_lock(&layer->lock);
	if (layer->dead) {
		NL_SET_ERR_MSG(extack, "layer is already deleted and waits for its last user to close it");
		ret = -ENOENT;
	} else if (layer->openers && !force) {
		NL_SET_ERR_MSG(extack, "layer is in use (open or mounted); unmount it or delete with force");
		ret = -EBUSY;
	} else {
		WRITE_ONCE(layer->dead, true);
		hbx_pull_cancel(&layer->pull);
		ret = !layer->openers;
	}
	mutex_unlock(&layer->lock);
	return ret;
}

int hbx_layer_del(u32 index, bool force, struct genl_info *info)
{
	struct hbx_layer *layer;
	int ret;

	mutex_lock(&hbx_registry_mutex);
	layer = idr_find(&hbx_registry, index);
	if (!layer) {
		mutex_unlock(&hbx_registry_mutex);
		NL_SET_ERR_MSG_ATTR(info->extack, info->attrs[HBX_A_LAYER_INDEX],
				    "no layer with that index");
		return -ENOENT;
	}
	ret = hbx_layer_kill(layer, force, info->extack);
	if (ret >= 0) {
		hbx_registry_gen++;
		/* Still registered: nothing can free it before we unlock. */
		hbx_notify_layer(layer, HBX_CMD_LAYER_DEL_NTF);
		trace_hbx_layer_del(layer, force);
	}
	mutex_unlock(&hbx_registry_mutex);
	if (ret < 0)
		return ret;
	/* Unopened: we own the teardown (free_disk waits for put_disk). */
	if (ret)
		hbx_layer_destroy(layer);
	return 0;
}

/* Caller holds the registry lock.  Another live export of net by that name. */
static bool hbx_export_name_taken(struct net *net, const char *name,
				  const struct hbx_layer *self)
{
	struct hbx_layer *layer;
	int id;

	idr_for_each_entry(&hbx_registry, layer, id)
		if (layer != self && !layer->dead && layer->export_net &&
		    net_eq(layer->export_net, net) &&
		    !strcmp(layer->export_name, name))
			return true;
	return false;
}

/* Caller holds the registry lock. */
static void hbx_layer_unexport(struct hbx_layer *layer)
{
	layer->export_net = NULL;
	layer->export_name[0] = '\0';
}

int hbx_layer_export(u32 index, bool on, u32 missing, const char *name,
		     struct genl_info *info)
{
	const struct nlattr *name_attr = info->attrs[HBX_A_LAYER_EXPORT_NAME];
	struct net *net = genl_info_net(info);
	u8 key[HBX_DIGEST_SIZE];
	struct hbx_layer *layer;
	int err = 0;

	name = name ?: "";
	mutex_lock(&hbx_registry_mutex);
	layer = idr_find(&hbx_registry, index);
	if (!layer || layer->dead) {
		NL_SET_ERR_MSG_ATTR(info->extack, info->attrs[HBX_A_LAYER_INDEX],
				    "no layer with that index");
		err = -ENOENT;
	} else if (on && layer->export_net && !net_eq(layer->export_net, net)) {
		NL_SET_ERR_MSG(info->extack, "layer is exported in another network namespace");
		err = -EBUSY;
	} else if (on && *name && hbx_export_name_taken(net, name, layer)) {
		NL_SET_ERR_MSG_ATTR(info->extack, name_attr,
				    "another layer is exported under that name in this network namespace");
		err = -EEXIST;
	} else if (on && *name &&
		   hbx_export_name_key(layer->chunks.sha256, name, key)) {
		err = -ENOMEM;
	} else if (on) {
		layer->export_net = net;
		WRITE_ONCE(layer->export_missing, missing);
		/* The request says the whole export: no name drops the old one. */
		strscpy(layer->export_name, name, sizeof(layer->export_name));
		if (*name)
			memcpy(layer->export_key, key, HBX_DIGEST_SIZE);
	} else {
		hbx_layer_unexport(layer);
	}
	if (!err)
		hbx_registry_gen++;
	mutex_unlock(&hbx_registry_mutex);
	return err;
}

int hbx_layer_pull(u32 index, u32 window, struct genl_info *info)
{
	struct hbx_layer *layer;
	int err = 0;

	mutex_lock(&hbx_registry_mutex);
	layer = idr_find(&hbx_registry, index);
	if (!layer) {
		NL_SET_ERR_MSG_ATTR(info->extack, info->attrs[HBX_A_LAYER_INDEX],
				    "no layer with that index");
		err = -ENOENT;
	} else if (!hbx_layer_is_remote(layer)) {
		NL_SET_ERR_MSG_ATTR(info->extack, info->attrs[HBX_A_LAYER_INDEX],
				    "layer is local: there is nothing to pull");
		err = -EINVAL;
	} else {
		/* Under the layer's lock: a delete cannot slip in between. */
		mutex_lock(&layer->lock);
		if (layer->dead) {
			NL_SET_ERR_MSG(info->extack, "layer is deleted");
			err = -ENOENT;
		} else {
			err = hbx_pull_start(&layer->pull, window);
		}
		mutex_unlock(&layer->lock);
	}
	mutex_unlock(&hbx_registry_mutex);
	return err;
}

static bool hbx_layer_is_asked(const struct hbx_layer *layer, const u8 *digest,
			       bool by_name)
{
	return !memcmp(layer->manifest.digest, digest, HBX_DIGEST_SIZE) ||
	       (by_name && layer->export_name[0] &&
		!memcmp(layer->export_key, digest, HBX_DIGEST_SIZE));
}

struct hbx_layer *hbx_layer_get_exported(struct net *net, const u8 *digest,
					 bool by_name)
{
	struct hbx_layer *layer;
	int id;

	mutex_lock(&hbx_registry_mutex);
	idr_for_each_entry(&hbx_registry, layer, id) {
		if (!layer->dead && layer->export_net &&
		    net_eq(layer->export_net, net) &&
		    hbx_layer_is_asked(layer, digest, by_name)) {
			atomic_inc(&layer->pins);
			break;
		}
	}
	mutex_unlock(&hbx_registry_mutex);
	return layer;
}

void hbx_layers_net_exit(struct net *net)
{
	struct hbx_layer *layer;
	int id;

	mutex_lock(&hbx_registry_mutex);
	idr_for_each_entry(&hbx_registry, layer, id) {
		if (layer->export_net && net_eq(layer->export_net, net)) {
			hbx_layer_unexport(layer);
			hbx_registry_gen++;
		}
	}
	mutex_unlock(&hbx_registry_mutex);
}

void hbx_layer_put_exported(struct hbx_layer *layer)
{
	if (atomic_dec_and_test(&layer->pins))
		wake_up_var(&layer->pins);
}

void hbx_layers_lock(void)
{
	mutex_lock(&hbx_registry_mutex);
}

void hbx_layers_unlock(void)
{
	mutex_unlock(&hbx_registry_mutex);
}

struct hbx_layer *hbx_layer_find(u32 index)
{
	lockdep_assert_held(&hbx_registry_mutex);
	return idr_find(&hbx_registry, index);
}

struct hbx_layer *hbx_layer_next(u32 *index)
{
	int id = *index;
	struct hbx_layer *layer;

	lockdep_assert_held(&hbx_registry_mutex);
	layer = idr_get_next(&hbx_registry, &id);
	*index = id;
	return layer;
}

unsigned int hbx_layers_gen(void)
{
	return hbx_registry_gen;
}

unsigned int hbx_layers_count(void)
{
	struct hbx_layer *layer;
	unsigned int n = 0;
	int id;

	lockdep_assert_held(&hbx_registry_mutex);
	idr_for_each_entry(&hbx_registry, layer, id)
		n++;
	return n;
}

enum hbx_layer_state hbx_layer_state(struct hbx_layer *layer)
{
	return READ_ONCE(layer->dead) ? HBX_LAYER_STATE_DEAD :
					HBX_LAYER_STATE_LIVE;
}

unsigned int hbx_layer_openers(struct hbx_layer *layer)
{
	return READ_ONCE(layer->openers);
}

int hbx_layer_init(void)
{
	hbx_ctl_wq = alloc_workqueue("hyperbox_ctl", 0, 0);
	if (!hbx_ctl_wq)
		return -ENOMEM;
	hbx_major = register_blkdev(0, "hbx");
	if (hbx_major < 0) {
		destroy_workqueue(hbx_ctl_wq);
		return hbx_major;
	}
	return 0;
}

/*
 * Module unload.  An open layer holds a module reference, so what is left
 * is closed: pending deferred teardowns first, then every live layer.
 */
void hbx_layer_exit(void)
{
	struct hbx_layer *layer;
	int id = 0;

	flush_workqueue(hbx_ctl_wq);
	for (;;) {
		/*
		 * A layer torn down already stays in the registry while
		 * someone holds its gendisk a moment longer (free_disk
		 * removes it): skip the dead, each is destroyed once.
		 */
		mutex_lock(&hbx_registry_mutex);
		while ((layer = idr_get_next(&hbx_registry, &id)) && layer->dead)
			id++;
		if (layer)
			WRITE_ONCE(layer->dead, true);
		mutex_unlock(&hbx_registry_mutex);
		if (!layer)
			break;
		hbx_layer_destroy(layer);
		id++;
	}
	idr_destroy(&hbx_registry);
	unregister_blkdev(hbx_major, "hbx");
	destroy_workqueue(hbx_ctl_wq);
}
