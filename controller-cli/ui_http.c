/* d4ctl ui's HTTP server (ui_http.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "controller-cli/args.h"
#include "controller-cli/preset.h"
#include "controller-cli/routing.h"
#include "controller-cli/ui_assets.h"
#include "controller-cli/ui_http.h"

#define UI_MAX_BODY	      (1 << 20)
#define UI_KEEPALIVE_MS	      15000
#define UI_SSE_BLOCK	      (64 * 1024)
#define UI_CONNECTIONS	      128
#define UI_CONNECTIONS_PER_IP 16
/* A connection must bring its whole request (head and body) within
 * UI_HEAD_S of opening (or of its last answer: an idle keep-alive one),
 * whatever it trickles;
 * past UI_CONNECTIONS - UI_CONN_ROOM open, each newcomer closes the one
 * that has waited longest for its head. An event stream, its request
 * read, is never cut. (A reviewer's 128 trickling connections from two
 * addresses locked every browser out.) */
#define UI_HEAD_S    5
#define UI_CONN_ROOM 32

struct ui_conn {
	int fd;
	double since; /* opened, or its last answer */
	bool in_request, cut;
	struct ui_conn *prev, *next;
};

/* The page may load only what d4ctl serves, and talk only to it; its
 * script and style come inline with the page (one request, no round
 * trip before the first draw), allowed by a nonce made per answer. */
#define UI_CSP                                                                 \
	"default-src 'none'; script-src 'self' 'nonce-%s'; "                   \
	"style-src 'self' 'nonce-%s'; img-src 'self' data: blob:; "            \
	"connect-src 'self'; form-action 'none'; frame-ancestors 'none'; "     \
	"base-uri 'none'"

struct ui_http {
	struct MHD_Daemon *mhd;
	struct ui_model *model;
	struct d4ctl ctl;
	char listen[64];
	struct in_addr addr;
	unsigned int port;
	char session[80];
	unsigned int latency_us;    /* of routes made from the page */
	pthread_mutex_t write_lock; /* one write at a time */
	/* the connections, for their deadlines (UI_HEAD_S) */
	pthread_mutex_t conn_lock;
	struct ui_conn *conns;
	unsigned int nconns;
	pthread_t reaper;
	bool reaper_on, stop;
	pthread_cond_t stop_cond;
	/* libmicrohttpd's lines: any client can provoke them */
	double log_window;
	unsigned int log_lines, log_held;
};

struct req {
	char *body;
	size_t len;
	bool too_large;
};

struct sse {
	struct ui_stream *stream;
	char *pend;
	size_t len, off;
};

