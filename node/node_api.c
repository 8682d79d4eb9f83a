/* The control API's handlers (docs/api.md) and the node's state file. They
 * run on the control thread; flows and subscriptions they make or delete
 * reach the media thread through its table hand-over (media_set_*). */
#include "common/net.h"
#include "discovery/sap.h"
#include "discovery/sdp.h"
#include "node/api.h"
#include "node/disco.h"
#include "node/flow.h"
#include "node/media.h"
#include "node/meter.h"
#include "node/node_priv.h"
#include "node/recorder.h"
#include "node/relay.h"
#include "node/source.h"
#include "node/sub.h"
#include "ptp/mclock.h"
#include "ptp/mgmt.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define ERR(code, ...)                                                         \
	do {                                                                   \
		snprintf(err, err_len, __VA_ARGS__);                           \
		return (code);                                                 \
	} while (0)

/* ---- state directory, token, state file ---- */

static int mkdirs(const char *path)
{
	char buf[4096];
	char *p;

	snprintf(buf, sizeof(buf), "%s", path);
	for (p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* The token: read it, or make one at first start (mode 0600). */
static int load_token(const char *dir, char *tok, size_t len)
{
	char path[4200], raw[32];
	bool retried = false;
	ssize_t r;
	unsigned int i;
	int fd;

	snprintf(path, sizeof(path), "%s/token", dir);
again:
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		r = read(fd, tok, len - 1);
		close(fd);
		if (r <= 0)
			return -EINVAL;
		tok[r] = '\0';
		tok[strcspn(tok, "\r\n")] = '\0';
		return tok[0] ? 0 : -EINVAL;
	}
	if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
		return -EIO;
	for (i = 0; i < sizeof(raw) && 2 * i + 2 < len; i++)
		snprintf(tok + 2 * i, 3, "%02x", (unsigned char)raw[i]);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 && errno == EEXIST && !retried) {
		/* Another process made it first: use that one. */
		retried = true;
		usleep(10000);
		goto again;
	}
	if (fd < 0)
		return -errno;
	if (write(fd, tok, strlen(tok)) != (ssize_t)strlen(tok) ||
	    write(fd, "\n", 1) != 1 || fsync(fd) < 0) {
		close(fd);
		unlink(path);
		return -EIO;
	}
	close(fd);
	log_info("api: new token in %s (mode 0600)", path);
	return 0;
}

/* Write the state atomically: a temp file, fsync, rename, fsync the
 * directory. A crash leaves the old file or the new one, never half. */
static int save_state(struct node *n)
{
	char path[4200], tmp[4220];
	int fd, rc = 0;
	char *text;
	size_t len;

	if (n->restoring || !n->state_dir[0])
		return 0;
	text = json_dumps(n->state, JSON_INDENT(1) | JSON_SORT_KEYS);
	if (!text)
		return -ENOMEM;
	len = strlen(text);
	snprintf(path, sizeof(path), "%s/state.json", n->state_dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, text, len) != (ssize_t)len || fsync(fd) < 0) {
		rc = -errno ? -errno : -EIO;
		log_err("state: cannot write %s: %s", tmp, strerror(-rc));
		if (fd >= 0)
			close(fd);
		free(text);
		return rc;
	}
	close(fd);
	free(text);
	if (rename(tmp, path) < 0) {
		log_err("state: cannot rename %s: %m", tmp);
		return -errno;
	}
	fd = open(n->state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
	return 0;
}

static json_t *state_list(struct node *n, const char *key)
{
	return json_object_get(n->state, key);
}

/* Keep (or replace) the API object named @name in list @key. */
static void state_put(struct node *n, const char *key, const char *name,
		      json_t *obj)
{
	json_t *list = state_list(n, key), *o;
	size_t i;

	json_array_foreach(list, i, o)
	{
		if (!strcmp(json_string_value(json_object_get(o, "name")) ?: "",
			    name)) {
			json_array_set(list, i, obj);
			return;
		}
	}
	json_array_append(list, obj);
}

static void state_drop(struct node *n, const char *key, const char *name)
{
	json_t *list = state_list(n, key), *o;
	size_t i;

	json_array_foreach(list, i, o)
	{
		if (!strcmp(json_string_value(json_object_get(o, "name")) ?: "",
			    name)) {
			json_array_remove(list, i);
			return;
		}
	}
}

/* Saved D4 statements on a deleted flow's relay list would be refused
 * at the next start (the list went with the flow): forget them. */
static void state_drop_d4_var(struct node *n, const char *flow)
{
	json_t *list = state_list(n, "d4");
	char var[64];
	size_t i, len;

	node_d4_name(var, sizeof(var), "_", flow, "_receivers");
	len = strlen(var);
	for (i = 0; i < json_array_size(list);) {
		const char *t = json_string_value(json_array_get(list, i));

		t += t ? strspn(t, " \t") : 0;
		if (t && !strncmp(t, var, len) &&
		    !(t[len] == '_' || (t[len] >= 'a' && t[len] <= 'z') ||
		      (t[len] >= 'A' && t[len] <= 'Z') ||
		      (t[len] >= '0' && t[len] <= '9')))
			json_array_remove(list, i);
		else
			i++;
	}
}

/* ---- JSON helpers ---- */

static const char *jstr(const json_t *b, const char *key)
{
	return json_string_value(json_object_get(b, key));
}

/* An integer member in [min, max], or @def when absent; -1 + @err when
 * present and wrong. */
static int jint(const json_t *b, const char *key, long long min, long long max,
		long long def, long long *out, char *err, size_t err_len)
{
	json_t *v = json_object_get(b, key);

	if (!v) {
		*out = def;
		return 0;
	}
	if (!json_is_integer(v) || json_integer_value(v) < min ||
	    json_integer_value(v) > max)
		ERR(-1, "'%s' must be an integer from %lld to %lld", key, min,
		    max);
	*out = json_integer_value(v);
	return 0;
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
	    "ptp4l_reachable", cs.ptp_reachable, "grandmaster_self",
	    cs.is_gm);
}

/* TX channels: the sources' channels, in config order. */
static unsigned int tx_channels(struct node *n)
{
	unsigned int i, c = 0;

	for (i = 0; i < n->cfg.nsources; i++)
		c += source_channels(n->sources[i]);
	return c < NODE_MAX_TX ? c : NODE_MAX_TX;
}

static unsigned int rx_channels(struct node *n)
{
	return n->cfg.rx_channels;
}

/* ---- handlers: node, ptp, streams ---- */

static int h_node(void *ctx, const struct api_req *r, json_t **out, char *err,
		  size_t err_len)
{
	struct node *n = ctx;
	struct timespec ts;
	char id[20] = "";

	clock_gettime(CLOCK_MONOTONIC, &ts);
	if (n->disco)
		snprintf(id, sizeof(id), "%s", disco_node_id(n->disco));
	*out = json_pack("{s:s,s:s,s:s,s:f,s:i,s:i,s:o,s:s}", "name",
			 n->cfg.name, "id", id, "version", D4_VERSION,
			 "uptime_s",
			 ((double)ts.tv_sec * 1e9 + (double)ts.tv_nsec -
			  (double)n->start_ns) /
			     1e9,
			 "tx_channels", tx_channels(n), "rx_channels",
			 rx_channels(n), "clock", clock_json(n), "api",
			 API_PREFIX);
	return *out ? 200 : 500;
}

