/* RTSP: the request parser takes valid and pipelined requests, says "need
 * more" for every prefix, refuses oversized, garbage and mutated input with
 * a reason and never reads out of bounds (ASan, exact-size buffers); the
 * responder answers OPTIONS/DESCRIBE/others over real TCP on 127.0.0.1 with
 * the loop running in the test; the DESCRIBE client fetches, times out and
 * reports refusals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/loop.h"
#include "discovery/rtsp.h"

#define MS 1000000ull

static const char describe_req[] =
    "DESCRIBE rtsp://10.0.0.1:9000/by-name/Stage%20Left RTSP/1.0\r\n"
    "CSeq: 312\r\n"
    "Accept: application/sdp\r\n"
    "User-Agent: test\r\n"
    "\r\n";

static const char test_sdp[] = "v=0\r\n"
			       "o=- 1 1 IN IP4 10.0.0.1\r\n"
			       "s=Stage Left\r\n"
			       "c=IN IP4 239.69.0.1/32\r\n"
			       "t=0 0\r\n"
			       "m=audio 5004 RTP/AVP 98\r\n"
			       "a=rtpmap:98 L24/48000/2\r\n";

/* @len bytes of @src in an exact-size buffer: ASan sees any over-read. */
static uint8_t *exact(const void *src, size_t len)
{
	uint8_t *p = malloc(len ? len : 1);

	assert_non_null(p);
	if (len)
		memcpy(p, src, len);
	return p;
}

static int parse(const char *s, size_t len, struct rtsp_request *req, char *err,
		 size_t err_len)
{
	uint8_t *p = exact(s, len);
	int r = rtsp_parse_request(p, len, req, err, err_len);

	free(p);
	return r;
}

static bool valid_outcome(int r, size_t len)
{
	return (r > 0 && (size_t)r <= len) || r == 0 || r == -EINVAL ||
	       r == -EMSGSIZE || r == -EPROTONOSUPPORT;
}

/* ---- parser ---- */

static void test_rtsp_parses_describe_with_headers(void **state)
{
	struct rtsp_request req;
	char err[128];
	int r;

	r = parse(describe_req, strlen(describe_req), &req, err, sizeof(err));
	assert_int_equal(r, (int)strlen(describe_req));
	assert_string_equal(req.method, "DESCRIBE");
	assert_string_equal(req.uri,
			    "rtsp://10.0.0.1:9000/by-name/Stage%20Left");
	assert_int_equal(req.cseq, 312);
	assert_int_equal(req.n_headers, 3);
	assert_string_equal(
	    rtsp_header_find(req.headers, req.n_headers, "accept"),
	    "application/sdp");
	assert_null(rtsp_header_find(req.headers, req.n_headers, "Session"));
	assert_int_equal(req.content_length, 0);
}

static void test_rtsp_parses_lf_only_and_trims_values(void **state)
{
	const char *s = "OPTIONS * RTSP/1.0\nCSeq:1\nX-Pad: \t spaced \t\n\n";
	struct rtsp_request req;

	assert_int_equal(parse(s, strlen(s), &req, NULL, 0), (int)strlen(s));
	assert_string_equal(req.method, "OPTIONS");
	assert_string_equal(req.uri, "*");
	assert_int_equal(req.cseq, 1);
	assert_string_equal(
	    rtsp_header_find(req.headers, req.n_headers, "x-pad"), "spaced");
}

static void test_rtsp_parses_pipelined_requests_one_by_one(void **state)
{
	char buf[1024];
	const char *second = "OPTIONS * RTSP/1.0\r\nCSeq: 313\r\n\r\n";
	const char *third = "\r\nSET_PARAMETER * RTSP/1.0\r\nCSeq: 314\r\n"
			    "Content-Length: 5\r\n\r\nhello";
	struct rtsp_request req;
	size_t len, off = 0;
	int r;

	len = (size_t)snprintf(buf, sizeof(buf), "%s%s%s", describe_req, second,
			       third);
	r = parse(buf, len, &req, NULL, 0);
	assert_int_equal(r, (int)strlen(describe_req));
	assert_int_equal(req.cseq, 312);
	off += (size_t)r;
	r = parse(buf + off, len - off, &req, NULL, 0);
	assert_int_equal(r, (int)strlen(second));
	assert_int_equal(req.cseq, 313);
	off += (size_t)r;
	/* a stray empty line between requests is skipped; a body counts */
	r = parse(buf + off, len - off, &req, NULL, 0);
	assert_int_equal(r, (int)strlen(third));
	assert_string_equal(req.method, "SET_PARAMETER");
	assert_int_equal(req.content_length, 5);
	assert_int_equal(off + (size_t)r, len);
}

