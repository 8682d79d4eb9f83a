/* INI configuration through inih. inih reports no line numbers to handlers,
 * so the reader callback counts lines itself. Values are checked where they
 * are read; references between sections once the whole file is in. */
#include "node/config.h"
#include "common/net.h"
#include "discovery/sdp.h"
#include "ptp/mclock.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <math.h>
#include <sndfile.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum section_kind {
	SEC_NONE,
	SEC_NODE,
	SEC_PTP,
	SEC_SOURCE,
	SEC_FLOW,
	SEC_SUB,
	SEC_SINK,
	SEC_D4,
	SEC_DISCOVERY,
};

/* What the parser keeps besides the config itself. */
struct parse_ctx {
	struct node_config *cfg;
	const char *fname;
	char *err;
	size_t err_len;
	int line;
	int failed;
	/* the section being read */
	char section[128];
	enum section_kind kind;
	int idx;
	/* per-subscription: keys given explicitly (they override an SDP) */
	unsigned int sub_set[CONFIG_MAX_SUBS];
	char sub_sdp[CONFIG_MAX_SUBS][4096];
	int sub_line[CONFIG_MAX_SUBS];
	int flow_src_line[CONFIG_MAX_FLOWS];
	int user_line; /* [node] user */
	int sink_sub_line[CONFIG_MAX_SINKS];
	/* stream_channels given, how many */
	int sub_nstream[CONFIG_MAX_SUBS];
	uint8_t sub_stream_ch[CONFIG_MAX_SUBS][SOURCE_MAX_CHANNELS];
	/* text reader */
	const char *text;
	/* relative paths are taken from here ("" = as given) */
	char base_dir[4096];
};

enum {
	SET_ADDR = 1 << 0,
	SET_ENC = 1 << 1,
	SET_RATE = 1 << 2,
	SET_CH = 1 << 3,
	SET_PT = 1 << 4,
	SET_PTIME = 1 << 5,
	SET_OFFSET = 1 << 6,
	SET_FILTER = 1 << 7,
	SET_FPP_FRAMES = 1u << 31, /* fpp holds frames (from an SDP), not µs */
};

__attribute__((format(printf, 4, 5))) static int
fail(struct parse_ctx *p, int line, const char *key, const char *fmt, ...)
{
	size_t n;
	va_list ap;

	if (p->failed)
		return 0;
	p->failed = -EINVAL;
	if (key)
		n = (size_t)snprintf(p->err, p->err_len,
				     "%s:%d: [%s] %s: ", p->fname, line,
				     p->section, key);
	else
		n = (size_t)snprintf(p->err, p->err_len, "%s:%d: ", p->fname,
				     line);
	if (n < p->err_len) {
		va_start(ap, fmt);
		vsnprintf(p->err + n, p->err_len - n, fmt, ap);
		va_end(ap);
	}
	return 0;
}

int config_parse_duration(const char *s, unsigned long long bare_unit_ns,
			  unsigned long long *out_ns)
{
	char *end;
	double v;
	double unit = (double)bare_unit_ns;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || !isfinite(v) || v < 0)
		return -EINVAL;
	while (*end == ' ')
		end++;
	if (!strcmp(end, "ns"))
		unit = 1;
	else if (!strcmp(end, "us") || !strcmp(end, "µs"))
		unit = 1e3;
	else if (!strcmp(end, "ms"))
		unit = 1e6;
	else if (!strcmp(end, "s"))
		unit = 1e9;
	else if (*end)
		return -EINVAL;
	if (v * unit > 1e18)
		return -EINVAL;
	*out_ns = (unsigned long long)llround(v * unit);
	return 0;
}

static int parse_uint(const char *s, unsigned long min, unsigned long max,
		      unsigned long *out)
{
	char *end;
	unsigned long v;

	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

static int parse_bool(const char *s, bool *out)
{
	if (!strcasecmp(s, "true") || !strcasecmp(s, "yes") ||
	    !strcmp(s, "1") || !strcasecmp(s, "on"))
		*out = true;
	else if (!strcasecmp(s, "false") || !strcasecmp(s, "no") ||
		 !strcmp(s, "0") || !strcasecmp(s, "off"))
		*out = false;
	else
		return -EINVAL;
	return 0;
}

/* AES67's sample rates. */
static int parse_rate(const char *v, uint32_t *rate)
{
	unsigned long u;

	if (parse_uint(v, 1, 1000000, &u) ||
	    (u != 44100 && u != 48000 && u != 96000))
		return -EINVAL;
	*rate = (uint32_t)u;
	return 0;
}

/* A non-empty value that fits @size (with its NUL). */
static int set_text(char *dst, size_t size, const char *v)
{
	if (!*v || strlen(v) >= size)
		return -EINVAL;
	snprintf(dst, size, "%s", v);
	return 0;
}

int config_parse_channels(const char *s, uint8_t *chans, unsigned int max)
{
	unsigned int n = 0;
	const char *p = s;

	while (*p) {
		unsigned long a, b;
		char *end;

		while (*p == ' ')
			p++;
		if (!isdigit((unsigned char)*p))
			return -EINVAL;
		a = strtoul(p, &end, 10);
		b = a;
		p = end;
		if (*p == '-') {
			p++;
			if (!isdigit((unsigned char)*p))
				return -EINVAL;
			b = strtoul(p, &end, 10);
			p = end;
		}
		while (*p == ' ')
			p++;
		if (*p == ',')
			p++;
		else if (*p)
			return -EINVAL;
		if (a < 1 || b < a || b > SOURCE_MAX_CHANNELS)
			return -EINVAL;
		for (; a <= b; a++) {
			if (n >= max)
				return -EINVAL;
			chans[n++] = (uint8_t)(a - 1);
		}
	}
	return n ? (int)n : -EINVAL;
}

/* "now" or PTP seconds since the epoch ("1795000000.5"). */
static int parse_start(const char *s, enum start_mode *mode, uint64_t *ns,
		       bool allow_first)
{
	char *end;
	double v;

	if (!strcasecmp(s, "now")) {
		*mode = START_NOW;
		return 0;
	}
	if (allow_first && !strcasecmp(s, "first")) {
		*mode = START_FIRST;
		return 0;
	}
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(v) || v <= 0 || v > 1e10)
		return -EINVAL;
	/* Whole nanoseconds from the text, so "T.5" is exact. */
	*mode = START_AT;
	*ns = (uint64_t)llround(floor(v)) * NSEC_PER_SEC +
	      (uint64_t)llround((v - floor(v)) * 1e9);
	return 0;
}

/* A comma-separated list of numbers; one number fills every channel. */
static int parse_list(const char *s, double *out, unsigned int max, double min,
		      double maxv)
{
	unsigned int n = 0, i;
	const char *p = s;

	while (*p) {
		char *end;
		double v;

		errno = 0;
		v = strtod(p, &end);
		if (errno || end == p || !isfinite(v) || v < min || v > maxv ||
		    n >= max)
			return -EINVAL;
		out[n++] = v;
		p = end;
		while (*p == ' ')
			p++;
		if (*p == ',')
			p++;
		else if (*p)
			return -EINVAL;
	}
	if (n == 0)
		return -EINVAL;
	for (i = n; i < max; i++)
		out[i] = out[n - 1];
	return (int)n;
}

