/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The buckets of the module's hold-time histograms (docs/api.md), shared by
 * the module, which counts, and the tools, which read quantiles off them.
 * Log-linear, in microseconds: one bucket per
 * microsecond below 16, then 16 per power of two. A bucket is at most 1/16
 * of its lower bound wide, so a quantile interpolated within its bucket (as
 * histogram_quantile() does) is within 6.25% of the true value. Hold times
 * of 2^32 us (71 minutes) and more share the last bucket.
 */
#ifndef _CAUSAL_HIST_H
#define _CAUSAL_HIST_H

#include "causal_types.h"

#define CAUSAL_HIST_SUB_BITS	4
#define CAUSAL_HIST_SUB		16U	/* 1 << CAUSAL_HIST_SUB_BITS */
#define CAUSAL_HIST_MAX_BITS	32
#define CAUSAL_HIST_BUCKETS	\
	((CAUSAL_HIST_MAX_BITS - CAUSAL_HIST_SUB_BITS + 1) * CAUSAL_HIST_SUB)

/* The bucket of a hold time of @us microseconds. */
static inline u32 causal_hist_bucket(u64 us)
{
	u32 e;

	if (us >> CAUSAL_HIST_MAX_BITS)
		return CAUSAL_HIST_BUCKETS - 1;
	if (us < CAUSAL_HIST_SUB)
		return us;
	e = fls64(us) - 1;
	return (e - CAUSAL_HIST_SUB_BITS + 1) * CAUSAL_HIST_SUB +
	       ((us >> (e - CAUSAL_HIST_SUB_BITS)) & (CAUSAL_HIST_SUB - 1));
}

/* The smallest hold time, in microseconds, that bucket @b counts; bucket
 * @b holds [lower(b), lower(b + 1)), the last one has no upper bound.
 */
static inline u64 causal_hist_lower(u32 b)
{
	u32 e;

	if (b < CAUSAL_HIST_SUB)
		return b;
	e = b / CAUSAL_HIST_SUB + CAUSAL_HIST_SUB_BITS - 1;
	return (1ULL << e) |
	       ((u64)(b % CAUSAL_HIST_SUB) << (e - CAUSAL_HIST_SUB_BITS));
}

/* The @num/@den quantile, in microseconds, of the hold times counted in
 * @hist (CAUSAL_HIST_BUCKETS counts), interpolated within its bucket as
 * Prometheus' histogram_quantile() does; the last bucket gives its lower
 * bound. 0 when @hist is empty.
 */
static inline u64 causal_hist_quantile(const u64 *hist, u64 num, u64 den)
{
	u64 total = 0, seen = 0, rank, lo, hi;
	u32 b;

	for (b = 0; b < CAUSAL_HIST_BUCKETS; b++)
		total += hist[b];
	if (!total)
		return 0;
	rank = (total * num + den - 1) / den;
	if (!rank)
		rank = 1;
	for (b = 0; b < CAUSAL_HIST_BUCKETS - 1; b++) {
		if (seen + hist[b] >= rank)
			break;
		seen += hist[b];
	}
	lo = causal_hist_lower(b);
	if (b == CAUSAL_HIST_BUCKETS - 1)
		return lo;
	hi = causal_hist_lower(b + 1);
	return lo + (hi - lo) * (rank - seen) / hist[b];
}

#endif /* _CAUSAL_HIST_H */
