/* Unit tests for the INI configuration: a full valid file and its defaults,
 * every error naming file, line, section and key with the bad value quoted,
 * and the duration and channel-list parsers on their own. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "discovery/sdp.h"
#include "node/config.h"
#include "node/settings.h"

#define FNAME "studio-7.ini"

struct ctx {
	struct node_config cfg; /* large: on the heap */
	char err[512];
};

static int setup(void **state)
{
	*state = calloc(1, sizeof(struct ctx));
	return *state ? 0 : -1;
}

static int teardown(void **state)
{
	free(*state);
	return 0;
}

static void parse_ok(struct ctx *t, const char *text)
{
	int rc =
	    config_parse_string(text, FNAME, &t->cfg, t->err, sizeof(t->err));

	if (rc)
		fail_msg("config_parse_string: %d: %s", rc, t->err);
}

/* Parse @text expecting -EINVAL; the message must start "FNAME:LINE: ". */
static void parse_err(struct ctx *t, const char *text, int line)
{
	char prefix[64];
	int rc;

	t->err[0] = '\0';
	rc = config_parse_string(text, FNAME, &t->cfg, t->err, sizeof(t->err));
	assert_int_equal(rc, -EINVAL);
	snprintf(prefix, sizeof(prefix), "%s:%d: ", FNAME, line);
	if (strncmp(t->err, prefix, strlen(prefix)))
		fail_msg("error '%s' does not start with '%s'", t->err, prefix);
}

static void assert_has(const struct ctx *t, const char *part)
{
	if (!strstr(t->err, part))
		fail_msg("error '%s' does not contain '%s'", t->err, part);
}

static void assert_endpoint(const struct sockaddr_in *sa, const char *ip,
			    uint16_t port)
{
	char buf[INET_ADDRSTRLEN];

	assert_int_equal(sa->sin_family, AF_INET);
	assert_non_null(inet_ntop(AF_INET, &sa->sin_addr, buf, sizeof(buf)));
	assert_string_equal(buf, ip);
	assert_int_equal(ntohs(sa->sin_port), port);
}

static const char full_config[] = "; a node with every kind of section\n"
				  "[node]\n"
				  "name = studio-a\n"
				  "status_interval = 5\n"
				  "rt_priority = 80\n"
				  "\n"
				  "[source music]\n"
				  "type = file\n"
				  "path = /srv/audio/music.wav\n"
				  "loop = false\n"
				  "start = 1795000000.5\n"
				  "\n"
				  "[source tones]\n"
				  "type = tone\n"
				  "channels = 4\n"
				  "rate = 96000\n"
				  "frequency = 440, 880,1000\n"
				  "level = -12, -18\n"
				  "\n"
				  "[flow main]\n"
				  "source = tones\n"
				  "channels = 1-2,4\n"
				  "destination = 239.69.1.2\n"
				  "encoding = L16\n"
				  "rate = 96000\n"
				  "ptime = 1ms\n"
				  "\n"
				  "[flow second]\n"
				  "source = music\n"
				  "destination = 239.69.1.3:6000\n"
				  "ptime = 250us\n"
				  "dscp = 46\n"
				  "ttl = 32\n"
				  "payload_type = 100\n"
				  "\n"
				  "[subscription in]\n"
				  "address = 239.69.1.2\n"
				  "encoding = L16\n"
				  "rate = 96000\n"
				  "channels = 3\n"
				  "ptime = 1ms\n"
				  "\n"
				  "[subscription in2]\n"
				  "address = 239.69.9.9:5008\n"
				  "rate = 44100\n"
				  "ptime = 125us\n"
				  "latency = 5ms\n"
				  "timing = ptp\n"
				  "\n"
				  "[sink rec]\n"
				  "subscription = in\n"
				  "path = /tmp/rec.wav\n"
				  "duration = 10\n"
				  "\n"
				  "[sink rec2]\n"
				  "subscription = in2\n"
				  "channels = 2,1\n"
				  "path = /tmp/rec2.flac\n"
				  "bits = 16\n"
				  "format = flac\n"
				  "start = now\n"
				  "duration = 500ms\n";

