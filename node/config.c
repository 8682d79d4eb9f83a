/* INI configuration through inih. Every key is a row of the settings
 * table (node/settings.c): this file reads the text, finds sections and
 * their keys' rows, and checks references between sections once the whole
 * file is in. inih reports no line numbers to handlers, so the reader
 * callback counts lines itself. */
#include "node/config.h"
#include "common/net.h"
#include "discovery/sdp.h"
#include "node/settings.h"

#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What the parser keeps besides the config itself. */
struct parse_ctx {
	struct node_config *cfg;
	const char *fname;
	char *err;
	size_t err_len;
	int line;
	int failed;
	/* the section being read: its kind, the struct its keys fill */
	char section[128];
	int kind; /* enum settings_section, or -1 */
	void *obj;
	int idx;
	/* where things were said, for errors about references: each
	 * section's header line, and the line of each key in it (by the
	 * key's row in the settings table) */
	int sec_line[SETTINGS_NSECTIONS][CONFIG_MAX_SINKS];
	int key_line[SETTINGS_NSECTIONS][CONFIG_MAX_SINKS][SETTINGS_MAX_ROWS];
	/* each subscription's stream as far as the file tells (channels
	 * < 0: not known until the stream is found) */
	int sub_channels[CONFIG_MAX_SUBS];
	uint32_t sub_rate[CONFIG_MAX_SUBS];
	const char *text;
	/* relative paths are taken from here ("" = as given) */
	char base_dir[4096];
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

/* The named sections: their kind, table and count. */
static const struct {
	const char *kind;
	enum settings_section sec;
	size_t off, size, count_off;
	unsigned int max;
	const char *what;
} named[] = {
    {"source", SETTINGS_SOURCE, offsetof(struct node_config, sources),
     sizeof(struct source_config), offsetof(struct node_config, nsources),
     CONFIG_MAX_SOURCES, "source"},
    {"flow", SETTINGS_FLOW, offsetof(struct node_config, flows),
     sizeof(struct flow_config), offsetof(struct node_config, nflows),
     CONFIG_MAX_FLOWS, "flow"},
    {"subscription", SETTINGS_SUB, offsetof(struct node_config, subs),
     sizeof(struct sub_settings), offsetof(struct node_config, nsubs),
     CONFIG_MAX_SUBS, "subscription"},
    {"sink", SETTINGS_SINK, offsetof(struct node_config, sinks),
     sizeof(struct sink_config), offsetof(struct node_config, nsinks),
     CONFIG_MAX_SINKS, "sink"},
    {"d4", SETTINGS_D4, offsetof(struct node_config, d4),
     sizeof(struct d4prog_config), offsetof(struct node_config, nd4),
     CONFIG_MAX_D4, "d4"},
};

/* Every named section's struct begins with its name. */
static int find_named(const struct node_config *cfg, unsigned int k,
		      const char *name)
{
	const char *base = (const char *)cfg + named[k].off;
	unsigned int i,
	    n = *(const unsigned int *)((const char *)cfg + named[k].count_off);

	for (i = 0; i < n; i++)
		if (!strcmp(base + i * named[k].size, name))
			return (int)i;
	return -1;
}

static void start_named(struct parse_ctx *p, unsigned int k, const char *name)
{
	struct node_config *cfg = p->cfg;
	unsigned int *n = (unsigned int *)((char *)cfg + named[k].count_off);
	const struct setting *row;
	char why[256];
	char *obj;

	if (!*name || strlen(name) >= SOURCE_NAME_MAX) {
		fail(p, p->line, NULL,
		     "[%s] needs a name of 1-%d characters, as in [%s NAME]",
		     p->section, SOURCE_NAME_MAX - 1, named[k].kind);
		return;
	}
	if (find_named(cfg, k, name) >= 0 && named[k].sec != SETTINGS_D4) {
		fail(p, p->line, NULL, "%s '%s' defined twice", named[k].what,
		     name);
		return;
	}
	if (*n >= named[k].max) {
		fail(p, p->line, NULL, "too many %s sections (at most %u)",
		     named[k].what, named[k].max);
		return;
	}
	obj = (char *)cfg + named[k].off + *n * named[k].size;
	memset(obj, 0, named[k].size);
	settings_defaults(named[k].sec, obj);
	/* Flows' and subscriptions' names are checked as the API checks
	 * them; the others' are only copied. */
	row = settings_find(named[k].sec, NULL, "name");
	if (row && setting_parse(row, name, "", obj, why, sizeof(why)) < 0) {
		fail(p, p->line, NULL, "[%s] name: %s", p->section, why);
		return;
	}
	snprintf(obj, SOURCE_NAME_MAX, "%s", name);
	p->kind = (int)named[k].sec;
	p->obj = obj;
	p->idx = (int)(*n)++;
	p->sec_line[named[k].sec][p->idx] = p->line;
}

static void start_section(struct parse_ctx *p, const char *section)
{
	struct node_config *cfg = p->cfg;
	const char *sp = strchr(section, ' ');
	size_t klen = sp ? (size_t)(sp - section) : strlen(section);
	const char *name = sp ? sp + 1 : "";
	char kind[32] = "";
	unsigned int k;

	snprintf(p->section, sizeof(p->section), "%s", section);
	if (klen < sizeof(kind))
		memcpy(kind, section, klen);
	while (*name == ' ')
		name++;
	p->kind = -1;
	p->obj = NULL;
	p->idx = -1;
	if (!strcmp(kind, "node") && !*name) {
		p->kind = SETTINGS_NODE;
		p->obj = cfg;
		return;
	}
	if (!strcmp(kind, "ptp") && !*name) {
		p->kind = SETTINGS_PTP;
		p->obj = &cfg->ptp;
		p->sec_line[SETTINGS_PTP][0] = p->line;
		return;
	}
	if (!strcmp(kind, "discovery") && !*name) {
		p->kind = SETTINGS_DISCOVERY;
		p->obj = &cfg->disco;
		return;
	}
	if (!strcmp(kind, "nmos") && !*name) {
		p->kind = SETTINGS_NMOS;
		p->obj = &cfg->nmos;
		return;
	}
	for (k = 0; k < sizeof(named) / sizeof(named[0]); k++)
		if (!strcmp(kind, named[k].kind)) {
			start_named(p, k, name);
			return;
		}
	fail(p, p->line, NULL,
	     "unknown section [%s]; expected [node], [ptp], [discovery], "
	     "[nmos], "
	     "[source NAME], [d4 NAME], [flow NAME], [subscription NAME] or "
	     "[sink NAME]",
	     section);
}

static int on_value(void *user, const char *section, const char *key,
		    const char *v)
{
	struct parse_ctx *p = user;
	const struct setting *row;
	char why[4400];

	if (p->failed)
		return 0;
	if (strcmp(section, p->section) || (!key && !v)) {
		start_section(p, section);
		if (p->failed)
			return 0;
	}
	if (!key)
		return 1; /* inih: a new section with no keys yet */
	if (p->kind < 0) {
		if (!*section)
			return fail(p, p->line, NULL,
				    "key '%s' outside any section", key);
		return 0;
	}
	row = settings_find((enum settings_section)p->kind, key, NULL);
	if (!row)
		return fail(
		    p, p->line, key, "unknown key in [%s]",
		    settings_section_name((enum settings_section)p->kind));
	if (setting_parse(row, v, p->base_dir, p->obj, why, sizeof(why)) < 0)
		return fail(p, p->line, key, "%s", why);
	if (p->kind == SETTINGS_SUB)
		p->cfg->subs[p->idx].given |= row->given;
	p->key_line[p->kind][p->idx < 0 ? 0 : p->idx]
		   [row - settings_rows((enum settings_section)p->kind)] =
	    p->line;
	return 1;
}

/* The line of key @key of object @idx of section @sec, or its header's. */
static int line_of(const struct parse_ctx *p, enum settings_section sec,
		   unsigned int idx, const char *key)
{
	const struct setting *row = key ? settings_find(sec, key, NULL) : NULL;
	int line = row ? p->key_line[sec][idx][row - settings_rows(sec)] : 0;

	return line ? line : p->sec_line[sec][idx];
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

int sink_recorder_config(const struct sink_config *k,
			 unsigned int stream_channels, uint32_t rate,
			 struct recorder_config *out, char *err, size_t err_len)
{
	const uint8_t *chans = k->nrx ? k->rx : k->chans;
	unsigned int c, n = k->nrx ? k->nrx : k->nch;

	memset(out, 0, sizeof(*out));
	snprintf(out->name, sizeof(out->name), "%s", k->name);
	snprintf(out->path, sizeof(out->path), "%s", k->path);
	out->format = k->file_format | k->bits;
	out->rate = rate;
	out->start = k->start;
	out->start_ns = k->start_ns;
	out->duration_ns = k->duration_ns;
	out->nch = n ? n : stream_channels;
	for (c = 0; c < out->nch; c++) {
		out->chans[c] = n ? chans[c] : (uint8_t)c;
		if (out->chans[c] >= stream_channels) {
			snprintf(err, err_len,
				 k->nrx ? "RX channel %u: the node has %u "
					  "([node] rx_channels)"
					: "channel %u: the stream has %u",
				 out->chans[c] + 1u, stream_channels);
			return -EINVAL;
		}
	}
	return 0;
}

static void check_sinks(struct parse_ctx *p)
{
	struct node_config *cfg = p->cfg;
	struct recorder_config rc;
	char why[256];
	unsigned int i;

	for (i = 0; i < cfg->nsinks && !p->failed; i++) {
		struct sink_config *k = &cfg->sinks[i];
		int si = config_find_sub(cfg, k->sub);
		int line = line_of(p, SETTINGS_SINK, i, NULL);

		if (k->type == SINK_FILE && !k->path[0])
			fail(p, line, NULL,
			     "[sink %s] type = file needs a path", k->name);
		else if (k->nrx && k->sub[0])
			fail(p, line, NULL,
			     "[sink %s] rx and subscription exclude each other",
			     k->name);
		else if (k->nrx && k->type == SINK_ALSA)
			fail(p, line, NULL,
			     "[sink %s] a sound card plays one subscription "
			     "(subscription = NAME); rx = is for file and null "
			     "sinks",
			     k->name);
		else if (k->nrx && sink_recorder_config(k, cfg->rx_channels,
							CONFIG_RX_RATE, &rc,
							why, sizeof(why)) < 0)
			fail(p, line, NULL, "[sink %s] %s", k->name, why);
		else if (!k->nrx && !k->sub[0])
			fail(p, line, NULL,
			     "[sink %s] needs subscription = NAME", k->name);
		else if (!k->nrx && si < 0)
			fail(p, line_of(p, SETTINGS_SINK, i, "subscription"), NULL,
			     "[sink %s] subscription: no [subscription %s] in "
			     "this file",
			     k->name, k->sub);
		else if (!k->nrx && p->sub_channels[si] >= 0 &&
			 sink_recorder_config(
			     k, (unsigned int)p->sub_channels[si],
			     p->sub_rate[si], &rc, why, sizeof(why)) < 0)
			fail(p, line, NULL, "[sink %s] %s", k->name, why);
	}
}

static void check_subs(struct parse_ctx *p)
{
	struct node_config *cfg = p->cfg;
	const struct sub_settings *others[CONFIG_MAX_SUBS];
	struct sub_config sc;
	struct sdp_stream st;
	char why[256];
	unsigned int i, k;

	for (i = 0; i < cfg->nsubs && !p->failed; i++) {
		struct sub_settings *s = &cfg->subs[i];
		int line = line_of(p, SETTINGS_SUB, i, NULL), channels = -1;
		uint32_t rate = 0;

		if (sub_settings_check(s, why, sizeof(why)) < 0) {
			fail(p, line, NULL, "[subscription %s] %s", s->name,
			     why);
			break;
		}
		if (s->sdp[0] &&
		    sdp_parse((const uint8_t *)s->sdp, strlen(s->sdp), &st, why,
			      sizeof(why)) < 0) {
			fail(p, line, NULL, "[subscription %s] sdp: %s",
			     s->name, why);
			break;
		}
		if (!s->stream[0]) {
			if (sub_settings_resolve(s, s->sdp[0] ? &st : NULL, &sc,
						 why, sizeof(why)) < 0) {
				fail(p, line, NULL, "[subscription %s] %s%s",
				     s->name, s->sdp[0] ? "sdp: " : "", why);
				break;
			}
			channels = (int)sc.channels;
			rate = sc.rate;
		} else if (s->given & SUB_GIVEN_CH) {
			channels = (int)s->channels;
		}
		p->sub_channels[i] = channels;
		p->sub_rate[i] = rate ? rate : s->rate;
		for (k = 0; k < i; k++)
			others[k] = &cfg->subs[k];
		if (sub_settings_check_rx(s, cfg->rx_channels, others, i,
					  channels, rate, why, sizeof(why)) < 0)
			fail(p, line, NULL, "[subscription %s] %s", s->name,
			     why);
	}
}

static int check_refs(struct parse_ctx *p)
{
	struct node_config *cfg = p->cfg;
	char why[160];
	unsigned int i;

	if (cfg->ptp.run == PTP_RUN_SPAWN &&
	    (!cfg->ptp.ptp4l_config[0] || !cfg->ptp.ifname[0]))
		fail(p, line_of(p, SETTINGS_PTP, 0, NULL), NULL,
		     "[ptp] mode = spawn needs ptp4l_config = FILE and "
		     "interface = NAME");
	/* ptp4l needs root: a node that became a user could not restart
	 * it. */
	if (cfg->ptp.run == PTP_RUN_SPAWN && cfg->user[0])
		fail(p, line_of(p, SETTINGS_NODE, 0, "user"), NULL,
		     "[node] user = %s cannot go with [ptp] mode = spawn: "
		     "ptp4l needs root; run it as a service of its own "
		     "(examples/systemd/d4-ptp4l@.service) with mode = "
		     "external",
		     cfg->user);
	if (cfg->ptp.run != PTP_RUN_OFF && cfg->ptp.clock == MCLOCK_MODE_PHC &&
	    !cfg->ptp.phc[0])
		fail(p, line_of(p, SETTINGS_PTP, 0, NULL), NULL,
		     "[ptp] clock = phc needs phc = /dev/ptpN");
	for (i = 0; i < cfg->nd4 && !p->failed; i++)
		if (!cfg->d4[i].file[0] && !cfg->d4[i].nexec)
			fail(p, line_of(p, SETTINGS_D4, i, NULL), NULL,
			     "[d4 %s] needs file = PROGRAM.d4 (or exec lines)",
			     cfg->d4[i].name);
	for (i = 0; i < cfg->nsources && !p->failed; i++)
		if (cfg->sources[i].type == SOURCE_FILE &&
		    !cfg->sources[i].path[0])
			fail(p, line_of(p, SETTINGS_SOURCE, i, NULL), NULL,
			     "[source %s] type = file needs a path",
			     cfg->sources[i].name);
	for (i = 0; i < cfg->nflows && !p->failed; i++) {
		struct flow_config *f = &cfg->flows[i];
		int line = line_of(p, SETTINGS_FLOW, i, NULL);

		if (!f->source[0])
			fail(p, line, NULL, "[flow %s] needs source = NAME",
			     f->name);
		else if (config_find_source(cfg, f->source) < 0)
			fail(p, line_of(p, SETTINGS_FLOW, i, "source"), NULL,
			     "[flow %s] source: no [source %s] in this file",
			     f->name, f->source);
		else if (!f->dest.sin_family)
			fail(p, line, NULL,
			     "[flow %s] needs destination = ADDRESS[:PORT]",
			     f->name);
		else if (f->ifname2[0] && !flow_config_has_leg2(f))
			fail(p, line_of(p, SETTINGS_FLOW, i, "interface2"),
			     NULL,
			     "[flow %s] interface2 without destination2: a "
			     "second leg needs its group or receiver",
			     f->name);
		else if (flow_legs_check(f, why, sizeof(why)) < 0)
			fail(p, line_of(p, SETTINGS_FLOW, i, "destination2"),
			     NULL, "[flow %s] %s", f->name, why);
	}
	check_subs(p);
	check_sinks(p);
	return p->failed;
}

static int parse_text(const char *text, const char *name, const char *base,
		      struct node_config *cfg, char *err, size_t err_len)
{
	struct parse_ctx *p = calloc(1, sizeof(*p));
	unsigned int k;
	int rc;

	if (!p) {
		snprintf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	/* The named sections' tables (1.3 MB) are zeroed an entry at a
	 * time, as each is started: only what the file uses is touched,
	 * and so resident (bench/scale.sh). */
	memset(cfg, 0, offsetof(struct node_config, sources));
	for (k = 0; k < sizeof(named) / sizeof(named[0]); k++)
		*(unsigned int *)((char *)cfg + named[k].count_off) = 0;
	snprintf(cfg->path, sizeof(cfg->path), "%s", name);
	settings_defaults(SETTINGS_NODE, cfg);
	settings_defaults(SETTINGS_PTP, &cfg->ptp);
	settings_defaults(SETTINGS_DISCOVERY, &cfg->disco);
	settings_defaults(SETTINGS_NMOS, &cfg->nmos);
	p->cfg = cfg;
	p->kind = -1;
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

int config_find_source(const struct node_config *cfg, const char *name)
{
	return find_named(cfg, 0, name);
}

int config_find_sub(const struct node_config *cfg, const char *name)
{
	return find_named(cfg, 2, name);
}
