/* The D4 relay benchmark: a 1 -> N UDP relay on loopback, hand-written in C
 * against the D4 VM running the seed relay program, with the same system
 * calls: recvmmsg() a batch from one socket, queue N copies of each packet,
 * sendmmsg() them from one socket. One program, four roles, which
 * bench/d4relay.sh starts in a private network namespace:
 *
 *   --mode c     the hand-written relay: for each packet, one sendmmsg
 *                entry per receiver
 *   --mode vm    the same loop, but each packet goes through d4_run() of
 *                the program (--program FILE, default the seed) with
 *                _receivers set to the N endpoints; the host's send
 *                callback queues the entries
 *   --mode both  the two in turns of 0.1 s, each for --seconds in all,
 *                and a line of figures for each: the fair comparison on
 *                a machine that runs other work too
 *   --mode three the C relay, the VM relay and the kernel back end
 *                (d4/kernel.h: the program at --if's tc ingress) in turns
 *                of 0.2 s, --seconds each, and a fourth, "base": the
 *                kernel's loop over an empty list, what it costs to make
 *                a packet and bring it to tc ingress. C sends from port
 *                6101, the VM from 6102, the kernel's copies from 6103, so
 *                that the sink counts each one's datagrams. CPU is what
 *                the threads in --account (the generator, the ksoftirqd
 *                threads) and this relay ran (schedstat, ns), per turn:
 *                without IRQ time accounting, the softirq work of a
 *                packet lands on the thread that sent it, so the kernel
 *                relay's work shows on the generator's thread
 *   --mode gen   sends RTP packets to --to as fast as it can
 *   --mode sink  binds N ports from --to on (and N from --to2) and drains
 *                them, without sleeping; with per-source-port counts for
 *                --mode three
 *
 * A relay measures from its first packet for --seconds and prints one line
 * of key=value figures: packets received and forwarded, packets/s, and CPU
 * seconds (getrusage, user + system) per million packets.
 *
 * usage: d4relay --mode c|vm|both --listen ADDR:PORT --to ADDR:PORT --n N
 *                [--seconds S] [--program FILE] [--copy changed|each]
 *        d4relay --mode three --listen ADDR:PORT --to ADDR:PORT --n N
 *                --if IFACE [--account PID,PID...] [--seconds S]
 *        d4relay --mode probe --to ADDR:PORT   (exit 77 and why when the
 *                kernel back end cannot run here)
 *        d4relay --mode gen --to ADDR:PORT [--seconds S] [--size BYTES]
 *                [--rate PACKETS_PER_S]
 *        d4relay --mode sink --to ADDR:PORT --n N [--to2 ADDR:PORT]
 *                [--seconds S]   (--to2: N more ports, counted apart:
 *                two relays' receivers drained by one sink)
 */
#include "common/net.h"
#include "d4/d4.h"
#include "d4/kernel.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define RX_BATCH  64
#define TX_BATCH  1024 /* UIO_MAXIOV: the most one sendmmsg() takes */
#define PKT_MAX	  2048
#define MAX_RECV  D4_MAX_LIST
#define SOCK_BUF  (8 << 20)
#define RTP_BYTES 1164 /* 12-byte header + 1 ms of 8 ch L24 at 48 kHz */
#define ALIGNED	  __attribute__((aligned(64)))
/* --mode both: the two relays take turns this long, so that whatever else
 * the machine does at the time falls on both alike */
#define SLICE_S 0.1
/* --mode three: turns of the three relays, and their source ports */
#define SLICE3_S     0.2
#define SPORT_C	     6101
#define SPORT_VM     6102
#define SPORT_KERNEL 6103

/* gen, sink and the relays run until --seconds or SIGTERM */
static volatile sig_atomic_t stop;

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

/* The seed program of DESIGN.md, as examples/d4/seed-relay.d4 has it. */
static const char seed_program[] =
    "IP[] _receivers\n"
    "loop rtp_1_to_n { # coroutine to relay/pass on RTP packets\n"
    "pkt = recv()\n"
    "for ip in _receivers:\n"
    "sendto(pkt, ip)\n"
    "endfor\n"
    "}\n";

struct opts {
	const char *mode;
	const char *ifname;  /* three: the kernel back end's interface */
	const char *account; /* three: more threads whose CPU counts */
	struct sockaddr_in listen;
	struct sockaddr_in to;
	struct sockaddr_in to2; /* sink: N more ports from here (port 0: no) */
	unsigned int n;
	double seconds;
	const char *program;
	bool copy_each;
	size_t size;
	double rate; /* gen: packets/s, 0: as fast as it can */
};

