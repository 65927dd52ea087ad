// SPDX-License-Identifier: GPL-2.0
/*
 * The "causal" TCP upper layer protocol: registration, per-socket setup and
 * teardown, and the SOL_CAUSAL socket options.
 */

#include <linux/module.h>
#include <linux/slab.h>
#include <linux/sockptr.h>
#include <net/tcp.h>

#include "causal.h"
#include "causal_compat.h"

#define CREATE_TRACE_POINTS
#include "causal_trace.h"

MODULE_AUTHOR("The causal project");
MODULE_DESCRIPTION("Causal delivery across TCP connections");
MODULE_LICENSE("GPL");
MODULE_VERSION(CAUSAL_VERSION);
MODULE_ALIAS_TCP_ULP(CAUSAL_ULP_NAME);

unsigned int causal_max_msg_size __read_mostly = SZ_1M;
module_param_named(max_msg_size, causal_max_msg_size, uint, 0444);

bool causal_wire_delta __read_mostly = true;
module_param_named(wire_delta, causal_wire_delta, bool, 0644);
MODULE_PARM_DESC(wire_delta,
		 "Say in HELLO that we read frames of only the clock entries that changed (wire version 2), and send those to peers that say so; for channels opened from now on (default on)");
MODULE_PARM_DESC(max_msg_size, "Largest message in bytes (default 1 MiB, at most 64 MiB)");

/* What the tracepoints pass to raw attachments: their loader checks it. */
static char causal_tp_args_text[] = CAUSAL_TP_ARGS_TEXT;
module_param_string(tracepoint_args, causal_tp_args_text,
		    sizeof(causal_tp_args_text), 0444);
MODULE_PARM_DESC(tracepoint_args,
		 "The arguments the tracepoints pass to BPF programs (read only)");

enum {
	CAUSAL_IPV4,
	CAUSAL_IPV6,
	CAUSAL_NUM_FAMILIES,
};

/* Our protos and proto_ops are copies of the live TCP ones with a few methods
 * replaced. They are built from the first socket of each family, not from
 * tcp_prot directly, so that IPv6 needs no link-time dependency.
 */
static struct proto causal_prots[CAUSAL_NUM_FAMILIES];
static struct proto_ops causal_ops[CAUSAL_NUM_FAMILIES];
static const struct proto *causal_base_prots[CAUSAL_NUM_FAMILIES];
static DEFINE_MUTEX(causal_prot_mutex);	/* serializes building a proto */

static struct kmem_cache *causal_sock_cache;

static int causal_setsockopt(struct sock *sk, int level, int optname,
			     sockptr_t optval, unsigned int optlen);
static int causal_getsockopt(struct sock *sk, int level, int optname,
			     char __user *optval, int __user *optlen);
static void causal_sk_proto_close(struct sock *sk, long timeout);

static int causal_disconnect(struct sock *sk, int flags)
{
	/* A channel is bound to one peer for its whole life. */
	return -EOPNOTSUPP;
}

static ssize_t causal_splice_read(struct socket *sock, loff_t *ppos,
				  struct pipe_inode_info *pipe, size_t len,
				  unsigned int flags)
{
	/* Messages have boundaries and metadata a pipe cannot carry. */
	return -EOPNOTSUPP;
}

static void causal_build_proto(struct proto *prot, struct proto_ops *ops,
			       const struct proto *base,
			       const struct proto_ops *base_ops)
{
	*prot = *base;
	prot->setsockopt = causal_setsockopt;
	prot->getsockopt = causal_getsockopt;
	prot->disconnect = causal_disconnect;
	prot->close = causal_sk_proto_close;
	prot->sendmsg = causal_sendmsg;
	prot->recvmsg = causal_recvmsg;
	prot->sock_is_readable = causal_sock_is_readable;
	prot->release_cb = causal_release_cb;

	*ops = *base_ops;
	ops->poll = causal_poll;
	ops->splice_read = causal_splice_read;
	/* Nobody else may read the raw stream: the frames are ours. */
	ops->read_sock = NULL;
	ops->read_skb = NULL;
	causal_compat_no_sendpage(prot, ops);
}

