/* SPSC ring: head is written only by the producer, tail only by the consumer;
 * acquire/release ordering publishes element bytes before the index moves. */
#include "common/ring.h"
#include "common/mem.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

struct ring {
	_Atomic uint32_t head; /* next element the producer writes */
	char pad0[60];
	_Atomic uint32_t tail; /* next element the consumer reads */
	char pad1[60];
	uint32_t cap; /* power of two */
	size_t elem_size;
	uint8_t *buf;
};

struct ring *ring_new(size_t elem_size, uint32_t min_elems)
{
	struct ring *r;
	uint32_t cap = 1;

	if (elem_size == 0 || min_elems == 0 || min_elems > (1u << 30))
		return NULL;
	while (cap < min_elems)
		cap <<= 1;
	r = mem_calloc_held(1, sizeof(*r));
	if (!r)
		return NULL;
	r->buf = mem_calloc_held(cap, elem_size);
	if (!r->buf) {
		free(r);
		return NULL;
	}
	r->cap = cap;
	r->elem_size = elem_size;
	return r;
}

void ring_destroy(struct ring *r)
{
	if (!r)
		return;
	free(r->buf);
	free(r);
}

uint32_t ring_capacity(const struct ring *r)
{
	return r->cap;
}

uint32_t ring_writable(const struct ring *r)
{
	uint32_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
	uint32_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);

	return r->cap - (head - tail);
}

uint32_t ring_readable(const struct ring *r)
{
	uint32_t head = atomic_load_explicit(&r->head, memory_order_acquire);
	uint32_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);

	return head - tail;
}

/* Copy @n elements between the ring at index @idx and flat memory, in at
 * most two pieces around the end of the buffer. */
static void ring_copy(const struct ring *r, uint32_t idx, void *flat,
		      uint32_t n, int to_ring)
{
	uint32_t off = idx & (r->cap - 1);
	uint32_t first = r->cap - off < n ? r->cap - off : n;
	uint8_t *p = flat;

	if (to_ring) {
		memcpy(r->buf + off * r->elem_size, p, first * r->elem_size);
		memcpy(r->buf, p + first * r->elem_size,
		       (n - first) * r->elem_size);
	} else {
		memcpy(p, r->buf + off * r->elem_size, first * r->elem_size);
		memcpy(p + first * r->elem_size, r->buf,
		       (n - first) * r->elem_size);
	}
}

uint32_t ring_write(struct ring *r, const void *src, uint32_t n)
{
	uint32_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
	uint32_t space = ring_writable(r);

	if (n > space)
		n = space;
	if (n == 0)
		return 0;
	ring_copy(r, head, (void *)src, n, 1);
	atomic_store_explicit(&r->head, head + n, memory_order_release);
	return n;
}

uint32_t ring_read(struct ring *r, void *dst, uint32_t n)
{
	uint32_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
	uint32_t avail = ring_readable(r);

	if (n > avail)
		n = avail;
	if (n == 0)
		return 0;
	ring_copy(r, tail, dst, n, 0);
	atomic_store_explicit(&r->tail, tail + n, memory_order_release);
	return n;
}

uint32_t ring_skip(struct ring *r, uint32_t n)
{
	uint32_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
	uint32_t avail = ring_readable(r);

	if (n > avail)
		n = avail;
	atomic_store_explicit(&r->tail, tail + n, memory_order_release);
	return n;
}
