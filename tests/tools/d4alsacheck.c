/* d4alsacheck: measure what the test sound card (tests/alsa) played or
 * captured against PTP time. Exit 0 when within the bounds given, 1 when
 * not, 2 on usage or I/O errors.
 *
 *   d4alsacheck timing IN OUT --latency-ms L [--settle-s S] [--max N]
 *       Clicks go in on IN and come out on OUT; every OUT click after the
 *       first S seconds must come out L ms after the IN click nearest to
 *       it, within N samples (default 2). IN and OUT are one of:
 *         grid:P            clicks at PTP positions that are multiples of P
 *         play:RAW:LOG:CH   what the card played (raw s32le, its log),
 *                           clicks found in channel CH (1-based)
 *         cap:LOG:P         what the card captured: its input file had a
 *                           click at every frame that is a multiple of P
 *         wav:FILE:X0:CH    a recording that holds position X0 + i at i
 *   d4alsacheck thdn RAW:LOG:CH [--settle-s S] [--freq F] [--max DB]
 *       THD+N of the sine in channel CH of what the card played, per
 *       second from S s after the sine starts to 2 s before the end:
 *       20 Hz-20 kHz, without F +- 50 Hz (the notch of
 *       an analyser), 32768-point FFT under a 7-term Blackman-Harris
 *       window. Every second must be at or below DB (default -90).
 *
 *   --ptp-offset-s O  PTP = CLOCK_REALTIME + O (37 for a free-running
 *                     node without the kernel's TAI offset; 0 in the lab)
 *   --rate R          48000 unless given
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sndfile.h>

#define MAX_RUNS  64
#define MAX_SYNCS 100000
#define FFT_N	  32768

static double g_rate = 48000;
static double g_ptp_offset_ns;

/* The card's log: runs ("start N MONO REAL") and clock pairs ("sync"). */
struct card_log {
	double ppm;
	unsigned int channels;
	unsigned int nruns;
	uint64_t run_frame[MAX_RUNS];
	double run_mono[MAX_RUNS];
	unsigned int nsync;
	double *sync_mono, *sync_real;
	uint64_t end_frames;
	uint64_t xruns;
};

static void log_free(struct card_log *lg)
{
	free(lg->sync_mono);
	free(lg->sync_real);
	lg->sync_mono = lg->sync_real = NULL;
}

static int read_log(const char *path, struct card_log *lg)
{
	FILE *f = fopen(path, "r");
	char line[256];

	if (!f) {
		fprintf(stderr, "d4alsacheck: %s: %s\n", path, strerror(errno));
		return -1;
	}
	memset(lg, 0, sizeof(*lg));
	lg->sync_mono = calloc(MAX_SYNCS, sizeof(double));
	lg->sync_real = calloc(MAX_SYNCS, sizeof(double));
	while (fgets(line, sizeof(line), f)) {
		unsigned long long a, b, c;
		char kind[16];

		if (sscanf(line, "# d4test %15s ppm %lf channels %u", kind,
			   &lg->ppm, &lg->channels) == 3)
			continue;
		if (sscanf(line, "start %llu %llu %llu", &a, &b, &c) == 3 &&
		    lg->nruns < MAX_RUNS) {
			lg->run_frame[lg->nruns] = a;
			lg->run_mono[lg->nruns++] = (double)b;
		} else if (sscanf(line, "sync %llu %llu", &a, &b) == 2 &&
			   lg->nsync < MAX_SYNCS) {
			lg->sync_mono[lg->nsync] = (double)a;
			lg->sync_real[lg->nsync++] = (double)b;
		} else if (sscanf(line, "end %llu xruns %llu", &a, &b) == 2) {
			lg->end_frames = a;
			lg->xruns = b;
		}
	}
	fclose(f);
	if (!lg->nruns || !lg->nsync) {
		fprintf(stderr, "d4alsacheck: %s: no start or sync lines\n",
			path);
		log_free(lg);
		return -1;
	}
	return 0;
}

/* CLOCK_REALTIME - CLOCK_MONOTONIC at @mono, interpolated. Kept as the
 * offset: the absolute values do not fit a double to the ns. */
