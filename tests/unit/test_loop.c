/* The control loop: io watches fire and can be updated, timers fire in
 * deadline order (one-shot and periodic), and callbacks may remove their
 * own or another watch or timer mid-round without use-after-free (run
 * under ASan) or a round that never ends. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "common/loop.h"

#define MS 1000000ull

struct io_rec {
	int calls;
	uint32_t events;
	struct loop_io *self;
	struct loop_io *victim; /* removed by this callback when set */
	bool remove_self;
	bool drain;
};

static void io_cb(void *data, int fd, uint32_t events)
{
	struct io_rec *r = data;
	char buf[64];

	r->calls++;
	r->events = events;
	if (r->drain && (events & LOOP_IN))
		while (read(fd, buf, sizeof(buf)) > 0)
			;
	if (r->victim) {
		loop_io_remove(r->victim);
		r->victim = NULL;
	}
	if (r->remove_self)
		loop_io_remove(r->self);
}

struct tm_rec {
	int calls;
	uint64_t at_ns;
	int *order; /* shared sequence log */
	int *order_len;
	int tag;
	struct loop_timer *self;
	struct loop_timer *victim;
	bool free_self;
	bool rearm_past;
	struct loop *quit;
};

static void tm_cb(void *data)
{
	struct tm_rec *r = data;

	r->calls++;
	r->at_ns = loop_now_ns();
	if (r->order)
		r->order[(*r->order_len)++] = r->tag;
	if (r->victim) {
		loop_timer_free(r->victim);
		r->victim = NULL;
	}
	if (r->rearm_past)
		loop_timer_arm_at(r->self, 1, 0);
	if (r->free_self)
		loop_timer_free(r->self);
	if (r->quit)
		loop_quit(r->quit);
}

static void run_for(struct loop *loop, uint64_t ns)
{
	uint64_t end = loop_now_ns() + ns;

	while (loop_now_ns() < end)
		loop_run_once(loop, 5);
}

static void
test_loop_io_fires_on_readable_and_update_changes_events(void **state)
{
	struct loop *loop = loop_new();
	struct io_rec r = {0};
	int p[2];

	assert_non_null(loop);
	assert_int_equal(pipe2(p, O_NONBLOCK), 0);
	r.self = loop_io_add(loop, p[0], LOOP_IN, io_cb, &r);
	assert_non_null(r.self);
	assert_int_equal(loop_io_events(r.self), LOOP_IN);

	assert_int_equal(loop_run_once(loop, 0), 0);
	assert_int_equal(r.calls, 0);
	assert_int_equal(write(p[1], "x", 1), 1);
	assert_int_equal(loop_run_once(loop, 100), 1);
	assert_int_equal(r.calls, 1);
	assert_true(r.events & LOOP_IN);

	/* level-triggered: still readable; not when no longer asked for */
	assert_int_equal(loop_io_update(r.self, 0), 0);
	assert_int_equal(loop_run_once(loop, 0), 0);
	assert_int_equal(r.calls, 1);
	assert_int_equal(loop_io_update(r.self, LOOP_IN), 0);
	r.drain = true;
	assert_int_equal(loop_run_once(loop, 0), 1);
	assert_int_equal(loop_run_once(loop, 0), 0);
	assert_int_equal(r.calls, 2);

	/* the write end watched for LOOP_OUT is writable at once */
	{
		struct io_rec w = {0};

		w.self = loop_io_add(loop, p[1], LOOP_OUT, io_cb, &w);
		assert_non_null(w.self);
		assert_int_equal(loop_run_once(loop, 0), 1);
		assert_true(w.events & LOOP_OUT);
		loop_io_remove(w.self);
	}
	loop_io_remove(r.self);
	loop_io_remove(NULL);
	close(p[0]);
	close(p[1]);
	loop_destroy(loop);
}

static void test_loop_io_add_rejects_bad_fd(void **state)
{
	struct loop *loop = loop_new();
	struct io_rec r = {0};

	assert_null(loop_io_add(loop, -1, LOOP_IN, io_cb, &r));
	assert_null(loop_io_add(loop, 12345, LOOP_IN, io_cb, &r));
	loop_destroy(loop);
}

