/* Unit tests for the settings table (node/settings.c): every default
 * parses, every key the API takes is refused by an INI file and by a JSON
 * body with the same message, JSON round-trips through the canonical form,
 * and docs/config.md lists exactly the table's keys with its defaults. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "d4/d4.h"
#include "node/config.h"
#include "node/settings.h"

#define FNAME "keys.ini"

static void *scratch(void)
{
	/* big enough for any section's struct */
	void *p = calloc(1, sizeof(struct node_config));

	assert_non_null(p);
	return p;
}

static void test_settings_every_default_parses(void **state)
{
	unsigned int sec;

	for (sec = 0; sec < SETTINGS_NSECTIONS; sec++) {
		const struct setting *r;

		/* the INI reader keeps a line per row */
		for (r = settings_rows(sec); r->key || r->json; r++)
			;
		assert_true(r - settings_rows(sec) <= SETTINGS_MAX_ROWS);
		for (r = settings_rows(sec); r->key || r->json; r++) {
			void *obj = scratch();
			char err[256] = "";

			if (r->def &&
			    setting_parse(r, r->def, "", obj, err, sizeof(err)))
				fail_msg("[%s] %s: default '%s': %s",
					 settings_section_name(sec), r->key,
					 r->def, err);
			assert_non_null(r->what);
			assert_non_null(r->help);
			free(obj);
		}
	}
}

/* Values each type must refuse, as INI text and as the JSON an API client
 * would send for the same value. */
struct bad {
	char ini[64];
	char json[64];
};

static unsigned int bad_values(const struct setting *r, struct bad *b)
{
	unsigned int n = 0;

	switch (r->type) {
	case SETTING_TEXT:
		snprintf(b[n].ini, sizeof(b[n].ini), "%s", "");
		snprintf(b[n++].json, sizeof(b[n].json), "\"\"");
		break;
	case SETTING_UINT:
		snprintf(b[n].ini, sizeof(b[n].ini), "%lld", r->max + 1);
		snprintf(b[n++].json, sizeof(b[n].json), "%lld", r->max + 1);
		snprintf(b[n].ini, sizeof(b[n].ini), "x1");
		snprintf(b[n++].json, sizeof(b[n].json), "\"x1\"");
		if (r->min > 0) {
			snprintf(b[n].ini, sizeof(b[n].ini), "%lld",
				 r->min - 1);
			snprintf(b[n++].json, sizeof(b[n].json), "%lld",
				 r->min - 1);
		}
		break;
	case SETTING_DURATION:
		/* one JSON unit past each end */
		snprintf(b[n].ini, sizeof(b[n].ini), "%lluus",
			 (unsigned long long)(r->max / 1000 + 1));
		snprintf(b[n++].json, sizeof(b[n].json), "%llu",
			 (unsigned long long)(r->max / 1000 + 1));
		snprintf(b[n].ini, sizeof(b[n].ini), "%lluus",
			 (unsigned long long)(r->min / 1000 - 1));
		snprintf(b[n++].json, sizeof(b[n].json), "%llu",
			 (unsigned long long)(r->min / 1000 - 1));
		break;
	case SETTING_ENUM:
	case SETTING_ENCODING:
		snprintf(b[n].ini, sizeof(b[n].ini), "nope");
		snprintf(b[n++].json, sizeof(b[n].json), "\"nope\"");
		break;
	case SETTING_ENDPOINT:
		snprintf(b[n].ini, sizeof(b[n].ini), "10.0.0.300:5004");
		snprintf(b[n++].json, sizeof(b[n].json), "\"10.0.0.300:5004\"");
		snprintf(b[n].ini, sizeof(b[n].ini), "10.0.0.3:70000");
		snprintf(b[n++].json, sizeof(b[n].json), "\"10.0.0.3:70000\"");
		break;
	case SETTING_ADDRESS:
		snprintf(b[n].ini, sizeof(b[n].ini), "sender");
		snprintf(b[n++].json, sizeof(b[n].json), "\"sender\"");
		break;
	case SETTING_CHANNELS:
		snprintf(b[n].ini, sizeof(b[n].ini), "0");
		snprintf(b[n++].json, sizeof(b[n].json), "[0]");
		snprintf(b[n].ini, sizeof(b[n].ini), "1,%lld", r->max + 1);
		snprintf(b[n++].json, sizeof(b[n].json), "[1,%lld]",
			 r->max + 1);
		break;
	case SETTING_RATE:
		snprintf(b[n].ini, sizeof(b[n].ini), "65536");
		snprintf(b[n++].json, sizeof(b[n].json), "65536");
		break;
	case SETTING_PTIME:
		snprintf(b[n].ini, sizeof(b[n].ini), "2000");
		snprintf(b[n++].json, sizeof(b[n].json), "2000");
		break;
	default:
		break;
	}
	return n;
}

/* The INI's message after "FILE:LINE: [section] key: ". */
static const char *ini_reason(const char *err, const char *key)
{
	char mark[64];
	const char *p;

	snprintf(mark, sizeof(mark), "] %s: ", key);
	p = strstr(err, mark);
	return p ? p + strlen(mark) : err;
}

