// SPDX-License-Identifier: GPL-2.0
/*
 * hbx serve: accept peers, run the mutual-TLS handshake, install kTLS and
 * hand each socket to hyperbox.ko, which serves exported layers from then
 * on.  This process only accepts and logs; it never touches the data.
 *
 * Each handshake runs in its own thread: a peer that connects and says
 * nothing holds one slot for the handshake timeout, not the accept loop.
 * Slots are bounded in all (--max-handshakes) and per source address
 * (--per-source), so idle connections cannot exhaust threads either; a
 * connection over a bound is closed at once, with a line in the log.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "hbx.h"
#include "manifest.h"
#include "net.h"
#include "net_admit.h"
#include "tls.h"

static const char usage[] =
	"serve --listen [ADDR]:PORT (--cert C --key K --ca CA [--crl F | --no-crl]"
	" [--cipher aes256|aes128|chacha] | --insecure) [--timeout-ms MS | --timeout DURATION]"
	" [--max-handshakes N] [--per-source N]";

#define SERVE_MAX_HANDSHAKES	64
#define SERVE_PER_SOURCE	4
#define SERVE_HANDSHAKE_MS	10000

static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
	stopping = 1;
}

static void peer_address(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	char addr[INET6_ADDRSTRLEN] = "?";
	int port = 0;

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)ss;

		inet_ntop(AF_INET, &in->sin_addr, addr, sizeof(addr));
		port = ntohs(in->sin_port);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)ss;

		inet_ntop(AF_INET6, &in6->sin6_addr, addr, sizeof(addr));
		port = ntohs(in6->sin6_port);
	}
	snprintf(buf, len, "%s:%d", addr, port);
}

static int peer_id_reply(uint8_t cmd, struct nlattr **tb, void *arg)
{
	if (tb[HBX_A_PEER_ID])
		*(uint32_t *)arg = nla_get_u32(tb[HBX_A_PEER_ID]);
	return 0;
}

/* PEER_ADD with this one socket, as a server-role peer. */
static int hand_off(struct hbx_nl *nl, int fd, const struct hbx_tls_peer *tp,
		    bool insecure, uint32_t timeout_ms, uint32_t *id)
{
	struct nl_msg *msg = hbx_nl_msg(nl, HBX_CMD_PEER_ADD, 0);
	uint8_t identity[HBX_DIGEST_SIZE];
	struct nlattr *nest;

	if (!msg || nla_put_u32(msg, HBX_A_PEER_ROLE, HBX_PEER_ROLE_SERVER) ||
	    nla_put_u32(msg, HBX_A_PEER_TIMEOUT_MS, timeout_ms) ||
	    (tp && nla_put_string(msg, HBX_A_PEER_NAME, tp->name)) ||
	    (tp && !hbx_digest_parse(tp->identity, identity) &&
	     nla_put(msg, HBX_A_PEER_IDENTITY, HBX_DIGEST_SIZE, identity)) ||
	    (insecure && nla_put_flag(msg, HBX_A_PEER_INSECURE)))
		return -ENOMEM;
	nest = nla_nest_start(msg, HBX_A_PEER_SOCKETS);
	if (!nest || nla_put_u32(msg, HBX_A_PEER_SOCKET_FD, fd))
		return -ENOMEM;
	nla_nest_end(msg, nest);
	return hbx_nl_request(nl, msg, HBX_A_PEER_MAX, peer_id_reply, id);
}

/* What every handshake thread shares. */
struct serve_ctx {
	struct hbx_nl			*nl;
	pthread_mutex_t			nl_lock;	/* libnl sockets are not thread-safe */
	const struct hbx_tls_config	*cfg;
	bool				insecure;
	uint32_t			timeout_ms;
	struct hbx_admit		admit;
};

struct serve_conn {
	struct serve_ctx		*ctx;
	int				fd;
	struct sockaddr_storage		ss;
	char				from[80];
};

