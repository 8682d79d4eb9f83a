/* Unit tests for the PTP lock state machine, driven by hand-made ptp4l
 * samples and times: when it locks (and not a poll earlier), when it lets
 * go, holdover and its expiry, grandmaster changes, our own ptp4l as the
 * grandmaster, and the events each step reports. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "ptp/lock.h"

#define MS	     1000000ull
#define THRESHOLD_NS 1000
#define LOCK_COUNT   4
#define HOLDOVER_NS  (5 * NSEC_PER_SEC)
#define POLL_NS	     (250 * MS)

static const uint8_t own_id[8] = {0x00, 0x1d, 0xc1, 0xff,
				  0xfe, 0x50, 0x36, 0x33};
static const uint8_t gm_a[8] = {0xac, 0xde, 0x48, 0xff, 0xfe, 0x00, 0x00, 0x0a};
static const uint8_t gm_b[8] = {0xac, 0xde, 0x48, 0xff, 0xfe, 0x00, 0x00, 0x0b};
static const uint8_t zero_id[8] = {0};

struct rig {
	struct ptp_lock l;
	struct ptp_lock_cfg cfg;
	struct ptp_lock_events ev;
	uint64_t mono_ns;
};

static void rig_init(struct rig *t, bool ptp_enabled)
{
	memset(t, 0, sizeof(*t));
	t->cfg.threshold_ns = THRESHOLD_NS;
	t->cfg.lock_count = LOCK_COUNT;
	t->cfg.holdover_ns = HOLDOVER_NS;
	t->cfg.uncalibrated_ok = false;
	t->mono_ns = 1000 * NSEC_PER_SEC;
	ptp_lock_init(&t->l, ptp_enabled);
}

/* One poll, POLL_NS after the previous one; returns the new state. */
static enum mclock_state step(struct rig *t, struct ptp_lock_input in)
{
	t->mono_ns += POLL_NS;
	in.mono_ns = t->mono_ns;
	memcpy(in.own_id, own_id, 8);
	/* Leftovers from the last step must not survive. */
	memset(&t->ev, 0xa5, sizeof(t->ev));
	ptp_lock_step(&t->l, &t->cfg, &in, &t->ev);
	return t->l.state;
}

/* ptp4l is a slave of @gm and we are @residual_ns off it. */
static struct ptp_lock_input slave_of(const uint8_t gm[8], int64_t residual_ns)
{
	struct ptp_lock_input in = {
	    .reachable = true,
	    .gm_present = true,
	    .port_state = PTP_PS_SLAVE,
	    .residual_ns = residual_ns,
	};

	memcpy(in.gm_id, gm, 8);
	return in;
}

static struct ptp_lock_input unreachable(void)
{
	struct ptp_lock_input in = {.reachable = false};

	return in;
}

/* ptp4l answers but has lost its grandmaster (announce timeout). */
static struct ptp_lock_input no_gm(void)
{
	struct ptp_lock_input in = {
	    .reachable = true,
	    .gm_present = false,
	    .port_state = PTP_PS_LISTENING,
	};

	memcpy(in.gm_id, own_id, 8);
	return in;
}

/* Our own ptp4l won the BMCA. */
static struct ptp_lock_input we_are_gm(void)
{
	struct ptp_lock_input in = {
	    .reachable = true,
	    .gm_present = false,
	    .port_state = PTP_PS_MASTER,
	    .residual_ns = 0,
	};

	memcpy(in.gm_id, own_id, 8);
	return in;
}

static void assert_no_change(const struct rig *t, enum mclock_state s)
{
	assert_int_equal(t->l.state, s);
	assert_false(t->ev.state_changed);
	assert_int_equal(t->ev.old_state, s);
}

static void assert_changed(const struct rig *t, enum mclock_state from,
			   enum mclock_state to)
{
	assert_int_equal(t->l.state, to);
	assert_true(t->ev.state_changed);
	assert_int_equal(t->ev.old_state, from);
}

