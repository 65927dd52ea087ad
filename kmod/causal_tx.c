// SPDX-License-Identifier: GPL-2.0
/*
 * Send path: one sendmsg() is one send event. Its stamp is taken and its
 * frames written under the endpoint's tx_lock, so that stamps only grow along
 * every channel and frames never interleave. A frame cut short by a signal, a
 * full send buffer or a non-blocking socket is finished from tx_pending before
 * anything else goes on that channel.
 */

#include <linux/slab.h>
#include <linux/uio.h>
#include <net/tcp.h>

#include "causal.h"
#include "causal_compat.h"
#include "causal_trace.h"

static void causal_build_head(struct causal_frame_head *h,
			      const struct causal_endpoint *ep, u8 type,
			      u16 flags, u32 len, const u64 *clock)
{
	struct causal_frame f = {
		.type = type,
		.flags = flags,
		.nodes = ep->nodes,
		.sender = ep->node,
		.len = len,
	};

	causal_wire_put_hdr(h->bytes, &f);
	causal_wire_put_clock(h->bytes + CAUSAL_WIRE_HDR_LEN, clock, ep->nodes);
	h->len = CAUSAL_WIRE_HDR_LEN + ep->nodes * sizeof(u64);
}

/* Write from @iter to TCP; the socket is locked. Returns bytes written or a
 * negative error when nothing was.
 */
static int causal_tcp_write(struct sock *sk, struct iov_iter *iter, size_t len,
			    int flags)
{
	struct msghdr msg = { .msg_flags = flags | MSG_NOSIGNAL };

	msg.msg_iter = *iter;
	len = tcp_sendmsg_locked(sk, &msg, len);
	if ((int)len > 0)
		iov_iter_advance(iter, len);
	return len;
}

/* Finish a frame cut short earlier. Returns 0 once nothing is pending. */
static int causal_flush_pending(struct causal_sock *ch, int flags)
{
	struct kvec kv;
	struct iov_iter iter;
	int ret;

	while (ch->tx_pending) {
		kv.iov_base = ch->tx_pending + ch->tx_pending_off;
		kv.iov_len = ch->tx_pending_len - ch->tx_pending_off;
		iov_iter_kvec(&iter, ITER_SOURCE, &kv, 1, kv.iov_len);
		ret = causal_tcp_write(ch->sk, &iter, kv.iov_len, flags);
		if (ret < 0)
			return ret;
		ch->tx_pending_off += ret;
		if (ch->tx_pending_off == ch->tx_pending_len) {
			kvfree(ch->tx_pending);
			ch->tx_pending = NULL;
		}
	}
	return 0;
}

/* Keep the unsent rest of a frame: @head_left bytes of @h, then what
 * remains of @payload. Zero-filled if the payload cannot be read (EFAULT), so
 * the stream stays framed.
 */
