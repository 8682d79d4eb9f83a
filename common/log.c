/* stderr logging with a monotonic time prefix, and a token-window rate limit
 * for messages caused by outside input (bad packets, bad requests).
 *
 * Under systemd, stderr is a stream to journald: each line then starts with
 * its syslog priority, "<3>" for an error (sd-daemon(3)), which journald
 * reads and strips (SyslogLevelPrefix=, on by default), so `journalctl -p
 * err` filters; the time and ident are left out there, journald stamps
 * both. Whether stderr is the journal's is told by $JOURNAL_STREAM
 * ("DEVICE:INODE" of the stream systemd connected, systemd.exec(5)),
 * compared with stderr itself: a child whose stderr was redirected keeps
 * the variable but not the stream, and gets the plain format.
 *
 * A message carries user text (names, paths, SDP fields, D4 source, API
 * bodies), so the message is escaped before it is written: a control
 * character (C0, DEL, and C1 whether encoded in UTF-8 or raw; the
 * Unicode line separators and bidirectional controls) or a byte that is
 * not part of valid UTF-8 is written as \xNN. A log line is then
 * always one line, and no text can move a terminal's cursor, recolour it
 * or forge another line; names in other scripts stay readable. */
#include "common/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static enum log_level max_level = LOG_LVL_INFO;
static const char *ident = "d4";
static int journal = -1; /* -1: not looked at yet */

void log_set_level(enum log_level level)
{
	max_level = level;
}

void log_set_ident(const char *id)
{
	ident = id;
}

bool log_stderr_is_journal(void)
{
	const char *env = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	char end;

	if (!env || sscanf(env, "%llu:%llu%c", &dev, &ino, &end) != 2 ||
	    fstat(STDERR_FILENO, &st) < 0)
		return false;
	return (unsigned long long)st.st_dev == dev &&
	       (unsigned long long)st.st_ino == ino;
}

void log_set_journal(int on)
{
	journal = on < 0 ? (int)log_stderr_is_journal() : on;
}

/* Length of the valid UTF-8 sequence at @p (at most @left bytes), or 0.
 * C1 controls (U+0080..U+009F) count as invalid: they are escaped. */
static size_t utf8_len(const unsigned char *p, size_t left)
{
	size_t n, i;
	uint32_t cp;

	if (p[0] >= 0xC2 && p[0] <= 0xDF)
		n = 2, cp = p[0] & 0x1Fu;
	else if (p[0] >= 0xE0 && p[0] <= 0xEF)
		n = 3, cp = p[0] & 0x0Fu;
	else if (p[0] >= 0xF0 && p[0] <= 0xF4)
		n = 4, cp = p[0] & 0x07u;
	else
		return 0;
	if (n > left)
		return 0;
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xC0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3Fu);
	}
	/* overlong, surrogates, beyond Unicode, C1; and the characters that
	 * break a line or reorder one (U+2028/2029 line and paragraph
	 * separators, U+202A-202E and U+2066-2069 bidirectional controls) */
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF || cp < 0xA0 ||
	    (cp >= 0x2028 && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069))
		return 0;
	return n;
}

size_t log_escape(char *dst, size_t size, const char *src)
{
	const unsigned char *p = (const unsigned char *)src;
	const unsigned char *end = p + strlen(src);
	size_t o = 0, n;

	if (!size)
		return 0;
	while (*p) {
		if (*p >= 0x20 && *p < 0x7F) {
			n = 1;
		} else if (*p >= 0x80 && (n = utf8_len(p, (size_t)(end - p)))) {
			;
		} else {
			if (o + 4 >= size)
				break;
			snprintf(dst + o, size - o, "\\x%02x", *p);
			o += 4;
			p++;
			continue;
		}
		if (o + n >= size)
			break;
		memcpy(dst + o, p, n);
		o += n;
		p += n;
	}
	dst[o] = '\0';
	return o;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	static const char *const names[] = {"error", "warning", "info",
					    "debug"};
	/* syslog(3) priorities: LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG */
	static const int prio[] = {3, 4, 6, 7};
	char line[1024], msg[1024];
	va_list ap;
	int saved = errno; /* for %m, whatever the lines below do */
	uint64_t t;
	int n;

	if (level > max_level)
		return;
	if (journal < 0)
		log_set_journal(-1);
	if (journal) {
		n = snprintf(line, sizeof(line), "<%d>%s: ", prio[level],
			     names[level]);
	} else {
		t = mono_ns();
		n = snprintf(line, sizeof(line), "%s[%llu.%03llu] %s: ", ident,
			     (unsigned long long)(t / 1000000000u),
			     (unsigned long long)(t / 1000000u % 1000u),
			     names[level]);
	}
	errno = saved;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_escape(line + n, sizeof(line) - (size_t)n, msg);
	fprintf(stderr, "%s\n", line);
}

bool log_ratelimit_ok(struct log_ratelimit *rl, unsigned int *suppressed)
{
	uint64_t now = mono_ns();

	if (now - rl->window_start_ns >= rl->interval_ns) {
		rl->window_start_ns = now;
		rl->printed = 0;
	}
	if (rl->printed < rl->burst) {
		rl->printed++;
		*suppressed = rl->suppressed;
		rl->suppressed = 0;
		return true;
	}
	rl->suppressed++;
	return false;
}
