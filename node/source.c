/* File, tone and silence sources. Files are read ahead by the file thread
 * into a ring; the media thread turns ring frames into positions.
 *
 * A file sits on the timeline: frame i plays at position start + i (with
 * a loop, i modulo its length). When the media thread needs frame F and
 * the ring does not begin there — a node that starts (or restarts) after
 * the file's start, a stall longer than the read-ahead, a step of the
 * media clock — it asks the file thread to seek, in three steps over
 * atomics, since only the reader may empty an SPSC ring and only the
 * writer may fill it: the reader asks (seek_req, the frame), the writer
 * stops writing and says so (seek_stopped), the reader empties the ring
 * and says so (seek_flushed), the writer seeks and writes from F. The
 * positions in between play silence, counted as underruns, and the jump
 * is counted (seeks) and logged by the control thread. */
#include "node/source.h"
#include "common/mem.h"
#include "common/log.h"
#include "common/ring.h"
#include "node/sndfile_lib.h"
#include "common/simd.h"
#include "ptp/mclock.h"

#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if D4_HAVE_SSSE3
#include <immintrin.h>
#endif

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
	/* tone: its frequency in mHz, and the period (rate * 1000) that
	 * the phase in cycles, x * mhz / period, repeats over */
	uint64_t mhz[SOURCE_MAX_CHANNELS];
	uint64_t period;

	/* file: the file thread owns sf and the write side of the ring */
	const struct sndfile_lib *lib;
	SNDFILE *sf;
	struct ring *ring;
	int32_t *io_buf;
	/* a file of 16- or 24-bit little-endian PCM (WAV, WAVEX, W64, RF64)
	 * is read as its bytes and widened here, libsndfile's int
	 * conversion being most of the file thread's work a sample */
	unsigned int raw_bytes; /* 2 or 3 a sample, 0: readf_int */
	/* floating-point data (float, double, and the lossy codecs, which
	 * libsndfile decodes to float) is read as float and scaled here:
	 * readf_int gives such a file's [-1, 1] as -1, 0, 1 (a new user's
	 * float WAV played at -138 dBFS) */
	bool floats;
	void *raw_buf; /* the bytes or floats of IO_CHUNK frames */
	uint64_t file_frames; /* the file's length */
	_Atomic bool eof;
	/* a seek: requested by the media thread, stopped and done by the
	 * file thread, the ring emptied by the media thread in between */
	_Atomic unsigned int seek_req, seek_stopped, seek_flushed;
	_Atomic uint64_t seek_frame;
	unsigned int seek_done; /* file thread: the last it carried out */
	_Atomic uint64_t seeks; /* jumps, for the log */
	_Atomic uint64_t last_seek_frame;

	/* media thread */
	bool timescale_ok;
	bool started;
	uint64_t start_x;
	uint64_t end_x;	     /* next position to produce */
	uint64_t ring_frame; /* file frame at the ring's head */
	bool seeking;	     /* until the file thread has stopped */
	int32_t *hist;	     /* SOURCE_HISTORY frames, indexed by position */
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

enum source_at source_where(const struct source *src, uint64_t now_ns,
			    double *start_s)
{
	uint64_t len_ns;

	*start_s = 0;
	if (!src->file_frames || src->cfg.start != START_AT)
		return SOURCE_AT_PLAYING;
	*start_s = ((double)src->cfg.start_ns - (double)now_ns) / 1e9;
	if (now_ns < src->cfg.start_ns)
		return SOURCE_AT_BEFORE;
	len_ns = mclock_samples_to_ns(src->file_frames, src->rate);
	if (!src->cfg.loop && now_ns - src->cfg.start_ns >= len_ns)
		return SOURCE_AT_ENDED;
	return SOURCE_AT_PLAYING;
}

double source_file_seconds(const struct source *src)
{
	return src->rate ? (double)src->file_frames / src->rate : 0;
}

uint64_t source_underruns(const struct source *src)
{
	return atomic_load_explicit(&src->underruns, memory_order_relaxed);
}

#if D4_HAVE_SSSE3
/* AVX2: eight samples a shuffle, each half's 12 bytes moved to its own
 * 128 bits first (32 bytes read: a block runs while they are in the
 * buffer). */
