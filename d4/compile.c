/* The D4 compiler: a verified loop to bytecode (opcodes.h), and with it the
 * proven worst case. Each function that emits code returns the most
 * instructions that code can execute once entered: straight code counts
 * what it emits, an if its costliest arm, a for its trip bound times its
 * body. The VM runs with that number as fuel, so the proof is also checked
 * at run time. */
#include "d4/internal.h"
#include "d4/opcodes.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FORIN 16

struct compiler {
	const struct d4_scope *scope;
	struct d4_diag *d;
	const struct ast *loop;
	struct d4_code *code;
	uint32_t insn_cap;
	uint32_t k_cap;
	int var_ref[D4_MAX_VARS]; /* runtime variable -> reference + 1 */
	int top;		  /* first free register */
	int first_temp;		  /* registers below are named */
	/* the for-in loops around what is being compiled: their variable
	 * and the shared list it runs over */
	const struct d4_sym *forin_sym[MAX_FORIN];
	int forin_var[MAX_FORIN];
	int nforin;
	int line; /* position of what is being emitted */
	int col;
	int err;
};

static uint64_t sat_add(uint64_t a, uint64_t b)
{
	return a + b < a ? UINT64_MAX : a + b;
}

static uint64_t sat_mul(uint64_t a, uint64_t b)
{
	if (a && b > UINT64_MAX / a)
		return UINT64_MAX;
	return a * b;
}

static void cfail(struct compiler *c, const char *fmt, int limit)
{
	if (c->err)
		return;
	d4_diag_set(c->d, c->loop->line, c->loop->col, fmt, c->loop->name,
		    limit);
	c->err = -EINVAL;
}

static uint32_t emit(struct compiler *c, uint32_t insn)
{
	struct d4_code *code = c->code;

	if (c->err)
		return 0;
	if (code->ninsn >= D4_MAX_CODE) {
		cfail(c, D4_ERR_CODE, D4_MAX_CODE);
		return 0;
	}
	if (code->ninsn == c->insn_cap) {
		uint32_t cap = c->insn_cap ? c->insn_cap * 2 : 64;
		uint32_t *in = realloc(code->insn, cap * sizeof(*in));
		struct d4_pos *pos;

		if (!in) {
			c->err = -ENOMEM;
			return 0;
		}
		code->insn = in;
		pos = realloc(code->pos, cap * sizeof(*pos));
		if (!pos) {
			c->err = -ENOMEM;
			return 0;
		}
		code->pos = pos;
		c->insn_cap = cap;
	}
	code->insn[code->ninsn] = insn;
	code->pos[code->ninsn].line = c->line;
	code->pos[code->ninsn].col = c->col;
	return code->ninsn++;
}

static void at_node(struct compiler *c, const struct ast *a)
{
	c->line = a->line;
	c->col = a->col;
}

static int alloc_reg(struct compiler *c)
{
	if (c->top >= D4_MAX_REGS) {
		cfail(c, D4_ERR_REGS, D4_MAX_REGS);
		return 0;
	}
	if ((uint32_t)c->top + 1 > c->code->nregs)
		c->code->nregs = (uint32_t)c->top + 1;
	return c->top++;
}

static uint32_t add_const(struct compiler *c, int64_t v)
{
	struct d4_code *code = c->code;
	uint32_t i;

	for (i = 0; i < code->nk; i++)
		if (code->k[i] == v)
			return i;
	if (code->nk == c->k_cap) {
		uint32_t cap = c->k_cap ? c->k_cap * 2 : 16;
		int64_t *k = realloc(code->k, cap * sizeof(*k));

		if (!k) {
			c->err = -ENOMEM;
			return 0;
		}
		code->k = k;
		c->k_cap = cap;
	}
	code->k[code->nk] = v;
	return code->nk++;
}

