/* The host side of libd4 (see relay.h). Output batches are per loop: a
 * flow's packet and its fan-out leave in one sendmmsg() call, a UDP
 * loop's received batch and all its copies together (a call per 1024
 * messages, or per 128 distinct copies: a fan-out of the same bytes
 * needs one copy a packet). Flow loops run on the media thread (runtime lane
 * 0), loops bound to UDP on the relay thread (lane 1), which waits on their
 * sockets with epoll and takes at most one batch from each ready socket per
 * wake-up, so that one flooded binding does not starve the others. */
#include "node/relay.h"
#include "common/mem.h"
#include "common/log.h"
#include "d4/kernel.h"
#include "node/flow.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <net/if.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

/* A UDP loop's output batch: the copies of a whole received batch
 * (RX_BATCH packets to up to D4_MAX_LIST receivers) in one sendmmsg()
 * where they fit, and at most what one call takes (UIO_MAXIOV). */
#define OUT_BATCH  1024
#define FLOW_BATCH 8
#define OUT_MTU	   1500
#define RX_BATCH   64 /* as bench/d4relay.c's C relay */
#define RX_RUN	   16 /* full batches from one socket between epoll_waits */
/* The one socket's blocking wait (a relay thread with a single loop): how
 * soon it looks again at a stop or a change of its loops. */
#define RX_WAIT_MS 20
#define RX_BUF	   2048
#define FLOW_LANE  0  /* the media thread's runs */
#define RELAY_LANE 1  /* the relay thread's */
#define RT_BELOW   10 /* the relay thread's priority below the media's */
#define NSEC	   1000000000ull
/* The relay thread's stack (the default 8 MB would be 8 MB locked; a D4
 * loop relaying uses 12 KB, as the media thread: node/media.c); all but
 * the last 32 KB of it made resident at start (common/mem.h). */
#define RELAY_STACK	  (128 * 1024)
#define RELAY_STACK_HELD  (RELAY_STACK - 32 * 1024)
#define RELAY_TICKS_PER_S 10 /* relay_tick is called every 100 ms */
/* A media pass's flow packets on one socket per sendmmsg(): 64 flows and
 * their second legs, with room for a catch-up */
#define PASS_BATCH  256
#define EAGER_TICKS 10

struct relay_out {
	int fd;
	bool own_fd;
	unsigned int n, cap;
	struct relay_out_stats stats;
	struct mmsghdr *msgs;
	struct iovec *iov;
	struct sockaddr_in *dst;
	uint8_t (*bufs)[OUT_MTU]; /* nbufs */
	unsigned int nbufs;
	/* Copies of the packets queued: a fan-out sends the same bytes to
	 * every receiver, so a copy is made only where the bytes differ
	 * from the newest copy (a memcmp instead of a memcpy), in slots from
	 * the first, few and hot in the cache. */
	unsigned int ncopies;
	const uint8_t *last;
	size_t last_len;
	/* a flow's output (the media thread's): its packets wait in the
	 * pass's pending list, to leave with every other flow's on the
	 * same socket (relay_flush_flows) */
	bool flow;
	bool pending;
};

/* A batch of @cap packets: a full one is sent at once, so a small batch
 * costs only more sendmmsg() calls. */
static struct relay_out *out_new(unsigned int cap)
{
	struct relay_out *o = mem_calloc_held(1, sizeof(*o));

	if (!o)
		return NULL;
	o->cap = cap;
	o->msgs = mem_calloc_held(cap, sizeof(*o->msgs));
	o->iov = mem_calloc_held(cap, sizeof(*o->iov));
	o->dst = mem_calloc_held(cap, sizeof(*o->dst));
	/* a slot per packet where every copy may differ; a fan-out needs
	 * one per received packet */
	o->nbufs = cap < RX_BATCH * 2 ? cap : RX_BATCH * 2;
	o->bufs = mem_calloc_held(o->nbufs, sizeof(*o->bufs));
	if (!o->msgs || !o->iov || !o->dst || !o->bufs) {
		free(o->msgs);
		free(o->iov);
		free(o->dst);
		free(o->bufs);
		free(o);
		return NULL;
	}
	return o;
}

static void out_free(struct relay_out *o)
{
	if (!o)
		return;
	if (o->own_fd)
		close(o->fd);
	free(o->msgs);
	free(o->iov);
	free(o->dst);
	free(o->bufs);
	free(o);
}

struct relay_rx {
	int fd;
	int handle;
	int used; /* headers the last recvmmsg() filled in (rx_drain) */
	struct mmsghdr msgs[RX_BATCH];
	struct iovec iov[RX_BATCH];
	struct sockaddr_in from[RX_BATCH];
	uint8_t bufs[RX_BATCH][RX_BUF];
};

/* A flow's way into its loop (the flow's send callback's context). */
struct relay_port {
	struct relay *r;
	int handle;
};

/* A loop bound to UDP here: its socket, how it was bound (to move it
 * between back ends), and its budget drops as last logged. */
struct relay_loop {
	struct relay_rx *rx; /* NULL: not bound here */
	enum d4_backend backend;
	char ifname[IF_NAMESIZE];
	int dscp, ttl;
	bool pass_original;
	uint64_t drops_seen; /* budget drops when last looked at */
	uint64_t drops_held; /* not logged yet (rate limit) */
	struct log_ratelimit rl;
	uint64_t refused_seen; /* the kernel's refusals when last logged */
	uint64_t refused_at;   /* ticks of relay_tick then */
	/* the same for the copies the kernel back end's
	 * bpf_clone_redirect() refused (its send_fail), of its attachment
	 * kref_attach */
	uint64_t kref_seen;
	uint64_t kref_at;
	uint64_t kref_attach;
};