static void ui_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void ui_log(const char *fmt, ...)
{
	va_list ap;

	fputs("d4ctl ui: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void client_addr(struct MHD_Connection *c, char *buf, size_t len)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr_in *sa =
	    ci ? (const struct sockaddr_in *)ci->client_addr : NULL;

	if (!sa || sa->sin_family != AF_INET ||
	    !inet_ntop(AF_INET, &sa->sin_addr, buf, (socklen_t)len))
		snprintf(buf, len, "?");
}

/* @nonce: the page's, or NULL. */
static void security_headers(struct MHD_Response *r, const char *nonce)
{
	char csp[512];

	snprintf(csp, sizeof(csp), UI_CSP, nonce ? nonce : "none",
		 nonce ? nonce : "none");
	MHD_add_response_header(r, "Content-Security-Policy", csp);
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(r, "X-Frame-Options", "DENY");
	MHD_add_response_header(r, "Cache-Control", "no-store");
}

static enum MHD_Result send_page_buf(struct MHD_Connection *c,
				     unsigned int status, const char *type,
				     char *buf, size_t len,
				     enum MHD_ResponseMemoryMode mode,
				     const char *nonce)
{
	struct MHD_Response *r =
	    MHD_create_response_from_buffer(len, buf, mode);
	enum MHD_Result ret;

	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", type);
	security_headers(r, nonce);
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result send_buf(struct MHD_Connection *c, unsigned int status,
				const char *type, char *buf, size_t len,
				enum MHD_ResponseMemoryMode mode)
{
	return send_page_buf(c, status, type, buf, len, mode, NULL);
}

static enum MHD_Result send_json(struct MHD_Connection *c, unsigned int status,
				 json_t *v)
{
	char *text = json_dumps(v, JSON_COMPACT | JSON_REAL_PRECISION(9));

	json_decref(v);
	if (!text)
		return MHD_NO;
	return send_buf(c, status, "application/json", text, strlen(text),
			MHD_RESPMEM_MUST_FREE);
}

static enum MHD_Result send_error(struct MHD_Connection *c, unsigned int status,
				  const char *msg)
{
	return send_json(c, status,
			 json_pack("{s:b, s:s}", "ok", 0, "error", msg));
}

/* ---- who may ask ---- */

/* The Host header names this server: its ADDR:PORT, or for a server on
 * the loopback or on every address, localhost or any IPv4 address with
 * its port. Anything else is a name some page made resolve here (DNS
 * rebinding). */
static bool host_ok(const struct ui_http *h, const char *host)
{
	char want[80], addr[64];
	const char *colon;
	struct in_addr a;

	if (!host)
		return false;
	snprintf(want, sizeof(want), "%s", h->listen);
	if (!strcasecmp(host, want))
		return true;
	colon = strrchr(host, ':');
	if (!colon || (unsigned int)atoi(colon + 1) != h->port ||
	    (size_t)(colon - host) >= sizeof(addr))
		return false;
	snprintf(addr, sizeof(addr), "%.*s", (int)(colon - host), host);
	if (h->addr.s_addr == htonl(INADDR_ANY))
		return !strcasecmp(addr, "localhost") ||
		       inet_pton(AF_INET, addr, &a) == 1;
	if ((ntohl(h->addr.s_addr) >> 24) == 127)
		return !strcasecmp(addr, "localhost") ||
		       (inet_pton(AF_INET, addr, &a) == 1 &&
			(ntohl(a.s_addr) >> 24) == 127);
	return false;
}

static bool same_secret(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	unsigned char d = la != lb;

	for (size_t i = 0; i < la && i < lb; i++)
		d |= (unsigned char)(a[i] ^ b[i]);
	return d == 0;
}

/* A write must come from the page: same origin, the session secret, and
 * JSON (which a plain form cannot send). NULL if so, else why not. */
static const char *write_refused(const struct ui_http *h,
				 struct MHD_Connection *c)
{
	const char *host =
	    MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host");
	const char *origin =
	    MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin");
	const char *site =
	    MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Sec-Fetch-Site");
	const char *session =
	    MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-D4-Session");
	const char *type =
	    MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
	char want[128];

	snprintf(want, sizeof(want), "http://%s", host ? host : "");
	if (!origin || strcasecmp(origin, want))
		return "the request's Origin is not this page's";
	if (site && strcmp(site, "same-origin"))
		return "Sec-Fetch-Site is not same-origin";
	if (!session || !same_secret(session, h->session))
		return "no valid session (reload the page: d4ctl ui was "
		       "restarted?)";
	if (!type || strncasecmp(type, "application/json", 16))
		return "the body is not application/json";
	return NULL;
}

/* ---- pages ---- */

static const struct ui_asset *asset(const char *path)
{
	for (const struct ui_asset *a = ui_assets; a->path; a++)
		if (!strcmp(a->path, path))
			return a;
	return NULL;
}

/* JSON text for inside a script element: every '<' as \u003c, so that
 * nothing in it can close the element. A new string, or NULL. */
static char *script_safe(const char *json)
{
	size_t n = 1;
	char *out, *o;

	for (const char *p = json; *p; p++)
		n += *p == '<' ? 6 : 1;
	out = o = malloc(n);
	if (!out)
		return NULL;
	for (const char *p = json; *p; p++)
		o = *p == '<' ? stpcpy(o, "\\u003c") : (*o = *p, o + 1);
	*o = '\0';
	return out;
}

/* @text with every {{KEY}} of @keys[i] replaced by @values[i], in one
 * pass (a value is never searched again). A new string, or NULL. */
static char *fill(const char *text, const char *const *keys,
		  const char *const *values, size_t n)
{
	size_t len = strlen(text) + 1;
	char *out, *o;
	const char *p;

	for (size_t k = 0; k < n; k++)
		len += strlen(values[k]);
	out = o = malloc(len);
	if (!out)
		return NULL;
	for (p = text; *p;) {
		size_t k = n;

		if (p[0] == '{' && p[1] == '{')
			for (k = 0; k < n; k++)
				if (!strncmp(p + 2, keys[k], strlen(keys[k])) &&
				    !strncmp(p + 2 + strlen(keys[k]), "}}", 2))
					break;
		if (k == n) {
			*o++ = *p++;
			continue;
		}
		/* every key is in the template once: @len holds it */
		o = stpcpy(o, values[k]);
		p += strlen(keys[k]) + 4;
	}
	*o = '\0';
	return out;
}

/* The page, with its script and style, its session secret and the
 * network now: it draws the matrix before its load event, with no other
 * request first. */
static enum MHD_Result send_page(struct ui_http *h, struct MHD_Connection *c)
{
	static const char *const keys[] = {"SESSION", "NONCE", "CSS", "JS",
					   "STATE"};
	const struct ui_asset *a = asset("/index.html");
	const struct ui_asset *css = asset("/ui.css"), *js = asset("/ui.js");
	const char *values[5];
	unsigned char r[16];
	char nonce[40], *json, *state, *page;

	if (!a || !css || !js)
		return send_error(c, 500, "no page built in");
	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
		return send_error(c, 500, "no random numbers");
	for (size_t i = 0; i < sizeof(r); i++)
		snprintf(nonce + 2 * i, 3, "%02x", r[i]);
	json = ui_model_state_text(h->model, JSON_COMPACT | JSON_ESCAPE_SLASH);
	state = json ? script_safe(json) : NULL;
	free(json);
	if (!state)
		return send_error(c, 500, "out of memory");
	values[0] = h->session;
	values[1] = nonce;
	values[2] = (const char *)css->data;
	values[3] = (const char *)js->data;
	values[4] = state;
	page = fill((const char *)a->data, keys, values, 5);
	free(state);
	if (!page)
		return send_error(c, 500, "out of memory");
	return send_page_buf(c, 200, a->type, page, strlen(page),
			     MHD_RESPMEM_MUST_FREE, nonce);
}

static ssize_t sse_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct sse *s = cls;
	size_t n;

	if (s->off == s->len) {
		char *next = ui_stream_next(s->stream, UI_KEEPALIVE_MS);

		free(s->pend);
		s->pend = NULL;
		s->off = s->len = 0;
		if (!next)
			return MHD_CONTENT_READER_END_OF_STREAM;
		if (!next[0]) {
			free(next);
			next = strdup(": keep-alive\n\n");
			if (!next)
				return MHD_CONTENT_READER_END_WITH_ERROR;
		}
		s->pend = next;
		s->len = strlen(next);
	}
	n = s->len - s->off < max ? s->len - s->off : max;
	memcpy(buf, s->pend + s->off, n);
	s->off += n;
	return (ssize_t)n;
}

static void sse_free(void *cls)
{
	struct sse *s = cls;

	ui_stream_free(s->stream);
	free(s->pend);
	free(s);
}

static enum MHD_Result send_events(struct ui_http *h, struct MHD_Connection *c)
{
	const char *m =
	    MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "meters");
	struct MHD_Response *r;
	struct sse *s = calloc(1, sizeof(*s));
	enum MHD_Result ret;

	if (!s)
		return MHD_NO;
	s->stream = ui_stream_new(h->model, m && !strcmp(m, "1"));
	if (!s->stream) {
		free(s);
		return MHD_NO;
	}
	r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, UI_SSE_BLOCK,
					      sse_read, s, sse_free);
	if (!r) {
		sse_free(s);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type", "text/event-stream");
	security_headers(r, NULL);
	ret = MHD_queue_response(c, 200, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result send_preset(struct ui_http *h, struct MHD_Connection *c)
{
	struct d4ctl_node *nodes = NULL;
	json_t *net = NULL, *routes = NULL, *p;
	struct d4ctl ctl = h->ctl;
	char *text;
	int n, rc;

	ctl.errs = fopen("/dev/null", "w");
	n = ui_model_nodes(h->model, &nodes);
	rc = n < 0 ? n : routing_fetch(&ctl, nodes, n, &net, &routes);
	if (ctl.errs)
		fclose(ctl.errs);
	free(nodes);
	if (rc < 0)
		return send_error(c, 502, "could not read the network");
	p = preset_from_routes(net, routes, NULL);
	json_decref(net);
	json_decref(routes);
	text = json_dumps(p, JSON_INDENT(1));
	json_decref(p);
	if (!text)
		return MHD_NO;
	{
		struct MHD_Response *r = MHD_create_response_from_buffer(
		    strlen(text), text, MHD_RESPMEM_MUST_FREE);
		enum MHD_Result ret;

		MHD_add_response_header(r, "Content-Type", "application/json");
		MHD_add_response_header(
		    r, "Content-Disposition",
		    "attachment; filename=\"d4-preset.json\"");
		security_headers(r, NULL);
		ret = MHD_queue_response(c, 200, r);
		MHD_destroy_response(r);
		return ret;
	}
}

static enum MHD_Result handle_get(struct ui_http *h, struct MHD_Connection *c,
				  const char *url)
{
	const struct ui_asset *a;

	if (!strcmp(url, "/") || !strcmp(url, "/index.html"))
		return send_page(h, c);
	if (!strcmp(url, "/events"))
		return send_events(h, c);
	if (!strcmp(url, "/api/state")) {
		char *s = ui_model_state_text(h->model, JSON_COMPACT);

		return s ? send_buf(c, 200, "application/json", s, strlen(s),
				    MHD_RESPMEM_MUST_FREE)
			 : MHD_NO;
	}
	if (!strcmp(url, "/api/preset"))
		return send_preset(h, c);
	a = asset(url);
	if (!a)
		return send_error(c, 404, "no such page");
	return send_buf(c, 200, a->type, (char *)a->data, a->len,
			MHD_RESPMEM_PERSISTENT);
}

/* ---- writes ---- */

static const char *jstr(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "";
}

/* "1,3@ADDR" of a body's @key list and node @node; -EINVAL if bad. */
static int spec(const json_t *b, const char *key, const char *node, char *buf,
		size_t len)
{
	uint8_t ch[ARGS_MAX_CHANNELS];
	json_t *a = json_object_get(b, key), *v;
	char chans[96];
	unsigned int n = 0;
	size_t i;

	if (!json_is_array(a) || !json_array_size(a) || !node[0] ||
	    strchr(node, '"'))
		return -EINVAL;
	json_array_foreach(a, i, v)
	{
		if (n == ARGS_MAX_CHANNELS || !json_is_integer(v) ||
		    json_integer_value(v) < 1 ||
		    json_integer_value(v) > ARGS_MAX_CHANNELS)
			return -EINVAL;
		ch[n++] = (uint8_t)json_integer_value(v);
	}
	args_format_channels(ch, n, chans, sizeof(chans));
	snprintf(buf, len, "%s@%s", chans, node);
	return 0;
}

static struct d4ctl_node *by_addr(struct d4ctl_node *nodes, int n,
				  const char *addr)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(nodes[i].addr, addr))
			return &nodes[i];
	return NULL;
}