/* Datagrams queued for one sendmmsg() call. */
struct tx_batch {
	int fd;
	unsigned int n;
	uint64_t sent;
	uint64_t errors;
	struct mmsghdr msgs[TX_BATCH];
	struct iovec iov[TX_BATCH];
	struct sockaddr_in dst[TX_BATCH];
};

struct relay {
	struct tx_batch tx;
	/* vm mode: the host's copies of what the program sent */
	struct d4_runtime *rt;
	int handle;
	bool copy_each;
	uint8_t (*copies)[PKT_MAX]; /* TX_BATCH slots, page-aligned */
	unsigned int ncopies;	    /* slots used by the batch */
	const uint8_t *last_copy;   /* the newest of them */
	size_t last_len;
	uint64_t copies_made;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU seconds this process has used, in user space (@user) and all. */
static double cpu_s(double *user)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	*user = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6;
	return *user + (double)ru.ru_stime.tv_sec +
	       (double)ru.ru_stime.tv_usec / 1e6;
}

static int udp_socket(const struct sockaddr_in *bind_to)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0), sz = SOCK_BUF;

	if (fd < 0) {
		fprintf(stderr, "d4relay: socket: %m\n");
		return -errno;
	}
	/* FORCE: past rmem_max/wmem_max, as root; the plain call is the
	 * fallback */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)))
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz)))
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	if (bind_to &&
	    bind(fd, (const struct sockaddr *)bind_to, sizeof(*bind_to))) {
		char ep[32];

		fprintf(stderr, "d4relay: bind %s: %m\n",
			net_endpoint_str(bind_to, ep, sizeof(ep)));
		close(fd);
		return -errno;
	}
	return fd;
}

static void tx_init(struct tx_batch *tx, int fd)
{
	unsigned int i;

	memset(tx, 0, sizeof(*tx));
	tx->fd = fd;
	for (i = 0; i < TX_BATCH; i++) {
		tx->msgs[i].msg_hdr.msg_iov = &tx->iov[i];
		tx->msgs[i].msg_hdr.msg_iovlen = 1;
		tx->msgs[i].msg_hdr.msg_name = &tx->dst[i];
		tx->msgs[i].msg_hdr.msg_namelen = sizeof(tx->dst[i]);
	}
}

static void tx_flush(struct tx_batch *tx)
{
	unsigned int done = 0;

	while (done < tx->n) {
		int k = sendmmsg(tx->fd, tx->msgs + done, tx->n - done, 0);

		if (k < 0) {
			if (errno == EINTR)
				continue;
			/* skip the datagram the kernel refused */
			tx->errors++;
			done++;
			continue;
		}
		done += (unsigned int)k;
		tx->sent += (uint64_t)k;
	}
	tx->n = 0;
}

/* Queue one datagram; @buf must stay as it is until the next flush. */
static void tx_add(struct tx_batch *tx, const uint8_t *buf, size_t len,
		   const struct sockaddr_in *dst)
{
	if (tx->n == TX_BATCH)
		tx_flush(tx);
	tx->iov[tx->n].iov_base = (void *)buf;
	tx->iov[tx->n].iov_len = len;
	tx->dst[tx->n] = *dst;
	tx->n++;
}

static void relay_flush(struct relay *r)
{
	tx_flush(&r->tx);
	r->ncopies = 0;
	r->last_copy = NULL;
}

/* The host's send callback. The contract (d4.h) is that the host copies
 * the packet before returning, since the program may change it and send
 * it again. A fan-out sends the same bytes N times, so by default a copy
 * is made only when the bytes differ from the newest copy in the batch
 * (one memcmp per send instead of a memcpy); --copy each copies every
 * time. */
static int vm_send(void *ctx, int handle, const uint8_t *pkt, size_t len,
		   const struct sockaddr_in *dst)
{
	struct relay *r = ctx;
	struct tx_batch *tx = &r->tx;

	(void)handle;
	if (len > PKT_MAX)
		return -EMSGSIZE;
	if (tx->n == TX_BATCH)
		relay_flush(r);
	if (r->copy_each || !r->last_copy || r->last_len != len ||
	    memcmp(r->last_copy, pkt, len)) {
		/* slots in order from the first: few, and hot in the cache */
		uint8_t *slot = r->copies[r->ncopies++];

		memcpy(slot, pkt, len);
		r->last_copy = slot;
		r->last_len = len;
		r->copies_made++;
	}
	tx_add(tx, r->last_copy, len, dst);
	return 0;
}

/* The callback for a loop with no store to its packet (d4.h): the packet
 * is a receive buffer of the batch, untouched until the batch is sent, so
 * queued itself as the C relay's, unless --copy each. */
