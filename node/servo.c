/* A PI servo on the error between a sound card's audio and PTP time, in
 * samples. The plant is an integrator: with the card at ratio r_true and
 * the resampler set to r, the error moves by rate * (r_true - r) samples
 * per second. The loop r = I + kp * e, I += ki * e * dt then has the
 * characteristic s^2 + rate*kp*s + rate*ki, so for a bandwidth w (rad/s)
 * and damping 0.7: kp = 1.4 w / rate, ki = w^2 / rate.
 *
 * Errors are averaged over a window (100 ms) before the loop sees them:
 * the card's position is read once per period, with a sample of
 * quantisation and the thread's wake-up jitter on every reading. Before
 * the loop closes, two windows a second apart give the card's frequency
 * outright (as linuxptp's pi servo does), so the integrator starts where
 * it will end and the error never builds up. */
#include "node/servo.h"

#include <math.h>
#include <string.h>

#define DAMPING 0.7
/* A reading's magnitude is capped here (a day of samples at 192 kHz is
 * 1.7e10): 1e300 made locked_err_max overflow the int64 it is
 * published in. */
#define SERVO_ERR_MAX 1e12

void servo_config_default(struct servo_config *cfg, uint32_t rate)
{
	*cfg = (struct servo_config){
	    .rate = rate,
	    .window_ns = 100 * 1000 * 1000ull,
	    .measure_ns = 1000 * 1000 * 1000ull,
	    .fast_hz = 0.2,
	    .slow_hz = 0.02,
	    .narrow_ns = 3000 * 1000 * 1000ull,
	    .lock_samples = 0.5,
	    .lock_ns = 2000 * 1000 * 1000ull,
	    .unlock_samples = 8,
	    .step_samples = 48,
	    .outlier_samples = 8,
	    .max_ppm = 1000,
	};
}

void servo_init(struct servo *s, const struct servo_config *cfg)
{
	memset(s, 0, sizeof(*s));
	s->cfg = *cfg;
	s->ratio = 1.0;
	s->integral = 1.0;
	s->bw_hz = cfg->fast_hz;
}

void servo_restart(struct servo *s, bool keep_ratio)
{
	if (!keep_ratio) {
		s->ratio = 1.0;
		s->integral = 1.0;
	}
	s->ratio = s->integral;
	s->state = keep_ratio && s->state >= SERVO_LOCKING ? SERVO_LOCKING
							   : SERVO_UNLOCKED;
	s->win_n = 0;
	s->win_sum = 0;
	s->out_n = 0;
	s->out_sum = 0;
	s->good_since = 0; /* not yet: the next window's time */
	s->bw_hz = s->cfg.fast_hz; /* narrowed again after the next lock */
	s->last_err = 0; /* realigned: no error to compare readings with */
}

static double clamp_ratio(const struct servo *s, double r)
{
	double lim = s->cfg.max_ppm / 1e6;

	if (r > 1.0 + lim)
		return 1.0 + lim;
	if (r < 1.0 - lim)
		return 1.0 - lim;
	return r;
}

