/* The driver of the data-driven D4 tests. A case file is a list of
 * sections, run in order against one runtime:
 *
 *   -- src            program text, given to d4_exec; its loop is started
 *   -- srcfile PATH   the same with the text of file PATH, relative to the
 *                     case file's folder (the examples in examples/d4/)
 *   -- exec           more text for d4_exec (declarations, list changes)
 *   -- error          the previous src/exec must fail with this LINE:COL: msg
 *   -- in ADDR:PORT   one packet (hex) from that source, run through the loop
 *   -- in ADDR:PORT xN  the same packet N times, each run from the bytes
 *                     given; the copies sent are only counted (-- counters)
 *   -- out ADDR:PORT  the next packet (hex) the loop must have sent there
 *   -- ret N          what d4_run returned for the last packet
 *   -- trap           the loop's last run-time error, LINE:COL: message
 *   -- var NAME       the variable's value as text
 *   -- counters       in=N sent=N dropped=N errors=N [budget_drops=N]
 *   -- wcet           the loop's proven worst case
 *   -- sends          the loop's proven most datagrams per packet
 *   -- budget P S     d4_runtime_set_budget(P, S) for loops loaded later
 *   -- clock NS       the runtime's clock (per-second budgets) moves on
 *                     NS nanoseconds; it stands still otherwise
 *   -- stop / start   stop or start the loop
 *   -- binding        d4_set_binding text ("-": none); then the loop's
 *                     binding as text, or the error
 *
 * Every packet must leave exactly as the out sections say, no more. After
 * the last section the loop must never have run more instructions than its
 * proven worst case. With --coverage the driver instead checks that the
 * cases, together, use every opcode and expect every error message, and
 * that the reference manual lists every message.
 *
 * With --kernel the cases also run on the kernel back end (d4/kernel.h),
 * wherever it takes the loop: in a network namespace of its own the driver
 * attaches the loop at a veth's tc ingress (an unbound loop in a case
 * without binding sections is bound to udp 10.99.0.1:5004), injects each
 * -- in packet there, captures the copies the kernel sends, and requires
 * them to be the VM's copies of the same packet, in order, no more, with
 * correct headers (knet.c), and the kernel's counters and last trap to
 * move as the VM's did. Cases with a per-second budget are not compared:
 * the kernel's bucket runs on the kernel's clock, not the case's (the lab's
 * d4-backend-choice checks it through a node). --min-compared N fails the run
 * when fewer cases than N could be compared. Exit 77 (skip) when the kernel
 * refuses BPF. */
#include "d4/d4.h"
#include "d4/errors.h"
#include "d4/kernel.h"
#include "d4/opcodes.h"
#include "knet.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_SENT 512

/* --kernel: the wire, and what the run found */
static struct knet *knet;
static struct {
	int compared; /* cases whose packets ran on both back ends */
	int refused;  /* cases whose loop the kernel back end refused */
	long packets; /* packets compared */
} ktally;

struct sent_pkt {
	struct sockaddr_in dst;
	size_t len;
	uint8_t data[2048];
};

struct tcase {
	const char *path;
	char *text;
	struct d4_runtime *rt;
	int handle;
	struct sent_pkt sent[MAX_SENT];
	int nsent;
	bool count_only; /* a repeated -- in: copies are not kept */
	int next_out;
	int last_ret;
	int failures;
	/* what the previous src/exec did, for a following -- error */
	int last_exec_ret;
	char last_err[512];
	bool error_checked;
	int line; /* of the section being run */
	/* --kernel */
	struct d4_kern *k;
	bool has_binding_sections;
	bool krefused;
	long kpackets;
	char kwhy[256];
	/* per-second budgets: the fake clock, and whether one was set */
	uint64_t clock_ns;
	bool timed_budget;
};

static uint64_t host_now(void *ctx)
{
	const struct tcase *t = ctx;

	return t->clock_ns;
}

