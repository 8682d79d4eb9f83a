/* HTTP for the control API (see api.h). libmicrohttpd runs without a
 * thread of its own, in its external select mode: the node's loop watches
 * the listening socket and every connection (level-triggered, for what
 * libmicrohttpd asks: MHD_get_fdset2), and MHD_run() does the work when
 * one is ready or when libmicrohttpd's own timeout (idle connections) is
 * due. Not MHD_USE_EPOLL: libmicrohttpd 0.9.75 watches its sockets
 * edge-triggered there and misses a client's close that arrives with the
 * last data (part of a request, then close()); each such connection held
 * one of the 64 slots until its 30 s timeout, and a few hundred of them
 * locked everyone out of the API.
 *
 * Limits, so that no client locks out another (docs/api.md "Limits"): at
 * most API_PER_CLIENT connections from one address; each request read and
 * answered within API_DEADLINE_NS of its connection opening or of the
 * previous answer on it (an idle keep-alive connection lasts that long),
 * whatever the client trickles; at most API_CONN_MAX connections, and
 * past API_CONN_MAX - API_CONN_ROOM each new one closes the connection
 * that has waited longest, so there is always room for a newcomer. */
#include "node/api.h"
#include "common/log.h"
#include "common/loop.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <linux/tcp.h> /* struct tcp_info with tcpi_bytes_received */
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>

#define API_PER_CLIENT	8
#define API_CONN_MAX	128
#define API_CONN_ROOM	32
#define API_DEADLINE_S	5
#define API_DEADLINE_NS (API_DEADLINE_S * 1000000000ull)
#define API_REAP_NS	(250 * 1000000ull)
#define API_MAX_TABLES	4

struct api {
	struct MHD_Daemon *mhd;
	struct loop *loop;
	struct loop_io *io; /* the listening socket */
	int listen_fd;
	struct loop_timer *timer;
	struct loop_timer *reaper; /* connections past their deadline */
	struct api_conn *conns;
	unsigned int nconns;
	struct api_config cfg;
	struct api_table d4; /* /api/v1 */
	const struct api_table *tables[API_MAX_TABLES];
	unsigned int ntables;
	uint16_t port;
	struct api_stats stats;
	struct log_ratelimit rl; /* libmicrohttpd's own messages */
	/* the node's own failures (5xx): their own budget, so that idle
	 * connections cut (an attacker's) cannot use it up */
	struct log_ratelimit rl5;
};

/* One request, from its request line on: its body as it arrives. */
struct upload {
	char *buf;
	size_t len;
	bool too_large;
	bool started;	 /* the handler has seen the head */
	bool dispatched; /* and answered it */
	bool bad_uri;	 /* a %00 or a broken %-escape in its path */
};

/* One connection: its socket on the loop, and how many request lines
 * libmicrohttpd parsed on it. */
struct api_conn {
	struct loop_io *io;
	int fd;
	unsigned int requests;
	uint64_t since; /* opened, or its last answer sent: the deadline's */
	bool closing;	/* shut down by us; libmicrohttpd closes it next */
	struct api_conn *prev, *next;
};

/* Close @ac: libmicrohttpd sees the end at its next read and lets it go
 * (on_connection), as when the client closes. */
static void cut(struct api *a, struct api_conn *ac, const char *why)
{
	unsigned int supp;

	if (ac->closing)
		return;
	ac->closing = true;
	shutdown(ac->fd, SHUT_RDWR);
	if (log_ratelimit_ok(&a->rl, &supp))
		log_warn("api: closed a connection: %s%s", why,
			 supp ? " (and earlier ones not logged)" : "");
}

static void rearm(struct api *a)
{
	MHD_UNSIGNED_LONG_LONG ms;

	if (MHD_get_timeout(a->mhd, &ms) == MHD_YES)
		loop_timer_arm(a->timer, (uint64_t)ms * 1000000ull, 0);
	else
		loop_timer_disarm(a->timer);
}

/* Watch each socket for what libmicrohttpd wants from it now (not the
 * listening one while it is at its connection limit: that would spin). */
