/* The route planner (controller-cli/plan.c) against fake networks: JSON
 * snapshots of nodes' API answers in tests/data/d4ctl/. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "controller-cli/plan.h"

static json_t *load_net(const char *name)
{
	const char *dir = getenv("D4_TEST_DATA");
	char path[1024];
	json_error_t jerr;
	json_t *net;

	snprintf(path, sizeof(path), "%s/d4ctl/%s", dir ? dir : "tests/data",
		 name);
	net = json_load_file(path, 0, &jerr);
	if (!net)
		print_error("%s:%d: %s\n", path, jerr.line, jerr.text);
	assert_non_null(net);
	return net;
}

static struct chanspec spec(const char *s)
{
	struct chanspec cs;
	char err[256];

	if (args_parse_chanspec(s, &cs, err, sizeof(err)) < 0) {
		print_error("%s\n", err);
		fail();
	}
	return cs;
}

/* One action: node, method, path, and the body as compact sorted JSON. */
static void assert_call(const struct plan_action *a, const char *node,
			const char *method, const char *path, const char *body)
{
	char *got = a->call.body ? json_dumps(a->call.body,
					      JSON_COMPACT | JSON_SORT_KEYS)
				 : NULL;

	assert_string_equal(a->node, node);
	assert_string_equal(a->call.method, method);
	assert_string_equal(a->call.path, path);
	if (body) {
		assert_non_null(got);
		assert_string_equal(got, body);
	} else {
		assert_null(got);
	}
	free(got);
}

static int route(const json_t *net, const char *tx, const char *rx,
		 const struct plan_opts *opts, struct plan *plan, char *err,
		 size_t err_len)
{
	struct chanspec t = spec(tx), r = spec(rx);
	static const struct plan_opts none;

	return plan_route(net, &t, &r, opts ? opts : &none, plan, err, err_len);
}

static void test_route_uses_multicast_flow_by_session(void **state)
{
	json_t *net = load_net("net-basic.json");
	struct plan plan;
	char err[256];

	assert_int_equal(
	    route(net, "1-2@A", "3-4@B", NULL, &plan, err, sizeof(err)), 0);
	assert_int_equal(plan.n, 1);
	assert_call(&plan.a[0], "B", "POST", "/subscriptions",
		    "{\"name\":\"rx3-4\",\"rx_channels\":[3,4],\"stream\":"
		    "\"A main\",\"stream_channels\":[1,2]}");
	assert_string_equal(plan.a[0].undo.method, "DELETE");
	assert_string_equal(plan.a[0].undo.path, "/subscriptions/rx3-4");
	plan_free(&plan);
	/* one channel of the multicast flow: that channel of the stream */
	assert_int_equal(
	    route(net, "2@A", "7@B", NULL, &plan, err, sizeof(err)), 0);
	assert_int_equal(plan.n, 1);
	assert_call(&plan.a[0], "B", "POST", "/subscriptions",
		    "{\"name\":\"rx7\",\"rx_channels\":[7],\"stream\":"
		    "\"A main\",\"stream_channels\":[2]}");
	plan_free(&plan);
	json_decref(net);
}

static void test_route_creates_unicast_flow_first_receiver(void **state)
{
	json_t *net = load_net("net-basic.json");
	struct plan_opts opts = {.latency_us = 2000};
	struct plan plan;
	char err[256];

	assert_int_equal(
	    route(net, "3-4@A", "1-2@B", &opts, &plan, err, sizeof(err)), 0);
	assert_int_equal(plan.n, 2);
	assert_call(&plan.a[0], "A", "POST", "/flows",
		    "{\"channels\":[3,4],\"destination\":\"10.77.0.2:5004\","
		    "\"name\":\"uc3-4\",\"source\":\"program\"}");
	assert_string_equal(plan.a[0].undo.path, "/flows/uc3-4");
	assert_call(&plan.a[1], "B", "POST", "/subscriptions",
		    "{\"address\":\"10.77.0.2:5004\",\"channels\":2,"
		    "\"encoding\":\"L24\",\"latency_us\":2000,\"name\":"
		    "\"rx1-2\",\"ptime_us\":1000,\"rate\":48000,"
		    "\"rx_channels\":[1,2]}");
	assert_true(plan.a[1].format_from_prev);
	plan_free(&plan);
	json_decref(net);
}

/* A receiver d4ctl knows only at 127.0.0.1 (avahi's answer on lo, on
 * the receiver's own host) cannot be a unicast destination for a sender
 * elsewhere: refused, saying why, nothing planned. */
static void test_route_refuses_loopback_receiver_of_remote_sender(void **state)
{
	json_t *net = load_net("net-basic.json");
	json_t *nodes = json_object_get(net, "nodes");
	struct plan plan;
	char err[256];
	size_t i;
	json_t *n;

	json_array_foreach(nodes, i, n)
	{
		if (!strcmp(json_string_value(json_object_get(n, "name")), "B"))
			json_object_set_new(n, "address",
					    json_string("127.0.0.1:8080"));
	}
	assert_int_equal(route(net, "3-4@A", "1-2@B", NULL, &plan, err,
			       sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "127.0.0.1 (this host's loopback)"));
	json_decref(net);
}

