/* IS-05 v1.1 Connection API on the node (docs/nmos.md): senders are the
 * node's flows, receivers groups of its RX channels.
 *
 * A receiver's connection is a subscription (rx.h) that fills its RX
 * channels: an activation builds one through rx_sub_create(), as d4's API
 * and d4ctl do, and "active" is read back from whatever subscription
 * fills them now, whoever made it. A switch at PTP time T, scheduled or
 * immediate, is sample-exact: the subscriptions filling the channels stop
 * at T (rx_sub_set_until), the new one fills them from T (rx_from_ns), so
 * every receiver given the same T starts on the same sample. A scheduled
 * one is built NMOS_PREPARE_NS before T (socket joined, buffer filling)
 * and the switch over the RX bus happens by position, not by when a timer
 * fires. The old subscriptions are deleted once their last sample before
 * T is out. Channels of an old subscription outside the receiver go on in
 * a subscription of their own.
 *
 * A sender's hold: a multicast flow's master_enable starts and stops its
 * D4 loop; a unicast flow's destination is one entry of its relay list
 * (its D4 list), which IS-05 replaces, leaving receivers d4ctl added.
 *
 * Requests are checked whole before anything changes (a 400 changes
 * nothing); an activation that fails is a 500 and leaves "active" as it
 * was. What no d4 object holds — which sender a receiver was connected
 * to, a sender's receiver and destination — is kept in nmos.json. */
#include "common/log.h"
#include "common/loop.h"
#include "common/net.h"
#include "discovery/sdp.h"
#include "node/flow.h"
#include "node/nmos_priv.h"
#include "node/node_priv.h"
#include "node/relay.h"
#include "node/rx.h"
#include "node/settings.h"
#include "node/tx.h"
#include "ptp/mclock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define CONN_VER "v1.1"
#define SDP_TYPE "application/sdp"
#define SDP_TEXT 4096

#define ERR(code, ...)                                                         \
	do {                                                                   \
		snprintf(err, err_len, __VA_ARGS__);                           \
		return (code);                                                 \
	} while (0)

/* ---- small helpers ---- */

static json_t *tai_or_null(uint64_t ns)
{
	char t[NMOS_TAI_LEN];

	if (!ns)
		return json_null();
	nmos_tai_str(ns, t);
	return json_string(t);
}

static json_t *ip_json(struct in_addr a)
{
	char b[16];

	inet_ntop(AF_INET, &a, b, sizeof(b));
	return json_string(b);
}

static bool own_address(struct in_addr a)
{
	struct in_addr all[32];
	unsigned int n = nmos_addresses(all, 32), i;

	for (i = 0; i < n; i++)
		if (all[i].s_addr == a.s_addr)
			return true;
	return false;
}

static struct in_addr host_addr(const struct nmos *m)
{
	struct in_addr a = {0};

	inet_pton(AF_INET, m->host, &a);
	return a;
}

/* An IPv4 address, or null/"auto" where allowed. */
static int parse_ip(const json_t *v, bool may_null, bool may_auto,
		    bool *is_null, bool *is_auto, struct in_addr *a)
{
	const char *s = json_string_value(v);

	*is_null = false;
	*is_auto = false;
	if (json_is_null(v) && may_null) {
		*is_null = true;
		return 0;
	}
	if (!s)
		return -EINVAL;
	if (may_auto && !strcmp(s, "auto")) {
		*is_auto = true;
		return 0;
	}
	return inet_pton(AF_INET, s, a) == 1 ? 0 : -EINVAL;
}

static int parse_port(const json_t *v, bool *is_auto, uint16_t *port)
{
	*is_auto = false;
	if (json_is_string(v) && !strcmp(json_string_value(v), "auto")) {
		*is_auto = true;
		return 0;
	}
	if (!json_is_integer(v) || json_integer_value(v) < 1 ||
	    json_integer_value(v) > 65535)
		return -EINVAL;
	*port = (uint16_t)json_integer_value(v);
	return 0;
}

static const char *const mode_names[] = {NULL, "activate_immediate",
					 "activate_scheduled_absolute",
					 "activate_scheduled_relative"};

/* "activation": {"mode": ..., "requested_time": ...}. */
static int parse_activation(const json_t *v, struct nmos_activation *a,
			    char *err, size_t err_len)
{
	const json_t *mode = json_object_get(v, "mode");
	const json_t *req = json_object_get(v, "requested_time");
	const char *key;
	const json_t *val;
	int i;

	if (!json_is_object(v))
		ERR(400, "'activation' must be an object");
	json_object_foreach((json_t *)v, key,
			    val) if (strcmp(key, "mode") &&
				     strcmp(key, "requested_time"))
	    ERR(400, "'activation': no member '%s'", key);
	memset(a, 0, sizeof(*a));
	if (!mode)
		ERR(400, "'activation' needs 'mode'");
	if (!json_is_null(mode)) {
		for (i = 1; i < 4; i++)
			if (json_is_string(mode) &&
			    !strcmp(json_string_value(mode), mode_names[i]))
				a->mode = (enum nmos_act_mode)i;
		if (!a->mode)
			ERR(400,
			    "'activation': 'mode' must be null, "
			    "activate_immediate, activate_scheduled_absolute "
			    "or activate_scheduled_relative");
	}
	if (req && !json_is_null(req) &&
	    (!json_is_string(req) ||
	     nmos_tai_parse(json_string_value(req), &a->requested_ns) < 0))
		ERR(400,
		    "'requested_time' must be \"<seconds>:<nanoseconds>\"");
	if ((a->mode == NMOS_ACT_ABSOLUTE || a->mode == NMOS_ACT_RELATIVE) &&
	    (!req || json_is_null(req)))
		ERR(400, "a scheduled activation needs 'requested_time'");
	return 0;
}

static json_t *activation_json(const struct nmos_activation *a)
{
	return json_pack(
	    "{s:s?,s:o,s:o}", "mode", mode_names[a->mode], "requested_time",
	    a->mode == NMOS_ACT_ABSOLUTE || a->mode == NMOS_ACT_RELATIVE
		? tai_or_null(a->requested_ns)
		: json_null(),
	    "activation_time", tai_or_null(a->at_ns));
}

/* A scheduled activation's time: absolute as given (now if past),
 * relative from now;
 * -ERANGE for a relative one past 64 bits of nanoseconds (it wrapped
 * into the past and ran at once: an attacker's "17000000000:0"). */
static int activation_time(struct nmos *m, struct nmos_activation *a)
{
	uint64_t now = nmos_now(m);

	/* one in the past runs at once, and says when ("0:0" answered
	 * 202 with a null activation_time) */
	if (a->mode == NMOS_ACT_ABSOLUTE) {
		a->at_ns = a->requested_ns > now ? a->requested_ns : now;
		return 0;
	}
	if (a->requested_ns > UINT64_MAX - now)
		return -ERANGE;
	a->at_ns = now + a->requested_ns;
	return 0;
}

static void arm_at(struct nmos *m, struct loop_timer *t, uint64_t at_ns)
{
	uint64_t now = nmos_now(m);

	loop_timer_arm(t, at_ns > now ? at_ns - now : 1, 0);
}

/* ---- senders ---- */

static int sender_flow(struct nmos *m, const struct nmos_sender *s)
{
	return tx_flow_find(m->n->tx, s->flow);
}

/* The D4 loop that sends leg @leg of the flow (flow_NAME, flow2_NAME). */
static int sender_loop(struct nmos *m, const struct nmos_sender *s,
		       unsigned int leg)
{
	char name[48];

	tx_d4_name(name, sizeof(name), leg ? "flow2_" : "flow_", s->flow, "");
	return d4_program_find(relay_runtime(m->n->relay), name);
}

/* The sender's legs: two when its flow has a second leg (destination2). */
static unsigned int sender_legs(struct nmos *m, const struct nmos_sender *s)
{
	int slot = sender_flow(m, s);

	return slot >= 0 && flow_config_has_leg2(
				tx_flow_settings(m->n->tx, (unsigned int)slot))
		   ? 2
		   : 1;
}

/* The flow's own destination of leg @leg. */
static struct sockaddr_in flow_dest(struct nmos *m, int slot, unsigned int leg)
{
	const struct flow_config *fc =
	    tx_flow_settings(m->n->tx, (unsigned int)slot);

	return leg ? fc->dest2 : fc->dest;
}

static bool leg_multicast(struct nmos *m, int slot, unsigned int leg)
{
	struct sockaddr_in d = flow_dest(m, slot, leg);

	return net_is_multicast(&d);
}

/* The relay list a unicast leg sends over. */
static const char *leg_list(struct nmos *m, int slot, unsigned int leg)
{
	return leg ? tx_flow_list2(m->n->tx, (unsigned int)slot)
		   : tx_flow_list(m->n->tx, (unsigned int)slot);
}

/* "a.b.c.d:p" as a relay list shows it, in list @text. */
static bool list_has(const char *text, const struct sockaddr_in *d)
{
	char ep[32];
	const char *p = text;
	size_t n;

	net_endpoint_str(d, ep, sizeof(ep));
	n = strlen(ep);
	while ((p = strstr(p, ep))) {
		if ((p == text || p[-1] == '[' || p[-1] == ' ') &&
		    (p[n] == ',' || p[n] == ']'))
			return true;
		p += n;
	}
	return false;
}

/* The IS-05 destination of a unicast leg (its own, else the flow's). */
static struct sockaddr_in sender_dest(struct nmos *m,
				      const struct nmos_sender *s, int slot,
				      unsigned int leg)
{
	if (s->has_dest[leg])
		return s->dest[leg];
	return flow_dest(m, slot, leg);
}

/* Whether leg @leg sends: a multicast leg's loop runs, a unicast leg's
 * list holds its destination. */
