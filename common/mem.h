/* Memory that a real-time thread will touch, made resident now, by the
 * thread that allocates it.
 *
 * The node locks its memory with mlockall(MCL_CURRENT | MCL_FUTURE |
 * MCL_ONFAULT): a page is locked when it is first touched, so that the
 * node's resident set is the pages it uses, not every page of every
 * library it maps. The price is that a first touch is a page fault, and
 * a page fault on the media thread is a kernel allocation there. So
 * every buffer the media, relay or card threads use is held when it is
 * made: mem_hold() locks (and so populates) its pages at once, or, where
 * locking is refused (no CAP_IPC_LOCK and a small RLIMIT_MEMLOCK),
 * writes each page once. */
#ifndef D4_COMMON_MEM_H
#define D4_COMMON_MEM_H

#include <stddef.h>

/* Make the pages of [p, p + len) resident (and locked where allowed). */
void mem_hold(void *p, size_t len);

/* calloc() whose memory is held (mem_hold) before it is returned. */
void *mem_calloc_held(size_t n, size_t size);

/* Make the calling thread's next @bytes of stack resident: called first
 * thing by a real-time thread, with less than its stack size. */
void mem_hold_stack(size_t bytes);

/* Hold the whole of the program's own file mappings and of every library
 * whose file name begins with one of @prefixes (NULL-terminated): the
 * code and tables real-time threads may run or read for the first time
 * long after start (a tone's first sin(), a converter's first filter
 * table). MCL_ONFAULT holds only what was touched, and a page never
 * touched can be evicted, so its first use would be a disk read on that
 * thread. Returns the bytes held, or -errno. */
long mem_hold_libraries(const char *const *prefixes);

/* Hold, as mem_hold_libraries() does, every library now mapped whose
 * file name begins with @prefix (a string literal): for a library the
 * real-time threads come to use only with what uses it (libsamplerate
 * with a converter, libasound and its plugins with a sound card), called
 * by the thread that makes that object, before a real-time thread sees
 * it. Before mem_hold_libraries() ran, the prefix is noted and held with
 * the others then; a node that never holds (it could not lock; a test)
 * holds nothing. Returns the bytes held now, or -errno. */
long mem_hold_library(const char *prefix);

#endif
