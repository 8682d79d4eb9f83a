/* avahi-client on our loop. The client is made with AVAHI_CLIENT_NO_FAIL,
 * so a bus without a daemon waits in CONNECTING; without a bus at all the
 * client cannot be made and a timer retries. When the daemon goes away the
 * client fails with AVAHI_ERR_DISCONNECTED: every Avahi object we hold is
 * dropped and a new client made (outside Avahi's callback, from a timer),
 * and the RUNNING state re-registers every service and browser. Each
 * service has its own entry group so a collision renames only that one. */
#include "discovery/mdns.h"
#include "common/log.h"
#include "common/loop.h"
#include "discovery/avahi_poll.h"

#include <avahi-client/client.h>
#include <avahi-client/lookup.h>
#include <avahi-client/publish.h>
#include <avahi-common/alternative.h>
#include <avahi-common/error.h>
#include <avahi-common/malloc.h>
#include <avahi-common/strlst.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MDNS_RENAMES_MAX 32

struct mdns {
	struct loop *loop;
	AvahiPoll *poll;
	AvahiClient *client;
	struct mdns_callbacks cb;
	void *data;
	enum mdns_state state;
	bool state_reported;
	bool registering; /* set_state() of avahi's start: said as info */
	struct loop_timer *retry;
	uint64_t retry_ns;
	struct mdns_service *services;
	struct mdns_browser *browsers;
};

struct mdns_service {
	struct mdns *m;
	char *type;
	char **subtypes; /* full form, NULL-terminated */
	char *name;
	uint16_t port;
	char **txt; /* NULL-terminated */
	AvahiEntryGroup *group;
	bool established;
	struct mdns_service *prev, *next;
};

struct inst {
	struct mdns_browser *b;
	AvahiIfIndex iface;
	AvahiProtocol proto;
	char *name;
	char *domain;
	AvahiServiceResolver *resolver;
	bool resolved;
	bool local;
	bool own;
	char *host;
	struct in_addr addr;
	uint16_t port;
	char **txt;
	struct inst *next;
};

struct mdns_browser {
	struct mdns *m;
	char *type;
	char *resolve_type; /* @type without "<subtype>._sub." */
	AvahiServiceBrowser *sb;
	mdns_browse_fn fn;
	void *data;
	struct inst *insts;
	unsigned int n_insts;
	bool warned_full;
	struct mdns_browser *prev, *next;
};

static void client_start(struct mdns *m);
static void service_register(struct mdns_service *s);
static void browser_start(struct mdns_browser *b);

const char *mdns_state_name(enum mdns_state s)
{
	switch (s) {
	case MDNS_STATE_CONNECTING:
		return "connecting";
	case MDNS_STATE_RUNNING:
		return "running";
	case MDNS_STATE_FAILURE:
		return "failure";
	}
	return "?";
}