static void test_rtsp_every_prefix_needs_more(void **state)
{
	const char *with_body = "ANNOUNCE * RTSP/1.0\r\nCSeq: 2\r\n"
				"Content-Length: 10\r\n\r\n0123456789";
	const char *reqs[] = {describe_req, with_body};
	struct rtsp_request req;
	size_t i, len;

	for (i = 0; i < 2; i++) {
		size_t full = strlen(reqs[i]);

		for (len = 0; len < full; len++)
			assert_int_equal(parse(reqs[i], len, &req, NULL, 0), 0);
		assert_int_equal(parse(reqs[i], full, &req, NULL, 0),
				 (int)full);
	}
}

static void test_rtsp_refuses_missing_or_bad_cseq(void **state)
{
	struct rtsp_request req;
	char err[128];

	assert_int_equal(
	    parse("OPTIONS * RTSP/1.0\r\n\r\n", 22, &req, err, sizeof(err)),
	    -EINVAL);
	assert_non_null(strstr(err, "CSeq"));
	assert_int_equal(parse("OPTIONS * RTSP/1.0\r\nCSeq: x1\r\n\r\n", 32,
			       &req, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "line 2"));
	assert_int_equal(
	    parse("OPTIONS * RTSP/1.0\r\nCSeq: 99999999999\r\n\r\n", 41, &req,
		  err, sizeof(err)),
	    -EINVAL);
	assert_int_equal(
	    parse("OPTIONS * RTSP/1.0\r\nCSeq: 1\r\nCSeq: 2\r\n\r\n", 40, &req,
		  err, sizeof(err)),
	    -EINVAL);
}

static void test_rtsp_refuses_bad_request_lines(void **state)
{
	static const struct {
		const char *s;
		int ret;
		const char *why;
	} cases[] = {
	    {"GET / HTTP/1.1\r\n", -EINVAL, "RTSP/1.0"},
	    {"OPTIONS * RTSP/2.0\r\n", -EPROTONOSUPPORT, "RTSP/2.0"},
	    {"OPTIONS *\r\n", -EINVAL, "want"},
	    {"OPTIONS * RTSP/1.0 extra\r\n", -EINVAL, "want"},
	    {"OPT@ONS * RTSP/1.0\r\n", -EINVAL, "method"},
	    {"AVERYVERYLONGMETHOD * RTSP/1.0\r\n", -EINVAL, "too long"},
	    {"\r\n\r\n\r\nX\r\n", -EINVAL, "line 4"},
	    {"OPTIONS * RTSP/1.0\r\n folded: no\r\n", -EINVAL, "folded"},
	    {"OPTIONS * RTSP/1.0\r\nNoColon\r\n", -EINVAL, "without ':'"},
	    {"OPTIONS * RTSP/1.0\r\n: v\r\n", -EINVAL, "empty header"},
	    {"OPTIONS * RTSP/1.0\r\nBad Name: v\r\n", -EINVAL, "header name"},
	    {"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\nContent-Length: -1\r\n\r\n",
	     -EINVAL, "Content-Length"},
	    {"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\nContent-Length: 99999\r\n\r\n",
	     -EMSGSIZE, "over"},
	};
	struct rtsp_request req;
	char err[160];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int r = parse(cases[i].s, strlen(cases[i].s), &req, err,
			      sizeof(err));

		if (r != cases[i].ret || !strstr(err, cases[i].why))
			fail_msg("'%s': got %d '%s', want %d '%s'", cases[i].s,
				 r, err, cases[i].ret, cases[i].why);
	}
	assert_int_equal(rtsp_status_of_error(-EPROTONOSUPPORT), 505);
	assert_int_equal(rtsp_status_of_error(-EINVAL), 400);
	assert_int_equal(rtsp_status_of_error(-EMSGSIZE), 400);
}

static void test_rtsp_refuses_control_bytes_before_the_line_ends(void **state)
{
	struct rtsp_request req;
	char err[128];
	/* binary garbage is refused at once, without waiting for a newline
	 * that may never come */
	const char bin[] = {'\x16', '\x03', '\x01', '\x02', '\x00'};

	assert_int_equal(parse(bin, sizeof(bin), &req, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "control character 0x16"));
	assert_int_equal(parse("OPTIONS\0", 8, &req, err, sizeof(err)),
			 -EINVAL);
	/* a lone CR at the end of what has arrived may be half a CRLF */
	assert_int_equal(
	    parse("OPTIONS * RTSP/1.0\r", 19, &req, err, sizeof(err)), 0);
	assert_int_equal(
	    parse("OPTIONS * RTSP/1.0\rX", 20, &req, err, sizeof(err)),
	    -EINVAL);
}

