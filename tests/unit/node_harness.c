/* The node harness of the unit tests (see node_harness.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "node_harness.h"

#define TOKEN_LEN   64 /* 32 random bytes in hex */
#define BODY_MAX    (64 * 1024)
#define API_WAIT_MS 10000 /* a loaded machine: the node may start slowly */
#define STOP_WAIT_S 20

char dir[64];
char root_url[64]; /* http://127.0.0.1:PORT */
char token[TOKEN_LEN + 8];
static char bearer[TOKEN_LEN + 32]; /* "Authorization: Bearer TOKEN" */

struct node_thread node;

/* ---- the node ---- */

/* The first port the kernel hands out by itself (connect, sendto and
 * bind to port 0 take theirs from ip_local_port_range). */
static unsigned int ephemeral_low(void)
{
	unsigned int low = 32768;
	FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");

	if (f) {
		if (fscanf(f, "%u", &low) != 1)
			low = 32768;
		fclose(f);
	}
	return low;
}

/* A port the kernel picks (bind to port 0) on every address, for @type. */
static unsigned int kernel_port(int type)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_addr.s_addr = htonl(INADDR_ANY)};
	socklen_t len = sizeof(a);
	unsigned int port = 0;
	int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return 0;
	if (!bind(fd, (struct sockaddr *)&a, sizeof(a)) &&
	    !getsockname(fd, (struct sockaddr *)&a, &len))
		port = ntohs(a.sin_port);
	close(fd);
	return port;
}

/* A port free now on every address, for @type, from below the ephemeral
 * range: a port the kernel picked (bind to port 0) and this program let
 * go could be handed straight to the next connect() or sendto() of any
 * process on the machine (libcurl's own connections to the node's API
 * make hundreds a second) before the node binds it: a CI run failed
 * that way. Below the range only a program that names the port takes it;
 * random (seeded from the clock's nanoseconds and the PID), so two tests
 * in parallel rarely name the same one, and never one this program
 * handed out before. A machine whose ephemeral range leaves fewer than
 * 1 000 ports below it gets what the kernel picks. */
unsigned int free_port(int type)
{
	static unsigned int seed, given[256], ngiven, next;
	unsigned int low = ephemeral_low(), span, i, k;

	if (!seed) {
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		seed = (unsigned int)ts.tv_nsec ^ (unsigned int)getpid() << 16 ^
		       (unsigned int)ts.tv_sec;
	}
	if (low < 1024 + 1000)
		return kernel_port(type);
	span = low - 1024 < 16384 ? low - 1024 : 16384;
	for (i = 0; i < 200; i++) {
		unsigned int port = low - 1 - rand_r(&seed) % span;
		struct sockaddr_in a = {.sin_family = AF_INET,
					.sin_port = htons((uint16_t)port),
					.sin_addr.s_addr = htonl(INADDR_ANY)};
		int fd;
		bool ok;

		for (k = 0; k < ngiven && given[k] != port; k++)
			;
		if (k < ngiven)
			continue;
		fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return 0;
		ok = !bind(fd, (struct sockaddr *)&a, sizeof(a));
		close(fd);
		if (ok) {
			given[next++ % 256] = port; /* the latest 256 */
			if (ngiven < 256)
				ngiven++;
			return port;
		}
	}
	return kernel_port(type);
}

static void *node_main(void *arg)
{
	struct node_thread *t = arg;

	t->rc = node_run(&t->opts);
	atomic_store(&t->done, true);
	return NULL;
}

static size_t on_data(char *p, size_t size, size_t n, void *data)
{
	struct reply *r = data;
	char *nb = realloc(r->text, r->len + size * n + 1);

	if (!nb)
		return 0;
	memcpy(nb + r->len, p, size * n);
	r->text = nb;
	r->len += size * n;
	r->text[r->len] = '\0';
	return size * n;
}

static size_t on_header(char *p, size_t size, size_t n, void *data)
{
	struct reply *r = data;
	size_t len = size * n;

	if (len > 6 && !strncasecmp(p, "Allow:", 6)) {
		p += 6;
		len -= 6;
		while (len && (*p == ' ' || p[len - 1] == '\n' ||
			       p[len - 1] == '\r')) {
			if (*p == ' ') {
				p++;
				len--;
			} else {
				len--;
			}
		}
		snprintf(r->allow, sizeof(r->allow), "%.*s", (int)len, p);
	}
	return size * n;
}

