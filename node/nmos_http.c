/* libcurl's multi interface on common/loop (see nmos_http.h): curl tells
 * which sockets to watch (CURLMOPT_SOCKETFUNCTION) and when to call it
 * back (CURLMOPT_TIMERFUNCTION); we watch them on the loop and call
 * curl_multi_socket_action(), then hand finished transfers to their
 * callbacks. Callbacks run after curl returns, never inside it, so they
 * may start or cancel requests freely. */
#include "node/nmos_http.h"
#include "common/log.h"
#include "common/loop.h"

#include "node/curl_lib.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define HTTP_BODY_MAX (1 << 20)

/* libcurl, once a client made its first request (node/curl_lib.h) */
static const struct curl_lib *C;

struct nmos_http {
	struct loop *loop;
	CURLM *multi;
	struct loop_timer *timer;
	struct nmos_http_req *reqs; /* under way */
	unsigned int npending;
	bool in_curl; /* inside curl_multi_socket_action */
};

struct nmos_http_req {
	struct nmos_http *h;
	CURL *easy;
	struct curl_slist *headers;
	char *body;  /* the request's body, kept while curl sends it */
	char *reply; /* the answer's body */
	size_t len;
	bool too_big;
	nmos_http_fn fn;
	void *ctx;
	char err[CURL_ERROR_SIZE];
	struct nmos_http_req *prev, *next;
};

/* One watched socket. */
struct http_sock {
	struct loop_io *io;
};

static void unlink_req(struct nmos_http_req *r)
{
	struct nmos_http *h = r->h;

	if (r->prev)
		r->prev->next = r->next;
	else
		h->reqs = r->next;
	if (r->next)
		r->next->prev = r->prev;
	h->npending--;
}

static void free_req(struct nmos_http_req *r)
{
	C->multi_remove_handle(r->h->multi, r->easy);
	C->easy_cleanup(r->easy);
	C->slist_free_all(r->headers);
	free(r->body);
	free(r->reply);
	free(r);
}

/* Finished transfers to their callbacks. */
static void reap(struct nmos_http *h)
{
	CURLMsg *msg;
	int left;

	while ((msg = C->multi_info_read(h->multi, &left))) {
		struct nmos_http_req *r = NULL;
		long status = 0;

		if (msg->msg != CURLMSG_DONE)
			continue;
		C->easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE,
				  (char **)&r);
		if (!r)
			continue;
		unlink_req(r);
		if (msg->data.result == CURLE_OK)
			C->easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE,
					  &status);
		else if (!r->err[0])
			snprintf(r->err, sizeof(r->err), "%s",
				 C->easy_strerror(msg->data.result));
		if (r->too_big) {
			status = 0;
			snprintf(r->err, sizeof(r->err), "answer over %d bytes",
				 HTTP_BODY_MAX);
		}
		r->fn(r->ctx, status, r->reply ? r->reply : "", r->len,
		      status ? NULL : r->err);
		free_req(r);
	}
}

static void act(struct nmos_http *h, curl_socket_t s, int what)
{
	int running;

	h->in_curl = true;
	C->multi_socket_action(h->multi, s, what, &running);
	h->in_curl = false;
	reap(h);
}

static void on_io(void *data, int fd, uint32_t events)
{
	struct nmos_http *h = data;
	int what = 0;

	if (events & LOOP_IN)
		what |= CURL_CSELECT_IN;
	if (events & LOOP_OUT)
		what |= CURL_CSELECT_OUT;
	if (events & (LOOP_ERR | LOOP_HUP))
		what |= CURL_CSELECT_ERR;
	act(h, fd, what);
}

static void on_timer(void *data)
{
	act(data, CURL_SOCKET_TIMEOUT, 0);
}

static int on_socket(CURL *easy, curl_socket_t s, int what, void *userp,
		     void *socketp)
{
	struct nmos_http *h = userp;
	struct http_sock *hs = socketp;
	uint32_t ev = (what & CURL_POLL_IN ? LOOP_IN : 0) |
		      (what & CURL_POLL_OUT ? LOOP_OUT : 0);

	(void)easy;
	if (what == CURL_POLL_REMOVE) {
		if (hs) {
			loop_io_remove(hs->io);
			free(hs);
			C->multi_assign(h->multi, s, NULL);
		}
		return 0;
	}
	if (!hs) {
		hs = calloc(1, sizeof(*hs));
		if (!hs)
			return -1;
		hs->io = loop_io_add(h->loop, s, ev, on_io, h);
		if (!hs->io) {
			free(hs);
			return -1;
		}
		C->multi_assign(h->multi, s, hs);
		return 0;
	}
	loop_io_update(hs->io, ev);
	return 0;
}