static void test_rtsp_refuses_oversized_input(void **state)
{
	struct rtsp_request req;
	char err[128];
	char *big = malloc(RTSP_HEAD_MAX * 2);
	size_t n, i;

	assert_non_null(big);
	/* a head that never ends */
	n = (size_t)snprintf(big, RTSP_HEAD_MAX * 2,
			     "OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n");
	while (n < RTSP_HEAD_MAX + 100)
		n += (size_t)snprintf(big + n, RTSP_HEAD_MAX * 2 - n,
				      "X-A: b\r\n");
	assert_int_equal(parse(big, n, &req, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "more than"));
	/* a head over RTSP_HEAD_MAX in few, long headers */
	n = (size_t)snprintf(big, RTSP_HEAD_MAX * 2,
			     "OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n");
	while (n < RTSP_HEAD_MAX + 100) {
		n += (size_t)snprintf(big + n, RTSP_HEAD_MAX * 2 - n, "X: ");
		for (i = 0; i < 250; i++)
			big[n++] = 'v';
		n += (size_t)snprintf(big + n, RTSP_HEAD_MAX * 2 - n, "\r\n");
	}
	assert_int_equal(parse(big, n, &req, err, sizeof(err)), -EMSGSIZE);
	assert_non_null(strstr(err, "longer than"));
	/* one endless line */
	memset(big, 'A', RTSP_HEAD_MAX * 2);
	assert_int_equal(parse(big, RTSP_HEAD_MAX - 1, &req, err, sizeof(err)),
			 0);
	assert_int_equal(parse(big, RTSP_HEAD_MAX, &req, err, sizeof(err)),
			 -EMSGSIZE);
	assert_int_equal(parse(big, RTSP_HEAD_MAX * 2, &req, err, sizeof(err)),
			 -EMSGSIZE);
	/* a URI too long */
	n = (size_t)snprintf(big, RTSP_HEAD_MAX * 2, "DESCRIBE /");
	for (i = 0; i < RTSP_URI_MAX; i++)
		big[n++] = 'u';
	n += (size_t)snprintf(big + n, RTSP_HEAD_MAX * 2 - n,
			      " RTSP/1.0\r\nCSeq: 1\r\n\r\n");
	assert_int_equal(parse(big, n, &req, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "URI of"));
	/* a header value too long */
	n = (size_t)snprintf(big, RTSP_HEAD_MAX * 2,
			     "OPTIONS * RTSP/1.0\r\nCSeq: 1\r\nX: ");
	for (i = 0; i < RTSP_HEADER_VALUE_MAX; i++)
		big[n++] = 'v';
	n += (size_t)snprintf(big + n, RTSP_HEAD_MAX * 2 - n, "\r\n\r\n");
	assert_int_equal(parse(big, n, &req, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "line 3"));
	free(big);
}

static void test_rtsp_garbage_and_mutations_never_crash(void **state)
{
	struct rtsp_request req;
	char err[128];
	unsigned int seed = 7;
	uint8_t buf[600];
	size_t full = strlen(describe_req), len;
	int i, k, r;

	/* random bytes of every length up to 600 */
	for (i = 0; i < 3000; i++) {
		len = (size_t)(rand_r(&seed) % sizeof(buf));
		for (k = 0; k < (int)len; k++)
			buf[k] = (uint8_t)rand_r(&seed);
		r = parse((const char *)buf, len, &req, err, sizeof(err));
		assert_true(valid_outcome(r, len));
	}
	/* printable noise with line breaks, closer to a request */
	for (i = 0; i < 3000; i++) {
		static const char alpha[] = "ABC DEFGHI:rtsp/1.0RTSP/1.0 \r\n"
					    "CSeq:0123456789-Content-Length";

		len = (size_t)(rand_r(&seed) % sizeof(buf));
		for (k = 0; k < (int)len; k++)
			buf[k] =
			    (uint8_t)alpha[rand_r(&seed) % (sizeof(alpha) - 1)];
		r = parse((const char *)buf, len, &req, err, sizeof(err));
		assert_true(valid_outcome(r, len));
	}
	/* every truncation of a valid request with each byte replaced */
	memcpy(buf, describe_req, full);
	for (len = 0; len <= full; len++) {
		for (k = 0; k < (int)len; k += 3) {
			static const uint8_t subst[] = {0,   '\r', '\n', ' ',
							':', 0xff, '%'};
			size_t s;

			for (s = 0; s < sizeof(subst); s++) {
				uint8_t save = buf[k];

				buf[k] = subst[s];
				r = parse((const char *)buf, len, &req, err,
					  sizeof(err));
				assert_true(valid_outcome(r, len));
				buf[k] = save;
			}
		}
	}
}