static int vm_send_unchanged(void *ctx, int handle, const uint8_t *pkt,
			     size_t len, const struct sockaddr_in *dst)
{
	struct relay *r = ctx;

	if (r->copy_each)
		return vm_send(ctx, handle, pkt, len, dst);
	if (len > PKT_MAX)
		return -EMSGSIZE;
	if (r->tx.n == TX_BATCH)
		relay_flush(r);
	tx_add(&r->tx, pkt, len, dst);
	return 0;
}

static int vm_setup(struct relay *r, const struct opts *o)
{
	struct d4_host host = {.send = vm_send,
			       .send_unchanged = vm_send_unchanged,
			       .ctx = r};
	char err[512], *text = NULL, *list;
	const char *src = seed_program;
	size_t pos = 0, cap = 32 * (MAX_RECV + 1);
	unsigned int i;
	long len = 0;
	FILE *f;

	if (o->program) {
		f = fopen(o->program, "rb");
		if (!f || fseek(f, 0, SEEK_END) || (len = ftell(f)) < 0 ||
		    fseek(f, 0, SEEK_SET) ||
		    !(text = calloc(1, (size_t)len + 1)) ||
		    fread(text, 1, (size_t)len, f) != (size_t)len) {
			fprintf(stderr, "d4relay: %s: %m\n", o->program);
			if (f)
				fclose(f);
			free(text);
			return -EIO;
		}
		fclose(f);
		src = text;
	}
	r->rt = d4_runtime_new(&host);
	/* Where the copies lie matters: slots 16 bytes into a page (calloc's
	 * mmap'd block) made the kernel's copy of each datagram from them
	 * (_copy_from_iter, perf) 2.5 times as costly, and the VM relay 8 %
	 * slower than the C one, whose buffers are aligned. */
	r->copies = aligned_alloc(4096, TX_BATCH * sizeof(*r->copies));
	list = malloc(cap);
	if (!r->rt || !r->copies || !list)
		goto out_nomem;
	if (d4_load(r->rt, src, strlen(src), err, sizeof(err))) {
		fprintf(stderr, "d4relay: %s:%s\n",
			o->program ? o->program : "seed", err);
		goto out_inval;
	}
	if (d4_program_list(r->rt, &r->handle, 1) < 1) {
		fprintf(stderr, "d4relay: the program has no loop\n");
		goto out_inval;
	}
	pos = (size_t)snprintf(list, cap, "_receivers = [");
	for (i = 0; i < o->n; i++) {
		char a[INET_ADDRSTRLEN];

		inet_ntop(AF_INET, &o->to.sin_addr, a, sizeof(a));
		pos += (size_t)snprintf(list + pos, cap - pos, "%s%s:%u",
					i ? ", " : "", a,
					ntohs(o->to.sin_port) + i);
	}
	snprintf(list + pos, cap - pos, "]\n");
	if (d4_exec(r->rt, list, strlen(list), NULL, err, sizeof(err))) {
		fprintf(stderr, "d4relay: %s: %s\n", list, err);
		goto out_inval;
	}
	free(list);
	free(text);
	return d4_start(r->rt, r->handle);

out_inval:
	free(list);
	free(text);
	return -EINVAL;
out_nomem:
	free(list);
	free(text);
	return -ENOMEM;
}

/* Where a relay's time and packets went, per mode. */
struct figures {
	uint64_t pkts;
	uint64_t out;
	uint64_t out_errors;
	uint64_t run_errors;
	double wall;
	double cpu;
	double user;
};

struct mark {
	double wall, cpu, user;
	uint64_t sent, errors;
};

static void mark_now(struct mark *m, const struct relay *r)
{
	m->wall = now_s();
	m->cpu = cpu_s(&m->user);
	m->sent = r->tx.sent;
	m->errors = r->tx.errors;
}

static void figures_add(struct figures *f, const struct mark *a,
			const struct mark *b)
{
	f->wall += b->wall - a->wall;
	f->cpu += b->cpu - a->cpu;
	f->user += b->user - a->user;
	f->out += b->sent - a->sent;
	f->out_errors += b->errors - a->errors;
}

/* One batch through the hand-written relay (@vm false) or the VM. */
static void relay_batch(struct relay *r, bool vm, struct mmsghdr *msgs,
			const struct sockaddr_in *from, int k,
			const struct sockaddr_in *recv_ep, unsigned int n,
			struct figures *f)
{
	unsigned int j;
	int i;