D4_TARGET_AVX2 static size_t le24_widen_avx2(const uint8_t *restrict in,
					     size_t n, int32_t *restrict out)
{
	const __m256i split = _mm256_setr_epi32(0, 1, 2, 0, 3, 4, 5, 0);
	const __m256i pick = _mm256_setr_epi8(
	    -1, 0, 1, 2, -1, 3, 4, 5, -1, 6, 7, 8, -1, 9, 10, 11, -1, 0, 1, 2,
	    -1, 3, 4, 5, -1, 6, 7, 8, -1, 9, 10, 11);
	size_t i;

	for (i = 0; i + 11 <= n; i += 8)
		_mm256_storeu_si256(
		    (__m256i *)(out + i),
		    _mm256_shuffle_epi8(
			_mm256_permutevar8x32_epi32(
			    _mm256_loadu_si256((const __m256i *)(in + 3 * i)),
			    split),
			pick));
	return i;
}

/* Four samples a shuffle: each one's three bytes to the top of its 32
 * bits (16 bytes read: a block runs while they are in the buffer). */
D4_TARGET_SSSE3 static size_t le24_widen_ssse3(const uint8_t *restrict in,
					       size_t i, size_t n,
					       int32_t *restrict out)
{
	const __m128i pick = _mm_setr_epi8(-1, 0, 1, 2, -1, 3, 4, 5, -1, 6, 7,
					   8, -1, 9, 10, 11);

	for (; i + 6 <= n; i += 4)
		_mm_storeu_si128(
		    (__m128i *)(out + i),
		    _mm_shuffle_epi8(
			_mm_loadu_si128((const __m128i *)(in + 3 * i)), pick));
	return i;
}
#endif

/* @n samples of @bytes-byte little-endian PCM to int32 as libsndfile's
 * readf_int gives them: the value in the top bits. */
static void le_widen(const uint8_t *restrict in, unsigned int bytes, size_t n,
		     int32_t *restrict out)
{
	size_t i = 0;

	if (bytes == 2) {
		for (; i < n; i++)
			out[i] = (int32_t)((uint32_t)in[2 * i] << 16 |
					   (uint32_t)in[2 * i + 1] << 24);
		return;
	}
#if D4_HAVE_SSSE3
	if (d4_cpu_avx2())
		i = le24_widen_avx2(in, n, out);
	if (d4_cpu_ssse3())
		i = le24_widen_ssse3(in, i, n, out);
#endif
	for (; i < n; i++)
		out[i] = (int32_t)((uint32_t)in[3 * i] << 8 |
				   (uint32_t)in[3 * i + 1] << 16 |
				   (uint32_t)in[3 * i + 2] << 24);
}

/* Samples in [-1, 1) to int32, rounded to 24 bits (the most the wire
 * carries) and clipped: 1.0 and beyond is the largest value. */
static void float_to_s32(const float *restrict in, size_t n,
			 int32_t *restrict out)
{
	size_t i;

	for (i = 0; i < n; i++) {
		float v = in[i] * 8388608.0f;

		if (!(v > -8388608.0f)) /* NaN too */
			v = v < 0 ? -8388608.0f : 0.0f;
		else if (v > 8388607.0f)
			v = 8388607.0f;
		out[i] = (int32_t)lrintf(v) * 256;
	}
}

/* Whether libsndfile decodes @info's data to floating point. */
static bool float_data(const SF_INFO *info)
{
	switch (info->format & SF_FORMAT_SUBMASK) {
	case SF_FORMAT_FLOAT:
	case SF_FORMAT_DOUBLE:
	case SF_FORMAT_VORBIS:
	case SF_FORMAT_OPUS:
#ifdef SF_FORMAT_MPEG_LAYER_III
	case SF_FORMAT_MPEG_LAYER_I:
	case SF_FORMAT_MPEG_LAYER_II:
	case SF_FORMAT_MPEG_LAYER_III:
#endif
		return true;
	default:
		return false;
	}
}

/* Frames of @info read as their bytes: 16- and 24-bit PCM in WAV and its
 * kin, little-endian unless they say otherwise (RIFX). 0: not so. */
