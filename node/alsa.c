/* ALSA capture and playback, one thread per device. Each thread reads or
 * writes its card a period at a time, measures where the card's audio is
 * against PTP time, and steers a libsamplerate converter with the servo
 * (node/servo.h) so that positions stay on the media clock. The media
 * thread meets these threads only in SPSC rings of frames tagged with
 * positions ("posrings" below). */
#include "node/alsa.h"
#include "common/mem.h"
#include "common/log.h"
#include "common/ring.h"
#include "node/alsa_lib.h"
#include "node/servo.h"
#include "ptp/mclock.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <samplerate.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SRC_TYPE SRC_SINC_MEDIUM_QUALITY
/* Input frames the converter holds before it gives output (measured for
 * SRC_SINC_MEDIUM_QUALITY: 48) plus one chunk we hand it. */
#define SRC_LOOKAHEAD	64
#define IN_CHUNK	64
#define RING_S_DIV	2 /* position rings hold rate / 2 frames at least */
#define MARKS		64
#define STATUS_MAX_NS	(500 * 1000) /* a slower status read is not used */
#define RT_PRIO_BELOW	5	     /* below the media thread */
#define WRITER_ALIVE_NS (50 * 1000 * 1000ull)
/* Readers wait for positions the other side is late with, its thread
 * having stalled (docs/architecture.md "Stalls"): a flow for a capture at
 * most this long past its send time, before the capture thread counts as
 * gone (silent for its lag + this wait + 5 ms) and the 100 ms after
 * which the flow skips ahead (flow.c FLOW_MAX_CATCHUP_NS); the playback
 * thread while the card holds enough, looking again every PLAY_POLL_NS.
 * The wait is what rides a stall out: a sample is in the ring at worst a
 * period and the converter's look-ahead after it was taken, so a stall of
 * the capture thread's CPU (or of the whole machine) leaves positions
 * missing only past a period + 2 ms + this wait. It was 15 ms, when the
 * flow skipped ahead after 20: stalls of 20-34 ms, which this VM has
 * under load, left 345-649 positions missing in lab runs. */
#define CAP_WAIT_MAX_NS (40 * 1000 * 1000ull)
#define PLAY_POLL_NS	(500 * 1000)

#define STAT_SET(f, v) atomic_store_explicit(&(f), (v), memory_order_relaxed)
#define STAT_GET(f)    atomic_load_explicit(&(f), memory_order_relaxed)
#define STAT_ADD(f, n) STAT_SET(f, STAT_GET(f) + (n))

static int parse_frames(const char *v, uint32_t *out)
{
	char *end;
	unsigned long u = strtoul(v, &end, 10);

	if (end == v || *end || u < 16 || u > 65536)
		return -EINVAL;
	*out = (uint32_t)u;
	return 0;
}

int alsa_config_key(struct alsa_config *a, const char *key, const char *v,
		    const char **expected)
{
	if (!strcmp(key, "device")) {
		if (!*v || strlen(v) >= sizeof(a->device)) {
			*expected = "an ALSA device name such as hw:0";
			return -EINVAL;
		}
		snprintf(a->device, sizeof(a->device), "%s", v);
	} else if (!strcmp(key, "map")) {
		/* "1,2" or "3-4": 1-based card channels. */
		const char *p = v;
		unsigned int n = 0;

		while (*p) {
			char *end;
			unsigned long lo = strtoul(p, &end, 10), hi = lo;

			if (end == p)
				goto bad_map;
			if (*end == '-') {
				p = end + 1;
				hi = strtoul(p, &end, 10);
				if (end == p)
					goto bad_map;
			}
			if (lo < 1 || hi < lo || hi > ALSA_MAX_CHANNELS ||
			    n + (hi - lo) >= ALSA_MAX_CHANNELS)
				goto bad_map;
			for (; lo <= hi; lo++)
				a->map[n++] = (uint8_t)(lo - 1);
			p = end;
			if (*p == ',')
				p++;
			else if (*p)
				goto bad_map;
		}
		if (!n)
			goto bad_map;
		a->nmap = n;
	} else if (!strcmp(key, "device_channels")) {
		char *end;
		unsigned long u = strtoul(v, &end, 10);

		if (end == v || *end || u < 1 || u > ALSA_MAX_CHANNELS) {
			*expected = "a channel count from 1 to 64";
			return -EINVAL;
		}
		a->dev_channels = (unsigned int)u;
	} else if (!strcmp(key, "period")) {
		if (parse_frames(v, &a->period_frames)) {
			*expected = "a period in frames (16-65536)";
			return -EINVAL;
		}
	} else if (!strcmp(key, "buffer")) {
		if (parse_frames(v, &a->buffer_frames)) {
			*expected = "a buffer in frames (16-65536)";
			return -EINVAL;
		}
	} else if (!strcmp(key, "sample_format")) {
		if (!strcasecmp(v, "s16") || !strcasecmp(v, "s16_le"))
			a->format = ALSA_FMT_S16;
		else if (!strcasecmp(v, "s24") || !strcasecmp(v, "s24_le"))
			a->format = ALSA_FMT_S24;
		else if (!strcasecmp(v, "s24_3") || !strcasecmp(v, "s24_3le"))
			a->format = ALSA_FMT_S24_3;
		else if (!strcasecmp(v, "s32") || !strcasecmp(v, "s32_le"))
			a->format = ALSA_FMT_S32;
		else {
			*expected = "s16, s24, s24_3 or s32";
			return -EINVAL;
		}
	} else {
		return 0;
	}
	return 1;
bad_map:
	*expected = "a list of card channels such as 1,2 or 3-4";
	return -EINVAL;
}

/* ---- position rings -------------------------------------------------
 * Frames in one SPSC ring, and in a second one a mark wherever the
 * positions jump: "frame number @idx of the stream is position @pos".
 * The reader asks for positions and gets zeros where there is nothing. */

struct mark {
	uint64_t idx;
	uint64_t pos;
};

struct posring {
	struct ring *frames;
	struct ring *marks;
	unsigned int nch;
	/* writer */
	uint64_t w_idx, w_pos;
	bool w_any;
	_Atomic bool started;	 /* the writer has written something */
	_Atomic uint64_t w_mono; /* CLOCK_MONOTONIC of its last write */
	_Atomic uint64_t w_end;	 /* the position after its last frame */
	_Atomic uint64_t overflows;
	uint64_t alive_ns; /* a writer silent longer is gone */
	/* reader */
	uint64_t r_idx, r_pos;
	bool r_have_pos;
	struct mark next; /* a mark read ahead, when r_mark */
	bool r_mark;
};