static void test_route_reuses_unicast_flow_adds_receiver(void **state)
{
	json_t *net = load_net("net-unicast.json");
	struct plan plan;
	char err[256];

	assert_int_equal(
	    route(net, "3-4@A", "1-2@C", NULL, &plan, err, sizeof(err)), 0);
	assert_int_equal(plan.n, 2);
	assert_call(&plan.a[0], "A", "POST", "/d4/exec",
		    "{\"text\":\"_uc3_4_receivers += 10.77.0.3:5004\"}");
	assert_string_equal(plan.a[0].undo.method, "POST");
	assert_string_equal(
	    json_string_value(json_object_get(plan.a[0].undo.body, "text")),
	    "_uc3_4_receivers -= 10.77.0.3:5004");
	/* The format is the existing flow's (L16, 250 µs). */
	assert_call(&plan.a[1], "C", "POST", "/subscriptions",
		    "{\"address\":\"10.77.0.3:5004\",\"channels\":2,"
		    "\"encoding\":\"L16\",\"name\":\"rx1-2\",\"ptime_us\":250,"
		    "\"rate\":48000,\"rx_channels\":[1,2]}");
	assert_false(plan.a[1].format_from_prev);
	plan_free(&plan);
	json_decref(net);
}

static void test_route_second_receiver_on_same_node_gets_new_port(void **state)
{
	json_t *net = load_net("net-unicast.json");
	struct plan plan;
	char err[256];

	assert_int_equal(
	    route(net, "3-4@A", "5-6@B", NULL, &plan, err, sizeof(err)), 0);
	assert_int_equal(plan.n, 2);
	assert_call(&plan.a[0], "A", "POST", "/d4/exec",
		    "{\"text\":\"_uc3_4_receivers += 10.77.0.2:5006\"}");
	assert_string_equal(plan.a[1].node, "B");
	plan_free(&plan);
	json_decref(net);
}

/* A port any of the RX node's subscriptions uses (a multicast one too)
 * or a D4 loop binds is not given to a new unicast receiver. */
static void test_route_skips_ports_of_multicast_subs_and_loops(void **state)
{
	json_t *net = load_net("net-unicast.json");
	json_t *b = NULL, *n;
	struct plan plan;
	char err[256];
	size_t i;

	json_array_foreach(json_object_get(net, "nodes"), i, n)
	if (!strcmp(json_string_value(json_object_get(
			json_object_get(n, "node"), "name")),
		    "B"))
		b = n;
	assert_non_null(b);
	json_array_append_new(
	    json_object_get(b, "subscriptions"),
	    json_pack("{s:s,s:s,s:i}", "name", "m", "address",
		      "239.69.9.9:5006", "channels", 2));
	json_object_set_new(
	    b, "programs",
	    json_pack("[{s:s,s:s}]", "name", "l", "binding",
		      "udp 0.0.0.0:5008"));
	assert_int_equal(
	    route(net, "3-4@A", "5-6@B", NULL, &plan, err, sizeof(err)), 0);
	assert_call(&plan.a[0], "A", "POST", "/d4/exec",
		    "{\"text\":\"_uc3_4_receivers += 10.77.0.2:5010\"}");
	plan_free(&plan);
	json_decref(net);
}

static void test_route_again_is_no_change(void **state)
{
	json_t *net = load_net("net-unicast.json");
	struct plan plan;
	char err[256];

	assert_int_equal(
	    route(net, "3-4@A", "1-2@B", NULL, &plan, err, sizeof(err)), 0);
	assert_int_equal(plan.n, 0);
	assert_string_equal(plan.note, "1-2@B is already routed from 3-4@A");
	assert_int_equal(
	    route(net, "1-2@A", "7-8@B", NULL, &plan, err, sizeof(err)), 0);
	assert_int_equal(plan.n, 0);
	plan_free(&plan);
	json_decref(net);
}

static void test_route_refuses_taken_rx_channels(void **state)
{
	json_t *net = load_net("net-unicast.json");
	struct plan plan;
	char err[256];

	assert_int_equal(
	    route(net, "5-6@A", "1-2@B", NULL, &plan, err, sizeof(err)),
	    -EEXIST);
	assert_non_null(strstr(err, "1-2@B is taken"));
	assert_non_null(strstr(err, "from 3-4@A"));
	/* overlapping, not equal */
	assert_int_equal(
	    route(net, "5-6@A", "2-3@B", NULL, &plan, err, sizeof(err)),
	    -EEXIST);
	assert_non_null(strstr(err, "'rx1-2'"));
	plan_free(&plan);
	json_decref(net);
}

