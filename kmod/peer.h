/* SPDX-License-Identifier: GPL-2.0 */
#ifndef HBX_PEER_H
#define HBX_PEER_H

#include <linux/atomic.h>
#include <linux/kref.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/xarray.h>
#include <linux/types.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include <linux/hyperbox.h>
#include "stoq.h"

struct genl_info;
struct net;
struct socket;

#define HBX_PEER_TIMEOUT_MS_DEFAULT	30000
#define HBX_PEER_TIMEOUT_MS_MAX		(3600 * 1000)

struct hbx_peer;

struct hbx_client_req;

/* Where a socket's receiver is within the frame it reads. */
enum hbx_rx_step {
	HBX_RX_HEADER,
	HBX_RX_PAYLOAD,		/* server: a request's; client: a reply's */
	HBX_RX_HELLO,		/* client: the peer's hello */
	HBX_RX_DISCARD,		/* client: bytes nobody wants */
};

/*
 * One handed-in socket.  No thread of its own: a wait-queue entry on the
 * socket queues the slot's work on a shared workqueue when data comes
 * (peer.c), and the work reads what is there without blocking, frame by
 * frame, keeping its place here between runs.  An idle socket costs no
 * thread.  When the socket fails, the work releases it (a dead slot holds
 * no socket) and nothing queues the work again.
 */
struct hbx_peer_sock {
	struct hbx_peer		*peer;
	struct socket		*sock;		/* NULL once released */
	bool			up;
	bool			ready;		/* client: hello answered */
	bool			runs;		/* client: its server takes GET_CHUNKS */
	struct mutex		send_lock;	/* client: one frame at a time; ready, sock */
	spinlock_t		sock_lock;	/* sock and gen, for hbx_peer_sock_abort() */
	u32			gen;		/* bumped when the slot takes a new socket */
	const char		*abort_why;	/* why it was shut down from outside */
	unsigned long		last_rx;	/* client: jiffies of the last reply begun */

	/* The receiver (peer.c), and where it is, kept between its runs. */
	struct delayed_work	work;		/* now on data, or at the frame's deadline */
	struct wait_queue_entry	wait;		/* on the socket's wait queue */
	wait_queue_head_t	*whead;		/* which, while registered */
	bool			stopping;	/* told to stop: ends at once */
	struct hbx_stoq_rx	rx;
	struct hbx_stoq_hdr	hdr;
	enum hbx_rx_step	step;
	bool			hello;		/* server: received; client: sent */
	u32			skip;		/* client: bytes left to discard */
	struct hbx_client_req	*req;		/* client: whose reply is being read */
	u8			payload[HBX_STOQ_REQUEST_MAX] __aligned(8);
};

struct hbx_peer {
	u32			id;
	char			name[HBX_PEER_NAME_MAX];
	u8			identity[HBX_DIGEST_SIZE];
	bool			has_identity;
	u32			role;		/* enum hbx_peer_role */
	bool			insecure;	/* plaintext allowed: benchmarks */
	u32			timeout_ms;
	/*
	 * Where it was added.  Not counted by the peer: its sockets hold the
	 * namespace, so pre_exit (hbx_peers_net_exit()) only finds peers
	 * whose sockets are all gone, and deletes them.
	 */
	struct net		*net;
	bool			stopping;	/* PEER_DEL or unload under way */

	struct mutex		lock;		/* socks[].up, last_error */
	unsigned int		nr_socks;
	struct hbx_peer_sock	socks[HBX_PEER_SOCKETS_MAX];
	char			last_error[64];

	atomic64_t		requests;
	atomic64_t		bytes_tx;
	atomic64_t		bytes_rx;
	atomic64_t		protocol_errors;
	atomic64_t		corrupt_chunks;	/* client: sent bytes that did not match */

	/* Client role: requests waiting for their reply, by id. */
	struct xarray		pending;
	u32			next_id;
	atomic_t		next_sock;	/* round robin over ready sockets */

	struct kref		ref;		/* registry, remote layers */
};

struct hbx_peer_params {
	u32		role;
	const char	*name;
	const u8	*identity;
	bool		insecure;
	u32		timeout_ms;
	int		fds[HBX_PEER_SOCKETS_MAX];
	unsigned int	nr_fds;
};

void hbx_peer_exit(void);
/* A network namespace is going: delete its peers. */
void hbx_peers_net_exit(struct net *net);

/* On success the registry is left locked (see hbx_layer_add()). */
struct hbx_peer *hbx_peer_add(const struct hbx_peer_params *p,
			      struct genl_info *info);
int hbx_peer_del(u32 id, struct genl_info *info);
/*
 * Hand more sockets to an existing peer (a reconnect): they take the slots
 * of dead sockets.  Requests waiting for a socket carry on over them.  On
 * success the registry is left locked, as by hbx_peer_add().
 */
struct hbx_peer *hbx_peer_add_sockets(u32 id, const struct hbx_peer_params *p,
				      struct genl_info *info);

void hbx_peers_lock(void);
void hbx_peers_unlock(void);
/* Changes on every peer add and delete, so a dump can flag itself. */
unsigned int hbx_peers_gen(void);
/* Peers of one network namespace only. */
struct hbx_peer *hbx_peer_find(struct net *net, u32 id);
struct hbx_peer *hbx_peer_next(struct net *net, u32 *id);

/* A client-role peer of net, referenced; NULL if there is none. */
struct hbx_peer *hbx_peer_get_client(struct net *net, u32 id);
void hbx_peer_put(struct hbx_peer *peer);

unsigned int hbx_peer_socks_up(struct hbx_peer *peer);
enum hbx_peer_state hbx_peer_state(struct hbx_peer *peer);

/*
 * The socket's receiver ends it: no request goes out on it any more, those
 * it carried fail, it is released; count why, and tell user space if it
 * was the peer's last.
 */
void hbx_peer_sock_failed(struct hbx_peer_sock *ps, const char *why,
			  bool protocol_error);
/*
 * Shut a slot's socket down from outside its receiver, which then ends it:
 * only the socket of generation gen (a requester's, which a reconnect may
 * have replaced since), or whichever it holds with HBX_PEER_SOCK_ANY.
 */
#define HBX_PEER_SOCK_ANY	(-1LL)
void hbx_peer_sock_abort(struct hbx_peer_sock *ps, s64 gen, const char *why);
/*
 * Whether the work running now is a peer socket's receiver told to stop
 * (a server answering with fetch-first then gives up its fetch).
 */
bool hbx_peer_current_stopping(void);

/* Sockets all peers hold now, and how many they may (max_peer_sockets). */
unsigned int hbx_peer_socks_held(void);
unsigned int hbx_peer_socks_max(void);

int hbx_peer_init(void);

/* The peer's timeout in jiffies; MAX_SCHEDULE_TIMEOUT for none. */
long hbx_peer_timeout(const struct hbx_peer *peer);

#endif
