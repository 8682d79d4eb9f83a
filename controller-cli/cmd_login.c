/* d4ctl login NODE: pair with a node and keep its token; d4ctl token
 * rotate NODE: a new token (docs/d4ctl.md "Tokens"). The token is saved in
 * d4ctl's config under the node's uuid, so renaming the node keeps it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "controller-cli/d4ctl.h"

static const char login_usage[] =
    "usage: d4ctl login [--code CODE] NODE\n"
    "\n"
    "Pair with NODE (a name or ADDR:PORT) once, instead of copying its\n"
    "token: the node shows a one-time code in its log, e.g.\n"
    "  journalctl -u d4node@stage | grep pairing\n"
    "  pairing: code 1234-5678 for `d4ctl login` (single use, expires in\n"
    "  300 s)\n"
    "and d4ctl trades the code for the node's token, which it saves in its\n"
    "config file under the node's uuid (a rename keeps it). The code is\n"
    "read from standard input unless given with --code. A code serves\n"
    "once, for 5 minutes, and closes after 3 wrong tries; a node shows a\n"
    "new one at most every 30 s.\n"
    "  --code CODE   the code (else d4ctl asks for it)\n";

static const char token_usage[] =
    "usage: d4ctl token rotate NODE\n"
    "\n"
    "Give NODE a new token (POST /token, with the current one) and save it\n"
    "in d4ctl's config file. The old token is refused from then on: other\n"
    "hosts that controlled NODE must run `d4ctl login NODE` again.\n";

static int on_code(void *data, int opt, const char *arg)
{
	*(const char **)data = arg;
	return 0;
}

/* Save @token for the node; print where, or the token when there is no
 * config file to keep it in. 0 or an exit code. */
static int save(struct d4ctl *ctl, const char *cmd,
		const struct d4ctl_node *node, const char *spec,
		const char *uuid, const char *name, const char *token)
{
	char path[4096], err[512];
	const struct d4ctl_config_node *cn;
	const char *host = NULL;
	int rc;

	if (d4ctl_config_file(ctl, path, sizeof(path)) < 0) {
		d4ctl_err(cmd, "no config file (HOME is not set): the token is "
			       "printed, keep it yourself");
		puts(token);
		return D4CTL_EXIT_OK;
	}
	/* An address given by hand is how this node is found again; one
	 * from mDNS is not kept (it may change). */
	cn = d4ctl_config_find(&ctl->cfg, uuid, NULL);
	if (strchr(spec ? spec : "", ':') || (!spec && ctl->host))
		host = node->addr;
	else if (cn && cn->host[0])
		host = NULL; /* left as it is */
	rc =
	    d4ctl_config_store(path, uuid, name, host, node->addr, token, err,
			       sizeof(err));
	if (rc < 0) {
		d4ctl_err(cmd, "cannot save the token: %s", err);
		return D4CTL_EXIT_NODE;
	}
	printf("%s (%s): token saved in %s, under uuid %s\n", name, node->addr,
	       path, uuid);
	return D4CTL_EXIT_OK;
}

static int read_code(char *buf, size_t len, const char *name)
{
	if (isatty(STDIN_FILENO))
		fprintf(stderr, "pairing code shown in %s's log: ", name);
	if (!fgets(buf, (int)len, stdin))
		return -EINVAL;
	buf[strcspn(buf, "\r\n")] = '\0';
	return buf[0] ? 0 : -EINVAL;
}

