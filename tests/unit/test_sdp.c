/* SDP parser and writer: every fixture from real gear parses to what it
 * announces, bad input fails at the right line, any prefix or mutation of a
 * fixture is handled safely, and the writer's output parses back. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "discovery/sdp.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

struct blob {
	uint8_t *p;
	size_t n;
};

struct fixture {
	const char *file;
	uint64_t session_id;
	uint64_t session_version;
	const char *origin;
	const char *name;
	const char *info;
	const char *addr;
	int ttl;
	uint16_t port;
	uint8_t pt;
	const char *encoding;
	uint32_t rate;
	unsigned int channels;
	uint32_t ptime_us;
	uint32_t framecount;
	uint32_t frames;
	enum sdp_refclk_kind refclk;
	const char *gm_id;
	int domain;
	bool has_mediaclk;
	uint32_t mediaclk_offset;
	const char *source_filter; /* NULL: none */
	const char *direction;
};

/* Values read off the files in tests/data/sdp by hand. */
static const struct fixture fixtures[] = {
    {
	.file = "aes67-linux-daemon-2ch.sdp",
	.session_id = 2831159553,
	.session_version = 317021570,
	.origin = "192.168.1.17",
	.name = "Daemon a8c01101 ALSA Source 0",
	.info = "",
	.addr = "239.1.0.1",
	.ttl = 15,
	.port = 5004,
	.pt = 98,
	.encoding = "L24",
	.rate = 48000,
	.channels = 2,
	.ptime_us = 1000,
	.framecount = 48,
	.frames = 48,
	.refclk = SDP_REFCLK_PTP,
	.gm_id = "00-1D-C1-FF-FE-50-36-33",
	.domain = 0,
	.has_mediaclk = true,
	.mediaclk_offset = 0,
	.source_filter = "192.168.1.17",
	.direction = "recvonly",
    },
    {
	.file = "dante-avio-2ch.sdp",
	.session_id = 278034,
	.session_version = 278037,
	.origin = "10.1.1.22",
	.name = "AVIOUSBC-522880 : 2",
	.info = "2 channels: Left, Right",
	.addr = "239.69.165.50",
	.ttl = 32,
	.port = 5004,
	.pt = 97,
	.encoding = "L24",
	.rate = 48000,
	.channels = 2,
	.ptime_us = 1000,
	.framecount = 0,
	.frames = 48,
	.refclk = SDP_REFCLK_PTP,
	.gm_id = "00-1D-C1-FF-FE-52-28-80",
	.domain = 0,
	.has_mediaclk = true,
	.mediaclk_offset = 1266592257,
	.source_filter = NULL,
	.direction = "recvonly",
    },
    {
	.file = "dante-xcel-2ch.sdp",
	.session_id = 18311622000ull,
	.session_version = 18311622019ull,
	.origin = "192.168.178.114",
	.name = "XCEL-1201 : 32",
	.info = "2 channels: DANTE TX 01, DANTE TX 02",
	.addr = "239.69.224.56",
	.ttl = 32,
	.port = 5004,
	.pt = 97,
	.encoding = "L24",
	.rate = 48000,
	.channels = 2,
	.ptime_us = 1000,
	.framecount = 0,
	.frames = 48,
	.refclk = SDP_REFCLK_PTP,
	.gm_id = "2C-CF-67-FF-FE-75-93-93",
	.domain = 0,
	.has_mediaclk = true,
	.mediaclk_offset = 0,
	.source_filter = NULL,
	.direction = "recvonly",
    },
    {
	.file = "lawo-madi-64ch-first-leg.sdp",
	.session_id = 1731086923289383ull,
	.session_version = 0,
	.origin = "192.168.4.8",
	.name = "MADI-1",
	.info = "",
	.addr = "239.3.8.1",
	.ttl = 31,
	.port = 5004,
	.pt = 98,
	.encoding = "L24",
	.rate = 48000,
	.channels = 64,
	.ptime_us = 120,
	.framecount = 6,
	.frames = 6,
	.refclk = SDP_REFCLK_PTP,
	.gm_id = "00-0B-72-FF-FE-07-DC-FC",
	.domain = 0,
	.has_mediaclk = true,
	.mediaclk_offset = 0,
	.source_filter = "192.168.16.52",
	.direction = "recvonly",
    },
    {
	.file = "merging-anubis-l16.sdp",
	.session_id = 13,
	.session_version = 0,
	.origin = "192.168.16.51",
	.name = "Anubis Combo LR",
	.info = "",
	.addr = "239.1.16.51",
	.ttl = 15,
	.port = 5004,
	.pt = 98,
	.encoding = "L16",
	.rate = 48000,
	.channels = 2,
	.ptime_us = 1000,
	.framecount = 48,
	.frames = 48,
	.refclk = SDP_REFCLK_PTP,
	.gm_id = "30-D6-59-FF-FE-01-DB-72",
	.domain = 0,
	.has_mediaclk = true,
	.mediaclk_offset = 0,
	.source_filter = "192.168.16.51",
	.direction = "recvonly",
    },
};

/* A valid stream, one line per piece so error cases can break one. */
#define SDP_HEAD  "v=0\no=- 1 2 IN IP4 192.168.1.1\ns=test\n" /* lines 1-3 */
#define SDP_CONN  "c=IN IP4 239.69.1.1/32\n"		      /* line 4 */
#define SDP_TIME  "t=0 0\n"				      /* line 5 */
#define SDP_MEDIA "m=audio 5004 RTP/AVP 98\n"		      /* line 6 */
#define SDP_MAP	  "a=rtpmap:98 L24/48000/2\n"		      /* line 7 */
#define SDP_GOOD  SDP_HEAD SDP_CONN SDP_TIME SDP_MEDIA SDP_MAP

#define GM_DANTE "00-1D-C1-FF-FE-52-28-80"

static struct blob load_file(const char *path)
{
	struct blob b = {NULL, 0};
	FILE *f = fopen(path, "rb");
	long size = -1;

	if (!f)
		fail_msg("cannot open %s: %s", path, strerror(errno));
	if (fseek(f, 0, SEEK_END) == 0)
		size = ftell(f);
	if (size < 0 || fseek(f, 0, SEEK_SET) != 0)
		fail_msg("cannot size %s", path);
	b.n = (size_t)size;
	b.p = malloc(b.n ? b.n : 1);
	assert_non_null(b.p);
	assert_int_equal(fread(b.p, 1, b.n, f), b.n);
	fclose(f);
	return b;
}

static const char *sdp_dir(char *path, size_t len)
{
	const char *root = getenv("D4_TEST_DATA");

	if (!root)
		fail_msg("D4_TEST_DATA is not set (want .../tests/data)");
	snprintf(path, len, "%s/sdp", root);
	return path;
}

static struct blob load_fixture(const char *file)
{
	char dir[512], path[1024];

	snprintf(path, sizeof(path), "%s/%s", sdp_dir(dir, sizeof(dir)), file);
	return load_file(path);
}

/* Parses @len bytes from an exactly sized heap copy, so that ASan sees any
 * read past the end. */
static int parse_exact(const void *sdp, size_t len, struct sdp_stream *st,
		       char *err, size_t err_len)
{
	uint8_t *copy = malloc(len ? len : 1);
	int ret;

	assert_non_null(copy);
	if (len)
		memcpy(copy, sdp, len);
	ret = sdp_parse(copy, len, st, err, err_len);
	free(copy);
	return ret;
}

static void parse_ok(const void *sdp, size_t len, struct sdp_stream *st)
{
	char err[256] = "";
	int ret = parse_exact(sdp, len, st, err, sizeof(err));

	if (ret)
		fail_msg("sdp_parse returned %d: %s", ret, err);
}

static void parse_str(const char *sdp, struct sdp_stream *st)
{
	parse_ok(sdp, strlen(sdp), st);
}

static void assert_addr(struct in_addr a, const char *want)
{
	char ip[INET_ADDRSTRLEN];

	assert_non_null(inet_ntop(AF_INET, &a, ip, sizeof(ip)));
	assert_string_equal(ip, want);
}

static void assert_eui(const uint8_t *b, size_t count, const char *want)
{
	char s[32] = "";
	size_t i;

	for (i = 0; i < count; i++)
		snprintf(s + strlen(s), sizeof(s) - strlen(s),
			 i ? "-%02X" : "%02X", b[i]);
	assert_string_equal(s, want);
}

static void assert_streams_equal(const struct sdp_stream *a,
				 const struct sdp_stream *b)
{
	assert_string_equal(a->origin_user, b->origin_user);
	assert_true(a->session_id == b->session_id);
	assert_true(a->session_version == b->session_version);
	assert_int_equal(a->origin_addr.s_addr, b->origin_addr.s_addr);
	assert_string_equal(a->name, b->name);
	assert_string_equal(a->info, b->info);
	assert_int_equal(a->addr.s_addr, b->addr.s_addr);
	assert_int_equal(a->ttl, b->ttl);
	assert_int_equal(a->port, b->port);
	assert_int_equal(a->payload_type, b->payload_type);
	assert_string_equal(a->encoding, b->encoding);
	assert_int_equal(a->rate, b->rate);
	assert_int_equal(a->channels, b->channels);
	assert_int_equal(a->ptime_us, b->ptime_us);
	assert_int_equal(a->framecount, b->framecount);
	assert_int_equal(a->refclk, b->refclk);
	assert_string_equal(a->refclk_version, b->refclk_version);
	assert_memory_equal(a->gm_id, b->gm_id, sizeof(a->gm_id));
	assert_int_equal(a->ptp_domain, b->ptp_domain);
	assert_int_equal(a->has_mediaclk, b->has_mediaclk);
	assert_int_equal(a->mediaclk_offset, b->mediaclk_offset);
	assert_int_equal(a->has_source_filter, b->has_source_filter);
	assert_int_equal(a->source_filter.s_addr, b->source_filter.s_addr);
	assert_string_equal(a->direction, b->direction);
	assert_string_equal(a->channel_order, b->channel_order);
	assert_string_equal(a->mid, b->mid);
	assert_int_equal(a->dup.present, b->dup.present);
	assert_string_equal(a->dup.mid, b->dup.mid);
	assert_int_equal(a->dup.addr.s_addr, b->dup.addr.s_addr);
	assert_int_equal(a->dup.ttl, b->dup.ttl);
	assert_int_equal(a->dup.port, b->dup.port);
	assert_int_equal(a->dup.has_source_filter, b->dup.has_source_filter);
	assert_int_equal(a->dup.source_filter.s_addr,
			 b->dup.source_filter.s_addr);
}