/* Follow @gm with good samples from a fresh rig until locked. */
static void lock_on(struct rig *t, const uint8_t gm[8])
{
	unsigned int i;

	for (i = 1; i < LOCK_COUNT; i++)
		assert_int_equal(step(t, slave_of(gm, 0)), MCLOCK_LOCKING);
	assert_int_equal(step(t, slave_of(gm, 0)), MCLOCK_LOCKED);
	assert_true(t->ev.state_changed);
	assert_memory_equal(t->l.gm_id, gm, 8);
}

static void test_lock_disabled_stays_free_run_forever(void **state)
{
	struct rig t;
	unsigned int i;

	rig_init(&t, false);
	assert_int_equal(t.l.state, MCLOCK_FREE_RUN);
	for (i = 0; i < 50; i++) {
		step(&t, slave_of(gm_a, 0));
		assert_no_change(&t, MCLOCK_FREE_RUN);
		assert_false(t.ev.gm_changed);
		step(&t, we_are_gm());
		assert_no_change(&t, MCLOCK_FREE_RUN);
		assert_false(t.l.is_gm);
		step(&t, unreachable());
		assert_no_change(&t, MCLOCK_FREE_RUN);
	}
	assert_false(t.l.have_gm);
}

static void test_lock_enabled_starts_unlocked(void **state)
{
	struct rig t;

	rig_init(&t, true);
	assert_int_equal(t.l.state, MCLOCK_UNLOCKED);
	assert_false(t.l.have_gm);
	assert_false(t.l.is_gm);
}

static void test_lock_unreachable_or_no_gm_is_unlocked(void **state)
{
	struct ptp_lock_input in;
	struct rig t;
	unsigned int i;

	rig_init(&t, true);
	for (i = 0; i < 10; i++) {
		step(&t, unreachable());
		assert_no_change(&t, MCLOCK_UNLOCKED);
		assert_false(t.ev.gm_changed);
		step(&t, no_gm());
		assert_no_change(&t, MCLOCK_UNLOCKED);
	}
	/* Locking, then ptp4l goes away: back to unlocked, no holdover. */
	step(&t, slave_of(gm_a, 0));
	assert_changed(&t, MCLOCK_UNLOCKED, MCLOCK_LOCKING);
	step(&t, unreachable());
	assert_changed(&t, MCLOCK_LOCKING, MCLOCK_UNLOCKED);
	/* Locking, then the grandmaster goes away. */
	step(&t, slave_of(gm_a, 0));
	assert_changed(&t, MCLOCK_UNLOCKED, MCLOCK_LOCKING);
	step(&t, no_gm());
	assert_changed(&t, MCLOCK_LOCKING, MCLOCK_UNLOCKED);
	/* A SLAVE port whose ptp4l says no grandmaster is not following. */
	in = slave_of(gm_a, 0);
	in.gm_present = false;
	for (i = 0; i < 2 * LOCK_COUNT; i++) {
		step(&t, in);
		assert_no_change(&t, MCLOCK_UNLOCKED);
	}
	/* Nor is a good-looking sample from a ptp4l that did not answer. */
	in = slave_of(gm_a, 0);
	in.reachable = false;
	for (i = 0; i < 2 * LOCK_COUNT; i++) {
		step(&t, in);
		assert_no_change(&t, MCLOCK_UNLOCKED);
	}
	/* Nor ports that are not (becoming) a slave. */
	in = slave_of(gm_a, 0);
	in.port_state = PTP_PS_LISTENING;
	step(&t, in);
	assert_no_change(&t, MCLOCK_UNLOCKED);
	in.port_state = PTP_PS_PASSIVE;
	step(&t, in);
	assert_no_change(&t, MCLOCK_UNLOCKED);
	in.port_state = PTP_PS_FAULTY;
	step(&t, in);
	assert_no_change(&t, MCLOCK_UNLOCKED);
}

