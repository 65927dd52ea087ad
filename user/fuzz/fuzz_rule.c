// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer harness over the delivery rule (kmod/lib/causal_rule.c).
 *
 * The input is the history of one endpoint of a small group: its size, its
 * node and peer mask, then operations: frames arriving from peers (encoded
 * and decoded with the shared codec, clocks taken from the input: honest,
 * forged, backwards, near 2^64-1), channels breaking or closed by their
 * owner, own sends, peer-mask changes, deliveries of ready heads and hold
 * timeouts delivering blocked ones as gaps. DATA waits in one FIFO per peer,
 * whose head is told to the rule as the module does (kmod/causal_rx.c).
 * Each step is checked against the spec (/work/shared/spec/causal.md,
 * "Delivery rule" and "Trust") and docs/design.md:
 *  (a) a delivery that is not a gap never passes a queued DATA from a peer
 *      k stamped <= its V[k], and causal_rule_ready() and known() are the
 *      documented rule exactly (so nothing waits for no reason);
 *  (b) every DATA accepted is delivered once or dropped by its channel's
 *      owner: at the end of the input, hold timeouts empty every queue;
 *  (c) the endpoint never adopts into its clock more than it knows was
 *      sent: for a peer k, the highest stamp of k in a frame k sent;
 *      entries of nodes outside the peer mask cannot be checked and are
 *      bounded only by what messages delivered meanwhile claimed;
 *  (d) refused frames change nothing; ASan and UBSan are on;
 *  (e) a peer that gets, in each of our frames to it, the entries changed
 *      since our last one (wire version 2) holds our whole clock.
 * A violation aborts with a message. FUZZ_RULE_TRACE=1 prints every step.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "causal_rule.h"

#define MAX_NODES	8
#define MAX_MSGS	512
#define GROUP		0x0c0ffee1U
#define MAX_LEN		(1U << 20)
#define FRAME_MAX	(CAUSAL_WIRE_HDR_LEN + 8 * CAUSAL_WIRE_MAX_NODES + CAUSAL_WIRE_HELLO_LEN)

enum { QUEUED = 1, DELIVERED, DROPPED };

struct msg {
	u16 sender;
	u8 state;
	u64 v[MAX_NODES];
};

struct peer {
	bool live;		/* a channel whose HELLO was accepted */
	u64 inc;		/* the incarnation its HELLOs use */
	u64 seen;		/* highest own stamp in frames it sent us */
	u64 last[MAX_NODES];	/* clock of its last accepted frame */
	u64 floor;		/* stamps up to here were given up by a gap */
	int q[MAX_MSGS];	/* its DATA, oldest first */
	int qh, qt;
};

struct model {
	struct causal_rule r;
	u16 nodes, self;
	u64 sends;
	u64 outside[MAX_NODES];	/* most claimed while not a peer */
	struct peer p[MAX_NODES];
	struct msg m[MAX_MSGS];
	int nmsg;
	/* What each peer holds of our clock from our frames to it, sent
	 * with the entries changed since the generation of the last one.
	 */
	u64 view[MAX_NODES][MAX_NODES];
	u64 view_gen[MAX_NODES];
	const u8 *in;
	size_t left;
};

static bool tracing;
static struct model md;

__attribute__((format(printf, 1, 2)))
static void trace(const char *fmt, ...)
{
	va_list ap;

	if (!tracing)
		return;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
}

