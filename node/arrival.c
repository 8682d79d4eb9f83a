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
 * faster than us makes it grow, and the servo raises r; the servo keeps
 * it at 0 on average, so the latency covers the arrival jitter around
 * that mean. */
#include "node/arrival.h"
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
#define AHEAD (24 + IN_CHUNK)
#define OUT_MAX 256 /* frames per conversion call */

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
};

struct arrival *arrival_new(unsigned int channels, uint32_t rate,
			    uint32_t latency_frames, struct jbuf *jb)
{
	struct arrival *a = calloc(1, sizeof(*a));
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
	a->src = src_new(SRC_TYPE, (int)channels, &err);
	a->in_s32 = calloc((size_t)IN_CHUNK * channels, sizeof(int32_t));
	a->in_f = calloc((size_t)IN_CHUNK * channels, sizeof(float));
	a->out_f = calloc((size_t)OUT_MAX * channels, sizeof(float));
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

static void restart_map(struct arrival *a, uint64_t x, uint32_t ts)
{
	a->x_next = x;
	a->base = ts;
	a->phi = 0;
	a->pulled = 0;
	a->in_len = a->in_off = 0;
	src_reset(a->src);
}

void arrival_reset(struct arrival *a, uint64_t x, uint32_t ts)
{
	servo_restart(&a->sv, false);
	a->converting = false;
	restart_map(a, x, ts);
}

uint32_t arrival_position(const struct arrival *a, uint64_t x)
{
	double d = (double)(int64_t)(x - a->x_next);

	if (!a->converting)
		return a->base + (uint32_t)(int64_t)a->phi + (uint32_t)(int64_t)d;
	return a->base + (uint32_t)(int64_t)llround(a->phi + d * a->sv.ratio);
}

void arrival_note(struct arrival *a, uint64_t x_arr, uint32_t ts)
{
	uint64_t t_ns = x_arr * 1000000000ull / a->rate;
	int32_t e = (int32_t)(ts - arrival_position(a, x_arr));
	uint32_t next;

	if (a->converting)
		e -= AHEAD;
	if (servo_sample(&a->sv, t_ns, (double)e) == SERVO_STEP) {
		/* Too far to slew (a stall, a sender that jumped): the map
		 * is moved so that this packet's nominal time is its
		 * arrival. A glitch, counted. */
		atomic_fetch_add_explicit(&a->steps, 1, memory_order_relaxed);
		next = arrival_position(a, a->x_next) + (uint32_t)e;
		restart_map(a, a->x_next, next);
		jbuf_seek(a->jb, next);
		return;
	}
	if (!a->converting && a->sv.state >= SERVO_LOCKING &&
	    fabs(servo_ppm(&a->sv)) > ARRIVAL_CONVERT_PPM) {
		/* The sender's clock is not ours: convert from here on. The
		 * map goes on where it is (the buffer's read position); the
		 * servo works the converter's read-ahead off as it works any
		 * error off. */
		restart_map(a, a->x_next, arrival_position(a, a->x_next));
		a->converting = true;
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
	return servo_ppm(&a->sv);
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