static int causal_stash(struct causal_sock *ch, const struct causal_frame_head *h,
			size_t head_left, struct iov_iter *payload,
			size_t payload_left)
{
	size_t total = head_left + payload_left;
	int err = 0;
	u8 *buf;

	buf = kvmalloc(total, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	memcpy(buf, h->bytes + h->len - head_left, head_left);
	if (payload_left &&
	    copy_from_iter(buf + head_left, payload_left, payload) != payload_left) {
		memset(buf + head_left, 0, payload_left);
		err = -EFAULT;
	}
	ch->tx_pending = buf;
	ch->tx_pending_len = total;
	ch->tx_pending_off = 0;
	return err;
}

/* A write that failed for now (no room, a signal) rather than for good. */
static bool causal_tx_transient(int err)
{
	return err == -EAGAIN || err == -EINTR || err == -ERESTARTSYS;
}

/* Write one frame on @ch: @h, then @len bytes of @payload (may be NULL).
 * Called with tx_lock and the channel's socket locked, nothing pending.
 * Once called the frame is committed: what TCP does not take now goes to
 * tx_pending. Fails only when the connection is gone for good.
 */
static int causal_write_frame(struct causal_sock *ch,
			      const struct causal_frame_head *h,
			      struct iov_iter *payload, size_t len, int flags)
{
	struct kvec kv = { .iov_base = (void *)h->bytes, .iov_len = h->len };
	struct iov_iter iter;
	int ret;

	iov_iter_kvec(&iter, ITER_SOURCE, &kv, 1, h->len);
	ret = causal_tcp_write(ch->sk, &iter, h->len, flags | (len ? MSG_MORE : 0));
	if (ret < 0 && !causal_tx_transient(ret))
		return ret;
	if (ret < 0)
		ret = 0;
	if (ret < h->len)
		return causal_stash(ch, h, h->len - ret, payload, len);
	if (!len)
		return 0;

	ret = causal_tcp_write(ch->sk, payload, len, flags);
	if (ret < 0)
		ret = 0;	/* the header is out: the rest must follow */
	if (ret < len)
		return causal_stash(ch, h, 0, payload, len - ret);
	return 0;
}

static void causal_ensure_hello(struct causal_endpoint *ep,
				struct causal_sock *ch, int flags);

/* Get @ch ready for a new frame: HELLO sent, nothing pending and, for a
 * non-blocking sender, room in the send buffer.
 */
static int causal_tx_ready(struct causal_endpoint *ep, struct causal_sock *ch,
			   int flags)
{
	int err;

	if (ch->state == CAUSAL_CH_FAILED)
		return causal_proto_errno(ch->proto_err);
	causal_ensure_hello(ep, ch, flags);
	err = causal_flush_pending(ch, flags);
	if (err)
		return err;
	if ((flags & MSG_DONTWAIT) && !sk_stream_memory_free(ch->sk))
		return -EAGAIN;
	return 0;
}

static void causal_snapshot(struct causal_endpoint *ep, u64 *clock)
{
	spin_lock_bh(&ep->lock);
	memcpy(clock, ep->rule.clock, ep->nodes * sizeof(u64));
	spin_unlock_bh(&ep->lock);
}

/* The first frame on every channel; tx_lock and socket lock held. */
static void causal_ensure_hello(struct causal_endpoint *ep,
				struct causal_sock *ch, int flags)
{
	struct causal_frame_head *h;
	struct causal_hello hello = {
		.group = ep->group,
		.flags = ep->flags,
		.incarnation = ep->incarnation,
	};
	u8 payload[CAUSAL_WIRE_HELLO_LEN];
	u64 clock[CAUSAL_MAX_NODES];
	struct kvec kv = { .iov_base = payload, .iov_len = sizeof(payload) };
	struct iov_iter iter;

	if (ch->hello_sent)
		return;
	/* Not ep->tx_head: sendmsg may have a payload waiting there. */
	h = kmalloc(sizeof(*h), GFP_KERNEL);
	if (!h)
		return;		/* the next frame tries again */
	causal_snapshot(ep, clock);
	causal_build_head(h, ep, CAUSAL_FRAME_HELLO, 0, sizeof(payload), clock);
	causal_wire_put_hello(payload, &hello);
	iov_iter_kvec(&iter, ITER_SOURCE, &kv, 1, sizeof(payload));
	/* The first thing on the socket: it never waits. What TCP does not
	 * take goes to tx_pending; a dead connection fails the next send.
	 */
	causal_write_frame(ch, h, &iter, sizeof(payload), flags | MSG_DONTWAIT);
	ch->hello_sent = true;
	kfree(h);
}

/* A HELLO, CLOCK or BYE frame on @ch; tx_lock and the socket lock held. */
int causal_send_control_locked(struct causal_sock *ch, u8 type)
{
	struct causal_endpoint *ep = ch->ep;
	u64 clock[CAUSAL_MAX_NODES];
	int err;

	if (type == CAUSAL_FRAME_BYE && ch->tx_pending) {
		/* Closing: nothing may be left behind in tx_pending, so let
		 * TCP queue the rest of the last frame and the BYE now.
		 */
		ch->sk->sk_userlocks |= SOCK_SNDBUF_LOCK;
		WRITE_ONCE(ch->sk->sk_sndbuf, ch->sk->sk_sndbuf +
			   ch->tx_pending_len + sizeof(ep->tx_head.bytes));
	}
	err = causal_tx_ready(ep, ch, MSG_DONTWAIT);
	if (!err && type != CAUSAL_FRAME_HELLO) {
		causal_snapshot(ep, clock);
		causal_build_head(&ep->tx_head, ep, type, 0, 0, clock);
		err = causal_write_frame(ch, &ep->tx_head, NULL, 0,
					 MSG_DONTWAIT);
	}
	return err;
}

int causal_send_control(struct causal_sock *ch, u8 type)
{
	struct causal_endpoint *ep = ch->ep;
	int err;

	mutex_lock(&ep->tx_lock);
	lock_sock(ch->sk);
	err = causal_send_control_locked(ch, type);
	release_sock(ch->sk);
	mutex_unlock(&ep->tx_lock);
	return err;
}

static int causal_parse_cmsgs(struct msghdr *msg, bool *broadcast)
{
	struct cmsghdr *cmsg;

	for_each_cmsghdr(cmsg, msg) {
		if (!CMSG_OK(msg, cmsg))
			return -EINVAL;
		if (cmsg->cmsg_level != SOL_CAUSAL)
			continue;
		if (cmsg->cmsg_type != CAUSAL_CMSG_BROADCAST)
			return -EINVAL;
		*broadcast = true;
	}
	return 0;
}

/* The channels a broadcast goes to, each with a socket reference. */
static unsigned int causal_targets(struct causal_endpoint *ep,
				   struct causal_sock *self,
				   struct causal_sock **targets)
{
	struct causal_sock *ch;
	unsigned int n = 0;

	spin_lock_bh(&ep->lock);
	list_for_each_entry(ch, &ep->channels, ep_node) {
		if (ch->state != CAUSAL_CH_JOINED && ch->state != CAUSAL_CH_ACTIVE)
			continue;
		if (n == CAUSAL_MAX_NODES)
			break;
		sock_hold(ch->sk);
		targets[n++] = ch;
	}
	spin_unlock_bh(&ep->lock);
	return n;
}

/* After a unicast send every other channel owes its peer our new count. */
static void causal_mark_clock_dirty(struct causal_endpoint *ep,
				    struct causal_sock *sent_on)
{
	struct causal_sock *ch;
	bool any = false;

	spin_lock_bh(&ep->lock);
	list_for_each_entry(ch, &ep->channels, ep_node) {
		if (ch == sent_on || (ch->state != CAUSAL_CH_JOINED &&
				      ch->state != CAUSAL_CH_ACTIVE))
			continue;
		WRITE_ONCE(ch->clock_dirty, true);
		any = true;
	}
	spin_unlock_bh(&ep->lock);
	if (any)
		queue_work(system_highpri_wq, &ep->clock_work);
}

/* A new send event: the endpoint's next stamp and the clock it carries. */
static void causal_stamp(struct causal_endpoint *ep, u64 *clock)
{
	spin_lock_bh(&ep->lock);
	causal_rule_send(&ep->rule);
	memcpy(clock, ep->rule.clock, ep->nodes * sizeof(u64));
	ep->sent++;
	spin_unlock_bh(&ep->lock);
}

/* The DATA frame for this send event in ep->tx_head. A small payload, which
 * the caller put right behind the clock, makes it one contiguous write.
 */
static void causal_data_head(struct causal_endpoint *ep, u16 peer,
			     unsigned int targets, size_t size,
			     bool inline_payload)
{
	bool broadcast = peer == CAUSAL_PEER_NONE;
	u64 clock[CAUSAL_MAX_NODES];

	causal_stamp(ep, clock);
	causal_build_head(&ep->tx_head, ep, CAUSAL_FRAME_DATA,
			  broadcast ? CAUSAL_WIRE_F_BROADCAST : 0, size, clock);
	if (inline_payload)
		ep->tx_head.len += size;
	trace_causal_send(ep->group, ep->node, ep->nodes, peer,
			  clock[ep->node], size, targets, clock);
}

int causal_sendmsg(struct sock *sk, struct msghdr *msg, size_t size)
{
	struct causal_sock *csk = causal_sk(sk);
	struct causal_endpoint *ep = csk->ep;
	struct causal_sock *targets[CAUSAL_MAX_NODES];
	int flags = msg->msg_flags & MSG_DONTWAIT;
	unsigned int n, i, written = 0;
	bool broadcast = false, small;
	struct iov_iter copy, *payload;
	size_t payload_len;
	struct kvec kv;
	void *data = NULL;
	int err;

	if (!ep)
		return -ENOTCONN;
	if (msg->msg_flags & MSG_OOB)
		return -EOPNOTSUPP;
	if (size > READ_ONCE(causal_max_msg_size))
		return -EMSGSIZE;
	err = causal_parse_cmsgs(msg, &broadcast);
	if (err)
		return err;
	broadcast |= ep->flags & CAUSAL_F_BROADCAST;
	small = size <= CAUSAL_TX_INLINE;

	if (broadcast && !small) {
		/* One copy of the payload serves every channel. */
		data = kvmalloc(size, GFP_KERNEL);
		if (!data)
			return -ENOMEM;
		if (!copy_from_iter_full(data, size, &msg->msg_iter)) {
			err = -EFAULT;
			goto out_free;
		}
	}
	if (mutex_lock_interruptible(&ep->tx_lock)) {
		err = -ERESTARTSYS;
		goto out_free;
	}
	if (small && !copy_from_iter_full(ep->tx_head.bytes + CAUSAL_WIRE_HDR_LEN +
					  ep->nodes * sizeof(u64), size,
					  &msg->msg_iter)) {
		err = -EFAULT;
		goto out_unlock;
	}
	payload = small ? NULL : &msg->msg_iter;
	payload_len = small ? 0 : size;

	if (!broadcast) {
		/* The common case: one channel, one lock. */
		lock_sock(sk);
		err = causal_tx_ready(ep, csk, flags);
		if (!err) {
			causal_data_head(ep, READ_ONCE(csk->peer), 1, size,
					 small);
			err = causal_write_frame(csk, &ep->tx_head, payload,
						 payload_len, flags);
		}
		if (!err)
			csk->tx_sent++;
		release_sock(sk);
		if (!err)
			causal_mark_clock_dirty(ep, csk);
		err = err ? : size;
		goto out_unlock;
	}

	n = causal_targets(ep, csk, targets);
	/* Every target must be able to take a new frame before the stamp
	 * is taken: a send event reaches all its live channels or none.
	 * Channels that are gone for good are left out.
	 */
	for (i = 0; i < n; i++) {
		lock_sock(targets[i]->sk);
		err = causal_tx_ready(ep, targets[i], flags);
		release_sock(targets[i]->sk);
		if (!err)
			continue;
		if (targets[i] == csk || causal_tx_transient(err))
			goto out_put;
		sock_put(targets[i]->sk);
		targets[i--] = targets[--n];
	}

	causal_data_head(ep, CAUSAL_PEER_NONE, n, size, small);
	for (i = 0; i < n; i++) {
		struct causal_sock *ch = targets[i];

		if (!small) {
			kv.iov_base = data;
			kv.iov_len = size;
			iov_iter_kvec(&copy, ITER_SOURCE, &kv, 1, size);
			payload = &copy;
		}
		lock_sock(ch->sk);
		err = causal_write_frame(ch, &ep->tx_head, payload, payload_len,
					 flags);
		if (!err) {
			ch->tx_sent++;
			written++;
		}
		release_sock(ch->sk);
	}
	err = written ? size : err;

out_put:
	for (i = 0; i < n; i++)
		sock_put(targets[i]->sk);
out_unlock:
	mutex_unlock(&ep->tx_lock);
out_free:
	kvfree(data);
	return err;
}

void causal_clock_work(struct work_struct *work)
{
	struct causal_endpoint *ep = container_of(work, struct causal_endpoint,
						  clock_work);
	struct causal_sock *targets[CAUSAL_MAX_NODES];
	u64 clock[CAUSAL_MAX_NODES];
	struct causal_sock *ch;
	unsigned int n = 0, i;

	mutex_lock(&ep->tx_lock);
	spin_lock_bh(&ep->lock);
	list_for_each_entry(ch, &ep->channels, ep_node) {
		if (!READ_ONCE(ch->clock_dirty) || n == CAUSAL_MAX_NODES)
			continue;
		sock_hold(ch->sk);
		targets[n++] = ch;
	}
	memcpy(clock, ep->rule.clock, ep->nodes * sizeof(u64));
	spin_unlock_bh(&ep->lock);

	causal_build_head(&ep->tx_head, ep, CAUSAL_FRAME_CLOCK, 0, 0, clock);
	for (i = 0; i < n; i++) {
		ch = targets[i];
		lock_sock(ch->sk);
		/* A channel that cannot take it now is retried from its
		 * write_space callback.
		 */
		if (!causal_tx_ready(ep, ch, MSG_DONTWAIT) &&
		    !causal_write_frame(ch, &ep->tx_head, NULL, 0, MSG_DONTWAIT))
			WRITE_ONCE(ch->clock_dirty, false);
		release_sock(ch->sk);
		sock_put(ch->sk);
	}
	mutex_unlock(&ep->tx_lock);
}

/* Room in the send buffer again: finish a pending frame, send owed CLOCKs. */
void causal_tx_work(struct work_struct *work)
{
	struct causal_sock *ch = container_of(work, struct causal_sock, tx_work);
	struct causal_endpoint *ep = ch->ep;

	mutex_lock(&ep->tx_lock);
	lock_sock(ch->sk);
	causal_flush_pending(ch, MSG_DONTWAIT);
	release_sock(ch->sk);
	mutex_unlock(&ep->tx_lock);
	if (READ_ONCE(ch->clock_dirty))
		queue_work(system_highpri_wq, &ep->clock_work);
}

void causal_write_space(struct sock *sk)
{
	struct causal_sock *ch = causal_sk(sk);

	if (READ_ONCE(ch->tx_pending) || READ_ONCE(ch->clock_dirty))
		schedule_work(&ch->tx_work);
	ch->saved_write_space(sk);
}

/* The channel is closing: drop an unfinished frame. */
void causal_tx_purge(struct causal_sock *ch)
{
	kvfree(ch->tx_pending);
	ch->tx_pending = NULL;
}