static int parse_ptime(const char *v, uint32_t *ptime_us)
{
	unsigned long long ns;

	if (config_parse_duration(v, 1000, &ns) < 0)
		return -EINVAL;
	/* 333 µs is 16 frames: accept the exact third too. */
	if (ns >= 333000 && ns <= 334000)
		ns = 333000;
	if (ns % 1000 || !flow_frames_per_packet((uint32_t)(ns / 1000), 48000))
		return -EINVAL;
	*ptime_us = (uint32_t)(ns / 1000);
	return 0;
}

/* A path key's value: relative paths are relative to the config file. */
static int set_path(struct parse_ctx *p, char *dst, size_t size, const char *v)
{
	int n;

	if (!*v)
		return -EINVAL;
	if (v[0] == '/' || !p->base_dir[0])
		n = snprintf(dst, size, "%s", v);
	else
		n = snprintf(dst, size, "%s/%s", p->base_dir, v);
	return n < 0 || (size_t)n >= size ? -EINVAL : 0;
}

static int new_entry(struct parse_ctx *p, const char *name, unsigned int *n,
		     unsigned int max, const char *what)
{
	if (*n >= max) {
		fail(p, p->line, NULL, "too many %s sections (at most %u)",
		     what, max);
		return -1;
	}
	if (!*name || strlen(name) >= SOURCE_NAME_MAX) {
		fail(p, p->line, NULL,
		     "[%s] needs a name of 1-%d characters, as in [%s NAME]",
		     p->section, SOURCE_NAME_MAX - 1, what);
		return -1;
	}
	return (int)(*n)++;
}

static void start_section(struct parse_ctx *p, const char *section)
{
	struct node_config *cfg = p->cfg;
	char kind[32] = "";
	const char *name;
	const char *sp = strchr(section, ' ');
	size_t klen = sp ? (size_t)(sp - section) : strlen(section);
	int i;

	snprintf(p->section, sizeof(p->section), "%s", section);
	if (klen < sizeof(kind))
		memcpy(kind, section, klen);
	kind[klen < sizeof(kind) ? klen : 0] = '\0';
	name = sp ? sp + 1 : "";
	while (*name == ' ')
		name++;
	p->idx = -1;
	p->kind = SEC_NONE;
	if (!strcmp(kind, "node") && !*name) {
		p->kind = SEC_NODE;
	} else if (!strcmp(kind, "discovery") && !*name) {
		p->kind = SEC_DISCOVERY;
	} else if (!strcmp(kind, "ptp") && !*name) {
		p->kind = SEC_PTP;
		cfg->ptp.line = p->line;
	} else if (!strcmp(kind, "source")) {
		if (config_find_source(cfg, name) >= 0) {
			fail(p, p->line, NULL, "source '%s' defined twice",
			     name);
			return;
		}
		i = new_entry(p, name, &cfg->nsources, CONFIG_MAX_SOURCES,
			      "source");
		if (i < 0)
			return;
		struct source_config *s = &cfg->sources[i];

		snprintf(s->name, sizeof(s->name), "%s", name);
		s->type = SOURCE_TONE;
		s->channels = 2;
		s->rate = 48000;
		s->start = START_NOW;
		s->loop = true;
		for (unsigned int c = 0; c < SOURCE_MAX_CHANNELS; c++) {
			s->freq_hz[c] = 1000;
			s->level_dbfs[c] = -20;
		}
		p->kind = SEC_SOURCE;
		p->idx = i;
	} else if (!strcmp(kind, "flow")) {
		for (unsigned int k = 0; k < cfg->nflows; k++)
			if (!strcmp(cfg->flows[k].name, name)) {
				fail(p, p->line, NULL,
				     "flow '%s' defined twice", name);
				return;
			}
		i = new_entry(p, name, &cfg->nflows, CONFIG_MAX_FLOWS, "flow");
		if (i < 0)
			return;
		struct flow_config *f = &cfg->flows[i];

		snprintf(f->name, sizeof(f->name), "%s", name);
		f->enc = RTP_ENC_L24;
		f->rate = 48000;
		f->ptime_us = 1000;
		f->pt = 98;
		f->dscp = 34;
		f->ttl = 16;
		cfg->flow_line[i] = p->line;
		p->kind = SEC_FLOW;
		p->idx = i;
	} else if (!strcmp(kind, "subscription")) {
		if (config_find_sub(cfg, name) >= 0) {
			fail(p, p->line, NULL,
			     "subscription '%s' defined twice", name);
			return;
		}
		i = new_entry(p, name, &cfg->nsubs, CONFIG_MAX_SUBS,
			      "subscription");
		if (i < 0)
			return;
		struct sub_config *s = &cfg->subs[i];

		snprintf(s->name, sizeof(s->name), "%s", name);
		s->enc = RTP_ENC_L24;
		s->rate = 48000;
		s->channels = 2;
		s->pt = 98;
		s->fpp = 1000; /* µs until the rate is known */
		s->latency_ns = SUB_LATENCY_DEFAULT_NS;
		s->timing = SUB_TIMING_AUTO;
		p->sub_line[i] = p->line;
		p->kind = SEC_SUB;
		p->idx = i;
	} else if (!strcmp(kind, "d4")) {
		i = new_entry(p, name, &cfg->nd4, CONFIG_MAX_D4, "d4");
		if (i < 0)
			return;
		struct d4prog_config *d = &cfg->d4[i];

		snprintf(d->name, sizeof(d->name), "%s", name);
		d->dscp = 34;
		d->ttl = 16;
		d->line = p->line;
		p->kind = SEC_D4;
		p->idx = i;
	} else if (!strcmp(kind, "sink")) {
		i = new_entry(p, name, &cfg->nsinks, CONFIG_MAX_SINKS, "sink");
		if (i < 0)
			return;
		struct sink_config *k = &cfg->sinks[i];

		snprintf(k->rec.name, sizeof(k->rec.name), "%s", name);
		k->type = SINK_FILE;
		k->rec.format = SF_FORMAT_WAV | SF_FORMAT_PCM_24;
		k->rec.start = START_FIRST;
		k->line = p->line;
		p->kind = SEC_SINK;
		p->idx = i;
	} else {
		fail(p, p->line, NULL,
		     "unknown section [%s]; expected [node], [ptp], "
		     "[source NAME], [d4 NAME], "
		     "[flow NAME], [subscription NAME] or [sink NAME]",
		     section);
	}
}

#define BAD(what) fail(p, p->line, key, "'%s' is not %s", v, what)

/* A POSIX portable user name; whether it exists is asked at start. */
static bool valid_user(const char *v)
{
	const char *c;

	if (!*v || *v == '-')
		return false;
	for (c = v; *c; c++)
		if (!isalnum((unsigned char)*c) && !strchr("_-.", *c))
			return false;
	return true;
}

