// SPDX-License-Identifier: GPL-2.0
/*
 * Receive path: frames are read from TCP's queue as they complete
 * (causal_strp.c), whether or not the application reads. A DATA frame that
 * is deliverable at the head of its channel stays in TCP and is copied once,
 * into the reader's buffer; one that must wait is moved out of TCP into its
 * channel's hold-back queue, so that the stream behind it can be read, up to
 * the channel's hold-back limit. Past it the channel stops reading and TCP's
 * window closes. recvmsg() hands out one deliverable message per call.
 *
 * A channel's messages leave its queue only under its socket lock, which
 * also serializes them with its receive; whoever else touches a channel past
 * ep->lock pins it first (causal_pin()).
 */

#include <linux/ktime.h>
#include <linux/poll.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <net/tcp.h>

#include "causal.h"
#include "causal_trace.h"

/* Messages up to this size are copied behind their descriptor when they
 * leave TCP, larger ones into pages.
 */
#define CAUSAL_COPY_MAX		2048

/* Retry of a receive that could not get memory, from process context. */
#define CAUSAL_RX_RETRY		(HZ / 10)
/* How long a reconnect waits for an old connection that looks live. */
#define CAUSAL_RECONNECT_WAIT	HZ

/* Memory a channel's hold-back queue may take before the channel stops
 * reading from TCP. At least one frame always fits: an empty queue accepts
 * anything.
 */
static u32 causal_holdback_limit(struct causal_sock *ch)
{
	return max_t(u32, READ_ONCE(ch->sk->sk_rcvbuf), SZ_64K);
}

static u64 causal_now(void)
{
	return ktime_get_ns();
}

static struct causal_msg *causal_head(struct causal_sock *ch)
{
	return list_first_entry_or_null(&ch->holdq, struct causal_msg, list);
}

/* Keep @ch and its socket past ep->lock; under ep->lock, while @ch is on
 * the endpoint's list.
 */
static void causal_pin(struct causal_sock *ch)
{
	sock_hold(ch->sk);
	refcount_inc(&ch->ref);
}

static void causal_unpin(struct causal_sock *ch)
{
	struct sock *sk = ch->sk;

	causal_sock_put(ch);
	sock_put(sk);
}

/* Wake readers of @ch through the socket's own data_ready. */
static void causal_wake(struct causal_sock *ch)
{
	ch->saved_data_ready(ch->sk);
}

/* Wake whoever may read @ch's messages: its own readers, or with merged
 * receive every reader of the endpoint.
 */
static void causal_wake_readers(struct causal_endpoint *ep,
				struct causal_sock *ch)
{
	struct causal_sock *other;

	if (!(ep->flags & CAUSAL_F_MERGED_RECV)) {
		causal_wake(ch);
		return;
	}
	list_for_each_entry(other, &ep->channels, ep_node)
		causal_wake(other);
}

/* The channel holding peer @k's oldest undelivered message: with channels
 * that failed or broke still holding messages, one peer's messages are
 * spread over several channels, oldest channel first. A channel that lost
 * its peer only empties: once empty, it leaves the peer's list.
 */
static struct causal_sock *causal_peer_front(struct causal_endpoint *ep, u16 k)
{
	struct causal_sock *ch, *tmp;

	list_for_each_entry_safe(ch, tmp, &ep->peer_chans[k], peer_node) {
		if (!list_empty(&ch->holdq))
			return ch;
		if (ch->stale)
			list_del_init(&ch->peer_node);
	}
	return NULL;
}

/* May @ch's head go before those of its peer's other channels? */
static bool causal_is_peer_front(struct causal_endpoint *ep,
				 struct causal_sock *ch)
{
	return !ep->nr_stale || causal_peer_front(ep, ch->peer) == ch;
}

/* Peer @k's oldest undelivered message changed: tell the rule. */
static void causal_update_head(struct causal_endpoint *ep, u16 k)
{
	struct causal_sock *front = causal_peer_front(ep, k);

	causal_rule_set_head(&ep->rule, k,
			     front ? causal_head(front)->vclock[k] : 0);
}

/* One look at heads after a change, under ep->lock: the time, read only if
 * needed (it is slow in some VMs), and whether every reader of a merged
 * endpoint must be woken.
 */
struct causal_look {
	u64 now;
	bool wake_all;
};

/* The look's time, read now unless its reading is at least @since. A look
 * may start from a reading taken before ep->lock (a frame's arrival), and
 * another CPU may have queued a message stamped later meanwhile: a hold
 * measured from that reading would be negative.
 */
static void causal_look_now(struct causal_look *look, u64 since)
{
	if (!look->now || look->now < since)
		look->now = causal_now();
}

/* Decide @ch's head: deliverable (its readers are woken), past its hold
 * timeout (deliverable as a gap), or waiting on a node k, on ep->waiting[k]
 * until what is known of k reaches its stamp. Every head that is its peer's
 * front and not deliverable is on one such list.
 */
static void causal_look_head(struct causal_endpoint *ep, struct causal_sock *ch,
			     struct causal_look *look)
{
	struct causal_msg *m = causal_head(ch);
	u64 timeout_ns;
	u16 wait_node;

	lockdep_assert_held(&ep->lock);
	list_del_init(&ch->wait_node);
	/* The wait so far is the node's it waited on, whatever comes next. */
	if (ch->hold.wait_node != CAUSAL_PEER_NONE) {
		causal_look_now(look, ch->hold.wait_since_ns);
		ch->hold.blame_us[ch->hold.wait_node] +=
			div_u64(look->now - ch->hold.wait_since_ns,
				NSEC_PER_USEC);
		ch->hold.wait_node = CAUSAL_PEER_NONE;
	}
	if (!m || m->ready_ns || !causal_is_peer_front(ep, ch))
		return;
	causal_look_now(look, m->arrive_ns);
	if (causal_rule_ready(&ep->rule, m->sender, m->vclock, &wait_node,
			      &ch->wait_stamp)) {
		m->ready_ns = look->now;
		m->gap = causal_rule_after_loss(&ep->rule, m->vclock);
		goto ready;
	}
	if (!m->held) {
		m->held = true;
		ch->rx_held_total++;
		trace_causal_hold(ep->group, ep->node, ep->nodes, m->sender,
				  m->vclock[m->sender], wait_node,
				  ch->wait_stamp, m->vclock);
	}
	timeout_ns = (u64)ep->hold_timeout_ms * NSEC_PER_MSEC;
	if (timeout_ns && look->now - m->arrive_ns >= timeout_ns) {
		m->gap = true;
		m->ready_ns = look->now;
		goto ready;
	}
	list_add_tail(&ch->wait_node, &ep->waiting[wait_node]);
	ch->hold.wait_node = wait_node;
	ch->hold.wait_since_ns = look->now;
	if (timeout_ns)
		timer_reduce(&ep->hold_timer, jiffies + 1 +
			     nsecs_to_jiffies(m->arrive_ns + timeout_ns -
					      look->now));
	return;
ready:
	if (ep->flags & CAUSAL_F_MERGED_RECV)
		look->wake_all = true;
	else
		causal_wake(ch);
}

