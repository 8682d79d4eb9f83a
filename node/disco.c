/* Discovery on the node (see disco.h). Everything here runs on the control
 * loop; the media thread never sees it. The libraries in discovery/ do the
 * protocols; this file decides what the node says and remembers. */
#include "node/disco.h"
#include "common/log.h"
#include "common/loop.h"
#include "discovery/mdns.h"
#include "discovery/rtsp.h"
#include "discovery/sap.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DESCRIBE_TIMEOUT_MS 3000

struct disco_flow {
	bool used;
	char name[SDP_NAME_MAX];     /* the session name (s=) */
	char svc_name[SDP_NAME_MAX]; /* mDNS name; differs after a collision */
	char *sdp;
	struct mdns_service *svc;
};

/* A RAVENNA session seen by mDNS; its SDP comes by DESCRIBE. */
struct ravenna {
	bool used;
	char name[SDP_NAME_MAX];
	int ifindex;
	struct sockaddr_in server;
	char host[256];
	char *sdp;
	struct rtsp_describe *describe;
	struct disco *d;
};

struct peer {
	bool used;
	char name[64];
	int ifindex;
	struct in_addr addr;
	uint16_t port;
};

struct disco {
	struct loop *loop;
	struct disco_config cfg;
	char node_name[64], node_id[20], ifname[32];

	struct sap_announcer *announcer;
	struct sap_table *table;
	struct sap_listener *listener;
	uint64_t sap_generation_seen;

	struct rtsp_server *rtsp;
	struct mdns *mdns;
	struct mdns_service *node_svc;
	struct mdns_browser *ravenna_browser, *node_browser;

	struct disco_flow flows[DISCO_MAX_FLOWS];
	struct ravenna ravenna[DISCO_MAX_RAVENNA];
	struct peer peers[DISCO_MAX_PEERS];
	uint64_t generation;
	struct log_ratelimit rl;      /* per-session SAP lines */
	struct log_ratelimit full_rl; /* "table full" lines */
};

/* ---- RTSP responder: DESCRIBE by session name ---- */

static const char *rtsp_lookup(void *data, const char *name)
{
	struct disco *d = data;
	unsigned int i;

	for (i = 0; i < DISCO_MAX_FLOWS; i++) {
		struct disco_flow *f = &d->flows[i];

		if (f->used && (!strcmp(f->name, name) ||
				!strcmp(f->svc_name, name)))
			return f->sdp;
	}
	return NULL;
}

/* ---- mDNS ---- */

static void mdns_state(void *data, enum mdns_state st, const char *why)
{
	(void)data;
	(void)why; /* discovery/mdns.c logs failures and retries itself */
	if (st == MDNS_STATE_RUNNING)
		log_info("mdns: avahi-daemon connected; publishing");
}

static void mdns_renamed(void *data, struct mdns_service *svc,
			 const char *old_name, const char *new_name)
{
	struct disco *d = data;
	unsigned int i;

	log_warn("mdns: name collision: '%s' is now published as '%s'",
		 old_name, new_name);
	for (i = 0; i < DISCO_MAX_FLOWS; i++)
		if (d->flows[i].used && d->flows[i].svc == svc)
			snprintf(d->flows[i].svc_name,
				 sizeof(d->flows[i].svc_name), "%s", new_name);
}

static void txt_build(struct disco *d, char buf[6][80], const char *txt[7])
{
	snprintf(buf[0], 80, "id=%s", d->node_id);
	snprintf(buf[1], 80, "name=%s", d->node_name);
	snprintf(buf[2], 80, "version=%s", DISCO_NODE_VERSION);
	snprintf(buf[3], 80, "tx=%u", d->cfg.tx_channels);
	snprintf(buf[4], 80, "rx=%u", d->cfg.rx_channels);
	snprintf(buf[5], 80, "api=%s", DISCO_API_PATH);
	for (int i = 0; i < 6; i++)
		txt[i] = buf[i];
	txt[6] = NULL;
}