static const struct fixture *find_fixture(const char *file)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(fixtures); i++)
		if (strcmp(fixtures[i].file, file) == 0)
			return &fixtures[i];
	return NULL;
}

static void check_fixture(const char *file)
{
	const struct fixture *fx = find_fixture(file);
	struct sdp_stream st;
	struct blob b;

	assert_non_null(fx);
	b = load_fixture(file);
	parse_ok(b.p, b.n, &st);
	free(b.p);

	assert_string_equal(st.origin_user, "");
	assert_true(st.session_id == fx->session_id);
	assert_true(st.session_version == fx->session_version);
	assert_addr(st.origin_addr, fx->origin);
	assert_string_equal(st.name, fx->name);
	assert_string_equal(st.info, fx->info);
	assert_addr(st.addr, fx->addr);
	assert_int_equal(st.ttl, fx->ttl);
	assert_int_equal(st.port, fx->port);
	assert_int_equal(st.payload_type, fx->pt);
	assert_string_equal(st.encoding, fx->encoding);
	assert_int_equal(st.rate, fx->rate);
	assert_int_equal(st.channels, fx->channels);
	assert_int_equal(st.ptime_us, fx->ptime_us);
	assert_int_equal(st.framecount, fx->framecount);
	assert_int_equal(sdp_frames_per_packet(&st), fx->frames);
	assert_int_equal(st.refclk, fx->refclk);
	assert_string_equal(st.refclk_version, "IEEE1588-2008");
	assert_eui(st.gm_id, 8, fx->gm_id);
	assert_int_equal(st.ptp_domain, fx->domain);
	assert_int_equal(st.has_mediaclk, fx->has_mediaclk);
	assert_int_equal(st.mediaclk_offset, fx->mediaclk_offset);
	assert_int_equal(st.has_source_filter, fx->source_filter != NULL);
	if (fx->source_filter)
		assert_addr(st.source_filter, fx->source_filter);
	assert_string_equal(st.direction, fx->direction);
}

/* @b with every line ending rewritten as @eol. */
static struct blob with_line_endings(struct blob b, const char *eol)
{
	struct blob out = {malloc(b.n * 2 + 1), 0};
	size_t i;

	assert_non_null(out.p);
	for (i = 0; i < b.n; i++) {
		if (b.p[i] == '\r')
			continue;
		if (b.p[i] == '\n') {
			memcpy(out.p + out.n, eol, strlen(eol));
			out.n += strlen(eol);
		} else {
			out.p[out.n++] = b.p[i];
		}
	}
	return out;
}

static void make_stream(struct sdp_stream *st)
{
	static const uint8_t gm[8] = {0x00, 0x1d, 0xc1, 0xff,
				      0xfe, 0x52, 0x28, 0x80};

	memset(st, 0, sizeof(*st));
	st->session_id = 42;
	st->session_version = 7;
	inet_pton(AF_INET, "192.168.1.10", &st->origin_addr);
	snprintf(st->name, sizeof(st->name), "d4 test");
	snprintf(st->info, sizeof(st->info), "2 channels: L, R");
	inet_pton(AF_INET, "239.69.1.2", &st->addr);
	st->ttl = 32;
	st->port = 5004;
	st->payload_type = 98;
	snprintf(st->encoding, sizeof(st->encoding), "L24");
	st->rate = 48000;
	st->channels = 2;
	st->ptime_us = 125;
	st->framecount = 6;
	st->refclk = SDP_REFCLK_PTP;
	snprintf(st->refclk_version, sizeof(st->refclk_version),
		 "IEEE1588-2008");
	memcpy(st->gm_id, gm, sizeof(gm));
	st->ptp_domain = 0;
	st->has_mediaclk = true;
	st->mediaclk_offset = 1266592257;
	st->has_source_filter = true;
	inet_pton(AF_INET, "192.168.1.10", &st->source_filter);
	snprintf(st->direction, sizeof(st->direction), "recvonly");
	st->dup.ttl = -1;
}

static void write_ok(const struct sdp_stream *st, char *buf, size_t len)
{
	int n = sdp_write(st, buf, len);

	if (n < 0)
		fail_msg("sdp_write returned %d", n);
	assert_int_equal((size_t)n, strlen(buf));
}

/* Parses SDP_GOOD followed by @extra media-level lines. */
static void parse_with_media_lines(const char *extra, struct sdp_stream *st)
{
	char sdp[1024];

	snprintf(sdp, sizeof(sdp), "%s%s", SDP_GOOD, extra);
	parse_str(sdp, st);
}

static void test_sdp_parses_aes67_linux_daemon_fixture(void **state)
{
	(void)state;
	check_fixture("aes67-linux-daemon-2ch.sdp");
}

static void test_sdp_parses_dante_avio_fixture(void **state)
{
	(void)state;
	check_fixture("dante-avio-2ch.sdp");
}

static void test_sdp_parses_dante_xcel_fixture(void **state)
{
	(void)state;
	check_fixture("dante-xcel-2ch.sdp");
}

static void test_sdp_parses_lawo_madi_first_leg_fixture(void **state)
{
	(void)state;
	check_fixture("lawo-madi-64ch-first-leg.sdp");
}

static void test_sdp_parses_merging_anubis_fixture(void **state)
{
	(void)state;
	check_fixture("merging-anubis-l16.sdp");
}

/* expect.tsv: one row per SDP file, the columns its header names. */
enum {
	X_FILE,
	X_ADDR,
	X_PORT,
	X_TTL,
	X_PT,
	X_ENC,
	X_RATE,
	X_CHANNELS,
	X_PTIME,
	X_FRAMECOUNT,
	X_FRAMES,
	X_REFCLK,
	X_GM,
	X_DOMAIN,
	X_MEDIACLK,
	X_SF,
	X_CHORDER,
	X_MID,
	X_DUP_ADDR,
	X_DUP_PORT,
	X_DUP_TTL,
	X_DUP_MID,
	X_DUP_SF,
	X_DIRECTION,
	X_COLS,
};

/* The row of @file in expect.tsv, split into @col (pointing into @line);
 * false when it has none. */
static bool expect_row(const char *file, char *line, size_t len,
		       char *col[X_COLS])
{
	char dir[512], path[1024];
	bool found = false;
	FILE *f;

	snprintf(path, sizeof(path), "%s/expect.tsv",
		 sdp_dir(dir, sizeof(dir)));
	f = fopen(path, "r");
	if (!f)
		fail_msg("cannot open %s: %s", path, strerror(errno));
	while (!found && fgets(line, (int)len, f)) {
		char *save = NULL, *tok;
		int n = 0;

		if (line[0] == '#')
			continue;
		line[strcspn(line, "\n")] = '\0';
		for (tok = strtok_r(line, "\t", &save); tok && n < X_COLS;
		     tok = strtok_r(NULL, "\t", &save))
			col[n++] = tok;
		if (n != X_COLS)
			fail_msg("expect.tsv: a row with %d columns", n);
		found = strcmp(col[X_FILE], file) == 0;
	}
	fclose(f);
	return found;
}

static void assert_text_or_dash(const char *got, const char *want)
{
	assert_string_equal(got, strcmp(want, "-") ? want : "");
}

static void check_expect_row(const char *file, char *col[X_COLS])
{
	static const char *const refclks[] = {
	    [SDP_REFCLK_NONE] = "none",
	    [SDP_REFCLK_PTP] = "ptp",
	    [SDP_REFCLK_PTP_TRACEABLE] = "traceable",
	    [SDP_REFCLK_LOCALMAC] = "localmac",
	    [SDP_REFCLK_OTHER] = "other",
	};
	struct sdp_stream st;
	struct blob b = load_fixture(file);

	parse_ok(b.p, b.n, &st);
	free(b.p);
	assert_addr(st.addr, col[X_ADDR]);
	assert_int_equal(st.port, atoi(col[X_PORT]));
	assert_int_equal(st.ttl, atoi(col[X_TTL]));
	assert_int_equal(st.payload_type, atoi(col[X_PT]));
	assert_string_equal(st.encoding, col[X_ENC]);
	assert_int_equal(st.rate, atoi(col[X_RATE]));
	assert_int_equal(st.channels, atoi(col[X_CHANNELS]));
	assert_int_equal(st.ptime_us, atoi(col[X_PTIME]));
	assert_int_equal(st.framecount, atoi(col[X_FRAMECOUNT]));
	assert_int_equal(sdp_frames_per_packet(&st), atoi(col[X_FRAMES]));
	assert_string_equal(refclks[st.refclk], col[X_REFCLK]);
	if (strcmp(col[X_GM], "-"))
		assert_eui(st.gm_id, 8, col[X_GM]);
	assert_int_equal(st.ptp_domain, atoi(col[X_DOMAIN]));
	assert_int_equal(st.has_mediaclk, strcmp(col[X_MEDIACLK], "-") != 0);
	if (st.has_mediaclk)
		assert_int_equal(st.mediaclk_offset,
				 strtoul(col[X_MEDIACLK], NULL, 10));
	assert_int_equal(st.has_source_filter, strcmp(col[X_SF], "-") != 0);
	if (st.has_source_filter)
		assert_addr(st.source_filter, col[X_SF]);
	assert_text_or_dash(st.channel_order, col[X_CHORDER]);
	assert_text_or_dash(st.mid, col[X_MID]);
	assert_int_equal(st.dup.present, strcmp(col[X_DUP_ADDR], "-") != 0);
	if (st.dup.present) {
		assert_addr(st.dup.addr, col[X_DUP_ADDR]);
		assert_int_equal(st.dup.port, atoi(col[X_DUP_PORT]));
		assert_int_equal(st.dup.ttl, atoi(col[X_DUP_TTL]));
		assert_string_equal(st.dup.mid, col[X_DUP_MID]);
		assert_int_equal(st.dup.has_source_filter,
				 strcmp(col[X_DUP_SF], "-") != 0);
		if (st.dup.has_source_filter)
			assert_addr(st.dup.source_filter, col[X_DUP_SF]);
	}
	assert_text_or_dash(st.direction, col[X_DIRECTION]);
}