/* What is known of node @k grew: look again at the heads that wait on it,
 * those whose stamp it now reaches. A frame costs what it changed, not a
 * walk over the endpoint.
 */
static void causal_look_waiting(struct causal_endpoint *ep, u16 k,
				struct causal_look *look)
{
	u64 known = causal_rule_known(&ep->rule, k);
	struct causal_sock *ch, *tmp;
	LIST_HEAD(due);

	list_for_each_entry_safe(ch, tmp, &ep->waiting[k], wait_node)
		if (ch->wait_stamp <= known)
			list_move_tail(&ch->wait_node, &due);
	list_for_each_entry_safe(ch, tmp, &due, wait_node)
		causal_look_head(ep, ch, look);
}

static void causal_look_done(struct causal_endpoint *ep,
			     struct causal_look *look)
{
	struct causal_sock *ch;

	if (look->wake_all)
		list_for_each_entry(ch, &ep->channels, ep_node)
			causal_wake(ch);
}

/* Look at every channel's head: after what may change any of them (the
 * peer set, the hold timeout, a close) and when a hold timeout expires.
 */
static void causal_scan(struct causal_endpoint *ep)
{
	struct causal_look look = {};
	struct causal_sock *ch;

	lockdep_assert_held(&ep->lock);
	list_for_each_entry(ch, &ep->channels, ep_node)
		causal_look_head(ep, ch, &look);
	causal_look_done(ep, &look);
}

void causal_hold_timer_fn(struct timer_list *t)
{
	struct causal_endpoint *ep = from_timer(ep, t, hold_timer);

	spin_lock_bh(&ep->lock);
	causal_scan(ep);
	spin_unlock_bh(&ep->lock);
}

void causal_wake_ready(struct causal_endpoint *ep)
{
	spin_lock_bh(&ep->lock);
	causal_scan(ep);
	spin_unlock_bh(&ep->lock);
}

/* @ch's peer joined or left; what is known of it is in the rule. */
static void causal_trace_peer(const struct causal_endpoint *ep,
			      const struct causal_sock *ch, bool joined)
{
	const struct causal_rule_peer *p = &ep->rule.peer[ch->peer];
	struct causal_link link;

	if (!trace_causal_peer_enabled())
		return;
	causal_link_of(ch->sk, &link);
	trace_causal_peer(ep->group, ep->node, ep->nodes, ch->peer, p->wm,
			  p->incarnation, joined, &link, p->last);
}

/* @ch leaves its endpoint: its aggregates, final. Caller holds ep->lock. */
static void causal_trace_totals(const struct causal_endpoint *ep,
				const struct causal_sock *ch)
{
	const struct causal_rule_peer *p = &ep->rule.peer[ch->peer];
	struct causal_tp_totals t;

	if (!trace_causal_totals_enabled())
		return;
	t = (struct causal_tp_totals) {
		.id = ch->id,
		.sent = ch->tx_sent,
		.delivered = ch->rx_delivered,
		.held = ch->rx_held_total,
		.gaps = ch->rx_gaps,
		.errors = ch->rx_proto_errors,
		.hold_sum_us = ch->hold.sum_us,
		.hold_max_us = ch->hold.max_us,
		.hold_missed = ch->hold.hist_missed,
	};
	trace_causal_totals(ep->group, ep->node, ep->nodes, ch->peer, p->wm,
			    &t, ch->hold.blame_us, ch->hold.hist, p->last);
}

/* What a waiting HELLO from @peer waited for changed: each looks again,
 * from its channel's work. Caller holds ep->lock.
 */
static void causal_hello_kick(struct causal_endpoint *ep, u16 peer)
{
	struct causal_sock *ch;

	list_for_each_entry(ch, &ep->channels, ep_node)
		if (ch->rx_hello_waits && ch->rx_hello_peer == peer)
			mod_delayed_work(system_wq, &ch->rx_work, 0);
}

/* @ch no longer speaks for its peer (@state: failed or broken). What it
 * holds stays deliverable, and ahead of a reconnect's messages.
 */
static void causal_channel_lost(struct causal_endpoint *ep,
				struct causal_sock *ch, u16 state)
{
	lockdep_assert_held(&ep->lock);
	ch->state = state;
	if (!ch->hello_seen || ch->stale)
		return;
	if (ep->by_peer[ch->peer] == ch) {
		causal_rule_broken(&ep->rule, ch->peer);
		ep->by_peer[ch->peer] = NULL;
		causal_hello_kick(ep, ch->peer);
	}
	ch->stale = true;
	ep->nr_stale++;
}

/* Will no byte follow what TCP holds of @sk: the peer's FIN came, or the
 * connection is closed (reset, timeout)? Its channel is lost once that is
 * read. RCV_SHUTDOWN alone does not say: the reader's own shutdown(SHUT_RD)
 * sets it, and the peer goes on.
 */
static bool causal_rx_peer_ended(const struct sock *sk)
{
	return sock_flag(sk, SOCK_DONE) || READ_ONCE(sk->sk_state) == TCP_CLOSE;
}

/* Segments wait in @ch's backlog while a reader owns its socket: its end
 * may be among them.
 */
static bool causal_rx_backlogged(const struct causal_sock *ch)
{
	return READ_ONCE(ch->sk->sk_backlog.tail);
}

/* Must the HELLO @h from @peer on @ch wait? A peer back after its
 * connection ended: what the old channel's TCP still holds came first, so
 * the HELLO waits in TCP until that is read (while the old socket's owner
 * has not processed its backlog, it looks again shortly). Reconnects of one
 * peer go in the order they joined. The same incarnation back while its
 * old connection looks live: the peer's host may have lost that one without
 * a reset reaching us, and nothing we send draws one while we send nothing.
 * A CLOCK frame asks, and the HELLO waits CAUSAL_RECONNECT_WAIT for the
 * old connection to end before it fails as a duplicate. Caller holds
 * ep->lock.
 */
