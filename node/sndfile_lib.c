/* libsndfile by dlopen() (see sndfile_lib.h). */
#include "node/sndfile_lib.h"
#include "common/dlib.h"

#define SYM(f) DLIB_SYM(struct sndfile_lib, "sf_", f)
static const struct dlib_sym syms[] = {
    SYM(open), SYM(open_virtual), SYM(close),	   SYM(format_check),
    SYM(seek), SYM(readf_int),	  SYM(writef_int), SYM(strerror),
    SYM(read_raw), SYM(readf_float),
};
#undef SYM

static struct sndfile_lib table;
static struct dlib lib =
    DLIB_INIT("libsndfile.so.1", "libsndfile1", syms, &table);

const struct sndfile_lib *sndfile_lib(char *err, size_t err_len)
{
	return dlib_get(&lib, err, err_len);
}
