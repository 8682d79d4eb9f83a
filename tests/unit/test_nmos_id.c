/* Unit tests for NMOS ids and times (node/nmos_id.c) and the registration
 * backoff (node/nmos_reg.c): SHA-1 against FIPS 180 and padding-edge
 * vectors, version 5 UUIDs against RFC 4122's (Python's uuid5 gives the
 * same), TAI strings both ways, and the backoff's bounds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/nmos_id.h"
#include "node/nmos_reg.h"

static void hex(const uint8_t *md, char *out)
{
	int i;

	for (i = 0; i < 20; i++)
		sprintf(out + 2 * i, "%02x", md[i]);
}

static void check_sha1(const void *data, size_t len, const char *want)
{
	uint8_t md[20];
	char got[41];

	nmos_sha1(data, len, md);
	hex(md, got);
	assert_string_equal(got, want);
}

static void test_nmos_sha1_matches_fips_and_padding_edges(void **state)
{
	char *a = malloc(1000000);
	char x[64];

	check_sha1("", 0, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
	check_sha1("abc", 3, "a9993e364706816aba3e25717850c26c9cd0d89d");
	check_sha1("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
		   56, "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
	/* 55, 56 and 64 bytes: the length fits, does not fit, a block */
	memset(x, 'x', sizeof(x));
	check_sha1(x, 55, "cef734ba81a024479e09eb5a75b6ddae62e6abf1");
	check_sha1(x, 56, "901305367c259952f4e7af8323f480d59f81335b");
	check_sha1(x, 64, "bb2fa3ee7afb9f54c6dfb5d021f14b1ffe40c163");
	assert_non_null(a);
	memset(a, 'a', 1000000);
	check_sha1(a, 1000000, "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
	free(a);
}

static void test_nmos_uuid5_matches_rfc4122(void **state)
{
	char id[NMOS_UUID_LEN];

	/* RFC 4122's DNS namespace, as Python's uuid.uuid5 computes it */
	assert_int_equal(nmos_uuid5_str("6ba7b810-9dad-11d1-80b4-00c04fd430c8",
					"python.org", id),
			 0);
	assert_string_equal(id, "886313e1-3b8a-5372-9b90-0c9aee199e5d");
	assert_int_equal(nmos_uuid5_str("8f0c1e5a-4d2b-4c6e-9a7f-3b1d0e2c4a68",
					"sender/main", id),
			 0);
	assert_string_equal(id, "2646f429-8c3e-560b-a07e-d4a8c1a802fc");
	assert_true(nmos_uuid_ok(id));
	assert_int_equal(nmos_uuid5_str("not-a-uuid", "x", id), -22);
}

static void test_nmos_uuid_ok_is_the_schemas_pattern(void **state)
{
	assert_true(nmos_uuid_ok("3b8be755-08ff-452b-b217-c9151eb21193"));
	/* upper case, version 0, the NCS variant, short, NULL */
	assert_false(nmos_uuid_ok("3B8BE755-08FF-452B-B217-C9151EB21193"));
	assert_false(nmos_uuid_ok("3b8be755-08ff-052b-b217-c9151eb21193"));
	assert_false(nmos_uuid_ok("3b8be755-08ff-452b-7217-c9151eb21193"));
	assert_false(nmos_uuid_ok("3b8be755-08ff-452b-b217-c9151eb2119"));
	assert_false(nmos_uuid_ok(NULL));
}

static void test_nmos_tai_both_ways(void **state)
{
	char t[NMOS_TAI_LEN];
	uint64_t ns;

	nmos_tai_str(1439299836000000010ull, t);
	assert_string_equal(t, "1439299836:10");
	assert_int_equal(nmos_tai_parse("1439299836:10", &ns), 0);
	assert_true(ns == 1439299836000000010ull);
	assert_int_equal(nmos_tai_parse("0:999999999", &ns), 0);
	assert_true(ns == 999999999ull);
	/* a fraction, ns over a second, signs, spaces, a missing part */
	assert_int_equal(nmos_tai_parse("1.5", &ns), -22);
	assert_int_equal(nmos_tai_parse("1:1000000000", &ns), -22);
	assert_int_equal(nmos_tai_parse("-1:0", &ns), -22);
	assert_int_equal(nmos_tai_parse("1: 0", &ns), -22);
	assert_int_equal(nmos_tai_parse("1:", &ns), -22);
	assert_int_equal(nmos_tai_parse("99999999999999:0", &ns), -22);
	/* past 64 bits of nanoseconds: refused, not wrapped into the past
	 * (an activation "scheduled" for it ran at once) */
	assert_int_equal(nmos_tai_parse("20000000000:0", &ns), -22);
	assert_int_equal(nmos_tai_parse("18446744073:709551616", &ns), -22);
	assert_int_equal(nmos_tai_parse("18446744073:0", &ns), -22);
	assert_int_equal(nmos_tai_parse("18446744072:999999999", &ns), 0);
	assert_true(ns == 18446744072999999999ull);
}

#define S 1000000000ull

static void test_nmos_backoff_is_full_jitter_under_a_doubling_cap(void **state)
{
	unsigned int n;

	/* the bound doubles from 1 s to the 30 s cap */
	assert_true(nmos_backoff_ns(0, 0, S, 30 * S, true) == S);
	assert_true(nmos_backoff_ns(1, 0, S, 30 * S, true) == 2 * S);
	assert_true(nmos_backoff_ns(4, 0, S, 30 * S, true) == 16 * S);
	assert_true(nmos_backoff_ns(5, 0, S, 30 * S, true) == 30 * S);
	assert_true(nmos_backoff_ns(200, 0, S, 30 * S, true) == 30 * S);
	/* with jitter: anywhere in [0, bound), by the draw */
	for (n = 0; n < 40; n++) {
		uint64_t b = nmos_backoff_ns(n, 0, S, 30 * S, true);

		assert_true(nmos_backoff_ns(n, 0.0, S, 30 * S, false) == 0);
		assert_true(nmos_backoff_ns(n, 0.5, S, 30 * S, false) == b / 2);
		assert_true(nmos_backoff_ns(n, 0.999999, S, 30 * S, false) < b);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_nmos_sha1_matches_fips_and_padding_edges),
	    cmocka_unit_test(test_nmos_uuid5_matches_rfc4122),
	    cmocka_unit_test(test_nmos_uuid_ok_is_the_schemas_pattern),
	    cmocka_unit_test(test_nmos_tai_both_ways),
	    cmocka_unit_test(
		test_nmos_backoff_is_full_jitter_under_a_doubling_cap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
