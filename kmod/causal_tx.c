// SPDX-License-Identifier: GPL-2.0
/*
 * Send path: one sendmsg() is one send event. Its stamp is taken under
 * ep->lock, and every frame a channel carries goes out in stamp order:
 *
 * - Each channel's stream has one writer at a time, the holder of its
 *   tx_mutex. A unicast takes its own channel's mutex, may sleep in TCP
 *   holding it (SO_SNDTIMEO, signals, MSG_DONTWAIT apply as in TCP), and
 *   stamps only once nothing else is queued for the channel.
 * - Frames stamped for a channel by anybody else (broadcasts, HELLO, CLOCK)
 *   are queued on it under ep->lock, in stamp order, and written by whoever
 *   holds its mutex next; nobody but the channel's own senders ever waits
 *   for that mutex (causal_tx_unlock() hands the writing to the channel's
 *   work instead), so one slow peer delays only what goes to it.
 * - A frame that TCP takes only in part is finished from tx_rest before
 *   anything else is written on the channel; if even that cannot be kept
 *   the stream is ended there, so frames never interleave.
 */

#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/uio.h>
#include <net/tcp.h>

#include "causal.h"
#include "causal_compat.h"
#include "causal_trace.h"

/* Retry of a write TCP could not allocate for. */
#define CAUSAL_TX_RETRY		(HZ / 10)
/* How long close may wait for memory to write its last frames. */
#define CAUSAL_CLOSE_TIMEO	HZ
/* An owed CLOCK frame waits this long (1 ms, at least a jiffy) for more of
 * the endpoint's sends, so that a burst of unicasts costs each other
 * channel one CLOCK frame, not one per send.
 */
#define CAUSAL_CLOCK_DELAY	max(1UL, msecs_to_jiffies(1))
/* Small corked frames gather in a buffer of this size and go to TCP in one
 * write; what is corked leaves at the latest after CAUSAL_CORK_DELAY, as
 * TCP's own MSG_MORE does.
 */
#define CAUSAL_CORK_MAX		SZ_16K
#define CAUSAL_CORK_DELAY	(HZ / 5)

/* What a flush may leave unwritten. */
#define CAUSAL_KEEP_CLOCK	BIT(0)	/* a DATA frame is stamped next */
#define CAUSAL_KEEP_CORK	BIT(1)	/* and joins the cork */

/* Unsent frames are charged to the socket's memory cgroup, whoever writes
 * them (the sender, or a worker).
 */
static void *causal_tx_alloc(struct sock *sk, size_t size, gfp_t gfp)
{
	struct mem_cgroup *old = set_active_memcg(causal_sk_memcg(sk));
	void *p = kvmalloc(size, gfp | __GFP_ACCOUNT | __GFP_NOWARN);

	set_active_memcg(old);
	return p;
}

static struct causal_txbuf *causal_txbuf_alloc(struct sock *sk, u32 len)
{
	struct causal_txbuf *buf;

	buf = causal_tx_alloc(sk, struct_size(buf, bytes, len), GFP_KERNEL);
	if (!buf)
		return NULL;
	refcount_set(&buf->ref, 1);
	buf->len = len;
	buf->start = 0;
	return buf;
}

void causal_txbuf_put(struct causal_txbuf *buf)
{
	if (refcount_dec_and_test(&buf->ref))
		kvfree(buf);
}

/* No generation of our clock: a peer that holds none of it. */
#define CAUSAL_GEN_NONE		U64_MAX

/* The header of a frame for peers that hold our clock as of generation
 * @since, or CAUSAL_GEN_NONE. Caller holds ep->lock.
 */
static struct causal_frame causal_tx_frame(const struct causal_endpoint *ep,
					   u64 since, u8 type, u16 flags,
					   u32 len)
{
	struct causal_frame f = {
		.type = type,
		.flags = flags,
		.nodes = ep->nodes,
		.sender = ep->node,
		.len = len,
	};

	if (since != CAUSAL_GEN_NONE)
		causal_wire_choose(&f, causal_rule_changed(&ep->rule, since));
	return f;
}

/* What @ch's peer holds of our clock, if it reads frames of the entries
 * that changed (CAUSAL_GEN_NONE otherwise). Caller holds ep->lock.
 */
static u64 causal_tx_since(const struct causal_sock *ch)
{
	return ch->tx_delta ? ch->tx_gen : CAUSAL_GEN_NONE;
}

/* Header and clock of the next frame on @ch (of @ep, which it may not
 * point to yet) at @to; returns their length. Frames are stamped for a
 * channel in the order its stream carries them, all under ep->lock, which
 * the caller holds.
 */
