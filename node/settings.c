/* The settings table and its parsers (see settings.h). Adding a key is one
 * row here and one line in docs/config.md (tests/unit/test_settings.c
 * checks that the two agree). */
#include "node/settings.h"
#include "common/net.h"
#include "d4/d4.h"
#include "node/config.h"
#include "node/rtp.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define US  1000ull
#define MS  1000000ull
#define SEC 1000000000ull

/* Field shorthands: F(struct, member) gives offset and size. */
#define F(type, m)  .off = offsetof(type, m), .size = sizeof(((type *)0)->m)
#define F2(type, m) .off2 = offsetof(type, m)

static const struct setting_choice ptp_modes[] = {
    {"off", PTP_RUN_OFF},
    {"external", PTP_RUN_EXTERNAL},
    {"spawn", PTP_RUN_SPAWN},
    {NULL, 0}};
static const struct setting_choice ptp_clocks[] = {
    {"system", MCLOCK_MODE_SYSTEM},
    {"phc", MCLOCK_MODE_PHC},
    {"follow", MCLOCK_MODE_FOLLOW},
    {NULL, 0}};
static const struct setting_choice source_types[] = {
    {"file", SOURCE_FILE},
    {"tone", SOURCE_TONE},
    {"silence", SOURCE_SILENCE},
    {"alsa", SOURCE_ALSA},
    {NULL, 0}};
static const struct setting_choice sink_types[] = {
    {"file", SINK_FILE}, {"null", SINK_NULL}, {"alsa", SINK_ALSA}, {NULL, 0}};
static const struct setting_choice timings[] = {{"auto", SUB_TIMING_AUTO},
						{"ptp", SUB_TIMING_PTP},
						{"arrival", SUB_TIMING_ARRIVAL},
						{NULL, 0}};
static const struct setting_choice write_auths[] = {
    {"token", NMOS_AUTH_TOKEN}, {"open", NMOS_AUTH_OPEN}, {NULL, 0}};
static const struct setting_choice file_formats[] = {{"wav", SF_FORMAT_WAV},
						     {"flac", SF_FORMAT_FLAC},
						     {"aiff", SF_FORMAT_AIFF},
						     {"w64", SF_FORMAT_W64},
						     {NULL, 0}};
static const struct setting_choice sample_bits[] = {{"16", SF_FORMAT_PCM_16},
						    {"24", SF_FORMAT_PCM_24},
						    {"32", SF_FORMAT_PCM_32},
						    {NULL, 0}};
/* d4_backend_parse's names (tests/unit/test_settings.c checks). */
static const struct setting_choice d4_backends[] = {
    {"auto", D4_BACKEND_AUTO},
    {"vm", D4_BACKEND_VM},
    {"kernel", D4_BACKEND_KERNEL},
    {NULL, 0}};
/* The first name of each value is the one written back. */
static const struct setting_choice alsa_formats[] = {
    {"s32", ALSA_FMT_S32},
    {"s32_le", ALSA_FMT_S32},
    {"s16", ALSA_FMT_S16},
    {"s16_le", ALSA_FMT_S16},
    {"s24", ALSA_FMT_S24},
    {"s24_le", ALSA_FMT_S24},
    {"s24_3", ALSA_FMT_S24_3},
    {"s24_3le", ALSA_FMT_S24_3},
    {NULL, 0}};

/* A POSIX portable user name; whether it exists is asked at start. */
static bool check_user(const char *v)
{
	const char *c;

	if (*v == '-')
		return false;
	for (c = v; *c; c++)
		if (!isalnum((unsigned char)*c) && !strchr("_-.", *c))
			return false;
	return true;
}

/* A flow's or subscription's name is a path segment of the API
 * (DELETE /flows/NAME), a line of SDP (s=) and of the log: no '/', no
 * control characters. */
static bool check_name(const char *v)
{
	return !strchr(v, '/') && settings_text_readable(v);
}

bool settings_text_readable(const char *v)
{
	const unsigned char *u = (const unsigned char *)v;

	for (; *u; u++) {
		if (*u < 0x20 || *u == 0x7f)
			return false;
		/* C1 controls (U+0080-009F), the line and paragraph
		 * separators (U+2028-2029: a reader that splits lines on
		 * them saw an SDP line in a channel name, an attacker's),
		 * and the marks and overrides that turn text around
		 * (U+200E-200F, U+202A-202E, U+2066-2069): a name shown in
		 * another controller must read as it is */
		if (u[0] == 0xc2 && u[1] >= 0x80 && u[1] <= 0x9f)
			return false;
		if (u[0] == 0xe2 && u[1] == 0x80 &&
		    (u[2] == 0x8e || u[2] == 0x8f ||
		     (u[2] >= 0xa8 && u[2] <= 0xae)))
			return false;
		if (u[0] == 0xe2 && u[1] == 0x81 && u[2] >= 0xa6 &&
		    u[2] <= 0xa9)
			return false;
	}
	return true;
}

/* The node's name is also its state directory's (STATE_DIR/NAME): a
 * config's "../../elsewhere" put it outside (an attacker's config). */
static bool check_node_name(const char *v)
{
	return check_name(v) && strcmp(v, ".") && strcmp(v, "..");
}

/* A registry's base URL: "http://HOST[:PORT]" and maybe a path. */
static bool check_url(const char *v)
{
	const char *c;

	if (strncmp(v, "http://", 7) || !v[7] || v[7] == '/')
		return false;
	for (c = v; *c; c++)
		if ((unsigned char)*c <= 0x20 || *c == 0x7f)
			return false;
	return true;
}

/* "LOOP udp ADDR:PORT" or "LOOP flow NAME". */
static bool check_bind(const char *v)
{
	const char *sp = strchr(v, ' ');

	return sp && sp != v &&
	       (!strncmp(sp + 1, "udp ", 4) || !strncmp(sp + 1, "flow ", 5));
}

