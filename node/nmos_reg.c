/* IS-04 registration (see nmos_reg.h). One state machine per node:
 *
 *   IDLE --(a registry known, after the start jitter)--> REGISTERING
 *   REGISTERING: POST /resource for every resource not registered yet,
 *     in type order; the node first (a 200 to that first POST means the
 *     registry kept an old copy: DELETE it and POST again, so that no
 *     stale child survives); then REGISTERED.
 *   REGISTERED: POST /health/nodes/ID every heartbeat (±10 %); changed
 *     resources are POSTed, removed ones DELETEd (children first).
 *     A 404 to a heartbeat: the registry forgot us (restart, garbage
 *     collection): every resource is POSTed again, the node first.
 *   Any state: a 5xx, a refused connection or a timeout fails over to
 *     the next registry (configured ones first, then DNS-SD's by pri),
 *     whose first request is a heartbeat (200: we are still there; 404:
 *     register); when every one failed: BACKOFF for a random wait in
 *     [0, min(30 s, 1 s * 2^n)) (full jitter), then from the top.
 *   A 4xx other than 404 to a resource's POST is the resource's fault
 *   (schema, version): logged, not retried until the resource changes.
 *
 * Requests time out after the heartbeat interval, as the spec advises, so
 * a failover lands within the registry's garbage collection interval. */
#include "node/nmos_reg.h"
#include "common/log.h"
#include "common/loop.h"
#include "node/curl_lib.h"
#include "node/nmos_http.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#define NS_PER_S      1000000000ull
#define REG_API	      "/x-nmos/registration/v1.3"
#define MAX_RESOURCES 512

static const char *const type_names[NMOS_NTYPES] = {
    "node", "device", "source", "flow", "sender", "receiver"};
static const char *const type_plurals[NMOS_NTYPES] = {
    "nodes", "devices", "sources", "flows", "senders", "receivers"};

const char *nmos_type_name(enum nmos_type t)
{
	return type_names[t];
}

const char *nmos_type_plural(enum nmos_type t)
{
	return type_plurals[t];
}

const char *nmos_reg_state_name(enum nmos_reg_state st)
{
	static const char *const names[] = {"idle", "registering", "registered",
					    "backoff"};

	return names[st];
}

/* One resource as the registry should have it. */
struct reg_res {
	enum nmos_type type;
	char id[40];
	json_t *data;	 /* NULL: removed, to be deleted */
	bool registered; /* the registry has this data */
	bool rejected;	 /* a 4xx: not again until it changes */
};

enum reg_op {
	OP_NONE,
	OP_HEARTBEAT,
	OP_POST,
	OP_DELETE,
	OP_DELETE_STALE, /* the node's old copy, before registering anew */
};

struct nmos_reg {
	struct loop *loop;
	struct nmos_http *http;
	struct nmos_reg_config cfg;
	char label[64];
	struct nmos_registry configured[NMOS_REG_MAX_URLS];
	struct nmos_registry found[NMOS_REG_MAX_URLS];
	unsigned int nfound;
	/* the order tried this round: configured, then found */
	struct nmos_registry order[2 * NMOS_REG_MAX_URLS];
	unsigned int norder, cur; /* cur: index in order */
	char url[NMOS_URL_MAX];	  /* in use */
	enum nmos_reg_state state;
	struct reg_res res[MAX_RESOURCES];
	unsigned int nres;
	char node_id[40];
	bool first_post;	/* the node's first POST to this registry */
	bool probe;		/* heartbeat first (after a failover) */
	unsigned int failed;	/* registries failed this round */
	unsigned int backoff_n; /* rounds failed in a row */
	struct nmos_http_req *req;
	enum reg_op op;
	struct reg_res *op_res;
	struct loop_timer *timer; /* start, heartbeat, backoff */
	bool started;		  /* the start jitter is over */
	bool in_reply;		  /* handling an answer (request_fn) */
	uint64_t due_ns;	  /* when the timer was meant to fire */
	uint64_t next_heartbeat;
	uint64_t rng;
	struct nmos_reg_stats stats;
	struct log_ratelimit rl;
};