/* One write: 0, -EINVAL (a bad request: @what says why) or the error of
 * the action (its messages went to ctl->errs). *extra may get more of
 * the answer. */
static int act(struct ui_http *h, struct d4ctl *ctl, struct d4ctl_node *nodes,
	       int n, const char *url, const json_t *b, char *what,
	       size_t what_len, json_t **extra)
{
	char tx[256], rx[256], stream[200], path[64];
	struct d4ctl_node *node;
	json_t *body;
	int rc;

	if (!strcmp(url, "/api/route")) {
		struct plan_opts opts = {0};
		json_int_t lat =
		    json_integer_value(json_object_get(b, "latency_us"));

		if (jstr(b, "stream")[0]) {
			snprintf(stream, sizeof(stream), "\"%s\"",
				 jstr(b, "stream"));
			rc = spec(b, "stream_channels", stream, tx, sizeof(tx));
		} else {
			rc = spec(b, "tx_channels", jstr(b, "tx_node"), tx,
				  sizeof(tx));
		}
		if (rc < 0 || spec(b, "rx_channels", jstr(b, "rx_node"), rx,
				   sizeof(rx)) < 0) {
			snprintf(what, what_len,
				 "route: needs tx_node and tx_channels (or "
				 "stream and stream_channels), rx_node and "
				 "rx_channels");
			return -EINVAL;
		}
		if (lat < 0 || (lat && (lat < 250 || lat > 100000))) {
			snprintf(what, what_len,
				 "route: latency_us must be 250-100000");
			return -EINVAL;
		}
		opts.latency_us = lat ? (unsigned int)lat : h->latency_us;
		snprintf(what, what_len, "route %s -> %s", tx, rx);
		/* As in Dante Controller: a click on a taken RX channel
		 * takes it from where it came from. */
		if (json_is_true(json_object_get(b, "replace"))) {
			rc = routing_unroute(ctl, nodes, n, rx);
			if (rc < 0)
				return rc;
		}
		return routing_route(ctl, nodes, n, tx, rx, &opts);
	}
	if (!strcmp(url, "/api/unroute")) {
		if (spec(b, "rx_channels", jstr(b, "rx_node"), rx, sizeof(rx)) <
		    0) {
			snprintf(what, what_len,
				 "unroute: needs rx_node and rx_channels");
			return -EINVAL;
		}
		snprintf(what, what_len, "unroute %s", rx);
		return routing_unroute(ctl, nodes, n, rx);
	}
	if (!strcmp(url, "/api/rename")) {
		const char *dir = jstr(b, "dir");
		json_int_t ch =
		    json_integer_value(json_object_get(b, "channel"));

		node = by_addr(nodes, n, jstr(b, "node"));
		if (!node || !jstr(b, "name")[0] ||
		    (dir[0] && strcmp(dir, "tx") && strcmp(dir, "rx")) ||
		    (dir[0] && (ch < 1 || ch > 64))) {
			snprintf(what, what_len,
				 "rename: needs a node of the network and a "
				 "name (and dir tx|rx with a channel)");
			return -EINVAL;
		}
		if (dir[0])
			snprintf(path, sizeof(path), "/channels/%s/%d", dir,
				 (int)ch);
		else
			snprintf(path, sizeof(path), "/node");
		snprintf(what, what_len, "rename %s%s%s to '%s'", node->name,
			 dir[0] ? " " : "", dir[0] ? path + 10 : "",
			 jstr(b, "name"));
		body = json_pack("{s:s}", "name", jstr(b, "name"));
		rc = d4ctl_http(ctl, node, "PUT", path, body, NULL);
		json_decref(body);
		return rc;
	}
	if (!strcmp(url, "/api/latency")) {
		json_int_t lat =
		    json_integer_value(json_object_get(b, "latency_us"));

		if (!jstr(b, "node")[0] || !jstr(b, "subscription")[0] ||
		    lat < 250 || lat > 100000) {
			snprintf(what, what_len,
				 "latency: needs node, subscription and "
				 "latency_us 250-100000");
			return -EINVAL;
		}
		snprintf(what, what_len, "latency of %s/%s: %.3g ms",
			 jstr(b, "node"), jstr(b, "subscription"), lat / 1e3);
		return routing_latency(ctl, nodes, n, jstr(b, "node"),
				       jstr(b, "subscription"),
				       (unsigned int)lat);
	}
	if (!strcmp(url, "/api/preset/diff") ||
	    !strcmp(url, "/api/preset/apply")) {
		bool apply = !strcmp(url, "/api/preset/apply");
		json_t *net = NULL, *routes = NULL, *diff = NULL;
		char err[256];

		if (preset_check(b, err, sizeof(err)) < 0) {
			snprintf(what, what_len, "preset: %s", err);
			return -EINVAL;
		}
		snprintf(what, what_len, "%s a preset",
			 apply ? "apply" : "diff");
		if (apply) {
			rc = routing_preset_apply(ctl, nodes, n, b, &diff);
		} else {
			rc = routing_fetch(ctl, nodes, n, &net, &routes);
			if (rc == 0)
				diff = preset_diff(b, net, routes);
			json_decref(net);
			json_decref(routes);
		}
		if (diff) {
			char *text = NULL;
			size_t len = 0;
			FILE *f = open_memstream(&text, &len);

			if (f) {
				routing_print_diff(f, diff);
				fclose(f);
			}
			*extra = json_pack("{s:o, s:s}", "diff", diff, "text",
					   text ? text : "");
			free(text);
		}
		return rc;
	}
	snprintf(what, what_len, "no such action '%s'", url);
	return -ENOENT;
}

