// SPDX-License-Identifier: GPL-2.0
/*
 * The in-kernel STOQ server: answers a peer's requests for the manifests
 * and chunks of layers exported in the socket's network namespace.  Only
 * verified chunks leave: a chunk not yet verified is hashed first, and with
 * verify always it is read through the device, whose request path checks
 * every block it reads from storage.
 * A layer is pinned only while a request is decided, never while we wait
 * on the network to send (a chunk's file, pages or copy is referenced
 * instead), so a slow reader cannot hold up a delete.
 *
 * A layer this node is still pulling is served too: a chunk it does not
 * have yet is fetched from its own peers first (the pin then lasts that
 * fetch, bounded by their timeout), or answered NOT_HERE so the requester
 * asks someone else, as the export says.
 *
 * A request for a layer not exported here, or past its end, gets a status
 * and the socket carries on: it may carry other layers' requests.  A frame
 * that does not parse, or does not arrive in time, ends the socket.
 */
#include <linux/blkdev.h>
#include <linux/fs.h>
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/pagemap.h>
#include <linux/slab.h>
#include <net/sock.h>
#include "layer.h"
#include "peer.h"
#include "server.h"
#include "stoq.h"
#include "trace.h"

static int hbx_server_hello(struct hbx_peer_sock *ps,
			    const struct hbx_stoq_hdr *hdr,
			    const struct hbx_stoq_hello *hello, const char **why)
{
	struct hbx_stoq_hello ours = {
		.version = cpu_to_be32(HBX_STOQ_VERSION),
		.features = cpu_to_be64(HBX_STOQ_FEATURE_RUNS),
	};

	if (be32_to_cpu(hello->version) != HBX_STOQ_VERSION) {
		*why = "peer speaks another protocol version";
		return -EPROTO;
	}
	return hbx_stoq_send(ps->sock, hbx_peer_timeout(ps->peer), HBX_STOQ_HELLO,
			     0, be64_to_cpu(hdr->id), &ours, sizeof(ours));
}

/* What a request gets, decided while the layer is pinned. */
struct hbx_server_answer {
	u16		status;
	u32		len;
	u32		count;		/* chunks in it */
	const void	*manifest;	/* the layer's manifest, shared */
	void		*data;		/* or a copied chunk */
	struct file	*file;		/* or a chunk spliced from this file */
	loff_t		pos;
	struct page	**pages;	/* or the device's cached pages of it */
	unsigned long	nr_pages;	/* referenced in pages[] */
};

/* The device's own page cache: what its readers (and mounts) read through. */
static struct address_space *hbx_server_device_cache(struct hbx_layer *layer)
{
#ifdef HBX_HAVE_BD_MAPPING
	return layer->disk->part0->bd_mapping;
#else
	return layer->disk->part0->bd_inode->i_mapping;
#endif
}

static void hbx_server_put_pages(struct hbx_server_answer *a)
{
	while (a->nr_pages)
		put_page(a->pages[--a->nr_pages]);
	kvfree(a->pages);
	a->pages = NULL;
}

/*
 * Verify always: the chunk as a read of the device gets it, through the
 * device's page cache.  A page enters that cache only through the request
 * path, which checks every block it brings from storage against its leaf
 * (and counts, notifies and traces one that does not match); so storage
 * changed after attach fails here and is answered FAILED, never sent.  A
 * chunk sent again to the next peer costs no second hash while its pages
 * stay cached, as for local readers, and the image's page cache is not
 * filled beside the device's: one cache.
 *
 * The pages go to the socket by reference, as sendfile's do: no buffer to
 * allocate (and clear) and no copy, where a copy costs a pass over the
 * chunk twice (into a buffer, then into kTLS's records).  The device is
 * read-only, so a cached page never changes; a page the cache lets go
 * meanwhile (the layer deleted, memory reclaimed) lives on, unchanged, until
 * our reference and the socket's are dropped.  The layer's pin is not
 * needed for that, so a slow reader still cannot hold up a delete.
 */
static int hbx_server_read_device(struct hbx_layer *layer, u64 chunk,
				  struct hbx_server_answer *a)
{
	struct address_space *cache = hbx_server_device_cache(layer);
	pgoff_t first = (chunk << layer->manifest.chunk_shift) >> PAGE_SHIFT;
	unsigned long pages = DIV_ROUND_UP(a->len, PAGE_SIZE);
	struct file_ra_state ra;

