// SPDX-License-Identifier: GPL-2.0
/*
 * Host unit tests of the causal delivery rule (kmod/lib/causal_rule.c).
 *
 * 1. Hand-written scenes: the classic three-node reordering, CLOCK frames,
 *    peer masks, BYE, broken channels, gap deliveries and every reason
 *    causal_rule_accept() refuses a frame for.
 * 2. A randomized simulation of N nodes exchanging real encoded frames over
 *    per-pair FIFO channels that are drained in random order, checked against
 *    a happens-before oracle built from the nodes' event logs only (it never
 *    looks at vector clocks or at the rule).
 * 3. Negative controls showing that the oracle does catch a receiver that
 *    ignores the rule, and that the liveness check catches a sender that
 *    never sends CLOCK frames.
 *
 * CAUSAL_SIM_SEEDS=N runs N histories per simulation test instead of the
 * default; CAUSAL_SIM_SEED=S runs only history S (as printed on failure).
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "causal_rule.h"
#include "kselftest_harness.h"

#define GROUP	0x0c0ffee1U
#define INC(n)	(0x1000ULL + (n))

#define HELLO	CAUSAL_FRAME_HELLO
#define DATA	CAUSAL_FRAME_DATA
#define CLOCK	CAUSAL_FRAME_CLOCK
#define BYE	CAUSAL_FRAME_BYE

#define V(...)	((const u64[CAUSAL_WIRE_MAX_NODES]){ __VA_ARGS__ })

static u64 all_but(u16 nodes, u16 self)
{
	u64 m = nodes >= 64 ? ~0ULL : (1ULL << nodes) - 1;

	return m & ~(1ULL << self);
}

static void setup(struct causal_rule *r, u16 self, u16 nodes)
{
	causal_rule_init(r, GROUP, self, nodes, all_but(nodes, self));
}

/*
 * causal_rule_accept() with a check that a refused frame records nothing:
 * the whole struct is compared byte for byte.
 */
static enum causal_proto_err
accept_raw(struct __test_metadata *_metadata, struct causal_rule *r, u16 peer,
	   const struct causal_frame *f, const u64 *v,
	   const struct causal_hello *h, bool first)
{
	static struct causal_rule before;
	enum causal_proto_err err;

	memcpy(&before, r, sizeof(before));
	err = causal_rule_accept(r, peer, f, v, h, first);
	if (err != CAUSAL_ERR_NONE && memcmp(&before, r, sizeof(before))) {
		TH_LOG("frame refused (%s) but the rule changed",
		       causal_proto_err_name(err));
		EXPECT_EQ(0, memcmp(&before, r, sizeof(before)));
	}
	return err;
}

/* A frame of @type from @peer with clock @v, on the right group. */
static enum causal_proto_err
rx_full(struct __test_metadata *_metadata, struct causal_rule *r, u16 peer,
	u8 type, const u64 *v, bool first, u32 group, u64 inc)
{
	struct causal_frame f = {
		.type = type, .nodes = r->nodes, .sender = peer,
		.len = type == HELLO ? CAUSAL_WIRE_HELLO_LEN : type == DATA ? 3 : 0,
	};
	struct causal_hello h = { .group = group, .flags = 0, .incarnation = inc };

	return accept_raw(_metadata, r, peer, &f, v, type == HELLO ? &h : NULL,
			  first);
}

static enum causal_proto_err
rx(struct __test_metadata *_metadata, struct causal_rule *r, u16 peer,
   u8 type, const u64 *v, bool first)
{
	return rx_full(_metadata, r, peer, type, v, first, GROUP, INC(peer));
}

#define RX(r, peer, type, v, first)	rx(_metadata, r, peer, type, v, first)
#define RX_OK(r, peer, type, v)	\
	ASSERT_EQ(CAUSAL_ERR_NONE, RX(r, peer, type, v, (type) == HELLO))
#define RX_ERR(err, r, peer, type, v, first) \
	EXPECT_EQ(err, RX(r, peer, type, v, first))

/* Receive a DATA frame and queue it, as the module does: head only when the
 * peer's queue was empty. The tests below queue at most one per peer.
 */
static void rx_data(struct __test_metadata *_metadata, struct causal_rule *r,
		    u16 peer, const u64 *v)
{
	ASSERT_EQ(CAUSAL_ERR_NONE, rx(_metadata, r, peer, DATA, v, false));
	if (!r->peer[peer].head)
		causal_rule_set_head(r, peer, v[peer]);
}

/* Deliver the head of @peer stamped @v, with no other message queued. */
static void deliver(struct causal_rule *r, u16 peer, const u64 *v, bool gap)
{
	causal_rule_deliver(r, peer, v, gap);
	causal_rule_set_head(r, peer, 0);
}

static void snap(u64 *dst, const struct causal_rule *r)
{
	memcpy(dst, r->clock, sizeof(r->clock));
}

/* ---------------------------------------------------------------------- */
/* Hand-written scenes                                                     */
/* ---------------------------------------------------------------------- */

TEST(init)
{
	static struct causal_rule r;

	memset(&r, 0xa5, sizeof(r));
	causal_rule_init(&r, 77, 3, 5, 0x15);
	EXPECT_EQ(77, r.group);
	EXPECT_EQ(3, r.self);
	EXPECT_EQ(5, r.nodes);
	EXPECT_EQ(0x15, r.peers);
	for (int i = 0; i < CAUSAL_WIRE_MAX_NODES; i++) {
		EXPECT_EQ(0, r.clock[i]);
		EXPECT_EQ(CAUSAL_PEER_UNKNOWN, r.peer[i].state);
		EXPECT_EQ(0, r.peer[i].wm);
		EXPECT_EQ(0, r.peer[i].head);
		EXPECT_EQ(0, r.peer[i].gap_floor);
		EXPECT_EQ(0, causal_rule_known(&r, i));
	}
	EXPECT_EQ(1, causal_rule_send(&r));
	EXPECT_EQ(2, causal_rule_send(&r));
	EXPECT_EQ(2, r.clock[3]);
	EXPECT_EQ(0, r.clock[0]);
}

/* What changed since a generation: own sends, and what deliveries merged
 * in; an entry a delivery brings again unchanged is not new.
 */
TEST(changed_since)
{
	static struct causal_rule c;
	u64 zero[4] = { 0 }, from3[4] = { 0, 0, 0, 1 }, from2[4] = { 0, 0, 1, 1 };
	u64 g0, g1, g2;

	setup(&c, 0, 4);
	EXPECT_EQ(0, causal_rule_changed(&c, 0));
	g0 = c.gen;
	causal_rule_send(&c);
	EXPECT_EQ(1ULL << 0, causal_rule_changed(&c, g0));
	g1 = c.gen;
	EXPECT_EQ(0, causal_rule_changed(&c, g1));
	RX_OK(&c, 2, HELLO, zero);
	RX_OK(&c, 3, HELLO, zero);
	rx_data(_metadata, &c, 3, from3);
	deliver(&c, 3, from3, false);
	EXPECT_EQ(1ULL << 3, causal_rule_changed(&c, g1));
	g2 = c.gen;
	/* Node 2 had seen node 3's message too: only its own entry is new. */
	rx_data(_metadata, &c, 2, from2);
	deliver(&c, 2, from2, false);
	EXPECT_EQ(1ULL << 2, causal_rule_changed(&c, g2));
	EXPECT_EQ((1ULL << 2) | (1ULL << 3), causal_rule_changed(&c, g1));
	EXPECT_EQ((1ULL << 0) | (1ULL << 2) | (1ULL << 3),
		  causal_rule_changed(&c, g0));
	causal_rule_send(&c);
	EXPECT_EQ((1ULL << 0) | (1ULL << 2), causal_rule_changed(&c, g2));
}

/*
 * A sends m1 to B and C; B delivers m1 and sends m2 to C; C receives m2
 * first. m2 waits on (A, 1) until m1 is delivered.
 */
TEST(classic_three_nodes)
{
	static struct causal_rule a, b, c;
	u64 m1[64], m2[64];
	u16 wn = 99;
	u64 ws = 99;

	setup(&a, 0, 3);
	setup(&b, 1, 3);
	setup(&c, 2, 3);
	RX_OK(&b, 0, HELLO, V(0, 0, 0));
	RX_OK(&c, 0, HELLO, V(0, 0, 0));
	RX_OK(&c, 1, HELLO, V(0, 0, 0));

	ASSERT_EQ(1, causal_rule_send(&a));
	snap(m1, &a);
	ASSERT_EQ(0, memcmp(m1, V(1, 0, 0), 3 * 8));

	rx_data(_metadata, &b, 0, m1);
	ASSERT_TRUE(causal_rule_ready(&b, 0, m1, NULL, NULL));
	deliver(&b, 0, m1, false);
	ASSERT_EQ(1, causal_rule_send(&b));
	snap(m2, &b);
	ASSERT_EQ(0, memcmp(m2, V(1, 1, 0), 3 * 8));

	/* C gets m2 first. */
	rx_data(_metadata, &c, 1, m2);
	EXPECT_EQ(1, c.peer[1].head);
	EXPECT_EQ(0, causal_rule_known(&c, 0));
	EXPECT_EQ(0, causal_rule_known(&c, 1));
	ASSERT_FALSE(causal_rule_ready(&c, 1, m2, &wn, &ws));
	EXPECT_EQ(0, wn);
	EXPECT_EQ(1, ws);
	/* NULL out-pointers are allowed. */
	ASSERT_FALSE(causal_rule_ready(&c, 1, m2, NULL, NULL));

	/* m1 arrives: it is ready, m2 still waits while m1 is queued. */
	rx_data(_metadata, &c, 0, m1);
	EXPECT_EQ(0, causal_rule_known(&c, 0));
	ASSERT_FALSE(causal_rule_ready(&c, 1, m2, NULL, NULL));
	ASSERT_TRUE(causal_rule_ready(&c, 0, m1, &wn, &ws));
	deliver(&c, 0, m1, false);
	EXPECT_EQ(1, causal_rule_known(&c, 0));
	ASSERT_EQ(0, memcmp(c.clock, V(1, 0, 0), 3 * 8));

	ASSERT_TRUE(causal_rule_ready(&c, 1, m2, &wn, &ws));
	deliver(&c, 1, m2, false);
	ASSERT_EQ(0, memcmp(c.clock, V(1, 1, 0), 3 * 8));
	EXPECT_EQ(1, causal_rule_known(&c, 1));
}

/*
 * A sends m1 to B only; B delivers it and sends m2 to C. C cannot deliver m2
 * until a CLOCK frame from A says A's first message was not for C.
 */
TEST(clock_frame_unblocks)
{
	static struct causal_rule c;
	u16 wn;
	u64 ws;

	setup(&c, 2, 3);
	RX_OK(&c, 0, HELLO, V(0, 0, 0));
	RX_OK(&c, 1, HELLO, V(0, 0, 0));
	rx_data(_metadata, &c, 1, V(1, 1, 0));
	ASSERT_FALSE(causal_rule_ready(&c, 1, V(1, 1, 0), &wn, &ws));
	EXPECT_EQ(0, wn);
	EXPECT_EQ(1, ws);

	/* A CLOCK that does not reach stamp 1 does not help. */
	RX_OK(&c, 0, CLOCK, V(0, 0, 0));
	ASSERT_FALSE(causal_rule_ready(&c, 1, V(1, 1, 0), NULL, NULL));

	RX_OK(&c, 0, CLOCK, V(1, 0, 0));
	EXPECT_EQ(0, c.peer[0].head);
	EXPECT_EQ(1, c.peer[0].wm);
	EXPECT_EQ(1, causal_rule_known(&c, 0));
	ASSERT_TRUE(causal_rule_ready(&c, 1, V(1, 1, 0), NULL, NULL));
	/* CLOCK frames never change the clock. */
	ASSERT_EQ(0, memcmp(c.clock, V(0, 0, 0), 3 * 8));
	deliver(&c, 1, V(1, 1, 0), false);
	ASSERT_EQ(0, memcmp(c.clock, V(1, 1, 0), 3 * 8));

	/* A stamp beyond the CLOCK waits again: (A, 2) unknown. */
	rx_data(_metadata, &c, 1, V(2, 2, 0));
	ASSERT_FALSE(causal_rule_ready(&c, 1, V(2, 2, 0), &wn, &ws));
	EXPECT_EQ(0, wn);
	EXPECT_EQ(2, ws);
	/* A HELLO-started watermark or a larger CLOCK, here (A, 5). */
	RX_OK(&c, 0, CLOCK, V(5, 0, 0));
	ASSERT_TRUE(causal_rule_ready(&c, 1, V(2, 2, 0), NULL, NULL));
}