static bool is_sdp_file(const char *name)
{
	size_t n = strlen(name);

	return n >= 5 && strcmp(name + n - 4, ".sdp") == 0;
}

/* Calls @fn for every .sdp file of @dir; returns how many. */
static int for_each_sdp(const char *dir,
			void (*fn)(const char *dir, const char *file))
{
	struct dirent *de;
	DIR *d = opendir(dir);
	int seen = 0;

	if (!d)
		fail_msg("cannot open %s: %s", dir, strerror(errno));
	while ((de = readdir(d))) {
		if (!is_sdp_file(de->d_name))
			continue;
		fn(dir, de->d_name);
		seen++;
	}
	closedir(d);
	return seen;
}

/* The corpus: every file has a row (fixtures[] or expect.tsv) and parses
 * to it. New files need a row and a line in PROVENANCE. */
static void check_corpus_file(const char *dir, const char *file)
{
	char line[1024], *col[X_COLS];
	bool in_tsv = expect_row(file, line, sizeof(line), col);

	(void)dir;
	if (find_fixture(file))
		check_fixture(file);
	if (in_tsv)
		check_expect_row(file, col);
	if (!find_fixture(file) && !in_tsv)
		fail_msg("%s has no row in fixtures[] or expect.tsv", file);
}

static void test_sdp_parses_every_fixture_in_data_dir(void **state)
{
	char dir[512];

	(void)state;
	/* issue 22: at least 25 real SDPs */
	assert_true(
	    for_each_sdp(sdp_dir(dir, sizeof(dir)), check_corpus_file) >= 25);
}

static void check_provenance_names(const char *dir, const char *file)
{
	char path[1024];
	struct blob b;

	snprintf(path, sizeof(path), "%s/PROVENANCE", dir);
	b = load_file(path);
	b.p = realloc(b.p, b.n + 1);
	assert_non_null(b.p);
	b.p[b.n] = '\0';
	if (!strstr((char *)b.p, file))
		fail_msg("%s is not in PROVENANCE", file);
	free(b.p);
}

static void test_sdp_every_fixture_has_provenance(void **state)
{
	char dir[512];

	(void)state;
	for_each_sdp(sdp_dir(dir, sizeof(dir)), check_provenance_names);
}

static void check_parses(const char *dir, const char *file)
{
	char path[1024];
	struct sdp_stream st;
	struct blob b;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	b = load_file(path);
	parse_ok(b.p, b.n, &st);
	free(b.p);
}

/* The project's shared interop folder (beside the checkout) holds SDPs of
 * real gear too; every one must parse. Run when meson found the folder. */
static void test_sdp_parses_every_shared_interop_sdp(void **state)
{
	(void)state;
	assert_true(for_each_sdp(getenv("D4_SHARED_SDP"), check_parses) >= 1);
}

static void test_sdp_parses_crlf_and_lf(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(fixtures); i++) {
		struct blob b = load_fixture(fixtures[i].file);
		struct blob lf = with_line_endings(b, "\n");
		struct blob crlf = with_line_endings(b, "\r\n");
		struct sdp_stream a, c;

		assert_null(memchr(lf.p, '\r', lf.n));
		parse_ok(lf.p, lf.n, &a);
		parse_ok(crlf.p, crlf.n, &c);
		assert_streams_equal(&a, &c);
		free(b.p);
		free(lf.p);
		free(crlf.p);
	}
}

static void test_sdp_parses_last_line_without_newline(void **state)
{
	static const char sdp[] = SDP_GOOD "a=ptime:0.25";
	struct sdp_stream st;

	(void)state;
	parse_str(sdp, &st);
	assert_int_equal(st.ptime_us, 250);
}

static void test_sdp_media_c_wins_over_session_c(void **state)
{
	struct sdp_stream st;

	(void)state;
	parse_str(SDP_HEAD SDP_CONN SDP_TIME SDP_MEDIA
		  "c=IN IP4 239.1.2.3/15\n" SDP_MAP,
		  &st);
	assert_addr(st.addr, "239.1.2.3");
	assert_int_equal(st.ttl, 15);
}

static void test_sdp_session_c_applies_when_media_has_none(void **state)
{
	struct sdp_stream st;

	(void)state;
	parse_str(SDP_GOOD, &st);
	assert_addr(st.addr, "239.69.1.1");
	assert_int_equal(st.ttl, 32);
}

static void test_sdp_parses_ttl_suffixes(void **state)
{
	static const struct {
		const char *conn;
		int ttl;
	} cases[] = {
	    {"c=IN IP4 239.69.1.1/32\n", 32},
	    {"c=IN IP4 239.69.1.1/15\n", 15},
	    {"c=IN IP4 239.69.1.1/31\n", 31},
	    {"c=IN IP4 239.69.1.1/0\n", 0},
	    {"c=IN IP4 239.69.1.1/255\n", 255},
	    {"c=IN IP4 239.69.1.1/32/2\n", 32},
	    {"c=IN IP4 239.69.1.1\n", -1},
	};
	char sdp[256];
	struct sdp_stream st;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		snprintf(sdp, sizeof(sdp), "%s%s%s", SDP_HEAD, cases[i].conn,
			 SDP_TIME SDP_MEDIA SDP_MAP);
		parse_str(sdp, &st);
		assert_addr(st.addr, "239.69.1.1");
		assert_int_equal(st.ttl, cases[i].ttl);
	}
}

static void test_sdp_ignores_ttl_on_unicast_address(void **state)
{
	struct sdp_stream st;

	(void)state;
	parse_str(SDP_HEAD
		  "c=IN IP4 192.168.1.5/32\n" SDP_TIME SDP_MEDIA SDP_MAP,
		  &st);
	assert_addr(st.addr, "192.168.1.5");
	assert_int_equal(st.ttl, -1);
}

static void test_sdp_rounds_fractional_ptime(void **state)
{
	static const struct {
		const char *ptime;
		uint32_t rate;
		uint32_t ptime_us;
		uint32_t frames;
	} cases[] = {
	    {"0.12", 48000, 120, 6}, /* 5.76 frames */
	    {"0.125", 48000, 125, 6},
	    {"0.25", 48000, 250, 12},
	    {"0.333", 48000, 333, 16},
	    {"0.33", 48000, 330, 16},
	    {"1", 48000, 1000, 48},
	    {"4", 48000, 4000, 192},
	    {"1.08843537415", 44100, 1088, 48},
	    /* half a µs rounds up, just below rounds down: both refused
	     * now (no frame, no time), test_sdp_reports_errors_with_line_numbers */
	    {"2.9999999", 48000, 3000, 144},
	};
	char sdp[512];
	struct sdp_stream st;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		snprintf(sdp, sizeof(sdp),
			 SDP_HEAD SDP_CONN SDP_TIME SDP_MEDIA
			 "a=rtpmap:98 L24/%u/2\na=ptime:%s\n",
			 cases[i].rate, cases[i].ptime);
		parse_str(sdp, &st);
		assert_int_equal(st.ptime_us, cases[i].ptime_us);
		assert_int_equal(st.framecount, 0);
		assert_int_equal(sdp_frames_per_packet(&st), cases[i].frames);
	}
}

static void test_sdp_frames_per_packet_prefers_framecount(void **state)
{
	struct sdp_stream st;

	(void)state;
	parse_with_media_lines("a=ptime:0.12\na=framecount:6\n", &st);
	assert_int_equal(st.ptime_us, 120);
	assert_int_equal(st.framecount, 6);
	assert_int_equal(sdp_frames_per_packet(&st), 6);

	/* framecount is exact; it wins even where ptime disagrees */
	parse_with_media_lines("a=ptime:1\na=framecount:47\n", &st);
	assert_int_equal(sdp_frames_per_packet(&st), 47);
}

static void test_sdp_frames_per_packet_is_zero_when_unknown(void **state)
{
	struct sdp_stream st;

	(void)state;
	parse_str(SDP_GOOD, &st);
	assert_int_equal(st.ptime_us, 0);
	assert_int_equal(st.framecount, 0);
	assert_int_equal(sdp_frames_per_packet(&st), 0);

	memset(&st, 0, sizeof(st));
	st.ptime_us = 1000;
	assert_int_equal(sdp_frames_per_packet(&st), 0);
}

static void test_sdp_takes_first_audio_section_of_dup_group(void **state)
{
	/* a second leg with a bad line is dropped; the stream stays */
	static const char sdp[] =
	    "v=0\r\n"
	    "o=- 1731086923289383 0 IN IP4 192.168.4.8\r\n"
	    "s=MADI-1\r\n"
	    "t=0 0\r\n"
	    "a=group:DUP primary secondary\r\n"
	    "m=audio 5004 RTP/AVP 98\r\n"
	    "c=IN IP4 239.3.8.1/31\r\n"
	    "a=rtpmap:98 L24/48000/64\r\n"
	    "a=framecount:6\r\n"
	    "a=ptime:0.12\r\n"
	    "a=mid:primary\r\n"
	    "m=audio 5006 RTP/AVP 99\r\n"
	    "c=IN IP4 239.4.8.1/31\r\n"
	    "a=rtpmap:98 L16/44100/2\r\n"
	    "a=ptime:nonsense\r\n"
	    "a=mid:secondary\r\n";
	struct sdp_stream st;

	(void)state;
	parse_str(sdp, &st);
	assert_addr(st.addr, "239.3.8.1");
	assert_int_equal(st.port, 5004);
	assert_int_equal(st.payload_type, 98);
	assert_string_equal(st.encoding, "L24");
	assert_int_equal(st.channels, 64);
	assert_int_equal(st.ptime_us, 120);
	assert_string_equal(st.mid, "primary");
	assert_false(st.dup.present);
}

#define DUP_HEAD "v=0\r\no=- 9 9 IN IP4 10.0.0.9\r\ns=dup\r\nt=0 0\r\n"
#define DUP_LEG(port, addr, mid)                                               \
	"m=audio " port " RTP/AVP 98\r\nc=IN IP4 " addr "/32\r\n"              \
	"a=rtpmap:98 L24/48000/2\r\na=mid:" mid "\r\n"

