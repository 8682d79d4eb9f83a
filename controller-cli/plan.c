/* The route planner (plan.h): reads a network snapshot, writes API calls.
 * No I/O here; cmd_route.c fetches the snapshot and runs the plan. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller-cli/plan.h"

#define D4_MAX_NAME 31 /* d4/d4.h: characters in a D4 name */
#define MAX_EPS	    100

static const char *jstr(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "";
}

static json_int_t jint(const json_t *o, const char *key, json_int_t dflt)
{
	json_t *v = json_object_get(o, key);

	return json_is_integer(v) ? json_integer_value(v) : dflt;
}

static json_t *jarr(const json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return json_is_array(v) ? v : NULL;
}

/* A node by name or API address. */
static const json_t *net_node(const json_t *net, const char *name)
{
	json_t *nodes = jarr(net, "nodes"), *n;
	size_t i;

	json_array_foreach(nodes, i, n)
	{
		if (!strcmp(jstr(n, "name"), name) ||
		    !strcmp(jstr(n, "address"), name))
			return n;
	}
	return NULL;
}

static const json_t *find_named(const json_t *list, const char *name)
{
	json_t *e;
	size_t i;

	json_array_foreach(list, i, e)
	{
		if (!strcmp(jstr(e, "name"), name))
			return e;
	}
	return NULL;
}

/* The API host of a node: "10.77.0.2" of "10.77.0.2:8080". */
static void node_host(const json_t *n, char *buf, size_t len)
{
	const char *a = jstr(n, "address");
	const char *colon = strrchr(a, ':');
	size_t l = colon ? (size_t)(colon - a) : strlen(a);

	snprintf(buf, len, "%.*s", (int)l, a);
}

