/* Unit tests for the media clock: the free-running clock against the system
 * clocks, the injected clock, and the sample <-> ns conversions (exact values,
 * rounding, and no overflow anywhere in the 64-bit time range). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>
#include <sys/timex.h>

#include "ptp/mclock.h"

static const uint32_t rates[] = {44100, 48000, 96000};

static uint64_t sys_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

static int64_t absdiff(uint64_t a, uint64_t b)
{
	return a > b ? (int64_t)(a - b) : (int64_t)(b - a);
}

/* The reference, in 128 bits: floor(ns * rate / 1e9). */
static uint64_t ref_ns_to_samples(uint64_t ns, uint32_t rate)
{
	return (uint64_t)((unsigned __int128)ns * rate / NSEC_PER_SEC);
}

/* ceil(samples * 1e9 / rate). */
static uint64_t ref_samples_to_ns(uint64_t samples, uint32_t rate)
{
	unsigned __int128 p = (unsigned __int128)samples * NSEC_PER_SEC;

	return (uint64_t)((p + rate - 1) / rate);
}

static void test_mclock_free_run_reports_free_run_without_gm(void **state)
{
	struct mclock *mc = mclock_new_free_run();
	struct mclock_status st;

	assert_non_null(mc);
	memset(&st, 0xa5, sizeof(st));
	mclock_get_status(mc, &st);
	assert_int_equal(st.state, MCLOCK_FREE_RUN);
	assert_string_equal(mclock_state_name(st.state), "free-run");
	assert_false(st.gm_valid);
	assert_int_equal(st.domain, -1);
	mclock_destroy(mc);
}

static void test_mclock_free_run_reads_tai_or_realtime_plus_37s(void **state)
{
	struct mclock *mc = mclock_new_free_run();
	struct mclock_status st;
	struct timex tx = {0};
	bool have_tai = adjtimex(&tx) >= 0 && tx.tai > 0;
	uint64_t expect, now;

	assert_non_null(mc);
	mclock_get_status(mc, &st);
	if (have_tai) {
		assert_int_equal(st.base, CLOCK_TAI);
		expect = sys_ns(CLOCK_TAI);
	} else {
		assert_int_equal(st.base, CLOCK_REALTIME);
		expect = sys_ns(CLOCK_REALTIME) + 37 * NSEC_PER_SEC;
	}
	now = mclock_now_ns(mc);
	assert_true(absdiff(now, expect) < (int64_t)NSEC_PER_SEC);
	/* Either way PTP time is TAI: ahead of UTC by the TAI offset. */
	assert_true(absdiff(now, sys_ns(CLOCK_REALTIME) +
				     (have_tai ? (uint64_t)tx.tai : 37) *
					 NSEC_PER_SEC) < (int64_t)NSEC_PER_SEC);
	mclock_destroy(mc);
}

static void test_mclock_free_run_now_is_monotonic(void **state)
{
	struct mclock *mc = mclock_new_free_run();
	uint64_t prev, now, first;
	int i;

	assert_non_null(mc);
	first = prev = mclock_now_ns(mc);
	for (i = 0; i < 100000; i++) {
		now = mclock_now_ns(mc);
		assert_true(now >= prev);
		prev = now;
	}
	/* And it is a running clock, not a constant. */
	assert_true(prev > first);
	mclock_destroy(mc);
}

static void test_mclock_free_run_sleep_until_reaches_target(void **state)
{
	struct mclock *mc = mclock_new_free_run();
	uint64_t start, target, after;

	assert_non_null(mc);
	start = mclock_now_ns(mc);
	target = start + 20 * 1000 * 1000;
	mclock_sleep_until(mc, target);
	after = mclock_now_ns(mc);
	assert_true(after >= target);
	assert_true(after - target < NSEC_PER_SEC);
	/* A time already past returns at once. */
	start = mclock_now_ns(mc);
	mclock_sleep_until(mc, start - NSEC_PER_SEC);
	assert_true(mclock_now_ns(mc) - start < 200 * 1000 * 1000);
	mclock_destroy(mc);
}

struct fake_clock {
	uint64_t now;
	unsigned int now_calls;
	uint64_t slept_to;
	unsigned int sleeps;
};

static uint64_t fake_now(void *ctx)
{
	struct fake_clock *fc = ctx;

	fc->now_calls++;
	return fc->now;
}

static void fake_sleep(void *ctx, uint64_t ptp_ns)
{
	struct fake_clock *fc = ctx;

	fc->sleeps++;
	fc->slept_to = ptp_ns;
	fc->now = ptp_ns;
}

