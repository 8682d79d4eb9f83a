/* The control API's handlers (docs/api.md). HTTP is node/api.c's; flows
 * and subscriptions are tx.c's and rx.c's, settings are parsed by the
 * table (node/settings.c); what is left here turns requests into those
 * calls and records into answers. Control thread only. */
#include "common/net.h"
#include "d4/kernel.h"
#include "discovery/sap.h"
#include "discovery/sdp.h"
#include "node/api.h"
#include "node/disco.h"
#include "node/flow.h"
#include "node/meter.h"
#include "node/node_priv.h"
#include "node/relay.h"
#include "node/rx.h"
#include "node/settings.h"
#include "node/source.h"
#include "node/substate.h"
#include "node/tx.h"
#include "ptp/mclock.h"
#include "ptp/mgmt.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define ERR(code, ...)                                                         \
	do {                                                                   \
		snprintf(err, err_len, __VA_ARGS__);                           \
		return (code);                                                 \
	} while (0)

/* An owner's -errno as an HTTP status. */
static int status_of(int rc)
{
	switch (rc) {
	case -EEXIST:
	case -ENOSPC:
	case -EBUSY:
	case -EPERM:
	case -EADDRINUSE:
		return 409;
	case -EINVAL:
		return 400;
	case -EIO:
		return 507; /* not on disk: nothing changed */
	case -EMFILE:
	case -ENFILE:
	case -ENOBUFS:
	case -ENOMEM:
		return 503; /* the node is out of something: try later */
	default:
		return 500;
	}
}

static const char *jstr(const json_t *b, const char *key)
{
	return json_string_value(json_object_get(b, key));
}

static json_t *clock_json(struct node *n)
{
	struct mclock_status cs;
	char id[32];

	mclock_get_status(n->mc, &cs);
	return json_pack(
	    "{s:s,s:s?,s:i,s:I,s:s,s:b,s:b}", "state",
	    mclock_state_name(cs.state), "gm",
	    cs.gm_valid ? ptp_clock_id_str(cs.gm_id, id, sizeof(id)) : NULL,
	    "domain", cs.domain, "offset_ns", (json_int_t)cs.offset_ns,
	    "port_state",
	    ptp_port_state_name((enum ptp_port_state)cs.port_state),
	    "ptp4l_reachable", cs.ptp_reachable, "grandmaster_self", cs.is_gm);
}

static unsigned int tx_count(struct node *n)
{
	unsigned int c = tx_channels(n->tx);

	return c < NODE_MAX_TX ? c : NODE_MAX_TX;
}

/* ---- node, ptp, streams ---- */

static int h_node(void *ctx, const struct api_req *r, json_t **out, char *err,
		  size_t err_len)
{
	struct node *n = ctx;
	struct timespec ts;
	char id[20] = "";

	clock_gettime(CLOCK_MONOTONIC, &ts);
	if (n->disco)
		snprintf(id, sizeof(id), "%s", disco_node_id(n->disco));
	*out = json_pack(
	    "{s:s,s:s,s:s,s:s,s:f,s:i,s:i,s:o,s:s}", "name", n->cfg->name, "id",
	    id, "uuid", n->uuid, "version", D4_VERSION, "uptime_s",
	    ((double)ts.tv_sec * 1e9 + (double)ts.tv_nsec -
	     (double)n->start_ns) /
		1e9,
	    "tx_channels", tx_count(n), "rx_channels", n->cfg->rx_channels,
	    "clock", clock_json(n), "api", API_PREFIX);
	return *out ? 200 : 500;
}

/* Dante's rule for device names: 1-31 of A-Z a-z 0-9 and '-', not
 * beginning or ending with '-'. They are mDNS names, stream names
 * ("NODE FLOW") and the NODE of CHAN@NODE. */
bool node_name_ok(const char *s)
{
	size_t len = s ? strlen(s) : 0;

	return len && len <= NODE_NAME_MAX &&
	       strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
			 "0123456789-") == len &&
	       s[0] != '-' && s[len - 1] != '-';
}

/* PUT /node {"name": "stage-left"} */
static int h_node_update(void *ctx, const struct api_req *r, json_t **out,
			 char *err, size_t err_len)
{
	struct node *n = ctx;
	const char *name = r->body ? jstr(r->body, "name") : NULL;
	char old[sizeof(n->cfg->name)];
	int rc;

	if (!r->body || json_object_size(r->body) != 1 || !name)
		ERR(400, "PUT /node takes {\"name\": NAME}");
	if (!node_name_ok(name))
		ERR(400,
		    "'name' must be 1-%d letters, digits and '-', not "
		    "beginning or ending with '-'",
		    NODE_NAME_MAX);
	if (strcmp(name, n->cfg->name) && n->disco &&
	    disco_peer_named(n->disco, name))
		ERR(409, "another node on the network is called '%s'", name);
	snprintf(old, sizeof(old), "%s", n->cfg->name);
	snprintf(n->cfg->name, sizeof(n->cfg->name), "%s", name);
	rc = state_persist(n);
	snprintf(n->cfg->name, sizeof(n->cfg->name), "%s", old);
	if (rc < 0)
		ERR(507, "not saved: %s", strerror(-rc));
	node_set_name(n, name, false);
	return h_node(ctx, r, out, err, err_len);
}

static int h_ptp(void *ctx, const struct api_req *r, json_t **out, char *err,
		 size_t err_len)
{
	*out = clock_json(ctx);
	return *out ? 200 : 500;
}

static int h_streams(void *ctx, const struct api_req *r, json_t **out,
		     char *err, size_t err_len)
{
	struct node *n = ctx;
	struct disco_stream ds;
	unsigned int i;

	*out = json_array();
	for (i = 0; n->disco && disco_stream_at(n->disco, i, &ds); i++) {
		struct sdp_stream st;
		char addr[32];
		json_t *o = json_pack(
		    "{s:s,s:s,s:s,s:b,s:s}", "name", ds.name, "origin",
		    ds.origin == DISCO_SAP ? "sap" : "ravenna", "host",
		    inet_ntoa(ds.host), "own", ds.own, "sdp", ds.sdp);

		if (sdp_parse((const uint8_t *)ds.sdp, strlen(ds.sdp), &st,
			      NULL, 0) == 0) {
			snprintf(addr, sizeof(addr), "%s:%u",
				 inet_ntoa(st.addr), st.port);
			json_object_set_new(o, "address", json_string(addr));
			json_object_set_new(o, "channels",
					    json_integer(st.channels));
			json_object_set_new(o, "encoding",
					    json_string(st.encoding));
			json_object_set_new(o, "rate", json_integer(st.rate));
			json_object_set_new(o, "ptime_us",
					    json_integer(st.ptime_us));
		}
		json_array_append_new(*out, o);
	}
	return 200;
}

/* ---- flows ---- */

/* ST 2022-7: each leg's destination and counters (docs/api.md). */
static const char *link_name(int link)
{
	return link > 0 ? "up" : link == 0 ? "down" : "unknown";
}

