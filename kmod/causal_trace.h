/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Tracepoints of the causal ULP: the stable interface for bpf/, bpftrace and
 * perf. Every event carries the group, the local node, the peer, a stamp and
 * a vector clock.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM causal

#if !defined(_CAUSAL_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _CAUSAL_TRACE_H

#include <linux/tracepoint.h>

#include "causal.h"

/* Protocol errors by name, for perf and trace-cmd as for /proc. */
#undef EM
#undef EM_LAST
#define EM(value, name)		TRACE_DEFINE_ENUM(value);
#define EM_LAST(value, name)	TRACE_DEFINE_ENUM(value);
CAUSAL_PROTO_ERR_NAMES

#undef EM
#undef EM_LAST
#define EM(value, name)		{ value, name },
#define EM_LAST(value, name)	{ value, name }

/* Every event carries the vector clock as a dynamic array of u64, and its
 * length as a field: libtraceevent (perf, trace-cmd) parses neither an
 * expression on __get_dynamic_array_len() nor sizeof() in a format.
 */
#define CAUSAL_TRACE_VCLOCK						\
	__print_array(__get_dynamic_array(vclock), __entry->nodes, 8)

/*
 * The arguments are plain values and the clock, not our objects, so that
 * BPF programs can attach as raw tracepoints (no record is built for them:
 * bpf/causal.bpf.c) without knowing this module's structures, which have no
 * BTF on every kernel. They are an ABI, written once in
 * lib/causal_tp_args.h for the module, the programs and their loader.
 */
/* A DATA frame from @peer arrived and joined its channel's hold-back queue. */
TRACE_EVENT(causal_arrive,
	TP_PROTO(CAUSAL_TP_ARRIVE),
	TP_ARGS(group, node, nodes, peer, stamp, len, arrive_ns, vclock),
	TP_STRUCT__entry(
		__field(u32, group)
		__field(u16, node)
		__field(u16, peer)
		__field(u16, nodes)
		__field(u64, stamp)
		__field(u32, len)
		__field(u64, arrive_ns)
		__dynamic_array(u64, vclock, nodes)
	),
	TP_fast_assign(
		__entry->group = group;
		__entry->node = node;
		__entry->peer = peer;
		__entry->nodes = nodes;
		__entry->stamp = stamp;
		__entry->len = len;
		__entry->arrive_ns = arrive_ns;
		memcpy(__get_dynamic_array(vclock), vclock, nodes * sizeof(u64));
	),
	TP_printk("group=%u node=%u peer=%u stamp=%llu len=%u vclock=%s",
		  __entry->group, __entry->node, __entry->peer, __entry->stamp,
		  __entry->len,
		  CAUSAL_TRACE_VCLOCK)
);

/* A message could not be delivered at once: it waits for @wait_stamp from
 * @wait_node, another peer (its own channel's order needs no hold).
 */
TRACE_EVENT(causal_hold,
	TP_PROTO(CAUSAL_TP_HOLD),
	TP_ARGS(group, node, nodes, peer, stamp, wait_node, wait_stamp, vclock),
	TP_STRUCT__entry(
		__field(u32, group)
		__field(u16, node)
		__field(u16, peer)
		__field(u16, nodes)
		__field(u64, stamp)
		__field(u16, wait_node)
		__field(u64, wait_stamp)
		__dynamic_array(u64, vclock, nodes)
	),
	TP_fast_assign(
		__entry->group = group;
		__entry->node = node;
		__entry->peer = peer;
		__entry->nodes = nodes;
		__entry->stamp = stamp;
		__entry->wait_node = wait_node;
		__entry->wait_stamp = wait_stamp;
		memcpy(__get_dynamic_array(vclock), vclock, nodes * sizeof(u64));
	),
	TP_printk("group=%u node=%u peer=%u stamp=%llu waits_for=%u:%llu vclock=%s",
		  __entry->group, __entry->node, __entry->peer, __entry->stamp,
		  __entry->wait_node, __entry->wait_stamp,
		  CAUSAL_TRACE_VCLOCK)
);

/* A message was handed to the application. */
TRACE_EVENT(causal_deliver,
	TP_PROTO(CAUSAL_TP_DELIVER),
	TP_ARGS(group, node, nodes, peer, stamp, index, held_ns, gap, vclock),
	TP_STRUCT__entry(
		__field(u32, group)
		__field(u16, node)
		__field(u16, peer)
		__field(u16, nodes)
		__field(u64, stamp)
		__field(u64, index)
		__field(u64, held_ns)
		__field(bool, gap)
		__dynamic_array(u64, vclock, nodes)
	),
	TP_fast_assign(
		__entry->group = group;
		__entry->node = node;
		__entry->peer = peer;
		__entry->nodes = nodes;
		__entry->stamp = stamp;
		__entry->index = index;
		__entry->held_ns = held_ns;
		__entry->gap = gap;
		memcpy(__get_dynamic_array(vclock), vclock, nodes * sizeof(u64));
	),
	TP_printk("group=%u node=%u peer=%u stamp=%llu index=%llu held_ns=%llu%s vclock=%s",
		  __entry->group, __entry->node, __entry->peer, __entry->stamp,
		  __entry->index, __entry->held_ns, __entry->gap ? " gap" : "",
		  CAUSAL_TRACE_VCLOCK)
);

