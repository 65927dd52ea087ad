// SPDX-License-Identifier: GPL-2.0
/*
 * Events of the causal ULP and of the TCP connections under it, to a ring
 * buffer read by causald and causalctl. The module's tracepoints are read
 * with the layouts of causal_tp.h (checked against tracefs by user space);
 * the kernel's TCP tracepoints through CO-RE, so one object runs on 6.1,
 * 6.12 and newer kernels.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#include "causal_event.h"
#include "causal_tp.h"

#define AF_INET		2
#define AF_INET6	10
#define IPPROTO_TCP	6
#define TCP_CLOSE	7

/* Filters, set by user space before loading. */
const volatile bool filter_group;
const volatile __u32 targ_group;
const volatile bool filter_node;
const volatile __u16 targ_node;
const volatile __u32 targ_pid;		/* tgid, 0: any */
const volatile __u32 ev_mask = CAUSAL_EV_ALL;
const volatile bool tcp_all;		/* TCP events of every connection */
/* Wake the reader when the queue grows past this; it also polls on a
 * timer, so a burst costs a wakeup per batch, not per event.
 */
const volatile __u32 wakeup_bytes = 64 << 10;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20);	/* resized by user space */
} events SEC(".maps");

/* Events the ring buffer had no room for. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} lost SEC(".maps");

/* The connections of causal channels: TCP events are kept for these only,
 * unless tcp_all. Filled from peer events and by user space from
 * /proc/net/causal for channels older than the tracer.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct causal_ev_link);
	__type(value, __u32);		/* group */
} links SEC(".maps");

/* Endpoints (group << 16 | node) of the traced pid: their receive-side
 * events, which fire in softirq, follow the pid filter through this.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, __u8);
} pid_endpoints SEC(".maps");

static __always_inline bool type_wanted(__u32 type)
{
	return ev_mask & CAUSAL_EV_BIT(type);
}

static __always_inline void submit(struct causal_event *ev)
{
	/* Queued data includes this record: wake on crossing the mark only.
	 * A crossing missed by racing CPUs waits for the reader's timer.
	 */
	__u64 queued = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);
	bool crossed = queued >= wakeup_bytes &&
		       queued < wakeup_bytes + sizeof(*ev) + 8;

	bpf_ringbuf_submit(ev, crossed ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP);
}

static __always_inline struct causal_event *reserve(__u32 type)
{
	struct causal_event *ev;
	__u32 zero = 0;
	__u64 *n;

	ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);
	if (!ev) {
		n = bpf_map_lookup_elem(&lost, &zero);
		if (n)
			(*n)++;
		return NULL;
	}
	__builtin_memset(ev, 0, offsetof(struct causal_event, vclock));
	ev->ts_ns = bpf_ktime_get_ns();
	ev->type = type;
	return ev;
}

/* The group, node and pid filters for a module event. @task: the event
 * fires in the context of the task it describes (send, deliver).
 */
static __always_inline bool causal_wanted(__u32 type, __u32 group, __u16 node,
					  bool task)
{
	__u64 ep = (__u64)group << 16 | node;
	__u8 one = 1;

	if (!type_wanted(type))
		return false;
	if (filter_group && group != targ_group)
		return false;
	if (filter_node && node != targ_node)
		return false;
	if (!targ_pid)
		return true;
	if (task && bpf_get_current_pid_tgid() >> 32 == targ_pid) {
		bpf_map_update_elem(&pid_endpoints, &ep, &one, BPF_ANY);
		return true;
	}
	return !task && bpf_map_lookup_elem(&pid_endpoints, &ep);
}

static __always_inline void fill_task(struct causal_event *ev)
{
	ev->pid = bpf_get_current_pid_tgid() >> 32;
	bpf_get_current_comm(ev->comm, sizeof(ev->comm));
}

/* The vector clock of a module event: a __data_loc array of u64. */
static __always_inline void fill_vclock(struct causal_event *ev, void *ctx,
					__u32 data_loc)
{
	__u32 off = data_loc & 0xffff, len = data_loc >> 16;

	if (len > sizeof(ev->vclock))
		len = sizeof(ev->vclock);
	len &= ~7U;
	ev->nodes = len / sizeof(__u64);
	if (len)
		bpf_probe_read_kernel(ev->vclock, len, ctx + off);
}

#define FILL_COMMON(ev, tp)			\
	do {					\
		(ev)->group = (tp)->group;	\
		(ev)->node = (tp)->node;	\
		(ev)->peer = (tp)->peer;	\
		(ev)->stamp = (tp)->stamp;	\
	} while (0)

