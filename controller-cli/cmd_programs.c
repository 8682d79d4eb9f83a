/* d4ctl programs: a node's D4 loops and their counters (GET /d4/programs). */
#include "controller-cli/d4ctl.h"

static const char usage[] =
    "usage: d4ctl programs [--json] NODE\n"
    "\n"
    "D4 loops of NODE: name, binding, running, back end (vm or kernel),\n"
    "worst-case instructions per packet, packets in, sends made (SENT) and\n"
    "runs that sent nothing (DROPPED), errors, sends the kernel refused\n"
    "(SEND_ERRORS: on the VM a full send buffer or no route, among SENT,\n"
    "not in ERRORS, logged with the reason and the receiver; in the\n"
    "kernel the copies bpf_clone_redirect could not send (a device or\n"
    "queue that takes nothing), not in SENT but in ERRORS too, logged\n"
    "without a reason; logs at most every 10 s), the last\n"
    "error, and why the loop runs where it does ('-' from a node that does\n"
    "not say).\n";

int cmd_programs(struct d4ctl *ctl, int argc, char *argv[])
{
	static const char *const headers[] = {
	    "NAME",	  "BINDING", "RUNNING", "BACKEND", "WCET",
	    "IN",	  "SENT",    "DROPPED", "ERRORS",  "SEND_ERRORS",
	    "LAST_ERROR", "WHY",     NULL};
	static const char *const keys[] = {
	    "name",   "binding",     "running",	   "backend",
	    "wcet",   "pkts_in",     "pkts_sent",  "pkts_dropped",
	    "errors", "send_errors", "last_error", "backend_why",
	    NULL};
	struct d4ctl_node node;
	json_t *v = NULL;
	int first, rc;

	rc = d4ctl_getopt(ctl, argc, argv, usage, NULL, NULL, NULL, NULL,
			  &first);
	if (rc)
		return rc > 0 ? D4CTL_EXIT_OK : D4CTL_EXIT_USAGE;
	if (argc - first > 1) {
		d4ctl_err("programs", "unexpected '%s'\n%s", argv[first + 1],
			  usage);
		return D4CTL_EXIT_USAGE;
	}
	rc = d4ctl_get(ctl, first < argc ? argv[first] : NULL, "/d4/programs",
		       &node, &v);
	if (rc == 0 && !ctl->json)
		d4ctl_table(v, headers, keys);
	json_decref(v);
	return d4ctl_exit_code(rc);
}
