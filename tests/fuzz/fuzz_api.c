/* libFuzzer harness for the control API's request bodies (node/api.c,
 * node/node_api.c): a whole node runs in a thread of this program, as in
 * tests/unit/test_api.c, and every input is one authorized HTTP request to
 * it over one kept-alive libcurl connection.
 *
 * Input: a selector byte, then the body (empty: none). The low 7 bits pick
 * the request from kinds[] (modulo its size); bit 7 asks a create that
 * succeeded to be deleted and made again REPEATS times, more than any of
 * the node's 64-slot tables holds, so what a delete leaves behind shows.
 *
 * The node (node_config() below) has a tone source "program" of 2
 * channels and "aux" of 1, a config flow MAIN_FLOW to 127.0.0.1:5004, the
 * config subscription "fz" to that port (RX 1-2), and two made through the
 * API at every start: "api" by address (RX 7-8) and "named" by stream name
 * (RX 5; never resolved: discovery is off). It runs in a network namespace
 * of its own with only lo, routed to for everything: flows and D4 relay
 * lists the fuzzer points anywhere send nowhere. Without one (no root, no
 * user namespaces) the harness exits 77 (meson: skipped). A "record" path
 * in a body is replaced by one in the harness's directory; the node would
 * write any file the fuzzer names.
 *
 * Undone after each input: a flow or subscription made (201) is read back
 * (/channels, /stats, /meters) and deleted by the name in the answer, a
 * renamed node renamed back. D4 cannot undeclare: after DIRTY_MAX
 * successful D4 statements and flows (each leaves its relay list), or
 * RUN_MAX inputs, the node is restarted from its state file less the D4
 * statements.
 *
 * Beyond "no crash, no sanitizer report, no leak, the node thread runs":
 *   - every answer comes, with a status a body can cause (no 5xx);
 *   - 4xx: a JSON object {"error": message}, a message the handler wrote
 *     (not api.c's "failed") and never "the most it takes" (the harness
 *     frees what it makes, so no table may fill);
 *   - 2xx: JSON, naming what was asked for (name, latency); 204 empty;
 *   - a refused write changes nothing the API shows (the resources its
 *     kind touches, with counters left out) nor the state file;
 *   - a create then delete leaves the node as it was (D4 variables aside:
 *     a flow's relay list stays, docs/api.md), and can be repeated;
 *   - a restart restores the flows, subscriptions, channel names and node
 *     name the API showed. */
#include "common/log.h"
#include "node/node.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <net/if.h>
#include <net/route.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NODE_NAME   "fuzznode"
#define API_PORT    8080
#define FLOW_PORT   5004 /* fz-main's, and subscription fz's */
#define API_WAIT_MS 20000
#define STOP_WAIT_S 20
#define TOKEN_LEN   64	  /* 32 random bytes in hex */
#define DIRTY_MAX   40	  /* D4 statements and flows before a restart */
#define RUN_MAX	    20000 /* inputs before a restart anyway */
#define REPEATS	    65	  /* > 64: CONFIG_MAX_FLOWS, _SUBS, _SINKS */
/* The config's flow: a name longer than the 20 characters of it that its
 * relay list's D4 name keeps (node_d4_name()). */
#define MAIN_FLOW "fz-main-0123456789abcdef"
#define MAIN_LOOP "flow_fz_main_0123456789abcdef"

/* What a kind of request shows when it changes the node: the GETs whose
 * answers a refusal must leave alone. */
enum {
	SNAP_FLOWS = 1 << 0,
	SNAP_SUBS = 1 << 1,
	SNAP_CHANNELS = 1 << 2,
	SNAP_NODE = 1 << 3,
	SNAP_VARS = 1 << 4,
	SNAP_PROGS = 1 << 5,
	SNAP_STATE = 1 << 6, /* state.json */
	SNAP_ALL = (1 << 7) - 1,
};

enum undo {
	UNDO_NONE,
	UNDO_FLOW, /* 201: DELETE /flows/NAME */
	UNDO_SUB,  /* 201: DELETE /subscriptions/NAME */
	UNDO_NODE, /* 200: PUT /node back */
	UNDO_D4,   /* 200: a D4 statement stays */
};

