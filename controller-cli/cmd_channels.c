/* d4ctl channels: a node's TX and RX channels (GET /channels). */
#include <string.h>

#include "controller-cli/d4ctl.h"

static const char usage[] =
    "usage: d4ctl channels [--json] NODE\n"
    "\n"
    "TX channels of NODE (its sources' channels: source, flows carrying\n"
    "them) and RX channels (the subscription and stream channel filling\n"
    "each, or '-'). Names are what route, unroute and name take as CHAN.\n";

/* One table row per channel, with the direction in front. */
static json_t *rows(const json_t *chans)
{
	json_t *out = json_array(), *c, *f;
	size_t i, j;

	json_array_foreach(json_object_get(chans, "tx"), i, c)
	{
		char fl[256] = "";
		size_t off = 0;

		json_array_foreach(json_object_get(c, "flows"), j, f)
		{
			int n = snprintf(
			    fl + off, sizeof(fl) - off, "%s%s/%lld",
			    off ? "," : "",
			    json_string_value(json_object_get(f, "flow")),
			    (long long)json_integer_value(
				json_object_get(f, "channel")));

			if (n < 0 || (size_t)n >= sizeof(fl) - off)
				break;
			off += (size_t)n;
		}
		json_array_append_new(
		    out, json_pack("{s:s,s:O,s:O,s:O,s:O,s:s}", "dir", "tx",
				   "channel", json_object_get(c, "channel"),
				   "name", json_object_get(c, "name"), "from",
				   json_object_get(c, "source"), "ch",
				   json_object_get(c, "source_channel"),
				   "flows", off ? fl : "-"));
	}
	json_array_foreach(json_object_get(chans, "rx"), i, c)
	{
		json_array_append_new(
		    out,
		    json_pack("{s:s,s:O,s:O,s:O,s:O}", "dir", "rx", "channel",
			      json_object_get(c, "channel"), "name",
			      json_object_get(c, "name"), "from",
			      json_object_get(c, "subscription"), "ch",
			      json_object_get(c, "stream_channel")));
	}
	return out;
}

int cmd_channels(struct d4ctl *ctl, int argc, char *argv[])
{
	static const char *const headers[] = {"DIR",	 "CH",	  "NAME",
					      "SOURCE/SUBSCRIPTION", "CH OF IT",
					      "FLOWS",	 NULL};
	static const char *const keys[] = {"dir", "channel", "name", "from",
					   "ch",  "flows",   NULL};
	struct d4ctl_node node;
	json_t *v = NULL, *t;
	int first, rc;

	rc = d4ctl_getopt(ctl, argc, argv, usage, NULL, NULL, NULL, NULL,
			  &first);
	if (rc)
		return rc > 0 ? D4CTL_EXIT_OK : D4CTL_EXIT_USAGE;
	if (argc - first > 1) {
		d4ctl_err("channels", "unexpected '%s'\n%s", argv[first + 1],
			  usage);
		return D4CTL_EXIT_USAGE;
	}
	rc = d4ctl_get(ctl, first < argc ? argv[first] : NULL, "/channels",
		       &node, &v);
	if (rc == 0 && !ctl->json) {
		t = rows(v);
		d4ctl_table(t, headers, keys);
		json_decref(t);
	}
	json_decref(v);
	return d4ctl_exit_code(rc);
}
