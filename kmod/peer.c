// SPDX-License-Identifier: GPL-2.0
/*
 * Peers: TCP sockets that user space connected, secured with kTLS and handed
 * in (as nbd-client hands sockets to nbd); after the handoff no user-space
 * process sits in the data path.  Every socket is checked for what it is
 * before anything is created.
 *
 * No thread per socket: an entry on each socket's wait queue (hooked with
 * the socket's own poll, so it works under kTLS, whose records are only
 * announced once decrypted) queues the slot's receiver on one workqueue
 * when data, an error or a hang-up comes.  The receiver reads without
 * blocking as far as the data goes and keeps its place in the frame for
 * the next run; a frame begun but not finished brings it back at the
 * frame's deadline.  An idle socket holds no thread, and how many workers
 * run at once is the workqueue's bound, not the peers'.
 *
 * Bounds: only the host's network admin adds peers (netlink.c), the sockets
 * of all peers together are capped by max_peer_sockets, a socket that fails
 * is released at once, and a network namespace that goes takes its peers
 * with it.
 */
#include <linux/file.h>
#include <linux/idr.h>
#include <linux/moduleparam.h>
#include <linux/net.h>
#include <linux/poll.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <net/inet_connection_sock.h>
#include <net/net_namespace.h>
#include <net/sock.h>
#include <net/tcp.h>
#include <net/tls.h>
#include <net/genetlink.h>
#include "netlink.h"
#include "peer.h"
#include "server.h"
#include "client.h"
#include "trace.h"

static DEFINE_MUTEX(hbx_peers_mutex);
static DEFINE_IDR(hbx_peers);
static unsigned int hbx_peers_generation;

static unsigned int max_peer_sockets = 256;
module_param(max_peer_sockets, uint, 0644);
MODULE_PARM_DESC(max_peer_sockets,
		 "Sockets all peers may hold together");
static atomic_t hbx_peer_socks_in_use = ATOMIC_INIT(0);

/*
 * The sockets' receivers.  A client's completes block I/O, so its queue can
 * make progress under memory pressure (WQ_MEM_RECLAIM); a server's may wait
 * on storage or on a fetch of its own, whose replies a client's receiver
 * brings: apart, that wait never sits in front of the reply on the
 * client queue's one rescuer.
 */
static struct workqueue_struct *hbx_client_wq, *hbx_server_wq;

static struct workqueue_struct *hbx_peer_sock_wq(const struct hbx_peer_sock *ps)
{
	return ps->peer->role == HBX_PEER_ROLE_CLIENT ? hbx_client_wq : hbx_server_wq;
}

unsigned int hbx_peer_socks_held(void)
{
	return atomic_read(&hbx_peer_socks_in_use);
}

unsigned int hbx_peer_socks_max(void)
{
	return READ_ONCE(max_peer_sockets);
}

long hbx_peer_timeout(const struct hbx_peer *peer)
{
	return peer->timeout_ms ? (long)msecs_to_jiffies(peer->timeout_ms) :
				  MAX_SCHEDULE_TIMEOUT;
}

static void hbx_peer_release_sock(struct socket *sock)
{
	sockfd_put(sock);
	atomic_dec(&hbx_peer_socks_in_use);
}

/* kTLS must be on in both directions: we never carry plaintext unasked. */
static bool hbx_sock_has_ktls(struct sock *sk)
{
	const struct inet_connection_sock *icsk = inet_csk(sk);
	const struct tls_context *ctx;
	bool ok;

	lock_sock(sk);
	ok = icsk->icsk_ulp_ops && !strcmp(icsk->icsk_ulp_ops->name, "tls");
	if (ok) {
		ctx = tls_get_ctx(sk);
		ok = ctx && ctx->tx_conf != TLS_BASE && ctx->rx_conf != TLS_BASE;
	}
	release_sock(sk);
	return ok;
}

/* Caller holds hbx_peers_mutex. */
static bool hbx_sock_in_use(struct socket *sock)
{
	struct hbx_peer *peer;
	unsigned int i;
	int id;

	idr_for_each_entry(&hbx_peers, peer, id)
		for (i = 0; i < peer->nr_socks; i++)
			if (READ_ONCE(peer->socks[i].sock) == sock)
				return true;
	return false;
}