/* Return the index of our proto for @sk's family, building it on first use,
 * or -1. A socket whose proto was already replaced by someone else (sockmap,
 * another ULP) is not supported: we would not know what to restore.
 */
static int causal_proto_for(struct sock *sk)
{
	int family = sk->sk_family == AF_INET6 ? CAUSAL_IPV6 : CAUSAL_IPV4;
	struct proto *base = READ_ONCE(sk->sk_prot);

	/* Pairs with the release below: a base seen here comes with the
	 * finished proto built from it.
	 */
	if (likely(smp_load_acquire(&causal_base_prots[family]) == base))
		return family;

	mutex_lock(&causal_prot_mutex);
	if (!causal_base_prots[family]) {
		causal_build_proto(&causal_prots[family], &causal_ops[family],
				   base, sk->sk_socket->ops);
		/* Publish the proto before the base it was built from. */
		smp_store_release(&causal_base_prots[family], base);
	} else if (causal_base_prots[family] != base) {
		family = -1;
	}
	mutex_unlock(&causal_prot_mutex);
	return family;
}

static int causal_init(struct sock *sk)
{
	struct inet_connection_sock *icsk = inet_csk(sk);
	struct causal_sock *csk;
	int family;

	/* Listening sockets are refused by the core (no .clone); anything but
	 * an established connection has no peer to speak the protocol with.
	 */
	if (sk->sk_state != TCP_ESTABLISHED || !sk->sk_socket)
		return -ENOTCONN;

	family = causal_proto_for(sk);
	if (family < 0)
		return -EOPNOTSUPP;

	csk = kmem_cache_zalloc(causal_sock_cache, GFP_KERNEL);
	if (!csk)
		return -ENOMEM;
	csk->sk = sk;
	refcount_set(&csk->ref, 1);
	causal_rx_init(csk);
	causal_tx_init(csk);
	csk->sk_proto = READ_ONCE(sk->sk_prot);
	csk->sk_ops = sk->sk_socket->ops;
	csk->peer = CAUSAL_PEER_NONE;

	write_lock_bh(&sk->sk_callback_lock);
	csk->saved_data_ready = sk->sk_data_ready;
	csk->saved_write_space = sk->sk_write_space;
	csk->saved_state_change = sk->sk_state_change;
	rcu_assign_pointer(icsk->icsk_ulp_data, csk);
	/* Pairs with lockless reads of sk_prot, e.g. in sk_clone_lock(). */
	WRITE_ONCE(sk->sk_prot, &causal_prots[family]);
	sk->sk_socket->ops = &causal_ops[family];
	write_unlock_bh(&sk->sk_callback_lock);
	return 0;
}

static void causal_sock_free_rcu(struct rcu_head *head)
{
	struct causal_sock *csk = container_of(head, struct causal_sock, rcu);

	kfree(csk->hold.hist);
	kmem_cache_free(causal_sock_cache, csk);
}

/* Readers under RCU (diag) may still look at the context. */
void causal_sock_put(struct causal_sock *csk)
{
	if (refcount_dec_and_test(&csk->ref))
		call_rcu(&csk->rcu, causal_sock_free_rcu);
}

/* Install our callbacks (@on) or put back the socket's own, which init
 * saved: other channels may wake this one through them as soon as it is on
 * the endpoint's list, before ours are installed.
 */
static void causal_swap_callbacks(struct causal_sock *csk, bool on)
{
	struct sock *sk = csk->sk;

	write_lock_bh(&sk->sk_callback_lock);
	if (on) {
		sk->sk_data_ready = causal_data_ready;
		sk->sk_write_space = causal_write_space;
		sk->sk_state_change = causal_state_change;
	} else {
		sk->sk_data_ready = csk->saved_data_ready;
		sk->sk_write_space = csk->saved_write_space;
		sk->sk_state_change = csk->saved_state_change;
	}
	write_unlock_bh(&sk->sk_callback_lock);
}

