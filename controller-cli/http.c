/* HTTP + JSON to a node's API through libcurl (d4ctl.h d4ctl_http). */
#include <errno.h>
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

int d4ctl_http(struct d4ctl *ctl, const struct d4ctl_node *node,
	       const char *method, const char *path, json_t *body, json_t **out)
{
	struct curl_slist *hdrs = NULL;
	struct buf resp = {0};
	const char *token = d4ctl_token(
	    ctl, node, strcmp(method, "GET") && strcmp(method, "HEAD"));
	char url[512], auth[300], *text = NULL;
	json_error_t jerr;
	json_t *j = NULL;
	long status = 0;
	CURLcode cc;
	CURL *c;
	int rc;

	if (out)
		*out = NULL;
	c = curl_easy_init();
	if (!c)
		return -ENOMEM;
	snprintf(url, sizeof(url), "%s%s", node->base, path);
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
	if (cc != CURLE_OK) {
		fprintf(stderr, "d4ctl: %s (%s): %s %s: %s\n", node->name,
			node->addr, method, path, curl_easy_strerror(cc));
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
			fprintf(stderr,
				"d4ctl: %s: %s %s: HTTP %ld, not JSON: %s "
				"(at %d:%d)\n",
				node->name, method, path, status, jerr.text,
				jerr.line, jerr.column);
			rc = -EPROTO;
			goto out_free;
		}
	}
	if (status >= 400) {
		const char *msg =
		    json_string_value(json_object_get(j, "error"));

		fprintf(stderr, "d4ctl: %s: %s %s: HTTP %ld: %s\n", node->name,
			method, path, status,
			msg ? msg : (resp.len ? resp.data : "(no message)"));
		if (status == 401)
			fprintf(stderr,
				"d4ctl: %s: `d4ctl login %s` pairs with it "
				"(or give --token, D4_TOKEN or a token in the "
				"config file)\n",
				token ? "the token was refused" : "no token",
				node->name);
		rc = -EIO;
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
	curl_easy_cleanup(c);
	return rc;
}
