/* Route changes against a set of known nodes (routing.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "controller-cli/args.h"
#include "controller-cli/preset.h"
#include "controller-cli/routing.h"
#include "controller-cli/snapshot.h"

int routing_fetch(struct d4ctl *ctl, struct d4ctl_node *nodes, int n,
		  json_t **net, json_t **routes)
{
	int rc = snapshot_fetch(ctl, nodes, n, false, net);

	if (rc < 0)
		return rc;
	*routes = plan_routes(*net);
	if (!*routes) {
		json_decref(*net);
		*net = NULL;
		return -ENOMEM;
	}
	return 0;
}

static int parse(struct d4ctl *ctl, const char *s, struct chanspec *cs)
{
	char err[256];

	if (args_parse_chanspec(s, cs, err, sizeof(err)) < 0) {
		d4ctl_errf(ctl, "%s", err);
		return -EINVAL;
	}
	return 0;
}

int routing_route(struct d4ctl *ctl, struct d4ctl_node *nodes, int n,
		  const char *tx, const char *rx, const struct plan_opts *opts)
{
	struct chanspec t, r;
	struct plan plan = {0};
	json_t *net = NULL;
	char err[512];
	int rc;

	if (parse(ctl, tx, &t) < 0 || parse(ctl, rx, &r) < 0)
		return -EINVAL;
	rc = snapshot_fetch(ctl, nodes, n, false, &net);
	if (rc < 0)
		return rc;
	rc = plan_route(net, &t, &r, opts, &plan, err, sizeof(err));
	if (rc < 0)
		d4ctl_errf(ctl, "route %s -> %s: %s", tx, rx, err);
	else
		rc = snapshot_run(ctl, &plan, net, nodes, n);
	plan_free(&plan);
	json_decref(net);
	return rc;
}

int routing_unroute(struct d4ctl *ctl, struct d4ctl_node *nodes, int n,
		    const char *rx)
{
	struct chanspec r;
	struct plan plan = {0};
	json_t *net = NULL;
	char err[512];
	int rc;

	if (parse(ctl, rx, &r) < 0)
		return -EINVAL;
	rc = snapshot_fetch(ctl, nodes, n, false, &net);
	if (rc < 0)
		return rc;
	rc = plan_unroute_channels(net, &r, &plan, err, sizeof(err));
	if (rc < 0)
		d4ctl_errf(ctl, "unroute %s: %s", rx, err);
	else
		rc = snapshot_run(ctl, &plan, net, nodes, n);
	plan_free(&plan);
	json_decref(net);
	return rc;
}

static struct d4ctl_node *find(struct d4ctl_node *nodes, int n,
			       const char *name)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(nodes[i].name, name) ||
		    !strcmp(nodes[i].addr, name))
			return &nodes[i];
	return NULL;
}

int routing_latency(struct d4ctl *ctl, struct d4ctl_node *nodes, int n,
		    const char *node, const char *sub, unsigned int latency_us)
{
	struct d4ctl_node *nd = find(nodes, n, node);
	char path[300], e[200];
	json_t *body;
	int rc;

	if (!nd) {
		d4ctl_errf(ctl, "no node '%s'", node);
		return -ENOENT;
	}
	args_url_escape(sub, e, sizeof(e));
	snprintf(path, sizeof(path), "/subscriptions/%s", e);
	body = json_pack("{s:I}", "latency_us", (json_int_t)latency_us);
	rc = d4ctl_http(ctl, nd, "PUT", path, body, NULL);
	json_decref(body);
	if (rc == 0)
		fprintf(d4ctl_out(ctl), "%s/%s: latency %.3g ms\n", nd->name,
			sub, latency_us / 1000.0);
	return rc;
}

void routing_print_diff(FILE *f, const json_t *diff)
{
	static const struct {
		const char *key, *sign;
	} parts[] = {{"remove", "-"},
		     {"add", "+"},
		     {"latency", "~"},
		     {"unavailable", "!"},
		     {"keep", "="}};
	char rx[160], tx[160];
	const json_t *r;
	size_t i;

	for (size_t k = 0; k < sizeof(parts) / sizeof(parts[0]); k++) {
		json_array_foreach(json_object_get(diff, parts[k].key), i, r)
		{
			const char *why =
			    json_string_value(json_object_get(r, "why"));

			preset_route_rx(r, rx, sizeof(rx));
			if (!strcmp(parts[k].key, "remove"))
				snprintf(tx, sizeof(tx), "%s",
					 json_string_value(
					     json_object_get(r, "from")));
			else
				preset_route_tx(r, tx, sizeof(tx));
			fprintf(f, "%s %s from %s", parts[k].sign, rx, tx);
			if (!strcmp(parts[k].key, "latency"))
				fprintf(f, ": latency %.3g -> %.3g ms",
					json_integer_value(
					    json_object_get(r, "from_us")) /
					    1000.0,
					json_integer_value(
					    json_object_get(r, "latency_us")) /
					    1000.0);
			if (why)
				fprintf(f, ": skipped, %s", why);
			fputc('\n', f);
		}
	}
}

int routing_preset_apply(struct d4ctl *ctl, struct d4ctl_node *nodes, int n,
			 const json_t *preset, json_t **diff_out)
{
	json_t *net = NULL, *routes = NULL, *diff, *r;
	int rc, failed = 0;
	size_t i;

	if (diff_out)
		*diff_out = NULL;
	rc = routing_fetch(ctl, nodes, n, &net, &routes);
	if (rc < 0)
		return rc;
	diff = preset_diff(preset, net, routes);
	json_decref(routes);
	json_decref(net);
	if (!diff)
		return -ENOMEM;
	json_array_foreach(json_object_get(diff, "remove"), i, r)
	{
		char rx[160];

		preset_route_rx(r, rx, sizeof(rx));
		if (routing_unroute(ctl, nodes, n, rx) < 0)
			failed++;
	}
	json_array_foreach(json_object_get(diff, "add"), i, r)
	{
		struct plan_opts opts = {
		    .latency_us = (unsigned int)json_integer_value(
			json_object_get(r, "latency_us"))};
		char rx[160], tx[160];

		preset_route_rx(r, rx, sizeof(rx));
		preset_route_tx(r, tx, sizeof(tx));
		if (routing_route(ctl, nodes, n, tx, rx, &opts) < 0)
			failed++;
	}
	json_array_foreach(json_object_get(diff, "latency"), i, r)
	{
		if (routing_latency(
			ctl, nodes, n,
			json_string_value(json_object_get(r, "rx_node")),
			json_string_value(json_object_get(r, "subscription")),
			(unsigned int)json_integer_value(
			    json_object_get(r, "latency_us"))) < 0)
			failed++;
	}
	if (diff_out)
		*diff_out = diff;
	else
		json_decref(diff);
	if (failed)
		d4ctl_errf(ctl, "%d step%s of the preset failed", failed,
			   failed == 1 ? "" : "s");
	return failed ? -EIO : 0;
}
