/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Analysis of event logs (docs/analysis.md): hold-back latency, messages
 * still held, blame, health, anomalies, an independent happens-before check
 * and a ranking of root causes. Pure functions over a struct clog_store.
 *
 * A node is (group, node id); a message is (group, sender, stamp); a
 * reception is one message at one receiving node (its arrive, hold and
 * deliver events).
 */
#ifndef _CAUSAL_ANALYSIS_H
#define _CAUSAL_ANALYSIS_H

#include "causal_health.h"
#include "causal_log.h"

#define CANA_ALL		0xffff		/* a node field meaning "every node" */
/* Anomaly buckets: a group's run in CANA_RUN_BUCKETS, each within
 * [CANA_BUCKET_MIN_NS, CANA_BUCKET_NS], unless the caller sets a width.
 */
#define CANA_BUCKET_NS		1000000000ULL
#define CANA_BUCKET_MIN_NS	10000000ULL
#define CANA_RUN_BUCKETS	50
#define CANA_MAX_BUCKETS	100000		/* per series; buckets widen past it */
#define CANA_WARMUP		8		/* buckets before a baseline counts */
#define CANA_ALPHA		0.1		/* EWMA weight of a new bucket */
#define CANA_SIGMAS		5.0		/* a run starts above mean + 5 sd ... */
#define CANA_RATIO		3.0		/* ... and 3 times the mean ... */
#define CANA_MIN_SHARE		0.05		/* ... and 5% of the bucket's width */
#define CANA_SIGMAS_ON		2.0		/* and goes on above mean + 2 sd */
#define CANA_RATIO_ON		1.5		/* and 1.5 times the mean */
#define CANA_MIN_RUN		4		/* buckets: shorter runs are noise */
#define CANA_BLAME_OUTLIER	3.0		/* a pair's blame, x the group's median */
#define CANA_BLAME_MIN_NS	10000000ULL	/* and at least this much */
#define CANA_SLOW_P99_NS	100000000ULL	/* a group's p99 hold worth a finding */
#define CANA_HELD_NOW_NS	CANA_SLOW_P99_NS /* held at a log's end: a finding */
#define CANA_MAX_ITEMS		1000		/* listed violations, held messages */
#define CANA_ERROR_WEIGHT_NS	1000000000ULL	/* ranking weight of a failure */

/* ---------------------------------------------------------------------- */
/* Index: the events of the store arranged by node, message and reception  */
/* ---------------------------------------------------------------------- */

struct cana_node {
	__u32 group;
	__u16 node;
	__u16 nodes;		/* largest vclock size of its events */
	__u32 host;		/* of its first event */
	__u32 first, n;		/* its events in cana_index.seq */
};

struct cana_msg {
	__u32 ev;		/* the send event */
	__u32 node;		/* sender, cana_node index */
};

struct cana_rec {
	__u32 group;
	__u16 node;		/* receiver */
	__u16 sender;
	__u64 stamp;
	__u32 rnode;		/* receiver, cana_node index */
	__u32 msg;		/* cana_msg index, CLOG_NONE: no send event */
	__u32 arrive, hold, deliver;	/* first event of each, CLOG_NONE */
};

struct cana_index {
	const struct clog_store *s;
	__u32 *seq;		/* causal events by (group, node, ts, order read) */
	size_t nseq;
	struct cana_node *nodes;	/* by (group, node) */
	size_t nnodes;
	struct cana_msg *msgs;	/* by (group, sender, stamp) */
	size_t nmsgs;
	struct cana_rec *recs;	/* by (group, node, sender, stamp) */
	size_t nrecs;
	__u32 *ref;		/* event -> its msg (send) or rec, CLOG_NONE */
	__u64 *host_last;	/* string id -> last ts of that host */
	__u64 dup_sends;	/* a second send event of one message */
	__u64 dup_events;	/* a second arrive or deliver of one reception */
};

/* Index the causal events of @group (every group when !has_group). */
int cana_index_build(struct cana_index *ix, const struct clog_store *s,
		     bool has_group, __u32 group);
void cana_index_free(struct cana_index *ix);

/* The message (group, sender, stamp), CLOG_NONE if it has no send event. */
__u32 cana_find_msg(const struct cana_index *ix, __u32 group, __u16 sender,
		    __u64 stamp);

/* The reception of (group, sender, stamp) at @node, the index of @node;
 * CLOG_NONE if the logs have none.
 */
__u32 cana_find_rec(const struct cana_index *ix, __u32 group, __u16 node,
		    __u16 sender, __u64 stamp);
__u32 cana_find_node(const struct cana_index *ix, __u32 group, __u16 node);

