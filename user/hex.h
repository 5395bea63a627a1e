/* SPDX-License-Identifier: GPL-2.0 */
#ifndef HBX_HEX_H
#define HBX_HEX_H

#include <stddef.h>

/* Lower-case hex of len bytes; out holds 2 * len + 1. */
void hbx_hex(const unsigned char *p, size_t len, char *out);
/* Parse even-length hex into out (at most max bytes); length or -1. */
int hbx_unhex(const char *s, unsigned char *out, size_t max);

#endif