static struct socket *hbx_peer_get_sock(int fd, const struct hbx_peer_params *p,
					struct net *net, struct genl_info *info)
{
	const struct nlattr *attr = info->attrs[HBX_A_PEER_SOCKETS];
	struct socket *sock;
	struct sock *sk;
	const char *why = NULL;
	int err;

	sock = sockfd_lookup(fd, &err);
	if (!sock) {
		NL_SET_ERR_MSG_ATTR(info->extack, attr, "socket fd is not an open socket");
		return ERR_PTR(err);
	}
	sk = sock->sk;
	if (sk->sk_type != SOCK_STREAM || sk->sk_protocol != IPPROTO_TCP ||
	    (sk->sk_family != AF_INET && sk->sk_family != AF_INET6))
		why = "socket is not a TCP socket";
	else if (READ_ONCE(sk->sk_state) != TCP_ESTABLISHED)
		why = "socket is not connected";
	else if (!net_eq(sock_net(sk), net))
		why = "socket belongs to another network namespace";
	else if (!p->insecure && !hbx_sock_has_ktls(sk))
		why = "socket has no kernel TLS in both directions (plaintext needs the insecure flag)";
	if (why) {
		hbx_extack_attr(info->extack, attr, why);
		sockfd_put(sock);
		return ERR_PTR(-EINVAL);
	}
	if (atomic_inc_return(&hbx_peer_socks_in_use) > READ_ONCE(max_peer_sockets)) {
		NL_SET_ERR_MSG_ATTR(info->extack, attr,
				    "too many peer sockets on this host (see max_peer_sockets)");
		hbx_peer_release_sock(sock);
		return ERR_PTR(-ENOSPC);
	}
	return sock;
}

/*
 * Every socket of a request, checked (hbx_peer_get_sock()); the same socket
 * twice would be serviced twice.  Returns how many, or -errno with none
 * kept.
 */
static int hbx_peer_get_socks(const struct hbx_peer_params *p, struct net *net,
			      struct genl_info *info, struct socket **socks)
{
	unsigned int n, j;
	int err = 0;

	for (n = 0; n < p->nr_fds && !err; n++) {
		socks[n] = hbx_peer_get_sock(p->fds[n], p, net, info);
		if (IS_ERR(socks[n]))
			err = PTR_ERR(socks[n]);
		for (j = 0; j < n && !err; j++)
			if (socks[j] == socks[n]) {
				NL_SET_ERR_MSG_ATTR(info->extack, info->attrs[HBX_A_PEER_SOCKETS],
						    "the same socket is given twice");
				err = -EINVAL;
			}
	}
	/* n counts the failed one too: the loop's step ran after it. */
	if (!err)
		return n;
	while (n--)
		if (!IS_ERR(socks[n]))
			hbx_peer_release_sock(socks[n]);
	return err;
}

static void hbx_peer_put_socks(struct hbx_peer *peer)
{
	unsigned int i;

	for (i = 0; i < peer->nr_socks; i++)
		if (peer->socks[i].sock)
			hbx_peer_release_sock(peer->socks[i].sock);
}

/* Timeouts are set per frame (stoq.c): every frame has a deadline. */
static void hbx_peer_setup_sock(struct hbx_peer *peer, struct socket *sock)
{
	struct sock *sk = sock->sk;

	/* Requests are small frames that must not wait for Nagle. */
	tcp_sock_set_nodelay(sk);
	if (peer->role == HBX_PEER_ROLE_CLIENT) {
		lock_sock(sk);
		sk->sk_allocation = GFP_NOIO;	/* we fetch for block I/O */
		release_sock(sk);
	}
}

static void hbx_peer_sock_unlisten(struct hbx_peer_sock *ps);

