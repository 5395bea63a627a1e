/* SPDX-License-Identifier: GPL-2.0 */
/* Buffers for replies, chunk-sized ones kept for reuse (rxbuf.c). */
#ifndef HBX_RXBUF_H
#define HBX_RXBUF_H

#include <linux/mm.h>
#include <linux/types.h>

/* A buffer of at least len bytes, or NULL.  Free it with its len. */
void *hbx_rxbuf_alloc(u32 len, gfp_t gfp);
void hbx_rxbuf_free(void *buf, u32 len);
void hbx_rxbuf_exit(void);

struct bio_vec;

/* Bytes of a buffer handed out as pages per hbx_rxbuf_bvec() call. */
#define HBX_RXBUF_WINDOW	(64U << 10)
#define HBX_RXBUF_BVECS		(HBX_RXBUF_WINDOW / PAGE_SIZE + 1)

/*
 * Whether len bytes at buf are whole pages of memory (kvmalloc's large
 * allocations, not slab's), which sockets and direct I/O can take as pages.
 */
bool hbx_rxbuf_is_pages(const void *buf, u32 len);
/*
 * The first bytes of such a buffer, at most HBX_RXBUF_WINDOW, as at most
 * HBX_RXBUF_BVECS pages in bv: how many; *covered says how many bytes.
 */
unsigned int hbx_rxbuf_bvec(struct bio_vec *bv, const void *buf, u32 len,
			    u32 *covered);

#endif