	a->pages = kvmalloc_array(pages, sizeof(*a->pages), GFP_KERNEL);
	if (!a->pages)
		return -ENOMEM;
	/*
	 * One request for the chunk's missing pages, not one per page, and
	 * not a page past it: the next chunk of a layer still being pulled
	 * may not be here, and serving must not fetch it (export NOT_HERE).
	 */
	file_ra_state_init(&ra, cache);
	ra.ra_pages = pages;
	page_cache_sync_readahead(cache, &ra, NULL, first, pages);
	while (a->nr_pages < pages) {
		struct page *page = read_mapping_page(cache, first + a->nr_pages, NULL);

		if (IS_ERR(page)) {
			hbx_server_put_pages(a);
			a->status = HBX_STOQ_FAILED;
			return 0;
		}
		a->pages[a->nr_pages++] = page;
	}
	return 0;
}

/*
 * A verified chunk.  Verify once trusts its storage: spliced from the
 * image's page cache when its filesystem can and the socket blocks (splice
 * honours O_NONBLOCK; the file is referenced, so the pin can go before the
 * send), else copied from the image.  Verify always: the device's
 * cached pages, by reference (hbx_server_read_device()).
 */
static int hbx_server_chunk(struct hbx_layer *layer, struct socket *sock,
			    u64 chunk, struct hbx_server_answer *a)
{
	loff_t pos = chunk << layer->manifest.chunk_shift;
	ssize_t n;

	if (!layer->chunks.always && layer->image->f_op->splice_read &&
	    !(sock->file->f_flags & O_NONBLOCK)) {
		a->file = get_file(layer->image);
		a->pos = pos;
		return 0;
	}
	if (layer->chunks.always)
		return hbx_server_read_device(layer, chunk, a);
	a->data = kvmalloc(a->len, GFP_KERNEL);
	if (!a->data)
		return -ENOMEM;
	n = kernel_read(layer->image, a->data, a->len, &pos);
	if (n != a->len)
		a->status = HBX_STOQ_FAILED;
	return 0;
}

/*
 * A run of count chunks from chunk on goes out as one reply: the first
 * chunk is answered as GET_CHUNK's is, fetched first if the export says
 * so; those after it go along only if they are verified here or can be at
 * once, without a fetch or a wait, and the run stops before the first that
 * cannot.  They are neighbours in the image and the device, so the reply is
 * one range, sent as one chunk's is.
 */
static int hbx_server_answer(struct hbx_layer *layer, struct socket *sock,
			     u8 type, u64 chunk, u64 count,
			     struct hbx_server_answer *a)
{
	const struct hbx_manifest *m = &layer->manifest;
	int err;

	if (type == HBX_STOQ_GET_MANIFEST) {
		/* Referenced, not copied: a slow reader costs no more memory. */
		a->len = m->len;
		a->manifest = hbx_manifest_get_bytes(m);
		return 0;
	}
	if (chunk >= m->chunk_count || count > m->chunk_count - chunk ||
	    count > hbx_manifest_run_max(m)) {
		a->status = HBX_STOQ_OUT_OF_RANGE;
		return 0;
	}
	err = hbx_chunk_verify_serving(&layer->chunks, chunk,
				       READ_ONCE(layer->export_missing) != HBX_EXPORT_MISSING_NOT_HERE);
	if (err) {
		/*
		 * Never send what did not verify.  Not here yet, or being
		 * worked on by someone else here: ask again, or elsewhere.
		 */
		a->status = err == -ENODATA || err == -EBUSY ? HBX_STOQ_NOT_HERE :
							       HBX_STOQ_FAILED;
		return 0;
	}
	a->len = hbx_manifest_chunk_len(m, chunk);
	for (a->count = 1; a->count < count; a->count++) {
		if (hbx_chunk_verify_serving(&layer->chunks, chunk + a->count, false))
			break;
		a->len += hbx_manifest_chunk_len(m, chunk + a->count);
	}
	err = hbx_server_chunk(layer, sock, chunk, a);
	if (!err && a->status == HBX_STOQ_OK)
		atomic64_add(a->count, &layer->chunks_served);
	return err;
}