static u32 causal_put_head(u8 *to, const struct causal_endpoint *ep,
			   struct causal_sock *ch, u8 type, u16 flags, u32 len)
{
	struct causal_frame f = causal_tx_frame(ep, causal_tx_since(ch), type,
						flags, len);

	ch->tx_gen = ep->rule.gen;
	return causal_wire_put_head(to, &f, ep->rule.clock);
}

static bool causal_tx_live(const struct causal_sock *ch)
{
	return !ch->dead && !ch->tx_broken &&
	       (ch->state == CAUSAL_CH_JOINED || ch->state == CAUSAL_CH_ACTIVE);
}

/* Write from @iter to TCP; the socket is locked. Returns bytes written or a
 * negative error when nothing was. A connection that failed is not written:
 * tcp_sendmsg() would take its error (sock_error()), which is owed to the
 * socket's readers once they read what TCP still holds.
 */
static int causal_tcp_write(struct sock *sk, struct iov_iter *iter, size_t len,
			    int flags)
{
	struct msghdr msg = { .msg_flags = flags | MSG_NOSIGNAL };
	int ret = READ_ONCE(sk->sk_err);

	if (ret)
		return -ret;
	msg.msg_iter = *iter;
	ret = tcp_sendmsg_locked(sk, &msg, len);
	if (ret > 0)
		iov_iter_advance(iter, ret);
	return ret;
}

static int causal_tcp_write_kvec(struct sock *sk, const void *p, size_t len,
				 int flags)
{
	struct kvec kv = { .iov_base = (void *)p, .iov_len = len };
	struct iov_iter iter;

	iov_iter_kvec(&iter, ITER_SOURCE, &kv, 1, len);
	return causal_tcp_write(sk, &iter, len, flags);
}

/* A write that failed for now (no room, a signal) rather than for good. */
static bool causal_tx_transient(int err)
{
	return err == -EAGAIN || err == -EINTR || err == -ERESTARTSYS;
}

/* What is corked goes to the write path, ahead of anything stamped later;
 * tx_rest is empty. The buffer stays the cork's, to be filled again once
 * tx_rest, which points into it, is out: nothing is stamped before that.
 */
static void causal_cork_release(struct causal_sock *ch)
{
	ch->tx_rest_buf = NULL;
	ch->tx_rest = ch->tx_cork->bytes;
	ch->tx_rest_len = ch->tx_cork_len;
	ch->tx_rest_off = 0;
	ch->tx_cork_len = 0;
}

static void causal_cork_drop(struct causal_sock *ch)
{
	if (ch->tx_cork)
		causal_txbuf_put(ch->tx_cork);
	ch->tx_cork = NULL;
	ch->tx_cork_len = 0;
}

static void causal_rest_drop(struct causal_sock *ch)
{
	if (ch->tx_rest_buf)
		causal_txbuf_put(ch->tx_rest_buf);
	ch->tx_rest_buf = NULL;
	ch->tx_rest = NULL;
	ch->tx_rest_len = 0;
	ch->tx_rest_off = 0;
}

/* Nothing more may be written on @ch: its connection failed, or a frame
 * was cut short and could not be kept. What is queued for it goes.
 */
static void causal_tx_break(struct causal_sock *ch, int err)
{
	struct causal_endpoint *ep = ch->ep;
	struct causal_txe *e, *tmp;
	LIST_HEAD(drop);

	ch->tx_err = err;
	causal_rest_drop(ch);
	causal_cork_drop(ch);
	spin_lock_bh(&ep->lock);
	ch->tx_broken = true;
	ch->clock_owed = false;
	list_splice_init(&ch->txq, &drop);
	ch->txq_bytes = 0;
	spin_unlock_bh(&ep->lock);
	wake_up_all(&ep->tx_wait);
	list_for_each_entry_safe(e, tmp, &drop, list) {
		causal_txbuf_put(e->buf);
		kvfree(e);
	}
}

/* TCP took less than offered. With its send buffer full, write_space
 * resumes; else TCP could not allocate, and nothing would: retry later.
 */
static void causal_tx_stalled(struct causal_sock *ch)
{
	if (sk_stream_memory_free(ch->sk))
		queue_delayed_work(system_wq, &ch->tx_work, CAUSAL_TX_RETRY);
}

/* Write tx_rest, the bytes committed to the stream that TCP has not taken.
 * Returns 0 once it is all out, -EAGAIN while TCP is full (write_space
 * resumes), or the error that broke the channel.
 */