static void serve_one(struct serve_ctx *ctx, int fd, const char *from)
{
	struct hbx_tls_peer tp;
	char why[256];
	uint32_t id = 0;
	int err;

	if (!ctx->insecure) {
		err = hbx_tls_server(fd, ctx->cfg, &tp, why, sizeof(why));
		if (err) {
			hbx_err("%s: %s", from, why);
			return;
		}
	}
	pthread_mutex_lock(&ctx->nl_lock);
	err = hand_off(ctx->nl, fd, ctx->insecure ? NULL : &tp, ctx->insecure,
		       ctx->timeout_ms, &id);
	if (err)
		hbx_err("%s: the module refused the socket: %s", from,
			hbx_nl_error(ctx->nl));
	pthread_mutex_unlock(&ctx->nl_lock);
	if (err)
		return;
	if (ctx->insecure)
		printf("peer %u: %s (plaintext, insecure)\n", id, from);
	else
		printf("peer %u: %s %s %s (%s)\n", id, from, tp.name, tp.identity,
		       hbx_tls_cipher_name(tp.cipher));
	fflush(stdout);
}

static void *serve_thread(void *arg)
{
	struct serve_conn *c = arg;

	serve_one(c->ctx, c->fd, c->from);
	close(c->fd);	/* the module holds its own reference */
	hbx_admit_leave(&c->ctx->admit, (struct sockaddr *)&c->ss);
	free(c);
	return NULL;
}

/* Admit the connection and start its handshake thread, or close it. */
static void serve_accepted(struct serve_ctx *ctx, int fd,
			   const struct sockaddr_storage *ss)
{
	struct serve_conn *c;
	pthread_attr_t attr;
	pthread_t th;
	char from[80];
	int err;

	peer_address(ss, from, sizeof(from));
	err = hbx_admit_enter(&ctx->admit, (const struct sockaddr *)ss);
	if (err) {
		if (err == -EBUSY)
			hbx_err("%s: refused: %u handshakes are in progress (--max-handshakes)",
				from, ctx->admit.max_total);
		else
			hbx_err("%s: refused: %u handshakes from its address are in progress (--per-source)",
				from, ctx->admit.max_source);
		close(fd);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		hbx_err("%s: out of memory", from);
		goto drop;
	}
	c->ctx = ctx;
	c->fd = fd;
	c->ss = *ss;
	snprintf(c->from, sizeof(c->from), "%s", from);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 512 * 1024);
	err = pthread_create(&th, &attr, serve_thread, c);
	pthread_attr_destroy(&attr);
	if (!err)
		return;
	hbx_err("%s: cannot start a handshake thread: %s", from, strerror(err));
	free(c);
drop:
	close(fd);
	hbx_admit_leave(&ctx->admit, (const struct sockaddr *)ss);
}

/* Say how revocation is checked; refuse to start if it cannot be. */
static int serve_revocation(const struct hbx_tls_config *cfg)
{
	char buf[4096];
	const char *crl = hbx_tls_crl_file(cfg, buf, sizeof(buf));

	if (!crl) {
		printf("revocation checks are OFF (--no-crl): revoked certificates are accepted\n");
		return 0;
	}
	if (access(crl, R_OK)) {
		if (cfg->crl_file)
			hbx_err("cannot read the revocation list %s: %s", crl,
				strerror(errno));
		else
			hbx_err("there is no revocation list next to the CA certificate (%s): "
				"pass --crl FILE, or --no-crl to accept revoked certificates",
				crl);
		return -1;
	}
	printf("revocation: %s, re-read for every handshake\n", crl);
	return 0;
}

/*
 * For the log: what ":PORT" turned out to mean on this host (net.h), and
 * the port the kernel picked for port 0.
 */
static void listen_note(int lfd, bool picked, char *buf, size_t len)
{
	const struct sockaddr_in6 *in6;
	const struct sockaddr_in *in;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	const char *any = "";
	int v6only = 1, port;

	*buf = '\0';
	if (getsockname(lfd, (struct sockaddr *)&ss, &sl))
		return;
	in6 = (const void *)&ss;
	in = (const void *)&ss;
	if (ss.ss_family == AF_INET6) {
		port = ntohs(in6->sin6_port);
		sl = sizeof(v6only);
		if (IN6_IS_ADDR_UNSPECIFIED(&in6->sin6_addr) &&
		    !getsockopt(lfd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, &sl))
			any = v6only ? "every IPv6 address" : "every address, IPv6 and IPv4";
	} else {
		port = ntohs(in->sin_port);
		if (in->sin_addr.s_addr == htonl(INADDR_ANY))
			any = "every IPv4 address";
	}
	if (*any)
		snprintf(buf, len, " (%s, port %d)", any, port);
	else if (picked)
		snprintf(buf, len, " (port %d)", port);
}

