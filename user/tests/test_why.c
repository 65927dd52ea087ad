// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of the causal chain of a delivery (user/lib/causal_why.c), on
 * scenes with known answers: a message held for a cause that came late
 * over a lossy link, one held behind its own channel, a cause sent and
 * never delivered (and given up by a gap), a cause never sent, a cause
 * whose sender has no log, a delivery that waited for nothing, times on
 * two hosts' clocks related by their meta lines, and a message that is
 * not in the logs.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "causal_why.h"
#include "kselftest_harness.h"
#include "test_scene.h"

#define MS	1000000ULL

/*
 * A (0) broadcasts 0:1; B (1) delivers it and sends 1:1 to C (2), then 1:2.
 * The link from A to C is slow and lossy: 0:1 takes 400 ms to C, with two
 * retransmits by A's end while it is on the way (and one outside that
 * window, and one by C's end, neither counted). C holds 1:1 for 0:1, and
 * 1:2 behind 1:1. Everything on one host's clock unless @hosts.
 */
static void slow_link(struct scene *sc, bool hosts)
{
	sc_init(sc, 7, 3);
	if (!hosts)
		for (int i = 0; i < 3; i++)
			strcpy(sc->host[i], "h");
	sc_peer(sc, 2, 10 * MS, 0, "10.0.0.3", 7000, "10.0.0.1", 41000);
	sc_peer(sc, 0, 10 * MS, 2, "10.0.0.1", 41000, "10.0.0.3", 7000);
	sc_send(sc, 0, 100 * MS, 1, -1);
	sc_deliver(sc, 1, 101 * MS, 0, 1, 0, false);
	sc_send(sc, 1, 102 * MS, 1, 2);
	sc_send(sc, 1, 103 * MS, 2, 2);
	sc_arrive(sc, 2, 104 * MS, 1, 1);
	sc_hold(sc, 2, 104 * MS, 1, 1, 0, 1);
	sc_arrive(sc, 2, 105 * MS, 1, 2);
	sc_tcp(sc, sc->host[0], CAUSAL_EV_TCP_RETRANSMIT, 200 * MS,
	       "10.0.0.1", 41000, "10.0.0.3", 7000);
	sc_tcp(sc, sc->host[0], CAUSAL_EV_TCP_RETRANSMIT, 300 * MS,
	       "10.0.0.1", 41000, "10.0.0.3", 7000);
	sc_tcp(sc, sc->host[0], CAUSAL_EV_TCP_RETRANSMIT, 900 * MS,
	       "10.0.0.1", 41000, "10.0.0.3", 7000);
	sc_tcp(sc, sc->host[2], CAUSAL_EV_TCP_RETRANSMIT, 250 * MS,
	       "10.0.0.3", 7000, "10.0.0.1", 41000);
	sc_deliver(sc, 2, 500 * MS, 0, 1, 0, false);
	sc_deliver(sc, 2, 500 * MS, 1, 1, 396 * MS, false);
	sc_deliver(sc, 2, 500 * MS, 1, 2, 395 * MS, false);
}

static int explain(struct scene *sc, __u16 node, __u16 sender, __u64 stamp,
		   struct cana_index *ix, struct cwhy_chain *c)
{
	int ret = cana_index_build(ix, sc->s, true, sc->group);

	return ret ? ret : cwhy_explain(ix, sc->group, node, sender, stamp, c);
}

static void done(struct scene *sc, struct cana_index *ix, struct cwhy_chain *c)
{
	cwhy_free(c);
	cana_index_free(ix);
	clog_store_free(sc->s);
}

