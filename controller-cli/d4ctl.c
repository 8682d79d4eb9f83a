/* d4ctl: global options, the subcommand table, and the helpers every
 * subcommand uses to find a node and talk to it (d4ctl.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#endif

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
    {"unload", cmd_start, "remove a D4 loop loaded through the API"},
    {"vars", cmd_vars, "a node's D4 variables"},
    {"programs", cmd_programs, "a node's D4 loops"},
    {"ptp", cmd_ptp, "PTP clock state of one node or all"},
    {"stats", cmd_stats, "packet counters of flows and subscriptions"},
    {"meters", cmd_meters, "live peak/RMS meters of a node's channels"},
    {"check", cmd_check, "the Dante/AES67/ST 2110 rules a stream breaks"},
    {"preset", cmd_preset, "save the network's routing to a file, apply it"},
    {"ui", cmd_ui, "serve the browser controller (routing matrix...)"},
    {"login", cmd_login, "pair with a node: its token, by a code in its log"},
    {"token", cmd_token, "rotate a node's token"},
    {"help", cmd_help, "this list, or one command's help"},
    {NULL, NULL, NULL},
};

static const char usage[] =
    "usage: d4ctl [OPTIONS] COMMAND [ARGS]\n"
    "\n"
    "Options (before COMMAND):\n"
    "  --host ADDR[:PORT] the node to talk to, instead of finding it by\n"
    "                    mDNS (port 8080, the node's default, if left out)\n"
    "  --token TOKEN     bearer token for writes (else D4_TOKEN, else the\n"
    "                    config file)\n"
    "  --config FILE     config file (default ~/.config/d4ctl/config)\n"
    "  --json            print reads as JSON\n"
    "  --browse SECONDS  how long to browse mDNS (default 1.5)\n"
    "  --timeout SECONDS per HTTP request (default 10)\n"
    "  --registry URL    through an NMOS registry (IS-04 Query API, IS-05);\n"
    "                    'auto' finds one by DNS-SD (list, show, routes,\n"
    "                    route, unroute: docs/d4ctl.md)\n"
    "  -h, --help        this text; d4ctl help COMMAND for a command's\n"
    "  -V, --version\n"
    "\n"
    "Exit codes: 0 ok, 1 a node refused (HTTP error) or a route cannot be\n"
    "made, 2 usage error, 3 node not found or unreachable, 4 check found\n"
    "a broken rule.\n"
    "Tokens: d4ctl login NODE (a code from the node's log), once per node.\n"
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
	struct option opts[32] = {
	    {"help", no_argument, NULL, 'h'},
	    {"json", no_argument, NULL, 'j'},
	};
	char shorts[32];
	unsigned int n = 2;
	int c;

	/* (sub create has 15: one more past the table was "unknown") */
	for (; extra && extra[n - 2].name && n < 31; n++)
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
			const char *bad = argv[optind - 1], *names[32],
				   *s = NULL, *p;
			char word[64], letter[3] = {'-', (char)optopt, 0};
			char in[160] = "";
			const char *what;
			unsigned int k;

			/* getopt says '?' for a known option without its
			 * value too: "--record" last, "-x" of "x:" */
			if (!strncmp(bad, "--", 2) && !strchr(bad, '='))
				for (k = 0; k < n; k++)
					if (!strcmp(bad + 2, opts[k].name) &&
					    opts[k].has_arg ==
						required_argument)
						c = ':';
			if (strncmp(bad, "--", 2) && optopt > 0 &&
			    optopt < 128 && optopt != ':' &&
			    (p = strchr(shorts, optopt)) && p[1] == ':')
				c = ':';

			what =
			    c == ':' ? "missing value for" : "unknown option";
			/* A short option's letter: getopt stops inside a
			 * word ("-bad", "-5@mixer") without moving optind
			 * past it, so the word is this one or the next. */
			if (optopt > 0 && optopt < 128 &&
			    strncmp(bad, "--", 2)) {
				const char *w = bad;

				if (w[0] != '-' || !strchr(w + 1, optopt))
					w = optind < argc ? argv[optind] : w;
				if (c == '?' && w[0] == '-' &&
				    strcmp(w, letter))
					snprintf(in, sizeof(in),
						 " in '%.64s' (a name or value "
						 "that begins with '-' goes "
						 "after '--')",
						 w);
				bad = letter;
			} else if (c == '?' && !strncmp(bad, "--", 2)) {
				/* "--jsno" -> "did you mean '--json'?" */
				snprintf(word, sizeof(word), "%.*s",
					 (int)strcspn(bad + 2, "="), bad + 2);
				for (k = 0; k < n; k++)
					names[k] = opts[k].name;
				names[k] = NULL;
				s = d4ctl_suggest(word, names);
				if (s)
					snprintf(in, sizeof(in),
						 "; did you mean '--%s'?", s);
			}
			d4ctl_err(argv[0], "%s '%s'%s\n%s", what, bad, in,
				  text);
			return -EINVAL;
		}
		if (!on_opt || on_opt(data, c, optarg) < 0)
			return -EINVAL;
	}
	*first = optind;
	return 0;
}