static void flow_publish(struct disco *d, struct disco_flow *f)
{
	static const char *const subtypes[] = {MDNS_SUBTYPE_RAVENNA, NULL};
	struct mdns_service_desc desc = {
	    .type = MDNS_TYPE_RTSP,
	    .subtypes = subtypes,
	    .name = f->name,
	    .port = rtsp_server_port(d->rtsp),
	};

	if (!d->mdns || f->svc)
		return;
	f->svc = mdns_publish(d->mdns, &desc);
	memcpy(f->svc_name, f->name, sizeof(f->svc_name));
}

static struct ravenna *ravenna_find(struct disco *d, const char *name,
				    int ifindex)
{
	unsigned int i;

	for (i = 0; i < DISCO_MAX_RAVENNA; i++)
		if (d->ravenna[i].used && d->ravenna[i].ifindex == ifindex &&
		    !strcmp(d->ravenna[i].name, name))
			return &d->ravenna[i];
	return NULL;
}

static void ravenna_drop(struct ravenna *r)
{
	rtsp_describe_cancel(r->describe);
	free(r->sdp);
	memset(r, 0, sizeof(*r));
}

static void described(void *data, int err, int status, const char *sdp,
		      size_t len)
{
	struct ravenna *r = data;
	struct disco *d = r->d;
	char *copy;

	r->describe = NULL;
	if (err || status != 200) {
		log_warn("ravenna: DESCRIBE of '%s' at %s: %s", r->name,
			 inet_ntoa(r->server.sin_addr),
			 err ? strerror(-err) : rtsp_reason(status));
		return;
	}
	copy = strndup(sdp, len);
	if (!copy)
		return;
	if (r->sdp && !strcmp(r->sdp, copy)) {
		free(copy);
		return;
	}
	free(r->sdp);
	r->sdp = copy;
	d->generation++;
	log_info("ravenna: session '%s' at %s:%u described", r->name,
		 inet_ntoa(r->server.sin_addr), ntohs(r->server.sin_port));
}

static void ravenna_event(void *data, enum mdns_event ev,
			  const struct mdns_instance *in)
{
	struct disco *d = data;
	struct ravenna *r = ravenna_find(d, in->name, in->ifindex);
	char uri[RTSP_URI_MAX];
	unsigned int i;

	if (in->own)
		return;
	if (ev == MDNS_INSTANCE_REMOVED) {
		if (r) {
			log_info("ravenna: session '%s' withdrawn", r->name);
			ravenna_drop(r);
			d->generation++;
		}
		return;
	}
	if (!r) {
		for (i = 0; i < DISCO_MAX_RAVENNA && d->ravenna[i].used; i++)
			;
		if (i == DISCO_MAX_RAVENNA) {
			log_warn("ravenna: more than %d sessions; '%s' ignored",
				 DISCO_MAX_RAVENNA, in->name);
			return;
		}
		r = &d->ravenna[i];
		r->used = true;
		r->d = d;
		r->ifindex = in->ifindex;
		snprintf(r->name, sizeof(r->name), "%s", in->name);
	}
	r->server = (struct sockaddr_in){.sin_family = AF_INET,
					 .sin_addr = in->addr,
					 .sin_port = htons(in->port)};
	snprintf(r->host, sizeof(r->host), "%s", in->host);
	rtsp_describe_cancel(r->describe);
	r->describe = NULL;
	if (rtsp_uri_make(uri, sizeof(uri), inet_ntoa(in->addr), in->port,
			  in->name) < 0)
		return;
	r->describe = rtsp_describe_start(d->loop, &r->server, uri,
					  DESCRIBE_TIMEOUT_MS, described, r);
}