static void test_config_full_file_parses_node_and_sources(void **state)
{
	struct ctx *t = *state;
	const struct node_config *c = &t->cfg;
	const struct source_config *s;
	unsigned int i;

	parse_ok(t, full_config);
	assert_string_equal(c->path, FNAME);
	assert_string_equal(c->name, "studio-a");
	assert_int_equal(c->status_interval_s, 5);
	assert_int_equal(c->rt_priority, 80);

	assert_int_equal(c->nsources, 2);
	assert_int_equal(config_find_source(c, "music"), 0);
	assert_int_equal(config_find_source(c, "tones"), 1);
	assert_int_equal(config_find_source(c, "nope"), -1);
	s = &c->sources[0];
	assert_string_equal(s->name, "music");
	assert_int_equal(s->type, SOURCE_FILE);
	assert_string_equal(s->path, "/srv/audio/music.wav");
	assert_false(s->loop);
	assert_int_equal(s->start, START_AT);
	assert_int_equal(s->start_ns, 1795000000500000000ull);

	s = &c->sources[1];
	assert_int_equal(s->type, SOURCE_TONE);
	assert_int_equal(s->channels, 4);
	assert_int_equal(s->rate, 96000);
	assert_true(s->loop);
	assert_int_equal(s->start, START_NOW);
	/* Per-channel lists; the last value fills the rest. */
	assert_true(s->freq_hz[0] == 440.0);
	assert_true(s->freq_hz[1] == 880.0);
	assert_true(s->freq_hz[2] == 1000.0);
	assert_true(s->level_dbfs[0] == -12.0);
	for (i = 1; i < SOURCE_MAX_CHANNELS; i++)
		assert_true(s->level_dbfs[i] == -18.0);
	for (i = 3; i < SOURCE_MAX_CHANNELS; i++)
		assert_true(s->freq_hz[i] == 1000.0);
}

static void test_config_full_file_parses_flows_with_defaults(void **state)
{
	struct ctx *t = *state;
	const struct flow_config *f;

	parse_ok(t, full_config);
	assert_int_equal(t->cfg.nflows, 2);
	f = &t->cfg.flows[0];
	assert_string_equal(f->name, "main");
	assert_string_equal(f->source, "tones");
	assert_int_equal(f->nch, 3);
	assert_int_equal(f->chans[0], 0);
	assert_int_equal(f->chans[1], 1);
	assert_int_equal(f->chans[2], 3);
	assert_endpoint(&f->dest, "239.69.1.2", 5004); /* default port */
	assert_int_equal(f->enc, RTP_ENC_L16);
	assert_int_equal(f->rate, 96000);
	assert_int_equal(f->ptime_us, 1000);
	assert_int_equal(f->pt, 98);
	assert_int_equal(f->dscp, 34);
	assert_int_equal(f->ttl, 16);

	f = &t->cfg.flows[1];
	assert_string_equal(f->name, "second");
	assert_string_equal(f->source, "music");
	assert_endpoint(&f->dest, "239.69.1.3", 6000);
	assert_int_equal(f->enc, RTP_ENC_L24);
	assert_int_equal(f->rate, 48000);
	assert_int_equal(f->ptime_us, 250);
	assert_int_equal(f->pt, 100);
	assert_int_equal(f->dscp, 46);
	assert_int_equal(f->ttl, 32);
}

/* The receiver's config of subscription @i as the node resolves it. */
static const struct sub_config *resolved(struct ctx *t, unsigned int i)
{
	static struct sub_config sc;
	char err[256];

	if (sub_settings_resolve(&t->cfg.subs[i], NULL, &sc, err, sizeof(err)))
		fail_msg("sub_settings_resolve: %s", err);
	return &sc;
}

static void test_config_full_file_parses_subscriptions(void **state)
{
	struct ctx *t = *state;
	const struct sub_config *s;

	parse_ok(t, full_config);
	assert_int_equal(t->cfg.nsubs, 2);
	assert_int_equal(config_find_sub(&t->cfg, "in2"), 1);
	assert_int_equal(config_find_sub(&t->cfg, "in3"), -1);
	s = resolved(t, 0);
	assert_string_equal(s->name, "in");
	assert_endpoint(&s->addr, "239.69.1.2", 5004);
	assert_int_equal(s->enc, RTP_ENC_L16);
	assert_int_equal(s->rate, 96000);
	assert_int_equal(s->channels, 3);
	assert_int_equal(s->pt, 98);
	assert_int_equal(s->fpp, 96); /* 1 ms at 96 kHz */
	assert_int_equal(s->latency_ns, 4000000); /* the default */
	assert_int_equal(s->timing, SUB_TIMING_AUTO);

	s = resolved(t, 1);
	assert_endpoint(&s->addr, "239.69.9.9", 5008);
	assert_int_equal(s->enc, RTP_ENC_L24);
	assert_int_equal(s->rate, 44100);
	assert_int_equal(s->channels, 2);
	assert_int_equal(s->fpp, 6); /* 125 us at 44.1 kHz */
	assert_int_equal(s->latency_ns, 5000000);
	assert_int_equal(s->timing, SUB_TIMING_PTP);
}

