/* SPDX-License-Identifier: GPL-2.0 */
#ifndef HBX_SERVER_H
#define HBX_SERVER_H

struct hbx_peer_sock;

/*
 * One frame for a server socket's receiver (peer.c's work): reads a request
 * as far as the socket has it and answers it (the answer is sent with the
 * peer's timeout).  0 when the request is done, -EAGAIN when it needs more
 * data (its place is kept), or an error (*why says it) that ends the socket.
 */
int hbx_server_receive(struct hbx_peer_sock *ps, const char **why);

#endif
