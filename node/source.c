/* File, tone and silence sources. Files are read ahead by the file thread
 * into a ring; the media thread turns ring frames into positions. */
#include "node/source.h"
#include "common/log.h"
#include "common/ring.h"
#include "ptp/mclock.h"

#include <errno.h>
#include <math.h>
#include <sndfile.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How far back a position can be read again: covers flows that run up to
 * this many frames apart. */
#define SOURCE_HISTORY 8192
/* File read-ahead, in seconds of audio. */
#define SOURCE_READAHEAD_S 1
#define IO_CHUNK	   1024

struct source {
	struct source_config cfg;
	unsigned int channels;
	uint32_t rate;
	double amp[SOURCE_MAX_CHANNELS];
	double step[SOURCE_MAX_CHANNELS]; /* radians per sample */

	/* file: the file thread owns sf and the write side of the ring */
	SNDFILE *sf;
	struct ring *ring;
	int32_t *io_buf;
	_Atomic bool eof;

	/* media thread */
	bool timescale_ok;
	bool started;
	uint64_t start_x;
	uint64_t end_x; /* next position to produce */
	int32_t *hist;	/* SOURCE_HISTORY frames, indexed by position */
	struct alsa_cap *cap;
	_Atomic uint64_t underruns;
};

const char *source_name(const struct source *src)
{
	return src->cfg.name;
}

unsigned int source_channels(const struct source *src)
{
	return src->channels;
}

uint32_t source_rate(const struct source *src)
{
	return src->rate;
}

bool source_is_file(const struct source *src)
{
	return src->cfg.type == SOURCE_FILE;
}

uint64_t source_underruns(const struct source *src)
{
	return atomic_load_explicit(&src->underruns, memory_order_relaxed);
}

static int open_file(struct source *src, char *err, size_t err_len)
{
	SF_INFO info = {0};

	src->sf = sf_open(src->cfg.path, SFM_READ, &info);
	if (!src->sf) {
		snprintf(err, err_len, "source %s: cannot open '%s': %s",
			 src->cfg.name, src->cfg.path, sf_strerror(NULL));
		return -ENOENT;
	}
	if (info.channels < 1 || info.channels > SOURCE_MAX_CHANNELS) {
		snprintf(err, err_len,
			 "source %s: '%s' has %d channels; d4 takes 1-%d",
			 src->cfg.name, src->cfg.path, info.channels,
			 SOURCE_MAX_CHANNELS);
		return -EINVAL;
	}
	src->channels = (unsigned int)info.channels;
	src->rate = (uint32_t)info.samplerate;
	src->ring = ring_new(src->channels * sizeof(int32_t),
			     src->rate * SOURCE_READAHEAD_S);
	src->io_buf = calloc((size_t)IO_CHUNK * src->channels, sizeof(int32_t));
	if (!src->ring || !src->io_buf) {
		snprintf(err, err_len, "source %s: out of memory",
			 src->cfg.name);
		return -ENOMEM;
	}
	return source_io_fill(src);
}

struct source *source_open(const struct source_config *cfg, char *err,
			   size_t err_len)
{
	struct source *src = calloc(1, sizeof(*src));
	unsigned int c;

	if (!src) {
		snprintf(err, err_len, "out of memory");
		return NULL;
	}
	src->cfg = *cfg;
	src->timescale_ok = true;
	if (cfg->type == SOURCE_FILE) {
		if (open_file(src, err, err_len) < 0)
			goto out_destroy;
	} else if (cfg->type == SOURCE_ALSA) {
		struct alsa_config a = cfg->alsa;

		/* channels = what the card has; map = which become ours. */
		if (!a.dev_channels)
			a.dev_channels = cfg->channels;
		src->channels = a.nmap ? a.nmap : cfg->channels;
		src->rate = cfg->rate;
		src->cap = alsa_cap_open(cfg->name, &a, src->channels,
					 src->rate, err, err_len);
		if (!src->cap)
			goto out_destroy;
	} else {
		src->channels = cfg->channels;
		src->rate = cfg->rate;
	}
	for (c = 0; c < src->channels; c++) {
		src->amp[c] = pow(10.0, cfg->level_dbfs[c] / 20.0);
		src->step[c] = 2.0 * M_PI * cfg->freq_hz[c] / src->rate;
	}
	src->hist =
	    calloc((size_t)SOURCE_HISTORY * src->channels, sizeof(int32_t));
	if (!src->hist) {
		snprintf(err, err_len, "source %s: out of memory", cfg->name);
		goto out_destroy;
	}
	return src;

out_destroy:
	source_destroy(src);
	return NULL;
}

void source_destroy(struct source *src)
{
	if (!src)
		return;
	alsa_cap_destroy(src->cap);
	if (src->sf)
		sf_close(src->sf);
	ring_destroy(src->ring);
	free(src->io_buf);
	free(src->hist);
	free(src);
}

int source_io_fill(struct source *src)
{
	if (!src->sf || atomic_load(&src->eof))
		return 0;
	for (;;) {
		uint32_t space = ring_writable(src->ring);
		sf_count_t got;

		if (space < IO_CHUNK)
			return 0;
		got = sf_readf_int(src->sf, src->io_buf, IO_CHUNK);
		if (got < 0)
			return -EIO;
		if (got == 0) {
			if (!src->cfg.loop ||
			    sf_seek(src->sf, 0, SEEK_SET) < 0) {
				atomic_store(&src->eof, true);
				return 0;
			}
			continue;
		}
		ring_write(src->ring, src->io_buf, (uint32_t)got);
	}
}

