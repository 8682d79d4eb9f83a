/* d4ctl ui's view of the network and its event hub (ui_model.h).
 *
 * Threads: one discovery thread (d4ctl_node_all() every 5 s), one poller
 * per node (its own curl handle, so one kept-open connection per node),
 * one publisher that turns what the pollers stored into messages, and the
 * HTTP server's connection threads, which wait in ui_stream_next(). One
 * mutex guards everything here; nothing blocks on the network under it. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "controller-cli/plan.h"
#include "controller-cli/ui_model.h"

#define UI_MAX_NODES	  64
#define CLOCK_HISTORY	  240 /* 2 minutes at 2 samples a second */
#define EVENTS		  256
#define FULL_PERIOD_S	  2.0  /* flows, channels, streams, D4 vars */
#define FAST_PERIOD_S	  0.5  /* the node (clock) and subscriptions */
#define METER_PERIOD_S	  0.05 /* the node's meter window */
#define STATE_PERIOD_S	  0.25 /* at most this often to the browsers */
#define STATS_PERIOD_S	  1.0  /* subscriptions' counters */
#define DISCOVER_PERIOD_S 5.0
#define GONE_AFTER_S	  30.0 /* not found and not answering */

struct ui_node {
	struct ui_model *m;
	struct d4ctl_node node; /* keyed by node.addr */
	pthread_t thread;
	bool started;
	bool wake; /* poll everything now */
	bool gone;
	double last_seen;
	/* What its API said, as the state message shows it. */
	json_t *data; /* {"node", "flows", "subscriptions", "vars", ...} */
	bool reachable, polled;
	char error[300];
	json_t *meters; /* {"f": {FLOW: [[pk, rms]...]}, "s": {...}} */
	int64_t clk_t[CLOCK_HISTORY], clk_off[CLOCK_HISTORY];
	unsigned int clk_n, clk_head;
	json_t *clock_now;
	char gm[40], clock_state[24];
	json_t *sub_states; /* {SUB: "state"} */
	json_t *stats;	    /* {SUB: its "stats"}: the stats message's */
};

struct ui_model {
	struct d4ctl ctl;
	unsigned int latency_us;
	FILE *devnull;
	pthread_mutex_t lock;
	pthread_cond_t hub;  /* a new message: clients wake */
	pthread_cond_t poll; /* stop, wake-ups, meters wanted: pollers wake */
	bool stop;
	struct ui_node *nodes[UI_MAX_NODES];
	unsigned int n;
	pthread_t discover, publisher;
	bool discover_started, publisher_started;
	bool state_dirty, clock_dirty, meters_dirty, stats_dirty;
	uint64_t state_seq, meters_seq, clock_seq, stats_seq;
	char *state_msg, *meters_msg, *clock_msg, *stats_msg;
	struct {
		uint64_t seq;
		char *msg;
	} ev[EVENTS];
	uint64_t ev_next;
	int meter_clients;
};

struct ui_stream {
	struct ui_model *m;
	bool meters, first;
	uint64_t state_seq, meters_seq, clock_seq, stats_seq, ev_seq;
};

double ui_mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void wait_until(pthread_cond_t *c, pthread_mutex_t *l, double t)
{
	struct timespec ts;

	if (t <= ui_mono_s())
		return;
	ts.tv_sec = (time_t)t;
	ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
	pthread_cond_timedwait(c, l, &ts);
}

/* "event: KIND\ndata: JSON\n\n" of @v (stolen). */
static char *sse(const char *kind, json_t *v)
{
	char *text = json_dumps(v, JSON_COMPACT | JSON_REAL_PRECISION(6));
	char *msg = NULL;

	json_decref(v);
	if (text && asprintf(&msg, "event: %s\ndata: %s\n\n", kind, text) < 0)
		msg = NULL;
	free(text);
	return msg;
}

