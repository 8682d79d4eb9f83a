/* RTSP for RAVENNA stream discovery. The parser rejects, with the line at
 * fault: control characters, folded or over-long header lines, more than
 * RTSP_HEADERS_MAX headers, heads over RTSP_HEAD_MAX, bodies over their
 * limit, requests without CSeq, a version other than RTSP/1.0, and
 * malformed numbers. The server never holds more than one request's worth
 * of input and RTSP_SERVER_OUT_MAX of unread output per connection. */
#include "discovery/rtsp.h"
#include "common/log.h"
#include "common/loop.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef D4_VERSION
#define D4_VERSION "dev"
#endif

/* ---- parser ---- */

static int fail(char *err, size_t err_len, int ret, unsigned int line,
		const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int fail(char *err, size_t err_len, int ret, unsigned int line,
		const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!err || !err_len)
		return ret;
	n = snprintf(err, err_len, "line %u: ", line);
	if (n < 0 || (size_t)n >= err_len)
		return ret;
	va_start(ap, fmt);
	vsnprintf(err + n, err_len - (size_t)n, fmt, ap);
	va_end(ap);
	return ret;
}

/* Printable rendering of outside text for error messages. */
static const char *quote(const uint8_t *p, size_t n, char *out, size_t len)
{
	size_t i, o = 0;

	for (i = 0; i < n && o + 5 < len; i++)
		out[o++] = (p[i] >= 0x20 && p[i] < 0x7f) ? (char)p[i] : '?';
	if (i < n && o + 4 < len) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
	return out;
}

static bool is_token_char(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
}

static bool parse_dec(const uint8_t *p, size_t n, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (n == 0 || n > 20)
		return false;
	for (i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return false;
		if (v > (max - (uint64_t)(p[i] - '0')) / 10)
			return false;
		v = v * 10 + (uint64_t)(p[i] - '0');
	}
	*out = v;
	return true;
}

typedef int (*first_line_fn)(void *ctx, unsigned int ln, const uint8_t *line,
			     size_t n, char *err, size_t err_len);

struct head {
	first_line_fn first_line;
	void *ctx;
	struct rtsp_header *hdrs;
	unsigned int *n_hdrs;
	size_t body_max;
	bool has_cseq;
	uint32_t cseq;
	bool has_cl;
	size_t cl;
};

