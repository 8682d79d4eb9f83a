/* d4test: a sound card for tests, as an ALSA external I/O plugin (ioplug).
 * It runs at a real-time pace from CLOCK_MONOTONIC with a settable crystal
 * error: frame k of a run plays (or is captured) at start + k / rate_card,
 * rate_card = rate * (1 + ppm / 1e6). Playback writes what it plays to a raw
 * s32le file; capture reads a raw s32le file (looped). A text log beside
 * each says when frames were played or captured (lab/RECIPES.md "Sound"):
 *
 *   start N MONO_NS REAL_NS   frame N of the file sits at CLOCK_MONOTONIC
 *                             MONO_NS (CLOCK_REALTIME REAL_NS then); later
 *                             frames follow at rate_card
 *   sync MONO_NS REAL_NS      both clocks read together, about every second
 *   xrun N                    the card ran dry (playback) or over (capture)
 *                             at frame N
 *
 * asoundrc:  pcm.card { type d4test ppm 100 channels 2
 *                       play_out "out.raw" play_log "out.log"
 *                       capture_in "in.raw" capture_log "in.log" }
 *
 * Like a real card, it never waits for a disk in the application's audio
 * thread: the capture file is read whole at open, and what is played and
 * logged goes through a pipe to a writer process of its own (a line-buffered
 * log write once a second, in the node's capture thread, once held it past
 * its flow's wait, 15 ms then, with no machine stall: 35 positions missing).
 */
#include <alsa/asoundlib.h>
#include <alsa/pcm_external.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* A file written by a process of its own (cat: a thread in the node
 * would be a thread that kept the privileges the node drops, and the node
 * refuses to run so): the card stages bytes and hands them over through a
 * non-blocking pipe (1 MB, 2.7 s of 2-channel s32 at 48 kHz); what does
 * not fit is counted as lost and said at close. */
struct bgout {
	int wfd;
	pid_t pid;
	bool dead; /* the writer is gone (EPIPE): all is lost from here */
	size_t staged;
	uint64_t lost;
	uint8_t stage[64 * 1024];
};

struct d4test {
	snd_pcm_ioplug_t io;
	double ppm;
	unsigned int channels;
	char *out_path, *log_path, *in_path;
	struct bgout *out, *log;
	int32_t *in;	    /* the capture file, whole */
	uint64_t in_frames; /* its frames */
	uint64_t in_at;	    /* the next one to capture */
	int timer_fd;

	double rate_card; /* frames per second of CLOCK_MONOTONIC */
	unsigned int bpf; /* bytes per frame in the card's format */
	uint8_t *buf;	  /* buffer_size frames, indexed mod buffer_size */
	int32_t *conv;	  /* one frame as s32 */
	snd_pcm_uframes_t avail_min;
	bool running;
	uint64_t start_mono;  /* ns */
	uint64_t hw;	      /* frames played/captured in this run */
	uint64_t appl;	      /* frames written/read by the application */
	uint64_t file_frames; /* frames in the output/input file so far */
	uint64_t run_base;    /* file frame of this run's frame 0 */
	uint64_t last_sync;
	uint64_t xruns;
	bool xrun; /* until the next prepare: the pointer says -EPIPE */
};

static uint64_t now_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static struct bgout *bg_open(const char *path)
{
	struct bgout *b = calloc(1, sizeof(*b));
	posix_spawn_file_actions_t fa;
	char *argv[] = {"cat", NULL};
	int pfd[2] = {-1, -1}, fd = -1, rc;

	if (!b)
		return NULL;
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || pipe2(pfd, O_CLOEXEC) < 0)
		goto fail;
	fcntl(pfd[1], F_SETPIPE_SZ, 1 << 20);
	if (fcntl(pfd[1], F_SETFL, O_NONBLOCK) < 0)
		goto fail;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, pfd[0], 0);
	posix_spawn_file_actions_adddup2(&fa, fd, 1);
	rc = posix_spawn(&b->pid, "/bin/cat", &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rc) {
		errno = rc;
		goto fail;
	}
	close(pfd[0]);
	close(fd);
	b->wfd = pfd[1];
	return b;
