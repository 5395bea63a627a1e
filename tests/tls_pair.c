// SPDX-License-Identifier: GPL-2.0
/*
 * tls_pair: a test helper for libhbx's TLS + kTLS handoff, not part of hbx.
 *
 *   tls_pair server PORT   [options]   accept one connection, echo reversed
 *   tls_pair client HOST:PORT [options] send, check the reversed echo
 *
 * After hbx_tls_server()/hbx_tls_client() the data moves with plain read()
 * and write(): the kernel encrypts and decrypts.  The client speaks first:
 * an 8-byte big-endian length, then that many bytes; the server sends them
 * back reversed.  Both check with getsockopt(SOL_TLS) that kTLS is on for
 * both directions.  A handshake failure prints "tls_pair: ROLE: <why>" and
 * exits 1; bad usage exits 2.
 */
#include <endian.h>
#include <errno.h>
#include <stdarg.h>
#include <getopt.h>
#include <netdb.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <linux/tls.h>
#include "tls.h"

#ifndef SOL_TLS
#define SOL_TLS 282
#endif

static const char *role = "tls_pair";

__attribute__((format(printf, 1, 2), noreturn))
static void die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "tls_pair: %s: ", role);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void usage(void)
{
	fprintf(stderr,
		"usage: tls_pair server PORT [--ready FILE] OPTIONS\n"
		"       tls_pair client HOST:PORT --name NAME [--size BYTES] OPTIONS\n"
		"options: --ca FILE --cert FILE --key FILE [--crl FILE | --no-crl]\n"
		"         [--cipher aes128|aes256|chacha] [--timeout MS]\n");
	exit(2);
}

static void write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	ssize_t n;

	while (len) {
		n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			die("write: %s", n ? strerror(errno) : "wrote nothing");
		p += n;
		len -= n;
	}
}

static void read_all(int fd, void *buf, size_t len)
{
	char *p = buf;
	ssize_t n;

	while (len) {
		n = read(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("read: %s", strerror(errno));
		if (n == 0)
			die("read: the peer closed the connection");
		p += n;
		len -= n;
	}
}

/* Is kTLS on for dir with cipher?  Returns the kernel's next sequence number. */
static uint64_t ktls_check(int fd, int dir, int cipher)
{
	static const int types[] = {
		[HBX_TLS_AES_256_GCM] = TLS_CIPHER_AES_GCM_256,
		[HBX_TLS_AES_128_GCM] = TLS_CIPHER_AES_GCM_128,
		[HBX_TLS_CHACHA20_POLY1305] = TLS_CIPHER_CHACHA20_POLY1305,
	};
	union {
		struct tls_crypto_info				info;
		struct tls12_crypto_info_aes_gcm_128		gcm128;
		struct tls12_crypto_info_aes_gcm_256		gcm256;
		struct tls12_crypto_info_chacha20_poly1305	chacha;
	} ci;
	const char *name = dir == TLS_TX ? "TX" : "RX";
	const unsigned char *seq;
	socklen_t len;
	uint64_t v;

	/* The kernel wants exactly the size of the cipher's structure. */
	switch (cipher) {
	case HBX_TLS_AES_128_GCM:
		len = sizeof(ci.gcm128);
		seq = ci.gcm128.rec_seq;
		break;
	case HBX_TLS_AES_256_GCM:
		len = sizeof(ci.gcm256);
		seq = ci.gcm256.rec_seq;
		break;
	default:
		len = sizeof(ci.chacha);
		seq = ci.chacha.rec_seq;
	}
	if (getsockopt(fd, SOL_TLS, dir, &ci, &len))
		die("kTLS %s is not installed: getsockopt: %s", name,
		    strerror(errno));
	if (ci.info.version != TLS_1_2_VERSION ||
	    ci.info.cipher_type != types[cipher])
		die("kTLS %s is version 0x%x cipher %u, not TLS 1.2 with %s",
		    name, ci.info.version, ci.info.cipher_type,
		    hbx_tls_cipher_name(cipher));
	memcpy(&v, seq, sizeof(v));
	explicit_bzero(&ci, sizeof(ci));
	return be64toh(v);
}

static void report(int fd, const struct hbx_tls_peer *peer)
{
	uint64_t tx = ktls_check(fd, TLS_TX, peer->cipher);
	uint64_t rx = ktls_check(fd, TLS_RX, peer->cipher);

	printf("%s: peer %s %s\n", role, peer->name, peer->identity);
	printf("%s: ktls tx %s seq %llu, rx %s seq %llu\n", role,
	       hbx_tls_cipher_name(peer->cipher), (unsigned long long)tx,
	       hbx_tls_cipher_name(peer->cipher), (unsigned long long)rx);
	fflush(stdout);
}

static int run_server(const char *port, const char *ready,
		      const struct hbx_tls_config *cfg)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t slen = sizeof(sin);
	struct hbx_tls_peer peer;
	char why[256], tmp[4096];
	uint64_t hdr;
	size_t len;
	char *buf;
	int one = 1, ls, fd, ret;
	FILE *f;

	char *end;
	unsigned long pnum = strtoul(port, &end, 10);

	if (*end || pnum > 65535)
		usage();
	sin.sin_port = htons((uint16_t)pnum);
	sin.sin_addr.s_addr = htonl(INADDR_ANY);
	ls = socket(AF_INET, SOCK_STREAM, 0);
	if (ls < 0 || setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(ls, (struct sockaddr *)&sin, sizeof(sin)) || listen(ls, 4) ||
	    getsockname(ls, (struct sockaddr *)&sin, &slen))
		die("cannot listen on port %s: %s", port, strerror(errno));
	if (ready) {
		/* Written once listening, renamed into place: poll for it. */
		snprintf(tmp, sizeof(tmp), "%s.tmp", ready);
		f = fopen(tmp, "w");
		if (!f || fprintf(f, "%u\n", ntohs(sin.sin_port)) < 0 ||
		    fclose(f) || rename(tmp, ready))
			die("cannot write %s: %s", ready, strerror(errno));
	}
	fd = accept(ls, NULL, NULL);
	if (fd < 0)
		die("accept: %s", strerror(errno));
	close(ls);

	ret = hbx_tls_server(fd, cfg, &peer, why, sizeof(why));
	if (ret)
		die("%s", why);
	report(fd, &peer);

	read_all(fd, &hdr, sizeof(hdr));
	len = be64toh(hdr);
	if (len > (1u << 30))
		die("the client announced %zu bytes", len);
	buf = malloc(len + 1);
	if (!buf)
		die("out of memory");
	read_all(fd, buf, len);
	for (size_t i = 0; i < len / 2; i++) {
		char c = buf[i];

		buf[i] = buf[len - 1 - i];
		buf[len - 1 - i] = c;
	}
	write_all(fd, buf, len);
	printf("%s: echoed %zu bytes reversed\n", role, len);
	free(buf);
	close(fd);
	return 0;
}

