/* Holding a real-time thread's memory (see mem.h). */
#include "common/mem.h"

#include <alloca.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
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

static bool wanted(const char *path, const char *exe,
		   const char *const *prefixes)
{
	const char *base = strrchr(path, '/');

	if (!strcmp(path, exe))
		return true;
	base = base ? base + 1 : path;
	for (; *prefixes; prefixes++)
		if (!strncmp(base, *prefixes, strlen(*prefixes)))
			return true;
	return false;
}

long mem_hold_libraries(const char *const *prefixes)
{
	char line[PATH_MAX + 128], exe[PATH_MAX], perm[8], path[PATH_MAX];
	unsigned long lo, hi;
	long held = 0;
	ssize_t n;
	FILE *f;
	int err = 0;

	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	exe[n > 0 ? n : 0] = '\0';
	f = fopen("/proc/self/maps", "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		path[0] = '\0';
		if (sscanf(line, "%lx-%lx %7s %*s %*s %*s %4095s", &lo, &hi,
			   perm, path) < 3 ||
		    path[0] != '/' || !strcmp(perm, "---p") ||
		    !wanted(path, exe, prefixes))
			continue;
		if (mlock((void *)lo, hi - lo) == 0)
			held += (long)(hi - lo);
		else
			err = errno;
	}
	fclose(f);
	return held || !err ? held : -err;
}