static int posring_init(struct posring *pr, unsigned int nch, uint32_t frames)
{
	pr->nch = nch;
	pr->alive_ns = WRITER_ALIVE_NS;
	pr->frames = ring_new(nch * sizeof(int32_t), frames);
	pr->marks = ring_new(sizeof(struct mark), MARKS);
	return pr->frames && pr->marks ? 0 : -ENOMEM;
}

static void posring_free(struct posring *pr)
{
	ring_destroy(pr->frames);
	ring_destroy(pr->marks);
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

/* Writer. RT. */
static void posring_write(struct posring *pr, uint64_t pos, const int32_t *f,
			  unsigned int n)
{
	uint32_t put;

	atomic_store_explicit(&pr->w_mono, mono_ns(), memory_order_relaxed);
	if (!pr->w_any || pos != pr->w_pos) {
		struct mark m = {pr->w_idx, pos};

		if (ring_writable(pr->marks) < 1 ||
		    ring_writable(pr->frames) < n) {
			STAT_ADD(pr->overflows, n);
			return; /* try the mark again with the next frames */
		}
		ring_write(pr->marks, &m, 1);
		pr->w_any = true;
		atomic_store_explicit(&pr->started, true, memory_order_relaxed);
	}
	put = ring_write(pr->frames, f, n);
	if (put < n)
		STAT_ADD(pr->overflows, n - put);
	pr->w_idx += put;
	pr->w_pos = pos + n; /* what did not fit is lost: a jump */
	atomic_store_explicit(&pr->w_end, pr->w_pos, memory_order_release);
}

/* Has the writer (alive and in the same stretch of positions) not yet
 * reached @end? Then the reader can wait for it. */
static bool posring_behind(struct posring *pr, uint64_t end, uint64_t slack)
{
	uint64_t w = atomic_load_explicit(&pr->w_end, memory_order_acquire);

	if (!atomic_load_explicit(&pr->started, memory_order_relaxed) ||
	    mono_ns() -
		    atomic_load_explicit(&pr->w_mono, memory_order_relaxed) >
		pr->alive_ns)
		return false;
	return w < end && end - w <= slack;
}

/* Reader: frames for [pos, pos + n) into @out; returns how many positions
 * had no frame. RT. */
static unsigned int posring_read(struct posring *pr, uint64_t pos,
				 unsigned int n, int32_t *out)
{
	unsigned int missing = 0, nch = pr->nch;

	while (n) {
		uint32_t avail, run;

		if (!pr->r_mark && ring_read(pr->marks, &pr->next, 1) == 1)
			pr->r_mark = true;
		if (pr->r_mark && pr->next.idx == pr->r_idx) {
			pr->r_pos = pr->next.pos;
			pr->r_have_pos = true;
			pr->r_mark = false;
			continue;
		}
		avail = ring_readable(pr->frames);
		if (pr->r_mark && pr->next.idx - pr->r_idx < avail)
			avail = (uint32_t)(pr->next.idx - pr->r_idx);
		if (!pr->r_have_pos || !avail) {
			memset(out, 0, (size_t)n * nch * sizeof(*out));
			return missing + n;
		}
		if (pr->r_pos < pos) {
			/* Old frames: drop them. */
			uint64_t d = pos - pr->r_pos;

			run = d < avail ? (uint32_t)d : avail;
			ring_skip(pr->frames, run);
			pr->r_idx += run;
			pr->r_pos += run;
			continue;
		}
		if (pr->r_pos > pos && pr->r_mark) {
			/* A later segment is coming (the timescale stepped):
			 * this one's frames will never be asked for. */
			run = (uint32_t)(pr->next.idx - pr->r_idx);
			ring_skip(pr->frames, run);
			pr->r_idx += run;
			continue;
		}
		if (pr->r_pos > pos) {
			/* Positions the writer never had. */
			uint64_t d = pr->r_pos - pos;

			run = d < n ? (uint32_t)d : n;
			memset(out, 0, (size_t)run * nch * sizeof(*out));
			missing += run;
		} else {
			run = n < avail ? n : avail;
			ring_read(pr->frames, out, run);
			pr->r_idx += run;
			pr->r_pos += run;
		}
		out += (size_t)run * nch;
		pos += run;
		n -= run;
	}
	return missing;
}

/* ---- the device ----------------------------------------------------- */

struct dev {
	char name[64];
	struct alsa_config cfg;
	bool capture;
	snd_pcm_t *pcm;
	snd_pcm_format_t fmt;
	unsigned int bytes; /* per sample on the card */
	unsigned int card_ch, nch;
	uint32_t rate;
	snd_pcm_uframes_t period, buffer;
	uint8_t *io_buf; /* one period in the card's format */
	float *f_card;	 /* one period, nch wide, as floats */
	SRC_STATE *src;
	struct servo servo;
	struct posring pr;
	struct mclock *mc;
	/* main thread: what it has said (alsa_*_report) */
	struct log_ratelimit rl, over_rl;
	uint64_t xruns_said, overflows_said;
	int state_said;

	pthread_t thread;
	bool running;
	_Atomic bool stop;
	_Atomic uint64_t xruns, missing, steps;
	_Atomic uint64_t wait_max_ns; /* longest wait for the other side */
	_Atomic uint64_t outliers;    /* the servo's, published */
	_Atomic uint64_t unlocks;     /* the servo's, published */
	_Atomic int64_t locked_err_max_milli;
	unsigned int gen;	      /* the timescale aligned on */
	_Atomic unsigned int gen_pub; /* the same, for the media side */
	_Atomic int64_t ppm_milli, err_milli;
	_Atomic int state;
	_Atomic int xrun_err; /* the last xrun's error */
};

static const snd_pcm_format_t fmt_map[] = {
    [ALSA_FMT_S16] = SND_PCM_FORMAT_S16_LE,
    [ALSA_FMT_S24] = SND_PCM_FORMAT_S24_LE,
    [ALSA_FMT_S24_3] = SND_PCM_FORMAT_S24_3LE,
    [ALSA_FMT_S32] = SND_PCM_FORMAT_S32_LE,
};

/* libasound (node/alsa_lib.h): set by the first dev_open(), on the
 * control thread, before any card thread exists; read-only after. */
static const struct alsa_lib *A;

static int dev_open(struct dev *d, char *err, size_t err_len)
{
	snd_pcm_hw_params_t *hw;
	snd_pcm_sw_params_t *sw;
	unsigned int rate = d->rate;
	snd_pcm_uframes_t period, buffer;
	const char *what;
	int rc;

	if (!A) {
		char why[300];

		if (!(A = alsa_lib(why, sizeof(why)))) {
			snprintf(err, err_len, "%s: %s", d->name, why);
			return -ENOENT;
		}
	}
	if (!d->cfg.device[0])
		snprintf(d->cfg.device, sizeof(d->cfg.device), "default");
	rc = A->pcm_open(&d->pcm, d->cfg.device,
			  d->capture ? SND_PCM_STREAM_CAPTURE
				     : SND_PCM_STREAM_PLAYBACK,
			  SND_PCM_NONBLOCK);
	if (rc < 0) {
		snprintf(err, err_len, "%s: cannot open ALSA device '%s': %s",
			 d->name, d->cfg.device, A->strerror(rc));
		d->pcm = NULL;
		return rc;
	}
	/* libasound and the plugins this device brought, before its
	 * card thread runs them (common/mem.h) */
	mem_hold_library("libasound");
	d->fmt = fmt_map[d->cfg.format];
	period = d->cfg.period_frames ? d->cfg.period_frames : d->rate / 200;
	buffer = d->cfg.buffer_frames ? d->cfg.buffer_frames : 4 * period;
	hw = alloca(A->pcm_hw_params_sizeof());
	sw = alloca(A->pcm_sw_params_sizeof());
	memset(hw, 0, A->pcm_hw_params_sizeof());
	memset(sw, 0, A->pcm_sw_params_sizeof());
	what = "hw_params_any";
	if ((rc = A->pcm_hw_params_any(d->pcm, hw)) < 0)
		goto out_fail;
	what = "interleaved access";
	if ((rc = A->pcm_hw_params_set_access(
		 d->pcm, hw, SND_PCM_ACCESS_RW_INTERLEAVED)) < 0)
		goto out_fail;
	what = "format";
	if ((rc = A->pcm_hw_params_set_format(d->pcm, hw, d->fmt)) < 0)
		goto out_fail;
	what = "channel count";
	if ((rc = A->pcm_hw_params_set_channels(d->pcm, hw, d->card_ch)) < 0)
		goto out_fail;
	what = "rate";
	if ((rc = A->pcm_hw_params_set_rate_resample(d->pcm, hw, 0)) < 0 ||
	    (rc = A->pcm_hw_params_set_rate(d->pcm, hw, rate, 0)) < 0)
		goto out_fail;
	what = "period size";
	if ((rc = A->pcm_hw_params_set_period_size_near(d->pcm, hw, &period,
							 NULL)) < 0)
		goto out_fail;
	what = "buffer size";
	if ((rc = A->pcm_hw_params_set_buffer_size_near(d->pcm, hw, &buffer)) <
	    0)
		goto out_fail;
	what = "hw_params";
	if ((rc = A->pcm_hw_params(d->pcm, hw)) < 0)
		goto out_fail;
	A->pcm_hw_params_get_period_size(hw, &d->period, NULL);
	A->pcm_hw_params_get_buffer_size(hw, &d->buffer);
	what = "sw_params";
	if ((rc = A->pcm_sw_params_current(d->pcm, sw)) < 0 ||
	    (rc = A->pcm_sw_params_set_avail_min(d->pcm, sw, d->period)) < 0 ||
	    (rc = A->pcm_sw_params_set_start_threshold(
		 d->pcm, sw, d->capture ? 1 : d->buffer * 2)) < 0 ||
	    (rc = A->pcm_sw_params_set_tstamp_mode(
		 d->pcm, sw, SND_PCM_TSTAMP_ENABLE)) < 0 ||
	    (rc = A->pcm_sw_params_set_tstamp_type(
		 d->pcm, sw, SND_PCM_TSTAMP_TYPE_MONOTONIC)) < 0 ||
	    (rc = A->pcm_sw_params(d->pcm, sw)) < 0)
		goto out_fail;
	d->bytes = (unsigned int)A->pcm_format_physical_width(d->fmt) / 8;
	return 0;

out_fail:
	snprintf(err, err_len, "%s: ALSA device '%s': %s: %s", d->name,
		 d->cfg.device, what, A->strerror(rc));
	A->pcm_close(d->pcm);
	d->pcm = NULL;
	return rc;
}

static int dev_init(struct dev *d, const char *name,
		    const struct alsa_config *a, bool capture, unsigned int nch,
		    uint32_t rate, char *err, size_t err_len)
{
	unsigned int c, maxc = 0;
	struct servo_config sc;
	uint64_t ring;
	int rc;

	snprintf(d->name, sizeof(d->name), "%s", name);
	d->cfg = *a;
	d->capture = capture;
	d->rate = rate;
	d->nch = nch;
	if (!d->cfg.nmap) {
		d->cfg.nmap = nch;
		for (c = 0; c < nch; c++)
			d->cfg.map[c] = (uint8_t)c;
	}
	if (d->cfg.nmap != nch) {
		snprintf(err, err_len,
			 "%s: map names %u card channels for %u channels", name,
			 d->cfg.nmap, nch);
		return -EINVAL;
	}
	for (c = 0; c < nch; c++)
		if (d->cfg.map[c] + 1u > maxc)
			maxc = d->cfg.map[c] + 1u;
	d->card_ch = d->cfg.dev_channels ? d->cfg.dev_channels : maxc;
	if (maxc > d->card_ch) {
		snprintf(err, err_len, "%s: map uses card channel %u of %u",
			 name, maxc, d->card_ch);
		return -EINVAL;
	}
	rc = dev_open(d, err, err_len);
	if (rc < 0)
		return rc;
	d->io_buf = mem_calloc_held(d->period, (size_t)d->card_ch * d->bytes);
	d->f_card = mem_calloc_held(d->period, nch * sizeof(float));
	d->src = src_new(SRC_TYPE, (int)nch, &rc);
	/* its filter tables, before the card thread reads them */
	mem_hold_library("libsamplerate.so");
	/* The ring holds the card's buffer, its periods in flight, the
	 * flow's wait and 100 ms to spare, half a second at least (an
	 * attacker's period = 65536 overflowed a fixed half second: every
	 * frame lost, the servo never started, nothing said). */
	ring = d->buffer + 4 * d->period + rate / 10 +
	       (uint64_t)rate * (CAP_WAIT_MAX_NS / 1000000) / 1000;
	if (ring < rate / RING_S_DIV)
		ring = rate / RING_S_DIV;
	if (!d->io_buf || !d->f_card || !d->src ||
	    posring_init(&d->pr, nch, (uint32_t)ring) < 0) {
		snprintf(err, err_len, "%s: out of memory", name);
		return -ENOMEM;
	}
	servo_config_default(&sc, rate);
	servo_init(&d->servo, &sc);
	d->rl = (struct log_ratelimit)LOG_RATELIMIT_INIT(10 * NSEC_PER_SEC, 3);
	/* a capture card no flow reads overflows all the time */
	d->over_rl =
	    (struct log_ratelimit)LOG_RATELIMIT_INIT(60 * NSEC_PER_SEC, 1);
	return 0;
}

static void dev_fini(struct dev *d)
{
	if (d->running) {
		atomic_store(&d->stop, true);
		pthread_join(d->thread, NULL);
		d->running = false;
	}
	if (d->pcm)
		A->pcm_close(d->pcm);
	if (d->src)
		src_delete(d->src);
	free(d->io_buf);
	free(d->f_card);
	posring_free(&d->pr);
}

/* A card thread's stack, all but the last 32 KB of it made resident when
 * the thread starts (common/mem.h). */
#define CARD_STACK	(256 * 1024)
#define CARD_STACK_HELD (CARD_STACK - 32 * 1024)

static int dev_start_thread(struct dev *d, struct mclock *mc, int rt_prio,
			    void *(*fn)(void *))
{
	pthread_attr_t attr;
	struct sched_param sp = {.sched_priority = rt_prio - RT_PRIO_BELOW};
	int rc = -1;

	d->mc = mc;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, CARD_STACK);
	if (sp.sched_priority > 0) {
		pthread_attr_setinheritsched(&attr, PTHREAD_EXPLICIT_SCHED);
		pthread_attr_setschedpolicy(&attr, SCHED_FIFO);
		pthread_attr_setschedparam(&attr, &sp);
		rc = pthread_create(&d->thread, &attr, fn, d);
		if (rc)
			log_warn("%s: SCHED_FIFO %d not permitted (%s); "
				 "running without real-time priority",
				 d->name, sp.sched_priority, strerror(rc));
		pthread_attr_destroy(&attr);
		pthread_attr_init(&attr);
		pthread_attr_setstacksize(&attr, CARD_STACK);
	}
	if (rc)
		rc = pthread_create(&d->thread, &attr, fn, d);
	pthread_attr_destroy(&attr);
	if (rc) {
		log_err("%s: pthread_create: %s", d->name, strerror(rc));
		return -rc;
	}
	d->running = true;
	pthread_setname_np(d->thread,
			   d->capture ? "d4-alsa-in" : "d4-alsa-out");
	return 0;
}