static uint64_t load_const(struct compiler *c, int dst, int64_t v)
{
	if (v >= -D4_MAXARG_SBX && v <= D4_MAXARG_SBX)
		emit(c, d4_mk_asbx(D4_OP_LOADI, (uint32_t)dst, (int32_t)v));
	else
		emit(c, d4_mk_abx(D4_OP_LOADK, (uint32_t)dst, add_const(c, v)));
	return 1;
}

/* The reference number of runtime variable @var in this loop's table. */
static uint32_t var_ref(struct compiler *c, int var)
{
	const struct d4_var *v = &c->scope->vars[var];
	struct d4_code *code = c->code;
	struct d4_varref *r;

	if (c->var_ref[var])
		return (uint32_t)c->var_ref[var] - 1;
	r = &code->vars[code->nvars];
	r->slot = v->slot;
	r->cap = v->cap;
	r->list = v->type == D4T_LIST;
	if (v->slot + (r->list ? 1 + v->cap : 1) > code->min_slots)
		code->min_slots = v->slot + (r->list ? 1 + v->cap : 1);
	c->var_ref[var] = (int)++code->nvars;
	return code->nvars - 1;
}

static uint32_t jump_here(struct compiler *c, uint32_t from)
{
	struct d4_code *code = c->code;
	int32_t off = (int32_t)code->ninsn - (int32_t)from - 1;
	uint32_t i;

	if (c->err)
		return 0;
	i = code->insn[from];
	code->insn[from] =
	    d4_mk_asbx((enum d4_opcode)d4_op(i), d4_arg_a(i), off);
	return 0;
}

static uint64_t cexpr(struct compiler *c, const struct ast *e, int dst);

/* A register holding @e: a named one as it is, else a new temporary. */
static int reg_of(struct compiler *c, const struct ast *e, uint64_t *cost)
{
	int r;

	if (e->kind == AST_NAME && !e->is_const && e->sym &&
	    (e->sym->kind == SYM_LOCAL || e->sym->kind == SYM_STATE))
		return e->sym->reg;
	r = alloc_reg(c);
	*cost = sat_add(*cost, cexpr(c, e, r));
	return r;
}

/* pkt[a:b] or pkt[a]: the offset register, and the width (0: dynamic,
 * then *end holds the end register). */
static uint64_t slice_regs(struct compiler *c, const struct ast *s, int *off,
			   int *end, uint32_t *width)
{
	uint64_t cost = 0;

	*off = reg_of(c, s->a, &cost);
	*end = 0;
	if (!s->b) {
		*width = 1;
	} else if (s->a->is_const && s->b->is_const) {
		*width = (uint32_t)(s->b->cval - s->a->cval);
	} else {
		*width = 0;
		*end = reg_of(c, s->b, &cost);
	}
	return cost;
}

static uint64_t cslice(struct compiler *c, const struct ast *e, int dst)
{
	int off, end, save = c->top;
	uint32_t w;
	uint64_t cost;

	if (e->sym->type == D4T_LIST) {
		cost = 0;
		off = reg_of(c, e->a, &cost);
		at_node(c, e);
		emit(c, d4_mk_abc(D4_OP_LGET, (uint32_t)dst, (uint32_t)off,
				  var_ref(c, e->sym->var)));
		c->top = save;
		return cost + 1;
	}
	cost = slice_regs(c, e, &off, &end, &w);
	at_node(c, e);
	if (w)
		emit(c, d4_mk_abc(D4_OP_LDP, (uint32_t)dst, (uint32_t)off, w));
	else
		emit(c, d4_mk_abc(D4_OP_LDPV, (uint32_t)dst, (uint32_t)off,
				  (uint32_t)end));
	c->top = save;
	return cost + 1;
}