static int connect_to(const char *target)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *ai;
	char host[256];
	const char *colon = strrchr(target, ':');
	int fd = -1, ret;

	if (!colon || colon == target || (size_t)(colon - target) >= sizeof(host))
		usage();
	memcpy(host, target, colon - target);
	host[colon - target] = '\0';
	ret = getaddrinfo(host, colon + 1, &hints, &res);
	if (ret)
		die("%s: %s", target, gai_strerror(ret));
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
		if (fd < 0)
			continue;
		if (!connect(fd, ai->ai_addr, ai->ai_addrlen))
			break;
		close(fd);
		fd = -1;
	}
	if (fd < 0)
		die("cannot connect to %s: %s", target, strerror(errno));
	freeaddrinfo(res);
	return fd;
}

static int run_client(const char *target, size_t size,
		      const struct hbx_tls_config *cfg)
{
	struct hbx_tls_peer peer;
	uint64_t hdr = htobe64(size), x = 0x9e3779b97f4a7c15ull;
	unsigned char *out, *back;
	char why[256];
	int fd, ret;

	fd = connect_to(target);
	ret = hbx_tls_client(fd, cfg, &peer, why, sizeof(why));
	if (ret)
		die("%s", why);
	report(fd, &peer);

	out = malloc(size + 1);
	back = malloc(size + 1);
	if (!out || !back)
		die("out of memory");
	for (size_t i = 0; i < size; i++) {	/* xorshift64 */
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		out[i] = (unsigned char)x;
	}
	write_all(fd, &hdr, sizeof(hdr));
	write_all(fd, out, size);
	read_all(fd, back, size);
	for (size_t i = 0; i < size; i++)
		if (back[i] != out[size - 1 - i])
			die("the echo differs at byte %zu of %zu", i, size);
	printf("%s: %zu bytes each way, echo matches; ktls tx seq %llu, rx seq %llu\n",
	       role, size,
	       (unsigned long long)ktls_check(fd, TLS_TX, peer.cipher),
	       (unsigned long long)ktls_check(fd, TLS_RX, peer.cipher));
	free(out);
	free(back);
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "ca",		required_argument, NULL, 'a' },
		{ "cert",	required_argument, NULL, 'c' },
		{ "key",	required_argument, NULL, 'k' },
		{ "crl",	required_argument, NULL, 'r' },
		{ "no-crl",	no_argument, NULL, 'N' },
		{ "name",	required_argument, NULL, 'n' },
		{ "cipher",	required_argument, NULL, 'C' },
		{ "timeout",	required_argument, NULL, 't' },
		{ "size",	required_argument, NULL, 's' },
		{ "ready",	required_argument, NULL, 'R' },
		{ NULL, 0, NULL, 0 }
	};
	struct hbx_tls_config cfg = { .cipher = HBX_TLS_AES_256_GCM };
	const char *ready = NULL;
	size_t size = 150000;	/* > 100 KB, ten 16 KiB records, not a multiple */
	int c;

	if (argc < 3)
		usage();
	role = argv[1];
	if (strcmp(role, "server") && strcmp(role, "client"))
		usage();
	optind = 3;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'a': cfg.ca_file = optarg; break;
		case 'c': cfg.cert_file = optarg; break;
		case 'k': cfg.key_file = optarg; break;
		case 'r': cfg.crl_file = optarg; break;
		case 'N': cfg.no_crl = true; break;
		case 'n': cfg.expected_name = optarg; break;
		case 't': cfg.timeout_ms = atoi(optarg); break;
		case 's': size = strtoul(optarg, NULL, 0); break;
		case 'R': ready = optarg; break;
		case 'C':
			cfg.cipher = hbx_tls_cipher_parse(optarg);
			if (cfg.cipher < 0)
				usage();
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	if (!strcmp(role, "server"))
		return run_server(argv[2], ready, &cfg);
	return run_client(argv[2], size, &cfg);
}
