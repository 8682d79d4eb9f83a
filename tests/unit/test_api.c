/* Unit tests for the node's control API (node/api.c, node/node_api.c): a
 * whole node runs in a thread of this program (free-running clock, a tone
 * source, one flow to 127.0.0.1, no discovery) and libcurl asks it over
 * HTTP what docs/api.md promises: status codes, the {"error"} messages for
 * bad input, and that refused writes change nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <ftw.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "node/node.h"
#include "node_harness.h"
#include "qemu_user.h"

#define NODE_NAME     "apitest"
#define BODY_MAX      (64 * 1024)
#define TX_CHANNELS   2 /* [source program] below */
#define RX_CHANNELS   8 /* [node] rx_channels, its default */
#define TOKEN_MESSAGE "Authorization: Bearer TOKEN"

static int group_teardown(void **state)
{
	return harness_fini();
}

static int group_setup(void **state)
{
	unsigned int flow_port = free_port(SOCK_DGRAM);

	if (harness_init("api", free_port(SOCK_STREAM)) < 0 || !flow_port ||
	    harness_config("[node]\n"
			   "name = " NODE_NAME "\n"
			   "api = %s\n"
			   "state_dir = %s/state\n"
			   "rt_priority = 0\n"
			   "status_interval = 0\n"
			   "[discovery]\n"
			   "sap = off\n"
			   "mdns = off\n"
			   "[source program]\n"
			   "type = tone\n"
			   "channels = %d\n"
			   "[flow main]\n"
			   "source = program\n"
			   "destination = 127.0.0.1:%u\n"
			   "[subscription cfg]\n"
			   "stream = nosuch cfg\n"
			   "latency = 2ms\n",
			   root_url + strlen("http://"), dir, TX_CHANNELS,
			   flow_port) < 0 ||
	    start_node() < 0) {
		group_teardown(state);
		return -1;
	}
	return 0;
}

/* ---- node, reads, routing ---- */