static const struct setting node_rows[] = {
    {"name", NULL, SETTING_TEXT, F(struct node_config, name), .def = "d4node",
     .check = check_node_name,
     .what = "a name of 1-63 characters, without '/' or control "
	     "characters, not '.' or '..'",
     .help = "the node's name (SDP s=, mDNS)"},
    {"status_interval", NULL, SETTING_UINT,
     F(struct node_config, status_interval_s), .min = 0, .max = 3600,
     .def = "2", .what = "a number of seconds from 0 to 3600",
     .help = "seconds between --verbose status lines (0: none)"},
    {"api", NULL, SETTING_ENDPOINT, F(struct node_config, api_addr),
     F2(struct node_config, api_off), .min = 8080, .flags = SETTING_OFF,
     .def = "0.0.0.0:8080", .what = "ADDR[:PORT] to listen on, or off",
     .help = "the HTTP+JSON control API (docs/api.md)"},
    {"api_read_token", NULL, SETTING_BOOL,
     F(struct node_config, api_read_token), .def = "no", .what = "yes or no",
     .help = "reads need the token too"},
    {"pairing", NULL, SETTING_BOOL, F(struct node_config, pairing),
     .def = "yes", .what = "yes or no",
     .help = "d4ctl login: a one-time code in the log for the token"},
    {"state_dir", NULL, SETTING_PATH, F(struct node_config, state_dir),
     .what = "a directory", .help = "the API token and state.json"},
    {"recordings_dir", NULL, SETTING_PATH,
     F(struct node_config, recordings_dir), .what = "a directory",
     .help = "where the API's recordings are written"},
    {"user", NULL, SETTING_TEXT, F(struct node_config, user),
     .check = check_user,
     .what = "a user name (letters, digits, '_', '-', '.'; at most 63)",
     .help = "the user the node becomes once started"},
    {"spin_us", NULL, SETTING_UINT, F(struct node_config, spin_us), .min = 0,
     .max = 500, .def = "0", .what = "a busy-wait from 0 to 500 us",
     .help = "busy-wait before each packet deadline"},
    {"rt_priority", NULL, SETTING_UINT, F(struct node_config, rt_priority),
     .min = 0, .max = 99, .def = "70",
     .what = "a SCHED_FIFO priority from 0 to 99",
     .help = "SCHED_FIFO priority of the media thread"},
    {"rx_channels", NULL, SETTING_UINT, F(struct node_config, rx_channels),
     .min = 0, .max = RXBUS_MAX_CHANNELS, .def = "8",
     .what = "a count of RX channels from 0 to 64",
     .help = "the node's RX channels"},
    {NULL, NULL, 0, 0, 0, 0},
};

static const struct setting ptp_rows[] = {
    {"mode", NULL, SETTING_ENUM, F(struct ptp_node_config, run),
     .choices = ptp_modes, .def = "off", .what = "off, external or spawn",
     .help = "free-run, ask ptp4l, or run ptp4l"},
    {"clock", NULL, SETTING_ENUM, F(struct ptp_node_config, clock),
     .choices = ptp_clocks, .def = "system", .what = "system, phc or follow",
     .help = "what ptp4l steers"},
    {"uds", NULL, SETTING_TEXT, F(struct ptp_node_config, uds),
     .what = "a socket path of at most 107 characters",
     .help = "ptp4l's management socket"},
    {"domain", NULL, SETTING_UINT, F(struct ptp_node_config, domain), .min = 0,
     .max = 127, .def = "0", .what = "a PTP domain from 0 to 127",
     .help = "PTP domain"},
    {"phc", NULL, SETTING_TEXT, F(struct ptp_node_config, phc),
     .what = "a PHC device such as /dev/ptp0", .help = "clock = phc: device"},
    {"lock_threshold", NULL, SETTING_DURATION,
     F(struct ptp_node_config, lock_threshold_ns), .min = 100, .max = 10 * MS,
     .unit_ns = US, .def = "100us", .what = "an offset from 100ns to 10ms",
     .help = "offset that counts as settled"},
    {"holdover", NULL, SETTING_DURATION, F(struct ptp_node_config, holdover_ns),
     .min = 0, .max = 86400 * SEC, .unit_ns = SEC, .def = "60s",
     .what = "a time from 0 to 86400 s",
     .help = "how long to keep the last rate without a grandmaster"},
    {"ptp4l", NULL, SETTING_PATH, F(struct ptp_node_config, ptp4l),
     .def = "/usr/sbin/ptp4l", .what = "the path of the ptp4l program",
     .help = "spawn: the program"},
    {"ptp4l_config", NULL, SETTING_PATH,
     F(struct ptp_node_config, ptp4l_config),
     .what = "a ptp4l configuration file", .help = "spawn: its config"},
    {"interface", NULL, SETTING_TEXT, F(struct ptp_node_config, ifname),
     .what = "an interface name", .help = "spawn: its interface"},
    {NULL, NULL, 0, 0, 0, 0},
};

static const struct setting discovery_rows[] = {
    {"sap", NULL, SETTING_BOOL, F(struct discovery_config, sap), .def = "on",
     .what = "on or off", .help = "announce and listen by SAP"},
    {"mdns", NULL, SETTING_BOOL, F(struct discovery_config, mdns), .def = "on",
     .what = "on or off", .help = "publish and browse by mDNS"},
    {"sap_group", NULL, SETTING_ENDPOINT, F(struct discovery_config, sap_group),
     .min = 9875, .flags = SETTING_MULTICAST, .def = "239.255.255.255:9875",
     .what = "a multicast group with an optional port, such as "
	     "239.255.255.255:9875",
     .help = "SAP group"},
    {"sap_interval", NULL, SETTING_DURATION,
     F(struct discovery_config, sap_interval_ns), .min = SEC / 10,
     .max = 3600 * SEC, .unit_ns = SEC, .def = "30s",
     .what = "an interval from 0.1 s to 3600 s",
     .help = "between announcements"},
    {"sap_ttl", NULL, SETTING_UINT, F(struct discovery_config, sap_ttl),
     .min = 1, .max = 255, .def = "15", .what = "a TTL from 1 to 255",
     .help = "TTL of announcements"},
    {"sap_timeout_factor", NULL, SETTING_UINT,
     F(struct discovery_config, sap_timeout_factor), .min = 2, .max = 100,
     .def = "10", .what = "a factor from 2 to 100", .help = "session timeout"},
    {"sap_timeout_floor", NULL, SETTING_DURATION,
     F(struct discovery_config, sap_timeout_floor_ns), .min = SEC / 10,
     .max = 3600 * SEC, .unit_ns = SEC, .def = "60s",
     .what = "a time from 0.1 s to 3600 s", .help = "shortest session timeout"},
    {"rtsp_port", NULL, SETTING_UINT, F(struct discovery_config, rtsp_port),
     .min = 0, .max = 65535, .def = "0",
     .what = "a TCP port from 0 (any) to 65535",
     .help = "the RTSP DESCRIBE responder"},
    {"interface", NULL, SETTING_TEXT, F(struct discovery_config, ifname),
     .what = "an interface name", .help = "SAP egress and group joins"},
    {NULL, NULL, 0, 0, 0, 0},
};

