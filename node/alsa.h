/* Sound cards: ALSA capture (a source's channels) and playback (a sink fed
 * by a subscription), each in its own thread, each through an adaptive
 * resampler steered by a servo (node/servo.h) that keeps the card's audio
 * on PTP time. The media thread only touches lock-free rings: it reads
 * captured frames by position and feeds playback frames by position. */
#ifndef D4_NODE_ALSA_H
#define D4_NODE_ALSA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ALSA_MAX_CHANNELS 64

enum alsa_format {
	ALSA_FMT_S32, /* the default */
	ALSA_FMT_S16,
	ALSA_FMT_S24,	/* S24_LE: 24 bits in 32 */
	ALSA_FMT_S24_3, /* S24_3LE: packed */
};

/* A device and how a node's channels sit on it. All zeros is the
 * default: "default", S32, 5 ms periods, 4 of them. */
struct alsa_config {
	char device[128];	   /* "hw:0", "plughw:1,0", ""= "default" */
	unsigned int dev_channels; /* channels opened; 0: from the map */
	unsigned int nmap;	   /* 0: card channels 1..n in order */
	uint8_t map[ALSA_MAX_CHANNELS]; /* 0-based card channel per node ch */
	uint32_t period_frames;		/* 0: rate / 200 (5 ms) */
	uint32_t buffer_frames;		/* 0: 4 periods */
	enum alsa_format format;
};

/* Config keys shared by [source] and [sink] of type alsa: device, map,
 * device_channels, period, buffer, sample_format (a sink's format is its
 * file's). Returns 1 when @key was taken,
 * 0 when it is not an ALSA key, -EINVAL (with *@expected naming what the
 * value should be) when the value is bad. */
int alsa_config_key(struct alsa_config *a, const char *key, const char *v,
		    const char **expected);

struct mclock;

/* ---- capture: a source -------------------------------------------- */

struct alsa_cap;

/* Open and configure the device (not started). @nch node channels. NULL
 * with a message in @err. */
struct alsa_cap *alsa_cap_open(const char *name, const struct alsa_config *a,
			       unsigned int nch, uint32_t rate, char *err,
			       size_t err_len);
/* Start capturing on the media clock (the thread runs from here). */
int alsa_cap_start(struct alsa_cap *c, struct mclock *mc, int rt_prio);
void alsa_cap_destroy(struct alsa_cap *c);

/* How long after a sample's PTP time it can be read (frames): flows send
 * that much later than a synthetic source. */
uint32_t alsa_cap_lag_frames(const struct alsa_cap *c);

/* Media side: frames for positions [x, x + n), @nch wide; positions not
 * captured (yet, or any more) are zeros. RT: no alloc, no block. */
void alsa_cap_read(struct alsa_cap *c, uint64_t x, unsigned int n,
		   int32_t *out);

/* Media side: have positions up to @end come, or is waiting for them
 * pointless (the thread is not running, or it is @late_ns behind and
 * waiting longer would hold the flow too long)? RT: no alloc, no block. */
bool alsa_cap_ready(struct alsa_cap *c, uint64_t end, uint64_t late_ns);

/* ---- playback: a sink --------------------------------------------- */

struct alsa_play;

/* Open and configure the device for @nch channels picked from a stream of
 * @stream_ch channels by @chans, played @latency_frames after their
 * position. NULL with a message in @err. */
struct alsa_play *alsa_play_open(const char *name, const struct alsa_config *a,
				 unsigned int nch, const uint8_t *chans,
				 uint32_t rate, uint32_t latency_frames,
				 char *err, size_t err_len);
int alsa_play_start(struct alsa_play *p, struct mclock *mc, int rt_prio);
/* The subscription's latency changed: play each position that much after
 * its PTP time from now on. 0, or -EINVAL when the card's lead does not
 * fit in it. Control thread; the card's thread realigns. */
int alsa_play_set_latency(struct alsa_play *p, uint32_t latency_frames);
void alsa_play_destroy(struct alsa_play *p);

/* How far ahead of its playout time (frames) the card needs a position. */
uint32_t alsa_play_lead_frames(const struct alsa_play *p);

/* Media side (a subscription's output): frames for positions
 * [x, x + n), @stream_ch wide. RT: no alloc, no block. */
void alsa_play_feed(void *ctx, uint64_t x, const int32_t *frames,
		    unsigned int stream_ch, unsigned int n,
		    uint64_t first_data_x);

/* ---- both --------------------------------------------------------- */

struct alsa_stats {
	const char *name;
	bool capture;
	uint64_t xruns;
	uint64_t missing;     /* positions with no audio (underrun) */
	uint64_t overflows;   /* frames the ring had no room for */
	uint64_t steps;	      /* realignments */
	uint64_t wait_max_us; /* longest wait for the other side's thread */
	uint64_t outliers;    /* clock readings the servo left out */
	uint64_t unlocks;     /* times the servo's error left 8 samples */
	double locked_err_max; /* its largest window error while locked */
	double ppm;	      /* the card against PTP, as the servo sees it */
	double err_samples;   /* the servo's last window */
	const char *state;
};

void alsa_cap_stats(const struct alsa_cap *c, struct alsa_stats *st);
void alsa_play_stats(const struct alsa_play *p, struct alsa_stats *st);
/* Main thread, once a tick: log the servo's state changes and xruns that
 * the card's thread only counted (it never writes a log line). */
void alsa_cap_report(struct alsa_cap *c);
void alsa_play_report(struct alsa_play *p);
/* The end-of-run line "final: alsa NAME xruns=... servo=...". */
void alsa_log_stats(const struct alsa_stats *st);

#endif
