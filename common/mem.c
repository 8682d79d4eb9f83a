/* Holding a real-time thread's memory (see mem.h). */
#include "common/mem.h"

#include <alloca.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

void mem_hold(void *p, size_t len)
{
	uintptr_t a, end, pg;

	if (!p || !len)
		return;
	if (mlock(p, len) == 0)
		return;
	/* Not allowed to lock: a write to each page still brings it in
	 * (a read would map the shared zero page, and the first write
	 * would fault again). The bytes keep their values. */
	pg = (uintptr_t)sysconf(_SC_PAGESIZE);
	a = (uintptr_t)p;
	end = a + len;
	for (; a < end; a = (a | (pg - 1)) + 1) {
		volatile uint8_t *b = (volatile uint8_t *)a;

		*b = *b;
	}
}

void *mem_calloc_held(size_t n, size_t size)
{
	void *p = calloc(n, size);

	if (p)
		mem_hold(p, n * size);
	return p;
}

/* noinline: the frame must be below the caller's, on the stack to come. */
__attribute__((noinline)) void mem_hold_stack(size_t bytes)
{
	uint8_t *p = alloca(bytes);

	explicit_bzero(p, bytes);
}
