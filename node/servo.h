/* The servo that locks a sound card to the PTP media clock. It is pure
 * arithmetic on (time, error) samples, so it is tested with simulated
 * clocks: the ALSA threads measure how far the card's audio is from where
 * PTP time says it belongs and get back the card's rate as a ratio, which
 * steers their resampler (docs/architecture.md "Sound cards"). */
#ifndef D4_NODE_SERVO_H
#define D4_NODE_SERVO_H

#include <stdbool.h>
#include <stdint.h>

enum servo_state {
	SERVO_UNLOCKED,	 /* waiting for the first measurement window */
	SERVO_MEASURING, /* estimating the card's frequency from two windows */
	SERVO_LOCKING,	 /* PI with wide bandwidth */
	SERVO_LOCKED,	 /* PI with narrow bandwidth: error stayed small */
};

struct servo_config {
	uint32_t rate;	     /* nominal sample rate */
	uint64_t window_ns;  /* errors are averaged over this long */
	uint64_t measure_ns; /* frequency estimate: two windows this apart */
	double fast_hz;	     /* loop bandwidth while locking */
	double slow_hz;	     /* loop bandwidth once locked, reached by */
	uint64_t narrow_ns;  /* halving the bandwidth every this long */
	double lock_samples; /* |error| below this for lock_ns: locked */
	uint64_t lock_ns;
	double unlock_samples;	/* |error| above this: back to locking */
	double step_samples;	/* |error| above this: realign (SERVO_STEP) */
	double outlier_samples; /* a reading this far from the last window
				 * is left out of its window (once locking) */
	double max_ppm;		/* the card's ratio stays within 1 +- this */
};

/* Defaults for @rate: 100 ms windows, 1 s frequency estimate, 0.2 Hz
 * while locking, locked at |error| < 0.5 sample for 2 s, then halving
 * every 3 s down to 0.02 Hz, unlock at 8 samples, realign at 48 samples
 * (1 ms), outliers 8 samples off the last window, +-1000 ppm. */
void servo_config_default(struct servo_config *cfg, uint32_t rate);

struct servo {
	struct servo_config cfg;
	enum servo_state state;
	double ratio;	 /* card frames per PTP sample, the output */
	double integral; /* the PI loop's frequency term */
	double bw_hz;	 /* the loop's bandwidth now */
	/* the current averaging window */
	uint64_t win_start;
	double win_sum;
	unsigned int win_n;
	double out_sum; /* the window's outliers */
	unsigned int out_n;
	/* the frequency estimate's first window */
	uint64_t meas_t;
	double meas_err;
	uint64_t good_since; /* LOCKING: |error| small since then */
	double last_err;     /* the last window's mean error */
	uint64_t steps;	     /* realignments asked for */
	uint64_t outliers;   /* readings left out */
	uint64_t unlocks;    /* locked -> locking: the error left 8 samples */
	double locked_err_max; /* largest |window error| while locked */
};

enum servo_result {
	SERVO_HOLD,   /* no new window: keep the ratio */
	SERVO_UPDATE, /* a window closed: the ratio changed */
	SERVO_STEP,   /* the error is too large: realign, then go on */
};

/* Start over (a new stream, or after a realignment); the frequency
 * estimate is kept when @keep_ratio. */
void servo_init(struct servo *s, const struct servo_config *cfg);
void servo_restart(struct servo *s, bool keep_ratio);

/* One measurement at time @t_ns (any monotonic ns): @err_samples > 0 means
 * the card is ahead of PTP and must run its ratio up. The ratio to use is
 * s->ratio afterwards. RT: no alloc, no block. */
enum servo_result servo_sample(struct servo *s, uint64_t t_ns,
			       double err_samples);

static inline double servo_ppm(const struct servo *s)
{
	return (s->ratio - 1.0) * 1e6;
}

/* The card's frequency as measured (the loop's integral), not the ratio
 * in use, which adds the proportional term's push on the error (a card
 * at 0 ppm read "ppm=1.669" with 0.45 sample of error left). */
static inline double servo_card_ppm(const struct servo *s)
{
	return (s->integral - 1.0) * 1e6;
}

const char *servo_state_name(enum servo_state st);

#endif