int cmd_login(struct d4ctl *ctl, int argc, char *argv[])
{
	static const struct option extra[] = {
	    {"code", required_argument, NULL, 'c'},
	    {NULL, 0, NULL, 0},
	};
	struct d4ctl_node node;
	const char *code = NULL, *spec, *uuid, *name, *token;
	json_t *out = NULL, *body;
	char typed[64];
	int first, rc;

	rc = d4ctl_getopt(ctl, argc, argv, login_usage, extra, "", on_code,
			  &code, &first);
	if (rc)
		return rc > 0 ? D4CTL_EXIT_OK : D4CTL_EXIT_USAGE;
	if (argc - first > 1 || (argc - first == 0 && !ctl->host)) {
		d4ctl_err("login", "expected one NODE\n%s", login_usage);
		return D4CTL_EXIT_USAGE;
	}
	spec = argc - first ? argv[first] : NULL;
	rc = d4ctl_node_find(ctl, spec, &node);
	if (rc < 0)
		return d4ctl_exit_code(rc);
	/* a token of ours would not matter: pairing is open */
	ctl->token = NULL;
	ctl->token_from = D4CTL_TOKEN_NONE;
	rc = d4ctl_http(ctl, &node, "POST", "/pairing", NULL, &out);
	if (rc < 0)
		return d4ctl_exit_code(rc);
	name = json_string_value(json_object_get(out, "name"));
	if (!code)
		fprintf(stderr,
			"d4ctl: %s (%s) shows a pairing code in its log now "
			"(valid %lld s), e.g. journalctl -u 'd4node@*' | "
			"grep pairing (the service is named after its INI "
			"file, not the node)\n",
			name ? name : node.name, node.addr,
			(long long)json_integer_value(
			    json_object_get(out, "expires_s")));
	json_decref(out);
	out = NULL;
	if (!code) {
		if (read_code(typed, sizeof(typed), node.name) < 0) {
			d4ctl_err("login", "no code given");
			return D4CTL_EXIT_USAGE;
		}
		code = typed;
	}
	body = json_pack("{s:s}", "code", code);
	rc = d4ctl_http(ctl, &node, "POST", "/pairing/token", body, &out);
	json_decref(body);
	if (rc < 0)
		return d4ctl_exit_code(rc);
	uuid = json_string_value(json_object_get(out, "uuid"));
	name = json_string_value(json_object_get(out, "name"));
	token = json_string_value(json_object_get(out, "token"));
	if (!uuid || !name || !token) {
		d4ctl_err("login", "%s: the answer has no token, uuid or name",
			  node.addr);
		json_decref(out);
		return D4CTL_EXIT_NODE;
	}
	rc = save(ctl, "login", &node, spec, uuid, name, token);
	json_decref(out);
	return rc;
}

int cmd_token(struct d4ctl *ctl, int argc, char *argv[])
{
	struct d4ctl_node node;
	const char *uuid, *token, *spec;
	json_t *out = NULL, *info = NULL;
	int first, rc;

	rc = d4ctl_getopt(ctl, argc, argv, token_usage, NULL, NULL, NULL, NULL,
			  &first);
	if (rc)
		return rc > 0 ? D4CTL_EXIT_OK : D4CTL_EXIT_USAGE;
	if (argc - first < 1 || strcmp(argv[first], "rotate")) {
		d4ctl_err("token", "%s%s%s\n%s",
			  argc - first ? "unknown subcommand '" : "expected ",
			  argc - first ? argv[first] : "rotate",
			  argc - first ? "' (rotate)" : "", token_usage);
		return D4CTL_EXIT_USAGE;
	}
	if (argc - first > 2 || (argc - first == 1 && !ctl->host)) {
		d4ctl_err("token", "expected rotate NODE\n%s", token_usage);
		return D4CTL_EXIT_USAGE;
	}
	spec = argc - first == 2 ? argv[first + 1] : NULL;
	rc = d4ctl_node_find(ctl, spec, &node);
	if (rc < 0)
		return d4ctl_exit_code(rc);
	rc = d4ctl_http(ctl, &node, "GET", "/node", NULL, &info);
	if (rc == 0)
		rc = d4ctl_http(ctl, &node, "POST", "/token", NULL, &out);
	if (rc < 0) {
		json_decref(info);
		return d4ctl_exit_code(rc);
	}
	uuid = json_string_value(json_object_get(out, "uuid"));
	token = json_string_value(json_object_get(out, "token"));
	if (!uuid || !token) {
		d4ctl_err("token", "%s: the answer has no token or uuid",
			  node.addr);
		rc = D4CTL_EXIT_NODE;
	} else {
		rc = save(ctl, "token", &node, spec, uuid,
			  json_string_value(json_object_get(info, "name"))
			      ?: node.name,
			  token);
	}
	json_decref(info);
	json_decref(out);
	return rc;
}