static void test_config_full_file_parses_sinks_with_defaults(void **state)
{
	struct ctx *t = *state;
	const struct sink_config *k;
	struct recorder_config rc;

	parse_ok(t, full_config);
	assert_int_equal(t->cfg.nsinks, 2);
	k = &t->cfg.sinks[0];
	assert_string_equal(k->name, "rec");
	assert_int_equal(k->type, SINK_FILE);
	assert_string_equal(k->sub, "in");
	assert_string_equal(k->path, "/tmp/rec.wav");
	/* Every channel of the subscription, in order. */
	assert_int_equal(k->nch, 0);
	assert_int_equal(sink_recorder_config(k, 3, 96000, &rc, t->err,
					      sizeof(t->err)),
			 0);
	assert_int_equal(rc.nch, 3);
	assert_int_equal(rc.chans[0], 0);
	assert_int_equal(rc.chans[1], 1);
	assert_int_equal(rc.chans[2], 2);
	assert_int_equal(rc.rate, 96000);
	assert_int_equal(rc.start, START_FIRST);
	assert_int_equal(rc.duration_ns, 10 * 1000000000ull);
	assert_int_equal(rc.format, SF_FORMAT_WAV | SF_FORMAT_PCM_24);

	k = &t->cfg.sinks[1];
	assert_string_equal(k->sub, "in2");
	assert_int_equal(k->nch, 2);
	assert_int_equal(sink_recorder_config(k, 2, 44100, &rc, t->err,
					      sizeof(t->err)),
			 0);
	assert_int_equal(rc.nch, 2);
	assert_int_equal(rc.chans[0], 1);
	assert_int_equal(rc.chans[1], 0);
	assert_int_equal(rc.rate, 44100);
	assert_int_equal(rc.start, START_NOW);
	assert_int_equal(rc.duration_ns, 500000000ull);
	assert_int_equal(rc.format, SF_FORMAT_FLAC | SF_FORMAT_PCM_16);
	/* a channel the stream lacks */
	assert_int_equal(sink_recorder_config(k, 1, 44100, &rc, t->err,
					      sizeof(t->err)),
			 -EINVAL);
	assert_has(t, "channel 2: the stream has 1");
}

static void test_config_ptime_333us_is_a_third_of_a_ms(void **state)
{
	struct ctx *t = *state;

	parse_ok(t, "[source a]\n"
		    "type = tone\n"
		    "[flow f]\n"
		    "source = a\n"
		    "destination = 239.1.1.1\n"
		    "ptime = 0.3334ms\n"
		    "[flow g]\n"
		    "source = a\n"
		    "destination = 239.1.1.2\n"
		    "ptime = 333us\n"
		    "[subscription s]\n"
		    "address = 239.1.1.1\n"
		    "ptime = 333us\n"
		    "[subscription s96]\n"
		    "address = 239.1.1.3\n"
		    "rate = 96000\n"
		    "ptime = 333us\n");
	assert_int_equal(t->cfg.flows[0].ptime_us, 333);
	assert_int_equal(t->cfg.flows[1].ptime_us, 333);
	assert_int_equal(resolved(t, 0)->fpp, 16);
	assert_int_equal(resolved(t, 1)->fpp, 32);
}

static void test_config_empty_text_gives_node_defaults(void **state)
{
	struct ctx *t = *state;

	parse_ok(t, "; nothing but a comment\n\n");
	assert_string_equal(t->cfg.name, "d4node");
	assert_int_equal(t->cfg.status_interval_s, 2);
	assert_int_equal(t->cfg.rt_priority, 70);
	assert_int_equal(t->cfg.nsources, 0);
	assert_int_equal(t->cfg.nflows, 0);
	assert_int_equal(t->cfg.nsubs, 0);
	assert_int_equal(t->cfg.nsinks, 0);
}

static void test_config_node_user_parses_and_defaults_to_none(void **state)
{
	struct ctx *t = *state;

	parse_ok(t, "[node]\nname = x\n");
	assert_string_equal(t->cfg.user, "");
	parse_ok(t, "[node]\nuser = d4\n");
	assert_string_equal(t->cfg.user, "d4");
	parse_ok(t, "[node]\nuser = svc_d4-node.2\n");
	assert_string_equal(t->cfg.user, "svc_d4-node.2");
}

static void test_config_error_node_user_not_a_name_is_quoted(void **state)
{
	struct ctx *t = *state;

	parse_err(t, "[node]\nname = x\nuser = d4 node\n", 3);
	assert_has(t, "[node] user: ");
	assert_has(t, "'d4 node' is not a user name");
	parse_err(t, "[node]\nuser = -d4\n", 2);
	assert_has(t, "'-d4' is not a user name");
	parse_err(t, "[node]\nuser = ../root\n", 2);
	assert_has(t, "'../root' is not a user name");
	parse_err(
	    t,
	    "[node]\nuser = "
	    "u234567890123456789012345678901234567890123456789012345678901"
	    "234\n",
	    2);
	assert_has(t, "at most 63");
}

/* ptp4l needs root: a node that becomes a user could not restart it. */
static void
test_config_error_node_user_with_ptp_spawn_names_user_line(void **state)
{
	struct ctx *t = *state;

	parse_err(t,
		  "[ptp]\n"		   /* 1 */
		  "mode = spawn\n"	   /* 2 */
		  "ptp4l_config = p.cfg\n" /* 3 */
		  "interface = eth0\n"	   /* 4 */
		  "[node]\n"		   /* 5 */
		  "user = d4\n",	   /* 6 */
		  6);
	assert_has(t, "user = d4 cannot go with [ptp] mode = spawn");
	parse_ok(t, "[ptp]\nmode = external\n[node]\nuser = d4\n");
	assert_string_equal(t->cfg.user, "d4");
}