	for (i = 0; i < k; i++) {
		uint8_t *pkt = msgs[i].msg_hdr.msg_iov->iov_base;
		size_t len = msgs[i].msg_len;

		if (!vm) {
			for (j = 0; j < n; j++)
				tx_add(&r->tx, pkt, len, &recv_ep[j]);
		} else if (d4_run(r->rt, r->handle, pkt, len, &from[i]) < 0) {
			f->run_errors++;
		}
	}
	f->pkts += (uint64_t)k;
	relay_flush(r);
}

static void print_figures(const char *mode, unsigned int n,
			  const struct figures *f, uint64_t copies)
{
	printf("relay mode=%s n=%u pkts=%llu secs=%.3f pps=%.0f cpu_s=%.3f "
	       "user_s=%.3f cpu_s_per_mpkt=%.3f out=%llu out_errors=%llu "
	       "run_errors=%llu copies=%llu\n",
	       mode, n, (unsigned long long)f->pkts, f->wall,
	       f->wall > 0 ? (double)f->pkts / f->wall : 0, f->cpu, f->user,
	       f->pkts ? f->cpu / ((double)f->pkts / 1e6) : 0,
	       (unsigned long long)f->out, (unsigned long long)f->out_errors,
	       (unsigned long long)f->run_errors, (unsigned long long)copies);
}

static int run_relay(const struct opts *o)
{
	static uint8_t bufs[RX_BATCH][PKT_MAX] ALIGNED;
	static struct mmsghdr msgs[RX_BATCH];
	static struct iovec iov[RX_BATCH];
	static struct sockaddr_in from[RX_BATCH];
	static struct relay r;
	struct sockaddr_in recv_ep[MAX_RECV];
	struct timeval tmo = {.tv_usec = 200000};
	bool both = !strcmp(o->mode, "both"), vm = !strcmp(o->mode, "vm");
	double total = both ? 2 * o->seconds : o->seconds;
	double t, wait_until = now_s() + 10;
	struct figures fig[2] = {0}; /* [0]: c, [1]: vm */
	struct mark start = {0}, slice, m;
	bool started = false;
	int rx_fd, tx_fd, k, i, ret = 1;
	unsigned int j;

	rx_fd = udp_socket(&o->listen);
	tx_fd = udp_socket(NULL);
	if (rx_fd < 0 || tx_fd < 0)
		return 1;
	setsockopt(rx_fd, SOL_SOCKET, SO_RCVTIMEO, &tmo, sizeof(tmo));
	tx_init(&r.tx, tx_fd);
	r.copy_each = o->copy_each;
	for (j = 0; j < o->n; j++) {
		recv_ep[j] = o->to;
		recv_ep[j].sin_port =
		    htons((uint16_t)(ntohs(o->to.sin_port) + j));
	}
	if ((vm || both) && vm_setup(&r, o))
		goto out;
	for (i = 0; i < RX_BATCH; i++) {
		iov[i] = (struct iovec){bufs[i], PKT_MAX};
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
		msgs[i].msg_hdr.msg_name = &from[i];
	}
	slice = start;
	while (!stop) {
		for (i = 0; i < RX_BATCH; i++)
			msgs[i].msg_hdr.msg_namelen = sizeof(from[i]);
		k = recvmmsg(rx_fd, msgs, RX_BATCH, MSG_WAITFORONE, NULL);
		t = now_s();
		if (!started && k > 0) { /* the clock starts with the first */
			started = true;
			mark_now(&start, &r);
			slice = start;
		}
		if (started && t - start.wall >= total)
			break;
		if (k <= 0) {
			if (k < 0 && errno != EAGAIN && errno != EINTR) {
				fprintf(stderr, "d4relay: recvmmsg: %m\n");
				goto out;
			}
			if (!started && t > wait_until) {
				fprintf(stderr, "d4relay: no packets\n");
				goto out;
			}
			continue;
		}
		relay_batch(&r, vm, msgs, from, k, recv_ep, o->n, &fig[vm]);
		if (both && t - slice.wall >= SLICE_S) {
			mark_now(&m, &r);
			figures_add(&fig[vm], &slice, &m);
			slice = m;
			vm = !vm;
		}
	}
	relay_flush(&r);
	mark_now(&m, &r);
	figures_add(&fig[vm], &slice, &m);
	if (both || !vm)
		print_figures("c", o->n, &fig[0], 0);
	if (both || vm)
		print_figures("vm", o->n, &fig[1], r.copies_made);
	ret = 0;
out:
	d4_runtime_destroy(r.rt);
	free(r.copies);
	close(rx_fd);
	close(tx_fd);
	return ret;
}

/* ---- --mode three: C, VM and kernel relays in turns ---- */