/* The HELLO's own entry is the channel's starting watermark. */
TEST(hello_starting_watermark)
{
	static struct causal_rule c;

	setup(&c, 2, 3);
	RX_OK(&c, 0, HELLO, V(4, 0, 0));
	RX_OK(&c, 1, HELLO, V(4, 1, 0));
	EXPECT_EQ(4, causal_rule_known(&c, 0));
	ASSERT_TRUE(causal_rule_ready(&c, 1, V(4, 2, 0), NULL, NULL));
	ASSERT_FALSE(causal_rule_ready(&c, 1, V(5, 2, 0), NULL, NULL));
	/* A DATA must be a new send event: stamp 4 is already covered. */
	RX_ERR(CAUSAL_ERR_CLOCK, &c, 0, DATA, V(4, 0, 0), false);
	rx_data(_metadata, &c, 0, V(5, 0, 0));
	EXPECT_EQ(4, causal_rule_known(&c, 0));
}

/* Several messages queued from one peer: known() is head - 1. */
TEST(known_follows_head)
{
	static struct causal_rule c;

	setup(&c, 2, 3);
	RX_OK(&c, 0, HELLO, V(0, 0, 0));
	RX_OK(&c, 1, HELLO, V(0, 0, 0));
	/* A's stamps 2 and 5 are for C; 1, 3, 4 went to B. */
	ASSERT_EQ(CAUSAL_ERR_NONE, RX(&c, 0, DATA, V(2, 0, 0), false));
	causal_rule_set_head(&c, 0, 2);
	ASSERT_EQ(CAUSAL_ERR_NONE, RX(&c, 0, DATA, V(5, 0, 0), false));
	EXPECT_EQ(5, c.peer[0].wm);
	EXPECT_EQ(1, causal_rule_known(&c, 0));
	ASSERT_TRUE(causal_rule_ready(&c, 1, V(1, 1, 0), NULL, NULL));
	ASSERT_FALSE(causal_rule_ready(&c, 1, V(2, 1, 0), NULL, NULL));

	causal_rule_deliver(&c, 0, V(2, 0, 0), false);
	causal_rule_set_head(&c, 0, 5);
	EXPECT_EQ(4, causal_rule_known(&c, 0));
	ASSERT_TRUE(causal_rule_ready(&c, 1, V(4, 1, 0), NULL, NULL));
	ASSERT_FALSE(causal_rule_ready(&c, 1, V(5, 1, 0), NULL, NULL));

	causal_rule_deliver(&c, 0, V(5, 0, 0), false);
	causal_rule_set_head(&c, 0, 0);
	EXPECT_EQ(5, causal_rule_known(&c, 0));
	ASSERT_TRUE(causal_rule_ready(&c, 1, V(5, 1, 0), NULL, NULL));
}

/* A message never waits on its own sender (FIFO covers it), on the
 * receiver itself, or on a node outside the peer mask.
 */
TEST(peers_mask_excludes_node)
{
	static struct causal_rule c;
	u64 v[64], w[64];
	u16 wn;
	u64 ws;

	/* C exchanges messages with B only. */
	causal_rule_init(&c, GROUP, 2, 3, 1ULL << 1);
	RX_ERR(CAUSAL_ERR_PEER, &c, 0, HELLO, V(0, 0, 0), true);
	RX_OK(&c, 1, HELLO, V(0, 0, 0));
	rx_data(_metadata, &c, 1, V(7, 1, 0));
	ASSERT_TRUE(causal_rule_ready(&c, 1, V(7, 1, 0), NULL, NULL));

	/* With A in the mask, the same message waits on A. */
	setup(&c, 2, 3);
	RX_OK(&c, 1, HELLO, V(0, 0, 0));
	ASSERT_FALSE(causal_rule_ready(&c, 1, V(7, 1, 0), &wn, &ws));
	EXPECT_EQ(0, wn);
	EXPECT_EQ(7, ws);

	/* Own and sender entries are never waited on. */
	setup(&c, 2, 3);
	RX_OK(&c, 0, HELLO, V(0, 0, 0));
	RX_OK(&c, 1, HELLO, V(0, 0, 0));
	ASSERT_TRUE(causal_rule_ready(&c, 1, V(0, 9, 0), NULL, NULL));

	/* Node 63 of 64, mask bit 63 only. */
	causal_rule_init(&c, GROUP, 0, 64, 1ULL << 63);
	memset(v, 0, sizeof(v));
	RX_OK(&c, 63, HELLO, v);
	for (int k = 1; k < 63; k++)
		v[k] = 1000 + k;
	v[63] = 1;
	ASSERT_TRUE(causal_rule_ready(&c, 63, v, NULL, NULL));
	/* From node 62 (not a peer, cannot send) it would wait on 63. */
	ASSERT_FALSE(causal_rule_ready(&c, 62, v, &wn, &ws));
	EXPECT_EQ(63, wn);
	EXPECT_EQ(1, ws);

	/* All 63 peers of node 0: waits on the first missing one. */
	setup(&c, 0, 64);
	memset(v, 0, sizeof(v));
	for (int k = 1; k < 64; k++)
		RX_OK(&c, k, HELLO, v);
	v[40] = 1;
	v[50] = 2;
	ASSERT_FALSE(causal_rule_ready(&c, 1, v, &wn, &ws));
	EXPECT_EQ(40, wn);
	EXPECT_EQ(1, ws);
	memset(w, 0, sizeof(w));
	w[40] = 1;	/* node 40 tells us its count */
	RX_OK(&c, 40, CLOCK, w);
	ASSERT_FALSE(causal_rule_ready(&c, 1, v, &wn, &ws));
	EXPECT_EQ(50, wn);
	EXPECT_EQ(2, ws);
}

/* BYE: the peer left, its condition holds once its queue is drained. */
TEST(bye_peer_left)
{
	static struct causal_rule c;
	u16 wn;
	u64 ws;

	/* A's m1 went to B only; A leaves; B's m2 to C depends on m1. */
	setup(&c, 2, 3);
	RX_OK(&c, 0, HELLO, V(0, 0, 0));
	RX_OK(&c, 1, HELLO, V(0, 0, 0));
	rx_data(_metadata, &c, 1, V(1, 1, 0));
	ASSERT_FALSE(causal_rule_ready(&c, 1, V(1, 1, 0), NULL, NULL));
	RX_OK(&c, 0, BYE, V(1, 0, 0));
	EXPECT_EQ(CAUSAL_PEER_LEFT, c.peer[0].state);
	ASSERT_TRUE(causal_rule_ready(&c, 1, V(1, 1, 0), NULL, NULL));

	/* m1 went to C too, still queued when the BYE arrives. */
	setup(&c, 2, 3);
	RX_OK(&c, 0, HELLO, V(0, 0, 0));
	RX_OK(&c, 1, HELLO, V(0, 0, 0));
	rx_data(_metadata, &c, 1, V(1, 1, 0));
	rx_data(_metadata, &c, 0, V(1, 0, 0));
	RX_OK(&c, 0, BYE, V(1, 0, 0));
	ASSERT_FALSE(causal_rule_ready(&c, 1, V(1, 1, 0), &wn, &ws));
	EXPECT_EQ(0, wn);
	EXPECT_EQ(1, ws);
	ASSERT_TRUE(causal_rule_ready(&c, 0, V(1, 0, 0), NULL, NULL));
	deliver(&c, 0, V(1, 0, 0), false);
	ASSERT_TRUE(causal_rule_ready(&c, 1, V(1, 1, 0), NULL, NULL));

	/* Nothing comes after BYE, not even another BYE. */
	RX_ERR(CAUSAL_ERR_SEQUENCE, &c, 0, DATA, V(2, 0, 0), false);
	RX_ERR(CAUSAL_ERR_SEQUENCE, &c, 0, CLOCK, V(1, 0, 0), false);
	RX_ERR(CAUSAL_ERR_SEQUENCE, &c, 0, BYE, V(1, 0, 0), false);
	RX_ERR(CAUSAL_ERR_SEQUENCE, &c, 0, HELLO, V(1, 0, 0), false);
	/* A new channel from a node that left: same or new incarnation. */
	RX_ERR(CAUSAL_ERR_INCARNATION, &c, 0, HELLO, V(1, 0, 0), true);
	EXPECT_EQ(CAUSAL_ERR_INCARNATION,
		  rx_full(_metadata, &c, 0, HELLO, V(1, 0, 0), true, GROUP, 0x9999));
	/* Its channel closing after BYE does not make it BROKEN. */
	causal_rule_broken(&c, 0);
	EXPECT_EQ(CAUSAL_PEER_LEFT, c.peer[0].state);
	RX_ERR(CAUSAL_ERR_INCARNATION, &c, 0, HELLO, V(1, 0, 0), true);
}

/* A BYE stamped below a dependency: the message waits for good (until a
 * hold timeout), it is never released by the BYE alone.
 */
TEST(bye_does_not_release_unknown_stamps)
{
	static struct causal_rule c;

	setup(&c, 2, 3);
	RX_OK(&c, 0, HELLO, V(0, 0, 0));
	RX_OK(&c, 1, HELLO, V(0, 0, 0));
	RX_OK(&c, 0, BYE, V(1, 0, 0));
	ASSERT_TRUE(causal_rule_ready(&c, 1, V(1, 1, 0), NULL, NULL));
	ASSERT_FALSE(causal_rule_ready(&c, 1, V(2, 1, 0), NULL, NULL));
}

/* A channel that breaks without BYE keeps its watermark; the same
 * incarnation may reconnect, another may not.
 */
