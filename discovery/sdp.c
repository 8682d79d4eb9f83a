/* SDP for AES67 streams: a tolerant parser that keeps the first audio media
 * section of what real gear announces, and a writer that emits the fixed
 * line order Dante Controller accepts.
 *
 * sdp_parse() rejects, with "line N: what" in the error buffer:
 *  - input that does not start with v=0 (missing v=, unsupported version);
 *  - a line that is not "<letter>=<value>";
 *  - an o= line without six fields, numeric ids and an IN IP4 address;
 *  - a c= line other than "IN IP4 <dotted quad>[/<ttl>[/<count>]]";
 *  - an m=audio line with a bad port or payload type;
 *  - in the session or the chosen media section: an a=rtpmap for a payload
 *    type not in the m= line or with a bad encoding, rate or channel count;
 *    a non-numeric a=ptime, a=framecount or a=mediaclk:direct offset; a
 *    malformed a=ts-refclk:ptp=/localmac= or a=source-filter;
 *  - no o=, no m=audio, no c= for the stream, no a=rtpmap for a dynamic
 *    payload type ('missing' errors name the line where it was due).
 * Everything else is skipped: unknown lines and attributes (a=clock-domain,
 * a=sync-time, a=palign, a=maxptime, a=keywds, a=ssrc, ...), a RAVENNA
 * a=framecount range ("64-192": a=ptime decides), non-audio sections, and
 * all input after a NUL byte. Audio sections after the first are read only
 * for what an ST 2022-7 receiver needs (m= port, c=, a=source-filter,
 * a=mid); a fault in one of them drops that leg, not the stream. Every
 * line must still be "x=...".
 */
#include "discovery/sdp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define REFCLK_TEXT_MAX sizeof(((struct sdp_stream *)0)->refclk_version)
#define QUOTE_MAX	48

/* Bytes inside the caller's buffer; never NUL-terminated. */
struct span {
	const uint8_t *p;
	size_t n;
};

struct refclk {
	enum sdp_refclk_kind kind;
	struct span text; /* PTP version, or the whole value for OTHER */
	uint8_t gm_id[8];
	int domain;
};

/* What one level (session or media) says; the media level wins. */
struct level {
	int c_line; /* 0: no c= at this level */
	struct in_addr addr;
	int ttl;
	bool has_info;
	struct span info;
	bool has_ptime;
	uint32_t ptime_us;
	bool has_framecount;
	uint32_t framecount;
	bool has_refclk;
	struct refclk refclk;
	bool has_mediaclk;
	uint32_t mediaclk_offset;
	bool has_sf;
	bool sf_any_dest; /* dest "*" */
	struct in_addr sf_dest;
	struct in_addr sf_src;
	const char *direction;
	bool has_mid;
	struct span mid;
};

enum section {
	SEC_SESSION, /* before the first m= */
	SEC_SKIP,    /* a non-audio section before the first audio one */
	SEC_AUDIO,   /* the audio section we keep */
	SEC_LEG,     /* a later audio section: a possible ST 2022-7 leg */
	SEC_DONE,    /* a later non-audio section */
};

/* A later audio section, read for its transport only. */
struct leg_scan {
	int m_line;
	bool bad; /* a line of it did not parse: not a usable leg */
	uint16_t port;
	uint8_t pt; /* the first payload type of its m= line */
	/* its a=rtpmap of that payload type, when given */
	bool has_map;
	struct span enc;
	uint32_t rate;
	unsigned int channels;
	struct level lv;
};

struct parser {
	char *err;
	size_t err_len;
	int ln; /* current line, 1-based */
	bool seen_v;
	enum section sec;
	/* o= and s= */
	int o_line;
	struct span user;
	uint64_t session_id;
	uint64_t session_version;
	struct in_addr origin;
	bool has_name;
	struct span name;
	struct level sess;
	struct level media;
	/* m=audio and the a=rtpmap of its first payload type */
	int m_line;
	uint16_t port;
	uint8_t pt;
	uint8_t pt_set[16]; /* bitmap of the payload types in m= */
	int rtpmap_line;
	struct span enc;
	uint32_t rate;
	unsigned int channels;
	bool has_chorder;
	struct span chorder; /* "SMPTE2110.(...)" */
	/* a=group:DUP <mid> <mid>... (session level) and the legs */
	bool has_dup_group;
	struct span dup_group; /* the mids, blank-separated */
	struct leg_scan leg;   /* the later audio section being read */
	bool has_dup;
	struct leg_scan dup; /* the first usable leg the group names */
	char dup_left_out[SDP_WHY_MAX]; /* a named leg of another format */
};

/* RFC 3551 static payload types a receiver may meet without a=rtpmap. */
static const struct {
	uint8_t pt;
	const char *enc;
	uint32_t rate;
	unsigned int channels;
} static_pts[] = {
    {0, "PCMU", 8000, 1},
    {8, "PCMA", 8000, 1},
    {10, "L16", 44100, 2},
    {11, "L16", 44100, 1},
};

static const char *const directions[] = {
    "recvonly",
    "sendonly",
    "sendrecv",
    "inactive",
};

static bool is_blank(uint8_t c)
{
	return c == ' ' || c == '\t';
}

static bool is_digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

static bool span_eq(struct span s, const char *lit)
{
	size_t n = strlen(lit);

	return s.n == n && (!n || memcmp(s.p, lit, n) == 0);
}

/* Encoding names are case-insensitive (RFC 4566 6: "L24" is "l24"). */
static bool span_caseeq(struct span a, struct span b)
{
	return a.n == b.n && (!a.n || strncasecmp((const char *)a.p,
						  (const char *)b.p, a.n) == 0);
}

/* Drops @lit from the front of @s if it is there. */
static bool span_eat(struct span *s, const char *lit)
{
	size_t n = strlen(lit);

	if (s->n < n || memcmp(s->p, lit, n) != 0)
		return false;
	s->p += n;
	s->n -= n;
	return true;
}

static void span_ltrim(struct span *s)
{
	while (s->n && is_blank(s->p[0])) {
		s->p++;
		s->n--;
	}
}