static void watch(struct api *a)
{
	fd_set rs, ws, es;
	MHD_socket max = 0;
	struct api_conn *ac;

	FD_ZERO(&rs);
	FD_ZERO(&ws);
	FD_ZERO(&es);
	if (MHD_get_fdset2(a->mhd, &rs, &ws, &es, &max, FD_SETSIZE) != MHD_YES)
		return;
	loop_io_update(a->io, FD_ISSET(a->listen_fd, &rs) ? LOOP_IN : 0);
	for (ac = a->conns; ac; ac = ac->next)
		loop_io_update(ac->io,
			       (FD_ISSET(ac->fd, &rs) ? LOOP_IN : 0) |
				   (FD_ISSET(ac->fd, &ws) ? LOOP_OUT : 0));
}

static void on_io(void *data, int fd, uint32_t events)
{
	struct api *a = data;

	(void)fd;
	(void)events;
	MHD_run(a->mhd);
	watch(a);
	rearm(a);
}

static void on_timer(void *data)
{
	struct api *a = data;

	MHD_run(a->mhd);
	watch(a);
	rearm(a);
}

/* Connections past their deadline: a request that has not been read and
 * answered in API_DEADLINE_S (a slow or stalled client), or an idle one. */
static void on_reap(void *data)
{
	struct api *a = data;
	uint64_t now = loop_now_ns();
	struct api_conn *ac;

	for (ac = a->conns; ac; ac = ac->next)
		if (!ac->closing && now - ac->since > API_DEADLINE_NS) {
			a->stats.timed_out++;
			cut(a, ac, "no whole request in 5 s");
		}
}

/* libmicrohttpd's own messages (a refused request, one cut short, a
 * connection limit reached): any client can provoke them at will, so
 * they go to the node's log through a rate limit, never to stderr. The
 * requests behind them are counted in on_done() and on_connection(). */
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct api *a = cls;
	unsigned int supp;
	char msg[200];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	msg[strcspn(msg, "\n")] = '\0';
	if (log_ratelimit_ok(&a->rl, &supp))
		log_warn("api: libmicrohttpd: %s%s", msg,
			 supp ? " (and earlier ones not logged)" : "");
}

/* Web controllers (nmos-js) call NMOS APIs from another origin: every
 * answer of an NMOS table allows it (AMWA IS-04 "APIs: Server Side
 * Implementation Notes"). */
static void add_cors(struct MHD_Response *r)
{
	MHD_add_response_header(r, "Access-Control-Allow-Origin", "*");
	MHD_add_response_header(r, "Access-Control-Allow-Methods",
				"GET, PUT, POST, PATCH, HEAD, OPTIONS, DELETE");
	MHD_add_response_header(r, "Access-Control-Allow-Headers",
				"Content-Type, Accept, Authorization");
	MHD_add_response_header(r, "Access-Control-Max-Age", "3600");
}

/* @resp: a handler's non-JSON answer, else NULL. One more header (@hname:
 * @hval) unless @hname is NULL: Allow on a 405, WWW-Authenticate on a
 * 401, Location on a 201. */
