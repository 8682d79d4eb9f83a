/* Following a sender's rate (see arrival.h).
 *
 * The map from local positions x to stream positions: copying, the next
 * output frame x_next plays stream position base + phi with phi a whole
 * number and the rate 1; converting, phi is fractional and grows by the
 * ratio r (stream frames per local frame) for every frame put out.
 * libsamplerate's sinc converters put output 0 on input 0, and with the
 * ratio constant within each call every output moves the input position
 * by exactly r, so phi is exact (as in node/alsa.c's playback).
 *
 * pos(x) is the stream position whose nominal time is local position x;
 * it plays at x + latency, as a PTP-timed stream's does. The error the
 * servo sees, at a packet's arrival at local position x_a with its first
 * frame at stream position t: t - ahead - pos(x_a), how much earlier than
 * planned the stream delivers (ahead: what the converter reads before it
 * puts a frame out, so that data is there when it is pulled). A sender
 * faster than us makes it grow, and the servo raises r. The servo sees
 * the earliest packet of each window and keeps it where the first
 * window's earliest packet was when the map started (sv_ref): that is
 * where copying keeps it, and a sender that works in cycles (PipeWire
 * 0.3.65: 21 packets at once every 21.3 ms) has its earliest packet a
 * cycle ahead of the first one, a phase and no rate. */
#include "node/arrival.h"
#include "ptp/mclock.h"
#include "common/mem.h"
#include "node/jbuf.h"
#include "node/servo.h"

#include <math.h>
#include <samplerate.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define IN_CHUNK 16
#define SRC_TYPE SRC_SINC_FASTEST
/* Input frames SRC_SINC_FASTEST reads before its first output, rounded
 * up, plus one chunk: the converter's read position runs this far ahead
 * of the frame it puts out. */
#define AHEAD	(24 + IN_CHUNK)
#define OUT_MAX 256 /* frames per conversion call */
/* The drift judge: the smallest arrival offset of every half second (a
 * late packet only ever arrives later: the minimum is the path's floor,
 * however loaded the machine), the last DRIFT_WINDOWS of them fitted by
 * a line. */
#define DRIFT_WINDOWS 16
/* The servo sees the earliest packet of every quarter second: a late
 * packet says nothing of the sender's rate, only of the path. */
#define SV_WINDOW_DIV	  4
#define DRIFT_MIN_WINDOWS 3
/* A window whose minimum moved this far from the median move of the
 * windows before it is a step of the path (a route, a queue, a VM's
 * stall), not drift: the judge forgets the windows before it. Above the
 * +-80 us a wandering floor moves here (test_arrival), below the 500 us
 * steps seen on a path that changed. */
#define DRIFT_STEP_FRAMES 16

struct arrival {
	unsigned int ch;
	struct jbuf *jb; /* the subscription's */
	uint32_t rate;
	uint32_t latency;
	struct servo sv;
	SRC_STATE *src;
	bool converting;
	uint64_t x_next; /* local position of the next output frame */
	uint32_t base;	 /* stream position where the map starts */
	double phi;	 /* stream position of x_next, from base */
	uint32_t pulled; /* stream frames taken from the buffer, from base */
	int32_t *in_s32;
	float *in_f, *out_f;
	unsigned int in_off, in_len;
	_Atomic uint64_t steps;
	/* the drift judge */
	bool dj_started;
	uint64_t dj_x0;	     /* local position of the first packet */
	uint32_t dj_ts_last; /* its timestamps, unwrapped: */
	int64_t dj_ts;	     /* stream frames since the first packet */
	uint64_t dj_win_start;
	int64_t dj_win_min;
	double dj_x[DRIFT_WINDOWS], dj_d[DRIFT_WINDOWS];
	unsigned int dj_n, dj_next;
	double dj_slope; /* the last fit: local less stream frames per frame */
	bool dj_known;	 /* a fit of at least DRIFT_MIN_WINDOWS */
	/* the servo's input: the earliest packet of each SV_WINDOW */
	bool sv_open;
	uint64_t sv_start;
	int32_t sv_max;
	bool sv_ref_known;
	int32_t sv_ref; /* its setpoint: the first window's, copying */
};

