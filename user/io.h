/* SPDX-License-Identifier: GPL-2.0 */
/* Whole reads and writes, retried across EINTR and short counts. */
#ifndef HBX_IO_H
#define HBX_IO_H

#include <stddef.h>
#include <sys/types.h>

/* 0 or -errno. */
int hbx_write_full(int fd, const void *buf, size_t len);
/* Exactly len bytes at off: 0, -errno, or -EIO if the file is shorter. */
int hbx_pread_full(int fd, void *buf, size_t len, off_t off);

#endif
