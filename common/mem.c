/* Holding a real-time thread's memory (see mem.h). */
#include "common/mem.h"

#include <alloca.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
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

/* What mem_hold_library() was asked for (string literals), and whether
 * the node held its libraries at start: a prefix asked for before then
 * is held with them, one asked for after at once. */
#define MAX_LATER 8
static pthread_mutex_t later_lock = PTHREAD_MUTEX_INITIALIZER;
static const char *later[MAX_LATER + 1];
static unsigned int nlater;
static bool holding;

static bool wanted(const char *path, const char *exe,
		   const char *const *prefixes)
{
	const char *base = strrchr(path, '/');

	if (exe && !strcmp(path, exe))
		return true;
	base = base ? base + 1 : path;
	for (; *prefixes; prefixes++)
		if (!strncmp(base, *prefixes, strlen(*prefixes)))
			return true;
	return false;
}

/* Hold the file mappings wanted(): @exe's and @prefixes'. */
static long hold_mappings(const char *exe, const char *const *prefixes)
{
	char line[PATH_MAX + 128], perm[8], path[PATH_MAX];
	unsigned long lo, hi;
	long held = 0;
	FILE *f;
	int err = 0;

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

long mem_hold_libraries(const char *const *prefixes)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	long held, more = 0;

	exe[n > 0 ? n : 0] = '\0';
	held = hold_mappings(exe, prefixes);
	pthread_mutex_lock(&later_lock);
	holding = true;
	if (nlater)
		more = hold_mappings(NULL, later);
	pthread_mutex_unlock(&later_lock);
	if (held < 0)
		return held;
	return more < 0 ? more : held + more;
}

long mem_hold_library(const char *prefix)
{
	const char *const prefixes[] = {prefix, NULL};
	unsigned int i;
	long held = 0;

	pthread_mutex_lock(&later_lock);
	for (i = 0; i < nlater && strcmp(later[i], prefix); i++)
		;
	if (i == nlater && nlater < MAX_LATER)
		later[nlater++] = prefix;
	/* again each time: a plugin can have come with this object */
	if (holding)
		held = hold_mappings(NULL, prefixes);
	pthread_mutex_unlock(&later_lock);
	return held;
}
