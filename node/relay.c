/* The host side of libd4 (see relay.h). Output batches are per loop, so a
 * fan-out of N receivers leaves in one sendmmsg() call per packet. */
#include "node/relay.h"
#include "common/log.h"
#include "node/flow.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define OUT_BATCH  (D4_MAX_LIST + 4) /* one packet to every receiver */
#define FLOW_BATCH 8
#define OUT_MTU	   1500
#define RX_BATCH   16
#define RX_BUF	   2048
#define MAX_RX	   D4_MAX_PROGRAMS

struct relay_out {
	int fd;
	bool own_fd;
	unsigned int n, cap;
	struct relay_out_stats stats;
	struct mmsghdr *msgs;
	struct iovec *iov;
	struct sockaddr_in *dst;
	uint8_t (*bufs)[OUT_MTU];
};

/* A batch of @cap packets: a full one is sent at once, so a small batch
 * costs only more sendmmsg() calls. */
static struct relay_out *out_new(unsigned int cap)
{
	struct relay_out *o = calloc(1, sizeof(*o));

	if (!o)
		return NULL;
	o->cap = cap;
	o->msgs = calloc(cap, sizeof(*o->msgs));
	o->iov = calloc(cap, sizeof(*o->iov));
	o->dst = calloc(cap, sizeof(*o->dst));
	o->bufs = calloc(cap, sizeof(*o->bufs));
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

struct relay {
	struct d4_runtime *rt;
	struct relay_out *out[D4_MAX_PROGRAMS];
	struct relay_port ports[D4_MAX_PROGRAMS];
	struct relay_rx *rx[MAX_RX];
	unsigned int nrx;
};

#define ADD(f, n)                                                              \
	atomic_store_explicit(                                                 \
	    &(f), atomic_load_explicit(&(f), memory_order_relaxed) + (n),      \
	    memory_order_relaxed)

static void out_flush(struct relay_out *o)
{
	unsigned int done = 0;

	while (done < o->n) {
		int k =
		    sendmmsg(o->fd, o->msgs + done, o->n - done, MSG_DONTWAIT);

		if (k <= 0) {
			/* Count the one that failed and go on with the
			 * rest: one bad receiver must not silence the others.
			 */
			ADD(o->stats.send_errors, 1);
			done++;
			continue;
		}
		ADD(o->stats.datagrams, (unsigned int)k);
		done += (unsigned int)k;
	}
	o->n = 0;
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
	memcpy(o->bufs[o->n], pkt, len);
	o->dst[o->n] = *dst;
	o->iov[o->n] = (struct iovec){o->bufs[o->n], len};
	o->msgs[o->n].msg_hdr = (struct msghdr){
	    .msg_name = &o->dst[o->n],
	    .msg_namelen = sizeof(o->dst[o->n]),
	    .msg_iov = &o->iov[o->n],
	    .msg_iovlen = 1,
	};
	o->n++;
	return 0;
}

struct relay *relay_new(void)
{
	struct relay *r = calloc(1, sizeof(*r));
	struct d4_host host = {.send = host_send};

	if (!r)
		return NULL;
	host.ctx = r;
	r->rt = d4_runtime_new(&host);
	if (!r->rt) {
		free(r);
		return NULL;
	}
	return r;
}

void relay_destroy(struct relay *r)
{
	unsigned int i;

	if (!r)
		return;
	d4_runtime_destroy(r->rt);
	for (i = 0; i < D4_MAX_PROGRAMS; i++)
		out_free(r->out[i]);
	for (i = 0; i < r->nrx; i++) {
		close(r->rx[i]->fd);
		free(r->rx[i]);
	}
	free(r);
}

struct d4_runtime *relay_runtime(struct relay *r)
{
	return r->rt;
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
	r->out[handle] = o;
	return 0;
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

int relay_bind_udp_loops(struct relay *r, const struct net_tx_opts *opts,
			 char *err, size_t err_len)
{
	int handles[D4_MAX_PROGRAMS], n, i, rc;

	n = d4_program_list(r->rt, handles, D4_MAX_PROGRAMS);
	for (i = 0; i < n; i++) {
		struct d4_program_info info;
		struct relay_rx *rx;

		if (d4_program_info(r->rt, handles[i], &info) < 0 ||
		    info.bind_kind != D4_BIND_UDP || r->out[handles[i]])
			continue;
		rc = relay_attach_output(r, handles[i], -1, opts);
		if (rc < 0) {
			snprintf(err, err_len, "loop %s: output socket: %s",
				 info.name, strerror(-rc));
			return rc;
		}
		rx = calloc(1, sizeof(*rx));
		if (!rx || r->nrx == MAX_RX) {
			free(rx);
			snprintf(err, err_len, "loop %s: out of memory",
				 info.name);
			return -ENOMEM;
		}
		rx->fd = net_udp_rx_open(
		    &info.bind_addr,
		    opts->ifname && *opts->ifname ? opts->ifname : NULL);
		if (rx->fd < 0) {
			snprintf(err, err_len,
				 "loop %s: cannot listen on %s: %s", info.name,
				 info.binding + 4, strerror(-rx->fd));
			free(rx);
			return -EINVAL;
		}
		rx->handle = handles[i];
		r->rx[r->nrx++] = rx;
		d4_start(r->rt, handles[i]);
		log_info("d4: loop %s on %s, worst case %llu instructions per "
			 "packet",
			 info.name, info.binding,
			 (unsigned long long)info.wcet_insns);
	}
	return 0;
}

const struct relay_out_stats *relay_stats(const struct relay *r, int handle)
{
	if (handle < 0 || handle >= D4_MAX_PROGRAMS || !r->out[handle])
		return NULL;
	return &r->out[handle]->stats;
}

int relay_run(struct relay *r, int handle, uint8_t *pkt, size_t len,
	      const struct sockaddr_in *src)
{
	int rc = d4_run(r->rt, handle, pkt, len, src);

	if (handle >= 0 && handle < D4_MAX_PROGRAMS && r->out[handle] &&
	    r->out[handle]->n)
		out_flush(r->out[handle]);
	return rc;
}

unsigned int relay_rx_count(const struct relay *r)
{
	return r->nrx;
}

int relay_rx_fd(const struct relay *r, unsigned int i)
{
	return r->rx[i]->fd;
}

void relay_rx_drain(struct relay *r, unsigned int i)
{
	struct relay_rx *rx = r->rx[i];
	int k, n;

	for (;;) {
		for (k = 0; k < RX_BATCH; k++) {
			rx->iov[k] = (struct iovec){rx->bufs[k], RX_BUF};
			rx->msgs[k].msg_hdr = (struct msghdr){
			    .msg_name = &rx->from[k],
			    .msg_namelen = sizeof(rx->from[k]),
			    .msg_iov = &rx->iov[k],
			    .msg_iovlen = 1,
			};
		}
		n = recvmmsg(rx->fd, rx->msgs, RX_BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0)
			return;
		for (k = 0; k < n; k++)
			relay_run(r, rx->handle, rx->bufs[k],
				  rx->msgs[k].msg_len, &rx->from[k]);
		if (n < RX_BATCH)
			return;
	}
}
