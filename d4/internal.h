/* What the parts of libd4 share: tokens, the syntax tree, the compiled
 * program, the shared-variable snapshot and the VM's entry point. Nothing
 * here is public; d4.h is the interface. */
#ifndef D4_D4_INTERNAL_H
#define D4_D4_INTERNAL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "d4/d4.h"
#include "d4/errors.h"

/* ---- diagnostics: the first error wins ----
 * except that the verifier goes on past the seed's two limits (a 'for'
 * nested too deep, a 'for' that runs too often), so that one look at a
 * program reports every 'for' that breaks one; those come as "soft"
 * errors, in text order, and the first hard error after them ends the
 * list. */

#define D4_DIAG_MORE 7 /* errors kept after the first */

struct d4_diag_entry {
	int line;
	int col;
	char msg[200];
};

struct d4_diag {
	bool failed;
	bool hard; /* a hard error came: nothing more is added */
	int line;
	int col;
	char msg[200];
	int nmore;
	struct d4_diag_entry more[D4_DIAG_MORE];
};

/* A hard error: the first one, or appended after soft ones. */
void d4_diag_set(struct d4_diag *d, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* A soft error: recorded, and the caller goes on. */
void d4_diag_soft(struct d4_diag *d, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Every error, "LINE:COL: message" each, one per line. */
void d4_diag_format(const struct d4_diag *d, char *buf, size_t len);

/* ---- memory for one compilation, freed at once ---- */

struct d4_arena {
	struct d4_arena_chunk *head;
};

void *d4_arena_alloc(struct d4_arena *a, size_t size); /* zeroed, or NULL */
void d4_arena_free(struct d4_arena *a);

/* ---- tokens ---- */

enum d4_tok {
	TK_EOF,
	TK_NL, /* end of line, or ';' */
	TK_NAME,
	TK_INT,
	TK_BYTES,
	TK_EP, /* 10.0.0.5 or 10.0.0.5:5004 */
	TK_LPAREN,
	TK_RPAREN,
	TK_LBRACK,
	TK_RBRACK,
	TK_LBRACE,
	TK_RBRACE,
	TK_COMMA,
	TK_COLON,
	TK_ASSIGN,
	TK_ADD_ASSIGN,
	TK_SUB_ASSIGN,
	TK_EQ,
	TK_NE,
	TK_LT,
	TK_LE,
	TK_GT,
	TK_GE,
	TK_PLUS,
	TK_MINUS,
	TK_STAR,
	TK_SLASH,
	TK_PERCENT,
	TK_AMP,
	TK_PIPE,
	TK_CARET,
	TK_TILDE,
	TK_SHL,
	TK_SHR,
	/* keywords */
	TK_LOOP,
	TK_ON,
	TK_IF,
	TK_ELIF,
	TK_ELSE,
	TK_ENDIF,
	TK_FOR,
	TK_IN,
	TK_TO,
	TK_STEP,
	TK_ENDFOR,
	TK_AND,
	TK_OR,
	TK_NOT,
	TK_DROP,
	TK_PASS,
	TK_INT_T, /* int */
	TK_IP_T,  /* IP */
	TK_COUNT
};

struct d4_token {
	enum d4_tok kind;
	int line;
	int col;
	const char *text; /* into the source, not terminated */
	uint32_t len;
	int64_t ival; /* TK_INT, TK_BYTES value; TK_EP endpoint */
	int width;    /* TK_BYTES: bytes */
};

struct d4_tokens {
	struct d4_token *tok;
	size_t n;
};

/* Split @src into tokens (ending in TK_EOF). 0, or -EINVAL with @d set, or
 * -ENOMEM. */
int d4_lex(const char *src, size_t len, struct d4_arena *arena,
	   struct d4_tokens *out, struct d4_diag *d);
const char *d4_tok_name(enum d4_tok kind); /* "'endfor'", "end of line" */
/* The token as an error quotes it: "'foo'", "end of line". */
void d4_tok_quote(const struct d4_token *t, char *buf, size_t len);

/* ---- syntax tree ---- */

enum d4_type {
	D4T_NONE,
	D4T_INT,
	D4T_IP,
	D4T_LIST,
	D4T_PKT,
};

const char *d4_type_name(enum d4_type t);

enum ast_kind {
	/* expressions */
	AST_INT,    /* ival; width > 0 for a byte literal */
	AST_EP,	    /* ival endpoint */
	AST_LIST,   /* [a, b]: kids in a */
	AST_NAME,   /* name */
	AST_SLICE,  /* name[a:b], or name[a] when b is NULL */
	AST_CALL,   /* name(args in a) */
	AST_UNARY,  /* op a */
	AST_BINARY, /* a op b */
	/* statements */
	AST_DECL, /* type name [= a]: shared at top level, state in a loop */
	AST_SET,  /* name op a, op one of = += -= */
	AST_SET_SLICE, /* target a (AST_SLICE) = b */
	AST_RECV,      /* name = recv() */
	AST_IF,	       /* if a: b (elif: next_elif) else: c */
	AST_FOR_TO,    /* for name = a to b step c: d */
	AST_FOR_IN,    /* for name in a: d */
	AST_SENDTO,    /* sendto(a, b[, c]) */
	AST_DROP,
	AST_PASS,
	AST_LOOP, /* loop name [on ...] { a } */
};

enum d4_sym_kind {
	SYM_SHARED, /* a runtime variable */
	SYM_STATE,  /* a loop's own variable, kept between packets */
	SYM_LOCAL,  /* a loop's variable, zero at each packet */
	SYM_PKT,    /* the packet from recv() */
};

struct d4_sym {
	char name[D4_MAX_NAME + 1];
	enum d4_sym_kind kind;
	enum d4_type type;
	uint32_t cap;  /* lists */
	int var;       /* SYM_SHARED: index in the runtime's variable table */
	int reg;       /* SYM_STATE, SYM_LOCAL */
	bool for_busy; /* counting an enclosing for right now */
	struct d4_sym *next;
};

struct ast {
	enum ast_kind kind;
	int line;
	int col;
	enum d4_tok op;
	int64_t ival;
	int width; /* byte literal width */
	char name[D4_MAX_NAME + 1];
	struct ast *a, *b, *c, *d;
	struct ast *next;      /* next statement, argument, list entry */
	struct ast *next_elif; /* AST_IF: the elif chain */
	/* binding of AST_LOOP */
	enum d4_binding_kind bind_kind;
	int64_t bind_ep;
	char bind_flow[D4_MAX_NAME + 1];
	/* AST_DECL */
	enum d4_type decl_type;
	uint32_t decl_cap;
	/* filled by the verifier */
	enum d4_type type;
	int vwidth;    /* bytes the value is known to have, or 0 */
	bool is_const; /* value known: cval */
	int64_t cval;
	struct d4_sym *sym; /* the name's symbol */
	uint64_t trips;	    /* AST_FOR_*: most iterations */
	uint64_t sends;	    /* AST_LOOP: most datagrams one run sends */
};

/* Parse tokens into top-level items (declarations, statements, loops)
 * linked by ->next. 0 or -EINVAL with @d set, or -ENOMEM. */
int d4_parse(const struct d4_tokens *toks, struct d4_arena *arena,
	     struct ast **items, struct d4_diag *d);

/* ---- what the verifier knows of the runtime's variables ---- */

struct d4_var {
	char name[D4_MAX_NAME + 1];
	enum d4_type type;
	uint32_t cap;  /* 1 for scalars */
	uint32_t slot; /* first slot in the snapshot */
	int line;      /* declared at, in its own text */
	int col;
};

struct d4_scope {
	struct d4_var *vars; /* existing, then new ones the text declares */
	int nvars;
	int max_vars;
	const char *const *loop_names; /* existing loops */
	int nloops;
	uint32_t nslots;
	bool one_loop;	    /* d4_exec: at most one loop in the text */
	uint32_t max_sends; /* a loop's budget of datagrams per packet */
};

/* Check names, types and limits of @items against @scope, adding the
 * text's declarations to it; annotate the tree for the compiler. 0 or
 * -EINVAL with @d set, or -ENOMEM. */
int d4_verify(struct ast *items, struct d4_scope *scope, struct d4_arena *arena,
	      struct d4_diag *d);

/* ---- compiled code ---- */

struct d4_varref {
	uint32_t slot;
	uint32_t cap;
	bool list;
};

struct d4_pos {
	int line;
	int col;
};

/* A shared variable whose endpoints a loop sends to as they are
 * (sendto(pkt, v), or over a list: for ip in v: sendto(pkt, ip)): each
 * needs a port, which d4_exec checks when the variable changes. */
#define D4_MAX_PORTVARS 8
struct d4_portvar {
	int var; /* in the runtime's variable table */
	int line, col;
};

struct d4_code {
	struct d4_portvar portvar[D4_MAX_PORTVARS];
	uint32_t nportvars;
	uint32_t *insn;
	uint32_t ninsn;
	int64_t *k;
	uint32_t nk;
	struct d4_varref *vars;
	uint32_t nvars;
	struct d4_pos *pos; /* per instruction, for run-time errors */
	uint32_t nregs;
	uint32_t nstate; /* registers 0..nstate-1 keep their value */
	int64_t *state_init;
	uint64_t wcet;	    /* proven most instructions one packet executes */
	uint64_t max_sends; /* proven most datagrams one packet sends */
	uint32_t min_slots;
	bool writes_pkt; /* has a store to the packet (STP, STPV) */
};

/* Compile a verified loop. 0 or -EINVAL with @d set (size limits), or
 * -ENOMEM. *code is malloc'd, freed by d4_code_free. */
int d4_compile(const struct ast *loop, const struct d4_scope *scope,
	       struct d4_code **code, struct d4_diag *d);
void d4_code_free(struct d4_code *code);
/* Second look, at the bytecode itself: operands in range, jumps inside the
 * code and forward except FORLOOP, the last instruction ends the run. 0 or
 * -EINVAL with the offending pc in *bad_pc. */
int d4_code_validate(const struct d4_code *code, uint32_t nslots,
		     uint32_t *bad_pc);
void d4_code_dump(const struct d4_code *code, FILE *out);

/* ---- shared variables: one immutable snapshot, swapped whole ---- */

struct d4_snap {
	uint32_t nslots;
	uint64_t slot[]; /* scalar: value; list: count, then cap entries */
};

/* Endpoint helpers: (addr << 16) | port in one 64-bit value. */
static inline uint64_t d4_ep_make(uint32_t addr, uint16_t port)
{
	return (uint64_t)addr << 16 | port;
}

/* "10.0.0.5:5004", "10.0.0.5" when the port is 0. */
void d4_ep_format(uint64_t ep, char *buf, size_t len);

/* ---- integer arithmetic: 64-bit two's complement, wrapping, no UB; the
 * verifier folds constants with the same functions the VM runs ---- */

static inline int64_t d4_wrap(uint64_t v)
{
	return (int64_t)v;
}

static inline int64_t d4_add(int64_t a, int64_t b)
{
	return d4_wrap((uint64_t)a + (uint64_t)b);
}

static inline int64_t d4_sub(int64_t a, int64_t b)
{
	return d4_wrap((uint64_t)a - (uint64_t)b);
}

static inline int64_t d4_mul(int64_t a, int64_t b)
{
	return d4_wrap((uint64_t)a * (uint64_t)b);
}

/* @b != 0; INT64_MIN / -1 wraps to INT64_MIN */
static inline int64_t d4_div(int64_t a, int64_t b)
{
	return b == -1 ? d4_sub(0, a) : a / b;
}

static inline int64_t d4_mod(int64_t a, int64_t b)
{
	return b == -1 ? 0 : a % b;
}

static inline int64_t d4_shl(int64_t a, int64_t b)
{
	return d4_wrap((uint64_t)a << (b & 63));
}

static inline int64_t d4_shr(int64_t a, int64_t b)
{
	unsigned int n = (unsigned int)(b & 63);
	uint64_t u = (uint64_t)a >> n;

	/* arithmetic shift without relying on signed >> */
	if (a < 0 && n)
		u |= ~(UINT64_MAX >> n);
	return d4_wrap(u);
}

static inline int64_t d4_seqdiff(int64_t a, int64_t b)
{
	return (int16_t)(uint16_t)((uint64_t)a - (uint64_t)b);
}

/* The cap of a loop's per-second send bucket, in datagram-ns: a tenth of
 * a second's worth, and at least one packet's whole fan-out. The VM's
 * (runtime.c) and the kernel's (bpf.c) are the same. */
static inline uint64_t d4_budget_burst(uint32_t rate, uint64_t max_sends)
{
	uint64_t burst = rate / 10;

	if (burst < max_sends)
		burst = max_sends;
	return (burst ? burst : 1) * 1000000000ull;
}

/* ---- what the kernel back end (bpf.c, kernel.c) reads of a runtime;
 * control side only ---- */

/* The loop's compiled code, or NULL. */
const struct d4_code *d4_runtime_code(struct d4_runtime *rt, int handle);
/* Copy the loop's state registers (code->nstate of them) and its random
 * generator's state. 0 or -ENOENT. */
int d4_runtime_loop_state(struct d4_runtime *rt, int handle, int64_t *state,
			  uint64_t *rng);
/* The published snapshot of the shared variables. */
const struct d4_snap *d4_runtime_snap(struct d4_runtime *rt);
/* Goes up with every change a kernel copy must follow: a commit of text,
 * a start, a stop, a binding. */
uint64_t d4_runtime_generation(struct d4_runtime *rt);

/* ---- the VM ---- */

enum d4_trap {
	D4_TRAP_NONE,
	D4_TRAP_SLICE, /* slice outside the packet or wider than 8 */
	D4_TRAP_INDEX, /* list index outside the list */
	D4_TRAP_DIV,   /* division by zero */
	D4_TRAP_PORT,  /* send to port 0 or past 65535 */
	D4_TRAP_FUEL,  /* more instructions than proven: a verifier bug */
	D4_TRAP_VARS,  /* snapshot smaller than the code needs */
	D4_TRAP_SENDS, /* more datagrams than proven: a verifier bug */
};

enum d4_vm_end {
	D4_VM_END,
	D4_VM_DROP,
	D4_VM_TRAP,
};

struct d4_vm {
	const struct d4_code *code;
	int64_t *regs; /* code->nregs; 0..nstate-1 persist */
	const struct d4_snap *snap;
	uint8_t *pkt;
	size_t len;
	uint64_t src;
	uint64_t *rng; /* xorshift64* state, never 0 */
	/* 0: sent; > 0: over the loop's budget, not sent; < 0: refused */
	int (*send)(void *ctx, const uint8_t *pkt, size_t len, uint64_t ep);
	void *send_ctx;
	/* out */
	uint32_t sent;
	uint32_t send_errors;
	uint32_t budget_drops;
	enum d4_trap trap;
	uint32_t trap_pc;
	uint64_t insns;
};

/* Run the code once over one packet. RT: no alloc. */
enum d4_vm_end d4_vm_run(struct d4_vm *vm);
const char *d4_trap_name(enum d4_trap t);

#endif
