/* Unit tests for arrival timing's drift judge (node/arrival.c): does a
 * sender aligned on arrival run on our clock (copy, bit-exact) or not
 * (convert)? Packets are noted straight into the module, at simulated
 * arrivals: a sender on our clock whose earliest packet wanders from one
 * half second to the next, as PipeWire's cycles and a VM's timer do
 * (seen on the wire here: +-80 us), must never be converted, however
 * early the judge is asked; a sender 1000 ppm off must still be found
 * within seconds, and one 60 ppm off within the judge's window. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>

#include "node/arrival.h"
#include "node/jbuf.h"

#define RATE 48000u
#define FPP  48u  /* frames per packet: 1 ms */
#define LAT  4800 /* 100 ms */
#define X0   1000000000ull
#define TS0  0x12345678u

struct run {
	struct jbuf *jb;
	struct arrival *a;
	uint32_t seed;
};

static uint32_t rnd(struct run *r)
{
	r->seed = r->seed * 1103515245u + 12345u;
	return r->seed >> 8;
}

static void run_open(struct run *r, uint32_t seed)
{
	r->jb = jbuf_new(2, 8192);
	assert_non_null(r->jb);
	r->a = arrival_new(2, RATE, LAT, r->jb, true);
	assert_non_null(r->a);
	arrival_reset(r->a, X0, TS0);
	r->seed = seed;
}

static void run_close(struct run *r)
{
	arrival_destroy(r->a);
	jbuf_destroy(r->jb);
}

/* @secs seconds of 1 ms packets from a sender @ppm off our clock, each
 * window of @wander_us: its path's floor moves to a new place in
 * [0, wander) every 10 to 500 ms, and each packet comes up to 100 us
 * later than the floor. Returns the second at which the judge first said
 * "convert", or -1. */
static double run_sender(struct run *r, double ppm, unsigned int secs,
			 unsigned int wander_us)
{
	uint64_t floor_until = 0, floor_f = 0;
	unsigned int k, n = secs * 1000;

	for (k = 0; k < n; k++) {
		double due = (double)k * FPP / (1 + ppm / 1e6);
		uint64_t x = X0 + (uint64_t)due;

		if (x >= floor_until) {
			floor_until =
			    x + RATE / 100 + rnd(r) % (RATE / 2 - RATE / 100);
			floor_f = (uint64_t)(rnd(r) % (wander_us + 1)) * RATE /
				  1000000;
		}
		x += floor_f + (rnd(r) % 100) * RATE / 1000000;
		arrival_note(r->a, x, TS0 + k * FPP);
		if (arrival_converting(r->a))
			return (double)k / 1000;
	}
	return -1;
}

/* On our clock, 400 senders, each judged from its first packet for 10 s
 * with a floor that wanders by 150 us: none is converted. Three windows
 * fitted by a line (one degree of freedom) and held to three standard
 * errors said "convert" for a real PipeWire stream here after 1.2 s. */
static void
test_arrival_wandering_floor_on_our_clock_is_never_converted(void **state)
{
	unsigned int i, converted = 0;
	double first = -1;

	(void)state;
	for (i = 0; i < 400; i++) {
		struct run r;
		double at;

		run_open(&r, 1000 + i);
		at = run_sender(&r, 0, 10, 150);
		if (at >= 0 && !converted++)
			first = at;
		run_close(&r);
	}
	print_message("# %u of 400 converted (the first after %.3f s)\n",
		      converted, first);
	assert_int_equal(converted, 0);
}

/* @runs senders @ppm off on the same paths (seeds from @seed0), for
 * @secs seconds each: every one is found; returns the latest finding. */
static double worst_found(double ppm, unsigned int runs, uint32_t seed0,
			  unsigned int secs)
{
	unsigned int i;
	double worst = 0;

	for (i = 0; i < runs; i++) {
		struct run r;
		double at;

		run_open(&r, seed0 + i);
		at = run_sender(&r, ppm, secs, 150);
		run_close(&r);
		assert_true(at >= 0);
		if (at > worst)
			worst = at;
	}
	print_message("# %+.0f ppm: found within %.3f s in %u runs\n", ppm,
		      worst, runs);
	return worst;
}

/* The same paths, the sender 1000 ppm fast or slow: found within 4 s,
 * every one. */
static void test_arrival_1000ppm_fast_is_found(void **state)
{
	(void)state;
	assert_true(worst_found(1000, 100, 5000, 10) < 4.0);
}

static void test_arrival_1000ppm_slow_is_found(void **state)
{
	(void)state;
	assert_true(worst_found(-1000, 100, 5000, 10) < 4.0);
}

/* Without a converter (a PTP-timed subscription's), the same sender is
 * never converted: the object copies, as it must, having nothing to
 * convert with. */
static void test_arrival_without_converter_only_copies(void **state)
{
	struct run r;

	(void)state;
	r.jb = jbuf_new(2, 8192);
	assert_non_null(r.jb);
	r.a = arrival_new(2, RATE, LAT, r.jb, false);
	assert_non_null(r.a);
	assert_false(arrival_may_convert(r.a));
	arrival_reset(r.a, X0, TS0);
	r.seed = 5000;
	assert_true(run_sender(&r, 1000, 10, 150) < 0);
	assert_false(arrival_converting(r.a));
	run_close(&r);
	run_open(&r, 5000);
	assert_true(arrival_may_convert(r.a));
	run_close(&r);
}

/* 60 ppm off (a free-running crystal): found within the judge's 8 s
 * window and a little more. */
static void test_arrival_60ppm_is_found(void **state)
{
	(void)state;
	assert_true(worst_found(60, 50, 9000, 20) < 12.0);
}