static void refuse_alike(enum settings_section sec, const char *ini_head,
			 const char *json_head, const struct setting *r,
			 const struct bad *b)
{
	struct node_config *cfg = scratch();
	char text[1200], body[512], ini_err[512] = "", api_err[512] = "";
	char mark[64];
	json_t *j;
	void *obj = scratch();
	int rc;

	snprintf(text, sizeof(text), "%s%s = %s\n", ini_head, r->key, b->ini);
	rc = config_parse_string(text, FNAME, cfg, ini_err, sizeof(ini_err));
	if (rc != -EINVAL)
		fail_msg("INI '%s = %s' was taken", r->key, b->ini);
	snprintf(body, sizeof(body), "{%s, \"%s\": %s}", json_head, r->json,
		 b->json);
	j = json_loads(body, 0, NULL);
	assert_non_null(j);
	rc = settings_from_json(sec, j, obj, NULL, NULL, api_err,
				sizeof(api_err));
	if (rc != -EINVAL)
		fail_msg("JSON %s was taken", body);
	snprintf(mark, sizeof(mark), "'%s': ", r->json);
	if (strncmp(api_err, mark, strlen(mark)))
		fail_msg("API error '%s' does not start with '%s'", api_err,
			 mark);
	if (strcmp(ini_reason(ini_err, r->key), api_err + strlen(mark)))
		fail_msg("INI and API refuse %s differently:\n  INI: %s\n  "
			 "API: %s",
			 r->key, ini_err, api_err);
	json_decref(j);
	free(obj);
	free(cfg);
}

static void test_settings_ini_and_api_refuse_every_key_alike(void **state)
{
	static const struct {
		enum settings_section sec;
		const char *ini_head, *json_head;
	} s[] = {
	    {SETTINGS_FLOW,
	     "[source a]\ntype = tone\n[flow f]\nsource = a\n"
	     "destination = 239.1.1.1\n",
	     "\"name\": \"f\", \"source\": \"a\", "
	     "\"destination\": \"239.1.1.1\""},
	    {SETTINGS_SUB, "[subscription s]\naddress = 239.1.1.1\n",
	     "\"name\": \"s\", \"address\": \"239.1.1.1\""},
	};
	unsigned int k, i, n, checked = 0;

	for (k = 0; k < sizeof(s) / sizeof(s[0]); k++) {
		const struct setting *r;

		for (r = settings_rows(s[k].sec); r->key || r->json; r++) {
			struct bad b[8];

			if (!r->key || !r->json)
				continue;
			n = bad_values(r, b);
			if (!n)
				fail_msg("no bad values for key %s", r->key);
			for (i = 0; i < n; i++, checked++)
				refuse_alike(s[k].sec, s[k].ini_head,
					     s[k].json_head, r, &b[i]);
		}
	}
	print_message("# %u refusals checked alike\n", checked);
	assert_true(checked >= 30);
}

/* A JSON object read and written back is itself (the state file's form). */
static void test_settings_json_round_trips(void **state)
{
	static const char *const flow =
	    "{\"channels\": [2, 1], \"destination\": \"10.0.0.2:5006\", "
	    "\"dscp\": 46, \"encoding\": \"L16\", \"interface\": \"eth1\", "
	    "\"name\": \"mon\", \"payload_type\": 100, \"ptime_us\": 250, "
	    "\"rate\": 96000, \"source\": \"program\", \"ttl\": 3}";
	static const char *const sub =
	    "{\"address\": \"239.69.1.1:5004\", \"channels\": 8, "
	    "\"interface\": \"eth0\", \"latency_us\": 2500, "
	    "\"mediaclk_offset\": 77, \"name\": \"in\", "
	    "\"rx_channels\": [3, 4], \"source_filter\": \"10.0.0.1\", "
	    "\"stream_channels\": [7, 8], \"timing\": \"ptp\"}";
	struct flow_config fc;
	struct sub_settings ss;
	json_t *in, *out;
	char err[256];
	unsigned int given = 0;

	in = json_loads(flow, 0, NULL);
	assert_int_equal(settings_from_json(SETTINGS_FLOW, in, &fc, NULL, NULL,
					    err, sizeof(err)),
			 0);
	out = settings_to_json(SETTINGS_FLOW, &fc, ~0u);
	assert_true(json_equal(in, out));
	json_decref(in);
	json_decref(out);

	memset(&ss, 0, sizeof(ss));
	in = json_loads(sub, 0, NULL);
	assert_int_equal(settings_from_json(SETTINGS_SUB, in, &ss, NULL, &given,
					    err, sizeof(err)),
			 0);
	assert_int_equal(given, SUB_GIVEN_ADDR | SUB_GIVEN_CH |
				    SUB_GIVEN_OFFSET | SUB_GIVEN_FILTER);
	out = settings_to_json(SETTINGS_SUB, &ss, given);
	assert_true(json_equal(in, out));
	json_decref(in);
	json_decref(out);
}

