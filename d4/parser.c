/* The D4 parser: tokens to a syntax tree, by recursive descent over the
 * grammar in docs/d4.md. Recursion is bounded (blocks and expressions have
 * depth limits) so hostile text cannot exhaust the stack. */
#include "d4/internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define MAX_BLOCK_DEPTH 16
#define MAX_EXPR_DEPTH	128

struct parser {
	const struct d4_token *tok;
	size_t n;
	size_t pos;
	struct d4_arena *arena;
	struct d4_diag *d;
	int block_depth;
	int expr_depth;
	int err; /* first failure: -EINVAL or -ENOMEM */
};

static const struct d4_token *cur(const struct parser *p)
{
	return &p->tok[p->pos < p->n ? p->pos : p->n - 1];
}

static const struct d4_token *ahead(const struct parser *p, size_t k)
{
	return &p->tok[p->pos + k < p->n ? p->pos + k : p->n - 1];
}

static const struct d4_token *next(struct parser *p)
{
	const struct d4_token *t = cur(p);

	if (p->pos + 1 < p->n)
		p->pos++;
	return t;
}

static bool at(const struct parser *p, enum d4_tok kind)
{
	return cur(p)->kind == kind;
}

static void fail_expected(struct parser *p, const char *what)
{
	char q[220];

	d4_tok_quote(cur(p), q, sizeof(q));
	d4_diag_set(p->d, cur(p)->line, cur(p)->col, D4_ERR_EXPECTED, q, what);
	if (!p->err)
		p->err = -EINVAL;
}

static bool failed(const struct parser *p)
{
	return p->err != 0;
}

static bool expect(struct parser *p, enum d4_tok kind)
{
	if (failed(p))
		return false;
	if (!at(p, kind)) {
		fail_expected(p, d4_tok_name(kind));
		return false;
	}
	next(p);
	return true;
}

static struct ast *node(struct parser *p, enum ast_kind kind,
			const struct d4_token *t)
{
	struct ast *a = d4_arena_alloc(p->arena, sizeof(*a));

	if (!a) {
		p->err = -ENOMEM;
		return NULL;
	}
	a->kind = kind;
	a->line = t->line;
	a->col = t->col;
	return a;
}

static void copy_name(char *dst, const struct d4_token *t)
{
	size_t n = t->len > D4_MAX_NAME ? D4_MAX_NAME : t->len;

	memcpy(dst, t->text, n);
	dst[n] = '\0';
}

static bool tok_is(const struct d4_token *t, const char *word)
{
	return t->kind == TK_NAME && strlen(word) == t->len &&
	       !memcmp(t->text, word, t->len);
}

static struct ast *parse_expr(struct parser *p);

/* Comma-separated expressions up to @close, linked by ->next. */
static struct ast *parse_list_of(struct parser *p, enum d4_tok close,
				 int *count)
{
	struct ast *head = NULL, **tail = &head, *e;

	*count = 0;
	if (at(p, close))
		return NULL;
	for (;;) {
		e = parse_expr(p);
		if (!e)
			return NULL;
		*tail = e;
		tail = &e->next;
		(*count)++;
		if (!at(p, TK_COMMA))
			break;
		next(p);
	}
	return head;
}

static struct ast *parse_primary(struct parser *p)
{
	const struct d4_token *t = cur(p);
	struct ast *a;
	int n;