static int hbx_server_send(struct hbx_peer_sock *ps, u64 id,
			   const struct hbx_server_answer *a)
{
	long timeout = hbx_peer_timeout(ps->peer);
	u32 len = a->status == HBX_STOQ_OK ? a->len : 0;

	if (a->file)
		return hbx_stoq_send_file(ps->sock, timeout, id, a->file, a->pos, a->len);
	if (a->pages)
		return hbx_stoq_send_pages(ps->sock, timeout, id, a->pages, a->len);
	return hbx_stoq_send(ps->sock, timeout, HBX_STOQ_REPLY, a->status, id,
			     a->manifest ?: a->data, len);
}

/*
 * A request's payload (its length checked with its header): GET_MANIFEST's
 * and GET_CHUNK's are a struct hbx_stoq_get, GET_CHUNKS' that and more.
 */
static int hbx_server_get(struct hbx_peer_sock *ps,
			  const struct hbx_stoq_hdr *hdr,
			  const struct hbx_stoq_get *get, const char **why)
{
	const struct hbx_stoq_get_run *run = (const void *)get;
	u64 id = be64_to_cpu(hdr->id), chunk = be64_to_cpu(get->chunk), count = 1;
	struct hbx_server_answer a = { .status = HBX_STOQ_OK };
	u64 start = ktime_get_ns();
	struct hbx_layer *layer;
	int err = 0;

	if (hdr->type == HBX_STOQ_GET_CHUNKS) {
		count = be32_to_cpu(run->count);
		if (!count || run->reserved) {
			*why = "malformed run request";
			return -EPROTO;
		}
	}

	layer = hbx_layer_get_exported(ps->peer->net, get->digest,
				       hdr->type == HBX_STOQ_GET_MANIFEST);
	if (layer) {
		err = hbx_server_answer(layer, ps->sock, hdr->type, chunk, count, &a);
		trace_hbx_serve(ps->peer, layer, hdr->type, chunk, a.count, a.status,
				a.len, a.file || a.pages, start);
		hbx_layer_put_exported(layer);
	} else {
		a.status = HBX_STOQ_UNKNOWN_LAYER;
	}
	if (err) {
		*why = "out of memory";
		return err;
	}

	err = hbx_server_send(ps, id, &a);
	if (a.file)
		fput(a.file);
	hbx_manifest_put_bytes(a.manifest);
	kvfree(a.data);
	hbx_server_put_pages(&a);
	if (err) {
		*why = err == -ETIMEDOUT ? "reply not sent in time" :
					   "socket send failed or timed out";
		return err;
	}
	if (a.status == HBX_STOQ_OK)
		atomic64_add(a.len, &ps->peer->bytes_tx);
	return 0;
}

/* Handle a whole request: the first must be a hello. */
static int hbx_server_request(struct hbx_peer_sock *ps, const char **why)
{
	const struct hbx_stoq_hdr *hdr = &ps->hdr;
	int err;

	if (!ps->hello && hdr->type != HBX_STOQ_HELLO) {
		*why = "first frame is not a hello";
		return -EPROTO;
	}
	if (hdr->type == HBX_STOQ_HELLO) {
		err = hbx_server_hello(ps, hdr, (void *)ps->payload, why);
		ps->hello = true;
	} else {
		err = hbx_server_get(ps, hdr, (void *)ps->payload, why);
	}
	if (!err)
		atomic64_inc(&ps->peer->requests);
	return err;
}

int hbx_server_receive(struct hbx_peer_sock *ps, const char **why)
{
	int err;

	if (ps->step == HBX_RX_HEADER) {
		err = hbx_stoq_recv_piece(ps->sock, &ps->rx, &ps->hdr, sizeof(ps->hdr));
		if (err)
			return err;
		*why = hbx_stoq_check_request(&ps->hdr);
		if (*why)
			return -EPROTO;
		ps->step = HBX_RX_PAYLOAD;
	}
	err = hbx_stoq_recv_piece(ps->sock, &ps->rx, ps->payload,
				  be32_to_cpu(ps->hdr.len));
	if (err)
		return err;
	/* The frame is in: its answer is not bounded by its deadline. */
	ps->step = HBX_RX_HEADER;
	hbx_stoq_rx_begin(&ps->rx);
	return hbx_server_request(ps, why);
}