/* Under m->lock. */
static void log_locked(struct ui_model *m, const char *kind, const char *node,
		       const char *text)
{
	unsigned int i = (unsigned int)(m->ev_next % EVENTS);

	free(m->ev[i].msg);
	m->ev[i].msg = sse("log", json_pack("{s:I, s:s, s:s, s:s}", "t",
					    (json_int_t)wall_ms(), "kind", kind,
					    "node", node, "text", text));
	m->ev[i].seq = m->ev_next++;
	pthread_cond_broadcast(&m->hub);
}

void ui_model_log(struct ui_model *m, const char *kind, const char *node,
		  const char *text)
{
	pthread_mutex_lock(&m->lock);
	log_locked(m, kind, node, text);
	pthread_mutex_unlock(&m->lock);
}

static const char *jstr(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "";
}

/* ---- polling ---- */

/* Subscription @s's "legs" cut to each leg's name and state. */
static void legs_states(json_t *s)
{
	json_t *legs = json_object_get(s, "legs"), *l, *cut;
	size_t i;

	if (!json_is_array(legs))
		return;
	cut = json_array();
	json_array_foreach(legs, i, l)
	{
		json_array_append_new(
		    cut, json_pack("{s:O?, s:O?}", "leg", json_object_get(l, "leg"),
				   "state", json_object_get(l, "state")));
	}
	json_object_set_new(s, "legs", cut);
}

static int name_cmp(const void *a, const void *b)
{
	const char *x = json_string_value(
	    json_object_get(*(json_t *const *)a, "name"));
	const char *y = json_string_value(
	    json_object_get(*(json_t *const *)b, "name"));

	return strcmp(x ? x : "", y ? y : "");
}

/* @list's objects in the order of their "name" (the node lists streams
 * as discovery last heard them: an order that changes at every poll) */
static void sort_by_name(json_t *list)
{
	size_t n = json_array_size(list), i;
	json_t **v;

	if (n < 2 || !(v = malloc(n * sizeof(*v))))
		return;
	for (i = 0; i < n; i++)
		v[i] = json_incref(json_array_get(list, i));
	qsort(v, n, sizeof(*v), name_cmp);
	json_array_clear(list);
	for (i = 0; i < n; i++)
		json_array_append_new(list, v[i]);
	free(v);
}

static void drop_key(json_t *list, const char *key)
{
	json_t *e;
	size_t i;

	json_array_foreach(list, i, e) json_object_del(e, key);
}

/* @a and @b differ in more than what a subscription says afresh at every
 * poll (its reason, "48 packets in the last second", and its measured
 * safe latency): those go out in the stats message. */
static bool changed(const json_t *a, const json_t *b)
{
	json_t *ca = json_deep_copy(a), *cb = json_deep_copy(b);
	bool diff;

	drop_key(json_object_get(ca, "subscriptions"), "state_reason");
	drop_key(json_object_get(cb, "subscriptions"), "state_reason");
	drop_key(json_object_get(ca, "subscriptions"), "latency_safe_us");
	drop_key(json_object_get(cb, "subscriptions"), "latency_safe_us");
	diff = !json_equal(ca, cb);
	json_decref(ca);
	json_decref(cb);
	return diff;
}

/* Events for what changed between the node's last answers and @data,
 * then keep @data (stolen). Under m->lock. */