/* The card's position now: its delay (frames queued for playback, or
 * captured and not read) and the PTP time it was true at. Rejects a
 * reading that took too long to be trusted. */
static int dev_position(struct dev *d, snd_pcm_sframes_t *delay,
			uint64_t *ptp_ns)
{
	snd_pcm_status_t *st;
	snd_htimestamp_t hts;
	uint64_t m0, m1, p, m2, m3, at;
	int rc;

	st = alloca(A->pcm_status_sizeof());
	memset(st, 0, A->pcm_status_sizeof());
	m0 = mono_ns();
	p = mclock_now_ns(d->mc);
	m1 = mono_ns();
	rc = A->pcm_status(d->pcm, st);
	m2 = mono_ns();
	if (rc < 0)
		return rc;
	if (m1 - m0 > STATUS_MAX_NS || m2 - m1 > STATUS_MAX_NS)
		return -EAGAIN;
	*delay = A->pcm_status_get_delay(st);
	A->pcm_status_get_htstamp(st, &hts);
	at = (uint64_t)hts.tv_sec * NSEC_PER_SEC + (uint64_t)hts.tv_nsec;
	/* A driver's own timestamp of the position, if it gave one. */
	m3 = at >= m1 - 5 * 1000 * 1000 && at <= m2 ? at : (m1 + m2) / 2;
	/* PTP at m3: the clocks tick together over microseconds. */
	*ptp_ns = p + (m3 - (m0 + m1) / 2);
	return 0;
}