static int node_key(struct parse_ctx *p, const char *key, const char *v)
{
	struct node_config *cfg = p->cfg;
	unsigned long u;

	if (!strcmp(key, "name")) {
		if (!*v || strlen(v) >= sizeof(cfg->name))
			return BAD("a name of 1-63 characters");
		snprintf(cfg->name, sizeof(cfg->name), "%s", v);
	} else if (!strcmp(key, "status_interval")) {
		if (parse_uint(v, 0, 3600, &u))
			return BAD("a number of seconds from 0 to 3600");
		cfg->status_interval_s = (unsigned int)u;
	} else if (!strcmp(key, "control")) {
		if (!*v || strlen(v) >= sizeof(cfg->control))
			return BAD("a socket path of at most 107 characters");
		snprintf(cfg->control, sizeof(cfg->control), "%s", v);
	} else if (!strcmp(key, "api")) {
		cfg->api_off = !strcmp(v, "off");
		if (!cfg->api_off && net_parse_endpoint(v, 8080, &cfg->api_addr))
			return BAD("ADDR[:PORT] to listen on, or off");
	} else if (!strcmp(key, "api_read_token")) {
		if (parse_bool(v, &cfg->api_read_token))
			return BAD("yes or no");
	} else if (!strcmp(key, "state_dir")) {
		if (set_path(p, cfg->state_dir, sizeof(cfg->state_dir), v))
			return BAD("a directory");
	} else if (!strcmp(key, "user")) {
		if (!valid_user(v) || strlen(v) >= sizeof(cfg->user))
			return BAD("a user name (letters, digits, '_', '-', "
				   "'.'; at most 63)");
		snprintf(cfg->user, sizeof(cfg->user), "%s", v);
		p->user_line = p->line;
	} else if (!strcmp(key, "spin_us")) {
		if (parse_uint(v, 0, 500, &u))
			return BAD("a busy-wait from 0 to 500 us");
		cfg->spin_us = (unsigned int)u;
	} else if (!strcmp(key, "rt_priority")) {
		if (parse_uint(v, 0, 99, &u))
			return BAD("a SCHED_FIFO priority from 0 to 99");
		cfg->rt_priority = (int)u;
	} else if (!strcmp(key, "rx_channels")) {
		if (parse_uint(v, 0, RXBUS_MAX_CHANNELS, &u))
			return BAD("a count of RX channels from 0 to 64");
		cfg->rx_channels = (unsigned int)u;
	} else {
		return fail(p, p->line, key, "unknown key in [node]");
	}
	return 1;
}

static int discovery_key(struct parse_ctx *p, const char *key, const char *v)
{
	struct discovery_config *c = &p->cfg->disco;
	unsigned long long ns;
	unsigned long u;

	if (!strcmp(key, "sap")) {
		if (parse_bool(v, &c->sap))
			return BAD("on or off");
	} else if (!strcmp(key, "mdns")) {
		if (parse_bool(v, &c->mdns))
			return BAD("on or off");
	} else if (!strcmp(key, "sap_group")) {
		if (net_parse_endpoint(v, 9875, &c->sap_group) ||
		    !net_is_multicast(&c->sap_group))
			return BAD("a multicast group with an optional port, "
				   "such as 239.255.255.255:9875");
	} else if (!strcmp(key, "sap_interval")) {
		if (config_parse_duration(v, NSEC_PER_SEC, &ns) ||
		    ns < NSEC_PER_SEC / 10 || ns > 3600 * NSEC_PER_SEC)
			return BAD("an interval from 0.1 s to 3600 s");
		c->sap_interval_ns = ns;
	} else if (!strcmp(key, "sap_ttl")) {
		if (parse_uint(v, 1, 255, &u))
			return BAD("a TTL from 1 to 255");
		c->sap_ttl = (int)u;
	} else if (!strcmp(key, "sap_timeout_factor")) {
		if (parse_uint(v, 2, 100, &u))
			return BAD("a factor from 2 to 100");
		c->sap_timeout_factor = (unsigned int)u;
	} else if (!strcmp(key, "sap_timeout_floor")) {
		if (config_parse_duration(v, NSEC_PER_SEC, &ns) ||
		    ns < NSEC_PER_SEC / 10 || ns > 3600 * NSEC_PER_SEC)
			return BAD("a time from 0.1 s to 3600 s");
		c->sap_timeout_floor_ns = ns;
	} else if (!strcmp(key, "rtsp_port")) {
		if (parse_uint(v, 0, 65535, &u))
			return BAD("a TCP port from 0 (any) to 65535");
		c->rtsp_port = (unsigned int)u;
	} else if (!strcmp(key, "interface")) {
		if (set_text(c->ifname, sizeof(c->ifname), v))
			return BAD("an interface name");
	} else {
		return fail(p, p->line, key, "unknown key in [discovery]");
	}
	return 1;
}

static int ptp_key(struct parse_ctx *p, const char *key, const char *v)
{
	struct ptp_node_config *c = &p->cfg->ptp;
	unsigned long long ns;
	unsigned long u;

	if (!strcmp(key, "mode")) {
		if (!strcmp(v, "off"))
			c->run = PTP_RUN_OFF;
		else if (!strcmp(v, "external"))
			c->run = PTP_RUN_EXTERNAL;
		else if (!strcmp(v, "spawn"))
			c->run = PTP_RUN_SPAWN;
		else
			return BAD("off, external or spawn");
	} else if (!strcmp(key, "clock")) {
		if (!strcmp(v, "system"))
			c->clock = MCLOCK_MODE_SYSTEM;
		else if (!strcmp(v, "phc"))
			c->clock = MCLOCK_MODE_PHC;
		else if (!strcmp(v, "follow"))
			c->clock = MCLOCK_MODE_FOLLOW;
		else
			return BAD("system, phc or follow");
	} else if (!strcmp(key, "uds")) {
		if (!*v || strlen(v) >= sizeof(c->uds))
			return BAD("a socket path of at most 107 characters");
		snprintf(c->uds, sizeof(c->uds), "%s", v);
	} else if (!strcmp(key, "domain")) {
		if (parse_uint(v, 0, 127, &u))
			return BAD("a PTP domain from 0 to 127");
		c->domain = (int)u;
	} else if (!strcmp(key, "phc")) {
		if (!*v || strlen(v) >= sizeof(c->phc))
			return BAD("a PHC device such as /dev/ptp0");
		snprintf(c->phc, sizeof(c->phc), "%s", v);
	} else if (!strcmp(key, "lock_threshold")) {
		if (config_parse_duration(v, 1000, &ns) || ns < 100 ||
		    ns > 10000000)
			return BAD("an offset from 100ns to 10ms");
		c->lock_threshold_ns = ns;
	} else if (!strcmp(key, "holdover")) {
		if (config_parse_duration(v, NSEC_PER_SEC, &ns) ||
		    ns > 86400 * NSEC_PER_SEC)
			return BAD("a time from 0 to 86400 s");
		c->holdover_ns = ns;
	} else if (!strcmp(key, "ptp4l")) {
		if (set_path(p, c->ptp4l, sizeof(c->ptp4l), v))
			return BAD("the path of the ptp4l program");
	} else if (!strcmp(key, "ptp4l_config")) {
		if (set_path(p, c->ptp4l_config, sizeof(c->ptp4l_config), v))
			return BAD("a ptp4l configuration file");
	} else if (!strcmp(key, "interface")) {
		if (set_text(c->ifname, sizeof(c->ifname), v))
			return BAD("an interface name");
	} else {
		return fail(p, p->line, key, "unknown key in [ptp]");
	}
	return 1;
}