void d4ctl_errf(const struct d4ctl *ctl, const char *fmt, ...)
{
	FILE *f = ctl && ctl->errs ? ctl->errs : stderr;
	va_list ap;

	fputs("d4ctl: ", f);
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	fputc('\n', f);
}

FILE *d4ctl_out(const struct d4ctl *ctl)
{
	return ctl && ctl->out ? ctl->out : stdout;
}

const char *d4ctl_node_uuid(struct d4ctl *ctl, const struct d4ctl_node *node)
{
	struct d4ctl_node api = *node;
	char err[256];
	const char *u;
	json_t *v = NULL;
	unsigned int i;

	for (i = 0; i < ctl->nuuids; i++)
		if (!strcmp(ctl->uuids[i].addr, node->addr))
			return ctl->uuids[i].uuid[0] ? ctl->uuids[i].uuid
						     : NULL;
	if (ctl->nuuids == ARRAY_SIZE(ctl->uuids))
		return NULL;
	/* a node that does not tell is asked once (a 401's message asks
	 * for the token's source again), at its d4 API: a node reached
	 * through an NMOS registry has its IS-05 API as its base, on the
	 * same listener. Quietly: another maker's NMOS device has no d4 API,
	 * and the write that wanted the uuid says what went wrong. */
	snprintf(api.base, sizeof(api.base), "http://%s/api/v1", node->addr);
	u = d4ctl_http_with(ctl, NULL, &api, "GET", "/node", NULL, &v, err,
			    sizeof(err)) < 0
		? NULL
		: json_string_value(json_object_get(v, "uuid"));
	i = ctl->nuuids++;
	snprintf(ctl->uuids[i].addr, sizeof(ctl->uuids[i].addr), "%s",
		 node->addr);
	snprintf(ctl->uuids[i].uuid, sizeof(ctl->uuids[i].uuid), "%s",
		 u ? u : "");
	json_decref(v);
	return ctl->uuids[i].uuid[0] ? ctl->uuids[i].uuid : NULL;
}

/* d4ctl_token(), and the config section the token is from (*section,
 * NULL when it is not a section's). */
static const char *token_find(struct d4ctl *ctl, const struct d4ctl_node *node,
			      bool write, enum d4ctl_token_from *from,
			      const struct d4ctl_config_node **section)
{
	const struct d4ctl_config_node *cn = NULL;
	const char *uuid;

	*section = NULL;
	if (ctl->token) {
		*from = ctl->token_from;
		return ctl->token;
	}
	/* Reads are open unless a node says otherwise: no GET /node
	 * before every read; a write asks for the uuid once. */
	if (write && d4ctl_config_has_uuids(&ctl->cfg)) {
		uuid = d4ctl_node_uuid(ctl, node);
		if (uuid)
			cn = d4ctl_config_find(&ctl->cfg, uuid, NULL);
	}
	if (!cn)
		cn = d4ctl_config_find(&ctl->cfg, NULL, node->name);
	/* A uuid and a name are public (GET /node, mDNS): a server that
	 * claims a node's would be sent its token (an attacker's). A token
	 * d4ctl login saved goes to the address it paired at, or the
	 * section's host, only. */
	if (cn && cn->token[0] && (cn->paired_at[0] || cn->host[0]) &&
	    strcasecmp(cn->paired_at, node->addr) &&
	    strcasecmp(cn->host, node->addr)) {
		*from = D4CTL_TOKEN_ELSEWHERE;
		*section = cn;
		return NULL;
	}
	if (cn && cn->token[0]) {
		*from = D4CTL_TOKEN_CONFIG_NODE;
		*section = cn;
		return cn->token;
	}
	*from = ctl->cfg.token[0] ? D4CTL_TOKEN_CONFIG : D4CTL_TOKEN_NONE;
	return ctl->cfg.token[0] ? ctl->cfg.token : NULL;
}

