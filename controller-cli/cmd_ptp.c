/* d4ctl ptp: the PTP clock of one node (GET /ptp) or of every node. */
#include <errno.h>
#include <stdlib.h>

#include "controller-cli/d4ctl.h"

static const char usage[] =
    "usage: d4ctl ptp [--json] [NODE]\n"
    "\n"
    "PTP clock state (locked, locking, unlocked, holdover, free-run),\n"
    "grandmaster, domain, offset and port state of NODE, or of every node\n"
    "found.\n";

int cmd_ptp(struct d4ctl *ctl, int argc, char *argv[])
{
	static const char *const headers[] = {
	    "NODE", "STATE", "GM", "DOMAIN", "OFFSET_NS", "PORT", NULL};
	static const char *const keys[] = {
	    "node", "state", "gm", "domain", "offset_ns", "port_state", NULL};
	struct d4ctl_node *nodes = NULL;
	json_t *all, *v;
	int first, rc, n, exit_code = D4CTL_EXIT_OK;

	rc = d4ctl_getopt(ctl, argc, argv, usage, NULL, NULL, NULL, NULL,
			  &first);
	if (rc)
		return rc > 0 ? D4CTL_EXIT_OK : D4CTL_EXIT_USAGE;
	if (argc - first > 1) {
		d4ctl_err("ptp", "unexpected '%s'\n%s", argv[first + 1], usage);
		return D4CTL_EXIT_USAGE;
	}
	/* after the usage checks, which return without it */
	all = json_array();
	if (first < argc || ctl->host) {
		nodes = calloc(1, sizeof(*nodes));
		if (!nodes) {
			json_decref(all);
			return D4CTL_EXIT_NODE;
		}
		rc = d4ctl_node_find(ctl, first < argc ? argv[first] : NULL,
				     nodes);
		n = rc < 0 ? rc : 1;
	} else {
		n = d4ctl_node_all(ctl, &nodes);
	}
	if (n < 0) {
		json_decref(all);
		free(nodes);
		return d4ctl_exit_code(n);
	}
	for (int i = 0; i < n; i++) {
		rc = d4ctl_http(ctl, &nodes[i], "GET", "/ptp", NULL, &v);
		if (rc < 0) {
			exit_code = d4ctl_exit_code(rc);
			continue;
		}
		json_object_set_new(v, "node", json_string(nodes[i].name));
		json_array_append_new(all, v);
	}
	if (ctl->json)
		d4ctl_print_json(n == 1 && first < argc ? json_array_get(all, 0)
							: all);
	else
		d4ctl_table(all, headers, keys);
	json_decref(all);
	free(nodes);
	return exit_code;
}
