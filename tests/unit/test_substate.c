/* Unit tests for a subscription's state machine (node/substate.c), driven
 * with injected counters at the control thread's 100 ms ticks: each state
 * is entered when it should be, with its reason, and left again. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "node/substate.h"

struct feed {
	struct substate st;
	struct substate_input in;
	unsigned int changes;
};

/* @ticks ticks of @pkts packets each, @late and @off of them late and off
 * any timeline. */
static void run(struct feed *f, unsigned int ticks, unsigned int pkts,
		unsigned int late, unsigned int off)
{
	unsigned int i;

	for (i = 0; i < ticks; i++) {
		f->in.received += pkts;
		f->in.late += late;
		f->in.off += off;
		if (substate_step(&f->st, &f->in))
			f->changes++;
	}
}

static void start(struct feed *f, bool resolved)
{
	memset(f, 0, sizeof(*f));
	f->in.resolved = resolved;
	f->in.clock_settled = true;
	f->in.latency_us = 1000;
	f->in.safe_latency_us = -1;
	substate_init(&f->st, resolved);
}

static void test_substate_unresolved_until_found(void **state)
{
	struct feed f;

	start(&f, false);
	run(&f, 5, 0, 0, 0);
	assert_int_equal(f.st.state, SUB_UNRESOLVED);
	assert_int_equal(f.changes, 0);
	f.in.resolved = true;
	run(&f, 1, 0, 0, 0);
	assert_int_equal(f.st.state, SUB_WAITING);
	assert_string_equal(f.st.reason, "no packet yet");
}

/* A stream found but refused (a card sink whose buffer needs more than
 * the latency): still unresolved, and its reason says why, not "not
 * announced"; once taken, waiting as any. */
static void test_substate_refused_says_why(void **state)
{
	struct feed f;

	start(&f, false);
	run(&f, 1, 0, 0, 0);
	assert_string_equal(f.st.reason, "the stream is not announced");
	f.in.refused = "sink out: the card's buffer needs 34666 us of the "
		       "subscription's 2000 us latency";
	run(&f, 1, 0, 0, 0);
	assert_int_equal(f.st.state, SUB_UNRESOLVED);
	assert_string_equal(f.st.reason,
			    "the stream was found but not taken: sink out: "
			    "the card's buffer needs 34666 us of the "
			    "subscription's 2000 us latency");
	f.in.refused = NULL;
	f.in.resolved = true;
	run(&f, 1, 0, 0, 0);
	assert_int_equal(f.st.state, SUB_WAITING);
}

/* A sender that stops: no-audio within 1.1 s (the last second's
 * packets are gone), receiving again at the first tick with packets. */
static void test_substate_sender_stops_and_comes_back(void **state)
{
	struct feed f;
	unsigned int t;

	start(&f, true);
	run(&f, 1, 100, 0, 0);
	assert_int_equal(f.st.state, SUB_RECEIVING);
	run(&f, 30, 100, 0, 0);
	for (t = 1; t <= 20 && f.st.state == SUB_RECEIVING; t++)
		run(&f, 1, 0, 0, 0);
	assert_int_equal(f.st.state, SUB_NO_AUDIO);
	assert_true(t - 1 <= 10); /* within a second of the last packet */
	assert_non_null(strstr(f.st.reason, "no packet for"));
	run(&f, 1, 100, 0, 0);
	assert_int_equal(f.st.state, SUB_RECEIVING);
}

static void test_substate_late_says_what_would_hold(void **state)
{
	struct feed f;

	start(&f, true);
	run(&f, 10, 100, 0, 0);
	f.in.safe_latency_us = 2750;
	run(&f, 1, 100, 20, 0);
	assert_int_equal(f.st.state, SUB_LATE);
	assert_non_null(strstr(f.st.reason, "20 of 1000 packets"));
	assert_non_null(strstr(f.st.reason, "latency of 2750 us"));
	/* a need beyond the largest latency is no advice (an attacker's
	 * replayed packets read "a latency of 5012500 us would hold") */
	f.in.safe_latency_us = 5012500;
	run(&f, 1, 100, 20, 0);
	assert_null(strstr(f.st.reason, "5012500"));
	assert_non_null(
	    strstr(f.st.reason, "none of the latencies up to 100 ms would hold"));
	/* 1 % or less is not late */
	start(&f, true);
	run(&f, 10, 100, 1, 0);
	assert_int_equal(f.st.state, SUB_RECEIVING);
	/* it ends when a second has passed without late packets */
	start(&f, true);
	run(&f, 10, 100, 0, 0);
	run(&f, 1, 100, 50, 0);
	assert_int_equal(f.st.state, SUB_LATE);
	run(&f, 10, 100, 0, 0);
	assert_int_equal(f.st.state, SUB_RECEIVING);
}