/* The smallest valid flow, to build error cases on. */
#define SRC_AND_FLOW_HEAD                                                      \
	"[source a]\n"		    /* 1 */                                    \
	"type = tone\n"		    /* 2 */                                    \
	"[flow f]\n"		    /* 3 */                                    \
	"source = a\n"		    /* 4 */                                    \
	"destination = 239.1.1.1\n" /* 5 */

static void test_config_error_bad_ptime_names_line_key_value(void **state)
{
	struct ctx *t = *state;

	parse_err(t, SRC_AND_FLOW_HEAD "\nptime = 2ms\n", 7);

	assert_has(t, "[flow f] ptime: ");
	assert_has(t, "'2ms' is not a packet time");
}

static void test_config_error_unknown_key(void **state)
{
	struct ctx *t = *state;

	parse_err(t, "[node]\nname = x\ncolour = blue\n", 3);

	assert_has(t, "[node] colour: ");
	assert_has(t, "unknown key");
}

static void test_config_error_unknown_section_names_its_line(void **state)
{
	struct ctx *t = *state;

	parse_err(t,
		  "[node]\n"
		  "name = x\n"
		  "\n"
		  "[mixer m]\n"
		  "; a comment\n"
		  "gain = 3\n",
		  4);

	assert_has(t, "unknown section [mixer m]");
}

static void test_config_error_empty_unknown_section(void **state)
{
	struct ctx *t = *state;

	parse_err(t, "[mixer]\n[node]\nname = x\n", 1);

	assert_has(t, "unknown section [mixer]");
}

static void test_config_error_key_outside_section(void **state)
{
	struct ctx *t = *state;

	parse_err(t,
		  "; header comment\n"
		  "\n"
		  "volume = 3\n"
		  "[node]\n"
		  "name = x\n",
		  3);

	assert_has(t, "key 'volume' outside any section");
}

static void test_config_error_flow_unknown_source_names_key_line(void **state)
{
	struct ctx *t = *state;

	parse_err(t,
		  "[source a]\n"
		  "type = tone\n"
		  "[flow f]\n"
		  "destination = 239.1.1.1\n"
		  "ptime = 1ms\n"
		  "source = nosuch\n"
		  "dscp = 10\n",
		  6);

	assert_has(t, "[flow f] source: ");
	assert_has(t, "no [source nosuch]");
}

/* A flow's second leg wrong in the INI: its file and line (a new user
 * got "error: flow f: destination2 is a group: ..." with neither). */
static void test_config_error_flow_second_leg_names_key_line(void **state)
{
	struct ctx *t = *state;
	const char *head = "[source a]\n"
			   "type = tone\n"
			   "[flow f]\n"
			   "source = a\n"
			   "destination = 239.69.1.1\n"
			   "interface = eth0\n";
	char text[512];

	snprintf(text, sizeof(text), "%sdestination2 = 239.69.2.1\n", head);
	parse_err(t, text, 7);
	assert_has(t, "[flow f] destination2 is a group: give interface2");
	snprintf(text, sizeof(text),
		 "%sdestination2 = 239.69.1.1\ninterface2 = eth0\n", head);
	parse_err(t, text, 7);
	assert_has(t, "[flow f] destination2 is destination on the same "
		      "interface");
	snprintf(text, sizeof(text), "%sinterface2 = eth1\n", head);
	parse_err(t, text, 7);
	assert_has(t, "[flow f] interface2 without destination2");
	/* a subscription's second-leg setting with one leg to take */
	parse_err(t,
		  "[subscription s]\n"
		  "address = 239.69.1.1\n"
		  "interface = eth0\n"
		  "interface2 = eth1\n",
		  1);
	assert_has(t, "[subscription s] interface2 without a second leg: "
		      "give address2, or an SDP with a=group:DUP");
}

static void test_config_error_sink_unknown_sub_names_key_line(void **state)
{
	struct ctx *t = *state;

	parse_err(t,
		  "[subscription s]\n"
		  "address = 239.1.1.1\n"
		  "[sink k]\n"
		  "type = file\n"
		  "path = /tmp/k.wav\n"
		  "subscription = nope\n",
		  6);

	assert_has(t, "[sink k] subscription: ");
	assert_has(t, "no [subscription nope]");
}

static void test_config_error_duplicate_source_names_second(void **state)
{
	struct ctx *t = *state;

	parse_err(t,
		  "[source a]\n"
		  "type = tone\n"
		  "[source b]\n"
		  "type = tone\n"
		  "[source a]\n"
		  "type = silence\n",
		  5);

	assert_has(t, "source 'a' defined twice");
}

static void test_config_error_duplicate_source_back_to_back(void **state)
{
	struct ctx *t = *state;

	parse_err(t,
		  "[source a]\n"
		  "type = tone\n"
		  "[source a]\n"
		  "type = silence\n",
		  3);

	assert_has(t, "source 'a' defined twice");
}

