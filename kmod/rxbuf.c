// SPDX-License-Identifier: GPL-2.0
/*
 * The buffers replies arrive in, kept for the next reply.  A pull receives
 * one buffer per run of chunks (a reply of at most HBX_STOQ_RUN_BYTES with
 * hbx layer build's 64 KiB chunks) and frees it once the run is in the
 * cache; Debian's kernels zero every allocation (init_on_alloc), so a new
 * buffer per reply costs a clear of all of it for nothing.  A few buffers
 * of a run's size are kept instead: at most HBX_RXBUF_KEEP of them, the
 * module's own (no caller is charged for a buffer it no longer holds),
 * freed when the module goes.  They take any reply from a chunk of 32 KiB
 * up to a run; other sizes are allocated and freed as before.
 */
#include <linux/bvec.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/vmalloc.h>
#include <linux/hyperbox.h>
#include "rxbuf.h"

#define HBX_RXBUF_SIZE	HBX_STOQ_RUN_BYTES
#define HBX_RXBUF_KEEP	8		/* 2 MiB: a pull's default window */

static DEFINE_SPINLOCK(hbx_rxbufs_lock);
static void *hbx_rxbufs[HBX_RXBUF_KEEP];
static unsigned int hbx_rxbufs_nr;

/* Sizes served by a kept buffer: runs, and chunks of the usual size. */
static bool hbx_rxbuf_kept_size(u32 len)
{
	return len > (32U << 10) && len <= HBX_RXBUF_SIZE;
}

void *hbx_rxbuf_alloc(u32 len, gfp_t gfp)
{
	void *buf = NULL;

	if (!hbx_rxbuf_kept_size(len))
		return kvmalloc(len, gfp);
	spin_lock(&hbx_rxbufs_lock);
	if (hbx_rxbufs_nr)
		buf = hbx_rxbufs[--hbx_rxbufs_nr];
	spin_unlock(&hbx_rxbufs_lock);
	return buf ?: kvmalloc(HBX_RXBUF_SIZE, gfp);
}

void hbx_rxbuf_free(void *buf, u32 len)
{
	if (!buf)
		return;
	if (hbx_rxbuf_kept_size(len)) {
		spin_lock(&hbx_rxbufs_lock);
		if (hbx_rxbufs_nr < HBX_RXBUF_KEEP) {
			hbx_rxbufs[hbx_rxbufs_nr++] = buf;
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
	while (hbx_rxbufs_nr)
		kvfree(hbx_rxbufs[--hbx_rxbufs_nr]);
}
