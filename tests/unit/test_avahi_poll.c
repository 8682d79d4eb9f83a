/* The AvahiPoll adapter, driven through Avahi's vtable as libavahi-client
 * and libdbus drive it: two watches on one fd (libdbus's read and write
 * watches) each get their own events, watches and timeouts may be freed or
 * re-armed from their own callbacks, absolute gettimeofday() deadlines map
 * onto the monotonic loop, and leftovers are freed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "common/loop.h"
#include "discovery/avahi_poll.h"

#define MS 1000000ull

struct wrec {
	const AvahiPoll *api;
	int calls;
	AvahiWatchEvent got;
	AvahiWatchEvent got_via_get;
	AvahiWatch *self;
	AvahiWatch **victim;
	bool free_self;
	bool drain;
};

static void wcb(AvahiWatch *w, int fd, AvahiWatchEvent ev, void *data)
{
	struct wrec *r = data;
	char buf[64];

	r->calls++;
	r->got = ev;
	r->got_via_get = r->api->watch_get_events(w);
	if (r->drain && (ev & AVAHI_WATCH_IN))
		while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
			;
	if (r->victim && *r->victim) {
		r->api->watch_free(*r->victim);
		*r->victim = NULL;
	}
	if (r->free_self) {
		r->api->watch_free(w);
		r->self = NULL;
	}
}

static void rounds(struct loop *loop, int n)
{
	while (n--)
		loop_run_once(loop, 5);
}

static void test_avahi_poll_two_watches_on_one_fd_get_their_events(void **state)
{
	struct loop *loop = loop_new();
	AvahiPoll *api = avahi_poll_new(loop);
	struct wrec rd = {.api = api, .drain = true}, wr = {.api = api};
	int sv[2];

	assert_non_null(api);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	rd.self = api->watch_new(api, sv[0], AVAHI_WATCH_IN, wcb, &rd);
	wr.self = api->watch_new(api, sv[0], AVAHI_WATCH_OUT, wcb, &wr);
	assert_non_null(rd.self);
	assert_non_null(wr.self);

	/* writable at once; nothing to read */
	rounds(loop, 1);
	assert_true(wr.calls >= 1);
	assert_int_equal(wr.got, AVAHI_WATCH_OUT);
	assert_int_equal(wr.got_via_get, AVAHI_WATCH_OUT);
	assert_int_equal(rd.calls, 0);
	/* outside a callback there are no events to get */
	assert_int_equal(api->watch_get_events(wr.self), 0);

	/* switch the write watch off, like libdbus with an empty queue */
	api->watch_update(wr.self, 0);
	wr.calls = 0;
	assert_int_equal(write(sv[1], "x", 1), 1);
	rounds(loop, 2);
	assert_int_equal(rd.calls, 1);
	assert_int_equal(rd.got, AVAHI_WATCH_IN);
	assert_int_equal(wr.calls, 0);

	/* the peer hangs up: both hear it, each within its own events */
	api->watch_update(wr.self, AVAHI_WATCH_OUT);
	close(sv[1]);
	rd.calls = wr.calls = 0;
	rounds(loop, 1);
	assert_true(rd.calls >= 1);
	assert_true(rd.got & (AVAHI_WATCH_IN | AVAHI_WATCH_HUP));
	api->watch_free(rd.self);
	api->watch_free(wr.self);
	close(sv[0]);
	avahi_poll_free(api);
	loop_destroy(loop);
}

static void test_avahi_poll_watch_frees_itself_and_its_sibling(void **state)
{
	struct loop *loop = loop_new();
	AvahiPoll *api = avahi_poll_new(loop);
	struct wrec a = {.api = api}, b = {.api = api};
	AvahiWatch *wa, *wb;
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	wa = api->watch_new(api, sv[0], AVAHI_WATCH_OUT, wcb, &a);
	wb = api->watch_new(api, sv[0], AVAHI_WATCH_OUT, wcb, &b);
	/* whichever runs first frees the other and itself */
	a.victim = &wb;
	a.free_self = true;
	b.victim = &wa;
	b.free_self = true;
	rounds(loop, 3);
	assert_int_equal(a.calls + b.calls, 1);
	/* the fd is free for a new watch afterwards */
	a = (struct wrec){.api = api, .free_self = true};
	wa = api->watch_new(api, sv[0], AVAHI_WATCH_OUT, wcb, &a);
	assert_non_null(wa);
	rounds(loop, 2);
	assert_int_equal(a.calls, 1);
	close(sv[0]);
	close(sv[1]);
	avahi_poll_free(api);
	loop_destroy(loop);
}