static enum MHD_Result handle_post(struct ui_http *h, struct MHD_Connection *c,
				   const char *url, struct req *rq,
				   const char *from)
{
	char *out = NULL, *errs = NULL, what[600] = "";
	size_t out_len = 0, errs_len = 0;
	struct d4ctl_node *nodes = NULL;
	const char *why = write_refused(h, c);
	struct d4ctl ctl = h->ctl;
	json_t *b, *extra = NULL, *reply;
	json_error_t jerr;
	int n, rc;

	if (why) {
		ui_log("refused POST %s from %s: %s", url, from, why);
		return send_error(c, 403, why);
	}
	if (rq->too_large)
		return send_error(c, 413, "the body is over 1 MiB");
	b = json_loadb(rq->body ? rq->body : "", rq->len, 0, &jerr);
	if (!json_is_object(b)) {
		json_decref(b);
		return send_error(c, 400, "the body is not a JSON object");
	}
	pthread_mutex_lock(&h->write_lock);
	ctl.out = open_memstream(&out, &out_len);
	ctl.errs = open_memstream(&errs, &errs_len);
	n = ui_model_nodes(h->model, &nodes);
	rc = !ctl.out || !ctl.errs || n < 0
		 ? -ENOMEM
		 : act(h, &ctl, nodes, n, url, b, what, sizeof(what), &extra);
	if (ctl.out)
		fclose(ctl.out);
	if (ctl.errs)
		fclose(ctl.errs);
	free(nodes);
	json_decref(b);
	if (strncmp(url, "/api/preset/diff", 16))
		ui_model_refresh(h->model);
	pthread_mutex_unlock(&h->write_lock);

	ui_log("POST %s from %s: %s: %s%s%s", url, from, what,
	       rc == 0 ? "ok" : "failed", rc && errs && errs[0] ? ": " : "",
	       rc && errs ? errs : "");
	if (rc != -EINVAL && rc != -ENOENT &&
	    strncmp(url, "/api/preset/diff", 16)) {
		char text[700];

		snprintf(text, sizeof(text), "%s: %s", what,
			 rc == 0 ? "done" : "failed");
		ui_model_log(h->model, "action", "", text);
	}
	reply = json_pack("{s:b, s:s, s:s, s:s}", "ok", rc == 0, "what", what,
			  "out", out ? out : "", "error",
			  rc == -EINVAL ? what : (errs ? errs : ""));
	if (extra)
		json_object_update(reply, extra);
	json_decref(extra);
	free(out);
	free(errs);
	return send_json(c,
			 rc == 0	 ? 200
			 : rc == -EINVAL ? 400
			 : rc == -ENOENT ? 404
					 : 502,
			 reply);
}

