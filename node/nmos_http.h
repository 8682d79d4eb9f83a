/* HTTP requests from the control loop: libcurl's multi interface with its
 * sockets and its timer on common/loop, so a registry that is slow, gone
 * or a black hole never blocks the loop (the API, PTP and discovery go on).
 * No thread: every callback runs on the loop's thread. */
#ifndef D4_NODE_NMOS_HTTP_H
#define D4_NODE_NMOS_HTTP_H

#include <stddef.h>
#include <stdint.h>

struct loop;
struct nmos_http;
struct nmos_http_req;

/* A request ended: @status is the HTTP status, or 0 when there was no
 * answer (@err says why: refused, timed out...). @body is the answer's
 * body (NUL-terminated; "" when none), valid during the call. The request
 * is freed after the call. */
typedef void (*nmos_http_fn)(void *ctx, long status, const char *body,
			     size_t len, const char *err);

/* A client on @loop. NULL when out of memory (logged). */
struct nmos_http *nmos_http_new(struct loop *loop);
/* Cancel every request (their callbacks are not called) and free. */
void nmos_http_destroy(struct nmos_http *h);

/* Start @method @url with JSON body @json (NULL: none) and @bearer (NULL:
 * no Authorization header); at most @timeout_ns in all. @fn is called
 * exactly once, from the loop, never from within this call. NULL when out
 * of memory, or when libcurl cannot be loaded (node/curl_lib.h: the
 * first request loads it; logged once). */
struct nmos_http_req *nmos_http_start(struct nmos_http *h, const char *method,
				      const char *url, const char *json,
				      const char *bearer, uint64_t timeout_ns,
				      nmos_http_fn fn, void *ctx);
/* Cancel a request: its callback is not called. */
void nmos_http_cancel(struct nmos_http_req *r);

/* Requests under way. */
unsigned int nmos_http_pending(const struct nmos_http *h);

#endif