/* One closed window: mean error @e over @dt seconds ending at @t. */
static enum servo_result servo_window(struct servo *s, uint64_t t, double e,
				      double dt)
{
	double w, kp, ki;

	s->last_err = e;
	if (fabs(e) > s->cfg.step_samples) {
		s->steps++;
		if (s->state == SERVO_LOCKED) {
			/* the final line counts it, the largest excursion */
			s->unlocks++;
			if (fabs(e) > s->locked_err_max)
				s->locked_err_max = fabs(e);
		}
		/* A card far off (900 ppm and more) runs past the step while
		 * it is being measured: the slope so far is its frequency,
		 * not a reason to measure again (it did for ever, realigning
		 * every 1.2 s: an attacker's card at 900 ppm never locked).
		 * Only a slope a card can have, over a quarter of the
		 * measurement at least (a card 1000 ppm off at 96 kHz passes
		 * 48 samples in half of it): a real jump (a sender's
		 * timestamps, a stall) reads as thousands of ppm and is
		 * measured again, as before (taken, it sent the ratio to the
		 * clamp: 18.8 samples of swing). */
		if (s->state == SERVO_MEASURING &&
		    (int64_t)(t - s->meas_t) >=
			(int64_t)(s->cfg.measure_ns / 4)) {
			double f = s->ratio +
				   (e - s->meas_err) /
				       ((double)(t - s->meas_t) / 1e9) /
				       s->cfg.rate;

			if (fabs(f - 1.0) <= s->cfg.max_ppm / 1e6) {
				s->integral = f;
				s->state = SERVO_LOCKING;
			}
		}
		servo_restart(s, true);
		return SERVO_STEP;
	}
	switch (s->state) {
	case SERVO_UNLOCKED:
		s->meas_t = t;
		s->meas_err = e;
		s->state = SERVO_MEASURING;
		return SERVO_HOLD;
	case SERVO_MEASURING:
		if ((int64_t)(t - s->meas_t) < 0) {
			/* time went back: measure from here */
			s->meas_t = t;
			s->meas_err = e;
			return SERVO_HOLD;
		}
		if (t - s->meas_t < s->cfg.measure_ns)
			return SERVO_HOLD;
		/* The error's slope is the frequency we are off by. */
		s->integral = clamp_ratio(
		    s, s->ratio + (e - s->meas_err) /
				      ((double)(t - s->meas_t) / 1e9) /
				      s->cfg.rate);
		s->state = SERVO_LOCKING;
		s->good_since = t;
		/* The error built up while measuring is a phase offset, not
		 * a frequency: only the proportional term works it off. */
		s->ratio = clamp_ratio(
		    s, s->integral + 2.0 * DAMPING * 2.0 * M_PI *
					 s->cfg.fast_hz / s->cfg.rate * e);
		return SERVO_UPDATE;
	case SERVO_LOCKING:
		/* good_since 0: just restarted (it locked at once after a
		 * step, t being absolute); before it: time went back */
		if (fabs(e) >= s->cfg.lock_samples || !s->good_since ||
		    (int64_t)(t - s->good_since) < 0)
			s->good_since = t;
		else if (t - s->good_since >= s->cfg.lock_ns)
			s->state = SERVO_LOCKED;
		break;
	case SERVO_LOCKED:
		if (fabs(e) > s->locked_err_max)
			s->locked_err_max = fabs(e);
		if (fabs(e) > s->cfg.unlock_samples) {
			s->state = SERVO_LOCKING;
			s->good_since = t;
			s->unlocks++;
		}
		break;
	}
	/* Locked, the bandwidth narrows by half every narrow_ns down to
	 * slow_hz, never at once: at the lock the integrator is still a few
	 * ppm off what the wide loop's proportional term made up for, and
	 * a tenth of that term at once left the error to build up (to 2.7
	 * samples for 10 ppm) faster than the narrow loop works it off. */
	if (s->state == SERVO_LOCKED) {
		s->bw_hz *= exp2(-dt * 1e9 / (double)s->cfg.narrow_ns);
		if (s->bw_hz < s->cfg.slow_hz)
			s->bw_hz = s->cfg.slow_hz;
	} else
		s->bw_hz = s->cfg.fast_hz;
	w = 2.0 * M_PI * s->bw_hz;
	kp = 2.0 * DAMPING * w / s->cfg.rate;
	ki = w * w / s->cfg.rate;
	s->integral = clamp_ratio(s, s->integral + ki * e * dt);
	s->ratio = clamp_ratio(s, s->integral + kp * e);
	return SERVO_UPDATE;
}

enum servo_result servo_sample(struct servo *s, uint64_t t_ns,
			       double err_samples)
{
	double dt, e;

	/* A reading that is no number, or from before the window opened
	 * (a driver's time stamp a little old): left out. Taken, one NaN
	 * made the ratio NaN for good, and time going back wrapped dt to
	 * 584 years: the ratio went to the clamp. */
	if (!isfinite(err_samples) ||
	    ((s->win_n || s->out_n) && (int64_t)(t_ns - s->win_start) < 0)) {
		s->outliers++;
		return SERVO_HOLD;
	}
	/* far past any step, and bounded: the counters stay numbers */
	if (err_samples > SERVO_ERR_MAX)
		err_samples = SERVO_ERR_MAX;
	if (err_samples < -SERVO_ERR_MAX)
		err_samples = -SERVO_ERR_MAX;
	if (!s->win_n && !s->out_n)
		s->win_start = t_ns;
	/* One wild reading (a clock read that went wrong) must not kick
	 * the loop: once locking, a reading far off the last window sits
	 * apart, and counts only if the whole window is like it (then the
	 * error really moved). */
	if (s->state >= SERVO_LOCKING &&
	    fabs(err_samples - s->last_err) > s->cfg.outlier_samples) {
		s->out_sum += err_samples;
		s->out_n++;
		s->outliers++;
	} else {
		s->win_sum += err_samples;
		s->win_n++;
	}
	if (t_ns - s->win_start < s->cfg.window_ns)
		return SERVO_HOLD;
	dt = (double)(t_ns - s->win_start) / 1e9;
	e = s->win_n ? s->win_sum / s->win_n : s->out_sum / s->out_n;
	s->win_n = s->out_n = 0;
	s->win_sum = s->out_sum = 0;
	return servo_window(s, t_ns, e, dt > 0 ? dt : 1e-3);
}

const char *servo_state_name(enum servo_state st)
{
	switch (st) {
	case SERVO_UNLOCKED:
		return "unlocked";
	case SERVO_MEASURING:
		return "measuring";
	case SERVO_LOCKING:
		return "locking";
	case SERVO_LOCKED:
		return "locked";
	}
	return "?";
}
