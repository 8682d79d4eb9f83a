/* AvahiPoll on struct loop. libdbus gives its socket two watches (read and
 * write) on one fd, and epoll takes an fd once, so watches are grouped per
 * fd: one loop_io watches the union of their events and each watch gets
 * the events it asked for. Avahi may free any watch or timeout from any
 * callback; frees during a dispatch are deferred to its end. */
#include "discovery/avahi_poll.h"
#include "common/log.h"
#include "common/loop.h"

#include <stdbool.h>
#include <stdlib.h>
#include <sys/time.h>

struct fd_slot;

struct impl {
	AvahiPoll api; /* first: api->userdata points back anyway */
	struct loop *loop;
	struct fd_slot *slots;
	struct AvahiTimeout *timeouts;
};

struct fd_slot {
	struct impl *impl;
	int fd;
	struct loop_io *io;
	struct AvahiWatch *watches;
	bool dispatching;
	struct fd_slot *next;
};

struct AvahiWatch {
	struct fd_slot *slot;
	AvahiWatchEvent events;	 /* asked for */
	AvahiWatchEvent revents; /* happened; set during the callback */
	AvahiWatchCallback callback;
	void *userdata;
	bool dead;
	struct AvahiWatch *next;
};

struct AvahiTimeout {
	struct impl *impl;
	struct loop_timer *timer;
	AvahiTimeoutCallback callback;
	void *userdata;
	struct AvahiTimeout *prev, *next;
};

static uint32_t to_loop(AvahiWatchEvent e)
{
	return (e & AVAHI_WATCH_IN ? LOOP_IN : 0) |
	       (e & AVAHI_WATCH_OUT ? LOOP_OUT : 0);
}

static AvahiWatchEvent from_loop(uint32_t ev)
{
	return (AvahiWatchEvent)((ev & LOOP_IN ? AVAHI_WATCH_IN : 0) |
				 (ev & LOOP_OUT ? AVAHI_WATCH_OUT : 0) |
				 (ev & LOOP_ERR ? AVAHI_WATCH_ERR : 0) |
				 (ev & LOOP_HUP ? AVAHI_WATCH_HUP : 0));
}

static void slot_free(struct fd_slot *s)
{
	struct fd_slot **pp = &s->impl->slots;

	while (*pp != s)
		pp = &(*pp)->next;
	*pp = s->next;
	loop_io_remove(s->io);
	free(s);
}

/* Drop dead watches, refresh the union of events, free an empty slot. */
static void slot_sync(struct fd_slot *s)
{
	struct AvahiWatch **pp = &s->watches, *w;
	AvahiWatchEvent all = 0;

	while ((w = *pp)) {
		if (w->dead) {
			*pp = w->next;
			free(w);
			continue;
		}
		all |= w->events;
		pp = &w->next;
	}
	if (!s->watches) {
		slot_free(s);
		return;
	}
	loop_io_update(s->io, to_loop(all));
}

static void slot_event(void *data, int fd, uint32_t events)
{
	struct fd_slot *s = data;
	AvahiWatchEvent happened = from_loop(events);
	struct AvahiWatch *w;

	s->dispatching = true;
	for (w = s->watches; w; w = w->next) {
		AvahiWatchEvent mine =
		    happened & (w->events | AVAHI_WATCH_ERR | AVAHI_WATCH_HUP);

		if (w->dead || !mine)
			continue;
		w->revents = mine;
		w->callback(w, fd, mine, w->userdata);
		w->revents = 0;
	}
	s->dispatching = false;
	slot_sync(s);
}

static AvahiWatch *watch_new(const AvahiPoll *api, int fd,
			     AvahiWatchEvent event, AvahiWatchCallback callback,
			     void *userdata)
{
	struct impl *impl = api->userdata;
	struct fd_slot *s;
	struct AvahiWatch *w;

	w = calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	w->events = event;
	w->callback = callback;
	w->userdata = userdata;
	for (s = impl->slots; s; s = s->next)
		if (s->fd == fd)
			break;
	if (!s) {
		s = calloc(1, sizeof(*s));
		if (!s)
			goto out_free_watch;
		s->impl = impl;
		s->fd = fd;
		s->io =
		    loop_io_add(impl->loop, fd, to_loop(event), slot_event, s);
		if (!s->io) {
			free(s);
			goto out_free_watch;
		}
		s->next = impl->slots;
		impl->slots = s;
	}
	w->slot = s;
	w->next = s->watches;
	s->watches = w;
	if (!s->dispatching)
		slot_sync(s);
	else
		loop_io_update(s->io, loop_io_events(s->io) | to_loop(event));
	return w;

out_free_watch:
	free(w);
	return NULL;
}