static json_t *flow_legs_json(struct node *n, unsigned int i,
			      const struct flow_config *fc,
			      const struct flow_stats *st)
{
	char a[32], b[32];

	return json_pack(
	    "[{s:s,s:s,s:s,s:s,s:I,s:I},{s:s,s:s,s:s,s:s,s:I,s:I}]", "leg", "A",
	    "destination", net_endpoint_str(&fc->dest, a, sizeof(a)),
	    "interface", fc->ifname, "link",
	    link_name(tx_flow_link(n->tx, i, 0)), "packets",
	    (json_int_t)GET(st->packets), "send_errors",
	    (json_int_t)GET(st->send_errors), "leg", "B", "destination",
	    net_endpoint_str(&fc->dest2, b, sizeof(b)), "interface",
	    fc->ifname2, "link", link_name(tx_flow_link(n->tx, i, 1)),
	    "packets", (json_int_t)GET(st->packets2), "send_errors",
	    (json_int_t)GET(st->send_errors2));
}

static json_t *flow_json(struct node *n, unsigned int i)
{
	const struct flow_config *fc = tx_flow_settings(n->tx, i);
	const struct flow_stats *st = flow_stats(tx_flow_sender(n->tx, i));
	char sdp[SAP_SDP_MAX], session[SDP_NAME_MAX];
	json_t *o = settings_to_json(SETTINGS_FLOW, fc, ~0u);

	if (tx_flow_sdp(n->tx, i, sdp, sizeof(sdp), session, sizeof(session)) <
	    0)
		sdp[0] = session[0] = '\0';
	json_object_set_new(o, "settings",
			    settings_to_json(SETTINGS_FLOW, fc, ~0u));
	json_object_set_new(o, "multicast",
			    json_boolean(net_is_multicast(&fc->dest)));
	json_object_set_new(o, "session", json_string(session));
	json_object_set_new(o, "sdp", json_string(sdp));
	json_object_set_new(
	    o, "origin",
	    json_string(tx_flow_origin(n->tx, i) == TX_API ? "api" : "config"));
	json_object_set_new(
	    o, "stats",
	    json_pack("{s:I,s:I,s:I}", "packets", (json_int_t)GET(st->packets),
		      "send_errors", (json_int_t)GET(st->send_errors),
		      "skipped", (json_int_t)GET(st->skipped)));
	json_object_set_new(o, "link",
			    json_string(link_name(tx_flow_link(n->tx, i, 0))));
	if (flow_config_has_leg2(fc))
		json_object_set_new(o, "legs", flow_legs_json(n, i, fc, st));
	return o;
}

static int h_flows(void *ctx, const struct api_req *r, json_t **out, char *err,
		   size_t err_len)
{
	struct node *n = ctx;
	unsigned int i;
	int k;

	if (r->nparts == 2) {
		k = tx_flow_find(n->tx, r->parts[1]);
		if (k < 0)
			ERR(404, "no flow '%s'", r->parts[1]);
		*out = flow_json(n, (unsigned int)k);
		return 200;
	}
	*out = json_array();
	for (i = 0; i < tx_slots(n->tx); i++)
		if (tx_flow_exists(n->tx, i))
			json_array_append_new(*out, flow_json(n, i));
	return 200;
}

static int h_flow_create(void *ctx, const struct api_req *r, json_t **out,
			 char *err, size_t err_len)
{
	struct node *n = ctx;
	struct flow_config fc;
	int slot;

	if (!r->body)
		ERR(400, "POST /flows needs a JSON body");
	if (settings_from_json(SETTINGS_FLOW, r->body, &fc, NULL, NULL, err,
			       err_len) < 0)
		return 400;
	slot = tx_flow_create(n->tx, &fc, TX_API, err, err_len);
	if (slot < 0)
		return status_of(slot);
	node_channels_changed(n);
	log_info("api: flow %s created (%s)", fc.name,
		 jstr(r->body, "destination"));
	*out = flow_json(n, (unsigned int)slot);
	api_set_location(r, "flows", fc.name);
	return 201;
}

static int h_flow_delete(void *ctx, const struct api_req *r, json_t **out,
			 char *err, size_t err_len)
{
	struct node *n = ctx;
	int i = tx_flow_find(n->tx, r->parts[1]), rc;

	/* one the state file kept (it did not restore at start) goes too */
	if (i < 0 && state_forget_kept(n, "flows", r->parts[1]))
		return 204;
	if (i < 0)
		ERR(404, "no flow '%s'", r->parts[1]);
	rc = tx_flow_delete(n->tx, (unsigned int)i, err, err_len);
	if (rc < 0)
		return status_of(rc);
	node_channels_changed(n);
	log_info("api: flow %s deleted", r->parts[1]);
	return 204;
}

/* ---- subscriptions ---- */

static json_t *sub_stats_json(const struct sub_stats *st)
{
	static const char *const bucket[SUB_HIST_BUCKETS] = {
	    "<0",    "<125",  "<250",  "<500",	 "<1000",
	    "<2000", "<4000", "<8000", "<16000", ">=16000"};
	json_t *h = json_object();
	unsigned int b;

	for (b = 0; b < SUB_HIST_BUCKETS; b++)
		json_object_set_new(h, bucket[b],
				    json_integer((json_int_t)GET(st->hist[b])));
	json_t *o = json_pack(
	    "{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:o}",
	    "received", (json_int_t)GET(st->received), "lost",
	    (json_int_t)GET(st->lost), "late", (json_int_t)GET(st->late),
	    "early", (json_int_t)GET(st->early), "unsynced",
	    (json_int_t)GET(st->unsynced), "duplicate",
	    (json_int_t)GET(st->duplicate), "reordered",
	    (json_int_t)GET(st->reordered), "missing_frames",
	    (json_int_t)GET(st->missing_frames), "bad_header",
	    (json_int_t)GET(st->bad_header), "bad_pt",
	    (json_int_t)GET(st->bad_pt), "bad_size",
	    (json_int_t)GET(st->bad_size), "foreign",
	    (json_int_t)GET(st->foreign), "ssrc_changes",
	    (json_int_t)GET(st->ssrc_changes), "delay_us", h);

	json_object_set_new(o, "foreign_ssrc",
			    json_integer((json_int_t)GET(st->foreign_ssrc)));
	json_object_set_new(o, "last_bad_pt",
			    json_integer((json_int_t)GET(st->last_bad_pt)));
	json_object_set_new(o, "last_bad_size",
			    json_integer((json_int_t)GET(st->last_bad_size)));
	json_object_set_new(o, "ssrc", json_integer((json_int_t)GET(st->ssrc)));
	json_object_set_new(o, "off_timeline",
			    json_integer((json_int_t)GET(st->off_timeline)));
	json_object_set_new(o, "rejudged",
			    json_integer((json_int_t)GET(st->rejudged)));
	json_object_set_new(o, "arrival_steps",
			    json_integer((json_int_t)GET(st->arrival_steps)));
	json_object_set_new(o, "redundant",
			    json_integer((json_int_t)GET(st->redundant)));
	json_object_set_new(o, "seq_jumps",
			    json_integer((json_int_t)GET(st->seq_jumps)));
	return o;
}

static json_t *channel_list(const uint8_t *ch, unsigned int n)
{
	json_t *a = json_array();
	unsigned int c;

	for (c = 0; c < n; c++)
		json_array_append_new(a, json_integer(ch[c] + 1));
	return a;
}