/* Leave the endpoint. In one critical section of the endpoint's transmit
 * and the socket: the channel leaves the endpoint's list, so that no
 * broadcast, CLOCK or reader finds it any more, and its BYE (not on an
 * abortive close, SO_LINGER 0) is the last frame it ever writes. Then the
 * work that may still be queued is cancelled: it finds the channel dead.
 */
static void causal_channel_close(struct causal_sock *csk)
{
	struct sock *sk = csk->sk;

	mutex_lock(&csk->tx_mutex);
	lock_sock(sk);
	causal_rx_close(csk);
	causal_tx_close(csk, !sock_flag(sk, SOCK_LINGER) || sk->sk_lingertime);
	release_sock(sk);
	mutex_unlock(&csk->tx_mutex);

	causal_swap_callbacks(csk, false);
	cancel_delayed_work_sync(&csk->rx_work);
	cancel_delayed_work_sync(&csk->tx_work);
	causal_endpoint_leave(csk);
}

static void causal_sk_proto_close(struct sock *sk, long timeout)
{
	struct inet_connection_sock *icsk = inet_csk(sk);
	struct causal_sock *csk = causal_sk(sk);
	struct proto *base = csk->sk_proto;

	if (csk->ep)
		causal_channel_close(csk);

	/* Put the socket back as we found it before TCP closes it. */
	lock_sock(sk);
	write_lock_bh(&sk->sk_callback_lock);
	rcu_assign_pointer(icsk->icsk_ulp_data, NULL);
	WRITE_ONCE(sk->sk_prot, base);
	if (sk->sk_socket)
		sk->sk_socket->ops = csk->sk_ops;
	write_unlock_bh(&sk->sk_callback_lock);
	release_sock(sk);

	causal_sock_put(csk);
	base->close(sk, timeout);
}

static int causal_validate_join(const struct causal_join *join)
{
	if (!join->group || join->reserved)
		return -EINVAL;
	if (!join->nodes || join->nodes > CAUSAL_MAX_NODES ||
	    join->node >= join->nodes)
		return -EINVAL;
	if (join->flags & ~CAUSAL_JOIN_FLAGS)
		return -EINVAL;
	return 0;
}

static int causal_set_join(struct causal_sock *csk, sockptr_t optval,
			   unsigned int optlen)
{
	struct causal_join join;
	struct causal_txe *hello;
	int err;

	if (optlen != sizeof(join))
		return -EINVAL;
	if (copy_from_sockptr(&join, optval, sizeof(join)))
		return -EFAULT;
	err = causal_validate_join(&join);
	if (err)
		return err;
	if (csk->ep)
		return -EBUSY;

	hello = causal_hello_alloc(csk->sk, join.nodes);
	if (!hello)
		return -ENOMEM;
	err = causal_endpoint_join(csk, &join, hello);
	if (err) {
		causal_txe_free(hello);
		return err;
	}
	if (join.flags & CAUSAL_F_RECV_INFO)
		WRITE_ONCE(csk->recv_info, true);
	causal_swap_callbacks(csk, true);
	causal_rx_start(csk);
	return 0;
}

static int causal_set_peers(struct causal_endpoint *ep, sockptr_t optval,
			    unsigned int optlen)
{
	u64 all = ep->nodes == 64 ? ~0ULL : causal_peer_bit(ep->nodes) - 1;
	u64 peers;

	if (optlen != sizeof(peers))
		return -EINVAL;
	if (copy_from_sockptr(&peers, optval, sizeof(peers)))
		return -EFAULT;
	if ((peers & ~all) || (peers & causal_peer_bit(ep->node)))
		return -EINVAL;

	spin_lock_bh(&ep->lock);
	ep->rule.peers = peers;
	spin_unlock_bh(&ep->lock);
	/* Messages may have been waiting on a node that left the set. */
	causal_wake_ready(ep);
	return 0;
}

