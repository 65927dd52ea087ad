/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the analysis passes share (causal_analysis.c, causal_hb.c,
 * causal_anomaly.c): their state, the growable arrays, and the calls
 * one pass makes into another's file. Not for the analysis' callers.
 */
#ifndef _CAUSAL_ANALYSIS_INT_H
#define _CAUSAL_ANALYSIS_INT_H

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "causal_analysis.h"

#define BIT(t)	CAUSAL_EV_BIT(t)

static inline int cmp_u64(__u64 a, __u64 b)
{
	return a < b ? -1 : a > b;
}

/* qsort() is not to be given a NULL array, even an empty one. */
static inline void sort(void *base, size_t n, size_t size,
		 int (*cmp)(const void *, const void *))
{
	if (n > 1)
		qsort(base, n, size, cmp);
}

static inline int cmp_u64p(const void *a, const void *b)
{
	return cmp_u64(*(const __u64 *)a, *(const __u64 *)b);
}


static inline int push(void **arr, size_t *n, size_t *cap, size_t elem,
		const void *item)
{
	if (*n == *cap) {
		size_t c = *cap ? *cap * 2 : 16;
		void *p = realloc(*arr, c * elem);

		if (!p)
			return -ENOMEM;
		*arr = p;
		*cap = c;
	}
	memcpy((char *)*arr + *n * elem, item, elem);
	(*n)++;
	return 0;
}

struct tcp_count;

/* One analysis: its input, its result and the passes' shared tables. */
struct ana {
	const struct clog_store *s;
	const struct cana_opts *o;
	struct cana_result *r;
	struct cana_index ix;
	size_t max_items;
	__u32 *node_group;	/* cana_node -> index in r->groups */
	struct tcp_count *tcp;	/* by canonical link */
	size_t ntcp;
	__u32 *peers;		/* peer events by (group, node, peer, ts) */
	size_t npeers;
	size_t cap_lat, cap_held, cap_blame, cap_pairs, cap_anom, cap_viol,
	       cap_find;
	__u64 *wall_off;	/* host string id -> CLOCK_REALTIME - MONOTONIC */
	__u8 *has_wall;		/* ... known from its meta line */
	/* happens-before */
	__u32 *counter;		/* msg -> its rank among its sender's sends */
	__u64 *vc_off;		/* msg -> its clock in vc */
	__u32 *vc;		/* computed clocks of sends */
	__u32 *cur;		/* node -> 64 entries: its clock now */
	__u32 *sent;		/* node -> sends so far */
	__u64 *last_stamp;	/* node -> stamp of its last send */
	__u8 *cycle;		/* rec -> delivered before its send */
};

static inline struct cana_group *group_of(struct ana *a, __u32 node)
{
	return &a->r->groups[a->node_group[node]];
}

static inline struct cana_group *find_group(struct ana *a, __u32 group)
{
	size_t lo = 0, hi = a->r->ngroups;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (a->r->groups[mid].group < group)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < a->r->ngroups && a->r->groups[lo].group == group ?
	       &a->r->groups[lo] : NULL;
}

/*
 * A new finding since @ts of @host (CLOG_NONE: no time), what happened in
 * @fmt; the caller writes its advice. NULL when out of memory; valid until
 * the next finding.
 */
struct cana_finding *ana_add_finding(struct ana *a,
				     enum cana_finding_kind kind,
				     __u32 group, __u64 weight, __u32 host,
				     __u64 ts, const char *fmt, ...)
	__attribute__((format(printf, 7, 8)));

#define advise(f, ...) snprintf((f)->advice, sizeof((f)->advice), __VA_ARGS__)

/* Receptions (and peer events) by (node, peer, stamp), then time, for
 * qsort_r() of event indices with the store's events as context.
 */
int ana_cmp_rec(const void *a, const void *b, void *ctx);

/*
 * The event that says a message arrived: its arrive event, which the module
 * fires only for messages that were not ready when they arrived, or else
 * its delivery, which then followed the arrival at once.
 */
static inline __u32 rec_arrival(const struct cana_rec *rc)
{
	return rc->arrive != CLOG_NONE ? rc->arrive : rc->deliver;
}

static inline __u64 arrival_ts(const struct clog_ev *ev, const struct cana_rec *rc)
{
	const struct clog_ev *e = &ev[rec_arrival(rc)];

	return e->type == CAUSAL_EV_DELIVER ? e->ts - e->held_ns : e->ts;
}

/* The part of a delivery's hold spent at its channel's head, waiting for
 * its hold event's wait_node.
 */
__u64 ana_head_wait_ns(const struct clog_ev *ev, const struct cana_rec *rc);

/* The passes in other files. */
int ana_duplicates(struct ana *a);
int ana_hb_check(struct ana *a);
int ana_anomalies(struct ana *a);

#endif /* _CAUSAL_ANALYSIS_INT_H */