/* Dante's rule for device names: 1-31 of A-Z a-z 0-9 and '-', not
 * beginning or ending with '-'. They are mDNS names, stream names
 * ("NODE FLOW") and the NODE of CHAN@NODE. */
static bool good_node_name(const char *s)
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

	if (!r->body || json_object_size(r->body) != 1 || !name)
		ERR(400, "PUT /node takes {\"name\": NAME}");
	if (!good_node_name(name))
		ERR(400,
		    "'name' must be 1-%d letters, digits and '-', not "
		    "beginning or ending with '-'",
		    NODE_NAME_MAX);
	if (strcmp(name, n->cfg.name) && n->disco &&
	    disco_peer_named(n->disco, name))
		ERR(409, "another node on the network is called '%s'", name);
	node_set_name(n, name);
	json_object_set_new(n->state, "node_name", json_string(name));
	save_state(n);
	return h_node(ctx, r, out, err, err_len);
}

/* The name saved by PUT /node, before anything is published under the
 * config's; the rest of the state comes later (node_state_restore). */
static void restore_node_name(struct node *n)
{
	char path[4200];
	json_t *st, *v;

	snprintf(path, sizeof(path), "%s/state.json", n->state_dir);
	st = json_load_file(path, 0, NULL);
	v = json_object_get(st, "node_name");
	if (json_is_string(v) && good_node_name(json_string_value(v))) {
		node_set_name(n, json_string_value(v));
		json_object_set(n->state, "node_name", v);
	} else if (v) {
		log_err("state: node name not restored: not a node name");
	}
	json_decref(st);
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

static json_t *flow_json(struct node *n, unsigned int i)
{
	const struct flow_config *fc = flow_config(n->flows[i]);
	const struct flow_stats *st = flow_stats(n->flows[i]);
	json_t *ch = json_array();
	char dest[32], sdp[SAP_SDP_MAX], session[SDP_NAME_MAX];
	unsigned int c;

	for (c = 0; c < fc->nch; c++)
		json_array_append_new(ch, json_integer(fc->chans[c] + 1));
	net_endpoint_str(&fc->dest, dest, sizeof(dest));
	if (node_flow_sdp(n, i, sdp, sizeof(sdp), session, sizeof(session)) <
	    0)
		sdp[0] = session[0] = '\0';
	return json_pack(
	    "{s:s,s:s,s:o,s:s,s:b,s:s,s:i,s:i,s:i,s:i,s:s,s:s,s:s,"
	    "s:{s:I,s:I,s:I}}",
	    "name", fc->name, "source", fc->source, "channels", ch,
	    "destination", dest, "multicast", net_is_multicast(&fc->dest),
	    "encoding", rtp_encoding_name(fc->enc), "rate", fc->rate,
	    "ptime_us", fc->ptime_us, "dscp", fc->dscp, "ttl", fc->ttl,
	    "session", session, "sdp", sdp,
	    "origin", n->flow_api[i] ? "api" : "config", "stats", "packets",
	    (json_int_t)GET(st->packets), "send_errors",
	    (json_int_t)GET(st->send_errors), "skipped",
	    (json_int_t)GET(st->skipped));
}

static int find_flow(struct node *n, const char *name)
{
	unsigned int i;

	for (i = 0; i < n->cfg.nflows; i++)
		if (n->flows[i] && !strcmp(n->cfg.flows[i].name, name))
			return (int)i;
	return -1;
}

static int h_flows(void *ctx, const struct api_req *r, json_t **out, char *err,
		   size_t err_len)
{
	struct node *n = ctx;
	unsigned int i;

	*out = json_array();
	for (i = 0; i < n->cfg.nflows; i++)
		if (n->flows[i])
			json_array_append_new(*out, flow_json(n, i));
	return 200;
}

/* A flow's or subscription's name is a path segment (DELETE /flows/NAME:
 * libmicrohttpd decodes %2F before the path is split), a line of SDP
 * (s=) and of the log: 1-@max characters, no '/', no control characters. */
static bool good_object_name(const char *s, size_t max)
{
	size_t len = s ? strlen(s) : 0;

	if (!len || len > max || strchr(s, '/'))
		return false;
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

static int parse_flow(struct node *n, const json_t *b, struct flow_config *fc,
		      char *err, size_t err_len)
{
	const char *name = jstr(b, "name"), *src = jstr(b, "source");
	const char *dst = jstr(b, "destination"), *enc = jstr(b, "encoding");
	const char *ifname = jstr(b, "interface");
	json_t *chans = json_object_get(b, "channels"), *v;
	long long ptime, dscp, ttl;
	size_t k;
	int si;

	memset(fc, 0, sizeof(*fc));
	if (!good_object_name(name, sizeof(fc->name) - 1))
		ERR(-1,
		    "'name' must be a string of 1-%zu characters, "
		    "without '/' or control characters",
		    sizeof(fc->name) - 1);
	if (find_flow(n, name) >= 0)
		ERR(-EEXIST, "flow '%s' exists already", name);
	if (!src || (si = config_find_source(&n->cfg, src)) < 0)
		ERR(-1, "'source': no source '%s' on this node", src ? src : "");
	if (!dst || net_parse_endpoint(dst, 5004, &fc->dest))
		ERR(-1, "'destination' must be ADDR[:PORT], not '%s'",
		    dst ? dst : "");
	snprintf(fc->name, sizeof(fc->name), "%s", name);
	snprintf(fc->source, sizeof(fc->source), "%s", src);
	fc->enc = RTP_ENC_L24;
	if (enc && rtp_encoding_parse(enc, &fc->enc))
		ERR(-1, "'encoding' must be L24 or L16, not '%s'", enc);
	if (jint(b, "ptime_us", 125, 4000, 1000, &ptime, err, err_len) ||
	    jint(b, "dscp", 0, 63, 34, &dscp, err, err_len) ||
	    jint(b, "ttl", 1, 255, 16, &ttl, err, err_len))
		return -1;
	fc->rate = 48000;
	fc->ptime_us = (uint32_t)ptime;
	fc->pt = 98;
	fc->dscp = (int)dscp;
	fc->ttl = (int)ttl;
	if (ifname)
		snprintf(fc->ifname, sizeof(fc->ifname), "%s", ifname);
	if (chans && !json_is_array(chans))
		ERR(-1, "'channels' must be a list of source channels");
	json_array_foreach(chans, k, v)
	{
		long long c = json_integer_value(v);

		if (!json_is_integer(v) || c < 1 ||
		    c > source_channels(n->sources[si]) ||
		    k >= SOURCE_MAX_CHANNELS)
			ERR(-1, "'channels': %lld is not a channel of source "
				"'%s' (1-%u)",
			    c, src, source_channels(n->sources[si]));
		fc->chans[fc->nch++] = (uint8_t)(c - 1);
	}
	if (!fc->nch) {
		fc->nch = source_channels(n->sources[si]);
		for (k = 0; k < fc->nch; k++)
			fc->chans[k] = (uint8_t)k;
	}
	return si;
}

static int flow_create(struct node *n, const json_t *b, json_t **out,
		       char *err, size_t err_len)
{
	struct flow_config fc;
	struct flow *f;
	char msg[256];
	unsigned int i;
	int si, handle, rc;

	si = parse_flow(n, b, &fc, err, err_len);
	if (si < 0)
		return si == -EEXIST ? 409 : 400;
	for (i = 0; i < n->cfg.nflows && n->cfg.flows[i].name[0]; i++)
		;
	if (i == CONFIG_MAX_FLOWS)
		ERR(409, "this node has %d flows, the most it takes",
		    CONFIG_MAX_FLOWS);
	f = flow_open(&fc, n->sources[si], err, err_len);
	if (!f)
		return 400;
	handle = node_flow_default_loop(n, f, msg, sizeof(msg));
	if (handle < 0) {
		flow_destroy(f);
		ERR(409, "its D4 loop: %s", msg); /* clashes with D4 state */
	}
	rc = relay_attach_output(n->relay, handle, flow_fd(f), NULL);
	if (rc < 0) {
		d4_remove(relay_runtime(n->relay), handle);
		flow_destroy(f);
		ERR(500, "its D4 output: %s", strerror(-rc));
	}
	d4_start(relay_runtime(n->relay), handle);
	n->cfg.flows[i] = *flow_config(f);
	if (i == n->cfg.nflows)
		n->cfg.nflows++;
	n->flow_prog[i] = (struct flow_prog){n->relay, handle};
	flow_set_sender(f, node_flow_send_d4, &n->flow_prog[i]);
	n->flows[i] = f;
	n->flow_api[i] = true;
	media_set_flow(n->media, i, f);
	node_publish_flow(n, i);
	if (n->disco)
		disco_set_channels(n->disco, tx_channels(n), rx_channels(n));
	log_info("api: flow %s created (%s)", fc.name, jstr(b, "destination"));
	*out = flow_json(n, i);
	return 201;
}

static int h_flow_create(void *ctx, const struct api_req *r, json_t **out,
			 char *err, size_t err_len)
{
	struct node *n = ctx;
	int status;

	if (!r->body)
		ERR(400, "POST /flows needs a JSON body");
	status = flow_create(n, r->body, out, err, err_len);
	if (status == 201) {
		state_put(n, "flows", jstr(r->body, "name"), r->body);
		save_state(n);
	}
	return status;
}

static int h_flow_delete(void *ctx, const struct api_req *r, json_t **out,
			 char *err, size_t err_len)
{
	struct node *n = ctx;
	int i = find_flow(n, r->parts[1]);
	struct flow *f;

	if (i < 0)
		ERR(404, "no flow '%s'", r->parts[1]);
	if (!n->flow_api[i])
		ERR(409, "flow '%s' comes from the config file", r->parts[1]);
	f = n->flows[i];
	/* Out of the media thread's table first: after this, nothing runs
	 * the flow or its loop. */
	media_set_flow(n->media, (unsigned int)i, NULL);
	n->flows[i] = NULL;
	if (n->disco)
		disco_flow_remove(n->disco, (unsigned int)i);
	d4_stop(relay_runtime(n->relay), n->flow_prog[i].handle);
	relay_detach_output(n->relay, n->flow_prog[i].handle);
	d4_remove(relay_runtime(n->relay), n->flow_prog[i].handle);
	flow_destroy(f);
	log_info("api: flow %s deleted", n->cfg.flows[i].name);
	state_drop(n, "flows", n->cfg.flows[i].name);
	state_drop_d4_var(n, n->cfg.flows[i].name);
	n->cfg.flows[i].name[0] = '\0';
	n->flow_api[i] = false;
	if (n->disco)
		disco_set_channels(n->disco, tx_channels(n), rx_channels(n));
	save_state(n);
	return 204;
}

/* ---- subscriptions ---- */

static json_t *sub_stats_json(const struct sub_stats *st)
{
	static const char *const bucket[SUB_HIST_BUCKETS] = {
	    "<0",    "<125",  "<250",  "<500",   "<1000",
	    "<2000", "<4000", "<8000", "<16000", ">=16000"};
	json_t *h = json_object();
	unsigned int b;

	for (b = 0; b < SUB_HIST_BUCKETS; b++)
		json_object_set_new(h, bucket[b],
				    json_integer((json_int_t)GET(st->hist[b])));
	return json_pack(
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
}

static json_t *channel_list(const uint8_t *ch, unsigned int n)
{
	json_t *a = json_array();
	unsigned int c;

	for (c = 0; c < n; c++)
		json_array_append_new(a, json_integer(ch[c] + 1));
	return a;
}

static json_t *sub_json(struct node *n, unsigned int i)
{
	const struct sub_config *sc =
	    n->subs[i] ? sub_config(n->subs[i]) : &n->cfg.subs[i];
	char addr[32];
	json_t *o;

	net_endpoint_str(&sc->addr, addr, sizeof(addr));
	o = json_pack("{s:s,s:s?,s:s,s:i,s:s,s:i,s:I,s:I,s:s,s:s}", "name",
		      n->cfg.subs[i].name,
		      "stream", n->cfg.sub_stream[i][0] ? n->cfg.sub_stream[i]
							: NULL,
		      "address", n->subs[i] ? addr : "", "channels",
		      sc->channels, "encoding", rtp_encoding_name(sc->enc),
		      "rate", sc->rate, "latency_us",
		      (json_int_t)(sc->latency_ns / 1000), "mediaclk_offset",
		      (json_int_t)sc->mediaclk_offset, "state",
		      !n->subs[i] ? "unresolved"
		      : GET(sub_stats(n->subs[i])->received) ? "receiving"
							      : "silent",
		      "origin", n->sub_api[i] ? "api" : "config");
	if (n->cfg.sub_rx[i].n) {
		const struct rx_map *m = &n->cfg.sub_rx[i];

		json_object_set_new(o, "rx_channels",
				    channel_list(m->rx, m->n));
		json_object_set_new(o, "stream_channels",
				    channel_list(m->stream_ch, m->n));
	}
	if (n->subs[i])
		json_object_set_new(o, "stats",
				    sub_stats_json(sub_stats(n->subs[i])));
	return o;
}

static int find_sub(struct node *n, const char *name)
{
	unsigned int i;

	for (i = 0; i < n->cfg.nsubs; i++)
		if (n->cfg.subs[i].name[0] && !strcmp(n->cfg.subs[i].name, name))
			return (int)i;
	return -1;
}

static int h_subs(void *ctx, const struct api_req *r, json_t **out, char *err,
		  size_t err_len)
{
	struct node *n = ctx;
	unsigned int i;

	*out = json_array();
	for (i = 0; i < n->cfg.nsubs; i++)
		if (n->cfg.subs[i].name[0])
			json_array_append_new(*out, sub_json(n, i));
	return 200;
}

/* Seconds as PTP ns: up to 10^10 s (the year 2286), well inside 64 bits. */
#define RECORD_MAX_S 1e10

/* A WAV recording of every channel of subscription @i, aligned by PTP
 * position ("record": {"path", "start", "duration"}): its sink's index,
 * in a slot a deleted subscription freed or a new one, or -1 + @err. */
static int add_record_sink(struct node *n, unsigned int i, const json_t *rec,
			   char *err, size_t err_len)
{
	struct sink_config *k;
	const char *path = jstr(rec, "path");
	json_t *start = json_object_get(rec, "start");
	json_t *dur = json_object_get(rec, "duration");
	char name[SUB_NAME_MAX];
	unsigned int si;

	if (!json_is_object(rec) || !path || !*path)
		ERR(-1, "'record' needs {\"path\": FILE, \"start\": "
			"PTP_SECONDS, \"duration\": SECONDS}");
	for (si = 0; si < n->cfg.nsinks; si++)
		if (!n->cfg.sinks[si].sub[0] && !n->cfg.sinks[si].rx)
			break;
	if (si == CONFIG_MAX_SINKS)
		ERR(-1, "this node has %d sinks, the most it takes",
		    CONFIG_MAX_SINKS);
	if ((start && !json_is_number(start)) ||
	    (dur && !json_is_number(dur)) ||
	    (start && !(json_number_value(start) >= 0 &&
			json_number_value(start) <= RECORD_MAX_S)) ||
	    (dur && !(json_number_value(dur) >= 0 &&
		      json_number_value(dur) <= RECORD_MAX_S)))
		ERR(-1,
		    "'record': start and duration are numbers of seconds "
		    "from 0 to %.0f",
		    RECORD_MAX_S);
	k = &n->cfg.sinks[si];
	memset(k, 0, sizeof(*k));
	k->type = SINK_FILE;
	snprintf(name, sizeof(name), "%s", n->cfg.subs[i].name);
	snprintf(k->sub, sizeof(k->sub), "%s", name);
	snprintf(k->rec.name, sizeof(k->rec.name), "%s", name);
	snprintf(k->rec.path, sizeof(k->rec.path), "%s", path);
	k->rec.format = SF_FORMAT_WAV | SF_FORMAT_PCM_24;
	k->rec.start = start ? START_AT : START_FIRST;
	k->rec.start_ns =
	    start ? (uint64_t)(json_number_value(start) * 1e9) : 0;
	k->rec.duration_ns =
	    dur ? (uint64_t)(json_number_value(dur) * 1e9) : 0;
	n->sink_rec[si] = NULL;
	if (si == n->cfg.nsinks)
		n->cfg.nsinks++;
	return (int)si;
}

/* @key: a JSON array of 1-based channel numbers up to @max, into 0-based
 * @out; returns how many (0 when absent) or -1 with @err. */
static int jchannels(const json_t *b, const char *key, unsigned int max,
		     uint8_t *out, char *err, size_t err_len)
{
	json_t *a = json_object_get(b, key), *v;
	size_t i;

	if (!a)
		return 0;
	if (!json_is_array(a) || !json_array_size(a) ||
	    json_array_size(a) > SOURCE_MAX_CHANNELS)
		ERR(-1, "'%s' must be an array of 1-%d channel numbers", key,
		    SOURCE_MAX_CHANNELS);
	json_array_foreach(a, i, v)
	{
		if (!json_is_integer(v) || json_integer_value(v) < 1 ||
		    json_integer_value(v) > (json_int_t)max)
			ERR(-1, "'%s': channels are numbers from 1 to %u", key,
			    max);
		out[i] = (uint8_t)(json_integer_value(v) - 1);
	}
	return (int)json_array_size(a);
}

/* "rx_channels": [3, 4], "stream_channels": [1, 2] into slot @i's map. */
static int parse_rx_map(struct node *n, unsigned int i, const json_t *b,
			char *err, size_t err_len)
{
	struct rx_map *m = &n->cfg.sub_rx[i];
	uint8_t sch[SOURCE_MAX_CHANNELS];
	int nr, ns;
	unsigned int c;

	memset(m, 0, sizeof(*m));
	nr = jchannels(b, "rx_channels", RXBUS_MAX_CHANNELS, m->rx, err,
		       err_len);
	if (nr < 0)
		return -1;
	ns = jchannels(b, "stream_channels", SOURCE_MAX_CHANNELS, sch, err,
		       err_len);
	if (ns < 0)
		return -1;
	if (ns && !nr)
		ERR(-1, "'stream_channels' needs 'rx_channels'");
	if (ns && ns != nr)
		ERR(-1, "%d stream_channels for %d rx_channels", ns, nr);
	m->n = (unsigned int)nr;
	for (c = 0; c < m->n; c++)
		m->stream_ch[c] = ns ? sch[c] : (uint8_t)c;
	return 0;
}

/* How a subscription names its stream. */
enum sub_kind {
	SUB_BY_ADDRESS,
	SUB_BY_NAME, /* opened when discovery finds it */
	SUB_BY_SDP,
};

/* Fill subscription slot @i from @b: its kind, or -1 / -EEXIST + @err. */
static int parse_sub(struct node *n, unsigned int i, const json_t *b,
		     struct sdp_stream *st, char *err, size_t err_len)
{
	struct sub_config *s = &n->cfg.subs[i];
	const char *name = jstr(b, "name"), *stream = jstr(b, "stream");
	const char *sdp = jstr(b, "sdp"), *addr = jstr(b, "address");
	const char *timing = jstr(b, "timing"), *ifname = jstr(b, "interface");
	const char *enc = jstr(b, "encoding");
	long long lat, ch, rate, ptime, pt;
	char perr[160];

	if (!good_object_name(name, sizeof(s->name) - 1))
		ERR(-1,
		    "'name' must be a string of 1-%zu characters, "
		    "without '/' or control characters",
		    sizeof(s->name) - 1);
	if (find_sub(n, name) >= 0)
		ERR(-EEXIST, "subscription '%s' exists already", name);
	if (!!stream + !!sdp + !!addr != 1)
		ERR(-1, "give exactly one of 'stream', 'sdp' or 'address'");
	if (stream && (!*stream || strlen(stream) >=
					sizeof(n->cfg.sub_stream[0])))
		ERR(-1, "'stream' must be a stream name of 1-%zu characters",
		    sizeof(n->cfg.sub_stream[0]) - 1);
	if (jint(b, "latency_us", SUB_LATENCY_MIN_NS / 1000,
		 SUB_LATENCY_MAX_NS / 1000, 1000, &lat, err, err_len) ||
	    jint(b, "channels", 1, SOURCE_MAX_CHANNELS, 2, &ch, err,
		 err_len) ||
	    jint(b, "rate", 44100, 96000, 48000, &rate, err, err_len) ||
	    jint(b, "ptime_us", 125, 4000, 1000, &ptime, err, err_len) ||
	    jint(b, "payload_type", 0, 127, 98, &pt, err, err_len))
		return -1;
	memset(s, 0, sizeof(*s));
	snprintf(s->name, sizeof(s->name), "%s", name);
	s->enc = RTP_ENC_L24;
	if (enc && rtp_encoding_parse(enc, &s->enc))
		ERR(-1, "'encoding' must be L24 or L16, not '%s'", enc);
	s->rate = (uint32_t)rate;
	s->channels = (unsigned int)ch;
	s->pt = (uint8_t)pt;
	s->fpp = flow_frames_per_packet((uint32_t)ptime, s->rate);
	s->latency_ns = (uint64_t)lat * 1000;
	s->timing = SUB_TIMING_AUTO;
	if (timing && !strcmp(timing, "ptp"))
		s->timing = SUB_TIMING_PTP;
	else if (timing && !strcmp(timing, "arrival"))
		s->timing = SUB_TIMING_ARRIVAL;
	else if (timing && strcmp(timing, "auto"))
		ERR(-1, "'timing' must be auto, ptp or arrival, not '%s'",
		    timing);
	if (ifname)
		snprintf(s->ifname, sizeof(s->ifname), "%s", ifname);
	if (parse_rx_map(n, i, b, err, err_len) < 0)
		return -1;
	n->cfg.sub_stream[i][0] = '\0';
	n->cfg.sub_keys[i] = 0;
	if (stream) {
		snprintf(n->cfg.sub_stream[i], sizeof(n->cfg.sub_stream[0]),
			 "%s", stream);
		return SUB_BY_NAME;
	}
	if (sdp) {
		if (sdp_parse((const uint8_t *)sdp, strlen(sdp), st, perr,
			      sizeof(perr)) < 0)
			ERR(-1, "'sdp': %s", perr);
		return SUB_BY_SDP;
	}
	if (net_parse_endpoint(addr, 5004, &s->addr))
		ERR(-1, "'address' must be ADDR[:PORT], not '%s'", addr);
	return SUB_BY_ADDRESS;
}

static int sub_create(struct node *n, const json_t *b, json_t **out,
		      char *err, size_t err_len)
{
	struct sdp_stream st;
	json_t *rec = json_object_get(b, "record");
	unsigned int i;
	struct sub *s;
	int kind, kind2, sink = -1;

	for (i = 0; i < n->cfg.nsubs && n->cfg.subs[i].name[0]; i++)
		;
	if (i == CONFIG_MAX_SUBS)
		ERR(409, "this node has %d subscriptions, the most it takes",
		    CONFIG_MAX_SUBS);
	kind = parse_sub(n, i, b, &st, err, err_len);
	if (kind < 0) {
		n->cfg.subs[i].name[0] = '\0';
		return kind == -EEXIST ? 409 : 400;
	}
	if (kind == SUB_BY_SDP &&
	    config_sub_apply_sdp(&n->cfg, i, &st, err, err_len) < 0) {
		n->cfg.subs[i].name[0] = '\0';
		return 400;
	}
	if (n->cfg.sub_rx[i].n && !n->rxbus) {
		n->cfg.subs[i].name[0] = '\0';
		ERR(400, "this node has no RX channels ([node] rx_channels)");
	}
	kind2 = config_check_rx_map(&n->cfg, i, kind != SUB_BY_NAME, err,
				    err_len);
	if (kind2 < 0) {
		n->cfg.subs[i].name[0] = '\0';
		return kind2 == -EBUSY ? 409 : 400;
	}
	if (rec && (sink = add_record_sink(n, i, rec, err, err_len)) < 0) {
		n->cfg.subs[i].name[0] = '\0';
		return 400;
	}
	if (rec && kind != SUB_BY_NAME) {
		struct sink_config *k = &n->cfg.sinks[sink];

		k->rec.nch = n->cfg.subs[i].channels;
		for (unsigned int c = 0; c < k->rec.nch; c++)
			k->rec.chans[c] = (uint8_t)c;
		k->rec.rate = n->cfg.subs[i].rate;
	}
	n->sub_tmpl[i] = n->cfg.subs[i];
	n->sub_api[i] = true;
	if (i == n->cfg.nsubs)
		n->cfg.nsubs++;
	if (kind == SUB_BY_NAME) {
		/* Opened when discovery knows the stream. */
		free(n->sub_sdp[i]);
		n->sub_sdp[i] = NULL;
		n->sub_recs_open[i] = false;
		node_resolve_streams(n);
	} else {
		s = sub_open(&n->cfg.subs[i], err, err_len);
		if (!s || node_open_sinks(n, i, s, err, err_len) < 0) {
			sub_destroy(s);
			node_close_sinks(n, i);
			n->cfg.subs[i].name[0] = '\0';
			n->sub_api[i] = false;
			return 400;
		}
		media_set_sub(n->media, i, s);
		n->subs[i] = s;
	}
	if (n->disco)
		disco_set_channels(n->disco, tx_channels(n), rx_channels(n));
	log_info("api: subscription %s created", n->cfg.subs[i].name);
	*out = sub_json(n, i);
	return 201;
}

static int h_sub_create(void *ctx, const struct api_req *r, json_t **out,
			char *err, size_t err_len)
{
	struct node *n = ctx;
	int status;

	if (!r->body)
		ERR(400, "POST /subscriptions needs a JSON body");
	status = sub_create(n, r->body, out, err, err_len);
	if (status == 201) {
		/* Routes persist, recordings do not: a restart must not
		 * truncate a finished take by opening its file again. */
		json_t *keep = json_copy(r->body);

		json_object_del(keep, "record");
		state_put(n, "subscriptions", jstr(r->body, "name"), keep);
		json_decref(keep);
		save_state(n);
	}
	return status;
}

static void sub_remove(struct node *n, unsigned int i)
{
	struct sub *s = n->subs[i];

	media_set_sub(n->media, i, NULL);
	n->subs[i] = NULL;
	sub_destroy(s);
	free(n->sub_sdp[i]);
	n->sub_sdp[i] = NULL;
}

static int h_sub_delete(void *ctx, const struct api_req *r, json_t **out,
			char *err, size_t err_len)
{
	struct node *n = ctx;
	int i = find_sub(n, r->parts[1]);

	if (i < 0)
		ERR(404, "no subscription '%s'", r->parts[1]);
	if (!n->sub_api[i])
		ERR(409, "subscription '%s' comes from the config file",
		    r->parts[1]);
	sub_remove(n, (unsigned int)i);
	node_close_sinks(n, (unsigned int)i);
	log_info("api: subscription %s deleted", n->cfg.subs[i].name);
	state_drop(n, "subscriptions", n->cfg.subs[i].name);
	n->cfg.subs[i].name[0] = '\0';
	n->cfg.sub_rx[i].n = 0;
	n->cfg.sub_stream[i][0] = '\0';
	n->sub_api[i] = false;
	if (n->disco)
		disco_set_channels(n->disco, tx_channels(n), rx_channels(n));
	save_state(n);
	return 204;
}

/* PUT /subscriptions/NAME {"latency_us": N}: a new subscription object
 * with the new latency replaces the old one in the media table. */
/* Subscription @i's latency to @lat us: a new sub takes over its
 * recordings. 0, or 500 with @err. */
static int sub_set_latency(struct node *n, unsigned int i, long long lat,
			   char *err, size_t err_len)
{
	struct sub *s, *old;

	n->cfg.subs[i].latency_ns = (uint64_t)lat * 1000;
	n->sub_tmpl[i].latency_ns = (uint64_t)lat * 1000;
	old = n->subs[i];
	if (old) {
		s = sub_open(&n->cfg.subs[i], err, err_len);
		if (!s || node_move_sinks(n, i, s) < 0) {
			sub_destroy(s);
			return 500; /* sub_open said why in @err */
		}
		media_set_sub(n->media, i, s);
		n->subs[i] = s;
		sub_destroy(old);
	}
	log_info("api: subscription %s latency %lld us", n->cfg.subs[i].name,
		 lat);
	return 0;
}

static int h_sub_update(void *ctx, const struct api_req *r, json_t **out,
			char *err, size_t err_len)
{
	struct node *n = ctx;
	int i = find_sub(n, r->parts[1]);
	long long lat;

	if (i < 0)
		ERR(404, "no subscription '%s'", r->parts[1]);
	if (!r->body || !json_object_get(r->body, "latency_us"))
		ERR(400, "PUT needs {\"latency_us\": N}");
	if (jint(r->body, "latency_us", SUB_LATENCY_MIN_NS / 1000,
		 SUB_LATENCY_MAX_NS / 1000, 1000, &lat, err, err_len))
		return 400;
	if (sub_set_latency(n, (unsigned int)i, lat, err, err_len))
		return 500;
	if (n->sub_api[i]) {
		json_t *list = state_list(n, "subscriptions"), *e;
		size_t k;

		json_array_foreach(list, k, e)
		{
			if (!strcmp(jstr(e, "name") ?: "",
				    n->cfg.subs[i].name))
				json_object_set_new(e, "latency_us",
						    json_integer(lat));
		}
	} else {
		/* a config file's subscription: {"latencies": {NAME: us}},
		 * over the file's at the next start */
		json_t *l = json_object_get(n->state, "latencies");

		if (!json_is_object(l)) {
			l = json_object();
			json_object_set_new(n->state, "latencies", l);
		}
		json_object_set_new(l, n->cfg.subs[i].name,
				    json_integer(lat));
	}
	save_state(n);
	*out = sub_json(n, (unsigned int)i);
	return 200;
}

/* ---- channels ---- */

/* TX channel @t (0-based): its source and the source's channel. */
static int tx_source(struct node *n, unsigned int t, unsigned int *ch)
{
	unsigned int i, nc;

	for (i = 0; i < n->cfg.nsources; i++) {
		nc = source_channels(n->sources[i]);
		if (t < nc) {
			*ch = t;
			return (int)i;
		}
		t -= nc;
	}
	return -1;
}

/* The subscription filling RX channel @r (0-based), and from which
 * stream channel; -1 when none does. */
static int rx_feeder(struct node *n, unsigned int r, unsigned int *sch)
{
	unsigned int i, c;

	for (i = 0; i < n->cfg.nsubs; i++) {
		const struct rx_map *m = &n->cfg.sub_rx[i];

		if (!n->cfg.subs[i].name[0])
			continue;
		for (c = 0; c < m->n; c++)
			if (m->rx[c] == r) {
				*sch = m->stream_ch[c];
				return (int)i;
			}
	}
	return -1;
}

static json_t *tx_channel_json(struct node *n, unsigned int t)
{
	unsigned int sc = 0, i, c;
	int si = tx_source(n, t, &sc);
	json_t *flows = json_array();

	for (i = 0; i < n->cfg.nflows; i++) {
		const struct flow_config *fc;

		if (!n->flows[i])
			continue;
		fc = flow_config(n->flows[i]);
		if (strcmp(fc->source, n->cfg.sources[si].name))
			continue;
		for (c = 0; c < fc->nch; c++)
			if (fc->chans[c] == sc)
				json_array_append_new(
				    flows, json_pack("{s:s,s:i}", "flow",
						     fc->name, "channel", c + 1));
	}
	return json_pack("{s:i,s:s,s:s,s:i,s:o}", "channel", t + 1, "name",
			 n->tx_name[t], "source", n->cfg.sources[si].name,
			 "source_channel", sc + 1, "flows", flows);
}

static json_t *rx_channel_json(struct node *n, unsigned int r)
{
	unsigned int sch = 0;
	int si = rx_feeder(n, r, &sch);

	if (si < 0)
		return json_pack("{s:i,s:s,s:n,s:n}", "channel", r + 1, "name",
				 n->rx_name[r], "subscription",
				 "stream_channel");
	return json_pack("{s:i,s:s,s:s,s:i}", "channel", r + 1, "name",
			 n->rx_name[r], "subscription", n->cfg.subs[si].name,
			 "stream_channel", sch + 1);
}

static int h_channels(void *ctx, const struct api_req *r, json_t **out,
		      char *err, size_t err_len)
{
	struct node *n = ctx;
	json_t *tx = json_array(), *rx = json_array();
	unsigned int i;

	for (i = 0; i < tx_channels(n); i++)
		json_array_append_new(tx, tx_channel_json(n, i));
	for (i = 0; i < rx_channels(n); i++)
		json_array_append_new(rx, rx_channel_json(n, i));
	*out = json_pack("{s:o,s:o}", "tx", tx, "rx", rx);
	return 200;
}

/* A channel name d4ctl can tell from channel numbers and lists: 1-31
 * characters, not all digits, dashes and commas, no '@' or '"'. */
static bool good_channel_name(const char *s)
{
	size_t len = strlen(s);

	if (!len || len >= NODE_CHANNEL_NAME_MAX ||
	    strspn(s, "0123456789-,") == len || strpbrk(s, "@\"") ||
	    s[0] == ' ' || s[len - 1] == ' ')
		return false;
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

/* Name channel @idx (0-based) of @dir ("tx"/"rx"): 0, or an HTTP
 * status with @err. */
static int set_channel_name(struct node *n, const char *dir,
			    unsigned int idx, const char *name, char *err,
			    size_t err_len)
{
	bool tx = !strcmp(dir, "tx");
	unsigned int count = tx ? tx_channels(n) : rx_channels(n), i;
	char(*names)[NODE_CHANNEL_NAME_MAX] = tx ? n->tx_name : n->rx_name;

	if (idx >= count)
		ERR(404, "no %s channel %u: the node has %u", dir, idx + 1,
		    count);
	if (!name || !good_channel_name(name))
		ERR(400, "'name' must be 1-%d characters, not only digits, "
			 "dashes and commas, without '@' or '\"'",
		    NODE_CHANNEL_NAME_MAX - 1);
	for (i = 0; i < count; i++)
		if (i != idx && !strcmp(names[i], name))
			ERR(409, "%s channel %u is called '%s' already", dir,
			    i + 1, name);
	snprintf(names[idx], NODE_CHANNEL_NAME_MAX, "%s", name);
	return 0;
}

/* PUT /channels/tx/N or /channels/rx/N {"name": "Vox"} */
static int h_channel_rename(void *ctx, const struct api_req *r,
			    json_t **out, char *err, size_t err_len)
{
	struct node *n = ctx;
	const char *dir = r->parts[1], *num = r->parts[2];
	const char *name = r->body ? jstr(r->body, "name") : NULL;
	json_t *names, *d;
	char *end;
	unsigned long idx;
	int rc;

	if (strcmp(dir, "tx") && strcmp(dir, "rx"))
		ERR(404, "channels are /channels/tx/N or /channels/rx/N");
	idx = strtoul(num, &end, 10);
	if (*end || !idx || idx > 1000)
		ERR(404, "no %s channel '%s'", dir, num);
	if (!r->body)
		ERR(400, "PUT needs {\"name\": NAME}");
	rc = set_channel_name(n, dir, (unsigned int)idx - 1, name, err,
			      err_len);
	if (rc)
		return rc;
	names = json_object_get(n->state, "names");
	if (!json_is_object(names)) {
		names = json_object();
		json_object_set_new(n->state, "names", names);
	}
	d = json_object_get(names, dir);
	if (!json_is_object(d)) {
		d = json_object();
		json_object_set_new(names, dir, d);
	}
	json_object_set_new(d, num, json_string(name));
	save_state(n);
	log_info("api: %s channel %lu named '%s'", dir, idx, name);
	*out = !strcmp(dir, "tx") ? tx_channel_json(n, (unsigned int)idx - 1)
				  : rx_channel_json(n, (unsigned int)idx - 1);
	return 200;
}

/* The names saved in the state: {"tx": {"1": "Vox"}, "rx": {...}}. */
static void restore_names(struct node *n, json_t *names)
{
	const char *dirs[2] = {"tx", "rx"}, *num;
	char err[160];
	json_t *v;
	int k;

	for (k = 0; k < 2; k++) {
		json_t *d = json_object_get(names, dirs[k]), *keep;

		if (!json_is_object(d))
			continue;
		keep = json_object();
		json_object_foreach(d, num, v)
		{
			unsigned long idx = strtoul(num, NULL, 10);

			if (!json_is_string(v) || !idx ||
			    set_channel_name(n, dirs[k], (unsigned int)idx - 1,
					     json_string_value(v), err,
					     sizeof(err))) {
				log_err("state: %s channel name '%s' not "
					"restored: %s",
					dirs[k], num,
					json_is_string(v) ? err : "not a name");
				continue;
			}
			json_object_set(keep, num, v);
		}
		if (!json_is_object(json_object_get(n->state, "names")))
			json_object_set_new(n->state, "names", json_object());
		json_object_set_new(json_object_get(n->state, "names"),
				    dirs[k], keep);
	}
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
		struct d4_program_info pi;

		if (d4_program_info(rt, handles[i], &pi) < 0)
			continue;
		json_array_append_new(
		    *out,
		    json_pack("{s:s,s:s,s:b,s:I,s:I,s:I,s:I,s:I,s:s}", "name",
			      pi.name, "binding", pi.binding, "running",
			      pi.running, "wcet", (json_int_t)pi.wcet_insns,
			      "pkts_in", (json_int_t)pi.pkts_in, "pkts_sent",
			      (json_int_t)pi.pkts_sent, "pkts_dropped",
			      (json_int_t)pi.pkts_dropped, "errors",
			      (json_int_t)pi.errors, "last_error",
			      pi.last_error));
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
		json_array_append_new(*out,
				      json_pack("{s:s,s:s,s:s}", "name", vi.name,
						"type", vi.type, "value", val));
	}
	return 200;
}

static int d4_exec_text(struct node *n, const char *text, json_t **out,
			char *err, size_t err_len)
{
	int handle = -1;

	if (d4_exec(relay_runtime(n->relay), text, strlen(text), &handle, err,
		    err_len) < 0)
		return 400;
	log_info("api: d4 exec '%.80s'", text);
	*out = json_pack("{s:i}", "handle", handle);
	return 200;
}

static int h_d4_exec(void *ctx, const struct api_req *r, json_t **out,
		     char *err, size_t err_len)
{
	struct node *n = ctx;
	const char *text = r->body ? jstr(r->body, "text") : NULL;
	int status;

	if (!text)
		ERR(400, "POST /d4/exec needs {\"text\": \"D4 text\"}");
	status = d4_exec_text(n, text, out, err, err_len);
	if (status == 200) {
		json_array_append_new(state_list(n, "d4"), json_string(text));
		save_state(n);
	}
	return status;
}

static int h_d4_startstop(void *ctx, const struct api_req *r, json_t **out,
			  char *err, size_t err_len)
{
	struct node *n = ctx;
	struct d4_runtime *rt = relay_runtime(n->relay);
	int h = d4_program_find(rt, r->parts[2]);
	bool start = !strcmp(r->parts[3], "start");

	if (h < 0)
		ERR(404, "no D4 loop '%s'", r->parts[2]);
	if (!start && strcmp(r->parts[3], "stop"))
		ERR(404, "'%s': start or stop", r->parts[3]);
	if (start ? d4_start(rt, h) : d4_stop(rt, h))
		ERR(500, "cannot %s loop '%s'", r->parts[3], r->parts[2]);
	*out = json_pack("{s:s,s:b}", "name", r->parts[2], "running", start);
	return 200;
}

/* ---- stats ---- */

static int h_stats(void *ctx, const struct api_req *r, json_t **out,
		   char *err, size_t err_len)
{
	struct node *n = ctx;
	json_t *flows = json_object(), *subs = json_object();
	struct disco_counts dc = {0};
	struct api_stats as = {0};
	unsigned int i;

	for (i = 0; i < n->cfg.nflows; i++) {
		json_t *f;

		if (!n->flows[i])
			continue;
		f = flow_json(n, i);
		json_object_set(flows, n->cfg.flows[i].name,
				json_object_get(f, "stats"));
		json_decref(f);
	}
	for (i = 0; i < n->cfg.nsubs; i++)
		if (n->cfg.subs[i].name[0] && n->subs[i])
			json_object_set_new(
			    subs, n->cfg.subs[i].name,
			    sub_stats_json(sub_stats(n->subs[i])));
	/* the SAP table: a flood shows as evictions at the cap; and what
	 * each reader of outside input refused */
	if (n->disco)
		disco_get_counts(n->disco, &dc);
	if (n->api)
		api_get_stats(n->api, &as);
	*out = json_pack(
	    "{s:o,s:o,s:{s:I,s:I,s:I,s:I,s:I},s:{s:I,s:I,s:I,s:I,s:I,s:I},"
	    "s:{s:I,s:I,s:I,s:I,s:I,s:I},s:{s:I}}",
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
	    (json_int_t)as.http_errors, "ptp", "rejected",
	    (json_int_t)n->ptp_rejects_total);
	return *out ? 200 : 500;
}

/* ---- meters ---- */

/* Each flow's and subscription's last 50 ms window (node/meter.h). */
static int h_meters(void *ctx, const struct api_req *r, json_t **out, char *err,
		    size_t err_len)
{
	struct node *n = ctx;
	json_t *flows = json_array(), *subs = json_array();
	unsigned int i;

	for (i = 0; i < n->cfg.nflows; i++)
		if (n->flows[i])
			json_array_append_new(
			    flows, meter_json(flow_meter(n->flows[i]),
					      n->cfg.flows[i].name));
	for (i = 0; i < n->cfg.nsubs; i++)
		if (n->cfg.subs[i].name[0] && n->subs[i])
			json_array_append_new(subs,
					      meter_json(sub_meter(n->subs[i]),
							 n->cfg.subs[i].name));
	*out = json_pack("{s:i,s:o,s:o}", "window_ms", METER_WINDOW_MS, "flows",
			 flows, "subscriptions", subs);
	return *out ? 200 : 500;
}

static const struct api_route routes[] = {
    {"GET", "node", h_node},
    {"PUT", "node", h_node_update},
    {"GET", "ptp", h_ptp},
    {"GET", "streams", h_streams},
    {"GET", "flows", h_flows},
    {"POST", "flows", h_flow_create},
    {"DELETE", "flows/*", h_flow_delete},
    {"GET", "subscriptions", h_subs},
    {"POST", "subscriptions", h_sub_create},
    {"PUT", "subscriptions/*", h_sub_update},
    {"DELETE", "subscriptions/*", h_sub_delete},
    {"GET", "channels", h_channels},
    {"PUT", "channels/*/*", h_channel_rename},
    {"GET", "d4/programs", h_d4_programs},
    {"GET", "d4/vars", h_d4_vars},
    {"POST", "d4/exec", h_d4_exec},
    {"POST", "d4/programs/*/*", h_d4_startstop},
    {"GET", "stats", h_stats},
    {"GET", "meters", h_meters},
    {NULL, NULL, NULL},
};

int node_api_start(struct node *n)
{
	struct api_config ac = {.addr = n->cfg.api_addr,
				.read_token = n->cfg.api_read_token};
	const char *env = getenv("D4_STATE_DIR");
	int rc;

	n->state = json_pack("{s:[],s:[],s:[]}", "flows", "subscriptions",
			     "d4");
	if (n->cfg.state_dir[0])
		snprintf(n->state_dir, sizeof(n->state_dir), "%s",
			 n->cfg.state_dir);
	else
		snprintf(n->state_dir, sizeof(n->state_dir), "%s/%s",
			 env && *env ? env : "/var/lib/d4node", n->cfg.name);
	rc = mkdirs(n->state_dir);
	if (rc < 0 || (rc = load_token(n->state_dir, ac.token,
				       sizeof(ac.token))) < 0) {
		log_err("state: directory %s unusable (%s); no control API and "
			"no saved state",
			n->state_dir, strerror(-rc));
		n->state_dir[0] = '\0';
		return rc;
	}
	restore_node_name(n);
	if (n->cfg.api_off)
		return 0;
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
	json_decref(n->state);
	n->state = NULL;
}

/* The latencies set on config subscriptions: {"latencies": {NAME: us}}.
 * One whose subscription left the config file is dropped. */
static void restore_latencies(struct node *n, json_t *lats)
{
	const json_int_t min = SUB_LATENCY_MIN_NS / 1000,
			 max = SUB_LATENCY_MAX_NS / 1000;
	json_t *keep = json_object(), *v;
	const char *name;
	char err[160];
	int i;

	json_object_foreach(lats, name, v)
	{
		const char *why = NULL;

		i = find_sub(n, name);
		if (i < 0 || n->sub_api[i])
			why = "no such subscription in the config file";
		else if (!json_is_integer(v) || json_integer_value(v) < min ||
			 json_integer_value(v) > max)
			why = "not a latency in us";
		else if (sub_set_latency(n, (unsigned int)i,
					 json_integer_value(v), err,
					 sizeof(err)))
			why = err;
		if (why) {
			log_err("state: latency of subscription '%s' not "
				"restored: %s",
				name, why);
			continue;
		}
		json_object_set(keep, name, v);
	}
	if (json_object_size(keep))
		json_object_set_new(n->state, "latencies", keep);
	else
		json_decref(keep);
}

/* Replay what the API made before a restart, through the same code. A
 * file that does not parse is moved aside: the node starts from its
 * config, and says so. */
void node_state_restore(struct node *n)
{
	char path[4200], bad[4300], err[512];
	json_error_t jerr;
	json_t *st, *o, *out = NULL;
	size_t i;

	if (!n->state_dir[0])
		return;
	snprintf(path, sizeof(path), "%s/state.json", n->state_dir);
	if (access(path, F_OK) < 0)
		return;
	st = json_load_file(path, 0, &jerr);
	if (!st || !json_is_object(st) ||
	    !json_is_array(json_object_get(st, "flows")) ||
	    !json_is_array(json_object_get(st, "subscriptions")) ||
	    !json_is_array(json_object_get(st, "d4"))) {
		snprintf(bad, sizeof(bad), "%s.bad-%ld", path, (long)time(NULL));
		rename(path, bad);
		log_err("state: %s is corrupt (line %d: %s); moved to %s, "
			"starting from the config file",
			path, jerr.line, st ? "not a d4 state" : jerr.text,
			bad);
		json_decref(st);
		return;
	}
	n->restoring = true;
	restore_names(n, json_object_get(st, "names"));
	json_array_foreach(json_object_get(st, "flows"), i, o)
	{
		if (flow_create(n, o, &out, err, sizeof(err)) != 201)
			log_err("state: flow %zu not restored: %s", i, err);
		else
			state_put(n, "flows", jstr(o, "name"), o);
		json_decref(out);
		out = NULL;
	}
	json_array_foreach(json_object_get(st, "d4"), i, o)
	{
		if (!json_is_string(o) ||
		    d4_exec_text(n, json_string_value(o), &out, err,
				 sizeof(err)) != 200)
			log_err("state: d4 statement %zu refused: %s", i, err);
		else
			json_array_append(state_list(n, "d4"), o);
		json_decref(out);
		out = NULL;
	}
	json_array_foreach(json_object_get(st, "subscriptions"), i, o)
	{
		if (sub_create(n, o, &out, err, sizeof(err)) != 201)
			log_err("state: subscription %zu not restored: %s", i,
				err);
		else
			state_put(n, "subscriptions", jstr(o, "name"), o);
		json_decref(out);
		out = NULL;
	}
	restore_latencies(n, json_object_get(st, "latencies"));
	n->restoring = false;
	log_info("state: restored %zu flow(s), %zu subscription(s), %zu D4 "
		 "statement(s) from %s",
		 json_array_size(state_list(n, "flows")),
		 json_array_size(state_list(n, "subscriptions")),
		 json_array_size(state_list(n, "d4")), path);
	json_decref(st);
}
