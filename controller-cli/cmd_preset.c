/* d4ctl preset save FILE | apply [--dry-run] FILE: the network's routing
 * to a file and back, the difference printed first (preset.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "controller-cli/d4ctl.h"
#include "controller-cli/preset.h"
#include "controller-cli/routing.h"

static const char usage[] =
    "usage: d4ctl preset save FILE\n"
    "       d4ctl preset apply [--dry-run] FILE\n"
    "\n"
    "save: write every route on the network (each node found, as d4ctl\n"
    "routes shows them) to FILE ('-': standard output), as JSON.\n"
    "apply: make the routes ending at the preset's nodes what FILE says:\n"
    "print the difference ('-' a route that goes, '+' one that is made,\n"
    "'~' a latency set, '!' one that cannot be made, '=' one kept), then\n"
    "make it (not with --dry-run). Routes from a node's config file are\n"
    "never touched.\n";

static int on_opt(void *data, int opt, const char *arg)
{
	*(bool *)data = true;
	return 0;
}

static int save(struct d4ctl *ctl, struct d4ctl_node *nodes, int n,
		const char *path)
{
	json_t *net = NULL, *routes = NULL, *preset, *skipped = NULL, *s;
	char tmp[1100];
	size_t i;
	int rc;

	rc = routing_fetch(ctl, nodes, n, &net, &routes);
	if (rc < 0)
		return rc;
	preset = preset_from_routes(net, routes, &skipped);
	json_array_foreach(skipped, i, s)
	    d4ctl_errf(ctl,
		       "preset: %s is not a route of RX channels: not "
		       "saved",
		       json_string_value(s));
	if (!strcmp(path, "-")) {
		d4ctl_print_json(preset);
	} else {
		snprintf(tmp, sizeof(tmp), "%s.tmp", path);
		rc = json_dump_file(preset, tmp, JSON_INDENT(1)) ||
			     rename(tmp, path)
			 ? -errno
			 : 0;
		if (rc < 0)
			d4ctl_errf(ctl, "preset: writing %s: %s", path,
				   strerror(-rc));
		else
			printf(
			    "saved %zu route%s of %zu node%s to %s\n",
			    json_array_size(json_object_get(preset, "routes")),
			    json_array_size(
				json_object_get(preset, "routes")) == 1
				? ""
				: "s",
			    json_array_size(json_object_get(preset, "nodes")),
			    json_array_size(json_object_get(preset, "nodes")) ==
				    1
				? ""
				: "s",
			    path);
	}
	json_decref(skipped);
	json_decref(preset);
	json_decref(routes);
	json_decref(net);
	return rc;
}

static int apply(struct d4ctl *ctl, struct d4ctl_node *nodes, int n,
		 const char *path, bool dry_run)
{
	json_t *preset, *net = NULL, *routes = NULL, *diff;
	json_error_t jerr;
	char err[256];
	int rc;

	preset = json_load_file(path, 0, &jerr);
	if (!preset) {
		d4ctl_errf(ctl, "preset: %s:%d: %s", path, jerr.line,
			   jerr.text);
		return -EINVAL;
	}
	if (preset_check(preset, err, sizeof(err)) < 0) {
		d4ctl_errf(ctl, "preset: %s: %s", path, err);
		json_decref(preset);
		return -EINVAL;
	}
	rc = routing_fetch(ctl, nodes, n, &net, &routes);
	if (rc < 0)
		goto out;
	diff = preset_diff(preset, net, routes);
	routing_print_diff(stdout, diff);
	json_decref(diff);
	if (!dry_run) {
		fflush(stdout);
		rc = routing_preset_apply(ctl, nodes, n, preset, NULL);
	}
out:
	json_decref(routes);
	json_decref(net);
	json_decref(preset);
	return rc;
}

int cmd_preset(struct d4ctl *ctl, int argc, char *argv[])
{
	static const struct option extra[] = {
	    {"dry-run", no_argument, NULL, 'n'},
	    {NULL, 0, NULL, 0},
	};
	struct d4ctl_node *nodes = NULL;
	bool dry_run = false;
	int first, rc, n;

	rc = d4ctl_getopt(ctl, argc, argv, usage, extra, "n", on_opt, &dry_run,
			  &first);
	if (rc)
		return rc > 0 ? D4CTL_EXIT_OK : D4CTL_EXIT_USAGE;
	if (argc - first != 2 ||
	    (strcmp(argv[first], "save") && strcmp(argv[first], "apply"))) {
		d4ctl_err("preset", "expected save FILE or apply FILE\n%s",
			  usage);
		return D4CTL_EXIT_USAGE;
	}
	if (dry_run && !strcmp(argv[first], "save")) {
		d4ctl_err("preset", "--dry-run is for apply");
		return D4CTL_EXIT_USAGE;
	}
	n = d4ctl_node_all(ctl, &nodes);
	if (n < 0)
		return d4ctl_exit_code(n);
	if (!strcmp(argv[first], "save"))
		rc = save(ctl, nodes, n, argv[first + 1]);
	else
		rc = apply(ctl, nodes, n, argv[first + 1], dry_run);
	free(nodes);
	return d4ctl_exit_code(rc);
}