/* When a reception arrived (its arrive event, or its delivery less its
 * hold); false if it has neither.
 */
bool cana_rec_arrival(const struct cana_index *ix, const struct cana_rec *rc,
		      __u64 *ts);

/* Each host's CLOCK_REALTIME - CLOCK_MONOTONIC from its meta line, by
 * string id, and whether it has one: calloc'd arrays for the caller to
 * free. 0 or -ENOMEM.
 */
int cana_host_offsets(const struct clog_store *s, __u64 **off, __u8 **has);

/*
 * Visit the events of nodes [first, first + count) whose type bit is in
 * @types, each node's in its own order, every send before the deliveries of
 * its message: a topological order of happens-before. A delivery that comes
 * before its own send in that order (only inconsistent logs do that) is
 * visited with @cycle set, at the point where the walk cannot go on
 * otherwise. Returns the number of such deliveries, or -ENOMEM.
 */
typedef void (*cana_visit_fn)(void *ctx, __u32 node, __u32 ev, bool cycle);
long cana_walk(const struct cana_index *ix, size_t first, size_t count,
	       __u32 types, cana_visit_fn fn, void *ctx);

/* ---------------------------------------------------------------------- */
/* Results                                                                 */
/* ---------------------------------------------------------------------- */

struct cana_opts {
	bool has_group;
	__u32 group;
	__u64 bucket_ns;	/* 0: fitted to each group's run */
	size_t max_items;	/* 0: CANA_MAX_ITEMS */
};

/* held_ns of deliveries, nearest-rank percentiles. */
struct cana_lat {
	__u64 count;		/* deliveries */
	__u64 held;		/* of which held_ns > 0 */
	__u64 p50, p99, max;	/* over all deliveries, zero holds included */
	__u64 held_p50, held_p99;	/* over held deliveries only */
	__u64 total_ns;
};

struct cana_peer_lat {		/* node's deliveries of peer's messages */
	__u32 group;
	__u16 node, peer;
	__u32 host;
	struct cana_lat lat;
};

struct cana_held {		/* arrived, not delivered at the end */
	__u32 group;
	__u16 node, sender;
	__u64 stamp;
	__u32 host;
	__u64 arrive_ts;
	__u64 age_ns;		/* the host's last ts - arrive_ts */
	bool has_wait;
	__u16 wait_node;
	__u64 wait_stamp;
};

struct cana_blame {
	__u32 group;
	__u16 node;		/* the node that held; CANA_ALL in totals */
	__u16 peer;		/* the node it waited for */
	__u32 host;		/* of node */
	__u64 hold_ns;
	__u64 msgs;
	double share;		/* of the group's hold time, 0..1 */
	__u64 retransmits;	/* pairs: by peer's end of their links */
	__u64 retransmits_back;	/* by node's end */
	__u64 resets;
	__u64 first_hold_ts;	/* pairs: the earliest hold, on host's clock */
	bool has_link;
	struct causal_ev_link link;	/* peer's end first */
};

struct cana_anomaly {
	__u32 group;
	__u16 peer;
	__u64 start_ns;		/* of the first flagged bucket, from group start */
	__u64 bucket_ns;
	__u32 buckets;		/* consecutive flagged buckets */
	__u64 peak_ns;		/* blamed hold time of the largest one */
	__u64 mean_ns, sd_ns;	/* the baseline before the first one */
	__u64 excess_ns;	/* sum over the run of bucket - mean */
	bool wall;		/* times are wall clock (every host had a meta) */
};

struct cana_violation {
	__u32 group;
	__u16 node;		/* where it happened */
	__u32 host;
	__u16 sender;		/* the message delivered too early */
	__u64 stamp;
	__u64 deliver_ts;
	__u16 cause_sender;	/* a cause that had arrived and was not yet
				 * delivered
				 */
	__u64 cause_stamp;
	__u64 cause_arrive_ts;
	bool cause_delivered;	/* later, at cause_deliver_ts */
	__u64 cause_deliver_ts;
};

struct cana_check {
	__u64 checked;		/* deliveries checked */
	__u64 violations;
	__u64 gap_exempt;	/* gap deliveries: not checked */
	__u64 gap_excused;	/* causes given up by an earlier gap */
	__u64 lost;		/* events lost by the tracer */
	__u64 no_send;		/* arrivals and deliveries without a send */
	__u64 inconsistent;	/* duplicates, stamps out of order, cycles */
};

static inline bool cana_complete(const struct cana_check *c)
{
	return !c->lost && !c->no_send && !c->inconsistent;
}