static double real_minus_mono(const struct card_log *lg, double mono)
{
	unsigned int i;

	for (i = 1; i < lg->nsync && lg->sync_mono[i] < mono; i++)
		;
	if (i >= lg->nsync)
		i = lg->nsync - 1;
	if (i == 0)
		return lg->sync_real[0] - lg->sync_mono[0];
	{
		double m0 = lg->sync_mono[i - 1], m1 = lg->sync_mono[i];
		double o0 = lg->sync_real[i - 1] - m0;
		double o1 = lg->sync_real[i] - m1;
		double a = m1 > m0 ? (mono - m0) / (m1 - m0) : 0;

		if (a < 0)
			a = 0;
		if (a > 1)
			a = 1;
		return o0 + a * (o1 - o0);
	}
}

/* PTP time (ns, as a long double) of file frame @x (fractional). */
static long double frame_ptp(const struct card_log *lg, double x)
{
	double rate_card = g_rate * (1.0 + lg->ppm / 1e6), mono;
	unsigned int r = 0;

	while (r + 1 < lg->nruns && lg->run_frame[r + 1] <= x)
		r++;
	mono =
	    lg->run_mono[r] + (x - (double)lg->run_frame[r]) * 1e9 / rate_card;
	return (long double)mono + real_minus_mono(lg, mono) + g_ptp_offset_ns;
}

struct events {
	long double *t; /* PTP ns */
	size_t n, cap;
	bool grid;
	uint64_t period; /* grid */
};

static void ev_add(struct events *e, long double t)
{
	if (e->n == e->cap) {
		e->cap = e->cap ? 2 * e->cap : 1024;
		e->t = realloc(e->t, e->cap * sizeof(*e->t));
	}
	e->t[e->n++] = t;
}

/* Peaks of |x| above half the largest, at least @gap apart, with a
 * parabola through the top three samples for the fraction. */
static void find_clicks(const float *x, size_t n, size_t gap,
			void (*emit)(void *ctx, double pos), void *ctx)
{
	float top = 0, thr;
	size_t i, last = 0;
	bool any = false;

	for (i = 0; i < n; i++)
		if (fabsf(x[i]) > top)
			top = fabsf(x[i]);
	thr = top / 2;
	if (top <= 0)
		return;
	for (i = 1; i + 1 < n; i++) {
		float a = fabsf(x[i - 1]), b = fabsf(x[i]), c = fabsf(x[i + 1]);
		double d;

		if (b < thr || b < a || b <= c)
			continue;
		if (any && i - last < gap)
			continue;
		d = a - 2 * b + c;
		emit(ctx, (double)i + (d != 0 ? 0.5 * (a - c) / d : 0));
		last = i;
		any = true;
	}
}

static float *read_raw(const char *path, unsigned int ch, unsigned int pick,
		       size_t *frames)
{
	FILE *f = fopen(path, "rb");
	int32_t *fr = calloc(ch, sizeof(int32_t));
	float *x = NULL;
	size_t n = 0, cap = 0;

	if (!f || !fr) {
		fprintf(stderr, "d4alsacheck: %s: %s\n", path, strerror(errno));
		free(fr);
		return NULL;
	}
	while (fread(fr, sizeof(int32_t), ch, f) == ch) {
		if (n == cap) {
			cap = cap ? 2 * cap : 1 << 20;
			x = realloc(x, cap * sizeof(float));
		}
		x[n++] = (float)fr[pick] / 2147483648.0f;
	}
	fclose(f);
	free(fr);
	*frames = n;
	return x;
}

struct play_ctx {
	struct card_log *lg;
	struct events *e;
};

static void emit_play(void *ctx, double pos)
{
	struct play_ctx *pc = ctx;

	ev_add(pc->e, frame_ptp(pc->lg, pos));
}

static void emit_wav(void *ctx, double pos)
{
	struct events *e = ((void **)ctx)[0];
	uint64_t x0 = *(uint64_t *)((void **)ctx)[1];

	ev_add(e, ((long double)x0 + pos) * 1e9L / g_rate);
}