static void test_rtsp_parses_responses(void **state)
{
	const char *ok = "RTSP/1.0 200 OK\r\nCSeq: 5\r\n"
			 "Content-Type: application/sdp\r\n"
			 "Content-Length: 4\r\n\r\nv=0\n";
	const char *no_reason = "RTSP/1.0 404\r\nCSeq: 6\r\n\r\n";
	struct rtsp_response resp;
	char err[128];
	uint8_t *p;
	size_t len;
	int r;

	p = exact(ok, strlen(ok));
	r = rtsp_parse_response(p, strlen(ok), 1000, &resp, err, sizeof(err));
	assert_int_equal(r, (int)strlen(ok) - 4);
	assert_int_equal(resp.status, 200);
	assert_string_equal(resp.reason, "OK");
	assert_true(resp.has_cseq && resp.cseq == 5);
	assert_true(resp.has_content_length && resp.content_length == 4);
	assert_int_equal(resp.body_offset, strlen(ok) - 4);
	/* the body limit is the caller's */
	assert_int_equal(
	    rtsp_parse_response(p, strlen(ok), 3, &resp, err, sizeof(err)),
	    -EMSGSIZE);
	for (len = 0; len < strlen(ok) - 4; len++)
		assert_int_equal(
		    rtsp_parse_response(p, len, 1000, &resp, NULL, 0), 0);
	free(p);
	r = rtsp_parse_response((const uint8_t *)no_reason, strlen(no_reason),
				1000, &resp, err, sizeof(err));
	assert_int_equal(r, (int)strlen(no_reason));
	assert_int_equal(resp.status, 404);
	assert_string_equal(resp.reason, "");
	assert_int_equal(rtsp_parse_response((const uint8_t *)"HTTP/1.1 200 OK"
							      "\r\n\r\n",
					     19, 1000, &resp, err, sizeof(err)),
			 -EINVAL);
	assert_int_equal(rtsp_parse_response((const uint8_t *)"RTSP/1.0 2x0 OK"
							      "\r\n\r\n",
					     19, 1000, &resp, err, sizeof(err)),
			 -EINVAL);
}

static void test_rtsp_uri_names_decode_and_encode(void **state)
{
	char name[64], uri[256];
	static const char *const names[] = {"Stage Left", "a/b?c#d%e",
					    "Ünïcode", "plain-name_1.2~"};
	size_t i;

	assert_int_equal(
	    rtsp_uri_session_name("rtsp://h:1/by-name/Stage%20Left", name,
				  sizeof(name)),
	    0);
	assert_string_equal(name, "Stage Left");
	assert_int_equal(
	    rtsp_uri_session_name("/by-name/x/", name, sizeof(name)), 0);
	assert_string_equal(name, "x");
	assert_int_equal(
	    rtsp_uri_session_name("rtsp://h/by-name/x?q=1", name, sizeof(name)),
	    0);
	assert_string_equal(name, "x");
	assert_int_equal(
	    rtsp_uri_session_name("rtsp://h/by-id/1", name, sizeof(name)),
	    -ENOENT);
	assert_int_equal(rtsp_uri_session_name("rtsp://h", name, sizeof(name)),
			 -ENOENT);
	assert_int_equal(
	    rtsp_uri_session_name("rtsp://h/by-name/", name, sizeof(name)),
	    -ENOENT);
	assert_int_equal(
	    rtsp_uri_session_name("rtsp://h/by-name/a/b", name, sizeof(name)),
	    -ENOENT);
	assert_int_equal(
	    rtsp_uri_session_name("rtsp://h/by-name/%2", name, sizeof(name)),
	    -EINVAL);
	assert_int_equal(
	    rtsp_uri_session_name("rtsp://h/by-name/%zz", name, sizeof(name)),
	    -EINVAL);
	assert_int_equal(
	    rtsp_uri_session_name("rtsp://h/by-name/a%00b", name, sizeof(name)),
	    -EINVAL);
	assert_int_equal(rtsp_uri_session_name("*", name, sizeof(name)),
			 -EINVAL);
	assert_int_equal(rtsp_uri_session_name("/by-name/toolong", name, 4),
			 -EINVAL);

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		assert_true(rtsp_uri_make(uri, sizeof(uri), "10.0.0.1", 9000,
					  names[i]) > 0);
		assert_null(strchr(uri, ' '));
		assert_int_equal(rtsp_uri_session_name(uri, name, sizeof(name)),
				 0);
		assert_string_equal(name, names[i]);
	}
	assert_string_equal(
	    (rtsp_uri_make(uri, sizeof(uri), "h", 1, "a b"), uri),
	    "rtsp://h:1/by-name/a%20b");
	assert_int_equal(rtsp_uri_make(uri, 20, "h", 1, "abc"), -ENOSPC);
}

