/* Route changes run against a set of known nodes: each fetches the
 * network anew, plans (plan.c) and runs the plan (snapshot.c). Shared by
 * d4ctl preset apply and d4ctl ui; progress goes to ctl->out, errors to
 * ctl->errs. Channel specs name nodes by name or API ADDR:PORT. */
#ifndef D4_CONTROLLER_CLI_ROUTING_H
#define D4_CONTROLLER_CLI_ROUTING_H

#include "controller-cli/d4ctl.h"
#include "controller-cli/plan.h"

/* Route @tx ("1-2@A", "2@\"stream\"") to @rx ("3-4@B"). 0 (also when it
 * was there already), -EINVAL (bad spec or plan), or -errno. */
int routing_route(struct d4ctl *ctl, struct d4ctl_node *nodes, int n,
		  const char *tx, const char *rx, const struct plan_opts *opts);

/* Unroute RX channels @rx ("4@B"), splitting ranges. 0 or -errno. */
int routing_unroute(struct d4ctl *ctl, struct d4ctl_node *nodes, int n,
		    const char *rx);

/* Set the latency of subscription @sub of node @node (a name or
 * ADDR:PORT). 0 or -errno. */
int routing_latency(struct d4ctl *ctl, struct d4ctl_node *nodes, int n,
		    const char *node, const char *sub, unsigned int latency_us);

/* The network now: a snapshot of @nodes and its routes (plan_routes()).
 * 0 or -errno. */
int routing_fetch(struct d4ctl *ctl, struct d4ctl_node *nodes, int n,
		  json_t **net, json_t **routes);

/* Print what preset_diff() found, one line a step ("- 3-4@B from
 * 1-2@A", "+ ...", "~ latency ...", "! ... not on the network"). */
void routing_print_diff(FILE *f, const json_t *diff);

/* Apply @preset: the steps of preset_diff() against the network now,
 * removals first. Every step is tried; -EIO if one failed. *diff (may be
 * NULL) gets the difference that was applied. */
int routing_preset_apply(struct d4ctl *ctl, struct d4ctl_node *nodes, int n,
			 const json_t *preset, json_t **diff);

#endif
