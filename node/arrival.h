/* Playing a stream that is not on this node's clock (timing = arrival: a
 * sender without PTP, a PTP sender on another grandmaster): its frames
 * sit in the jitter buffer by their own timestamps, and this module reads
 * them out at the sender's rate. A servo (node/servo.h) on the buffer's
 * fill — measured at every packet's arrival as how far the packet's last
 * frame is ahead of where playout will be one latency later — estimates
 * the sender's rate against the media clock, as PipeWire's DLL does, and
 * libsamplerate converts at that ratio. While the two rates agree within
 * ARRIVAL_CONVERT_PPM (a sender on the same clock), frames are copied as
 * they are, so such streams stay bit-exact; a step of the path's delay is
 * not taken for drift, and a converted sender that comes onto our clock
 * (it locked to our grandmaster) is copied again. The media thread only,
 * but for new/destroy. */
#ifndef D4_NODE_ARRIVAL_H
#define D4_NODE_ARRIVAL_H

#include <stdbool.h>
#include <stdint.h>

struct arrival;
struct jbuf;

/* Rates further apart than this are converted. */
#define ARRIVAL_CONVERT_PPM 20.0

/* For @channels channels at @rate, reading @jb, playing one latency of
 * @latency_frames after arrival. Without @may_convert (a subscription
 * that is never timed by arrival) it has no sample-rate converter (for
 * 8 channels, 475 KB less) and only copies. NULL when out of memory. */
struct arrival *arrival_new(unsigned int channels, uint32_t rate,
			    uint32_t latency_frames, struct jbuf *jb,
			    bool may_convert);
/* Whether it has a converter (arrival_new's @may_convert). */
bool arrival_may_convert(const struct arrival *a);
void arrival_destroy(struct arrival *a);

/* Start over: stream position @ts has nominal time @x, the next to play
 * (the caller reset the jitter buffer to read there). RT. */
void arrival_reset(struct arrival *a, uint64_t x, uint32_t ts);
/* A packet whose first frame is stream position @ts arrived at local
 * position @x_arr (media clock samples). RT. */
void arrival_note(struct arrival *a, uint64_t x_arr, uint32_t ts);
/* The stream position whose nominal time is local position @x (it plays
 * one latency later), rounded. RT. */
uint32_t arrival_position(const struct arrival *a, uint64_t x);
/* @n frames for local positions [@x, @x + n) into @out; returns how
 * many stream frames were missing. RT. */
unsigned int arrival_read(struct arrival *a, uint64_t x, int32_t *out,
			  unsigned int n);

/* The sender's rate against the media clock, in ppm (+: faster), and
 * whether frames are being converted. Any thread (racy doubles are fine
 * for a status line). */
double arrival_ppm(const struct arrival *a);
bool arrival_converting(const struct arrival *a);
/* Realignments: the fill was too far off to slew (a glitch each). */
uint64_t arrival_steps(const struct arrival *a);

#endif
