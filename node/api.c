/* HTTP for the control API (see api.h). libmicrohttpd runs without a
 * thread of its own: MHD_USE_EPOLL gives one epoll fd, watched by the
 * node's loop, and MHD_run() does the work when it is readable or when
 * libmicrohttpd's own timeout (idle connections) is due. */
#include "node/api.h"
#include "common/log.h"
#include "common/loop.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>

struct api {
	struct MHD_Daemon *mhd;
	struct loop *loop;
	struct loop_io *io;
	struct loop_timer *timer;
	struct api_config cfg;
	const struct api_route *routes;
	void *ctx;
	uint16_t port;
	struct api_stats stats;
};

/* One request's body as it arrives. */
struct upload {
	char *buf;
	size_t len;
	bool too_large;
};

static void rearm(struct api *a)
{
	MHD_UNSIGNED_LONG_LONG ms;

	if (MHD_get_timeout(a->mhd, &ms) == MHD_YES)
		loop_timer_arm(a->timer, (uint64_t)ms * 1000000ull, 0);
	else
		loop_timer_disarm(a->timer);
}

static void on_io(void *data, int fd, uint32_t events)
{
	struct api *a = data;

	(void)fd;
	(void)events;
	MHD_run(a->mhd);
	rearm(a);
}

static void on_timer(void *data)
{
	struct api *a = data;

	MHD_run(a->mhd);
	rearm(a);
}