static unsigned int raw_sample_bytes(const SF_INFO *info)
{
	int type = info->format & SF_FORMAT_TYPEMASK;
	int sub = info->format & SF_FORMAT_SUBMASK;
	int endian = info->format & SF_FORMAT_ENDMASK;
	/* only containers that store samples packed, one after another
	 * (PAF reports 24-bit little-endian too, in blocks of its own: an
	 * attacker heard noise) */
	bool packed = type == SF_FORMAT_WAV || type == SF_FORMAT_WAVEX ||
		      type == SF_FORMAT_W64 || type == SF_FORMAT_RF64;

	if (!packed || (endian != SF_ENDIAN_FILE && endian != SF_ENDIAN_LITTLE))
		return 0;
	return sub == SF_FORMAT_PCM_24 ? 3 : sub == SF_FORMAT_PCM_16 ? 2 : 0;
}

/* Up to @frames frames into io_buf. */
static sf_count_t read_frames(struct source *src, sf_count_t frames)
{
	size_t frame_bytes = (size_t)src->raw_bytes * src->channels;
	sf_count_t got;

	if (src->floats) {
		got = src->lib->readf_float(src->sf, src->raw_buf, frames);
		if (got > 0)
			float_to_s32(src->raw_buf, (size_t)got * src->channels,
				     src->io_buf);
		return got;
	}
	if (!src->raw_bytes)
		return src->lib->readf_int(src->sf, src->io_buf, frames);
	got = src->lib->read_raw(src->sf, src->raw_buf,
				 frames * (sf_count_t)frame_bytes);
	if (got <= 0)
		return got;
	got /= (sf_count_t)frame_bytes;
	le_widen(src->raw_buf, src->raw_bytes, (size_t)got * src->channels,
		 src->io_buf);
	return got;
}

static int open_file(struct source *src, char *err, size_t err_len)
{
	SF_INFO info = {0};
	char why[300];

	if (!(src->lib = sndfile_lib(why, sizeof(why)))) {
		snprintf(err, err_len, "source %s: %s", src->cfg.name, why);
		return -ENOENT;
	}
	src->sf = src->lib->open(src->cfg.path, SFM_READ, &info);
	if (!src->sf) {
		snprintf(err, err_len, "source %s: cannot open '%s': %s",
			 src->cfg.name, src->cfg.path,
			 src->lib->strerror(NULL));
		return -ENOENT;
	}
	if (info.channels < 1 || info.channels > SOURCE_MAX_CHANNELS) {
		snprintf(err, err_len,
			 "source %s: '%s' has %d channels; d4 takes 1-%d",
			 src->cfg.name, src->cfg.path, info.channels,
			 SOURCE_MAX_CHANNELS);
		return -EINVAL;
	}
	if (info.frames == 0) {
		/* nothing to play, looping or not (looped, it spun) */
		snprintf(err, err_len, "source %s: '%s' holds no audio",
			 src->cfg.name, src->cfg.path);
		return -EINVAL;
	}
	src->channels = (unsigned int)info.channels;
	src->rate = (uint32_t)info.samplerate;
	src->file_frames = info.frames > 0 ? (uint64_t)info.frames : 0;
	src->ring = ring_new(src->channels * sizeof(int32_t),
			     src->rate * SOURCE_READAHEAD_S);
	src->io_buf = calloc((size_t)IO_CHUNK * src->channels, sizeof(int32_t));
	src->raw_bytes = raw_sample_bytes(&info);
	src->floats = float_data(&info);
	if (src->raw_bytes || src->floats)
		src->raw_buf = malloc((size_t)IO_CHUNK * src->channels *
				      (src->floats ? sizeof(float)
						   : src->raw_bytes));
	if (!src->ring || !src->io_buf ||
	    ((src->raw_bytes || src->floats) && !src->raw_buf)) {
		snprintf(err, err_len, "source %s: out of memory",
			 src->cfg.name);
		return -ENOMEM;
	}
	return source_io_fill(src);
}

