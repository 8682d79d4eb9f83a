/* The control API under attack (issue 16): slow and idle connections from
 * many addresses do not lock out another client (a per-client cap, a
 * deadline for every request, room kept for newcomers); a request that
 * trickles in is cut at its deadline; HTTP oddities are answered 400
 * (a %00 in the path, two Content-Lengths), and the bearer scheme is
 * case-insensitive. The NMOS routes (/x-nmos, another table on the same
 * listener) are held to the same limits, their errors in NMOS's form.
 * The node runs in a thread (node_harness.h); attackers
 * and probes are raw sockets from 127.0.0.x source addresses, as other
 * hosts would be. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "node_harness.h"

static unsigned int api_port;

static int group_teardown(void **state)
{
	return harness_fini();
}

static int group_setup(void **state)
{
	api_port = free_port(SOCK_STREAM);
	if (harness_init("api-limits", api_port) < 0 ||
	    harness_config("[node]\n"
			   "name = limits\n"
			   "api = %s\n"
			   "state_dir = %s/state\n"
			   "rt_priority = 0\n"
			   "status_interval = 0\n"
			   "[discovery]\n"
			   "sap = off\n"
			   "mdns = off\n"
			   "[nmos]\n"
			   "enable = on\n"
			   "dns_sd = off\n"
			   "p2p = off\n",
			   root_url + strlen("http://"), dir) < 0 ||
	    start_node() < 0) {
		group_teardown(state);
		return -1;
	}
	return 0;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A TCP connection to the API from 127.0.0.@host. -1 on failure. */
static int connect_from(unsigned int host)
{
	struct sockaddr_in src = {.sin_family = AF_INET},
			   dst = {.sin_family = AF_INET,
				  .sin_port = htons((uint16_t)api_port)};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	src.sin_addr.s_addr = htonl(0x7f000000u | host);
	dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&src, sizeof(src)) < 0 ||
	    connect(fd, (struct sockaddr *)&dst, sizeof(dst)) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* Read what @fd answers within @secs into @buf: bytes read, 0 when closed
 * with nothing, -1 on timeout with nothing. */
static ssize_t answer(int fd, char *buf, size_t len, double secs)
{
	double end = now_s() + secs;
	size_t got = 0;

	while (got + 1 < len) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		double left = end - now_s();
		ssize_t n;

		if (left <= 0 || poll(&p, 1, (int)(left * 1000) + 1) <= 0)
			break;
		n = recv(fd, buf + got, len - 1 - got, 0);
		if (n <= 0) {
			buf[got] = '\0';
			return (ssize_t)got;
		}
		got += (size_t)n;
		if (strstr(buf, "\r\n\r\n") && got > 12)
			break;
	}
	buf[got] = '\0';
	return got ? (ssize_t)got : -1;
}

/* One request from 127.0.0.@host: its status line's code, 0 when closed
 * unanswered, -1 on no answer within @secs; what came in @buf. */
static int ask_buf(unsigned int host, const char *req, double secs, char *buf,
		   size_t len)
{
	int fd = connect_from(host), code = -1;
	ssize_t n;

	buf[0] = '\0';
	if (fd < 0)
		return 0;
	if (send(fd, req, strlen(req), MSG_NOSIGNAL) < 0) {
		close(fd);
		return 0;
	}
	n = answer(fd, buf, len, secs);
	if (n == 0)
		code = 0;
	else if (n > 0 && sscanf(buf, "HTTP/1.1 %d", &code) != 1)
		code = 0;
	close(fd);
	return code;
}

static int ask(unsigned int host, const char *req, double secs)
{
	char buf[2048];

	return ask_buf(host, req, secs, buf, sizeof(buf));
}

#define GET_NODE    "GET /api/v1/node HTTP/1.1\r\nHost: n\r\n\r\n"
#define GET_NMOS    "GET /x-nmos/node/v1.3/self HTTP/1.1\r\nHost: n\r\n\r\n"
#define NMOS_STAGED "/x-nmos/connection/v1.1/single/receivers/x/staged"

/* 8 connections from each of 24 addresses, half of them trickling a
 * request that never ends (to d4's API or NMOS's), half idle: 192 against
 * a node that keeps 128. 70 probes from another address, one after
 * another and to both, are each answered within 5 s; the API counts what
 * it cut. */
