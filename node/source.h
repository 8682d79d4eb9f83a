/* Audio sources: a node's TX channels come from these. A source is read by
 * media-clock sample position, so every flow that reads position X of a
 * source gets the same frame, and a file with an absolute start time puts its
 * frame i at PTP sample start + i. */
#ifndef D4_NODE_SOURCE_H
#define D4_NODE_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "node/alsa.h"

#define SOURCE_MAX_CHANNELS 64
#define SOURCE_NAME_MAX	    64

enum source_type {
	SOURCE_FILE,
	SOURCE_TONE,
	SOURCE_SILENCE,
	SOURCE_ALSA, /* a sound card's capture channels (node/alsa.h) */
};

enum start_mode {
	START_NOW,   /* at the first sample asked for */
	START_AT,    /* at a given PTP time */
	START_FIRST, /* recorders: at the first sample received */
};

struct source_config {
	char name[SOURCE_NAME_MAX];
	enum source_type type;
	char path[4096];
	bool loop;
	enum start_mode start;
	uint64_t start_ns;     /* START_AT */
	unsigned int channels; /* tone, silence; files say their own */
	uint32_t rate;	       /* tone, silence; files say their own */
	double freq_hz[SOURCE_MAX_CHANNELS];
	double level_dbfs[SOURCE_MAX_CHANNELS];
	struct alsa_config alsa; /* alsa: channels = the card's, map picks */
};

struct source;

/* Open a source (a file is opened and its first second read ahead). NULL
 * with a message in @err on failure. */
struct source *source_open(const struct source_config *cfg, char *err,
			   size_t err_len);
void source_destroy(struct source *src);

const char *source_name(const struct source *src);
unsigned int source_channels(const struct source *src);
uint32_t source_rate(const struct source *src);
bool source_is_file(const struct source *src);

/* Media side. Fill @out with @frames interleaved frames of the channels
 * listed in @chans (@nch of them, 0-based) for positions [x, x + frames).
 * Positions must move forward over time; a range read again within the last
 * SOURCE_HISTORY frames gets the same audio. RT: no alloc, no block. */
void source_read(struct source *src, uint64_t x, unsigned int frames,
		 const uint8_t *chans, unsigned int nch, int32_t *out);

/* Whether positions are on a settled timescale (default true). A file with
 * an absolute start plays silence, and reads nothing, until they are. RT. */
void source_set_timescale_ok(struct source *src, bool ok);

/* After a step of the media clock's timescale: positions start over from
 * the next read (a file with an absolute start is placed again). RT. */
void source_resync(struct source *src);

/* How long after a position's PTP time it can be read, in frames: 0, or
 * a capture source's lag (flows send that much later). */
uint32_t source_lag_frames(const struct source *src);

/* Are positions up to @end there to read, or is waiting for them
 * pointless? A capture source's thread can run late; a flow @late_ns
 * behind its schedule retries shortly while this says no. RT. */
bool source_ready(struct source *src, uint64_t end, uint64_t late_ns);

/* A capture source starts capturing on @mc. 0 or -errno; 0 for others. */
struct mclock;
int source_start(struct source *src, struct mclock *mc, int rt_prio);
struct alsa_cap *source_alsa(const struct source *src);

/* Frames a file source had not read from disk in time (played as zeros). */
uint64_t source_underruns(const struct source *src);

/* How often a file source jumped to the frame its position plays (a late
 * start, a long stall, a clock step), and the frame of the last jump. */
uint64_t source_seeks(const struct source *src, uint64_t *last_frame);

/* Where a file source with a start time is at PTP time @now_ns (control
 * side, for the log): before its start, playing, or past its file's end
 * (no loop: silence from there). Other sources: SOURCE_AT_PLAYING. The
 * start's distance from @now_ns (s, > 0 ahead) into *@start_s. */
enum source_at {
	SOURCE_AT_BEFORE,
	SOURCE_AT_PLAYING,
	SOURCE_AT_ENDED,
};
enum source_at source_where(const struct source *src, uint64_t now_ns,
			    double *start_s);
/* The file's length in seconds (0: not a file). */
double source_file_seconds(const struct source *src);

/* I/O side (the file thread): read ahead from disk. 0 or -errno. */
int source_io_fill(struct source *src);

#endif
