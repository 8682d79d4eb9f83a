/* Rule checks of a stream against Dante's AES67 mode, AES67-2018 and
 * ST 2110-30 (aes67check.h). Each rule is one function that adds findings;
 * rule ids name the standard first ("dante.", "aes67.", "st2110.", "sdp."
 * for RFC 4566 and what Dante Controller needs of it, "wire." for what was
 * measured on packets). The sources of each rule are in docs/interop.md
 * "d4ctl check". */
#include "discovery/aes67check.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct checker {
	const struct sdp_stream *st;
	const struct aes67check_live *live;
	struct aes67check_finding *out;
	size_t max;
	size_t n;
};

static void add(struct checker *c, enum aes67check_severity sev,
		const char *rule, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void add(struct checker *c, enum aes67check_severity sev,
		const char *rule, const char *fmt, ...)
{
	struct aes67check_finding *f;
	va_list ap;

	if (c->n < c->max) {
		f = &c->out[c->n];
		snprintf(f->rule, sizeof(f->rule), "%s", rule);
		f->severity = sev;
		va_start(ap, fmt);
		vsnprintf(f->msg, sizeof(f->msg), fmt, ap);
		va_end(ap);
	}
	c->n++;
}

static bool is_l16_or_l24(const char *enc)
{
	return !strcmp(enc, "L24") || !strcmp(enc, "L16");
}

static const char *addr_str(struct in_addr a, char *buf, size_t len)
{
	return inet_ntop(AF_INET, &a, buf, (socklen_t)len) ? buf : "?";
}

/* Destination: Dante subscribes to multicast in 239/8 only, and Brooklyn
 * II/HC/Broadway only inside its own 239.x/16 prefix (default 239.69). */
static void check_address(struct checker *c)
{
	uint32_t a = ntohl(c->st->addr.s_addr);
	char ip[INET_ADDRSTRLEN];

	addr_str(c->st->addr, ip, sizeof(ip));
	if (!IN_MULTICAST(a)) {
		add(c, AES67CHECK_ERROR, "dante.multicast",
		    "%s is unicast: Dante in AES67 mode receives multicast "
		    "only",
		    ip);
		return;
	}
	if ((a >> 24) != 239) {
		add(c, AES67CHECK_ERROR, "dante.239",
		    "%s is outside 239.0.0.0/8: Dante in AES67 mode "
		    "subscribes to 239.x.x.x only",
		    ip);
		return;
	}
	if ((a & 0xffff0000u) != AES67CHECK_DANTE_PREFIX)
		add(c, AES67CHECK_WARN, "dante.prefix",
		    "%s is outside 239.69.0.0/16: Brooklyn II, HC and "
		    "Broadway devices subscribe only inside their configured "
		    "239.x/16 prefix (default 239.69); elsewhere the "
		    "subscription looks made but no audio flows",
		    ip);
}

static void check_port(struct checker *c)
{
	if (c->st->port != 5004)
		add(c, AES67CHECK_ERROR, "dante.port",
		    "port %u: Dante in AES67 mode receives on port 5004 "
		    "only",
		    c->st->port);
}

static void check_format(struct checker *c)
{
	const struct sdp_stream *st = c->st;

	if (!is_l16_or_l24(st->encoding))
		add(c, AES67CHECK_ERROR, "aes67.encoding",
		    "encoding %s: AES67 and ST 2110-30 carry L16 or L24",
		    st->encoding);
	else if (strcmp(st->encoding, "L24"))
		add(c, AES67CHECK_WARN, "dante.encoding",
		    "encoding %s: Dante sends and reliably receives L24 "
		    "only in AES67 mode; L16 is refused by some devices",
		    st->encoding);
	if (st->rate != 48000 && st->rate != 44100 && st->rate != 96000)
		add(c, AES67CHECK_ERROR, "aes67.rate",
		    "rate %u Hz: AES67 allows 44.1, 48 and 96 kHz", st->rate);
	if (st->rate != 48000)
		add(c, AES67CHECK_ERROR, "dante.rate",
		    "rate %u Hz: Dante in AES67 mode runs at 48 kHz only",
		    st->rate);
}

/* ptime: AES67 wants it in the SDP; Dante takes 125, 250, 333 µs and 1 ms;
 * ST 2110-30 levels A-C: 1 ms up to 8 channels, 125 µs up to 64. */
static void check_ptime(struct checker *c)
{
	const struct sdp_stream *st = c->st;
	uint32_t us = st->ptime_us;
	uint32_t frames = sdp_frames_per_packet(st);

	if (!us && !st->framecount) {
		add(c, AES67CHECK_ERROR, "aes67.ptime",
		    "no a=ptime: AES67 requires the packet time in the SDP");
		return;
	}
	if (!us && st->rate)
		us = (uint32_t)((uint64_t)frames * 1000000 / st->rate);
	if (us != 125 && us != 250 && us != 333 && us != 1000)
		add(c, AES67CHECK_ERROR, "dante.ptime",
		    "packet time %u us: Dante in AES67 mode receives 125, "
		    "250, 333 us or 1 ms",
		    us);
	if (us == 1000 && st->channels > 8)
		add(c, AES67CHECK_WARN, "st2110.level",
		    "%u channels at 1 ms: ST 2110-30 levels A-C carry at most "
		    "8 channels at 1 ms",
		    st->channels);
	else if (us == 125 && st->channels > 64)
		add(c, AES67CHECK_WARN, "st2110.level",
		    "%u channels at 125 us: ST 2110-30 level C carries at most "
		    "64",
		    st->channels);
}

/* Channels: Dante takes at most 8 per AES67 stream; the packet must fit
 * a 1500-byte Ethernet MTU (AES67 8.2: 1440 bytes of payload). */
static void check_channels(struct checker *c)
{
	const struct sdp_stream *st = c->st;
	unsigned int bytes = !strcmp(st->encoding, "L16") ? 2 : 3;
	uint64_t payload =
	    (uint64_t)sdp_frames_per_packet(st) * st->channels * bytes;
	int n;

	if (st->channels > 8)
		add(c, AES67CHECK_ERROR, "dante.channels",
		    "%u channels: Dante in AES67 mode takes at most 8 per "
		    "stream",
		    st->channels);
	if (payload > 1440)
		add(c, AES67CHECK_ERROR, "aes67.mtu",
		    "%llu bytes of payload per packet: AES67 keeps packets "
		    "within 1440 bytes of payload (one Ethernet frame)",
		    (unsigned long long)payload);
	if (st->channel_order[0]) {
		n = aes67check_channel_order_count(st->channel_order);
		if (n < 0)
			add(c, AES67CHECK_WARN, "st2110.channel-order",
			    "channel-order '%s' cannot be read",
			    st->channel_order);
		else if ((unsigned int)n != st->channels)
			add(c, AES67CHECK_WARN, "st2110.channel-order",
			    "channel-order '%s' names %d channels, the stream "
			    "has %u",
			    st->channel_order, n, st->channels);
	}
}

/* o=: Dante Controller shows a prohibited route for a zero session id,
 * and two sessions of one origin must have different ids. */
static void check_origin(struct checker *c)
{
	if (!c->st->session_id)
		add(c, AES67CHECK_ERROR, "sdp.origin-id",
		    "o= session id 0: Dante Controller refuses the stream; "
		    "use a unique non-zero id (RFC 4566 5.2)");
	if (c->live && c->live->has_others && c->live->same_origin)
		add(c, AES67CHECK_ERROR, "sdp.origin-unique",
		    "%u other announced session(s) have o= session id %llu "
		    "from the same address: receivers take them for one",
		    c->live->same_origin,
		    (unsigned long long)c->st->session_id);
}

static bool gm_is_placeholder(const uint8_t id[8])
{
	static const uint8_t zero_fffe[8] = {0, 0, 0, 0xff, 0xfe, 0, 0, 0};
	static const uint8_t zero[8];

	return !memcmp(id, zero_fffe, 8) || !memcmp(id, zero, 8);
}

static void check_refclk(struct checker *c)
{
	const struct sdp_stream *st = c->st;
	const struct aes67check_live *live = c->live;
	char want[24], got[24];

	switch (st->refclk) {
	case SDP_REFCLK_NONE:
		add(c, AES67CHECK_ERROR, "aes67.ts-refclk",
		    "no a=ts-refclk: AES67 requires the PTP reference clock");
		return;
	case SDP_REFCLK_LOCALMAC:
	case SDP_REFCLK_OTHER:
		add(c, AES67CHECK_ERROR, "aes67.ts-refclk",
		    "a=ts-refclk is not PTP: the sender is not locked to a "
		    "PTP grandmaster");
		return;
	case SDP_REFCLK_PTP_TRACEABLE:
		add(c, AES67CHECK_WARN, "dante.ts-refclk",
		    "a=ts-refclk names no grandmaster (traceable): Dante and "
		    "receivers that compare grandmasters want the GM id");
		return;
	case SDP_REFCLK_PTP:
		break;
	}
	if (st->ptp_domain > 0)
		add(c, AES67CHECK_ERROR, "dante.domain",
		    "PTP domain %d: Dante runs PTPv2 in domain 0",
		    st->ptp_domain);
	if (gm_is_placeholder(st->gm_id))
		add(c, AES67CHECK_WARN, "sdp.gm-placeholder",
		    "a=ts-refclk grandmaster %02X-%02X-%02X-%02X-%02X-%02X-"
		    "%02X-%02X is a placeholder, not a clock",
		    st->gm_id[0], st->gm_id[1], st->gm_id[2], st->gm_id[3],
		    st->gm_id[4], st->gm_id[5], st->gm_id[6], st->gm_id[7]);
	if (!live || !live->has_gm || !memcmp(live->gm_id, st->gm_id, 8))
		return;
	snprintf(want, sizeof(want), "%02X-%02X-%02X-%02X-%02X-%02X-%02X-%02X",
		 live->gm_id[0], live->gm_id[1], live->gm_id[2], live->gm_id[3],
		 live->gm_id[4], live->gm_id[5], live->gm_id[6],
		 live->gm_id[7]);
	snprintf(got, sizeof(got), "%02X-%02X-%02X-%02X-%02X-%02X-%02X-%02X",
		 st->gm_id[0], st->gm_id[1], st->gm_id[2], st->gm_id[3],
		 st->gm_id[4], st->gm_id[5], st->gm_id[6], st->gm_id[7]);
	add(c, AES67CHECK_ERROR, "aes67.gm-stale",
	    "a=ts-refclk names grandmaster %s, the network's is %s: "
	    "receivers that check it refuse the stream (the SDP must follow "
	    "grandmaster changes)",
	    got, want);
}

static void check_mediaclk(struct checker *c)
{
	if (!c->st->has_mediaclk)
		add(c, AES67CHECK_ERROR, "aes67.mediaclk",
		    "no a=mediaclk:direct: AES67 requires the media clock "
		    "offset in the SDP");
}

/* Dante Controller hides streams whose SDP has a=source-filter
 * (aes67-linux-daemon issue 94); RFC 4570 and ST 2110 want it for SSM. */
static void check_source_filter(struct checker *c)
{
	if (c->st->has_source_filter)
		add(c, AES67CHECK_INFO, "dante.source-filter",
		    "a=source-filter present: ST 2110 wants it; one report "
		    "(aes67-linux-daemon issue 94) has Dante Controller hide "
		    "such streams");
}

/* Line order: RFC 4566 fixes it (v o s i u e p c b t r z k a, then each
 * m= with i c b k a), and Dante Controller loses channels when it is not
 * kept (PipeWire commit 39d6e40a). Reports the first line out of place. */
static void check_line_order(struct checker *c, const uint8_t *text, size_t len)
{
	static const char session[] = "vosiuepcbtrzka";
	static const char media[] = "micbka";
	const char *order = session, *at = session, *p;
	size_t i = 0;
	int ln = 0;

	while (i < len && text[i]) {
		size_t start = i;
		uint8_t type;

		while (i < len && text[i] && text[i] != '\n')
			i++;
		if (i < len && text[i] == '\n')
			i++;
		ln++;
		if (i - start < 2 || text[start + 1] != '=')
			continue;
		type = text[start];
		if (type == 'm') {
			order = media;
			at = media;
			continue;
		}
		p = strchr(order, type);
		if (!p || !type)
			continue; /* not ours to order */
		if (p < at) {
			add(c, AES67CHECK_ERROR, "sdp.order",
			    "line %d: '%c=' after '%c=': keep RFC 4566 order "
			    "(v o s i c t a, then m i c a) for Dante "
			    "Controller",
			    ln, type, *at);
			return;
		}
		at = p;
	}
}

static void check_wire(struct checker *c)
{
	const struct aes67check_live *live = c->live;
	uint32_t ptime_us = c->st->ptime_us;
	int64_t spread, secs;

	if (!live)
		return;
	if (live->has_dscp) {
		if (live->dscp == 0)
			add(c, AES67CHECK_ERROR, "wire.dscp",
			    "DSCP 0 (best effort) on the wire: AES67 marks "
			    "audio 34 (AF41), Dante 46 (EF); switches with QoS "
			    "drop it first under load");
		else if (live->dscp != 34 && live->dscp != 46)
			add(c, AES67CHECK_WARN, "wire.dscp",
			    "DSCP %u on the wire: AES67 marks audio 34 (AF41), "
			    "Dante 46 (EF)",
			    live->dscp);
		if (live->dscp_mixed)
			add(c, AES67CHECK_WARN, "wire.dscp-mixed",
			    "packets of the stream carry different DSCP "
			    "values");
	}
	if (!live->has_timing)
		return;
	if (!ptime_us)
		ptime_us = 1000;
	/* a whole number of seconds off, past one: the sender's timestamps
	 * and the time this check reads are on different timescales (TAI
	 * and UTC are 37 s apart; a grandmaster that announces ARB is
	 * anywhere), not a late sender */
	secs = (live->offset_mean_ns +
		(live->offset_mean_ns < 0 ? -500000000 : 500000000)) /
	       1000000000;
	if (secs &&
	    llabs(live->offset_mean_ns - secs * 1000000000) < 100000000) {
		add(c, AES67CHECK_ERROR, "wire.timescale",
		    "packets arrive %+.3f s from their RTP timestamp, %lld "
		    "whole seconds: the sender's time and this check's are "
		    "on different timescales (TAI - UTC is 37 s); read PTP "
		    "time with --ptp4l SOCKET, or the sender follows another "
		    "grandmaster",
		    (double)live->offset_mean_ns / 1e9, (long long)secs);
		return;
	}
	/* a packet cannot leave before its last sample: one ptime is due */
	if (live->offset_mean_ns - (int64_t)ptime_us * 1000 >
	    AES67CHECK_LATE_NS)
		add(c, AES67CHECK_ERROR, "wire.late",
		    "packets arrive %.1f ms after their RTP timestamp (mean "
		    "of %u; one packet time, %.3f ms, is due): Dante and most "
		    "AES67 receivers drop packets later than their latency "
		    "(1-2 ms), often with the route shown as fine",
		    (double)live->offset_mean_ns / 1e6, live->timing_packets,
		    (double)ptime_us / 1e3);
	else if (live->offset_mean_ns < -(int64_t)ptime_us * 1000)
		add(c, AES67CHECK_ERROR, "wire.early",
		    "packets arrive %.1f ms before their RTP timestamp: the "
		    "sender's clock or mediaclk offset is wrong",
		    (double)-live->offset_mean_ns / 1e6);
	spread = live->offset_p99_ns - live->offset_p01_ns;
	if (spread > 1000000)
		add(c, AES67CHECK_WARN, "wire.spread",
		    "arrival spread %.2f ms (1st-99th percentile of the "
		    "send-time offset, %.2f..%.2f ms): bursty sending; "
		    "receivers need that much more latency",
		    (double)spread / 1e6, (double)live->offset_p01_ns / 1e6,
		    (double)live->offset_p99_ns / 1e6);
}

size_t aes67check_run(const struct sdp_stream *st, const uint8_t *text,
		      size_t len, const struct aes67check_live *live,
		      struct aes67check_finding *out, size_t max)
{
	struct checker c = {st, live, out, max, 0};

	check_address(&c);
	check_port(&c);
	check_format(&c);
	check_ptime(&c);
	check_channels(&c);
	check_origin(&c);
	if (text)
		check_line_order(&c, text, len);
	check_refclk(&c);
	check_mediaclk(&c);
	check_source_filter(&c);
	check_wire(&c);
	return c.n;
}

bool aes67check_fails(const struct aes67check_finding *f, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (f[i].severity != AES67CHECK_INFO)
			return true;
	return false;
}

const char *aes67check_severity_name(enum aes67check_severity s)
{
	switch (s) {
	case AES67CHECK_ERROR:
		return "error";
	case AES67CHECK_WARN:
		return "warning";
	case AES67CHECK_INFO:
		break;
	}
	return "info";
}

int aes67check_channel_order_count(const char *order)
{
	static const struct {
		const char *sym;
		int n;
	} groups[] = {
	    {"M", 1},  {"DM", 2}, {"ST", 2},   {"LtRt", 2},
	    {"51", 6}, {"71", 8}, {"222", 24}, {"SGRP", 4},
	};
	const char *p;
	int total = 0;
	size_t i, n;

	if (strncmp(order, "SMPTE2110.(", 11))
		return -1;
	p = order + 11;
	for (;;) {
		n = strcspn(p, ",)");
		if (!p[n] || !n)
			return -1;
		if (p[0] == 'U' && n == 3 && p[1] >= '0' && p[1] <= '9' &&
		    p[2] >= '0' && p[2] <= '9') {
			total += (p[1] - '0') * 10 + (p[2] - '0');
		} else {
			for (i = 0; i < sizeof(groups) / sizeof(groups[0]); i++)
				if (strlen(groups[i].sym) == n &&
				    !strncmp(p, groups[i].sym, n))
					break;
			if (i == sizeof(groups) / sizeof(groups[0]))
				return -1;
			total += groups[i].n;
		}
		if (p[n] == ')')
			return p[n + 1] ? -1 : total;
		p += n + 1;
	}
}
