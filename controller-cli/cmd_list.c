/* d4ctl list: every node found (mDNS, config, --host) with GET /node. */
#include <errno.h>
#include <stdlib.h>

#include "controller-cli/d4ctl.h"

static const char usage[] =
    "usage: d4ctl list [--json]\n"
    "\n"
    "Nodes on the network (mDNS _d4node._tcp, [node] sections of the config\n"
    "file, --host): name, API address, TX/RX channel counts, PTP clock\n"
    "state and grandmaster. Exit 3 if a node found does not answer.\n";

int cmd_list(struct d4ctl *ctl, int argc, char *argv[])
{
	static const char *const headers[] = {
	    "NAME", "ADDRESS", "TX", "RX", "CLOCK", "GRANDMASTER", NULL};
	static const char *const keys[] = {
	    "name",	   "address",  "tx_channels", "rx_channels",
	    "clock.state", "clock.gm", NULL};
	struct d4ctl_node *nodes = NULL;
	json_t *out;
	int first, n, rc, exit_code = D4CTL_EXIT_OK;

	rc = d4ctl_getopt(ctl, argc, argv, usage, NULL, NULL, NULL, NULL,
			  &first);
	if (rc)
		return rc > 0 ? D4CTL_EXIT_OK : D4CTL_EXIT_USAGE;
	if (first < argc) {
		d4ctl_err("list", "unexpected '%s'\n%s", argv[first], usage);
		return D4CTL_EXIT_USAGE;
	}
	/* (made before the option checks, it leaked on their way out:
	 * LeakSanitizer, "d4ctl list -z") */
	out = json_array();
	n = d4ctl_node_all(ctl, &nodes);
	if (n < 0) {
		json_decref(out);
		return d4ctl_exit_code(n);
	}
	for (int i = 0; i < n; i++) {
		json_t *v = NULL;

		if (d4ctl_http(ctl, &nodes[i], "GET", "/node", NULL, &v) < 0) {
			v = json_pack("{s:s, s:{s:s}}", "name", nodes[i].name,
				      "clock", "state", "unreachable");
			exit_code = D4CTL_EXIT_NOTFOUND;
		}
		json_object_set_new(v, "address", json_string(nodes[i].addr));
		json_array_append_new(out, v);
	}
	if (ctl->json)
		d4ctl_print_json(out);
	else if (n == 0)
		fprintf(stderr, "d4ctl: list: no nodes found in %.1f s\n",
			ctl->browse_s);
	else
		d4ctl_table(out, headers, keys);
	json_decref(out);
	free(nodes);
	return exit_code;
}