static void test_route_from_foreign_stream(void **state)
{
	json_t *net = load_net("net-basic.json");
	struct plan plan;
	char err[256];

	assert_int_equal(route(net, "1-2@\"AVIOUSBC-522880 : 2\"", "5-6@B",
			       NULL, &plan, err, sizeof(err)),
			 0);
	assert_int_equal(plan.n, 1);
	assert_call(&plan.a[0], "B", "POST", "/subscriptions",
		    "{\"name\":\"rx5-6\",\"rx_channels\":[5,6],\"stream\":"
		    "\"AVIOUSBC-522880 : 2\",\"stream_channels\":[1,2]}");
	plan_free(&plan);

	/* part of a stream: those stream channels */
	assert_int_equal(route(net, "2@\"AVIOUSBC-522880 : 2\"", "5@B", NULL,
			       &plan, err, sizeof(err)),
			 0);
	assert_call(&plan.a[0], "B", "POST", "/subscriptions",
		    "{\"name\":\"rx5\",\"rx_channels\":[5],\"stream\":"
		    "\"AVIOUSBC-522880 : 2\",\"stream_channels\":[2]}");
	plan_free(&plan);
	assert_int_equal(route(net, "3@\"AVIOUSBC-522880 : 2\"", "5@B", NULL,
			       &plan, err, sizeof(err)),
			 -ENOENT); /* exit code 1: not on this network */
	assert_non_null(strstr(err, "no channel 3"));
	assert_int_equal(route(net, "1-2@\"nobody\"", "5-6@B", NULL, &plan, err,
			       sizeof(err)),
			 -ENOENT);
	assert_non_null(strstr(err, "\"nobody\""));
	plan_free(&plan);
	json_decref(net);
}

static void test_route_rejects_bad_requests(void **state)
{
	json_t *net = load_net("net-basic.json");
	struct plan plan;
	char err[256];

	assert_int_equal(
	    route(net, "1-2@A", "1-3@B", NULL, &plan, err, sizeof(err)),
	    -EINVAL);
	assert_non_null(strstr(err, "2 TX channels to 3 RX channels"));
	assert_int_equal(
	    route(net, "9@A", "1@B", NULL, &plan, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "no channel 9"));
	assert_int_equal(
	    route(net, "1-2@Z", "1-2@B", NULL, &plan, err, sizeof(err)),
	    -ENOENT);
	assert_non_null(strstr(err, "'Z'"));
	assert_int_equal(
	    route(net, "Vox@A", "1@B", NULL, &plan, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "'Vox'"));
	/* C has no flow to say which source its channels come from */
	assert_int_equal(
	    route(net, "1-2@B", "1-2@C", NULL, &plan, err, sizeof(err)),
	    -EINVAL);
	assert_non_null(strstr(err, "--source"));
	plan_free(&plan);
	json_decref(net);
}

static void test_route_with_source_option(void **state)
{
	json_t *net = load_net("net-basic.json");
	struct plan_opts opts = {.source = "tone"};
	struct plan plan;
	char err[256];

	assert_int_equal(
	    route(net, "1-2@B", "1-2@C", &opts, &plan, err, sizeof(err)), 0);
	assert_int_equal(plan.n, 2);
	assert_call(&plan.a[0], "B", "POST", "/flows",
		    "{\"channels\":[1,2],\"destination\":\"10.77.0.3:5004\","
		    "\"name\":\"uc1-2\",\"source\":\"tone\"}");
	plan_free(&plan);
	json_decref(net);
}

static void test_route_by_channel_names(void **state)
{
	json_t *net = load_net("net-channels.json");
	struct plan plan;
	char err[256];

	assert_int_equal(route(net, "Click@stage box", "Cue@mixer", NULL, &plan,
			       err, sizeof(err)),
			 0);
	assert_int_equal(plan.n, 2);
	/* TX channel 3 is channel 1 of source "click" */
	assert_call(&plan.a[0], "stage box", "POST", "/flows",
		    "{\"channels\":[1],\"destination\":\"10.77.0.2:5004\","
		    "\"name\":\"uc1\",\"source\":\"click\"}");
	assert_string_equal(plan.a[1].node, "mixer");
	assert_string_equal(plan.a[1].undo.path, "/subscriptions/rx3");
	plan_free(&plan);
	/* channels from two sources cannot share a flow */
	assert_int_equal(route(net, "2-3@stage box", "1-2@mixer", NULL, &plan,
			       err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "one source"));
	assert_int_equal(route(net, "Bass@stage box", "1@mixer", NULL, &plan,
			       err, sizeof(err)),
			 -ENOENT);
	assert_non_null(strstr(err, "'Bass'"));
	plan_free(&plan);
	json_decref(net);
}

static void test_route_to_stream_is_refused(void **state)
{
	json_t *net = load_net("net-basic.json");
	struct plan plan;
	char err[256];

	assert_int_equal(route(net, "1-2@A", "1-2@\"A main\"", NULL, &plan, err,
			       sizeof(err)),
			 -EINVAL);
	plan_free(&plan);
	json_decref(net);
}

