// SPDX-License-Identifier: GPL-2.0
/*
 * Frame assembly from TCP's receive queue, after net/tls/tls_strp.c: a
 * frame's bytes stay in TCP's queue, where TCP charges them to the socket,
 * prunes and flow-controls them, until the whole frame is there. Only a
 * frame that TCP cannot hold whole (larger than the receive buffer allows)
 * is copied out, page by page as its bytes arrive (copy mode), so what the
 * module holds is never more than what the peer sent.
 *
 * Frames read in place go back to TCP once per pass (causal_strp_flush()),
 * not one by one: as tcp_recvmsg() does, TCP then updates its window and
 * decides to ACK once for all the bytes a pass read, and the sender is not
 * answered with an ACK per message.
 *
 * Everything here runs serialized with TCP's receive: in softirq under the
 * socket's spinlock while nobody owns the socket, or by its owner.
 */

#include <linux/highmem.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/uio.h>
#include <net/tcp.h>

#include "causal.h"
#include "causal_compat.h"

/* Bytes TCP holds past the read position, urgent bytes included: a causal
 * stream has no out-of-band data, so they are frame bytes like any other.
 */
u32 causal_tcp_inq(const struct sock *sk)
{
	const struct tcp_sock *tp = tcp_sk(sk);
	u32 inq = READ_ONCE(tp->rcv_nxt) - READ_ONCE(tp->copied_seq);

	/* A FIN takes a sequence number but carries no byte. */
	if (inq && sock_flag(sk, SOCK_DONE))
		inq--;
	return inq;
}

typedef int (*causal_tcp_actor)(struct sk_buff *skb, u32 off, u32 len,
				void *arg);

/* Bytes TCP holds past what @s consumed. */
static u32 causal_strp_inq(const struct sock *sk, const struct causal_strp *s)
{
	return causal_tcp_inq(sk) - s->consumed;
}

/* Call @actor on the bytes [@off, @off + @len) past what @s consumed from
 * TCP's read position, one piece per skb. Positions are sequence numbers,
 * so the walk does not depend on how TCP cut or collapsed its queue. The
 * walk starts at the skb that held the front last time: frames consumed in
 * a pass stay in TCP's queue until it ends, and scanning them from its head
 * for every frame would cost the square of the frames a pass reads.
 * -ENODATA: the bytes are not there, which for a whole frame means someone
 * read the stream past the module (a TCP_ZEROCOPY_RECEIVE that was under
 * way when the ULP came).
 */
static int causal_tcp_walk(struct sock *sk, struct causal_strp *s, u32 off,
			   u32 len, causal_tcp_actor actor, void *arg)
{
	struct sk_buff_head *queue = &sk->sk_receive_queue;
	u32 front = tcp_sk(sk)->copied_seq + s->consumed;
	struct sk_buff *skb = s->front_skb ? : skb_peek(queue);
	u32 seq = front + off;
	int err;

	if (!len)
		return 0;
	for (; skb && skb != (struct sk_buff *)queue; skb = skb->next) {
		const struct tcp_skb_cb *cb = TCP_SKB_CB(skb);
		u32 start = cb->seq + !!(cb->tcp_flags & TCPHDR_SYN);
		u32 skb_off, n;

		if (before(seq, start))
			return -ENODATA;
		if (!before(front, start) && before(front, start + skb->len))
			s->front_skb = skb;
		skb_off = seq - start;
		if (skb_off >= skb->len)
			continue;
		n = min(len, skb->len - skb_off);
		err = actor(skb, skb_off, n, arg);
		if (err)
			return err;
		seq += n;
		len -= n;
		if (!len)
			return 0;
	}
	return -ENODATA;
}

static int causal_copy_bits_actor(struct sk_buff *skb, u32 off, u32 len,
				  void *arg)
{
	u8 **to = arg;
	int err = skb_copy_bits(skb, off, *to, len);

	*to += len;
	return err;
}