SEC("tracepoint/causal/causal_send")
int causal_send(struct causal_tp_send *tp)
{
	struct causal_event *ev;

	if (!causal_wanted(CAUSAL_EV_SEND, tp->group, tp->node, true))
		return 0;
	ev = reserve(CAUSAL_EV_SEND);
	if (!ev)
		return 0;
	FILL_COMMON(ev, tp);
	fill_task(ev);
	ev->len = tp->len;
	ev->targets = tp->targets;
	fill_vclock(ev, tp, tp->data_loc_vclock);
	submit(ev);
	return 0;
}

SEC("tracepoint/causal/causal_arrive")
int causal_arrive(struct causal_tp_msg *tp)
{
	struct causal_event *ev;

	if (!causal_wanted(CAUSAL_EV_ARRIVE, tp->group, tp->node, false))
		return 0;
	ev = reserve(CAUSAL_EV_ARRIVE);
	if (!ev)
		return 0;
	FILL_COMMON(ev, tp);
	ev->len = tp->len;
	fill_vclock(ev, tp, tp->data_loc_vclock);
	submit(ev);
	return 0;
}

SEC("tracepoint/causal/causal_hold")
int causal_hold(struct causal_tp_hold *tp)
{
	struct causal_event *ev;

	if (!causal_wanted(CAUSAL_EV_HOLD, tp->group, tp->node, false))
		return 0;
	ev = reserve(CAUSAL_EV_HOLD);
	if (!ev)
		return 0;
	FILL_COMMON(ev, tp);
	ev->wait_node = tp->wait_node;
	ev->wait_stamp = tp->wait_stamp;
	fill_vclock(ev, tp, tp->data_loc_vclock);
	submit(ev);
	return 0;
}

SEC("tracepoint/causal/causal_deliver")
int causal_deliver(struct causal_tp_deliver *tp)
{
	struct causal_event *ev;

	if (!causal_wanted(CAUSAL_EV_DELIVER, tp->group, tp->node, true))
		return 0;
	ev = reserve(CAUSAL_EV_DELIVER);
	if (!ev)
		return 0;
	FILL_COMMON(ev, tp);
	fill_task(ev);
	ev->index = tp->index;
	ev->held_ns = tp->held_ns;
	ev->gap = tp->gap;
	fill_vclock(ev, tp, tp->data_loc_vclock);
	submit(ev);
	return 0;
}

SEC("tracepoint/causal/causal_clock")
int causal_clock(struct causal_tp_clock *tp)
{
	struct causal_event *ev;

	if (!causal_wanted(CAUSAL_EV_CLOCK, tp->group, tp->node, false))
		return 0;
	ev = reserve(CAUSAL_EV_CLOCK);
	if (!ev)
		return 0;
	FILL_COMMON(ev, tp);
	fill_vclock(ev, tp, tp->data_loc_vclock);
	submit(ev);
	return 0;
}

SEC("tracepoint/causal/causal_peer")
int causal_peer(struct causal_tp_peer *tp)
{
	struct causal_ev_link link = {};
	struct causal_event *ev;

	if (!causal_wanted(CAUSAL_EV_PEER, tp->group, tp->node, false))
		return 0;
	link.family = tp->family;
	link.sport = tp->sport;
	link.dport = tp->dport;
	__builtin_memcpy(link.saddr, tp->saddr, sizeof(link.saddr));
	__builtin_memcpy(link.daddr, tp->daddr, sizeof(link.daddr));
	if (tp->joined) {
		__u32 group = tp->group;

		bpf_map_update_elem(&links, &link, &group, BPF_ANY);
	}
	ev = reserve(CAUSAL_EV_PEER);
	if (!ev)
		return 0;
	FILL_COMMON(ev, tp);
	ev->joined = tp->joined;
	ev->incarnation = tp->incarnation;
	ev->link = link;
	fill_vclock(ev, tp, tp->data_loc_vclock);
	submit(ev);
	return 0;
}

SEC("tracepoint/causal/causal_error")
int causal_error(struct causal_tp_error *tp)
{
	struct causal_event *ev;

	if (!causal_wanted(CAUSAL_EV_ERROR, tp->group, tp->node, false))
		return 0;
	ev = reserve(CAUSAL_EV_ERROR);
	if (!ev)
		return 0;
	FILL_COMMON(ev, tp);
	ev->err = tp->err;
	fill_vclock(ev, tp, tp->data_loc_vclock);
	submit(ev);
	return 0;
}

