// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of causald's model (user/lib/causal_model.c), of the health
 * formula (user/lib/causal_health.c) and of the /proc/net/causal reader
 * (user/lib/causal_procfs.c), on synthetic events with known answers.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kselftest_harness.h"
#include "causal_health.h"
#include "causal_model.h"
#include "causal_hist.h"
#include "causal_procfs.h"

#define MS	1000000ULL

static struct causal_event ev_of(__u32 type, __u32 group, __u16 node,
				 __u16 peer, __u64 stamp)
{
	struct causal_event ev = {
		.type = type, .group = group, .node = node, .peer = peer,
		.stamp = stamp, .nodes = 3,
	};

	return ev;
}

static void hold(struct causal_model *m, __u64 ts, __u16 node, __u16 peer,
		 __u64 stamp, __u16 wait_node)
{
	struct causal_event ev = ev_of(CAUSAL_EV_HOLD, 7, node, peer, stamp);

	ev.ts_ns = ts;
	ev.wait_node = wait_node;
	ev.wait_stamp = 1;
	causal_model_add(m, &ev);
}

static void deliver(struct causal_model *m, __u16 node, __u16 peer,
		    __u64 stamp, __u64 held_ns)
{
	struct causal_event ev = ev_of(CAUSAL_EV_DELIVER, 7, node, peer, stamp);

	ev.held_ns = held_ns;
	causal_model_add(m, &ev);
}

/* One read of the module's aggregates: @text as one /proc/net/causal. */
static int proc_read(struct causal_model *m, const char *text)
{
	FILE *f = fmemopen((void *)text, strlen(text), "r");
	int ret;

	if (!f)
		return -1;
	causal_model_read_begin(m);
	ret = causal_model_read_procfs(m, f);
	causal_model_read_end(m);
	fclose(f);
	return ret;
}

/* Endpoint (7, @node) of 3 nodes with @clock, and channel lines. */
#define EP(node, clock)							\
	"endpoint group=7 node=" #node " nodes=3 flags=0x0 incarnation=0000000000000001 sockets=1\n" \
	"  clock " clock "\n"						\
	"  peers=0x7 hold_timeout_ms=0 sent=0 delivered=0 held_now=0 gaps=0\n"
#define CH(id, peer, rest)						\
	"  channel peer=" #peer " state=active watermark=0 " rest " id=" #id "\n"

/* Node 2 after its channels left. */
static const char no_channels[] = EP(2, "4 9 0");

/* A causal_totals event of channel @id, node 2's from @peer. */
static void totals(struct causal_model *m, __u64 id, __u16 peer,
		   __u64 delivered, __u64 held, __u64 hold_us, __u16 blamed)
{
	static struct causal_ev_totals t;
	struct causal_event ev = ev_of(CAUSAL_EV_TOTALS, 7, 2, peer, 0);

	memset(&t, 0, sizeof(t));
	t.id = id;
	t.delivered = delivered;
	t.held = held;
	t.hold_sum_us = held * hold_us;
	t.hold_max_us = hold_us;
	t.hold_hist[causal_hist_bucket(hold_us)] = held;
	t.blame_us[blamed] = held * hold_us;
	ev.totals = &t;
	causal_model_add(m, &ev);
}

/* The row (node, peer) of group 7 in a snapshot. */
static struct json_object *row(struct json_object *snap, int node, int peer)
{
	struct json_object *groups, *g, *peers, *r, *v;
	size_t i, j;

	json_object_object_get_ex(snap, "groups", &groups);
	for (i = 0; i < json_object_array_length(groups); i++) {
		g = json_object_array_get_idx(groups, i);
		json_object_object_get_ex(g, "peers", &peers);
		for (j = 0; j < json_object_array_length(peers); j++) {
			r = json_object_array_get_idx(peers, j);
			json_object_object_get_ex(r, "node", &v);
			if (json_object_get_int(v) != node)
				continue;
			json_object_object_get_ex(r, "peer", &v);
			if (json_object_get_int(v) == peer)
				return r;
		}
	}
	return NULL;
}

static __u64 field(struct json_object *obj, const char *key)
{
	struct json_object *v;

	return obj && json_object_object_get_ex(obj, key, &v) ?
	       json_object_get_uint64(v) : ~0ULL;
}

