/* d4ctl's operand parsers (controller-cli/args.c) and config file
 * (controller-cli/config.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "controller-cli/args.h"
#include "controller-cli/config.h"

static void test_chanspec_range_at_node(void **state)
{
	struct chanspec cs;
	char err[256];

	assert_int_equal(args_parse_chanspec("1-2@A", &cs, err, sizeof(err)),
			 0);
	assert_int_equal(cs.nch, 2);
	assert_int_equal(cs.ch[0], 1);
	assert_int_equal(cs.ch[1], 2);
	assert_false(cs.stream);
	assert_string_equal(cs.target, "A");
	assert_string_equal(cs.chan_name, "");
}

static void test_chanspec_list_and_single(void **state)
{
	struct chanspec cs;
	char err[256];

	assert_int_equal(
	    args_parse_chanspec("1,3,5-6@mixer", &cs, err, sizeof(err)), 0);
	assert_int_equal(cs.nch, 4);
	assert_memory_equal(cs.ch, ((uint8_t[]){1, 3, 5, 6}), 4);
	assert_int_equal(args_parse_chanspec("7@B", &cs, err, sizeof(err)), 0);
	assert_int_equal(cs.nch, 1);
	assert_int_equal(cs.ch[0], 7);
}

static void test_chanspec_quoted_stream(void **state)
{
	struct chanspec cs;
	char err[256];

	assert_int_equal(args_parse_chanspec("1-2@\"AVIOUSBC-522880 : 2\"", &cs,
					     err, sizeof(err)),
			 0);
	assert_true(cs.stream);
	assert_string_equal(cs.target, "AVIOUSBC-522880 : 2");
	assert_int_equal(cs.nch, 2);
}

static void test_chanspec_channel_names(void **state)
{
	struct chanspec cs;
	char err[256];

	assert_int_equal(
	    args_parse_chanspec("Vox@stage box", &cs, err, sizeof(err)), 0);
	assert_string_equal(cs.chan_name, "Vox");
	assert_int_equal(cs.nch, 0);
	assert_string_equal(cs.target, "stage box");
	assert_int_equal(
	    args_parse_chanspec("\"In 1@x\"@mixer", &cs, err, sizeof(err)), 0);
	assert_string_equal(cs.chan_name, "In 1@x");
	assert_string_equal(cs.target, "mixer");
}

static void test_chanspec_addr_port_node(void **state)
{
	struct chanspec cs;
	char err[256];

	assert_int_equal(
	    args_parse_chanspec("3-4@10.77.0.2:8080", &cs, err, sizeof(err)),
	    0);
	assert_string_equal(cs.target, "10.77.0.2:8080");
	assert_true(args_is_addr_port(cs.target));
}

/* Each bad input is rejected, and the message quotes it. */
static void test_chanspec_rejects_quoting_input(void **state)
{
	static const struct {
		const char *in, *quote;
	} cases[] = {
	    {"1-2", "'1-2' has no '@'"},
	    {"@A", "no channels before '@'"},
	    {"1-2@", "no node after '@'"},
	    {"1-x@A", "'1-x' is not a channel range"},
	    {"0@A", "'0': channels are 1-64"},
	    {"65@A", "'65': channels are 1-64"},
	    {"4-2@A", "'4-2': the range runs backwards"},
	    {"1,1@A", "channel 1 given twice"},
	    {"1,,2@A", "'' is not a channel number"},
	    {"1-2@\"AV", "unterminated"},
	    {"1-2@\"\"", "empty stream name"},
	    {"\"Vox@A", "unterminated"},
	    {"\"Vox\"A", "expected '@'"},
	    {"1-2@A\"B", "stray '\"'"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct chanspec cs;
		char err[256] = "";

		assert_int_equal(
		    args_parse_chanspec(cases[i].in, &cs, err, sizeof(err)),
		    -EINVAL);
		if (!strstr(err, cases[i].quote) || !strstr(err, cases[i].in)) {
			print_error("input '%s': message '%s'\n", cases[i].in,
				    err);
			fail();
		}
	}
}

static void test_channels_format_compact(void **state)
{
	uint8_t ch[] = {1, 2, 3, 5, 7, 8};
	char buf[64];

	args_format_channels(ch, 6, buf, sizeof(buf));
	assert_string_equal(buf, "1-3,5,7-8");
	args_format_channels(ch, 1, buf, sizeof(buf));
	assert_string_equal(buf, "1");
	args_format_channels(ch, 0, buf, sizeof(buf));
	assert_string_equal(buf, "");
}

static void test_node_sub(void **state)
{
	char node[64], sub[64], err[256];

	assert_int_equal(args_parse_node_sub("B/rx3-4", node, sizeof(node), sub,
					     sizeof(sub), err, sizeof(err)),
			 0);
	assert_string_equal(node, "B");
	assert_string_equal(sub, "rx3-4");
	assert_int_equal(args_parse_node_sub("B", node, sizeof(node), sub,
					     sizeof(sub), err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "'B'"));
	assert_int_equal(args_parse_node_sub("/x", node, sizeof(node), sub,
					     sizeof(sub), err, sizeof(err)),
			 -EINVAL);
	assert_int_equal(args_parse_node_sub("B/", node, sizeof(node), sub,
					     sizeof(sub), err, sizeof(err)),
			 -EINVAL);
}

static void test_latency_units_and_range(void **state)
{
	unsigned int us;
	char err[256];

	assert_int_equal(
	    args_parse_latency("2", 250, 100000, &us, err, sizeof(err)), 0);
	assert_int_equal(us, 2000);
	assert_int_equal(
	    args_parse_latency("0.25", 250, 100000, &us, err, sizeof(err)), 0);
	assert_int_equal(us, 250);
	assert_int_equal(
	    args_parse_latency("500us", 250, 100000, &us, err, sizeof(err)), 0);
	assert_int_equal(us, 500);
	assert_int_equal(
	    args_parse_latency("3ms", 250, 100000, &us, err, sizeof(err)), 0);
	assert_int_equal(us, 3000);
	assert_int_equal(
	    args_parse_latency("0.1", 250, 100000, &us, err, sizeof(err)),
	    -EINVAL);
	assert_non_null(strstr(err, "'0.1'"));
	assert_int_equal(
	    args_parse_latency("2s", 250, 100000, &us, err, sizeof(err)),
	    -EINVAL);
	assert_non_null(strstr(err, "'2s'"));
	assert_int_equal(
	    args_parse_latency("fast", 250, 100000, &us, err, sizeof(err)),
	    -EINVAL);
	assert_non_null(strstr(err, "'fast'"));
	assert_int_equal(
	    args_parse_latency("nan", 250, 100000, &us, err, sizeof(err)),
	    -EINVAL);
}

static void test_addr_port(void **state)
{
	assert_true(args_is_addr_port("10.77.0.1:8080"));
	assert_false(args_is_addr_port("10.77.0.1"));
	assert_false(args_is_addr_port("stagebox:8080"));
	assert_false(args_is_addr_port("10.77.0.1:0"));
	assert_false(args_is_addr_port("10.77.0.1:70000"));
	assert_false(args_is_addr_port("10.77.0.1:80x"));
}

/* --host takes an address alone as the node's default API port. */
static void test_host(void **state)
{
	char out[32];

	assert_true(args_host("10.77.0.1:9000", out, sizeof(out)));
	assert_string_equal(out, "10.77.0.1:9000");
	assert_true(args_host("10.77.0.1", out, sizeof(out)));
	assert_string_equal(out, "10.77.0.1:8080");
	assert_false(args_host("stagebox", out, sizeof(out)));
	assert_false(args_host("10.77.0.1:", out, sizeof(out)));
	assert_false(args_host("10.77.0", out, sizeof(out)));
	assert_false(args_host("10.77.0.1", out, 8)); /* does not fit */
}

static void test_url_escape(void **state)
{
	char buf[64];

	args_url_escape("rx3-4", buf, sizeof(buf));
	assert_string_equal(buf, "rx3-4");
	args_url_escape("my sub/1", buf, sizeof(buf));
	assert_string_equal(buf, "my%20sub%2F1");
}

static void test_config_token_and_nodes(void **state)
{
	static const char text[] = "; d4ctl\n"
				   "token = abc123\n"
				   "[node stagebox]\n"
				   "token = def456\n"
				   "host = 10.77.0.1:8080\n"
				   "[node mixer]\n"
				   "host = 10.77.0.2:8080\n";
	struct d4ctl_config cfg;
	const struct d4ctl_config_node *n;
	char err[256];

	assert_int_equal(d4ctl_config_parse(text, &cfg, err, sizeof(err)), 0);
	assert_string_equal(cfg.token, "abc123");
	assert_int_equal(cfg.nnodes, 2);
	n = d4ctl_config_node(&cfg, "stagebox");
	assert_non_null(n);
	assert_string_equal(n->token, "def456");
	assert_string_equal(n->host, "10.77.0.1:8080");
	n = d4ctl_config_node(&cfg, "mixer");
	assert_non_null(n);
	assert_string_equal(n->token, "");
	assert_null(d4ctl_config_node(&cfg, "nope"));
}

static void test_config_rejects_with_line(void **state)
{
	struct d4ctl_config cfg;
	char err[256];

	assert_int_equal(d4ctl_config_parse("token = a\ncolour = red\n", &cfg,
					    err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "2:"));
	assert_non_null(strstr(err, "'colour'"));
	assert_int_equal(d4ctl_config_parse("[node x]\nhost = nohost\n", &cfg,
					    err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "'nohost'"));
	assert_int_equal(
	    d4ctl_config_parse("[flow x]\ntoken = a\n", &cfg, err, sizeof(err)),
	    -EINVAL);
	assert_non_null(strstr(err, "[flow x]"));
}

static void test_config_missing_file_is_empty(void **state)
{
	struct d4ctl_config cfg;
	char err[256];

	assert_int_equal(d4ctl_config_load("/nonexistent/d4ctl/config", &cfg,
					   err, sizeof(err)),
			 0);
	assert_string_equal(cfg.token, "");
	assert_int_equal(cfg.nnodes, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_chanspec_range_at_node),
	    cmocka_unit_test(test_chanspec_list_and_single),
	    cmocka_unit_test(test_chanspec_quoted_stream),
	    cmocka_unit_test(test_chanspec_channel_names),
	    cmocka_unit_test(test_chanspec_addr_port_node),
	    cmocka_unit_test(test_chanspec_rejects_quoting_input),
	    cmocka_unit_test(test_channels_format_compact),
	    cmocka_unit_test(test_node_sub),
	    cmocka_unit_test(test_latency_units_and_range),
	    cmocka_unit_test(test_addr_port),
	    cmocka_unit_test(test_host),
	    cmocka_unit_test(test_url_escape),
	    cmocka_unit_test(test_config_token_and_nodes),
	    cmocka_unit_test(test_config_rejects_with_line),
	    cmocka_unit_test(test_config_missing_file_is_empty),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