static json_t *recordings_json(struct node *n, unsigned int i)
{
	struct rx_rec_info ri[SUB_MAX_SINKS];
	unsigned int k, nr = rx_sub_recordings(n->rx, i, ri, SUB_MAX_SINKS);
	json_t *a = json_array();

	for (k = 0; k < nr; k++) {
		json_t *o = json_pack(
		    "{s:s,s:s,s:I,s:I,s:I}", "path", ri[k].path, "state",
		    ri[k].state, "frames", (json_int_t)ri[k].frames,
		    "gap_clipped", (json_int_t)ri[k].gap_clipped, "overflows",
		    (json_int_t)ri[k].overflows);

		if (ri[k].error)
			json_object_set_new(o, "error",
					    json_string(strerror(ri[k].error)));
		if (ri[k].start_x != UINT64_MAX)
			json_object_set_new(
			    o, "start_position",
			    json_integer((json_int_t)ri[k].start_x));
		json_array_append_new(a, o);
	}
	return a;
}

/* ST 2022-7: each leg's address, interface, state and counters
 * (docs/api.md). */
static json_t *sub_legs_json(struct node *n, unsigned int i,
			     const struct sub_config *sc,
			     const struct sub *recv)
{
	const struct sub_stats *st = sub_stats(recv);
	json_t *a = json_array();
	unsigned int l;

	for (l = 0; l < SUB_LEGS; l++) {
		const struct sub_leg_stats *ls = &st->leg[l];
		uint64_t silent, last = GET(ls->last_ns);
		int64_t dmax = GET(ls->delay_max_ns);
		json_t *o;
		char ep[32];

		substate_leg(last, GET(st->started_ns), GET(st->drained_ns),
			     &silent);
		o = json_pack("{s:s,s:s,s:s,s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:I}",
			      "leg", l ? "B" : "A", "address",
			      net_endpoint_str(l ? &sc->addr2 : &sc->addr, ep,
					       sizeof(ep)),
			      "interface", l ? sc->ifname2 : sc->ifname,
			      "state", rx_sub_leg_state(n->rx, i, l),
			      "received", (json_int_t)GET(ls->received), "lost",
			      (json_int_t)GET(ls->lost), "late",
			      (json_int_t)GET(ls->late), "used",
			      (json_int_t)GET(ls->used), "refused",
			      (json_int_t)GET(ls->refused), "other_ssrc",
			      (json_int_t)GET(ls->other_ssrc), "silent_ms",
			      (json_int_t)(silent / 1000000));
		json_object_set_new(
		    o, "delay_max_us",
		    dmax == INT64_MIN
			? json_null()
			: json_integer((json_int_t)(dmax / 1000)));
		json_array_append_new(a, o);
	}
	return a;
}

static json_t *sub_json(struct node *n, unsigned int i)
{
	const struct sub_settings *s = rx_sub_settings(n->rx, i);
	const struct sub *recv = rx_sub_receiver(n->rx, i);
	const struct sub_config *sc = rx_sub_config(n->rx, i);
	char addr[32];
	int64_t safe;
	json_t *o;

	net_endpoint_str(&sc->addr, addr, sizeof(addr));
	o = json_pack(
	    "{s:s,s:s?,s:s,s:i,s:s,s:i,s:I,s:I,s:s,s:s}", "name", s->name,
	    "stream", s->stream[0] ? s->stream : NULL, "address",
	    recv ? addr : "", "channels", recv ? sc->channels : s->channels,
	    "encoding", rtp_encoding_name(recv ? sc->enc : s->enc), "rate",
	    recv ? sc->rate : s->rate, "latency_us",
	    (json_int_t)(s->latency_ns / 1000), "mediaclk_offset",
	    (json_int_t)(recv ? sc->mediaclk_offset : s->mediaclk_offset),
	    "state", rx_sub_state(n->rx, i), "origin",
	    rx_sub_origin(n->rx, i) == RX_API ? "api" : "config");
	if (s->nrx) {
		uint8_t sch[SOURCE_MAX_CHANNELS];
		unsigned int c;

		for (c = 0; c < s->nrx; c++)
			sch[c] = s->nstream_ch ? s->stream_ch[c] : (uint8_t)c;
		json_object_set_new(o, "rx_channels",
				    channel_list(s->rx, s->nrx));
		json_object_set_new(o, "stream_channels",
				    channel_list(sch, s->nrx));
	}
	json_object_set_new(o, "state_reason",
			    json_string(rx_sub_state_reason(n->rx, i)));
	if (s->stream[0])
		json_object_set_new(o, "stream_announced",
				    json_boolean(rx_sub_announced(n->rx, i)));
	safe = rx_sub_safe_latency_us(n->rx, i);
	json_object_set_new(o, "latency_safe_us",
			    safe >= 0 ? json_integer(safe) : json_null());
	if (recv) {
		const struct sub_stats *st = sub_stats(recv);

		json_object_set_new(
		    o, "timing",
		    json_string(GET(st->arrival_timing) ? "arrival" : "ptp"));
		if (GET(st->arrival_timing)) {
			json_object_set_new(
			    o, "rate_ppm",
			    json_real((double)GET(st->rate_ppb) / 1000.0));
			json_object_set_new(o, "converting",
					    json_boolean(GET(st->converting)));
		}
	}
	if (recv && sub_config_legs(sc) == 2) {
		net_endpoint_str(&sc->addr2, addr, sizeof(addr));
		json_object_set_new(o, "address2", json_string(addr));
		json_object_set_new(o, "legs", sub_legs_json(n, i, sc, recv));
	}
	json_object_set_new(o, "settings",
			    settings_to_json(SETTINGS_SUB, s, s->given));
	json_object_set_new(o, "recordings", recordings_json(n, i));
	if (recv)
		json_object_set_new(o, "stats",
				    sub_stats_json(sub_stats(recv)));
	return o;
}

static int h_subs(void *ctx, const struct api_req *r, json_t **out, char *err,
		  size_t err_len)
{
	struct node *n = ctx;
	unsigned int i;
	int k;

	if (r->nparts == 2) {
		k = rx_sub_find(n->rx, r->parts[1]);
		if (k < 0)
			ERR(404, "no subscription '%s'", r->parts[1]);
		*out = sub_json(n, (unsigned int)k);
		return 200;
	}
	*out = json_array();
	for (i = 0; i < rx_slots(n->rx); i++)
		if (rx_sub_exists(n->rx, i))
			json_array_append_new(*out, sub_json(n, i));
	return 200;
}

/* Seconds as PTP ns: up to 10^10 s (the year 2286), well inside 64 bits. */
#define RECORD_MAX_S 1e10

/* "record": {"path", "start", "duration"}: a WAV recording of every
 * channel, aligned by PTP position, into a new file of the recordings
 * directory (rx.c checks the name). A start more than a second in the past
 * of a settled clock is refused: the positions it names went by unheard.
 * 0 or 400 with @err. */
static int parse_record(struct node *n, const json_t *rec,
			struct rx_record *out, char *err, size_t err_len)
{
	const char *path = jstr(rec, "path");
	json_t *start = json_object_get(rec, "start");
	json_t *dur = json_object_get(rec, "duration");
	uint64_t now;

	const char *key;
	json_t *v;

