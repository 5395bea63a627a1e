/* SPDX-License-Identifier: GPL-2.0 */
#ifndef HBX_PEER_H
#define HBX_PEER_H

#include <linux/atomic.h>
#include <linux/kref.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/xarray.h>
#include <linux/types.h>
#include <linux/hyperbox.h>

struct genl_info;
struct net;
struct socket;
struct task_struct;

#define HBX_PEER_TIMEOUT_MS_DEFAULT	30000
#define HBX_PEER_TIMEOUT_MS_MAX		(3600 * 1000)

struct hbx_peer;

/*
 * One handed-in socket and the kernel thread that services it.  When the
 * socket fails, its thread releases it and exits: a dead slot holds neither
 * a socket nor a thread, only the task reference kthread_stop() needs.
 */
struct hbx_peer_sock {
	struct hbx_peer		*peer;
	struct socket		*sock;		/* NULL once released */
	struct task_struct	*thread;	/* referenced */
	bool			up;
	bool			ready;		/* client: hello answered */
	struct mutex		send_lock;	/* client: one frame at a time; ready, sock */
	spinlock_t		sock_lock;	/* sock and gen, for hbx_peer_sock_abort() */
	u32			gen;		/* bumped when the slot takes a new socket */
	const char		*abort_why;	/* why it was shut down from outside */
	unsigned long		last_rx;	/* client: jiffies of the last reply begun */
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
	 * Where it was added.  Not counted: the namespace's pre_exit deletes
	 * its peers (hbx_peers_net_exit()), so a peer never keeps it alive.
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
 * The socket's thread ends it: no request goes out on it any more, those
 * it carried fail, it is released; count why, and tell user space if it
 * was the peer's last.
 */
void hbx_peer_sock_failed(struct hbx_peer_sock *ps, const char *why,
			  bool protocol_error);
/*
 * Shut a slot's socket down from outside its thread, which then ends it:
 * only the socket of generation gen (a requester's, which a reconnect may
 * have replaced since), or whichever it holds with HBX_PEER_SOCK_ANY.
 */
#define HBX_PEER_SOCK_ANY	(-1LL)
void hbx_peer_sock_abort(struct hbx_peer_sock *ps, s64 gen, const char *why);

/* The peer's timeout in jiffies; MAX_SCHEDULE_TIMEOUT for none. */
long hbx_peer_timeout(const struct hbx_peer *peer);

#endif