static bool causal_hello_waits(struct causal_endpoint *ep,
			       struct causal_sock *ch, u16 peer,
			       const struct causal_hello *h)
{
	struct causal_sock *old = ep->by_peer[peer], *other;
	unsigned long waited;

	if (!ch->rx_hello_waits)
		ch->rx_hello_since = jiffies;
	if (old && causal_rx_peer_ended(old->sk))
		return true;
	if (old && causal_rx_backlogged(old)) {
		mod_delayed_work(system_wq, &ch->rx_work, CAUSAL_RX_RETRY);
		return true;
	}
	list_for_each_entry(other, &ep->channels, ep_node) {
		if (other == ch)
			break;
		if (other->rx_hello_waits && other->rx_hello_peer == peer)
			return true;
	}
	if (!old || ep->rule.peer[peer].state != CAUSAL_PEER_ACTIVE ||
	    h->incarnation != ep->rule.peer[peer].incarnation)
		return false;
	waited = jiffies - ch->rx_hello_since;
	if (waited >= CAUSAL_RECONNECT_WAIT)
		return false;
	if (!ch->rx_hello_waits)
		causal_owe_clock(ep, old);
	mod_delayed_work(system_wq, &ch->rx_work, CAUSAL_RECONNECT_WAIT - waited);
	return true;
}

/* The peer broke the protocol: stop reading from it and fail the channel.
 * Other channels of the endpoint go on.
 */
static void causal_channel_fail(struct causal_sock *ch,
				enum causal_proto_err err)
{
	struct causal_endpoint *ep = ch->ep;
	struct sock *sk = ch->sk;

	spin_lock_bh(&ep->lock);
	ch->rx_stopped = true;
	ch->proto_err = err;
	ch->rx_proto_errors++;
	causal_channel_lost(ep, ch, CAUSAL_CH_FAILED);
	trace_causal_error(ep->group, ep->node, ep->nodes, ch->peer,
			   ep->rule.clock[ep->node], err, ep->rule.clock);
	spin_unlock_bh(&ep->lock);

	WRITE_ONCE(sk->sk_err, -causal_proto_errno(err));
	sk_error_report(sk);
}

/* Queue a DATA message; the caller holds ep->lock. */
static void causal_queue_data(struct causal_endpoint *ep, struct causal_sock *ch,
			      struct causal_msg *m, struct causal_look *look)
{
	bool was_empty = list_empty(&ch->holdq);

	list_add_tail(&m->list, &ch->holdq);
	ch->holdq_len++;
	ep->held_now++;
	if (was_empty) {
		causal_update_head(ep, ch->peer);
		causal_look_head(ep, ch, look);
	} else {
		/* What others sent before it is known only to grow, so a
		 * message whose causes elsewhere are in is ready the moment
		 * its own channel's older messages are out: mark it now and
		 * spare the scan a clock read when it becomes the head.
		 */
		if (causal_rule_ready(&ep->rule, ch->peer, m->vclock, NULL,
				      NULL)) {
			m->ready_ns = m->arrive_ns;
			m->gap = causal_rule_after_loss(&ep->rule, m->vclock);
		}
		/* More behind a readable head: like TCP, every arrival is a
		 * new edge for edge-triggered epoll.
		 */
		if (causal_head(ch)->ready_ns)
			causal_wake_readers(ep, ch);
	}
	/* Only a message that waits makes an arrive event: the delivery of
	 * the others says when they came, and the event would cost every
	 * in-order message a third trace record.
	 */
	if (!m->ready_ns)
		trace_causal_arrive(ep->group, ep->node, ep->nodes, m->sender,
				    m->vclock[m->sender], m->len, m->arrive_ns,
				    m->vclock);
}

/* The front frame's clock into rx_clock: all of it, or the entries that
 * changed since the peer's previous frame on the channel.
 */
static int causal_rx_clock(struct causal_sock *ch, const struct causal_frame *f)
{
	struct causal_strp *s = &ch->strp;
	u64 left = f->present, chunk;
	__be64 raw[8];
	u32 off, n;

	if (!causal_frame_delta(f)) {
		if (causal_strp_read(ch->sk, s, CAUSAL_WIRE_HDR_LEN,
				     ch->rx_clock, f->nodes * sizeof(u64)))
			return -EPROTO;
		causal_wire_get_clock(ch->rx_clock, ch->rx_clock, f->nodes);
		return 0;
	}
	for (off = CAUSAL_WIRE_HDR_MAX; left; off += n * sizeof(raw[0])) {
		for (chunk = 0, n = 0; left && n < ARRAY_SIZE(raw); n++) {
			chunk |= left & -left;
			left &= left - 1;
		}
		if (causal_strp_read(ch->sk, s, off, raw, n * sizeof(raw[0])))
			return -EPROTO;
		causal_wire_get_entries(raw, ch->rx_clock, chunk);
	}
	return 0;
}

/* Handle the whole frame at the front of @ch's stream. A DATA frame is
 * queued where it is, as ch->front; anything else is consumed.
 */
static enum causal_proto_err causal_rx_frame(struct causal_sock *ch)
{
	struct causal_endpoint *ep = ch->ep;
	struct causal_strp *s = &ch->strp;
	struct causal_frame f = s->hdr;
	struct causal_hello hello = {};
	struct sock *sk = ch->sk;
	struct causal_look look = {};
	enum causal_proto_err err;
	u32 clock_len, off;
	u16 peer;

	if (f.nodes != ep->nodes)
		return CAUSAL_ERR_NODES;
	if (causal_rx_clock(ch, &f))
		return CAUSAL_ERR_LENGTH;
	clock_len = f.nodes * sizeof(u64);
	off = causal_frame_head_len(&f);

	if (f.type == CAUSAL_FRAME_HELLO) {
		u8 raw[CAUSAL_WIRE_HELLO_LEN];

		if (causal_strp_read(sk, s, off, raw, sizeof(raw)))
			return CAUSAL_ERR_LENGTH;
		err = causal_wire_get_hello(raw, &hello);
		if (err)
			return err;
	} else if (f.type == CAUSAL_FRAME_DATA) {
		struct causal_msg *m = &ch->front;

		memcpy(ch->front_clock, ch->rx_clock, clock_len);
		m->vclock = ch->front_clock;
		m->where = CAUSAL_MSG_IN_TCP;
		m->sender = f.sender;
		m->len = f.len;
		m->offset = off;
		m->charge = 0;
		m->held = false;
		m->gap = false;
		m->ready_ns = 0;
		/* One clock read per read pass: it is slow in some VMs and
		 * the frames of one pass arrived together.
		 */
		if (!ch->rx_pass_ns)
			ch->rx_pass_ns = causal_now();
		m->arrive_ns = ch->rx_pass_ns;
		look.now = m->arrive_ns;
	}