/* The connection's request is read whole (@in_request), or its answer
 * went and the next request is awaited from now. */
static void conn_mark(struct ui_http *h, struct MHD_Connection *c,
		      bool in_request)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	struct ui_conn *uc = ci ? ci->socket_context : NULL;

	if (!uc)
		return;
	pthread_mutex_lock(&h->conn_lock);
	uc->in_request = in_request;
	uc->since = ui_mono_s();
	pthread_mutex_unlock(&h->conn_lock);
}

/* Under conn_lock: close @uc's socket under libmicrohttpd (its thread
 * sees the end and closes it; the number is not reused before its
 * NOTIFY_CLOSED, which takes conn_lock). */
static void conn_cut(struct ui_http *h, struct ui_conn *uc)
{
	(void)h;
	uc->cut = true;
	shutdown(uc->fd, SHUT_RDWR);
}

static void on_connection(void *cls, struct MHD_Connection *c,
			  void **socket_context,
			  enum MHD_ConnectionNotificationCode code)
{
	struct ui_http *h = cls;
	struct ui_conn *uc = *socket_context, *old = NULL;

	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *ci = MHD_get_connection_info(
		    c, MHD_CONNECTION_INFO_CONNECTION_FD);

		uc = calloc(1, sizeof(*uc));
		*socket_context = uc;
		if (!uc || !ci) {
			if (ci)
				shutdown(ci->connect_fd, SHUT_RDWR);
			return;
		}
		uc->fd = ci->connect_fd;
		uc->since = ui_mono_s();
		pthread_mutex_lock(&h->conn_lock);
		uc->next = h->conns;
		if (h->conns)
			h->conns->prev = uc;
		h->conns = uc;
		if (++h->nconns > UI_CONNECTIONS - UI_CONN_ROOM) {
			for (struct ui_conn *o = h->conns; o; o = o->next)
				if (o != uc && !o->in_request && !o->cut &&
				    (!old || o->since < old->since))
					old = o;
			if (old)
				conn_cut(h, old);
		}
		pthread_mutex_unlock(&h->conn_lock);
		return;
	}
	if (!uc)
		return;
	pthread_mutex_lock(&h->conn_lock);
	if (uc->prev)
		uc->prev->next = uc->next;
	else
		h->conns = uc->next;
	if (uc->next)
		uc->next->prev = uc->prev;
	h->nconns--;
	pthread_mutex_unlock(&h->conn_lock);
	free(uc);
	*socket_context = NULL;
}