static int causal_set_hold_timeout(struct causal_endpoint *ep, sockptr_t optval,
				   unsigned int optlen)
{
	u32 ms;

	if (optlen != sizeof(ms))
		return -EINVAL;
	if (copy_from_sockptr(&ms, optval, sizeof(ms)))
		return -EFAULT;

	spin_lock_bh(&ep->lock);
	ep->hold_timeout_ms = ms;
	spin_unlock_bh(&ep->lock);
	causal_wake_ready(ep);
	return 0;
}

static int causal_do_setsockopt(struct sock *sk, int optname, sockptr_t optval,
				unsigned int optlen)
{
	struct causal_sock *csk = causal_sk(sk);
	int val, err;

	lock_sock(sk);
	switch (optname) {
	case CAUSAL_JOIN:
		err = causal_set_join(csk, optval, optlen);
		break;
	case CAUSAL_PEERS:
		err = csk->ep ? causal_set_peers(csk->ep, optval, optlen) :
				-ENOTCONN;
		break;
	case CAUSAL_HOLD_TIMEOUT:
		err = csk->ep ? causal_set_hold_timeout(csk->ep, optval, optlen) :
				-ENOTCONN;
		break;
	case CAUSAL_RECV_INFO:
	case CAUSAL_RECV_BATCH:
		err = -EINVAL;
		if (optlen < sizeof(val))
			break;
		err = -EFAULT;
		if (copy_from_sockptr(&val, optval, sizeof(val)))
			break;
		if (optname == CAUSAL_RECV_INFO)
			WRITE_ONCE(csk->recv_info, !!val);
		else
			WRITE_ONCE(csk->recv_batch, !!val);
		err = 0;
		break;
	default:
		err = -ENOPROTOOPT;
	}
	release_sock(sk);
	return err;
}

static int causal_setsockopt(struct sock *sk, int level, int optname,
			     sockptr_t optval, unsigned int optlen)
{
	struct causal_sock *csk = causal_sk(sk);
	int err;

	if (level != SOL_CAUSAL)
		return csk->sk_proto->setsockopt(sk, level, optname, optval,
						 optlen);
	err = causal_do_setsockopt(sk, optname, optval, optlen);
	/* The HELLO waits in the channel's queue: writing it takes the
	 * channel's tx_mutex, which ranks above the socket lock.
	 */
	if (!err && optname == CAUSAL_JOIN)
		causal_tx_kick(csk);
	return err;
}

/* Copy a value of @size bytes out; the caller's buffer must hold all of it. */
static int causal_put_opt(char __user *optval, int __user *optlen, int len,
			  const void *val, unsigned int size)
{
	if (len < size)
		return -EINVAL;
	if (put_user(size, optlen))
		return -EFAULT;
	if (copy_to_user(optval, val, size))
		return -EFAULT;
	return 0;
}

static void causal_fill_info(struct causal_sock *csk, struct causal_info *info)
{
	struct causal_endpoint *ep = csk->ep;

	memset(info, 0, sizeof(*info));
	info->group = ep->group;
	info->node = ep->node;
	info->nodes = ep->nodes;
	info->flags = ep->flags;
	spin_lock_bh(&ep->lock);
	info->peer = csk->peer;
	info->state = csk->state;
	info->sent = csk->tx_sent;
	info->delivered = csk->rx_delivered;
	info->held_now = csk->holdq_len;
	info->held_total = csk->rx_held_total;
	info->gaps = csk->rx_gaps;
	info->proto_errors = csk->rx_proto_errors;
	info->holdback_bytes = csk->holdback_bytes;
	if (csk->peer != CAUSAL_PEER_NONE)
		info->watermark = ep->rule.peer[csk->peer].wm;
	info->ep_sent = ep->sent;
	info->ep_delivered = ep->delivered;
	info->ep_held_now = ep->held_now;
	info->ep_gaps = ep->gaps;
	info->last_error = csk->proto_err;
	info->tx_queued = csk->txq_bytes;
	info->moved = csk->rx_moved;
	info->copied_frames = READ_ONCE(csk->strp.copied_frames);
	info->clocks_sent = csk->tx_clocks;
	spin_unlock_bh(&ep->lock);
}

