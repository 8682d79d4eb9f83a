/* The control API's D4 writes on a whole node (node/node_api.c,
 * node/relay.c; the harness of test_api.c): a loop loaded with `on udp`
 * through POST /d4/exec binds its socket and relays (or the text is
 * refused and nothing changes), and a D4 write whose state cannot be saved
 * is answered 507 and undone. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "node_harness.h"

#define NODE_NAME "d4apitest"
#define WAIT_MS	  10000 /* a loaded machine */

static int group_teardown(void **state)
{
	return harness_fini();
}

static int group_setup(void **state)
{
	if (harness_init("api_d4", free_port(SOCK_STREAM)) < 0 ||
	    harness_config("[node]\n"
			   "name = " NODE_NAME "\n"
			   "api = %s\n"
			   "state_dir = %s/state\n"
			   "rt_priority = 0\n"
			   "status_interval = 0\n"
			   "[discovery]\n"
			   "sap = off\n"
			   "mdns = off\n",
			   root_url + strlen("http://"), dir) < 0 ||
	    start_node() < 0) {
		group_teardown(state);
		return -1;
	}
	return 0;
}

/* A UDP socket of ours on 127.0.0.1:@port (no SO_REUSEADDR: a second
 * bind of the port fails while it is open), or -1. */
static int udp_on(unsigned int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons((uint16_t)port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a))) {
		close(fd);
		fd = -1;
	}
	return fd;
}

static void send_to(unsigned int port, const char *text)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons((uint16_t)port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(
	    sendto(fd, text, strlen(text), 0, (struct sockaddr *)&a, sizeof(a)),
	    (ssize_t)strlen(text));
	close(fd);
}

/* @field of loop @name in GET /d4/programs, -1 when there is no loop. */
static json_int_t program_field(const char *name, const char *field)
{
	json_t *j = get("/d4/programs"), *p = named(j, name);
	json_int_t v = p ? member_int(p, field) : -1;

	json_decref(j);
	return v;
}

static bool var_listed(const char *name)
{
	return listed("/d4/vars", name);
}

/* POST /d4/exec {"text": @text}: the reply (the caller frees it). */
static void exec_text(struct reply *r, const char *text)
{
	json_t *b = json_pack("{s:s}", "text", text);
	char *body = json_dumps(b, 0);

	call(r, "POST", "/d4/exec", body, AUTH_TOKEN);
	free(body);
	json_decref(b);
}

