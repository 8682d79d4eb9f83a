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
    "RXCHANNELS@NODE names the subscription a route made (3-4@B: rx3-4).\n";

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
	if (strchr(argv[first], '@')) {
		struct chanspec cs;
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
