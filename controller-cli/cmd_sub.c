/* d4ctl sub list|create|delete: a node's subscriptions (RX), GET/POST/DELETE
 * /subscriptions. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "controller-cli/args.h"
#include "controller-cli/d4ctl.h"
#include "controller-cli/plan.h"

static const char usage[] =
    "usage: d4ctl sub list [--json] [NODE]\n"
    "       d4ctl sub create NODE NAME (--stream NAME | --sdp FILE |\n"
    "             --address ADDR[:PORT] [--channels N] [--encoding L24|L16]\n"
    "             [--rate HZ] [--ptime US] [--payload-type PT])\n"
    "             [--latency MS] [--timing auto|ptp|arrival]\n"
    "             [--interface IF] [--source-filter SENDER]\n"
    "             [--address2 ADDR[:PORT]] [--interface2 IF]\n"
    "             [--source-filter2 SENDER]\n"
    "             [--record FILE.wav [--record-start PTP_SECONDS]\n"
    "              [--record-duration SECONDS]]\n"
    "       d4ctl sub delete NODE NAME   (or NODE/NAME)\n"
    "\n"
    "Subscriptions are RTP streams a node receives: by stream name (SAP or\n"
    "RAVENNA, followed when its SDP changes), by SDP, or by address.\n"
    "--address2 (with --interface2 on the second network) is a second\n"
    "leg, SMPTE ST 2022-7: the same stream on another network, merged.\n"
    "--source-filter (--source-filter2 on the second leg) takes packets\n"
    "from that sender's address only (an SDP's a=source-filter does).\n"
    "--record records every channel to FILE.wav in the node's recordings\n"
    "directory (a plain file name), from PTP_SECONDS (default: its first\n"
    "sample) for SECONDS (default: until the subscription goes); the REC\n"
    "column of sub list shows its state.\n";

struct sub_opts {
	json_t *body;
	unsigned int nsrc;
};

static int put_int(struct sub_opts *o, const char *key, const char *opt,
		   const char *arg, long min, long max)
{
	char *end;
	long v = strtol(arg, &end, 10);

	if (end == arg || *end || v < min || v > max) {
		d4ctl_err("sub", "--%s '%s' is not a number in %ld-%ld", opt,
			  arg, min, max);
		return -1;
	}
	json_object_set_new(o->body, key, json_integer(v));
	return 0;
}

static int read_sdp(struct sub_opts *o, const char *path)
{
	char buf[16384];
	size_t n;
	FILE *f = fopen(path, "r");

	if (!f) {
		d4ctl_err("sub", "--sdp '%s': %s", path, strerror(errno));
		return -1;
	}
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	if (n == sizeof(buf) - 1) {
		d4ctl_err("sub", "--sdp '%s': larger than 16 KiB", path);
		return -1;
	}
	buf[n] = '\0';
	json_object_set_new(o->body, "sdp", json_string(buf));
	return 0;
}

/* The "record" object, made at its first option. */
static json_t *record_obj(struct sub_opts *o)
{
	json_t *r = json_object_get(o->body, "record");

	if (!r) {
		r = json_object();
		json_object_set_new(o->body, "record", r);
	}
	return r;
}

static int put_seconds(struct sub_opts *o, const char *key, const char *opt,
		       const char *arg)
{
	char *end;
	double v = strtod(arg, &end);

	if (end == arg || *end || !(v >= 0) || v > 1e12) {
		d4ctl_err("sub", "--%s '%s' is not a number of seconds", opt,
			  arg);
		return -1;
	}
	json_object_set_new(record_obj(o), key, json_real(v));
	return 0;
}

