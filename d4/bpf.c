/* D4 bytecode to eBPF (bpf.h). One pass over the code after a look at its
 * loops; every D4 instruction becomes a short fixed sequence, so what the
 * VM does the kernel does, check for check:
 *
 *  - D4 registers live in map values, not in the BPF stack: the run's
 *    locals in this CPU's value of D4_BPF_MAP_PCPU, the loop's state in
 *    D4_BPF_MAP_SHARED. The kernel's verifier does not follow values
 *    through maps, so two paths that differ only in D4 values look alike
 *    to it and it walks each instruction once per loop iteration, never
 *    once per path: the walk is bounded by the code's size times its loop
 *    trips, which the translator estimates and limits.
 *  - Each for gets a budget on the BPF stack, set to its proven trips as
 *    it is entered and counted down beside the D4 counter; the back edge
 *    needs both. The verifier follows the budget exactly, so it sees the
 *    loop end; the D4 counter, never above the budget, ends it first.
 *  - Every run-time check of the VM is here (slices against the payload,
 *    list indices, division by zero, ports) and a failed one ends the run
 *    as a trap, with the D4 pc kept for last_error.
 *  - Packet bytes go through bpf_skb_load_bytes / bpf_skb_store_bytes, so
 *    no packet pointer needs proving; a store fixes the UDP checksum by
 *    the difference of the old and new bytes (bpf_l4_csum_replace).
 *  - A send rewrites what differs from the previous copy (Ethernet
 *    addresses, source, destination, TTL, port, with their checksums) and
 *    clones the packet out (bpf_clone_redirect); the neighbour map says
 *    where each address goes.
 *
 * The program refuses (why) what it cannot run: a loop whose verifier walk
 * would be too long, code too long for BPF jumps, loops not in the shape
 * the compiler makes, too many shared words for one map value. */
#include "d4/bpf.h"
#include "d4/opcodes.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/pkt_cls.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NSEC_PER_SEC 1000000000

/* BPF registers the program keeps */
#define R_SKB	 BPF_REG_6 /* the packet */
#define R_PCPU	 BPF_REG_7 /* this CPU's value of D4_BPF_MAP_PCPU */
#define R_SNAP	 BPF_REG_8 /* the snapshot buffer this run holds */
#define R_SHARED BPF_REG_9 /* the value of D4_BPF_MAP_SHARED */
#define R_FP	 BPF_REG_10

/* The per-CPU value: counters, scratch, then the run's registers. */
#define PC_CTR(f)  ((int16_t)offsetof(struct d4_bpf_counters, f))
#define SC_LEN	   64  /* payload bytes */
#define SC_SRC	   72  /* sender endpoint, (addr << 16) | port */
#define SC_SADDR   80  /* the header's source address now, as in memory */
#define SC_DADDR   88  /* its destination address */
#define SC_DPORT   96  /* its destination port */
#define SC_TTL	   104 /* its TTL */
#define SC_RUNSENT 112 /* copies this run sent */
/* D4_BPF_SC_MISS  120    an address the neighbour map lacked (bpf.h) */
#define PCPU_REGS   128
#define SH(f)	    ((int16_t)offsetof(struct d4_bpf_shared, f))
#define SHARED_HEAD ((uint32_t)sizeof(struct d4_bpf_shared))

/* The stack (offsets from R_FP). The header buffer is placed so that its
 * 16- and 32-bit fields are aligned, as the verifier wants. */
#define FP_KEY	 (-8)  /* u32 map key */
#define FP_SLICE (-16) /* bytes to or from the packet */
#define FP_NEIGH (-24) /* the copy's struct d4_bpf_neigh */
#define FP_EP	 (-32) /* the copy's endpoint; a store's offset */
#define FP_READERS                                                             \
	(-40)		     /* &readers[i] - offsetof(readers): the held      \
				buffer's count */
#define FP_OLD	      (-48)  /* an old value across a helper call */
#define FP_OLD2	      (-56)  /* the bytes a store replaces */
#define FP_WIDTH      (-64)  /* a dynamic slice's width */
#define FP_HDR	      (-106) /* Ethernet + IPv4 + UDP: 42 bytes */
#define FP_BUDGET(k)  (-120 - 8 * (k))
#define MAX_LOOP_NEST 8

/* Offsets in the headers (no IP options: those go up to the stack) */
#define H_PROTO	  12
#define H_VER_IHL 14
#define H_TOS	  15
#define H_TOT_LEN 16
#define H_FRAG	  20
#define H_TTL	  22
#define H_IPPROTO 23
#define H_IPCSUM  24
#define H_SADDR	  26
#define H_DADDR	  30
#define H_SPORT	  34
#define H_DPORT	  36
#define H_UDPLEN  38
#define H_UDPCSUM 40
#define H_PAYLOAD 42

#define NB_SADDR   ((int16_t)offsetof(struct d4_bpf_neigh, saddr))
#define NB_IFINDEX ((int16_t)offsetof(struct d4_bpf_neigh, ifindex))
#define NB_TTL	   ((int16_t)offsetof(struct d4_bpf_neigh, ttl))

/* Where jumps go besides D4 instructions: the ends of a run. */
enum tail {
	T_NOTOURS, /* not the loop's packet: the next filter, the stack */
	T_MARKED,  /* pass_original's clone coming back: let it up */
	T_PASS,	   /* the loop's, but left to the stack: count it */
	T_TRAP,	   /* r1 = trap << 32 | pc */
	T_DROP,
	T_END,
	T_LEAVE, /* let go of the snapshot buffer, consume the packet */
	T_COUNT,
};

enum fix_kind {
	FIX_PC,	  /* to a D4 pc's first instruction */
	FIX_TAIL, /* to a tail */
};

struct fix {
	uint32_t at;
	uint8_t kind;
	uint32_t to;
};

/* One for loop as the compiler makes it: setup write at @init, body from
 * @head to the FORLOOP at @back. */
struct loop {
	uint32_t init, head, back;
	uint64_t trips;
	uint32_t depth; /* loops around it */
};

struct tr {
	const struct d4_code *code;
	const struct d4_bpf_opts *o;
	struct d4_bpf_prog *p;
	struct bpf_insn *insn;
	uint32_t n, cap;
	uint32_t *label; /* D4 pc -> first BPF instruction */
	struct fix *fix;
	uint32_t nfix, fixcap;
	uint32_t tail[T_COUNT];
	bool tail_used[T_COUNT];
	bool *reach; /* D4 pcs a run can reach: the rest is not emitted, as
		      the verifier refuses code it cannot reach */
	struct loop *loops;
	uint32_t nloops;
	uint32_t *var_off; /* per variable reference: byte offset in a buffer */
	uint32_t snap_bytes;
	int err;
	char *why;
	size_t why_len;
};

