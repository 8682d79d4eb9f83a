/* Finding nodes by mDNS (browse.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <avahi-client/client.h>
#include <avahi-client/lookup.h>
#include <avahi-common/error.h>
#include <avahi-common/malloc.h>
#include <avahi-common/simple-watch.h>
#include <avahi-common/timeval.h>

#include "controller-cli/browse.h"

struct browse {
	AvahiSimplePoll *sp;
	AvahiClient *client;
	struct d4ctl_node *nodes;
	size_t n, cap;
	int pending;
	bool all_for_now;
	const char *want;
};

void browse_node_set(struct d4ctl_node *node, const char *name,
		     const char *host, unsigned int port)
{
	memset(node, 0, sizeof(*node));
	snprintf(node->name, sizeof(node->name), "%s", name);
	snprintf(node->host, sizeof(node->host), "%s", host);
	node->port = port;
	snprintf(node->addr, sizeof(node->addr), "%s:%u", host, port);
	snprintf(node->base, sizeof(node->base), "http://%s:%u/api/v1", host,
		 port);
}

static void maybe_done(struct browse *b)
{
	if (b->all_for_now && b->pending == 0)
		avahi_simple_poll_quit(b->sp);
}

static void add_node(struct browse *b, const char *name, const char *host,
		     unsigned int port)
{
	struct d4ctl_node node;

	browse_node_set(&node, name, host, port);
	for (size_t i = 0; i < b->n; i++)
		if (!strcmp(b->nodes[i].addr, node.addr))
			return; /* the same node seen on two interfaces */
	if (b->n == b->cap) {
		size_t cap = b->cap ? 2 * b->cap : 8;
		struct d4ctl_node *p = realloc(b->nodes, cap * sizeof(*p));

		if (!p)
			return;
		b->nodes = p;
		b->cap = cap;
	}
	b->nodes[b->n++] = node;
	if (b->want && !strcmp(b->want, name))
		avahi_simple_poll_quit(b->sp);
}

static void on_resolve(AvahiServiceResolver *r, AvahiIfIndex iface,
		       AvahiProtocol proto, AvahiResolverEvent event,
		       const char *name, const char *type, const char *domain,
		       const char *host_name, const AvahiAddress *addr,
		       uint16_t port, AvahiStringList *txt,
		       AvahiLookupResultFlags flags, void *data)
{
	struct browse *b = data;

	if (event == AVAHI_RESOLVER_FOUND && addr) {
		char host[AVAHI_ADDRESS_STR_MAX], *key = NULL, *val = NULL;
		AvahiStringList *t = avahi_string_list_find(txt, "name");

		avahi_address_snprint(host, sizeof(host), addr);
		if (t)
			avahi_string_list_get_pair(t, &key, &val, NULL);
		add_node(b, val && val[0] ? val : name, host, port);
		avahi_free(key);
		avahi_free(val);
	}
	avahi_service_resolver_free(r);
	b->pending--;
	maybe_done(b);
}

static void on_browse(AvahiServiceBrowser *sb, AvahiIfIndex iface,
		      AvahiProtocol proto, AvahiBrowserEvent event,
		      const char *name, const char *type, const char *domain,
		      AvahiLookupResultFlags flags, void *data)
{
	struct browse *b = data;

	switch (event) {
	case AVAHI_BROWSER_NEW:
		if (avahi_service_resolver_new(b->client, iface, proto, name,
					       type, domain, AVAHI_PROTO_INET,
					       0, on_resolve, b))
			b->pending++;
		break;
	case AVAHI_BROWSER_ALL_FOR_NOW:
		b->all_for_now = true;
		maybe_done(b);
		break;
	case AVAHI_BROWSER_FAILURE:
		avahi_simple_poll_quit(b->sp);
		break;
	default:
		break;
	}
}

static void on_timeout(AvahiTimeout *t, void *data)
{
	struct browse *b = data;

	avahi_simple_poll_quit(b->sp);
}

static void on_client(AvahiClient *c, AvahiClientState state, void *data)
{
	struct browse *b = data;

	if (state == AVAHI_CLIENT_FAILURE)
		avahi_simple_poll_quit(b->sp);
}

int browse_nodes(double seconds, const char *want, struct d4ctl_node **nodes,
		 char *err, size_t err_len)
{
	struct browse b = {.want = want};
	AvahiServiceBrowser *sb = NULL;
	const AvahiPoll *api;
	struct timeval tv;
	int rc = 0, aerr;

	*nodes = NULL;
	b.sp = avahi_simple_poll_new();
	if (!b.sp) {
		snprintf(err, err_len, "avahi_simple_poll_new failed");
		return -ENOMEM;
	}
	api = avahi_simple_poll_get(b.sp);
	b.client = avahi_client_new(api, 0, on_client, &b, &aerr);
	if (!b.client) {
		snprintf(err, err_len, "mDNS: avahi-daemon: %s",
			 avahi_strerror(aerr));
		rc = -EHOSTUNREACH;
		goto out_poll;
	}
	sb = avahi_service_browser_new(b.client, AVAHI_IF_UNSPEC,
				       AVAHI_PROTO_INET, BROWSE_TYPE, NULL, 0,
				       on_browse, &b);
	if (!sb) {
		snprintf(err, err_len, "mDNS: browsing %s: %s", BROWSE_TYPE,
			 avahi_strerror(avahi_client_errno(b.client)));
		rc = -EHOSTUNREACH;
		goto out_client;
	}
	api->timeout_new(api,
			 avahi_elapse_time(&tv, (unsigned)(seconds * 1000), 0),
			 on_timeout, &b);
	avahi_simple_poll_loop(b.sp);
	*nodes = b.nodes;
	rc = (int)b.n;
	avahi_service_browser_free(sb);
out_client:
	avahi_client_free(b.client); /* frees resolvers and the timeout */
out_poll:
	avahi_simple_poll_free(b.sp);
	if (rc < 0)
		free(b.nodes);
	return rc;
}