static void test_unroute_keeps_flow_with_other_receivers(void **state)
{
	json_t *net = load_net("net-unicast.json");
	json_t *vars = json_object_get(
	    json_array_get(json_object_get(net, "nodes"), 0), "vars");
	struct plan plan;
	char err[256];

	json_object_set_new(json_array_get(vars, 0), "value",
			    json_string("[10.77.0.2:5004, 10.77.0.3:5004]"));
	assert_int_equal(
	    plan_unroute(net, "B", "rx1-2", &plan, err, sizeof(err)), 0);
	assert_int_equal(plan.n, 2);
	assert_call(&plan.a[0], "A", "POST", "/d4/exec",
		    "{\"text\":\"_uc3_4_receivers -= 10.77.0.2:5004\"}");
	assert_call(&plan.a[1], "B", "DELETE", "/subscriptions/rx1-2", NULL);
	plan_free(&plan);
	json_decref(net);
}

static void test_unroute_last_receiver_deletes_flow(void **state)
{
	json_t *net = load_net("net-unicast.json");
	struct plan plan;
	char err[256];

	assert_int_equal(
	    plan_unroute(net, "B", "rx1-2", &plan, err, sizeof(err)), 0);
	assert_int_equal(plan.n, 3);
	assert_call(&plan.a[0], "A", "POST", "/d4/exec",
		    "{\"text\":\"_uc3_4_receivers -= 10.77.0.2:5004\"}");
	assert_call(&plan.a[1], "A", "DELETE", "/flows/uc3-4", NULL);
	assert_call(&plan.a[2], "B", "DELETE", "/subscriptions/rx1-2", NULL);
	plan_free(&plan);
	json_decref(net);
}

static void test_unroute_multicast_and_missing(void **state)
{
	json_t *net = load_net("net-unicast.json");
	struct chanspec rx = spec("7-8@B");
	char err[256], sub[64], node[64];
	struct plan plan;

	assert_int_equal(plan_rx_name(net, &rx, sub, sizeof(sub), node,
				      sizeof(node), err, sizeof(err)),
			 0);
	assert_string_equal(sub, "rx7-8");
	assert_int_equal(plan_unroute(net, node, sub, &plan, err, sizeof(err)),
			 0);
	assert_int_equal(plan.n, 1);
	assert_call(&plan.a[0], "B", "DELETE", "/subscriptions/rx7-8", NULL);
	plan_free(&plan);
	assert_int_equal(
	    plan_unroute(net, "B", "rx3-4", &plan, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "'rx3-4'"));
	assert_int_equal(
	    plan_unroute(net, "Q", "rx3-4", &plan, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "'Q'"));
	plan_free(&plan);
	json_decref(net);
}

static void test_routes_lists_every_subscription(void **state)
{
	json_t *net = load_net("net-unicast.json");
	json_t *routes = plan_routes(net);
	char *got = json_dumps(routes, JSON_COMPACT | JSON_SORT_KEYS);

	assert_int_equal(json_array_size(routes), 3);
	assert_string_equal(
	    got,
	    "[{\"flow\":\"A uc3-4\",\"from\":\"3-4@A\",\"kind\":\"unicast\","
	    "\"latency_us\":1000,\"legs\":\"-\",\"node\":\"B\",\"rx\":"
	    "\"1-2@B\",\"rx_channels\":[1,2],\"state\":"
	    "\"receiving\",\"subscription\":\"rx1-2\",\"tx_channels\":[3,4],"
	    "\"tx_node\":\"A\"},"
	    "{\"flow\":\"A main\",\"from\":\"1-2@A\",\"kind\":\"multicast\","
	    "\"latency_us\":2000,\"legs\":\"-\",\"node\":\"B\",\"rx\":"
	    "\"7-8@B\",\"rx_channels\":[7,8],\"state\":"
	    "\"receiving\",\"subscription\":\"rx7-8\",\"tx_channels\":[1,2],"
	    "\"tx_node\":\"A\"},"
	    "{\"flow\":\"\",\"from\":\"\\\"AVIOUSBC-522880 : 2\\\"\",\"kind\":"
	    "\"stream\",\"latency_us\":1000,\"legs\":\"-\",\"node\":\"B\","
	    "\"rx\":\"B/monitor\",\"rx_channels\":[],\"state\":\"unresolved\","
	    "\"stream\":\"AVIOUSBC-522880 : 2\",\"subscription\":"
	    "\"monitor\"}]");
	free(got);
	json_decref(routes);
	json_decref(net);
}

static void test_receivers_var_names_like_the_node(void **state)
{
	char buf[64];

	plan_receivers_var("main", buf, sizeof(buf));
	assert_string_equal(buf, "_main_receivers");
	plan_receivers_var("main-out 2", buf, sizeof(buf));
	assert_string_equal(buf, "_main_out_2_receivers");
	/* D4 names hold 31 characters: the flow part is cut */
	plan_receivers_var("abcdefghijklmnopqrstuvwxyz", buf, sizeof(buf));
	assert_string_equal(buf, "_abcdefghijklmnopqrst_receivers");
	assert_int_equal(strlen(buf), 31);
}