TEST(broken_and_reconnect)
{
	static struct causal_rule c;
	u16 wn;
	u64 ws;

	setup(&c, 2, 3);
	RX_OK(&c, 0, HELLO, V(0, 0, 0));
	RX_OK(&c, 1, HELLO, V(0, 0, 0));
	RX_OK(&c, 0, CLOCK, V(1, 0, 0));
	rx_data(_metadata, &c, 1, V(2, 1, 0));
	ASSERT_FALSE(causal_rule_ready(&c, 1, V(2, 1, 0), &wn, &ws));

	causal_rule_broken(&c, 0);
	EXPECT_EQ(CAUSAL_PEER_BROKEN, c.peer[0].state);
	EXPECT_EQ(1, c.peer[0].wm);
	EXPECT_EQ(1, causal_rule_known(&c, 0));
	ASSERT_TRUE(causal_rule_ready(&c, 1, V(1, 1, 0), NULL, NULL));
	ASSERT_FALSE(causal_rule_ready(&c, 1, V(2, 1, 0), &wn, &ws));
	EXPECT_EQ(0, wn);
	EXPECT_EQ(2, ws);
	/* Broken twice is still broken. */
	causal_rule_broken(&c, 0);
	EXPECT_EQ(CAUSAL_PEER_BROKEN, c.peer[0].state);

	/* Nothing but a HELLO on the new channel. */
	RX_ERR(CAUSAL_ERR_SEQUENCE, &c, 0, CLOCK, V(2, 0, 0), true);
	RX_ERR(CAUSAL_ERR_SEQUENCE, &c, 0, CLOCK, V(2, 0, 0), false);
	RX_ERR(CAUSAL_ERR_SEQUENCE, &c, 0, DATA, V(2, 0, 0), false);
	/* Another incarnation: the node restarted and lost its clock. */
	EXPECT_EQ(CAUSAL_ERR_INCARNATION,
		  rx_full(_metadata, &c, 0, HELLO, V(2, 0, 0), true, GROUP, INC(0) + 1));
	/* The same one with a clock that went backwards. */
	RX_ERR(CAUSAL_ERR_CLOCK, &c, 0, HELLO, V(0, 0, 0), true);
	EXPECT_EQ(CAUSAL_PEER_BROKEN, c.peer[0].state);
	ASSERT_FALSE(causal_rule_ready(&c, 1, V(2, 1, 0), NULL, NULL));

	RX_OK(&c, 0, HELLO, V(2, 0, 0));
	EXPECT_EQ(CAUSAL_PEER_ACTIVE, c.peer[0].state);
	EXPECT_EQ(INC(0), c.peer[0].incarnation);
	ASSERT_TRUE(causal_rule_ready(&c, 1, V(2, 1, 0), NULL, NULL));

	/* A second channel while the first is up. */
	RX_ERR(CAUSAL_ERR_DUPLICATE, &c, 0, HELLO, V(2, 0, 0), true);
	/* A second HELLO on the same channel. */
	RX_ERR(CAUSAL_ERR_SEQUENCE, &c, 0, HELLO, V(2, 0, 0), false);
	/* The reconnected channel works. */
	rx_data(_metadata, &c, 0, V(3, 0, 0));
	RX_OK(&c, 0, BYE, V(3, 0, 0));
}

/* Broken on a peer that never said HELLO changes nothing. */
TEST(broken_unknown_peer)
{
	static struct causal_rule d;

	setup(&d, 0, 2);
	causal_rule_broken(&d, 1);
	EXPECT_EQ(CAUSAL_PEER_UNKNOWN, d.peer[1].state);
	RX_OK(&d, 1, HELLO, V(0, 0));
}

/*
 * A hold timeout delivers m2 (waiting on (A, 1)) as a gap: later messages
 * that wait on the same stamps of A are ready, later stamps still wait, and
 * A's message still arrives and is delivered normally.
 */
TEST(gap_delivery)
{
	static struct causal_rule d;
	u16 wn;
	u64 ws;

	setup(&d, 3, 4);
	for (int k = 0; k < 3; k++)
		RX_OK(&d, k, HELLO, V(0, 0, 0, 0));
	rx_data(_metadata, &d, 1, V(1, 1, 0, 0));
	rx_data(_metadata, &d, 2, V(1, 0, 1, 0));
	ASSERT_FALSE(causal_rule_ready(&d, 1, V(1, 1, 0, 0), NULL, NULL));
	ASSERT_FALSE(causal_rule_ready(&d, 2, V(1, 0, 1, 0), NULL, NULL));

	/* Timeout on B's m2. A has not told D of m1: D's clock leaves it
	 * out (see gap_does_not_adopt_forged_entries).
	 */
	causal_rule_deliver(&d, 1, V(1, 1, 0, 0), true);
	causal_rule_set_head(&d, 1, 0);
	ASSERT_EQ(0, memcmp(d.clock, V(0, 1, 0, 0), 4 * 8));
	EXPECT_EQ(1, d.peer[0].gap_floor);
	EXPECT_EQ(1, causal_rule_known(&d, 0));
	/* C's message waited on the same stamp: ready now, past the floor,
	 * so it too goes as a gap.
	 */
	ASSERT_TRUE(causal_rule_ready(&d, 2, V(1, 0, 1, 0), NULL, NULL));
	EXPECT_TRUE(causal_rule_past_floor(&d, 2, V(1, 0, 1, 0)));
	EXPECT_FALSE(causal_rule_past_floor(&d, 2, V(0, 0, 1, 0)));
	/* So is B's next one, which depends on m2. */
	rx_data(_metadata, &d, 1, V(1, 2, 0, 0));
	ASSERT_TRUE(causal_rule_ready(&d, 1, V(1, 2, 0, 0), NULL, NULL));
	EXPECT_TRUE(causal_rule_past_floor(&d, 1, V(1, 2, 0, 0)));
	/* (A, 2) is not covered by the gap. */
	ASSERT_FALSE(causal_rule_ready(&d, 1, V(2, 2, 0, 0), &wn, &ws));
	EXPECT_EQ(0, wn);
	EXPECT_EQ(2, ws);

	/* A's m1 arrives late: accepted, ready, delivered. (What known(A)
	 * is while it is queued: see gap_floor_does_not_pass_queued_predecessor.)
	 */
	rx_data(_metadata, &d, 0, V(1, 0, 0, 0));
	ASSERT_TRUE(causal_rule_ready(&d, 0, V(1, 0, 0, 0), NULL, NULL));
	deliver(&d, 0, V(1, 0, 0, 0), false);
	EXPECT_EQ(1, causal_rule_known(&d, 0));
	ASSERT_EQ(0, memcmp(d.clock, V(1, 1, 0, 0), 4 * 8));
	/* Its cause delivered, C's message is no gap any more. */
	EXPECT_FALSE(causal_rule_past_floor(&d, 2, V(1, 0, 1, 0)));

	/* A non-gap delivery does not move the floor. */
	deliver(&d, 2, V(1, 0, 1, 0), false);
	EXPECT_EQ(1, d.peer[0].gap_floor);
	EXPECT_EQ(0, d.peer[1].gap_floor);
	/* The floor never goes down. */
	causal_rule_deliver(&d, 1, V(0, 2, 0, 0), true);
	EXPECT_EQ(1, d.peer[0].gap_floor);
}

/*
 * Regression: after a hold timeout, the gap floor must not let a message
 * overtake a causal predecessor that has already arrived and is queued (it
 * would be delivered out of order without any gap flag).
 *
 * A broadcasts m_a = (1,0,0,0) to B, C and D. B delivers it and sends
 * m_b = (1,1,0,0) to D; C delivers it and sends m_c = (1,0,1,0) to D. At D,
 * m_b arrives first and times out (gap, as documented): the floor of A
 * becomes 1. Then m_a and m_c arrive. m_a -> m_c, both are for D, m_a is
 * queued and deliverable, yet causal_rule_ready() says m_c may go: known(A)
 * = max(head - 1, gap_floor) = max(0, 1). If the endpoint picks C's head
 * first, m_c is delivered before m_a, unflagged.
 */
TEST(gap_floor_does_not_pass_queued_predecessor)
{
	static struct causal_rule d;
	u16 wn = 99;
	u64 ws = 99;

	setup(&d, 3, 4);
	for (int k = 0; k < 3; k++)
		RX_OK(&d, k, HELLO, V(0, 0, 0, 0));
	rx_data(_metadata, &d, 1, V(1, 1, 0, 0));
	ASSERT_FALSE(causal_rule_ready(&d, 1, V(1, 1, 0, 0), NULL, NULL));
	causal_rule_deliver(&d, 1, V(1, 1, 0, 0), true);	/* hold timeout */
	causal_rule_set_head(&d, 1, 0);

	rx_data(_metadata, &d, 0, V(1, 0, 0, 0));		/* m_a, queued */
	rx_data(_metadata, &d, 2, V(1, 0, 1, 0));		/* m_c */
	ASSERT_TRUE(causal_rule_ready(&d, 0, V(1, 0, 0, 0), NULL, NULL));
	/* m_c must wait for m_a, which is right here. */
	EXPECT_FALSE(causal_rule_ready(&d, 2, V(1, 0, 1, 0), &wn, &ws));
	EXPECT_EQ(0, wn);
	EXPECT_EQ(1, ws);
}

/*
 * Trust (issue 9, defect 9): a member is believed about its own sends only.
 * B, hostile, stamps its DATA with third-party entries that A and C never
 * sent; a hold timeout delivers it. D's clock, which every later frame of D
 * carries, takes B's own entry and of A and C only what they announced
 * themselves; nothing of it is D's own. The stamps the message waited for
 * still count as delivered (gap floor), and a message let through by that
 * floor merges no more than a gap does.
 */
TEST(gap_does_not_adopt_forged_entries)
{
	static struct causal_rule d;

	setup(&d, 3, 4);
	for (int k = 0; k < 3; k++)
		RX_OK(&d, k, HELLO, V(0, 0, 0, 0));
	RX_OK(&d, 0, CLOCK, V(2, 0, 0, 0));		/* A has sent 2 */
	rx_data(_metadata, &d, 1, V(5, 1, ~0ULL, 0));
	ASSERT_FALSE(causal_rule_ready(&d, 1, V(5, 1, ~0ULL, 0), NULL, NULL));
	causal_rule_deliver(&d, 1, V(5, 1, ~0ULL, 0), true);	/* hold timeout */
	causal_rule_set_head(&d, 1, 0);
	EXPECT_EQ(0, memcmp(d.clock, V(2, 1, 0, 0), 4 * 8));
	EXPECT_EQ(5, causal_rule_known(&d, 0));
	EXPECT_EQ(~0ULL, causal_rule_known(&d, 2));
	/* D's next send carries the clock as it is. */
	EXPECT_EQ(1, causal_rule_send(&d));
	EXPECT_EQ(0, memcmp(d.clock, V(2, 1, 0, 1), 4 * 8));

	/* C's message claims (A, 4): the floor lets it go, the clock takes
	 * A's 2 and C's own 1.
	 */
	rx_data(_metadata, &d, 2, V(4, 0, 1, 0));
	ASSERT_TRUE(causal_rule_ready(&d, 2, V(4, 0, 1, 0), NULL, NULL));
	deliver(&d, 2, V(4, 0, 1, 0), false);
	EXPECT_EQ(0, memcmp(d.clock, V(2, 1, 1, 1), 4 * 8));

	/* What A does send is merged as it comes. */
	rx_data(_metadata, &d, 0, V(3, 0, 0, 0));
	ASSERT_TRUE(causal_rule_ready(&d, 0, V(3, 0, 0, 0), NULL, NULL));
	deliver(&d, 0, V(3, 0, 0, 0), false);
	EXPECT_EQ(0, memcmp(d.clock, V(3, 1, 1, 1), 4 * 8));
	/* A later CLOCK of A changes the clock no more than any CLOCK. */
	RX_OK(&d, 0, CLOCK, V(9, 0, 0, 0));
	EXPECT_EQ(0, memcmp(d.clock, V(3, 1, 1, 1), 4 * 8));
}

/* ---- every refusal of causal_rule_accept() ---- */

TEST(err_nodes)
{
	static struct causal_rule c;
	struct causal_frame f = { .type = HELLO, .nodes = 4, .sender = 0, .len = 16 };
	struct causal_hello h = { GROUP, 0, INC(0) };

	setup(&c, 2, 3);
	EXPECT_EQ(CAUSAL_ERR_NODES,
		  accept_raw(_metadata, &c, 0, &f, V(0, 0, 0, 0), &h, true));
	f.nodes = 2;
	EXPECT_EQ(CAUSAL_ERR_NODES,
		  accept_raw(_metadata, &c, 0, &f, V(0, 0, 0, 0), &h, true));
	RX_OK(&c, 0, HELLO, V(0, 0, 0));
	f.type = DATA;
	f.len = 0;
	f.nodes = 64;
	EXPECT_EQ(CAUSAL_ERR_NODES,
		  accept_raw(_metadata, &c, 0, &f, V(1, 0, 0), NULL, false));
}