/* ---- server and client over TCP ---- */

struct fixture {
	struct loop *loop;
	struct rtsp_server *srv;
	uint16_t port;
	int lookups;
};

static const char *lookup(void *data, const char *name)
{
	struct fixture *f = data;

	f->lookups++;
	return strcmp(name, "Stage Left") == 0 ? test_sdp : NULL;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	f->loop = loop_new();
	f->srv = rtsp_server_new(f->loop, (struct in_addr){htonl(0x7f000001)},
				 0, lookup, f);
	if (!f->loop || !f->srv)
		return -1;
	f->port = rtsp_server_port(f->srv);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	rtsp_server_destroy(f->srv);
	loop_destroy(f->loop);
	free(f);
	return 0;
}

static int connect_to(uint16_t port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_port = htons(port),
				 .sin_addr = {htonl(0x7f000001)}};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);

	assert_true(fd >= 0);
	/* loopback: completes or is in progress; the loop accepts */
	connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	return fd;
}

/* Send @req, run the loop, collect until @want_responses are in or the
 * server closes. Returns what came back (static buffer). */
static const char *exchange_fd(struct fixture *f, int fd, const char *req,
			       size_t len, int want_responses, bool *closed)
{
	static char out[16384];
	size_t got = 0, sent = 0;
	uint64_t end = loop_now_ns() + 2000 * MS;

	*closed = false;
	out[0] = '\0';
	while (loop_now_ns() < end) {
		ssize_t n;
		int count = 0;
		const char *p;

		if (sent < len) {
			n = send(fd, req + sent, len - sent, MSG_NOSIGNAL);
			if (n > 0)
				sent += (size_t)n;
		}
		loop_run_once(f->loop, 5);
		n = recv(fd, out + got, sizeof(out) - 1 - got, 0);
		if (n == 0) {
			*closed = true;
			break;
		}
		if (n > 0) {
			got += (size_t)n;
			out[got] = '\0';
		}
		for (p = out; (p = strstr(p, "RTSP/1.0 ")); p++)
			count++;
		if (want_responses && count >= want_responses &&
		    strstr(out, "\r\n\r\n")) {
			/* let a body arrive too */
			loop_run_once(f->loop, 5);
			n = recv(fd, out + got, sizeof(out) - 1 - got, 0);
			if (n > 0)
				got += (size_t)n;
			out[got] = '\0';
			break;
		}
	}
	return out;
}

static const char *exchange(struct fixture *f, const char *req, bool *closed)
{
	int fd = connect_to(f->port);
	const char *out = exchange_fd(f, fd, req, strlen(req), 1, closed);

	close(fd);
	return out;
}

static void test_rtsp_server_answers_options(void **state)
{
	struct fixture *f = *state;
	bool closed;
	const char *out =
	    exchange(f, "OPTIONS * RTSP/1.0\r\nCSeq: 7\r\n\r\n", &closed);

	assert_non_null(strstr(out, "RTSP/1.0 200 OK\r\n"));
	assert_non_null(strstr(out, "CSeq: 7\r\n"));
	assert_non_null(strstr(out, "Public: OPTIONS, DESCRIBE\r\n"));
}

static void test_rtsp_server_describes_known_session(void **state)
{
	struct fixture *f = *state;
	char expect[128];
	bool closed;
	const char *out = exchange(f, describe_req, &closed);
	const char *body = strstr(out, "\r\n\r\n");

	assert_non_null(strstr(out, "RTSP/1.0 200 OK\r\n"));
	assert_non_null(strstr(out, "CSeq: 312\r\n"));
	assert_non_null(strstr(out, "Content-Type: application/sdp\r\n"));
	assert_non_null(strstr(
	    out,
	    "Content-Base: rtsp://10.0.0.1:9000/by-name/Stage%20Left/\r\n"));
	snprintf(expect, sizeof(expect), "Content-Length: %zu\r\n",
		 strlen(test_sdp));
	assert_non_null(strstr(out, expect));
	assert_non_null(body);
	assert_string_equal(body + 4, test_sdp);
	assert_false(closed);
}