	if (!json_is_object(rec) || !path || !*path ||
	    strlen(path) >= sizeof(out->name))
		ERR(400, "'record' needs {\"path\": FILE, \"start\": "
			 "PTP_SECONDS, \"duration\": SECONDS}; FILE a name in "
			 "the recordings directory");
	json_object_foreach((json_t *)rec, key, v)
	{
		if (strcmp(key, "path") && strcmp(key, "start") &&
		    strcmp(key, "duration"))
			ERR(400,
			    "'record': unknown member '%.40s' (path, "
			    "start, duration)",
			    key);
	}
	if ((start && !json_is_number(start)) ||
	    (dur && !json_is_number(dur)) ||
	    (start && !(json_number_value(start) >= 0 &&
			json_number_value(start) <= RECORD_MAX_S)) ||
	    (dur && !(json_number_value(dur) >= 0 &&
		      json_number_value(dur) <= RECORD_MAX_S)))
		ERR(400,
		    "'record': start and duration are numbers of seconds "
		    "from 0 to %.0f",
		    RECORD_MAX_S);
	memset(out, 0, sizeof(*out));
	snprintf(out->name, sizeof(out->name), "%s", path);
	out->has_start = start != NULL;
	out->start_ns = start ? (uint64_t)(json_number_value(start) * 1e9) : 0;
	out->duration_ns = dur ? (uint64_t)(json_number_value(dur) * 1e9) : 0;
	now = mclock_now_ns(n->mc);
	if (start && mclock_timescale_ok(n->mc) &&
	    out->start_ns + NSEC_PER_SEC < now)
		ERR(400,
		    "'record.start' is %.3f s in the past (PTP time is now "
		    "%.3f s): leave it out to record from the first audio, "
		    "or give a time ahead",
		    (double)(now - out->start_ns) / 1e9, (double)now / 1e9);
	return 0;
}

static int h_sub_create(void *ctx, const struct api_req *r, json_t **out,
			char *err, size_t err_len)
{
	struct node *n = ctx;
	json_t *rec, *body;
	struct sub_settings s;
	struct rx_record rr;
	int slot;

	if (!r->body)
		ERR(400, "POST /subscriptions needs a JSON body");
	rec = json_object_get(r->body, "record");
	if (rec && parse_record(n, rec, &rr, err, err_len))
		return 400;
	/* the recording is not one of the subscription's settings */
	body = json_copy(r->body);
	json_object_del(body, "record");
	memset(&s, 0, sizeof(s));
	slot = settings_from_json(SETTINGS_SUB, body, &s, NULL, &s.given, err,
				  err_len);
	json_decref(body);
	if (slot < 0)
		return 400;
	slot = rx_sub_create(n->rx, &s, RX_API, rec ? &rr : NULL, err, err_len);
	if (slot < 0)
		return status_of(slot);
	if (s.stream[0] && n->disco)
		rx_resolve(n->rx, n->disco);
	node_channels_changed(n);
	log_info("api: subscription %s created", s.name);
	*out = sub_json(n, (unsigned int)slot);
	api_set_location(r, "subscriptions", s.name);
	return 201;
}

static int h_sub_delete(void *ctx, const struct api_req *r, json_t **out,
			char *err, size_t err_len)
{
	struct node *n = ctx;
	int i = rx_sub_find(n->rx, r->parts[1]), rc;

	/* one the state file kept (it did not restore at start) goes too */
	if (i < 0 && state_forget_kept(n, "subscriptions", r->parts[1]))
		return 204;
	if (i < 0)
		ERR(404, "no subscription '%s'", r->parts[1]);
	rc = rx_sub_delete(n->rx, (unsigned int)i, err, err_len);
	if (rc < 0)
		return status_of(rc);
	node_channels_changed(n);
	log_info("api: subscription %s deleted", r->parts[1]);
	return 204;
}

/* PUT /subscriptions/NAME {"latency_us": N}: it works on a config file's
 * subscription too, as Dante Controller sets any device's latency. */
static int h_sub_update(void *ctx, const struct api_req *r, json_t **out,
			char *err, size_t err_len)
{
	const struct setting *row =
	    settings_find(SETTINGS_SUB, NULL, "latency_us");
	struct node *n = ctx;
	int i = rx_sub_find(n->rx, r->parts[1]), rc;
	struct sub_settings s;
	json_t *v;
	char why[256];

	if (i < 0)
		ERR(404, "no subscription '%s'", r->parts[1]);
	v = r->body ? json_object_get(r->body, "latency_us") : NULL;
	if (!v || json_object_size(r->body) != 1)
		ERR(400, "PUT needs {\"latency_us\": N}");
	if (setting_parse_json(row, v, &s, why, sizeof(why)) < 0)
		ERR(400, "'latency_us': %s", why);
	rc = rx_sub_set_latency(n->rx, (unsigned int)i, s.latency_ns, err,
				err_len);
	if (rc < 0)
		return status_of(rc);
	log_info("api: subscription %s latency %llu us", r->parts[1],
		 (unsigned long long)(s.latency_ns / 1000));
	*out = sub_json(n, (unsigned int)i);
	return 200;
}

/* ---- channels ---- */

/* TX channel @t (0-based): its source and the source's channel. */
static int tx_source(struct node *n, unsigned int t, unsigned int *ch)
{
	unsigned int i, nc;

	for (i = 0; i < n->cfg->nsources; i++) {
		nc = source_channels(n->sources[i]);
		if (t < nc) {
			*ch = t;
			return (int)i;
		}
		t -= nc;
	}
	return -1;
}

static json_t *tx_channel_json(struct node *n, unsigned int t)
{
	unsigned int sc = 0, i, c;
	int si = tx_source(n, t, &sc);
	json_t *flows = json_array();

	for (i = 0; i < tx_slots(n->tx); i++) {
		const struct flow_config *fc;

		if (!tx_flow_exists(n->tx, i))
			continue;
		fc = tx_flow_settings(n->tx, i);
		if (strcmp(fc->source, n->cfg->sources[si].name))
			continue;
		for (c = 0; c < fc->nch; c++)
			if (fc->chans[c] == sc)
				json_array_append_new(
				    flows,
				    json_pack("{s:s,s:i}", "flow", fc->name,
					      "channel", c + 1));
	}
	return json_pack("{s:i,s:s,s:s,s:i,s:o}", "channel", t + 1, "name",
			 n->tx_name[t], "source", n->cfg->sources[si].name,
			 "source_channel", sc + 1, "flows", flows);
}

static json_t *rx_channel_json(struct node *n, unsigned int r)
{
	unsigned int sch = 0;
	int si = rx_channel_feeder(n->rx, r, &sch);

	if (si < 0)
		return json_pack("{s:i,s:s,s:n,s:n}", "channel", r + 1, "name",
				 n->rx_name[r], "subscription",
				 "stream_channel");
	return json_pack("{s:i,s:s,s:s,s:i}", "channel", r + 1, "name",
			 n->rx_name[r], "subscription",
			 rx_sub_settings(n->rx, (unsigned int)si)->name,
			 "stream_channel", sch + 1);
}

static int h_channels(void *ctx, const struct api_req *r, json_t **out,
		      char *err, size_t err_len)
{
	struct node *n = ctx;
	json_t *tx = json_array(), *rx = json_array();
	unsigned int i;

	for (i = 0; i < tx_count(n); i++)
		json_array_append_new(tx, tx_channel_json(n, i));
	for (i = 0; i < n->cfg->rx_channels; i++)
		json_array_append_new(rx, rx_channel_json(n, i));
	*out = json_pack("{s:o,s:o}", "tx", tx, "rx", rx);
	return 200;
}

