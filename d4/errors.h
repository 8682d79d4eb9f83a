/* Every message the D4 front end can give, in one place. Call sites use the
 * macros (string literals, so the compiler checks their arguments); the
 * table lets the test driver prove that a case covers each one and that
 * docs/d4.md lists each one. Errors read "LINE:COL: message". */
#ifndef D4_D4_ERRORS_H
#define D4_D4_ERRORS_H

/* lexer */
#define D4_ERR_CHAR	  "unexpected character '%s'"
#define D4_ERR_TEXT_LONG  "program text longer than %d bytes"
#define D4_ERR_NAME_LONG  "name '%s' longer than %d characters"
#define D4_ERR_NUMBER	  "malformed number '%s'"
#define D4_ERR_INT_RANGE  "integer '%s' out of range"
#define D4_ERR_BYTES_ODD  "byte literal '%s' has an odd number of hex digits"
#define D4_ERR_BYTES_LONG "byte literal '%s' longer than %d bytes"
#define D4_ERR_ADDR	  "malformed address '%s'"
/* parser */
#define D4_ERR_EXPECTED	 "unexpected %s, expected %s"
#define D4_ERR_UNCLOSED	 "unexpected %s, '%s' at %d:%d needs '%s'"
#define D4_ERR_NESTING	 "%s nested more than %d deep"
#define D4_ERR_ONE_LOOP	 "second loop '%s': d4_exec takes one loop at a time"
#define D4_ERR_NOT_CONST "'%s' needs a constant value"
#define D4_ERR_LIST_CAP	 "list capacity %lld out of range 1..%d"
/* verifier: names */
#define D4_ERR_UNDEFINED   "undefined name '%s'"
#define D4_ERR_REDECLARED  "'%s' is already declared"
#define D4_ERR_LOOP_EXISTS "loop '%s' already exists"
#define D4_ERR_UNKNOWN_FN  "unknown function '%s'"
#define D4_ERR_SHARED_SET  "cannot assign shared variable '%s' inside a loop"
#define D4_ERR_FORVAR_SET  "cannot assign '%s' inside the for that counts it"
#define D4_ERR_FORVAR_BUSY "'%s' already counts an enclosing for"
#define D4_ERR_STATE_PLACE "state '%s' only at the top level of a loop"
#define D4_ERR_STATE_LIST  "lists are shared: declare '%s' outside the loop"
/* verifier: types */
#define D4_ERR_TYPE_BINOP "operator '%s' cannot take %s and %s"
#define D4_ERR_TYPE_UNOP  "operator '%s' cannot take %s"
#define D4_ERR_TYPE_COND  "condition is %s, expected int"
#define D4_ERR_TYPE_SET	  "cannot assign %s to '%s' of type %s"
#define D4_ERR_TYPE_ARG	  "argument %d of %s() is %s, expected %s"
#define D4_ERR_NARGS	  "%s() takes %s, got %d"
#define D4_ERR_NOT_PKT	  "'%s' is %s, not a packet"
#define D4_ERR_NOT_LIST	  "'%s' is %s, not a list"
#define D4_ERR_COPY	  "%s '%s' cannot be copied"
#define D4_ERR_LIST_ELEM  "list entries are IP endpoints, got %s"
#define D4_ERR_LIST_FULL  "list '%s' holds at most %u entries"
#define D4_ERR_LIST_HERE  "a list literal only sets a shared list"
#define D4_ERR_NO_RECEIVER                                                     \
	"%s is no receiver, and loop '%s' sends to the endpoints of '%s' "     \
	"(%d:%d)"
#define D4_ERR_NO_PORT                                                         \
	"%s has no port, and loop '%s' sends to the endpoints of '%s' "        \
	"(%d:%d) without naming one"
#define D4_ERR_NOT_EXPR	  "%s() is a statement, not a value"
#define D4_ERR_INDEX_TYPE "index is %s, expected int"
#define D4_ERR_LIST_INDEX "index %lld outside list '%s' of capacity %u"
/* verifier: recv */
#define D4_ERR_RECV_NONE "loop '%s' never calls recv()"
#define D4_ERR_RECV_PLACE                                                      \
	"recv() only as 'NAME = recv()' at the top level of a loop"
#define D4_ERR_RECV_TWICE "second recv() in loop '%s'"
/* verifier: constants and slices */
#define D4_ERR_DIV_ZERO	   "division by zero"
#define D4_ERR_RANDOM	   "random() bound %lld is not positive"
#define D4_ERR_PORT	   "port %lld out of range 1..65535"
#define D4_ERR_SLICE_NEG   "slice start %lld is negative"
#define D4_ERR_SLICE_EMPTY "slice [%lld:%lld] is empty"
#define D4_ERR_SLICE_WIDE  "slice [%lld:%lld] is %lld bytes, limit is %d"
#define D4_ERR_SLICE_END   "slice end %lld beyond the largest packet (%d bytes)"
#define D4_ERR_BYTE_END    "byte %lld beyond the largest packet (%d bytes)"
#define D4_ERR_WIDTH_SET   "cannot store a %d-byte literal in a %d-byte slice"
#define D4_ERR_WIDTH_CMP   "comparing a %d-byte slice with a %d-byte literal"
#define D4_ERR_FIT	   "value %lld does not fit in a %d-byte slice"
/* verifier: limits */
#define D4_ERR_FOR_DEPTH "'for' nested more than %d deep"
#define D4_ERR_FOR_CONST "for %s is not a constant"
#define D4_ERR_FOR_TYPE	 "for %s is %s, expected int"
#define D4_ERR_FOR_STEP	 "for step is zero"
#define D4_ERR_FOR_TRIPS "for runs %llu times, limit is %d"
#define D4_ERR_WCET                                                            \
	"loop '%s' may run %llu instructions per packet, limit is %d"
