/* d4ctl name: rename a node (PUT /node) or a TX or RX channel
 * (PUT /channels/tx|rx/N). */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <string.h>

#include "controller-cli/args.h"
#include "controller-cli/d4ctl.h"

static const char usage[] =
    "usage: d4ctl name NODE NEW\n"
    "       d4ctl name [--rx] CHAN@NODE NEW\n"
    "\n"
    "Rename NODE NEW: 1-31 letters, digits and '-', not beginning or\n"
    "ending with '-' (Dante's rule), and no other node's name. Its streams\n"
    "are renamed with it (\"NEW FLOW\"); receivers that follow them by name\n"
    "must be routed again, as in Dante. The name survives restarts.\n"
    "\n"
    "Name TX channel CHAN of NODE (with --rx: RX channel CHAN) NEW. CHAN is\n"
    "a number or the channel's current name. A name is 1-31 characters,\n"
    "not only digits and dashes, without '@', '\"' or ',', and unique\n"
    "among the node's TX (or RX) channels.\n";

static int on_opt(void *data, int opt, const char *arg)
{
	*(bool *)data = true;
	return 0;
}

/* The number of the channel called @name in direction @dir, or 0. */
static unsigned int by_name(const json_t *chans, const char *dir,
			    const char *name)
{
	json_t *c;
	size_t i;

	json_array_foreach(json_object_get(chans, dir), i, c)
	{
		const char *n = json_string_value(json_object_get(c, "name"));

		if (n && !strcmp(n, name))
			return (unsigned int)json_integer_value(
			    json_object_get(c, "channel"));
	}
	return 0;
}

static int rename_node(struct d4ctl *ctl, const char *spec,
		       const char *name)
{
	struct d4ctl_node node;
	json_t *body, *out = NULL;
	int rc;

	rc = d4ctl_node_find(ctl, spec, &node);
	if (rc < 0)
		return d4ctl_exit_code(rc);
	body = json_pack("{s:s}", "name", name);
	rc = d4ctl_http(ctl, &node, "PUT", "/node", body, &out);
	json_decref(body);
	if (rc == 0) {
		char err[512];
		int kept;

		if (ctl->json)
			d4ctl_print_json(out);
		else
			printf("%s is now called '%s'\n", node.name, name);
		/* Its token was found by the old name: keep its uuid with it,
		 * or the next command finds no token for the new name (a new
		 * user was locked out by a rename). */
		kept = d4ctl_remember_node(ctl, &node, err, sizeof(err));
		if (kept > 0 && !ctl->json)
			printf("d4ctl's config: [node %s] now holds the node's "
			       "uuid, so its token is found under the new "
			       "name\n",
			       node.name);
		else if (kept < 0)
			d4ctl_err("name",
				  "renamed, but its uuid could not be kept in "
				  "d4ctl's config (%s): rename its [node %s] "
				  "section to [node %s]",
				  err, node.name, name);
	}
	json_decref(out);
	return d4ctl_exit_code(rc);
}

int cmd_name(struct d4ctl *ctl, int argc, char *argv[])
{
	static const struct option opts[] = {
	    {"rx", no_argument, NULL, 'r'},
	    {NULL, 0, NULL, 0},
	};
	const char *dir;
	struct d4ctl_node node;
	struct chanspec cs;
	unsigned int ch;
	char err[256], path[64];
	json_t *body, *chans = NULL, *out = NULL;
	bool rx = false;
	int first, rc;

	rc = d4ctl_getopt(ctl, argc, argv, usage, opts, "r", on_opt, &rx,
			  &first);
	if (rc)
		return rc > 0 ? D4CTL_EXIT_OK : D4CTL_EXIT_USAGE;
	dir = rx ? "rx" : "tx";
	if (argc - first != 2) {
		d4ctl_err("name", "expected CHAN@NODE NEW\n%s", usage);
		return D4CTL_EXIT_USAGE;
	}
	if (!strchr(argv[first], '@')) {
		if (rx) {
			d4ctl_err("name", "'%s': --rx names a channel; give "
					  "CHAN@NODE",
				  argv[first]);
			return D4CTL_EXIT_USAGE;
		}
		return rename_node(ctl, argv[first], argv[first + 1]);
	}
	rc = args_parse_chanspec(argv[first], &cs, err, sizeof(err));
	if (rc == 0 && (cs.stream || (!cs.chan_name[0] && cs.nch != 1))) {
		snprintf(err, sizeof(err), "'%s': name one channel of a node",
			 argv[first]);
		rc = -EINVAL;
	}
	if (rc < 0) {
		d4ctl_err("name", "%s", err);
		return D4CTL_EXIT_USAGE;
	}
	rc = d4ctl_node_find(ctl, cs.target, &node);
	if (rc < 0)
		return d4ctl_exit_code(rc);
	ch = cs.chan_name[0] ? 0 : cs.ch[0];
	if (!ch) {
		rc = d4ctl_http(ctl, &node, "GET", "/channels", NULL, &chans);
		if (rc < 0)
			return d4ctl_exit_code(rc);
		ch = by_name(chans, dir, cs.chan_name);
		json_decref(chans);
		if (!ch) {
			d4ctl_err("name", "%s has no %s channel named '%s'",
				  node.name, rx ? "RX" : "TX", cs.chan_name);
			return D4CTL_EXIT_NODE;
		}
	}
	snprintf(path, sizeof(path), "/channels/%s/%u", dir, ch);
	body = json_pack("{s:s}", "name", argv[first + 1]);
	rc = d4ctl_http(ctl, &node, "PUT", path, body, &out);
	json_decref(body);
	if (rc == 0) {
		if (ctl->json)
			d4ctl_print_json(out);
		else
			printf("%s %s channel %u: '%s'\n", node.name,
			       rx ? "RX" : "TX", ch, argv[first + 1]);
	}
	json_decref(out);
	return d4ctl_exit_code(rc);
}