/* The counts are the module's: a read sums the channels of each (node,
 * peer); blame goes to the node waited for, whichever channel waited.
 */
TEST(counts_come_from_the_module)
{
	static const char text[] =
		EP(2, "4 9 0")
		CH(11, 0, "queued=0 sent=5 delivered=4 held_total=0 gaps=0 hold_sum_us=0 hold_max_us=0 hold_missed=0 blame_us=- hold_hist=-")
		CH(12, 1, "queued=1 sent=0 delivered=9 held_total=3 gaps=1 hold_sum_us=400200 hold_max_us=300000 hold_missed=0 blame_us=0:400000 hold_hist=100:1,100000:1,300000:1")
		EP(0, "3 0 0")
		CH(13, 2, "queued=0 sent=0 delivered=0 held_total=0 gaps=0 hold_sum_us=0 hold_max_us=0 hold_missed=0 blame_us=- hold_hist=-");
	struct causal_model_limits l = CAUSAL_MODEL_DEFAULT_LIMITS;
	struct causal_model *m = causal_model_new(&l);
	struct json_object *snap;

	ASSERT_NE(m, NULL);
	ASSERT_EQ(proc_read(m, text), 0);
	snap = causal_model_snapshot(m, 5000);
	EXPECT_EQ(field(row(snap, 2, 1), "delivered"), 9);
	EXPECT_EQ(field(row(snap, 2, 1), "held"), 3);
	EXPECT_EQ(field(row(snap, 2, 1), "held_now"), 1);
	EXPECT_EQ(field(row(snap, 2, 1), "gaps"), 1);
	EXPECT_EQ(field(row(snap, 2, 1), "hold_max_ns"), 300 * MS);
	/* Rank 2 of 3 is the 100 ms bucket, interpolated in it. */
	EXPECT_GE(field(row(snap, 2, 1), "hold_p50_ns"), 100 * MS);
	EXPECT_LE(field(row(snap, 2, 1), "hold_p50_ns"), 107 * MS);
	EXPECT_EQ(field(row(snap, 2, 1), "hold_p99_ns"), 300 * MS);
	EXPECT_EQ(field(row(snap, 2, 1), "blamed_ns"), 0);
	EXPECT_EQ(field(row(snap, 2, 0), "blamed_ns"), 400 * MS);
	EXPECT_EQ(field(row(snap, 2, 0), "delivered"), 4);
	EXPECT_EQ(field(row(snap, 0, 2), "delivered"), 0);
	json_object_put(snap);

	/* A second read replaces the first: counts are not added twice. */
	ASSERT_EQ(proc_read(m, text), 0);
	snap = causal_model_snapshot(m, 5000);
	EXPECT_EQ(field(row(snap, 2, 1), "delivered"), 9);
	EXPECT_EQ(field(row(snap, 2, 0), "blamed_ns"), 400 * MS);
	json_object_put(snap);
	causal_model_free(m);
}

/* A channel that leaves counts on with its totals; one that leaves between
 * two reads counts by its totals alone; one whose totals never come counts
 * as last read, once.
 */
TEST(channels_that_leave_still_count)
{
	static const char both[] =
		EP(2, "4 9 0")
		CH(21, 0, "queued=0 sent=0 delivered=4 held_total=0 gaps=0 hold_sum_us=0 hold_max_us=0 hold_missed=0 blame_us=- hold_hist=-")
		CH(22, 1, "queued=0 sent=0 delivered=9 held_total=1 gaps=0 hold_sum_us=1000 hold_max_us=1000 hold_missed=0 blame_us=0:1000 hold_hist=1000:1");
	struct causal_model_limits l = CAUSAL_MODEL_DEFAULT_LIMITS;
	struct causal_model *m = causal_model_new(&l);
	struct json_object *snap;
	int i;

	ASSERT_NE(m, NULL);
	ASSERT_EQ(proc_read(m, both), 0);
	/* 22 delivered 3 more and left: its totals say so. 21 left silently. */
	totals(m, 22, 1, 12, 2, 1000, 0);
	/* 23 came and went between two reads. */
	totals(m, 23, 1, 5, 1, 2000, 0);
	for (i = 0; i < 6; i++) {
		ASSERT_EQ(proc_read(m, no_channels), 0);
		snap = causal_model_snapshot(m, 5000);
		EXPECT_EQ(field(row(snap, 2, 1), "delivered"), 17);
		EXPECT_EQ(field(row(snap, 2, 1), "held"), 3);
		EXPECT_EQ(field(row(snap, 2, 1), "hold_max_ns"), 2 * MS);
		EXPECT_EQ(field(row(snap, 2, 0), "blamed_ns"), 4 * MS);
		EXPECT_EQ(field(row(snap, 2, 0), "delivered"), 4);
		json_object_put(snap);
	}
	causal_model_free(m);
}