static void test_api_token_file_is_0600_hex(void **state)
{
	char path[128];
	struct stat st;
	size_t i;

	snprintf(path, sizeof(path), "%s/state/token", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(strlen(token), TOKEN_LEN);
	for (i = 0; i < TOKEN_LEN; i++)
		assert_true(isxdigit((unsigned char)token[i]));
}

static void test_api_node_gives_name_id_version(void **state)
{
	json_t *j = get("/node"), *clock;
	const char *id = member_str(j, "id");

	assert_string_equal(member_str(j, "name"), NODE_NAME);
	assert_string_equal(member_str(j, "version"), D4_VERSION);
	assert_int_equal(strlen(id), 16); /* an EUI-64 in hex */
	assert_true(json_is_number(member(j, "uptime_s")));
	assert_int_equal(member_int(j, "tx_channels"), TX_CHANNELS);
	assert_int_equal(member_int(j, "rx_channels"), RX_CHANNELS);
	clock = member(j, "clock");
	assert_string_equal(member_str(clock, "state"), "free-run");
	json_decref(j);
	j = get("/ptp");
	assert_string_equal(member_str(j, "state"), "free-run");
	json_decref(j);
}

/* docs/api.md: Dante's rule for device names, else 400. */
static void test_api_node_rename(void **state)
{
	static const struct bad_req t[] = {
	    {"PUT", "/node", NULL, 400, "PUT /node takes {\"name\": NAME}"},
	    {"PUT", "/node", "{}", 400, "PUT /node takes {\"name\": NAME}"},
	    {"PUT", "/node", "{\"name\":7}", 400, "PUT /node takes"},
	    {"PUT", "/node", "{\"name\":\"a\",\"id\":\"b\"}", 400,
	     "PUT /node takes"},
	    {"PUT", "/node", "{\"name\":\"\"}", 400,
	     "'name' must be 1-31 letters, digits and '-'"},
	    {"PUT", "/node", "{\"name\":\"-stage\"}", 400, "'name' must be"},
	    {"PUT", "/node", "{\"name\":\"stage-\"}", 400, "'name' must be"},
	    {"PUT", "/node", "{\"name\":\"stage left\"}", 400,
	     "'name' must be"},
	    {"PUT", "/node", "{\"name\":\"stage_left\"}", 400,
	     "'name' must be"},
	    {"PUT", "/node", "{\"name\":\"abcdefghijklmnopqrstuvwxyz012345\"}",
	     400, "'name' must be"},
	};
	json_t *j;

	check_refusals(t, sizeof(t) / sizeof(t[0]));
	j = get("/node");
	assert_string_equal(member_str(j, "name"), NODE_NAME);
	json_decref(j);
	j = ok("PUT", "/node", "{\"name\":\"Api-Test-2\"}", 200);
	assert_string_equal(member_str(j, "name"), "Api-Test-2");
	member_str(j, "version");
	json_decref(j);
	j = get("/node");
	assert_string_equal(member_str(j, "name"), "Api-Test-2");
	json_decref(j);
	j = ok("PUT", "/node", "{\"name\":\"" NODE_NAME "\"}", 200);
	assert_string_equal(member_str(j, "name"), NODE_NAME);
	json_decref(j);
}

static void test_api_reads_have_their_members(void **state)
{
	json_t *j, *o, *ch, *sap;
	size_t i;

	j = get("/channels");
	assert_int_equal(json_array_size(member(j, "tx")), TX_CHANNELS);
	assert_int_equal(json_array_size(member(j, "rx")), RX_CHANNELS);
	o = json_array_get(member(j, "tx"), 0);
	assert_int_equal(member_int(o, "channel"), 1);
	assert_string_equal(member_str(o, "source"), "program");
	assert_true(json_is_array(member(o, "flows")));
	o = json_array_get(member(j, "rx"), RX_CHANNELS - 1);
	assert_int_equal(member_int(o, "channel"), RX_CHANNELS);
	assert_true(json_is_null(member(o, "subscription")));
	json_decref(j);

	/* a flow's stream: its session name and SDP as announced */
	j = get("/flows");
	o = named(j, "main");
	assert_non_null(o);
	assert_string_equal(member_str(o, "session"), NODE_NAME " main");
	assert_non_null(
	    strstr(member_str(o, "sdp"), "s=" NODE_NAME " main\r\n"));
	assert_non_null(
	    strstr(member_str(o, "sdp"), "a=rtpmap:98 L24/48000/2"));
	json_decref(j);

	j = get("/meters");
	assert_int_equal(member_int(j, "window_ms"), 50);
	assert_true(json_is_array(member(j, "subscriptions")));
	o = named(member(j, "flows"), "main");
	assert_non_null(o);
	assert_true(json_is_integer(member(o, "updates")));
	ch = member(o, "channels");
	assert_int_equal(json_array_size(ch), TX_CHANNELS);
	json_array_foreach(ch, i, o)
	{
		assert_int_equal(member_int(o, "channel"), (json_int_t)i + 1);
		member(o, "peak_dbfs");
		member(o, "rms_dbfs");
	}
	json_decref(j);

	j = get("/stats");
	o = member(member(j, "flows"), "main");
	member_int(o, "packets");
	member_int(o, "send_errors");
	member_int(o, "skipped");
	assert_true(json_is_object(member(j, "subscriptions")));
	sap = member(j, "sap");
	member_int(sap, "entries");
	member_int(sap, "evicted");
	/* docs/api.md: 0 when the node does not listen for SAP */
	assert_int_equal(member_int(sap, "max_entries"), 0);
	json_decref(j);

	j = get("/flows");
	o = named(j, "main");
	assert_non_null(o);
	assert_string_equal(member_str(o, "origin"), "config");
	json_decref(j);
	j = get("/streams");
	assert_true(json_is_array(j));
	json_decref(j);
	j = get("/subscriptions");
	assert_true(json_is_array(j));
	json_decref(j);
	j = get("/d4/programs");
	assert_non_null(named(j, "flow_main")); /* the flow's default loop */
	json_decref(j);
	j = get("/d4/vars");
	assert_non_null(named(j, "_main_receivers")); /* a unicast flow's */
	json_decref(j);
}

static void test_api_unknown_path_is_404(void **state)
{
	static const struct bad_req t[] = {
	    {"GET", "/nosuch", NULL, 404, "no such resource '/api/v1/nosuch'"},
	    {"GET", "/node/extra", NULL, 404, "no such resource"},
	    {"GET", "/d4", NULL, 404, "no such resource"},
	    {"POST", "/nosuch", "{}", 404, "no such resource"},
	};
	struct reply r;

	check_refusals(t, sizeof(t) / sizeof(t[0]));
	/* outside /api/v1 */
	request(&r, "GET", "/api/v2/node", NULL, 0, NULL);
	assert_error(&r, 404, "no such resource '/api/v2/node'");
	reply_free(&r);
	request(&r, "GET", "/api/v1node", NULL, 0, NULL);
	assert_error(&r, 404, "no such resource '/api/v1node'");
	reply_free(&r);
}

/* docs/api.md: 405 for a method a known path does not take. */
static void test_api_wrong_method_is_405(void **state)
{
	static const struct bad_req t[] = {
	    {"DELETE", "/node", NULL, 405, "method not allowed"},
	    {"DELETE", "/flows", NULL, 405, "method not allowed"},
	    {"POST", "/flows/main", "{}", 405, "method not allowed"},
	    {"POST", "/channels", "{}", 405, "method not allowed"},
	    {"GET", "/d4/exec", NULL, 405, "method not allowed"},
	    {"PUT", "/stats", "{}", 405, "method not allowed"},
	};
	struct reply r;

	check_refusals(t, sizeof(t) / sizeof(t[0]));
	/* RFC 9110: a 405 says what the path takes */
	call(&r, "DELETE", "/node", NULL, AUTH_TOKEN);
	assert_error(&r, 405, "method not allowed");
	assert_string_equal(r.allow, "GET, PUT");
	reply_free(&r);
	call(&r, "POST", "/flows/main", "{}", AUTH_TOKEN);
	assert_string_equal(r.allow, "GET, DELETE");
	reply_free(&r);
	/* a read needs no token, so a wrong method on one is 405 still */
	call(&r, "GET", "/d4/exec", NULL, NULL);
	assert_error(&r, 405, "method not allowed");
	reply_free(&r);
}

/* ---- authorization ---- */

/* What a write could change: the node's name, names of flows,
 * subscriptions and D4 loops (with running), the channels, the D4
 * variables, the state file. As text, for one strcmp. */
static char *snapshot(void)
{
	json_t *s = json_object(), *j, *o, *names;
	char path[128], *text;
	const char *lists[] = {"/flows", "/subscriptions", "/d4/programs"};
	size_t i, k;
	FILE *f;

	for (k = 0; k < sizeof(lists) / sizeof(lists[0]); k++) {
		names = json_array();
		j = get(lists[k]);
		json_array_foreach(j, i, o)
		{
			json_array_append(names, member(o, "name"));
			if (json_object_get(o, "running"))
				json_array_append(
				    names, json_object_get(o, "running"));
		}
		json_object_set_new(s, lists[k], names);
		json_decref(j);
	}
	j = get("/node");
	json_object_set(s, "/node", member(j, "name"));
	json_decref(j);
	json_object_set_new(s, "/channels", get("/channels"));
	json_object_set_new(s, "/d4/vars", get("/d4/vars"));
	snprintf(path, sizeof(path), "%s/state/state.json", dir);
	f = fopen(path, "r");
	if (f) {
		char buf[65536];
		size_t n = fread(buf, 1, sizeof(buf) - 1, f);

		buf[n] = '\0';
		fclose(f);
		json_object_set_new(s, "state.json", json_string(buf));
	}
	text = json_dumps(s, JSON_SORT_KEYS | JSON_COMPACT);
	json_decref(s);
	assert_non_null(text);
	return text;
}

/* Every write, each of which would succeed (or change something) with
 * the token, without it and with wrong ones: 401, and nothing changed. */
static void test_api_writes_without_token_are_401(void **state)
{
	static const struct bad_req writes[] = {
	    {"PUT", "/node", "{\"name\":\"evil\"}"},
	    {"POST", "/flows",
	     "{\"name\":\"evil\",\"source\":\"program\","
	     "\"destination\":\"127.0.0.1:5004\"}"},
	    {"DELETE", "/flows/main", NULL},
	    {"POST", "/subscriptions",
	     "{\"name\":\"evil\",\"stream\":\"evil\",\"rx_channels\":[1]}"},
	    {"PUT", "/subscriptions/evil", "{\"latency_us\":5000}"},
	    {"DELETE", "/subscriptions/evil", NULL},
	    {"PUT", "/channels/tx/1", "{\"name\":\"Evil\"}"},
	    {"PUT", "/channels/rx/1", "{\"name\":\"Evil\"}"},
	    {"POST", "/d4/exec", "{\"text\":\"IP[] _evil\"}"},
	    {"POST", "/d4/programs/flow_main/stop", NULL},
	};
	char wrong[TOKEN_LEN + 16], longer[TOKEN_LEN + 16];
	char shorter[TOKEN_LEN + 16], basic[TOKEN_LEN + 16];
	char nospace[TOKEN_LEN + 16];
	const char *auths[] = {NULL,  wrong,   longer,	 shorter,
			       basic, nospace, "Bearer "};
	char *before = snapshot(), *after;
	struct reply r;
	size_t w, a;

	/* same length, last digit changed: the compare reads every byte */
	snprintf(wrong, sizeof(wrong), "Bearer %s", token);
	wrong[strlen(wrong) - 1] = token[TOKEN_LEN - 1] == '0' ? '1' : '0';
	snprintf(longer, sizeof(longer), "Bearer %s0", token);
	snprintf(shorter, sizeof(shorter), "Bearer %.*s", TOKEN_LEN - 1, token);
	snprintf(basic, sizeof(basic), "Basic %s", token);
	snprintf(nospace, sizeof(nospace), "Bearer%s", token);
	for (w = 0; w < sizeof(writes) / sizeof(writes[0]); w++) {
		for (a = 0; a < sizeof(auths) / sizeof(auths[0]); a++) {
			call(&r, writes[w].method, writes[w].path,
			     writes[w].body, auths[a]);
			if (!is_error(&r, 401, TOKEN_MESSAGE))
				print_message("# %s %s, Authorization: %s\n",
					      writes[w].method, writes[w].path,
					      auths[a] ? auths[a] : "(none)");
			assert_error(&r, 401, TOKEN_MESSAGE);
			reply_free(&r);
		}
	}
	after = snapshot();
	assert_string_equal(after, before);
	free(before);
	free(after);
	/* reads are open ([node] api_read_token = no), even with a wrong
	 * token */
	call(&r, "GET", "/flows", NULL, wrong);
	assert_status(&r, 200);
	reply_free(&r);
}

/* ---- bodies ---- */

static void test_api_bad_bodies_are_400(void **state)
{
	static const struct bad_req t[] = {
	    {"POST", "/flows", "{\"name\": broken", 400,
	     "the body is not a JSON object"},
	    {"POST", "/flows", "{\"name\": \"a\",}", 400,
	     "the body is not a JSON object"},
	    {"POST", "/subscriptions", "[1, 2]", 400,
	     "the body is not a JSON object"},
	    {"POST", "/d4/exec", "\"text\"", 400,
	     "the body is not a JSON object"},
	    {"PUT", "/channels/tx/1", "42", 400,
	     "the body is not a JSON object"},
	    {"POST", "/flows", NULL, 400, "POST /flows needs a JSON body"},
	    {"POST", "/subscriptions", NULL, 400,
	     "POST /subscriptions needs a JSON body"},
	    {"POST", "/d4/exec", NULL, 400, "needs {\"text\""},
	};

	check_refusals(t, sizeof(t) / sizeof(t[0]));
}

/* docs/api.md: bodies of at most 64 KiB, 413 beyond. */
static void test_api_body_over_64k_is_413(void **state)
{
	size_t len = BODY_MAX + 4464; /* 70000, as tests/lab/api.sh */
	char *body = malloc(len + 1);
	const char *text = "{\"text\":\"x += 1\"}";
	struct reply r;

	assert_non_null(body);
	memset(body, ' ', len);
	body[len] = '\0';
	memcpy(body, text, strlen(text));
	call_len(&r, "POST", "/d4/exec", body, len, AUTH_TOKEN);
	assert_error(&r, 413, "request body over 65536 bytes");
	reply_free(&r);
	call_len(&r, "POST", "/flows", body, len, AUTH_TOKEN);
	assert_error(&r, 413, "request body over 65536 bytes");
	reply_free(&r);
	/* exactly 64 KiB is taken: the D4 compiler answers, not the limit */
	call_len(&r, "POST", "/d4/exec", body, BODY_MAX, AUTH_TOKEN);
	assert_error(&r, 400, "undefined name 'x'");
	reply_free(&r);
	free(body);
}

/* ---- flows ---- */

static void test_api_flow_create_refuses_bad_fields(void **state)
{
	static const struct bad_req t[] = {
	    {"POST", "/flows",
	     "{\"source\":\"program\",\"destination\":\"127.0.0.1\"}", 400,
	     "'name' is required (a name of 1-63 characters"},
	    {"POST", "/flows",
	     "{\"name\":\"\",\"source\":\"program\","
	     "\"destination\":\"127.0.0.1\"}",
	     400, "'name': '' is not a name of 1-63"},
	    {"POST", "/flows",
	     "{\"name\":7,\"source\":\"program\","
	     "\"destination\":\"127.0.0.1\"}",
	     400, "'name': '7' is not a name"},
	    {"POST", "/flows",
	     "{\"name\":\"a123456789b123456789c123456789d123456789e123456789"
	     "f123456789g1234\",\"source\":\"program\","
	     "\"destination\":\"127.0.0.1\"}",
	     400, "is not a name of 1-63 characters"},
	    /* a name is a path segment and a line of SDP */
	    {"POST", "/flows",
	     "{\"name\":\"a/b\",\"source\":\"program\","
	     "\"destination\":\"127.0.0.1\"}",
	     400, "without '/', control characters or bidirectional"},
	    /* nor anything that turns its text around in a display */
	    {"POST", "/flows",
	     "{\"name\":\"x\\u202egnp.exe\",\"source\":\"program\","
	     "\"destination\":\"127.0.0.1\"}",
	     400, "without '/', control characters or bidirectional"},
	    {"POST", "/flows",
	     "{\"name\":\"a\\nb\",\"source\":\"program\","
	     "\"destination\":\"127.0.0.1\"}",
	     400, "without '/', control characters or bidirectional"},
	    {"POST", "/flows",
	     "{\"name\":\"bad\",\"source\":\"nosuch\","
	     "\"destination\":\"127.0.0.1\"}",
	     400, "'source': no source 'nosuch' on this node"},
	    {"POST", "/flows",
	     "{\"name\":\"bad\",\"destination\":\"127.0.0.1\"}", 400,
	     "'source'"},
	    {"POST", "/flows", "{\"name\":\"bad\",\"source\":\"program\"}", 400,
	     "'destination' is required (an IPv4 address"},
	    {"POST", "/flows",
	     "{\"name\":\"bad\",\"source\":\"program\","
	     "\"destination\":\"127.0.0.1\",\"interface2\":\"lo\"}",
	     400, "interface2 without destination2: a second leg needs its "
		  "group or receiver"},
	    {"POST", "/flows",
	     "{\"name\":\"bad\",\"source\":\"program\","
	     "\"destination\":\"10.0.0.300:5004\"}",
	     400, "'destination': '10.0.0.300:5004' is not an IPv4 address"},
	    {"POST", "/flows",
	     "{\"name\":\"bad\",\"source\":\"program\","
	     "\"destination\":\"127.0.0.1:70000\"}",
	     400, "'127.0.0.1:70000' is not"},
	    {"POST", "/flows",
	     "{\"name\":\"bad\",\"source\":\"program\","
	     "\"destination\":\"stagebox:5004\"}",
	     400, "'stagebox:5004' is not"},
	    {"POST", "/flows",
	     "{\"name\":\"bad\",\"source\":\"program\",\"channels\":[1,3],"
	     "\"destination\":\"127.0.0.1\"}",
	     400, "channel 3 of source program does not exist (it has 2)"},
	    {"POST", "/flows",
	     "{\"name\":\"bad\",\"source\":\"program\",\"channels\":[0],"
	     "\"destination\":\"127.0.0.1\"}",
	     400, "'channels': '0' is not a list of source channels"},
	    {"POST", "/flows",
	     "{\"name\":\"bad\",\"source\":\"program\",\"channels\":[\"1\"],"
	     "\"destination\":\"127.0.0.1\"}",
	     400, "'channels'"},
	    {"POST", "/flows",
	     "{\"name\":\"bad\",\"source\":\"program\",\"channels\":\"one\","
	     "\"destination\":\"127.0.0.1\"}",
	     400, "'channels': 'one' is not a list of source channels"},
	    {"POST", "/flows",
	     "{\"name\":\"bad\",\"source\":\"program\",\"encoding\":\"L32\","
	     "\"destination\":\"127.0.0.1\"}",
	     400, "'encoding': 'L32' is not L24 or L16"},
	    {"POST", "/flows",
	     "{\"name\":\"bad\",\"source\":\"program\",\"ptime_us\":100,"
	     "\"destination\":\"127.0.0.1\"}",
	     400, "'ptime_us': '100' is not a packet time"},
	    {"POST", "/flows",
	     "{\"name\":\"bad\",\"source\":\"program\",\"dscp\":64,"
	     "\"destination\":\"127.0.0.1\"}",
	     400, "'dscp': '64' is not a DSCP value from 0 to 63"},
	    {"POST", "/flows",
	     "{\"name\":\"bad\",\"source\":\"program\",\"ttl\":0,"
	     "\"destination\":\"127.0.0.1\"}",
	     400, "'ttl': '0' is not a TTL from 1 to 255"},
	    {"POST", "/flows",
	     "{\"name\":\"main\",\"source\":\"program\","
	     "\"destination\":\"127.0.0.1\"}",
	     409, "flow 'main' exists already"},
	};

	check_refusals(t, sizeof(t) / sizeof(t[0]));
	assert_false(listed("/flows", "bad"));
}

static void test_api_flow_create_duplicate_delete(void **state)
{
	char body[256];
	json_t *j, *ch;
	char *text;
	struct reply r;

	snprintf(body, sizeof(body),
		 "{\"name\":\"mon\",\"source\":\"program\",\"channels\":[2,1],"
		 "\"destination\":\"127.0.0.1:%u\",\"ptime_us\":250}",
		 free_port(SOCK_DGRAM));
	j = ok("POST", "/flows", body, 201);
	assert_string_equal(member_str(j, "name"), "mon");
	assert_string_equal(member_str(j, "source"), "program");
	assert_string_equal(member_str(j, "origin"), "api");
	assert_string_equal(member_str(j, "encoding"), "L24");
	assert_int_equal(member_int(j, "ptime_us"), 250);
	assert_true(json_is_false(member(j, "multicast")));
	assert_non_null(strstr(member_str(j, "destination"), "127.0.0.1:"));
	ch = member(j, "channels");
	assert_int_equal(json_array_size(ch), 2);
	assert_int_equal(json_integer_value(json_array_get(ch, 0)), 2);
	assert_int_equal(json_integer_value(json_array_get(ch, 1)), 1);
	member(j, "stats");
	json_decref(j);
	assert_true(listed("/flows", "mon"));

	call(&r, "POST", "/flows", body, AUTH_TOKEN);
	assert_error(&r, 409, "flow 'mon' exists already");
	reply_free(&r);

	call(&r, "DELETE", "/flows/mon", NULL, AUTH_TOKEN);
	assert_status(&r, 204);
	assert_int_equal(r.len, 0);
	reply_free(&r);
	assert_false(listed("/flows", "mon"));
	call(&r, "DELETE", "/flows/mon", NULL, AUTH_TOKEN);
	assert_error(&r, 404, "no flow 'mon'");
	reply_free(&r);
	/* made again under the same name: its relay list (left in the D4
	 * runtime, which cannot undeclare) starts over with its receiver */
	json_decref(ok("POST", "/flows", body, 201));
	j = ok("GET", "/d4/vars", NULL, 200);
	text = json_dumps(j, 0);
	assert_non_null(strstr(text, "_mon_receivers"));
	free(text);
	json_decref(j);
	call(&r, "DELETE", "/flows/mon", NULL, AUTH_TOKEN);
	assert_status(&r, 204);
	reply_free(&r);
	/* a D4 variable of the user's by the list's name, of another type:
	 * a clash with D4 state, 409 */
	json_decref(
	    ok("POST", "/d4/exec", "{\"text\":\"int _mon3_receivers\"}", 200));
	snprintf(body, sizeof(body),
		 "{\"name\":\"mon3\",\"source\":\"program\","
		 "\"destination\":\"127.0.0.1:%u\"}",
		 free_port(SOCK_DGRAM));
	call(&r, "POST", "/flows", body, AUTH_TOKEN);
	assert_error(&r, 409, "its D4 loop");
	reply_free(&r);
	assert_false(listed("/flows", "mon3"));
	/* the name is percent-decoded, once, before the message quotes it */
	call(&r, "DELETE", "/flows/no%20such", NULL, AUTH_TOKEN);
	assert_error(&r, 404, "no flow 'no such'");
	reply_free(&r);
	call(&r, "DELETE", "/flows/no%2520such", NULL, AUTH_TOKEN);
	assert_error(&r, 404, "no flow 'no%20such'");
	reply_free(&r);
	/* "mon-x" and "mon.x" are both flow_mon_x in D4: the second is
	 * refused, not handed the first one's loop and relay list */
	snprintf(body, sizeof(body),
		 "{\"name\":\"mon-x\",\"source\":\"program\","
		 "\"destination\":\"127.0.0.1:%u\"}",
		 free_port(SOCK_DGRAM));
	json_decref(ok("POST", "/flows", body, 201));
	snprintf(body, sizeof(body),
		 "{\"name\":\"mon.x\",\"source\":\"program\","
		 "\"destination\":\"127.0.0.1:%u\"}",
		 free_port(SOCK_DGRAM));
	call(&r, "POST", "/flows", body, AUTH_TOKEN);
	assert_error(&r, 409, "flow mon-x has the D4 loop name flow_mon_x");
	reply_free(&r);
	assert_false(listed("/flows", "mon.x"));
	call(&r, "DELETE", "/flows/mon-x", NULL, AUTH_TOKEN);
	assert_status(&r, 204);
	reply_free(&r);
	/* a second leg's loop (flow2_NAME) is no first leg's: "duo" with
	 * two legs, then "duo-2" (flow_duo_2), d4ctl's name for a second
	 * unicast flow of "duo", are both taken (a UI test found "uc2-2"
	 * refused beside a one-leg "uc2") */
	snprintf(body, sizeof(body),
		 "{\"name\":\"duo\",\"source\":\"program\","
		 "\"destination\":\"127.0.0.1:%u\","
		 "\"destination2\":\"127.0.0.1:%u\"}",
		 free_port(SOCK_DGRAM), free_port(SOCK_DGRAM));
	json_decref(ok("POST", "/flows", body, 201));
	snprintf(body, sizeof(body),
		 "{\"name\":\"duo-2\",\"source\":\"program\","
		 "\"destination\":\"127.0.0.1:%u\"}",
		 free_port(SOCK_DGRAM));
	json_decref(ok("POST", "/flows", body, 201));
	for (const char *const *f = (const char *const[]){"duo", "duo-2", NULL};
	     *f; f++) {
		char path[32];

		snprintf(path, sizeof(path), "/flows/%s", *f);
		call(&r, "DELETE", path, NULL, AUTH_TOKEN);
		assert_status(&r, 204);
		reply_free(&r);
	}
	/* a name longer than D4's names: cut, not overrun */
	snprintf(body, sizeof(body),
		 "{\"name\":\"a123456789b123456789c123456789d123456789e12\","
		 "\"source\":\"program\",\"destination\":\"127.0.0.1:%u\"}",
		 free_port(SOCK_DGRAM));
	json_decref(ok("POST", "/flows", body, 201));
	call(&r, "DELETE", "/flows/a123456789b123456789c123456789d123456789e12",
	     NULL, AUTH_TOKEN);
	assert_status(&r, 204);
	reply_free(&r);
	call(&r, "DELETE", "/flows/main", NULL, AUTH_TOKEN);
	assert_error(&r, 409, "flow 'main' comes from the config file");
	reply_free(&r);
	assert_true(listed("/flows", "main"));
}

/* ---- subscriptions ---- */

#define SUB(fields)	 "{\"name\":\"bad\"," fields "}"
#define SUB_ADDR(fields) SUB("\"address\":\"127.0.0.1:5004\"," fields)

static void test_api_subscription_create_refuses_bad_fields(void **state)
{
	static const struct bad_req t[] = {
	    {"POST", "/subscriptions", "{\"address\":\"127.0.0.1\"}", 400,
	     "'name' is required"},
	    {"POST", "/subscriptions", SUB("\"channels\":2"), 400,
	     "needs exactly one of stream (a name), sdp or address"},
	    {"POST", "/subscriptions",
	     SUB("\"stream\":\"x\",\"address\":\"127.0.0.1\""), 400,
	     "needs exactly one of"},
	    {"POST", "/subscriptions", SUB("\"stream\":\"\""), 400,
	     "'stream': '' is not a stream name"},
	    {"POST", "/subscriptions", SUB_ADDR("\"latency_us\":249"), 400,
	     "'latency_us': '249us' is not a latency from 250us to 100ms"},
	    {"POST", "/subscriptions", SUB_ADDR("\"latency_us\":100001"), 400,
	     "'latency_us': '100001us' is not a latency from 250us to 100ms"},
	    {"POST", "/subscriptions", SUB_ADDR("\"latency_us\":\"soon\""), 400,
	     "'latency_us': 'soon' is not a latency"},
	    {"POST", "/subscriptions", SUB_ADDR("\"channels\":0"), 400,
	     "'channels': '0' is not a channel count from 1 to 64"},
	    {"POST", "/subscriptions", SUB_ADDR("\"channels\":65"), 400,
	     "'channels': '65' is not a channel count from 1 to 64"},
	    {"POST", "/subscriptions", SUB_ADDR("\"rate\":8000"), 400,
	     "'rate': '8000' is not 44100, 48000 or 96000"},
	    {"POST", "/subscriptions", SUB_ADDR("\"rate\":65536"), 400,
	     "'rate': '65536' is not 44100, 48000 or 96000"},
	    {"POST", "/subscriptions", SUB_ADDR("\"payload_type\":128"), 400,
	     "'payload_type': '128' is not a payload type from 0 to 127"},
	    {"POST", "/subscriptions", SUB_ADDR("\"encoding\":\"PCM\""), 400,
	     "'encoding': 'PCM' is not L24 or L16"},
	    {"POST", "/subscriptions", SUB_ADDR("\"timing\":\"often\""), 400,
	     "'timing': 'often' is not auto, ptp or arrival"},
	    {"POST", "/subscriptions", SUB("\"address\":\"nowhere\""), 400,
	     "'address': 'nowhere' is not an IPv4 address"},
	    {"POST", "/subscriptions", SUB("\"address\":\"127.0.0.1:0\""), 400,
	     "'address': '127.0.0.1:0' is not an IPv4 address"},
	    {"POST", "/subscriptions", SUB_ADDR("\"colour\":\"red\""), 400,
	     "'colour': no such key in a subscription"},
	    {"POST", "/subscriptions", SUB("\"sdp\":\"v=0\""), 400, "'sdp': "},
	    {"POST", "/subscriptions", SUB_ADDR("\"rx_channels\":[9]"), 400,
	     "RX channel 9: the node has 8"},
	    {"POST", "/subscriptions", SUB_ADDR("\"rx_channels\":[0]"), 400,
	     "'rx_channels': '0' is not a list of the node's RX channels"},
	    {"POST", "/subscriptions", SUB_ADDR("\"rx_channels\":[]"), 400,
	     "'rx_channels': '' is not a list of the node's RX channels"},
	    {"POST", "/subscriptions", SUB_ADDR("\"rx_channels\":[1,1]"), 400,
	     "RX channel 1 given twice"},
	    {"POST", "/subscriptions", SUB_ADDR("\"stream_channels\":[1]"), 400,
	     "stream_channels needs rx_channels"},
	    {"POST", "/subscriptions",
	     SUB_ADDR("\"rx_channels\":[1,2],\"stream_channels\":[1]"), 400,
	     "1 stream_channels for 2 rx_channels"},
	    {"POST", "/subscriptions",
	     SUB_ADDR("\"rx_channels\":[1],\"stream_channels\":[3]"), 400,
	     "stream channel 3: the stream has 2"},
	    {"POST", "/subscriptions",
	     SUB_ADDR("\"rate\":44100,\"rx_channels\":[1]"), 400,
	     "the stream runs at 44100 Hz; RX channels at 48000 Hz"},
	    {"POST", "/subscriptions", SUB_ADDR("\"record\":{\"start\":1}"),
	     400, "'record' needs {\"path\": FILE"},
	    {"POST", "/subscriptions",
	     SUB_ADDR("\"record\":{\"path\":\"x.wav\",\"start\":-1}"), 400,
	     "start and duration are numbers of seconds from 0 to"},
	    {"POST", "/subscriptions",
	     SUB_ADDR("\"record\":{\"path\":\"x.wav\",\"duration\":1e300}"),
	     400, "start and duration are numbers of seconds from 0 to"},
	    {"POST", "/subscriptions",
	     SUB_ADDR("\"record\":{\"path\":\"x.wav\",\"mode\":\"append\"}"),
	     400, "'record': unknown member 'mode'"},
	    {"POST", "/subscriptions", "{\"name\":\"a/b\",\"stream\":\"x\"}",
	     400, "without '/', control characters or bidirectional"},
	    /* a recording is a new file in the recordings directory */
	    {"POST", "/subscriptions",
	     SUB_ADDR("\"record\":{\"path\":\"/etc/d4-owned\"}"), 400,
	     "'record.path': a file name in the recordings directory"},
	    {"POST", "/subscriptions",
	     SUB_ADDR("\"record\":{\"path\":\"../state.json\"}"), 400,
	     "'record.path': a file name in the recordings directory"},
	    {"POST", "/subscriptions",
	     SUB_ADDR("\"record\":{\"path\":\"..\"}"), 400,
	     "'record.path': a file name in the recordings directory"},
	    {"POST", "/subscriptions",
	     SUB_ADDR("\"record\":{\"path\":\".hidden\"}"), 400,
	     "'record.path': a file name in the recordings directory"},
	    {"POST", "/subscriptions",
	     SUB_ADDR("\"record\":{\"path\":\"a\\nb.wav\"}"), 400,
	     "'record.path': a file name in the recordings directory"},
	    /* a second-leg setting with no second leg (a stream found by
	     * name may gain its DUP leg later: not refused there) */
	    {"POST", "/subscriptions", SUB_ADDR("\"interface2\":\"lo\""), 400,
	     "interface2 without a second leg: give address2, or an SDP "
	     "with a=group:DUP"},
	    {"POST", "/subscriptions",
	     SUB_ADDR("\"source_filter2\":\"127.0.0.2\""), 400,
	     "source_filter2 without a second leg"},
	    /* a start that went by: refused, not zero-filled from then */
	    {"POST", "/subscriptions",
	     SUB_ADDR("\"record\":{\"path\":\"x.wav\",\"start\":5,"
		      "\"duration\":10}"),
	     400, "'record.start' is "},
	};

	check_refusals(t, sizeof(t) / sizeof(t[0]));
	assert_false(listed("/subscriptions", "bad"));
}

/* Subscriptions by stream name open no socket: they run under qemu-user
 * too (tests/unit/qemu_user.h). */
static void test_api_subscription_rx_channels_taken_is_409(void **state)
{
	static const char *a = "{\"name\":\"rx-a\",\"stream\":\"nosuch A\","
			       "\"rx_channels\":[1,2]}";
	static const char *b = "{\"name\":\"rx-b\",\"stream\":\"nosuch B\","
			       "\"rx_channels\":[2,3]}";
	json_t *j, *rx;
	struct reply r;

	j = ok("POST", "/subscriptions", a, 201);
	assert_string_equal(member_str(j, "name"), "rx-a");
	assert_string_equal(member_str(j, "state"), "unresolved");
	assert_string_equal(member_str(j, "origin"), "api");
	assert_int_equal(json_array_size(member(j, "rx_channels")), 2);
	json_decref(j);

	call(&r, "POST", "/subscriptions", b, AUTH_TOKEN);
	assert_error(&r, 409, "RX channel 2 is taken by subscription rx-a");
	reply_free(&r);
	assert_false(listed("/subscriptions", "rx-b"));
	call(&r, "POST", "/subscriptions", a, AUTH_TOKEN);
	assert_error(&r, 409, "subscription 'rx-a' exists already");
	reply_free(&r);

	j = get("/channels");
	rx = json_array_get(member(j, "rx"), 1);
	assert_string_equal(member_str(rx, "subscription"), "rx-a");
	assert_int_equal(member_int(rx, "stream_channel"), 2);
	json_decref(j);

	/* once rx-a is gone, its channels are free */
	call(&r, "DELETE", "/subscriptions/rx-a", NULL, AUTH_TOKEN);
	assert_status(&r, 204);
	reply_free(&r);
	json_decref(ok("POST", "/subscriptions", b, 201));
	call(&r, "DELETE", "/subscriptions/rx-b", NULL, AUTH_TOKEN);
	assert_status(&r, 204);
	reply_free(&r);
}

static void test_api_subscription_update_delete(void **state)
{
	static const struct bad_req t[] = {
	    {"PUT", "/subscriptions/nosuch", "{\"latency_us\":5000}", 404,
	     "no subscription 'nosuch'"},
	    {"DELETE", "/subscriptions/nosuch", NULL, 404,
	     "no subscription 'nosuch'"},
	    {"PUT", "/subscriptions/lat", "{\"latency_us\":100}", 400,
	     "'latency_us': '100us' is not a latency from 250us to 100ms"},
	    {"PUT", "/subscriptions/lat", "{\"latency_us\":2.5}", 400,
	     "'latency_us': '2.5us' is not a latency"},
	    {"PUT", "/subscriptions/lat", "{}", 400,
	     "PUT needs {\"latency_us\": N}"},
	    {"PUT", "/subscriptions/lat", NULL, 400,
	     "PUT needs {\"latency_us\": N}"},
	};
	json_t *j;
	struct reply r;

	json_decref(ok("POST", "/subscriptions",
		       "{\"name\":\"lat\",\"stream\":\"nosuch\"}", 201));
	check_refusals(t, sizeof(t) / sizeof(t[0]));
	j = ok("PUT", "/subscriptions/lat", "{\"latency_us\":5000}", 200);
	assert_int_equal(member_int(j, "latency_us"), 5000);
	json_decref(j);
	call(&r, "DELETE", "/subscriptions/lat", NULL, AUTH_TOKEN);
	assert_status(&r, 204);
	assert_int_equal(r.len, 0);
	reply_free(&r);
	assert_false(listed("/subscriptions", "lat"));
	call(&r, "DELETE", "/subscriptions/lat", NULL, AUTH_TOKEN);
	assert_error(&r, 404, "no subscription 'lat'");
	reply_free(&r);
}

/* By address: a receive socket opens, and reopens for a new latency. */
static void test_api_subscription_by_address(void **state)
{
	char body[256];
	json_t *j;
	struct reply r;

	snprintf(body, sizeof(body),
		 "{\"name\":\"uni\",\"address\":\"127.0.0.1:%u\","
		 "\"channels\":2,\"latency_us\":2000,\"rx_channels\":[7,8]}",
		 free_port(SOCK_DGRAM));
	call(&r, "POST", "/subscriptions", body, AUTH_TOKEN);
	if (r.status == 400)
		qemu_skip_if_no_timestampns(
		    json_string_value(json_object_get(r.json, "error")));
	assert_status(&r, 201);
	assert_string_equal(member_str(r.json, "state"), "waiting");
	assert_int_equal(member_int(r.json, "latency_us"), 2000);
	member(member(r.json, "stats"), "received");
	/* 0 before any bad packet (tests/unit/test_sub.c sets them) */
	assert_int_equal(member_int(member(r.json, "stats"), "last_bad_size"),
			 0);
	assert_int_equal(member_int(member(r.json, "stats"), "last_bad_pt"), 0);
	reply_free(&r);
	j = ok("PUT", "/subscriptions/uni", "{\"latency_us\":3000}", 200);
	assert_int_equal(member_int(j, "latency_us"), 3000);
	json_decref(j);
	j = get("/stats");
	member(member(member(j, "subscriptions"), "uni"), "received");
	json_decref(j);
	j = get("/meters");
	assert_non_null(named(member(j, "subscriptions"), "uni"));
	json_decref(j);
	call(&r, "DELETE", "/subscriptions/uni", NULL, AUTH_TOKEN);
	assert_status(&r, 204);
	reply_free(&r);
}

/* A second unicast subscription on a port another receives on would take
 * its packets (both bind 0.0.0.0:PORT, SO_REUSEADDR): 409, naming it, on
 * either address of this host and on a second leg (an attacker's report);
 * the first keeps its port. */
static void test_api_subscription_unicast_port_taken_is_409(void **state)
{
	unsigned int port = free_port(SOCK_DGRAM);
	char body[256];
	struct reply r;

	snprintf(body, sizeof(body),
		 "{\"name\":\"u1\",\"address\":\"127.0.0.1:%u\","
		 "\"channels\":2}",
		 port);
	call(&r, "POST", "/subscriptions", body, AUTH_TOKEN);
	if (r.status == 400)
		qemu_skip_if_no_timestampns(
		    json_string_value(json_object_get(r.json, "error")));
	assert_status(&r, 201);
	reply_free(&r);
	snprintf(body, sizeof(body),
		 "{\"name\":\"u2\",\"address\":\"127.0.0.2:%u\","
		 "\"channels\":2}",
		 port);
	call(&r, "POST", "/subscriptions", body, AUTH_TOKEN);
	assert_error(&r, 409, "subscription 'u1' receives on it");
	reply_free(&r);
	snprintf(body, sizeof(body),
		 "{\"name\":\"u3\",\"address\":\"127.0.0.1:%u\","
		 "\"address2\":\"127.0.0.1:%u\",\"channels\":2}",
		 free_port(SOCK_DGRAM), port);
	call(&r, "POST", "/subscriptions", body, AUTH_TOKEN);
	assert_error(&r, 409, "subscription 'u1' receives on it");
	reply_free(&r);
	assert_false(listed("/subscriptions", "u2"));
	assert_false(listed("/subscriptions", "u3"));
	call(&r, "DELETE", "/subscriptions/u1", NULL, AUTH_TOKEN);
	assert_status(&r, 204);
	reply_free(&r);
}

/* The file descriptors this process has open. */
static unsigned int open_fds(void)
{
	char path[64];
	unsigned int n = 0;
	int fd;

	for (fd = 0; fd < 4096; fd++) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		if (access(path, F_OK) == 0)
			n++;
	}
	return n;
}

