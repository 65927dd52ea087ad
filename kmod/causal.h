/* SPDX-License-Identifier: GPL-2.0 */
/* Internal state of the causal ULP. */
#ifndef _CAUSAL_H
#define _CAUSAL_H

#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/refcount.h>
#include <linux/timer.h>
#include <linux/uidgid.h>
#include <linux/workqueue.h>
#include <net/inet_connection_sock.h>
#include <net/inet_sock.h>
#include <net/ipv6.h>
#include <net/sock.h>

#include "uapi/linux/causal.h"
#include "lib/causal_hist.h"
#include "lib/causal_rule.h"
#include "lib/causal_tp_args.h"

#define CAUSAL_JOIN_FLAGS \
	(CAUSAL_F_BROADCAST | CAUSAL_F_MERGED_RECV | CAUSAL_F_RECV_INFO)
/* Flags that describe the endpoint; every socket joining it must agree. */
#define CAUSAL_ENDPOINT_FLAGS	(CAUSAL_F_BROADCAST | CAUSAL_F_MERGED_RECV)

extern unsigned int causal_max_msg_size;
extern bool causal_wire_delta;

/* Per network namespace. */
struct causal_net {
	/* Protects endpoints and every endpoint's nr_sockets. Taken after
	 * lock_sock() of a joining or closing socket.
	 */
	struct mutex lock;
	struct list_head endpoints;
};

/* Largest header and clock of a frame. */
#define CAUSAL_TX_HEAD_MAX	(CAUSAL_WIRE_HDR_LEN + CAUSAL_MAX_NODES * sizeof(u64))
/* Payloads up to this size are sent in one piece with their header. */
#define CAUSAL_TX_INLINE	512

/* A whole frame queued for the channels it goes to (a broadcast's frame is
 * shared by all of them).
 */
struct causal_txbuf {
	refcount_t ref;
	u32 len;
	u32 start;		/* where the frame starts: a header may take
				 * less than the room left for it
				 */
	u8 bytes[];
};

/* One queued frame of one channel. */
struct causal_txe {
	struct list_head list;		/* in causal_sock.txq */
	struct causal_txbuf *buf;
};

/* State of one (netns, group, node).
 *
 * Lock order: a channel's tx_mutex, then its socket lock, then the
 * netns' lock, then ep->lock. Receive (softirq or the socket's owner)
 * takes only ep->lock.
 */
struct causal_endpoint {
	struct list_head list;		/* in causal_net.endpoints */
	struct net *net;		/* not counted: the netns outlives
					 * every socket in it
					 */
	u32 group;
	u16 node;
	u16 nodes;
	u32 flags;			/* CAUSAL_ENDPOINT_FLAGS */
	kuid_t owner;			/* uid of the first joiner */
	u64 incarnation;		/* random, new for every endpoint */
	unsigned int nr_sockets;	/* under causal_net.lock */
	struct rcu_head rcu;		/* sock_diag reads under RCU */

	wait_queue_head_t tx_wait;	/* broadcasters waiting for room */

	/* Protects everything below. */
	spinlock_t lock;
	struct list_head channels;	/* causal_sock.ep_node */
	struct causal_sock *by_peer[CAUSAL_MAX_NODES];	/* active channels */
	/* Per node k: its channels, oldest first (causal_sock.peer_node),
	 * and the channels whose head waits on it (causal_sock.wait_node).
	 */
	struct list_head peer_chans[CAUSAL_MAX_NODES];
	struct list_head waiting[CAUSAL_MAX_NODES];
	struct causal_rule rule;	/* clock, peers, what each peer sent */
	u32 hold_timeout_ms;		/* CAUSAL_HOLD_TIMEOUT */
	struct timer_list hold_timer;	/* next hold timeout */
	u64 delivered;			/* delivery index */
	u64 sent;			/* send events */
	u64 held_now;
	u64 gaps;
	unsigned int nr_stale;		/* linked channels with stale set */
};

/* A frame's bytes outside TCP, in pages filled as they arrive. */
struct causal_pvec {
	struct page **pages;
	u32 slots;			/* entries in pages[] */
	u32 nr;				/* pages allocated */
	u32 len;			/* bytes stored */
};