/* Fixed order: the corpus's first bytes index it. */
static const struct kind {
	const char *method, *path;
	enum undo undo;
	unsigned int snap; /* 0: a read */
	const char *echo;  /* a member the 2xx answer repeats from the body */
} kinds[] = {
    /* a flow shows in /channels only as it shows in /flows */
    {"POST", "/flows", UNDO_FLOW, SNAP_FLOWS | SNAP_VARS | SNAP_PROGS, "name"},
    {"POST", "/subscriptions", UNDO_SUB, SNAP_SUBS | SNAP_CHANNELS, "name"},
    {"PUT", "/subscriptions/fz", UNDO_NONE, SNAP_SUBS, "latency_us"},
    {"PUT", "/subscriptions/api", UNDO_NONE, SNAP_SUBS, "latency_us"},
    {"PUT", "/subscriptions/named", UNDO_NONE, SNAP_SUBS, "latency_us"},
    {"PUT", "/channels/tx/1", UNDO_NONE, SNAP_CHANNELS, "name"},
    {"PUT", "/channels/tx/3", UNDO_NONE, SNAP_CHANNELS, "name"},
    {"PUT", "/channels/rx/1", UNDO_NONE, SNAP_CHANNELS, "name"},
    {"PUT", "/channels/rx/8", UNDO_NONE, SNAP_CHANNELS, "name"},
    {"PUT", "/node", UNDO_NODE, SNAP_NODE, "name"},
    {"POST", "/d4/exec", UNDO_D4, SNAP_VARS | SNAP_PROGS, NULL},
    {"POST", "/d4/programs/fz/start", UNDO_NONE, SNAP_PROGS, NULL},
    {"POST", "/d4/programs/fz/stop", UNDO_NONE, SNAP_PROGS, NULL},
    {"POST", "/d4/programs/" MAIN_LOOP "/start", UNDO_NONE, SNAP_PROGS, NULL},
    {"POST", "/d4/programs/" MAIN_LOOP "/stop", UNDO_NONE, SNAP_PROGS, NULL},
    {"GET", "/d4/vars", UNDO_NONE, 0, NULL},
    {"GET", "/d4/programs", UNDO_NONE, 0, NULL},
    {"GET", "/channels", UNDO_NONE, 0, NULL},
};
#define NKINDS (sizeof(kinds) / sizeof(kinds[0]))

/* The GETs of a snapshot, by SNAP_ bit. */
static const char *const snap_paths[] = {
    "/flows",	"/subscriptions", "/channels", "/node",
    "/d4/vars", "/d4/programs",	  NULL, /* state.json: read from the disk */
};
#define NSNAP (sizeof(snap_paths) / sizeof(snap_paths[0]))

/* Members that move by themselves: counters, levels, clocks. */
static const char *const volatile_keys[] = {
    "stats",	    "state",	       "uptime_s",  "clock",	   "pkts_in",
    "pkts_sent",    "pkts_dropped",    "errors",    "last_error",  "wcet",
    "state_reason", "latency_safe_us", "datagrams", "send_errors", "too_big",
};

static struct {
	pthread_t tid;
	struct node_opts opts;
	int rc;
	atomic_bool done;
	bool started;
} node;

static char dir[64]; /* the harness's own, on tmpfs if there is one */
static char config_path[96];
static char rec_path[96]; /* every "record" path becomes this */
static char root_url[64];
static char bearer[128];
static CURL *curl;
static struct curl_slist *headers;
static bool ready;
static unsigned int dirty, runs;

/* The snapshot each SNAP_ bit showed last, while still true. */
static char *snap_text[NSNAP];
static void snap_drop(unsigned int mask);

struct reply {
	long status;
	char *text;
	size_t len;
	json_t *json;
};

/* The input's request and the last one sent, for die(). */
static struct request_text {
	const char *method;
	char path[512];
	const char *body;
	size_t len;
} in, cur;

/* ---- failing ---- */

static int rm_entry(const char *path, const struct stat *st, int flag,
		    struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void print_escaped(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len && i < 2048; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x20 && c < 0x7f && c != '\\')
			fputc(c, stderr);
		else
			fprintf(stderr, "\\x%02x", c);
	}
	if (len > 2048)
		fprintf(stderr, "... (%zu bytes)", len);
}

static void print_request(const char *what, const struct request_text *t)
{
	if (!t->method)
		return;
	fprintf(stderr, "\n  %s: %s %s ", what, t->method, t->path);
	print_escaped(t->body ? t->body : "", t->body ? t->len : 0);
}

