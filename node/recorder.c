/* Timestamp-aligned recorder: positions outside [T0, T0 + duration) are
 * dropped, everything inside goes through an SPSC ring to libsndfile.
 * Positions that went by unseen are zeros in the file; the media thread
 * only says how many (a gap mark beside the ring) and the file thread
 * writes them, at most REC_GAP_MAX_S seconds of them for one gap: a
 * recording whose start lies days back must cost the media thread nothing,
 * and the file thread no more than it writes in a blink (10 s of 8
 * channels are 11.5 MB); the frames after a longer gap are early by what
 * was left out (counted: recorder_gap_clipped). A write that fails (a full
 * disk) stops the recording, not the node: it is counted and said once. */
#include "node/recorder.h"
#include "common/mem.h"
#include "common/ring.h"
#include "node/sndfile_lib.h"
#include "ptp/mclock.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define REC_RING_S    2
#define REC_CHUNK     1024
#define REC_MARKS     64
#define REC_GAP_MAX_S 10

/* Zeros for @frames positions, before frame @at of the ring's stream. */
struct rec_mark {
	uint64_t at;
	uint64_t frames;
};

struct recorder {
	struct recorder_config cfg;
	const struct sndfile_lib *lib;
	SNDFILE *sf;
	int fd; /* the caller's descriptor under sf (fd_io), or -1 */
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
	uint64_t fed; /* frames put into the ring so far */
	/* gap marks: the media thread writes, the file thread reads */
	struct rec_mark marks[REC_MARKS];
	_Atomic unsigned int mark_w, mark_r;
	/* file side */
	uint64_t taken; /* frames taken from the ring so far */
	_Atomic uint64_t written;
	_Atomic uint64_t gap_clipped; /* zeros not written past the cap */
	_Atomic int write_errno;      /* the failure that stopped it, or 0 */
};

/* libsndfile's I/O on the descriptor the caller opened (openat with
 * O_NOFOLLOW | O_EXCL in the recordings directory). */
static sf_count_t fd_len(void *user)
{
	struct recorder *rec = user;
	struct stat st;

	return fstat(rec->fd, &st) < 0 ? -1 : (sf_count_t)st.st_size;
}

static sf_count_t fd_seek(sf_count_t off, int whence, void *user)
{
	struct recorder *rec = user;

	return (sf_count_t)lseek(rec->fd, (off_t)off, whence);
}

static sf_count_t fd_read(void *ptr, sf_count_t count, void *user)
{
	struct recorder *rec = user;
	ssize_t n = read(rec->fd, ptr, (size_t)count);

	return n < 0 ? 0 : (sf_count_t)n;
}