static void test_rtsp_server_404_405_501(void **state)
{
	struct fixture *f = *state;
	bool closed;
	const char *out;

	out = exchange(f,
		       "DESCRIBE rtsp://h/by-name/Nobody RTSP/1.0\r\nCSeq: 1"
		       "\r\n\r\n",
		       &closed);
	assert_non_null(strstr(out, "RTSP/1.0 404 Not Found\r\n"));
	out =
	    exchange(f, "DESCRIBE rtsp://h/by-id/3 RTSP/1.0\r\nCSeq: 1\r\n\r\n",
		     &closed);
	assert_non_null(strstr(out, "RTSP/1.0 404 Not Found\r\n"));
	out = exchange(f,
		       "DESCRIBE rtsp://h/by-name/%zz RTSP/1.0\r\nCSeq: 1"
		       "\r\n\r\n",
		       &closed);
	assert_non_null(strstr(out, "RTSP/1.0 400 Bad Request\r\n"));
	out = exchange(f,
		       "SETUP rtsp://h/by-name/Stage%20Left RTSP/1.0\r\n"
		       "CSeq: 2\r\n\r\n",
		       &closed);
	assert_non_null(strstr(out, "RTSP/1.0 405 Method Not Allowed\r\n"));
	assert_non_null(strstr(out, "Allow: OPTIONS, DESCRIBE\r\n"));
	assert_non_null(strstr(out, "CSeq: 2\r\n"));
	out = exchange(f, "FROB * RTSP/1.0\r\nCSeq: 3\r\n\r\n", &closed);
	assert_non_null(strstr(out, "RTSP/1.0 501 Not Implemented\r\n"));
}

static void test_rtsp_server_bad_request_gets_400_and_close(void **state)
{
	struct fixture *f = *state;
	struct rtsp_server_stats st;
	bool closed;
	const char *out;

	out = exchange(f, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", &closed);
	assert_non_null(strstr(out, "RTSP/1.0 400 Bad Request\r\n"));
	assert_non_null(strstr(out, "Connection: close\r\n"));
	assert_non_null(strstr(out, "RTSP/1.0"));
	out = exchange(f, "OPTIONS * RTSP/2.0\r\nCSeq: 1\r\n\r\n", &closed);
	assert_non_null(strstr(out, "RTSP/1.0 505 "));
	out = exchange(f, "\x16\x03\x01\x00\xa5\x01", &closed);
	assert_non_null(strstr(out, "RTSP/1.0 400 Bad Request\r\n"));
	rtsp_server_get_stats(f->srv, &st);
	assert_int_equal(st.bad_requests, 3);
}

static void test_rtsp_server_answers_pipelined_requests_in_order(void **state)
{
	struct fixture *f = *state;
	char req[1024];
	bool closed;
	int fd = connect_to(f->port);
	const char *out, *a, *b, *c;

	snprintf(req, sizeof(req),
		 "OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n%s"
		 "OPTIONS * RTSP/1.0\r\nCSeq: 3\r\n\r\n",
		 describe_req);
	out = exchange_fd(f, fd, req, strlen(req), 3, &closed);
	a = strstr(out, "CSeq: 1\r\n");
	b = strstr(out, "CSeq: 312\r\n");
	c = strstr(out, "CSeq: 3\r\n");
	assert_non_null(a);
	assert_non_null(b);
	assert_non_null(c);
	assert_true(a < b && b < c);
	close(fd);
}

static void test_rtsp_server_takes_a_request_in_pieces(void **state)
{
	struct fixture *f = *state;
	size_t i, n = strlen(describe_req);
	bool closed;
	int fd = connect_to(f->port);
	const char *out = NULL;

	for (i = 0; i < n; i++) {
		assert_int_equal(send(fd, describe_req + i, 1, MSG_NOSIGNAL),
				 1);
		loop_run_once(f->loop, 0);
	}
	out = exchange_fd(f, fd, "", 0, 1, &closed);
	assert_non_null(strstr(out, "RTSP/1.0 200 OK\r\n"));
	close(fd);
}

static void test_rtsp_server_drops_idle_and_excess_connections(void **state)
{
	struct fixture *f = *state;
	struct rtsp_server_stats st;
	int fds[3], i;
	bool closed;
	uint64_t end;

	rtsp_server_set_limits(f->srv, 2, 50 * MS);
	for (i = 0; i < 3; i++) {
		fds[i] = connect_to(f->port);
		loop_run_once(f->loop, 20);
	}
	loop_run_once(f->loop, 20);
	rtsp_server_get_stats(f->srv, &st);
	/* full: the oldest went for the newest (idle ones must not shut
	 * DESCRIBE off) */
	assert_int_equal(st.refused, 0);
	assert_int_equal(st.evicted, 1);
	assert_int_equal(st.open, 2);
	/* a client trickling bytes is idle all the same */
	end = loop_now_ns() + 500 * MS;
	while (loop_now_ns() < end && st.open) {
		send(fds[1], "O", 1, MSG_NOSIGNAL);
		loop_run_once(f->loop, 10);
		rtsp_server_get_stats(f->srv, &st);
	}
	assert_int_equal(st.open, 0);
	assert_int_equal(st.timeouts, 2);
	exchange_fd(f, fds[1], "", 0, 0, &closed);
	assert_true(closed);
	for (i = 0; i < 3; i++)
		close(fds[i]);
}

/* One address holds at most RTSP_SERVER_PER_PEER connections; another
 * address still gets in and is answered (an attacker's 16 idle
 * connections shut DESCRIBE off for everyone). */
static void test_rtsp_server_caps_connections_per_address(void **state)
{
	struct fixture *f = *state;
	struct rtsp_server_stats st;
	struct sockaddr_in me = {.sin_family = AF_INET,
				 .sin_addr = {htonl(0x7f000002)}};
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_port = htons(f->port),
				 .sin_addr = {htonl(0x7f000001)}};
	int fds[RTSP_SERVER_PER_PEER + 1], other, i;
	bool closed;
	const char *out;

	for (i = 0; i <= RTSP_SERVER_PER_PEER; i++) {
		fds[i] = connect_to(f->port);
		loop_run_once(f->loop, 20);
	}
	loop_run_once(f->loop, 20);
	rtsp_server_get_stats(f->srv, &st);
	assert_int_equal(st.open, RTSP_SERVER_PER_PEER);
	assert_int_equal(st.refused, 1);
	other = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	assert_true(other >= 0);
	assert_int_equal(bind(other, (struct sockaddr *)&me, sizeof(me)), 0);
	connect(other, (struct sockaddr *)&sa, sizeof(sa));
	out = exchange_fd(f, other, describe_req, strlen(describe_req), 1,
			  &closed);
	assert_non_null(strstr(out, "RTSP/1.0 200 OK"));
	for (i = 0; i <= RTSP_SERVER_PER_PEER; i++)
		close(fds[i]);
	close(other);
}

