/* sd_notify(3) by hand: see notify.h. */
#include "node/notify.h"

#include "common/log.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void notify_open(struct notify *n)
{
	const char *path = getenv("NOTIFY_SOCKET");
	const char *usec = getenv("WATCHDOG_USEC");
	const char *pid = getenv("WATCHDOG_PID");
	size_t len;
	char *end;

	memset(n, 0, sizeof(*n));
	n->fd = -1;
	if (!path || !*path)
		return;
	len = strlen(path);
	/* "/run/systemd/notify", or "@name" in the abstract namespace
	 * (systemd's other forms, vsock:..., are not for a local daemon). */
	if ((path[0] != '/' && path[0] != '@') ||
	    len >= sizeof(n->addr.sun_path)) {
		log_warn("systemd: NOTIFY_SOCKET '%s' is not a socket path; "
			 "not notifying",
			 path);
		return;
	}
	n->addr.sun_family = AF_UNIX;
	memcpy(n->addr.sun_path, path, len);
	if (path[0] == '@') {
		n->addr.sun_path[0] = '\0';
		n->addrlen =
		    (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
	} else {
		n->addrlen =
		    (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len +
				1);
	}
	n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (n->fd < 0) {
		log_warn("systemd: notify socket: %m; not notifying");
		return;
	}
	if (usec && *usec) {
		unsigned long long us;

		errno = 0;
		us = strtoull(usec, &end, 10);
		if (errno || *end || us == 0 || us > UINT64_MAX / 1000)
			log_warn("systemd: WATCHDOG_USEC '%s' is not a time; "
				 "no watchdog",
				 usec);
		else if (pid && *pid && strtol(pid, NULL, 10) != (long)getpid())
			; /* another process's watchdog (a wrapper's) */
		else
			n->watchdog_ns = us * 1000;
	}
}

int notify_send(struct notify *n, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	int len;

	if (n->fd < 0)
		return 0;
	va_start(ap, fmt);
	len = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (len < 0)
		return -EINVAL;
	if ((size_t)len >= sizeof(msg))
		len = sizeof(msg) - 1; /* a long STATUS= is cut, not lost */
	if (sendto(n->fd, msg, (size_t)len, MSG_NOSIGNAL | MSG_DONTWAIT,
		   (const struct sockaddr *)&n->addr, n->addrlen) < 0)
		return -errno;
	return 0;
}

bool notify_watchdog_enabled(const struct notify *n)
{
	return n->fd >= 0 && n->watchdog_ns > 0;
}

void notify_watchdog(struct notify *n, uint64_t now_ns, bool healthy)
{
	int rc;

	if (!notify_watchdog_enabled(n))
		return;
	if (!healthy) {
		uint64_t since = now_ns - n->last_ping_ns;

		if (!n->stalled)
			log_err("systemd: the audio threads made no progress "
				"since the last tick; no WATCHDOG=1 until they "
				"do (systemd restarts the node in %.1f s)",
				since < n->watchdog_ns
				    ? (double)(n->watchdog_ns - since) / 1e9
				    : 0.0);
		n->stalled = true;
		return;
	}
	if (n->stalled)
		log_info("systemd: the audio threads move again");
	n->stalled = false;
	if (n->last_ping_ns && now_ns - n->last_ping_ns < n->watchdog_ns / 2)
		return;
	rc = notify_send(n, "WATCHDOG=1");
	if (rc < 0)
		log_warn("systemd: WATCHDOG=1: %s", strerror(-rc));
	n->last_ping_ns = now_ns;
}

void notify_close(struct notify *n)
{
	if (n->fd >= 0)
		close(n->fd);
	n->fd = -1;
}
