/* Unit tests for node/notify.c, the sd_notify protocol by hand: messages
 * arrive on a socket this test binds (a path and an abstract name), the
 * watchdog pings every half period only while healthy, and the variables
 * systemd sets are checked. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "node/notify.h"

#define MS  1000000ull
#define SEC 1000000000ull

static char dir[64];

/* A datagram socket bound to @name ("/path" or "@abstract"), NOTIFY_SOCKET
 * naming it. */
static int listen_on(const char *name)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
				    strlen(name) + (name[0] == '@' ? 0 : 1));
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	memcpy(a.sun_path, name, strlen(name));
	if (name[0] == '@')
		a.sun_path[0] = '\0';
	assert_int_equal(bind(fd, (struct sockaddr *)&a, len), 0);
	assert_int_equal(setenv("NOTIFY_SOCKET", name, 1), 0);
	return fd;
}

/* The next message, or "" when none comes within 100 ms. */
static const char *next_msg(int fd)
{
	static char buf[1024];
	struct pollfd p = {.fd = fd, .events = POLLIN};
	ssize_t n;

	buf[0] = '\0';
	if (poll(&p, 1, 100) != 1)
		return buf;
	n = recv(fd, buf, sizeof(buf) - 1, 0);
	assert_true(n >= 0);
	buf[n] = '\0';
	return buf;
}

static int setup(void **state)
{
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
	return 0;
}

static int group_setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/d4-test-notify-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int group_teardown(void **state)
{
	return rmdir(dir);
}

static void test_notify_outside_systemd_does_nothing(void **state)
{
	struct notify n;

	notify_open(&n);
	assert_int_equal(n.fd, -1);
	assert_false(notify_watchdog_enabled(&n));
	assert_int_equal(notify_send(&n, "READY=1"), 0);
	notify_watchdog(&n, 5 * SEC, true);
	notify_close(&n);
}

static void test_notify_sends_to_a_socket_path(void **state)
{
	char path[128];
	struct notify n;
	int fd;

	snprintf(path, sizeof(path), "%s/notify", dir);
	fd = listen_on(path);
	notify_open(&n);
	assert_true(n.fd >= 0);
	assert_false(notify_watchdog_enabled(&n));
	assert_int_equal(notify_send(&n, "READY=1\nSTATUS=%s", "2 flows"), 0);
	assert_string_equal(next_msg(fd), "READY=1\nSTATUS=2 flows");
	assert_int_equal(notify_send(&n, "STOPPING=1"), 0);
	assert_string_equal(next_msg(fd), "STOPPING=1");
	notify_close(&n);
	assert_int_equal(n.fd, -1);
	close(fd);
	unlink(path);
}

static void test_notify_sends_to_an_abstract_socket(void **state)
{
	char name[64];
	struct notify n;
	int fd;

	snprintf(name, sizeof(name), "@d4-test-notify-%d", (int)getpid());
	fd = listen_on(name);
	notify_open(&n);
	assert_int_equal(notify_send(&n, "READY=1"), 0);
	assert_string_equal(next_msg(fd), "READY=1");
	notify_close(&n);
	close(fd);
}

static void test_notify_long_status_is_cut_not_lost(void **state)
{
	char name[64], big[2000];
	struct notify n;
	int fd;

	snprintf(name, sizeof(name), "@d4-test-notify-long-%d", (int)getpid());
	fd = listen_on(name);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	notify_open(&n);
	assert_int_equal(notify_send(&n, "STATUS=%s", big), 0);
	assert_int_equal(strlen(next_msg(fd)), 511);
	notify_close(&n);
	close(fd);
}

static void test_notify_refuses_what_is_not_a_socket_path(void **state)
{
	struct notify n;

	setenv("NOTIFY_SOCKET", "run/notify", 1);
	notify_open(&n);
	assert_int_equal(n.fd, -1);
	assert_int_equal(notify_send(&n, "READY=1"), 0);
	setenv("NOTIFY_SOCKET", "vsock:2:1234", 1);
	notify_open(&n);
	assert_int_equal(n.fd, -1);
}

