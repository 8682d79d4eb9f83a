/* d4ctl start|stop: start or stop a D4 loop by name
 * (POST /d4/programs/NAME/start|stop). */
#include <errno.h>
#include <string.h>

#include "controller-cli/args.h"
#include "controller-cli/d4ctl.h"

static const char usage[] =
    "usage: d4ctl start NODE LOOP\n"
    "       d4ctl stop NODE LOOP\n"
    "       d4ctl unload NODE LOOP\n"
    "\n"
    "Start or stop the D4 loop LOOP on NODE (d4ctl programs NODE lists\n"
    "them), or unload one loaded through the API (d4ctl exec): it goes\n"
    "from the node and its state; the variables it declared stay.\n";

int cmd_start(struct d4ctl *ctl, int argc, char *argv[])
{
	const char *verb = argv[0], *nodename = NULL, *loop;
	struct d4ctl_node node;
	char path[256], esc[192];
	int first, rc;

	rc = d4ctl_getopt(ctl, argc, argv, usage, NULL, NULL, NULL, NULL,
			  &first);
	if (rc)
		return rc > 0 ? D4CTL_EXIT_OK : D4CTL_EXIT_USAGE;
	if (argc - first == 2)
		nodename = argv[first];
	else if (!(ctl->host && argc - first == 1)) {
		d4ctl_err(verb, "expected NODE LOOP\n%s", usage);
		return D4CTL_EXIT_USAGE;
	}
	loop = argv[argc - 1];
	if (!loop[0]) {
		d4ctl_err(verb, "'%s' is not a loop name", loop);
		return D4CTL_EXIT_USAGE;
	}
	rc = d4ctl_node_find(ctl, nodename, &node);
	if (rc < 0)
		return d4ctl_exit_code(rc);
	args_url_escape(loop, esc, sizeof(esc));
	if (!strcmp(verb, "unload")) {
		snprintf(path, sizeof(path), "/d4/programs/%s", esc);
		rc = d4ctl_http(ctl, &node, "DELETE", path, NULL, NULL);
	} else {
		snprintf(path, sizeof(path), "/d4/programs/%s/%s", esc, verb);
		rc = d4ctl_http(ctl, &node, "POST", path, NULL, NULL);
	}
	if (rc == 0)
		printf("%s: %s %s\n", node.name,
		       !strcmp(verb, "start")  ? "started"
		       : !strcmp(verb, "stop") ? "stopped"
					       : "unloaded",
		       loop);
	return d4ctl_exit_code(rc);
}
