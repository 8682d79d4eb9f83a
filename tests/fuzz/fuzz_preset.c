/* libFuzzer harness for presets (controller-cli/preset.c): a preset file
 * that d4ctl preset apply reads, or that a browser posts to d4ctl ui.
 *
 * Beyond "no crash, no sanitizer report": a refusal names the route or
 * the key; an accepted preset's difference against a fixed network holds
 * only routes that were in the preset or on the network, each a route
 * d4ctl can name (RX and TX texts with channels and a node or stream). */
#include "controller-cli/plan.h"
#include "controller-cli/preset.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* net-sources.json's shape: A sends, B receives three routes. */
static const char net_text[] =
    "{\"nodes\": [{\"name\": \"A\", \"address\": \"10.77.0.1:8080\","
    " \"channels\": {\"tx\": [{\"channel\": 1, \"source\": \"p\","
    " \"source_channel\": 1}, {\"channel\": 2, \"source\": \"p\","
    " \"source_channel\": 2}]}, \"flows\": [{\"name\": \"main\","
    " \"source\": \"p\", \"channels\": [1, 2], \"destination\":"
    " \"239.69.1.1:5004\", \"multicast\": true, \"session\": \"A main\"}],"
    " \"subscriptions\": [], \"vars\": []},"
    " {\"name\": \"B\", \"address\": \"10.77.0.2:8080\", \"flows\": [],"
    " \"subscriptions\": [{\"name\": \"rx1-2\", \"stream\": \"A main\","
    " \"origin\": \"api\", \"latency_us\": 2000, \"rx_channels\": [1, 2],"
    " \"stream_channels\": [1, 2]}, {\"name\": \"rx3\", \"stream\":"
    " \"X\", \"origin\": \"api\", \"rx_channels\": [3], \"stream_channels\":"
    " [2]}, {\"name\": \"mon\", \"stream\": \"Y\", \"origin\": \"config\","
    " \"rx_channels\": [4]}], \"vars\": []}]}";

static void check_text(const json_t *r)
{
	char rx[512], tx[512];

	preset_route_rx(r, rx, sizeof(rx));
	preset_route_tx(r, tx, sizeof(tx));
	if (!strchr(rx, '@') || !strchr(tx, '@'))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static json_t *net, *routes;
	static const char *const parts[] = {"remove", "add", "latency", "keep",
					    "unavailable"};
	json_t *p, *d, *r;
	char err[256] = "";
	size_t i;

	if (!net) {
		net = json_loads(net_text, 0, NULL);
		routes = plan_routes(net);
		if (!net || !routes)
			abort();
	}
	p = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
	if (!p)
		return 0;
	if (preset_check(p, err, sizeof(err)) < 0) {
		if (!err[0])
			abort(); /* a refusal always says why */
		json_decref(p);
		return 0;
	}
	d = preset_diff(p, net, routes);
	if (!d)
		abort();
	for (size_t k = 0; k < 5; k++) {
		json_array_foreach(json_object_get(d, parts[k]), i, r)
		{
			if (k == 0 &&
			    !json_is_string(json_object_get(r, "from")))
				abort(); /* a removal is a route now */
			check_text(r);
		}
	}
	json_decref(d);
	json_decref(p);
	return 0;
}