/* Totals that come after their channel was folded as last read (a full
 * ring buffer, a slow drain) add only what the read had not seen.
 */
TEST(late_totals_count_once)
{
	static const char one[] =
		EP(2, "4 9 0")
		CH(31, 1, "queued=0 sent=0 delivered=4 held_total=1 gaps=0 hold_sum_us=1000 hold_max_us=1000 hold_missed=0 blame_us=0:1000 hold_hist=1000:1");
	struct causal_model_limits l = CAUSAL_MODEL_DEFAULT_LIMITS;
	struct causal_model *m = causal_model_new(&l);
	struct json_object *snap;
	int i;

	ASSERT_NE(m, NULL);
	ASSERT_EQ(proc_read(m, one), 0);
	for (i = 0; i < 4; i++)
		ASSERT_EQ(proc_read(m, no_channels), 0);
	/* It delivered 2 more, one of them held 1 ms, before it left. */
	totals(m, 31, 1, 6, 2, 1000, 0);
	for (i = 0; i < 3; i++) {
		ASSERT_EQ(proc_read(m, no_channels), 0);
		snap = causal_model_snapshot(m, 5000);
		EXPECT_EQ(field(row(snap, 2, 1), "delivered"), 6);
		EXPECT_EQ(field(row(snap, 2, 1), "held"), 2);
		EXPECT_EQ(field(row(snap, 2, 0), "blamed_ns"), 2 * MS);
		json_object_put(snap);
	}
	causal_model_free(m);
}

/* Node 2 holds two messages of peer 1 waiting for peer 0: listed until the
 * endpoint's clock says it delivered them, or the endpoint goes.
 */
TEST(held_now_lists_what_each_waits_for)
{
	struct causal_model_limits l = CAUSAL_MODEL_DEFAULT_LIMITS;
	struct causal_model *m = causal_model_new(&l);
	struct json_object *snap, *groups, *held, *h;

	ASSERT_NE(m, NULL);
	hold(m, 1000, 2, 1, 5, 0);
	hold(m, 2000, 2, 1, 6, 0);
	ASSERT_EQ(proc_read(m, EP(2, "0 4 0")), 0);
	snap = causal_model_snapshot(m, 1000 + 250 * MS);
	json_object_object_get_ex(snap, "groups", &groups);
	ASSERT_EQ(json_object_array_length(groups), 1);
	json_object_object_get_ex(json_object_array_get_idx(groups, 0),
				  "held_now", &held);
	ASSERT_EQ(json_object_array_length(held), 2);
	h = json_object_array_get_idx(held, 0);
	if (field(h, "stamp") != 5)
		h = json_object_array_get_idx(held, 1);
	EXPECT_EQ(field(h, "node"), 2);
	EXPECT_EQ(field(h, "peer"), 1);
	EXPECT_EQ(field(h, "stamp"), 5);
	EXPECT_EQ(field(h, "wait_node"), 0);
	EXPECT_EQ(field(h, "wait_stamp"), 1);
	EXPECT_EQ(field(h, "age_ns"), 250 * MS);
	json_object_put(snap);

	/* Peer 1's entry reached 5: that one left, 6 waits on. */
	ASSERT_EQ(proc_read(m, EP(2, "1 5 0")), 0);
	snap = causal_model_snapshot(m, 5000);
	json_object_object_get_ex(snap, "groups", &groups);
	json_object_object_get_ex(json_object_array_get_idx(groups, 0),
				  "held_now", &held);
	ASSERT_EQ(json_object_array_length(held), 1);
	EXPECT_EQ(field(json_object_array_get_idx(held, 0), "stamp"), 6);
	json_object_put(snap);

	/* A deliver event (--audit) takes it at once. */
	deliver(m, 2, 1, 6, MS);
	snap = causal_model_snapshot(m, 5000);
	json_object_object_get_ex(snap, "groups", &groups);
	json_object_object_get_ex(json_object_array_get_idx(groups, 0),
				  "held_now", &held);
	EXPECT_EQ(json_object_array_length(held), 0);
	json_object_put(snap);

	/* The endpoint went: so did what it held. */
	hold(m, 3000, 2, 1, 9, 0);
	ASSERT_EQ(proc_read(m, EP(0, "0 0 0")), 0);
	snap = causal_model_snapshot(m, 5000);
	json_object_object_get_ex(snap, "groups", &groups);
	json_object_object_get_ex(json_object_array_get_idx(groups, 0),
				  "held_now", &held);
	EXPECT_EQ(json_object_array_length(held), 0);
	json_object_put(snap);
	causal_model_free(m);
}