struct arrival *arrival_new(unsigned int channels, uint32_t rate,
			    uint32_t latency_frames, struct jbuf *jb,
			    bool may_convert)
{
	struct arrival *a = mem_calloc_held(1, sizeof(*a));
	struct servo_config sc;
	int err;

	if (!a)
		return NULL;
	a->ch = channels;
	a->jb = jb;
	a->rate = rate;
	a->latency = latency_frames;
	servo_config_default(&sc, rate);
	/* Arrival times carry the network's and the sender's jitter, not
	 * a card's quantisation: a reading far off its window is normal,
	 * and only a fill beyond half the latency (a sender's restart, a
	 * stall) is a step. */
	sc.outlier_samples = rate / 500.0;
	sc.unlock_samples = rate / 1000.0;
	sc.lock_samples = rate / 10000.0;
	sc.step_samples = latency_frames / 2.0 > rate / 200.0
			      ? latency_frames / 2.0
			      : rate / 200.0;
	servo_init(&a->sv, &sc);
	if (!may_convert)
		return a;
	a->src = src_new(SRC_TYPE, (int)channels, &err);
	/* its filter tables, before the media thread reads them */
	mem_hold_library("libsamplerate.so");
	a->in_s32 =
	    mem_calloc_held((size_t)IN_CHUNK * channels, sizeof(int32_t));
	a->in_f = mem_calloc_held((size_t)IN_CHUNK * channels, sizeof(float));
	a->out_f = mem_calloc_held((size_t)OUT_MAX * channels, sizeof(float));
	if (!a->src || !a->in_s32 || !a->in_f || !a->out_f) {
		arrival_destroy(a);
		return NULL;
	}
	return a;
}

void arrival_destroy(struct arrival *a)
{
	if (!a)
		return;
	if (a->src)
		src_delete(a->src);
	free(a->in_s32);
	free(a->in_f);
	free(a->out_f);
	free(a);
}

static void drift_restart(struct arrival *a)
{
	a->dj_started = false;
	a->dj_known = false;
	a->dj_n = a->dj_next = 0;
}

/* Student's t for n - 2 degrees of freedom (n windows, a line fitted),
 * two-sided at 99.9 %: how many standard errors of the slope make it
 * beyond doubt. Three windows leave one degree of freedom, whose
 * standard error is itself a guess (t = 637): held to 3, a sender on our
 * clock whose earliest packet wandered by 150 us was converted in one
 * run of twelve (a PipeWire stream here, 1.2 s into a recording). */
static const double t999[DRIFT_WINDOWS - 1] = {
    636.6, 31.60, 12.92, 8.610, 6.869, 5.959, 5.408, 5.041,
    4.781, 4.587, 4.437, 4.318, 4.221, 4.140, 4.073,
};

/* The line through the windows' minimum offsets: its slope @b (local
 * less stream frames per frame) and the slope's standard error @se.
 * False with too few windows to fit. */
static bool drift_fit(struct arrival *a, double *b, double *se)
{
	double mx = 0, md = 0, sxx = 0, sxd = 0, rss = 0, var;
	unsigned int i, n = a->dj_n;

	if (n < DRIFT_MIN_WINDOWS)
		return false;
	for (i = 0; i < n; i++) {
		mx += a->dj_x[i];
		md += a->dj_d[i];
	}
	mx /= n;
	md /= n;
	for (i = 0; i < n; i++) {
		sxx += (a->dj_x[i] - mx) * (a->dj_x[i] - mx);
		sxd += (a->dj_x[i] - mx) * (a->dj_d[i] - md);
	}
	if (sxx <= 0)
		return false;
	*b = sxd / sxx;
	for (i = 0; i < n; i++) {
		double r = a->dj_d[i] - md - *b * (a->dj_x[i] - mx);

		rss += r * r;
	}
	/* Offsets are whole frames: three windows whose minima happen to
	 * sit on a line (0, 3, 6: a 125 ppm slope) have no residual at
	 * all. Their scatter is taken as a frame at least. */
	var = rss / (n - 2);
	if (var < 1.0)
		var = 1.0;
	*se = sqrt(var / sxx);
	a->dj_slope = *b;
	a->dj_known = true;
	return true;
}

/* Is the sender's rate told apart from ours by more than
 * ARRIVAL_CONVERT_PPM, beyond doubt? The slope of the windows' minimum
 * offsets, less t999 standard errors of it, must exceed it: a sender on
 * our clock under a jittery path (a loaded machine) is never converted,
 * and one 1000 ppm off is found in about two seconds (test_arrival). */
static bool drift_judged_apart(struct arrival *a)
{
	double b, se;

	if (!drift_fit(a, &b, &se))
		return false;
	return (fabs(b) - t999[a->dj_n - 2] * se) * 1e6 > ARRIVAL_CONVERT_PPM;
}

/* Does a converted sender now run on our clock? A full judge's slope,
 * two standard errors out, within half ARRIVAL_CONVERT_PPM (the gap
 * between the two keeps a sender near the line from going back and
 * forth): a sender that locked to our grandmaster, or one a path's step
 * had made look apart before the step left the judge. */
static bool drift_judged_same(struct arrival *a)
{
	double b, se;

	if (a->dj_n < DRIFT_WINDOWS || !drift_fit(a, &b, &se))
		return false;
	return (fabs(b) + 2 * se) * 1e6 < ARRIVAL_CONVERT_PPM / 2;
}