	switch (t->kind) {
	case TK_INT:
	case TK_BYTES:
		a = node(p, AST_INT, next(p));
		if (a) {
			a->ival = t->ival;
			a->width = t->kind == TK_BYTES ? t->width : 0;
		}
		return a;
	case TK_EP:
		a = node(p, AST_EP, next(p));
		if (a)
			a->ival = t->ival;
		return a;
	case TK_LPAREN:
		next(p);
		a = parse_expr(p);
		if (!a || !expect(p, TK_RPAREN))
			return NULL;
		return a;
	case TK_LBRACK:
		a = node(p, AST_LIST, next(p));
		if (!a)
			return NULL;
		a->a = parse_list_of(p, TK_RBRACK, &n);
		if (failed(p) || !expect(p, TK_RBRACK))
			return NULL;
		a->ival = n;
		return a;
	case TK_NAME:
		break;
	default:
		fail_expected(p, "a value");
		return NULL;
	}
	next(p);
	if (at(p, TK_LPAREN)) {
		a = node(p, AST_CALL, t);
		if (!a)
			return NULL;
		copy_name(a->name, t);
		next(p);
		a->a = parse_list_of(p, TK_RPAREN, &n);
		if (failed(p) || !expect(p, TK_RPAREN))
			return NULL;
		a->ival = n;
		return a;
	}
	if (at(p, TK_LBRACK)) {
		a = node(p, AST_SLICE, t);
		if (!a)
			return NULL;
		copy_name(a->name, t);
		next(p);
		a->a = parse_expr(p);
		if (!a->a)
			return NULL;
		if (at(p, TK_COLON)) {
			next(p);
			a->b = parse_expr(p);
			if (!a->b)
				return NULL;
		}
		if (!expect(p, TK_RBRACK))
			return NULL;
		return a;
	}
	a = node(p, AST_NAME, t);
	if (a)
		copy_name(a->name, t);
	return a;
}

static bool enter_expr(struct parser *p)
{
	if (++p->expr_depth > MAX_EXPR_DEPTH) {
		d4_diag_set(p->d, cur(p)->line, cur(p)->col, D4_ERR_NESTING,
			    "expression", MAX_EXPR_DEPTH);
		p->err = -EINVAL;
		return false;
	}
	return true;
}

static struct ast *parse_unary(struct parser *p)
{
	const struct d4_token *t = cur(p);
	struct ast *a;

	if (!enter_expr(p))
		return NULL;
	if (t->kind == TK_MINUS || t->kind == TK_TILDE || t->kind == TK_NOT) {
		a = node(p, AST_UNARY, next(p));
		if (a) {
			a->op = t->kind;
			a->a = parse_unary(p);
			if (!a->a)
				a = NULL;
		}
	} else {
		a = parse_primary(p);
	}
	p->expr_depth--;
	return a;
}

/* Binary operators by level, loosest first; comparisons do not chain. */
static const enum d4_tok levels[][4] = {
    {TK_OR},
    {TK_AND},
    {TK_EQ, TK_NE, TK_LT, TK_LE},
    {TK_PIPE},
    {TK_CARET},
    {TK_AMP},
    {TK_SHL, TK_SHR},
    {TK_PLUS, TK_MINUS},
    {TK_STAR, TK_SLASH, TK_PERCENT},
};

#define NLEVELS	  (sizeof(levels) / sizeof(levels[0]))
#define LEVEL_CMP 2

static bool in_level(size_t lvl, enum d4_tok kind)
{
	size_t i;

	if (lvl == LEVEL_CMP && (kind == TK_GT || kind == TK_GE))
		return true;
	for (i = 0; i < 4; i++)
		if (levels[lvl][i] == kind && kind != TK_EOF)
			return true;
	return false;
}

static struct ast *parse_level(struct parser *p, size_t lvl)
{
	struct ast *l, *b;
	const struct d4_token *t;
	int added = 0;

	/* The tree deepens by one per operator and per parenthesis (counted
	 * in parse_unary); the verifier and compiler recurse that deep. */
	if (lvl == NLEVELS)
		return parse_unary(p);
	l = parse_level(p, lvl + 1);
	while (l && in_level(lvl, cur(p)->kind)) {
		if (!enter_expr(p))
			return NULL;
		added++;
		t = next(p);
		b = node(p, AST_BINARY, t);
		if (!b)
			return NULL;
		b->op = t->kind;
		b->a = l;
		b->b = parse_level(p, lvl + 1);
		if (!b->b)
			return NULL;
		l = b;
		if (lvl == LEVEL_CMP)
			break;
	}
	p->expr_depth -= added;
	return l;
}

