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

/* Every event carries the vector clock as a dynamic array of u64. */
#define CAUSAL_TRACE_VCLOCK						\
	__print_array(__get_dynamic_array(vclock),			\
		      __get_dynamic_array_len(vclock) / sizeof(u64),	\
		      sizeof(u64))

DECLARE_EVENT_CLASS(causal_msg_class,
	TP_PROTO(const struct causal_endpoint *ep, const struct causal_sock *ch,
		 const struct causal_msg *m),
	TP_ARGS(ep, ch, m),
	TP_STRUCT__entry(
		__field(u32, group)
		__field(u16, node)
		__field(u16, peer)
		__field(u64, stamp)
		__field(u32, len)
		__field(u64, arrive_ns)
		__dynamic_array(u64, vclock, ep->nodes)
	),
	TP_fast_assign(
		__entry->group = ep->group;
		__entry->node = ep->node;
		__entry->peer = m->sender;
		__entry->stamp = m->vclock[m->sender];
		__entry->len = m->len;
		__entry->arrive_ns = m->arrive_ns;
		memcpy(__get_dynamic_array(vclock), m->vclock,
		       ep->nodes * sizeof(u64));
	),
	TP_printk("group=%u node=%u peer=%u stamp=%llu len=%u vclock=%s",
		  __entry->group, __entry->node, __entry->peer, __entry->stamp,
		  __entry->len,
		  CAUSAL_TRACE_VCLOCK)
);

/* A DATA frame arrived and joined its channel's hold-back queue. */
DEFINE_EVENT(causal_msg_class, causal_arrive,
	TP_PROTO(const struct causal_endpoint *ep, const struct causal_sock *ch,
		 const struct causal_msg *m),
	TP_ARGS(ep, ch, m)
);

/* A message could not be delivered at once: it waits for @wait_stamp from
 * @wait_node, another peer (its own channel's order needs no hold).
 */
TRACE_EVENT(causal_hold,
	TP_PROTO(const struct causal_endpoint *ep, const struct causal_sock *ch,
		 const struct causal_msg *m, u16 wait_node, u64 wait_stamp),
	TP_ARGS(ep, ch, m, wait_node, wait_stamp),
	TP_STRUCT__entry(
		__field(u32, group)
		__field(u16, node)
		__field(u16, peer)
		__field(u64, stamp)
		__field(u16, wait_node)
		__field(u64, wait_stamp)
		__dynamic_array(u64, vclock, ep->nodes)
	),
	TP_fast_assign(
		__entry->group = ep->group;
		__entry->node = ep->node;
		__entry->peer = m->sender;
		__entry->stamp = m->vclock[m->sender];
		__entry->wait_node = wait_node;
		__entry->wait_stamp = wait_stamp;
		memcpy(__get_dynamic_array(vclock), m->vclock,
		       ep->nodes * sizeof(u64));
	),
	TP_printk("group=%u node=%u peer=%u stamp=%llu waits_for=%u:%llu vclock=%s",
		  __entry->group, __entry->node, __entry->peer, __entry->stamp,
		  __entry->wait_node, __entry->wait_stamp,
		  CAUSAL_TRACE_VCLOCK)
);

/* A message was handed to the application. */
TRACE_EVENT(causal_deliver,
	TP_PROTO(const struct causal_endpoint *ep, const struct causal_sock *ch,
		 const struct causal_msg *m, u64 index),
	TP_ARGS(ep, ch, m, index),
	TP_STRUCT__entry(
		__field(u32, group)
		__field(u16, node)
		__field(u16, peer)
		__field(u64, stamp)
		__field(u64, index)
		__field(u64, held_ns)
		__field(bool, gap)
		__dynamic_array(u64, vclock, ep->nodes)
	),
	TP_fast_assign(
		__entry->group = ep->group;
		__entry->node = ep->node;
		__entry->peer = m->sender;
		__entry->stamp = m->vclock[m->sender];
		__entry->index = index;
		__entry->held_ns = m->ready_ns - m->arrive_ns;
		__entry->gap = m->gap;
		memcpy(__get_dynamic_array(vclock), m->vclock,
		       ep->nodes * sizeof(u64));
	),
	TP_printk("group=%u node=%u peer=%u stamp=%llu index=%llu held_ns=%llu%s vclock=%s",
		  __entry->group, __entry->node, __entry->peer, __entry->stamp,
		  __entry->index, __entry->held_ns, __entry->gap ? " gap" : "",
		  CAUSAL_TRACE_VCLOCK)
);