static bool leg_active(struct nmos *m, const struct nmos_sender *s, int slot,
		       unsigned int leg)
{
	struct d4_program_info pi;
	char text[4096];
	struct sockaddr_in d;
	int h;

	if (leg_multicast(m, slot, leg)) {
		h = sender_loop(m, s, leg);
		return h >= 0 &&
		       d4_program_info(relay_runtime(m->n->relay), h, &pi) ==
			   0 &&
		       pi.running;
	}
	d = sender_dest(m, s, slot, leg);
	return d4_var_format(relay_runtime(m->n->relay), leg_list(m, slot, leg),
			     text, sizeof(text)) >= 0 &&
	       list_has(text, &d);
}

static bool sender_active(struct nmos *m, const struct nmos_sender *s)
{
	int slot = sender_flow(m, s);
	unsigned int l, legs = sender_legs(m, s);

	for (l = 0; slot >= 0 && l < legs; l++)
		if (leg_active(m, s, slot, l))
			return true;
	return false;
}

json_t *nmos_conn_sender_subscription(struct nmos *m, struct nmos_sender *s)
{
	bool active = sender_active(m, s);

	return json_pack("{s:s?,s:b}", "receiver_id",
			 active && s->receiver_id[0] ? s->receiver_id : NULL,
			 "active", active);
}

void nmos_conn_sender_init(struct nmos *m, struct nmos_sender *s, int slot)
{
	char name[96];
	unsigned int l;

	snprintf(name, sizeof(name), "sender/%s", s->flow);
	nmos_uuid5(m->ns, name, s->id);
	snprintf(name, sizeof(name), "flow/%s", s->flow);
	nmos_uuid5(m->ns, name, s->flow_id);
	snprintf(name, sizeof(name), "source/%s", s->flow);
	nmos_uuid5(m->ns, name, s->source_id);
	s->staged.master_enable = true;
	for (l = 0; l < NMOS_LEGS; l++) {
		s->staged.tp[l].source_auto = true;
		s->staged.tp[l].dest_auto = true;
		s->staged.tp[l].sport_auto = true;
		s->staged.tp[l].dport_auto = true;
		s->staged.tp[l].rtp_enabled = true;
	}
	(void)slot;
}

void nmos_conn_sender_fini(struct nmos_sender *s)
{
	loop_timer_free(s->timer);
	s->timer = NULL;
}

/* The port leg @leg sends from (0 when not known). */
static uint16_t flow_source_port(struct nmos *m, int slot, unsigned int leg)
{
	const struct flow *f = tx_flow_sender(m->n->tx, (unsigned int)slot);
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	int fd = f ? (leg ? flow_fd2(f) : flow_fd(f)) : -1;

	if (fd < 0 || getsockname(fd, (struct sockaddr *)&a, &len) < 0)
		return 0;
	return ntohs(a.sin_port);
}

/* The address leg @leg sends from. */
static struct in_addr flow_source_ip(struct nmos *m, int slot, unsigned int leg)
{
	const struct flow *f = tx_flow_sender(m->n->tx, (unsigned int)slot);
	struct in_addr a = {0};
	uint8_t mac[6];

	if (f && leg)
		flow_origin2(f, &a);
	else if (f)
		flow_origin(f, &a, mac);
	if (!a.s_addr && !leg)
		a = host_addr(m);
	return a;
}

static json_t *sender_tp_json(struct nmos *m, const struct nmos_tx_tp *tp)
{
	json_t *o = json_object();

	json_object_set_new(o, "source_ip",
			    tp->source_auto ? json_string("auto")
					    : ip_json(tp->source));
	json_object_set_new(o, "destination_ip",
			    tp->dest_auto ? json_string("auto")
					  : ip_json(tp->dest));
	json_object_set_new(o, "source_port",
			    tp->sport_auto ? json_string("auto")
					   : json_integer(tp->sport));
	json_object_set_new(o, "destination_port",
			    tp->dport_auto ? json_string("auto")
					   : json_integer(tp->dport));
	json_object_set_new(o, "rtp_enabled", json_boolean(tp->rtp_enabled));
	return o;
}

static json_t *sender_json(struct nmos *m, const struct nmos_tx_params *p,
			   const struct nmos_activation *a, unsigned int legs)
{
	json_t *tps = json_array();
	unsigned int l;

	for (l = 0; l < legs; l++)
		json_array_append_new(tps, sender_tp_json(m, &p->tp[l]));
	return json_pack("{s:s?,s:b,s:o,s:o}", "receiver_id",
			 p->has_receiver ? p->receiver_id : NULL,
			 "master_enable", p->master_enable, "activation",
			 activation_json(a), "transport_params", tps);
}

/* What the sender does now. */
static json_t *sender_active_json(struct nmos *m, struct nmos_sender *s)
{
	int slot = sender_flow(m, s);
	unsigned int l, legs = sender_legs(m, s);
	struct nmos_tx_params p = {0};
	struct nmos_activation a = {.at_ns = s->activated_ns};
	struct sockaddr_in d;

	if (slot >= 0) {
		p.master_enable = sender_active(m, s);
		p.has_receiver = p.master_enable && s->receiver_id[0];
		snprintf(p.receiver_id, sizeof(p.receiver_id), "%s",
			 s->receiver_id);
	}
	for (l = 0; slot >= 0 && l < legs; l++) {
		struct nmos_tx_tp *tp = &p.tp[l];

		d = sender_dest(m, s, slot, l);
		tp->source = flow_source_ip(m, slot, l);
		tp->dest = d.sin_addr;
		tp->sport = flow_source_port(m, slot, l);
		tp->sport_auto = !tp->sport;
		tp->dport = ntohs(d.sin_port);
		tp->rtp_enabled = leg_active(m, s, slot, l);
	}
	return sender_json(m, &p, &a, legs);
}

static json_t *sender_constraints(struct nmos *m, struct nmos_sender *s)
{
	int slot = sender_flow(m, s);
	unsigned int l, legs = sender_legs(m, s);
	json_t *all = json_array();

	if (slot < 0) {
		json_array_append_new(
		    all, json_pack("{s:{},s:{},s:{}}", "source_ip",
				   "destination_port", "rtp_enabled"));
		return all;
	}
	for (l = 0; l < legs; l++) {
		uint16_t sport = flow_source_port(m, slot, l);
		struct sockaddr_in d = flow_dest(m, slot, l);
		bool mc = leg_multicast(m, slot, l);
		json_t *c = json_object();

		json_object_set_new(
		    c, "source_ip",
		    json_pack("{s:[o]}", "enum",
			      ip_json(flow_source_ip(m, slot, l))));
		/* a multicast leg's group and port are the flow's settings */
		json_object_set_new(
		    c, "destination_ip",
		    mc ? json_pack("{s:[o]}", "enum", ip_json(d.sin_addr))
		       : json_object());
		json_object_set_new(
		    c, "source_port",
		    sport ? json_pack("{s:[i]}", "enum", (int)sport)
			  : json_object());
		json_object_set_new(
		    c, "destination_port",
		    mc ? json_pack("{s:[i]}", "enum", (int)ntohs(d.sin_port))
		       : json_pack("{s:i,s:i}", "minimum", 1, "maximum",
				   65535));
		json_object_set_new(c, "rtp_enabled", json_object());
		json_array_append_new(all, c);
	}
	return all;
}

char *nmos_conn_sender_sdp(struct nmos *m, struct nmos_sender *s)
{
	int slot = sender_flow(m, s);
	char sdp[SDP_TEXT], session[SDP_NAME_MAX];
	struct sdp_stream st;
	struct sockaddr_in d;

	if (slot < 0 || tx_flow_sdp(m->n->tx, (unsigned int)slot, sdp,
				    sizeof(sdp), session, sizeof(session)) < 0)
		return NULL;
	if (!s->has_dest[0] && !s->has_dest[1])
		return strdup(sdp);
	/* a unicast leg: the destination IS-05 gave it */
	if (sdp_parse((const uint8_t *)sdp, strlen(sdp), &st, NULL, 0) < 0)
		return NULL;
	d = sender_dest(m, s, slot, 0);
	st.addr = d.sin_addr;
	st.port = ntohs(d.sin_port);
	if (st.dup.present) {
		d = sender_dest(m, s, slot, 1);
		st.dup.addr = d.sin_addr;
		st.dup.port = ntohs(d.sin_port);
	}
	if (sdp_write(&st, sdp, sizeof(sdp)) < 0)
		return NULL;
	return strdup(sdp);
}

/* One leg of a sender's transport_params onto @tp. */
static int parse_sender_leg(const json_t *leg, struct nmos_tx_tp *tp, char *err,
			    size_t err_len)
{
	const char *k;
	json_t *x;
	bool isnull, isauto;

	if (!json_is_object(leg))
		ERR(400, "a leg of 'transport_params' must be an object");
	json_object_foreach((json_t *)leg, k, x)
	{
		if (!strcmp(k, "source_ip")) {
			if (parse_ip(x, false, true, &isnull, &isauto,
				     &tp->source))
				ERR(400, "'source_ip' must be an IPv4 address "
					 "or \"auto\"");
			tp->source_auto = isauto;
		} else if (!strcmp(k, "destination_ip")) {
			if (parse_ip(x, false, true, &isnull, &isauto,
				     &tp->dest))
				ERR(400, "'destination_ip' must be an IPv4 "
					 "address or \"auto\"");
			tp->dest_auto = isauto;
		} else if (!strcmp(k, "source_port")) {
			if (parse_port(x, &isauto, &tp->sport))
				ERR(400, "'source_port' must be 1-65535 or "
					 "\"auto\"");
			tp->sport_auto = isauto;
		} else if (!strcmp(k, "destination_port")) {
			if (parse_port(x, &isauto, &tp->dport))
				ERR(400, "'destination_port' must be 1-65535 "
					 "or \"auto\"");
			tp->dport_auto = isauto;
		} else if (!strcmp(k, "rtp_enabled")) {
			if (!json_is_boolean(x))
				ERR(400, "'rtp_enabled' must be true or false");
			tp->rtp_enabled = json_is_true(x);
		} else {
			ERR(400,
			    "'%s' is not a transport parameter of this sender "
			    "(see its constraints)",
			    k);
		}
	}
	return 0;
}

