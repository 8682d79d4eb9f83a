/* Presets (preset.h): routes to a file and back, and the difference. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "controller-cli/args.h"
#include "controller-cli/preset.h"

static const char *jstr(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "";
}

static unsigned int channels(const json_t *o, const char *key, uint8_t *ch)
{
	json_t *a = json_object_get(o, key), *c;
	unsigned int n = 0;
	size_t i;

	json_array_foreach(a, i, c)
	{
		if (n < ARGS_MAX_CHANNELS && json_is_integer(c))
			ch[n++] = (uint8_t)json_integer_value(c);
	}
	return n;
}

static void format(const json_t *o, const char *key, char *buf, size_t len)
{
	uint8_t ch[ARGS_MAX_CHANNELS];

	args_format_channels(ch, channels(o, key, ch), buf, len);
}

void preset_route_rx(const json_t *r, char *buf, size_t len)
{
	char chans[96];

	format(r, "rx_channels", chans, sizeof(chans));
	snprintf(buf, len, "%s@%s", chans,
		 jstr(r, json_object_get(r, "rx_node") ? "rx_node" : "node"));
}

void preset_route_tx(const json_t *r, char *buf, size_t len)
{
	char chans[96];

	if (jstr(r, "stream")[0]) {
		format(r, "stream_channels", chans, sizeof(chans));
		snprintf(buf, len, "%s@\"%s\"", chans, jstr(r, "stream"));
	} else {
		format(r, "tx_channels", chans, sizeof(chans));
		snprintf(buf, len, "%s@%s", chans, jstr(r, "tx_node"));
	}
}

static bool has_zero(const json_t *a)
{
	json_t *c;
	size_t i;

	json_array_foreach(a, i, c)
	{
		if (json_integer_value(c) == 0)
			return true;
	}
	return false;
}

json_t *preset_from_routes(const json_t *net, const json_t *routes,
			   json_t **skipped)
{
	json_t *out = json_array(), *nodes = json_array(), *r, *n;
	size_t i;

	if (skipped)
		*skipped = json_array();
	json_array_foreach(json_object_get(net, "nodes"), i, n)
	    json_array_append_new(nodes, json_string(jstr(n, "name")));
	json_array_foreach(routes, i, r)
	{
		const json_t *rx = json_object_get(r, "rx_channels");
		const json_t *tx = json_object_get(r, "tx_channels");
		const json_t *sch = json_object_get(r, "stream_channels");
		json_t *p;

		if (!json_array_size(rx) || (tx && has_zero(tx)) ||
		    (!tx && !json_array_size(sch))) {
			if (skipped)
				json_array_append_new(
				    *skipped, json_string(jstr(r, "rx")));
			continue;
		}
		p = json_pack(
		    "{s:s, s:O, s:I}", "rx_node", jstr(r, "node"),
		    "rx_channels", rx, "latency_us",
		    json_integer_value(json_object_get(r, "latency_us")));
		if (tx) {
			json_object_set_new(p, "tx_node",
					    json_string(jstr(r, "tx_node")));
			json_object_set(p, "tx_channels", (json_t *)tx);
		} else {
			json_object_set_new(p, "stream",
					    json_string(jstr(r, "stream")));
			json_object_set(p, "stream_channels", (json_t *)sch);
		}
		json_array_append_new(out, p);
	}
	return json_pack("{s:i, s:o, s:o}", "d4ctl_preset", PRESET_VERSION,
			 "nodes", nodes, "routes", out);
}

static int check_channels(const json_t *r, const char *key, size_t i, char *err,
			  size_t err_len)
{
	json_t *a = json_object_get(r, key), *c;
	size_t k;

	if (!json_is_array(a) || !json_array_size(a) ||
	    json_array_size(a) > ARGS_MAX_CHANNELS) {
		snprintf(err, err_len,
			 "route %zu: '%s' must be a list of 1 to %d channels",
			 i + 1, key, ARGS_MAX_CHANNELS);
		return -EINVAL;
	}
	json_array_foreach(a, k, c)
	{
		if (!json_is_integer(c) || json_integer_value(c) < 1 ||
		    json_integer_value(c) > ARGS_MAX_CHANNELS) {
			snprintf(err, err_len,
				 "route %zu: '%s' holds a channel that is not "
				 "1-%d",
				 i + 1, key, ARGS_MAX_CHANNELS);
			return -EINVAL;
		}
	}
	return 0;
}

int preset_check(const json_t *preset, char *err, size_t err_len)
{
	json_t *routes = json_object_get(preset, "routes"), *r, *n;
	size_t i;

	if (!json_is_object(preset) ||
	    json_integer_value(json_object_get(preset, "d4ctl_preset")) !=
		PRESET_VERSION) {
		snprintf(err, err_len,
			 "not a d4ctl preset (no \"d4ctl_preset\": %d)",
			 PRESET_VERSION);
		return -EINVAL;
	}
	if (!json_is_array(routes) ||
	    !json_is_array(json_object_get(preset, "nodes"))) {
		snprintf(err, err_len, "'routes' and 'nodes' must be lists");
		return -EINVAL;
	}
	json_array_foreach(json_object_get(preset, "nodes"), i, n)
	{
		if (!json_is_string(n)) {
			snprintf(err, err_len, "node %zu is not a name", i + 1);
			return -EINVAL;
		}
	}
	json_array_foreach(routes, i, r)
	{
		bool stream = json_is_string(json_object_get(r, "stream"));
		json_t *lat = json_object_get(r, "latency_us");

		if (!json_is_string(json_object_get(r, "rx_node")) ||
		    (!stream &&
		     !json_is_string(json_object_get(r, "tx_node")))) {
			snprintf(err, err_len,
				 "route %zu: needs 'rx_node' and 'tx_node' "
				 "(or 'stream')",
				 i + 1);
			return -EINVAL;
		}
		if (check_channels(r, "rx_channels", i, err, err_len) < 0 ||
		    check_channels(r,
				   stream ? "stream_channels" : "tx_channels",
				   i, err, err_len) < 0)
			return -EINVAL;
		if (json_array_size(json_object_get(r, "rx_channels")) !=
		    json_array_size(json_object_get(
			r, stream ? "stream_channels" : "tx_channels"))) {
			snprintf(err, err_len,
				 "route %zu: as many TX as RX channels", i + 1);
			return -EINVAL;
		}
		if (lat && (!json_is_integer(lat) ||
			    (json_integer_value(lat) &&
			     (json_integer_value(lat) < 250 ||
			      json_integer_value(lat) > 100000)))) {
			snprintf(err, err_len,
				 "route %zu: 'latency_us' must be 250-100000",
				 i + 1);
			return -EINVAL;
		}
	}
	return 0;
}

static bool same_array(const json_t *a, const json_t *b)
{
	return json_is_array(a) && json_equal((json_t *)a, (json_t *)b);
}

/* Preset route @p and route now @r: the same channels from the same
 * place (latency aside). */