struct relay {
	struct d4_runtime *rt;
	struct d4_kern *kern; /* NULL: every loop on the VM */
	struct relay_out *out[D4_MAX_PROGRAMS];
	struct relay_port ports[D4_MAX_PROGRAMS];
	struct relay_loop loops[D4_MAX_PROGRAMS];
	/* the media thread's pass: flow outputs holding packets, and the
	 * sendmmsg() batch of those that share a socket */
	struct relay_out *pend[D4_MAX_PROGRAMS];
	unsigned int npend;
	struct mmsghdr *pass_msgs;   /* PASS_BATCH */
	struct relay_out **pass_own; /* each message's output */
	/* the relay thread */
	int epfd;
	int wakefd; /* in the epoll set with a NULL pointer */
	pthread_t thread;
	bool running;
	_Atomic bool stop;
	_Atomic unsigned long passes; /* wake-ups handled */
	/* the socket of the only loop bound here, which the thread waits on
	 * in recvmmsg() itself (NULL: two or more, or none: epoll) */
	struct relay_rx *_Atomic only;
	/* control side: ticks of relay_tick, and how many more of them ask
	 * the kernel's neighbours at once (after an attach or a change) */
	unsigned long ticks;
	unsigned int eager;
};

#define ADD(f, n)                                                              \
	atomic_store_explicit(                                                 \
	    &(f), atomic_load_explicit(&(f), memory_order_relaxed) + (n),      \
	    memory_order_relaxed)

/* A datagram the kernel refused: counted, and the reason and receiver
 * kept for the control thread's log line (report_refused). RT. */
static void note_refused(struct relay_out_stats *st, const struct msghdr *h,
			 int err)
{
	const struct sockaddr_in *to = h->msg_name;

	ADD(st->send_errors, 1);
	atomic_store_explicit(&st->last_errno, err, memory_order_relaxed);
	if (to)
		atomic_store_explicit(&st->last_refused,
				      (uint64_t)ntohl(to->sin_addr.s_addr)
					      << 16 |
					  ntohs(to->sin_port),
				      memory_order_relaxed);
}

static void out_flush(struct relay_out *o)
{
	unsigned int done = 0, nobufs = 0;

	while (done < o->n) {
		int k =
		    sendmmsg(o->fd, o->msgs + done, o->n - done, MSG_DONTWAIT);

		if (k <= 0) {
			/* As pass_send: a full send buffer (EAGAIN, or a
			 * second ENOBUFS) takes none of the rest, counted
			 * without a system call each; another error is one
			 * receiver's, and the others go on. */
			int err = k < 0 ? errno : EIO;
			bool full = err == EAGAIN || err == EWOULDBLOCK ||
				    (err == ENOBUFS && nobufs++);

			do
				note_refused(&o->stats, &o->msgs[done].msg_hdr,
					     err);
			while (++done < o->n && full);
			continue;
		}
		ADD(o->stats.datagrams, (unsigned int)k);
		done += (unsigned int)k;
	}
	o->n = 0;
	o->ncopies = 0;
	o->last = NULL;
}

/* The relay thread's clock for a received batch: every packet of it is
 * judged against the send budget at the moment it was taken, one
 * clock_gettime() a batch instead of one a packet. 0: no batch (the media
 * thread's flows), read the clock. */
static __thread uint64_t batch_ns;

static uint64_t host_now(void *ctx)
{
	struct timespec ts;

	(void)ctx;
	if (batch_ns)
		return batch_ns;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NSEC + (uint64_t)ts.tv_nsec;
}

/* Queue @pkt's bytes at @bytes (a copy of the batch's, or the packet's
 * own buffer) for @dst. RT. */
static void out_queue(struct relay *r, struct relay_out *o,
		      const uint8_t *bytes, size_t len,
		      const struct sockaddr_in *dst)
{
	o->dst[o->n] = *dst;
	o->iov[o->n] = (struct iovec){(void *)bytes, len};
	o->msgs[o->n].msg_hdr = (struct msghdr){
	    .msg_name = &o->dst[o->n],
	    .msg_namelen = sizeof(o->dst[o->n]),
	    .msg_iov = &o->iov[o->n],
	    .msg_iovlen = 1,
	};
	o->n++;
	if (o->flow && !o->pending) {
		o->pending = true;
		r->pend[r->npend++] = o;
	}
}

/* libd4's host callback: copy into the loop's batch. RT. */
static int host_send(void *ctx, int handle, const uint8_t *pkt, size_t len,
		     const struct sockaddr_in *dst)
{
	struct relay *r = ctx;
	struct relay_out *o;

	if (handle < 0 || handle >= D4_MAX_PROGRAMS || !r->out[handle])
		return -ENOTCONN;
	o = r->out[handle];
	if (len > OUT_MTU) {
		ADD(o->stats.too_big, 1);
		return -EMSGSIZE;
	}
	if (o->n == o->cap)
		out_flush(o);
	if (!o->last || o->last_len != len || memcmp(o->last, pkt, len)) {
		uint8_t *slot;

		if (o->ncopies == o->nbufs)
			out_flush(o);
		slot = o->bufs[o->ncopies++];

		memcpy(slot, pkt, len);
		o->last = slot;
		o->last_len = len;
	}
	out_queue(r, o, o->last, len, dst);
	return 0;
}

/* libd4's callback for a loop that cannot change its packet: a UDP
 * loop's packet is a receive buffer of its batch, untouched until the
 * batch's copies are out (rx_drain), so it is queued itself, as the
 * hand-written relay does; a flow's buffer is its next packet's too, so
 * copied. RT. */