/* ns a thread has run (schedstat's first field), or 0 */
static uint64_t ran_ns(const char *path)
{
	unsigned long long ns = 0;
	FILE *f = fopen(path, "r");

	if (f) {
		if (fscanf(f, "%llu", &ns) != 1)
			ns = 0;
		fclose(f);
	}
	return ns;
}

struct account {
	char paths[8][64];
	int n;
};

static void account_init(struct account *a, const char *pids)
{
	const char *p = pids;

	a->n = 0;
	snprintf(a->paths[a->n++], sizeof(a->paths[0]), "/proc/self/schedstat");
	while (p && *p && a->n < 8) {
		long pid = strtol(p, (char **)&p, 10);

		if (pid > 0)
			snprintf(a->paths[a->n++], sizeof(a->paths[0]),
				 "/proc/%ld/schedstat", pid);
		if (*p == ',')
			p++;
		else
			break;
	}
}

static uint64_t account_ns(const struct account *a)
{
	uint64_t ns = 0;
	int i;

	for (i = 0; i < a->n; i++)
		ns += ran_ns(a->paths[i]);
	return ns;
}

struct turn {
	double wall;
	uint64_t cpu_ns;
	uint64_t pkts; /* packets relayed */
	uint64_t out;  /* datagrams handed out (the kernel's: copies) */
	uint64_t turns;
};

static int bound_socket(const struct sockaddr_in *addr, uint16_t port)
{
	struct sockaddr_in sa = *addr;

	sa.sin_port = htons(port);
	return udp_socket(&sa);
}

/* The list of N receivers as text, or with @none the empty list. */
static void list_text(const struct opts *o, bool none, char *buf, size_t cap)
{
	char a[INET_ADDRSTRLEN];
	size_t pos = (size_t)snprintf(buf, cap, "_receivers = [");
	unsigned int i;

	inet_ntop(AF_INET, &o->to.sin_addr, a, sizeof(a));
	for (i = 0; !none && i < o->n && pos < cap; i++)
		pos += (size_t)snprintf(buf + pos, cap - pos, "%s%s:%u",
					i ? ", " : "", a,
					ntohs(o->to.sin_port) + i);
	if (pos < cap)
		snprintf(buf + pos, cap - pos, "]");
}

enum turn_kind { T_C, T_VM, T_KERNEL, T_BASE, T_KINDS };

/* The kernel's loop on (@on) or off, over the whole list or (@none)
 * none: the base turn runs the loop over an empty list, so that what it
 * costs is making the packet and getting it to tc ingress. */
static int kernel_switch(struct relay *r, struct d4_kern *k,
			 const struct opts *o, bool on, bool none)
{
	char list[32 * (MAX_RECV + 1)], why[256];

	list_text(o, none, list, sizeof(list));
	if (d4_exec(r->rt, list, strlen(list), NULL, why, sizeof(why)))
		return -EINVAL;
	if (on)
		d4_start(r->rt, r->handle);
	else
		d4_stop(r->rt, r->handle);
	if (d4_kern_sync(k, why, sizeof(why))) {
		fprintf(stderr, "d4relay: %s\n", why);
		return -EIO;
	}
	/* the VM's turns need it started; the kernel's copy follows only
	 * at the next sync */
	return d4_start(r->rt, r->handle);
}