static void watch_update(AvahiWatch *w, AvahiWatchEvent event)
{
	w->events = event;
	if (w->slot->dispatching)
		loop_io_update(w->slot->io,
			       loop_io_events(w->slot->io) | to_loop(event));
	else
		slot_sync(w->slot);
}

static AvahiWatchEvent watch_get_events(AvahiWatch *w)
{
	return w->revents;
}

static void watch_free(AvahiWatch *w)
{
	w->dead = true;
	w->events = 0;
	if (!w->slot->dispatching)
		slot_sync(w->slot); /* frees it */
}

/* Avahi's times are absolute gettimeofday() times; the loop's are
 * monotonic. Convert through the distance from now. */
static void timeout_set(struct AvahiTimeout *t, const struct timeval *tv)
{
	struct timeval now;
	int64_t delta_ns;

	if (!tv) {
		loop_timer_disarm(t->timer);
		return;
	}
	gettimeofday(&now, NULL);
	delta_ns = ((int64_t)tv->tv_sec - now.tv_sec) * 1000000000 +
		   ((int64_t)tv->tv_usec - now.tv_usec) * 1000;
	loop_timer_arm(t->timer, delta_ns > 0 ? (uint64_t)delta_ns : 0, 0);
}

static void timeout_fire(void *data)
{
	struct AvahiTimeout *t = data;

	/* one-shot: disarmed now, as Avahi expects; the callback may
	 * update or free @t */
	t->callback(t, t->userdata);
}

static AvahiTimeout *timeout_new(const AvahiPoll *api, const struct timeval *tv,
				 AvahiTimeoutCallback callback, void *userdata)
{
	struct impl *impl = api->userdata;
	struct AvahiTimeout *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->impl = impl;
	t->callback = callback;
	t->userdata = userdata;
	t->timer = loop_timer_new(impl->loop, timeout_fire, t);
	if (!t->timer) {
		free(t);
		return NULL;
	}
	t->next = impl->timeouts;
	if (impl->timeouts)
		impl->timeouts->prev = t;
	impl->timeouts = t;
	timeout_set(t, tv);
	return t;
}

static void timeout_update(AvahiTimeout *t, const struct timeval *tv)
{
	timeout_set(t, tv);
}

static void timeout_free(AvahiTimeout *t)
{
	struct impl *impl = t->impl;

	if (t->prev)
		t->prev->next = t->next;
	else
		impl->timeouts = t->next;
	if (t->next)
		t->next->prev = t->prev;
	/* safe inside its own callback: the loop defers the timer's free,
	 * and timeout_fire() does not touch @t after the callback */
	loop_timer_free(t->timer);
	free(t);
}

AvahiPoll *avahi_poll_new(struct loop *loop)
{
	struct impl *impl = calloc(1, sizeof(*impl));

	if (!impl)
		return NULL;
	impl->loop = loop;
	impl->api.userdata = impl;
	impl->api.watch_new = watch_new;
	impl->api.watch_update = watch_update;
	impl->api.watch_get_events = watch_get_events;
	impl->api.watch_free = watch_free;
	impl->api.timeout_new = timeout_new;
	impl->api.timeout_update = timeout_update;
	impl->api.timeout_free = timeout_free;
	return &impl->api;
}

void avahi_poll_free(AvahiPoll *api)
{
	struct impl *impl;
	unsigned int n = 0;

	if (!api)
		return;
	impl = api->userdata;
	while (impl->slots) {
		struct fd_slot *s = impl->slots;
		struct AvahiWatch *w;

		for (w = s->watches; w; w = w->next, n++)
			w->dead = true;
		slot_sync(s);
	}
	while (impl->timeouts) {
		timeout_free(impl->timeouts);
		n++;
	}
	if (n)
		log_warn("avahi_poll_free: %u watch(es)/timeout(s) left", n);
	free(impl);
}