static int load_events(const char *spec, struct events *e)
{
	char buf[4096], *f[5];
	int nf = 0;
	char *p;

	snprintf(buf, sizeof(buf), "%s", spec);
	for (p = strtok(buf, ":"); p && nf < 5; p = strtok(NULL, ":"))
		f[nf++] = p;
	if (nf == 2 && !strcmp(f[0], "grid")) {
		e->grid = true;
		e->period = strtoull(f[1], NULL, 10);
		return e->period ? 0 : -1;
	}
	if (nf == 4 && !strcmp(f[0], "play")) {
		struct card_log lg;
		struct play_ctx pc = {&lg, e};
		size_t n;
		float *x;

		if (read_log(f[2], &lg) < 0)
			return -1;
		x = read_raw(f[1], lg.channels, (unsigned int)atoi(f[3]) - 1,
			     &n);
		if (!x) {
			log_free(&lg);
			return -1;
		}
		find_clicks(x, n, (size_t)(g_rate / 50), emit_play, &pc);
		free(x);
		log_free(&lg);
		fprintf(stderr, "%s: %zu frames, %zu clicks, xruns %llu\n",
			f[1], n, e->n, (unsigned long long)lg.xruns);
		return lg.xruns ? -2 : 0;
	}
	if (nf == 3 && !strcmp(f[0], "cap")) {
		struct card_log lg;
		uint64_t per = strtoull(f[2], NULL, 10), j;

		if (read_log(f[1], &lg) < 0)
			return -1;
		for (j = (lg.run_frame[0] + per - 1) / per * per;
		     per && j < lg.end_frames; j += per)
			ev_add(e, frame_ptp(&lg, (double)j));
		log_free(&lg);
		if (!per)
			return -1;
		fprintf(stderr,
			"%s: %llu frames captured, %zu clicks in, "
			"xruns %llu\n",
			f[1], (unsigned long long)lg.end_frames, e->n,
			(unsigned long long)lg.xruns);
		return lg.xruns ? -2 : 0;
	}
	if (nf == 4 && !strcmp(f[0], "wav")) {
		SF_INFO info = {0};
		SNDFILE *sf = sf_open(f[1], SFM_READ, &info);
		uint64_t x0 = strtoull(f[2], NULL, 10);
		void *ctx[2] = {e, &x0};
		unsigned int pick = (unsigned int)atoi(f[3]) - 1;
		float *fr, *x;
		sf_count_t i;

		if (!sf) {
			fprintf(stderr, "d4alsacheck: %s: %s\n", f[1],
				sf_strerror(NULL));
			return -1;
		}
		fr = calloc((size_t)info.frames * info.channels, sizeof(float));
		x = calloc((size_t)info.frames, sizeof(float));
		sf_readf_float(sf, fr, info.frames);
		sf_close(sf);
		for (i = 0; i < info.frames; i++)
			x[i] = fr[i * info.channels + pick];
		find_clicks(x, (size_t)info.frames, (size_t)(g_rate / 50),
			    emit_wav, ctx);
		free(fr);
		free(x);
		fprintf(stderr, "%s: %lld frames, %zu clicks\n", f[1],
			(long long)info.frames, e->n);
		return 0;
	}
	fprintf(stderr, "d4alsacheck: cannot read '%s'\n", spec);
	return -1;
}

/* The IN click nearest to @t. */
static long double nearest(const struct events *in, long double t)
{
	long double best = 0, d, bd = INFINITY;
	size_t lo = 0, hi, mid;

	if (in->grid) {
		long double x = t * g_rate / 1e9L;
		long double k = roundl(x / in->period);

		return k * in->period * 1e9L / g_rate;
	}
	if (!in->n)
		return NAN;
	hi = in->n;
	while (hi - lo > 1) {
		mid = (lo + hi) / 2;
		if (in->t[mid] <= t)
			lo = mid;
		else
			hi = mid;
	}
	for (mid = lo ? lo - 1 : 0; mid < in->n && mid <= lo + 1; mid++) {
		d = fabsl(in->t[mid] - t);
		if (d < bd) {
			bd = d;
			best = in->t[mid];
		}
	}
	return best;
}

