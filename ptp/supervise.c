/* fork + exec of ptp4l. The child asks for SIGTERM when the node dies, so a
 * killed node does not leave a ptp4l behind. Between fork and exec it calls
 * only async-signal-safe functions (the node is multi-threaded). */
#include "ptp/supervise.h"
#include "common/log.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BACKOFF_MIN_NS (1000000000ull)
#define BACKOFF_MAX_NS (16000000000ull)

struct ptp4l_proc {
	char binary[256], config[4096], ifname[32], uds_opt[160];
	pid_t pid;
	uint64_t next_start_ns;
	uint64_t backoff_ns;
	uint64_t started_ns;
	unsigned int restarts;
	bool started_once;
};

struct ptp4l_proc *ptp4l_proc_new(const char *binary, const char *config,
				  const char *ifname, const char *uds)
{
	struct ptp4l_proc *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	snprintf(p->binary, sizeof(p->binary), "%s", binary);
	snprintf(p->config, sizeof(p->config), "%s", config);
	snprintf(p->ifname, sizeof(p->ifname), "%s", ifname);
	snprintf(p->uds_opt, sizeof(p->uds_opt), "--uds_address=%s", uds);
	p->pid = -1;
	p->backoff_ns = BACKOFF_MIN_NS;
	return p;
}

static void start(struct ptp4l_proc *p, uint64_t mono_ns)
{
	char *argv[] = {p->binary, "-f",       p->config, "-i",
			p->ifname, p->uds_opt, NULL};
	pid_t parent = getpid();
	pid_t pid = fork();

	if (pid < 0) {
		log_err("ptp4l: fork: %m");
		p->next_start_ns = mono_ns + p->backoff_ns;
		return;
	}
	if (pid == 0) {
		sigset_t none;

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent)
			_exit(127);
		execv(p->binary, argv);
		_exit(127);
	}
	p->pid = pid;
	p->started_ns = mono_ns;
	log_info("ptp4l: started %s -f %s -i %s %s (pid %d)", p->binary,
		 p->config, p->ifname, p->uds_opt, (int)pid);
}

void ptp4l_proc_tick(struct ptp4l_proc *p, uint64_t mono_ns)
{
	int status;

	if (p->pid > 0 && waitpid(p->pid, &status, WNOHANG) == p->pid) {
		/* Ran a while: it was not a config error, start soon. */
		if (mono_ns - p->started_ns > 30 * BACKOFF_MIN_NS)
			p->backoff_ns = BACKOFF_MIN_NS;
		if (WIFEXITED(status))
			log_warn(
			    "ptp4l (pid %d) exited with status %d; "
			    "restarting in %llu s",
			    (int)p->pid, WEXITSTATUS(status),
			    (unsigned long long)(p->backoff_ns / 1000000000));
		else
			log_warn(
			    "ptp4l (pid %d) killed by signal %d; "
			    "restarting in %llu s",
			    (int)p->pid, WTERMSIG(status),
			    (unsigned long long)(p->backoff_ns / 1000000000));
		p->pid = -1;
		p->next_start_ns = mono_ns + p->backoff_ns;
		p->backoff_ns *= 2;
		if (p->backoff_ns > BACKOFF_MAX_NS)
			p->backoff_ns = BACKOFF_MAX_NS;
		p->restarts++;
	}
	if (p->pid < 0 && mono_ns >= p->next_start_ns)
		start(p, mono_ns);
}

pid_t ptp4l_proc_pid(const struct ptp4l_proc *p)
{
	return p->pid;
}

unsigned int ptp4l_proc_restarts(const struct ptp4l_proc *p)
{
	return p->restarts;
}

void ptp4l_proc_destroy(struct ptp4l_proc *p)
{
	int i;

	if (!p)
		return;
	if (p->pid > 0) {
		kill(p->pid, SIGTERM);
		for (i = 0; i < 40; i++) {
			struct timespec ts = {0, 50 * 1000 * 1000};

			if (waitpid(p->pid, NULL, WNOHANG) == p->pid)
				break;
			nanosleep(&ts, NULL);
		}
		if (i == 40) {
			kill(p->pid, SIGKILL);
			waitpid(p->pid, NULL, 0);
		}
	}
	free(p);
}
