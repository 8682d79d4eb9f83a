/* The route planner: from a snapshot of the network and a route asked for,
 * the list of API calls that make it. Pure: no I/O, so it is tested against
 * fake networks (tests/data/d4ctl/).
 *
 * A snapshot is a JSON object {"nodes": [NODE...]}; each NODE holds what
 * the node's API answers: {"name", "address" ("HOST:PORT" of its API),
 * "node" (GET /node), "flows", "subscriptions", "vars" (GET /d4/vars),
 * "streams", and "channels" (GET /channels: {"tx": [{"channel", "name",
 * "source", "source_channel"}], "rx": [{"channel", "name"}]})}.
 *
 * Routing (docs/d4ctl.md "Routing"): route TX RX subscribes the RX node's
 * subscription "rxCHANS" (rx3-4, with rx_channels and stream_channels) to
 *   - a foreign stream by name (TX = CHANS@"stream name"), else
 *   - a multicast flow of the TX node carrying those channels (by its
 *     session name), else
 *   - a unicast flow of the TX node carrying them, reused or created
 *     ("ucCHANS"), whose relay list _<flow>_receivers gets RXHOST:PORT.
 * unroute deletes the subscription, takes its address out of the relay
 * list that sends to it, and deletes an API flow left with no receivers;
 * unrouting some of a subscription's RX channels makes it again with the
 * others. Routes name TX channels by the TX node's numbers (its sources'
 * channels numbered across sources), never a source's own.
 *
 * ST 2022-7: a node mDNS saw on two networks has "address2" (its second
 * address). A unicast route between two such nodes has two legs: the flow
 * gets destination2 (or its second list _<flow>_receivers2 the RX node's
 * second address), the subscription address2. A multicast flow with a
 * second leg is subscribed by name as ever: the RX node takes the second
 * leg when it is on that network (docs/redundancy.md). */
#ifndef D4_CONTROLLER_CLI_PLAN_H
#define D4_CONTROLLER_CLI_PLAN_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "controller-cli/args.h"

#define PLAN_MAX_ACTIONS 32
#define PLAN_FIRST_PORT	 5004

struct plan_call {
	char method[8]; /* "POST", "PUT", "DELETE", or "" for none */
	char path[192]; /* under /api/v1 */
	json_t *body;	/* owned; NULL for none */
};

struct plan_action {
	char node[ARGS_NAME_MAX]; /* the node's "name" in the snapshot */
	struct plan_call call;
	struct plan_call undo; /* what reverts it if a later action fails */
	/* A subscription to a flow created by the previous action: take
	 * encoding, rate and ptime_us from that action's response. */
	bool format_from_prev;
	char what[512]; /* one line for the user */
};

struct plan {
	unsigned int n;
	struct plan_action a[PLAN_MAX_ACTIONS];
	char note[512]; /* e.g. "3-4@B is already routed from 1-2@A" */
};

struct plan_opts {
	unsigned int latency_us; /* 0: the node's default */
	const char *source;	 /* TX source when the snapshot cannot tell */
};

/* Plan route @tx -> @rx. 0 with @plan filled (n == 0: nothing to do, see
 * note), or -EINVAL (the request does not fit: bad channels, counts differ),
 * -ENOENT (no such node, stream or channel), -EEXIST (RX channels taken),
 * with a message quoting the input in @err. plan_free() either way. */
int plan_route(const json_t *net, const struct chanspec *tx,
	       const struct chanspec *rx, const struct plan_opts *opts,
	       struct plan *plan, char *err, size_t err_len);

/* Plan unroute of subscription @sub on node @node. As plan_route(). */
int plan_unroute(const json_t *net, const char *node, const char *sub,
		 struct plan *plan, char *err, size_t err_len);

/* Plan unroute of RX channels @rx (CHANS@NODE), channel by channel: a
 * subscription whose every RX channel is in @rx goes (as plan_unroute());
 * one that fills others too is made again with only those ("rx3-6" minus
 * 4 becomes "rx3_5-6", the same stream channels as before). n == 0 with a
 * note when none is routed. -EPERM for a config file's subscription. */
int plan_unroute_channels(const json_t *net, const struct chanspec *rx,
			  struct plan *plan, char *err, size_t err_len);

/* The subscription name of a route ending at @rx, resolving channel names
 * through the snapshot. 0 or -errno (@err). */
int plan_rx_name(const json_t *net, const struct chanspec *rx, char *name,
		 size_t len, char *node, size_t node_len, char *err,
		 size_t err_len);

/* Every route in the snapshot: an array of {"rx", "node", "subscription",
 * "from", "kind" (stream|multicast|unicast|address), "flow", "state",
 * "latency_us", "legs" ("A ok, B down", or "-"), "rx_channels": [..],
 * and "tx_node" with "tx_channels" (a d4 node's TX channels; 0 for one
 * its table lacks) or "stream" with "stream_channels"}; "state_reason"
 * and "latency_safe_us" when the node gives them. New reference. */
json_t *plan_routes(const json_t *net);

void plan_free(struct plan *plan);

/* "main-out" -> "_main_out_receivers", as the node names a flow's list. */
void plan_receivers_var(const char *flow, char *buf, size_t len);
/* "main-out" -> "_main_out_receivers2": its second leg's (ST 2022-7). */
void plan_receivers2_var(const char *flow, char *buf, size_t len);
/* A subscription's legs as "A ok, B down" ("" with one leg). */
void plan_legs_text(const json_t *sub, char *buf, size_t len);

#endif
