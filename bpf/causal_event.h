/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Events between bpf/causal.bpf.c and user space (causald, causalctl): the
 * ring buffer's record (struct causal_rec) and the reader's in-memory form
 * of an event (struct causal_event), which is also one line of the JSON
 * event log (docs/events.md). Plain __u types: included by BPF and by user
 * space.
 *
 * A record is what every event has, its type's fields and the clock: 48
 * bytes and the entries, 64 in all for a pair. It has no task name (the
 * reader looks it up once per pid) but for TCP state changes, whose task
 * (connect, close) may be gone by then; a link only for peer and TCP events.
 * Records come in sizes with room for 2, 8 or 64 clock entries
 * (CAUSAL_REC_ROOM()): the ring buffer takes constant sizes only.
 */
#ifndef _CAUSAL_EVENT_H
#define _CAUSAL_EVENT_H

#ifndef __VMLINUX_H__		/* BPF programs get the types from vmlinux.h */
#include <linux/types.h>
#endif

#define CAUSAL_EV_MAX_NODES	64
#define CAUSAL_EV_HIST_BUCKETS	464	/* CAUSAL_HIST_BUCKETS (causal_hist.h) */
#define CAUSAL_EV_COMM_LEN	16
#define CAUSAL_EV_NO_PEER	0xffff	/* broadcast send, or no peer yet */

enum causal_ev_type {
	CAUSAL_EV_SEND = 1,		/* causal:causal_send */
	CAUSAL_EV_ARRIVE,		/* causal:causal_arrive */
	CAUSAL_EV_HOLD,			/* causal:causal_hold */
	CAUSAL_EV_DELIVER,		/* causal:causal_deliver */
	CAUSAL_EV_CLOCK,		/* causal:causal_clock */
	CAUSAL_EV_PEER,			/* causal:causal_peer */
	CAUSAL_EV_ERROR,		/* causal:causal_error */
	CAUSAL_EV_TOTALS,		/* causal:causal_totals (not logged) */
	CAUSAL_EV_TCP_RETRANSMIT,	/* tcp:tcp_retransmit_skb */
	CAUSAL_EV_TCP_STATE,		/* sock:inet_sock_set_state (TCP) */
	CAUSAL_EV_TCP_RESET,		/* tcp:tcp_receive_reset, tcp_send_reset */
	CAUSAL_EV_TYPES,
};

/* Bit of each type in the programs' event mask. */
#define CAUSAL_EV_BIT(type)	(1U << (type))
#define CAUSAL_EV_ALL		((1U << CAUSAL_EV_TYPES) - 2)
#define CAUSAL_EV_CAUSAL	((1U << CAUSAL_EV_TCP_RETRANSMIT) - 2)
#define CAUSAL_EV_TCP		(CAUSAL_EV_ALL & ~CAUSAL_EV_CAUSAL)

/* A TCP connection, as its local end sees it. */
struct causal_ev_link {
	__u16 family;			/* AF_INET or AF_INET6, 0: unknown */
	__u16 sport;			/* host byte order */
	__u16 dport;
	__u16 pad;
	__u8 saddr[16];			/* IPv4 in the first 4 bytes */
	__u8 daddr[16];
};

struct causal_event {
	__u64 ts_ns;			/* CLOCK_MONOTONIC of the host */
	__u32 type;			/* enum causal_ev_type */
	__u32 pid;			/* tgid of the task, 0 in softirq */
	char comm[CAUSAL_EV_COMM_LEN];
	__u32 group;
	__u16 node;
	__u16 peer;			/* sender for received messages */
	__u64 stamp;			/* the peer's (or own, send) entry */
	__u32 len;			/* send, arrive */
	__u32 targets;			/* send: channels that carried it */
	__u64 index;			/* deliver: endpoint delivery count */
	__u64 held_ns;			/* deliver */
	__u64 wait_stamp;		/* hold: waits for (wait_node, wait_stamp) */
	__u16 wait_node;
	__u8 gap;			/* deliver: by hold timeout */
	__u8 joined;			/* peer: 1 HELLO, 0 BYE */
	__u32 err;			/* error: enum causal_proto_err */
	__u64 incarnation;		/* peer */
	__u32 tcp_state;		/* tcp: state (retransmit), new state */
	__u32 tcp_oldstate;		/* tcp_state: old state */
	__u32 tcp_rx;			/* tcp_reset: 1 received, 0 sent */
	__u16 nodes;			/* entries of vclock */
	__u16 pad;
	struct causal_ev_link link;	/* peer, tcp_* */
	__u64 vclock[CAUSAL_EV_MAX_NODES];
	/* Set by the reader: a totals event's aggregates. */
	const struct causal_ev_totals *totals;
};

