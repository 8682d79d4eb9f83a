/* The loader of the kernel back end (kernel.h): maps, program, tc hook,
 * and keeping them in step with the runtime.
 *
 * Per loop three maps (bpf.h): counters and registers per CPU; a shared
 * value mapped into our memory, holding the loop state and two snapshot
 * buffers; a neighbour hash saying where a copy to each address goes. A
 * new snapshot goes into the buffer runs are not taking, and is made
 * current once written; the spare is rewritten only after every run that
 * held it has let go (the kernel counts them: bpf.c's "readers"), so a
 * packet sees one whole snapshot, as in the VM. Nothing here needs a
 * privilege after attach: map values change through the fds and the
 * mapping, so a node may drop its capabilities once its loops are in. */
#include "d4/kernel.h"
#include "common/dlib.h"
#include "common/net.h"
#include "d4/bpf.h"
#include "d4/internal.h"
#include "d4/kern_route.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <linux/capability.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#define LOG_SIZE     (1 << 20)
#define PUBLISH_WAIT 1.0 /* s: the longest a run holds a buffer, by far */
#define SETTLE_WAIT  0.2 /* s: the longest a new neighbour is waited for */

struct kprog {
	int handle;
	char name[D4_MAX_NAME + 1];
	const struct d4_code *code; /* the runtime's; checked on each sync */
	struct d4_bpf_prog *bpf;
	int map_fd[D4_BPF_NMAPS];
	int prog_fd;
	struct d4_bpf_shared *shared; /* mapped */
	size_t shared_len;
	struct bpf_tc_hook hook;
	struct bpf_tc_opts tc;
	bool tc_attached;
	uint64_t bind_ep;
	struct d4_kern_opts opts;
	char ifname[IF_NAMESIZE];
	char mcast_ifname[IF_NAMESIZE];
	int mcast_ifindex;
	uint8_t ttl, mcast_ttl;
	uint32_t verified_insns;
	uint64_t attach_seq; /* which attachment (d4_kern_stats) */
	uint32_t send_rate; /* the loop's per-second budget, 0: any */
	/* addresses in the neighbour map (host order); those the last
	 * collect left out, to delete once the snapshot without them is
	 * current (dst_prune) */
	uint32_t *dst;
	uint32_t ndst, dstcap;
	uint32_t *gone;
	uint32_t ngone;
	/* addresses the loop computed (src(pkt), arithmetic) that a poll
	 * found it sending to: kept across syncs, as many as the map has
	 * room for */
	uint32_t *comp;
	uint32_t ncomp;
	uint32_t nneigh; /* the map's room */
	int ncpus;
};

struct d4_kern {
	struct d4_runtime *rt;
	struct kprog *prog[D4_MAX_PROGRAMS];
	char why[D4_MAX_PROGRAMS][160]; /* why not the kernel, for AUTO */
	struct kroute route;
	uint64_t gen;
	uint64_t attaches; /* programs made so far: each one's attach_seq */
};

