/* The slice of RTSP/1.0 (RFC 2326) that RAVENNA discovery needs: a bounded
 * request/response parser, a responder that serves each multicast flow's
 * SDP at rtsp://host:port/by-name/<session>, and a DESCRIBE client. */
#ifndef D4_DISCOVERY_RTSP_H
#define D4_DISCOVERY_RTSP_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct loop;

#define RTSP_HEAD_MAX	       4096  /* request/status line and headers */
#define RTSP_BODY_MAX	       4096  /* request body we accept (and skip) */
#define RTSP_RESPONSE_BODY_MAX 65536 /* response body the client accepts */
#define RTSP_METHOD_MAX	       16
#define RTSP_URI_MAX	       512
#define RTSP_HEADERS_MAX       24
#define RTSP_HEADER_NAME_MAX   32
#define RTSP_HEADER_VALUE_MAX  256

struct rtsp_header {
	char name[RTSP_HEADER_NAME_MAX];
	char value[RTSP_HEADER_VALUE_MAX]; /* surrounding blanks trimmed */
};

struct rtsp_request {
	char method[RTSP_METHOD_MAX]; /* as sent: methods are case-sensitive */
	char uri[RTSP_URI_MAX];
	uint32_t cseq;
	size_t content_length; /* body skipped, not kept */
	unsigned int n_headers;
	struct rtsp_header headers[RTSP_HEADERS_MAX];
};

struct rtsp_response {
	int status; /* 100-599 */
	char reason[64];
	bool has_cseq;
	uint32_t cseq;
	bool has_content_length; /* without it: no body (RFC 2326 12.14) */
	size_t content_length;
	size_t body_offset; /* the body starts at buf + body_offset */
	unsigned int n_headers;
	struct rtsp_header headers[RTSP_HEADERS_MAX];
};

/* Parse one request at the start of @buf. Returns its length (head and
 * body: consume that many bytes, the next request may follow), 0 when the
 * request is incomplete so far (read more), or an error with "line N: why"
 * in @err: -EINVAL malformed or no CSeq, -EMSGSIZE over RTSP_HEAD_MAX or
 * RTSP_BODY_MAX (both answered 400), -EPROTONOSUPPORT not RTSP/1.0 (505).
 * Leading empty lines are skipped. Never reads past @len. */
int rtsp_parse_request(const uint8_t *buf, size_t len, struct rtsp_request *req,
		       char *err, size_t err_len);

/* Parse a response head at the start of @buf, as above; @body_max bounds
 * Content-Length. Returns the head length (body not included: it is
 * complete when len >= body_offset + content_length), 0, or -errno. */
int rtsp_parse_response(const uint8_t *buf, size_t len, size_t body_max,
			struct rtsp_response *resp, char *err, size_t err_len);

/* The value of header @name (case-insensitive), or NULL. */
const char *rtsp_header_find(const struct rtsp_header *h, unsigned int n,
			     const char *name);

/* The status a server answers a parse error with (400 or 505). */
int rtsp_status_of_error(int err);

/* "OK", "Not Found", ...; "Unknown" for others. */
const char *rtsp_reason(int status);

/* The session name in a DESCRIBE URI: "rtsp://host[:port]/by-name/<name>"
 * or "/by-name/<name>", percent-decoded, a trailing '/' ignored. 0,
 * -ENOENT when the URI is not a by-name URI, -EINVAL when it is malformed
 * or the name does not fit @len. */
int rtsp_uri_session_name(const char *uri, char *name, size_t len);

/* Write "rtsp://<host>:<port>/by-name/<name, percent-encoded>". Returns
 * the length or -ENOSPC. */
int rtsp_uri_make(char *buf, size_t len, const char *host, uint16_t port,
		  const char *name);

/* ---- responder ---- */

/* The SDP text of session @name, or NULL when there is none (404). The
 * text is copied before the server returns to the loop. */
typedef const char *(*rtsp_lookup_fn)(void *data, const char *name);

struct rtsp_server_stats {
	uint64_t connections;
	uint64_t refused; /* over the connection limit */
	uint64_t requests;
	uint64_t bad_requests;
	uint64_t truncated; /* connection closed in the middle of a request */
	uint64_t timeouts;
	uint64_t evicted; /* the oldest, closed for a new one when full */
	unsigned int open;
};

#define RTSP_SERVER_MAX_CONNS	 16
#define RTSP_SERVER_PER_PEER	 8 /* connections one address may hold */
#define RTSP_SERVER_IDLE_TIMEOUT (30ull * 1000000000ull)
#define RTSP_SERVER_OUT_MAX	 (64 * 1024) /* unread output per conn */

/* Listen on @addr:@port (port 0: an ephemeral port, see
 * rtsp_server_port()) and answer OPTIONS and DESCRIBE on @loop. NULL on
 * failure (logged). */
struct rtsp_server *rtsp_server_new(struct loop *loop, struct in_addr addr,
				    uint16_t port, rtsp_lookup_fn lookup,
				    void *data);
void rtsp_server_destroy(struct rtsp_server *s);

uint16_t rtsp_server_port(const struct rtsp_server *s);

/* Connection limit and idle timeout (0 keeps the current value). */
void rtsp_server_set_limits(struct rtsp_server *s, unsigned int max_conns,
			    uint64_t idle_timeout_ns);

void rtsp_server_get_stats(const struct rtsp_server *s,
			   struct rtsp_server_stats *out);

/* ---- DESCRIBE client ---- */

/* The outcome of a DESCRIBE: @err is 0 with the SDP (@sdp NUL-terminated,
 * valid during the call), -ENOENT for a 404, -EPROTO for another status
 * (@status tells) or a bad response, -ETIMEDOUT, or a socket's -errno. */
typedef void (*rtsp_describe_fn)(void *data, int err, int status,
				 const char *sdp, size_t len);

/* Fetch @uri from @server on @loop within @timeout_ms. @fn runs exactly
 * once, from the loop, unless the request is cancelled first; the request
 * frees itself after @fn returns. NULL when it cannot start. */
struct rtsp_describe *rtsp_describe_start(struct loop *loop,
					  const struct sockaddr_in *server,
					  const char *uri, int timeout_ms,
					  rtsp_describe_fn fn, void *data);

/* Abort a request whose callback has not run; a no-op inside it. */
void rtsp_describe_cancel(struct rtsp_describe *d);

/* Blocking DESCRIBE on a private loop: 0 with a malloc'd NUL-terminated
 * SDP in *@sdp (length in *@len, may be NULL), or -errno as above. */
int rtsp_describe_sync(const struct sockaddr_in *server, const char *uri,
		       int timeout_ms, char **sdp, size_t *len);

#endif
