/* The D4 runtime: shared variables, loops by handle, and the seam between
 * the control thread (d4_exec and friends) and the one media thread
 * (d4_run). Shared variables live in one immutable snapshot; a change
 * copies it, publishes the copy with an atomic pointer swap, and frees the
 * old one only once the media thread is outside d4_run (it makes an epoch
 * counter odd on entry, even on exit). The control side may wait for that;
 * the media side never waits. A packet thus sees one whole snapshot.
 * Up to D4_MAX_LANES media threads may run loops at once, each with its own
 * epoch counter (a loop is run by one of them only).
 *
 * Each loop has a per-second send budget, a token bucket in the loop: the
 * bucket holds "credit" in datagram-nanoseconds (a datagram costs
 * NSEC_PER_SEC), refilled at the loop's rate for the time since its last
 * run (at most a second's worth at once) and capped at its burst. */
#include "d4/internal.h"
#include "d4/opcodes.h"

#include <arpa/inet.h>
#include <errno.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NSEC_PER_SEC 1000000000ull

struct d4_prog {
	int handle;
	char name[D4_MAX_NAME + 1];
	struct d4_code *code;
	enum d4_binding_kind bind_kind;
	uint64_t bind_ep;
	char bind_flow[D4_MAX_NAME + 1];
	/* per-second budget: fixed at load */
	uint32_t rate;	/* datagrams a second, 0: any */
	uint64_t burst; /* credit cap, datagram-ns */
	/* media side only */
	int64_t *regs;
	uint64_t rng;
	uint64_t credit;  /* datagram-ns */
	uint64_t last_ns; /* of the last refill, 0: none yet */
	/* written by the media side, read by the control side */
	atomic_bool running;
	_Atomic uint64_t pkts_in;
	_Atomic uint64_t pkts_sent;
	_Atomic uint64_t pkts_dropped;
	_Atomic uint64_t errors;
	_Atomic uint64_t budget_drops;
	_Atomic uint64_t max_insns;
	_Atomic uint32_t last_trap; /* enum d4_trap */
	_Atomic uint32_t last_trap_pc;
};

struct d4_runtime {
	struct d4_host host;
	uint64_t seed;
	_Atomic(struct d4_snap *) snap;
	_Atomic(struct d4_prog *) progs[D4_MAX_PROGRAMS];
	_Atomic uint64_t epoch[D4_MAX_LANES]; /* odd while a run runs */
	/* control side only */
	uint64_t generation;	       /* see d4_runtime_generation */
	uint32_t budget_pkt, budget_s; /* for loops loaded from now on */
	struct d4_var vars[D4_MAX_VARS];
	int nvars;
	uint32_t nslots;
};

static void prog_free(struct d4_prog *p)
{
	if (!p)
		return;
	d4_code_free(p->code);
	free(p->regs);
	free(p);
}

struct d4_runtime *d4_runtime_new(const struct d4_host *host)
{
	struct d4_runtime *rt = calloc(1, sizeof(*rt));
	struct d4_snap *s;

	if (!rt)
		return NULL;
	if (host)
		rt->host = *host;
	rt->seed = 0x9E3779B97F4A7C15ULL;
	rt->budget_pkt = D4_SENDS_PER_PACKET;
	s = calloc(1, sizeof(*s));
	if (!s) {
		free(rt);
		return NULL;
	}
	atomic_init(&rt->snap, s);
	return rt;
}

void d4_runtime_destroy(struct d4_runtime *rt)
{
	int i;

	if (!rt)
		return;
	for (i = 0; i < D4_MAX_PROGRAMS; i++)
		prog_free(atomic_load(&rt->progs[i]));
	free(atomic_load(&rt->snap));
	free(rt);
}

void d4_runtime_seed(struct d4_runtime *rt, uint64_t seed)
{
	rt->seed = seed ? seed : 1;
}

int d4_runtime_set_budget(struct d4_runtime *rt, uint32_t per_packet,
			  uint32_t per_second)
{
	if (per_packet < 1 || per_packet > D4_MAX_SENDS_PER_PACKET ||
	    per_second > D4_MAX_SENDS_PER_SECOND)
		return -EINVAL;
	rt->budget_pkt = per_packet;
	rt->budget_s = per_second;
	return 0;
}

/* Return once no run on any lane that could hold an old pointer is
 * running. */
