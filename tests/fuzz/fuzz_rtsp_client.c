/* libFuzzer harness for the RTSP DESCRIBE client (discovery/rtsp.c): the
 * bytes a server answers with, through the response parser and the
 * client's decision when the answer is complete. It includes rtsp.c, as
 * wireguard's harnesses do, to drive describe_check() without a socket.
 *
 * Input: the first byte picks how the answer is cut into reads (1 to 256
 * bytes each), the rest is the answer; the server closes after it.
 *
 * Beyond "no crash, no sanitizer report": the callback runs exactly once;
 * success comes with status 200 and a NUL-terminated SDP of the announced
 * length, a 404 with -ENOENT, anything else with -EPROTO. */
#include "discovery/rtsp.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static unsigned int calls;

static void on_done(void *data, int err, int status, const char *sdp,
		    size_t len)
{
	calls++;
	if (err == 0) {
		if (status != 200 || !sdp || sdp[len] ||
		    len > RTSP_RESPONSE_BODY_MAX)
			abort();
	} else if (err == -ENOENT) {
		if (status != 404)
			abort();
	} else if (err != -EPROTO || sdp) {
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rtsp_describe *d;
	size_t read_len, pos = 1;

	if (size < 1)
		return 0;
	read_len = (size_t)data[0] + 1;
	d = calloc(1, sizeof(*d));
	if (!d)
		return 0;
	d->fd = -1;
	d->fn = on_done;
	d->in_cap = RTSP_HEAD_MAX + RTSP_RESPONSE_BODY_MAX + 1;
	d->in = malloc(d->in_cap);
	if (!d->in) {
		free(d);
		return 0;
	}
	calls = 0;
	/* describe_event(): each read, then end of stream (a read of 0) */
	for (;;) {
		size_t n = size - pos;

		if (n > read_len)
			n = read_len;
		if (n > d->in_cap - 1 - d->in_len)
			n = d->in_cap - 1 - d->in_len;
		memcpy(d->in + d->in_len, data + pos, n);
		d->in_len += n;
		pos += n;
		if (describe_check(d, n == 0))
			break;
		if (n == 0 || d->in_len == d->in_cap - 1) {
			describe_done(d, -EPROTO, 0, NULL, 0);
			break;
		}
	}
	if (calls != 1)
		abort();
	return 0;
}