static void test_lock_locks_after_exactly_lock_count_settled_polls(void **state)
{
	struct rig t;
	unsigned int i;

	rig_init(&t, true);
	step(&t, slave_of(gm_a, 500));
	assert_changed(&t, MCLOCK_UNLOCKED, MCLOCK_LOCKING);
	/* The first grandmaster is a change from none. */
	assert_true(t.ev.gm_changed);
	assert_memory_equal(t.ev.old_gm, zero_id, 8);
	assert_true(t.l.have_gm);
	assert_memory_equal(t.l.gm_id, gm_a, 8);
	/* The threshold is inclusive and the sign does not matter. */
	for (i = 2; i < LOCK_COUNT; i++) {
		step(&t, slave_of(gm_a, i & 1 ? -THRESHOLD_NS : THRESHOLD_NS));
		assert_no_change(&t, MCLOCK_LOCKING);
		assert_false(t.ev.gm_changed);
	}
	step(&t, slave_of(gm_a, -THRESHOLD_NS));
	assert_changed(&t, MCLOCK_LOCKING, MCLOCK_LOCKED);
	assert_false(t.ev.gm_changed);
	assert_false(t.l.is_gm);
	for (i = 0; i < 20; i++) {
		step(&t, slave_of(gm_a, 3));
		assert_no_change(&t, MCLOCK_LOCKED);
	}
}

static void test_lock_one_poll_short_of_lock_count_is_not_locked(void **state)
{
	struct rig t;
	unsigned int i;

	rig_init(&t, true);
	t.cfg.lock_count = 7;
	for (i = 1; i < 7; i++) {
		step(&t, slave_of(gm_a, 0));
		assert_int_equal(t.l.state, MCLOCK_LOCKING);
	}
	step(&t, slave_of(gm_a, 0));
	assert_changed(&t, MCLOCK_LOCKING, MCLOCK_LOCKED);
	/* lock_count 1: the first settled poll locks. */
	rig_init(&t, true);
	t.cfg.lock_count = 1;
	step(&t, slave_of(gm_a, 0));
	assert_changed(&t, MCLOCK_UNLOCKED, MCLOCK_LOCKED);
}

static void test_lock_residual_over_threshold_resets_the_count(void **state)
{
	struct rig t;
	unsigned int i;

	rig_init(&t, true);
	for (i = 1; i < LOCK_COUNT; i++)
		step(&t, slave_of(gm_a, 0));
	assert_int_equal(t.l.state, MCLOCK_LOCKING);
	step(&t, slave_of(gm_a, THRESHOLD_NS + 1));
	assert_no_change(&t, MCLOCK_LOCKING);
	/* The count starts over: lock_count more good polls are needed. */
	for (i = 1; i < LOCK_COUNT; i++) {
		step(&t, slave_of(gm_a, 0));
		assert_no_change(&t, MCLOCK_LOCKING);
	}
	step(&t, slave_of(gm_a, -(THRESHOLD_NS + 1)));
	assert_no_change(&t, MCLOCK_LOCKING);
	for (i = 1; i < LOCK_COUNT; i++) {
		step(&t, slave_of(gm_a, 0));
		assert_no_change(&t, MCLOCK_LOCKING);
	}
	step(&t, slave_of(gm_a, 0));
	assert_changed(&t, MCLOCK_LOCKING, MCLOCK_LOCKED);
}

static void test_lock_lock_count_bad_polls_while_locked_go_locking(void **state)
{
	struct rig t;
	unsigned int i;

	rig_init(&t, true);
	lock_on(&t, gm_a);
	/* Fewer bad polls than lock_count, then a good one: still locked. */
	for (i = 1; i < LOCK_COUNT; i++) {
		step(&t, slave_of(gm_a, 50 * THRESHOLD_NS));
		assert_no_change(&t, MCLOCK_LOCKED);
	}
	step(&t, slave_of(gm_a, 0));
	assert_no_change(&t, MCLOCK_LOCKED);
	/* The bad count restarted: lock_count - 1 bad are not enough. */
	for (i = 1; i < LOCK_COUNT; i++) {
		step(&t, slave_of(gm_a, -50 * THRESHOLD_NS));
		assert_no_change(&t, MCLOCK_LOCKED);
	}
	step(&t, slave_of(gm_a, -50 * THRESHOLD_NS));
	assert_changed(&t, MCLOCK_LOCKED, MCLOCK_LOCKING);
	assert_false(t.ev.gm_changed);
	/* And it takes lock_count good polls to lock again. */
	for (i = 1; i < LOCK_COUNT; i++) {
		step(&t, slave_of(gm_a, 0));
		assert_no_change(&t, MCLOCK_LOCKING);
	}
	step(&t, slave_of(gm_a, 0));
	assert_changed(&t, MCLOCK_LOCKING, MCLOCK_LOCKED);
}