/* @allow: the Allow header of a 405 (RFC 9110), else NULL. */
static enum MHD_Result send_json(struct MHD_Connection *c, int status,
				 json_t *body, const char *allow)
{
	/* 12 digits: a level rounded to 0.01 dB prints as -4.35, not as
	 * the nearest double's -4.3499999999999996 */
	char *text =
	    body ? json_dumps(body, JSON_COMPACT | JSON_REAL_PRECISION(12))
		 : NULL;
	struct MHD_Response *r;
	enum MHD_Result ret;

	if (body && !text)
		return MHD_NO;
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
	if (body)
		MHD_add_response_header(r, "Content-Type", "application/json");
	if (allow)
		MHD_add_response_header(r, "Allow", allow);
	ret = MHD_queue_response(c, (unsigned int)status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result send_error_allow(struct MHD_Connection *c, int status,
					const char *msg, const char *allow)
{
	json_t *j = json_pack("{s:s}", "error", msg);
	enum MHD_Result ret = send_json(c, status, j, allow);

	json_decref(j);
	return ret;
}

static enum MHD_Result send_error(struct MHD_Connection *c, int status,
				  const char *msg)
{
	return send_error_allow(c, status, msg, NULL);
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

/* "/api/v1/flows/main" -> parts "flows", "main" (percent-decoded). */
static int split_path(const char *url, char *copy, size_t len,
		      struct api_req *req)
{
	char *s, *save = NULL, *tok;

	if (strncmp(url, API_PREFIX, strlen(API_PREFIX)) ||
	    (url[strlen(API_PREFIX)] && url[strlen(API_PREFIX)] != '/'))
		return -ENOENT;
	if (strlen(url) >= len)
		return -E2BIG;
	snprintf(copy, len, "%s", url + strlen(API_PREFIX));
	req->nparts = 0;
	for (s = copy; (tok = strtok_r(s, "/", &save)); s = NULL) {
		if (req->nparts == API_PARTS)
			return -E2BIG;
		MHD_http_unescape(tok);
		req->parts[req->nparts++] = tok;
	}
	return 0;
}

static bool authorized(struct api *a, struct MHD_Connection *c)
{
	const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
						    "Authorization");
	size_t n = strlen(a->cfg.token);
	unsigned char diff = 0;
	size_t i;

	if (!h || strncmp(h, "Bearer ", 7) || strlen(h + 7) != n || !n)
		return false;
	/* Constant time: the token's bytes do not leak through timing. */
	for (i = 0; i < n; i++)
		diff |= (unsigned char)(h[7 + i] ^ a->cfg.token[i]);
	return diff == 0;
}

static enum MHD_Result dispatch(struct api *a, struct MHD_Connection *c,
				const char *url, const char *method,
				struct upload *up)
{
	struct api_req req = {.method = method};
	char path[512], err[512] = "";
	json_t *out = NULL;
	json_error_t jerr;
	const struct api_route *r;
	bool write = strcmp(method, "GET") && strcmp(method, "HEAD");
	bool path_known = false;
	char allow[64] = "";
	enum MHD_Result ret;
	int status;

	a->stats.requests++;
	if (up->too_large) {
		a->stats.too_large++;
		snprintf(err, sizeof(err), "request body over %d bytes",
			 API_BODY_MAX);
		return send_error(c, 413, err);
	}
	if (split_path(url, path, sizeof(path), &req) < 0) {
		a->stats.not_found++;
		snprintf(err, sizeof(err), "no such resource '%.200s'", url);
		return send_error(c, MHD_HTTP_NOT_FOUND, err);
	}
	if ((write || a->cfg.read_token) && !authorized(a, c)) {
		a->stats.unauthorized++;
		return send_error(c, MHD_HTTP_UNAUTHORIZED,
				  "this needs 'Authorization: Bearer TOKEN' "
				  "(the token is in the node's state "
				  "directory)");
	}
	if (up->len) {
		req.body = json_loadb(up->buf, up->len, 0, &jerr);
		if (!req.body || !json_is_object(req.body)) {
			a->stats.bad_requests++;
			if (req.body)
				snprintf(err, sizeof(err),
					 "the body is not a JSON object");
			else
				snprintf(err, sizeof(err),
					 "the body is not a JSON object: line "
					 "%d column %d: %s",
					 jerr.line, jerr.column, jerr.text);
			json_decref(req.body);
			return send_error(c, MHD_HTTP_BAD_REQUEST, err);
		}
	}
	for (r = a->routes; r->method; r++) {
		if (!api_match(&req, r->pattern))
			continue;
		if (strlen(allow) + strlen(r->method) + 3 < sizeof(allow))
			snprintf(allow + strlen(allow),
				 sizeof(allow) - strlen(allow), "%s%s",
				 path_known ? ", " : "", r->method);
		path_known = true;
		if (!strcmp(r->method, method))
			break;
	}
	if (!r->method) {
		json_decref(req.body);
		if (path_known)
			return send_error_allow(c, MHD_HTTP_METHOD_NOT_ALLOWED,
						"method not allowed here",
						allow);
		a->stats.not_found++;
		snprintf(err, sizeof(err), "no such resource '%.200s'", url);
		return send_error(c, MHD_HTTP_NOT_FOUND, err);
	}
	status = r->fn(a->ctx, &req, &out, err, sizeof(err));
	json_decref(req.body);
	if (status >= 400) {
		json_decref(out);
		if (status == 400)
			a->stats.bad_requests++;
		return send_error(c, status, err[0] ? err : "failed");
	}
	ret = send_json(c, status, out, NULL);
	json_decref(out);
	return ret;
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
		up = calloc(1, sizeof(*up));
		if (!up)
			return MHD_NO;
		*con_cls = up;
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
				char *nb = realloc(up->buf,
						   up->len + *data_size + 1);

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

static void on_done(void *cls, struct MHD_Connection *c, void **con_cls,
		    enum MHD_RequestTerminationCode toe)
{
	struct upload *up = *con_cls;

	(void)cls;
	(void)c;
	(void)toe;
	if (up) {
		free(up->buf);
		free(up);
		*con_cls = NULL;
	}
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
	a->routes = routes;
	a->ctx = ctx;
	sa = cfg->addr;
	a->mhd = MHD_start_daemon(
	    MHD_USE_EPOLL | MHD_USE_ERROR_LOG, ntohs(sa.sin_port), NULL, NULL,
	    on_request, a, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
	    MHD_OPTION_NOTIFY_COMPLETED, on_done, a,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned int)64,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)30,
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
	info = MHD_get_daemon_info(a->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	a->io = info ? loop_io_add(loop, info->epoll_fd, LOOP_IN, on_io, a)
		     : NULL;
	a->timer = loop_timer_new(loop, on_timer, a);
	if (!a->io || !a->timer) {
		api_destroy(a);
		return NULL;
	}
	rearm(a);
	return a;
}

void api_destroy(struct api *a)
{
	if (!a)
		return;
	loop_io_remove(a->io);
	loop_timer_free(a->timer);
	if (a->mhd)
		MHD_stop_daemon(a->mhd);
	free(a);
}

uint16_t api_port(const struct api *a)
{
	return a->port;
}

void api_get_stats(const struct api *a, struct api_stats *out)
{
	*out = a->stats;
}
