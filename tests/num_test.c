// SPDX-License-Identifier: GPL-2.0
/* Host unit tests of user/num.c: the strict parser of hbx's number options. */
#include <stdint.h>
#include <string.h>
#include "kselftest_harness.h"
#include "num.h"

static const struct hbx_num window = { HBX_NUM_COUNT, 1, 32, 0 };
static const struct hbx_num u64 = { HBX_NUM_COUNT, 0, UINT64_MAX, 0 };
static const struct hbx_num chunk = { HBX_NUM_SIZE, 4096, 4 << 20, 0 };
static const struct hbx_num anysize = { HBX_NUM_SIZE, 0, UINT64_MAX, 0 };
static const struct hbx_num timeout = { HBX_NUM_DURATION, 0, 3600000, 1000 };
static const struct hbx_num millis = { HBX_NUM_DURATION, 0, UINT64_MAX, 1 };

/* The parse of s, with *v poisoned first so a stale value shows. */
static int parse(const char *s, const struct hbx_num *n, uint64_t *v)
{
	*v = 0xdeadbeef;
	return hbx_num_parse(s, n, v);
}

TEST(count_takes_plain_decimal_digits_only)
{
	uint64_t v;

	EXPECT_EQ(HBX_NUM_OK, parse("7", &window, &v));
	EXPECT_EQ(7, v);
	EXPECT_EQ(HBX_NUM_OK, parse("032", &window, &v));	/* decimal, not octal */
	EXPECT_EQ(32, v);
	EXPECT_EQ(HBX_NUM_OK, parse("18446744073709551615", &u64, &v));
	EXPECT_EQ(UINT64_MAX, v);
	EXPECT_EQ(HBX_NUM_EMPTY, parse("", &window, &v));
	EXPECT_EQ(HBX_NUM_NOT_NUMBER, parse("abc", &window, &v));
	EXPECT_EQ(HBX_NUM_NOT_NUMBER, parse("2x", &window, &v));
	EXPECT_EQ(HBX_NUM_NOT_NUMBER, parse(" 2", &window, &v));
	EXPECT_EQ(HBX_NUM_NOT_NUMBER, parse("2 ", &window, &v));
	EXPECT_EQ(HBX_NUM_NOT_NUMBER, parse("+2", &window, &v));
	EXPECT_EQ(HBX_NUM_NOT_NUMBER, parse("0x10", &window, &v));
	EXPECT_EQ(HBX_NUM_NOT_NUMBER, parse("-", &window, &v));
	EXPECT_EQ(HBX_NUM_NOT_NUMBER, parse("5s", &window, &v));	/* no units */
	EXPECT_EQ(HBX_NUM_NOT_NUMBER, parse("4K", &window, &v));
	EXPECT_EQ(HBX_NUM_NOT_WHOLE, parse("1.5", &window, &v));
	EXPECT_EQ(HBX_NUM_NEGATIVE, parse("-1", &window, &v));
	EXPECT_EQ(HBX_NUM_NEGATIVE, parse("-0", &u64, &v));
	EXPECT_EQ(0xdeadbeef, v);	/* a refusal leaves *v alone */
}

TEST(count_range_is_checked_in_64_bits_with_overflow_caught)
{
	uint64_t v;

	EXPECT_EQ(HBX_NUM_RANGE, parse("0", &window, &v));
	EXPECT_EQ(HBX_NUM_RANGE, parse("33", &window, &v));
	/* 2^32 + 1: a u32 would have wrapped it to 1, which is in range. */
	EXPECT_EQ(HBX_NUM_RANGE, parse("4294967297", &window, &v));
	EXPECT_EQ(HBX_NUM_RANGE, parse("18446744073709551616", &u64, &v));
	EXPECT_EQ(HBX_NUM_RANGE, parse("99999999999999999999999999", &u64, &v));
	EXPECT_EQ(HBX_NUM_RANGE, parse("18446744073709551617", &window, &v));
}

