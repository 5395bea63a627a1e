// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "net.h"
#include "num.h"

/*
 * spec split into host (without [ ]) and port; -1 with why if malformed.
 * The port is the text after the last colon, so "::1:7000" still works as
 * it always did, though "[::1]:7000" is the documented way.
 */
static int split(const char *spec, bool listen, char *host, size_t hostlen,
		 uint16_t *port, char *why, size_t whylen)
{
	/* Port 0 to listen on: the kernel picks one (tests use that). */
	const struct hbx_num port_num = { HBX_NUM_COUNT, listen ? 0 : 1, 65535, 0 };
	const char *colon = strrchr(spec, ':');
	char bad[160];
	uint64_t v;
	size_t n;
	int err;

	if (!colon || !colon[1] || (colon == spec && !listen)) {
		snprintf(why, whylen, "'%s' is not %s", spec,
			 listen ? "HOST:PORT or :PORT" : "HOST:PORT");
		return -1;
	}
	err = hbx_num_parse(colon + 1, &port_num, &v);
	if (err) {
		hbx_num_explain(err, "the port", colon + 1, &port_num, bad, sizeof(bad));
		snprintf(why, whylen, "'%s': %s", spec, bad);
		return -1;
	}
	n = colon - spec;
	if (spec[0] == '[' && n >= 2 && spec[n - 1] == ']')
		spec++, n -= 2;
	if (n >= hostlen) {
		snprintf(why, whylen, "'%s': the host name is too long", spec);
		return -1;
	}
	snprintf(host, hostlen, "%.*s", (int)n, spec);
	*port = v;
	return 0;
}

int hbx_tcp_spec_check(const char *spec, bool listen, char *why, size_t whylen)
{
	char host[256];
	uint16_t port;

	return split(spec, listen, host, sizeof(host), &port, why, whylen);
}

static int resolve(const char *spec, bool passive, struct addrinfo **ai,
		   char *why, size_t whylen)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0) };
	char host[256], service[8];
	uint16_t port;
	int err;

	if (split(spec, passive, host, sizeof(host), &port, why, whylen))
		return -1;
	snprintf(service, sizeof(service), "%u", port);
	err = getaddrinfo(host, service, &hints, ai);
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

	if (resolve(spec, false, &ai, why, whylen))
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

/* socket, SO_REUSEADDR, bind, listen: the fd, or -1 with errno set. */
static int listen_on(const struct sockaddr *sa, socklen_t len, bool dual_stack)
{
	int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1, zero = 0, e;

	if (fd < 0)
		return -1;
	/* Dual stack whatever net.ipv6.bindv6only says: IPv4 arrives as ::ffff:a.b.c.d. */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    (dual_stack && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero))) ||
	    bind(fd, sa, len) || listen(fd, 64)) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/*
 * ":PORT": every address.  One IPv6 socket with IPV6_V6ONLY off takes IPv4
 * too; where the host has no IPv6 (the module not loaded, ipv6.disable=1,
 * or no address for it), 0.0.0.0 alone.
 */
static int listen_any(const char *spec, uint16_t port, char *why, size_t whylen)
{
	struct sockaddr_in6 in6 = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_ANY_INIT };
	struct sockaddr_in in = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_ANY) };
	int fd;

	in6.sin6_port = in.sin_port = htons(port);
	fd = listen_on((struct sockaddr *)&in6, sizeof(in6), true);
	if (fd < 0 && (errno == EAFNOSUPPORT || errno == EADDRNOTAVAIL ||
		       errno == EPROTONOSUPPORT))
		fd = listen_on((struct sockaddr *)&in, sizeof(in), false);
	if (fd < 0)
		snprintf(why, whylen, "cannot listen on %s: %s", spec, strerror(errno));
	return fd;
}

int hbx_tcp_listen(const char *spec, char *why, size_t whylen)
{
	struct addrinfo *ai;
	char host[256];
	uint16_t port;
	int fd;

	if (split(spec, true, host, sizeof(host), &port, why, whylen))
		return -1;
	if (!*host)
		return listen_any(spec, port, why, whylen);
	if (resolve(spec, true, &ai, why, whylen))
		return -1;
	fd = listen_on(ai->ai_addr, ai->ai_addrlen, false);
	if (fd < 0)
		snprintf(why, whylen, "cannot listen on %s: %s", spec, strerror(errno));
	freeaddrinfo(ai);
	return fd;
}