/* @method @path (from the server's root) with @body (@len bytes; NULL:
 * none) and @auth: NULL (no Authorization header), AUTH_TOKEN, or a header
 * value. */
void request(struct reply *r, const char *method, const char *path,
	     const char *body, size_t len, const char *auth)
{
	struct curl_slist *h = NULL;
	char url[512], hdr[256];
	CURL *c = curl_easy_init();
	CURLcode rc;

	memset(r, 0, sizeof(*r));
	assert_non_null(c);
	snprintf(url, sizeof(url), "%s%s", root_url, path);
	/* A large body must not wait for "100 Continue". */
	h = curl_slist_append(h, "Expect:");
	h = curl_slist_append(h, "Content-Type: application/json");
	if (auth == AUTH_TOKEN) {
		h = curl_slist_append(h, bearer);
	} else if (auth) {
		snprintf(hdr, sizeof(hdr), "Authorization: %s", auth);
		h = curl_slist_append(h, hdr);
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 5L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
	if (body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)len);
	}
	rc = curl_easy_perform(c);
	if (rc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	else
		r->status = -(long)rc;
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	if (r->len)
		r->json = json_loadb(r->text, r->len, 0, NULL);
}

/* @path: after /api/v1 */
void call_len(struct reply *r, const char *method, const char *path,
	      const char *body, size_t len, const char *auth)
{
	char full[512];

	snprintf(full, sizeof(full), "/api/v1%s", path);
	request(r, method, full, body, len, auth);
}

void call(struct reply *r, const char *method, const char *path,
	  const char *body, const char *auth)
{
	call_len(r, method, path, body, body ? strlen(body) : 0, auth);
}

void reply_free(struct reply *r)
{
	json_decref(r->json);
	free(r->text);
	memset(r, 0, sizeof(*r));
}

/* GET /node until it answers 200, or the node stops, or API_WAIT_MS. */
static int wait_for_api(void)
{
	struct timespec pause = {0, 100 * 1000 * 1000};
	struct reply r;
	long status = 0;
	int i;

	for (i = 0; i < API_WAIT_MS / 100; i++) {
		if (atomic_load(&node.done)) {
			fprintf(stderr,
				"node_run returned %d before its API "
				"answered\n",
				node.rc);
			return -1;
		}
		call(&r, "GET", "/node", NULL, NULL);
		status = r.status;
		reply_free(&r);
		if (status == 200)
			return 0;
		nanosleep(&pause, NULL);
	}
	fprintf(stderr, "the API did not answer 200 within %d ms (%ld)\n",
		API_WAIT_MS, status);
	return -1;
}

static int read_token(void)
{
	char path[128];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/state/token", dir);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	n = fread(token, 1, sizeof(token) - 1, f);
	fclose(f);
	token[n] = '\0';
	token[strcspn(token, "\r\n")] = '\0';
	snprintf(bearer, sizeof(bearer), "Authorization: Bearer %s", token);
	return 0;
}

static int rm_entry(const char *path, const struct stat *st, int flag,
		    struct FTW *ftw)
{
	return remove(path);
}

/* Stop the node as a service manager would: SIGTERM, which its signalfd
 * reads; the signal is blocked in every thread here, so it waits for
 * the node's loop, aimed at the thread that runs it. */
int stop_node(void)
{
	struct timespec until;
	int rc;

	if (!node.started)
		return 0;
	node.started = false;
	if (!atomic_load(&node.done))
		pthread_kill(node.tid, SIGTERM);
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += STOP_WAIT_S;
	rc = pthread_timedjoin_np(node.tid, NULL, &until);
	if (rc) {
		fprintf(stderr,
			"the node did not stop within %d s of SIGTERM "
			"(%s)\n",
			STOP_WAIT_S, strerror(rc));
		return -1;
	}
	if (node.rc != 0)
		fprintf(stderr, "node_run returned %d\n", node.rc);
	return node.rc == 0 ? 0 : -1;
}

/* The node in its thread, its API answering, its token read. */
int start_node(void)
{
	int rc;

	atomic_store(&node.done, false);
	rc = pthread_create(&node.tid, NULL, node_main, &node);
	if (rc) {
		fprintf(stderr, "pthread_create: %s\n", strerror(rc));
		return -1;
	}
	node.started = true;
	return wait_for_api() < 0 || read_token() < 0 ? -1 : 0;
}