static void
test_rtsp_server_stops_reading_a_client_that_does_not_read(void **state)
{
	struct fixture *f = *state;
	struct rtsp_server_stats st1, st2;
	int fd = connect_to(f->port), i, stable, rcv = 4096;
	char req[4096];
	size_t n = 0;

	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
	while (n + strlen(describe_req) < sizeof(req)) {
		memcpy(req + n, describe_req, strlen(describe_req));
		n += strlen(describe_req);
	}
	/* keep pipelining DESCRIBEs without reading the answers: once the
	 * kernel's buffers and ours are full, the count must stop growing */
	rtsp_server_get_stats(f->srv, &st1);
	for (i = 0, stable = 0; i < 20000 && stable < 200; i++) {
		send(fd, req, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		loop_run_once(f->loop, 0);
		rtsp_server_get_stats(f->srv, &st2);
		stable = st2.requests == st1.requests ? stable + 1 : 0;
		st1 = st2;
	}
	assert_true(st2.requests > 0);
	assert_int_equal(stable, 200);
	assert_int_equal(st2.open, 1);
	close(fd);
}

struct dres {
	bool done;
	int err;
	int status;
	char sdp[1024];
};

static void on_describe(void *data, int err, int status, const char *sdp,
			size_t len)
{
	struct dres *r = data;

	r->done = true;
	r->err = err;
	r->status = status;
	if (!err) {
		assert_int_equal(strlen(sdp), len);
		snprintf(r->sdp, sizeof(r->sdp), "%s", sdp);
	}
}

static void run_until(struct loop *loop, bool *done)
{
	uint64_t end = loop_now_ns() + 3000 * MS;

	while (!*done && loop_now_ns() < end)
		loop_run_once(loop, 10);
	assert_true(*done);
}

static void test_rtsp_client_describes_over_the_loop(void **state)
{
	struct fixture *f = *state;
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_port = htons(f->port),
				 .sin_addr = {htonl(0x7f000001)}};
	char uri[128];
	struct dres r = {0};

	rtsp_uri_make(uri, sizeof(uri), "127.0.0.1", f->port, "Stage Left");
	assert_non_null(
	    rtsp_describe_start(f->loop, &sa, uri, 1000, on_describe, &r));
	run_until(f->loop, &r.done);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.sdp, test_sdp);

	memset(&r, 0, sizeof(r));
	rtsp_uri_make(uri, sizeof(uri), "127.0.0.1", f->port, "Nobody");
	assert_non_null(
	    rtsp_describe_start(f->loop, &sa, uri, 1000, on_describe, &r));
	run_until(f->loop, &r.done);
	assert_int_equal(r.err, -ENOENT);
	assert_int_equal(r.status, 404);

	assert_null(rtsp_describe_start(f->loop, &sa, "rtsp://a b", 1000,
					on_describe, &r));
}