void plan_receivers_var(const char *flow, char *buf, size_t len)
{
	const char *suffix = "_receivers";
	size_t i, n;

	n = (size_t)snprintf(buf, len, "_%s", flow);
	for (i = 1; i < n && i < len; i++) {
		char c = buf[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9')))
			buf[i] = '_';
	}
	if (strlen(buf) + strlen(suffix) > D4_MAX_NAME)
		buf[D4_MAX_NAME - strlen(suffix)] = '\0';
	strncat(buf, suffix, len - strlen(buf) - 1);
}

void plan_receivers2_var(const char *flow, char *buf, size_t len)
{
	char one[48];
	size_t n;

	/* the node's tx_d4_name(): the name cut so that the suffix fits */
	plan_receivers_var(flow, one, sizeof(one));
	n = strlen(one) - strlen("_receivers");
	if (n + strlen("_receivers2") > D4_MAX_NAME)
		n = D4_MAX_NAME - strlen("_receivers2");
	snprintf(buf, len, "%.*s_receivers2", (int)n, one);
}

/* ST 2022-7 legs of subscription @s as "A ok, B down", or "" with one. */
void plan_legs_text(const json_t *s, char *buf, size_t len)
{
	json_t *legs = json_object_get(s, "legs"), *l;
	size_t i, off = 0;

	buf[0] = '\0';
	if (!json_is_array(legs))
		return;
	json_array_foreach(legs, i, l)
	{
		off += (size_t)snprintf(buf + off, off < len ? len - off : 0,
					"%s%s %s", i ? ", " : "",
					jstr(l, "leg"), jstr(l, "state"));
	}
}

/* "HOST" and "HOST:PORT" name the same endpoint when PORT is 5004. */
static void ep_norm(const char *ep, char *buf, size_t len)
{
	if (strchr(ep, ':'))
		snprintf(buf, len, "%.200s", ep);
	else
		snprintf(buf, len, "%.200s:5004", ep);
}

static bool ep_equal(const char *a, const char *b)
{
	char na[256], nb[256];

	ep_norm(a, na, sizeof(na));
	ep_norm(b, nb, sizeof(nb));
	return !strcmp(na, nb);
}

static unsigned int ep_port(const char *ep)
{
	const char *colon = strrchr(ep, ':');

	return colon ? (unsigned int)strtoul(colon + 1, NULL, 10) : 5004;
}

static bool ep_is_multicast(const char *ep)
{
	char host[INET_ADDRSTRLEN];
	const char *colon = strrchr(ep, ':');
	size_t l = colon ? (size_t)(colon - ep) : strlen(ep);
	struct in_addr a;

	if (l >= sizeof(host))
		return false;
	memcpy(host, ep, l);
	host[l] = '\0';
	return inet_pton(AF_INET, host, &a) == 1 &&
	       (ntohl(a.s_addr) >> 28) == 0xe;
}

/* The endpoints of a D4 list value "[10.0.0.5:5004, 10.0.0.6]". */
static unsigned int parse_eps(const char *v, char eps[][64], unsigned int max)
{
	unsigned int n = 0;
	const char *p = v;

	while (*p && n < max) {
		size_t l;

		while (*p == '[' || *p == ',' || *p == ' ' || *p == ']')
			p++;
		l = strcspn(p, ", ]");
		if (!l)
			break;
		snprintf(eps[n++], 64, "%.*s", (int)(l < 63 ? l : 63), p);
		p += l;
	}
	return n;
}

/* The receivers of @flow on node @n (0 when it has no relay list). */
static unsigned int flow_receivers(const json_t *n, const char *flow,
				   char eps[][64], unsigned int max)
{
	char var[48];
	const json_t *v;

	plan_receivers_var(flow, var, sizeof(var));
	v = find_named(jarr(n, "vars"), var);
	return v ? parse_eps(jstr(v, "value"), eps, max) : 0;
}

/* The second leg's receivers of @flow (its _<flow>_receivers2). */
static unsigned int flow_receivers2(const json_t *n, const char *flow,
				    char eps[][64], unsigned int max)
{
	char var[48];
	const json_t *v;

	plan_receivers2_var(flow, var, sizeof(var));
	v = find_named(jarr(n, "vars"), var);
	return v ? parse_eps(jstr(v, "value"), eps, max) : 0;
}

static bool flow_has_receiver(const json_t *n, const char *flow, const char *ep)
{
	char eps[MAX_EPS][64];
	unsigned int k = flow_receivers(n, flow, eps, MAX_EPS);

	for (unsigned int i = 0; i < k; i++)
		if (ep_equal(eps[i], ep))
			return true;
	k = flow_receivers2(n, flow, eps, MAX_EPS);
	for (unsigned int i = 0; i < k; i++)
		if (ep_equal(eps[i], ep))
			return true;
	return false;
}

static unsigned int flow_channels(const json_t *f, uint8_t *ch,
				  unsigned int max)
{
	json_t *a = jarr(f, "channels"), *c;
	unsigned int n = 0;
	size_t i;

	json_array_foreach(a, i, c)
	{
		if (n < max && json_is_integer(c))
			ch[n++] = (uint8_t)json_integer_value(c);
	}
	return n;
}

static bool same_channels(const json_t *f, const uint8_t *ch, unsigned int n)
{
	uint8_t fch[ARGS_MAX_CHANNELS];

	return flow_channels(f, fch, ARGS_MAX_CHANNELS) == n &&
	       !memcmp(fch, ch, n);
}

/* Where source channels @ch sit in flow @f (1-based, into @pos): false
 * unless it carries every one. */
static bool flow_positions(const json_t *f, const uint8_t *ch, unsigned int n,
			   uint8_t *pos)
{
	uint8_t fch[ARGS_MAX_CHANNELS];
	unsigned int fn = flow_channels(f, fch, ARGS_MAX_CHANNELS), k, j;

	for (k = 0; k < n; k++) {
		for (j = 0; j < fn && fch[j] != ch[k]; j++)
			;
		if (j == fn)
			return false;
		pos[k] = (uint8_t)(j + 1);
	}
	return true;
}

static void flow_session(const json_t *n, const json_t *f, char *buf,
			 size_t len)
{
	if (jstr(f, "session")[0])
		snprintf(buf, len, "%s", jstr(f, "session"));
	else
		snprintf(buf, len, "%s %s", jstr(n, "name"), jstr(f, "name"));
}

/* The TX channel number of channel @sch of source @src on node @n: the
 * node numbers its sources' channels across sources (GET /channels). A
 * node that lists no channel table has one source: the same number. */
static unsigned int tx_channel_of(const json_t *n, const char *src,
				  unsigned int sch)
{
	json_t *tab = jarr(json_object_get(n, "channels"), "tx"), *c;
	size_t i;

	if (!tab)
		return sch;
	json_array_foreach(tab, i, c)
	{
		if (!strcmp(jstr(c, "source"), src) &&
		    jint(c, "source_channel", 0) == (json_int_t)sch)
			return (unsigned int)jint(c, "channel", 0);
	}
	return 0;
}

/* The stream channels subscription @s takes, 1-based, into @pos: its
 * stream_channels, else the first as many as it has rx_channels, else
 * every one of its @nstream. */
static unsigned int sub_stream_channels(const json_t *s, unsigned int nstream,
					uint8_t *pos)
{
	json_t *a = jarr(s, "stream_channels"), *c;
	unsigned int k = 0;
	size_t i;

	if (!a)
		a = jarr(s, "rx_channels");
	else {
		json_array_foreach(a, i, c)
		{
			if (k < ARGS_MAX_CHANNELS && json_is_integer(c))
				pos[k++] = (uint8_t)json_integer_value(c);
		}
		return k;
	}
	if (a)
		nstream = (unsigned int)json_array_size(a);
	for (k = 0; k < nstream && k < ARGS_MAX_CHANNELS; k++)
		pos[k] = (uint8_t)(k + 1);
	return k;
}

/* "3-4" -> "rx3-4"; "1,3" -> "rx1_3" (',' is awkward in URLs). */
static void sub_name(const uint8_t *ch, unsigned int n, char *buf, size_t len)
{
	char chans[96];

	args_format_channels(ch, n, chans, sizeof(chans));
	for (char *p = chans; *p; p++)
		if (*p == ',')
			*p = '_';
	snprintf(buf, len, "rx%s", chans);
}

/* The RX channels subscription @s fills: its rx_channels, else what its
 * name says (sub_name()), else 0. */
static unsigned int sub_channels(const json_t *s, uint8_t *ch)
{
	const char *name = jstr(s, "name");
	json_t *a = jarr(s, "rx_channels"), *c;
	char buf[96], err[8];
	unsigned int k = 0;
	size_t i;
	int n;

	json_array_foreach(a, i, c)
	{
		if (k < ARGS_MAX_CHANNELS && json_is_integer(c))
			ch[k++] = (uint8_t)json_integer_value(c);
	}
	if (a)
		return k;

	if (strncmp(name, "rx", 2) || strlen(name + 2) >= sizeof(buf))
		return 0;
	snprintf(buf, sizeof(buf), "%s", name + 2);
	for (char *p = buf; *p; p++)
		if (*p == '_')
			*p = ',';
	n = args_parse_channels(buf, ch, ARGS_MAX_CHANNELS, err, sizeof(err));
	return n > 0 ? (unsigned int)n : 0;
}

/* Resolve a chanspec's channels on node @n (side "tx" or "rx"): a name
 * through the snapshot's channel table; numbers checked against the
 * node's channel count. */
static int resolve_channels(const json_t *n, const char *side,
			    const struct chanspec *cs, uint8_t *ch,
			    unsigned int *nch, char *err, size_t err_len)
{
	char key[16];
	json_int_t count;

	if (cs->chan_name[0]) {
		json_t *tab = jarr(json_object_get(n, "channels"), side), *c;
		size_t i;

		json_array_foreach(tab, i, c)
		{
			if (!strcmp(jstr(c, "name"), cs->chan_name)) {
				ch[0] = (uint8_t)jint(c, "channel", 0);
				*nch = 1;
				return 0;
			}
		}
		snprintf(err, err_len, "%s has no %s channel named '%s'%s",
			 jstr(n, "name"), !strcmp(side, "tx") ? "TX" : "RX",
			 cs->chan_name,
			 tab ? "" : " (it lists no channel names)");
		return -ENOENT;
	}
	snprintf(key, sizeof(key), "%s_channels", side);
	count = jint(json_object_get(n, "node"), key, -1);
	for (unsigned int i = 0; i < cs->nch; i++) {
		if (count >= 0 && cs->ch[i] > count) {
			snprintf(err, err_len,
				 "%s has %lld %s channels: no channel %u",
				 jstr(n, "name"), (long long)count,
				 !strcmp(side, "tx") ? "TX" : "RX", cs->ch[i]);
			return -ENOENT; /* the network's, not the usage's */
		}
		ch[i] = cs->ch[i];
	}
	*nch = cs->nch;
	return 0;
}

/* TX channels of node @n -> one source and its channels. */
static int tx_source(const json_t *n, const uint8_t *ch, unsigned int nch,
		     const struct plan_opts *opts, char *src, size_t src_len,
		     uint8_t *sch, char *err, size_t err_len)
{
	json_t *tab = jarr(json_object_get(n, "channels"), "tx");
	json_t *f;
	size_t i;

	if (tab && !opts->source) {
		for (unsigned int k = 0; k < nch; k++) {
			const json_t *c = NULL, *e;
			size_t j;

			json_array_foreach(tab, j, e)
			{
				if (jint(e, "channel", 0) == ch[k])
					c = e;
			}
			if (!c) {
				snprintf(err, err_len,
					 "%s has no TX channel %u",
					 jstr(n, "name"), ch[k]);
				return -ENOENT;
			}
			if (k && strcmp(src, jstr(c, "source"))) {
				snprintf(err, err_len,
					 "TX channels of one route must come "
					 "from one source: %s has '%s' and "
					 "'%s'",
					 jstr(n, "name"), src,
					 jstr(c, "source"));
				return -EINVAL;
			}
			snprintf(src, src_len, "%s", jstr(c, "source"));
			sch[k] = (uint8_t)jint(c, "source_channel", ch[k]);
		}
		return 0;
	}
	memcpy(sch, ch, nch);
	if (opts->source) {
		snprintf(src, src_len, "%s", opts->source);
		return 0;
	}
	/* No channel table: TX channel N is channel N of the node's one
	 * source, which its flows name. */
	src[0] = '\0';
	json_array_foreach(jarr(n, "flows"), i, f)
	{
		const char *s = jstr(f, "source");

		if (!src[0])
			snprintf(src, src_len, "%s", s);
		else if (strcmp(src, s)) {
			snprintf(err, err_len,
				 "%s has flows from sources '%s' and '%s': "
				 "say which with --source",
				 jstr(n, "name"), src, s);
			return -EINVAL;
		}
	}
	if (!src[0]) {
		snprintf(err, err_len,
			 "%s has no flow to tell which source its TX channels "
			 "come from: say it with --source",
			 jstr(n, "name"));
		return -EINVAL;
	}
	return 0;
}

/* The first free even port >= 5004 on node @rx for a unicast receiver:
 * not the port of any of its subscriptions (multicast ones too: a node's
 * receivers of one port share it, and a unicast sender there would be
 * heard by the multicast receiver's socket), nor of a D4 loop it binds,
 * nor in any relay list that names its host. */
static unsigned int free_port(const json_t *net, const json_t *rx)
{
	char host[64];
	unsigned int port;

	node_host(rx, host, sizeof(host));
	for (port = PLAN_FIRST_PORT; port < 65535; port += 2) {
		bool used = false;
		json_t *s, *n, *f;
		size_t i, j;

		json_array_foreach(jarr(rx, "subscriptions"), i, s)
		{
			const char *a = jstr(s, "address");
			const char *a2 = jstr(s, "address2");

			if (a[0] && ep_port(a) == port)
				used = true;
			if (a2[0] && ep_port(a2) == port)
				used = true;
		}
		json_array_foreach(jarr(rx, "programs"), i, s)
		{
			const char *b = jstr(s, "binding");

			if (!strncmp(b, "udp ", 4) && ep_port(b + 4) == port)
				used = true;
		}
		json_array_foreach(jarr(net, "nodes"), i, n)
		{
			json_array_foreach(jarr(n, "flows"), j, f)
			{
				char ep[80];

				snprintf(ep, sizeof(ep), "%s:%u", host, port);
				if (flow_has_receiver(n, jstr(f, "name"), ep))
					used = true;
				if (jstr(rx, "address2")[0]) {
					snprintf(ep, sizeof(ep), "%s:%u",
						 jstr(rx, "address2"), port);
					if (flow_has_receiver(
						n, jstr(f, "name"), ep))
						used = true;
				}
			}
		}
		if (!used)
			return port;
	}
	return 0;
}

static struct plan_action *plan_add(struct plan *p, const json_t *node)
{
	struct plan_action *a;

	if (p->n == PLAN_MAX_ACTIONS)
		return NULL;
	a = &p->a[p->n++];
	memset(a, 0, sizeof(*a));
	snprintf(a->node, sizeof(a->node), "%s", jstr(node, "name"));
	return a;
}

static void call_set(struct plan_call *c, const char *method, json_t *body,
		     const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void call_set(struct plan_call *c, const char *method, json_t *body,
		     const char *fmt, ...)
{
	va_list ap;

	snprintf(c->method, sizeof(c->method), "%s", method);
	va_start(ap, fmt);
	vsnprintf(c->path, sizeof(c->path), fmt, ap);
	va_end(ap);
	c->body = body;
}

static const char *esc(const char *s, char buf[192])
{
	args_url_escape(s, buf, 192);
	return buf;
}

static json_t *exec_body(const char *var, const char *op, const char *ep)
{
	char text[160];

	snprintf(text, sizeof(text), "%s %s %s", var, op, ep);
	return json_pack("{s:s}", "text", text);
}

/* Where a subscription's audio comes from, for routes and for checking
 * whether a route is there already: the TX node's TX channels (its own
 * numbers, not the source's) or a stream's channels. */
struct origin {
	char from[192];
	char kind[16];
	char flow[160];
	const json_t *tx_node, *tx_flow;
	unsigned int ntx;
	uint8_t tx[ARGS_MAX_CHANNELS]; /* TX channels (0: not in the table) */
	unsigned int nsch;
	uint8_t sch[ARGS_MAX_CHANNELS]; /* stream channels taken, 1-based */
};

static void sub_origin(const json_t *net, const json_t *s, struct origin *o)
{
	const char *stream = jstr(s, "stream"), *addr = jstr(s, "address");
	char chans[96];
	json_t *n, *f;
	size_t i, j;

	memset(o, 0, sizeof(*o));
	json_array_foreach(jarr(net, "nodes"), i, n)
	{
		json_array_foreach(jarr(n, "flows"), j, f)
		{
			uint8_t ch[ARGS_MAX_CHANNELS];
			unsigned int fn;
			char sess[160];
			bool match;

			flow_session(n, f, sess, sizeof(sess));
			if (stream[0])
				match = !strcmp(sess, stream);
			else if (ep_is_multicast(addr))
				match = ep_equal(jstr(f, "destination"), addr);
			else
				match =
				    addr[0] &&
				    flow_has_receiver(n, jstr(f, "name"), addr);
			if (!match)
				continue;
			fn = flow_channels(f, ch, ARGS_MAX_CHANNELS);
			o->nsch = sub_stream_channels(s, fn, o->sch);
			for (unsigned int k = 0; k < o->nsch; k++) {
				unsigned int p = o->sch[k];

				o->tx[o->ntx++] =
				    p >= 1 && p <= fn
					? (uint8_t)tx_channel_of(
					      n, jstr(f, "source"), ch[p - 1])
					: 0;
			}
			args_format_channels(o->tx, o->ntx, chans,
					     sizeof(chans));
			snprintf(o->from, sizeof(o->from), "%s@%s", chans,
				 jstr(n, "name"));
			snprintf(o->kind, sizeof(o->kind), "%s",
				 json_is_true(json_object_get(f, "multicast"))
				     ? "multicast"
				     : "unicast");
			snprintf(o->flow, sizeof(o->flow), "%s", sess);
			o->tx_node = n;
			o->tx_flow = f;
			return;
		}
	}
	if (stream[0]) {
		if (jarr(s, "stream_channels")) {
			o->nsch = sub_stream_channels(s, 0, o->sch);
			args_format_channels(o->sch, o->nsch, chans,
					     sizeof(chans));
			snprintf(o->from, sizeof(o->from), "%s@\"%s\"", chans,
				 stream);
		} else {
			snprintf(o->from, sizeof(o->from), "\"%s\"", stream);
		}
		snprintf(o->kind, sizeof(o->kind), "stream");
	} else {
		snprintf(o->from, sizeof(o->from), "%s",
			 addr[0] ? addr : "sdp");
		snprintf(o->kind, sizeof(o->kind), "address");
	}
}

static json_t *channel_array(const uint8_t *ch, unsigned int n)
{
	json_t *a = json_array();

	for (unsigned int k = 0; k < n; k++)
		json_array_append_new(a, json_integer(ch[k]));
	return a;
}

json_t *plan_routes(const json_t *net)
{
	json_t *out = json_array(), *n, *s;
	size_t i, j;

	if (!out)
		return NULL;
	json_array_foreach(jarr(net, "nodes"), i, n)
	{
		json_array_foreach(jarr(n, "subscriptions"), j, s)
		{
			uint8_t ch[ARGS_MAX_CHANNELS];
			unsigned int k = sub_channels(s, ch);
			char rx[192], chans[96], legs[64];
			struct origin o;
			json_t *r;

			sub_origin(net, s, &o);
			if (k) {
				args_format_channels(ch, k, chans,
						     sizeof(chans));
				snprintf(rx, sizeof(rx), "%s@%s", chans,
					 jstr(n, "name"));
			} else {
				snprintf(rx, sizeof(rx), "%s/%s",
					 jstr(n, "name"), jstr(s, "name"));
			}
			plan_legs_text(s, legs, sizeof(legs));
			r = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, "
				      "s:I, s:s}",
				      "rx", rx, "node", jstr(n, "name"),
				      "subscription", jstr(s, "name"), "from",
				      o.from, "kind", o.kind, "flow", o.flow,
				      "state", jstr(s, "state"), "latency_us",
				      jint(s, "latency_us", 0), "legs",
				      legs[0] ? legs : "-");
			if (!r)
				continue;
			/* What the node says of its state, as it says it. */
			for (size_t p = 0; p < 3; p++) {
				static const char *const pass[] = {
				    "state_reason", "latency_safe_us",
				    "stream_announced"};
				json_t *v = json_object_get(s, pass[p]);

				if (v)
					json_object_set(r, pass[p], v);
			}
			/* The same, for programs (d4ctl ui, presets). */
			json_object_set_new(r, "rx_channels",
					    channel_array(ch, k));
			if (o.tx_node) {
				json_object_set_new(
				    r, "tx_node",
				    json_string(jstr(o.tx_node, "name")));
				json_object_set_new(r, "tx_channels",
						    channel_array(o.tx, o.ntx));
			} else if (!strcmp(o.kind, "stream")) {
				json_object_set_new(
				    r, "stream",
				    json_string(jstr(s, "stream")));
				if (o.nsch)
					json_object_set_new(
					    r, "stream_channels",
					    channel_array(o.sch, o.nsch));
			}
			json_array_append_new(out, r);
		}
	}
	return out;
}

int plan_rx_name(const json_t *net, const struct chanspec *rx, char *name,
		 size_t len, char *node, size_t node_len, char *err,
		 size_t err_len)
{
	uint8_t ch[ARGS_MAX_CHANNELS];
	const json_t *n;
	unsigned int nch;
	int rc;

	if (rx->stream) {
		snprintf(err, err_len,
			 "a route ends at a node's RX channels, not at the "
			 "stream \"%s\"",
			 rx->target);
		return -EINVAL;
	}
	n = net_node(net, rx->target);
	if (!n) {
		snprintf(err, err_len, "no node '%s'", rx->target);
		return -ENOENT;
	}
	rc = resolve_channels(n, "rx", rx, ch, &nch, err, err_len);
	if (rc < 0)
		return rc;
	sub_name(ch, nch, name, len);
	snprintf(node, node_len, "%s", jstr(n, "name"));
	return 0;
}

/* A subscription fills RX channels @rch; @sch (NULL: the first ones) are
 * the stream channels that go there. */
static void set_rx(json_t *body, const uint8_t *rch, const uint8_t *sch,
		   unsigned int n)
{
	json_object_set_new(body, "rx_channels", channel_array(rch, n));
	if (sch)
		json_object_set_new(body, "stream_channels",
				    channel_array(sch, n));
}

/* The route from foreign stream @tx: a subscription by name. */
static int plan_from_stream(const json_t *rxn, const struct chanspec *tx,
			    const uint8_t *rch, unsigned int nch,
			    const char *sub, const struct plan_opts *opts,
			    struct plan *plan, char *err, size_t err_len)
{
	const json_t *st = find_named(jarr(rxn, "streams"), tx->target);
	struct plan_action *a;
	char e1[192];
	json_int_t sch;
	json_t *body;

	if (!st) {
		snprintf(err, err_len,
			 "%s has not seen a stream \"%s\" (d4ctl streams %s)",
			 jstr(rxn, "name"), tx->target, jstr(rxn, "name"));
		return -ENOENT;
	}
	if (tx->chan_name[0]) {
		snprintf(err, err_len,
			 "'%s': channels of a stream go by number, not name",
			 tx->chan_name);
		return -EINVAL;
	}
	sch = jint(st, "channels", 0);
	for (unsigned int i = 0; i < tx->nch; i++) {
		if (tx->ch[i] > sch) {
			snprintf(err, err_len,
				 "\"%s\" has %lld channels: no channel %u",
				 tx->target, (long long)sch, tx->ch[i]);
			return -ENOENT;
		}
	}
	body = json_pack("{s:s, s:s}", "name", sub, "stream", tx->target);
	set_rx(body, rch, tx->ch, nch);
	if (opts->latency_us)
		json_object_set_new(body, "latency_us",
				    json_integer(opts->latency_us));
	a = plan_add(plan, rxn);
	call_set(&a->call, "POST", body, "/subscriptions");
	call_set(&a->undo, "DELETE", NULL, "/subscriptions/%s", esc(sub, e1));
	snprintf(a->what, sizeof(a->what), "%s: subscribe %s to \"%s\"",
		 a->node, sub, tx->target);
	return 0;
}

static json_t *sub_body_from_flow(const char *sub, const char *ep,
				  unsigned int nch, const json_t *f,
				  const struct plan_opts *opts)
{
	json_t *body =
	    json_pack("{s:s, s:s, s:i, s:s, s:I, s:I}", "name", sub, "address",
		      ep, "channels", (int)nch, "encoding",
		      f && jstr(f, "encoding")[0] ? jstr(f, "encoding") : "L24",
		      "rate", f ? jint(f, "rate", 48000) : 48000, "ptime_us",
		      f ? jint(f, "ptime_us", 1000) : 1000);

	if (body && opts->latency_us)
		json_object_set_new(body, "latency_us",
				    json_integer(opts->latency_us));
	return body;
}

int plan_route(const json_t *net, const struct chanspec *tx,
	       const struct chanspec *rx, const struct plan_opts *opts,
	       struct plan *plan, char *err, size_t err_len)
{
	uint8_t rch[ARGS_MAX_CHANNELS], tch[ARGS_MAX_CHANNELS];
	uint8_t sch[ARGS_MAX_CHANNELS];
	unsigned int rn, tn, port;
	const json_t *rxn, *txn = NULL, *f, *uc = NULL, *sibling = NULL, *s;
	const json_t *mc = NULL;
	char sub[128], src[64], host[64], ep[80], ep2[80], chans[96], var[48];
	char want[256], e1[192];
	bool two;
	char fname[128];
	struct plan_action *a;
	json_t *body, *ja;
	size_t i;
	int rc;

	memset(plan, 0, sizeof(*plan));
	if (rx->stream) {
		snprintf(err, err_len,
			 "a route ends at a node's RX channels, not at the "
			 "stream \"%s\"",
			 rx->target);
		return -EINVAL;
	}
	rxn = net_node(net, rx->target);
	if (!rxn) {
		snprintf(err, err_len, "no node '%s'", rx->target);
		return -ENOENT;
	}
	rc = resolve_channels(rxn, "rx", rx, rch, &rn, err, err_len);
	if (rc < 0)
		return rc;
	tn = tx->chan_name[0] ? 1 : tx->nch;
	if (tn != rn) {
		snprintf(err, err_len,
			 "the route takes %u TX channel%s to %u RX channel%s",
			 tn, tn == 1 ? "" : "s", rn, rn == 1 ? "" : "s");
		return -EINVAL;
	}
	sub_name(rch, rn, sub, sizeof(sub));

	if (tx->stream) {
		args_format_channels(tx->ch, tx->nch, chans, sizeof(chans));
		snprintf(want, sizeof(want), "%s@\"%s\"", chans, tx->target);
	} else {
		txn = net_node(net, tx->target);
		if (!txn) {
			snprintf(err, err_len, "no node '%s'", tx->target);
			return -ENOENT;
		}
		rc = resolve_channels(txn, "tx", tx, tch, &tn, err, err_len);
		if (rc < 0)
			return rc;
		rc = tx_source(txn, tch, tn, opts, src, sizeof(src), sch, err,
			       err_len);
		if (rc < 0)
			return rc;
		args_format_channels(tch, tn, chans, sizeof(chans));
		snprintf(want, sizeof(want), "%s@%s", chans, jstr(txn, "name"));
	}

	/* Is the RX side taken? The same route again is no change. */
	json_array_foreach(jarr(rxn, "subscriptions"), i, s)
	{
		uint8_t och[ARGS_MAX_CHANNELS];
		unsigned int on = sub_channels(s, och);
		bool same = !strcmp(jstr(s, "name"), sub), overlap = same;
		struct origin o;

		for (unsigned int x = 0; x < on && !overlap; x++)
			overlap = memchr(rch, och[x], rn) != NULL;
		if (!overlap)
			continue;
		sub_origin(net, s, &o);
		args_format_channels(rch, rn, chans, sizeof(chans));
		if (same && !strcmp(want, o.from)) {
			snprintf(plan->note, sizeof(plan->note),
				 "%s@%s is already routed from %s", chans,
				 jstr(rxn, "name"), o.from);
			return 0;
		}
		snprintf(err, err_len,
			 "%s@%s is taken: subscription '%s' from %s (unroute "
			 "it first)",
			 chans, jstr(rxn, "name"), jstr(s, "name"), o.from);
		return -EEXIST;
	}
	if (tx->stream)
		return plan_from_stream(rxn, tx, rch, rn, sub, opts, plan, err,
					err_len);

	/* A multicast flow carrying these channels: subscribe to them in it
	 * (one with a second leg first when this node is on two networks:
	 * ST 2022-7 protection is not given up for a one-leg flow of the
	 * same channels, as a new user's route was). A unicast flow with
	 * exactly these: relay it to one more. */
	json_array_foreach(jarr(txn, "flows"), i, f)
	{
		uint8_t pos[ARGS_MAX_CHANNELS];

		if (strcmp(jstr(f, "source"), src))
			continue;
		if (!sibling)
			sibling = f;
		if (!json_is_true(json_object_get(f, "multicast"))) {
			if (!uc && same_channels(f, sch, tn))
				uc = f;
			continue;
		}
		if (!flow_positions(f, sch, tn, pos))
			continue;
		if (!mc || (jstr(rxn, "address2")[0] &&
			    !jstr(mc, "destination2")[0] &&
			    jstr(f, "destination2")[0]))
			mc = f;
	}
	if (mc) {
		uint8_t pos[ARGS_MAX_CHANNELS];
		char sess[160];

		f = mc;
		flow_positions(f, sch, tn, pos);
		flow_session(txn, f, sess, sizeof(sess));
		a = plan_add(plan, rxn);
		body = json_pack("{s:s, s:s}", "name", sub, "stream", sess);
		set_rx(body, rch, pos, tn);
		if (opts->latency_us)
			json_object_set_new(body, "latency_us",
					    json_integer(opts->latency_us));
		call_set(&a->call, "POST", body, "/subscriptions");
		call_set(&a->undo, "DELETE", NULL, "/subscriptions/%s",
			 esc(sub, e1));
		snprintf(a->what, sizeof(a->what),
			 "%s: subscribe %s to multicast flow \"%s\"%s", a->node,
			 sub, sess,
			 jstr(f, "destination2")[0]
			     ? (jstr(rxn, "address2")[0]
				    ? " (both legs: ST 2022-7)"
				    : " (its first leg: this node is on one "
				      "network)")
			     : "");
		return 0;
	}

	/* Else a unicast flow relays to a port of the RX node. */
	node_host(rxn, host, sizeof(host));
	node_host(txn, ep, sizeof(ep));
	if (!strncmp(host, "127.", 4) && strncmp(ep, "127.", 4)) {
		/* a sender elsewhere would send to its own loopback */
		snprintf(err, err_len,
			 "%s is known here only at %s (this host's loopback), "
			 "which %s at %s cannot reach: give d4ctl its network "
			 "address (--host, or host = in the config)",
			 jstr(rxn, "name"), host, jstr(txn, "name"), ep);
		return -EINVAL;
	}
	port = free_port(net, rxn);
	if (!port) {
		snprintf(err, err_len, "%s has no free port for a receiver",
			 jstr(rxn, "name"));
		return -ENOSPC;
	}
	snprintf(ep, sizeof(ep), "%s:%u", host, port);
	/* ST 2022-7: both nodes on two networks (mDNS saw each at two
	 * addresses) and a flow that has, or will get, a second leg: the
	 * route goes over both, to the RX node's second address */
	two = jstr(txn, "address2")[0] && jstr(rxn, "address2")[0] &&
	      (!uc || jstr(uc, "destination2")[0]);
	if (two)
		snprintf(ep2, sizeof(ep2), "%s:%u", jstr(rxn, "address2"),
			 port);
	if (uc) {
		snprintf(fname, sizeof(fname), "%s", jstr(uc, "name"));
		plan_receivers_var(fname, var, sizeof(var));
		a = plan_add(plan, txn);
		call_set(&a->call, "POST", exec_body(var, "+=", ep),
			 "/d4/exec");
		call_set(&a->undo, "POST", exec_body(var, "-=", ep),
			 "/d4/exec");
		snprintf(a->what, sizeof(a->what),
			 "%s: relay unicast flow %s to %s too", a->node, fname,
			 ep);
		if (two) {
			plan_receivers2_var(fname, var, sizeof(var));
			a = plan_add(plan, txn);
			call_set(&a->call, "POST", exec_body(var, "+=", ep2),
				 "/d4/exec");
			call_set(&a->undo, "POST", exec_body(var, "-=", ep2),
				 "/d4/exec");
			snprintf(a->what, sizeof(a->what),
				 "%s: relay its second leg to %s too", a->node,
				 ep2);
		}
	} else {
		args_format_channels(sch, tn, chans, sizeof(chans));
		for (char *p = chans; *p; p++)
			if (*p == ',')
				*p = '_';
		snprintf(fname, sizeof(fname), "uc%s", chans);
		for (unsigned int k = 2; find_named(jarr(txn, "flows"), fname);
		     k++)
			snprintf(fname, sizeof(fname), "uc%s-%u", chans, k);
		ja = json_array();
		for (unsigned int k = 0; k < tn; k++)
			json_array_append_new(ja, json_integer(sch[k]));
		a = plan_add(plan, txn);
		body =
		    json_pack("{s:s, s:s, s:o, s:s}", "name", fname, "source",
			      src, "channels", ja, "destination", ep);
		if (two)
			json_object_set_new(body, "destination2",
					    json_string(ep2));
		call_set(&a->call, "POST", body, "/flows");
		call_set(&a->undo, "DELETE", NULL, "/flows/%s", esc(fname, e1));
		snprintf(a->what, sizeof(a->what),
			 "%s: create unicast flow %.64s (%s channels %s) to "
			 "%s%s%.32s",
			 a->node, fname, src, chans, ep,
			 two ? " and, its second leg, to " : "",
			 two ? ep2 : "");
	}
	a = plan_add(plan, rxn);
	body = sub_body_from_flow(sub, ep, tn, uc ? uc : sibling, opts);
	if (two)
		json_object_set_new(body, "address2", json_string(ep2));
	set_rx(body, rch, NULL, tn);
	call_set(&a->call, "POST", body, "/subscriptions");
	call_set(&a->undo, "DELETE", NULL, "/subscriptions/%s", esc(sub, e1));
	a->format_from_prev = !uc;
	snprintf(a->what, sizeof(a->what),
		 "%s: subscribe %.64s to %.64s at %s%s%.32s", a->node, sub,
		 fname, ep, two ? " and " : "", two ? ep2 : "");
	return 0;
}

/* The actions that take subscription @s of node @rxn away whole. */
static int unroute_sub(const json_t *net, const json_t *rxn, const json_t *s,
		       struct plan *plan, char *err, size_t err_len)
{
	const char *sub = jstr(s, "name");
	struct plan_action *a;
	struct origin o;
	char e1[192];

	sub_origin(net, s, &o);
	if (!strcmp(o.kind, "unicast")) {
		const char *ep = jstr(s, "address");
		const char *fname = jstr(o.tx_flow, "name");
		char eps[MAX_EPS][64], var[48];
		unsigned int k, left = 0;

		plan_receivers_var(fname, var, sizeof(var));
		k = flow_receivers(o.tx_node, fname, eps, MAX_EPS);
		for (unsigned int i = 0; i < k; i++)
			if (!ep_equal(eps[i], ep))
				left++;
		a = plan_add(plan, o.tx_node);
		if (!a)
			goto out_full;
		call_set(&a->call, "POST", exec_body(var, "-=", ep),
			 "/d4/exec");
		call_set(&a->undo, "POST", exec_body(var, "+=", ep),
			 "/d4/exec");
		snprintf(a->what, sizeof(a->what),
			 "%s: stop relaying flow %s to %s", a->node, fname, ep);
		if (jstr(s, "address2")[0] &&
		    !ep_is_multicast(jstr(s, "address2"))) {
			const char *ep2 = jstr(s, "address2");

			plan_receivers2_var(fname, var, sizeof(var));
			a = plan_add(plan, o.tx_node);
			if (!a)
				goto out_full;
			call_set(&a->call, "POST", exec_body(var, "-=", ep2),
				 "/d4/exec");
			call_set(&a->undo, "POST", exec_body(var, "+=", ep2),
				 "/d4/exec");
			snprintf(a->what, sizeof(a->what),
				 "%s: stop relaying its second leg to %s",
				 a->node, ep2);
		}
		if (!left && !strcmp(jstr(o.tx_flow, "origin"), "api")) {
			a = plan_add(plan, o.tx_node);
			if (!a)
				goto out_full;
			call_set(&a->call, "DELETE", NULL, "/flows/%s",
				 esc(fname, e1));
			snprintf(a->what, sizeof(a->what),
				 "%s: delete flow %s (no receivers left)",
				 a->node, fname);
		}
	}
	a = plan_add(plan, rxn);
	if (!a)
		goto out_full;
	call_set(&a->call, "DELETE", NULL, "/subscriptions/%s", esc(sub, e1));
	snprintf(a->what, sizeof(a->what), "%s: delete subscription %s",
		 a->node, sub);
	return 0;
out_full:
	snprintf(err, err_len, "more than %d steps: unroute fewer channels",
		 PLAN_MAX_ACTIONS);
	return -E2BIG;
}

int plan_unroute(const json_t *net, const char *node, const char *sub,
		 struct plan *plan, char *err, size_t err_len)
{
	const json_t *rxn, *s;

	memset(plan, 0, sizeof(*plan));
	rxn = net_node(net, node);
	if (!rxn) {
		snprintf(err, err_len, "no node '%s'", node);
		return -ENOENT;
	}
	s = find_named(jarr(rxn, "subscriptions"), sub);
	if (!s) {
		snprintf(err, err_len, "%s has no subscription '%s'",
			 jstr(rxn, "name"), sub);
		return -ENOENT;
	}
	return unroute_sub(net, rxn, s, plan, err, err_len);
}

/* A subscription as POST /subscriptions makes it again: its settings as
 * the node gives them, else from its stream or address and format, and
 * latency; with the RX channels @rch filled from stream channels @sch
 * (@n of them), named @name. @f: the flow it comes from (for its packet
 * time when the node gives no settings), or NULL. */
static json_t *sub_body_again(const json_t *s, const json_t *f,
			      const char *name, const uint8_t *rch,
			      const uint8_t *sch, unsigned int n)
{
	json_t *settings = json_object_get(s, "settings");
	json_t *b;

	/* A node that says how the subscription was made (its canonical
	 * settings: timing, source filter...) is taken at its word. */
	if (json_is_object(settings)) {
		b = json_deep_copy(settings);
		if (!b)
			return NULL;
		json_object_set_new(b, "name", json_string(name));
		set_rx(b, rch, sch, n);
		return b;
	}
	b = json_pack("{s:s}", "name", name);
	if (!b)
		return NULL;
	if (jstr(s, "stream")[0]) {
		json_object_set_new(b, "stream",
				    json_string(jstr(s, "stream")));
	} else {
		json_object_set_new(b, "address",
				    json_string(jstr(s, "address")));
		if (jstr(s, "address2")[0])
			json_object_set_new(b, "address2",
					    json_string(jstr(s, "address2")));
		json_object_set_new(b, "channels",
				    json_integer(jint(s, "channels", 2)));
		json_object_set_new(b, "encoding",
				    json_string(jstr(s, "encoding")[0]
						    ? jstr(s, "encoding")
						    : "L24"));
		json_object_set_new(b, "rate",
				    json_integer(jint(s, "rate", 48000)));
		if (f && jint(f, "ptime_us", 0))
			json_object_set_new(
			    b, "ptime_us",
			    json_integer(jint(f, "ptime_us", 0)));
		if (jint(s, "mediaclk_offset", 0))
			json_object_set_new(
			    b, "mediaclk_offset",
			    json_integer(jint(s, "mediaclk_offset", 0)));
	}
	if (jint(s, "latency_us", 0))
		json_object_set_new(b, "latency_us",
				    json_integer(jint(s, "latency_us", 0)));
	set_rx(b, rch, sch, n);
	return b;
}

/* Keep the channels of subscription @s not in @rch: delete it and make it
 * again with the rest (one subscription, so one socket and one relay
 * entry). The kept channels miss about one latency of audio. */
static int split_sub(const json_t *net, const json_t *rxn, const json_t *s,
		     const uint8_t *rch, unsigned int nr, struct plan *plan,
		     char *err, size_t err_len)
{
	uint8_t och[ARGS_MAX_CHANNELS], pos[ARGS_MAX_CHANNELS];
	uint8_t krx[ARGS_MAX_CHANNELS], ksch[ARGS_MAX_CHANNELS];
	unsigned int on = sub_channels(s, och), np, nk = 0;
	char name[128], e1[192], chans[96];
	const char *old = jstr(s, "name");
	struct plan_action *a;
	struct origin o;

	sub_origin(net, s, &o);
	np = sub_stream_channels(s, on, pos);
	for (unsigned int k = 0; k < on && k < np; k++) {
		if (memchr(rch, och[k], nr))
			continue;
		krx[nk] = och[k];
		ksch[nk++] = pos[k];
	}
	sub_name(krx, nk, name, sizeof(name));
	a = plan_add(plan, rxn);
	if (!a)
		goto out_full;
	call_set(&a->call, "DELETE", NULL, "/subscriptions/%s", esc(old, e1));
	call_set(&a->undo, "POST",
		 sub_body_again(s, o.tx_flow, old, och, pos, on < np ? on : np),
		 "/subscriptions");
	snprintf(a->what, sizeof(a->what), "%s: delete subscription %s",
		 a->node, old);
	a = plan_add(plan, rxn);
	if (!a)
		goto out_full;
	call_set(&a->call, "POST",
		 sub_body_again(s, o.tx_flow, name, krx, ksch, nk),
		 "/subscriptions");
	call_set(&a->undo, "DELETE", NULL, "/subscriptions/%s", esc(name, e1));
	args_format_channels(krx, nk, chans, sizeof(chans));
	snprintf(a->what, sizeof(a->what),
		 "%s: subscribe %s again for the RX channels kept (%s)",
		 a->node, name, chans);
	return 0;
out_full:
	snprintf(err, err_len, "more than %d steps: unroute fewer channels",
		 PLAN_MAX_ACTIONS);
	return -E2BIG;
}

int plan_unroute_channels(const json_t *net, const struct chanspec *rx,
			  struct plan *plan, char *err, size_t err_len)
{
	uint8_t rch[ARGS_MAX_CHANNELS], done[ARGS_MAX_CHANNELS];
	unsigned int nr, ndone = 0;
	const json_t *rxn, *s;
	char chans[96];
	size_t i;
	int rc;

	memset(plan, 0, sizeof(*plan));
	if (rx->stream) {
		snprintf(err, err_len,
			 "routes end at a node's RX channels, not at the "
			 "stream \"%s\"",
			 rx->target);
		return -EINVAL;
	}
	rxn = net_node(net, rx->target);
	if (!rxn) {
		snprintf(err, err_len, "no node '%s'", rx->target);
		return -ENOENT;
	}
	rc = resolve_channels(rxn, "rx", rx, rch, &nr, err, err_len);
	if (rc < 0)
		return rc;
	json_array_foreach(jarr(rxn, "subscriptions"), i, s)
	{
		uint8_t och[ARGS_MAX_CHANNELS];
		unsigned int on = sub_channels(s, och), hit = 0;

		for (unsigned int k = 0; k < on; k++) {
			if (!memchr(rch, och[k], nr))
				continue;
			hit++;
			done[ndone++] = och[k];
		}
		if (!hit)
			continue;
		if (strcmp(jstr(s, "origin"), "api")) {
			args_format_channels(och, on, chans, sizeof(chans));
			snprintf(err, err_len,
				 "%s's subscription '%s' (RX %s) is in its "
				 "config file: d4ctl cannot change it",
				 jstr(rxn, "name"), jstr(s, "name"), chans);
			return -EPERM;
		}
		rc = hit == on
			 ? unroute_sub(net, rxn, s, plan, err, err_len)
			 : split_sub(net, rxn, s, rch, nr, plan, err, err_len);
		if (rc < 0)
			return rc;
	}
	if (!ndone) {
		args_format_channels(rch, nr, chans, sizeof(chans));
		snprintf(plan->note, sizeof(plan->note), "%s@%s is not routed",
			 chans, jstr(rxn, "name"));
		return 0;
	}
	if (ndone < nr) {
		uint8_t idle[ARGS_MAX_CHANNELS];
		unsigned int ni = 0;

		for (unsigned int k = 0; k < nr; k++)
			if (!memchr(done, rch[k], ndone))
				idle[ni++] = rch[k];
		args_format_channels(idle, ni, chans, sizeof(chans));
		snprintf(plan->note, sizeof(plan->note), "%s@%s was not routed",
			 chans, jstr(rxn, "name"));
	}
	return 0;
}

void plan_free(struct plan *plan)
{
	for (unsigned int i = 0; i < plan->n; i++) {
		json_decref(plan->a[i].call.body);
		json_decref(plan->a[i].undo.body);
		plan->a[i].call.body = NULL;
		plan->a[i].undo.body = NULL;
	}
	plan->n = 0;
}