static enum MHD_Result send_answer(struct MHD_Connection *c, int status,
				   const json_t *body, struct api_resp *resp,
				   enum api_style style, const char *hname,
				   const char *hval)
{
	/* 12 digits: a level rounded to 0.01 dB prints as -4.35, not as
	 * the nearest double's -4.3499999999999996 */
	char *text = body ? json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY |
						 JSON_REAL_PRECISION(12))
			  : NULL;
	const char *type = body ? "application/json" : NULL;
	struct MHD_Response *r;
	enum MHD_Result ret;

	if (body && !text)
		return MHD_NO;
	if (!text && resp && resp->text) {
		text = resp->text;
		resp->text = NULL;
		type =
		    resp->content_type[0] ? resp->content_type : "text/plain";
	}
	if (text)
		r = MHD_create_response_from_buffer(strlen(text), text,
						    MHD_RESPMEM_MUST_FREE);
	else
		r = MHD_create_response_from_buffer(0, (void *)"",
						    MHD_RESPMEM_PERSISTENT);
	if (!r) {
		free(text);
		return MHD_NO;
	}
	if (type)
		MHD_add_response_header(r, "Content-Type", type);
	if (resp && resp->no_cache)
		MHD_add_response_header(r, "Cache-Control", "no-cache");
	if (hname && hval && hval[0])
		MHD_add_response_header(r, hname, hval);
	if (style == API_STYLE_NMOS)
		add_cors(r);
	ret = MHD_queue_response(c, (unsigned int)status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result send_json(struct MHD_Connection *c, int status,
				 json_t *body, const char *hname,
				 const char *hval)
{
	return send_answer(c, status, body, NULL, API_STYLE_D4, hname, hval);
}

/* An NMOS error: {"code": status, "error": msg, "debug": null}. */
static enum MHD_Result send_nmos_error(struct MHD_Connection *c, int status,
				       const char *msg, const char *hname,
				       const char *hval)
{
	json_t *j =
	    json_pack("{s:i,s:s?,s:n}", "code", status, "error", msg, "debug");
	enum MHD_Result ret;

	if (j && !json_object_get(j, "error")) /* not UTF-8 */
		json_object_set_new(j, "error", json_string("bad request"));
	ret = send_answer(c, status, j, NULL, API_STYLE_NMOS, hname, hval);
	json_decref(j);
	return ret;
}

static enum MHD_Result send_error_hdr(struct MHD_Connection *c, int status,
				      const char *msg, const char *hname,
				      const char *hval)
{
	json_t *j = json_string(msg);
	enum MHD_Result ret;
	char clean[600];
	size_t i;

	/* A message may quote input cut anywhere (jansson's error text
	 * holds the bytes where it stopped): a string that is no UTF-8
	 * would leave the answer without a body. Such bytes become '?'. */
	if (!j) {
		snprintf(clean, sizeof(clean), "%s", msg);
		for (i = 0; clean[i]; i++)
			if ((unsigned char)clean[i] >= 0x80)
				clean[i] = '?';
		j = json_string(clean);
	}
	j = json_pack("{s:o}", "error", j);
	ret = send_json(c, status, j, hname, hval);
	json_decref(j);
	return ret;
}

/* An error in @t's style (d4's when no table has the path), with one
 * more header unless @hname is NULL. */
static enum MHD_Result fail_hdr(const struct api_table *t,
				struct MHD_Connection *c, int status,
				const char *msg, const char *hname,
				const char *hval)
{
	if (t && t->style == API_STYLE_NMOS)
		return send_nmos_error(c, status, msg, hname, hval);
	return send_error_hdr(c, status, msg, hname, hval);
}

static enum MHD_Result fail(const struct api_table *t, struct MHD_Connection *c,
			    int status, const char *msg)
{
	return fail_hdr(t, c, status, msg, NULL, NULL);
}

/* RFC 6750 3: a request without a token gets the challenge alone, one
 * with a wrong token error="invalid_token" too. */
static enum MHD_Result send_unauthorized(const struct api_table *t,
					 struct MHD_Connection *c,
					 bool had_token, const char *msg)
{
	return fail_hdr(t, c, MHD_HTTP_UNAUTHORIZED, msg,
			MHD_HTTP_HEADER_WWW_AUTHENTICATE,
			had_token ? "Bearer realm=\"d4node\", "
				    "error=\"invalid_token\""
				  : "Bearer realm=\"d4node\"");
}

bool api_match(const struct api_req *req, const char *pattern)
{
	unsigned int i = 0;
	const char *p = pattern;

	while (*p) {
		const char *end = strchr(p, '/');
		size_t len = end ? (size_t)(end - p) : strlen(p);

		if (i >= req->nparts)
			return false;
		if (!(len == 1 && *p == '*') &&
		    (strlen(req->parts[i]) != len ||
		     strncmp(req->parts[i], p, len)))
			return false;
		i++;
		p += len + (end ? 1 : 0);
	}
	return i == req->nparts;
}

static bool has_prefix(const char *url, const char *prefix)
{
	size_t n = strlen(prefix);

	return !strncmp(url, prefix, n) && (!url[n] || url[n] == '/');
}

/* The table whose prefix @url is under, or NULL. */
static const struct api_table *find_table(const struct api *a, const char *url)
{
	unsigned int i;

	for (i = 0; i < a->ntables; i++)
		if (has_prefix(url, a->tables[i]->prefix))
			return a->tables[i];
	return NULL;
}

/* "/api/v1/flows/main" -> parts "flows", "main". libmicrohttpd has
 * percent-decoded the path already: decoding again would turn a name
 * with '%' in it into another. */
static int split_path(const char *url, const char *prefix, char *copy,
		      size_t len, struct api_req *req)
{
	char *s, *save = NULL, *tok;

	if (!has_prefix(url, prefix))
		return -ENOENT;
	if (strlen(url) >= len)
		return -E2BIG;
	snprintf(copy, len, "%s", url + strlen(prefix));
	req->nparts = 0;
	for (s = copy; (tok = strtok_r(s, "/", &save)); s = NULL) {
		if (req->nparts == API_PARTS)
			return -E2BIG;
		req->parts[req->nparts++] = tok;
	}
	return 0;
}

/* Whether the request carries the API's token, or one @t's token_ok()
 * takes. */
static bool authorized(struct api *a, const struct api_table *t,
		       struct MHD_Connection *c, bool *had_token)
{
	const char *h =
	    MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
	size_t n = strlen(a->cfg.token);
	unsigned char diff = 0;
	size_t i;

	*had_token = h != NULL;
	/* the scheme is case-insensitive, then one or more spaces (RFC
	 * 9110 11.1, RFC 6750 2.1) */
	if (!h || strncasecmp(h, "Bearer ", 7))
		return false;
	for (h += 7; *h == ' '; h++)
		;
	if (t->token_ok && t->token_ok(t->ctx, h))
		return true;
	if (strlen(h) != n || !n)
		return false;
	/* Constant time: the token's bytes do not leak through timing. */
	for (i = 0; i < n; i++)
		diff |= (unsigned char)(h[i] ^ a->cfg.token[i]);
	return diff == 0;
}

static enum MHD_Result dispatch(struct api *a, struct MHD_Connection *c,
				const char *url, const char *method,
				struct upload *up)
{
	const struct api_table *t = find_table(a, url);
	bool nmos = t && t->style == API_STYLE_NMOS;
	struct api_resp resp = {0};
	struct api_req req = {.method = method, .resp = &resp};
	char path[512], err[512] = "";
	json_t *out = NULL;
	json_error_t jerr;
	const struct api_route *r;
	bool read = !strcmp(method, "GET") || !strcmp(method, "HEAD");
	bool path_known = false, had_token, need_token;
	char allow[64] = "";
	const char *match = method;
	enum MHD_Result ret;
	int status;

	a->stats.requests++;
	up->dispatched = true;
	if (up->too_large) {
		a->stats.too_large++;
		snprintf(err, sizeof(err), "request body over %d bytes",
			 API_BODY_MAX);
		return fail(t, c, 413, err);
	}
	if (up->bad_uri) {
		a->stats.bad_requests++;
		return fail(t, c, MHD_HTTP_BAD_REQUEST,
			    "the path has %00 or a '%' not followed by two "
			    "hex digits");
	}
	if (!t || split_path(url, t->prefix, path, sizeof(path), &req) < 0) {
		a->stats.not_found++;
		snprintf(err, sizeof(err), "no such resource '%.200s'", url);
		return fail(t, c, MHD_HTTP_NOT_FOUND, err);
	}
	/* A CORS preflight carries no token: answered with the headers. */
	if (nmos && !strcmp(method, "OPTIONS"))
		return send_answer(c, 200, NULL, NULL, API_STYLE_NMOS, NULL,
				   NULL);
	if (nmos && !strcmp(method, "HEAD"))
		match = "GET"; /* libmicrohttpd sends no body for HEAD */
	/* Before the body is parsed: a client without the token learns
	 * nothing from our JSON errors. Open routes (pairing) excepted. */
	for (r = t->routes; r->method; r++)
		if (r->open && !strcmp(r->method, match) &&
		    api_match(&req, r->pattern))
			break;
	need_token =
	    read ? !t->open_reads && a->cfg.read_token : !t->open_writes;
	if (need_token && !r->method && !authorized(a, t, c, &had_token)) {
		a->stats.unauthorized++;
		return send_unauthorized(
		    t, c, had_token,
		    had_token
			? "wrong token: this needs 'Authorization: Bearer "
			  "TOKEN' with this node's token (d4ctl login NODE "
			  "pairs again; the token is in the node's state "
			  "directory)"
			: "this needs 'Authorization: Bearer TOKEN' (d4ctl "
			  "login NODE; the token is in the node's state "
			  "directory)");
	}
	if (up->len) {
		req.body = json_loadb(up->buf, up->len,
				      nmos ? JSON_DECODE_ANY : 0, &jerr);
		if (!req.body || (!nmos && !json_is_object(req.body))) {
			a->stats.bad_requests++;
			if (req.body)
				snprintf(err, sizeof(err),
					 "the body is not a JSON object");
			else
				snprintf(err, sizeof(err),
					 "the body is not %s: line %d column "
					 "%d: %s",
					 nmos ? "JSON" : "a JSON object",
					 jerr.line, jerr.column, jerr.text);
			json_decref(req.body);
			return fail(t, c, MHD_HTTP_BAD_REQUEST, err);
		}
	}
	for (r = t->routes; r->method; r++) {
		if (!api_match(&req, r->pattern))
			continue;
		if (strlen(allow) + strlen(r->method) + 3 < sizeof(allow))
			snprintf(allow + strlen(allow),
				 sizeof(allow) - strlen(allow), "%s%s",
				 path_known ? ", " : "", r->method);
		path_known = true;
		if (!strcmp(r->method, match))
			break;
	}
	if (!r->method) {
		json_decref(req.body);
		if (path_known)
			return fail_hdr(t, c, MHD_HTTP_METHOD_NOT_ALLOWED,
					"method not allowed here",
					MHD_HTTP_HEADER_ALLOW, allow);
		a->stats.not_found++;
		snprintf(err, sizeof(err), "no such resource '%.200s'", url);
		return fail(t, c, MHD_HTTP_NOT_FOUND, err);
	}
	status = r->fn(t->ctx, &req, &out, err, sizeof(err));
	json_decref(req.body);
	if (status >= 400) {
		unsigned int supp;

		json_decref(out);
		free(resp.text);
		if (status == 400)
			a->stats.bad_requests++;
		/* the node's own failure (a library it cannot load, a disk
		 * that refuses the state): its operator must see it, not only
		 * the client (a new user's report); rate-limited */
		if (status >= 500 && log_ratelimit_ok(&a->rl5, &supp))
			log_err("api: %s %.200s: %d %s%s", r->method, url,
				status, err[0] ? err : "failed",
				supp ? " (and earlier ones not logged)" : "");
		return fail(t, c, status, err[0] ? err : "failed");
	}
	ret = send_answer(c, status, out, &resp, t->style,
			  status == 201 ? MHD_HTTP_HEADER_LOCATION : NULL,
			  resp.location);
	json_decref(out);
	free(resp.text);
	return ret;
}

/* Headers that say how long the body is. */
static enum MHD_Result count_framing(void *cls, enum MHD_ValueKind kind,
				     const char *key, const char *value)
{
	int *n = cls;

	(void)kind;
	(void)value;
	if (!strcasecmp(key, "Content-Length") ||
	    !strcasecmp(key, "Transfer-Encoding"))
		(*n)++;
	return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c,
				  const char *url, const char *method,
				  const char *version, const char *data,
				  size_t *data_size, void **con_cls)
{
	struct api *a = cls;
	struct upload *up = *con_cls;

	(void)version;
	if (!up) {
		up = calloc(1, sizeof(*up)); /* on_uri() could not */
		if (!up)
			return MHD_NO;
		*con_cls = up;
	}
	if (!up->started) {
		int framing = 0;

		up->started = true;
		/* libmicrohttpd takes the first of two Content-Lengths and
		 * would wait for a body that never comes: a head that frames
		 * its body twice (RFC 9112 6.3) is answered now */
		MHD_get_connection_values(c, MHD_HEADER_KIND, count_framing,
					  &framing);
		if (framing > 1) {
			up->dispatched = true;
			a->stats.requests++;
			a->stats.bad_requests++;
			return fail(find_table(a, url), c, MHD_HTTP_BAD_REQUEST,
				    "more than one Content-Length, or one "
				    "with Transfer-Encoding");
		}
		return MHD_YES;
	}
	if (*data_size) {
		if (!up->too_large) {
			if (up->len + *data_size > API_BODY_MAX) {
				up->too_large = true;
				free(up->buf);
				up->buf = NULL;
				up->len = 0;
			} else {
				char *nb =
				    realloc(up->buf, up->len + *data_size + 1);

				if (!nb)
					return MHD_NO;
				memcpy(nb + up->len, data, *data_size);
				up->buf = nb;
				up->len += *data_size;
			}
		}
		*data_size = 0; /* taken */
		return MHD_YES;
	}
	return dispatch(a, c, url, method, up);
}

/* A request line parsed: from here on_done() sees the request end, also
 * when libmicrohttpd refuses it before the handler does (a head over its
 * memory limit, a Content-Length or chunk size it cannot take). */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	struct api_conn *ac = ci ? ci->socket_context : NULL;

	struct upload *up;
	const char *p;

	(void)cls;
	if (ac)
		ac->requests++;
	up = calloc(1, sizeof(*up));
	/* libmicrohttpd decodes %00 to a NUL that ends the path early
	 * ("/flows/%00" would be "/flows/"), and keeps a broken escape as
	 * it is: both are refused, not guessed at */
	for (p = uri; up && *p && *p != '?'; p++)
		if (*p == '%' && (!isxdigit((unsigned char)p[1]) ||
				  !isxdigit((unsigned char)p[2]) ||
				  (p[1] == '0' && p[2] == '0')))
			up->bad_uri = true;
	return up;
}

