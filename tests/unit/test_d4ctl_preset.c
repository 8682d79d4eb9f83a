/* Presets (controller-cli/preset.c) against fake networks in
 * tests/data/d4ctl/: routes to a preset, a preset checked, and the
 * difference between a preset and the network now. */
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
#include "controller-cli/preset.h"

static json_t *load_net(const char *name)
{
	const char *dir = getenv("D4_TEST_DATA");
	char path[1024];
	json_error_t jerr;
	json_t *net;

	snprintf(path, sizeof(path), "%s/d4ctl/%s", dir ? dir : "tests/data",
		 name);
	net = json_load_file(path, 0, &jerr);
	assert_non_null(net);
	return net;
}

static char *dump(const json_t *v)
{
	return json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
}

static void test_preset_holds_routes_in_tx_numbers(void **state)
{
	json_t *net = load_net("net-unicast.json");
	json_t *routes = plan_routes(net), *skipped, *p;
	char *got, err[200];

	p = preset_from_routes(net, routes, &skipped);
	got = dump(p);
	/* B/monitor has no RX channels: not a route a preset can hold */
	assert_string_equal(
	    got, "{\"d4ctl_preset\":1,\"nodes\":[\"A\",\"B\",\"C\"],"
		 "\"routes\":[{\"latency_us\":1000,\"rx_channels\":[1,2],"
		 "\"rx_node\":\"B\",\"tx_channels\":[3,4],\"tx_node\":\"A\"},"
		 "{\"latency_us\":2000,\"rx_channels\":[7,8],\"rx_node\":"
		 "\"B\",\"tx_channels\":[1,2],\"tx_node\":\"A\"}]}");
	free(got);
	assert_int_equal(json_array_size(skipped), 1);
	assert_string_equal(json_string_value(json_array_get(skipped, 0)),
			    "B/monitor");
	assert_int_equal(preset_check(p, err, sizeof(err)), 0);
	json_decref(skipped);
	json_decref(p);
	json_decref(routes);
	json_decref(net);
}

static void test_preset_check_refuses_bad_files(void **state)
{
	static const char *const bad[][2] = {
	    {"{}", "not a d4ctl preset"},
	    {"{\"d4ctl_preset\":1,\"nodes\":[],\"routes\":{}}", "lists"},
	    {"{\"d4ctl_preset\":1,\"nodes\":[],\"routes\":[{\"rx_node\":"
	     "\"B\",\"rx_channels\":[1],\"tx_channels\":[1]}]}",
	     "route 1: needs"},
	    {"{\"d4ctl_preset\":1,\"nodes\":[],\"routes\":[{\"rx_node\":"
	     "\"B\",\"tx_node\":\"A\",\"rx_channels\":[0],\"tx_channels\":"
	     "[1]}]}",
	     "not 1-64"},
	    {"{\"d4ctl_preset\":1,\"nodes\":[],\"routes\":[{\"rx_node\":"
	     "\"B\",\"tx_node\":\"A\",\"rx_channels\":[1,2],\"tx_channels\":"
	     "[1]}]}",
	     "as many"},
	    {"{\"d4ctl_preset\":1,\"nodes\":[],\"routes\":[{\"rx_node\":"
	     "\"B\",\"tx_node\":\"A\",\"rx_channels\":[1],\"tx_channels\":"
	     "[1],\"latency_us\":9}]}",
	     "latency_us"},
	};
	char err[200];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_t *p = json_loads(bad[i][0], 0, NULL);

		assert_non_null(p);
		assert_int_equal(preset_check(p, err, sizeof(err)), -EINVAL);
		if (!strstr(err, bad[i][1]))
			fail_msg("%s: '%s' lacks '%s'", bad[i][0], err,
				 bad[i][1]);
		json_decref(p);
	}
}