static int host_send_unchanged(void *ctx, int handle, const uint8_t *pkt,
			       size_t len, const struct sockaddr_in *dst)
{
	struct relay *r = ctx;
	struct relay_out *o;

	if (handle < 0 || handle >= D4_MAX_PROGRAMS || !r->out[handle])
		return -ENOTCONN;
	o = r->out[handle];
	if (o->flow)
		return host_send(ctx, handle, pkt, len, dst);
	if (len > OUT_MTU) {
		ADD(o->stats.too_big, 1);
		return -EMSGSIZE;
	}
	if (o->n == o->cap)
		out_flush(o);
	out_queue(r, o, pkt, len, dst);
	return 0;
}

/* Attaching a loop to the kernel and taking it out need CAP_BPF and
 * CAP_NET_ADMIN. After the privilege drop they are only permitted (when a
 * [d4] section may use the kernel, node/privs.c keeps them so): raised
 * into the effective set around those calls, and lowered again. NULL when
 * nothing was raised. */
static cap_t kcaps_raise(void)
{
	cap_value_t want[] = {CAP_BPF, CAP_NET_ADMIN};
	cap_t old = cap_get_proc(), c;
	cap_flag_value_t p, e;
	bool raise = false;
	unsigned int i;

	if (!old)
		return NULL;
	c = cap_dup(old);
	for (i = 0; c && i < 2; i++) {
		if (cap_get_flag(c, want[i], CAP_PERMITTED, &p) ||
		    cap_get_flag(c, want[i], CAP_EFFECTIVE, &e) || !p || e)
			continue;
		cap_set_flag(c, CAP_EFFECTIVE, 1, &want[i], CAP_SET);
		raise = true;
	}
	if (!raise || cap_set_proc(c)) {
		cap_free(c);
		cap_free(old);
		return NULL;
	}
	cap_free(c);
	return old;
}

static void kcaps_lower(cap_t old)
{
	if (!old)
		return;
	if (cap_set_proc(old))
		log_warn("d4: lowering CAP_BPF and CAP_NET_ADMIN again: %m");
	cap_free(old);
}

struct relay *relay_new(uint32_t per_packet, uint32_t per_second)
{
	struct relay *r = calloc(1, sizeof(*r));
	struct d4_host host = {.send = host_send,
			       .send_unchanged = host_send_unchanged,
			       .now_ns = host_now};
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};

	if (!r)
		return NULL;
	r->epfd = r->wakefd = -1;
	host.ctx = r;
	r->pass_msgs = mem_calloc_held(PASS_BATCH, sizeof(*r->pass_msgs));
	r->pass_own = mem_calloc_held(PASS_BATCH, sizeof(*r->pass_own));
	if (!r->pass_msgs || !r->pass_own)
		goto out_free;
	r->rt = d4_runtime_new(&host);
	if (!r->rt || d4_runtime_set_budget(r->rt, per_packet, per_second))
		goto out_free;
	r->epfd = epoll_create1(EPOLL_CLOEXEC);
	r->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (r->epfd < 0 || r->wakefd < 0 ||
	    epoll_ctl(r->epfd, EPOLL_CTL_ADD, r->wakefd, &ev) < 0) {
		log_err("d4: relay thread's epoll: %m");
		goto out_free;
	}
	/* NULL (no libbpf, no netlink): every loop on the VM */
	r->kern = d4_kern_new(r->rt);
	return r;

out_free:
	relay_destroy(r);
	return NULL;
}

void relay_destroy(struct relay *r)
{
	unsigned int i;

	if (!r)
		return;
	relay_stop(r);
	/* out of the kernel first: its programs read the runtime's loops */
	if (r->kern) {
		cap_t old = kcaps_raise();

		d4_kern_destroy(r->kern);
		kcaps_lower(old);
	}
	d4_runtime_destroy(r->rt);
	for (i = 0; i < D4_MAX_PROGRAMS; i++) {
		out_free(r->out[i]);
		if (r->loops[i].rx) {
			close(r->loops[i].rx->fd);
			free(r->loops[i].rx);
		}
	}
	if (r->epfd >= 0)
		close(r->epfd);
	if (r->wakefd >= 0)
		close(r->wakefd);
	free(r->pass_msgs);
	free(r->pass_own);
	free(r);
}

struct d4_runtime *relay_runtime(struct relay *r)
{
	return r->rt;
}

int relay_set_budget(struct relay *r, uint32_t per_packet, uint32_t per_second)
{
	return d4_runtime_set_budget(r->rt, per_packet, per_second);
}

int relay_load_file(struct relay *r, const char *path, char *err,
		    size_t err_len)
{
	char msg[256];
	FILE *f = fopen(path, "rb");
	char *text;
	long len;
	int rc;

	if (!f) {
		snprintf(err, err_len, "'%s': %s", path, strerror(errno));
		return -errno;
	}
	text = malloc(D4_MAX_SRC + 1);
	len = text ? (long)fread(text, 1, D4_MAX_SRC + 1, f) : -1;
	fclose(f);
	if (len < 0 || len > D4_MAX_SRC) {
		free(text);
		snprintf(err, err_len, "'%s': unreadable or over %d bytes",
			 path, D4_MAX_SRC);
		return -EINVAL;
	}
	rc = d4_load(r->rt, text, (size_t)len, msg, sizeof(msg));
	free(text);
	if (rc < 0)
		snprintf(err, err_len, "%s:%s", path, msg);
	return rc;
}

int relay_exec(struct relay *r, const char *text, char *err, size_t err_len)
{
	int handle = -1, rc;

	rc = d4_exec(r->rt, text, strlen(text), &handle, err, err_len);
	if (rc == 0 && handle >= 0) {
		/* Loops come from program files; a statement line that
		 * defines one would run with no input or output. */
		d4_remove(r->rt, handle);
		snprintf(err, err_len,
			 "1:1: a loop cannot be added here; load it from a "
			 "program file");
		return -EINVAL;
	}
	return rc;
}