static void node_update(struct ui_node *un, json_t *data, bool full)
{
	struct ui_model *m = un->m;
	json_t *node = json_object_get(data, "node");
	json_t *clock = json_object_get(node, "clock"), *s;
	const char *name = jstr(node, "name"), *st = jstr(clock, "state");
	const char *gm = jstr(clock, "gm");
	char text[600];
	size_t i;

	if (!un->reachable && un->polled) {
		snprintf(text, sizeof(text), "%s (%s) answers again", name,
			 un->node.addr);
		log_locked(m, "node", name, text);
	} else if (!un->polled) {
		snprintf(text, sizeof(text), "found %s at %s", name,
			 un->node.addr);
		log_locked(m, "node", name, text);
	}
	if (un->polled && un->node.name[0] && strcmp(un->node.name, name) &&
	    !strchr(un->node.name, ':')) {
		snprintf(text, sizeof(text), "%s is now called %s",
			 un->node.name, name);
		log_locked(m, "node", name, text);
	}
	snprintf(un->node.name, sizeof(un->node.name), "%s", name);
	if (un->clock_state[0] && strcmp(un->clock_state, st)) {
		snprintf(text, sizeof(text), "%s: clock %s -> %s", name,
			 un->clock_state, st);
		log_locked(m, "clock", name, text);
	}
	if (strcmp(un->gm, gm) && (un->gm[0] || gm[0])) {
		snprintf(text, sizeof(text), "%s: grandmaster %s -> %s", name,
			 un->gm[0] ? un->gm : "none", gm[0] ? gm : "none");
		log_locked(m, "gm", name, text);
	}
	snprintf(un->clock_state, sizeof(un->clock_state), "%s", st);
	snprintf(un->gm, sizeof(un->gm), "%s", gm);
	if (!un->sub_states)
		un->sub_states = json_object();
	json_array_foreach(json_object_get(data, "subscriptions"), i, s)
	{
		const char *sub = jstr(s, "name"), *now = jstr(s, "state");
		const char *was = jstr(un->sub_states, sub);

		if (was[0] && strcmp(was, now)) {
			const char *why = jstr(s, "state_reason");

			snprintf(text, sizeof(text), "%s/%s: %s -> %s%s%s",
				 name, sub, was, now, why[0] ? ": " : "", why);
			log_locked(m, "subscription", name, text);
		}
		json_object_set_new(un->sub_states, sub, json_string(now));
	}
	/* The clock's history, for the plot. */
	if (json_is_integer(json_object_get(clock, "offset_ns"))) {
		unsigned int k = un->clk_head;

		un->clk_t[k] = wall_ms();
		un->clk_off[k] =
		    json_integer_value(json_object_get(clock, "offset_ns"));
		un->clk_head = (k + 1) % CLOCK_HISTORY;
		if (un->clk_n < CLOCK_HISTORY)
			un->clk_n++;
	}
	json_decref(un->clock_now);
	un->clock_now = json_pack("[I, O?, s, s?]", (json_int_t)wall_ms(),
				  json_object_get(clock, "offset_ns"), st,
				  gm[0] ? gm : NULL);
	m->clock_dirty = true;
	/* What changes at every poll goes out in the clock and stats
	 * messages; the state is sent again only when something in it
	 * changed (a route, a state, a name, the lock), not four times a
	 * second for its counters. */
	json_object_del(node, "uptime_s");
	json_object_del(clock, "offset_ns");
	if (!un->stats)
		un->stats = json_object();
	json_array_foreach(json_object_get(data, "subscriptions"), i, s)
	{
		/* the state goes with its reason: both from this poll, so
		 * that the page never pairs one poll's state with
		 * another's reason ("degraded: ... on both legs") */
		json_t *live = json_pack(
		    "{s:O?, s:O?, s:O?, s:O?, s:O?}", "stats",
		    json_object_get(s, "stats"), "state",
		    json_object_get(s, "state"), "state_reason",
		    json_object_get(s, "state_reason"), "latency_safe_us",
		    json_object_get(s, "latency_safe_us"), "legs",
		    json_object_get(s, "legs"));

		json_object_set_new(un->stats, jstr(s, "name"), live);
		json_object_del(s, "stats");
		/* ST 2022-7 legs: their counters change at every poll and go
		 * out in the stats message; the state message keeps each
		 * leg's name and state (the routes' "A ok, B down", as d4ctl
		 * routes gives it), sent again when one changes */
		legs_states(s);
	}
	drop_key(json_object_get(data, "flows"), "stats");
	/* a flow's legs: their counters change at every poll (a quiet
	 * network sent a state message every 2 s, a new user saw); their
	 * destination, interface and link stay */
	json_array_foreach(json_object_get(data, "flows"), i, s)
	{
		json_t *l;
		size_t k;

		json_array_foreach(json_object_get(s, "legs"), k, l)
		{
			json_object_del(l, "packets");
			json_object_del(l, "send_errors");
			json_object_del(l, "dropped");
		}
	}
	sort_by_name(json_object_get(data, "streams"));
	m->stats_dirty = true;
	if (!full && un->data) {
		/* keep what only the full poll fetches */
		static const char *const keep[] = {"flows", "vars", "streams",
						   "channels"};

		for (size_t k = 0; k < 4; k++) {
			json_t *v = json_object_get(un->data, keep[k]);

			if (v)
				json_object_set(data, keep[k], v);
		}
	}
	if (!un->data || !un->reachable || changed(un->data, data))
		m->state_dirty = true;
	json_decref(un->data);
	un->data = data;
	un->reachable = true;
	un->polled = true;
	un->error[0] = '\0';
}