static int causal_do_getsockopt(struct sock *sk, int optname,
				char __user *optval, int __user *optlen)
{
	struct causal_sock *csk = causal_sk(sk);
	struct causal_endpoint *ep;
	u64 vclock[CAUSAL_MAX_NODES];
	struct causal_info info;
	unsigned int nodes;
	u64 peers;
	int len, val, err;
	u32 ms;

	if (get_user(len, optlen))
		return -EFAULT;
	if (len < 0)
		return -EINVAL;

	lock_sock(sk);
	ep = csk->ep;
	if (optname == CAUSAL_RECV_INFO || optname == CAUSAL_RECV_BATCH) {
		val = optname == CAUSAL_RECV_INFO ? csk->recv_info :
						     csk->recv_batch;
		err = causal_put_opt(optval, optlen, len, &val, sizeof(val));
		goto out_release;
	}
	if (!ep) {
		err = optname >= CAUSAL_PEERS && optname <= CAUSAL_VCLOCK ?
		      -ENOTCONN : -ENOPROTOOPT;
		goto out_release;
	}

	switch (optname) {
	case CAUSAL_PEERS:
		spin_lock_bh(&ep->lock);
		peers = ep->rule.peers;
		spin_unlock_bh(&ep->lock);
		err = causal_put_opt(optval, optlen, len, &peers, sizeof(peers));
		break;
	case CAUSAL_HOLD_TIMEOUT:
		spin_lock_bh(&ep->lock);
		ms = ep->hold_timeout_ms;
		spin_unlock_bh(&ep->lock);
		err = causal_put_opt(optval, optlen, len, &ms, sizeof(ms));
		break;
	case CAUSAL_VCLOCK:
		nodes = ep->nodes;
		spin_lock_bh(&ep->lock);
		memcpy(vclock, ep->rule.clock, nodes * sizeof(u64));
		spin_unlock_bh(&ep->lock);
		err = causal_put_opt(optval, optlen, len, vclock,
				     nodes * sizeof(u64));
		break;
	case CAUSAL_INFO:
		/* It grows at its end: an older caller gets what it knows
		 * of, and the length says how much that was.
		 */
		causal_fill_info(csk, &info);
		len = min_t(unsigned int, len, sizeof(info));
		err = causal_put_opt(optval, optlen, len, &info, len);
		break;
	default:
		err = -ENOPROTOOPT;
	}
out_release:
	release_sock(sk);
	return err;
}

static int causal_getsockopt(struct sock *sk, int level, int optname,
			     char __user *optval, int __user *optlen)
{
	struct causal_sock *csk = causal_sk(sk);

	/* It would map the raw stream, frames and all, into the caller. */
	if (level == SOL_TCP && optname == TCP_ZEROCOPY_RECEIVE)
		return -EOPNOTSUPP;
	if (level != SOL_CAUSAL)
		return csk->sk_proto->getsockopt(sk, level, optname, optval,
						 optlen);
	return causal_do_getsockopt(sk, optname, optval, optlen);
}

/* sock_diag: called without the socket lock; the context and the endpoint
 * are freed after an RCU grace period, and racy reads of counters are fine
 * for a snapshot.
 */
