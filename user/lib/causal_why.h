/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Why was a delivery held (causalctl why, docs/analysis.md): its causal
 * past as a chain. The delivery waited for the message its hold event
 * names; that one, at the same node, may have waited for another; the chain
 * ends at the first that did not wait, which came late (over a slow or
 * lossy link), or at one that never came (lost, given up by a gap, never
 * sent, or sent by a node whose log is missing).
 */
#ifndef _CAUSAL_WHY_H
#define _CAUSAL_WHY_H

#include "causal_analysis.h"

#define CWHY_MAX_STEPS	64

enum cwhy_root {
	CWHY_NOT_HELD,		/* delivered as it came: nothing waited */
	CWHY_LATE,		/* the last cause waited for nothing: it came late */
	CWHY_MISSING,		/* a cause was sent and never arrived */
	CWHY_NOT_SENT,		/* its sender's log has no send of the cause */
	CWHY_NO_LOG,		/* no log of the cause's sender */
	CWHY_UNKNOWN,		/* held, but no hold event says for what */
	CWHY_LOOP,		/* the chain came back to itself (bad logs) */
};

/* One message of the chain, as the chain's node saw it. */
struct cwhy_step {
	__u16 sender;
	__u64 stamp;
	__u32 rec;		/* its reception, CLOG_NONE if it never came */
	bool has_send;		/* its send event is in the logs */
	__u32 send_host;
	__u64 send_ts;		/* on send_host's clock */
	bool arrived;
	__u64 arrive_ts;	/* on the chain's host's clock */
	bool delivered;
	__u64 deliver_ts;
	__u64 held_ns;
	bool gap;		/* delivered without all its causes */
	bool waits;		/* its hold event names what it waited for */
	bool behind;		/* or it waited behind its channel's previous */
	__u16 wait_node;	/* what it waited for */
	__u64 wait_stamp;
	bool has_transit;	/* send to arrival on one clock */
	__s64 transit_ns;
	__u64 retransmits;	/* by the sender's end of its channel, while
				 * it was on the way
				 */
};

struct cwhy_chain {
	__u32 group;
	__u16 node;
	__u32 host;		/* of the node */
	struct cwhy_step step[CWHY_MAX_STEPS];
	size_t n;
	enum cwhy_root root;
	__u64 last_send_stamp;	/* CWHY_NOT_SENT: the sender's last send, */
	__u64 last_send_ts;	/* 0 if none */
	__u32 last_send_host;
	/* Wall clock per host where its log had a meta line. */
	__u64 *wall_off;
	__u8 *has_wall;
};

/*
 * The chain of the delivery (or the reception still held) of @sender:@stamp
 * at @node of @group. 0, -ENOENT if the logs have no such reception, or
 * -ENOMEM. cwhy_free() after either of the first two.
 */
int cwhy_explain(const struct cana_index *ix, __u32 group, __u16 node,
		 __u16 sender, __u64 stamp, struct cwhy_chain *c);
void cwhy_free(struct cwhy_chain *c);

/* The delivery of @group held longest (the reception held at the end of
 * the log counts from its arrival to the node's last event): false if
 * nothing was held.
 */
bool cwhy_longest_hold(const struct cana_index *ix, __u32 group, __u16 *node,
		       __u16 *sender, __u64 *stamp);

/* "late", "missing", ...: the root's name in JSON. */
const char *cwhy_root_name(enum cwhy_root root);

/* The root in words, and the next thing to check or do. */
void cwhy_root_text(const struct clog_store *s, const struct cwhy_chain *c,
		    char *buf, size_t size);
void cwhy_advice(const struct clog_store *s, const struct cwhy_chain *c,
		 char *buf, size_t size);

/* @ts of @host: wall-clock "2026-12-03 10:00:01.123456 UTC" when its log had a
 * meta line, else monotonic seconds "123.456789".
 */
void cwhy_time_str(const struct cwhy_chain *c, __u32 host, __u64 ts,
		   char *buf, size_t size);

#endif /* _CAUSAL_WHY_H */
