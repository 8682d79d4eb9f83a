/* d4ctl vars: a node's D4 shared variables (GET /d4/vars). */
#include "controller-cli/d4ctl.h"

static const char usage[] =
    "usage: d4ctl vars [--json] NODE\n"
    "\n"
    "D4 shared variables of NODE: name, type and value (relay lists such\n"
    "as _main_receivers among them).\n";

int cmd_vars(struct d4ctl *ctl, int argc, char *argv[])
{
	static const char *const headers[] = {"NAME", "TYPE", "VALUE", NULL};
	static const char *const keys[] = {"name", "type", "value", NULL};
	struct d4ctl_node node;
	json_t *v = NULL;
	int first, rc;

	rc = d4ctl_getopt(ctl, argc, argv, usage, NULL, NULL, NULL, NULL,
			  &first);
	if (rc)
		return rc > 0 ? D4CTL_EXIT_OK : D4CTL_EXIT_USAGE;
	if (argc - first > 1) {
		d4ctl_err("vars", "unexpected '%s'\n%s", argv[first + 1],
			  usage);
		return D4CTL_EXIT_USAGE;
	}
	rc = d4ctl_get(ctl, first < argc ? argv[first] : NULL, "/d4/vars",
		       &node, &v);
	if (rc == 0 && !ctl->json)
		d4ctl_table(v, headers, keys);
	json_decref(v);
	return d4ctl_exit_code(rc);
}
