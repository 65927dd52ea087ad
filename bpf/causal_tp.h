/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The module's tracepoints (kmod/causal_trace.h) as the BPF programs see
 * them. They attach raw, to the arguments, which begin with
 *	u32 group, u16 node, u16 nodes, u16 peer, u64 stamp
 * then the event's own values and the vector clock (nodes u64). The peer
 * event passes its connection as struct causal_tp_link.
 *
 * The module has no BTF on every kernel (Debian's 6.1 headers cannot
 * generate it), so nothing here can be checked by CO-RE. The records below
 * mirror the arguments field for field: user space (user/tracer.c) checks
 * them against each event's tracefs format before loading and refuses a
 * module of another version.
 */
#ifndef _CAUSAL_TP_H
#define _CAUSAL_TP_H

/* struct causal_link of kmod/causal.h */
struct causal_tp_link {
	__u16 family;
	__u16 sport;
	__u16 dport;
	__u8 saddr[16];
	__u8 daddr[16];
};

/* struct trace_entry */
struct causal_tp_common {
	__u16 type;
	__u8 flags;
	__u8 preempt_count;
	__s32 pid;
};

/* causal_arrive (class causal_msg_class) */
struct causal_tp_msg {
	struct causal_tp_common common;
	__u32 group;
	__u16 node;
	__u16 peer;
	__u16 nodes;
	__u64 stamp;
	__u32 len;
	__u64 arrive_ns;
	__u32 data_loc_vclock;
};

struct causal_tp_hold {
	struct causal_tp_common common;
	__u32 group;
	__u16 node;
	__u16 peer;
	__u16 nodes;
	__u64 stamp;
	__u16 wait_node;
	__u64 wait_stamp;
	__u32 data_loc_vclock;
};

struct causal_tp_deliver {
	struct causal_tp_common common;
	__u32 group;
	__u16 node;
	__u16 peer;
	__u16 nodes;
	__u64 stamp;
	__u64 index;
	__u64 held_ns;
	_Bool gap;
	__u32 data_loc_vclock;
};

struct causal_tp_send {
	struct causal_tp_common common;
	__u32 group;
	__u16 node;
	__u16 peer;
	__u16 nodes;
	__u64 stamp;
	__u32 len;
	__u32 targets;
	__u32 data_loc_vclock;
};

struct causal_tp_clock {
	struct causal_tp_common common;
	__u32 group;
	__u16 node;
	__u16 peer;
	__u16 nodes;
	__u64 stamp;
	__u32 data_loc_vclock;
};

struct causal_tp_peer {
	struct causal_tp_common common;
	__u32 group;
	__u16 node;
	__u16 peer;
	__u16 nodes;
	__u64 stamp;
	__u64 incarnation;
	_Bool joined;
	__u16 family;
	__u16 sport;
	__u16 dport;
	__u8 saddr[16];
	__u8 daddr[16];
	__u32 data_loc_vclock;
};

struct causal_tp_error {
	struct causal_tp_common common;
	__u32 group;
	__u16 node;
	__u16 peer;
	__u16 nodes;
	__u64 stamp;
	__u32 err;
	__u32 data_loc_vclock;
};

#endif /* _CAUSAL_TP_H */