/* A channel name d4ctl can tell from channel numbers and lists: 1-31
 * characters, not all digits, dashes and commas, no '@' or '"'. */
static bool good_channel_name(const char *s)
{
	size_t len = strlen(s);

	/* a no-break space (U+00A0) at either end, as a space: a name that
	 * looks blank or padded */
	/* no ',': a channel list's separator, in d4ctl's CHAN,CHAN@NODE
	 * and in the SDP's i= line (a name "L, R" named three channels) */
	if (!len || len >= NODE_CHANNEL_NAME_MAX ||
	    strspn(s, "0123456789-") == len || strpbrk(s, "@\",") ||
	    s[0] == ' ' || s[len - 1] == ' ' || !strncmp(s, "\xc2\xa0", 2) ||
	    (len >= 2 && !strcmp(s + len - 2, "\xc2\xa0")))
		return false;
	return settings_text_readable(s);
}

int node_set_channel_name(struct node *n, bool tx, unsigned int idx,
			  const char *name, char *err, size_t err_len)
{
	const char *dir = tx ? "tx" : "rx";
	unsigned int count = tx ? tx_count(n) : n->cfg->rx_channels, i;
	char(*names)[NODE_CHANNEL_NAME_MAX] = tx ? n->tx_name : n->rx_name;

	if (idx >= count)
		ERR(404, "no %s channel %u: the node has %u", dir, idx + 1,
		    count);
	if (!name || !good_channel_name(name))
		ERR(400,
		    "'name' must be 1-%d bytes of UTF-8, not only digits "
		    "and dashes, without '@', '\"', ',', control "
		    "characters, line separators or direction marks, not "
		    "beginning or ending with a space",
		    NODE_CHANNEL_NAME_MAX - 1);
	for (i = 0; i < count; i++)
		if (i != idx && !strcmp(names[i], name))
			ERR(409, "%s channel %u is called '%s' already", dir,
			    i + 1, name);
	snprintf(names[idx], NODE_CHANNEL_NAME_MAX, "%s", name);
	return 0;
}

/* PUT /channels/tx/N or /channels/rx/N {"name": "Vox"} */
static int h_channel_rename(void *ctx, const struct api_req *r, json_t **out,
			    char *err, size_t err_len)
{
	struct node *n = ctx;
	const char *dir = r->parts[1], *num = r->parts[2];
	const char *name = r->body ? jstr(r->body, "name") : NULL;
	char old[NODE_CHANNEL_NAME_MAX];
	bool tx = !strcmp(dir, "tx");
	unsigned long idx;
	char *end;
	int rc;

	if (!tx && strcmp(dir, "rx"))
		ERR(404, "channels are /channels/tx/N or /channels/rx/N");
	idx = strtoul(num, &end, 10);
	if (*end || !idx || idx > 1000)
		ERR(404, "no %s channel '%s'", dir, num);
	if (!r->body)
		ERR(400, "PUT needs {\"name\": NAME}");
	if (idx <= (tx ? NODE_MAX_TX : RXBUS_MAX_CHANNELS))
		snprintf(old, sizeof(old), "%s",
			 tx ? n->tx_name[idx - 1] : n->rx_name[idx - 1]);
	rc = node_set_channel_name(n, tx, (unsigned int)idx - 1, name, err,
				   err_len);
	if (rc)
		return rc;
	rc = state_persist(n);
	if (rc < 0) {
		snprintf(tx ? n->tx_name[idx - 1] : n->rx_name[idx - 1],
			 NODE_CHANNEL_NAME_MAX, "%s", old);
		ERR(507, "not saved: %s", strerror(-rc));
	}
	log_info("api: %s channel %lu named '%s'", dir, idx, name);
	if (tx)
		tx_publish_all(n->tx); /* the SDPs' i= names the channels */
	*out = tx ? tx_channel_json(n, (unsigned int)idx - 1)
		  : rx_channel_json(n, (unsigned int)idx - 1);
	return 200;
}

/* ---- D4 ---- */

static int h_d4_programs(void *ctx, const struct api_req *r, json_t **out,
			 char *err, size_t err_len)
{
	struct node *n = ctx;
	struct d4_runtime *rt = relay_runtime(n->relay);
	int handles[D4_MAX_PROGRAMS], nh, i;

	*out = json_array();
	nh = d4_program_list(rt, handles, D4_MAX_PROGRAMS);
	for (i = 0; i < nh; i++) {
		const struct relay_out_stats *os =
		    relay_stats(n->relay, handles[i]);
		struct d4_kern_stats ks = {0};
		struct d4_program_info pi;
		json_t *o;

		if (relay_program_info(n->relay, handles[i], &pi) < 0)
			continue;
		relay_kern_stats(n->relay, handles[i], &ks);
		o = json_pack(
		    "{s:s,s:s,s:b,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:s,"
		    "s:s,s:s,s:s}",
		    "name", pi.name, "binding", pi.binding, "running",
		    pi.running, "wcet", (json_int_t)pi.wcet_insns, "max_sends",
		    (json_int_t)pi.max_sends, "max_sends_per_second",
		    (json_int_t)pi.send_budget_s, "pkts_in",
		    (json_int_t)pi.pkts_in, "pkts_sent",
		    (json_int_t)pi.pkts_sent, "pkts_dropped",
		    (json_int_t)pi.pkts_dropped, "errors",
		    (json_int_t)pi.errors, "budget_drops",
		    (json_int_t)pi.budget_drops, "last_error", pi.last_error,
		    "backend", pi.backend, "backend_why", pi.backend_why,
		    "backend_setting",
		    d4_backend_name(relay_backend(n->relay, handles[i])));
		/* what reached the kernel (the VM's sends and the kernel back
		 * end's copies), what it refused (the VM's sends, not in
		 * errors; the kernel back end's copies, which the kernel
		 * counts in errors too), and what was over the 1500 bytes a
		 * datagram may have (in errors) */
		json_object_set_new(
		    o, "datagrams",
		    json_integer(
			(json_int_t)((os ? GET(os->datagrams) : 0) + ks.sent)));
		json_object_set_new(
		    o, "send_errors",
		    json_integer((json_int_t)((os ? GET(os->send_errors) : 0) +
					      ks.send_fail)));
		json_object_set_new(
		    o, "too_big",
		    json_integer((json_int_t)(os ? GET(os->too_big) : 0)));
		json_array_append_new(*out, o);
	}
	return 200;
}

static int h_d4_vars(void *ctx, const struct api_req *r, json_t **out,
		     char *err, size_t err_len)
{
	struct node *n = ctx;
	struct d4_runtime *rt = relay_runtime(n->relay);
	int nv = d4_var_count(rt), i;

	*out = json_array();
	for (i = 0; i < nv; i++) {
		struct d4_var_info vi;
		char val[4096];

		if (d4_var_info(rt, i, &vi) < 0)
			continue;
		d4_var_format(rt, vi.name, val, sizeof(val));
		json_array_append_new(*out, json_pack("{s:s,s:s,s:s}", "name",
						      vi.name, "type", vi.type,
						      "value", val));
	}
	return 200;
}

