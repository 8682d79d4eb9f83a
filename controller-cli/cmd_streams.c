/* d4ctl streams: AES67 streams seen announced (SAP, RAVENNA), by one node
 * or by every node found (merged by name and address). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "controller-cli/d4ctl.h"

static const char usage[] =
    "usage: d4ctl streams [--json] [NODE]\n"
    "\n"
    "AES67 streams NODE has seen announced by SAP or RAVENNA, or with no\n"
    "NODE those seen by every node found: name, origin, sender, group,\n"
    "channels and format.\n";

static bool seen(const json_t *all, const json_t *s)
{
	const json_t *e;
	size_t i;

	json_array_foreach(all, i, e)
	{
		if (json_equal(json_object_get(e, "name"),
			       json_object_get(s, "name")) &&
		    json_equal(json_object_get(e, "address"),
			       json_object_get(s, "address")))
			return true;
	}
	return false;
}

int cmd_streams(struct d4ctl *ctl, int argc, char *argv[])
{
	static const char *const headers[] = {
	    "NAME", "ORIGIN", "HOST", "GROUP", "CHANNELS", "FORMAT", NULL};
	static const char *const keys[] = {
	    "name", "origin", "host", "address", "channels", "format", NULL};
	struct d4ctl_node node, *nodes = NULL;
	json_t *all, *v, *s;
	int first, rc = 0, n;
	size_t i;

	rc = d4ctl_getopt(ctl, argc, argv, usage, NULL, NULL, NULL, NULL,
			  &first);
	if (rc)
		return rc > 0 ? D4CTL_EXIT_OK : D4CTL_EXIT_USAGE;
	if (argc - first > 1) {
		d4ctl_err("streams", "unexpected '%s'\n%s", argv[first + 1],
			  usage);
		return D4CTL_EXIT_USAGE;
	}
	/* after the usage checks, which return without it */
	all = json_array();
	if (first < argc || ctl->host) {
		n = 1;
		rc = d4ctl_node_find(ctl, first < argc ? argv[first] : NULL,
				     &node);
		nodes = malloc(sizeof(*nodes));
		if (rc == 0 && nodes)
			nodes[0] = node;
	} else {
		n = d4ctl_node_all(ctl, &nodes);
		rc = n < 0 ? n : 0;
	}
	for (int k = 0; rc == 0 && k < n; k++) {
		if (d4ctl_http(ctl, &nodes[k], "GET", "/streams", NULL, &v) <
		    0) {
			if (n == 1)
				rc = -EIO;
			continue;
		}
		json_array_foreach(v, i, s)
		{
			char fmt[64];

			snprintf(
			    fmt, sizeof(fmt), "%s/%lld/%lldus",
			    json_string_value(json_object_get(s, "encoding"))
				?: "?",
			    json_integer_value(json_object_get(s, "rate")),
			    json_integer_value(json_object_get(s, "ptime_us")));
			json_object_set_new(s, "format", json_string(fmt));
			if (!seen(all, s))
				json_array_append(all, s);
		}
		json_decref(v);
	}
	if (rc == 0) {
		if (ctl->json)
			d4ctl_print_json(all);
		else
			d4ctl_table(all, headers, keys);
	}
	json_decref(all);
	free(nodes);
	return d4ctl_exit_code(rc);
}