	spin_lock_bh(&ep->lock);
	peer = ch->hello_seen ? ch->peer : f.sender;
	if (f.type == CAUSAL_FRAME_HELLO && !ch->hello_seen &&
	    peer < ep->nodes) {
		if (causal_hello_waits(ep, ch, peer, &hello)) {
			ch->rx_hello_waits = true;
			ch->rx_hello_peer = peer;
			spin_unlock_bh(&ep->lock);
			return CAUSAL_ERR_NONE;
		}
		/* Whatever it brings, those behind it look again. */
		if (ch->rx_hello_waits) {
			ch->rx_hello_waits = false;
			causal_hello_kick(ep, peer);
		}
	}
	err = causal_rule_accept(&ep->rule, peer, &f, ch->rx_clock, &hello,
				 !ch->hello_seen);
	if (!err && f.type == CAUSAL_FRAME_HELLO && ep->by_peer[peer])
		err = CAUSAL_ERR_DUPLICATE;
	if (err) {
		spin_unlock_bh(&ep->lock);
		return err;
	}
	switch (f.type) {
	case CAUSAL_FRAME_HELLO:
		ch->peer = peer;
		ch->hello_seen = true;
		ch->tx_delta = (hello.flags & CAUSAL_WIRE_HELLO_F_DELTA) &&
			       READ_ONCE(causal_wire_delta);
		ch->state = CAUSAL_CH_ACTIVE;
		ep->by_peer[peer] = ch;
		list_add_tail(&ch->peer_node, &ep->peer_chans[peer]);
		causal_trace_peer(ep, ch, true);
		break;
	case CAUSAL_FRAME_DATA:
		ch->front_queued = true;
		causal_queue_data(ep, ch, &ch->front, &look);
		break;
	case CAUSAL_FRAME_CLOCK:
		trace_causal_clock(ep->group, ep->node, ep->nodes, ch->peer,
				   ch->rx_clock[ch->peer], ch->rx_clock);
		break;
	case CAUSAL_FRAME_BYE:
		ch->state = CAUSAL_CH_LEFT;
		causal_trace_peer(ep, ch, false);
		break;
	}
	/* Any frame may tell more of its peer: its count, its new head. */
	causal_look_waiting(ep, peer, &look);
	causal_look_done(ep, &look);
	spin_unlock_bh(&ep->lock);
	if (f.type != CAUSAL_FRAME_DATA)
		causal_strp_done(s);
	return CAUSAL_ERR_NONE;
}

static void causal_msg_free(struct causal_msg *m)
{
	if (m->where == CAUSAL_MSG_PAGES)
		causal_pvec_free(&m->pv);
	kfree(m);
}

/* Move the front message out of TCP into memory of its own, so that the
 * stream behind it can be read: unless it is deliverable at the head of
 * its channel (a reader takes it straight from TCP) or the hold-back queue
 * is full. Returns 1 if it moved, 0 if it stays, or an error.
 */
static int causal_rx_take_front(struct causal_sock *ch, gfp_t gfp)
{
	struct causal_endpoint *ep = ch->ep;
	struct causal_msg *f = &ch->front, *m;
	u32 clock_len = ep->nodes * sizeof(u64);
	struct sock *sk = ch->sk;
	bool stay, copy_mode, inline_copy;
	size_t size, charge;
	int err;

	/* Only a reader that owns the socket takes the head or makes it
	 * wait again, and so do we: a head seen deliverable stays so, and a
	 * reader takes it straight from TCP.
	 */
	if (causal_head(ch) == f && READ_ONCE(f->ready_ns))
		return 0;
	/* Its length and clock do not change while it waits. */
	copy_mode = ch->strp.copy_mode;
	inline_copy = !copy_mode && f->len <= CAUSAL_COPY_MAX;
	size = sizeof(*m) + clock_len + (inline_copy ? f->len : 0);
	charge = kmalloc_size_roundup(size);
	if (!inline_copy)
		charge += PAGE_ALIGN(f->len + (copy_mode ? f->offset : 0)) +
			  DIV_ROUND_UP(f->len + f->offset, PAGE_SIZE) *
			  sizeof(struct page *);

	spin_lock_bh(&ep->lock);
	stay = (causal_head(ch) == f && f->ready_ns) ||
	       (ch->holdback_bytes &&
		ch->holdback_bytes + charge > causal_holdback_limit(ch));
	spin_unlock_bh(&ep->lock);
	if (stay)
		return 0;
	m = causal_rx_alloc(sk, size, gfp);
	if (!m)
		return -ENOMEM;
	m->vclock = (u64 *)(m + 1);
	memset(&m->pv, 0, sizeof(m->pv));
	m->charge = kmalloc_size_roundup(size);
	if (inline_copy) {
		m->where = CAUSAL_MSG_INLINE;
		m->data = (u8 *)m->vclock + clock_len;
		m->offset = 0;
		err = causal_strp_read(sk, &ch->strp, f->offset, m->data, f->len);
	} else {
		m->where = CAUSAL_MSG_PAGES;
		m->data = NULL;
		/* Copy mode hands over the whole frame. */
		m->offset = copy_mode ? f->offset : 0;
		err = causal_strp_to_pvec(sk, &ch->strp, f->offset, f->len,
					  &m->pv, gfp);
		m->charge += causal_pvec_charge(&m->pv);
	}
	if (err) {
		kfree(m);
		return err;
	}

	spin_lock_bh(&ep->lock);
	m->sender = f->sender;
	m->len = f->len;
	m->held = f->held;
	m->gap = f->gap;
	m->arrive_ns = f->arrive_ns;
	m->ready_ns = f->ready_ns;
	memcpy(m->vclock, f->vclock, clock_len);
	list_replace(&f->list, &m->list);
	ch->front_queued = false;
	ch->holdback_bytes += m->charge;
	ch->rx_moved++;
	spin_unlock_bh(&ep->lock);
	causal_strp_done(&ch->strp);
	return 1;
}

static void causal_wake_front(struct causal_sock *ch)
{
	struct causal_endpoint *ep = ch->ep;

	spin_lock_bh(&ep->lock);
	if (causal_head(ch)->ready_ns)
		causal_wake_readers(ep, ch);
	spin_unlock_bh(&ep->lock);
}

/* Read what TCP holds for @ch, frame by frame, until a deliverable message
 * waits at the front of the stream, the hold-back queue is full, or no
 * whole frame is left. Serialized with TCP's receive. @arrival: TCP got new
 * bytes. The caller gives the frames read back to TCP (causal_strp_flush())
 * before it lets go of the socket.
 */
