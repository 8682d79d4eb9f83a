/* Timestamp-aligned recorder: positions outside [T0, T0 + duration) are
 * dropped, everything inside goes through an SPSC ring to libsndfile. */
#include "node/recorder.h"
#include "common/ring.h"
#include "ptp/mclock.h"

#include <errno.h>
#include <sndfile.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REC_RING_S 2
#define REC_CHUNK  1024

struct recorder {
	struct recorder_config cfg;
	SNDFILE *sf;
	struct ring *ring;
	int32_t *scratch; /* media side: REC_CHUNK frames */
	int32_t *io_buf;  /* file side */

	/* media side */
	bool timescale_ok;
	bool rebase; /* the timescale stepped: continue from the next feed */
	uint64_t next_x; /* next position to write, UINT64_MAX: none yet */
	uint64_t t0;	 /* UINT64_MAX until known */
	uint64_t end_x;	 /* UINT64_MAX: open-ended */
	_Atomic bool complete;
	_Atomic uint64_t t0_pub;
	_Atomic uint64_t overflows;
	/* file side */
	_Atomic uint64_t written;
};

struct recorder *recorder_open(const struct recorder_config *cfg, char *err,
			       size_t err_len)
{
	struct recorder *rec = calloc(1, sizeof(*rec));
	SF_INFO info = {0};

	if (!rec) {
		snprintf(err, err_len, "out of memory");
		return NULL;
	}
	rec->cfg = *cfg;
	rec->t0 = UINT64_MAX;
	rec->end_x = UINT64_MAX;
	rec->next_x = UINT64_MAX;
	rec->timescale_ok = true;
	atomic_store(&rec->t0_pub, UINT64_MAX);
	if (cfg->start == START_AT)
		rec->t0 = mclock_ns_to_samples(cfg->start_ns, cfg->rate);
	info.samplerate = (int)cfg->rate;
	info.channels = (int)cfg->nch;
	info.format = cfg->format;
	if (!sf_format_check(&info)) {
		snprintf(err, err_len,
			 "sink %s: libsndfile cannot write format 0x%x with "
			 "%u channels at %u Hz",
			 cfg->name, (unsigned int)cfg->format, cfg->nch,
			 cfg->rate);
		goto out_free;
	}
	rec->ring =
	    ring_new(cfg->nch * sizeof(int32_t), cfg->rate * REC_RING_S);
	rec->scratch = calloc((size_t)REC_CHUNK * cfg->nch, sizeof(int32_t));
	rec->io_buf = calloc((size_t)REC_CHUNK * cfg->nch, sizeof(int32_t));
	if (!rec->ring || !rec->scratch || !rec->io_buf) {
		snprintf(err, err_len, "sink %s: out of memory", cfg->name);
		goto out_free;
	}
	rec->sf = sf_open(cfg->path, SFM_WRITE, &info);
	if (!rec->sf) {
		snprintf(err, err_len, "sink %s: cannot create '%s': %s",
			 cfg->name, cfg->path, sf_strerror(NULL));
		goto out_free;
	}
	return rec;

out_free:
	ring_destroy(rec->ring);
	free(rec->scratch);
	free(rec->io_buf);
	free(rec);
	return NULL;
}

static void put_frames(struct recorder *rec, const int32_t *frames,
		       unsigned int n)
{
	uint32_t put = ring_write(rec->ring, frames, n);

	if (put < n)
		atomic_store_explicit(&rec->overflows,
				      recorder_overflows(rec) + n - put,
				      memory_order_relaxed);
}

