/* SPDX-License-Identifier: GPL-2.0 */
/*
 * libhbx netlink: the only user of libnl.  Talks to the "hyperbox" generic
 * netlink family with extended acks on, so errors come back as sentences.
 */
#ifndef HBX_NL_H
#define HBX_NL_H

#include <stdbool.h>
#include <stdint.h>
#include <netlink/attr.h>
#include <netlink/msg.h>
#include <linux/hyperbox.h>

struct hbx_nl;

/* Called for each reply message (or notification) with its parsed attributes. */
typedef int (*hbx_nl_reply_fn)(uint8_t cmd, struct nlattr **tb, void *arg);

/* Returns 0 or a negative errno; hbx_nl_error() then says why. */
int hbx_nl_open(struct hbx_nl **nlp);
void hbx_nl_close(struct hbx_nl *nl);

/* A new request for cmd; add attributes with libnl's nla_put_*(). */
struct nl_msg *hbx_nl_msg(struct hbx_nl *nl, uint8_t cmd, int flags);

/*
 * Send msg (consumed) and read replies until the kernel's ack or the end of
 * a dump, parsing each with maxattr.  Returns 0 or a negative errno.
 */
int hbx_nl_request(struct hbx_nl *nl, struct nl_msg *msg, int maxattr,
		   hbx_nl_reply_fn fn, void *arg);

/* Join the "events" group (needs CAP_NET_ADMIN). */
int hbx_nl_subscribe(struct hbx_nl *nl);

/* Call fn for every message that arrives until it returns non-zero or an
 * error occurs (a receive timeout set on the socket ends it with -EIO). */
int hbx_nl_listen(struct hbx_nl *nl, int maxattr, hbx_nl_reply_fn fn,
		  void *arg);

/* The last error as a sentence: the kernel's extack message if it sent one. */
const char *hbx_nl_error(const struct hbx_nl *nl);

/* Whether hbx_nl_error() is a message the kernel sent (extack). */
bool hbx_nl_error_from_kernel(const struct hbx_nl *nl);

/* The raw socket, for tests that set socket options. */
struct nl_sock *hbx_nl_sock(struct hbx_nl *nl);

#endif