static void peer_event(void *data, enum mdns_event ev,
		       const struct mdns_instance *in)
{
	struct disco *d = data;
	struct peer *p = NULL;
	unsigned int i;

	if (in->own)
		return;
	for (i = 0; i < DISCO_MAX_PEERS; i++)
		if (d->peers[i].used && d->peers[i].ifindex == in->ifindex &&
		    !strcmp(d->peers[i].name, in->name))
			p = &d->peers[i];
	if (ev == MDNS_INSTANCE_REMOVED) {
		if (p) {
			log_info("mdns: node '%s' gone", p->name);
			p->used = false;
		}
		return;
	}
	if (!p) {
		for (i = 0; i < DISCO_MAX_PEERS && d->peers[i].used; i++)
			;
		if (i == DISCO_MAX_PEERS)
			return;
		p = &d->peers[i];
		p->used = true;
		p->ifindex = in->ifindex;
		snprintf(p->name, sizeof(p->name), "%s", in->name);
		log_info("mdns: node '%s' at %s:%u", p->name,
			 inet_ntoa(in->addr), in->port);
	}
	p->addr = in->addr;
	p->port = in->port;
}

/* The node itself as _d4node._tcp, under its current name: the service
 * is its control API, so a node without one (api = off, or its port
 * taken) is not published as one (d4ctl would find a port that answers
 * no HTTP); its streams are still announced. */
static void node_publish(struct disco *d)
{
	char buf[6][80];
	const char *txt[7];
	struct mdns_service_desc desc = {.type = MDNS_TYPE_D4NODE,
					 .name = d->node_name};

	if (!d->cfg.api_port) {
		log_info("mdns: not published as _d4node._tcp: no control "
			 "API");
		return;
	}
	txt_build(d, buf, txt);
	desc.txt = txt;
	desc.port = d->cfg.api_port;
	d->node_svc = mdns_publish(d->mdns, &desc);
}

static void mdns_start(struct disco *d)
{
	static const struct mdns_callbacks cb = {.state = mdns_state,
						 .renamed = mdns_renamed};

	d->mdns = mdns_new(d->loop, &cb, d);
	if (!d->mdns)
		return;
	node_publish(d);
	d->ravenna_browser =
	    mdns_browse(d->mdns, MDNS_TYPE_RAVENNA_SESSION, ravenna_event, d);
	d->node_browser =
	    mdns_browse(d->mdns, MDNS_TYPE_D4NODE, peer_event, d);
}

/* ---- SAP ---- */

static void sap_event(void *data, enum sap_event ev, const struct sap_entry *e)
{
	struct disco *d = data;
	static const char *const what[] = {
	    [SAP_EVENT_NEW] = "announced",   [SAP_EVENT_CHANGED] = "changed",
	    [SAP_EVENT_DELETED] = "deleted", [SAP_EVENT_EXPIRED] = "timed out",
	    [SAP_EVENT_EVICTED] = "evicted (table full)",
	};
	unsigned int suppressed;

	d->generation++;
	/* Evictions get a line of their own, at most one per 10 s, with the
	 * total: the per-session lines below share their limit with a
	 * flood's "announced" lines and are never seen then. */
	if (ev == SAP_EVENT_EVICTED &&
	    log_ratelimit_ok(&d->full_rl, &suppressed)) {
		struct sap_table_stats ts;

		sap_table_get_stats(d->table, &ts);
		log_warn("sap: table full (%u sessions): %llu evicted so far",
			 ts.max_entries, (unsigned long long)ts.evicted);
	}
	if (e->own)
		return;
	/* A flood must not flood the log: any host can announce, change
	 * and delete sessions as fast as it sends, so every per-session
	 * line is rate-limited. */
	if (!log_ratelimit_ok(&d->rl, &suppressed))
		return;
	log_info("sap: session '%s' from %s %s%s%s%s", e->name,
		 inet_ntoa(e->origin), what[ev], e->valid ? "" : ": ",
		 e->valid ? "" : e->parse_err,
		 suppressed ? " (and earlier session lines not logged)" : "");
}