TEST(size_takes_binary_units)
{
	uint64_t v;

	EXPECT_EQ(HBX_NUM_OK, parse("65536", &chunk, &v));
	EXPECT_EQ(65536, v);
	EXPECT_EQ(HBX_NUM_OK, parse("64K", &chunk, &v));
	EXPECT_EQ(65536, v);
	EXPECT_EQ(HBX_NUM_OK, parse("64k", &chunk, &v));	/* as hbx layer build took */
	EXPECT_EQ(65536, v);
	EXPECT_EQ(HBX_NUM_OK, parse("64KiB", &chunk, &v));
	EXPECT_EQ(65536, v);
	EXPECT_EQ(HBX_NUM_OK, parse("1M", &chunk, &v));
	EXPECT_EQ(1 << 20, v);
	EXPECT_EQ(HBX_NUM_OK, parse("4096B", &chunk, &v));
	EXPECT_EQ(4096, v);
	EXPECT_EQ(HBX_NUM_OK, parse("1G", &anysize, &v));
	EXPECT_EQ(1ULL << 30, v);
	EXPECT_EQ(HBX_NUM_OK, parse("2TiB", &anysize, &v));
	EXPECT_EQ(2ULL << 40, v);
	EXPECT_EQ(HBX_NUM_OK, parse("16777215T", &anysize, &v));
	EXPECT_EQ(16777215ULL << 40, v);
	EXPECT_EQ(HBX_NUM_RANGE, parse("16777216T", &anysize, &v));	/* 2^64 */
	EXPECT_EQ(HBX_NUM_RANGE, parse("8M", &chunk, &v));
	EXPECT_EQ(HBX_NUM_RANGE, parse("2K", &chunk, &v));
	EXPECT_EQ(HBX_NUM_BAD_UNIT, parse("64X", &chunk, &v));
	EXPECT_EQ(HBX_NUM_BAD_UNIT, parse("64KB", &chunk, &v));	/* ambiguous: refused */
	EXPECT_EQ(HBX_NUM_NOT_NUMBER, parse("64 K", &chunk, &v));
	EXPECT_EQ(HBX_NUM_NOT_NUMBER, parse("K", &chunk, &v));
	EXPECT_EQ(HBX_NUM_NOT_WHOLE, parse("1.5M", &chunk, &v));
	EXPECT_EQ(HBX_NUM_NEGATIVE, parse("-64K", &chunk, &v));
}

TEST(duration_takes_units_and_a_bare_number_in_the_options_unit)
{
	uint64_t v;

	EXPECT_EQ(HBX_NUM_OK, parse("30s", &timeout, &v));
	EXPECT_EQ(30000, v);
	EXPECT_EQ(HBX_NUM_OK, parse("500ms", &timeout, &v));
	EXPECT_EQ(500, v);
	EXPECT_EQ(HBX_NUM_OK, parse("2m", &timeout, &v));
	EXPECT_EQ(120000, v);
	EXPECT_EQ(HBX_NUM_OK, parse("1h", &timeout, &v));
	EXPECT_EQ(3600000, v);
	EXPECT_EQ(HBX_NUM_OK, parse("30", &timeout, &v));	/* bare: seconds here */
	EXPECT_EQ(30000, v);
	EXPECT_EQ(HBX_NUM_OK, parse("30", &millis, &v));	/* bare: ms here */
	EXPECT_EQ(30, v);
	EXPECT_EQ(HBX_NUM_OK, parse("0", &timeout, &v));
	EXPECT_EQ(0, v);
	EXPECT_EQ(HBX_NUM_OK, parse("1.5s", &timeout, &v));
	EXPECT_EQ(1500, v);
	EXPECT_EQ(HBX_NUM_OK, parse("0.3", &timeout, &v));
	EXPECT_EQ(300, v);
	EXPECT_EQ(HBX_NUM_OK, parse("0.05", &timeout, &v));
	EXPECT_EQ(50, v);
	EXPECT_EQ(HBX_NUM_OK, parse("1.500000000000000s", &timeout, &v));
	EXPECT_EQ(1500, v);
	EXPECT_EQ(HBX_NUM_OK, parse("0.25m", &timeout, &v));
	EXPECT_EQ(15000, v);
	EXPECT_EQ(HBX_NUM_TOO_FINE, parse("0.0001s", &timeout, &v));
	EXPECT_EQ(HBX_NUM_TOO_FINE, parse("1.5ms", &timeout, &v));
	EXPECT_EQ(HBX_NUM_TOO_FINE, parse("1.5", &millis, &v));
	EXPECT_EQ(HBX_NUM_TOO_FINE, parse("0.0000000001h", &timeout, &v));
	EXPECT_EQ(HBX_NUM_RANGE, parse("61m", &timeout, &v));
	EXPECT_EQ(HBX_NUM_RANGE, parse("3600001ms", &timeout, &v));
	EXPECT_EQ(HBX_NUM_RANGE, parse("99999999999999999h", &millis, &v));
	EXPECT_EQ(HBX_NUM_BAD_UNIT, parse("30y", &timeout, &v));
	EXPECT_EQ(HBX_NUM_BAD_UNIT, parse("2M", &timeout, &v));	/* months? minutes? */
	EXPECT_EQ(HBX_NUM_BAD_UNIT, parse("1m30s", &timeout, &v));
	EXPECT_EQ(HBX_NUM_NOT_NUMBER, parse("s", &timeout, &v));
	EXPECT_EQ(HBX_NUM_NOT_NUMBER, parse(".5s", &timeout, &v));
	EXPECT_EQ(HBX_NUM_NOT_NUMBER, parse("1.s", &timeout, &v));
	EXPECT_EQ(HBX_NUM_NEGATIVE, parse("-5s", &timeout, &v));
	EXPECT_EQ(HBX_NUM_EMPTY, parse("", &timeout, &v));
}