void hbx_peer_sock_failed(struct hbx_peer_sock *ps, const char *why,
			  bool protocol_error)
{
	struct hbx_peer *peer = ps->peer;
	struct socket *sock;
	bool last;

	/*
	 * Shut down first: a sender blocked on a full socket holds send_lock
	 * until its deadline, and the requests this socket carries should
	 * not wait that long to fail.  Only this receiver clears ps->sock.
	 */
	kernel_sock_shutdown(ps->sock, SHUT_RDWR);
	/* Requesters check ready under send_lock: none sends on it after this. */
	mutex_lock(&ps->send_lock);
	WRITE_ONCE(ps->ready, false);
	spin_lock(&ps->sock_lock);
	sock = ps->sock;
	WRITE_ONCE(ps->sock, NULL);
	/*
	 * Its reader saw only a shut-down socket (a frame cut short is no
	 * fault of the peer's then); the one who shut it knows why.
	 */
	if (ps->abort_why)
		why = ps->abort_why;
	else if (protocol_error)
		atomic64_inc(&peer->protocol_errors);
	spin_unlock(&ps->sock_lock);
	mutex_unlock(&ps->send_lock);
	/* Nothing queues the receiver again; this is its last run. */
	hbx_peer_sock_unlisten(ps);
	/* Those it carried fail now, not at their deadline. */
	if (peer->role == HBX_PEER_ROLE_CLIENT)
		hbx_client_fail_pending(peer, ps);
	kernel_sock_shutdown(sock, SHUT_RDWR);
	hbx_peer_release_sock(sock);

	/* Marked down last: from then on a reconnect may reuse the slot. */
	mutex_lock(&peer->lock);
	strscpy(peer->last_error, why, sizeof(peer->last_error));
	WRITE_ONCE(ps->up, false);
	last = !hbx_peer_socks_up(peer);
	mutex_unlock(&peer->lock);
	trace_hbx_peer_down(peer, ps - peer->socks, why, last);
	/* A peer being deleted is going down on purpose: no alarm. */
	if (last && !READ_ONCE(peer->stopping))
		hbx_notify_peer_down(peer);
}

void hbx_peer_sock_abort(struct hbx_peer_sock *ps, s64 gen, const char *why)
{
	struct file *file = NULL;

	spin_lock(&ps->sock_lock);
	if (ps->sock && (gen == HBX_PEER_SOCK_ANY || gen == ps->gen)) {
		file = get_file(ps->sock->file);
		if (!ps->abort_why)
			ps->abort_why = why;
	}
	spin_unlock(&ps->sock_lock);
	if (file) {
		kernel_sock_shutdown(sock_from_file(file), SHUT_RDWR);
		fput(file);
	}
}

/* Data, an error or a hang-up on the socket: run its receiver now. */
static int hbx_peer_sock_wake(struct wait_queue_entry *wait, unsigned int mode,
			      int sync, void *key)
{
	struct hbx_peer_sock *ps = container_of(wait, struct hbx_peer_sock, wait);
	__poll_t events = key_to_poll(key);

	/* Room to send is no news: senders wait on their own, with deadlines. */
	if (events && !(events & (EPOLLIN | EPOLLRDNORM | EPOLLERR | EPOLLHUP |
				  EPOLLRDHUP)))
		return 0;
	mod_delayed_work(hbx_peer_sock_wq(ps), &ps->work, 0);
	return 0;
}

struct hbx_peer_poll {
	poll_table		pt;
	struct hbx_peer_sock	*ps;
};

static void hbx_peer_sock_queue_proc(struct file *file, wait_queue_head_t *whead,
				     poll_table *pt)
{
	struct hbx_peer_sock *ps = container_of(pt, struct hbx_peer_poll, pt)->ps;

	if (ps->whead)
		return;
	ps->whead = whead;
	add_wait_queue(whead, &ps->wait);
}

/* Start receiving on the slot's new socket, from the start of a frame. */
static void hbx_peer_sock_listen(struct hbx_peer_sock *ps)
{
	struct hbx_peer_poll poll = { .ps = ps };

	ps->rx.frame = hbx_peer_timeout(ps->peer);
	hbx_stoq_rx_begin(&ps->rx);
	ps->step = HBX_RX_HEADER;
	ps->hello = false;
	ps->req = NULL;
	WRITE_ONCE(ps->stopping, false);
	init_waitqueue_func_entry(&ps->wait, hbx_peer_sock_wake);
	init_poll_funcptr(&poll.pt, hbx_peer_sock_queue_proc);
	vfs_poll(ps->sock->file, &poll.pt);
	/* What came before the hook woke nobody: look once now. */
	mod_delayed_work(hbx_peer_sock_wq(ps), &ps->work, 0);
}

static void hbx_peer_sock_unlisten(struct hbx_peer_sock *ps)
{
	if (!ps->whead)
		return;
	remove_wait_queue(ps->whead, &ps->wait);
	ps->whead = NULL;
}