static int causal_copy_msg_actor(struct sk_buff *skb, u32 off, u32 len,
				 void *arg)
{
	return skb_copy_datagram_msg(skb, off, arg, len);
}

/* Allocations for what a peer sent are charged to the memory cgroup of the
 * socket, not to whichever task the softirq interrupted.
 */
static struct page *causal_alloc_page(struct sock *sk, gfp_t gfp)
{
	struct mem_cgroup *old = set_active_memcg(causal_sk_memcg(sk));
	struct page *page;

	page = alloc_page(gfp | __GFP_ACCOUNT | __GFP_NOWARN);
	set_active_memcg(old);
	return page;
}

void *causal_rx_alloc(struct sock *sk, size_t size, gfp_t gfp)
{
	struct mem_cgroup *old = set_active_memcg(causal_sk_memcg(sk));
	void *p;

	p = kmalloc(size, gfp | __GFP_ACCOUNT | __GFP_NOWARN);
	set_active_memcg(old);
	return p;
}

/* ---- page vectors: a frame's bytes outside TCP ---- */

static int causal_pvec_init(struct sock *sk, struct causal_pvec *pv, u32 size,
			    gfp_t gfp)
{
	u32 slots = DIV_ROUND_UP(size, PAGE_SIZE);

	pv->pages = causal_rx_alloc(sk, slots * sizeof(*pv->pages), gfp);
	if (!pv->pages)
		return -ENOMEM;
	pv->slots = slots;
	pv->nr = 0;
	pv->len = 0;
	return 0;
}

void causal_pvec_free(struct causal_pvec *pv)
{
	u32 i;

	for (i = 0; i < pv->nr; i++)
		__free_page(pv->pages[i]);
	kfree(pv->pages);
	pv->pages = NULL;
	pv->nr = 0;
	pv->len = 0;
}

/* Memory a page vector holds. */
u32 causal_pvec_charge(const struct causal_pvec *pv)
{
	return pv->nr * PAGE_SIZE + pv->slots * sizeof(*pv->pages);
}

struct causal_pvec_fill {
	struct sock *sk;
	struct causal_pvec *pv;
	gfp_t gfp;
};

/* Append @len bytes of @skb at @off, allocating pages only as bytes come:
 * a peer that announces a large frame and dribbles it pins no more than
 * it sent.
 */
static int causal_pvec_fill_actor(struct sk_buff *skb, u32 off, u32 len,
				  void *arg)
{
	struct causal_pvec_fill *fill = arg;
	struct causal_pvec *pv = fill->pv;

	while (len) {
		u32 in_page = pv->len % PAGE_SIZE;
		u32 n = min_t(u32, len, PAGE_SIZE - in_page);
		int err;

		if (!in_page) {
			if (WARN_ON_ONCE(pv->nr == pv->slots))
				return -EFAULT;
			pv->pages[pv->nr] = causal_alloc_page(fill->sk, fill->gfp);
			if (!pv->pages[pv->nr])
				return -ENOMEM;
			pv->nr++;
		}
		err = skb_copy_bits(skb, off,
				    page_address(pv->pages[pv->nr - 1]) + in_page,
				    n);
		if (err)
			return err;
		pv->len += n;
		off += n;
		len -= n;
	}
	return 0;
}

int causal_pvec_to_msg(const struct causal_pvec *pv, u32 off,
		       struct msghdr *msg, u32 len)
{
	while (len) {
		u32 in_page = off % PAGE_SIZE;
		u32 n = min_t(u32, len, PAGE_SIZE - in_page);

		if (copy_page_to_iter(pv->pages[off / PAGE_SIZE], in_page, n,
				      &msg->msg_iter) != n)
			return -EFAULT;
		off += n;
		len -= n;
	}
	return 0;
}

static void causal_pvec_read(const struct causal_pvec *pv, u32 off, void *to,
			     u32 len)
{
	while (len) {
		u32 in_page = off % PAGE_SIZE;
		u32 n = min_t(u32, len, PAGE_SIZE - in_page);

		memcpy(to, page_address(pv->pages[off / PAGE_SIZE]) + in_page, n);
		to += n;
		off += n;
		len -= n;
	}
}