/* Once a second: a connection whose request has not come in UI_HEAD_S. */
static void *reaper_main(void *arg)
{
	struct ui_http *h = arg;

	pthread_mutex_lock(&h->conn_lock);
	while (!h->stop) {
		struct timespec ts;
		double now = ui_mono_s();

		for (struct ui_conn *uc = h->conns; uc; uc = uc->next)
			if (!uc->in_request && !uc->cut &&
			    now - uc->since > UI_HEAD_S)
				conn_cut(h, uc);
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 1;
		pthread_cond_timedwait(&h->stop_cond, &h->conn_lock, &ts);
	}
	pthread_mutex_unlock(&h->conn_lock);
	return NULL;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c,
				  const char *url, const char *method,
				  const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	struct ui_http *h = cls;
	struct req *rq = *con_cls;
	const char *host;
	char from[64];

	if (!rq) {
		rq = calloc(1, sizeof(*rq));
		if (!rq)
			return MHD_NO;
		*con_cls = rq;
		return MHD_YES;
	}
	if (*upload_size) {
		if (rq->len + *upload_size > UI_MAX_BODY) {
			rq->too_large = true;
		} else {
			char *p = realloc(rq->body, rq->len + *upload_size + 1);

			if (!p)
				return MHD_NO;
			memcpy(p + rq->len, upload, *upload_size);
			rq->body = p;
			rq->len += *upload_size;
			rq->body[rq->len] = '\0';
		}
		*upload_size = 0;
		return MHD_YES;
	}
	/* the request is read whole: its answer may take long (a route
	 * waits for mDNS), an event stream forever */
	conn_mark(h, c, true);
	client_addr(c, from, sizeof(from));
	host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host");
	if (!host_ok(h, host)) {
		ui_log("refused %s %s from %s: Host '%s' is not this server",
		       method, url, from, host ? host : "");
		return send_error(c, 421, "the Host is not this server");
	}
	if (!strcmp(method, "GET") || !strcmp(method, "HEAD"))
		return handle_get(h, c, url);
	if (!strcmp(method, "POST"))
		return handle_post(h, c, url, rq, from);
	/* OPTIONS too: no cross-origin pre-flight is ever allowed. */
	ui_log("refused %s %s from %s", method, url, from);
	return send_error(c, 405, "only GET and POST");
}