static int run_three(const struct opts *o)
{
	static uint8_t bufs[RX_BATCH][PKT_MAX] ALIGNED;
	static struct mmsghdr msgs[RX_BATCH];
	static struct iovec iov[RX_BATCH];
	static struct sockaddr_in from[RX_BATCH];
	static struct relay r;
	static const char *const names[T_KINDS] = {"c", "vm", "kernel", "base"};
	struct sockaddr_in recv_ep[MAX_RECV];
	struct timeval tmo = {.tv_usec = 20000};
	struct d4_kern_opts ko = {.ifname = o->ifname,
				  .src_port = SPORT_KERNEL};
	struct turn tn[T_KINDS] = {0};
	struct account acct;
	struct d4_kern *k = NULL;
	struct d4_kern_stats ks0 = {0}, ks1;
	char why[256];
	double t, start = 0, wait_until = now_s() + 10, turn_start = 0;
	uint64_t ns0 = 0, out0 = 0, thrown = 0;
	int rx_fd, fd[2], kk, i, kinds = T_KINDS, ret = 1;
	enum turn_kind m = T_C;
	bool started = false;
	unsigned int j;

	account_init(&acct, o->account);
	rx_fd = udp_socket(&o->listen);
	fd[0] = bound_socket(&o->listen, SPORT_C);
	fd[1] = bound_socket(&o->listen, SPORT_VM);
	if (rx_fd < 0 || fd[0] < 0 || fd[1] < 0)
		return 1;
	setsockopt(rx_fd, SOL_SOCKET, SO_RCVTIMEO, &tmo, sizeof(tmo));
	tx_init(&r.tx, fd[0]);
	for (j = 0; j < o->n; j++) {
		recv_ep[j] = o->to;
		recv_ep[j].sin_port =
		    htons((uint16_t)(ntohs(o->to.sin_port) + j));
	}
	if (vm_setup(&r, o))
		goto out;
	/* the program bound to the relay's address, for the kernel */
	{
		char b[64], a[INET_ADDRSTRLEN];

		inet_ntop(AF_INET, &o->listen.sin_addr, a, sizeof(a));
		snprintf(b, sizeof(b), "udp %s:%u", a,
			 ntohs(o->listen.sin_port));
		if (d4_set_binding(r.rt, r.handle, b, why, sizeof(why))) {
			fprintf(stderr, "d4relay: binding: %s\n", why);
			goto out;
		}
	}
	k = d4_kern_new(r.rt);
	d4_stop(r.rt, r.handle); /* in the kernel: packets go up, for now */
	if (!k || d4_kern_attach(k, r.handle, &ko, why, sizeof(why))) {
		printf("kernel refused: %s\n", k ? why : "no memory");
		kinds = T_KERNEL; /* C and VM only */
	}
	d4_start(r.rt, r.handle); /* the VM's */
	for (i = 0; i < RX_BATCH; i++) {
		iov[i] = (struct iovec){bufs[i], PKT_MAX};
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
		msgs[i].msg_hdr.msg_name = &from[i];
	}
	for (;;) {
		for (i = 0; i < RX_BATCH; i++)
			msgs[i].msg_hdr.msg_namelen = sizeof(from[i]);
		kk = recvmmsg(rx_fd, msgs, RX_BATCH, MSG_WAITFORONE, NULL);
		t = now_s();
		if (!started && kk > 0) { /* the clock starts with the first */
			started = true;
			start = turn_start = t;
			ns0 = account_ns(&acct);
			out0 = r.tx.sent;
		}
		if (!started) {
			if (t > wait_until) {
				fprintf(stderr, "d4relay: no packets\n");
				goto out;
			}
			continue;
		}
		if (kk > 0 && m <= T_VM) {
			relay_batch(&r, m == T_VM, msgs, from, kk, recv_ep,
				    o->n, &(struct figures){0});
			tn[m].pkts += (uint64_t)kk;
		} else if (kk > 0) {
			thrown += (uint64_t)kk; /* passed up while switching */
		}
		if (t - turn_start < SLICE3_S)
			continue;
		/* the turn ends: the kernel's loop stopped first, so that
		 * every copy it sent is in the turn's figures */
		relay_flush(&r);
		if (m >= T_KERNEL) {
			if (kernel_switch(&r, k, o, false, false))
				goto out;
			d4_kern_stats(k, r.handle, &ks1);
			tn[m].out += ks1.sent - ks0.sent;
			tn[m].pkts += ks1.in - ks0.in;
		} else {
			tn[m].out += r.tx.sent - out0;
		}
		tn[m].wall += now_s() - turn_start;
		tn[m].cpu_ns += account_ns(&acct) - ns0;
		tn[m].turns++;
		if (t - start >= kinds * o->seconds)
			break;
		m = (enum turn_kind)((m + 1) % kinds);
		if (m <= T_VM) {
			r.tx.fd = fd[m];
		} else {
			/* the kernel's turn; what the socket holds from before
			 * is thrown away before the turn's clock starts */
			if (kernel_switch(&r, k, o, true, m == T_BASE))
				goto out;
			while ((kk = recvmmsg(rx_fd, msgs, RX_BATCH,
					      MSG_DONTWAIT, NULL)) > 0)
				thrown += (uint64_t)kk;
			d4_kern_stats(k, r.handle, &ks0);
		}
		out0 = r.tx.sent;
		turn_start = now_s();
		ns0 = account_ns(&acct);
	}
	for (i = 0; i < kinds; i++)
		printf("relay mode=%s n=%u turns=%llu secs=%.3f pkts=%llu "
		       "out=%llu cpu_s=%.4f\n",
		       names[i], o->n, (unsigned long long)tn[i].turns,
		       tn[i].wall, (unsigned long long)tn[i].pkts,
		       (unsigned long long)tn[i].out,
		       (double)tn[i].cpu_ns / 1e9);
	printf("relay thrown=%llu\n", (unsigned long long)thrown);
	ret = 0;
out:
	d4_kern_destroy(k);
	d4_runtime_destroy(r.rt);
	free(r.copies);
	close(rx_fd);
	close(fd[0]);
	close(fd[1]);
	return ret;
}

