/* SPDX-License-Identifier: GPL-2.0 */
/* Buffers for replies, chunk-sized ones kept for reuse (rxbuf.c). */
#ifndef HBX_RXBUF_H
#define HBX_RXBUF_H

#include <linux/types.h>

/* A buffer of at least len bytes, or NULL.  Free it with its len. */
void *hbx_rxbuf_alloc(u32 len, gfp_t gfp);
void hbx_rxbuf_free(void *buf, u32 len);
void hbx_rxbuf_exit(void);

#endif