static void test_sdp_exposes_the_second_leg_of_a_dup_group(void **state)
{
	static const char sdp[] =
	    DUP_HEAD "a=group:DUP a b\r\n" DUP_LEG("5004", "239.69.0.1", "a")
	    /* not in the group: not a leg */
	    DUP_LEG("5008", "239.69.0.3",
		    "c") "m=video 5010 RTP/AVP 96\r\n"
			 "m=audio 5006 RTP/AVP 98\r\nc=IN IP4 239.69.0.2/16\r\n"
			 "a=rtpmap:98 L24/48000/2\r\n"
			 "a=source-filter: incl IN IP4 239.69.0.2 10.0.0.10\r\n"
			 "a=mid:b\r\n";
	struct sdp_stream st;

	(void)state;
	parse_str(sdp, &st);
	assert_addr(st.addr, "239.69.0.1");
	assert_int_equal(st.port, 5004);
	assert_string_equal(st.mid, "a");
	assert_true(st.dup.present);
	assert_string_equal(st.dup.mid, "b");
	assert_addr(st.dup.addr, "239.69.0.2");
	assert_int_equal(st.dup.port, 5006);
	assert_int_equal(st.dup.ttl, 16);
	assert_true(st.dup.has_source_filter);
	assert_addr(st.dup.source_filter, "10.0.0.10");
}

static void test_sdp_needs_group_and_mids_for_a_second_leg(void **state)
{
	struct sdp_stream st;

	(void)state;
	/* no a=group:DUP */
	parse_str(DUP_HEAD DUP_LEG("5004", "239.69.0.1", "a")
		      DUP_LEG("5006", "239.69.0.2", "b"),
		  &st);
	assert_false(st.dup.present);
	/* the first section is not in the group */
	parse_str(DUP_HEAD
		  "a=group:DUP b c\r\n" DUP_LEG("5004", "239.69.0.1", "a")
		      DUP_LEG("5006", "239.69.0.2", "b"),
		  &st);
	assert_false(st.dup.present);
	/* the same mid twice is one leg, not two */
	parse_str(DUP_HEAD
		  "a=group:DUP a b\r\n" DUP_LEG("5004", "239.69.0.1", "a")
		      DUP_LEG("5006", "239.69.0.2", "a"),
		  &st);
	assert_false(st.dup.present);
	/* a leg whose c= is bad is dropped; the first leg plays */
	parse_str(DUP_HEAD
		  "a=group:DUP a b\r\n" DUP_LEG("5004", "239.69.0.1", "a")
		      DUP_LEG("5006", "239.69.0", "b"),
		  &st);
	assert_false(st.dup.present);
	assert_addr(st.addr, "239.69.0.1");
	/* a leg without c= of its own takes the session's */
	parse_str("v=0\no=- 9 9 IN IP4 10.0.0.9\ns=dup\nc=IN IP4 "
		  "239.69.0.7/32\nt=0 0\na=group:DUP a b\n"
		  "m=audio 5004 RTP/AVP 98\na=rtpmap:98 L24/48000/2\n"
		  "a=mid:a\nm=audio 5006 RTP/AVP 98\na=mid:b\n",
		  &st);
	assert_true(st.dup.present);
	assert_addr(st.dup.addr, "239.69.0.7");
	assert_int_equal(st.dup.port, 5006);
	/* port 0, an address nothing is sent to, a group of the local
	 * network control block (an attacker's mDNS group on leg B): no
	 * leg; the first plays */
	parse_str(DUP_HEAD
		  "a=group:DUP a b\r\n" DUP_LEG("5004", "239.69.0.1", "a")
		      DUP_LEG("0", "239.69.0.2", "b"),
		  &st);
	assert_false(st.dup.present);
	parse_str(DUP_HEAD
		  "a=group:DUP a b\r\n" DUP_LEG("5004", "239.69.0.1", "a")
		      DUP_LEG("5006", "0.0.0.0", "b"),
		  &st);
	assert_false(st.dup.present);
	parse_str(DUP_HEAD
		  "a=group:DUP a b\r\n" DUP_LEG("5004", "239.69.0.1", "a")
		      DUP_LEG("5006", "255.255.255.255", "b"),
		  &st);
	assert_false(st.dup.present);
	parse_str(DUP_HEAD
		  "a=group:DUP a b\r\n" DUP_LEG("5004", "239.69.0.1", "a")
		      DUP_LEG("5353", "224.0.0.251", "b"),
		  &st);
	assert_false(st.dup.present);
	assert_addr(st.addr, "239.69.0.1");
}

/* The first audio section on port 0 (RFC 3264: turned off) is no
 * stream: refused, saying so (it was taken as "239.69.23.1:0"). */
static void test_sdp_refuses_a_stream_on_port_0(void **state)
{
	struct sdp_stream st;
	char err[128];

	(void)state;
	assert_int_equal(
	    sdp_parse((const uint8_t *)DUP_HEAD DUP_LEG("0", "239.69.0.1", "a"),
		      strlen(DUP_HEAD DUP_LEG("0", "239.69.0.1", "a")), &st, err,
		      sizeof(err)),
	    -EINVAL);
	assert_string_equal(err, "line 5: m=audio on port 0: the stream is off");
}

/* ST 2022-7 legs carry the same packets: a section the group names but
 * of another payload type, encoding, rate or channel count cannot be
 * merged with the first; it is left out, said, and the first plays. */
static void test_sdp_leaves_out_a_dup_leg_of_another_format(void **state)
{
	static const char *const legs[] = {
	    /* another payload type */
	    "m=audio 5006 RTP/AVP 97\r\nc=IN IP4 239.69.0.2/32\r\n"
	    "a=rtpmap:97 L24/48000/2\r\na=mid:b\r\n",
	    /* another encoding */
	    "m=audio 5006 RTP/AVP 98\r\nc=IN IP4 239.69.0.2/32\r\n"
	    "a=rtpmap:98 L16/48000/2\r\na=mid:b\r\n",
	    /* another rate */
	    "m=audio 5006 RTP/AVP 98\r\nc=IN IP4 239.69.0.2/32\r\n"
	    "a=rtpmap:98 L24/96000/2\r\na=mid:b\r\n",
	    /* another channel count (none written: 1) */
	    "m=audio 5006 RTP/AVP 98\r\nc=IN IP4 239.69.0.2/32\r\n"
	    "a=rtpmap:98 L24/48000\r\na=mid:b\r\n",
	    /* another packet time (the first's: 1 ms, below) */
	    "m=audio 5006 RTP/AVP 98\r\nc=IN IP4 239.69.0.2/32\r\n"
	    "a=rtpmap:98 L24/48000/2\r\na=ptime:0.125\r\na=mid:b\r\n",
	};
	char text[1024];
	struct sdp_stream st;

	(void)state;
	for (size_t i = 0; i < sizeof(legs) / sizeof(legs[0]); i++) {
		snprintf(text, sizeof(text), "%s%s%s%s%s", DUP_HEAD,
			 "a=group:DUP a b\r\n",
			 DUP_LEG("5004", "239.69.0.1", "a"), "a=ptime:1\r\n",
			 legs[i]);
		parse_str(text, &st);
		assert_false(st.dup.present);
		assert_addr(st.addr, "239.69.0.1");
		assert_non_null(strstr(st.dup_left_out,
				       "the DUP leg a=mid:b (line 11) is of "
				       "another format than the first"));
	}
	/* the same format, "l24" written in lower case: a leg */
	parse_str(DUP_HEAD "a=group:DUP a b\r\n" DUP_LEG(
		      "5004", "239.69.0.1",
		      "a") "m=audio 5006 RTP/AVP 98\r\nc=IN IP4 "
			   "239.69.0.2/32\r\na=rtpmap:98 l24/48000/2\r\n"
			   "a=mid:b\r\n",
		  &st);
	assert_true(st.dup.present);
	assert_string_equal(st.dup_left_out, "");
}

static void test_sdp_accepts_ptp_traceable_without_version(void **state)
{
	struct sdp_stream st;

	(void)state;
	parse_with_media_lines("a=ts-refclk:ptp=traceable\n", &st);
	assert_int_equal(st.refclk, SDP_REFCLK_PTP_TRACEABLE);
	assert_string_equal(st.refclk_version, "IEEE1588-2008");
	assert_int_equal(st.ptp_domain, -1);
}

static void test_sdp_skips_a_framecount_range(void **state)
{
	struct sdp_stream st;

	(void)state;
	parse_with_media_lines("a=framecount:64-192\na=ptime:4\n", &st);
	assert_int_equal(st.framecount, 0);
	assert_int_equal(sdp_frames_per_packet(&st), 192);
	/* a range is two numbers, not anything with a dash */
	parse_with_media_lines("a=framecount:48\n", &st);
	assert_int_equal(st.framecount, 48);
}

static void test_sdp_parses_st2110_channel_order(void **state)
{
	struct sdp_stream st, back;
	char buf[1024];

	(void)state;
	parse_with_media_lines(
	    "a=fmtp:98 TSMODE=SAMP; channel-order=SMPTE2110.(ST,U02)\n", &st);
	assert_string_equal(st.channel_order, "SMPTE2110.(ST,U02)");
	write_ok(&st, buf, sizeof(buf));
	assert_non_null(
	    strstr(buf, "a=fmtp:98 channel-order=SMPTE2110.(ST,U02)\r\n"));
	parse_str(buf, &back);
	assert_streams_equal(&st, &back);
	/* another payload type's fmtp is not the stream's */
	parse_with_media_lines("a=fmtp:99 channel-order=SMPTE2110.(M)\n", &st);
	assert_string_equal(st.channel_order, "");
}

static void test_sdp_skips_non_audio_sections_before_audio(void **state)
{
	static const char sdp[] = SDP_HEAD SDP_CONN SDP_TIME
	    "m=video 5010 RTP/AVP 96\n"
	    "c=IN IP4 239.9.9.9/32\n"
	    "a=rtpmap:96 H264/90000\n"
	    "a=ptime:40\n"
	    "m=application 5020 TCP wb\n" SDP_MEDIA SDP_MAP "a=ptime:1\n";
	struct sdp_stream st;

	(void)state;
	parse_str(sdp, &st);
	assert_addr(st.addr, "239.69.1.1");
	assert_int_equal(st.port, 5004);
	assert_string_equal(st.encoding, "L24");
	assert_int_equal(st.ptime_us, 1000);
}