static __attribute__((noreturn, format(printf, 2, 3))) void
die(const struct reply *r, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "fuzz_api: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	print_request("input", &in);
	print_request("last request", &cur);
	if (r) {
		fprintf(stderr, "\n  answer: %ld ", r->status);
		print_escaped(r->text ? r->text : "", r->len);
	}
	fprintf(stderr, "\n");
	/* the input is the reproducer; the node's files go (tmpfs) */
	if (dir[0])
		nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	abort();
}

/* ---- the network namespace ---- */

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, text, strlen(text));
	close(fd);
	return n == (ssize_t)strlen(text) ? 0 : -EIO;
}

static void route_lo(int fd, const char *dst, const char *mask)
{
	struct rtentry rt = {0};
	struct sockaddr_in *d = (struct sockaddr_in *)&rt.rt_dst;
	struct sockaddr_in *m = (struct sockaddr_in *)&rt.rt_genmask;
	char dev[] = "lo";

	d->sin_family = AF_INET;
	m->sin_family = AF_INET;
	inet_pton(AF_INET, dst, &d->sin_addr);
	inet_pton(AF_INET, mask, &m->sin_addr);
	rt.rt_flags = RTF_UP;
	rt.rt_dev = dev;
	if (ioctl(fd, SIOCADDRT, &rt) < 0)
		fprintf(stderr, "fuzz_api: route %s/%s dev lo: %m\n", dst,
			mask);
}

/* A namespace with only lo, up, and routes for unicast and multicast
 * through it. As root, or else as root of a user namespace of our own
 * (which must be made while this program has one thread). */
static int isolate_network(void)
{
	struct ifreq ifr = {0};
	char map[64];
	uid_t uid = getuid();
	gid_t gid = getgid();
	int fd;

	if (unshare(CLONE_NEWNET) < 0) {
		if (unshare(CLONE_NEWUSER | CLONE_NEWNET) < 0) {
			fprintf(stderr, "fuzz_api: unshare: %m\n");
			return -errno;
		}
		snprintf(map, sizeof(map), "0 %u 1", (unsigned int)uid);
		write_file("/proc/self/setgroups", "deny");
		if (write_file("/proc/self/uid_map", map) < 0)
			return -EPERM;
		snprintf(map, sizeof(map), "0 %u 1", (unsigned int)gid);
		if (write_file("/proc/self/gid_map", map) < 0)
			return -EPERM;
	}
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0 ||
	    (ifr.ifr_flags |= IFF_UP, ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)) {
		fprintf(stderr, "fuzz_api: lo up: %m\n");
		close(fd);
		return -EPERM;
	}
	route_lo(fd, "0.0.0.0", "0.0.0.0");
	route_lo(fd, "224.0.0.0", "240.0.0.0");
	close(fd);
	return 0;
}

/* ---- HTTP ---- */

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

static void reply_free(struct reply *r)
{
	json_decref(r->json);
	free(r->text);
	memset(r, 0, sizeof(*r));
}

/* @method API_PREFIX@path with @body (@len bytes; NULL: none), with the
 * token, on the one connection. */
static void request(struct reply *r, const char *method, const char *path,
		    const char *body, size_t len)
{
	char url[768];
	CURLcode rc;

	memset(r, 0, sizeof(*r));
	cur.method = method;
	snprintf(cur.path, sizeof(cur.path), "%s", path);
	cur.body = body;
	cur.len = len;
	snprintf(url, sizeof(url), "%s/api/v1%s", root_url, path);
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, r);
	if (body) {
		curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)len);
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, len ? body : "");
	} else {
		curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
	}
	curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
	rc = curl_easy_perform(curl);
	if (rc == CURLE_OK)
		curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &r->status);
	else
		r->status = -(long)rc;
	if (r->len)
		r->json = json_loadb(r->text, r->len, 0, NULL);
}

static int http_open(void)
{
	curl = curl_easy_init();
	if (!curl)
		return -ENOMEM;
	if (!headers) {
		/* a body over 1 kB must not wait for "100 Continue" */
		headers = curl_slist_append(headers, "Expect:");
		headers = curl_slist_append(headers,
					    "Content-Type: application/json");
		headers = curl_slist_append(headers, bearer);
	}
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 5L);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT, 10L);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_data);
	return 0;
}

static void http_close(void)
{
	curl_easy_cleanup(curl);
	curl = NULL;
}

/* @name in a path: every byte but letters and digits escaped, so that
 * libcurl neither removes "." segments nor splits at '/'. */