/* Parse a sender PATCH body onto @p (a copy of staged). */
static int parse_sender(struct nmos *m, struct nmos_sender *s,
			const json_t *body, struct nmos_tx_params *p,
			bool *has_act, struct nmos_activation *act, char *err,
			size_t err_len)
{
	unsigned int l, legs = sender_legs(m, s);
	const char *key;
	json_t *v;
	int rc;

	*has_act = false;
	if (!json_is_object(body))
		ERR(400, "the body must be a JSON object");
	json_object_foreach((json_t *)body, key, v)
	{
		if (!strcmp(key, "receiver_id")) {
			if (json_is_null(v)) {
				p->has_receiver = false;
				continue;
			}
			if (!nmos_uuid_ok(json_string_value(v)))
				ERR(400,
				    "'receiver_id' must be a UUID or null");
			p->has_receiver = true;
			snprintf(p->receiver_id, sizeof(p->receiver_id), "%s",
				 json_string_value(v));
		} else if (!strcmp(key, "master_enable")) {
			if (!json_is_boolean(v))
				ERR(400, "'master_enable' must be true or "
					 "false");
			p->master_enable = json_is_true(v);
		} else if (!strcmp(key, "activation")) {
			rc = parse_activation(v, act, err, err_len);
			if (rc)
				return rc;
			*has_act = true;
		} else if (!strcmp(key, "transport_params")) {
			struct nmos_tx_tp tp[NMOS_LEGS];

			/* IS-05: as many legs as the constraints, {} for a
			 * leg that stays as it is */
			if (!json_is_array(v) || json_array_size(v) != legs)
				ERR(400,
				    "'transport_params' must hold %u leg%s, as "
				    "this sender's constraints do",
				    legs,
				    legs > 1
					? "s (SMPTE 2022-7)"
					: " (its flow has no destination2)");
			memcpy(tp, p->tp, sizeof(tp));
			for (l = 0; l < legs; l++) {
				rc = parse_sender_leg(json_array_get(v, l),
						      &tp[l], err, err_len);
				if (rc)
					return rc;
			}
			memcpy(p->tp, tp, sizeof(tp));
		} else {
			ERR(400,
			    "no member '%s' in a sender's staged "
			    "parameters",
			    key);
		}
	}
	/* the constraints, leg by leg */
	{
		int slot = sender_flow(m, s);

		if (slot < 0)
			ERR(404, "the sender's flow is gone");
		for (l = 0; l < legs; l++) {
			const struct nmos_tx_tp *tp = &p->tp[l];
			struct sockaddr_in d = flow_dest(m, slot, l);
			uint16_t sport = flow_source_port(m, slot, l);
			bool mc = leg_multicast(m, slot, l);
			char leg[24] = "";

			if (legs > 1)
				snprintf(leg, sizeof(leg), " (leg %u)", l + 1);
			if (!tp->source_auto &&
			    tp->source.s_addr !=
				flow_source_ip(m, slot, l).s_addr)
				ERR(400,
				    "'source_ip'%s: this flow sends from its "
				    "interface's address (see constraints)",
				    leg);
			if (!tp->sport_auto && sport && tp->sport != sport)
				ERR(400,
				    "'source_port'%s: this flow sends from "
				    "port %u",
				    leg, sport);
			if (mc && !tp->dest_auto &&
			    tp->dest.s_addr != d.sin_addr.s_addr)
				ERR(400,
				    "'destination_ip'%s: a multicast flow's "
				    "group is its setting (see constraints)",
				    leg);
			if (mc && !tp->dport_auto &&
			    tp->dport != ntohs(d.sin_port))
				ERR(400,
				    "'destination_port'%s: a multicast flow's "
				    "port is its setting (see constraints)",
				    leg);
		}
	}
	return 0;
}

/* Apply leg @leg of @p to the flow: 0, or -errno with @err. */
static int sender_apply_leg(struct nmos *m, struct nmos_sender *s, int slot,
			    unsigned int leg, const struct nmos_tx_params *p,
			    char *err, size_t err_len)
{
	struct d4_runtime *rt = relay_runtime(m->n->relay);
	const struct nmos_tx_tp *tp = &p->tp[leg];
	bool want = p->master_enable && tp->rtp_enabled;
	char text[4096], ep[32], cmd[256];
	struct sockaddr_in old, neu;
	bool same, had;
	const char *list;
	int h, rc;

	if (leg_multicast(m, slot, leg)) {
		h = sender_loop(m, s, leg);
		if (h < 0)
			ERR(-ENOENT, "the flow's D4 loop is gone");
		rc = want ? d4_start(rt, h) : d4_stop(rt, h);
		if (rc < 0)
			ERR(rc, "cannot %s the flow's loop",
			    want ? "start" : "stop");
		s->stopped[leg] = !want;
		return 0;
	}
	list = leg_list(m, slot, leg);
	old = sender_dest(m, s, slot, leg);
	neu = old;
	if (!tp->dest_auto)
		neu.sin_addr = tp->dest;
	if (!tp->dport_auto)
		neu.sin_port = htons(tp->dport);
	else if (!tp->dest_auto && neu.sin_addr.s_addr != old.sin_addr.s_addr)
		neu.sin_port = htons(5004);
	if (d4_var_format(rt, list, text, sizeof(text)) < 0)
		ERR(-ENOENT, "the flow's relay list %s is gone", list);
	/* out with the old destination, in with the new: one statement
	 * each, the list never holds a stale one */
	same = old.sin_addr.s_addr == neu.sin_addr.s_addr &&
	       old.sin_port == neu.sin_port;
	had = list_has(text, &old);
	if (had && (!want || !same)) {
		snprintf(cmd, sizeof(cmd), "%s -= %s", list,
			 net_endpoint_str(&old, ep, sizeof(ep)));
		if (d4_exec(rt, cmd, strlen(cmd), NULL, err, err_len) < 0)
			return -EIO;
	}
	if (want && !(same && had) && !list_has(text, &neu)) {
		snprintf(cmd, sizeof(cmd), "%s += %s", list,
			 net_endpoint_str(&neu, ep, sizeof(ep)));
		if (d4_exec(rt, cmd, strlen(cmd), NULL, err, err_len) < 0)
			return -EIO;
	}
	s->has_dest[leg] = true;
	s->dest[leg] = neu;
	return 0;
}

/* Apply @p to the flow, each of its legs: 0, or -errno with @err. */
static int sender_apply(struct nmos *m, struct nmos_sender *s,
			const struct nmos_tx_params *p, char *err,
			size_t err_len)
{
	int slot = sender_flow(m, s), rc;
	unsigned int l, legs = sender_legs(m, s);
	bool want = false;

	if (slot < 0)
		ERR(-ENOENT, "the sender's flow is gone");
	for (l = 0; l < legs; l++) {
		rc = sender_apply_leg(m, s, slot, l, p, err, err_len);
		if (rc < 0)
			return rc;
		want = want || (p->master_enable && p->tp[l].rtp_enabled);
	}
	snprintf(s->receiver_id, sizeof(s->receiver_id), "%s",
		 want && p->has_receiver ? p->receiver_id : "");
	s->activated_ns = nmos_now(m);
	/* the relay list is a D4 variable: the node's state keeps it */
	state_persist(m->n);
	nmos_save(m);
	nmos_scan(m);
	return 0;
}

static void on_sender_timer(void *data)
{
	struct nmos_sender *s = data;
	struct nmos *m = s->m;
	char err[256];

	if (sender_apply(m, s, &s->pending, err, sizeof(err)) < 0)
		log_warn("nmos: sender %s: scheduled activation failed: %s",
			 s->flow, err);
	else
		log_info("nmos: sender %s activated (scheduled)", s->flow);
	memset(&s->act, 0, sizeof(s->act));
}

static int sender_patch(struct nmos *m, struct nmos_sender *s,
			const json_t *body, json_t **out, char *err,
			size_t err_len)
{
	struct nmos_tx_params p = s->staged;
	struct nmos_activation act = {0};
	bool has_act;
	int rc;

	rc = parse_sender(m, s, body, &p, &has_act, &act, err, err_len);
	if (rc)
		return rc;
	if (s->act.mode && !(has_act && act.mode == NMOS_ACT_NONE))
		ERR(423, "an activation is scheduled: set 'activation' "
			 "'mode' to null to cancel it first");
	if (has_act && act.mode == NMOS_ACT_NONE) {
		loop_timer_disarm(s->timer);
		memset(&s->act, 0, sizeof(s->act));
	}
	s->staged = p;
	if (!has_act || act.mode == NMOS_ACT_NONE) {
		*out = sender_json(m, &s->staged, &s->act, sender_legs(m, s));
		return 200;
	}
	if (act.mode == NMOS_ACT_IMMEDIATE) {
		rc = sender_apply(m, s, &s->staged, err, err_len);
		if (rc < 0)
			return 500;
		act.at_ns = s->activated_ns;
		log_info("nmos: sender %s activated", s->flow);
		*out = sender_json(m, &s->staged, &act, sender_legs(m, s));
		return 200;
	}
	if (activation_time(m, &act) < 0)
		ERR(400,
		    "'requested_time': now plus %llu s is past the "
		    "year 2554",
		    (unsigned long long)(act.requested_ns / 1000000000ull));
	if (!s->timer)
		s->timer = loop_timer_new(m->n->loop, on_sender_timer, s);
	if (!s->timer)
		ERR(500, "out of memory");
	s->act = act;
	s->pending = s->staged;
	arm_at(m, s->timer, act.at_ns);
	*out = sender_json(m, &s->staged, &s->act, sender_legs(m, s));
	return 202;
}

/* ---- receivers ---- */

void nmos_conn_receiver_init(struct nmos *m, struct nmos_receiver *r)
{
	unsigned int l;

	/* a second leg on the second network, off until a DUP transport
	 * file or transport_params enable it */
	r->legs = m->n->cfg->nmos.interface2[0] ? 2 : 1;
	r->staged.master_enable = false;
	for (l = 0; l < NMOS_LEGS; l++) {
		r->staged.tp[l].iface_auto = true;
		r->staged.tp[l].port_auto = true;
		r->staged.tp[l].rtp_enabled = l == 0;
	}
}