static bool same_route(const json_t *p, const json_t *r)
{
	if (strcmp(jstr(p, "rx_node"), jstr(r, "node")) ||
	    !same_array(json_object_get(p, "rx_channels"),
			json_object_get(r, "rx_channels")))
		return false;
	if (jstr(p, "stream")[0])
		return !strcmp(jstr(p, "stream"), jstr(r, "stream")) &&
		       same_array(json_object_get(p, "stream_channels"),
				  json_object_get(r, "stream_channels"));
	return !strcmp(jstr(p, "tx_node"), jstr(r, "tx_node")) &&
	       same_array(json_object_get(p, "tx_channels"),
			  json_object_get(r, "tx_channels"));
}

static const json_t *net_node(const json_t *net, const char *name)
{
	json_t *n;
	size_t i;

	json_array_foreach(json_object_get(net, "nodes"), i, n)
	{
		if (!strcmp(jstr(n, "name"), name))
			return n;
	}
	return NULL;
}

static bool covers(const json_t *preset, const char *node)
{
	json_t *n;
	size_t i;

	json_array_foreach(json_object_get(preset, "nodes"), i, n)
	{
		if (!strcmp(json_string_value(n), node))
			return true;
	}
	return false;
}

/* Whether route now @r is a route d4ctl may take away: RX channels, made
 * through the API (the node's subscription says so). */
static bool removable(const json_t *net, const json_t *r)
{
	const json_t *n = net_node(net, jstr(r, "node")), *s;
	size_t i;

	if (!json_array_size(json_object_get(r, "rx_channels")))
		return false;
	json_array_foreach(json_object_get(n, "subscriptions"), i, s)
	{
		if (!strcmp(jstr(s, "name"), jstr(r, "subscription")))
			return !strcmp(jstr(s, "origin"), "api");
	}
	return false;
}

json_t *preset_diff(const json_t *preset, const json_t *net,
		    const json_t *routes)
{
	json_t *d = json_pack("{s:[], s:[], s:[], s:[], s:[]}", "remove", "add",
			      "latency", "keep", "unavailable");
	json_t *p, *r;
	size_t i, j;

	if (!d)
		return NULL;
	/* Routes now at the preset's nodes that it does not hold go. */
	json_array_foreach(routes, i, r)
	{
		bool kept = false;

		if (!covers(preset, jstr(r, "node")) || !removable(net, r))
			continue;
		json_array_foreach(json_object_get(preset, "routes"), j, p)
		    kept = kept || same_route(p, r);
		if (!kept)
			json_array_append(json_object_get(d, "remove"), r);
	}
	json_array_foreach(json_object_get(preset, "routes"), i, p)
	{
		const json_t *now = NULL;
		const char *why = NULL;
		json_int_t want, had;

		json_array_foreach(routes, j, r)
		{
			if (same_route(p, r))
				now = r;
		}
		if (!net_node(net, jstr(p, "rx_node")))
			why = "its RX node is not on the network";
		else if (!jstr(p, "stream")[0] &&
			 !net_node(net, jstr(p, "tx_node")))
			why = "its TX node is not on the network";
		if (why && !now) {
			json_t *u = json_deep_copy(p);

			json_object_set_new(u, "why", json_string(why));
			json_array_append_new(json_object_get(d, "unavailable"),
					      u);
			continue;
		}
		if (!now) {
			json_array_append(json_object_get(d, "add"), p);
			continue;
		}
		want = json_integer_value(json_object_get(p, "latency_us"));
		had = json_integer_value(json_object_get(now, "latency_us"));
		if (want && want != had) {
			json_t *l = json_deep_copy(p);

			json_object_set_new(l, "from_us", json_integer(had));
			json_object_set_new(
			    l, "subscription",
			    json_string(jstr(now, "subscription")));
			json_array_append_new(json_object_get(d, "latency"), l);
		} else {
			json_array_append(json_object_get(d, "keep"), p);
		}
	}
	return d;
}