int relay_attach_output(struct relay *r, int handle, int fd,
			const struct net_tx_opts *opts)
{
	struct relay_out *o;
	struct sockaddr_in any = {.sin_family = AF_INET};

	if (handle < 0 || handle >= D4_MAX_PROGRAMS || r->out[handle])
		return -EINVAL;
	/* A flow's loop (given its socket) sends one packet to a few
	 * places; a relay fans out to up to a whole list. */
	o = out_new(fd >= 0 ? FLOW_BATCH : OUT_BATCH);
	if (!o)
		return -ENOMEM;
	if (fd < 0) {
		/* A socket for unicast and multicast alike: the multicast
		 * options apply when a destination is a group. */
		any.sin_addr.s_addr = htonl(0xe0000000);
		fd = net_udp_tx_open(&any, opts);
		if (fd < 0) {
			out_free(o);
			return fd;
		}
		o->own_fd = true;
	}
	o->fd = fd;
	/* a flow's socket given: the media thread's output */
	o->flow = !o->own_fd;
	r->out[handle] = o;
	return 0;
}

/* What a loop's runs queued, out in as few sendmmsg() calls as its
 * batch allows. RT. */
static void flush_handle(struct relay *r, int handle)
{
	if (handle >= 0 && handle < D4_MAX_PROGRAMS && r->out[handle] &&
	    r->out[handle]->n)
		out_flush(r->out[handle]);
}

/* A flow's packet through its loop: its copies wait for the pass's end
 * (relay_flush_flows). RT. */
int relay_run(struct relay *r, int handle, uint8_t *pkt, size_t len,
	      const struct sockaddr_in *src)
{
	return d4_run_lane(r->rt, FLOW_LANE, handle, pkt, len, src);
}

/* The gathered messages [0, n) out on @fd: each counted on its own
 * output, a refused one as its output's error. RT. */
static void pass_send(struct relay *r, int fd, unsigned int n)
{
	unsigned int done = 0, i, nobufs = 0;

	while (done < n) {
		int k =
		    sendmmsg(fd, r->pass_msgs + done, n - done, MSG_DONTWAIT);

		if (k <= 0) {
			/* A full send buffer (EAGAIN) takes no more this
			 * pass: the rest are lost, counted, without a
			 * system call each. Another error is one
			 * receiver's: the others go on. ENOBUFS may be one
			 * route's, but a second in the pass is memory
			 * short for all: full. */
			int err = k < 0 ? errno : EIO;
			bool full = err == EAGAIN || err == EWOULDBLOCK ||
				    (err == ENOBUFS && nobufs++);

			do
				note_refused(&r->pass_own[done]->stats,
					     &r->pass_msgs[done].msg_hdr, err);
			while (++done < n && full);
			continue;
		}
		for (i = done; i < done + (unsigned int)k; i++)
			ADD(r->pass_own[i]->stats.datagrams, 1);
		done += (unsigned int)k;
	}
}

void relay_flush_flows(struct relay *r)
{
	unsigned int i, j, n, m;

	for (i = 0; i < r->npend; i++) {
		struct relay_out *o = r->pend[i];

		if (!o->pending)
			continue; /* gone out with an earlier one's socket */
		n = 0;
		/* every pending output on the same socket, in one batch
		 * while they fit */
		for (j = i; j < r->npend; j++) {
			struct relay_out *p = r->pend[j];

			if (!p->pending || p->fd != o->fd)
				continue;
			p->pending = false;
			if (n + p->n > PASS_BATCH) {
				pass_send(r, o->fd, n);
				n = 0;
			}
			for (m = 0; m < p->n; m++) {
				r->pass_msgs[n] = p->msgs[m];
				r->pass_own[n++] = p;
			}
		}
		if (n)
			pass_send(r, o->fd, n);
	}
	/* all out: the outputs' slots are free again */
	for (i = 0; i < r->npend; i++) {
		r->pend[i]->n = 0;
		r->pend[i]->ncopies = 0;
		r->pend[i]->last = NULL;
	}
	r->npend = 0;
}

/* A flow's packet through its loop. RT. */
static int flow_send(void *ctx, uint8_t *pkt, size_t len)
{
	struct relay_port *p = ctx;

	return relay_run(p->r, p->handle, pkt, len, NULL);
}

int relay_attach_flow(struct relay *r, int handle, struct flow *f)
{
	int rc = relay_attach_output(r, handle, flow_fd(f), NULL);

	if (rc < 0)
		return rc;
	r->ports[handle] = (struct relay_port){r, handle};
	flow_set_sender(f, flow_send, &r->ports[handle]);
	return 0;
}

void relay_detach(struct relay *r, int handle)
{
	if (handle < 0 || handle >= D4_MAX_PROGRAMS || !r->out[handle])
		return;
	out_free(r->out[handle]);
	r->out[handle] = NULL;
}

/* ---- the relay thread ---- */

static void rx_init(struct relay_rx *rx)
{
	int k;

	for (k = 0; k < RX_BATCH; k++) {
		rx->iov[k] = (struct iovec){rx->bufs[k], RX_BUF};
		rx->msgs[k].msg_hdr = (struct msghdr){
		    .msg_name = &rx->from[k],
		    .msg_namelen = sizeof(rx->from[k]),
		    .msg_iov = &rx->iov[k],
		    .msg_iovlen = 1,
		};
	}
}

/* One batch from @rx, each packet through its loop, and what they all
 * send out together: one sendmmsg() per received batch where the copies
 * fit one output batch (as bench/d4relay.c's hand-written relay does). */