static void causal_rx_read(struct causal_sock *ch, gfp_t gfp, bool arrival)
{
	u32 max_len = READ_ONCE(causal_max_msg_size);
	enum causal_proto_err err = CAUSAL_ERR_NONE;
	struct causal_endpoint *ep = ch->ep;
	struct sock *sk = ch->sk;
	bool eof = false, parsed = false;
	int ret;

	if (READ_ONCE(ch->rx_stopped))
		return;
	ch->rx_pass_ns = 0;
	for (;;) {
		if (ch->front_queued) {
			ret = causal_rx_take_front(ch, gfp);
			if (ret < 0)
				break;
			if (!ret && arrival) {
				ret = causal_strp_check_next(sk, &ch->strp,
							     max_len, &err);
				if (ret)
					break;
				/* Bytes behind a readable head: like TCP,
				 * every arrival is a new edge for
				 * edge-triggered epoll. A head this pass
				 * queued woke its readers already.
				 */
				if (!parsed)
					causal_wake_front(ch);
			}
			if (!ret)
				break;
		}
		ret = causal_strp_next(sk, &ch->strp, max_len, &err, gfp);
		if (!ret) {
			/* Nothing more will come to complete it. */
			eof = causal_rx_peer_ended(sk);
			break;
		}
		if (ret < 0)
			break;
		err = causal_rx_frame(ch);
		if (err) {
			ret = -EPROTO;
			break;
		}
		parsed = true;
		if (READ_ONCE(ch->rx_hello_waits))
			return;
	}
	if (ret == -ENOMEM) {
		/* The frame waits in TCP; nothing is lost. */
		queue_delayed_work(system_wq, &ch->rx_work,
				   gfpflags_allow_blocking(gfp) ?
				   CAUSAL_RX_RETRY : 0);
		return;
	}
	if (ret < 0) {
		causal_channel_fail(ch, err ? : CAUSAL_ERR_LENGTH);
		return;
	}
	if (eof) {
		spin_lock_bh(&ep->lock);
		/* A FIN without BYE. */
		if (ch->state == CAUSAL_CH_ACTIVE || ch->state == CAUSAL_CH_JOINED)
			causal_channel_lost(ep, ch, CAUSAL_CH_BROKEN);
		ch->rx_eof = true;
		causal_wake_readers(ep, ch);
		spin_unlock_bh(&ep->lock);
	}
}

/* One pass: read, then give TCP back what was read. */
static void causal_rx_pump(struct causal_sock *ch, gfp_t gfp, bool arrival)
{
	causal_rx_read(ch, gfp, arrival);
	causal_strp_flush(ch->sk, &ch->strp);
}

static void causal_rx_work(struct work_struct *work)
{
	struct causal_sock *ch = container_of(to_delayed_work(work),
					      struct causal_sock, rx_work);

	lock_sock(ch->sk);
	causal_rx_pump(ch, GFP_KERNEL, false);
	release_sock(ch->sk);
}

/* Called with the socket's spinlock held (softirq, or the owner's backlog
 * processing).
 */
void causal_data_ready(struct sock *sk)
{
	struct causal_sock *ch = causal_sk(sk);

	if (sock_owned_by_user_nocheck(sk)) {
		/* The owner calls causal_release_cb() before it lets go of
		 * the socket: read there, on this CPU.
		 */
		ch->rx_deferred = true;
		return;
	}
	causal_rx_pump(ch, GFP_ATOMIC, true);
}

/* release_sock(): the owner still owns the socket and holds its spinlock. */
void causal_release_cb(struct sock *sk)
{
	struct causal_sock *ch = causal_sk(sk);

	ch->sk_proto->release_cb(sk);
	if (!ch->rx_deferred)
		return;
	ch->rx_deferred = false;
	causal_rx_pump(ch, GFP_ATOMIC, true);
}

/* Reset or timeout: the channel is broken once what arrived before is read,
 * and readers waiting for an error must look again. A FIN is for the
 * receive path to tell, once it read what came before it (a BYE, maybe).
 * Serialized with TCP's receive, like data_ready.
 */
void causal_state_change(struct sock *sk)
{
	struct causal_sock *ch = causal_sk(sk);
	struct causal_endpoint *ep = ch->ep;

	ch->saved_state_change(sk);
	/* Only the reader's shutdown() sets it before the peer's end. */
	if ((READ_ONCE(sk->sk_shutdown) & RCV_SHUTDOWN) &&
	    !causal_rx_peer_ended(sk))
		WRITE_ONCE(ch->rx_shut, true);
	if (READ_ONCE(sk->sk_state) == TCP_CLOSE) {
		/* In softirq, or by the owner (its backlog, shutdown()). */
		causal_rx_pump(ch, GFP_ATOMIC, true);
		/* Frames TCP still holds (the hold-back queue is full) are
		 * read first: the receive path tells the break at their end.
		 * A disconnect leaves none.
		 */
		spin_lock_bh(&ep->lock);
		if ((ch->state == CAUSAL_CH_ACTIVE ||
		     ch->state == CAUSAL_CH_JOINED) && !causal_tcp_inq(sk))
			causal_channel_lost(ep, ch, CAUSAL_CH_BROKEN);
		spin_unlock_bh(&ep->lock);
	}
	causal_wake(ch);
}

void causal_rx_init(struct causal_sock *csk)
{
	INIT_LIST_HEAD(&csk->holdq);
	INIT_LIST_HEAD(&csk->peer_node);
	INIT_LIST_HEAD(&csk->wait_node);
	csk->hold.wait_node = CAUSAL_PEER_NONE;
	INIT_DELAYED_WORK(&csk->rx_work, causal_rx_work);
}

/* JOIN, under the socket lock: frames the peer sent before it wait in TCP. */
void causal_rx_start(struct causal_sock *csk)
{
	causal_rx_pump(csk, GFP_KERNEL, false);
}

/* The owner closes the channel; socket lock held. It leaves the endpoint's
 * list, so that nothing finds it any more, and drops what it still holds.
 */