static void node_failed(struct ui_node *un, const char *err)
{
	struct ui_model *m = un->m;
	char text[600];

	if (un->reachable || !un->polled) {
		snprintf(text, sizeof(text), "%s (%s) is not answering: %s",
			 un->node.name, un->node.addr, err);
		log_locked(m, "node", un->node.name, text);
	}
	un->reachable = false;
	un->polled = true;
	snprintf(un->error, sizeof(un->error), "%s", err);
	m->state_dirty = true;
}

static const char *const full_parts[][2] = {
    {"node", "/node"},	     {"subscriptions", "/subscriptions"},
    {"flows", "/flows"},     {"vars", "/d4/vars"},
    {"streams", "/streams"}, {"channels", "/channels"},
};

static void poll_data(struct ui_node *un, const struct d4ctl_node *node,
		      struct d4ctl *ctl, void *curl, bool full)
{
	size_t parts = full ? 6 : 2;
	json_t *data = json_object();
	char err[300];

	for (size_t k = 0; k < parts; k++) {
		json_t *v = NULL;

		if (d4ctl_http_with(ctl, curl, node, "GET", full_parts[k][1],
				    NULL, &v, err, sizeof(err)) < 0) {
			json_decref(data);
			pthread_mutex_lock(&un->m->lock);
			node_failed(un, err);
			pthread_mutex_unlock(&un->m->lock);
			return;
		}
		json_object_set_new(data, full_parts[k][0], v);
	}
	/* What the browser never needs: SDP text, long and per poll. */
	drop_key(json_object_get(data, "flows"), "sdp");
	drop_key(json_object_get(data, "streams"), "sdp");
	pthread_mutex_lock(&un->m->lock);
	node_update(un, data, full);
	pthread_mutex_unlock(&un->m->lock);
}

/* [[peak, rms]...] of a meters bank's channels (null: silence), and in
 * @updates its window count under "f/NAME" or "s/NAME". */
static json_t *compact_bank(const json_t *banks, char kind, json_t *updates)
{
	json_t *out = json_object(), *b, *c;
	size_t i, j;

	json_array_foreach(banks, i, b)
	{
		json_t *a = json_array();
		char key[200];

		snprintf(key, sizeof(key), "%c/%s", kind, jstr(b, "name"));
		json_object_set(updates, key, json_object_get(b, "updates"));
		json_array_foreach(json_object_get(b, "channels"), j, c)
		    json_array_append_new(
			a,
			json_pack("[O?, O?]", json_object_get(c, "peak_dbfs"),
				  json_object_get(c, "rms_dbfs")));
		json_object_set_new(out, jstr(b, "name"), a);
	}
	return out;
}

static void poll_meters(struct ui_node *un, const struct d4ctl_node *node,
			struct d4ctl *ctl, void *curl)
{
	json_t *v = NULL, *c, *u;
	char err[300];