static int timing_report(const struct events *in_e,
			 const struct events *out_e, int rc,
			 double latency_ms, double settle_s, double max_err)
{
	const struct events in = *in_e, out = *out_e;
	double emin = INFINITY, emax = -INFINITY, sum = 0, worst = 0;
	size_t i, n = 0;
	long double t0;

	if (!out.n) {
		printf("no clicks came out\n");
		return 1;
	}
	t0 = out.t[0];
	for (i = 0; i < out.n; i++) {
		long double want = out.t[i] - latency_ms * 1e6L;
		double err;

		if (out.t[i] - t0 < settle_s * 1e9L)
			continue;
		err = (double)((want - nearest(&in, want)) * g_rate / 1e9L);
		if (getenv("D4_VERBOSE") && fabs(err) > max_err)
			fprintf(stderr, "click at PTP %.3Lf s (%.1Lf s in): "
					"%+.3f samples\n",
				out.t[i] / 1e9L, (out.t[i] - t0) / 1e9L, err);
		if (err < emin)
			emin = err;
		if (err > emax)
			emax = err;
		if (fabs(err) > fabs(worst))
			worst = err;
		sum += err;
		n++;
	}
	if (!n) {
		printf("no clicks after the settle time\n");
		return 1;
	}
	printf("clicks=%zu error_samples min=%+.3f max=%+.3f mean=%+.3f "
	       "worst=%+.3f over %.1f s\n",
	       n, emin, emax, sum / n, worst,
	       (double)((out.t[out.n - 1] - t0) / 1e9L) - settle_s);
	if (fabs(worst) > max_err)
		rc = 1;
	return rc;
}

static int cmd_timing(const char *in_s, const char *out_s, double latency_ms,
		      double settle_s, double max_err)
{
	struct events in = {0}, out = {0};
	int rc_in = load_events(in_s, &in), rc_out = load_events(out_s, &out);
	int rc = 0;

	if (rc_in == -1 || rc_out == -1) {
		rc = 2;
	} else {
		if (rc_in == -2 || rc_out == -2) {
			printf("xruns: the card ran dry or over\n");
			rc = 1;
		}
		rc = timing_report(&in, &out, rc, latency_ms, settle_s,
				   max_err);
	}
	free(in.t);
	free(out.t);
	return rc;
}

static void fft(double *re, double *im, size_t n)
{
	size_t i, j, k, len;

	for (i = 1, j = 0; i < n; i++) {
		size_t bit = n >> 1;

		for (; j & bit; bit >>= 1)
			j ^= bit;
		j ^= bit;
		if (i < j) {
			double t = re[i];

			re[i] = re[j];
			re[j] = t;
			t = im[i];
			im[i] = im[j];
			im[j] = t;
		}
	}
	for (len = 2; len <= n; len <<= 1) {
		double ang = -2 * M_PI / (double)len;

		for (i = 0; i < n; i += len)
			for (k = 0; k < len / 2; k++) {
				double wr = cos(ang * (double)k),
				       wi = sin(ang * (double)k);
				double ur = re[i + k], ui = im[i + k];
				double vr = re[i + k + len / 2] * wr -
					    im[i + k + len / 2] * wi;
				double vi = re[i + k + len / 2] * wi +
					    im[i + k + len / 2] * wr;

				re[i + k] = ur + vr;
				im[i + k] = ui + vi;
				re[i + k + len / 2] = ur - vr;
				im[i + k + len / 2] = ui - vi;
			}
	}
}