static int rx_drain(struct relay *r, struct relay_rx *rx, int flags)
{
	int k, n;

	/* (the headers are set once, rx_init; the kernel changes only the
	 * address lengths and flags of those it filled in) */
	for (k = 0; k < rx->used; k++)
		rx->msgs[k].msg_hdr.msg_namelen = sizeof(rx->from[k]);
	n = recvmmsg(rx->fd, rx->msgs, RX_BATCH, flags, NULL);
	rx->used = n > 0 ? n : 0;
	if (n > 0) {
		batch_ns = host_now(NULL);
		/* (an entry without a sender is no datagram: the 0-byte
		 * read that ends a wait on a socket relay_unbind shut down) */
		for (k = 0; k < n; k++)
			if (rx->msgs[k].msg_hdr.msg_namelen)
				d4_run_lane(r->rt, RELAY_LANE, rx->handle,
					    rx->bufs[k], rx->msgs[k].msg_len,
					    &rx->from[k]);
		batch_ns = 0;
	}
	flush_handle(r, rx->handle);
	return n;
}

/* Level-triggered: a socket with more than a batch waiting is ready again
 * at the next epoll_wait, after every other ready one had its batch.
 *
 * With a single loop the thread waits in recvmmsg() on its socket instead
 * (blocking until the first datagram, then what else is queued: as the
 * hand-written relay of bench/d4relay.c does), which saves an epoll_wait()
 * per batch: 9 % of the relay thread (perf) at 200 000 packets a second. The
 * socket's SO_RCVTIMEO (RX_WAIT_MS) brings the thread back to look at a
 * stop or a change of its loops (relay_quiesce waits for that pass). */
static void *relay_main(void *arg)
{
	struct relay *r = arg;
	struct epoll_event ev[D4_MAX_PROGRAMS + 1];
	struct relay_rx *one;
	uint64_t v;
	int n, i, got;

	mem_hold_stack(RELAY_STACK_HELD);
	while (!atomic_load_explicit(&r->stop, memory_order_relaxed)) {
		one = atomic_load(&r->only);
		if (one) {
			rx_drain(r, one, MSG_WAITFORONE);
			atomic_fetch_add(&r->passes, 1);
			continue;
		}
		n = epoll_wait(r->epfd, ev, D4_MAX_PROGRAMS + 1, -1);
		got = 0;
		for (i = 0; i < n; i++) {
			if (ev[i].data.ptr)
				got = rx_drain(r, ev[i].data.ptr, MSG_DONTWAIT);
			else if (read(r->wakefd, &v, sizeof(v)) < 0)
				v = 0;
		}
		/* One socket alone was ready and gave a full batch: its
		 * next ones straight away, without asking epoll again (a
		 * system call a batch the hand-written relay does not
		 * make), up to RX_RUN batches; then the others get their
		 * turn. */
		for (i = 1;
		     n == 1 && got == RX_BATCH && i < RX_RUN &&
		     !atomic_load_explicit(&r->stop, memory_order_relaxed);
		     i++)
			got = rx_drain(r, ev[0].data.ptr, MSG_DONTWAIT);
		atomic_fetch_add(&r->passes, 1);
	}
	return NULL;
}

int relay_start(struct relay *r, int rt_prio)
{
	struct sched_param sp = {.sched_priority = rt_prio - RT_BELOW};
	pthread_attr_t attr;
	int err = EINVAL;

	if (r->running)
		return 0;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, RELAY_STACK);
	if (rt_prio > RT_BELOW) {
		pthread_attr_setinheritsched(&attr, PTHREAD_EXPLICIT_SCHED);
		pthread_attr_setschedpolicy(&attr, SCHED_FIFO);
		pthread_attr_setschedparam(&attr, &sp);
		err = pthread_create(&r->thread, &attr, relay_main, r);
		if (err)
			log_warn("d4: relay thread: SCHED_FIFO %d not "
				 "permitted (%s); running without real-time "
				 "priority",
				 sp.sched_priority, strerror(err));
	}
	if (err) {
		pthread_attr_destroy(&attr);
		pthread_attr_init(&attr);
		pthread_attr_setstacksize(&attr, RELAY_STACK);
		err = pthread_create(&r->thread, &attr, relay_main, r);
	}
	pthread_attr_destroy(&attr);
	if (err) {
		log_err("pthread_create(relay): %s", strerror(err));
		return -err;
	}
	pthread_setname_np(r->thread, "d4-relay");
	r->running = true;
	return 0;
}

static void wake(struct relay *r)
{
	uint64_t one = 1;

	if (write(r->wakefd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_warn("d4: waking the relay thread: %m");
}

void relay_stop(struct relay *r)
{
	if (!r->running)
		return;
	atomic_store(&r->stop, true);
	wake(r);
	pthread_join(r->thread, NULL);
	r->running = false;
}

/* Return once the relay thread has finished every wake-up that began
 * before this call: what it took from epoll before then is out of use. */
static void relay_quiesce(struct relay *r)
{
	struct timespec ms = {0, 1000 * 1000};
	unsigned long p;

	if (!r->running)
		return;
	p = atomic_load(&r->passes);
	wake(r);
	while (atomic_load(&r->passes) == p)
		nanosleep(&ms, NULL);
}

/* The socket the relay thread waits on alone: the only loop's, or NULL
 * (epoll) when two or none are bound; the thread, if it waits in epoll,
 * is woken to take it up. Control thread. */
static void set_only(struct relay *r)
{
	struct relay_rx *one = NULL;
	unsigned int i, n = 0;

	for (i = 0; i < D4_MAX_PROGRAMS; i++)
		if (r->loops[i].rx) {
			one = r->loops[i].rx;
			n++;
		}
	atomic_store(&r->only, n == 1 ? one : NULL);
	if (r->running)
		wake(r);
}

/* ---- binding loops to UDP ---- */

/* Keep what the kernel back end passes up the stack (pass_original,
 * marked) off the loop's own socket: the kernel has run it already. */
static int filter_passed(int fd, int handle)
{
	struct sock_filter code[] = {
	    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SKF_AD_OFF + SKF_AD_MARK),
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, D4_KERN_PASS_MARK(handle), 0,
		     1),
	    BPF_STMT(BPF_RET | BPF_K, 0),
	    BPF_STMT(BPF_RET | BPF_K, 0xffffffffu),
	};
	struct sock_fprog prog = {.len = sizeof(code) / sizeof(code[0]),
				  .filter = code};

	if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)))
		return -errno;
	return 0;
}

