/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Admission of incoming connections to a bounded number of concurrent
 * handshakes: at most max_total in progress, and at most max_source from
 * one source.  A source is an IPv4 address, or an IPv6 /64 (one host is
 * routinely given a whole /64, so a per-address limit would not hold).
 * Thread-safe: hbx serve admits in its accept loop and releases from the
 * handshake threads.
 */
#ifndef HBX_NET_ADMIT_H
#define HBX_NET_ADMIT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct hbx_admit_source {
	uint8_t		key[17];	/* family, then the address or /64 */
	unsigned int	n;
};

struct hbx_admit {
	pthread_mutex_t		lock;
	pthread_cond_t		idle;		/* signalled when total drops */
	unsigned int		max_total, max_source, total;
	struct hbx_admit_source	*v;		/* max_total slots, n == 0 free */
};

/* 0, or -ENOMEM / -EINVAL (a bound of 0). */
int hbx_admit_init(struct hbx_admit *a, unsigned int max_total,
		   unsigned int max_source);
void hbx_admit_free(struct hbx_admit *a);

/*
 * Take a slot for a connection from sa: 0, or -EBUSY when max_total
 * handshakes are in progress, -EMLINK when max_source are from its source.
 */
int hbx_admit_enter(struct hbx_admit *a, const struct sockaddr *sa);
/* Give back the slot hbx_admit_enter() gave for sa. */
void hbx_admit_leave(struct hbx_admit *a, const struct sockaddr *sa);
/* How many are in progress from sa's source. */
unsigned int hbx_admit_count(struct hbx_admit *a, const struct sockaddr *sa);
/* Wait until none is in progress, at most timeout_ms; true if none is. */
bool hbx_admit_wait_idle(struct hbx_admit *a, int timeout_ms);

#endif