/* A read's deliveries, those of its causal_deliver events, in one: for
 * raw attachments that take every event (causald --audit), which cost a
 * program run per event. The record names the range; @d and @vclocks
 * have the rest.
 */
TRACE_EVENT(causal_deliver_batch,
	TP_PROTO(CAUSAL_TP_DELIVER_BATCH),
	TP_ARGS(group, node, nodes, count, d, vclocks),
	TP_STRUCT__entry(
		__field(u32, group)
		__field(u16, node)
		__field(u16, nodes)
		__field(u32, count)
		__field(u64, first_index)
		__field(u64, last_index)
	),
	TP_fast_assign(
		__entry->group = group;
		__entry->node = node;
		__entry->nodes = nodes;
		__entry->count = count;
		__entry->first_index = d[0].index;
		__entry->last_index = d[count - 1].index;
	),
	TP_printk("group=%u node=%u count=%u index=%llu..%llu",
		  __entry->group, __entry->node, __entry->count,
		  __entry->first_index, __entry->last_index)
);

/* A send event: one message to @targets channels (@peer: CAUSAL_PEER_NONE
 * for a broadcast).
 */
TRACE_EVENT(causal_send,
	TP_PROTO(CAUSAL_TP_SEND),
	TP_ARGS(group, node, nodes, peer, stamp, len, targets, send_ns, vclock),
	TP_STRUCT__entry(
		__field(u32, group)
		__field(u16, node)
		__field(u16, peer)
		__field(u16, nodes)
		__field(u64, stamp)
		__field(u32, len)
		__field(u32, targets)
		__dynamic_array(u64, vclock, nodes)
	),
	TP_fast_assign(
		__entry->group = group;
		__entry->node = node;
		__entry->peer = peer;
		__entry->nodes = nodes;
		__entry->stamp = stamp;
		__entry->len = len;
		__entry->targets = targets;
		memcpy(__get_dynamic_array(vclock), vclock, nodes * sizeof(u64));
	),
	TP_printk("group=%u node=%u peer=%u stamp=%llu len=%u targets=%u vclock=%s",
		  __entry->group, __entry->node, __entry->peer, __entry->stamp,
		  __entry->len, __entry->targets,
		  CAUSAL_TRACE_VCLOCK)
);

/* A CLOCK frame arrived from @peer. */
TRACE_EVENT(causal_clock,
	TP_PROTO(CAUSAL_TP_CLOCK),
	TP_ARGS(group, node, nodes, peer, stamp, vclock),
	TP_STRUCT__entry(
		__field(u32, group)
		__field(u16, node)
		__field(u16, peer)
		__field(u16, nodes)
		__field(u64, stamp)
		__dynamic_array(u64, vclock, nodes)
	),
	TP_fast_assign(
		__entry->group = group;
		__entry->node = node;
		__entry->peer = peer;
		__entry->nodes = nodes;
		__entry->stamp = stamp;
		memcpy(__get_dynamic_array(vclock), vclock, nodes * sizeof(u64));
	),
	TP_printk("group=%u node=%u peer=%u stamp=%llu vclock=%s",
		  __entry->group, __entry->node, __entry->peer, __entry->stamp,
		  CAUSAL_TRACE_VCLOCK)
);

/* @peer joined (HELLO) or left (BYE) on the TCP connection @link, which the
 * tcp tracepoints name by the same addresses and ports.
 */
