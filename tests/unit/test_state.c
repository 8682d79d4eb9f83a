/* Unit tests for the node's state file (node/state.c), on a whole node in
 * a thread (tests/unit/node_harness.h): a flow and a subscription made by
 * the INI file, by the API and by state replay are the same record, byte
 * for byte; a state file of the previous release (version 1) restores; D4
 * changes keep the file's size where the variables are. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "node_harness.h"
#include "qemu_user.h"

static unsigned int api_port, port_a, port_b, port_c;

/* The node: a tone source, and whatever @extra the test adds. */
static int configure(const char *name, const char *extra)
{
	return harness_config("[node]\n"
			      "name = %s\n"
			      "api = 127.0.0.1:%u\n"
			      "state_dir = %s/state\n"
			      "rt_priority = 0\n"
			      "status_interval = 0\n"
			      "[discovery]\n"
			      "sap = off\n"
			      "mdns = off\n"
			      "[source program]\n"
			      "type = tone\n"
			      "channels = 4\n"
			      "%s",
			      name, api_port, dir, extra);
}

static char *dump(const json_t *j)
{
	char *s = json_dumps(j, JSON_INDENT(1) | JSON_SORT_KEYS);

	assert_non_null(s);
	return s;
}

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = calloc(1, (size_t)n + 1);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	if (len)
		*len = (size_t)n;
	return buf;
}

static json_t *state_json(void)
{
	char path[128];
	json_t *j;

	snprintf(path, sizeof(path), "%s/state/state.json", dir);
	j = json_load_file(path, 0, NULL);
	assert_non_null(j);
	return j;
}

/* The settings record of flow or subscription @name from the API. */
static char *record(const char *kind, const char *name)
{
	char path[128];
	json_t *j;
	char *s;

	snprintf(path, sizeof(path), "/%s/%s", kind, name);
	j = get(path);
	s = dump(member(j, "settings"));
	json_decref(j);
	return s;
}

static void restart(void)
{
	assert_int_equal(stop_node(), 0);
	assert_int_equal(start_node(), 0);
}

/* One flow and one subscription, same settings, three ways in: the INI
 * file, the API, state replay. Each way gives the same record, and the
 * state file written before and after a restart is the same file. */