static uint64_t ccall(struct compiler *c, const struct ast *e, int dst)
{
	const struct ast *x = e->a;
	uint64_t cost = 0;
	int save = c->top, ra, rb, t, z;
	uint32_t d = (uint32_t)dst;

	if (!strcmp(e->name, "len")) {
		if (x->type == D4T_LIST)
			emit(c, d4_mk_abc(D4_OP_LCOUNT, d,
					  var_ref(c, x->sym->var), 0));
		else
			emit(c, d4_mk_abc(D4_OP_LEN, d, 0, 0));
		return 1;
	}
	if (!strcmp(e->name, "src")) {
		emit(c, d4_mk_abc(D4_OP_SRC, d, 0, 0));
		return 1;
	}
	ra = reg_of(c, x, &cost);
	at_node(c, e);
	if (!strcmp(e->name, "random")) {
		emit(c, d4_mk_abc(D4_OP_RAND, d, (uint32_t)ra, 0));
	} else if (!strcmp(e->name, "addr")) {
		emit(c, d4_mk_abc(D4_OP_EPADDR, d, (uint32_t)ra, 0));
	} else if (!strcmp(e->name, "port")) {
		emit(c, d4_mk_abc(D4_OP_EPPORT, d, (uint32_t)ra, 0));
	} else if (!strcmp(e->name, "seq_diff")) {
		rb = reg_of(c, x->next, &cost);
		emit(c,
		     d4_mk_abc(D4_OP_SEQDIFF, d, (uint32_t)ra, (uint32_t)rb));
	} else { /* seq_after(a, b): 0 < seq_diff(a, b) */
		rb = reg_of(c, x->next, &cost);
		t = alloc_reg(c);
		z = alloc_reg(c);
		emit(c, d4_mk_abc(D4_OP_SEQDIFF, (uint32_t)t, (uint32_t)ra,
				  (uint32_t)rb));
		load_const(c, z, 0);
		emit(c, d4_mk_abc(D4_OP_LT, d, (uint32_t)z, (uint32_t)t));
		cost += 2;
	}
	c->top = save;
	return cost + 1;
}

static uint64_t clogic(struct compiler *c, const struct ast *e, int dst)
{
	uint64_t ca, cb;
	uint32_t j1, d = (uint32_t)dst;
	int save = c->top, t;

	if (dst < c->first_temp) {
		/* a named target would be written before b is read */
		t = alloc_reg(c);
		ca = clogic(c, e, t);
		emit(c, d4_mk_abc(D4_OP_MOV, d, (uint32_t)t, 0));
		c->top = save;
		return ca + 1;
	}
	/* and: a false skips b; or: a true skips b. Both yield 0 or 1. */
	ca = cexpr(c, e->a, dst);
	if (e->op == TK_OR) {
		emit(c, d4_mk_abc(D4_OP_LNOT, d, d, 0));
		emit(c, d4_mk_abc(D4_OP_LNOT, d, d, 0));
		ca += 2;
	}
	j1 = emit(c, d4_mk_asbx(e->op == TK_AND ? D4_OP_JZ : D4_OP_JNZ, d, 0));
	cb = cexpr(c, e->b, dst);
	emit(c, d4_mk_abc(D4_OP_LNOT, d, d, 0));
	emit(c, d4_mk_abc(D4_OP_LNOT, d, d, 0));
	jump_here(c, j1);
	return sat_add(ca, sat_add(cb, 3));
}

static enum d4_opcode binop(enum d4_tok op, bool *swap)
{
	*swap = false;
	switch (op) {
	case TK_PLUS:
		return D4_OP_ADD;
	case TK_MINUS:
		return D4_OP_SUB;
	case TK_STAR:
		return D4_OP_MUL;
	case TK_SLASH:
		return D4_OP_DIV;
	case TK_PERCENT:
		return D4_OP_MOD;
	case TK_AMP:
		return D4_OP_BAND;
	case TK_PIPE:
		return D4_OP_BOR;
	case TK_CARET:
		return D4_OP_BXOR;
	case TK_SHL:
		return D4_OP_SHL;
	case TK_SHR:
		return D4_OP_SHR;
	case TK_EQ:
		return D4_OP_EQ;
	case TK_NE:
		return D4_OP_NE;
	case TK_LT:
		return D4_OP_LT;
	case TK_LE:
		return D4_OP_LE;
	case TK_GT:
		*swap = true;
		return D4_OP_LT;
	default: /* TK_GE */
		*swap = true;
		return D4_OP_LE;
	}
}

