/* d4stall: a witness of the machine's own scheduling stalls, for lab tests.
 *
 * One SCHED_FIFO thread per online CPU, pinned, memory locked, waking
 * every millisecond on an absolute CLOCK_MONOTONIC deadline. A wake-up
 * later than the threshold is a stall no real-time thread of that
 * priority could have avoided: the hypervisor stopped the vCPU, or the
 * kernel ran something it would not preempt. Each is appended to LOG as
 * it happens ("CPU LATENESS_US MONOTONIC_NS"), so a test can read them
 * while the witness runs, and judge late packets against them.
 *
 * usage: d4stall LOG [PRIORITY [THRESHOLD_US]]; runs until SIGTERM/SIGINT.
 * cyclictest (rt-tests) measures the same, but prints only at its end. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define PERIOD_NS 1000000ll
#define MAX_CPUS 64

static int log_fd;
static int64_t threshold_ns = 1000000;
static volatile sig_atomic_t stop;

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

static void *witness(void *arg)
{
	int cpu = (int)(intptr_t)arg;
	int64_t next = now_ns() + PERIOD_NS, late;
	struct timespec ts;
	char line[96];
	int n;

	while (!stop) {
		ts.tv_sec = next / 1000000000ll;
		ts.tv_nsec = next % 1000000000ll;
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts,
				       NULL) == EINTR && !stop)
			;
		late = now_ns() - next;
		if (late >= threshold_ns) {
			n = snprintf(line, sizeof(line), "%d %lld %lld\n", cpu,
				     (long long)(late / 1000),
				     (long long)(next + late));
			if (write(log_fd, line, (size_t)n) != n)
				perror("d4stall: write");
			/* the missed periods are one stall, not many */
			next += late / PERIOD_NS * PERIOD_NS;
		}
		next += PERIOD_NS;
	}
	return NULL;
}

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

int main(int argc, char **argv)
{
	int prio = argc > 2 ? atoi(argv[2]) : 70;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	pthread_t tid[MAX_CPUS];
	struct sigaction sa = {.sa_handler = on_signal};
	sigset_t set;
	long i;

	if (argc < 2 || argc > 4 || prio < 1 || prio > 99) {
		fprintf(stderr, "usage: d4stall LOG [PRIORITY [THRESHOLD_US]]\n");
		return 2;
	}
	if (argc > 3)
		threshold_ns = atoll(argv[3]) * 1000;
	log_fd = open(argv[1], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (log_fd < 0) {
		perror(argv[1]);
		return 1;
	}
	if (ncpu < 1)
		ncpu = 1;
	if (ncpu > MAX_CPUS)
		ncpu = MAX_CPUS;
	if (mlockall(MCL_CURRENT | MCL_FUTURE) < 0)
		perror("d4stall: mlockall");
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	/* only the main thread takes the signals; the witnesses see stop */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	for (i = 0; i < ncpu; i++) {
		pthread_attr_t attr;
		struct sched_param sp = {.sched_priority = prio};
		cpu_set_t cs;
		int err;

		CPU_ZERO(&cs);
		CPU_SET((int)i, &cs);
		pthread_attr_init(&attr);
		pthread_attr_setinheritsched(&attr, PTHREAD_EXPLICIT_SCHED);
		pthread_attr_setschedpolicy(&attr, SCHED_FIFO);
		pthread_attr_setschedparam(&attr, &sp);
		pthread_attr_setaffinity_np(&attr, sizeof(cs), &cs);
		pthread_attr_setstacksize(&attr, 64 * 1024);
		err = pthread_create(&tid[i], &attr, witness, (void *)(intptr_t)i);
		pthread_attr_destroy(&attr);
		if (err) {
			fprintf(stderr, "d4stall: thread on CPU %ld: %s\n", i,
				strerror(err));
			return 1;
		}
	}
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	fprintf(stderr, "d4stall: watching %ld CPUs at SCHED_FIFO %d, stalls "
			"from %lld us\n",
		ncpu, prio, (long long)(threshold_ns / 1000));
	while (!stop)
		usleep(100 * 1000);
	for (i = 0; i < ncpu; i++)
		pthread_join(tid[i], NULL);
	return 0;
}
