/* Unit tests for common/mem.h's library holding and common/dlib.h's
 * loading: a library asked for before the node holds its libraries is
 * held with them; one asked for after is held at once; dlib fills a
 * table of functions that work, and says why when it cannot. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/dlib.h"
#include "common/mem.h"

#if defined(__SANITIZE_ADDRESS__)
#define ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ASAN 1
#endif
#endif
#ifndef ASAN
#define ASAN 0
#endif

/* kB locked in the mappings of files whose name contains @what. */
static long locked_kb(const char *what)
{
	char line[512];
	bool in = false;
	long kb = 0, v;
	FILE *f = fopen("/proc/self/smaps", "re");

	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		if (strchr(line, '-') && strchr(line, ':') && line[0] != ' ' &&
		    (line[0] < 'A' || line[0] > 'Z')) {
			in = strstr(line, what) != NULL;
			continue;
		}
		if (in && sscanf(line, "Locked: %ld kB", &v) == 1)
			kb += v;
	}
	fclose(f);
	return kb;
}

static void test_mem_holds_a_library_asked_for_before_and_after(void **state)
{
	static const char *const start[] = {"libc.so", NULL};
	/* What the kernel locked is read from /proc/self/smaps, except
	 * where that cannot tell: qemu-user's reads Locked: 0 for every
	 * guest mapping (scripts/cross runs these tests under it), and
	 * AddressSanitizer's mlock() locks nothing and says 0. There only
	 * what the calls say is checked. */
	bool smaps = !getenv("D4_QEMU_USER") && !ASAN;
	long held;

	(void)state;
	/* not holding yet: noted, nothing locked */
	assert_int_equal(mem_hold_library("libcmocka"), 0);
	if (smaps)
		assert_int_equal(locked_kb("libcmocka"), 0);
	held = mem_hold_libraries(start);
	if (held < 0)
		skip(); /* not allowed to lock here (no CAP_IPC_LOCK) */
	assert_true(held > 0);
	/* and one asked for now is held at once */
	if (smaps)
		assert_int_equal(locked_kb("/ld-linux"), 0);
	assert_true(mem_hold_library("ld-linux") > 0);
	if (!smaps)
		return;
	assert_true(locked_kb("libc.so") > 0);
	/* the one noted before is held with them */
	assert_true(locked_kb("libcmocka") > 0);
	assert_true(locked_kb("/ld-linux") > 0);
}

struct math {
	double (*cos)(double);
	double (*sqrt)(double);
};

static void test_dlib_fills_a_table_or_says_why(void **state)
{
	static const struct dlib_sym syms[] = {
	    DLIB_SYM(struct math, "", cos),
	    DLIB_SYM(struct math, "", sqrt),
	};
	static const struct dlib_sym missing[] = {
	    DLIB_SYM(struct math, "", cos),
	    {"d4_no_such_function", offsetof(struct math, sqrt)},
	};
	struct math m = {0};
	char err[256];

	(void)state;
	assert_non_null(dlib_load("libm.so.6", syms, 2, &m, err, sizeof(err)));
	assert_true(m.cos(0.0) == 1.0);
	assert_true(m.sqrt(16.0) == 4.0);
	assert_null(
	    dlib_load("libd4-no-such.so.9", syms, 2, &m, err, sizeof(err)));
	assert_non_null(strstr(err, "cannot load libd4-no-such.so.9"));
	assert_null(dlib_load("libm.so.6", missing, 2, &m, err, sizeof(err)));
	assert_string_equal(err, "libm.so.6 has no d4_no_such_function");
}

static void test_dlib_get_loads_once_and_tells_why_again(void **state)
{
	static const struct dlib_sym syms[] = {
	    DLIB_SYM(struct math, "", cos),
	    DLIB_SYM(struct math, "", sqrt),
	};
	static struct math m, none;
	static struct dlib ok = DLIB_INIT("libm.so.6", "libc6", syms, &m);
	static struct dlib gone =
	    DLIB_INIT("libd4-no-such.so.9", "d4-no-such", syms, &none);
	const struct math *t;
	char err[300], again[300];

	(void)state;
	t = dlib_get(&ok, err, sizeof(err));
	assert_ptr_equal(t, &m);
	assert_true(t->sqrt(9.0) == 3.0);
	assert_ptr_equal(dlib_get(&ok, err, sizeof(err)), &m);
	assert_null(dlib_get(&gone, err, sizeof(err)));
	assert_non_null(strstr(err, "cannot load libd4-no-such.so.9"));
	assert_non_null(strstr(err, "(Debian package d4-no-such)"));
	assert_null(dlib_get(&gone, again, sizeof(again)));
	assert_string_equal(again, err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(
		test_mem_holds_a_library_asked_for_before_and_after),
	    cmocka_unit_test(test_dlib_fills_a_table_or_says_why),
	    cmocka_unit_test(test_dlib_get_loads_once_and_tells_why_again),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