/* A deleted subscription's recording is closed and its sink slot freed:
 * more recordings over time than the node has sinks. */
static void test_api_subscription_record_delete_frees_sink(void **state)
{
	char body[512];
	unsigned int i, fds = 0;
	struct stat st;
	struct reply r;

	for (i = 0; i < 70; i++) {
		snprintf(
		    body, sizeof(body),
		    "{\"name\":\"take\",\"address\":\"127.0.0.1:%u\","
		    "\"channels\":2,\"record\":{\"path\":\"take%u.wav\","
		    "\"duration\":1}}",
		    free_port(SOCK_DGRAM), i);
		call(&r, "POST", "/subscriptions", body, AUTH_TOKEN);
		if (r.status == 400)
			qemu_skip_if_no_timestampns(json_string_value(
			    json_object_get(r.json, "error")));
		assert_status(&r, 201);
		reply_free(&r);
		call(&r, "DELETE", "/subscriptions/take", NULL, AUTH_TOKEN);
		assert_status(&r, 204);
		reply_free(&r);
		if (i == 1)
			fds = open_fds();
	}
	/* each recording was opened, and closed with its subscription: 68
	 * more cycles leave no file open (a connection of the API's or of
	 * libcurl's may come and go: a few, not one per cycle) */
	snprintf(body, sizeof(body), "%s/state/recordings/take69.wav", dir);
	assert_int_equal(stat(body, &st), 0);
	assert_in_range(open_fds(), 0, fds + 4);
}