/* Frames handled per run before the worker lets other sockets go first. */
#define HBX_PEER_RX_BUDGET	16

/*
 * As many frames as the socket has, up to the budget: 1 when the budget is
 * spent (more may be there), -EAGAIN when the socket needs more data, or
 * an error that ends it.
 */
static int hbx_peer_sock_receive(struct hbx_peer_sock *ps, const char **why)
{
	bool client = ps->peer->role == HBX_PEER_ROLE_CLIENT;
	unsigned int n;
	int err;

	for (n = 0; n < HBX_PEER_RX_BUDGET; n++) {
		err = client ? hbx_client_receive(ps, why) : hbx_server_receive(ps, why);
		if (err)
			return err;
	}
	return 1;
}

/*
 * The receiver: reads what the socket has, never waiting for more.  A
 * frame left unfinished brings it back at the frame's deadline (data that
 * comes sooner brings it back sooner); then the frame has failed.
 */
static void hbx_peer_sock_run(struct hbx_peer_sock *ps)
{
	const char *why = NULL;
	long left;
	int err;

	/* A run queued before the socket ended: nothing to do. */
	if (!ps->sock)
		return;
	if (READ_ONCE(ps->stopping)) {
		hbx_peer_sock_failed(ps, "stopped", false);
		return;
	}
	err = hbx_peer_sock_receive(ps, &why);
	if (err > 0) {
		/* Its share done with data still there: others go first. */
		queue_delayed_work(hbx_peer_sock_wq(ps), &ps->work, 0);
		return;
	}
	if (err == -EAGAIN) {
		left = hbx_stoq_rx_left(&ps->rx);
		if (left == MAX_SCHEDULE_TIMEOUT)
			return;		/* between frames: wait for data */
		if (left > 0) {
			queue_delayed_work(hbx_peer_sock_wq(ps), &ps->work, left);
			return;
		}
		err = -ETIMEDOUT;
		why = NULL;
	}
	hbx_peer_sock_failed(ps, why ?: hbx_stoq_recv_why(err, &ps->rx),
			     err == -EPROTO);
}

static void hbx_peer_sock_work(struct work_struct *work)
{
	struct hbx_peer_sock *ps = container_of(to_delayed_work(work),
						struct hbx_peer_sock, work);
	unsigned int noio;

	if (ps->peer->role != HBX_PEER_ROLE_CLIENT) {
		hbx_peer_sock_run(ps);
		return;
	}
	/* A client's replies complete block I/O: reclaim must not wait on it. */
	noio = memalloc_noio_save();
	hbx_peer_sock_run(ps);
	memalloc_noio_restore(noio);
}

bool hbx_peer_current_stopping(void)
{
	struct work_struct *work = current_work();
	struct hbx_peer_sock *ps;

	if (!work || work->func != hbx_peer_sock_work)
		return false;
	ps = container_of(to_delayed_work(work), struct hbx_peer_sock, work);
	return READ_ONCE(ps->stopping);
}

/*
 * Stop a slot: its socket shut down, its receiver run to its end (which
 * releases the socket).  Bounded: a receiver sending or fetching gives up
 * at once on a shut-down socket or a stopped fetch (hbx_fetch_cancelled()).
 */
static void hbx_peer_sock_stop(struct hbx_peer_sock *ps)
{
	WRITE_ONCE(ps->stopping, true);
	hbx_peer_sock_abort(ps, HBX_PEER_SOCK_ANY, "stopped");
	/*
	 * Until a run has ended the socket: one flush is not enough.  A wake
	 * on another CPU (mod_delayed_work()) may take the queued run off its
	 * queue and queue it again behind the flush's barrier, and the flush
	 * returns before it.  The run is then still queued, so the next pass
	 * waits for it; the socket is shut down, so wakes soon stop.
	 */
	do {
		mod_delayed_work(hbx_peer_sock_wq(ps), &ps->work, 0);
		flush_delayed_work(&ps->work);
	} while (READ_ONCE(ps->sock));
	/*
	 * The run that ended it clears ps->sock before it unhooks, and a wake
	 * before the unhook may have queued one more run: wait for the first
	 * and drop the other, so that neither outlives the peer.
	 */
	cancel_delayed_work_sync(&ps->work);
}