static void test_lock_gm_lost_while_locked_holds_over_then_unlocks(void **state)
{
	unsigned int n = 0;
	uint64_t since;
	struct rig t;

	rig_init(&t, true);
	lock_on(&t, gm_a);
	step(&t, no_gm());
	assert_changed(&t, MCLOCK_LOCKED, MCLOCK_HOLDOVER);
	assert_false(t.ev.gm_changed);
	since = t.mono_ns;
	/* The last grandmaster is remembered through holdover. */
	assert_true(t.l.have_gm);
	assert_memory_equal(t.l.gm_id, gm_a, 8);
	/* Polls inside the holdover time keep it. */
	while (t.mono_ns + POLL_NS < since + HOLDOVER_NS) {
		step(&t, n++ & 1 ? no_gm() : unreachable());
		assert_no_change(&t, MCLOCK_HOLDOVER);
	}
	/* One nanosecond short, then exactly at the end. */
	t.mono_ns = since + HOLDOVER_NS - 1 - POLL_NS;
	step(&t, no_gm());
	assert_no_change(&t, MCLOCK_HOLDOVER);
	t.mono_ns = since + HOLDOVER_NS - POLL_NS;
	step(&t, no_gm());
	assert_changed(&t, MCLOCK_HOLDOVER, MCLOCK_UNLOCKED);
	step(&t, no_gm());
	assert_no_change(&t, MCLOCK_UNLOCKED);
}

static void test_lock_ptp4l_gone_while_locked_holds_over(void **state)
{
	uint64_t since;
	struct rig t;

	rig_init(&t, true);
	lock_on(&t, gm_a);
	step(&t, unreachable());
	assert_changed(&t, MCLOCK_LOCKED, MCLOCK_HOLDOVER);
	since = t.mono_ns;
	t.mono_ns = since + HOLDOVER_NS / 2;
	step(&t, unreachable());
	assert_no_change(&t, MCLOCK_HOLDOVER);
	t.mono_ns = since + HOLDOVER_NS;
	step(&t, unreachable());
	assert_changed(&t, MCLOCK_HOLDOVER, MCLOCK_UNLOCKED);
}

static void test_lock_new_gm_in_holdover_relocks_and_reports_it(void **state)
{
	struct rig t;
	unsigned int i;

	rig_init(&t, true);
	lock_on(&t, gm_a);
	step(&t, no_gm());
	assert_changed(&t, MCLOCK_LOCKED, MCLOCK_HOLDOVER);
	step(&t, no_gm());
	assert_no_change(&t, MCLOCK_HOLDOVER);
	step(&t, slave_of(gm_b, 0));
	assert_changed(&t, MCLOCK_HOLDOVER, MCLOCK_LOCKING);
	assert_true(t.ev.gm_changed);
	assert_memory_equal(t.ev.old_gm, gm_a, 8);
	assert_memory_equal(t.l.gm_id, gm_b, 8);
	for (i = 2; i < LOCK_COUNT; i++) {
		step(&t, slave_of(gm_b, 0));
		assert_no_change(&t, MCLOCK_LOCKING);
		assert_false(t.ev.gm_changed);
	}
	step(&t, slave_of(gm_b, 0));
	assert_changed(&t, MCLOCK_LOCKING, MCLOCK_LOCKED);
	assert_false(t.ev.gm_changed);
	assert_memory_equal(t.l.gm_id, gm_b, 8);
}