/* Keys of [source] and [sink] of type alsa (node/alsa.h). */
/* clang-format off */
#define ALSA_ROWS(type)							\
	{"device", NULL, SETTING_TEXT, F(type, alsa.device),		\
	 .def = "default", .what = "an ALSA device name such as hw:0",	\
	 .help = "ALSA PCM name"},					\
	{"map", NULL, SETTING_CHANNELS, F(type, alsa.map),		\
	 F2(type, alsa.nmap), .min = 1, .max = ALSA_MAX_CHANNELS,	\
	 .what = "a list of card channels such as 1,2 or 3-4",		\
	 .help = "card channels"},					\
	{"device_channels", NULL, SETTING_UINT,				\
	 F(type, alsa.dev_channels), .min = 1, .max = ALSA_MAX_CHANNELS, \
	 .what = "a channel count from 1 to 64",			\
	 .help = "channels the card is opened with"},			\
	{"period", NULL, SETTING_UINT, F(type, alsa.period_frames),	\
	 .min = 16, .max = 65536, .what = "a period in frames (16-65536)", \
	 .help = "the card's period"},					\
	{"buffer", NULL, SETTING_UINT, F(type, alsa.buffer_frames),	\
	 .min = 16, .max = 65536, .what = "a buffer in frames (16-65536)", \
	 .help = "the card's buffer"},					\
	{"sample_format", NULL, SETTING_ENUM, F(type, alsa.format),	\
	 .choices = alsa_formats, .def = "s32",				\
	 .what = "s16, s24, s24_3 or s32",				\
	 .help = "the card's sample format"}
/* clang-format on */

static const struct setting source_rows[] = {
    {"type", NULL, SETTING_ENUM, F(struct source_config, type),
     .choices = source_types, .def = "tone",
     .what = "file, tone, silence or alsa", .help = "what makes the audio"},
    {"path", NULL, SETTING_PATH, F(struct source_config, path),
     .what = "a file path", .help = "file: any libsndfile format"},
    {"loop", NULL, SETTING_BOOL, F(struct source_config, loop), .def = "true",
     .what = "true or false", .help = "file: start again at the end"},
    {"start", NULL, SETTING_START, F(struct source_config, start),
     F2(struct source_config, start_ns), .def = "now",
     .what = "'now' or a PTP time in seconds",
     .help = "file: PTP time of the first frame"},
    {"channels", NULL, SETTING_UINT, F(struct source_config, channels),
     .min = 1, .max = SOURCE_MAX_CHANNELS, .def = "2",
     .what = "a channel count from 1 to 64", .help = "tone, silence, alsa"},
    {"rate", NULL, SETTING_RATE, F(struct source_config, rate), .def = "48000",
     .what = "44100, 48000 or 96000", .help = "tone, silence, alsa"},
    {"frequency", NULL, SETTING_LEVELS, F(struct source_config, freq_hz),
     .min = 1, .max = 48000, .def = "1000",
     .what = "a frequency in Hz, or one per channel separated by commas",
     .help = "tone"},
    {"level", NULL, SETTING_LEVELS, F(struct source_config, level_dbfs),
     .min = -200, .max = 0, .def = "-20",
     .what = "a level in dBFS (<= 0), or one per channel separated by "
	     "commas",
     .help = "tone"},
    ALSA_ROWS(struct source_config),
    {NULL, NULL, 0, 0, 0, 0},
};