static void dev_publish(struct dev *d)
{
	STAT_SET(d->ppm_milli,
		 (int64_t)llround(servo_card_ppm(&d->servo) * 1000));
	STAT_SET(d->err_milli, (int64_t)llround(d->servo.last_err * 1000));
	STAT_SET(d->outliers, d->servo.outliers);
	STAT_SET(d->unlocks, d->servo.unlocks);
	STAT_SET(d->locked_err_max_milli,
		 (int64_t)llround(d->servo.locked_err_max * 1000));
	STAT_SET(d->state, (int)d->servo.state);
}

/* The card's thread only publishes; the main thread says what changed
 * (a log line is a write that can wait on a disk or a journal: the test
 * card's once held a capture thread 15 ms), once a tick at most. */
static void dev_report(struct dev *d)
{
	uint64_t xruns = STAT_GET(d->xruns);
	int state = STAT_GET(d->state);
	unsigned int suppressed;

	if (state != d->state_said) {
		log_info("%s: servo %s, card %+.3f ppm, error %+.3f samples",
			 d->name, servo_state_name((enum servo_state)state),
			 (double)STAT_GET(d->ppm_milli) / 1000,
			 (double)STAT_GET(d->err_milli) / 1000);
		d->state_said = state;
	}
	if (STAT_GET(d->pr.overflows) != d->overflows_said) {
		uint64_t o = STAT_GET(d->pr.overflows);

		if (log_ratelimit_ok(&d->over_rl, &suppressed))
			log_warn("%s: %llu frame(s) had no room in its ring "
				 "(%llu in all): the %s did not take them%s",
				 d->name,
				 (unsigned long long)(o - d->overflows_said),
				 (unsigned long long)o,
				 d->capture ? "flow" : "card's thread",
				 suppressed ? " (more were not logged)" : "");
		d->overflows_said = o;
	}
	if (xruns == d->xruns_said)
		return;
	if (log_ratelimit_ok(&d->rl, &suppressed))
		log_warn("%s: %s (%s); recovering%s", d->name,
			 d->capture ? "overrun" : "underrun",
			 A->strerror(STAT_GET(d->xrun_err)),
			 suppressed || xruns - d->xruns_said > 1
			     ? " (more were not logged)"
			     : "");
	d->xruns_said = xruns;
}

static void dev_xrun(struct dev *d, int rc)
{
	STAT_SET(d->xrun_err, rc);
	STAT_ADD(d->xruns, 1);
	if (A->pcm_recover(d->pcm, rc, 1) < 0) {
		/* Not an xrun ALSA knows how to recover (-EIO from a
		 * wait, say): start the stream over. */
		A->pcm_drop(d->pcm);
		A->pcm_prepare(d->pcm);
	}
}

/* Wait until a period can be moved, at most 100 ms at a time so that a
 * stop is seen; 0 when it can, 1 to look at the stop flag, < 0 on error. */
static int dev_wait(struct dev *d)
{
	snd_pcm_sframes_t avail = A->pcm_avail_update(d->pcm);

	if (avail < 0)
		return (int)avail;
	if ((snd_pcm_uframes_t)avail >= d->period)
		return 0;
	avail = A->pcm_wait(d->pcm, 100);
	return avail < 0 ? (int)avail : 1;
}