static void sap_start(struct disco *d)
{
	struct sap_announcer_config ac = {
	    .dst = d->cfg.sap_group,
	    .ifname = d->ifname[0] ? d->ifname : NULL,
	    .ttl = d->cfg.sap_ttl,
	    .interval_ns = d->cfg.sap_interval_ns,
	};
	const struct sockaddr_in *group =
	    d->cfg.sap_group.sin_port ? &d->cfg.sap_group : NULL;

	d->announcer = sap_announcer_new(d->loop, &ac);
	d->table = sap_table_new(0, d->cfg.sap_timeout_factor, 0);
	if (!d->table)
		return;
	if (d->cfg.sap_timeout_floor_ns)
		sap_table_set_timeout_bounds(d->table,
					     d->cfg.sap_timeout_floor_ns,
					     SAP_TABLE_DEFAULT_CEILING);
	sap_table_set_callback(d->table, sap_event, d);
	if (d->announcer)
		sap_table_add_own_addr(d->table,
				       sap_announcer_origin(d->announcer));
	d->listener = sap_listener_new(d->loop, d->table, group,
				       d->ifname[0] ? d->ifname : NULL);
	if (!d->listener)
		log_warn("sap: cannot listen; remote streams will not show");
}

struct disco *disco_new(struct loop *loop, const struct disco_config *cfg)
{
	struct disco *d = calloc(1, sizeof(*d));
	struct in_addr any = {0};

	if (!d)
		return NULL;
	d->loop = loop;
	d->cfg = *cfg;
	d->rl = (struct log_ratelimit)LOG_RATELIMIT_INIT(10000000000ull, 10);
	d->full_rl =
	    (struct log_ratelimit)LOG_RATELIMIT_INIT(10000000000ull, 1);
	snprintf(d->node_name, sizeof(d->node_name), "%s", cfg->node_name);
	snprintf(d->node_id, sizeof(d->node_id), "%s",
		 cfg->node_id ? cfg->node_id : "");
	snprintf(d->ifname, sizeof(d->ifname), "%s",
		 cfg->ifname ? cfg->ifname : "");
	d->cfg.node_name = d->node_name;
	d->cfg.node_id = d->node_id;
	d->cfg.ifname = d->ifname;
	d->rtsp = rtsp_server_new(loop, any, cfg->rtsp_port, rtsp_lookup, d);
	if (!d->rtsp) {
		free(d);
		return NULL;
	}
	log_info("rtsp: answering DESCRIBE on port %u",
		 rtsp_server_port(d->rtsp));
	if (cfg->sap)
		sap_start(d);
	if (cfg->mdns)
		mdns_start(d);
	return d;
}

void disco_destroy(struct disco *d)
{
	unsigned int i;

	if (!d)
		return;
	for (i = 0; i < DISCO_MAX_RAVENNA; i++)
		if (d->ravenna[i].used)
			ravenna_drop(&d->ravenna[i]);
	for (i = 0; i < DISCO_MAX_FLOWS; i++)
		if (d->flows[i].used)
			disco_flow_remove(d, i);
	if (d->mdns)
		mdns_destroy(d->mdns); /* frees services and browsers */
	sap_announcer_destroy(d->announcer); /* deletions for what is left */
	sap_listener_destroy(d->listener);
	sap_table_destroy(d->table);
	rtsp_server_destroy(d->rtsp);
	free(d);
}

int disco_flow_set(struct disco *d, unsigned int id, const char *name,
		   const char *sdp)
{
	struct disco_flow *f;
	char *copy;

	if (id >= DISCO_MAX_FLOWS || !sdp || !*sdp)
		return -EINVAL;
	f = &d->flows[id];
	copy = strdup(sdp);
	if (!copy)
		return -ENOMEM;
	if (f->used && strcmp(f->name, name)) {
		mdns_unpublish(f->svc);
		f->svc = NULL;
	}
	free(f->sdp);
	f->sdp = copy;
	f->used = true;
	snprintf(f->name, sizeof(f->name), "%s", name);
	if (d->announcer && sap_announcer_set(d->announcer, id, sdp) < 0)
		log_warn("sap: flow '%s' not announced: SDP refused", name);
	flow_publish(d, f);
	d->generation++;
	return 0;
}

void disco_flow_remove(struct disco *d, unsigned int id)
{
	struct disco_flow *f;

	if (id >= DISCO_MAX_FLOWS || !d->flows[id].used)
		return;
	f = &d->flows[id];
	if (d->announcer)
		sap_announcer_remove(d->announcer, id);
	mdns_unpublish(f->svc);
	free(f->sdp);
	memset(f, 0, sizeof(*f));
	d->generation++;
}