static int causal_get_info(struct sock *sk, struct sk_buff *skb)
{
	struct causal_endpoint *ep;
	struct causal_sock *csk;
	struct nlattr *start;
	int err = 0;

	start = nla_nest_start_noflag(skb, CAUSAL_INET_ULP_INFO);
	if (!start)
		return -EMSGSIZE;

	rcu_read_lock();
	csk = rcu_dereference(inet_csk(sk)->icsk_ulp_data);
	ep = csk ? READ_ONCE(csk->ep) : NULL;
	if (ep &&
	    (nla_put_u32(skb, CAUSAL_DIAG_GROUP, ep->group) ||
	     nla_put_u16(skb, CAUSAL_DIAG_NODE, ep->node) ||
	     nla_put_u16(skb, CAUSAL_DIAG_NODES, ep->nodes) ||
	     nla_put_u16(skb, CAUSAL_DIAG_PEER, READ_ONCE(csk->peer)) ||
	     nla_put_u16(skb, CAUSAL_DIAG_STATE, READ_ONCE(csk->state)) ||
	     nla_put_u32(skb, CAUSAL_DIAG_HELD, READ_ONCE(csk->holdq_len)) ||
	     nla_put_u32(skb, CAUSAL_DIAG_HOLDBACK,
			 READ_ONCE(csk->holdback_bytes))))
		err = -EMSGSIZE;
	rcu_read_unlock();

	if (err) {
		nla_nest_cancel(skb, start);
		return err;
	}
	nla_nest_end(skb, start);
	return 0;
}

static size_t causal_get_info_size(const struct sock *sk)
{
	return nla_total_size(0) +			/* the nest */
	       3 * nla_total_size(sizeof(u32)) +	/* group, held, bytes */
	       4 * nla_total_size(sizeof(u16));		/* node, nodes, peer,
							 * state
							 */
}

static struct tcp_ulp_ops causal_ulp_ops __read_mostly = {
	.name		= CAUSAL_ULP_NAME,
	.owner		= THIS_MODULE,
	.init		= causal_init,
	.get_info	= causal_get_info,
	.get_info_size	= causal_get_info_size,
};

static int __init causal_register(void)
{
	int err;

	/* The limits and layouts the uapi header, the wire codec and the
	 * rule each declare.
	 */
	BUILD_BUG_ON(CAUSAL_MAX_NODES != CAUSAL_WIRE_MAX_NODES);
	BUILD_BUG_ON(sizeof(u64) * BITS_PER_BYTE < CAUSAL_MAX_NODES);
	BUILD_BUG_ON(sizeof(struct causal_wire_hdr) != CAUSAL_WIRE_HDR_LEN);
	BUILD_BUG_ON(sizeof(struct causal_wire_hdr2) != CAUSAL_WIRE_HDR_MAX);
	BUILD_BUG_ON(sizeof(struct causal_wire_hello) != CAUSAL_WIRE_HELLO_LEN);
	BUILD_BUG_ON(CAUSAL_MAX_NODES >= CAUSAL_PEER_NONE);
	BUILD_BUG_ON(sizeof(struct causal_rec) % CAUSAL_REC_ALIGN);
	/* causal_info only grows at its end, without holes. */
	BUILD_BUG_ON(offsetof(struct causal_info, moved) !=
		     offsetof(struct causal_info, tx_queued) + sizeof(__u32));
	BUILD_BUG_ON(offsetof(struct causal_info, clocks_sent) !=
		     sizeof(struct causal_info) - sizeof(__u64));

	if (!causal_max_msg_size || causal_max_msg_size > SZ_64M)
		return -EINVAL;

	/* Small payloads are copied from user space into tx_head. */
	causal_sock_cache = KMEM_CACHE_USERCOPY(causal_sock, SLAB_ACCOUNT, tx_head);
	if (!causal_sock_cache)
		return -ENOMEM;

	err = causal_net_init();
	if (err)
		goto err_destroy_cache;

	tcp_register_ulp(&causal_ulp_ops);
	return 0;

err_destroy_cache:
	kmem_cache_destroy(causal_sock_cache);
	return err;
}

static void __exit causal_unregister(void)
{
	tcp_unregister_ulp(&causal_ulp_ops);
	causal_net_exit();
	/* Wait for causal_sock_free_rcu() callbacks before the cache goes. */
	rcu_barrier();
	kmem_cache_destroy(causal_sock_cache);
}

module_init(causal_register);
module_exit(causal_unregister);
