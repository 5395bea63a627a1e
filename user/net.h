/* SPDX-License-Identifier: GPL-2.0 */
/*
 * TCP endpoints written as "HOST:PORT" or "[V6ADDR]:PORT"; to listen,
 * ":PORT" means every address (IPv6 and IPv4 on one dual-stack socket where
 * the host has IPv6, else every IPv4 address).  PORT is 1 to 65535 (0 to
 * listen: the kernel picks), digits only (no service names).
 */
#ifndef HBX_NET_H
#define HBX_NET_H

#include <stdbool.h>
#include <stddef.h>

/*
 * 0 if spec is well formed (to listen on, when listen is set); else -1
 * with why naming what is wrong, without resolving anything: for checking
 * an option before doing any work.
 */
int hbx_tcp_spec_check(const char *spec, bool listen, char *why, size_t whylen);

/* A connected (or listening) TCP socket, or -1 with a sentence in why. */
int hbx_tcp_connect(const char *spec, char *why, size_t whylen);
int hbx_tcp_listen(const char *spec, char *why, size_t whylen);

#endif