	if (d4ctl_http_with(ctl, curl, node, "GET", "/meters", NULL, &v, err,
			    sizeof(err)) < 0)
		return; /* the next data poll says whether it answers */
	u = json_object();
	c = json_pack("{s:o, s:o, s:o}", "f",
		      compact_bank(json_object_get(v, "flows"), 'f', u), "s",
		      compact_bank(json_object_get(v, "subscriptions"), 's', u),
		      "u", u);
	json_decref(v);
	pthread_mutex_lock(&un->m->lock);
	json_decref(un->meters);
	un->meters = c;
	un->m->meters_dirty = true;
	pthread_mutex_unlock(&un->m->lock);
}

static void *poll_main(void *arg)
{
	struct ui_node *un = arg;
	struct ui_model *m = un->m;
	double next_full = 0, next_fast = 0, next_meter = 0;
	struct d4ctl ctl = m->ctl;
	CURL *curl = curl_easy_init();

	ctl.errs = m->devnull;
	pthread_mutex_lock(&m->lock);
	while (!m->stop) {
		double now = ui_mono_s(), until;
		bool full = un->wake || now >= next_full;
		bool fast = now >= next_fast;
		bool meters =
		    m->meter_clients > 0 && un->reachable && now >= next_meter;

		struct d4ctl_node node = un->node;

		un->wake = false;
		if (un->gone) {
			wait_until(&m->poll, &m->lock, now + 1);
			continue;
		}
		pthread_mutex_unlock(&m->lock);
		if (full || fast)
			poll_data(un, &node, &ctl, curl, full);
		if (meters)
			poll_meters(un, &node, &ctl, curl);
		pthread_mutex_lock(&m->lock);
		if (full)
			next_full = now + FULL_PERIOD_S;
		if (full || fast)
			next_fast = now + FAST_PERIOD_S;
		if (meters)
			next_meter = now + METER_PERIOD_S;
		until = next_full < next_fast ? next_full : next_fast;
		if (m->meter_clients > 0 && un->reachable && next_meter < until)
			until = next_meter;
		if (!un->wake && !m->stop)
			wait_until(&m->poll, &m->lock, until);
	}
	pthread_mutex_unlock(&m->lock);
	curl_easy_cleanup(curl);
	return NULL;
}

/* ---- discovery ---- */

/* Under m->lock. */
static void node_add(struct ui_model *m, const struct d4ctl_node *node)
{
	struct ui_node *un;

	for (unsigned int i = 0; i < m->n; i++) {
		if (!strcmp(m->nodes[i]->node.addr, node->addr)) {
			m->nodes[i]->last_seen = ui_mono_s();
			if (m->nodes[i]->gone) {
				m->nodes[i]->gone = false;
				m->nodes[i]->polled = false;
				m->nodes[i]->wake = true;
				pthread_cond_broadcast(&m->poll);
			}
			return;
		}
	}
	if (m->n == UI_MAX_NODES)
		return;
	un = calloc(1, sizeof(*un));
	if (!un)
		return;
	un->m = m;
	un->node = *node;
	un->last_seen = ui_mono_s();
	if (pthread_create(&un->thread, NULL, poll_main, un)) {
		free(un);
		return;
	}
	un->started = true;
	m->nodes[m->n++] = un;
}

static void *discover_main(void *arg)
{
	struct ui_model *m = arg;
	struct d4ctl ctl = m->ctl;

	ctl.errs = m->devnull;
	pthread_mutex_lock(&m->lock);
	while (!m->stop) {
		struct d4ctl_node *found = NULL;
		double now;
		int n;

		pthread_mutex_unlock(&m->lock);
		n = d4ctl_node_all(&ctl, &found);
		pthread_mutex_lock(&m->lock);
		for (int i = 0; i < n; i++)
			node_add(m, &found[i]);
		free(found);
		now = ui_mono_s();
		for (unsigned int i = 0; i < m->n; i++) {
			struct ui_node *un = m->nodes[i];
			char text[300];

			if (un->gone || un->reachable ||
			    now - un->last_seen < GONE_AFTER_S)
				continue;
			un->gone = true;
			snprintf(text, sizeof(text), "%s (%s) is gone",
				 un->node.name, un->node.addr);
			log_locked(m, "node", un->node.name, text);
			m->state_dirty = true;
		}
		if (!m->stop)
			wait_until(&m->poll, &m->lock, now + DISCOVER_PERIOD_S);
	}
	pthread_mutex_unlock(&m->lock);
	return NULL;
}