static int causal_tx_write_rest(struct causal_sock *ch, int flags)
{
	int ret;

	/* Before the write: a write_space that comes while it is under way
	 * must find it set.
	 */
	WRITE_ONCE(ch->tx_full, true);
	ret = causal_tcp_write_kvec(ch->sk, ch->tx_rest + ch->tx_rest_off,
				    ch->tx_rest_len - ch->tx_rest_off, flags);
	if (ret < 0 && !causal_tx_transient(ret)) {
		causal_tx_break(ch, ret);
		return ret;
	}
	if (ret > 0)
		ch->tx_rest_off += ret;
	if (ch->tx_rest_off < ch->tx_rest_len) {
		causal_tx_stalled(ch);
		return -EAGAIN;
	}
	WRITE_ONCE(ch->tx_full, false);
	causal_rest_drop(ch);
	return 0;
}

/* Write what @ch owes its peer, in order: the rest of a frame cut short,
 * what is corked, the queued frames, an owed CLOCK; @keep
 * (CAUSAL_KEEP_*) spares the CLOCK a DATA frame about to be stamped makes
 * stale, and the cork it is about to join, unless something else must go
 * behind the cork. Never sleeps with MSG_DONTWAIT in @flags. Called with
 * tx_mutex and the socket lock. Returns 0 once nothing is left, -EAGAIN
 * while TCP is full (write_space resumes), or the error that broke the
 * channel.
 */
static int causal_tx_flush_flags(struct causal_sock *ch, int flags,
				 unsigned int keep)
{
	struct causal_endpoint *ep = ch->ep;
	struct causal_txe *e;
	int ret;

	for (;;) {
		if (ch->tx_broken)
			return ch->tx_err;
		if (ch->tx_rest) {
			ret = causal_tx_write_rest(ch, flags);
			if (ret)
				return ret;
			continue;
		}

		spin_lock_bh(&ep->lock);
		/* Frames stamped later, and a CLOCK that counts the corked
		 * ones, go behind them.
		 */
		if (ch->tx_cork_len &&
		    (!(keep & CAUSAL_KEEP_CORK) || !list_empty(&ch->txq) ||
		     (ch->clock_owed && !(keep & CAUSAL_KEEP_CLOCK)))) {
			spin_unlock_bh(&ep->lock);
			causal_cork_release(ch);
			continue;
		}
		e = list_first_entry_or_null(&ch->txq, struct causal_txe, list);
		if (e) {
			list_del(&e->list);
			ch->txq_bytes -= e->buf->len;
			spin_unlock_bh(&ep->lock);
			if (wq_has_sleeper(&ep->tx_wait))
				wake_up_all(&ep->tx_wait);
			ch->tx_rest_buf = e->buf;
			ch->tx_rest = e->buf->bytes + e->buf->start;
			ch->tx_rest_len = e->buf->len - e->buf->start;
			kvfree(e);
			continue;
		}
		if (ch->clock_owed && !(keep & CAUSAL_KEEP_CLOCK)) {
			/* Every frame stamped up to this clock is out or
			 * queued before it.
			 */
			ch->clock_owed = false;
			ch->tx_clocks++;
			ch->tx_rest_len = causal_put_head(ch->tx_head, ep, ch,
							  CAUSAL_FRAME_CLOCK, 0,
							  0);
			spin_unlock_bh(&ep->lock);
			ch->tx_rest = ch->tx_head;
			continue;
		}
		spin_unlock_bh(&ep->lock);
		return 0;
	}
}

static int causal_tx_flush(struct causal_sock *ch)
{
	return causal_tx_flush_flags(ch, MSG_DONTWAIT, 0);
}

/* Let go of @ch's stream. Whatever was queued for it meanwhile, by someone
 * who could not take the mutex, is written by the channel's work.
 */
static void causal_tx_unlock(struct causal_sock *ch)
{
	struct causal_endpoint *ep = ch->ep;
	bool rest = ch->tx_rest, corked = ch->tx_cork_len;

	mutex_unlock(&ch->tx_mutex);
	if (wq_has_sleeper(&ep->tx_wait))
		wake_up_all(&ep->tx_wait);
	/* A write_space that came while the mutex was held found it taken:
	 * then tx_full is clear and the work writes the rest.
	 */
	spin_lock_bh(&ep->lock);
	if (!ch->dead && !ch->tx_broken && !READ_ONCE(ch->tx_full)) {
		if (rest || !list_empty(&ch->txq))
			mod_delayed_work(system_wq, &ch->tx_work, 0);
		else if (ch->clock_owed)
			queue_delayed_work(system_wq, &ch->tx_work,
					   CAUSAL_CLOCK_DELAY);
		else if (corked)
			queue_delayed_work(system_wq, &ch->tx_work,
					   CAUSAL_CORK_DELAY);
	}
	spin_unlock_bh(&ep->lock);
}