static void params_free(struct nmos_rx_params *p)
{
	free(p->sdp);
	p->sdp = NULL;
}

static int params_copy(struct nmos_rx_params *dst,
		       const struct nmos_rx_params *src)
{
	*dst = *src;
	dst->sdp = NULL;
	if (src->sdp && !(dst->sdp = strdup(src->sdp)))
		return -ENOMEM;
	return 0;
}

void nmos_conn_receiver_fini(struct nmos_receiver *r)
{
	loop_timer_free(r->timer);
	loop_timer_free(r->cleanup);
	r->timer = r->cleanup = NULL;
	params_free(&r->staged);
	params_free(&r->pending);
}

/* The receiver's index: its default unicast port is 5004 + 2 * index. */
static unsigned int rx_index(const struct nmos *m,
			     const struct nmos_receiver *r)
{
	return (unsigned int)(r - m->receivers);
}

static bool fills(const struct sub_settings *s, const struct nmos_receiver *r)
{
	unsigned int c;

	for (c = 0; c < s->nrx; c++)
		if (s->rx[c] >= r->first && s->rx[c] < r->first + r->count)
			return true;
	return false;
}

/* The subscriptions filling @r's RX channels now (not those on their way
 * out at a switch), into @slots; the count. */
static unsigned int feeders(struct nmos *m, const struct nmos_receiver *r,
			    int *slots, unsigned int max)
{
	struct rx *rx = m->n->rx;
	unsigned int i, n = 0;

	for (i = 0; i < rx_slots(rx) && n < max; i++) {
		const struct sub_settings *s;

		if (!rx_sub_exists(rx, i))
			continue;
		s = rx_sub_settings(rx, i);
		if (s->rx_until_ns || !fills(s, r))
			continue;
		slots[n++] = (int)i;
	}
	return n;
}

/* The subscription that connects @r: the one on its first channel, else
 * any on its channels; -1 when none. */
static int current(struct nmos *m, const struct nmos_receiver *r)
{
	int slots[8];
	unsigned int n = feeders(m, r, slots, 8), i, c;

	for (i = 0; i < n; i++) {
		const struct sub_settings *s =
		    rx_sub_settings(m->n->rx, (unsigned int)slots[i]);

		for (c = 0; c < s->nrx; c++)
			if (s->rx[c] == r->first)
				return slots[i];
	}
	return n ? slots[0] : -1;
}

const char *nmos_conn_receiver_state(struct nmos *m, struct nmos_receiver *r)
{
	int slot = current(m, r);

	return slot < 0 ? NULL : rx_sub_state(m->n->rx, (unsigned int)slot);
}

/* The sender @r receives from, when IS-05 connected it, else NULL. */
static const char *current_sender(struct nmos *m, struct nmos_receiver *r,
				  int slot)
{
	if (slot < 0 || !r->sub[0] || !r->sender_id[0] ||
	    strcmp(rx_sub_settings(m->n->rx, (unsigned int)slot)->name, r->sub))
		return NULL;
	return r->sender_id;
}

json_t *nmos_conn_receiver_subscription(struct nmos *m, struct nmos_receiver *r)
{
	int slot = current(m, r);

	return json_pack("{s:s?,s:b}", "sender_id", current_sender(m, r, slot),
			 "active", slot >= 0);
}

/* The addresses leg @leg of a receiver may take (its constraints' enum):
 * the node's for the first, [nmos] interface2's for the second. */
static unsigned int leg_addresses(const struct nmos *m, unsigned int leg,
				  struct in_addr *out, unsigned int max)
{
	const char *name = m->n->cfg->nmos.interface2;
	struct ifaddrs *ifa, *i;
	unsigned int n = 0;

	if (!leg)
		return nmos_addresses(out, max);
	if (getifaddrs(&ifa) < 0)
		return 0;
	for (i = ifa; i && n < max; i = i->ifa_next)
		if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET &&
		    !strcmp(i->ifa_name, name))
			out[n++] =
			    ((struct sockaddr_in *)i->ifa_addr)->sin_addr;
	freeifaddrs(ifa);
	return n;
}

/* What "interface_ip": "auto" is on leg @leg: the node's address, or
 * interface2's first (0.0.0.0 while it has none). */
static struct in_addr leg_auto_iface(const struct nmos *m, unsigned int leg)
{
	struct in_addr a = {0};

	if (!leg)
		return host_addr(m);
	leg_addresses(m, leg, &a, 1);
	return a;
}

/* A leg of a subscription (@addr, its source filter) as transport
 * parameters. */
static void tp_from_addr(struct nmos_rx_tp *tp, const struct sockaddr_in *addr,
			 bool has_filter, struct in_addr filter)
{
	if (net_is_multicast(addr)) {
		tp->has_group = true;
		tp->group = addr->sin_addr;
	} else if (addr->sin_addr.s_addr) {
		tp->iface = addr->sin_addr;
	}
	tp->port = ntohs(addr->sin_port);
	tp->has_source = has_filter;
	tp->source = filter;
}

static json_t *rx_tp_json(const struct nmos_rx_tp *tp)
{
	json_t *o = json_object();

	json_object_set_new(o, "source_ip",
			    tp->has_source ? ip_json(tp->source) : json_null());
	json_object_set_new(o, "multicast_ip",
			    tp->has_group ? ip_json(tp->group) : json_null());
	json_object_set_new(o, "interface_ip",
			    tp->iface_auto ? json_string("auto")
					   : ip_json(tp->iface));
	json_object_set_new(o, "destination_port",
			    tp->port_auto ? json_string("auto")
					  : json_integer(tp->port));
	json_object_set_new(o, "rtp_enabled", json_boolean(tp->rtp_enabled));
	return o;
}

static json_t *receiver_json(const struct nmos_rx_params *p,
			     const struct nmos_activation *a, unsigned int legs)
{
	json_t *tps = json_array();
	unsigned int l;

	for (l = 0; l < legs; l++)
		json_array_append_new(tps, rx_tp_json(&p->tp[l]));
	return json_pack("{s:s?,s:b,s:o,s:{s:s?,s:s?},s:o}", "sender_id",
			 p->has_sender ? p->sender_id : NULL, "master_enable",
			 p->master_enable, "activation", activation_json(a),
			 "transport_file", "data", p->sdp, "type",
			 p->sdp ? SDP_TYPE : NULL, "transport_params", tps);
}

/* A multicast leg's interface_ip as the subscription took it: its
 * interface's address (leg A may be PATCHed onto interface2's). */
static void tp_iface(struct nmos_rx_tp *tp, const char *ifname)
{
	struct in_addr a;
	uint8_t mac[6];

	if (tp->has_group && ifname[0] && net_iface_addr(ifname, &a, mac) == 0)
		tp->iface = a;
}

/* What the receiver does now, from the subscription that fills it. */
static json_t *receiver_active_json(struct nmos *m, struct nmos_receiver *r)
{
	int slot = current(m, r);
	struct nmos_rx_params p = {0};
	struct nmos_activation a = {.at_ns = r->activated_ns};
	const char *sender = current_sender(m, r, slot);
	unsigned int l;

	for (l = 0; l < r->legs; l++) {
		p.tp[l].iface = leg_auto_iface(m, l);
		p.tp[l].port = (uint16_t)(5004 + 2 * rx_index(m, r));
	}
	p.tp[0].rtp_enabled = slot >= 0;
	if (slot >= 0) {
		const struct sub_settings *s =
		    rx_sub_settings(m->n->rx, (unsigned int)slot);
		const struct sub *recv =
		    rx_sub_receiver(m->n->rx, (unsigned int)slot);
		const struct sub_config *sc =
		    rx_sub_config(m->n->rx, (unsigned int)slot);

		p.master_enable = true;
		p.has_sender = sender != NULL;
		if (sender)
			snprintf(p.sender_id, sizeof(p.sender_id), "%s",
				 sender);
		p.sdp = s->sdp[0] ? (char *)s->sdp : NULL;
		if (recv) {
			tp_from_addr(&p.tp[0], &sc->addr, sc->has_source_filter,
				     sc->source_filter);
			tp_iface(&p.tp[0], sc->ifname);
			/* the second leg as the subscription took it */
			if (r->legs > 1 && sub_config_legs(sc) > 1) {
				tp_from_addr(&p.tp[1], &sc->addr2,
					     sc->has_source_filter2,
					     sc->source_filter2);
				tp_iface(&p.tp[1], sc->ifname2);
				p.tp[1].rtp_enabled = true;
			}
		}
	}
	return receiver_json(&p, &a, r->legs);
}

static json_t *receiver_constraints(struct nmos *m, struct nmos_receiver *r)
{
	json_t *all = json_array();
	unsigned int l;

	for (l = 0; l < r->legs; l++) {
		struct in_addr addrs[32];
		unsigned int n = leg_addresses(m, l, addrs, 32), i;
		json_t *e = json_array();

		for (i = 0; i < n; i++)
			json_array_append_new(e, ip_json(addrs[i]));
		if (!n && !l)
			json_array_append_new(e, json_string(m->host));
		if (!n && l)
			json_array_append_new(e, ip_json(leg_auto_iface(m, l)));
		json_array_append_new(
		    all, json_pack("{s:{},s:{},s:{s:o},s:{s:i,s:i},s:{}}",
				   "source_ip", "multicast_ip", "interface_ip",
				   "enum", e, "destination_port", "minimum", 1,
				   "maximum", 65535, "rtp_enabled"));
	}
	return all;
}

/* One leg's connection (an SDP's, or its DUP leg's) into transport
 * parameters (IS-05 RTP "Interpretation of SDP files"). */
static void tp_from_leg(struct nmos_rx_tp *tp, struct in_addr addr,
			uint16_t port, bool has_filter, struct in_addr filter)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr = addr};

	if (net_is_multicast(&a)) {
		tp->has_group = true;
		tp->group = addr;
		tp->iface_auto = true;
	} else {
		tp->has_group = false;
		tp->iface_auto = false;
		tp->iface = addr;
	}
	tp->port_auto = false;
	tp->port = port;
	tp->has_source = has_filter;
	tp->source = filter;
	tp->rtp_enabled = true;
}