static int source_key(struct parse_ctx *p, const char *key, const char *v)
{
	struct source_config *s = &p->cfg->sources[p->idx];
	const char *what;
	unsigned long u;
	int n;

	if (!strcmp(key, "type")) {
		if (!strcmp(v, "file"))
			s->type = SOURCE_FILE;
		else if (!strcmp(v, "tone"))
			s->type = SOURCE_TONE;
		else if (!strcmp(v, "silence"))
			s->type = SOURCE_SILENCE;
		else if (!strcmp(v, "alsa"))
			s->type = SOURCE_ALSA;
		else
			return BAD("file, tone, silence or alsa");
	} else if (!strcmp(key, "path")) {
		if (set_path(p, s->path, sizeof(s->path), v))
			return BAD("a file path");
	} else if (!strcmp(key, "loop")) {
		if (parse_bool(v, &s->loop))
			return BAD("true or false");
	} else if (!strcmp(key, "start")) {
		if (parse_start(v, &s->start, &s->start_ns, false))
			return BAD("'now' or a PTP time in seconds");
	} else if (!strcmp(key, "channels")) {
		if (parse_uint(v, 1, SOURCE_MAX_CHANNELS, &u))
			return BAD("a channel count from 1 to 64");
		s->channels = (unsigned int)u;
	} else if (!strcmp(key, "rate")) {
		if (parse_rate(v, &s->rate))
			return BAD("44100, 48000 or 96000");
	} else if (!strcmp(key, "frequency")) {
		if (parse_list(v, s->freq_hz, SOURCE_MAX_CHANNELS, 1, 48000) <
		    0)
			return BAD("a frequency in Hz, or one per channel "
				   "separated by commas");
	} else if (!strcmp(key, "level")) {
		if (parse_list(v, s->level_dbfs, SOURCE_MAX_CHANNELS, -200, 0) <
		    0)
			return BAD("a level in dBFS (<= 0), or one per "
				   "channel separated by commas");
	} else if ((n = alsa_config_key(&s->alsa, key, v, &what)) != 0) {
		if (n < 0)
			return BAD(what);
	} else {
		return fail(p, p->line, key, "unknown key in [source]");
	}
	return 1;
}

static int flow_key(struct parse_ctx *p, const char *key, const char *v)
{
	struct flow_config *f = &p->cfg->flows[p->idx];
	unsigned long u;
	int n;

	if (!strcmp(key, "source")) {
		snprintf(f->source, sizeof(f->source), "%s", v);
		p->flow_src_line[p->idx] = p->line;
	} else if (!strcmp(key, "channels")) {
		n = config_parse_channels(v, f->chans, SOURCE_MAX_CHANNELS);
		if (n < 0)
			return BAD("a list of source channels such as 1-8 "
				   "or 1,3,5");
		f->nch = (unsigned int)n;
	} else if (!strcmp(key, "destination")) {
		if (net_parse_endpoint(v, 5004, &f->dest))
			return BAD("an IPv4 address with an optional port, "
				   "such as 239.69.0.1:5004");
	} else if (!strcmp(key, "encoding")) {
		if (rtp_encoding_parse(v, &f->enc))
			return BAD("L24 or L16");
	} else if (!strcmp(key, "rate")) {
		if (parse_rate(v, &f->rate))
			return BAD("44100, 48000 or 96000");
	} else if (!strcmp(key, "ptime")) {
		if (parse_ptime(v, &f->ptime_us))
			return BAD("a packet time: 125us, 250us, 333us, 1ms "
				   "or 4ms");
	} else if (!strcmp(key, "payload_type")) {
		if (parse_uint(v, 96, 127, &u))
			return BAD("a dynamic payload type from 96 to 127");
		f->pt = (uint8_t)u;
	} else if (!strcmp(key, "dscp")) {
		if (parse_uint(v, 0, 63, &u))
			return BAD("a DSCP value from 0 to 63");
		f->dscp = (int)u;
	} else if (!strcmp(key, "ttl")) {
		if (parse_uint(v, 1, 255, &u))
			return BAD("a TTL from 1 to 255");
		f->ttl = (int)u;
	} else if (!strcmp(key, "interface")) {
		if (set_text(f->ifname, sizeof(f->ifname), v))
			return BAD("an interface name");
	} else if (!strcmp(key, "sdp_file")) {
		if (set_path(p, f->sdp_path, sizeof(f->sdp_path), v))
			return BAD("a file path");
	} else {
		return fail(p, p->line, key, "unknown key in [flow]");
	}
	return 1;
}

static int sub_key(struct parse_ctx *p, const char *key, const char *v)
{
	struct sub_config *s = &p->cfg->subs[p->idx];
	unsigned int *set = &p->sub_set[p->idx];
	unsigned long long ns;
	unsigned long u;

	if (!strcmp(key, "address")) {
		if (net_parse_endpoint(v, 5004, &s->addr))
			return BAD("an IPv4 address with an optional port, "
				   "such as 239.69.0.1:5004");
		*set |= SET_ADDR;
	} else if (!strcmp(key, "sdp")) {
		if (set_path(p, p->sub_sdp[p->idx], sizeof(p->sub_sdp[0]), v))
			return BAD("a file path");
	} else if (!strcmp(key, "stream")) {
		if (set_text(p->cfg->sub_stream[p->idx],
			     sizeof(p->cfg->sub_stream[0]), v))
			return BAD("a stream name of 1-127 characters");
	} else if (!strcmp(key, "encoding")) {
		if (rtp_encoding_parse(v, &s->enc))
			return BAD("L24 or L16");
		*set |= SET_ENC;
	} else if (!strcmp(key, "rate")) {
		if (parse_rate(v, &s->rate))
			return BAD("44100, 48000 or 96000");
		*set |= SET_RATE;
	} else if (!strcmp(key, "channels")) {
		if (parse_uint(v, 1, SOURCE_MAX_CHANNELS, &u))
			return BAD("a channel count from 1 to 64");
		s->channels = (unsigned int)u;
		*set |= SET_CH;
	} else if (!strcmp(key, "ptime")) {
		uint32_t us;

		if (parse_ptime(v, &us))
			return BAD("a packet time: 125us, 250us, 333us, 1ms "
				   "or 4ms");
		s->fpp = us; /* frames once the rate is known */
		*set |= SET_PTIME;
	} else if (!strcmp(key, "payload_type")) {
		if (parse_uint(v, 0, 127, &u))
			return BAD("a payload type from 0 to 127");
		s->pt = (uint8_t)u;
		*set |= SET_PT;
	} else if (!strcmp(key, "latency")) {
		if (config_parse_duration(v, 1000000, &ns) ||
		    ns < SUB_LATENCY_MIN_NS || ns > SUB_LATENCY_MAX_NS)
			return BAD("a latency from 250us to 100ms");
		s->latency_ns = ns;
	} else if (!strcmp(key, "timing")) {
		if (!strcmp(v, "auto"))
			s->timing = SUB_TIMING_AUTO;
		else if (!strcmp(v, "ptp"))
			s->timing = SUB_TIMING_PTP;
		else if (!strcmp(v, "arrival"))
			s->timing = SUB_TIMING_ARRIVAL;
		else
			return BAD("auto, ptp or arrival");
	} else if (!strcmp(key, "interface")) {
		if (set_text(s->ifname, sizeof(s->ifname), v))
			return BAD("an interface name");
	} else if (!strcmp(key, "source_filter")) {
		struct sockaddr_in sa;

		if (net_parse_endpoint(v, 1, &sa))
			return BAD("a sender's IPv4 address");
		s->has_source_filter = true;
		s->source_filter = sa.sin_addr;
		*set |= SET_FILTER;
	} else if (!strcmp(key, "mediaclk_offset")) {
		if (parse_uint(v, 0, UINT32_MAX, &u))
			return BAD("an RTP timestamp offset from 0 to "
				   "4294967295");
		s->mediaclk_offset = (uint32_t)u;
		*set |= SET_OFFSET;
	} else if (!strcmp(key, "rx_channels")) {
		struct rx_map *m = &p->cfg->sub_rx[p->idx];
		int n = config_parse_channels(v, m->rx, SOURCE_MAX_CHANNELS);

		if (n < 0)
			return BAD("a list of the node's RX channels such as "
				   "3-4 or 1,5");
		m->n = (unsigned int)n;
	} else if (!strcmp(key, "stream_channels")) {
		int n = config_parse_channels(v, p->sub_stream_ch[p->idx],
					      SOURCE_MAX_CHANNELS);

		if (n < 0)
			return BAD("a list of the stream's channels such as "
				   "1-2 or 7,8");
		p->sub_nstream[p->idx] = n;
	} else {
		return fail(p, p->line, key, "unknown key in [subscription]");
	}
	return 1;
}

