/* The control thread's event loop: one epoll set, one timerfd programmed to
 * the earliest timer, and deferred frees so that a callback may remove any
 * watch or timer (its own included) while a round is being dispatched. */
#include "common/loop.h"
#include "common/log.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

_Static_assert(LOOP_IN == EPOLLIN && LOOP_OUT == EPOLLOUT &&
		   LOOP_ERR == EPOLLERR && LOOP_HUP == EPOLLHUP,
	       "LOOP_* event bits must be the epoll ones");

#define LOOP_MAX_EVENTS 32

/* Intrusive circular list; a lone node points at itself. */
struct lnode {
	struct lnode *prev, *next;
};

#define lnode_entry(ptr, type, member)                                         \
	((type *)((char *)(ptr)-offsetof(type, member)))

static void lnode_init(struct lnode *n)
{
	n->prev = n->next = n;
}

static bool lnode_empty(const struct lnode *head)
{
	return head->next == head;
}

static void lnode_insert_before(struct lnode *pos, struct lnode *n)
{
	n->prev = pos->prev;
	n->next = pos;
	pos->prev->next = n;
	pos->prev = n;
}

static void lnode_unlink(struct lnode *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
	lnode_init(n);
}

enum timer_where {
	TIMER_IDLE,
	TIMER_ARMED,  /* in loop->armed, sorted by deadline */
	TIMER_FIRING, /* in loop->firing, due this round */
};

struct loop_io {
	struct loop *loop;
	int fd;
	uint32_t events;
	loop_io_fn fn;
	void *data;
	bool dead;
	struct lnode all;
	struct loop_io *next_dead;
};

struct loop_timer {
	struct loop *loop;
	loop_timer_fn fn;
	void *data;
	uint64_t deadline_ns;
	uint64_t period_ns;
	enum timer_where where;
	bool dead;
	struct lnode link;
	struct lnode all;
	struct loop_timer *next_dead;
};

struct loop {
	int epfd;
	int tfd;
	uint64_t tfd_deadline_ns; /* what tfd is set to; 0: disarmed */
	bool quit;
	bool dispatching;
	struct lnode ios;
	struct lnode timers;
	struct lnode armed;
	struct lnode firing;
	struct loop_io *dead_ios;
	struct loop_timer *dead_timers;
};

uint64_t loop_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

struct loop *loop_new(void)
{
	struct loop *loop = calloc(1, sizeof(*loop));
	struct epoll_event ev = {.events = EPOLLIN};

	if (!loop) {
		log_err("loop_new: out of memory");
		return NULL;
	}
	loop->epfd = -1;
	loop->tfd = -1;
	lnode_init(&loop->ios);
	lnode_init(&loop->timers);
	lnode_init(&loop->armed);
	lnode_init(&loop->firing);
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epfd < 0) {
		log_err("epoll_create1: %m");
		goto out_destroy;
	}
	loop->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (loop->tfd < 0) {
		log_err("timerfd_create: %m");
		goto out_destroy;
	}
	/* data.ptr NULL marks the timerfd among the events */
	ev.data.ptr = NULL;
	if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, loop->tfd, &ev) < 0) {
		log_err("epoll_ctl(ADD timerfd): %m");
		goto out_destroy;
	}
	return loop;

out_destroy:
	loop_destroy(loop);
	return NULL;
}

static void reap(struct loop *loop)
{
	while (loop->dead_ios) {
		struct loop_io *io = loop->dead_ios;

		loop->dead_ios = io->next_dead;
		free(io);
	}
	while (loop->dead_timers) {
		struct loop_timer *t = loop->dead_timers;

		loop->dead_timers = t->next_dead;
		free(t);
	}
}

void loop_destroy(struct loop *loop)
{
	unsigned int n_io = 0, n_timer = 0;

	if (!loop)
		return;
	while (!lnode_empty(&loop->ios)) {
		loop_io_remove(
		    lnode_entry(loop->ios.next, struct loop_io, all));
		n_io++;
	}
	while (!lnode_empty(&loop->timers)) {
		loop_timer_free(
		    lnode_entry(loop->timers.next, struct loop_timer, all));
		n_timer++;
	}
	if (n_io || n_timer)
		log_warn("loop_destroy: freed %u watch(es) and %u timer(s) "
			 "still registered",
			 n_io, n_timer);
	reap(loop);
	if (loop->tfd >= 0)
		close(loop->tfd);
	if (loop->epfd >= 0)
		close(loop->epfd);
	free(loop);
}