TRACE_EVENT(causal_peer,
	TP_PROTO(CAUSAL_TP_PEER),
	TP_ARGS(group, node, nodes, peer, stamp, incarnation, joined, link, vclock),
	TP_STRUCT__entry(
		__field(u32, group)
		__field(u16, node)
		__field(u16, peer)
		__field(u16, nodes)
		__field(u64, stamp)
		__field(u64, incarnation)
		__field(bool, joined)
		__field(u16, family)
		__field(u16, sport)
		__field(u16, dport)
		__array(u8, saddr, 16)
		__array(u8, daddr, 16)
		__dynamic_array(u64, vclock, nodes)
	),
	TP_fast_assign(
		__entry->group = group;
		__entry->node = node;
		__entry->peer = peer;
		__entry->nodes = nodes;
		__entry->stamp = stamp;
		__entry->incarnation = incarnation;
		__entry->joined = joined;
		__entry->family = link->family;
		__entry->sport = link->sport;
		__entry->dport = link->dport;
		memcpy(__entry->saddr, link->saddr, sizeof(link->saddr));
		memcpy(__entry->daddr, link->daddr, sizeof(link->daddr));
		memcpy(__get_dynamic_array(vclock), vclock, nodes * sizeof(u64));
	),
	TP_printk("group=%u node=%u peer=%u %s stamp=%llu incarnation=%llx sport=%u dport=%u vclock=%s",
		  __entry->group, __entry->node, __entry->peer,
		  __entry->joined ? "joined" : "left", __entry->stamp,
		  __entry->incarnation, __entry->sport, __entry->dport,
		  CAUSAL_TRACE_VCLOCK)
);

/* The channel to @peer failed: the peer broke the protocol. */
TRACE_EVENT(causal_error,
	TP_PROTO(CAUSAL_TP_ERROR),
	TP_ARGS(group, node, nodes, peer, stamp, err, vclock),
	TP_STRUCT__entry(
		__field(u32, group)
		__field(u16, node)
		__field(u16, peer)
		__field(u16, nodes)
		__field(u64, stamp)
		__field(u32, err)
		__dynamic_array(u64, vclock, nodes)
	),
	TP_fast_assign(
		__entry->group = group;
		__entry->node = node;
		__entry->peer = peer;
		__entry->nodes = nodes;
		__entry->stamp = stamp;
		__entry->err = err;
		memcpy(__get_dynamic_array(vclock), vclock, nodes * sizeof(u64));
	),
	TP_printk("group=%u node=%u peer=%u stamp=%llu err=%s vclock=%s",
		  __entry->group, __entry->node, __entry->peer, __entry->stamp,
		  __print_symbolic(__entry->err, CAUSAL_PROTO_ERR_NAMES),
		  CAUSAL_TRACE_VCLOCK)
);

/* A channel left its endpoint (its owner closed it): its aggregates, final.
 * Fires once per channel that had a peer, so that a reader of
 * /proc/net/causal loses nothing of a channel that goes between two reads.
 * The hold-time histogram (CAUSAL_HIST_BUCKETS counts) is too large for a
 * trace record: raw attachments (BPF) get it as @hold_hist.
 */
TRACE_EVENT(causal_totals,
	TP_PROTO(CAUSAL_TP_TOTALS),
	TP_ARGS(group, node, nodes, peer, stamp, totals, blame_us, hold_hist,
		vclock),
	TP_STRUCT__entry(
		__field(u32, group)
		__field(u16, node)
		__field(u16, peer)
		__field(u16, nodes)
		__field(u64, stamp)
		__field(u64, id)
		__field(u64, sent)
		__field(u64, delivered)
		__field(u64, held)
		__field(u64, gaps)
		__field(u64, errors)
		__field(u64, hold_sum_us)
		__field(u64, hold_max_us)
		__field(u64, hold_missed)
		__dynamic_array(u64, blame_us, nodes)
		__dynamic_array(u64, vclock, nodes)
	),
	TP_fast_assign(
		__entry->group = group;
		__entry->node = node;
		__entry->peer = peer;
		__entry->nodes = nodes;
		__entry->stamp = stamp;
		__entry->id = totals->id;
		__entry->sent = totals->sent;
		__entry->delivered = totals->delivered;
		__entry->held = totals->held;
		__entry->gaps = totals->gaps;
		__entry->errors = totals->errors;
		__entry->hold_sum_us = totals->hold_sum_us;
		__entry->hold_max_us = totals->hold_max_us;
		__entry->hold_missed = totals->hold_missed;
		memcpy(__get_dynamic_array(blame_us), blame_us,
		       nodes * sizeof(u64));
		memcpy(__get_dynamic_array(vclock), vclock, nodes * sizeof(u64));
	),
	TP_printk("group=%u node=%u peer=%u id=%llu sent=%llu delivered=%llu held=%llu gaps=%llu errors=%llu hold_sum_us=%llu hold_max_us=%llu blame_us=%s vclock=%s",
		  __entry->group, __entry->node, __entry->peer, __entry->id,
		  __entry->sent, __entry->delivered, __entry->held,
		  __entry->gaps, __entry->errors, __entry->hold_sum_us,
		  __entry->hold_max_us,
		  __print_array(__get_dynamic_array(blame_us), __entry->nodes, 8),
		  CAUSAL_TRACE_VCLOCK)
);

#endif /* _CAUSAL_TRACE_H */

#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE causal_trace
#include <trace/define_trace.h>