/* Write what is queued for @ch if nobody else is writing it; never waits. */
void causal_tx_kick(struct causal_sock *ch)
{
	if (!mutex_trylock(&ch->tx_mutex))
		return;		/* the holder writes it, or its work does */
	lock_sock(ch->sk);
	causal_tx_flush(ch);
	release_sock(ch->sk);
	causal_tx_unlock(ch);
}

static void causal_tx_work(struct work_struct *work)
{
	causal_tx_kick(container_of(to_delayed_work(work), struct causal_sock,
				    tx_work));
}

void causal_write_space(struct sock *sk)
{
	struct causal_sock *ch = causal_sk(sk);

	if (READ_ONCE(ch->tx_full)) {
		WRITE_ONCE(ch->tx_full, false);
		mod_delayed_work(system_wq, &ch->tx_work, 0);
	}
	ch->saved_write_space(sk);
}

void causal_tx_init(struct causal_sock *csk)
{
	INIT_LIST_HEAD(&csk->txq);
	INIT_DELAYED_WORK(&csk->tx_work, causal_tx_work);
	mutex_init(&csk->tx_mutex);
}

/* The HELLO a joining channel starts with, allocated before the JOIN so
 * that nothing can go out ahead of it.
 */
struct causal_txe *causal_hello_alloc(struct sock *sk, u16 nodes)
{
	size_t size = causal_frame_size(nodes, CAUSAL_WIRE_HELLO_LEN);
	struct causal_txe *e;

	e = causal_tx_alloc(sk, sizeof(*e), GFP_KERNEL);
	if (!e)
		return NULL;
	e->buf = causal_txbuf_alloc(sk, size);
	if (!e->buf) {
		kvfree(e);
		return NULL;
	}
	return e;
}

void causal_txe_free(struct causal_txe *e)
{
	causal_txbuf_put(e->buf);
	kvfree(e);
}

/* JOIN, under ep->lock as @ch goes on the endpoint's list: its HELLO is the
 * first frame queued for it, with the clock of this moment.
 */
void causal_tx_queue_hello(struct causal_endpoint *ep, struct causal_sock *ch,
			   struct causal_txe *hello)
{
	struct causal_hello h = {
		.group = ep->group,
		.flags = ep->flags |
			 (READ_ONCE(causal_wire_delta) ? CAUSAL_WIRE_HELLO_F_DELTA : 0),
		.incarnation = ep->incarnation,
	};
	u32 off;

	lockdep_assert_held(&ep->lock);
	/* tx_delta is not set before the peer's HELLO: the whole clock. */
	off = causal_put_head(hello->buf->bytes, ep, ch, CAUSAL_FRAME_HELLO, 0,
			      CAUSAL_WIRE_HELLO_LEN);
	causal_wire_put_hello(hello->buf->bytes + off, &h);
	list_add_tail(&hello->list, &ch->txq);
	ch->txq_bytes += hello->buf->len;
}

/* Keep the unsent rest of a frame just written in part: @head_left bytes
 * at the end of tx_head (header, clock and maybe an inline payload), then
 * @payload_left bytes of @payload. If memory for it cannot be had, end the
 * stream here rather than let another frame follow half of one.
 */
static int causal_keep_rest(struct causal_sock *ch, u32 head_len,
			    u32 head_left, struct iov_iter *payload,
			    size_t payload_left)
{
	struct causal_txbuf *buf;

	if (!payload_left) {
		memmove(ch->tx_head, ch->tx_head + head_len - head_left,
			head_left);
		ch->tx_rest = ch->tx_head;
		ch->tx_rest_len = head_left;
		ch->tx_rest_off = 0;
		causal_tx_stalled(ch);
		return 0;
	}
	buf = causal_txbuf_alloc(ch->sk, head_left + payload_left);
	if (buf) {
		memcpy(buf->bytes, ch->tx_head + head_len - head_left, head_left);
		/* A payload that cannot be read now is zeros: the stream
		 * stays framed.
		 */
		if (copy_from_iter(buf->bytes + head_left, payload_left,
				   payload) != payload_left)
			memset(buf->bytes + head_left, 0, payload_left);
		ch->tx_rest_buf = buf;
		ch->tx_rest = buf->bytes;
		ch->tx_rest_len = buf->len;
		ch->tx_rest_off = 0;
		causal_tx_stalled(ch);
		return 0;
	}
	causal_tx_break(ch, -ENOMEM);
	WRITE_ONCE(ch->sk->sk_shutdown, ch->sk->sk_shutdown | SEND_SHUTDOWN);
	ch->sk_proto->shutdown(ch->sk, SEND_SHUTDOWN);
	WRITE_ONCE(ch->sk->sk_err, ENOMEM);
	sk_error_report(ch->sk);
	return -ENOMEM;
}