static int host_send(void *ctx, int handle, const uint8_t *pkt, size_t len,
		     const struct sockaddr_in *dst)
{
	struct tcase *t = ctx;
	struct sent_pkt *s;

	(void)handle;
	if (t->count_only)
		return 0;
	if (t->nsent >= MAX_SENT || len > sizeof(s->data))
		return -ENOBUFS;
	s = &t->sent[t->nsent++];
	s->dst = *dst;
	s->len = len;
	memcpy(s->data, pkt, len);
	return 0;
}

static void failf(struct tcase *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void failf(struct tcase *t, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s:%d: ", t->path, t->line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	t->failures++;
}

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	if (buf)
		buf[n] = '\0';
	fclose(f);
	return buf;
}

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

static int parse_ep(const char *s, struct sockaddr_in *sa)
{
	char buf[64], *colon;

	snprintf(buf, sizeof(buf), "%s", s);
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	colon = strchr(buf, ':');
	if (colon) {
		*colon = '\0';
		sa->sin_port = htons((uint16_t)atoi(colon + 1));
	}
	return inet_pton(AF_INET, buf, &sa->sin_addr) == 1 ? 0 : -EINVAL;
}

static void format_ep(const struct sockaddr_in *sa, char *buf, size_t len)
{
	char a[INET_ADDRSTRLEN];

	inet_ntop(AF_INET, &sa->sin_addr, a, sizeof(a));
	snprintf(buf, len, "%s:%u", a, ntohs(sa->sin_port));
}

/* Hex bytes, whitespace anywhere, '#' comments to the end of a line. */
static int parse_hex(const char *s, uint8_t *out, size_t max, size_t *len)
{
	int hi = -1, v;

	*len = 0;
	for (; *s; s++) {
		if (*s == '#') {
			while (*s && *s != '\n')
				s++;
			if (!*s)
				break;
			continue;
		}
		if (isspace((unsigned char)*s))
			continue;
		if (!isxdigit((unsigned char)*s))
			return -EINVAL;
		v = isdigit((unsigned char)*s)
			? *s - '0'
			: tolower((unsigned char)*s) - 'a' + 10;
		if (hi < 0) {
			hi = v;
			continue;
		}
		if (*len >= max)
			return -E2BIG;
		out[(*len)++] = (uint8_t)(hi << 4 | v);
		hi = -1;
	}
	return hi < 0 ? 0 : -EINVAL;
}

static void hexdump(const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		fprintf(stderr, "%02x%s", p[i], i + 1 < n ? " " : "\n");
	if (!n)
		fputc('\n', stderr);
}

/* Unchecked outputs of the previous packet are a failure. */
static void check_outputs_done(struct tcase *t)
{
	char ep[64];

	for (; t->next_out < t->nsent; t->next_out++) {
		format_ep(&t->sent[t->next_out].dst, ep, sizeof(ep));
		failf(t, "unexpected packet to %s:", ep);
		hexdump(t->sent[t->next_out].data, t->sent[t->next_out].len);
	}
}

static void check_error_done(struct tcase *t)
{
	if (!t->error_checked && t->last_exec_ret) {
		failf(t, "exec failed (%d): %s", t->last_exec_ret, t->last_err);
		t->error_checked = true;
	}
}

/* ---- the kernel back end beside the VM (--kernel) ---- */

