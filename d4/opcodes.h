/* D4 bytecode: the instruction encoding, one line of meaning per opcode, and
 * the property table the validator, the disassembler and a later tc/eBPF
 * back end read. Registers are 64-bit; an IP endpoint lives in one register
 * as (IPv4 address << 16) | port. Control flow is forward jumps plus one
 * counted back edge (FORLOOP), so every program is a DAG with bounded
 * loops: what a kernel verifier accepts.
 *
 * All instructions are 32 bits, unsigned, opcode in the low byte:
 *
 *   31        24 23        16 15         8 7          0
 *  +------------+------------+------------+------------+
 *  |      C     |      B     |      A     |     op     |   iABC
 *  +------------+------------+------------+------------+
 *  |         Bx or sBx       |      A     |     op     |   iABx / iAsBx
 *  +-------------------------+------------+------------+
 *
 * R[x] is register x, K[x] constant x, V[x] the shared variable that the
 * loop's x-th variable reference names, P the packet, LEN its length.
 * Jumps are relative to the next instruction: pc += sBx. Packet slices
 * are big-endian; "trap" marks the run-time checks that end a run. */
#ifndef D4_D4_OPCODES_H
#define D4_D4_OPCODES_H

#include <stdint.h>

/* X(name, format, A, B, C): operand kinds, see enum d4_operand. */
/* clang-format off */
#define D4_OPCODES(X)                                                          \
	X(MOV, ABC, W, R, _)	 /* R[A] = R[B] */                             \
	X(LOADI, ASBX, W, I, _)	 /* R[A] = sBx */                              \
	X(LOADK, ABX, W, K, _)	 /* R[A] = K[Bx] */                            \
	X(GETV, ABC, W, VS, _)	 /* R[A] = V[B] (an int or an endpoint) */     \
	X(LCOUNT, ABC, W, VL, _) /* R[A] = entries in list V[B] */             \
	X(LGET, ABC, W, R, VL)	 /* R[A] = entry R[B] of list V[C]; trap */    \
	X(ADD, ABC, W, R, R)	 /* R[A] = R[B] + R[C], wrapping */            \
	X(SUB, ABC, W, R, R)	 /* R[A] = R[B] - R[C], wrapping */            \
	X(MUL, ABC, W, R, R)	 /* R[A] = R[B] * R[C], wrapping */            \
	X(DIV, ABC, W, R, R)	 /* R[A] = R[B] / R[C]; trap on 0 */           \
	X(MOD, ABC, W, R, R)	 /* R[A] = R[B] % R[C]; trap on 0 */           \
	X(BAND, ABC, W, R, R)	 /* R[A] = R[B] & R[C] */                      \
	X(BOR, ABC, W, R, R)	 /* R[A] = R[B] | R[C] */                      \
	X(BXOR, ABC, W, R, R)	 /* R[A] = R[B] ^ R[C] */                      \
	X(SHL, ABC, W, R, R)	 /* R[A] = R[B] << (R[C] & 63) */              \
	X(SHR, ABC, W, R, R)	 /* R[A] = R[B] >> (R[C] & 63), arithmetic */  \
	X(NEG, ABC, W, R, _)	 /* R[A] = -R[B], wrapping */                  \
	X(BNOT, ABC, W, R, _)	 /* R[A] = ~R[B] */                            \
	X(LNOT, ABC, W, R, _)	 /* R[A] = R[B] == 0 */                        \
	X(EQ, ABC, W, R, R)	 /* R[A] = R[B] == R[C] */                     \
	X(NE, ABC, W, R, R)	 /* R[A] = R[B] != R[C] */                     \
	X(LT, ABC, W, R, R)	 /* R[A] = R[B] < R[C], signed */              \
	X(LE, ABC, W, R, R)	 /* R[A] = R[B] <= R[C], signed */             \
	X(JMP, ASBX, _, J, _)	 /* pc += sBx, forward */                      \
	X(JZ, ASBX, R, J, _)	 /* if R[A] == 0: pc += sBx, forward */        \
	X(JNZ, ASBX, R, J, _)	 /* if R[A] != 0: pc += sBx, forward */        \
	X(FORLOOP, ASBX, W, JB, _) /* if --R[A] > 0: pc += sBx (back) */       \
	X(LEN, ABC, W, _, _)	 /* R[A] = LEN */                              \
	X(SRC, ABC, W, _, _)	 /* R[A] = the packet's source endpoint */     \
	X(LDP, ABC, W, R, N)	 /* R[A] = P[R[B] .. R[B]+C); trap */          \
	X(LDPV, ABC, W, R, R)	 /* R[A] = P[R[B] .. R[C]); trap */            \
	X(STP, ABC, R, R, N)	 /* P[R[B] .. R[B]+C) = R[A]; trap */          \
	X(STPV, ABC, R, R, R)	 /* P[R[B] .. R[C]) = R[A]; trap */            \
	X(RAND, ABC, W, R, _)	 /* R[A] = random in [0, R[B]) or 0 */         \
	X(SEQDIFF, ABC, W, R, R) /* R[A] = (int16_t)(R[B] - R[C]) */           \
	X(EPADDR, ABC, W, R, _)	 /* R[A] = IPv4 address of endpoint R[B] */    \
	X(EPPORT, ABC, W, R, _)	 /* R[A] = port of endpoint R[B] */            \
	X(SEND, ABC, R, _, _)	 /* send P to endpoint R[A]; trap */           \
	X(SENDP, ABC, R, R, _)	 /* send P to R[A]'s address, port R[B] */     \
	X(DROP, ABC, _, _, _)	 /* end the run: packet dropped */             \
	X(END, ABC, _, _, _)	 /* end the run */