static void test_loop_io_callback_removes_itself_and_another(void **state)
{
	struct loop *loop = loop_new();
	struct io_rec a = {0}, b = {0};
	int p[2], q[2];

	assert_int_equal(pipe2(p, O_NONBLOCK), 0);
	assert_int_equal(pipe2(q, O_NONBLOCK), 0);
	a.self = loop_io_add(loop, p[0], LOOP_IN, io_cb, &a);
	b.self = loop_io_add(loop, q[0], LOOP_IN, io_cb, &b);
	/* both ready in the same round; whichever runs first removes the
	 * other and itself */
	a.victim = b.self;
	a.remove_self = true;
	b.victim = a.self;
	b.remove_self = true;
	assert_int_equal(write(p[1], "x", 1), 1);
	assert_int_equal(write(q[1], "x", 1), 1);
	assert_int_equal(loop_run_once(loop, 100), 1);
	assert_int_equal(a.calls + b.calls, 1);
	assert_int_equal(loop_run_once(loop, 10), 0);
	assert_int_equal(a.calls + b.calls, 1);
	close(p[0]);
	close(p[1]);
	close(q[0]);
	close(q[1]);
	loop_destroy(loop);
}

static void test_loop_timers_fire_in_deadline_order(void **state)
{
	struct loop *loop = loop_new();
	int order[8], n = 0;
	struct tm_rec r[3] = {0};
	uint64_t t0 = loop_now_ns();
	int i;

	for (i = 0; i < 3; i++) {
		r[i].order = order;
		r[i].order_len = &n;
		r[i].tag = i;
		r[i].self = loop_timer_new(loop, tm_cb, &r[i]);
		assert_non_null(r[i].self);
	}
	loop_timer_arm(r[0].self, 30 * MS, 0);
	loop_timer_arm(r[1].self, 10 * MS, 0);
	loop_timer_arm(r[2].self, 20 * MS, 0);
	assert_true(loop_timer_armed(r[1].self));
	assert_true(loop_timer_deadline(r[1].self) >= t0 + 10 * MS);
	run_for(loop, 80 * MS);
	assert_int_equal(n, 3);
	assert_int_equal(order[0], 1);
	assert_int_equal(order[1], 2);
	assert_int_equal(order[2], 0);
	for (i = 0; i < 3; i++) {
		assert_int_equal(r[i].calls, 1);
		assert_false(loop_timer_armed(r[i].self));
		/* never early */
		assert_true(r[i].at_ns >=
			    t0 + (uint64_t)(i ? i * 10 : 30) * MS);
		loop_timer_free(r[i].self);
	}
	loop_destroy(loop);
}

static void test_loop_periodic_timer_repeats_until_disarmed(void **state)
{
	struct loop *loop = loop_new();
	struct tm_rec r = {0};

	r.self = loop_timer_new(loop, tm_cb, &r);
	loop_timer_arm(r.self, 5 * MS, 5 * MS);
	run_for(loop, 62 * MS);
	/* 12 periods; fewer on a busy machine (missed periods are skipped,
	 * not bunched), never more */
	assert_true(r.calls >= 3 && r.calls <= 13);
	assert_true(loop_timer_armed(r.self));
	loop_timer_disarm(r.self);
	r.calls = 0;
	run_for(loop, 20 * MS);
	assert_int_equal(r.calls, 0);
	loop_timer_free(r.self);
	loop_destroy(loop);
}

static void test_loop_timer_past_deadline_fires_next_round_once(void **state)
{
	struct loop *loop = loop_new();
	struct tm_rec r = {0};

	r.self = loop_timer_new(loop, tm_cb, &r);
	r.rearm_past = true;
	loop_timer_arm_at(r.self, 1, 0);
	/* re-arming for the past from the callback must not spin inside
	 * one round */
	assert_int_equal(loop_run_once(loop, 100), 1);
	assert_int_equal(r.calls, 1);
	assert_int_equal(loop_run_once(loop, 100), 1);
	assert_int_equal(r.calls, 2);
	r.rearm_past = false;
	assert_int_equal(loop_run_once(loop, 100), 1);
	assert_int_equal(loop_run_once(loop, 10), 0);
	assert_int_equal(r.calls, 3);
	loop_timer_free(r.self);
	loop_destroy(loop);
}

