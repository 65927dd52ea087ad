// SPDX-License-Identifier: GPL-2.0
/*
 * Events of the causal ULP and of the TCP connections under it, to a ring
 * buffer read by causald and causalctl. The module's tracepoints are
 * attached raw: their arguments are plain values (causal_tp.h), so no trace
 * record is built and no BTF of the module is needed. The kernel's TCP
 * tracepoints are read through CO-RE, so one object runs on 6.1, 6.12 and
 * newer kernels.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

#include "causal_event.h"
#include "causal_tp_args.h"

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
/* Only events of connections with this port at either end (0: any) and
 * this address at either end: targ_addr as a link of targ_family has it,
 * targ_addr_v6 as an AF_INET6 socket has it (::ffff:a.b.c.d for IPv4).
 * Module events other than peer have no connection: dropped then.
 */
const volatile __u16 targ_port;
const volatile bool filter_addr;
const volatile __u16 targ_family;
const volatile __u64 targ_addr[2];
const volatile __u64 targ_addr_v6[2];
/* Wake the reader when the queue grows past this; it also polls on a
 * timer, so a burst costs a wakeup per batch, not per event.
 */
const volatile __u32 wakeup_bytes = 64 << 10;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20);	/* resized by user space */
} events SEC(".maps");

/* Events the ring buffer had no room for, by type: what a reader lost
 * decides what it can still tell (a lost deliver, a lost TCP retransmit).
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, CAUSAL_EV_TYPES);
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

static __always_inline void submit(struct causal_rec *rec, __u32 size)
{
	/* Queued data includes this record: wake on crossing the mark only.
	 * A crossing missed by racing CPUs waits for the reader's timer.
	 */
	__u64 queued = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);
	bool crossed = queued >= wakeup_bytes &&
		       queued < wakeup_bytes + size + 8;

	bpf_ringbuf_submit(rec, crossed ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP);
}

static __always_inline void count_lost(__u32 type, __u64 events)
{
	__u64 *n = bpf_map_lookup_elem(&lost, &type);

	if (n)
		*n += events;
}

/* A record of @size bytes (a constant: the verifier wants one), its fixed
 * part zeroed, at @ts.
 */
static __always_inline struct causal_rec *reserve(__u32 type, __u32 size,
						  __u64 ts)
{
	struct causal_rec *rec;

	rec = bpf_ringbuf_reserve(&events, size, 0);
	if (!rec) {
		count_lost(type, 1);
		return NULL;
	}
	__builtin_memset(rec, 0, sizeof(*rec));
	rec->ts_ns = ts;
	rec->type = type;
	return rec;
}

/* @n entries of @vclock into a record with room for @room of them; the
 * clamp is hidden from the compiler so that the verifier sees it.
 */
static __always_inline void copy_vclock(struct causal_rec *rec, __u32 n,
					__u32 room, const __u64 *vclock)
{
	__u64 len = (__u64)n * sizeof(__u64);

	barrier_var(len);
	if (len > room * sizeof(__u64))
		len = room * sizeof(__u64);
	bpf_probe_read_kernel(rec->vclock, len, vclock);
	rec->nodes = len / sizeof(__u64);
}

#define RESERVE_ROOM(type, room, extra, nodes, vclock, size, ts)	\
	({								\
		struct causal_rec *__r;					\
									\
		*(size) = CAUSAL_REC_SIZE(room) + (extra);		\
		__r = reserve(type, CAUSAL_REC_SIZE(room) + (extra), ts); \
		if (__r)						\
			copy_vclock(__r, nodes, room, vclock);		\
		__r;							\
	})

/* A record with room for @nodes clock entries (CAUSAL_REC_ROOM) and
 * @extra bytes after them, the clock copied in; *size: its size.
 */