/* A sender's story for run_story: @ppm0 off our clock until @at_s, then
 * @ppm1 (its timestamps go on where they were); its path's floor steps
 * by @step_us at @step_s (0: never) and back by as much at @back_s. */
struct story {
	double ppm0, ppm1, at_s;
	double step_us, step_s, back_s;
	double ramp_s; /* the step taken gradually over this long */
};

/* @secs seconds of 1 ms packets told by @st, on the wandering paths of
 * run_sender (150 us); @conv: when the judge first said "convert" (or
 * -1), @back: when it first went back to copying after that (or -1). */
static void run_story(struct run *r, const struct story *st, unsigned int secs,
		      double *conv, double *back)
{
	uint64_t floor_until = 0, floor_f = 0;
	unsigned int k, n = secs * 1000;
	double due = 0;

	*conv = *back = -1;
	for (k = 0; k < n; k++) {
		double t = (double)k / 1000;
		uint64_t x;

		due += FPP / (1 + (t < st->at_s ? st->ppm0 : st->ppm1) / 1e6);
		x = X0 + (uint64_t)due;
		if (x >= floor_until) {
			floor_until =
			    x + RATE / 100 + rnd(r) % (RATE / 2 - RATE / 100);
			floor_f = (uint64_t)(rnd(r) % 151) * RATE / 1000000;
		}
		x += floor_f + (rnd(r) % 100) * RATE / 1000000;
		if (st->step_s > 0 && t >= st->step_s &&
		    (st->back_s <= 0 || t < st->back_s)) {
			double f = st->ramp_s > 0 && t < st->step_s + st->ramp_s
				       ? (t - st->step_s) / st->ramp_s
				       : 1;

			x += (uint64_t)(f * st->step_us * RATE / 1e6);
		}
		arrival_note(r->a, x, TS0 + k * FPP);
		if (arrival_converting(r->a) && *conv < 0)
			*conv = t;
		if (!arrival_converting(r->a) && *conv >= 0 && *back < 0)
			*back = t;
	}
}

/* On our clock, a path whose delay steps by 500 or 1000 us (a route or a
 * queue that changed) at a random moment and back 6 s later: the step is
 * not drift, and none of 100 senders is converted. (Before the judge cut
 * its windows at a step, 20 of 20 such runs were.) */
static void test_arrival_path_step_on_our_clock_is_never_converted(void **state)
{
	unsigned int i, converted = 0;

	(void)state;
	for (i = 0; i < 100; i++) {
		struct run r;
		struct story st = {0};
		double conv, back;

		run_open(&r, 7000 + i);
		st.step_us = i % 2 ? 1000 : 500;
		st.step_s = 3 + rnd(&r) % 9000 / 1000.0;
		st.back_s = st.step_s + 6;
		run_story(&r, &st, 20, &conv, &back);
		if (conv >= 0)
			converted++;
		run_close(&r);
	}
	print_message("# %u of 100 paths with a step converted\n", converted);
	assert_int_equal(converted, 0);
}

/* A sender 200 ppm off (converted within seconds) that then runs on our
 * clock (it locked to our grandmaster): it is copied again within 20 s,
 * every one of 50; and one that stays 200 ppm off is never copied. */
static void
test_arrival_converted_sender_on_our_clock_is_copied_again(void **state)
{
	unsigned int i;
	double worst = 0;

	(void)state;
	for (i = 0; i < 50; i++) {
		struct run r;
		struct story st = {.ppm0 = 200, .ppm1 = 0, .at_s = 8};
		double conv, back;

		run_open(&r, 8000 + i);
		run_story(&r, &st, 40, &conv, &back);
		run_close(&r);
		assert_true(conv >= 0 && conv < 8);
		assert_true(back > 8);
		if (back - 8 > worst)
			worst = back - 8;
		st.at_s = 1000; /* stays off */
		run_open(&r, 8000 + i);
		run_story(&r, &st, 40, &conv, &back);
		run_close(&r);
		assert_true(conv >= 0);
		assert_true(back < 0);
	}
	print_message("# copied again within %.1f s of the sender's lock\n",
		      worst);
	assert_true(worst < 20);
}

/* On our clock, a path whose delay grows by 300 us over 2 s (too slow to
 * be a step): a sender so converted is copied again within 20 s of the
 * shift's end, every one of 50. */
static void test_arrival_slow_shift_on_our_clock_ends_copied(void **state)
{
	unsigned int i, converted = 0;
	double worst = 0;

	(void)state;
	for (i = 0; i < 50; i++) {
		struct run r;
		struct story st = {.step_us = 300, .step_s = 5, .ramp_s = 2};
		double conv, back;

		run_open(&r, 9000 + i);
		run_story(&r, &st, 40, &conv, &back);
		run_close(&r);
		if (conv < 0)
			continue;
		converted++;
		assert_true(back > conv);
		if (back - 7 > worst)
			worst = back - 7;
	}
	print_message("# %u of 50 converted by a slow 300 us shift; copied "
		      "again within %.1f s of its end\n",
		      converted, worst);
	assert_true(worst < 20);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(
		test_arrival_wandering_floor_on_our_clock_is_never_converted),
	    cmocka_unit_test(test_arrival_1000ppm_fast_is_found),
	    cmocka_unit_test(test_arrival_1000ppm_slow_is_found),
	    cmocka_unit_test(test_arrival_without_converter_only_copies),
	    cmocka_unit_test(test_arrival_60ppm_is_found),
	    cmocka_unit_test(
		test_arrival_path_step_on_our_clock_is_never_converted),
	    cmocka_unit_test(
		test_arrival_converted_sender_on_our_clock_is_copied_again),
	    cmocka_unit_test(test_arrival_slow_shift_on_our_clock_ends_copied),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
