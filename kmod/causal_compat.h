/* SPDX-License-Identifier: GPL-2.0 */
/* The differences between the kernels we support (6.1 and 6.12). */
#ifndef _CAUSAL_COMPAT_H
#define _CAUSAL_COMPAT_H

#include <linux/uio.h>
#include <linux/version.h>
#include <net/sock.h>

/* 6.2 renamed the iov_iter directions. */
#ifndef ITER_SOURCE
#define ITER_SOURCE WRITE
#endif

/* Before 6.5 sendfile() and splice() reach TCP through proto->sendpage and
 * proto_ops->sendpage_locked, bypassing sendmsg. Without them the core falls
 * back to sendmsg, which frames every chunk as a message.
 */
static inline void causal_compat_no_sendpage(struct proto *prot,
					     struct proto_ops *ops)
{
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 5, 0)
	prot->sendpage = NULL;
	ops->sendpage_locked = NULL;
#endif
}

/* The memory cgroup a socket's buffers are charged to, if any. */
static inline struct mem_cgroup *causal_sk_memcg(const struct sock *sk)
{
#ifdef CONFIG_MEMCG
	return sk->sk_memcg;
#else
	return NULL;
#endif
}

#endif /* _CAUSAL_COMPAT_H */
