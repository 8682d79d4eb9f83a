/* A d4 node: builds sources, flows, subscriptions and sinks from its
 * configuration, runs the media thread and the file thread, and drives
 * everything else from one control loop in the calling thread. */
#ifndef D4_NODE_NODE_H
#define D4_NODE_NODE_H

#include <stdbool.h>

struct node_opts {
	const char *config_path;
	bool verbose;	    /* one status line every status_interval */
	double run_seconds; /* stop by itself after this long; 0 = never */
};

/* Run until SIGINT/SIGTERM or run_seconds. 0 on a clean stop; 1 when the
 * node could not start (the reason is logged). */
int node_run(const struct node_opts *opts);

#endif
