/* d4ctl: global options, the subcommand table, and the helpers every
 * subcommand uses to find a node and talk to it (d4ctl.h). */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "controller-cli/args.h"
#include "controller-cli/browse.h"
#include "controller-cli/d4ctl.h"
#include "controller-cli/registry.h"
#include "controller-cli/table.h"

const struct d4ctl_cmd d4ctl_cmds[] = {
    {"list", cmd_list, "nodes on the network: address, channels, clock"},
    {"show", cmd_show, "one node's state"},
    {"channels", cmd_channels, "a node's TX and RX channels"},
    {"name", cmd_name, "rename a node or a TX or RX channel"},
    {"streams", cmd_streams, "AES67 streams a node has seen announced"},
    {"flow", cmd_flow, "list, create or delete flows (TX)"},
    {"sub", cmd_sub, "list, create or delete subscriptions (RX)"},
    {"latency", cmd_latency, "set a subscription's latency"},
    {"route", cmd_route, "route TX channels to RX channels"},
    {"unroute", cmd_unroute, "remove the route to RX channels"},
    {"routes", cmd_routes, "every route on the network"},
    {"exec", cmd_exec, "run D4 text on a node"},
    {"start", cmd_start, "start a D4 loop"},
    {"stop", cmd_start, "stop a D4 loop"},
    {"vars", cmd_vars, "a node's D4 variables"},
    {"programs", cmd_programs, "a node's D4 loops"},
    {"ptp", cmd_ptp, "PTP clock state of one node or all"},
    {"stats", cmd_stats, "packet counters of flows and subscriptions"},
    {"meters", cmd_meters, "live peak/RMS meters of a node's channels"},
    {NULL, NULL, NULL},
};

static const char usage[] =
    "usage: d4ctl [OPTIONS] COMMAND [ARGS]\n"
    "\n"
    "Options (before COMMAND):\n"
    "  --host ADDR:PORT  the node to talk to, instead of finding it by mDNS\n"
    "  --token TOKEN     bearer token for writes (else D4_TOKEN, else the\n"
    "                    config file)\n"
    "  --config FILE     config file (default ~/.config/d4ctl/config)\n"
    "  --json            print reads as JSON\n"
    "  --browse SECONDS  how long to browse mDNS (default 1.5)\n"
    "  --timeout SECONDS per HTTP request (default 10)\n"
    "  --registry URL    through an NMOS registry (IS-04 Query API, IS-05);\n"
    "                    'auto' finds one by DNS-SD (list, show, routes,\n"
    "                    route, unroute: docs/d4ctl.md)\n"
    "  -h, --help        this text; COMMAND --help for a command's\n"
    "  -V, --version\n"
    "\n"
    "Exit codes: 0 ok, 1 a node refused (HTTP error) or a route cannot be\n"
    "made, 2 usage error, 3 node not found or unreachable.\n"
    "\n"
    "Commands:\n";

static void print_usage(FILE *out)
{
	fputs(usage, out);
	for (const struct d4ctl_cmd *c = d4ctl_cmds; c->name; c++)
		fprintf(out, "  %-10s %s\n", c->name, c->summary);
}