TEST(err_sender)
{
	static struct causal_rule c;
	struct causal_frame f = { .type = HELLO, .nodes = 3, .sender = 1, .len = 16 };
	struct causal_hello h = { GROUP, 0, INC(0) };

	setup(&c, 2, 3);
	/* Sender field is not the channel's peer. */
	EXPECT_EQ(CAUSAL_ERR_SENDER,
		  accept_raw(_metadata, &c, 0, &f, V(0, 0, 0), &h, true));
	RX_OK(&c, 0, HELLO, V(0, 0, 0));
	f.type = DATA;
	f.len = 1;
	EXPECT_EQ(CAUSAL_ERR_SENDER,
		  accept_raw(_metadata, &c, 0, &f, V(1, 1, 0), NULL, false));
	/* Ourselves. */
	f.type = HELLO;
	f.len = 16;
	f.sender = 2;
	EXPECT_EQ(CAUSAL_ERR_SENDER,
		  accept_raw(_metadata, &c, 2, &f, V(0, 0, 0), &h, true));
	/* Out of range for the group, though within the array. */
	f.sender = 3;
	EXPECT_EQ(CAUSAL_ERR_SENDER,
		  accept_raw(_metadata, &c, 3, &f, V(0, 0, 0, 0), &h, true));
	f.sender = 63;
	EXPECT_EQ(CAUSAL_ERR_SENDER,
		  accept_raw(_metadata, &c, 63, &f, V(0, 0, 0), &h, true));
}

/* Peer indexes at and past the end of the array (64 nodes). */
TEST(err_sender_past_array)
{
	static const u16 peers[] = { 64, 65, 0x100, 0xffff };
	static struct causal_rule c;
	struct causal_hello h = { GROUP, 0, INC(0) };
	u64 v[64] = { 0 };

	setup(&c, 0, 64);
	for (int i = 0; i < 4; i++) {
		struct causal_frame f = {
			.type = HELLO, .nodes = 64, .sender = peers[i], .len = 16,
		};

		EXPECT_EQ(CAUSAL_ERR_SENDER,
			  accept_raw(_metadata, &c, peers[i], &f, v, &h, true));
		f.type = DATA;
		f.len = 1;
		EXPECT_EQ(CAUSAL_ERR_SENDER,
			  accept_raw(_metadata, &c, peers[i], &f, v, NULL, false));
	}
}

TEST(err_sequence)
{
	static struct causal_rule c;

	setup(&c, 2, 3);
	/* DATA, CLOCK, BYE before any HELLO, as a channel's first frame or not. */
	RX_ERR(CAUSAL_ERR_SEQUENCE, &c, 0, DATA, V(1, 0, 0), true);
	RX_ERR(CAUSAL_ERR_SEQUENCE, &c, 0, DATA, V(1, 0, 0), false);
	RX_ERR(CAUSAL_ERR_SEQUENCE, &c, 0, CLOCK, V(0, 0, 0), true);
	RX_ERR(CAUSAL_ERR_SEQUENCE, &c, 0, CLOCK, V(0, 0, 0), false);
	RX_ERR(CAUSAL_ERR_SEQUENCE, &c, 0, BYE, V(0, 0, 0), true);
	RX_ERR(CAUSAL_ERR_SEQUENCE, &c, 0, BYE, V(0, 0, 0), false);
	/* HELLO that is not the channel's first frame. */
	RX_ERR(CAUSAL_ERR_SEQUENCE, &c, 0, HELLO, V(0, 0, 0), false);
	EXPECT_EQ(CAUSAL_PEER_UNKNOWN, c.peer[0].state);

	RX_OK(&c, 0, HELLO, V(0, 0, 0));
	/* A non-HELLO first frame on a (second) channel. */
	RX_ERR(CAUSAL_ERR_SEQUENCE, &c, 0, DATA, V(1, 0, 0), true);
	RX_ERR(CAUSAL_ERR_SEQUENCE, &c, 0, HELLO, V(0, 0, 0), false);
	RX_OK(&c, 0, CLOCK, V(0, 0, 0));
	RX_OK(&c, 0, BYE, V(0, 0, 0));
	RX_ERR(CAUSAL_ERR_SEQUENCE, &c, 0, DATA, V(1, 0, 0), false);
	RX_ERR(CAUSAL_ERR_SEQUENCE, &c, 0, CLOCK, V(0, 0, 0), false);
	RX_ERR(CAUSAL_ERR_SEQUENCE, &c, 0, BYE, V(0, 0, 0), false);
}

TEST(err_group_peer_duplicate)
{
	static struct causal_rule c;

	causal_rule_init(&c, GROUP, 2, 4, (1ULL << 0) | (1ULL << 1));
	EXPECT_EQ(CAUSAL_ERR_GROUP,
		  rx_full(_metadata, &c, 0, HELLO, V(0, 0, 0, 0), true, GROUP + 1, INC(0)));
	EXPECT_EQ(CAUSAL_ERR_GROUP,
		  rx_full(_metadata, &c, 0, HELLO, V(0, 0, 0, 0), true, 0, INC(0)));
	/* Node 3 is in the group but not in our peer mask. */
	RX_ERR(CAUSAL_ERR_PEER, &c, 3, HELLO, V(0, 0, 0, 0), true);
	EXPECT_EQ(CAUSAL_PEER_UNKNOWN, c.peer[3].state);
	RX_OK(&c, 0, HELLO, V(0, 0, 0, 0));
	RX_ERR(CAUSAL_ERR_DUPLICATE, &c, 0, HELLO, V(0, 0, 0, 0), true);
	EXPECT_EQ(CAUSAL_ERR_DUPLICATE,
		  rx_full(_metadata, &c, 0, HELLO, V(0, 0, 0, 0), true, GROUP, 12345));
	EXPECT_EQ(INC(0), c.peer[0].incarnation);
	/* The mask is not consulted for frames of an established peer, but a
	 * node outside it never gets that far.
	 */
	RX_ERR(CAUSAL_ERR_SEQUENCE, &c, 3, DATA, V(0, 0, 0, 1), false);
}

/* A clock entry going backwards, in any position, for every frame type. */
TEST(err_clock_backwards)
{
	static struct causal_rule c;
	static const u8 types[] = { DATA, CLOCK, BYE };
	u64 w[64];

	for (int t = 0; t < 3; t++) {
		for (int e = 0; e < 4; e++) {
			u64 v[4] = { 3, 3, 3, 3 };

			setup(&c, 2, 4);
			c.clock[2] = 3;		/* we sent three messages */
			RX_OK(&c, 0, HELLO, V(0, 0, 0, 0));
			RX_OK(&c, 0, CLOCK, V(3, 3, 3, 3));
			v[0] = types[t] == DATA ? 4 : 3;
			v[e] = 2;
			EXPECT_EQ(CAUSAL_ERR_CLOCK, RX(&c, 0, types[t], v, false));
			/* The same frame with no entry going back is fine. */
			v[e] = e == 0 && types[t] == DATA ? 4 : 3;
			EXPECT_EQ(CAUSAL_ERR_NONE, RX(&c, 0, types[t], v, false));
		}
	}
	/* Far below, and a single step in the 64th entry. */
	setup(&c, 0, 64);
	for (int i = 0; i < 64; i++)
		w[i] = i == 0 ? 0 : 1ULL << 40;
	RX_OK(&c, 5, HELLO, w);
	w[63]--;
	RX_ERR(CAUSAL_ERR_CLOCK, &c, 5, CLOCK, w, false);
	w[63]++;
	w[5] = 0;
	RX_ERR(CAUSAL_ERR_CLOCK, &c, 5, CLOCK, w, false);
}

/* Every DATA frame is a send event: its own stamp must pass the watermark
 * left by any earlier frame (HELLO, DATA or CLOCK).
 */
TEST(err_data_not_new)
{
	static struct causal_rule c;

	setup(&c, 2, 3);
	RX_OK(&c, 0, HELLO, V(0, 0, 0));
	RX_ERR(CAUSAL_ERR_CLOCK, &c, 0, DATA, V(0, 0, 0), false);
	rx_data(_metadata, &c, 0, V(1, 0, 0));
	/* The same stamp again, even with other entries moving. */
	RX_ERR(CAUSAL_ERR_CLOCK, &c, 0, DATA, V(1, 0, 0), false);
	RX_ERR(CAUSAL_ERR_CLOCK, &c, 0, DATA, V(1, 5, 0), false);
	RX_OK(&c, 0, CLOCK, V(1, 5, 0));	/* a CLOCK may repeat it */
	RX_OK(&c, 0, CLOCK, V(4, 5, 0));
	RX_ERR(CAUSAL_ERR_CLOCK, &c, 0, DATA, V(4, 5, 0), false);
	RX_ERR(CAUSAL_ERR_CLOCK, &c, 0, DATA, V(3, 5, 0), false);
	ASSERT_EQ(CAUSAL_ERR_NONE, RX(&c, 0, DATA, V(5, 5, 0), false));
	EXPECT_EQ(5, c.peer[0].wm);
	/* A BYE may repeat the last stamp as well. */
	RX_OK(&c, 0, BYE, V(5, 5, 0));
}

/* v[self] above our own clock: the peer claims messages we never sent. */
TEST(err_future)
{
	static struct causal_rule c;

	setup(&c, 2, 3);
	RX_ERR(CAUSAL_ERR_FUTURE, &c, 0, HELLO, V(0, 0, 1), true);
	RX_OK(&c, 0, HELLO, V(0, 0, 0));
	RX_ERR(CAUSAL_ERR_FUTURE, &c, 0, DATA, V(1, 0, 1), false);
	RX_ERR(CAUSAL_ERR_FUTURE, &c, 0, CLOCK, V(0, 0, 1), false);
	RX_ERR(CAUSAL_ERR_FUTURE, &c, 0, BYE, V(0, 0, 1), false);
	ASSERT_EQ(1, causal_rule_send(&c));
	ASSERT_EQ(2, causal_rule_send(&c));
	RX_OK(&c, 0, CLOCK, V(0, 0, 2));
	RX_ERR(CAUSAL_ERR_FUTURE, &c, 0, DATA, V(1, 0, 3), false);
	RX_ERR(CAUSAL_ERR_FUTURE, &c, 0, DATA, V(1, 0, UINT64_MAX), false);
	rx_data(_metadata, &c, 0, V(1, 0, 2));
}

/* Accepted frames record the clock and the watermark. */
TEST(accept_records)
{
	static struct causal_rule c;

	setup(&c, 2, 3);
	c.clock[2] = 4;
	RX_OK(&c, 1, HELLO, V(3, 2, 1));
	EXPECT_EQ(CAUSAL_PEER_ACTIVE, c.peer[1].state);
	EXPECT_EQ(INC(1), c.peer[1].incarnation);
	EXPECT_EQ(2, c.peer[1].wm);
	EXPECT_EQ(0, memcmp(c.peer[1].last, V(3, 2, 1), 3 * 8));
	RX_OK(&c, 1, CLOCK, V(3, 7, 4));
	EXPECT_EQ(7, c.peer[1].wm);
	EXPECT_EQ(0, memcmp(c.peer[1].last, V(3, 7, 4), 3 * 8));
	/* Nothing was delivered: the clock did not move. */
	EXPECT_EQ(0, memcmp(c.clock, V(0, 0, 4), 3 * 8));
	EXPECT_EQ(0, c.peer[1].head);
}

