/* Presets: a network's routing saved to a file and applied later, with
 * the difference shown first (d4ctl preset, d4ctl ui). Pure: from routes
 * (plan_routes()) to a preset, and from a preset and the routes now to
 * the steps that make them equal. Tested against fake networks.
 *
 * A preset is {"d4ctl_preset": 1, "nodes": [RX node names it covers],
 * "routes": [{"rx_node", "rx_channels", "tx_node", "tx_channels" |
 * "stream", "stream_channels", "latency_us"}]}. Applying it touches only
 * routes ending at its nodes, and only routes (subscriptions with
 * rx_channels made through the API): a node's config file is its own. */
#ifndef D4_CONTROLLER_CLI_PRESET_H
#define D4_CONTROLLER_CLI_PRESET_H

#include <stddef.h>

#include <jansson.h>

#define PRESET_VERSION 1

/* A preset of @routes (plan_routes() of @net): every route with RX
 * channels from a node's TX channels or a stream. Routes it cannot hold
 * (no RX channels, from an address) go into *skipped (a new array of
 * their "rx" texts; may be NULL). New reference, or NULL. */
json_t *preset_from_routes(const json_t *net, const json_t *routes,
			   json_t **skipped);

/* Check a preset read from a file. 0, or -EINVAL with the reason (the
 * route's index, the key) in @err. */
int preset_check(const json_t *preset, char *err, size_t err_len);

/* What applying @preset to the network @net (its plan_routes() in
 * @routes) does: {"remove": [route], "add": [route], "latency": [route
 * with "from_us"], "keep": [route], "unavailable": [route with
 * "why"]}. "remove" holds routes now (plan_routes() objects), the others
 * preset routes. New reference, or NULL. */
json_t *preset_diff(const json_t *preset, const json_t *net,
		    const json_t *routes);

/* "3-4@B" and "1-2@A" (or 1-2@"stream") of a preset route, for the
 * planner and for people. */
void preset_route_rx(const json_t *r, char *buf, size_t len);
void preset_route_tx(const json_t *r, char *buf, size_t len);

#endif