static uint64_t cexpr(struct compiler *c, const struct ast *e, int dst)
{
	uint64_t cost = 0;
	int save = c->top, ra, rb;
	enum d4_opcode op;
	bool swap;
	uint32_t d = (uint32_t)dst;

	if (c->err)
		return 0;
	if (e->is_const)
		return load_const(c, dst, e->cval);
	switch (e->kind) {
	case AST_NAME:
		if (e->sym->kind == SYM_SHARED) {
			emit(c, d4_mk_abc(D4_OP_GETV, d,
					  var_ref(c, e->sym->var), 0));
			return 1;
		}
		emit(c, d4_mk_abc(D4_OP_MOV, d, (uint32_t)e->sym->reg, 0));
		return 1;
	case AST_SLICE:
		return cslice(c, e, dst);
	case AST_CALL:
		return ccall(c, e, dst);
	case AST_UNARY:
		ra = reg_of(c, e->a, &cost);
		op = e->op == TK_MINUS	 ? D4_OP_NEG
		     : e->op == TK_TILDE ? D4_OP_BNOT
					 : D4_OP_LNOT;
		emit(c, d4_mk_abc(op, d, (uint32_t)ra, 0));
		c->top = save;
		return cost + 1;
	case AST_BINARY:
		if (e->op == TK_AND || e->op == TK_OR)
			return clogic(c, e, dst);
		ra = reg_of(c, e->a, &cost);
		rb = reg_of(c, e->b, &cost);
		op = binop(e->op, &swap);
		at_node(c, e);
		if (swap)
			emit(c, d4_mk_abc(op, d, (uint32_t)rb, (uint32_t)ra));
		else
			emit(c, d4_mk_abc(op, d, (uint32_t)ra, (uint32_t)rb));
		c->top = save;
		return cost + 1;
	default:
		return 0;
	}
}

static uint64_t cblock(struct compiler *c, const struct ast *s);

static uint64_t cif(struct compiler *c, const struct ast *s)
{
	uint32_t *ends, nends = 0, narms = 0, jz;
	uint64_t conds = 0, worst = 0, arm, cost;
	const struct ast *a;
	int save = c->top, r;

	for (a = s; a; a = a->next_elif)
		narms++;
	ends = calloc(narms, sizeof(*ends));
	if (!ends) {
		c->err = -ENOMEM;
		return 0;
	}
	for (a = s; a; a = a->next_elif) {
		at_node(c, a);
		cost = 0;
		r = reg_of(c, a->a, &cost);
		jz = emit(c, d4_mk_asbx(D4_OP_JZ, (uint32_t)r, 0));
		c->top = save;
		conds = sat_add(conds, cost + 1);
		arm = cblock(c, a->b);
		if (a->next_elif || s->c) {
			ends[nends++] = emit(c, d4_mk_asbx(D4_OP_JMP, 0, 0));
			arm = sat_add(arm, 1);
		}
		/* the worst path through this arm passed every earlier test */
		arm = sat_add(arm, conds);
		if (arm > worst)
			worst = arm;
		jump_here(c, jz);
	}
	arm = sat_add(cblock(c, s->c), conds);
	if (arm > worst)
		worst = arm;
	while (nends)
		jump_here(c, ends[--nends]);
	free(ends);
	return worst;
}

/* sendto(pkt, @dst) without a port: if @dst is a shared variable, or the
 * variable of a for over a shared list, note that variable (its values
 * need ports; d4_exec checks them). */
static void note_portvar(struct compiler *c, const struct ast *dst,
			 const struct ast *at)
{
	struct d4_code *code = c->code;
	int var = -1, i;
	uint32_t j;

	if (dst->kind != AST_NAME || dst->is_const || !dst->sym)
		return;
	if (dst->sym->kind == SYM_SHARED)
		var = dst->sym->var;
	for (i = c->nforin - 1; i >= 0 && var < 0; i--)
		if (c->forin_sym[i] == dst->sym)
			var = c->forin_var[i];
	if (var < 0)
		return;
	for (j = 0; j < code->nportvars; j++)
		if (code->portvar[j].var == var)
			return;
	if (code->nportvars < D4_MAX_PORTVARS)
		code->portvar[code->nportvars++] =
		    (struct d4_portvar){var, at->line, at->col};
}