static void hbx_peer_stop(struct hbx_peer *peer)
{
	unsigned int i;

	WRITE_ONCE(peer->stopping, true);
	for (i = 0; i < peer->nr_socks; i++)
		hbx_peer_sock_stop(&peer->socks[i]);
}

static void hbx_peer_free(struct hbx_peer *peer)
{
	unsigned int i;

	/*
	 * A slot still hooked on its socket would have a wake queue its
	 * receiver on freed memory.  Stopped slots are unhooked; a peer that
	 * failed to add was never hooked.
	 */
	for (i = 0; i < peer->nr_socks; i++)
		WARN_ONCE(peer->socks[i].whead,
			  "hyperbox: peer %u freed with socket %u still hooked\n",
			  peer->id, i);
	hbx_peer_put_socks(peer);
	for (i = 0; i < HBX_PEER_SOCKETS_MAX; i++)
		mutex_destroy(&peer->socks[i].send_lock);
	xa_destroy(&peer->pending);
	mutex_destroy(&peer->lock);
	kfree(peer);
}

static void hbx_peer_release(struct kref *ref)
{
	hbx_peer_free(container_of(ref, struct hbx_peer, ref));
}

void hbx_peer_put(struct hbx_peer *peer)
{
	kref_put(&peer->ref, hbx_peer_release);
}

struct hbx_peer *hbx_peer_get_client(struct net *net, u32 id)
{
	struct hbx_peer *peer;

	mutex_lock(&hbx_peers_mutex);
	peer = hbx_peer_find(net, id);
	if (peer && peer->role == HBX_PEER_ROLE_CLIENT)
		kref_get(&peer->ref);
	else
		peer = NULL;
	mutex_unlock(&hbx_peers_mutex);
	return peer;
}

static void hbx_peer_start(struct hbx_peer *peer)
{
	unsigned int i;

	for (i = 0; i < peer->nr_socks; i++) {
		struct hbx_peer_sock *ps = &peer->socks[i];

		ps->up = true;
		ps->last_rx = jiffies;	/* silence is counted from here */
		trace_hbx_peer_up(peer, i, "added");
		hbx_peer_sock_listen(ps);
	}
}

struct hbx_peer *hbx_peer_add(const struct hbx_peer_params *p,
			      struct genl_info *info)
{
	struct socket *socks[HBX_PEER_SOCKETS_MAX];
	struct net *net = genl_info_net(info);
	struct hbx_peer *peer;
	unsigned int i;
	int err, id;

	/* Charged to the caller's memory cgroup, as its sockets are. */
	peer = kzalloc(sizeof(*peer), GFP_KERNEL_ACCOUNT);
	if (!peer)
		return ERR_PTR(-ENOMEM);
	mutex_init(&peer->lock);
	kref_init(&peer->ref);
	xa_init_flags(&peer->pending, XA_FLAGS_ALLOC);
	for (i = 0; i < HBX_PEER_SOCKETS_MAX; i++) {
		mutex_init(&peer->socks[i].send_lock);
		spin_lock_init(&peer->socks[i].sock_lock);
		INIT_DELAYED_WORK(&peer->socks[i].work, hbx_peer_sock_work);
	}
	peer->role = p->role;
	peer->insecure = p->insecure;
	peer->timeout_ms = p->timeout_ms;
	peer->net = net;
	if (p->name)
		strscpy(peer->name, p->name, sizeof(peer->name));
	if (p->identity) {
		memcpy(peer->identity, p->identity, HBX_DIGEST_SIZE);
		peer->has_identity = true;
	}

	err = hbx_peer_get_socks(p, net, info, socks);
	if (err < 0)
		goto err_put_socks;
	for (peer->nr_socks = 0; peer->nr_socks < err; peer->nr_socks++) {
		peer->socks[peer->nr_socks].peer = peer;
		peer->socks[peer->nr_socks].sock = socks[peer->nr_socks];
	}

