/* A file recorder that writes by timestamp: a recording that starts at media
 * sample T0 holds sample T0 + i at frame i, with zeros where nothing came.
 * The media thread feeds it positions; the file thread writes the file. */
#ifndef D4_NODE_RECORDER_H
#define D4_NODE_RECORDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "node/source.h"

struct recorder_config {
	char name[SOURCE_NAME_MAX];
	char path[4096];
	bool has_fd; /* write to @fd (opened by the caller), not @path */
	int fd;	     /* recorder_open owns it, whatever it returns */
	int format; /* libsndfile major | subtype */
	uint32_t rate;
	unsigned int nch;
	uint8_t chans[SOURCE_MAX_CHANNELS]; /* stream channel of each file ch */
	enum start_mode start;
	uint64_t start_ns;    /* START_AT */
	uint64_t duration_ns; /* 0: until the node stops */
	bool api; /* a recording the API asked for: its messages name the
		   * subscription @name, not a sink */
};

struct recorder;

/* Create the file now, so a bad path fails at start. NULL + @err. */
struct recorder *recorder_open(const struct recorder_config *cfg, char *err,
			       size_t err_len);

/* Media side. Frames for positions [x, x + frames), each @stream_ch wide.
 * Written strictly by position: positions skipped since the last call
 * become zeros, positions already written are ignored.
 * @first_data_x is the position of the first sample the stream delivered
 * (UINT64_MAX while none has come); until playout reaches it, it can move
 * back (an earlier packet came after a later one), so a recording that
 * starts at the first data takes it only then. RT: no alloc, no block. */
void recorder_feed(struct recorder *rec, uint64_t x, const int32_t *frames,
		   unsigned int stream_ch, unsigned int nframes,
		   uint64_t first_data_x);

/* Whether positions are on a settled timescale (default true); a recording
 * with an absolute start waits for it. RT. */
void recorder_set_timescale_ok(struct recorder *rec, bool ok);

/* After a step of the media clock's timescale: a recording under way goes
 * on from the next position fed, with the duration it had left; one that
 * has not started yet is unaffected. RT. */
void recorder_resync(struct recorder *rec);

/* I/O side: write what the media side fed. Returns true once the recording
 * is complete (duration reached) and written. */
bool recorder_io_drain(struct recorder *rec);

/* Write what is left, close the file and free everything. */
void recorder_close(struct recorder *rec);

/* The recording's first position, or UINT64_MAX before it has started. */
uint64_t recorder_start_x(const struct recorder *rec);
uint64_t recorder_frames_written(const struct recorder *rec);
/* Frames lost because the disk did not keep up (should stay 0). */
uint64_t recorder_overflows(const struct recorder *rec);
/* Positions of gaps that were not written as zeros (past 10 s of one
 * gap): the frames after such a gap are that much early. */
uint64_t recorder_gap_clipped(const struct recorder *rec);
/* Whether its duration has gone by (all of it fed). */
bool recorder_complete(const struct recorder *rec);
/* The error that stopped the recording (ENOSPC: a full disk), or 0. */
int recorder_write_errno(const struct recorder *rec);
const char *recorder_path(const struct recorder *rec);
uint32_t recorder_rate(const struct recorder *rec);

#endif