static void test_lock_same_gm_back_in_holdover_settles_again(void **state)
{
	struct rig t;
	unsigned int i;

	rig_init(&t, true);
	lock_on(&t, gm_a);
	step(&t, unreachable());
	assert_changed(&t, MCLOCK_LOCKED, MCLOCK_HOLDOVER);
	step(&t, slave_of(gm_a, 0));
	assert_changed(&t, MCLOCK_HOLDOVER, MCLOCK_LOCKING);
	assert_false(t.ev.gm_changed);
	for (i = 2; i < LOCK_COUNT; i++)
		assert_int_equal(step(&t, slave_of(gm_a, 0)), MCLOCK_LOCKING);
	step(&t, slave_of(gm_a, 0));
	assert_changed(&t, MCLOCK_LOCKING, MCLOCK_LOCKED);
}

static void test_lock_gm_change_while_locked_goes_locking(void **state)
{
	struct rig t;
	unsigned int i;

	rig_init(&t, true);
	lock_on(&t, gm_a);
	step(&t, slave_of(gm_b, 0));
	assert_changed(&t, MCLOCK_LOCKED, MCLOCK_LOCKING);
	assert_true(t.ev.gm_changed);
	assert_memory_equal(t.ev.old_gm, gm_a, 8);
	assert_memory_equal(t.l.gm_id, gm_b, 8);
	for (i = 2; i < LOCK_COUNT; i++) {
		step(&t, slave_of(gm_b, 0));
		assert_no_change(&t, MCLOCK_LOCKING);
	}
	step(&t, slave_of(gm_b, 0));
	assert_changed(&t, MCLOCK_LOCKING, MCLOCK_LOCKED);
	/* And straight back: another change, old_gm is b. */
	step(&t, slave_of(gm_a, 20 * THRESHOLD_NS));
	assert_changed(&t, MCLOCK_LOCKED, MCLOCK_LOCKING);
	assert_true(t.ev.gm_changed);
	assert_memory_equal(t.ev.old_gm, gm_b, 8);
}

static void test_lock_own_ptp4l_as_grandmaster_is_locked(void **state)
{
	struct ptp_lock_input in;
	struct rig t;

	rig_init(&t, true);
	step(&t, we_are_gm());
	assert_changed(&t, MCLOCK_UNLOCKED, MCLOCK_LOCKED);
	assert_true(t.l.is_gm);
	assert_true(t.ev.gm_changed);
	assert_memory_equal(t.ev.old_gm, zero_id, 8);
	assert_memory_equal(t.l.gm_id, own_id, 8);
	/* A wild residual means nothing when we are the reference. */
	in = we_are_gm();
	in.residual_ns = 1000000000;
	step(&t, in);
	assert_no_change(&t, MCLOCK_LOCKED);
	assert_true(t.l.is_gm);
	assert_false(t.ev.gm_changed);
	/* A better clock appears: we follow it and must settle first. */
	step(&t, slave_of(gm_a, 0));
	assert_changed(&t, MCLOCK_LOCKED, MCLOCK_LOCKING);
	assert_false(t.l.is_gm);
	assert_true(t.ev.gm_changed);
	assert_memory_equal(t.ev.old_gm, own_id, 8);
}

static void test_lock_master_port_of_another_gm_is_not_locked(void **state)
{
	struct ptp_lock_input in;
	struct rig t;
	unsigned int i;

	rig_init(&t, true);
	/* A MASTER port whose grandmaster is someone else (a boundary
	 * clock's downstream port) is not this clock being the reference. */
	in = we_are_gm();
	memcpy(in.gm_id, gm_a, 8);
	for (i = 0; i < 2 * LOCK_COUNT; i++) {
		step(&t, in);
		assert_no_change(&t, MCLOCK_UNLOCKED);
		assert_false(t.l.is_gm);
	}
	/* Being the grandmaster needs ptp4l's answer. */
	in = we_are_gm();
	in.reachable = false;
	step(&t, in);
	assert_no_change(&t, MCLOCK_UNLOCKED);
	assert_false(t.l.is_gm);
}