TEST(late_cause_over_lossy_link)
{
	struct cana_index ix;
	struct cwhy_chain c;
	struct scene sc;
	char text[512];

	slow_link(&sc, false);
	ASSERT_EQ(0, explain(&sc, 2, 1, 1, &ix, &c));
	ASSERT_EQ(2, c.n);
	EXPECT_EQ(CWHY_LATE, c.root);
	EXPECT_EQ(1, c.step[0].sender);
	EXPECT_TRUE(c.step[0].waits);
	EXPECT_EQ(0, c.step[0].wait_node);
	EXPECT_EQ(1, c.step[0].wait_stamp);
	EXPECT_EQ(396 * MS, c.step[0].held_ns);
	EXPECT_EQ(0, c.step[1].sender);
	EXPECT_TRUE(c.step[1].has_transit);
	EXPECT_EQ(400 * MS, c.step[1].transit_ns);
	EXPECT_EQ(2, c.step[1].retransmits);
	cwhy_root_text(sc.s, &c, text, sizeof(text));
	EXPECT_STREQ("0:1 came late: 400.0 ms on the way from node 0 (host h) to node 2, 2 TCP retransmits meanwhile",
		     text);
	cwhy_advice(sc.s, &c, text, sizeof(text));
	EXPECT_NE(NULL, strstr(text, "loses packets")) TH_LOG("%s", text);
	done(&sc, &ix, &c);
}

TEST(held_behind_its_channel)
{
	struct cana_index ix;
	struct cwhy_chain c;
	struct scene sc;

	slow_link(&sc, false);
	ASSERT_EQ(0, explain(&sc, 2, 1, 2, &ix, &c));
	ASSERT_EQ(3, c.n);
	EXPECT_TRUE(c.step[0].behind);
	EXPECT_FALSE(c.step[0].waits);
	EXPECT_EQ(1, c.step[0].wait_node);
	EXPECT_EQ(1, c.step[0].wait_stamp);
	EXPECT_EQ(1, c.step[1].stamp);
	EXPECT_TRUE(c.step[1].waits);
	EXPECT_EQ(0, c.step[2].sender);
	EXPECT_EQ(CWHY_LATE, c.root);
	done(&sc, &ix, &c);
}

TEST(not_held)
{
	struct cana_index ix;
	struct cwhy_chain c;
	struct scene sc;
	char text[512];

	slow_link(&sc, false);
	ASSERT_EQ(0, explain(&sc, 1, 0, 1, &ix, &c));
	EXPECT_EQ(1, c.n);
	EXPECT_EQ(CWHY_NOT_HELD, c.root);
	cwhy_advice(sc.s, &c, text, sizeof(text));
	EXPECT_STREQ("nothing to do", text);
	done(&sc, &ix, &c);
}

TEST(not_in_the_logs)
{
	struct cana_index ix;
	struct cwhy_chain c;
	struct scene sc;

	slow_link(&sc, false);
	EXPECT_EQ(-ENOENT, explain(&sc, 2, 1, 9, &ix, &c));
	done(&sc, &ix, &c);
}

/* Hosts a, b, c whose monotonic clocks differ: their meta lines relate
 * them, or the time on the way is not known.
 */
static void add_meta(struct scene *sc, const char *host, __u64 started,
		     __u64 realtime)
{
	static struct clog_line l;

	clog_store_begin(sc->s, host);
	memset(&l, 0, sizeof(l));
	l.kind = CLOG_META;
	strcpy(l.host, host);
	l.meta.started_ts = started;
	l.meta.realtime_ns = realtime;
	clog_store_add(sc->s, &l);
}

TEST(transit_across_hosts)
{
	struct cana_index ix;
	struct cwhy_chain c;
	struct scene sc;
	char t[64];

	/* No meta lines: the chain stands, the time on the way is unknown. */
	slow_link(&sc, true);
	ASSERT_EQ(0, explain(&sc, 2, 1, 1, &ix, &c));
	EXPECT_EQ(CWHY_LATE, c.root);
	EXPECT_FALSE(c.step[1].has_transit);
	EXPECT_EQ(0, c.step[1].retransmits);
	done(&sc, &ix, &c);

	/* c's clock reads 1 s more than a's for the same instant. */
	slow_link(&sc, true);
	add_meta(&sc, "a", 0, 1700000000000000000ULL);
	add_meta(&sc, "c", 1000 * MS, 1700000000000000000ULL);
	ASSERT_EQ(0, explain(&sc, 2, 1, 1, &ix, &c));
	ASSERT_TRUE(c.step[1].has_transit);
	EXPECT_EQ(-600 * MS, c.step[1].transit_ns);
	cwhy_time_str(&c, c.host, 500 * MS, t, sizeof(t));
	EXPECT_STREQ("2023-11-14 22:13:19.500000 UTC", t);
	done(&sc, &ix, &c);
}

