/* Finding nodes by mDNS: browse _d4node._tcp with avahi-client on an
 * AvahiSimplePoll for a bounded time, resolve each instance to IPv4. */
#ifndef D4_CONTROLLER_CLI_BROWSE_H
#define D4_CONTROLLER_CLI_BROWSE_H

#include "controller-cli/d4ctl.h"

#define BROWSE_TYPE "_d4node._tcp"

/* Browse for up to @seconds (stopping early once @want, a node name, is
 * found and every resolution asked for has answered, or once every
 * instance is resolved). A malloc'd array of nodes in *nodes, named by TXT
 * "name" (else the instance name); a node seen at two addresses (two
 * networks) is one node with host2 set. The count, or -EHOSTUNREACH when
 * avahi-daemon cannot be reached (@err). */
int browse_nodes(double seconds, const char *want, struct d4ctl_node **nodes,
		 char *err, size_t err_len);

/* Fill @node from HOST and PORT (the API base under /api/v1). */
void browse_node_set(struct d4ctl_node *node, const char *name,
		     const char *host, unsigned int port);

#endif