static void test_sdp_session_mediaclk_applies_when_media_has_none(void **state)
{
	struct sdp_stream st;

	(void)state;
	parse_str(SDP_HEAD SDP_CONN SDP_TIME
		  "a=mediaclk:direct=963214424\n" SDP_MEDIA SDP_MAP,
		  &st);
	assert_true(st.has_mediaclk);
	assert_int_equal(st.mediaclk_offset, 963214424);
}

static void test_sdp_media_mediaclk_wins_over_session(void **state)
{
	struct sdp_stream st;

	(void)state;
	parse_str(SDP_HEAD SDP_CONN SDP_TIME
		  "a=mediaclk:direct=5\n" SDP_MEDIA SDP_MAP
		  "a=mediaclk:direct=4294967295 rate=48000/1\n",
		  &st);
	assert_true(st.has_mediaclk);
	assert_int_equal(st.mediaclk_offset, 4294967295u);
}

static void test_sdp_parses_mediaclk_without_offset_as_zero(void **state)
{
	struct sdp_stream st;

	(void)state;
	parse_with_media_lines("a=mediaclk:direct\n", &st);
	assert_true(st.has_mediaclk);
	assert_int_equal(st.mediaclk_offset, 0);

	parse_with_media_lines("a=mediaclk:sender\n", &st);
	assert_false(st.has_mediaclk);
}

static void test_sdp_parses_every_ts_refclk_form(void **state)
{
	static const struct {
		const char *value;
		enum sdp_refclk_kind kind;
		const char *version;
		const char *gm_id; /* as 8 bytes */
		int domain;
	} cases[] = {
	    {"ptp=IEEE1588-2008:" GM_DANTE ":0", SDP_REFCLK_PTP,
	     "IEEE1588-2008", GM_DANTE, 0},
	    {"ptp=IEEE1588-2008:00-1d-c1-ff-fe-52-28-80:127", SDP_REFCLK_PTP,
	     "IEEE1588-2008", GM_DANTE, 127},
	    {"ptp=IEEE1588-2008:" GM_DANTE ":domain-nmbr=3", SDP_REFCLK_PTP,
	     "IEEE1588-2008", GM_DANTE, 3},
	    {"ptp=IEEE1588-2008:" GM_DANTE, SDP_REFCLK_PTP, "IEEE1588-2008",
	     GM_DANTE, -1},
	    {"ptp=IEEE1588-2002:" GM_DANTE, SDP_REFCLK_PTP, "IEEE1588-2002",
	     GM_DANTE, -1},
	    {"ptp=IEEE1588-2002:" GM_DANTE ":domain-name=_ALT1", SDP_REFCLK_PTP,
	     "IEEE1588-2002", GM_DANTE, 1},
	    {"ptp=IEEE1588-2002:" GM_DANTE ":domain-name=studio",
	     SDP_REFCLK_PTP, "IEEE1588-2002", GM_DANTE, -1},
	    {"ptp=IEEE1588-2019:" GM_DANTE ":5", SDP_REFCLK_PTP,
	     "IEEE1588-2019", GM_DANTE, 5},
	    {"ptp=IEEE802.1AS-2011:" GM_DANTE, SDP_REFCLK_PTP,
	     "IEEE802.1AS-2011", GM_DANTE, -1},
	    {"ptp=IEEE1588-2008:traceable", SDP_REFCLK_PTP_TRACEABLE,
	     "IEEE1588-2008", "00-00-00-00-00-00-00-00", -1},
	    {"ptp=IEEE802.1AS-2011:traceable", SDP_REFCLK_PTP_TRACEABLE,
	     "IEEE802.1AS-2011", "00-00-00-00-00-00-00-00", -1},
	    {"localmac=00-1D-C1-52-28-80", SDP_REFCLK_LOCALMAC, "",
	     "00-1D-C1-52-28-80-00-00", -1},
	    {" ptp=IEEE1588-2008:" GM_DANTE ":0", SDP_REFCLK_PTP,
	     "IEEE1588-2008", GM_DANTE, 0},
	    {"local", SDP_REFCLK_OTHER, "local", "00-00-00-00-00-00-00-00", -1},
	    {"ntp=/traceable/", SDP_REFCLK_OTHER, "ntp=/traceable/",
	     "00-00-00-00-00-00-00-00", -1},
	};
	char line[128];
	struct sdp_stream st;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		snprintf(line, sizeof(line), "a=ts-refclk:%s\n",
			 cases[i].value);
		parse_with_media_lines(line, &st);
		assert_int_equal(st.refclk, cases[i].kind);
		assert_string_equal(st.refclk_version, cases[i].version);
		assert_eui(st.gm_id, 8, cases[i].gm_id);
		assert_int_equal(st.ptp_domain, cases[i].domain);
	}
}

static void test_sdp_session_ts_refclk_applies_when_media_has_none(void **state)
{
	struct sdp_stream st;

	(void)state;
	parse_str(SDP_HEAD SDP_CONN SDP_TIME
		  "a=ts-refclk:ptp=IEEE1588-2008:" GM_DANTE
		  ":0\n" SDP_MEDIA SDP_MAP,
		  &st);
	assert_int_equal(st.refclk, SDP_REFCLK_PTP);
	assert_eui(st.gm_id, 8, GM_DANTE);
	assert_int_equal(st.ptp_domain, 0);
}

static void test_sdp_media_ts_refclk_wins_over_session(void **state)
{
	struct sdp_stream st;

	(void)state;
	parse_str(SDP_HEAD SDP_CONN SDP_TIME
		  "a=ts-refclk:ptp=IEEE1588-2008:" GM_DANTE
		  ":0\n" SDP_MEDIA SDP_MAP "a=ts-refclk:ptp=IEEE1588-2008:"
		  "00-00-00-FF-FE-00-00-00:1\n",
		  &st);
	assert_eui(st.gm_id, 8, "00-00-00-FF-FE-00-00-00");
	assert_int_equal(st.ptp_domain, 1);
}

static void test_sdp_no_ts_refclk_gives_none(void **state)
{
	struct sdp_stream st;

	(void)state;
	parse_str(SDP_GOOD, &st);
	assert_int_equal(st.refclk, SDP_REFCLK_NONE);
	assert_int_equal(st.ptp_domain, -1);
}

static void test_sdp_parses_source_filter(void **state)
{
	static const char *const lines[] = {
	    "a=source-filter: incl IN IP4 239.69.1.1 192.168.1.17\n",
	    "a=source-filter:incl IN IP4 239.69.1.1 192.168.1.17\n",
	    "a=source-filter: incl IN * 239.69.1.1 192.168.1.17\n",
	    "a=source-filter: incl IN IP4 * 192.168.1.17\n",
	    ("a=source-filter: incl IN IP4 239.69.1.1 192.168.1.17 "
	     "192.168.1.18\n"),
	};
	struct sdp_stream st;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(lines); i++) {
		parse_with_media_lines(lines[i], &st);
		assert_true(st.has_source_filter);
		assert_addr(st.source_filter, "192.168.1.17");
	}
}

static void test_sdp_ignores_source_filters_that_do_not_apply(void **state)
{
	static const char *const lines[] = {
	    "a=source-filter: excl IN IP4 239.69.1.1 192.168.1.17\n",
	    "a=source-filter: incl IN IP4 239.69.9.9 192.168.1.17\n",
	    "a=source-filter: incl IN IP6 ff0e::1 fe80::1\n",
	};
	struct sdp_stream st;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(lines); i++) {
		parse_with_media_lines(lines[i], &st);
		assert_false(st.has_source_filter);
	}
}

static void test_sdp_rtpmap_channels_default_to_one(void **state)
{
	struct sdp_stream st;

	(void)state;
	parse_str(SDP_HEAD SDP_CONN SDP_TIME SDP_MEDIA
		  "a=rtpmap:98 L24/96000\n",
		  &st);
	assert_string_equal(st.encoding, "L24");
	assert_int_equal(st.rate, 96000);
	assert_int_equal(st.channels, 1);
}

static void test_sdp_uses_rtpmap_of_first_payload_type(void **state)
{
	struct sdp_stream st;

	(void)state;
	parse_str(SDP_HEAD SDP_CONN SDP_TIME "m=audio 5004 RTP/AVP 98 99\n"
					     "a=rtpmap:99 L16/48000/8\n"
					     "a=rtpmap:98 L24/48000/4\n",
		  &st);
	assert_int_equal(st.payload_type, 98);
	assert_string_equal(st.encoding, "L24");
	assert_int_equal(st.channels, 4);
}

static void test_sdp_fills_static_payload_type_without_rtpmap(void **state)
{
	struct sdp_stream st;

	(void)state;
	parse_str(SDP_HEAD SDP_CONN SDP_TIME "m=audio 5004 RTP/AVP 11\n", &st);
	assert_int_equal(st.payload_type, 11);
	assert_string_equal(st.encoding, "L16");
	assert_int_equal(st.rate, 44100);
	assert_int_equal(st.channels, 1);
}

static void test_sdp_accepts_port_count_in_m_line(void **state)
{
	struct sdp_stream st;

	(void)state;
	parse_str(SDP_HEAD SDP_CONN SDP_TIME
		  "m=audio 5004/2 RTP/AVP 98\n" SDP_MAP,
		  &st);
	assert_int_equal(st.port, 5004);
}

static void test_sdp_media_info_wins_over_session_info(void **state)
{
	struct sdp_stream st;

	(void)state;
	parse_str(SDP_HEAD "i=session info\n" SDP_CONN SDP_TIME SDP_MEDIA
			   "i=2 channels: Left, Right\n" SDP_MAP,
		  &st);
	assert_string_equal(st.info, "2 channels: Left, Right");

	parse_str(SDP_HEAD
		  "i=session info\n" SDP_CONN SDP_TIME SDP_MEDIA SDP_MAP,
		  &st);
	assert_string_equal(st.info, "session info");
}

static void test_sdp_cuts_long_text_at_character_boundary(void **state)
{
	char sdp[2048], info[601] = "";
	struct sdp_stream st;
	int i;

	(void)state;
	for (i = 0; i < 300; i++)
		strcat(info, "\xc3\xa9"); /* é, two bytes */
	snprintf(sdp, sizeof(sdp), "%si=%s\n%s", SDP_HEAD, info,
		 SDP_CONN SDP_TIME SDP_MEDIA SDP_MAP);
	parse_str(sdp, &st);
	/* 255 bytes would split the last é */
	assert_int_equal(strlen(st.info), 254);
	assert_memory_equal(st.info, info, 254);
}

