/* d4krelay: a D4 relay on the kernel back end, standing in for d4node's
 * relay until the node core calls d4/kernel.h itself (docs/d4.md "Back
 * ends" says what the node must call; this program makes the same calls).
 * One program file, its loop bound to a UDP address, run per --backend:
 * in the kernel at --if's tc ingress, or on the VM. The binding's socket
 * stays open either way (it joins the group), and whatever the kernel
 * leaves to the stack runs through the VM. A control socket speaks the
 * node's protocol (d4_ctl in tests/lib.sh): "exec STATEMENT" (then
 * d4_kern_sync), "vars", "programs" (with the back end and why).
 *
 * usage: d4krelay --program FILE --if IFACE [--bind 'udp ADDR:PORT']
 *          [--backend auto|vm|kernel] [--control PATH] [--exec STMT]...
 *          [--dscp N] [--ttl N] [--run-seconds S]
 *        d4krelay --probe   (exit 0, or 77 with the reason the kernel
 *                            back end cannot run here)
 * At exit: "final: d4 LOOP backend=... in= sent= dropped= errors=" (both
 * back ends together) and the kernel's own figures. */
#include "common/log.h"
#include "common/net.h"
#include "d4/d4.h"
#include "d4/kernel.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define MAX_EXEC 64
#define RX_BUF	 65536

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

struct relay {
	struct d4_runtime *rt;
	struct d4_kern *k;
	int handle;
	int tx_fd;
	int rx_fd;
	int ctl_fd;
	uint64_t vm_sent;
};

/* The VM's sends (what the kernel left to the stack): one datagram each. */
static int vm_send(void *ctx, int handle, const uint8_t *pkt, size_t len,
		   const struct sockaddr_in *dst)
{
	struct relay *r = ctx;

	(void)handle;
	if (sendto(r->tx_fd, pkt, len, MSG_DONTWAIT,
		   (const struct sockaddr *)dst, sizeof(*dst)) < 0)
		return -errno;
	r->vm_sent++;
	return 0;
}

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	if (!f)
		return NULL;
	if (!fseek(f, 0, SEEK_END) && (n = ftell(f)) >= 0 &&
	    !fseek(f, 0, SEEK_SET) && (buf = calloc(1, (size_t)n + 1)) &&
	    fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	return buf;
}

static int control_open(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		log_err("control socket %s: %m", path);
		close(fd);
		return -errno;
	}
	chmod(path, 0600);
	return fd;
}

static size_t programs(struct relay *r, char *out, size_t len)
{
	int handles[D4_MAX_PROGRAMS], n, i;
	size_t off = 0;

	n = d4_program_list(r->rt, handles, D4_MAX_PROGRAMS);
	for (i = 0; i < n && off < len; i++) {
		struct d4_program_info pi;

		if (d4_kern_program_info(r->k, handles[i], &pi))
			continue;
		off += (size_t)snprintf(
		    out + off, len - off,
		    "%s %s %s backend=%s in=%llu sent=%llu dropped=%llu "
		    "errors=%llu why=\"%s\"\n",
		    pi.name, pi.binding, pi.running ? "running" : "stopped",
		    pi.backend, (unsigned long long)pi.pkts_in,
		    (unsigned long long)pi.pkts_sent,
		    (unsigned long long)pi.pkts_dropped,
		    (unsigned long long)pi.errors, pi.backend_why);
	}
	return off;
}