/* ---------------------------------------------------------------------- */
/* Randomized simulation                                                   */
/* ---------------------------------------------------------------------- */

#define SIM_MAXN	6
#define SIM_MAXMSG	512
#define BSW		(SIM_MAXMSG / 64)
#define SIM_MAXRECONN	24
#define CHAN_CAP	(2 * SIM_MAXMSG + SIM_MAXRECONN + 8)
#define FRAME_MAX	(CAUSAL_WIRE_HDR_LEN + SIM_MAXN * 8 + CAUSAL_WIRE_HELLO_LEN)
#define SIM_MAX_LEN	(1U << 20)
#define TRACE_N		(1 << 15)	/* steps kept for a failure report */

enum sim_kind {
	SIM_FULL,	/* every node peers with every other */
	SIM_RESTRICTED,	/* random symmetric peer graph */
	SIM_CHURN,	/* channels break and reconnect, nodes leave */
	SIM_GAP,	/* hold timeouts deliver blocked messages */
	SIM_IGNORE,	/* negative control: deliver in arrival order */
	SIM_NOCLOCK,	/* negative control: never send CLOCK frames */
	SIM_KINDS,
};

static const char * const sim_kind_name[SIM_KINDS] = {
	"full", "restricted", "churn", "gap", "ignore-rule", "no-clock",
};

struct sim_frame {
	u8 b[FRAME_MAX];
};

struct sim_chan {		/* ch[j][i]: frames from j to i */
	struct sim_frame *q;
	int head, tail;
	int speed;		/* weight when picking a channel to drain */
	bool exists;		/* j and i peer with each other */
	bool up;		/* connected (not broken) */
	bool rx_first;		/* i has seen no frame of this connection */
	bool dirty;		/* j owes i a CLOCK frame */
};

struct sim_node {
	struct causal_rule r;
	u64 inc;
	bool left;
	int hq[SIM_MAXN][SIM_MAXMSG];	/* hold-back queue per sender */
	int hh[SIM_MAXN], ht[SIM_MAXN];
	u64 seen[SIM_MAXN];	/* largest own stamp received from k */
	u64 expect[SIM_MAXN];	/* the clock, computed independently */
	int ev[2 * SIM_MAXMSG];	/* id << 1 | 1 for a delivery */
	int nev;
	int ndeliv;
	u64 know[BSW];		/* online oracle: what precedes "now" here */
};

struct sim_msg {
	int sender;
	bool bcast;
	u64 stamp;
	u64 v[SIM_MAXN];
	u64 dest;		/* addressees */
	int count[SIM_MAXN];	/* deliveries per node */
	int pos[SIM_MAXN];	/* index in that node's delivery order */
	u64 arr[SIM_MAXN];	/* arrival order, for the ignore-rule control */
	bool gap[SIM_MAXN];
	u64 pred[BSW];		/* online oracle: messages before it */
};

struct sim_trace {
	char op;
	signed char a, b, c;
	int msg;
	u64 x;
};

struct sim {
	enum sim_kind kind;
	u64 seed, rng;
	int n, target;
	int p_bcast, p_flush_now, p_gap;
	int w_send, w_xmit, w_deliv, w_flush, w_churn;
	bool ignore_rule, no_clock;

	struct sim_node node[SIM_MAXN];
	struct sim_chan ch[SIM_MAXN][SIM_MAXN];
	struct sim_msg m[SIM_MAXMSG];
	int nmsg;
	u64 arrival;
	int reconnects, leaves;
	bool stopped_short;	/* the step budget ran out before target */

	/* statistics */
	long frames, clock_frames, waits, gaps, reordered, breaks, deliveries;
	long overtakes;		/* non-gap deliveries ahead of a queued
				 * predecessor (possible after a gap only)
				 */
	long distrusted;	/* deliveries whose clock claimed more than
				 * the receiver knew was sent
				 */

	/* failures: protocol/internal errors and oracle violations */
	int errors;
	char err[256];
	int viol_once, viol_order, viol_online, viol_live, viol_vc, viol_oracle;
	char viol[256];

	struct sim_trace trace[TRACE_N];
	long ntrace;
	long fail_step;		/* trace length at the first failure */
	int focus[2];		/* messages the first failure is about */

	u64 closure[SIM_MAXMSG][BSW];
};

