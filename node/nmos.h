/* AMWA NMOS on a d4 node (docs/nmos.md): the IS-04 v1.3 Node API and
 * registration with a registry (or peer-to-peer DNS-SD without one), and
 * the IS-05 v1.1 Connection API. Resources are views of the node's own
 * objects — a sender per flow (tx.h), a receiver per group of RX channels
 * whose connections are subscriptions (rx.h) — so d4's API, d4ctl and an
 * NMOS controller see and change the same things. Served on the control
 * API's listener under /x-nmos/; everything runs on the control loop. */
#ifndef D4_NODE_NMOS_H
#define D4_NODE_NMOS_H

struct node;
struct nmos;

/* Start NMOS on @n when its config says [nmos] enable: after the control
 * API started and the state was restored. NULL when off or when it
 * cannot run (no API: logged); the node runs on without. */
struct nmos *nmos_new(struct node *n);

/* Unregister from the registry (bounded: at most about 2 s), withdraw
 * the mDNS services and the routes, cancel scheduled activations. Before
 * the API stops. NULL is fine. */
void nmos_destroy(struct nmos *m);

#endif