/* File frames for positions [from, to): whole runs from the ring straight
 * into the history (which wraps at SOURCE_HISTORY). RT. */
static void produce_file(struct source *src, uint64_t from, uint64_t to)
{
	unsigned int ch = src->channels;

	if (from < src->start_x) {
		uint64_t end = to < src->start_x ? to : src->start_x;

		for (; from < end; from++)
			memset(src->hist + (from & (SOURCE_HISTORY - 1)) * ch,
			       0, ch * sizeof(int32_t));
	}
	while (from < to) {
		uint64_t off = from & (SOURCE_HISTORY - 1);
		uint32_t run = (uint32_t)(to - from), got;

		if (run > SOURCE_HISTORY - off)
			run = (uint32_t)(SOURCE_HISTORY - off);
		got = ring_read(src->ring, src->hist + off * ch, run);
		if (got < run) {
			/* The disk fell behind (or the file ended). */
			memset(src->hist + (off + got) * ch, 0,
			       (size_t)(run - got) * ch * sizeof(int32_t));
			if (!atomic_load_explicit(&src->eof,
						  memory_order_acquire))
				atomic_store_explicit(&src->underruns,
						      source_underruns(src) +
							  run - got,
						      memory_order_relaxed);
		}
		from += run;
	}
}

/* Make frames for positions [from, to) into the history. RT. */
static void produce(struct source *src, uint64_t from, uint64_t to)
{
	unsigned int ch = src->channels, c;
	uint64_t x;

	if (src->cfg.type == SOURCE_FILE) {
		produce_file(src, from, to);
		return;
	}
	while (src->cap && from < to) {
		uint64_t off = from & (SOURCE_HISTORY - 1);
		uint64_t run = to - from < SOURCE_HISTORY - off
				   ? to - from
				   : SOURCE_HISTORY - off;

		alsa_cap_read(src->cap, from, (unsigned int)run,
			      src->hist + off * ch);
		from += run;
	}
	if (src->cap)
		return;
	for (x = from; x < to; x++) {
		int32_t *f = src->hist + (x & (SOURCE_HISTORY - 1)) * ch;

		if (src->cfg.type == SOURCE_SILENCE) {
			memset(f, 0, ch * sizeof(*f));
			continue;
		}
		for (c = 0; c < ch; c++) {
			/* Phase from the position itself: every node makes
			 * the same tone at the same PTP time. */
			double ph = fmod((double)x * src->step[c], 2.0 * M_PI);
			double v = src->amp[c] * sin(ph) * 8388607.0;

			f[c] = (int32_t)lrint(v) * 256;
		}
	}
}

void source_read(struct source *src, uint64_t x, unsigned int frames,
		 const uint8_t *chans, unsigned int nch, int32_t *out)
{
	uint64_t end = x + frames, i;
	unsigned int c, ch = src->channels;

	if (src->cfg.start == START_AT && !src->timescale_ok) {
		memset(out, 0, (size_t)frames * nch * sizeof(*out));
		return;
	}
	if (!src->started) {
		src->started = true;
		src->end_x = x;
		src->start_x =
		    src->cfg.start == START_AT
			? mclock_ns_to_samples(src->cfg.start_ns, src->rate)
			: x;
		/* A start in the past: the file is already under way. */
		if (src->cfg.type == SOURCE_FILE && src->start_x < x) {
			uint64_t late = x - src->start_x;

			ring_skip(src->ring, late > UINT32_MAX
						 ? UINT32_MAX
						 : (uint32_t)late);
		}
	}
	if (end > src->end_x + SOURCE_HISTORY) {
		/* A long stall: skip what no reader can ask for any more. */
		uint64_t skip_to = end - SOURCE_HISTORY;

		if (src->cfg.type == SOURCE_FILE && skip_to > src->start_x) {
			uint64_t from = src->end_x > src->start_x
					    ? src->end_x
					    : src->start_x;

			ring_skip(src->ring, (uint32_t)(skip_to - from));
		}
		src->end_x = skip_to;
	}
	if (end > src->end_x) {
		produce(src, src->end_x, end);
		src->end_x = end;
	}
	for (i = 0; i < frames; i++) {
		uint64_t pos = x + i;
		int32_t *o = out + i * nch;

		if (pos + SOURCE_HISTORY < src->end_x) {
			memset(o, 0, nch * sizeof(*o));
			continue;
		}
		const int32_t *f =
		    src->hist + (pos & (SOURCE_HISTORY - 1)) * ch;
		for (c = 0; c < nch; c++)
			o[c] = f[chans[c]];
	}
}

void source_resync(struct source *src)
{
	src->started = false;
}

bool source_ready(struct source *src, uint64_t end, uint64_t late_ns)
{
	return !src->cap || alsa_cap_ready(src->cap, end, late_ns);
}

uint32_t source_lag_frames(const struct source *src)
{
	return src->cap ? alsa_cap_lag_frames(src->cap) : 0;
}

int source_start(struct source *src, struct mclock *mc, int rt_prio)
{
	return src->cap ? alsa_cap_start(src->cap, mc, rt_prio) : 0;
}

struct alsa_cap *source_alsa(const struct source *src)
{
	return src->cap;
}

void source_set_timescale_ok(struct source *src, bool ok)
{
	src->timescale_ok = ok;
}