/* The SDP's connections into the staged transport parameters: its first
 * leg into the first; its DUP leg into the second, or the second leg
 * disabled when it has none (IS-05 "Operation with SMPTE 2022-7"). */
static void tp_from_sdp(struct nmos_rx_tp *tp, unsigned int legs,
			const struct sdp_stream *st)
{
	tp_from_leg(&tp[0], st->addr, st->port, st->has_source_filter,
		    st->source_filter);
	if (legs < 2)
		return;
	if (st->dup.present)
		tp_from_leg(&tp[1], st->dup.addr, st->dup.port,
			    st->dup.has_source_filter, st->dup.source_filter);
	else
		tp[1].rtp_enabled = false;
}

/* One leg of a receiver's transport_params onto @tp. */
static int parse_receiver_leg(struct nmos *m, unsigned int leg, const json_t *o,
			      struct nmos_rx_tp *tp, char *err, size_t err_len)
{
	struct in_addr all[32];
	unsigned int naddr = leg_addresses(m, leg, all, 32), i;
	const char *k;
	json_t *x;
	bool isnull, isauto;

	if (!json_is_object(o))
		ERR(400, "a leg of 'transport_params' must be an object");
	json_object_foreach((json_t *)o, k, x)
	{
		if (!strcmp(k, "source_ip")) {
			if (parse_ip(x, true, false, &isnull, &isauto,
				     &tp->source))
				ERR(400, "'source_ip' must be an IPv4 address "
					 "or null");
			tp->has_source = !isnull;
		} else if (!strcmp(k, "multicast_ip")) {
			if (parse_ip(x, true, false, &isnull, &isauto,
				     &tp->group))
				ERR(400, "'multicast_ip' must be an IPv4 "
					 "address or null");
			tp->has_group = !isnull;
			if (tp->has_group &&
			    (ntohl(tp->group.s_addr) >> 28) != 14)
				ERR(400,
				    "'multicast_ip' %s is not a multicast "
				    "group",
				    json_string_value(x));
		} else if (!strcmp(k, "interface_ip")) {
			if (parse_ip(x, false, true, &isnull, &isauto,
				     &tp->iface))
				ERR(400, "'interface_ip' must be an IPv4 "
					 "address or \"auto\"");
			tp->iface_auto = isauto;
			for (i = 0; !isauto && i < naddr; i++)
				if (all[i].s_addr == tp->iface.s_addr)
					break;
			if (!isauto && i == naddr)
				ERR(400,
				    "'interface_ip' %s is not one of this "
				    "node's%s (see constraints)",
				    json_string_value(x),
				    leg ? " on interface2" : "");
		} else if (!strcmp(k, "destination_port")) {
			if (parse_port(x, &isauto, &tp->port))
				ERR(400, "'destination_port' must be 1-65535 "
					 "or \"auto\"");
			tp->port_auto = isauto;
		} else if (!strcmp(k, "rtp_enabled")) {
			if (!json_is_boolean(x))
				ERR(400, "'rtp_enabled' must be true or false");
			tp->rtp_enabled = json_is_true(x);
		} else {
			ERR(400,
			    "'%s' is not a transport parameter of this "
			    "receiver (see its constraints)",
			    k);
		}
	}
	return 0;
}

static int parse_receiver(struct nmos *m, struct nmos_receiver *r,
			  const json_t *body, struct nmos_rx_params *p,
			  bool *has_act, struct nmos_activation *act, char *err,
			  size_t err_len)
{
	const json_t *tf = json_object_get(body, "transport_file");
	const json_t *tps = json_object_get(body, "transport_params");
	const char *key;
	bool from_file = false;
	json_t *v;
	int rc;

	*has_act = false;
	if (!json_is_object(body))
		ERR(400, "the body must be a JSON object");
	json_object_foreach((json_t *)body, key, v)
	{
		if (!strcmp(key, "sender_id")) {
			if (json_is_null(v)) {
				p->has_sender = false;
				continue;
			}
			if (!nmos_uuid_ok(json_string_value(v)))
				ERR(400, "'sender_id' must be a UUID or null");
			p->has_sender = true;
			snprintf(p->sender_id, sizeof(p->sender_id), "%s",
				 json_string_value(v));
		} else if (!strcmp(key, "master_enable")) {
			if (!json_is_boolean(v))
				ERR(400, "'master_enable' must be true or "
					 "false");
			p->master_enable = json_is_true(v);
		} else if (!strcmp(key, "activation")) {
			rc = parse_activation(v, act, err, err_len);
			if (rc)
				return rc;
			*has_act = true;
		} else if (strcmp(key, "transport_file") &&
			   strcmp(key, "transport_params")) {
			ERR(400,
			    "no member '%s' in a receiver's staged "
			    "parameters",
			    key);
		}
	}
	/* the transport file first: parameters given beside it win */
	if (tf) {
		const json_t *data = json_object_get(tf, "data");
		const json_t *type = json_object_get(tf, "type");
		struct sdp_stream st;
		char why[200];

		if (!json_is_object(tf) || !data || !type ||
		    json_object_size(tf) != 2)
			ERR(400, "'transport_file' is {\"data\": ..., "
				 "\"type\": ...}");
		if (json_is_null(data) != json_is_null(type) ||
		    (!json_is_null(data) &&
		     (!json_is_string(data) || !json_is_string(type))))
			ERR(400, "'transport_file': 'data' and 'type' are both "
				 "strings or both null");
		free(p->sdp);
		p->sdp = NULL;
		if (json_is_string(data)) {
			const char *text = json_string_value(data);

			if (strcmp(json_string_value(type), SDP_TYPE))
				ERR(400,
				    "'transport_file': type '%s'; this "
				    "receiver takes " SDP_TYPE,
				    json_string_value(type));
			if (strlen(text) >= SUB_SDP_MAX)
				ERR(400,
				    "'transport_file': an SDP of at most %d "
				    "bytes",
				    SUB_SDP_MAX - 1);
			if (sdp_parse((const uint8_t *)text, strlen(text), &st,
				      why, sizeof(why)) < 0)
				/* 500, not 400: IS-05's RAML (PATCH staged)
				 * names it for a file that cannot be parsed */
				ERR(500, "the transport file is no SDP: %s",
				    why);
			p->sdp = strdup(text);
			if (!p->sdp)
				ERR(500, "out of memory");
			tp_from_sdp(p->tp, r->legs, &st);
			from_file = true;
		}
	}
	if (tps) {
		struct nmos_rx_tp tp[NMOS_LEGS];
		unsigned int l;

		/* IS-05: as many legs as the constraints, {} for a leg that
		 * stays as it is */
		if (!json_is_array(tps) || json_array_size(tps) != r->legs)
			ERR(400,
			    "'transport_params' must hold %u leg%s, as this "
			    "receiver's constraints do",
			    r->legs,
			    r->legs > 1 ? "s (SMPTE 2022-7)"
					: " (no [nmos] interface2: no SMPTE "
					  "2022-7 here)");
		memcpy(tp, p->tp, sizeof(tp));
		for (l = 0; l < r->legs; l++) {
			rc = parse_receiver_leg(m, l, json_array_get(tps, l),
						&tp[l], err, err_len);
			if (rc)
				return rc;
		}
		memcpy(p->tp, tp, sizeof(tp));
	}
	/* A unicast leg of the transport file is received on the address
	 * it names: one of this node's on that leg's interface, as the
	 * constraints say, or the file is refused now (it was staged, and
	 * its activation failed: an attacker's 127.0.0.1 on leg 2). */
	for (unsigned int l = 0; from_file && l < r->legs; l++) {
		struct in_addr all[32];
		unsigned int naddr = leg_addresses(m, l, all, 32), i;

		if (!p->tp[l].rtp_enabled || p->tp[l].iface_auto)
			continue;
		for (i = 0; i < naddr; i++)
			if (all[i].s_addr == p->tp[l].iface.s_addr)
				break;
		if (i == naddr)
			ERR(400,
			    "the transport file's leg %u is received on %s, "
			    "not one of this node's addresses%s (see "
			    "constraints)",
			    l + 1, inet_ntoa(p->tp[l].iface),
			    l ? " on interface2" : "");
	}
	return 0;
}

/* A subscription name not taken: @base, else @base.2, .3... */
static void free_name(struct nmos *m, const char *base, char *out, size_t len)
{
	unsigned int k;

	snprintf(out, len, "%s", base);
	for (k = 2; rx_sub_find(m->n->rx, out) >= 0 && k < 1000; k++)
		snprintf(out, len, "%s.%u", base, k);
}

/* The second leg of the subscription that connects @r as @p says:
 * address2, interface2 and source_filter2, given (docs/redundancy.md). */
static int receiver_leg2(struct nmos *m, struct nmos_receiver *r,
			 const struct nmos_rx_params *p, struct sub_settings *s,
			 char *err, size_t err_len)
{
	const struct nmos_rx_tp *tp = &p->tp[1];
	struct in_addr iface =
	    tp->iface_auto ? leg_auto_iface(m, 1) : tp->iface;

	if (tp->iface_auto)
		snprintf(s->ifname2, sizeof(s->ifname2), "%s",
			 m->n->cfg->nmos.interface2);
	else
		nmos_ifname_of(tp->iface, s->ifname2, sizeof(s->ifname2));
	s->addr2.sin_family = AF_INET;
	s->addr2.sin_addr = tp->has_group ? tp->group : iface;
	s->addr2.sin_port = htons(
	    tp->port_auto ? (uint16_t)(5004 + 2 * rx_index(m, r)) : tp->port);
	s->given |= SUB_GIVEN_ADDR2;
	if (tp->has_source) {
		s->has_source_filter2 = true;
		s->source_filter2 = tp->source;
		s->given |= SUB_GIVEN_FILTER2;
	}
	if (!tp->has_group && !own_address(iface))
		ERR(-EINVAL, "leg 2: %s is not an address of this node",
		    inet_ntoa(iface));
	/* the first leg on its own network, so that each socket hears its
	 * own */
	if (!s->ifname[0])
		snprintf(s->ifname, sizeof(s->ifname), "%s", m->ifname);
	return 0;
}