/* Attach the case's loop, or follow the runtime's changes. */
static void kern_follow(struct tcase *t)
{
	struct d4_kern_opts o = {.ifname = KNET_IF,
				 .dscp = KNET_DSCP,
				 .ttl = KNET_TTL,
				 .mcast_ttl = KNET_MCAST_TTL};
	struct d4_program_info info;
	char why[256], err[256];

	if (!knet || t->handle < 0)
		return;
	if (t->timed_budget) {
		if (!t->krefused)
			snprintf(t->kwhy, sizeof(t->kwhy),
				 "not compared: a per-second budget runs on "
				 "the kernel's clock");
		t->krefused = true;
		return;
	}
	if (d4_kern_attached(t->k, t->handle)) {
		if (d4_kern_sync(t->k, why, sizeof(why)))
			printf("# %s: kernel: %s\n", t->path, why);
		return;
	}
	if (d4_program_info(t->rt, t->handle, &info))
		return;
	if (info.bind_kind == D4_BIND_NONE && !t->has_binding_sections &&
	    d4_set_binding(t->rt, t->handle, "udp 10.99.0.1:5004", err,
			   sizeof(err)))
		failf(t, "binding for the kernel: %s", err);
	if (d4_kern_attach(t->k, t->handle, &o, why, sizeof(why))) {
		if (!t->krefused)
			snprintf(t->kwhy, sizeof(t->kwhy), "%s", why);
		t->krefused = true;
	}
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The same packet, @n times, through the kernel; @vm_before are the VM's
 * counters before the VM ran it. The kernel must send what the VM sent,
 * and count alike. */
static void kern_in(struct tcase *t, const struct sockaddr_in *src,
		    const uint8_t *pkt, size_t len, long n,
		    const struct d4_program_info *vm_before)
{
	struct d4_kern_stats a, b;
	struct d4_program_info vm, ki;
	struct knet_copy c;
	uint64_t want, got = 0;
	char why[256], x[64], y[64];
	double until;
	long i;
	int r;

	if (!knet || !d4_kern_attached(t->k, t->handle) ||
	    d4_program_info(t->rt, t->handle, &vm) ||
	    d4_kern_stats(t->k, t->handle, &a))
		return;
	for (i = 0; i < n; i++) {
		r = knet_inject(knet, src, &vm.bind_addr, pkt, len,
				(t->kpackets + i) % 2 == 0);
		if (r) {
			failf(t, "kernel: inject: %s", strerror(-r));
			return;
		}
	}
	/* every packet seen: run, or left to the stack */
	until = now_s() + 5;
	do {
		d4_kern_stats(t->k, t->handle, &b);
	} while (b.in + b.passed < a.in + a.passed + (uint64_t)n &&
		 now_s() < until);
	if (b.in + b.passed < a.in + a.passed + (uint64_t)n) {
		failf(t, "kernel: %llu of %ld packets arrived",
		      (unsigned long long)(b.in + b.passed - a.in - a.passed),
		      n);
		return;
	}
	t->kpackets += n;
	want = vm.pkts_sent - vm_before->pkts_sent;
	if (b.passed > a.passed) {
		/* the kernel left it to the stack: a stopped loop, or longer
		 * than the interface carries; the VM's run is then the only
		 * one (as on a node) */
		if (vm.running && len <= KNET_MTU - 28)
			failf(t, "kernel: left %llu packets to the stack",
			      (unsigned long long)(b.passed - a.passed));
		return;
	}
	while (got < want) {
		r = knet_next(knet, 2000, ntohs(vm.bind_addr.sin_port), &c, why,
			      sizeof(why));
		if (r == 0)
			break;
		if (r < 0) {
			failf(t, "kernel: %s", why);
			got++;
			continue;
		}
		if (!t->count_only && got < (uint64_t)t->nsent) {
			const struct sent_pkt *s = &t->sent[got];

			format_ep(&c.dst, x, sizeof(x));
			format_ep(&s->dst, y, sizeof(y));
			if (strcmp(x, y))
				failf(t,
				      "kernel: copy %llu went to %s, the "
				      "VM's to %s",
				      (unsigned long long)got + 1, x, y);
			else if (c.len != s->len ||
				 memcmp(c.data, s->data, c.len)) {
				failf(t,
				      "kernel: copy %llu to %s differs; "
				      "kernel:",
				      (unsigned long long)got + 1, x);
				hexdump(c.data, c.len);
				fprintf(stderr, "VM:\n");
				hexdump(s->data, s->len);
			}
		}
		got++;
	}
	if (got < want)
		failf(t, "kernel: %llu copies, the VM sent %llu",
		      (unsigned long long)got, (unsigned long long)want);
	else if (knet_next(knet, 30, 0, &c, why, sizeof(why)))
		failf(t, "kernel: more copies than the VM sent (%llu)",
		      (unsigned long long)want);
	ktally.packets += n;
	/* counters move alike */
	if (b.in - a.in != vm.pkts_in - vm_before->pkts_in ||
	    b.sent - a.sent != vm.pkts_sent - vm_before->pkts_sent ||
	    b.dropped - a.dropped !=
		vm.pkts_dropped - vm_before->pkts_dropped ||
	    b.errors - a.errors != vm.errors - vm_before->errors)
		failf(t,
		      "kernel counted in=%llu sent=%llu dropped=%llu "
		      "errors=%llu, the VM in=%llu sent=%llu dropped=%llu "
		      "errors=%llu",
		      (unsigned long long)(b.in - a.in),
		      (unsigned long long)(b.sent - a.sent),
		      (unsigned long long)(b.dropped - a.dropped),
		      (unsigned long long)(b.errors - a.errors),
		      (unsigned long long)(vm.pkts_in - vm_before->pkts_in),
		      (unsigned long long)(vm.pkts_sent - vm_before->pkts_sent),
		      (unsigned long long)(vm.pkts_dropped -
					   vm_before->pkts_dropped),
		      (unsigned long long)(vm.errors - vm_before->errors));
	if (vm.errors != vm_before->errors &&
	    !d4_kern_program_info(t->k, t->handle, &ki) &&
	    strcmp(ki.last_error, vm.last_error))
		failf(t, "kernel: last error '%s', the VM's '%s'",
		      ki.last_error, vm.last_error);
}

static void sec_exec(struct tcase *t, const char *body, bool start)
{
	int h = -1;

	t->last_exec_ret = d4_exec(t->rt, body, strlen(body), &h, t->last_err,
				   sizeof(t->last_err));
	t->error_checked = false;
	if (t->last_exec_ret)
		return;
	if (h >= 0) {
		t->handle = h;
		if (start && d4_start(t->rt, h))
			failf(t, "d4_start failed");
	}
	kern_follow(t);
}

/* @times: "" for one run, "xN" for N runs of the same bytes. */
static void sec_in(struct tcase *t, const char *arg, const char *times,
		   const char *body)
{
	static uint8_t pkt[D4_MAX_PKT], run[D4_MAX_PKT];
	struct d4_program_info before = {0};
	struct sockaddr_in src;
	long n = 1, i;
	size_t len;
	char *end;

	check_outputs_done(t);
	if (*times) {
		n = times[0] == 'x' ? strtol(times + 1, &end, 10) : 0;
		if (n < 1 || *end) {
			failf(t, "bad repeat '%s', expected xN", times);
			return;
		}
	}
	if (parse_ep(arg, &src) || parse_hex(body, pkt, sizeof(pkt), &len)) {
		failf(t, "bad in section");
		return;
	}
	t->nsent = 0;
	t->next_out = 0;
	t->count_only = *times != '\0';
	d4_program_info(t->rt, t->handle, &before);
	for (i = 0; i < n; i++) {
		/* the program may rewrite the packet: every run gets the
		 * bytes of the case */
		memcpy(run, pkt, len);
		t->last_ret = d4_run(t->rt, t->handle, run, len, &src);
	}
	kern_in(t, &src, pkt, len, n, &before);
	t->count_only = false;
}

/* A program from a file, as -- src: the examples in examples/d4/ are
 * tested as they are, not as copies. */
static void sec_srcfile(struct tcase *t, const char *arg)
{
	char path[4096], *text;
	const char *slash = strrchr(t->path, '/');

	if (!*arg) {
		failf(t, "srcfile needs a path");
		return;
	}
	if (arg[0] == '/' || !slash)
		snprintf(path, sizeof(path), "%s", arg);
	else
		snprintf(path, sizeof(path), "%.*s/%s", (int)(slash - t->path),
			 t->path, arg);
	text = read_file(path);
	if (!text) {
		failf(t, "%s: %m", path);
		return;
	}
	sec_exec(t, text, true);
	free(text);
}

static void sec_out(struct tcase *t, const char *arg, const char *body)
{
	struct sockaddr_in dst;
	struct sent_pkt *s;
	uint8_t want[2048];
	size_t len;
	char a[64], b[64];

	if (parse_ep(arg, &dst) || parse_hex(body, want, sizeof(want), &len)) {
		failf(t, "bad out section");
		return;
	}
	if (t->next_out >= t->nsent) {
		failf(t, "expected a packet to %s, none was sent", arg);
		return;
	}
	s = &t->sent[t->next_out++];
	format_ep(&dst, a, sizeof(a));
	format_ep(&s->dst, b, sizeof(b));
	if (strcmp(a, b))
		failf(t, "packet went to %s, expected %s", b, a);
	if (s->len != len || memcmp(s->data, want, len)) {
		failf(t, "packet to %s differs; got:", b);
		hexdump(s->data, s->len);
		fprintf(stderr, "expected:\n");
		hexdump(want, len);
	}
}

static void sec_counters(struct tcase *t, const char *body)
{
	struct d4_program_info info;
	unsigned long long in, sent, dropped, errors, bdrops = 0;
	int n;

	n = sscanf(body,
		   " in=%llu sent=%llu dropped=%llu errors=%llu "
		   "budget_drops=%llu",
		   &in, &sent, &dropped, &errors, &bdrops);
	if (n != 4 && n != 5) {
		failf(t, "bad counters section");
		return;
	}
	if (d4_program_info(t->rt, t->handle, &info)) {
		failf(t, "no program");
		return;
	}
	if (info.pkts_in != in || info.pkts_sent != sent ||
	    info.pkts_dropped != dropped || info.errors != errors ||
	    info.budget_drops != bdrops)
		failf(t,
		      "counters in=%llu sent=%llu dropped=%llu errors=%llu "
		      "budget_drops=%llu, expected %s",
		      (unsigned long long)info.pkts_in,
		      (unsigned long long)info.pkts_sent,
		      (unsigned long long)info.pkts_dropped,
		      (unsigned long long)info.errors,
		      (unsigned long long)info.budget_drops, body);
}

static void run_section(struct tcase *t, const char *name, const char *arg,
			const char *arg2, char *body)
{
	struct d4_program_info info;
	char buf[4096];
	int ret;

	if (strcmp(name, "error"))
		check_error_done(t);
	if (!strcmp(name, "src") || !strcmp(name, "exec")) {
		sec_exec(t, body, !strcmp(name, "src"));
	} else if (!strcmp(name, "srcfile")) {
		sec_srcfile(t, arg);
	} else if (!strcmp(name, "error")) {
		body = trim(body);
		if (!t->last_exec_ret)
			failf(t, "exec succeeded, expected error '%s'", body);
		else if (strcmp(t->last_err, body))
			failf(t, "error '%s', expected '%s'", t->last_err,
			      body);
		t->error_checked = true;
	} else if (!strcmp(name, "in")) {
		sec_in(t, arg, arg2, body);
	} else if (!strcmp(name, "out")) {
		sec_out(t, arg, body);
	} else if (!strcmp(name, "ret")) {
		ret = atoi(trim(body));
		if (t->last_ret != ret)
			failf(t, "d4_run returned %d, expected %d", t->last_ret,
			      ret);
	} else if (!strcmp(name, "var")) {
		ret = d4_var_format(t->rt, arg, buf, sizeof(buf));
		if (ret || strcmp(buf, trim(body)))
			failf(t, "%s is '%s' (%d), expected '%s'", arg, buf,
			      ret, trim(body));
	} else if (!strcmp(name, "counters")) {
		check_outputs_done(t);
		sec_counters(t, trim(body));
	} else if (!strcmp(name, "budget")) {
		unsigned long pk = strtoul(arg, NULL, 10);
		unsigned long ps = strtoul(arg2, NULL, 10);

		if (d4_runtime_set_budget(t->rt, (uint32_t)pk, (uint32_t)ps))
			failf(t, "budget %s %s refused", arg, arg2);
		t->timed_budget = t->timed_budget || ps;
	} else if (!strcmp(name, "clock")) {
		t->clock_ns += strtoull(arg, NULL, 10);
	} else if (!strcmp(name, "wcet") || !strcmp(name, "trap") ||
		   !strcmp(name, "sends")) {
		if (d4_program_info(t->rt, t->handle, &info)) {
			failf(t, "no program");
			return;
		}
		if (!strcmp(name, "wcet") &&
		    info.wcet_insns != strtoull(trim(body), NULL, 10))
			failf(t, "worst case %llu, expected %s",
			      (unsigned long long)info.wcet_insns, trim(body));
		if (!strcmp(name, "sends") &&
		    info.max_sends != strtoull(trim(body), NULL, 10))
			failf(t, "most datagrams %llu, expected %s",
			      (unsigned long long)info.max_sends, trim(body));
		if (!strcmp(name, "trap") &&
		    strcmp(info.last_error, trim(body)))
			failf(t, "last error '%s', expected '%s'",
			      info.last_error, trim(body));
	} else if (!strcmp(name, "stop") || !strcmp(name, "start")) {
		ret = name[2] == 'o' ? d4_stop(t->rt, t->handle)
				     : d4_start(t->rt, t->handle);
		if (ret)
			failf(t, "%s failed: %d", name, ret);
		kern_follow(t);
	} else if (!strcmp(name, "binding")) {
		char *nl = strchr(body, '\n');
		char *want = nl ? trim(nl + 1) : "";

		if (nl)
			*nl = '\0';
		/* "-": only check the binding the program gave itself */
		ret = !strcmp(trim(body), "-")
			  ? 0
			  : d4_set_binding(t->rt, t->handle, trim(body), buf,
					   sizeof(buf));
		if (ret) {
			if (strcmp(buf, want))
				failf(t, "binding error '%s', expected '%s'",
				      buf, want);
		} else {
			d4_program_info(t->rt, t->handle, &info);
			if (strcmp(info.binding, want))
				failf(t, "binding '%s', expected '%s'",
				      info.binding, want);
		}
		kern_follow(t);
	} else {
		failf(t, "unknown section '%s'", name);
	}
}

/* Split the file at lines starting "-- " and run each section. */
static int run_case(const char *path)
{
	struct tcase *t = calloc(1, sizeof(*t));
	struct d4_host host = {.send = host_send};
	struct d4_program_info info;
	char *p, *next_sec, *hdr_end, name[32], arg[4096], arg2[32];
	char hdr[4200];
	int line = 1, failures;

	if (!t)
		return 1;
	t->path = path;
	t->handle = -1;
	t->text = read_file(path);
	if (!t->text) {
		fprintf(stderr, "%s: %m\n", path);
		free(t);
		return 1;
	}
	host.ctx = t;
	host.now_ns = host_now;
	t->clock_ns = 1000000000ull;
	t->rt = d4_runtime_new(&host);
	d4_runtime_seed(t->rt, 1);
	t->has_binding_sections = strstr(t->text, "\n-- binding") ||
				  !strncmp(t->text, "-- binding", 10);
	if (knet) {
		t->k = d4_kern_new(t->rt);
		if (!t->k)
			failf(t, "d4_kern_new failed");
	}
	p = strncmp(t->text, "-- ", 3) ? strstr(t->text, "\n-- ") : t->text;
	if (p && p != t->text) {
		for (char *q = t->text; q <= p; q++)
			line += *q == '\n';
		p++;
	}
	while (p) {
		hdr_end = strchr(p, '\n');
		if (!hdr_end)
			hdr_end = p + strlen(p);
		arg[0] = '\0';
		arg2[0] = '\0';
		/* the header line only: a body is not an argument */
		snprintf(hdr, sizeof(hdr), "%.*s", (int)(hdr_end - p), p);
		if (sscanf(hdr, "-- %31s %4095s %31s", name, arg, arg2) < 1) {
			t->line = line;
			failf(t, "bad section header");
			break;
		}
		next_sec = strstr(hdr_end, "\n-- ");
		t->line = line;
		for (char *q = p; q < (next_sec ? next_sec + 1 : hdr_end); q++)
			line += *q == '\n';
		if (next_sec)
			*next_sec = '\0';
		run_section(t, name, arg, arg2,
			    *hdr_end ? hdr_end + 1 : hdr_end);
		p = next_sec ? next_sec + 1 : NULL;
	}
	check_error_done(t);
	check_outputs_done(t);
	if (t->handle >= 0 && !d4_program_info(t->rt, t->handle, &info) &&
	    info.max_insns > info.wcet_insns)
		failf(t, "ran %llu instructions, proven worst case %llu",
		      (unsigned long long)info.max_insns,
		      (unsigned long long)info.wcet_insns);
	if (knet) {
		struct d4_kern_stats ks = {0};

		d4_kern_stats(t->k, t->handle, &ks);
		if (t->kpackets) {
			ktally.compared++;
			printf("# %s: kernel: %ld packets compared; %u BPF "
			       "instructions, the verifier walked %u (bound "
			       "%llu)\n",
			       path, t->kpackets, ks.bpf_insns,
			       ks.verified_insns,
			       (unsigned long long)ks.walk_estimate);
		} else if (t->krefused) {
			ktally.refused++;
			printf("# %s: kernel refused: %s\n", path, t->kwhy);
		}
	}
	failures = t->failures;
	d4_kern_destroy(t->k);
	d4_runtime_destroy(t->rt);
	free(t->text);
	free(t);
	return failures ? 1 : 0;
}

/* ---- coverage ---- */

/* Does @msg read as printf format @fmt would print it? Conversions match
 * one or more characters. */
static bool fmt_match(const char *fmt, const char *msg)
{
	if (!*fmt)
		return !*msg;
	if (fmt[0] == '%' && fmt[1]) {
		const char *f = fmt + 1;

		while (*f == 'l')
			f++;
		f++;
		for (const char *m = msg + 1; m <= msg + strlen(msg); m++)
			if (*msg && fmt_match(f, m))
				return true;
		return false;
	}
	return *msg == *fmt && fmt_match(fmt + 1, msg + 1);
}

/* Messages whose cases would need more than 64 KiB of text; the cmocka
 * tests (test_d4_runtime.c) generate those programs instead. */
static const char *const generated_elsewhere[] = {
    D4_ERR_TEXT_LONG,
    D4_ERR_CODE,
};

/* Every *.d4 file in @dir must be one of the registered @paths. */
static int check_registered(const char *dir, int n, char **paths)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int missing = 0, i;

	if (!d) {
		fprintf(stderr, "%s: %m\n", dir);
		return 1;
	}
	while ((e = readdir(d))) {
		size_t l = strlen(e->d_name);
		bool found = false;

		if (l < 3 || strcmp(e->d_name + l - 3, ".d4"))
			continue;
		for (i = 0; i < n && !found; i++) {
			const char *b = strrchr(paths[i], '/');

			found = !strcmp(b ? b + 1 : paths[i], e->d_name);
		}
		if (!found) {
			fprintf(stderr,
				"%s/%s is not in tests/d4/meson.build\n", dir,
				e->d_name);
			missing++;
		}
	}
	closedir(d);
	return missing;
}