static uint64_t cfor(struct compiler *c, const struct ast *f)
{
	int save = c->top, cnt, idx, one, var = f->sym->reg;
	uint32_t body, skip = 0, ref = 0;
	uint64_t setup, per;

	at_node(c, f);
	if (f->kind == AST_FOR_TO) {
		if (f->trips == 0)
			return 0; /* verified, but it never runs */
		cnt = alloc_reg(c);
		one = alloc_reg(c);
		setup = load_const(c, cnt, (int64_t)f->trips);
		setup += load_const(c, var, f->a->cval);
		setup += load_const(c, one, f->c ? f->c->cval : 1);
		idx = var;
	} else {
		ref = var_ref(c, f->a->sym->var);
		cnt = alloc_reg(c);
		idx = alloc_reg(c);
		one = alloc_reg(c);
		emit(c, d4_mk_abc(D4_OP_LCOUNT, (uint32_t)cnt, ref, 0));
		skip = emit(c, d4_mk_asbx(D4_OP_JZ, (uint32_t)cnt, 0));
		load_const(c, idx, 0);
		load_const(c, one, 1);
		setup = 4;
	}
	body = c->code->ninsn;
	per = 2;
	if (f->kind == AST_FOR_IN) {
		emit(c,
		     d4_mk_abc(D4_OP_LGET, (uint32_t)var, (uint32_t)idx, ref));
		per++;
	}
	if (f->kind == AST_FOR_IN && c->nforin < MAX_FORIN) {
		c->forin_sym[c->nforin] = f->sym;
		c->forin_var[c->nforin++] = f->a->sym->var;
		per = sat_add(per, cblock(c, f->d));
		c->nforin--;
	} else {
		per = sat_add(per, cblock(c, f->d));
	}
	at_node(c, f);
	emit(c,
	     d4_mk_abc(D4_OP_ADD, (uint32_t)idx, (uint32_t)idx, (uint32_t)one));
	emit(c, d4_mk_asbx(D4_OP_FORLOOP, (uint32_t)cnt,
			   (int32_t)body - (int32_t)c->code->ninsn - 1));
	if (f->kind == AST_FOR_IN)
		jump_here(c, skip);
	c->top = save;
	return sat_add(setup, sat_mul(f->trips, per));
}

static uint64_t cstmt(struct compiler *c, const struct ast *s)
{
	uint64_t cost = 0;
	int save = c->top, rv, off, end, r;
	uint32_t w;

	at_node(c, s);
	switch (s->kind) {
	case AST_SET:
		r = s->sym->reg;
		if (s->op == TK_ASSIGN)
			return cexpr(c, s->a, r);
		rv = reg_of(c, s->a, &cost);
		emit(c,
		     d4_mk_abc(s->op == TK_ADD_ASSIGN ? D4_OP_ADD : D4_OP_SUB,
			       (uint32_t)r, (uint32_t)r, (uint32_t)rv));
		c->top = save;
		return cost + 1;
	case AST_SET_SLICE:
		rv = reg_of(c, s->b, &cost);
		cost += slice_regs(c, s->a, &off, &end, &w);
		at_node(c, s->a);
		if (w)
			emit(c, d4_mk_abc(D4_OP_STP, (uint32_t)rv,
					  (uint32_t)off, w));
		else
			emit(c, d4_mk_abc(D4_OP_STPV, (uint32_t)rv,
					  (uint32_t)off, (uint32_t)end));
		c->top = save;
		return cost + 1;
	case AST_IF:
		return cif(c, s);
	case AST_FOR_TO:
	case AST_FOR_IN:
		return cfor(c, s);
	case AST_SENDTO:
		r = reg_of(c, s->a->next, &cost);
		if (s->a->next->next) {
			rv = reg_of(c, s->a->next->next, &cost);
			at_node(c, s);
			emit(c, d4_mk_abc(D4_OP_SENDP, (uint32_t)r,
					  (uint32_t)rv, 0));
		} else {
			note_portvar(c, s->a->next, s);
			at_node(c, s);
			emit(c, d4_mk_abc(D4_OP_SEND, (uint32_t)r, 0, 0));
		}
		c->top = save;
		return cost + 1;
	case AST_DROP:
		emit(c, d4_mk_abc(D4_OP_DROP, 0, 0, 0));
		return 1;
	default: /* recv, state declarations, pass: no code */
		return 0;
	}
}