static void test_sdp_parses_direction_attributes(void **state)
{
	static const char *const dirs[] = {"recvonly", "sendonly", "sendrecv",
					   "inactive"};
	char line[32];
	struct sdp_stream st;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(dirs); i++) {
		snprintf(line, sizeof(line), "a=%s\n", dirs[i]);
		parse_with_media_lines(line, &st);
		assert_string_equal(st.direction, dirs[i]);
	}
	parse_str(SDP_GOOD, &st);
	assert_string_equal(st.direction, "");
}

static void test_sdp_media_direction_wins_over_session(void **state)
{
	struct sdp_stream st;

	(void)state;
	parse_str(SDP_HEAD SDP_CONN SDP_TIME "a=inactive\n" SDP_MEDIA SDP_MAP
					     "a=sendonly\n",
		  &st);
	assert_string_equal(st.direction, "sendonly");

	parse_str(SDP_HEAD SDP_CONN SDP_TIME "a=inactive\n" SDP_MEDIA SDP_MAP,
		  &st);
	assert_string_equal(st.direction, "inactive");
}

static void test_sdp_ignores_unknown_lines_and_attributes(void **state)
{
	static const char sdp[] =
	    "\n"
	    "v=0\n"
	    "o=- 1 2 IN IP4 192.168.1.1\n"
	    "s=test\n"
	    "u=http://example.com/\n"
	    "e=someone@example.com\n"
	    "b=AS:2304\n"
	    "z=0 0\n"
	    "a=rtpmap:99 L16/48000/2\n"
	    "a=keywds:Dante\n"
	    "a=clock-domain:PTPv2 0\n" SDP_CONN SDP_TIME "r=604800 3600 0\n"
	    "\n" SDP_MEDIA "k=prompt\n"
	    "X=uppercase type\n"
	    "a=x-vendor:whatever:with:colons\n"
	    "a=sync-time:0\n"
	    "a=palign:0\n"
	    "a=midi-pre2:50040 0,0;0,1\n" SDP_MAP "a=maxptime:4\n"
	    "a=\n"
	    "a=:\n";
	struct sdp_stream st;

	(void)state;
	parse_str(sdp, &st);
	assert_string_equal(st.name, "test");
	assert_int_equal(st.payload_type, 98);
	assert_string_equal(st.encoding, "L24");
	assert_int_equal(st.ptime_us, 0);
}

static void test_sdp_maps_dash_user_and_blank_name_to_empty(void **state)
{
	struct sdp_stream st;

	(void)state;
	parse_str("v=0\no=alice 1 2 IN IP4 192.168.1.1\ns= \n" SDP_CONN SDP_TIME
		      SDP_MEDIA SDP_MAP,
		  &st);
	assert_string_equal(st.origin_user, "alice");
	assert_string_equal(st.name, "");

	parse_str(SDP_GOOD, &st);
	assert_string_equal(st.origin_user, "");
}

static void test_sdp_stops_at_nul_byte(void **state)
{
	static const char sdp[] = SDP_GOOD "a=ptime:1\n\0a=ptime:bogus\n";
	struct sdp_stream st;

	(void)state;
	parse_ok(sdp, sizeof(sdp) - 1, &st);
	assert_int_equal(st.ptime_us, 1000);
}

static void test_sdp_rejects_empty_input(void **state)
{
	char err[64];
	struct sdp_stream st;

	(void)state;
	assert_int_equal(sdp_parse(NULL, 0, &st, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "line 1: missing v=");
	assert_int_equal(parse_exact("\n\n", 2, &st, err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "line 1: missing v=");
}

static void test_sdp_reports_errors_with_line_numbers(void **state)
{
	static const struct {
		const char *sdp;
		int line;
		const char *what;
	} cases[] = {
	    {"o=- 1 2 IN IP4 1.2.3.4\nv=0\n", 1, "missing v="},
	    {"\n\nv=1\n", 3, "unsupported version v= '1'"},
	    {SDP_HEAD "no equals sign here\n", 4,
	     "expected <type>=<value>, got 'no equals sign here'"},
	    {SDP_HEAD "=0\n", 4, "expected <type>=<value>"},
	    {SDP_HEAD "a\n", 4, "expected <type>=<value>"},
	    {SDP_HEAD " c=IN IP4 239.69.1.1\n", 4, "expected"},
	    {"v=0\no=- 1 IN IP4 192.168.1.1\n", 2, "bad o= line"},
	    {"v=0\no=- x1 2 IN IP4 192.168.1.1\n", 2, "bad o= session id 'x1'"},
	    {"v=0\no=- 1 2x IN IP4 192.168.1.1\n", 2,
	     "bad o= session version '2x'"},
	    {"v=0\no=- 99999999999999999999 2 IN IP4 192.168.1.1\n", 2,
	     "bad o= session id"},
	    {"v=0\no=- 1 2 IN IP4 192.168.1\n", 2,
	     "bad o= address '192.168.1'"},
	    {"v=0\no=- 1 2 IN IP6 ::1\n", 2, "want IN IP4"},
	    {SDP_HEAD SDP_CONN SDP_TIME, 5, "missing m=audio"},
	    {SDP_HEAD SDP_CONN SDP_TIME "m=video 5006 RTP/AVP 96\n", 6,
	     "missing m=audio"},
	    {"v=0\ns=x\n" SDP_CONN SDP_TIME SDP_MEDIA SDP_MAP, 5, "missing o="},
	    {SDP_HEAD SDP_TIME SDP_MEDIA SDP_MAP, 5, "missing c="},
	    {SDP_HEAD "c=IN IP4 239.69.1\n", 4, "bad c= address '239.69.1'"},
	    {SDP_HEAD "c=IN IP4 239.69.1.256/32\n", 4, "bad c= address"},
	    {SDP_HEAD "c=IN IP4 stream.local/32\n", 4, "bad c= address"},
	    {SDP_HEAD "c=IN IP4\n", 4, "bad c= line"},
	    {SDP_HEAD "c=IN IP6 ff02::1\n", 4,
	     "unsupported c= address type 'IP6'"},
	    {SDP_HEAD "c=IN IP4 239.69.1.1/256\n", 4, "bad c= TTL '256'"},
	    {SDP_HEAD "c=IN IP4 239.69.1.1/x\n", 4, "bad c= TTL 'x'"},
	    {SDP_HEAD "c=IN IP4 239.69.1.1/\n", 4, "bad c= TTL"},
	    {SDP_HEAD SDP_CONN SDP_TIME "m=audio 50x4 RTP/AVP 98\n", 6,
	     "bad m= port '50x4'"},
	    {SDP_HEAD SDP_CONN SDP_TIME "m=audio 70000 RTP/AVP 98\n", 6,
	     "bad m= port"},
	    {SDP_HEAD SDP_CONN SDP_TIME "m=audio 5004 RTP/AVP L24\n", 6,
	     "bad m= payload type 'L24'"},
	    {SDP_HEAD SDP_CONN SDP_TIME "m=audio 5004 RTP/AVP\n", 6,
	     "no payload type"},
	    {SDP_HEAD SDP_CONN SDP_TIME SDP_MEDIA "a=rtpmap:99 L24/48000/2\n",
	     7, "a=rtpmap for payload type 99 not in m= line"},
	    {SDP_HEAD SDP_CONN SDP_TIME SDP_MEDIA "a=rtpmap:98 L24/48k/2\n", 7,
	     "bad a=rtpmap clock rate '48k'"},
	    {SDP_HEAD SDP_CONN SDP_TIME SDP_MEDIA "a=rtpmap:98 L24/48000/two\n",
	     7, "bad a=rtpmap channel count 'two'"},
	    {SDP_HEAD SDP_CONN SDP_TIME SDP_MEDIA "a=rtpmap:98 L24\n", 7,
	     "bad a=rtpmap encoding"},
	    {SDP_HEAD SDP_CONN SDP_TIME SDP_MEDIA SDP_MAP "a=ptime:abc\n", 8,
	     "bad a=ptime 'abc'"},
	    {SDP_HEAD SDP_CONN SDP_TIME SDP_MEDIA SDP_MAP "a=ptime:1,5\n", 8,
	     "bad a=ptime '1,5'"},
	    {SDP_HEAD SDP_CONN SDP_TIME SDP_MEDIA SDP_MAP "a=ptime:\n", 8,
	     "bad a=ptime ''"},
	    {SDP_HEAD SDP_CONN SDP_TIME SDP_MEDIA SDP_MAP "a=ptime:0\n", 8,
	     "bad a=ptime '0'"},
	    {SDP_HEAD SDP_CONN SDP_TIME SDP_MEDIA SDP_MAP "a=ptime:0.0004999\n",
	     8, "bad a=ptime '0.0004999'"},
	    {SDP_HEAD SDP_CONN SDP_TIME SDP_MEDIA SDP_MAP "a=ptime:0.0005\n", 6,
	     "a=ptime of 1 us holds no frame at 48000 Hz"},
	    {SDP_HEAD SDP_CONN SDP_TIME SDP_MEDIA SDP_MAP "a=ptime:0.01\n", 6,
	     "a=ptime of 10 us holds no frame at 48000 Hz"},
	    {SDP_HEAD SDP_CONN SDP_TIME SDP_MEDIA SDP_MAP "a=framecount:6x\n",
	     8, "bad a=framecount '6x'"},
	    {SDP_HEAD SDP_CONN SDP_TIME SDP_MEDIA SDP_MAP
	     "a=mediaclk:direct=-5\n",
	     8, "bad a=mediaclk offset '-5'"},
	    {SDP_HEAD SDP_CONN SDP_TIME SDP_MEDIA SDP_MAP
	     "a=mediaclk:direct=4294967296\n",
	     8, "bad a=mediaclk offset"},
	    {SDP_HEAD SDP_CONN SDP_TIME SDP_MEDIA SDP_MAP
	     "a=ts-refclk:ptp=IEEE1588-2008:00-1D-C1-FF-FE-52-28:0\n",
	     8, "bad a=ts-refclk grandmaster id '00-1D-C1-FF-FE-52-28'"},
	    {SDP_HEAD SDP_CONN SDP_TIME SDP_MEDIA SDP_MAP
	     "a=ts-refclk:ptp=IEEE1588-2008:" GM_DANTE ":x\n",
	     8, "bad a=ts-refclk PTP domain 'x'"},
	    {SDP_HEAD SDP_CONN SDP_TIME SDP_MEDIA SDP_MAP "a=ts-refclk: \n", 8,
	     "bad a=ts-refclk ''"},
	    {SDP_HEAD SDP_CONN SDP_TIME SDP_MEDIA SDP_MAP
	     "a=ts-refclk:localmac=00-1D-C1-52-28\n",
	     8, "bad a=ts-refclk localmac"},
	    {SDP_HEAD SDP_CONN SDP_TIME SDP_MEDIA SDP_MAP
	     "a=source-filter: incl IN IP4 239.69.1.1 192.168.1\n",
	     8, "bad a=source-filter source '192.168.1'"},
	    {SDP_HEAD SDP_CONN SDP_TIME SDP_MEDIA SDP_MAP
	     "a=source-filter: incl IN IP4 239.69.1.1\n",
	     8, "bad a=source-filter"},
	    {SDP_HEAD SDP_CONN SDP_TIME SDP_MEDIA "a=ptime:1\n", 6,
	     "missing a=rtpmap for payload type 98"},
	    {SDP_HEAD SDP_CONN "a=ptime:x\n" SDP_TIME SDP_MEDIA SDP_MAP, 5,
	     "bad a=ptime 'x'"},
	    {"v=0\r\no=- 1 2 IN IP4 192.168.1.1\r\ns=t\r\n"
	     "c=IN IP4 239.69.1/32\r\n",
	     4, "bad c= address '239.69.1'"},
	    /* later sections are skipped, but still have to be SDP */
	    {SDP_GOOD "m=audio 5006 RTP/AVP 98\nnot a line\n", 9, "expected"},
	};
	char err[256], prefix[32];
	struct sdp_stream st;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		int ret = parse_exact(cases[i].sdp, strlen(cases[i].sdp), &st,
				      err, sizeof(err));

		if (ret != -EINVAL)
			fail_msg("case %zu: want -EINVAL, got %d", i, ret);
		snprintf(prefix, sizeof(prefix), "line %d: ", cases[i].line);
		if (strncmp(err, prefix, strlen(prefix)) != 0 ||
		    !strstr(err, cases[i].what))
			fail_msg("case %zu: want '%s%s...', got '%s'", i,
				 prefix, cases[i].what, err);
	}
}

static void test_sdp_quotes_bad_input_printably(void **state)
{
	static const char sdp[] =
	    SDP_HEAD "c=IN IP4 \x01\xff"
		     "bad_address_that_goes_on_and_on_and_on_and_on_and_on\n";
	char err[256];
	struct sdp_stream st;

	(void)state;
	assert_int_equal(parse_exact(sdp, strlen(sdp), &st, err, sizeof(err)),
			 -EINVAL);
	/* control bytes as '?', cut to fit with "..." */
	assert_string_equal(err, "line 4: bad c= address '??bad_address_"
				 "that_goes_on_and_on_and_on_and...'");
}

static void test_sdp_accepts_null_or_tiny_error_buffer(void **state)
{
	static const char bad[] = "v=0\nbroken\n";
	char err[8];
	struct sdp_stream st;

	(void)state;
	assert_int_equal(parse_exact(bad, strlen(bad), &st, NULL, 0), -EINVAL);
	assert_int_equal(parse_exact(bad, strlen(bad), &st, err, 0), -EINVAL);
	assert_int_equal(parse_exact(bad, strlen(bad), &st, err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "line 2:");
}

static void test_sdp_leaves_output_untouched_on_error(void **state)
{
	static const char bad[] = SDP_HEAD SDP_TIME SDP_MEDIA SDP_MAP;
	struct sdp_stream st, before;

	(void)state;
	memset(&st, 0x5a, sizeof(st));
	memcpy(&before, &st, sizeof(st));
	assert_int_equal(parse_exact(bad, strlen(bad), &st, NULL, 0), -EINVAL);
	assert_memory_equal(&st, &before, sizeof(st));
}

static void test_sdp_survives_truncation_at_every_length(void **state)
{
	char err[256];
	struct sdp_stream st;
	size_t i, len;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(fixtures); i++) {
		struct blob b = load_fixture(fixtures[i].file);

		for (len = 0; len <= b.n; len++) {
			int ret = parse_exact(b.p, len, &st, err, sizeof(err));

			assert_true(ret == 0 || ret == -EINVAL);
			if (ret)
				assert_int_equal(strncmp(err, "line ", 5), 0);
			ret = parse_exact(b.p, len, &st, NULL, 0);
			assert_true(ret == 0 || ret == -EINVAL);
		}
		free(b.p);
	}
}

static void test_sdp_survives_byte_mutations(void **state)
{
	static const uint8_t bytes[] = {0x00, '\n', '\r', ' ', ':', '/',
					'=',  '.',  '-',  '9', 'a', 0xff};
	char err[256];
	struct sdp_stream st;
	size_t i, pos, k;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(fixtures); i++) {
		struct blob b = load_fixture(fixtures[i].file);

		for (pos = 0; pos < b.n; pos++) {
			uint8_t orig = b.p[pos];

			for (k = 0; k < ARRAY_SIZE(bytes); k++) {
				int ret;

				b.p[pos] = bytes[k];
				ret = parse_exact(b.p, b.n, &st, err,
						  sizeof(err));
				assert_true(ret == 0 || ret == -EINVAL);
			}
			b.p[pos] = orig;
		}
		free(b.p);
	}
}