static void on_done(void *cls, struct MHD_Connection *c, void **con_cls,
		    enum MHD_RequestTerminationCode toe)
{
	struct req *rq = *con_cls;

	conn_mark(cls, c, false); /* its next head is awaited */
	if (rq) {
		free(rq->body);
		free(rq);
		*con_cls = NULL;
	}
}

/* libmicrohttpd's own messages; not the one every closed page makes (an
 * event stream cut off by its browser). Any client can provoke them: at
 * most 5 lines in 10 s, each written whole (they came interleaved), and
 * how many were held back. */
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct ui_http *h = cls;
	double now = ui_mono_s();
	char msg[256];
	unsigned int held = 0;
	bool say;

	if (strstr(fmt, "Failed to send"))
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	msg[strcspn(msg, "\n")] = '\0';
	pthread_mutex_lock(&h->conn_lock);
	if (now - h->log_window >= 10.0) {
		h->log_window = now;
		h->log_lines = 0;
	}
	say = h->log_lines < 5;
	if (say) {
		h->log_lines++;
		held = h->log_held;
		h->log_held = 0;
	} else {
		h->log_held++;
	}
	pthread_mutex_unlock(&h->conn_lock);
	if (!say)
		return;
	if (held)
		fprintf(stderr,
			"d4ctl ui: libmicrohttpd: %s (and %u earlier lines "
			"not shown)\n",
			msg, held);
	else
		fprintf(stderr, "d4ctl ui: libmicrohttpd: %s\n", msg);
}