static void path_escape(char *dst, size_t len, const char *name)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	for (; *name && o + 4 < len; name++) {
		unsigned char c = (unsigned char)*name;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9')) {
			dst[o++] = (char)c;
		} else {
			dst[o++] = '%';
			dst[o++] = hex[c >> 4];
			dst[o++] = hex[c & 15];
		}
	}
	dst[o] = '\0';
}

/* ---- the node ---- */

static int node_config(void)
{
	FILE *f = fopen(config_path, "w");

	if (!f)
		return -errno;
	fprintf(f,
		"[node]\nname = " NODE_NAME "\napi = 127.0.0.1:%d\n"
		"state_dir = %s/state\nrt_priority = 0\nstatus_interval = 0\n"
		"[discovery]\nsap = off\nmdns = off\n"
		"[source program]\ntype = tone\nchannels = 2\n"
		"[source aux]\ntype = tone\nchannels = 1\n"
		"[flow " MAIN_FLOW "]\nsource = program\n"
		"destination = 127.0.0.1:%d\n"
		"[subscription fz]\naddress = 127.0.0.1:%d\nchannels = 2\n"
		"rx_channels = 1-2\n",
		API_PORT, dir, FLOW_PORT, FLOW_PORT);
	return fclose(f) ? -errno : 0;
}

static void *node_main(void *arg)
{
	sigset_t mask;

	(void)arg;
	/* libFuzzer's -timeout alarm and its signals belong to the thread
	 * that runs the inputs; the node's threads inherit this. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGALRM);
	sigaddset(&mask, SIGUSR1);
	sigaddset(&mask, SIGUSR2);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	node.rc = node_run(&node.opts);
	atomic_store(&node.done, true);
	return NULL;
}

static int read_token(void)
{
	char path[128], tok[96];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/state/token", dir);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	n = fread(tok, 1, sizeof(tok) - 1, f);
	fclose(f);
	tok[n] = '\0';
	tok[strcspn(tok, "\r\n")] = '\0';
	/* the node may have made the file and not yet written it */
	if (strlen(tok) != TOKEN_LEN)
		return -EAGAIN;
	snprintf(bearer, sizeof(bearer), "Authorization: Bearer %s", tok);
	return 0;
}

/* The subscriptions every start makes through the API, so that updates
 * reach an API-made one by address (a port of its own) and one never
 * opened. */
static void node_populate(void)
{
	static const char *const subs[] = {
	    "{\"name\":\"api\",\"address\":\"127.0.0.1:5006\","
	    "\"channels\":2,\"rx_channels\":[7,8]}",
	    "{\"name\":\"named\",\"stream\":\"nosuch stream\","
	    "\"rx_channels\":[5]}",
	};
	struct reply r;
	size_t i;

	/* after a restart the state file has brought them back: 409 */
	for (i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
		request(&r, "POST", "/subscriptions", subs[i], strlen(subs[i]));
		if (r.status != 201 && r.status != 409)
			die(&r, "the harness's own subscription failed");
		reply_free(&r);
	}
}

static int node_start(void)
{
	struct timespec pause = {0, 5 * 1000 * 1000};
	struct reply r;
	int i, rc;

	atomic_store(&node.done, false);
	node.opts.config_path = config_path;
	rc = pthread_create(&node.tid, NULL, node_main, NULL);
	if (rc) {
		fprintf(stderr, "fuzz_api: pthread_create: %s\n", strerror(rc));
		return -rc;
	}
	node.started = true;
	for (i = 0; i < API_WAIT_MS / 5; i++) {
		if (atomic_load(&node.done)) {
			fprintf(stderr, "fuzz_api: node_run returned %d\n",
				node.rc);
			return -EIO;
		}
		if (read_token() == 0)
			break;
		nanosleep(&pause, NULL);
	}
	if (http_open() < 0)
		return -ENOMEM;
	for (; i < API_WAIT_MS / 5; i++) {
		if (atomic_load(&node.done))
			return -EIO;
		request(&r, "GET", "/node", NULL, 0);
		rc = (int)r.status;
		reply_free(&r);
		if (rc == 200) {
			node_populate();
			dirty = 0;
			runs = 0;
			return 0;
		}
		nanosleep(&pause, NULL);
	}
	fprintf(stderr, "fuzz_api: no answer within %d ms\n", API_WAIT_MS);
	return -ETIMEDOUT;
}

