/* libsndfile by dlopen() (see sndfile_lib.h). */
#include "node/sndfile_lib.h"
#include "common/dlib.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>

#define SNDFILE_SONAME "libsndfile.so.1"

#define SYM(f) DLIB_SYM(struct sndfile_lib, "sf_", f)
static const struct dlib_sym syms[] = {
    SYM(open), SYM(open_virtual), SYM(close),	   SYM(format_check),
    SYM(seek), SYM(readf_int),	  SYM(writef_int), SYM(strerror),
};
#undef SYM

static pthread_once_t once = PTHREAD_ONCE_INIT;
static struct sndfile_lib lib;
static bool loaded;
static char why[256];

static void load(void)
{
	loaded = dlib_load(SNDFILE_SONAME, syms, sizeof(syms) / sizeof(syms[0]),
			   &lib, why, sizeof(why)) != NULL;
}

const struct sndfile_lib *sndfile_lib(char *err, size_t err_len)
{
	pthread_once(&once, load);
	if (loaded)
		return &lib;
	snprintf(err, err_len, "%s (Debian package libsndfile1)", why);
	return NULL;
}
