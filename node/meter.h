/* Audio meters: peak and RMS of each channel of a flow (the samples it
 * sends) or a subscription (the samples it plays out), over windows of
 * 50 ms of samples, for the control API (GET /meters). The media thread
 * accumulates; at each window's end it publishes the window to the
 * control thread under a sequence counter, never a lock. */
#ifndef D4_NODE_METER_H
#define D4_NODE_METER_H

#include <jansson.h>
#include <stdint.h>

#define METER_WINDOW_MS	   50
#define METER_MAX_CHANNELS 64
/* 0 dBFS: the magnitude of the most negative 24-bit sample. */
#define METER_FULL_SCALE 8388608.0

struct meter;

struct meter_level {
	double peak_dbfs; /* -INFINITY for digital silence */
	double rms_dbfs;  /* -INFINITY for digital silence */
};

struct meter_snapshot {
	uint64_t updates; /* windows published so far */
	unsigned int nch;
	/* the last window published; -INFINITY before the first */
	struct meter_level ch[METER_MAX_CHANNELS];
};

/* A meter bank of @nch channels at @rate Hz; NULL for 0 or more than
 * METER_MAX_CHANNELS channels, a rate under 20 Hz, or no memory. */
struct meter *meter_new(unsigned int nch, uint32_t rate);
void meter_destroy(struct meter *m);

unsigned int meter_channels(const struct meter *m);
/* Frames in one window: rate * 50 ms (2400 at 48 kHz). */
uint32_t meter_window_frames(const struct meter *m);

/* Media side: @n interleaved frames, meter_channels() wide, of int32
 * samples holding 24-bit audio left-justified (as rtp_unpack, sources and
 * ALSA capture make them). Publishes each window as it completes.
 * RT: no alloc, no lock, no syscall; vectorised sums (meter.c). */
void meter_feed(struct meter *m, const int32_t *frames, unsigned int n);

/* Control side: the last published window, consistent across channels. */
void meter_read(const struct meter *m, struct meter_snapshot *out);

/* {"name": @name, "updates": N, "channels": [{"channel": 1,
 * "peak_dbfs": -6.02, "rms_dbfs": -9.03}, ...]}, levels rounded to
 * 0.01 dB, null for silence. NULL on no memory. */
json_t *meter_json(const struct meter *m, const char *name);

#endif
