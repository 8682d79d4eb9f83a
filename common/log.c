/* stderr logging with a monotonic time prefix, and a token-window rate limit
 * for messages caused by outside input (bad packets, bad requests). */
#include "common/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

static enum log_level max_level = LOG_LVL_INFO;
static const char *ident = "d4";

void log_set_level(enum log_level level)
{
	max_level = level;
}

void log_set_ident(const char *id)
{
	ident = id;
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
	char line[1024];
	va_list ap;
	uint64_t t;
	int n;

	if (level > max_level)
		return;
	t = mono_ns();
	n = snprintf(line, sizeof(line), "%s[%llu.%03llu] %s: ", ident,
		     (unsigned long long)(t / 1000000000u),
		     (unsigned long long)(t / 1000000u % 1000u), names[level]);
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