static void test_state_ini_api_replay_give_identical_records(void **state)
{
	char ini[1024], flow[512], sub[512];
	char *ini_flow, *ini_sub, *api_flow, *api_sub, *file1, *file2;
	struct reply r;
	json_t *st;
	char path[128];

	snprintf(ini, sizeof(ini),
		 "[flow mon]\n"
		 "source = program\n"
		 "channels = 2,1\n"
		 "destination = 127.0.0.1:%u\n"
		 "encoding = L16\n"
		 "ptime = 250us\n"
		 "dscp = 46\n"
		 "ttl = 3\n"
		 "[subscription ret]\n"
		 "address = 127.0.0.1:%u\n"
		 "channels = 4\n"
		 "latency = 2500us\n"
		 "timing = ptp\n"
		 "rx_channels = 3-4\n"
		 "stream_channels = 2,1\n",
		 port_a, port_b);
	assert_int_equal(configure("states", ini), 0);
	assert_int_equal(start_node(), 0);
	ini_flow = record("flows", "mon");
	ini_sub = record("subscriptions", "ret");

	/* the same through the API, as a client would write it */
	assert_int_equal(stop_node(), 0);
	assert_int_equal(configure("states", ""), 0);
	assert_int_equal(start_node(), 0);
	snprintf(flow, sizeof(flow),
		 "{\"name\":\"mon\",\"source\":\"program\",\"channels\":[2,1],"
		 "\"destination\":\"127.0.0.1:%u\",\"encoding\":\"L16\","
		 "\"ptime_us\":250,\"dscp\":46,\"ttl\":3}",
		 port_a);
	snprintf(sub, sizeof(sub),
		 "{\"name\":\"ret\",\"address\":\"127.0.0.1:%u\","
		 "\"channels\":4,\"latency_us\":\"2.5ms\",\"timing\":\"ptp\","
		 "\"rx_channels\":\"3-4\",\"stream_channels\":[2,1]}",
		 port_b);
	json_decref(ok("POST", "/flows", flow, 201));
	json_decref(ok("POST", "/subscriptions", sub, 201));
	json_decref(ok("PUT", "/channels/tx/1", "{\"name\":\"Vox\"}", 200));
	api_flow = record("flows", "mon");
	api_sub = record("subscriptions", "ret");
	assert_string_equal(api_flow, ini_flow);
	assert_string_equal(api_sub, ini_sub);
	/* the state file holds exactly those records */
	st = state_json();
	assert_int_equal(json_integer_value(member(st, "version")), 2);
	free(api_flow);
	api_flow = dump(json_array_get(member(st, "flows"), 0));
	assert_string_equal(api_flow, ini_flow);
	free(api_sub);
	api_sub = dump(json_array_get(member(st, "subscriptions"), 0));
	assert_string_equal(api_sub, ini_sub);
	json_decref(st);
	snprintf(path, sizeof(path), "%s/state/state.json", dir);
	file1 = read_file(path, NULL);

	/* replayed at start: the same records, and the same file once it
	 * is written again */
	restart();
	free(api_flow);
	free(api_sub);
	api_flow = record("flows", "mon");
	api_sub = record("subscriptions", "ret");
	assert_string_equal(api_flow, ini_flow);
	assert_string_equal(api_sub, ini_sub);
	json_decref(ok("PUT", "/channels/tx/1", "{\"name\":\"Vox\"}", 200));
	file2 = read_file(path, NULL);
	assert_string_equal(file2, file1);

	free(ini_flow);
	free(ini_sub);
	free(api_flow);
	free(api_sub);
	free(file1);
	free(file2);
	call(&r, "DELETE", "/flows/mon", NULL, AUTH_TOKEN);
	assert_status(&r, 204);
	reply_free(&r);
	call(&r, "DELETE", "/subscriptions/ret", NULL, AUTH_TOKEN);
	assert_status(&r, 204);
	reply_free(&r);
	assert_int_equal(stop_node(), 0);
}

static json_t *var(const char *name)
{
	json_t *vars = get("/d4/vars"), *v = json_incref(named(vars, name));

	json_decref(vars);
	if (!v)
		fail_msg("no D4 variable %s", name);
	return v;
}

static void assert_var(const char *name, const char *value)
{
	json_t *v = var(name);

	assert_string_equal(member_str(v, "value"), value);
	json_decref(v);
}

/* A state file written by the previous release restores, and is written
 * back as version 2. */