static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
	struct nmos_http *h = userp;

	(void)multi;
	if (timeout_ms < 0)
		loop_timer_disarm(h->timer);
	else /* 0: as soon as the loop comes round */
		loop_timer_arm(h->timer, (uint64_t)timeout_ms * 1000000ull, 0);
	return 0;
}

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *user)
{
	struct nmos_http_req *r = user;
	size_t n = size * nmemb;
	char *p;

	if (r->too_big || r->len + n > HTTP_BODY_MAX) {
		r->too_big = true;
		return n; /* read on; reported once done */
	}
	p = realloc(r->reply, r->len + n + 1);
	if (!p)
		return 0;
	memcpy(p + r->len, ptr, n);
	r->reply = p;
	r->len += n;
	r->reply[r->len] = '\0';
	return n;
}

struct nmos_http *nmos_http_new(struct loop *loop)
{
	struct nmos_http *h = calloc(1, sizeof(*h));

	if (!h)
		goto out_oom;
	h->loop = loop;
	h->timer = loop_timer_new(loop, on_timer, h);
	if (!h->timer)
		goto out_free;
	return h;
out_free:
	nmos_http_destroy(h);
out_oom:
	log_err("nmos: http client: out of memory");
	return NULL;
}

void nmos_http_destroy(struct nmos_http *h)
{
	if (!h)
		return;
	while (h->reqs) {
		struct nmos_http_req *r = h->reqs;

		unlink_req(r);
		free_req(r); /* REMOVE callbacks unwatch its sockets */
	}
	if (h->multi)
		C->multi_cleanup(h->multi);
	loop_timer_free(h->timer);
	free(h);
}

/* libcurl and the multi handle, made for the first request. */
static bool ready(struct nmos_http *h)
{
	if (h->multi)
		return true;
	if (!(C = curl_lib()) || !(h->multi = C->multi_init()))
		return false;
	C->multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
	C->multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
	C->multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
	C->multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
	return true;
}

struct nmos_http_req *nmos_http_start(struct nmos_http *h, const char *method,
				      const char *url, const char *json,
				      const char *bearer, uint64_t timeout_ns,
				      nmos_http_fn fn, void *ctx)
{
	struct nmos_http_req *r;
	char auth[300];

	if (!ready(h) || !(r = calloc(1, sizeof(*r))))
		return NULL;
	r->h = h;
	r->fn = fn;
	r->ctx = ctx;
	r->easy = C->easy_init();
	if (!r->easy || (json && !(r->body = strdup(json))))
		goto out_free;
	C->easy_setopt(r->easy, CURLOPT_URL, url);
	C->easy_setopt(r->easy, CURLOPT_CUSTOMREQUEST, method);
	C->easy_setopt(r->easy, CURLOPT_NOSIGNAL, 1L);
	C->easy_setopt(r->easy, CURLOPT_TIMEOUT_MS,
			 (long)(timeout_ns / 1000000ull));
	C->easy_setopt(r->easy, CURLOPT_WRITEFUNCTION, on_data);
	C->easy_setopt(r->easy, CURLOPT_WRITEDATA, r);
	C->easy_setopt(r->easy, CURLOPT_ERRORBUFFER, r->err);
	C->easy_setopt(r->easy, CURLOPT_PRIVATE, r);
	/* Only http: a registry URL must not make us read files. */
	C->easy_setopt(r->easy, CURLOPT_PROTOCOLS_STR, "http");
	r->headers = C->slist_append(r->headers, "Accept: application/json");
	if (bearer) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s",
			 bearer);
		r->headers = C->slist_append(r->headers, auth);
	}
	if (r->body) {
		r->headers = C->slist_append(
		    r->headers, "Content-Type: application/json");
		C->easy_setopt(r->easy, CURLOPT_POSTFIELDS, r->body);
	} else if (strcmp(method, "GET") && strcmp(method, "DELETE")) {
		C->easy_setopt(r->easy, CURLOPT_POSTFIELDS, "");
	}
	C->easy_setopt(r->easy, CURLOPT_HTTPHEADER, r->headers);
	if (C->multi_add_handle(h->multi, r->easy) != CURLM_OK)
		goto out_free;
	r->next = h->reqs;
	if (h->reqs)
		h->reqs->prev = r;
	h->reqs = r;
	h->npending++;
	return r;
out_free:
	C->easy_cleanup(r->easy);
	C->slist_free_all(r->headers);
	free(r->body);
	free(r);
	return NULL;
}

void nmos_http_cancel(struct nmos_http_req *r)
{
	if (!r)
		return;
	unlink_req(r);
	free_req(r);
}

unsigned int nmos_http_pending(const struct nmos_http *h)
{
	return h->npending;
}