/* The median of the moves from one window's minimum to the next, of
 * the @n windows before the newest (in order from the oldest kept). */
static double drift_median_move(const struct arrival *a, unsigned int n)
{
	double m[DRIFT_WINDOWS];
	unsigned int i, j, k = 0;
	unsigned int first =
	    (a->dj_next + DRIFT_WINDOWS - a->dj_n) % DRIFT_WINDOWS;

	for (i = 1; i < n; i++) {
		double v = a->dj_d[(first + i) % DRIFT_WINDOWS] -
			   a->dj_d[(first + i - 1) % DRIFT_WINDOWS];

		for (j = k++; j > 0 && m[j - 1] > v; j--)
			m[j] = m[j - 1];
		m[j] = v;
	}
	return k % 2 ? m[k / 2] : (m[k / 2 - 1] + m[k / 2]) / 2;
}

/* A window closed with its minimum at @d: a step of the path (far off
 * the windows' median move) leaves it alone in the judge. */
static void drift_window(struct arrival *a, double x, double d)
{
	unsigned int last = (a->dj_next + DRIFT_WINDOWS - 1) % DRIFT_WINDOWS;

	if (a->dj_n >= 3) {
		double move = d - a->dj_d[last];

		if (fabs(move - drift_median_move(a, a->dj_n)) >
		    DRIFT_STEP_FRAMES) {
			a->dj_n = 0;
			a->dj_next = 0;
		}
	}
	a->dj_x[a->dj_next] = x;
	a->dj_d[a->dj_next] = d;
	a->dj_next = (a->dj_next + 1) % DRIFT_WINDOWS;
	if (a->dj_n < DRIFT_WINDOWS)
		a->dj_n++;
}

/* A packet's offset (local position less stream position, both from the
 * first packet) into the drift judge. */
static void drift_note(struct arrival *a, uint64_t x_arr, uint32_t ts)
{
	int64_t d;

	if (!a->dj_started) {
		a->dj_started = true;
		a->dj_x0 = x_arr;
		a->dj_ts_last = ts;
		a->dj_ts = 0;
		a->dj_win_start = x_arr;
		a->dj_win_min = INT64_MAX;
	}
	a->dj_ts += (int32_t)(ts - a->dj_ts_last);
	a->dj_ts_last = ts;
	d = (int64_t)(x_arr - a->dj_x0) - a->dj_ts;
	if (d < a->dj_win_min)
		a->dj_win_min = d;
	if (x_arr - a->dj_win_start < a->rate / 2)
		return;
	drift_window(a, (double)((a->dj_win_start + x_arr) / 2 - a->dj_x0),
		     (double)a->dj_win_min);
	a->dj_win_start = x_arr;
	a->dj_win_min = INT64_MAX;
}

static void restart_map(struct arrival *a, uint64_t x, uint32_t ts)
{
	a->sv_open = false; /* errors against the old map mean nothing */
	a->x_next = x;
	a->base = ts;
	a->phi = 0;
	a->pulled = 0;
	a->in_len = a->in_off = 0;
	if (a->src)
		src_reset(a->src);
}

void arrival_reset(struct arrival *a, uint64_t x, uint32_t ts)
{
	servo_restart(&a->sv, false);
	a->converting = false;
	a->sv_ref_known = false;
	drift_restart(a);
	restart_map(a, x, ts);
}

uint32_t arrival_position(const struct arrival *a, uint64_t x)
{
	double d = (double)(int64_t)(x - a->x_next);

	if (!a->converting)
		return a->base + (uint32_t)(int64_t)a->phi +
		       (uint32_t)(int64_t)d;
	return a->base + (uint32_t)(int64_t)llround(a->phi + d * a->sv.ratio);
}

