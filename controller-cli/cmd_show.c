/* d4ctl show: one node's identity, clock, flows and subscriptions. */
#include "controller-cli/d4ctl.h"
#include "controller-cli/plan.h"

static const char usage[] =
    "usage: d4ctl show [--json] NODE\n"
    "\n"
    "One node: name, id, version, uptime, channels, PTP clock, and its flows\n"
    "and subscriptions. NODE is a name, ADDR:PORT, or omitted with --host.\n";

int cmd_show(struct d4ctl *ctl, int argc, char *argv[])
{
	static const char *const fh[] = {
	    "FLOW",	    "SOURCE",	"CHANNELS", "DESTINATION",
	    "DESTINATION2", "ENCODING", NULL};
	static const char *const fk[] = {
	    "name",	    "source",	"channels", "destination",
	    "destination2", "encoding", NULL};
	static const char *const sh[] = {"SUBSCRIPTION", "FROM",       "STATE",
					 "LEGS",	 "LATENCY_US", NULL};
	static const char *const sk[] = {"name",      "from_text",  "state",
					 "legs_text", "latency_us", NULL};
	struct d4ctl_node node;
	json_t *n = NULL, *flows = NULL, *subs = NULL;
	const json_t *clk;
	int first, rc;
	char b[8][128];

	rc = d4ctl_getopt(ctl, argc, argv, usage, NULL, NULL, NULL, NULL,
			  &first);
	if (rc)
		return rc > 0 ? D4CTL_EXIT_OK : D4CTL_EXIT_USAGE;
	if (argc - first > 1) {
		d4ctl_err("show", "unexpected '%s'\n%s", argv[first + 1],
			  usage);
		return D4CTL_EXIT_USAGE;
	}
	rc = d4ctl_node_find(ctl, first < argc ? argv[first] : NULL, &node);
	if (rc == 0)
		rc = d4ctl_http(ctl, &node, "GET", "/node", NULL, &n);
	if (rc == 0)
		rc = d4ctl_http(ctl, &node, "GET", "/flows", NULL, &flows);
	if (rc == 0)
		rc = d4ctl_http(ctl, &node, "GET", "/subscriptions", NULL,
				&subs);
	if (rc < 0)
		goto out;
	if (ctl->json) {
		json_t *all = json_pack("{s:O, s:s, s:s?, s:O, s:O}", "node", n,
					"address", node.addr, "address2",
					node.host2[0] ? node.host2 : NULL,
					"flows", flows, "subscriptions", subs);
		d4ctl_print_json(all);
		json_decref(all);
		goto out;
	}
	clk = json_object_get(n, "clock");
	printf("name:      %s\n", d4ctl_jstr(n, "name", b[0], sizeof(b[0])));
	printf("address:   %s\n", node.addr);
	/* ST 2022-7: the node seen on a second network too */
	if (node.host2[0])
		printf("address2:  %s\n", node.host2);
	printf("id:        %s\n", d4ctl_jstr(n, "id", b[0], sizeof(b[0])));
	printf("version:   %s\n", d4ctl_jstr(n, "version", b[0], sizeof(b[0])));
	/* to a tenth: the API's 6.15499 read as noise */
	if (json_is_number(json_object_get(n, "uptime_s")))
		printf("uptime_s:  %.1f\n",
		       json_number_value(json_object_get(n, "uptime_s")));
	else
		printf("uptime_s:  -\n");
	printf("channels:  %s TX, %s RX\n",
	       d4ctl_jstr(n, "tx_channels", b[0], sizeof(b[0])),
	       d4ctl_jstr(n, "rx_channels", b[1], sizeof(b[1])));
	printf("clock:     %s, gm %s, domain %s, offset %s ns, port %s\n",
	       d4ctl_jstr(clk, "state", b[2], sizeof(b[2])),
	       d4ctl_jstr(clk, "gm", b[3], sizeof(b[3])),
	       d4ctl_jstr(clk, "domain", b[4], sizeof(b[4])),
	       d4ctl_jstr(clk, "offset_ns", b[5], sizeof(b[5])),
	       d4ctl_jstr(clk, "port_state", b[6], sizeof(b[6])));
	putchar('\n');
	if (json_array_size(flows))
		d4ctl_table(flows, fh, fk);
	else
		printf("no flows\n");
	putchar('\n');
	if (json_array_size(subs)) {
		json_t *sub;
		size_t i;
		char legs[64];

		json_array_foreach(subs, i, sub)
		{
			const char *from = json_string_value(
			    json_object_get(sub, "stream"));

			/* what this node knows of the sender: the stream's
			 * name, else the address it listens on (d4ctl
			 * routes names the sender's channels, from every
			 * node's view) */
			if (!from || !from[0])
				from = json_string_value(
				    json_object_get(sub, "address"));
			json_object_set_new(sub, "from_text",
					    json_string(from && from[0] ? from
								    : "-"));
			plan_legs_text(sub, legs, sizeof(legs));
			json_object_set_new(sub, "legs_text",
					    json_string(legs[0] ? legs : "-"));
		}
		d4ctl_table(subs, sh, sk);
	} else
		printf("no subscriptions\n");
out:
	json_decref(n);
	json_decref(flows);
	json_decref(subs);
	return d4ctl_exit_code(rc);
}