/* ---- messages ---- */

static json_t *state_json(struct ui_model *m, bool with_vars)
{
	json_t *nodes = json_array(), *net = json_array(), *routes, *netobj;

	for (unsigned int i = 0; i < m->n; i++) {
		struct ui_node *un = m->nodes[i];
		json_t *o, *d;

		if (un->gone || !un->polled)
			continue;
		o = json_pack("{s:s, s:s, s:b, s:s}", "addr", un->node.addr,
			      "name", un->node.name, "reachable", un->reachable,
			      "error", un->error);
		if (un->data) {
			json_object_update(o, un->data);
			if (!with_vars)
				json_object_del(o, "vars");
		}
		json_array_append_new(nodes, o);
		/* A node not answering keeps its last routes on show (its
		 * receivers say how they fare). */
		if (!un->data)
			continue;
		d = json_deep_copy(un->data);
		json_object_set_new(d, "name", json_string(un->node.name));
		json_object_set_new(d, "address", json_string(un->node.addr));
		json_array_append_new(net, d);
	}
	netobj = json_pack("{s:o}", "nodes", net);
	routes = plan_routes(netobj);
	json_decref(netobj);
	return json_pack("{s:I, s:o, s:o, s:{s:I, s:s, s:I}}", "seq",
			 (json_int_t)m->state_seq, "nodes", nodes, "routes",
			 routes ? routes : json_array(), "ui", "latency_us",
			 (json_int_t)m->latency_us, "version", D4_VERSION, "t",
			 (json_int_t)wall_ms());
}

char *ui_model_state_text(struct ui_model *m, size_t flags)
{
	char *text;
	json_t *v;

	pthread_mutex_lock(&m->lock);
	v = state_json(m, false);
	pthread_mutex_unlock(&m->lock);
	text = json_dumps(v, flags);
	json_decref(v);
	return text;
}

static char *clock_history(struct ui_model *m)
{
	json_t *o = json_object();

	for (unsigned int i = 0; i < m->n; i++) {
		struct ui_node *un = m->nodes[i];
		json_t *a = json_array();

		for (unsigned int k = 0; k < un->clk_n; k++) {
			unsigned int j =
			    (un->clk_head + CLOCK_HISTORY - un->clk_n + k) %
			    CLOCK_HISTORY;

			json_array_append_new(
			    a, json_pack("[I, I]", (json_int_t)un->clk_t[j],
					 (json_int_t)un->clk_off[j]));
		}
		json_object_set_new(o, un->node.addr, a);
	}
	return sse("clockhistory", o);
}

