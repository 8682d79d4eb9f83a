/* Finding nodes by mDNS (browse.h). */
#include <errno.h>
#include <stdbool.h>
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
	int *ifindex; /* the interface each node's address was seen on */
	size_t n, cap;
	int pending;
	bool all_for_now;
	bool found; /* @want resolved: stop once the rest are */
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
	if ((b->all_for_now || b->found) && b->pending == 0)
		avahi_simple_poll_quit(b->sp);
}

static bool is_loopback(const char *host)
{
	return !strncmp(host, "127.", 4);
}

/* A node seen on interface @iface at @host. The same node (its TXT id, else
 * its name and port) seen at another address is on two networks: the
 * address of the lower interface index is its address, the other its
 * second (host2); a third is not kept. Avahi also gives a node of this
 * host at 127.0.0.1 (on lo): that address is kept only while it is the
 * node's only one, and never as a second network. */
static void add_node(struct browse *b, const char *name, const char *id,
		     const char *host, unsigned int port, int iface)
{
	struct d4ctl_node node;
	size_t i;

	browse_node_set(&node, name, host, port);
	snprintf(node.id, sizeof(node.id), "%s", id);
	for (i = 0; i < b->n; i++) {
		struct d4ctl_node *o = &b->nodes[i];

		if (!strcmp(o->addr, node.addr))
			return; /* the same address seen twice */
		if (o->port != port || strcmp(o->name, name) ||
		    strcmp(o->id, node.id))
			continue;
		if (is_loopback(host))
			return; /* it has a network address */
		if (is_loopback(o->host)) {
			*o = node; /* its network address, at last */
			b->ifindex[i] = iface;
		} else if (o->host2[0]) {
			return; /* a third network: not kept */
		} else if (iface < b->ifindex[i]) {
			snprintf(node.host2, sizeof(node.host2), "%s", o->host);
			*o = node;
			b->ifindex[i] = iface;
		} else {
			snprintf(o->host2, sizeof(o->host2), "%s", host);
		}
		return;
	}
	if (b->n == b->cap) {
		size_t cap = b->cap ? 2 * b->cap : 8;
		struct d4ctl_node *p = realloc(b->nodes, cap * sizeof(*p));
		int *q;

		if (!p)
			return;
		b->nodes = p;
		q = realloc(b->ifindex, cap * sizeof(*q));
		if (!q)
			return;
		b->ifindex = q;
		b->cap = cap;
	}
	b->ifindex[b->n] = iface;
	b->nodes[b->n++] = node;
	if (b->want && !strcmp(b->want, name))
		b->found = true;
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
		char *ikey = NULL, *ival = NULL;
		AvahiStringList *t = avahi_string_list_find(txt, "name");
		AvahiStringList *ti = avahi_string_list_find(txt, "id");

		avahi_address_snprint(host, sizeof(host), addr);
		if (t)
			avahi_string_list_get_pair(t, &key, &val, NULL);
		if (ti)
			avahi_string_list_get_pair(ti, &ikey, &ival, NULL);
		add_node(b, val && val[0] ? val : name, ival ? ival : "", host,
			 port, iface);
		avahi_free(key);
		avahi_free(val);
		avahi_free(ikey);
		avahi_free(ival);
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
	free(b.ifindex);
	avahi_service_browser_free(sb);
out_client:
	avahi_client_free(b.client); /* frees resolvers and the timeout */
out_poll:
	avahi_simple_poll_free(b.sp);
	if (rc < 0) {
		free(b.nodes);
		free(b.ifindex);
	}
	return rc;
}