static int parse_header_line(struct head *h, unsigned int ln,
			     const uint8_t *line, size_t n, char *err,
			     size_t err_len)
{
	const uint8_t *colon, *v;
	size_t name_len, vlen;
	struct rtsp_header *hd;
	uint64_t num;
	char q[40];

	if (line[0] == ' ' || line[0] == '\t')
		return fail(err, err_len, -EINVAL, ln,
			    "folded header lines are not supported");
	colon = memchr(line, ':', n);
	if (!colon)
		return fail(err, err_len, -EINVAL, ln,
			    "header '%s' without ':'",
			    quote(line, n, q, sizeof(q)));
	name_len = (size_t)(colon - line);
	if (name_len == 0)
		return fail(err, err_len, -EINVAL, ln, "empty header name");
	for (size_t i = 0; i < name_len; i++)
		if (!is_token_char(line[i]))
			return fail(err, err_len, -EINVAL, ln,
				    "bad character in header name '%s'",
				    quote(line, name_len, q, sizeof(q)));
	if (name_len >= RTSP_HEADER_NAME_MAX)
		return fail(err, err_len, -EINVAL, ln,
			    "header name '%s' longer than %d bytes",
			    quote(line, name_len, q, sizeof(q)),
			    RTSP_HEADER_NAME_MAX - 1);
	v = colon + 1;
	vlen = n - name_len - 1;
	while (vlen && (*v == ' ' || *v == '\t')) {
		v++;
		vlen--;
	}
	while (vlen && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
		vlen--;
	if (vlen >= RTSP_HEADER_VALUE_MAX)
		return fail(err, err_len, -EINVAL, ln,
			    "value of %.*s is %zu bytes, over %d",
			    (int)name_len, (const char *)line, vlen,
			    RTSP_HEADER_VALUE_MAX - 1);
	if (*h->n_hdrs >= RTSP_HEADERS_MAX)
		return fail(err, err_len, -EINVAL, ln, "more than %d headers",
			    RTSP_HEADERS_MAX);
	hd = &h->hdrs[(*h->n_hdrs)++];
	memcpy(hd->name, line, name_len);
	hd->name[name_len] = '\0';
	memcpy(hd->value, v, vlen);
	hd->value[vlen] = '\0';

	if (strcasecmp(hd->name, "CSeq") == 0) {
		if (!parse_dec(v, vlen, UINT32_MAX, &num))
			return fail(err, err_len, -EINVAL, ln, "bad CSeq '%s'",
				    quote(v, vlen, q, sizeof(q)));
		if (h->has_cseq && h->cseq != num)
			return fail(err, err_len, -EINVAL, ln,
				    "second CSeq differs from the first");
		h->has_cseq = true;
		h->cseq = (uint32_t)num;
	} else if (strcasecmp(hd->name, "Content-Length") == 0) {
		if (!parse_dec(v, vlen, UINT64_MAX, &num))
			return fail(err, err_len, -EINVAL, ln,
				    "bad Content-Length '%s'",
				    quote(v, vlen, q, sizeof(q)));
		if (num > h->body_max)
			return fail(err, err_len, -EMSGSIZE, ln,
				    "Content-Length %llu over %zu",
				    (unsigned long long)num, h->body_max);
		if (h->has_cl && h->cl != num)
			return fail(err, err_len, -EINVAL, ln,
				    "second Content-Length differs");
		h->has_cl = true;
		h->cl = (size_t)num;
	}
	return 0;
}

/* The head (first line, headers, empty line) at the start of @buf: its
 * length, 0 when incomplete, or -errno. Lines end in LF or CRLF. */
static int parse_head(const uint8_t *buf, size_t len, struct head *h, char *err,
		      size_t err_len)
{
	size_t limit = len < RTSP_HEAD_MAX ? len : RTSP_HEAD_MAX;
	size_t pos = 0;
	unsigned int ln = 0;
	bool first = true;
	int ret;

	for (;;) {
		const uint8_t *line = buf + pos, *eol;
		size_t n, i;

		if (pos >= limit)
			goto incomplete;
		ln++;
		eol = memchr(line, '\n', limit - pos);
		n = eol ? (size_t)(eol - line) : limit - pos;
		/* check what has arrived so far, so garbage is refused
		 * before the line (or the connection) ends */
		for (i = 0; i < n; i++) {
			uint8_t c = line[i];

			if (c == '\r' && i == n - 1)
				continue;
			if ((c < 0x20 && c != '\t') || c == 0x7f)
				return fail(err, err_len, -EINVAL, ln,
					    "control character 0x%02x at "
					    "byte %zu",
					    c, pos + i);
		}
		if (!eol)
			goto incomplete;
		pos += n + 1;
		if (n && line[n - 1] == '\r')
			n--;
		if (first) {
			if (n == 0)
				continue; /* tolerated between requests */
			first = false;
			ret = h->first_line(h->ctx, ln, line, n, err, err_len);
			if (ret)
				return ret;
			continue;
		}
		if (n == 0)
			return (int)pos;
		ret = parse_header_line(h, ln, line, n, err, err_len);
		if (ret)
			return ret;
	}

incomplete:
	if (len >= RTSP_HEAD_MAX)
		return fail(err, err_len, -EMSGSIZE, ln ? ln : 1,
			    "request head longer than %d bytes", RTSP_HEAD_MAX);
	return 0;
}

/* Split @line at single spaces into at most @max fields; returns the
 * count, or max + 1 when there are more. */
static unsigned int split_sp(const uint8_t *line, size_t n, const uint8_t **f,
			     size_t *fl, unsigned int max)
{
	unsigned int k = 0;
	size_t i = 0;

	while (i < n) {
		size_t s;

		while (i < n && line[i] == ' ')
			i++;
		if (i == n)
			break;
		if (k == max)
			return max + 1;
		s = i;
		while (i < n && line[i] != ' ')
			i++;
		f[k] = line + s;
		fl[k] = i - s;
		k++;
	}
	return k;
}

static int check_version(const uint8_t *v, size_t n, unsigned int ln, char *err,
			 size_t err_len)
{
	char q[40];

	if (n == 8 && memcmp(v, "RTSP/1.0", 8) == 0)
		return 0;
	if (n == 8 && memcmp(v, "RTSP/", 5) == 0 && v[5] >= '0' &&
	    v[5] <= '9' && v[6] == '.' && v[7] >= '0' && v[7] <= '9')
		return fail(err, err_len, -EPROTONOSUPPORT, ln,
			    "version %.8s not supported, want RTSP/1.0",
			    (const char *)v);
	return fail(err, err_len, -EINVAL, ln, "protocol '%s', want RTSP/1.0",
		    quote(v, n, q, sizeof(q)));
}

static int request_line(void *ctx, unsigned int ln, const uint8_t *line,
			size_t n, char *err, size_t err_len)
{
	struct rtsp_request *req = ctx;
	const uint8_t *f[3];
	size_t fl[3], i;
	char q[40];

	if (split_sp(line, n, f, fl, 3) != 3)
		return fail(err, err_len, -EINVAL, ln,
			    "want '<method> <uri> RTSP/1.0', got '%s'",
			    quote(line, n, q, sizeof(q)));
	if (fl[0] >= RTSP_METHOD_MAX)
		return fail(err, err_len, -EINVAL, ln, "method '%s' too long",
			    quote(f[0], fl[0], q, sizeof(q)));
	for (i = 0; i < fl[0]; i++)
		if (!is_token_char(f[0][i]))
			return fail(err, err_len, -EINVAL, ln,
				    "bad character in method '%s'",
				    quote(f[0], fl[0], q, sizeof(q)));
	if (fl[1] >= RTSP_URI_MAX)
		return fail(err, err_len, -EINVAL, ln,
			    "URI of %zu bytes, over %d", fl[1],
			    RTSP_URI_MAX - 1);
	for (i = 0; i < fl[1]; i++)
		if (f[1][i] <= 0x20 || f[1][i] >= 0x7f)
			return fail(err, err_len, -EINVAL, ln,
				    "bad character 0x%02x in URI", f[1][i]);
	memcpy(req->method, f[0], fl[0]);
	req->method[fl[0]] = '\0';
	memcpy(req->uri, f[1], fl[1]);
	req->uri[fl[1]] = '\0';
	return check_version(f[2], fl[2], ln, err, err_len);
}

int rtsp_parse_request(const uint8_t *buf, size_t len, struct rtsp_request *req,
		       char *err, size_t err_len)
{
	struct head h = {0};
	int head_len;

	if (err && err_len)
		err[0] = '\0';
	if (!buf || !len)
		return 0;
	memset(req, 0, sizeof(*req));
	h.first_line = request_line;
	h.ctx = req;
	h.hdrs = req->headers;
	h.n_hdrs = &req->n_headers;
	h.body_max = RTSP_BODY_MAX;
	head_len = parse_head(buf, len, &h, err, err_len);
	if (head_len <= 0)
		return head_len;
	if (!h.has_cseq)
		return fail(err, err_len, -EINVAL, 1, "no CSeq header");
	req->cseq = h.cseq;
	req->content_length = h.has_cl ? h.cl : 0;
	if (len - (size_t)head_len < req->content_length)
		return 0;
	return head_len + (int)req->content_length;
}

static int status_line(void *ctx, unsigned int ln, const uint8_t *line,
		       size_t n, char *err, size_t err_len)
{
	struct rtsp_response *resp = ctx;
	uint64_t status;
	size_t rlen;
	char q[40];
	int ret;

	/* RTSP/1.0 SP 3DIGIT SP reason (the reason may be empty) */
	if (n < 12 || line[8] != ' ' || (n > 12 && line[12] != ' '))
		return fail(err, err_len, -EINVAL, ln,
			    "want 'RTSP/1.0 <status> <reason>', got '%s'",
			    quote(line, n, q, sizeof(q)));
	ret = check_version(line, 8, ln, err, err_len);
	if (ret)
		return ret;
	if (!parse_dec(line + 9, 3, 999, &status) || status < 100 ||
	    status > 599)
		return fail(err, err_len, -EINVAL, ln, "bad status '%s'",
			    quote(line + 9, 3, q, sizeof(q)));
	resp->status = (int)status;
	rlen = n > 13 ? n - 13 : 0;
	if (rlen >= sizeof(resp->reason))
		rlen = sizeof(resp->reason) - 1;
	memcpy(resp->reason, line + 13, rlen);
	resp->reason[rlen] = '\0';
	return 0;
}

int rtsp_parse_response(const uint8_t *buf, size_t len, size_t body_max,
			struct rtsp_response *resp, char *err, size_t err_len)
{
	struct head h = {0};
	int head_len;

	if (err && err_len)
		err[0] = '\0';
	if (!buf || !len)
		return 0;
	memset(resp, 0, sizeof(*resp));
	h.first_line = status_line;
	h.ctx = resp;
	h.hdrs = resp->headers;
	h.n_hdrs = &resp->n_headers;
	h.body_max = body_max;
	head_len = parse_head(buf, len, &h, err, err_len);
	if (head_len <= 0)
		return head_len;
	resp->has_cseq = h.has_cseq;
	resp->cseq = h.cseq;
	resp->has_content_length = h.has_cl;
	resp->content_length = h.has_cl ? h.cl : 0;
	resp->body_offset = (size_t)head_len;
	return head_len;
}

const char *rtsp_header_find(const struct rtsp_header *h, unsigned int n,
			     const char *name)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		if (strcasecmp(h[i].name, name) == 0)
			return h[i].value;
	return NULL;
}