/* ST 2022-7: two nodes each on two networks get a unicast route over
 * both: the flow's destination2 and the subscription's address2 are the
 * RX node's second address, at the same port. */
static void test_route_over_two_networks_creates_two_legs(void **state)
{
	json_t *net = load_net("net-two.json");
	struct plan plan;
	char err[256];

	assert_int_equal(
	    route(net, "5-6@A", "1-2@C", NULL, &plan, err, sizeof(err)), 0);
	assert_int_equal(plan.n, 2);
	assert_call(&plan.a[0], "A", "POST", "/flows",
		    "{\"channels\":[5,6],\"destination\":\"10.77.0.3:5004\","
		    "\"destination2\":\"10.78.0.3:5004\",\"name\":\"uc5-6\","
		    "\"source\":\"program\"}");
	assert_call(&plan.a[1], "C", "POST", "/subscriptions",
		    "{\"address\":\"10.77.0.3:5004\",\"address2\":"
		    "\"10.78.0.3:5004\",\"channels\":2,\"encoding\":\"L24\","
		    "\"name\":\"rx1-2\",\"ptime_us\":1000,\"rate\":48000,"
		    "\"rx_channels\":[1,2]}");
	assert_non_null(strstr(plan.a[0].what, "its second leg"));
	plan_free(&plan);
	/* a node on one network: one leg */
	assert_int_equal(
	    route(net, "5-6@A", "1-2@D", NULL, &plan, err, sizeof(err)), 0);
	assert_call(&plan.a[0], "A", "POST", "/flows",
		    "{\"channels\":[5,6],\"destination\":\"10.77.0.4:5004\","
		    "\"name\":\"uc5-6\",\"source\":\"program\"}");
	plan_free(&plan);
	json_decref(net);
}

/* Two multicast flows of the same channels, one with a second leg: a
 * node on two networks is subscribed to the two-legged one, whatever
 * their order (a new user's route took the one-leg flow listed first);
 * a node on one network to the first. */
static void test_route_prefers_the_two_legged_flow(void **state)
{
	json_t *net = load_net("net-two.json");
	json_t *a = json_array_get(json_object_get(net, "nodes"), 0);
	json_t *flows = json_object_get(a, "flows");
	json_t *plain = json_deep_copy(json_array_get(flows, 0));
	struct plan plan;
	char err[256];

	json_object_set_new(plain, "name", json_string("plain"));
	json_object_set_new(plain, "destination",
			    json_string("239.69.1.1:5004"));
	json_object_del(plain, "destination2");
	json_object_del(plain, "session");
	json_array_insert_new(flows, 0, plain);
	assert_int_equal(
	    route(net, "1-2@A", "1-2@C", NULL, &plan, err, sizeof(err)), 0);
	assert_int_equal(plan.n, 1);
	assert_call(&plan.a[0], "C", "POST", "/subscriptions",
		    "{\"name\":\"rx1-2\",\"rx_channels\":[1,2],\"stream\":"
		    "\"A main\",\"stream_channels\":[1,2]}");
	assert_non_null(strstr(plan.a[0].what, "(both legs: ST 2022-7)"));
	plan_free(&plan);
	assert_int_equal(
	    route(net, "1-2@A", "1-2@D", NULL, &plan, err, sizeof(err)), 0);
	assert_call(&plan.a[0], "D", "POST", "/subscriptions",
		    "{\"name\":\"rx1-2\",\"rx_channels\":[1,2],\"stream\":"
		    "\"A plain\",\"stream_channels\":[1,2]}");
	plan_free(&plan);
	json_decref(net);
}

/* A unicast flow with a second leg relays to one more receiver on both
 * lists; the port is free on both of the receiver's addresses. */
static void test_route_two_legs_reuses_flow_on_both_lists(void **state)
{
	json_t *net = load_net("net-two.json");
	struct plan plan;
	char err[256];

	assert_int_equal(
	    route(net, "3-4@A", "3-4@B", NULL, &plan, err, sizeof(err)), 0);
	assert_int_equal(plan.n, 3);
	assert_call(&plan.a[0], "A", "POST", "/d4/exec",
		    "{\"text\":\"_uc3_4_receivers += 10.77.0.2:5006\"}");
	assert_call(&plan.a[1], "A", "POST", "/d4/exec",
		    "{\"text\":\"_uc3_4_receivers2 += 10.78.0.2:5006\"}");
	assert_string_equal(
	    json_string_value(json_object_get(plan.a[1].undo.body, "text")),
	    "_uc3_4_receivers2 -= 10.78.0.2:5006");
	assert_string_equal(
	    json_string_value(json_object_get(plan.a[2].call.body, "address2")),
	    "10.78.0.2:5006");
	plan_free(&plan);
	/* a multicast flow with two legs: by name, as ever, said so */
	assert_int_equal(
	    route(net, "1-2@A", "5-6@B", NULL, &plan, err, sizeof(err)), 0);
	assert_int_equal(plan.n, 1);
	assert_non_null(strstr(plan.a[0].what, "both legs"));
	plan_free(&plan);
	json_decref(net);
}

