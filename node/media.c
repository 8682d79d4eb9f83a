/* One loop, one absolute sleep: each pass drains receive sockets first (so a
 * packet that came in before its playout time is not counted late), then
 * sends due packets, then plays out, then sleeps until the earliest next
 * deadline. Nothing in the loop allocates, locks or logs. */
#include "node/media.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/net.h"
#include "node/flow.h"
#include "node/rxbus.h"
#include "node/rxshare.h"
#include "node/sub.h"
#include "ptp/mclock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

/* The media thread's stack: the loop is flat and allocates nothing on it
 * (its deepest use, with flows, an arrival-timed subscription converting
 * and a recorder, is 12 KB: the stack's touched pages, read from
 * /proc/PID/mem). All but its last 32 KB (a margin for what runs before
 * the hold) is made resident when the thread starts (common/mem.h). */
#define MEDIA_STACK (128 * 1024)
#define STACK_HELD  (MEDIA_STACK - 32 * 1024)

/* The longest the loop sleeps with nothing to do (a stop is seen this fast). */
#define MEDIA_IDLE_NS (10 * 1000 * 1000ull)

/* A change of the media table, handed from the control thread to the media
 * thread through one mailbox: the control side writes @req and bumps
 * req_seq; the media thread applies it at the top of its next pass and
 * bumps ack_seq. The control side waits for the ack (at most one pass,
 * MEDIA_IDLE_NS when idle) before it frees what it replaced. */
struct media_req {
	bool is_flow;
	unsigned int slot;
	void *obj; /* the new flow or sub, NULL to empty the slot */
};

/* Datagrams one recvmmsg() of a shared receiving socket reads at most. */
#define RD_BATCH 32

/* A shared receiving socket (node/rxshare.h) and the subscriptions in the
 * table that read through it, each by its group and interface (0: any). */
struct media_rd {
	int fd;
	unsigned int port;
	unsigned int n;
	uint32_t grp[RXSHARE_USERS];
	int ifindex[RXSHARE_USERS];
	struct sub *sub[RXSHARE_USERS];
};

/* The media thread's receive tables and buffers: held (mem.h), so its
 * first writes fault nothing in. */
struct media_rxbuf {
	/* the shared receiving sockets the table's subscriptions read
	 * through, rebuilt with the table (rd_dirty: before the next pass) */
	struct media_rd rd[MEDIA_MAX_SUBS];
	unsigned int nrd;
	struct mmsghdr msgs[RD_BATCH];
	struct iovec iov[RD_BATCH];
	struct sockaddr_in from[RD_BATCH];
	uint8_t bufs[RD_BATCH][SUB_RX_BUF];
	uint8_t ctrl[RD_BATCH][CMSG_SPACE(sizeof(struct timespec)) +
			       CMSG_SPACE(sizeof(struct in_pktinfo))];
};

struct media {
	struct mclock *mc;
	struct flow *flows[MEDIA_MAX_FLOWS];
	unsigned int nflows; /* slots in use end here (NULL holes allowed) */
	struct sub *subs[MEDIA_MAX_SUBS];
	unsigned int nsubs;
	struct media_req req;
	_Atomic unsigned int req_seq, ack_seq;
	bool rd_dirty;
	struct media_rxbuf *rxb;
	_Atomic unsigned long long rx_unclaimed;
	pthread_t thread;
	bool running;
	bool realtime;
	unsigned int generation; /* of the media clock's timescale */
	bool timescale_ok;
	bool timescale_known;
	uint64_t spin_ns;
	struct rxbus *rxbus; /* RX channels; NULL: none */
	void (*pass_end)(void *ctx); /* after the flows' sends; NULL: none */
	void *pass_end_ctx;
	_Atomic unsigned int resyncs;
	_Atomic unsigned long passes; /* of the loop: proof of life */
	_Atomic bool stop;
};

struct media *media_new(struct mclock *mc, struct flow **flows,
			unsigned int nflows, struct sub **subs,
			unsigned int nsubs)
{
	struct media *m = calloc(1, sizeof(*m));
	unsigned int i;

	if (!m)
		return NULL;
	m->rxb = mem_calloc_held(1, sizeof(*m->rxb));
	if (!m->rxb) {
		free(m);
		return NULL;
	}
	m->rd_dirty = true;
	m->mc = mc;
	for (i = 0; i < nflows && i < MEDIA_MAX_FLOWS; i++)
		m->flows[i] = flows[i];
	m->nflows = i;
	for (i = 0; i < nsubs && i < MEDIA_MAX_SUBS; i++)
		m->subs[i] = subs[i];
	m->nsubs = i;
	return m;
}