static void test_limits_slow_clients_do_not_lock_out(void **state)
{
	enum { HOSTS = 24, PER = 8, PROBES = 70 };
	int fds[HOSTS * PER];
	unsigned int i, answered = 0, opened = 0;
	double t0 = now_s();
	json_t *stats;

	for (i = 0; i < HOSTS * PER; i++) {
		fds[i] = connect_from(10 + i / PER);
		if (fds[i] < 0)
			continue;
		opened++;
		if (i % 4 == 1)
			send(fds[i], "GET /api/v1/no", 14, MSG_NOSIGNAL);
		else if (i % 4 == 3)
			send(fds[i], "GET /x-nmos/no", 14, MSG_NOSIGNAL);
	}
	assert_true(opened > 100);
	for (i = 0; i < PROBES; i++) {
		unsigned int k;

		/* the slow ones keep trickling */
		for (k = 1; k < HOSTS * PER; k += 2)
			if (fds[k] >= 0)
				send(fds[k], "x", 1, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (ask(2, i % 2 ? GET_NMOS : GET_NODE, 5.0) == 200)
			answered++;
	}
	print_message("# %u of %u probes answered in %.1f s beside %u "
		      "attacking connections\n",
		      answered, PROBES, now_s() - t0, opened);
	assert_int_equal(answered, PROBES);
	for (i = 0; i < HOSTS * PER; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	/* what was cut to make room is counted */
	stats = get("/stats");
	assert_true(member_int(member(stats, "api"), "evicted") > 0);
	json_decref(stats);
}

/* A request trickled one byte every 200 ms is cut at its deadline (5 s),
 * not served for ever and not cut long before; seconds to the cut. */
static double trickle(const char *path)
{
	char req[256];
	int fd = connect_from(3);
	double t0 = now_s(), cut = 0;
	size_t i, len;

	snprintf(req, sizeof(req),
		 "GET %s HTTP/1.1\r\nX-Slow: "
		 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		 path);
	len = strlen(req);
	assert_true(fd >= 0);
	for (i = 0; i < len && now_s() - t0 < 20; i++) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		char c;

		if (send(fd, req + i, 1, MSG_NOSIGNAL) < 0 ||
		    (poll(&p, 1, 200) > 0 && recv(fd, &c, 1, 0) <= 0)) {
			cut = now_s() - t0;
			break;
		}
	}
	close(fd);
	print_message("# %s: cut after %.1f s\n", path, cut);
	return cut;
}

static void test_limits_trickled_request_is_cut_at_deadline(void **state)
{
	double cut = trickle("/api/v1/node");

	assert_true(cut >= 4.0 && cut <= 12.0);
	cut = trickle("/x-nmos/node/v1.3/self");
	assert_true(cut >= 4.0 && cut <= 12.0);
}

/* A 9th connection from one address is refused while 8 are open; the
 * 8 are served. */
static void test_limits_per_client_cap(void **state)
{
	int fds[8], ninth;
	unsigned int i;
	char buf[64];

	for (i = 0; i < 8; i++) {
		fds[i] = connect_from(4);
		assert_true(fds[i] >= 0);
	}
	/* libmicrohttpd accepts, then closes what is over the cap */
	ninth = connect_from(4);
	if (ninth >= 0) {
		send(ninth, GET_NODE, strlen(GET_NODE), MSG_NOSIGNAL);
		assert_int_equal(answer(ninth, buf, sizeof(buf), 5.0), 0);
		close(ninth);
	}
	assert_int_equal(send(fds[0], GET_NODE, strlen(GET_NODE), 0),
			 (ssize_t)strlen(GET_NODE));
	assert_true(answer(fds[0], buf, sizeof(buf), 5.0) > 0);
	assert_non_null(strstr(buf, "HTTP/1.1 200"));
	for (i = 0; i < 8; i++)
		close(fds[i]);
}

static void test_limits_http_oddities_are_400(void **state)
{
	char req[512];
	struct reply r;

	assert_int_equal(ask(5, "GET /api/v1/flows/%00 HTTP/1.1\r\nHost: "
				"n\r\n\r\n",
			     5.0),
			 400);
	assert_int_equal(ask(5, "GET /api/v1/flows/%zz HTTP/1.1\r\nHost: "
				"n\r\n\r\n",
			     5.0),
			 400);
	/* the first Content-Length says 5, the body has 2: without the
	 * check libmicrohttpd waits for 3 more bytes */
	snprintf(req, sizeof(req),
		 "POST /api/v1/flows HTTP/1.1\r\nHost: n\r\n"
		 "Authorization: Bearer %s\r\nContent-Length: 5\r\n"
		 "Content-Length: 2\r\n\r\n{}",
		 token);
	assert_int_equal(ask(5, req, 5.0), 400);
	snprintf(req, sizeof(req),
		 "POST /api/v1/flows HTTP/1.1\r\nHost: n\r\n"
		 "Authorization: Bearer %s\r\nContent-Length: 2\r\n"
		 "Transfer-Encoding: chunked\r\n\r\n{}",
		 token);
	assert_int_equal(ask(5, req, 5.0), 400);
	/* the scheme in any case, more than one space */
	snprintf(req, sizeof(req), "bearer   %s", token);
	call(&r, "PUT", "/node", "{\"name\":\"limits2\"}", req);
	assert_true(r.status != 401);
	reply_free(&r);
	snprintf(req, sizeof(req), "BEARER %s", token);
	call(&r, "PUT", "/node", "{\"name\":\"limits\"}", req);
	assert_true(r.status != 401);
	reply_free(&r);
	snprintf(req, sizeof(req), "Basic %s", token);
	call(&r, "PUT", "/node", "{\"name\":\"limits3\"}", req);
	assert_int_equal(r.status, 401);
	reply_free(&r);
}

/* The oddities under /x-nmos: the same 400s, 401s for the same tokens,
 * in NMOS's error form ({"code", "error", "debug"}). */
static void test_limits_nmos_routes_same_rules(void **state)
{
	char req[512], buf[2048];
	struct reply r;

	assert_int_equal(ask_buf(6,
				 "GET /x-nmos/node/v1.3/%00 HTTP/1.1\r\n"
				 "Host: n\r\n\r\n",
				 5.0, buf, sizeof(buf)),
			 400);
	assert_non_null(strstr(buf, "Access-Control-Allow-Origin"));
	assert_int_equal(ask(6,
			     "GET /x-nmos/node/v1.3/%zz HTTP/1.1\r\nHost: "
			     "n\r\n\r\n",
			     5.0),
			 400);
	snprintf(req, sizeof(req),
		 "PATCH %s HTTP/1.1\r\nHost: n\r\n"
		 "Authorization: Bearer %s\r\nContent-Length: 5\r\n"
		 "Content-Length: 2\r\n\r\n{}",
		 NMOS_STAGED, token);
	assert_int_equal(ask_buf(6, req, 5.0, buf, sizeof(buf)), 400);
	assert_non_null(strstr(buf, "\"code\":400"));
	/* the bearer scheme in any case, more than one space */
	snprintf(req, sizeof(req), "bearer   %s", token);
	request(&r, "PATCH", NMOS_STAGED, "{}", 2, req);
	assert_true(r.status != 401);
	reply_free(&r);
	snprintf(req, sizeof(req), "Basic %s", token);
	request(&r, "PATCH", NMOS_STAGED, "{}", 2, req);
	assert_int_equal(r.status, 401);
	assert_int_equal(member_int(r.json, "code"), 401);
	reply_free(&r);
}

int main(void)
{
	/* as in test_api.c: under qemu-user a thread of qemu's keeps
	 * capabilities the node cannot drop, and node_run refuses to start */
	if (getenv("D4_QEMU_USER")) {
		printf("1..0 # SKIP qemu-user: a thread keeps capabilities "
		       "the node cannot drop, so node_run refuses to start\n");
		return 0;
	}
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_limits_http_oddities_are_400),
	    cmocka_unit_test(test_limits_nmos_routes_same_rules),
	    cmocka_unit_test(test_limits_per_client_cap),
	    cmocka_unit_test(test_limits_trickled_request_is_cut_at_deadline),
	    cmocka_unit_test(test_limits_slow_clients_do_not_lock_out),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