static void test_unroute_two_legs_leaves_both_lists(void **state)
{
	json_t *net = load_net("net-two.json");
	struct plan plan;
	char err[256];

	assert_int_equal(
	    plan_unroute(net, "B", "rx1-2", &plan, err, sizeof(err)), 0);
	assert_int_equal(plan.n, 4);
	assert_call(&plan.a[0], "A", "POST", "/d4/exec",
		    "{\"text\":\"_uc3_4_receivers -= 10.77.0.2:5004\"}");
	assert_call(&plan.a[1], "A", "POST", "/d4/exec",
		    "{\"text\":\"_uc3_4_receivers2 -= 10.78.0.2:5004\"}");
	assert_call(&plan.a[2], "A", "DELETE", "/flows/uc3-4", NULL);
	assert_call(&plan.a[3], "B", "DELETE", "/subscriptions/rx1-2", NULL);
	plan_free(&plan);
	json_decref(net);
}

static void test_routes_show_legs(void **state)
{
	json_t *net = load_net("net-two.json");
	json_t *routes = plan_routes(net);
	char buf[64];

	assert_int_equal(json_array_size(routes), 1);
	assert_string_equal(json_string_value(json_object_get(
				json_array_get(routes, 0), "legs")),
			    "A ok, B down");
	assert_string_equal(json_string_value(json_object_get(
				json_array_get(routes, 0), "kind")),
			    "unicast");
	plan_receivers2_var("main", buf, sizeof(buf));
	assert_string_equal(buf, "_main_receivers2");
	plan_receivers2_var("abcdefghijklmnopqrstuvwxyz", buf, sizeof(buf));
	assert_string_equal(buf, "_abcdefghijklmnopqrs_receivers2");
	assert_int_equal(strlen(buf), 31);
	json_decref(routes);
	json_decref(net);
}

static void test_new_flow_name_avoids_existing(void **state)
{
	json_t *net = load_net("net-unicast.json");
	json_t *a = json_array_get(json_object_get(net, "nodes"), 0);
	struct plan plan;
	char err[256];

	/* uc3-4 exists but carries 3-4 of another source */
	json_object_set_new(json_array_get(json_object_get(a, "flows"), 1),
			    "source", json_string("other"));
	json_array_remove(json_object_get(a, "flows"), 0);
	json_array_append_new(json_object_get(a, "flows"),
			      json_pack("{s:s, s:s, s:[i], s:s, s:b}", "name",
					"x", "source", "program", "channels", 1,
					"destination", "239.69.1.9:5004",
					"multicast", 1));
	assert_int_equal(
	    route(net, "3-4@A", "3-4@C", NULL, &plan, err, sizeof(err)),
	    -EINVAL); /* two sources: ambiguous */
	plan_free(&plan);
	struct plan_opts opts = {.source = "program"};
	assert_int_equal(
	    route(net, "3-4@A", "3-4@C", &opts, &plan, err, sizeof(err)), 0);
	assert_int_equal(plan.n, 2);
	assert_string_equal(plan.a[0].undo.path, "/flows/uc3-4-2");
	plan_free(&plan);
	json_decref(net);
}

/* Issue 15: routes name the TX node's channels (its sources numbered
 * across), and only those the subscription takes. */
static void test_routes_name_tx_channels_not_source_channels(void **state)
{
	json_t *net = load_net("net-sources.json");
	json_t *routes = plan_routes(net), *r;
	size_t i;
	int seen = 0;

	json_array_foreach(routes, i, r)
	{
		const char *rx = json_string_value(json_object_get(r, "rx"));
		const char *from =
		    json_string_value(json_object_get(r, "from"));
		char *tx =
		    json_dumps(json_object_get(r, "tx_channels"), JSON_COMPACT);

		if (!strcmp(rx, "3-6@B")) {
			/* program's 1-4 are A's TX 3-6 */
			assert_string_equal(from, "3-6@A");
			assert_string_equal(tx, "[3,4,5,6]");
			seen++;
		} else if (!strcmp(rx, "8@B")) {
			/* stream channel 2 of "A main": program 2, TX 4 */
			assert_string_equal(from, "4@A");
			assert_string_equal(tx, "[4]");
			seen++;
		} else if (!strcmp(rx, "1-2@B")) {
			assert_string_equal(from, "1-2@A");
			seen++;
		}
		free(tx);
	}
	assert_int_equal(seen, 3);
	json_decref(routes);
	json_decref(net);
}