static int d4_key(struct parse_ctx *p, const char *key, const char *v)
{
	struct d4prog_config *d = &p->cfg->d4[p->idx];
	unsigned long u;

	if (!strcmp(key, "file")) {
		if (set_path(p, d->file, sizeof(d->file), v))
			return BAD("a D4 program file");
	} else if (!strcmp(key, "exec")) {
		/* Repeatable: every line is one statement, in order. */
		if (d->nexec >= CONFIG_MAX_D4_EXEC)
			return fail(p, p->line, key, "more than %d exec lines",
				    CONFIG_MAX_D4_EXEC);
		if (!*v || strlen(v) >= sizeof(d->exec[0]))
			return BAD("a D4 statement");
		snprintf(d->exec[d->nexec++], sizeof(d->exec[0]), "%s", v);
	} else if (!strcmp(key, "bind")) {
		/* Repeatable: "LOOP udp ADDR:PORT" or "LOOP flow NAME", for
		 * loops whose program names no input. */
		const char *sp = strchr(v, ' ');

		if (d->nbind >= CONFIG_MAX_D4_EXEC)
			return fail(p, p->line, key, "more than %d bind lines",
				    CONFIG_MAX_D4_EXEC);
		if (!sp ||
		    (strncmp(sp + 1, "udp ", 4) &&
		     strncmp(sp + 1, "flow ", 5)) ||
		    strlen(v) >= sizeof(d->bind[0]))
			return BAD("LOOP udp ADDR:PORT or LOOP flow NAME");
		snprintf(d->bind[d->nbind++], sizeof(d->bind[0]), "%s", v);
	} else if (!strcmp(key, "dscp")) {
		if (parse_uint(v, 0, 63, &u))
			return BAD("a DSCP value from 0 to 63");
		d->dscp = (int)u;
	} else if (!strcmp(key, "ttl")) {
		if (parse_uint(v, 1, 255, &u))
			return BAD("a TTL from 1 to 255");
		d->ttl = (int)u;
	} else if (!strcmp(key, "interface")) {
		if (set_text(d->ifname, sizeof(d->ifname), v))
			return BAD("an interface name");
	} else {
		return fail(p, p->line, key, "unknown key in [d4]");
	}
	return 1;
}

static int sink_format(const char *v, int *format)
{
	int major = *format & SF_FORMAT_TYPEMASK;

	if (!strcasecmp(v, "wav"))
		major = SF_FORMAT_WAV;
	else if (!strcasecmp(v, "flac"))
		major = SF_FORMAT_FLAC;
	else if (!strcasecmp(v, "aiff"))
		major = SF_FORMAT_AIFF;
	else if (!strcasecmp(v, "w64"))
		major = SF_FORMAT_W64;
	else
		return -EINVAL;
	*format = major | (*format & SF_FORMAT_SUBMASK);
	return 0;
}

static int sink_key(struct parse_ctx *p, const char *key, const char *v)
{
	struct sink_config *k = &p->cfg->sinks[p->idx];
	unsigned long long ns;
	const char *what;
	unsigned long u;
	int n;

	if (!strcmp(key, "type")) {
		if (!strcmp(v, "file"))
			k->type = SINK_FILE;
		else if (!strcmp(v, "null"))
			k->type = SINK_NULL;
		else if (!strcmp(v, "alsa"))
			k->type = SINK_ALSA;
		else
			return BAD("file, null or alsa");
	} else if (!strcmp(key, "subscription")) {
		snprintf(k->sub, sizeof(k->sub), "%s", v);
		p->sink_sub_line[p->idx] = p->line;
	} else if (!strcmp(key, "rx")) {
		n = config_parse_channels(v, k->rec.chans, SOURCE_MAX_CHANNELS);
		if (n < 0)
			return BAD("a list of the node's RX channels such as "
				   "1-8");
		k->nch = (unsigned int)n;
		k->rx = true;
	} else if (!strcmp(key, "channels")) {
		n = config_parse_channels(v, k->rec.chans, SOURCE_MAX_CHANNELS);
		if (n < 0)
			return BAD("a list of stream channels such as 1-8 "
				   "or 2,1");
		k->nch = (unsigned int)n;
	} else if (!strcmp(key, "path")) {
		if (set_path(p, k->rec.path, sizeof(k->rec.path), v))
			return BAD("a file path");
	} else if (!strcmp(key, "format")) {
		if (sink_format(v, &k->rec.format))
			return BAD("wav, flac, aiff or w64");
	} else if (!strcmp(key, "bits")) {
		int sub;

		if (parse_uint(v, 16, 32, &u) ||
		    (u != 16 && u != 24 && u != 32))
			return BAD("16, 24 or 32");
		sub = u == 16	? SF_FORMAT_PCM_16
		      : u == 24 ? SF_FORMAT_PCM_24
				: SF_FORMAT_PCM_32;
		k->rec.format = (k->rec.format & SF_FORMAT_TYPEMASK) | sub;
	} else if (!strcmp(key, "start")) {
		if (parse_start(v, &k->rec.start, &k->rec.start_ns, true))
			return BAD("'first', 'now' or a PTP time in seconds");
	} else if (!strcmp(key, "duration")) {
		if (config_parse_duration(v, NSEC_PER_SEC, &ns) || ns == 0)
			return BAD("a duration such as 10 (seconds) or 500ms");
		k->rec.duration_ns = ns;
	} else if ((n = alsa_config_key(&k->alsa, key, v, &what)) != 0) {
		if (n < 0)
			return BAD(what);
	} else {
		return fail(p, p->line, key, "unknown key in [sink]");
	}
	return 1;
}