/* Full tables drop and count instead of growing; deletes keep the rest
 * findable (backward-shift deletion under collisions).
 */
TEST(tables_are_bounded)
{
	struct causal_model_limits l = {
		.pairs = 64, .channels = 8, .held = 100, .links = 8,
	};
	struct causal_model *m = causal_model_new(&l);
	struct json_object *snap, *groups, *held;
	__u64 s;

	ASSERT_NE(m, NULL);
	for (s = 1; s <= 150; s++)
		hold(m, s, 2, 1, s, 0);
	snap = causal_model_snapshot(m, 1000);
	EXPECT_EQ(field(snap, "table_drops"), 50);
	json_object_put(snap);
	/* Every other one delivered; the others must still be found. */
	for (s = 1; s <= 100; s += 2)
		deliver(m, 2, 1, s, MS);
	ASSERT_EQ(proc_read(m, EP(2, "0 60 0")), 0);
	snap = causal_model_snapshot(m, 1000);
	json_object_object_get_ex(snap, "groups", &groups);
	json_object_object_get_ex(json_object_array_get_idx(groups, 0),
				  "held_now", &held);
	/* Left: 62, 64, ... 100. */
	EXPECT_EQ(json_object_array_length(held), 20);
	json_object_put(snap);
	/* Totals of more channels than fit still count, at once. */
	for (s = 1; s <= 20; s++)
		totals(m, 100 + s, 0, 1, 0, 0, 0);
	ASSERT_EQ(proc_read(m, EP(2, "0 100 0")), 0);
	snap = causal_model_snapshot(m, 1000);
	EXPECT_EQ(field(row(snap, 2, 0), "delivered"), 20);
	json_object_put(snap);
	causal_model_free(m);
}

static struct causal_ev_link link_of(int a, int b, __u16 sport, __u16 dport)
{
	struct causal_ev_link l = { .family = 2, .sport = sport, .dport = dport };

	l.saddr[0] = 10;
	l.saddr[3] = a;
	l.daddr[0] = 10;
	l.daddr[3] = b;
	return l;
}

/* Retransmits count on the (node, peer) whose connection they are on, and
 * show on the reverse row too when both ends are on this host.
 */
TEST(retransmits_land_on_the_link)
{
	struct causal_model_limits l = CAUSAL_MODEL_DEFAULT_LIMITS;
	struct causal_model *m = causal_model_new(&l);
	struct causal_event ev = ev_of(CAUSAL_EV_PEER, 7, 0, 2, 0);
	struct json_object *snap;
	int i;

	ASSERT_NE(m, NULL);
	ev.joined = 1;
	ev.link = link_of(1, 3, 40000, 7000);
	causal_model_add(m, &ev);
	ev = ev_of(CAUSAL_EV_TCP_RETRANSMIT, 0, 0, CAUSAL_EV_NO_PEER, 0);
	ev.link = link_of(1, 3, 40000, 7000);
	for (i = 0; i < 5; i++)
		causal_model_add(m, &ev);
	/* Another connection: not a channel, not counted. */
	ev.link = link_of(1, 4, 40000, 7000);
	causal_model_add(m, &ev);
	hold(m, 1, 2, 0, 1, 0);
	snap = causal_model_snapshot(m, 1000);
	EXPECT_EQ(field(row(snap, 0, 2), "retransmits"), 5);
	EXPECT_EQ(field(row(snap, 2, 0), "retransmits"), 5);
	EXPECT_EQ(field(snap, "unmatched_tcp"), 1);
	json_object_put(snap);
	causal_model_free(m);
}

