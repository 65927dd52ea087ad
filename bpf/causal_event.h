/* SPDX-License-Identifier: GPL-2.0 */
/*
 * One record of the ring buffer between bpf/causal.bpf.c and user space
 * (causald, causalctl), and the in-memory form of one line of the JSON event
 * log (docs/events.md). Plain __u types: included by BPF and by user space.
 *
 * In the ring buffer a record stops after the vector clock entries it has
 * room for (CAUSAL_EV_SIZE()): none for TCP events, CAUSAL_EV_SMALL_NODES
 * or CAUSAL_EV_MAX_NODES for the module's, whichever holds `nodes`. Most
 * groups are small, and full-size records would multiply the bytes written
 * per event by three.
 */
#ifndef _CAUSAL_EVENT_H
#define _CAUSAL_EVENT_H

#ifndef __VMLINUX_H__		/* BPF programs get the types from vmlinux.h */
#include <linux/types.h>
#endif

#define CAUSAL_EV_MAX_NODES	64
#define CAUSAL_EV_HIST_BUCKETS	464	/* CAUSAL_HIST_BUCKETS (causal_hist.h) */
#define CAUSAL_EV_SMALL_NODES	8
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
	/* Past the ring buffer's records: a totals event's aggregates. */
	const struct causal_ev_totals *totals;
};

/* A channel's aggregates as it left its endpoint (causal_totals): in the
 * ring buffer right after the first CAUSAL_EV_SIZE(0) bytes of its record.
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

#define CAUSAL_EV_TOTALS_SIZE	(CAUSAL_EV_SIZE(0) + sizeof(struct causal_ev_totals))

/* Bytes of a record with room for @n clock entries. */
#define CAUSAL_EV_SIZE(n)	(__builtin_offsetof(struct causal_event, vclock) + \
				 (n) * sizeof(__u64))

#endif /* _CAUSAL_EVENT_H */