fail:
	rc = errno;
	if (fd >= 0)
		close(fd);
	if (pfd[0] >= 0)
		close(pfd[0]);
	if (pfd[1] >= 0)
		close(pfd[1]);
	free(b);
	errno = rc;
	return NULL;
}

/* Hand the staged bytes to the writer, as many as the pipe takes. */
static void bg_flush(struct bgout *b)
{
	size_t done = 0;

	while (done < b->staged) {
		ssize_t n = write(b->wfd, b->stage + done, b->staged - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EPIPE)
			b->dead = true;
		if (n <= 0)
			break;
		done += (size_t)n;
	}
	if (b->dead) {
		b->lost += b->staged - done;
		done = b->staged;
	}
	memmove(b->stage, b->stage + done, b->staged - done);
	b->staged -= done;
}

static void bg_put(struct bgout *b, const void *p, size_t len)
{
	if (b->dead) {
		b->lost += len;
		return;
	}
	if (b->staged + len > sizeof(b->stage))
		bg_flush(b);
	if (b->staged + len > sizeof(b->stage)) {
		b->lost += len;
		return;
	}
	memcpy(b->stage + b->staged, p, len);
	b->staged += len;
}

static void bg_printf(struct bgout *b, const char *fmt, ...)
{
	char line[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n > 0)
		bg_put(b, line, (size_t)n < sizeof(line) ? (size_t)n
							 : sizeof(line) - 1);
	bg_flush(b);
}

/* Everything staged out (waiting now: the card is closing), then the
 * writer, once it wrote it all; a loss is said on stderr, and the test
 * that reads the file finds it short. */
static void bg_close(struct bgout *b, const char *path)
{
	if (!b)
		return;
	fcntl(b->wfd, F_SETFL, 0);
	bg_flush(b);
	b->lost += b->staged; /* what a blocking write did not take either */
	close(b->wfd);
	while (waitpid(b->pid, NULL, 0) < 0 && errno == EINTR)
		;
	if (b->lost)
		SNDERR("d4test: %s: %llu bytes lost (its writer failed, or "
		       "fell behind by more than the pipe holds)",
		       path, (unsigned long long)b->lost);
	free(b);
}

/* A pair of clock readings the checker maps the card's frames to
 * CLOCK_REALTIME with: the realtime reading between two monotonic ones,
 * the tightest of a few tries. One pair read around a preemption (the
 * monotonic reading was advance()'s, taken before) was 104 us off, and
 * the checker's interpolation between it and its neighbours made a
 * triangle of 5 samples, 2 s wide, in a capture test's click timing that
 * neither the card nor the node had made. */
#define SYNC_TRIES   8
#define SYNC_TIGHT_NS 5000

static void log_sync(struct d4test *t, uint64_t mono)
{
	uint64_t m0, m1, real, best_mid = 0, best_real = 0;
	uint64_t best_w = UINT64_MAX;
	unsigned int i;

	for (i = 0; i < SYNC_TRIES && best_w > SYNC_TIGHT_NS; i++) {
		m0 = now_ns(CLOCK_MONOTONIC);
		real = now_ns(CLOCK_REALTIME);
		m1 = now_ns(CLOCK_MONOTONIC);
		if (m1 - m0 < best_w) {
			best_w = m1 - m0;
			best_mid = m0 + (m1 - m0) / 2;
			best_real = real;
		}
	}
	if (t->log)
		bg_printf(t->log, "sync %llu %llu\n",
			  (unsigned long long)best_mid,
			  (unsigned long long)best_real);
	t->last_sync = mono;
}

/* Frames of this run due by @mono: floor((mono - start) * rate_card). */
static uint64_t frames_at(const struct d4test *t, uint64_t mono)
{
	if (mono <= t->start_mono)
		return 0;
	return (uint64_t)floor((double)(mono - t->start_mono) * t->rate_card /
			       1e9);
}

static uint64_t time_of(const struct d4test *t, uint64_t frames)
{
	return t->start_mono +
	       (uint64_t)ceil((double)frames * 1e9 / t->rate_card);
}

