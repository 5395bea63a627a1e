/* SPDX-License-Identifier: GPL-2.0 */
#ifndef HBX_SERVER_H
#define HBX_SERVER_H

struct hbx_peer_sock;

/* Serve STOQ requests on a server-role socket until it fails or is stopped. */
void hbx_server_run(struct hbx_peer_sock *ps);

#endif
