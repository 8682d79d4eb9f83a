/* Unit tests under qemu-user (scripts/cross: the cross files' exe_wrapper
 * runs them with D4_QEMU_USER=1 in their environment).
 *
 * qemu-user 7.2 (Debian 12) does not translate
 * setsockopt(SOL_SOCKET, SO_TIMESTAMPNS): it answers ENOPROTOOPT, so
 * net_rx_socket(), which asks every receive socket for kernel receive
 * timestamps, cannot make one there: sub_open() and sap_listener_new()
 * fail. A test calls qemu_skip_if_no_timestampns() where such an open has
 * just failed, before failing itself: it skips the test only when the
 * wrapper says this is qemu-user, the kernel interface really refuses the
 * option with ENOPROTOOPT, and the open's message (when there is one) is
 * that error. Anywhere else it returns and the test fails as before.
 * Include after <cmocka.h>. */
#ifndef D4_TESTS_QEMU_USER_H
#define D4_TESTS_QEMU_USER_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static inline int qemu_user_lacks_timestampns(void)
{
	int fd, on = 1, lacks;

	if (!getenv("D4_QEMU_USER"))
		return 0;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	lacks =
	    setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof(on)) < 0 &&
	    errno == ENOPROTOOPT;
	close(fd);
	return lacks;
}

/* @err: the failed open's message, or NULL when it gives none. */
#define qemu_skip_if_no_timestampns(err)                                       \
	do {                                                                   \
		const char *qemu_err_ = (err);                                 \
		if (qemu_user_lacks_timestampns() &&                           \
		    (!qemu_err_ ||                                             \
		     strstr(qemu_err_, strerror(ENOPROTOOPT)))) {              \
			printf("# SKIP qemu-user lacks "                       \
			       "setsockopt(SO_TIMESTAMPNS): no receive "       \
			       "socket can be made\n");                        \
			fflush(stdout);                                        \
			skip();                                                \
		}                                                              \
	} while (0)

#endif