static const struct setting flow_rows[] = {
    {NULL, "name", SETTING_TEXT, F(struct flow_config, name),
     .flags = SETTING_REQUIRED, .check = check_name,
     .what = "a name of 1-63 characters without '/', control "
	     "characters or bidirectional overrides",
     .help = "the flow's name"},
    {"source", "source", SETTING_TEXT, F(struct flow_config, source),
     .flags = SETTING_REQUIRED, .what = "a source name",
     .help = "a [source] name"},
    {"channels", "channels", SETTING_CHANNELS, F(struct flow_config, chans),
     F2(struct flow_config, nch), .min = 1, .max = SOURCE_MAX_CHANNELS,
     .what = "a list of source channels such as 1-8 or 1,3,5",
     .help = "source channels, in stream order"},
    {"destination", "destination", SETTING_ENDPOINT,
     F(struct flow_config, dest), .min = 5004, .flags = SETTING_REQUIRED,
     .what = "an IPv4 address with an optional port, such as "
	     "239.69.0.1:5004",
     .help = "multicast group or unicast host"},
    {"encoding", "encoding", SETTING_ENCODING, F(struct flow_config, enc),
     .def = "L24", .what = "L24 or L16", .help = "sample format"},
    {"rate", "rate", SETTING_RATE, F(struct flow_config, rate), .def = "48000",
     .what = "44100, 48000 or 96000", .help = "sample rate"},
    {"ptime", "ptime_us", SETTING_PTIME, F(struct flow_config, ptime_us),
     .def = "1ms", .what = "a packet time: 125us, 250us, 333us, 1ms or 4ms",
     .help = "packet time"},
    {"payload_type", "payload_type", SETTING_UINT, F(struct flow_config, pt),
     .min = 96, .max = 127, .def = "98",
     .what = "a dynamic payload type from 96 to 127",
     .help = "RTP payload type"},
    {"dscp", "dscp", SETTING_UINT, F(struct flow_config, dscp), .min = 0,
     .max = 63, .def = "34", .what = "a DSCP value from 0 to 63",
     .help = "DSCP of its packets"},
    {"ttl", "ttl", SETTING_UINT, F(struct flow_config, ttl), .min = 1,
     .max = 255, .def = "16", .what = "a TTL from 1 to 255",
     .help = "multicast TTL"},
    {"interface", "interface", SETTING_TEXT, F(struct flow_config, ifname),
     .what = "an interface name", .help = "multicast egress interface"},
    {"destination2", "destination2", SETTING_ENDPOINT,
     F(struct flow_config, dest2), .min = 5004,
     .what = "an IPv4 address with an optional port, such as "
	     "239.69.128.1:5004",
     .help = "the second leg (ST 2022-7): its group or host"},
    {"interface2", "interface2", SETTING_TEXT, F(struct flow_config, ifname2),
     .what = "an interface name",
     .help = "the second leg's interface (the second network)"},
    {"sdp_file", NULL, SETTING_PATH, F(struct flow_config, sdp_path),
     .what = "a file path", .help = "write the flow's SDP here"},
    {NULL, NULL, 0, 0, 0, 0},
};

static const struct setting sub_rows[] = {
    {NULL, "name", SETTING_TEXT, F(struct sub_settings, name),
     .flags = SETTING_REQUIRED, .check = check_name,
     .what = "a name of 1-63 characters without '/', control "
	     "characters or bidirectional overrides",
     .help = "the subscription's name"},
    {"stream", "stream", SETTING_TEXT, F(struct sub_settings, stream),
     .what = "a stream name of 1-127 characters",
     .help = "subscribe by the stream's name (SAP, RAVENNA)"},
    {"sdp", NULL, SETTING_SDP_FILE, F(struct sub_settings, sdp),
     .what = "an SDP file", .help = "take the stream from this SDP file"},
    {NULL, "sdp", SETTING_TEXT, F(struct sub_settings, sdp),
     .what = "SDP text of at most 4095 bytes", .help = "SDP text"},
    {"address", "address", SETTING_ENDPOINT, F(struct sub_settings, addr),
     .min = 5004, .given = SUB_GIVEN_ADDR,
     .what = "an IPv4 address with an optional port, such as "
	     "239.69.0.1:5004",
     .help = "group to join, or local address/port"},
    {"encoding", "encoding", SETTING_ENCODING, F(struct sub_settings, enc),
     .def = "L24", .given = SUB_GIVEN_ENC, .what = "L24 or L16",
     .help = "sample format"},
    {"channels", "channels", SETTING_UINT, F(struct sub_settings, channels),
     .min = 1, .max = SOURCE_MAX_CHANNELS, .def = "2", .given = SUB_GIVEN_CH,
     .what = "a channel count from 1 to 64", .help = "channels"},
    {"rate", "rate", SETTING_RATE, F(struct sub_settings, rate), .def = "48000",
     .given = SUB_GIVEN_RATE, .what = "44100, 48000 or 96000",
     .help = "sample rate"},
    {"ptime", "ptime_us", SETTING_PTIME, F(struct sub_settings, ptime_us),
     .def = "1ms", .given = SUB_GIVEN_PTIME,
     .what = "a packet time: 125us, 250us, 333us, 1ms or 4ms",
     .help = "expected packet time"},
    {"payload_type", "payload_type", SETTING_UINT, F(struct sub_settings, pt),
     .min = 0, .max = 127, .def = "98", .given = SUB_GIVEN_PT,
     .what = "a payload type from 0 to 127", .help = "RTP payload type"},
    {"latency", "latency_us", SETTING_DURATION,
     F(struct sub_settings, latency_ns), .min = SUB_LATENCY_MIN_NS,
     .max = SUB_LATENCY_MAX_NS, .unit_ns = MS, .json_unit_ns = US, .def = "4ms",
     .what = "a latency from 250us to 100ms", .help = "the link offset"},
    {"timing", "timing", SETTING_ENUM, F(struct sub_settings, timing),
     .choices = timings, .def = "auto", .what = "auto, ptp or arrival",
     .help = "how the stream's timestamps are read"},
    {"mediaclk_offset", "mediaclk_offset", SETTING_UINT,
     F(struct sub_settings, mediaclk_offset), .min = 0, .max = UINT32_MAX,
     .given = SUB_GIVEN_OFFSET,
     .what = "an RTP timestamp offset from 0 to 4294967295",
     .help = "a=mediaclk:direct="},
    {"source_filter", "source_filter", SETTING_ADDRESS,
     F(struct sub_settings, source_filter),
     F2(struct sub_settings, has_source_filter), .given = SUB_GIVEN_FILTER,
     .what = "a sender's IPv4 address", .help = "the sender's address"},
    {"interface", "interface", SETTING_TEXT, F(struct sub_settings, ifname),
     .what = "an interface name", .help = "where to join the group"},
    {"address2", "address2", SETTING_ENDPOINT, F(struct sub_settings, addr2),
     .min = 5004, .given = SUB_GIVEN_ADDR2,
     .what = "an IPv4 address with an optional port, such as "
	     "239.69.128.1:5004",
     .help = "the second leg (ST 2022-7): group or local address/port"},
    {"interface2", "interface2", SETTING_TEXT, F(struct sub_settings, ifname2),
     .what = "an interface name",
     .help = "the second leg's interface (the second network)"},
    {"source_filter2", "source_filter2", SETTING_ADDRESS,
     F(struct sub_settings, source_filter2),
     F2(struct sub_settings, has_source_filter2), .given = SUB_GIVEN_FILTER2,
     .what = "a sender's IPv4 address",
     .help = "the sender's address on the second leg"},
    {"rx_channels", "rx_channels", SETTING_CHANNELS, F(struct sub_settings, rx),
     F2(struct sub_settings, nrx), .min = 1, .max = RXBUS_MAX_CHANNELS,
     .what = "a list of the node's RX channels such as 3-4 or 1,5",
     .help = "the RX channels it fills"},
    {"stream_channels", "stream_channels", SETTING_CHANNELS,
     F(struct sub_settings, stream_ch), F2(struct sub_settings, nstream_ch),
     .min = 1, .max = SOURCE_MAX_CHANNELS,
     .what = "a list of the stream's channels such as 1-2 or 7,8",
     .help = "which stream channels go there"},
    {NULL, NULL, 0, 0, 0, 0},
};