static int node_stop(void)
{
	struct timespec until;
	int rc;

	http_close();
	snap_drop(SNAP_ALL);
	if (!node.started)
		return 0;
	node.started = false;
	if (!atomic_load(&node.done))
		pthread_kill(node.tid, SIGTERM);
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += STOP_WAIT_S;
	rc = pthread_timedjoin_np(node.tid, NULL, &until);
	if (rc) {
		fprintf(stderr, "fuzz_api: the node did not stop (%s)\n",
			strerror(rc));
		return -rc;
	}
	return node.rc == 0 ? 0 : -EIO;
}

static void teardown(void)
{
	int rc;

	if (!ready)
		return;
	ready = false;
	rc = node_stop();
	curl_slist_free_all(headers);
	headers = NULL;
	curl_global_cleanup();
	if (dir[0])
		nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	if (rc < 0) {
		fprintf(stderr, "fuzz_api: node_run ended with %d\n", node.rc);
		abort();
	}
}

static int setup(void)
{
	const char *tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	int rc;

	rc = isolate_network();
	if (rc < 0) {
		fprintf(stderr, "fuzz_api: no network namespace of our own "
				"(root or user namespaces needed); the fuzzer "
				"would send where inputs say: skipped\n");
		exit(77);
	}
	if (!getenv("D4_FUZZ_API_LOG"))
		log_set_level(LOG_LVL_ERR);
	snprintf(dir, sizeof(dir), "%s/d4-fuzz-api-XXXXXX", tmp);
	if (!mkdtemp(dir) || curl_global_init(CURL_GLOBAL_DEFAULT))
		return -errno;
	snprintf(config_path, sizeof(config_path), "%s/node.ini", dir);
	snprintf(rec_path, sizeof(rec_path), "%s/rec.wav", dir);
	snprintf(root_url, sizeof(root_url), "http://127.0.0.1:%d", API_PORT);
	rc = node_config();
	if (rc < 0)
		return rc;
	ready = true;
	rc = node_start();
	if (rc < 0)
		die(NULL, "the node did not start");
	/* After the first thread: libpsx registers its own exit handler
	 * then, and once it has run, no thread of the node can end. */
	atexit(teardown);
	return 0;
}

/* ---- snapshots ---- */

static void strip_volatile(json_t *j)
{
	const char *key;
	json_t *v;
	size_t i;

	if (json_is_array(j)) {
		json_array_foreach(j, i, v)
		{
			strip_volatile(v);
		}
		return;
	}
	if (!json_is_object(j))
		return;
	for (i = 0; i < sizeof(volatile_keys) / sizeof(volatile_keys[0]); i++)
		json_object_del(j, volatile_keys[i]);
	/* a subscription's timing in use is judged from its packets; the
	 * one asked for stays in its "settings" */
	if (json_object_get(j, "settings"))
		json_object_del(j, "timing");
	json_object_foreach(j, key, v)
	{
		strip_volatile(v);
	}
}

static char *read_state_file(void)
{
	char path[128], *buf;
	long n;
	FILE *f;

	snprintf(path, sizeof(path), "%s/state/state.json", dir);
	f = fopen(path, "r");
	if (!f)
		return strdup("(none)");
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc(n > 0 ? (size_t)n + 1 : 1);
	if (buf) {
		n = (long)fread(buf, 1, n > 0 ? (size_t)n : 0, f);
		buf[n] = '\0';
	}
	fclose(f);
	return buf;
}

/* What snapshot @i (a SNAP_ bit's number) shows now, as text. */
static char *snap_take(size_t i)
{
	struct reply r;
	char *text;

	if (!snap_paths[i])
		return read_state_file();
	request(&r, "GET", snap_paths[i], NULL, 0);
	if (r.status != 200 || !r.json)
		die(&r, "GET %s failed", snap_paths[i]);
	if (!strcmp(snap_paths[i], "/node")) {
		/* its name only: the rest is clock and uptime */
		text = strdup(json_string_value(json_object_get(r.json, "name"))
				  ?: "");
	} else {
		json_t *f;
		size_t k;

		/* a flow's SDP: its o= version counts announcements (a
		 * restart, or a rename and back, publishes it anew) */
		if (!strcmp(snap_paths[i], "/flows"))
			json_array_foreach(r.json, k, f)
			    json_object_del(f, "sdp");
		strip_volatile(r.json);
		text = json_dumps(r.json, JSON_COMPACT | JSON_SORT_KEYS);
	}
	reply_free(&r);
	if (!text)
		abort();
	return text;
}

static size_t snap_index(unsigned int bit)
{
	return (size_t)__builtin_ctz(bit);
}

