/* d4ctl unroute RX: fetch the network, plan the removal (plan.c), run it. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "controller-cli/args.h"
#include "controller-cli/d4ctl.h"
#include "controller-cli/snapshot.h"

static const char usage[] =
    "usage: d4ctl unroute [--dry-run] RXCHANNELS@NODE\n"
    "       d4ctl unroute [--dry-run] NODE/SUBSCRIPTION\n"
    "\n"
    "Remove the route to RX channels: delete the RX node's subscription\n"
    "(rxCHANNELS), take its address out of the relay list of the unicast\n"
    "flow that sends to it, and delete that flow if nobody is left on it\n"
    "and it was made through the API. Looks at every node found.\n"
    "Some channels of a routed range (4@B of 3-6@B): the subscription is\n"
    "made again with the others (rx3_5-6); they miss about one latency\n"
    "of audio.\n";

static int on_opt(void *data, int opt, const char *arg)
{
	*(bool *)data = true;
	return 0;
}

int cmd_unroute(struct d4ctl *ctl, int argc, char *argv[])
{
	static const struct option extra[] = {
	    {"dry-run", no_argument, NULL, 'n'},
	    {NULL, 0, NULL, 0},
	};
	struct d4ctl_node rxnode, *nodes = NULL, *p;
	char nodename[ARGS_NAME_MAX], sub[ARGS_NAME_MAX], err[512];
	struct chanspec rx;
	struct plan plan = {0};
	bool dry_run = false, by_chans;
	json_t *net = NULL;
	int first, rc, n;

	rc = d4ctl_getopt(ctl, argc, argv, usage, extra, "n", on_opt, &dry_run,
			  &first);
	if (rc)
		return rc > 0 ? D4CTL_EXIT_OK : D4CTL_EXIT_USAGE;
	if (argc - first != 1) {
		d4ctl_err("unroute", "expected one RX\n%s", usage);
		return D4CTL_EXIT_USAGE;
	}
	by_chans = strchr(argv[first], '@') != NULL;
	if (by_chans)
		rc = args_parse_chanspec(argv[first], &rx, err, sizeof(err));
	else
		rc =
		    args_parse_node_sub(argv[first], nodename, sizeof(nodename),
					sub, sizeof(sub), err, sizeof(err));
	if (rc == 0 && by_chans && rx.stream) {
		snprintf(err, sizeof(err),
			 "'%s': routes end at a node's RX channels, not at a "
			 "stream",
			 argv[first]);
		rc = -EINVAL;
	}
	if (rc < 0) {
		d4ctl_err("unroute", "%s", err);
		return D4CTL_EXIT_USAGE;
	}
	ctl->multi = true;
	rc = d4ctl_node_find(ctl, by_chans ? rx.target : nodename, &rxnode);
	if (rc < 0)
		return d4ctl_exit_code(rc);
	/* The flow that relays to it may be on any node. */
	n = d4ctl_node_all(ctl, &nodes);
	if (n < 0)
		n = 0;
	for (int i = 0; i < n; i++)
		if (!strcmp(nodes[i].addr, rxnode.addr))
			nodes[i] = nodes[--n];
	p = realloc(nodes, (size_t)(n + 1) * sizeof(*p));
	if (!p) {
		free(nodes);
		return D4CTL_EXIT_NODE;
	}
	nodes = p;
	memmove(nodes + 1, nodes, (size_t)n * sizeof(*nodes));
	nodes[0] = rxnode;
	n++;
	rc = snapshot_fetch(ctl, nodes, n, false, &net);
	if (rc < 0)
		goto out;
	if (!json_array_size(json_object_get(net, "nodes")) ||
	    strcmp(json_string_value(json_object_get(
		       json_array_get(json_object_get(net, "nodes"), 0),
		       "address")),
		   rxnode.addr)) {
		rc = -EHOSTUNREACH; /* the RX node did not answer */
		goto out;
	}
	snprintf(nodename, sizeof(nodename), "%s", rxnode.addr);
	if (by_chans) {
		snprintf(rx.target, sizeof(rx.target), "%s", rxnode.addr);
		rc = plan_unroute_channels(net, &rx, &plan, err, sizeof(err));
	} else {
		rc = plan_unroute(net, nodename, sub, &plan, err, sizeof(err));
	}
	if (rc < 0) {
		d4ctl_err("unroute", "%s: %s", argv[first], err);
		rc = rc == -EINVAL ? -EINVAL : -EIO;
		goto out;
	}
	if (dry_run)
		snapshot_print_plan(&plan);
	else
		rc = snapshot_run(ctl, &plan, net, nodes, n);
out:
	plan_free(&plan);
	json_decref(net);
	free(nodes);
	return d4ctl_exit_code(rc);
}