static const struct setting sink_rows[] = {
    {"type", NULL, SETTING_ENUM, F(struct sink_config, type),
     .choices = sink_types, .def = "file", .what = "file, null or alsa",
     .help = "file, null or a sound card"},
    {"subscription", NULL, SETTING_TEXT, F(struct sink_config, sub),
     .what = "a subscription name", .help = "the stream it takes"},
    {"rx", NULL, SETTING_CHANNELS, F(struct sink_config, rx),
     F2(struct sink_config, nrx), .min = 1, .max = RXBUS_MAX_CHANNELS,
     .what = "a list of the node's RX channels such as 1-8",
     .help = "the RX channels it records"},
    {"channels", NULL, SETTING_CHANNELS, F(struct sink_config, chans),
     F2(struct sink_config, nch), .min = 1, .max = SOURCE_MAX_CHANNELS,
     .what = "a list of stream channels such as 1-8 or 2,1",
     .help = "stream channels, in file order"},
    {"path", NULL, SETTING_PATH, F(struct sink_config, path),
     .what = "a file path", .help = "the file"},
    {"format", NULL, SETTING_ENUM, F(struct sink_config, file_format),
     .choices = file_formats, .def = "wav", .what = "wav, flac, aiff or w64",
     .help = "file format"},
    {"bits", NULL, SETTING_ENUM, F(struct sink_config, bits),
     .choices = sample_bits, .def = "24", .what = "16, 24 or 32",
     .help = "bits per sample"},
    {"start", NULL, SETTING_START, F(struct sink_config, start),
     F2(struct sink_config, start_ns), .def = "first", .flags = SETTING_FIRST,
     .what = "'first', 'now' or a PTP time in seconds",
     .help = "when the recording starts"},
    {"duration", NULL, SETTING_DURATION, F(struct sink_config, duration_ns),
     .min = 1, .max = 100000000 * SEC, .unit_ns = SEC,
     .what = "a duration such as 10 (seconds) or 500ms",
     .help = "how long it records"},
    ALSA_ROWS(struct sink_config),
    {NULL, NULL, 0, 0, 0, 0},
};

static const struct setting d4_rows[] = {
    {"file", NULL, SETTING_PATH, F(struct d4prog_config, file),
     .what = "a D4 program file", .help = "the program"},
    {"exec", NULL, SETTING_LINES, F(struct d4prog_config, exec),
     F2(struct d4prog_config, nexec), .max = CONFIG_MAX_D4_EXEC,
     .what = "a D4 statement", .help = "a statement, repeatable"},
    {"bind", NULL, SETTING_LINES, F(struct d4prog_config, bind),
     F2(struct d4prog_config, nbind), .max = CONFIG_MAX_D4_EXEC,
     .check = check_bind, .what = "LOOP udp ADDR:PORT or LOOP flow NAME",
     .help = "a loop's input, repeatable"},
    {"dscp", NULL, SETTING_UINT, F(struct d4prog_config, dscp), .min = 0,
     .max = 63, .def = "34", .what = "a DSCP value from 0 to 63",
     .help = "DSCP of what its loops send"},
    {"ttl", NULL, SETTING_UINT, F(struct d4prog_config, ttl), .min = 1,
     .max = 255, .def = "16", .what = "a TTL from 1 to 255",
     .help = "multicast TTL"},
    {"interface", NULL, SETTING_TEXT, F(struct d4prog_config, ifname),
     .what = "an interface name", .help = "egress and joins"},
    {"backend", "backend", SETTING_ENUM, F(struct d4prog_config, backend),
     .choices = d4_backends, .def = "auto", .what = "auto, vm or kernel",
     .help = "where its UDP loops run"},
    {"max_sends_per_packet", NULL, SETTING_UINT,
     F(struct d4prog_config, sends_per_packet), .min = 1,
     .max = D4_MAX_SENDS_PER_PACKET, .def = "256",
     .what = "a number of datagrams from 1 to 1000",
     .help = "most datagrams a loop may send for one packet"},
    {"max_sends_per_second", NULL, SETTING_UINT,
     F(struct d4prog_config, sends_per_second), .min = 1,
     .max = D4_MAX_SENDS_PER_SECOND, .def = "100000",
     .what = "a number of datagrams from 1 to 1000000",
     .help = "most datagrams a loop may send a second"},
    {NULL, NULL, 0, 0, 0, 0},
};