__attribute__((noreturn, format(printf, 1, 2)))
static void fail(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "fuzz_rule: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

static u8 get8(void)
{
	if (!md.left)
		return 0;
	md.left--;
	return *md.in++;
}

static u64 get64(void)
{
	u64 x = 0;

	for (int i = 0; i < 8; i++)
		x = x << 8 | get8();
	return x;
}

static bool is_peer(u16 k)
{
	return k != md.self && (md.r.peers & (1ULL << k));
}

static const char *vstr(const u64 *v)
{
	static char buf[MAX_NODES * 22 + 4];
	int n = 0;

	for (u16 k = 0; k < md.nodes; k++)
		n += snprintf(buf + n, sizeof(buf) - n, "%s%llu", k ? " " : "(",
			      (unsigned long long)v[k]);
	snprintf(buf + n, sizeof(buf) - n, ")");
	return buf;
}

/* One clock entry from one input byte: near the peer's last value, behind
 * it, near 2^64-1, or any 64-bit value.
 */
static u64 entry(u64 base, bool new_send)
{
	u8 c = get8();
	u64 d = c & 0x3f;

	switch (c >> 6) {
	case 0:
		return base + d + new_send;
	case 1:
		return base >= d ? base - d : 0;
	case 2:
		return UINT64_MAX - d;
	default:
		return get64();
	}
}

static u64 model_known(u16 k)
{
	const struct peer *p = &md.p[k];

	if (p->qh < p->qt)
		return md.m[p->q[p->qh]].v[k] - 1;
	return p->seen > p->floor ? p->seen : p->floor;
}

static bool model_ready(u16 j, const u64 *v)
{
	for (u16 k = 0; k < md.nodes; k++)
		if (k != j && is_peer(k) && v[k] > model_known(k))
			return false;
	return true;
}

/* The rule's state against the model, after every step. */
static void check_state(void)
{
	for (u16 k = 0; k < md.nodes; k++) {
		const struct peer *p = &md.p[k];
		u64 head = p->qh < p->qt ? md.m[p->q[p->qh]].v[k] : 0;
		u64 bound = p->seen > md.outside[k] ? p->seen : md.outside[k];

		if (k == md.self) {
			if (md.r.clock[k] != md.sends)
				fail("own clock entry %llu after %llu sends",
				     (unsigned long long)md.r.clock[k],
				     (unsigned long long)md.sends);
			continue;
		}
		if (md.r.peer[k].head != head)
			fail("head of %u is %llu, its queue starts at %llu", k,
			     (unsigned long long)md.r.peer[k].head, (unsigned long long)head);
		if (causal_rule_known(&md.r, k) != model_known(k))
			fail("known(%u) = %llu, the rule says %llu", k,
			     (unsigned long long)causal_rule_known(&md.r, k),
			     (unsigned long long)model_known(k));
		if (md.r.clock[k] > bound)
			fail("clock[%u] = %llu: more than node %u is known to have sent (%llu; outside the peer mask %llu), clock %s",
			     k, (unsigned long long)md.r.clock[k], k,
			     (unsigned long long)p->seen,
			     (unsigned long long)md.outside[k], vstr(md.r.clock));
	}
}

/* A frame of ours to @k (a send, or a CLOCK): with the entries changed
 * since our last frame to it, @k holds our whole clock again.
 */
static void frame_to(u16 k)
{
	u64 changed = causal_rule_changed(&md.r, md.view_gen[k]);

	for (u16 i = 0; i < md.nodes; i++)
		if (changed & (1ULL << i))
			md.view[k][i] = md.r.clock[i];
	md.view_gen[k] = md.r.gen;
	for (u16 i = 0; i < md.nodes; i++)
		if (md.view[k][i] != md.r.clock[i])
			fail("node %u rebuilt entry %u as %llu from the entries changed, the clock is %s",
			     k, i, (unsigned long long)md.view[k][i],
			     vstr(md.r.clock));
}

/* The channel to @k failed or closed: the rule hears of it as the module
 * tells it.
 */
static void channel_down(u16 k)
{
	if (!md.p[k].live)
		return;
	md.p[k].live = false;
	causal_rule_broken(&md.r, k);
}

/* The rule took a frame from @peer: the model follows. */
static void record(u16 peer, const struct causal_frame *f, const u64 *v, bool first)
{
	struct peer *p = &md.p[peer];
	struct msg *m;

	if (first) {
		/* Only a HELLO opens a channel, and only while none is up. */
		if (f->type != CAUSAL_FRAME_HELLO || p->live)
			fail("%s accepted as a new channel's first frame from %u",
			     f->type == CAUSAL_FRAME_HELLO ? "HELLO with a channel up," :
			     "a frame other than HELLO", peer);
		p->live = true;
	}
	if (v[peer] < p->seen)
		fail("accepted a frame from %u whose own entry went back", peer);
	p->seen = v[peer];
	memcpy(p->last, v, md.nodes * sizeof(u64));
	if (f->type != CAUSAL_FRAME_DATA)
		return;

	m = &md.m[md.nmsg];
	m->sender = peer;
	m->state = QUEUED;
	memcpy(m->v, v, md.nodes * sizeof(u64));
	p->q[p->qt++] = md.nmsg++;
	if (p->qt - p->qh == 1)
		causal_rule_set_head(&md.r, peer, m->v[peer]);
}

/* A frame on the channel to @k, or with @fresh on a new connection. */
static void op_frame(u8 op)
{
	static struct causal_rule before;
	u8 type = (op & 3) + CAUSAL_FRAME_HELLO, buf[FRAME_MAX];
	bool fresh = op & 4, raw = op & 8;
	u64 v[CAUSAL_WIRE_MAX_NODES] = { 0 };
	u16 k = get8() % md.nodes, peer;
	struct causal_frame f = {
		.type = type, .nodes = md.nodes, .sender = k,
		.len = type == CAUSAL_FRAME_HELLO ? CAUSAL_WIRE_HELLO_LEN :
		       type == CAUSAL_FRAME_DATA ? get8() : 0,
	};
	struct causal_hello h = {
		.group = GROUP, .flags = 0, .incarnation = md.p[k].inc,
	};
	enum causal_proto_err err;
	struct causal_frame got;
	struct causal_hello hgot = { 0 };
	u64 got_v[CAUSAL_WIRE_MAX_NODES];
	bool first;

	if (raw) {
		/* Any header fields the codec lets through. */
		f.flags = get8() & 1 ? CAUSAL_WIRE_F_BROADCAST : 0;
		f.nodes = get8() % (CAUSAL_WIRE_MAX_NODES + 1);
		f.sender = get8() % CAUSAL_WIRE_MAX_NODES;
		h.group ^= get8() & 1;
		h.incarnation = get8() & 1 ? get64() : h.incarnation;
	}
	if (type == CAUSAL_FRAME_DATA && md.nmsg >= MAX_MSGS)
		return;
	for (u16 i = 0; i < md.nodes && i < CAUSAL_WIRE_MAX_NODES; i++)
		v[i] = entry(md.p[k].last[i], i == k && type == CAUSAL_FRAME_DATA);
	if (raw)
		for (u16 i = md.nodes; i < f.nodes; i++)
			v[i] = entry(0, false);

	causal_wire_put_hdr(buf, &f);
	causal_wire_put_clock(buf + CAUSAL_WIRE_HDR_LEN, v, f.nodes);
	causal_wire_put_hello(buf + CAUSAL_WIRE_HDR_LEN + 8 * f.nodes, &h);

	first = fresh || !md.p[k].live;
	trace("%s %s from %u on %s%s: %s\n", fresh ? "fresh" : "frame",
	      type == CAUSAL_FRAME_HELLO ? "HELLO" : type == CAUSAL_FRAME_DATA ? "DATA" :
	      type == CAUSAL_FRAME_CLOCK ? "CLOCK" : "BYE", f.sender,
	      first ? "a new channel" : "its channel", raw ? " (raw)" : "", vstr(v));

	/* What the module does: the codec, then the rule. */
	err = causal_wire_get_hdr(buf, &got, MAX_LEN);
	if (!err) {
		causal_wire_get_clock(buf + CAUSAL_WIRE_HDR_LEN, got_v, got.nodes);
		if (got.type == CAUSAL_FRAME_HELLO)
			err = causal_wire_get_hello(buf + CAUSAL_WIRE_HDR_LEN + 8 * got.nodes,
						    &hgot);
	}
	if (!err) {
		/* A new channel belongs to whoever its first frame names. */
		peer = first ? got.sender : k;
		memcpy(&before, &md.r, sizeof(before));
		err = causal_rule_accept(&md.r, peer, &got, got_v, &hgot, first);
		if (err && memcmp(&before, &md.r, sizeof(before)))
			fail("frame refused (%s) but the rule changed", causal_proto_err_name(err));
	}
	if (err) {
		trace("  refused: %s\n", causal_proto_err_name(err));
		/* The failed channel goes; a refused new connection takes
		 * nothing down with it.
		 */
		if (!first)
			channel_down(k);
		return;
	}

	record(peer, &got, got_v, first);
}

/* Hand out the head of @j; the caller checked that it may go. */
static void deliver(u16 j, bool gap)
{
	struct peer *p = &md.p[j];
	int id = p->q[p->qh];
	struct msg *y = &md.m[id];
	u64 before[MAX_NODES];

	trace("  deliver%s m%d from %u %s\n", gap ? " (gap)" : "", id, j, vstr(y->v));
	if (y->state != QUEUED)
		fail("m%d delivered twice or after it was dropped", id);
	if (!gap) {
		for (int x = 0; x < md.nmsg; x++) {
			const struct msg *mx = &md.m[x];
			u16 k = mx->sender;

			if (mx->state == QUEUED && k != j && is_peer(k) && mx->v[k] <= y->v[k])
				fail("m%d from %u %s delivered before m%d from %u %s, which it depends on and which arrived",
				     id, j, vstr(y->v), x, k, vstr(mx->v));
		}
	}
	memcpy(before, md.r.clock, sizeof(before));
	causal_rule_deliver(&md.r, j, y->v, gap);
	p->qh++;
	causal_rule_set_head(&md.r, j, p->qh < p->qt ? md.m[p->q[p->qh]].v[j] : 0);
	y->state = DELIVERED;

	for (u16 k = 0; k < md.nodes; k++) {
		u64 want = y->v[k];

		if (k == md.self)
			continue;
		if (!is_peer(k) && k != j && y->v[k] > md.outside[k])
			md.outside[k] = y->v[k];
		if (gap && k != j && y->v[k] > md.p[k].floor)
			md.p[k].floor = y->v[k];
		/* It merges at least what it knows was sent. */
		if ((is_peer(k) || k == j) && want > md.p[k].seen)
			want = md.p[k].seen;
		if (md.r.clock[k] < before[k] || md.r.clock[k] < want)
			fail("clock[%u] went from %llu to %llu delivering %s", k,
			     (unsigned long long)before[k], (unsigned long long)md.r.clock[k],
			     vstr(y->v));
	}
}

/* The head of @j is delivered if the rule lets it, or by a hold timeout
 * with @gap. Returns whether something was delivered.
 */
static bool op_deliver(u16 j, bool gap)
{
	const struct peer *p = &md.p[j];
	const struct msg *y;
	u16 wn = 0xffff;
	u64 ws = 0;
	bool ready;

	if (j == md.self || p->qh == p->qt)
		return false;
	y = &md.m[p->q[p->qh]];
	ready = causal_rule_ready(&md.r, j, y->v, &wn, &ws);
	if (ready != model_ready(j, y->v))
		fail("ready(m%d from %u %s) is %d, the rule says otherwise", p->q[p->qh], j,
		     vstr(y->v), ready);
	if (!ready && (wn >= md.nodes || wn == j || !is_peer(wn) || ws != y->v[wn] ||
		       ws <= model_known(wn)))
		fail("m%d from %u %s waits on (%u, %llu), which is no reason", p->q[p->qh], j,
		     vstr(y->v), wn, (unsigned long long)ws);
	if (!ready && !gap)
		return false;
	deliver(j, !ready);
	return true;
}

static void op_purge(u16 k)
{
	struct peer *p = &md.p[k];

	trace("close channel to %u by its owner: %d queued dropped\n", k, p->qt - p->qh);
	for (; p->qh < p->qt; p->qh++)
		md.m[p->q[p->qh]].state = DROPPED;
	causal_rule_set_head(&md.r, k, 0);
	channel_down(k);
}

static void setup(const u8 *data, size_t size)
{
	u64 all;

	memset(&md, 0, sizeof(md));
	md.in = data;
	md.left = size;
	md.nodes = 2 + get8() % (MAX_NODES - 1);
	md.self = get8() % md.nodes;
	all = ((1ULL << md.nodes) - 1) & ~(1ULL << md.self);
	causal_rule_init(&md.r, GROUP, md.self, md.nodes, all & ~(u64)get8());
	for (u16 k = 0; k < md.nodes; k++)
		md.p[k].inc = 0x1000 + k;
	trace("node %u of %u, peers 0x%llx\n", md.self, md.nodes,
	      (unsigned long long)md.r.peers);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *t = getenv("FUZZ_RULE_TRACE");

	tracing = t && *t == '1';
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	setup(data, size);

	while (md.left) {
		u8 op = get8();
		u16 k;

		switch (op >> 4) {
		case 0 ... 5:		/* frames: the low bits say which */
			op_frame(op);
			break;
		case 6:
		case 7:
			k = get8() % md.nodes;
			if (op_deliver(k, false))
				break;
			trace("head of %u not ready\n", k);
			break;
		case 8:
			k = get8() % md.nodes;
			trace("hold timeout on %u\n", k);
			op_deliver(k, true);
			break;
		case 9:
			k = get8() % md.nodes;
			trace("channel to %u breaks\n", k);
			channel_down(k);
			break;
		case 10:
			op_purge(get8() % md.nodes);
			break;
		case 11:
			causal_rule_send(&md.r);
			md.sends++;
			trace("send, own stamp %llu\n", (unsigned long long)md.sends);
			frame_to((op & 15) % md.nodes);
			break;
		case 12:
			frame_to((op & 15) % md.nodes);
			break;
		case 13:
			k = get8() % md.nodes;
			if (k != md.self)
				md.r.peers ^= 1ULL << k;
			trace("peers 0x%llx\n", (unsigned long long)md.r.peers);
			break;
		default:		/* a reader drains what is ready */
			for (bool moved = true; moved;) {
				moved = false;
				for (k = 0; k < md.nodes; k++)
					moved |= op_deliver(k, false);
			}
			break;
		}
		check_state();
	}

	/* (b): hold timeouts deliver whatever is left, one head at a time. */
	trace("end: drain\n");
	for (bool moved = true; moved;) {
		moved = false;
		for (u16 k = 0; k < md.nodes && !moved; k++)
			moved = op_deliver(k, false);
		for (u16 k = 0; k < md.nodes && !moved; k++)
			moved = op_deliver(k, true);
		check_state();
	}
	for (int x = 0; x < md.nmsg; x++)
		if (md.m[x].state == QUEUED)
			fail("m%d from %u was never delivered", x, md.m[x].sender);
	return 0;
}
