/* UDS transport for ptp4l management. Our end is an abstract socket named
 * for the process, so nothing is left in the filesystem; ptp4l answers to
 * whatever address asked. */
#include "ptp/pmc.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static const uint16_t datasets[] = {
    MGMT_TIME_STATUS_NP,	   MGMT_PARENT_DATA_SET,  MGMT_PORT_DATA_SET,
    MGMT_TIME_PROPERTIES_DATA_SET, MGMT_CURRENT_DATA_SET,
};
#define NSETS (sizeof(datasets) / sizeof(datasets[0]))

struct pmc {
	int fd;
	uint8_t domain;
	char uds[108];
	bool auto_path;
	uint16_t seq;	  /* first sequence number of the round */
	unsigned int got; /* bitmask of datasets answered this round */
	struct ptp_sample sample;
	uint64_t rejected;
};

struct pmc *pmc_new(const char *uds, uint8_t domain)
{
	static unsigned int instance;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct pmc *c = calloc(1, sizeof(*c));
	socklen_t len;

	if (!c)
		return NULL;
	c->domain = domain;
	c->auto_path = !uds;
	snprintf(c->uds, sizeof(c->uds), "%s", uds ? uds : PMC_DEFAULT_UDS);
	c->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		goto out_free;
	/* Abstract address: sun_path[0] = 0. */
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 +
			  (size_t)snprintf(
			      sa.sun_path + 1, sizeof(sa.sun_path) - 1,
			      "d4node-pmc-%d-%u", (int)getpid(), instance++));
	if (bind(c->fd, (struct sockaddr *)&sa, len) < 0)
		goto out_close;
	return c;

out_close:
	close(c->fd);
out_free:
	free(c);
	return NULL;
}

void pmc_destroy(struct pmc *c)
{
	if (!c)
		return;
	close(c->fd);
	free(c);
}

int pmc_fd(const struct pmc *c)
{
	return c->fd;
}

const char *pmc_target(const struct pmc *c)
{
	return c->uds;
}

int pmc_poll_send(struct pmc *c, uint64_t mono_ns)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct stat st;
	uint8_t buf[MGMT_MSG_MAX];
	unsigned int i;

	if (c->auto_path) {
		/* Follow ptp4l if it moves between the two defaults. */
		const char *p =
		    stat(PMC_DEFAULT_UDS, &st) == 0	? PMC_DEFAULT_UDS
		    : stat(PMC_DEFAULT_UDS_2, &st) == 0 ? PMC_DEFAULT_UDS_2
							: PMC_DEFAULT_UDS;

		snprintf(c->uds, sizeof(c->uds), "%s", p);
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", c->uds);
	c->seq += NSETS;
	c->got = 0;
	memset(&c->sample, 0, sizeof(c->sample));
	c->sample.mono_ns = mono_ns;
	for (i = 0; i < NSETS; i++) {
		size_t n = mgmt_encode_get(buf, sizeof(buf), datasets[i],
					   c->domain, (uint16_t)(c->seq + i));

		if (sendto(c->fd, buf, n, 0, (struct sockaddr *)&sa,
			   sizeof(sa)) < 0)
			return -errno;
	}
	return 0;
}

int pmc_receive(struct pmc *c, char *err, size_t err_len)
{
	uint8_t buf[MGMT_MSG_MAX];
	int taken = 0;

	for (;;) {
		struct mgmt_reply r;
		ssize_t n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);
		unsigned int i;
		int rc;

		if (n < 0)
			return taken;
		rc = mgmt_decode(buf, (size_t)n, &r, err, err_len);
		if (rc == -ENOMSG)
			continue;
		if (rc < 0) {
			c->rejected++;
			continue;
		}
		/* Only answers to this round, by sequence and dataset. */
		i = (uint16_t)(r.seq - c->seq);
		if (i >= NSETS || datasets[i] != r.id) {
			continue;
		}
		taken++;
		c->sample.reachable = true;
		if (r.error)
			continue;
		c->got |= 1u << i;
		switch (r.id) {
		case MGMT_TIME_STATUS_NP:
			c->sample.ts = r.u.ts;
			break;
		case MGMT_PARENT_DATA_SET:
			c->sample.parent = r.u.parent;
			break;
		case MGMT_PORT_DATA_SET:
			c->sample.port = r.u.port;
			break;
		case MGMT_TIME_PROPERTIES_DATA_SET:
			c->sample.props = r.u.props;
			break;
		case MGMT_CURRENT_DATA_SET:
			c->sample.current = r.u.current;
			break;
		}
		c->sample.complete = c->got == (1u << NSETS) - 1;
	}
}

const struct ptp_sample *pmc_sample(const struct pmc *c)
{
	return &c->sample;
}

uint64_t pmc_rejected(const struct pmc *c)
{
	return c->rejected;
}
