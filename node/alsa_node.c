/* The node's glue to its sound cards: which sinks and sources are ALSA
 * devices, and their end-of-run report. */
#include "node/alsa_node.h"
#include "common/log.h"
#include "node/alsa.h"
#include "node/config.h"
#include "node/source.h"
#include "node/sub.h"
#include "ptp/mclock.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct alsa_node {
	struct alsa_play *plays[CONFIG_MAX_SINKS];
	unsigned int nplays;
	struct alsa_cap *caps[CONFIG_MAX_SOURCES];
	unsigned int ncaps;
};

struct alsa_node *alsa_node_build(const struct node_config *cfg,
				  struct source **sources, struct sub **subs,
				  struct mclock *mc, char *err, size_t err_len)
{
	struct alsa_node *an = calloc(1, sizeof(*an));
	unsigned int i;
	int rc;

	if (!an) {
		snprintf(err, err_len, "out of memory");
		return NULL;
	}
	for (i = 0; i < cfg->nsinks; i++) {
		const struct sink_config *k = &cfg->sinks[i];
		int si = config_find_sub(cfg, k->sub);
		const struct sub_config *sc;
		struct alsa_play *p;

		if (k->type != SINK_ALSA || si < 0)
			continue;
		sc = sub_config(subs[si]);
		p = alsa_play_open(
		    k->rec.name, &k->alsa, k->nch, k->rec.chans, sc->rate,
		    (uint32_t)mclock_ns_to_samples(sc->latency_ns, sc->rate),
		    err, err_len);
		if (!p)
			goto out_destroy;
		an->plays[an->nplays++] = p;
		rc = sub_add_output(subs[si], alsa_play_feed, p,
				    alsa_play_lead_frames(p));
		if (rc < 0) {
			snprintf(err, err_len, "sink %s: subscription %s: %s",
				 k->rec.name, k->sub,
				 rc == -ENOSPC ? "too many sinks"
					       : "latency too small for the "
						 "card");
			goto out_destroy;
		}
		rc = alsa_play_start(p, mc, cfg->rt_priority);
		if (rc < 0) {
			snprintf(err, err_len, "sink %s: cannot start: %s",
				 k->rec.name, strerror(-rc));
			goto out_destroy;
		}
	}
	for (i = 0; i < cfg->nsources; i++) {
		struct alsa_cap *c = source_alsa(sources[i]);

		if (!c)
			continue;
		an->caps[an->ncaps++] = c;
		rc = source_start(sources[i], mc, cfg->rt_priority);
		if (rc < 0) {
			snprintf(err, err_len, "source %s: cannot start: %s",
				 cfg->sources[i].name, strerror(-rc));
			goto out_destroy;
		}
	}
	return an;

out_destroy:
	alsa_node_destroy(an);
	return NULL;
}

static void report(const struct alsa_stats *st)
{
	log_info(
	    "final: alsa %s xruns=%llu missing=%llu overflows=%llu "
	    "steps=%llu wait_max_us=%llu outliers=%llu ppm=%.3f error=%.3f "
	    "servo=%s",
	    st->name, (unsigned long long)st->xruns,
	    (unsigned long long)st->missing, (unsigned long long)st->overflows,
	    (unsigned long long)st->steps, (unsigned long long)st->wait_max_us,
	    (unsigned long long)st->outliers, st->ppm, st->err_samples,
	    st->state);
}

void alsa_node_report(const struct alsa_node *an)
{
	struct alsa_stats st;
	unsigned int i;

	if (!an)
		return;
	for (i = 0; i < an->ncaps; i++) {
		alsa_cap_stats(an->caps[i], &st);
		report(&st);
	}
	for (i = 0; i < an->nplays; i++) {
		alsa_play_stats(an->plays[i], &st);
		report(&st);
	}
}

void alsa_node_destroy(struct alsa_node *an)
{
	unsigned int i;

	if (!an)
		return;
	for (i = 0; i < an->nplays; i++)
		alsa_play_destroy(an->plays[i]);
	free(an);
}