static void test_substate_clock_mismatch(void **state)
{
	struct feed f;

	/* packets off any timeline */
	start(&f, true);
	run(&f, 10, 100, 0, 90);
	assert_int_equal(f.st.state, SUB_CLOCK_MISMATCH);
	assert_non_null(strstr(f.st.reason, "far from this node's PTP time"));
	/* a PTP sender played aligned on arrival */
	start(&f, true);
	f.in.arrival_timing = true;
	f.in.expects_ptp = true;
	run(&f, 3, 100, 0, 0);
	assert_int_equal(f.st.state, SUB_CLOCK_MISMATCH);
	/* but not while our own clock is unsettled, nor for a sender that
	 * never said it was on PTP */
	f.in.clock_settled = false;
	run(&f, 1, 100, 0, 0);
	assert_int_equal(f.st.state, SUB_RECEIVING);
	start(&f, true);
	f.in.arrival_timing = true;
	run(&f, 3, 100, 0, 0);
	assert_int_equal(f.st.state, SUB_RECEIVING);
	assert_non_null(strstr(f.st.reason, "aligned on arrival"));
}

/* A new receiver (a new latency) restarts the counters: its first
 * counts are not taken for a burst. */
static void test_substate_rebase_on_a_new_receiver(void **state)
{
	struct feed f;

	start(&f, true);
	run(&f, 20, 100, 0, 0);
	f.in.received = 3;
	f.in.late = 0;
	substate_rebase(&f.st, &f.in);
	run(&f, 1, 100, 0, 0);
	assert_int_equal(f.st.state, SUB_RECEIVING);
	assert_int_equal(f.changes, 1);
}

#define MS (1000 * 1000ull)

/* A leg's state comes from its silence up to the receiver's last pass
 * over its sockets: waiting, ok, down after SUBSTATE_LEG_DOWN_NS. */
static void test_substate_leg_down_after_its_silence(void **state)
{
	uint64_t t0 = 1000 * 1000 * MS, silent;

	assert_int_equal(substate_leg(0, t0, t0 + 100 * MS, &silent),
			 SUB_LEG_WAITING);
	assert_int_equal(silent, 100 * MS);
	assert_int_equal(substate_leg(0, t0, t0 + 301 * MS, &silent),
			 SUB_LEG_DOWN);
	assert_int_equal(
	    substate_leg(t0 + 500 * MS, t0, t0 + 799 * MS, &silent),
	    SUB_LEG_OK);
	assert_int_equal(silent, 299 * MS);
	assert_int_equal(
	    substate_leg(t0 + 500 * MS, t0, t0 + 801 * MS, &silent),
	    SUB_LEG_DOWN);
	/* a packet that came after the last pass began: not silent */
	assert_int_equal(
	    substate_leg(t0 + 900 * MS, t0, t0 + 800 * MS, &silent),
	    SUB_LEG_OK);
	assert_int_equal(silent, 0);
	assert_string_equal(substate_leg_name(SUB_LEG_DOWN), "down");
}

/* One leg down while the other carries the stream: degraded, with which
 * leg and since when; back to receiving when it returns. Both legs down
 * is a stream that stopped: no-audio, never degraded. */
