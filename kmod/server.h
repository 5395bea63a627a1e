/* SPDX-License-Identifier: GPL-2.0 */
#ifndef HBX_SERVER_H
#define HBX_SERVER_H

struct hbx_peer_sock;

/*
 * The receiver of a server socket (peer.c's work): reads requests as far
 * as the socket has them and answers each (the answer is sent with the
 * peer's timeout).  -EAGAIN when it needs more data, 1 when its share of
 * requests is done with more perhaps there, or an error (*why says it)
 * that ends the socket.
 */
int hbx_server_receive(struct hbx_peer_sock *ps, const char **why);

#endif