static void dev_stats(const struct dev *d, struct alsa_stats *st)
{
	struct dev *m = (struct dev *)d;

	st->name = d->name;
	st->capture = d->capture;
	st->xruns = STAT_GET(m->xruns);
	st->missing = STAT_GET(m->missing);
	st->overflows = STAT_GET(m->pr.overflows);
	st->steps = STAT_GET(m->steps);
	st->wait_max_us = STAT_GET(m->wait_max_ns) / 1000;
	st->outliers = STAT_GET(m->outliers);
	st->unlocks = STAT_GET(m->unlocks);
	st->locked_err_max =
	    (double)STAT_GET(m->locked_err_max_milli) / 1000;
	st->ppm = (double)STAT_GET(m->ppm_milli) / 1000;
	st->err_samples = (double)STAT_GET(m->err_milli) / 1000;
	st->state = servo_state_name((enum servo_state)STAT_GET(m->state));
}

/* Card samples <-> floats in [-1, 1). */
static void card_to_float(const struct dev *d, unsigned int n)
{
	unsigned int i, c;

	for (i = 0; i < n; i++) {
		const uint8_t *f =
		    d->io_buf + (size_t)i * d->card_ch * d->bytes;

		for (c = 0; c < d->nch; c++) {
			const uint8_t *s = f + d->cfg.map[c] * d->bytes;
			int32_t v;

			switch (d->cfg.format) {
			case ALSA_FMT_S16: {
				int16_t h;

				memcpy(&h, s, 2);
				v = (int32_t)h * 65536;
				break;
			}
			case ALSA_FMT_S24:
				memcpy(&v, s, 4);
				v = (int32_t)((uint32_t)v << 8);
				break;
			case ALSA_FMT_S24_3:
				v = (int32_t)((uint32_t)s[0] << 8 |
					      (uint32_t)s[1] << 16 |
					      (uint32_t)s[2] << 24);
				break;
			default:
				memcpy(&v, s, 4);
			}
			d->f_card[i * d->nch + c] = (float)v / 2147483648.0f;
		}
	}
}

static int32_t float_to_s32(float f)
{
	double v = (double)f * 2147483648.0;

	if (v >= 2147483647.0)
		return INT32_MAX;
	if (v <= -2147483648.0)
		return INT32_MIN;
	return (int32_t)lrint(v);
}

static void float_to_card(struct dev *d, const float *in, unsigned int n)
{
	unsigned int i, c;

	memset(d->io_buf, 0, (size_t)n * d->card_ch * d->bytes);
	for (i = 0; i < n; i++) {
		uint8_t *f = d->io_buf + (size_t)i * d->card_ch * d->bytes;

		for (c = 0; c < d->nch; c++) {
			uint8_t *s = f + d->cfg.map[c] * d->bytes;
			int32_t v = float_to_s32(in[i * d->nch + c]);

			switch (d->cfg.format) {
			case ALSA_FMT_S16: {
				/* Round to 16 bits, without wrapping. */
				int32_t h = (v >> 16) +
					    ((v & 0x8000) && v < 0x7fff8000);
				int16_t s16 = (int16_t)h;

				memcpy(s, &s16, 2);
				break;
			}
			case ALSA_FMT_S24: {
				int32_t h =
				    (v >> 8) + ((v & 0x80) && v < 0x7fffff80);

				memcpy(s, &h, 4);
				break;
			}
			case ALSA_FMT_S24_3: {
				int32_t h =
				    (v >> 8) + ((v & 0x80) && v < 0x7fffff80);

				s[0] = (uint8_t)h;
				s[1] = (uint8_t)(h >> 8);
				s[2] = (uint8_t)(h >> 16);
				break;
			}
			default:
				memcpy(s, &v, 4);
			}
		}
	}
}

/* ---- playback --------------------------------------------------------
 * Positions come from the subscription @lead frames before they are due;
 * the converter turns input position phi into card frames. After each
 * period written, the next card frame plays at T = now + delay / f_card,
 * and should carry position T * rate - latency: the servo gets
 * phi + latency - T * rate. */

struct alsa_play {
	struct dev d;
	uint8_t chans[ALSA_MAX_CHANNELS]; /* stream channel of each node ch */
	_Atomic uint32_t latency_frames;  /* the control thread may change it */
	uint32_t lead_frames;
	int32_t *feed_buf; /* media side: 256 frames */
	/* the ALSA thread */
	int32_t *in_s32; /* IN_CHUNK frames */
	float *in_f;	 /* IN_CHUNK frames */
	unsigned int in_off, in_len;
	float *out_f;	   /* one period */
	uint64_t feed_pos; /* next input position handed to the converter */
	uint64_t base;	   /* input position where the converter started */
	double phi_rel;	   /* input position of the next card frame - base */
	bool aligned;
	bool counting; /* audio has come since the alignment */
};

#define FEED_CHUNK 256

uint32_t alsa_play_lead_frames(const struct alsa_play *p)
{
	return p->lead_frames;
}

void alsa_play_feed(void *ctx, uint64_t x, const int32_t *frames,
		    unsigned int stream_ch, unsigned int n,
		    uint64_t first_data_x)
{
	struct alsa_play *p = ctx;
	unsigned int nch = p->d.nch, i, c;

	while (n) {
		unsigned int k = n > FEED_CHUNK ? FEED_CHUNK : n;

		for (i = 0; i < k; i++)
			for (c = 0; c < nch; c++)
				p->feed_buf[i * nch + c] =
				    frames[i * stream_ch + p->chans[c]];
		posring_write(&p->d.pr, x, p->feed_buf, k);
		frames += (size_t)k * stream_ch;
		x += k;
		n -= k;
	}
}

/* Next chunk of input for the converter, by position. */
static void play_pull(struct alsa_play *p)
{
	unsigned int i, nch = p->d.nch;
	unsigned int miss =
	    posring_read(&p->d.pr, p->feed_pos, IN_CHUNK, p->in_s32);

	/* Until frames come through after a (re)alignment nothing is
	 * missing yet (the stream starts, the timescale stepped), nor once
	 * the media thread has stopped feeding (the node stopping). */
	if (!p->counting)
		p->counting = miss < IN_CHUNK;
	else if (miss &&
		 mono_ns() - atomic_load_explicit(&p->d.pr.w_mono,
						  memory_order_relaxed) <
		     WRITER_ALIVE_NS)
		STAT_ADD(p->d.missing, miss);
	for (i = 0; i < IN_CHUNK * nch; i++)
		p->in_f[i] = (float)p->in_s32[i] / 2147483648.0f;
	p->feed_pos += IN_CHUNK;
	p->in_off = 0;
	p->in_len = IN_CHUNK;
}

