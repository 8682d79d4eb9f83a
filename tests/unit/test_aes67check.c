/* The AES67/Dante rule checks (discovery/aes67check.c): each fixture in
 * tests/data/check breaks the one rule expect.tsv names and no other;
 * what was measured live (grandmaster, DSCP, send-time offset) is judged
 * by the same function. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "discovery/aes67check.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAXF 32

struct text {
	char buf[8192];
	size_t len;
};

static void load(const char *file, struct text *t)
{
	const char *root = getenv("D4_TEST_DATA");
	char path[1024];
	FILE *f;

	if (!root)
		fail_msg("D4_TEST_DATA is not set");
	snprintf(path, sizeof(path), "%s/check/%s", root, file);
	f = fopen(path, "rb");
	if (!f)
		fail_msg("cannot open %s: %s", path, strerror(errno));
	t->len = fread(t->buf, 1, sizeof(t->buf) - 1, f);
	t->buf[t->len] = '\0';
	fclose(f);
}

/* The failing findings of @file checked with @live. */
static size_t check(const char *file, const struct aes67check_live *live,
		    struct aes67check_finding *f)
{
	struct sdp_stream st;
	struct text t;
	char err[200];
	size_t n, i, k = 0;

	load(file, &t);
	if (sdp_parse((const uint8_t *)t.buf, t.len, &st, err, sizeof(err)))
		fail_msg("%s: %s", file, err);
	n = aes67check_run(&st, (const uint8_t *)t.buf, t.len, live, f, MAXF);
	assert_true(n <= MAXF);
	for (i = 0; i < n; i++)
		if (f[i].severity != AES67CHECK_INFO)
			f[k++] = f[i];
	return k;
}

static void test_aes67check_each_fixture_breaks_its_rule(void **state)
{
	const char *root = getenv("D4_TEST_DATA");
	struct aes67check_finding f[MAXF];
	char path[1024], line[256];
	int rows = 0;
	FILE *tsv;

	(void)state;
	snprintf(path, sizeof(path), "%s/check/expect.tsv", root);
	tsv = fopen(path, "r");
	assert_non_null(tsv);
	while (fgets(line, sizeof(line), tsv)) {
		char file[128], rule[64], sev[16];
		size_t n;

		if (line[0] == '#' ||
		    sscanf(line, "%127s %63s %15s", file, rule, sev) != 3)
			continue;
		n = check(file, NULL, f);
		if (!strcmp(rule, "-")) {
			if (n)
				fail_msg("%s: %s: %s", file, f[0].rule,
					 f[0].msg);
		} else {
			if (n != 1)
				fail_msg("%s: %zu rules broken, want 1 (%s)",
					 file, n, n ? f[0].rule : "none");
			assert_string_equal(f[0].rule, rule);
			assert_string_equal(
			    aes67check_severity_name(f[0].severity), sev);
		}
		rows++;
	}
	fclose(tsv);
	assert_true(rows >= 8);
}

static const uint8_t gm_sdp[8] = {0x00, 0x1d, 0xc1, 0xff,
				  0xfe, 0x52, 0x28, 0x80};

static void test_aes67check_flags_a_stale_grandmaster(void **state)
{
	struct aes67check_live live = {.has_gm = true, .domain = 0};
	struct aes67check_finding f[MAXF];

	(void)state;
	memcpy(live.gm_id, gm_sdp, 8);
	assert_int_equal(check("dante-ok.sdp", &live, f), 0);
	live.gm_id[7] ^= 1;
	assert_int_equal(check("dante-ok.sdp", &live, f), 1);
	assert_string_equal(f[0].rule, "aes67.gm-stale");
	assert_non_null(strstr(f[0].msg, "00-1D-C1-FF-FE-52-28-81"));
}

static void test_aes67check_flags_dscp_zero_on_the_wire(void **state)
{
	struct aes67check_live live = {.has_dscp = true, .dscp_packets = 9};
	struct aes67check_finding f[MAXF];

	(void)state;
	assert_int_equal(check("dante-ok.sdp", &live, f), 1);
	assert_string_equal(f[0].rule, "wire.dscp");
	assert_int_equal(f[0].severity, AES67CHECK_ERROR);
	live.dscp = 46;
	assert_int_equal(check("dante-ok.sdp", &live, f), 0);
	live.dscp = 34;
	assert_int_equal(check("dante-ok.sdp", &live, f), 0);
	live.dscp = 8;
	assert_int_equal(check("dante-ok.sdp", &live, f), 1);
	assert_int_equal(f[0].severity, AES67CHECK_WARN);
}