/* All of it, or what went before the error (errno says which). */
static sf_count_t fd_write(const void *ptr, sf_count_t count, void *user)
{
	struct recorder *rec = user;
	const char *p = ptr;
	sf_count_t done = 0;

	while (done < count) {
		ssize_t n = write(rec->fd, p + done, (size_t)(count - done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		done += n;
	}
	return done;
}

static sf_count_t fd_tell(void *user)
{
	struct recorder *rec = user;

	return (sf_count_t)lseek(rec->fd, 0, SEEK_CUR);
}

static SF_VIRTUAL_IO fd_io = {fd_len, fd_seek, fd_read, fd_write, fd_tell};

struct recorder *recorder_open(const struct recorder_config *cfg, char *err,
			       size_t err_len)
{
	struct recorder *rec = mem_calloc_held(1, sizeof(*rec));
	SF_INFO info = {0};
	int fd = cfg->has_fd ? cfg->fd : -1;
	char why[300], who[SOURCE_NAME_MAX + 40];

	if (cfg->api)
		snprintf(who, sizeof(who), "subscription %s's recording",
			 cfg->name);
	else
		snprintf(who, sizeof(who), "sink %s", cfg->name);
	if (!rec) {
		snprintf(err, err_len, "out of memory");
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	rec->cfg = *cfg;
	rec->fd = -1;
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
	if (!(rec->lib = sndfile_lib(why, sizeof(why)))) {
		snprintf(err, err_len, "%s: %s", who, why);
		goto out_free;
	}
	if (!rec->lib->format_check(&info)) {
		snprintf(err, err_len,
			 "%s: libsndfile cannot write format 0x%x with "
			 "%u channels at %u Hz",
			 who, (unsigned int)cfg->format, cfg->nch,
			 cfg->rate);
		goto out_free;
	}
	rec->ring =
	    ring_new(cfg->nch * sizeof(int32_t), cfg->rate * REC_RING_S);
	rec->scratch =
	    mem_calloc_held((size_t)REC_CHUNK * cfg->nch, sizeof(int32_t));
	rec->io_buf = calloc((size_t)REC_CHUNK * cfg->nch, sizeof(int32_t));
	if (!rec->ring || !rec->scratch || !rec->io_buf) {
		snprintf(err, err_len, "%s: out of memory", who);
		goto out_free;
	}
	if (cfg->has_fd) {
		/* Our own I/O on the descriptor: sf_open_fd closes it on
		 * failure or not depending on libsndfile's release. */
		rec->fd = fd;
		fd = -1;
		rec->sf = rec->lib->open_virtual(&fd_io, SFM_WRITE, &info, rec);
	} else {
		rec->sf = rec->lib->open(cfg->path, SFM_WRITE, &info);
	}
	if (!rec->sf) {
		snprintf(err, err_len, "%s: cannot create '%s': %s", who,
			 cfg->path, rec->lib->strerror(NULL));
		goto out_free;
	}
	return rec;

out_free:
	if (fd >= 0)
		close(fd);
	if (rec->fd >= 0)
		close(rec->fd);
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

	rec->fed += put;
	if (put < n)
		atomic_store_explicit(&rec->overflows,
				      recorder_overflows(rec) + n - put,
				      memory_order_relaxed);
}

/* @frames positions of zeros before the next frame put. RT. */
static void put_gap(struct recorder *rec, uint64_t frames)
{
	unsigned int w =
	    atomic_load_explicit(&rec->mark_w, memory_order_relaxed);
	unsigned int r =
	    atomic_load_explicit(&rec->mark_r, memory_order_acquire);
	struct rec_mark *prev = &rec->marks[(w - 1) % REC_MARKS];

	if (w != r && prev->at == rec->fed) {
		/* no frame since the last gap: one gap */
		prev->frames += frames;
		return;
	}
	if (w - r == REC_MARKS) {
		/* the file thread is that far behind: the positions are
		 * lost from the file (its index shifts), as frames the ring
		 * had no room for are */
		atomic_store_explicit(&rec->overflows,
				      recorder_overflows(rec) + frames,
				      memory_order_relaxed);
		return;
	}
	rec->marks[w % REC_MARKS] = (struct rec_mark){rec->fed, frames};
	atomic_store_explicit(&rec->mark_w, w + 1, memory_order_release);
}

void recorder_feed(struct recorder *rec, uint64_t x, const int32_t *frames,
		   unsigned int stream_ch, unsigned int nframes,
		   uint64_t first_data_x)
{
	unsigned int nch = rec->cfg.nch, c;
	uint64_t from, to;

	if (atomic_load_explicit(&rec->complete, memory_order_relaxed) ||
	    atomic_load_explicit(&rec->write_errno, memory_order_relaxed))
		return; /* done, or stopped by a failed write */
	if (rec->cfg.start == START_AT && !rec->timescale_ok)
		return;
	if (rec->t0 == UINT64_MAX) {
		if (rec->cfg.start == START_NOW)
			rec->t0 = x;
		else if (first_data_x < x + nframes)
			/* playout has reached the stream's first data: an
			 * earlier packet can no longer come in time */
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
	/* Positions that went by unseen hold zeros (nothing came): the file
	 * thread writes them. */
	if (rec->next_x < from) {
		put_gap(rec, from - rec->next_x);
		rec->next_x = from;
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

/* Write @n frames; a failure stops the recording. File thread. */
static void write_frames(struct recorder *rec, const int32_t *buf, uint64_t n)
{
	if (!rec->sf ||
	    atomic_load_explicit(&rec->write_errno, memory_order_relaxed))
		return;
	errno = 0;
	if (rec->lib->writef_int(rec->sf, buf, (sf_count_t)n) != (sf_count_t)n) {
		atomic_store_explicit(&rec->write_errno, errno ? errno : EIO,
				      memory_order_release);
		return;
	}
	atomic_store_explicit(&rec->written, recorder_frames_written(rec) + n,
			      memory_order_relaxed);
}

/* The zeros of a gap, at most REC_GAP_MAX_S of them. File thread. */
static void write_gap(struct recorder *rec, uint64_t frames)
{
	uint64_t cap = (uint64_t)rec->cfg.rate * REC_GAP_MAX_S;

	if (frames > cap) {
		atomic_store_explicit(&rec->gap_clipped,
				      recorder_gap_clipped(rec) + frames - cap,
				      memory_order_relaxed);
		frames = cap;
	}
	memset(rec->io_buf, 0,
	       (size_t)REC_CHUNK * rec->cfg.nch * sizeof(int32_t));
	while (frames) {
		uint64_t n = frames < REC_CHUNK ? frames : REC_CHUNK;

		write_frames(rec, rec->io_buf, n);
		frames -= n;
	}
}

/* Close the file (its header written) and the caller's descriptor. */
static void finish(struct recorder *rec)
{
	if (rec->sf)
		rec->lib->close(rec->sf);
	rec->sf = NULL;
	if (rec->fd >= 0)
		close(rec->fd);
	rec->fd = -1;
}

bool recorder_io_drain(struct recorder *rec)
{
	bool complete =
	    atomic_load_explicit(&rec->complete, memory_order_acquire);
	unsigned int w, r;
	uint32_t n, want;

	if (!rec->sf)
		return true;
	for (;;) {
		w = atomic_load_explicit(&rec->mark_w, memory_order_acquire);
		r = atomic_load_explicit(&rec->mark_r, memory_order_relaxed);
		if (r != w && rec->marks[r % REC_MARKS].at == rec->taken) {
			write_gap(rec, rec->marks[r % REC_MARKS].frames);
			atomic_store_explicit(&rec->mark_r, r + 1,
					      memory_order_release);
			continue;
		}
		/* up to the next gap */
		want = REC_CHUNK;
		if (r != w &&
		    rec->marks[r % REC_MARKS].at - rec->taken < REC_CHUNK)
			want = (uint32_t)(rec->marks[r % REC_MARKS].at -
					  rec->taken);
		n = ring_read(rec->ring, rec->io_buf, want);
		if (!n)
			break;
		rec->taken += n;
		write_frames(rec, rec->io_buf, n);
	}
	if (complete ||
	    atomic_load_explicit(&rec->write_errno, memory_order_relaxed)) {
		/* Finish the file now: it is whole before the node stops
		 * (or as whole as the disk let it be). */
		finish(rec);
		return true;
	}
	return false;
}

bool recorder_complete(const struct recorder *rec)
{
	return atomic_load_explicit(&rec->complete, memory_order_acquire);
}

uint64_t recorder_gap_clipped(const struct recorder *rec)
{
	return atomic_load_explicit(&rec->gap_clipped, memory_order_relaxed);
}

int recorder_write_errno(const struct recorder *rec)
{
	return atomic_load_explicit(&rec->write_errno, memory_order_acquire);
}

void recorder_close(struct recorder *rec)
{
	if (!rec)
		return;
	if (rec->sf) {
		recorder_io_drain(rec);
		if (rec->sf)
			finish(rec);
	}
	if (rec->fd >= 0)
		close(rec->fd);
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