void disco_set_channels(struct disco *d, unsigned int tx, unsigned int rx)
{
	char buf[6][80];
	const char *txt[7];

	if (d->cfg.tx_channels == tx && d->cfg.rx_channels == rx)
		return;
	d->cfg.tx_channels = tx;
	d->cfg.rx_channels = rx;
	txt_build(d, buf, txt);
	if (d->node_svc)
		mdns_service_set_txt(d->node_svc, txt);
}

void disco_set_name(struct disco *d, const char *name)
{
	if (!strcmp(d->node_name, name))
		return;
	snprintf(d->node_name, sizeof(d->node_name), "%s", name);
	if (!d->mdns)
		return;
	/* An mDNS name cannot change in place: withdraw, publish anew. */
	mdns_unpublish(d->node_svc);
	d->node_svc = NULL;
	node_publish(d);
}

bool disco_peer_named(const struct disco *d, const char *name)
{
	unsigned int i;

	for (i = 0; i < DISCO_MAX_PEERS; i++)
		if (d->peers[i].used && !strcasecmp(d->peers[i].name, name))
			return true;
	return false;
}

const char *disco_stream_sdp(struct disco *d, const char *name,
			     enum disco_origin *origin)
{
	const struct sap_entry *e = NULL;
	unsigned int i;

	if (d->table) {
		/* Another host's session by that name wins over ours. */
		while ((e = sap_table_next(d->table, e)))
			if (!e->own && !strcmp(e->name, name))
				break;
		if (!e)
			e = sap_table_find_name(d->table, name);
	}
	if (e) {
		if (origin)
			*origin = DISCO_SAP;
		return e->sdp;
	}
	for (i = 0; i < DISCO_MAX_RAVENNA; i++) {
		struct ravenna *r = &d->ravenna[i];

		if (r->used && r->sdp && !strcmp(r->name, name)) {
			if (origin)
				*origin = DISCO_RAVENNA;
			return r->sdp;
		}
	}
	return NULL;
}

const char *disco_node_id(const struct disco *d)
{
	return d->node_id;
}

uint64_t disco_generation(const struct disco *d)
{
	return d->generation;
}

void disco_get_counts(const struct disco *d, struct disco_counts *out)
{
	const struct sap_entry *e = NULL;
	struct sap_table_stats ts = {0};
	unsigned int i;

	memset(out, 0, sizeof(*out));
	if (d->table) {
		while ((e = sap_table_next(d->table, e))) {
			if (e->own)
				out->sap_own++;
			else
				out->sap_sessions++;
		}
		sap_table_get_stats(d->table, &ts);
		out->sap_rejected = ts.rejected;
		out->sap_sdp_invalid = ts.sdp_invalid;
		out->sap_entries = ts.entries;
		out->sap_max_entries = ts.max_entries;
		out->sap_evicted = ts.evicted;
	}
	for (i = 0; i < DISCO_MAX_RAVENNA; i++)
		if (d->ravenna[i].used && d->ravenna[i].sdp)
			out->ravenna++;
	for (i = 0; i < DISCO_MAX_PEERS; i++)
		if (d->peers[i].used)
			out->peers++;
	out->rtsp_port = rtsp_server_port(d->rtsp);
	rtsp_server_get_stats(d->rtsp, &out->rtsp);
}

bool disco_stream_at(const struct disco *d, unsigned int i,
		     struct disco_stream *out)
{
	const struct sap_entry *e = NULL;
	unsigned int k = 0;

	if (d->table) {
		while ((e = sap_table_next(d->table, e))) {
			if (k++ < i)
				continue;
			*out = (struct disco_stream){e->name, e->sdp, DISCO_SAP,
						     e->origin, e->own};
			return true;
		}
	}
	for (unsigned int r = 0; r < DISCO_MAX_RAVENNA; r++) {
		const struct ravenna *rv = &d->ravenna[r];

		if (!rv->used || !rv->sdp || k++ < i)
			continue;
		*out = (struct disco_stream){rv->name, rv->sdp, DISCO_RAVENNA,
					     rv->server.sin_addr, false};
		return true;
	}
	return false;
}