/* As analyze counts them: a reset is an error when the host sends or
 * delivers after it, and the teardown of a finished run otherwise.
 */
TEST(resets_after_the_last_message_are_teardown)
{
	static const char before[] =
		EP(0, "3 0 0")
		CH(31, 2, "queued=0 sent=3 delivered=0 held_total=0 gaps=0 hold_sum_us=0 hold_max_us=0 hold_missed=0 blame_us=- hold_hist=-");
	static const char after[] =
		EP(0, "4 0 0")
		CH(31, 2, "queued=0 sent=4 delivered=0 held_total=0 gaps=0 hold_sum_us=0 hold_max_us=0 hold_missed=0 blame_us=- hold_hist=-");
	struct causal_model_limits l = CAUSAL_MODEL_DEFAULT_LIMITS;
	struct causal_model *m = causal_model_new(&l);
	struct causal_event ev = ev_of(CAUSAL_EV_PEER, 7, 0, 2, 0);
	struct causal_event reset;
	struct json_object *snap;

	ASSERT_NE(m, NULL);
	ev.joined = 1;
	ev.link = link_of(1, 3, 40000, 7000);
	causal_model_add(m, &ev);
	reset = ev_of(CAUSAL_EV_TCP_RESET, 0, 0, CAUSAL_EV_NO_PEER, 0);
	reset.link = ev.link;
	reset.tcp_rx = 1;
	causal_model_add(m, &reset);
	causal_model_add(m, &reset);
	/* Reads that show no message after them: teardown, so far. */
	ASSERT_EQ(proc_read(m, before), 0);
	ASSERT_EQ(proc_read(m, before), 0);
	snap = causal_model_snapshot(m, 1000);
	EXPECT_EQ(field(row(snap, 0, 2), "errors"), 0);
	json_object_put(snap);

	/* A message after them: both were mid-run. */
	ASSERT_EQ(proc_read(m, after), 0);
	snap = causal_model_snapshot(m, 1000);
	EXPECT_EQ(field(row(snap, 0, 2), "errors"), 2);
	json_object_put(snap);

	/* Or, with --audit, a deliver event says it at once. */
	causal_model_add(m, &reset);
	deliver(m, 0, 2, 1, 0);
	snap = causal_model_snapshot(m, 1000);
	EXPECT_EQ(field(row(snap, 0, 2), "errors"), 3);
	json_object_put(snap);

	/* One more at the end stays out, whatever else comes. */
	causal_model_add(m, &reset);
	hold(m, 1, 0, 2, 2, 1);
	ASSERT_EQ(proc_read(m, after), 0);
	ASSERT_EQ(proc_read(m, after), 0);
	snap = causal_model_snapshot(m, 1000);
	EXPECT_EQ(field(row(snap, 0, 2), "errors"), 3);
	json_object_put(snap);
	causal_model_free(m);
}

/* The value of series @name{@labels} in @text, -1 if absent. */
static double sample(const char *text, const char *name, const char *labels)
{
	char want[256];
	const char *p;

	snprintf(want, sizeof(want), "\n%s{%s} ", name, labels);
	p = strstr(text, want);
	return p ? strtod(p + strlen(want), NULL) : -1;
}