static __always_inline struct causal_rec *
reserve_vclock(__u32 type, __u16 nodes, const __u64 *vclock, __u32 extra,
	       __u32 *size, __u64 ts)
{
	/* One branch per CAUSAL_REC_ROOM() class: each a constant size. */
	if (CAUSAL_REC_ROOM(nodes) == 2)
		return RESERVE_ROOM(type, 2, extra, nodes, vclock, size, ts);
	if (CAUSAL_REC_ROOM(nodes) == 8)
		return RESERVE_ROOM(type, 8, extra, nodes, vclock, size, ts);
	return RESERVE_ROOM(type, CAUSAL_EV_MAX_NODES, extra, nodes, vclock,
			    size, ts);
}

static __always_inline bool endpoint_wanted(__u32 group, __u16 node)
{
	return (!filter_group || group == targ_group) &&
	       (!filter_node || node == targ_node);
}

static __always_inline bool addr_is(const __u8 *addr, __u16 family)
{
	__u64 w[2];

	__builtin_memcpy(w, addr, sizeof(w));
	if (family == targ_family)
		return w[0] == targ_addr[0] && w[1] == targ_addr[1];
	return family == AF_INET6 && w[0] == targ_addr_v6[0] &&
	       w[1] == targ_addr_v6[1];
}

/* The --addr and --port filters. */
static __always_inline bool link_wanted(const struct causal_ev_link *l)
{
	if (targ_port && l->sport != targ_port && l->dport != targ_port)
		return false;
	return !filter_addr || addr_is(l->saddr, l->family) ||
	       addr_is(l->daddr, l->family);
}

/* The type, group, node and pid filters for a module event. @task: the
 * event fires in the context of the task it describes (send, deliver).
 */
static __always_inline bool causal_wanted(__u32 type, __u32 group, __u16 node,
					  bool task)
{
	__u64 ep = (__u64)group << 16 | node;
	__u8 one = 1;

	if (!type_wanted(type) || !endpoint_wanted(group, node))
		return false;
	if ((targ_port || filter_addr) && type != CAUSAL_EV_PEER)
		return false;
	if (!targ_pid)
		return true;
	if (task && bpf_get_current_pid_tgid() >> 32 == targ_pid) {
		bpf_map_update_elem(&pid_endpoints, &ep, &one, BPF_ANY);
		return true;
	}
	return !task && bpf_map_lookup_elem(&pid_endpoints, &ep);
}

/* A module event that passes the filters, with its identity (and the task
 * for events that fire in one) filled in; NULL to drop it. @ts: when it
 * happened.
 */
static __always_inline struct causal_rec *
causal_begin(__u32 type, __u32 group, __u16 node, __u16 peer, __u64 stamp,
	     bool task, __u16 nodes, const __u64 *vclock, __u32 extra,
	     __u32 *size, __u64 ts)
{
	struct causal_rec *rec;

	if (!causal_wanted(type, group, node, task))
		return NULL;
	rec = reserve_vclock(type, nodes, vclock, extra, size, ts);
	if (!rec)
		return NULL;
	rec->group = group;
	rec->node = node;
	rec->peer = peer;
	rec->stamp = stamp;
	if (task)
		rec->pid = bpf_get_current_pid_tgid() >> 32;
	return rec;
}

SEC("raw_tp/causal_send")
int BPF_PROG(causal_send, CAUSAL_TP_SEND)
{
	struct causal_rec *rec;
	__u32 size;

	rec = causal_begin(CAUSAL_EV_SEND, group, node, peer, stamp, true,
			   nodes, vclock, 0, &size, send_ns);
	if (!rec)
		return 0;
	rec->send.len = len;
	rec->send.targets = targets;
	submit(rec, size);
	return 0;
}

SEC("raw_tp/causal_arrive")
int BPF_PROG(causal_arrive, CAUSAL_TP_ARRIVE)
{
	struct causal_rec *rec;
	__u32 size;

	rec = causal_begin(CAUSAL_EV_ARRIVE, group, node, peer, stamp, false,
			   nodes, vclock, 0, &size,
			   bpf_ktime_get_ns());
	if (!rec)
		return 0;
	rec->send.len = len;
	submit(rec, size);
	return 0;
}