static int kern_apply(struct relay *r, int handle, enum d4_backend b,
		      const struct d4_kern_opts *ko, char *msg, size_t msg_len)
{
	cap_t old = kcaps_raise();
	int rc = d4_kern_apply(r->kern, handle, b, ko, msg, msg_len);

	kcaps_lower(old);
	r->eager = EAGER_TICKS;
	return rc;
}

static void kern_detach(struct relay *r, int handle)
{
	cap_t old;

	if (!r->kern || !d4_kern_attached(r->kern, handle))
		return;
	old = kcaps_raise();
	d4_kern_detach(r->kern, handle);
	kcaps_lower(old);
}

bool relay_kernel_wanted(const struct relay *r)
{
	unsigned int i;

	for (i = 0; r->kern && i < D4_MAX_PROGRAMS; i++)
		if (r->loops[i].rx && r->loops[i].backend != D4_BACKEND_VM)
			return true;
	return false;
}

/* Where loop @handle runs: d4_kern_apply with what it was bound with.
 * 0, or -errno with the reason in @msg (backend = kernel refused). */
static int apply_backend(struct relay *r, int handle, char *msg, size_t msg_len)
{
	struct relay_loop *l = &r->loops[handle];
	struct d4_kern_opts ko = {
	    .ifname = l->ifname[0] ? l->ifname : NULL,
	    .mcast_ifname = l->ifname[0] ? l->ifname : NULL,
	    .dscp = l->dscp,
	    .mcast_ttl = l->ttl,
	    .pass_original = l->pass_original,
	};
	struct d4_program_info info;

	msg[0] = '\0';
	if (r->kern)
		return kern_apply(r, handle, l->backend, &ko, msg, msg_len);
	if (l->backend == D4_BACKEND_VM)
		return 0;
	d4_program_info(r->rt, handle, &info);
	snprintf(msg, msg_len, "%sloop %s%s: no kernel back end in this node",
		 l->backend == D4_BACKEND_KERNEL ? "" : "d4: ", info.name,
		 l->backend == D4_BACKEND_KERNEL ? ": backend = kernel" : "");
	return l->backend == D4_BACKEND_KERNEL ? -EOPNOTSUPP : 0;
}

/* A socket for loop @handle's binding, in the relay thread's set; its
 * output; started when @start; then its back end. */
static int bind_one(struct relay *r, const struct d4_program_info *info,
		    const struct relay_bind_opts *o, bool start, char *err,
		    size_t err_len)
{
	struct relay_loop *l = &r->loops[info->handle];
	struct net_tx_opts txo = {.dscp = o->dscp,
				  .ttl = o->ttl,
				  .ifname = o->ifname && *o->ifname ? o->ifname
								    : NULL};
	struct epoll_event ev = {.events = EPOLLIN};
	struct relay_rx *rx;
	char msg[256];
	int rc;

	rc = relay_attach_output(r, info->handle, -1, &txo);
	if (rc < 0) {
		snprintf(err, err_len, "loop %s: output socket: %s", info->name,
			 strerror(-rc));
		return rc;
	}
	rx = mem_calloc_held(1, sizeof(*rx));
	if (!rx) {
		relay_detach(r, info->handle);
		snprintf(err, err_len, "loop %s: out of memory", info->name);
		return -ENOMEM;
	}
	rx->handle = info->handle;
	rx_init(rx);
	rx->fd = net_udp_rx_open(&info->bind_addr, txo.ifname);
	if (rx->fd < 0) {
		snprintf(err, err_len, "loop %s: cannot listen on %s%s%s%s: %s",
			 info->name, info->binding + 4,
			 txo.ifname ? " (interface '" : "",
			 txo.ifname ? txo.ifname : "", txo.ifname ? "')" : "",
			 strerror(-rx->fd));
		rc = rx->fd;
		goto out_free;
	}
	/* A relay reads no arrival times: without them the kernel neither
	 * stamps nor hands over a time per datagram (while no other socket
	 * of the host asks, no clock is read per packet at all). */
	if (setsockopt(rx->fd, SOL_SOCKET, SO_TIMESTAMPNS, &(int){0},
		       sizeof(int)) < 0)
		log_warn("d4: loop %s: SO_TIMESTAMPNS off: %m", info->name);
	/* Blocking, with a timeout, for the thread's wait in recvmmsg() on a
	 * single loop's socket (relay_main; epoll's reads say MSG_DONTWAIT). */
	if (fcntl(rx->fd, F_SETFL, fcntl(rx->fd, F_GETFL) & ~O_NONBLOCK) < 0 ||
	    setsockopt(rx->fd, SOL_SOCKET, SO_RCVTIMEO,
		       &(struct timeval){0, RX_WAIT_MS * 1000},
		       sizeof(struct timeval)) < 0) {
		rc = -errno;
		snprintf(err, err_len, "loop %s: socket: %s", info->name,
			 strerror(-rc));
		goto out_close;
	}
	*l = (struct relay_loop){
	    .backend = o->backend,
	    .dscp = o->dscp,
	    .ttl = o->ttl,
	    .pass_original = o->local_listener &&
			     o->local_listener(o->ctx, &info->bind_addr),
	    .drops_seen = info->budget_drops,
	    .rl = LOG_RATELIMIT_INIT(10 * NSEC, 3),
	};
	snprintf(l->ifname, sizeof(l->ifname), "%s",
		 txo.ifname ? txo.ifname : "");
	if (l->pass_original && (rc = filter_passed(rx->fd, info->handle))) {
		snprintf(err, err_len, "loop %s: socket filter: %s", info->name,
			 strerror(-rc));
		goto out_close;
	}
	ev.data.ptr = rx;
	if (epoll_ctl(r->epfd, EPOLL_CTL_ADD, rx->fd, &ev) < 0) {
		rc = -errno;
		snprintf(err, err_len, "loop %s: epoll: %s", info->name,
			 strerror(-rc));
		goto out_close;
	}
	l->rx = rx;
	/* (a second loop's first datagrams may wait RX_WAIT_MS for the
	 * thread to leave the first loop's socket for epoll) */
	set_only(r);
	if (start)
		d4_start(r->rt, info->handle);
	rc = apply_backend(r, info->handle, msg, sizeof(msg));
	if (rc < 0) {
		snprintf(err, err_len, "%s", msg);
		return rc; /* bound; the caller gives up on it */
	}
	if (*msg)
		log_info("%s", msg);
	log_info("d4: loop %s on %s, worst case %llu instruction%s and %llu "
		 "datagram%s per packet, at most %u datagrams a second%s",
		 info->name, info->binding,
		 (unsigned long long)info->wcet_insns,
		 info->wcet_insns == 1 ? "" : "s",
		 (unsigned long long)info->max_sends,
		 info->max_sends == 1 ? "" : "s", info->send_budget_s,
		 info->send_budget_s ? "" : " (no limit)");
	return 0;

out_close:
	close(rx->fd);
out_free:
	free(rx);
	relay_detach(r, info->handle);
	return rc;
}