	mutex_lock(&hbx_peers_mutex);
	for (i = 0; i < peer->nr_socks; i++) {
		if (hbx_sock_in_use(peer->socks[i].sock)) {
			mutex_unlock(&hbx_peers_mutex);
			NL_SET_ERR_MSG_ATTR(info->extack, info->attrs[HBX_A_PEER_SOCKETS],
					    "socket is already handed to a peer");
			err = -EBUSY;
			goto err_put_socks;
		}
	}
	/* Cyclic: a deleted peer's id is not someone else's a moment later. */
	id = idr_alloc_cyclic(&hbx_peers, peer, 0, INT_MAX, GFP_KERNEL);
	if (id < 0) {
		mutex_unlock(&hbx_peers_mutex);
		err = id;
		goto err_put_socks;
	}
	peer->id = id;
	hbx_peers_generation++;
	for (i = 0; i < peer->nr_socks; i++)
		hbx_peer_setup_sock(peer, peer->socks[i].sock);
	hbx_peer_start(peer);
	return peer;	/* registry still locked, for the reply */

err_put_socks:
	hbx_peer_free(peer);
	return ERR_PTR(err);
}

/* Slots free for new sockets: never used, or their socket is down. */
static unsigned int hbx_peer_free_slots(struct hbx_peer *peer)
{
	unsigned int i, n = HBX_PEER_SOCKETS_MAX - peer->nr_socks;

	for (i = 0; i < peer->nr_socks; i++)
		n += !READ_ONCE(peer->socks[i].up);
	return n;
}

/* Caller holds hbx_peers_mutex: a dead slot's receiver has ended or is ending. */
static int hbx_peer_replace_sock(struct hbx_peer *peer, struct socket *sock)
{
	struct hbx_peer_sock *ps = NULL;
	unsigned int i;

	for (i = 0; i < peer->nr_socks && !ps; i++)
		if (!READ_ONCE(peer->socks[i].up))
			ps = &peer->socks[i];
	if (!ps && peer->nr_socks == HBX_PEER_SOCKETS_MAX)
		return -E2BIG;
	if (!ps) {
		ps = &peer->socks[peer->nr_socks];
		ps->peer = peer;
	}
	/* The last run for the old socket is over before the slot takes another. */
	cancel_delayed_work_sync(&ps->work);

	/* Requesters check ready under send_lock: none is mid-send here. */
	mutex_lock(&ps->send_lock);
	spin_lock(&ps->sock_lock);
	WRITE_ONCE(ps->sock, sock);
	ps->gen++;
	ps->abort_why = NULL;
	spin_unlock(&ps->sock_lock);
	ps->ready = false;
	ps->up = true;
	ps->last_rx = jiffies;	/* silence is counted from here */
	trace_hbx_peer_up(peer, ps - peer->socks, "reconnected");
	if (ps - peer->socks == peer->nr_socks)
		WRITE_ONCE(peer->nr_socks, peer->nr_socks + 1);
	mutex_unlock(&ps->send_lock);
	hbx_peer_setup_sock(peer, sock);
	hbx_peer_sock_listen(ps);
	return 0;
}

struct hbx_peer *hbx_peer_add_sockets(u32 id, const struct hbx_peer_params *p,
				      struct genl_info *info)
{
	const struct nlattr *attr = info->attrs[HBX_A_PEER_SOCKETS];
	struct socket *socks[HBX_PEER_SOCKETS_MAX];
	struct net *net = genl_info_net(info);
	struct hbx_peer *peer;
	unsigned int i, n = 0, handed = 0;
	int err = 0;

	err = hbx_peer_get_socks(p, net, info, socks);
	if (err >= 0) {
		n = err;
		err = 0;
	}
	mutex_lock(&hbx_peers_mutex);
	peer = hbx_peer_find(net, id);
	if (!err && !peer) {
		NL_SET_ERR_MSG_ATTR(info->extack, info->attrs[HBX_A_PEER_ID],
				    "no peer with that id in this network namespace");
		err = -ENOENT;
	} else if (!err && (peer->insecure != p->insecure || peer->role != p->role)) {
		NL_SET_ERR_MSG(info->extack, "new sockets must match the peer's role and security");
		err = -EINVAL;
	}
	for (i = 0; i < n && !err; i++) {
		if (hbx_sock_in_use(socks[i])) {
			NL_SET_ERR_MSG_ATTR(info->extack, attr, "socket is already handed to a peer");
			err = -EBUSY;
		}
	}
	/* All or none: a caller told "no room" must not find some taken. */
	if (!err && hbx_peer_free_slots(peer) < n) {
		NL_SET_ERR_MSG_ATTR(info->extack, attr, "the peer has no room for that many more sockets");
		err = -E2BIG;
	}
	/* Cannot run out of slots: counted above, under the same lock. */
	while (!err && handed < n) {
		err = hbx_peer_replace_sock(peer, socks[handed]);
		if (!WARN_ON_ONCE(err))
			handed++;
	}
	if (err) {
		mutex_unlock(&hbx_peers_mutex);
		while (n > handed)	/* the peer owns those it took */
			hbx_peer_release_sock(socks[--n]);
		return ERR_PTR(err);
	}
	return peer;	/* registry still locked, for the reply */
}