/* Start the converter at input position @want_int + @want_frac (rounded)
 * for the next card frame. */
static void play_align(struct alsa_play *p, uint64_t want_int, double want_frac)
{
	src_reset(p->d.src);
	p->base = want_int + (uint64_t)llround(want_frac);
	p->feed_pos = p->base;
	p->phi_rel = 0;
	p->in_len = 0;
	p->aligned = true;
	p->counting = false;
}

/* One period of card frames at card ratio @ratio into out_f. */
static void play_render(struct alsa_play *p, double ratio)
{
	unsigned int done = 0, nch = p->d.nch;

	while (done < p->d.period) {
		SRC_DATA sd = {0};

		if (!p->in_len)
			play_pull(p);
		sd.data_in = p->in_f + p->in_off * nch;
		sd.input_frames = p->in_len;
		sd.data_out = p->out_f + done * nch;
		sd.output_frames = (long)(p->d.period - done);
		sd.src_ratio = ratio;
		/* A constant ratio within each call: no ramp, so every
		 * output moves the input position by exactly 1 / ratio. */
		src_set_ratio(p->d.src, ratio);
		if (src_process(p->d.src, &sd) != 0)
			break;
		p->in_off += (unsigned int)sd.input_frames_used;
		p->in_len -= (unsigned int)sd.input_frames_used;
		done += (unsigned int)sd.output_frames_gen;
		p->phi_rel += (double)sd.output_frames_gen / ratio;
	}
}

/* The subscription feeds the ring from the media thread, whose CPU can
 * stall: while the card still holds more than a period and 2 ms, wait for
 * the positions the next period needs rather than play zeros for them. */
static void play_wait(struct alsa_play *p)
{
	struct dev *d = &p->d;
	snd_pcm_sframes_t queued;
	struct timespec ts = {0, PLAY_POLL_NS};
	uint64_t need, t0 = 0, waited;
	double in_end;

	if (!p->aligned || !p->counting)
		return;
	/* The converter reads up to its look-ahead past the input position
	 * of the period's last frame, a chunk at a time from feed_pos. */
	in_end =
	    p->phi_rel + (double)d->period / d->servo.ratio + SRC_LOOKAHEAD;
	if (p->base + (uint64_t)ceil(in_end) <= p->feed_pos)
		return;
	need = p->feed_pos +
	       (p->base + (uint64_t)ceil(in_end) - p->feed_pos + IN_CHUNK - 1) /
		   IN_CHUNK * IN_CHUNK;
	while (posring_behind(&d->pr, need, 2 * p->lead_frames)) {
		uint64_t now = mono_ns();

		if (!t0)
			t0 = now;
		if (atomic_load_explicit(&d->stop, memory_order_relaxed) ||
		    A->pcm_delay(d->pcm, &queued) < 0 ||
		    queued <= (snd_pcm_sframes_t)(d->period + d->rate / 500))
			break;
		nanosleep(&ts, NULL);
	}
	waited = t0 ? mono_ns() - t0 : 0;
	if (waited > STAT_GET(d->wait_max_ns))
		STAT_SET(d->wait_max_ns, waited);
}

static void play_prefill(struct alsa_play *p)
{
	snd_pcm_uframes_t left = p->d.buffer;

	memset(p->d.io_buf, 0, p->d.period * p->d.card_ch * p->d.bytes);
	while (left >= p->d.period) {
		if (A->pcm_writei(p->d.pcm, p->d.io_buf, p->d.period) < 0)
			break;
		left -= p->d.period;
	}
	A->pcm_start(p->d.pcm);
}

static void *play_main(void *arg)
{
	struct alsa_play *p = arg;
	struct dev *d = &p->d;
	snd_pcm_sframes_t rc, delay;
	unsigned int gen;
	uint64_t t;

	mem_hold_stack(CARD_STACK_HELD);
	A->pcm_prepare(d->pcm);
	play_prefill(p);
	while (!atomic_load_explicit(&d->stop, memory_order_relaxed)) {
		rc = dev_wait(d);
		if (rc > 0)
			continue;
		if (rc < 0)
			goto xrun;
		gen = mclock_generation(d->mc);
		if (dev_position(d, &delay, &t) == 0 &&
		    mclock_generation(d->mc) == gen) {
			/* The next card frame plays at t + (delay - 0.5) /
			 * f_card (a position is a whole frame: on average the
			 * card is half a frame further on than it says) and
			 * should carry position T * rate - latency, kept as
			 * whole + fraction: doubles of positions since 1970
			 * are too coarse. */
			uint64_t whole = t / NSEC_PER_SEC;
			uint64_t want_int =
			    whole * d->rate -
			    atomic_load_explicit(&p->latency_frames,
						 memory_order_relaxed);
			double want_frac = ((double)(t - whole * NSEC_PER_SEC) +
					    ((double)delay - 0.5) * 1e9 /
						(d->rate * d->servo.ratio)) /
					   1e9 * d->rate;

			if (!p->aligned || gen != d->gen) {
				/* The timescale stepped: start over on the new
				 * one rather than servo across the step. */
				if (p->aligned)
					servo_restart(&d->servo, true);
				d->gen = gen;
				play_align(p, want_int, want_frac);
			} else if (servo_sample(
				       &d->servo, t,
				       (double)(int64_t)(p->base - want_int) +
					   p->phi_rel - want_frac) ==
				   SERVO_STEP) {
				STAT_ADD(d->steps, 1);
				play_align(p, want_int, want_frac);
			}
			dev_publish(d);
		}
		play_wait(p);
		play_render(p, d->servo.ratio);
		float_to_card(d, p->out_f, (unsigned int)d->period);
		rc = A->pcm_writei(d->pcm, d->io_buf, d->period);
		if (rc >= 0 || rc == -EAGAIN)
			continue;
	xrun:
		dev_xrun(d, (int)rc);
		servo_restart(&d->servo, true);
		p->aligned = false;
		play_prefill(p);
	}
	A->pcm_drop(d->pcm);
	return NULL;
}