static void test_aes67check_flags_packets_sent_late(void **state)
{
	/* the Pi that sent 23.7 ms after the timestamp */
	struct aes67check_live live = {.has_timing = true,
				       .timing_packets = 1000,
				       .offset_min_ns = 23500000,
				       .offset_p01_ns = 23500000,
				       .offset_mean_ns = 23700000,
				       .offset_p99_ns = 24000000,
				       .offset_max_ns = 24000000};
	struct aes67check_finding f[MAXF];

	(void)state;
	assert_int_equal(check("dante-ok.sdp", &live, f), 1);
	assert_string_equal(f[0].rule, "wire.late");
	assert_non_null(strstr(f[0].msg, "23.7 ms"));
	/* 37 s and a packet late: PTP (TAI) time read against UTC, not a
	 * late sender; the hint names --ptp4l */
	live.offset_min_ns = live.offset_p01_ns = 37000500000;
	live.offset_mean_ns = 37001200000;
	live.offset_p99_ns = live.offset_max_ns = 37001900000;
	assert_int_equal(check("dante-ok.sdp", &live, f), 1);
	assert_string_equal(f[0].rule, "wire.timescale");
	assert_non_null(strstr(f[0].msg, "37 whole seconds"));
	assert_non_null(strstr(f[0].msg, "--ptp4l"));
	live.offset_min_ns = live.offset_p01_ns = -37000500000;
	live.offset_mean_ns = -36999800000;
	live.offset_p99_ns = live.offset_max_ns = -36999100000;
	assert_int_equal(check("dante-ok.sdp", &live, f), 1);
	assert_string_equal(f[0].rule, "wire.timescale");
	assert_non_null(strstr(f[0].msg, "-37 whole seconds"));
	live.offset_min_ns = live.offset_p01_ns = 23500000;
	live.offset_mean_ns = 23700000;
	live.offset_p99_ns = live.offset_max_ns = 24000000;
	/* one packet time and a little is what a good sender shows */
	live.offset_min_ns = live.offset_p01_ns = 1000000;
	live.offset_mean_ns = 1200000;
	live.offset_p99_ns = 1900000;
	/* one stall of the listener is no burst of the sender */
	live.offset_max_ns = 4000000;
	assert_int_equal(check("dante-ok.sdp", &live, f), 0);
	/* bursts: a wide spread */
	live.offset_p99_ns = 2600000;
	assert_int_equal(check("dante-ok.sdp", &live, f), 1);
	assert_string_equal(f[0].rule, "wire.spread");
}

static void test_aes67check_counts_channel_order(void **state)
{
	(void)state;
	assert_int_equal(aes67check_channel_order_count("SMPTE2110.(U08)"), 8);
	assert_int_equal(aes67check_channel_order_count("SMPTE2110.(51,ST,M)"),
			 9);
	assert_int_equal(aes67check_channel_order_count("SMPTE2110.(222)"), 24);
	assert_int_equal(aes67check_channel_order_count("SMPTE2110.(XX)"), -1);
	assert_int_equal(aes67check_channel_order_count("SMPTE2110.(ST"), -1);
	assert_int_equal(aes67check_channel_order_count("(ST)"), -1);
}

static void test_aes67check_reports_more_than_fit(void **state)
{
	struct aes67check_finding f[2];
	struct sdp_stream st;
	static const char sdp[] = "v=0\no=- 0 0 IN IP4 10.0.0.1\ns=x\n"
				  "c=IN IP4 10.0.0.2\nt=0 0\n"
				  "m=audio 6000 RTP/AVP 0\n";

	(void)state;
	assert_int_equal(
	    sdp_parse((const uint8_t *)sdp, strlen(sdp), &st, NULL, 0), 0);
	assert_true(aes67check_run(&st, (const uint8_t *)sdp, strlen(sdp), NULL,
				   f, 2) > 2);
	assert_true(aes67check_fails(f, 2));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_aes67check_each_fixture_breaks_its_rule),
	    cmocka_unit_test(test_aes67check_flags_a_stale_grandmaster),
	    cmocka_unit_test(test_aes67check_flags_dscp_zero_on_the_wire),
	    cmocka_unit_test(test_aes67check_flags_packets_sent_late),
	    cmocka_unit_test(test_aes67check_counts_channel_order),
	    cmocka_unit_test(test_aes67check_reports_more_than_fit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