static void on_done(void *cls, struct MHD_Connection *c, void **con_cls,
		    enum MHD_RequestTerminationCode toe)
{
	struct api *a = cls;
	struct upload *up = *con_cls;
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	struct api_conn *ac = ci ? ci->socket_context : NULL;

	if (ac)
		ac->since = loop_now_ns(); /* the next request's deadline */
	/* never answered by a handler: refused by libmicrohttpd, or cut
	 * short by the client (closed, stalled past the timeout) */
	if (up && !up->dispatched &&
	    toe != MHD_REQUEST_TERMINATED_DAEMON_SHUTDOWN)
		a->stats.http_errors++;
	if (up) {
		free(up->buf);
		free(up);
		*con_cls = NULL;
	}
}

/* Whether a connection that closes without a request line had one under
 * way: libmicrohttpd refused it (a URI over its limit, a malformed line:
 * it queued an error) or the client sent part of one and went. */
static bool partial_line(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(c, MHD_CONNECTION_INFO_HTTP_STATUS);
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	if (ci && ci->http_status)
		return true;
	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	/* bytes_received counts the client's FIN as one: more than one is
	 * input (one byte left hanging, with no FIN, is missed) */
	return ci &&
	       getsockopt(ci->connect_fd, IPPROTO_TCP, TCP_INFO, &ti, &len) ==
		   0 &&
	       ti.tcpi_bytes_received > 1;
}