static void test_api_d4_exec_on_udp_binds_and_relays(void **state)
{
	unsigned int in = free_port(SOCK_DGRAM), out = free_port(SOCK_DGRAM);
	struct pollfd p = {.events = POLLIN};
	struct reply r;
	char text[512], buf[64], big[1601];
	json_int_t pkts = 0;
	ssize_t n;
	int i;

	assert_true(in && out && in != out);
	p.fd = udp_on(out);
	assert_true(p.fd >= 0);
	snprintf(text, sizeof(text),
		 "IP[] _fan\n"
		 "_fan += 127.0.0.1:%u\n"
		 "loop fan on udp 127.0.0.1:%u {\n"
		 "pkt = recv()\n"
		 "for ip in _fan:\n"
		 "  sendto(pkt, ip)\n"
		 "endfor\n"
		 "}\n",
		 out, in);
	exec_text(&r, text);
	assert_status(&r, 200);
	reply_free(&r);
	/* bound now: the port is the node's */
	assert_int_equal(udp_on(in), -1);
	json_decref(ok("POST", "/d4/programs/fan/start", NULL, 200));
	for (i = 0; i < WAIT_MS / 100 && pkts < 1; i++) {
		send_to(in, "through the api's loop");
		if (poll(&p, 1, 100) > 0)
			break;
		pkts = program_field("fan", "pkts_in");
	}
	n = recv(p.fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_string_equal(buf, "through the api's loop");
	for (i = 0; i < WAIT_MS / 100 && pkts < 1; i++) {
		pkts = program_field("fan", "pkts_in");
		usleep(100 * 1000);
	}
	assert_true(pkts >= 1);
	assert_true(program_field("fan", "pkts_sent") >= 1);
	assert_true(program_field("fan", "budget_drops") == 0);
	assert_true(program_field("fan", "datagrams") >= 1);
	assert_int_equal(program_field("fan", "send_errors"), 0);
	assert_int_equal(program_field("fan", "too_big"), 0);
	/* a datagram over 1500 bytes is not sent on, and says why */
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	send_to(in, big);
	for (i = 0; i < WAIT_MS / 100 && program_field("fan", "too_big") < 1;
	     i++)
		usleep(100 * 1000);
	assert_int_equal(program_field("fan", "too_big"), 1);
	assert_true(recv(p.fd, buf, sizeof(buf), MSG_DONTWAIT) < 0);
	close(p.fd);
}

/* A loop @loop on @loop_ip at the port of subscription @sub (made on
 * 127.0.0.1, on its second leg's port with @leg2) is refused: it would
 * take the subscription's packets. */
static void loop_refused_on_sub_port(const char *sub, const char *loop,
				     const char *loop_ip, bool leg2)
{
	unsigned int port = free_port(SOCK_DGRAM),
		     port2 = leg2 ? free_port(SOCK_DGRAM) : 0;
	char text[512], want[256], path[64];
	struct reply r;

	if (leg2)
		snprintf(text, sizeof(text),
			 "{\"name\":\"%s\",\"address\":\"127.0.0.1:%u\","
			 "\"address2\":\"127.0.0.1:%u\",\"channels\":2}",
			 sub, port, port2);
	else
		snprintf(text, sizeof(text),
			 "{\"name\":\"%s\",\"address\":\"127.0.0.1:%u\","
			 "\"channels\":2}",
			 sub, port);
	call(&r, "POST", "/subscriptions", text, AUTH_TOKEN);
	assert_status(&r, 201);
	reply_free(&r);
	snprintf(text, sizeof(text),
		 "loop %s on udp %s:%u {\npkt = recv()\n}\n", loop, loop_ip,
		 leg2 ? port2 : port);
	exec_text(&r, text);
	snprintf(want, sizeof(want),
		 "udp %s:%u: subscription '%s' receives on that port%s",
		 loop_ip, leg2 ? port2 : port, sub,
		 leg2 ? " (its second leg)" : "");
	assert_error(&r, 400, want);
	reply_free(&r);
	assert_int_equal(program_field(loop, "pkts_in"), -1);
	snprintf(path, sizeof(path), "/subscriptions/%s", sub);
	call(&r, "DELETE", path, NULL, AUTH_TOKEN);
	reply_free(&r);
}

static void test_api_d4_exec_unbindable_is_refused_whole(void **state)
{
	unsigned int port = free_port(SOCK_DGRAM);
	int fd = udp_on(port);
	struct reply r;
	char text[256], want[128];

	assert_true(fd >= 0);
	/* the port is ours: the node cannot listen there */
	snprintf(text, sizeof(text),
		 "IP[] _taken_list\n"
		 "loop taken on udp 127.0.0.1:%u {\npkt = recv()\n}\n",
		 port);
	exec_text(&r, text);
	snprintf(want, sizeof(want),
		 "loop taken: cannot listen on 127.0.0.1:%u: Address already "
		 "in use",
		 port);
	assert_error(&r, 400, want);
	reply_free(&r);
	assert_int_equal(program_field("taken", "pkts_in"), -1);
	assert_false(var_listed("_taken_list"));
	close(fd);

	/* below 1024 once the node has dropped its privileges */
	exec_text(&r, "loop low on udp 127.0.0.1:999 {\npkt = recv()\n}\n");
	assert_error(&r, 400,
		     "loop low: cannot listen on 127.0.0.1:999: Permission "
		     "denied");
	reply_free(&r);
	assert_int_equal(program_field("low", "pkts_in"), -1);

	/* the same text on a free port is taken */
	exec_text(&r, text);
	assert_status(&r, 200);
	reply_free(&r);
	assert_int_equal(program_field("taken", "pkts_in"), 0);
	assert_true(var_listed("_taken_list"));

	/* a subscription's port: the node's own sockets share ports
	 * (SO_REUSEADDR), and the loop would take the subscription's
	 * packets; refused */
	loop_refused_on_sub_port("held", "steal", "127.0.0.1", false);
	/* nor a second leg's port (ST 2022-7: an attacker bound it) */
	loop_refused_on_sub_port("held2", "steal2", "127.0.0.1", true);
	/* a unicast socket is bound to 0.0.0.0 whatever address it was
	 * given: a loop on another local address of a subscription's port
	 * takes its packets too (an attacker's) */
	loop_refused_on_sub_port("held3", "steal3", "127.0.0.2", false);
	/* and the other way: a unicast subscription on a loop's port
	 * would take the loop's packets (an attacker moved one there by
	 * forged SAP); refused */
	port = free_port(SOCK_DGRAM);
	snprintf(text, sizeof(text),
		 "loop guard on udp 127.0.0.1:%u {\npkt = recv()\n}\n", port);
	exec_text(&r, text);
	assert_status(&r, 200);
	reply_free(&r);
	snprintf(text, sizeof(text),
		 "{\"name\":\"thief\",\"address\":\"127.0.0.1:%u\","
		 "\"channels\":2}",
		 port);
	call(&r, "POST", "/subscriptions", text, AUTH_TOKEN);
	snprintf(want, sizeof(want),
		 "port %u: D4 loop 'guard' receives on it (udp 127.0.0.1:%u)",
		 port, port);
	assert_error(&r, 409, want);
	reply_free(&r);
}

/* state.json.tmp a directory: the state cannot be written. */
static void block_state(bool on)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/state/state.json.tmp", dir);
	if (on)
		assert_int_equal(mkdir(path, 0700), 0);
	else
		assert_int_equal(rmdir(path), 0);
}

