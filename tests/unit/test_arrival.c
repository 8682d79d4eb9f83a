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
	r->a = arrival_new(2, RATE, LAT, r->jb);
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
	print_message("# %+.0f ppm: found within %.3f s in %u runs\n", ppm, worst,
		      runs);
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

/* 60 ppm off (a free-running crystal): found within the judge's 8 s
 * window and a little more. */
static void test_arrival_60ppm_is_found(void **state)
{
	(void)state;
	assert_true(worst_found(60, 50, 9000, 20) < 12.0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(
		test_arrival_wandering_floor_on_our_clock_is_never_converted),
	    cmocka_unit_test(test_arrival_1000ppm_fast_is_found),
	    cmocka_unit_test(test_arrival_1000ppm_slow_is_found),
	    cmocka_unit_test(test_arrival_60ppm_is_found),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
