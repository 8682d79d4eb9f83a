/* A ptp4l management client on ptp4l's UNIX socket (what `pmc -u` does),
 * without shelling out: every poll sends one GET per dataset we need and
 * collects the answers into a sample. Non-blocking; the control loop owns
 * it. */
#ifndef D4_PTP_PMC_H
#define D4_PTP_PMC_H

#include <stdbool.h>
#include <stdint.h>

#include "ptp/mgmt.h"

/* ptp4l's socket up to linuxptp 4.x, and the newer directory. */
#define PMC_DEFAULT_UDS	  "/var/run/ptp4l"
#define PMC_DEFAULT_UDS_2 "/var/run/ptp/ptp4l"

/* Everything one poll learned. */
struct ptp_sample {
	bool reachable;	  /* ptp4l answered this poll */
	bool complete;	  /* every dataset came back */
	uint64_t mono_ns; /* CLOCK_MONOTONIC when the poll was sent */
	struct mgmt_time_status ts;
	struct mgmt_parent parent;
	struct mgmt_port port;
	struct mgmt_time_props props;
	struct mgmt_current current;
};

struct pmc;

/* @uds: ptp4l's socket, or NULL to try PMC_DEFAULT_UDS then _2. */
struct pmc *pmc_new(const char *uds, uint8_t domain);
void pmc_destroy(struct pmc *c);
int pmc_fd(const struct pmc *c);
const char *pmc_target(const struct pmc *c);

/* Send a new round of GETs (the previous round's answers are final).
 * 0 or -errno (ptp4l not there: -ENOENT/-ECONNREFUSED). */
int pmc_poll_send(struct pmc *c, uint64_t mono_ns);

/* Read every waiting reply into the current round. Returns the number of
 * replies taken; a malformed one is counted and described in @err (the
 * latest), never trusted. */
int pmc_receive(struct pmc *c, char *err, size_t err_len);

/* The round in progress (complete once all datasets arrived). */
const struct ptp_sample *pmc_sample(const struct pmc *c);
uint64_t pmc_rejected(const struct pmc *c);

#endif