/* A recording never replaces a file and never follows a symlink: a name
 * taken in the recordings directory, by a file or by a link planted to
 * lead elsewhere, is 409 and what it names is untouched; a refused
 * recording leaves no subscription and no file. */
static void test_api_record_path_exists_or_symlink_is_409(void **state)
{
	char path[256], victim[256], body[512];
	struct stat st;
	struct reply r;
	FILE *f;

	snprintf(path, sizeof(path), "%s/state/recordings", dir);
	mkdir(path, 0750);
	snprintf(victim, sizeof(victim), "%s/victim", dir);
	f = fopen(victim, "w");
	assert_non_null(f);
	fputs("precious\n", f);
	fclose(f);
	snprintf(path, sizeof(path), "%s/state/recordings/link.wav", dir);
	assert_int_equal(symlink(victim, path), 0);
	snprintf(path, sizeof(path), "%s/state/recordings/taken.wav", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("an earlier take\n", f);
	fclose(f);

	snprintf(body, sizeof(body),
		 "{\"name\":\"r\",\"address\":\"127.0.0.1:%u\","
		 "\"channels\":2,\"record\":{\"path\":\"link.wav\"}}",
		 free_port(SOCK_DGRAM));
	call(&r, "POST", "/subscriptions", body, AUTH_TOKEN);
	assert_error(&r, 409, "a recording never replaces a file");
	reply_free(&r);
	assert_int_equal(stat(victim, &st), 0);
	assert_int_equal(st.st_size, 9); /* "precious\n" */

	snprintf(body, sizeof(body),
		 "{\"name\":\"r\",\"address\":\"127.0.0.1:%u\","
		 "\"channels\":2,\"record\":{\"path\":\"taken.wav\"}}",
		 free_port(SOCK_DGRAM));
	call(&r, "POST", "/subscriptions", body, AUTH_TOKEN);
	assert_status(&r, 409);
	reply_free(&r);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, 16);

	call(&r, "GET", "/subscriptions/r", NULL, NULL);
	assert_status(&r, 404);
	reply_free(&r);

	/* a new name: made, in the directory, and shown */
	snprintf(body, sizeof(body),
		 "{\"name\":\"r\",\"address\":\"127.0.0.1:%u\","
		 "\"channels\":2,\"record\":{\"path\":\"new.wav\"}}",
		 free_port(SOCK_DGRAM));
	call(&r, "POST", "/subscriptions", body, AUTH_TOKEN);
	assert_status(&r, 201);
	{
		json_t *rec = json_array_get(
		    json_object_get(r.json, "recordings"), 0);

		assert_non_null(rec);
		snprintf(path, sizeof(path), "%s/state/recordings/new.wav",
			 dir);
		assert_string_equal(
		    json_string_value(json_object_get(rec, "path")), path);
		assert_string_equal(
		    json_string_value(json_object_get(rec, "state")),
		    "waiting");
	}
	reply_free(&r);
	call(&r, "DELETE", "/subscriptions/r", NULL, AUTH_TOKEN);
	assert_status(&r, 204);
	reply_free(&r);
	assert_int_equal(stat(path, &st), 0);
	assert_true(st.st_size >= 44); /* a WAV header at least */
}

