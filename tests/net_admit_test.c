// SPDX-License-Identifier: GPL-2.0
/*
 * Host-side tests of hbx serve's admission of handshakes (net_admit): the
 * global bound, the per-source limit, what a source is, thread safety.
 * selftests/serve_flood_test.sh runs hbx serve itself against idle
 * connections.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include "kselftest_harness.h"
#include "net_admit.h"

static struct sockaddr_storage addr(const char *ip)
{
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in *in = (void *)&ss;
	struct sockaddr_in6 *in6 = (void *)&ss;

	if (inet_pton(AF_INET, ip, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
	} else {
		in6->sin6_family = AF_INET6;
		inet_pton(AF_INET6, ip, &in6->sin6_addr);
	}
	return ss;
}

#define SA(ss) ((struct sockaddr *)&(ss))

TEST(admit_bounds_each_source_and_the_total)
{
	struct sockaddr_storage a = addr("10.0.0.1"), b = addr("10.0.0.2"),
				c = addr("10.0.0.3");
	struct hbx_admit ad;

	ASSERT_EQ(0, hbx_admit_init(&ad, 5, 2));
	EXPECT_EQ(0, hbx_admit_enter(&ad, SA(a)));
	EXPECT_EQ(0, hbx_admit_enter(&ad, SA(a)));
	EXPECT_EQ(-EMLINK, hbx_admit_enter(&ad, SA(a)));
	EXPECT_EQ(0, hbx_admit_enter(&ad, SA(b)));
	EXPECT_EQ(0, hbx_admit_enter(&ad, SA(b)));
	EXPECT_EQ(0, hbx_admit_enter(&ad, SA(c)));
	EXPECT_EQ(-EBUSY, hbx_admit_enter(&ad, SA(c)));
	hbx_admit_leave(&ad, SA(a));
	EXPECT_EQ(1, hbx_admit_count(&ad, SA(a)));
	EXPECT_EQ(0, hbx_admit_enter(&ad, SA(c)));
	EXPECT_EQ(2, hbx_admit_count(&ad, SA(c)));
	hbx_admit_free(&ad);
	EXPECT_EQ(-EINVAL, hbx_admit_init(&ad, 0, 1));
}

TEST(admit_counts_an_ipv6_slash_64_and_a_mapped_ipv4_as_one_source)
{
	struct sockaddr_storage x = addr("fd00::1"), y = addr("fd00::ffff:2"),
				z = addr("fd00:0:0:1::1"), v4 = addr("192.0.2.7"),
				mapped = addr("::ffff:192.0.2.7");
	struct hbx_admit ad;

	ASSERT_EQ(0, hbx_admit_init(&ad, 16, 1));
	EXPECT_EQ(0, hbx_admit_enter(&ad, SA(x)));
	EXPECT_EQ(-EMLINK, hbx_admit_enter(&ad, SA(y)));
	EXPECT_EQ(0, hbx_admit_enter(&ad, SA(z)));
	EXPECT_EQ(0, hbx_admit_enter(&ad, SA(v4)));
	EXPECT_EQ(-EMLINK, hbx_admit_enter(&ad, SA(mapped)));
	hbx_admit_leave(&ad, SA(mapped));
	EXPECT_EQ(0, hbx_admit_count(&ad, SA(v4)));
	hbx_admit_free(&ad);
}

TEST(admit_wait_idle_returns_when_the_last_slot_is_given_back)
{
	struct sockaddr_storage a = addr("10.0.0.1");
	struct hbx_admit ad;

	ASSERT_EQ(0, hbx_admit_init(&ad, 2, 2));
	EXPECT_TRUE(hbx_admit_wait_idle(&ad, 0));
	ASSERT_EQ(0, hbx_admit_enter(&ad, SA(a)));
	EXPECT_FALSE(hbx_admit_wait_idle(&ad, 50));
	hbx_admit_leave(&ad, SA(a));
	EXPECT_TRUE(hbx_admit_wait_idle(&ad, 50));
	hbx_admit_free(&ad);
}

enum { THREADS = 8, ROUNDS = 20000 };
static struct hbx_admit shared;

static void *enter_and_leave(void *arg)
{
	struct sockaddr *sa = arg;

	for (int r = 0; r < ROUNDS; r++)
		if (!hbx_admit_enter(&shared, sa))
			hbx_admit_leave(&shared, sa);
	return NULL;
}

TEST(admit_holds_up_under_threads)
{
	static struct sockaddr_storage src[THREADS];
	struct hbx_admit *ad = &shared;
	pthread_t th[THREADS];

	ASSERT_EQ(0, hbx_admit_init(ad, 4, 1));
	for (long i = 0; i < THREADS; i++) {
		char ip[32];

		snprintf(ip, sizeof(ip), "10.1.0.%ld", i % 3);
		src[i] = addr(ip);
	}
	for (int i = 0; i < THREADS; i++)
		ASSERT_EQ(0, pthread_create(&th[i], NULL, enter_and_leave, &src[i]));
	for (int i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	EXPECT_EQ(0, ad->total);
	for (int i = 0; i < 3; i++)
		EXPECT_EQ(0, hbx_admit_count(ad, SA(src[i])));
	hbx_admit_free(ad);
}

TEST_HARNESS_MAIN