static int coverage(const char *docs, const char *dir, int n, char **paths)
{
	bool op_seen[D4_OP_COUNT] = {0};
	int nfmt = 0, i, j, missing = check_registered(dir, n, paths);
	char *doc = read_file(docs);
	bool *fmt_seen;

	while (d4_error_formats[nfmt])
		nfmt++;
	fmt_seen = calloc((size_t)nfmt, sizeof(*fmt_seen));
	if (!doc || !fmt_seen) {
		fprintf(stderr, "%s: %m\n", docs);
		return 1;
	}
	for (j = 0; j < nfmt; j++)
		for (i = 0; i < (int)(sizeof(generated_elsewhere) /
				      sizeof(generated_elsewhere[0]));
		     i++)
			if (!strcmp(d4_error_formats[j],
				    generated_elsewhere[i]))
				fmt_seen[j] = true;
	for (i = 0; i < n; i++) {
		char *text = read_file(paths[i]), *s, *e, *end;

		if (!text)
			continue;
		/* expected errors: "-- error\nLINE:COL: msg" */
		for (s = strstr(text, "-- error\n"); s;
		     s = strstr(s + 1, "-- error\n")) {
			char msg[512], *m;

			e = s + 9;
			end = strchr(e, '\n');
			snprintf(msg, sizeof(msg), "%.*s",
				 (int)(end ? end - e : (long)strlen(e)), e);
			m = strchr(msg, ' ');
			for (j = 0; m && j < nfmt; j++)
				if (fmt_match(d4_error_formats[j], m + 1))
					fmt_seen[j] = true;
		}
		/* opcodes of loops that run packets */
		s = strncmp(text, "-- src\n", 7) ? strstr(text, "\n-- src\n")
						 : text;
		if (s && strstr(text, "\n-- in ")) {
			struct d4_runtime *rt = d4_runtime_new(NULL);
			char *src = s + (s == text ? 7 : 8);
			char *sec = strstr(src, "\n-- ");
			char err[512], *buf = NULL, *line;
			size_t blen = 0;
			int h = -1;
			FILE *mem;

			if (sec)
				*sec = '\0';
			if (rt &&
			    !d4_exec(rt, src, strlen(src), &h, err,
				     sizeof(err)) &&
			    h >= 0) {
				mem = open_memstream(&buf, &blen);
				d4_program_dump(rt, h, mem);
				fclose(mem);
				for (line = strtok(buf, "\n"); line;
				     line = strtok(NULL, "\n")) {
					char op[16];
					unsigned int pc;

					if (sscanf(line, "%u %15s", &pc, op) !=
					    2)
						continue;
					for (j = 0; j < D4_OP_COUNT; j++)
						if (!strcmp(d4_opinfo[j].name,
							    op))
							op_seen[j] = true;
				}
				free(buf);
			}
			d4_runtime_destroy(rt);
		}
		free(text);
	}
	for (j = 0; j < D4_OP_COUNT; j++) {
		if (!op_seen[j]) {
			fprintf(stderr, "no case runs opcode %s\n",
				d4_opinfo[j].name);
			missing++;
		}
	}
	for (j = 0; j < nfmt; j++) {
		if (!fmt_seen[j]) {
			fprintf(stderr, "no case expects error \"%s\"\n",
				d4_error_formats[j]);
			missing++;
		}
		if (!strstr(doc, d4_error_formats[j])) {
			fprintf(stderr, "%s does not list \"%s\"\n", docs,
				d4_error_formats[j]);
			missing++;
		}
	}
	printf("%d opcodes, %d error messages, %d cases: %d missing\n",
	       D4_OP_COUNT, nfmt, n, missing);
	free(fmt_seen);
	free(doc);
	return missing ? 1 : 0;
}