/* The frame at the front of a channel's stream (causal_strp.c). Serialized
 * with TCP's receive: softirq under the socket spinlock, or the owner.
 */
struct causal_strp {
	struct causal_frame hdr;	/* valid once frame_len is set */
	u32 frame_len;			/* 0 until the header is in */
	u32 consumed;			/* read in place, not yet given back
					 * to TCP (causal_strp_flush())
					 */
	struct sk_buff *front_skb;	/* where walks start: holds the byte
					 * at consumed. Only for one pass,
					 * while TCP's queue cannot change.
					 */
	bool copy_mode;			/* assembled in copy, not in TCP */
	struct causal_pvec copy;
	u64 copied_frames;		/* frames assembled in copy mode */
};

/* Where a queued message's payload is. */
enum causal_msg_where {
	CAUSAL_MSG_IN_TCP,		/* the channel's front frame, in TCP */
	CAUSAL_MSG_INLINE,		/* copied behind the message */
	CAUSAL_MSG_PAGES,		/* in pv */
};

/* A received DATA frame waiting in a channel's hold-back queue. Added by
 * the channel's receive, removed only under the channel's socket lock, so
 * a reader that owns it may copy a message out without ep->lock.
 */
struct causal_msg {
	struct list_head list;		/* in causal_sock.holdq */
	u8 where;			/* enum causal_msg_where */
	bool held;			/* was not deliverable at once */
	bool gap;			/* delivered by the hold timeout */
	u16 sender;
	u32 len;			/* payload length */
	u32 offset;			/* payload offset in the frame (TCP, pv) */
	u32 charge;			/* bytes counted in holdback_bytes */
	void *data;			/* INLINE payload */
	struct causal_pvec pv;		/* PAGES payload */
	u64 arrive_ns;
	u64 ready_ns;			/* when it became deliverable, or 0 */
	u64 *vclock;			/* its vector clock, nodes entries */
};

/* The always-on aggregates of what a channel's messages waited for
 * (docs/api.md, /proc/net/causal). Under ep->lock.
 */
struct causal_hold_stats {
	u64 *hist;			/* CAUSAL_HIST_BUCKETS counts of the
					 * hold times of held messages, from
					 * the first one delivered on
					 */
	u64 hist_missed;		/* held ones it lacks: no memory */
	u64 sum_us;			/* hold time of every held message */
	u64 max_us;
	u64 blame_us[CAUSAL_MAX_NODES];	/* time the head waited on each node */
	u16 wait_node;			/* the node it waits on now, or
					 * CAUSAL_PEER_NONE
					 */
	u64 wait_since_ns;
};

/* Per ULP socket (a channel once joined), reachable from icsk_ulp_data. */
struct causal_sock {
	struct sock *sk;
	struct proto *sk_proto;		/* the socket's proto under ours */
	const struct proto_ops *sk_ops;	/* and its proto_ops */
	void (*saved_data_ready)(struct sock *sk);
	void (*saved_write_space)(struct sock *sk);
	void (*saved_state_change)(struct sock *sk);
	/* The socket's, and one per reader or work that pins the channel
	 * past ep->lock (with a reference on sk); freed after RCU.
	 */
	refcount_t ref;
	struct rcu_head rcu;

	/* Set at JOIN under lock_sock(), cleared at close. */
	struct causal_endpoint *ep;
	u64 id;				/* unique since the module loaded */
	struct list_head ep_node;	/* in ep->channels, under ep->lock */
	struct delayed_work tx_work;	/* writes what others queued */
	/* Set under lock_sock(), read by recvmsg() without it. */
	bool recv_info;			/* CAUSAL_RECV_INFO */
	bool recv_batch;		/* CAUSAL_RECV_BATCH */
	bool rx_deferred;		/* data arrived while the socket was
					 * owned; under sk_lock.slock
					 */
	/* Receive, serialized with TCP's receive. */
	struct causal_strp strp;
	struct delayed_work rx_work;	/* retries after a failed allocation,
					 * resumes a HELLO that waited
					 */
	struct causal_msg front;	/* the front frame, while queued */
	u64 front_clock[CAUSAL_MAX_NODES];
	/* The peer's clock as of its last frame on this channel: a version 2
	 * frame carries only the entries that changed since.
	 */
	u64 rx_clock[CAUSAL_MAX_NODES];
	u64 rx_pass_ns;			/* start of the current read pass, 0
					 * until a frame completes in it
					 */
	bool rx_shut;			/* the reader shut its read side:
					 * reads do not wait (set in
					 * shutdown(), read locklessly)
					 */