/* Room for a newcomer: the connection (not @keep) that has waited longest
 * for its request goes. */
static void evict_oldest(struct api *a, const struct api_conn *keep)
{
	struct api_conn *ac, *old = NULL;

	for (ac = a->conns; ac; ac = ac->next)
		if (ac != keep && !ac->closing &&
		    (!old || ac->since < old->since))
			old = ac;
	if (old) {
		a->stats.evicted++;
		cut(a, old,
		    "the most connections are open; it waited "
		    "longest");
	}
}

static void on_connection(void *cls, struct MHD_Connection *c,
			  void **socket_context,
			  enum MHD_ConnectionNotificationCode code)
{
	struct api *a = cls;
	struct api_conn *ac = *socket_context;

	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *ci = MHD_get_connection_info(
		    c, MHD_CONNECTION_INFO_CONNECTION_FD);

		ac = calloc(1, sizeof(*ac));
		if (ac && ci) {
			ac->fd = ci->connect_fd;
			ac->io =
			    loop_io_add(a->loop, ac->fd, LOOP_IN, on_io, a);
		}
		if (ac && !ac->io) {
			/* unwatched, it would stall: refuse it */
			free(ac);
			ac = NULL;
			if (ci)
				shutdown(ci->connect_fd, SHUT_RDWR);
		}
		*socket_context = ac;
		if (!ac)
			return;
		ac->since = loop_now_ns();
		ac->next = a->conns;
		if (a->conns)
			a->conns->prev = ac;
		a->conns = ac;
		if (++a->nconns > API_CONN_MAX - API_CONN_ROOM)
			evict_oldest(a, ac);
		return;
	}
	if (!ac)
		return;
	/* before libmicrohttpd closes it: the number may be reused */
	loop_io_remove(ac->io);
	if (ac->prev)
		ac->prev->next = ac->next;
	else
		a->conns = ac->next;
	if (ac->next)
		ac->next->prev = ac->prev;
	a->nconns--;
	if (!ac->requests && partial_line(c))
		a->stats.http_errors++;
	free(ac);
	*socket_context = NULL;
}