struct source *source_open(const struct source_config *cfg, char *err,
			   size_t err_len)
{
	struct source *src = mem_calloc_held(1, sizeof(*src));
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
	src->period = (uint64_t)src->rate * 1000;
	for (c = 0; c < src->channels; c++) {
		src->amp[c] = pow(10.0, cfg->level_dbfs[c] / 20.0);
		src->mhz[c] = (uint64_t)llround(cfg->freq_hz[c] * 1000.0);
	}
	src->hist = mem_calloc_held((size_t)SOURCE_HISTORY * src->channels,
				    sizeof(int32_t));
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
		src->lib->close(src->sf);
	ring_destroy(src->ring);
	free(src->io_buf);
	free(src->raw_buf);
	free(src->hist);
	free(src);
}

int source_io_fill(struct source *src)
{
	bool rewound = false;
	unsigned int req;

	if (!src->sf)
		return 0;
	req = atomic_load_explicit(&src->seek_req, memory_order_acquire);
	if (req != src->seek_done) {
		/* Stop writing; once the reader has emptied the ring, go
		 * on from the frame it asked for. */
		atomic_store_explicit(&src->seek_stopped, req,
				      memory_order_release);
		if (atomic_load_explicit(&src->seek_flushed,
					 memory_order_acquire) != req)
			return 0;
		src->seek_done = req;
		if (src->lib->seek(src->sf,
			    (sf_count_t)atomic_load_explicit(
				&src->seek_frame, memory_order_relaxed),
			    SEEK_SET) < 0)
			atomic_store(&src->eof, true);
		else
			atomic_store(&src->eof, false);
	}
	if (atomic_load(&src->eof))
		return 0;
	for (;;) {
		uint32_t space = ring_writable(src->ring);
		sf_count_t got;

		if (space < IO_CHUNK)
			return 0;
		got = read_frames(src, IO_CHUNK);
		if (got < 0)
			return -EIO;
		if (got == 0) {
			/* a file that gives nothing from its start either
			 * (no frames, or none readable) ends too: looping
			 * it spun for ever (an attacker's empty WAV held
			 * the node's start) */
			if (!src->cfg.loop || rewound ||
			    src->lib->seek(src->sf, 0, SEEK_SET) < 0) {
				atomic_store(&src->eof, true);
				return 0;
			}
			rewound = true;
			continue;
		}
		rewound = false;
		ring_write(src->ring, src->io_buf, (uint32_t)got);
	}
}

uint64_t source_seeks(const struct source *src, uint64_t *last_frame)
{
	if (last_frame)
		*last_frame = atomic_load_explicit(&src->last_seek_frame,
						   memory_order_relaxed);
	return atomic_load_explicit(&src->seeks, memory_order_relaxed);
}

/* The file frame position @x plays, or UINT64_MAX past a file that does
 * not loop. */
static uint64_t file_frame_of(const struct source *src, uint64_t x)
{
	uint64_t f = x - src->start_x;

	if (!src->file_frames)
		return f;
	if (src->cfg.loop)
		return f % src->file_frames;
	return f < src->file_frames ? f : UINT64_MAX;
}

/* Ask the file thread to go to file frame @want. RT. */
static void request_seek(struct source *src, uint64_t want)
{
	unsigned int req =
	    atomic_load_explicit(&src->seek_req, memory_order_relaxed) + 1;

	atomic_store_explicit(&src->seek_frame, want, memory_order_relaxed);
	atomic_store_explicit(&src->seek_req, req, memory_order_release);
	atomic_store_explicit(&src->last_seek_frame, want,
			      memory_order_relaxed);
	atomic_fetch_add_explicit(&src->seeks, 1, memory_order_relaxed);
	src->seeking = true;
	src->ring_frame = want; /* where the file thread will write from */
}

/* While a seek is under way: once the file thread has stopped writing,
 * empty the ring and let it go on. True while positions must wait. RT. */
static bool seek_pending(struct source *src)
{
	unsigned int req =
	    atomic_load_explicit(&src->seek_req, memory_order_relaxed);

	if (!src->seeking)
		return false;
	if (atomic_load_explicit(&src->seek_stopped, memory_order_acquire) !=
	    req)
		return true;
	ring_skip(src->ring, ring_readable(src->ring));
	atomic_store_explicit(&src->seek_flushed, req, memory_order_release);
	src->seeking = false;
	return false;
}

