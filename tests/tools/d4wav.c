/* d4wav: make deterministic test WAVs and prove that a recording carries the
 * same samples, bit for bit, as the file that was sent. Used by the shell
 * tests; exit 0 = identical, 1 = audio differs, 2 = usage or I/O error.
 * "gaps" tells lost packets (silent blocks) from any other difference. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sndfile.h>

#define EXIT_DIFFER  1
#define EXIT_USAGE   2
#define MAX_POS	     4
#define MAX_CHANNELS 1024
#define BLOCK_FRAMES 4096
/* first received frame plus this many must match to fix the alignment */
#define ALIGN_FOLLOW  8
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

struct opt {
	const char *name;
	const char *val;
};

struct audio {
	const char *path;
	SF_INFO info;
	int *buf;
	long long frames;
	int shift; /* sf_readf_int value >> shift = native sample */
};

/* Collects positionals and "--name value" / "--name=value" options in any
 * order; an option not in @opts is an error naming it. */
static int parse_args(int argc, char *argv[], struct opt *opts, size_t nopts,
		      const char **pos, int *npos, int maxpos)
{
	*npos = 0;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		size_t j;

		if (strncmp(a, "--", 2) != 0 || a[2] == '\0') {
			if (*npos == maxpos) {
				fprintf(stderr,
					"d4wav: unexpected argument '%s'\n", a);
				return -EINVAL;
			}
			pos[(*npos)++] = a;
			continue;
		}
		const char *eq = strchr(a, '=');
		size_t nlen = eq ? (size_t)(eq - a - 2) : strlen(a + 2);

		for (j = 0; j < nopts; j++) {
			if (strlen(opts[j].name) == nlen &&
			    !strncmp(opts[j].name, a + 2, nlen))
				break;
		}
		if (j == nopts) {
			fprintf(stderr, "d4wav: unknown option '%s'\n", a);
			return -EINVAL;
		}
		if (eq) {
			opts[j].val = eq + 1;
		} else if (i + 1 < argc) {
			opts[j].val = argv[++i];
		} else {
			fprintf(stderr, "d4wav: option '%s' needs a value\n",
				a);
			return -EINVAL;
		}
	}
	return 0;
}