struct alsa_play *alsa_play_open(const char *name, const struct alsa_config *a,
				 unsigned int nch, const uint8_t *chans,
				 uint32_t rate, uint32_t latency_frames,
				 char *err, size_t err_len)
{
	struct alsa_play *p = mem_calloc_held(1, sizeof(*p));
	char label[64];

	if (!p) {
		snprintf(err, err_len, "out of memory");
		return NULL;
	}
	snprintf(label, sizeof(label), "sink %s", name);
	if (nch < 1 || nch > ALSA_MAX_CHANNELS) {
		snprintf(err, err_len, "%s: %u channels", label, nch);
		goto out_destroy;
	}
	memcpy(p->chans, chans, nch);
	p->latency_frames = latency_frames;
	if (dev_init(&p->d, label, a, false, nch, rate, err, err_len) < 0)
		goto out_destroy;
	p->feed_buf = mem_calloc_held(FEED_CHUNK, nch * sizeof(int32_t));
	p->in_s32 = mem_calloc_held(IN_CHUNK, nch * sizeof(int32_t));
	p->in_f = mem_calloc_held(IN_CHUNK, nch * sizeof(float));
	p->out_f = mem_calloc_held(p->d.period, nch * sizeof(float));
	if (!p->feed_buf || !p->in_s32 || !p->in_f || !p->out_f) {
		snprintf(err, err_len, "%s: out of memory", label);
		goto out_destroy;
	}
	/* A period is rendered when the card holds a buffer: it reaches a
	 * buffer and a period ahead, plus the converter's look-ahead and
	 * the chunk it pulls. Another period and 2 ms cover the two
	 * threads' wake-ups. */
	p->lead_frames = (uint32_t)(p->d.buffer + 2 * p->d.period) +
			 SRC_LOOKAHEAD + IN_CHUNK + rate / 500;
	if (p->lead_frames >= latency_frames) {
		snprintf(
		    err, err_len,
		    "%s: the card's buffer needs %u us of the "
		    "subscription's %u us latency, and more for the "
		    "network; raise latency or lower period/buffer",
		    label,
		    (unsigned int)((uint64_t)p->lead_frames * 1000000 / rate),
		    (unsigned int)((uint64_t)latency_frames * 1000000 / rate));
		goto out_destroy;
	}
	log_info("%s: %s, %u of %u channels, period %lu, buffer %lu, "
		 "%s; needs audio %u us ahead",
		 label, a->device, nch, p->d.card_ch,
		 (unsigned long)p->d.period, (unsigned long)p->d.buffer,
		 A->pcm_format_name(p->d.fmt),
		 (unsigned int)((uint64_t)p->lead_frames * 1000000 / rate));
	return p;

out_destroy:
	alsa_play_destroy(p);
	return NULL;
}

int alsa_play_set_latency(struct alsa_play *p, uint32_t latency_frames)
{
	if (p->lead_frames >= latency_frames)
		return -EINVAL;
	/* The servo sees its error jump by the change and realigns (an
	 * error over 48 samples is a step, not something to slew). */
	atomic_store_explicit(&p->latency_frames, latency_frames,
			      memory_order_relaxed);
	return 0;
}

int alsa_play_start(struct alsa_play *p, struct mclock *mc, int rt_prio)
{
	return dev_start_thread(&p->d, mc, rt_prio, play_main);
}

void alsa_play_destroy(struct alsa_play *p)
{
	if (!p)
		return;
	dev_fini(&p->d);
	free(p->feed_buf);
	free(p->in_s32);
	free(p->in_f);
	free(p->out_f);
	free(p);
}

void alsa_play_stats(const struct alsa_play *p, struct alsa_stats *st)
{
	dev_stats(&p->d, st);
}

void alsa_play_report(struct alsa_play *p)
{
	dev_report(&p->d);
}

/* ---- capture ---------------------------------------------------------
 * Card frame k was sampled at T(k); the converter turns card frames into
 * positions, card phase psi per output. After each period read, T of the
 * next card frame to convert is known from the delay, and the next output
 * position x should hold what was sampled at x / rate: the servo gets
 * x - T(psi) * rate. */

struct alsa_cap {
	struct dev d;
	uint32_t lag_frames;
	float *out_f;	    /* converter output, 2 periods */
	int32_t *out_s32;   /* the same as int32 */
	uint64_t card_read; /* card frames read since the start */
	uint64_t next_x;    /* position of the next output frame */
	uint64_t psi_base;  /* card frame where the converter started */
	double psi_rel;	    /* card frame of the next output - psi_base */
	bool aligned;
	/* the first position written on this timescale (published before
	 * d.gen_pub): what a flow asks for before it was never captured */
	_Atomic uint64_t from_x;
};

uint32_t alsa_cap_lag_frames(const struct alsa_cap *c)
{
	return c->lag_frames;
}

void alsa_cap_read(struct alsa_cap *c, uint64_t x, unsigned int n, int32_t *out)
{
	unsigned int miss = posring_read(&c->d.pr, x, n, out);
	uint64_t from;

	/* Missing counts once the card runs on the current timescale: not
	 * before its first frames, nor while it realigns after a step, nor
	 * for positions before the first one captured on it (a flow that
	 * resynchronised at the step asks for them: 37 to 235 frames at a
	 * lock, counted as missing, failed alsa-capture and alsa-chain). */
	if (!miss ||
	    !atomic_load_explicit(&c->d.pr.started, memory_order_relaxed) ||
	    atomic_load_explicit(&c->d.gen_pub, memory_order_acquire) !=
		mclock_generation(c->d.mc))
		return;
	from = atomic_load_explicit(&c->from_x, memory_order_relaxed);
	if (x < from)
		miss = from - x >= miss ? 0 : miss - (unsigned int)(from - x);
	if (miss)
		STAT_ADD(c->d.missing, miss);
}

bool alsa_cap_ready(struct alsa_cap *c, uint64_t end, uint64_t late_ns)
{
	struct dev *d = &c->d;

	if (late_ns < CAP_WAIT_MAX_NS &&
	    posring_behind(&d->pr, end, d->rate / 10)) {
		if (late_ns > STAT_GET(d->wait_max_ns))
			STAT_SET(d->wait_max_ns, late_ns);
		return false;
	}
	return true;
}

/* T(psi) * rate - @whole * rate for the card frame psi (psi_base +
 * psi_rel), from a reading at PTP @t of @hw frames captured so far. */
static double cap_psi_time(const struct alsa_cap *c, uint64_t t, uint64_t whole,
			   uint64_t hw)
{
	const struct dev *d = &c->d;
	double back = (double)(int64_t)(hw - c->psi_base) - c->psi_rel + 0.5;

	return ((double)(t - whole * NSEC_PER_SEC) / 1e9 -
		back / (d->rate * d->servo.ratio)) *
	       d->rate;
}