static void test_route_again_in_tx_numbers_is_no_change(void **state)
{
	json_t *net = load_net("net-sources.json");
	struct plan plan;
	char err[256];

	assert_int_equal(
	    route(net, "3-6@A", "3-6@B", NULL, &plan, err, sizeof(err)), 0);
	assert_int_equal(plan.n, 0);
	assert_string_equal(plan.note, "3-6@B is already routed from 3-6@A");
	/* TX 5-6 are program 3-4: stream channels 3-4 of "A main" */
	assert_int_equal(
	    route(net, "5-6@A", "1-2@A", NULL, &plan, err, sizeof(err)), 0);
	assert_int_equal(plan.n, 1);
	assert_call(&plan.a[0], "A", "POST", "/subscriptions",
		    "{\"name\":\"rx1-2\",\"rx_channels\":[1,2],\"stream\":"
		    "\"A main\",\"stream_channels\":[3,4]}");
	plan_free(&plan);
	json_decref(net);
}

static int unroute(const json_t *net, const char *rx, struct plan *plan,
		   char *err, size_t err_len)
{
	struct chanspec r = spec(rx);

	return plan_unroute_channels(net, &r, plan, err, err_len);
}

static void test_unroute_one_channel_splits_multicast_range(void **state)
{
	json_t *net = load_net("net-sources.json");
	struct plan plan;
	char err[256], *undo;

	assert_int_equal(unroute(net, "4@B", &plan, err, sizeof(err)), 0);
	assert_int_equal(plan.n, 2);
	assert_call(&plan.a[0], "B", "DELETE", "/subscriptions/rx3-6", NULL);
	/* undone by making it again as it was */
	undo = json_dumps(plan.a[0].undo.body, JSON_COMPACT | JSON_SORT_KEYS);
	assert_string_equal(plan.a[0].undo.method, "POST");
	assert_string_equal(
	    undo, "{\"latency_us\":2000,\"name\":\"rx3-6\",\"rx_channels\":"
		  "[3,4,5,6],\"stream\":\"A main\",\"stream_channels\":"
		  "[1,2,3,4]}");
	free(undo);
	assert_call(&plan.a[1], "B", "POST", "/subscriptions",
		    "{\"latency_us\":2000,\"name\":\"rx3_5-6\","
		    "\"rx_channels\":[3,5,6],\"stream\":\"A main\","
		    "\"stream_channels\":[1,3,4]}");
	assert_string_equal(plan.a[1].undo.path, "/subscriptions/rx3_5-6");
	plan_free(&plan);
	json_decref(net);
}

static void test_unroute_one_channel_splits_unicast_route(void **state)
{
	json_t *net = load_net("net-sources.json");
	struct plan plan;
	char err[256];

	/* the relay keeps sending to B:5006: one subscription is left */
	assert_int_equal(unroute(net, "1@B", &plan, err, sizeof(err)), 0);
	assert_int_equal(plan.n, 2);
	assert_call(&plan.a[0], "B", "DELETE", "/subscriptions/rx1-2", NULL);
	assert_call(&plan.a[1], "B", "POST", "/subscriptions",
		    "{\"address\":\"10.77.0.2:5006\",\"channels\":2,"
		    "\"encoding\":\"L24\",\"latency_us\":1000,\"name\":\"rx2\","
		    "\"ptime_us\":250,\"rate\":48000,\"rx_channels\":[2],"
		    "\"stream_channels\":[2]}");
	plan_free(&plan);
	/* both: the whole route goes, relay entry and flow with it */
	assert_int_equal(unroute(net, "1-2@B", &plan, err, sizeof(err)), 0);
	assert_int_equal(plan.n, 3);
	assert_call(&plan.a[0], "A", "POST", "/d4/exec",
		    "{\"text\":\"_uc1_2_receivers -= 10.77.0.2:5006\"}");
	assert_call(&plan.a[1], "A", "DELETE", "/flows/uc1-2", NULL);
	assert_call(&plan.a[2], "B", "DELETE", "/subscriptions/rx1-2", NULL);
	plan_free(&plan);
	json_decref(net);
}

static void test_unroute_channels_across_subscriptions(void **state)
{
	json_t *net = load_net("net-sources.json");
	struct plan plan;
	char err[256];

	/* 6 of rx3-6 (split) and all of rx8; 7 was never routed */
	assert_int_equal(unroute(net, "6-8@B", &plan, err, sizeof(err)), 0);
	assert_int_equal(plan.n, 3);
	assert_call(&plan.a[0], "B", "DELETE", "/subscriptions/rx3-6", NULL);
	assert_call(&plan.a[1], "B", "POST", "/subscriptions",
		    "{\"latency_us\":2000,\"name\":\"rx3-5\","
		    "\"rx_channels\":[3,4,5],\"stream\":\"A main\","
		    "\"stream_channels\":[1,2,3]}");
	assert_call(&plan.a[2], "B", "DELETE", "/subscriptions/rx8", NULL);
	assert_string_equal(plan.note, "7@B was not routed");
	plan_free(&plan);
	/* nothing routed: no step, a note */
	assert_int_equal(unroute(net, "7@B", &plan, err, sizeof(err)), 0);
	assert_int_equal(plan.n, 0);
	assert_string_equal(plan.note, "7@B is not routed");
	/* exit code 1: not on this network (as route's "no channel") */
	assert_int_equal(unroute(net, "9@B", &plan, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "no channel 9"));
	plan_free(&plan);
	json_decref(net);
}