int rtsp_status_of_error(int err)
{
	return err == -EPROTONOSUPPORT ? 505 : 400;
}

const char *rtsp_reason(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 400:
		return "Bad Request";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 454:
		return "Session Not Found";
	case 500:
		return "Internal Server Error";
	case 501:
		return "Not Implemented";
	case 503:
		return "Service Unavailable";
	case 505:
		return "RTSP Version Not Supported";
	default:
		return "Unknown";
	}
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int rtsp_uri_session_name(const char *uri, char *name, size_t len)
{
	static const char prefix[] = "/by-name/";
	const char *path, *end;
	size_t o = 0;

	if (!uri || !name || !len)
		return -EINVAL;
	if (strncasecmp(uri, "rtsp://", 7) == 0) {
		path = strchr(uri + 7, '/');
		if (!path)
			return -ENOENT;
	} else if (uri[0] == '/') {
		path = uri;
	} else {
		return -EINVAL;
	}
	if (strncmp(path, prefix, sizeof(prefix) - 1) != 0)
		return -ENOENT;
	path += sizeof(prefix) - 1;
	end = path + strcspn(path, "?#");
	if (end > path && end[-1] == '/')
		end--;
	if (end == path)
		return -ENOENT;
	while (path < end) {
		char c = *path++;

		if (c == '%') {
			int hi, lo;

			if (end - path < 2)
				return -EINVAL;
			hi = hex_digit(path[0]);
			lo = hex_digit(path[1]);
			if (hi < 0 || lo < 0)
				return -EINVAL;
			c = (char)(hi << 4 | lo);
			path += 2;
			/* a name has no control characters, NUL above all */
			if ((unsigned char)c < 0x20 || c == 0x7f)
				return -EINVAL;
		} else if (c == '/') {
			return -ENOENT;
		}
		if (o + 1 >= len)
			return -EINVAL;
		name[o++] = c;
	}
	name[o] = '\0';
	return 0;
}