int relay_bind_udp_loops(struct relay *r, const struct relay_bind_opts *o,
			 char *err, size_t err_len)
{
	int handles[D4_MAX_PROGRAMS], n, i, rc;

	n = d4_program_list(r->rt, handles, D4_MAX_PROGRAMS);
	for (i = 0; i < n; i++) {
		struct d4_program_info info;

		if (d4_program_info(r->rt, handles[i], &info) < 0 ||
		    info.bind_kind != D4_BIND_UDP || r->out[handles[i]])
			continue;
		rc = bind_one(r, &info, o, true, err, err_len);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int relay_bind_loop(struct relay *r, int handle,
		    const struct relay_bind_opts *o, char *err, size_t err_len)
{
	struct d4_program_info info;
	int rc;

	if (d4_program_info(r->rt, handle, &info) < 0 ||
	    info.bind_kind != D4_BIND_UDP || r->out[handle]) {
		snprintf(err, err_len, "loop %d: not a loop to bind", handle);
		return -EINVAL;
	}
	rc = bind_one(r, &info, o, false, err, err_len);
	if (rc < 0 && r->loops[handle].rx)
		relay_unbind(r, handle);
	return rc;
}

void relay_unbind(struct relay *r, int handle)
{
	struct relay_loop *l;

	if (handle < 0 || handle >= D4_MAX_PROGRAMS || !r->loops[handle].rx)
		return;
	l = &r->loops[handle];
	kern_detach(r, handle);
	epoll_ctl(r->epfd, EPOLL_CTL_DEL, l->rx->fd, NULL);
	atomic_store(&r->only, NULL);
	/* A thread blocked in this socket's recvmmsg() returns at once, not
	 * at its timeout, with an empty entry that has no sender (rx_drain
	 * runs no loop on it). (ENOTCONN for an unconnected UDP socket,
	 * which still wakes its readers.) */
	shutdown(l->rx->fd, SHUT_RD);
	relay_quiesce(r);
	close(l->rx->fd);
	free(l->rx);
	l->rx = NULL;
	set_only(r);
	relay_detach(r, handle);
}

int relay_set_backend(struct relay *r, int handle, enum d4_backend b, char *msg,
		      size_t msg_len)
{
	struct d4_program_info info;
	int rc;

	msg[0] = '\0';
	if (handle < 0 || handle >= D4_MAX_PROGRAMS || !r->loops[handle].rx ||
	    d4_program_info(r->rt, handle, &info) < 0) {
		snprintf(msg, msg_len, "loop %d: not bound to UDP by this node",
			 handle);
		return -ENOENT;
	}
	kern_detach(r, handle);
	r->loops[handle].backend = b;
	rc = apply_backend(r, handle, msg, msg_len);
	if (!*msg)
		snprintf(msg, msg_len, "d4: loop %s on the VM: backend = vm",
			 info.name);
	return rc;
}

enum d4_backend relay_backend(const struct relay *r, int handle)
{
	if (handle < 0 || handle >= D4_MAX_PROGRAMS || !r->loops[handle].rx)
		return D4_BACKEND_AUTO;
	return r->loops[handle].backend;
}

/* ---- keeping up, figures ---- */

void relay_sync(struct relay *r)
{
	char why[256];

	if (!r->kern)
		return;
	if (d4_kern_sync(r->kern, why, sizeof(why)))
		log_warn("d4: %s", why);
	r->eager = EAGER_TICKS;
}

int relay_program_info(struct relay *r, int handle,
		       struct d4_program_info *info)
{
	if (r->kern)
		return d4_kern_program_info(r->kern, handle, info);
	return d4_program_info(r->rt, handle, info);
}

/* Datagrams a loop did not send for its per-second budget, logged from
 * the control thread (the runtime only counts them), rate-limited. */
static void report_drops(struct relay *r, const struct d4_program_info *pi)
{
	struct relay_loop *l = &r->loops[pi->handle];
	unsigned int suppressed;

	if (!l->rl.burst)
		l->rl = (struct log_ratelimit)LOG_RATELIMIT_INIT(10 * NSEC, 3);
	if (pi->budget_drops < l->drops_seen) {
		/* another loop on this handle now */
		l->drops_seen = 0;
		l->drops_held = 0;
		l->rl = (struct log_ratelimit)LOG_RATELIMIT_INIT(10 * NSEC, 3);
	}
	l->drops_held += pi->budget_drops - l->drops_seen;
	l->drops_seen = pi->budget_drops;
	if (!l->drops_held || !log_ratelimit_ok(&l->rl, &suppressed))
		return;
	log_warn("d4: loop %s: %llu datagrams not sent, over its budget of "
		 "%u a second (%llu in all)",
		 pi->name, (unsigned long long)l->drops_held, pi->send_budget_s,
		 (unsigned long long)pi->budget_drops);
	l->drops_held = 0;
}

/* Datagrams of a loop bound to UDP here that the kernel refused (a full
 * send buffer, no route), logged from the control thread at most every
 * 10 s with the reason and the last receiver refused. (A flow's loop's
 * are logged per flow: node/tx.c.) */
static void report_refused(struct relay *r, const struct d4_program_info *pi)
{
	struct relay_loop *l = &r->loops[pi->handle];
	const struct relay_out *o = r->out[pi->handle];
	uint64_t n, to;
	char ep[32];

	if (!l->rx || !o)
		return;
	n = atomic_load_explicit(&o->stats.send_errors, memory_order_relaxed);
	if (n < l->refused_seen) /* another loop on this handle now */
		l->refused_seen = 0;
	if (n == l->refused_seen ||
	    (l->refused_at &&
	     r->ticks - l->refused_at < 10 * RELAY_TICKS_PER_S))
		return;
	to = atomic_load_explicit(&o->stats.last_refused, memory_order_relaxed);
	snprintf(ep, sizeof(ep), "%u.%u.%u.%u:%u",
		 (unsigned int)(to >> 40) & 255, (unsigned int)(to >> 32) & 255,
		 (unsigned int)(to >> 24) & 255, (unsigned int)(to >> 16) & 255,
		 (unsigned int)to & 0xffff);
	log_warn("d4: loop %s: %llu datagrams refused by the kernel since %s "
		 "(%s; the last to %s; %llu in all)",
		 pi->name, (unsigned long long)(n - l->refused_seen),
		 l->refused_at ? "the last such line" : "it started",
		 strerror(atomic_load_explicit(&o->stats.last_errno,
					       memory_order_relaxed)),
		 ep, (unsigned long long)n);
	l->refused_seen = n;
	l->refused_at = r->ticks;
}

/* The same for a loop in the kernel: the copies bpf_clone_redirect()
 * refused (no reason or receiver: the program counts only), at most every
 * 10 s. Its counters start at 0 each time the loop enters the kernel (a
 * move, a new binding, a reload on the handle; attach_seq says which), so
 * a new attachment starts the count over. Control thread. */
static void report_kern_refused(struct relay *r,
				const struct d4_program_info *pi)
{
	struct relay_loop *l = &r->loops[pi->handle];
	struct d4_kern_stats ks = {0};

	if (!r->kern || d4_kern_stats(r->kern, pi->handle, &ks) < 0)
		return;
	if (ks.attach_seq != l->kref_attach) {
		/* entered the kernel since the last look: what the last
		 * attachment refused and no line said is gone with it (the
		 * API's counters lose it too) */
		l->kref_attach = ks.attach_seq;
		l->kref_seen = l->kref_at = 0;
	}
	/* below the last look within one attachment: a failed read of
	 * the counters (they read 0) */
	if (ks.send_fail <= l->kref_seen ||
	    (l->kref_at && r->ticks - l->kref_at < 10 * RELAY_TICKS_PER_S))
		return;
	log_warn("d4: loop %s: %llu copies refused by the kernel back end "
		 "(bpf_clone_redirect) since %s (%llu in all; d4ctl programs: "
		 "SEND_ERRORS)",
		 pi->name, (unsigned long long)(ks.send_fail - l->kref_seen),
		 l->kref_at ? "the last such line" : "it entered the kernel",
		 (unsigned long long)ks.send_fail);
	l->kref_seen = ks.send_fail;
	l->kref_at = r->ticks;
}

void relay_tick(struct relay *r)
{
	int handles[D4_MAX_PROGRAMS], n, i;
	bool second = ++r->ticks % RELAY_TICKS_PER_S == 0;

	/* New receivers' neighbours resolve within milliseconds: their
	 * copies are lost until the map has them, so look every tick for a
	 * second after a change, then once a second. */
	if (r->kern && (second || r->eager)) {
		if (r->eager)
			r->eager--;
		d4_kern_poll(r->kern);
	}
	if (!second)
		return;
	/* changes no caller synced (flows' lists, state replay) */
	relay_sync(r);
	r->eager = 0;
	n = d4_program_list(r->rt, handles, D4_MAX_PROGRAMS);
	for (i = 0; i < n; i++) {
		struct d4_program_info pi;

		if (relay_program_info(r, handles[i], &pi) == 0) {
			report_drops(r, &pi);
			report_refused(r, &pi);
			report_kern_refused(r, &pi);
		}
	}
}

const struct relay_out_stats *relay_stats(const struct relay *r, int handle)
{
	if (handle < 0 || handle >= D4_MAX_PROGRAMS || !r->out[handle])
		return NULL;
	return &r->out[handle]->stats;
}

int relay_kern_stats(struct relay *r, int handle, struct d4_kern_stats *st)
{
	return r->kern ? d4_kern_stats(r->kern, handle, st) : -ENOENT;
}
