/* libasound by dlopen() (see alsa_lib.h). */
#include "node/alsa_lib.h"
#include "common/dlib.h"

#define SYM(f) DLIB_SYM(struct alsa_lib, "snd_", f)
static const struct dlib_sym syms[] = {
    SYM(pcm_open),
    SYM(pcm_close),
    SYM(pcm_prepare),
    SYM(pcm_start),
    SYM(pcm_drop),
    SYM(pcm_recover),
    SYM(pcm_wait),
    SYM(pcm_readi),
    SYM(pcm_writei),
    SYM(pcm_avail_update),
    SYM(pcm_delay),
    SYM(pcm_status),
    SYM(pcm_status_sizeof),
    SYM(pcm_status_get_delay),
    SYM(pcm_status_get_htstamp),
    SYM(pcm_format_name),
    SYM(pcm_format_physical_width),
    SYM(pcm_hw_params),
    SYM(pcm_hw_params_sizeof),
    SYM(pcm_hw_params_any),
    SYM(pcm_hw_params_get_buffer_size),
    SYM(pcm_hw_params_get_period_size),
    SYM(pcm_hw_params_set_access),
    SYM(pcm_hw_params_set_buffer_size_near),
    SYM(pcm_hw_params_set_channels),
    SYM(pcm_hw_params_set_format),
    SYM(pcm_hw_params_set_period_size_near),
    SYM(pcm_hw_params_set_rate),
    SYM(pcm_hw_params_set_rate_resample),
    SYM(pcm_sw_params),
    SYM(pcm_sw_params_sizeof),
    SYM(pcm_sw_params_current),
    SYM(pcm_sw_params_set_avail_min),
    SYM(pcm_sw_params_set_start_threshold),
    SYM(pcm_sw_params_set_tstamp_mode),
    SYM(pcm_sw_params_set_tstamp_type),
    SYM(strerror),
};
#undef SYM

static struct alsa_lib table;
static struct dlib lib =
    DLIB_INIT("libasound.so.2", "libasound2", syms, &table);

const struct alsa_lib *alsa_lib(char *err, size_t err_len)
{
	return dlib_get(&lib, err, err_len);
}
