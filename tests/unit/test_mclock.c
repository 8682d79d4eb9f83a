/* Unit tests for the media clock: the free-running clock against the system
 * clocks, the injected clock, the sample <-> ns conversions (exact values,
 * rounding, and no overflow anywhere in the 64-bit time range), RTP
 * timestamps across the 2^32 wrap, and the PTP estimate (offset, drift,
 * step generation) over the real base clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
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

#ifdef __SIZEOF_INT128__
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
#else
/* 32-bit targets have no __int128: the same references in 32-bit limbs,
 * most significant first. floor((x * m + add) / d), m and d below 2^32. */
static uint64_t ref_muldiv(uint64_t x, uint32_t m, uint32_t add, uint32_t d)
{
	uint32_t limb[4] = {0, 0, (uint32_t)(x >> 32), (uint32_t)x};
	uint64_t carry = add, rem = 0, q = 0;
	int i;

	for (i = 3; i >= 0; i--) { /* limb = limb * m + carry */
		uint64_t p = (uint64_t)limb[i] * m + carry;

		limb[i] = (uint32_t)p;
		carry = p >> 32;
	}
	for (i = 0; i < 4; i++) { /* long division by d */
		uint64_t cur = rem << 32 | limb[i];

		rem = cur % d;
		if (i >= 2)
			q = q << 32 | (uint32_t)(cur / d);
	}
	return q;
}

/* The reference: floor(ns * rate / 1e9). */
static uint64_t ref_ns_to_samples(uint64_t ns, uint32_t rate)
{
	return ref_muldiv(ns, rate, 0, NSEC_PER_SEC);
}

/* ceil(samples * 1e9 / rate). */
static uint64_t ref_samples_to_ns(uint64_t samples, uint32_t rate)
{
	return ref_muldiv(samples, NSEC_PER_SEC, rate - 1, rate);
}
#endif

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

/* The RTP timestamp of PTP time @ns for a stream with
 * a=mediaclk:direct=@offset: samples since the PTP epoch plus the offset,
 * modulo 2^32. */
static uint32_t rtp_ts(uint64_t ns, uint32_t rate, uint32_t offset)
{
	return (uint32_t)(mclock_ns_to_samples(ns, rate) + offset);
}

/* The first ns of the sample stamped @ts, taking the lap of 2^32 samples
 * nearest to PTP time @near_ns. */
static uint64_t rtp_ts_to_ns(uint32_t ts, uint32_t rate, uint32_t offset,
			     uint64_t near_ns)
{
	uint64_t s = mclock_ns_to_samples(near_ns, rate);
	int32_t d = (int32_t)(ts - (uint32_t)(s + offset));

	return mclock_samples_to_ns(s + (uint64_t)(int64_t)d, rate);
}

static void test_mclock_rtp_timestamp_exact_values(void **state)
{
	const uint64_t t = 1795000000ull * NSEC_PER_SEC;

	/* 48 kHz: 1795000000 s is 86160000000000 samples, 2956042240 mod
	 * 2^32; the next samples are due 20833.3 and 41666.7 ns later. */
	assert_int_equal(rtp_ts(t, 48000, 0), 2956042240u);
	assert_int_equal(rtp_ts(t + 20833, 48000, 0), 2956042240u);
	assert_int_equal(rtp_ts(t + 20834, 48000, 0), 2956042241u);
	assert_int_equal(rtp_ts(t + 41666, 48000, 0), 2956042241u);
	assert_int_equal(rtp_ts(t + 41667, 48000, 0), 2956042242u);
	assert_int_equal(rtp_ts(t + 20834, 48000, 1000), 2956043241u);
	/* 44.1 kHz: 79159500000000 samples; 22675.7 and 45351.5 ns. */
	assert_int_equal(rtp_ts(t, 44100, 0), 3252734720u);
	assert_int_equal(rtp_ts(t + 22675, 44100, 0), 3252734720u);
	assert_int_equal(rtp_ts(t + 22676, 44100, 0), 3252734721u);
	assert_int_equal(rtp_ts(t + 45351, 44100, 0), 3252734721u);
	assert_int_equal(rtp_ts(t + 45352, 44100, 0), 3252734722u);
	/* 96 kHz: 172320000000000 samples; 10416.7 and 20833.3 ns. */
	assert_int_equal(rtp_ts(t, 96000, 0), 1617117184u);
	assert_int_equal(rtp_ts(t + 10416, 96000, 0), 1617117184u);
	assert_int_equal(rtp_ts(t + 10417, 96000, 0), 1617117185u);
	assert_int_equal(rtp_ts(t + 20833, 96000, 0), 1617117185u);
	assert_int_equal(rtp_ts(t + 20834, 96000, 0), 1617117186u);
	/* The offset wraps the sum, not the sample count. */
	assert_int_equal(rtp_ts(t, 96000, 0xffffffffu), 1617117183u);
}