static void span_rtrim(struct span *s)
{
	while (s->n && (is_blank(s->p[s->n - 1]) || s->p[s->n - 1] == '\r'))
		s->n--;
}

/* Cuts @s at the first @c: @head gets what is before it, @s what follows.
 * Without @c, @head gets all of @s, @s is left empty and false returned. */
static bool span_split(struct span *s, uint8_t c, struct span *head)
{
	const uint8_t *q = s->n ? memchr(s->p, c, s->n) : NULL;

	if (!q) {
		*head = *s;
		s->p += s->n;
		s->n = 0;
		return false;
	}
	head->p = s->p;
	head->n = (size_t)(q - s->p);
	s->n -= head->n + 1;
	s->p = q + 1;
	return true;
}

/* Next blank-separated word of @s; false when none is left. */
static bool span_token(struct span *s, struct span *tok)
{
	size_t i = 0;

	span_ltrim(s);
	while (i < s->n && !is_blank(s->p[i]))
		i++;
	tok->p = s->p;
	tok->n = i;
	s->p += i;
	s->n -= i;
	return i > 0;
}

/* Decimal digits only, at most @max. */
static bool span_u64(struct span s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (!s.n)
		return false;
	for (i = 0; i < s.n; i++) {
		unsigned int d;

		if (!is_digit(s.p[i]))
			return false;
		d = s.p[i] - '0';
		if (d > max || v > (max - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = v;
	return true;
}

static bool span_ipv4(struct span s, struct in_addr *out)
{
	uint32_t ip = 0;
	int i;

	for (i = 0; i < 4; i++) {
		struct span part;
		uint64_t v;
		bool more = span_split(&s, '.', &part);

		if (more != (i < 3) || part.n > 3 || !span_u64(part, 255, &v))
			return false;
		ip = ip << 8 | (uint32_t)v;
	}
	out->s_addr = htonl(ip);
	return true;
}

static int hex_val(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* @count bytes as hex pairs joined by '-' (EUI-48 or EUI-64). */
static bool span_eui(struct span s, uint8_t *out, size_t count)
{
	uint8_t tmp[8];
	size_t i;

	if (count > sizeof(tmp) || s.n != count * 3 - 1)
		return false;
	for (i = 0; i < count; i++) {
		int hi = hex_val(s.p[i * 3]);
		int lo = hex_val(s.p[i * 3 + 1]);

		if (hi < 0 || lo < 0)
			return false;
		if (i + 1 < count && s.p[i * 3 + 2] != '-')
			return false;
		tmp[i] = (uint8_t)(hi << 4 | lo);
	}
	memcpy(out, tmp, count);
	return true;
}

/* Milliseconds as "<int>[.<digits>]" to microseconds, rounded half up.
 * Six fraction digits resolve 1 ns, so ignoring later digits cannot move
 * the rounding to µs across its 500 ns threshold. */
static bool span_ptime_us(struct span s, uint32_t *us)
{
	struct span ip;
	uint64_t ms, frac_ns = 0, v;
	size_t i;
	bool dot = span_split(&s, '.', &ip);

	if (!span_u64(ip, UINT32_MAX / 1000, &ms))
		return false;
	if (dot) {
		if (!s.n)
			return false;
		for (i = 0; i < s.n; i++) {
			if (!is_digit(s.p[i]))
				return false;
			if (i < 6)
				frac_ns = frac_ns * 10 + (s.p[i] - '0');
		}
		for (i = s.n; i < 6; i++)
			frac_ns *= 10;
	}
	v = ms * 1000 + (frac_ns + 500) / 1000;
	if (v == 0 || v > UINT32_MAX) /* a packet holds some time */
		return false;
	*us = (uint32_t)v;
	return true;
}

/* Copies @s into @dst as a C string. When it does not fit, the cut goes
 * before a UTF-8 character that would be split (up to three bytes back;
 * longer runs are not UTF-8) and drops blanks it exposes, which a writer's
 * line could not carry. */
static void copy_text(char *dst, size_t size, struct span s)
{
	size_t n = s.n, back = 0;

	if (n >= size) {
		n = size - 1;
		while (n && back < 3 && (s.p[n] & 0xc0) == 0x80) {
			n--;
			back++;
		}
		if ((s.p[n] & 0xc0) == 0x80)
			n += back;
		while (n && is_blank(s.p[n - 1]))
			n--;
	}
	if (n)
		memcpy(dst, s.p, n);
	dst[n] = '\0';
}

/* @s made printable for an error message, shortened with "...". */
static const char *quote(struct span s, char *q, size_t size)
{
	size_t n = s.n, i;

	if (n >= size)
		n = size - 4;
	for (i = 0; i < n; i++)
		q[i] = s.p[i] >= 0x20 && s.p[i] < 0x7f ? (char)s.p[i] : '?';
	if (n < s.n) {
		memcpy(q + n, "...", 3);
		n += 3;
	}
	q[n] = '\0';
	return q;
}

static int fail(struct parser *ps, int ln, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(struct parser *ps, int ln, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!ps->err || !ps->err_len)
		return -EINVAL;
	n = snprintf(ps->err, ps->err_len, "line %d: ", ln);
	if (n >= 0 && (size_t)n < ps->err_len) {
		va_start(ap, fmt);
		vsnprintf(ps->err + n, ps->err_len - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/* "line N: <what> '<s>'" */
static int fail_bad(struct parser *ps, const char *what, struct span s)
{
	char q[QUOTE_MAX];

	return fail(ps, ps->ln, "%s '%s'", what, quote(s, q, sizeof(q)));
}

static void level_init(struct level *lv)
{
	memset(lv, 0, sizeof(*lv));
	lv->ttl = -1;
	lv->refclk.domain = -1;
}

/* o=<username> <sess-id> <sess-version> IN IP4 <unicast-address> */
static int parse_origin(struct parser *ps, struct span v)
{
	struct span all = v, user, id, ver, net, type, addr, extra;
	uint64_t sid, sver;
	struct in_addr origin;

	if (!span_token(&v, &user) || !span_token(&v, &id) ||
	    !span_token(&v, &ver) || !span_token(&v, &net) ||
	    !span_token(&v, &type) || !span_token(&v, &addr) ||
	    span_token(&v, &extra))
		return fail_bad(ps, "bad o= line, want 6 fields:", all);
	if (!span_u64(id, UINT64_MAX, &sid))
		return fail_bad(ps, "bad o= session id", id);
	if (!span_u64(ver, UINT64_MAX, &sver))
		return fail_bad(ps, "bad o= session version", ver);
	if (!span_eq(net, "IN") || !span_eq(type, "IP4"))
		return fail_bad(ps, "bad o= line, want IN IP4:", all);
	if (!span_ipv4(addr, &origin))
		return fail_bad(ps, "bad o= address", addr);
	if (ps->o_line)
		return 0;
	ps->o_line = ps->ln;
	ps->user = span_eq(user, "-") ? (struct span){user.p, 0} : user;
	ps->session_id = sid;
	ps->session_version = sver;
	ps->origin = origin;
	return 0;
}

/* c=IN IP4 <addr>[/<ttl>[/<count>]]; a TTL on a unicast address is
 * meaningless (RFC 4566) and dropped. */
static int parse_conn(struct parser *ps, struct level *lv, struct span v)
{
	struct span all = v, net, type, addr, extra, ip, ttl_s;
	struct in_addr a;
	uint64_t ttl = 0, count;
	bool has_ttl;

	if (!span_token(&v, &net) || !span_token(&v, &type) ||
	    !span_token(&v, &addr) || span_token(&v, &extra))
		return fail_bad(ps, "bad c= line, want 3 fields:", all);
	if (!span_eq(net, "IN"))
		return fail_bad(ps, "unsupported c= network type", net);
	if (!span_eq(type, "IP4"))
		return fail_bad(ps, "unsupported c= address type", type);
	has_ttl = span_split(&addr, '/', &ip);
	if (!span_ipv4(ip, &a))
		return fail_bad(ps, "bad c= address", ip);
	if (has_ttl) {
		bool has_count = span_split(&addr, '/', &ttl_s);

		if (!span_u64(ttl_s, 255, &ttl))
			return fail_bad(ps, "bad c= TTL", ttl_s);
		if (has_count &&
		    (!span_u64(addr, UINT32_MAX, &count) || count == 0))
			return fail_bad(ps, "bad c= address count", addr);
	}
	if (lv->c_line)
		return 0;
	lv->c_line = ps->ln;
	lv->addr = a;
	lv->ttl = has_ttl && IN_MULTICAST(ntohl(a.s_addr)) ? (int)ttl : -1;
	return 0;
}

/* Is @mid one of the blank-separated mids of @group? */
static bool group_has(struct span group, struct span mid)
{
	struct span tok;

	while (span_token(&group, &tok))
		if (tok.n == mid.n && memcmp(tok.p, mid.p, mid.n) == 0)
			return true;
	return false;
}

/* The later audio section just read is the DUP leg when the group names
 * it and the first section, and it is another section than the first,
 * of the first's format: ST 2022-7 legs carry the same packets, so a
 * section of another payload type, encoding, rate, channel count or
 * packet time is no leg of it (its packets could not be merged). That one is left out,
 * said in dup_left_out: the first leg plays alone. */
static void leg_close(struct parser *ps)
{
	const struct level *first = &ps->media, *leg = &ps->leg.lv;
	const struct leg_scan *l = &ps->leg;

	if (ps->has_dup || l->bad || !ps->has_dup_group || !first->has_mid ||
	    !leg->has_mid || !group_has(ps->dup_group, first->mid) ||
	    !group_has(ps->dup_group, leg->mid) ||
	    (leg->mid.n == first->mid.n &&
	     memcmp(leg->mid.p, first->mid.p, leg->mid.n) == 0))
		return;
	if (l->pt != ps->pt ||
	    (l->has_map && ps->rtpmap_line &&
	     (!span_caseeq(l->enc, ps->enc) || l->rate != ps->rate ||
	      l->channels != ps->channels)) ||
	    (leg->has_ptime && first->has_ptime &&
	     leg->ptime_us != first->ptime_us)) {
		if (!ps->dup_left_out[0])
			snprintf(ps->dup_left_out, sizeof(ps->dup_left_out),
				 "the DUP leg a=mid:%.*s (line %d) is of "
				 "another format than the first (payload "
				 "type %u%s%.*s)",
				 (int)(leg->mid.n < 32 ? leg->mid.n : 32),
				 (const char *)leg->mid.p, l->m_line,
				 (unsigned int)l->pt, l->has_map ? ", " : "",
				 l->has_map ? (int)(l->enc.n < 16 ? l->enc.n
								   : 16)
					    : 0,
				 l->has_map ? (const char *)l->enc.p : "");
		return;
	}
	ps->has_dup = true;
	ps->dup = ps->leg;
}

/* a=rtpmap of a later audio section: its leg's format, for leg_close. A
 * bad one spoils that leg only (the caller marks it). */
static int parse_leg_rtpmap(struct parser *ps, struct span v)
{
	struct span pt_s, spec, enc, rate_s, extra;
	uint64_t pt, rate, channels = 1;

	if (!span_token(&v, &pt_s) || !span_token(&v, &spec) ||
	    span_token(&v, &extra) || !span_u64(pt_s, 127, &pt) ||
	    !span_split(&spec, '/', &enc) || !enc.n || enc.n >= SDP_ENC_MAX)
		return -EINVAL;
	if (span_split(&spec, '/', &rate_s) &&
	    (!span_u64(spec, UINT32_MAX, &channels) || channels == 0))
		return -EINVAL;
	if (!span_u64(rate_s, UINT32_MAX, &rate) || rate == 0)
		return -EINVAL;
	if (pt != ps->leg.pt || ps->leg.has_map)
		return 0;
	ps->leg.has_map = true;
	ps->leg.enc = enc;
	ps->leg.rate = (uint32_t)rate;
	ps->leg.channels = (unsigned int)channels;
	return 0;
}

/* m=audio <port>[/<count>] of a later audio section: a bad one only
 * spoils that leg. */
static void leg_open(struct parser *ps, struct span v)
{
	struct span port_s, port_num, proto, fmt;
	uint64_t port, count, pt;

	memset(&ps->leg, 0, sizeof(ps->leg));
	level_init(&ps->leg.lv);
	ps->leg.m_line = ps->ln;
	ps->sec = SEC_LEG;
	if (!span_token(&v, &port_s) ||
	    (span_split(&port_s, '/', &port_num) &&
	     (!span_u64(port_s, UINT16_MAX, &count) || count == 0)) ||
	    !span_u64(port_num, UINT16_MAX, &port) ||
	    !span_token(&v, &proto) || !span_token(&v, &fmt) ||
	    !span_u64(fmt, 127, &pt)) {
		ps->leg.bad = true;
		return;
	}
	ps->leg.port = (uint16_t)port;
	ps->leg.pt = (uint8_t)pt;
}

/* m=audio <port>[/<count>] <proto> <fmt> ... */
static int parse_media(struct parser *ps, struct span v)
{
	struct span media, port_s, proto, fmt, port_num;
	uint64_t port, count, pt;
	bool first = true, audio;

	if (ps->sec == SEC_LEG)
		leg_close(ps);
	audio = span_token(&v, &media) && span_eq(media, "audio");
	if (ps->m_line) {
		if (audio)
			leg_open(ps, v);
		else
			ps->sec = SEC_DONE;
		return 0;
	}
	if (!audio) {
		ps->sec = SEC_SKIP;
		return 0;
	}
	if (!span_token(&v, &port_s))
		return fail(ps, ps->ln, "m=audio has no port");
	if (span_split(&port_s, '/', &port_num) &&
	    (!span_u64(port_s, UINT16_MAX, &count) || count == 0))
		return fail_bad(ps, "bad m= port count", port_s);
	if (!span_u64(port_num, UINT16_MAX, &port))
		return fail_bad(ps, "bad m= port", port_num);
	if (port == 0) /* RFC 3264: a stream turned off; nothing to hear */
		return fail(ps, ps->ln, "m=audio on port 0: the stream is off");
	if (!span_token(&v, &proto))
		return fail(ps, ps->ln, "m=audio has no protocol");
	while (span_token(&v, &fmt)) {
		if (!span_u64(fmt, 127, &pt))
			return fail_bad(ps, "bad m= payload type", fmt);
		if (first)
			ps->pt = (uint8_t)pt;
		first = false;
		ps->pt_set[pt / 8] |= (uint8_t)(1u << (pt % 8));
	}
	if (first)
		return fail(ps, ps->ln, "m=audio has no payload type");
	ps->sec = SEC_AUDIO;
	ps->m_line = ps->ln;
	ps->port = (uint16_t)port;
	return 0;
}

/* a=rtpmap:<pt> <encoding>/<rate>[/<channels>] */
static int parse_rtpmap(struct parser *ps, struct span v)
{
	struct span all = v, pt_s, spec, enc, rate_s, extra;
	uint64_t pt, rate, channels = 1;

	if (!span_token(&v, &pt_s) || !span_token(&v, &spec) ||
	    span_token(&v, &extra))
		return fail_bad(ps, "bad a=rtpmap", all);
	if (!span_u64(pt_s, 127, &pt))
		return fail_bad(ps, "bad a=rtpmap payload type", pt_s);
	if (!(ps->pt_set[pt / 8] & (1u << (pt % 8))))
		return fail(ps, ps->ln,
			    "a=rtpmap for payload type %u not in m= line",
			    (unsigned int)pt);
	if (!span_split(&spec, '/', &enc) || !enc.n || enc.n >= SDP_ENC_MAX)
		return fail_bad(ps, "bad a=rtpmap encoding", all);
	if (span_split(&spec, '/', &rate_s) &&
	    (!span_u64(spec, UINT32_MAX, &channels) || channels == 0))
		return fail_bad(ps, "bad a=rtpmap channel count", spec);
	if (!span_u64(rate_s, UINT32_MAX, &rate) || rate == 0)
		return fail_bad(ps, "bad a=rtpmap clock rate", rate_s);
	if (pt != ps->pt || ps->rtpmap_line)
		return 0;
	ps->rtpmap_line = ps->ln;
	ps->enc = enc;
	ps->rate = (uint32_t)rate;
	ps->channels = (unsigned int)channels;
	return 0;
}

/* The domain after the grandmaster id: AES67 writes a bare number, RFC 7273
 * "domain-nmbr=N" or, for IEEE1588-2002, "domain-name=<name>". */
static bool parse_ptp_domain(struct span s, int *domain)
{
	static const char *const v1_names[] = {"_DFLT", "_ALT1", "_ALT2",
					       "_ALT3"};
	uint64_t v;
	size_t i;

	if (span_eat(&s, "domain-name=")) {
		if (!s.n || s.n > 16)
			return false;
		*domain = -1;
		for (i = 0; i < sizeof(v1_names) / sizeof(v1_names[0]); i++)
			if (span_eq(s, v1_names[i]))
				*domain = (int)i;
		return true;
	}
	span_eat(&s, "domain-nmbr=");
	if (!span_u64(s, 255, &v))
		return false;
	*domain = (int)v;
	return true;
}

/* a=ts-refclk:ptp=<version>:<gmid>[:<domain>] | ptp=<version>:traceable |
 * localmac=<EUI-48> | anything else (kept as text) */
static int parse_refclk(struct parser *ps, struct span v, struct refclk *rc)
{
	struct span all = v, version, gm;
	bool has_domain;

	memset(rc, 0, sizeof(*rc));
	rc->domain = -1;
	if (span_eat(&v, "ptp=")) {
		/* "ptp=traceable" without a version: aes67-linux-daemon writes
		 * it (after an early ST 2110-10 example); RFC 7273 wants one,
		 * and that example meant IEEE1588-2008 */
		if (span_eq(v, "traceable")) {
			static const char v2008[] = "IEEE1588-2008";

			rc->kind = SDP_REFCLK_PTP_TRACEABLE;
			rc->text.p = (const uint8_t *)v2008;
			rc->text.n = sizeof(v2008) - 1;
			return 0;
		}
		if (!span_split(&v, ':', &version) || !version.n)
			return fail_bad(ps, "bad a=ts-refclk", all);
		if (version.n >= REFCLK_TEXT_MAX)
			return fail_bad(ps, "a=ts-refclk PTP version too long",
					version);
		rc->text = version;
		if (span_eq(v, "traceable")) {
			rc->kind = SDP_REFCLK_PTP_TRACEABLE;
			return 0;
		}
		has_domain = span_split(&v, ':', &gm);
		if (!span_eui(gm, rc->gm_id, 8))
			return fail_bad(ps, "bad a=ts-refclk grandmaster id",
					gm);
		if (has_domain && !parse_ptp_domain(v, &rc->domain))
			return fail_bad(ps, "bad a=ts-refclk PTP domain", v);
		rc->kind = SDP_REFCLK_PTP;
	} else if (span_eat(&v, "localmac=")) {
		if (!span_eui(v, rc->gm_id, 6))
			return fail_bad(ps, "bad a=ts-refclk localmac", v);
		rc->kind = SDP_REFCLK_LOCALMAC;
	} else {
		if (!v.n)
			return fail_bad(ps, "bad a=ts-refclk", all);
		rc->kind = SDP_REFCLK_OTHER;
		rc->text = v;
	}
	return 0;
}

/* a=mediaclk:direct[=<offset>] [rate=...]; other media clocks are not ours */
static int parse_mediaclk(struct parser *ps, struct level *lv, struct span v)
{
	struct span off;
	uint64_t offset = 0;

	if (!span_eat(&v, "direct"))
		return 0;
	if (v.n && !is_blank(v.p[0]) && v.p[0] != '=')
		return 0;
	if (span_eat(&v, "=")) {
		span_token(&v, &off);
		if (!span_u64(off, UINT32_MAX, &offset))
			return fail_bad(ps, "bad a=mediaclk offset", off);
	}
	if (lv->has_mediaclk)
		return 0;
	lv->has_mediaclk = true;
	lv->mediaclk_offset = (uint32_t)offset;
	return 0;
}

/* a=source-filter: <incl|excl> IN IP4 <dest|*> <src> ...; only an IPv4
 * inclusion filter means something to us. */
static int parse_source_filter(struct parser *ps, struct level *lv,
			       struct span v)
{
	struct span all = v, mode, net, type, dest, src;
	struct in_addr d = {0}, s;
	bool any = false;

	if (!span_token(&v, &mode) || !span_token(&v, &net) ||
	    !span_token(&v, &type) || !span_token(&v, &dest) ||
	    !span_token(&v, &src))
		return fail_bad(ps, "bad a=source-filter", all);
	if (!span_eq(mode, "incl") && !span_eq(mode, "excl"))
		return fail_bad(ps, "bad a=source-filter mode", mode);
	if (!span_eq(mode, "incl") || !span_eq(net, "IN") ||
	    !(span_eq(type, "IP4") || span_eq(type, "*")))
		return 0;
	if (span_eq(dest, "*"))
		any = true;
	else if (!span_ipv4(dest, &d))
		return fail_bad(ps, "bad a=source-filter destination", dest);
	if (!span_ipv4(src, &s))
		return fail_bad(ps, "bad a=source-filter source", src);
	if (lv->has_sf)
		return 0;
	lv->has_sf = true;
	lv->sf_any_dest = any;
	lv->sf_dest = d;
	lv->sf_src = s;
	return 0;
}

/* "<digits>-<digits>" */
static bool is_count_range(struct span s)
{
	struct span lo;
	uint64_t a, b;

	return span_split(&s, '-', &lo) && span_u64(lo, UINT32_MAX, &a) &&
	       span_u64(s, UINT32_MAX, &b);
}

/* a=fmtp:<pt> <param>[; <param>...]: ST 2110-30's channel-order of the
 * stream's payload type is kept; other parameters (TSMODE, ...) are not
 * ours. An order too long or with odd bytes is skipped, not refused. */
static int parse_fmtp(struct parser *ps, struct span v)
{
	struct span pt_s, param;
	uint64_t pt;
	size_t i;

	if (!span_token(&v, &pt_s) || !span_u64(pt_s, 127, &pt) ||
	    pt != ps->pt || ps->has_chorder)
		return 0;
	while (v.n) {
		span_split(&v, ';', &param);
		span_ltrim(&param);
		span_rtrim(&param);
		if (!span_eat(&param, "channel-order="))
			continue;
		if (!param.n || param.n >= SDP_CHORDER_MAX)
			return 0;
		for (i = 0; i < param.n; i++)
			if (param.p[i] <= ' ' || param.p[i] >= 0x7f)
				return 0;
		ps->has_chorder = true;
		ps->chorder = param;
		return 0;
	}
	return 0;
}

static int parse_attr(struct parser *ps, struct level *lv, struct span v)
{
	struct span name, val = v;
	struct refclk rc;
	uint64_t n;
	uint32_t us;
	size_t i;
	int ret;

	span_split(&val, ':', &name);
	/* "a=source-filter: incl ..." is the norm; accept the blank anywhere */
	span_ltrim(&val);
	if (span_eq(name, "rtpmap")) {
		/* only meaningful next to its m= line */
		if (lv == &ps->leg.lv)
			return parse_leg_rtpmap(ps, val);
		return lv == &ps->media ? parse_rtpmap(ps, val) : 0;
	} else if (span_eq(name, "ptime")) {
		if (!span_ptime_us(val, &us))
			return fail_bad(ps, "bad a=ptime", val);
		if (!lv->has_ptime) {
			lv->has_ptime = true;
			lv->ptime_us = us;
		}
	} else if (span_eq(name, "framecount")) {
		if (is_count_range(val))
			return 0; /* RAVENNA min-max: a=ptime decides */
		if (!span_u64(val, UINT32_MAX, &n))
			return fail_bad(ps, "bad a=framecount", val);
		if (!lv->has_framecount) {
			lv->has_framecount = true;
			lv->framecount = (uint32_t)n;
		}
	} else if (span_eq(name, "ts-refclk")) {
		ret = parse_refclk(ps, val, &rc);
		if (ret)
			return ret;
		if (!lv->has_refclk) {
			lv->has_refclk = true;
			lv->refclk = rc;
		}
	} else if (span_eq(name, "mediaclk")) {
		return parse_mediaclk(ps, lv, val);
	} else if (span_eq(name, "source-filter")) {
		return parse_source_filter(ps, lv, val);
	} else if (span_eq(name, "fmtp")) {
		return lv == &ps->media ? parse_fmtp(ps, val) : 0;
	} else if (span_eq(name, "mid")) {
		span_rtrim(&val);
		if (!lv->has_mid && val.n && val.n < SDP_MID_MAX &&
		    !memchr(val.p, ' ', val.n) && !memchr(val.p, '\t', val.n)) {
			lv->has_mid = true;
			lv->mid = val;
		}
	} else if (span_eq(name, "group")) {
		if (lv == &ps->sess && !ps->has_dup_group &&
		    span_eat(&val, "DUP") && val.n && is_blank(val.p[0])) {
			ps->has_dup_group = true;
			ps->dup_group = val;
		}
	} else {
		for (i = 0; i < sizeof(directions) / sizeof(directions[0]); i++)
			if (span_eq(name, directions[i]) && !lv->direction)
				lv->direction = directions[i];
	}
	return 0;
}

/* A line of a later audio section: a fault here drops the leg, not the
 * stream, so no error text is written for it. */
static int parse_leg_line(struct parser *ps, uint8_t type, struct span v)
{
	char *err = ps->err;
	int ret;

	if (type != 'c' && type != 'a')
		return 0;
	ps->err = NULL;
	if (type == 'c')
		ret = parse_conn(ps, &ps->leg.lv, v);
	else
		ret = parse_attr(ps, &ps->leg.lv, v);
	ps->err = err;
	if (ret)
		ps->leg.bad = true;
	return 0;
}

static int parse_line(struct parser *ps, struct span line)
{
	struct level *lv;
	struct span v;
	uint8_t type;

	type = line.p[0];
	if (line.n < 2 || line.p[1] != '=' ||
	    !((type >= 'a' && type <= 'z') || (type >= 'A' && type <= 'Z')))
		return fail_bad(ps, "expected <type>=<value>, got", line);
	v.p = line.p + 2;
	v.n = line.n - 2;
	if (!ps->seen_v) {
		if (type != 'v')
			return fail(ps, ps->ln, "missing v=");
		if (!span_eq(v, "0"))
			return fail_bad(ps, "unsupported version v=", v);
		ps->seen_v = true;
		return 0;
	}
	if (type == 'm')
		return parse_media(ps, v);
	if (ps->sec == SEC_LEG)
		return parse_leg_line(ps, type, v);
	if (ps->sec == SEC_SESSION)
		lv = &ps->sess;
	else if (ps->sec == SEC_AUDIO)
		lv = &ps->media;
	else
		return 0;

	switch (type) {
	case 'o':
		return lv == &ps->sess ? parse_origin(ps, v) : 0;
	case 's':
		if (lv == &ps->sess && !ps->has_name) {
			ps->has_name = true;
			ps->name = v;
		}
		return 0;
	case 'i':
		if (!lv->has_info) {
			lv->has_info = true;
			lv->info = v;
		}
		return 0;
	case 'c':
		return parse_conn(ps, lv, v);
	case 'a':
		return parse_attr(ps, lv, v);
	default:
		return 0;
	}
}

/* The DUP leg's transport: its own c= and a=source-filter, else the
 * session's; a leg with neither c= is no leg. */
static void finish_leg(const struct parser *ps, struct sdp_leg *leg)
{
	const struct level *s = &ps->sess, *l = &ps->dup.lv;
	const struct level *c = l->c_line ? l : s;
	const struct level *sf = l->has_sf ? l : s;

	uint32_t a = ntohl(c->addr.s_addr);

	/* no leg either: port 0, an address nothing is sent to (any,
	 * broadcast) or a group of the local network control block
	 * (224.0.0.0/24: mDNS, PTP's own...) */
	if (!c->c_line || !ps->dup.port || a == 0 || a == 0xffffffffu ||
	    (a & 0xffffff00u) == 0xe0000000u)
		return;
	leg->present = true;
	copy_text(leg->mid, sizeof(leg->mid), l->mid);
	leg->addr = c->addr;
	leg->ttl = c->ttl;
	leg->port = ps->dup.port;
	if (sf->has_sf &&
	    (sf->sf_any_dest || sf->sf_dest.s_addr == leg->addr.s_addr)) {
		leg->has_source_filter = true;
		leg->source_filter = sf->sf_src;
	}
}

/* Session and media level merged into @st; the media level wins. */
static int finish(struct parser *ps, struct sdp_stream *st)
{
	const struct level *s = &ps->sess, *m = &ps->media;
	const struct level *c = m->c_line ? m : s;
	const struct level *sf = m->has_sf ? m : s;
	const struct refclk *rc;
	size_t i;

	if (!ps->m_line)
		return fail(ps, ps->ln ? ps->ln : 1, "missing m=audio");
	if (!ps->o_line)
		return fail(ps, ps->m_line, "missing o=");
	if (!c->c_line)
		return fail(ps, ps->m_line, "missing c=");

	memset(st, 0, sizeof(*st));
	st->dup.ttl = -1;
	copy_text(st->origin_user, sizeof(st->origin_user), ps->user);
	st->session_id = ps->session_id;
	st->session_version = ps->session_version;
	st->origin_addr = ps->origin;
	if (ps->has_name)
		copy_text(st->name, sizeof(st->name), ps->name);
	if (m->has_info)
		copy_text(st->info, sizeof(st->info), m->info);
	else if (s->has_info)
		copy_text(st->info, sizeof(st->info), s->info);

	st->addr = c->addr;
	st->ttl = c->ttl;
	st->port = ps->port;
	st->payload_type = ps->pt;
	if (ps->rtpmap_line) {
		copy_text(st->encoding, sizeof(st->encoding), ps->enc);
		st->rate = ps->rate;
		st->channels = ps->channels;
	} else {
		for (i = 0; i < sizeof(static_pts) / sizeof(static_pts[0]); i++)
			if (static_pts[i].pt == ps->pt)
				break;
		if (i == sizeof(static_pts) / sizeof(static_pts[0]))
			return fail(ps, ps->m_line,
				    "missing a=rtpmap for payload type %u",
				    ps->pt);
		snprintf(st->encoding, sizeof(st->encoding), "%s",
			 static_pts[i].enc);
		st->rate = static_pts[i].rate;
		st->channels = static_pts[i].channels;
	}

	st->ptime_us = m->has_ptime ? m->ptime_us : s->ptime_us;
	st->framecount = m->has_framecount ? m->framecount : s->framecount;
	if ((m->has_ptime || s->has_ptime) && !sdp_frames_per_packet(st))
		return fail(ps, ps->m_line,
			    "a=ptime of %u us holds no frame at %u Hz",
			    st->ptime_us, st->rate);

	rc = m->has_refclk ? &m->refclk : &s->refclk;
	st->refclk = rc->kind;
	copy_text(st->refclk_version, sizeof(st->refclk_version), rc->text);
	memcpy(st->gm_id, rc->gm_id, sizeof(st->gm_id));
	st->ptp_domain = rc->domain;

	if (m->has_mediaclk || s->has_mediaclk) {
		st->has_mediaclk = true;
		st->mediaclk_offset =
		    m->has_mediaclk ? m->mediaclk_offset : s->mediaclk_offset;
	}
	/* a filter for another destination does not govern this stream */
	if (sf->has_sf &&
	    (sf->sf_any_dest || sf->sf_dest.s_addr == st->addr.s_addr)) {
		st->has_source_filter = true;
		st->source_filter = sf->sf_src;
	}
	if (m->direction || s->direction)
		snprintf(st->direction, sizeof(st->direction), "%s",
			 m->direction ? m->direction : s->direction);
	if (ps->has_chorder)
		copy_text(st->channel_order, sizeof(st->channel_order),
			  ps->chorder);
	if (m->has_mid)
		copy_text(st->mid, sizeof(st->mid), m->mid);
	if (ps->has_dup)
		finish_leg(ps, &st->dup);
	else
		memcpy(st->dup_left_out, ps->dup_left_out,
		       sizeof(st->dup_left_out));
	return 0;
}

int sdp_parse(const uint8_t *buf, size_t len, struct sdp_stream *out, char *err,
	      size_t err_len)
{
	struct parser ps;
	struct sdp_stream st;
	struct span rest, line;
	const uint8_t *nul;
	int ret;

	memset(&ps, 0, sizeof(ps));
	ps.err = err;
	ps.err_len = err_len;
	level_init(&ps.sess);
	level_init(&ps.media);
	if (err && err_len)
		err[0] = '\0';
	if (!buf || !len)
		return fail(&ps, 1, "missing v=");

	nul = memchr(buf, '\0', len);
	rest.p = buf;
	rest.n = nul ? (size_t)(nul - buf) : len;
	while (rest.n) {
		if (ps.ln < INT_MAX)
			ps.ln++;
		span_split(&rest, '\n', &line);
		span_rtrim(&line);
		if (!line.n)
			continue;
		ret = parse_line(&ps, line);
		if (ret)
			return ret;
	}
	if (!ps.seen_v)
		return fail(&ps, 1, "missing v=");
	if (ps.sec == SEC_LEG)
		leg_close(&ps);
	ret = finish(&ps, &st);
	if (ret)
		return ret;
	*out = st;
	return 0;
}

uint32_t sdp_frames_per_packet(const struct sdp_stream *s)
{
	uint64_t frames;

	if (s->framecount)
		return s->framecount;
	/* round half up: 120 µs at 48 kHz is 5.76 frames, i.e. 6 */
	frames = ((uint64_t)s->ptime_us * s->rate + 500000) / 1000000;
	return frames > UINT32_MAX ? UINT32_MAX : (uint32_t)frames;
}

struct writer {
	char *buf;
	size_t len;
	size_t pos;
	bool full;
};

static void put(struct writer *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void put(struct writer *w, const char *fmt, ...)
{
	va_list ap;
	size_t avail;
	int n;

	if (w->full)
		return;
	avail = w->len - w->pos;
	va_start(ap, fmt);
	n = vsnprintf(w->buf + w->pos, avail, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= avail) {
		w->full = true;
		return;
	}
	w->pos += (size_t)n;
}

/* A fixed-size string field that fits in one SDP line: NUL-terminated
 * inside its array and free of @bad bytes and line breaks. */
static bool text_ok(const char *s, size_t size, const char *bad)
{
	size_t n = strnlen(s, size);

	return n < size && !memchr(s, '\r', n) && !memchr(s, '\n', n) &&
	       strcspn(s, bad) == n;
}

static bool stream_ok(const struct sdp_stream *s)
{
	bool dir_ok = !s->direction[0];
	size_t i;

	for (i = 0; i < sizeof(directions) / sizeof(directions[0]); i++)
		if (strncmp(s->direction, directions[i],
			    sizeof(s->direction)) == 0)
			dir_ok = true;
	if (s->dup.present &&
	    (!s->mid[0] || !s->dup.mid[0] || s->dup.ttl > 255 ||
	     !text_ok(s->dup.mid, sizeof(s->dup.mid), " \t") ||
	     strncmp(s->mid, s->dup.mid, sizeof(s->mid)) == 0))
		return false;
	return dir_ok && s->payload_type <= 127 && s->rate && s->channels &&
	       text_ok(s->mid, sizeof(s->mid), " \t") &&
	       text_ok(s->channel_order, sizeof(s->channel_order), " \t;") &&
	       s->ttl <= 255 && s->encoding[0] &&
	       text_ok(s->origin_user, sizeof(s->origin_user), " \t") &&
	       text_ok(s->name, sizeof(s->name), "") &&
	       text_ok(s->info, sizeof(s->info), "") &&
	       text_ok(s->encoding, sizeof(s->encoding), " \t/") &&
	       text_ok(s->refclk_version, sizeof(s->refclk_version),
		       s->refclk == SDP_REFCLK_OTHER ? "" : " \t:");
}

static void put_addr(struct writer *w, const char *prefix, struct in_addr a)
{
	char ip[INET_ADDRSTRLEN];

	inet_ntop(AF_INET, &a, ip, sizeof(ip));
	put(w, "%s%s", prefix, ip);
}

static void put_eui(struct writer *w, const uint8_t *b, size_t count)
{
	size_t i;

	for (i = 0; i < count; i++)
		put(w, i ? "-%02X" : "%02X", b[i]);
}

static void put_refclk(struct writer *w, const struct sdp_stream *s)
{
	const char *version =
	    s->refclk_version[0] ? s->refclk_version : "IEEE1588-2008";

	switch (s->refclk) {
	case SDP_REFCLK_PTP:
		put(w, "a=ts-refclk:ptp=%s:", version);
		put_eui(w, s->gm_id, 8);
		if (s->ptp_domain >= 0)
			put(w, ":%d", s->ptp_domain);
		put(w, "\r\n");
		break;
	case SDP_REFCLK_PTP_TRACEABLE:
		put(w, "a=ts-refclk:ptp=%s:traceable\r\n", version);
		break;
	case SDP_REFCLK_LOCALMAC:
		put(w, "a=ts-refclk:localmac=");
		put_eui(w, s->gm_id, 6);
		put(w, "\r\n");
		break;
	case SDP_REFCLK_OTHER:
		if (s->refclk_version[0])
			put(w, "a=ts-refclk:%s\r\n", s->refclk_version);
		break;
	case SDP_REFCLK_NONE:
		break;
	}
}

/* Milliseconds in the shortest decimal that gives back the µs value:
 * 1000 -> "1", 125 -> "0.125", 250 -> "0.25". */
static void put_ptime(struct writer *w, uint32_t us)
{
	char frac[4];
	int n;

	if (us % 1000 == 0) {
		put(w, "a=ptime:%u\r\n", us / 1000);
		return;
	}
	snprintf(frac, sizeof(frac), "%03u", us % 1000);
	for (n = 3; frac[n - 1] == '0'; n--)
		frac[n - 1] = '\0';
	put(w, "a=ptime:%u.%s\r\n", us / 1000, frac);
}

/* What both legs of a stream say alike, in Dante's order. */
static void put_media_attrs(struct writer *w, const struct sdp_stream *s)
{
	put(w, "a=rtpmap:%u %s/%u/%u\r\n", s->payload_type, s->encoding,
	    s->rate, s->channels);
	if (s->channel_order[0])
		put(w, "a=fmtp:%u channel-order=%s\r\n", s->payload_type,
		    s->channel_order);
	if (s->ptime_us)
		put_ptime(w, s->ptime_us);
	if (s->framecount)
		put(w, "a=framecount:%u\r\n", s->framecount);
	put_refclk(w, s);
	if (s->has_mediaclk)
		put(w, "a=mediaclk:direct=%u\r\n", s->mediaclk_offset);
}

static void put_source_filter(struct writer *w, struct in_addr dest,
			      struct in_addr src)
{
	put_addr(w, "a=source-filter: incl IN IP4 ", dest);
	put_addr(w, " ", src);
	put(w, "\r\n");
}

int sdp_write(const struct sdp_stream *s, char *buf, size_t len)
{
	struct writer w = {.buf = buf, .len = len};
	bool mcast = IN_MULTICAST(ntohl(s->addr.s_addr));

	if (!stream_ok(s))
		return -EINVAL;
	if (!buf || !len)
		return -ENOSPC;

	put(&w, "v=0\r\n");
	put(&w, "o=%s %llu %llu IN IP4 ",
	    s->origin_user[0] ? s->origin_user : "-",
	    (unsigned long long)s->session_id,
	    (unsigned long long)s->session_version);
	put_addr(&w, "", s->origin_addr);
	/* RFC 4566: a single space when the session has no name */
	put(&w, "\r\ns=%s\r\n", s->name[0] ? s->name : " ");
	if (s->info[0])
		put(&w, "i=%s\r\n", s->info);
	put_addr(&w, "c=IN IP4 ", s->addr);
	if (mcast && s->ttl >= 0)
		put(&w, "/%d", s->ttl);
	put(&w, "\r\nt=0 0\r\n");
	if (s->dup.present)
		put(&w, "a=group:DUP %s %s\r\n", s->mid, s->dup.mid);
	put(&w, "m=audio %u RTP/AVP %u\r\n", s->port, s->payload_type);
	put_media_attrs(&w, s);
	if (s->has_source_filter)
		put_source_filter(&w, s->addr, s->source_filter);
	if (s->direction[0])
		put(&w, "a=%s\r\n", s->direction);
	if (s->mid[0])
		put(&w, "a=mid:%s\r\n", s->mid);
	if (s->dup.present) {
		/* the same stream on another path: media-level c= */
		put(&w, "m=audio %u RTP/AVP %u\r\n", s->dup.port,
		    s->payload_type);
		put_addr(&w, "c=IN IP4 ", s->dup.addr);
		if (IN_MULTICAST(ntohl(s->dup.addr.s_addr)) && s->dup.ttl >= 0)
			put(&w, "/%d", s->dup.ttl);
		put(&w, "\r\n");
		put_media_attrs(&w, s);
		if (s->dup.has_source_filter)
			put_source_filter(&w, s->dup.addr,
					  s->dup.source_filter);
		if (s->direction[0])
			put(&w, "a=%s\r\n", s->direction);
		put(&w, "a=mid:%s\r\n", s->dup.mid);
	}
	if (w.full)
		return -ENOSPC;
	return (int)w.pos;
}