TEST(prometheus_text)
{
	static const char text[] =
		EP(2, "0 2 0")
		CH(41, 1, "queued=0 sent=0 delivered=2 held_total=1 gaps=0 hold_sum_us=5000 hold_max_us=5000 hold_missed=0 blame_us=0:5000 hold_hist=4864:1");
	struct causal_model_limits l = CAUSAL_MODEL_DEFAULT_LIMITS;
	struct causal_model *m = causal_model_new(&l);
	const char *lab = "group=\"7\",node=\"2\",peer=\"1\"";
	char *out = NULL, le[128];
	unsigned int b, n = 0;
	size_t len = 0;
	FILE *f;

	ASSERT_NE(m, NULL);
	ASSERT_EQ(proc_read(m, text), 0);
	causal_model_set_lost(m, 3);
	f = open_memstream(&out, &len);
	ASSERT_NE(f, NULL);
	causal_model_prometheus(m, f);
	fclose(f);
	EXPECT_NE(strstr(out, "\ncausald_events_lost_total 3\n"), NULL);
	EXPECT_EQ(sample(out, "causal_delivered_total", lab), 2);
	EXPECT_EQ(sample(out, "causal_held_total", lab), 1);
	EXPECT_EQ(sample(out, "causal_blamed_seconds_total",
			 "group=\"7\",node=\"2\",peer=\"0\""), 0.005);
	/* 5000 us is in the module's bucket [4864, 5120): exact counts. */
	snprintf(le, sizeof(le), "%s,le=\"0.004864\"", lab);
	EXPECT_EQ(sample(out, "causal_hold_seconds_bucket", le), 0);
	snprintf(le, sizeof(le), "%s,le=\"0.005120\"", lab);
	EXPECT_EQ(sample(out, "causal_hold_seconds_bucket", le), 1);
	snprintf(le, sizeof(le), "%s,le=\"+Inf\"", lab);
	EXPECT_EQ(sample(out, "causal_hold_seconds_bucket", le), 1);
	EXPECT_EQ(sample(out, "causal_hold_seconds_sum", lab), 0.005);
	EXPECT_EQ(sample(out, "causal_hold_seconds_count", lab), 1);
	for (b = 0; b < CAUSAL_HIST_BUCKETS; b++) {
		snprintf(le, sizeof(le), "%s,le=\"%.6f\"", lab,
			 causal_hist_lower(b) / 1e6);
		n += sample(out, "causal_hold_seconds_bucket", le) >= 0;
	}
	/* 1, 2, 4, 8 us, then 16 per octave from 16 us to 2^25 us. */
	EXPECT_EQ(n, 4 + 21 * 16 + 1);
	EXPECT_NE(strstr(out, "\ncausal_health_score{group=\"7\"} "), NULL);
	free(out);
	causal_model_free(m);
}

TEST(health_formula)
{
	struct causal_health_in in = { .deliveries = 100, .channels = 2 };
	struct causal_health h;

	causal_health_score(&in, &h);
	EXPECT_EQ(h.score, 100);
	EXPECT_STREQ(h.reason, "no holds, gaps or errors");

	/* p99 of 1 s: 40 off; half the deliveries held: 10 off. */
	in.p99_hold_ns = 1000 * MS;
	in.held = 50;
	causal_health_score(&in, &h);
	EXPECT_EQ(h.score, 50);
	EXPECT_NE(strstr(h.reason, "p99 hold"), NULL);

	/* p99 of 10 ms: 40 * 1/3 off. */
	in.p99_hold_ns = 10 * MS;
	in.held = 0;
	causal_health_score(&in, &h);
	EXPECT_EQ(h.score, 87);

	/* One gap per ten deliveries takes the whole 20. */
	in.p99_hold_ns = 0;
	in.gaps = 10;
	causal_health_score(&in, &h);
	EXPECT_EQ(h.score, 80);
	EXPECT_NE(strstr(h.reason, "hold timeout"), NULL);

	/* Errors on every channel, plus everything else: floor at 0. */
	in.gaps = 100;
	in.held = 100;
	in.errors = 2;
	in.p99_hold_ns = 100000 * MS;
	causal_health_score(&in, &h);
	EXPECT_EQ(h.score, 0);

	/* Any violation: 0, and it is the reason. */
	memset(&in, 0, sizeof(in));
	in.deliveries = 10;
	in.violations = 1;
	causal_health_score(&in, &h);
	EXPECT_EQ(h.score, 0);
	EXPECT_NE(strstr(h.reason, "happens-before"), NULL);
}

