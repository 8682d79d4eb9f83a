/* A single-producer single-consumer ring of fixed-size elements, lock-free.
 * It is how the media thread talks to every other thread: one side only
 * writes, the other only reads, and neither ever waits. */
#ifndef D4_COMMON_RING_H
#define D4_COMMON_RING_H

#include <stddef.h>
#include <stdint.h>

struct ring;

/* A ring holding at least @min_elems elements of @elem_size bytes, or NULL. */
struct ring *ring_new(size_t elem_size, uint32_t min_elems);
void ring_destroy(struct ring *r);

/* Producer side. Copies up to @n elements; returns how many fit. RT-safe. */
uint32_t ring_write(struct ring *r, const void *src, uint32_t n);
uint32_t ring_writable(const struct ring *r);

/* Consumer side. Copies up to @n elements out; returns how many. RT-safe. */
uint32_t ring_read(struct ring *r, void *dst, uint32_t n);
uint32_t ring_readable(const struct ring *r);
/* Drops up to @n elements without copying them; returns how many. */
uint32_t ring_skip(struct ring *r, uint32_t n);

uint32_t ring_capacity(const struct ring *r);

#endif
