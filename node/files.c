/* The file thread (see files.h). */
#include "node/files.h"
#include "common/log.h"
#include "node/recorder.h"
#include "node/source.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define FILES_MAX_SOURCES 32

struct files {
	struct source *sources[FILES_MAX_SOURCES];
	unsigned int nsources;
	/* recs and nrecs change under lock (control thread); the file
	 * thread reads them under it */
	pthread_mutex_t lock;
	/* the file thread's idle wait, cut short by a stop or a recorder */
	pthread_cond_t wake;
	struct recorder *recs[FILES_MAX_RECORDERS];
	unsigned int nrecs;
	pthread_t thread;
	bool running;
	_Atomic bool stop;
};

struct files *files_new(void)
{
	struct files *f = calloc(1, sizeof(*f));
	pthread_condattr_t ca;

	if (!f)
		return NULL;
	pthread_mutex_init(&f->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&f->wake, &ca);
	pthread_condattr_destroy(&ca);
	return f;
}

void files_destroy(struct files *f)
{
	if (!f)
		return;
	files_stop(f);
	pthread_cond_destroy(&f->wake);
	pthread_mutex_destroy(&f->lock);
	free(f);
}

int files_add_source(struct files *f, struct source *src)
{
	if (f->nsources == FILES_MAX_SOURCES)
		return -ENOSPC;
	f->sources[f->nsources++] = src;
	return 0;
}

/* Drain the recorders; whether there were any. */
static bool drain(struct files *f)
{
	unsigned int i, n;

	pthread_mutex_lock(&f->lock);
	n = f->nrecs;
	for (i = 0; i < n; i++)
		recorder_io_drain(f->recs[i]);
	pthread_mutex_unlock(&f->lock);
	return n > 0;
}

static void *files_main(void *arg)
{
	struct files *f = arg;
	/* Sources read 1 s ahead, recorders buffer 2 s: 20 ms is plenty,
	 * and 50 wake-ups a second cost next to nothing. With neither (a
	 * relay, a node that only sends tones), 5 a second, cut short by a
	 * stop or a new recorder. */
	struct timespec busy = {0, 20 * 1000 * 1000};
	unsigned int i;

	while (!atomic_load(&f->stop)) {
		struct timespec until;

		for (i = 0; i < f->nsources; i++)
			if (source_io_fill(f->sources[i]) < 0)
				log_err("source %s: read error",
					source_name(f->sources[i]));
		if (drain(f) || f->nsources) {
			nanosleep(&busy, NULL);
			continue;
		}
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_nsec += 200 * 1000 * 1000;
		if (until.tv_nsec >= 1000 * 1000 * 1000) {
			until.tv_sec++;
			until.tv_nsec -= 1000 * 1000 * 1000;
		}
		pthread_mutex_lock(&f->lock);
		if (!f->nrecs && !atomic_load(&f->stop))
			pthread_cond_timedwait(&f->wake, &f->lock, &until);
		pthread_mutex_unlock(&f->lock);
	}
	return NULL;
}

int files_start(struct files *f)
{
	pthread_attr_t attr;
	int rc;

	pthread_attr_init(&attr);
	/* libsndfile's FLAC decoder wants some stack; 1 MB, not 8 MB
	 * locked by mlockall. */
	pthread_attr_setstacksize(&attr, 1024 * 1024);
	rc = pthread_create(&f->thread, &attr, files_main, f);
	pthread_attr_destroy(&attr);
	if (rc) {
		log_err("pthread_create(file thread): %s", strerror(rc));
		return -rc;
	}
	pthread_setname_np(f->thread, "d4-files");
	f->running = true;
	return 0;
}

void files_stop(struct files *f)
{
	if (!f->running)
		return;
	pthread_mutex_lock(&f->lock);
	atomic_store(&f->stop, true);
	pthread_cond_signal(&f->wake);
	pthread_mutex_unlock(&f->lock);
	pthread_join(f->thread, NULL);
	f->running = false;
	drain(f); /* the last frames, before the report */
}

int files_add_recorder(struct files *f, struct recorder *rec)
{
	int rc = 0;

	pthread_mutex_lock(&f->lock);
	if (f->nrecs == FILES_MAX_RECORDERS)
		rc = -ENOSPC;
	else
		f->recs[f->nrecs++] = rec;
	pthread_cond_signal(&f->wake);
	pthread_mutex_unlock(&f->lock);
	return rc;
}

void files_remove_recorder(struct files *f, struct recorder *rec)
{
	unsigned int i;

	pthread_mutex_lock(&f->lock);
	for (i = 0; i < f->nrecs; i++)
		if (f->recs[i] == rec) {
			/* keep the order: status lines list them stably */
			for (; i + 1 < f->nrecs; i++)
				f->recs[i] = f->recs[i + 1];
			f->nrecs--;
			break;
		}
	pthread_mutex_unlock(&f->lock);
}

unsigned int files_recorders(const struct files *f)
{
	return f->nrecs;
}

struct recorder *files_recorder_at(const struct files *f, unsigned int i)
{
	return i < f->nrecs ? f->recs[i] : NULL;
}