static void test_rtsp_client_reports_refused_and_timeout(void **state)
{
	struct fixture *f = *state;
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_addr = {htonl(0x7f000001)}};
	socklen_t sl = sizeof(sa);
	struct dres r = {0};
	struct rtsp_describe *d;
	int silent;

	/* a port nobody listens on */
	silent = socket(AF_INET, SOCK_STREAM, 0);
	bind(silent, (struct sockaddr *)&sa, sizeof(sa));
	getsockname(silent, (struct sockaddr *)&sa, &sl);
	close(silent);
	assert_non_null(rtsp_describe_start(f->loop, &sa, "rtsp://x/by-name/a",
					    1000, on_describe, &r));
	run_until(f->loop, &r.done);
	assert_int_equal(r.err, -ECONNREFUSED);

	/* a server that accepts (backlog) and never answers */
	silent = socket(AF_INET, SOCK_STREAM, 0);
	sa.sin_port = 0;
	bind(silent, (struct sockaddr *)&sa, sizeof(sa));
	getsockname(silent, (struct sockaddr *)&sa, &sl);
	listen(silent, 4);
	memset(&r, 0, sizeof(r));
	assert_non_null(rtsp_describe_start(f->loop, &sa, "rtsp://x/by-name/a",
					    60, on_describe, &r));
	run_until(f->loop, &r.done);
	assert_int_equal(r.err, -ETIMEDOUT);

	/* cancelled: the callback never runs, nothing leaks */
	memset(&r, 0, sizeof(r));
	d = rtsp_describe_start(f->loop, &sa, "rtsp://x/by-name/a", 60,
				on_describe, &r);
	assert_non_null(d);
	rtsp_describe_cancel(d);
	loop_run_once(f->loop, 100);
	assert_false(r.done);
	close(silent);
}

static void *serve(void *data)
{
	struct fixture *f = data;

	loop_run(f->loop);
	return NULL;
}

static void quit_cb(void *data)
{
	loop_quit(data);
}

static void test_rtsp_describe_sync_with_server_in_thread(void **state)
{
	struct fixture *f = *state;
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_port = htons(f->port),
				 .sin_addr = {htonl(0x7f000001)}};
	struct loop_timer *stop = loop_timer_new(f->loop, quit_cb, f->loop);
	char uri[128], *sdp = NULL;
	size_t len = 0;
	pthread_t th;

	/* the server's loop runs for a bounded time in its own thread */
	loop_timer_arm(stop, 1500 * MS, 0);
	assert_int_equal(pthread_create(&th, NULL, serve, f), 0);
	rtsp_uri_make(uri, sizeof(uri), "127.0.0.1", f->port, "Stage Left");
	assert_int_equal(rtsp_describe_sync(&sa, uri, 1000, &sdp, &len), 0);
	assert_string_equal(sdp, test_sdp);
	assert_int_equal(len, strlen(test_sdp));
	free(sdp);
	rtsp_uri_make(uri, sizeof(uri), "127.0.0.1", f->port, "Nobody");
	assert_int_equal(rtsp_describe_sync(&sa, uri, 1000, &sdp, NULL),
			 -ENOENT);
	pthread_join(th, NULL);
	loop_timer_free(stop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rtsp_parses_describe_with_headers),
	    cmocka_unit_test(test_rtsp_parses_lf_only_and_trims_values),
	    cmocka_unit_test(test_rtsp_parses_pipelined_requests_one_by_one),
	    cmocka_unit_test(test_rtsp_every_prefix_needs_more),
	    cmocka_unit_test(test_rtsp_refuses_missing_or_bad_cseq),
	    cmocka_unit_test(test_rtsp_refuses_bad_request_lines),
	    cmocka_unit_test(
		test_rtsp_refuses_control_bytes_before_the_line_ends),
	    cmocka_unit_test(test_rtsp_refuses_oversized_input),
	    cmocka_unit_test(test_rtsp_garbage_and_mutations_never_crash),
	    cmocka_unit_test(test_rtsp_parses_responses),
	    cmocka_unit_test(test_rtsp_uri_names_decode_and_encode),
	    cmocka_unit_test_setup_teardown(test_rtsp_server_answers_options,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_rtsp_server_describes_known_session, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rtsp_server_404_405_501, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(
		test_rtsp_server_bad_request_gets_400_and_close, setup,
		teardown),
	    cmocka_unit_test_setup_teardown(
		test_rtsp_server_answers_pipelined_requests_in_order, setup,
		teardown),
	    cmocka_unit_test_setup_teardown(
		test_rtsp_server_takes_a_request_in_pieces, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_rtsp_server_drops_idle_and_excess_connections, setup,
		teardown),
	    cmocka_unit_test_setup_teardown(
		test_rtsp_server_caps_connections_per_address, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_rtsp_server_stops_reading_a_client_that_does_not_read,
		setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_rtsp_client_describes_over_the_loop, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_rtsp_client_reports_refused_and_timeout, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_rtsp_describe_sync_with_server_in_thread, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