void media_destroy(struct media *m)
{
	if (!m)
		return;
	media_stop(m);
	free(m->rxb);
	free(m);
}

static int64_t realtime_offset(uint64_t ptp_now)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)(ptp_now - ((uint64_t)ts.tv_sec * NSEC_PER_SEC +
				    (uint64_t)ts.tv_nsec));
}

/* A flow or subscription joins on the media clock's current timescale. */
static void start_flow(struct media *m, struct flow *f, uint64_t now_ns)
{
	flow_set_timescale_ok(f, m->timescale_ok);
	flow_start(f, now_ns);
}

/* ... in place of @prev (NULL: none), whose buffered audio it takes over
 * if it continues @prev's stream (sub_take_over). */
static void start_sub(struct media *m, struct sub *s, struct sub *prev,
		      uint64_t now_ns, int64_t clock_off)
{
	sub_set_timescale_ok(s, m->timescale_ok);
	sub_set_timescale_known(s, m->timescale_known);
	if (!prev || !sub_take_over(s, prev, now_ns, clock_off))
		sub_start(s, now_ns);
}

static void shrink(struct media *m)
{
	while (m->nflows && !m->flows[m->nflows - 1])
		m->nflows--;
	while (m->nsubs && !m->subs[m->nsubs - 1])
		m->nsubs--;
}

static void rd_setup(struct media_rxbuf *b)
{
	int k;

	for (k = 0; k < RD_BATCH; k++) {
		b->iov[k].iov_base = b->bufs[k];
		b->iov[k].iov_len = SUB_RX_BUF;
		b->msgs[k].msg_hdr = (struct msghdr){
		    .msg_name = &b->from[k],
		    .msg_namelen = sizeof(b->from[k]),
		    .msg_iov = &b->iov[k],
		    .msg_iovlen = 1,
		    .msg_control = b->ctrl[k],
		    .msg_controllen = sizeof(b->ctrl[k]),
		};
	}
}

/* What queued on a shared socket before any subscription of the table
 * read through it: it came before each of them started, and never was
 * playable (what sub_start drops from a socket of its own). RT. */
static void rd_flush(struct media *m, int fd)
{
	int n;

	do {
		rd_setup(m->rxb);
		n = recvmmsg(fd, m->rxb->msgs, RD_BATCH,
			     MSG_DONTWAIT | MSG_TRUNC, NULL);
		if (n > 0)
			atomic_fetch_add_explicit(&m->rx_unclaimed,
						  (unsigned long long)n,
						  memory_order_relaxed);
	} while (n == RD_BATCH);
}

/* The table's shared receiving sockets, from its subscriptions; one new
 * to the table is flushed (rd_flush). RT. */
static void rd_rebuild(struct media *m)
{
	struct media_rxbuf *b = m->rxb;
	int old[MEDIA_MAX_SUBS];
	unsigned int i, j, nold = b->nrd;
	bool known;

	for (i = 0; i < nold; i++)
		old[i] = b->rd[i].fd;
	b->nrd = 0;
	m->rd_dirty = false;
	for (i = 0; i < m->nsubs; i++) {
		struct sub *s = m->subs[i];
		struct rxshare *r;
		struct media_rd *d = NULL;
		int fd;

		if (!s)
			continue;
		r = sub_rxshare(s);
		if (!r)
			continue;
		fd = rxshare_fd(r);
		for (j = 0; j < b->nrd && !d; j++)
			if (b->rd[j].fd == fd)
				d = &b->rd[j];
		if (!d) {
			d = &b->rd[b->nrd++];
			d->fd = fd;
			d->port = rxshare_port(r);
			d->n = 0;
		}
		/* each subscription holds one of its RXSHARE_USERS places */
		if (d->n < RXSHARE_USERS) {
			d->grp[d->n] = sub_rx_group(s);
			d->ifindex[d->n] = sub_rx_ifindex(s);
			d->sub[d->n++] = s;
		}
	}
	for (i = 0; i < b->nrd; i++) {
		known = false;
		for (j = 0; j < nold && !known; j++)
			known = old[j] == b->rd[i].fd;
		if (!known)
			rd_flush(m, b->rd[i].fd);
	}
}