static void test_mclock_rtp_timestamp_wraps_at_2_32(void **state)
{
	/* The ns at which the RTP timestamp goes 0xffffffff -> 0, computed
	 * independently: ceil(k * 2^32 - offset) * 1e9 / rate). */
	static const struct {
		uint32_t rate, offset;
		uint64_t wrap_ns;
	} w[] = {
	    {48000, 0, 1795027894272000000ull},
	    {48000, 0x9e3779b9, 1795062072012145834ull},
	    {44100, 0, 1795023633391746032ull},
	    {44100, 0x9e3779b9, 1795060833653129252ull},
	    {96000, 0, 1795027894272000000ull},
	    {96000, 0x9e3779b9, 1795000243899406250ull},
	};
	size_t i;

	for (i = 0; i < sizeof(w) / sizeof(w[0]); i++) {
		uint32_t rate = w[i].rate, off = w[i].offset;
		uint64_t ns = w[i].wrap_ns;

		assert_int_equal(rtp_ts(ns - 1, rate, off), 0xffffffffu);
		assert_int_equal(rtp_ts(ns, rate, off), 0);
		assert_int_equal(
		    rtp_ts(ns + mclock_samples_to_ns(1, rate), rate, off), 1);
		/* From either side of the wrap the timestamp maps back. */
		assert_int_equal(rtp_ts_to_ns(0, rate, off, ns - NSEC_PER_SEC),
				 ns);
		assert_int_equal(rtp_ts_to_ns(0, rate, off, ns + NSEC_PER_SEC),
				 ns);
		assert_int_equal(
		    rtp_ts_to_ns(0xffffffffu, rate, off, ns + NSEC_PER_SEC),
		    mclock_samples_to_ns(mclock_ns_to_samples(ns, rate) - 1,
					 rate));
	}
}

/* Around the wrap, for every sample: the timestamp steps exactly at the
 * sample's first ns, the steps are the sample period (rounded), and the
 * timestamp maps back to that ns from up to an hour away. */
static void test_mclock_rtp_timestamp_steps_at_each_sample(void **state)
{
	static const uint32_t offsets[] = {0, 0x9e3779b9, 0xffffffffu};
	static const int64_t near[] = {0, 1, -1, 3600 * NSEC_PER_SEC,
				       -3600 * (int64_t)NSEC_PER_SEC};
	size_t r, o, k;
	int64_t d;

	for (r = 0; r < sizeof(rates) / sizeof(rates[0]); r++) {
		uint32_t rate = rates[r];
		uint64_t lo = NSEC_PER_SEC / rate, hi = lo + 1;

		for (o = 0; o < sizeof(offsets) / sizeof(offsets[0]); o++) {
			uint32_t off = offsets[o];
			uint64_t base = ref_ns_to_samples(
			    1795000000ull * NSEC_PER_SEC, rate);
			/* The sample stamped 0 in the next lap. */
			uint64_t s0 =
			    base + (uint32_t)(0u - off - (uint32_t)base);
			uint64_t prev = 0;

			assert_int_equal((uint32_t)(s0 + off), 0);
			for (d = -3000; d <= 3000; d++) {
				uint64_t s = s0 + (uint64_t)d;
				uint64_t ns = mclock_samples_to_ns(s, rate);
				uint32_t ts = (uint32_t)(s + off);

				assert_int_equal(ns,
						 ref_samples_to_ns(s, rate));
				assert_int_equal(rtp_ts(ns, rate, off), ts);
				assert_int_equal(rtp_ts(ns - 1, rate, off),
						 (uint32_t)(ts - 1));
				if (prev)
					assert_in_range(ns - prev, lo, hi);
				prev = ns;
				for (k = 0; k < sizeof(near) / sizeof(near[0]);
				     k++)
					assert_int_equal(
					    rtp_ts_to_ns(ts, rate, off,
							 ns +
							     (uint64_t)near[k]),
					    ns);
			}
		}
	}
}

/* A reading of the PTP clock bracketed by two base-clock readings less
 * than @max_spread_ns apart: p = L + f(L) for some L in [a, b]. */
struct bracket {
	uint64_t a, p, b;
};

static struct bracket read_bracketed(const struct mclock *mc)
{
	struct bracket r = {0};
	int i;

	for (i = 0; i < 10000; i++) {
		r.a = mclock_base_now(mc);
		r.p = mclock_now_ns(mc);
		r.b = mclock_base_now(mc);
		if (r.b - r.a < 5000)
			return r;
	}
	fail_msg("could not read the clocks within 5 us");
	return r;
}