enum d4_opcode {
#define D4_OP_ENUM(name, fmt, a, b, c) D4_OP_##name,
	D4_OPCODES(D4_OP_ENUM)
#undef D4_OP_ENUM
	D4_OP_COUNT
};
/* clang-format on */

enum d4_format {
	D4_FMT_ABC,
	D4_FMT_ABX,
	D4_FMT_ASBX,
};

/* What an operand field holds. */
enum d4_operand {
	D4_OPND__,  /* unused, must be 0 */
	D4_OPND_W,  /* register written (FORLOOP's is read too) */
	D4_OPND_R,  /* register read */
	D4_OPND_I,  /* signed immediate */
	D4_OPND_K,  /* constant index */
	D4_OPND_VS, /* reference to a shared scalar */
	D4_OPND_VL, /* reference to a shared list */
	D4_OPND_N,  /* byte count 1..8 */
	D4_OPND_J,  /* forward jump offset, >= 0 */
	D4_OPND_JB, /* backward jump offset, < 0 */
};

struct d4_opinfo {
	const char *name;
	uint8_t format;	 /* enum d4_format */
	uint8_t a, b, c; /* enum d4_operand */
};

extern const struct d4_opinfo d4_opinfo[D4_OP_COUNT];

#define D4_MAXARG_A   255
#define D4_MAXARG_BX  65535
#define D4_MAXARG_SBX 32767

static inline uint32_t d4_op(uint32_t i)
{
	return i & 0xff;
}

static inline uint32_t d4_arg_a(uint32_t i)
{
	return (i >> 8) & 0xff;
}

static inline uint32_t d4_arg_b(uint32_t i)
{
	return (i >> 16) & 0xff;
}

static inline uint32_t d4_arg_c(uint32_t i)
{
	return i >> 24;
}

static inline uint32_t d4_arg_bx(uint32_t i)
{
	return i >> 16;
}

static inline int32_t d4_arg_sbx(uint32_t i)
{
	return (int32_t)(int16_t)(uint16_t)(i >> 16);
}

static inline uint32_t d4_mk_abc(enum d4_opcode op, uint32_t a, uint32_t b,
				 uint32_t c)
{
	return (uint32_t)op | a << 8 | b << 16 | c << 24;
}

static inline uint32_t d4_mk_abx(enum d4_opcode op, uint32_t a, uint32_t bx)
{
	return (uint32_t)op | a << 8 | bx << 16;
}

static inline uint32_t d4_mk_asbx(enum d4_opcode op, uint32_t a, int32_t sbx)
{
	return (uint32_t)op | a << 8 | (uint32_t)(uint16_t)sbx << 16;
}

#endif