static void test_config_error_channels_from_zero(void **state)
{
	struct ctx *t = *state;

	parse_err(t, SRC_AND_FLOW_HEAD "channels = 0-3\n", 6);

	assert_has(t, "[flow f] channels: ");
	assert_has(t, "'0-3' is not a list of source channels");
}

static void test_config_error_latency_below_minimum(void **state)
{
	struct ctx *t = *state;

	parse_err(t,
		  "[subscription s]\n"
		  "address = 239.1.1.1\n"
		  "latency = 200us\n",
		  3);

	assert_has(t, "[subscription s] latency: ");
	assert_has(t, "'200us' is not a latency from 250us");
}

static void test_config_d4_bind_takes_udp_or_flow(void **state)
{
	struct ctx *t = *state;

	parse_ok(t, "[d4 relay]\nexec = IP[] _r\n"
		    "bind = fan udp 239.69.1.1:5004\nbind = other flow main\n");
	assert_int_equal(t->cfg.d4[0].nbind, 2);
	assert_string_equal(t->cfg.d4[0].bind[0], "fan udp 239.69.1.1:5004");
	parse_err(t, "[d4 relay]\nexec = IP[] _r\nbind = fan tcp 1.2.3.4:5\n",
		  3);
	assert_has(t, "[d4 relay] bind: 'fan tcp 1.2.3.4:5' is not");
}

static void test_config_error_dscp_out_of_range(void **state)
{
	struct ctx *t = *state;

	parse_err(t, SRC_AND_FLOW_HEAD "dscp = 64\n", 6);

	assert_has(t, "[flow f] dscp: ");
	assert_has(t, "'64' is not a DSCP value from 0 to 63");
}

static void test_config_error_subscription_without_address(void **state)
{
	struct ctx *t = *state;

	parse_err(t,
		  "[node]\n"
		  "name = x\n"
		  "[subscription s]\n"
		  "rate = 48000\n"
		  "channels = 8\n",
		  3);

	assert_has(t, "[subscription s] needs exactly one of stream");
	assert_has(t, "sdp or address");
}

static void test_config_error_line_not_key_value(void **state)
{
	struct ctx *t = *state;

	parse_err(t,
		  "[node]\n"
		  "name = x\n"
		  "this line is wrong\n"
		  "rt_priority = 10\n",
		  3);

	assert_has(t, "not a [section] or key = value line");
}

static void test_config_error_first_error_wins(void **state)
{
	struct ctx *t = *state;

	parse_err(t,
		  "[node]\n"
		  "rt_priority = 100\n"
		  "status_interval = never\n",
		  2);

	assert_has(t, "[node] rt_priority: '100' is not");
	assert_null(strstr(t->err, "never"));
}

static void test_config_error_other_bad_values_are_quoted(void **state)
{
	static const struct {
		const char *text;
		int line;
		const char *part;
	} cases[] = {
	    {SRC_AND_FLOW_HEAD "ttl = 0\n", 6, "[flow f] ttl: '0'"},
	    {SRC_AND_FLOW_HEAD "payload_type = 95\n", 6,
	     "[flow f] payload_type: '95'"},
	    {SRC_AND_FLOW_HEAD "encoding = L20\n", 6,
	     "[flow f] encoding: 'L20' is not L24 or L16"},
	    {SRC_AND_FLOW_HEAD "rate = 32000\n", 6,
	     "[flow f] rate: '32000' is not 44100, 48000 or 96000"},
	    {SRC_AND_FLOW_HEAD "destination = 239.1.1\n", 6,
	     "[flow f] destination: '239.1.1'"},
	    {"[source a]\nlevel = 3\n", 2, "[source a] level: '3'"},
	    {"[source a]\nloop = maybe\n", 2, "[source a] loop: 'maybe'"},
	    {"[sink k]\nbits = 20\n", 2, "[sink k] bits: '20'"},
	    {"[sink k]\nduration = 0\n", 2, "[sink k] duration: '0'"},
	    {"[sink k]\nstart = later\n", 2, "[sink k] start: 'later'"},
	    {"[subscription s]\ntiming = fast\n", 2,
	     "[subscription s] timing: 'fast'"},
	    /* the name is the state directory's: not out of it */
	    {"[node]\nname = ../../tmp/x\n", 2,
	     "[node] name: '../../tmp/x' is not a name"},
	    {"[node]\nname = ..\n", 2, "[node] name: '..' is not a name"},
	};
	struct ctx *t = *state;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		parse_err(t, cases[i].text, cases[i].line);
		assert_has(t, cases[i].part);
	}
}