static void to_s32(const struct d4test *t, const uint8_t *src, int32_t *dst)
{
	unsigned int c;

	for (c = 0; c < t->channels; c++) {
		switch (t->io.format) {
		case SND_PCM_FORMAT_S16_LE: {
			int16_t v;

			memcpy(&v, src + 2 * c, 2);
			dst[c] = (int32_t)v * 65536;
			break;
		}
		case SND_PCM_FORMAT_S24_LE: {
			int32_t v;

			memcpy(&v, src + 4 * c, 4);
			dst[c] = (int32_t)((uint32_t)v << 8);
			break;
		}
		default:
			memcpy(&dst[c], src + 4 * c, 4);
		}
	}
}

static void from_s32(const struct d4test *t, const int32_t *src, uint8_t *dst)
{
	unsigned int c;

	for (c = 0; c < t->channels; c++) {
		switch (t->io.format) {
		case SND_PCM_FORMAT_S16_LE: {
			int16_t v = (int16_t)(src[c] >> 16);

			memcpy(dst + 2 * c, &v, 2);
			break;
		}
		case SND_PCM_FORMAT_S24_LE: {
			int32_t v = src[c] >> 8;

			memcpy(dst + 4 * c, &v, 4);
			break;
		}
		default:
			memcpy(dst + 4 * c, &src[c], 4);
		}
	}
}

/* The next frame of the capture file (looped), zeros without one. */
static void read_in(struct d4test *t, int32_t *frame)
{
	if (!t->in_frames) {
		memset(frame, 0, 4 * t->channels);
		return;
	}
	memcpy(frame, t->in + t->in_at * t->channels, 4 * t->channels);
	if (++t->in_at == t->in_frames)
		t->in_at = 0;
}

/* The capture file, whole, into memory (the card plays it looped): a
 * regular file of at most 64 MB (a FIFO would block the node's start for
 * good, a huge file its memory; an attacker tried both). */