	/* Under ep->lock. Set under the socket lock as well. */
	bool dead;			/* closed: nothing more in or out */
	bool rx_stopped;		/* failed or dead: receive no more */
	bool rx_eof;			/* peer's end, no whole frame left */
	bool rx_hello_waits;		/* its HELLO (from rx_hello_peer)
					 * waits in TCP for the peer's
					 * ending channel, or behind an
					 * earlier reconnect of that peer
					 */
	u16 rx_hello_peer;
	unsigned long rx_hello_since;	/* jiffies: it began to wait */
	bool front_queued;		/* front is on holdq */
	bool stale;			/* its peer's channel no more: failed,
					 * broken or replaced
					 */
	struct list_head peer_node;	/* in ep->peer_chans[peer] */
	struct list_head wait_node;	/* in ep->waiting[k] while its head
					 * waits on node k
					 */
	u64 wait_stamp;			/* for k's message with this stamp */
	struct causal_hold_stats hold;
	u16 peer;			/* CAUSAL_PEER_NONE until its HELLO */
	u16 state;			/* CAUSAL_CH_* */
	bool hello_seen;
	enum causal_proto_err proto_err;
	struct list_head holdq;		/* causal_msg, oldest first */
	u32 holdq_len;
	u32 holdback_bytes;
	u64 rx_delivered;
	u64 rx_held_total;
	u64 rx_moved;			/* messages moved out of TCP to wait */
	u64 rx_gaps;
	u64 rx_proto_errors;
	u64 tx_sent;
	u64 tx_clocks;			/* CLOCK frames written */

	/* Transmit under ep->lock: what others stamped for this channel,
	 * in stamp order; its sends are queued here, not written, by anyone
	 * who does not hold tx_mutex.
	 */
	struct list_head txq;		/* causal_txe */
	u32 txq_bytes;
	bool tx_delta;			/* the peer reads version 2 frames */
	u64 tx_gen;			/* our clock's generation as of the
					 * last frame stamped for the peer
					 */
	bool clock_owed;		/* owes the peer a CLOCK frame */
	bool tx_full;			/* TCP took less than offered */
	bool tx_broken;			/* nothing more may be written */

	/* Held by whoever writes to the channel's stream, across its sleeps
	 * in TCP: only this channel's own senders ever wait for it, every
	 * other writer queues and lets the holder write (causal_tx_unlock()).
	 * With the socket lock it protects the rest below.
	 */
	struct mutex tx_mutex;
	bool tx_sleeper;		/* its holder is a sender that may
					 * sleep in TCP
					 */
	int tx_err;			/* why tx_broken */
	/* A frame cut short (signal, full buffer, non-blocking) is finished
	 * from here before anything else is written: frames never interleave.
	 */
	u8 *tx_rest;
	u32 tx_rest_len;
	u32 tx_rest_off;
	struct causal_txbuf *tx_rest_buf;	/* what tx_rest points into, or
						 * NULL for tx_head and tx_cork
						 */
	struct causal_txbuf *tx_cork;	/* corked frames (MSG_MORE), ahead
					 * of everything else still to write
					 */
	u32 tx_cork_len;
	u8 tx_head[CAUSAL_TX_HEAD_MAX + CAUSAL_TX_INLINE];
};

static inline struct causal_sock *causal_sk(const struct sock *sk)
{
	/* Set in init and cleared in close, both under the socket lock;
	 * readers hold the socket lock or RCU.
	 */
	return (__force struct causal_sock *)inet_csk(sk)->icsk_ulp_data;
}

/* The error a channel fails with for a protocol error of its peer. */
static inline int causal_proto_errno(enum causal_proto_err err)
{
	switch (err) {
	case CAUSAL_ERR_PEER:
		return -EPERM;
	case CAUSAL_ERR_DUPLICATE:
		return -EEXIST;
	default:
		return -EPROTO;
	}
}

