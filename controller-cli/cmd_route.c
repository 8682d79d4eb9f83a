/* d4ctl route TX RX: fetch the two nodes, plan (plan.c), run the plan. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "controller-cli/args.h"
#include "controller-cli/d4ctl.h"
#include "controller-cli/snapshot.h"

static const char usage[] =
    "usage: d4ctl route [--latency MS] [--source SOURCE] [--dry-run]\n"
    "                   TXCHANNELS@NODE RXCHANNELS@NODE\n"
    "       d4ctl route ... CHANNELS@\"stream name\" RXCHANNELS@NODE\n"
    "\n"
    "Route TX channels of a node (or a whole AES67 stream by name) to RX\n"
    "channels of a node. CHANNELS: 1, 1-8, 1,3,5-6, or a channel name;\n"
    "NODE: a name or ADDR:PORT. Uses a multicast flow that carries exactly\n"
    "those channels, else a unicast flow relayed by D4 (created or\n"
    "reused); the RX node subscribes as rxCHANNELS (e.g. rx3-4).\n"
    "  --latency MS      the subscription's latency (0.25-100 ms)\n"
    "  --source SOURCE   the TX source, when the node cannot tell\n"
    "  --dry-run         print the API calls, change nothing\n"
    "Examples:\n"
    "  d4ctl route 1-2@stagebox 3-4@mixer\n"
    "  d4ctl route '1-2@\"AVIOUSBC-522880 : 2\"' 1-2@mixer\n";

struct route_opts {
	struct plan_opts plan;
	bool dry_run;
};

static int on_opt(void *data, int opt, const char *arg)
{
	struct route_opts *o = data;
	char err[256];

	switch (opt) {
	case 'l':
		if (args_parse_latency(arg, 250, 100000, &o->plan.latency_us,
				       err, sizeof(err)) < 0) {
			d4ctl_err("route", "--latency %s", err);
			return -1;
		}
		return 0;
	case 's':
		o->plan.source = arg;
		return 0;
	case 'n':
		o->dry_run = true;
		return 0;
	}
	return -1;
}

int cmd_route(struct d4ctl *ctl, int argc, char *argv[])
{
	static const struct option extra[] = {
	    {"latency", required_argument, NULL, 'l'},
	    {"source", required_argument, NULL, 's'},
	    {"dry-run", no_argument, NULL, 'n'},
	    {NULL, 0, NULL, 0},
	};
	struct route_opts o = {0};
	struct chanspec tx, rx;
	struct d4ctl_node nodes[2];
	struct plan plan = {0};
	json_t *net = NULL;
	char err[512];
	int first, rc, n = 0;

	rc = d4ctl_getopt(ctl, argc, argv, usage, extra, "n", on_opt, &o,
			  &first);
	if (rc)
		return rc > 0 ? D4CTL_EXIT_OK : D4CTL_EXIT_USAGE;
	if (argc - first != 2) {
		d4ctl_err("route", "expected TX and RX\n%s", usage);
		return D4CTL_EXIT_USAGE;
	}
	if (args_parse_chanspec(argv[first], &tx, err, sizeof(err)) < 0 ||
	    args_parse_chanspec(argv[first + 1], &rx, err, sizeof(err)) < 0) {
		d4ctl_err("route", "%s", err);
		return D4CTL_EXIT_USAGE;
	}
	if (rx.stream) {
		d4ctl_err("route",
			  "'%s': a route ends at a node's RX channels, not a "
			  "stream",
			  argv[first + 1]);
		return D4CTL_EXIT_USAGE;
	}
	ctl->multi = true;
	rc = d4ctl_node_find(ctl, rx.target, &nodes[n]);
	if (rc < 0)
		return d4ctl_exit_code(rc);
	n++;
	if (!tx.stream) {
		rc = d4ctl_node_find(ctl, tx.target, &nodes[n]);
		if (rc < 0)
			return d4ctl_exit_code(rc);
		if (strcmp(nodes[0].addr, nodes[1].addr))
			n++;
	}
	rc = snapshot_fetch(ctl, nodes, n, true, &net);
	if (rc < 0)
		return d4ctl_exit_code(rc);
	/* The snapshot names nodes as they name themselves. */
	if (!tx.stream && n == 2)
		snprintf(tx.target, sizeof(tx.target), "%s", nodes[1].addr);
	else if (!tx.stream)
		snprintf(tx.target, sizeof(tx.target), "%s", nodes[0].addr);
	snprintf(rx.target, sizeof(rx.target), "%s", nodes[0].addr);
	rc = plan_route(net, &tx, &rx, &o.plan, &plan, err, sizeof(err));
	if (rc < 0) {
		d4ctl_err("route", "%s -> %s: %s", argv[first], argv[first + 1],
			  err);
		rc = rc == -EINVAL ? D4CTL_EXIT_USAGE : D4CTL_EXIT_NODE;
		goto out;
	}
	if (o.dry_run)
		snapshot_print_plan(&plan);
	else
		rc = d4ctl_exit_code(snapshot_run(ctl, &plan, net, nodes, n));
out:
	plan_free(&plan);
	json_decref(net);
	return rc;
}