static void rt_synchronize(struct d4_runtime *rt)
{
	unsigned int l;

	for (l = 0; l < D4_MAX_LANES; l++) {
		uint64_t e = atomic_load(&rt->epoch[l]);

		if (!(e & 1))
			continue;
		while (atomic_load(&rt->epoch[l]) == e)
			sched_yield();
	}
}

static struct d4_prog *prog_get(struct d4_runtime *rt, int handle)
{
	if (handle < 0 || handle >= D4_MAX_PROGRAMS)
		return NULL;
	return atomic_load(&rt->progs[handle]);
}

/* ---- applying text ---- */

struct exec {
	struct d4_runtime *rt;
	struct d4_arena arena;
	struct d4_diag diag;
	struct d4_scope scope;
	struct d4_var vars[D4_MAX_VARS];
	const char *loop_names[D4_MAX_PROGRAMS];
	struct d4_prog *new_progs[D4_MAX_PROGRAMS];
	int nnew;
	struct d4_snap *snap;
	/* the statement that last set each variable, line 0: none */
	int set_line[D4_MAX_VARS], set_col[D4_MAX_VARS];
};

static int find_var(const struct d4_var *vars, int n, const char *name)
{
	int i;

	for (i = 0; i < n; i++)
		if (!strcmp(vars[i].name, name))
			return i;
	return -1;
}

static bool list_has(const uint64_t *l, uint64_t ep)
{
	uint64_t i;

	for (i = 0; i < l[0]; i++)
		if (l[1 + i] == ep)
			return true;
	return false;
}

static int list_add(struct exec *x, const struct ast *at,
		    const struct d4_var *v, uint64_t ep)
{
	uint64_t *l = &x->snap->slot[v->slot];

	if (list_has(l, ep))
		return 0;
	if (l[0] >= v->cap) {
		d4_diag_set(&x->diag, at->line, at->col, D4_ERR_LIST_FULL,
			    v->name, v->cap);
		return -EINVAL;
	}
	l[1 + l[0]++] = ep;
	return 0;
}

static void list_del(uint64_t *l, uint64_t ep)
{
	uint64_t i, o = 0;

	for (i = 0; i < l[0]; i++)
		if (l[1 + i] != ep)
			l[1 + o++] = l[1 + i];
	l[0] = o;
}

/* Apply @op with value @e to variable @v in the new snapshot. */
static int apply_value(struct exec *x, const struct ast *at,
		       const struct d4_var *v, enum d4_tok op,
		       const struct ast *e)
{
	uint64_t *slot = &x->snap->slot[v->slot];
	const struct ast *item;
	int ret;

	if (v->type != D4T_LIST) {
		if (op == TK_ASSIGN)
			*slot = (uint64_t)e->cval;
		else if (op == TK_ADD_ASSIGN)
			*slot = (uint64_t)d4_add((int64_t)*slot, e->cval);
		else
			*slot = (uint64_t)d4_sub((int64_t)*slot, e->cval);
		return 0;
	}
	if (op == TK_ASSIGN) {
		slot[0] = 0;
		for (item = e->a; item; item = item->next)
			slot[1 + slot[0]++] = (uint64_t)item->cval;
		return 0;
	}
	for (item = e->kind == AST_LIST ? e->a : e; item;
	     item = e->kind == AST_LIST ? item->next : NULL) {
		if (op == TK_SUB_ASSIGN) {
			list_del(slot, (uint64_t)item->cval);
			continue;
		}
		ret = list_add(x, at, v, (uint64_t)item->cval);
		if (ret)
			return ret;
	}
	return 0;
}

static int make_prog(struct exec *x, const struct ast *loop,
		     struct d4_code *code)
{
	struct d4_prog *p = calloc(1, sizeof(*p));

	if (!p) {
		d4_code_free(code);
		return -ENOMEM;
	}
	p->code = code;
	p->handle = -1;
	snprintf(p->name, sizeof(p->name), "%s", loop->name);
	p->bind_kind = loop->bind_kind;
	p->bind_ep = (uint64_t)loop->bind_ep;
	snprintf(p->bind_flow, sizeof(p->bind_flow), "%s", loop->bind_flow);
	p->rate = x->rt->budget_s;
	if (p->rate) {
		p->burst = d4_budget_burst(p->rate, code->max_sends);
		p->credit = p->burst;
	}
	p->regs = calloc(code->nregs ? code->nregs : 1, sizeof(*p->regs));
	if (!p->regs) {
		prog_free(p);
		return -ENOMEM;
	}
	if (code->nstate)
		memcpy(p->regs, code->state_init,
		       code->nstate * sizeof(*p->regs));
	x->new_progs[x->nnew++] = p;
	return 0;
}

