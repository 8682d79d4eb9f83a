/* d4ctl's config file: sections keyed by a node's uuid, written back by
 * login and token rotate without losing a line; "did you mean". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "controller-cli/config.h"
#include "controller-cli/d4ctl.h"

#define U1 "6f1c2b3a-0000-4000-8000-000000000001"
#define U2 "6f1c2b3a-0000-4000-8000-000000000002"

static void test_config_finds_a_node_by_uuid_whatever_its_name(void **state)
{
	static const char text[] = "[node stagebox]\n"
				   "uuid = " U1 "\n"
				   "token = t1\n"
				   "[node mixer]\n"
				   "token = t2\n"
				   "[node stagebox]\n"
				   "uuid = " U2 "\n"
				   "token = t3\n";
	struct d4ctl_config cfg;
	const struct d4ctl_config_node *n;
	char err[256];

	assert_int_equal(d4ctl_config_parse(text, &cfg, err, sizeof(err)), 0);
	/* two sections may share a label: they are two nodes (unless they
	 * follow each other: inih cannot tell those apart) */
	assert_int_equal(cfg.nnodes, 3);
	assert_true(d4ctl_config_has_uuids(&cfg));
	n = d4ctl_config_find(&cfg, U2, "renamed");
	assert_non_null(n);
	assert_string_equal(n->token, "t3");
	/* by name only a section without a uuid */
	n = d4ctl_config_find(&cfg, "no-such-uuid", "stagebox");
	assert_null(n);
	n = d4ctl_config_find(&cfg, "no-such-uuid", "mixer");
	assert_non_null(n);
	assert_string_equal(n->token, "t2");
}

static void test_config_edit_appends_a_new_node(void **state)
{
	char *t = d4ctl_config_edit("; mine\ntoken = top\n", U1, "stage", NULL,
				    NULL, "abc");
	struct d4ctl_config cfg;
	char err[256];

	assert_non_null(t);
	assert_string_equal(t, "; mine\ntoken = top\n\n[node stage]\nuuid = " U1
			       "\ntoken = abc\n");
	assert_int_equal(d4ctl_config_parse(t, &cfg, err, sizeof(err)), 0);
	assert_string_equal(d4ctl_config_find(&cfg, U1, NULL)->token, "abc");
	free(t);
}

static void test_config_edit_replaces_the_token_in_place(void **state)
{
	static const char text[] = "[node old-name]\n"
				   "; a comment kept\n"
				   "uuid = " U1 "\n"
				   "token = old\n"
				   "host = 10.0.0.1:8080\n"
				   "\n"
				   "[node mixer]\n"
				   "token = m\n";
	char *t = d4ctl_config_edit(text, U1, "new-name", NULL, NULL, "new");

	assert_non_null(t);
	/* the section is the node's by uuid: its label, comment, host and
	 * place stay; only the token changes */
	assert_string_equal(t, "[node old-name]\n"
			       "; a comment kept\n"
			       "uuid = " U1 "\n"
			       "token = new\n"
			       "host = 10.0.0.1:8080\n"
			       "\n"
			       "[node mixer]\n"
			       "token = m\n");
	free(t);
}

static void test_config_edit_gives_a_named_section_its_uuid(void **state)
{
	char *t = d4ctl_config_edit("[node mixer]\ntoken = m\n\n[node x]\n", U2,
				    "mixer", "10.0.0.2:8080", "10.0.0.2:8080",
				    "fresh");

	assert_non_null(t);
	assert_string_equal(t, "[node mixer]\ntoken = fresh\nuuid = " U2
			       "\nhost = 10.0.0.2:8080\npaired_at = "
			       "10.0.0.2:8080\n\n[node x]\n");
	free(t);
}

static void test_config_store_writes_0600_atomically(void **state)
{
	char dir[] = "/tmp/d4ctl-config.XXXXXX", path[256], err[256];
	struct d4ctl_config cfg;
	struct stat st;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/sub/d4ctl/config", dir);
	assert_int_equal(d4ctl_config_store(path, U1, "stage", NULL, NULL, "tok", err,
					    sizeof(err)),
			 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(d4ctl_config_store(path, U1, "stage", NULL, NULL, "tok2",
					    err, sizeof(err)),
			 0);
	assert_int_equal(d4ctl_config_load(path, &cfg, err, sizeof(err)), 0);
	assert_int_equal(cfg.nnodes, 1);
	assert_string_equal(cfg.nodes[0].token, "tok2");
	/* a file d4ctl cannot read is not rewritten (it would be lost) */
	{
		FILE *f = fopen(path, "w");

		fputs("colour = red\n", f);
		fclose(f);
	}
	assert_int_equal(d4ctl_config_store(path, U1, "stage", NULL, NULL, "tok3",
					    err, sizeof(err)),
			 -EINVAL);
	unlink(path);
	snprintf(path, sizeof(path), "%s/sub/d4ctl", dir);
	rmdir(path);
	snprintf(path, sizeof(path), "%s/sub", dir);
	rmdir(path);
	rmdir(dir);
}

static void test_suggest_finds_typos_not_strangers(void **state)
{
	static const char *const names[] = {"list",    "show",	  "route",
					    "routes",  "unroute", "login",
					    "latency", NULL};

	assert_string_equal(d4ctl_suggest("lsit", names), "list");
	assert_string_equal(d4ctl_suggest("rotue", names), "route");
	assert_string_equal(d4ctl_suggest("shwo", names), "show");
	assert_string_equal(d4ctl_suggest("loign", names), "login");
	assert_string_equal(d4ctl_suggest("unrout", names), "unroute");
	/* a unique prefix */
	assert_string_equal(d4ctl_suggest("lat", names), "latency");
	assert_null(d4ctl_suggest("xyzzy", names));
	assert_null(d4ctl_suggest("ab", names));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(
		test_config_finds_a_node_by_uuid_whatever_its_name),
	    cmocka_unit_test(test_config_edit_appends_a_new_node),
	    cmocka_unit_test(test_config_edit_replaces_the_token_in_place),
	    cmocka_unit_test(test_config_edit_gives_a_named_section_its_uuid),
	    cmocka_unit_test(test_config_store_writes_0600_atomically),
	    cmocka_unit_test(test_suggest_finds_typos_not_strangers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