const char *d4ctl_token(struct d4ctl *ctl, const struct d4ctl_node *node,
			bool write, enum d4ctl_token_from *from)
{
	const struct d4ctl_config_node *cn;
	enum d4ctl_token_from dummy;

	return token_find(ctl, node, write, from ? from : &dummy, &cn);
}

const char *d4ctl_token_source(struct d4ctl *ctl, const struct d4ctl_node *node,
			       bool write, char *buf, size_t len)
{
	const char *path =
	    ctl->config_read ? ctl->config_path : "(no config file)";
	const struct d4ctl_config_node *cn;
	enum d4ctl_token_from from;

	token_find(ctl, node, write, &from, &cn);
	switch (from) {
	case D4CTL_TOKEN_FLAG:
		snprintf(buf, len, "--token");
		break;
	case D4CTL_TOKEN_ENV:
		snprintf(buf, len, "D4_TOKEN");
		break;
	case D4CTL_TOKEN_CONFIG_NODE:
		/* a section found by uuid may carry the node's old name */
		snprintf(buf, len, "the config file %s, [node %s]%s%s%s", path,
			 cn->name, cn->uuid[0] ? " (uuid " : "", cn->uuid,
			 cn->uuid[0] ? ")" : "");
		break;
	case D4CTL_TOKEN_ELSEWHERE:
		snprintf(buf, len,
			 "not sent: the config file %s's [node %s] token was "
			 "paired at %s, and %s answers at %s (a node's uuid "
			 "and name can be claimed by any server); if the node "
			 "moved, `d4ctl login` at its new address pairs anew",
			 path, cn->name,
			 cn->paired_at[0] ? cn->paired_at : cn->host,
			 node->name, node->addr);
		break;
	case D4CTL_TOKEN_CONFIG:
		snprintf(buf, len,
			 "the config file %s, its top-level token (no "
			 "[node %s] token)",
			 path, node->name);
		break;
	default:
		if (ctl->config_read)
			snprintf(buf, len,
				 "no token: not --token, not D4_TOKEN, and no "
				 "[node %s] (by its uuid or name) or top-level "
				 "token in %s",
				 node->name, path);
		else
			snprintf(buf, len,
				 "no token: not --token, not D4_TOKEN, and no "
				 "config file (%s)",
				 ctl->config_path[0] ? ctl->config_path
						     : "no HOME");
	}
	return buf;
}

int d4ctl_remember_node(struct d4ctl *ctl, const struct d4ctl_node *node,
			char *err, size_t err_len)
{
	const struct d4ctl_config_node *cn;
	enum d4ctl_token_from from;
	const char *uuid;
	char path[4096];
	int rc;

	if (!token_find(ctl, node, true, &from, &cn) ||
	    from != D4CTL_TOKEN_CONFIG_NODE || !cn || cn->uuid[0])
		return 0;
	uuid = d4ctl_node_uuid(ctl, node);
	if (!uuid || d4ctl_config_file(ctl, path, sizeof(path)) < 0)
		return 0;
	/* the section keeps its label, token, host and paired_at */
	rc = d4ctl_config_store(path, uuid, cn->name, NULL, NULL, cn->token,
				err, err_len);
	return rc < 0 ? rc : 1;
}

int d4ctl_config_file(const struct d4ctl *ctl, char *buf, size_t len)
{
	if (ctl->config_path[0]) {
		snprintf(buf, len, "%s", ctl->config_path);
		return 0;
	}
	return d4ctl_config_path(buf, len);
}

/* Optimal string alignment distance (Damerau-Levenshtein without
 * repeated edits of one substring): "lsit" is 1 from "list". */
static unsigned int edits(const char *a, const char *b)
{
	unsigned int d[32][32], i, j, la = (unsigned int)strlen(a),
				      lb = (unsigned int)strlen(b);

	if (la > 30 || lb > 30)
		return 99;
	for (i = 0; i <= la; i++)
		d[i][0] = i;
	for (j = 0; j <= lb; j++)
		d[0][j] = j;
	for (i = 1; i <= la; i++) {
		for (j = 1; j <= lb; j++) {
			unsigned int cost = a[i - 1] != b[j - 1], v;

			v = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < v)
				v = d[i][j - 1] + 1;
			if (d[i - 1][j - 1] + cost < v)
				v = d[i - 1][j - 1] + cost;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] &&
			    a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < v)
				v = d[i - 2][j - 2] + 1;
			d[i][j] = v;
		}
	}
	return d[la][lb];
}