/* Everything that can fail, on copies; nothing is visible yet. */
/* Does @p's loop send to variable @pv's endpoints as they are, and did this
 * text give one of them no port? Checked for the variables the text set
 * and, for a loop the text makes, all it sends to: a port-less receiver in
 * a list would trap every run at it, and the receivers after it would
 * hear nothing. */
static int check_portvars(struct exec *x, const struct d4_prog *p, bool new)
{
	uint32_t i, j;

	for (i = 0; i < p->code->nportvars; i++) {
		const struct d4_portvar *pv = &p->code->portvar[i];
		const struct d4_var *v = &x->vars[pv->var];
		const uint64_t *slot = &x->snap->slot[v->slot];
		bool list = v->type == D4T_LIST;
		uint64_t n = list ? slot[0] : 1;

		if (!new && !x->set_line[pv->var])
			continue;
		for (j = 0; j < n; j++) {
			uint64_t ep = list ? slot[1 + j] : slot[0];
			char s[32];

			uint32_t addr = (uint32_t)(ep >> 16);
			int line = new ? pv->line : x->set_line[pv->var];
			int col = new ? pv->col : x->set_col[pv->var];

			if (!ep || ep >> 48)
				continue;
			d4_ep_format(ep, s, sizeof(s));
			/* 0.0.0.0 is this host to a socket and the default
			 * route's key to the kernel back end; the limited
			 * broadcast no socket may send to */
			if (addr == 0 || addr == 0xffffffffu) {
				d4_diag_set(&x->diag, line, col,
					    D4_ERR_NO_RECEIVER, s, p->name,
					    v->name, pv->line, pv->col);
				return -EINVAL;
			}
			if (ep & 0xffff)
				continue;
			d4_diag_set(&x->diag, line, col, D4_ERR_NO_PORT, s,
				    p->name, v->name, pv->line, pv->col);
			return -EINVAL;
		}
	}
	return 0;
}

static int check_ports(struct exec *x)
{
	int i, ret;

	for (i = 0; i < D4_MAX_PROGRAMS; i++) {
		const struct d4_prog *p = prog_get(x->rt, i);

		if (p && (ret = check_portvars(x, p, false)))
			return ret;
	}
	for (i = 0; i < x->nnew; i++)
		if ((ret = check_portvars(x, x->new_progs[i], true)))
			return ret;
	return 0;
}

static int exec_prepare(struct exec *x, const char *src, size_t len,
			bool one_loop)
{
	struct d4_runtime *rt = x->rt;
	struct d4_snap *old = atomic_load(&rt->snap);
	struct d4_tokens toks;
	struct ast *items, *a;
	struct d4_code *code;
	uint32_t bad_pc;
	int i, ret, v;

	ret = d4_lex(src, len, &x->arena, &toks, &x->diag);
	if (ret)
		return ret;
	ret = d4_parse(&toks, &x->arena, &items, &x->diag);
	if (ret)
		return ret;
	memcpy(x->vars, rt->vars, sizeof(rt->vars[0]) * (size_t)rt->nvars);
	x->scope.vars = x->vars;
	x->scope.nvars = rt->nvars;
	x->scope.max_vars = D4_MAX_VARS;
	x->scope.nslots = rt->nslots;
	x->scope.one_loop = one_loop;
	x->scope.max_sends = rt->budget_pkt;
	x->scope.loop_names = x->loop_names;
	for (i = 0; i < D4_MAX_PROGRAMS; i++) {
		struct d4_prog *p = prog_get(rt, i);

		if (p)
			x->loop_names[x->scope.nloops++] = p->name;
	}
	ret = d4_verify(items, &x->scope, &x->arena, &x->diag);
	if (ret)
		return ret;

	x->snap =
	    calloc(1, sizeof(*x->snap) + x->scope.nslots * sizeof(uint64_t));
	if (!x->snap)
		return -ENOMEM;
	x->snap->nslots = x->scope.nslots;
	memcpy(x->snap->slot, old->slot, old->nslots * sizeof(uint64_t));
	for (a = items; a; a = a->next) {
		switch (a->kind) {
		case AST_DECL:
			v = find_var(x->vars, x->scope.nvars, a->name);
			if (a->a) {
				ret = apply_value(x, a, &x->vars[v], TK_ASSIGN,
						  a->a);
				x->set_line[v] = a->line;
				x->set_col[v] = a->col;
			}
			break;
		case AST_SET:
			ret = apply_value(x, a, &x->vars[a->ival], a->op, a->a);
			x->set_line[a->ival] = a->line;
			x->set_col[a->ival] = a->col;
			break;
		case AST_LOOP:
			ret = d4_compile(a, &x->scope, &code, &x->diag);
			if (ret)
				return ret;
			if (d4_code_validate(code, x->scope.nslots, &bad_pc)) {
				/* the compiler made what the VM would refuse */
				d4_code_free(code);
				d4_diag_set(&x->diag, a->line, a->col,
					    D4_ERR_CODE, a->name, D4_MAX_CODE);
				return -EINVAL;
			}
			ret = make_prog(x, a, code);
			break;
		default:
			break;
		}
		if (ret)
			return ret;
	}
	return check_ports(x);
}