struct loop_io *loop_io_add(struct loop *loop, int fd, uint32_t events,
			    loop_io_fn fn, void *data)
{
	struct loop_io *io;
	struct epoll_event ev;

	if (!loop || fd < 0 || !fn) {
		log_err("loop_io_add: bad arguments (fd %d)", fd);
		return NULL;
	}
	io = calloc(1, sizeof(*io));
	if (!io) {
		log_err("loop_io_add: out of memory");
		return NULL;
	}
	io->loop = loop;
	io->fd = fd;
	io->events = events & (LOOP_IN | LOOP_OUT);
	io->fn = fn;
	io->data = data;
	ev.events = io->events;
	ev.data.ptr = io;
	if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		log_err("epoll_ctl(ADD fd %d): %m", fd);
		free(io);
		return NULL;
	}
	lnode_insert_before(&loop->ios, &io->all);
	return io;
}

int loop_io_update(struct loop_io *io, uint32_t events)
{
	struct epoll_event ev;

	if (!io || io->dead)
		return -EINVAL;
	events &= LOOP_IN | LOOP_OUT;
	if (events == io->events)
		return 0;
	ev.events = events;
	ev.data.ptr = io;
	if (epoll_ctl(io->loop->epfd, EPOLL_CTL_MOD, io->fd, &ev) < 0) {
		int err = errno;

		log_err("epoll_ctl(MOD fd %d): %m", io->fd);
		return -err;
	}
	io->events = events;
	return 0;
}

uint32_t loop_io_events(const struct loop_io *io)
{
	return io ? io->events : 0;
}

void loop_io_remove(struct loop_io *io)
{
	struct loop *loop;

	if (!io || io->dead)
		return;
	loop = io->loop;
	/* Fails harmlessly when the fd was closed first. */
	epoll_ctl(loop->epfd, EPOLL_CTL_DEL, io->fd, NULL);
	io->dead = true;
	lnode_unlink(&io->all);
	if (loop->dispatching) {
		/* this round's event array may still point at it */
		io->next_dead = loop->dead_ios;
		loop->dead_ios = io;
	} else {
		free(io);
	}
}

struct loop_timer *loop_timer_new(struct loop *loop, loop_timer_fn fn,
				  void *data)
{
	struct loop_timer *t;

	if (!loop || !fn)
		return NULL;
	t = calloc(1, sizeof(*t));
	if (!t) {
		log_err("loop_timer_new: out of memory");
		return NULL;
	}
	t->loop = loop;
	t->fn = fn;
	t->data = data;
	t->where = TIMER_IDLE;
	lnode_init(&t->link);
	lnode_insert_before(&loop->timers, &t->all);
	return t;
}

static void timer_unlink(struct loop_timer *t)
{
	if (t->where != TIMER_IDLE)
		lnode_unlink(&t->link);
	t->where = TIMER_IDLE;
}

/* Keep loop->armed sorted; equal deadlines fire in arming order. */
static void timer_insert(struct loop_timer *t)
{
	struct loop *loop = t->loop;
	struct lnode *pos = loop->armed.prev;

	/* most timers are armed for later than all others: scan from the
	 * back */
	while (pos != &loop->armed &&
	       lnode_entry(pos, struct loop_timer, link)->deadline_ns >
		   t->deadline_ns)
		pos = pos->prev;
	lnode_insert_before(pos->next, &t->link);
	t->where = TIMER_ARMED;
}

int loop_timer_arm_at(struct loop_timer *t, uint64_t when_ns,
		      uint64_t period_ns)
{
	if (!t || t->dead)
		return -EINVAL;
	timer_unlink(t);
	t->deadline_ns = when_ns ? when_ns : 1;
	t->period_ns = period_ns;
	timer_insert(t);
	return 0;
}

int loop_timer_arm(struct loop_timer *t, uint64_t delay_ns, uint64_t period_ns)
{
	return loop_timer_arm_at(t, loop_now_ns() + delay_ns, period_ns);
}

void loop_timer_disarm(struct loop_timer *t)
{
	if (!t)
		return;
	timer_unlink(t);
	t->period_ns = 0;
}