void causal_rx_close(struct causal_sock *ch)
{
	struct causal_endpoint *ep = ch->ep;
	struct causal_msg *m, *tmp;
	LIST_HEAD(purge);

	spin_lock_bh(&ep->lock);
	ch->dead = true;
	ch->rx_stopped = true;
	/* Messages that arrived are dropped unread: what depends on them
	 * will be a gap.
	 */
	m = causal_head(ch);
	if (m)
		causal_rule_lost(&ep->rule, m->sender, m->vclock[m->sender]);
	list_splice_init(&ch->holdq, &purge);
	ep->held_now -= ch->holdq_len;
	ch->holdq_len = 0;
	ch->holdback_bytes = 0;
	ch->front_queued = false;
	causal_channel_lost(ep, ch, ch->state);
	if (ch->stale)
		ep->nr_stale--;
	if (ch->rx_hello_waits) {
		ch->rx_hello_waits = false;
		causal_hello_kick(ep, ch->rx_hello_peer);
	}
	list_del_init(&ch->ep_node);
	list_del_init(&ch->peer_node);
	list_del_init(&ch->wait_node);
	if (ch->hello_seen) {
		causal_update_head(ep, ch->peer);
		/* Unlinked: no later read of /proc/net/causal counts it. */
		causal_trace_totals(ep, ch);
	}
	causal_scan(ep);
	spin_unlock_bh(&ep->lock);

	list_for_each_entry_safe(m, tmp, &purge, list)
		if (m != &ch->front)
			causal_msg_free(m);
	causal_strp_release(&ch->strp);
}

/* The channel whose head @ch may hand out now. Caller holds ep->lock. */
static struct causal_sock *causal_pick(struct causal_endpoint *ep,
				       struct causal_sock *ch)
{
	struct causal_sock *other, *best = NULL;
	struct causal_msg *m, *best_m = NULL;

	if (!(ep->flags & CAUSAL_F_MERGED_RECV)) {
		m = causal_head(ch);
		return m && m->ready_ns ? ch : NULL;
	}
	/* Merged: the endpoint's next message in the order they became
	 * deliverable.
	 */
	list_for_each_entry(other, &ep->channels, ep_node) {
		m = causal_head(other);
		if (m && m->ready_ns &&
		    (!best_m || m->ready_ns < best_m->ready_ns)) {
			best = other;
			best_m = m;
		}
	}
	return best;
}

static bool causal_readable(struct causal_sock *ch)
{
	struct causal_endpoint *ep = ch->ep;
	bool ready;

	spin_lock_bh(&ep->lock);
	ready = causal_pick(ep, ch);
	spin_unlock_bh(&ep->lock);
	return ready;
}

/* Nothing more will ever be readable from this channel. */
static bool causal_rx_eof(struct causal_sock *ch)
{
	bool eof;

	if (!READ_ONCE(ch->rx_eof))
		return false;
	spin_lock_bh(&ch->ep->lock);
	eof = list_empty(&ch->holdq);
	spin_unlock_bh(&ch->ep->lock);
	return eof;
}

/* Frames TCP still holds are read before the connection's end (an error,
 * a hangup) is told, as TCP gives data before the error: unless the
 * channel failed, or its stream has ended.
 */
static bool causal_rx_behind(struct causal_sock *ch)
{
	if (READ_ONCE(ch->rx_stopped) || READ_ONCE(ch->rx_eof))
		return false;
	return READ_ONCE(ch->rx_hello_waits) || causal_tcp_inq(ch->sk);
}

bool causal_sock_is_readable(struct sock *sk)
{
	struct causal_sock *ch = causal_sk(sk);

	return ch && ch->ep && causal_readable(ch);
}

__poll_t causal_poll(struct file *file, struct socket *sock,
		     struct poll_table_struct *wait)
{
	struct sock *sk = sock->sk;
	struct causal_sock *ch = causal_sk(sk);
	__poll_t mask;
	bool behind;

	mask = ch->sk_ops->poll(file, sock, wait);
	if (!ch->ep)
		return mask;
	/* TCP says readable when bytes are queued; we only when a message
	 * is deliverable, or at EOF, on errors and once the reader shut its
	 * read side (a read does not wait then).
	 */
	mask &= ~(EPOLLIN | EPOLLRDNORM);
	behind = causal_rx_behind(ch);
	if (behind)
		mask &= ~(EPOLLERR | EPOLLHUP);
	if (causal_readable(ch) || causal_rx_eof(ch) ||
	    READ_ONCE(ch->rx_shut) || (READ_ONCE(sk->sk_err) && !behind))
		mask |= EPOLLIN | EPOLLRDNORM;
	return mask;
}

/* The CAUSAL_CMSG_INFO of a message, filled under ep->lock. */
struct causal_cmsg {
	struct causal_msg_info info;
	u64 vclock[CAUSAL_MAX_NODES];
};

static void causal_fill_cmsg(struct causal_cmsg *cm, struct causal_endpoint *ep,
			     const struct causal_msg *m, u64 index)
{
	cm->info.sender = m->sender;
	cm->info.nodes = ep->nodes;
	cm->info.flags = m->gap ? CAUSAL_MSG_GAP : 0;
	cm->info.stamp = m->vclock[m->sender];
	cm->info.index = index;
	cm->info.held_ns = m->ready_ns - m->arrive_ns;
	memcpy(cm->vclock, m->vclock, ep->nodes * sizeof(u64));
}

/* A held message of @ch was delivered after @hold_ns. The histogram is
 * allocated on the first: most channels never hold one.
 */
static void causal_count_hold(struct causal_sock *ch, u64 hold_ns)
{
	struct causal_hold_stats *st = &ch->hold;
	u64 us = div_u64(hold_ns, NSEC_PER_USEC);

	st->sum_us += us;
	st->max_us = max(st->max_us, us);
	if (!st->hist)
		st->hist = causal_rx_alloc(ch->sk, CAUSAL_HIST_BUCKETS *
					   sizeof(*st->hist),
					   GFP_ATOMIC | __GFP_ZERO);
	if (st->hist)
		st->hist[causal_hist_bucket(us)]++;
	else
		st->hist_missed++;
}

/* Hand @m, the head of @ch, out for good; the caller holds ep->lock and
 * @ch's socket lock. Returns its delivery index.
 */
static u64 causal_deliver(struct causal_endpoint *ep, struct causal_sock *ch,
			  struct causal_msg *m)
{
	struct causal_look look = {};
	struct causal_sock *front;
	u16 k;

	list_del(&m->list);
	if (m == &ch->front)
		ch->front_queued = false;
	ch->holdq_len--;
	ch->holdback_bytes -= m->charge;
	ch->rx_delivered++;
	ep->held_now--;
	ep->delivered++;
	if (m->gap) {
		ch->rx_gaps++;
		ep->gaps++;
	}
	if (m->held)
		causal_count_hold(ch, m->ready_ns - m->arrive_ns);
	causal_rule_deliver(&ep->rule, m->sender, m->vclock, m->gap);
	causal_update_head(ep, m->sender);
	/* More is known of the sender, and a gap raised others' floor. */
	for (k = 0; k < ep->nodes; k++)
		if (k == m->sender || m->gap)
			causal_look_waiting(ep, k, &look);
	/* The next head: this channel's, or the sender's next channel's. */
	causal_look_head(ep, ch, &look);
	front = causal_peer_front(ep, m->sender);
	if (front && front != ch)
		causal_look_head(ep, front, &look);
	causal_look_done(ep, &look);
	return ep->delivered;
}

