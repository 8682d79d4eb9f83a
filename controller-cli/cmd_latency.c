/* d4ctl latency: a subscription's link offset
 * (PUT /subscriptions/NAME {"latency_us"}). */
#include <errno.h>
#include <string.h>

#include "controller-cli/args.h"
#include "controller-cli/d4ctl.h"

static const char usage[] =
    "usage: d4ctl latency NODE/SUBSCRIPTION MS\n"
    "       d4ctl latency RXCHANNELS@NODE MS\n"
    "\n"
    "Set the latency of a subscription (0.25-100 ms; \"500us\" works too).\n"
    "RXCHANNELS@NODE names the subscription that feeds those RX channels\n"
    "(3@B: the one a route 3-4@B made, rx3-4); it must feed them all.\n";

/* The subscription of @node that feeds RX channel @cs->ch[0], into @sub;
 * 0, or -ENOENT (and a message) when none does or it does not feed every
 * channel of @cs. */
static int sub_of_rx(struct d4ctl *ctl, const struct d4ctl_node *node,
		     const struct chanspec *cs, const char *spec, char *sub,
		     size_t sub_len)
{
	json_t *subs = NULL, *o, *rx, *v;
	size_t i, j;
	unsigned int c, fed = 0;
	int rc;

	rc = d4ctl_http(ctl, node, "GET", "/subscriptions", NULL, &subs);
	if (rc)
		return rc;
	json_array_foreach(subs, i, o)
	{
		rx = json_object_get(o, "rx_channels");
		json_array_foreach(rx, j, v) if (json_integer_value(v) ==
						 cs->ch[0]) break;
		if (j == json_array_size(rx))
			continue;
		for (c = 0; c < cs->nch; c++)
			json_array_foreach(
			    rx, j, v) if (json_integer_value(v) == cs->ch[c])
			{
				fed++;
				break;
			}
		if (fed == cs->nch &&
		    json_is_string(json_object_get(o, "name"))) {
			snprintf(sub, sub_len, "%s",
				 json_string_value(json_object_get(o, "name")));
			json_decref(subs);
			return 0;
		}
		break;
	}
	json_decref(subs);
	if (fed)
		d4ctl_err("latency",
			  "%s: those RX channels are fed by more than one "
			  "route; set each route's (d4ctl routes %s)",
			  spec, node->name);
	else
		d4ctl_err("latency",
			  "%s: RX %u is not routed (d4ctl routes %s lists "
			  "the routes)",
			  spec, cs->ch[0], node->name);
	return -ENOENT;
}

int cmd_latency(struct d4ctl *ctl, int argc, char *argv[])
{
	char nodename[ARGS_NAME_MAX], sub[ARGS_NAME_MAX], err[256], path[300];
	struct d4ctl_node node;
	unsigned int us;
	json_t *body, *out = NULL;
	int first, rc;

	rc = d4ctl_getopt(ctl, argc, argv, usage, NULL, NULL, NULL, NULL,
			  &first);
	if (rc)
		return rc > 0 ? D4CTL_EXIT_OK : D4CTL_EXIT_USAGE;
	if (argc - first != 2) {
		d4ctl_err("latency", "expected NODE/SUBSCRIPTION MS\n%s",
			  usage);
		return D4CTL_EXIT_USAGE;
	}
	struct chanspec cs = {0};
	bool by_rx = false;

	if (strchr(argv[first], '@')) {
		char chans[96];

		rc = args_parse_chanspec(argv[first], &cs, err, sizeof(err));
		if (rc == 0 && (cs.stream || !cs.nch)) {
			snprintf(err, sizeof(err),
				 "'%s': give RX channels by number",
				 argv[first]);
			rc = -EINVAL;
		}
		if (rc == 0) {
			args_format_channels(cs.ch, cs.nch, chans,
					     sizeof(chans));
			for (char *p = chans; *p; p++)
				if (*p == ',')
					*p = '_';
			snprintf(sub, sizeof(sub), "rx%s", chans);
			snprintf(nodename, sizeof(nodename), "%s", cs.target);
			by_rx = true;
		}
	} else {
		rc =
		    args_parse_node_sub(argv[first], nodename, sizeof(nodename),
					sub, sizeof(sub), err, sizeof(err));
	}
	if (rc == 0)
		rc = args_parse_latency(argv[first + 1], 250, 100000, &us, err,
					sizeof(err));
	if (rc < 0) {
		d4ctl_err("latency", "%s", err);
		return D4CTL_EXIT_USAGE;
	}
	rc = d4ctl_node_find(ctl, nodename, &node);
	if (rc < 0)
		return d4ctl_exit_code(rc);
	if (by_rx) {
		rc = sub_of_rx(ctl, &node, &cs, argv[first], sub, sizeof(sub));
		if (rc == -ENOENT)
			return D4CTL_EXIT_NODE;
		if (rc)
			return d4ctl_exit_code(rc);
	}
	args_url_escape(sub, err, sizeof(err));
	snprintf(path, sizeof(path), "/subscriptions/%s", err);
	body = json_pack("{s:I}", "latency_us", (json_int_t)us);
	rc = d4ctl_http(ctl, &node, "PUT", path, body, &out);
	json_decref(body);
	if (rc == 0) {
		json_t *safe = json_object_get(out, "latency_safe_us");

		printf("%s/%s: latency %.3g ms\n", node.name, sub, us / 1000.0);
		/* the node measured what its arrivals need */
		if (json_is_integer(safe) && json_integer_value(safe) > us)
			fprintf(stderr,
				"d4ctl latency: warning: %s/%s measured %.3g "
				"ms as the smallest latency that holds; "
				"below it, packets will come late\n",
				node.name, sub,
				(double)json_integer_value(safe) / 1000.0);
	}
	json_decref(out);
	return d4ctl_exit_code(rc);
}