bool loop_timer_armed(const struct loop_timer *t)
{
	return t && t->where == TIMER_ARMED;
}

uint64_t loop_timer_deadline(const struct loop_timer *t)
{
	return loop_timer_armed(t) ? t->deadline_ns : 0;
}

void loop_timer_free(struct loop_timer *t)
{
	struct loop *loop;

	if (!t || t->dead)
		return;
	loop = t->loop;
	timer_unlink(t);
	lnode_unlink(&t->all);
	t->dead = true;
	if (loop->dispatching) {
		t->next_dead = loop->dead_timers;
		loop->dead_timers = t;
	} else {
		free(t);
	}
}

/* Point the timerfd at the earliest armed timer. */
static int program_timerfd(struct loop *loop)
{
	struct itimerspec its = {{0, 0}, {0, 0}};
	uint64_t deadline = 0;

	if (!lnode_empty(&loop->armed))
		deadline =
		    lnode_entry(loop->armed.next, struct loop_timer, link)
			->deadline_ns;
	if (deadline == loop->tfd_deadline_ns)
		return 0;
	its.it_value.tv_sec = (time_t)(deadline / 1000000000u);
	its.it_value.tv_nsec = (long)(deadline % 1000000000u);
	if (timerfd_settime(loop->tfd, TFD_TIMER_ABSTIME, &its, NULL) < 0) {
		int err = errno;

		log_err("timerfd_settime: %m");
		return -err;
	}
	loop->tfd_deadline_ns = deadline;
	return 0;
}

static int dispatch_timers(struct loop *loop)
{
	uint64_t now = loop_now_ns();
	int n = 0;

	/* Take what is due now; a callback arming a timer for the past
	 * gets it on the next round, so a round always ends. */
	while (!lnode_empty(&loop->armed)) {
		struct loop_timer *t =
		    lnode_entry(loop->armed.next, struct loop_timer, link);

		if (t->deadline_ns > now)
			break;
		lnode_unlink(&t->link);
		lnode_insert_before(&loop->firing, &t->link);
		t->where = TIMER_FIRING;
	}
	while (!lnode_empty(&loop->firing)) {
		struct loop_timer *t =
		    lnode_entry(loop->firing.next, struct loop_timer, link);

		timer_unlink(t);
		if (t->period_ns) {
			/* skip the periods missed while the loop was busy
			 * rather than firing them all in a burst */
			uint64_t missed =
			    (now - t->deadline_ns) / t->period_ns + 1;

			t->deadline_ns += missed * t->period_ns;
			timer_insert(t);
		}
		t->fn(t->data);
		n++;
	}
	return n;
}

int loop_run_once(struct loop *loop, int max_wait_ms)
{
	struct epoll_event evs[LOOP_MAX_EVENTS];
	int i, n, err, ran = 0;

	if (loop->dispatching)
		return -EBUSY;
	err = program_timerfd(loop);
	if (err)
		return err;
	n = epoll_wait(loop->epfd, evs, LOOP_MAX_EVENTS, max_wait_ms);
	if (n < 0) {
		if (errno == EINTR)
			return 0;
		err = errno;
		log_err("epoll_wait: %m");
		return -err;
	}
	loop->dispatching = true;
	for (i = 0; i < n; i++) {
		struct loop_io *io = evs[i].data.ptr;

		if (!io) {
			uint64_t expirations;

			/* the count is not needed: due timers are found by
			 * their deadlines */
			if (read(loop->tfd, &expirations, sizeof(expirations)) <
				0 &&
			    errno != EAGAIN)
				log_err("read(timerfd): %m");
			/* fired: it is disarmed until reprogrammed */
			loop->tfd_deadline_ns = 0;
			continue;
		}
		if (io->dead)
			continue;
		io->fn(io->data, io->fd, evs[i].events);
		ran++;
	}
	ran += dispatch_timers(loop);
	loop->dispatching = false;
	reap(loop);
	return ran;
}

int loop_run(struct loop *loop)
{
	loop->quit = false;
	while (!loop->quit) {
		int r = loop_run_once(loop, -1);

		if (r < 0)
			return r;
	}
	return 0;
}

void loop_quit(struct loop *loop)
{
	loop->quit = true;
}
