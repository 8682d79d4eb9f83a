/* d4ctl flow list|create|delete: a node's flows (TX), GET/POST/DELETE
 * /flows. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "controller-cli/args.h"
#include "controller-cli/d4ctl.h"

static const char usage[] =
    "usage: d4ctl flow list [--json] [NODE]\n"
    "       d4ctl flow create NODE NAME --source SOURCE --dest ADDR[:PORT]\n"
    "             [--channels 1-2] [--encoding L24|L16] [--ptime US]\n"
    "             [--dscp N] [--ttl N] [--interface IF]\n"
    "             [--dest2 ADDR[:PORT] [--interface2 IF]]\n"
    "       d4ctl flow delete NODE NAME\n"
    "\n"
    "Flows are a node's RTP streams. A multicast flow is announced (SAP,\n"
    "RAVENNA); a unicast one is sent by a D4 relay to the list\n"
    "_NAME_receivers, which starts with its destination. Flows from the\n"
    "node's config file cannot be deleted. --dest2 is a second leg (SMPTE\n"
    "ST 2022-7): the same packets to another network, out of --interface2\n"
    "(required for a multicast group).\n";

struct flow_opts {
	json_t *body;
	int err;
};

static int put_int(struct flow_opts *o, const char *key, const char *arg,
		   long min, long max)
{
	char *end;
	long v = strtol(arg, &end, 10);

	if (end == arg || *end || v < min || v > max) {
		d4ctl_err("flow", "--%s '%s' is not a number in %ld-%ld", key,
			  arg, min, max);
		return -1;
	}
	json_object_set_new(o->body, key, json_integer(v));
	return 0;
}

static int on_opt(void *data, int opt, const char *arg)
{
	struct flow_opts *o = data;
	uint8_t ch[ARGS_MAX_CHANNELS];
	char err[256];
	json_t *a;
	int n;

	switch (opt) {
	case 's':
		json_object_set_new(o->body, "source", json_string(arg));
		return 0;
	case 'd':
		json_object_set_new(o->body, "destination", json_string(arg));
		return 0;
	case 'c':
		n = args_parse_channels(arg, ch, ARGS_MAX_CHANNELS, err,
					sizeof(err));
		if (n < 0) {
			d4ctl_err("flow", "--channels '%s': %s", arg, err);
			return -1;
		}
		a = json_array();
		for (int i = 0; i < n; i++)
			json_array_append_new(a, json_integer(ch[i]));
		json_object_set_new(o->body, "channels", a);
		return 0;
	case 'e':
		if (strcmp(arg, "L24") && strcmp(arg, "L16")) {
			d4ctl_err("flow", "--encoding '%s': L24 or L16", arg);
			return -1;
		}
		json_object_set_new(o->body, "encoding", json_string(arg));
		return 0;
	case 'p':
		return put_int(o, "ptime_us", arg, 125, 4000);
	case 'D':
		return put_int(o, "dscp", arg, 0, 63);
	case 't':
		return put_int(o, "ttl", arg, 1, 255);
	case 'i':
		json_object_set_new(o->body, "interface", json_string(arg));
		return 0;
	case '2':
		json_object_set_new(o->body, "destination2", json_string(arg));
		return 0;
	case 'I':
		json_object_set_new(o->body, "interface2", json_string(arg));
		return 0;
	}
	return -1;
}

static int flow_list(struct d4ctl *ctl, const char *nodename)
{
	static const char *const headers[] = {
	    "NAME",	"SOURCE",   "CHANNELS", "DESTINATION", "DESTINATION2",
	    "ENCODING", "PTIME_US", "ORIGIN",	"PACKETS",     NULL};
	static const char *const keys[] = {
	    "name",	"source",   "channels", "destination",	 "destination2",
	    "encoding", "ptime_us", "origin",	"stats.packets", NULL};
	return d4ctl_list(ctl, nodename, "/flows", headers, keys);
}

int cmd_flow(struct d4ctl *ctl, int argc, char *argv[])
{
	static const struct option extra[] = {
	    {"source", required_argument, NULL, 's'},
	    {"dest", required_argument, NULL, 'd'},
	    {"destination", required_argument, NULL, 'd'},
	    {"channels", required_argument, NULL, 'c'},
	    {"encoding", required_argument, NULL, 'e'},
	    {"ptime", required_argument, NULL, 'p'},
	    {"dscp", required_argument, NULL, 'D'},
	    {"ttl", required_argument, NULL, 't'},
	    {"interface", required_argument, NULL, 'i'},
	    {"dest2", required_argument, NULL, '2'},
	    {"destination2", required_argument, NULL, '2'},
	    {"interface2", required_argument, NULL, 'I'},
	    {NULL, 0, NULL, 0},
	};
	struct flow_opts o = {.body = json_object()};
	struct d4ctl_node node;
	const char *verb;
	char path[256];
	int first, rc, nargs;

	if (argc < 2 || argv[1][0] == '-') {
		rc = d4ctl_getopt(ctl, argc, argv, usage, NULL, NULL, NULL,
				  NULL, &first);
		json_decref(o.body);
		if (rc)
			return rc > 0 ? D4CTL_EXIT_OK : D4CTL_EXIT_USAGE;
		if (first < argc) {
			d4ctl_err("flow", "unknown '%s'\n%s", argv[first],
				  usage);
			return D4CTL_EXIT_USAGE;
		}
		return flow_list(ctl, NULL);
	}
	verb = argv[1];
	if (strcmp(verb, "list") && strcmp(verb, "create") &&
	    strcmp(verb, "delete")) {
		static const char *const verbs[] = {"list", "create", "delete",
						    NULL};
		const char *s = d4ctl_suggest(verb, verbs);

		if (s)
			d4ctl_err("flow",
				  "unknown '%s'; did you mean '%s'?\n%s", verb,
				  s, usage);
		else
			d4ctl_err("flow",
				  "unknown '%s' (list, create or delete)\n%s",
				  verb, usage);
		json_decref(o.body);
		return D4CTL_EXIT_USAGE;
	}
	rc = d4ctl_getopt(ctl, argc - 1, argv + 1, usage,
			  strcmp(verb, "create") ? NULL : extra,
			  strcmp(verb, "create") ? NULL : "", on_opt, &o,
			  &first);
	if (rc) {
		json_decref(o.body);
		return rc > 0 ? D4CTL_EXIT_OK : D4CTL_EXIT_USAGE;
	}
	argc--;
	argv++;
	nargs = argc - first;
	if (!strcmp(verb, "list")) {
		json_decref(o.body);
		if (nargs > 1) {
			d4ctl_err("flow", "unexpected '%s'\n%s",
				  argv[first + 1], usage);
			return D4CTL_EXIT_USAGE;
		}
		return flow_list(ctl, nargs ? argv[first] : NULL);
	}
	if (!(nargs == 2 || (ctl->host && nargs == 1))) {
		d4ctl_err("flow", "%s: expected NODE NAME\n%s", verb, usage);
		json_decref(o.body);
		return D4CTL_EXIT_USAGE;
	}
	if (!strcmp(verb, "create")) {
		if (!json_object_get(o.body, "source") ||
		    !json_object_get(o.body, "destination")) {
			d4ctl_err("flow",
				  "create: --source and --dest are "
				  "required\n%s",
				  usage);
			json_decref(o.body);
			return D4CTL_EXIT_USAGE;
		}
		json_object_set_new(o.body, "name",
				    json_string(argv[argc - 1]));
	}
	rc = d4ctl_node_find(ctl, nargs == 2 ? argv[first] : NULL, &node);
	if (rc == 0 && !strcmp(verb, "create")) {
		json_t *resp = NULL;

		rc = d4ctl_http(ctl, &node, "POST", "/flows", o.body, &resp);
		if (rc == 0 && ctl->json)
			d4ctl_print_json(resp);
		else if (rc == 0)
			printf("%s: created flow %s\n", node.name,
			       argv[argc - 1]);
		json_decref(resp);
	} else if (rc == 0) {
		char esc[192];

		args_url_escape(argv[argc - 1], esc, sizeof(esc));
		snprintf(path, sizeof(path), "/flows/%s", esc);
		rc = d4ctl_http(ctl, &node, "DELETE", path, NULL, NULL);
		if (rc == 0)
			printf("%s: deleted flow %s\n", node.name,
			       argv[argc - 1]);
	}
	json_decref(o.body);
	return d4ctl_exit_code(rc);
}