static int parse_ll(const char *name, const char *s, long long min,
		    long long max, long long *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max) {
		fprintf(stderr,
			"d4wav: --%s: bad value '%s' (want %lld..%lld)\n", name,
			s, min, max);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

static int parse_u64(const char *name, const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *end || s[0] == '-') {
		fprintf(stderr, "d4wav: --%s: bad value '%s'\n", name, s);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

/* splitmix64 spreads a small seed over the state; xorshift64* then makes
 * the stream. Neither needs to be good, only deterministic and cheap. */
static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t xorshift64s(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545f4914f6cdd1dULL;
}

/* One sample in [-2^(bits-1), 2^(bits-1) - 1]; about 1 in 32 is a
 * full-scale extreme so packers are exercised at both ends. */
static int32_t gen_sample(uint64_t *s, int bits)
{
	uint64_t r = xorshift64s(s);
	int32_t half = (int32_t)1 << (bits - 1);

	if ((r & 63) == 0)
		return -half;
	if ((r & 63) == 1)
		return half - 1;
	return (int32_t)(r >> (64 - bits)) - half;
}

static int native_shift(int format)
{
	switch (format & SF_FORMAT_SUBMASK) {
	case SF_FORMAT_PCM_S8:
	case SF_FORMAT_PCM_U8:
		return 24;
	case SF_FORMAT_PCM_16:
		return 16;
	case SF_FORMAT_PCM_24:
		return 8;
	default:
		return 0;
	}
}

static int audio_load(struct audio *a, const char *path)
{
	SNDFILE *sf;
	size_t n, cap;
	sf_count_t got;

	memset(a, 0, sizeof(*a));
	a->path = path;
	sf = sf_open(path, SFM_READ, &a->info);
	if (!sf) {
		fprintf(stderr, "d4wav: cannot open '%s': %s\n", path,
			sf_strerror(NULL));
		return -EIO;
	}
	a->shift = native_shift(a->info.format);
	if (a->info.channels < 1 || a->info.frames < 0 ||
	    (unsigned long long)a->info.frames >
		SIZE_MAX / sizeof(int) / (size_t)a->info.channels - 1) {
		fprintf(stderr, "d4wav: '%s': unusable size (%lld frames)\n",
			path, (long long)a->info.frames);
		goto out_close;
	}
	cap = (size_t)a->info.frames + 1;
	n = cap * (size_t)a->info.channels;
	a->buf = malloc(n * sizeof(int));
	if (!a->buf) {
		fprintf(stderr, "d4wav: '%s': no memory for %zu samples\n",
			path, n);
		goto out_close;
	}
	/* a recording cut short may hold fewer frames than the header says */
	while ((size_t)a->frames < cap) {
		got = sf_readf_int(sf, a->buf + a->frames * a->info.channels,
				   (sf_count_t)cap - a->frames);
		if (got <= 0)
			break;
		a->frames += got;
	}
	if (sf_error(sf)) {
		fprintf(stderr, "d4wav: reading '%s': %s\n", path,
			sf_strerror(sf));
		goto out_free;
	}
	sf_close(sf);
	return 0;

out_free:
	free(a->buf);
	a->buf = NULL;
out_close:
	sf_close(sf);
	return -EIO;
}

static const int *frame_at(const struct audio *a, long long i)
{
	return a->buf + i * a->info.channels;
}

static bool frame_is_zero(const struct audio *a, long long i)
{
	const int *f = frame_at(a, i);

	for (int c = 0; c < a->info.channels; c++) {
		if (f[c])
			return false;
	}
	return true;
}

static bool frames_equal(const struct audio *r, long long ri,
			 const struct audio *g, long long gi, long long n)
{
	size_t len = (size_t)n * (size_t)r->info.channels * sizeof(int);

	return !memcmp(frame_at(r, ri), frame_at(g, gi), len);
}

static int native(const struct audio *a, int v)
{
	return v / (1 << a->shift);
}

/* First k with REF[k..] == GOT[g0..] for ALIGN_FOLLOW + 1 frames, or for
 * as many as both files still hold near their ends; -1 if none. */
static long long find_first(const struct audio *ref, const struct audio *got,
			    long long g0)
{
	long long grest = got->frames - g0;

	for (long long k = 0; k < ref->frames; k++) {
		long long n = ALIGN_FOLLOW + 1;

		if (n > grest)
			n = grest;
		if (n > ref->frames - k)
			n = ref->frames - k;
		if (frames_equal(ref, k, got, g0, 1) &&
		    frames_equal(ref, k, got, g0, n))
			return k;
	}
	return -1;
}

static int gen_main(int argc, char *argv[])
{
	struct opt opts[] = {
	    {"channels", NULL}, {"seconds", NULL}, {"rate", "48000"},
	    {"bits", "24"},	{"seed", "1"},
	};
	const char *pos[MAX_POS];
	int npos, ret = EXIT_USAGE;
	long long channels, rate, bits;
	uint64_t seed, *state = NULL;
	int32_t *block = NULL;
	double seconds;
	long long frames;
	char *end;
	SF_INFO info;
	SNDFILE *sf;

	if (parse_args(argc, argv, opts, ARRAY_SIZE(opts), pos, &npos, 1))
		return EXIT_USAGE;
	if (npos != 1 || !opts[0].val || !opts[1].val) {
		fprintf(stderr, "usage: d4wav gen OUT.wav --channels N "
				"--seconds S [--rate R] [--bits 24|16] "
				"[--seed K]\n");
		return EXIT_USAGE;
	}
	if (parse_ll("channels", opts[0].val, 1, MAX_CHANNELS, &channels) ||
	    parse_ll("rate", opts[2].val, 1, 768000, &rate) ||
	    parse_ll("bits", opts[3].val, 16, 24, &bits) ||
	    parse_u64("seed", opts[4].val, &seed))
		return EXIT_USAGE;
	if (bits != 16 && bits != 24) {
		fprintf(stderr, "d4wav: --bits: bad value '%s' (want 16|24)\n",
			opts[3].val);
		return EXIT_USAGE;
	}
	errno = 0;
	seconds = strtod(opts[1].val, &end);
	/* "seconds > 0" is false for NaN; round by hand to need no libm */
	frames = 0;
	if (!errno && end != opts[1].val && !*end && seconds > 0 &&
	    seconds <= 86400)
		frames = (long long)(seconds * (double)rate + 0.5);
	if (frames < 1) {
		fprintf(stderr, "d4wav: --seconds: bad value '%s'\n",
			opts[1].val);
		return EXIT_USAGE;
	}

	state = calloc((size_t)channels, sizeof(*state));
	block = calloc((size_t)channels * BLOCK_FRAMES, sizeof(*block));
	if (!state || !block) {
		fprintf(stderr, "d4wav: no memory\n");
		goto out_free;
	}
	for (long long c = 0; c < channels; c++) {
		uint64_t x = seed ^ ((uint64_t)c << 32);

		splitmix64(&x);
		state[c] = splitmix64(&x) | 1; /* xorshift state must be != 0 */
	}

	memset(&info, 0, sizeof(info));
	info.samplerate = (int)rate;
	info.channels = (int)channels;
	info.format =
	    SF_FORMAT_WAV | (bits == 24 ? SF_FORMAT_PCM_24 : SF_FORMAT_PCM_16);
	sf = sf_open(pos[0], SFM_WRITE, &info);
	if (!sf) {
		fprintf(stderr, "d4wav: cannot create '%s': %s\n", pos[0],
			sf_strerror(NULL));
		goto out_free;
	}

	for (long long done = 0; done < frames;) {
		long long n = frames - done;
		int scale = 1 << (32 - bits);

		if (n > BLOCK_FRAMES)
			n = BLOCK_FRAMES;
		for (long long i = 0; i < n; i++) {
			int32_t *f = block + i * channels;
			bool zero = true;

			for (long long c = 0; c < channels; c++) {
				f[c] = gen_sample(&state[c], (int)bits);
				/* frame 0 nonzero everywhere: alignment key */
				if (done + i == 0 && f[c] == 0)
					f[c] = 1;
				zero = zero && f[c] == 0;
			}
			/* an all-zero frame would look like silence to cmp */
			if (zero)
				f[0] = 1;
			for (long long c = 0; c < channels; c++)
				f[c] *= scale;
		}
		if (sf_writef_int(sf, block, n) != n) {
			fprintf(stderr, "d4wav: writing '%s': %s\n", pos[0],
				sf_strerror(sf));
			sf_close(sf);
			goto out_free;
		}
		done += n;
	}
	if (sf_close(sf)) {
		fprintf(stderr, "d4wav: closing '%s' failed\n", pos[0]);
		goto out_free;
	}
	ret = 0;

out_free:
	free(block);
	free(state);
	return ret;
}

/* Counts frames of GOT from @from on that are not silent; reports the first. */
static long long check_tail(const struct audio *got, long long from)
{
	long long bad = 0, first = -1;

	for (long long i = from; i < got->frames; i++) {
		if (!frame_is_zero(got, i)) {
			if (first < 0)
				first = i;
			bad++;
		}
	}
	if (bad)
		fprintf(stderr,
			"d4wav: %lld nonzero frames in '%s' after the end of "
			"the reference, first at frame %lld\n",
			bad, got->path, first);
	return bad;
}

static int cmp_main(int argc, char *argv[])
{
	struct opt opts[] = {
	    {"align", "first"},
	    {"min-frames", "1"},
	    {"max-lead-loss", "-1"},
	};
	const char *pos[MAX_POS];
	struct audio ref, got;
	long long min_frames, max_lead, g0 = 0, k = 0, overlap;
	long long bad = 0, first_g = -1, first_r = -1;
	int npos, first_c = -1, ret = EXIT_USAGE;
	bool align_first, fail = false;

	if (parse_args(argc, argv, opts, ARRAY_SIZE(opts), pos, &npos, 2))
		return EXIT_USAGE;
	if (npos != 2) {
		fprintf(stderr,
			"usage: d4wav cmp REF.wav GOT.wav [--align first|none] "
			"[--min-frames N] [--max-lead-loss N]\n");
		return EXIT_USAGE;
	}
	if (!strcmp(opts[0].val, "first")) {
		align_first = true;
	} else if (!strcmp(opts[0].val, "none")) {
		align_first = false;
	} else {
		fprintf(stderr,
			"d4wav: --align: bad value '%s' (want first|none)\n",
			opts[0].val);
		return EXIT_USAGE;
	}
	if (parse_ll("min-frames", opts[1].val, 0, LLONG_MAX, &min_frames) ||
	    parse_ll("max-lead-loss", opts[2].val, -1, LLONG_MAX, &max_lead))
		return EXIT_USAGE;

	if (audio_load(&ref, pos[0]))
		return EXIT_USAGE;
	if (audio_load(&got, pos[1]))
		goto out_ref;

	ret = EXIT_DIFFER;
	if (ref.info.channels != got.info.channels ||
	    ref.info.samplerate != got.info.samplerate) {
		fprintf(stderr,
			"d4wav: '%s' has %d channels at %d Hz but '%s' has "
			"%d channels at %d Hz\n",
			ref.path, ref.info.channels, ref.info.samplerate,
			got.path, got.info.channels, got.info.samplerate);
		goto out_got;
	}

	if (align_first) {
		while (g0 < got.frames && frame_is_zero(&got, g0))
			g0++;
		if (g0 == got.frames) {
			fprintf(stderr, "d4wav: '%s' holds only silence\n",
				got.path);
			goto out_got;
		}
		k = find_first(&ref, &got, g0);
		if (k < 0) {
			fprintf(stderr,
				"d4wav: first received frame not found in "
				"reference ('%s' frame %lld)\n",
				got.path, g0);
			goto out_got;
		}
		overlap = ref.frames - k;
		if (overlap > got.frames - g0)
			overlap = got.frames - g0;
	} else {
		overlap = ref.frames;
		if (got.frames < ref.frames) {
			fprintf(stderr,
				"d4wav: '%s' has %lld frames, fewer than the "
				"%lld of the reference\n",
				got.path, got.frames, ref.frames);
			overlap = got.frames;
			fail = true;
		}
	}

	for (long long j = 0; j < overlap; j++) {
		const int *r = frame_at(&ref, k + j);
		const int *g = frame_at(&got, g0 + j);

		if (!memcmp(r, g, (size_t)ref.info.channels * sizeof(int)))
			continue;
		if (!bad++) {
			first_r = k + j;
			first_g = g0 + j;
			for (first_c = 0; r[first_c] == g[first_c]; first_c++)
				;
		}
	}
	if (bad) {
		const int *r = frame_at(&ref, first_r);
		const int *g = frame_at(&got, first_g);

		fprintf(stderr,
			"d4wav: mismatch at frame %lld (reference frame %lld) "
			"channel %d: ref=%d got=%d\n",
			first_g, first_r, first_c, native(&ref, r[first_c]),
			native(&got, g[first_c]));
		fprintf(stderr, "d4wav: %lld of %lld compared frames differ\n",
			bad, overlap);
		fail = true;
	}
	if (check_tail(&got, g0 + overlap))
		fail = true;
	if (overlap < min_frames) {
		fprintf(
		    stderr,
		    "d4wav: only %lld frames compared, want at least %lld\n",
		    overlap, min_frames);
		fail = true;
	}
	if (max_lead >= 0 && k > max_lead) {
		fprintf(stderr,
			"d4wav: lead loss %lld frames exceeds "
			"--max-lead-loss %lld\n",
			k, max_lead);
		fail = true;
	}
	if (fail) {
		fprintf(stderr,
			"d4wav: differ: %lld frames x %d channels compared, "
			"lead loss %lld frames, offset %lld\n",
			overlap, ref.info.channels, k, g0);
		goto out_got;
	}
	printf("d4wav: identical: %lld frames x %d channels compared, "
	       "lead loss %lld frames, offset %lld\n",
	       overlap, ref.info.channels, k, g0);
	ret = 0;

out_got:
	free(got.buf);
out_ref:
	free(ref.buf);
	return ret;
}

/* True if frames [i, i + n) of @a are all zero. */
static bool frames_are_zero(const struct audio *a, long long i, long long n)
{
	for (long long j = 0; j < n; j++) {
		if (!frame_is_zero(a, i + j))
			return false;
	}
	return true;
}

/* Compares REF and GOT block by block, at the same index (--align none):
 * a block is equal, or all zero in GOT where REF is not (a gap: a lost
 * packet concealed with silence), or it differs. Prints the gap count;
 * any differing block, a short GOT or sound after REF's end fails. */
static int gaps_main(int argc, char *argv[])
{
	struct opt opts[] = {{"block", "48"}, {"list", "0"}};
	const char *pos[MAX_POS];
	struct audio ref, got;
	long long block, list, nblocks, gaps = 0, differ = 0, first = -1;
	int npos, ret = EXIT_USAGE;

	if (parse_args(argc, argv, opts, ARRAY_SIZE(opts), pos, &npos, 2))
		return EXIT_USAGE;
	if (npos != 2) {
		fprintf(stderr, "usage: d4wav gaps REF.wav GOT.wav "
				"[--block FRAMES] [--list N]\n");
		return EXIT_USAGE;
	}
	if (parse_ll("block", opts[0].val, 1, 1 << 20, &block) ||
	    parse_ll("list", opts[1].val, 0, LLONG_MAX, &list))
		return EXIT_USAGE;
	if (audio_load(&ref, pos[0]))
		return EXIT_USAGE;
	if (audio_load(&got, pos[1]))
		goto out_ref;

	ret = EXIT_DIFFER;
	if (ref.info.channels != got.info.channels ||
	    ref.info.samplerate != got.info.samplerate) {
		fprintf(stderr,
			"d4wav: '%s' has %d channels at %d Hz but '%s' has "
			"%d channels at %d Hz\n",
			ref.path, ref.info.channels, ref.info.samplerate,
			got.path, got.info.channels, got.info.samplerate);
		goto out_got;
	}
	if (got.frames < ref.frames) {
		fprintf(stderr,
			"d4wav: '%s' has %lld frames, fewer than the %lld of "
			"the reference\n",
			got.path, got.frames, ref.frames);
		goto out_got;
	}
	nblocks = (ref.frames + block - 1) / block;
	for (long long b = 0; b < nblocks; b++) {
		long long i = b * block;
		long long n = ref.frames - i < block ? ref.frames - i : block;

		if (frames_equal(&ref, i, &got, i, n))
			continue;
		if (frames_are_zero(&got, i, n)) {
			if (gaps++ < list)
				printf("gap block=%lld frame=%lld\n", b, i);
			continue;
		}
		if (!differ++)
			first = b;
	}
	if (differ) {
		fprintf(stderr,
			"d4wav: %lld of %lld blocks of %lld frames differ and "
			"are not silent, first block %lld (frame %lld)\n",
			differ, nblocks, block, first, first * block);
		goto out_got;
	}
	if (check_tail(&got, ref.frames))
		goto out_got;
	printf("gaps=%lld blocks=%lld block=%lld\n", gaps, nblocks, block);
	ret = 0;

out_got:
	free(got.buf);
out_ref:
	free(ref.buf);
	return ret;
}

static int info_main(int argc, char *argv[])
{
	SF_INFO info;
	SF_FORMAT_INFO major = {0}, sub = {0};
	SNDFILE *sf;

	if (argc != 1 || !strncmp(argv[0], "--", 2)) {
		fprintf(stderr, "usage: d4wav info FILE\n");
		return EXIT_USAGE;
	}
	memset(&info, 0, sizeof(info));
	sf = sf_open(argv[0], SFM_READ, &info);
	if (!sf) {
		fprintf(stderr, "d4wav: cannot open '%s': %s\n", argv[0],
			sf_strerror(NULL));
		return EXIT_USAGE;
	}
	/* the format's number for scripts, and its names for people */
	major.format = info.format & SF_FORMAT_TYPEMASK;
	sub.format = info.format & SF_FORMAT_SUBMASK;
	printf("frames=%lld channels=%d rate=%d format=0x%06x (%s, %s)\n",
	       (long long)info.frames, info.channels, info.samplerate,
	       (unsigned int)info.format,
	       sf_command(NULL, SFC_GET_FORMAT_INFO, &major, sizeof(major)) ||
		       !major.name
		   ? "unknown type"
		   : major.name,
	       sf_command(NULL, SFC_GET_FORMAT_INFO, &sub, sizeof(sub)) ||
		       !sub.name
		   ? "unknown encoding"
		   : sub.name);
	sf_close(sf);
	return 0;
}

/* Test helper: IN without its first N frames, after M zero frames, at
 * most K frames of it. */
static int cut_main(int argc, char *argv[])
{
	struct opt opts[] = {{"skip", "0"}, {"pad-zeros", "0"}, {"frames", "-1"}};
	const char *pos[MAX_POS];
	long long skip, pad, keep;
	struct audio in;
	int npos, ret = EXIT_USAGE;
	SF_INFO info;
	SNDFILE *sf;
	int *zeros;

	if (parse_args(argc, argv, opts, ARRAY_SIZE(opts), pos, &npos, 2))
		return EXIT_USAGE;
	if (npos != 2) {
		fprintf(stderr, "usage: d4wav cut IN OUT --skip N "
				"[--pad-zeros M] [--frames K]\n");
		return EXIT_USAGE;
	}
	if (parse_ll("skip", opts[0].val, 0, LLONG_MAX, &skip) ||
	    parse_ll("pad-zeros", opts[1].val, 0, 1LL << 32, &pad) ||
	    parse_ll("frames", opts[2].val, -1, LLONG_MAX, &keep))
		return EXIT_USAGE;
	if (audio_load(&in, pos[0]))
		return EXIT_USAGE;
	if (skip > in.frames)
		skip = in.frames;
	if (keep >= 0 && skip + keep < in.frames)
		in.frames = skip + keep;

	zeros = calloc((size_t)in.info.channels * BLOCK_FRAMES, sizeof(int));
	if (!zeros) {
		fprintf(stderr, "d4wav: no memory\n");
		goto out_free;
	}
	info = in.info;
	info.frames = 0;
	sf = sf_open(pos[1], SFM_WRITE, &info);
	if (!sf) {
		fprintf(stderr, "d4wav: cannot create '%s': %s\n", pos[1],
			sf_strerror(NULL));
		goto out_free;
	}
	while (pad > 0) {
		long long n = pad < BLOCK_FRAMES ? pad : BLOCK_FRAMES;

		if (sf_writef_int(sf, zeros, n) != n)
			goto out_write;
		pad -= n;
	}
	if (sf_writef_int(sf, frame_at(&in, skip), in.frames - skip) !=
	    in.frames - skip)
		goto out_write;
	if (sf_close(sf)) {
		fprintf(stderr, "d4wav: closing '%s' failed\n", pos[1]);
		goto out_free;
	}
	ret = 0;
	goto out_free;

out_write:
	fprintf(stderr, "d4wav: writing '%s': %s\n", pos[1], sf_strerror(sf));
	sf_close(sf);
out_free:
	free(zeros);
	free(in.buf);
	return ret;
}

/* Runs of digital silence (every channel 0) of at least N frames in
 * FILE, one line each: "silence frame=START frames=LEN", and a last line
 * "total frames=F silent=S runs=R". What a receiver played as zeros is
 * audio lost, when the source was never silent (a tone, noise). */
static int silence_main(int argc, char *argv[])
{
	struct opt opts[] = {{"min-frames", "1"}};
	const char *pos[MAX_POS];
	long long min, run = 0, silent = 0, runs = 0, i;
	struct audio in;
	int npos, c;

	if (parse_args(argc, argv, opts, ARRAY_SIZE(opts), pos, &npos, 1))
		return EXIT_USAGE;
	if (npos != 1) {
		fprintf(stderr,
			"usage: d4wav silence FILE [--min-frames N]\n");
		return EXIT_USAGE;
	}
	if (parse_ll("min-frames", opts[0].val, 1, LLONG_MAX, &min) ||
	    audio_load(&in, pos[0]))
		return EXIT_USAGE;
	for (i = 0; i <= in.frames; i++) {
		bool zero = i < in.frames;

		for (c = 0; zero && c < in.info.channels; c++)
			zero = frame_at(&in, i)[c] == 0;
		if (zero) {
			run++;
			continue;
		}
		if (run >= min) {
			printf("silence frame=%lld frames=%lld\n", i - run,
			       run);
			silent += run;
			runs++;
		}
		run = 0;
	}
	printf("total frames=%lld silent=%lld runs=%lld\n", in.frames, silent,
	       runs);
	free(in.buf);
	return 0;
}

/* Normalised cross-correlation of REF frames [r, r + n) with GOT frames
 * [r + lag, ...), all channels; -2 where GOT does not hold them. */
static double xcorr(const struct audio *ref, const struct audio *got,
		    long long r, long long n, long long lag)
{
	double rg = 0, rr = 0, gg = 0;
	int ch = ref->info.channels;

	if (r + lag < 0 || r + lag + n > got->frames)
		return -2;
	for (long long i = 0; i < n; i++) {
		const int *a = frame_at(ref, r + i);
		const int *b = frame_at(got, r + lag + i);

		for (int c = 0; c < ch; c++) {
			double x = a[c] / 2147483648.0, y = b[c] / 2147483648.0;

			rg += x * y;
			rr += x * x;
			gg += y * y;
		}
	}
	return rr > 0 && gg > 0 ? rg / sqrt(rr * gg) : 0;
}

/* The lag in [lo, hi] where block r of REF correlates best with GOT. */
static long long best_lag(const struct audio *ref, const struct audio *got,
			  long long r, long long n, long long lo, long long hi,
			  double *corr)
{
	long long best = lo;

	*corr = -3;
	for (long long l = lo; l <= hi; l++) {
		double c = xcorr(ref, got, r, n, l);

		if (c > *corr) {
			*corr = c;
			best = l;
		}
	}
	return best;
}

/* A resampler moves the lag by well under TRACK_SPAN frames a block
 * (1000 ppm: 4.8 frames a 4800-frame block); a move beyond TRACK_JUMP
 * is frames dropped or inserted. */
#define TRACK_SPAN 48
#define TRACK_JUMP 32
/* Below this the block is not where the last one was: search wider. */
#define TRACK_LOST 0.3

static bool is_full_scale(int v)
{
	return v >= INT_MAX - 255 || v == INT_MIN;
}

/* What track found, block by block. */
struct track {
	long long block, lag;
	long long blocks, found, lost, jumps, gap_frames;
	long long exact, compared, fs_ref, fs_got;
	long long b0, b1;
	double lag0, lag1, first_corr, worst;
};

/* The first frame of @a above a quarter of full scale, or -1. A
 * resampler's first outputs ring before its input starts, faintly. */
static long long onset(const struct audio *a)
{
	for (long long i = 0; i < a->frames; i++)
		for (int c = 0; c < a->info.channels; c++)
			if (abs(frame_at(a, i)[c] / 256) >= 1 << 21)
				return i;
	return -1;
}

/* Frames of REF's sound in [r, r + n) that GOT, at @lag, holds as
 * silence; -1 if GOT does not hold them. */
static long long silent_at(const struct audio *ref, const struct audio *got,
			   long long r, long long lag, long long n)
{
	long long z = 0;

	if (r + lag < 0 || r + lag + n > got->frames)
		return -1;
	for (long long i = 0; i < n; i++)
		z += !frame_is_zero(ref, r + i) &&
		     frame_is_zero(got, r + lag + i);
	return z;
}

/* Frame-level tallies of REF block @r against GOT at lag @l: bit-exact
 * frames and full-scale samples, over REF's sounding frames. */
static void tally(const struct audio *ref, const struct audio *got, long long r,
		  long long l, struct track *t)
{
	int ch = ref->info.channels;

	for (long long i = 0; i < t->block; i++) {
		const int *a = frame_at(ref, r + i);
		const int *g = frame_at(got, r + l + i);

		if (frame_is_zero(ref, r + i))
			continue;
		t->compared++;
		if (!memcmp(a, g, (size_t)ch * sizeof(int)))
			t->exact++;
		for (int k = 0; k < ch; k++) {
			t->fs_ref += is_full_scale(a[k]);
			t->fs_got += is_full_scale(g[k]);
		}
	}
}

/* One sounding block of REF at frame @r: found in GOT (lag, jumps,
 * tallies), silent in GOT (a gap) or lost. Returns -1 when GOT ended. */
static int track_block(const struct audio *ref, const struct audio *got,
		       long long r, double min_corr, long long list,
		       struct track *t)
{
	long long span = t->b0 < 0 ? 256 : TRACK_SPAN, l, z;
	double c, cm, cp, frac = 0;

	z = t->b0 < 0 ? 0 : silent_at(ref, got, r, t->lag, t->block);
	if (z > t->block / 10) {
		/* the receiver played silence here: a glitch of its own */
		t->gap_frames += z;
		printf("gap frame=%lld silent=%lld\n", r, z);
		return 0;
	}
	l = best_lag(ref, got, r, t->block, t->lag - span, t->lag + span, &c);
	if (c < TRACK_LOST) /* frames dropped or inserted: look further */
		l = best_lag(ref, got, r, t->block, t->lag - 8192,
			     t->lag + 8192, &c);
	if (c < -1)
		return -1;
	if (c < min_corr) {
		t->lost++;
		printf("lost frame=%lld corr=%.6f\n", r, c);
		return 0;
	}
	cm = xcorr(ref, got, r, t->block, l - 1);
	cp = xcorr(ref, got, r, t->block, l + 1);
	if (cm > -1 && cp > -1 && cm - 2 * c + cp < 0)
		frac = 0.5 * (cm - cp) / (cm - 2 * c + cp);
	if (t->b0 >= 0 && llabs(l - t->lag) > TRACK_JUMP) {
		t->jumps++;
		printf("jump frame=%lld by=%lld\n", r, l - t->lag);
	}
	t->lag = l;
	if (t->b0 < 0) {
		t->b0 = r;
		t->lag0 = (double)l + frac;
		t->first_corr = c;
	}
	t->b1 = r;
	t->lag1 = (double)l + frac;
	if (c < t->worst)
		t->worst = c;
	tally(ref, got, r, l, t);
	if (++t->found <= list)
		printf("block frame=%lld lag=%.3f corr=%.6f\n", r,
		       (double)l + frac, c);
	return 0;
}

/* Where REF went in GOT when it went through a resampler (a receiver on
 * another clock): block by block of REF's sound, the lag of GOT behind
 * REF, to a fraction of a frame, from the peak of their
 * cross-correlation. Says how far the lag moved (the receiver's rate
 * against the sender's, in ppm), how many frames still came out
 * bit-exact, how well blocks correlate (for full-band noise a fraction
 * of a frame of delay alone lowers it: 0.64 at half a frame), where the
 * lag jumped (frames dropped or inserted), where the receiver played
 * silence instead (its glitches), and how many samples sit at full
 * scale (a resampler's overshoot, clipped). Exit 0 when every sounding
 * block is found at --min-corr or more or sits in the receiver's
 * silence, with no jump and at most --max-gap frames of that silence. */
static int track_main(int argc, char *argv[])
{
	struct opt opts[] = {{"block", "960"},
			     {"list", "0"},
			     {"min-corr", "0.5"},
			     {"max-gap", "0"}};
	const char *pos[MAX_POS];
	struct audio ref, got;
	struct track t = {.b0 = -1, .b1 = -1, .worst = 2};
	long long list, max_gap, r_on, g_on;
	int npos, ret = EXIT_USAGE;
	double min_corr;
	char *end;

	if (parse_args(argc, argv, opts, ARRAY_SIZE(opts), pos, &npos, 2))
		return EXIT_USAGE;
	if (npos != 2) {
		fprintf(stderr, "usage: d4wav track REF.wav GOT.wav [--block "
				"FRAMES] [--list N] [--min-corr C] "
				"[--max-gap FRAMES]\n");
		return EXIT_USAGE;
	}
	errno = 0;
	min_corr = strtod(opts[2].val, &end);
	if (errno || end == opts[2].val || *end || !(min_corr >= -1) ||
	    min_corr > 1) {
		fprintf(stderr, "d4wav: --min-corr: bad value '%s'\n",
			opts[2].val);
		return EXIT_USAGE;
	}
	if (parse_ll("block", opts[0].val, 64, 1 << 20, &t.block) ||
	    parse_ll("list", opts[1].val, 0, LLONG_MAX, &list) ||
	    parse_ll("max-gap", opts[3].val, 0, LLONG_MAX, &max_gap))
		return EXIT_USAGE;
	if (audio_load(&ref, pos[0]))
		return EXIT_USAGE;
	if (audio_load(&got, pos[1]))
		goto out_ref;
	ret = EXIT_DIFFER;
	if (ref.info.channels != got.info.channels ||
	    ref.info.samplerate != got.info.samplerate) {
		fprintf(stderr,
			"d4wav: '%s' has %d channels at %d Hz but '%s' has "
			"%d channels at %d Hz\n",
			ref.path, ref.info.channels, ref.info.samplerate,
			got.path, got.info.channels, got.info.samplerate);
		goto out_got;
	}
	r_on = onset(&ref);
	g_on = onset(&got);
	if (r_on < 0 || g_on < 0) {
		fprintf(stderr, "d4wav: no sound in '%s'\n",
			r_on < 0 ? ref.path : got.path);
		goto out_got;
	}
	t.lag = g_on - r_on;
	/* Silence in REF (before, after, where a sender skipped) says
	 * nothing of a lag. */
	for (long long r = 0; r + t.block <= ref.frames; r += t.block) {
		long long sounding = 0;

		for (long long i = 0; i < t.block; i++)
			sounding += !frame_is_zero(&ref, r + i);
		if (!sounding)
			continue;
		t.blocks++;
		if (track_block(&ref, &got, r, min_corr, list, &t) < 0) {
			fprintf(stderr,
				"d4wav: '%s' ends before frame %lld of '%s'\n",
				got.path, r, ref.path);
			t.lost += 1;
			break;
		}
	}
	if (!t.found) {
		fprintf(stderr, "d4wav: nothing of '%s' found in '%s'\n",
			ref.path, got.path);
		goto out_got;
	}
	printf(
	    "d4wav track: %lld of %lld sounding blocks of %lld frames "
	    "found, %lld lost; lag %.3f -> %.3f frames (%+.1f ppm); "
	    "bit-exact frames %lld of %lld (%.2f%%); correlation first "
	    "%.6f, min %.6f; jumps %lld; silent frames in the receiver's "
	    "%lld; full-scale samples: reference %lld, got %lld\n",
	    t.found, t.blocks, t.block, t.lost, t.lag0, t.lag1,
	    t.b1 > t.b0 ? (t.lag1 - t.lag0) / (double)(t.b1 - t.b0) * 1e6 : 0.0,
	    t.exact, t.compared,
	    t.compared ? 100.0 * (double)t.exact / (double)t.compared : 0.0,
	    t.first_corr, t.worst, t.jumps, t.gap_frames, t.fs_ref, t.fs_got);
	if (t.lost)
		fprintf(stderr, "d4wav: %lld blocks of '%s' not found\n",
			t.lost, ref.path);
	if (t.jumps)
		fprintf(stderr, "d4wav: the lag jumped %lld times\n", t.jumps);
	if (t.gap_frames > max_gap)
		fprintf(stderr,
			"d4wav: %lld frames of silence in '%s', more "
			"than --max-gap %lld\n",
			t.gap_frames, got.path, max_gap);
	if (!t.lost && !t.jumps && t.gap_frames <= max_gap)
		ret = 0;

out_got:
	free(got.buf);
out_ref:
	free(ref.buf);
	return ret;
}

static const struct {
	const char *name;
	int (*fn)(int argc, char *argv[]);
	const char *help;
} subcommands[] = {
    {"gen", gen_main,
     "OUT.wav --channels N --seconds S [--rate 48000] [--bits 24|16] "
     "[--seed K]"},
    {"cmp", cmp_main,
     "REF.wav GOT.wav [--align first|none] [--min-frames N] "
     "[--max-lead-loss N]"},
    {"gaps", gaps_main, "REF.wav GOT.wav [--block FRAMES] [--list N]"},
    {"track", track_main,
     "REF.wav GOT.wav [--block FRAMES] [--list N] [--min-corr C] "
     "[--max-gap FRAMES]"},
    {"info", info_main, "FILE"},
    {"cut", cut_main, "IN OUT --skip N [--pad-zeros M] [--frames K]"},
    {"silence", silence_main, "FILE [--min-frames N]"},
};

static void usage(FILE *f)
{
	fprintf(f, "usage:\n");
	for (size_t i = 0; i < ARRAY_SIZE(subcommands); i++)
		fprintf(f, "  d4wav %s %s\n", subcommands[i].name,
			subcommands[i].help);
}

int main(int argc, char *argv[])
{
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		usage(stdout);
		return 0;
	}
	for (size_t i = 0; i < ARRAY_SIZE(subcommands); i++) {
		if (!strcmp(argv[1], subcommands[i].name))
			return subcommands[i].fn(argc - 2, argv + 2);
	}
	fprintf(stderr, "d4wav: unknown subcommand '%s'\n", argv[1]);
	usage(stderr);
	return EXIT_USAGE;
}