/* Bring the ring's head to the frame position @x plays: skip to it when
 * the ring holds it, wait when the file thread is still reading towards
 * it, else ask for a seek. True when the head is there. RT. */
static bool align_file(struct source *src, uint64_t x)
{
	uint64_t want = file_frame_of(src, x), d, len = src->file_frames;
	uint32_t readable;

	if (want == UINT64_MAX || seek_pending(src))
		return false;
	if (want == src->ring_frame)
		return true;
	readable = ring_readable(src->ring);
	if (src->cfg.loop && len)
		d = (want + len - src->ring_frame % len) % len;
	else
		d = want >= src->ring_frame ? want - src->ring_frame
					    : UINT64_MAX;
	if (d <= readable) {
		ring_skip(src->ring, (uint32_t)d);
		src->ring_frame = want;
		return true;
	}
	if (d < (uint64_t)src->rate * SOURCE_READAHEAD_S &&
	    !atomic_load_explicit(&src->eof, memory_order_acquire)) {
		/* just read ahead of: it is on its way */
		ring_skip(src->ring, readable);
		src->ring_frame += readable;
		if (src->cfg.loop && len)
			src->ring_frame %= len;
		return false;
	}
	request_seek(src, want);
	return false;
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
		uint32_t run = (uint32_t)(to - from), got = 0;

		if (run > SOURCE_HISTORY - off)
			run = (uint32_t)(SOURCE_HISTORY - off);
		if (align_file(src, from)) {
			got = ring_read(src->ring, src->hist + off * ch, run);
			src->ring_frame += got;
			if (src->cfg.loop && src->file_frames)
				src->ring_frame %= src->file_frames;
		}
		if (got < run) {
			/* The disk fell behind, a seek is under way, or the
			 * file ended (silence, not an underrun). */
			memset(src->hist + (off + got) * ch, 0,
			       (size_t)(run - got) * ch * sizeof(int32_t));
			if (file_frame_of(src, from + got) != UINT64_MAX)
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
		uint64_t xm;

		if (src->cfg.type == SOURCE_SILENCE) {
			memset(f, 0, ch * sizeof(*f));
			continue;
		}
		xm = x % src->period;
		for (c = 0; c < ch; c++) {
			/* Phase from the position itself: every node makes
			 * the same tone at the same PTP time. In whole
			 * numbers up to the last step: x is some 10^14 (PTP
			 * seconds x 48000), where a double's x * step kept
			 * the phase to 2e-4 rad, a noise floor 59 dB under a
			 * 2 kHz tone (new-user review). */
			uint64_t cyc = xm * src->mhz[c] % src->period;
			double ph =
			    2.0 * M_PI * (double)cyc / (double)src->period;
			double v = src->amp[c] * sin(ph) * 8388607.0;

			f[c] = (int32_t)lrint(v) * 256;
		}
	}
}

/* Whether channel map @chans takes channel c to c for all @n. */
static bool identity(const uint8_t *chans, unsigned int n)
{
	unsigned int c;

	for (c = 0; c < n; c++)
		if (chans[c] != c)
			return false;
	return true;
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
		/* A start in the past (the file is already under way, by
		 * whatever distance): produce_file() finds its place. */
	}
	if (end > src->end_x + SOURCE_HISTORY) {
		/* A long stall: skip what no reader can ask for any more;
		 * produce_file() finds the file's place again. */
		src->end_x = end - SOURCE_HISTORY;
	}
	if (end > src->end_x) {
		produce(src, src->end_x, end);
		src->end_x = end;
	}
	if (nch == ch && identity(chans, nch) &&
	    x + SOURCE_HISTORY >= src->end_x) {
		/* every channel in its place, all still held: whole runs
		 * (the history wraps at most once) */
		while (frames) {
			uint64_t off = x & (SOURCE_HISTORY - 1);
			uint64_t run = SOURCE_HISTORY - off < frames
					   ? SOURCE_HISTORY - off
					   : frames;

			memcpy(out, src->hist + off * ch,
			       (size_t)run * ch * sizeof(*out));
			out += run * ch;
			x += run;
			frames -= (unsigned int)run;
		}
		return;
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
