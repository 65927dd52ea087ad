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

MODULE_AUTHOR("The causal project");
MODULE_DESCRIPTION("Causal delivery across TCP connections");
MODULE_LICENSE("GPL");
MODULE_ALIAS_TCP_ULP(CAUSAL_ULP_NAME);

enum {
	CAUSAL_IPV4,
	CAUSAL_IPV6,
	CAUSAL_NUM_FAMILIES,
};

/* Our protos are copies of the live TCP protos with a few methods replaced.
 * They are built from the first socket of each family, not from tcp_prot
 * directly, so that IPv6 needs no link-time dependency.
 */
static struct proto causal_prots[CAUSAL_NUM_FAMILIES];
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

static void causal_build_proto(struct proto *prot, const struct proto *base)
{
	*prot = *base;
	prot->setsockopt = causal_setsockopt;
	prot->getsockopt = causal_getsockopt;
	prot->disconnect = causal_disconnect;
	prot->close = causal_sk_proto_close;
}

/* Return our proto for @sk's family, building it on first use. A socket
 * whose proto was already replaced by someone else (sockmap, another ULP) is
 * not supported: we would not know what to restore.
 */
static struct proto *causal_proto_for(struct sock *sk)
{
	int family = sk->sk_family == AF_INET6 ? CAUSAL_IPV6 : CAUSAL_IPV4;
	struct proto *base = READ_ONCE(sk->sk_prot);
	struct proto *prot = &causal_prots[family];

	/* Pairs with the release below: a base seen here comes with the
	 * finished proto built from it.
	 */
	if (likely(smp_load_acquire(&causal_base_prots[family]) == base))
		return prot;

	mutex_lock(&causal_prot_mutex);
	if (!causal_base_prots[family]) {
		causal_build_proto(prot, base);
		/* Publish the proto before the base it was built from. */
		smp_store_release(&causal_base_prots[family], base);
	} else if (causal_base_prots[family] != base) {
		prot = NULL;
	}
	mutex_unlock(&causal_prot_mutex);
	return prot;
}

static int causal_init(struct sock *sk)
{
	struct inet_connection_sock *icsk = inet_csk(sk);
	struct causal_sock *csk;
	struct proto *prot;

	/* Listening sockets are refused by the core (no .clone); anything but
	 * an established connection has no peer to speak the protocol with.
	 */
	if (sk->sk_state != TCP_ESTABLISHED)
		return -ENOTCONN;

	prot = causal_proto_for(sk);
	if (!prot)
		return -EOPNOTSUPP;

	csk = kmem_cache_zalloc(causal_sock_cache, GFP_KERNEL);
	if (!csk)
		return -ENOMEM;
	csk->sk = sk;
	csk->sk_proto = READ_ONCE(sk->sk_prot);

	write_lock_bh(&sk->sk_callback_lock);
	csk->sk_write_space = sk->sk_write_space;
	rcu_assign_pointer(icsk->icsk_ulp_data, csk);
	/* Pairs with lockless reads of sk_prot, e.g. in sk_clone_lock(). */
	WRITE_ONCE(sk->sk_prot, prot);
	write_unlock_bh(&sk->sk_callback_lock);
	return 0;
}

static void causal_sock_free_rcu(struct rcu_head *head)
{
	kmem_cache_free(causal_sock_cache,
			container_of(head, struct causal_sock, rcu));
}

static void causal_sk_proto_close(struct sock *sk, long timeout)
{
	struct inet_connection_sock *icsk = inet_csk(sk);
	struct causal_sock *csk = causal_sk(sk);
	struct proto *base = csk->sk_proto;

	lock_sock(sk);
	if (csk->ep)
		causal_endpoint_leave(csk);

	/* Put the socket back as we found it before TCP closes it. */
	write_lock_bh(&sk->sk_callback_lock);
	rcu_assign_pointer(icsk->icsk_ulp_data, NULL);
	WRITE_ONCE(sk->sk_prot, base);
	sk->sk_write_space = csk->sk_write_space;
	write_unlock_bh(&sk->sk_callback_lock);
	release_sock(sk);

	/* Readers under RCU (diag) may still look at csk. */
	call_rcu(&csk->rcu, causal_sock_free_rcu);
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

	err = causal_endpoint_join(csk, &join);
	if (err)
		return err;
	if (join.flags & CAUSAL_F_RECV_INFO)
		csk->recv_info = true;
	return 0;
}

static int causal_set_peers(struct causal_endpoint *ep, sockptr_t optval,
			    unsigned int optlen)
{
	u64 all = ep->nodes == 64 ? ~0ULL : (1ULL << ep->nodes) - 1;
	u64 peers;

	if (optlen != sizeof(peers))
		return -EINVAL;
	if (copy_from_sockptr(&peers, optval, sizeof(peers)))
		return -EFAULT;
	if ((peers & ~all) || (peers & (1ULL << ep->node)))
		return -EINVAL;

	spin_lock_bh(&ep->lock);
	ep->peers = peers;
	spin_unlock_bh(&ep->lock);
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
		err = -EINVAL;
		if (optlen < sizeof(val))
			break;
		err = -EFAULT;
		if (copy_from_sockptr(&val, optval, sizeof(val)))
			break;
		csk->recv_info = !!val;
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

	if (level != SOL_CAUSAL)
		return csk->sk_proto->setsockopt(sk, level, optname, optval,
						 optlen);
	return causal_do_setsockopt(sk, optname, optval, optlen);
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

static int causal_do_getsockopt(struct sock *sk, int optname,
				char __user *optval, int __user *optlen)
{
	struct causal_sock *csk = causal_sk(sk);
	struct causal_endpoint *ep;
	u64 vclock[CAUSAL_MAX_NODES];
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
	if (optname == CAUSAL_RECV_INFO) {
		val = csk->recv_info;
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
		peers = ep->peers;
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
		memcpy(vclock, ep->vclock, nodes * sizeof(u64));
		spin_unlock_bh(&ep->lock);
		err = causal_put_opt(optval, optlen, len, vclock,
				     nodes * sizeof(u64));
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

	if (level != SOL_CAUSAL)
		return csk->sk_proto->getsockopt(sk, level, optname, optval,
						 optlen);
	return causal_do_getsockopt(sk, optname, optval, optlen);
}

static struct tcp_ulp_ops causal_ulp_ops __read_mostly = {
	.name	= CAUSAL_ULP_NAME,
	.owner	= THIS_MODULE,
	.init	= causal_init,
};

static int __init causal_register(void)
{
	int err;

	causal_sock_cache = KMEM_CACHE(causal_sock, 0);
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