/* now - base at the bracketed reading agrees with off + drift * (L - ref)
 * for some L in [a, b] (+-1 ns for the truncation). */
static void assert_estimate_applies(const struct bracket *r, int64_t off,
				    uint64_t ref, double drift)
{
	double ea = (double)off + drift * (double)(int64_t)(r->a - ref);
	double eb = (double)off + drift * (double)(int64_t)(r->b - ref);
	double lo = (ea < eb ? ea : eb) - 1, hi = (ea < eb ? eb : ea) + 1;
	int64_t min = (int64_t)(r->p - r->b), max = (int64_t)(r->p - r->a);

	if ((double)max < lo || (double)min > hi)
		fail_msg("now - base in [%lld, %lld], estimate in [%.0f, %.0f]",
			 (long long)min, (long long)max, lo, hi);
}

static void test_mclock_follow_reads_realtime_until_estimated(void **state)
{
	char err[128] = "";
	struct mclock *mc =
	    mclock_new_ptp(MCLOCK_MODE_FOLLOW, NULL, err, sizeof(err));
	struct mclock_status st;
	struct bracket r;
	struct timex tx = {0};
	int64_t tai;

	assert_non_null(mc);
	assert_int_equal(mclock_mode(mc), MCLOCK_MODE_FOLLOW);
	assert_string_equal(mclock_mode_name(mclock_mode(mc)), "follow");
	mclock_get_status(mc, &st);
	assert_int_equal(st.state, MCLOCK_UNLOCKED);
	assert_int_equal(st.base, CLOCK_REALTIME);
	assert_true(absdiff(mclock_base_now(mc), sys_ns(CLOCK_REALTIME)) <
		    (int64_t)NSEC_PER_SEC);
	/* Before any estimate: UTC plus the kernel's TAI offset (or 37 s). */
	tai = adjtimex(&tx) >= 0 && tx.tai > 0 ? tx.tai : 37;
	r = read_bracketed(mc);
	assert_estimate_applies(&r, tai * (int64_t)NSEC_PER_SEC, 0, 0);
	mclock_destroy(mc);
}

static void test_mclock_set_estimate_offsets_the_base_clock(void **state)
{
	static const int64_t offs[] = {37 * NSEC_PER_SEC + 123456789, 0, -1,
				       -5 * (int64_t)NSEC_PER_SEC, 1};
	char err[128] = "";
	struct mclock *mc =
	    mclock_new_ptp(MCLOCK_MODE_FOLLOW, NULL, err, sizeof(err));
	size_t i;

	assert_non_null(mc);
	for (i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
		struct bracket r;

		mclock_set_estimate(mc, offs[i], mclock_base_now(mc), 0,
				    1000000, NULL);
		r = read_bracketed(mc);
		assert_estimate_applies(&r, offs[i], 0, 0);
		/* Within a few microseconds, stated directly. */
		assert_true(absdiff(r.p, r.a + (uint64_t)offs[i]) < 5000);
	}
	mclock_destroy(mc);
}

static void check_drift(double drift)
{
	const int64_t off = 37 * (int64_t)NSEC_PER_SEC;
	char err[128] = "";
	struct mclock *mc =
	    mclock_new_ptp(MCLOCK_MODE_FOLLOW, NULL, err, sizeof(err));
	struct timespec nap = {0, 50 * 1000 * 1000};
	struct bracket r0, r1;
	uint64_t ref;
	double grown, want;

	assert_non_null(mc);
	ref = mclock_base_now(mc);
	mclock_set_estimate(mc, off, ref, drift, 1000000, NULL);
	r0 = read_bracketed(mc);
	assert_estimate_applies(&r0, off, ref, drift);
	nanosleep(&nap, NULL);
	r1 = read_bracketed(mc);
	assert_true(r1.a - r0.b >= 50 * 1000 * 1000);
	assert_estimate_applies(&r1, off, ref, drift);
	/* now - base moved by drift * elapsed (50+ us at 1e-3), to within
	 * the two reading spreads. */
	grown = (double)(int64_t)(r1.p - (r1.a + r1.b) / 2) -
		(double)(int64_t)(r0.p - (r0.a + r0.b) / 2);
	want = drift * (double)(int64_t)((r1.a + r1.b) / 2 - (r0.a + r0.b) / 2);
	if (grown - want > 10000 || want - grown > 10000)
		fail_msg("now - base grew by %.0f ns, want %.0f", grown, want);
	assert_true(drift > 0 ? grown > 40000 : grown < -40000);
	mclock_destroy(mc);
}