/* 0:1 sent to C and never delivered there; C's 1:1 waits for it until a
 * gap lets it go (@gap) or to the end of the log.
 */
static void lost_cause(struct scene *sc, bool gap)
{
	sc_init(sc, 7, 3);
	sc_send(sc, 0, 100 * MS, 1, -1);
	sc_deliver(sc, 1, 101 * MS, 0, 1, 0, false);
	sc_send(sc, 1, 102 * MS, 1, 2);
	sc_arrive(sc, 2, 104 * MS, 1, 1);
	sc_hold(sc, 2, 104 * MS, 1, 1, 0, 1);
	if (gap)
		sc_deliver(sc, 2, 1104 * MS, 1, 1, 1000 * MS, true);
}

TEST(cause_never_came)
{
	struct cana_index ix;
	struct cwhy_chain c;
	struct scene sc;
	char text[512];

	lost_cause(&sc, true);
	ASSERT_EQ(0, explain(&sc, 2, 1, 1, &ix, &c));
	ASSERT_EQ(2, c.n);
	EXPECT_EQ(CWHY_MISSING, c.root);
	EXPECT_TRUE(c.step[0].gap);
	EXPECT_EQ(CLOG_NONE, c.step[1].rec);
	EXPECT_TRUE(c.step[1].has_send);
	cwhy_root_text(sc.s, &c, text, sizeof(text));
	EXPECT_STREQ("0:1 never arrived at node 2: node 0 (host a) sent it at 0.100000; the hold timeout gave it up (a gap)",
		     text);
	done(&sc, &ix, &c);

	lost_cause(&sc, false);
	ASSERT_EQ(0, explain(&sc, 2, 1, 1, &ix, &c));
	EXPECT_FALSE(c.step[0].delivered);
	EXPECT_EQ(CWHY_MISSING, c.root);
	done(&sc, &ix, &c);
}

TEST(cause_never_sent)
{
	struct cana_index ix;
	struct cwhy_chain c;
	struct scene sc;
	char text[512];

	/* 1:1 waits for 0:5; node 0's log stops at 0:3. */
	sc_init(&sc, 7, 3);
	for (int i = 1; i <= 3; i++)
		sc_send(&sc, 0, i * 100 * MS, i, 1);
	sc_send(&sc, 1, 400 * MS, 1, 2);
	sc_arrive(&sc, 2, 401 * MS, 1, 1);
	sc_hold(&sc, 2, 401 * MS, 1, 1, 0, 5);
	ASSERT_EQ(0, explain(&sc, 2, 1, 1, &ix, &c));
	EXPECT_EQ(CWHY_NOT_SENT, c.root);
	EXPECT_EQ(3, c.last_send_stamp);
	cwhy_root_text(sc.s, &c, text, sizeof(text));
	EXPECT_STREQ("node 0 never sent 0:5 in these logs: its last send was 0:3 at 0.300000",
		     text);
	done(&sc, &ix, &c);
}

TEST(cause_without_a_log)
{
	struct cana_index ix;
	struct cwhy_chain c;
	struct scene sc;
	char text[512];

	/* 1:1 waits for 3:1; node 3 has no events at all. */
	sc_init(&sc, 7, 4);
	sc_send(&sc, 1, 400 * MS, 1, 2);
	sc_arrive(&sc, 2, 401 * MS, 1, 1);
	sc_hold(&sc, 2, 401 * MS, 1, 1, 3, 1);
	ASSERT_EQ(0, explain(&sc, 2, 1, 1, &ix, &c));
	EXPECT_EQ(CWHY_NO_LOG, c.root);
	cwhy_advice(sc.s, &c, text, sizeof(text));
	EXPECT_STREQ("add the log of node 3's host (causald --audit there) to see why",
		     text);
	done(&sc, &ix, &c);
}

TEST_HARNESS_MAIN