int rtsp_uri_make(char *buf, size_t len, const char *host, uint16_t port,
		  const char *name)
{
	static const char hex[] = "0123456789ABCDEF";
	int n = snprintf(buf, len, "rtsp://%s:%u/by-name/", host, port);
	size_t o;

	if (n < 0 || (size_t)n >= len)
		return -ENOSPC;
	o = (size_t)n;
	for (; *name; name++) {
		unsigned char c = (unsigned char)*name;
		bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			     (c >= '0' && c <= '9') || c == '-' || c == '.' ||
			     c == '_' || c == '~';

		if (o + (plain ? 1 : 3) >= len)
			return -ENOSPC;
		if (plain) {
			buf[o++] = (char)c;
		} else {
			buf[o++] = '%';
			buf[o++] = hex[c >> 4];
			buf[o++] = hex[c & 15];
		}
	}
	buf[o] = '\0';
	return (int)o;
}

/* ---- responder ---- */

#define CONN_IN_MAX (RTSP_HEAD_MAX + RTSP_BODY_MAX)

struct rtsp_conn {
	struct rtsp_server *srv;
	int fd;
	struct loop_io *io;
	struct loop_timer *idle;
	uint8_t in[CONN_IN_MAX];
	size_t in_len;
	char *out;
	size_t out_len; /* bytes in out[] */
	size_t out_off; /* of which written */
	size_t out_cap;
	bool closing; /* close once the output is written */
	bool eof;
	struct in_addr peer;
	struct rtsp_conn *prev, *next;
};

struct rtsp_server {
	struct loop *loop;
	int fd;
	uint16_t port;
	struct loop_io *io;
	rtsp_lookup_fn lookup;
	void *data;
	unsigned int max_conns;
	uint64_t idle_ns;
	struct rtsp_conn *conns;
	struct rtsp_server_stats st;
	struct log_ratelimit rl;
};

static void conn_close(struct rtsp_conn *c)
{
	struct rtsp_server *s = c->srv;

	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	s->st.open--;
	loop_io_remove(c->io);
	loop_timer_free(c->idle);
	close(c->fd);
	free(c->out);
	free(c);
}

static int out_append(struct rtsp_conn *c, const char *p, size_t n)
{
	if (c->out_off && c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	if (c->out_len + n > c->out_cap) {
		size_t cap = c->out_cap ? c->out_cap : 1024;
		char *o;

		/* compact before growing */
		if (c->out_off) {
			memmove(c->out, c->out + c->out_off,
				c->out_len - c->out_off);
			c->out_len -= c->out_off;
			c->out_off = 0;
		}
		while (cap < c->out_len + n)
			cap *= 2;
		if (cap != c->out_cap) {
			o = realloc(c->out, cap);
			if (!o)
				return -ENOMEM;
			c->out = o;
			c->out_cap = cap;
		}
	}
	memcpy(c->out + c->out_len, p, n);
	c->out_len += n;
	return 0;
}

struct strbuf {
	char *p;
	size_t cap;
	size_t len;
	bool overflow;
};

static void sb_printf(struct strbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void sb_printf(struct strbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->overflow)
		return;
	va_start(ap, fmt);
	n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= b->cap - b->len)
		b->overflow = true;
	else
		b->len += (size_t)n;
}