static void test_state_version_1_file_restores(void **state)
{
	char ini[512], src[512], dst[128], *text;
	json_t *j, *o;
	FILE *f;

	snprintf(ini, sizeof(ini),
		 "[flow main]\n"
		 "source = program\n"
		 "destination = 127.0.0.1:%u\n"
		 "[subscription cfg]\n"
		 "address = 127.0.0.1:%u\n"
		 "latency = 2ms\n",
		 port_a, port_c);
	assert_int_equal(configure("v1node", ini), 0);
	snprintf(src, sizeof(src), "%s/state/v1-e3bf55a.json",
		 getenv("D4_TEST_DATA"));
	snprintf(dst, sizeof(dst), "%s/state", dir);
	mkdir(dst, 0700);
	snprintf(dst, sizeof(dst), "%s/state/state.json", dir);
	text = read_file(src, NULL);
	f = fopen(dst, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	free(text);
	assert_int_equal(start_node(), 0);

	j = get("/node");
	assert_string_equal(member_str(j, "name"), "v1-renamed");
	json_decref(j);
	j = get("/flows/uni");
	assert_string_equal(member_str(j, "destination"), "127.0.0.1:15010");
	assert_int_equal(member_int(j, "ptime_us"), 250);
	assert_int_equal(member_int(j, "dscp"), 46);
	assert_int_equal(json_array_size(member(j, "channels")), 2);
	assert_string_equal(member_str(j, "origin"), "api");
	json_decref(j);
	j = get("/flows/grp");
	assert_string_equal(member_str(j, "encoding"), "L16");
	assert_int_equal(member_int(j, "ttl"), 4);
	assert_int_equal(json_array_size(member(j, "channels")), 4);
	json_decref(j);
	j = get("/subscriptions/byaddr");
	assert_int_equal(member_int(j, "latency_us"), 3000);
	o = member(j, "stream_channels");
	assert_int_equal(json_integer_value(json_array_get(o, 0)), 2);
	assert_int_equal(json_integer_value(json_array_get(o, 1)), 1);
	json_decref(j);
	j = get("/subscriptions/bysdp");
	assert_string_equal(member_str(j, "address"), "239.69.8.8:5004");
	assert_int_equal(member_int(j, "mediaclk_offset"), 55);
	json_decref(j);
	j = get("/subscriptions/byname");
	assert_string_equal(member_str(j, "stream"), "far away 1");
	assert_string_equal(member_str(j, "state"), "unresolved");
	assert_int_equal(member_int(j, "latency_us"), 5000);
	json_decref(j);
	j = get("/subscriptions/cfg");
	assert_int_equal(member_int(j, "latency_us"), 4000);
	json_decref(j);
	assert_var("_uni_receivers", "[127.0.0.1:15010, 127.0.0.1:15011]");
	assert_var("_extra", "[10.0.0.8:5004]");
	assert_var("_gain", "3");
	j = get("/channels");
	assert_string_equal(
	    member_str(json_array_get(member(j, "tx"), 0), "name"), "Vox");
	assert_string_equal(
	    member_str(json_array_get(member(j, "rx"), 1), "name"), "Ret");
	json_decref(j);
	/* rewritten as version 2, and that restores the same */
	j = state_json();
	assert_int_equal(json_integer_value(member(j, "version")), 2);
	json_decref(j);
	restart();
	assert_var("_uni_receivers", "[127.0.0.1:15010, 127.0.0.1:15011]");
	assert_var("_extra", "[10.0.0.8:5004]");
	j = get("/subscriptions/cfg");
	assert_int_equal(member_int(j, "latency_us"), 4000);
	json_decref(j);
	assert_true(listed("/flows", "grp"));
	assert_int_equal(stop_node(), 0);
}

/* 3000 pairs of += and -= on a relay list leave the state file as large
 * as it was (values are saved, not the statements that made them), and a
 * restart restores the list. */
static void test_state_d4_changes_do_not_grow_the_file(void **state)
{
	char ini[256], path[128], body[160];
	size_t before, after;
	unsigned int i;
	char *text;

	snprintf(ini, sizeof(ini),
		 "[flow main]\nsource = program\ndestination = 127.0.0.1:%u\n",
		 port_a);
	assert_int_equal(configure("grow", ini), 0);
	snprintf(path, sizeof(path), "%s/state", dir);
	/* a fresh state: the file goes, the directory and token stay */
	snprintf(body, sizeof(body), "%s/state.json", path);
	unlink(body);
	assert_int_equal(start_node(), 0);
	json_decref(ok("POST", "/d4/exec",
		       "{\"text\":\"_main_receivers += 127.0.0.1:9\"}", 200));
	snprintf(path, sizeof(path), "%s/state/state.json", dir);
	free(read_file(path, &before));
	for (i = 0; i < 3000; i++) {
		snprintf(body, sizeof(body),
			 "{\"text\":\"_main_receivers += 10.%u.%u.%u:5004\"}",
			 i >> 16, (i >> 8) & 255, i & 255);
		json_decref(ok("POST", "/d4/exec", body, 200));
		snprintf(body, sizeof(body),
			 "{\"text\":\"_main_receivers -= 10.%u.%u.%u:5004\"}",
			 i >> 16, (i >> 8) & 255, i & 255);
		json_decref(ok("POST", "/d4/exec", body, 200));
	}
	text = read_file(path, &after);
	free(text);
	print_message("# state.json: %zu bytes before, %zu after 3000 pairs\n",
		      before, after);
	assert_int_equal(after, before);
	restart();
	char want[64];

	snprintf(want, sizeof(want), "[127.0.0.1:%u, 127.0.0.1:9]", port_a);
	assert_var("_main_receivers", want);
	assert_int_equal(stop_node(), 0);
}

/* Node @name with one flow, a fresh state, and a relay loop on port_b
 * that declares its own list _r and sends each packet to it. */
static void start_with_relay(const char *name)
{
	char ini[256], body[512];

	snprintf(ini, sizeof(ini),
		 "[flow main]\nsource = program\ndestination = 127.0.0.1:%u\n",
		 port_a);
	assert_int_equal(configure(name, ini), 0);
	snprintf(body, sizeof(body), "%s/state/state.json", dir);
	unlink(body);
	assert_int_equal(start_node(), 0);
	snprintf(
	    body, sizeof(body),
	    "{\"text\":\"IP[] _r\\nloop relay on udp 127.0.0.1:%u {\\n"
	    "pkt = recv()\\nfor ip in _r:\\nsendto(pkt, ip)\\nendfor\\n}\"}",
	    port_b);
	json_decref(ok("POST", "/d4/exec", body, 200));
}

/* D4 programs loaded through the API come back after a restart: one that
 * declares its own variable before its loop (as examples/d4/seed-relay.d4
 * does), and one that uses a variable declared through the API on its
 * own. (The first was lost at every restart: the saved variable was
 * declared before the program, whose own declaration then clashed.) */
static void test_state_d4_programs_with_their_variables_restore(void **state)
{
	char body[512];
	json_t *progs;

	start_with_relay("progs");
	json_decref(
	    ok("POST", "/d4/exec", "{\"text\":\"_r += 127.0.0.1:7\"}", 200));
	json_decref(ok("POST", "/d4/exec", "{\"text\":\"IP[] _api\"}", 200));
	snprintf(body, sizeof(body),
		 "{\"text\":\"loop other on udp 127.0.0.1:%u {\\n"
		 "pkt = recv()\\nfor ip in _api:\\nsendto(pkt, ip)\\n"
		 "endfor\\n}\"}",
		 port_c);
	json_decref(ok("POST", "/d4/exec", body, 200));
	json_decref(
	    ok("POST", "/d4/exec", "{\"text\":\"_api += 127.0.0.1:8\"}", 200));
	restart();
	progs = get("/d4/programs");
	assert_non_null(named(progs, "relay"));
	assert_non_null(named(progs, "other"));
	json_decref(progs);
	assert_var("_r", "[127.0.0.1:7]");
	assert_var("_api", "[127.0.0.1:8]");
	assert_int_equal(stop_node(), 0);
}

/* Write @value as D4 variable @name's in the state file at @path, as a
 * hand edit would. */
static void set_saved_value(const char *path, const char *name,
			    const char *value)
{
	json_t *st = json_load_file(path, 0, NULL), *v;
	size_t i;

	assert_non_null(st);
	json_array_foreach(json_object_get(json_object_get(st, "d4"), "vars"),
			   i, v)
	{
		if (!strcmp(json_string_value(json_object_get(v, "name")),
			    name))
			json_object_set_new(v, "value", json_string(value));
	}
	assert_int_equal(json_dump_file(st, path, 0), 0);
	json_decref(st);
}

/* A saved list with an entry the runtime now refuses (a receiver without
 * a port in a list a loop sends to: written before that check, or by
 * hand) restores without it; its other entries are not lost with it. */
static void test_state_list_with_a_refused_entry_keeps_the_others(void **state)
{
	char path[128];
	json_t *st;

	start_with_relay("portless");
	snprintf(path, sizeof(path), "%s/state/state.json", dir);
	json_decref(
	    ok("POST", "/d4/exec", "{\"text\":\"_r += 127.0.0.1:7\"}", 200));
	json_decref(
	    ok("POST", "/d4/exec", "{\"text\":\"_r += 127.0.0.1:8\"}", 200));
	/* today the API refuses the port-less entry itself */
	json_decref(
	    ok("POST", "/d4/exec", "{\"text\":\"_r += 10.0.0.9\"}", 400));
	assert_int_equal(stop_node(), 0);

	set_saved_value(path, "_r",
			"[127.0.0.1:7, 10.0.0.9, 127.0.0.1:8] , 1.2.3.4:5");

	assert_int_equal(start_node(), 0);
	assert_var("_r", "[127.0.0.1:7, 127.0.0.1:8]");
	assert_int_equal(stop_node(), 0);

	/* a value is one D4 value: a hand-edited one that would be more
	 * statements (a loop) is not run */
	set_saved_value(path, "_r",
			"[127.0.0.1:9]\nloop evil on udp 127.0.0.1:9 {\n"
			"pkt = recv()\n}");
	assert_int_equal(start_node(), 0);
	st = get("/d4/programs");
	assert_null(named(st, "evil"));
	assert_non_null(named(st, "relay"));
	json_decref(st);
	assert_var("_r", "[]");
	assert_int_equal(stop_node(), 0);
}

/* How many entries of state.json's @kind (or d4.programs) are named
 * @name (for programs: whose text holds @name). */
static int saved_count(const char *kind, const char *name)
{
	json_t *st = state_json(), *a, *e;
	int n = 0;
	size_t i;

	a = strcmp(kind, "programs")
		? json_object_get(st, kind)
		: json_object_get(json_object_get(st, "d4"), "programs");
	json_array_foreach(a, i, e)
	{
		const char *v = json_string_value(json_object_get(
		    e, strcmp(kind, "programs") ? "name" : "text"));

		if (v && (strcmp(kind, "programs") ? !strcmp(v, name)
						   : strstr(v, name) != NULL))
			n++;
	}
	json_decref(st);
	return n;
}

/* What did not restore at a start (an interface not up yet, a port in
 * use) is kept in state.json, not dropped at the next save (an attacker's
 * report: a USB interface late at boot cost its flow and subscription
 * for good); it is tried again at the next start, and DELETE forgets it. */
static void test_state_unrestored_records_are_kept(void **state)
{
	char path[128], body[256];
	json_t *st, *e;
	size_t i;
	int busy;
	struct sockaddr_in a = {.sin_family = AF_INET};
	struct reply r;

	assert_int_equal(configure("kept", ""), 0);
	/* a fresh state: an earlier test's relay loop on port_b would
	 * refuse the subscription there */
	snprintf(path, sizeof(path), "%s/state/state.json", dir);
	unlink(path);
	assert_int_equal(start_node(), 0);
	snprintf(body, sizeof(body),
		 "{\"name\":\"f\",\"source\":\"program\",\"channels\":[1,2],"
		 "\"destination\":\"127.0.0.1:%u\"}",
		 port_a);
	json_decref(ok("POST", "/flows", body, 201));
	snprintf(body, sizeof(body),
		 "{\"name\":\"s\",\"address\":\"127.0.0.1:%u\","
		 "\"channels\":2}",
		 port_b);
	json_decref(ok("POST", "/subscriptions", body, 201));
	snprintf(body, sizeof(body),
		 "{\"text\":\"loop keepme on udp 127.0.0.1:%u {\\npkt = "
		 "recv()\\n}\\n\"}",
		 port_c);
	json_decref(ok("POST", "/d4/exec", body, 200));
	assert_int_equal(stop_node(), 0);

	/* the subscription's interface gone, the flow's source too (a
	 * unicast flow needs no interface); the loop's port taken by
	 * another program */
	snprintf(path, sizeof(path), "%s/state/state.json", dir);
	st = state_json();
	json_array_foreach(json_object_get(st, "flows"), i, e)
		json_object_set_new(e, "source", json_string("gone"));
	json_array_foreach(json_object_get(st, "subscriptions"), i, e)
		json_object_set_new(e, "interface", json_string("nosuch0"));
	assert_int_equal(json_dump_file(st, path, 0), 0);
	json_decref(st);
	busy = socket(AF_INET, SOCK_DGRAM, 0);
	a.sin_port = htons((uint16_t)port_c);
	a.sin_addr.s_addr = htonl(0x7f000001);
	assert_int_equal(bind(busy, (struct sockaddr *)&a, sizeof(a)), 0);

	assert_int_equal(start_node(), 0);
	assert_false(listed("/flows", "f"));
	assert_false(listed("/subscriptions", "s"));
	/* an unrelated write saves the state: what did not restore stays */
	json_decref(ok("PUT", "/channels/tx/1", "{\"name\":\"Gtr\"}", 200));
	assert_int_equal(saved_count("flows", "f"), 1);
	assert_int_equal(saved_count("subscriptions", "s"), 1);
	assert_int_equal(saved_count("programs", "keepme"), 1);
	assert_int_equal(stop_node(), 0);
	close(busy);

	/* the port free again: the loop comes back at the next start; the
	 * flow and the subscription (still no source, no interface) stay
	 * kept, and DELETE forgets them */
	assert_int_equal(start_node(), 0);
	st = get("/d4/programs");
	assert_non_null(named(st, "keepme"));
	json_decref(st);
	assert_int_equal(saved_count("flows", "f"), 1);
	call(&r, "DELETE", "/flows/f", NULL, AUTH_TOKEN);
	assert_status(&r, 204);
	reply_free(&r);
	call(&r, "DELETE", "/subscriptions/s", NULL, AUTH_TOKEN);
	assert_status(&r, 204);
	reply_free(&r);
	assert_int_equal(saved_count("flows", "f"), 0);
	assert_int_equal(saved_count("subscriptions", "s"), 0);
	assert_int_equal(saved_count("programs", "keepme"), 1);
	call(&r, "DELETE", "/flows/f", NULL, AUTH_TOKEN);
	assert_status(&r, 404);
	reply_free(&r);
	assert_int_equal(stop_node(), 0);
}

static int group_setup(void **state)
{
	api_port = free_port(SOCK_STREAM);
	port_a = free_port(SOCK_DGRAM);
	port_b = free_port(SOCK_DGRAM);
	port_c = free_port(SOCK_DGRAM);
	return harness_init("state", api_port);
}

static int group_teardown(void **state)
{
	return harness_fini();
}

/* A test that failed half-way leaves its node running: stop it. */
static int test_teardown(void **state)
{
	return stop_node();
}

int main(void)
{
	/* As test_api: node_run refuses to start under qemu-user. */
	if (getenv("D4_QEMU_USER")) {
		printf("1..0 # SKIP qemu-user: a thread keeps capabilities "
		       "the node cannot drop, so node_run refuses to start\n");
		return 0;
	}
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_teardown(
		test_state_ini_api_replay_give_identical_records,
		test_teardown),
	    cmocka_unit_test_teardown(test_state_version_1_file_restores,
				      test_teardown),
	    cmocka_unit_test_teardown(
		test_state_d4_changes_do_not_grow_the_file, test_teardown),
	    cmocka_unit_test_teardown(
		test_state_d4_programs_with_their_variables_restore,
		test_teardown),
	    cmocka_unit_test_teardown(
		test_state_list_with_a_refused_entry_keeps_the_others,
		test_teardown),
	    cmocka_unit_test_teardown(test_state_unrestored_records_are_kept,
				      test_teardown),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