int hbx_peer_del(u32 id, struct genl_info *info)
{
	struct hbx_peer *peer;

	mutex_lock(&hbx_peers_mutex);
	peer = hbx_peer_find(genl_info_net(info), id);
	if (!peer) {
		mutex_unlock(&hbx_peers_mutex);
		NL_SET_ERR_MSG_ATTR(info->extack, info->attrs[HBX_A_PEER_ID],
				    "no peer with that id in this network namespace");
		return -ENOENT;
	}
	idr_remove(&hbx_peers, id);
	hbx_peers_generation++;
	mutex_unlock(&hbx_peers_mutex);

	hbx_peer_stop(peer);
	hbx_peer_put(peer);	/* remote layers using it keep it until they go */
	return 0;
}

/* Remove the first peer of net (any, if net is NULL) from the registry. */
static struct hbx_peer *hbx_peer_unlink_next(struct net *net)
{
	struct hbx_peer *peer;
	int id = 0;

	mutex_lock(&hbx_peers_mutex);
	while ((peer = idr_get_next(&hbx_peers, &id)) && net && !net_eq(peer->net, net))
		id++;
	if (peer) {
		idr_remove(&hbx_peers, id);
		hbx_peers_generation++;
	}
	mutex_unlock(&hbx_peers_mutex);
	return peer;
}

void hbx_peers_net_exit(struct net *net)
{
	struct hbx_peer *peer;

	while ((peer = hbx_peer_unlink_next(net))) {
		hbx_peer_stop(peer);
		peer->net = NULL;	/* its layers may keep it; the net is going */
		hbx_peer_put(peer);
	}
}

void hbx_peers_lock(void)
{
	mutex_lock(&hbx_peers_mutex);
}

void hbx_peers_unlock(void)
{
	mutex_unlock(&hbx_peers_mutex);
}

unsigned int hbx_peers_gen(void)
{
	return hbx_peers_generation;
}

struct hbx_peer *hbx_peer_find(struct net *net, u32 id)
{
	struct hbx_peer *peer;

	lockdep_assert_held(&hbx_peers_mutex);
	peer = idr_find(&hbx_peers, id);
	return peer && net_eq(peer->net, net) ? peer : NULL;
}

struct hbx_peer *hbx_peer_next(struct net *net, u32 *id)
{
	struct hbx_peer *peer;
	int i = *id;

	lockdep_assert_held(&hbx_peers_mutex);
	while ((peer = idr_get_next(&hbx_peers, &i)) && !net_eq(peer->net, net))
		i++;
	*id = i;
	return peer;
}

unsigned int hbx_peer_socks_up(struct hbx_peer *peer)
{
	unsigned int i, n = 0;

	for (i = 0; i < peer->nr_socks; i++)
		n += READ_ONCE(peer->socks[i].up);
	return n;
}

enum hbx_peer_state hbx_peer_state(struct hbx_peer *peer)
{
	return hbx_peer_socks_up(peer) ? HBX_PEER_STATE_UP : HBX_PEER_STATE_DOWN;
}

/* Module unload: netlink is gone, so nothing adds peers meanwhile. */
void hbx_peer_exit(void)
{
	hbx_peers_net_exit(NULL);
	idr_destroy(&hbx_peers);
	destroy_workqueue(hbx_server_wq);
	destroy_workqueue(hbx_client_wq);
}

int hbx_peer_init(void)
{
	hbx_client_wq = alloc_workqueue("hyperbox_clients", WQ_UNBOUND | WQ_MEM_RECLAIM, 0);
	if (!hbx_client_wq)
		return -ENOMEM;
	hbx_server_wq = alloc_workqueue("hyperbox_servers", WQ_UNBOUND, 0);
	if (!hbx_server_wq) {
		destroy_workqueue(hbx_client_wq);
		return -ENOMEM;
	}
	return 0;
}