static int respond(struct rtsp_conn *c, int status, bool has_cseq,
		   uint32_t cseq, const char *extra, const char *body,
		   size_t body_len)
{
	char head[RTSP_HEAD_MAX];
	struct strbuf b = {head, sizeof(head), 0, false};

	sb_printf(&b, "RTSP/1.0 %d %s\r\n", status, rtsp_reason(status));
	if (has_cseq)
		sb_printf(&b, "CSeq: %u\r\n", cseq);
	sb_printf(&b, "Server: d4/" D4_VERSION "\r\n%s", extra ? extra : "");
	if (body_len || status == 200)
		sb_printf(&b, "Content-Length: %zu\r\n", body_len);
	if (c->closing)
		sb_printf(&b, "Connection: close\r\n");
	sb_printf(&b, "\r\n");
	if (b.overflow)
		return -ENOSPC;
	if (out_append(c, head, b.len) ||
	    (body_len && out_append(c, body, body_len)))
		return -ENOMEM;
	return 0;
}

static void handle_request(struct rtsp_conn *c, const struct rtsp_request *r)
{
	struct rtsp_server *s = c->srv;
	char name[256], extra[RTSP_URI_MAX + 64];
	const char *sdp;
	int ret;

	s->st.requests++;
	/* idle means no complete request: a client trickling bytes is
	 * cut off too */
	loop_timer_arm(c->idle, s->idle_ns, 0);
	if (strcmp(r->method, "OPTIONS") == 0) {
		respond(c, 200, true, r->cseq, "Public: OPTIONS, DESCRIBE\r\n",
			NULL, 0);
		return;
	}
	if (strcmp(r->method, "DESCRIBE") != 0) {
		static const char *const known[] = {
		    "ANNOUNCE", "GET_PARAMETER", "PAUSE", "PLAY",     "RECORD",
		    "REDIRECT", "SET_PARAMETER", "SETUP", "TEARDOWN",
		};
		size_t i;

		for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
			if (strcmp(r->method, known[i]) == 0)
				break;
		respond(c, i < sizeof(known) / sizeof(known[0]) ? 405 : 501,
			true, r->cseq, "Allow: OPTIONS, DESCRIBE\r\n", NULL, 0);
		return;
	}
	ret = rtsp_uri_session_name(r->uri, name, sizeof(name));
	if (ret == -EINVAL) {
		s->st.bad_requests++;
		respond(c, 400, true, r->cseq, NULL, NULL, 0);
		return;
	}
	sdp = ret == 0 ? s->lookup(s->data, name) : NULL;
	if (!sdp) {
		respond(c, 404, true, r->cseq, NULL, NULL, 0);
		return;
	}
	snprintf(extra, sizeof(extra),
		 "Content-Type: application/sdp\r\nContent-Base: %s%s\r\n",
		 r->uri, r->uri[strlen(r->uri) - 1] == '/' ? "" : "/");
	respond(c, 200, true, r->cseq, extra, sdp, strlen(sdp));
}

/* Write what we can; then decide what to wait for. false: closed. */
static bool conn_flush(struct rtsp_conn *c)
{
	uint32_t ev;

	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off,
				 c->out_len - c->out_off, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			conn_close(c);
			return false;
		}
		c->out_off += (size_t)n;
	}
	if (c->out_off == c->out_len) {
		c->out_off = c->out_len = 0;
		if (c->closing || c->eof) {
			conn_close(c);
			return false;
		}
	}
	/* stop reading while a client does not read its answers */
	ev = 0;
	if (!c->closing && !c->eof &&
	    c->out_len - c->out_off < RTSP_SERVER_OUT_MAX)
		ev |= LOOP_IN;
	if (c->out_off < c->out_len)
		ev |= LOOP_OUT;
	loop_io_update(c->io, ev);
	return true;
}