struct ui_http *ui_http_start(struct ui_model *model, const struct d4ctl *ctl,
			      const char *listen, const char *session,
			      unsigned int latency_us)
{
	struct ui_http *h = calloc(1, sizeof(*h));
	struct sockaddr_in sa = {.sin_family = AF_INET};
	const char *colon = strrchr(listen, ':');
	char host[48];

	if (!h)
		return NULL;
	if (!args_is_addr_port(listen)) {
		ui_log("--listen '%s' is not ADDR:PORT (IPv4)", listen);
		free(h);
		return NULL;
	}
	snprintf(host, sizeof(host), "%.*s", (int)(colon - listen), listen);
	inet_pton(AF_INET, host, &h->addr);
	h->port = (unsigned int)atoi(colon + 1);
	snprintf(h->listen, sizeof(h->listen), "%s", listen);
	snprintf(h->session, sizeof(h->session), "%s", session);
	h->model = model;
	h->latency_us = latency_us;
	h->ctl = *ctl;
	h->ctl.out = h->ctl.errs = NULL;
	pthread_mutex_init(&h->write_lock, NULL);
	pthread_mutex_init(&h->conn_lock, NULL);
	pthread_cond_init(&h->stop_cond, NULL);
	sa.sin_addr = h->addr;
	sa.sin_port = htons((uint16_t)h->port);
	h->mhd = MHD_start_daemon(
	    MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
		MHD_USE_ERROR_LOG,
	    (uint16_t)h->port, NULL, NULL, on_request, h,
	    MHD_OPTION_EXTERNAL_LOGGER, mhd_log, h, MHD_OPTION_SOCK_ADDR,
	    (struct sockaddr *)&sa, MHD_OPTION_CONNECTION_LIMIT,
	    (unsigned int)UI_CONNECTIONS, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
	    (unsigned int)UI_CONNECTIONS_PER_IP, MHD_OPTION_CONNECTION_TIMEOUT,
	    (unsigned int)60, MHD_OPTION_NOTIFY_COMPLETED, on_done, h,
	    MHD_OPTION_NOTIFY_CONNECTION, on_connection, h, MHD_OPTION_END);
	if (!h->mhd) {
		ui_log("cannot listen on %s (in use? not an address of this "
		       "host?)",
		       listen);
		pthread_mutex_destroy(&h->write_lock);
		pthread_mutex_destroy(&h->conn_lock);
		pthread_cond_destroy(&h->stop_cond);
		free(h);
		return NULL;
	}
	h->reaper_on = pthread_create(&h->reaper, NULL, reaper_main, h) == 0;
	if (!h->reaper_on)
		ui_log("no deadline thread: slow clients are not cut");
	return h;
}

void ui_http_stop(struct ui_http *h)
{
	if (!h)
		return;
	if (h->reaper_on) {
		pthread_mutex_lock(&h->conn_lock);
		h->stop = true;
		pthread_cond_signal(&h->stop_cond);
		pthread_mutex_unlock(&h->conn_lock);
		pthread_join(h->reaper, NULL);
	}
	MHD_stop_daemon(h->mhd);
	pthread_mutex_destroy(&h->write_lock);
	pthread_mutex_destroy(&h->conn_lock);
	pthread_cond_destroy(&h->stop_cond);
	free(h);
}