static void snap_drop(unsigned int mask)
{
	size_t i;

	for (i = 0; i < NSNAP; i++) {
		if (mask & 1u << i) {
			free(snap_text[i]);
			snap_text[i] = NULL;
		}
	}
}

/* Have the snapshot of every bit in @mask at hand. */
static void snap_fill(unsigned int mask)
{
	size_t i;

	for (i = 0; i < NSNAP; i++)
		if ((mask & 1u << i) && !snap_text[i])
			snap_text[i] = snap_take(i);
}

/* The D4 name of flow @name's relay list, as node_d4_name() makes it:
 * "_" NAME "_receivers", non-alphanumerics as '_', within 31 characters. */
static void relay_list_name(char *dst, size_t len, const char *name)
{
	size_t i;

	snprintf(dst, len, "_%.20s", name);
	for (i = 1; dst[i]; i++)
		if (!((dst[i] >= 'a' && dst[i] <= 'z') ||
		      (dst[i] >= 'A' && dst[i] <= 'Z') ||
		      (dst[i] >= '0' && dst[i] <= '9')))
			dst[i] = '_';
	snprintf(dst + strlen(dst), len - strlen(dst), "_receivers");
}

/* Every variable of @before is in @after with its type and value, but
 * @fresh (NULL: none), which may have started over (new ones may have
 * come). */
static bool vars_kept(const char *before, const char *after, const char *fresh)
{
	json_t *b = json_loads(before, 0, NULL),
	       *a = json_loads(after, 0, NULL);
	json_t *o, *p;
	size_t i, k;
	bool kept = true;

	json_array_foreach(b, i, o)
	{
		const char *name =
		    json_string_value(json_object_get(o, "name"));
		bool found = fresh && name && !strcmp(name, fresh);

		json_array_foreach(a, k, p)
		{
			if (!strcmp(
				json_string_value(json_object_get(p, "name"))
				    ?: "",
				name ?: "")) {
				found = found || json_equal(o, p);
				break;
			}
		}
		kept = kept && found;
	}
	json_decref(a);
	json_decref(b);
	return kept;
}

/* Whether two state files are the same but for their "d4" member (a
 * flow made and deleted leaves its relay list declared: D4 cannot
 * undeclare it; /d4/vars, checked on its own, says how it may grow). */
static bool same_but_d4(const char *a, const char *b)
{
	json_t *ja = json_loads(a, 0, NULL), *jb = json_loads(b, 0, NULL);
	bool same;

	if (ja)
		json_object_del(ja, "d4");
	if (jb)
		json_object_del(jb, "d4");
	same = ja && jb && json_equal(ja, jb);
	json_decref(ja);
	json_decref(jb);
	return same;
}

/* The bits of @mask show what they showed before, or die with @why.
 * @made: the name of a flow made and deleted (NULL: none): /d4/vars may
 * have gained its relay list, or one of its name left by a flow deleted
 * earlier may have started over (docs/api.md). */
static void snap_check(unsigned int mask, const char *made,
		       const struct reply *r, const char *why)
{
	bool vars_may_grow = made != NULL;
	char list[40] = "";

	size_t i;

	if (made && *made)
		relay_list_name(list, sizeof(list), made);
	for (i = 0; i < NSNAP; i++) {
		char *now;
		bool same;

		if (!(mask & 1u << i) || !snap_text[i])
			continue;
		now = snap_take(i);
		if ((1u << i) == SNAP_VARS && vars_may_grow)
			same =
			    vars_kept(snap_text[i], now, list[0] ? list : NULL);
		else if (!snap_paths[i] && vars_may_grow)
			same = same_but_d4(snap_text[i], now);
		else
			same = !strcmp(now, snap_text[i]);
		if (!same) {
			fprintf(stderr, "before: %s\nafter:  %s\n",
				snap_text[i], now);
			die(r, "%s changed %s", why,
			    snap_paths[i] ? snap_paths[i] : "state.json");
		}
		if (((1u << i) == SNAP_VARS || !snap_paths[i]) &&
		    vars_may_grow) {
			free(snap_text[i]);
			snap_text[i] = now;
		} else {
			free(now);
		}
	}
}

/* Stop and start the node again, with its state file less the D4
 * statements (they are what fills D4): the names, subscriptions and
 * channels it shows come back as they were. The state keeps what the API
 * made (docs/api.md), so config subscription fz's latency goes back to
 * the config's first. */
