/* The opcode property table, and the two readers of bytecode besides the
 * VM: the validator (a second look at what the compiler made, before any
 * packet runs it) and the disassembler behind d4c --dump. */
#include "d4/internal.h"
#include "d4/opcodes.h"

#include <errno.h>
#include <stdio.h>

const struct d4_opinfo d4_opinfo[D4_OP_COUNT] = {
#define D4_OP_INFO(name, fmt, a, b, c)                                         \
	[D4_OP_##name] = {#name, D4_FMT_##fmt, D4_OPND_##a, D4_OPND_##b,       \
			  D4_OPND_##c},
    D4_OPCODES(D4_OP_INFO)
#undef D4_OP_INFO
};

static bool operand_ok(const struct d4_code *code, uint32_t pc,
		       enum d4_operand kind, uint32_t v, int32_t sv)
{
	switch (kind) {
	case D4_OPND__:
		return v == 0;
	case D4_OPND_W:
	case D4_OPND_R:
		return v < code->nregs;
	case D4_OPND_I:
		return true;
	case D4_OPND_K:
		return v < code->nk;
	case D4_OPND_VS:
		return v < code->nvars && !code->vars[v].list;
	case D4_OPND_VL:
		return v < code->nvars && code->vars[v].list;
	case D4_OPND_N:
		return v >= 1 && v <= D4_MAX_SLICE;
	case D4_OPND_J:
		return sv >= 0 && pc + 1 + (uint32_t)sv < code->ninsn;
	case D4_OPND_JB:
		return sv < 0 && (int64_t)pc + 1 + sv >= 0;
	}
	return false;
}

int d4_code_validate(const struct d4_code *code, uint32_t nslots,
		     uint32_t *bad_pc)
{
	uint32_t pc, i, op, end;
	const struct d4_opinfo *info;

	*bad_pc = 0;
	if (!code->ninsn || code->ninsn > D4_MAX_CODE ||
	    code->nregs > D4_MAX_REGS || code->nstate > code->nregs ||
	    code->nvars > D4_MAX_VARS || code->min_slots > nslots)
		return -EINVAL;
	for (i = 0; i < code->nvars; i++) {
		const struct d4_varref *r = &code->vars[i];

		end = r->slot + (r->list ? 1 + r->cap : 1);
		if (r->cap > D4_MAX_LIST || end > nslots || end < r->slot)
			return -EINVAL;
	}
	op = d4_op(code->insn[code->ninsn - 1]);
	if (op != D4_OP_END && op != D4_OP_DROP) {
		*bad_pc = code->ninsn - 1;
		return -EINVAL;
	}
	for (pc = 0; pc < code->ninsn; pc++) {
		uint32_t in = code->insn[pc];

		*bad_pc = pc;
		op = d4_op(in);
		if (op >= D4_OP_COUNT)
			return -EINVAL;
		info = &d4_opinfo[op];
		if (!operand_ok(code, pc, info->a, d4_arg_a(in), 0))
			return -EINVAL;
		if (info->format == D4_FMT_ABC) {
			if (!operand_ok(code, pc, info->b, d4_arg_b(in), 0) ||
			    !operand_ok(code, pc, info->c, d4_arg_c(in), 0))
				return -EINVAL;
		} else if (!operand_ok(code, pc, info->b, d4_arg_bx(in),
				       d4_arg_sbx(in))) {
			return -EINVAL;
		}
	}
	return 0;
}

static void dump_operand(const struct d4_code *code, uint32_t pc,
			 enum d4_operand kind, uint32_t v, int32_t sv,
			 FILE *out, bool *first)
{
	if (kind == D4_OPND__)
		return;
	fputs(*first ? " " : ", ", out);
	*first = false;
	switch (kind) {
	case D4_OPND_W:
	case D4_OPND_R:
		fprintf(out, "r%u", v);
		break;
	case D4_OPND_I:
		fprintf(out, "%d", sv);
		break;
	case D4_OPND_K:
		fprintf(out, "k%u", v);
		if (v < code->nk)
			fprintf(out, "(%lld)", (long long)code->k[v]);
		break;
	case D4_OPND_VS:
	case D4_OPND_VL:
		fprintf(out, "v%u", v);
		break;
	case D4_OPND_N:
		fprintf(out, "%u", v);
		break;
	case D4_OPND_J:
	case D4_OPND_JB:
		fprintf(out, "->%d", (int)pc + 1 + sv);
		break;
	default:
		break;
	}
}

void d4_code_dump(const struct d4_code *code, FILE *out)
{
	uint32_t pc, i;

	fprintf(out,
		"; %u instructions, %u registers (%u state), %u constants, "
		"worst case %llu per packet\n",
		code->ninsn, code->nregs, code->nstate, code->nk,
		(unsigned long long)code->wcet);
	for (i = 0; i < code->nstate; i++)
		fprintf(out, "; r%u starts at %lld\n", i,
			(long long)code->state_init[i]);
	for (pc = 0; pc < code->ninsn; pc++) {
		uint32_t in = code->insn[pc], op = d4_op(in);
		const struct d4_opinfo *info;
		bool first = true;

		if (op >= D4_OP_COUNT) {
			fprintf(out, "%5u  ??? %08x\n", pc, in);
			continue;
		}
		info = &d4_opinfo[op];
		fprintf(out, "%5u  %-8s", pc, info->name);
		dump_operand(code, pc, info->a, d4_arg_a(in), 0, out, &first);
		if (info->format == D4_FMT_ABC) {
			dump_operand(code, pc, info->b, d4_arg_b(in), 0, out,
				     &first);
			dump_operand(code, pc, info->c, d4_arg_c(in), 0, out,
				     &first);
		} else {
			dump_operand(code, pc, info->b, d4_arg_bx(in),
				     d4_arg_sbx(in), out, &first);
		}
		fprintf(out, "\t; %d:%d\n", code->pos[pc].line,
			code->pos[pc].col);
	}
}