static void test_notify_watchdog_pings_every_half_period(void **state)
{
	char name[64];
	struct notify n;
	uint64_t t0 = 1000 * SEC;
	int fd;

	snprintf(name, sizeof(name), "@d4-test-notify-wd-%d", (int)getpid());
	fd = listen_on(name);
	setenv("WATCHDOG_USEC", "2000000", 1);
	notify_open(&n);
	assert_true(notify_watchdog_enabled(&n));
	assert_int_equal(n.watchdog_ns, 2 * SEC);
	/* the first tick pings at once */
	notify_watchdog(&n, t0, true);
	assert_string_equal(next_msg(fd), "WATCHDOG=1");
	/* ticks every 100 ms: the next ping 1 s (half the period) later */
	notify_watchdog(&n, t0 + 100 * MS, true);
	notify_watchdog(&n, t0 + 900 * MS, true);
	assert_string_equal(next_msg(fd), "");
	notify_watchdog(&n, t0 + 1000 * MS, true);
	assert_string_equal(next_msg(fd), "WATCHDOG=1");
	/* unhealthy: nothing, however long */
	notify_watchdog(&n, t0 + 2100 * MS, false);
	notify_watchdog(&n, t0 + 2500 * MS, false);
	notify_watchdog(&n, t0 + 5000 * MS, false);
	assert_string_equal(next_msg(fd), "");
	/* healthy again: a ping on the next tick (its period is over) */
	notify_watchdog(&n, t0 + 5100 * MS, true);
	assert_string_equal(next_msg(fd), "WATCHDOG=1");
	notify_close(&n);
	close(fd);
}

static void test_notify_watchdog_only_for_its_pid(void **state)
{
	char name[64], pid[32];
	struct notify n;
	int fd;

	snprintf(name, sizeof(name), "@d4-test-notify-pid-%d", (int)getpid());
	fd = listen_on(name);
	setenv("WATCHDOG_USEC", "5000000", 1);
	snprintf(pid, sizeof(pid), "%d", (int)getpid() + 1);
	setenv("WATCHDOG_PID", pid, 1);
	notify_open(&n);
	assert_false(notify_watchdog_enabled(&n));
	notify_watchdog(&n, 10 * SEC, true);
	assert_string_equal(next_msg(fd), "");
	notify_close(&n);

	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	setenv("WATCHDOG_PID", pid, 1);
	notify_open(&n);
	assert_true(notify_watchdog_enabled(&n));
	notify_watchdog(&n, 10 * SEC, true);
	assert_string_equal(next_msg(fd), "WATCHDOG=1");
	notify_close(&n);
	close(fd);
}

static void test_notify_watchdog_ignores_a_bad_period(void **state)
{
	char name[64];
	struct notify n;
	int fd;

	snprintf(name, sizeof(name), "@d4-test-notify-bad-%d", (int)getpid());
	fd = listen_on(name);
	setenv("WATCHDOG_USEC", "5s", 1);
	notify_open(&n);
	assert_false(notify_watchdog_enabled(&n));
	notify_close(&n);
	setenv("WATCHDOG_USEC", "0", 1);
	notify_open(&n);
	assert_false(notify_watchdog_enabled(&n));
	/* the socket still works for READY=1 */
	assert_int_equal(notify_send(&n, "READY=1"), 0);
	assert_string_equal(next_msg(fd), "READY=1");
	notify_close(&n);
	close(fd);
}

#define T(f) cmocka_unit_test_setup(f, setup)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_notify_outside_systemd_does_nothing),
	    T(test_notify_sends_to_a_socket_path),
	    T(test_notify_sends_to_an_abstract_socket),
	    T(test_notify_long_status_is_cut_not_lost),
	    T(test_notify_refuses_what_is_not_a_socket_path),
	    T(test_notify_watchdog_pings_every_half_period),
	    T(test_notify_watchdog_only_for_its_pid),
	    T(test_notify_watchdog_ignores_a_bad_period),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
