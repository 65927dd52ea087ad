/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The health score of a group (0-100), one formula for causald and
 * causalctl analyze (docs/analysis.md):
 *
 *   100 - latency - held - gaps - errors, at least 0; 0 with any violation
 *   latency = 40 * clamp(log10(p99 hold in ms) / 3, 0, 1)   1 ms: 0, 1 s: 40
 *   held    = 20 * held deliveries / deliveries
 *   gaps    = 20 * min(1, 10 * gap deliveries / deliveries)
 *   errors  = 20 * min(1, (channel failures + TCP resets) / channels)
 */
#ifndef CAUSAL_HEALTH_H
#define CAUSAL_HEALTH_H

#include <stddef.h>
#include <linux/types.h>

struct causal_health_in {
	__u64 deliveries;
	__u64 held;		/* deliveries that waited (held_ns > 0) */
	__u64 gaps;
	__u64 p99_hold_ns;
	__u64 errors;		/* channel failures and TCP resets */
	__u64 channels;		/* channels seen (at least 1 counted) */
	__u64 violations;
};

struct causal_health {
	unsigned int score;	/* 0-100 */
	double latency, held, gaps, errors;	/* points taken off */
	char reason[160];	/* the biggest deduction, in words */
};

void causal_health_score(const struct causal_health_in *in,
			 struct causal_health *out);

#endif /* CAUSAL_HEALTH_H */