TEST(explain_is_one_sentence_naming_the_option_and_what_it_takes)
{
	char buf[320];
	uint64_t v;

	hbx_num_explain(parse("4294967297", &window, &v), "--window", "4294967297",
			&window, buf, sizeof(buf));
	EXPECT_STREQ("--window '4294967297' is out of range: give a whole number "
		     "from 1 to 32", buf);
	hbx_num_explain(parse("abc", &u64, &v), "--timeout-ms", "abc", &u64, buf,
			sizeof(buf));
	EXPECT_STREQ("--timeout-ms 'abc' is not a number: give a whole number of "
		     "at least 0", buf);
	hbx_num_explain(parse("64X", &chunk, &v), "--chunk-size", "64X", &chunk, buf,
			sizeof(buf));
	EXPECT_STREQ("--chunk-size '64X' has a unit hbx does not know: give a size "
		     "from 4K to 4M (bytes, or units K, M, G, T: powers of 1024)", buf);
	hbx_num_explain(parse("2h", &timeout, &v), "--timeout", "2h", &timeout, buf,
			sizeof(buf));
	EXPECT_STREQ("--timeout '2h' is out of range: give a duration from 0s to 1h "
		     "(units ms, s, m, h; a bare number is seconds)", buf);
	hbx_num_explain(parse("", &window, &v), "--window", "", &window, buf,
			sizeof(buf));
	EXPECT_STREQ("--window '' is empty: give a whole number from 1 to 32", buf);
	/* A short buffer is cut, never overrun. */
	hbx_num_explain(HBX_NUM_RANGE, "--window", "99", &window, buf, 12);
	EXPECT_EQ(11, strlen(buf));
}

TEST(format_writes_what_the_parser_reads_back)
{
	static const uint64_t sizes[] = { 0, 1, 4095, 4096, 65536, 1 << 20, 3ULL << 30,
					  1ULL << 40, UINT64_MAX };
	static const uint64_t times[] = { 0, 1, 50, 999, 1000, 1500, 60000, 90000,
					  3600000, 7200000 };
	const struct hbx_num t = { HBX_NUM_DURATION, 0, UINT64_MAX, 1000 };
	char buf[32];
	uint64_t v;
	size_t i;

	hbx_num_format(&chunk, 65536, buf, sizeof(buf));
	EXPECT_STREQ("64K", buf);
	hbx_num_format(&timeout, 90000, buf, sizeof(buf));
	EXPECT_STREQ("90s", buf);
	hbx_num_format(&timeout, 1500, buf, sizeof(buf));
	EXPECT_STREQ("1500ms", buf);
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		hbx_num_format(&anysize, sizes[i], buf, sizeof(buf));
		EXPECT_EQ(HBX_NUM_OK, parse(buf, &anysize, &v));
		EXPECT_EQ(sizes[i], v) {
			TH_LOG("%s", buf);
		}
	}
	for (i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
		hbx_num_format(&t, times[i], buf, sizeof(buf));
		EXPECT_EQ(HBX_NUM_OK, parse(buf, &t, &v));
		EXPECT_EQ(times[i], v) {
			TH_LOG("%s", buf);
		}
	}
}

TEST_HARNESS_MAIN
