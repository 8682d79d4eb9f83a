/* HTTP + JSON to a node's API through libcurl (d4ctl.h d4ctl_http). */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "controller-cli/d4ctl.h"

#define HTTP_MAX_RESPONSE (16 << 20)

struct buf {
	char *data;
	size_t len;
};

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *user)
{
	struct buf *b = user;
	size_t n = size * nmemb;
	char *p;

	if (b->len + n > HTTP_MAX_RESPONSE)
		return 0;
	p = realloc(b->data, b->len + n + 1);
	if (!p)
		return 0;
	memcpy(p + b->len, ptr, n);
	b->data = p;
	b->len += n;
	b->data[b->len] = '\0';
	return n;
}

/* An error: into @err when given, else printed (ctl->errs). */
static void http_err(const struct d4ctl *ctl, char *err, size_t err_len,
		     const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void http_err(const struct d4ctl *ctl, char *err, size_t err_len,
		     const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (err)
		snprintf(err, err_len, "%s", msg);
	else
		d4ctl_errf(ctl, "%s", msg);
}

/* Did @host not answer a connection this run? */
static bool unanswered(const struct d4ctl *ctl, const char *host)
{
	for (unsigned int i = 0; i < ctl->nunanswered; i++)
		if (!strcmp(ctl->unanswered[i], host))
			return true;
	return false;
}

static void forget_unanswered(struct d4ctl *ctl, const char *host)
{
	for (unsigned int i = 0; i < ctl->nunanswered; i++)
		if (!strcmp(ctl->unanswered[i], host)) {
			memmove(ctl->unanswered[i], ctl->unanswered[i + 1],
				(ctl->nunanswered - i - 1) *
				    sizeof(ctl->unanswered[0]));
			ctl->nunanswered--;
			return;
		}
}

/* A request that made no connection (refused, unreachable, or the
 * connect itself timed out): nothing reached the node, so the same
 * request may go to its other address without doing anything twice. A
 * timeout on a handle that may have kept a connection alive (@fresh
 * false: no connect, so no connect time) may have reached it: only a read
 * (@write false) is asked again then. */
static bool never_connected(CURL *c, CURLcode cc, bool write, bool fresh)
{
	curl_off_t connect_us = 0;

	if (cc == CURLE_COULDNT_CONNECT)
		return true;
	if (cc != CURLE_OPERATION_TIMEDOUT || (write && !fresh))
		return false;
	return curl_easy_getinfo(c, CURLINFO_CONNECT_TIME_T, &connect_us) ==
		   CURLE_OK &&
	       connect_us == 0;
}

static int http_once(struct d4ctl *ctl, void *handle,
		     const struct d4ctl_node *node, const char *host,
		     const char *method, const char *path, json_t *body,
		     json_t **out, char *err, size_t err_len,
		     bool *no_connection);

/* A node seen on two networks (ST 2022-7's, host2) is asked on its
 * second when its first address makes no connection, as Dante
 * Controller uses a device's secondary interface: said once a run, and
 * that address is not tried again this run. */
int d4ctl_http_with(struct d4ctl *ctl, void *handle,
		    const struct d4ctl_node *node, const char *method,
		    const char *path, json_t *body, json_t **out, char *err,
		    size_t err_len)
{
	const char *first = node->host, *second = node->host2;
	bool no_connection = false;
	int rc;

	if (!second[0])
		return http_once(ctl, handle, node, first, method, path, body,
				 out, err, err_len, NULL);
	if (unanswered(ctl, node->host)) {
		first = node->host2;
		second = node->host;
	}
	rc = http_once(ctl, handle, node, first, method, path, body, out, err,
		       err_len, &no_connection);
	if (rc != -EHOSTUNREACH || !no_connection)
		return rc;
	if (first == node->host) {
		if (ctl->nunanswered < sizeof(ctl->unanswered) /
					   sizeof(ctl->unanswered[0]))
			snprintf(ctl->unanswered[ctl->nunanswered++],
				 sizeof(ctl->unanswered[0]), "%s", node->host);
		fprintf(ctl->errs ? ctl->errs : stderr,
			"d4ctl: %s: %s makes no connection; asking it at %s, "
			"its second network's address\n",
			node->name, node->host, node->host2);
	} else {
		/* the second network went too: the first again (it may be
		 * back; d4ctl ui runs for days) */
		forget_unanswered(ctl, node->host);
	}
	return http_once(ctl, handle, node, second, method, path, body, out,
			 err, err_len, NULL);
}

/* One request to @node at @host. *no_connection (when given) is set when
 * it made none; the error is then not said (its caller tries again). */
static int http_once(struct d4ctl *ctl, void *handle,
		     const struct d4ctl_node *node, const char *host,
		     const char *method, const char *path, json_t *body,
		     json_t **out, char *err, size_t err_len,
		     bool *no_connection)
{
	struct curl_slist *hdrs = NULL;
	struct buf resp = {0};
	bool write = strcmp(method, "GET") && strcmp(method, "HEAD");
	const char *token = d4ctl_token(ctl, node, write, NULL);
	char url[512], auth[300], src[700], *text = NULL;
	json_error_t jerr;
	json_t *j = NULL;
	long status = 0;
	CURLcode cc;
	CURL *c = handle;
	int rc;

	if (out)
		*out = NULL;
	if (c)
		curl_easy_reset(c); /* keeps its open connection */
	else
		c = curl_easy_init();
	if (!c)
		return -ENOMEM;
	if (!strcmp(host, node->host))
		snprintf(url, sizeof(url), "%s%s", node->base, path);
	else
		snprintf(url, sizeof(url), "http://%s:%u/api/v1%s", host,
			 node->port, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, ctl->timeout_ms);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &resp);
	hdrs = curl_slist_append(hdrs, "Accept: application/json");
	if (token) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
		hdrs = curl_slist_append(hdrs, auth);
	}
	if (body) {
		text = json_dumps(body, JSON_COMPACT);
		if (!text) {
			rc = -ENOMEM;
			goto out_free;
		}
		hdrs =
		    curl_slist_append(hdrs, "Content-Type: application/json");
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, text);
	} else if (strcmp(method, "GET") && strcmp(method, "DELETE")) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);

	cc = curl_easy_perform(c);
	if (cc != CURLE_OK && no_connection && never_connected(c, cc, write, c != handle)) {
		*no_connection = true;
		rc = -EHOSTUNREACH;
		goto out_free;
	}
	if (cc != CURLE_OK) {
		http_err(ctl, err, err_len, "%s (%s:%u): %s %s: %s", node->name,
			 host, node->port, method, path,
			 curl_easy_strerror(cc));
		rc = (cc == CURLE_COULDNT_CONNECT ||
		      cc == CURLE_OPERATION_TIMEDOUT ||
		      cc == CURLE_COULDNT_RESOLVE_HOST)
			 ? -EHOSTUNREACH
			 : -EIO;
		goto out_free;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	if (resp.len) {
		j = json_loadb(resp.data, resp.len, JSON_DECODE_ANY, &jerr);
		if (!j && status < 400) {
			http_err(ctl, err, err_len,
				 "%s: %s %s: HTTP %ld, not JSON: %s (at "
				 "%d:%d)",
				 node->name, method, path, status, jerr.text,
				 jerr.line, jerr.column);
			rc = -EPROTO;
			goto out_free;
		}
	}
	if (status >= 400) {
		const char *msg =
		    json_string_value(json_object_get(j, "error"));

		if (status == 401)
			http_err(
			    ctl, err, err_len,
			    "%s: %s %s: HTTP 401: %s; %s%s; `d4ctl login %s` "
			    "pairs with it",
			    node->name, method, path,
			    msg ? msg : "(no message)",
			    token ? "the token came from " : "",
			    d4ctl_token_source(ctl, node, write, src,
					       sizeof(src)),
			    node->name);
		else
			http_err(ctl, err, err_len, "%s: %s %s: HTTP %ld: %s",
				 node->name, method, path, status,
				 msg ? msg
				     : (resp.len ? resp.data : "(no message)"));
		rc = status == 401 ? -EACCES : -EIO;
		goto out_free;
	}
	if (out) {
		*out = j;
		j = NULL;
	}
	rc = 0;
out_free:
	json_decref(j);
	free(text);
	free(resp.data);
	curl_slist_free_all(hdrs);
	if (c != handle)
		curl_easy_cleanup(c);
	return rc;
}

int d4ctl_http(struct d4ctl *ctl, const struct d4ctl_node *node,
	       const char *method, const char *path, json_t *body, json_t **out)
{
	return d4ctl_http_with(ctl, NULL, node, method, path, body, out, NULL,
			       0);
}
