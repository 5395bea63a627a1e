// SPDX-License-Identifier: GPL-2.0
/*
 * The buffers replies arrive in, kept for the next reply.  A pull receives
 * one buffer per run of chunks (HBX_STOQ_RUN_BYTES, with hbx layer build's
 * 64 KiB chunks) and a cold read one per chunk (remote layers' requests
 * are a chunk each), and each is freed once its bytes are in the cache;
 * Debian's kernels zero every allocation (init_on_alloc), so a new buffer
 * per reply costs a clear of all of it for nothing.  A few buffers of
 * each of those two sizes are kept instead, the module's own (no caller is
 * charged for a buffer it no longer holds), freed when the module goes:
 * 1 MiB of chunks and 2 MiB of runs, a pull's default window of either.
 * A reply of at least half a class's size takes that class's buffers;
 * others are allocated and freed as they come.
 */
#include <linux/bvec.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/vmalloc.h>
#include <linux/hyperbox.h>
#include "rxbuf.h"

#define HBX_RXBUF_KEEP_MAX	16

struct hbx_rxbuf_class {
	u32		size;
	unsigned int	keep;
	unsigned int	nr;
	void		*bufs[HBX_RXBUF_KEEP_MAX];
};

static DEFINE_SPINLOCK(hbx_rxbufs_lock);
static struct hbx_rxbuf_class hbx_rxbuf_classes[] = {
	{ .size = 64U << 10, .keep = 16 },
	{ .size = HBX_STOQ_RUN_BYTES, .keep = 8 },
};

/* The class that serves len bytes, or NULL. */
static struct hbx_rxbuf_class *hbx_rxbuf_class(u32 len)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(hbx_rxbuf_classes); i++)
		if (len >= hbx_rxbuf_classes[i].size / 2 &&
		    len <= hbx_rxbuf_classes[i].size)
			return &hbx_rxbuf_classes[i];
	return NULL;
}

void *hbx_rxbuf_alloc(u32 len, gfp_t gfp)
{
	struct hbx_rxbuf_class *class = hbx_rxbuf_class(len);
	void *buf = NULL;

	if (!class)
		return kvmalloc(len, gfp);
	spin_lock(&hbx_rxbufs_lock);
	if (class->nr)
		buf = class->bufs[--class->nr];
	spin_unlock(&hbx_rxbufs_lock);
	return buf ?: kvmalloc(class->size, gfp);
}

void hbx_rxbuf_free(void *buf, u32 len)
{
	struct hbx_rxbuf_class *class = hbx_rxbuf_class(len);

	if (!buf)
		return;
	if (class) {
		spin_lock(&hbx_rxbufs_lock);
		if (class->nr < class->keep) {
			class->bufs[class->nr++] = buf;
			buf = NULL;
		}
		spin_unlock(&hbx_rxbufs_lock);
	}
	kvfree(buf);
}

bool hbx_rxbuf_is_pages(const void *buf, u32 len)
{
	return len >= PAGE_SIZE &&
	       (is_vmalloc_addr(buf) || !folio_test_slab(virt_to_folio(buf)));
}

unsigned int hbx_rxbuf_bvec(struct bio_vec *bv, const void *buf, u32 len,
			    u32 *covered)
{
	unsigned int n;

	len = min(len, HBX_RXBUF_WINDOW);
	*covered = 0;
	for (n = 0; *covered < len; n++) {
		const void *at = buf + *covered;
		u32 off = offset_in_page(at);
		u32 seg = min_t(u32, len - *covered, PAGE_SIZE - off);

		bvec_set_page(&bv[n], is_vmalloc_addr(at) ? vmalloc_to_page(at) :
							      virt_to_page(at),
			      seg, off);
		*covered += seg;
	}
	return n;
}

/* Module unload: nobody holds a reply any more. */
void hbx_rxbuf_exit(void)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(hbx_rxbuf_classes); i++)
		while (hbx_rxbuf_classes[i].nr)
			kvfree(hbx_rxbuf_classes[i].bufs[--hbx_rxbuf_classes[i].nr]);
}