static void *publish_main(void *arg)
{
	struct ui_model *m = arg;
	double last_state = 0, last_clock = 0, last_meters = 0, last_stats = 0;

	pthread_mutex_lock(&m->lock);
	while (!m->stop) {
		double now = ui_mono_s();

		if (m->meters_dirty && now - last_meters >= METER_PERIOD_S) {
			json_t *o = json_object();

			for (unsigned int i = 0; i < m->n; i++)
				if (m->nodes[i]->meters && !m->nodes[i]->gone)
					json_object_set(o,
							m->nodes[i]->node.addr,
							m->nodes[i]->meters);
			free(m->meters_msg);
			m->meters_msg = sse(
			    "meters", json_pack("{s:I, s:I, s:o}", "t",
						(json_int_t)wall_ms(), "seq",
						(json_int_t)m->meters_seq + 1,
						"nodes", o));
			m->meters_seq++;
			m->meters_dirty = false;
			last_meters = now;
			pthread_cond_broadcast(&m->hub);
		}
		if (m->state_dirty && now - last_state >= STATE_PERIOD_S) {
			m->state_seq++;
			free(m->state_msg);
			m->state_msg = sse("state", state_json(m, false));
			m->state_dirty = false;
			last_state = now;
			pthread_cond_broadcast(&m->hub);
		}
		if (m->clock_dirty && now - last_clock >= FAST_PERIOD_S) {
			json_t *o = json_object();

			for (unsigned int i = 0; i < m->n; i++)
				if (m->nodes[i]->clock_now)
					json_object_set(o,
							m->nodes[i]->node.addr,
							m->nodes[i]->clock_now);
			free(m->clock_msg);
			m->clock_msg =
			    sse("clock",
				json_pack("{s:I, s:o}", "t",
					  (json_int_t)wall_ms(), "nodes", o));
			m->clock_seq++;
			m->clock_dirty = false;
			last_clock = now;
			pthread_cond_broadcast(&m->hub);
		}
		if (m->stats_dirty && now - last_stats >= STATS_PERIOD_S) {
			json_t *o = json_object();

			for (unsigned int i = 0; i < m->n; i++)
				if (m->nodes[i]->stats && !m->nodes[i]->gone)
					json_object_set(o,
							m->nodes[i]->node.addr,
							m->nodes[i]->stats);
			free(m->stats_msg);
			m->stats_msg = sse(
			    "stats", json_pack("{s:I, s:o}", "t",
					       (json_int_t)wall_ms(), "nodes", o));
			m->stats_seq++;
			m->stats_dirty = false;
			last_stats = now;
			pthread_cond_broadcast(&m->hub);
		}
		wait_until(&m->poll, &m->lock, now + METER_PERIOD_S / 2);
	}
	pthread_mutex_unlock(&m->lock);
	return NULL;
}

/* ---- the model ---- */

struct ui_model *ui_model_start(const struct d4ctl *ctl,
				unsigned int latency_us)
{
	struct ui_model *m = calloc(1, sizeof(*m));
	pthread_condattr_t ca;

	if (!m)
		return NULL;
	m->ctl = *ctl;
	m->ctl.out = m->ctl.errs = NULL;
	m->latency_us = latency_us;
	m->devnull = fopen("/dev/null", "w");
	pthread_mutex_init(&m->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&m->hub, &ca);
	pthread_cond_init(&m->poll, &ca);
	pthread_condattr_destroy(&ca);
	m->state_msg = sse("state", state_json(m, false));
	if (!m->devnull || !m->state_msg)
		goto out_destroy;
	if (pthread_create(&m->publisher, NULL, publish_main, m))
		goto out_destroy;
	m->publisher_started = true;
	if (pthread_create(&m->discover, NULL, discover_main, m))
		goto out_destroy;
	m->discover_started = true;
	return m;
out_destroy:
	ui_model_stop(m);
	ui_model_destroy(m);
	return NULL;
}

void ui_model_stop(struct ui_model *m)
{
	pthread_mutex_lock(&m->lock);
	m->stop = true;
	pthread_cond_broadcast(&m->poll);
	pthread_cond_broadcast(&m->hub);
	pthread_mutex_unlock(&m->lock);
}