static struct ast *parse_expr(struct parser *p)
{
	if (failed(p))
		return NULL;
	return parse_level(p, 0);
}

/* A statement ends at a line end; '}' and the end of input end it too. */
static bool end_stmt(struct parser *p)
{
	if (failed(p))
		return false;
	if (at(p, TK_NL)) {
		next(p);
		return true;
	}
	if (at(p, TK_RBRACE) || at(p, TK_EOF))
		return true;
	fail_expected(p, "end of line");
	return false;
}

/* int NAME [= v] | IP NAME [= v] | IP[N] NAME [= v] */
static struct ast *parse_decl(struct parser *p)
{
	const struct d4_token *t = next(p);
	struct ast *a = node(p, AST_DECL, t);

	if (!a)
		return NULL;
	a->decl_type = t->kind == TK_INT_T ? D4T_INT : D4T_IP;
	a->decl_cap = 1;
	if (t->kind == TK_IP_T && at(p, TK_LBRACK)) {
		next(p);
		a->decl_type = D4T_LIST;
		a->decl_cap = D4_MAX_LIST;
		if (at(p, TK_INT)) {
			const struct d4_token *c = next(p);

			if (c->ival < 1 || c->ival > D4_MAX_LIST) {
				d4_diag_set(p->d, c->line, c->col,
					    D4_ERR_LIST_CAP, (long long)c->ival,
					    D4_MAX_LIST);
				p->err = -EINVAL;
				return NULL;
			}
			a->decl_cap = (uint32_t)c->ival;
		}
		if (!expect(p, TK_RBRACK))
			return NULL;
	}
	if (!at(p, TK_NAME)) {
		fail_expected(p, "a name");
		return NULL;
	}
	t = next(p);
	copy_name(a->name, t);
	a->line = t->line;
	a->col = t->col;
	if (at(p, TK_ASSIGN)) {
		next(p);
		a->a = parse_expr(p);
		if (!a->a)
			return NULL;
	}
	return end_stmt(p) ? a : NULL;
}

/* NAME (= | += | -=) expr, or NAME = recv() */
static struct ast *parse_set(struct parser *p)
{
	const struct d4_token *t = next(p);
	struct ast *a = node(p, AST_SET, t);
	enum d4_tok op = cur(p)->kind;

	if (!a)
		return NULL;
	copy_name(a->name, t);
	if (op != TK_ASSIGN && op != TK_ADD_ASSIGN && op != TK_SUB_ASSIGN) {
		fail_expected(p, "'=', '+=', '-=' or '['");
		return NULL;
	}
	next(p);
	a->op = op;
	a->a = parse_expr(p);
	if (!a->a)
		return NULL;
	if (op == TK_ASSIGN && a->a->kind == AST_CALL &&
	    !strcmp(a->a->name, "recv") && a->a->ival == 0)
		a->kind = AST_RECV;
	return end_stmt(p) ? a : NULL;
}

static struct ast *parse_block(struct parser *p);

static const char *closer_word(enum d4_tok want)
{
	switch (want) {
	case TK_ENDIF:
		return "endif";
	case TK_ENDFOR:
		return "endfor";
	default:
		return "}";
	}
}

/* A block must end with @want; anything else is reported against @opener
 * (an 'if', 'for' or 'loop' keyword). */
static bool close_block(struct parser *p, const struct d4_token *opener,
			enum d4_tok want)
{
	char q[220], o[D4_MAX_NAME + 1];
	size_t n = opener->len < D4_MAX_NAME ? opener->len : D4_MAX_NAME;

	if (failed(p))
		return false;
	if (at(p, want))
		return true;
	d4_tok_quote(cur(p), q, sizeof(q));
	memcpy(o, opener->text, n);
	o[n] = '\0';
	d4_diag_set(p->d, cur(p)->line, cur(p)->col, D4_ERR_UNCLOSED, q, o,
		    opener->line, opener->col, closer_word(want));
	p->err = -EINVAL;
	return false;
}

