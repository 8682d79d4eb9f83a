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
 * the variable but not the stream, and gets the plain format. */
#include "common/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
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
	char line[1024];
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
	vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
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