/* A node that gives a subscription's settings (timing, source filter...)
 * gets them back when the rest is made again. */
static void test_unroute_split_keeps_the_node_settings(void **state)
{
	json_t *net = load_net("net-sources.json");
	json_t *b = json_array_get(json_object_get(net, "nodes"), 1);
	json_t *s = json_array_get(json_object_get(b, "subscriptions"), 0);
	struct plan plan;
	char err[256], *undo;

	json_object_set_new(
	    s, "settings",
	    json_pack("{s:s, s:s, s:s, s:s, s:i, s:[iiii], s:[iiii]}", "name",
		      "rx3-6", "stream", "A main", "timing", "ptp",
		      "source_filter", "10.77.0.1", "latency_us", 2000,
		      "rx_channels", 3, 4, 5, 6, "stream_channels", 1, 2, 3,
		      4));
	assert_int_equal(unroute(net, "5@B", &plan, err, sizeof(err)), 0);
	assert_int_equal(plan.n, 2);
	assert_call(&plan.a[1], "B", "POST", "/subscriptions",
		    "{\"latency_us\":2000,\"name\":\"rx3-4_6\","
		    "\"rx_channels\":[3,4,6],\"source_filter\":\"10.77.0.1\","
		    "\"stream\":\"A main\",\"stream_channels\":[1,2,4],"
		    "\"timing\":\"ptp\"}");
	undo = json_dumps(plan.a[0].undo.body, JSON_COMPACT | JSON_SORT_KEYS);
	assert_non_null(strstr(undo, "\"timing\":\"ptp\""));
	assert_non_null(strstr(undo, "\"rx_channels\":[3,4,5,6]"));
	free(undo);
	plan_free(&plan);
	json_decref(net);
}

static void test_unroute_config_subscription_is_refused(void **state)
{
	json_t *net = load_net("net-sources.json");
	json_t *b = json_array_get(json_object_get(net, "nodes"), 1);
	json_t *s = json_array_get(json_object_get(b, "subscriptions"), 1);
	struct plan plan;
	char err[256];

	json_object_set_new(s, "origin", json_string("config"));
	assert_int_equal(unroute(net, "8@B", &plan, err, sizeof(err)), -EPERM);
	assert_non_null(strstr(err, "'rx8'"));
	assert_non_null(strstr(err, "config file"));
	plan_free(&plan);
	json_decref(net);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_route_uses_multicast_flow_by_session),
	    cmocka_unit_test(test_route_creates_unicast_flow_first_receiver),
	    cmocka_unit_test(
		test_route_refuses_loopback_receiver_of_remote_sender),
	    cmocka_unit_test(test_route_reuses_unicast_flow_adds_receiver),
	    cmocka_unit_test(
		test_route_second_receiver_on_same_node_gets_new_port),
	    cmocka_unit_test(
		test_route_skips_ports_of_multicast_subs_and_loops),
	    cmocka_unit_test(test_route_again_is_no_change),
	    cmocka_unit_test(test_route_refuses_taken_rx_channels),
	    cmocka_unit_test(test_route_from_foreign_stream),
	    cmocka_unit_test(test_route_rejects_bad_requests),
	    cmocka_unit_test(test_route_with_source_option),
	    cmocka_unit_test(test_route_by_channel_names),
	    cmocka_unit_test(test_route_to_stream_is_refused),
	    cmocka_unit_test(test_unroute_keeps_flow_with_other_receivers),
	    cmocka_unit_test(test_unroute_last_receiver_deletes_flow),
	    cmocka_unit_test(test_unroute_multicast_and_missing),
	    cmocka_unit_test(test_routes_lists_every_subscription),
	    cmocka_unit_test(test_receivers_var_names_like_the_node),
	    cmocka_unit_test(test_new_flow_name_avoids_existing),
	    cmocka_unit_test(test_routes_name_tx_channels_not_source_channels),
	    cmocka_unit_test(test_route_again_in_tx_numbers_is_no_change),
	    cmocka_unit_test(test_unroute_one_channel_splits_multicast_range),
	    cmocka_unit_test(test_unroute_one_channel_splits_unicast_route),
	    cmocka_unit_test(test_unroute_channels_across_subscriptions),
	    cmocka_unit_test(test_unroute_split_keeps_the_node_settings),
	    cmocka_unit_test(test_unroute_config_subscription_is_refused),
	    cmocka_unit_test(test_route_over_two_networks_creates_two_legs),
	    cmocka_unit_test(test_route_prefers_the_two_legged_flow),
	    cmocka_unit_test(test_route_two_legs_reuses_flow_on_both_lists),
	    cmocka_unit_test(test_unroute_two_legs_leaves_both_lists),
	    cmocka_unit_test(test_routes_show_legs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
