/* common/log.c: user text in a message cannot break a log line or drive
 * a terminal; readable text stays as it is. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void escapes(const char *in, const char *want)
{
	char out[256];

	log_escape(out, sizeof(out), in);
	assert_string_equal(out, want);
}

static void test_log_escape_controls_and_bad_utf8(void **state)
{
	(void)state;
	escapes("plain name-1.wav", "plain name-1.wav");
	/* a forged second line, a terminal colour, a bell, DEL */
	escapes("a\nd4node[1.0] error: forged", "a\\x0ad4node[1.0] error: forged");
	escapes("\x1b[31mred\a\x7f", "\\x1b[31mred\\x07\\x7f");
	escapes("cr\rtab\t", "cr\\x0dtab\\x09");
	/* UTF-8 names stay readable */
	escapes("B\xc3\xbchne \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x8e\xb5",
		"B\xc3\xbchne \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x8e\xb5");
	/* C1 controls raw (8-bit CSI) and encoded in UTF-8, a lone
	 * continuation byte, an overlong '/', a cut sequence, a surrogate */
	escapes("\x9b" "2J", "\\x9b2J");
	escapes("\xc2\x9b" "2J", "\\xc2\\x9b2J");
	escapes("\x80x", "\\x80x");
	escapes("\xc0\xaf", "\\xc0\\xaf");
	escapes("end\xe6\x97", "end\\xe6\\x97");
	escapes("\xed\xa0\x80", "\\xed\\xa0\\x80");
	/* U+2028 line separator, U+202E right-to-left override, U+2066 */
	escapes("a\xe2\x80\xa8" "b", "a\\xe2\\x80\\xa8b");
	escapes("\xe2\x80\xae" "txt", "\\xe2\\x80\\xaetxt");
	escapes("\xe2\x81\xa6", "\\xe2\\x81\\xa6");
	/* but U+2019 (a right quote) is text */
	escapes("it\xe2\x80\x99s", "it\xe2\x80\x99s");
}

static void test_log_escape_cuts_at_a_whole_character(void **state)
{
	char out[8];

	(void)state;
	/* "ab\x01" needs 2 + 4 bytes; a 7-byte buffer holds 6 + NUL */
	assert_int_equal(log_escape(out, sizeof(out), "ab\x01zz"), 7);
	assert_string_equal(out, "ab\\x01z");
	assert_int_equal(log_escape(out, 5, "abc\x01"), 3);
	assert_string_equal(out, "abc");
	/* a 3-byte character that does not fit is left out whole */
	assert_int_equal(log_escape(out, 6, "abc\xe6\x97\xa5"), 3);
	assert_string_equal(out, "abc");
}

/* The real thing: log_msg writes one line whatever a name holds. */
static void test_log_msg_writes_one_line(void **state)
{
	char path[] = "/tmp/d4-test-log-XXXXXX", buf[2048];
	int fd = mkstemp(path), saved = dup(STDERR_FILENO);
	ssize_t n;
	size_t i, lines = 0;

	(void)state;
	assert_true(fd >= 0 && saved >= 0);
	fflush(stderr);
	assert_int_equal(dup2(fd, STDERR_FILENO), STDERR_FILENO);
	log_info("subscription '%s': created", "x\ny: error: forged\x1b]0;t\a");
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	close(fd);
	unlink(path);
	assert_true(n > 0);
	buf[n] = '\0';
	for (i = 0; i < (size_t)n; i++) {
		lines += buf[i] == '\n';
		assert_false(buf[i] == 0x1b || buf[i] == '\a');
	}
	assert_int_equal(lines, 1);
	assert_non_null(strstr(buf, "'x\\x0ay: error: forged\\x1b]0;t\\x07': created\n"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_log_escape_controls_and_bad_utf8),
	    cmocka_unit_test(test_log_escape_cuts_at_a_whole_character),
	    cmocka_unit_test(test_log_msg_writes_one_line),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