static void test_sdp_write_emits_crlf_in_fixed_order(void **state)
{
	static const char want[] =
	    "v=0\r\n"
	    "o=- 42 7 IN IP4 192.168.1.10\r\n"
	    "s=d4 test\r\n"
	    "i=2 channels: L, R\r\n"
	    "c=IN IP4 239.69.1.2/32\r\n"
	    "t=0 0\r\n"
	    "m=audio 5004 RTP/AVP 98\r\n"
	    "a=rtpmap:98 L24/48000/2\r\n"
	    "a=ptime:0.125\r\n"
	    "a=framecount:6\r\n"
	    "a=ts-refclk:ptp=IEEE1588-2008:00-1D-C1-FF-FE-52-28-80:0\r\n"
	    "a=mediaclk:direct=1266592257\r\n"
	    "a=source-filter: incl IN IP4 239.69.1.2 192.168.1.10\r\n"
	    "a=recvonly\r\n";
	struct sdp_stream st;
	char buf[1024];

	(void)state;
	make_stream(&st);
	assert_int_equal(sdp_write(&st, buf, sizeof(buf)), strlen(want));
	assert_string_equal(buf, want);
}

static void test_sdp_write_omits_optional_lines(void **state)
{
	static const char want[] = "v=0\r\n"
				   "o=alice 42 7 IN IP4 192.168.1.10\r\n"
				   "s= \r\n"
				   "c=IN IP4 239.69.1.2\r\n"
				   "t=0 0\r\n"
				   "m=audio 5004 RTP/AVP 98\r\n"
				   "a=rtpmap:98 L24/48000/2\r\n"
				   "a=ptime:1\r\n";
	struct sdp_stream st;
	char buf[1024];

	(void)state;
	make_stream(&st);
	snprintf(st.origin_user, sizeof(st.origin_user), "alice");
	st.name[0] = '\0';
	st.info[0] = '\0';
	st.ttl = -1;
	st.ptime_us = 1000;
	st.framecount = 0;
	st.refclk = SDP_REFCLK_NONE;
	st.has_mediaclk = false;
	st.has_source_filter = false;
	st.direction[0] = '\0';
	write_ok(&st, buf, sizeof(buf));
	assert_string_equal(buf, want);
}

static void test_sdp_write_omits_ttl_for_unicast(void **state)
{
	struct sdp_stream st;
	char buf[1024];

	(void)state;
	make_stream(&st);
	inet_pton(AF_INET, "192.168.1.20", &st.addr);
	write_ok(&st, buf, sizeof(buf));
	assert_non_null(strstr(buf, "\r\nc=IN IP4 192.168.1.20\r\n"));
}

static void test_sdp_write_formats_ptime_as_shortest_decimal(void **state)
{
	static const struct {
		uint32_t us;
		const char *line;
	} cases[] = {
	    {125, "a=ptime:0.125\r\n"},	 {250, "a=ptime:0.25\r\n"},
	    {333, "a=ptime:0.333\r\n"},	 {120, "a=ptime:0.12\r\n"},
	    {1000, "a=ptime:1\r\n"},	 {4000, "a=ptime:4\r\n"},
	    {1088, "a=ptime:1.088\r\n"}, {1500, "a=ptime:1.5\r\n"},
	    {1, "a=ptime:0.001\r\n"},
	};
	struct sdp_stream st;
	char buf[1024];
	size_t i;

	(void)state;
	make_stream(&st);
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		st.ptime_us = cases[i].us;
		write_ok(&st, buf, sizeof(buf));
		assert_non_null(strstr(buf, cases[i].line));
	}
}

static void test_sdp_write_emits_every_ts_refclk_form(void **state)
{
	static const struct {
		enum sdp_refclk_kind kind;
		const char *version;
		int domain;
		const char *line; /* NULL: no a=ts-refclk */
	} cases[] = {
	    {SDP_REFCLK_PTP, "IEEE1588-2008", 0,
	     "a=ts-refclk:ptp=IEEE1588-2008:" GM_DANTE ":0\r\n"},
	    {SDP_REFCLK_PTP, "", 3,
	     "a=ts-refclk:ptp=IEEE1588-2008:" GM_DANTE ":3\r\n"},
	    {SDP_REFCLK_PTP, "IEEE802.1AS-2011", -1,
	     "a=ts-refclk:ptp=IEEE802.1AS-2011:" GM_DANTE "\r\n"},
	    {SDP_REFCLK_PTP_TRACEABLE, "IEEE1588-2019", -1,
	     "a=ts-refclk:ptp=IEEE1588-2019:traceable\r\n"},
	    {SDP_REFCLK_LOCALMAC, "", -1,
	     "a=ts-refclk:localmac=00-1D-C1-FF-FE-52\r\n"},
	    {SDP_REFCLK_OTHER, "local", -1, "a=ts-refclk:local\r\n"},
	    {SDP_REFCLK_NONE, "IEEE1588-2008", 0, NULL},
	};
	struct sdp_stream st, back;
	char buf[1024];
	size_t i;

	(void)state;
	make_stream(&st);
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		st.refclk = cases[i].kind;
		snprintf(st.refclk_version, sizeof(st.refclk_version), "%s",
			 cases[i].version);
		st.ptp_domain = cases[i].domain;
		write_ok(&st, buf, sizeof(buf));
		if (cases[i].line)
			assert_non_null(strstr(buf, cases[i].line));
		else
			assert_null(strstr(buf, "a=ts-refclk"));
		parse_str(buf, &back);
		assert_int_equal(back.refclk, cases[i].kind);
	}
}