static void test_config_parse_duration_units(void **state)
{
	static const struct {
		const char *s;
		unsigned long long bare, want;
	} ok[] = {
	    {"1ms", 1, 1000000},
	    {"250us", 1, 250000},
	    {"250µs", 1, 250000},
	    {"0.5s", 1, 500000000},
	    {"3000ns", 1000000, 3000},
	    {"2", 1000000000, 2000000000},
	    {"1.5", 1000000, 1500000},
	    {"10 ms", 1, 10000000},
	    {"0", 1000, 0},
	    {"1.005us", 1, 1005}, /* rounded, not truncated */
	    {"1000000000s", 1, 1000000000000000000ull},
	};
	static const char *const bad[] = {
	    "", "ms", "-1ms", "1 parsec", "1m", "2e9s", "nan", "inf", "1ms2",
	};
	unsigned long long ns;
	size_t i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		ns = 12345;
		if (settings_parse_duration(ok[i].s, ok[i].bare, &ns))
			fail_msg("'%s' rejected", ok[i].s);
		if (ns != ok[i].want)
			fail_msg("'%s': %llu, want %llu", ok[i].s, ns,
				 ok[i].want);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ns = 12345;
		if (settings_parse_duration(bad[i], 1000, &ns) != -EINVAL)
			fail_msg("'%s' accepted", bad[i]);
		assert_int_equal(ns, 12345);
	}
}

static void test_config_parse_channels_ranges_and_lists(void **state)
{
	uint8_t ch[SOURCE_MAX_CHANNELS];
	unsigned int i;

	memset(ch, 0xff, sizeof(ch));
	assert_int_equal(settings_parse_channels("1-8,10", ch, sizeof(ch)), 9);
	for (i = 0; i < 8; i++)
		assert_int_equal(ch[i], i);
	assert_int_equal(ch[8], 9);

	assert_int_equal(settings_parse_channels("2,1", ch, sizeof(ch)), 2);
	assert_int_equal(ch[0], 1);
	assert_int_equal(ch[1], 0);
	assert_int_equal(settings_parse_channels(" 3 , 5-6", ch, sizeof(ch)), 3);
	assert_int_equal(ch[0], 2);
	assert_int_equal(ch[1], 4);
	assert_int_equal(ch[2], 5);
	assert_int_equal(settings_parse_channels("64", ch, sizeof(ch)), 1);
	assert_int_equal(ch[0], 63);
	assert_int_equal(settings_parse_channels("1-64", ch, sizeof(ch)), 64);
	assert_int_equal(ch[63], 63);
}

static void test_config_parse_channels_rejects_bad_lists(void **state)
{
	static const char *const bad[] = {
	    "",	  "0",	"0-3", "8-1", "65",   "1-65",
	    "1-", "-3", "a",   "1;2", "1,,2", "99999999999999999999",
	};
	uint8_t ch[SOURCE_MAX_CHANNELS];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (settings_parse_channels(bad[i], ch, sizeof(ch)) != -EINVAL)
			fail_msg("'%s' accepted", bad[i]);
	/* More channels than the caller has room for. */
	assert_int_equal(settings_parse_channels("1-8", ch, 4), -EINVAL);
	assert_int_equal(settings_parse_channels("1-4", ch, 4), 4);
}

static void test_config_long_line_is_a_clear_error(void **state)
{
	struct ctx *t = *state;
	char path[301], text[512];

	/* inih reads lines into a 200-byte buffer and would split a longer
	 * one into two bogus lines; the parser must name the line instead. */
	memset(path, 'p', sizeof(path) - 1);
	path[0] = '/';
	path[sizeof(path) - 1] = '\0';
	snprintf(text, sizeof(text),
		 "[subscription s]\n"
		 "address = 239.1.1.1\n"
		 "[sink k]\n"
		 "subscription = s\n"
		 "path = %s\n",
		 path);
	parse_err(t, text, 5);
	assert_has(t, "line longer than");
}

static void test_config_accepts_line_just_under_limit(void **state)
{
	struct ctx *t = *state;
	char path[180], text[512];

	memset(path, 'p', sizeof(path) - 1);
	path[0] = '/';
	path[sizeof(path) - 1] = '\0';
	snprintf(text, sizeof(text),
		 "[subscription s]\n"
		 "address = 239.1.1.1\n"
		 "[sink k]\n"
		 "subscription = s\n"
		 "path = %s\n",
		 path);
	parse_ok(t, text);
	assert_string_equal(t->cfg.sinks[0].path, path);
}

/* [source] and [sink] of type alsa take the sound card keys (node/alsa.h):
 * device, map (1-based card channels, lists and ranges), device_channels,
 * period, buffer and sample_format. */