void arrival_note(struct arrival *a, uint64_t x_arr, uint32_t ts)
{
	/* (x_arr * 1e9 overflowed: t went back to 0 every 384 s at 48 kHz,
	 * and a servo that leaves out readings from before their window
	 * then held one open for ever; a reviewer's) */
	uint64_t t_ns = mclock_samples_to_ns(x_arr, a->rate);
	int32_t e = (int32_t)(ts - arrival_position(a, x_arr));
	uint32_t next;

	if (a->converting)
		e -= AHEAD;
	drift_note(a, x_arr, ts);
	if (!a->sv_open) {
		a->sv_open = true;
		a->sv_start = x_arr;
		a->sv_max = e;
	} else if (e > a->sv_max) {
		a->sv_max = e;
	}
	if (x_arr - a->sv_start < a->rate / SV_WINDOW_DIV)
		return;
	a->sv_open = false;
	if (!a->sv_ref_known) {
		a->sv_ref_known = true;
		a->sv_ref = a->sv_max;
	}
	e = a->sv_max - a->sv_ref;
	if (servo_sample(&a->sv, t_ns, (double)e) == SERVO_STEP) {
		/* Too far to slew (a stall, a sender that jumped): the map
		 * is moved so that the window's earliest packet is back
		 * where the first window's was. A glitch, counted. */
		atomic_fetch_add_explicit(&a->steps, 1, memory_order_relaxed);
		next = arrival_position(a, a->x_next) + (uint32_t)e;
		restart_map(a, a->x_next, next);
		jbuf_seek(a->jb, next);
		drift_restart(a); /* the offsets jumped with it */
		return;
	}
	if (a->converting && drift_judged_same(a)) {
		/* Back to copying, from the stream position that plays now
		 * (rounded): the converter's read-ahead, already taken from
		 * the buffer, is lost (under a millisecond of silence, a
		 * glitch, counted). */
		atomic_fetch_add_explicit(&a->steps, 1, memory_order_relaxed);
		next = arrival_position(a, a->x_next);
		a->converting = false;
		restart_map(a, a->x_next, next);
		jbuf_seek(a->jb, next);
		servo_restart(&a->sv, false);
		a->sv_ref_known = false;
		return;
	}
	if (a->src && !a->converting && drift_judged_apart(a)) {
		/* The sender's clock is not ours: convert from here on. The
		 * map goes on where it is (the buffer's read position); the
		 * servo works the converter's read-ahead off as it works any
		 * error off. */
		restart_map(a, a->x_next, arrival_position(a, a->x_next));
		a->converting = true;
		/* from the judge's rate (the servo, steering nothing while
		 * frames were copied, may have wandered on the jitter) */
		a->sv.integral = 1.0 - a->dj_slope;
		servo_restart(&a->sv, true);
	}
}

/* The next chunk of stream frames into the converter's input. */
static unsigned int pull(struct arrival *a, struct jbuf *jb)
{
	unsigned int i, missing = jbuf_get(jb, a->in_s32, IN_CHUNK);

	for (i = 0; i < IN_CHUNK * a->ch; i++)
		a->in_f[i] = (float)a->in_s32[i] / 2147483648.0f;
	a->in_off = 0;
	a->in_len = IN_CHUNK;
	a->pulled += IN_CHUNK;
	return missing;
}

static int32_t to_s32(float f)
{
	double v = (double)f * 2147483648.0;

	if (v >= 2147483647.0)
		return INT32_MAX;
	if (v <= -2147483648.0)
		return INT32_MIN;
	return (int32_t)lrint(v);
}

unsigned int arrival_read(struct arrival *a, uint64_t x, int32_t *out,
			  unsigned int n)
{
	struct jbuf *jb = a->jb;
	unsigned int done = 0, missing = 0, i;

	if (!a->converting) {
		a->x_next = x + n;
		a->phi += n;
		return jbuf_get(jb, out, n);
	}
	while (done < n) {
		SRC_DATA sd = {0};
		double r = a->sv.ratio;
		unsigned int want = n - done < OUT_MAX ? n - done : OUT_MAX;

		if (!a->in_len)
			missing += pull(a, jb);
		sd.data_in = a->in_f + a->in_off * a->ch;
		sd.input_frames = a->in_len;
		sd.data_out = a->out_f;
		sd.output_frames = want;
		sd.src_ratio = 1.0 / r;
		/* one ratio per call: each output moves the input by r */
		src_set_ratio(a->src, 1.0 / r);
		if (src_process(a->src, &sd) != 0)
			break;
		a->in_off += (unsigned int)sd.input_frames_used;
		a->in_len -= (unsigned int)sd.input_frames_used;
		for (i = 0; i < (unsigned int)sd.output_frames_gen * a->ch; i++)
			out[done * a->ch + i] = to_s32(a->out_f[i]);
		done += (unsigned int)sd.output_frames_gen;
		a->phi += (double)sd.output_frames_gen * r;
	}
	/* a converter that stopped early leaves silence, not garbage */
	if (done < n)
		memset(out + done * a->ch, 0,
		       (size_t)(n - done) * a->ch * sizeof(int32_t));
	a->x_next = x + n;
	return missing;
}

double arrival_ppm(const struct arrival *a)
{
	/* converting: the servo's frequency term (its ratio less the
	 * proportional part, which corrects phase); copying: the judge's */
	if (a->converting)
		return (a->sv.integral - 1.0) * 1e6;
	if (!a->dj_known)
		return servo_ppm(&a->sv);
	return -a->dj_slope * 1e6;
}

bool arrival_may_convert(const struct arrival *a)
{
	return a->src != NULL;
}

bool arrival_converting(const struct arrival *a)
{
	return a->converting;
}

uint64_t arrival_steps(const struct arrival *a)
{
	return atomic_load_explicit(&((struct arrival *)a)->steps,
				    memory_order_relaxed);
}