/* ---- TCP ---- */

/* tcp_retransmit_skb up to 6.13 (class tcp_event_sk_skb) and since 6.14
 * (its own event, with err); CO-RE picks the one the kernel has.
 */
struct trace_event_raw_tcp_event_sk_skb___old {
	int state;
	__u16 sport;
	__u16 dport;
	__u16 family;
	__u8 saddr[4];
	__u8 daddr[4];
	__u8 saddr_v6[16];
	__u8 daddr_v6[16];
} __attribute__((preserve_access_index));

struct trace_event_raw_tcp_retransmit_skb___new {
	int state;
	__u16 sport;
	__u16 dport;
	__u16 family;
	__u8 saddr[4];
	__u8 daddr[4];
	__u8 saddr_v6[16];
	__u8 daddr_v6[16];
} __attribute__((preserve_access_index));

#define READ_LINK(link, tp)						\
	do {								\
		(link)->family = BPF_CORE_READ(tp, family);		\
		(link)->sport = BPF_CORE_READ(tp, sport);		\
		(link)->dport = BPF_CORE_READ(tp, dport);		\
		if ((link)->family == AF_INET6) {			\
			bpf_core_read((link)->saddr, 16, &(tp)->saddr_v6); \
			bpf_core_read((link)->daddr, 16, &(tp)->daddr_v6); \
		} else {						\
			bpf_core_read((link)->saddr, 4, &(tp)->saddr);	\
			bpf_core_read((link)->daddr, 4, &(tp)->daddr);	\
		}							\
	} while (0)

static __always_inline bool tcp_wanted(__u32 type,
				       const struct causal_ev_link *link)
{
	return type_wanted(type) &&
	       (tcp_all || bpf_map_lookup_elem(&links, link));
}

SEC("tracepoint/tcp/tcp_retransmit_skb")
int tcp_retransmit(void *ctx)
{
	struct causal_ev_link link = {};
	struct causal_event *ev;
	int state;

	if (bpf_core_type_exists(struct trace_event_raw_tcp_retransmit_skb___new)) {
		struct trace_event_raw_tcp_retransmit_skb___new *tp = ctx;

		READ_LINK(&link, tp);
		state = BPF_CORE_READ(tp, state);
	} else {
		struct trace_event_raw_tcp_event_sk_skb___old *tp = ctx;

		READ_LINK(&link, tp);
		state = BPF_CORE_READ(tp, state);
	}
	if (!tcp_wanted(CAUSAL_EV_TCP_RETRANSMIT, &link))
		return 0;
	ev = reserve(CAUSAL_EV_TCP_RETRANSMIT);
	if (!ev)
		return 0;
	ev->peer = CAUSAL_EV_NO_PEER;
	ev->link = link;
	ev->tcp_state = state;
	submit(ev);
	return 0;
}

SEC("tracepoint/sock/inet_sock_set_state")
int tcp_state(struct trace_event_raw_inet_sock_set_state *tp)
{
	struct causal_ev_link link = {};
	struct causal_event *ev;
	bool wanted;

	if (BPF_CORE_READ(tp, protocol) != IPPROTO_TCP)
		return 0;
	READ_LINK(&link, tp);
	wanted = tcp_wanted(CAUSAL_EV_TCP_STATE, &link);
	if (BPF_CORE_READ(tp, newstate) == TCP_CLOSE)
		bpf_map_delete_elem(&links, &link);
	if (!wanted)
		return 0;
	ev = reserve(CAUSAL_EV_TCP_STATE);
	if (!ev)
		return 0;
	ev->peer = CAUSAL_EV_NO_PEER;
	ev->link = link;
	ev->tcp_oldstate = BPF_CORE_READ(tp, oldstate);
	ev->tcp_state = BPF_CORE_READ(tp, newstate);
	submit(ev);
	return 0;
}

SEC("tracepoint/tcp/tcp_receive_reset")
int tcp_receive_reset(struct trace_event_raw_tcp_event_sk *tp)
{
	struct causal_ev_link link = {};
	struct causal_event *ev;

	READ_LINK(&link, tp);
	if (!tcp_wanted(CAUSAL_EV_TCP_RESET, &link))
		return 0;
	ev = reserve(CAUSAL_EV_TCP_RESET);
	if (!ev)
		return 0;
	ev->peer = CAUSAL_EV_NO_PEER;
	ev->link = link;
	ev->tcp_rx = 1;
	submit(ev);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