/* Write a stamped frame on @ch: tx_head's @head_len bytes, then @len bytes
 * of @payload (NULL when inline). Called with tx_mutex and the socket lock,
 * nothing pending. The frame is committed: what TCP does not take goes to
 * tx_rest. Fails only if the connection is gone or nothing can be kept.
 */
static int causal_write_frame(struct causal_sock *ch, u32 head_len,
			      struct iov_iter *payload, size_t len, int flags)
{
	bool fault;
	int ret, err;

	WRITE_ONCE(ch->tx_full, true);
	ret = causal_tcp_write_kvec(ch->sk, ch->tx_head, head_len,
				    flags | (len ? MSG_MORE : 0));
	if (ret < 0 && !causal_tx_transient(ret)) {
		causal_tx_break(ch, ret);
		return ret;
	}
	if (ret < 0)
		ret = 0;
	if (ret < head_len)
		return causal_keep_rest(ch, head_len, head_len - ret, payload,
					len);
	if (!len) {
		WRITE_ONCE(ch->tx_full, false);
		return 0;
	}

	ret = causal_tcp_write(ch->sk, payload, len, flags);
	if (ret < 0 && ret != -EFAULT && !causal_tx_transient(ret)) {
		/* The header is out: the stream can no longer be framed. */
		causal_tx_break(ch, ret);
		return ret;
	}
	fault = ret == -EFAULT;
	if (ret < 0)
		ret = 0;
	if (ret < len) {
		/* A payload that faults goes out zero-filled (causal_keep_rest),
		 * and the sender is told.
		 */
		err = causal_keep_rest(ch, head_len, 0, payload, len - ret);
		if (!err && (fault || iov_iter_count(payload)))
			err = -EFAULT;
		return err;
	}
	WRITE_ONCE(ch->tx_full, false);
	return 0;
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

/* @ch owes its peer our count: its work writes a CLOCK frame after
 * CAUSAL_CLOCK_DELAY, one for all owed until then, unless a DATA frame
 * carries the count first. Also a probe: a connection that the peer's host
 * no longer knows answers it with a reset. Caller holds ep->lock.
 */
void causal_owe_clock(struct causal_endpoint *ep, struct causal_sock *ch)
{
	lockdep_assert_held(&ep->lock);
	if (ch->clock_owed || !causal_tx_live(ch))
		return;
	ch->clock_owed = true;
	if (!READ_ONCE(ch->tx_full))
		queue_delayed_work(system_wq, &ch->tx_work, CAUSAL_CLOCK_DELAY);
}

/* After a unicast on @sent_on every other channel owes its peer our new
 * count. Caller holds ep->lock.
 */
static void causal_owe_clocks(struct causal_endpoint *ep,
			      struct causal_sock *sent_on)
{
	struct causal_sock *ch;