/* Back-to-back RTP packets: sequence number and timestamp advance as a
 * 1 ms, 48 kHz stream's would, just much faster. */
static int run_gen(const struct opts *o)
{
	static uint8_t bufs[RX_BATCH][PKT_MAX] ALIGNED;
	static struct mmsghdr msgs[RX_BATCH];
	static struct iovec iov[RX_BATCH];
	struct timespec next;
	int batch = RX_BATCH;
	uint64_t sent = 0, errors = 0;
	double t0 = now_s(), t1;
	uint16_t seq = 0;
	uint32_t ts = 0;
	int fd, i, k;

	fd = udp_socket(NULL);
	if (fd < 0)
		return 1;
	if (connect(fd, (const struct sockaddr *)&o->to, sizeof(o->to))) {
		fprintf(stderr, "d4relay: connect: %m\n");
		close(fd);
		return 1;
	}
	for (i = 0; i < RX_BATCH; i++) {
		uint8_t *p = bufs[i];
		size_t b;

		p[0] = 0x80;
		p[1] = 98;
		memcpy(p + 8, "\x44\x34\x00\x01", 4); /* SSRC */
		for (b = 12; b < o->size; b++)
			p[b] = (uint8_t)(b * 7);
		iov[i] = (struct iovec){p, o->size};
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	/* paced: bursts of about a millisecond's packets, on time */
	if (o->rate > 0) {
		batch = (int)(o->rate / 1000);
		batch = batch < 1 ? 1 : batch > RX_BATCH ? RX_BATCH : batch;
	}
	clock_gettime(CLOCK_MONOTONIC, &next);
	while (!stop && now_s() - t0 < o->seconds) {
		for (i = 0; i < batch; i++, seq++, ts += 48) {
			uint32_t nts = htonl(ts);

			bufs[i][2] = (uint8_t)(seq >> 8);
			bufs[i][3] = (uint8_t)seq;
			memcpy(bufs[i] + 4, &nts, 4);
		}
		k = sendmmsg(fd, msgs, (unsigned int)batch, 0);
		if (k < 0) {
			errors++;
			continue;
		}
		sent += (uint64_t)k;
		if (o->rate > 0) {
			long ns = (long)(1e9 * batch / o->rate);

			next.tv_nsec += ns % 1000000000L;
			next.tv_sec +=
			    ns / 1000000000L + next.tv_nsec / 1000000000L;
			next.tv_nsec %= 1000000000L;
			clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next,
					NULL);
		}
	}
	t1 = now_s();
	printf("gen pkts=%llu secs=%.3f pps=%.0f errors=%llu\n",
	       (unsigned long long)sent, t1 - t0, (double)sent / (t1 - t0),
	       (unsigned long long)errors);
	close(fd);
	return 0;
}

/* The sink polls its sockets without sleeping: a relay whose send has to
 * wake a sleeping receiver pays for the wake-up, more than for the
 * datagram, and whether one is needed depends on how the scheduler runs the
 * sink, which made the relay's figures swing by 10 % from run to run. */
static int run_sink(const struct opts *o)
{
	static uint8_t bufs[RX_BATCH][PKT_MAX] ALIGNED;
	static struct mmsghdr msgs[RX_BATCH];
	static struct iovec iov[RX_BATCH];
	static struct sockaddr_in from[RX_BATCH];
	int fds[2 * MAX_RECV], i, k;
	uint64_t got = 0, got2 = 0, polls = 0, by[3] = {0};
	double t0 = now_s();
	unsigned int j, nfd = o->to2.sin_port ? 2 * o->n : o->n;

	for (j = 0; j < nfd; j++) {
		struct sockaddr_in sa = j < o->n ? o->to : o->to2;

		sa.sin_port = htons((uint16_t)(ntohs(sa.sin_port) + j % o->n));
		fds[j] = udp_socket(&sa);
		if (fds[j] < 0)
			return 1;
	}
	for (i = 0; i < RX_BATCH; i++) {
		iov[i] = (struct iovec){bufs[i], PKT_MAX};
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
		msgs[i].msg_hdr.msg_name = &from[i];
	}
	while (!stop && ((++polls & 255) || now_s() - t0 < o->seconds)) {
		for (j = 0; j < nfd; j++) {
			for (;;) {
				for (i = 0; i < RX_BATCH; i++)
					msgs[i].msg_hdr.msg_namelen =
					    sizeof(from[i]);
				k = recvmmsg(fds[j], msgs, RX_BATCH,
					     MSG_DONTWAIT, NULL);
				if (k <= 0)
					break;
				if (j < o->n)
					got += (uint64_t)k;
				else
					got2 += (uint64_t)k;
				/* --mode three: whose copy, by source port */
				for (i = 0; i < k; i++) {
					unsigned int sp =
					    ntohs(from[i].sin_port);

					if (sp >= SPORT_C && sp <= SPORT_KERNEL)
						by[sp - SPORT_C]++;
				}
			}
		}
	}
	printf("sink n=%u pkts=%llu pkts2=%llu c=%llu vm=%llu kernel=%llu\n",
	       o->n, (unsigned long long)got, (unsigned long long)got2,
	       (unsigned long long)by[0], (unsigned long long)by[1],
	       (unsigned long long)by[2]);
	for (j = 0; j < nfd; j++)
		close(fds[j]);
	return 0;
}

