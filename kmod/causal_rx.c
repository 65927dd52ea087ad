// SPDX-License-Identifier: GPL-2.0
/*
 * Receive path: strparser cuts the TCP stream into frames as they arrive,
 * whether or not the application reads; DATA frames wait in their channel's
 * hold-back queue until the delivery rule lets them out; recvmsg() hands out
 * one deliverable message per call.
 */

#include <linux/ktime.h>
#include <linux/poll.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <net/tcp.h>

#include "causal.h"
#include "causal_trace.h"

/* Messages up to this size are copied out of the frame's skb. */
#define CAUSAL_COPY_MAX		2048

/* Frames read ahead per channel before TCP is left to push back. At least
 * one maximal frame always fits: an empty queue accepts anything.
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

/* Re-evaluate every blocked head of @ep after its state changed: mark those
 * that became deliverable, wake their readers (every reader of the endpoint
 * with merged receive), and arm the hold timer for the rest.
 */
static void causal_scan(struct causal_endpoint *ep, u64 now)
{
	unsigned long next_expiry = 0;
	struct causal_sock *ch;
	bool woke_all = false;
	u16 wait_node;
	u64 wait_stamp;

	lockdep_assert_held(&ep->lock);
	list_for_each_entry(ch, &ep->channels, ep_node) {
		struct causal_msg *m = causal_head(ch);
		u64 timeout_ns;

		if (!m || m->ready_ns)
			continue;
		/* The clock is slow to read in some VMs: only when needed. */
		if (!now)
			now = causal_now();
		if (causal_rule_ready(&ep->rule, m->sender, m->vclock,
				      &wait_node, &wait_stamp)) {
			m->ready_ns = now;
		} else {
			timeout_ns = (u64)ep->hold_timeout_ms * NSEC_PER_MSEC;
			if (!m->held) {
				m->held = true;
				ch->rx_held_total++;
				trace_causal_hold(ep->group, ep->node, ep->nodes,
						  m->sender,
						  m->vclock[m->sender],
						  wait_node, wait_stamp,
						  m->vclock);
			}
			if (!timeout_ns)
				continue;
			if (now - m->arrive_ns >= timeout_ns) {
				m->gap = true;
				m->ready_ns = now;
			} else {
				unsigned long at = jiffies +
					nsecs_to_jiffies(m->arrive_ns +
							 timeout_ns - now) + 1;

				if (!next_expiry || time_before(at, next_expiry))
					next_expiry = at;
				continue;
			}
		}
		if (ep->flags & CAUSAL_F_MERGED_RECV) {
			woke_all = true;
			continue;
		}
		causal_wake(ch);
	}
	if (woke_all)
		list_for_each_entry(ch, &ep->channels, ep_node)
			causal_wake(ch);
	if (next_expiry)
		mod_timer(&ep->hold_timer, next_expiry);
}

void causal_hold_timer_fn(struct timer_list *t)
{
	struct causal_endpoint *ep = from_timer(ep, t, hold_timer);

	spin_lock_bh(&ep->lock);
	causal_scan(ep, 0);
	spin_unlock_bh(&ep->lock);
}

