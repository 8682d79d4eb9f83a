/* The rules of Dante's AES67 mode, AES67 and SMPTE ST 2110-30 that a
 * stream's SDP and its packets on the wire can break, checked in one place:
 * `d4ctl check` runs them on an SDP file, a stream seen on the network or
 * a d4 flow, and a node can run them on its own flows at start.
 *
 * Pure functions: no I/O, no allocation. What the caller saw live (the
 * grandmaster its node follows, DSCP and timing measured on packets, the
 * other sessions announced) comes in struct aes67check_live. */
#ifndef D4_DISCOVERY_AES67CHECK_H
#define D4_DISCOVERY_AES67CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "discovery/sdp.h"

enum aes67check_severity {
	AES67CHECK_INFO,  /* worth knowing; breaks no rule */
	AES67CHECK_WARN,  /* some receivers refuse it, or a SHOULD is broken */
	AES67CHECK_ERROR, /* a MUST is broken, or Dante refuses it */
};

#define AES67CHECK_RULE_MAX 24
#define AES67CHECK_MSG_MAX  240

struct aes67check_finding {
	char rule[AES67CHECK_RULE_MAX]; /* "dante.port", "sdp.order", ... */
	enum aes67check_severity severity;
	char msg[AES67CHECK_MSG_MAX];
};

/* What was measured on the network; each part only when its has_ flag is
 * set. */
struct aes67check_live {
	/* the grandmaster the local node follows (GET /api/v1/ptp) */
	bool has_gm;
	uint8_t gm_id[8];
	int domain;
	/* the IP DSCP of the stream's packets as received */
	bool has_dscp;
	unsigned int dscp;	   /* of the first packet */
	unsigned int dscp_packets; /* how many were looked at */
	bool dscp_mixed;	   /* not all packets carried @dscp */
	/* send-time offset: arrival (PTP ns) - RTP timestamp as PTP ns, over
	 * @timing_packets packets; the spread is judged between the 1st and
	 * 99th percentile, so that one scheduling stall of the listening
	 * host is not taken for the sender's bursts */
	bool has_timing;
	unsigned int timing_packets;
	int64_t offset_min_ns;
	int64_t offset_p01_ns;
	int64_t offset_mean_ns;
	int64_t offset_p99_ns;
	int64_t offset_max_ns;
	/* how many other announced sessions have this o= id and address */
	bool has_others;
	unsigned int same_origin;
};

/* Defaults of the rules: Dante's multicast prefix 239.69.0.0/16. */
#define AES67CHECK_DANTE_PREFIX 0xef450000u /* 239.69.0.0 */

/* Dante drops packets later than its receive latency (1 ms default; FACTS:
 * beyond ~2 ms): a mean send-time offset more than this past one packet
 * time is late. */
#define AES67CHECK_LATE_NS 2000000

/* Check @st (parsed from @text, @len bytes; @text may be NULL to skip the
 * line-order rules) and @live (may be NULL). Writes at most @max findings
 * into @out, in rule order. Returns how many findings there are (may
 * exceed @max: only the first @max are written). */
size_t aes67check_run(const struct sdp_stream *st, const uint8_t *text,
		      size_t len, const struct aes67check_live *live,
		      struct aes67check_finding *out, size_t max);

/* True when any of @n findings is a warning or an error. */
bool aes67check_fails(const struct aes67check_finding *f, size_t n);

/* "error", "warning" or "info". */
const char *aes67check_severity_name(enum aes67check_severity s);

/* Channels an ST 2110-30 channel-order "SMPTE2110.(51,ST,U02)" names
 * (M 1, DM/ST/LtRt 2, SGRP 4, 51 6, 71 8, 222 24, Uxx xx); -1 when it
 * cannot be read. */
int aes67check_channel_order_count(const char *order);

#endif