/* A config file's subscription: its latency can be changed, and the
 * change outlives a restart (state.json "latencies"), but it cannot be
 * deleted. */
static void test_api_config_subscription_latency_is_saved(void **state)
{
	json_t *list, *j;
	struct reply r;

	list = get("/subscriptions");
	j = named(list, "cfg");
	assert_non_null(j);
	assert_string_equal(member_str(j, "origin"), "config");
	assert_int_equal(member_int(j, "latency_us"), 2000);
	json_decref(list);
	j = ok("PUT", "/subscriptions/cfg", "{\"latency_us\":7000}", 200);
	assert_int_equal(member_int(j, "latency_us"), 7000);
	json_decref(j);
	call(&r, "DELETE", "/subscriptions/cfg", NULL, AUTH_TOKEN);
	assert_error(&r, 409, "subscription 'cfg' comes from the config file");
	reply_free(&r);

	assert_int_equal(stop_node(), 0);
	assert_int_equal(start_node(), 0);
	list = get("/subscriptions");
	j = named(list, "cfg");
	assert_non_null(j);
	assert_int_equal(member_int(j, "latency_us"), 7000);
	json_decref(list);
	/* back to the file's, which is saved too */
	json_decref(
	    ok("PUT", "/subscriptions/cfg", "{\"latency_us\":2000}", 200));
}