static bool is_multicast_be(uint32_t a)
{
	return (ntohl(a) & 0xf0000000u) == 0xe0000000u;
}

/* Hand one datagram of @d to the subscriptions of its group (its socket
 * takes multicast only: rxshare.c's socket filter). RT. */
static void rd_dispatch(struct media *m, const struct media_rd *d,
			unsigned int k, uint64_t arrival_ns, uint64_t now_ns)
{
	struct media_rxbuf *b = m->rxb;
	const struct msghdr *mh = &b->msgs[k].msg_hdr;
	bool trunc = mh->msg_flags & MSG_TRUNC, hit = false;
	uint32_t daddr, local;
	unsigned int j;
	int ifx;

	net_rx_dest(mh, &daddr, &local, &ifx);
	/* every subscription of the group (two of one stream each get it,
	 * as each had its own socket) */
	for (j = 0; j < d->n && is_multicast_be(daddr); j++) {
		if (d->grp[j] != daddr ||
		    (d->ifindex[j] && d->ifindex[j] != ifx))
			continue;
		sub_rx_datagram(d->sub[j], b->bufs[k], b->msgs[k].msg_len,
				trunc, &b->from[k], arrival_ns, now_ns);
		hit = true;
	}
	if (!hit)
		atomic_fetch_add_explicit(&m->rx_unclaimed, 1,
					  memory_order_relaxed);
}

/* Drain every shared receiving socket. RT. */
static void rd_drain(struct media *m, uint64_t now_ns, int64_t clock_off)
{
	struct media_rxbuf *b = m->rxb;
	unsigned int i;
	int k, n;

	for (i = 0; i < b->nrd; i++) {
		do {
			rd_setup(b);
			/* MSG_TRUNC: a datagram longer than its buffer says
			 * its real length, for last_bad_size */
			n = recvmmsg(b->rd[i].fd, b->msgs, RD_BATCH,
				     MSG_DONTWAIT | MSG_TRUNC, NULL);
			for (k = 0; k < n; k++)
				rd_dispatch(m, &b->rd[i], (unsigned int)k,
					    net_rx_stamp(&b->msgs[k].msg_hdr,
							 now_ns, clock_off),
					    now_ns);
		} while (n == RD_BATCH);
	}
}

/* Apply a pending table change. RT: pointer stores, and for a moved
 * stream one non-blocking drain of the old socket (sub_take_over). */