static void *cap_main(void *arg)
{
	struct alsa_cap *c = arg;
	struct dev *d = &c->d;
	unsigned int nch = d->nch, i, out_max = 2 * (unsigned int)d->period;
	unsigned int gen;
	snd_pcm_sframes_t rc, delay;
	uint64_t t;

	mem_hold_stack(CARD_STACK_HELD);
	A->pcm_prepare(d->pcm);
	A->pcm_start(d->pcm);
	while (!atomic_load_explicit(&d->stop, memory_order_relaxed)) {
		SRC_DATA sd = {0};
		unsigned int got;
		double ratio;

		rc = dev_wait(d);
		if (rc > 0)
			continue;
		if (rc == 0)
			rc = A->pcm_readi(d->pcm, d->io_buf, d->period);
		if (rc == -EAGAIN)
			continue;
		if (rc < 0) {
			dev_xrun(d, (int)rc);
			servo_restart(&d->servo, true);
			c->aligned = false;
			A->pcm_start(d->pcm);
			continue;
		}
		got = (unsigned int)rc;
		card_to_float(d, got);
		gen = mclock_generation(d->mc);
		if (dev_position(d, &delay, &t) == 0 &&
		    mclock_generation(d->mc) == gen) {
			/* Card frame k was sampled at about t - (hw + 0.5 -
			 * k) / f_card, hw = frames captured so far. */
			uint64_t whole = t / NSEC_PER_SEC;
			uint64_t hw = c->card_read + got + (uint64_t)delay;

			if (!c->aligned || gen != d->gen) {
				/* The converter starts at this period's
				 * first frame, on the position it was
				 * sampled at (again, when the timescale
				 * stepped: no servo across a step). */
				if (c->aligned)
					servo_restart(&d->servo, true);
				d->gen = gen;
				src_reset(d->src);
				c->psi_base = c->card_read;
				c->psi_rel = 0;
				c->next_x = whole * d->rate +
					    (uint64_t)llround(
						cap_psi_time(c, t, whole, hw));
				c->aligned = true;
				atomic_store_explicit(&c->from_x, c->next_x,
						      memory_order_relaxed);
				atomic_store_explicit(&d->gen_pub, gen,
						      memory_order_release);
			} else if (servo_sample(
				       &d->servo, t,
				       (double)(int64_t)(c->next_x -
							 whole * d->rate) -
					   cap_psi_time(c, t, whole, hw)) ==
				   SERVO_STEP) {
				STAT_ADD(d->steps, 1);
				c->aligned = false;
				c->card_read += got;
				dev_publish(d);
				continue;
			}
			dev_publish(d);
		}
		c->card_read += got;
		if (!c->aligned)
			continue;
		/* Outputs per card frame: 1 / (card frames per PTP sample). */
		ratio = 1.0 / d->servo.ratio;
		sd.data_in = d->f_card;
		sd.input_frames = got;
		sd.data_out = c->out_f;
		sd.output_frames = out_max;
		sd.src_ratio = ratio;
		src_set_ratio(d->src, ratio);
		if (src_process(d->src, &sd) != 0)
			continue;
		/* Each output moves the card phase by 1 / ratio exactly. */
		c->psi_rel += (double)sd.output_frames_gen / ratio;
		for (i = 0; i < (unsigned int)sd.output_frames_gen * nch; i++)
			c->out_s32[i] = float_to_s32(c->out_f[i]);
		posring_write(&d->pr, c->next_x, c->out_s32,
			      (unsigned int)sd.output_frames_gen);
		c->next_x += (uint64_t)sd.output_frames_gen;
	}
	A->pcm_drop(d->pcm);
	return NULL;
}

struct alsa_cap *alsa_cap_open(const char *name, const struct alsa_config *a,
			       unsigned int nch, uint32_t rate, char *err,
			       size_t err_len)
{
	struct alsa_cap *c = mem_calloc_held(1, sizeof(*c));
	char label[64];

	if (!c) {
		snprintf(err, err_len, "out of memory");
		return NULL;
	}
	snprintf(label, sizeof(label), "source %s", name);
	if (dev_init(&c->d, label, a, true, nch, rate, err, err_len) < 0)
		goto out_destroy;
	c->out_f = mem_calloc_held(2 * c->d.period, nch * sizeof(float));
	c->out_s32 = mem_calloc_held(2 * c->d.period, nch * sizeof(int32_t));
	if (!c->out_f || !c->out_s32) {
		snprintf(err, err_len, "%s: out of memory", label);
		goto out_destroy;
	}
	/* A sample is read a period after it was taken at worst, then the
	 * converter holds its look-ahead; 2 ms cover the wake-ups. */
	c->lag_frames = 2 * (uint32_t)c->d.period + SRC_LOOKAHEAD + rate / 500;
	/* At a packet's send time the capture thread's last write is up
	 * to the lag old: it counts as gone only once the flow's whole
	 * wait is over too (a fixed 50 ms cut the 40 ms wait to 28 ms at
	 * 10 ms periods, and to none from 24 ms). */
	c->d.pr.alive_ns = (uint64_t)c->lag_frames * NSEC_PER_SEC / rate +
			   CAP_WAIT_MAX_NS + 5 * 1000 * 1000ull;
	if (c->d.pr.alive_ns < WRITER_ALIVE_NS)
		c->d.pr.alive_ns = WRITER_ALIVE_NS;
	log_info("%s: %s, %u of %u channels, period %lu, buffer %lu, %s; "
		 "sends %u us after capture, up to %llu us later when this "
		 "thread runs late",
		 label, a->device, nch, c->d.card_ch,
		 (unsigned long)c->d.period, (unsigned long)c->d.buffer,
		 A->pcm_format_name(c->d.fmt),
		 (unsigned int)((uint64_t)c->lag_frames * 1000000 / rate),
		 CAP_WAIT_MAX_NS / 1000);
	return c;

out_destroy:
	alsa_cap_destroy(c);
	return NULL;
}

int alsa_cap_start(struct alsa_cap *c, struct mclock *mc, int rt_prio)
{
	return dev_start_thread(&c->d, mc, rt_prio, cap_main);
}

void alsa_cap_destroy(struct alsa_cap *c)
{
	if (!c)
		return;
	dev_fini(&c->d);
	free(c->out_f);
	free(c->out_s32);
	free(c);
}

void alsa_cap_report(struct alsa_cap *c)
{
	dev_report(&c->d);
}

void alsa_cap_stats(const struct alsa_cap *c, struct alsa_stats *st)
{
	dev_stats(&c->d, st);
}

void alsa_log_stats(const struct alsa_stats *st)
{
	log_info(
	    "final: alsa %s xruns=%llu missing=%llu overflows=%llu "
	    "steps=%llu wait_max_us=%llu outliers=%llu unlocks=%llu "
	    "locked_error_max=%.3f ppm=%.3f error=%.3f servo=%s",
	    st->name, (unsigned long long)st->xruns,
	    (unsigned long long)st->missing, (unsigned long long)st->overflows,
	    (unsigned long long)st->steps, (unsigned long long)st->wait_max_us,
	    (unsigned long long)st->outliers, (unsigned long long)st->unlocks,
	    st->locked_err_max, st->ppm, st->err_samples, st->state);
}