void d4ctl_err(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "d4ctl: %s%s", cmd ? cmd : "", cmd ? ": " : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int d4ctl_exit_code(int rc)
{
	if (rc >= 0)
		return D4CTL_EXIT_OK;
	if (rc == -EINVAL)
		return D4CTL_EXIT_USAGE;
	if (rc == -ENOENT || rc == -EHOSTUNREACH)
		return D4CTL_EXIT_NOTFOUND;
	return D4CTL_EXIT_NODE;
}

int d4ctl_getopt(struct d4ctl *ctl, int argc, char *argv[], const char *text,
		 const struct option *extra, const char *extra_short,
		 int (*on_opt)(void *data, int opt, const char *arg),
		 void *data, int *first)
{
	struct option opts[16] = {
	    {"help", no_argument, NULL, 'h'},
	    {"json", no_argument, NULL, 'j'},
	};
	char shorts[32];
	unsigned int n = 2;
	int c;

	for (; extra && extra[n - 2].name && n < 15; n++)
		opts[n] = extra[n - 2];
	snprintf(shorts, sizeof(shorts), "h%s", extra_short ? extra_short : "");
	optind = 0; /* 0, not 1: GNU getopt re-reads the option string */
	opterr = 0;
	while ((c = getopt_long(argc, argv, shorts, opts, NULL)) != -1) {
		if (c == 'h') {
			fputs(text, stdout);
			return 1;
		}
		if (c == 'j') {
			ctl->json = true;
			continue;
		}
		if (c == '?' || c == ':') {
			const char *bad = argv[optind - 1];

			d4ctl_err(argv[0], "%s '%s'\n%s",
				  c == ':' ? "missing value for"
					   : "unknown option",
				  bad, text);
			return -EINVAL;
		}
		if (!on_opt || on_opt(data, c, optarg) < 0)
			return -EINVAL;
	}
	*first = optind;
	return 0;
}

const char *d4ctl_token(const struct d4ctl *ctl, const struct d4ctl_node *node)
{
	const struct d4ctl_config_node *cn;

	if (ctl->token)
		return ctl->token;
	cn = d4ctl_config_node(&ctl->cfg, node->name);
	if (cn && cn->token[0])
		return cn->token;
	return ctl->cfg.token[0] ? ctl->cfg.token : NULL;
}

static int node_from_addr(const char *name, const char *addr,
			  struct d4ctl_node *node)
{
	const char *colon = strrchr(addr, ':');
	char host[48];

	if (!args_is_addr_port(addr))
		return -EINVAL;
	snprintf(host, sizeof(host), "%.*s", (int)(colon - addr), addr);
	browse_node_set(node, name, host, (unsigned)atoi(colon + 1));
	return 0;
}

int d4ctl_node_find(struct d4ctl *ctl, const char *spec,
		    struct d4ctl_node *node)
{
	const struct d4ctl_config_node *cn;
	struct d4ctl_node *found = NULL;
	char err[256];
	int n;

	if (ctl->host && (!spec || !ctl->multi)) {
		if (node_from_addr(spec ? spec : ctl->host, ctl->host, node) <
		    0) {
			d4ctl_err(NULL, "--host '%s' is not ADDR:PORT",
				  ctl->host);
			return -EINVAL;
		}
		return 0;
	}
	if (!spec) {
		d4ctl_err(NULL, "no node given (a NODE, or --host ADDR:PORT)");
		return -EINVAL;
	}
	if (strchr(spec, ':')) {
		if (node_from_addr(spec, spec, node) < 0) {
			d4ctl_err(NULL, "'%s' is not ADDR:PORT", spec);
			return -EINVAL;
		}
		return 0;
	}
	cn = d4ctl_config_node(&ctl->cfg, spec);
	if (cn && cn->host[0])
		return node_from_addr(spec, cn->host, node);
	n = browse_nodes(ctl->browse_s, spec, &found, err, sizeof(err));
	if (n < 0) {
		d4ctl_err(NULL, "%s; give the node as ADDR:PORT or --host",
			  err);
		return n;
	}
	for (int i = 0; i < n; i++) {
		if (!strcmp(found[i].name, spec)) {
			*node = found[i];
			free(found);
			return 0;
		}
	}
	free(found);
	d4ctl_err(NULL,
		  "no node '%s' found by mDNS in %.1f s (d4ctl list shows "
		  "the nodes; or give ADDR:PORT)",
		  spec, ctl->browse_s);
	return -ENOENT;
}

static int add_unique(struct d4ctl_node **nodes, int n,
		      const struct d4ctl_node *node)
{
	struct d4ctl_node *p;

	for (int i = 0; i < n; i++)
		if (!strcmp((*nodes)[i].addr, node->addr))
			return n;
	p = realloc(*nodes, (size_t)(n + 1) * sizeof(*p));
	if (!p)
		return -ENOMEM;
	p[n] = *node;
	*nodes = p;
	return n + 1;
}

int d4ctl_node_all(struct d4ctl *ctl, struct d4ctl_node **nodes)
{
	struct d4ctl_node node;
	char err[256];
	int n, browse_rc;

	browse_rc = browse_nodes(ctl->browse_s, NULL, nodes, err, sizeof(err));
	n = browse_rc < 0 ? 0 : browse_rc;
	for (unsigned int i = 0; i < ctl->cfg.nnodes && n >= 0; i++) {
		const struct d4ctl_config_node *cn = &ctl->cfg.nodes[i];

		if (cn->host[0] &&
		    node_from_addr(cn->name, cn->host, &node) == 0)
			n = add_unique(nodes, n, &node);
	}
	if (ctl->host && n >= 0) {
		if (node_from_addr(ctl->host, ctl->host, &node) < 0) {
			d4ctl_err(NULL, "--host '%s' is not ADDR:PORT",
				  ctl->host);
			free(*nodes);
			*nodes = NULL;
			return -EINVAL;
		}
		n = add_unique(nodes, n, &node);
	}
	if (browse_rc < 0 && n == 0) {
		d4ctl_err(NULL, "%s; give nodes by --host or in the config",
			  err);
		free(*nodes);
		*nodes = NULL;
		return browse_rc;
	}
	return n;
}

void d4ctl_print_json(const json_t *v)
{
	char *s = json_dumps(v, JSON_INDENT(2) | JSON_ENCODE_ANY |
				    JSON_REAL_PRECISION(12));

	if (s) {
		puts(s);
		free(s);
	}
}

const char *d4ctl_jstr(const json_t *obj, const char *key, char *buf,
		       size_t len)
{
	const json_t *v = json_object_get(obj, key);

	if (json_is_string(v))
		snprintf(buf, len, "%s", json_string_value(v));
	else if (json_is_integer(v))
		snprintf(buf, len, "%" JSON_INTEGER_FORMAT,
			 json_integer_value(v));
	else if (json_is_real(v))
		snprintf(buf, len, "%g", json_real_value(v));
	else if (json_is_boolean(v))
		snprintf(buf, len, "%s", json_is_true(v) ? "yes" : "no");
	else if (v && !json_is_null(v)) {
		char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);

		snprintf(buf, len, "%s", s ? s : "?");
		free(s);
	} else
		snprintf(buf, len, "-");
	return buf;
}

