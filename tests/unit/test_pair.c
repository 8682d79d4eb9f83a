/* Pairing codes (node/pair.h): one use, 5 minutes, 3 wrong tries, a new
 * code at most every 30 s. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "node/pair.h"

#define S 1000000000ull

static void test_pair_code_is_eight_digits_and_serves_once(void **state)
{
	struct pair p = {0};
	unsigned int wait = 0, left = 9;
	char shown[16];

	assert_int_equal(pair_open(&p, 100 * S, 1234567890123ull, &wait), 1);
	assert_string_equal(p.code, "67890123");
	pair_format(&p, shown, sizeof(shown));
	assert_string_equal(shown, "6789-0123");
	/* dashes and spaces as the log shows it, or typed without */
	assert_int_equal(pair_redeem(&p, 101 * S, " 6789-0123 ", &left), 0);
	assert_int_equal(pair_redeem(&p, 101 * S, "67890123", &left), -ENOENT);
}

static void test_pair_code_keeps_leading_zeros(void **state)
{
	struct pair p = {0};
	unsigned int wait, left;

	assert_int_equal(pair_open(&p, 5 * S, 42, &wait), 1);
	assert_string_equal(p.code, "00000042");
	assert_int_equal(pair_redeem(&p, 5 * S, "42", &left), -EACCES);
	assert_int_equal(left, 2);
	assert_int_equal(pair_redeem(&p, 5 * S, "0000-0042", &left), 0);
}

static void test_pair_three_wrong_tries_close_the_code(void **state)
{
	struct pair p = {0};
	unsigned int wait, left;

	assert_int_equal(pair_open(&p, 0, 11112222, &wait), 1);
	assert_int_equal(pair_redeem(&p, S, "1111-2223", &left), -EACCES);
	assert_int_equal(left, 2);
	assert_int_equal(pair_redeem(&p, S, "111122220", &left), -EACCES);
	assert_int_equal(left, 1);
	assert_int_equal(pair_redeem(&p, S, "", &left), -EACCES);
	assert_int_equal(left, 0);
	/* the right code is too late now */
	assert_int_equal(pair_redeem(&p, S, "1111-2222", &left), -ENOENT);
}

static void test_pair_code_expires_after_five_minutes(void **state)
{
	struct pair p = {0};
	unsigned int wait, left;

	assert_int_equal(pair_open(&p, 10 * S, 87654321, &wait), 1);
	assert_int_equal(pair_expires_s(&p, 10 * S), 300);
	assert_int_equal(pair_expires_s(&p, 309 * S), 1);
	assert_int_equal(pair_redeem(&p, 310 * S, "8765-4321", &left), -ENOENT);
	assert_int_equal(pair_expires_s(&p, 310 * S), 0);
}

static void test_pair_open_keeps_an_open_code_and_limits_new_ones(void **state)
{
	struct pair p = {0};
	unsigned int wait = 0, left;

	assert_int_equal(pair_open(&p, 1000 * S, 1, &wait), 1);
	/* asked again while it is open: the same code */
	assert_int_equal(pair_open(&p, 1001 * S, 2, &wait), 0);
	assert_string_equal(p.code, "00000001");
	assert_int_equal(pair_redeem(&p, 1002 * S, "00000001", &left), 0);
	/* used: a new one only 30 s after the last */
	assert_int_equal(pair_open(&p, 1010 * S, 3, &wait), -EAGAIN);
	assert_int_equal(wait, 20);
	assert_int_equal(pair_open(&p, 1030 * S, 3, &wait), 1);
	assert_string_equal(p.code, "00000003");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pair_code_is_eight_digits_and_serves_once),
	    cmocka_unit_test(test_pair_code_keeps_leading_zeros),
	    cmocka_unit_test(test_pair_three_wrong_tries_close_the_code),
	    cmocka_unit_test(test_pair_code_expires_after_five_minutes),
	    cmocka_unit_test(
		test_pair_open_keeps_an_open_code_and_limits_new_ones),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
