/* mDNS without avahi-daemon (never run one outside a lab namespace): with
 * no D-Bus the node keeps going, reports failure and retries; on a private
 * bus with no daemon it waits in "connecting"; when that bus dies it
 * reports failure and reconnects once the bus is back. Publishing and
 * browsing meanwhile are queued, and everything frees cleanly (ASan). The
 * daemon's side (publish, browse, collisions, restarts) is a lab test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/loop.h"
#include "discovery/mdns.h"

#define MS 1000000ull

static char bus_dir[64];
static char bus_path[96];

struct states {
	int n;
	enum mdns_state seq[32];
	char last_why[256];
};

static void on_state(void *data, enum mdns_state st, const char *why)
{
	struct states *s = data;

	if (s->n < 32)
		s->seq[s->n++] = st;
	snprintf(s->last_why, sizeof(s->last_why), "%s", why);
}

static const struct mdns_callbacks cbs = {.state = on_state};

static bool bus_up(void)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM, 0), ok;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", bus_path);
	ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return ok;
}

/* A private dbus-daemon on bus_path, or -1 when there is none to run. */
static pid_t bus_start(void)
{
	char addr[128];
	pid_t pid;
	int i, status;

	snprintf(addr, sizeof(addr), "--address=unix:path=%s", bus_path);
	unlink(bus_path);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);

		dup2(null, 1);
		dup2(null, 2);
		execlp("dbus-daemon", "dbus-daemon", "--session", "--nofork",
		       addr, (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 500; i++) {
		if (bus_up())
			return pid;
		if (waitpid(pid, &status, WNOHANG) == pid)
			return -1;
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return -1;
}

static void bus_stop(pid_t pid)
{
	int status;

	kill(pid, SIGTERM);
	waitpid(pid, &status, 0);
	unlink(bus_path);
}

static bool run_until_state(struct loop *loop, struct mdns *m,
			    enum mdns_state want, uint64_t ns)
{
	uint64_t end = loop_now_ns() + ns;

	while (loop_now_ns() < end) {
		if (mdns_get_state(m) == want)
			return true;
		loop_run_once(loop, 10);
	}
	return mdns_get_state(m) == want;
}

static void browse_cb(void *data, enum mdns_event ev,
		      const struct mdns_instance *inst)
{
	(*(int *)data)++;
}

static struct mdns_service *publish_node(struct mdns *m)
{
	static const char *const txt[] = {"id=abc", "name=Stage", "version=0.1",
					  "tx=8",   "rx=8",	  "api=/api/v1",
					  NULL};
	struct mdns_service_desc d = {
	    .type = MDNS_TYPE_D4NODE,
	    .name = "Stage box",
	    .port = 8080,
	    .txt = txt,
	};

	return mdns_publish(m, &d);
}

static struct mdns_service *publish_flow(struct mdns *m)
{
	static const char *const sub[] = {MDNS_SUBTYPE_RAVENNA, NULL};
	struct mdns_service_desc d = {
	    .type = MDNS_TYPE_RTSP,
	    .subtypes = sub,
	    .name = "Stage box: flow 1",
	    .port = 9000,
	};

	return mdns_publish(m, &d);
}

static void test_mdns_without_dbus_reports_failure_and_queues(void **state)
{
	struct loop *loop = loop_new();
	struct states st = {0};
	struct mdns *m;
	struct mdns_service *node, *flow;
	struct mdns_browser *b;
	static const char *const txt2[] = {"id=abc", "tx=2", NULL};
	int seen = 0;

	unlink(bus_path);
	m = mdns_new(loop, &cbs, &st);
	assert_non_null(m);
	assert_int_equal(st.n, 1);
	assert_int_equal(st.seq[0], MDNS_STATE_FAILURE);
	assert_non_null(strstr(st.last_why, "D-Bus"));
	assert_int_equal(mdns_get_state(m), MDNS_STATE_FAILURE);
	assert_null(mdns_host_name(m));

	node = publish_node(m);
	flow = publish_flow(m);
	assert_non_null(node);
	assert_non_null(flow);
	assert_string_equal(mdns_service_name(node), "Stage box");
	assert_false(mdns_service_established(node));
	assert_int_equal(mdns_service_set_txt(node, txt2), 0);
	b = mdns_browse(m, MDNS_TYPE_RAVENNA_SESSION, browse_cb, &seen);
	assert_non_null(b);

	/* retries do not repeat the report */
	mdns_set_retry_interval(m, 20 * MS);
	{
		uint64_t end = loop_now_ns() + 100 * MS;

		while (loop_now_ns() < end)
			loop_run_once(loop, 10);
	}
	assert_int_equal(st.n, 1);
	assert_int_equal(seen, 0);

	mdns_unpublish(flow);
	mdns_browser_free(b);
	mdns_destroy(m); /* frees the node service too */
	loop_destroy(loop);
}

static void
test_mdns_bus_without_daemon_waits_then_survives_bus_loss(void **state)
{
	struct loop *loop = loop_new();
	struct states st = {0};
	struct mdns *m;
	int seen = 0;
	pid_t bus;

	bus = bus_start();
	if (bus < 0) {
		loop_destroy(loop);
		skip(); /* no dbus-daemon to run */
	}
	m = mdns_new(loop, &cbs, &st);
	assert_non_null(m);
	mdns_set_retry_interval(m, 50 * MS);
	assert_int_equal(mdns_get_state(m), MDNS_STATE_CONNECTING);
	assert_non_null(strstr(st.last_why, "not running"));
	assert_non_null(publish_node(m));
	assert_non_null(publish_flow(m));
	assert_non_null(mdns_browse(m, MDNS_TYPE_D4NODE, browse_cb, &seen));

	/* the bus goes away: failure, reported once, then retries */
	bus_stop(bus);
	assert_true(run_until_state(loop, m, MDNS_STATE_FAILURE, 3000 * MS));
	{
		int n = st.n;
		uint64_t end = loop_now_ns() + 200 * MS;

		while (loop_now_ns() < end)
			loop_run_once(loop, 10);
		assert_int_equal(st.n, n);
	}

	/* the bus is back: waiting for the daemon again */
	bus = bus_start();
	assert_true(bus > 0);
	assert_true(run_until_state(loop, m, MDNS_STATE_CONNECTING, 3000 * MS));
	assert_int_equal(st.seq[0], MDNS_STATE_CONNECTING);
	assert_int_equal(st.seq[1], MDNS_STATE_FAILURE);
	assert_int_equal(st.seq[st.n - 1], MDNS_STATE_CONNECTING);
	assert_int_equal(seen, 0);

	mdns_destroy(m);
	bus_stop(bus);
	loop_destroy(loop);
}

static void test_mdns_refuses_bad_services_and_browses(void **state)
{
	struct loop *loop = loop_new();
	struct mdns *m;
	struct mdns_service_desc d = {.type = "d4node", .name = "x", .port = 1};
	char longname[80];
	int seen;

	unlink(bus_path);
	m = mdns_new(loop, NULL, NULL);
	assert_non_null(m);
	assert_null(mdns_publish(m, &d));
	d.type = "_d4node._tcp";
	d.name = "";
	assert_null(mdns_publish(m, &d));
	memset(longname, 'n', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	d.name = longname;
	assert_null(mdns_publish(m, &d));
	assert_null(mdns_publish(m, NULL));
	assert_null(mdns_browse(m, "no type", browse_cb, &seen));
	assert_null(mdns_browse(m, MDNS_TYPE_D4NODE, NULL, &seen));
	mdns_unpublish(NULL);
	mdns_browser_free(NULL);
	mdns_destroy(m);
	mdns_destroy(NULL);
	loop_destroy(loop);
}

static void test_mdns_txt_get_finds_keys(void **state)
{
	static const char *const txt[] = {"id=abc", "flag", "Name=Stage",
					  "empty=", NULL};
	struct mdns_instance in = {.txt = txt};

	assert_string_equal(mdns_txt_get(&in, "id"), "abc");
	assert_string_equal(mdns_txt_get(&in, "name"), "Stage");
	assert_string_equal(mdns_txt_get(&in, "flag"), "");
	assert_string_equal(mdns_txt_get(&in, "empty"), "");
	assert_null(mdns_txt_get(&in, "i"));
	assert_null(mdns_txt_get(&in, "missing"));
	assert_string_equal(mdns_state_name(MDNS_STATE_RUNNING), "running");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_mdns_without_dbus_reports_failure_and_queues),
	    cmocka_unit_test(
		test_mdns_bus_without_daemon_waits_then_survives_bus_loss),
	    cmocka_unit_test(test_mdns_refuses_bad_services_and_browses),
	    cmocka_unit_test(test_mdns_txt_get_finds_keys),
	};
	char addr[128];
	int ret;

	/* libdbus reads the address once per process: one private path,
	 * with or without a bus behind it, for every test */
	snprintf(bus_dir, sizeof(bus_dir), "/tmp/d4-test-mdns.%d",
		 (int)getpid());
	mkdir(bus_dir, 0700);
	snprintf(bus_path, sizeof(bus_path), "%s/bus", bus_dir);
	snprintf(addr, sizeof(addr), "unix:path=%s", bus_path);
	setenv("DBUS_SYSTEM_BUS_ADDRESS", addr, 1);
	ret = cmocka_run_group_tests(tests, NULL, NULL);
	unlink(bus_path);
	rmdir(bus_dir);
	return ret;
}
