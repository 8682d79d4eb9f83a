/* libFuzzer harness for the SDP parser and writer (discovery/sdp.c): the
 * text a SAP announcement, an RTSP DESCRIBE or a config's sdp = FILE hands
 * the node.
 *
 * Beyond "no crash, no sanitizer report": a rejection says "line N: what";
 * an accepted stream that the writer can write is written, parsed again and
 * must come back with the same stream fields, so the writer never emits
 * what our own parser (and so, likely, a receiver) reads differently. */
#include "discovery/sdp.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* "line 12: message" */
static void check_error_text(const char *err)
{
	const char *p = err;

	if (strncmp(p, "line ", 5))
		abort();
	p += 5;
	if (!isdigit((unsigned char)*p))
		abort();
	while (isdigit((unsigned char)*p))
		p++;
	if (p[0] != ':' || p[1] != ' ' || !p[2])
		abort();
}

#define SAME(f)	      (a->f == b->f)
#define SAME_BYTES(f) (memcmp(&a->f, &b->f, sizeof(a->f)) == 0)

/* What must survive write then parse. The TTL of a unicast stream and an
 * empty ts-refclk text are not written, so they are not compared. */
static bool same_stream(const struct sdp_stream *a, const struct sdp_stream *b)
{
	return SAME(session_id) && SAME(session_version) &&
	       SAME(origin_addr.s_addr) && SAME(addr.s_addr) && SAME(port) &&
	       SAME(payload_type) && SAME(rate) && SAME(channels) &&
	       SAME(ptime_us) && SAME(framecount) && SAME(refclk) &&
	       SAME(has_mediaclk) && SAME(mediaclk_offset) &&
	       SAME(has_source_filter) && SAME(source_filter.s_addr) &&
	       !strcmp(a->origin_user, b->origin_user) &&
	       !strcmp(a->name, b->name) && !strcmp(a->info, b->info) &&
	       !strcmp(a->encoding, b->encoding) &&
	       !strcmp(a->direction, b->direction) && SAME_BYTES(gm_id) &&
	       !strcmp(a->channel_order, b->channel_order) &&
	       !strcmp(a->mid, b->mid) && SAME(dup.present) &&
	       !strcmp(a->dup.mid, b->dup.mid) && SAME(dup.addr.s_addr) &&
	       SAME(dup.ttl) && SAME(dup.port) && SAME(dup.has_source_filter) &&
	       SAME(dup.source_filter.s_addr);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sdp_stream st, again;
	char err[160], text[8192];
	uint8_t *copy;
	int n;

	/* a heap copy of exactly @size bytes: ASan sees any over-read */
	copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	memset(&st, 0, sizeof(st));
	if (sdp_parse(copy, size, &st, err, sizeof(err))) {
		check_error_text(err);
		goto out;
	}
	sdp_frames_per_packet(&st);
	n = sdp_write(&st, text, sizeof(text));
	if (n == -EINVAL || n == -ENOSPC)
		goto out;
	if (n < 0 || (size_t)n != strlen(text))
		abort();
	memset(&again, 0, sizeof(again));
	if (sdp_parse((const uint8_t *)text, (size_t)n, &again, err,
		      sizeof(err)))
		abort(); /* we wrote what we cannot read */
	if (!same_stream(&st, &again))
		abort();
out:
	free(copy);
	return 0;
}