static void exec_commit(struct exec *x, int *handle)
{
	struct d4_runtime *rt = x->rt;
	struct d4_snap *old;
	int i, h = 0;

	memcpy(rt->vars, x->vars, sizeof(rt->vars[0]) * (size_t)x->scope.nvars);
	rt->nvars = x->scope.nvars;
	rt->nslots = x->scope.nslots;
	old = atomic_exchange(&rt->snap, x->snap);
	x->snap = NULL;
	rt_synchronize(rt);
	free(old);
	for (i = 0; i < x->nnew; i++) {
		struct d4_prog *p = x->new_progs[i];

		/* the verifier made sure there are enough free handles */
		while (h < D4_MAX_PROGRAMS - 1 && atomic_load(&rt->progs[h]))
			h++;
		p->handle = h;
		p->rng = rt->seed ^ ((uint64_t)(h + 1) * 0xD1B54A32D192ED03ULL);
		if (!p->rng)
			p->rng = 1;
		atomic_store(&rt->progs[h], p);
		x->new_progs[i] = NULL;
		if (handle && i == 0)
			*handle = h;
	}
	x->nnew = 0;
	rt->generation++;
}

static int rt_exec(struct d4_runtime *rt, const char *src, size_t len,
		   bool one_loop, int *handle, char *err, size_t err_len)
{
	struct exec *x;
	int ret, i;

	if (handle)
		*handle = -1;
	if (err && err_len)
		err[0] = '\0';
	if (!src && len)
		return -EINVAL;
	x = calloc(1, sizeof(*x));
	if (!x)
		return -ENOMEM;
	x->rt = rt;
	ret = exec_prepare(x, src ? src : "", len, one_loop);
	if (!ret)
		exec_commit(x, handle);
	if (ret && err && err_len) {
		if (x->diag.failed)
			d4_diag_format(&x->diag, err, err_len);
		else
			snprintf(err, err_len, "1:1: %s", strerror(-ret));
	}
	for (i = 0; i < x->nnew; i++)
		prog_free(x->new_progs[i]);
	free(x->snap);
	d4_arena_free(&x->arena);
	free(x);
	return ret;
}

int d4_exec(struct d4_runtime *rt, const char *src, size_t len, int *handle,
	    char *err, size_t err_len)
{
	return rt_exec(rt, src, len, true, handle, err, err_len);
}

int d4_load(struct d4_runtime *rt, const char *src, size_t len, char *err,
	    size_t err_len)
{
	return rt_exec(rt, src, len, false, NULL, err, err_len);
}

/* ---- loops ---- */

int d4_start(struct d4_runtime *rt, int handle)
{
	struct d4_prog *p = prog_get(rt, handle);

	if (!p)
		return -ENOENT;
	atomic_store(&p->running, true);
	rt->generation++;
	return 0;
}

int d4_stop(struct d4_runtime *rt, int handle)
{
	struct d4_prog *p = prog_get(rt, handle);

	if (!p)
		return -ENOENT;
	atomic_store(&p->running, false);
	rt->generation++;
	return 0;
}