SEC("raw_tp/causal_hold")
int BPF_PROG(causal_hold, CAUSAL_TP_HOLD)
{
	struct causal_rec *rec;
	__u32 size;

	rec = causal_begin(CAUSAL_EV_HOLD, group, node, peer, stamp, false,
			   nodes, vclock, 0, &size,
			   bpf_ktime_get_ns());
	if (!rec)
		return 0;
	rec->wait.node = wait_node;
	rec->wait.stamp = wait_stamp;
	submit(rec, size);
	return 0;
}

/* Clamped as copy_vclock() does: @count clocks of @nodes entries into room
 * for @batch of @room, and the deliveries behind them.
 */
static __always_inline void copy_batch(struct causal_rec *rec, __u32 count,
				       __u16 nodes, __u32 batch, __u32 room,
				       const struct causal_tp_delivery *d,
				       const __u64 *vclocks)
{
	__u64 n = count, width = nodes, len;

	barrier_var(n);
	if (n > batch)
		n = batch;
	barrier_var(width);
	if (width > room)
		width = room;
	len = n * width * sizeof(__u64);
	barrier_var(len);
	if (len > batch * room * sizeof(__u64))
		len = batch * room * sizeof(__u64);
	bpf_probe_read_kernel(rec->vclock, len, vclocks);
	len = n * sizeof(struct causal_ev_delivery);
	barrier_var(len);
	if (len > batch * sizeof(struct causal_ev_delivery))
		len = batch * sizeof(struct causal_ev_delivery);
	bpf_probe_read_kernel((void *)rec + CAUSAL_REC_DELIVERIES(batch, room),
			      len, d);
	rec->nodes = width;
	rec->batch.count = n;
	/* Each delivery has its time; the record is the first's. */
	rec->ts_ns = ((const struct causal_ev_delivery *)
		      ((void *)rec + CAUSAL_REC_DELIVERIES(batch, room)))->deliver_ns;
}

#define RESERVE_BATCH(batch, room, count, nodes, d, vclocks, size)	\
	({								\
		struct causal_rec *__r;					\
									\
		*(size) = CAUSAL_REC_DELIVER_SIZE(batch, room);		\
		__r = reserve(CAUSAL_EV_DELIVER,			\
			      CAUSAL_REC_DELIVER_SIZE(batch, room), 0);	\
		if (__r)						\
			copy_batch(__r, count, nodes, batch, room, d,	\
				   vclocks);				\
		__r;							\
	})

/* A read's deliveries in one record: one program run for the batch. */
SEC("raw_tp/causal_deliver_batch")
int BPF_PROG(causal_deliver_batch, CAUSAL_TP_DELIVER_BATCH)
{
	struct causal_rec *rec;
	__u32 size;

	if (!causal_wanted(CAUSAL_EV_DELIVER, group, node, true))
		return 0;
	/* One branch per size: each a constant. */
	if (CAUSAL_REC_BATCH_ROOM(count) == 1) {
		if (CAUSAL_REC_ROOM(nodes) == 2)
			rec = RESERVE_BATCH(1, 2, count, nodes, d, vclocks, &size);
		else if (CAUSAL_REC_ROOM(nodes) == 8)
			rec = RESERVE_BATCH(1, 8, count, nodes, d, vclocks, &size);
		else
			rec = RESERVE_BATCH(1, CAUSAL_EV_MAX_NODES, count, nodes,
					    d, vclocks, &size);
	} else {
		if (CAUSAL_REC_ROOM(nodes) == 2)
			rec = RESERVE_BATCH(CAUSAL_EV_BATCH, 2, count, nodes, d,
					    vclocks, &size);
		else if (CAUSAL_REC_ROOM(nodes) == 8)
			rec = RESERVE_BATCH(CAUSAL_EV_BATCH, 8, count, nodes, d,
					    vclocks, &size);
		else
			rec = RESERVE_BATCH(CAUSAL_EV_BATCH, CAUSAL_EV_MAX_NODES,
					    count, nodes, d, vclocks, &size);
	}
	if (!rec) {
		/* Each of its deliveries is an event lost. */
		if (count > 1)
			count_lost(CAUSAL_EV_DELIVER, count - 1);
		return 0;
	}
	rec->group = group;
	rec->node = node;
	rec->peer = CAUSAL_EV_NO_PEER;
	rec->pid = bpf_get_current_pid_tgid() >> 32;
	submit(rec, size);
	return 0;
}