/* The settings of the subscription that connects @r as @p says, from
 * PTP time @from_ns. */
static int receiver_settings(struct nmos *m, struct nmos_receiver *r,
			     const struct nmos_rx_params *p, uint64_t from_ns,
			     struct sub_settings *s, char *err, size_t err_len)
{
	unsigned int channels = 2, c;
	char base[SUB_NAME_MAX];
	struct sdp_stream st;
	const struct nmos_rx_tp *tp = &p->tp[0];
	bool two = r->legs > 1 && p->tp[1].rtp_enabled;
	struct in_addr iface = tp->iface_auto ? host_addr(m) : tp->iface;
	uint16_t port =
	    tp->port_auto ? (uint16_t)(5004 + 2 * rx_index(m, r)) : tp->port;
	int rc;

	memset(s, 0, sizeof(*s));
	settings_defaults(SETTINGS_SUB, s);
	snprintf(base, sizeof(base), "nmos-rx%u-%u", r->first + 1,
		 r->first + r->count);
	free_name(m, base, s->name, sizeof(s->name));
	s->latency_ns = m->latency_ns;
	if (tp->has_group && !tp->iface_auto)
		nmos_ifname_of(tp->iface, s->ifname, sizeof(s->ifname));
	if (two) {
		rc = receiver_leg2(m, r, p, s, err, err_len);
		if (rc)
			return rc;
	}
	if (p->sdp) {
		if (sdp_parse((const uint8_t *)p->sdp, strlen(p->sdp), &st,
			      NULL, 0) < 0)
			ERR(-EINVAL, "the transport file is no SDP");
		/* the transport parameters win over the file */
		st.addr = tp->has_group ? tp->group : iface;
		st.port = port;
		st.has_source_filter = tp->has_source;
		st.source_filter = tp->source;
		if (two && st.dup.present) {
			st.dup.addr = s->addr2.sin_addr;
			st.dup.port = ntohs(s->addr2.sin_port);
			st.dup.has_source_filter = s->has_source_filter2;
			st.dup.source_filter = s->source_filter2;
		} else {
			/* one leg: the file's second is not taken */
			st.dup.present = false;
		}
		if (sdp_write(&st, s->sdp, sizeof(s->sdp)) < 0)
			ERR(-EINVAL, "the transport file does not fit");
		channels = st.channels ? st.channels : 1;
	} else {
		s->addr.sin_family = AF_INET;
		s->addr.sin_addr = tp->has_group ? tp->group : iface;
		s->addr.sin_port = htons(port);
		s->given |= SUB_GIVEN_ADDR;
		if (tp->has_source) {
			s->has_source_filter = true;
			s->source_filter = tp->source;
			s->given |= SUB_GIVEN_FILTER;
		}
		channels = s->channels;
	}
	if (!tp->has_group && !own_address(iface))
		ERR(-EINVAL, "%s is not an address of this node",
		    inet_ntoa(iface));
	s->nrx = r->count < channels ? r->count : channels;
	for (c = 0; c < s->nrx; c++)
		s->rx[c] = (uint8_t)(r->first + c);
	s->rx_from_ns = from_ns;
	return 0;
}

static void rest_of(struct nmos *m, const struct sub_settings *s,
		    const struct nmos_receiver *r, uint64_t from_ns,
		    struct sub_settings *out)
{
	char base[SUB_NAME_MAX], list[160];
	unsigned int c, n = 0;

	*out = *s;
	for (c = 0; c < s->nrx; c++) {
		if (s->rx[c] >= r->first && s->rx[c] < r->first + r->count)
			continue;
		out->rx[n] = s->rx[c];
		out->stream_ch[n] =
		    s->nstream_ch ? s->stream_ch[c] : (uint8_t)c;
		n++;
	}
	out->nrx = n;
	out->nstream_ch = n;
	out->rx_from_ns = from_ns;
	out->rx_until_ns = 0;
	{
		unsigned int i = 0, j;
		size_t off = 0;

		list[0] = '\0';
		while (i < n && off < sizeof(list)) {
			for (j = i;
			     j + 1 < n && out->rx[j + 1] == out->rx[j] + 1; j++)
				;
			off += (size_t)snprintf(list + off, sizeof(list) - off,
						j > i ? "%s%u-%u" : "%s%u",
						i ? "," : "", out->rx[i] + 1u,
						out->rx[j] + 1u);
			i = j + 1;
		}
	}
	snprintf(base, sizeof(base), "rx%s", list);
	free_name(m, base, out->name, sizeof(out->name));
}

/* The switch is over: every subscription on its way out (an until
 * time, which only IS-05 sets) whose last sample before it is out goes,
 * however many activations came since (seven at once left three behind,
 * restored at the next start); the timer again for those still due. */
static void on_cleanup(void *data)
{
	struct nmos_receiver *r = data;
	struct nmos *m = r->m;
	struct rx *rx = m->n->rx;
	uint64_t now = nmos_now(m), next = 0;
	char err[256], name[NMOS_SUB_NAME_MAX];
	unsigned int i;

	for (i = 0; i < rx_slots(rx); i++) {
		const struct sub_settings *o;
		uint64_t gone;

		if (!rx_sub_exists(rx, i))
			continue;
		o = rx_sub_settings(rx, i);
		if (!o->rx_until_ns)
			continue;
		gone = o->rx_until_ns + o->latency_ns + 60 * 1000000ull;
		if (gone > now) {
			if (!next || gone < next)
				next = gone;
			continue;
		}
		snprintf(name, sizeof(name), "%s", o->name);
		if (rx_sub_delete(rx, i, err, sizeof(err)) < 0)
			log_warn("nmos: %s: cannot delete subscription %s: %s",
				 r->label, name, err);
	}
	r->nold = 0;
	if (next) {
		r->old_until_ns = next;
		arm_at(m, r->cleanup, next);
	}
	node_channels_changed(m->n);
	nmos_scan(m);
}

static bool share(const struct sub_settings *a, const struct sub_settings *b)
{
	unsigned int i, k;

	for (i = 0; i < a->nrx; i++)
		for (k = 0; k < b->nrx; k++)
			if (a->rx[i] == b->rx[k])
				return true;
	return false;
}

/* A subscription made now may fill RX channels that one on its way out
 * (a switch earlier, not cleaned up yet) fills until its switch time:
 * it starts no sooner. */
static void after_leaving(struct nmos *m, struct sub_settings *s)
{
	struct rx *rx = m->n->rx;
	unsigned int i;

	for (i = 0; i < rx_slots(rx); i++) {
		const struct sub_settings *o;

		if (!rx_sub_exists(rx, i))
			continue;
		o = rx_sub_settings(rx, i);
		if (o->rx_until_ns && o->rx_until_ns > s->rx_from_ns &&
		    share(o, s))
			s->rx_from_ns = o->rx_until_ns;
	}
}

/* Build what @p asks of @r, switching at PTP time @at_ns (0: now; a
 * switch from subscriptions that fill it now happens NMOS_SWITCH_NS
 * ahead, so that the old one stops exactly where the new one starts). All
 * or nothing: 0, or an HTTP status with @err. The switch time in *@t. */
static int receiver_prepare(struct nmos *m, struct nmos_receiver *r,
			    const struct nmos_rx_params *p, uint64_t at_ns,
			    uint64_t *t, char *err, size_t err_len)
{
	struct rx *rx = m->n->rx;
	bool want = p->master_enable && p->tp[0].rtp_enabled;
	int olds[8], made[9], pend[8], rc;
	unsigned int nold, nmade = 0, npend = 0, i, c;
	uint64_t latency = 0, until, now = nmos_now(m), pend_t = 0;
	struct sub_settings s;

	nold = feeders(m, r, olds, 8);
	/* A connection made by an earlier activation that has not started
	 * yet (its switch to come) never played: it is replaced, not kept
	 * to leave after the switch, and its switch time is taken for an
	 * immediate one (no gap after what plays now). A burst of 250
	 * activations of one receiver filled the node's 64 subscriptions
	 * with those (an attacker's bulk request). Deleted once this one
	 * is made (all or nothing). */
	for (i = 0; i < nold;) {
		const struct sub_settings *o =
		    rx_sub_settings(rx, (unsigned int)olds[i]);

		if (rx_sub_origin(rx, (unsigned int)olds[i]) == RX_API &&
		    o->rx_from_ns > now) {
			if (!pend_t || o->rx_from_ns < pend_t)
				pend_t = o->rx_from_ns;
			pend[npend++] = olds[i];
			olds[i] = olds[--nold];
			continue;
		}
		i++;
	}
	for (i = 0; i < nold; i++)
		if (rx_sub_origin(rx, (unsigned int)olds[i]) == RX_CONFIG)
			ERR(500,
			    "%s: RX channels of it are filled by "
			    "subscription %s of the config file",
			    r->label,
			    rx_sub_settings(rx, (unsigned int)olds[i])->name);
	*t = at_ns;
	if (nold && !*t)
		*t = now + NMOS_SWITCH_NS;
	if (!at_ns && pend_t && (!*t || pend_t < *t))
		*t = pend_t;
	r->new_sub[0] = '\0';
	if (!nold && !want) {
		for (i = 0; i < npend; i++)
			rx_sub_delete(rx, (unsigned int)pend[i], NULL, 0);
		if (npend)
			node_channels_changed(m->n);
		return 0;
	}
	for (i = 0; i < nold; i++)
		rx_sub_set_until(rx, (unsigned int)olds[i], *t);
	/* the ones not started yet end where they start: the RX channels
	 * are free for this one (deleted once it is made) */
	for (i = 0; i < npend; i++)
		rx_sub_set_until(
		    rx, (unsigned int)pend[i],
		    rx_sub_settings(rx, (unsigned int)pend[i])->rx_from_ns);
	/* what the old ones fill outside this receiver goes on */
	for (i = 0; i < nold; i++) {
		const struct sub_settings *o =
		    rx_sub_settings(rx, (unsigned int)olds[i]);
		bool outside = false;

		for (c = 0; c < o->nrx; c++)
			if (o->rx[c] < r->first ||
			    o->rx[c] >= r->first + r->count)
				outside = true;
		if (o->latency_ns > latency)
			latency = o->latency_ns;
		if (!outside)
			continue;
		rest_of(m, o, r, *t, &s);
		after_leaving(m, &s);
		rc = rx_sub_create(rx, &s, RX_API, NULL, err, err_len);
		if (rc < 0)
			goto out_undo;
		made[nmade++] = rc;
	}
	if (want) {
		rc = receiver_settings(m, r, p, *t, &s, err, err_len);
		if (rc == 0) {
			after_leaving(m, &s);
			if (s.rx_from_ns > *t)
				*t = s.rx_from_ns;
			rc = rx_sub_create(rx, &s, RX_API, NULL, err, err_len);
		}
		if (rc < 0)
			goto out_undo;
		made[nmade++] = rc;
		snprintf(r->new_sub, sizeof(r->new_sub), "%s", s.name);
		if (s.stream[0] && m->n->disco)
			rx_resolve(rx, m->n->disco);
	}
	/* the old ones go once their last sample before the switch is
	 * out: their latency after it, and a margin */
	for (i = 0; i < nold && r->nold < 4; i++)
		snprintf(r->old_subs[r->nold++], sizeof(r->old_subs[0]), "%s",
			 rx_sub_settings(rx, (unsigned int)olds[i])->name);
	if (nold) {
		/* the earliest cleanup due: on_cleanup() arms the next (a
		 * burst that armed each one's own, later time put every
		 * cleanup off while it lasted: one more left over per switch) */
		until = *t + latency + 60 * 1000000ull;
		if (!r->cleanup)
			r->cleanup = loop_timer_new(m->n->loop, on_cleanup, r);
		if (r->cleanup && (!loop_timer_armed(r->cleanup) ||
				   until < r->old_until_ns)) {
			r->old_until_ns = until;
			arm_at(m, r->cleanup, until);
		}
	}
	for (i = 0; i < npend; i++)
		rx_sub_delete(rx, (unsigned int)pend[i], NULL, 0);
	node_channels_changed(m->n);
	return 0;

out_undo:
	for (i = nmade; i-- > 0;)
		rx_sub_delete(rx, (unsigned int)made[i], NULL, 0);
	for (i = 0; i < nold; i++)
		rx_sub_set_until(rx, (unsigned int)olds[i], 0);
	for (i = 0; i < npend; i++)
		rx_sub_set_until(rx, (unsigned int)pend[i], 0);
	/* not the request's fault: an activation that failed (IS-05) */
	return 500;
}