static int why_set(char *why, size_t len, int ret, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int why_set(char *why, size_t len, int ret, const char *fmt, ...)
{
	va_list ap;

	if (why && len) {
		va_start(ap, fmt);
		vsnprintf(why, len, fmt, ap);
		va_end(ap);
	}
	return ret;
}

/* libbpf, loaded (dlopen) when a loop first goes into the kernel: linked,
 * it and libelf were 0.3 MB of every node's resident memory, kernel loops
 * or not (bench/scale.sh). Its functions, typed as its headers do. */
#define BPF_FN(f) __typeof__(f) *f
static struct {
	BPF_FN(bpf_map_create);
	BPF_FN(bpf_prog_load);
	BPF_FN(bpf_map_update_elem);
	BPF_FN(bpf_map_lookup_elem);
	BPF_FN(bpf_map_delete_elem);
	BPF_FN(bpf_tc_hook_create);
	BPF_FN(bpf_tc_attach);
	BPF_FN(bpf_tc_detach);
	BPF_FN(bpf_obj_get_info_by_fd);
	BPF_FN(libbpf_num_possible_cpus);
	BPF_FN(libbpf_set_print);
} B;
#undef BPF_FN
#define SYM(f) DLIB_SYM(__typeof__(B), "", f)
static const struct dlib_sym bpf_syms[] = {
    SYM(bpf_map_create),	 SYM(bpf_prog_load),
    SYM(bpf_map_update_elem),	 SYM(bpf_map_lookup_elem),
    SYM(bpf_map_delete_elem),	 SYM(bpf_tc_hook_create),
    SYM(bpf_tc_attach),		 SYM(bpf_tc_detach),
    SYM(bpf_obj_get_info_by_fd), SYM(libbpf_num_possible_cpus),
    SYM(libbpf_set_print),
};
#undef SYM

static int libbpf_print(enum libbpf_print_level level, const char *fmt,
			va_list ap);

static struct dlib libbpf = DLIB_INIT("libbpf.so.1", "libbpf1", bpf_syms, &B);

/* Load libbpf on the first call: 0, or why not. */
static int load_libbpf(char *why, size_t why_len)
{
	char err[300];

	if (!dlib_get(&libbpf, err, sizeof(err)))
		return why_set(why, why_len, -ENOSYS, "%s", err);
	B.libbpf_set_print(libbpf_print);
	return 0;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static bool has_cap(const struct __user_cap_data_struct *d, int cap)
{
	return d[cap / 32].effective & (1U << (cap % 32));
}

int d4_kern_probe(char *why, size_t why_len)
{
	struct __user_cap_header_struct h = {.version =
						 _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct d[2] = {0};
	struct utsname u;
	int major = 0, minor = 0;

	if (syscall(SYS_capget, &h, d))
		return why_set(why, why_len, -errno, "capget: %s",
			       strerror(errno));
	/* CAP_BPF is 39 (kernel 5.8); CAP_SYS_ADMIN covers it too */
	if (!has_cap(d, CAP_SYS_ADMIN) && !has_cap(d, 39))
		return why_set(why, why_len, -EPERM, "no CAP_BPF");
	if (!has_cap(d, CAP_NET_ADMIN))
		return why_set(why, why_len, -EPERM, "no CAP_NET_ADMIN");
	if (uname(&u) || sscanf(u.release, "%d.%d", &major, &minor) != 2)
		return why_set(why, why_len, -ENOSYS, "unknown kernel");
	if (major < 5 || (major == 5 && minor < 10))
		return why_set(why, why_len, -ENOSYS,
			       "kernel %d.%d, the back end needs 5.10", major,
			       minor);
	return 0;
}

/* libbpf's warnings to stderr, but not the kernel's note that clsact is
 * already there (we create it only when it is not; -EEXIST is fine). */
static int libbpf_print(enum libbpf_print_level level, const char *fmt,
			va_list ap)
{
	char line[512];

	if (level != LIBBPF_WARN)
		return 0;
	vsnprintf(line, sizeof(line), fmt, ap);
	if (strstr(line, "Exclusivity flag on"))
		return 0;
	return fputs(line, stderr);
}

struct d4_kern *d4_kern_new(struct d4_runtime *rt)
{
	struct d4_kern *k = calloc(1, sizeof(*k));

	if (!k)
		return NULL;
	k->rt = rt;
	k->route.nl = k->route.udp = -1;
	if (kroute_open(&k->route)) {
		free(k);
		return NULL;
	}
	return k;
}

static void kprog_free(struct kprog *kp)
{
	int i;

	if (!kp)
		return;
	if (kp->tc_attached) {
		/* only our filter; the clsact qdisc may serve others */
		kp->tc.prog_fd = 0;
		kp->tc.prog_id = 0;
		kp->tc.flags = 0;
		B.bpf_tc_detach(&kp->hook, &kp->tc);
	}
	if (kp->shared)
		munmap(kp->shared, kp->shared_len);
	if (kp->prog_fd >= 0)
		close(kp->prog_fd);
	for (i = 0; i < D4_BPF_NMAPS; i++)
		if (kp->map_fd[i] >= 0)
			close(kp->map_fd[i]);
	d4_bpf_free(kp->bpf);
	free(kp->dst);
	free(kp->gone);
	free(kp->comp);
	free(kp);
}

void d4_kern_destroy(struct d4_kern *k)
{
	int i;

	if (!k)
		return;
	for (i = 0; i < D4_MAX_PROGRAMS; i++)
		kprog_free(k->prog[i]);
	kroute_close(&k->route);
	free(k);
}

bool d4_kern_attached(const struct d4_kern *k, int handle)
{
	return handle >= 0 && handle < D4_MAX_PROGRAMS && k->prog[handle];
}

/* ---- destinations: the neighbour map ---- */

static bool dst_has(const struct kprog *kp, uint32_t a)
{
	uint32_t i;

	for (i = 0; i < kp->ndst; i++)
		if (kp->dst[i] == a)
			return true;
	return false;
}

static int dst_add(struct kprog *kp, uint32_t a)
{
	uint32_t *d;

	if (dst_has(kp, a))
		return 0;
	if (kp->ndst == kp->dstcap) {
		uint32_t cap = kp->dstcap ? 2 * kp->dstcap : 64;

		d = realloc(kp->dst, cap * sizeof(*d));
		if (!d)
			return -ENOMEM;
		kp->dst = d;
		kp->dstcap = cap;
	}
	kp->dst[kp->ndst++] = a;
	return 0;
}

static bool is_group(uint32_t a)
{
	return a >> 28 == 0xe;
}

/* Look up where copies to @a go and write it into the map: resolved, or
 * an entry with ifindex 0 that the program counts as no_neigh (so an
 * unresolved receiver of a list never takes the default route). Returns 1
 * when resolved, 0 when its neighbour is being resolved (asked for when
 * @prime), < 0 when there is no way there. */
static int dst_resolve_as(struct d4_kern *k, struct kprog *kp, uint32_t a,
			  bool prime)
{
	struct d4_bpf_neigh nb;
	int ret;

	if (a == 0) {
		/* key 0: the default route, for computed addresses the map
		 * does not know yet (src(pkt), arithmetic) */
		ret = kroute_lookup(&k->route, 0, kp->ttl, &nb);
		if (ret == 1)
			B.bpf_map_update_elem(kp->map_fd[D4_BPF_MAP_NEIGH], &a,
					      &nb, BPF_ANY);
		else
			B.bpf_map_delete_elem(kp->map_fd[D4_BPF_MAP_NEIGH], &a);
		if (ret == 0 && prime)
			kroute_prime(&k->route, 0);
		return ret;
	}
	if (is_group(a))
		ret = kroute_mcast(&k->route, a, kp->mcast_ifindex,
				   kp->mcast_ttl, &nb) == 0
			  ? 1
			  : -ENODEV;
	else
		ret = kroute_lookup(&k->route, a, kp->ttl, &nb);
	if (ret < 0)
		memset(&nb, 0, sizeof(nb)); /* no route: no way out */
	B.bpf_map_update_elem(kp->map_fd[D4_BPF_MAP_NEIGH], &a, &nb, BPF_ANY);
	if (ret == 0 && prime)
		kroute_prime(&k->route, a);
	return ret;
}

static void dst_resolve(struct d4_kern *k, struct kprog *kp, uint32_t a)
{
	dst_resolve_as(k, kp, a, true);
}

/* The program drops a copy to a neighbour not resolved yet (no_neigh),
 * where the stack would have queued a few for it: a loop taken over from
 * the VM lost a tenth of a second of every receiver's copies that way,
 * until the next look (relay_tick). So before the program runs with new
 * receivers, give their neighbours a moment to answer, as they do on a LAN
 * within a millisecond; one that is down never does, and the wait ends
 * at @until: SETTLE_WAIT after the attach or the sync began, one deadline
 * for all its loops (the control thread waits, and only for receivers
 * that are new). @todo flags which of the first @n destinations are
 * still unresolved. */
static void dst_settle(struct d4_kern *k, struct kprog *kp, bool *todo,
		       uint32_t n, double until)
{
	struct timespec nap = {0, 1000000};
	uint32_t i, left;

	do {
		left = 0;
		if (now_s() >= until)
			return;
		nanosleep(&nap, NULL);
		for (i = 0; i < n && i < kp->ndst; i++)
			if (todo[i]) {
				todo[i] = dst_resolve_as(k, kp, kp->dst[i],
							 false) == 0;
				left += todo[i];
			}
	} while (left && now_s() < until);
}

/* Out of the map: the addresses the last collect left out. Called once
 * the program's current snapshot no longer has them (after publish), so a
 * run that still holds the old one does not miss them. */
static void dst_prune(struct kprog *kp)
{
	uint32_t i;

	for (i = 0; i < kp->ngone; i++)
		if (!dst_has(kp, kp->gone[i]))
			B.bpf_map_delete_elem(kp->map_fd[D4_BPF_MAP_NEIGH],
					      &kp->gone[i]);
	free(kp->gone);
	kp->gone = NULL;
	kp->ngone = 0;
}

/* The addresses the loop may send to, as far as the runtime knows them:
 * every entry of the lists and every scalar it reads (an int that is no
 * endpoint gives address 0, which is the default route's key anyway), its
 * endpoint constants, and the default route. New ones are resolved (and
 * waited for, until @until) before the caller publishes the snapshot that
 * has them; those left out wait in kp->gone for dst_prune. */
static int dst_collect(struct d4_kern *k, struct kprog *kp, double until)
{
	const struct d4_code *c = kp->code;
	const struct d4_snap *s = d4_runtime_snap(k->rt);
	uint32_t i, j, old_n = kp->ndst, *old = NULL;
	bool *todo, pending = false;
	int ret = 0;

	if (old_n) {
		old = malloc(old_n * sizeof(*old));
		if (!old)
			return -ENOMEM;
		memcpy(old, kp->dst, old_n * sizeof(*old));
	}
	kp->ndst = 0;
	ret |= dst_add(kp, 0);
	for (i = 0; i < c->nk; i++)
		if ((uint64_t)c->k[i] >> 48 == 0)
			ret |= dst_add(kp, (uint32_t)((uint64_t)c->k[i] >> 16));
	for (i = 0; i < c->nvars; i++) {
		const struct d4_varref *v = &c->vars[i];
		uint64_t n = v->list ? s->slot[v->slot] : 1;

		for (j = 0; j < n && j < (v->list ? v->cap : 1); j++) {
			uint64_t ep = s->slot[v->slot + (v->list ? 1 + j : 0)];

			if (ep >> 48 == 0)
				ret |= dst_add(kp, (uint32_t)(ep >> 16));
		}
	}
	/* and those the loop computed: a sync for another list must not
	 * cost their copies until the next polls learn them again */
	for (i = 0; i < kp->ncomp; i++)
		if (!dst_has(kp, kp->comp[i]))
			ret |= dst_add(kp, kp->comp[i]);
	todo = calloc(kp->ndst ? kp->ndst : 1, sizeof(*todo));
	for (i = 0; i < kp->ndst; i++) {
		bool known = false;

		for (j = 0; j < old_n && !known; j++)
			known = old[j] == kp->dst[i];
		if (!known && dst_resolve_as(k, kp, kp->dst[i], true) == 0 &&
		    todo) {
			todo[i] = true;
			pending = true;
		}
	}
	if (pending)
		dst_settle(k, kp, todo, kp->ndst, until);
	free(todo);
	/* gone from the loop's view: out of the map after the publish */
	free(kp->gone);
	kp->gone = old;
	kp->ngone = old_n;
	return ret ? -ENOMEM : 0;
}

/* ---- the snapshot and state ---- */

static uint64_t *buf_of(const struct kprog *kp, uint64_t i)
{
	return (uint64_t *)((char *)kp->shared + kp->bpf->buf_off) +
	       i * kp->bpf->snap_words;
}

/* Write the runtime's snapshot into the spare buffer and make it current;
 * first wait until no run holds the spare. */
static int publish(struct d4_kern *k, struct kprog *kp)
{
	struct d4_bpf_shared *sh = kp->shared;
	uint64_t spare = (__atomic_load_n(&sh->cur, __ATOMIC_SEQ_CST) & 1) ^ 1;
	double until = now_s() + PUBLISH_WAIT;

	while (__atomic_load_n(&sh->readers[spare], __ATOMIC_SEQ_CST)) {
		if (now_s() > until)
			return -ETIMEDOUT;
		sched_yield();
	}
	d4_bpf_snap_fill(kp->bpf, kp->code, d4_runtime_snap(k->rt),
			 buf_of(kp, spare));
	__atomic_store_n(&sh->cur, spare, __ATOMIC_SEQ_CST);
	return 0;
}

/* ---- attach ---- */

static int make_maps(struct kprog *kp, char *why, size_t why_len)
{
	LIBBPF_OPTS(bpf_map_create_opts, mm, .map_flags = BPF_F_MMAPABLE);
	const struct d4_code *c = kp->code;
	uint32_t nneigh = 64 + c->nk, i;
	long page = sysconf(_SC_PAGESIZE);
	int ret = load_libbpf(why, why_len); /* every B. call is after this */

	if (ret)
		return ret;
	for (i = 0; i < c->nvars; i++)
		nneigh += c->vars[i].list ? c->vars[i].cap : 1;
	kp->nneigh = nneigh;
	kp->map_fd[D4_BPF_MAP_PCPU] =
	    B.bpf_map_create(BPF_MAP_TYPE_PERCPU_ARRAY, "d4_pcpu", 4,
			     kp->bpf->pcpu_size, 1, NULL);
	kp->map_fd[D4_BPF_MAP_SHARED] = B.bpf_map_create(
	    BPF_MAP_TYPE_ARRAY, "d4_shared", 4, kp->bpf->shared_size, 1, &mm);
	kp->map_fd[D4_BPF_MAP_NEIGH] =
	    B.bpf_map_create(BPF_MAP_TYPE_HASH, "d4_neigh", 4,
			     sizeof(struct d4_bpf_neigh), nneigh, NULL);
	for (i = 0; i < D4_BPF_NMAPS; i++)
		if (kp->map_fd[i] < 0)
			return why_set(why, why_len, -errno,
				       "the kernel made no BPF map: %s",
				       strerror(errno));
	kp->shared_len = ((size_t)kp->bpf->shared_size + (size_t)page - 1) /
			 (size_t)page * (size_t)page;
	kp->shared = mmap(NULL, kp->shared_len, PROT_READ | PROT_WRITE,
			  MAP_SHARED, kp->map_fd[D4_BPF_MAP_SHARED], 0);
	if (kp->shared == MAP_FAILED) {
		kp->shared = NULL;
		return why_set(why, why_len, -errno,
			       "mmap of the shared map: %s", strerror(errno));
	}
	kp->ncpus = B.libbpf_num_possible_cpus();
	if (kp->ncpus < 1) /* libbpf's -errno: EMFILE is no descriptor */
		return why_set(why, why_len, kp->ncpus < 0 ? kp->ncpus : -EIO,
			       "cannot count the CPUs: %s",
			       strerror(kp->ncpus < 0 ? -kp->ncpus : EIO));
	return 0;
}

static int load_prog(struct kprog *kp, char *why, size_t why_len)
{
	LIBBPF_OPTS(bpf_prog_load_opts, lo);
	struct bpf_prog_info info = {0};
	uint32_t len = sizeof(info), i;
	char name[16], *log, *last;
	int ret;

	for (i = 0; i < kp->bpf->ninsn; i++) {
		struct bpf_insn *in = &kp->bpf->insn[i];

		if (in->code == (BPF_LD | BPF_DW | BPF_IMM) &&
		    in->src_reg == BPF_PSEUDO_MAP_FD)
			in->imm = kp->map_fd[in->imm];
	}
	snprintf(name, sizeof(name), "d4_%.12s", kp->name);
	kp->prog_fd = B.bpf_prog_load(BPF_PROG_TYPE_SCHED_CLS, name, "GPL",
				      kp->bpf->insn, kp->bpf->ninsn, &lo);
	if (kp->prog_fd >= 0) {
		if (!B.bpf_obj_get_info_by_fd(kp->prog_fd, &info, &len))
			kp->verified_insns = info.verified_insns;
		return 0;
	}
	ret = -errno;
	/* again with the verifier's log, for the reason */
	log = malloc(LOG_SIZE);
	if (!log)
		return why_set(why, why_len, ret,
			       "the kernel refused the "
			       "program: %s",
			       strerror(-ret));
	log[0] = '\0';
	lo.log_buf = log;
	lo.log_size = LOG_SIZE;
	lo.log_level = 1;
	kp->prog_fd = B.bpf_prog_load(BPF_PROG_TYPE_SCHED_CLS, name, "GPL",
				      kp->bpf->insn, kp->bpf->ninsn, &lo);
	if (kp->prog_fd >= 0) { /* refused once, taken the second time */
		free(log);
		return 0;
	}
	if (getenv("D4_BPF_LOG")) {
		FILE *f = fopen(getenv("D4_BPF_LOG"), "w");

		if (f) {
			fputs(log, f);
			fclose(f);
		}
	}
	/* the verifier's last line before its figures says why */
	last = strstr(log, "\nprocessed ");
	if (last)
		*last = '\0';
	while ((last = strrchr(log, '\n')) && !last[1])
		*last = '\0';
	last = strrchr(log, '\n');
	if (ret == -E2BIG && kp->bpf->nest_line) {
		/* the verifier's own limit, met by loops in loops: they cost
		 * it more than their trips (docs/d4.md, "Limits of the kernel
		 * back end"); a loop's place and reason, as the translator's
		 * refusals read */
		why_set(why, why_len, ret,
			"%d:%d: for: the kernel's verifier gave up on these "
			"nested loops (%s; the translator's estimate was %llu "
			"instructions)",
			kp->bpf->nest_line, kp->bpf->nest_col,
			last ? last + 1 : log,
			(unsigned long long)kp->bpf->walk);
		free(log);
		return ret;
	}
	why_set(why, why_len, ret, "the kernel refused the program: %s (%s)",
		last ? last + 1 : log, strerror(-ret));
	free(log);
	/* a refusal of a program we made is our bug; EPERM and the like
	 * are the machine's */
	return ret == -EINVAL || ret == -EACCES || ret == -E2BIG ? -EPROTO
								 : ret;
}

/* A loop's tc filter is named by its loop: priority 0xd4 and a handle
 * from the loop's name, so that a host restarted after a crash replaces
 * the filter the old one left (it would otherwise send every copy twice). */
#define TC_PRIO 0xd4

static uint32_t tc_handle(const char *name)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	while (*name)
		h = (h ^ (uint8_t)*name++) * 16777619u;
	return 0xd4000000u | (h & 0xffff);
}

static int attach_tc(struct kprog *kp, int ifindex, char *why, size_t why_len)
{
	int ret;

	kp->hook = (struct bpf_tc_hook){.sz = sizeof(kp->hook),
					.ifindex = ifindex,
					.attach_point = BPF_TC_INGRESS};
	kp->tc = (struct bpf_tc_opts){.sz = sizeof(kp->tc),
				      .prog_fd = kp->prog_fd,
				      .flags = BPF_TC_F_REPLACE,
				      .handle = tc_handle(kp->name),
				      .priority = TC_PRIO};
	ret = B.bpf_tc_hook_create(&kp->hook);
	if (ret && ret != -EEXIST)
		return why_set(why, why_len, ret, "clsact on %s: %s",
			       kp->ifname, strerror(-ret));
	ret = B.bpf_tc_attach(&kp->hook, &kp->tc);
	if (ret)
		return why_set(why, why_len, ret, "tc ingress of %s: %s",
			       kp->ifname, strerror(-ret));
	kp->tc_attached = true;
	return 0;
}

static uint8_t default_ttl(void)
{
	FILE *f = fopen("/proc/sys/net/ipv4/ip_default_ttl", "r");
	int ttl = 64;

	if (f) {
		if (fscanf(f, "%d", &ttl) != 1 || ttl < 1 || ttl > 255)
			ttl = 64;
		fclose(f);
	}
	return (uint8_t)ttl;
}

/* The translator's options for loop @kp with @o, on an interface of MTU
 * @mtu. */
static void bpf_opts(const struct kprog *kp, const struct d4_kern_opts *o,
		     int mtu, struct d4_bpf_opts *bo)
{
	unsigned int maxp;

	memset(bo, 0, sizeof(*bo));
	bo->bind_addr = (uint32_t)(kp->bind_ep >> 16);
	bo->bind_port = (uint16_t)kp->bind_ep;
	bo->src_port = o->src_port ? o->src_port : bo->bind_port;
	bo->tos = (uint8_t)((o->dscp & 63) << 2);
	maxp = o->max_payload ? o->max_payload
	       : mtu > 28     ? (unsigned int)mtu - 28
			      : 0;
	bo->max_payload = (uint16_t)(maxp > D4_MAX_PKT ? D4_MAX_PKT : maxp);
	bo->pass_original = o->pass_original;
	bo->mark = D4_KERN_PASS_MARK(kp->handle);
	bo->send_rate = kp->send_rate;
	bo->send_burst = d4_budget_burst(kp->send_rate, kp->code->max_sends);
}

static int kprog_make(struct d4_kern *k, struct kprog *kp,
		      const struct d4_program_info *info,
		      const struct d4_kern_opts *o, char *why, size_t why_len)
{
	struct d4_bpf_opts bo;
	int ifindex, mtu, ret;

	/* net_ifindex: out of descriptors is not "no interface" (both
	 * names are set: d4_kern_attach refuses a loop without one) */
	ifindex = net_ifindex(o->ifname);
	if (ifindex < 0)
		return why_set(why, why_len, ifindex, "interface '%s': %s",
			       o->ifname, strerror(-ifindex));
	snprintf(kp->ifname, sizeof(kp->ifname), "%s", o->ifname);
	snprintf(kp->mcast_ifname, sizeof(kp->mcast_ifname), "%s",
		 o->mcast_ifname && *o->mcast_ifname ? o->mcast_ifname
						     : o->ifname);
	kp->mcast_ifindex = net_ifindex(kp->mcast_ifname);
	if (kp->mcast_ifindex < 0)
		return why_set(why, why_len, kp->mcast_ifindex,
			       "interface '%s': %s", kp->mcast_ifname,
			       strerror(-kp->mcast_ifindex));
	kp->ttl = o->ttl > 0 && o->ttl < 256 ? (uint8_t)o->ttl : default_ttl();
	kp->mcast_ttl =
	    o->mcast_ttl > 0 && o->mcast_ttl < 256 ? (uint8_t)o->mcast_ttl : 1;
	mtu = kroute_mtu(ifindex);
	if (mtu < 0)
		return why_set(why, why_len, mtu, "MTU of %s: %s", o->ifname,
			       strerror(-mtu));
	bpf_opts(kp, o, mtu, &bo);
	ret = d4_bpf_translate(kp->code, &bo, &kp->bpf, why, why_len);
	if (ret)
		return ret;
	ret = make_maps(kp, why, why_len);
	if (ret)
		return ret;
	/* the loop's state, random state and lists as the VM has them */
	memset(kp->shared, 0, kp->bpf->shared_size);
	ret = d4_runtime_loop_state(
	    k->rt, kp->handle,
	    (int64_t *)((char *)kp->shared + kp->bpf->state_off),
	    &kp->shared->rng);
	if (ret)
		return why_set(why, why_len, ret, "loop gone");
	d4_bpf_snap_fill(kp->bpf, kp->code, d4_runtime_snap(k->rt),
			 buf_of(kp, 0));
	kp->shared->running = info->running;
	kp->shared->credit = bo.send_burst; /* full, as the VM's at load */
	ret = dst_collect(k, kp, now_s() + SETTLE_WAIT);
	if (ret)
		return why_set(why, why_len, ret, "out of memory");
	dst_prune(kp);
	ret = load_prog(kp, why, why_len);
	if (ret)
		return ret;
	return attach_tc(kp, ifindex, why, why_len);
}

/* Does the interface forward IPv4 (a router)? */
static bool forwards(const char *ifname)
{
	char path[128];
	FILE *f;
	int v = 0;

	snprintf(path, sizeof(path), "/proc/sys/net/ipv4/conf/%s/forwarding",
		 ifname);
	f = fopen(path, "r");
	if (!f)
		return false;
	if (fscanf(f, "%d", &v) != 1)
		v = 0;
	fclose(f);
	return v != 0;
}

int d4_kern_attach(struct d4_kern *k, int handle, const struct d4_kern_opts *o,
		   char *why, size_t why_len)
{
	struct d4_program_info info;
	struct kprog *kp;
	int ret, i;

	if (why && why_len)
		why[0] = '\0';
	if (d4_program_info(k->rt, handle, &info))
		return why_set(why, why_len, -ENOENT, "no loop %d", handle);
	if (k->prog[handle])
		return why_set(why, why_len, -EEXIST,
			       "loop %s: already in "
			       "the kernel",
			       info.name);
	if (!o || !o->ifname || !*o->ifname)
		return why_set(why, why_len, -EINVAL,
			       "loop %s: no interface for the kernel",
			       info.name);
	if (info.bind_kind != D4_BIND_UDP)
		return why_set(why, why_len, -EINVAL,
			       "loop %s: bound to %s; the kernel runs loops "
			       "bound to udp ADDR:PORT",
			       info.name, info.binding);
	if (!info.bind_addr.sin_addr.s_addr && forwards(o->ifname))
		return why_set(why, why_len, -EINVAL,
			       "loop %s: bound to 0.0.0.0 on %s, which "
			       "forwards: the kernel cannot tell the host's "
			       "packets from those passing through; bind an "
			       "address",
			       info.name, o->ifname);
	ret = d4_kern_probe(why, why_len);
	if (ret)
		return ret;
	kp = calloc(1, sizeof(*kp));
	if (!kp)
		return why_set(why, why_len, -ENOMEM, "out of memory");
	kp->handle = handle;
	kp->prog_fd = -1;
	for (i = 0; i < D4_BPF_NMAPS; i++)
		kp->map_fd[i] = -1;
	snprintf(kp->name, sizeof(kp->name), "%s", info.name);
	kp->code = d4_runtime_code(k->rt, handle);
	kp->bind_ep = d4_ep_make(ntohl(info.bind_addr.sin_addr.s_addr),
				 ntohs(info.bind_addr.sin_port));
	kp->send_rate = info.send_budget_s;
	kp->opts = *o;
	ret = kprog_make(k, kp, &info, o, why, why_len);
	if (ret) {
		kprog_free(kp);
		return ret;
	}
	kp->opts.ifname = kp->ifname;
	kp->opts.mcast_ifname = kp->mcast_ifname;
	kp->attach_seq = ++k->attaches;
	k->prog[handle] = kp;
	k->why[handle][0] = '\0';
	return 0;
}

int d4_kern_apply(struct d4_kern *k, int handle, enum d4_backend backend,
		  const struct d4_kern_opts *o, char *msg, size_t msg_len)
{
	struct d4_program_info info;
	char why[160], lead[D4_MAX_NAME + 8];
	const char *r;
	int ret;

	if (msg && msg_len)
		msg[0] = '\0';
	if (d4_program_info(k->rt, handle, &info))
		return why_set(msg, msg_len, -ENOENT, "no loop %d", handle);
	if (backend == D4_BACKEND_VM) {
		snprintf(k->why[handle], sizeof(k->why[handle]),
			 "backend = vm");
		return 0;
	}
	ret = d4_kern_attach(k, handle, o, why, sizeof(why));
	if (!ret)
		return why_set(msg, msg_len, 0,
			       "d4: loop %s in the kernel at %s ingress",
			       info.name, o->ifname);
	/* the reason without its "loop NAME: ", which the line says */
	snprintf(lead, sizeof(lead), "loop %s: ", info.name);
	r = strncmp(why, lead, strlen(lead)) ? why : why + strlen(lead);
	snprintf(k->why[handle], sizeof(k->why[handle]), "%s", r);
	if (backend == D4_BACKEND_KERNEL)
		return why_set(msg, msg_len, ret,
			       "loop %s: backend = kernel: %s", info.name, r);
	return why_set(msg, msg_len, 0, "d4: loop %s on the VM: %s", info.name,
		       r);
}

int d4_kern_detach(struct d4_kern *k, int handle)
{
	if (!d4_kern_attached(k, handle))
		return -ENOENT;
	kprog_free(k->prog[handle]);
	k->prog[handle] = NULL;
	return 0;
}

int d4_kern_check(struct d4_runtime *rt, int handle,
		  const struct d4_kern_opts *o, bool load, char *why,
		  size_t why_len)
{
	struct d4_kern_opts none = {0};
	struct d4_program_info info;
	struct d4_bpf_opts bo;
	struct kprog *kp;
	int ret, i;

	if (d4_program_info(rt, handle, &info))
		return why_set(why, why_len, -ENOENT, "no loop %d", handle);
	kp = calloc(1, sizeof(*kp));
	if (!kp)
		return -ENOMEM;
	kp->handle = handle;
	kp->prog_fd = -1;
	for (i = 0; i < D4_BPF_NMAPS; i++)
		kp->map_fd[i] = -1;
	snprintf(kp->name, sizeof(kp->name), "%s", info.name);
	kp->code = d4_runtime_code(rt, handle);
	kp->send_rate = info.send_budget_s;
	/* a loop bound otherwise: as if to udp 10.0.0.1:5004 */
	kp->bind_ep = info.bind_kind == D4_BIND_UDP
			  ? d4_ep_make(ntohl(info.bind_addr.sin_addr.s_addr),
				       ntohs(info.bind_addr.sin_port))
			  : d4_ep_make(0x0a000001, 5004);
	bpf_opts(kp, o ? o : &none, 1500, &bo);
	ret = d4_bpf_translate(kp->code, &bo, &kp->bpf, why, why_len);
	if (!ret && d4_bpf_check(kp->bpf, why, why_len))
		ret = -EIO;
	if (!ret && load) {
		ret = make_maps(kp, why, why_len);
		if (!ret)
			ret = load_prog(kp, why, why_len);
	}
	kprog_free(kp);
	return ret;
}

/* ---- keeping up ---- */

static int kprog_sync(struct d4_kern *k, struct kprog *kp, double until,
		      char *why, size_t why_len)
{
	struct d4_program_info info;
	uint64_t ep;
	int ret;

	if (d4_program_info(k->rt, kp->handle, &info) ||
	    d4_runtime_code(k->rt, kp->handle) != kp->code)
		return why_set(why, why_len, -ENOENT, "loop %s: removed",
			       kp->name);
	ep = info.bind_kind == D4_BIND_UDP
		 ? d4_ep_make(ntohl(info.bind_addr.sin_addr.s_addr),
			      ntohs(info.bind_addr.sin_port))
		 : 0;
	if (ep != kp->bind_ep)
		return why_set(why, why_len, -ESTALE,
			       "loop %s: its binding changed to %s", kp->name,
			       info.binding);
	/* new receivers into the map first, then the lists that have them,
	 * then out with the ones no run can reach any more */
	ret = dst_collect(k, kp, until);
	if (ret)
		return why_set(why, why_len, ret, "out of memory");
	ret = publish(k, kp);
	if (ret)
		return why_set(why, why_len, ret,
			       "loop %s: a run held the snapshot for over "
			       "%.0f s",
			       kp->name, PUBLISH_WAIT);
	__atomic_store_n(&kp->shared->running, (uint64_t)info.running,
			 __ATOMIC_SEQ_CST);
	dst_prune(kp);
	return 0;
}

int d4_kern_sync(struct d4_kern *k, char *why, size_t why_len)
{
	uint64_t gen = d4_runtime_generation(k->rt);
	struct kprog *kp;
	int i, ret, first = 0;
	char opts_why[160];
	double until = now_s() + SETTLE_WAIT; /* one wait for all loops */

	if (why && why_len)
		why[0] = '\0';
	if (gen == k->gen)
		return 0;
	for (i = 0; i < D4_MAX_PROGRAMS; i++) {
		kp = k->prog[i];
		if (!kp)
			continue;
		ret = kprog_sync(k, kp, until, opts_why, sizeof(opts_why));
		if (ret == -ESTALE) {
			/* a new binding: the same loop again, at it */
			struct d4_kern_opts o = kp->opts;
			char ifn[IF_NAMESIZE], mifn[IF_NAMESIZE];

			snprintf(ifn, sizeof(ifn), "%s", kp->ifname);
			snprintf(mifn, sizeof(mifn), "%s", kp->mcast_ifname);
			o.ifname = ifn;
			o.mcast_ifname = mifn;
			d4_kern_detach(k, i);
			ret = d4_kern_attach(k, i, &o, opts_why,
					     sizeof(opts_why));
		}
		if (ret && ret != -ENOENT) {
			if (k->prog[i])
				d4_kern_detach(k, i);
			snprintf(k->why[i], sizeof(k->why[i]), "%s", opts_why);
		} else if (ret == -ENOENT) {
			d4_kern_detach(k, i);
			k->why[i][0] = '\0';
			ret = 0;
		}
		if (ret && !first) {
			first = ret;
			why_set(why, why_len, ret, "%s", opts_why);
		}
	}
	k->gen = gen;
	return first;
}

/* Remember computed address @a (best effort: without memory it is learnt
 * again after the next sync). */
static void comp_add(struct kprog *kp, uint32_t a)
{
	uint32_t *c;

	if (kp->ncomp >= kp->nneigh)
		return;
	c = realloc(kp->comp, (kp->ncomp + 1) * sizeof(*c));
	if (!c)
		return;
	kp->comp = c;
	kp->comp[kp->ncomp++] = a;
}

void d4_kern_poll(struct d4_kern *k)
{
	uint64_t *vals;
	int i, c;

	for (i = 0; i < D4_MAX_PROGRAMS; i++) {
		struct kprog *kp = k->prog[i];
		uint32_t zero = 0, j;

		if (!kp)
			continue;
		/* every destination again: a neighbour that moved, one
		 * resolved since, a route that changed */
		for (j = 0; j < kp->ndst; j++)
			dst_resolve(k, kp, kp->dst[j]);
		/* and computed ones the program met */
		vals = calloc((size_t)kp->ncpus, kp->bpf->pcpu_size);
		if (!vals)
			continue;
		if (!B.bpf_map_lookup_elem(kp->map_fd[D4_BPF_MAP_PCPU], &zero,
					   vals)) {
			for (c = 0; c < kp->ncpus; c++) {
				uint64_t m =
				    vals[(size_t)c * (kp->bpf->pcpu_size / 8) +
					 D4_BPF_SC_MISS / 8];

				/* no more than the map holds: addresses a
				 * loop computes from packets (src(pkt)) are
				 * the network's to choose */
				if (m >> 32 && kp->ndst < kp->nneigh &&
				    !dst_has(kp, (uint32_t)m) &&
				    !dst_add(kp, (uint32_t)m)) {
					comp_add(kp, (uint32_t)m);
					dst_resolve(k, kp, (uint32_t)m);
				}
			}
		}
		free(vals);
	}
}

/* ---- figures ---- */

int d4_kern_stats(struct d4_kern *k, int handle, struct d4_kern_stats *st)
{
	struct kprog *kp;
	struct d4_bpf_counters *ctr;
	uint64_t *vals;
	uint32_t zero = 0;
	int c;

	if (!d4_kern_attached(k, handle))
		return -ENOENT;
	kp = k->prog[handle];
	memset(st, 0, sizeof(*st));
	vals = calloc((size_t)kp->ncpus, kp->bpf->pcpu_size);
	if (!vals)
		return -ENOMEM;
	if (!B.bpf_map_lookup_elem(kp->map_fd[D4_BPF_MAP_PCPU], &zero, vals)) {
		for (c = 0; c < kp->ncpus; c++) {
			ctr =
			    (struct d4_bpf_counters *)((char *)vals +
						       (size_t)c *
							   kp->bpf->pcpu_size);
			st->in += ctr->in;
			st->sent += ctr->sent;
			st->dropped += ctr->dropped;
			st->errors += ctr->errors;
			st->passed += ctr->passed;
			st->no_neigh += ctr->no_neigh;
			st->send_fail += ctr->send_fail;
			st->budget_drops += ctr->budget_drops;
		}
	}
	free(vals);
	st->bpf_insns = kp->bpf->ninsn;
	st->verified_insns = kp->verified_insns;
	st->walk_estimate = kp->bpf->walk;
	st->attach_seq = kp->attach_seq;
	snprintf(st->ifname, sizeof(st->ifname), "%s", kp->ifname);
	return 0;
}

int d4_kern_program_info(struct d4_kern *k, int handle,
			 struct d4_program_info *info)
{
	struct d4_kern_stats st;
	struct kprog *kp;
	uint64_t trap;
	uint32_t pc;
	int ret = d4_program_info(k->rt, handle, info);

	if (ret)
		return ret;
	if (!d4_kern_attached(k, handle)) {
		snprintf(info->backend_why, sizeof(info->backend_why), "%s",
			 k->why[handle]);
		return 0;
	}
	kp = k->prog[handle];
	if (d4_kern_stats(k, handle, &st))
		return 0;
	snprintf(info->backend, sizeof(info->backend), "kernel");
	snprintf(info->backend_why, sizeof(info->backend_why),
		 "tc ingress of %s, %u BPF instructions", kp->ifname,
		 st.bpf_insns);
	info->pkts_in += st.in;
	info->pkts_sent += st.sent;
	info->pkts_dropped += st.dropped;
	info->errors += st.errors;
	info->budget_drops += st.budget_drops;
	trap = __atomic_load_n(&kp->shared->last_trap, __ATOMIC_RELAXED);
	pc = (uint32_t)trap;
	if (trap && pc < kp->code->ninsn)
		snprintf(info->last_error, sizeof(info->last_error),
			 "%d:%d: %s", kp->code->pos[pc].line,
			 kp->code->pos[pc].col,
			 d4_trap_name((enum d4_trap)(trap >> 32)));
	return 0;
}