/* ---- the frame at the front of the stream ---- */

/* Pull what TCP has of the front frame into its pages and consume it from
 * TCP. Returns 1 once the frame is whole.
 */
static int causal_strp_copyin(struct sock *sk, struct causal_strp *s, gfp_t gfp)
{
	struct causal_pvec_fill fill = { .sk = sk, .pv = &s->copy, .gfp = gfp };
	u32 want = min(s->frame_len - s->copy.len, causal_strp_inq(sk, s));
	u32 before = s->copy.len;
	int err;

	err = causal_tcp_walk(sk, s, 0, want, causal_pvec_fill_actor, &fill);
	/* Whatever made it into the pages is ours now, even on failure. */
	if (s->copy.len > before) {
		tcp_read_done(sk, s->copy.len - before);
		s->front_skb = NULL;
	}
	if (err)
		return err == -ENOMEM ? err : -EFAULT;
	return s->copy.len == s->frame_len;
}

/* Copy the header at @off of the stream, of which @inq bytes are in, to
 * @hdr. Returns 1 once it is in, 0 while bytes are missing, -EPROTO when
 * TCP's queue does not hold what it counts.
 */
static int causal_strp_hdr(struct sock *sk, struct causal_strp *s, u32 off,
			   u32 inq, u8 *hdr)
{
	u32 len = CAUSAL_WIRE_HDR_LEN;
	u8 *to = hdr;

	if (inq < off + len)
		return 0;
	if (causal_tcp_walk(sk, s, off, len, causal_copy_bits_actor, &to))
		return -EPROTO;
	len = causal_wire_hdr_len(hdr) - len;
	if (!len)
		return 1;
	if (inq < off + CAUSAL_WIRE_HDR_LEN + len)
		return 0;
	if (causal_tcp_walk(sk, s, off + CAUSAL_WIRE_HDR_LEN, len,
			    causal_copy_bits_actor, &to))
		return -EPROTO;
	return 1;
}

/* Make the front frame whole. Returns 1 when it is (its header in @s->hdr,
 * its bytes readable with causal_strp_read()), 0 while bytes are missing,
 * -ENOMEM when copy mode could not get memory (nothing is lost: retry), or
 * -EPROTO with *@err set for a header the peer must not send.
 */
int causal_strp_next(struct sock *sk, struct causal_strp *s, u32 max_len,
		     enum causal_proto_err *err, gfp_t gfp)
{
	u8 hdr[CAUSAL_WIRE_HDR_MAX];
	u32 inq;
	int ret;

	if (s->copy_mode)
		return causal_strp_copyin(sk, s, gfp);

	inq = causal_strp_inq(sk, s);
	if (!s->frame_len) {
		ret = causal_strp_hdr(sk, s, 0, inq, hdr);
		if (!ret)
			return 0;
		if (ret < 0) {
			*err = CAUSAL_ERR_LENGTH;
			return ret;
		}
		*err = causal_wire_get_hdr(hdr, &s->hdr, max_len);
		if (*err)
			return -EPROTO;
		s->frame_len = causal_frame_len(&s->hdr);
	}
	if (inq >= s->frame_len)
		return 1;
	/* While TCP can take more, the rest of the frame waits in TCP,
	 * charged to the socket and inside its window. Once TCP is full
	 * (the frame is larger than the receive buffer) the frame has to
	 * come out, or it would never complete.
	 */
	if (!tcp_epollin_ready(sk, INT_MAX))
		return 0;
	/* Copy mode consumes from TCP as it goes. */
	causal_strp_flush(sk, s);
	ret = causal_pvec_init(sk, &s->copy, s->frame_len, gfp);
	if (ret)
		return ret;
	s->copy_mode = true;
	WRITE_ONCE(s->copied_frames, s->copied_frames + 1);
	return causal_strp_copyin(sk, s, gfp);
}

