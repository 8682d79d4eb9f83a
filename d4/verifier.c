/* The D4 verifier: it runs on the syntax tree before anything is compiled,
 * and whatever it accepts the compiler turns into bytecode whose every run
 * ends within the proven instruction count. Every rejection names line:col
 * and quotes the name or value at fault (the messages are in errors.h).
 *
 * It rejects:
 *  - names: use of an undefined name (a loop's names exist from their
 *    first assignment in the text; the packet from its recv()); a second
 *    declaration of a name; a second loop of the same name; an unknown
 *    function; a statement (sendto, recv) used as a value;
 *  - writes: assigning a shared variable inside a loop (only d4_exec
 *    changes them); assigning the variable a 'for' is counting with, or
 *    counting two nested fors with one variable; a state declaration
 *    anywhere but the top level of a loop, or of a list;
 *  - types: operators on operands they do not take (arithmetic and order
 *    on ints only, == and != on two ints or two endpoints); a condition that
 *    is not an int; a value of another type than its variable has; wrong
 *    number or types of builtin arguments; slicing or indexing what is not a
 *    packet or a list; copying a packet or a list; a list literal anywhere
 *    but as the value of a shared list, or with entries that are not
 *    endpoints, or more entries than the list holds; a constant index past a
 *    list's capacity; a non-int index;
 *  - recv: a loop without recv(), with two, or with recv() anywhere but as
 *    'NAME = recv()' at the top level of the loop;
 *  - constants: division or remainder by a constant zero; a constant
 *    random() bound below 1; a constant port outside 1..65535; a value for a
 *    shared variable or a state that is not a constant;
 *  - slices: constant slices that start below 0, are empty, are wider than
 *    8 bytes, or end past the largest packet; storing a byte literal in a
 *    slice of another width, or a constant that does not fit; comparing a
 *    slice with a byte literal of another width;
 *  - limits: 'for' nested more than two deep; 'for' bounds that are not int
 *    constants; a zero step; a 'for' that runs more than 100 times (these
 *    two, the seed's limits, are reported and checking goes on, so every
 *    'for' that breaks one is named, in text order); two
 *    loops in one d4_exec; more loops or shared variables than a runtime
 *    holds (-ENOSPC);
 *  - sends: a loop that may send more datagrams per packet than its
 *    budget (scope->max_sends): a sendto weighs the product of the trips
 *    of the fors around it (a list's capacity for 'for ... in'), an if
 *    its heaviest arm; the error names the heaviest sendto;
 *  - and, once d4_compile has measured the code it made from what passed
 *    here: a loop whose proven worst case is over D4_MAX_INSNS instructions
 *    per packet, that needs more than D4_MAX_REGS registers, or is longer
 *    than D4_MAX_CODE instructions.
 * Before this, the lexer rejects bad tokens and text over D4_MAX_SRC bytes,
 * and the parser what does not follow the grammar, blocks nested over 16
 * deep, expressions over 128, and list capacities outside 1..100. */
#include "d4/internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

struct verifier {
	struct d4_scope *scope;
	struct d4_arena *arena;
	struct d4_diag *d;
	struct ast *loop;    /* the loop being checked, or NULL at top level */
	struct d4_sym *syms; /* the loop's names, and shared ones it uses */
	int for_depth;
	bool recv_seen;
	int err;
};

