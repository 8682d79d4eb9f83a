/* The network as the route planner sees it (plan.h): fetched from nodes'
 * APIs, and the plan run back against them. */
#ifndef D4_CONTROLLER_CLI_SNAPSHOT_H
#define D4_CONTROLLER_CLI_SNAPSHOT_H

#include "controller-cli/d4ctl.h"
#include "controller-cli/plan.h"

/* Fetch /node, /flows, /subscriptions, /d4/vars and /streams of @n nodes
 * into *net ({"nodes": [...], "unanswered": [NAME...]}, named as each
 * node names itself). A node that fails is left out with its error
 * printed and its name in "unanswered", unless @all_needed. 0 or
 * -errno. */
int snapshot_fetch(struct d4ctl *ctl, struct d4ctl_node *nodes, int n,
		   bool all_needed, json_t **net);

/* Run @plan's calls in order; once all are done, print what each did (to
 * ctl->out). On a failure print nothing there: undo those done, in
 * reverse, and say so (ctl->errs). A node the plan writes to without a
 * token stops it before its first call. @nodes are the snapshot's (same
 * names). 0 or -errno. */
int snapshot_run(struct d4ctl *ctl, const struct plan *plan, const json_t *net,
		 struct d4ctl_node *nodes, int n);

/* Print @plan without running it. */
void snapshot_print_plan(const struct plan *plan);

#endif