/* A send event: one message to @targets channels. */
TRACE_EVENT(causal_send,
	TP_PROTO(const struct causal_endpoint *ep, u16 peer, u32 len,
		 unsigned int targets, const u64 *vclock),
	TP_ARGS(ep, peer, len, targets, vclock),
	TP_STRUCT__entry(
		__field(u32, group)
		__field(u16, node)
		__field(u16, peer)
		__field(u64, stamp)
		__field(u32, len)
		__field(u32, targets)
		__dynamic_array(u64, vclock, ep->nodes)
	),
	TP_fast_assign(
		__entry->group = ep->group;
		__entry->node = ep->node;
		__entry->peer = peer;
		__entry->stamp = vclock[ep->node];
		__entry->len = len;
		__entry->targets = targets;
		memcpy(__get_dynamic_array(vclock), vclock,
		       ep->nodes * sizeof(u64));
	),
	TP_printk("group=%u node=%u peer=%u stamp=%llu len=%u targets=%u vclock=%s",
		  __entry->group, __entry->node, __entry->peer, __entry->stamp,
		  __entry->len, __entry->targets,
		  CAUSAL_TRACE_VCLOCK)
);

/* A CLOCK frame arrived from @ch's peer. */
TRACE_EVENT(causal_clock,
	TP_PROTO(const struct causal_endpoint *ep, const struct causal_sock *ch,
		 const u64 *vclock),
	TP_ARGS(ep, ch, vclock),
	TP_STRUCT__entry(
		__field(u32, group)
		__field(u16, node)
		__field(u16, peer)
		__field(u64, stamp)
		__dynamic_array(u64, vclock, ep->nodes)
	),
	TP_fast_assign(
		__entry->group = ep->group;
		__entry->node = ep->node;
		__entry->peer = ch->peer;
		__entry->stamp = vclock[ch->peer];
		memcpy(__get_dynamic_array(vclock), vclock,
		       ep->nodes * sizeof(u64));
	),
	TP_printk("group=%u node=%u peer=%u stamp=%llu vclock=%s",
		  __entry->group, __entry->node, __entry->peer, __entry->stamp,
		  CAUSAL_TRACE_VCLOCK)
);

/* A peer joined (HELLO) or left (BYE) on @ch, a TCP connection that the
 * tcp tracepoints name by the same addresses and ports.
 */
TRACE_EVENT(causal_peer,
	TP_PROTO(const struct causal_endpoint *ep, const struct causal_sock *ch,
		 bool joined),
	TP_ARGS(ep, ch, joined),
	TP_STRUCT__entry(
		__field(u32, group)
		__field(u16, node)
		__field(u16, peer)
		__field(u64, stamp)
		__field(u64, incarnation)
		__field(bool, joined)
		__field(u16, family)
		__field(u16, sport)
		__field(u16, dport)
		__array(u8, saddr, 16)
		__array(u8, daddr, 16)
		__dynamic_array(u64, vclock, ep->nodes)
	),
	TP_fast_assign(
		struct causal_link link;

		causal_link_of(ch->sk, &link);
		__entry->group = ep->group;
		__entry->node = ep->node;
		__entry->peer = ch->peer;
		__entry->stamp = ep->rule.peer[ch->peer].wm;
		__entry->incarnation = ep->rule.peer[ch->peer].incarnation;
		__entry->joined = joined;
		__entry->family = link.family;
		__entry->sport = link.sport;
		__entry->dport = link.dport;
		memcpy(__entry->saddr, link.saddr, sizeof(link.saddr));
		memcpy(__entry->daddr, link.daddr, sizeof(link.daddr));
		memcpy(__get_dynamic_array(vclock), ep->rule.peer[ch->peer].last,
		       ep->nodes * sizeof(u64));
	),
	TP_printk("group=%u node=%u peer=%u %s stamp=%llu incarnation=%llx sport=%u dport=%u vclock=%s",
		  __entry->group, __entry->node, __entry->peer,
		  __entry->joined ? "joined" : "left", __entry->stamp,
		  __entry->incarnation, __entry->sport, __entry->dport,
		  CAUSAL_TRACE_VCLOCK)
);

/* The channel failed: the peer broke the protocol. */
TRACE_EVENT(causal_error,
	TP_PROTO(const struct causal_endpoint *ep, const struct causal_sock *ch,
		 enum causal_proto_err err),
	TP_ARGS(ep, ch, err),
	TP_STRUCT__entry(
		__field(u32, group)
		__field(u16, node)
		__field(u16, peer)
		__field(u64, stamp)
		__field(u32, err)
		__dynamic_array(u64, vclock, ep->nodes)
	),
	TP_fast_assign(
		__entry->group = ep->group;
		__entry->node = ep->node;
		__entry->peer = ch->peer;
		__entry->stamp = ep->rule.clock[ep->node];
		__entry->err = err;
		memcpy(__get_dynamic_array(vclock), ep->rule.clock,
		       ep->nodes * sizeof(u64));
	),
	TP_printk("group=%u node=%u peer=%u stamp=%llu err=%s vclock=%s",
		  __entry->group, __entry->node, __entry->peer, __entry->stamp,
		  causal_proto_err_name(__entry->err),
		  CAUSAL_TRACE_VCLOCK)
);

#endif /* _CAUSAL_TRACE_H */

#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE causal_trace
#include <trace/define_trace.h>