static u64 splitmix64(u64 *x)
{
	u64 z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static u64 sim_rand(struct sim *s)
{
	u64 x = s->rng;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	s->rng = x;
	return x * 0x2545f4914f6cdd1dULL;
}

static int rnd(struct sim *s, int n)
{
	return (int)((sim_rand(s) >> 16) % (u64)n);
}

static bool chance(struct sim *s, int percent)
{
	return rnd(s, 100) < percent;
}

static void bs_set(u64 *b, int i)
{
	b[i / 64] |= 1ULL << (i % 64);
}

static bool bs_test(const u64 *b, int i)
{
	return b[i / 64] & (1ULL << (i % 64));
}

static void bs_or(u64 *d, const u64 *s)
{
	for (int w = 0; w < BSW; w++)
		d[w] |= s[w];
}

static void tr(struct sim *s, char op, int a, int b, int c, int msg, u64 x)
{
	struct sim_trace *t = &s->trace[s->ntrace++ % TRACE_N];

	t->op = op;
	t->a = a;
	t->b = b;
	t->c = c;
	t->msg = msg;
	t->x = x;
}

static int sim_violations(const struct sim *s);

/* Remember where the first failure happened and which messages it is about. */
static void sim_focus(struct sim *s, int a, int b)
{
	if (s->errors || sim_violations(s))
		return;
	s->fail_step = s->ntrace;
	s->focus[0] = a;
	s->focus[1] = b;
}

__attribute__((format(printf, 4, 5)))
static void sim_error(struct sim *s, int fa, int fb, const char *fmt, ...)
{
	va_list ap;

	sim_focus(s, fa, fb);
	if (!s->errors++) {
		va_start(ap, fmt);
		vsnprintf(s->err, sizeof(s->err), fmt, ap);
		va_end(ap);
	}
}

__attribute__((format(printf, 5, 6)))
static void sim_viol(struct sim *s, int *counter, int fa, int fb,
		     const char *fmt, ...)
{
	va_list ap;
	int total = sim_violations(s);

	sim_focus(s, fa, fb);
	(*counter)++;
	if (!total) {
		va_start(ap, fmt);
		vsnprintf(s->viol, sizeof(s->viol), fmt, ap);
		va_end(ap);
	}
}

static int sim_violations(const struct sim *s)
{
	return s->viol_once + s->viol_order + s->viol_online + s->viol_live +
	       s->viol_vc + s->viol_oracle;
}

static const char *type_name(int t)
{
	static const char * const names[] = { "?", "HELLO", "DATA", "CLOCK", "BYE" };

	return t >= 1 && t <= 4 ? names[t] : "?";
}

static void sim_dump_step(struct __test_metadata *_metadata,
			  const struct sim *s, long i)
{
	const struct sim_trace *t = &s->trace[i % TRACE_N];

	switch (t->op) {
	case 'S':
		if (t->b < 0)
			TH_LOG("  %5ld send    %d -> all m%d stamp %llu", i,
			       t->a, t->msg, t->x);
		else
			TH_LOG("  %5ld send    %d -> %d m%d stamp %llu", i,
			       t->a, t->b, t->msg, t->x);
		break;
	case 'T':
		TH_LOG("  %5ld arrive  %d -> %d %s m%d own %llu", i, t->a, t->b,
		       type_name(t->c), t->msg, t->x);
		break;
	case 'D':
		TH_LOG("  %5ld deliver at %d from %d m%d%s", i, t->a, t->b,
		       t->msg, t->c ? " (gap)" : "");
		break;
	case 'F':
		TH_LOG("  %5ld clock   %d -> %d own %llu", i, t->a, t->b, t->x);
		break;
	case 'B':
		TH_LOG("  %5ld break   %d <-> %d", i, t->a, t->b);
		break;
	case 'R':
		TH_LOG("  %5ld reconn  %d <-> %d", i, t->a, t->b);
		break;
	case 'L':
		TH_LOG("  %5ld leave   %d", i, t->a);
		break;
	case 'X':
		TH_LOG("  %5ld drop    %d -> %d %s (receiver left)", i, t->a,
		       t->b, type_name(t->c));
		break;
	}
}

/* The history's parameters, the first failure, the steps that involve the
 * messages it is about, and the steps just before it.
 */
static void sim_dump(struct __test_metadata *_metadata, const struct sim *s)
{
	long end = s->fail_step ? s->fail_step + 1 : s->ntrace;
	long oldest = s->ntrace > TRACE_N ? s->ntrace - TRACE_N : 0;
	long from = end > 24 ? end - 24 : 0;

	if (end > s->ntrace)
		end = s->ntrace;

	TH_LOG("history %s seed 0x%016llx (rerun: CAUSAL_SIM_SEED=0x%llx): n=%d msgs=%d bcast=%d%% flush_now=%d%% gap=%d%% weights s%d x%d d%d f%d c%d",
	       sim_kind_name[s->kind], s->seed, s->seed, s->n, s->nmsg,
	       s->p_bcast, s->p_flush_now, s->p_gap, s->w_send, s->w_xmit,
	       s->w_deliv, s->w_flush, s->w_churn);
	for (int i = 0; i < s->n; i++)
		TH_LOG("node %d: peers 0x%llx%s", i,
		       (unsigned long long)s->node[i].r.peers,
		       s->node[i].left ? " (left)" : "");
	if (s->errors)
		TH_LOG("%d error(s), first: %s", s->errors, s->err);
	if (sim_violations(s))
		TH_LOG("violations: once %d order %d online %d live %d vclock %d oracle %d; first: %s",
		       s->viol_once, s->viol_order, s->viol_online,
		       s->viol_live, s->viol_vc, s->viol_oracle, s->viol);
	for (int f = 0; f < 2; f++) {
		const struct sim_msg *m;

		if (s->focus[f] < 0 || s->focus[f] >= s->nmsg)
			continue;
		m = &s->m[s->focus[f]];
		TH_LOG("m%d: from %d stamp %llu to 0x%llx%s, V = (%llu %llu %llu %llu %llu %llu)",
		       s->focus[f], m->sender, m->stamp,
		       (unsigned long long)m->dest, m->bcast ? " (broadcast)" : "",
		       m->v[0], m->v[1], m->v[2], m->v[3], m->v[4], m->v[5]);
		for (long i = oldest; i < s->ntrace; i++)
			if (s->trace[i % TRACE_N].msg == s->focus[f])
				sim_dump_step(_metadata, s, i);
	}
	TH_LOG("steps %ld..%ld of %ld (the first failure was seen at step %ld):",
	       from, end - 1, s->ntrace, s->fail_step);
	for (long i = from > oldest ? from : oldest; i < end; i++)
		sim_dump_step(_metadata, s, i);
}

/* Encode a frame from j to i with j's current clock. */
static void sim_put(struct sim *s, int j, int i, u8 type, int msg)
{
	struct sim_chan *c = &s->ch[j][i];
	struct sim_node *nj = &s->node[j];
	struct causal_frame f = {
		.type = type, .nodes = s->n, .sender = j,
		.len = type == HELLO ? CAUSAL_WIRE_HELLO_LEN : type == DATA ? 4 : 0,
	};
	const u64 *v = type == DATA ? s->m[msg].v : nj->r.clock;
	u8 *p;

	if (c->tail >= CHAN_CAP) {
		sim_error(s, msg, -1, "channel %d->%d overflow", j, i);
		return;
	}
	if (type == DATA && s->m[msg].bcast)
		f.flags = CAUSAL_WIRE_F_BROADCAST;
	p = c->q[c->tail++].b;
	causal_wire_put_hdr(p, &f);
	causal_wire_put_clock(p + CAUSAL_WIRE_HDR_LEN, v, s->n);
	p += CAUSAL_WIRE_HDR_LEN + 8 * s->n;
	if (type == HELLO) {
		struct causal_hello h = { .group = GROUP, .flags = 0, .incarnation = nj->inc };

		causal_wire_put_hello(p, &h);
	} else if (type == DATA) {
		u32 id = htobe32((u32)msg);

		memcpy(p, &id, 4);
	}
	s->frames++;
	if (type == CLOCK) {
		s->clock_frames++;
		tr(s, 'F', j, i, 0, -1, v[j]);
	}
}

/* Can j address i now? */
static bool sim_link(const struct sim *s, int j, int i)
{
	return s->ch[j][i].exists && s->ch[j][i].up && !s->node[i].left &&
	       !s->node[j].left;
}

static void sim_flush(struct sim *s, int j, bool all)
{
	for (int i = 0; i < s->n; i++) {
		struct sim_chan *c = &s->ch[j][i];

		if (!c->dirty || !sim_link(s, j, i) || (!all && chance(s, 50)))
			continue;
		c->dirty = false;
		if (!s->no_clock)
			sim_put(s, j, i, CLOCK, -1);
	}
}

/* A send event of j: to one peer (@to >= 0) or to every channel. */
static bool sim_send(struct sim *s, int j, int to)
{
	struct sim_node *nj = &s->node[j];
	struct sim_msg *m;
	u64 dest = 0;
	int id, i;

	if (nj->left || s->nmsg >= SIM_MAXMSG)
		return false;
	for (i = 0; i < s->n; i++)
		if (sim_link(s, j, i) && (to < 0 || to == i))
			dest |= 1ULL << i;
	if (!dest)
		return false;
	/* A pending CLOCK either goes first or is made moot by the DATA. */
	for (i = 0; i < s->n; i++) {
		if (!(dest & (1ULL << i)) || !s->ch[j][i].dirty)
			continue;
		s->ch[j][i].dirty = false;
		if (chance(s, 50) && !s->no_clock)
			sim_put(s, j, i, CLOCK, -1);
	}

	id = s->nmsg++;
	m = &s->m[id];
	m->sender = j;
	m->bcast = to < 0;
	m->dest = dest;
	m->stamp = causal_rule_send(&nj->r);
	nj->expect[j]++;
	if (m->stamp != nj->expect[j])
		sim_error(s, id, -1, "node %d: send stamp %llu, expected %llu",
			  j, m->stamp, nj->expect[j]);
	memcpy(m->v, nj->r.clock, sizeof(m->v));
	memcpy(m->pred, nj->know, sizeof(m->pred));
	bs_set(nj->know, id);
	nj->ev[nj->nev++] = id << 1;
	tr(s, 'S', j, to, 0, id, m->stamp);

	for (i = 0; i < s->n; i++) {
		if (dest & (1ULL << i))
			sim_put(s, j, i, DATA, id);
		else if (sim_link(s, j, i))
			s->ch[j][i].dirty = true;
	}
	if (chance(s, s->p_flush_now))
		sim_flush(s, j, true);
	return true;
}

/* The oldest frame on j -> i reaches i. */
static void sim_transmit(struct sim *s, int j, int i)
{
	struct sim_chan *c = &s->ch[j][i];
	struct sim_node *ni = &s->node[i];
	const u8 *p = c->q[c->head++].b;
	struct causal_frame f;
	struct causal_hello h;
	enum causal_proto_err err;
	u64 v[CAUSAL_WIRE_MAX_NODES] = { 0 };
	bool first;
	int id = -1;

	err = causal_wire_get_hdr(p, &f, SIM_MAX_LEN);
	if (err || f.sender != j || f.nodes != s->n) {
		sim_error(s, -1, -1, "%d -> %d: bad header (%s)", j, i, causal_proto_err_name(err));
		return;
	}
	if (ni->left) {
		tr(s, 'X', j, i, f.type, -1, 0);
		return;
	}
	causal_wire_get_clock(p + CAUSAL_WIRE_HDR_LEN, v, f.nodes);
	p += CAUSAL_WIRE_HDR_LEN + 8 * f.nodes;
	if (f.type == HELLO && causal_wire_get_hello(p, &h)) {
		sim_error(s, -1, -1, "%d -> %d: bad HELLO payload", j, i);
		return;
	}
	if (f.type == DATA) {
		u32 be;

		memcpy(&be, p, 4);
		id = (int)be32toh(be);
	}
	tr(s, 'T', j, i, f.type, id, v[j]);
	first = c->rx_first;
	c->rx_first = false;
	err = causal_rule_accept(&ni->r, j, &f, v, f.type == HELLO ? &h : NULL, first);
	if (err) {
		sim_error(s, id, -1, "node %d refused %s from %d: %s", i, type_name(f.type),
			  j, causal_proto_err_name(err));
		return;
	}
	if (v[j] > ni->seen[j])
		ni->seen[j] = v[j];
	if (f.type != DATA)
		return;

	if (id < 0 || id >= s->nmsg || s->m[id].sender != j ||
	    !(s->m[id].dest & (1ULL << i)) ||
	    memcmp(v, s->m[id].v, s->n * sizeof(u64)) ||
	    !!(f.flags & CAUSAL_WIRE_F_BROADCAST) != s->m[id].bcast) {
		sim_error(s, id, -1, "%d -> %d: DATA frame does not match message %d", j, i, id);
		return;
	}
	s->m[id].arr[i] = ++s->arrival;
	if (ni->hh[j] == ni->ht[j])
		causal_rule_set_head(&ni->r, j, v[j]);
	ni->hq[j][ni->ht[j]++] = id;
}

/* Happens-before per the online oracle: is every predecessor of @id that
 * is addressed to @i already delivered there?
 */
static void sim_check_online(struct sim *s, int i, int id)
{
	const struct sim_msg *m = &s->m[id];

	for (int x = 0; x < s->nmsg; x++) {
		if (!bs_test(m->pred, x) || !(s->m[x].dest & (1ULL << i)))
			continue;
		if (!s->m[x].count[i]) {
			sim_viol(s, &s->viol_online, x, id,
				 "node %d delivers m%d (from %d) before its predecessor m%d (from %d)",
				 i, id, m->sender, x, s->m[x].sender);
			return;
		}
	}
}

/* A head that is not ready must wait for a reason: the message from
 * @wn it waits for was addressed to us and is not delivered, or we have not
 * yet heard from @wn up to that stamp.
 */
static void sim_check_wait(struct sim *s, int i, int k, int id, u16 wn, u64 ws)
{
	const struct sim_node *ni = &s->node[i];
	const struct sim_msg *m = &s->m[id];

	if (wn >= s->n || wn == k || wn == i || !(ni->r.peers & (1ULL << wn)) ||
	    ws != m->v[wn]) {
		sim_error(s, id, -1, "node %d: m%d from %d waits on (%u, %llu), not a peer entry",
			  i, id, k, wn, ws);
		return;
	}
	if (ni->seen[wn] < ws)
		return;
	for (int x = 0; x < s->nmsg; x++)
		if (s->m[x].sender == wn && s->m[x].stamp <= ws &&
		    (s->m[x].dest & (1ULL << i)) && !s->m[x].count[i])
			return;
	sim_error(s, id, -1, "node %d: m%d from %d waits on (%u, %llu) for nothing: all of %u's messages up to it are delivered and it told us %llu",
		  i, id, k, wn, ws, wn, ni->seen[wn]);
}

/* How far node i, delivering a message from k, believes the message's entry
 * for q (spec, "Trust"): k, and every peer of i, about their own sends only,
 * as far as their frames to i told; a node outside i's peer mask is never
 * heard from, so its entry is taken as it comes.
 */
static u64 sim_sent(const struct sim *s, int i, int k, int q)
{
	const struct sim_node *ni = &s->node[i];

	if (q != i && (q == k || (ni->r.peers & (1ULL << q))))
		return ni->seen[q];
	return ~0ULL;
}

static void sim_do_deliver(struct sim *s, int i, int k, bool gap)
{
	struct sim_node *ni = &s->node[i];
	int id = ni->hq[k][ni->hh[k]++];
	struct sim_msg *m = &s->m[id];
	bool capped = false;

	if (!gap && !s->ignore_rule && s->kind != SIM_GAP)
		sim_check_online(s, i, id);
	/* After a gap, a predecessor that never arrived may be passed, one
	 * that arrived and waits in a queue here should not be.
	 */
	if (!gap && s->kind == SIM_GAP) {
		for (int x = 0; x < s->nmsg; x++) {
			const struct sim_msg *mx = &s->m[x];

			if (bs_test(m->pred, x) && (mx->dest & (1ULL << i)) &&
			    mx->arr[i] && !mx->count[i]) {
				s->overtakes++;
				sim_viol(s, &s->viol_online, x, id,
					 "node %d delivers m%d (from %d) before its queued predecessor m%d (from %d), no gap flag",
					 i, id, m->sender, x, mx->sender);
				break;
			}
		}
	}
	/* Delivered ahead of a message that arrived earlier and still waits? */
	for (int q = 0; q < s->n; q++)
		if (ni->hh[q] < ni->ht[q] && s->m[ni->hq[q][ni->hh[q]]].arr[i] < m->arr[i]) {
			s->reordered++;
			break;
		}
	causal_rule_deliver(&ni->r, k, m->v, gap);
	causal_rule_set_head(&ni->r, k, ni->hh[k] < ni->ht[k] ?
			     s->m[ni->hq[k][ni->hh[k]]].stamp : 0);
	m->count[i]++;
	m->pos[i] = ni->ndeliv++;
	m->gap[i] = gap;
	ni->ev[ni->nev++] = id << 1 | 1;
	/* After a gap, what a node takes in is what it knows was sent. */
	if (s->kind == SIM_GAP) {
		for (int x = 0; x < s->nmsg; x++)
			if ((x == id || bs_test(m->pred, x)) &&
			    s->m[x].stamp <= sim_sent(s, i, k, s->m[x].sender))
				bs_set(ni->know, x);
	} else {
		bs_or(ni->know, m->pred);
		bs_set(ni->know, id);
	}
	for (int q = 0; q < s->n; q++) {
		u64 sent = sim_sent(s, i, k, q);
		u64 v = m->v[q] < sent ? m->v[q] : sent;

		if (v > ni->expect[q])
			ni->expect[q] = v;
		if (v < m->v[q] && !capped) {
			capped = true;
			s->distrusted++;
		}
	}
	if (memcmp(ni->expect, ni->r.clock, s->n * sizeof(u64)))
		sim_error(s, id, -1, "node %d: clock after delivering m%d differs from the element-wise max of what it knows was sent",
			  i, id);
	s->deliveries++;
	if (gap)
		s->gaps++;
	tr(s, 'D', i, k, gap, id, m->stamp);
}

/* Deliver one message at node i if any may go. */
static bool sim_deliver(struct sim *s, int i, bool allow_gap)
{
	struct sim_node *ni = &s->node[i];
	int ready[SIM_MAXN], nready = 0, blocked[SIM_MAXN], nblocked = 0;

	if (ni->left)
		return false;
	if (s->ignore_rule) {
		int best = -1;

		for (int k = 0; k < s->n; k++)
			if (ni->hh[k] < ni->ht[k] &&
			    (best < 0 || s->m[ni->hq[k][ni->hh[k]]].arr[i] <
					 s->m[ni->hq[best][ni->hh[best]]].arr[i]))
				best = k;
		if (best < 0)
			return false;
		sim_do_deliver(s, i, best, false);
		return true;
	}
	for (int k = 0; k < s->n; k++) {
		int id;
		u16 wn = 0xffff;
		u64 ws = 0;

		if (ni->hh[k] == ni->ht[k])
			continue;
		id = ni->hq[k][ni->hh[k]];
		if (ni->r.peer[k].head != s->m[id].stamp)
			sim_error(s, id, -1, "node %d: head of %d is %llu, queue holds stamp %llu",
				  i, k, ni->r.peer[k].head, s->m[id].stamp);
		if (causal_rule_ready(&ni->r, k, s->m[id].v, &wn, &ws)) {
			ready[nready++] = k;
		} else {
			blocked[nblocked++] = k;
			s->waits++;
			sim_check_wait(s, i, k, id, wn, ws);
		}
	}
	if (allow_gap && nblocked && chance(s, s->p_gap)) {
		sim_do_deliver(s, i, blocked[rnd(s, nblocked)], true);
		return true;
	}
	if (!nready)
		return false;
	sim_do_deliver(s, i, ready[rnd(s, nready)], false);
	return true;
}

static bool sim_pair_idle(const struct sim *s, int a, int b)
{
	return s->ch[a][b].head == s->ch[a][b].tail &&
	       s->ch[b][a].head == s->ch[b][a].tail;
}

static void sim_break(struct sim *s, int a, int b)
{
	causal_rule_broken(&s->node[a].r, b);
	causal_rule_broken(&s->node[b].r, a);
	s->ch[a][b].up = s->ch[b][a].up = false;
	if (s->node[a].r.peer[b].state != CAUSAL_PEER_BROKEN ||
	    s->node[b].r.peer[a].state != CAUSAL_PEER_BROKEN)
		sim_error(s, -1, -1, "%d <-> %d: not BROKEN after causal_rule_broken", a, b);
	s->breaks++;
	tr(s, 'B', a, b, 0, -1, 0);
}

static void sim_reconnect(struct sim *s, int a, int b)
{
	for (int d = 0; d < 2; d++) {
		int j = d ? b : a, i = d ? a : b;
		struct sim_chan *c = &s->ch[j][i];

		c->up = true;
		c->rx_first = true;
		c->dirty = false;	/* the HELLO carries the clock */
		sim_put(s, j, i, HELLO, -1);
	}
	s->reconnects++;
	tr(s, 'R', a, b, 0, -1, 0);
}

static void sim_leave(struct sim *s, int j)
{
	for (int i = 0; i < s->n; i++) {
		if (!s->ch[j][i].exists || s->node[i].left)
			continue;
		s->ch[j][i].dirty = false;	/* the BYE carries the clock */
		sim_put(s, j, i, BYE, -1);
	}
	s->node[j].left = true;
	s->leaves++;
	tr(s, 'L', j, 0, 0, -1, 0);
}

/* One random churn event: break an idle live pair, reconnect a broken one,
 * or let a node with every channel up leave.
 */
static void sim_churn(struct sim *s)
{
	int a = rnd(s, s->n), b = rnd(s, s->n), op = rnd(s, 10);

	if (a == b || !s->ch[a][b].exists || s->node[a].left || s->node[b].left)
		return;
	if (op < 5 && s->ch[a][b].up && sim_pair_idle(s, a, b) &&
	    s->breaks < SIM_MAXRECONN) {
		sim_break(s, a, b);
	} else if (op < 9 && !s->ch[a][b].up) {
		sim_reconnect(s, a, b);
	} else if (op == 9 && s->leaves < s->n - 2) {
		for (int i = 0; i < s->n; i++)
			if (s->ch[a][i].exists && !s->ch[a][i].up && !s->node[i].left)
				return;
		sim_leave(s, a);
	}
}

/* Drain a random channel, weighted by its speed. */
static bool sim_xmit_random(struct sim *s)
{
	int cand[SIM_MAXN * SIM_MAXN], weight = 0, nc = 0, pick;

	for (int j = 0; j < s->n; j++)
		for (int i = 0; i < s->n; i++)
			if (s->ch[j][i].head < s->ch[j][i].tail) {
				cand[nc++] = j * SIM_MAXN + i;
				weight += s->ch[j][i].speed;
			}
	if (!nc)
		return false;
	pick = rnd(s, weight);
	for (int c = 0; c < nc; c++) {
		struct sim_chan *ch = &s->ch[cand[c] / SIM_MAXN][cand[c] % SIM_MAXN];

		if (pick < ch->speed) {
			sim_transmit(s, cand[c] / SIM_MAXN, cand[c] % SIM_MAXN);
			return true;
		}
		pick -= ch->speed;
	}
	return false;
}

static void sim_reset(struct sim *s, enum sim_kind kind, u64 seed)
{
	struct sim_frame *q[SIM_MAXN][SIM_MAXN];
	u64 sm = seed;

	for (int j = 0; j < SIM_MAXN; j++)
		for (int i = 0; i < SIM_MAXN; i++)
			q[j][i] = s->ch[j][i].q;
	memset(s, 0, sizeof(*s));
	for (int j = 0; j < SIM_MAXN; j++)
		for (int i = 0; i < SIM_MAXN; i++)
			s->ch[j][i].q = q[j][i];
	s->kind = kind;
	s->seed = seed;
	s->focus[0] = s->focus[1] = -1;
	s->rng = splitmix64(&sm) | 1;
}

/* Set up a history: nodes, peer graph, parameters, and the HELLOs. */
static void sim_start(struct sim *s, int n, int target)
{
	static const int bcast_v[] = { 0, 0, 20, 50, 100 };
	static const int flush_v[] = { 0, 10, 50, 100 };
	u64 adj[SIM_MAXN];

	s->n = n;
	s->target = target;
	s->ignore_rule = s->kind == SIM_IGNORE;
	s->no_clock = s->kind == SIM_NOCLOCK;
	s->p_bcast = s->no_clock ? 0 : bcast_v[rnd(s, 5)];
	s->p_flush_now = flush_v[rnd(s, 4)];
	s->p_gap = s->kind == SIM_GAP ? 5 + rnd(s, 30) : 0;
	s->w_send = 1 + rnd(s, 3);
	s->w_xmit = 1 + rnd(s, 8);
	s->w_deliv = 1 + rnd(s, 8);
	s->w_flush = rnd(s, 3);
	s->w_churn = s->kind == SIM_CHURN ? 1 + rnd(s, 2) : 0;

	/* Symmetric peer graph: complete, or random with at least one edge.
	 * A node only sends to peers whose mask has it, so masks match.
	 */
	for (bool any = false; !any;) {
		memset(adj, 0, sizeof(adj));
		for (int a = 0; a < n; a++)
			for (int b = a + 1; b < n; b++)
				if (s->kind != SIM_RESTRICTED || chance(s, 55)) {
					adj[a] |= 1ULL << b;
					adj[b] |= 1ULL << a;
					any = true;
				}
	}
	for (int i = 0; i < n; i++) {
		struct sim_node *ni = &s->node[i];

		causal_rule_init(&ni->r, GROUP, i, n, adj[i]);
		do {
			ni->inc = sim_rand(s);
		} while (!ni->inc);
	}
	for (int j = 0; j < n; j++)
		for (int i = 0; i < n; i++) {
			struct sim_chan *c = &s->ch[j][i];

			c->exists = adj[j] & (1ULL << i);
			c->up = c->exists;
			c->rx_first = true;
			c->speed = 1 + rnd(s, 8);
		}
	for (int j = 0; j < n; j++)
		for (int i = 0; i < n; i++)
			if (s->ch[j][i].exists)
				sim_put(s, j, i, HELLO, -1);
}

/* Random steps until @target messages were sent. */
static void sim_steps(struct sim *s)
{
	int total = s->w_send + s->w_xmit + s->w_deliv + s->w_flush + s->w_churn;
	long guard = 0;

	while (s->nmsg < s->target && !s->errors && guard++ < 200000) {
		int r = rnd(s, total);

		if ((r -= s->w_send) < 0) {
			int j = rnd(s, s->n);

			sim_send(s, j, chance(s, s->p_bcast) ? -1 : rnd(s, s->n));
		} else if ((r -= s->w_xmit) < 0) {
			sim_xmit_random(s);
		} else if ((r -= s->w_deliv) < 0) {
			sim_deliver(s, rnd(s, s->n), true);
		} else if ((r -= s->w_flush) < 0) {
			sim_flush(s, rnd(s, s->n), false);
		} else {
			sim_churn(s);
		}
	}
	s->stopped_short = s->nmsg < s->target;
}

/* Bring everything home: reconnect, flush, then drain and deliver in random
 * order until nothing moves. No gaps here: liveness must hold without them.
 */
static void sim_drain(struct sim *s)
{
	long guard = 0;

	for (int a = 0; a < s->n; a++)
		for (int b = a + 1; b < s->n; b++)
			if (s->ch[a][b].exists && !s->ch[a][b].up &&
			    !s->node[a].left && !s->node[b].left)
				sim_reconnect(s, a, b);
	for (int j = 0; j < s->n; j++)
		if (!s->node[j].left)
			sim_flush(s, j, true);

	while (!s->errors && guard++ < 1000000) {
		bool moved = false;

		if (chance(s, 50))
			moved = sim_xmit_random(s);
		if (!moved) {
			int start = rnd(s, s->n);

			for (int d = 0; d < s->n && !moved; d++)
				moved = sim_deliver(s, (start + d) % s->n, false);
		}
		if (!moved)
			moved = sim_xmit_random(s);
		if (!moved)
			break;
	}
}

/* The oracle: happens-before from the event logs alone, by transitive
 * closure of "sent earlier by the same node" and "delivered at the sender
 * before the send".
 */
static void sim_closure(struct sim *s)
{
	memset(s->closure, 0, sizeof(s->closure));
	for (int n = 0; n < s->n; n++) {
		const struct sim_node *nn = &s->node[n];
		u64 before[BSW] = { 0 };

		for (int e = 0; e < nn->nev; e++) {
			int id = nn->ev[e] >> 1;

			if (!(nn->ev[e] & 1))
				bs_or(s->closure[id], before);
			bs_set(before, id);
		}
	}
	for (int k = 0; k < s->nmsg; k++)
		for (int y = 0; y < s->nmsg; y++)
			if (bs_test(s->closure[y], k))
				bs_or(s->closure[y], s->closure[k]);
}

static void sim_check(struct sim *s)
{
	sim_closure(s);

	for (int y = 0; y < s->nmsg; y++) {
		const struct sim_msg *my = &s->m[y];

		/* The online oracle agrees with the closure, except after
		 * gaps: then it holds what each node knew was sent, which the
		 * event logs alone do not tell.
		 */
		if (s->kind != SIM_GAP && memcmp(s->closure[y], my->pred, sizeof(my->pred)))
			sim_viol(s, &s->viol_oracle, y, -1, "m%d: online and closure oracles differ", y);

		/* (i) exactly once at each addressee, nowhere else. */
		for (int i = 0; i < s->n; i++) {
			bool to_i = my->dest & (1ULL << i);
			int want = to_i ? 1 : 0;

			if (i == my->sender && to_i)
				sim_viol(s, &s->viol_once, y, -1, "m%d addressed to its sender", y);
			if (my->count[i] == want || (to_i && s->node[i].left && !my->count[i]))
				continue;
			sim_viol(s, &s->viol_once, y, -1, "m%d (from %d) delivered %d times at node %d, addressed: %d",
				 y, my->sender, my->count[i], i, to_i);
		}

		/* Vector clocks match happens-before exactly. After gaps a
		 * clock is what its node knew was sent, no longer a consistent
		 * cut: its own entry for the sender of x tells whether x is in.
		 */
		for (int x = 0; x < s->nmsg; x++) {
			bool le = true, hb = bs_test(s->kind == SIM_GAP ? my->pred :
						     s->closure[y], x);

			if (x == y) {
				if (hb)
					sim_viol(s, &s->viol_oracle, y, -1, "m%d precedes itself", y);
				continue;
			}
			if (s->kind == SIM_GAP)
				le = s->m[x].stamp <= my->v[s->m[x].sender];
			else
				for (int q = 0; q < s->n && le; q++)
					le = s->m[x].v[q] <= my->v[q];
			if (le != hb)
				sim_viol(s, &s->viol_vc, x, y, "m%d -> m%d is %d but V(m%d) < V(m%d) is %d",
					 x, y, hb, x, y, le);
		}

		/* (ii) every predecessor addressed to i delivered before it. */
		for (int i = 0; i < s->n; i++) {
			if (!my->count[i])
				continue;
			for (int x = 0; x < s->nmsg; x++) {
				const struct sim_msg *mx = &s->m[x];

				if (!bs_test(s->closure[y], x) || !(mx->dest & (1ULL << i)))
					continue;
				/* After a hold timeout only FIFO per sender holds. */
				if (s->kind == SIM_GAP && mx->sender != my->sender)
					continue;
				if (mx->count[i] && mx->pos[i] < my->pos[i])
					continue;
				sim_viol(s, &s->viol_order, x, y,
					 "node %d delivered m%d (from %d, stamp %llu) %s m%d (from %d, stamp %llu) that precedes it",
					 i, y, my->sender, my->stamp,
					 mx->count[i] ? "before" : "without", x,
					 mx->sender, mx->stamp);
			}
		}
	}

	/* (iii) liveness: nothing in flight to a live node, nothing held. */
	for (int j = 0; j < s->n; j++)
		for (int i = 0; i < s->n; i++) {
			const struct sim_chan *c = &s->ch[j][i];

			if (c->head != c->tail && !s->node[i].left)
				sim_viol(s, &s->viol_live, -1, -1, "%d frames left on %d -> %d",
					 c->tail - c->head, j, i);
			if (s->node[i].left)
				continue;
			if (s->node[i].hh[j] != s->node[i].ht[j]) {
				int id = s->node[i].hq[j][s->node[i].hh[j]];
				u16 wn = 0xffff;
				u64 ws = 0;

				causal_rule_ready(&s->node[i].r, j, s->m[id].v, &wn, &ws);
				sim_viol(s, &s->viol_live, id, -1,
					 "node %d still holds %d message(s) from %d; m%d waits on (%u, %llu)",
					 i, s->node[i].ht[j] - s->node[i].hh[j], j,
					 id, wn, ws);
			}
		}
}

static struct sim *sim_alloc(void)
{
	struct sim *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	for (int j = 0; j < SIM_MAXN; j++)
		for (int i = 0; i < SIM_MAXN; i++) {
			s->ch[j][i].q = calloc(CHAN_CAP, sizeof(struct sim_frame));
			if (!s->ch[j][i].q)
				return NULL;
		}
	return s;
}

static void sim_free(struct sim *s)
{
	if (!s)
		return;
	for (int j = 0; j < SIM_MAXN; j++)
		for (int i = 0; i < SIM_MAXN; i++)
			free(s->ch[j][i].q);
	free(s);
}

static void sim_history(struct sim *s, enum sim_kind kind, u64 seed)
{
	sim_reset(s, kind, seed);
	sim_start(s, 2 + rnd(s, SIM_MAXN - 1), 100 + rnd(s, 301));
	sim_steps(s);
	sim_drain(s);
	if (!s->errors)
		sim_check(s);
}

static u64 env_u64(const char *name, u64 dflt)
{
	const char *e = getenv(name);

	return e && *e ? strtoull(e, NULL, 0) : dflt;
}

static u64 history_seed(enum sim_kind kind, int h)
{
	u64 x = (u64)(kind + 1) << 32 | (u64)h;

	return splitmix64(&x);
}

struct sim_totals {
	int histories;
	long msgs, deliveries, waits, reordered, clock_frames, gaps, breaks;
	long leaves, histories_with_viol, viol_order, viol_live, stopped_short;
	long overtakes, distrusted;
	bool full;		/* at least the default number of histories:
				 * the non-vacuity thresholds apply
				 */
};

/* Run the histories of one kind; with @expect_clean every one must pass. */
static void run_kind(struct __test_metadata *_metadata, enum sim_kind kind,
		     int dflt, bool expect_clean, struct sim_totals *t)
{
	int count = (int)env_u64("CAUSAL_SIM_SEEDS", dflt);
	u64 only = env_u64("CAUSAL_SIM_SEED", 0);
	struct sim *s = sim_alloc();
	struct timespec t0, t1;

	ASSERT_NE(NULL, s);
	memset(t, 0, sizeof(*t));
	t->full = !only && count >= dflt;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int h = 0; h < (only ? 1 : count); h++) {
		u64 seed = only ? only : history_seed(kind, h);

		sim_history(s, kind, seed);
		t->histories++;
		t->msgs += s->nmsg;
		t->deliveries += s->deliveries;
		t->waits += s->waits;
		t->reordered += s->reordered;
		t->clock_frames += s->clock_frames;
		t->gaps += s->gaps;
		t->breaks += s->breaks;
		t->leaves += s->leaves;
		t->stopped_short += s->stopped_short;
		t->overtakes += s->overtakes;
		t->distrusted += s->distrusted;
		t->viol_order += s->viol_order + s->viol_online;
		t->viol_live += s->viol_live;
		if (sim_violations(s))
			t->histories_with_viol++;
		if (s->errors || (expect_clean && sim_violations(s))) {
			int errors = s->errors, viol = sim_violations(s);

			sim_dump(_metadata, s);
			sim_free(s);
			ASSERT_EQ(0, errors);
			ASSERT_EQ(0, viol);
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	TH_LOG("%s: %d histories, %ld messages, %ld deliveries, %ld not-ready checks, %ld out-of-arrival-order deliveries, %ld CLOCK frames, %ld gaps, %ld with unverified entries, %ld breaks, %ld leaves, %.2f s",
	       sim_kind_name[kind], t->histories, t->msgs, t->deliveries,
	       t->waits, t->reordered, t->clock_frames, t->gaps, t->distrusted,
	       t->breaks, t->leaves, (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
	/* Every history sent the messages it was meant to. */
	EXPECT_EQ(0, t->stopped_short);
	sim_free(s);
}

/* Allow long runs with CAUSAL_SIM_SEEDS: the harness timeout is per test. */
FIXTURE(simulation) {
	int unused;
};

FIXTURE_SETUP(simulation)
{
	self->unused = 0;
}

FIXTURE_TEARDOWN(simulation)
{
}

#define SIM_TIMEOUT	3600

TEST_F_TIMEOUT(simulation, full_mesh, SIM_TIMEOUT)
{
	struct sim_totals t;

	run_kind(_metadata, SIM_FULL, 400, true, &t);
	/* Not vacuous: messages did wait and were delivered out of order. */
	if (t.full) {
		EXPECT_GT(t.waits, 1000);
		EXPECT_GT(t.reordered, 1000);
		EXPECT_GT(t.clock_frames, 1000);
	}
}

TEST_F_TIMEOUT(simulation, restricted_peers, SIM_TIMEOUT)
{
	struct sim_totals t;

	run_kind(_metadata, SIM_RESTRICTED, 200, true, &t);
	if (t.full) {
		EXPECT_GT(t.waits, 100);
		EXPECT_GT(t.reordered, 100);
	}
}

TEST_F_TIMEOUT(simulation, churn, SIM_TIMEOUT)
{
	struct sim_totals t;

	run_kind(_metadata, SIM_CHURN, 200, true, &t);
	if (t.full) {
		EXPECT_GT(t.breaks, 50);
		EXPECT_GT(t.leaves, 10);
		EXPECT_GT(t.waits, 100);
	}
}

TEST_F_TIMEOUT(simulation, gaps, SIM_TIMEOUT)
{
	struct sim_totals t;

	run_kind(_metadata, SIM_GAP, 100, true, &t);
	if (t.full) {
		EXPECT_GT(t.gaps, 1000);
		EXPECT_GT(t.distrusted, 1000);
	}
	EXPECT_EQ(t.overtakes, 0);
}

/* Negative control: a receiver that ignores the rule and delivers in
 * arrival order is caught by the oracle in random histories.
 */
TEST_F_TIMEOUT(simulation, control_ignore_rule, SIM_TIMEOUT)
{
	struct sim_totals t;

	run_kind(_metadata, SIM_IGNORE, 40, false, &t);
	TH_LOG("%ld of %d histories violate causal order, %ld violations",
	       t.histories_with_viol, t.histories, t.viol_order);
	if (t.full) {
		EXPECT_GT(t.histories_with_viol, t.histories / 4);
	}
	EXPECT_EQ(0, t.viol_live);
}

/* Negative control: without CLOCK frames messages wait on silent peers
 * forever, and the liveness check says so.
 */
TEST_F_TIMEOUT(simulation, control_no_clock_frames, SIM_TIMEOUT)
{
	struct sim_totals t;

	run_kind(_metadata, SIM_NOCLOCK, 40, false, &t);
	TH_LOG("%ld of %d histories stuck, %ld stuck queues",
	       t.histories_with_viol, t.histories, t.viol_live);
	if (t.full) {
		EXPECT_GT(t.viol_live, 0);
	}
	EXPECT_EQ(0, t.viol_order);
}

/* The classic scene, scripted: with the rule C delivers m1 then m2; a
 * receiver in arrival order delivers m2 first and the oracle reports it.
 */
static void crafted(struct sim *s, bool ignore)
{
	sim_reset(s, ignore ? SIM_IGNORE : SIM_FULL, 0);
	sim_start(s, 3, 0);
	s->p_flush_now = 0;
	for (int j = 0; j < 3; j++)
		for (int i = 0; i < 3; i++)
			if (i != j)
				sim_transmit(s, j, i);	/* HELLOs */
	sim_send(s, 0, -1);			/* m0: A -> B, C */
	sim_transmit(s, 0, 1);
	sim_deliver(s, 1, false);		/* B delivers m0 */
	sim_send(s, 1, 2);			/* m1: B -> C */
	sim_transmit(s, 1, 2);
	sim_deliver(s, 2, false);		/* ignore: m1 now */
	sim_transmit(s, 0, 2);
	sim_drain(s);
	sim_check(s);
}

TEST(control_crafted_history)
{
	struct sim *s = sim_alloc();

	ASSERT_NE(NULL, s);
	crafted(s, false);
	if (s->errors || sim_violations(s))
		sim_dump(_metadata, s);
	EXPECT_EQ(0, s->errors);
	EXPECT_EQ(0, sim_violations(s));
	EXPECT_EQ(2, s->nmsg);
	EXPECT_EQ(0, s->m[0].pos[2]);
	EXPECT_EQ(1, s->m[1].pos[2]);
	EXPECT_GT(s->waits, 0);

	crafted(s, true);
	EXPECT_EQ(0, s->errors);
	EXPECT_EQ(1, s->viol_order);
	EXPECT_EQ(0, s->m[1].pos[2]);
	EXPECT_EQ(1, s->m[0].pos[2]);
	TH_LOG("oracle on the arrival-order receiver: %s", s->viol);
	sim_free(s);
}

TEST_HARNESS_MAIN