TEST(procfs_parse)
{
	static const char text[] =
		"endpoint group=7 node=2 nodes=3 flags=0x4 incarnation=00000000deadbeef sockets=2\n"
		"  clock 3 1 0\n"
		"  peers=0x3 hold_timeout_ms=0 sent=0 delivered=4 held_now=1 gaps=0\n"
		"  channel peer=0 state=active watermark=3 queued=0 bytes=0 oldest_hold_us=0 sent=0 delivered=3 held_total=2 gaps=0 errors=0 hold_sum_us=5170 hold_max_us=5120 hold_missed=0 blame_us=1:5150 hold_hist=50:1,5120:1 local=10.98.2.2:7000 remote=10.98.2.1:40000\n"
		"  channel peer=- state=failed watermark=0 queued=0 bytes=0 oldest_hold_us=0 sent=0 delivered=0 held_total=0 gaps=0 errors=1 hold_sum_us=0 hold_max_us=0 hold_missed=0 blame_us=- hold_hist=- last_error=magic local=[::1]:7000 remote=[::1]:40001\n";
	static __u64 hist[CAUSAL_HIST_BUCKETS];
	struct json_object *eps, *ep, *chs, *ch, *v;
	FILE *f = fmemopen((void *)text, sizeof(text) - 1, "r");

	ASSERT_NE(f, NULL);
	eps = causal_procfs_parse(f);
	fclose(f);
	ASSERT_NE(eps, NULL);
	ASSERT_EQ(json_object_array_length(eps), 1);
	ep = json_object_array_get_idx(eps, 0);
	EXPECT_EQ(field(ep, "group"), 7);
	EXPECT_EQ(field(ep, "flags"), 4);
	EXPECT_EQ(field(ep, "incarnation"), 0xdeadbeef);
	EXPECT_EQ(field(ep, "held_now"), 1);
	ASSERT_TRUE(json_object_object_get_ex(ep, "clock", &v));
	EXPECT_EQ(json_object_array_length(v), 3);
	ASSERT_TRUE(json_object_object_get_ex(ep, "channels", &chs));
	ASSERT_EQ(json_object_array_length(chs), 2);
	ch = json_object_array_get_idx(chs, 0);
	EXPECT_EQ(field(ch, "peer"), 0);
	ASSERT_TRUE(json_object_object_get_ex(ch, "remote", &v));
	EXPECT_STREQ(json_object_get_string(v), "10.98.2.1:40000");
	EXPECT_EQ(field(ch, "hold_max_us"), 5120);
	ASSERT_TRUE(json_object_object_get_ex(ch, "blame_us", &v));
	EXPECT_EQ(json_object_object_length(v), 1);
	EXPECT_EQ(field(v, "1"), 5150);
	ASSERT_TRUE(json_object_object_get_ex(ch, "hold_hist", &v));
	EXPECT_EQ(json_object_object_length(v), 2);
	EXPECT_EQ(field(v, "50"), 1);
	EXPECT_EQ(field(v, "5120"), 1);
	/* Back into buckets, as the module counted them. */
	EXPECT_EQ(causal_procfs_hist(ch, hist), 2);
	EXPECT_EQ(hist[causal_hist_bucket(50)], 1);
	EXPECT_EQ(hist[causal_hist_bucket(5120)], 1);
	EXPECT_EQ(causal_hist_quantile(hist, 50, 100), 52);
	EXPECT_EQ(causal_hist_quantile(hist, 100, 100), 5376);
	ch = json_object_array_get_idx(chs, 1);
	EXPECT_EQ(causal_procfs_hist(ch, hist), 0);
	ASSERT_TRUE(json_object_object_get_ex(ch, "hold_hist", &v));
	EXPECT_EQ(json_object_object_length(v), 0);
	ASSERT_TRUE(json_object_object_get_ex(ch, "peer", &v));
	EXPECT_EQ(v, NULL);
	ASSERT_TRUE(json_object_object_get_ex(ch, "last_error", &v));
	EXPECT_STREQ(json_object_get_string(v), "magic");
	json_object_put(eps);
}

TEST(procfs_rejects_other_text)
{
	static const char *const texts[] = {
		"endpoint group=7\nsomething else\n",
		"endpoint group=7\n  channel peer=0 hold_hist=50\n",
		"endpoint group=7\n  channel peer=0 hold_hist=50:1,\n",
		"endpoint group=7\n  channel peer=0 blame_us=x:1\n",
		"endpoint group=7\n  channel peer=0 blame_us=1:2:3\n",
	};
	unsigned int i;

	for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		FILE *f = fmemopen((void *)texts[i], strlen(texts[i]), "r");

		ASSERT_NE(f, NULL);
		EXPECT_EQ(causal_procfs_parse(f), NULL)
			TH_LOG("accepted: %s", texts[i]);
		fclose(f);
	}
}

TEST_HARNESS_MAIN