int serve_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "cert", required_argument, NULL, 'c' },
		{ "key", required_argument, NULL, 'k' },
		{ "ca", required_argument, NULL, 'a' },
		{ "crl", required_argument, NULL, 'r' },
		{ "no-crl", no_argument, NULL, 'R' },
		{ "cipher", required_argument, NULL, 'C' },
		{ "insecure", no_argument, NULL, 'I' },
		{ "timeout-ms", required_argument, NULL, 't' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "max-handshakes", required_argument, NULL, 'M' },
		{ "per-source", required_argument, NULL, 'P' },
		{ NULL, 0, NULL, 0 }
	};
	struct hbx_tls_config cfg = { .timeout_ms = SERVE_HANDSHAKE_MS };
	struct sigaction sa = { .sa_handler = on_signal };
	struct serve_ctx ctx = { .timeout_ms = 30000 };
	unsigned int max_hs = SERVE_MAX_HANDSHAKES, per_source = SERVE_PER_SOURCE;
	const char *listen_spec = NULL;
	sigset_t block, old;
	char why[256], note[80];
	int c, lfd;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'c': cfg.cert_file = optarg; break;
		case 'k': cfg.key_file = optarg; break;
		case 'a': cfg.ca_file = optarg; break;
		case 'r': cfg.crl_file = optarg; break;
		case 'R': cfg.no_crl = true; break;
		case 'I': ctx.insecure = true; break;
		case 'C':
			cfg.cipher = hbx_tls_cipher_parse(optarg);
			if (cfg.cipher < 0) {
				hbx_err("unknown cipher '%s' (aes256, aes128 or chacha)", optarg);
				return 2;
			}
			break;
		case 'l':
			if (hbx_tcp_spec_check(optarg, true, why, sizeof(why))) {
				hbx_err("--listen %s", why);
				return 2;
			}
			listen_spec = optarg;
			break;
		case 't':
		case 'T':
			if (hbx_arg_timeout(c == 't' ? "--timeout-ms" : "--timeout", optarg,
					    &ctx.timeout_ms))
				return 2;
			break;
		/* Each slot is a thread and a socket: 65536 bounds both. */
		case 'M':
			if (hbx_arg_u32("--max-handshakes", optarg, 1, 65536, &max_hs))
				return 2;
			break;
		case 'P':
			if (hbx_arg_u32("--per-source", optarg, 1, 65536, &per_source))
				return 2;
			break;
		default:
			return hbx_usage(usage);
		}
	}
	if (optind != argc || !listen_spec || (cfg.crl_file && cfg.no_crl) ||
	    (!ctx.insecure && (!cfg.cert_file || !cfg.key_file || !cfg.ca_file)))
		return hbx_usage(usage);
	if (!ctx.insecure && serve_revocation(&cfg))
		return 1;
	ctx.cfg = &cfg;
	if (hbx_admit_init(&ctx.admit, max_hs, per_source)) {
		hbx_err("out of memory");
		return 1;
	}
	pthread_mutex_init(&ctx.nl_lock, NULL);

	ctx.nl = hbx_connect();
	if (!ctx.nl)
		return 1;
	lfd = hbx_tcp_listen(listen_spec, why, sizeof(why));
	if (lfd < 0) {
		hbx_err("%s", why);
		hbx_nl_close(ctx.nl);
		return 1;
	}
	/* No SA_RESTART: a signal must interrupt accept(). */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	/* Handshake threads start with the signals blocked, so they reach
	 * the accept loop. */
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	listen_note(lfd, !strcmp(strrchr(listen_spec, ':'), ":0"), note, sizeof(note));
	printf("serving on %s%s%s\n", listen_spec, note,
	       ctx.insecure ? " (plaintext, insecure)" : "");
	fflush(stdout);

	while (!stopping) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		int fd = accept4(lfd, (struct sockaddr *)&ss, &len, SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno != EINTR)
				hbx_err("accept: %s", strerror(errno));
			continue;
		}
		pthread_sigmask(SIG_BLOCK, &block, &old);
		serve_accepted(&ctx, fd, &ss);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	}
	close(lfd);
	/* Handshakes in flight end within their timeout; the module must not
	 * be handed a socket after we said we stopped. */
	if (!hbx_admit_wait_idle(&ctx.admit, cfg.timeout_ms + 5000))
		hbx_err("handshakes still in progress at exit");
	pthread_mutex_lock(&ctx.nl_lock);
	hbx_nl_close(ctx.nl);
	return 0;
}