static const struct setting nmos_rows[] = {
    {"enable", NULL, SETTING_BOOL, F(struct nmos_config, enable), .def = "off",
     .what = "on or off", .help = "IS-04 Node API, registration, IS-05"},
    {"registry", NULL, SETTING_LINES, F(struct nmos_config, registry),
     F2(struct nmos_config, nregistry), .max = CONFIG_MAX_REGISTRIES,
     .check = check_url, .what = "a URL such as http://10.0.0.5:8235",
     .help = "a Registration API, repeatable, in order"},
    {"dns_sd", NULL, SETTING_BOOL, F(struct nmos_config, dns_sd), .def = "on",
     .what = "on or off", .help = "find registries by _nmos-register._tcp"},
    {"p2p", NULL, SETTING_BOOL, F(struct nmos_config, p2p), .def = "on",
     .what = "on or off", .help = "_nmos-node._tcp while no registry"},
    {"heartbeat", NULL, SETTING_DURATION, F(struct nmos_config, heartbeat_ns),
     .min = SEC, .max = 60 * SEC, .unit_ns = SEC, .def = "5s",
     .what = "an interval from 1 s to 60 s",
     .help = "between heartbeats to the registry"},
    {"receiver_channels", NULL, SETTING_UINT,
     F(struct nmos_config, receiver_channels), .min = 1,
     .max = RXBUS_MAX_CHANNELS, .def = "2",
     .what = "a count of RX channels from 1 to 64",
     .help = "RX channels per NMOS receiver"},
    {"latency", NULL, SETTING_DURATION, F(struct nmos_config, latency_ns),
     .min = SUB_LATENCY_MIN_NS, .max = SUB_LATENCY_MAX_NS, .unit_ns = MS,
     .def = "1ms", .what = "a latency from 250us to 100ms",
     .help = "the link offset of what IS-05 connects"},
    {"host", NULL, SETTING_ADDRESS, F(struct nmos_config, host),
     F2(struct nmos_config, has_host), .what = "an IPv4 address",
     .help = "the address in the node's hrefs"},
    {"interface2", NULL, SETTING_TEXT, F(struct nmos_config, interface2),
     .what = "an interface name",
     .help = "the second network: receivers take a second leg on it"},
    {"write_auth", NULL, SETTING_ENUM, F(struct nmos_config, write_auth),
     .choices = write_auths, .def = "token", .what = "token or open",
     .help = "what IS-05 writes need"},
    {"tokens_file", NULL, SETTING_PATH, F(struct nmos_config, tokens_file),
     .what = "a file of bearer tokens",
     .help = "more bearer tokens IS-05 writes may carry"},
    {NULL, NULL, 0, 0, 0, 0},
};

static const struct {
	const char *name;
	const struct setting *rows;
} sections[SETTINGS_NSECTIONS] = {
    [SETTINGS_NODE] = {"node", node_rows},
    [SETTINGS_PTP] = {"ptp", ptp_rows},
    [SETTINGS_DISCOVERY] = {"discovery", discovery_rows},
    [SETTINGS_SOURCE] = {"source", source_rows},
    [SETTINGS_FLOW] = {"flow", flow_rows},
    [SETTINGS_SUB] = {"subscription", sub_rows},
    [SETTINGS_SINK] = {"sink", sink_rows},
    [SETTINGS_D4] = {"d4", d4_rows},
    [SETTINGS_NMOS] = {"nmos", nmos_rows},
};

const struct setting *settings_rows(enum settings_section sec)
{
	return sections[sec].rows;
}

const char *settings_section_name(enum settings_section sec)
{
	return sections[sec].name;
}

static bool row_end(const struct setting *r)
{
	return !r->key && !r->json;
}

const struct setting *settings_find(enum settings_section sec, const char *key,
				    const char *json)
{
	const struct setting *r;

	for (r = sections[sec].rows; !row_end(r); r++)
		if ((key && r->key && !strcmp(r->key, key)) ||
		    (!key && json && r->json && !strcmp(r->json, json)))
			return r;
	return NULL;
}

/* ---- the value parsers ---- */

