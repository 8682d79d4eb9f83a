/* Optional supervision of ptp4l: the node starts it with a given config,
 * restarts it (with back-off) when it exits, and stops it on exit. */
#ifndef D4_PTP_SUPERVISE_H
#define D4_PTP_SUPERVISE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct ptp4l_proc;

/* Nothing runs until the first ptp4l_proc_tick(). */
struct ptp4l_proc *ptp4l_proc_new(const char *binary, const char *config,
				  const char *ifname, const char *uds);
void ptp4l_proc_destroy(struct ptp4l_proc *p); /* stops ptp4l */

/* Reap an exited ptp4l and (re)start it when due. Logs what it does. */
void ptp4l_proc_tick(struct ptp4l_proc *p, uint64_t mono_ns);
pid_t ptp4l_proc_pid(const struct ptp4l_proc *p);
unsigned int ptp4l_proc_restarts(const struct ptp4l_proc *p);

#endif