	list_for_each_entry(ch, &ep->channels, ep_node)
		if (ch != sent_on)
			causal_owe_clock(ep, ch);
}

/* A new send event: the endpoint's next stamp. Caller holds ep->lock. */
static void causal_send_event(struct causal_endpoint *ep)
{
	causal_rule_send(&ep->rule);
	ep->sent++;
}

/* Take @ch's mutex; or, for a send that may not wait, see that its holder
 * is a sender asleep in TCP.
 */
static bool causal_tx_try(struct causal_sock *ch, bool nowait, bool *locked)
{
	*locked = mutex_trylock(&ch->tx_mutex);
	return *locked || (nowait && READ_ONCE(ch->tx_sleeper));
}

/* TCP's flags for a message's frame. MSG_MORE, and sendmmsg()'s MSG_BATCH
 * on all but its last message, cork it as MSG_MORE corks TCP: the frame
 * waits in TCP's queue for the next one, until a send without either
 * pushes, or TCP's probe timer does.
 */
static int causal_tx_flags(const struct msghdr *msg)
{
	int flags = msg->msg_flags & MSG_DONTWAIT;

	if (msg->msg_flags & (MSG_MORE | MSG_BATCH))
		flags |= MSG_MORE;
	return flags;
}

/* Release ep->lock after a send event, then trace it with the clock and
 * the time it had under the lock, so that a program run does not lengthen
 * the lock's hold and sends are in stamp order in time too. Not inlined:
 * the copy of the clock is on the stack only while tracing.
 */
static noinline void causal_unlock_trace_send(struct causal_endpoint *ep,
					      u16 peer, u32 len, u32 targets)
	__releases(&ep->lock)
{
	u64 clock[CAUSAL_MAX_NODES], send_ns;

	if (!trace_causal_send_enabled()) {
		spin_unlock_bh(&ep->lock);
		return;
	}
	send_ns = ktime_get_ns();
	memcpy(clock, ep->rule.clock, ep->nodes * sizeof(u64));
	spin_unlock_bh(&ep->lock);
	trace_causal_send(ep->group, ep->node, ep->nodes, peer,
			  clock[ep->node], len, targets, send_ns, clock);
}

static int causal_send_unicast(struct causal_sock *ch, struct msghdr *msg,
			       size_t size)
{
	bool nonblock = msg->msg_flags & MSG_DONTWAIT;
	struct causal_endpoint *ep = ch->ep;
	bool small = size <= CAUSAL_TX_INLINE;
	u32 frame_len = causal_frame_size(ep->nodes, size);
	u8 inline_payload[CAUSAL_TX_INLINE];
	int flags = causal_tx_flags(msg);
	bool cork;
	struct sock *sk = ch->sk;
	u32 head_len = 0;
	long timeo, left;
	int err;

	/* A small payload that cannot be read fails the send before it is
	 * a send event.
	 */
	if (small && !copy_from_iter_full(inline_payload, size, &msg->msg_iter))
		return -EFAULT;
	/* Another sender of this socket may be asleep in TCP holding the
	 * mutex: wait for it as long as this send may wait. Other holders
	 * (the channel's work, a broadcast, close) never sleep with it: even
	 * a non-blocking send waits for them.
	 */
	timeo = sock_sndtimeo(sk, nonblock);
	if (!mutex_trylock(&ch->tx_mutex)) {
		bool locked = false;

		left = wait_event_interruptible_timeout(ep->tx_wait,
							causal_tx_try(ch, !timeo,
								      &locked),
							timeo ? : MAX_SCHEDULE_TIMEOUT);
		if (!locked)
			return left < 0 ? sock_intr_errno(timeo) : -EAGAIN;
		if (timeo)
			timeo = left;
	}
	if (!nonblock) {
		WRITE_ONCE(ch->tx_sleeper, true);
		if (wq_has_sleeper(&ep->tx_wait))
			wake_up_all(&ep->tx_wait);
	}
	/* A small frame joins the cork while one is open, or MSG_MORE opens
	 * one.
	 */
	cork = small && ((flags & MSG_MORE) || ch->tx_cork_len);
	lock_sock(sk);
	for (;;) {
		unsigned int keep = CAUSAL_KEEP_CLOCK;

		if (cork && ch->tx_cork_len + frame_len <= CAUSAL_CORK_MAX)
			keep |= CAUSAL_KEEP_CORK;
		err = READ_ONCE(ch->state) == CAUSAL_CH_FAILED ?
		      causal_proto_errno(READ_ONCE(ch->proto_err)) :
		      causal_tx_flush_flags(ch, MSG_DONTWAIT | (flags & MSG_MORE),
					    keep);
		if (err && err != -EAGAIN)
			goto out_release;
		if (cork && !ch->tx_cork) {
			ch->tx_cork = causal_txbuf_alloc(sk, CAUSAL_CORK_MAX);
			/* Then it is written as it comes. */
			cork = ch->tx_cork;
		}
		/* A connection TCP would refuse to write on fails the send
		 * before it is a send event.
		 */
		if (sk->sk_err || (sk->sk_shutdown & SEND_SHUTDOWN) ||
		    !((1 << sk->sk_state) & (TCPF_ESTABLISHED | TCPF_CLOSE_WAIT))) {
			err = sk_stream_error(sk, msg->msg_flags, -EPIPE);
			goto out_release;
		}
		if (!err && sk_stream_memory_free(sk)) {
			spin_lock_bh(&ep->lock);
			/* What others stamped for this channel goes first. */
			if (list_empty(&ch->txq)) {
				causal_send_event(ep);
				head_len = causal_put_head(cork ? ch->tx_cork->bytes +
								  ch->tx_cork_len :
								  ch->tx_head, ep, ch,
							   CAUSAL_FRAME_DATA, 0, size);
				/* Our DATA carries a newer count than an owed
				 * CLOCK would.
				 */
				ch->clock_owed = false;
				ch->tx_sent++;
				causal_owe_clocks(ep, ch);
				causal_unlock_trace_send(ep, ch->peer, size, 1);
				break;
			}
			spin_unlock_bh(&ep->lock);
			continue;
		}
		err = -EAGAIN;
		if (!timeo)
			goto out_release;
		err = sk_stream_wait_memory(sk, &timeo);
		if (err)
			goto out_release;
	}

	if (cork) {
		memcpy(ch->tx_cork->bytes + ch->tx_cork_len + head_len,
		       inline_payload, size);
		ch->tx_cork_len += head_len + size;
		err = 0;
		if (!(flags & MSG_MORE)) {
			causal_cork_release(ch);
			err = causal_tx_write_rest(ch, flags);
		}
	} else if (small) {
		memcpy(ch->tx_head + head_len, inline_payload, size);
		err = causal_write_frame(ch, head_len + size, NULL, 0, flags);
	} else {
		err = causal_write_frame(ch, head_len, &msg->msg_iter, size,
					 flags);
	}
	/* Once stamped the message was sent, as bytes TCP accepted are:
	 * a connection that fails under the write takes it with it and
	 * the next call reports the error. Only a payload that faulted
	 * and a stream ended for want of memory say so now.
	 */
	if (err != -EFAULT && err != -ENOMEM)
		err = size;
out_release:
	release_sock(sk);
	WRITE_ONCE(ch->tx_sleeper, false);
	causal_tx_unlock(ch);
	return err;
}

/* Room for a frame of @len bytes in the queues of every live channel of
 * @ep; at least one frame always fits. Caller holds ep->lock.
 */
static bool causal_bcast_room(struct causal_endpoint *ep, u32 len)
{
	struct causal_sock *ch;

	list_for_each_entry(ch, &ep->channels, ep_node)
		if (causal_tx_live(ch) && ch->txq_bytes &&
		    ch->txq_bytes + len > READ_ONCE(ch->sk->sk_sndbuf))
			return false;
	return true;
}

static bool causal_bcast_room_unlocked(struct causal_endpoint *ep, u32 len)
{
	bool room;

	spin_lock_bh(&ep->lock);
	room = causal_bcast_room(ep, len);
	spin_unlock_bh(&ep->lock);
	return room;
}

static unsigned int causal_bcast_targets(struct causal_endpoint *ep)
{
	struct causal_sock *ch;
	unsigned int n = 0;

	list_for_each_entry(ch, &ep->channels, ep_node)
		n += causal_tx_live(ch);
	return n;
}

/* What every live channel's peer holds of our clock: the oldest of their
 * generations, CAUSAL_GEN_NONE if one of them takes only whole clocks.
 * Entries an up-to-date peer has already come again, the same values.
 */
static u64 causal_bcast_since(struct causal_endpoint *ep)
{
	struct causal_sock *ch;
	u64 since = CAUSAL_GEN_NONE;

	list_for_each_entry(ch, &ep->channels, ep_node) {
		if (!causal_tx_live(ch))
			continue;
		if (!ch->tx_delta)
			return CAUSAL_GEN_NONE;
		since = min(since, ch->tx_gen);
	}
	return since;
}

static void causal_txe_free_list(struct list_head *list)
{
	struct causal_txe *e, *tmp;

	list_for_each_entry_safe(e, tmp, list, list)
		kvfree(e);
}

/* One send event to every live channel: a single frame, queued on each in
 * stamp order and written by each channel's writer. Waits (per the
 * sender's own timeout) only while a target's queue is full.
 */
static int causal_send_broadcast(struct causal_sock *self, struct msghdr *msg,
				 size_t size)
{
	struct causal_endpoint *ep = self->ep;
	u32 head_len = causal_frame_size(ep->nodes, 0);
	struct causal_txbuf *buf;
	struct causal_frame f;
	unsigned int n, have = 0;
	struct causal_sock *ch;
	struct causal_txe *e;
	LIST_HEAD(entries);
	long timeo;
	int err;

	buf = causal_txbuf_alloc(self->sk, head_len + size);
	if (!buf)
		return -ENOMEM;
	if (!copy_from_iter_full(buf->bytes + head_len, size, &msg->msg_iter)) {
		err = -EFAULT;
		goto out_put;
	}
	timeo = sock_sndtimeo(self->sk, msg->msg_flags & MSG_DONTWAIT);
	for (;;) {
		spin_lock_bh(&ep->lock);
		n = causal_bcast_targets(ep);
		if (!n) {
			spin_unlock_bh(&ep->lock);
			err = -ENOTCONN;
			goto out_free;
		}
		if (n <= have && causal_bcast_room(ep, buf->len))
			break;
		spin_unlock_bh(&ep->lock);
		/* The queue entries are allocated outside ep->lock. */
		for (; have < n; have++) {
			e = causal_tx_alloc(self->sk, sizeof(*e), GFP_KERNEL);
			if (!e) {
				err = -ENOMEM;
				goto out_free;
			}
			list_add(&e->list, &entries);
		}
		spin_lock_bh(&ep->lock);
		if (causal_bcast_room(ep, buf->len)) {
			spin_unlock_bh(&ep->lock);
			continue;
		}
		spin_unlock_bh(&ep->lock);
		err = -EAGAIN;
		if (!timeo)
			goto out_free;
		timeo = wait_event_interruptible_timeout(ep->tx_wait,
							 causal_bcast_room_unlocked(ep, buf->len),
							 timeo);
		if (timeo < 0) {
			err = timeo;
			goto out_free;
		}
	}

	causal_send_event(ep);
	f = causal_tx_frame(ep, causal_bcast_since(ep), CAUSAL_FRAME_DATA,
			    CAUSAL_WIRE_F_BROADCAST, size);
	buf->start = head_len - causal_frame_head_len(&f);
	causal_wire_put_head(buf->bytes + buf->start, &f, ep->rule.clock);
	list_for_each_entry(ch, &ep->channels, ep_node) {
		if (!causal_tx_live(ch))
			continue;
		e = list_first_entry(&entries, struct causal_txe, list);
		list_move_tail(&e->list, &ch->txq);
		refcount_inc(&buf->ref);
		e->buf = buf;
		ch->txq_bytes += buf->len;
		ch->tx_gen = ep->rule.gen;
		ch->tx_sent++;
		/* No CLOCK needed: every channel carries this frame. */
		ch->clock_owed = false;
		if (ch != self && !READ_ONCE(ch->tx_full))
			mod_delayed_work(system_wq, &ch->tx_work, 0);
	}
	causal_unlock_trace_send(ep, CAUSAL_PEER_NONE, size, n);
	/* Our own channel is ours to write now. */
	causal_tx_kick(self);
	err = size;
out_free:
	causal_txe_free_list(&entries);
out_put:
	causal_txbuf_put(buf);
	return err;
}

int causal_sendmsg(struct sock *sk, struct msghdr *msg, size_t size)
{
	struct causal_sock *csk = causal_sk(sk);
	struct causal_endpoint *ep = csk->ep;
	bool broadcast = false;
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
	if (broadcast || (ep->flags & CAUSAL_F_BROADCAST))
		return causal_send_broadcast(csk, msg, size);
	return causal_send_unicast(csk, msg, size);
}

/* Close, under tx_mutex and the socket lock, after the channel left the
 * endpoint's list (nothing new is queued for it): write what it owes and,
 * with @bye, a BYE as its very last frame. TCP takes all of it now, even
 * past the send buffer, so that close never waits for the peer.
 */
void causal_tx_close(struct causal_sock *ch, bool bye)
{
	struct causal_endpoint *ep = ch->ep;
	struct sock *sk = ch->sk;
	u32 len;

	if (bye && !ch->tx_broken) {
		long sndtimeo = sk->sk_sndtimeo;

		/* Room for all of it on top of what TCP holds, as TCP counts
		 * it (twice the bytes and a minimal buffer cover the skbs'
		 * overhead): a blocking write then waits only when TCP could
		 * not allocate, and retries as tcp_sendmsg does, for a
		 * bounded time, never for the peer.
		 */
		sk->sk_userlocks |= SOCK_SNDBUF_LOCK;
		WRITE_ONCE(sk->sk_sndbuf,
			   max_t(int, sk->sk_sndbuf,
				 sk->sk_wmem_queued + SOCK_MIN_SNDBUF +
				 2 * (ch->tx_rest_len + ch->tx_cork_len +
				      ch->txq_bytes + sizeof(ch->tx_head))));
		WRITE_ONCE(sk->sk_sndtimeo, min_t(long, sndtimeo,
						  CAUSAL_CLOSE_TIMEO));
		if (!causal_tx_flush_flags(ch, 0, 0)) {
			spin_lock_bh(&ep->lock);
			len = causal_put_head(ch->tx_head, ep, ch, CAUSAL_FRAME_BYE,
					      0, 0);
			spin_unlock_bh(&ep->lock);
			causal_write_frame(ch, len, NULL, 0, 0);
			causal_tx_flush_flags(ch, 0, 0);
		}
		WRITE_ONCE(sk->sk_sndtimeo, sndtimeo);
	}
	/* What TCP did not take now never will be: rather than end the
	 * stream after half a frame or without the BYE it was told, the
	 * close resets the connection (as SO_LINGER 0 does), so the peer
	 * sees the loss as an error.
	 */
	if (bye && (ch->tx_rest || ch->txq_bytes || ch->tx_broken)) {
		sock_set_flag(sk, SOCK_LINGER);
		WRITE_ONCE(sk->sk_lingertime, 0);
	}
	causal_tx_break(ch, -EPIPE);
}
