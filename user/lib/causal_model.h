/* SPDX-License-Identifier: GPL-2.0 */
/*
 * causald's live model: per group and per (node, peer) hold-back latency,
 * blame and TCP retransmits, the messages held now. The counts and hold
 * times are the module's own aggregates (/proc/net/causal, read every
 * second, and causal_totals for the channels that leave between two
 * reads); the rare events (hold, peer, error, TCP) add what they alone say.
 * Every table has a fixed capacity, so a burst costs time, never unbounded
 * memory: what does not fit is counted in table_drops.
 */
#ifndef CAUSAL_MODEL_H
#define CAUSAL_MODEL_H

#include <stdio.h>
#include <linux/types.h>
#include <json-c/json.h>

#include "causal_event.h"
#include "causal_types.h"
#include "causal_hist.h"

struct causal_model_limits {
	unsigned int pairs;	/* (group, node, peer) rows */
	unsigned int channels;	/* channels, and endpoints, of the last read */
	unsigned int held;	/* messages held now */
	unsigned int links;	/* TCP connections of channels */
};

#define CAUSAL_MODEL_DEFAULT_LIMITS \
	{ .pairs = 4096, .channels = 4096, .held = 65536, .links = 16384 }

/* One channel's aggregates, as /proc/net/causal shows them (docs/api.md). */
struct causal_model_chan {
	__u64 id;
	__u32 group;
	__u16 node;
	__u16 peer;
	__u16 nodes;
	__u64 queued;
	__u64 sent;
	__u64 delivered;
	__u64 held_total;
	__u64 gaps;
	__u64 hold_sum_us;
	__u64 hold_max_us;
	__u64 hold_missed;
	__u64 blame_us[CAUSAL_EV_MAX_NODES];
	__u64 hist[CAUSAL_HIST_BUCKETS];
};

struct causal_model;

struct causal_model *causal_model_new(const struct causal_model_limits *l);
void causal_model_free(struct causal_model *m);

void causal_model_add(struct causal_model *m, const struct causal_event *ev);
/* Events the kernel dropped, as the tracer counts them. */
void causal_model_set_lost(struct causal_model *m, __u64 lost);

/*
 * A read of the module's aggregates: begin, then every network namespace's
 * /proc/net/causal (causal_model_read_procfs, or endpoint by endpoint and
 * channel by channel), then end. Drain the events first: a channel that
 * leaves is then either in the read or its causal_totals is in.
 */
void causal_model_read_begin(struct causal_model *m);
/* One /proc/net/causal; -1 with errno set if it is not in its format. */
int causal_model_read_procfs(struct causal_model *m, FILE *fp);
void causal_model_endpoint(struct causal_model *m, __u32 group, __u16 node,
			   __u16 nodes, const __u64 *clock);
void causal_model_channel(struct causal_model *m,
			  const struct causal_model_chan *c);
void causal_model_read_end(struct causal_model *m);

/* The snapshot causalctl top shows (format in docs/tools.md). @now_ns:
 * CLOCK_MONOTONIC, for the age of held messages.
 */
struct json_object *causal_model_snapshot(struct causal_model *m, __u64 now_ns);
/* Metrics in the Prometheus text exposition format. */
void causal_model_prometheus(struct causal_model *m, FILE *out);

#endif /* CAUSAL_MODEL_H */