static void control(struct relay *r)
{
	struct sockaddr_un from;
	socklen_t flen = sizeof(from);
	char req[1024], rsp[8192], msg[512], why[256];
	size_t off = 0;
	ssize_t len;
	int i, n, h = -1;

	len = recvfrom(r->ctl_fd, req, sizeof(req) - 1, 0,
		       (struct sockaddr *)&from, &flen);
	if (len < 0)
		return;
	req[len] = '\0';
	while (len && (req[len - 1] == '\n' || req[len - 1] == '\r'))
		req[--len] = '\0';
	if (!strncmp(req, "exec ", 5)) {
		if (d4_exec(r->rt, req + 5, strlen(req + 5), &h, msg,
			    sizeof(msg))) {
			off = (size_t)snprintf(rsp, sizeof(rsp), "error: %s\n",
					       msg);
		} else if (h >= 0) {
			d4_remove(r->rt, h);
			off = (size_t)snprintf(rsp, sizeof(rsp),
					       "error: 1:1: a loop cannot be "
					       "added here\n");
		} else {
			/* the kernel's copy of the variables follows */
			if (d4_kern_sync(r->k, why, sizeof(why)))
				log_warn("d4: %s", why);
			off = (size_t)snprintf(rsp, sizeof(rsp), "ok\n");
			log_info("control: exec '%s'", req + 5);
		}
	} else if (!strcmp(req, "vars")) {
		n = d4_var_count(r->rt);
		for (i = 0; i < n && off < sizeof(rsp); i++) {
			struct d4_var_info vi;
			char val[4096];

			if (d4_var_info(r->rt, i, &vi))
				continue;
			d4_var_format(r->rt, vi.name, val, sizeof(val));
			off += (size_t)snprintf(rsp + off, sizeof(rsp) - off,
						"%s %s = %s\n", vi.type,
						vi.name, val);
		}
	} else if (!strcmp(req, "programs")) {
		off = programs(r, rsp, sizeof(rsp));
	} else {
		off = (size_t)snprintf(rsp, sizeof(rsp),
				       "error: unknown request\n");
	}
	if (off > sizeof(rsp))
		off = sizeof(rsp);
	sendto(r->ctl_fd, rsp, off, MSG_DONTWAIT, (struct sockaddr *)&from,
	       flen);
}