static void test_loop_timer_callback_frees_itself_and_a_due_timer(void **state)
{
	struct loop *loop = loop_new();
	struct tm_rec a = {0}, b = {0};

	a.self = loop_timer_new(loop, tm_cb, &a);
	b.self = loop_timer_new(loop, tm_cb, &b);
	/* both due in the same round; the first frees the second and
	 * itself, so exactly one runs */
	a.victim = b.self;
	a.free_self = true;
	b.victim = a.self;
	b.free_self = true;
	loop_timer_arm(a.self, 1 * MS, 1 * MS);
	loop_timer_arm(b.self, 1 * MS, 0);
	usleep(3000);
	assert_int_equal(loop_run_once(loop, 0), 1);
	assert_int_equal(a.calls + b.calls, 1);
	run_for(loop, 10 * MS);
	assert_int_equal(a.calls + b.calls, 1);
	loop_destroy(loop);
}

static void test_loop_quit_from_callback_ends_run(void **state)
{
	struct loop *loop = loop_new();
	struct tm_rec r = {0};

	r.self = loop_timer_new(loop, tm_cb, &r);
	r.quit = loop;
	loop_timer_arm(r.self, 2 * MS, 0);
	assert_int_equal(loop_run(loop), 0);
	assert_int_equal(r.calls, 1);
	loop_timer_free(r.self);
	loop_destroy(loop);
}

static struct loop *nested_loop;
static int nested_ret;

static void nested_cb(void *data)
{
	nested_ret = loop_run_once(nested_loop, 0);
}

static void test_loop_run_once_inside_callback_is_refused(void **state)
{
	struct loop *loop = loop_new();
	struct loop_timer *t = loop_timer_new(loop, nested_cb, NULL);

	nested_loop = loop;
	loop_timer_arm(t, 0, 0);
	assert_int_equal(loop_run_once(loop, 100), 1);
	assert_int_equal(nested_ret, -EBUSY);
	loop_timer_free(t);
	loop_destroy(loop);
}

static void test_loop_wait_is_bounded_by_max_wait(void **state)
{
	struct loop *loop = loop_new();
	uint64_t t0 = loop_now_ns();

	assert_int_equal(loop_run_once(loop, 20), 0);
	assert_true(loop_now_ns() - t0 >= 19 * MS);
	assert_true(loop_now_ns() - t0 < 500 * MS);
	loop_destroy(loop);
}

static void test_loop_destroy_frees_leftover_watches_and_timers(void **state)
{
	struct loop *loop = loop_new();
	struct io_rec r = {0};
	struct tm_rec t = {0};
	int p[2];

	assert_int_equal(pipe2(p, O_NONBLOCK), 0);
	assert_non_null(loop_io_add(loop, p[0], LOOP_IN, io_cb, &r));
	t.self = loop_timer_new(loop, tm_cb, &t);
	loop_timer_arm(t.self, 1000 * MS, 0);
	loop_destroy(loop); /* ASan reports a leak if not */
	close(p[0]);
	close(p[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(
		test_loop_io_fires_on_readable_and_update_changes_events),
	    cmocka_unit_test(test_loop_io_add_rejects_bad_fd),
	    cmocka_unit_test(test_loop_io_callback_removes_itself_and_another),
	    cmocka_unit_test(test_loop_timers_fire_in_deadline_order),
	    cmocka_unit_test(test_loop_periodic_timer_repeats_until_disarmed),
	    cmocka_unit_test(
		test_loop_timer_past_deadline_fires_next_round_once),
	    cmocka_unit_test(
		test_loop_timer_callback_frees_itself_and_a_due_timer),
	    cmocka_unit_test(test_loop_quit_from_callback_ends_run),
	    cmocka_unit_test(test_loop_run_once_inside_callback_is_refused),
	    cmocka_unit_test(test_loop_wait_is_bounded_by_max_wait),
	    cmocka_unit_test(
		test_loop_destroy_frees_leftover_watches_and_timers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
