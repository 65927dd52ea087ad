/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The delivery rule of the causal ULP (docs/design.md), as plain C shared by
 * the kernel and user space. No locking and no allocation here: the caller
 * owns a struct causal_rule per endpoint and serializes calls on it.
 *
 * Node i holds a message m from j, stamped V, until
 *  1. m is the oldest undelivered DATA from j (TCP keeps j's frames in order);
 *  2. for every other peer k in the peer set, every DATA from k to i stamped
 *     V_k[k] <= V[k] has been delivered. Node i knows that once it received
 *     from k a frame stamped >= V[k] and delivered every DATA from k stamped
 *     <= V[k]: with "known(k)" the largest s for which that holds, the
 *     condition is V[k] <= known(k).
 */
#ifndef _CAUSAL_RULE_H
#define _CAUSAL_RULE_H

#include "causal_wire.h"

enum causal_peer_state {
	CAUSAL_PEER_UNKNOWN = 0,	/* never sent a HELLO */
	CAUSAL_PEER_ACTIVE,		/* HELLO received on a live channel */
	CAUSAL_PEER_BROKEN,		/* channel gone without BYE: waits for
					 * the same incarnation to reconnect
					 */
	CAUSAL_PEER_LEFT,		/* sent BYE: nothing more will come */
};

struct causal_rule_peer {
	u8	state;		/* enum causal_peer_state */
	u64	incarnation;	/* from its HELLO */
	u64	wm;		/* highest own-entry stamp seen in any frame */
	u64	head;		/* stamp of its oldest undelivered DATA, 0: none */
	u64	gap_floor;	/* stamps <= this count as delivered: a hold
				 * timeout delivered past them
				 */
	u64	lost_from;	/* lowest stamp of its messages that arrived
				 * and were dropped unread (their channel was
				 * closed), 0: none
				 */
	u64	last[CAUSAL_WIRE_MAX_NODES];	/* clock of its last frame */
};

struct causal_rule {
	u32	group;
	u16	self;
	u16	nodes;
	u64	peers;		/* CAUSAL_PEERS mask */
	u64	clock[CAUSAL_WIRE_MAX_NODES];	/* the endpoint's own clock */
	/* Each change of the clock is a new generation; changed[k] is the
	 * one that last changed entry k. A sender that remembers the
	 * generation of its previous frame on a channel sends only the
	 * entries changed since (causal_rule_changed()).
	 */
	u64	gen;
	u64	changed[CAUSAL_WIRE_MAX_NODES];
	/* Whether any peer has a gap floor, or lost messages: most endpoints
	 * never do, and then a ready message needs no look for either.
	 */
	bool	any_floor;
	bool	any_lost;
	struct causal_rule_peer peer[CAUSAL_WIRE_MAX_NODES];
};

void causal_rule_init(struct causal_rule *r, u32 group, u16 self, u16 nodes,
		      u64 peers);

/* Check a frame that arrived on the channel to @peer (header already checked
 * by causal_wire_get_hdr(); for a channel's first frame @peer is the frame's
 * sender) against what is known of that peer, and record it. @v is the frame's clock,
 * @hello its HELLO payload (HELLO only), @first whether it is the first frame
 * on its channel. Returns CAUSAL_ERR_NONE or why the channel must fail; on
 * error nothing is recorded. For DATA the caller queues the message and, if
 * the peer's queue was empty, sets the head with causal_rule_set_head().
 */
enum causal_proto_err causal_rule_accept(struct causal_rule *r, u16 peer,
					 const struct causal_frame *f,
					 const u64 *v,
					 const struct causal_hello *hello,
					 bool first);

/* The channel to @peer went away without BYE. */
void causal_rule_broken(struct causal_rule *r, u16 peer);

static inline void causal_rule_set_head(struct causal_rule *r, u16 peer,
					u64 stamp)
{
	r->peer[peer].head = stamp;
}

/* Largest s such that every DATA from @k stamped <= s has been delivered. */
u64 causal_rule_known(const struct causal_rule *r, u16 k);

/* May the oldest undelivered message of @sender, stamped @v, be delivered?
 * If not, *wait_node and *wait_stamp (when non-NULL) name the first peer and
 * stamp it waits for.
 */
bool causal_rule_ready(const struct causal_rule *r, u16 sender, const u64 *v,
		       u16 *wait_node, u64 *wait_stamp);

/* Does the ready message of @sender stamped @v pass a peer only by its gap
 * floor, before causes that may still come? It is then delivered flagged
 * as a gap, as the message whose hold timeout set the floor was.
 */
bool causal_rule_past_floor(const struct causal_rule *r, u16 sender,
			    const u64 *v);

/* Deliver the message of @sender stamped @v: merge @v into the endpoint's
 * clock, each peer's entry up to what that peer's own frames announced (its
 * wm). The caller then sets the sender's new head. With @gap (delivered by
 * the hold timeout) the stamps it waited for count as delivered.
 */
void causal_rule_deliver(struct causal_rule *r, u16 sender, const u64 *v,
			 bool gap);

/* Messages of @k stamped @from and later arrived but were dropped unread:
 * whatever depends on them is delivered as a gap.
 */
void causal_rule_lost(struct causal_rule *r, u16 k, u64 from);

/* Does a message stamped @v follow a message that was lost? */
bool causal_rule_after_loss(const struct causal_rule *r, const u64 *v);

/* A send event: advance the endpoint's own entry and return the new stamp. */
static inline u64 causal_rule_send(struct causal_rule *r)
{
	r->changed[r->self] = ++r->gen;
	return ++r->clock[r->self];
}

/* The entries of the clock changed after generation @since. */
static inline u64 causal_rule_changed(const struct causal_rule *r, u64 since)
{
	u64 mask = 0;
	u16 k;

	for (k = 0; k < r->nodes; k++)
		if (r->changed[k] > since)
			mask |= 1ULL << k;
	return mask;
}

#endif /* _CAUSAL_RULE_H */