int d4_remove(struct d4_runtime *rt, int handle)
{
	struct d4_prog *p = prog_get(rt, handle);

	if (!p)
		return -ENOENT;
	if (atomic_load(&p->running))
		return -EBUSY;
	atomic_store(&rt->progs[handle], NULL);
	rt_synchronize(rt);
	prog_free(p);
	rt->generation++;
	return 0;
}

int d4_set_binding(struct d4_runtime *rt, int handle, const char *text,
		   char *err, size_t err_len)
{
	struct d4_prog *p = prog_get(rt, handle);
	struct d4_arena arena = {0};
	struct d4_diag diag = {0};
	struct d4_tokens toks;
	const struct d4_token *t;
	char q[220];
	int ret;

	if (err && err_len)
		err[0] = '\0';
	if (!p)
		return -ENOENT;
	ret = d4_lex(text, strlen(text), &arena, &toks, &diag);
	if (ret)
		goto out;
	t = toks.tok;
	ret = -EINVAL;
	if (t[0].kind == TK_NAME && t[0].len == 3 &&
	    !memcmp(t[0].text, "udp", 3)) {
		if (t[1].kind == TK_EP && (t[1].ival & 0xffff) &&
		    t[2].kind == TK_NL && t[3].kind == TK_EOF) {
			p->bind_kind = D4_BIND_UDP;
			p->bind_ep = (uint64_t)t[1].ival;
			ret = 0;
		} else {
			bool ep_ok = t[1].kind == TK_EP && (t[1].ival & 0xffff);

			t = ep_ok ? &t[2] : &t[1];
			d4_tok_quote(t, q, sizeof(q));
			d4_diag_set(&diag, t->line, t->col, D4_ERR_EXPECTED, q,
				    ep_ok ? "end of line"
					  : "an address with a port");
		}
	} else if (t[0].kind == TK_NAME && t[0].len == 4 &&
		   !memcmp(t[0].text, "flow", 4)) {
		if (t[1].kind == TK_NAME && t[2].kind == TK_NL &&
		    t[3].kind == TK_EOF) {
			p->bind_kind = D4_BIND_FLOW;
			snprintf(p->bind_flow, sizeof(p->bind_flow), "%.*s",
				 (int)t[1].len, t[1].text);
			ret = 0;
		} else {
			bool name_ok = t[1].kind == TK_NAME;

			t = name_ok ? &t[2] : &t[1];
			d4_tok_quote(t, q, sizeof(q));
			d4_diag_set(&diag, t->line, t->col, D4_ERR_EXPECTED, q,
				    name_ok ? "end of line" : "a flow name");
		}
	} else {
		d4_tok_quote(t, q, sizeof(q));
		d4_diag_set(&diag, t->line, t->col, D4_ERR_EXPECTED, q,
			    "'udp' or 'flow'");
	}
out:
	if (!ret)
		rt->generation++;
	if (ret && err && err_len)
		snprintf(err, err_len, "%d:%d: %s", diag.line, diag.col,
			 diag.msg);
	d4_arena_free(&arena);
	return ret;
}

/* ---- undo ---- */

struct d4_mark {
	struct d4_prog *progs[D4_MAX_PROGRAMS];
	int nvars;
	uint32_t nslots;
	struct d4_snap *snap; /* a copy, published again by d4_rollback */
	struct d4_var vars[];
};

struct d4_mark *d4_mark(struct d4_runtime *rt)
{
	const struct d4_snap *cur = atomic_load(&rt->snap);
	struct d4_mark *m;
	int i;

	m = calloc(1, sizeof(*m) + (size_t)rt->nvars * sizeof(m->vars[0]));
	if (!m)
		return NULL;
	m->snap = malloc(sizeof(*m->snap) + cur->nslots * sizeof(uint64_t));
	if (!m->snap) {
		free(m);
		return NULL;
	}
	memcpy(m->snap, cur, sizeof(*cur) + cur->nslots * sizeof(uint64_t));
	for (i = 0; i < D4_MAX_PROGRAMS; i++)
		m->progs[i] = prog_get(rt, i);
	memcpy(m->vars, rt->vars, (size_t)rt->nvars * sizeof(m->vars[0]));
	m->nvars = rt->nvars;
	m->nslots = rt->nslots;
	return m;
}

void d4_mark_free(struct d4_mark *m)
{
	if (!m)
		return;
	free(m->snap);
	free(m);
}