static void refuse(struct tr *t, uint32_t pc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void refuse(struct tr *t, uint32_t pc, const char *fmt, ...)
{
	va_list ap;
	int n = 0;

	if (t->err)
		return;
	t->err = -EINVAL;
	if (!t->why || !t->why_len)
		return;
	if (pc < t->code->ninsn)
		n = snprintf(t->why, t->why_len,
			     "%d:%d: ", t->code->pos[pc].line,
			     t->code->pos[pc].col);
	if (n < 0 || (size_t)n >= t->why_len)
		return;
	va_start(ap, fmt);
	vsnprintf(t->why + n, t->why_len - (size_t)n, fmt, ap);
	va_end(ap);
}

/* ---- emitting ---- */

static uint32_t emit(struct tr *t, uint8_t code, uint8_t dst, uint8_t src,
		     int16_t off, int32_t imm)
{
	struct bpf_insn *in;

	if (t->err)
		return 0;
	if (t->n == t->cap) {
		uint32_t cap = t->cap ? t->cap * 2 : 1024;

		in = realloc(t->insn, cap * sizeof(*in));
		if (!in) {
			t->err = -ENOMEM;
			return 0;
		}
		t->insn = in;
		t->cap = cap;
	}
	in = &t->insn[t->n];
	memset(in, 0, sizeof(*in));
	in->code = code;
	in->dst_reg = dst & 0xf;
	in->src_reg = src & 0xf;
	in->off = off;
	in->imm = imm;
	return t->n++;
}

#define alu_imm(t, op, d, imm) emit(t, BPF_ALU64 | BPF_K | (op), d, 0, 0, imm)
#define alu_reg(t, op, d, s)   emit(t, BPF_ALU64 | BPF_X | (op), d, s, 0, 0)
#define mov_imm(t, d, imm)     alu_imm(t, BPF_MOV, d, imm)
#define mov_reg(t, d, s)       alu_reg(t, BPF_MOV, d, s)
#define ldx(t, sz, d, s, off)  emit(t, BPF_LDX | BPF_MEM | (sz), d, s, off, 0)
#define stx(t, sz, d, s, off)  emit(t, BPF_STX | BPF_MEM | (sz), d, s, off, 0)
#define st_imm(t, sz, d, off, imm)                                             \
	emit(t, BPF_ST | BPF_MEM | (sz), d, 0, off, imm)
#define call(t, fn)		 emit(t, BPF_JMP | BPF_CALL, 0, 0, 0, fn)
#define to_be(t, d, bits)	 emit(t, BPF_ALU | BPF_END | BPF_TO_BE, d, 0, 0, bits)
#define jmp_imm(t, op, d, imm)	 emit(t, BPF_JMP | BPF_K | (op), d, 0, 0, imm)
#define jmp_reg(t, op, d, s)	 emit(t, BPF_JMP | BPF_X | (op), d, s, 0, 0)
#define jmp32_imm(t, op, d, imm) emit(t, BPF_JMP32 | BPF_K | (op), d, 0, 0, imm)

/* A fully ordered atomic add of register @s to [d + off]; @s gets the old
 * value. */
static void atomic_add(struct tr *t, uint8_t d, uint8_t s, int16_t off)
{
	emit(t, BPF_STX | BPF_DW | BPF_ATOMIC, d, s, off, BPF_ADD | BPF_FETCH);
}

static void ld_imm64(struct tr *t, uint8_t d, uint8_t src, uint64_t v)
{
	emit(t, BPF_LD | BPF_DW | BPF_IMM, d, src, 0, (int32_t)(uint32_t)v);
	emit(t, 0, 0, 0, 0, (int32_t)(uint32_t)(v >> 32));
}

static void ld_map(struct tr *t, uint8_t d, enum d4_bpf_map m)
{
	ld_imm64(t, d, BPF_PSEUDO_MAP_FD, (uint64_t)m);
}

/* Make the jump at @at land at the next instruction emitted. */
static void land(struct tr *t, uint32_t at)
{
	if (!t->err)
		t->insn[at].off = (int16_t)(t->n - at - 1);
}

static void add_fix(struct tr *t, uint32_t at, enum fix_kind kind, uint32_t to)
{
	struct fix *f;

	if (t->err)
		return;
	if (t->nfix == t->fixcap) {
		uint32_t cap = t->fixcap ? t->fixcap * 2 : 256;

		f = realloc(t->fix, cap * sizeof(*f));
		if (!f) {
			t->err = -ENOMEM;
			return;
		}
		t->fix = f;
		t->fixcap = cap;
	}
	t->fix[t->nfix++] = (struct fix){.at = at, .kind = kind, .to = to};
	if (kind == FIX_TAIL)
		t->tail_used[to] = true;
}

/* Conditional jumps to a tail. */
static void jmp_tail_imm(struct tr *t, uint8_t op, uint8_t d, int32_t imm,
			 enum tail to)
{
	add_fix(t, jmp_imm(t, op, d, imm), FIX_TAIL, to);
}

static void jmp_tail(struct tr *t, enum tail to)
{
	add_fix(t, emit(t, BPF_JMP | BPF_JA, 0, 0, 0, 0), FIX_TAIL, to);
}

/* The end of a run with trap @trap at D4 pc @pc, when [d op imm]. */
static void trap_if_imm(struct tr *t, uint8_t op, uint8_t d, int32_t imm,
			enum d4_trap trap, uint32_t pc)
{
	uint32_t j = jmp_imm(t, op, d, imm);
	uint32_t skip = emit(t, BPF_JMP | BPF_JA, 0, 0, 0, 0);

	land(t, j);
	mov_imm(t, BPF_REG_1, (int32_t)trap);
	alu_imm(t, BPF_LSH, BPF_REG_1, 32);
	alu_imm(t, BPF_OR, BPF_REG_1, (int32_t)pc);
	jmp_tail(t, T_TRAP);
	land(t, skip);
}

static void trap_if_reg(struct tr *t, uint8_t op, uint8_t d, uint8_t s,
			enum d4_trap trap, uint32_t pc)
{
	uint32_t j = jmp_reg(t, op, d, s);
	uint32_t skip = emit(t, BPF_JMP | BPF_JA, 0, 0, 0, 0);

	land(t, j);
	mov_imm(t, BPF_REG_1, (int32_t)trap);
	alu_imm(t, BPF_LSH, BPF_REG_1, 32);
	alu_imm(t, BPF_OR, BPF_REG_1, (int32_t)pc);
	jmp_tail(t, T_TRAP);
	land(t, skip);
}

/* D4 register @r: the state in the shared value, the rest per CPU. */
static void reg_at(const struct tr *t, uint32_t r, uint8_t *base, int16_t *off)
{
	if (r < t->code->nstate) {
		*base = R_SHARED;
		*off = (int16_t)(t->p->state_off + 8 * r);
	} else {
		*base = R_PCPU;
		*off = (int16_t)(PCPU_REGS + 8 * r);
	}
}

static void ld_reg(struct tr *t, uint8_t d, uint32_t r)
{
	uint8_t base;
	int16_t off;

	reg_at(t, r, &base, &off);
	ldx(t, BPF_DW, d, base, off);
}

static void st_reg(struct tr *t, uint32_t r, uint8_t s)
{
	uint8_t base;
	int16_t off;

	reg_at(t, r, &base, &off);
	stx(t, BPF_DW, base, s, off);
}

/* counter += 1, in this CPU's value */
static void count(struct tr *t, int16_t off)
{
	ldx(t, BPF_DW, BPF_REG_1, R_PCPU, off);
	alu_imm(t, BPF_ADD, BPF_REG_1, 1);
	stx(t, BPF_DW, R_PCPU, BPF_REG_1, off);
}

/* r@d = R_FP + off */
static void fp_addr(struct tr *t, uint8_t d, int16_t off)
{
	mov_reg(t, d, R_FP);
	alu_imm(t, BPF_ADD, d, off);
}

/* bpf_skb_store_bytes(skb, @off, fp + @from, @len, 0) */
static void store_from_fp(struct tr *t, int32_t off, int16_t from, int32_t len)
{
	mov_reg(t, BPF_REG_1, R_SKB);
	mov_imm(t, BPF_REG_2, off);
	fp_addr(t, BPF_REG_3, from);
	mov_imm(t, BPF_REG_4, len);
	mov_imm(t, BPF_REG_5, 0);
	call(t, BPF_FUNC_skb_store_bytes);
}

/* The IP and UDP checksums after a 4-byte address changed from [fp+OLD]
 * to [R_PCPU + @now]. */
static void fix_addr_csums(struct tr *t, int16_t now)
{
	mov_reg(t, BPF_REG_1, R_SKB);
	mov_imm(t, BPF_REG_2, H_IPCSUM);
	ldx(t, BPF_DW, BPF_REG_3, R_FP, FP_OLD);
	ldx(t, BPF_DW, BPF_REG_4, R_PCPU, now);
	mov_imm(t, BPF_REG_5, 4);
	call(t, BPF_FUNC_l3_csum_replace);
	mov_reg(t, BPF_REG_1, R_SKB);
	mov_imm(t, BPF_REG_2, H_UDPCSUM);
	ldx(t, BPF_DW, BPF_REG_3, R_FP, FP_OLD);
	ldx(t, BPF_DW, BPF_REG_4, R_PCPU, now);
	mov_imm(t, BPF_REG_5,
		(int32_t)(BPF_F_PSEUDO_HDR | BPF_F_MARK_MANGLED_0 | 4));
	call(t, BPF_FUNC_l4_csum_replace);
}

/* ---- the loops ---- */

static bool writes_a(uint32_t insn)
{
	uint32_t op = d4_op(insn);

	return op < D4_OP_COUNT && d4_opinfo[op].a == D4_OPND_W;
}

/* Jump targets of the D4 instruction at @pc (none, one or two). */
static int jump_target(const struct d4_code *c, uint32_t pc, uint32_t *to)
{
	uint32_t in = c->insn[pc], op = d4_op(in);

	if (op != D4_OP_JMP && op != D4_OP_JZ && op != D4_OP_JNZ &&
	    op != D4_OP_FORLOOP)
		return 0;
	*to = (uint32_t)((int32_t)pc + 1 + d4_arg_sbx(in));
	return 1;
}

/* Does a jump from outside [lo, hi] land in (lo, hi]? */
static bool jumped_into(const struct tr *t, uint32_t lo, uint32_t hi,
			uint32_t except)
{
	const struct d4_code *c = t->code;
	uint32_t pc, to;

	for (pc = 0; pc < c->ninsn; pc++) {
		if ((pc >= lo && pc <= hi) || !t->reach[pc])
			continue;
		if (pc == except)
			continue;
		if (jump_target(c, pc, &to) && to > lo && to <= hi)
			return true;
	}
	return false;
}

static int find_loops(struct tr *t)
{
	const struct d4_code *c = t->code;
	uint32_t pc, w, i, j, n = 0;

	for (pc = 0; pc < c->ninsn; pc++)
		n += d4_op(c->insn[pc]) == D4_OP_FORLOOP;
	t->loops = calloc(n ? n : 1, sizeof(*t->loops));
	if (!t->loops)
		return -ENOMEM;
	for (pc = 0; pc < c->ninsn && !t->err; pc++) {
		uint32_t in = c->insn[pc], a = d4_arg_a(in), op;
		struct loop *l;
		bool found = false;

		if (d4_op(in) != D4_OP_FORLOOP)
			continue;
		l = &t->loops[t->nloops++];
		l->back = pc;
		l->head = (uint32_t)((int32_t)pc + 1 + d4_arg_sbx(in));
		for (w = l->head; w-- > 0;) {
			if (writes_a(c->insn[w]) && d4_arg_a(c->insn[w]) == a) {
				found = true;
				break;
			}
		}
		if (!found) {
			refuse(t, pc, "for: its counter is never set");
			break;
		}
		l->init = w;
		op = d4_op(c->insn[w]);
		if (op == D4_OP_LOADI) {
			l->trips = (uint64_t)(int64_t)d4_arg_sbx(c->insn[w]);
		} else if (op == D4_OP_LOADK) {
			l->trips = (uint64_t)c->k[d4_arg_bx(c->insn[w])];
		} else if (op == D4_OP_LCOUNT) {
			l->trips = c->vars[d4_arg_b(c->insn[w])].cap;
		} else {
			refuse(t, pc,
			       "for: its counter is not set by a "
			       "constant or a list's length");
			break;
		}
		if (l->trips < 1 || l->trips > D4_MAX_FOR_TRIPS) {
			refuse(t, pc,
			       "for: %llu trips, the kernel back end "
			       "takes 1..%d",
			       (unsigned long long)l->trips, D4_MAX_FOR_TRIPS);
			break;
		}
		for (i = l->head; i < l->back; i++)
			if (writes_a(c->insn[i]) && d4_arg_a(c->insn[i]) == a)
				refuse(t, i,
				       "for: its counter is written in "
				       "its body");
		if (jumped_into(t, l->init, l->back, l->back))
			refuse(t, pc, "for: a jump from outside lands in it");
	}
	/* nest: each pair disjoint or one inside the other */
	for (i = 0; i < t->nloops && !t->err; i++) {
		for (j = 0; j < t->nloops; j++) {
			struct loop *a = &t->loops[i], *b = &t->loops[j];

			if (i == j || b->back < a->init || b->init > a->back)
				continue;
			if (b->init >= a->init && b->back <= a->back &&
			    b->head > a->head)
				a = b, a->depth++;
			else if (!(a->init >= b->init && a->back <= b->back &&
				   a->head > b->head))
				refuse(t, a->back, "for: loops overlap");
		}
	}
	for (i = 0; i < t->nloops && !t->err; i++)
		if (t->loops[i].depth >= MAX_LOOP_NEST)
			refuse(t, t->loops[i].back,
			       "for: nested more than %d deep", MAX_LOOP_NEST);
	return t->err;
}

/* How often the verifier walks the instruction at @pc: the product of the
 * trips of the loops around it. */
static uint64_t walk_factor(const struct tr *t, uint32_t pc)
{
	uint64_t f = 1;
	uint32_t i;

	for (i = 0; i < t->nloops; i++)
		if (pc >= t->loops[i].head && pc <= t->loops[i].back)
			f *= t->loops[i].trips;
	return f;
}

static const struct loop *loop_at_head(const struct tr *t, uint32_t pc)
{
	uint32_t i;

	for (i = 0; i < t->nloops; i++)
		if (t->loops[i].head == pc)
			return &t->loops[i];
	return NULL;
}

static const struct loop *loop_at_back(const struct tr *t, uint32_t pc)
{
	uint32_t i;

	for (i = 0; i < t->nloops; i++)
		if (t->loops[i].back == pc)
			return &t->loops[i];
	return NULL;
}

/* ---- the D4 instructions ---- */

/* The offset of variable reference @v's first word in a buffer. */
static int16_t var_at(const struct tr *t, uint32_t v)
{
	return (int16_t)(t->p->buf_off + t->var_off[v]);
}

/* A slice [off, off + w) with off in r@off_reg and the width either the
 * constant @w or (w == 0) the value in r@w_reg, checked against the
 * payload as the VM's slice_ok(): a trap when outside. */
static void check_slice(struct tr *t, uint8_t off_reg, uint32_t w,
			uint8_t w_reg, uint32_t pc)
{
	trap_if_imm(t, BPF_JSLT, off_reg, 0, D4_TRAP_SLICE, pc);
	ldx(t, BPF_DW, BPF_REG_2, R_PCPU, SC_LEN);
	if (w)
		alu_imm(t, BPF_SUB, BPF_REG_2, (int32_t)w);
	else
		alu_reg(t, BPF_SUB, BPF_REG_2, w_reg);
	trap_if_reg(t, BPF_JSGT, off_reg, BPF_REG_2, D4_TRAP_SLICE, pc);
}

/* r@x = the one's complement sum, in 16-bit words at UDP offsets, of a
 * big-endian value x of up to 8 bytes whose position and width make its
 * end odd when r3 is 1: then the bytes sit one place later in the words
 * (x << 8, the top byte alone). Uses r4 and r5; the sum fits 20 bits. */
static void csum_words(struct tr *t, uint8_t x)
{
	uint32_t j;

	mov_imm(t, BPF_REG_4, 0);
	j = jmp_imm(t, BPF_JEQ, BPF_REG_3, 0);
	mov_reg(t, BPF_REG_4, x);
	alu_imm(t, BPF_RSH, BPF_REG_4, 56);
	alu_imm(t, BPF_LSH, x, 8);
	land(t, j);
	for (int s = 0; s < 48; s += 16) {
		mov_reg(t, BPF_REG_5, x);
		if (s)
			alu_imm(t, BPF_RSH, BPF_REG_5, s);
		alu_imm(t, BPF_AND, BPF_REG_5, 0xffff);
		alu_reg(t, BPF_ADD, BPF_REG_4, BPF_REG_5);
	}
	alu_imm(t, BPF_RSH, x, 48);
	alu_reg(t, BPF_ADD, x, BPF_REG_4);
}

/* Fold r@x (below 2^20) to 16 bits, one's complement. Uses r4. */
static void csum_fold(struct tr *t, uint8_t x)
{
	for (int i = 0; i < 2; i++) {
		mov_reg(t, BPF_REG_4, x);
		alu_imm(t, BPF_RSH, BPF_REG_4, 16);
		alu_imm(t, BPF_AND, x, 0xffff);
		alu_reg(t, BPF_ADD, x, BPF_REG_4);
	}
}

/* Load a slice: w bytes at payload offset r1 (w constant, or 0 and the
 * width in [fp + FP_WIDTH]) into r0 as a big-endian unsigned value, from
 * FP_SLICE (from = FP_SLICE) or FP_OLD2. */
static void load_slice(struct tr *t, uint32_t w, int16_t into, uint32_t pc)
{
	mov_reg(t, BPF_REG_2, BPF_REG_1);
	alu_imm(t, BPF_ADD, BPF_REG_2, H_PAYLOAD);
	mov_reg(t, BPF_REG_1, R_SKB);
	fp_addr(t, BPF_REG_3, into);
	if (w)
		mov_imm(t, BPF_REG_4, (int32_t)w);
	else
		ldx(t, BPF_DW, BPF_REG_4, R_FP, FP_WIDTH);
	call(t, BPF_FUNC_skb_load_bytes);
	trap_if_imm(t, BPF_JNE, BPF_REG_0, 0, D4_TRAP_SLICE, pc);
	ldx(t, BPF_DW, BPF_REG_0, R_FP, into);
	to_be(t, BPF_REG_0, 64);
	if (w == 8)
		return;
	if (w) {
		alu_imm(t, BPF_RSH, BPF_REG_0, (int32_t)(64 - 8 * w));
		return;
	}
	/* >> (64 - 8 * width) */
	ldx(t, BPF_DW, BPF_REG_1, R_FP, FP_WIDTH);
	mov_imm(t, BPF_REG_2, 8);
	alu_reg(t, BPF_SUB, BPF_REG_2, BPF_REG_1);
	alu_imm(t, BPF_LSH, BPF_REG_2, 3);
	alu_reg(t, BPF_RSH, BPF_REG_0, BPF_REG_2);
}

/* r@x <<= 64 - 8 * width (w constant, or 0: width in [fp + FP_WIDTH]);
 * uses r5. */
static void shift_to_top(struct tr *t, uint8_t x, uint32_t w, bool right_too)
{
	if (w == 8)
		return;
	if (w) {
		alu_imm(t, BPF_LSH, x, (int32_t)(64 - 8 * w));
		if (right_too)
			alu_imm(t, BPF_RSH, x, (int32_t)(64 - 8 * w));
		return;
	}
	ldx(t, BPF_DW, BPF_REG_5, R_FP, FP_WIDTH);
	alu_imm(t, BPF_NEG, BPF_REG_5, 0);
	alu_imm(t, BPF_ADD, BPF_REG_5, 8);
	alu_imm(t, BPF_LSH, BPF_REG_5, 3);
	alu_reg(t, BPF_LSH, x, BPF_REG_5);
	if (right_too)
		alu_reg(t, BPF_RSH, x, BPF_REG_5);
}

/* STP / STPV: the value in D4 register @val goes into the slice at the
 * payload offset in D4 register @offr, @w bytes (0: in [fp + FP_WIDTH]),
 * and the UDP checksum follows. */
static void store_slice(struct tr *t, uint32_t val, uint32_t offr, uint32_t w,
			uint32_t pc)
{
	ld_reg(t, BPF_REG_1, offr);
	if (w) {
		check_slice(t, BPF_REG_1, w, 0, pc);
	} else {
		ldx(t, BPF_DW, BPF_REG_3, R_FP, FP_WIDTH);
		check_slice(t, BPF_REG_1, 0, BPF_REG_3, pc);
	}
	stx(t, BPF_DW, R_FP, BPF_REG_1, FP_EP);
	/* the bytes it replaces: Vo in r0 */
	load_slice(t, w, FP_OLD2, pc);
	mov_reg(t, BPF_REG_1, BPF_REG_0);
	/* the new bytes: Vn, the value's low w bytes, in r2 */
	ld_reg(t, BPF_REG_2, val);
	shift_to_top(t, BPF_REG_2, w, true);
	/* odd end (offset + width): the bytes sit a place later in the
	 * checksum's 16-bit words (the payload starts at an even offset) */
	ldx(t, BPF_DW, BPF_REG_3, R_FP, FP_EP);
	if (w)
		alu_imm(t, BPF_ADD, BPF_REG_3, (int32_t)w);
	else {
		ldx(t, BPF_DW, BPF_REG_4, R_FP, FP_WIDTH);
		alu_reg(t, BPF_ADD, BPF_REG_3, BPF_REG_4);
	}
	alu_imm(t, BPF_AND, BPF_REG_3, 1);
	csum_words(t, BPF_REG_1);
	csum_words(t, BPF_REG_2);
	csum_fold(t, BPF_REG_1);
	/* new - old, one's complement: new + (0xffff - old) */
	mov_imm(t, BPF_REG_4, 0xffff);
	alu_reg(t, BPF_SUB, BPF_REG_4, BPF_REG_1);
	alu_reg(t, BPF_ADD, BPF_REG_2, BPF_REG_4);
	/* the kernel sums 16-bit words as they lie in memory: in network
	 * order, as htons() gives them */
	csum_fold(t, BPF_REG_2);
	to_be(t, BPF_REG_2, 16);
	stx(t, BPF_DW, R_FP, BPF_REG_2, FP_OLD);
	/* write */
	ld_reg(t, BPF_REG_0, val);
	shift_to_top(t, BPF_REG_0, w, false);
	to_be(t, BPF_REG_0, 64);
	stx(t, BPF_DW, R_FP, BPF_REG_0, FP_SLICE);
	mov_reg(t, BPF_REG_1, R_SKB);
	ldx(t, BPF_DW, BPF_REG_2, R_FP, FP_EP);
	alu_imm(t, BPF_ADD, BPF_REG_2, H_PAYLOAD);
	fp_addr(t, BPF_REG_3, FP_SLICE);
	if (w)
		mov_imm(t, BPF_REG_4, (int32_t)w);
	else
		ldx(t, BPF_DW, BPF_REG_4, R_FP, FP_WIDTH);
	mov_imm(t, BPF_REG_5, 0);
	call(t, BPF_FUNC_skb_store_bytes);
	trap_if_imm(t, BPF_JNE, BPF_REG_0, 0, D4_TRAP_SLICE, pc);
	mov_reg(t, BPF_REG_1, R_SKB);
	mov_imm(t, BPF_REG_2, H_UDPCSUM);
	mov_imm(t, BPF_REG_3, 0);
	ldx(t, BPF_DW, BPF_REG_4, R_FP, FP_OLD);
	mov_imm(t, BPF_REG_5, (int32_t)BPF_F_MARK_MANGLED_0);
	call(t, BPF_FUNC_l4_csum_replace);
}

/* [fp + FP_WIDTH] = D4 R[end] - R[off], checked to 1..8 (a trap
 * otherwise); r1 = R[off]. */
static void dynamic_width(struct tr *t, uint32_t offr, uint32_t endr,
			  uint32_t pc)
{
	ld_reg(t, BPF_REG_1, offr);
	ld_reg(t, BPF_REG_3, endr);
	alu_reg(t, BPF_SUB, BPF_REG_3, BPF_REG_1);
	trap_if_imm(t, BPF_JSLT, BPF_REG_3, 1, D4_TRAP_SLICE, pc);
	trap_if_imm(t, BPF_JSGT, BPF_REG_3, D4_MAX_SLICE, D4_TRAP_SLICE, pc);
	stx(t, BPF_DW, R_FP, BPF_REG_3, FP_WIDTH);
}

/* One copy to the endpoint in r1 ((addr << 16) | port, the port checked):
 * rewrite what differs from the last copy, clone it out. */
static void send_copy(struct tr *t)
{
	uint32_t found, found2, miss, none, group, skip, sent;

	stx(t, BPF_DW, R_FP, BPF_REG_1, FP_EP);
	alu_imm(t, BPF_RSH, BPF_REG_1, 16);
	stx(t, BPF_W, R_FP, BPF_REG_1, FP_KEY);
	ld_map(t, BPF_REG_1, D4_BPF_MAP_NEIGH);
	fp_addr(t, BPF_REG_2, FP_KEY);
	call(t, BPF_FUNC_map_lookup_elem);
	miss = jmp_imm(t, BPF_JEQ, BPF_REG_0, 0);
	ldx(t, BPF_W, BPF_REG_1, BPF_REG_0, NB_IFINDEX);
	found = jmp_imm(t, BPF_JNE, BPF_REG_1, 0);
	/* known, but no way out yet (not resolved, no route) */
	none = emit(t, BPF_JMP | BPF_JA, 0, 0, 0, 0);
	/* an address the host did not know of (computed: src(pkt),
	 * arithmetic): tell it, and take the default route unless a group */
	land(t, miss);
	ldx(t, BPF_DW, BPF_REG_1, R_FP, FP_EP);
	alu_imm(t, BPF_RSH, BPF_REG_1, 16);
	mov_imm(t, BPF_REG_2, 1);
	alu_imm(t, BPF_LSH, BPF_REG_2, 32);
	alu_reg(t, BPF_OR, BPF_REG_1, BPF_REG_2);
	stx(t, BPF_DW, R_PCPU, BPF_REG_1, D4_BPF_SC_MISS);
	ldx(t, BPF_DW, BPF_REG_1, R_FP, FP_EP);
	alu_imm(t, BPF_RSH, BPF_REG_1, 16 + 28);
	group = jmp_imm(t, BPF_JEQ, BPF_REG_1, 0xe);
	st_imm(t, BPF_W, R_FP, FP_KEY, 0);
	ld_map(t, BPF_REG_1, D4_BPF_MAP_NEIGH);
	fp_addr(t, BPF_REG_2, FP_KEY);
	call(t, BPF_FUNC_map_lookup_elem);
	miss = jmp_imm(t, BPF_JEQ, BPF_REG_0, 0);
	ldx(t, BPF_W, BPF_REG_1, BPF_REG_0, NB_IFINDEX);
	found2 = jmp_imm(t, BPF_JNE, BPF_REG_1, 0);
	land(t, none);
	land(t, group);
	land(t, miss);
	count(t, PC_CTR(no_neigh));
	count(t, PC_CTR(errors));
	sent = emit(t, BPF_JMP | BPF_JA, 0, 0, 0, 0); /* to the end */
	land(t, found);
	land(t, found2);
	stx(t, BPF_DW, R_FP, BPF_REG_0, FP_NEIGH);
	/* Ethernet addresses */
	mov_reg(t, BPF_REG_1, R_SKB);
	mov_imm(t, BPF_REG_2, 0);
	mov_reg(t, BPF_REG_3, BPF_REG_0);
	mov_imm(t, BPF_REG_4, 12);
	mov_imm(t, BPF_REG_5, 0);
	call(t, BPF_FUNC_skb_store_bytes);
	/* source address */
	ldx(t, BPF_DW, BPF_REG_0, R_FP, FP_NEIGH);
	ldx(t, BPF_W, BPF_REG_3, BPF_REG_0, NB_SADDR);
	ldx(t, BPF_DW, BPF_REG_2, R_PCPU, SC_SADDR);
	skip = jmp_reg(t, BPF_JEQ, BPF_REG_2, BPF_REG_3);
	stx(t, BPF_DW, R_FP, BPF_REG_2, FP_OLD);
	stx(t, BPF_DW, R_PCPU, BPF_REG_3, SC_SADDR);
	mov_reg(t, BPF_REG_1, R_SKB);
	mov_imm(t, BPF_REG_2, H_SADDR);
	mov_reg(t, BPF_REG_3, BPF_REG_0);
	alu_imm(t, BPF_ADD, BPF_REG_3, NB_SADDR);
	mov_imm(t, BPF_REG_4, 4);
	mov_imm(t, BPF_REG_5, 0);
	call(t, BPF_FUNC_skb_store_bytes);
	fix_addr_csums(t, SC_SADDR);
	land(t, skip);
	/* destination address */
	ldx(t, BPF_DW, BPF_REG_3, R_FP, FP_EP);
	alu_imm(t, BPF_RSH, BPF_REG_3, 16);
	to_be(t, BPF_REG_3, 32);
	ldx(t, BPF_DW, BPF_REG_2, R_PCPU, SC_DADDR);
	skip = jmp_reg(t, BPF_JEQ, BPF_REG_2, BPF_REG_3);
	stx(t, BPF_DW, R_FP, BPF_REG_2, FP_OLD);
	stx(t, BPF_DW, R_PCPU, BPF_REG_3, SC_DADDR);
	stx(t, BPF_W, R_FP, BPF_REG_3, FP_SLICE);
	store_from_fp(t, H_DADDR, FP_SLICE, 4);
	fix_addr_csums(t, SC_DADDR);
	land(t, skip);
	/* TTL: the 16-bit word (TTL, protocol 17) in the IP checksum */
	ldx(t, BPF_DW, BPF_REG_0, R_FP, FP_NEIGH);
	ldx(t, BPF_B, BPF_REG_3, BPF_REG_0, NB_TTL);
	ldx(t, BPF_DW, BPF_REG_2, R_PCPU, SC_TTL);
	skip = jmp_reg(t, BPF_JEQ, BPF_REG_2, BPF_REG_3);
	stx(t, BPF_DW, R_PCPU, BPF_REG_3, SC_TTL);
	alu_imm(t, BPF_LSH, BPF_REG_2, 8);
	alu_imm(t, BPF_OR, BPF_REG_2, IPPROTO_UDP);
	to_be(t, BPF_REG_2, 16);
	stx(t, BPF_DW, R_FP, BPF_REG_2, FP_OLD);
	mov_reg(t, BPF_REG_1, R_SKB);
	mov_imm(t, BPF_REG_2, H_TTL);
	mov_reg(t, BPF_REG_3, BPF_REG_0);
	alu_imm(t, BPF_ADD, BPF_REG_3, NB_TTL);
	mov_imm(t, BPF_REG_4, 1);
	mov_imm(t, BPF_REG_5, 0);
	call(t, BPF_FUNC_skb_store_bytes);
	mov_reg(t, BPF_REG_1, R_SKB);
	mov_imm(t, BPF_REG_2, H_IPCSUM);
	ldx(t, BPF_DW, BPF_REG_3, R_FP, FP_OLD);
	ldx(t, BPF_DW, BPF_REG_4, R_PCPU, SC_TTL);
	alu_imm(t, BPF_LSH, BPF_REG_4, 8);
	alu_imm(t, BPF_OR, BPF_REG_4, IPPROTO_UDP);
	to_be(t, BPF_REG_4, 16);
	mov_imm(t, BPF_REG_5, 2);
	call(t, BPF_FUNC_l3_csum_replace);
	land(t, skip);
	/* destination port */
	ldx(t, BPF_DW, BPF_REG_3, R_FP, FP_EP);
	alu_imm(t, BPF_AND, BPF_REG_3, 0xffff);
	to_be(t, BPF_REG_3, 16);
	ldx(t, BPF_DW, BPF_REG_2, R_PCPU, SC_DPORT);
	skip = jmp_reg(t, BPF_JEQ, BPF_REG_2, BPF_REG_3);
	stx(t, BPF_DW, R_FP, BPF_REG_2, FP_OLD);
	stx(t, BPF_DW, R_PCPU, BPF_REG_3, SC_DPORT);
	stx(t, BPF_H, R_FP, BPF_REG_3, FP_SLICE);
	store_from_fp(t, H_DPORT, FP_SLICE, 2);
	mov_reg(t, BPF_REG_1, R_SKB);
	mov_imm(t, BPF_REG_2, H_UDPCSUM);
	ldx(t, BPF_DW, BPF_REG_3, R_FP, FP_OLD);
	ldx(t, BPF_DW, BPF_REG_4, R_PCPU, SC_DPORT);
	mov_imm(t, BPF_REG_5, (int32_t)(BPF_F_MARK_MANGLED_0 | 2));
	call(t, BPF_FUNC_l4_csum_replace);
	land(t, skip);
	/* out it goes */
	ldx(t, BPF_DW, BPF_REG_0, R_FP, FP_NEIGH);
	ldx(t, BPF_W, BPF_REG_2, BPF_REG_0, NB_IFINDEX);
	mov_reg(t, BPF_REG_1, R_SKB);
	mov_imm(t, BPF_REG_3, 0);
	call(t, BPF_FUNC_clone_redirect);
	skip = jmp_imm(t, BPF_JEQ, BPF_REG_0, 0);
	count(t, PC_CTR(send_fail));
	count(t, PC_CTR(errors));
	found = emit(t, BPF_JMP | BPF_JA, 0, 0, 0, 0);
	land(t, skip);
	count(t, PC_CTR(sent));
	count(t, SC_RUNSENT);
	land(t, found);
	land(t, sent);
}

/* A copy to the endpoint in r1, if the per-second budget has a datagram's
 * credit left (as run_send in runtime.c); else counted, not sent. */
static void send_budgeted(struct tr *t)
{
	uint32_t take, done;

	if (!t->o->send_rate) {
		send_copy(t);
		return;
	}
	ldx(t, BPF_DW, BPF_REG_2, R_SHARED, SH(credit));
	take = jmp_imm(t, BPF_JGE, BPF_REG_2, NSEC_PER_SEC);
	count(t, PC_CTR(budget_drops));
	done = emit(t, BPF_JMP | BPF_JA, 0, 0, 0, 0);
	land(t, take);
	alu_imm(t, BPF_SUB, BPF_REG_2, NSEC_PER_SEC);
	stx(t, BPF_DW, R_SHARED, BPF_REG_2, SH(credit));
	send_copy(t);
	land(t, done);
}

/* At a run's start: the budget's credit for the time since the last run,
 * at most a second's worth, capped at the burst. */
static void budget_refill(struct tr *t)
{
	uint32_t first, ok, small, capped;

	if (!t->o->send_rate)
		return;
	call(t, BPF_FUNC_ktime_get_ns);
	ldx(t, BPF_DW, BPF_REG_1, R_SHARED, SH(last_ns));
	stx(t, BPF_DW, R_SHARED, BPF_REG_0, SH(last_ns));
	first = jmp_imm(t, BPF_JEQ, BPF_REG_1, 0);
	alu_reg(t, BPF_SUB, BPF_REG_0, BPF_REG_1);
	/* another CPU's later clock read: nothing to add */
	ok = jmp_imm(t, BPF_JSGE, BPF_REG_0, 0);
	mov_imm(t, BPF_REG_0, 0);
	land(t, ok);
	small = jmp_imm(t, BPF_JLE, BPF_REG_0, NSEC_PER_SEC);
	mov_imm(t, BPF_REG_0, NSEC_PER_SEC);
	land(t, small);
	alu_imm(t, BPF_MUL, BPF_REG_0, (int32_t)t->o->send_rate);
	ldx(t, BPF_DW, BPF_REG_1, R_SHARED, SH(credit));
	alu_reg(t, BPF_ADD, BPF_REG_0, BPF_REG_1);
	ld_imm64(t, BPF_REG_1, 0, t->o->send_burst);
	capped = jmp_reg(t, BPF_JLE, BPF_REG_0, BPF_REG_1);
	mov_reg(t, BPF_REG_0, BPF_REG_1);
	land(t, capped);
	stx(t, BPF_DW, R_SHARED, BPF_REG_0, SH(credit));
	land(t, first);
}

/* The loops' budgets: set as a loop is entered from above. */
static void enter_loop(struct tr *t, const struct loop *l)
{
	mov_imm(t, BPF_REG_1, (int32_t)l->trips);
	stx(t, BPF_DW, R_FP, BPF_REG_1, (int16_t)FP_BUDGET(l->depth));
}

static void cmp_op(struct tr *t, uint8_t op, uint32_t a, uint32_t b, uint32_t c)
{
	uint32_t j;

	ld_reg(t, BPF_REG_1, b);
	ld_reg(t, BPF_REG_2, c);
	mov_imm(t, BPF_REG_0, 1);
	j = jmp_reg(t, op, BPF_REG_1, BPF_REG_2);
	mov_imm(t, BPF_REG_0, 0);
	land(t, j);
	st_reg(t, a, BPF_REG_0);
}

/* |r@x| as unsigned (INT64_MIN stays 2^63) */
static void abs_reg(struct tr *t, uint8_t x)
{
	uint32_t j = jmp_imm(t, BPF_JSGE, x, 0);

	alu_imm(t, BPF_NEG, x, 0);
	land(t, j);
}

static void div_mod(struct tr *t, bool mod, uint32_t a, uint32_t b, uint32_t c,
		    uint32_t pc)
{
	uint32_t j;

	ld_reg(t, BPF_REG_1, b);
	ld_reg(t, BPF_REG_2, c);
	trap_if_imm(t, BPF_JEQ, BPF_REG_2, 0, D4_TRAP_DIV, pc);
	mov_reg(t, BPF_REG_3, BPF_REG_1);
	abs_reg(t, BPF_REG_3);
	mov_reg(t, BPF_REG_4, BPF_REG_2);
	abs_reg(t, BPF_REG_4);
	alu_reg(t, mod ? BPF_MOD : BPF_DIV, BPF_REG_3, BPF_REG_4);
	/* C: the quotient is negative when the signs differ, the remainder
	 * takes the dividend's sign */
	mov_reg(t, BPF_REG_5, BPF_REG_1);
	if (!mod)
		alu_reg(t, BPF_XOR, BPF_REG_5, BPF_REG_2);
	j = jmp_imm(t, BPF_JSGE, BPF_REG_5, 0);
	alu_imm(t, BPF_NEG, BPF_REG_3, 0);
	land(t, j);
	st_reg(t, a, BPF_REG_3);
}

static void binop(struct tr *t, uint8_t op, uint32_t a, uint32_t b, uint32_t c)
{
	ld_reg(t, BPF_REG_0, b);
	ld_reg(t, BPF_REG_1, c);
	if (op == BPF_LSH || op == BPF_ARSH)
		alu_imm(t, BPF_AND, BPF_REG_1, 63);
	alu_reg(t, op, BPF_REG_0, BPF_REG_1);
	st_reg(t, a, BPF_REG_0);
}

/* The VM's next_random(): xorshift64* on the loop's one state. */
static void random_op(struct tr *t, uint32_t a, uint32_t b)
{
	uint32_t j, done;

	ld_reg(t, BPF_REG_2, b);
	mov_imm(t, BPF_REG_0, 0);
	j = jmp_imm(t, BPF_JSLT, BPF_REG_2, 1);
	ldx(t, BPF_DW, BPF_REG_0, R_SHARED, SH(rng));
	mov_reg(t, BPF_REG_1, BPF_REG_0);
	alu_imm(t, BPF_RSH, BPF_REG_1, 12);
	alu_reg(t, BPF_XOR, BPF_REG_0, BPF_REG_1);
	mov_reg(t, BPF_REG_1, BPF_REG_0);
	alu_imm(t, BPF_LSH, BPF_REG_1, 25);
	alu_reg(t, BPF_XOR, BPF_REG_0, BPF_REG_1);
	mov_reg(t, BPF_REG_1, BPF_REG_0);
	alu_imm(t, BPF_RSH, BPF_REG_1, 27);
	alu_reg(t, BPF_XOR, BPF_REG_0, BPF_REG_1);
	stx(t, BPF_DW, R_SHARED, BPF_REG_0, SH(rng));
	ld_imm64(t, BPF_REG_1, 0, 0x2545F4914F6CDD1DULL);
	alu_reg(t, BPF_MUL, BPF_REG_0, BPF_REG_1);
	alu_imm(t, BPF_RSH, BPF_REG_0, 1);
	alu_reg(t, BPF_MOD, BPF_REG_0, BPF_REG_2);
	done = emit(t, BPF_JMP | BPF_JA, 0, 0, 0, 0);
	land(t, j);
	land(t, done);
	st_reg(t, a, BPF_REG_0);
}

static void insn(struct tr *t, uint32_t pc)
{
	const struct d4_code *c = t->code;
	uint32_t in = c->insn[pc], a = d4_arg_a(in), b = d4_arg_b(in),
		 cc = d4_arg_c(in), j;
	const struct loop *l;
	int16_t off;

	switch ((enum d4_opcode)d4_op(in)) {
	case D4_OP_MOV:
		ld_reg(t, BPF_REG_0, b);
		st_reg(t, a, BPF_REG_0);
		break;
	case D4_OP_LOADI:
		mov_imm(t, BPF_REG_0, d4_arg_sbx(in));
		st_reg(t, a, BPF_REG_0);
		break;
	case D4_OP_LOADK:
		ld_imm64(t, BPF_REG_0, 0, (uint64_t)c->k[d4_arg_bx(in)]);
		st_reg(t, a, BPF_REG_0);
		break;
	case D4_OP_GETV:
		ldx(t, BPF_DW, BPF_REG_0, R_SNAP, var_at(t, b));
		st_reg(t, a, BPF_REG_0);
		break;
	case D4_OP_LCOUNT:
		/* never above the capacity (the runtime keeps it so); the
		 * bound is for the verifier */
		ldx(t, BPF_DW, BPF_REG_0, R_SNAP, var_at(t, b));
		j = jmp_imm(t, BPF_JLE, BPF_REG_0, (int32_t)c->vars[b].cap);
		mov_imm(t, BPF_REG_0, (int32_t)c->vars[b].cap);
		land(t, j);
		st_reg(t, a, BPF_REG_0);
		break;
	case D4_OP_LGET:
		ld_reg(t, BPF_REG_1, b);
		ldx(t, BPF_DW, BPF_REG_2, R_SNAP, var_at(t, cc));
		trap_if_reg(t, BPF_JGE, BPF_REG_1, BPF_REG_2, D4_TRAP_INDEX,
			    pc);
		trap_if_imm(t, BPF_JGE, BPF_REG_1, (int32_t)c->vars[cc].cap,
			    D4_TRAP_INDEX, pc);
		alu_imm(t, BPF_LSH, BPF_REG_1, 3);
		mov_reg(t, BPF_REG_2, R_SNAP);
		alu_reg(t, BPF_ADD, BPF_REG_2, BPF_REG_1);
		ldx(t, BPF_DW, BPF_REG_0, BPF_REG_2,
		    (int16_t)(var_at(t, cc) + 8));
		st_reg(t, a, BPF_REG_0);
		break;
	case D4_OP_ADD:
		binop(t, BPF_ADD, a, b, cc);
		break;
	case D4_OP_SUB:
		binop(t, BPF_SUB, a, b, cc);
		break;
	case D4_OP_MUL:
		binop(t, BPF_MUL, a, b, cc);
		break;
	case D4_OP_DIV:
		div_mod(t, false, a, b, cc, pc);
		break;
	case D4_OP_MOD:
		div_mod(t, true, a, b, cc, pc);
		break;
	case D4_OP_BAND:
		binop(t, BPF_AND, a, b, cc);
		break;
	case D4_OP_BOR:
		binop(t, BPF_OR, a, b, cc);
		break;
	case D4_OP_BXOR:
		binop(t, BPF_XOR, a, b, cc);
		break;
	case D4_OP_SHL:
		binop(t, BPF_LSH, a, b, cc);
		break;
	case D4_OP_SHR:
		binop(t, BPF_ARSH, a, b, cc);
		break;
	case D4_OP_NEG:
		ld_reg(t, BPF_REG_0, b);
		alu_imm(t, BPF_NEG, BPF_REG_0, 0);
		st_reg(t, a, BPF_REG_0);
		break;
	case D4_OP_BNOT:
		ld_reg(t, BPF_REG_0, b);
		alu_imm(t, BPF_XOR, BPF_REG_0, -1);
		st_reg(t, a, BPF_REG_0);
		break;
	case D4_OP_LNOT:
		ld_reg(t, BPF_REG_1, b);
		mov_imm(t, BPF_REG_0, 0);
		j = jmp_imm(t, BPF_JNE, BPF_REG_1, 0);
		mov_imm(t, BPF_REG_0, 1);
		land(t, j);
		st_reg(t, a, BPF_REG_0);
		break;
	case D4_OP_EQ:
		cmp_op(t, BPF_JEQ, a, b, cc);
		break;
	case D4_OP_NE:
		cmp_op(t, BPF_JNE, a, b, cc);
		break;
	case D4_OP_LT:
		cmp_op(t, BPF_JSLT, a, b, cc);
		break;
	case D4_OP_LE:
		cmp_op(t, BPF_JSLE, a, b, cc);
		break;
	case D4_OP_JMP:
		add_fix(t, emit(t, BPF_JMP | BPF_JA, 0, 0, 0, 0), FIX_PC,
			(uint32_t)((int32_t)pc + 1 + d4_arg_sbx(in)));
		break;
	case D4_OP_JZ:
	case D4_OP_JNZ:
		ld_reg(t, BPF_REG_0, a);
		add_fix(t,
			jmp_imm(t, d4_op(in) == D4_OP_JZ ? BPF_JEQ : BPF_JNE,
				BPF_REG_0, 0),
			FIX_PC, (uint32_t)((int32_t)pc + 1 + d4_arg_sbx(in)));
		break;
	case D4_OP_FORLOOP:
		l = loop_at_back(t, pc);
		off = (int16_t)FP_BUDGET(l->depth);
		ld_reg(t, BPF_REG_0, a);
		alu_imm(t, BPF_SUB, BPF_REG_0, 1);
		st_reg(t, a, BPF_REG_0);
		ldx(t, BPF_DW, BPF_REG_1, R_FP, off);
		alu_imm(t, BPF_SUB, BPF_REG_1, 1);
		stx(t, BPF_DW, R_FP, BPF_REG_1, off);
		j = jmp_imm(t, BPF_JSLE, BPF_REG_1, 0);
		add_fix(t, jmp_imm(t, BPF_JSGT, BPF_REG_0, 0), FIX_PC, l->head);
		land(t, j);
		break;
	case D4_OP_LEN:
		ldx(t, BPF_DW, BPF_REG_0, R_PCPU, SC_LEN);
		st_reg(t, a, BPF_REG_0);
		break;
	case D4_OP_SRC:
		ldx(t, BPF_DW, BPF_REG_0, R_PCPU, SC_SRC);
		st_reg(t, a, BPF_REG_0);
		break;
	case D4_OP_LDP:
		ld_reg(t, BPF_REG_1, b);
		check_slice(t, BPF_REG_1, cc, 0, pc);
		load_slice(t, cc, FP_SLICE, pc);
		st_reg(t, a, BPF_REG_0);
		break;
	case D4_OP_LDPV:
		dynamic_width(t, b, cc, pc);
		check_slice(t, BPF_REG_1, 0, BPF_REG_3, pc);
		load_slice(t, 0, FP_SLICE, pc);
		st_reg(t, a, BPF_REG_0);
		break;
	case D4_OP_STP:
		store_slice(t, a, b, cc, pc);
		break;
	case D4_OP_STPV:
		dynamic_width(t, b, cc, pc);
		store_slice(t, a, b, 0, pc);
		break;
	case D4_OP_RAND:
		random_op(t, a, b);
		break;
	case D4_OP_SEQDIFF:
		ld_reg(t, BPF_REG_0, b);
		ld_reg(t, BPF_REG_1, cc);
		alu_reg(t, BPF_SUB, BPF_REG_0, BPF_REG_1);
		alu_imm(t, BPF_LSH, BPF_REG_0, 48);
		alu_imm(t, BPF_ARSH, BPF_REG_0, 48);
		st_reg(t, a, BPF_REG_0);
		break;
	case D4_OP_EPADDR:
		ld_reg(t, BPF_REG_0, b);
		alu_imm(t, BPF_RSH, BPF_REG_0, 16);
		/* a 32-bit move clears the upper half */
		emit(t, BPF_ALU | BPF_X | BPF_MOV, BPF_REG_0, BPF_REG_0, 0, 0);
		st_reg(t, a, BPF_REG_0);
		break;
	case D4_OP_EPPORT:
		ld_reg(t, BPF_REG_0, b);
		alu_imm(t, BPF_AND, BPF_REG_0, 0xffff);
		st_reg(t, a, BPF_REG_0);
		break;
	case D4_OP_SEND:
		ld_reg(t, BPF_REG_1, a);
		mov_reg(t, BPF_REG_2, BPF_REG_1);
		alu_imm(t, BPF_AND, BPF_REG_2, 0xffff);
		trap_if_imm(t, BPF_JEQ, BPF_REG_2, 0, D4_TRAP_PORT, pc);
		send_budgeted(t);
		break;
	case D4_OP_SENDP:
		ld_reg(t, BPF_REG_2, b);
		trap_if_imm(t, BPF_JSLT, BPF_REG_2, 1, D4_TRAP_PORT, pc);
		trap_if_imm(t, BPF_JSGT, BPF_REG_2, 65535, D4_TRAP_PORT, pc);
		ld_reg(t, BPF_REG_1, a);
		alu_imm(t, BPF_RSH, BPF_REG_1, 16);
		alu_imm(t, BPF_LSH, BPF_REG_1, 16);
		alu_reg(t, BPF_OR, BPF_REG_1, BPF_REG_2);
		send_budgeted(t);
		break;
	case D4_OP_DROP:
		jmp_tail(t, T_DROP);
		break;
	case D4_OP_END:
		jmp_tail(t, T_END);
		break;
	case D4_OP_COUNT:
		refuse(t, pc, "opcode %u unknown", d4_op(in));
		break;
	}
}

/* ---- the whole program ---- */

/* Is this the loop's packet, and can the kernel run it? */
static void prologue(struct tr *t)
{
	const struct d4_bpf_opts *o = t->o;
	uint32_t j, got[2], r;

	mov_reg(t, R_SKB, BPF_REG_1);
	mov_reg(t, BPF_REG_1, R_SKB);
	mov_imm(t, BPF_REG_2, 0);
	fp_addr(t, BPF_REG_3, FP_HDR);
	mov_imm(t, BPF_REG_4, H_PAYLOAD);
	call(t, BPF_FUNC_skb_load_bytes);
	jmp_tail_imm(t, BPF_JNE, BPF_REG_0, 0, T_NOTOURS);
	ldx(t, BPF_H, BPF_REG_1, R_FP, FP_HDR + H_PROTO);
	jmp_tail_imm(t, BPF_JNE, BPF_REG_1, htons(0x0800), T_NOTOURS);
	ldx(t, BPF_B, BPF_REG_1, R_FP, FP_HDR + H_VER_IHL);
	jmp_tail_imm(t, BPF_JNE, BPF_REG_1, 0x45, T_NOTOURS);
	ldx(t, BPF_B, BPF_REG_1, R_FP, FP_HDR + H_IPPROTO);
	jmp_tail_imm(t, BPF_JNE, BPF_REG_1, IPPROTO_UDP, T_NOTOURS);
	ldx(t, BPF_W, BPF_REG_1, R_FP, FP_HDR + H_DADDR);
	if (o->bind_addr) {
		add_fix(t,
			jmp32_imm(t, BPF_JNE, BPF_REG_1,
				  (int32_t)htonl(o->bind_addr)),
			FIX_TAIL, T_NOTOURS);
	} else {
		/* 0.0.0.0: unicast to this host (a frame to our MAC on a
		 * host that does not forward); groups and broadcasts go up
		 * to the socket, which knows what the host joined */
		ldx(t, BPF_W, BPF_REG_2, R_SKB,
		    offsetof(struct __sk_buff, pkt_type));
		jmp_tail_imm(t, BPF_JNE, BPF_REG_2, 0 /* PACKET_HOST */,
			     T_NOTOURS);
		to_be(t, BPF_REG_1, 32);
		alu_imm(t, BPF_RSH, BPF_REG_1, 28);
		jmp_tail_imm(t, BPF_JGE, BPF_REG_1, 0xe, T_NOTOURS);
	}
	ldx(t, BPF_H, BPF_REG_1, R_FP, FP_HDR + H_DPORT);
	jmp_tail_imm(t, BPF_JNE, BPF_REG_1, htons(o->bind_port), T_NOTOURS);
	if (o->pass_original) {
		ldx(t, BPF_W, BPF_REG_1, R_SKB,
		    offsetof(struct __sk_buff, mark));
		add_fix(t, jmp32_imm(t, BPF_JEQ, BPF_REG_1, (int32_t)o->mark),
			FIX_TAIL, T_MARKED);
	}
	/* the loop's packet: the maps */
	st_imm(t, BPF_W, R_FP, FP_KEY, 0);
	ld_map(t, BPF_REG_1, D4_BPF_MAP_PCPU);
	fp_addr(t, BPF_REG_2, FP_KEY);
	call(t, BPF_FUNC_map_lookup_elem);
	jmp_tail_imm(t, BPF_JEQ, BPF_REG_0, 0, T_NOTOURS);
	mov_reg(t, R_PCPU, BPF_REG_0);
	ld_map(t, BPF_REG_1, D4_BPF_MAP_SHARED);
	fp_addr(t, BPF_REG_2, FP_KEY);
	call(t, BPF_FUNC_map_lookup_elem);
	jmp_tail_imm(t, BPF_JEQ, BPF_REG_0, 0, T_NOTOURS);
	mov_reg(t, R_SHARED, BPF_REG_0);
	/* left to the stack: fragments, VLAN tags, GRO, a stopped loop */
	ldx(t, BPF_H, BPF_REG_1, R_FP, FP_HDR + H_FRAG);
	alu_imm(t, BPF_AND, BPF_REG_1, htons(0x3fff));
	jmp_tail_imm(t, BPF_JNE, BPF_REG_1, 0, T_PASS);
	ldx(t, BPF_W, BPF_REG_1, R_SKB,
	    offsetof(struct __sk_buff, vlan_present));
	jmp_tail_imm(t, BPF_JNE, BPF_REG_1, 0, T_PASS);
	ldx(t, BPF_W, BPF_REG_1, R_SKB, offsetof(struct __sk_buff, gso_segs));
	jmp_tail_imm(t, BPF_JGT, BPF_REG_1, 1, T_PASS);
	ldx(t, BPF_DW, BPF_REG_1, R_SHARED, SH(running));
	jmp_tail_imm(t, BPF_JEQ, BPF_REG_1, 0, T_PASS);
	/* lengths: IP = 20 + UDP, all in the frame, payload not too long */
	ldx(t, BPF_H, BPF_REG_1, R_FP, FP_HDR + H_TOT_LEN);
	to_be(t, BPF_REG_1, 16);
	ldx(t, BPF_H, BPF_REG_2, R_FP, FP_HDR + H_UDPLEN);
	to_be(t, BPF_REG_2, 16);
	jmp_tail_imm(t, BPF_JLT, BPF_REG_2, 8, T_PASS);
	mov_reg(t, BPF_REG_3, BPF_REG_2);
	alu_imm(t, BPF_ADD, BPF_REG_3, 20);
	add_fix(t, jmp_reg(t, BPF_JNE, BPF_REG_1, BPF_REG_3), FIX_TAIL, T_PASS);
	ldx(t, BPF_W, BPF_REG_3, R_SKB, offsetof(struct __sk_buff, len));
	alu_imm(t, BPF_ADD, BPF_REG_1, 14);
	add_fix(t, jmp_reg(t, BPF_JGT, BPF_REG_1, BPF_REG_3), FIX_TAIL, T_PASS);
	alu_imm(t, BPF_SUB, BPF_REG_2, 8);
	jmp_tail_imm(t, BPF_JGT, BPF_REG_2, o->max_payload, T_PASS);
	stx(t, BPF_DW, R_PCPU, BPF_REG_2, SC_LEN);
	/* hold the current snapshot buffer; if the host made the other one
	 * current meanwhile, let go and take that (twice, then give the
	 * packet to the stack) */
	for (r = 0; r < 2; r++) {
		ldx(t, BPF_DW, BPF_REG_1, R_SHARED, SH(cur));
		alu_imm(t, BPF_AND, BPF_REG_1, 1);
		mov_reg(t, BPF_REG_2, BPF_REG_1);
		alu_imm(t, BPF_LSH, BPF_REG_2, 3);
		mov_reg(t, BPF_REG_3, R_SHARED);
		alu_reg(t, BPF_ADD, BPF_REG_3, BPF_REG_2);
		mov_imm(t, BPF_REG_4, 1);
		atomic_add(t, BPF_REG_3, BPF_REG_4, SH(readers));
		stx(t, BPF_DW, R_FP, BPF_REG_3, FP_READERS);
		mov_imm(t, BPF_REG_4, 0);
		atomic_add(t, R_SHARED, BPF_REG_4, SH(cur));
		alu_imm(t, BPF_AND, BPF_REG_4, 1);
		got[r] = jmp_reg(t, BPF_JEQ, BPF_REG_4, BPF_REG_1);
		mov_imm(t, BPF_REG_4, -1);
		atomic_add(t, BPF_REG_3, BPF_REG_4, SH(readers));
	}
	jmp_tail(t, T_PASS);
	/* held: buffer r1 */
	land(t, got[0]);
	land(t, got[1]);
	alu_imm(t, BPF_MUL, BPF_REG_1, (int32_t)t->snap_bytes);
	mov_reg(t, R_SNAP, R_SHARED);
	alu_reg(t, BPF_ADD, R_SNAP, BPF_REG_1);
	/* the run begins */
	count(t, PC_CTR(in));
	budget_refill(t);
	ldx(t, BPF_W, BPF_REG_1, R_FP, FP_HDR + H_SADDR);
	stx(t, BPF_DW, R_PCPU, BPF_REG_1, SC_SADDR);
	to_be(t, BPF_REG_1, 32);
	alu_imm(t, BPF_LSH, BPF_REG_1, 16);
	ldx(t, BPF_H, BPF_REG_2, R_FP, FP_HDR + H_SPORT);
	to_be(t, BPF_REG_2, 16);
	alu_reg(t, BPF_OR, BPF_REG_1, BPF_REG_2);
	stx(t, BPF_DW, R_PCPU, BPF_REG_1, SC_SRC);
	ldx(t, BPF_W, BPF_REG_1, R_FP, FP_HDR + H_DADDR);
	stx(t, BPF_DW, R_PCPU, BPF_REG_1, SC_DADDR);
	ldx(t, BPF_H, BPF_REG_1, R_FP, FP_HDR + H_DPORT);
	stx(t, BPF_DW, R_PCPU, BPF_REG_1, SC_DPORT);
	ldx(t, BPF_B, BPF_REG_1, R_FP, FP_HDR + H_TTL);
	stx(t, BPF_DW, R_PCPU, BPF_REG_1, SC_TTL);
	st_imm(t, BPF_DW, R_PCPU, SC_RUNSENT, 0);
	mov_imm(t, BPF_REG_1, 0);
	stx(t, BPF_DW, R_FP, BPF_REG_1, FP_SLICE);
	stx(t, BPF_DW, R_FP, BPF_REG_1, FP_OLD2);
	if (o->pass_original) {
		/* an untouched copy up the stack, marked so that this
		 * program lets it pass when it comes back in */
		ldx(t, BPF_W, BPF_REG_1, R_SKB,
		    offsetof(struct __sk_buff, mark));
		stx(t, BPF_DW, R_FP, BPF_REG_1, FP_OLD);
		mov_imm(t, BPF_REG_1, 0);
		alu_imm(t, BPF_OR, BPF_REG_1, (int32_t)o->mark);
		emit(t, BPF_ALU | BPF_X | BPF_MOV, BPF_REG_1, BPF_REG_1, 0, 0);
		stx(t, BPF_W, R_SKB, BPF_REG_1,
		    offsetof(struct __sk_buff, mark));
		mov_reg(t, BPF_REG_1, R_SKB);
		ldx(t, BPF_W, BPF_REG_2, R_SKB,
		    offsetof(struct __sk_buff, ifindex));
		mov_imm(t, BPF_REG_3, BPF_F_INGRESS);
		call(t, BPF_FUNC_clone_redirect);
		ldx(t, BPF_DW, BPF_REG_1, R_FP, FP_OLD);
		stx(t, BPF_W, R_SKB, BPF_REG_1,
		    offsetof(struct __sk_buff, mark));
	}
	/* the copies' source port and TOS, once */
	ldx(t, BPF_H, BPF_REG_1, R_FP, FP_HDR + H_SPORT);
	j = jmp_imm(t, BPF_JEQ, BPF_REG_1, htons(o->src_port));
	stx(t, BPF_DW, R_FP, BPF_REG_1, FP_OLD);
	mov_imm(t, BPF_REG_1, htons(o->src_port));
	stx(t, BPF_H, R_FP, BPF_REG_1, FP_SLICE);
	store_from_fp(t, H_SPORT, FP_SLICE, 2);
	mov_reg(t, BPF_REG_1, R_SKB);
	mov_imm(t, BPF_REG_2, H_UDPCSUM);
	ldx(t, BPF_DW, BPF_REG_3, R_FP, FP_OLD);
	mov_imm(t, BPF_REG_4, htons(o->src_port));
	mov_imm(t, BPF_REG_5, (int32_t)(BPF_F_MARK_MANGLED_0 | 2));
	call(t, BPF_FUNC_l4_csum_replace);
	land(t, j);
	ldx(t, BPF_B, BPF_REG_1, R_FP, FP_HDR + H_TOS);
	j = jmp_imm(t, BPF_JEQ, BPF_REG_1, o->tos);
	mov_imm(t, BPF_REG_1, o->tos);
	stx(t, BPF_B, R_FP, BPF_REG_1, FP_SLICE);
	store_from_fp(t, H_TOS, FP_SLICE, 1);
	mov_reg(t, BPF_REG_1, R_SKB);
	mov_imm(t, BPF_REG_2, H_IPCSUM);
	ldx(t, BPF_H, BPF_REG_3, R_FP, FP_HDR + H_VER_IHL);
	mov_imm(t, BPF_REG_4, htons((uint16_t)(0x4500 | o->tos)));
	mov_imm(t, BPF_REG_5, 2);
	call(t, BPF_FUNC_l3_csum_replace);
	land(t, j);
	/* every run starts with its registers zero */
	for (r = t->code->nstate; r < t->code->nregs; r++)
		st_imm(t, BPF_DW, R_PCPU, (int16_t)(PCPU_REGS + 8 * r), 0);
}

static void tails(struct tr *t)
{
	uint32_t j;

	if (t->tail_used[T_NOTOURS]) {
		t->tail[T_NOTOURS] = t->n;
		mov_imm(t, BPF_REG_0, TC_ACT_UNSPEC);
		emit(t, BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
	}
	if (t->tail_used[T_MARKED]) {
		t->tail[T_MARKED] = t->n;
		mov_imm(t, BPF_REG_1, 0);
		stx(t, BPF_W, R_SKB, BPF_REG_1,
		    offsetof(struct __sk_buff, mark));
		mov_imm(t, BPF_REG_0, TC_ACT_UNSPEC);
		emit(t, BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
	}
	if (t->tail_used[T_PASS]) {
		t->tail[T_PASS] = t->n;
		count(t, PC_CTR(passed));
		mov_imm(t, BPF_REG_0, TC_ACT_UNSPEC);
		emit(t, BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
	}
	if (t->tail_used[T_TRAP]) {
		t->tail[T_TRAP] = t->n;
		stx(t, BPF_DW, R_SHARED, BPF_REG_1, SH(last_trap));
		ldx(t, BPF_DW, BPF_REG_1, R_SHARED, SH(traps));
		alu_imm(t, BPF_ADD, BPF_REG_1, 1);
		stx(t, BPF_DW, R_SHARED, BPF_REG_1, SH(traps));
		count(t, PC_CTR(errors));
		jmp_tail(t, T_LEAVE);
	}
	if (t->tail_used[T_DROP]) {
		t->tail[T_DROP] = t->n;
		count(t, PC_CTR(dropped));
		jmp_tail(t, T_LEAVE);
	}
	if (t->tail_used[T_END]) {
		t->tail[T_END] = t->n;
		ldx(t, BPF_DW, BPF_REG_1, R_PCPU, SC_RUNSENT);
		j = jmp_imm(t, BPF_JNE, BPF_REG_1, 0);
		count(t, PC_CTR(dropped));
		land(t, j);
		t->tail_used[T_LEAVE] = true; /* falls into it */
	}
	if (t->tail_used[T_LEAVE]) {
		t->tail[T_LEAVE] = t->n;
		ldx(t, BPF_DW, BPF_REG_3, R_FP, FP_READERS);
		mov_imm(t, BPF_REG_4, -1);
		atomic_add(t, BPF_REG_3, BPF_REG_4, SH(readers));
		mov_imm(t, BPF_REG_0, TC_ACT_SHOT);
		emit(t, BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
	}
}

/* Which D4 instructions a run can reach, from the first. */
static int reachable(struct tr *t)
{
	const struct d4_code *c = t->code;
	uint32_t *stack, sp = 0, pc, to, op;

	t->reach = calloc(c->ninsn, sizeof(*t->reach));
	stack = calloc(c->ninsn, sizeof(*stack));
	if (!t->reach || !stack) {
		free(stack);
		return -ENOMEM;
	}
	stack[sp++] = 0;
	t->reach[0] = true;
	while (sp) {
		pc = stack[--sp];
		op = d4_op(c->insn[pc]);
		if (jump_target(c, pc, &to) && to < c->ninsn && !t->reach[to]) {
			t->reach[to] = true;
			stack[sp++] = to;
		}
		if (op == D4_OP_JMP || op == D4_OP_DROP || op == D4_OP_END)
			continue;
		if (pc + 1 < c->ninsn && !t->reach[pc + 1]) {
			t->reach[pc + 1] = true;
			stack[sp++] = pc + 1;
		}
	}
	free(stack);
	return 0;
}

static int resolve(struct tr *t)
{
	uint32_t i, to;
	int64_t off;

	for (i = 0; i < t->nfix && !t->err; i++) {
		const struct fix *f = &t->fix[i];

		to = f->kind == FIX_PC ? t->label[f->to] : t->tail[f->to];
		off = (int64_t)to - (int64_t)f->at - 1;
		if (off < INT16_MIN || off > INT16_MAX) {
			refuse(t, t->code->ninsn - 1,
			       "loop: %u BPF instructions, more than a BPF "
			       "jump reaches",
			       t->n);
			break;
		}
		t->insn[f->at].off = (int16_t)off;
	}
	return t->err;
}

/* The snapshot layout: each variable the loop names, in reference order. */
static int layout(struct tr *t)
{
	const struct d4_code *c = t->code;
	struct d4_bpf_prog *p = t->p;
	uint32_t i, words = 0;

	p->nvars = c->nvars;
	p->var_word = calloc(c->nvars ? c->nvars : 1, sizeof(*p->var_word));
	t->var_off = calloc(c->nvars ? c->nvars : 1, sizeof(*t->var_off));
	if (!p->var_word || !t->var_off)
		return -ENOMEM;
	for (i = 0; i < c->nvars; i++) {
		p->var_word[i] = words;
		t->var_off[i] = 8 * words;
		words += c->vars[i].list ? 1 + c->vars[i].cap : 1;
	}
	p->snap_words = words ? words : 1;
	t->snap_bytes = 8 * p->snap_words;
	p->state_off = SHARED_HEAD;
	p->buf_off = p->state_off + 8 * c->nstate;
	p->shared_size = p->buf_off + 2 * t->snap_bytes;
	p->pcpu_size = PCPU_REGS + 8 * (c->nregs ? c->nregs : 1);
	if (p->shared_size > INT16_MAX || p->pcpu_size > INT16_MAX) {
		refuse(t, c->ninsn - 1,
		       "loop: its shared variables take %u bytes, the kernel "
		       "back end takes %d",
		       2 * t->snap_bytes, INT16_MAX / 2 - 1024);
		return t->err;
	}
	return 0;
}

int d4_bpf_translate(const struct d4_code *code, const struct d4_bpf_opts *o,
		     struct d4_bpf_prog **out, char *why, size_t why_len)
{
	struct tr t = {.code = code, .o = o, .why = why, .why_len = why_len};
	uint64_t walk;
	uint32_t pc, start, i;
	const struct loop *l;
	int ret;

	*out = NULL;
	if (why && why_len)
		why[0] = '\0';
	t.p = calloc(1, sizeof(*t.p));
	t.label = calloc(code->ninsn + 1, sizeof(*t.label));
	if (!t.p || !t.label) {
		ret = -ENOMEM;
		goto out_free;
	}
	ret = layout(&t);
	if (!ret)
		ret = reachable(&t);
	if (!ret)
		ret = find_loops(&t);
	if (ret)
		goto out_free;
	prologue(&t);
	walk = t.n;
	for (pc = 0; pc < code->ninsn && !t.err; pc++) {
		if (!t.reach[pc])
			continue;
		l = loop_at_head(&t, pc);
		if (l)
			enter_loop(&t, l);
		t.label[pc] = t.n;
		start = t.n;
		insn(&t, pc);
		/* the verifier walks this once per trip of each loop around
		 * it; the way out of a loop, a few more each trip */
		walk += (uint64_t)(t.n - start) * walk_factor(&t, pc);
		if (loop_at_back(&t, pc))
			walk += 16 * walk_factor(&t, pc);
	}
	tails(&t);
	if (!t.err)
		resolve(&t);
	walk += t.n;
	if (!t.err && walk > D4_BPF_WALK_MAX) {
		/* name the outermost loop that makes it so */
		uint32_t worst = code->ninsn;
		uint64_t most = 0;

		for (i = 0; i < t.nloops; i++) {
			uint64_t f = walk_factor(&t, t.loops[i].head);

			if (!t.loops[i].depth && f > most) {
				most = f;
				worst = t.loops[i].back;
			}
		}
		refuse(&t, worst,
		       "for: the kernel's verifier would walk about %llu "
		       "instructions (the back end allows %d)",
		       (unsigned long long)walk, D4_BPF_WALK_MAX);
	}
	ret = t.err;
	if (ret)
		goto out_free;
	t.p->insn = t.insn;
	t.p->ninsn = t.n;
	t.p->walk = walk;
	for (i = 0; i < t.nloops && !t.p->nest_line; i++) {
		uint32_t j;

		for (j = 0; j < t.nloops; j++)
			if (!t.loops[i].depth && t.loops[j].depth &&
			    t.loops[j].head >= t.loops[i].head &&
			    t.loops[j].back <= t.loops[i].back) {
				t.p->nest_line =
				    code->pos[t.loops[i].back].line;
				t.p->nest_col = code->pos[t.loops[i].back].col;
				break;
			}
	}
	t.insn = NULL;
	*out = t.p;
	t.p = NULL;
out_free:
	d4_bpf_free(t.p);
	free(t.insn);
	free(t.label);
	free(t.fix);
	free(t.loops);
	free(t.var_off);
	free(t.reach);
	return ret;
}

void d4_bpf_free(struct d4_bpf_prog *p)
{
	if (!p)
		return;
	free(p->insn);
	free(p->var_word);
	free(p);
}

void d4_bpf_snap_fill(const struct d4_bpf_prog *p, const struct d4_code *code,
		      const struct d4_snap *s, uint64_t *buf)
{
	uint32_t i, n, k;

	memset(buf, 0, 8 * p->snap_words);
	for (i = 0; i < code->nvars && i < p->nvars; i++) {
		const struct d4_varref *v = &code->vars[i];

		n = v->list ? 1 + v->cap : 1;
		for (k = 0; k < n && v->slot + k < s->nslots; k++)
			buf[p->var_word[i] + k] = s->slot[v->slot + k];
	}
}

/* ---- the structural check ---- */

static bool helper_known(int32_t id)
{
	switch (id) {
	case BPF_FUNC_map_lookup_elem:
	case BPF_FUNC_skb_load_bytes:
	case BPF_FUNC_skb_store_bytes:
	case BPF_FUNC_l3_csum_replace:
	case BPF_FUNC_l4_csum_replace:
	case BPF_FUNC_clone_redirect:
	case BPF_FUNC_ktime_get_ns:
		return true;
	default:
		return false;
	}
}

static bool alu_ok(const struct bpf_insn *in, bool alu64)
{
	uint8_t op = BPF_OP(in->code);
	bool k = BPF_SRC(in->code) == BPF_K;

	if (in->dst_reg == BPF_REG_10)
		return false;
	switch (op) {
	case BPF_ADD:
	case BPF_SUB:
	case BPF_MUL:
	case BPF_OR:
	case BPF_AND:
	case BPF_XOR:
	case BPF_MOV:
		return true;
	case BPF_DIV:
	case BPF_MOD:
		return !k || in->imm != 0;
	case BPF_LSH:
	case BPF_RSH:
	case BPF_ARSH:
		return !k || (in->imm >= 0 && in->imm < (alu64 ? 64 : 32));
	case BPF_NEG:
		return k && in->imm == 0 && in->src_reg == 0;
	case BPF_END:
		return !alu64 &&
		       (in->imm == 16 || in->imm == 32 || in->imm == 64);
	default:
		return false;
	}
}

static bool jmp_op_ok(uint8_t op)
{
	switch (op) {
	case BPF_JA:
	case BPF_JEQ:
	case BPF_JGT:
	case BPF_JGE:
	case BPF_JSET:
	case BPF_JNE:
	case BPF_JSGT:
	case BPF_JSGE:
	case BPF_JLT:
	case BPF_JLE:
	case BPF_JSLT:
	case BPF_JSLE:
		return true;
	default:
		return false;
	}
}

static int bad(char *why, size_t len, uint32_t i, const char *what)
{
	if (why && len)
		snprintf(why, len, "BPF instruction %u: %s", i, what);
	return -EINVAL;
}

int d4_bpf_check(const struct d4_bpf_prog *p, char *why, size_t why_len)
{
	uint32_t i, n = p->ninsn;
	bool *second = calloc(n ? n : 1, sizeof(*second));
	int ret = 0;

	if (!second)
		return -ENOMEM;
	if (!n || n > 1000000)
		ret = bad(why, why_len, 0, "no instructions, or too many");
	for (i = 0; i < n && !ret; i++) {
		const struct bpf_insn *in = &p->insn[i];
		uint8_t cls = BPF_CLASS(in->code), sz = BPF_SIZE(in->code);
		int64_t to;

		if (second[i])
			continue;
		if (in->dst_reg > BPF_REG_10 || in->src_reg > BPF_REG_10) {
			ret = bad(why, why_len, i, "no such register");
			break;
		}
		switch (cls) {
		case BPF_ALU:
		case BPF_ALU64:
			if (!alu_ok(in, cls == BPF_ALU64))
				ret = bad(why, why_len, i, "bad ALU operation");
			break;
		case BPF_LDX:
			if (BPF_MODE(in->code) != BPF_MEM ||
			    in->dst_reg == BPF_REG_10)
				ret = bad(why, why_len, i, "bad load");
			break;
		case BPF_ST:
			if (BPF_MODE(in->code) != BPF_MEM)
				ret = bad(why, why_len, i, "bad store");
			break;
		case BPF_STX:
			if (BPF_MODE(in->code) == BPF_ATOMIC
				? sz != BPF_DW ||
				      in->imm != (BPF_ADD | BPF_FETCH)
				: BPF_MODE(in->code) != BPF_MEM)
				ret = bad(why, why_len, i, "bad store");
			break;
		case BPF_LD:
			if (in->code != (BPF_LD | BPF_DW | BPF_IMM) ||
			    i + 1 >= n || p->insn[i + 1].code ||
			    p->insn[i + 1].dst_reg || p->insn[i + 1].src_reg ||
			    p->insn[i + 1].off || in->dst_reg == BPF_REG_10 ||
			    (in->src_reg != 0 &&
			     in->src_reg != BPF_PSEUDO_MAP_FD) ||
			    (in->src_reg == BPF_PSEUDO_MAP_FD &&
			     (uint32_t)in->imm >= D4_BPF_NMAPS))
				ret = bad(why, why_len, i, "bad 64-bit load");
			else
				second[i + 1] = true;
			break;
		case BPF_JMP:
		case BPF_JMP32:
			if (BPF_OP(in->code) == BPF_EXIT) {
				if (cls != BPF_JMP)
					ret = bad(why, why_len, i, "bad exit");
				break;
			}
			if (BPF_OP(in->code) == BPF_CALL) {
				if (cls != BPF_JMP || in->src_reg ||
				    !helper_known(in->imm))
					ret = bad(why, why_len, i,
						  "unknown helper");
				break;
			}
			if (!jmp_op_ok(BPF_OP(in->code)) ||
			    (BPF_OP(in->code) == BPF_JA && cls != BPF_JMP)) {
				ret = bad(why, why_len, i, "bad jump");
				break;
			}
			to = (int64_t)i + 1 + in->off;
			if (to < 0 || to >= n)
				ret = bad(why, why_len, i,
					  "jump out of the program");
			break;
		default:
			ret = bad(why, why_len, i, "unknown class");
		}
	}
	/* no jump may land on the second half of a 64-bit load */
	for (i = 0; i < n && !ret; i++) {
		const struct bpf_insn *in = &p->insn[i];
		uint8_t cls = BPF_CLASS(in->code), op = BPF_OP(in->code);

		if (second[i] || (cls != BPF_JMP && cls != BPF_JMP32) ||
		    op == BPF_CALL || op == BPF_EXIT)
			continue;
		if (second[(int64_t)i + 1 + in->off])
			ret = bad(why, why_len, i, "jump into a 64-bit load");
	}
	if (!ret) {
		const struct bpf_insn *last = &p->insn[n - 1];

		if (last->code != (BPF_JMP | BPF_EXIT) &&
		    last->code != (BPF_JMP | BPF_JA))
			ret = bad(why, why_len, n - 1, "falls off the end");
	}
	free(second);
	return ret;
}