static void conn_process(struct rtsp_conn *c)
{
	struct rtsp_server *s = c->srv;
	struct rtsp_request *req;
	char err[128];
	int n;

	req = malloc(sizeof(*req));
	if (!req) {
		c->closing = true;
		return;
	}
	while (c->in_len && !c->closing &&
	       c->out_len - c->out_off < RTSP_SERVER_OUT_MAX) {
		n = rtsp_parse_request(c->in, c->in_len, req, err, sizeof(err));
		if (n == 0 && c->in_len == sizeof(c->in)) {
			/* cannot happen while the buffer holds a full head
			 * and body; refuse rather than stall if it does */
			n = -EMSGSIZE;
			snprintf(err, sizeof(err), "request too large");
		}
		if (n == 0)
			break;
		if (n < 0) {
			unsigned int supp;

			s->st.requests++;
			s->st.bad_requests++;
			if (log_ratelimit_ok(&s->rl, &supp))
				log_warn("rtsp: bad request: %s", err);
			/* no way to find the next request: answer, close */
			c->closing = true;
			c->in_len = 0;
			respond(c, rtsp_status_of_error(n), false, 0,
				"Content-Type: text/plain\r\n", err,
				strlen(err));
			break;
		}
		handle_request(c, req);
		memmove(c->in, c->in + n, c->in_len - (size_t)n);
		c->in_len -= (size_t)n;
	}
	free(req);
}

static void conn_event(void *data, int fd, uint32_t events)
{
	struct rtsp_conn *c = data;

	if (events & (LOOP_IN | LOOP_HUP | LOOP_ERR)) {
		while (!c->eof && c->in_len < sizeof(c->in)) {
			ssize_t n = recv(fd, c->in + c->in_len,
					 sizeof(c->in) - c->in_len, 0);

			if (n == 0) {
				c->eof = true;
				break;
			}
			if (n < 0) {
				if (errno == EAGAIN || errno == EINTR)
					break;
				conn_close(c);
				return;
			}
			c->in_len += (size_t)n;
		}
		conn_process(c);
		if (c->eof && c->in_len && !c->closing) {
			struct rtsp_server *s = c->srv;
			unsigned int supp;

			s->st.truncated++;
			if (log_ratelimit_ok(&s->rl, &supp))
				log_warn("rtsp: connection closed in the "
					 "middle of a request (%zu bytes)%s",
					 c->in_len,
					 supp ? " (and earlier ones not logged)"
					      : "");
			c->in_len = 0;
		}
	}
	if (c->eof && c->out_off == c->out_len) {
		conn_close(c);
		return;
	}
	conn_flush(c);
}

static void conn_idle(void *data)
{
	struct rtsp_conn *c = data;

	c->srv->st.timeouts++;
	conn_close(c);
}