/* --kernel: the wire, or why there is none (exit 77: skipped). */
static int kernel_setup(void)
{
	static struct knet net;
	char why[256];
	int ret = d4_kern_probe(why, sizeof(why));

	if (!ret)
		ret = knet_setup(&net, why, sizeof(why));
	if (ret) {
		printf("SKIP: the kernel back end cannot run here: %s\n", why);
		return 77;
	}
	knet = &net;
	return 0;
}

int main(int argc, char *argv[])
{
	int i, first = 1, failed = 0, min_compared = 0;

	if (argc > 3 && !strcmp(argv[1], "--coverage"))
		return coverage(argv[2], argv[3], argc - 4, argv + 4);
	if (argc > 1 && !strcmp(argv[1], "--kernel")) {
		first = 2;
		if (argc > 3 && !strcmp(argv[2], "--min-compared")) {
			min_compared = atoi(argv[3]);
			first = 4;
		}
		if (kernel_setup())
			return 77;
	}
	if (argc <= first) {
		fprintf(stderr, "usage: d4test [--kernel [--min-compared N]] "
				"CASE.d4... | --coverage DOC DIR CASE...\n");
		return 2;
	}
	for (i = first; i < argc; i++) {
		int r = run_case(argv[i]);

		printf("%s %d - %s\n", r ? "not ok" : "ok", i - first + 1,
		       argv[i]);
		failed += r;
	}
	printf("%d passed, %d failed\n", argc - first - failed, failed);
	if (knet) {
		printf("kernel: %d cases compared on both back ends (%ld "
		       "packets), %d refused by the translator\n",
		       ktally.compared, ktally.packets, ktally.refused);
		if (ktally.compared < min_compared) {
			printf("kernel: fewer than %d cases compared\n",
			       min_compared);
			return 1;
		}
	}
	return failed ? 1 : 0;
}
