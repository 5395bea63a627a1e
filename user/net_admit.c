// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "net_admit.h"

int hbx_admit_init(struct hbx_admit *a, unsigned int max_total,
		   unsigned int max_source)
{
	memset(a, 0, sizeof(*a));
	if (!max_total || !max_source)
		return -EINVAL;
	a->v = calloc(max_total, sizeof(*a->v));
	if (!a->v)
		return -ENOMEM;
	a->max_total = max_total;
	a->max_source = max_source;
	pthread_mutex_init(&a->lock, NULL);
	pthread_cond_init(&a->idle, NULL);
	return 0;
}

void hbx_admit_free(struct hbx_admit *a)
{
	if (!a->v)
		return;
	pthread_cond_destroy(&a->idle);
	pthread_mutex_destroy(&a->lock);
	free(a->v);
	a->v = NULL;
}

/* An IPv4-mapped IPv6 address is its IPv4 source. */
static void source_key(const struct sockaddr *sa, uint8_t key[17])
{
	const struct sockaddr_in6 *in6 = (const void *)sa;
	const struct sockaddr_in *in = (const void *)sa;

	memset(key, 0, 17);
	if (sa->sa_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
		key[0] = AF_INET;
		memcpy(key + 1, in6->sin6_addr.s6_addr + 12, 4);
	} else if (sa->sa_family == AF_INET6) {
		key[0] = AF_INET6;
		memcpy(key + 1, in6->sin6_addr.s6_addr, 8);
	} else if (sa->sa_family == AF_INET) {
		key[0] = AF_INET;
		memcpy(key + 1, &in->sin_addr, 4);
	} else {
		key[0] = (uint8_t)sa->sa_family;	/* every other kind: one source */
	}
}

static struct hbx_admit_source *find(struct hbx_admit *a, const uint8_t key[17])
{
	for (unsigned int i = 0; i < a->max_total; i++)
		if (a->v[i].n && !memcmp(a->v[i].key, key, 17))
			return &a->v[i];
	return NULL;
}

int hbx_admit_enter(struct hbx_admit *a, const struct sockaddr *sa)
{
	struct hbx_admit_source *s;
	uint8_t key[17];
	int ret = 0;

	source_key(sa, key);
	pthread_mutex_lock(&a->lock);
	s = find(a, key);
	if (a->total >= a->max_total) {
		ret = -EBUSY;
	} else if (s && s->n >= a->max_source) {
		ret = -EMLINK;
	} else {
		/* total < max_total, so a free slot exists for a new source. */
		for (unsigned int i = 0; !s && i < a->max_total; i++)
			if (!a->v[i].n) {
				s = &a->v[i];
				memcpy(s->key, key, 17);
			}
		s->n++;
		a->total++;
	}
	pthread_mutex_unlock(&a->lock);
	return ret;
}

void hbx_admit_leave(struct hbx_admit *a, const struct sockaddr *sa)
{
	struct hbx_admit_source *s;
	uint8_t key[17];

	source_key(sa, key);
	pthread_mutex_lock(&a->lock);
	s = find(a, key);
	if (s) {
		s->n--;
		a->total--;
		if (!a->total)
			pthread_cond_broadcast(&a->idle);
	}
	pthread_mutex_unlock(&a->lock);
}

unsigned int hbx_admit_count(struct hbx_admit *a, const struct sockaddr *sa)
{
	struct hbx_admit_source *s;
	uint8_t key[17];
	unsigned int n;

	source_key(sa, key);
	pthread_mutex_lock(&a->lock);
	s = find(a, key);
	n = s ? s->n : 0;
	pthread_mutex_unlock(&a->lock);
	return n;
}

bool hbx_admit_wait_idle(struct hbx_admit *a, int timeout_ms)
{
	struct timespec until;
	bool idle;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += timeout_ms / 1000;
	until.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&a->lock);
	while (a->total &&
	       pthread_cond_timedwait(&a->idle, &a->lock, &until) != ETIMEDOUT)
		;
	idle = !a->total;
	pthread_mutex_unlock(&a->lock);
	return idle;
}
