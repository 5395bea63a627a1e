// SPDX-License-Identifier: GPL-2.0
/*
 * hbx serve: accept peers, run the mutual-TLS handshake, install kTLS and
 * hand each socket to hyperbox.ko, which serves exported layers from then
 * on.  This process only accepts and logs; it never touches the data.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "hbx.h"
#include "manifest.h"
#include "net.h"
#include "tls.h"

static const char usage[] =
	"serve --listen ADDR:PORT (--cert C --key K --ca CA [--crl F] [--cipher aes256|aes128|chacha]"
	" | --insecure) [--timeout-ms N]";

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

static void serve_one(struct hbx_nl *nl, int fd, const char *from,
		      const struct hbx_tls_config *cfg, bool insecure,
		      uint32_t timeout_ms)
{
	struct hbx_tls_peer tp;
	char why[256];
	uint32_t id = 0;
	int err;

	if (!insecure) {
		err = hbx_tls_server(fd, cfg, &tp, why, sizeof(why));
		if (err) {
			hbx_err("%s: %s", from, why);
			return;
		}
	}
	err = hand_off(nl, fd, insecure ? NULL : &tp, insecure, timeout_ms, &id);
	if (err) {
		hbx_err("%s: the module refused the socket: %s", from,
			hbx_nl_error(nl));
		return;
	}
	if (insecure)
		printf("peer %u: %s (plaintext, insecure)\n", id, from);
	else
		printf("peer %u: %s %s %s (%s)\n", id, from, tp.name, tp.identity,
		       hbx_tls_cipher_name(tp.cipher));
	fflush(stdout);
}

int serve_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "cert", required_argument, NULL, 'c' },
		{ "key", required_argument, NULL, 'k' },
		{ "ca", required_argument, NULL, 'a' },
		{ "crl", required_argument, NULL, 'r' },
		{ "cipher", required_argument, NULL, 'C' },
		{ "insecure", no_argument, NULL, 'I' },
		{ "timeout-ms", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 }
	};
	struct hbx_tls_config cfg = { .timeout_ms = 10000 };
	struct sigaction sa = { .sa_handler = on_signal };
	const char *listen_spec = NULL;
	uint32_t timeout_ms = 30000;
	char why[256];
	bool insecure = false;
	struct hbx_nl *nl;
	int c, lfd;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'l': listen_spec = optarg; break;
		case 'c': cfg.cert_file = optarg; break;
		case 'k': cfg.key_file = optarg; break;
		case 'a': cfg.ca_file = optarg; break;
		case 'r': cfg.crl_file = optarg; break;
		case 'I': insecure = true; break;
		case 'C':
			cfg.cipher = hbx_tls_cipher_parse(optarg);
			if (cfg.cipher < 0) {
				hbx_err("unknown cipher '%s' (aes256, aes128 or chacha)", optarg);
				return 2;
			}
			break;
		case 't':
			timeout_ms = strtoul(optarg, NULL, 10);
			break;
		default:
			return hbx_usage(usage);
		}
	}
	if (optind != argc || !listen_spec ||
	    (!insecure && (!cfg.cert_file || !cfg.key_file || !cfg.ca_file)))
		return hbx_usage(usage);

	nl = hbx_connect();
	if (!nl)
		return 1;
	lfd = hbx_tcp_listen(listen_spec, why, sizeof(why));
	if (lfd < 0) {
		hbx_err("%s", why);
		hbx_nl_close(nl);
		return 1;
	}
	/* No SA_RESTART: a signal must interrupt accept(). */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	printf("serving on %s%s\n", listen_spec, insecure ? " (plaintext, insecure)" : "");
	fflush(stdout);

	while (!stopping) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		char from[80];
		int fd = accept4(lfd, (struct sockaddr *)&ss, &len, SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno != EINTR)
				hbx_err("accept: %s", strerror(errno));
			continue;
		}
		peer_address(&ss, from, sizeof(from));
		serve_one(nl, fd, from, &cfg, insecure, timeout_ms);
		close(fd);	/* the module holds its own reference */
	}
	close(lfd);
	hbx_nl_close(nl);
	return 0;
}