static void server_accept(void *data, int fd, uint32_t events)
{
	struct rtsp_server *s = data;
	unsigned int i;

	for (i = 0; i < 16; i++) {
		struct rtsp_conn *c, *o, *oldest = NULL;
		struct sockaddr_in sa = {0};
		socklen_t slen = sizeof(sa);
		unsigned int same = 0;
		int cfd = accept4(fd, (struct sockaddr *)&sa, &slen,
				  SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (cfd < 0) {
			unsigned int supp;

			if (errno != EAGAIN && errno != EINTR &&
			    errno != ECONNABORTED &&
			    log_ratelimit_ok(&s->rl, &supp))
				log_warn("rtsp: accept: %m");
			return;
		}
		/* Idle connections must not shut DESCRIBE off (an attacker
		 * held all 16 for 30 s at a time): one address holds at most
		 * RTSP_SERVER_PER_PEER; when all are taken, the oldest goes
		 * (new ones go first in the list: the last is the oldest). */
		for (o = s->conns; o; o = o->next) {
			if (o->peer.s_addr == sa.sin_addr.s_addr)
				same++;
			oldest = o;
		}
		if (same >= RTSP_SERVER_PER_PEER) {
			s->st.refused++;
			close(cfd);
			continue;
		}
		if (s->st.open >= s->max_conns && oldest) {
			s->st.evicted++;
			conn_close(oldest);
		}
		if (s->st.open >= s->max_conns) {
			s->st.refused++;
			close(cfd);
			continue;
		}
		c = calloc(1, sizeof(*c));
		if (!c) {
			close(cfd);
			continue;
		}
		c->srv = s;
		c->fd = cfd;
		c->peer = sa.sin_addr;
		c->io = loop_io_add(s->loop, cfd, LOOP_IN, conn_event, c);
		c->idle = loop_timer_new(s->loop, conn_idle, c);
		if (!c->io || !c->idle) {
			loop_io_remove(c->io);
			loop_timer_free(c->idle);
			close(cfd);
			free(c);
			continue;
		}
		loop_timer_arm(c->idle, s->idle_ns, 0);
		c->next = s->conns;
		if (s->conns)
			s->conns->prev = c;
		s->conns = c;
		s->st.open++;
		s->st.connections++;
	}
}

struct rtsp_server *rtsp_server_new(struct loop *loop, struct in_addr addr,
				    uint16_t port, rtsp_lookup_fn lookup,
				    void *data)
{
	struct rtsp_server *s = calloc(1, sizeof(*s));
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t sl = sizeof(sa);
	int on = 1;

	if (!s)
		return NULL;
	s->fd = -1;
	s->loop = loop;
	s->lookup = lookup;
	s->data = data;
	s->max_conns = RTSP_SERVER_MAX_CONNS;
	s->idle_ns = RTSP_SERVER_IDLE_TIMEOUT;
	s->rl = (struct log_ratelimit)LOG_RATELIMIT_INIT(10000000000ull, 5);
	s->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->fd < 0) {
		log_err("rtsp: socket: %m");
		goto out_destroy;
	}
	setsockopt(s->fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	sa.sin_addr = addr;
	sa.sin_port = htons(port);
	if (bind(s->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		log_err("rtsp: bind %s:%u: %m", inet_ntoa(addr), port);
		goto out_destroy;
	}
	if (listen(s->fd, 16) < 0) {
		log_err("rtsp: listen: %m");
		goto out_destroy;
	}
	if (getsockname(s->fd, (struct sockaddr *)&sa, &sl) < 0) {
		log_err("rtsp: getsockname: %m");
		goto out_destroy;
	}
	s->port = ntohs(sa.sin_port);
	s->io = loop_io_add(loop, s->fd, LOOP_IN, server_accept, s);
	if (!s->io)
		goto out_destroy;
	return s;

out_destroy:
	rtsp_server_destroy(s);
	return NULL;
}

void rtsp_server_destroy(struct rtsp_server *s)
{
	if (!s)
		return;
	while (s->conns)
		conn_close(s->conns);
	loop_io_remove(s->io);
	if (s->fd >= 0)
		close(s->fd);
	free(s);
}

uint16_t rtsp_server_port(const struct rtsp_server *s)
{
	return s->port;
}

void rtsp_server_set_limits(struct rtsp_server *s, unsigned int max_conns,
			    uint64_t idle_timeout_ns)
{
	if (max_conns)
		s->max_conns = max_conns;
	if (idle_timeout_ns)
		s->idle_ns = idle_timeout_ns;
}

void rtsp_server_get_stats(const struct rtsp_server *s,
			   struct rtsp_server_stats *out)
{
	*out = s->st;
}

/* ---- DESCRIBE client ---- */

struct rtsp_describe {
	struct loop *loop;
	int fd;
	struct loop_io *io;
	struct loop_timer *timer;
	rtsp_describe_fn fn;
	void *data;
	char req[RTSP_URI_MAX + 128];
	size_t req_len;
	size_t req_off;
	uint8_t *in;
	size_t in_len;
	size_t in_cap;
	int connect_err; /* connect() failed at once */
	bool connected;
	bool in_callback;
};

static void describe_free(struct rtsp_describe *d)
{
	loop_io_remove(d->io);
	loop_timer_free(d->timer);
	if (d->fd >= 0)
		close(d->fd);
	free(d->in);
	free(d);
}

static void describe_done(struct rtsp_describe *d, int err, int status,
			  const char *sdp, size_t len)
{
	d->in_callback = true;
	d->fn(d->data, err, status, sdp, len);
	describe_free(d);
}

/* A complete answer in d->in? Then report it and return true. */
static bool describe_check(struct rtsp_describe *d, bool eof)
{
	struct rtsp_response resp;
	char err[128];
	size_t body_len;
	int n;

	n = rtsp_parse_response(d->in, d->in_len, RTSP_RESPONSE_BODY_MAX, &resp,
				err, sizeof(err));
	if (n < 0 || (n == 0 && eof)) {
		log_debug("rtsp: bad DESCRIBE response: %s",
			  n < 0 ? err : "connection closed early");
		describe_done(d, -EPROTO, 0, NULL, 0);
		return true;
	}
	if (n == 0)
		return false;
	/* no Content-Length means no body (RFC 2326 12.14) */
	body_len = resp.content_length;
	if (d->in_len - resp.body_offset < body_len) {
		if (!eof)
			return false;
		describe_done(d, -EPROTO, resp.status, NULL, 0);
		return true;
	}
	if (resp.status != 200) {
		describe_done(d, resp.status == 404 ? -ENOENT : -EPROTO,
			      resp.status, NULL, 0);
		return true;
	}
	/* in_cap keeps one byte spare for the NUL */
	d->in[resp.body_offset + body_len] = '\0';
	describe_done(d, 0, 200, (const char *)d->in + resp.body_offset,
		      body_len);
	return true;
}

static void describe_event(void *data, int fd, uint32_t events)
{
	struct rtsp_describe *d = data;

	if (!d->connected) {
		int soerr = 0;
		socklen_t sl = sizeof(soerr);

		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
			soerr = errno;
		if (soerr) {
			describe_done(d, -soerr, 0, NULL, 0);
			return;
		}
		d->connected = true;
	}
	while (d->req_off < d->req_len) {
		ssize_t n = send(fd, d->req + d->req_off,
				 d->req_len - d->req_off, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			describe_done(d, -errno, 0, NULL, 0);
			return;
		}
		d->req_off += (size_t)n;
	}
	loop_io_update(d->io, LOOP_IN);
	if (!(events & (LOOP_IN | LOOP_HUP | LOOP_ERR)))
		return;
	for (;;) {
		ssize_t n =
		    recv(fd, d->in + d->in_len, d->in_cap - 1 - d->in_len, 0);

		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			describe_done(d, -errno, 0, NULL, 0);
			return;
		}
		d->in_len += (size_t)n;
		if (describe_check(d, n == 0))
			return;
		if (n == 0 || d->in_len == d->in_cap - 1) {
			describe_done(d, -EPROTO, 0, NULL, 0);
			return;
		}
	}
}

static void describe_timeout(void *data)
{
	struct rtsp_describe *d = data;

	describe_done(d, d->connect_err ? -d->connect_err : -ETIMEDOUT, 0, NULL,
		      0);
}

struct rtsp_describe *rtsp_describe_start(struct loop *loop,
					  const struct sockaddr_in *server,
					  const char *uri, int timeout_ms,
					  rtsp_describe_fn fn, void *data)
{
	struct rtsp_describe *d;
	int n;

	if (!loop || !server || !uri || !fn || timeout_ms <= 0 ||
	    strlen(uri) >= RTSP_URI_MAX || strpbrk(uri, " \r\n"))
		return NULL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->fd = -1;
	d->loop = loop;
	d->fn = fn;
	d->data = data;
	n = snprintf(d->req, sizeof(d->req),
		     "DESCRIBE %s RTSP/1.0\r\nCSeq: 1\r\n"
		     "Accept: application/sdp\r\n"
		     "User-Agent: d4/" D4_VERSION "\r\n\r\n",
		     uri);
	if (n < 0 || (size_t)n >= sizeof(d->req))
		goto out_free;
	d->req_len = (size_t)n;
	d->in_cap = RTSP_HEAD_MAX + RTSP_RESPONSE_BODY_MAX + 1;
	d->in = malloc(d->in_cap);
	if (!d->in)
		goto out_free;
	d->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (d->fd < 0) {
		log_err("rtsp: socket: %m");
		goto out_free;
	}
	if (connect(d->fd, (const struct sockaddr *)server, sizeof(*server)) <
		0 &&
	    errno != EINPROGRESS)
		d->connect_err = errno;
	d->io = loop_io_add(loop, d->fd, d->connect_err ? 0 : LOOP_OUT,
			    describe_event, d);
	d->timer = loop_timer_new(loop, describe_timeout, d);
	if (!d->io || !d->timer)
		goto out_free;
	/* a failed connect is reported from the loop like any outcome */
	loop_timer_arm(d->timer,
		       d->connect_err ? 0 : (uint64_t)timeout_ms * 1000000u, 0);
	return d;

out_free:
	describe_free(d);
	return NULL;
}

void rtsp_describe_cancel(struct rtsp_describe *d)
{
	if (!d || d->in_callback)
		return;
	describe_free(d);
}

struct sync_result {
	bool done;
	int err;
	char *sdp;
	size_t len;
};

static void sync_done(void *data, int err, int status, const char *sdp,
		      size_t len)
{
	struct sync_result *r = data;

	r->done = true;
	r->err = err;
	if (!err) {
		r->sdp = malloc(len + 1);
		if (!r->sdp) {
			r->err = -ENOMEM;
			return;
		}
		memcpy(r->sdp, sdp, len + 1);
		r->len = len;
	}
}

int rtsp_describe_sync(const struct sockaddr_in *server, const char *uri,
		       int timeout_ms, char **sdp, size_t *len)
{
	struct sync_result r = {0};
	struct loop *loop = loop_new();
	struct rtsp_describe *d;
	int ret = 0;

	if (!loop)
		return -ENOMEM;
	d = rtsp_describe_start(loop, server, uri, timeout_ms, sync_done, &r);
	if (!d) {
		loop_destroy(loop);
		return -EINVAL;
	}
	/* the request's own timer bounds this */
	while (!r.done) {
		ret = loop_run_once(loop, -1);
		if (ret < 0)
			break;
	}
	if (!r.done)
		rtsp_describe_cancel(d);
	loop_destroy(loop);
	if (ret < 0 && !r.done)
		return ret;
	if (r.err)
		return r.err;
	*sdp = r.sdp;
	if (len)
		*len = r.len;
	return 0;
}