void causal_wake_ready(struct causal_endpoint *ep)
{
	spin_lock_bh(&ep->lock);
	causal_scan(ep, 0);
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

/* The peer broke the protocol: stop reading from it and fail the channel.
 * Other channels of the endpoint go on. Called with the channel's rx path
 * serialized by strparser.
 */
static void causal_channel_fail(struct causal_sock *ch,
				enum causal_proto_err err)
{
	struct causal_endpoint *ep = ch->ep;
	struct sock *sk = ch->sk;

	strp_stop(&ch->strp);
	strp_pause(&ch->strp);

	spin_lock_bh(&ep->lock);
	ch->state = CAUSAL_CH_FAILED;
	ch->proto_err = err;
	ch->rx_proto_errors++;
	if (ch->hello_seen) {
		causal_rule_broken(&ep->rule, ch->peer);
		if (ep->by_peer[ch->peer] == ch)
			ep->by_peer[ch->peer] = NULL;
	}
	trace_causal_error(ep->group, ep->node, ep->nodes, ch->peer,
			   ep->rule.clock[ep->node], err, ep->rule.clock);
	spin_unlock_bh(&ep->lock);

	sk->sk_err = -causal_proto_errno(err);
	sk_error_report(sk);
}

static int causal_parse(struct strparser *strp, struct sk_buff *skb)
{
	struct causal_sock *ch = container_of(strp, struct causal_sock, strp);
	struct strp_msg *rxm = strp_msg(skb);
	u8 hdr[CAUSAL_WIRE_HDR_LEN];
	struct causal_frame f;
	enum causal_proto_err err;

	if (skb->len < rxm->offset + sizeof(hdr))
		return 0;
	if (skb_copy_bits(skb, rxm->offset, hdr, sizeof(hdr)))
		return -EPROTO;
	err = causal_wire_get_hdr(hdr, &f, READ_ONCE(causal_max_msg_size));
	if (err) {
		ch->proto_err = err;
		return -EPROTO;
	}
	return causal_frame_size(f.nodes, f.len);
}

static void causal_parse_abort(struct strparser *strp, int err)
{
	struct causal_sock *ch = container_of(strp, struct causal_sock, strp);

	causal_channel_fail(ch, ch->proto_err ? : CAUSAL_ERR_LENGTH);
}

/* Queue a DATA frame; the caller holds ep->lock. */
static void causal_queue_data(struct causal_endpoint *ep, struct causal_sock *ch,
			      struct causal_msg *m)
{
	bool was_empty = list_empty(&ch->holdq);

	list_add_tail(&m->list, &ch->holdq);
	ch->holdq_len++;
	ch->holdback_bytes += m->charge;
	ep->held_now++;
	if (was_empty) {
		causal_rule_set_head(&ep->rule, ch->peer, m->vclock[ch->peer]);
	} else {
		/* What others sent before it is known only to grow, so a
		 * message whose causes elsewhere are in is ready the moment
		 * its own channel's older messages are out: mark it now and
		 * spare the scan a clock read when it becomes the head.
		 */
		if (causal_rule_ready(&ep->rule, ch->peer, m->vclock, NULL,
				      NULL))
			m->ready_ns = m->arrive_ns;
		/* More behind a readable head: like TCP, every arrival is a
		 * new edge for edge-triggered epoll.
		 */
		if (causal_head(ch)->ready_ns)
			causal_wake_readers(ep, ch);
	}
	trace_causal_arrive(ep->group, ep->node, ep->nodes, m->sender,
			    m->vclock[m->sender], m->len, m->arrive_ns,
			    m->vclock);
	if (ch->holdback_bytes >= causal_holdback_limit(ch)) {
		/* Stop pulling from TCP: the peer's window closes. */
		ch->rx_paused = true;
		strp_pause(&ch->strp);
	}
}

/* Handle the frame with header @hdr that fills @size bytes of @skb from
 * @start. With @may_keep the skb is strparser's clone of the frame and a
 * large message keeps it rather than a copy: returns true if it did.
 * Otherwise the caller still owns @skb.
 */
static bool causal_rx_frame(struct causal_sock *ch, struct sk_buff *skb,
			    u32 start, u32 size, const struct causal_frame *hdr,
			    bool may_keep)
{
	struct causal_endpoint *ep = ch->ep;
	struct causal_hello hello = {};
	struct causal_frame f = *hdr;
	struct causal_msg *m = NULL;
	enum causal_proto_err err;
	u32 clock_len, off;
	u64 arrived = 0;
	bool kept = false;
	u16 peer;

	if (f.nodes != ep->nodes) {
		err = CAUSAL_ERR_NODES;
		goto err_proto;
	}
	off = start + CAUSAL_WIRE_HDR_LEN;
	clock_len = f.nodes * sizeof(u64);
	if (skb_copy_bits(skb, off, ch->rx_clock, clock_len))
		goto err_length;
	causal_wire_get_clock(ch->rx_clock, ch->rx_clock, f.nodes);
	off += clock_len;

	if (f.type == CAUSAL_FRAME_HELLO) {
		u8 raw[CAUSAL_WIRE_HELLO_LEN];

		if (skb_copy_bits(skb, off, raw, sizeof(raw)))
			goto err_length;
		err = causal_wire_get_hello(raw, &hello);
		if (err)
			goto err_proto;
	} else if (f.type == CAUSAL_FRAME_DATA) {
		/* A small message is copied out: a clone of the frame would
		 * pin an skb shared with its neighbours, often many times its
		 * size, which would blur the hold-back bound.
		 */
		bool copy = !may_keep || f.len <= CAUSAL_COPY_MAX;
		size_t msg_size = struct_size(m, vclock, f.nodes) +
				  (copy ? f.len : 0);

		m = kmalloc(msg_size, GFP_ATOMIC);
		if (!m || (copy && skb_copy_bits(skb, off, &m->vclock[f.nodes],
						 f.len))) {
			/* Cannot queue it and cannot drop it: fail loudly. */
			goto err_length;
		}
		memcpy(m->vclock, ch->rx_clock, clock_len);
		m->ch = ch;
		refcount_set(&m->ref, 1);
		m->len = f.len;
		if (copy) {
			m->data = &m->vclock[f.nodes];
			m->skb = NULL;
			m->charge = msg_size;
		} else {
			m->data = NULL;
			m->skb = skb;
			m->offset = off;
			m->charge = msg_size + size + SKB_TRUESIZE(0);
		}
		m->sender = f.sender;
		m->held = false;
		m->gap = false;
		m->taken = false;
		/* One clock read per read pass: it is slow in some VMs and
		 * the frames of one pass arrived together.
		 */
		if (!ch->rx_pass_ns)
			ch->rx_pass_ns = causal_now();
		m->arrive_ns = ch->rx_pass_ns;
		arrived = m->arrive_ns;
		m->ready_ns = 0;
	}

	spin_lock_bh(&ep->lock);
	peer = ch->hello_seen ? ch->peer : f.sender;
	err = causal_rule_accept(&ep->rule, peer, &f, ch->rx_clock, &hello,
				 !ch->hello_seen);
	if (!err && f.type == CAUSAL_FRAME_HELLO && ep->by_peer[peer])
		err = CAUSAL_ERR_DUPLICATE;
	if (err) {
		spin_unlock_bh(&ep->lock);
		goto err_proto;
	}
	switch (f.type) {
	case CAUSAL_FRAME_HELLO:
		ch->peer = peer;
		ch->hello_seen = true;
		ch->state = CAUSAL_CH_ACTIVE;
		ep->by_peer[peer] = ch;
		causal_trace_peer(ep, ch, true);
		break;
	case CAUSAL_FRAME_DATA:
		kept = m->skb;
		causal_queue_data(ep, ch, m);
		m = NULL;
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
	causal_scan(ep, arrived);
	spin_unlock_bh(&ep->lock);
	return kept;

err_length:
	err = CAUSAL_ERR_LENGTH;
err_proto:
	kfree(m);
	causal_channel_fail(ch, err);
	return false;
}

static void causal_rcv(struct strparser *strp, struct sk_buff *skb)
{
	struct causal_sock *ch = container_of(strp, struct causal_sock, strp);
	struct strp_msg *rxm = strp_msg(skb);
	u8 buf[CAUSAL_WIRE_HDR_LEN];
	enum causal_proto_err err;
	struct causal_frame f;

	/* causal_parse() checked the header: a failure here is a bug. */
	if (WARN_ON_ONCE(skb_copy_bits(skb, rxm->offset, buf, sizeof(buf))))
		err = CAUSAL_ERR_LENGTH;
	else
		err = causal_wire_get_hdr(buf, &f,
					  READ_ONCE(causal_max_msg_size));
	if (err) {
		kfree_skb(skb);
		causal_channel_fail(ch, err);
		return;
	}
	if (!causal_rx_frame(ch, skb, rxm->offset, rxm->full_len, &f, true))
		consume_skb(skb);
}

/* Whole small frames inside one of TCP's skbs are handled straight from it,
 * sparing strparser's clone of the skb per frame; strparser assembles what
 * spans skbs, keeps large messages and reports malformed headers. Returns
 * the bytes consumed.
 */
static size_t causal_rx_direct(struct causal_sock *ch, struct sk_buff *skb,
			       u32 offset, size_t len)
{
	u8 buf[CAUSAL_WIRE_HDR_LEN];
	struct causal_frame f;
	size_t eaten = 0;
	u32 size;

	while (len - eaten >= sizeof(buf) &&
	       !ch->strp.paused && !ch->strp.stopped) {
		if (skb_copy_bits(skb, offset + eaten, buf, sizeof(buf)) ||
		    causal_wire_get_hdr(buf, &f,
					READ_ONCE(causal_max_msg_size)))
			break;
		size = causal_frame_size(f.nodes, f.len);
		if (f.len > CAUSAL_COPY_MAX || size > len - eaten)
			break;
		causal_rx_frame(ch, skb, offset + eaten, size, &f, false);
		eaten += size;
	}
	return eaten;
}

/* Read with tcp_read_sock() ourselves so that neither SO_RCVBUF nor
 * SO_RCVTIMEO limit or time out frame assembly (the strparser defaults).
 */
static int causal_strp_recv(read_descriptor_t *desc, struct sk_buff *skb,
			    unsigned int offset, size_t len)
{
	struct strparser *strp = desc->arg.data;
	struct causal_sock *ch = container_of(strp, struct causal_sock, strp);
	size_t eaten = 0;
	int used;

	if (!strp->skb_head) {
		eaten = causal_rx_direct(ch, skb, offset, len);
		if (eaten == len || strp->paused || strp->stopped)
			return eaten;
	}
	used = strp_process(strp, skb, offset + eaten, len - eaten,
			    causal_frame_size(CAUSAL_MAX_NODES,
					      READ_ONCE(causal_max_msg_size)),
			    LONG_MAX);
	return used > 0 ? eaten + used : eaten ? : used;
}

static int causal_strp_read_sock(struct strparser *strp,
				 read_descriptor_t *desc,
				 sk_read_actor_t recv_actor)
{
	struct causal_sock *ch = container_of(strp, struct causal_sock, strp);

	ch->rx_pass_ns = 0;
	return tcp_read_sock(strp->sk, desc, causal_strp_recv);
}

/* Called with the socket's spinlock held (softirq, or the owner's backlog
 * processing).
 */
void causal_data_ready(struct sock *sk)
{
	struct causal_sock *ch = causal_sk(sk);

	if (sock_owned_by_user_nocheck(sk)) {
		/* The owner calls causal_release_cb() before it lets go of
		 * the socket: parse there, on this CPU, instead of handing
		 * the work to strparser's worker on another one.
		 */
		ch->rx_deferred = true;
		return;
	}
	/* strparser waits until TCP holds the rest of a partial frame before
	 * reading on; a frame larger than the receive buffer would never get
	 * there. Take the bytes as they come instead.
	 */
	ch->strp.need_bytes = 0;
	strp_data_ready(&ch->strp);
}

/* release_sock(): the owner still owns the socket and holds its spinlock. */
void causal_release_cb(struct sock *sk)
{
	struct causal_sock *ch = causal_sk(sk);

	ch->sk_proto->release_cb(sk);
	if (!ch->rx_deferred)
		return;
	ch->rx_deferred = false;
	if (ch->strp.stopped || ch->strp.paused)
		return;
	ch->strp.need_bytes = 0;
	/* Not paused: this only reads what TCP has queued. */
	__strp_unpause(&ch->strp);
}

/* FIN or reset: a channel whose peer went away without BYE is broken, and
 * readers waiting for EOF must look again.
 */
void causal_state_change(struct sock *sk)
{
	struct causal_sock *ch = causal_sk(sk);
	struct causal_endpoint *ep = ch->ep;
	int state = READ_ONCE(sk->sk_state);

	ch->saved_state_change(sk);
	if (state == TCP_CLOSE || state == TCP_CLOSE_WAIT) {
		spin_lock_bh(&ep->lock);
		if (ch->state == CAUSAL_CH_ACTIVE || ch->state == CAUSAL_CH_JOINED)
			ch->state = CAUSAL_CH_BROKEN;
		spin_unlock_bh(&ep->lock);
	}
	causal_wake(ch);
}

int causal_rx_start(struct causal_sock *csk)
{
	static const struct strp_callbacks cb = {
		.parse_msg	= causal_parse,
		.rcv_msg	= causal_rcv,
		.read_sock	= causal_strp_read_sock,
		.abort_parser	= causal_parse_abort,
	};

	return strp_init(&csk->strp, csk->sk, &cb);
}

/* Stop the parser; must not hold the socket lock (strp_done takes it). */
void causal_rx_stop(struct causal_sock *csk)
{
	strp_stop(&csk->strp);
	strp_done(&csk->strp);
}

static void causal_msg_put(struct causal_msg *m)
{
	if (refcount_dec_and_test(&m->ref)) {
		kfree_skb(m->skb);
		kfree(m);
	}
}

/* Drop what the channel still holds: its owner closed it. */
void causal_rx_purge(struct causal_sock *ch)
{
	struct causal_endpoint *ep = ch->ep;
	struct causal_msg *m, *tmp;
	LIST_HEAD(purge);

	spin_lock_bh(&ep->lock);
	list_for_each_entry(m, &ch->holdq, list)
		m->ch = NULL;
	list_splice_init(&ch->holdq, &purge);
	ep->held_now -= ch->holdq_len;
	ch->holdq_len = 0;
	ch->holdback_bytes = 0;
	if (ch->hello_seen) {
		causal_rule_set_head(&ep->rule, ch->peer, 0);
		causal_rule_broken(&ep->rule, ch->peer);
		if (ep->by_peer[ch->peer] == ch)
			ep->by_peer[ch->peer] = NULL;
	}
	list_del_init(&ch->ep_node);
	causal_scan(ep, 0);
	spin_unlock_bh(&ep->lock);

	list_for_each_entry_safe(m, tmp, &purge, list)
		causal_msg_put(m);
}

/* Is there a message @ch may hand out now? Caller holds ep->lock. */
static struct causal_msg *causal_pick(struct causal_endpoint *ep,
				      struct causal_sock *ch)
{
	struct causal_msg *m, *best = NULL;
	struct causal_sock *other;

	if (!(ep->flags & CAUSAL_F_MERGED_RECV)) {
		m = causal_head(ch);
		return m && m->ready_ns && !m->taken ? m : NULL;
	}
	/* Merged: the endpoint's next message in the order they became
	 * deliverable.
	 */
	list_for_each_entry(other, &ep->channels, ep_node) {
		m = causal_head(other);
		if (m && m->ready_ns && !m->taken &&
		    (!best || m->ready_ns < best->ready_ns))
			best = m;
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
	struct sock *sk = ch->sk;
	bool eof;

	if (!(READ_ONCE(sk->sk_shutdown) & RCV_SHUTDOWN) ||
	    !skb_queue_empty_lockless(&sk->sk_receive_queue))
		return false;
	spin_lock_bh(&ch->ep->lock);
	eof = list_empty(&ch->holdq);
	spin_unlock_bh(&ch->ep->lock);
	return eof;
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

	mask = ch->sk_ops->poll(file, sock, wait);
	if (!ch->ep)
		return mask;
	/* TCP says readable when bytes are queued; we only when a message
	 * is deliverable, or at EOF and on errors.
	 */
	mask &= ~(EPOLLIN | EPOLLRDNORM);
	if (causal_readable(ch) || causal_rx_eof(ch) || READ_ONCE(sk->sk_err))
		mask |= EPOLLIN | EPOLLRDNORM;
	return mask;
}

static void causal_put_info(struct msghdr *msg, struct causal_endpoint *ep,
			    const struct causal_msg *m, u64 index)
{
	struct {
		struct causal_msg_info info;
		u64 vclock[CAUSAL_MAX_NODES];
	} cm;
	size_t size = sizeof(cm.info) + ep->nodes * sizeof(u64);

	cm.info.sender = m->sender;
	cm.info.nodes = ep->nodes;
	cm.info.flags = m->gap ? CAUSAL_MSG_GAP : 0;
	cm.info.stamp = m->vclock[m->sender];
	cm.info.index = index;
	cm.info.held_ns = m->ready_ns - m->arrive_ns;
	memcpy(cm.vclock, m->vclock, ep->nodes * sizeof(u64));
	put_cmsg(msg, SOL_CAUSAL, CAUSAL_CMSG_INFO, size, &cm);
}

/* Hand @m out for good; the caller holds ep->lock. Returns its index, and
 * in *resume the channel whose parser may read again, if any.
 */
static u64 causal_deliver(struct causal_endpoint *ep, struct causal_msg *m,
			  struct causal_sock **resume)
{
	struct causal_sock *ch = m->ch;
	struct causal_msg *next;

	list_del(&m->list);
	ch->holdq_len--;
	ch->holdback_bytes -= m->charge;
	ch->rx_delivered++;
	ep->held_now--;
	ep->delivered++;
	if (m->gap) {
		ch->rx_gaps++;
		ep->gaps++;
	}
	causal_rule_deliver(&ep->rule, m->sender, m->vclock, m->gap);
	next = causal_head(ch);
	causal_rule_set_head(&ep->rule, m->sender,
			     next ? next->vclock[m->sender] : 0);
	trace_causal_deliver(ep->group, ep->node, ep->nodes, m->sender,
			     m->vclock[m->sender], ep->delivered,
			     m->ready_ns - m->arrive_ns, m->gap, m->vclock);
	if (ch->rx_paused &&
	    ch->holdback_bytes < causal_holdback_limit(ch) / 2) {
		ch->rx_paused = false;
		*resume = ch;
	}
	causal_scan(ep, 0);
	return ep->delivered;
}

/* Let a paused parser read again: on this CPU, under the socket lock, when
 * it is the reader's own channel; else from strparser's worker.
 */
static void causal_resume(struct causal_sock *ch, struct causal_sock *reader)
{
	if (ch != reader) {
		strp_unpause(&ch->strp);
		return;
	}
	lock_sock(ch->sk);
	if (!ch->strp.stopped) {
		ch->strp.need_bytes = 0;
		__strp_unpause(&ch->strp);
	}
	release_sock(ch->sk);
}

/* A reader put @m back (MSG_PEEK or a failed copy); with merged receive
 * another socket's reader may be waiting for it.
 */
static void causal_untake(struct causal_endpoint *ep, struct causal_msg *m)
{
	struct causal_sock *ch;

	spin_lock_bh(&ep->lock);
	m->taken = false;
	if (ep->flags & CAUSAL_F_MERGED_RECV)
		list_for_each_entry(ch, &ep->channels, ep_node)
			causal_wake(ch);
	spin_unlock_bh(&ep->lock);
}

/* Readers do not take the socket lock: ep->lock, the taken flag and the
 * message's reference order them, and TCP keeps feeding the parser from
 * softirq meanwhile instead of parking packets in the socket's backlog.
 */
int causal_recvmsg(struct sock *sk, struct msghdr *msg, size_t len, int flags,
		   int *addr_len)
{
	DEFINE_WAIT_FUNC(wait, woken_wake_function);
	struct causal_sock *ch = causal_sk(sk);
	struct causal_endpoint *ep = ch->ep;
	bool peek = flags & MSG_PEEK;
	struct causal_sock *resume = NULL;
	struct causal_msg *m = NULL;
	bool waiting = false;
	size_t copied;
	long timeo;
	u64 index;
	int err;

	if (!ep)
		return -ENOTCONN;
	if (flags & MSG_ERRQUEUE)
		return ch->sk_proto->recvmsg(sk, msg, len, flags, addr_len);
	if (flags & MSG_OOB)
		return -EOPNOTSUPP;

	timeo = sock_rcvtimeo(sk, flags & MSG_DONTWAIT);
	for (;;) {
		spin_lock_bh(&ep->lock);
		m = causal_pick(ep, ch);
		if (m) {
			m->taken = true;
			refcount_inc(&m->ref);
		}
		spin_unlock_bh(&ep->lock);
		if (m)
			break;
		err = sock_error(sk);
		if (err)
			goto out_wait;
		if (READ_ONCE(ch->state) == CAUSAL_CH_FAILED) {
			err = causal_proto_errno(READ_ONCE(ch->proto_err));
			goto out_wait;
		}
		if (causal_rx_eof(ch)) {
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
	if (waiting)
		remove_wait_queue(sk_sleep(sk), &wait);

	/* Taken, @m stays queued but no other reader touches it: copy it
	 * out without ep->lock.
	 */
	copied = min_t(size_t, len, m->len);
	err = m->data ? memcpy_to_msg(msg, m->data, copied) :
			skb_copy_datagram_msg(m->skb, m->offset, msg, copied);
	if (err) {
		causal_untake(ep, m);
		causal_msg_put(m);
		return err;
	}
	if (copied < m->len)
		msg->msg_flags |= MSG_TRUNC;

	spin_lock_bh(&ep->lock);
	if (peek) {
		index = ep->delivered + 1;
	} else if (m->ch) {
		index = causal_deliver(ep, m, &resume);
		/* The queue's reference. */
		refcount_dec(&m->ref);
	} else {
		/* Its channel was closed while we copied it out. */
		index = 0;
	}
	spin_unlock_bh(&ep->lock);
	if (resume)
		causal_resume(resume, ch);
	if (ch->recv_info)
		causal_put_info(msg, ep, m, index);
	err = flags & MSG_TRUNC ? m->len : copied;
	if (peek)
		causal_untake(ep, m);
	causal_msg_put(m);
	return err;

out_wait:
	if (waiting)
		remove_wait_queue(sk_sleep(sk), &wait);
	return err;
}
