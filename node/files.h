/* The file thread: read-ahead for file sources, write-behind for
 * recordings. It may block on disk; the media thread never waits for it
 * (they meet in SPSC rings inside sources and recorders). It owns the list
 * of recordings it drains; that list changes under a lock only this thread
 * and the control thread take, so a recording closed by the control thread
 * is never being drained then. */
#ifndef D4_NODE_FILES_H
#define D4_NODE_FILES_H

struct files;
struct source;
struct recorder;

#define FILES_MAX_RECORDERS 128

struct files *files_new(void);
/* Stop the thread (files_stop) and free the list; sources and recorders
 * are their owners' to close. */
void files_destroy(struct files *f);

/* Read ahead for @src (a file source). Before files_start. 0, -ENOSPC. */
int files_add_source(struct files *f, struct source *src);
/* Start the thread. 0 or -errno. */
int files_start(struct files *f);
/* Stop it and write what every recording still holds. */
void files_stop(struct files *f);

/* Drain @rec from now on. 0, -ENOSPC. */
int files_add_recorder(struct files *f, struct recorder *rec);
/* Stop draining @rec: when this returns the thread no longer touches it,
 * and the caller may close it. */
void files_remove_recorder(struct files *f, struct recorder *rec);

/* The recordings, for status and report lines (control thread). */
unsigned int files_recorders(const struct files *f);
struct recorder *files_recorder_at(const struct files *f, unsigned int i);

#endif
