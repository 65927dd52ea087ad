// SPDX-License-Identifier: GPL-2.0
/* Endpoints: the per (netns, group, node) state shared by a node's sockets. */

#include <linux/capability.h>
#include <linux/random.h>
#include <linux/slab.h>
#include <net/net_namespace.h>
#include <net/netns/generic.h>

#include "causal.h"

static unsigned int causal_net_id __read_mostly;

static struct causal_endpoint *causal_endpoint_find(struct causal_net *cn,
						    u32 group, u16 node)
{
	struct causal_endpoint *ep;

	lockdep_assert_held(&cn->lock);
	list_for_each_entry(ep, &cn->endpoints, list)
		if (ep->group == group && ep->node == node)
			return ep;
	return NULL;
}

static struct causal_endpoint *causal_endpoint_create(struct sock *sk,
						      const struct causal_join *join)
{
	struct causal_endpoint *ep;

	ep = kzalloc(sizeof(*ep), GFP_KERNEL);
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
	spin_lock_init(&ep->lock);
	/* Every other node of the group. */
	ep->peers = (join->nodes == 64 ? ~0ULL : (1ULL << join->nodes) - 1) &
		    ~(1ULL << join->node);
	return ep;
}

int causal_endpoint_join(struct causal_sock *csk, const struct causal_join *join)
{
	struct sock *sk = csk->sk;
	struct net *net = sock_net(sk);
	struct causal_net *cn = net_generic(net, causal_net_id);
	struct causal_endpoint *ep;
	int err = 0;

	mutex_lock(&cn->lock);
	ep = causal_endpoint_find(cn, join->group, join->node);
	if (ep) {
		if (ep->nodes != join->nodes ||
		    ep->flags != (join->flags & CAUSAL_ENDPOINT_FLAGS)) {
			err = -EINVAL;
			goto out_unlock;
		}
		if (!uid_eq(ep->owner, sk->sk_uid) &&
		    !ns_capable(net->user_ns, CAP_NET_ADMIN)) {
			err = -EPERM;
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
	csk->ep = ep;
out_unlock:
	mutex_unlock(&cn->lock);
	return err;
}

void causal_endpoint_leave(struct causal_sock *csk)
{
	struct causal_endpoint *ep = csk->ep;
	struct causal_net *cn = net_generic(ep->net, causal_net_id);

	mutex_lock(&cn->lock);
	if (!--ep->nr_sockets) {
		list_del(&ep->list);
		kfree(ep);
	}
	mutex_unlock(&cn->lock);
	csk->ep = NULL;
}

static int __net_init causal_net_setup(struct net *net)
{
	struct causal_net *cn = net_generic(net, causal_net_id);

	mutex_init(&cn->lock);
	INIT_LIST_HEAD(&cn->endpoints);
	return 0;
}

static void __net_exit causal_net_teardown(struct net *net)
{
	struct causal_net *cn = net_generic(net, causal_net_id);

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
