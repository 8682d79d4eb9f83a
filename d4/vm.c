/* The D4 interpreter: one run of one loop over one packet. The verifier has
 * proven the bounds; the checks here are the second line of defence: every
 * slice is checked against the packet once, list indices against the
 * snapshot, and the run has exactly the proven number of instructions as
 * fuel, and of datagrams to send. RT: no allocation, no locks, no system calls
 * but host sends. */
#include "d4/internal.h"
#include "d4/opcodes.h"
#include "d4/vm_dispatch.h"

#include <string.h>

#define unlikely(x) __builtin_expect(!!(x), 0)

const char *d4_trap_name(enum d4_trap t)
{
	switch (t) {
	case D4_TRAP_SLICE:
		return "slice outside the packet";
	case D4_TRAP_INDEX:
		return "index outside the list";
	case D4_TRAP_DIV:
		return "division by zero";
	case D4_TRAP_PORT:
		return "destination without a port";
	case D4_TRAP_FUEL:
		return "ran past its proven instruction count";
	case D4_TRAP_VARS:
		return "variables missing";
	case D4_TRAP_SENDS:
		return "sent past its proven datagram count";
	case D4_TRAP_NONE:
		break;
	}
	return "no error";
}

static uint64_t load_be(const uint8_t *p, uint32_t n)
{
	uint64_t v = 0;
	uint32_t i;

	for (i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

static void store_be(uint8_t *p, uint32_t n, uint64_t v)
{
	while (n--) {
		p[n] = (uint8_t)v;
		v >>= 8;
	}
}

/* Is [off, off + n) inside a packet of @len bytes, with 1 <= n <= 8? */
static bool slice_ok(int64_t off, int64_t n, size_t len)
{
	return off >= 0 && n >= 1 && n <= D4_MAX_SLICE &&
	       (uint64_t)off <= len && (uint64_t)n <= len - (uint64_t)off;
}

static int64_t next_random(uint64_t *s, int64_t bound)
{
	uint64_t x = *s;

	if (bound < 1)
		return 0;
	/* xorshift64*: fast, good enough for loss injection */
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return (int64_t)((x * 0x2545F4914F6CDD1DULL >> 1) % (uint64_t)bound);
}

/* What the host's send said: sent (0), over the budget (> 0), refused. */
static inline void count_send(struct d4_vm *vm, int ret)
{
	if (ret == 0)
		vm->sent++;
	else if (ret > 0)
		vm->budget_drops++;
	else
		vm->send_errors++;
}

#define vm_fetch()                                                             \
	do {                                                                   \
		if (unlikely(--fuel < 0))                                      \
			goto trap_fuel;                                        \
		i = insn[pc++];                                                \
	} while (0)

#define A  d4_arg_a(i)
#define B  d4_arg_b(i)
#define C  d4_arg_c(i)
#define RA R[d4_arg_a(i)]
#define RB R[d4_arg_b(i)]
#define RC R[d4_arg_c(i)]

#define TRAP(t)                                                                \
	do {                                                                   \
		vm->trap = (t);                                                \
		goto out_trap;                                                 \
	} while (0)

enum d4_vm_end d4_vm_run(struct d4_vm *vm)
{
	const struct d4_code *code = vm->code;
	const uint32_t *insn = code->insn;
	const struct d4_varref *V = code->vars;
	const uint64_t *S = vm->snap->slot;
	int64_t *R = vm->regs;
	int64_t fuel = (int64_t)code->wcet;
	uint64_t sends = code->max_sends;
	uint8_t *P = vm->pkt;
	size_t len = vm->len;
	enum d4_vm_end end = D4_VM_END;
	uint32_t pc = 0, i;
	int ret;

	vm_jump_table();
	vm->sent = 0;
	vm->send_errors = 0;
	vm->budget_drops = 0;
	vm->trap = D4_TRAP_NONE;
	if (unlikely(vm->snap->nslots < code->min_slots)) {
		vm->trap = D4_TRAP_VARS;
		vm->insns = 0;
		return D4_VM_TRAP;
	}
	memset(R + code->nstate, 0, (code->nregs - code->nstate) * sizeof(*R));
	for (;;) {
		vm_fetch();
		vm_dispatch(d4_op(i))
		{
			vm_case(MOV)
			{
				RA = RB;
				vm_break;
			}
			vm_case(LOADI)
			{
				RA = d4_arg_sbx(i);
				vm_break;
			}
			vm_case(LOADK)
			{
				RA = code->k[d4_arg_bx(i)];
				vm_break;
			}
			vm_case(GETV)
			{
				RA = (int64_t)S[V[B].slot];
				vm_break;
			}
			vm_case(LCOUNT)
			{
				RA = (int64_t)S[V[B].slot];
				vm_break;
			}
			vm_case(LGET)
			{
				const struct d4_varref *l = &V[C];
				uint64_t idx = (uint64_t)RB;

				if (unlikely(idx >= S[l->slot] ||
					     idx >= l->cap))
					TRAP(D4_TRAP_INDEX);
				RA = (int64_t)S[l->slot + 1 + idx];
				vm_break;
			}
			vm_case(ADD)
			{
				RA = d4_add(RB, RC);
				vm_break;
			}
			vm_case(SUB)
			{
				RA = d4_sub(RB, RC);
				vm_break;
			}
			vm_case(MUL)
			{
				RA = d4_mul(RB, RC);
				vm_break;
			}
			vm_case(DIV)
			{
				if (unlikely(RC == 0))
					TRAP(D4_TRAP_DIV);
				RA = d4_div(RB, RC);
				vm_break;
			}
			vm_case(MOD)
			{
				if (unlikely(RC == 0))
					TRAP(D4_TRAP_DIV);
				RA = d4_mod(RB, RC);
				vm_break;
			}
			vm_case(BAND)
			{
				RA = RB & RC;
				vm_break;
			}
			vm_case(BOR)
			{
				RA = RB | RC;
				vm_break;
			}
			vm_case(BXOR)
			{
				RA = RB ^ RC;
				vm_break;
			}
			vm_case(SHL)
			{
				RA = d4_shl(RB, RC);
				vm_break;
			}
			vm_case(SHR)
			{
				RA = d4_shr(RB, RC);
				vm_break;
			}
			vm_case(NEG)
			{
				RA = d4_sub(0, RB);
				vm_break;
			}
			vm_case(BNOT)
			{
				RA = ~RB;
				vm_break;
			}
			vm_case(LNOT)
			{
				RA = RB == 0;
				vm_break;
			}
			vm_case(EQ)
			{
				RA = RB == RC;
				vm_break;
			}
			vm_case(NE)
			{
				RA = RB != RC;
				vm_break;
			}
			vm_case(LT)
			{
				RA = RB < RC;
				vm_break;
			}
			vm_case(LE)
			{
				RA = RB <= RC;
				vm_break;
			}
			vm_case(JMP)
			{
				pc += (uint32_t)d4_arg_sbx(i);
				vm_break;
			}
			vm_case(JZ)
			{
				if (RA == 0)
					pc += (uint32_t)d4_arg_sbx(i);
				vm_break;
			}
			vm_case(JNZ)
			{
				if (RA != 0)
					pc += (uint32_t)d4_arg_sbx(i);
				vm_break;
			}
			vm_case(FORLOOP)
			{
				RA = d4_sub(RA, 1);
				if (RA > 0)
					pc = (uint32_t)((int32_t)pc +
							d4_arg_sbx(i));
				vm_break;
			}
			vm_case(LEN)
			{
				RA = (int64_t)len;
				vm_break;
			}
			vm_case(SRC)
			{
				RA = (int64_t)vm->src;
				vm_break;
			}
			vm_case(LDP)
			{
				if (unlikely(!slice_ok(RB, C, len)))
					TRAP(D4_TRAP_SLICE);
				RA = (int64_t)load_be(P + RB, C);
				vm_break;
			}
			vm_case(LDPV)
			{
				int64_t off = RB;

				if (unlikely(
					!slice_ok(off, d4_sub(RC, off), len)))
					TRAP(D4_TRAP_SLICE);
				RA = (int64_t)load_be(P + off,
						      (uint32_t)(RC - off));
				vm_break;
			}
			vm_case(STP)
			{
				if (unlikely(!slice_ok(RB, C, len)))
					TRAP(D4_TRAP_SLICE);
				store_be(P + RB, C, (uint64_t)RA);
				vm_break;
			}
			vm_case(STPV)
			{
				int64_t off = RB;

				if (unlikely(
					!slice_ok(off, d4_sub(RC, off), len)))
					TRAP(D4_TRAP_SLICE);
				store_be(P + off, (uint32_t)(RC - off),
					 (uint64_t)RA);
				vm_break;
			}
			vm_case(RAND)
			{
				RA = next_random(vm->rng, RB);
				vm_break;
			}
			vm_case(SEQDIFF)
			{
				RA = d4_seqdiff(RB, RC);
				vm_break;
			}
			vm_case(EPADDR)
			{
				RA = (int64_t)(((uint64_t)RB >> 16) &
					       0xffffffffu);
				vm_break;
			}
			vm_case(EPPORT)
			{
				RA = RB & 0xffff;
				vm_break;
			}
			vm_case(SEND)
			{
				if (unlikely((RA & 0xffff) == 0))
					TRAP(D4_TRAP_PORT);
				if (unlikely(!sends--))
					TRAP(D4_TRAP_SENDS);
				ret = vm->send(vm->send_ctx, P, len,
					       (uint64_t)RA);
				count_send(vm, ret);
				vm_break;
			}
			vm_case(SENDP)
			{
				if (unlikely(RB < 1 || RB > 65535))
					TRAP(D4_TRAP_PORT);
				if (unlikely(!sends--))
					TRAP(D4_TRAP_SENDS);
				ret = vm->send(vm->send_ctx, P, len,
					       ((uint64_t)RA & ~0xffffULL) |
						   (uint64_t)RB);
				count_send(vm, ret);
				vm_break;
			}
			vm_case(DROP)
			{
				end = D4_VM_DROP;
				goto out;
			}
			vm_case(END)
			{
				goto out;
			}
			vm_default
			{
				/* the validator lets no other opcode through */
				TRAP(D4_TRAP_FUEL);
			}
		}
	}
trap_fuel:
	vm->trap = D4_TRAP_FUEL;
	pc++;
out_trap:
	vm->trap_pc = pc - 1;
	end = D4_VM_TRAP;
out:
	vm->insns = (uint64_t)((int64_t)code->wcet - fuel);
	return end;
}