static bool fail(struct verifier *v, const struct ast *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fail_soft(struct verifier *v, const struct ast *at, const char *fmt,
		      ...) __attribute__((format(printf, 3, 4)));

static bool fail(struct verifier *v, const struct ast *at, const char *fmt, ...)
{
	va_list ap;
	char msg[sizeof(v->d->msg)];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	d4_diag_set(v->d, at->line, at->col, "%s", msg);
	if (!v->err)
		v->err = -EINVAL;
	return false;
}

/* The seed's two limits: recorded, and verification goes on, so that one
 * look reports every 'for' that breaks one. */
static void fail_soft(struct verifier *v, const struct ast *at, const char *fmt,
		      ...)
{
	va_list ap;
	char msg[sizeof(v->d->msg)];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	d4_diag_soft(v->d, at->line, at->col, "%s", msg);
}

static int find_var(const struct d4_scope *s, const char *name)
{
	int i;

	for (i = 0; i < s->nvars; i++)
		if (!strcmp(s->vars[i].name, name))
			return i;
	return -1;
}

/* The symbol for @name: one of the loop's, or a shared variable. */
static struct d4_sym *lookup(struct verifier *v, const char *name)
{
	struct d4_sym *s;
	int i;

	for (s = v->syms; s; s = s->next)
		if (!strcmp(s->name, name))
			return s;
	i = find_var(v->scope, name);
	if (i < 0)
		return NULL;
	s = d4_arena_alloc(v->arena, sizeof(*s));
	if (!s) {
		v->err = -ENOMEM;
		return NULL;
	}
	snprintf(s->name, sizeof(s->name), "%s", name);
	s->kind = SYM_SHARED;
	s->type = v->scope->vars[i].type;
	s->cap = v->scope->vars[i].cap;
	s->var = i;
	s->next = v->syms;
	v->syms = s;
	return s;
}

static struct d4_sym *add_sym(struct verifier *v, const char *name,
			      enum d4_sym_kind kind, enum d4_type type)
{
	struct d4_sym *s = d4_arena_alloc(v->arena, sizeof(*s)), **tail;

	if (!s) {
		v->err = -ENOMEM;
		return NULL;
	}
	snprintf(s->name, sizeof(s->name), "%s", name);
	s->kind = kind;
	s->type = type;
	s->cap = 1;
	s->reg = -1;
	/* keep declaration order: the compiler numbers registers by it */
	for (tail = &v->syms; *tail; tail = &(*tail)->next)
		;
	*tail = s;
	return s;
}

static bool is_byte_literal(const struct ast *e)
{
	return e->kind == AST_INT && e->width > 0;
}

static void set_const(struct ast *e, int64_t val)
{
	e->is_const = true;
	e->cval = val;
}

static bool check_expr(struct verifier *v, struct ast *e);

static bool check_int(struct verifier *v, struct ast *e, const char *fmt)
{
	if (!check_expr(v, e))
		return false;
	if (e->type != D4T_INT)
		return fail(v, e, fmt, d4_type_name(e->type));
	return true;
}

/* name[a:b] or name[a] on a packet: the slice rules. */
static bool check_slice(struct verifier *v, struct ast *e)
{
	int64_t a, b;

	if (!check_int(v, e->a, D4_ERR_INDEX_TYPE))
		return false;
	if (e->b && !check_int(v, e->b, D4_ERR_INDEX_TYPE))
		return false;
	e->type = D4T_INT;
	if (e->a->is_const && e->a->cval < 0)
		return fail(v, e->a, D4_ERR_SLICE_NEG, (long long)e->a->cval);
	if (!e->b) {
		if (e->a->is_const && e->a->cval >= D4_MAX_PKT)
			return fail(v, e->a, D4_ERR_BYTE_END,
				    (long long)e->a->cval, D4_MAX_PKT);
		e->vwidth = 1;
		return true;
	}
	if (e->b->is_const && e->b->cval > D4_MAX_PKT)
		return fail(v, e->b, D4_ERR_SLICE_END, (long long)e->b->cval,
			    D4_MAX_PKT);
	if (!e->a->is_const || !e->b->is_const)
		return true;
	a = e->a->cval;
	b = e->b->cval;
	if (b <= a)
		return fail(v, e, D4_ERR_SLICE_EMPTY, (long long)a,
			    (long long)b);
	if (b - a > D4_MAX_SLICE)
		return fail(v, e, D4_ERR_SLICE_WIDE, (long long)a, (long long)b,
			    (long long)(b - a), D4_MAX_SLICE);
	e->vwidth = (int)(b - a);
	return true;
}

static bool check_name_ref(struct verifier *v, struct ast *e)
{
	struct d4_sym *s = lookup(v, e->name);

	if (!s) {
		if (v->err == -ENOMEM)
			return false;
		return fail(v, e, D4_ERR_UNDEFINED, e->name);
	}
	e->sym = s;
	e->type = s->type;
	return true;
}

static bool check_index(struct verifier *v, struct ast *e)
{
	if (!check_name_ref(v, e))
		return false;
	if (e->type == D4T_PKT)
		return check_slice(v, e);
	if (e->type != D4T_LIST || e->b)
		return fail(v, e, D4_ERR_NOT_PKT, e->name,
			    d4_type_name(e->type));
	if (!check_int(v, e->a, D4_ERR_INDEX_TYPE))
		return false;
	if (e->a->is_const &&
	    (e->a->cval < 0 || e->a->cval >= (int64_t)e->sym->cap))
		return fail(v, e->a, D4_ERR_LIST_INDEX, (long long)e->a->cval,
			    e->name, e->sym->cap);
	e->type = D4T_IP;
	return true;
}

struct builtin {
	const char *name;
	int nargs;
	enum d4_type arg; /* D4T_NONE: packet or list (len) */
	enum d4_type result;
	const char *expect; /* what the argument should be, for errors */
};

static const struct builtin builtins[] = {
    {"len", 1, D4T_NONE, D4T_INT, "packet or list"},
    {"src", 1, D4T_PKT, D4T_IP, "packet"},
    {"random", 1, D4T_INT, D4T_INT, "int"},
    {"seq_after", 2, D4T_INT, D4T_INT, "int"},
    {"seq_diff", 2, D4T_INT, D4T_INT, "int"},
    {"addr", 1, D4T_IP, D4T_INT, "IP"},
    {"port", 1, D4T_IP, D4T_INT, "IP"},
};

static const char *const nargs_text[] = {"no arguments", "1 argument",
					 "2 arguments", "2 or 3 arguments"};

static bool check_call(struct verifier *v, struct ast *e)
{
	const struct builtin *b = NULL;
	struct ast *arg;
	size_t i;
	int n = 0;

	if (!strcmp(e->name, "recv"))
		return fail(v, e, D4_ERR_RECV_PLACE);
	if (!strcmp(e->name, "sendto"))
		return fail(v, e, D4_ERR_NOT_EXPR, e->name);
	for (i = 0; i < sizeof(builtins) / sizeof(builtins[0]); i++)
		if (!strcmp(builtins[i].name, e->name))
			b = &builtins[i];
	if (!b)
		return fail(v, e, D4_ERR_UNKNOWN_FN, e->name);
	if (e->ival != b->nargs)
		return fail(v, e, D4_ERR_NARGS, e->name, nargs_text[b->nargs],
			    (int)e->ival);
	for (arg = e->a; arg; arg = arg->next) {
		n++;
		if (!check_expr(v, arg))
			return false;
		if (b->arg == D4T_NONE
			? arg->type != D4T_PKT && arg->type != D4T_LIST
			: arg->type != b->arg)
			return fail(v, arg, D4_ERR_TYPE_ARG, n, e->name,
				    d4_type_name(arg->type), b->expect);
	}
	e->type = b->result;
	arg = e->a;
	if (!strcmp(e->name, "random") && arg->is_const && arg->cval < 1)
		return fail(v, arg, D4_ERR_RANDOM, (long long)arg->cval);
	if (!strcmp(e->name, "addr") && arg->is_const)
		set_const(e, (int64_t)((uint64_t)arg->cval >> 16));
	if (!strcmp(e->name, "port") && arg->is_const)
		set_const(e, arg->cval & 0xffff);
	if (!strncmp(e->name, "seq_", 4) && arg->is_const &&
	    arg->next->is_const) {
		int64_t d = d4_seqdiff(arg->cval, arg->next->cval);

		set_const(e, e->name[4] == 'a' ? d > 0 : d);
	}
	return true;
}

/* An operator as the messages quote it (they add the quotes). */
static const char *op_text(enum d4_tok op)
{
	static const char *const text[TK_COUNT] = {
	    [TK_ADD_ASSIGN] = "+=", [TK_SUB_ASSIGN] = "-=", [TK_EQ] = "==",
	    [TK_NE] = "!=",	    [TK_LT] = "<",	    [TK_LE] = "<=",
	    [TK_GT] = ">",	    [TK_GE] = ">=",	    [TK_PLUS] = "+",
	    [TK_MINUS] = "-",	    [TK_STAR] = "*",	    [TK_SLASH] = "/",
	    [TK_PERCENT] = "%",	    [TK_AMP] = "&",	    [TK_PIPE] = "|",
	    [TK_CARET] = "^",	    [TK_TILDE] = "~",	    [TK_SHL] = "<<",
	    [TK_SHR] = ">>",	    [TK_AND] = "and",	    [TK_OR] = "or",
	    [TK_NOT] = "not",
	};

	if ((unsigned int)op < TK_COUNT && text[op])
		return text[op];
	return "?";
}

static bool fold_binary(struct verifier *v, struct ast *e)
{
	int64_t a = e->a->cval, b = e->b->cval, r;

	switch (e->op) {
	case TK_PLUS:
		r = d4_add(a, b);
		break;
	case TK_MINUS:
		r = d4_sub(a, b);
		break;
	case TK_STAR:
		r = d4_mul(a, b);
		break;
	case TK_SLASH:
		r = d4_div(a, b);
		break;
	case TK_PERCENT:
		r = d4_mod(a, b);
		break;
	case TK_AMP:
		r = a & b;
		break;
	case TK_PIPE:
		r = a | b;
		break;
	case TK_CARET:
		r = a ^ b;
		break;
	case TK_SHL:
		r = d4_shl(a, b);
		break;
	case TK_SHR:
		r = d4_shr(a, b);
		break;
	case TK_EQ:
		r = a == b;
		break;
	case TK_NE:
		r = a != b;
		break;
	case TK_LT:
		r = a < b;
		break;
	case TK_LE:
		r = a <= b;
		break;
	case TK_GT:
		r = a > b;
		break;
	case TK_GE:
		r = a >= b;
		break;
	case TK_AND:
		r = a && b;
		break;
	case TK_OR:
		r = a || b;
		break;
	default:
		return true;
	}
	(void)v;
	set_const(e, r);
	return true;
}

static bool check_binary(struct verifier *v, struct ast *e)
{
	const struct ast *lit = NULL, *sl = NULL;
	bool eq = e->op == TK_EQ || e->op == TK_NE;

	if (!check_expr(v, e->a) || !check_expr(v, e->b))
		return false;
	e->type = D4T_INT;
	if (eq && e->a->type == e->b->type &&
	    (e->a->type == D4T_INT || e->a->type == D4T_IP)) {
		/* pkt[1:4] == 000001h: both widths known, they must agree */
		if (is_byte_literal(e->b) && e->a->kind == AST_SLICE) {
			lit = e->b;
			sl = e->a;
		} else if (is_byte_literal(e->a) && e->b->kind == AST_SLICE) {
			lit = e->a;
			sl = e->b;
		}
		if (lit && sl->vwidth && sl->vwidth != lit->width)
			return fail(v, lit, D4_ERR_WIDTH_CMP, sl->vwidth,
				    lit->width);
	} else if (e->a->type != D4T_INT || e->b->type != D4T_INT) {
		return fail(v, e, D4_ERR_TYPE_BINOP, op_text(e->op),
			    d4_type_name(e->a->type), d4_type_name(e->b->type));
	}
	if ((e->op == TK_SLASH || e->op == TK_PERCENT) && e->b->is_const &&
	    e->b->cval == 0)
		return fail(v, e->b, D4_ERR_DIV_ZERO);
	if (e->a->is_const && e->b->is_const)
		return fold_binary(v, e);
	return true;
}

static bool check_expr(struct verifier *v, struct ast *e)
{
	switch (e->kind) {
	case AST_INT:
		e->type = D4T_INT;
		e->vwidth = e->width;
		set_const(e, e->ival);
		return true;
	case AST_EP:
		e->type = D4T_IP;
		set_const(e, e->ival);
		return true;
	case AST_LIST:
		return fail(v, e, D4_ERR_LIST_HERE);
	case AST_NAME:
		return check_name_ref(v, e);
	case AST_SLICE:
		return check_index(v, e);
	case AST_CALL:
		return check_call(v, e);
	case AST_UNARY:
		if (!check_expr(v, e->a))
			return false;
		if (e->a->type != D4T_INT)
			return fail(v, e, D4_ERR_TYPE_UNOP, op_text(e->op),
				    d4_type_name(e->a->type));
		e->type = D4T_INT;
		if (e->a->is_const)
			set_const(e, e->op == TK_MINUS	 ? d4_sub(0, e->a->cval)
				     : e->op == TK_TILDE ? ~e->a->cval
							 : !e->a->cval);
		return true;
	case AST_BINARY:
		return check_binary(v, e);
	default:
		return fail(v, e, D4_ERR_EXPECTED, "statement", "a value");
	}
}

/* The part of a non-constant expression that makes it so. */
static const struct ast *first_nonconst(const struct ast *e)
{
	for (;;) {
		if (e->kind == AST_UNARY && !e->a->is_const)
			e = e->a;
		else if (e->kind == AST_BINARY && !e->a->is_const)
			e = e->a;
		else if (e->kind == AST_BINARY && !e->b->is_const)
			e = e->b;
		else
			return e;
	}
}

/* A constant for shared variable or state @name of @type (not a list). */
static bool check_const_value(struct verifier *v, struct ast *e,
			      const char *name, enum d4_type type)
{
	if (!check_expr(v, e))
		return false;
	if (!e->is_const)
		return fail(v, first_nonconst(e), D4_ERR_NOT_CONST, name);
	if (e->type != type)
		return fail(v, e, D4_ERR_TYPE_SET, d4_type_name(e->type), name,
			    d4_type_name(type));
	return true;
}

/* [ep, ...] or one ep, for a shared list of capacity @cap. */
static bool check_list_value(struct verifier *v, struct ast *e,
			     const char *name, uint32_t cap, bool single_ok)
{
	struct ast *x;

	if (e->kind != AST_LIST) {
		if (!check_expr(v, e))
			return false;
		if (!single_ok || e->type != D4T_IP)
			return fail(v, e, D4_ERR_TYPE_SET,
				    d4_type_name(e->type), name, "IP[]");
		if (!e->is_const)
			return fail(v, e, D4_ERR_NOT_CONST, name);
		return true;
	}
	if (e->ival > (int64_t)cap)
		return fail(v, e, D4_ERR_LIST_FULL, name, cap);
	for (x = e->a; x; x = x->next) {
		if (!check_expr(v, x))
			return false;
		if (x->type != D4T_IP)
			return fail(v, x, D4_ERR_LIST_ELEM,
				    d4_type_name(x->type));
		if (!x->is_const)
			return fail(v, x, D4_ERR_NOT_CONST, name);
	}
	e->type = D4T_LIST;
	return true;
}

static bool verify_top_decl(struct verifier *v, struct ast *a)
{
	struct d4_scope *s = v->scope;
	struct d4_var *var;

	if (find_var(s, a->name) >= 0)
		return fail(v, a, D4_ERR_REDECLARED, a->name);
	if (s->nvars >= s->max_vars) {
		v->err = -ENOSPC;
		return fail(v, a, D4_ERR_VARS_FULL, a->name, D4_MAX_VARS);
	}
	if (a->a) {
		if (a->decl_type == D4T_LIST) {
			if (!check_list_value(v, a->a, a->name, a->decl_cap,
					      false))
				return false;
		} else if (!check_const_value(v, a->a, a->name, a->decl_type)) {
			return false;
		}
	}
	var = &s->vars[s->nvars++];
	memset(var, 0, sizeof(*var));
	snprintf(var->name, sizeof(var->name), "%s", a->name);
	var->type = a->decl_type;
	var->cap = a->decl_cap;
	var->slot = s->nslots;
	var->line = a->line;
	var->col = a->col;
	s->nslots += a->decl_type == D4T_LIST ? 1 + a->decl_cap : 1;
	return true;
}

/* NAME = v, NAME += v, NAME -= v on a shared variable, from d4_exec. */
static bool verify_top_set(struct verifier *v, struct ast *a)
{
	int i = find_var(v->scope, a->name);
	const struct d4_var *var;

	if (a->kind == AST_RECV)
		return fail(v, a->a, D4_ERR_RECV_PLACE);
	if (i < 0)
		return fail(v, a, D4_ERR_UNDEFINED, a->name);
	var = &v->scope->vars[i];
	a->ival = i;
	if (var->type == D4T_LIST)
		return check_list_value(v, a->a, a->name, var->cap,
					a->op != TK_ASSIGN);
	if (!check_const_value(v, a->a, a->name, var->type))
		return false;
	if (a->op != TK_ASSIGN && var->type != D4T_INT)
		return fail(v, a, D4_ERR_TYPE_BINOP, op_text(a->op),
			    d4_type_name(var->type), d4_type_name(a->a->type));
	return true;
}

static bool verify_block(struct verifier *v, struct ast *s, bool top);

/* The variable a for counts with: a new int local, or an idle one. */
static struct d4_sym *for_var(struct verifier *v, struct ast *f,
			      enum d4_type type)
{
	struct d4_sym *s = lookup(v, f->name);

	if (!s) {
		if (v->err)
			return NULL;
		return add_sym(v, f->name, SYM_LOCAL, type);
	}
	if (s->kind == SYM_SHARED) {
		fail(v, f, D4_ERR_SHARED_SET, f->name);
		return NULL;
	}
	if (s->for_busy) {
		fail(v, f, D4_ERR_FORVAR_BUSY, f->name);
		return NULL;
	}
	if (s->type != type) {
		fail(v, f, D4_ERR_TYPE_SET, d4_type_name(type), f->name,
		     d4_type_name(s->type));
		return NULL;
	}
	return s;
}

static bool for_bound(struct verifier *v, struct ast *e, const char *what)
{
	if (!check_expr(v, e))
		return false;
	if (e->type != D4T_INT)
		return fail(v, e, D4_ERR_FOR_TYPE, what, d4_type_name(e->type));
	if (!e->is_const)
		return fail(v, e, D4_ERR_FOR_CONST, what);
	return true;
}

static bool verify_for(struct verifier *v, struct ast *f)
{
	struct d4_sym *var;
	bool ok;

	if (v->for_depth >= D4_MAX_FOR_DEPTH)
		fail_soft(v, f, D4_ERR_FOR_DEPTH, D4_MAX_FOR_DEPTH);
	if (f->kind == AST_FOR_IN) {
		if (!check_name_ref(v, f->a))
			return false;
		if (f->a->type != D4T_LIST)
			return fail(v, f->a, D4_ERR_NOT_LIST, f->a->name,
				    d4_type_name(f->a->type));
		f->trips = f->a->sym->cap;
		var = for_var(v, f, D4T_IP);
	} else {
		int64_t a, b, st;
		uint64_t span, q, n = 0;
		bool over = false; /* n is 2^64 (full range, step 1) */

		if (!for_bound(v, f->a, "start") || !for_bound(v, f->b, "end"))
			return false;
		if (f->c && !for_bound(v, f->c, "step"))
			return false;
		a = f->a->cval;
		b = f->b->cval;
		st = f->c ? f->c->cval : 1;
		if (st == 0)
			return fail(v, f->c, D4_ERR_FOR_STEP);
		/* In 64 bits (no __int128 on 32-bit targets): a span of two
		 * int64s fits a uint64, and so does |step|, INT64_MIN's too. */
		if (st > 0 ? a <= b : a >= b) {
			span = st > 0 ? (uint64_t)b - (uint64_t)a
				      : (uint64_t)a - (uint64_t)b;
			q = span / (st > 0 ? (uint64_t)st : 0 - (uint64_t)st);
			over = q == UINT64_MAX;
			n = q + 1;
		}
		if (over || n > D4_MAX_FOR_TRIPS) {
			fail_soft(v, f, D4_ERR_FOR_TRIPS,
				  over ? (unsigned long long)UINT64_MAX
				       : (unsigned long long)n,
				  D4_MAX_FOR_TRIPS);
			n = 0; /* the program fails; its body is still checked
				*/
		}
		f->trips = n;
		var = for_var(v, f, D4T_INT);
	}
	if (!var)
		return false;
	f->sym = var;
	var->for_busy = true;
	v->for_depth++;
	ok = verify_block(v, f->d, false);
	v->for_depth--;
	var->for_busy = false;
	return ok;
}

static bool verify_sendto(struct verifier *v, struct ast *s)
{
	static const enum d4_type want[] = {D4T_PKT, D4T_IP, D4T_INT};
	struct ast *arg;
	int n = 0;

	if (s->ival < 2 || s->ival > 3)
		return fail(v, s, D4_ERR_NARGS, "sendto", nargs_text[3],
			    (int)s->ival);
	for (arg = s->a; arg; arg = arg->next, n++) {
		if (!check_expr(v, arg))
			return false;
		if (arg->type != want[n])
			return fail(v, arg, D4_ERR_TYPE_ARG, n + 1, "sendto",
				    d4_type_name(arg->type),
				    d4_type_name(want[n]));
		if (n == 2 && arg->is_const &&
		    (arg->cval < 1 || arg->cval > 65535))
			return fail(v, arg, D4_ERR_PORT, (long long)arg->cval);
	}
	return true;
}

static bool verify_set(struct verifier *v, struct ast *s)
{
	struct d4_sym *sym = lookup(v, s->name);
	struct ast *e = s->a;

	if (v->err)
		return false;
	if (sym && sym->kind == SYM_SHARED)
		return fail(v, s, D4_ERR_SHARED_SET, s->name);
	if (!sym && s->op != TK_ASSIGN)
		return fail(v, s, D4_ERR_UNDEFINED, s->name);
	if (sym && sym->for_busy)
		return fail(v, s, D4_ERR_FORVAR_SET, s->name);
	if (!check_expr(v, e))
		return false;
	if (e->type == D4T_PKT || e->type == D4T_LIST)
		return fail(v, e, D4_ERR_COPY,
			    e->type == D4T_PKT ? "packet" : "list", e->name);
	if (sym && sym->type != e->type)
		return fail(v, e, D4_ERR_TYPE_SET, d4_type_name(e->type),
			    s->name, d4_type_name(sym->type));
	if (s->op != TK_ASSIGN && e->type != D4T_INT)
		return fail(v, s, D4_ERR_TYPE_BINOP, op_text(s->op),
			    d4_type_name(sym->type), d4_type_name(e->type));
	if (!sym)
		sym = add_sym(v, s->name, SYM_LOCAL, e->type);
	s->sym = sym;
	return sym != NULL;
}

static bool verify_set_slice(struct verifier *v, struct ast *s)
{
	struct ast *t = s->a, *e = s->b;

	if (!check_expr(v, t))
		return false;
	if (t->sym->type != D4T_PKT)
		return fail(v, t, D4_ERR_NOT_PKT, t->name,
			    d4_type_name(t->sym->type));
	if (!check_expr(v, e))
		return false;
	if (e->type != D4T_INT)
		return fail(v, e, D4_ERR_TYPE_SET, d4_type_name(e->type),
			    t->name, "int");
	if (!t->vwidth || !e->is_const)
		return true;
	if (is_byte_literal(e) && e->width != t->vwidth)
		return fail(v, e, D4_ERR_WIDTH_SET, e->width, t->vwidth);
	if (t->vwidth < 8 && !is_byte_literal(e)) {
		int64_t lim = (int64_t)1 << (8 * t->vwidth);

		/* a negative constant is allowed as two's complement */
		if (e->cval >= lim || e->cval < -(lim / 2))
			return fail(v, e, D4_ERR_FIT, (long long)e->cval,
				    t->vwidth);
	}
	return true;
}

static bool verify_state(struct verifier *v, struct ast *s, bool top)
{
	struct d4_sym *sym;

	if (!top)
		return fail(v, s, D4_ERR_STATE_PLACE, s->name);
	if (s->decl_type == D4T_LIST)
		return fail(v, s, D4_ERR_STATE_LIST, s->name);
	if (lookup(v, s->name))
		return fail(v, s, D4_ERR_REDECLARED, s->name);
	if (v->err)
		return false;
	if (s->a && !check_const_value(v, s->a, s->name, s->decl_type))
		return false;
	sym = add_sym(v, s->name, SYM_STATE, s->decl_type);
	s->sym = sym;
	return sym != NULL;
}

static bool verify_recv(struct verifier *v, struct ast *s, bool top)
{
	if (!top)
		return fail(v, s->a, D4_ERR_RECV_PLACE);
	if (v->recv_seen)
		return fail(v, s->a, D4_ERR_RECV_TWICE, v->loop->name);
	if (lookup(v, s->name))
		return fail(v, s, D4_ERR_REDECLARED, s->name);
	if (v->err)
		return false;
	v->recv_seen = true;
	s->sym = add_sym(v, s->name, SYM_PKT, D4T_PKT);
	return s->sym != NULL;
}

static bool verify_if(struct verifier *v, struct ast *s)
{
	struct ast *arm;

	for (arm = s; arm; arm = arm->next_elif) {
		if (!check_expr(v, arm->a))
			return false;
		if (arm->a->type != D4T_INT)
			return fail(v, arm->a, D4_ERR_TYPE_COND,
				    d4_type_name(arm->a->type));
		if (!verify_block(v, arm->b, false))
			return false;
	}
	return verify_block(v, s->c, false);
}

static bool verify_stmt(struct verifier *v, struct ast *s, bool top)
{
	switch (s->kind) {
	case AST_DECL:
		return verify_state(v, s, top);
	case AST_RECV:
		return verify_recv(v, s, top);
	case AST_SET:
		return verify_set(v, s);
	case AST_SET_SLICE:
		return verify_set_slice(v, s);
	case AST_IF:
		return verify_if(v, s);
	case AST_FOR_TO:
	case AST_FOR_IN:
		return verify_for(v, s);
	case AST_SENDTO:
		return verify_sendto(v, s);
	case AST_DROP:
	case AST_PASS:
		return true;
	default:
		return fail(v, s, D4_ERR_EXPECTED, "value", "a statement");
	}
}

static bool verify_block(struct verifier *v, struct ast *s, bool top)
{
	for (; s; s = s->next)
		if (!verify_stmt(v, s, top))
			return false;
	return true;
}

static uint64_t sat_add(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static uint64_t sat_mul(uint64_t a, uint64_t b)
{
	return b && a > UINT64_MAX / b ? UINT64_MAX : a * b;
}

/* The most datagrams block @s can send in one run, each for multiplying
 * its body by its trips, each if taking its heaviest arm. @mult is the
 * product of the trips around @s; the heaviest sendto (the first of the
 * heaviest, in text order) and its weight go to *@heavy, *@heavy_w. */
static uint64_t block_sends(const struct ast *s, uint64_t mult,
			    const struct ast **heavy, uint64_t *heavy_w)
{
	const struct ast *arm;
	uint64_t n = 0, most, k;

	for (; s; s = s->next) {
		switch (s->kind) {
		case AST_SENDTO:
			n = sat_add(n, 1);
			if (mult > *heavy_w) {
				*heavy = s;
				*heavy_w = mult;
			}
			break;
		case AST_IF:
			most = block_sends(s->c, mult, heavy, heavy_w);
			for (arm = s; arm; arm = arm->next_elif) {
				k = block_sends(arm->b, mult, heavy, heavy_w);
				most = k > most ? k : most;
			}
			n = sat_add(n, most);
			break;
		case AST_FOR_TO:
		case AST_FOR_IN:
			k = block_sends(s->d, sat_mul(mult, s->trips), heavy,
					heavy_w);
			n = sat_add(n, sat_mul(s->trips, k));
			break;
		default:
			break;
		}
	}
	return n;
}

/* What one packet's run may cost the machine in datagrams, against the
 * budget: proven here, enforced again by the VM (d4_vm_run). */
static bool verify_sends(struct verifier *v, struct ast *l)
{
	const struct ast *heavy = NULL;
	uint64_t w = 0;

	l->sends = block_sends(l->a, 1, &heavy, &w);
	if (l->sends <= v->scope->max_sends)
		return true;
	return fail(v, heavy, D4_ERR_SENDS, l->name,
		    (unsigned long long)l->sends, (unsigned long long)w,
		    v->scope->max_sends);
}

static bool verify_loop(struct verifier *v, struct ast *l, int nnew,
			struct ast *const *new_loops)
{
	const struct d4_scope *s = v->scope;
	int i;

	for (i = 0; i < s->nloops; i++)
		if (!strcmp(s->loop_names[i], l->name))
			return fail(v, l, D4_ERR_LOOP_EXISTS, l->name);
	for (i = 0; i < nnew; i++)
		if (!strcmp(new_loops[i]->name, l->name))
			return fail(v, l, D4_ERR_LOOP_EXISTS, l->name);
	v->loop = l;
	v->syms = NULL;
	v->for_depth = 0;
	v->recv_seen = false;
	if (!verify_block(v, l->a, true))
		return false;
	if (!v->recv_seen)
		return fail(v, l, D4_ERR_RECV_NONE, l->name);
	if (!verify_sends(v, l))
		return false;
	l->sym = v->syms;
	v->loop = NULL;
	v->syms = NULL;
	return true;
}

int d4_verify(struct ast *items, struct d4_scope *scope, struct d4_arena *arena,
	      struct d4_diag *d)
{
	struct verifier v = {.scope = scope, .arena = arena, .d = d};
	struct ast *loops[D4_MAX_PROGRAMS];
	int nloops = 0;
	struct ast *a;
	bool ok = true;

	for (a = items; a && ok; a = a->next) {
		switch (a->kind) {
		case AST_DECL:
			ok = verify_top_decl(&v, a);
			break;
		case AST_SET:
		case AST_RECV:
			ok = verify_top_set(&v, a);
			break;
		case AST_LOOP:
			if (scope->one_loop && nloops == 1) {
				ok = fail(&v, a, D4_ERR_ONE_LOOP, a->name);
				break;
			}
			if (scope->nloops + nloops >= D4_MAX_PROGRAMS) {
				v.err = -ENOSPC;
				ok = fail(&v, a, D4_ERR_PROGS_FULL, a->name,
					  D4_MAX_PROGRAMS);
				break;
			}
			ok = verify_loop(&v, a, nloops, loops);
			if (ok)
				loops[nloops++] = a;
			break;
		default:
			ok = fail(&v, a, D4_ERR_EXPECTED, "statement",
				  "a declaration, a variable or 'loop'");
			break;
		}
	}
	if (ok && !d->failed)
		return 0; /* a soft error alone fails the text too */
	return v.err ? v.err : -EINVAL;
}