struct api *api_new(struct loop *loop, const struct api_config *cfg,
		    const struct api_route *routes, void *ctx)
{
	struct api *a = calloc(1, sizeof(*a));
	const union MHD_DaemonInfo *info;
	struct sockaddr_in sa;

	if (!a)
		return NULL;
	a->loop = loop;
	a->cfg = *cfg;
	a->d4 = (struct api_table){.prefix = API_PREFIX,
				   .routes = routes,
				   .ctx = ctx,
				   .style = API_STYLE_D4};
	a->tables[a->ntables++] = &a->d4;
	a->rl = (struct log_ratelimit)LOG_RATELIMIT_INIT(10000000000ull, 5);
	a->rl5 = (struct log_ratelimit)LOG_RATELIMIT_INIT(10000000000ull, 5);
	sa = cfg->addr;
	/* the logger first: options before it would log to stderr */
	a->mhd = MHD_start_daemon(
	    MHD_USE_ERROR_LOG, ntohs(sa.sin_port), NULL, NULL, on_request, a,
	    MHD_OPTION_EXTERNAL_LOGGER, mhd_log, a, MHD_OPTION_SOCK_ADDR,
	    (struct sockaddr *)&sa, MHD_OPTION_URI_LOG_CALLBACK, on_uri, a,
	    MHD_OPTION_NOTIFY_CONNECTION, on_connection, a,
	    MHD_OPTION_NOTIFY_COMPLETED, on_done, a,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned int)API_CONN_MAX,
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned int)API_PER_CLIENT,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)API_DEADLINE_S,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(32 * 1024),
	    MHD_OPTION_END);
	if (!a->mhd) {
		log_err("api: cannot listen on %s:%u (%m)",
			inet_ntoa(sa.sin_addr), ntohs(sa.sin_port));
		free(a);
		return NULL;
	}
	info = MHD_get_daemon_info(a->mhd, MHD_DAEMON_INFO_BIND_PORT);
	a->port = info ? info->port : ntohs(sa.sin_port);
	info = MHD_get_daemon_info(a->mhd, MHD_DAEMON_INFO_LISTEN_FD);
	a->listen_fd = info ? info->listen_fd : -1;
	a->io =
	    info ? loop_io_add(loop, a->listen_fd, LOOP_IN, on_io, a) : NULL;
	a->timer = loop_timer_new(loop, on_timer, a);
	a->reaper = loop_timer_new(loop, on_reap, a);
	if (!a->io || !a->timer || !a->reaper) {
		api_destroy(a);
		return NULL;
	}
	loop_timer_arm(a->reaper, API_REAP_NS, API_REAP_NS);
	rearm(a);
	return a;
}