int d4_rollback(struct d4_runtime *rt, struct d4_mark *m)
{
	struct d4_snap *old;
	struct d4_prog *p;
	int i;

	for (i = 0; i < D4_MAX_PROGRAMS; i++) {
		p = prog_get(rt, i);
		if (p && p != m->progs[i] && atomic_load(&p->running)) {
			d4_mark_free(m);
			return -EBUSY;
		}
	}
	/* the loops first: those loaded since may use variables that go */
	for (i = 0; i < D4_MAX_PROGRAMS; i++) {
		p = prog_get(rt, i);
		if (p && p != m->progs[i])
			d4_remove(rt, i);
	}
	memcpy(rt->vars, m->vars, (size_t)m->nvars * sizeof(m->vars[0]));
	rt->nvars = m->nvars;
	rt->nslots = m->nslots;
	old = atomic_exchange(&rt->snap, m->snap);
	m->snap = NULL;
	rt_synchronize(rt);
	free(old);
	rt->generation++;
	d4_mark_free(m);
	return 0;
}

int d4_program_list(struct d4_runtime *rt, int *handles, int max)
{
	int i, n = 0;

	for (i = 0; i < D4_MAX_PROGRAMS; i++) {
		if (!prog_get(rt, i))
			continue;
		if (n < max)
			handles[n] = i;
		n++;
	}
	return n;
}

int d4_program_find(struct d4_runtime *rt, const char *name)
{
	struct d4_prog *p;
	int i;

	for (i = 0; i < D4_MAX_PROGRAMS; i++) {
		p = prog_get(rt, i);
		if (p && !strcmp(p->name, name))
			return i;
	}
	return -ENOENT;
}

int d4_program_info(struct d4_runtime *rt, int handle,
		    struct d4_program_info *info)
{
	struct d4_prog *p = prog_get(rt, handle);
	enum d4_trap trap;
	uint32_t pc;
	char ep[32];

	if (!p)
		return -ENOENT;
	memset(info, 0, sizeof(*info));
	info->handle = handle;
	snprintf(info->name, sizeof(info->name), "%s", p->name);
	info->bind_kind = p->bind_kind;
	switch (p->bind_kind) {
	case D4_BIND_UDP:
		info->bind_addr.sin_family = AF_INET;
		info->bind_addr.sin_addr.s_addr =
		    htonl((uint32_t)(p->bind_ep >> 16));
		info->bind_addr.sin_port = htons((uint16_t)p->bind_ep);
		d4_ep_format(p->bind_ep, ep, sizeof(ep));
		snprintf(info->binding, sizeof(info->binding), "udp %s", ep);
		break;
	case D4_BIND_FLOW:
		snprintf(info->bind_flow, sizeof(info->bind_flow), "%s",
			 p->bind_flow);
		snprintf(info->binding, sizeof(info->binding), "flow %s",
			 p->bind_flow);
		break;
	case D4_BIND_NONE:
		snprintf(info->binding, sizeof(info->binding), "none");
		break;
	}
	info->running = atomic_load(&p->running);
	info->wcet_insns = p->code->wcet;
	info->max_sends = p->code->max_sends;
	info->send_budget_s = p->rate;
	info->budget_drops =
	    atomic_load_explicit(&p->budget_drops, memory_order_relaxed);
	info->max_insns =
	    atomic_load_explicit(&p->max_insns, memory_order_relaxed);
	info->pkts_in = atomic_load_explicit(&p->pkts_in, memory_order_relaxed);
	info->pkts_sent =
	    atomic_load_explicit(&p->pkts_sent, memory_order_relaxed);
	info->pkts_dropped =
	    atomic_load_explicit(&p->pkts_dropped, memory_order_relaxed);
	info->errors = atomic_load_explicit(&p->errors, memory_order_relaxed);
	snprintf(info->backend, sizeof(info->backend), "vm");
	trap = (enum d4_trap)atomic_load(&p->last_trap);
	pc = atomic_load(&p->last_trap_pc);
	if (trap != D4_TRAP_NONE && pc < p->code->ninsn)
		snprintf(info->last_error, sizeof(info->last_error),
			 "%d:%d: %s", p->code->pos[pc].line,
			 p->code->pos[pc].col, d4_trap_name(trap));
	return 0;
}