static void test_mclock_injected_returns_injected_time(void **state)
{
	struct fake_clock fc = {.now = 1795000000ull * NSEC_PER_SEC + 17};
	struct mclock *mc = mclock_new_injected(fake_now, fake_sleep, &fc);
	struct mclock_status st;

	assert_non_null(mc);
	assert_int_equal(mclock_now_ns(mc), fc.now);
	fc.now = 5;
	assert_int_equal(mclock_now_ns(mc), 5);
	fc.now = UINT64_MAX - 1;
	assert_int_equal(mclock_now_ns(mc), UINT64_MAX - 1);
	assert_int_equal(fc.now_calls, 3);
	mclock_get_status(mc, &st);
	assert_int_equal(st.state, MCLOCK_FREE_RUN);
	assert_false(st.gm_valid);
	mclock_destroy(mc);
}

static void test_mclock_injected_sleep_calls_sleeper_with_target(void **state)
{
	struct fake_clock fc = {.now = 1000};
	struct mclock *mc = mclock_new_injected(fake_now, fake_sleep, &fc);

	assert_non_null(mc);
	mclock_sleep_until(mc, 123456789012345ull);
	assert_int_equal(fc.sleeps, 1);
	assert_int_equal(fc.slept_to, 123456789012345ull);
	assert_int_equal(mclock_now_ns(mc), 123456789012345ull);
	mclock_sleep_until(mc, 7);
	assert_int_equal(fc.sleeps, 2);
	assert_int_equal(fc.slept_to, 7);
	mclock_destroy(mc);
}

static void test_mclock_injected_without_sleeper_returns_at_once(void **state)
{
	struct fake_clock fc = {.now = 1000};
	struct mclock *mc = mclock_new_injected(fake_now, NULL, &fc);
	uint64_t t0 = sys_ns(CLOCK_MONOTONIC);

	assert_non_null(mc);
	/* Far in the future of both the fake and the system clock. */
	mclock_sleep_until(mc, UINT64_MAX - 1);
	assert_true(sys_ns(CLOCK_MONOTONIC) - t0 < NSEC_PER_SEC);
	assert_int_equal(mclock_now_ns(mc), 1000);
	mclock_destroy(mc);
}

static void test_mclock_state_names_are_distinct(void **state)
{
	assert_string_equal(mclock_state_name(MCLOCK_FREE_RUN), "free-run");
	assert_string_equal(mclock_state_name(MCLOCK_UNLOCKED), "unlocked");
	assert_string_equal(mclock_state_name(MCLOCK_LOCKING), "locking");
	assert_string_equal(mclock_state_name(MCLOCK_LOCKED), "locked");
	assert_string_equal(mclock_state_name(MCLOCK_HOLDOVER), "holdover");
	assert_string_equal(mclock_state_name((enum mclock_state)99), "?");
}

static void test_mclock_ns_to_samples_exact_values(void **state)
{
	/* 48 kHz: a sample every 20833.33 ns. */
	assert_int_equal(mclock_ns_to_samples(0, 48000), 0);
	assert_int_equal(mclock_ns_to_samples(20833, 48000), 0);
	assert_int_equal(mclock_ns_to_samples(20834, 48000), 1);
	assert_int_equal(mclock_ns_to_samples(1000000, 48000), 48);
	assert_int_equal(mclock_ns_to_samples(NSEC_PER_SEC, 48000), 48000);
	assert_int_equal(mclock_ns_to_samples(NSEC_PER_SEC - 1, 48000), 47999);
	assert_int_equal(mclock_ns_to_samples(
			     1795000000ull * NSEC_PER_SEC + 500000000, 48000),
			 1795000000ull * 48000 + 24000);
	/* 44.1 kHz: 22675.74 ns; 1 ms is 44.1 samples. */
	assert_int_equal(mclock_ns_to_samples(22675, 44100), 0);
	assert_int_equal(mclock_ns_to_samples(22676, 44100), 1);
	assert_int_equal(mclock_ns_to_samples(1000000, 44100), 44);
	assert_int_equal(mclock_ns_to_samples(10000000, 44100), 441);
	assert_int_equal(mclock_ns_to_samples(NSEC_PER_SEC, 44100), 44100);
	/* 96 kHz: 10416.67 ns. */
	assert_int_equal(mclock_ns_to_samples(10416, 96000), 0);
	assert_int_equal(mclock_ns_to_samples(10417, 96000), 1);
	assert_int_equal(mclock_ns_to_samples(1000000, 96000), 96);
	assert_int_equal(mclock_ns_to_samples(3 * NSEC_PER_SEC, 96000), 288000);
	/* The top of the range does not overflow. */
	assert_int_equal(mclock_ns_to_samples(UINT64_MAX, 96000),
			 ref_ns_to_samples(UINT64_MAX, 96000));
	assert_int_equal(mclock_ns_to_samples(UINT64_MAX, 48000),
			 18446744073ull * 48000 + 34058);
}

