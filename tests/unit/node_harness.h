/* A whole d4 node in a thread of a test program (free-running clock, no
 * discovery), asked over HTTP with libcurl: the harness of test_api.c and
 * test_state.c. One node per program; harness_init() once, then
 * harness_config() and start_node() / stop_node() as often as needed. */
#ifndef D4_TESTS_UNIT_NODE_HARNESS_H
#define D4_TESTS_UNIT_NODE_HARNESS_H

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "node/node.h"

#define TOKEN_LEN  64		     /* 32 random bytes in hex */
#define AUTH_TOKEN ((const char *)1) /* call(): the node's own token */

extern char dir[64];	  /* the test's directory (the node's state below) */
extern char root_url[64]; /* http://127.0.0.1:PORT */
extern char token[TOKEN_LEN + 8];

extern struct node_thread {
	pthread_t tid;
	struct node_opts opts;
	char config[128];
	int rc;
	atomic_bool done;
	bool started;
} node;

/* One answer: its status, its body as text and as JSON (NULL when the
 * body is empty or not JSON). */
struct reply {
	long status;
	char *text;
	size_t len;
	json_t *json;
	char allow[64]; /* the Allow header, if any */
};

/* A request that must be refused, and a part of its message. */
struct bad_req {
	const char *method, *path, *body;
	long status;
	const char *msg;
};

/* A directory /tmp/d4-test-@name-XXXXXX, curl, SIGTERM blocked (it must
 * reach the node's signalfd), the API at 127.0.0.1:@api_port. 0 or -1. */
int harness_init(const char *name, unsigned int api_port);
/* Write the node's config (@fmt: printf) to dir/node.ini. 0 or -errno. */
int harness_config(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Stop the node and remove the directory. 0 or -1. */
int harness_fini(void);

/* A port free now on every address for @type, below the range the
 * kernel hands out by itself (see node_harness.c). 0 if none. */
unsigned int free_port(int type);
/* The node in its thread, its API answering, its token read; and SIGTERM
 * as a service manager stops it. 0 or -1. */
int start_node(void);
int stop_node(void);

/* @method @path (from the server's root) with @body (@len bytes; NULL:
 * none) and @auth: NULL (no Authorization header), AUTH_TOKEN, or a
 * header value. call*(): @path after /api/v1. */
void request(struct reply *r, const char *method, const char *path,
	     const char *body, size_t len, const char *auth);
void call_len(struct reply *r, const char *method, const char *path,
	      const char *body, size_t len, const char *auth);
void call(struct reply *r, const char *method, const char *path,
	  const char *body, const char *auth);
void reply_free(struct reply *r);

void assert_status(const struct reply *r, long status);
/* @r is {"error": "...@needle..."} with @status. */
bool is_error(const struct reply *r, long status, const char *needle);
void assert_error(const struct reply *r, long status, const char *needle);
/* @method @path @body with the token: @status and its JSON (the caller
 * frees it). */
json_t *ok(const char *method, const char *path, const char *body, long status);
json_t *get(const char *path);
json_t *member(const json_t *o, const char *key);
const char *member_str(const json_t *o, const char *key);
json_int_t member_int(const json_t *o, const char *key);
/* The element of @list whose "name" is @name, or NULL. */
json_t *named(const json_t *list, const char *name);
bool listed(const char *path, const char *name);
void check_refusals(const struct bad_req *t, size_t n);

#endif