static void test_lock_losing_grandmaster_role_holds_over(void **state)
{
	struct rig t;

	rig_init(&t, true);
	step(&t, we_are_gm());
	assert_int_equal(t.l.state, MCLOCK_LOCKED);
	step(&t, no_gm());
	assert_changed(&t, MCLOCK_LOCKED, MCLOCK_HOLDOVER);
	assert_false(t.l.is_gm);
}

static void test_lock_uncalibrated_counts_only_when_allowed(void **state)
{
	struct ptp_lock_input in = slave_of(gm_a, 0);
	struct rig t;
	unsigned int i;

	in.port_state = PTP_PS_UNCALIBRATED;
	rig_init(&t, true);
	/* Following (a grandmaster is known) but never settled. */
	step(&t, in);
	assert_changed(&t, MCLOCK_UNLOCKED, MCLOCK_LOCKING);
	assert_true(t.ev.gm_changed);
	for (i = 0; i < 10 * LOCK_COUNT; i++) {
		step(&t, in);
		assert_no_change(&t, MCLOCK_LOCKING);
	}
	/* The same samples with uncalibrated_ok lock after lock_count. */
	rig_init(&t, true);
	t.cfg.uncalibrated_ok = true;
	for (i = 1; i < LOCK_COUNT; i++)
		assert_int_equal(step(&t, in), MCLOCK_LOCKING);
	step(&t, in);
	assert_changed(&t, MCLOCK_LOCKING, MCLOCK_LOCKED);
	for (i = 0; i < 10; i++) {
		step(&t, in);
		assert_no_change(&t, MCLOCK_LOCKED);
	}
	/* Still subject to the threshold. */
	rig_init(&t, true);
	t.cfg.uncalibrated_ok = true;
	in.residual_ns = THRESHOLD_NS + 1;
	for (i = 0; i < 10 * LOCK_COUNT; i++)
		assert_int_equal(step(&t, in), MCLOCK_LOCKING);
}

static void test_lock_uncalibrated_while_locked_falls_back(void **state)
{
	struct ptp_lock_input in = slave_of(gm_a, 0);
	struct rig t;
	unsigned int i;

	rig_init(&t, true);
	lock_on(&t, gm_a);
	/* ptp4l re-enters UNCALIBRATED (e.g. after a step): not settled. */
	in.port_state = PTP_PS_UNCALIBRATED;
	for (i = 1; i < LOCK_COUNT; i++) {
		step(&t, in);
		assert_no_change(&t, MCLOCK_LOCKED);
	}
	step(&t, in);
	assert_changed(&t, MCLOCK_LOCKED, MCLOCK_LOCKING);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_lock_disabled_stays_free_run_forever),
	    cmocka_unit_test(test_lock_enabled_starts_unlocked),
	    cmocka_unit_test(test_lock_unreachable_or_no_gm_is_unlocked),
	    cmocka_unit_test(
		test_lock_locks_after_exactly_lock_count_settled_polls),
	    cmocka_unit_test(
		test_lock_one_poll_short_of_lock_count_is_not_locked),
	    cmocka_unit_test(
		test_lock_residual_over_threshold_resets_the_count),
	    cmocka_unit_test(
		test_lock_lock_count_bad_polls_while_locked_go_locking),
	    cmocka_unit_test(
		test_lock_gm_lost_while_locked_holds_over_then_unlocks),
	    cmocka_unit_test(test_lock_ptp4l_gone_while_locked_holds_over),
	    cmocka_unit_test(
		test_lock_new_gm_in_holdover_relocks_and_reports_it),
	    cmocka_unit_test(test_lock_same_gm_back_in_holdover_settles_again),
	    cmocka_unit_test(test_lock_gm_change_while_locked_goes_locking),
	    cmocka_unit_test(test_lock_own_ptp4l_as_grandmaster_is_locked),
	    cmocka_unit_test(test_lock_master_port_of_another_gm_is_not_locked),
	    cmocka_unit_test(test_lock_losing_grandmaster_role_holds_over),
	    cmocka_unit_test(test_lock_uncalibrated_counts_only_when_allowed),
	    cmocka_unit_test(test_lock_uncalibrated_while_locked_falls_back),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