#define IN_MAX_BYTES (64u << 20)
static int load_in(struct d4test *t)
{
	size_t fb = 4 * t->channels, want, got = 0;
	struct stat st;
	int fd = open(t->in_path, O_RDONLY | O_NONBLOCK | O_CLOEXEC), e;

	if (fd < 0) {
		e = errno;
		SNDERR("d4test: cannot open %s", t->in_path);
		return -e;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    st.st_size > IN_MAX_BYTES) {
		SNDERR("d4test: %s: not a regular file of at most %u bytes",
		       t->in_path, IN_MAX_BYTES);
		close(fd);
		return -EINVAL;
	}
	t->in_frames = (uint64_t)st.st_size / fb;
	want = (size_t)t->in_frames * fb;
	t->in = malloc(want ? want : 1);
	while (t->in && got < want) {
		ssize_t n = read(fd, (uint8_t *)t->in + got, want - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	if (!t->in || got < want) {
		SNDERR("d4test: cannot read %s", t->in_path);
		return -EIO;
	}
	return 0;
}

/* Move the card to the present: play (write out) or capture (fill in)
 * every frame that came due. -EPIPE when the application fell behind. */
static int advance(struct d4test *t)
{
	snd_pcm_uframes_t bsize = t->io.buffer_size;
	uint64_t mono = now_ns(CLOCK_MONOTONIC), due;

	if (t->xrun)
		return -EPIPE;
	if (!t->running)
		return 0;
	due = frames_at(t, mono);
	if (mono - t->last_sync >= 1000000000ull)
		log_sync(t, mono);
	while (t->hw < due) {
		uint8_t *f = t->buf + (t->hw % bsize) * t->bpf;

		if (t->io.stream == SND_PCM_STREAM_PLAYBACK) {
			if (t->hw >= t->appl)
				goto xrun;
			to_s32(t, f, t->conv);
			if (t->out)
				bg_put(t->out, t->conv, 4 * t->channels);
		} else {
			if (t->hw >= t->appl + bsize)
				goto xrun;
			read_in(t, t->conv);
			from_s32(t, t->conv, f);
		}
		t->hw++;
		t->file_frames++;
	}
	if (t->out && t->out->staged)
		bg_flush(t->out);
	return 0;
xrun:
	t->xruns++;
	if (t->log)
		bg_printf(t->log, "xrun %llu\n",
			  (unsigned long long)t->file_frames);
	t->running = false;
	t->xrun = true;
	return -EPIPE;
}

/* Wake the application when avail reaches avail_min. */
static void arm_timer(struct d4test *t)
{
	struct itimerspec its = {0};
	uint64_t need, at;

	if (!t->running)
		return;
	if (t->io.stream == SND_PCM_STREAM_PLAYBACK)
		need = t->appl + t->avail_min > t->io.buffer_size
			   ? t->appl + t->avail_min - t->io.buffer_size
			   : 0;
	else
		need = t->appl + t->avail_min;
	at = time_of(t, need) + 1000;
	its.it_value.tv_sec = (time_t)(at / 1000000000ull);
	its.it_value.tv_nsec = (long)(at % 1000000000ull);
	timerfd_settime(t->timer_fd, TFD_TIMER_ABSTIME, &its, NULL);
}

static int d4t_start(snd_pcm_ioplug_t *io)
{
	struct d4test *t = io->private_data;

	t->start_mono = now_ns(CLOCK_MONOTONIC);
	t->hw = 0;
	t->run_base = t->file_frames;
	t->running = true;
	if (t->log)
		bg_printf(t->log, "start %llu %llu %llu\n",
			  (unsigned long long)t->run_base,
			  (unsigned long long)t->start_mono,
			  (unsigned long long)(now_ns(CLOCK_REALTIME) -
					       (now_ns(CLOCK_MONOTONIC) -
						t->start_mono)));
	log_sync(t, t->start_mono);
	arm_timer(t);
	return 0;
}

static int d4t_stop(snd_pcm_ioplug_t *io)
{
	struct d4test *t = io->private_data;

	advance(t);
	t->running = false;
	return 0;
}

static snd_pcm_sframes_t d4t_pointer(snd_pcm_ioplug_t *io)
{
	struct d4test *t = io->private_data;
	int err = advance(t);

	if (err < 0)
		return err;
	return (snd_pcm_sframes_t)(t->hw % io->buffer_size);
}

static snd_pcm_sframes_t d4t_transfer(snd_pcm_ioplug_t *io,
				      const snd_pcm_channel_area_t *areas,
				      snd_pcm_uframes_t offset,
				      snd_pcm_uframes_t size)
{
	struct d4test *t = io->private_data;
	uint8_t *app = (uint8_t *)areas[0].addr + areas[0].first / 8 +
		       offset * areas[0].step / 8;
	snd_pcm_uframes_t i;

	for (i = 0; i < size; i++) {
		uint8_t *f =
		    t->buf + ((t->appl + i) % io->buffer_size) * t->bpf;

		if (io->stream == SND_PCM_STREAM_PLAYBACK)
			memcpy(f, app + i * t->bpf, t->bpf);
		else
			memcpy(app + i * t->bpf, f, t->bpf);
	}
	t->appl += size;
	arm_timer(t);
	return (snd_pcm_sframes_t)size;
}

static int d4t_prepare(snd_pcm_ioplug_t *io)
{
	struct d4test *t = io->private_data;

	t->running = false;
	t->xrun = false;
	t->hw = 0;
	t->appl = 0;
	return 0;
}

static int d4t_hw_params(snd_pcm_ioplug_t *io, snd_pcm_hw_params_t *params)
{
	struct d4test *t = io->private_data;

	t->bpf = (unsigned int)snd_pcm_format_physical_width(io->format) / 8 *
		 io->channels;
	t->rate_card = io->rate * (1.0 + t->ppm / 1e6);
	free(t->buf);
	t->buf = calloc(io->buffer_size, t->bpf);
	return t->buf ? 0 : -ENOMEM;
}

static int d4t_sw_params(snd_pcm_ioplug_t *io, snd_pcm_sw_params_t *params)
{
	struct d4test *t = io->private_data;

	snd_pcm_sw_params_get_avail_min(params, &t->avail_min);
	if (!t->avail_min)
		t->avail_min = 1;
	return 0;
}

static int d4t_poll_revents(snd_pcm_ioplug_t *io, struct pollfd *pfd,
			    unsigned int nfds, unsigned short *revents)
{
	struct d4test *t = io->private_data;
	uint64_t ticks, avail;

	if (read(t->timer_fd, &ticks, sizeof(ticks)) < 0)
		ticks = 0;
	*revents = 0;
	if (advance(t) < 0) {
		/* Wake the application: its next call reports the xrun. */
		*revents =
		    io->stream == SND_PCM_STREAM_PLAYBACK ? POLLOUT : POLLIN;
		return 0;
	}
	if (!t->running) {
		*revents = io->stream == SND_PCM_STREAM_PLAYBACK ? POLLOUT : 0;
		return 0;
	}
	if (io->stream == SND_PCM_STREAM_PLAYBACK)
		avail = io->buffer_size - (t->appl - t->hw);
	else
		avail = t->hw - t->appl;
	if (avail >= t->avail_min)
		*revents =
		    io->stream == SND_PCM_STREAM_PLAYBACK ? POLLOUT : POLLIN;
	else
		arm_timer(t);
	return 0;
}

static int d4t_close(snd_pcm_ioplug_t *io)
{
	struct d4test *t = io->private_data;

	if (t->out) {
		bg_flush(t->out);
		bg_close(t->out, t->out_path);
	}
	if (t->log) {
		bg_printf(t->log, "end %llu xruns %llu\n",
			  (unsigned long long)t->file_frames,
			  (unsigned long long)t->xruns);
		bg_close(t->log, t->log_path);
	}
	free(t->in);
	if (t->timer_fd >= 0)
		close(t->timer_fd);
	free(t->buf);
	free(t->conv);
	free(t->out_path);
	free(t->log_path);
	free(t->in_path);
	free(t);
	return 0;
}

static const snd_pcm_ioplug_callback_t d4t_callback = {
    .start = d4t_start,
    .stop = d4t_stop,
    .pointer = d4t_pointer,
    .transfer = d4t_transfer,
    .close = d4t_close,
    .hw_params = d4t_hw_params,
    .sw_params = d4t_sw_params,
    .prepare = d4t_prepare,
    .poll_revents = d4t_poll_revents,
};

static int set_constraints(struct d4test *t)
{
	static const unsigned int access[] = {SND_PCM_ACCESS_RW_INTERLEAVED};
	static const unsigned int formats[] = {SND_PCM_FORMAT_S16_LE,
					       SND_PCM_FORMAT_S24_LE,
					       SND_PCM_FORMAT_S32_LE};
	static const unsigned int rates[] = {44100, 48000, 96000};
	int err;

	err = snd_pcm_ioplug_set_param_list(&t->io, SND_PCM_IOPLUG_HW_ACCESS, 1,
					    access);
	if (err >= 0)
		err = snd_pcm_ioplug_set_param_list(
		    &t->io, SND_PCM_IOPLUG_HW_FORMAT, 3, formats);
	if (err >= 0)
		err = snd_pcm_ioplug_set_param_minmax(
		    &t->io, SND_PCM_IOPLUG_HW_CHANNELS, t->channels,
		    t->channels);
	if (err >= 0)
		err = snd_pcm_ioplug_set_param_list(
		    &t->io, SND_PCM_IOPLUG_HW_RATE, 3, rates);
	if (err >= 0)
		err = snd_pcm_ioplug_set_param_minmax(
		    &t->io, SND_PCM_IOPLUG_HW_PERIOD_BYTES, 16 * 2, 1 << 20);
	if (err >= 0)
		err = snd_pcm_ioplug_set_param_minmax(
		    &t->io, SND_PCM_IOPLUG_HW_PERIODS, 2, 64);
	return err;
}

static int get_string(snd_config_t *n, char **dst)
{
	const char *s;

	if (snd_config_get_string(n, &s) < 0)
		return -EINVAL;
	*dst = strdup(s);
	return *dst ? 0 : -ENOMEM;
}

SND_PCM_PLUGIN_DEFINE_FUNC(d4test)
{
	snd_config_iterator_t i, next;
	struct d4test *t = calloc(1, sizeof(*t));
	int err = 0;

	if (!t)
		return -ENOMEM;
	t->channels = 2;
	t->timer_fd = -1;
	snd_config_for_each(i, next, conf)
	{
		snd_config_t *n = snd_config_iterator_entry(i);
		const char *id;
		long l;

		if (snd_config_get_id(n, &id) < 0)
			continue;
		if (!strcmp(id, "comment") || !strcmp(id, "type") ||
		    !strcmp(id, "hint"))
			continue;
		if (!strcmp(id, "ppm")) {
			double d;

			if (snd_config_get_ireal(n, &d) < 0) {
				const char *s;

				if (snd_config_get_string(n, &s) < 0) {
					err = -EINVAL;
					break;
				}
				d = atof(s);
			}
			t->ppm = d;
		} else if (!strcmp(id, "channels")) {
			if (snd_config_get_integer(n, &l) < 0 || l < 1 ||
			    l > 64) {
				err = -EINVAL;
				break;
			}
			t->channels = (unsigned int)l;
		} else if (!strcmp(id, "play_out")) {
			err = get_string(n, &t->out_path);
		} else if (!strcmp(id, "play_log")) {
			if (stream == SND_PCM_STREAM_PLAYBACK)
				err = get_string(n, &t->log_path);
		} else if (!strcmp(id, "capture_in")) {
			err = get_string(n, &t->in_path);
		} else if (!strcmp(id, "capture_log")) {
			if (stream == SND_PCM_STREAM_CAPTURE)
				err = get_string(n, &t->log_path);
		} else {
			SNDERR("d4test: unknown field %s", id);
			err = -EINVAL;
		}
		if (err < 0)
			break;
	}
	if (err < 0)
		goto out_free;
	t->conv = calloc(t->channels, sizeof(int32_t));
	t->timer_fd =
	    timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (!t->conv || t->timer_fd < 0) {
		err = -ENOMEM;
		goto out_free;
	}
	if (stream == SND_PCM_STREAM_PLAYBACK && t->out_path) {
		t->out = bg_open(t->out_path);
		if (!t->out) {
			SNDERR("d4test: cannot create %s", t->out_path);
			err = -errno;
			goto out_free;
		}
	}
	if (stream == SND_PCM_STREAM_CAPTURE && t->in_path) {
		err = load_in(t);
		if (err < 0)
			goto out_free;
	}
	if (t->log_path) {
		t->log = bg_open(t->log_path);
		if (!t->log) {
			err = -errno;
			goto out_free;
		}
		bg_printf(t->log, "# d4test %s ppm %.6f channels %u\n",
			  stream == SND_PCM_STREAM_PLAYBACK ? "playback"
							    : "capture",
			  t->ppm, t->channels);
	}
	t->io.version = SND_PCM_IOPLUG_VERSION;
	t->io.name = "d4 test sound card";
	t->io.flags = SND_PCM_IOPLUG_FLAG_MONOTONIC;
	t->io.poll_fd = t->timer_fd;
	t->io.poll_events = stream == SND_PCM_STREAM_PLAYBACK ? POLLIN : POLLIN;
	t->io.mmap_rw = 0;
	t->io.callback = &d4t_callback;
	t->io.private_data = t;
	err = snd_pcm_ioplug_create(&t->io, name, stream, mode);
	if (err < 0)
		goto out_free;
	err = set_constraints(t);
	if (err < 0) {
		snd_pcm_ioplug_delete(&t->io);
		return err;
	}
	*pcmp = t->io.pcm;
	return 0;

out_free:
	bg_close(t->out, t->out_path);
	bg_close(t->log, t->log_path);
	free(t->in);
	if (t->timer_fd >= 0)
		close(t->timer_fd);
	free(t->conv);
	free(t->out_path);
	free(t->log_path);
	free(t->in_path);
	free(t);
	return err;
}

SND_PCM_PLUGIN_SYMBOL(d4test);