/* ---- channels ---- */

#define BAD_NAME "'name' must be 1-31 bytes of UTF-8"

static void test_api_channel_rename(void **state)
{
	static const struct bad_req t[] = {
	    {"PUT", "/channels/tx/3", "{\"name\":\"Vox\"}", 404,
	     "no tx channel 3: the node has 2"},
	    {"PUT", "/channels/rx/9", "{\"name\":\"Vox\"}", 404,
	     "no rx channel 9: the node has 8"},
	    {"PUT", "/channels/tx/0", "{\"name\":\"Vox\"}", 404,
	     "no tx channel '0'"},
	    {"PUT", "/channels/tx/x1", "{\"name\":\"Vox\"}", 404,
	     "no tx channel 'x1'"},
	    {"PUT", "/channels/mid/1", "{\"name\":\"Vox\"}", 404,
	     "channels are /channels/tx/N or /channels/rx/N"},
	    {"PUT", "/channels/tx/1", "{\"name\":\"\"}", 400, BAD_NAME},
	    {"PUT", "/channels/tx/1", "{\"name\":\"12\"}", 400, BAD_NAME},
	    {"PUT", "/channels/tx/1", "{\"name\":\"1-2,3\"}", 400, BAD_NAME},
	    {"PUT", "/channels/tx/1", "{\"name\":\"a@b\"}", 400, BAD_NAME},
	    {"PUT", "/channels/tx/1", "{\"name\":\"a\\\"b\"}", 400, BAD_NAME},
	    {"PUT", "/channels/tx/1", "{\"name\":\"tab\\there\"}", 400,
	     BAD_NAME},
	    {"PUT", "/channels/tx/1",
	     "{\"name\":\"abcdefghijklmnopqrstuvwxyz012345\"}", 400, BAD_NAME},
	    {"PUT", "/channels/tx/1", "{\"name\":7}", 400, BAD_NAME},
	    /* names that read otherwise than they are (an attacker's):
	     * turned around, a C1 control, blank */
	    {"PUT", "/channels/tx/1", "{\"name\":\"a\\u202eb\"}", 400,
	     BAD_NAME},
	    {"PUT", "/channels/tx/1", "{\"name\":\"a\\u200eb\"}", 400,
	     BAD_NAME},
	    {"PUT", "/channels/tx/1", "{\"name\":\"ab\\u2066\"}", 400,
	     BAD_NAME},
	    {"PUT", "/channels/tx/1", "{\"name\":\"a\\u0085b\"}", 400,
	     BAD_NAME},
	    {"PUT", "/channels/tx/1", "{\"name\":\"\\u00a0\"}", 400, BAD_NAME},
	    /* a line separator (a reader splitting lines on it saw an SDP
	     * line in the i= line), a comma (a list's separator) */
	    {"PUT", "/channels/tx/1", "{\"name\":\"L\\u2028c=IN IP4 1.2.3.4\"}",
	     400, BAD_NAME},
	    {"PUT", "/channels/tx/1", "{\"name\":\"R\\u2029m=audio 9\"}", 400,
	     BAD_NAME},
	    {"PUT", "/channels/tx/1", "{\"name\":\"L, R\"}", 400, BAD_NAME},
	    {"PUT", "/channels/rx/1", NULL, 400, "PUT needs {\"name\": NAME}"},
	};
	json_t *j, *tx;
	struct reply r;

	check_refusals(t, sizeof(t) / sizeof(t[0]));
	j = ok("PUT", "/channels/tx/1", "{\"name\":\"Vox\"}", 200);
	assert_int_equal(member_int(j, "channel"), 1);
	assert_string_equal(member_str(j, "name"), "Vox");
	assert_string_equal(member_str(j, "source"), "program");
	json_decref(j);
	/* 31 characters is the longest */
	j = ok("PUT", "/channels/rx/2",
	       "{\"name\":\"Return L abcdefghijklmnopqrstu\"}", 200);
	assert_int_equal(member_int(j, "channel"), 2);
	json_decref(j);
	call(&r, "PUT", "/channels/tx/2", "{\"name\":\"Vox\"}", AUTH_TOKEN);
	assert_error(&r, 409, "tx channel 1 is called 'Vox' already");
	reply_free(&r);
	/* its own name again is no clash */
	json_decref(ok("PUT", "/channels/tx/1", "{\"name\":\"Vox\"}", 200));
	/* TX and RX names are separate sets */
	json_decref(ok("PUT", "/channels/rx/1", "{\"name\":\"Vox\"}", 200));

	j = get("/channels");
	tx = json_array_get(member(j, "tx"), 0);
	assert_string_equal(member_str(tx, "name"), "Vox");
	tx = json_array_get(member(j, "tx"), 1);
	assert_string_equal(member_str(tx, "name"), "02");
	assert_string_equal(
	    member_str(json_array_get(member(j, "rx"), 1), "name"),
	    "Return L abcdefghijklmnopqrstu");
	json_decref(j);
	/* the flow's SDP names its channels by their TX names (PipeWire
	 * names its channels from i=; a new user's stayed "tone 1") */
	j = get("/flows/main");
	assert_non_null(strstr(member_str(j, "sdp"),
			       "\r\ni=2 channels: Vox, program 2\r\n"));
	json_decref(j);
}

