/* d4ctl routes: every subscription on the network and where it comes
 * from (plan_routes()). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "controller-cli/d4ctl.h"
#include "controller-cli/plan.h"
#include "controller-cli/snapshot.h"

static const char usage[] =
    "usage: d4ctl routes [--json]\n"
    "\n"
    "Every route on the network: RX channels (or NODE/SUBSCRIPTION), where\n"
    "they come from (CHANNELS@NODE or \"stream\"), how (multicast, unicast\n"
    "relay, foreign stream, address), the flow, state, its legs when it\n"
    "has two (ST 2022-7: \"A ok, B down\") and latency.\n";

int cmd_routes(struct d4ctl *ctl, int argc, char *argv[])
{
	static const char *const headers[] = {
	    "RX", "FROM", "KIND", "FLOW", "STATE", "LEGS", "LATENCY_US", NULL};
	static const char *const keys[] = {
	    "rx", "from", "kind", "flow", "state", "legs", "latency_us", NULL};
	struct d4ctl_node *nodes = NULL;
	json_t *net = NULL, *routes;
	int first, rc, n;

	rc = d4ctl_getopt(ctl, argc, argv, usage, NULL, NULL, NULL, NULL,
			  &first);
	if (rc)
		return rc > 0 ? D4CTL_EXIT_OK : D4CTL_EXIT_USAGE;
	if (first < argc) {
		d4ctl_err("routes", "unexpected '%s'\n%s", argv[first], usage);
		return D4CTL_EXIT_USAGE;
	}
	n = d4ctl_node_all(ctl, &nodes);
	if (n < 0)
		return d4ctl_exit_code(n);
	rc = snapshot_fetch(ctl, nodes, n, false, &net);
	free(nodes);
	if (rc < 0)
		return d4ctl_exit_code(rc);
	routes = plan_routes(net);
	if (ctl->json)
		d4ctl_print_json(routes);
	else if (json_array_size(routes))
		d4ctl_table(routes, headers, keys);
	else
		printf("no routes\n");
	/* A route by stream name whose stream went (its sender renamed or
	 * gone) plays what still arrives: say so, as Dante Controller shows
	 * such a route unresolved. */
	for (size_t i = 0; !ctl->json && i < json_array_size(routes); i++) {
		json_t *r = json_array_get(routes, i);
		json_t *a = json_object_get(r, "stream_announced");
		char rx[128], from[128], state[32];

		d4ctl_jstr(r, "state", state, sizeof(state));
		if (!json_is_false(a) || !strcmp(state, "unresolved"))
			continue;
		d4ctl_jstr(r, "rx", rx, sizeof(rx));
		printf("note: %s follows stream %s, not announced now: it "
		       "comes back by itself when that name is announced "
		       "again; if its sender was renamed, unroute %s and "
		       "route the new name\n",
		       rx, d4ctl_jstr(r, "from", from, sizeof(from)), rx);
	}
	/* A route that does not play says why, as Dante Controller's red
	 * cross does on hover, and what would fix a latency too short (a
	 * new user routed a sound card's flow, 13.3 ms behind its time
	 * stamps, at the default 4 ms: "late", and nothing said why). */
	for (size_t i = 0; !ctl->json && i < json_array_size(routes); i++) {
		json_t *r = json_array_get(routes, i);
		char rx[128], state[32], why[256];
		json_t *sv = json_object_get(r, "latency_safe_us");
		long long safe = json_is_integer(sv) ? json_integer_value(sv)
						     : -1,
			  lat = json_integer_value(
			      json_object_get(r, "latency_us"));

		d4ctl_jstr(r, "state", state, sizeof(state));
		d4ctl_jstr(r, "state_reason", why, sizeof(why));
		if (!strcmp(state, "receiving") || !strcmp(state, "waiting") ||
		    !why[0])
			continue;
		d4ctl_jstr(r, "rx", rx, sizeof(rx));
		printf("note: %s is %s: %s", rx, state, why);
		if (!strcmp(state, "late") && safe > lat && safe <= 100000)
			printf(" (d4ctl latency %s %lld)", rx,
			       (safe + 999) / 1000);
		printf("\n");
	}
	json_decref(routes);
	/* the routes of the nodes that answered are shown; a node that
	 * did not is an error said above, and the exit code says the table
	 * is not the whole network (a new user's script read "no routes") */
	rc = json_array_size(json_object_get(net, "unanswered"))
		 ? D4CTL_EXIT_NOTFOUND
		 : D4CTL_EXIT_OK;
	json_decref(net);
	return rc;
}
