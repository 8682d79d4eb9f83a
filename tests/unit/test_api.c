/* Unit tests for the node's control API (node/api.c, node/node_api.c): a
 * whole node runs in a thread of this program (free-running clock, a tone
 * source, one flow to 127.0.0.1, no discovery) and libcurl asks it over
 * HTTP what docs/api.md promises: status codes, the {"error"} messages for
 * bad input, and that refused writes change nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <ftw.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "node/node.h"
#include "qemu_user.h"

#define NODE_NAME     "apitest"
#define TOKEN_LEN     64 /* 32 random bytes in hex */
#define BODY_MAX      (64 * 1024)
#define API_WAIT_MS   10000 /* a loaded machine: the node may start slowly */
#define STOP_WAIT_S   20
#define AUTH_TOKEN    ((const char *)1) /* call(): the node's own token */
#define TX_CHANNELS   2			/* [source program] below */
#define RX_CHANNELS   8			/* [node] rx_channels, its default */
#define TOKEN_MESSAGE "Authorization: Bearer TOKEN"

static char dir[64];
static char root_url[64]; /* http://127.0.0.1:PORT */
static char token[TOKEN_LEN + 8];
static char bearer[TOKEN_LEN + 32]; /* "Authorization: Bearer TOKEN" */

static struct node_thread {
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

/* ---- the node ---- */

/* A port the kernel calls free on 127.0.0.1 now, for @type. */
static unsigned int free_port(int type)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
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

static int write_config(unsigned int api_port, unsigned int flow_port)
{
	FILE *f;

	snprintf(node.config, sizeof(node.config), "%s/node.ini", dir);
	f = fopen(node.config, "w");
	if (!f)
		return -errno;
	fprintf(f,
		"[node]\n"
		"name = " NODE_NAME "\n"
		"api = 127.0.0.1:%u\n"
		"state_dir = %s/state\n"
		"rt_priority = 0\n"
		"status_interval = 0\n"
		"[discovery]\n"
		"sap = off\n"
		"mdns = off\n"
		"[source program]\n"
		"type = tone\n"
		"channels = %d\n"
		"[flow main]\n"
		"source = program\n"
		"destination = 127.0.0.1:%u\n"
		"[subscription cfg]\n"
		"stream = nosuch cfg\n"
		"latency = 2ms\n",
		api_port, dir, TX_CHANNELS, flow_port);
	return fclose(f) ? -errno : 0;
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
static void request(struct reply *r, const char *method, const char *path,
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
static void call_len(struct reply *r, const char *method, const char *path,
		     const char *body, size_t len, const char *auth)
{
	char full[512];

	snprintf(full, sizeof(full), "/api/v1%s", path);
	request(r, method, full, body, len, auth);
}

static void call(struct reply *r, const char *method, const char *path,
		 const char *body, const char *auth)
{
	call_len(r, method, path, body, body ? strlen(body) : 0, auth);
}

static void reply_free(struct reply *r)
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
static int stop_node(void)
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
static int start_node(void)
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

static int group_teardown(void **state)
{
	int rc = stop_node();

	curl_global_cleanup();
	if (dir[0] && nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS) < 0)
		rc = -1;
	return rc;
}

static int group_setup(void **state)
{
	unsigned int api_port = free_port(SOCK_STREAM);
	unsigned int flow_port = free_port(SOCK_DGRAM);
	sigset_t mask;

	snprintf(dir, sizeof(dir), "/tmp/d4-test-api-XXXXXX");
	if (!mkdtemp(dir) || !api_port || !flow_port ||
	    write_config(api_port, flow_port) < 0 ||
	    curl_global_init(CURL_GLOBAL_DEFAULT)) {
		fprintf(stderr, "test setup failed: %s\n", strerror(errno));
		return -1;
	}
	snprintf(root_url, sizeof(root_url), "http://127.0.0.1:%u", api_port);
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
	if (start_node() < 0) {
		group_teardown(state);
		return -1;
	}
	return 0;
}

/* ---- assertions ---- */

static void assert_status(const struct reply *r, long status)
{
	if (r->status != status)
		print_message("want %ld, got %ld: %s\n", status, r->status,
			      r->text ? r->text : "(no body)");
	assert_int_equal(r->status, status);
}

/* @r is {"error": "...@needle..."} with @status. */
static bool is_error(const struct reply *r, long status, const char *needle)
{
	const char *msg = json_string_value(json_object_get(r->json, "error"));

	return r->status == status && msg && strstr(msg, needle);
}

static void assert_error(const struct reply *r, long status, const char *needle)
{
	if (!is_error(r, status, needle))
		print_message("want %ld with an error saying \"%s\", got "
			      "%ld: %s\n",
			      status, needle, r->status,
			      r->text ? r->text : "(no body)");
	assert_true(is_error(r, status, needle));
}

/* @method @path @body with the token: @status and its JSON (the
 * caller frees it). */
static json_t *ok(const char *method, const char *path, const char *body,
		  long status)
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

static json_t *get(const char *path)
{
	return ok("GET", path, NULL, 200);
}

static json_t *member(const json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	if (!v)
		print_message("no member '%s'\n", key);
	assert_non_null(v);
	return v;
}

static const char *member_str(const json_t *o, const char *key)
{
	json_t *v = member(o, key);

	assert_true(json_is_string(v));
	return json_string_value(v);
}

static json_int_t member_int(const json_t *o, const char *key)
{
	json_t *v = member(o, key);

	assert_true(json_is_integer(v));
	return json_integer_value(v);
}

/* The element of @list whose "name" is @name, or NULL. */
static json_t *named(const json_t *list, const char *name)
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

static bool listed(const char *path, const char *name)
{
	json_t *list = get(path);
	bool found = named(list, name) != NULL;

	json_decref(list);
	return found;
}

/* A request that must be refused, and a part of its message. */
struct bad_req {
	const char *method, *path, *body;
	long status;
	const char *msg;
};

static void check_refusals(const struct bad_req *t, size_t n)
{
	struct reply r;
	size_t i;

	for (i = 0; i < n; i++) {
		call(&r, t[i].method, t[i].path, t[i].body, AUTH_TOKEN);
		if (!is_error(&r, t[i].status, t[i].msg))
			print_message("%s %s %s\n", t[i].method, t[i].path,
				      t[i].body ? t[i].body : "(no body)");
		assert_error(&r, t[i].status, t[i].msg);
		reply_free(&r);
	}
}

/* ---- node, reads, routing ---- */

static void test_api_token_file_is_0600_hex(void **state)
{
	char path[128];
	struct stat st;
	size_t i;

	snprintf(path, sizeof(path), "%s/state/token", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(strlen(token), TOKEN_LEN);
	for (i = 0; i < TOKEN_LEN; i++)
		assert_true(isxdigit((unsigned char)token[i]));
}

static void test_api_node_gives_name_id_version(void **state)
{
	json_t *j = get("/node"), *clock;
	const char *id = member_str(j, "id");

	assert_string_equal(member_str(j, "name"), NODE_NAME);
	assert_string_equal(member_str(j, "version"), D4_VERSION);
	assert_int_equal(strlen(id), 16); /* an EUI-64 in hex */
	assert_true(json_is_number(member(j, "uptime_s")));
	assert_int_equal(member_int(j, "tx_channels"), TX_CHANNELS);
	assert_int_equal(member_int(j, "rx_channels"), RX_CHANNELS);
	clock = member(j, "clock");
	assert_string_equal(member_str(clock, "state"), "free-run");
	json_decref(j);
	j = get("/ptp");
	assert_string_equal(member_str(j, "state"), "free-run");
	json_decref(j);
}

/* docs/api.md: Dante's rule for device names, else 400. */
static void test_api_node_rename(void **state)
{
	static const struct bad_req t[] = {
	    {"PUT", "/node", NULL, 400, "PUT /node takes {\"name\": NAME}"},
	    {"PUT", "/node", "{}", 400, "PUT /node takes {\"name\": NAME}"},
	    {"PUT", "/node", "{\"name\":7}", 400, "PUT /node takes"},
	    {"PUT", "/node", "{\"name\":\"a\",\"id\":\"b\"}", 400,
	     "PUT /node takes"},
	    {"PUT", "/node", "{\"name\":\"\"}", 400,
	     "'name' must be 1-31 letters, digits and '-'"},
	    {"PUT", "/node", "{\"name\":\"-stage\"}", 400, "'name' must be"},
	    {"PUT", "/node", "{\"name\":\"stage-\"}", 400, "'name' must be"},
	    {"PUT", "/node", "{\"name\":\"stage left\"}", 400,
	     "'name' must be"},
	    {"PUT", "/node", "{\"name\":\"stage_left\"}", 400,
	     "'name' must be"},
	    {"PUT", "/node", "{\"name\":\"abcdefghijklmnopqrstuvwxyz012345\"}",
	     400, "'name' must be"},
	};
	json_t *j;

	check_refusals(t, sizeof(t) / sizeof(t[0]));
	j = get("/node");
	assert_string_equal(member_str(j, "name"), NODE_NAME);
	json_decref(j);
	j = ok("PUT", "/node", "{\"name\":\"Api-Test-2\"}", 200);
	assert_string_equal(member_str(j, "name"), "Api-Test-2");
	member_str(j, "version");
	json_decref(j);
	j = get("/node");
	assert_string_equal(member_str(j, "name"), "Api-Test-2");
	json_decref(j);
	j = ok("PUT", "/node", "{\"name\":\"" NODE_NAME "\"}", 200);
	assert_string_equal(member_str(j, "name"), NODE_NAME);
	json_decref(j);
}

static void test_api_reads_have_their_members(void **state)
{
	json_t *j, *o, *ch, *sap;
	size_t i;

	j = get("/channels");
	assert_int_equal(json_array_size(member(j, "tx")), TX_CHANNELS);
	assert_int_equal(json_array_size(member(j, "rx")), RX_CHANNELS);
	o = json_array_get(member(j, "tx"), 0);
	assert_int_equal(member_int(o, "channel"), 1);
	assert_string_equal(member_str(o, "source"), "program");
	assert_true(json_is_array(member(o, "flows")));
	o = json_array_get(member(j, "rx"), RX_CHANNELS - 1);
	assert_int_equal(member_int(o, "channel"), RX_CHANNELS);
	assert_true(json_is_null(member(o, "subscription")));
	json_decref(j);

	/* a flow's stream: its session name and SDP as announced */
	j = get("/flows");
	o = named(j, "main");
	assert_non_null(o);
	assert_string_equal(member_str(o, "session"), NODE_NAME " main");
	assert_non_null(strstr(member_str(o, "sdp"), "s=" NODE_NAME " main\r\n"));
	assert_non_null(strstr(member_str(o, "sdp"), "a=rtpmap:98 L24/48000/2"));
	json_decref(j);

	j = get("/meters");
	assert_int_equal(member_int(j, "window_ms"), 50);
	assert_true(json_is_array(member(j, "subscriptions")));
	o = named(member(j, "flows"), "main");
	assert_non_null(o);
	assert_true(json_is_integer(member(o, "updates")));
	ch = member(o, "channels");
	assert_int_equal(json_array_size(ch), TX_CHANNELS);
	json_array_foreach(ch, i, o)
	{
		assert_int_equal(member_int(o, "channel"), (json_int_t)i + 1);
		member(o, "peak_dbfs");
		member(o, "rms_dbfs");
	}
	json_decref(j);

	j = get("/stats");
	o = member(member(j, "flows"), "main");
	member_int(o, "packets");
	member_int(o, "send_errors");
	member_int(o, "skipped");
	assert_true(json_is_object(member(j, "subscriptions")));
	sap = member(j, "sap");
	member_int(sap, "entries");
	member_int(sap, "evicted");
	/* docs/api.md: 0 when the node does not listen for SAP */
	assert_int_equal(member_int(sap, "max_entries"), 0);
	json_decref(j);

	j = get("/flows");
	o = named(j, "main");
	assert_non_null(o);
	assert_string_equal(member_str(o, "origin"), "config");
	json_decref(j);
	j = get("/streams");
	assert_true(json_is_array(j));
	json_decref(j);
	j = get("/subscriptions");
	assert_true(json_is_array(j));
	json_decref(j);
	j = get("/d4/programs");
	assert_non_null(named(j, "flow_main")); /* the flow's default loop */
	json_decref(j);
	j = get("/d4/vars");
	assert_non_null(named(j, "_main_receivers")); /* a unicast flow's */
	json_decref(j);
}

static void test_api_unknown_path_is_404(void **state)
{
	static const struct bad_req t[] = {
	    {"GET", "/nosuch", NULL, 404, "no such resource '/api/v1/nosuch'"},
	    {"GET", "/node/extra", NULL, 404, "no such resource"},
	    {"GET", "/d4", NULL, 404, "no such resource"},
	    {"POST", "/nosuch", "{}", 404, "no such resource"},
	};
	struct reply r;

	check_refusals(t, sizeof(t) / sizeof(t[0]));
	/* outside /api/v1 */
	request(&r, "GET", "/api/v2/node", NULL, 0, NULL);
	assert_error(&r, 404, "no such resource '/api/v2/node'");
	reply_free(&r);
	request(&r, "GET", "/api/v1node", NULL, 0, NULL);
	assert_error(&r, 404, "no such resource '/api/v1node'");
	reply_free(&r);
}

/* docs/api.md: 405 for a method a known path does not take. */
static void test_api_wrong_method_is_405(void **state)
{
	static const struct bad_req t[] = {
	    {"DELETE", "/node", NULL, 405, "method not allowed"},
	    {"DELETE", "/flows", NULL, 405, "method not allowed"},
	    {"GET", "/flows/main", NULL, 405, "method not allowed"},
	    {"POST", "/channels", "{}", 405, "method not allowed"},
	    {"GET", "/d4/exec", NULL, 405, "method not allowed"},
	    {"PUT", "/stats", "{}", 405, "method not allowed"},
	};
	struct reply r;

	check_refusals(t, sizeof(t) / sizeof(t[0]));
	/* RFC 9110: a 405 says what the path takes */
	call(&r, "DELETE", "/node", NULL, AUTH_TOKEN);
	assert_error(&r, 405, "method not allowed");
	assert_string_equal(r.allow, "GET, PUT");
	reply_free(&r);
	call(&r, "GET", "/flows/main", NULL, AUTH_TOKEN);
	assert_string_equal(r.allow, "DELETE");
	reply_free(&r);
	/* a read needs no token, so a wrong method on one is 405 still */
	call(&r, "GET", "/d4/exec", NULL, NULL);
	assert_error(&r, 405, "method not allowed");
	reply_free(&r);
}

/* ---- authorization ---- */

/* What a write could change: the node's name, names of flows,
 * subscriptions and D4 loops (with running), the channels, the D4
 * variables, the state file. As text, for one strcmp. */
static char *snapshot(void)
{
	json_t *s = json_object(), *j, *o, *names;
	char path[128], *text;
	const char *lists[] = {"/flows", "/subscriptions", "/d4/programs"};
	size_t i, k;
	FILE *f;

	for (k = 0; k < sizeof(lists) / sizeof(lists[0]); k++) {
		names = json_array();
		j = get(lists[k]);
		json_array_foreach(j, i, o)
		{
			json_array_append(names, member(o, "name"));
			if (json_object_get(o, "running"))
				json_array_append(
				    names, json_object_get(o, "running"));
		}
		json_object_set_new(s, lists[k], names);
		json_decref(j);
	}
	j = get("/node");
	json_object_set(s, "/node", member(j, "name"));
	json_decref(j);
	json_object_set_new(s, "/channels", get("/channels"));
	json_object_set_new(s, "/d4/vars", get("/d4/vars"));
	snprintf(path, sizeof(path), "%s/state/state.json", dir);
	f = fopen(path, "r");
	if (f) {
		char buf[65536];
		size_t n = fread(buf, 1, sizeof(buf) - 1, f);

		buf[n] = '\0';
		fclose(f);
		json_object_set_new(s, "state.json", json_string(buf));
	}
	text = json_dumps(s, JSON_SORT_KEYS | JSON_COMPACT);
	json_decref(s);
	assert_non_null(text);
	return text;
}

/* Every write, each of which would succeed (or change something) with
 * the token, without it and with wrong ones: 401, and nothing changed. */
static void test_api_writes_without_token_are_401(void **state)
{
	static const struct bad_req writes[] = {
	    {"PUT", "/node", "{\"name\":\"evil\"}"},
	    {"POST", "/flows",
	     "{\"name\":\"evil\",\"source\":\"program\","
	     "\"destination\":\"127.0.0.1:5004\"}"},
	    {"DELETE", "/flows/main", NULL},
	    {"POST", "/subscriptions",
	     "{\"name\":\"evil\",\"stream\":\"evil\",\"rx_channels\":[1]}"},
	    {"PUT", "/subscriptions/evil", "{\"latency_us\":5000}"},
	    {"DELETE", "/subscriptions/evil", NULL},
	    {"PUT", "/channels/tx/1", "{\"name\":\"Evil\"}"},
	    {"PUT", "/channels/rx/1", "{\"name\":\"Evil\"}"},
	    {"POST", "/d4/exec", "{\"text\":\"IP[] _evil\"}"},
	    {"POST", "/d4/programs/flow_main/stop", NULL},
	};
	char wrong[TOKEN_LEN + 16], longer[TOKEN_LEN + 16];
	char shorter[TOKEN_LEN + 16], basic[TOKEN_LEN + 16];
	char nospace[TOKEN_LEN + 16];
	const char *auths[] = {NULL,  wrong,   longer,	 shorter,
			       basic, nospace, "Bearer "};
	char *before = snapshot(), *after;
	struct reply r;
	size_t w, a;

	/* same length, last digit changed: the compare reads every byte */
	snprintf(wrong, sizeof(wrong), "Bearer %s", token);
	wrong[strlen(wrong) - 1] = token[TOKEN_LEN - 1] == '0' ? '1' : '0';
	snprintf(longer, sizeof(longer), "Bearer %s0", token);
	snprintf(shorter, sizeof(shorter), "Bearer %.*s", TOKEN_LEN - 1, token);
	snprintf(basic, sizeof(basic), "Basic %s", token);
	snprintf(nospace, sizeof(nospace), "Bearer%s", token);
	for (w = 0; w < sizeof(writes) / sizeof(writes[0]); w++) {
		for (a = 0; a < sizeof(auths) / sizeof(auths[0]); a++) {
			call(&r, writes[w].method, writes[w].path,
			     writes[w].body, auths[a]);
			if (!is_error(&r, 401, TOKEN_MESSAGE))
				print_message("%s %s, Authorization: %s\n",
					      writes[w].method, writes[w].path,
					      auths[a] ? auths[a] : "(none)");
			assert_error(&r, 401, TOKEN_MESSAGE);
			reply_free(&r);
		}
	}
	after = snapshot();
	assert_string_equal(after, before);
	free(before);
	free(after);
	/* reads are open ([node] api_read_token = no), even with a wrong
	 * token */
	call(&r, "GET", "/flows", NULL, wrong);
	assert_status(&r, 200);
	reply_free(&r);
}

/* ---- bodies ---- */

static void test_api_bad_bodies_are_400(void **state)
{
	static const struct bad_req t[] = {
	    {"POST", "/flows", "{\"name\": broken", 400,
	     "the body is not a JSON object"},
	    {"POST", "/flows", "{\"name\": \"a\",}", 400,
	     "the body is not a JSON object"},
	    {"POST", "/subscriptions", "[1, 2]", 400, "the body is not a JSON object"},
	    {"POST", "/d4/exec", "\"text\"", 400,
	     "the body is not a JSON object"},
	    {"PUT", "/channels/tx/1", "42", 400,
	     "the body is not a JSON object"},
	    {"POST", "/flows", NULL, 400, "POST /flows needs a JSON body"},
	    {"POST", "/subscriptions", NULL, 400,
	     "POST /subscriptions needs a JSON body"},
	    {"POST", "/d4/exec", NULL, 400, "needs {\"text\""},
	};

	check_refusals(t, sizeof(t) / sizeof(t[0]));
}

/* docs/api.md: bodies of at most 64 KiB, 413 beyond. */
static void test_api_body_over_64k_is_413(void **state)
{
	size_t len = BODY_MAX + 4464; /* 70000, as tests/lab/api.sh */
	char *body = malloc(len + 1);
	const char *text = "{\"text\":\"x += 1\"}";
	struct reply r;

	assert_non_null(body);
	memset(body, ' ', len);
	body[len] = '\0';
	memcpy(body, text, strlen(text));
	call_len(&r, "POST", "/d4/exec", body, len, AUTH_TOKEN);
	assert_error(&r, 413, "request body over 65536 bytes");
	reply_free(&r);
	call_len(&r, "POST", "/flows", body, len, AUTH_TOKEN);
	assert_error(&r, 413, "request body over 65536 bytes");
	reply_free(&r);
	/* exactly 64 KiB is taken: the D4 compiler answers, not the limit */
	call_len(&r, "POST", "/d4/exec", body, BODY_MAX, AUTH_TOKEN);
	assert_error(&r, 400, "undefined name 'x'");
	reply_free(&r);
	free(body);
}

/* ---- flows ---- */

static void test_api_flow_create_refuses_bad_fields(void **state)
{
	static const struct bad_req t[] = {
	    {"POST", "/flows",
	     "{\"source\":\"program\",\"destination\":\"127.0.0.1\"}", 400,
	     "'name' must be a string of 1-"},
	    {"POST", "/flows",
	     "{\"name\":\"\",\"source\":\"program\","
	     "\"destination\":\"127.0.0.1\"}",
	     400, "'name' must be"},
	    {"POST", "/flows",
	     "{\"name\":7,\"source\":\"program\","
	     "\"destination\":\"127.0.0.1\"}",
	     400, "'name' must be"},
	    {"POST", "/flows",
	     "{\"name\":\"a123456789b123456789c123456789d123456789e123456789"
	     "f123456789g1234\",\"source\":\"program\","
	     "\"destination\":\"127.0.0.1\"}",
	     400, "'name' must be"},
	    /* a name is a path segment and a line of SDP */
	    {"POST", "/flows",
	     "{\"name\":\"a/b\",\"source\":\"program\","
	     "\"destination\":\"127.0.0.1\"}",
	     400, "without '/' or control characters"},
	    {"POST", "/flows",
	     "{\"name\":\"a\\nb\",\"source\":\"program\","
	     "\"destination\":\"127.0.0.1\"}",
	     400, "without '/' or control characters"},
	    {"POST", "/flows",
	     "{\"name\":\"bad\",\"source\":\"nosuch\","
	     "\"destination\":\"127.0.0.1\"}",
	     400, "'source': no source 'nosuch' on this node"},
	    {"POST", "/flows",
	     "{\"name\":\"bad\",\"destination\":\"127.0.0.1\"}", 400,
	     "'source'"},
	    {"POST", "/flows", "{\"name\":\"bad\",\"source\":\"program\"}", 400,
	     "'destination' must be ADDR[:PORT]"},
	    {"POST", "/flows",
	     "{\"name\":\"bad\",\"source\":\"program\","
	     "\"destination\":\"10.0.0.300:5004\"}",
	     400, "'destination' must be ADDR[:PORT], not '10.0.0.300:5004'"},
	    {"POST", "/flows",
	     "{\"name\":\"bad\",\"source\":\"program\","
	     "\"destination\":\"127.0.0.1:70000\"}",
	     400, "not '127.0.0.1:70000'"},
	    {"POST", "/flows",
	     "{\"name\":\"bad\",\"source\":\"program\","
	     "\"destination\":\"stagebox:5004\"}",
	     400, "not 'stagebox:5004'"},
	    {"POST", "/flows",
	     "{\"name\":\"bad\",\"source\":\"program\",\"channels\":[1,3],"
	     "\"destination\":\"127.0.0.1\"}",
	     400, "'channels': 3 is not a channel of source 'program' (1-2)"},
	    {"POST", "/flows",
	     "{\"name\":\"bad\",\"source\":\"program\",\"channels\":[0],"
	     "\"destination\":\"127.0.0.1\"}",
	     400, "'channels': 0 is not a channel"},
	    {"POST", "/flows",
	     "{\"name\":\"bad\",\"source\":\"program\",\"channels\":[\"1\"],"
	     "\"destination\":\"127.0.0.1\"}",
	     400, "'channels'"},
	    {"POST", "/flows",
	     "{\"name\":\"bad\",\"source\":\"program\",\"channels\":\"1-2\","
	     "\"destination\":\"127.0.0.1\"}",
	     400, "'channels' must be a list of source channels"},
	    {"POST", "/flows",
	     "{\"name\":\"bad\",\"source\":\"program\",\"encoding\":\"L32\","
	     "\"destination\":\"127.0.0.1\"}",
	     400, "'encoding' must be L24 or L16, not 'L32'"},
	    {"POST", "/flows",
	     "{\"name\":\"bad\",\"source\":\"program\",\"ptime_us\":100,"
	     "\"destination\":\"127.0.0.1\"}",
	     400, "'ptime_us' must be an integer from 125 to 4000"},
	    {"POST", "/flows",
	     "{\"name\":\"bad\",\"source\":\"program\",\"dscp\":64,"
	     "\"destination\":\"127.0.0.1\"}",
	     400, "'dscp' must be an integer from 0 to 63"},
	    {"POST", "/flows",
	     "{\"name\":\"bad\",\"source\":\"program\",\"ttl\":0,"
	     "\"destination\":\"127.0.0.1\"}",
	     400, "'ttl' must be an integer from 1 to 255"},
	    {"POST", "/flows",
	     "{\"name\":\"main\",\"source\":\"program\","
	     "\"destination\":\"127.0.0.1\"}",
	     409, "flow 'main' exists already"},
	};

	check_refusals(t, sizeof(t) / sizeof(t[0]));
	assert_false(listed("/flows", "bad"));
}

static void test_api_flow_create_duplicate_delete(void **state)
{
	char body[256];
	json_t *j, *ch;
	char *text;
	struct reply r;

	snprintf(body, sizeof(body),
		 "{\"name\":\"mon\",\"source\":\"program\",\"channels\":[2,1],"
		 "\"destination\":\"127.0.0.1:%u\",\"ptime_us\":250}",
		 free_port(SOCK_DGRAM));
	j = ok("POST", "/flows", body, 201);
	assert_string_equal(member_str(j, "name"), "mon");
	assert_string_equal(member_str(j, "source"), "program");
	assert_string_equal(member_str(j, "origin"), "api");
	assert_string_equal(member_str(j, "encoding"), "L24");
	assert_int_equal(member_int(j, "ptime_us"), 250);
	assert_true(json_is_false(member(j, "multicast")));
	assert_non_null(strstr(member_str(j, "destination"), "127.0.0.1:"));
	ch = member(j, "channels");
	assert_int_equal(json_array_size(ch), 2);
	assert_int_equal(json_integer_value(json_array_get(ch, 0)), 2);
	assert_int_equal(json_integer_value(json_array_get(ch, 1)), 1);
	member(j, "stats");
	json_decref(j);
	assert_true(listed("/flows", "mon"));

	call(&r, "POST", "/flows", body, AUTH_TOKEN);
	assert_error(&r, 409, "flow 'mon' exists already");
	reply_free(&r);

	call(&r, "DELETE", "/flows/mon", NULL, AUTH_TOKEN);
	assert_status(&r, 204);
	assert_int_equal(r.len, 0);
	reply_free(&r);
	assert_false(listed("/flows", "mon"));
	call(&r, "DELETE", "/flows/mon", NULL, AUTH_TOKEN);
	assert_error(&r, 404, "no flow 'mon'");
	reply_free(&r);
	/* made again under the same name: its relay list (left in the D4
	 * runtime, which cannot undeclare) starts over with its receiver */
	json_decref(ok("POST", "/flows", body, 201));
	j = ok("GET", "/d4/vars", NULL, 200);
	text = json_dumps(j, 0);
	assert_non_null(strstr(text, "_mon_receivers"));
	free(text);
	json_decref(j);
	call(&r, "DELETE", "/flows/mon", NULL, AUTH_TOKEN);
	assert_status(&r, 204);
	reply_free(&r);
	/* a D4 variable of the user's by the list's name, of another type:
	 * a clash with D4 state, 409 */
	json_decref(ok("POST", "/d4/exec", "{\"text\":\"int _mon3_receivers\"}",
		       200));
	snprintf(body, sizeof(body),
		 "{\"name\":\"mon3\",\"source\":\"program\","
		 "\"destination\":\"127.0.0.1:%u\"}",
		 free_port(SOCK_DGRAM));
	call(&r, "POST", "/flows", body, AUTH_TOKEN);
	assert_error(&r, 409, "its D4 loop");
	reply_free(&r);
	assert_false(listed("/flows", "mon3"));
	/* the name is percent-decoded, once, before the message quotes it */
	call(&r, "DELETE", "/flows/no%20such", NULL, AUTH_TOKEN);
	assert_error(&r, 404, "no flow 'no such'");
	reply_free(&r);
	call(&r, "DELETE", "/flows/no%2520such", NULL, AUTH_TOKEN);
	assert_error(&r, 404, "no flow 'no%20such'");
	reply_free(&r);
	/* "mon-x" and "mon.x" are both flow_mon_x in D4: the second is
	 * refused, not handed the first one's loop and relay list */
	snprintf(body, sizeof(body),
		 "{\"name\":\"mon-x\",\"source\":\"program\","
		 "\"destination\":\"127.0.0.1:%u\"}",
		 free_port(SOCK_DGRAM));
	json_decref(ok("POST", "/flows", body, 201));
	snprintf(body, sizeof(body),
		 "{\"name\":\"mon.x\",\"source\":\"program\","
		 "\"destination\":\"127.0.0.1:%u\"}",
		 free_port(SOCK_DGRAM));
	call(&r, "POST", "/flows", body, AUTH_TOKEN);
	assert_error(&r, 409, "flow mon-x has the D4 loop name flow_mon_x");
	reply_free(&r);
	assert_false(listed("/flows", "mon.x"));
	call(&r, "DELETE", "/flows/mon-x", NULL, AUTH_TOKEN);
	assert_status(&r, 204);
	reply_free(&r);
	/* a name longer than D4's names: cut, not overrun */
	snprintf(body, sizeof(body),
		 "{\"name\":\"a123456789b123456789c123456789d123456789e12\","
		 "\"source\":\"program\",\"destination\":\"127.0.0.1:%u\"}",
		 free_port(SOCK_DGRAM));
	json_decref(ok("POST", "/flows", body, 201));
	call(&r, "DELETE",
	     "/flows/a123456789b123456789c123456789d123456789e12", NULL,
	     AUTH_TOKEN);
	assert_status(&r, 204);
	reply_free(&r);
	call(&r, "DELETE", "/flows/main", NULL, AUTH_TOKEN);
	assert_error(&r, 409, "flow 'main' comes from the config file");
	reply_free(&r);
	assert_true(listed("/flows", "main"));
}

/* ---- subscriptions ---- */

#define SUB(fields)	 "{\"name\":\"bad\"," fields "}"
#define SUB_ADDR(fields) SUB("\"address\":\"127.0.0.1:5004\"," fields)

static void test_api_subscription_create_refuses_bad_fields(void **state)
{
	static const struct bad_req t[] = {
	    {"POST", "/subscriptions", "{\"address\":\"127.0.0.1\"}", 400,
	     "'name' must be a string of 1-"},
	    {"POST", "/subscriptions", SUB("\"channels\":2"), 400,
	     "give exactly one of 'stream', 'sdp' or 'address'"},
	    {"POST", "/subscriptions",
	     SUB("\"stream\":\"x\",\"address\":\"127.0.0.1\""), 400,
	     "give exactly one of"},
	    {"POST", "/subscriptions", SUB("\"stream\":\"\""), 400,
	     "'stream' must be a stream name"},
	    {"POST", "/subscriptions", SUB_ADDR("\"latency_us\":249"), 400,
	     "'latency_us' must be an integer from 250 to 100000"},
	    {"POST", "/subscriptions", SUB_ADDR("\"latency_us\":100001"), 400,
	     "'latency_us' must be an integer from 250 to 100000"},
	    {"POST", "/subscriptions", SUB_ADDR("\"latency_us\":\"2000\""), 400,
	     "'latency_us' must be an integer"},
	    {"POST", "/subscriptions", SUB_ADDR("\"channels\":0"), 400,
	     "'channels' must be an integer from 1 to 64"},
	    {"POST", "/subscriptions", SUB_ADDR("\"channels\":65"), 400,
	     "'channels' must be an integer from 1 to 64"},
	    {"POST", "/subscriptions", SUB_ADDR("\"rate\":8000"), 400,
	     "'rate' must be an integer from 44100 to 96000"},
	    {"POST", "/subscriptions", SUB_ADDR("\"payload_type\":128"), 400,
	     "'payload_type' must be an integer from 0 to 127"},
	    {"POST", "/subscriptions", SUB_ADDR("\"encoding\":\"PCM\""), 400,
	     "'encoding' must be L24 or L16, not 'PCM'"},
	    {"POST", "/subscriptions", SUB_ADDR("\"timing\":\"often\""), 400,
	     "'timing' must be auto, ptp or arrival, not 'often'"},
	    {"POST", "/subscriptions", SUB("\"address\":\"nowhere\""), 400,
	     "'address' must be ADDR[:PORT], not 'nowhere'"},
	    {"POST", "/subscriptions", SUB("\"address\":\"127.0.0.1:0\""), 400,
	     "'address' must be ADDR[:PORT], not '127.0.0.1:0'"},
	    {"POST", "/subscriptions", SUB("\"sdp\":\"v=0\""), 400, "'sdp': "},
	    {"POST", "/subscriptions", SUB_ADDR("\"rx_channels\":[9]"), 400,
	     "RX channel 9: the node has 8"},
	    {"POST", "/subscriptions", SUB_ADDR("\"rx_channels\":[0]"), 400,
	     "'rx_channels': channels are numbers from 1 to 64"},
	    {"POST", "/subscriptions", SUB_ADDR("\"rx_channels\":[]"), 400,
	     "'rx_channels' must be an array of 1-64 channel numbers"},
	    {"POST", "/subscriptions", SUB_ADDR("\"rx_channels\":[1,1]"), 400,
	     "RX channel 1 given twice"},
	    {"POST", "/subscriptions", SUB_ADDR("\"stream_channels\":[1]"), 400,
	     "'stream_channels' needs 'rx_channels'"},
	    {"POST", "/subscriptions",
	     SUB_ADDR("\"rx_channels\":[1,2],\"stream_channels\":[1]"), 400,
	     "1 stream_channels for 2 rx_channels"},
	    {"POST", "/subscriptions",
	     SUB_ADDR("\"rx_channels\":[1],\"stream_channels\":[3]"), 400,
	     "stream channel 3: the stream has 2"},
	    {"POST", "/subscriptions",
	     SUB_ADDR("\"rate\":44100,\"rx_channels\":[1]"), 400,
	     "the stream runs at 44100 Hz; RX channels at 48000 Hz"},
	    {"POST", "/subscriptions", SUB_ADDR("\"record\":{\"start\":1}"),
	     400, "'record' needs {\"path\": FILE"},
	    {"POST", "/subscriptions",
	     SUB_ADDR("\"record\":{\"path\":\"x.wav\",\"start\":-1}"), 400,
	     "start and duration are numbers of seconds from 0 to"},
	    {"POST", "/subscriptions",
	     SUB_ADDR("\"record\":{\"path\":\"x.wav\",\"duration\":1e300}"),
	     400, "start and duration are numbers of seconds from 0 to"},
	    {"POST", "/subscriptions", "{\"name\":\"a/b\",\"stream\":\"x\"}",
	     400, "without '/' or control characters"},
	};

	check_refusals(t, sizeof(t) / sizeof(t[0]));
	assert_false(listed("/subscriptions", "bad"));
}

/* Subscriptions by stream name open no socket: they run under qemu-user
 * too (tests/unit/qemu_user.h). */
static void test_api_subscription_rx_channels_taken_is_409(void **state)
{
	static const char *a = "{\"name\":\"rx-a\",\"stream\":\"nosuch A\","
			       "\"rx_channels\":[1,2]}";
	static const char *b = "{\"name\":\"rx-b\",\"stream\":\"nosuch B\","
			       "\"rx_channels\":[2,3]}";
	json_t *j, *rx;
	struct reply r;

	j = ok("POST", "/subscriptions", a, 201);
	assert_string_equal(member_str(j, "name"), "rx-a");
	assert_string_equal(member_str(j, "state"), "unresolved");
	assert_string_equal(member_str(j, "origin"), "api");
	assert_int_equal(json_array_size(member(j, "rx_channels")), 2);
	json_decref(j);

	call(&r, "POST", "/subscriptions", b, AUTH_TOKEN);
	assert_error(&r, 409, "RX channel 2 is taken by subscription rx-a");
	reply_free(&r);
	assert_false(listed("/subscriptions", "rx-b"));
	call(&r, "POST", "/subscriptions", a, AUTH_TOKEN);
	assert_error(&r, 409, "subscription 'rx-a' exists already");
	reply_free(&r);

	j = get("/channels");
	rx = json_array_get(member(j, "rx"), 1);
	assert_string_equal(member_str(rx, "subscription"), "rx-a");
	assert_int_equal(member_int(rx, "stream_channel"), 2);
	json_decref(j);

	/* once rx-a is gone, its channels are free */
	call(&r, "DELETE", "/subscriptions/rx-a", NULL, AUTH_TOKEN);
	assert_status(&r, 204);
	reply_free(&r);
	json_decref(ok("POST", "/subscriptions", b, 201));
	call(&r, "DELETE", "/subscriptions/rx-b", NULL, AUTH_TOKEN);
	assert_status(&r, 204);
	reply_free(&r);
}

static void test_api_subscription_update_delete(void **state)
{
	static const struct bad_req t[] = {
	    {"PUT", "/subscriptions/nosuch", "{\"latency_us\":5000}", 404,
	     "no subscription 'nosuch'"},
	    {"DELETE", "/subscriptions/nosuch", NULL, 404,
	     "no subscription 'nosuch'"},
	    {"PUT", "/subscriptions/lat", "{\"latency_us\":100}", 400,
	     "'latency_us' must be an integer from 250 to 100000"},
	    {"PUT", "/subscriptions/lat", "{\"latency_us\":2.5}", 400,
	     "'latency_us' must be an integer"},
	    {"PUT", "/subscriptions/lat", "{}", 400,
	     "PUT needs {\"latency_us\": N}"},
	    {"PUT", "/subscriptions/lat", NULL, 400,
	     "PUT needs {\"latency_us\": N}"},
	};
	json_t *j;
	struct reply r;

	json_decref(ok("POST", "/subscriptions",
		       "{\"name\":\"lat\",\"stream\":\"nosuch\"}", 201));
	check_refusals(t, sizeof(t) / sizeof(t[0]));
	j = ok("PUT", "/subscriptions/lat", "{\"latency_us\":5000}", 200);
	assert_int_equal(member_int(j, "latency_us"), 5000);
	json_decref(j);
	call(&r, "DELETE", "/subscriptions/lat", NULL, AUTH_TOKEN);
	assert_status(&r, 204);
	assert_int_equal(r.len, 0);
	reply_free(&r);
	assert_false(listed("/subscriptions", "lat"));
	call(&r, "DELETE", "/subscriptions/lat", NULL, AUTH_TOKEN);
	assert_error(&r, 404, "no subscription 'lat'");
	reply_free(&r);
}

/* By address: a receive socket opens, and reopens for a new latency. */
static void test_api_subscription_by_address(void **state)
{
	char body[256];
	json_t *j;
	struct reply r;

	snprintf(body, sizeof(body),
		 "{\"name\":\"uni\",\"address\":\"127.0.0.1:%u\","
		 "\"channels\":2,\"latency_us\":2000,\"rx_channels\":[7,8]}",
		 free_port(SOCK_DGRAM));
	call(&r, "POST", "/subscriptions", body, AUTH_TOKEN);
	if (r.status == 400)
		qemu_skip_if_no_timestampns(
		    json_string_value(json_object_get(r.json, "error")));
	assert_status(&r, 201);
	assert_string_equal(member_str(r.json, "state"), "silent");
	assert_int_equal(member_int(r.json, "latency_us"), 2000);
	member(member(r.json, "stats"), "received");
	reply_free(&r);
	j = ok("PUT", "/subscriptions/uni", "{\"latency_us\":3000}", 200);
	assert_int_equal(member_int(j, "latency_us"), 3000);
	json_decref(j);
	j = get("/stats");
	member(member(member(j, "subscriptions"), "uni"), "received");
	json_decref(j);
	j = get("/meters");
	assert_non_null(named(member(j, "subscriptions"), "uni"));
	json_decref(j);
	call(&r, "DELETE", "/subscriptions/uni", NULL, AUTH_TOKEN);
	assert_status(&r, 204);
	reply_free(&r);
}

/* The file descriptors this process has open. */
static unsigned int open_fds(void)
{
	char path[64];
	unsigned int n = 0;
	int fd;

	for (fd = 0; fd < 4096; fd++) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		if (access(path, F_OK) == 0)
			n++;
	}
	return n;
}

/* A deleted subscription's recording is closed and its sink slot freed:
 * more recordings over time than the node has sinks. */
static void test_api_subscription_record_delete_frees_sink(void **state)
{
	char body[512];
	unsigned int i, fds = 0;
	struct stat st;
	struct reply r;

	for (i = 0; i < 70; i++) {
		snprintf(body, sizeof(body),
			 "{\"name\":\"take\",\"address\":\"127.0.0.1:%u\","
			 "\"channels\":2,\"record\":{\"path\":\"%s/take%u.wav\","
			 "\"duration\":1}}",
			 free_port(SOCK_DGRAM), dir, i);
		call(&r, "POST", "/subscriptions", body, AUTH_TOKEN);
		if (r.status == 400)
			qemu_skip_if_no_timestampns(json_string_value(
			    json_object_get(r.json, "error")));
		assert_status(&r, 201);
		reply_free(&r);
		call(&r, "DELETE", "/subscriptions/take", NULL, AUTH_TOKEN);
		assert_status(&r, 204);
		reply_free(&r);
		if (i == 1)
			fds = open_fds();
	}
	/* each recording was opened, and closed with its subscription: 68
	 * more cycles leave no file open (a connection of the API's or of
	 * libcurl's may come and go: a few, not one per cycle) */
	snprintf(body, sizeof(body), "%s/take69.wav", dir);
	assert_int_equal(stat(body, &st), 0);
	assert_in_range(open_fds(), 0, fds + 4);
}

/* A config file's subscription: its latency can be changed, and the
 * change outlives a restart (state.json "latencies"), but it cannot be
 * deleted. */
static void test_api_config_subscription_latency_is_saved(void **state)
{
	json_t *list, *j;
	struct reply r;

	list = get("/subscriptions");
	j = named(list, "cfg");
	assert_non_null(j);
	assert_string_equal(member_str(j, "origin"), "config");
	assert_int_equal(member_int(j, "latency_us"), 2000);
	json_decref(list);
	j = ok("PUT", "/subscriptions/cfg", "{\"latency_us\":7000}", 200);
	assert_int_equal(member_int(j, "latency_us"), 7000);
	json_decref(j);
	call(&r, "DELETE", "/subscriptions/cfg", NULL, AUTH_TOKEN);
	assert_error(&r, 409, "subscription 'cfg' comes from the config file");
	reply_free(&r);

	assert_int_equal(stop_node(), 0);
	assert_int_equal(start_node(), 0);
	list = get("/subscriptions");
	j = named(list, "cfg");
	assert_non_null(j);
	assert_int_equal(member_int(j, "latency_us"), 7000);
	json_decref(list);
	/* back to the file's, which is saved too */
	json_decref(
	    ok("PUT", "/subscriptions/cfg", "{\"latency_us\":2000}", 200));
}

/* ---- channels ---- */

#define BAD_NAME "'name' must be 1-31 characters"

static void test_api_channel_rename(void **state)
{
	static const struct bad_req t[] = {
	    {"PUT", "/channels/tx/3", "{\"name\":\"Vox\"}", 404,
	     "no tx channel 3: the node has 2"},
	    {"PUT", "/channels/rx/9", "{\"name\":\"Vox\"}", 404,
	     "no rx channel 9: the node has 8"},
	    {"PUT", "/channels/tx/0", "{\"name\":\"Vox\"}", 404,
	     "no tx channel '0'"},
	    {"PUT", "/channels/tx/x1", "{\"name\":\"Vox\"}", 404,
	     "no tx channel 'x1'"},
	    {"PUT", "/channels/mid/1", "{\"name\":\"Vox\"}", 404,
	     "channels are /channels/tx/N or /channels/rx/N"},
	    {"PUT", "/channels/tx/1", "{\"name\":\"\"}", 400, BAD_NAME},
	    {"PUT", "/channels/tx/1", "{\"name\":\"12\"}", 400, BAD_NAME},
	    {"PUT", "/channels/tx/1", "{\"name\":\"1-2,3\"}", 400, BAD_NAME},
	    {"PUT", "/channels/tx/1", "{\"name\":\"a@b\"}", 400, BAD_NAME},
	    {"PUT", "/channels/tx/1", "{\"name\":\"a\\\"b\"}", 400, BAD_NAME},
	    {"PUT", "/channels/tx/1", "{\"name\":\"tab\\there\"}", 400,
	     BAD_NAME},
	    {"PUT", "/channels/tx/1",
	     "{\"name\":\"abcdefghijklmnopqrstuvwxyz012345\"}", 400, BAD_NAME},
	    {"PUT", "/channels/tx/1", "{\"name\":7}", 400, BAD_NAME},
	    {"PUT", "/channels/rx/1", NULL, 400, "PUT needs {\"name\": NAME}"},
	};
	json_t *j, *tx;
	struct reply r;

	check_refusals(t, sizeof(t) / sizeof(t[0]));
	j = ok("PUT", "/channels/tx/1", "{\"name\":\"Vox\"}", 200);
	assert_int_equal(member_int(j, "channel"), 1);
	assert_string_equal(member_str(j, "name"), "Vox");
	assert_string_equal(member_str(j, "source"), "program");
	json_decref(j);
	/* 31 characters is the longest */
	j = ok("PUT", "/channels/rx/2",
	       "{\"name\":\"Return L abcdefghijklmnopqrstu\"}", 200);
	assert_int_equal(member_int(j, "channel"), 2);
	json_decref(j);
	call(&r, "PUT", "/channels/tx/2", "{\"name\":\"Vox\"}", AUTH_TOKEN);
	assert_error(&r, 409, "tx channel 1 is called 'Vox' already");
	reply_free(&r);
	/* its own name again is no clash */
	json_decref(ok("PUT", "/channels/tx/1", "{\"name\":\"Vox\"}", 200));
	/* TX and RX names are separate sets */
	json_decref(ok("PUT", "/channels/rx/1", "{\"name\":\"Vox\"}", 200));

	j = get("/channels");
	tx = json_array_get(member(j, "tx"), 0);
	assert_string_equal(member_str(tx, "name"), "Vox");
	tx = json_array_get(member(j, "tx"), 1);
	assert_string_equal(member_str(tx, "name"), "02");
	assert_string_equal(
	    member_str(json_array_get(member(j, "rx"), 1), "name"),
	    "Return L abcdefghijklmnopqrstu");
	json_decref(j);
}

/* ---- D4 ---- */

static void test_api_d4_exec(void **state)
{
	static const struct bad_req t[] = {
	    {"POST", "/d4/exec", "{\"text\":\"x += 1\"}", 400,
	     "1:1: undefined name 'x'"},
	    {"POST", "/d4/exec", "{\"text\":\"IP[] _main_receivers\"}", 400,
	     "'_main_receivers' is already declared"},
	    {"POST", "/d4/exec", "{\"text\":\"loop {\"}", 400, "1:"},
	    {"POST", "/d4/exec", "{\"text\":7}", 400,
	     "POST /d4/exec needs {\"text\": \"D4 text\"}"},
	    {"POST", "/d4/exec", "{}", 400, "POST /d4/exec needs {\"text\""},
	    {"POST", "/d4/programs/nosuch/start", NULL, 404,
	     "no D4 loop 'nosuch'"},
	    {"POST", "/d4/programs/flow_main/jump", NULL, 404,
	     "'jump': start or stop"},
	};
	json_t *j, *v;

	check_refusals(t, sizeof(t) / sizeof(t[0]));
	j = ok("POST", "/d4/exec", "{\"text\":\"IP[] _api_list\"}", 200);
	assert_int_equal(member_int(j, "handle"), -1);
	json_decref(j);
	json_decref(ok("POST", "/d4/exec",
		       "{\"text\":\"_api_list += 127.0.0.1:5004\"}", 200));
	j = get("/d4/vars");
	v = named(j, "_api_list");
	assert_non_null(v);
	assert_string_equal(member_str(v, "type"), "IP[100]");
	assert_string_equal(member_str(v, "value"), "[127.0.0.1:5004]");
	json_decref(j);

	/* a loop is loaded stopped, with a handle */
	j = ok("POST", "/d4/exec",
	       "{\"text\":\"loop api_loop {\\npkt = recv()\\n}\\n\"}", 200);
	assert_true(member_int(j, "handle") >= 0);
	json_decref(j);
	j = get("/d4/programs");
	v = named(j, "api_loop");
	assert_non_null(v);
	assert_true(json_is_false(member(v, "running")));
	json_decref(j);
	j = ok("POST", "/d4/programs/api_loop/start", NULL, 200);
	assert_true(json_is_true(member(j, "running")));
	json_decref(j);
	j = get("/d4/programs");
	assert_true(json_is_true(member(named(j, "api_loop"), "running")));
	json_decref(j);
	j = ok("POST", "/d4/programs/api_loop/stop", NULL, 200);
	assert_true(json_is_false(member(j, "running")));
	json_decref(j);
}

int main(void)
{
	/* Under qemu-user the node's privilege drop (node/privs.c), which
	 * checks every thread in /proc/self/task, finds one that kept its
	 * capabilities (qemu runs threads of its own, which libpsx cannot
	 * reach) and refuses to start. */
	if (getenv("D4_QEMU_USER")) {
		printf("1..0 # SKIP qemu-user: a thread keeps capabilities "
		       "the node cannot drop, so node_run refuses to start\n");
		return 0;
	}
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_api_token_file_is_0600_hex),
	    cmocka_unit_test(test_api_node_gives_name_id_version),
	    cmocka_unit_test(test_api_node_rename),
	    cmocka_unit_test(test_api_reads_have_their_members),
	    cmocka_unit_test(test_api_unknown_path_is_404),
	    cmocka_unit_test(test_api_wrong_method_is_405),
	    cmocka_unit_test(test_api_writes_without_token_are_401),
	    cmocka_unit_test(test_api_bad_bodies_are_400),
	    cmocka_unit_test(test_api_body_over_64k_is_413),
	    cmocka_unit_test(test_api_flow_create_refuses_bad_fields),
	    cmocka_unit_test(test_api_flow_create_duplicate_delete),
	    cmocka_unit_test(test_api_subscription_create_refuses_bad_fields),
	    cmocka_unit_test(test_api_subscription_rx_channels_taken_is_409),
	    cmocka_unit_test(test_api_subscription_update_delete),
	    cmocka_unit_test(test_api_subscription_by_address),
	    cmocka_unit_test(test_api_subscription_record_delete_frees_sink),
	    cmocka_unit_test(test_api_config_subscription_latency_is_saved),
	    cmocka_unit_test(test_api_channel_rename),
	    cmocka_unit_test(test_api_d4_exec),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
