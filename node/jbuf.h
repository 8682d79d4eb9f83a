/* Jitter buffer indexed by RTP timestamp. Frames land at their timestamp's
 * slot whatever order packets arrive in; the reader takes frames in timestamp
 * order from a read position it owns, and gets zeros for frames that never
 * came. All calls but new/destroy are RT-safe. */
#ifndef D4_NODE_JBUF_H
#define D4_NODE_JBUF_H

#include <stdbool.h>
#include <stdint.h>

enum jbuf_put_result {
	JBUF_OK,
	JBUF_LATE,	  /* every frame is behind the read position */
	JBUF_PARTLY_LATE, /* the head was behind; the rest was stored */
	JBUF_EARLY,	  /* beyond the buffer's reach ahead of the reader */
	JBUF_DUPLICATE,	  /* every frame was already there */
};

struct jbuf;

/* A buffer for @channels channels holding at least @min_frames frames. */
struct jbuf *jbuf_new(unsigned int channels, uint32_t min_frames);
void jbuf_destroy(struct jbuf *jb);

/* Forget every stored frame and read next from timestamp @read_ts. */
void jbuf_reset(struct jbuf *jb, uint32_t read_ts);

/* Read next from @read_ts, keeping what is stored in the window from
 * there (frames skipped over are dropped). */
void jbuf_seek(struct jbuf *jb, uint32_t read_ts);

/* Store @frames interleaved frames stamped @ts (first frame). */
enum jbuf_put_result jbuf_put(struct jbuf *jb, uint32_t ts, const int32_t *in,
			      unsigned int frames);

/* Take the next @frames frames into @out (zeros where missing) and advance
 * the read position; returns how many frames were missing. */
unsigned int jbuf_get(struct jbuf *jb, int32_t *out, unsigned int frames);

/* Whether a packet of @frames frames stamped @ts would store a frame:
 * some are ahead of the reader, within reach, and not there yet. */
bool jbuf_would_store(const struct jbuf *jb, uint32_t ts, unsigned int frames);
uint32_t jbuf_read_ts(const struct jbuf *jb);
uint32_t jbuf_capacity(const struct jbuf *jb);

#endif
