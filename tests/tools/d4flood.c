/* d4flood: load a node's control API at a bounded request rate, for the
 * fault lab (tests/lab/faults/api_flood.sh). Exit 0 when all N x S
 * requests were answered in the S seconds with the status each should get,
 * 1 when not (a wrong status, no answer, or too slow to start them all),
 * 2 on usage errors.
 *
 *   d4flood http://ADDR:PORT/api/v1 --rate N --seconds S [--conns C]
 *
 * Requests go out in a fixed cycle of ten, over at most C (default 8)
 * keep-alive connections (libcurl multi): GET /node, /stats, /streams
 * (200 each, three, three and two of ten) and POST /subscriptions without
 * a token (401, two of ten). Starts are paced to N per second; when every
 * connection is busy the requests due queue up and go as soon as one is
 * free, so the achieved rate (answers over the time from the first start to
 * the last answer) tells how fast the node answers. What is still not
 * started or answered 5 s after the S seconds is given up.
 *
 * At the end one line: "requests=N seconds=S rate=R status_200=N
 * status_401=N status_other=N unexpected=N failed=N connects=N
 * max_ms=M" (connects: TCP connections opened; failed: no HTTP answer).
 * The first few unexpected answers are also described on stderr. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#define MAX_CONNS     64
#define NSEC_PER_SEC  1000000000LL
#define TIMEOUT_MS    5000L
#define REPORT_MAX    5
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

struct req {
	const char *method;
	const char *path;
	const char *body;
	long want;
};

/* Three GET /node, three GET /stats, two GET /streams, two refused writes
 * in every ten. */
static const struct req cycle[] = {
    {"GET", "/node", NULL, 200},
    {"GET", "/stats", NULL, 200},
    {"GET", "/streams", NULL, 200},
    {"POST", "/subscriptions", "{\"name\":\"flood\",\"address\":"
     "\"10.77.0.2:5990\"}", 401},
    {"GET", "/node", NULL, 200},
    {"GET", "/stats", NULL, 200},
    {"GET", "/streams", NULL, 200},
    {"GET", "/node", NULL, 200},
    {"POST", "/subscriptions", "{\"name\":\"flood\",\"address\":"
     "\"10.77.0.2:5991\"}", 401},
    {"GET", "/stats", NULL, 200},
};

struct slot {
	CURL *easy;
	const struct req *req;
	long long started;
	bool busy;
	char url[512];
};

struct tally {
	unsigned long long done, s200, s401, other, unexpected, failed;
	long connects;
	long long max_ns;
};

struct flood {
	const char *base;
	long long rate;
	double seconds;
	int conns;
	CURLM *multi;
	struct curl_slist *json_hdr;
	struct slot slot[MAX_CONNS];
	struct tally t;
};

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

static size_t discard(char *p, size_t size, size_t n, void *ctx)
{
	return size * n;
}

static int parse_opts(struct flood *f, int argc, char *argv[])
{
	char *end;

	f->conns = 8;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strncmp(a, "--", 2)) {
			if (f->base)
				goto bad;
			f->base = a;
			continue;
		}
		if (!v)
			goto bad;
		i++;
		errno = 0;
		if (!strcmp(a, "--rate")) {
			f->rate = strtoll(v, &end, 10);
			if (errno || *end || f->rate < 1 || f->rate > 100000)
				goto bad_val;
		} else if (!strcmp(a, "--seconds")) {
			f->seconds = strtod(v, &end);
			if (*end || !(f->seconds > 0) || f->seconds > 3600)
				goto bad_val;
		} else if (!strcmp(a, "--conns")) {
			f->conns = (int)strtol(v, &end, 10);
			if (errno || *end || f->conns < 1 ||
			    f->conns > MAX_CONNS)
				goto bad_val;
		} else {
			fprintf(stderr, "d4flood: unknown option '%s'\n", a);
			goto bad;
		}
		continue;
bad_val:
		fprintf(stderr, "d4flood: %s: bad value '%s'\n", a, v);
		goto bad;
	}
	if (f->base && f->rate && f->seconds > 0 &&
	    strlen(f->base) < sizeof(f->slot[0].url) - 32)
		return 0;
bad:
	fprintf(stderr, "usage: d4flood http://ADDR:PORT/api/v1 --rate N "
			"--seconds S [--conns C]\n");
	return -EINVAL;
}

/* Points @s's handle at request number @n of the cycle and starts it. */
static int start_request(struct flood *f, struct slot *s, unsigned long long n)
{
	const struct req *r = &cycle[n % ARRAY_SIZE(cycle)];
	CURL *e = s->easy;
	CURLMcode mc;

	snprintf(s->url, sizeof(s->url), "%s%s", f->base, r->path);
	curl_easy_setopt(e, CURLOPT_URL, s->url);
	if (r->body) {
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body);
		curl_easy_setopt(e, CURLOPT_HTTPHEADER, f->json_hdr);
	} else {
		curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
		curl_easy_setopt(e, CURLOPT_HTTPHEADER, NULL);
	}
	mc = curl_multi_add_handle(f->multi, e);
	if (mc != CURLM_OK) {
		fprintf(stderr, "d4flood: curl_multi_add_handle: %s\n",
			curl_multi_strerror(mc));
		return -EIO;
	}
	s->req = r;
	s->started = now_ns();
	s->busy = true;
	return 0;
}