static void node_restart(void)
{
	static const unsigned int kept[] = {SNAP_FLOWS, SNAP_SUBS,
					    SNAP_CHANNELS, SNAP_NODE};
	static const char fz[] = "{\"latency_us\":1000}";
	char path[128], *before[4];
	struct reply r;
	json_t *st;
	size_t i;

	request(&r, "PUT", "/subscriptions/fz", fz, strlen(fz));
	if (r.status != 200)
		die(&r, "subscription fz's latency cannot go back");
	reply_free(&r);
	snap_drop(SNAP_SUBS);
	for (i = 0; i < 4; i++) {
		snap_fill(kept[i]);
		before[i] = strdup(snap_text[snap_index(kept[i])]);
	}
	if (node_stop() < 0)
		die(NULL, "the node did not stop cleanly");
	snprintf(path, sizeof(path), "%s/state/state.json", dir);
	st = json_load_file(path, 0, NULL);
	if (!st || json_object_set_new(st, "d4", json_array()) ||
	    json_dump_file(st, path, JSON_INDENT(1)))
		die(NULL, "%s: cannot take the D4 statements out", path);
	json_decref(st);
	unlink(rec_path);
	if (node_start() < 0)
		die(NULL, "the node did not start again");
	for (i = 0; i < 4; i++) {
		char *now = snap_take(snap_index(kept[i]));

		if (strcmp(now, before[i])) {
			fprintf(stderr, "before: %s\nafter:  %s\n", before[i],
				now);
			die(NULL, "a restart did not restore %s",
			    snap_paths[snap_index(kept[i])]);
		}
		free(now);
		free(before[i]);
	}
}

/* ---- the checks ---- */

static bool ok_status(const struct kind *k, long status)
{
	bool create = k->undo == UNDO_FLOW || k->undo == UNDO_SUB;

	switch (status) {
	case 200:
		return !create;
	case 201:
		return create;
	case 400:
		return true;
	case 404: /* a loop the fuzzer has not made */
		return strstr(k->path, "/d4/programs/") != NULL;
	case 409: /* a name taken, RX channels taken, a D4 name clash */
		return create || !strncmp(k->path, "/channels/", 10);
	default:
		return false;
	}
}

static void check_answer(const struct kind *k, const struct reply *r,
			 const json_t *body)
{
	const char *msg;
	json_t *want, *got;

	if (atomic_load(&node.done))
		die(r, "node_run returned %d", node.rc);
	if (r->status < 0)
		die(r, "no answer: %s",
		    curl_easy_strerror((CURLcode)-r->status));
	if (!ok_status(k, r->status))
		die(r, "status %ld", r->status);
	if (r->status >= 400) {
		msg = json_string_value(json_object_get(r->json, "error"));
		if (!json_is_object(r->json) || !msg || !*msg)
			die(r, "an error without {\"error\": message}");
		if (!strcmp(msg, "failed"))
			die(r, "an error the handler did not explain");
		/* "this node has 64 flows, the most it takes" (not a
		 * message that quotes the input saying so) */
		if (!strncmp(msg, "this node has ", 14) &&
		    strstr(msg, "the most it takes"))
			die(r, "a table is full though the harness frees "
			       "what it makes");
		return;
	}
	if (!r->json || (k->snap && !json_is_object(r->json)))
		die(r, "a %ld answer that is no JSON object", r->status);
	if (k->undo == UNDO_D4 &&
	    !json_is_integer(json_object_get(r->json, "handle")))
		die(r, "D4 statements ran, but no handle");
	if (!k->echo)
		return;
	want = json_object_get(body, k->echo);
	got = json_object_get(r->json, k->echo);
	/* a duration may come as text: "2000" is 2000 (µs, as the member
	 * says); with a unit ("2ms") only its number's type is checked */
	if (json_is_string(want) && json_is_integer(got)) {
		const char *t = json_string_value(want);

		if (*t && strspn(t, "0123456789") == strlen(t) &&
		    strlen(t) < 16 &&
		    strtoll(t, NULL, 10) != json_integer_value(got))
			die(r, "the answer's '%s' is not the body's", k->echo);
		return;
	}
	if (!json_equal(want, got))
		die(r, "the answer's '%s' is not the body's", k->echo);
}

static const char *jname(const struct reply *r)
{
	return json_string_value(json_object_get(r->json, "name"));
}

