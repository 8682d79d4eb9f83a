/* systemd's service notification protocol (sd_notify(3)) without
 * libsystemd: datagrams on the AF_UNIX socket named by $NOTIFY_SOCKET.
 *
 * Under a unit with Type=notify, the node says READY=1 once its media
 * thread runs, STATUS=... as it goes and STOPPING=1 on the way out; with
 * WatchdogSec= it sends WATCHDOG=1 from the control thread's 100 ms tick,
 * but only while the threads that carry audio make progress, so a stalled
 * media thread gets the node restarted. Outside systemd (no $NOTIFY_SOCKET)
 * every call does nothing. Control thread only. */
#ifndef D4_NODE_NOTIFY_H
#define D4_NODE_NOTIFY_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>

struct notify {
	int fd; /* -1: no $NOTIFY_SOCKET (or an unusable one) */
	struct sockaddr_un addr;
	socklen_t addrlen;
	uint64_t watchdog_ns;  /* $WATCHDOG_USEC for this process; 0: none */
	uint64_t last_ping_ns; /* CLOCK_MONOTONIC of the last WATCHDOG=1 */
	bool stalled;	       /* the last notify_watchdog() was unhealthy */
};

/* Read $NOTIFY_SOCKET ("/path" or "@abstract"), $WATCHDOG_USEC and
 * $WATCHDOG_PID (the watchdog is this process's only when the PID is
 * unset or ours) and open the socket. Always leaves @n usable. */
void notify_open(struct notify *n);
/* Send one message, e.g. "READY=1\nSTATUS=running": 0 or -errno; 0 and
 * nothing sent outside systemd. */
int notify_send(struct notify *n, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Whether systemd expects WATCHDOG=1 from this process. */
bool notify_watchdog_enabled(const struct notify *n);
/* Call on every control tick with CLOCK_MONOTONIC @now_ns. While @healthy
 * it sends WATCHDOG=1 every half watchdog period; while not it sends
 * nothing (logged once per stall), so systemd restarts a node whose audio
 * threads stopped. */
void notify_watchdog(struct notify *n, uint64_t now_ns, bool healthy);
void notify_close(struct notify *n);

#endif
