// SPDX-License-Identifier: GPL-2.0
/* The delivery rule, shared by the kernel and user space. */

#include "causal_rule.h"

void causal_rule_init(struct causal_rule *r, u32 group, u16 self, u16 nodes,
		      u64 peers)
{
	memset(r, 0, sizeof(*r));
	r->group = group;
	r->self = self;
	r->nodes = nodes;
	r->peers = peers;
}

static enum causal_proto_err causal_rule_check_hello(struct causal_rule *r,
						     u16 peer,
						     const struct causal_hello *h)
{
	const struct causal_rule_peer *p = &r->peer[peer];

	if (h->group != r->group)
		return CAUSAL_ERR_GROUP;
	if (!(r->peers & (1ULL << peer)))
		return CAUSAL_ERR_PEER;
	switch (p->state) {
	case CAUSAL_PEER_ACTIVE:
		return CAUSAL_ERR_DUPLICATE;
	case CAUSAL_PEER_LEFT:
		/* Its stamps would restart below what others depend on. */
		return CAUSAL_ERR_INCARNATION;
	case CAUSAL_PEER_BROKEN:
		if (h->incarnation != p->incarnation)
			return CAUSAL_ERR_INCARNATION;
		break;
	}
	return CAUSAL_ERR_NONE;
}

static enum causal_proto_err causal_rule_check_clock(const struct causal_rule *r,
						     u16 peer, u8 type,
						     const u64 *v)
{
	const struct causal_rule_peer *p = &r->peer[peer];
	u16 i;

	if (v[r->self] > r->clock[r->self])
		return CAUSAL_ERR_FUTURE;
	if (p->state != CAUSAL_PEER_UNKNOWN) {
		for (i = 0; i < r->nodes; i++)
			if (v[i] < p->last[i])
				return CAUSAL_ERR_CLOCK;
	}
	/* Every DATA frame is a send event of its own. */
	if (type == CAUSAL_FRAME_DATA && v[peer] <= p->wm)
		return CAUSAL_ERR_CLOCK;
	return CAUSAL_ERR_NONE;
}

enum causal_proto_err causal_rule_accept(struct causal_rule *r, u16 peer,
					 const struct causal_frame *f,
					 const u64 *v,
					 const struct causal_hello *hello,
					 bool first)
{
	struct causal_rule_peer *p = &r->peer[peer];
	bool is_hello = f->type == CAUSAL_FRAME_HELLO;
	enum causal_proto_err err;

	if (f->nodes != r->nodes)
		return CAUSAL_ERR_NODES;
	if (f->sender != peer || peer == r->self || peer >= r->nodes)
		return CAUSAL_ERR_SENDER;
	if (first != is_hello)
		return CAUSAL_ERR_SEQUENCE;
	if (is_hello) {
		err = causal_rule_check_hello(r, peer, hello);
		if (err)
			return err;
	} else if (p->state != CAUSAL_PEER_ACTIVE) {
		return CAUSAL_ERR_SEQUENCE;
	}
	err = causal_rule_check_clock(r, peer, f->type, v);
	if (err)
		return err;

	memcpy(p->last, v, r->nodes * sizeof(*v));
	p->wm = v[peer];
	if (is_hello) {
		p->state = CAUSAL_PEER_ACTIVE;
		p->incarnation = hello->incarnation;
	} else if (f->type == CAUSAL_FRAME_BYE) {
		p->state = CAUSAL_PEER_LEFT;
	}
	return CAUSAL_ERR_NONE;
}

void causal_rule_broken(struct causal_rule *r, u16 peer)
{
	if (r->peer[peer].state == CAUSAL_PEER_ACTIVE)
		r->peer[peer].state = CAUSAL_PEER_BROKEN;
}

u64 causal_rule_known(const struct causal_rule *r, u16 k)
{
	const struct causal_rule_peer *p = &r->peer[k];

	/* A queued message is a cause that did arrive: it goes first even
	 * past a gap, which only stands for what never came.
	 */
	if (p->head)
		return p->head - 1;
	return p->wm > p->gap_floor ? p->wm : p->gap_floor;
}

bool causal_rule_ready(const struct causal_rule *r, u16 sender, const u64 *v,
		       u16 *wait_node, u64 *wait_stamp)
{
	u16 k;

	for (k = 0; k < r->nodes; k++) {
		if (k == sender || k == r->self || !(r->peers & (1ULL << k)))
			continue;
		if (v[k] > causal_rule_known(r, k)) {
			if (wait_node)
				*wait_node = k;
			if (wait_stamp)
				*wait_stamp = v[k];
			return false;
		}
	}
	return true;
}

bool causal_rule_past_floor(const struct causal_rule *r, u16 sender,
			    const u64 *v)
{
	const struct causal_rule_peer *p;
	u16 k;

	/* Ready without floors, it waited for every cause. */
	if (!r->any_floor)
		return false;
	for (k = 0; k < r->nodes; k++) {
		if (k == sender || k == r->self || !(r->peers & (1ULL << k)))
			continue;
		p = &r->peer[k];
		if (v[k] > (p->head ? p->head - 1 : p->wm))
			return true;
	}
	return false;
}

void causal_rule_deliver(struct causal_rule *r, u16 sender, const u64 *v,
			 bool gap)
{
	u64 sent, gen = r->gen + 1;
	u16 k;

	for (k = 0; k < r->nodes; k++) {
		/* A member is believed about its own sends only: the clock,
		 * which every later frame carries, takes of a peer what its
		 * own frames announced. V[k] beyond that passes only by a gap
		 * or the gap floor, and may be forged. A node outside the
		 * peer set never speaks to us: its entry is taken as it
		 * comes, or our messages would not carry its causes to the
		 * nodes that do wait on it.
		 */
		sent = v[k];
		if (k != r->self && (k == sender || (r->peers & (1ULL << k))) &&
		    sent > r->peer[k].wm)
			sent = r->peer[k].wm;
		if (sent > r->clock[k]) {
			r->clock[k] = sent;
			r->changed[k] = gen;
		}
		if (gap && k != sender && k != r->self &&
		    v[k] > r->peer[k].gap_floor) {
			r->peer[k].gap_floor = v[k];
			r->any_floor = true;
		}
	}
	r->gen = gen;
}

void causal_rule_lost(struct causal_rule *r, u16 k, u64 from)
{
	struct causal_rule_peer *p = &r->peer[k];

	if (from && (!p->lost_from || from < p->lost_from)) {
		p->lost_from = from;
		r->any_lost = true;
	}
}

bool causal_rule_after_loss(const struct causal_rule *r, const u64 *v)
{
	u16 k;

	if (!r->any_lost)
		return false;
	for (k = 0; k < r->nodes; k++)
		if (r->peer[k].lost_from && v[k] >= r->peer[k].lost_from)
			return true;
	return false;
}
