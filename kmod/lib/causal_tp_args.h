/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The arguments of the module's tracepoints, written once for the three
 * that must agree on them: the module (TP_PROTO in kmod/causal_trace.h),
 * the BPF programs (BPF_PROG in bpf/causal.bpf.c), which attach raw and so
 * read exactly these, and the loader (user/tracer.c), which compares
 * CAUSAL_TP_ARGS_TEXT with the text the loaded module was built with
 * (/sys/module/causal/parameters/tracepoint_args) before it attaches. The
 * module has no BTF on every kernel, so nothing else can check them.
 *
 * Only u8..u64 and the structs below: typedefs for every includer (the
 * kernel's, vmlinux.h's or causal_types.h's), never macros, so that the text
 * is the same everywhere (user space's stdbool.h makes bool a macro for
 * _Bool: flags are u8).
 */
#ifndef _CAUSAL_TP_ARGS_H
#define _CAUSAL_TP_ARGS_H

/* A channel's TCP connection as its local end sees it, in the layout of
 * the tcp tracepoints: ports in host order, IPv4 in the first 4 bytes.
 */
#define CAUSAL_LINK_FIELDS						\
	u16 family; u16 sport; u16 dport; u8 saddr[16]; u8 daddr[16]

struct causal_link {
	CAUSAL_LINK_FIELDS;
};

/* A channel's always-on aggregates (docs/api.md, /proc/net/causal), as
 * causal_totals passes them when the channel leaves its endpoint.
 */
#define CAUSAL_TP_TOTALS_FIELDS						\
	u64 id; u64 sent; u64 delivered; u64 held; u64 gaps; u64 errors;\
	u64 hold_sum_us; u64 hold_max_us; u64 hold_missed

struct causal_tp_totals {
	CAUSAL_TP_TOTALS_FIELDS;
};

/* One delivery of a read: what causal_deliver says of it, and when it was
 * delivered (CLOCK_MONOTONIC, read under ep->lock, so that deliveries are
 * in index order in time too although the event fires after the lock).
 */
#define CAUSAL_TP_DELIVERY_FIELDS					\
	u64 deliver_ns; u64 index; u64 stamp; u64 held_ns; u16 sender;	\
	u8 gap; u8 pad[5]

struct causal_tp_delivery {
	CAUSAL_TP_DELIVERY_FIELDS;
};

/* Every event begins with these. */
#define CAUSAL_TP_ID	u32 group, u16 node, u16 nodes, u16 peer, u64 stamp

#define CAUSAL_TP_ARRIVE						\
	CAUSAL_TP_ID, u32 len, u64 arrive_ns, const u64 *vclock
#define CAUSAL_TP_HOLD							\
	CAUSAL_TP_ID, u16 wait_node, u64 wait_stamp, const u64 *vclock
#define CAUSAL_TP_DELIVER						\
	CAUSAL_TP_ID, u64 index, u64 held_ns, u8 gap, const u64 *vclock
/* send_ns: when it was stamped, under ep->lock (the event fires after). */
#define CAUSAL_TP_SEND							\
	CAUSAL_TP_ID, u32 len, u32 targets, u64 send_ns, const u64 *vclock
/* A read's deliveries, @count of @d in index order, the clock of d[i] at
 * vclocks + i * nodes: one event for up to CAUSAL_TRACE_BATCH of them, for
 * consumers that take every event.
 */
#define CAUSAL_TRACE_BATCH	8
#define CAUSAL_TP_DELIVER_BATCH						\
	u32 group, u16 node, u16 nodes, u32 count,			\
	const struct causal_tp_delivery *d, const u64 *vclocks
#define CAUSAL_TP_CLOCK							\
	CAUSAL_TP_ID, const u64 *vclock
#define CAUSAL_TP_PEER							\
	CAUSAL_TP_ID, u64 incarnation, u8 joined,			\
	const struct causal_link *link, const u64 *vclock
#define CAUSAL_TP_ERROR							\
	CAUSAL_TP_ID, u32 err, const u64 *vclock
/* blame_us: nodes entries; hold_hist: CAUSAL_HIST_BUCKETS, or NULL. */
#define CAUSAL_TP_TOTALS						\
	CAUSAL_TP_ID, const struct causal_tp_totals *totals,		\
	const u64 *blame_us, const u64 *hold_hist, const u64 *vclock

#define __CAUSAL_TP_STR(...)	#__VA_ARGS__
#define CAUSAL_TP_STR(...)	__CAUSAL_TP_STR(__VA_ARGS__)

/* The whole interface as text: one line per event and struct. */
#define CAUSAL_TP_ARGS_TEXT						\
	"causal_arrive(" CAUSAL_TP_STR(CAUSAL_TP_ARRIVE) ")\n"		\
	"causal_hold(" CAUSAL_TP_STR(CAUSAL_TP_HOLD) ")\n"		\
	"causal_deliver(" CAUSAL_TP_STR(CAUSAL_TP_DELIVER) ")\n"	\
	"causal_deliver_batch(" CAUSAL_TP_STR(CAUSAL_TP_DELIVER_BATCH) ")\n" \
	"causal_send(" CAUSAL_TP_STR(CAUSAL_TP_SEND) ")\n"		\
	"causal_clock(" CAUSAL_TP_STR(CAUSAL_TP_CLOCK) ")\n"		\
	"causal_peer(" CAUSAL_TP_STR(CAUSAL_TP_PEER) ")\n"		\
	"causal_error(" CAUSAL_TP_STR(CAUSAL_TP_ERROR) ")\n"		\
	"causal_totals(" CAUSAL_TP_STR(CAUSAL_TP_TOTALS) ")\n"		\
	"struct causal_link { " CAUSAL_TP_STR(CAUSAL_LINK_FIELDS) " }\n" \
	"struct causal_tp_totals { " CAUSAL_TP_STR(CAUSAL_TP_TOTALS_FIELDS) " }\n" \
	"struct causal_tp_delivery { " CAUSAL_TP_STR(CAUSAL_TP_DELIVERY_FIELDS) " }\n" \
	"batch " CAUSAL_TP_STR(CAUSAL_TRACE_BATCH) "\n"			\
	"hold_hist " CAUSAL_TP_STR(CAUSAL_HIST_BUCKETS)

#endif /* _CAUSAL_TP_ARGS_H */