SEC("raw_tp/causal_clock")
int BPF_PROG(causal_clock, CAUSAL_TP_CLOCK)
{
	struct causal_rec *rec;
	__u32 size;

	rec = causal_begin(CAUSAL_EV_CLOCK, group, node, peer, stamp, false,
			   nodes, vclock, 0, &size,
			   bpf_ktime_get_ns());
	if (!rec)
		return 0;
	submit(rec, size);
	return 0;
}

SEC("raw_tp/causal_peer")
int BPF_PROG(causal_peer, CAUSAL_TP_PEER)
{
	struct causal_ev_link conn = {};
	struct causal_link l;
	struct causal_rec *rec;
	__u32 size;

	if (!endpoint_wanted(group, node) ||
	    bpf_probe_read_kernel(&l, sizeof(l), link))
		return 0;
	conn.family = l.family;
	conn.sport = l.sport;
	conn.dport = l.dport;
	__builtin_memcpy(conn.saddr, l.saddr, sizeof(conn.saddr));
	__builtin_memcpy(conn.daddr, l.daddr, sizeof(conn.daddr));
	/* Learned whatever the event types: TCP events need the links. */
	if (joined)
		bpf_map_update_elem(&links, &conn, &group, BPF_ANY);
	if (!link_wanted(&conn))
		return 0;
	rec = causal_begin(CAUSAL_EV_PEER, group, node, peer, stamp, false,
			   nodes, vclock, sizeof(conn), &size,
			   bpf_ktime_get_ns());
	if (!rec)
		return 0;
	rec->flag = joined;
	rec->hello.incarnation = incarnation;
	__builtin_memcpy((void *)rec + size - sizeof(conn), &conn, sizeof(conn));
	submit(rec, size);
	return 0;
}

SEC("raw_tp/causal_error")
int BPF_PROG(causal_error, CAUSAL_TP_ERROR)
{
	struct causal_rec *rec;
	__u32 size;

	rec = causal_begin(CAUSAL_EV_ERROR, group, node, peer, stamp, false,
			   nodes, vclock, 0, &size,
			   bpf_ktime_get_ns());
	if (!rec)
		return 0;
	rec->error.err = err;
	submit(rec, size);
	return 0;
}