static bool colon_nl(struct parser *p)
{
	return expect(p, TK_COLON) && expect(p, TK_NL);
}

static struct ast *parse_if(struct parser *p)
{
	const struct d4_token *opener = next(p);
	struct ast *a = node(p, AST_IF, opener), *e, **tail;

	if (!a)
		return NULL;
	a->a = parse_expr(p);
	if (!a->a || !colon_nl(p))
		return NULL;
	a->b = parse_block(p);
	tail = &a->next_elif;
	while (!failed(p) && at(p, TK_ELIF)) {
		e = node(p, AST_IF, next(p));
		if (!e)
			return NULL;
		e->a = parse_expr(p);
		if (!e->a || !colon_nl(p))
			return NULL;
		e->b = parse_block(p);
		*tail = e;
		tail = &e->next_elif;
	}
	if (!failed(p) && at(p, TK_ELSE)) {
		next(p);
		if (!colon_nl(p))
			return NULL;
		a->c = parse_block(p);
	}
	if (!close_block(p, opener, TK_ENDIF))
		return NULL;
	next(p);
	return end_stmt(p) ? a : NULL;
}

static struct ast *parse_for(struct parser *p)
{
	const struct d4_token *opener = next(p), *t;
	struct ast *a;

	if (!at(p, TK_NAME)) {
		fail_expected(p, "a name");
		return NULL;
	}
	t = next(p);
	a = node(p, AST_FOR_TO, opener);
	if (!a)
		return NULL;
	copy_name(a->name, t);
	if (at(p, TK_IN)) {
		next(p);
		a->kind = AST_FOR_IN;
		if (!at(p, TK_NAME)) {
			fail_expected(p, "a list");
			return NULL;
		}
		t = next(p);
		a->a = node(p, AST_NAME, t);
		if (!a->a)
			return NULL;
		copy_name(a->a->name, t);
	} else {
		if (!at(p, TK_ASSIGN)) {
			fail_expected(p, "'=' or 'in'");
			return NULL;
		}
		next(p);
		a->a = parse_expr(p);
		if (!a->a || !expect(p, TK_TO))
			return NULL;
		a->b = parse_expr(p);
		if (!a->b)
			return NULL;
		if (at(p, TK_STEP)) {
			next(p);
			a->c = parse_expr(p);
			if (!a->c)
				return NULL;
		}
	}
	/* the seed writes "for i = 0 to 1000 step 1" with no colon */
	if (at(p, TK_COLON))
		next(p);
	else if (!failed(p) && !at(p, TK_NL))
		fail_expected(p, "':' or end of line");
	if (!expect(p, TK_NL))
		return NULL;
	a->d = parse_block(p);
	if (!close_block(p, opener, TK_ENDFOR))
		return NULL;
	next(p);
	return end_stmt(p) ? a : NULL;
}

static struct ast *parse_stmt(struct parser *p)
{
	const struct d4_token *t = cur(p);
	struct ast *a;
	int n;

	switch (t->kind) {
	case TK_INT_T:
	case TK_IP_T:
		return parse_decl(p);
	case TK_IF:
		return parse_if(p);
	case TK_FOR:
		return parse_for(p);
	case TK_DROP:
	case TK_PASS:
		a = node(p, t->kind == TK_DROP ? AST_DROP : AST_PASS, next(p));
		return a && end_stmt(p) ? a : NULL;
	case TK_NAME:
		break;
	default:
		fail_expected(p, "a statement");
		return NULL;
	}
	if (tok_is(t, "sendto") && ahead(p, 1)->kind == TK_LPAREN) {
		a = node(p, AST_SENDTO, next(p));
		if (!a)
			return NULL;
		next(p);
		a->a = parse_list_of(p, TK_RPAREN, &n);
		if (failed(p) || !expect(p, TK_RPAREN))
			return NULL;
		a->ival = n;
		return end_stmt(p) ? a : NULL;
	}
	if (ahead(p, 1)->kind == TK_LBRACK) {
		a = node(p, AST_SET_SLICE, t);
		if (!a)
			return NULL;
		a->a = parse_primary(p);
		if (!a->a)
			return NULL;
		if (!at(p, TK_ASSIGN)) {
			fail_expected(p, "'='");
			return NULL;
		}
		next(p);
		a->b = parse_expr(p);
		if (!a->b)
			return NULL;
		return end_stmt(p) ? a : NULL;
	}
	return parse_set(p);
}