static int cmd_thdn(const char *spec, double settle_s, double freq,
		    double max_db)
{
	static const double bh7[7] = {0.27105140069342, 0.43329793923448,
				      0.21812299954311, 0.06592544638803,
				      0.01081174209837, 0.00077658482522,
				      0.00001388721735};
	char buf[4096], *f[4];
	int nf = 0;
	char *p;
	struct card_log lg;
	double *re = calloc(FFT_N, sizeof(double));
	double *im = calloc(FFT_N, sizeof(double));
	double worst = -INFINITY, sum = 0;
	size_t n, start, blocks = 0;
	float *x;

	snprintf(buf, sizeof(buf), "%s", spec);
	for (p = strtok(buf, ":"); p && nf < 4; p = strtok(NULL, ":"))
		f[nf++] = p;
	if (nf != 3 || read_log(f[1], &lg) < 0) {
		free(re);
		free(im);
		return 2;
	}
	x = read_raw(f[0], lg.channels, (unsigned int)atoi(f[2]) - 1, &n);
	log_free(&lg);
	if (!x) {
		free(re);
		free(im);
		return 2;
	}
	/* From @settle_s after the sine starts to 2 s before the card
	 * stopped (the node stopping is not the path's distortion). */
	for (start = 0; start < n && fabsf(x[start]) < 0.01f; start++)
		;
	for (start += (size_t)(settle_s * g_rate);
	     start + FFT_N + 2 * (size_t)g_rate <= n; start += (size_t)g_rate) {
		double fund = 0, rest = 0, db;
		size_t i;

		for (i = 0; i < FFT_N; i++) {
			double w = 0, a = 2 * M_PI * (double)i / FFT_N;
			int k;

			for (k = 0; k < 7; k++)
				w += (k & 1 ? -1 : 1) * bh7[k] * cos(k * a);
			re[i] = x[start + i] * w;
			im[i] = 0;
		}
		fft(re, im, FFT_N);
		for (i = 1; i < FFT_N / 2; i++) {
			double hz = (double)i * g_rate / FFT_N;
			double pw = re[i] * re[i] + im[i] * im[i];

			if (hz < 20 || hz > 20000)
				continue;
			if (fabs(hz - freq) <= 50)
				fund += pw;
			else
				rest += pw;
		}
		db = 10 * log10(rest / fund);
		if (getenv("D4_VERBOSE"))
			fprintf(stderr, "%.1f s: %.1f dB\n", start / g_rate,
				db);
		if (db > worst)
			worst = db;
		sum += db;
		blocks++;
	}
	free(x);
	free(re);
	free(im);
	if (!blocks) {
		printf("too short for THD+N\n");
		return 1;
	}
	printf("thdn_db worst=%.1f mean=%.1f over %zu s, xruns %llu\n", worst,
	       sum / blocks, blocks, (unsigned long long)lg.xruns);
	return worst <= max_db && !lg.xruns ? 0 : 1;
}

int main(int argc, char *argv[])
{
	double latency_ms = 0, settle_s = 10, max_err = 2, freq = 1000,
	       max_db = -90;
	const char *pos[3];
	int npos = 0, i;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strncmp(a, "--", 2) && i + 1 < argc) {
			double v = atof(argv[++i]);

			if (!strcmp(a, "--latency-ms"))
				latency_ms = v;
			else if (!strcmp(a, "--settle-s"))
				settle_s = v;
			else if (!strcmp(a, "--max"))
				max_err = max_db = v;
			else if (!strcmp(a, "--freq"))
				freq = v;
			else if (!strcmp(a, "--rate"))
				g_rate = v;
			else if (!strcmp(a, "--ptp-offset-s"))
				g_ptp_offset_ns = v * 1e9;
			else {
				fprintf(stderr, "d4alsacheck: unknown %s\n", a);
				return 2;
			}
		} else if (npos < 3) {
			pos[npos++] = a;
		} else {
			return 2;
		}
	}
	if (npos == 3 && !strcmp(pos[0], "timing"))
		return cmd_timing(pos[1], pos[2], latency_ms, settle_s,
				  max_err);
	if (npos == 2 && !strcmp(pos[0], "thdn"))
		return cmd_thdn(pos[1], settle_s, freq, max_db);
	fprintf(stderr, "usage: d4alsacheck timing IN OUT --latency-ms L "
			"[--settle-s S] [--max N]\n"
			"       d4alsacheck thdn RAW:LOG:CH [--settle-s S] "
			"[--max DB]\n");
	return 2;
}