static void test_substate_one_leg_down_is_degraded(void **state)
{
	struct feed f;

	start(&f, true);
	f.in.legs = 2;
	/* leg B has sent nothing yet: not "both legs" (a new user read
	 * that of a leg that never received) */
	f.in.leg[0] = SUB_LEG_OK;
	f.in.leg[1] = SUB_LEG_WAITING;
	run(&f, 10, 100, 0, 0);
	assert_int_equal(f.st.state, SUB_RECEIVING);
	assert_null(strstr(f.st.reason, "both"));
	assert_non_null(strstr(f.st.reason, "on leg A (the other: none yet)"));
	f.in.leg[1] = SUB_LEG_OK;
	run(&f, 1, 100, 0, 0);
	assert_int_equal(f.st.state, SUB_RECEIVING);
	assert_non_null(strstr(f.st.reason, "on both legs"));
	f.in.leg[1] = SUB_LEG_DOWN;
	f.in.leg_silent_ns[1] = 400 * MS;
	run(&f, 1, 100, 0, 0);
	assert_int_equal(f.st.state, SUB_DEGRADED);
	assert_string_equal(substate_name(f.st.state), "degraded");
	assert_non_null(
	    strstr(f.st.reason, "leg B down (no packet for 0.4 s)"));
	assert_non_null(strstr(f.st.reason, "playing from leg A"));
	/* late audio is worse news than a lost leg: late wins */
	run(&f, 1, 100, 50, 0);
	assert_int_equal(f.st.state, SUB_LATE);
	run(&f, 10, 100, 0, 0);
	assert_int_equal(f.st.state, SUB_DEGRADED);
	f.in.leg[1] = SUB_LEG_OK;
	run(&f, 1, 100, 0, 0);
	assert_int_equal(f.st.state, SUB_RECEIVING);
	/* both down: no degraded on the way to no-audio */
	f.in.leg[0] = f.in.leg[1] = SUB_LEG_DOWN;
	f.changes = 0;
	run(&f, 9, 0, 0, 0);
	assert_int_equal(f.st.state, SUB_RECEIVING);
	run(&f, 2, 0, 0, 0);
	assert_int_equal(f.st.state, SUB_NO_AUDIO);
	assert_int_equal(f.changes, 1);
}

/* A leg whose packets come but none in time (a path slower than the
 * latency, or numbered off the stream) protects nothing: late after
 * SUBSTATE_LEG_DOWN_NS without a fit, and the subscription degraded,
 * saying so (an attacker's lab: a leg 200 ms behind at 50 ms read "ok",
 * "on both legs"). */
static void test_substate_a_late_leg_is_degraded(void **state)
{
	uint64_t t0 = 1000 * 1000 * MS, unfit;
	struct feed f;

	(void)state;
	assert_int_equal(substate_leg_fit(SUB_LEG_OK, t0 + 500 * MS, t0,
					  t0 + 799 * MS, &unfit),
			 SUB_LEG_OK);
	assert_int_equal(unfit, 299 * MS);
	assert_int_equal(substate_leg_fit(SUB_LEG_OK, t0 + 500 * MS, t0,
					  t0 + 801 * MS, &unfit),
			 SUB_LEG_LATE);
	/* none fit yet: counted from the receiver's start */
	assert_int_equal(substate_leg_fit(SUB_LEG_OK, 0, t0, t0 + 301 * MS,
					  &unfit),
			 SUB_LEG_LATE);
	/* a leg down stays down (no packet says more than none in time) */
	assert_int_equal(substate_leg_fit(SUB_LEG_DOWN, 0, t0, t0 + 900 * MS,
					  &unfit),
			 SUB_LEG_DOWN);
	assert_string_equal(substate_leg_name(SUB_LEG_LATE), "late");

	start(&f, true);
	f.in.legs = 2;
	f.in.leg[0] = f.in.leg[1] = SUB_LEG_OK;
	run(&f, 10, 100, 0, 0);
	assert_int_equal(f.st.state, SUB_RECEIVING);
	f.in.leg[1] = SUB_LEG_LATE;
	f.in.leg_unfit_ns[1] = 400 * MS;
	run(&f, 1, 100, 0, 0);
	assert_int_equal(f.st.state, SUB_DEGRADED);
	assert_non_null(strstr(f.st.reason, "leg B late (none of its packets "
					    "in time for 0.4 s); playing from "
					    "leg A"));
	f.in.leg[1] = SUB_LEG_OK;
	run(&f, 1, 100, 0, 0);
	assert_int_equal(f.st.state, SUB_RECEIVING);
	assert_non_null(strstr(f.st.reason, "on both legs"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_substate_unresolved_until_found),
	    cmocka_unit_test(test_substate_refused_says_why),
	    cmocka_unit_test(test_substate_sender_stops_and_comes_back),
	    cmocka_unit_test(test_substate_late_says_what_would_hold),
	    cmocka_unit_test(test_substate_clock_mismatch),
	    cmocka_unit_test(test_substate_rebase_on_a_new_receiver),
	    cmocka_unit_test(test_substate_leg_down_after_its_silence),
	    cmocka_unit_test(test_substate_one_leg_down_is_degraded),
	    cmocka_unit_test(test_substate_a_late_leg_is_degraded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