/* Statements up to a token that closes a block; the caller checks which. */
static struct ast *parse_block(struct parser *p)
{
	struct ast *head = NULL, **tail = &head, *s;

	if (failed(p))
		return NULL;
	if (++p->block_depth > MAX_BLOCK_DEPTH) {
		d4_diag_set(p->d, cur(p)->line, cur(p)->col, D4_ERR_NESTING,
			    "blocks", MAX_BLOCK_DEPTH);
		p->err = -EINVAL;
		return NULL;
	}
	for (;;) {
		switch (cur(p)->kind) {
		case TK_NL:
			next(p);
			continue;
		case TK_EOF:
		case TK_RBRACE:
		case TK_ENDIF:
		case TK_ELIF:
		case TK_ELSE:
		case TK_ENDFOR:
			p->block_depth--;
			return head;
		default:
			break;
		}
		s = parse_stmt(p);
		if (!s)
			return NULL;
		*tail = s;
		tail = &s->next;
	}
}

/* loop NAME [on udp ADDR:PORT | on flow NAME] { block } */
static struct ast *parse_loop(struct parser *p)
{
	const struct d4_token *opener = next(p), *t;
	struct ast *a;

	if (!at(p, TK_NAME)) {
		fail_expected(p, "a name");
		return NULL;
	}
	t = next(p);
	a = node(p, AST_LOOP, t);
	if (!a)
		return NULL;
	copy_name(a->name, t);
	if (at(p, TK_ON)) {
		next(p);
		if (tok_is(cur(p), "udp")) {
			next(p);
			if (!at(p, TK_EP) || !(cur(p)->ival & 0xffff)) {
				fail_expected(p, "an address with a port");
				return NULL;
			}
			a->bind_kind = D4_BIND_UDP;
			a->bind_ep = next(p)->ival;
		} else if (tok_is(cur(p), "flow")) {
			next(p);
			if (!at(p, TK_NAME)) {
				fail_expected(p, "a flow name");
				return NULL;
			}
			a->bind_kind = D4_BIND_FLOW;
			copy_name(a->bind_flow, next(p));
		} else {
			fail_expected(p, "'udp' or 'flow'");
			return NULL;
		}
	}
	while (at(p, TK_NL))
		next(p);
	if (!expect(p, TK_LBRACE))
		return NULL;
	a->a = parse_block(p);
	if (!close_block(p, opener, TK_RBRACE))
		return NULL;
	next(p);
	return end_stmt(p) ? a : NULL;
}

int d4_parse(const struct d4_tokens *toks, struct d4_arena *arena,
	     struct ast **items, struct d4_diag *d)
{
	struct parser p = {
	    .tok = toks->tok,
	    .n = toks->n,
	    .arena = arena,
	    .d = d,
	};
	struct ast **tail = items, *a;

	*items = NULL;
	while (!at(&p, TK_EOF)) {
		switch (cur(&p)->kind) {
		case TK_NL:
			next(&p);
			continue;
		case TK_INT_T:
		case TK_IP_T:
			a = parse_decl(&p);
			break;
		case TK_LOOP:
			a = parse_loop(&p);
			break;
		case TK_NAME:
			a = parse_set(&p);
			break;
		default:
			fail_expected(&p,
				      "a declaration, a variable or 'loop'");
			a = NULL;
			break;
		}
		if (!a)
			return p.err ? p.err : -EINVAL;
		*tail = a;
		tail = &a->next;
	}
	return 0;
}
