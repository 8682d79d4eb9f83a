/* d4ctl --registry: the same commands over an AMWA NMOS registry instead
 * of mDNS — nodes, senders and receivers from its IS-04 Query API, routes
 * made and removed through each device's IS-05 Connection API — so one
 * command line runs a network that spans subnets, with d4 nodes and any
 * other NMOS device (docs/d4ctl.md "Through a registry"). */
#ifndef D4_CONTROLLER_CLI_REGISTRY_H
#define D4_CONTROLLER_CLI_REGISTRY_H

#include "controller-cli/d4ctl.h"

/* Run COMMAND (argv[0]) against the registry ctl->registry: a URL
 * ("http://HOST:PORT", the Query API's), or "auto" to find one by DNS-SD
 * (_nmos-query._tcp, lowest pri). Returns the exit code. */
int registry_main(struct d4ctl *ctl, int argc, char *argv[]);

#endif