/* ---- D4 ---- */

static void test_api_d4_exec(void **state)
{
	static const struct bad_req t[] = {
	    {"POST", "/d4/exec", "{\"text\":\"x += 1\"}", 400,
	     "1:1: undefined name 'x'"},
	    {"POST", "/d4/exec", "{\"text\":\"IP[] _main_receivers\"}", 400,
	     "'_main_receivers' is already declared"},
	    {"POST", "/d4/exec", "{\"text\":\"loop {\"}", 400, "1:"},
	    {"POST", "/d4/exec", "{\"text\":7}", 400,
	     "POST /d4/exec needs {\"text\": \"D4 text\"}"},
	    {"POST", "/d4/exec", "{}", 400, "POST /d4/exec needs {\"text\""},
	    {"POST", "/d4/programs/nosuch/start", NULL, 404,
	     "no D4 loop 'nosuch'"},
	    {"POST", "/d4/programs/flow_main/jump", NULL, 404,
	     "'jump': start or stop"},
	};
	json_t *j, *v;

	check_refusals(t, sizeof(t) / sizeof(t[0]));
	j = ok("POST", "/d4/exec", "{\"text\":\"IP[] _api_list\"}", 200);
	assert_int_equal(member_int(j, "handle"), -1);
	json_decref(j);
	json_decref(ok("POST", "/d4/exec",
		       "{\"text\":\"_api_list += 127.0.0.1:5004\"}", 200));
	j = get("/d4/vars");
	v = named(j, "_api_list");
	assert_non_null(v);
	assert_string_equal(member_str(v, "type"), "IP[100]");
	assert_string_equal(member_str(v, "value"), "[127.0.0.1:5004]");
	json_decref(j);

	/* a loop is loaded stopped, with a handle */
	j = ok("POST", "/d4/exec",
	       "{\"text\":\"loop api_loop {\\npkt = recv()\\n}\\n\"}", 200);
	assert_true(member_int(j, "handle") >= 0);
	assert_string_equal(member_str(j, "loop"), "api_loop");
	json_decref(j);
	j = get("/d4/programs");
	v = named(j, "api_loop");
	assert_non_null(v);
	assert_true(json_is_false(member(v, "running")));
	json_decref(j);
	j = ok("POST", "/d4/programs/api_loop/start", NULL, 200);
	assert_true(json_is_true(member(j, "running")));
	json_decref(j);
	j = get("/d4/programs");
	assert_true(json_is_true(member(named(j, "api_loop"), "running")));
	json_decref(j);
	j = ok("POST", "/d4/programs/api_loop/stop", NULL, 200);
	assert_true(json_is_false(member(j, "running")));
	json_decref(j);
}

