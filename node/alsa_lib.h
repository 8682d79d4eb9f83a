/* libasound, loaded when first needed: by the first sound card the node
 * opens (node/alsa.c). Linked, it was 0.3 MB of every node's resident
 * memory, card or not (its relocations, and the symbol tables the
 * dynamic linker reads: bench/scale.sh, "rss part"). Loaded with
 * dlopen() on the control thread; never unloaded. Its plugins load with
 * it, as they always did. */
#ifndef D4_NODE_ALSA_LIB_H
#define D4_NODE_ALSA_LIB_H

#include <alsa/asoundlib.h>
#include <stddef.h>

#define ALSA_FN(f) __typeof__(snd_##f) *f
/* The functions of libasound the node calls, typed as its header does. */
struct alsa_lib {
	ALSA_FN(pcm_open);
	ALSA_FN(pcm_close);
	ALSA_FN(pcm_prepare);
	ALSA_FN(pcm_start);
	ALSA_FN(pcm_drop);
	ALSA_FN(pcm_recover);
	ALSA_FN(pcm_wait);
	ALSA_FN(pcm_readi);
	ALSA_FN(pcm_writei);
	ALSA_FN(pcm_avail_update);
	ALSA_FN(pcm_delay);
	ALSA_FN(pcm_status);
	ALSA_FN(pcm_status_sizeof);
	ALSA_FN(pcm_status_get_delay);
	ALSA_FN(pcm_status_get_htstamp);
	ALSA_FN(pcm_format_name);
	ALSA_FN(pcm_format_physical_width);
	ALSA_FN(pcm_hw_params);
	ALSA_FN(pcm_hw_params_sizeof);
	ALSA_FN(pcm_hw_params_any);
	ALSA_FN(pcm_hw_params_get_buffer_size);
	ALSA_FN(pcm_hw_params_get_period_size);
	ALSA_FN(pcm_hw_params_set_access);
	ALSA_FN(pcm_hw_params_set_buffer_size_near);
	ALSA_FN(pcm_hw_params_set_channels);
	ALSA_FN(pcm_hw_params_set_format);
	ALSA_FN(pcm_hw_params_set_period_size_near);
	ALSA_FN(pcm_hw_params_set_rate);
	ALSA_FN(pcm_hw_params_set_rate_resample);
	ALSA_FN(pcm_sw_params);
	ALSA_FN(pcm_sw_params_sizeof);
	ALSA_FN(pcm_sw_params_current);
	ALSA_FN(pcm_sw_params_set_avail_min);
	ALSA_FN(pcm_sw_params_set_start_threshold);
	ALSA_FN(pcm_sw_params_set_tstamp_mode);
	ALSA_FN(pcm_sw_params_set_tstamp_type);
	ALSA_FN(strerror);
};
#undef ALSA_FN

/* libasound, loaded on the first call; NULL when it cannot be, with why
 * in @err (install libasound2). Control thread. */
const struct alsa_lib *alsa_lib(char *err, size_t err_len);

#endif