static void account(struct flood *f, struct slot *s, CURLcode res)
{
	struct tally *t = &f->t;
	long code = 0, conns = 0;
	long long took = now_ns() - s->started;

	curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_getinfo(s->easy, CURLINFO_NUM_CONNECTS, &conns);
	t->connects += conns;
	t->done++;
	if (took > t->max_ns)
		t->max_ns = took;
	if (res != CURLE_OK || code == 0) {
		if (t->failed++ < REPORT_MAX)
			fprintf(stderr, "d4flood: %s %s: %s\n", s->req->method,
				s->req->path, curl_easy_strerror(res));
		return;
	}
	if (code == 200)
		t->s200++;
	else if (code == 401)
		t->s401++;
	else
		t->other++;
	if (code != s->req->want && t->unexpected++ < REPORT_MAX)
		fprintf(stderr, "d4flood: %s %s: status %ld, want %ld\n",
			s->req->method, s->req->path, code, s->req->want);
}

/* Collects finished transfers; frees their slots. */
static void reap(struct flood *f)
{
	CURLMsg *m;
	int left;

	while ((m = curl_multi_info_read(f->multi, &left))) {
		if (m->msg != CURLMSG_DONE)
			continue;
		for (int i = 0; i < f->conns; i++) {
			struct slot *s = &f->slot[i];

			if (!s->busy || s->easy != m->easy_handle)
				continue;
			account(f, s, m->data.result);
			curl_multi_remove_handle(f->multi, s->easy);
			s->busy = false;
			break;
		}
	}
}

static int setup(struct flood *f)
{
	f->multi = curl_multi_init();
	f->json_hdr =
	    curl_slist_append(NULL, "Content-Type: application/json");
	if (!f->multi || !f->json_hdr)
		return -ENOMEM;
	/* At most conns transfers run at once (one per slot), so the cache
	 * of conns idle connections is all they need. No
	 * CURLMOPT_MAX_TOTAL_CONNECTIONS: with it, libcurl 7.88 left a
	 * transfer queued for a connection now and then, for seconds. */
	curl_multi_setopt(f->multi, CURLMOPT_MAXCONNECTS, (long)f->conns);
	for (int i = 0; i < f->conns; i++) {
		CURL *e = curl_easy_init();

		if (!e)
			return -ENOMEM;
		curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
		curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, TIMEOUT_MS);
		curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
		f->slot[i].easy = e;
	}
	return 0;
}

static void teardown(struct flood *f)
{
	for (int i = 0; i < f->conns; i++) {
		if (!f->slot[i].easy)
			continue;
		if (f->slot[i].busy)
			curl_multi_remove_handle(f->multi, f->slot[i].easy);
		curl_easy_cleanup(f->slot[i].easy);
	}
	curl_slist_free_all(f->json_hdr);
	if (f->multi)
		curl_multi_cleanup(f->multi);
}

/* Starts the requests due by now on free slots, up to @total; returns
 * how many it started, or -1. */
static int start_due(struct flood *f, long long start, long long total,
		     unsigned long long *made)
{
	long long due = (now_ns() - start) * f->rate / NSEC_PER_SEC + 1;
	int n = 0;

	if (due > total)
		due = total;
	for (int i = 0; i < f->conns && (long long)*made < due; i++) {
		if (f->slot[i].busy)
			continue;
		if (start_request(f, &f->slot[i], *made))
			return -1;
		(*made)++;
		n++;
	}
	return n;
}

/* Runs the transfers; a slot an answer frees takes the next request due
 * at once, not after the next poll. Returns the number still running. */
static int pump(struct flood *f, long long start, long long total,
		unsigned long long *made)
{
	unsigned long long done;
	int running = 0, n = 0;

	do {
		n = start_due(f, start, total, made);
		if (n < 0)
			return -1;
		done = f->t.done;
		curl_multi_perform(f->multi, &running);
		reap(f);
	} while (f->t.done != done && (long long)*made < total);
	return running;
}

int main(int argc, char *argv[])
{
	static struct flood f;
	unsigned long long made = 0;
	long long start, total, run_end;
	double secs;
	int running, ret = 2;

	if (parse_opts(&f, argc, argv))
		return 2;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) || setup(&f)) {
		fprintf(stderr, "d4flood: cannot set up libcurl\n");
		goto out;
	}
	total = (long long)(f.rate * f.seconds + 0.5);
	start = now_ns();
	run_end = start + (long long)(f.seconds * NSEC_PER_SEC);
	for (;;) {
		running = pump(&f, start, total, &made);
		if (running < 0)
			goto out;
		if (!running && (long long)made == total)
			break;
		if (now_ns() > run_end + TIMEOUT_MS * 1000000LL) {
			fprintf(stderr, "d4flood: gave up %lld requests not "
					"started and %d open %ld ms after the "
					"run\n",
				total - (long long)made, running, TIMEOUT_MS);
			f.t.failed += (unsigned long long)running;
			break;
		}
		/* Wake at least every millisecond to start what is due. */
		curl_multi_poll(f.multi, NULL, 0, 1, NULL);
	}
	secs = (double)(now_ns() - start) / NSEC_PER_SEC;
	printf("requests=%llu seconds=%.2f rate=%.0f status_200=%llu "
	       "status_401=%llu status_other=%llu unexpected=%llu "
	       "failed=%llu connects=%ld max_ms=%.1f\n",
	       f.t.done, secs, (double)f.t.done / secs, f.t.s200, f.t.s401,
	       f.t.other, f.t.unexpected, f.t.failed, f.t.connects,
	       (double)f.t.max_ns / 1e6);
	ret = f.t.unexpected || f.t.failed || f.t.done != (unsigned long long)total;
out:
	teardown(&f);
	curl_global_cleanup();
	return ret;
}