/* Check the header of the frame behind the whole front frame, if it is in:
 * a peer that breaks the protocol behind a message waiting to be read is
 * told at once. Returns -EPROTO with *@err set for a bad one, else 0.
 */
int causal_strp_check_next(struct sock *sk, struct causal_strp *s,
			   u32 max_len, enum causal_proto_err *err)
{
	u32 off = s->copy_mode ? 0 : s->frame_len;
	u8 hdr[CAUSAL_WIRE_HDR_MAX];
	struct causal_frame f;

	if (causal_strp_hdr(sk, s, off, causal_strp_inq(sk, s), hdr) <= 0)
		return 0;
	*err = causal_wire_get_hdr(hdr, &f, max_len);
	return *err ? -EPROTO : 0;
}

/* Copy @len bytes at @off of the whole front frame. */
int causal_strp_read(struct sock *sk, struct causal_strp *s, u32 off,
		     void *to, u32 len)
{
	if (s->copy_mode) {
		causal_pvec_read(&s->copy, off, to, len);
		return 0;
	}
	return causal_tcp_walk(sk, s, off, len, causal_copy_bits_actor, &to);
}

/* Copy @len bytes at @off of the whole front frame to the reader. */
int causal_strp_to_msg(struct sock *sk, struct causal_strp *s, u32 off,
		       struct msghdr *msg, u32 len)
{
	if (s->copy_mode)
		return causal_pvec_to_msg(&s->copy, off, msg, len);
	return causal_tcp_walk(sk, s, off, len, causal_copy_msg_actor, msg);
}

/* Copy @len bytes at @off of the whole front frame into a new page vector,
 * or hand over the frame's own pages in copy mode (then @pv holds the
 * whole frame: the payload is at the same @off).
 */
int causal_strp_to_pvec(struct sock *sk, struct causal_strp *s, u32 off,
			u32 len, struct causal_pvec *pv, gfp_t gfp)
{
	struct causal_pvec_fill fill = { .sk = sk, .pv = pv, .gfp = gfp };
	int err;

	if (s->copy_mode) {
		*pv = s->copy;
		memset(&s->copy, 0, sizeof(s->copy));
		return 0;
	}
	err = causal_pvec_init(sk, pv, len, gfp);
	if (err)
		return err;
	err = causal_tcp_walk(sk, s, off, len, causal_pvec_fill_actor, &fill);
	if (err) {
		causal_pvec_free(pv);
		return err;
	}
	return 0;
}

/* Done with the front frame: consume it and look for the next header. */
void causal_strp_done(struct causal_strp *s)
{
	if (s->copy_mode) {
		causal_pvec_free(&s->copy);
		s->copy_mode = false;
	} else {
		s->consumed += s->frame_len;
	}
	s->frame_len = 0;
}

/* Give the frames read in place back to TCP. Every pass over the stream
 * ends here, before the socket is let go.
 */
void causal_strp_flush(struct sock *sk, struct causal_strp *s)
{
	struct tcp_sock *tp = tcp_sk(sk);

	s->front_skb = NULL;
	if (!s->consumed)
		return;
	tcp_read_done(sk, s->consumed);
	s->consumed = 0;
	/* As tcp_recvmsg() does once it read past the urgent byte, so that
	 * TCP's fast path comes back.
	 */
	if (unlikely(tp->urg_data) && after(tp->copied_seq, tp->urg_seq)) {
		WRITE_ONCE(tp->urg_data, 0);
		tcp_fast_path_check(sk);
	}
}

/* Memory the front frame holds outside TCP. */
u32 causal_strp_charge(const struct causal_strp *s)
{
	return s->copy_mode ? causal_pvec_charge(&s->copy) : 0;
}

void causal_strp_release(struct causal_strp *s)
{
	causal_pvec_free(&s->copy);
	s->copy_mode = false;
	s->frame_len = 0;
	s->consumed = 0;
	s->front_skb = NULL;
}
