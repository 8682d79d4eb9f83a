/* One typed table for every setting (docs/config.md lists them): each key
 * once, with its type, unit, default, range and what the error says. The
 * INI loader (config.c), the control API (node_api.c) and state replay
 * (state.c) all parse through it, so a value is accepted or refused the
 * same way everywhere, with the same message, and a default is typed in
 * one place. linuxptp's config table is the model.
 *
 * A row names its INI key and its JSON member (the API and the state file;
 * numbers with a unit carry it in the name: "ptime_us", "latency_us"). Text
 * is parsed the INI way in both; a JSON number, boolean or array is turned
 * into that text first (a number of a duration row gets the JSON unit), so
 * the two paths share one parser and one message: "'X' is not WHAT". */
#ifndef D4_NODE_SETTINGS_H
#define D4_NODE_SETTINGS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum settings_section {
	SETTINGS_NODE,
	SETTINGS_PTP,
	SETTINGS_DISCOVERY,
	SETTINGS_SOURCE, /* struct source_config */
	SETTINGS_FLOW,	 /* struct flow_config */
	SETTINGS_SUB,	 /* struct sub_settings */
	SETTINGS_SINK,	 /* struct sink_config */
	SETTINGS_D4,	 /* struct d4prog_config */
	SETTINGS_NMOS,	 /* struct nmos_config */
	SETTINGS_NSECTIONS,
};

/* The most rows one section has (tests/unit/test_settings.c checks). */
#define SETTINGS_MAX_ROWS 32

enum setting_type {
	SETTING_TEXT,	  /* char[size]: 1 to size - 1 characters */
	SETTING_PATH,	  /* char[size]; in an INI relative to its directory */
	SETTING_UINT,	  /* an unsigned field of @size bytes in [min, max] */
	SETTING_BOOL,	  /* bool: yes/no, true/false, on/off, 1/0 */
	SETTING_DURATION, /* uint64_t ns in [min, max]; "1ms", bare: unit_ns */
	SETTING_ENUM,	  /* int, one of choices[] */
	SETTING_ENDPOINT, /* struct sockaddr_in, "A.B.C.D[:PORT]", port min */
	SETTING_ADDRESS,  /* struct in_addr, and bool at off2 set */
	SETTING_CHANNELS, /* uint8_t[64] 0-based, unsigned count at off2;
			   * "1-8,10", 1-based values up to max */
	SETTING_RATE,	  /* uint32_t: 44100, 48000 or 96000 */
	SETTING_PTIME,	  /* uint32_t µs: 125, 250, 333, 1000, 4000 */
	SETTING_START,	  /* enum start_mode, uint64_t ns at off2 */
	SETTING_LEVELS,	  /* double[64]: one value, or one per channel */
	SETTING_ENCODING, /* enum rtp_encoding: L24, L16 */
	SETTING_SDP_FILE, /* char[size]: the text of the SDP file named */
	SETTING_LINES,	  /* char[n][size] at off, unsigned count at off2:
			   * a key that may be given again, one line each */
};

struct setting_choice {
	const char *name;
	int value;
};

/* Flags of a row. */
#define SETTING_REQUIRED  (1u << 0) /* the section needs it */
#define SETTING_MULTICAST (1u << 1) /* ENDPOINT: a group only */
#define SETTING_OFF	  (1u << 2) /* ENDPOINT: "off" sets the bool at off2 */
#define SETTING_FIRST	  (1u << 3) /* START: "first" too (recorders) */

struct setting {
	const char *key;  /* INI key; NULL: not in INI files */
	const char *json; /* JSON member; NULL: not in the API or state */
	enum setting_type type;
	size_t off, size;   /* the field in the section's struct */
	size_t off2;	    /* the second field of CHANNELS, START, ... */
	long long min, max; /* UINT, CHANNELS (values), LEVELS; DURATION ns */
	uint64_t unit_ns;   /* DURATION: a bare INI number's unit */
	uint64_t json_unit_ns; /* DURATION: the JSON number's unit */
	const struct setting_choice *choices; /* ENUM, NULL-terminated */
	const char *def; /* the default as INI text; NULL: zero / none */
	unsigned int flags;
	unsigned int given; /* bit in a struct's given-mask (subscriptions) */
	/* TEXT: an extra check of the value, or NULL */
	bool (*check)(const char *value);
	const char *what; /* "a DSCP value from 0 to 63" */
	const char *help; /* one line for docs/config.md's table */
};

/* The rows of @sec, terminated by a row with no key and no JSON name. */
const struct setting *settings_rows(enum settings_section sec);
/* The section's name in INI headers and messages ("flow"). */
const char *settings_section_name(enum settings_section sec);
/* Its row for INI key @key (or JSON member @json when @key is NULL). */
const struct setting *settings_find(enum settings_section sec, const char *key,
				    const char *json);

/* Set every field of @obj that has a default to it, and zero the rest of
 * the fields the table knows. */
void settings_defaults(enum settings_section sec, void *obj);

/* Parse INI text @v for row @row into @obj. @base_dir: where relative
 * paths start ("" = as given). 0, or -EINVAL with the reason in @err
 * ("'2ms' is not a packet time: ..."; the caller puts its place first). */
int setting_parse(const struct setting *row, const char *v,
		  const char *base_dir, void *obj, char *err, size_t err_len);

/* The same for the JSON member's value @v (its text form goes through
 * setting_parse). */
int setting_parse_json(const struct setting *row, const json_t *v, void *obj,
		       char *err, size_t err_len);

/* Fill @obj (defaults first) from JSON object @body: every member must be
 * a row's JSON name; rows marked required must be there. Rows given are
 * ORed into *@given_rows (bit i = row i; may be NULL) and their "given"
 * bits into *@given (may be NULL). 0, or -EINVAL with "'MEMBER': reason"
 * in @err. */
int settings_from_json(enum settings_section sec, const json_t *body, void *obj,
		       uint64_t *given_rows, unsigned int *given, char *err,
		       size_t err_len);

/* @obj as a JSON object of its rows' JSON names, canonical (the state file
 * and GET answers): rows with a "given" bit only when that bit is in
 * @given, empty texts and unset values left out. */
json_t *settings_to_json(enum settings_section sec, const void *obj,
			 unsigned int given);

/* The JSON member of @row's value in @obj, as settings_to_json writes it,
 * or NULL when it is unset. */
json_t *setting_to_json(const struct setting *row, const void *obj);

/* Helpers the table's parsers use, for other callers too. */
/* "1ms", "250us", "0.5s", "3000ns"; a bare number is in @bare_unit_ns. */
int settings_parse_duration(const char *s, unsigned long long bare_unit_ns,
			    unsigned long long *out_ns);
/* "1-8,10" (1-based, ranges allowed) into 0-based @chans; the count or
 * -EINVAL. */
int settings_parse_channels(const char *s, uint8_t *chans, unsigned int max);

/* Text that reads as it is in a log, a table or another controller: no
 * C0 or C1 control characters, no marks or overrides that turn text
 * around (U+200E-200F, U+202A-202E, U+2066-2069). Names use it. */
bool settings_text_readable(const char *v);

#endif