const char *d4ctl_suggest(const char *word, const char *const *names)
{
	const char *best = NULL, *prefix = NULL;
	unsigned int best_d = 3, nprefix = 0, d;
	size_t wl = strlen(word);

	for (; *names; names++) {
		if (wl >= 2 && !strncmp(*names, word, wl)) {
			prefix = *names;
			nprefix++;
		}
		d = edits(word, *names);
		/* one edit in a 2-letter word is half of it: not a typo */
		if (d < best_d && d < wl && (d == 1 || wl > 3)) {
			best = *names;
			best_d = d;
		}
	}
	if (best)
		return best;
	return nprefix == 1 ? prefix : NULL;
}

static const char *const *cmd_names(void)
{
	static const char *names[ARRAY_SIZE(d4ctl_cmds)];
	unsigned int i;

	for (i = 0; d4ctl_cmds[i].name; i++)
		names[i] = d4ctl_cmds[i].name;
	names[i] = NULL;
	return names;
}

static void unknown_command(const char *cmd)
{
	const char *s = d4ctl_suggest(cmd, cmd_names());

	if (s)
		d4ctl_err(NULL,
			  "unknown command '%s'; did you mean '%s'? (d4ctl "
			  "help lists them)",
			  cmd, s);
	else
		d4ctl_err(NULL, "unknown command '%s' (d4ctl help lists them)",
			  cmd);
}

static const struct d4ctl_cmd *cmd_lookup(const char *name)
{
	for (const struct d4ctl_cmd *k = d4ctl_cmds; k->name; k++)
		if (!strcmp(k->name, name))
			return k;
	return NULL;
}