/* Whether receive sockets for @a and @b would share packets: a unicast
 * (or 0.0.0.0) address is bound as 0.0.0.0:PORT with SO_REUSEADDR, so
 * any two on a port clash, whatever addresses were given (an attacker's
 * loop on 127.0.0.1:P took a subscription's 10.77.0.2:P); a multicast
 * one is bound to its group, and clashes with the same group only (a
 * socket takes the groups it joined alone: IP_MULTICAST_ALL off). */
static bool ports_clash(const struct sockaddr_in *a,
			const struct sockaddr_in *b)
{
	bool ma = net_is_multicast(a), mb = net_is_multicast(b);

	return a->sin_port && a->sin_port == b->sin_port && ma == mb &&
	       (!ma || a->sin_addr.s_addr == b->sin_addr.s_addr);
}

int node_port_used(void *node, const struct sockaddr_in *a, char *err,
		   size_t err_len)
{
	struct node *n = node;
	struct d4_runtime *rt = relay_runtime(n->relay);
	int handles[D4_MAX_PROGRAMS];
	int i, count = d4_program_list(rt, handles, D4_MAX_PROGRAMS);

	for (i = 0; i < count; i++) {
		struct d4_program_info pi;

		if (d4_program_info(rt, handles[i], &pi) < 0 ||
		    pi.bind_kind != D4_BIND_UDP ||
		    !ports_clash(a, &pi.bind_addr))
			continue;
		snprintf(err, err_len,
			 "port %u: D4 loop '%s' receives on it (%s)",
			 ntohs(a->sin_port), pi.name, pi.binding);
		return -EADDRINUSE;
	}
	return 0;
}

int node_d4_bind(struct node *n, int handle, char *err, size_t err_len)
{
	struct d4_program_info pi;
	struct d4prog_config def;
	struct relay_bind_opts o;

	if (d4_program_info(relay_runtime(n->relay), handle, &pi) < 0 ||
	    pi.bind_kind != D4_BIND_UDP)
		return 0;
	/* SO_REUSEADDR would let the loop's socket share a subscription's
	 * port and take its packets: refused, on either of its legs (an
	 * attacker bound leg B's) */
	for (unsigned int i = 0; i < rx_slots(n->rx); i++) {
		const struct sub_config *sc;

		if (!rx_sub_exists(n->rx, i) || !(sc = rx_sub_config(n->rx, i)))
			continue;
		for (unsigned int l = 0; l < sub_config_legs(sc); l++) {
			const struct sockaddr_in *a =
			    l ? &sc->addr2 : &sc->addr;
			if (!ports_clash(a, &pi.bind_addr))
				continue;
			/* a group clashes with that group only: say which
			 * (a new user read "that port" as the port) */
			snprintf(err, err_len,
				 "%s: subscription '%s' receives %s%s",
				 pi.binding, sc->name,
				 net_is_multicast(a) ? "that group"
						     : "on that port",
				 l ? " (its second leg)" : "");
			return -EADDRINUSE;
		}
	}
	/* A shared receiving socket on the port, bound there on any
	 * address, would take some of a unicast loop's packets
	 * (node/rxshare.h): the groups it reads for subscriptions move to
	 * sockets of their own first. */
	if (!net_is_multicast(&pi.bind_addr)) {
		char why[128];
		int rc;

		snprintf(why, sizeof(why),
			 "D4 loop '%s' receives unicast on port %u", pi.name,
			 ntohs(pi.bind_addr.sin_port));
		rc = rx_unshare_port(n->rx, pi.bind_addr.sin_port, why, err,
				     err_len);
		if (rc < 0)
			return rc;
	}
	/* a [d4] section's defaults: no interface (the default route's),
	 * DSCP 34, multicast TTL 16, back end auto */
	settings_defaults(SETTINGS_D4, &def);
	o = (struct relay_bind_opts){.dscp = (int)def.dscp,
				     .ttl = (int)def.ttl,
				     .backend = (enum d4_backend)def.backend};
	return relay_bind_loop(n->relay, handle, &o, err, err_len);
}

/* Text in, all or nothing: a loop bound to UDP gets its socket now (or
 * the text is refused), and a change that cannot be saved is undone. */
static int h_d4_exec(void *ctx, const struct api_req *r, json_t **out,
		     char *err, size_t err_len)
{
	struct node *n = ctx;
	struct d4_runtime *rt = relay_runtime(n->relay);
	const char *text = r->body ? jstr(r->body, "text") : NULL;
	struct d4_mark *mark;
	int handle = -1, rc, code;

	if (!text)
		ERR(400, "POST /d4/exec needs {\"text\": \"D4 text\"}");
	mark = d4_mark(rt);
	if (!mark)
		ERR(500, "out of memory");
	if (d4_exec(rt, text, strlen(text), &handle, err, err_len) < 0) {
		d4_mark_free(mark);
		return 400;
	}
	if (handle >= 0 && n->nd4_texts == NODE_MAX_D4_TEXTS) {
		snprintf(err, err_len, "no room for another loop from the API");
		code = 409;
		goto out_undo;
	}
	if (handle >= 0) {
		rc = node_d4_bind(n, handle, err, err_len);
		if (rc < 0) {
			code = net_resource_error(rc) ? 503 : 400;
			goto out_undo;
		}
		n->d4_texts[n->nd4_texts] =
		    (struct node_d4_text){strdup(text), handle};
		if (!n->d4_texts[n->nd4_texts].text) {
			snprintf(err, err_len, "out of memory");
			code = 500;
			goto out_unbind;
		}
		n->nd4_texts++;
	}
	rc = state_persist(n);
	if (rc < 0) {
		snprintf(err, err_len, "not saved: %s; nothing changed",
			 strerror(-rc));
		code = 507;
		if (handle >= 0)
			free(n->d4_texts[--n->nd4_texts].text);
		goto out_unbind;
	}
	d4_mark_free(mark);
	relay_sync(n->relay);
	log_info("api: d4 exec '%.80s'", text);
	*out = json_pack("{s:i}", "handle", handle);
	if (handle >= 0) {
		/* the name d4ctl start/stop/unload and the API's
		 * /d4/programs/NAME take */
		struct d4_program_info pi;

		if (d4_program_info(rt, handle, &pi) == 0)
			json_object_set_new(*out, "loop", json_string(pi.name));
	}
	return 200;

out_unbind:
	relay_unbind(n->relay, handle);
out_undo:
	if (d4_rollback(rt, mark) < 0)
		log_err("api: d4: a loop started meanwhile; not undone");
	relay_sync(n->relay);
	return code;
}

/* POST /d4/programs/NAME/backend {"backend": "auto" | "vm" | "kernel"},
 * parsed by the [d4] row, as in an INI file. */
