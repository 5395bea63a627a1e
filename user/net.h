/* SPDX-License-Identifier: GPL-2.0 */
/* TCP endpoints written as "HOST:PORT" or "[V6ADDR]:PORT". */
#ifndef HBX_NET_H
#define HBX_NET_H

#include <stddef.h>

/* A connected (or listening) TCP socket, or -1 with a sentence in why. */
int hbx_tcp_connect(const char *spec, char *why, size_t whylen);
int hbx_tcp_listen(const char *spec, char *why, size_t whylen);

#endif