int main(void)
{
	/* Under qemu-user the node's privilege drop (node/privs.c), which
	 * checks every thread in /proc/self/task, finds one that kept its
	 * capabilities (qemu runs threads of its own, which libpsx cannot
	 * reach) and refuses to start. */
	if (getenv("D4_QEMU_USER")) {
		printf("1..0 # SKIP qemu-user: a thread keeps capabilities "
		       "the node cannot drop, so node_run refuses to start\n");
		return 0;
	}
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_api_token_file_is_0600_hex),
	    cmocka_unit_test(test_api_node_gives_name_id_version),
	    cmocka_unit_test(test_api_node_rename),
	    cmocka_unit_test(test_api_reads_have_their_members),
	    cmocka_unit_test(test_api_unknown_path_is_404),
	    cmocka_unit_test(test_api_wrong_method_is_405),
	    cmocka_unit_test(test_api_writes_without_token_are_401),
	    cmocka_unit_test(test_api_bad_bodies_are_400),
	    cmocka_unit_test(test_api_body_over_64k_is_413),
	    cmocka_unit_test(test_api_flow_create_refuses_bad_fields),
	    cmocka_unit_test(test_api_flow_create_duplicate_delete),
	    cmocka_unit_test(test_api_subscription_create_refuses_bad_fields),
	    cmocka_unit_test(test_api_subscription_rx_channels_taken_is_409),
	    cmocka_unit_test(test_api_subscription_update_delete),
	    cmocka_unit_test(test_api_subscription_by_address),
	    cmocka_unit_test(test_api_subscription_unicast_port_taken_is_409),
	    cmocka_unit_test(test_api_subscription_record_delete_frees_sink),
	    cmocka_unit_test(test_api_record_path_exists_or_symlink_is_409),
	    cmocka_unit_test(test_api_config_subscription_latency_is_saved),
	    cmocka_unit_test(test_api_channel_rename),
	    cmocka_unit_test(test_api_d4_exec),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