int d4ctl_get(struct d4ctl *ctl, const char *spec, const char *path,
	      struct d4ctl_node *node, json_t **out)
{
	int rc = d4ctl_node_find(ctl, spec, node);

	if (rc < 0)
		return rc;
	rc = d4ctl_http(ctl, node, "GET", path, NULL, out);
	if (rc == 0 && ctl->json)
		d4ctl_print_json(*out);
	return rc;
}

static int load_config(struct d4ctl *ctl, const char *path)
{
	char def[512], err[512];
	int rc;

	if (!path) {
		if (d4ctl_config_path(def, sizeof(def)) < 0)
			return 0;
		path = def;
	}
	rc = d4ctl_config_load(path, &ctl->cfg, err, sizeof(err));
	if (rc < 0)
		d4ctl_err(NULL, "config %s", err);
	return rc;
}

int d4ctl_main(int argc, char *argv[])
{
	static const struct option opts[] = {
	    {"host", required_argument, NULL, 'H'},
	    {"token", required_argument, NULL, 't'},
	    {"config", required_argument, NULL, 'c'},
	    {"json", no_argument, NULL, 'j'},
	    {"browse", required_argument, NULL, 'b'},
	    {"timeout", required_argument, NULL, 'T'},
	    {"registry", required_argument, NULL, 'R'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	struct d4ctl ctl = {.browse_s = 1.5, .timeout_ms = 10000};
	const char *config = NULL, *cmd;
	char *end;
	double v;
	int c, rc;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "+hV", opts, NULL)) != -1) {
		switch (c) {
		case 'H':
			if (!args_is_addr_port(optarg)) {
				d4ctl_err(NULL,
					  "--host '%s' is not ADDR:PORT (e.g. "
					  "10.77.0.1:8080)",
					  optarg);
				return D4CTL_EXIT_USAGE;
			}
			ctl.host = optarg;
			break;
		case 't':
			ctl.token = optarg;
			break;
		case 'R':
			ctl.registry = optarg;
			break;
		case 'c':
			config = optarg;
			break;
		case 'j':
			ctl.json = true;
			break;
		case 'b':
		case 'T':
			v = strtod(optarg, &end);
			if (end == optarg || *end || !(v > 0 && v <= 3600)) {
				d4ctl_err(NULL,
					  "--%s '%s' is not a number of "
					  "seconds (0-3600]",
					  c == 'b' ? "browse" : "timeout",
					  optarg);
				return D4CTL_EXIT_USAGE;
			}
			if (c == 'b')
				ctl.browse_s = v;
			else
				ctl.timeout_ms = (long)(v * 1000);
			break;
		case 'h':
			print_usage(stdout);
			return D4CTL_EXIT_OK;
		case 'V':
			printf("d4ctl %s\n", D4_VERSION);
			return D4CTL_EXIT_OK;
		default:
			d4ctl_err(NULL, "unknown option '%s' (d4ctl --help)",
				  argv[optind - 1]);
			return D4CTL_EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		print_usage(stderr);
		return D4CTL_EXIT_USAGE;
	}
	cmd = argv[optind];
	if (!ctl.token && getenv("D4_TOKEN") && getenv("D4_TOKEN")[0])
		ctl.token = getenv("D4_TOKEN");
	if (load_config(&ctl, config) < 0)
		return D4CTL_EXIT_USAGE;
	if (ctl.registry) {
		curl_global_init(CURL_GLOBAL_DEFAULT);
		rc = registry_main(&ctl, argc - optind, argv + optind);
		curl_global_cleanup();
		return rc;
	}
	for (const struct d4ctl_cmd *k = d4ctl_cmds; k->name; k++) {
		if (strcmp(k->name, cmd))
			continue;
		curl_global_init(CURL_GLOBAL_DEFAULT);
		rc = k->fn(&ctl, argc - optind, argv + optind);
		curl_global_cleanup();
		return rc;
	}
	d4ctl_err(NULL, "unknown command '%s' (d4ctl --help lists them)", cmd);
	return D4CTL_EXIT_USAGE;
}

/* "clock.state" -> obj["clock"]["state"] (one level of nesting). */
static const json_t *jpath(const json_t *obj, const char *key, char *last,
			   size_t len)
{
	const char *dot = strchr(key, '.');

	if (!dot) {
		snprintf(last, len, "%s", key);
		return obj;
	}
	snprintf(last, len, "%.*s", (int)(dot - key), key);
	obj = json_object_get(obj, last);
	snprintf(last, len, "%s", dot + 1);
	return obj;
}

int d4ctl_table(const json_t *arr, const char *const *headers,
		const char *const *keys)
{
	struct table *t = table_new(headers);
	const json_t *e;
	size_t i;
	int rc = 0;

	if (!t)
		return -ENOMEM;
	json_array_foreach(arr, i, e)
	{
		char cells[16][256], key[64];
		const char *row[16];
		unsigned int k;

		for (k = 0; keys[k] && k < 16; k++) {
			const json_t *o = jpath(e, keys[k], key, sizeof(key));

			row[k] = d4ctl_jstr(o, key, cells[k], sizeof(cells[k]));
		}
		rc = table_add(t, row);
		if (rc < 0)
			break;
	}
	if (rc == 0)
		table_print(t, stdout);
	table_destroy(t);
	return rc;
}