int settings_parse_duration(const char *s, unsigned long long bare_unit_ns,
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

int settings_parse_channels(const char *s, uint8_t *chans, unsigned int max)
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

static int parse_ullong(const char *s, unsigned long long min,
			unsigned long long max, unsigned long long *out)
{
	unsigned long long v;
	char *end;

	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
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

/* "now", "first" (@allow_first) or PTP seconds since the epoch. */
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
	*ns = (uint64_t)llround(floor(v)) * SEC +
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

	if (settings_parse_duration(v, 1000, &ns) < 0)
		return -EINVAL;
	/* 333 µs is 16 frames: accept the exact third too. */
	if (ns >= 333000 && ns <= 334000)
		ns = 333000;
	if (ns % 1000 || !flow_frames_per_packet((uint32_t)(ns / 1000), 48000))
		return -EINVAL;
	*ptime_us = (uint32_t)(ns / 1000);
	return 0;
}

static int parse_rate(const char *v, uint32_t *rate)
{
	unsigned long long u;

	if (parse_ullong(v, 1, 1000000, &u) ||
	    (u != 44100 && u != 48000 && u != 96000))
		return -EINVAL;
	*rate = (uint32_t)u;
	return 0;
}

static void store_uint(void *field, size_t size, unsigned long long v)
{
	switch (size) {
	case 1:
		*(uint8_t *)field = (uint8_t)v;
		break;
	case 2:
		*(uint16_t *)field = (uint16_t)v;
		break;
	case 4:
		*(uint32_t *)field = (uint32_t)v;
		break;
	default:
		*(uint64_t *)field = (uint64_t)v;
		break;
	}
}

static unsigned long long load_uint(const void *field, size_t size)
{
	switch (size) {
	case 1:
		return *(const uint8_t *)field;
	case 2:
		return *(const uint16_t *)field;
	case 4:
		return *(const uint32_t *)field;
	default:
		return *(const uint64_t *)field;
	}
}

static int read_sdp_file(const char *path, char *dst, size_t size, char *why,
			 size_t why_len)
{
	FILE *f = fopen(path, "rb");
	size_t n;

	if (!f) {
		snprintf(why, why_len, "cannot open '%s': %s", path,
			 strerror(errno));
		return -EINVAL;
	}
	n = fread(dst, 1, size, f);
	fclose(f);
	if (n >= size || memchr(dst, '\0', n)) {
		snprintf(why, why_len,
			 "'%s' is not an SDP of at most %zu bytes", path,
			 size - 1);
		return -EINVAL;
	}
	dst[n] = '\0';
	return 0;
}

int setting_parse(const struct setting *row, const char *v,
		  const char *base_dir, void *obj, char *err, size_t err_len)
{
	char *field = (char *)obj + row->off;
	char path[4096];
	unsigned long long u;
	int n;

	switch (row->type) {
	case SETTING_TEXT:
		if (!*v || strlen(v) >= row->size ||
		    (row->check && !row->check(v)))
			goto bad;
		snprintf(field, row->size, "%s", v);
		return 0;
	case SETTING_PATH:
	case SETTING_SDP_FILE:
		if (!*v)
			goto bad;
		if (v[0] == '/' || !base_dir || !base_dir[0])
			n = snprintf(path, sizeof(path), "%s", v);
		else
			n = snprintf(path, sizeof(path), "%s/%s", base_dir, v);
		if (n < 0 || (size_t)n >= sizeof(path) ||
		    (row->type == SETTING_PATH && (size_t)n >= row->size))
			goto bad;
		if (row->type == SETTING_SDP_FILE)
			return read_sdp_file(path, field, row->size, err,
					     err_len);
		snprintf(field, row->size, "%s", path);
		return 0;
	case SETTING_UINT:
		if (parse_ullong(v, (unsigned long long)row->min,
				 (unsigned long long)row->max, &u))
			goto bad;
		store_uint(field, row->size, u);
		return 0;
	case SETTING_BOOL:
		if (parse_bool(v, (bool *)field))
			goto bad;
		return 0;
	case SETTING_DURATION:
		if (settings_parse_duration(v, row->unit_ns, &u) ||
		    u < (unsigned long long)row->min ||
		    u > (unsigned long long)row->max)
			goto bad;
		*(uint64_t *)field = u;
		return 0;
	case SETTING_ENUM: {
		const struct setting_choice *c;

		for (c = row->choices; c->name; c++)
			if (!strcasecmp(c->name, v)) {
				*(int *)field = c->value;
				return 0;
			}
		goto bad;
	}
	case SETTING_ENDPOINT: {
		struct sockaddr_in sa;

		if ((row->flags & SETTING_OFF) && !strcmp(v, "off")) {
			*(bool *)((char *)obj + row->off2) = true;
			return 0;
		}
		if (net_parse_endpoint(v, (uint16_t)row->min, &sa) ||
		    ((row->flags & SETTING_MULTICAST) &&
		     !net_is_multicast(&sa)))
			goto bad;
		memcpy(field, &sa, sizeof(sa));
		if (row->flags & SETTING_OFF)
			*(bool *)((char *)obj + row->off2) = false;
		return 0;
	}
	case SETTING_ADDRESS: {
		struct sockaddr_in sa;

		if (net_parse_endpoint(v, 1, &sa))
			goto bad;
		memcpy(field, &sa.sin_addr, sizeof(sa.sin_addr));
		*(bool *)((char *)obj + row->off2) = true;
		return 0;
	}
	case SETTING_CHANNELS: {
		uint8_t ch[SOURCE_MAX_CHANNELS];
		unsigned int i;

		n = settings_parse_channels(v, ch, SOURCE_MAX_CHANNELS);
		if (n < 0)
			goto bad;
		for (i = 0; i < (unsigned int)n; i++)
			if (ch[i] + 1 > row->max)
				goto bad;
		memcpy(field, ch, (size_t)n);
		*(unsigned int *)((char *)obj + row->off2) = (unsigned int)n;
		return 0;
	}
	case SETTING_RATE:
		if (parse_rate(v, (uint32_t *)field))
			goto bad;
		return 0;
	case SETTING_PTIME:
		if (parse_ptime(v, (uint32_t *)field))
			goto bad;
		return 0;
	case SETTING_START:
		if (parse_start(v, (enum start_mode *)field,
				(uint64_t *)((char *)obj + row->off2),
				row->flags & SETTING_FIRST))
			goto bad;
		return 0;
	case SETTING_LEVELS:
		if (parse_list(v, (double *)field, SOURCE_MAX_CHANNELS,
			       (double)row->min, (double)row->max) < 0)
			goto bad;
		return 0;
	case SETTING_ENCODING:
		if (rtp_encoding_parse(v, (enum rtp_encoding *)field))
			goto bad;
		return 0;
	case SETTING_LINES: {
		unsigned int *count = (unsigned int *)((char *)obj + row->off2);

		if (*count >= (unsigned int)row->max) {
			snprintf(err, err_len, "more than %lld %s lines",
				 row->max, row->key);
			return -EINVAL;
		}
		if (!*v || strlen(v) >= row->size / (size_t)row->max ||
		    (row->check && !row->check(v)))
			goto bad;
		snprintf(field + *count * (row->size / (size_t)row->max),
			 row->size / (size_t)row->max, "%s", v);
		(*count)++;
		return 0;
	}
	}
bad:
	snprintf(err, err_len, "'%s' is not %s", v, row->what);
	return -EINVAL;
}

/* A JSON scalar or array as the text an INI file would hold. */
static int json_text(const struct setting *row, const json_t *v, char *buf,
		     size_t len)
{
	size_t i, off = 0;
	json_t *e;

	switch (row->type) {
	case SETTING_TEXT:
	case SETTING_PATH:
	case SETTING_SDP_FILE:
	case SETTING_ENUM:
	case SETTING_ENDPOINT:
	case SETTING_ADDRESS:
	case SETTING_ENCODING:
	case SETTING_LINES:
		if (!json_is_string(v))
			return -EINVAL; /* 7 is not a name, nor an address */
		break;
	default:
		break;
	}
	switch (json_typeof(v)) {
	case JSON_STRING:
		snprintf(buf, len, "%s", json_string_value(v));
		if (strlen(json_string_value(v)) >= len)
			return -E2BIG;
		/* "2000" for latency_us is in µs, as the member says */
		if (row->type == SETTING_DURATION && row->json_unit_ns == US &&
		    *buf && strspn(buf, "0123456789.") == strlen(buf) &&
		    strlen(buf) + 3 < len)
			strcat(buf, "us");
		return 0;
	case JSON_INTEGER:
		snprintf(buf, len, "%" JSON_INTEGER_FORMAT "%s",
			 json_integer_value(v),
			 row->type == SETTING_DURATION &&
				 row->json_unit_ns == US
			     ? "us"
			     : "");
		return 0;
	case JSON_REAL:
		snprintf(buf, len, "%.17g%s", json_real_value(v),
			 row->type == SETTING_DURATION &&
				 row->json_unit_ns == US
			     ? "us"
			     : "");
		return 0;
	case JSON_TRUE:
	case JSON_FALSE:
		snprintf(buf, len, "%s", json_is_true(v) ? "true" : "false");
		return 0;
	case JSON_ARRAY:
		buf[0] = '\0';
		json_array_foreach(v, i, e)
		{
			if (!json_is_integer(e) || off + 24 >= len)
				return -EINVAL;
			off += (size_t)snprintf(
			    buf + off, len - off, "%s%" JSON_INTEGER_FORMAT,
			    i ? "," : "", json_integer_value(e));
		}
		return 0;
	default:
		return -EINVAL;
	}
}

int setting_parse_json(const struct setting *row, const json_t *v, void *obj,
		       char *err, size_t err_len)
{
	char text[4200];
	char *dump;

	if (json_text(row, v, text, sizeof(text)) == 0)
		return setting_parse(row, text, "", obj, err, err_len);
	dump = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
	snprintf(err, err_len, "'%.60s' is not %s", dump ? dump : "?",
		 row->what);
	free(dump);
	return -EINVAL;
}

void settings_defaults(enum settings_section sec, void *obj)
{
	const struct setting *r;
	char err[160];

	for (r = sections[sec].rows; !row_end(r); r++) {
		char *f2 = (char *)obj + r->off2;

		memset((char *)obj + r->off, 0, r->size);
		switch (r->type) {
		case SETTING_CHANNELS:
		case SETTING_LINES:
			*(unsigned int *)f2 = 0;
			break;
		case SETTING_ADDRESS:
			*(bool *)f2 = false;
			break;
		case SETTING_ENDPOINT:
			if (r->flags & SETTING_OFF)
				*(bool *)f2 = false;
			break;
		case SETTING_START:
			*(uint64_t *)f2 = 0;
			break;
		default:
			break;
		}
	}
	for (r = sections[sec].rows; !row_end(r); r++)
		if (r->def)
			setting_parse(r, r->def, "", obj, err, sizeof(err));
}

int settings_from_json(enum settings_section sec, const json_t *body, void *obj,
		       uint64_t *given_rows, unsigned int *given, char *err,
		       size_t err_len)
{
	const struct setting *rows = sections[sec].rows, *r;
	uint64_t seen = 0;
	const char *key;
	char why[4400];
	json_t *v;

	settings_defaults(sec, obj);
	json_object_foreach((json_t *)body, key, v)
	{
		r = settings_find(sec, NULL, key);
		if (!r) {
			snprintf(err, err_len, "'%s': no such key in a %s", key,
				 sections[sec].name);
			return -EINVAL;
		}
		if (setting_parse_json(r, v, obj, why, sizeof(why)) < 0) {
			snprintf(err, err_len, "'%s': %s", key, why);
			return -EINVAL;
		}
		seen |= 1ull << (r - rows);
		if (given)
			*given |= r->given;
	}
	for (r = rows; !row_end(r); r++)
		if ((r->flags & SETTING_REQUIRED) && r->json &&
		    !(seen & (1ull << (r - rows)))) {
			snprintf(err, err_len, "'%s' is required (%s)", r->json,
				 r->what);
			return -EINVAL;
		}
	if (given_rows)
		*given_rows |= seen;
	return 0;
}

json_t *setting_to_json(const struct setting *row, const void *obj)
{
	const char *field = (const char *)obj + row->off;
	const struct setting_choice *c;
	char buf[32];
	json_t *a;
	unsigned int i, n;

	switch (row->type) {
	case SETTING_TEXT:
	case SETTING_PATH:
	case SETTING_SDP_FILE:
		return *field ? json_string(field) : NULL;
	case SETTING_UINT:
		return json_integer((json_int_t)load_uint(field, row->size));
	case SETTING_BOOL:
		return json_boolean(*(const bool *)field);
	case SETTING_DURATION:
		return json_integer(
		    (json_int_t)(*(const uint64_t *)field /
				 (row->json_unit_ns ? row->json_unit_ns : 1)));
	case SETTING_ENUM:
		for (c = row->choices; c->name; c++)
			if (c->value == *(const int *)field)
				return json_string(c->name);
		return NULL;
	case SETTING_ENDPOINT:
		if (!((const struct sockaddr_in *)field)->sin_family)
			return NULL;
		return json_string(net_endpoint_str(
		    (const struct sockaddr_in *)field, buf, sizeof(buf)));
	case SETTING_ADDRESS:
		if (!*(const bool *)((const char *)obj + row->off2))
			return NULL;
		return json_string(inet_ntop(AF_INET, field, buf, sizeof(buf)));
	case SETTING_CHANNELS:
		n = *(const unsigned int *)((const char *)obj + row->off2);
		if (!n)
			return NULL;
		a = json_array();
		for (i = 0; i < n; i++)
			json_array_append_new(
			    a, json_integer((uint8_t)field[i] + 1));
		return a;
	case SETTING_RATE:
	case SETTING_PTIME:
		return json_integer(*(const uint32_t *)field);
	case SETTING_ENCODING:
		return json_string(
		    rtp_encoding_name(*(const enum rtp_encoding *)field));
	case SETTING_START:
	case SETTING_LEVELS:
	case SETTING_LINES:
		return NULL; /* INI-only types */
	}
	return NULL;
}

json_t *settings_to_json(enum settings_section sec, const void *obj,
			 unsigned int given)
{
	const struct setting *r;
	json_t *o = json_object();

	for (r = sections[sec].rows; !row_end(r); r++) {
		json_t *v;

		if (!r->json || (r->given && !(r->given & given)))
			continue;
		v = setting_to_json(r, obj);
		if (v)
			json_object_set_new(o, r->json, v);
	}
	return o;
}