static void test_api_d4_not_saved_is_undone(void **state)
{
	unsigned int port = free_port(SOCK_DGRAM);
	struct reply r;
	char text[256];
	json_t *j;
	int fd;

	json_decref(ok("POST", "/d4/exec",
		       "{\"text\":\"int _kept = 5\\nIP[] _l\\n"
		       "_l += 10.0.0.1:9\"}",
		       200));
	block_state(true);
	/* a value, a list, a declaration: 507 and all as before */
	exec_text(&r, "_kept = 6\n_l += 10.0.0.2:9\nint _new = 1");
	assert_error(&r, 507, "not saved");
	reply_free(&r);
	j = get("/d4/vars");
	assert_string_equal(member_str(named(j, "_kept"), "value"), "5");
	assert_string_equal(member_str(named(j, "_l"), "value"),
			    "[10.0.0.1:9]");
	assert_null(named(j, "_new"));
	json_decref(j);
	/* a loop bound to UDP: not loaded, its port let go */
	snprintf(text, sizeof(text),
		 "loop unsaved on udp 127.0.0.1:%u {\npkt = recv()\n}\n", port);
	exec_text(&r, text);
	assert_error(&r, 507, "not saved");
	reply_free(&r);
	assert_int_equal(program_field("unsaved", "pkts_in"), -1);
	fd = udp_on(port);
	assert_true(fd >= 0);
	close(fd);
	block_state(false);

	/* start and stop: the loop runs as before */
	exec_text(&r, text);
	assert_status(&r, 200);
	reply_free(&r);
	block_state(true);
	call(&r, "POST", "/d4/programs/unsaved/start", NULL, AUTH_TOKEN);
	assert_error(&r, 507, "not saved");
	reply_free(&r);
	j = get("/d4/programs");
	assert_true(json_is_false(member(named(j, "unsaved"), "running")));
	json_decref(j);
	block_state(false);

	/* saved again: the same change is taken */
	json_decref(ok("POST", "/d4/exec", "{\"text\":\"_kept = 6\"}", 200));
	j = get("/d4/vars");
	assert_string_equal(member_str(named(j, "_kept"), "value"), "6");
	json_decref(j);
}

/* DELETE /d4/programs/NAME: a loop loaded through the API goes, its port
 * let go and its text out of state.json; its variables stay; the same
 * loop loads again (a new user could neither remove nor reload one). */
static void test_api_d4_loop_delete(void **state)
{
	unsigned int port = free_port(SOCK_DGRAM);
	struct reply r;
	char text[256], path[300], *saved;
	FILE *f;
	long len;
	int fd;

	snprintf(text, sizeof(text),
		 "IP[] _gone_list\n"
		 "loop gone on udp 127.0.0.1:%u {\npkt = recv()\n"
		 "for ip in _gone_list:\n  sendto(pkt, ip)\nendfor\n}\n",
		 port);
	exec_text(&r, text);
	assert_status(&r, 200);
	reply_free(&r);
	json_decref(ok("POST", "/d4/programs/gone/start", NULL, 200));
	assert_int_equal(udp_on(port), -1);
	/* a state that cannot be saved: 507, the loop still there */
	block_state(true);
	call(&r, "DELETE", "/d4/programs/gone", NULL, AUTH_TOKEN);
	assert_error(&r, 507, "not saved");
	reply_free(&r);
	block_state(false);
	assert_int_equal(program_field("gone", "pkts_in"), 0);
	call(&r, "DELETE", "/d4/programs/gone", NULL, AUTH_TOKEN);
	assert_status(&r, 204);
	reply_free(&r);
	assert_int_equal(program_field("gone", "pkts_in"), -1);
	assert_true(var_listed("_gone_list"));
	fd = udp_on(port); /* its port let go */
	assert_true(fd >= 0);
	close(fd);
	snprintf(path, sizeof(path), "%s/state/" NODE_NAME "/state.json", dir);
	f = fopen(path, "r");
	if (!f) {
		snprintf(path, sizeof(path), "%s/state/state.json", dir);
		f = fopen(path, "r");
	}
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	rewind(f);
	saved = calloc(1, (size_t)len + 1);
	assert_int_equal(fread(saved, 1, (size_t)len, f), (size_t)len);
	fclose(f);
	assert_null(strstr(saved, "loop gone"));
	free(saved);
	call(&r, "DELETE", "/d4/programs/gone", NULL, AUTH_TOKEN);
	assert_error(&r, 404, "no D4 loop 'gone'");
	reply_free(&r);
	/* the loop again, its list declared already: taken */
	snprintf(text, sizeof(text),
		 "loop gone on udp 127.0.0.1:%u {\npkt = recv()\n"
		 "for ip in _gone_list:\n  sendto(pkt, ip)\nendfor\n}\n",
		 port);
	exec_text(&r, text);
	assert_status(&r, 200);
	reply_free(&r);
	assert_int_equal(program_field("gone", "pkts_in"), 0);
	call(&r, "DELETE", "/d4/programs/gone", NULL, AUTH_TOKEN);
	assert_status(&r, 204);
	reply_free(&r);
}