/* ---- docs/config.md ---- */

static char *read_doc(void)
{
	const char *data = getenv("D4_TEST_DATA");
	char path[512];
	FILE *f;
	char *text;
	long len;

	assert_non_null(data);
	snprintf(path, sizeof(path), "%s/../../docs/config.md", data);
	f = fopen(path, "rb");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	fseek(f, 0, SEEK_SET);
	text = calloc(1, (size_t)len + 1);
	assert_int_equal(fread(text, 1, (size_t)len, f), (size_t)len);
	fclose(f);
	return text;
}

static bool alsa_key(const char *key)
{
	static const char *const k[] = {"device", "map",
					"period", "device_channels",
					"buffer", "sample_format"};
	unsigned int i;

	for (i = 0; i < sizeof(k) / sizeof(k[0]); i++)
		if (!strcmp(k[i], key))
			return true;
	return false;
}

/* The doc's table for @sec: "| `key` | default | ..." rows under its
 * "## [name" heading (and, for sources and sinks, the sound card table).
 * Checks each row against the table; returns how many it found. */
static unsigned int check_doc_section(const char *doc,
				      enum settings_section sec)
{
	char head[64], key[64], def[128];
	const char *p, *end, *line;
	unsigned int n = 0;

	snprintf(head, sizeof(head), "\n## [%s", settings_section_name(sec));
	p = strstr(doc, head);
	if (!p) {
		fail_msg("docs/config.md has no heading '%s'", head + 1);
		return 0;
	}
	end = strstr(p + 1, "\n## ");
	if (!end)
		end = p + strlen(p);
	for (line = p; line && line < end; line = strchr(line + 1, '\n')) {
		const struct setting *r;
		const char *cell;
		size_t len;

		if (strncmp(line, "\n| `", 4))
			continue;
		cell = line + 4;
		len = strcspn(cell, "`");
		snprintf(key, sizeof(key), "%.*s", (int)len, cell);
		r = settings_find(sec, key, NULL);
		if (!r)
			fail_msg("docs/config.md: [%s] %s is not a key",
				 settings_section_name(sec), key);
		n++;
		/* the default column, when it is one `value` */
		cell = strchr(cell + len + 1, '|');
		if (!cell || strncmp(cell, "| `", 3))
			continue;
		len = strcspn(cell + 3, "`");
		if (strncmp(cell + 3 + len, "` |", 3))
			continue;
		snprintf(def, sizeof(def), "%.*s", (int)len, cell + 3);
		if (!r->def || strcmp(r->def, def))
			fail_msg(
			    "docs/config.md: [%s] %s defaults to '%s', the "
			    "table to '%s'",
			    settings_section_name(sec), key, def,
			    r->def ? r->def : "(none)");
	}
	return n;
}

/* [d4] backend: the table takes what d4_backend_parse takes, as the
 * same values, and nothing else. */
static void test_settings_d4_backend_is_d4_backend_parse(void **state)
{
	const struct setting *row = settings_find(SETTINGS_D4, "backend", NULL);
	const char *names[] = {"auto", "vm", "kernel", "Kernel", "bpf", ""};
	struct d4prog_config d;
	enum d4_backend b;
	char err[256];
	unsigned int i;

	assert_non_null(row);
	assert_ptr_equal(settings_find(SETTINGS_D4, NULL, "backend"), row);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		int a = setting_parse(row, names[i], "", &d, err, sizeof(err));
		int p = d4_backend_parse(names[i], &b);

		assert_int_equal(a == 0, p == 0);
		if (!a)
			assert_int_equal(d.backend, (int)b);
	}
	settings_defaults(SETTINGS_D4, &d);
	assert_int_equal(d.backend, D4_BACKEND_AUTO);
	assert_int_equal(d.sends_per_packet, D4_SENDS_PER_PACKET);
}

static void test_settings_docs_list_every_key_with_its_default(void **state)
{
	char *doc = read_doc();
	unsigned int sec;

	for (sec = 0; sec < SETTINGS_NSECTIONS; sec++) {
		const struct setting *r;
		unsigned int want = 0, got;

		for (r = settings_rows(sec); r->key || r->json; r++)
			if (r->key && !((sec == SETTINGS_SOURCE ||
					 sec == SETTINGS_SINK) &&
					alsa_key(r->key)))
				want++;
		got = check_doc_section(doc, sec);
		/* the sound card keys sit in [source]'s sub-table */
		if (sec == SETTINGS_SOURCE)
			got -= 6;
		if (got != want)
			fail_msg("docs/config.md lists %u keys of [%s], the "
				 "table has %u",
				 got, settings_section_name(sec), want);
	}
	free(doc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_settings_every_default_parses),
	    cmocka_unit_test(test_settings_ini_and_api_refuse_every_key_alike),
	    cmocka_unit_test(test_settings_json_round_trips),
	    cmocka_unit_test(test_settings_d4_backend_is_d4_backend_parse),
	    cmocka_unit_test(
		test_settings_docs_list_every_key_with_its_default),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