static uint64_t cblock(struct compiler *c, const struct ast *s)
{
	uint64_t cost = 0;

	for (; s && !c->err; s = s->next)
		cost = sat_add(cost, cstmt(c, s));
	return cost;
}

void d4_code_free(struct d4_code *code)
{
	if (!code)
		return;
	free(code->insn);
	free(code->pos);
	free(code->k);
	free(code->vars);
	free(code->state_init);
	free(code);
}

/* Registers: the loop's state first (they persist), then its locals. */
static int number_syms(struct compiler *c, const struct ast *loop)
{
	struct d4_code *code = c->code;
	struct d4_sym *s;
	const struct ast *st;
	int n = 0;

	for (s = loop->sym; s; s = s->next)
		if (s->kind == SYM_STATE)
			s->reg = n++;
	code->nstate = (uint32_t)n;
	if (n) {
		code->state_init = calloc((size_t)n, sizeof(int64_t));
		if (!code->state_init)
			return -ENOMEM;
	}
	for (st = loop->a; st; st = st->next)
		if (st->kind == AST_DECL && st->a)
			code->state_init[st->sym->reg] = st->a->cval;
	for (s = loop->sym; s; s = s->next) {
		if (s->kind != SYM_LOCAL)
			continue;
		if (n >= D4_MAX_REGS) {
			cfail(c, D4_ERR_REGS, D4_MAX_REGS);
			return -EINVAL;
		}
		s->reg = n++;
	}
	c->top = c->first_temp = n;
	code->nregs = (uint32_t)n;
	return 0;
}

int d4_compile(const struct ast *loop, const struct d4_scope *scope,
	       struct d4_code **out, struct d4_diag *d)
{
	struct compiler c = {.scope = scope, .d = d, .loop = loop};
	uint64_t cost;
	uint32_t i;
	int ret;

	*out = NULL;
	c.code = calloc(1, sizeof(*c.code));
	if (!c.code)
		return -ENOMEM;
	c.code->vars = calloc(D4_MAX_VARS, sizeof(*c.code->vars));
	if (!c.code->vars) {
		ret = -ENOMEM;
		goto out_free;
	}
	ret = number_syms(&c, loop);
	if (ret)
		goto out_free;
	cost = cblock(&c, loop->a);
	at_node(&c, loop);
	emit(&c, d4_mk_abc(D4_OP_END, 0, 0, 0));
	cost = sat_add(cost, 1);
	if (c.err) {
		ret = c.err;
		goto out_free;
	}
	c.code->wcet = cost;
	c.code->max_sends = loop->sends;
	for (i = 0; i < c.code->ninsn; i++)
		if (d4_op(c.code->insn[i]) == D4_OP_STP ||
		    d4_op(c.code->insn[i]) == D4_OP_STPV)
			c.code->writes_pkt = true;
	if (cost > D4_MAX_INSNS) {
		d4_diag_set(d, loop->line, loop->col, D4_ERR_WCET, loop->name,
			    (unsigned long long)cost, D4_MAX_INSNS);
		ret = -EINVAL;
		goto out_free;
	}
	*out = c.code;
	return 0;
out_free:
	d4_code_free(c.code);
	return ret;
}
