// SPDX-License-Identifier: GPL-2.0
/*
 * ktls_stream: the link's ceiling for make bench.  After the same mutual-TLS
 * handshake and kTLS install as hbx (libhbx's tls), the server sendfile()s a
 * file through kTLS and the client reads it to the end.
 *   ktls_stream server PORT FILE  --ca --cert --key [--cipher C]
 *   ktls_stream client HOST:PORT  --ca --cert --key --name N [--cipher C]
 * The client prints {"bytes":..,"seconds":..,"mb_per_s":..}.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "net.h"
#include "tls.h"

static void die(const char *what, const char *why)
{
	fprintf(stderr, "ktls_stream: %s: %s\n", what, why);
	exit(1);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "ca", required_argument, NULL, 'a' },
		{ "cert", required_argument, NULL, 'c' },
		{ "key", required_argument, NULL, 'k' },
		{ "name", required_argument, NULL, 'n' },
		{ "cipher", required_argument, NULL, 'C' },
		{ NULL, 0, NULL, 0 }
	};
	struct hbx_tls_config cfg = { .timeout_ms = 10000 };
	char why[256], port[300], buf[1 << 16];
	unsigned long long bytes = 0;
	double start;
	int c, fd;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'a': cfg.ca_file = optarg; break;
		case 'c': cfg.cert_file = optarg; break;
		case 'k': cfg.key_file = optarg; break;
		case 'n': cfg.expected_name = optarg; break;
		case 'C': cfg.cipher = hbx_tls_cipher_parse(optarg); break;
		default: return 2;
		}
	}
	if (argc - optind >= 3 && !strcmp(argv[optind], "server")) {
		struct stat st;
		int l, file = open(argv[optind + 2], O_RDONLY);

		snprintf(port, sizeof(port), "0.0.0.0:%s", argv[optind + 1]);
		l = hbx_tcp_listen(port, why, sizeof(why));
		if (l < 0 || file < 0 || fstat(file, &st))
			die("server", l < 0 ? why : strerror(errno));
		printf("listening\n");
		fflush(stdout);
		fd = accept(l, NULL, NULL);
		if (fd < 0 || hbx_tls_server(fd, &cfg, NULL, why, sizeof(why)))
			die("handshake", fd < 0 ? strerror(errno) : why);
		for (off_t off = 0; off < st.st_size;)
			if (sendfile(fd, file, &off, st.st_size - off) <= 0)
				die("sendfile", strerror(errno));
		close(fd);
		return 0;
	}
	if (argc - optind != 2 || strcmp(argv[optind], "client"))
		die("usage", "ktls_stream server PORT FILE | client HOST:PORT, with TLS options");
	fd = hbx_tcp_connect(argv[optind + 1], why, sizeof(why));
	if (fd < 0 || hbx_tls_client(fd, &cfg, NULL, why, sizeof(why)))
		die("client", why);
	start = now();
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n < 0)
			die("read", strerror(errno));
		if (!n)
			break;
		bytes += n;
	}
	printf("{\"bytes\":%llu,\"seconds\":%.6f,\"mb_per_s\":%.2f}\n", bytes,
	       now() - start, bytes / (now() - start) / 1e6);
	return 0;
}
