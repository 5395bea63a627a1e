// SPDX-License-Identifier: GPL-2.0
/* hbx peer list|del: the sockets handed to the module, per network namespace. */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "hbx.h"
#include "json.h"
#include "manifest.h"
#include "net.h"
#include "tls.h"

struct peer_row {
	uint32_t	id, role, state, socks_up, timeout_ms;
	uint64_t	requests, bytes_tx, bytes_rx, protocol_errors, corrupt_chunks;
	bool		insecure;
	char		name[HBX_PEER_NAME_MAX];
	char		identity[HBX_DIGEST_STR_LEN + 1];
	char		last_error[64];
};

struct peer_rows {
	struct peer_row	*v;
	size_t		n;
};

static int peer_row_parse(uint8_t cmd, struct nlattr **tb, void *arg)
{
	struct peer_rows *rows = arg;
	struct peer_row *r, *v = realloc(rows->v, (rows->n + 1) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	rows->v = v;
	r = memset(&v[rows->n++], 0, sizeof(*r));
#define U32(a, f) if (tb[a]) r->f = nla_get_u32(tb[a])
#define U64(a, f) if (tb[a]) r->f = nla_get_u64(tb[a])
	U32(HBX_A_PEER_ID, id);
	U32(HBX_A_PEER_ROLE, role);
	U32(HBX_A_PEER_STATE, state);
	U32(HBX_A_PEER_SOCKETS_UP, socks_up);
	U32(HBX_A_PEER_TIMEOUT_MS, timeout_ms);
	U64(HBX_A_PEER_REQUESTS, requests);
	U64(HBX_A_PEER_BYTES_TX, bytes_tx);
	U64(HBX_A_PEER_PROTOCOL_ERRORS, protocol_errors);
	U64(HBX_A_PEER_BYTES_RX, bytes_rx);
	U64(HBX_A_PEER_CORRUPT_CHUNKS, corrupt_chunks);
#undef U32
#undef U64
	r->insecure = tb[HBX_A_PEER_INSECURE] != NULL;
	if (tb[HBX_A_PEER_NAME])
		snprintf(r->name, sizeof(r->name), "%s", nla_get_string(tb[HBX_A_PEER_NAME]));
	if (tb[HBX_A_PEER_LAST_ERROR])
		snprintf(r->last_error, sizeof(r->last_error), "%s",
			 nla_get_string(tb[HBX_A_PEER_LAST_ERROR]));
	if (tb[HBX_A_PEER_IDENTITY] && nla_len(tb[HBX_A_PEER_IDENTITY]) == HBX_DIGEST_SIZE)
		hbx_digest_format(nla_data(tb[HBX_A_PEER_IDENTITY]), r->identity);
	return 0;
}

static void peer_row_json(struct hbx_json *j, const struct peer_row *r)
{
	hbx_json_object_begin(j, NULL);
	hbx_json_u64(j, "id", r->id);
	hbx_json_string(j, "name", r->name);
	hbx_json_string(j, "identity", r->identity);
	hbx_json_string(j, "role", r->role == HBX_PEER_ROLE_SERVER ? "server" : "client");
	hbx_json_bool(j, "insecure", r->insecure);
	hbx_json_u64(j, "timeout-ms", r->timeout_ms);
	hbx_json_string(j, "state", r->state == HBX_PEER_STATE_UP ? "up" : "down");
	hbx_json_u64(j, "sockets-up", r->socks_up);
	hbx_json_u64(j, "requests", r->requests);
	hbx_json_u64(j, "bytes-tx", r->bytes_tx);
	hbx_json_u64(j, "bytes-rx", r->bytes_rx);
	hbx_json_u64(j, "protocol-errors", r->protocol_errors);
	hbx_json_u64(j, "corrupt-chunks", r->corrupt_chunks);
	hbx_json_string(j, "last-error", r->last_error);
	hbx_json_object_end(j);
}

static int peer_list_main(int argc, char **argv)
{
	struct peer_rows rows = { NULL, 0 };
	struct hbx_json j;
	struct hbx_nl *nl;
	bool json = false;
	size_t i;
	int c, err;

	while ((c = getopt(argc, argv, "j")) != -1) {
		if (c != 'j')
			return hbx_usage("peer list [-j]");
		json = true;
	}
	if (optind != argc)
		return hbx_usage("peer list [-j]");
	nl = hbx_connect();
	if (!nl)
		return 1;
	err = hbx_nl_request(nl, hbx_nl_msg(nl, HBX_CMD_PEER_GET, NLM_F_DUMP),
			     HBX_A_PEER_MAX, peer_row_parse, &rows);
	if (err)
		hbx_err("%s", hbx_nl_error(nl));
	hbx_nl_close(nl);
	if (err)
		return 1;
	if (json) {
		hbx_json_init(&j, stdout);
		hbx_json_array_begin(&j, NULL);
		for (i = 0; i < rows.n; i++)
			peer_row_json(&j, &rows.v[i]);
		hbx_json_array_end(&j);
		hbx_json_finish(&j);
	} else {
		printf("%-4s %-16s %-6s %-5s %10s %12s %12s %6s %7s  %s\n", "ID", "NAME",
		       "ROLE", "STATE", "REQUESTS", "BYTES-TX", "BYTES-RX", "ERRORS",
		       "CORRUPT", "LAST ERROR");
		for (i = 0; i < rows.n; i++) {
			const struct peer_row *r = &rows.v[i];

			printf("%-4u %-16s %-6s %-5s %10" PRIu64 " %12" PRIu64 " %12" PRIu64
			       " %6" PRIu64 " %7" PRIu64 "  %s%s\n", r->id, r->name,
			       r->role == HBX_PEER_ROLE_SERVER ? "server" : "client",
			       r->state == HBX_PEER_STATE_UP ? "up" : "down",
			       r->requests, r->bytes_tx, r->bytes_rx, r->protocol_errors,
			       r->corrupt_chunks, r->last_error,
			       r->insecure ? " (insecure)" : "");
		}
	}
	free(rows.v);
	return 0;
}

static int peer_del_main(int argc, char **argv)
{
	struct nl_msg *msg;
	struct hbx_nl *nl;
	uint32_t id;
	int err;

	/* "--help" is for hbx_usage(); "-1" gets the parser's sentence. */
	if (argc != 2 || (argv[1][0] == '-' && !isdigit((unsigned char)argv[1][1])))
		return hbx_usage("peer del ID");
	if (hbx_arg_u32("the peer id", argv[1], 0, UINT32_MAX, &id))
		return 2;
	nl = hbx_connect();
	if (!nl)
		return 1;
	msg = hbx_nl_msg(nl, HBX_CMD_PEER_DEL, 0);
	err = !msg || nla_put_u32(msg, HBX_A_PEER_ID, id) ? -ENOMEM :
	      hbx_nl_request(nl, msg, HBX_A_PEER_MAX, NULL, NULL);
	if (err)
		hbx_err("%s", hbx_nl_error(nl));
	hbx_nl_close(nl);
	return err ? 1 : 0;
}

static int peer_id_reply(uint8_t cmd, struct nlattr **tb, void *arg)
{
	if (tb[HBX_A_PEER_ID])
		*(uint32_t *)arg = nla_get_u32(tb[HBX_A_PEER_ID]);
	return 0;
}

/* connections sockets to spec, each through the handshake; -1 after saying why. */
static int connect_all(const char *spec, const struct hbx_tls_config *cfg,
		       bool insecure, int *fds, int n, struct hbx_tls_peer *tp)
{
	char why[256];
	int i;

	for (i = 0; i < n; i++) {
		fds[i] = hbx_tcp_connect(spec, why, sizeof(why));
		if (fds[i] < 0 ||
		    (!insecure && hbx_tls_client(fds[i], cfg, tp, why, sizeof(why)))) {
			hbx_err("%s: %s", spec, why);
			if (fds[i] >= 0)
				close(fds[i]);
			while (i--)
				close(fds[i]);
			return -1;
		}
	}
	return 0;
}

struct peer_watch {
	uint32_t	id;
	bool		down;
};

static int on_peer_event(uint8_t cmd, struct nlattr **tb, void *arg)
{
	struct peer_watch *w = arg;

	if (cmd == HBX_CMD_PEER_DOWN_NTF && tb[HBX_A_PEER_ID] &&
	    nla_get_u32(tb[HBX_A_PEER_ID]) == w->id) {
		w->down = true;
		return 1;
	}
	return 0;
}

/* PEER_ADD of the sockets: a new client peer, or into peer *id when set. */
static int hand_over(struct hbx_nl *nl, const int *fds, int n, bool insecure,
		     const char *name, const char *identity, uint32_t timeout_ms,
		     bool existing, uint32_t *id)
{
	uint8_t digest[HBX_DIGEST_SIZE];
	struct nlattr *nest = NULL;
	struct nl_msg *msg = hbx_nl_msg(nl, HBX_CMD_PEER_ADD, 0);
	int i, err;

	err = !msg || nla_put_u32(msg, HBX_A_PEER_ROLE, HBX_PEER_ROLE_CLIENT) ||
	      nla_put_u32(msg, HBX_A_PEER_TIMEOUT_MS, timeout_ms) ||
	      nla_put_string(msg, HBX_A_PEER_NAME, name) ||
	      (existing && nla_put_u32(msg, HBX_A_PEER_ID, *id)) ||
	      (identity && !hbx_digest_parse(identity, digest) &&
	       nla_put(msg, HBX_A_PEER_IDENTITY, HBX_DIGEST_SIZE, digest)) ||
	      (insecure && nla_put_flag(msg, HBX_A_PEER_INSECURE));
	if (!err)
		nest = nla_nest_start(msg, HBX_A_PEER_SOCKETS);
	for (i = 0; nest && i < n; i++)
		err |= nla_put_u32(msg, HBX_A_PEER_SOCKET_FD, fds[i]);
	if (nest)
		nla_nest_end(msg, nest);
	err = err || !nest ? -ENOMEM :
	      hbx_nl_request(nl, msg, HBX_A_PEER_MAX, peer_id_reply, id);
	if (err)
		hbx_err("the module refused the sockets: %s", hbx_nl_error(nl));
	/* The module holds its own references to the sockets. */
	for (i = 0; i < n; i++)
		close(fds[i]);
	return err;
}

static volatile sig_atomic_t persist_stop;

static void on_persist_signal(int sig)
{
	persist_stop = 1;
}

/*
 * --persist: wait for PEER_DOWN of our peer, then reconnect with backoff and
 * hand the new sockets to the same peer, so reads waiting in the kernel
 * carry on.  A server whose key changed is not reconnected to.
 */
static int persist(struct hbx_nl *events, struct hbx_nl *nl, const char *spec,
		   const struct hbx_tls_config *cfg, bool insecure, int n,
		   const struct hbx_tls_peer *first, uint32_t timeout_ms,
		   uint32_t id)
{
	struct sigaction sa = { .sa_handler = on_persist_signal };
	struct timeval tv = { .tv_sec = 1 };
	struct peer_watch w = { .id = id };
	int fds[HBX_PEER_SOCKETS_MAX];
	unsigned int backoff_ms;

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	/* Wake every second to notice a signal. */
	setsockopt(nl_socket_get_fd(hbx_nl_sock(events)), SOL_SOCKET, SO_RCVTIMEO,
		   &tv, sizeof(tv));
	while (!persist_stop) {
		w.down = false;
		hbx_nl_listen(events, HBX_A_PEER_MAX, on_peer_event, &w);
		if (!w.down)
			continue;
		fprintf(stderr, "hbx: peer connect: peer %u is down; reconnecting to %s\n",
			id, spec);
		for (backoff_ms = 200; !persist_stop; backoff_ms = backoff_ms < 5000 ?
		     backoff_ms * 2 : 5000) {
			struct hbx_tls_peer tp;

			if (!connect_all(spec, cfg, insecure, fds, n, &tp)) {
				if (!insecure && strcmp(tp.identity, first->identity)) {
					hbx_err("%s now presents another key (%s); not reconnecting",
						spec, tp.identity);
					return 1;
				}
				if (!hand_over(nl, fds, n, insecure,
					       insecure ? spec : tp.name,
					       insecure ? NULL : tp.identity,
					       timeout_ms, true, &id)) {
					fprintf(stderr, "hbx: peer connect: peer %u reconnected\n", id);
					break;
				}
				if (strstr(hbx_nl_error(nl), "no peer with that id"))
					return 0;	/* deleted: nothing to keep up */
			}
			usleep(backoff_ms * 1000);
		}
	}
	return 0;
}

static int peer_connect_main(int argc, char **argv)
{
	static const char usage[] =
		"peer connect HOST:PORT (--cert C --key K --ca CA [--crl F | --no-crl] --name SERVER"
		" [--cipher aes256|aes128|chacha] | --insecure) [--connections N]"
		" [--timeout-ms MS | --timeout DURATION] [--persist]";
	static const struct option opts[] = {
		{ "cert", required_argument, NULL, 'c' },
		{ "key", required_argument, NULL, 'k' },
		{ "ca", required_argument, NULL, 'a' },
		{ "crl", required_argument, NULL, 'r' },
		{ "no-crl", no_argument, NULL, 'R' },
		{ "name", required_argument, NULL, 'n' },
		{ "cipher", required_argument, NULL, 'C' },
		{ "insecure", no_argument, NULL, 'I' },
		{ "connections", required_argument, NULL, 'N' },
		{ "timeout-ms", required_argument, NULL, 't' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "persist", no_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 }
	};
	struct hbx_tls_config cfg = { .timeout_ms = 10000 };
	struct hbx_tls_peer tp = { .name = "" };
	struct hbx_nl *events = NULL;
	bool keep = false;
	int fds[HBX_PEER_SOCKETS_MAX], c, err = 1;
	uint32_t timeout_ms = 30000, id = 0, n = 1;
	bool insecure = false;
	struct hbx_nl *nl;
	char why[256];

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'c': cfg.cert_file = optarg; break;
		case 'k': cfg.key_file = optarg; break;
		case 'a': cfg.ca_file = optarg; break;
		case 'r': cfg.crl_file = optarg; break;
		case 'R': cfg.no_crl = true; break;
		case 'n': cfg.expected_name = optarg; break;
		case 'I': insecure = true; break;
		case 'N':
			if (hbx_arg_u32("--connections", optarg, 1, HBX_PEER_SOCKETS_MAX, &n))
				return 2;
			break;
		case 't':
		case 'T':
			if (hbx_arg_timeout(c == 't' ? "--timeout-ms" : "--timeout", optarg,
					    &timeout_ms))
				return 2;
			break;
		case 'p': keep = true; break;
		case 'C':
			cfg.cipher = hbx_tls_cipher_parse(optarg);
			if (cfg.cipher < 0)
				return hbx_usage(usage);
			break;
		default:
			return hbx_usage(usage);
		}
	}
	if (optind != argc - 1 ||
	    (!insecure && (!cfg.cert_file || !cfg.key_file || !cfg.ca_file ||
			   !cfg.expected_name)))
		return hbx_usage(usage);
	if (hbx_tcp_spec_check(argv[optind], false, why, sizeof(why))) {
		hbx_err("%s", why);
		return 2;
	}
	nl = hbx_connect();
	if (!nl)
		return 1;
	/* Listen before the peer exists, so no PEER_DOWN can slip by. */
	if (keep && (hbx_nl_open(&events) || hbx_nl_subscribe(events))) {
		hbx_err("%s", events ? hbx_nl_error(events) : "out of memory");
		goto out;
	}
	if (connect_all(argv[optind], &cfg, insecure, fds, n, &tp))
		goto out;
	err = hand_over(nl, fds, n, insecure, insecure ? argv[optind] : tp.name,
			insecure ? NULL : tp.identity, timeout_ms, false, &id);
	if (err)
		goto out;
	printf("%u\n", id);
	fflush(stdout);
	if (keep)
		err = persist(events, nl, argv[optind], &cfg, insecure, n, &tp,
			      timeout_ms, id);
out:
	hbx_nl_close(events);
	hbx_nl_close(nl);
	return err ? 1 : 0;
}

static const struct hbx_subcommand peer_subcommands[] = {
	{ "connect",	peer_connect_main, "connect to a server: mutual TLS, kTLS sockets to the module" },
	{ "list",	peer_list_main,	"list peers and their counters" },
	{ "del",	peer_del_main,	"close a peer's sockets" },
	{ NULL, NULL, NULL }
};

int peer_main(int argc, char **argv)
{
	return hbx_dispatch(peer_subcommands, "peer", argc - 1, argv + 1);
}