static int d4_backend_change(struct node *n, int h, const struct api_req *r,
			     json_t **out, char *err, size_t err_len)
{
	const struct setting *row = settings_find(SETTINGS_D4, NULL, "backend");
	const json_t *v = r->body ? json_object_get(r->body, "backend") : NULL;
	struct d4prog_config d;
	struct d4_program_info pi;
	char msg[256];
	int rc;

	if (!v)
		ERR(400,
		    "POST /d4/programs/%s/backend needs {\"backend\": "
		    "\"auto\", \"vm\" or \"kernel\"}",
		    r->parts[2]);
	if (setting_parse_json(row, v, &d, msg, sizeof(msg)) < 0)
		ERR(400, "'backend': %s", msg);
	rc = relay_set_backend(n->relay, h, (enum d4_backend)d.backend, msg,
			       sizeof(msg));
	if (rc == -ENOENT)
		ERR(409, "%s", msg);
	if (rc < 0)
		ERR(409, "%s; it runs on the VM", msg);
	log_info("api: %s", msg);
	relay_program_info(n->relay, h, &pi);
	*out = json_pack("{s:s,s:s,s:s,s:s}", "name", pi.name, "backend",
			 pi.backend, "backend_why", pi.backend_why,
			 "backend_setting",
			 d4_backend_name((enum d4_backend)d.backend));
	return 200;
}

/* DELETE /d4/programs/NAME: a loop loaded through the API goes (stopped,
 * its socket or kernel program let go, its text out of the state); the
 * variables it declared stay (D4 does not undeclare), with their values.
 * A [d4] loop of the config file is 409: the file says it. */
static int h_d4_program_delete(void *ctx, const struct api_req *r, json_t **out,
			       char *err, size_t err_len)
{
	struct node *n = ctx;
	struct d4_runtime *rt = relay_runtime(n->relay);
	int h = d4_program_find(rt, r->parts[2]), rc;
	struct node_d4_text gone;
	unsigned int k;

	(void)out;
	if (h < 0)
		ERR(404, "no D4 loop '%s'", r->parts[2]);
	for (k = 0; k < n->nd4_texts && n->d4_texts[k].handle != h; k++)
		;
	if (k == n->nd4_texts)
		ERR(409,
		    "D4 loop '%s' comes from the config file: remove it "
		    "there",
		    r->parts[2]);
	gone = n->d4_texts[k];
	memmove(&n->d4_texts[k], &n->d4_texts[k + 1],
		(n->nd4_texts - k - 1) * sizeof(n->d4_texts[0]));
	n->nd4_texts--;
	rc = state_persist(n);
	if (rc < 0) {
		memmove(&n->d4_texts[k + 1], &n->d4_texts[k],
			(n->nd4_texts - k) * sizeof(n->d4_texts[0]));
		n->d4_texts[k] = gone;
		n->nd4_texts++;
		ERR(507, "not saved: %s; nothing changed", strerror(-rc));
	}
	d4_stop(rt, h);
	relay_unbind(n->relay, h);
	relay_sync(n->relay);
	rc = d4_remove(rt, h);
	if (rc < 0)
		log_warn("api: d4 loop '%s': stopped and out of the state, not "
			 "freed yet: %s",
			 r->parts[2], strerror(-rc));
	free(gone.text);
	log_info("api: d4 loop '%s' removed", r->parts[2]);
	return 204;
}

static int h_d4_program_post(void *ctx, const struct api_req *r, json_t **out,
			     char *err, size_t err_len)
{
	struct node *n = ctx;
	struct d4_runtime *rt = relay_runtime(n->relay);
	int h = d4_program_find(rt, r->parts[2]), rc;
	bool start = !strcmp(r->parts[3], "start");
	struct d4_program_info pi;

	if (h < 0)
		ERR(404, "no D4 loop '%s'", r->parts[2]);
	if (!strcmp(r->parts[3], "backend"))
		return d4_backend_change(n, h, r, out, err, err_len);
	if (!start && strcmp(r->parts[3], "stop"))
		ERR(404, "'%s': start or stop, or backend", r->parts[3]);
	d4_program_info(rt, h, &pi);
	if (start ? d4_start(rt, h) : d4_stop(rt, h))
		ERR(500, "cannot %s loop '%s'", r->parts[3], r->parts[2]);
	rc = state_persist(n);
	if (rc < 0) {
		if (pi.running)
			d4_start(rt, h);
		else
			d4_stop(rt, h);
		ERR(507, "not saved: %s; nothing changed", strerror(-rc));
	}
	relay_sync(n->relay);
	*out = json_pack("{s:s,s:b}", "name", r->parts[2], "running", start);
	return 200;
}

/* ---- stats, meters ---- */

static int h_stats(void *ctx, const struct api_req *r, json_t **out, char *err,
		   size_t err_len)
{
	struct node *n = ctx;
	json_t *flows = json_object(), *subs = json_object();
	struct disco_counts dc = {0};
	struct api_stats as = {0};
	unsigned int i;

	for (i = 0; i < tx_slots(n->tx); i++) {
		json_t *f;

		if (!tx_flow_exists(n->tx, i))
			continue;
		f = flow_json(n, i);
		json_object_set(flows, tx_flow_settings(n->tx, i)->name,
				json_object_get(f, "stats"));
		json_decref(f);
	}
	for (i = 0; i < rx_slots(n->rx); i++)
		if (rx_sub_exists(n->rx, i) && rx_sub_receiver(n->rx, i))
			json_object_set_new(subs,
					    rx_sub_settings(n->rx, i)->name,
					    sub_stats_json(sub_stats(
						rx_sub_receiver(n->rx, i))));
	/* the SAP table: a flood shows as evictions at the cap; and what
	 * each reader of outside input refused */
	if (n->disco)
		disco_get_counts(n->disco, &dc);
	if (n->api)
		api_get_stats(n->api, &as);
	*out = json_pack(
	    "{s:o,s:o,s:{s:I,s:I,s:I,s:I,s:I},s:{s:I,s:I,s:I,s:I,s:I,s:I},"
	    "s:{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I},s:{s:I}}",
	    "flows", flows, "subscriptions", subs, "sap", "entries",
	    (json_int_t)dc.sap_entries, "max_entries",
	    (json_int_t)dc.sap_max_entries, "evicted",
	    (json_int_t)dc.sap_evicted, "rejected", (json_int_t)dc.sap_rejected,
	    "sdp_invalid", (json_int_t)dc.sap_sdp_invalid, "rtsp",
	    "connections", (json_int_t)dc.rtsp.connections, "refused",
	    (json_int_t)dc.rtsp.refused, "requests",
	    (json_int_t)dc.rtsp.requests, "bad_requests",
	    (json_int_t)dc.rtsp.bad_requests, "truncated",
	    (json_int_t)dc.rtsp.truncated, "timeouts",
	    (json_int_t)dc.rtsp.timeouts, "api", "requests",
	    (json_int_t)as.requests, "unauthorized",
	    (json_int_t)as.unauthorized, "bad_requests",
	    (json_int_t)as.bad_requests, "too_large", (json_int_t)as.too_large,
	    "not_found", (json_int_t)as.not_found, "http_errors",
	    (json_int_t)as.http_errors, "timed_out", (json_int_t)as.timed_out,
	    "evicted", (json_int_t)as.evicted, "ptp", "rejected",
	    (json_int_t)n->ptp_rejects_total);
	return *out ? 200 : 500;
}