/* What a 201 made, as the reads show it: they answer, with JSON. */
static void read_made(void)
{
	static const char *const paths[] = {"/channels", "/stats", "/meters"};
	struct reply r;
	size_t i;

	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		request(&r, "GET", paths[i], NULL, 0);
		if (r.status != 200 || !json_is_object(r.json))
			die(&r, "a read after a create failed");
		reply_free(&r);
	}
}

/* DELETE what a 201 made: the name the answer gives. */
static void undo_create(const struct kind *k, const struct reply *made)
{
	const char *name = jname(made);
	char path[512], esc[400];
	struct reply r;

	if (!name)
		die(made, "a 201 without a name");
	path_escape(esc, sizeof(esc), name);
	snprintf(path, sizeof(path), "%s/%s", k->path, esc);
	request(&r, "DELETE", path, NULL, 0);
	if (r.status != 204 || r.len)
		die(&r, "what it made, it cannot delete");
	reply_free(&r);
}

static void undo_rename(void)
{
	static const char body[] = "{\"name\":\"" NODE_NAME "\"}";
	struct reply r;

	request(&r, "PUT", "/node", body, strlen(body));
	if (r.status != 200)
		die(&r, "the node cannot take its name back");
	reply_free(&r);
}

/* Bit 7: make again and delete, REPEATS times; each must succeed. */
static void repeat_create(const struct kind *k, const char *body, size_t len,
			  const json_t *req)
{
	struct reply r;
	int i;

	for (i = 0; i < REPEATS; i++) {
		request(&r, k->method, k->path, body, len);
		check_answer(k, &r, req);
		if (r.status != 201)
			die(&r, "made and deleted %d times, then refused",
			    i + 1);
		undo_create(k, &r);
		reply_free(&r);
	}
}

/* A "record" path in @req replaced by rec_path: the body to send instead
 * of the input's (malloc'd, *@len set), or NULL for the input's own. */
static char *confine_paths(json_t *req, size_t *len)
{
	json_t *rec = json_object_get(req, "record");
	const char *path = json_string_value(json_object_get(rec, "path"));
	char *text;

	if (!path || !*path)
		return NULL;
	json_object_set_new(rec, "path", json_string(rec_path));
	text = json_dumps(req, JSON_COMPACT);
	if (!text)
		abort();
	*len = strlen(text);
	return text;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (setup() < 0) {
		fprintf(stderr, "fuzz_api: setup failed: %m\n");
		exit(1);
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct kind *k;
	unsigned int snap;
	const char *body, *made;
	char *own;
	size_t len;
	struct reply r;
	json_t *req;

	memset(&in, 0, sizeof(in));
	memset(&cur, 0, sizeof(cur));
	if (!ready && setup() < 0) /* the replay calls no Initialize */
		die(NULL, "setup failed: %m");
	if (!size)
		return 0;
	if (dirty >= DIRTY_MAX || ++runs > RUN_MAX)
		node_restart();
	k = &kinds[(data[0] & 0x7f) % NKINDS];
	body = (const char *)data + 1;
	len = size - 1;
	req = json_loadb(body, len, 0, NULL);
	own = confine_paths(req, &len);
	if (own)
		body = own;
	in.method = k->method;
	snprintf(in.path, sizeof(in.path), "%s", k->path);
	in.body = body;
	in.len = len;
	snap = k->snap ? k->snap | SNAP_STATE : 0;
	snap_fill(snap);
	request(&r, k->method, k->path, body, len);
	check_answer(k, &r, req);
	if (r.status >= 400) {
		snap_check(snap, NULL, &r, "a refused write");
		goto out;
	}
	switch (k->undo) {
	case UNDO_FLOW:
	case UNDO_SUB:
		/* a flow's relay list stays in D4 (docs/api.md) */
		made = k->undo == UNDO_FLOW ? jname(&r) : "";
		dirty += k->undo == UNDO_FLOW;
		read_made();
		undo_create(k, &r);
		snap_check(snap, made, &r, "a create and delete");
		if (data[0] & 0x80) {
			repeat_create(k, body, len, req);
			snap_check(snap, made, &r, "creates and deletes");
		}
		break;
	case UNDO_NODE:
		/* the state file keeps the name, the config's too */
		undo_rename();
		snap_check(SNAP_NODE, NULL, &r, "a rename and back");
		snap_drop(SNAP_STATE);
		break;
	case UNDO_D4:
		dirty++;
		snap_drop(SNAP_ALL);
		break;
	case UNDO_NONE:
		snap_drop(snap);
		break;
	}
out:
	reply_free(&r);
	json_decref(req);
	free(own);
	return 0;
}