/* The ring buffer's form of an event. */
struct causal_rec {
	__u64 ts_ns;			/* CLOCK_MONOTONIC of the host */
	__u32 pid;			/* tgid of the task, 0 in softirq */
	__u8 type;			/* enum causal_ev_type */
	__u8 flag;			/* peer: joined; tcp_reset: rx */
	__u16 nodes;			/* entries of vclock */
	__u32 group;
	__u16 node;
	__u16 peer;
	__u64 stamp;
	union {
		struct { __u32 len, targets; } send;	/* arrive: len */
		struct { __u64 stamp; __u16 node; } wait;	/* hold */
		struct { __u32 count; } batch;		/* deliver */
		struct { __u32 err; } error;
		struct { __u64 incarnation; } hello;	/* peer */
		struct { __u32 state, oldstate; } tcp;
	};
	/* `nodes` entries in room for CAUSAL_REC_ROOM(nodes); after that room
	 * a struct causal_ev_link (peer, TCP) or causal_ev_totals (totals).
	 * A deliver record's are CAUSAL_REC_DELIVER_SIZE().
	 */
	__u64 vclock[];
};

/* One delivery of a deliver record; the layout of the tracepoint's
 * struct causal_tp_delivery.
 */
struct causal_ev_delivery {
	__u64 deliver_ns;		/* CLOCK_MONOTONIC */
	__u64 index;
	__u64 stamp;
	__u64 held_ns;
	__u16 sender;
	__u8 gap;
	__u8 pad[5];
};

/* A deliver record is a read's deliveries (causal_deliver_batch), up to
 * CAUSAL_EV_BATCH: `count` clocks of `nodes` entries each, packed, in room
 * for @batch clocks of @room, then the @batch deliveries' slots.
 */
#define CAUSAL_EV_BATCH		8	/* CAUSAL_TRACE_BATCH */
#define CAUSAL_REC_BATCH_ROOM(count)	((count) <= 1 ? 1 : CAUSAL_EV_BATCH)
#define CAUSAL_REC_DELIVERIES(batch, room)				\
	(sizeof(struct causal_rec) + (batch) * (room) * sizeof(__u64))
#define CAUSAL_REC_DELIVER_SIZE(batch, room)				\
	(CAUSAL_REC_DELIVERIES(batch, room) +				\
	 (batch) * sizeof(struct causal_ev_delivery))

/* Clock entries a module event's record of @n has room for (TCP and
 * totals records have none).
 */
#define CAUSAL_REC_ROOM(n)	((n) <= 2 ? 2 : (n) <= 8 ? 8 : CAUSAL_EV_MAX_NODES)
/* Records with a struct causal_ev_link after the clock room. */
#define CAUSAL_REC_HAS_LINK(type)	((type) == CAUSAL_EV_PEER || \
					 (type) >= CAUSAL_EV_TCP_RETRANSMIT)
/* Bytes of a record with room for @room clock entries. */
#define CAUSAL_REC_SIZE(room)	(sizeof(struct causal_rec) + (room) * sizeof(__u64))
/* A TCP record: no clock, its connection right after the fixed part; a
 * state change's then the task's name (pid 0: in softirq, no task).
 */
#define CAUSAL_REC_TCP_SIZE	(CAUSAL_REC_SIZE(0) + sizeof(struct causal_ev_link))
#define CAUSAL_REC_TCP_STATE_SIZE	(CAUSAL_REC_TCP_SIZE + CAUSAL_EV_COMM_LEN)

/* A channel's aggregates as it left its endpoint (causal_totals): in the
 * ring buffer right after CAUSAL_REC_SIZE(0) bytes of its record.
 */
struct causal_ev_totals {
	__u64 id;			/* the channel's, as /proc/net/causal */
	__u64 sent;
	__u64 delivered;
	__u64 held;
	__u64 gaps;
	__u64 errors;
	__u64 hold_sum_us;
	__u64 hold_max_us;
	__u64 hold_missed;
	__u64 has_hist;			/* 0: no message was held, no hold_hist */
	__u64 blame_us[CAUSAL_EV_MAX_NODES];	/* `nodes` of them */
	__u64 hold_hist[CAUSAL_EV_HIST_BUCKETS];
};

#define CAUSAL_REC_TOTALS_SIZE	(CAUSAL_REC_SIZE(0) + sizeof(struct causal_ev_totals))

#endif /* _CAUSAL_EVENT_H */