static int on_value(void *user, const char *section, const char *key,
		    const char *v)
{
	struct parse_ctx *p = user;

	if (p->failed)
		return 0;
	if (strcmp(section, p->section) || (!key && !v)) {
		start_section(p, section);
		if (p->failed)
			return 0;
	}
	if (!key)
		return 1; /* inih: a new section with no keys yet */
	switch (p->kind) {
	case SEC_NODE:
		return node_key(p, key, v);
	case SEC_PTP:
		return ptp_key(p, key, v);
	case SEC_DISCOVERY:
		return discovery_key(p, key, v);
	case SEC_SOURCE:
		return p->idx >= 0 && source_key(p, key, v);
	case SEC_FLOW:
		return p->idx >= 0 && flow_key(p, key, v);
	case SEC_SUB:
		return p->idx >= 0 && sub_key(p, key, v);
	case SEC_SINK:
		return p->idx >= 0 && sink_key(p, key, v);
	case SEC_D4:
		return p->idx >= 0 && d4_key(p, key, v);
	case SEC_NONE:
		if (!*section)
			return fail(p, p->line, NULL,
				    "key '%s' outside any section", key);
		return 0;
	}
	return 0;
}

/* Debian's inih calls handlers only for keys, so a section is noticed here,
 * on its own line: an empty or repeated section is still seen, and errors
 * about it name the header's line. inih itself reports a malformed one. */
static void see_section_header(struct parse_ctx *p, const char *line)
{
	const char *start = line, *end;
	char name[128];

	while (*start == ' ' || *start == '\t')
		start++;
	if (*start != '[' || p->failed)
		return;
	end = strchr(start, ']');
	if (!end || (size_t)(end - start - 1) >= sizeof(name))
		return;
	memcpy(name, start + 1, (size_t)(end - start - 1));
	name[end - start - 1] = '\0';
	start_section(p, name);
}

/* inih calls this for each line: count lines as they are read. */
static char *read_line(char *buf, int size, void *stream)
{
	struct parse_ctx *p = stream;
	const char *nl;
	size_t n;

	if (!*p->text)
		return NULL;
	nl = strchr(p->text, '\n');
	n = nl ? (size_t)(nl - p->text) + 1 : strlen(p->text);
	p->line++;
	if (n > (size_t)size - 1) {
		/* inih would split the line; say so instead. */
		fail(p, p->line, NULL, "line longer than %d characters",
		     size - 2);
		p->text += n;
		buf[0] = '\0';
		return buf;
	}
	memcpy(buf, p->text, n);
	buf[n] = '\0';
	p->text += n;
	see_section_header(p, buf);
	return buf;
}

/* Fill @s from @st; the keys in @set (given in the INI) win. */
static int sub_from_sdp(struct sub_config *s, unsigned int set,
			const struct sdp_stream *st, char *err, size_t err_len)
{
	if (!(set & SET_ENC) && rtp_encoding_parse(st->encoding, &s->enc)) {
		snprintf(err, err_len, "encoding %s is not L24 or L16",
			 st->encoding);
		return -EINVAL;
	}
	/* The SDP may come from anyone on the network (SAP): a rate of
	 * 150 MHz would size a 4 GiB jitter buffer and eat the media
	 * thread. Only what a flow may send is taken. */
	if (!(set & SET_RATE) && st->rate != 44100 && st->rate != 48000 &&
	    st->rate != 96000) {
		snprintf(err, err_len, "rate %u Hz: 44100, 48000 or 96000 only",
			 st->rate);
		return -EINVAL;
	}
	if (!(set & SET_ADDR)) {
		s->addr.sin_family = AF_INET;
		s->addr.sin_addr = st->addr;
		s->addr.sin_port = htons(st->port);
	}
	if (!(set & SET_RATE))
		s->rate = st->rate;
	if (!(set & SET_CH))
		s->channels = st->channels;
	if (!(set & SET_PT))
		s->pt = st->payload_type;
	if (!(set & SET_PTIME)) {
		/* Frames per packet are the SDP's word too (a=framecount,
		 * a=ptime): playout is paced by them, and a packet of more
		 * frames than fit in one could never arrive. (A channel
		 * count out of range is refused by the caller.) */
		s->fpp = sdp_frames_per_packet(st);
		if (s->channels >= 1 && s->channels <= SOURCE_MAX_CHANNELS &&
		    s->fpp > RTP_MAX_PAYLOAD /
				 (s->channels * rtp_bytes_per_sample(s->enc))) {
			snprintf(err, err_len,
				 "%u frames per packet: more than a packet "
				 "holds",
				 s->fpp);
			return -EINVAL;
		}
	}
	if (!(set & SET_OFFSET))
		s->mediaclk_offset = st->has_mediaclk ? st->mediaclk_offset : 0;
	if (!(set & SET_FILTER)) {
		s->has_source_filter = st->has_source_filter;
		s->source_filter = st->source_filter;
	}
	return 0;
}

int config_sub_apply_sdp(struct node_config *cfg, unsigned int i,
			 const struct sdp_stream *st, char *err,
			 size_t err_len)
{
	struct sub_config *s = &cfg->subs[i];
	unsigned int k, c;

	if (sub_from_sdp(s, cfg->sub_keys[i], st, err, err_len) < 0)
		return -EINVAL;
	if ((cfg->sub_keys[i] & SET_PTIME) &&
	    !(cfg->sub_keys[i] & SET_FPP_FRAMES))
		s->fpp = flow_frames_per_packet(s->fpp, s->rate);
	if (s->channels < 1 || s->channels > SOURCE_MAX_CHANNELS) {
		snprintf(err, err_len, "%u channels; 1-%d allowed", s->channels,
			 SOURCE_MAX_CHANNELS);
		return -EINVAL;
	}
	for (k = 0; k < cfg->nsinks; k++) {
		struct sink_config *sk = &cfg->sinks[k];

		if (strcmp(sk->sub, s->name))
			continue;
		if (!sk->nch) {
			/* every channel of the stream */
			sk->rec.nch = s->channels;
			for (c = 0; c < s->channels; c++)
				sk->rec.chans[c] = (uint8_t)c;
		} else {
			sk->rec.nch = sk->nch;
		}
		sk->rec.rate = s->rate;
		for (c = 0; c < sk->rec.nch; c++)
			if (sk->rec.chans[c] >= s->channels) {
				snprintf(err, err_len,
					 "sink %s wants channel %u; the stream "
					 "has %u",
					 sk->rec.name, sk->rec.chans[c] + 1u,
					 s->channels);
				return -EINVAL;
			}
	}
	return 0;
}