/* The switch happened: what IS-05 made is now the receiver's. */
static void receiver_fire(struct nmos *m, struct nmos_receiver *r,
			  const struct nmos_rx_params *p, uint64_t t)
{
	snprintf(r->sub, sizeof(r->sub), "%s", r->new_sub);
	snprintf(r->sender_id, sizeof(r->sender_id), "%s",
		 r->new_sub[0] && p->has_sender ? p->sender_id : "");
	r->activated_ns = t ? t : nmos_now(m);
	nmos_save(m);
	nmos_touch(m, NMOS_RECEIVER, r->id);
	nmos_scan(m);
}

static void on_receiver_timer(void *data)
{
	struct nmos_receiver *r = data;
	struct nmos *m = r->m;
	char err[256];
	uint64_t t;
	int rc;

	if (!r->prepared) {
		rc = receiver_prepare(m, r, &r->pending, r->act.at_ns, &t, err,
				      sizeof(err));
		if (rc) {
			/* "active" stays as it was; the schedule is over */
			log_warn(
			    "nmos: %s: scheduled activation at %llu.%09llu "
			    "failed: %s",
			    r->label,
			    (unsigned long long)(r->act.at_ns / NSEC_PER_SEC),
			    (unsigned long long)(r->act.at_ns % NSEC_PER_SEC),
			    err);
			memset(&r->act, 0, sizeof(r->act));
			params_free(&r->pending);
			nmos_scan(m);
			return;
		}
		r->prepared = true;
		arm_at(m, r->timer, r->act.at_ns);
		return;
	}
	receiver_fire(m, r, &r->pending, r->act.at_ns);
	log_info("nmos: %s activated at %llu.%09llu (scheduled)%s%s", r->label,
		 (unsigned long long)(r->act.at_ns / NSEC_PER_SEC),
		 (unsigned long long)(r->act.at_ns % NSEC_PER_SEC),
		 r->sub[0] ? ": subscription " : "", r->sub);
	r->prepared = false;
	memset(&r->act, 0, sizeof(r->act));
	params_free(&r->pending);
}

/* Cancel a scheduled activation; what it built already is taken down. */
static void receiver_cancel(struct nmos *m, struct nmos_receiver *r)
{
	int slot;

	loop_timer_disarm(r->timer);
	if (r->prepared) {
		if (r->new_sub[0]) {
			slot = rx_sub_find(m->n->rx, r->new_sub);
			if (slot >= 0)
				rx_sub_delete(m->n->rx, (unsigned int)slot,
					      NULL, 0);
		}
		/* the old ones were to stop at the switch: they go on */
		while (r->nold) {
			slot = rx_sub_find(m->n->rx, r->old_subs[--r->nold]);
			if (slot >= 0)
				rx_sub_set_until(m->n->rx, (unsigned int)slot,
						 0);
		}
		loop_timer_disarm(r->cleanup);
		node_channels_changed(m->n);
	}
	r->prepared = false;
	memset(&r->act, 0, sizeof(r->act));
	params_free(&r->pending);
}

static int receiver_patch(struct nmos *m, struct nmos_receiver *r,
			  const json_t *body, json_t **out, char *err,
			  size_t err_len)
{
	struct nmos_rx_params p;
	struct nmos_activation act = {0};
	bool has_act;
	uint64_t t;
	int rc;

	if (params_copy(&p, &r->staged) < 0)
		ERR(500, "out of memory");
	rc = parse_receiver(m, r, body, &p, &has_act, &act, err, err_len);
	if (rc)
		goto out_free;
	if (r->act.mode && !(has_act && act.mode == NMOS_ACT_NONE)) {
		snprintf(err, err_len,
			 "an activation is scheduled: set 'activation' "
			 "'mode' to null to cancel it first");
		rc = 423;
		goto out_free;
	}
	if (has_act && act.mode == NMOS_ACT_NONE)
		receiver_cancel(m, r);
	params_free(&r->staged);
	r->staged = p;
	if (!has_act || act.mode == NMOS_ACT_NONE) {
		*out = receiver_json(&r->staged, &r->act, r->legs);
		return 200;
	}
	if (act.mode == NMOS_ACT_IMMEDIATE) {
		rc = receiver_prepare(m, r, &r->staged, 0, &t, err, err_len);
		if (rc)
			return rc;
		receiver_fire(m, r, &r->staged, t);
		act.at_ns = r->activated_ns;
		log_info("nmos: %s activated%s%s", r->label,
			 r->sub[0] ? ": subscription " : " (disconnected)",
			 r->sub);
		*out = receiver_json(&r->staged, &act, r->legs);
		return 200;
	}
	if (activation_time(m, &act) < 0)
		ERR(400,
		    "'requested_time': now plus %llu s is past the "
		    "year 2554",
		    (unsigned long long)(act.requested_ns / 1000000000ull));
	if (!r->timer)
		r->timer = loop_timer_new(m->n->loop, on_receiver_timer, r);
	if (!r->timer || params_copy(&r->pending, &r->staged) < 0)
		ERR(500, "out of memory");
	r->act = act;
	r->prepared = false;
	/* built ahead of the switch, so that it starts on its sample */
	arm_at(m, r->timer,
	       act.at_ns > NMOS_PREPARE_NS ? act.at_ns - NMOS_PREPARE_NS : 0);
	*out = receiver_json(&r->staged, &r->act, r->legs);
	return 202;

out_free:
	params_free(&p);
	return rc;
}

/* ---- nmos.json ---- */

json_t *nmos_conn_save(struct nmos *m)
{
	json_t *snd = json_object(), *rcv = json_object();
	char ep[32];
	unsigned int i;

	for (i = 0; i < NMOS_MAX_SENDERS; i++) {
		struct nmos_sender *s = &m->senders[i];
		json_t *o;
		char ep2[32];

		if (!s->used)
			continue;
		o = json_pack("{s:s,s:b,s:s?,s:s?}", "flow", s->flow, "stopped",
			      s->stopped[0], "receiver_id",
			      s->receiver_id[0] ? s->receiver_id : NULL,
			      "destination",
			      s->has_dest[0] ? net_endpoint_str(&s->dest[0], ep,
								sizeof(ep))
					     : NULL);
		/* the second leg's, as its own keys */
		if (s->stopped[1])
			json_object_set_new(o, "stopped2", json_true());
		if (s->has_dest[1])
			json_object_set_new(
			    o, "destination2",
			    json_string(net_endpoint_str(&s->dest[1], ep2,
							 sizeof(ep2))));
		json_object_set_new(snd, s->id, o);
	}
	for (i = 0; i < m->nreceivers; i++) {
		struct nmos_receiver *r = &m->receivers[i];

		if (!r->sub[0])
			continue;
		json_object_set_new(
		    rcv, r->id,
		    json_pack("{s:s,s:s?}", "subscription", r->sub, "sender_id",
			      r->sender_id[0] ? r->sender_id : NULL));
	}
	return json_pack("{s:i,s:o,s:o}", "version", 1, "senders", snd,
			 "receivers", rcv);
}