/* Once per channel, at its close: its aggregates, for causald's model. */
SEC("raw_tp/causal_totals")
int BPF_PROG(causal_totals, CAUSAL_TP_TOTALS)
{
	struct causal_ev_totals *t;
	struct causal_rec *rec;
	__u64 len = (__u64)nodes * sizeof(__u64);

	if (!causal_wanted(CAUSAL_EV_TOTALS, group, node, false))
		return 0;
	rec = reserve(CAUSAL_EV_TOTALS, CAUSAL_REC_TOTALS_SIZE,
		      bpf_ktime_get_ns());
	if (!rec)
		return 0;
	rec->group = group;
	rec->node = node;
	rec->peer = peer;
	rec->stamp = stamp;
	t = (void *)rec + CAUSAL_REC_SIZE(0);
	/* The scalars lead struct causal_tp_totals in the same order. The
	 * record is not zeroed (too large to clear here): the reader takes
	 * `nodes` blame entries, and the histogram only when has_hist.
	 */
	bpf_probe_read_kernel(t, sizeof(struct causal_tp_totals), totals);
	barrier_var(len);
	if (len > sizeof(t->blame_us))
		len = sizeof(t->blame_us);
	bpf_probe_read_kernel(t->blame_us, len, blame_us);
	rec->nodes = len / sizeof(__u64);
	t->has_hist = hold_hist != NULL;
	if (hold_hist)
		bpf_probe_read_kernel(t->hold_hist, sizeof(t->hold_hist),
				      hold_hist);
	submit(rec, CAUSAL_REC_TOTALS_SIZE);
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

#define TCP_REC_SIZE	CAUSAL_REC_TCP_SIZE

static __always_inline void tcp_link(struct causal_rec *rec,
				     const struct causal_ev_link *link)
{
	__builtin_memcpy((void *)rec + CAUSAL_REC_SIZE(0), link, sizeof(*link));
}

static __always_inline bool tcp_wanted(__u32 type,
				       const struct causal_ev_link *link)
{
	return type_wanted(type) && link_wanted(link) &&
	       (tcp_all || bpf_map_lookup_elem(&links, link));
}

SEC("tracepoint/tcp/tcp_retransmit_skb")
int tcp_retransmit(void *ctx)
{
	struct causal_ev_link link = {};
	struct causal_rec *rec;
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
	rec = reserve(CAUSAL_EV_TCP_RETRANSMIT, TCP_REC_SIZE,
		      bpf_ktime_get_ns());
	if (!rec)
		return 0;
	rec->peer = CAUSAL_EV_NO_PEER;
	rec->tcp.state = state;
	tcp_link(rec, &link);
	submit(rec, TCP_REC_SIZE);
	return 0;
}

SEC("tracepoint/sock/inet_sock_set_state")
int tcp_state(struct trace_event_raw_inet_sock_set_state *tp)
{
	struct causal_ev_link link = {};
	const struct sock *sk;
	struct causal_rec *rec;
	bool wanted;
	char *comm;

	if (BPF_CORE_READ(tp, protocol) != IPPROTO_TCP)
		return 0;
	READ_LINK(&link, tp);
	wanted = tcp_wanted(CAUSAL_EV_TCP_STATE, &link);
	if (BPF_CORE_READ(tp, newstate) == TCP_CLOSE)
		bpf_map_delete_elem(&links, &link);
	if (!wanted)
		return 0;
	rec = reserve(CAUSAL_EV_TCP_STATE, CAUSAL_REC_TCP_STATE_SIZE,
		      bpf_ktime_get_ns());
	if (!rec)
		return 0;
	rec->peer = CAUSAL_EV_NO_PEER;
	rec->tcp.oldstate = BPF_CORE_READ(tp, oldstate);
	rec->tcp.state = BPF_CORE_READ(tp, newstate);
	tcp_link(rec, &link);
	comm = (void *)rec + TCP_REC_SIZE;
	/* Softirq changes the state of a socket no task owns; one that a task
	 * owns (lock_sock) changes in that task: connect, listen, close,
	 * shutdown, or the backlog that release_sock processes.
	 */
	sk = (const struct sock *)BPF_CORE_READ(tp, skaddr);
	if (sk && BPF_CORE_READ(sk, sk_lock.owned)) {
		rec->pid = bpf_get_current_pid_tgid() >> 32;
		bpf_get_current_comm(comm, CAUSAL_EV_COMM_LEN);
	} else {
		__builtin_memset(comm, 0, CAUSAL_EV_COMM_LEN);
	}
	submit(rec, CAUSAL_REC_TCP_STATE_SIZE);
	return 0;
}

SEC("tracepoint/tcp/tcp_receive_reset")
int tcp_receive_reset(struct trace_event_raw_tcp_event_sk *tp)
{
	struct causal_ev_link link = {};
	struct causal_rec *rec;

	READ_LINK(&link, tp);
	if (!tcp_wanted(CAUSAL_EV_TCP_RESET, &link))
		return 0;
	rec = reserve(CAUSAL_EV_TCP_RESET, TCP_REC_SIZE,
		      bpf_ktime_get_ns());
	if (!rec)
		return 0;
	rec->peer = CAUSAL_EV_NO_PEER;
	rec->flag = 1;
	tcp_link(rec, &link);
	submit(rec, TCP_REC_SIZE);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