static void test_mclock_set_estimate_drift_scales_elapsed_time(void **state)
{
	check_drift(1e-3);
	check_drift(-1e-3);
}

static void test_mclock_generation_moves_only_on_steps(void **state)
{
	const int64_t off = 40 * (int64_t)NSEC_PER_SEC, step = 1000000;
	char err[128] = "";
	struct mclock *mc =
	    mclock_new_ptp(MCLOCK_MODE_FOLLOW, NULL, err, sizeof(err));
	unsigned int g0, g;
	int64_t jump;

	assert_non_null(mc);
	g = mclock_generation(mc);
	/* 40 s against the initial 37 s (or the kernel's TAI offset). */
	mclock_set_estimate(mc, off, 0, 0, step, NULL);
	assert_int_equal(mclock_generation(mc), g + 1);
	g0 = mclock_generation(mc);
	/* Small corrections, up to exactly step_ns either way: no step. */
	mclock_set_estimate(mc, off + 500, 0, 0, step, NULL);
	assert_int_equal(mclock_generation(mc), g0);
	mclock_set_estimate(mc, off, 0, 0, step, NULL);
	assert_int_equal(mclock_generation(mc), g0);
	mclock_set_estimate(mc, off + step, 0, 0, step, NULL);
	assert_int_equal(mclock_generation(mc), g0);
	mclock_set_estimate(mc, off, 0, 0, step, NULL);
	assert_int_equal(mclock_generation(mc), g0);
	/* One ns more is a step, forwards and back, and says so with the
	 * jump the caller logs. */
	assert_true(mclock_set_estimate(mc, off + step + 1, 0, 0, step, &jump));
	assert_int_equal(jump, step + 1);
	assert_int_equal(mclock_generation(mc), g0 + 1);
	assert_true(mclock_set_estimate(mc, off, 0, 0, step, &jump));
	assert_int_equal(jump, -(step + 1));
	assert_int_equal(mclock_generation(mc), g0 + 2);
	assert_false(mclock_set_estimate(mc, off + step, 0, 0, step, &jump));
	assert_int_equal(jump, step);
	mclock_set_estimate(mc, off, 0, 0, step, NULL);
	assert_int_equal(mclock_generation(mc), g0 + 2);
	/* A rate change measured from now moves nothing now ... */
	mclock_set_estimate(mc, off, mclock_base_now(mc), 1e-3, step, NULL);
	assert_int_equal(mclock_generation(mc), g0 + 2);
	/* ... but one from 10 s ago moves the clock 10 ms at once. */
	mclock_set_estimate(mc, off, mclock_base_now(mc) - 10 * NSEC_PER_SEC,
			    1e-3, step, NULL);
	assert_int_equal(mclock_generation(mc), g0 + 3);
	/* The same estimate again: no change at all. */
	g = mclock_generation(mc);
	mclock_set_estimate(mc, off, mclock_base_now(mc) - 10 * NSEC_PER_SEC,
			    1e-3, step, NULL);
	assert_int_equal(mclock_generation(mc), g);
	mclock_destroy(mc);
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	assert_non_null(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static void test_mclock_phc_mode_fails_naming_the_device(void **state)
{
	const char *dev = "/dev/ptp-d4-test-missing";
	char err[160] = "";
	int fds = count_fds();

	assert_null(mclock_new_ptp(MCLOCK_MODE_PHC, dev, err, sizeof(err)));
	if (!strstr(err, dev))
		fail_msg("error '%s' does not name %s", err, dev);
	assert_non_null(strstr(err, strerror(ENOENT)));
	/* A file that opens but is no clock: named, and not leaked. */
	err[0] = '\0';
	assert_null(
	    mclock_new_ptp(MCLOCK_MODE_PHC, "/dev/null", err, sizeof(err)));
	assert_non_null(strstr(err, "/dev/null"));
	assert_int_equal(count_fds(), fds);
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
	    cmocka_unit_test(test_mclock_rtp_timestamp_exact_values),
	    cmocka_unit_test(test_mclock_rtp_timestamp_wraps_at_2_32),
	    cmocka_unit_test(test_mclock_rtp_timestamp_steps_at_each_sample),
	    cmocka_unit_test(test_mclock_follow_reads_realtime_until_estimated),
	    cmocka_unit_test(test_mclock_set_estimate_offsets_the_base_clock),
	    cmocka_unit_test(
		test_mclock_set_estimate_drift_scales_elapsed_time),
	    cmocka_unit_test(test_mclock_generation_moves_only_on_steps),
	    cmocka_unit_test(test_mclock_phc_mode_fails_naming_the_device),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
