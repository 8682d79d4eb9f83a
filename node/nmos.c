/* NMOS IS-04 on the node (see nmos.h): the resources, the Node API, their
 * registration (nmos_reg.c) and DNS-SD. IS-05 is nmos_conn.c's.
 *
 * Resources are not kept in step with the node by hooks in every place
 * that changes it (the d4 API, d4ctl, state replay, discovery, IS-05):
 * every 250 ms, and before every Node API answer, they are built afresh
 * from the node's objects and compared with what was served, key by key;
 * a resource whose content changed gets a new version (TAI now) and goes
 * to the registry, one that went is deleted there. A route made by d4ctl
 * thus shows in IS-04 within a scan, whoever made it.
 *
 * Ids are name-based UUIDs (RFC 4122 v5): the node's from its EUI-64 (the
 * MAC of its interface, as PTP and mDNS name it) and its state directory,
 * every other resource's from the node's and its own name ("sender/main",
 * "receiver/1-2"), so they are the same after a restart, and a flow
 * deleted and made again is the same sender to a controller. */
#include "node/nmos.h"
#include "common/log.h"
#include "common/loop.h"
#include "common/net.h"
#include "discovery/mdns.h"
#include "node/disco.h"
#include "node/flow.h"
#include "node/nmos_http.h"
#include "node/nmos_priv.h"
#include "node/node_priv.h"
#include "node/rx.h"
#include "node/source.h"
#include "node/tx.h"
#include "ptp/mclock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netpacket/packet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The namespace of d4 node ids (a v4 UUID drawn once for d4). */
#define D4_NMOS_NS    "8f0c1e5a-4d2b-4c6e-9a7f-3b1d0e2c4a68"
#define SCAN_NS	      (250 * 1000000ull)
#define NODE_API_VER  "v1.3"
#define CONN_API_VER  "v1.1"
#define MDNS_REGISTER "_nmos-register._tcp"
#define MDNS_NODE     "_nmos-node._tcp"

#define ERR(code, ...)                                                         \
	do {                                                                   \
		snprintf(err, err_len, __VA_ARGS__);                           \
		return (code);                                                 \
	} while (0)

uint64_t nmos_now(const struct nmos *m)
{
	return mclock_now_ns(m->n->mc);
}

/* ---- addresses ---- */

unsigned int nmos_addresses(struct in_addr *out, unsigned int max)
{
	struct ifaddrs *ifa, *i;
	unsigned int n = 0;

	if (getifaddrs(&ifa) < 0)
		return 0;
	for (i = ifa; i && n < max; i = i->ifa_next)
		if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET &&
		    (i->ifa_flags & IFF_UP) && !(i->ifa_flags & IFF_LOOPBACK))
			out[n++] =
			    ((struct sockaddr_in *)i->ifa_addr)->sin_addr;
	freeifaddrs(ifa);
	return n;
}

