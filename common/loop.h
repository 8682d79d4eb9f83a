/* A small epoll event loop for the node's control thread: fd watches and
 * monotonic timers, dispatched by loop_run_once(). Single-threaded: every
 * function here must be called from the thread that runs the loop. */
#ifndef D4_COMMON_LOOP_H
#define D4_COMMON_LOOP_H

#include <stdbool.h>
#include <stdint.h>

struct loop;
struct loop_io;
struct loop_timer;

/* Event bits of an io watch; the same values as EPOLLIN/OUT/ERR/HUP.
 * LOOP_ERR and LOOP_HUP are always reported, asked for or not. */
#define LOOP_IN	 0x001u
#define LOOP_OUT 0x004u
#define LOOP_ERR 0x008u
#define LOOP_HUP 0x010u

typedef void (*loop_io_fn)(void *data, int fd, uint32_t events);
typedef void (*loop_timer_fn)(void *data);

/* A new loop, or NULL (logged). */
struct loop *loop_new(void);

/* Frees the loop. Watches and timers still registered are freed with it
 * (and logged as leaks): their owners must not touch them afterwards. */
void loop_destroy(struct loop *loop);

/* CLOCK_MONOTONIC in ns: the time base of every timer. */
uint64_t loop_now_ns(void);

/* Watch @fd for @events (LOOP_IN | LOOP_OUT; 0 = only errors). @fn runs
 * with the events that occurred. The fd stays the caller's: remove the
 * watch before closing it. Returns NULL on failure (logged). */
struct loop_io *loop_io_add(struct loop *loop, int fd, uint32_t events,
			    loop_io_fn fn, void *data);

/* Change the events watched. 0 or -errno. */
int loop_io_update(struct loop_io *io, uint32_t events);

/* The events currently watched. */
uint32_t loop_io_events(const struct loop_io *io);

/* Stop watching and free @io (NULL is fine). Safe from any callback,
 * including @io's own: its memory lives until the dispatch round ends and
 * no further event of it is delivered. */
void loop_io_remove(struct loop_io *io);

/* A disarmed timer, or NULL. */
struct loop_timer *loop_timer_new(struct loop *loop, loop_timer_fn fn,
				  void *data);

/* Fire at @when_ns (loop_now_ns() time base; a past time fires on the next
 * round), then every @period_ns if it is not 0. Re-arming an armed timer
 * moves it. 0 or -EINVAL (NULL timer). */
int loop_timer_arm_at(struct loop_timer *t, uint64_t when_ns,
		      uint64_t period_ns);

/* The same, relative to now: first after @delay_ns. */
int loop_timer_arm(struct loop_timer *t, uint64_t delay_ns, uint64_t period_ns);

void loop_timer_disarm(struct loop_timer *t);
bool loop_timer_armed(const struct loop_timer *t);

/* The absolute time the timer fires next, or 0 when disarmed. */
uint64_t loop_timer_deadline(const struct loop_timer *t);

/* Disarm and free @t (NULL is fine); safe from any callback. */
void loop_timer_free(struct loop_timer *t);

/* Wait up to @max_wait_ms (-1: until something happens, 0: poll) and
 * dispatch what is ready: io callbacks, then due timers. Returns the number
 * of callbacks run, or -errno (-EBUSY when called from a callback of the
 * same loop). A signal interrupting the wait counts as 0. */
int loop_run_once(struct loop *loop, int max_wait_ms);

/* Run rounds until loop_quit(). 0, or -errno from loop_run_once(). */
int loop_run(struct loop *loop);

/* Make loop_run() return after the current round. */
void loop_quit(struct loop *loop);

#endif