void nmos_conn_restore(struct nmos *m, const json_t *j)
{
	const json_t *snd = json_object_get(j, "senders");
	const json_t *rcv = json_object_get(j, "receivers");
	const char *id;
	json_t *o;

	json_object_foreach((json_t *)snd, id, o)
	{
		struct nmos_sender *s = nmos_sender_by_id(m, id);
		const char *rid =
		    json_string_value(json_object_get(o, "receiver_id"));
		static const char *const keys[NMOS_LEGS][2] = {
		    {"stopped", "destination"}, {"stopped2", "destination2"}};
		unsigned int l;
		int slot;

		if (!s)
			continue;
		slot = sender_flow(m, s);
		for (l = 0; slot >= 0 && l < sender_legs(m, s); l++) {
			const char *dest =
			    json_string_value(json_object_get(o, keys[l][1]));

			s->stopped[l] =
			    json_is_true(json_object_get(o, keys[l][0]));
			if (dest &&
			    net_parse_endpoint(dest, 5004, &s->dest[l]) == 0)
				s->has_dest[l] = true;
			if (leg_multicast(m, slot, l) && s->stopped[l]) {
				int h = sender_loop(m, s, l);

				/* a loop stopped by IS-05 stays stopped */
				if (h >= 0)
					d4_stop(relay_runtime(m->n->relay), h);
			}
		}
		if (rid && nmos_uuid_ok(rid))
			snprintf(s->receiver_id, sizeof(s->receiver_id), "%s",
				 rid);
	}
	json_object_foreach((json_t *)rcv, id, o)
	{
		struct nmos_receiver *r = nmos_receiver_by_id(m, id);
		const char *sub =
		    json_string_value(json_object_get(o, "subscription"));
		const char *sid =
		    json_string_value(json_object_get(o, "sender_id"));

		if (!r || !sub)
			continue;
		snprintf(r->sub, sizeof(r->sub), "%s", sub);
		if (sid && nmos_uuid_ok(sid))
			snprintf(r->sender_id, sizeof(r->sender_id), "%s", sid);
	}
}

/* ---- the Connection API's handlers ---- */

static int check_ver(const struct api_req *r, char *err, size_t err_len)
{
	if (strcmp(r->parts[1], CONN_VER))
		ERR(404, "Connection API version '%s' is not served (v1.1 is)",
		    r->parts[1]);
	return 0;
}

static int h_versions(void *ctx, const struct api_req *r, json_t **out,
		      char *err, size_t err_len)
{
	*out = json_pack("[s]", CONN_VER "/");
	return 200;
}

static int h_base(void *ctx, const struct api_req *r, json_t **out, char *err,
		  size_t err_len)
{
	int rc = check_ver(r, err, err_len);

	if (rc)
		return rc;
	*out = json_pack("[s,s]", "bulk/", "single/");
	return 200;
}

static int h_modes(void *ctx, const struct api_req *r, json_t **out, char *err,
		   size_t err_len)
{
	int rc = check_ver(r, err, err_len);

	if (rc)
		return rc;
	*out = json_pack("[s,s]", "senders/", "receivers/");
	return 200;
}

static bool is_senders(const struct api_req *r)
{
	return !strcmp(r->parts[3], "senders");
}

static int h_list(void *ctx, const struct api_req *r, json_t **out, char *err,
		  size_t err_len)
{
	struct nmos *m = ctx;
	int rc = check_ver(r, err, err_len);
	char id[NMOS_UUID_LEN + 1];
	unsigned int i;

	if (rc)
		return rc;
	if (!is_senders(r) && strcmp(r->parts[3], "receivers"))
		ERR(404, "no such resource '%s'", r->parts[3]);
	nmos_scan(m);
	*out = json_array();
	if (is_senders(r)) {
		for (i = 0; i < NMOS_MAX_SENDERS; i++)
			if (m->senders[i].used) {
				snprintf(id, sizeof(id), "%s/",
					 m->senders[i].id);
				json_array_append_new(*out, json_string(id));
			}
	} else {
		for (i = 0; i < m->nreceivers; i++) {
			snprintf(id, sizeof(id), "%s/", m->receivers[i].id);
			json_array_append_new(*out, json_string(id));
		}
	}
	return 200;
}

/* The sender or receiver named by the path; 404 with @err if none. */
static int lookup(struct nmos *m, const struct api_req *r,
		  struct nmos_sender **s, struct nmos_receiver **x, char *err,
		  size_t err_len)
{
	int rc = check_ver(r, err, err_len);

	if (rc)
		return rc;
	*s = NULL;
	*x = NULL;
	if (is_senders(r))
		*s = nmos_sender_by_id(m, r->parts[4]);
	else if (!strcmp(r->parts[3], "receivers"))
		*x = nmos_receiver_by_id(m, r->parts[4]);
	else
		ERR(404, "no such resource '%s'", r->parts[3]);
	if (!*s && !*x)
		ERR(404, "no %s '%s'", is_senders(r) ? "sender" : "receiver",
		    r->parts[4]);
	return 0;
}

static int h_one(void *ctx, const struct api_req *r, json_t **out, char *err,
		 size_t err_len)
{
	struct nmos_sender *s;
	struct nmos_receiver *x;
	int rc = lookup(ctx, r, &s, &x, err, err_len);

	if (rc)
		return rc;
	if (s)
		*out = json_pack("[s,s,s,s,s]", "constraints/", "staged/",
				 "active/", "transportfile/", "transporttype/");
	else
		*out = json_pack("[s,s,s,s]", "constraints/", "staged/",
				 "active/", "transporttype/");
	return 200;
}

static int h_get(void *ctx, const struct api_req *r, json_t **out, char *err,
		 size_t err_len)
{
	struct nmos *m = ctx;
	struct nmos_sender *s;
	struct nmos_receiver *x;
	const char *what = r->parts[5];
	int rc = lookup(m, r, &s, &x, err, err_len);

	if (rc)
		return rc;
	if (!strcmp(what, "constraints"))
		*out =
		    s ? sender_constraints(m, s) : receiver_constraints(m, x);
	else if (!strcmp(what, "staged"))
		*out =
		    s ? sender_json(m, &s->staged, &s->act, sender_legs(m, s))
		      : receiver_json(&x->staged, &x->act, x->legs);
	else if (!strcmp(what, "active"))
		*out =
		    s ? sender_active_json(m, s) : receiver_active_json(m, x);
	else if (!strcmp(what, "transporttype"))
		*out = json_string("urn:x-nmos:transport:rtp");
	else if (s && !strcmp(what, "transportfile")) {
		char *sdp = nmos_conn_sender_sdp(m, s);

		if (!sdp)
			ERR(404, "the sender has no transport file now");
		r->resp->text = sdp;
		snprintf(r->resp->content_type, sizeof(r->resp->content_type),
			 SDP_TYPE);
		r->resp->no_cache = true;
		return 200;
	} else
		ERR(404, "no such resource '%s'", what);
	return 200;
}

static int patch(struct nmos *m, struct nmos_sender *s, struct nmos_receiver *x,
		 const json_t *body, json_t **out, char *err, size_t err_len)
{
	if (!body)
		ERR(400, "a PATCH needs a JSON body");
	return s ? sender_patch(m, s, body, out, err, err_len)
		 : receiver_patch(m, x, body, out, err, err_len);
}

static int h_patch(void *ctx, const struct api_req *r, json_t **out, char *err,
		   size_t err_len)
{
	struct nmos *m = ctx;
	struct nmos_sender *s;
	struct nmos_receiver *x;
	int rc = lookup(m, r, &s, &x, err, err_len);

	if (rc)
		return rc;
	nmos_scan(m);
	return patch(m, s, x, r->body, out, err, err_len);
}

/* POST bulk/senders, bulk/receivers: [{"id", "params"}, ...], each as
 * its own PATCH; 200 with each one's status. */
static int h_bulk(void *ctx, const struct api_req *r, json_t **out, char *err,
		  size_t err_len)
{
	struct nmos *m = ctx;
	int rc = check_ver(r, err, err_len);
	bool senders = is_senders(r);
	const json_t *item;
	size_t i;

	if (rc)
		return rc;
	if (!senders && strcmp(r->parts[3], "receivers"))
		ERR(404, "no such resource '%s'", r->parts[3]);
	if (!json_is_array(r->body))
		ERR(400, "bulk takes an array of {\"id\", \"params\"}");
	json_array_foreach(r->body, i, item)
	{
		const char *id = json_string_value(json_object_get(item, "id"));

		if (!json_is_object(item) || !nmos_uuid_ok(id) ||
		    !json_is_object(json_object_get(item, "params")))
			ERR(400,
			    "item %zu is not {\"id\": UUID, \"params\": "
			    "{...}}",
			    i);
	}
	nmos_scan(m);
	*out = json_array();
	json_array_foreach(r->body, i, item)
	{
		const char *id = json_string_value(json_object_get(item, "id"));
		struct nmos_sender *s =
		    senders ? nmos_sender_by_id(m, id) : NULL;
		struct nmos_receiver *x =
		    senders ? NULL : nmos_receiver_by_id(m, id);
		char why[512] = "";
		json_t *res = NULL;
		int code;

		if (!s && !x) {
			code = 404;
			snprintf(why, sizeof(why), "no %s '%s'",
				 senders ? "sender" : "receiver", id);
		} else {
			code = patch(m, s, x, json_object_get(item, "params"),
				     &res, why, sizeof(why));
		}
		json_decref(res);
		if (code >= 400)
			json_array_append_new(*out,
					      json_pack("{s:s,s:i,s:s,s:n}",
							"id", id, "code", code,
							"error", why, "debug"));
		else
			json_array_append_new(
			    *out,
			    json_pack("{s:s,s:i}", "id", id, "code", code));
	}
	return 200;
}

const struct api_route nmos_conn_routes[] = {
    {"GET", "connection", h_versions},
    {"GET", "connection/*", h_base},
    {"GET", "connection/*/single", h_modes},
    {"GET", "connection/*/bulk", h_modes},
    {"POST", "connection/*/bulk/*", h_bulk},
    {"GET", "connection/*/single/*", h_list},
    {"GET", "connection/*/single/*/*", h_one},
    {"GET", "connection/*/single/*/*/*", h_get},
    {"PATCH", "connection/*/single/*/*/staged", h_patch},
    {NULL, NULL, NULL},
};