static inline void causal_link_of(const struct sock *sk, struct causal_link *l)
{
	const struct inet_sock *inet = inet_sk(sk);

	memset(l, 0, sizeof(*l));
	l->family = sk->sk_family;
	l->sport = ntohs(inet->inet_sport);
	l->dport = ntohs(inet->inet_dport);
#if IS_ENABLED(CONFIG_IPV6)
	if (sk->sk_family == AF_INET6) {
		memcpy(l->saddr, &sk->sk_v6_rcv_saddr, 16);
		memcpy(l->daddr, &sk->sk_v6_daddr, 16);
		return;
	}
#endif
	memcpy(l->saddr, &inet->inet_saddr, 4);
	memcpy(l->daddr, &inet->inet_daddr, 4);
}

static inline u64 causal_peer_bit(u16 node)
{
	return 1ULL << node;
}

/* causal_endpoint.c */
int causal_endpoint_join(struct causal_sock *csk, const struct causal_join *join,
			 struct causal_txe *hello);
void causal_endpoint_leave(struct causal_sock *csk);
struct causal_net *causal_net(struct net *net);
int causal_net_init(void);
void causal_net_exit(void);

/* causal_proc.c */
int causal_proc_init_net(struct net *net);
void causal_proc_exit_net(struct net *net);

/* causal_strp.c */
u32 causal_tcp_inq(const struct sock *sk);
void *causal_rx_alloc(struct sock *sk, size_t size, gfp_t gfp);
void causal_pvec_free(struct causal_pvec *pv);
u32 causal_pvec_charge(const struct causal_pvec *pv);
int causal_pvec_to_msg(const struct causal_pvec *pv, u32 off,
		       struct msghdr *msg, u32 len);
int causal_strp_next(struct sock *sk, struct causal_strp *s, u32 max_len,
		     enum causal_proto_err *err, gfp_t gfp);
int causal_strp_check_next(struct sock *sk, struct causal_strp *s,
			   u32 max_len, enum causal_proto_err *err);
int causal_strp_read(struct sock *sk, struct causal_strp *s, u32 off,
		     void *to, u32 len);
int causal_strp_to_msg(struct sock *sk, struct causal_strp *s, u32 off,
		       struct msghdr *msg, u32 len);
int causal_strp_to_pvec(struct sock *sk, struct causal_strp *s, u32 off,
			u32 len, struct causal_pvec *pv, gfp_t gfp);
void causal_strp_done(struct causal_strp *s);
void causal_strp_flush(struct sock *sk, struct causal_strp *s);
u32 causal_strp_charge(const struct causal_strp *s);
void causal_strp_release(struct causal_strp *s);

/* causal_rx.c */
void causal_rx_init(struct causal_sock *csk);
void causal_rx_start(struct causal_sock *csk);
void causal_rx_close(struct causal_sock *csk);
void causal_sock_put(struct causal_sock *csk);
void causal_data_ready(struct sock *sk);
void causal_release_cb(struct sock *sk);
void causal_state_change(struct sock *sk);
int causal_recvmsg(struct sock *sk, struct msghdr *msg, size_t len, int flags,
		   int *addr_len);
bool causal_sock_is_readable(struct sock *sk);
__poll_t causal_poll(struct file *file, struct socket *sock,
		     struct poll_table_struct *wait);
void causal_wake_ready(struct causal_endpoint *ep);
void causal_hold_timer_fn(struct timer_list *t);

/* causal_tx.c */
void causal_tx_init(struct causal_sock *csk);
struct causal_txe *causal_hello_alloc(struct sock *sk, u16 nodes);
void causal_txe_free(struct causal_txe *e);
void causal_tx_queue_hello(struct causal_endpoint *ep, struct causal_sock *csk,
			   struct causal_txe *hello);
void causal_txbuf_put(struct causal_txbuf *buf);
void causal_tx_kick(struct causal_sock *csk);
void causal_owe_clock(struct causal_endpoint *ep, struct causal_sock *csk);
int causal_sendmsg(struct sock *sk, struct msghdr *msg, size_t size);
void causal_tx_close(struct causal_sock *csk, bool bye);
void causal_write_space(struct sock *sk);

#endif /* _CAUSAL_H */