/* A loop over a node's budget of datagrams per packet is refused with
 * the place of its heaviest sendto; GET /d4/programs shows the budgets. */
static void test_api_d4_send_budget(void **state)
{
	struct reply r;
	json_t *j, *p;

	exec_text(&r,
		  "IP[] _x\nIP[] _y\n"
		  "loop storm {\npkt = recv()\nfor a in _x:\n"
		  "  for b in _y:\n    sendto(pkt, b)\n  endfor\nendfor\n}\n");
	assert_error(&r, 400,
		     "7:5: loop 'storm' may send 10000 datagrams per packet, "
		     "10000 by this sendto; the limit is 256");
	reply_free(&r);
	assert_false(var_listed("_x"));
	json_decref(ok("POST", "/d4/exec",
		       "{\"text\":\"IP[] _z\\nloop fine {\\npkt = recv()\\n"
		       "for a in _z:\\n  sendto(pkt, a)\\nendfor\\n}\\n\"}",
		       200));
	j = get("/d4/programs");
	p = named(j, "fine");
	assert_non_null(p);
	assert_int_equal(member_int(p, "max_sends"), 100);
	assert_int_equal(member_int(p, "max_sends_per_second"), 100000);
	assert_int_equal(member_int(p, "budget_drops"), 0);
	assert_string_equal(member_str(p, "backend"), "vm");
	json_decref(j);
}

/* A subscription with a recording that cannot be saved (507) leaves no
 * file behind: the same request, made again once the state can be
 * written, is taken (it was 409 "File exists"). */
static void test_api_recording_not_saved_leaves_no_file(void **state)
{
	char path[256], body[256];
	struct reply r;

	snprintf(body, sizeof(body),
		 "{\"name\":\"take\",\"address\":\"127.0.0.1:%u\","
		 "\"channels\":2,\"record\":{\"path\":\"take1.wav\","
		 "\"duration\":1}}",
		 free_port(SOCK_DGRAM));
	snprintf(path, sizeof(path), "%s/state/recordings/take1.wav", dir);
	block_state(true);
	call(&r, "POST", "/subscriptions", body, AUTH_TOKEN);
	assert_status(&r, 507);
	reply_free(&r);
	block_state(false);
	assert_int_equal(access(path, F_OK), -1);
	call(&r, "POST", "/subscriptions", body, AUTH_TOKEN);
	assert_status(&r, 201);
	reply_free(&r);
	assert_int_equal(access(path, F_OK), 0);
	call(&r, "DELETE", "/subscriptions/take", NULL, AUTH_TOKEN);
	reply_free(&r);
}

int main(void)
{
	/* as test_api.c: under qemu-user the node refuses to start */
	if (getenv("D4_QEMU_USER")) {
		printf("1..0 # SKIP qemu-user: a thread keeps capabilities "
		       "the node cannot drop, so node_run refuses to start\n");
		return 0;
	}
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_api_d4_exec_on_udp_binds_and_relays),
	    cmocka_unit_test(test_api_d4_exec_unbindable_is_refused_whole),
	    cmocka_unit_test(test_api_d4_not_saved_is_undone),
	    cmocka_unit_test(test_api_d4_send_budget),
	    cmocka_unit_test(test_api_d4_loop_delete),
	    cmocka_unit_test(test_api_recording_not_saved_leaves_no_file),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
