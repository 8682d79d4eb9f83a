/* libFuzzer harness for the RTSP responder (discovery/rtsp.c): the bytes a
 * TCP client sends, through the request parser, the by-name URI decoder
 * and the answers the server queues. It includes rtsp.c, as wireguard's
 * harnesses do, to drive one connection's conn_process() without sockets
 * or a loop.
 *
 * Input: the first byte picks how the stream is cut into reads (1 to 256
 * bytes each), the rest is the stream.
 *
 * Beyond "no crash, no sanitizer report": the server never stalls on a
 * full input buffer; it answers every request exactly once, and every
 * answer parses as an RTSP response with a known status, the request's CSeq
 * (when it had one) and a body of exactly its Content-Length; the lookup only
 * ever sees clean names. */
#include "discovery/rtsp.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char stage_sdp[] =
    "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=Stage left\r\n"
    "c=IN IP4 239.69.1.2/32\r\nt=0 0\r\nm=audio 5004 RTP/AVP 98\r\n"
    "a=rtpmap:98 L24/48000/2\r\na=ptime:1\r\n";

/* Two sessions, "Stage left" and "tone"; names as rtsp_uri_session_name()
 * promises them: NUL-terminated, no control characters. */
static const char *lookup(void *data, const char *name)
{
	const char *c;

	for (c = name; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			abort();
	if (!strcmp(name, "Stage left") || !strcmp(name, "tone"))
		return stage_sdp;
	return NULL;
}

static bool known_status(int status)
{
	return status == 200 || status == 400 || status == 404 ||
	       status == 405 || status == 501 || status == 505;
}

/* Parse and drop every answer queued on @c, as a client reading them;
 * returns how many there were. */
static unsigned int read_answers(struct rtsp_conn *c)
{
	struct rtsp_response resp;
	char err[128];
	size_t off = c->out_off;
	unsigned int answers = 0;
	int n;

	while (off < c->out_len) {
		n = rtsp_parse_response(
		    (const uint8_t *)c->out + off, c->out_len - off,
		    RTSP_RESPONSE_BODY_MAX, &resp, err, sizeof(err));
		if (n <= 0 || !known_status(resp.status))
			abort();
		if (resp.status != 400 && resp.status != 505 && !resp.has_cseq)
			abort();
		if (resp.status == 200 && !resp.has_content_length)
			abort();
		off += (size_t)n;
		if (resp.content_length > c->out_len - off)
			abort();
		off += resp.content_length;
		answers++;
	}
	c->out_off = c->out_len = 0;
	return answers;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* one server's rate limit over all runs, as in a node: 5 lines in
	 * 10 s, not one per run */
	static struct log_ratelimit rl = LOG_RATELIMIT_INIT(10000000000ull, 5);
	struct rtsp_server srv = {
	    .lookup = lookup,
	    .max_conns = RTSP_SERVER_MAX_CONNS,
	    .idle_ns = RTSP_SERVER_IDLE_TIMEOUT,
	    .rl = rl,
	};
	struct rtsp_conn *c;
	size_t read_len, pos = 1;
	uint64_t answers = 0;

	if (size < 1)
		return 0;
	read_len = (size_t)data[0] + 1;
	c = calloc(1, sizeof(*c));
	if (!c)
		return 0;
	c->srv = &srv;
	c->fd = -1;
	/* conn_event(): read what fits, process, write it all out; once the
	 * input is over, process what is left until nothing moves */
	while (!c->closing) {
		size_t n = size - pos, before;

		if (n > read_len)
			n = read_len;
		if (n > sizeof(c->in) - c->in_len)
			n = sizeof(c->in) - c->in_len;
		memcpy(c->in + c->in_len, data + pos, n);
		c->in_len += n;
		pos += n;
		before = c->in_len;
		conn_process(c);
		if (c->in_len > before)
			abort();
		answers += read_answers(c);
		if (pos == size && c->in_len == before)
			break;
		/* a full buffer that yields nothing: stalled */
		if (!n && c->in_len == before)
			abort();
	}
	/* one answer per request, good or bad */
	if (answers != srv.st.requests)
		abort();
	rl = srv.rl;
	free(c->out);
	free(c);
	return 0;
}
