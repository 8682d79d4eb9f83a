/* libsndfile, loaded when first needed: by the first recorder or file
 * source (node/recorder.c, node/source.c). Linked, libsndfile and the
 * codecs it brings (FLAC, Vorbis, Opus, MPEG) were 0.8 MB of every
 * node's resident memory, files or not (bench/scale.sh, "rss part").
 * Loaded with dlopen() by the thread that opens the first file; never
 * unloaded. */
#ifndef D4_NODE_SNDFILE_LIB_H
#define D4_NODE_SNDFILE_LIB_H

#include <sndfile.h>
#include <stddef.h>

/* The functions of libsndfile the node calls. */
struct sndfile_lib {
	SNDFILE *(*open)(const char *, int, SF_INFO *);
	SNDFILE *(*open_virtual)(SF_VIRTUAL_IO *, int, SF_INFO *, void *);
	int (*close)(SNDFILE *);
	int (*format_check)(const SF_INFO *);
	sf_count_t (*seek)(SNDFILE *, sf_count_t, int);
	sf_count_t (*readf_int)(SNDFILE *, int *, sf_count_t);
	sf_count_t (*read_raw)(SNDFILE *, void *, sf_count_t);
	sf_count_t (*readf_float)(SNDFILE *, float *, sf_count_t);
	sf_count_t (*writef_int)(SNDFILE *, const int *, sf_count_t);
	const char *(*strerror)(SNDFILE *);
};

/* libsndfile, loaded on the first call (any thread); NULL when it cannot
 * be, with why in @err (install libsndfile1). */
const struct sndfile_lib *sndfile_lib(char *err, size_t err_len);

#endif