int d4_program_dump(struct d4_runtime *rt, int handle, FILE *out)
{
	struct d4_prog *p = prog_get(rt, handle);
	const struct d4_code *code;
	struct d4_program_info info;
	uint32_t i;
	int v;

	if (!p)
		return -ENOENT;
	code = p->code;
	d4_program_info(rt, handle, &info);
	fprintf(out, "loop %s (%s)\n", p->name, info.binding);
	for (i = 0; i < code->nvars; i++) {
		for (v = 0; v < rt->nvars; v++)
			if (rt->vars[v].slot == code->vars[i].slot)
				fprintf(out, "; v%u = %s\n", i,
					rt->vars[v].name);
	}
	d4_code_dump(code, out);
	return 0;
}

/* ---- for the kernel back end ---- */

const struct d4_code *d4_runtime_code(struct d4_runtime *rt, int handle)
{
	struct d4_prog *p = prog_get(rt, handle);

	return p ? p->code : NULL;
}

int d4_runtime_loop_state(struct d4_runtime *rt, int handle, int64_t *state,
			  uint64_t *rng)
{
	struct d4_prog *p = prog_get(rt, handle);

	if (!p)
		return -ENOENT;
	if (p->code->nstate)
		memcpy(state, p->regs, p->code->nstate * sizeof(*state));
	*rng = p->rng;
	return 0;
}

const struct d4_snap *d4_runtime_snap(struct d4_runtime *rt)
{
	return atomic_load(&rt->snap);
}

uint64_t d4_runtime_generation(struct d4_runtime *rt)
{
	return rt->generation;
}

/* ---- variables ---- */

static const char *var_type_text(const struct d4_var *v, char *buf, size_t len)
{
	if (v->type == D4T_LIST)
		snprintf(buf, len, "IP[%u]", v->cap);
	else
		snprintf(buf, len, "%s", d4_type_name(v->type));
	return buf;
}

int d4_var_count(struct d4_runtime *rt)
{
	return rt->nvars;
}

int d4_var_info(struct d4_runtime *rt, int i, struct d4_var_info *info)
{
	const struct d4_var *v;
	const struct d4_snap *s = atomic_load(&rt->snap);

	if (i < 0 || i >= rt->nvars)
		return -ENOENT;
	v = &rt->vars[i];
	memset(info, 0, sizeof(*info));
	snprintf(info->name, sizeof(info->name), "%s", v->name);
	var_type_text(v, info->type, sizeof(info->type));
	info->cap = v->cap;
	info->count = v->type == D4T_LIST ? (uint32_t)s->slot[v->slot] : 1;
	return 0;
}

int d4_var_format(struct d4_runtime *rt, const char *name, char *buf,
		  size_t len)
{
	const struct d4_snap *s = atomic_load(&rt->snap);
	const struct d4_var *v;
	const uint64_t *l;
	size_t o = 0;
	uint64_t i;
	char ep[32];
	int n;

	n = find_var(rt->vars, rt->nvars, name);
	if (n < 0)
		return -ENOENT;
	v = &rt->vars[n];
	l = &s->slot[v->slot];
	if (!len)
		return -ENOSPC;
	if (v->type == D4T_INT) {
		n = snprintf(buf, len, "%lld", (long long)(int64_t)l[0]);
		return (size_t)n < len ? 0 : -ENOSPC;
	}
	if (v->type == D4T_IP) {
		d4_ep_format(l[0], ep, sizeof(ep));
		n = snprintf(buf, len, "%s", ep);
		return (size_t)n < len ? 0 : -ENOSPC;
	}
	n = snprintf(buf, len, "[");
	for (i = 0; i < l[0] && (size_t)n < len; i++) {
		o = (size_t)n;
		d4_ep_format(l[1 + i], ep, sizeof(ep));
		n += snprintf(buf + o, len - o, "%s%s", i ? ", " : "", ep);
	}
	if ((size_t)n < len)
		n += snprintf(buf + n, len - (size_t)n, "]");
	return (size_t)n < len ? 0 : -ENOSPC;
}

/* ---- the media side ---- */

struct run_ctx {
	const struct d4_host *host;
	struct d4_prog *p;
	int handle;
};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

/* The loop's bucket at the start of a run. RT. */
static void budget_refill(const struct d4_host *host, struct d4_prog *p)
{
	uint64_t now = host->now_ns ? host->now_ns(host->ctx) : mono_ns();
	uint64_t dt = p->last_ns && now > p->last_ns ? now - p->last_ns : 0;

	p->last_ns = now ? now : 1;
	if (dt > NSEC_PER_SEC)
		dt = NSEC_PER_SEC; /* a second's worth at most: the burst */
	p->credit += dt * p->rate; /* <= 1e9 * 1e6: no overflow */
	if (p->credit > p->burst)
		p->credit = p->burst;
}