static void apply_req(struct media *m, uint64_t now_ns, int64_t clock_off)
{
	unsigned int seq =
	    atomic_load_explicit(&m->req_seq, memory_order_acquire);
	struct media_req *r = &m->req;

	if (seq == atomic_load_explicit(&m->ack_seq, memory_order_relaxed))
		return;
	if (r->is_flow) {
		m->flows[r->slot] = r->obj;
		if (r->obj) {
			start_flow(m, r->obj, now_ns);
			if (r->slot >= m->nflows)
				m->nflows = r->slot + 1;
		}
	} else {
		struct sub *prev = m->subs[r->slot];

		m->subs[r->slot] = r->obj;
		if (r->obj) {
			start_sub(m, r->obj, prev, now_ns, clock_off);
			if (r->slot >= m->nsubs)
				m->nsubs = r->slot + 1;
		}
		m->rd_dirty = true;
	}
	shrink(m);
	/* before the ack: then the caller may free what the slot held */
	if (m->rd_dirty)
		rd_rebuild(m);
	atomic_store_explicit(&m->ack_seq, seq, memory_order_release);
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

unsigned long long media_run_once(struct media *m, unsigned long long now_ns)
{
	uint64_t pass_mono = mono_ns();
	uint64_t next = now_ns + MEDIA_IDLE_NS, t;
	int64_t off = realtime_offset(now_ns);
	unsigned int i, gen = mclock_generation(m->mc);
	bool ok = mclock_timescale_ok(m->mc);
	bool known = mclock_timescale_known(m->mc);

	if (ok != m->timescale_ok) {
		m->timescale_ok = ok;
		for (i = 0; i < m->nflows; i++)
			if (m->flows[i])
				flow_set_timescale_ok(m->flows[i], ok);
		for (i = 0; i < m->nsubs; i++)
			if (m->subs[i])
				sub_set_timescale_ok(m->subs[i], ok);
		if (m->rxbus)
			rxbus_set_timescale_ok(m->rxbus, ok);
	}

	if (known != m->timescale_known) {
		m->timescale_known = known;
		for (i = 0; i < m->nsubs; i++)
			if (m->subs[i])
				sub_set_timescale_known(m->subs[i], known);
	}
	if (gen != m->generation) {
		/* The timescale jumped (first lock, grandmaster change):
		 * pacing and playout positions start over on the new one. */
		m->generation = gen;
		for (i = 0; i < m->nflows; i++)
			if (m->flows[i])
				flow_resync(m->flows[i], now_ns);
		for (i = 0; i < m->nsubs; i++)
			if (m->subs[i])
				sub_resync(m->subs[i], now_ns);
		if (m->rxbus)
			rxbus_resync(m->rxbus, now_ns);
		atomic_fetch_add_explicit(&m->resyncs, 1, memory_order_relaxed);
	}
	/* The shared sockets first, on the table as it was: what came for
	 * a subscription an apply_req() replaces is its own (a moved
	 * stream's, sub_take_over); what came for one not in place yet went
	 * to none (what sub_start drops from its own socket). */
	if (m->rd_dirty)
		rd_rebuild(m);
	rd_drain(m, now_ns, off);
	apply_req(m, now_ns, off);

	for (i = 0; i < m->nsubs; i++)
		if (m->subs[i])
			sub_rx_drain(m->subs[i], now_ns, off);
	for (i = 0; i < m->nflows; i++) {
		if (!m->flows[i])
			continue;
		t = flow_send_due(m->flows[i], now_ns);
		if (t < next)
			next = t;
	}
	if (m->pass_end)
		m->pass_end(m->pass_end_ctx);
	if (m->nflows) {
		/* The packets left now, not when the pass began: @now_ns
		 * and the pass's duration on the monotonic clock, which no
		 * step of the media clock's base (an NTP or ptp4l step of
		 * the system clock) moves. */
		uint64_t sent = now_ns + (mono_ns() - pass_mono);

		if (mclock_generation(m->mc) != gen)
			sent = 0;
		for (i = 0; i < m->nflows; i++)
			if (m->flows[i])
				flow_pass_end(m->flows[i], sent);
	}
	for (i = 0; i < m->nsubs; i++) {
		if (!m->subs[i])
			continue;
		t = sub_playout(m->subs[i], now_ns);
		if (t < next)
			next = t;
	}
	if (m->rxbus) {
		/* After the subscriptions: they write what it hands on. */
		t = rxbus_playout(m->rxbus, now_ns);
		if (t < next)
			next = t;
	}
	return next;
}

/* Post one change and wait until the media thread has taken it: after
 * this returns, the media thread no longer uses what the slot held. */
static void post_req(struct media *m, bool is_flow, unsigned int slot,
		     void *obj)
{
	unsigned int seq;
	struct timespec ms = {0, 1000 * 1000};
	int waited = 0;

	if (!m->running) {
		/* Not started yet: media_main starts what it finds. */
		if (is_flow) {
			m->flows[slot] = obj;
			if (obj && slot >= m->nflows)
				m->nflows = slot + 1;
		} else {
			m->subs[slot] = obj;
			if (obj && slot >= m->nsubs)
				m->nsubs = slot + 1;
		}
		shrink(m);
		if (!is_flow)
			m->rd_dirty = true;
		return;
	}
	m->req = (struct media_req){is_flow, slot, obj};
	seq = atomic_load_explicit(&m->req_seq, memory_order_relaxed) + 1;
	atomic_store_explicit(&m->req_seq, seq, memory_order_release);
	while (atomic_load_explicit(&m->ack_seq, memory_order_acquire) != seq) {
		nanosleep(&ms, NULL);
		if (++waited == 2000)
			log_warn("media thread has not taken a table change "
				 "for 2 s; still waiting");
	}
}

int media_set_flow(struct media *m, unsigned int slot, struct flow *f)
{
	if (slot >= MEDIA_MAX_FLOWS)
		return -EINVAL;
	post_req(m, true, slot, f);
	return 0;
}

int media_set_sub(struct media *m, unsigned int slot, struct sub *s)
{
	if (slot >= MEDIA_MAX_SUBS)
		return -EINVAL;
	post_req(m, false, slot, s);
	return 0;
}

static void *media_main(void *arg)
{
	struct media *m = arg;
	uint64_t now;
	unsigned int i;

	mem_hold_stack(STACK_HELD);
	now = mclock_now_ns(m->mc);
	m->generation = mclock_generation(m->mc);
	m->timescale_ok = mclock_timescale_ok(m->mc);
	m->timescale_known = mclock_timescale_known(m->mc);
	for (i = 0; i < m->nflows; i++)
		if (m->flows[i])
			start_flow(m, m->flows[i], now);
	for (i = 0; i < m->nsubs; i++)
		if (m->subs[i])
			start_sub(m, m->subs[i], NULL, now, 0);
	if (m->rxbus) {
		rxbus_set_timescale_ok(m->rxbus, m->timescale_ok);
		rxbus_start(m->rxbus, now);
	}
	while (!atomic_load_explicit(&m->stop, memory_order_relaxed)) {
		uint64_t next = media_run_once(m, mclock_now_ns(m->mc));
		uint64_t after = mclock_now_ns(m->mc);

		/* A step of the media clock during the pass (the first
		 * lock: 37 s back from TAI to a grandmaster's ARB time)
		 * leaves @next on the old timescale, as far away as the
		 * step: no deadline is ever more than an idle period ahead. */
		if (next > after + MEDIA_IDLE_NS)
			next = after + MEDIA_IDLE_NS;
		atomic_fetch_add_explicit(&m->passes, 1, memory_order_relaxed);
		/* Sleep to just before the deadline, then spin the rest:
		 * the timer's wake-up jitter becomes the spin's accuracy. */
		if (m->spin_ns && next > m->spin_ns) {
			mclock_sleep_until(m->mc, next - m->spin_ns);
			while (mclock_now_ns(m->mc) < next)
				;
		} else {
			mclock_sleep_until(m->mc, next);
		}
	}
	return NULL;
}

int media_start(struct media *m, int rt_prio)
{
	pthread_attr_t attr;
	struct sched_param sp = {.sched_priority = rt_prio};
	int err;

	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, MEDIA_STACK);
	if (rt_prio > 0) {
		pthread_attr_setinheritsched(&attr, PTHREAD_EXPLICIT_SCHED);
		pthread_attr_setschedpolicy(&attr, SCHED_FIFO);
		pthread_attr_setschedparam(&attr, &sp);
		err = pthread_create(&m->thread, &attr, media_main, m);
		if (err == 0) {
			m->realtime = true;
			goto out;
		}
		log_warn("media thread: SCHED_FIFO %d not permitted (%s); "
			 "running without real-time priority",
			 rt_prio, strerror(err));
		pthread_attr_destroy(&attr);
		pthread_attr_init(&attr);
		pthread_attr_setstacksize(&attr, MEDIA_STACK);
	}
	err = pthread_create(&m->thread, &attr, media_main, m);
	if (err) {
		log_err("pthread_create(media): %s", strerror(err));
		pthread_attr_destroy(&attr);
		return -err;
	}
out:
	pthread_attr_destroy(&attr);
	m->running = true;
	pthread_setname_np(m->thread, "d4-media");
	return 0;
}

void media_stop(struct media *m)
{
	if (!m->running)
		return;
	atomic_store(&m->stop, true);
	pthread_join(m->thread, NULL);
	m->running = false;
}

unsigned long media_passes(const struct media *m)
{
	return atomic_load_explicit(&((struct media *)m)->passes,
				    memory_order_relaxed);
}

unsigned long long media_rx_unclaimed(const struct media *m)
{
	return atomic_load_explicit(&m->rx_unclaimed, memory_order_relaxed);
}

unsigned int media_resyncs(const struct media *m)
{
	return atomic_load_explicit(&((struct media *)m)->resyncs,
				    memory_order_relaxed);
}

void media_set_pass_end(struct media *m, void (*fn)(void *ctx), void *ctx)
{
	m->pass_end = fn;
	m->pass_end_ctx = ctx;
}

void media_set_rxbus(struct media *m, struct rxbus *b)
{
	m->rxbus = b;
}

void media_set_spin(struct media *m, unsigned int spin_us)
{
	m->spin_ns = (uint64_t)spin_us * 1000;
}

bool media_is_realtime(const struct media *m)
{
	return m->realtime;
}