/* Each flow's and subscription's last 50 ms window (node/meter.h). */
static int h_meters(void *ctx, const struct api_req *r, json_t **out, char *err,
		    size_t err_len)
{
	struct node *n = ctx;
	json_t *flows = json_array(), *subs = json_array();
	unsigned int i;

	for (i = 0; i < tx_slots(n->tx); i++)
		if (tx_flow_exists(n->tx, i))
			json_array_append_new(
			    flows,
			    meter_json(flow_meter(tx_flow_sender(n->tx, i)),
				       tx_flow_settings(n->tx, i)->name));
	for (i = 0; i < rx_slots(n->rx); i++) {
		const struct sub_settings *ss = rx_sub_settings(n->rx, i);
		json_t *m, *c;
		size_t k;

		if (!rx_sub_exists(n->rx, i) || !rx_sub_receiver(n->rx, i))
			continue;
		m = meter_json(sub_meter(rx_sub_receiver(n->rx, i)), ss->name);
		/* the RX channel each stream channel fills, or null: a new
		 * user could not tell two 2-channel streams' meters apart,
		 * each filling one RX channel */
		json_array_foreach(json_object_get(m, "channels"), k, c)
		{
			json_t *rxc = json_null();
			unsigned int j;

			for (j = 0; j < ss->nrx; j++)
				if ((ss->nstream_ch ? ss->stream_ch[j] : j) ==
				    k) {
					rxc = json_integer(ss->rx[j] + 1);
					break;
				}
			json_object_set_new(c, "rx", rxc);
		}
		json_array_append_new(subs, m);
	}
	*out = json_pack("{s:i,s:o,s:o}", "window_ms", METER_WINDOW_MS, "flows",
			 flows, "subscriptions", subs);
	return *out ? 200 : 500;
}

/* ---- credentials: pairing (node/pair.h) and token rotation ---- */

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* POST /pairing (no token): open a one-time code and show it in the log,
 * where the node's operator reads it (journalctl -u d4node@NAME). */
static int h_pair_open(void *ctx, const struct api_req *r, json_t **out,
		       char *err, size_t err_len)
{
	struct node *n = ctx;
	static struct log_ratelimit again_rl =
	    LOG_RATELIMIT_INIT(10000000000ull, 1);
	uint64_t now = mono_ns(), rnd = 0;
	unsigned int wait_s = 0, supp;
	char code[16];
	int rc;

	if (!n->cfg->pairing)
		ERR(403, "pairing is off on this node ([node] pairing = no): "
			 "copy the token from its state directory");
	if (getrandom(&rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		ERR(500, "no random bytes: %s", strerror(errno));
	rc = pair_open(&n->pair, now, rnd, &wait_s);
	if (rc == -EAGAIN)
		ERR(429,
		    "a pairing code was shown less than 30 s ago: ask "
		    "again in %u s",
		    wait_s);
	pair_format(&n->pair, code, sizeof(code));
	/* a warning: it must reach the log at any level, and it hands out
	 * the node's control. Shown again for an open code, at most every
	 * 10 s (anyone may ask). */
	if (rc == 0 && !log_ratelimit_ok(&again_rl, &supp))
		goto answer;
	log_warn("pairing: code %s for `d4ctl login` (single use, expires "
		 "in %u s)%s",
		 code, pair_expires_s(&n->pair, now), rc ? "" : " (again)");
answer:
	*out = json_pack("{s:s,s:i,s:s}", "name", n->cfg->name, "expires_s",
			 pair_expires_s(&n->pair, now), "uuid", n->uuid);
	return *out ? 202 : 500;
}

/* POST /pairing/token {"code": "1234-5678"} (no token): the code for the
 * token, once. */
static int h_pair_redeem(void *ctx, const struct api_req *r, json_t **out,
			 char *err, size_t err_len)
{
	struct node *n = ctx;
	const char *code = r->body ? jstr(r->body, "code") : NULL;
	unsigned int left;
	int rc;

	if (!code)
		ERR(400, "POST /pairing/token needs {\"code\": \"NNNN-NNNN\"}");
	rc = pair_redeem(&n->pair, mono_ns(), code, &left);
	if (rc == -ENOENT)
		ERR(403,
		    "no pairing code is open (they expire after %u s and "
		    "serve once): ask for one with POST /pairing",
		    (unsigned int)(PAIR_TTL_NS / 1000000000ull));
	if (rc < 0) {
		log_warn("pairing: a wrong code was tried (%u tr%s left)", left,
			 left == 1 ? "y" : "ies");
		if (!left)
			ERR(403, "wrong pairing code; that code is closed now: "
				 "ask for a new one");
		ERR(403, "wrong pairing code (%u tr%s left)", left,
		    left == 1 ? "y" : "ies");
	}
	log_info("pairing: the code was used; d4ctl has the token");
	*out = json_pack("{s:s,s:s,s:s}", "token", n->token, "uuid", n->uuid,
			 "name", n->cfg->name);
	return *out ? 200 : 500;
}

/* POST /token: a new token; the old one is refused from now on. */
static int h_token_rotate(void *ctx, const struct api_req *r, json_t **out,
			  char *err, size_t err_len)
{
	struct node *n = ctx;
	int rc = state_rotate_token(n, err, err_len);

	if (rc < 0)
		return rc == -ENOENT ? 500 : 507;
	*out = json_pack("{s:s,s:s}", "token", n->token, "uuid", n->uuid);
	return *out ? 200 : 500;
}

static const struct api_route routes[] = {
    {"GET", "node", h_node},
    {"PUT", "node", h_node_update},
    {"GET", "ptp", h_ptp},
    {"GET", "streams", h_streams},
    {"GET", "flows", h_flows},
    {"GET", "flows/*", h_flows},
    {"POST", "flows", h_flow_create},
    {"DELETE", "flows/*", h_flow_delete},
    {"GET", "subscriptions", h_subs},
    {"GET", "subscriptions/*", h_subs},
    {"POST", "subscriptions", h_sub_create},
    {"PUT", "subscriptions/*", h_sub_update},
    {"DELETE", "subscriptions/*", h_sub_delete},
    {"GET", "channels", h_channels},
    {"PUT", "channels/*/*", h_channel_rename},
    {"GET", "d4/programs", h_d4_programs},
    {"GET", "d4/vars", h_d4_vars},
    {"POST", "d4/exec", h_d4_exec},
    {"POST", "d4/programs/*/*", h_d4_program_post},
    {"DELETE", "d4/programs/*", h_d4_program_delete},
    {"GET", "stats", h_stats},
    {"GET", "meters", h_meters},
    {"POST", "pairing", h_pair_open, .open = true},
    {"POST", "pairing/token", h_pair_redeem, .open = true},
    {"POST", "token", h_token_rotate},
    {NULL, NULL, NULL},
};

int node_api_start(struct node *n)
{
	struct api_config ac = {.addr = n->cfg->api_addr,
				.read_token = n->cfg->api_read_token};

	if (n->cfg->api_off || !n->state_dir[0])
		return 0;
	snprintf(ac.token, sizeof(ac.token), "%s", n->token);
	n->api = api_new(n->loop, &ac, routes, n);
	if (!n->api) {
		log_warn("api: not started; the node runs on without it");
		return -EADDRINUSE;
	}
	log_info("api: listening on %s:%u%s", inet_ntoa(ac.addr.sin_addr),
		 api_port(n->api), API_PREFIX);
	return 0;
}

void node_api_stop(struct node *n)
{
	api_destroy(n->api);
	n->api = NULL;
}