static uint64_t now_ns(void)
{
	return loop_now_ns();
}

/* A uniform draw in [0, 1) of the client's own generator (splitmix64:
 * each client its own stream, seeded from the kernel's entropy, so that
 * identical nodes powered up together do not draw alike; rand_r()'s
 * streams from neighbouring seeds do). */
static double uniform(struct nmos_reg *r)
{
	uint64_t z = (r->rng += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	z ^= z >> 31;
	return (double)(z >> 11) * (1.0 / 9007199254740992.0);
}

uint64_t nmos_backoff_ns(unsigned int n, double u, uint64_t min_ns,
			 uint64_t max_ns, bool no_jitter)
{
	uint64_t bound = min_ns;

	while (n-- && bound < max_ns)
		bound *= 2;
	if (bound > max_ns)
		bound = max_ns;
	return no_jitter ? bound : (uint64_t)(u * (double)bound);
}

static void set_state(struct nmos_reg *r, enum nmos_reg_state st)
{
	if (r->state == st)
		return;
	r->state = st;
	if (st == NMOS_REG_REGISTERED && !r->cfg.quiet)
		log_info("nmos: %s%sregistered with %s", r->label,
			 r->label[0] ? ": " : "", r->url);
	if (r->cfg.state_fn)
		r->cfg.state_fn(r->cfg.ctx, st, r->url);
}

/* Failures any client can cause (a registry down) are logged at most a
 * few times per 10 s; a quiet client (simulation) says nothing. */
static void warn(struct nmos_reg *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void warn(struct nmos_reg *r, const char *fmt, ...)
{
	unsigned int supp;
	char msg[400];
	va_list ap;

	if (r->cfg.quiet)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (log_ratelimit_ok(&r->rl, &supp))
		log_warn("nmos: %s%s%s%s", r->label, r->label[0] ? ": " : "",
			 msg, supp ? " (and earlier ones not logged)" : "");
}

static void step(struct nmos_reg *r);

static int by_pri(const void *a, const void *b)
{
	const struct nmos_registry *x = a, *y = b;

	return (x->pri > y->pri) - (x->pri < y->pri);
}

/* This round's order: configured ones, then DNS-SD's by pri with ties
 * shuffled (the spec: a random one among equal priorities). */
static void build_order(struct nmos_reg *r)
{
	unsigned int i, j, k;

	r->norder = 0;
	for (i = 0; i < r->cfg.nconfigured; i++)
		r->order[r->norder++] = r->configured[i];
	k = r->norder;
	for (i = 0; i < r->nfound; i++) {
		for (j = 0; j < r->cfg.nconfigured; j++)
			if (!strcmp(r->found[i].url, r->configured[j].url))
				break;
		if (j == r->cfg.nconfigured)
			r->order[r->norder++] = r->found[i];
	}
	/* shuffle, then a stable sort by pri keeps ties shuffled */
	for (i = r->norder; i > k + 1; i--) {
		struct nmos_registry t;

		j = k + (unsigned int)(uniform(r) * (double)(i - k));
		t = r->order[i - 1];
		r->order[i - 1] = r->order[j];
		r->order[j] = t;
	}
	for (i = k + 1; i < r->norder; i++)
		for (j = i; j > k && by_pri(&r->order[j - 1], &r->order[j]) > 0;
		     j--) {
			struct nmos_registry t = r->order[j];

			r->order[j] = r->order[j - 1];
			r->order[j - 1] = t;
		}
	r->cur = 0;
	r->failed = 0;
}

static struct reg_res *find(struct nmos_reg *r, enum nmos_type t,
			    const char *id)
{
	unsigned int i;

	for (i = 0; i < r->nres; i++)
		if (r->res[i].type == t && !strcmp(r->res[i].id, id))
			return &r->res[i];
	return NULL;
}

static void drop_res(struct nmos_reg *r, struct reg_res *x)
{
	json_decref(x->data);
	*x = r->res[--r->nres];
}

/* Everything must be registered again (a new registry, or a 404). */
static void mark_unregistered(struct nmos_reg *r)
{
	unsigned int i = 0;

	while (i < r->nres) {
		if (!r->res[i].data) { /* gone with the registry's copy */
			drop_res(r, &r->res[i]);
			continue;
		}
		r->res[i].registered = false;
		r->res[i].rejected = false;
		i++;
	}
}

static void arm(struct nmos_reg *r, uint64_t delay_ns)
{
	loop_timer_arm(r->timer, delay_ns ? delay_ns : 1, 0);
	r->due_ns = now_ns() + delay_ns;
}

/* The next heartbeat: within one interval after a registration (@first),
 * else the interval ±10 %. */
static void schedule_heartbeat(struct nmos_reg *r, bool first)
{
	uint64_t hb = r->cfg.heartbeat_ns;

	if (!r->cfg.no_jitter)
		hb = (uint64_t)((double)hb *
				(first ? uniform(r) : 0.9 + 0.2 * uniform(r)));
	r->next_heartbeat = now_ns() + hb;
}

static void on_reply(void *ctx, long status, const char *body, size_t len,
		     const char *err);

static void send_op(struct nmos_reg *r, enum reg_op op, struct reg_res *x)
{
	char url[NMOS_URL_MAX + 128], *json = NULL;
	const char *method = "POST";

	switch (op) {
	case OP_HEARTBEAT:
		snprintf(url, sizeof(url), "%s%s/health/nodes/%s", r->url,
			 REG_API, r->node_id);
		r->stats.heartbeats++;
		break;
	case OP_POST: {
		json_t *body = json_pack("{s:s,s:O}", "type",
					 type_names[x->type], "data", x->data);

		snprintf(url, sizeof(url), "%s%s/resource", r->url, REG_API);
		json = body ? json_dumps(body, JSON_COMPACT) : NULL;
		json_decref(body);
		if (!json)
			return;
		r->stats.registrations++;
		break;
	}
	case OP_DELETE:
	case OP_DELETE_STALE:
		method = "DELETE";
		snprintf(url, sizeof(url), "%s%s/resource/%s/%s", r->url,
			 REG_API,
			 type_plurals[op == OP_DELETE ? x->type : NMOS_NODE],
			 op == OP_DELETE ? x->id : r->node_id);
		break;
	default:
		return;
	}
	r->op = op;
	r->op_res = x;
	r->stats.requests++;
	if (r->cfg.request_fn)
		r->cfg.request_fn(r->cfg.ctx, method, url,
				  r->in_reply ? 0 : r->due_ns);
	r->req = nmos_http_start(r->http, method, url, json, NULL,
				 r->cfg.heartbeat_ns, on_reply, r);
	free(json);
	if (!r->req) {
		r->op = OP_NONE;
		arm(r, NS_PER_S); /* out of memory: later */
	}
}

/* Every registry of this round failed: back off, then from the top. */
static void back_off(struct nmos_reg *r)
{
	uint64_t wait =
	    nmos_backoff_ns(r->backoff_n, uniform(r), r->cfg.backoff_min_ns,
			    r->cfg.backoff_max_ns, r->cfg.no_jitter);

	r->backoff_n++;
	r->stats.backoffs++;
	r->url[0] = '\0';
	warn(r, "no registry answers: trying again in %.1f s",
	     (double)wait / 1e9);
	set_state(r, NMOS_REG_BACKOFF);
	arm(r, wait);
}

/* The registry in use failed: the next one, heartbeat first. */
static void fail_over(struct nmos_reg *r, const char *why)
{
	warn(r, "registry %s: %s", r->url, why);
	r->stats.failovers++;
	r->failed++;
	r->cur++;
	if (r->cur >= r->norder) {
		back_off(r);
		return;
	}
	snprintf(r->url, sizeof(r->url), "%s", r->order[r->cur].url);
	r->probe = true;
	set_state(r, NMOS_REG_REGISTERING);
	step(r);
}

/* Start (again) from the first registry of a new round. */
static void start_round(struct nmos_reg *r)
{
	build_order(r);
	if (!r->norder) {
		r->url[0] = '\0';
		if (r->state != NMOS_REG_IDLE && !r->cfg.quiet)
			log_info("nmos: %s%sno registry known", r->label,
				 r->label[0] ? ": " : "");
		r->state = NMOS_REG_BACKOFF; /* so that IDLE is reported */
		set_state(r, NMOS_REG_IDLE);
		return;
	}
	snprintf(r->url, sizeof(r->url), "%s", r->order[0].url);
	/* after a backoff the node may still be there: ask first; the very
	 * first time, register (a 200 then clears an old copy) */
	r->probe = r->backoff_n > 0;
	if (!r->probe)
		mark_unregistered(r);
	r->first_post = true;
	set_state(r, NMOS_REG_REGISTERING);
	step(r);
}

static bool node_in(struct nmos_reg *r)
{
	struct reg_res *x = find(r, NMOS_NODE, r->node_id);

	return x && x->data && x->registered;
}

/* The next request, if none is under way. */
static void step(struct nmos_reg *r)
{
	unsigned int t, i;

	if (r->req || !r->started || !r->node_id[0] ||
	    r->state == NMOS_REG_BACKOFF || r->state == NMOS_REG_IDLE)
		return;
	if (r->probe) {
		send_op(r, OP_HEARTBEAT, NULL);
		return;
	}
	/* deletions first, children before parents */
	for (t = NMOS_NTYPES; t-- > 0;)
		for (i = 0; i < r->nres; i++)
			if (r->res[i].type == t && !r->res[i].data) {
				if (!r->res[i].registered) {
					drop_res(r, &r->res[i]);
					i--;
					continue;
				}
				send_op(r, OP_DELETE, &r->res[i]);
				return;
			}
	/* then what the registry lacks, parents before children */
	for (t = 0; t < NMOS_NTYPES; t++)
		for (i = 0; i < r->nres; i++)
			if (r->res[i].type == t && !r->res[i].registered &&
			    !r->res[i].rejected) {
				/* no child before its node is in */
				if (t != NMOS_NODE && !node_in(r))
					return;
				send_op(r, OP_POST, &r->res[i]);
				return;
			}
	if (r->state != NMOS_REG_REGISTERED) {
		r->backoff_n = 0;
		set_state(r, NMOS_REG_REGISTERED);
		schedule_heartbeat(r, true);
	}
	if (now_ns() >= r->next_heartbeat) {
		r->due_ns = r->next_heartbeat;
		send_op(r, OP_HEARTBEAT, NULL);
		return;
	}
	arm(r, r->next_heartbeat - now_ns());
}

static void on_answer(struct nmos_reg *r, enum reg_op op, struct reg_res *x,
		      long status, const char *body, const char *err);

static void on_reply(void *ctx, long status, const char *body, size_t len,
		     const char *err)
{
	struct nmos_reg *r = ctx;
	enum reg_op op = r->op;
	struct reg_res *x = r->op_res;

	(void)len;
	r->req = NULL;
	r->op = OP_NONE;
	r->in_reply = true;
	on_answer(r, op, x, status, body, err);
	r->in_reply = false;
}

static void on_answer(struct nmos_reg *r, enum reg_op op, struct reg_res *x,
		      long status, const char *body, const char *err)
{
	char why[160];

	if (status == 0 || status >= 500) {
		if (status)
			snprintf(why, sizeof(why), "HTTP %ld", status);
		else
			snprintf(why, sizeof(why), "%s", err ? err : "failed");
		fail_over(r, why);
		return;
	}
	switch (op) {
	case OP_HEARTBEAT:
		if (status == 404) {
			/* forgotten (or never known here): register */
			r->stats.not_found++;
			if (!r->probe)
				warn(r,
				     "registry %s forgot the node: "
				     "registering again",
				     r->url);
			mark_unregistered(r);
			r->first_post = false; /* it has no copy */
			r->probe = false;
			break;
		}
		if (status >= 200 && status < 300) {
			schedule_heartbeat(r, false);
			r->probe = false;
			break;
		}
		fail_over(r, "heartbeat refused");
		return;
	case OP_POST:
		if (status == 200 && x->type == NMOS_NODE && r->first_post) {
			/* an old copy with its old children: clear it */
			r->first_post = false;
			send_op(r, OP_DELETE_STALE, NULL);
			return;
		}
		if (x->type == NMOS_NODE)
			r->first_post = false;
		if (status == 200 || status == 201) {
			x->registered = true;
			break;
		}
		r->stats.rejected++;
		x->rejected = true;
		warn(r, "registry %s refused %s %s: HTTP %ld %.200s", r->url,
		     type_names[x->type], x->id, status, body);
		if (x->type == NMOS_NODE) {
			/* nothing else can go in without it */
			fail_over(r, "the node was refused");
			return;
		}
		break;
	case OP_DELETE:
		/* 404: gone already, which is what we wanted */
		drop_res(r, x);
		break;
	case OP_DELETE_STALE:
		break; /* POST the node again: 201 now */
	default:
		break;
	}
	step(r);
}

static void on_timer(void *data)
{
	struct nmos_reg *r = data;

	if (!r->started) {
		r->started = true;
		start_round(r);
		return;
	}
	if (r->state == NMOS_REG_BACKOFF) {
		start_round(r);
		return;
	}
	step(r);
}

struct nmos_reg *nmos_reg_new(struct loop *loop, struct nmos_http *http,
			      const struct nmos_reg_config *cfg)
{
	struct nmos_reg *r = calloc(1, sizeof(*r));
	unsigned int i;

	if (!r)
		return NULL;
	r->loop = loop;
	r->http = http;
	r->cfg = *cfg;
	if (!r->cfg.heartbeat_ns)
		r->cfg.heartbeat_ns = 5 * NS_PER_S;
	if (!r->cfg.start_jitter_ns)
		r->cfg.start_jitter_ns = 2 * NS_PER_S;
	if (!r->cfg.backoff_min_ns)
		r->cfg.backoff_min_ns = NS_PER_S;
	if (!r->cfg.backoff_max_ns)
		r->cfg.backoff_max_ns = 30 * NS_PER_S;
	if (r->cfg.nconfigured > NMOS_REG_MAX_URLS)
		r->cfg.nconfigured = NMOS_REG_MAX_URLS;
	for (i = 0; i < r->cfg.nconfigured; i++)
		r->configured[i] = cfg->configured[i];
	r->cfg.configured = NULL;
	snprintf(r->label, sizeof(r->label), "%s",
		 cfg->label ? cfg->label : "");
	r->cfg.label = NULL;
	if (cfg->seed)
		r->rng = cfg->seed;
	else if (getrandom(&r->rng, sizeof(r->rng), GRND_NONBLOCK) !=
		 sizeof(r->rng))
		r->rng = now_ns() ^ ((uint64_t)getpid() << 32);
	r->rl = (struct log_ratelimit)LOG_RATELIMIT_INIT(10 * NS_PER_S, 3);
	r->timer = loop_timer_new(loop, on_timer, r);
	if (!r->timer) {
		free(r);
		return NULL;
	}
	/* The first registration after a random wait: nodes powered up
	 * together reach the registry spread over start_jitter. */
	arm(r, r->cfg.start_delay_ns +
		   (r->cfg.no_jitter
			? 0
			: (uint64_t)(uniform(r) *
				     (double)r->cfg.start_jitter_ns)));
	return r;
}

static size_t discard(char *ptr, size_t size, size_t nmemb, void *user)
{
	(void)ptr;
	(void)user;
	return size * nmemb;
}

/* At shutdown: DELETE every registered resource, children first, then
 * the node, on one connection; blocking, bounded. */
static void unregister_now(struct nmos_reg *r)
{
	uint64_t deadline = now_ns() + 2 * NS_PER_S;
	char url[NMOS_URL_MAX + 128];
	unsigned int t, i, n = 0;
	/* nothing is registered unless a request loaded libcurl */
	const struct curl_lib *C = curl_lib_loaded();
	CURL *c = C ? C->easy_init() : NULL;

	if (!c)
		return;
	C->easy_setopt(c, CURLOPT_CUSTOMREQUEST, "DELETE");
	C->easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	C->easy_setopt(c, CURLOPT_TIMEOUT_MS, 300L);
	C->easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http");
	C->easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	for (t = NMOS_NTYPES; t-- > 0;)
		for (i = 0; i < r->nres && now_ns() < deadline; i++) {
			struct reg_res *x = &r->res[i];

			if (x->type != t || !x->registered)
				continue;
			snprintf(url, sizeof(url), "%s%s/resource/%s/%s",
				 r->url, REG_API, type_plurals[t], x->id);
			C->easy_setopt(c, CURLOPT_URL, url);
			if (C->easy_perform(c) == CURLE_OK)
				n++;
		}
	C->easy_cleanup(c);
	if (!r->cfg.quiet)
		log_info("nmos: %s%sunregistered %u resource(s) from %s",
			 r->label, r->label[0] ? ": " : "", n, r->url);
}

void nmos_reg_destroy(struct nmos_reg *r, bool unregister)
{
	unsigned int i;

	if (!r)
		return;
	nmos_http_cancel(r->req);
	if (unregister && r->url[0] &&
	    (r->state == NMOS_REG_REGISTERED ||
	     r->state == NMOS_REG_REGISTERING))
		unregister_now(r);
	for (i = 0; i < r->nres; i++)
		json_decref(r->res[i].data);
	loop_timer_free(r->timer);
	free(r);
}

void nmos_reg_set(struct nmos_reg *r, enum nmos_type type, const char *id,
		  json_t *data)
{
	struct reg_res *x = find(r, type, id);

	if (!x) {
		if (!data)
			return;
		if (r->nres == MAX_RESOURCES) {
			warn(r, "more than %d resources: %s %s left out",
			     MAX_RESOURCES, type_names[type], id);
			return;
		}
		x = &r->res[r->nres++];
		memset(x, 0, sizeof(*x));
		x->type = type;
		snprintf(x->id, sizeof(x->id), "%s", id);
	}
	if (x == r->op_res && r->req) {
		/* a request about it is under way: its answer concerns the
		 * old data; the new one goes next */
		r->op_res = NULL;
		nmos_http_cancel(r->req);
		r->req = NULL;
		r->op = OP_NONE;
	}
	json_decref(x->data);
	x->data = data ? json_incref(data) : NULL;
	x->registered = false;
	x->rejected = false;
	if (type == NMOS_NODE && data)
		snprintf(r->node_id, sizeof(r->node_id), "%s", id);
	if (r->started)
		r->due_ns = 0; /* a change asks, not a timer */
	if (r->started && r->state == NMOS_REG_IDLE)
		start_round(r);
	else
		step(r);
}

void nmos_reg_set_found(struct nmos_reg *r, const struct nmos_registry *list,
			unsigned int n)
{
	unsigned int i;

	if (n > NMOS_REG_MAX_URLS)
		n = NMOS_REG_MAX_URLS;
	for (i = 0; i < n; i++)
		r->found[i] = list[i];
	r->nfound = n;
	if (r->started && r->state == NMOS_REG_IDLE)
		start_round(r);
}

enum nmos_reg_state nmos_reg_state(const struct nmos_reg *r)
{
	return r->state;
}

const char *nmos_reg_url(const struct nmos_reg *r)
{
	return r->url;
}

void nmos_reg_get_stats(const struct nmos_reg *r, struct nmos_reg_stats *out)
{
	*out = r->stats;
}
