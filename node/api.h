/* The node's HTTP+JSON control API (docs/api.md): libmicrohttpd in its
 * epoll mode, its one epoll fd and its timeout on the node's control loop,
 * so every handler runs on the control thread. This file does HTTP: routes,
 * bearer tokens, body limits, JSON in and out, errors; the node supplies
 * the handlers. One listener serves several tables of routes, each under
 * its own path prefix: d4's own API under /api/v1, NMOS under /x-nmos
 * (docs/nmos.md), each with its rules for tokens and errors. */
#ifndef D4_NODE_API_H
#define D4_NODE_API_H

#include <jansson.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct loop;
struct api;

#define API_PREFIX   "/api/v1"
#define API_BODY_MAX (64 * 1024)
#define API_PARTS    8

/* What a handler may answer instead of JSON (a transport file). */
struct api_resp {
	char *text;	       /* malloc'd; api.c frees it; NULL: JSON */
	char content_type[64]; /* of text ("application/sdp") */
	bool no_cache;	       /* Cache-Control: no-cache */
	char location[1024];   /* api_set_location(): a 201's Location */
};

struct api_req {
	const char *method;
	/* the path after the table's prefix, split at '/': "flows", "main" */
	const char *parts[API_PARTS];
	unsigned int nparts;
	/* the parsed JSON object (an NMOS table: any JSON value), or NULL
	 * (no body) */
	json_t *body;
	struct api_resp *resp; /* what the handler adds to its answer */
};

/* Fill *@out with the answer (NULL: no body) and return the HTTP status;
 * for 4xx/5xx put the message in @err instead (the API sends
 * {"error": err}). */
typedef int (*api_handler_fn)(void *ctx, const struct api_req *req,
			      json_t **out, char *err, size_t err_len);

struct api_route {
	const char *method;  /* "GET", "POST", "PUT", "DELETE" */
	const char *pattern; /* "flows/ *" without the space: one part */
	api_handler_fn fn;
	bool open; /* a write that needs no token (pairing: docs/api.md) */
};

struct api_config {
	struct sockaddr_in addr;
	char token[80];	 /* writes need "Bearer <token>" */
	bool read_token; /* reads need it too */
};

/* Listen and serve @routes (terminated by a NULL method) with @ctx under
 * API_PREFIX. NULL on failure (logged: port in use, ...). */
struct api *api_new(struct loop *loop, const struct api_config *cfg,
		    const struct api_route *routes, void *ctx);
void api_destroy(struct api *a);

/* How a table's answers look. */
enum api_style {
	API_STYLE_D4,	/* errors {"error": msg}; bodies are JSON objects */
	API_STYLE_NMOS, /* errors {"code", "error", "debug"} (AMWA IS-04
			 * APIs.md); CORS headers on every answer and
			 * OPTIONS preflights answered; HEAD as GET; bodies
			 * any JSON value */
};

/* Routes under another path prefix on the same listener. */
struct api_table {
	const char *prefix; /* "/x-nmos" */
	const struct api_route *routes;
	void *ctx;
	enum api_style style;
	bool open_reads;  /* GET and HEAD never need the token */
	bool open_writes; /* nor do writes */
	/* More bearer tokens writes may carry besides the API's; NULL:
	 * none. */
	bool (*token_ok)(void *ctx, const char *token);
};

/* Serve @t (kept by pointer: it must outlive its registration) from now
 * on. 0, -EEXIST (prefix taken) or -ENOSPC. */
int api_add_table(struct api *a, const struct api_table *t);
/* Stop serving @t (its paths answer 404 from now on). */
void api_remove_table(struct api *a, const struct api_table *t);
/* The API's token (writes need "Bearer <it>"). */
const char *api_token(const struct api *a);
uint16_t api_port(const struct api *a);
/* Writes need @token from now on (token rotation); the old one is
 * refused. */
void api_set_token(struct api *a, const char *token);
/* From a handler that answers 201: "Location: /api/v1/@collection/@name",
 * @name percent-encoded (RFC 9110 15.3.2: the new resource's URI). */
void api_set_location(const struct api_req *req, const char *collection,
		      const char *name);

struct api_stats {
	uint64_t requests, unauthorized, bad_requests, too_large, not_found;
	/* refused by libmicrohttpd before a handler saw them (malformed,
	 * over its limits), or cut short by the client */
	uint64_t http_errors;
	/* connections closed for no whole request within the deadline, and
	 * to make room for a newcomer */
	uint64_t timed_out, evicted;
};
void api_get_stats(const struct api *a, struct api_stats *out);

/* Match @req against @pattern ("flows/ *" style, '*' = any one part). */
bool api_match(const struct api_req *req, const char *pattern);

#endif