#define D4_ERR_SENDS                                                           \
	"loop '%s' may send %llu datagrams per packet, %llu by this "          \
	"sendto; the limit is %u"
#define D4_ERR_REGS	  "loop '%s' needs more than %d registers"
#define D4_ERR_CODE	  "loop '%s' is longer than %d instructions"
#define D4_ERR_PROGS_FULL "no room for loop '%s' (limit %d loops)"
#define D4_ERR_VARS_FULL  "no room for variable '%s' (limit %d variables)"

#define D4_ERRORS(X)                                                           \
	X(D4_ERR_CHAR)                                                         \
	X(D4_ERR_TEXT_LONG)                                                    \
	X(D4_ERR_NAME_LONG)                                                    \
	X(D4_ERR_NUMBER)                                                       \
	X(D4_ERR_INT_RANGE)                                                    \
	X(D4_ERR_BYTES_ODD)                                                    \
	X(D4_ERR_BYTES_LONG)                                                   \
	X(D4_ERR_ADDR)                                                         \
	X(D4_ERR_EXPECTED)                                                     \
	X(D4_ERR_UNCLOSED)                                                     \
	X(D4_ERR_NESTING)                                                      \
	X(D4_ERR_ONE_LOOP)                                                     \
	X(D4_ERR_NOT_CONST)                                                    \
	X(D4_ERR_LIST_CAP)                                                     \
	X(D4_ERR_UNDEFINED)                                                    \
	X(D4_ERR_REDECLARED)                                                   \
	X(D4_ERR_LOOP_EXISTS)                                                  \
	X(D4_ERR_UNKNOWN_FN)                                                   \
	X(D4_ERR_SHARED_SET)                                                   \
	X(D4_ERR_FORVAR_SET)                                                   \
	X(D4_ERR_FORVAR_BUSY)                                                  \
	X(D4_ERR_STATE_PLACE)                                                  \
	X(D4_ERR_STATE_LIST)                                                   \
	X(D4_ERR_TYPE_BINOP)                                                   \
	X(D4_ERR_TYPE_UNOP)                                                    \
	X(D4_ERR_TYPE_COND)                                                    \
	X(D4_ERR_TYPE_SET)                                                     \
	X(D4_ERR_TYPE_ARG)                                                     \
	X(D4_ERR_NARGS)                                                        \
	X(D4_ERR_NOT_PKT)                                                      \
	X(D4_ERR_NOT_LIST)                                                     \
	X(D4_ERR_COPY)                                                         \
	X(D4_ERR_LIST_ELEM)                                                    \
	X(D4_ERR_LIST_FULL)                                                    \
	X(D4_ERR_LIST_HERE)                                                    \
	X(D4_ERR_NO_PORT)                                                      \
	X(D4_ERR_NO_RECEIVER)                                                  \
	X(D4_ERR_NOT_EXPR)                                                     \
	X(D4_ERR_INDEX_TYPE)                                                   \
	X(D4_ERR_LIST_INDEX)                                                   \
	X(D4_ERR_RECV_NONE)                                                    \
	X(D4_ERR_RECV_PLACE)                                                   \
	X(D4_ERR_RECV_TWICE)                                                   \
	X(D4_ERR_DIV_ZERO)                                                     \
	X(D4_ERR_RANDOM)                                                       \
	X(D4_ERR_PORT)                                                         \
	X(D4_ERR_SLICE_NEG)                                                    \
	X(D4_ERR_SLICE_EMPTY)                                                  \
	X(D4_ERR_SLICE_WIDE)                                                   \
	X(D4_ERR_SLICE_END)                                                    \
	X(D4_ERR_BYTE_END)                                                     \
	X(D4_ERR_WIDTH_SET)                                                    \
	X(D4_ERR_WIDTH_CMP)                                                    \
	X(D4_ERR_FIT)                                                          \
	X(D4_ERR_FOR_DEPTH)                                                    \
	X(D4_ERR_FOR_CONST)                                                    \
	X(D4_ERR_FOR_TYPE)                                                     \
	X(D4_ERR_FOR_STEP)                                                     \
	X(D4_ERR_FOR_TRIPS)                                                    \
	X(D4_ERR_WCET)                                                         \
	X(D4_ERR_SENDS)                                                        \
	X(D4_ERR_REGS)                                                         \
	X(D4_ERR_CODE)                                                         \
	X(D4_ERR_PROGS_FULL)                                                   \
	X(D4_ERR_VARS_FULL)

/* The message formats, for tests and tools; NULL-terminated. */
extern const char *const d4_error_formats[];

#endif
