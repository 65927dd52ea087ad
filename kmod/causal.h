/* SPDX-License-Identifier: GPL-2.0 */
/* Internal state of the causal ULP. */
#ifndef _CAUSAL_H
#define _CAUSAL_H

#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/refcount.h>
#include <linux/uidgid.h>
#include <net/inet_connection_sock.h>
#include <net/sock.h>
#include "uapi/linux/causal.h"

#define CAUSAL_JOIN_FLAGS \
	(CAUSAL_F_BROADCAST | CAUSAL_F_MERGED_RECV | CAUSAL_F_RECV_INFO)
/* Flags that describe the endpoint; every socket joining it must agree. */
#define CAUSAL_ENDPOINT_FLAGS	(CAUSAL_F_BROADCAST | CAUSAL_F_MERGED_RECV)

/* Per network namespace. */
struct causal_net {
	/* Protects endpoints and every endpoint's membership (sockets,
	 * nr_sockets). Taken under lock_sock() of a joining or closing socket.
	 */
	struct mutex lock;
	struct list_head endpoints;
};

/* State of one (netns, group, node). */
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

	/* Protects the options below and vclock. */
	spinlock_t lock;
	u64 peers;			/* CAUSAL_PEERS */
	u32 hold_timeout_ms;		/* CAUSAL_HOLD_TIMEOUT */
	u64 vclock[CAUSAL_MAX_NODES];
};

/* Per ULP socket, reachable from icsk_ulp_data. */
struct causal_sock {
	struct sock *sk;
	struct proto *sk_proto;		/* the socket's proto under ours */
	void (*sk_write_space)(struct sock *sk);
	struct rcu_head rcu;

	/* Fields below are protected by lock_sock(). */
	struct causal_endpoint *ep;	/* NULL until CAUSAL_JOIN */
	bool recv_info;			/* CAUSAL_RECV_INFO */
};

static inline struct causal_sock *causal_sk(const struct sock *sk)
{
	/* Set once in init, cleared in close; both under the socket lock.
	 * Readers hold the socket lock or RCU.
	 */
	return (__force struct causal_sock *)inet_csk(sk)->icsk_ulp_data;
}

/* causal_endpoint.c */
int causal_endpoint_join(struct causal_sock *csk, const struct causal_join *join);
void causal_endpoint_leave(struct causal_sock *csk);
int causal_net_init(void);
void causal_net_exit(void);

#endif /* _CAUSAL_H */