static void test_sdp_write_returns_enospc_when_buffer_too_small(void **state)
{
	struct sdp_stream st;
	char full[1024];
	int n, len;

	(void)state;
	make_stream(&st);
	n = sdp_write(&st, full, sizeof(full));
	assert_true(n > 0);
	assert_int_equal(sdp_write(&st, NULL, 0), -ENOSPC);
	for (len = 0; len <= n + 1; len++) {
		char *buf = malloc(len ? (size_t)len : 1);

		assert_non_null(buf);
		/* the NUL needs a byte too */
		assert_int_equal(sdp_write(&st, buf, (size_t)len),
				 len > n ? n : -ENOSPC);
		if (len > n)
			assert_string_equal(buf, full);
		free(buf);
	}
}

static void test_sdp_write_rejects_unwritable_fields(void **state)
{
	struct sdp_stream st;
	char buf[1024];

	(void)state;
	make_stream(&st);
	snprintf(st.name, sizeof(st.name), "evil\r\na=sendonly");
	assert_int_equal(sdp_write(&st, buf, sizeof(buf)), -EINVAL);

	make_stream(&st);
	snprintf(st.info, sizeof(st.info), "two\nlines");
	assert_int_equal(sdp_write(&st, buf, sizeof(buf)), -EINVAL);

	make_stream(&st);
	snprintf(st.origin_user, sizeof(st.origin_user), "two words");
	assert_int_equal(sdp_write(&st, buf, sizeof(buf)), -EINVAL);

	make_stream(&st);
	st.encoding[0] = '\0';
	assert_int_equal(sdp_write(&st, buf, sizeof(buf)), -EINVAL);

	make_stream(&st);
	memset(st.encoding, 'L', sizeof(st.encoding)); /* no NUL */
	assert_int_equal(sdp_write(&st, buf, sizeof(buf)), -EINVAL);

	make_stream(&st);
	st.payload_type = 128;
	assert_int_equal(sdp_write(&st, buf, sizeof(buf)), -EINVAL);

	make_stream(&st);
	st.channels = 0;
	assert_int_equal(sdp_write(&st, buf, sizeof(buf)), -EINVAL);

	make_stream(&st);
	snprintf(st.direction, sizeof(st.direction), "sideways");
	assert_int_equal(sdp_write(&st, buf, sizeof(buf)), -EINVAL);
}

static void test_sdp_write_then_parse_round_trips(void **state)
{
	struct sdp_stream st, back;
	char buf[1024];

	(void)state;
	make_stream(&st);
	write_ok(&st, buf, sizeof(buf));
	parse_str(buf, &back);
	assert_streams_equal(&st, &back);

	/* the minimal form too */
	st.info[0] = '\0';
	st.ttl = -1;
	st.ptime_us = 0;
	st.framecount = 0;
	st.refclk = SDP_REFCLK_NONE;
	st.refclk_version[0] = '\0';
	memset(st.gm_id, 0, sizeof(st.gm_id));
	st.ptp_domain = -1;
	st.has_mediaclk = false;
	st.mediaclk_offset = 0;
	st.has_source_filter = false;
	st.source_filter.s_addr = 0;
	st.direction[0] = '\0';
	write_ok(&st, buf, sizeof(buf));
	parse_str(buf, &back);
	assert_streams_equal(&st, &back);
}

static void check_round_trip(const char *dir, const char *file)
{
	struct sdp_stream st, back;
	char buf[4096];
	struct blob b;

	(void)dir;
	b = load_fixture(file);
	parse_ok(b.p, b.n, &st);
	write_ok(&st, buf, sizeof(buf));
	parse_str(buf, &back);
	assert_streams_equal(&st, &back);
	free(b.p);
}

/* parse -> sdp_write -> parse gives the same stream, for every file. */
static void test_sdp_fixtures_round_trip_through_writer(void **state)
{
	char dir[512];

	(void)state;
	assert_true(for_each_sdp(sdp_dir(dir, sizeof(dir)), check_round_trip) >=
		    25);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sdp_parses_aes67_linux_daemon_fixture),
	    cmocka_unit_test(test_sdp_parses_dante_avio_fixture),
	    cmocka_unit_test(test_sdp_parses_dante_xcel_fixture),
	    cmocka_unit_test(test_sdp_parses_lawo_madi_first_leg_fixture),
	    cmocka_unit_test(test_sdp_parses_merging_anubis_fixture),
	    cmocka_unit_test(test_sdp_parses_every_fixture_in_data_dir),
	    cmocka_unit_test(test_sdp_every_fixture_has_provenance),
	    cmocka_unit_test(test_sdp_parses_crlf_and_lf),
	    cmocka_unit_test(test_sdp_parses_last_line_without_newline),
	    cmocka_unit_test(test_sdp_media_c_wins_over_session_c),
	    cmocka_unit_test(test_sdp_session_c_applies_when_media_has_none),
	    cmocka_unit_test(test_sdp_parses_ttl_suffixes),
	    cmocka_unit_test(test_sdp_ignores_ttl_on_unicast_address),
	    cmocka_unit_test(test_sdp_rounds_fractional_ptime),
	    cmocka_unit_test(test_sdp_frames_per_packet_prefers_framecount),
	    cmocka_unit_test(test_sdp_frames_per_packet_is_zero_when_unknown),
	    cmocka_unit_test(test_sdp_takes_first_audio_section_of_dup_group),
	    cmocka_unit_test(test_sdp_exposes_the_second_leg_of_a_dup_group),
	    cmocka_unit_test(test_sdp_needs_group_and_mids_for_a_second_leg),
	    cmocka_unit_test(test_sdp_leaves_out_a_dup_leg_of_another_format),
	    cmocka_unit_test(test_sdp_refuses_a_stream_on_port_0),
	    cmocka_unit_test(test_sdp_accepts_ptp_traceable_without_version),
	    cmocka_unit_test(test_sdp_skips_a_framecount_range),
	    cmocka_unit_test(test_sdp_parses_st2110_channel_order),
	    cmocka_unit_test(test_sdp_skips_non_audio_sections_before_audio),
	    cmocka_unit_test(
		test_sdp_session_mediaclk_applies_when_media_has_none),
	    cmocka_unit_test(test_sdp_media_mediaclk_wins_over_session),
	    cmocka_unit_test(test_sdp_parses_mediaclk_without_offset_as_zero),
	    cmocka_unit_test(test_sdp_parses_every_ts_refclk_form),
	    cmocka_unit_test(
		test_sdp_session_ts_refclk_applies_when_media_has_none),
	    cmocka_unit_test(test_sdp_media_ts_refclk_wins_over_session),
	    cmocka_unit_test(test_sdp_no_ts_refclk_gives_none),
	    cmocka_unit_test(test_sdp_parses_source_filter),
	    cmocka_unit_test(test_sdp_ignores_source_filters_that_do_not_apply),
	    cmocka_unit_test(test_sdp_rtpmap_channels_default_to_one),
	    cmocka_unit_test(test_sdp_uses_rtpmap_of_first_payload_type),
	    cmocka_unit_test(test_sdp_fills_static_payload_type_without_rtpmap),
	    cmocka_unit_test(test_sdp_accepts_port_count_in_m_line),
	    cmocka_unit_test(test_sdp_media_info_wins_over_session_info),
	    cmocka_unit_test(test_sdp_cuts_long_text_at_character_boundary),
	    cmocka_unit_test(test_sdp_parses_direction_attributes),
	    cmocka_unit_test(test_sdp_media_direction_wins_over_session),
	    cmocka_unit_test(test_sdp_ignores_unknown_lines_and_attributes),
	    cmocka_unit_test(test_sdp_maps_dash_user_and_blank_name_to_empty),
	    cmocka_unit_test(test_sdp_stops_at_nul_byte),
	    cmocka_unit_test(test_sdp_rejects_empty_input),
	    cmocka_unit_test(test_sdp_reports_errors_with_line_numbers),
	    cmocka_unit_test(test_sdp_quotes_bad_input_printably),
	    cmocka_unit_test(test_sdp_accepts_null_or_tiny_error_buffer),
	    cmocka_unit_test(test_sdp_leaves_output_untouched_on_error),
	    cmocka_unit_test(test_sdp_survives_truncation_at_every_length),
	    cmocka_unit_test(test_sdp_survives_byte_mutations),
	    cmocka_unit_test(test_sdp_write_emits_crlf_in_fixed_order),
	    cmocka_unit_test(test_sdp_write_omits_optional_lines),
	    cmocka_unit_test(test_sdp_write_omits_ttl_for_unicast),
	    cmocka_unit_test(test_sdp_write_formats_ptime_as_shortest_decimal),
	    cmocka_unit_test(test_sdp_write_emits_every_ts_refclk_form),
	    cmocka_unit_test(
		test_sdp_write_returns_enospc_when_buffer_too_small),
	    cmocka_unit_test(test_sdp_write_rejects_unwritable_fields),
	    cmocka_unit_test(test_sdp_write_then_parse_round_trips),
	    cmocka_unit_test(test_sdp_fixtures_round_trip_through_writer),
	    /* last: only where there is a shared/ folder */
	    cmocka_unit_test(test_sdp_parses_every_shared_interop_sdp),
	};
	size_t n = ARRAY_SIZE(tests) - !getenv("D4_SHARED_SDP");

	return _cmocka_run_group_tests("tests", tests, n, NULL, NULL);
}