static int causal_copy_out(struct causal_sock *ch, const struct causal_msg *m,
			   struct msghdr *msg, u32 len)
{
	switch (m->where) {
	case CAUSAL_MSG_IN_TCP:
		return causal_strp_to_msg(ch->sk, &ch->strp, m->offset, msg, len);
	case CAUSAL_MSG_INLINE:
		return memcpy_to_msg(msg, m->data, len);
	default:
		return causal_pvec_to_msg(&m->pv, m->offset, msg, len);
	}
}

/* One read: its buffer, what it has handed out so far, and the control
 * message of its first message. With CAUSAL_RECV_BATCH each message is a
 * struct causal_rec and its payload, CAUSAL_REC_ALIGN-aligned.
 */
struct causal_read {
	struct msghdr *msg;
	size_t len;			/* the caller's buffer */
	size_t used;			/* bytes handed out: with a batch, to
					 * the end of the last record
					 */
	size_t whole;			/* a truncated first message's length,
					 * with its record header
					 */
	int flags;
	bool batch;
	unsigned int taken;		/* messages copied out */
	struct causal_cmsg cm;		/* of the first */
	struct causal_read_trace *trace;	/* a batch's, while traced */
};

/* The deliveries of a batch read for its causal_deliver_batch events. */
struct causal_read_trace {
	unsigned int count;
	struct causal_tp_delivery d[CAUSAL_TRACE_BATCH];
	u64 vclocks[];		/* CAUSAL_TRACE_BATCH clocks */
};

/* A batch read traces its deliveries together, in an allocation made only
 * while the event is on: unless it cannot have one, and then alone.
 */
static void causal_read_trace_start(struct causal_read *rd, u16 nodes)
{
	rd->trace = NULL;
	if (!rd->batch || (rd->flags & MSG_PEEK) ||
	    !trace_causal_deliver_batch_enabled())
		return;
	rd->trace = kmalloc(struct_size(rd->trace, vclocks,
					CAUSAL_TRACE_BATCH * nodes),
			    GFP_KERNEL | __GFP_NOWARN);
	if (rd->trace)
		rd->trace->count = 0;
}

static void causal_read_trace_flush(struct causal_endpoint *ep,
				    struct causal_read_trace *t)
{
	if (!t || !t->count)
		return;
	trace_causal_deliver_batch(ep->group, ep->node, ep->nodes, t->count,
				   t->d, t->vclocks);
	t->count = 0;
}

/* @m was delivered as @index at @now (0: not for causal_deliver_batch);
 * it is off every list, so ours to read without ep->lock.
 */
static void causal_read_traced(struct causal_endpoint *ep,
			       struct causal_read *rd,
			       const struct causal_msg *m, u64 index, u64 now)
{
	struct causal_tp_delivery one, *d = &one;
	struct causal_read_trace *t = rd->trace;

	trace_causal_deliver(ep->group, ep->node, ep->nodes, m->sender,
			     m->vclock[m->sender], index,
			     m->ready_ns - m->arrive_ns, m->gap, m->vclock);
	if (!now)		/* causal_deliver_batch is off */
		return;
	if (t)
		d = &t->d[t->count];
	*d = (struct causal_tp_delivery) {
		.deliver_ns = now,
		.index = index,
		.stamp = m->vclock[m->sender],
		.held_ns = m->ready_ns - m->arrive_ns,
		.sender = m->sender,
		.gap = m->gap,
	};
	if (!t) {
		trace_causal_deliver_batch(ep->group, ep->node, ep->nodes, 1, d,
					   m->vclock);
		return;
	}
	memcpy(t->vclocks + t->count * ep->nodes, m->vclock,
	       ep->nodes * sizeof(u64));
	if (++t->count == CAUSAL_TRACE_BATCH)
		causal_read_trace_flush(ep, t);
}

/* Does @m fit behind what @rd holds? The first message always "fits": it
 * is truncated as a lone message is.
 */
static bool causal_read_fits(const struct causal_read *rd,
			     const struct causal_msg *m)
{
	if (!rd->taken)
		return true;
	return rd->batch && !(rd->flags & MSG_PEEK) &&
	       ALIGN(rd->used, CAUSAL_REC_ALIGN) +
	       sizeof(struct causal_rec) + m->len <= rd->len;
}

/* Copy @m out behind what @rd holds; the caller owns @ch's socket. */
static int causal_read_copy(struct causal_read *rd, struct causal_sock *ch,
			    const struct causal_msg *m, u16 rec_flags)
{
	u8 zeros[CAUSAL_REC_ALIGN] = {};
	size_t start = rd->used, head = 0;
	struct causal_rec rec;
	u32 copied;
	int err;

	if (rd->batch) {
		size_t pad = ALIGN(start, CAUSAL_REC_ALIGN) - start;
		/* Only a first record, at the start, is ever short of room. */
		head = min(rd->len - start - pad, sizeof(rec));

		rec.len = m->len;
		rec.sender = m->sender;
		rec.flags = rec_flags;
		rec.stamp = m->vclock[m->sender];
		err = memcpy_to_msg(rd->msg, zeros, pad) ? :
		      memcpy_to_msg(rd->msg, &rec, head);
		if (err)
			return err;
		rd->used += pad + head;
	}
	copied = min_t(size_t, rd->len - rd->used, m->len);
	err = causal_copy_out(ch, m, rd->msg, copied);
	if (err) {
		rd->used = start;
		return err;
	}
	rd->used += copied;
	/* A record header cut short truncates an empty message too. */
	if (copied < m->len || (rd->batch && head < sizeof(rec))) {
		rd->msg->msg_flags |= MSG_TRUNC;
		rd->whole = (rd->batch ? sizeof(rec) : 0) + m->len;
	}
	return 0;
}

/* Copy deliverable heads of @owner out to @reader's caller and, unless
 * peeking, deliver them: one, or with a batch as many as fit while @owner
 * holds the endpoint's next message. Returns 0 or an error; *@again is set
 * when the first head is no longer deliverable (another reader took it,
 * or the channel closed): look again.
 */
