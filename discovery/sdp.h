/* SDP (RFC 4566) for AES67 audio streams: a tolerant parser for what real
 * gear announces (Dante, RAVENNA, aes67-linux-daemon, PipeWire) and a writer
 * whose output Dante Controller accepts (CRLF, fixed line order). */
#ifndef D4_DISCOVERY_SDP_H
#define D4_DISCOVERY_SDP_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SDP_NAME_MAX	128
#define SDP_ENC_MAX	16
#define SDP_MID_MAX	32
#define SDP_WHY_MAX	160
#define SDP_CHORDER_MAX 96

enum sdp_refclk_kind {
	SDP_REFCLK_NONE,
	SDP_REFCLK_PTP, /* ptp=IEEE1588-2008|2002|2019|IEEE802.1AS-2011 */
	SDP_REFCLK_PTP_TRACEABLE, /* ptp=...:traceable */
	SDP_REFCLK_LOCALMAC,	  /* localmac=XX-XX-XX-XX-XX-XX */
	SDP_REFCLK_OTHER,	  /* anything else, kept as text */
};

/* The second leg of an ST 2022-7 pair: the audio section named by
 * a=group:DUP whose a=mid differs from the first audio section's. It
 * carries the same packets; only where they travel differs. */
struct sdp_leg {
	bool present;
	char mid[SDP_MID_MAX];
	struct in_addr addr; /* its c= (media level wins over session level) */
	int ttl;	     /* -1 when not given */
	uint16_t port;
	bool has_source_filter;
	struct in_addr source_filter;
};

struct sdp_stream {
	/* o= */
	char origin_user[64]; /* "" when the SDP says "-" */
	uint64_t session_id;
	uint64_t session_version;
	struct in_addr origin_addr;
	/* s= and i= */
	char name[SDP_NAME_MAX];
	char info[SDP_NAME_MAX * 2];
	/* c= (media level wins over session level) and m= */
	struct in_addr addr; /* stream destination */
	int ttl;	     /* -1 when not given */
	uint16_t port;
	/* a=rtpmap */
	uint8_t payload_type;
	char encoding[SDP_ENC_MAX]; /* "L24", "L16", ... as written */
	uint32_t rate;
	unsigned int channels;
	/* a=ptime (µs, rounded) and a=framecount (0 when absent) */
	uint32_t ptime_us;
	uint32_t framecount;
	/* a=ts-refclk */
	enum sdp_refclk_kind refclk;
	char refclk_version[24]; /* "IEEE1588-2008"; OTHER: the text */
	uint8_t gm_id[8];	 /* PTP grandmaster or MAC (first 6 bytes) */
	int ptp_domain;		 /* -1 when absent */
	/* a=mediaclk:direct=N */
	bool has_mediaclk;
	uint32_t mediaclk_offset;
	/* a=source-filter: incl IN IP4 <dest> <src> */
	bool has_source_filter;
	struct in_addr source_filter;
	/* a=recvonly/sendonly/... (0 unknown) */
	char direction[10];
	/* a=fmtp:<pt> channel-order=SMPTE2110.(...) as written; "" when none */
	char channel_order[SDP_CHORDER_MAX];
	/* a=mid of the first audio section ("" when none) and its DUP twin */
	char mid[SDP_MID_MAX];
	struct sdp_leg dup;
	/* a DUP leg the group names but of another format than the first
	 * (payload type, encoding, rate, channels), left out: why; "" when
	 * none was */
	char dup_left_out[SDP_WHY_MAX];
};

/* Parse @len bytes of SDP. Accepts CRLF or LF, takes the first audio media
 * section (the first leg of a=group:DUP, whose second leg lands in
 * @out->dup) and ignores unknown lines; input ends at @len or at the first
 * NUL byte. On error returns -EINVAL, leaves @out alone and writes
 * "line N: what" into @err (may be NULL). */
int sdp_parse(const uint8_t *buf, size_t len, struct sdp_stream *out, char *err,
	      size_t err_len);

/* Frames per packet of a parsed stream: framecount when given, else from
 * ptime and rate; 0 when neither is known. */
uint32_t sdp_frames_per_packet(const struct sdp_stream *s);

/* Write @s as SDP with CRLF line endings in the order v o s i c t m a=...
 * (with a DUP leg: a=group:DUP before the first m=, and a second m=
 * section). Returns the length written (excluding NUL) or -ENOSPC;
 * -EINVAL when a field cannot be written (a line break in a string, no
 * encoding, rate or channels, payload type > 127, TTL > 255, unknown
 * direction, a DUP leg without both mids). */
int sdp_write(const struct sdp_stream *s, char *buf, size_t len);

#endif