struct cana_group {
	__u32 group;
	__u16 nodes;
	__u64 sends, arrivals, holds, deliveries, gaps, errors;
	__u64 resets, retransmits;	/* on the group's links */
	__u64 resets_mid;	/* resets before the hosts' last messages */
	__u64 channels;		/* (node, peer) pairs seen */
	__u64 held_now;
	__u64 hold_ns;		/* total held_ns */
	__u64 unattributed_ns;	/* of deliveries without a hold event */
	__u64 pair_median_ns;	/* median blame of its channels, 0 included */
	__u64 outliers;		/* pairs whose blame stands out: findings */
	struct cana_lat lat;
	struct cana_check check;
	struct causal_health health;
};

enum cana_finding_kind {
	CANA_F_VIOLATION,
	CANA_F_HELD,
	CANA_F_BLAME,
	CANA_F_ANOMALY,
	CANA_F_ERROR,
	CANA_F_RESET,
	CANA_F_GAP,
	CANA_F_SLOW,
	CANA_F_NO_LOG,
	CANA_F_KINDS
};

/* "violation", "held", ...: a kind's name in JSON. */
const char *cana_finding_name(enum cana_finding_kind kind);

/* What happened and how bad (text), since when, and what to do next. */
struct cana_finding {
	enum cana_finding_kind kind;
	__u32 group;
	__u64 weight_ns;	/* hold time it explains; ranking key */
	__u32 since_host;	/* CLOG_NONE: no time */
	__u64 since_ts;		/* on since_host's clock */
	__u64 since_wall_ns;	/* the same in wall clock, 0: no meta line */
	char text[384];
	char advice[320];
};

/* "2026-12-03 10:00:01.123456 UTC" */
void cana_wall_str(__u64 wall_ns, char *buf, size_t size);

/* A finding's time: "2026-12-03 10:00:01.123456 UTC" from @wall_ns, or
 * "123.456789 s on h1's clock" when the host's log had no meta line.
 */
void cana_time_str(const struct clog_store *s, __u32 host, __u64 ts,
		   __u64 wall_ns, char *buf, size_t size);

struct cana_result {
	__u64 events;			/* selected */
	__u64 by_type[CAUSAL_EV_TYPES];
	struct cana_check check;	/* over every group */
	struct cana_group *groups;
	size_t ngroups;
	struct cana_peer_lat *lat;
	size_t nlat;
	struct cana_held *held;		/* oldest first, at most max_items */
	size_t nheld;
	__u64 held_total;
	struct cana_blame *blame;	/* per (group, peer), largest first */
	size_t nblame;
	struct cana_blame *pairs;	/* per (group, node, peer), largest first */
	size_t npairs;
	struct cana_anomaly *anomalies;
	size_t nanomalies;
	struct cana_violation *viol;	/* at most max_items */
	size_t nviol;
	struct cana_finding *findings;	/* heaviest first */
	size_t nfindings;
};

/* True when nothing about @group is worth a finding. */
bool cana_group_healthy(const struct cana_result *r, __u32 group);

/* NULL with errno ENOMEM. */
struct cana_result *cana_analyze(const struct clog_store *s,
				 const struct cana_opts *o);
void cana_free(struct cana_result *r);

/* A run of flagged buckets of one series (indices into it). */
struct cana_run {
	size_t first, len;
	__u64 peak_ns, mean_ns, sd_ns, excess_ns;
};

/*
 * The anomaly detector on one series of per-bucket blamed hold time: the
 * baseline is the mean and variance of the first CANA_WARMUP buckets, then
 * an EWMA (CANA_ALPHA) of the buckets not flagged. A run of flagged buckets
 * starts at one of at least @min_ns, above mean + CANA_SIGMAS sd and above
 * CANA_RATIO times the mean, and goes on while the buckets stay above
 * mean + CANA_SIGMAS_ON sd and CANA_RATIO_ON times the mean, so an
 * incident's noisy middle does not split it. Writes at most @max runs,
 * returns how many there are. The analysis keeps the runs of at least
 * CANA_MIN_RUN buckets: on generated logs shorter ones were all noise,
 * incidents eight buckets or more.
 */
size_t cana_anomaly_runs(const __u64 *x, size_t n, __u64 min_ns,
			 struct cana_run *out, size_t max);

/* Nearest rank: the smallest value with at least p% of @n at or below it. */
__u64 cana_percentile(const __u64 *sorted, size_t n, unsigned int p);

/* "850 ms", "4.1 s", "12 us", "300 ns". */
void cana_fmt_ns(__u64 ns, char *buf, size_t size);

/* The sentence of one violation, for reports. */
void cana_violation_str(const struct clog_store *s,
			const struct cana_violation *v, char *buf, size_t size);

#endif /* _CAUSAL_ANALYSIS_H */
