/* Logging for d4: one line per event to stderr, with level and time (with
 * a syslog priority prefix instead when stderr is journald's: log.c).
 * The media thread never calls these; it posts events the control thread logs.
 */
#ifndef D4_COMMON_LOG_H
#define D4_COMMON_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum log_level {
	LOG_LVL_ERR,
	LOG_LVL_WARN,
	LOG_LVL_INFO,
	LOG_LVL_DEBUG,
};

/* Messages above @level are dropped; default LOG_LVL_INFO. */
void log_set_level(enum log_level level);
void log_set_ident(const char *ident);
/* Whether stderr is the stream systemd connected to journald
 * ($JOURNAL_STREAM names it). */
bool log_stderr_is_journal(void);
/* Lines with a syslog priority prefix ("<3>error: ...") for journald
 * (@on 1), the plain "ident[time] level: ..." (0), or as
 * log_stderr_is_journal() says (-1, what the first message does). */
void log_set_journal(int on);

/* Copy @src to @dst (@size bytes, NUL-terminated, cut at a whole
 * character) with control characters and invalid UTF-8 written as \xNN;
 * returns the length written. log_msg escapes every message so. */
size_t log_escape(char *dst, size_t size, const char *src);
void log_msg(enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define log_err(...)   log_msg(LOG_LVL_ERR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LVL_DEBUG, __VA_ARGS__)

/* A rate limit: at most @burst messages per @interval_ns; the rest are
 * counted and reported with the next message that passes. */
struct log_ratelimit {
	uint64_t interval_ns;
	unsigned int burst;
	uint64_t window_start_ns;
	unsigned int printed;
	unsigned int suppressed;
};

#define LOG_RATELIMIT_INIT(interval_ns_, burst_)                               \
	{                                                                      \
		.interval_ns = (interval_ns_), .burst = (burst_)               \
	}

/* True when a message may be printed now; *suppressed is set to how many
 * were held back since the last one that passed. */
bool log_ratelimit_ok(struct log_ratelimit *rl, unsigned int *suppressed);

#endif