static void drain(struct relay *r)
{
	static uint8_t buf[RX_BUF];
	struct sockaddr_in from;
	socklen_t fl;
	ssize_t n;

	for (;;) {
		fl = sizeof(from);
		n = recvfrom(r->rx_fd, buf, sizeof(buf), MSG_DONTWAIT,
			     (struct sockaddr *)&from, &fl);
		if (n < 0)
			return;
		d4_run(r->rt, r->handle, buf, (size_t)n, &from);
	}
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int usage(void)
{
	fprintf(stderr, "usage: see the opening comment of "
			"tests/tools/d4krelay.c\n");
	return 2;
}

int main(int argc, char *argv[])
{
	static const struct option lo[] = {
	    {"program", required_argument, NULL, 'p'},
	    {"if", required_argument, NULL, 'i'},
	    {"bind", required_argument, NULL, 'b'},
	    {"backend", required_argument, NULL, 'B'},
	    {"control", required_argument, NULL, 'c'},
	    {"exec", required_argument, NULL, 'e'},
	    {"dscp", required_argument, NULL, 'd'},
	    {"ttl", required_argument, NULL, 't'},
	    {"run-seconds", required_argument, NULL, 's'},
	    {"probe", no_argument, NULL, 'P'},
	    {0},
	};
	struct relay r = {.rx_fd = -1, .ctl_fd = -1, .tx_fd = -1};
	struct d4_host host = {.send = vm_send, .ctx = &r};
	struct d4_kern_opts ko = {0};
	struct net_tx_opts txo = {.ttl = 1};
	struct d4_program_info pi;
	struct d4_kern_stats ks = {0};
	enum d4_backend backend = D4_BACKEND_AUTO;
	const char *program = NULL, *bind_text = NULL, *ctl_path = NULL;
	const char *execs[MAX_EXEC];
	char err[1024], msg[512], *text;
	double run_s = 0, t0, next_poll;
	int nexec = 0, c, i, ret = 1;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'p':
			program = optarg;
			break;
		case 'i':
			ko.ifname = optarg;
			break;
		case 'b':
			bind_text = optarg;
			break;
		case 'B':
			if (d4_backend_parse(optarg, &backend))
				return usage();
			break;
		case 'c':
			ctl_path = optarg;
			break;
		case 'e':
			if (nexec == MAX_EXEC)
				return usage();
			execs[nexec++] = optarg;
			break;
		case 'd':
			ko.dscp = txo.dscp = atoi(optarg);
			break;
		case 't':
			ko.mcast_ttl = txo.ttl = atoi(optarg);
			break;
		case 's':
			run_s = atof(optarg);
			break;
		case 'P':
			if (d4_kern_probe(err, sizeof(err))) {
				printf("%s\n", err);
				return 77;
			}
			return 0;
		default:
			return usage();
		}
	}
	if (!program || !ko.ifname)
		return usage();
	log_set_ident("d4krelay");
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	txo.ifname = ko.ifname;

	r.rt = d4_runtime_new(&host);
	r.k = r.rt ? d4_kern_new(r.rt) : NULL;
	text = read_file(program);
	if (!r.k || !text) {
		log_err("%s: %m", program);
		goto out;
	}
	if (d4_load(r.rt, text, strlen(text), err, sizeof(err))) {
		log_err("%s:%s", program, err);
		free(text);
		goto out;
	}
	free(text);
	if (d4_program_list(r.rt, &r.handle, 1) < 1) {
		log_err("%s: no loop", program);
		goto out;
	}
	if (bind_text &&
	    d4_set_binding(r.rt, r.handle, bind_text, err, sizeof(err))) {
		log_err("--bind '%s': %s", bind_text, err);
		goto out;
	}
	for (i = 0; i < nexec; i++) {
		if (d4_exec(r.rt, execs[i], strlen(execs[i]), NULL, err,
			    sizeof(err))) {
			log_err("--exec '%s': %s", execs[i], err);
			goto out;
		}
	}
	d4_program_info(r.rt, r.handle, &pi);
	if (pi.bind_kind != D4_BIND_UDP) {
		log_err("loop %s: no UDP binding (--bind)", pi.name);
		goto out;
	}
	/* the VM's way out, and the binding's socket: what the kernel
	 * leaves to the stack lands there */
	r.tx_fd = net_udp_tx_open(&pi.bind_addr, &txo);
	r.rx_fd = net_udp_rx_open(&pi.bind_addr, ko.ifname);
	if (r.tx_fd < 0 || r.rx_fd < 0) {
		log_err("loop %s: sockets for %s failed", pi.name, pi.binding);
		goto out;
	}
	if (ctl_path) {
		r.ctl_fd = control_open(ctl_path);
		if (r.ctl_fd < 0)
			goto out;
	}
	d4_start(r.rt, r.handle);
	/* as a node would at start-up: the backend, one line either way */
	if (d4_kern_apply(r.k, r.handle, backend, &ko, msg, sizeof(msg))) {
		log_err("d4: %s", msg);
		goto out;
	}
	if (*msg)
		log_info("%s", msg);
	log_info("d4: loop %s on %s, worst case %llu instructions per packet",
		 pi.name, pi.binding, (unsigned long long)pi.wcet_insns);

	t0 = now_s();
	next_poll = t0;
	while (!stop && (run_s <= 0 || now_s() - t0 < run_s)) {
		struct pollfd p[2] = {{.fd = r.rx_fd, .events = POLLIN},
				      {.fd = r.ctl_fd, .events = POLLIN}};

		if (poll(p, r.ctl_fd >= 0 ? 2 : 1, 100) < 0 && errno != EINTR)
			break;
		if (p[0].revents & POLLIN)
			drain(&r);
		if (r.ctl_fd >= 0 && (p[1].revents & POLLIN))
			control(&r);
		if (now_s() >= next_poll) {
			/* neighbours: resolved since, moved, new */
			d4_kern_poll(r.k);
			next_poll = now_s() + 1;
		}
	}
	d4_kern_program_info(r.k, r.handle, &pi);
	d4_kern_stats(r.k, r.handle, &ks);
	printf("final: d4 %s backend=%s in=%llu sent=%llu dropped=%llu "
	       "errors=%llu kernel_in=%llu kernel_sent=%llu passed=%llu "
	       "no_neigh=%llu send_fail=%llu vm_sent=%llu bpf_insns=%u "
	       "verified_insns=%u\n",
	       pi.name, pi.backend, (unsigned long long)pi.pkts_in,
	       (unsigned long long)pi.pkts_sent,
	       (unsigned long long)pi.pkts_dropped,
	       (unsigned long long)pi.errors, (unsigned long long)ks.in,
	       (unsigned long long)ks.sent, (unsigned long long)ks.passed,
	       (unsigned long long)ks.no_neigh,
	       (unsigned long long)ks.send_fail, (unsigned long long)r.vm_sent,
	       ks.bpf_insns, ks.verified_insns);
	fflush(stdout);
	ret = 0;
out:
	d4_kern_destroy(r.k);
	d4_runtime_destroy(r.rt);
	if (r.rx_fd >= 0)
		close(r.rx_fd);
	if (r.tx_fd >= 0)
		close(r.tx_fd);
	if (r.ctl_fd >= 0) {
		close(r.ctl_fd);
		unlink(ctl_path);
	}
	return ret;
}