static int on_opt(void *data, int opt, const char *arg)
{
	struct sub_opts *o = data;
	char err[256];
	unsigned int us;

	switch (opt) {
	case 's':
		o->nsrc++;
		json_object_set_new(o->body, "stream", json_string(arg));
		return 0;
	case 'S':
		o->nsrc++;
		return read_sdp(o, arg);
	case 'a':
		o->nsrc++;
		if (!strchr(arg, '.')) {
			d4ctl_err("sub", "--address '%s' is not ADDR[:PORT]",
				  arg);
			return -1;
		}
		json_object_set_new(o->body, "address", json_string(arg));
		return 0;
	case 'c':
		return put_int(o, "channels", "channels", arg, 1, 64);
	case 'e':
		if (strcmp(arg, "L24") && strcmp(arg, "L16")) {
			d4ctl_err("sub", "--encoding '%s': L24 or L16", arg);
			return -1;
		}
		json_object_set_new(o->body, "encoding", json_string(arg));
		return 0;
	case 'r':
		return put_int(o, "rate", "rate", arg, 44100, 96000);
	case 'p':
		return put_int(o, "ptime_us", "ptime", arg, 125, 4000);
	case 'P':
		return put_int(o, "payload_type", "payload-type", arg, 0, 127);
	case 'l':
		if (args_parse_latency(arg, 250, 100000, &us, err,
				       sizeof(err)) < 0) {
			d4ctl_err("sub", "--latency %s", err);
			return -1;
		}
		json_object_set_new(o->body, "latency_us", json_integer(us));
		return 0;
	case 't':
		if (strcmp(arg, "auto") && strcmp(arg, "ptp") &&
		    strcmp(arg, "arrival")) {
			d4ctl_err("sub", "--timing '%s': auto, ptp or arrival",
				  arg);
			return -1;
		}
		json_object_set_new(o->body, "timing", json_string(arg));
		return 0;
	case 'i':
		json_object_set_new(o->body, "interface", json_string(arg));
		return 0;
	case 'A':
		if (!strchr(arg, '.')) {
			d4ctl_err("sub", "--address2 '%s' is not ADDR[:PORT]",
				  arg);
			return -1;
		}
		json_object_set_new(o->body, "address2", json_string(arg));
		return 0;
	case 'I':
		json_object_set_new(o->body, "interface2", json_string(arg));
		return 0;
	case 'R':
		json_object_set_new(record_obj(o), "path", json_string(arg));
		return 0;
	case 'T':
		return put_seconds(o, "start", "record-start", arg);
	case 'D':
		return put_seconds(o, "duration", "record-duration", arg);
	case 'f':
	case 'F': {
		struct in_addr a;

		if (inet_pton(AF_INET, arg, &a) != 1) {
			d4ctl_err("sub",
				  "--source-filter%s '%s' is not an IPv4 "
				  "address",
				  opt == 'F' ? "2" : "", arg);
			return -1;
		}
		json_object_set_new(
		    o->body, opt == 'F' ? "source_filter2" : "source_filter",
		    json_string(arg));
		return 0;
	}
	}
	return -1;
}

/* The LEGS column: "A ok, B down", or "-" for one leg; the REC column:
 * its recording's file and state ("take.wav recording"), or "-". */
static void legs_column(json_t *sub)
{
	json_t *rec = json_array_get(json_object_get(sub, "recordings"), 0);
	char legs[64], text[160];

	plan_legs_text(sub, legs, sizeof(legs));
	json_object_set_new(sub, "legs_text",
			    json_string(legs[0] ? legs : "-"));
	if (rec) {
		const char *path =
		    json_string_value(json_object_get(rec, "path"));
		const char *base = path ? strrchr(path, '/') : NULL;

		snprintf(text, sizeof(text), "%s %s",
			 base	? base + 1
			 : path ? path
				: "?",
			 json_string_value(json_object_get(rec, "state"))
			     ?: "?");
	}
	json_object_set_new(sub, "rec_text", json_string(rec ? text : "-"));
}

static int sub_list(struct d4ctl *ctl, const char *nodename)
{
	static const char *const headers[] = {
	    "NAME",	"STREAM",     "ADDRESS", "ADDRESS2", "CHANNELS",
	    "ENCODING", "LATENCY_US", "STATE",	 "LEGS",     "RECEIVED",
	    "LOST",	"REC",	      NULL};
	static const char *const keys[] = {
	    "name",	 "stream",	   "address",	 "address2",
	    "channels",	 "encoding",	   "latency_us", "state",
	    "legs_text", "stats.received", "stats.lost", "rec_text",
	    NULL};

	return d4ctl_list_rows(ctl, nodename, "/subscriptions", headers, keys,
			       legs_column);
}