void recorder_feed(struct recorder *rec, uint64_t x, const int32_t *frames,
		   unsigned int stream_ch, unsigned int nframes,
		   uint64_t first_data_x)
{
	unsigned int nch = rec->cfg.nch, c;
	uint64_t from, to;

	if (atomic_load_explicit(&rec->complete, memory_order_relaxed))
		return;
	if (rec->cfg.start == START_AT && !rec->timescale_ok)
		return;
	if (rec->t0 == UINT64_MAX) {
		if (rec->cfg.start == START_NOW)
			rec->t0 = x;
		else if (first_data_x != UINT64_MAX)
			rec->t0 = first_data_x;
		else
			return;
	}
	if (rec->end_x == UINT64_MAX && rec->cfg.duration_ns)
		rec->end_x = rec->t0 + mclock_ns_to_samples(
					   rec->cfg.duration_ns, rec->cfg.rate);
	if (rec->next_x == UINT64_MAX)
		rec->next_x = rec->t0;
	if (rec->rebase) {
		/* Positions of the old timescale mean nothing on the new
		 * one: keep the file contiguous and the time left. */
		if (rec->end_x != UINT64_MAX)
			rec->end_x = x + (rec->end_x - rec->next_x);
		rec->t0 = x - (rec->next_x - rec->t0);
		rec->next_x = x;
		rec->rebase = false;
	}
	if (atomic_load_explicit(&rec->t0_pub, memory_order_relaxed) != rec->t0)
		atomic_store_explicit(&rec->t0_pub, rec->t0,
				      memory_order_relaxed);
	to = x + nframes < rec->end_x ? x + nframes : rec->end_x;
	if (to <= rec->next_x)
		return; /* before the start, or already written */
	from = x > rec->next_x ? x : rec->next_x;
	/* Positions that went by unseen hold zeros (nothing came). */
	memset(rec->scratch, 0, (size_t)REC_CHUNK * nch * sizeof(int32_t));
	while (rec->next_x < from) {
		uint64_t gap = from - rec->next_x;
		unsigned int n =
		    gap > REC_CHUNK ? REC_CHUNK : (unsigned int)gap;

		put_frames(rec, rec->scratch, n);
		rec->next_x += n;
	}
	while (from < to) {
		unsigned int n = to - from > REC_CHUNK
				     ? REC_CHUNK
				     : (unsigned int)(to - from);
		const int32_t *in = frames + (from - x) * stream_ch;
		unsigned int i;

		for (i = 0; i < n; i++)
			for (c = 0; c < nch; c++)
				rec->scratch[i * nch + c] =
				    in[i * stream_ch + rec->cfg.chans[c]];
		put_frames(rec, rec->scratch, n);
		from += n;
	}
	rec->next_x = to;
	if (rec->end_x != UINT64_MAX && rec->next_x >= rec->end_x)
		atomic_store_explicit(&rec->complete, true,
				      memory_order_release);
}

void recorder_resync(struct recorder *rec)
{
	if (rec->next_x != UINT64_MAX && rec->next_x != rec->t0)
		rec->rebase = true;
}

void recorder_set_timescale_ok(struct recorder *rec, bool ok)
{
	rec->timescale_ok = ok;
}

bool recorder_io_drain(struct recorder *rec)
{
	bool complete =
	    atomic_load_explicit(&rec->complete, memory_order_acquire);
	uint32_t n;

	if (!rec->sf)
		return true;
	while ((n = ring_read(rec->ring, rec->io_buf, REC_CHUNK)) > 0) {
		sf_writef_int(rec->sf, rec->io_buf, n);
		atomic_store_explicit(&rec->written,
				      recorder_frames_written(rec) + n,
				      memory_order_relaxed);
	}
	if (complete) {
		/* Finish the file now: it is whole before the node stops. */
		sf_close(rec->sf);
		rec->sf = NULL;
		return true;
	}
	return false;
}

void recorder_close(struct recorder *rec)
{
	if (!rec)
		return;
	if (rec->sf) {
		recorder_io_drain(rec);
		if (rec->sf)
			sf_close(rec->sf);
	}
	ring_destroy(rec->ring);
	free(rec->scratch);
	free(rec->io_buf);
	free(rec);
}

uint64_t recorder_start_x(const struct recorder *rec)
{
	return atomic_load_explicit(&rec->t0_pub, memory_order_relaxed);
}

uint64_t recorder_frames_written(const struct recorder *rec)
{
	return atomic_load_explicit(&rec->written, memory_order_relaxed);
}

uint64_t recorder_overflows(const struct recorder *rec)
{
	return atomic_load_explicit(&rec->overflows, memory_order_relaxed);
}

const char *recorder_path(const struct recorder *rec)
{
	return rec->cfg.path;
}

uint32_t recorder_rate(const struct recorder *rec)
{
	return rec->cfg.rate;
}