struct trec {
	const AvahiPoll *api;
	int calls;
	uint64_t at_ns;
	int rearm_times; /* re-arm 10 ms ahead this many times */
	bool free_self;
};

static void tv_in(struct timeval *tv, int64_t ms)
{
	gettimeofday(tv, NULL);
	tv->tv_sec += ms / 1000;
	tv->tv_usec += (ms % 1000) * 1000;
	while (tv->tv_usec >= 1000000) {
		tv->tv_sec++;
		tv->tv_usec -= 1000000;
	}
	while (tv->tv_usec < 0) {
		tv->tv_sec--;
		tv->tv_usec += 1000000;
	}
}

static void tcb(AvahiTimeout *t, void *data)
{
	struct trec *r = data;
	struct timeval tv;

	r->calls++;
	r->at_ns = loop_now_ns();
	if (r->rearm_times > 0) {
		r->rearm_times--;
		tv_in(&tv, 10);
		r->api->timeout_update(t, &tv);
	}
	if (r->free_self)
		r->api->timeout_free(t);
}

static void test_avahi_poll_timeouts_fire_once_at_absolute_time(void **state)
{
	struct loop *loop = loop_new();
	AvahiPoll *api = avahi_poll_new(loop);
	struct trec r = {.api = api}, never = {.api = api};
	AvahiTimeout *t, *n;
	struct timeval tv;
	uint64_t t0 = loop_now_ns(), end;

	tv_in(&tv, 30);
	t = api->timeout_new(api, &tv, tcb, &r);
	n = api->timeout_new(api, NULL, tcb, &never);
	assert_non_null(t);
	assert_non_null(n);
	end = t0 + 120 * MS;
	while (loop_now_ns() < end)
		loop_run_once(loop, 5);
	assert_int_equal(r.calls, 1); /* one-shot */
	assert_true(r.at_ns >= t0 + 29 * MS);
	assert_int_equal(never.calls, 0);

	/* a time in the past fires on the next round */
	tv_in(&tv, -5000);
	api->timeout_update(n, &tv);
	loop_run_once(loop, 50);
	assert_int_equal(never.calls, 1);
	/* NULL disarms */
	tv_in(&tv, 10);
	api->timeout_update(n, &tv);
	api->timeout_update(n, NULL);
	end = loop_now_ns() + 40 * MS;
	while (loop_now_ns() < end)
		loop_run_once(loop, 5);
	assert_int_equal(never.calls, 1);
	api->timeout_free(t);
	api->timeout_free(n);
	avahi_poll_free(api);
	loop_destroy(loop);
}

static void test_avahi_poll_timeout_rearms_and_frees_itself(void **state)
{
	struct loop *loop = loop_new();
	AvahiPoll *api = avahi_poll_new(loop);
	struct trec r = {.api = api, .rearm_times = 3};
	struct trec f = {.api = api, .free_self = true};
	struct timeval tv;
	uint64_t end;

	tv_in(&tv, 0);
	api->timeout_new(api, &tv, tcb, &r);
	api->timeout_new(api, &tv, tcb, &f);
	end = loop_now_ns() + 400 * MS;
	while (loop_now_ns() < end)
		loop_run_once(loop, 5);
	assert_int_equal(r.calls, 4);
	assert_int_equal(f.calls, 1);
	/* r's timeout is left for avahi_poll_free to reclaim (ASan checks) */
	avahi_poll_free(api);
	loop_destroy(loop);
}

static void test_avahi_poll_free_reclaims_leftover_watches(void **state)
{
	struct loop *loop = loop_new();
	AvahiPoll *api = avahi_poll_new(loop);
	struct wrec a = {.api = api};
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_non_null(api->watch_new(api, sv[0], AVAHI_WATCH_IN, wcb, &a));
	assert_non_null(api->watch_new(api, sv[0], AVAHI_WATCH_OUT, wcb, &a));
	assert_non_null(api->watch_new(api, sv[1], AVAHI_WATCH_IN, wcb, &a));
	avahi_poll_free(api);
	avahi_poll_free(NULL);
	/* the loop holds nothing of the adapter's any more */
	assert_int_equal(loop_run_once(loop, 0), 0);
	close(sv[0]);
	close(sv[1]);
	loop_destroy(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(
		test_avahi_poll_two_watches_on_one_fd_get_their_events),
	    cmocka_unit_test(
		test_avahi_poll_watch_frees_itself_and_its_sibling),
	    cmocka_unit_test(
		test_avahi_poll_timeouts_fire_once_at_absolute_time),
	    cmocka_unit_test(test_avahi_poll_timeout_rearms_and_frees_itself),
	    cmocka_unit_test(test_avahi_poll_free_reclaims_leftover_watches),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