/* Fill a subscription from its SDP file, keys given in the INI win. */
static int apply_sdp(struct parse_ctx *p, unsigned int i)
{
	struct sub_config *s = &p->cfg->subs[i];
	unsigned int set = p->sub_set[i];
	struct sdp_stream st;
	char perr[160];
	uint8_t *buf;
	long len;
	FILE *f;
	int err;

	f = fopen(p->sub_sdp[i], "rb");
	if (!f)
		return fail(p, p->sub_line[i], NULL,
			    "[subscription %s] sdp: cannot open '%s': %s",
			    s->name, p->sub_sdp[i], strerror(errno));
	buf = malloc(65536);
	len = buf ? (long)fread(buf, 1, 65536, f) : -1;
	fclose(f);
	if (len < 0) {
		free(buf);
		return fail(p, p->sub_line[i], NULL, "out of memory");
	}
	err = sdp_parse(buf, (size_t)len, &st, perr, sizeof(perr));
	free(buf);
	if (err)
		return fail(p, p->sub_line[i], NULL,
			    "[subscription %s] sdp: '%s': %s", s->name,
			    p->sub_sdp[i], perr);
	if (sub_from_sdp(s, set, &st, perr, sizeof(perr)) < 0)
		return fail(p, p->sub_line[i], NULL,
			    "[subscription %s] sdp: '%s': %s", s->name,
			    p->sub_sdp[i], perr);
	if (!(set & SET_PTIME))
		p->sub_set[i] |= SET_PTIME | SET_FPP_FRAMES;
	return 1;
}

static int check_refs(struct parse_ctx *p)
{
	struct node_config *cfg = p->cfg;
	unsigned int i;

	if (cfg->ptp.run == PTP_RUN_SPAWN &&
	    (!cfg->ptp.ptp4l_config[0] || !cfg->ptp.ifname[0]))
		fail(p, cfg->ptp.line, NULL,
		     "[ptp] mode = spawn needs ptp4l_config = FILE and "
		     "interface = NAME");
	/* ptp4l needs root: a node that became a user could not restart
	 * it. */
	if (cfg->ptp.run == PTP_RUN_SPAWN && cfg->user[0])
		fail(p, p->user_line, NULL,
		     "[node] user = %s cannot go with [ptp] mode = spawn: "
		     "ptp4l needs root; run it as a service of its own "
		     "(examples/systemd/d4-ptp4l@.service) with mode = "
		     "external",
		     cfg->user);
	if (cfg->ptp.run != PTP_RUN_OFF && cfg->ptp.clock == MCLOCK_MODE_PHC &&
	    !cfg->ptp.phc[0])
		fail(p, cfg->ptp.line, NULL,
		     "[ptp] clock = phc needs phc = /dev/ptpN");
	for (i = 0; i < cfg->nd4 && !p->failed; i++)
		if (!cfg->d4[i].file[0] && !cfg->d4[i].nexec)
			fail(p, cfg->d4[i].line, NULL,
			     "[d4 %s] needs file = PROGRAM.d4 (or exec lines)",
			     cfg->d4[i].name);
	for (i = 0; i < cfg->nsources && !p->failed; i++) {
		struct source_config *s = &cfg->sources[i];

		if (s->type == SOURCE_FILE && !s->path[0])
			fail(p, p->line, NULL,
			     "[source %s] type = file needs a path", s->name);
	}
	for (i = 0; i < cfg->nflows && !p->failed; i++) {
		struct flow_config *f = &cfg->flows[i];
		int line = cfg->flow_line[i];

		if (!f->source[0])
			fail(p, line, NULL, "[flow %s] needs source = NAME",
			     f->name);
		else if (config_find_source(cfg, f->source) < 0)
			fail(p, p->flow_src_line[i], NULL,
			     "[flow %s] source: no [source %s] in this file",
			     f->name, f->source);
		else if (!f->dest.sin_family)
			fail(p, line, NULL,
			     "[flow %s] needs destination = ADDRESS[:PORT]",
			     f->name);
	}
	for (i = 0; i < cfg->nsubs && !p->failed; i++) {
		struct sub_config *s = &cfg->subs[i];

		cfg->sub_keys[i] = p->sub_set[i];
		if (cfg->sub_stream[i][0]) {
			if (p->sub_sdp[i][0] ||
			    (p->sub_set[i] & SET_ADDR)) {
				fail(p, p->sub_line[i], NULL,
				     "[subscription %s] stream, sdp and "
				     "address exclude each other",
				     s->name);
				break;
			}
			continue; /* resolved while the node runs */
		}
		if (p->sub_sdp[i][0] && !apply_sdp(p, i))
			break;
		if (!s->addr.sin_family) {
			fail(p, p->sub_line[i], NULL,
			     "[subscription %s] needs address = "
			     "ADDRESS[:PORT], sdp = FILE or stream = NAME",
			     s->name);
			break;
		}
		if (!(p->sub_set[i] & SET_FPP_FRAMES))
			s->fpp = flow_frames_per_packet(s->fpp, s->rate);
	}
	for (i = 0; i < cfg->nsubs && !p->failed; i++) {
		struct rx_map *m = &cfg->sub_rx[i];
		char why[200];
		unsigned int c;

		if (p->sub_nstream[i] && !m->n) {
			fail(p, p->sub_line[i], NULL,
			     "[subscription %s] stream_channels needs "
			     "rx_channels",
			     cfg->subs[i].name);
			break;
		}
		if (!m->n)
			continue;
		if (p->sub_nstream[i] && (unsigned int)p->sub_nstream[i] != m->n) {
			fail(p, p->sub_line[i], NULL,
			     "[subscription %s] %d stream_channels for %u "
			     "rx_channels",
			     cfg->subs[i].name, p->sub_nstream[i], m->n);
			break;
		}
		for (c = 0; c < m->n; c++)
			m->stream_ch[c] = p->sub_nstream[i]
					      ? p->sub_stream_ch[i][c]
					      : (uint8_t)c;
		if (config_check_rx_map(cfg, i,
					!cfg->sub_stream[i][0] ||
					    (p->sub_set[i] & SET_CH),
					why, sizeof(why)) < 0)
			fail(p, p->sub_line[i], NULL, "[subscription %s] %s",
			     cfg->subs[i].name, why);
	}
	for (i = 0; i < cfg->nsinks && !p->failed; i++) {
		struct sink_config *k = &cfg->sinks[i];
		int si = config_find_sub(cfg, k->sub);
		unsigned int c;

		if (k->rx) {
			if (k->sub[0]) {
				fail(p, k->line, NULL,
				     "[sink %s] rx and subscription exclude "
				     "each other",
				     k->rec.name);
				break;
			}
			if (k->type == SINK_ALSA) {
				fail(p, k->line, NULL,
				     "[sink %s] a sound card plays one "
				     "subscription (subscription = NAME); "
				     "rx = is for file and null sinks",
				     k->rec.name);
				break;
			}
			if (k->rec.start == START_FIRST) {
				fail(p, k->line, NULL,
				     "[sink %s] RX channels have no first "
				     "packet: start = now or a PTP time",
				     k->rec.name);
				break;
			}
			for (c = 0; c < k->nch; c++)
				if (k->rec.chans[c] >= cfg->rx_channels)
					break;
			if (c < k->nch) {
				fail(p, k->line, NULL,
				     "[sink %s] RX channel %u: the node has "
				     "%u ([node] rx_channels)",
				     k->rec.name, k->rec.chans[c] + 1u,
				     cfg->rx_channels);
				break;
			}
			if (k->type == SINK_FILE && !k->rec.path[0]) {
				fail(p, k->line, NULL,
				     "[sink %s] type = file needs a path",
				     k->rec.name);
				break;
			}
			k->rec.nch = k->nch;
			k->rec.rate = CONFIG_RX_RATE;
			continue;
		}
		if (si < 0 && k->sub[0]) {
			fail(p, p->sink_sub_line[i], NULL,
			     "[sink %s] subscription: no [subscription %s] in "
			     "this file",
			     k->rec.name, k->sub);
			break;
		}
		if (si < 0) {
			fail(p, k->line, NULL,
			     "[sink %s] needs subscription = NAME",
			     k->rec.name);
			break;
		}
		if (k->type == SINK_FILE && !k->rec.path[0]) {
			fail(p, k->line, NULL,
			     "[sink %s] type = file needs a path", k->rec.name);
			break;
		}
		if (cfg->sub_stream[si][0] && !(p->sub_set[si] & SET_CH))
			continue; /* the stream's SDP tells, at run time */
		if (!k->nch) {
			k->nch = cfg->subs[si].channels;
			for (c = 0; c < k->nch; c++)
				k->rec.chans[c] = (uint8_t)c;
		}
		for (c = 0; c < k->nch; c++)
			if (k->rec.chans[c] >= cfg->subs[si].channels)
				fail(p, k->line, NULL,
				     "[sink %s] channel %u: subscription %s "
				     "has %u channels",
				     k->rec.name, k->rec.chans[c] + 1u, k->sub,
				     cfg->subs[si].channels);
		k->rec.nch = k->nch;
		k->rec.rate = cfg->subs[si].rate;
	}
	return p->failed;
}