static int run_send(void *ctx, const uint8_t *pkt, size_t len, uint64_t ep)
{
	struct run_ctx *rc = ctx;
	struct sockaddr_in dst = {
	    .sin_family = AF_INET,
	    .sin_port = htons((uint16_t)ep),
	    .sin_addr.s_addr = htonl((uint32_t)(ep >> 16)),
	};
	int ret;

	if (rc->p->rate) {
		if (rc->p->credit < NSEC_PER_SEC)
			return 1; /* over the budget: not sent */
		rc->p->credit -= NSEC_PER_SEC;
	}
	if (rc->host->send_unchanged && !rc->p->code->writes_pkt)
		ret = rc->host->send_unchanged(rc->host->ctx, rc->handle, pkt,
					       len, &dst);
	else if (rc->host->send)
		ret = rc->host->send(rc->host->ctx, rc->handle, pkt, len, &dst);
	else
		return 0;
	return ret > 0 ? 0 : ret;
}

/* One writer: a plain load and store, no locked instruction. */
static void ctr_add(_Atomic uint64_t *c, uint64_t n)
{
	atomic_store_explicit(c,
			      atomic_load_explicit(c, memory_order_relaxed) + n,
			      memory_order_relaxed);
}

/* RT: no alloc, no locks. */
int d4_run_lane(struct d4_runtime *rt, unsigned int lane, int handle,
		uint8_t *pkt, size_t len, const struct sockaddr_in *src)
{
	struct run_ctx rc = {.host = &rt->host, .handle = handle};
	struct d4_vm vm;
	struct d4_prog *p;
	enum d4_vm_end end;
	int ret;

	if (lane >= D4_MAX_LANES)
		return -EINVAL;
	if (handle < 0 || handle >= D4_MAX_PROGRAMS)
		return -ENOENT;
	if ((!pkt && len) || len > D4_MAX_PKT)
		return -EINVAL;
	atomic_fetch_add(&rt->epoch[lane], 1); /* odd: inside */
	p = atomic_load(&rt->progs[handle]);
	if (!p) {
		ret = -ENOENT;
		goto out;
	}
	if (!atomic_load_explicit(&p->running, memory_order_acquire)) {
		ret = -EAGAIN;
		goto out;
	}
	rc.p = p;
	if (p->rate)
		budget_refill(&rt->host, p);
	memset(&vm, 0, sizeof(vm));
	vm.code = p->code;
	vm.regs = p->regs;
	vm.snap = atomic_load(&rt->snap);
	vm.pkt = pkt;
	vm.len = len;
	vm.src =
	    src ? d4_ep_make(ntohl(src->sin_addr.s_addr), ntohs(src->sin_port))
		: 0;
	vm.rng = &p->rng;
	vm.send = run_send;
	vm.send_ctx = &rc;
	end = d4_vm_run(&vm);

	ctr_add(&p->pkts_in, 1);
	ctr_add(&p->pkts_sent, vm.sent);
	if (vm.budget_drops)
		ctr_add(&p->budget_drops, vm.budget_drops);
	if (vm.insns >
	    atomic_load_explicit(&p->max_insns, memory_order_relaxed))
		atomic_store_explicit(&p->max_insns, vm.insns,
				      memory_order_relaxed);
	if (vm.send_errors)
		ctr_add(&p->errors, vm.send_errors);
	if (end == D4_VM_TRAP) {
		ctr_add(&p->errors, 1);
		atomic_store_explicit(&p->last_trap_pc, vm.trap_pc,
				      memory_order_relaxed);
		atomic_store(&p->last_trap, (uint32_t)vm.trap);
		ret = -EIO;
	} else {
		if (end == D4_VM_DROP || vm.sent == 0)
			ctr_add(&p->pkts_dropped, 1);
		ret = (int)vm.sent;
	}
out:
	atomic_fetch_add(&rt->epoch[lane], 1); /* even: outside */
	return ret;
}

int d4_run(struct d4_runtime *rt, int handle, uint8_t *pkt, size_t len,
	   const struct sockaddr_in *src)
{
	return d4_run_lane(rt, 0, handle, pkt, len, src);
}
