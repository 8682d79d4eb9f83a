/* libFuzzer harness for the INI configuration (node/config.c) through
 * config_parse_string(): every section, key, value parser and
 * cross-reference check, and an SDP named by "sdp = FILE".
 *
 * The parser opens that SDP with fopen(); the build wraps fopen and fopen64
 * (-Wl,--wrap=...) so that during a parse only the names below open, from
 * memory, and nothing else on the machine is read, however odd the path.
 *
 * Beyond "no crash, no sanitizer report": an error reads "fuzz.ini:LINE: "
 * and an accepted config keeps its counts within their arrays. */
#include "node/config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
FILE *__real_fopen(const char *path, const char *mode);
FILE *__wrap_fopen(const char *path, const char *mode);
FILE *__real_fopen64(const char *path, const char *mode);
FILE *__wrap_fopen64(const char *path, const char *mode);

#define NAME "fuzz.ini"

static const char good_sdp[] =
    "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=Stage left\r\n"
    "c=IN IP4 239.69.1.2/32\r\nt=0 0\r\nm=audio 5004 RTP/AVP 98\r\n"
    "a=rtpmap:98 L24/48000/2\r\na=ptime:1\r\n"
    "a=ts-refclk:ptp=IEEE1588-2008:00-11-22-FF-FE-33-44-55:0\r\n"
    "a=mediaclk:direct=963\r\n"
    "a=source-filter: incl IN IP4 239.69.1.2 10.0.0.1\r\n";
static const char l16_sdp[] =
    "v=0\no=- 2 5 IN IP4 10.0.0.2\ns=8ch\nc=IN IP4 10.0.0.9\nt=0 0\n"
    "m=audio 6000 RTP/AVP 96\na=rtpmap:96 L16/96000/8\na=ptime:0.125\n";
static const char pcmu_sdp[] = /* a static payload type, encoding PCMU */
    "v=0\no=- 3 1 IN IP4 10.0.0.3\ns=voice\nc=IN IP4 239.1.1.1/8\n"
    "t=0 0\nm=audio 5004 RTP/AVP 0\n";
static const char bad_sdp[] = "v=0\no=broken\n";

static const struct {
	const char *path;
	const char *text;
} files[] = {
    {"stream.sdp", good_sdp},
    {"/tmp/playback-music.sdp", good_sdp}, /* examples/record-stream.ini */
    {"l16.sdp", l16_sdp},
    {"pcmu.sdp", pcmu_sdp},
    {"bad.sdp", bad_sdp},
};

static bool parsing;

/* A fixture while parsing, NULL (ENOENT) for any other name. */
static FILE *open_fixture(const char *path)
{
	size_t i;

	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		if (!strcmp(path, files[i].path))
			return fmemopen((void *)files[i].text,
					strlen(files[i].text), "r");
	errno = ENOENT;
	return NULL;
}

FILE *__wrap_fopen(const char *path, const char *mode)
{
	return parsing ? open_fixture(path) : __real_fopen(path, mode);
}

/* meson builds with _FILE_OFFSET_BITS=64: config.c calls this one */
FILE *__wrap_fopen64(const char *path, const char *mode)
{
	return parsing ? open_fixture(path) : __real_fopen64(path, mode);
}

/* "fuzz.ini:12: message" */
static void check_error_text(const char *err)
{
	const char *p = err;

	if (strncmp(p, NAME ":", sizeof(NAME)))
		abort();
	p += sizeof(NAME);
	if (!isdigit((unsigned char)*p))
		abort();
	while (isdigit((unsigned char)*p))
		p++;
	if (p[0] != ':' || p[1] != ' ' || !p[2])
		abort();
}

static void check_config(const struct node_config *cfg)
{
	unsigned int i;

	if (cfg->nsources > CONFIG_MAX_SOURCES ||
	    cfg->nflows > CONFIG_MAX_FLOWS || cfg->nsubs > CONFIG_MAX_SUBS ||
	    cfg->nsinks > CONFIG_MAX_SINKS || cfg->nd4 > CONFIG_MAX_D4)
		abort();
	for (i = 0; i < cfg->nd4; i++)
		if (cfg->d4[i].nexec > CONFIG_MAX_D4_EXEC ||
		    cfg->d4[i].nbind > CONFIG_MAX_D4_EXEC)
			abort();
	for (i = 0; i < cfg->nsinks; i++)
		if (config_find_sub(cfg, cfg->sinks[i].sub) < 0)
			abort();
	for (i = 0; i < cfg->nflows; i++)
		if (config_find_source(cfg, cfg->flows[i].source) < 0)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct node_config cfg; /* large: not on the stack */
	char err[512], *text;

	text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	parsing = true;
	if (config_parse_string(text, NAME, &cfg, err, sizeof(err)))
		check_error_text(err);
	else
		check_config(&cfg);
	parsing = false;
	free(text);
	return 0;
}