static void set_state(struct mdns *m, enum mdns_state st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_state(struct mdns *m, enum mdns_state st, const char *fmt, ...)
{
	char why[256];
	va_list ap;

	if (m->state_reported && m->state == st)
		return;
	m->state = st;
	m->state_reported = true;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	/* avahi registering its host name is how it starts: not trouble */
	if (st == MDNS_STATE_RUNNING || m->registering)
		log_info("mdns: %s", why);
	else
		log_warn("mdns: %s", why);
	if (m->cb.state)
		m->cb.state(m->data, st, why);
}

/* ---- string lists ---- */

static void strv_free(char **v)
{
	char **p;

	if (!v)
		return;
	for (p = v; *p; p++)
		free(*p);
	free(v);
}

static char **strv_dup(const char *const *v)
{
	size_t n = 0, i;
	char **out;

	while (v && v[n])
		n++;
	out = calloc(n + 1, sizeof(*out));
	if (!out)
		return NULL;
	for (i = 0; i < n; i++) {
		out[i] = strdup(v[i]);
		if (!out[i]) {
			strv_free(out);
			return NULL;
		}
	}
	return out;
}

static AvahiStringList *txt_list(char **txt)
{
	size_t n = 0;

	while (txt && txt[n])
		n++;
	/* an empty TXT record is a single empty string; Avahi adds it */
	return avahi_string_list_new_from_array((const char **)txt, (int)n);
}

/* ---- services ---- */

static void service_rename(struct mdns_service *s)
{
	struct mdns *m = s->m;
	char *alt = avahi_alternative_service_name(s->name);
	char *copy = alt ? strdup(alt) : NULL;
	char *old = s->name;

	avahi_free(alt);
	if (!copy)
		return; /* keep the old name; the next try fails again */
	s->name = copy;
	log_warn("mdns: service name '%s' (%s) is taken, now '%s'", old,
		 s->type, s->name);
	if (m->cb.renamed)
		m->cb.renamed(m->data, s, old, s->name);
	free(old);
}

static void group_cb(AvahiEntryGroup *g, AvahiEntryGroupState state, void *data)
{
	struct mdns_service *s = data;

	s->group = g;
	switch (state) {
	case AVAHI_ENTRY_GROUP_ESTABLISHED:
		s->established = true;
		log_info("mdns: published '%s' (%s) on port %u", s->name,
			 s->type, s->port);
		break;
	case AVAHI_ENTRY_GROUP_COLLISION:
		/* another host has it: take the next name and try again */
		s->established = false;
		service_rename(s);
		avahi_entry_group_reset(g);
		service_register(s);
		break;
	case AVAHI_ENTRY_GROUP_FAILURE:
		s->established = false;
		log_err("mdns: publishing '%s' (%s) failed: %s", s->name,
			s->type,
			avahi_strerror(avahi_client_errno(
			    avahi_entry_group_get_client(g))));
		break;
	case AVAHI_ENTRY_GROUP_UNCOMMITED:
	case AVAHI_ENTRY_GROUP_REGISTERING:
		break;
	}
}

static bool client_running(const struct mdns *m)
{
	return m->client &&
	       avahi_client_get_state(m->client) == AVAHI_CLIENT_S_RUNNING;
}

static void service_register(struct mdns_service *s)
{
	struct mdns *m = s->m;
	AvahiStringList *txt;
	unsigned int tries;
	char **sub;
	int ret = 0;

	if (!client_running(m))
		return;
	if (!s->group) {
		s->group = avahi_entry_group_new(m->client, group_cb, s);
		if (!s->group) {
			ret = avahi_client_errno(m->client);
			goto out_log;
		}
	}
	if (!avahi_entry_group_is_empty(s->group))
		return; /* already added; the group is working on it */
	txt = txt_list(s->txt);
	for (tries = 0; tries < MDNS_RENAMES_MAX; tries++) {
		ret = avahi_entry_group_add_service_strlst(
		    s->group, AVAHI_IF_UNSPEC, AVAHI_PROTO_UNSPEC, 0, s->name,
		    s->type, NULL, NULL, s->port, txt);
		if (ret != AVAHI_ERR_COLLISION)
			break;
		/* a local service has the name already */
		service_rename(s);
		avahi_entry_group_reset(s->group);
	}
	avahi_string_list_free(txt);
	if (ret < 0)
		goto out_reset;
	for (sub = s->subtypes; *sub; sub++) {
		ret = avahi_entry_group_add_service_subtype(
		    s->group, AVAHI_IF_UNSPEC, AVAHI_PROTO_UNSPEC, 0, s->name,
		    s->type, NULL, *sub);
		if (ret < 0)
			goto out_reset;
	}
	ret = avahi_entry_group_commit(s->group);
	if (ret < 0)
		goto out_reset;
	return;

out_reset:
	avahi_entry_group_reset(s->group);
out_log:
	log_err("mdns: publishing '%s' (%s): %s", s->name, s->type,
		avahi_strerror(ret));
}

static bool valid_type(const char *t)
{
	return t && t[0] == '_' && strlen(t) < 128 && strstr(t, "._") &&
	       !strchr(t, ' ');
}

struct mdns_service *mdns_publish(struct mdns *m,
				  const struct mdns_service_desc *d)
{
	struct mdns_service *s;
	size_t n = 0, i;

	if (!m || !d || !valid_type(d->type) || !d->name || !d->name[0] ||
	    strlen(d->name) > 63) {
		log_err("mdns_publish: bad service (type '%s', name '%s')",
			d && d->type ? d->type : "",
			d && d->name ? d->name : "");
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->m = m;
	s->port = d->port;
	s->type = strdup(d->type);
	s->name = strdup(d->name);
	s->txt = strv_dup(d->txt);
	while (d->subtypes && d->subtypes[n])
		n++;
	s->subtypes = calloc(n + 1, sizeof(*s->subtypes));
	if (!s->type || !s->name || !s->txt || !s->subtypes)
		goto out_free;
	for (i = 0; i < n; i++) {
		const char *st = d->subtypes[i];
		int len;

		if (strstr(st, "._sub."))
			s->subtypes[i] = strdup(st);
		else if ((len = snprintf(NULL, 0, "%s._sub.%s", st, d->type)) >
			     0 &&
			 (s->subtypes[i] = malloc((size_t)len + 1)))
			snprintf(s->subtypes[i], (size_t)len + 1, "%s._sub.%s",
				 st, d->type);
		if (!s->subtypes[i])
			goto out_free;
	}
	s->next = m->services;
	if (m->services)
		m->services->prev = s;
	m->services = s;
	service_register(s);
	return s;

out_free:
	strv_free(s->subtypes);
	strv_free(s->txt);
	free(s->name);
	free(s->type);
	free(s);
	return NULL;
}

int mdns_service_set_txt(struct mdns_service *s, const char *const *txt)
{
	AvahiStringList *l;
	char **copy;
	int ret;

	if (!s)
		return -EINVAL;
	copy = strv_dup(txt);
	if (!copy)
		return -ENOMEM;
	strv_free(s->txt);
	s->txt = copy;
	if (!s->group || avahi_entry_group_is_empty(s->group))
		return 0; /* goes out with the next registration */
	l = txt_list(s->txt);
	ret = avahi_entry_group_update_service_txt_strlst(
	    s->group, AVAHI_IF_UNSPEC, AVAHI_PROTO_UNSPEC, 0, s->name, s->type,
	    NULL, l);
	avahi_string_list_free(l);
	if (ret < 0) {
		log_err("mdns: updating TXT of '%s': %s", s->name,
			avahi_strerror(ret));
		return -EIO;
	}
	return 0;
}

const char *mdns_service_name(const struct mdns_service *s)
{
	return s->name;
}

bool mdns_service_established(const struct mdns_service *s)
{
	return s->established;
}

void mdns_unpublish(struct mdns_service *s)
{
	struct mdns *m;

	if (!s)
		return;
	m = s->m;
	if (s->prev)
		s->prev->next = s->next;
	else
		m->services = s->next;
	if (s->next)
		s->next->prev = s->prev;
	if (s->group)
		avahi_entry_group_free(s->group);
	strv_free(s->subtypes);
	strv_free(s->txt);
	free(s->name);
	free(s->type);
	free(s);
}

/* ---- browsers ---- */

static void inst_report(struct inst *in, enum mdns_event ev)
{
	struct mdns_browser *b = in->b;
	struct mdns_instance pub = {
	    .name = in->name,
	    .type = b->resolve_type,
	    .domain = in->domain,
	    .host = in->host ? in->host : "",
	    .addr = in->addr,
	    .port = in->port,
	    .txt = (const char *const *)in->txt,
	    .ifindex = in->iface,
	    .local = in->local,
	    .own = in->own,
	};
	static const char *const none[] = {NULL};

	if (!pub.txt)
		pub.txt = none;
	b->fn(b->data, ev, &pub);
}

static void inst_free(struct inst *in)
{
	if (in->resolver)
		avahi_service_resolver_free(in->resolver);
	strv_free(in->txt);
	free(in->host);
	free(in->name);
	free(in->domain);
	free(in);
}

static void inst_remove(struct inst *in, bool report)
{
	struct mdns_browser *b = in->b;
	struct inst **pp = &b->insts;

	while (*pp != in)
		pp = &(*pp)->next;
	*pp = in->next;
	b->n_insts--;
	if (report && in->resolved)
		inst_report(in, MDNS_INSTANCE_REMOVED);
	inst_free(in);
}

static char **txt_strv(AvahiStringList *l)
{
	unsigned int n = avahi_string_list_length(l), i = 0;
	char **v = calloc(n + 1, sizeof(*v));

	if (!v)
		return NULL;
	for (; l && i < n; l = avahi_string_list_get_next(l)) {
		size_t len = avahi_string_list_get_size(l);
		const uint8_t *t = avahi_string_list_get_text(l);
		const uint8_t *nul = memchr(t, '\0', len);

		if (nul)
			len = (size_t)(nul - t);
		if (len == 0)
			continue; /* the empty record */
		v[i] = strndup((const char *)t, len);
		if (!v[i]) {
			strv_free(v);
			return NULL;
		}
		i++;
	}
	return v;
}

static void resolve_cb(AvahiServiceResolver *r, AvahiIfIndex iface,
		       AvahiProtocol proto, AvahiResolverEvent event,
		       const char *name, const char *type, const char *domain,
		       const char *host, const AvahiAddress *a, uint16_t port,
		       AvahiStringList *txt, AvahiLookupResultFlags flags,
		       void *data)
{
	struct inst *in = data;
	char **tv;
	char *h;

	if (event != AVAHI_RESOLVER_FOUND) {
		log_debug("mdns: resolving '%s' (%s): %s", name, type,
			  avahi_strerror(avahi_client_errno(
			      avahi_service_resolver_get_client(r))));
		/* the browser reports its removal if it goes */
		avahi_service_resolver_free(r);
		in->resolver = NULL;
		return;
	}
	if (!a || a->proto != AVAHI_PROTO_INET)
		return;
	tv = txt_strv(txt);
	h = strdup(host ? host : "");
	if (!tv || !h) {
		strv_free(tv);
		free(h);
		return;
	}
	strv_free(in->txt);
	free(in->host);
	in->txt = tv;
	in->host = h;
	in->addr.s_addr = a->data.ipv4.address;
	in->port = port;
	if (in->resolved) {
		inst_report(in, MDNS_INSTANCE_UPDATED);
	} else {
		in->resolved = true;
		inst_report(in, MDNS_INSTANCE_ADDED);
	}
}

static struct inst *inst_find(struct mdns_browser *b, AvahiIfIndex iface,
			      AvahiProtocol proto, const char *name,
			      const char *domain)
{
	struct inst *in;

	for (in = b->insts; in; in = in->next)
		if (in->iface == iface && in->proto == proto &&
		    strcmp(in->name, name) == 0 &&
		    strcmp(in->domain, domain) == 0)
			return in;
	return NULL;
}

static void browse_cb(AvahiServiceBrowser *sb, AvahiIfIndex iface,
		      AvahiProtocol proto, AvahiBrowserEvent event,
		      const char *name, const char *type, const char *domain,
		      AvahiLookupResultFlags flags, void *data)
{
	struct mdns_browser *b = data;
	struct inst *in;

	switch (event) {
	case AVAHI_BROWSER_NEW:
		if (inst_find(b, iface, proto, name, domain))
			return;
		if (b->n_insts >= MDNS_BROWSE_MAX) {
			if (!b->warned_full)
				log_warn("mdns: more than %d '%s' services; "
					 "ignoring the rest",
					 MDNS_BROWSE_MAX, b->type);
			b->warned_full = true;
			return;
		}
		in = calloc(1, sizeof(*in));
		if (!in)
			return;
		in->b = b;
		in->iface = iface;
		in->proto = proto;
		in->local = flags & AVAHI_LOOKUP_RESULT_LOCAL;
		in->own = flags & AVAHI_LOOKUP_RESULT_OUR_OWN;
		in->name = strdup(name);
		in->domain = strdup(domain);
		if (!in->name || !in->domain) {
			inst_free(in);
			return;
		}
		in->resolver = avahi_service_resolver_new(
		    b->m->client, iface, proto, name, b->resolve_type, domain,
		    AVAHI_PROTO_INET, 0, resolve_cb, in);
		if (!in->resolver) {
			log_debug(
			    "mdns: resolver for '%s': %s", name,
			    avahi_strerror(avahi_client_errno(b->m->client)));
			inst_free(in);
			return;
		}
		in->next = b->insts;
		b->insts = in;
		b->n_insts++;
		break;
	case AVAHI_BROWSER_REMOVE:
		in = inst_find(b, iface, proto, name, domain);
		if (in)
			inst_remove(in, true);
		break;
	case AVAHI_BROWSER_FAILURE:
		log_err("mdns: browsing %s: %s", b->type,
			avahi_strerror(avahi_client_errno(
			    avahi_service_browser_get_client(sb))));
		break;
	case AVAHI_BROWSER_ALL_FOR_NOW:
	case AVAHI_BROWSER_CACHE_EXHAUSTED:
		break;
	}
}

static void browser_start(struct mdns_browser *b)
{
	struct mdns *m = b->m;

	if (b->sb || !client_running(m))
		return;
	b->sb = avahi_service_browser_new(m->client, AVAHI_IF_UNSPEC,
					  AVAHI_PROTO_INET, b->type, NULL, 0,
					  browse_cb, b);
	if (!b->sb)
		log_err("mdns: browsing %s: %s", b->type,
			avahi_strerror(avahi_client_errno(m->client)));
}

/* Drop the Avahi side of @b; its instances are reported gone. */
static void browser_stop(struct mdns_browser *b, bool report)
{
	while (b->insts)
		inst_remove(b->insts, report);
	if (b->sb)
		avahi_service_browser_free(b->sb);
	b->sb = NULL;
	b->warned_full = false;
}

struct mdns_browser *mdns_browse(struct mdns *m, const char *type,
				 mdns_browse_fn fn, void *data)
{
	struct mdns_browser *b;
	const char *sub;

	if (!m || !fn || !valid_type(type)) {
		log_err("mdns_browse: bad arguments (type '%s')",
			type ? type : "");
		return NULL;
	}
	b = calloc(1, sizeof(*b));
	if (!b)
		return NULL;
	b->m = m;
	b->fn = fn;
	b->data = data;
	b->type = strdup(type);
	sub = strstr(type, "._sub.");
	b->resolve_type = strdup(sub ? sub + strlen("._sub.") : type);
	if (!b->type || !b->resolve_type) {
		free(b->type);
		free(b->resolve_type);
		free(b);
		return NULL;
	}
	b->next = m->browsers;
	if (m->browsers)
		m->browsers->prev = b;
	m->browsers = b;
	browser_start(b);
	return b;
}

void mdns_browser_free(struct mdns_browser *b)
{
	struct mdns *m;

	if (!b)
		return;
	m = b->m;
	browser_stop(b, false);
	if (b->prev)
		b->prev->next = b->next;
	else
		m->browsers = b->next;
	if (b->next)
		b->next->prev = b->prev;
	free(b->type);
	free(b->resolve_type);
	free(b);
}

const char *mdns_txt_get(const struct mdns_instance *inst, const char *key)
{
	size_t kl = strlen(key);
	const char *const *t;

	for (t = inst->txt; t && *t; t++) {
		if (strncasecmp(*t, key, kl) != 0)
			continue;
		if ((*t)[kl] == '=')
			return *t + kl + 1;
		if ((*t)[kl] == '\0')
			return "";
	}
	return NULL;
}

/* ---- the client ---- */

/* Forget every Avahi object, then the client itself. */
static void client_drop(struct mdns *m, bool report)
{
	struct mdns_service *s;
	struct mdns_browser *b;

	for (s = m->services; s; s = s->next) {
		if (s->group)
			avahi_entry_group_free(s->group);
		s->group = NULL;
		s->established = false;
	}
	for (b = m->browsers; b; b = b->next)
		browser_stop(b, report);
	if (m->client)
		avahi_client_free(m->client);
	m->client = NULL;
}

static void client_running_now(struct mdns *m)
{
	struct mdns_service *s;
	struct mdns_browser *b;
	const char *host = avahi_client_get_host_name_fqdn(m->client);

	set_state(m, MDNS_STATE_RUNNING, "connected to avahi-daemon (host %s)",
		  host ? host : "?");
	for (s = m->services; s; s = s->next)
		service_register(s);
	for (b = m->browsers; b; b = b->next)
		browser_start(b);
}

static void client_cb(AvahiClient *c, AvahiClientState state, void *data)
{
	struct mdns *m = data;
	struct mdns_service *s;
	int err;

	/* the first calls come from inside avahi_client_new() */
	m->client = c;
	switch (state) {
	case AVAHI_CLIENT_S_RUNNING:
		client_running_now(m);
		break;
	case AVAHI_CLIENT_S_COLLISION:
	case AVAHI_CLIENT_S_REGISTERING:
		/* the host name is being (re)registered: withdraw, and
		 * publish again when running */
		for (s = m->services; s; s = s->next) {
			if (s->group)
				avahi_entry_group_reset(s->group);
			s->established = false;
		}
		m->registering = state == AVAHI_CLIENT_S_REGISTERING;
		set_state(m, MDNS_STATE_CONNECTING,
			  "avahi-daemon is registering the host name");
		m->registering = false;
		break;
	case AVAHI_CLIENT_CONNECTING:
		set_state(m, MDNS_STATE_CONNECTING,
			  "avahi-daemon is not running; waiting for it");
		break;
	case AVAHI_CLIENT_FAILURE:
		err = avahi_client_errno(c);
		set_state(m, MDNS_STATE_FAILURE,
			  "avahi-daemon connection failed (%s); reconnecting",
			  avahi_strerror(err));
		/* not from inside Avahi's own callback */
		loop_timer_arm(m->retry,
			       err == AVAHI_ERR_DISCONNECTED ? 0 : m->retry_ns,
			       0);
		break;
	}
}

static void client_start(struct mdns *m)
{
	AvahiClient *c;
	int err = 0;

	c = avahi_client_new(m->poll, AVAHI_CLIENT_NO_FAIL, client_cb, m, &err);
	if (!c) {
		/* client_cb may have seen the client avahi just freed */
		m->client = NULL;
		set_state(m, MDNS_STATE_FAILURE,
			  "cannot reach avahi-daemon (%s: no D-Bus system "
			  "bus?); retrying every %llu ms",
			  avahi_strerror(err),
			  (unsigned long long)(m->retry_ns / 1000000u));
		loop_timer_arm(m->retry, m->retry_ns, 0);
		return;
	}
	m->client = c;
}

static void retry_fire(void *data)
{
	struct mdns *m = data;

	client_drop(m, true);
	client_start(m);
}

struct mdns *mdns_new(struct loop *loop, const struct mdns_callbacks *cb,
		      void *data)
{
	struct mdns *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	m->loop = loop;
	m->data = data;
	if (cb)
		m->cb = *cb;
	m->state = MDNS_STATE_CONNECTING;
	m->retry_ns = MDNS_RETRY_NS;
	m->poll = avahi_poll_new(loop);
	m->retry = loop_timer_new(loop, retry_fire, m);
	if (!m->poll || !m->retry) {
		mdns_destroy(m);
		return NULL;
	}
	client_start(m);
	return m;
}

void mdns_destroy(struct mdns *m)
{
	if (!m)
		return;
	client_drop(m, false);
	while (m->services)
		mdns_unpublish(m->services);
	while (m->browsers)
		mdns_browser_free(m->browsers);
	loop_timer_free(m->retry);
	avahi_poll_free(m->poll);
	free(m);
}

void mdns_set_retry_interval(struct mdns *m, uint64_t ns)
{
	m->retry_ns = ns ? ns : MDNS_RETRY_NS;
	/* an attempt already scheduled keeps its time unless sooner now */
	if (loop_timer_armed(m->retry) &&
	    loop_timer_deadline(m->retry) > loop_now_ns() + m->retry_ns)
		loop_timer_arm(m->retry, m->retry_ns, 0);
}

enum mdns_state mdns_get_state(const struct mdns *m)
{
	return m->state;
}

const char *mdns_host_name(struct mdns *m)
{
	if (!client_running(m))
		return NULL;
	return avahi_client_get_host_name_fqdn(m->client);
}
