/* A ring of frames with a presence byte per frame. The read position's
 * frame is at slot read_slot, a frame @d ahead of it at read_slot + d
 * (modulo the capacity): a slot holds the frame that lies within
 * [read_ts, read_ts + capacity) and maps to it; anything else is late or
 * early and never stored, so a stale frame cannot be read as a new one.
 * The capacity is what the caller asked for, rounded up to 64 frames,
 * not to a power of two: 8 192 frames of 8 channels instead of 5 616 were
 * 82 KB a subscription of nothing (bench/scale.sh). */
#include "node/jbuf.h"
#include "common/mem.h"
#include "node/rtp.h"

#include <stdlib.h>
#include <string.h>

struct jbuf {
	unsigned int channels;
	uint32_t cap; /* frames, a multiple of 64 */
	uint32_t read_ts;
	uint32_t read_slot; /* read_ts's slot, below cap */
	int32_t *frames;
	uint8_t *present;
};

struct jbuf *jbuf_new(unsigned int channels, uint32_t min_frames)
{
	struct jbuf *jb;
	uint32_t cap;

	if (channels == 0 || min_frames == 0 || min_frames > (1u << 24))
		return NULL;
	cap = (min_frames + 63) & ~63u;
	jb = mem_calloc_held(1, sizeof(*jb));
	if (!jb)
		return NULL;
	jb->channels = channels;
	jb->cap = cap;
	jb->frames = mem_calloc_held((size_t)cap * channels, sizeof(int32_t));
	jb->present = mem_calloc_held(cap, 1);
	if (!jb->frames || !jb->present) {
		jbuf_destroy(jb);
		return NULL;
	}
	return jb;
}

void jbuf_destroy(struct jbuf *jb)
{
	if (!jb)
		return;
	free(jb->frames);
	free(jb->present);
	free(jb);
}

/* The slot of the frame @off (below cap) ahead of the read position. */
static inline uint32_t slot_at(const struct jbuf *jb, uint32_t off)
{
	uint32_t slot = jb->read_slot + off;

	return slot >= jb->cap ? slot - jb->cap : slot;
}

void jbuf_reset(struct jbuf *jb, uint32_t read_ts)
{
	memset(jb->present, 0, jb->cap);
	jb->read_ts = read_ts;
	jb->read_slot = 0;
}

void jbuf_seek(struct jbuf *jb, uint32_t read_ts)
{
	int32_t d = rtp_ts_diff(read_ts, jb->read_ts);
	uint32_t i;

	if (d >= (int32_t)jb->cap || d <= -(int32_t)jb->cap) {
		jbuf_reset(jb, read_ts);
		return;
	}
	/* forward: the frames passed over leave; backward: the slots the
	 * window takes back may hold frames a capacity later */
	if (d < 0)
		jb->read_slot = slot_at(jb, (uint32_t)(d + (int32_t)jb->cap));
	for (i = 0; i < (uint32_t)(d > 0 ? d : -d); i++)
		jb->present[slot_at(jb, i)] = 0;
	if (d > 0)
		jb->read_slot = slot_at(jb, (uint32_t)d);
	jb->read_ts = read_ts;
}

enum jbuf_put_result jbuf_put(struct jbuf *jb, uint32_t ts, const int32_t *in,
			      unsigned int frames)
{
	int32_t d = rtp_ts_diff(ts, jb->read_ts);
	unsigned int i, first = 0, stored = 0;
	size_t fsz = jb->channels * sizeof(int32_t);

	if (d + (int64_t)frames <= 0)
		return JBUF_LATE;
	if ((int64_t)d + frames > jb->cap)
		return JBUF_EARLY;
	if (d < 0)
		first = (unsigned int)-d;
	for (i = first; i < frames; i++) {
		uint32_t slot = slot_at(jb, (uint32_t)(d + (int32_t)i));

		if (jb->present[slot])
			continue;
		memcpy(jb->frames + (size_t)slot * jb->channels,
		       in + (size_t)i * jb->channels, fsz);
		jb->present[slot] = 1;
		stored++;
	}
	if (first)
		return JBUF_PARTLY_LATE;
	return stored ? JBUF_OK : JBUF_DUPLICATE;
}

bool jbuf_would_store(const struct jbuf *jb, uint32_t ts, unsigned int frames)
{
	int32_t d = rtp_ts_diff(ts, jb->read_ts);
	unsigned int i;

	if (d + (int64_t)frames <= 0 || (int64_t)d + frames > jb->cap)
		return false;
	for (i = d < 0 ? (unsigned int)-d : 0; i < frames; i++)
		if (!jb->present[slot_at(jb, (uint32_t)(d + (int32_t)i))])
			return true;
	return false;
}

unsigned int jbuf_get(struct jbuf *jb, int32_t *out, unsigned int frames)
{
	unsigned int i, missing = 0;
	size_t fsz = jb->channels * sizeof(int32_t);

	for (i = 0; i < frames; i++) {
		uint32_t slot = jb->read_slot;
		int32_t *dst = out + (size_t)i * jb->channels;

		if (jb->present[slot]) {
			memcpy(dst, jb->frames + (size_t)slot * jb->channels,
			       fsz);
			jb->present[slot] = 0;
		} else {
			memset(dst, 0, fsz);
			missing++;
		}
		if (++jb->read_slot == jb->cap)
			jb->read_slot = 0;
	}
	jb->read_ts += frames;
	return missing;
}

uint32_t jbuf_read_ts(const struct jbuf *jb)
{
	return jb->read_ts;
}

uint32_t jbuf_capacity(const struct jbuf *jb)
{
	return jb->cap;
}
