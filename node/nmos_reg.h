/* An IS-04 v1.3 registration client (AMWA IS-04 "Behaviour:
 * Registration"): it keeps a node's resources registered with one
 * Registration API at a time, in dependency order, heartbeats, registers
 * again after a 404 (the registry restarted or forgot the node), fails
 * over to the next registry on a 5xx, a refused connection or a timeout,
 * and backs off with jitter once every registry failed, so that hundreds
 * of nodes coming up (or a registry coming back) together do not
 * stampede it. One request at a time per client. It knows nothing of d4:
 * the node (node/nmos.c) and the load test's simulated nodes feed it
 * resources as JSON. Control loop only. */
#ifndef D4_NODE_NMOS_REG_H
#define D4_NODE_NMOS_REG_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

struct loop;
struct nmos_http;
struct nmos_reg;

/* Resource types in registration order (children after parents). */
enum nmos_type {
	NMOS_NODE,
	NMOS_DEVICE,
	NMOS_SOURCE,
	NMOS_FLOW,
	NMOS_SENDER,
	NMOS_RECEIVER,
	NMOS_NTYPES,
};

/* "node", "device"... (the Registration API's "type"). */
const char *nmos_type_name(enum nmos_type t);
/* "nodes", "devices"... (paths). */
const char *nmos_type_plural(enum nmos_type t);

#define NMOS_REG_MAX_URLS 16
#define NMOS_URL_MAX	  256

/* A Registration API, as configured or found by DNS-SD. */
struct nmos_registry {
	char url[NMOS_URL_MAX]; /* "http://10.0.0.5:8235" (no API path) */
	int pri;		/* TXT pri; configured ones: -1 (first) */
};

enum nmos_reg_state {
	NMOS_REG_IDLE,	      /* no registry known */
	NMOS_REG_REGISTERING, /* talking to one */
	NMOS_REG_REGISTERED,  /* every resource registered, heartbeating */
	NMOS_REG_BACKOFF,     /* every registry failed: waiting to retry */
};

struct nmos_reg_config {
	const struct nmos_registry *configured; /* tried first, in order */
	unsigned int nconfigured;
	uint64_t heartbeat_ns; /* 5 s by default (0) */
	/* Waits are drawn at random (full jitter): the first registration
	 * within [0, start_jitter_ns), the first heartbeat after it within
	 * one heartbeat_ns (so that nodes registered together do not beat
	 * together), the next ones within ±10 % of heartbeat_ns, each retry
	 * after all registries failed within [0, min(backoff_max_ns,
	 * backoff_min_ns * 2^n)). no_jitter: fixed waits (the load test's
	 * herd, for comparison). */
	bool no_jitter;
	uint64_t start_delay_ns;  /* before the first try (DNS-SD's time) */
	uint64_t start_jitter_ns; /* 0: 2 s */
	uint64_t backoff_min_ns;  /* 0: 1 s */
	uint64_t backoff_max_ns;  /* 0: 30 s */
	uint64_t seed;		  /* of the jitter; 0: the kernel's entropy */
	const char *label;	  /* in log lines: the node's name */
	bool quiet;		  /* log failures only once each (simulation) */
	/* Called for every request sent (may be NULL): the load test's
	 * record of when nodes ask. @due_ns: when the client meant to send
	 * it (loop_now_ns() time) if a timer of its own decided (a start, a
	 * heartbeat, a retry); 0 when it follows the answer to its
	 * previous request (the next resource) or a change of a resource. */
	void (*request_fn)(void *ctx, const char *method, const char *url,
			   uint64_t due_ns);
	/* Called on every change of state, with the registry in use. */
	void (*state_fn)(void *ctx, enum nmos_reg_state st, const char *url);
	void *ctx;
};

/* A client on @loop through @http (shared). NULL when out of memory. It
 * starts once it has a node resource (nmos_reg_set NMOS_NODE). */
struct nmos_reg *nmos_reg_new(struct loop *loop, struct nmos_http *http,
			      const struct nmos_reg_config *cfg);
/* Stop. With @unregister, delete the node's resources from the registry
 * first (children first, then the node), each request waited for up to
 * 300 ms, 2 s in all: this blocks, at shutdown only. */
void nmos_reg_destroy(struct nmos_reg *r, bool unregister);

/* Resource @id of @type is now @data (a JSON object, referenced; NULL:
 * removed). Registered (POST) or deleted as soon as the registry is
 * there, in order. */
void nmos_reg_set(struct nmos_reg *r, enum nmos_type type, const char *id,
		  json_t *data);

/* The registries DNS-SD knows now (any order: sorted here by pri, equal
 * priorities at random). The one in use is kept while it works. */
void nmos_reg_set_found(struct nmos_reg *r, const struct nmos_registry *list,
			unsigned int n);

enum nmos_reg_state nmos_reg_state(const struct nmos_reg *r);
const char *nmos_reg_state_name(enum nmos_reg_state st);
/* The registry in use ("" when none). */
const char *nmos_reg_url(const struct nmos_reg *r);

struct nmos_reg_stats {
	uint64_t requests, heartbeats, registrations, failovers, backoffs,
	    not_found, rejected;
};
void nmos_reg_get_stats(const struct nmos_reg *r, struct nmos_reg_stats *out);

/* The wait before retry @n (0-based) after every registry failed, for a
 * uniform draw @u in [0, 1): full jitter, u * min(max, min * 2^n); with
 * @no_jitter the bound itself. Pure (unit-tested). */
uint64_t nmos_backoff_ns(unsigned int n, double u, uint64_t min_ns,
			 uint64_t max_ns, bool no_jitter);

#endif
