/* SPDX-License-Identifier: GPL-2.0 */
/*
 * causald's live model of what the events say: per group and per (node,
 * peer) hold-back latency, blame and TCP retransmits, the messages held now.
 * Every table has a fixed capacity, so a burst of events costs time, never
 * unbounded memory: what does not fit is counted in table_drops.
 */
#ifndef CAUSAL_MODEL_H
#define CAUSAL_MODEL_H

#include <stdio.h>
#include <linux/types.h>
#include <json-c/json.h>

#include "causal_event.h"

struct causal_model_limits {
	unsigned int pairs;	/* (group, node, peer) rows */
	unsigned int held;	/* messages held now */
	unsigned int links;	/* TCP connections of channels */
};

#define CAUSAL_MODEL_DEFAULT_LIMITS { .pairs = 8192, .held = 65536, .links = 16384 }

struct causal_model;

struct causal_model *causal_model_new(const struct causal_model_limits *l);
void causal_model_free(struct causal_model *m);

void causal_model_add(struct causal_model *m, const struct causal_event *ev);
/* Events the kernel dropped, as the tracer counts them. */
void causal_model_set_lost(struct causal_model *m, __u64 lost);

/* Nearest-rank percentile @p (0-100) of the holds of one row, from its
 * histogram: the upper bound of the bucket, within 12.5% of the value.
 */
__u64 causal_model_hist_pct(const __u32 *hist, __u64 count, unsigned int p);
/* Histogram bucket of @ns, and the largest value of bucket @b. */
unsigned int causal_model_bucket(__u64 ns);
__u64 causal_model_bucket_max(unsigned int b);
#define CAUSAL_MODEL_BUCKETS	(16 + 60 * 8)

/* The snapshot causalctl top shows (format in docs/tools.md). @now_ns:
 * CLOCK_MONOTONIC, for the age of held messages.
 */
struct json_object *causal_model_snapshot(struct causal_model *m, __u64 now_ns);
/* Metrics in the Prometheus text exposition format. */
void causal_model_prometheus(struct causal_model *m, FILE *out);

#endif /* CAUSAL_MODEL_H */