static void test_config_alsa_source_and_sink_keys(void **state)
{
	struct ctx *t = *state;
	const struct source_config *s;
	const struct sink_config *k;

	parse_ok(t, "[source mic]\n"
		    "type = alsa\n"
		    "device = hw:1,0\n"
		    "channels = 8\n"
		    "map = 3-4,1\n"
		    "period = 96\n"
		    "buffer = 384\n"
		    "sample_format = s24_3le\n"
		    "[subscription in]\n"
		    "address = 239.69.1.1\n"
		    "channels = 2\n"
		    "[sink spk]\n"
		    "type = alsa\n"
		    "subscription = in\n"
		    "device = plughw:0\n"
		    "device_channels = 4\n"
		    "map = 2,4\n"
		    "sample_format = S16\n");
	s = &t->cfg.sources[0];
	assert_int_equal(s->type, SOURCE_ALSA);
	assert_string_equal(s->alsa.device, "hw:1,0");
	assert_int_equal(s->alsa.nmap, 3);
	assert_int_equal(s->alsa.map[0], 2);
	assert_int_equal(s->alsa.map[1], 3);
	assert_int_equal(s->alsa.map[2], 0);
	assert_int_equal(s->alsa.period_frames, 96);
	assert_int_equal(s->alsa.buffer_frames, 384);
	assert_int_equal(s->alsa.format, ALSA_FMT_S24_3);

	k = &t->cfg.sinks[0];
	assert_int_equal(k->type, SINK_ALSA);
	assert_string_equal(k->sub, "in");
	assert_string_equal(k->alsa.device, "plughw:0");
	assert_int_equal(k->alsa.dev_channels, 4);
	assert_int_equal(k->alsa.nmap, 2);
	assert_int_equal(k->alsa.map[0], 1);
	assert_int_equal(k->alsa.map[1], 3);
	assert_int_equal(k->alsa.period_frames, 0); /* the default: 5 ms */
	assert_int_equal(k->alsa.format, ALSA_FMT_S16);
}

static void test_config_error_alsa_bad_values_are_quoted(void **state)
{
	static const struct {
		const char *text;
		int line;
		const char *part;
	} cases[] = {
	    {"[source a]\ntype = alsa\nmap = 0,1\n", 3,
	     "[source a] map: '0,1' is not a list of card channels"},
	    {"[source a]\ntype = alsa\nmap = 4-2\n", 3,
	     "[source a] map: '4-2'"},
	    {"[source a]\ntype = alsa\nperiod = 8\n", 3,
	     "[source a] period: '8' is not a period in frames"},
	    {"[source a]\nsample_format = f32\n", 2,
	     "[source a] sample_format: 'f32' is not s16, s24, s24_3 or s32"},
	    {"[source a]\ntype = jack\n", 2,
	     "[source a] type: 'jack' is not file, tone, silence or alsa"},
	    {"[sink k]\ntype = alsa\ndevice_channels = 65\n", 3,
	     "[sink k] device_channels: '65' is not a channel count"},
	    {"[sink k]\ntype = alsa\nbuffer = lots\n", 3,
	     "[sink k] buffer: 'lots' is not a buffer in frames"},
	    {"[sink k]\ntype = pulse\n", 2,
	     "[sink k] type: 'pulse' is not file, null or alsa"},
	};
	struct ctx *t = *state;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		parse_err(t, cases[i].text, cases[i].line);
		assert_has(t, cases[i].part);
	}
}

static void test_config_load_missing_file_names_path(void **state)
{
	struct ctx *t = *state;

	assert_int_equal(config_load("/nonexistent/d4/x.ini", &t->cfg, t->err,
				     sizeof(t->err)),
			 -ENOENT);
	assert_has(t, "/nonexistent/d4/x.ini");
}


/* A stream found by name brings its SDP from the network (SAP): a rate no
 * flow may send is refused before it sizes a jitter buffer. */
static void test_config_stream_sdp_rate_is_checked(void **state)
{
	struct ctx *t = *state;
	static const char *const fmt =
	    "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=x\r\n"
	    "c=IN IP4 239.69.0.1/32\r\nt=0 0\r\n"
	    "m=audio 5004 RTP/AVP 97\r\na=rtpmap:97 L24/%u/2\r\n";
	char sdp[512], err[256] = "";
	struct sdp_stream st;
	struct sub_config sc;

	parse_ok(t, "[subscription s]\nstream = x\n");
	snprintf(sdp, sizeof(sdp), fmt, 150000000u);
	assert_int_equal(sdp_parse((const uint8_t *)sdp, strlen(sdp), &st,
				   NULL, 0),
			 0);
	assert_int_equal(sub_settings_resolve(&t->cfg.subs[0], &st, &sc, err,
					      sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "rate 150000000 Hz"));
	snprintf(sdp, sizeof(sdp), fmt, 48000u);
	assert_int_equal(sdp_parse((const uint8_t *)sdp, strlen(sdp), &st,
				   NULL, 0),
			 0);
	assert_int_equal(sub_settings_resolve(&t->cfg.subs[0], &st, &sc, err,
					      sizeof(err)),
			 0);
	assert_int_equal(sc.rate, 48000);
	assert_int_equal(sc.channels, 2);
	assert_int_equal(sc.pt, 97);
}