void nmos_ifname_of(struct in_addr a, char *buf, size_t len)
{
	struct ifaddrs *ifa, *i;

	buf[0] = '\0';
	if (getifaddrs(&ifa) < 0)
		return;
	for (i = ifa; i; i = i->ifa_next)
		if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET &&
		    ((struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr ==
			a.s_addr) {
			snprintf(buf, len, "%s", i->ifa_name);
			break;
		}
	freeifaddrs(ifa);
}

/* The node's interfaces (IS-04 "interfaces"): up, not loopback, with a
 * MAC ("port_id"); no LLDP here, so no chassis id. */
static json_t *interfaces_json(void)
{
	json_t *a = json_array();
	struct ifaddrs *ifa, *i;

	if (getifaddrs(&ifa) < 0)
		return a;
	for (i = ifa; i; i = i->ifa_next) {
		const struct sockaddr_ll *ll = (void *)i->ifa_addr;
		char mac[20];

		if (!ll || ll->sll_family != AF_PACKET || ll->sll_halen != 6 ||
		    !(i->ifa_flags & IFF_UP) || (i->ifa_flags & IFF_LOOPBACK))
			continue;
		snprintf(mac, sizeof(mac), "%02x-%02x-%02x-%02x-%02x-%02x",
			 ll->sll_addr[0], ll->sll_addr[1], ll->sll_addr[2],
			 ll->sll_addr[3], ll->sll_addr[4], ll->sll_addr[5]);
		json_array_append_new(a, json_pack("{s:n,s:s,s:s}",
						   "chassis_id", "port_id", mac,
						   "name", i->ifa_name));
	}
	freeifaddrs(ifa);
	return a;
}

/* The address hrefs name: [nmos] host, else the API's own address, else
 * the one the node reaches its first registry (or the network) from. */
static void pick_host(struct nmos *m)
{
	const struct node_config *cfg = m->n->cfg;
	struct sockaddr_in dst = {.sin_family = AF_INET};
	struct in_addr a = {0};
	uint8_t mac[6];

	inet_pton(AF_INET, "239.255.255.255", &dst.sin_addr);
	if (cfg->nmos.nregistry) {
		char host[64];
		const char *h = cfg->nmos.registry[0] + 7;

		snprintf(host, sizeof(host), "%.*s", (int)strcspn(h, ":/"), h);
		inet_pton(AF_INET, host, &dst.sin_addr);
	}
	if (cfg->nmos.has_host)
		a = cfg->nmos.host;
	else if (cfg->api_addr.sin_addr.s_addr != htonl(INADDR_ANY))
		a = cfg->api_addr.sin_addr;
	else
		net_egress(&dst, &a, mac);
	inet_ntop(AF_INET, &a, m->host, sizeof(m->host));
	nmos_ifname_of(a, m->ifname, sizeof(m->ifname));
	if (!m->ifname[0])
		snprintf(m->ifname, sizeof(m->ifname), "lo");
	snprintf(m->base, sizeof(m->base), "http://%s:%u", m->host, m->port);
}

/* ---- ids ---- */

static void make_ids(struct nmos *m)
{
	struct sockaddr_in dst = {.sin_family = AF_INET};
	char ident[4200], eui[20];
	struct in_addr a;
	uint8_t mac[6];

	if (m->n->disco) {
		snprintf(eui, sizeof(eui), "%s", disco_node_id(m->n->disco));
	} else {
		inet_pton(AF_INET, "239.255.255.255", &dst.sin_addr);
		net_egress(&dst, &a, mac);
		snprintf(eui, sizeof(eui), "%02x%02x%02xfffe%02x%02x%02x",
			 mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
	}
	snprintf(ident, sizeof(ident), "%s/%s", eui, m->n->state_dir);
	nmos_uuid5_str(D4_NMOS_NS, ident, m->node_id);
	nmos_uuid_parse(m->node_id, m->ns);
	nmos_uuid5(m->ns, "device", m->device_id);
}

/* ---- resources from the node's objects ---- */

static json_t *core(const char *id, const char *label, const char *desc)
{
	return json_pack("{s:s,s:s,s:s,s:{}}", "id", id, "label", label,
			 "description", desc, "tags");
}

static json_t *clock_json(struct nmos *m)
{
	struct mclock_status cs;
	char gm[32];

	mclock_get_status(m->n->mc, &cs);
	if (!cs.gm_valid)
		return json_pack("{s:s,s:s}", "name", "clk0", "ref_type",
				 "internal");
	snprintf(gm, sizeof(gm), "%02x-%02x-%02x-%02x-%02x-%02x-%02x-%02x",
		 cs.gm_id[0], cs.gm_id[1], cs.gm_id[2], cs.gm_id[3],
		 cs.gm_id[4], cs.gm_id[5], cs.gm_id[6], cs.gm_id[7]);
	/* Traceability to TAI is the grandmaster's to say (its
	 * timePropertiesDS), which the media clock does not keep: not
	 * claimed. */
	return json_pack("{s:s,s:s,s:b,s:s,s:s,s:b}", "name", "clk0",
			 "ref_type", "ptp", "traceable", 0, "version",
			 "IEEE1588-2008", "gmid", gm, "locked",
			 cs.state == MCLOCK_LOCKED);
}

static json_t *build_node(struct nmos *m)
{
	struct node *n = m->n;
	json_t *o = core(m->node_id, n->cfg->name, "d4 AES67 node");
	char href[128];

	snprintf(href, sizeof(href), "%s/", m->base);
	json_object_set_new(o, "href", json_string(href));
	json_object_set_new(o, "api",
			    json_pack("{s:[s],s:[{s:s,s:i,s:s,s:b}]}",
				      "versions", NODE_API_VER, "endpoints",
				      "host", m->host, "port", (int)m->port,
				      "protocol", "http", "authorization", 0));
	json_object_set_new(o, "caps", json_object());
	snprintf(href, sizeof(href), "%s%s", m->base, API_PREFIX);
	json_object_set_new(o, "services",
			    json_pack("[{s:s,s:s}]", "href", href, "type",
				      "urn:x-d4:service:control/v1"));
	json_object_set_new(o, "clocks", json_pack("[o]", clock_json(m)));
	json_object_set_new(o, "interfaces", interfaces_json());
	return o;
}

static json_t *build_device(struct nmos *m)
{
	json_t *o = core(m->device_id, m->n->cfg->name, "d4 audio device");
	json_t *snd = json_array(), *rcv = json_array();
	char href[128];
	unsigned int i;

	for (i = 0; i < NMOS_MAX_SENDERS; i++)
		if (m->senders[i].used)
			json_array_append_new(snd,
					      json_string(m->senders[i].id));
	for (i = 0; i < m->nreceivers; i++)
		json_array_append_new(rcv, json_string(m->receivers[i].id));
	snprintf(href, sizeof(href), "%s/x-nmos/connection/%s/", m->base,
		 CONN_API_VER);
	json_object_set_new(o, "type",
			    json_string("urn:x-nmos:device:generic"));
	json_object_set_new(o, "node_id", json_string(m->node_id));
	json_object_set_new(o, "senders", snd);
	json_object_set_new(o, "receivers", rcv);
	json_object_set_new(
	    o, "controls",
	    json_pack("[{s:s,s:s,s:b}]", "type",
		      "urn:x-nmos:control:sr-ctrl/" CONN_API_VER, "href", href,
		      "authorization",
		      m->n->cfg->nmos.write_auth == NMOS_AUTH_TOKEN));
	return o;
}

static json_t *build_source(struct nmos *m, struct nmos_sender *s,
			    const struct flow_config *fc)
{
	json_t *o, *ch = json_array();
	char desc[128];
	unsigned int c, t;

	snprintf(desc, sizeof(desc), "channels of source %s", fc->source);
	o = core(s->source_id, fc->name, desc);
	for (c = 0; c < fc->nch; c++) {
		t = tx_flow_channel(m->n->tx, fc, c);
		json_array_append_new(
		    ch, json_pack("{s:s}", "label",
				  t < NODE_MAX_TX ? m->n->tx_name[t] : "?"));
	}
	json_object_set_new(o, "caps", json_object());
	json_object_set_new(o, "device_id", json_string(m->device_id));
	json_object_set_new(o, "parents", json_array());
	json_object_set_new(o, "clock_name", json_string("clk0"));
	json_object_set_new(o, "format",
			    json_string("urn:x-nmos:format:audio"));
	json_object_set_new(o, "channels", ch);
	return o;
}

static json_t *build_flow(struct nmos *m, struct nmos_sender *s,
			  const struct flow_config *fc)
{
	json_t *o = core(s->flow_id, fc->name, "d4 flow");
	bool l16 = fc->enc == RTP_ENC_L16;

	json_object_set_new(o, "source_id", json_string(s->source_id));
	json_object_set_new(o, "device_id", json_string(m->device_id));
	json_object_set_new(o, "parents", json_array());
	json_object_set_new(o, "format",
			    json_string("urn:x-nmos:format:audio"));
	json_object_set_new(o, "sample_rate",
			    json_pack("{s:i}", "numerator", (int)fc->rate));
	json_object_set_new(o, "media_type",
			    json_string(l16 ? "audio/L16" : "audio/L24"));
	json_object_set_new(o, "bit_depth", json_integer(l16 ? 16 : 24));
	return o;
}

static json_t *build_sender(struct nmos *m, struct nmos_sender *s, int slot,
			    const struct flow_config *fc)
{
	const struct flow *f = tx_flow_sender(m->n->tx, (unsigned int)slot);
	char desc[160], href[256], ifname[32] = "";
	struct in_addr a = {0};
	uint8_t mac[6];
	json_t *o, *binds;

	if (f)
		flow_origin(f, &a, mac);
	if (a.s_addr)
		nmos_ifname_of(a, ifname, sizeof(ifname));
	snprintf(desc, sizeof(desc), "%s %s", m->n->cfg->name, fc->name);
	o = core(s->id, fc->name, desc);
	snprintf(href, sizeof(href),
		 "%s/x-nmos/connection/%s/single/senders/%s/transportfile",
		 m->base, CONN_API_VER, s->id);
	json_object_set_new(o, "caps", json_object());
	json_object_set_new(o, "flow_id", json_string(s->flow_id));
	json_object_set_new(
	    o, "transport",
	    json_string(s->multicast ? "urn:x-nmos:transport:rtp.mcast"
				     : "urn:x-nmos:transport:rtp.ucast"));
	json_object_set_new(o, "device_id", json_string(m->device_id));
	json_object_set_new(o, "manifest_href", json_string(href));
	binds = json_pack("[s]", ifname[0] ? ifname : m->ifname);
	/* ST 2022-7: each leg's interface, in the legs' order (IS-04
	 * "Behaviour: Nodes") */
	if (flow_config_has_leg2(fc)) {
		ifname[0] = '\0';
		if (f)
			flow_origin2(f, &a);
		if (f && a.s_addr)
			nmos_ifname_of(a, ifname, sizeof(ifname));
		if (!ifname[0])
			snprintf(ifname, sizeof(ifname), "%s",
				 fc->ifname2[0] ? fc->ifname2 : m->ifname);
		json_array_append_new(binds, json_string(ifname));
	}
	json_object_set_new(o, "interface_bindings", binds);
	json_object_set_new(o, "subscription",
			    nmos_conn_sender_subscription(m, s));
	return o;
}

/* The subscription's state as the receiver's tag shows it: a change
 * shows once it has held for STATE_HOLD_NS (a state that flickers would
 * otherwise re-register the receiver each time); a disconnection at
 * once. */
#define STATE_HOLD_NS (2 * NSEC_PER_SEC)

static const char *shown_state(struct nmos *m, struct nmos_receiver *r)
{
	const char *now = nmos_conn_receiver_state(m, r);
	uint64_t t = loop_now_ns();

	if (!now) {
		r->state_shown[0] = r->state_next[0] = '\0';
		return NULL;
	}
	if (!strcmp(now, r->state_shown)) {
		r->state_next[0] = '\0';
	} else if (strcmp(now, r->state_next)) {
		snprintf(r->state_next, sizeof(r->state_next), "%s", now);
		r->state_since = t;
	} else if (t - r->state_since >= STATE_HOLD_NS) {
		snprintf(r->state_shown, sizeof(r->state_shown), "%s", now);
		r->state_next[0] = '\0';
	}
	return r->state_shown[0] ? r->state_shown : NULL;
}

static json_t *build_receiver(struct nmos *m, struct nmos_receiver *r)
{
	const char *state = shown_state(m, r);
	char desc[512];
	size_t off;
	unsigned int c;
	json_t *o;

	off = (size_t)snprintf(desc, sizeof(desc),
			       "RX channels %u-%u:", r->first + 1,
			       r->first + r->count);
	for (c = 0; c < r->count && off < sizeof(desc); c++)
		off +=
		    (size_t)snprintf(desc + off, sizeof(desc) - off, "%s %s",
				     c ? "," : "", m->n->rx_name[r->first + c]);
	o = core(r->id, r->label, desc);
	/* the subscription's state, d4's own words (docs/nmos.md) */
	if (state)
		json_object_set_new(json_object_get(o, "tags"),
				    "urn:x-d4:state", json_pack("[s]", state));
	json_object_set_new(o, "device_id", json_string(m->device_id));
	json_object_set_new(o, "transport",
			    json_string("urn:x-nmos:transport:rtp"));
	json_object_set_new(o, "interface_bindings",
			    r->legs > 1 ? json_pack("[s,s]", m->ifname,
						    m->n->cfg->nmos.interface2)
					: json_pack("[s]", m->ifname));
	json_object_set_new(o, "subscription",
			    nmos_conn_receiver_subscription(m, r));
	json_object_set_new(o, "format",
			    json_string("urn:x-nmos:format:audio"));
	/* BCP-004-01 constraints: RX channels run at 48 kHz */
	json_object_set_new(
	    o, "caps",
	    json_pack("{s:[s,s],s:[{s:{s:[{s:i}]},s:{s:i,s:i}}]}",
		      "media_types", "audio/L24", "audio/L16",
		      "constraint_sets", "urn:x-nmos:cap:format:sample_rate",
		      "enum", "numerator", CONFIG_RX_RATE,
		      "urn:x-nmos:cap:format:channel_count", "minimum", 1,
		      "maximum", SOURCE_MAX_CHANNELS));
	return o;
}

/* ---- the served set: versions, changes ---- */

static struct nmos_res *res_find(struct nmos *m, enum nmos_type t,
				 const char *id)
{
	unsigned int i;

	for (i = 0; i < m->nres; i++)
		if (m->res[i].type == t && !strcmp(m->res[i].id, id))
			return &m->res[i];
	return NULL;
}

/* Serve @o (taken) as resource @id of type @t: a new version if its
 * content changed. */
static void res_put(struct nmos *m, enum nmos_type t, json_t *o)
{
	const char *id = json_string_value(json_object_get(o, "id"));
	char *canon = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	char ver[NMOS_TAI_LEN];
	struct nmos_res *x;
	uint64_t now;

	if (!canon || !id) {
		free(canon);
		json_decref(o);
		return;
	}
	x = res_find(m, t, id);
	if (x && !strcmp(x->canon, canon)) {
		x->seen = true;
		free(canon);
		json_decref(o);
		return;
	}
	if (!x) {
		if (m->nres == m->cap) {
			unsigned int cap = m->cap ? 2 * m->cap : 32;
			struct nmos_res *p =
			    realloc(m->res, cap * sizeof(*m->res));

			if (!p) {
				free(canon);
				json_decref(o);
				return;
			}
			m->res = p;
			m->cap = cap;
		}
		x = &m->res[m->nres++];
		memset(x, 0, sizeof(*x));
		x->type = t;
		snprintf(x->id, sizeof(x->id), "%s", id);
	}
	/* strictly later than before, even if the clock stepped back */
	now = nmos_now(m);
	x->version_ns = now > x->version_ns ? now : x->version_ns + 1;
	nmos_tai_str(x->version_ns, ver);
	json_object_set_new(o, "version", json_string(ver));
	free(x->canon);
	json_decref(x->data);
	x->canon = canon;
	x->data = o;
	x->seen = true;
	m->ver[t]++;
	m->ver_changed = true;
	if (m->reg)
		nmos_reg_set(m->reg, t, x->id, x->data);
}

void nmos_touch(struct nmos *m, enum nmos_type t, const char *id)
{
	struct nmos_res *x = res_find(m, t, id);

	if (x)
		x->canon[0] = '\0';
}

/* Senders follow the node's flows. */
static void sync_senders(struct nmos *m)
{
	struct tx *tx = m->n->tx;
	bool keep[NMOS_MAX_SENDERS] = {false};
	unsigned int i, k;

	for (i = 0; i < tx_slots(tx) && i < NMOS_MAX_SENDERS; i++) {
		const struct flow_config *fc;
		struct nmos_sender *s = NULL;

		if (!tx_flow_exists(tx, i))
			continue;
		fc = tx_flow_settings(tx, i);
		for (k = 0; k < NMOS_MAX_SENDERS; k++)
			if (m->senders[k].used &&
			    !strcmp(m->senders[k].flow, fc->name))
				s = &m->senders[k];
		if (!s) {
			for (k = 0; k < NMOS_MAX_SENDERS && m->senders[k].used;
			     k++)
				;
			if (k == NMOS_MAX_SENDERS)
				continue;
			s = &m->senders[k];
			memset(s, 0, sizeof(*s));
			s->m = m;
			s->used = true;
			snprintf(s->flow, sizeof(s->flow), "%s", fc->name);
			nmos_conn_sender_init(m, s, (int)i);
		}
		s->multicast = net_is_multicast(&fc->dest);
		keep[s - m->senders] = true;
	}
	for (k = 0; k < NMOS_MAX_SENDERS; k++)
		if (m->senders[k].used && !keep[k]) {
			nmos_conn_sender_fini(&m->senders[k]);
			memset(&m->senders[k], 0, sizeof(m->senders[k]));
		}
}

static int flow_slot(struct nmos *m, const struct nmos_sender *s)
{
	return tx_flow_find(m->n->tx, s->flow);
}

void nmos_scan(struct nmos *m)
{
	unsigned int i;

	for (i = 0; i < m->nres; i++)
		m->res[i].seen = false;
	sync_senders(m);
	res_put(m, NMOS_NODE, build_node(m));
	res_put(m, NMOS_DEVICE, build_device(m));
	for (i = 0; i < NMOS_MAX_SENDERS; i++) {
		struct nmos_sender *s = &m->senders[i];
		const struct flow_config *fc;
		int slot;

		if (!s->used || (slot = flow_slot(m, s)) < 0)
			continue;
		fc = tx_flow_settings(m->n->tx, (unsigned int)slot);
		res_put(m, NMOS_SOURCE, build_source(m, s, fc));
		res_put(m, NMOS_FLOW, build_flow(m, s, fc));
		res_put(m, NMOS_SENDER, build_sender(m, s, slot, fc));
	}
	for (i = 0; i < m->nreceivers; i++)
		res_put(m, NMOS_RECEIVER, build_receiver(m, &m->receivers[i]));
	i = 0;
	while (i < m->nres) {
		struct nmos_res *x = &m->res[i];

		if (x->seen) {
			i++;
			continue;
		}
		if (m->reg)
			nmos_reg_set(m->reg, x->type, x->id, NULL);
		m->ver[x->type]++;
		m->ver_changed = true;
		free(x->canon);
		json_decref(x->data);
		*x = m->res[--m->nres];
	}
	if (m->ver_changed && m->p2p) {
		char txt[6][16];
		const char *t[11];
		static const char *const key[NMOS_NTYPES] = {
		    "ver_slf", "ver_dvc", "ver_src",
		    "ver_flw", "ver_snd", "ver_rcv"};

		t[0] = "api_proto=http";
		t[1] = "api_ver=" NODE_API_VER;
		t[2] = "api_auth=false";
		for (i = 0; i < NMOS_NTYPES; i++) {
			snprintf(txt[i], sizeof(txt[i]), "%s=%u", key[i],
				 m->ver[i]);
			t[3 + i] = txt[i];
		}
		t[9] = NULL;
		mdns_service_set_txt(m->p2p, t);
	}
	m->ver_changed = false;
}

static void on_scan(void *data)
{
	nmos_scan(data);
}

struct nmos_sender *nmos_sender_by_id(struct nmos *m, const char *id)
{
	unsigned int i;

	for (i = 0; i < NMOS_MAX_SENDERS; i++)
		if (m->senders[i].used && !strcmp(m->senders[i].id, id))
			return &m->senders[i];
	return NULL;
}

struct nmos_receiver *nmos_receiver_by_id(struct nmos *m, const char *id)
{
	unsigned int i;

	for (i = 0; i < m->nreceivers; i++)
		if (!strcmp(m->receivers[i].id, id))
			return &m->receivers[i];
	return NULL;
}

/* ---- Node API ---- */

static const char *const collections[NMOS_NTYPES] = {
    "self", "devices", "sources", "flows", "senders", "receivers"};

static int type_of(const char *coll)
{
	int t;

	for (t = 1; t < NMOS_NTYPES; t++)
		if (!strcmp(coll, collections[t]))
			return t;
	return -1;
}

static int h_root(void *ctx, const struct api_req *r, json_t **out, char *err,
		  size_t err_len)
{
	*out = json_pack("[s,s]", "node/", "connection/");
	return 200;
}

static int h_node_versions(void *ctx, const struct api_req *r, json_t **out,
			   char *err, size_t err_len)
{
	*out = json_pack("[s]", NODE_API_VER "/");
	return 200;
}

/* Only v1.3 is served: any other version is not here. */
static int check_ver(const struct api_req *r, char *err, size_t err_len)
{
	if (strcmp(r->parts[1], NODE_API_VER))
		ERR(404, "Node API version '%s' is not served (v1.3 is)",
		    r->parts[1]);
	return 0;
}

static int h_node_base(void *ctx, const struct api_req *r, json_t **out,
		       char *err, size_t err_len)
{
	int rc = check_ver(r, err, err_len);

	if (rc)
		return rc;
	*out = json_pack("[s,s,s,s,s,s]", "self/", "sources/", "flows/",
			 "devices/", "senders/", "receivers/");
	return 200;
}

static int h_node_coll(void *ctx, const struct api_req *r, json_t **out,
		       char *err, size_t err_len)
{
	struct nmos *m = ctx;
	int rc = check_ver(r, err, err_len), t;
	unsigned int i;

	if (rc)
		return rc;
	nmos_scan(m);
	if (!strcmp(r->parts[2], "self")) {
		struct nmos_res *x = res_find(m, NMOS_NODE, m->node_id);

		if (!x)
			ERR(500, "the node resource is missing");
		*out = json_incref(x->data);
		return 200;
	}
	t = type_of(r->parts[2]);
	if (t < 0)
		ERR(404, "no such resource '%s'", r->parts[2]);
	*out = json_array();
	for (i = 0; i < m->nres; i++)
		if (m->res[i].type == (enum nmos_type)t)
			json_array_append(*out, m->res[i].data);
	return 200;
}

static int h_node_one(void *ctx, const struct api_req *r, json_t **out,
		      char *err, size_t err_len)
{
	struct nmos *m = ctx;
	int rc = check_ver(r, err, err_len), t;
	struct nmos_res *x;

	if (rc)
		return rc;
	nmos_scan(m);
	t = type_of(r->parts[2]);
	if (t < 0)
		ERR(404, "no such resource '%s'", r->parts[2]);
	x = res_find(m, (enum nmos_type)t, r->parts[3]);
	if (!x)
		ERR(404, "no %s '%s'", nmos_type_name((enum nmos_type)t),
		    r->parts[3]);
	*out = json_incref(x->data);
	return 200;
}

/* The deprecated /target: v1.3 nodes may answer 501 (IS-04 "Behaviour:
 * Nodes"); IS-05 is how receivers are connected here. */
static int h_target(void *ctx, const struct api_req *r, json_t **out, char *err,
		    size_t err_len)
{
	int rc = check_ver(r, err, err_len);

	if (rc)
		return rc;
	ERR(501, "/target is deprecated and not implemented: use the IS-05 "
		 "Connection API (/x-nmos/connection/v1.1/)");
}

static const struct api_route node_routes[] = {
    {"GET", "", h_root},
    {"GET", "node", h_node_versions},
    {"GET", "node/*", h_node_base},
    {"GET", "node/*/*", h_node_coll},
    {"GET", "node/*/*/*", h_node_one},
    {"PUT", "node/*/receivers/*/target", h_target},
    {NULL, NULL, NULL},
};

/* ---- tokens (docs/nmos.md "Security") ---- */

static bool token_ok(void *ctx, const char *token)
{
	struct nmos *m = ctx;
	unsigned int i, k;
	size_t n = strlen(token);

	for (i = 0; i < m->ntokens; i++) {
		unsigned char diff = 0;

		if (strlen(m->tokens[i]) != n || !n)
			continue;
		for (k = 0; k < n; k++)
			diff |= (unsigned char)(token[k] ^ m->tokens[i][k]);
		if (!diff)
			return true;
	}
	return false;
}

static void load_tokens(struct nmos *m)
{
	const char *path = m->n->cfg->nmos.tokens_file;
	char line[256];
	FILE *f;

	if (!path[0])
		return;
	f = fopen(path, "r");
	if (!f) {
		log_warn("nmos: tokens_file %s: %m; only the node's token "
			 "opens IS-05",
			 path);
		return;
	}
	while (fgets(line, sizeof(line), f) && m->ntokens < NMOS_MAX_TOKENS) {
		line[strcspn(line, "\r\n")] = '\0';
		if (!line[0] || line[0] == '#')
			continue;
		if (strlen(line) >= sizeof(m->tokens[0]) || strchr(line, ' ')) {
			log_warn("nmos: tokens_file %s: a line that is not a "
				 "token was left out",
				 path);
			continue;
		}
		snprintf(m->tokens[m->ntokens++], sizeof(m->tokens[0]), "%s",
			 line);
	}
	fclose(f);
	log_info("nmos: %u bearer token(s) from %s", m->ntokens, path);
}

/* ---- DNS-SD ---- */

static const char *txt(const struct mdns_instance *inst, const char *key)
{
	const char *v = mdns_txt_get(inst, key);

	return v ? v : "";
}

/* A Registration API instance: usable when it speaks v1.3 over http
 * without IS-10 authorization (we hold no such token). */
static void on_register(void *data, enum mdns_event ev,
			const struct mdns_instance *inst)
{
	struct nmos *m = data;
	struct nmos_registry list[NMOS_MAX_FOUND];
	char key[128], addr[16];
	unsigned int i;
	const char *pri = txt(inst, "pri");
	char *end;
	long p;

	snprintf(key, sizeof(key), "%s/%d", inst->name, inst->ifindex);
	for (i = 0; i < m->nfound && strcmp(m->found[i].key, key); i++)
		;
	if (i < m->nfound)
		m->found[i] = m->found[--m->nfound];
	p = strtol(pri, &end, 10);
	if (ev != MDNS_INSTANCE_REMOVED) {
		if (!strstr(txt(inst, "api_ver"), "v1.3") ||
		    strcmp(txt(inst, "api_proto"), "http") ||
		    !strcmp(txt(inst, "api_auth"), "true") || !*pri || *end) {
			log_info("nmos: registry '%s' left out: TXT api_ver "
				 "'%s' api_proto '%s' api_auth '%s' pri '%s' "
				 "(want v1.3, http, false, a number)",
				 inst->name, txt(inst, "api_ver"),
				 txt(inst, "api_proto"), txt(inst, "api_auth"),
				 pri);
		} else if (m->nfound < NMOS_MAX_FOUND) {
			struct nmos_found *f = &m->found[m->nfound++];

			inet_ntop(AF_INET, &inst->addr, addr, sizeof(addr));
			snprintf(f->key, sizeof(f->key), "%s", key);
			snprintf(f->reg.url, sizeof(f->reg.url), "http://%s:%u",
				 addr, inst->port);
			f->reg.pri = (int)p;
			log_info("nmos: registry %s found by DNS-SD (pri %ld)",
				 f->reg.url, p);
		}
	}
	for (i = 0; i < m->nfound; i++)
		list[i] = m->found[i].reg;
	nmos_reg_set_found(m->reg, list, m->nfound);
}

/* Peer-to-peer: advertised once no registry has taken the node for a
 * heartbeat interval, withdrawn as soon as one takes it. Trying a
 * registry changes nothing, and a registry that restarts (a few seconds
 * of backoff) does not make the node's mDNS records come and go. */
static void p2p_publish(void *data)
{
	struct nmos *m = data;
	const char *t[] = {"api_proto=http", "api_ver=" NODE_API_VER,
			   "api_auth=false", NULL};

	if (m->p2p || !m->mdns)
		return;
	m->p2p = mdns_publish(m->mdns, &(struct mdns_service_desc){
					   .type = MDNS_NODE,
					   .name = m->n->cfg->name,
					   .port = m->port,
					   .txt = t,
				       });
	m->ver_changed = true; /* the ver_ records at the next scan */
	log_info("nmos: no registry takes the node: peer-to-peer (%s)",
		 MDNS_NODE);
	nmos_scan(m);
}

static void p2p_update(struct nmos *m, enum nmos_reg_state st)
{
	if (st == NMOS_REG_REGISTERING)
		return;
	if (st == NMOS_REG_REGISTERED) {
		loop_timer_disarm(m->p2p_timer);
		mdns_unpublish(m->p2p);
		m->p2p = NULL;
		return;
	}
	if (m->mdns && m->n->cfg->nmos.p2p && !m->p2p &&
	    !loop_timer_armed(m->p2p_timer))
		loop_timer_arm(m->p2p_timer, m->n->cfg->nmos.heartbeat_ns, 0);
}

static void on_reg_state(void *ctx, enum nmos_reg_state st, const char *url)
{
	p2p_update(ctx, st);
}

/* ---- nmos.json: IS-05's holds on the node's objects ---- */

void nmos_save(struct nmos *m)
{
	char path[4200], tmp[4220];
	json_t *j = nmos_conn_save(m);
	char *text = j ? json_dumps(j, JSON_INDENT(1) | JSON_SORT_KEYS) : NULL;
	size_t len;
	int fd;

	json_decref(j);
	if (!text || !m->n->state_dir[0]) {
		free(text);
		return;
	}
	len = strlen(text);
	snprintf(path, sizeof(path), "%s/nmos.json", m->n->state_dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	unlink(tmp); /* a new file, never one planted there (state.c) */
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
		  0600);
	if (fd < 0 || write(fd, text, len) != (ssize_t)len || fsync(fd) < 0 ||
	    rename(tmp, path) < 0) {
		log_err("nmos: cannot write %s: %m", path);
		unlink(tmp);
	}
	if (fd >= 0)
		close(fd);
	free(text);
}

static void restore(struct nmos *m)
{
	char path[4200];
	json_error_t jerr;
	json_t *j;

	snprintf(path, sizeof(path), "%s/nmos.json", m->n->state_dir);
	if (access(path, F_OK) < 0)
		return;
	j = json_load_file(path, 0, &jerr);
	if (!j || !json_is_object(j)) {
		log_warn("nmos: %s is not JSON (%s): IS-05's last "
			 "activations are forgotten",
			 path, jerr.text);
		json_decref(j);
		return;
	}
	nmos_conn_restore(m, j);
	json_decref(j);
}

/* ---- start and stop ---- */

static void make_receivers(struct nmos *m)
{
	unsigned int per = m->n->cfg->nmos.receiver_channels;
	unsigned int nrx = m->n->cfg->rx_channels, i;
	char name[32];

	for (i = 0; i * per < nrx && i < NMOS_MAX_RECEIVERS; i++) {
		struct nmos_receiver *r = &m->receivers[i];

		r->m = m;
		r->first = i * per;
		r->count = nrx - r->first < per ? nrx - r->first : per;
		if (r->count > 1)
			snprintf(r->label, sizeof(r->label), "RX %u-%u",
				 r->first + 1, r->first + r->count);
		else
			snprintf(r->label, sizeof(r->label), "RX %u",
				 r->first + 1);
		snprintf(name, sizeof(name), "receiver/%s", r->label + 3);
		nmos_uuid5(m->ns, name, r->id);
		nmos_conn_receiver_init(m, r);
	}
	m->nreceivers = i;
}

static const struct api_route *routes(void)
{
	static struct api_route all[32];
	unsigned int n = 0, i;

	if (all[0].method)
		return all;
	for (i = 0; node_routes[i].method; i++)
		all[n++] = node_routes[i];
	for (i = 0; nmos_conn_routes[i].method && n < 31; i++)
		all[n++] = nmos_conn_routes[i];
	return all;
}

struct nmos *nmos_new(struct node *n)
{
	const struct nmos_config *nc = &n->cfg->nmos;
	struct nmos_registry conf[CONFIG_MAX_REGISTRIES];
	struct nmos *m;
	unsigned int i;

	if (!nc->enable)
		return NULL;
	if (!n->api) {
		log_err("nmos: [nmos] enable needs the control API ([node] api "
			"and a state directory): NMOS is off");
		return NULL;
	}
	m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	m->n = n;
	m->port = api_port(n->api);
	m->latency_ns = nc->latency_ns;
	make_ids(m);
	pick_host(m);
	load_tokens(m);
	make_receivers(m);
	m->table = (struct api_table){
	    .prefix = "/x-nmos",
	    .routes = routes(),
	    .ctx = m,
	    .style = API_STYLE_NMOS,
	    .open_reads = true,
	    .open_writes = nc->write_auth == NMOS_AUTH_OPEN,
	    .token_ok = token_ok,
	};
	if (api_add_table(n->api, &m->table) < 0)
		goto out_free;
	/* what IS-05 made before a restart, then the resources */
	sync_senders(m);
	restore(m);
	nmos_scan(m);
	m->http = nmos_http_new(n->loop);
	for (i = 0; i < nc->nregistry; i++) {
		snprintf(conf[i].url, sizeof(conf[i].url), "%s",
			 nc->registry[i]);
		/* "http://h:p/" and "http://h:p" are one registry */
		conf[i].url[strcspn(conf[i].url + 7, "/") + 7] = '\0';
		conf[i].pri = -1;
	}
	m->reg = m->http ? nmos_reg_new(n->loop, m->http,
					&(struct nmos_reg_config){
					    .configured = conf,
					    .nconfigured = nc->nregistry,
					    .heartbeat_ns = nc->heartbeat_ns,
					    /* DNS-SD's answers first */
					    .start_delay_ns =
						nc->dns_sd ? 1500000000ull : 0,
					    .label = n->cfg->name,
					    .state_fn = on_reg_state,
					    .ctx = m,
					})
			 : NULL;
	m->scan_timer = loop_timer_new(n->loop, on_scan, m);
	m->p2p_timer = loop_timer_new(n->loop, p2p_publish, m);
	if (!m->reg || !m->scan_timer || !m->p2p_timer)
		goto out_destroy;
	for (i = 0; i < m->nres; i++)
		nmos_reg_set(m->reg, m->res[i].type, m->res[i].id,
			     m->res[i].data);
	loop_timer_arm(m->scan_timer, SCAN_NS, SCAN_NS);
	if (nc->dns_sd || nc->p2p) {
		m->mdns = mdns_new(n->loop, &(struct mdns_callbacks){0}, m);
		if (m->mdns && nc->dns_sd)
			m->browser =
			    mdns_browse(m->mdns, MDNS_REGISTER, on_register, m);
	}
	log_info("nmos: node %s, Node API %s/x-nmos/node/%s/, %u sender(s), "
		 "%u receiver(s); registries: %u configured%s",
		 m->node_id, m->base, NODE_API_VER, tx_slots(n->tx),
		 m->nreceivers, nc->nregistry,
		 nc->dns_sd ? ", DNS-SD " MDNS_REGISTER : "");
	return m;

out_destroy:
	nmos_destroy(m);
	return NULL;
out_free:
	free(m);
	return NULL;
}

void nmos_destroy(struct nmos *m)
{
	unsigned int i;

	if (!m)
		return;
	loop_timer_free(m->scan_timer);
	loop_timer_free(m->p2p_timer);
	nmos_reg_destroy(m->reg, true);
	mdns_browser_free(m->browser);
	mdns_unpublish(m->p2p);
	mdns_destroy(m->mdns);
	nmos_http_destroy(m->http);
	for (i = 0; i < NMOS_MAX_SENDERS; i++)
		if (m->senders[i].used)
			nmos_conn_sender_fini(&m->senders[i]);
	for (i = 0; i < m->nreceivers; i++)
		nmos_conn_receiver_fini(&m->receivers[i]);
	api_remove_table(m->n->api, &m->table);
	for (i = 0; i < m->nres; i++) {
		free(m->res[i].canon);
		json_decref(m->res[i].data);
	}
	free(m->res);
	free(m);
}