static int parse_text(const char *text, const char *name, const char *base,
		      struct node_config *cfg, char *err, size_t err_len)
{
	struct parse_ctx *p = calloc(1, sizeof(*p));
	int rc;

	if (!p) {
		snprintf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->path, sizeof(cfg->path), "%s", name);
	snprintf(cfg->name, sizeof(cfg->name), "d4node");
	cfg->status_interval_s = 2;
	cfg->rt_priority = 70;
	cfg->rx_channels = 8;
	cfg->ptp.clock = MCLOCK_MODE_SYSTEM;
	cfg->disco.sap = true;
	cfg->api_addr.sin_family = AF_INET;
	cfg->api_addr.sin_port = htons(8080);
	cfg->disco.mdns = true;
	cfg->ptp.lock_threshold_ns = 100000;
	cfg->ptp.holdover_ns = 60 * NSEC_PER_SEC;
	snprintf(cfg->ptp.ptp4l, sizeof(cfg->ptp.ptp4l), "/usr/sbin/ptp4l");
	p->cfg = cfg;
	p->fname = name;
	p->err = err;
	p->err_len = err_len;
	p->text = text;
	snprintf(p->base_dir, sizeof(p->base_dir), "%s", base);
	rc = ini_parse_stream(read_line, p, on_value, p);
	if (rc != 0 && !p->failed) {
		if (rc > 0)
			fail(p, rc, NULL,
			     "not a [section] or key = value line");
		else
			fail(p, 0, NULL, "cannot read (error %d)", rc);
	}
	if (!p->failed)
		check_refs(p);
	rc = p->failed;
	free(p);
	return rc;
}

int config_parse_string(const char *text, const char *name,
			struct node_config *cfg, char *err, size_t err_len)
{
	return parse_text(text, name, "", cfg, err, err_len);
}

int config_load(const char *path, struct node_config *cfg, char *err,
		size_t err_len)
{
	char base[4096];
	const char *slash = strrchr(path, '/');
	FILE *f = fopen(path, "rb");
	char *text;
	long len;
	int rc;

	if (!f) {
		rc = -errno;
		snprintf(err, err_len, "%s: cannot open: %s", path,
			 strerror(errno));
		return rc;
	}
	if (fseek(f, 0, SEEK_END) < 0 || (len = ftell(f)) < 0 ||
	    len > (1 << 20) || fseek(f, 0, SEEK_SET) < 0) {
		fclose(f);
		snprintf(err, err_len, "%s: not a readable file under 1 MiB",
			 path);
		return -EINVAL;
	}
	text = malloc((size_t)len + 1);
	if (!text || fread(text, 1, (size_t)len, f) != (size_t)len) {
		fclose(f);
		free(text);
		snprintf(err, err_len, "%s: cannot read", path);
		return -EIO;
	}
	fclose(f);
	text[len] = '\0';
	if (strlen(text) != (size_t)len) {
		free(text);
		snprintf(err, err_len, "%s: contains a NUL byte", path);
		return -EINVAL;
	}
	if (slash)
		snprintf(base, sizeof(base), "%.*s", (int)(slash - path), path);
	else
		snprintf(base, sizeof(base), ".");
	if (!base[0])
		snprintf(base, sizeof(base), "/");
	rc = parse_text(text, path, base, cfg, err, err_len);
	free(text);
	return rc;
}

int config_check_rx_map(const struct node_config *cfg, unsigned int i,
			bool channels_known, char *err, size_t err_len)
{
	const struct rx_map *m = &cfg->sub_rx[i];
	const struct sub_config *s = &cfg->subs[i];
	unsigned int c, j, k;

	for (c = 0; c < m->n; c++) {
		if (m->rx[c] >= cfg->rx_channels) {
			snprintf(err, err_len,
				 "RX channel %u: the node has %u", m->rx[c] + 1u,
				 cfg->rx_channels);
			return -EINVAL;
		}
		if (channels_known && m->stream_ch[c] >= s->channels) {
			snprintf(err, err_len,
				 "stream channel %u: the stream has %u",
				 m->stream_ch[c] + 1u, s->channels);
			return -EINVAL;
		}
		for (k = 0; k < c; k++)
			if (m->rx[k] == m->rx[c]) {
				snprintf(err, err_len,
					 "RX channel %u given twice",
					 m->rx[c] + 1u);
				return -EINVAL;
			}
	}
	if (m->n && channels_known && s->rate != CONFIG_RX_RATE) {
		snprintf(err, err_len,
			 "the stream runs at %u Hz; RX channels at %d Hz",
			 s->rate, CONFIG_RX_RATE);
		return -EINVAL;
	}
	for (j = 0; j < cfg->nsubs; j++) {
		const struct rx_map *o = &cfg->sub_rx[j];

		if (j == i || !cfg->subs[j].name[0])
			continue;
		for (c = 0; c < m->n; c++)
			for (k = 0; k < o->n; k++)
				if (m->rx[c] == o->rx[k]) {
					snprintf(err, err_len,
						 "RX channel %u is taken by "
						 "subscription %s",
						 m->rx[c] + 1u,
						 cfg->subs[j].name);
					return -EBUSY;
				}
	}
	return 0;
}

int config_find_source(const struct node_config *cfg, const char *name)
{
	for (unsigned int i = 0; i < cfg->nsources; i++)
		if (!strcmp(cfg->sources[i].name, name))
			return (int)i;
	return -1;
}

int config_find_sub(const struct node_config *cfg, const char *name)
{
	for (unsigned int i = 0; i < cfg->nsubs; i++)
		if (!strcmp(cfg->subs[i].name, name))
			return (int)i;
	return -1;
}
