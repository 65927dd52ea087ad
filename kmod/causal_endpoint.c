// SPDX-License-Identifier: GPL-2.0
/* Endpoints: the per (netns, group, node) state shared by a node's sockets. */

#include <linux/capability.h>
#include <linux/random.h>
#include <linux/slab.h>
#include <net/net_namespace.h>
#include <net/netns/generic.h>

#include "causal.h"

static unsigned int causal_net_id __read_mostly;
/* Channel ids, so that readers of /proc/net/causal and of causal_totals
 * tell a channel from the one that replaced it.
 */
static atomic64_t causal_channel_ids = ATOMIC64_INIT(0);

/* The endpoint (group, node) of @owner, or with @owner NULL of anybody. */
static struct causal_endpoint *causal_endpoint_find(struct causal_net *cn,
						    u32 group, u16 node,
						    const kuid_t *owner)
{
	struct causal_endpoint *ep;

	lockdep_assert_held(&cn->lock);
	list_for_each_entry(ep, &cn->endpoints, list)
		if (ep->group == group && ep->node == node &&
		    (!owner || uid_eq(ep->owner, *owner)))
			return ep;
	return NULL;
}

static struct causal_endpoint *causal_endpoint_create(struct sock *sk,
						      const struct causal_join *join)
{
	struct causal_endpoint *ep;
	u64 all = join->nodes == 64 ? ~0ULL : causal_peer_bit(join->nodes) - 1;
	u16 k;

	/* The rule keeps a clock per peer: tens of KiB for big groups. */
	ep = kvzalloc(sizeof(*ep), GFP_KERNEL_ACCOUNT | __GFP_NOWARN);
	if (!ep)
		return NULL;
	ep->net = sock_net(sk);
	ep->group = join->group;
	ep->node = join->node;
	ep->nodes = join->nodes;
	ep->flags = join->flags & CAUSAL_ENDPOINT_FLAGS;
	ep->owner = sk->sk_uid;
	do {
		ep->incarnation = get_random_u64();
	} while (!ep->incarnation);
	init_waitqueue_head(&ep->tx_wait);
	spin_lock_init(&ep->lock);
	INIT_LIST_HEAD(&ep->channels);
	for (k = 0; k < CAUSAL_MAX_NODES; k++) {
		INIT_LIST_HEAD(&ep->peer_chans[k]);
		INIT_LIST_HEAD(&ep->waiting[k]);
	}
	timer_setup(&ep->hold_timer, causal_hold_timer_fn, 0);
	/* Every other node of the group. */
	causal_rule_init(&ep->rule, join->group, join->node, join->nodes,
			 all & ~causal_peer_bit(join->node));
	return ep;
}

static void causal_endpoint_free(struct causal_endpoint *ep)
{
	del_timer_sync(&ep->hold_timer);
	WARN_ON_ONCE(!list_empty(&ep->channels));
	kvfree_rcu(ep, rcu);
}

int causal_endpoint_join(struct causal_sock *csk, const struct causal_join *join,
			 struct causal_txe *hello)
{
	struct sock *sk = csk->sk;
	struct net *net = sock_net(sk);
	struct causal_net *cn = net_generic(net, causal_net_id);
	struct causal_endpoint *ep;
	int err = 0;

	mutex_lock(&cn->lock);
	/* An endpoint is only ever shared by sockets of its owner: another
	 * uid may not join it (EPERM), and one with CAP_NET_ADMIN, a service,
	 * gets an endpoint of its own rather than one a squatter created to
	 * read and send as it.
	 */
	ep = causal_endpoint_find(cn, join->group, join->node, &sk->sk_uid);
	if (!ep && causal_endpoint_find(cn, join->group, join->node, NULL) &&
	    !ns_capable(net->user_ns, CAP_NET_ADMIN)) {
		err = -EPERM;
		goto out_unlock;
	}
	if (ep) {
		if (ep->nodes != join->nodes ||
		    ep->flags != (join->flags & CAUSAL_ENDPOINT_FLAGS)) {
			err = -EINVAL;
			goto out_unlock;
		}
	} else {
		ep = causal_endpoint_create(sk, join);
		if (!ep) {
			err = -ENOMEM;
			goto out_unlock;
		}
		list_add_tail(&ep->list, &cn->endpoints);
	}
	ep->nr_sockets++;

	csk->id = atomic64_inc_return(&causal_channel_ids);
	csk->peer = CAUSAL_PEER_NONE;
	csk->state = CAUSAL_CH_JOINED;
	spin_lock_bh(&ep->lock);
	list_add_tail(&csk->ep_node, &ep->channels);
	causal_tx_queue_hello(ep, csk, hello);
	spin_unlock_bh(&ep->lock);
	WRITE_ONCE(csk->ep, ep);
out_unlock:
	mutex_unlock(&cn->lock);
	return err;
}

/* The channel is already unlinked from the endpoint. */
void causal_endpoint_leave(struct causal_sock *csk)
{
	struct causal_endpoint *ep = csk->ep;
	struct causal_net *cn = net_generic(ep->net, causal_net_id);
	bool last;

	mutex_lock(&cn->lock);
	last = !--ep->nr_sockets;
	if (last)
		list_del(&ep->list);
	mutex_unlock(&cn->lock);
	WRITE_ONCE(csk->ep, NULL);
	if (last)
		causal_endpoint_free(ep);
}

struct causal_net *causal_net(struct net *net)
{
	return net_generic(net, causal_net_id);
}

static int __net_init causal_net_setup(struct net *net)
{
	struct causal_net *cn = net_generic(net, causal_net_id);

	mutex_init(&cn->lock);
	INIT_LIST_HEAD(&cn->endpoints);
	return causal_proc_init_net(net);
}

static void __net_exit causal_net_teardown(struct net *net)
{
	struct causal_net *cn = net_generic(net, causal_net_id);

	causal_proc_exit_net(net);
	/* Sockets pin their netns, so every endpoint is gone by now. */
	WARN_ON_ONCE(!list_empty(&cn->endpoints));
	mutex_destroy(&cn->lock);
}

static struct pernet_operations causal_net_ops = {
	.init = causal_net_setup,
	.exit = causal_net_teardown,
	.id   = &causal_net_id,
	.size = sizeof(struct causal_net),
};

int causal_net_init(void)
{
	return register_pernet_subsys(&causal_net_ops);
}

void causal_net_exit(void)
{
	unregister_pernet_subsys(&causal_net_ops);
}
