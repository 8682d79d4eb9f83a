/* How the VM's loop dispatches, after Lua's ljumptab.h: with
 * D4_VM_COMPUTED_GOTO set, a table of label addresses (GCC and Clang's
 * labels as values) and one indirect jump at the end of every instruction;
 * without, a plain switch. vm.c writes its loop through these macros only,
 * so the choice is a build flag, not an edit. */
#ifndef D4_D4_VM_DISPATCH_H
#define D4_D4_VM_DISPATCH_H

#include "d4/opcodes.h"

#ifndef D4_VM_COMPUTED_GOTO
#define D4_VM_COMPUTED_GOTO 0
#endif

#if D4_VM_COMPUTED_GOTO

#define VM_LABEL_ADDR(name, fmt, a, b, c) &&L_##name,
#define vm_jump_table()                                                        \
	static const void *const vm_labels[D4_OP_COUNT] = {                    \
	    D4_OPCODES(VM_LABEL_ADDR)}
#define vm_dispatch(op) goto *vm_labels[op];
#define vm_case(name)	L_##name:
#define vm_break                                                               \
	do {                                                                   \
		vm_fetch();                                                    \
		vm_dispatch(d4_op(i));                                         \
	} while (0)
#define vm_default

#else

#define vm_jump_table() (void)0
#define vm_dispatch(op) switch (op)
#define vm_case(name)	case D4_OP_##name:
#define vm_break	break
#define vm_default	default:

#endif

#endif