static int causal_take(struct causal_sock *owner, struct causal_sock *reader,
		       struct causal_read *rd, bool *again)
{
	/* The reader's: a closed owner has left the endpoint. */
	struct causal_endpoint *ep = reader->ep;
	struct sock *sk = owner->sk;
	struct causal_msg *m;
	bool past_floor;
	u64 index, now;
	int err = 0;
	u16 flags;

	lock_sock(sk);
	for (;;) {
		past_floor = false;
		spin_lock_bh(&ep->lock);
		m = owner->dead ? NULL : causal_head(owner);
		/* Readiness can go back: a cause that a gap let it pass may
		 * still arrive, or a node may join CAUSAL_PEERS. Look once
		 * more.
		 */
		if (m && m->ready_ns && !m->gap) {
			if (!causal_rule_ready(&ep->rule, m->sender, m->vclock,
					       NULL, NULL)) {
				struct causal_look look = {};

				m->ready_ns = 0;
				causal_look_head(ep, owner, &look);
				causal_look_done(ep, &look);
			} else {
				past_floor = causal_rule_past_floor(&ep->rule,
								    m->sender,
								    m->vclock);
			}
		}
		if (!m || !m->ready_ns ||
		    (rd->taken && (causal_pick(ep, reader) != owner ||
				   !causal_read_fits(rd, m)))) {
			spin_unlock_bh(&ep->lock);
			*again = !rd->taken;
			break;
		}
		flags = m->gap || past_floor ? CAUSAL_MSG_GAP : 0;
		spin_unlock_bh(&ep->lock);

		/* Owning the socket, nobody else removes @m: copy without
		 * ep->lock.
		 */
		err = causal_read_copy(rd, owner, m, flags);
		if (err == -ENODATA) {
			/* Its bytes left TCP without us: the stream can no
			 * longer be framed.
			 */
			causal_channel_fail(owner, CAUSAL_ERR_LENGTH);
			err = -EPROTO;
		}
		if (err)
			break;

		spin_lock_bh(&ep->lock);
		if (rd->flags & MSG_PEEK) {
			if (!rd->taken)
				causal_fill_cmsg(&rd->cm, ep, m,
						 ep->delivered + 1);
			rd->cm.info.flags |= flags;
			spin_unlock_bh(&ep->lock);
			rd->taken++;
			break;
		}
		m->gap |= past_floor;
		index = causal_deliver(ep, owner, m);
		if (!rd->taken)
			causal_fill_cmsg(&rd->cm, ep, m, index);
		/* Read under the lock: deliveries in index order in time. */
		now = trace_causal_deliver_batch_enabled() ? causal_now() : 0;
		spin_unlock_bh(&ep->lock);
		causal_read_traced(ep, rd, m, index, now);
		rd->taken++;
		if (m == &owner->front)
			causal_strp_done(&owner->strp);
		else
			causal_msg_free(m);
		/* Room in the queue, or the next frame is at the front. */
		causal_rx_read(owner, GFP_KERNEL, false);
		if (!rd->batch)
			break;
	}
	/* Once for the batch: one window update, not one per message. */
	causal_strp_flush(sk, &owner->strp);
	release_sock(sk);
	return err;
}

/* Readers do not hold their own socket lock while they wait: they look
 * under ep->lock, and take the socket lock of the channel whose message
 * they hand out only to copy it.
 */
int causal_recvmsg(struct sock *sk, struct msghdr *msg, size_t len, int flags,
		   int *addr_len)
{
	DEFINE_WAIT_FUNC(wait, woken_wake_function);
	struct causal_sock *ch = causal_sk(sk);
	struct causal_endpoint *ep = ch->ep;
	struct causal_sock *owner;
	struct causal_read rd;
	bool waiting = false;
	long timeo;
	int err;

	if (!ep)
		return -ENOTCONN;
	if (flags & MSG_ERRQUEUE)
		return ch->sk_proto->recvmsg(sk, msg, len, flags, addr_len);
	if (flags & MSG_OOB)
		return -EOPNOTSUPP;

	rd.msg = msg;
	rd.len = len;
	rd.used = 0;
	rd.whole = 0;
	rd.flags = flags;
	rd.batch = READ_ONCE(ch->recv_batch);
	rd.taken = 0;
	causal_read_trace_start(&rd, ep->nodes);
	timeo = sock_rcvtimeo(sk, flags & MSG_DONTWAIT);
	for (;;) {
		bool again = false;

		spin_lock_bh(&ep->lock);
		owner = causal_pick(ep, ch);
		if (owner)
			causal_pin(owner);
		spin_unlock_bh(&ep->lock);
		if (owner) {
			unsigned int taken = rd.taken;

			err = causal_take(owner, ch, &rd, &again);
			causal_unpin(owner);
			if (again)
				continue;
			/* A batch goes on with the next owner (merged
			 * receive) until nothing more fits or is ready.
			 */
			if (!err && rd.batch && rd.taken > taken &&
			    !(flags & MSG_PEEK))
				continue;
			goto out_done;
		}
		if (rd.taken)
			goto out_done;
		err = causal_rx_behind(ch) ? 0 : sock_error(sk);
		if (err)
			goto out_wait;
		if (READ_ONCE(ch->state) == CAUSAL_CH_FAILED) {
			err = causal_proto_errno(READ_ONCE(ch->proto_err));
			goto out_wait;
		}
		if (causal_rx_eof(ch) || READ_ONCE(ch->rx_shut)) {
			err = 0;
			goto out_wait;
		}
		if (!timeo) {
			err = -EAGAIN;
			goto out_wait;
		}
		if (signal_pending(current)) {
			err = sock_intr_errno(timeo);
			goto out_wait;
		}
		/* Queue for wakeups only when about to sleep, and look once
		 * more before sleeping.
		 */
		if (!waiting) {
			add_wait_queue(sk_sleep(sk), &wait);
			waiting = true;
			continue;
		}
		timeo = wait_woken(&wait, TASK_INTERRUPTIBLE, timeo);
	}

out_done:
	causal_read_trace_flush(ep, rd.trace);
	/* What was handed out stands, even if a later copy failed. */
	if (rd.taken) {
		err = rd.used;
		/* MSG_TRUNC asks for the real length of a short message. */
		if ((flags & MSG_TRUNC) && (msg->msg_flags & MSG_TRUNC))
			err = rd.whole;
		if (READ_ONCE(ch->recv_info))
			put_cmsg(msg, SOL_CAUSAL, CAUSAL_CMSG_INFO,
				 sizeof(rd.cm.info) + ep->nodes * sizeof(u64),
				 &rd.cm);
	}
out_wait:
	if (waiting)
		remove_wait_queue(sk_sleep(sk), &wait);
	kfree(rd.trace);
	return err;
}