void ui_model_destroy(struct ui_model *m)
{
	if (!m)
		return;
	if (m->discover_started)
		pthread_join(m->discover, NULL);
	if (m->publisher_started)
		pthread_join(m->publisher, NULL);
	for (unsigned int i = 0; i < m->n; i++) {
		struct ui_node *un = m->nodes[i];

		if (un->started)
			pthread_join(un->thread, NULL);
		json_decref(un->data);
		json_decref(un->meters);
		json_decref(un->clock_now);
		json_decref(un->sub_states);
		json_decref(un->stats);
		free(un);
	}
	for (unsigned int i = 0; i < EVENTS; i++)
		free(m->ev[i].msg);
	free(m->state_msg);
	free(m->meters_msg);
	free(m->clock_msg);
	free(m->stats_msg);
	if (m->devnull)
		fclose(m->devnull);
	pthread_cond_destroy(&m->hub);
	pthread_cond_destroy(&m->poll);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

int ui_model_nodes(struct ui_model *m, struct d4ctl_node **nodes)
{
	int n = 0;

	pthread_mutex_lock(&m->lock);
	*nodes = calloc(m->n ? m->n : 1, sizeof(**nodes));
	for (unsigned int i = 0; *nodes && i < m->n; i++)
		if (!m->nodes[i]->gone && m->nodes[i]->reachable)
			(*nodes)[n++] = m->nodes[i]->node;
	pthread_mutex_unlock(&m->lock);
	return *nodes ? n : -ENOMEM;
}

void ui_model_refresh(struct ui_model *m)
{
	pthread_mutex_lock(&m->lock);
	for (unsigned int i = 0; i < m->n; i++)
		m->nodes[i]->wake = true;
	pthread_cond_broadcast(&m->poll);
	pthread_mutex_unlock(&m->lock);
}

/* ---- a browser's stream ---- */

struct ui_stream *ui_stream_new(struct ui_model *m, bool meters)
{
	struct ui_stream *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->m = m;
	s->meters = meters;
	s->first = true;
	if (meters) {
		pthread_mutex_lock(&m->lock);
		m->meter_clients++;
		pthread_cond_broadcast(&m->poll);
		pthread_mutex_unlock(&m->lock);
	}
	return s;
}

void ui_stream_free(struct ui_stream *s)
{
	if (!s)
		return;
	if (s->meters) {
		pthread_mutex_lock(&s->m->lock);
		s->m->meter_clients--;
		pthread_mutex_unlock(&s->m->lock);
	}
	free(s);
}

struct strbuf {
	char *p;
	size_t len;
};

static void add(struct strbuf *b, const char *text)
{
	size_t n = text ? strlen(text) : 0;
	char *p;

	if (!n)
		return;
	p = realloc(b->p, b->len + n + 1);
	if (!p)
		return;
	memcpy(p + b->len, text, n + 1);
	b->p = p;
	b->len += n;
}

/* What @s has not had yet, appended to @b. Under m->lock. */
static void collect(struct ui_stream *s, struct strbuf *b)
{
	struct ui_model *m = s->m;
	uint64_t oldest = m->ev_next > EVENTS ? m->ev_next - EVENTS : 0;

	if (s->ev_seq < oldest)
		s->ev_seq = oldest;
	for (; s->ev_seq < m->ev_next; s->ev_seq++)
		add(b, m->ev[s->ev_seq % EVENTS].msg);
	if (s->state_seq != m->state_seq) {
		add(b, m->state_msg);
		s->state_seq = m->state_seq;
	}
	if (s->clock_seq != m->clock_seq) {
		add(b, m->clock_msg);
		s->clock_seq = m->clock_seq;
	}
	if (s->stats_seq != m->stats_seq) {
		add(b, m->stats_msg);
		s->stats_seq = m->stats_seq;
	}
	if (s->meters && s->meters_seq != m->meters_seq) {
		add(b, m->meters_msg);
		s->meters_seq = m->meters_seq;
	}
}

char *ui_stream_next(struct ui_stream *s, int timeout_ms)
{
	struct ui_model *m = s->m;
	struct strbuf b = {0};
	double until = ui_mono_s() + timeout_ms / 1000.0;

	pthread_mutex_lock(&m->lock);
	if (s->first) {
		char *h = clock_history(m);

		add(&b, "retry: 2000\n\n");
		add(&b, h);
		free(h);
		add(&b, m->state_msg);
		s->state_seq = m->state_seq;
		s->first = false;
	}
	while (!m->stop) {
		collect(s, &b);
		if (b.len || ui_mono_s() >= until)
			break;
		wait_until(&m->hub, &m->lock, until);
	}
	if (m->stop) {
		pthread_mutex_unlock(&m->lock);
		free(b.p);
		return NULL;
	}
	pthread_mutex_unlock(&m->lock);
	return b.p ? b.p : strdup("");
}