static void test_preset_diff_removes_adds_and_keeps(void **state)
{
	json_t *net = load_net("net-sources.json");
	json_t *routes = plan_routes(net), *p, *d;
	char *got;

	/* keep 3-6@B; 8@B goes (not in the preset); 1-2@B changes source;
	 * 7@B is new; a route to a node not on the network cannot be made;
	 * rx3-6's latency changes. */
	p = json_loads(
	    "{\"d4ctl_preset\":1,\"nodes\":[\"B\",\"Z\"],\"routes\":["
	    "{\"rx_node\":\"B\",\"rx_channels\":[3,4,5,6],\"tx_node\":\"A\","
	    "\"tx_channels\":[3,4,5,6],\"latency_us\":5000},"
	    "{\"rx_node\":\"B\",\"rx_channels\":[1,2],\"tx_node\":\"A\","
	    "\"tx_channels\":[5,6],\"latency_us\":1000},"
	    "{\"rx_node\":\"B\",\"rx_channels\":[7],\"tx_node\":\"A\","
	    "\"tx_channels\":[1]},"
	    "{\"rx_node\":\"Z\",\"rx_channels\":[1],\"tx_node\":\"A\","
	    "\"tx_channels\":[1]}]}",
	    0, NULL);
	assert_non_null(p);
	d = preset_diff(p, net, routes);
	assert_int_equal(json_array_size(json_object_get(d, "remove")), 2);
	got = dump(json_object_get(d, "remove"));
	assert_non_null(strstr(got, "\"rx\":\"8@B\""));
	assert_non_null(strstr(got, "\"rx\":\"1-2@B\""));
	free(got);
	got = dump(json_object_get(d, "add"));
	assert_string_equal(
	    got, "[{\"latency_us\":1000,\"rx_channels\":[1,2],\"rx_node\":"
		 "\"B\",\"tx_channels\":[5,6],\"tx_node\":\"A\"},"
		 "{\"rx_channels\":[7],\"rx_node\":\"B\",\"tx_channels\":[1],"
		 "\"tx_node\":\"A\"}]");
	free(got);
	got = dump(json_object_get(d, "latency"));
	assert_non_null(strstr(got, "\"from_us\":2000"));
	assert_non_null(strstr(got, "\"subscription\":\"rx3-6\""));
	free(got);
	assert_int_equal(json_array_size(json_object_get(d, "keep")), 0);
	got = dump(json_object_get(d, "unavailable"));
	assert_non_null(strstr(got, "RX node is not on the network"));
	free(got);
	json_decref(d);
	json_decref(p);

	/* the network's own preset: nothing to do */
	p = preset_from_routes(net, routes, NULL);
	d = preset_diff(p, net, routes);
	assert_int_equal(json_array_size(json_object_get(d, "remove")), 0);
	assert_int_equal(json_array_size(json_object_get(d, "add")), 0);
	assert_int_equal(json_array_size(json_object_get(d, "latency")), 0);
	assert_int_equal(json_array_size(json_object_get(d, "keep")), 3);
	json_decref(d);
	json_decref(p);
	json_decref(routes);
	json_decref(net);
}

static void test_preset_leaves_config_routes_and_other_nodes(void **state)
{
	json_t *net = load_net("net-sources.json");
	json_t *b = json_array_get(json_object_get(net, "nodes"), 1);
	json_t *routes, *p, *d;

	json_object_set_new(
	    json_array_get(json_object_get(b, "subscriptions"), 1), "origin",
	    json_string("config"));
	routes = plan_routes(net);
	/* an empty preset of B: the API routes go, rx8 (config) stays */
	p = json_loads("{\"d4ctl_preset\":1,\"nodes\":[\"B\"],\"routes\":[]}",
		       0, NULL);
	d = preset_diff(p, net, routes);
	assert_int_equal(json_array_size(json_object_get(d, "remove")), 2);
	json_decref(d);
	json_decref(p);
	/* an empty preset of A only: B is not touched */
	p = json_loads("{\"d4ctl_preset\":1,\"nodes\":[\"A\"],\"routes\":[]}",
		       0, NULL);
	d = preset_diff(p, net, routes);
	assert_int_equal(json_array_size(json_object_get(d, "remove")), 0);
	json_decref(d);
	json_decref(p);
	json_decref(routes);
	json_decref(net);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_preset_holds_routes_in_tx_numbers),
	    cmocka_unit_test(test_preset_check_refuses_bad_files),
	    cmocka_unit_test(test_preset_diff_removes_adds_and_keeps),
	    cmocka_unit_test(test_preset_leaves_config_routes_and_other_nodes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