/* ---- assertions ---- */

void assert_status(const struct reply *r, long status)
{
	if (r->status != status)
		print_message("# want %ld, got %ld: %s\n", status, r->status,
			      r->text ? r->text : "(no body)");
	assert_int_equal(r->status, status);
}

/* @r is {"error": "...@needle..."} with @status. */
bool is_error(const struct reply *r, long status, const char *needle)
{
	const char *msg = json_string_value(json_object_get(r->json, "error"));

	return r->status == status && msg && strstr(msg, needle);
}

void assert_error(const struct reply *r, long status, const char *needle)
{
	if (!is_error(r, status, needle))
		print_message("# want %ld with an error saying \"%s\", got "
			      "%ld: %s\n",
			      status, needle, r->status,
			      r->text ? r->text : "(no body)");
	assert_true(is_error(r, status, needle));
}

/* @method @path @body with the token: @status and its JSON (the
 * caller frees it). */
json_t *ok(const char *method, const char *path, const char *body, long status)
{
	struct reply r;
	json_t *j;

	call(&r, method, path, body, AUTH_TOKEN);
	assert_status(&r, status);
	assert_non_null(r.json);
	j = json_incref(r.json);
	reply_free(&r);
	return j;
}

json_t *get(const char *path)
{
	return ok("GET", path, NULL, 200);
}

json_t *member(const json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	if (!v)
		print_message("# no member '%s'\n", key);
	assert_non_null(v);
	return v;
}

const char *member_str(const json_t *o, const char *key)
{
	json_t *v = member(o, key);

	assert_true(json_is_string(v));
	return json_string_value(v);
}

json_int_t member_int(const json_t *o, const char *key)
{
	json_t *v = member(o, key);

	assert_true(json_is_integer(v));
	return json_integer_value(v);
}

/* The element of @list whose "name" is @name, or NULL. */
json_t *named(const json_t *list, const char *name)
{
	json_t *o;
	size_t i;

	json_array_foreach(list, i, o)
	{
		const char *s = json_string_value(json_object_get(o, "name"));

		if (s && !strcmp(s, name))
			return o;
	}
	return NULL;
}

bool listed(const char *path, const char *name)
{
	json_t *list = get(path);
	bool found = named(list, name) != NULL;

	json_decref(list);
	return found;
}

void check_refusals(const struct bad_req *t, size_t n)
{
	struct reply r;
	size_t i;

	for (i = 0; i < n; i++) {
		call(&r, t[i].method, t[i].path, t[i].body, AUTH_TOKEN);
		if (!is_error(&r, t[i].status, t[i].msg))
			print_message("# %s %s %s\n", t[i].method, t[i].path,
				      t[i].body ? t[i].body : "(no body)");
		assert_error(&r, t[i].status, t[i].msg);
		reply_free(&r);
	}
}

int harness_init(const char *name, unsigned int api_port)
{
	sigset_t mask;

	snprintf(dir, sizeof(dir), "/tmp/d4-test-%s-XXXXXX", name);
	if (!api_port || !mkdtemp(dir) ||
	    curl_global_init(CURL_GLOBAL_DEFAULT)) {
		fprintf(stderr, "test setup failed: %s\n", strerror(errno));
		return -1;
	}
	snprintf(root_url, sizeof(root_url), "http://127.0.0.1:%u", api_port);
	snprintf(node.config, sizeof(node.config), "%s/node.ini", dir);
	/* SIGTERM must reach the node's signalfd, not kill this program:
	 * blocked here, inherited by the node's thread (which blocks it too
	 * for its own). */
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	node.opts.config_path = node.config;
	/* A last resort should SIGTERM go astray: the test never hangs. */
	node.opts.run_seconds = 600;
	return 0;
}

int harness_config(const char *fmt, ...)
{
	va_list ap;
	FILE *f = fopen(node.config, "w");

	if (!f)
		return -errno;
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	return fclose(f) ? -errno : 0;
}

int harness_fini(void)
{
	int rc = stop_node();

	curl_global_cleanup();
	if (dir[0] && nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS) < 0)
		rc = -1;
	return rc;
}