int cmd_sub(struct d4ctl *ctl, int argc, char *argv[])
{
	static const struct option extra[] = {
	    {"stream", required_argument, NULL, 's'},
	    {"sdp", required_argument, NULL, 'S'},
	    {"address", required_argument, NULL, 'a'},
	    {"channels", required_argument, NULL, 'c'},
	    {"encoding", required_argument, NULL, 'e'},
	    {"rate", required_argument, NULL, 'r'},
	    {"ptime", required_argument, NULL, 'p'},
	    {"payload-type", required_argument, NULL, 'P'},
	    {"latency", required_argument, NULL, 'l'},
	    {"timing", required_argument, NULL, 't'},
	    {"interface", required_argument, NULL, 'i'},
	    {"address2", required_argument, NULL, 'A'},
	    {"interface2", required_argument, NULL, 'I'},
	    {"source-filter", required_argument, NULL, 'f'},
	    {"source-filter2", required_argument, NULL, 'F'},
	    {"record", required_argument, NULL, 'R'},
	    {"record-start", required_argument, NULL, 'T'},
	    {"record-duration", required_argument, NULL, 'D'},
	    {NULL, 0, NULL, 0},
	};
	struct sub_opts o = {.body = json_object()};
	char nodename[ARGS_NAME_MAX], name[ARGS_NAME_MAX], err[256];
	char path[300], esc[200];
	struct d4ctl_node node;
	const char *verb;
	int first, rc, nargs;
	bool create;

	if (argc < 2 || argv[1][0] == '-') {
		rc = d4ctl_getopt(ctl, argc, argv, usage, NULL, NULL, NULL,
				  NULL, &first);
		json_decref(o.body);
		if (rc)
			return rc > 0 ? D4CTL_EXIT_OK : D4CTL_EXIT_USAGE;
		if (first < argc) {
			d4ctl_err("sub", "unknown '%s'\n%s", argv[first],
				  usage);
			return D4CTL_EXIT_USAGE;
		}
		return sub_list(ctl, NULL);
	}
	verb = argv[1];
	if (strcmp(verb, "list") && strcmp(verb, "create") &&
	    strcmp(verb, "delete")) {
		static const char *const verbs[] = {"list", "create", "delete",
						    NULL};
		const char *s = d4ctl_suggest(verb, verbs);

		if (s)
			d4ctl_err("sub", "unknown '%s'; did you mean '%s'?\n%s",
				  verb, s, usage);
		else
			d4ctl_err("sub",
				  "unknown '%s' (list, create or delete)\n%s",
				  verb, usage);
		json_decref(o.body);
		return D4CTL_EXIT_USAGE;
	}
	create = !strcmp(verb, "create");
	rc = d4ctl_getopt(ctl, argc - 1, argv + 1, usage, create ? extra : NULL,
			  create ? "" : NULL, on_opt, &o, &first);
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
			d4ctl_err("sub", "unexpected '%s'\n%s", argv[first + 1],
				  usage);
			return D4CTL_EXIT_USAGE;
		}
		return sub_list(ctl, nargs ? argv[first] : NULL);
	}
	rc = 0;
	if (nargs == 2) {
		snprintf(nodename, sizeof(nodename), "%s", argv[first]);
		snprintf(name, sizeof(name), "%s", argv[first + 1]);
	} else if (nargs == 1 && strchr(argv[first], '/')) {
		rc =
		    args_parse_node_sub(argv[first], nodename, sizeof(nodename),
					name, sizeof(name), err, sizeof(err));
	} else if (nargs == 1 && ctl->host) {
		nodename[0] = '\0';
		snprintf(name, sizeof(name), "%s", argv[first]);
	} else {
		snprintf(err, sizeof(err), "%s: expected NODE NAME", verb);
		rc = -EINVAL;
	}
	if (rc == 0 && create && o.nsrc != 1) {
		snprintf(err, sizeof(err),
			 "create: give exactly one of --stream, --sdp and "
			 "--address");
		rc = -EINVAL;
	}
	if (rc < 0) {
		d4ctl_err("sub", "%s\n%s", err, usage);
		json_decref(o.body);
		return D4CTL_EXIT_USAGE;
	}
	rc = d4ctl_node_find(ctl, nodename[0] ? nodename : NULL, &node);
	if (rc == 0 && create) {
		json_t *resp = NULL;

		json_object_set_new(o.body, "name", json_string(name));
		rc = d4ctl_http(ctl, &node, "POST", "/subscriptions", o.body,
				&resp);
		if (rc == 0 && ctl->json)
			d4ctl_print_json(resp);
		else if (rc == 0)
			printf("%s: created subscription %s\n", node.name,
			       name);
		json_decref(resp);
	} else if (rc == 0) {
		args_url_escape(name, esc, sizeof(esc));
		snprintf(path, sizeof(path), "/subscriptions/%s", esc);
		rc = d4ctl_http(ctl, &node, "DELETE", path, NULL, NULL);
		if (rc == 0)
			printf("%s: deleted subscription %s\n", node.name,
			       name);
	}
	json_decref(o.body);
	return d4ctl_exit_code(rc);
}