/* RX channels: subscriptions fill them, a sink records them. */
static void test_config_rx_channels_map_and_sink(void **state)
{
	struct ctx *t = *state;

	parse_ok(t, "[node]\n"
		    "rx_channels = 6\n"
		    "[subscription a]\n"
		    "address = 239.1.1.1\n"
		    "channels = 8\n"
		    "rx_channels = 3-4\n"
		    "stream_channels = 7,8\n"
		    "[subscription b]\n"
		    "address = 239.1.1.2\n"
		    "rx_channels = 1,2\n"
		    "[sink all]\n"
		    "rx = 1-4\n"
		    "path = /tmp/rx.wav\n"
		    "start = now\n");
	assert_int_equal(t->cfg.rx_channels, 6);
	assert_int_equal(t->cfg.subs[0].nrx, 2);
	assert_int_equal(t->cfg.subs[0].rx[0], 2);
	assert_int_equal(t->cfg.subs[0].nstream_ch, 2);
	assert_int_equal(t->cfg.subs[0].stream_ch[1], 7);
	/* stream channels default to the first ones */
	assert_int_equal(t->cfg.subs[1].nstream_ch, 0);
	assert_int_equal(t->cfg.sinks[0].nrx, 4);
}

static void test_config_error_rx_channels(void **state)
{
	struct ctx *t = *state;

	/* two subscriptions fill RX 2 */
	parse_err(t,
		  "[subscription a]\naddress = 239.1.1.1\nrx_channels = 1-2\n"
		  "[subscription b]\naddress = 239.1.1.2\nrx_channels = 2\n",
		  4);
	assert_has(t, "[subscription b] RX channel 2 is taken by subscription a");
	/* beyond the node's 8 */
	parse_err(t, "[subscription a]\naddress = 239.1.1.1\nrx_channels = 9\n",
		  1);
	assert_has(t, "RX channel 9: the node has 8");
	/* a stream channel the stream lacks */
	parse_err(t,
		  "[subscription a]\naddress = 239.1.1.1\nchannels = 2\n"
		  "rx_channels = 1\nstream_channels = 3\n",
		  1);
	assert_has(t, "stream channel 3: the stream has 2");
	/* counts differ */
	parse_err(t,
		  "[subscription a]\naddress = 239.1.1.1\nrx_channels = 1-2\n"
		  "stream_channels = 1\n",
		  1);
	assert_has(t, "1 stream_channels for 2 rx_channels");
	/* RX channels run at 48 kHz */
	parse_err(t,
		  "[subscription a]\naddress = 239.1.1.1\nrate = 96000\n"
		  "rx_channels = 1\n",
		  1);
	assert_has(t, "96000 Hz");
	/* an RX sink starts at the first sample a route delivers, and has
	 * no subscription */
	parse_ok(t, "[sink k]\nrx = 1\npath = /tmp/k.wav\nstart = first\n");
	parse_err(t,
		  "[subscription a]\naddress = 239.1.1.1\n[sink k]\nrx = 1\n"
		  "subscription = a\npath = /tmp/k.wav\nstart = now\n",
		  3);
	assert_has(t, "exclude each other");
	parse_err(t, "[sink k]\nrx = 12\npath = /tmp/k.wav\nstart = now\n", 1);
	assert_has(t, "RX channel 12: the node has 8");
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_config_full_file_parses_node_and_sources),
	    T(test_config_rx_channels_map_and_sink),
	    T(test_config_error_rx_channels),
	    T(test_config_full_file_parses_flows_with_defaults),
	    T(test_config_full_file_parses_subscriptions),
	    T(test_config_full_file_parses_sinks_with_defaults),
	    T(test_config_ptime_333us_is_a_third_of_a_ms),
	    T(test_config_empty_text_gives_node_defaults),
	    T(test_config_node_user_parses_and_defaults_to_none),
	    T(test_config_error_node_user_not_a_name_is_quoted),
	    T(test_config_error_node_user_with_ptp_spawn_names_user_line),
	    T(test_config_error_bad_ptime_names_line_key_value),
	    T(test_config_error_unknown_key),
	    T(test_config_error_unknown_section_names_its_line),
	    T(test_config_error_empty_unknown_section),
	    T(test_config_error_key_outside_section),
	    T(test_config_error_flow_unknown_source_names_key_line),
	    T(test_config_error_flow_second_leg_names_key_line),
	    T(test_config_error_sink_unknown_sub_names_key_line),
	    T(test_config_error_duplicate_source_names_second),
	    T(test_config_error_duplicate_source_back_to_back),
	    T(test_config_error_channels_from_zero),
	    T(test_config_error_latency_below_minimum),
	    T(test_config_error_dscp_out_of_range),
	    T(test_config_error_subscription_without_address),
	    T(test_config_error_line_not_key_value),
	    T(test_config_error_first_error_wins),
	    T(test_config_error_other_bad_values_are_quoted),
	    T(test_config_parse_duration_units),
	    T(test_config_parse_channels_ranges_and_lists),
	    T(test_config_parse_channels_rejects_bad_lists),
	    T(test_config_d4_bind_takes_udp_or_flow),
	    T(test_config_long_line_is_a_clear_error),
	    T(test_config_accepts_line_just_under_limit),
	    T(test_config_load_missing_file_names_path),
	    T(test_config_alsa_source_and_sink_keys),
	    T(test_config_stream_sdp_rate_is_checked),
	    T(test_config_error_alsa_bad_values_are_quoted),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