void api_destroy(struct api *a)
{
	if (!a)
		return;
	loop_io_remove(a->io);
	loop_timer_free(a->timer);
	loop_timer_free(a->reaper);
	/* closes the connections: on_connection() unwatches them */
	if (a->mhd)
		MHD_stop_daemon(a->mhd);
	free(a);
}

void api_set_token(struct api *a, const char *token)
{
	snprintf(a->cfg.token, sizeof(a->cfg.token), "%s", token);
}

void api_set_location(const struct api_req *req, const char *collection,
		      const char *name)
{
	static const char hex[] = "0123456789ABCDEF";
	char *p = req->resp->location, *end = p + sizeof(req->resp->location);
	const unsigned char *s;

	p += snprintf(p, (size_t)(end - p), "%s/%s/", API_PREFIX, collection);
	/* RFC 3986 unreserved characters stay, every other byte is %XX */
	for (s = (const unsigned char *)name; *s && end - p > 3; s++) {
		if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || strchr("-._~", *s)) {
			*p++ = (char)*s;
		} else {
			*p++ = '%';
			*p++ = hex[*s >> 4];
			*p++ = hex[*s & 15];
		}
	}
	*p = '\0';
}

uint16_t api_port(const struct api *a)
{
	return a->port;
}

const char *api_token(const struct api *a)
{
	return a->cfg.token;
}

int api_add_table(struct api *a, const struct api_table *t)
{
	unsigned int i;

	for (i = 0; i < a->ntables; i++)
		if (!strcmp(a->tables[i]->prefix, t->prefix))
			return -EEXIST;
	if (a->ntables == API_MAX_TABLES)
		return -ENOSPC;
	a->tables[a->ntables++] = t;
	return 0;
}

void api_remove_table(struct api *a, const struct api_table *t)
{
	unsigned int i;

	for (i = 0; i < a->ntables; i++)
		if (a->tables[i] == t) {
			a->tables[i] = a->tables[--a->ntables];
			return;
		}
}

void api_get_stats(const struct api *a, struct api_stats *out)
{
	*out = a->stats;
}