static void test_mclock_samples_to_ns_exact_values(void **state)
{
	assert_int_equal(mclock_samples_to_ns(0, 48000), 0);
	assert_int_equal(mclock_samples_to_ns(1, 48000), 20834);
	assert_int_equal(mclock_samples_to_ns(3, 48000), 62500);
	assert_int_equal(mclock_samples_to_ns(48, 48000), 1000000);
	assert_int_equal(mclock_samples_to_ns(48000, 48000), NSEC_PER_SEC);
	assert_int_equal(mclock_samples_to_ns(1, 44100), 22676);
	assert_int_equal(mclock_samples_to_ns(441, 44100), 10000000);
	assert_int_equal(mclock_samples_to_ns(44100, 44100), NSEC_PER_SEC);
	assert_int_equal(mclock_samples_to_ns(1, 96000), 10417);
	assert_int_equal(mclock_samples_to_ns(3, 96000), 31250);
	assert_int_equal(mclock_samples_to_ns(96001, 96000),
			 NSEC_PER_SEC + 10417);
	assert_int_equal(
	    mclock_samples_to_ns(1795000000ull * 48000 + 24000, 48000),
	    1795000000ull * NSEC_PER_SEC + 500000000);
}

/* A spread of sample counts: small ones, and ones around 2^63 ns. */
static void check_round_trip(uint64_t s, uint32_t rate)
{
	uint64_t ns = mclock_samples_to_ns(s, rate);

	assert_int_equal(ns, ref_samples_to_ns(s, rate));
	assert_int_equal(mclock_ns_to_samples(ns, rate), s);
	/* Rounded up: ns is the first nanosecond of sample s. */
	if (s > 0)
		assert_int_equal(mclock_ns_to_samples(ns - 1, rate), s - 1);
}

static void test_mclock_samples_round_trip_through_ns(void **state)
{
	size_t r;
	uint64_t s;

	for (r = 0; r < sizeof(rates) / sizeof(rates[0]); r++) {
		uint32_t rate = rates[r];

		for (s = 0; s < 3 * rate; s++)
			check_round_trip(s, rate);
	}
}

static void test_mclock_round_trip_holds_near_2_63_ns(void **state)
{
	static const uint64_t centres[] = {
	    1ull << 63,
	    (1ull << 63) - 1,
	    1ull << 62,
	    UINT64_MAX - 2 * NSEC_PER_SEC,
	    1795000000ull * NSEC_PER_SEC,
	};
	size_t r, c;
	int64_t d;

	for (r = 0; r < sizeof(rates) / sizeof(rates[0]); r++) {
		uint32_t rate = rates[r];

		for (c = 0; c < sizeof(centres) / sizeof(centres[0]); c++) {
			uint64_t base = mclock_ns_to_samples(centres[c], rate);

			assert_int_equal(base,
					 ref_ns_to_samples(centres[c], rate));
			for (d = -20000; d <= 20000; d++)
				check_round_trip(base + (uint64_t)d, rate);
		}
	}
}

static void test_mclock_ns_to_samples_matches_exact_division(void **state)
{
	uint64_t x = 0x9e3779b97f4a7c15ull;
	size_t r;
	int i;

	for (r = 0; r < sizeof(rates) / sizeof(rates[0]); r++) {
		for (i = 0; i < 200000; i++) {
			uint64_t ns;

			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			ns = x;
			assert_int_equal(mclock_ns_to_samples(ns, rates[r]),
					 ref_ns_to_samples(ns, rates[r]));
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_mclock_free_run_reports_free_run_without_gm),
	    cmocka_unit_test(
		test_mclock_free_run_reads_tai_or_realtime_plus_37s),
	    cmocka_unit_test(test_mclock_free_run_now_is_monotonic),
	    cmocka_unit_test(test_mclock_free_run_sleep_until_reaches_target),
	    cmocka_unit_test(test_mclock_injected_returns_injected_time),
	    cmocka_unit_test(
		test_mclock_injected_sleep_calls_sleeper_with_target),
	    cmocka_unit_test(
		test_mclock_injected_without_sleeper_returns_at_once),
	    cmocka_unit_test(test_mclock_state_names_are_distinct),
	    cmocka_unit_test(test_mclock_ns_to_samples_exact_values),
	    cmocka_unit_test(test_mclock_samples_to_ns_exact_values),
	    cmocka_unit_test(test_mclock_samples_round_trip_through_ns),
	    cmocka_unit_test(test_mclock_round_trip_holds_near_2_63_ns),
	    cmocka_unit_test(test_mclock_ns_to_samples_matches_exact_division),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