static int usage(void)
{
	fprintf(stderr, "usage: see the opening comment of bench/d4relay.c\n");
	return 2;
}

int main(int argc, char *argv[])
{
	static const struct option long_opts[] = {
	    {"mode", required_argument, NULL, 'm'},
	    {"listen", required_argument, NULL, 'l'},
	    {"to", required_argument, NULL, 't'},
	    {"n", required_argument, NULL, 'n'},
	    {"seconds", required_argument, NULL, 's'},
	    {"program", required_argument, NULL, 'p'},
	    {"copy", required_argument, NULL, 'c'},
	    {"size", required_argument, NULL, 'z'},
	    {"if", required_argument, NULL, 'i'},
	    {"account", required_argument, NULL, 'a'},
	    {"rate", required_argument, NULL, 'r'},
	    {"to2", required_argument, NULL, 'T'},
	    {0},
	};
	struct opts o = {.n = 1, .seconds = 5, .size = RTP_BYTES};
	bool have_listen = false, have_to = false;
	int c;

	while ((c = getopt_long(argc, argv, "", long_opts, NULL)) != -1) {
		switch (c) {
		case 'm':
			o.mode = optarg;
			break;
		case 'l':
			if (net_parse_endpoint(optarg, 0, &o.listen) < 0) {
				fprintf(stderr, "d4relay: bad --listen '%s'\n",
					optarg);
				return 2;
			}
			have_listen = true;
			break;
		case 't':
			if (net_parse_endpoint(optarg, 0, &o.to) < 0) {
				fprintf(stderr, "d4relay: bad --to '%s'\n",
					optarg);
				return 2;
			}
			have_to = true;
			break;
		case 'n':
			o.n = (unsigned int)atoi(optarg);
			break;
		case 's':
			o.seconds = atof(optarg);
			break;
		case 'p':
			o.program = optarg;
			break;
		case 'c':
			o.copy_each = !strcmp(optarg, "each");
			if (!o.copy_each && strcmp(optarg, "changed")) {
				fprintf(stderr, "d4relay: bad --copy '%s'\n",
					optarg);
				return 2;
			}
			break;
		case 'z':
			o.size = (size_t)atoi(optarg);
			break;
		case 'i':
			o.ifname = optarg;
			break;
		case 'a':
			o.account = optarg;
			break;
		case 'r':
			o.rate = atof(optarg);
			break;
		case 'T':
			if (net_parse_endpoint(optarg, 0, &o.to2) < 0 ||
			    !o.to2.sin_port) {
				fprintf(stderr, "d4relay: bad --to2 '%s'\n",
					optarg);
				return 2;
			}
			break;
		default:
			return usage();
		}
	}
	if (!o.mode || !have_to || o.n < 1 || o.n > MAX_RECV ||
	    o.seconds <= 0 || o.size < 12 || o.size > PKT_MAX)
		return usage();
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	if (!strcmp(o.mode, "gen"))
		return run_gen(&o);
	if (!strcmp(o.mode, "sink"))
		return run_sink(&o);
	if (!strcmp(o.mode, "probe")) {
		char why[256];

		if (!d4_kern_probe(why, sizeof(why)))
			return 0;
		printf("%s\n", why);
		return 77;
	}
	if (!strcmp(o.mode, "three"))
		return have_listen && o.ifname ? run_three(&o) : usage();
	if ((strcmp(o.mode, "c") && strcmp(o.mode, "vm") &&
	     strcmp(o.mode, "both")) ||
	    !have_listen)
		return usage();
	return run_relay(&o);
}