int cmd_help(struct d4ctl *ctl, int argc, char *argv[])
{
	static const char usage_help[] =
	    "usage: d4ctl help [COMMAND]\n"
	    "\n"
	    "Without COMMAND: the options and commands. With one: what it\n"
	    "does, its operands and options (the same as COMMAND --help).\n"
	    "  --commands   the command names, one a line (for completion)\n";
	const struct d4ctl_cmd *k;
	char *args[3];

	if (argc >= 2 && !strcmp(argv[1], "--commands")) {
		for (k = d4ctl_cmds; k->name; k++)
			puts(k->name);
		return D4CTL_EXIT_OK;
	}
	if (argc >= 2 &&
	    (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		fputs(usage_help, stdout);
		return D4CTL_EXIT_OK;
	}
	if (argc > 2) {
		d4ctl_err("help", "one COMMAND at most\n%s", usage_help);
		return D4CTL_EXIT_USAGE;
	}
	if (argc < 2) {
		print_usage(stdout);
		return D4CTL_EXIT_OK;
	}
	k = cmd_lookup(argv[1]);
	if (!k || k->fn == cmd_help) {
		if (k) {
			fputs(usage_help, stdout);
			return D4CTL_EXIT_OK;
		}
		unknown_command(argv[1]);
		return D4CTL_EXIT_USAGE;
	}
	args[0] = argv[1];
	args[1] = (char *)"--help";
	args[2] = NULL;
	return k->fn(ctl, 2, args);
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

/* --host and a NODE operand both given to a one-node command: they must
 * be one node (d4ctl --host A name B X must not rename A). 0, -EINVAL
 * (they differ), or the error of asking --host its name. */
static int host_agrees(struct d4ctl *ctl, const char *spec,
		       struct d4ctl_node *node)
{
	const struct d4ctl_config_node *cn;
	json_t *v = NULL;
	const char *name;
	int rc;

	if (strchr(spec, ':')) {
		if (strcmp(spec, ctl->host)) {
			d4ctl_errf(ctl,
				   "--host %s and NODE %s are different "
				   "nodes: give one of them",
				   ctl->host, spec);
			return -EINVAL;
		}
		return 0;
	}
	cn = d4ctl_config_node(&ctl->cfg, spec);
	if (cn && cn->host[0] && strcmp(cn->host, ctl->host)) {
		d4ctl_errf(ctl,
			   "--host %s is not '%s' (the config file puts it "
			   "at %s): give one of them",
			   ctl->host, spec, cn->host);
		return -EINVAL;
	}
	rc = d4ctl_http(ctl, node, "GET", "/node", NULL, &v);
	if (rc < 0)
		return rc;
	name = json_string_value(json_object_get(v, "name"));
	if (!name || strcmp(name, spec)) {
		d4ctl_errf(ctl,
			   "--host %s is node '%s', not '%s': give one of "
			   "them",
			   ctl->host, name ? name : "?", spec);
		json_decref(v);
		return -EINVAL;
	}
	json_decref(v);
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
			d4ctl_errf(ctl, "--host '%s' is not ADDR:PORT",
				   ctl->host);
			return -EINVAL;
		}
		return spec ? host_agrees(ctl, spec, node) : 0;
	}
	if (!spec) {
		d4ctl_errf(ctl, "no node given (a NODE, or --host ADDR:PORT)");
		return -EINVAL;
	}
	if (strchr(spec, ':')) {
		if (node_from_addr(spec, spec, node) < 0) {
			d4ctl_errf(ctl, "'%s' is not ADDR:PORT", spec);
			return -EINVAL;
		}
		return 0;
	}
	cn = d4ctl_config_node(&ctl->cfg, spec);
	if (cn && cn->host[0])
		return node_from_addr(spec, cn->host, node);
	n = browse_nodes(ctl->browse_s, spec, &found, err, sizeof(err));
	if (n < 0) {
		d4ctl_errf(ctl, "%s; give the node as ADDR:PORT or --host",
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
	d4ctl_errf(ctl,
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
			d4ctl_errf(ctl, "--host '%s' is not ADDR:PORT",
				   ctl->host);
			free(*nodes);
			*nodes = NULL;
			return -EINVAL;
		}
		n = add_unique(nodes, n, &node);
	}
	if (browse_rc < 0 && n == 0) {
		d4ctl_errf(ctl, "%s; give nodes by --host or in the config",
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

/* A non-empty list of whole numbers as ranges ("1-2,5"): true, else false
 * and @buf untouched. */
static bool int_list_ranges(const json_t *v, char *buf, size_t len)
{
	size_t i, n = json_array_size(v), off = 0;

	if (!json_is_array(v) || !n)
		return false;
	for (i = 0; i < n; i++)
		if (!json_is_integer(json_array_get(v, i)))
			return false;
	buf[0] = '\0';
	for (i = 0; i < n && off < len;) {
		json_int_t a = json_integer_value(json_array_get(v, i)), b = a;
		size_t k = i + 1;

		/* (b + 1 overflowed at json_int_t's largest: a hostile
		 * node's answer) */
		while (k < n && b < LLONG_MAX &&
		       json_integer_value(json_array_get(v, k)) == b + 1) {
			b++;
			k++;
		}
		off += (size_t)(b > a ? snprintf(buf + off, len - off,
						 "%s%" JSON_INTEGER_FORMAT
						 "-%" JSON_INTEGER_FORMAT,
						 i ? "," : "", a, b)
				      : snprintf(buf + off, len - off,
						 "%s%" JSON_INTEGER_FORMAT,
						 i ? "," : "", a));
		i = k;
	}
	return true;
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
	else if (int_list_ranges(v, buf, len))
		; /* channels: "1-2", "1,3-4", as d4ctl takes them */
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
	snprintf(ctl->config_path, sizeof(ctl->config_path), "%s", path);
	rc = d4ctl_config_load(path, &ctl->cfg, err, sizeof(err));
	ctl->config_read = rc == 0 && access(path, F_OK) == 0;
	if (rc < 0)
		d4ctl_err(NULL, "config %s", err);
	return rc;
}

/* "--hots" -> "did you mean '--host'?" */
static void unknown_option(const char *arg, const struct option *opts)
{
	const char *names[16], *s = NULL;
	char word[64];
	unsigned int n = 0;

	if (!strncmp(arg, "--", 2)) {
		snprintf(word, sizeof(word), "%.*s", (int)strcspn(arg + 2, "="),
			 arg + 2);
		for (; opts[n].name && n < ARRAY_SIZE(names) - 1; n++)
			names[n] = opts[n].name;
		names[n] = NULL;
		s = d4ctl_suggest(word, names);
	}
	if (s)
		d4ctl_err(NULL,
			  "unknown option '%s'; did you mean '--%s'? "
			  "(d4ctl help)",
			  arg, s);
	else
		d4ctl_err(NULL, "unknown option '%s' (d4ctl help)", arg);
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
	const struct d4ctl_cmd *k;
	static char host[INET_ADDRSTRLEN + 8];
	char *end;
	double v;
	int c, rc;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "+hV", opts, NULL)) != -1) {
		switch (c) {
		case 'H':
			/* an address alone is the node's default API port,
			 * as Dante Controller users type an address */
			if (!args_host(optarg, host, sizeof(host))) {
				d4ctl_err(NULL,
					  "--host '%s' is not ADDR[:PORT] "
					  "(e.g. 10.77.0.1 or "
					  "10.77.0.1:8080)",
					  optarg);
				return D4CTL_EXIT_USAGE;
			}
			ctl.host = host;
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
			unknown_option(argv[optind - 1], opts);
			return D4CTL_EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		print_usage(stderr);
		return D4CTL_EXIT_USAGE;
	}
	cmd = argv[optind];
	if (ctl.token) {
		ctl.token_from = D4CTL_TOKEN_FLAG;
	} else if (getenv("D4_TOKEN") && getenv("D4_TOKEN")[0]) {
		ctl.token = getenv("D4_TOKEN");
		ctl.token_from = D4CTL_TOKEN_ENV;
	}
	if (load_config(&ctl, config) < 0)
		return D4CTL_EXIT_USAGE;
	/* help is d4ctl's own, with or without a registry */
	if (ctl.registry && strcmp(cmd, "help")) {
		curl_global_init(CURL_GLOBAL_DEFAULT);
		rc = registry_main(&ctl, argc - optind, argv + optind);
		curl_global_cleanup();
		return rc;
	}
	k = cmd_lookup(cmd);
	if (!k) {
		unknown_command(cmd);
		return D4CTL_EXIT_USAGE;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = k->fn(&ctl, argc - optind, argv + optind);
	curl_global_cleanup();
	return rc;
}

int d4ctl_list(struct d4ctl *ctl, const char *spec, const char *path,
	       const char *const *headers, const char *const *keys)
{
	return d4ctl_list_rows(ctl, spec, path, headers, keys, NULL);
}

int d4ctl_list_rows(struct d4ctl *ctl, const char *spec, const char *path,
		    const char *const *headers, const char *const *keys,
		    void (*row)(json_t *sub))
{
	const char *h[18] = {"NODE"}, *k[18] = {"node"};
	struct d4ctl_node node, *nodes = NULL;
	json_t *v = NULL, *all, *e;
	int n, i, rc = 0, failed = 0;
	unsigned int c;
	size_t j;

	if (spec || ctl->host) {
		rc = d4ctl_get(ctl, spec, path, &node, &v);
		if (rc == 0 && !ctl->json) {
			json_array_foreach(v, j, e)
			{
				if (row)
					row(e);
			}
			d4ctl_table(v, headers, keys);
		}
		json_decref(v);
		return d4ctl_exit_code(rc);
	}
	/* no NODE: every node found, a NODE column first */
	n = d4ctl_node_all(ctl, &nodes);
	if (n < 0)
		return d4ctl_exit_code(n);
	all = json_array();
	for (i = 0; i < n; i++) {
		if (d4ctl_http(ctl, &nodes[i], "GET", path, NULL, &v) < 0) {
			failed++;
			continue;
		}
		json_array_foreach(v, j, e)
		{
			json_object_set_new(e, "node",
					    json_string(nodes[i].name));
			if (row && !ctl->json)
				row(e);
			json_array_append(all, e);
		}
		json_decref(v);
	}
	for (c = 0; headers[c] && c < 16; c++) {
		h[c + 1] = headers[c];
		k[c + 1] = keys[c];
	}
	h[c + 1] = k[c + 1] = NULL;
	if (ctl->json)
		d4ctl_print_json(all);
	else
		d4ctl_table(all, h, k);
	json_decref(all);
	free(nodes);
	/* some answered: the table is what there is; none: not found */
	return failed && failed == n ? D4CTL_EXIT_NOTFOUND
	       : failed		     ? D4CTL_EXIT_NODE
				     : D4CTL_EXIT_OK;
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
