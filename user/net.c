// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "net.h"

static int resolve(const char *spec, int passive, struct addrinfo **ai,
		   char *why, size_t whylen)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = passive ? AI_PASSIVE : 0 };
	const char *colon = strrchr(spec, ':');
	char host[256];
	size_t n;
	int err;

	if (!colon || colon == spec || !colon[1]) {
		snprintf(why, whylen, "'%s' is not HOST:PORT", spec);
		return -1;
	}
	n = colon - spec;
	if (spec[0] == '[' && n >= 2 && spec[n - 1] == ']')
		spec++, n -= 2;
	snprintf(host, sizeof(host), "%.*s", (int)n, spec);
	err = getaddrinfo(host, colon + 1, &hints, ai);
	if (err)
		snprintf(why, whylen, "cannot resolve %s: %s", host, gai_strerror(err));
	return err ? -1 : 0;
}

/*
 * Every address the name resolves to, in getaddrinfo()'s order: "localhost"
 * is ::1 and 127.0.0.1, and a server may listen on only one of them.
 */
int hbx_tcp_connect(const char *spec, char *why, size_t whylen)
{
	struct addrinfo *ai, *a;
	int fd = -1, err = 0;

	if (resolve(spec, 0, &ai, why, whylen))
		return -1;
	for (a = ai; a && fd < 0; a = a->ai_next) {
		fd = socket(a->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			err = errno;
			continue;
		}
		if (!connect(fd, a->ai_addr, a->ai_addrlen))
			break;
		err = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	if (fd < 0)
		snprintf(why, whylen, "cannot connect to %s: %s", spec,
			 strerror(err ? err : EADDRNOTAVAIL));
	return fd;
}

int hbx_tcp_listen(const char *spec, char *why, size_t whylen)
{
	struct addrinfo *ai;
	int fd, one = 1;

	if (resolve(spec, 1, &ai, why, whylen))
		return -1;
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, 64)) {
		snprintf(why, whylen, "cannot listen on %s: %s", spec, strerror(errno));
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	return fd;
}
