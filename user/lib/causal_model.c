// SPDX-License-Identifier: GPL-2.0
/* causald's live model: see causal_model.h. */
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "causal_health.h"
#include "causal_hist.h"
#include "causal_log.h"
#include "causal_model.h"
#include "causal_procfs.h"

/* ---- fixed-capacity hash tables: linear probing, backward-shift delete ---- */

struct slot {
	__u64 k1, k2;
	bool used;
};

struct table {
	unsigned int limit;	/* entries allowed */
	unsigned int mask;	/* slots - 1, slots >= 2 * limit */
	unsigned int count;
	size_t size;		/* of one slot, struct slot first */
	char *slots;
};

static int table_init(struct table *t, unsigned int limit, size_t size)
{
	unsigned int n = 16;

	while (n < 2 * limit)
		n *= 2;
	t->limit = limit;
	t->mask = n - 1;
	t->count = 0;
	t->size = size;
	t->slots = calloc(n, size);
	return t->slots ? 0 : -1;
}

static struct slot *slot_at(const struct table *t, unsigned int i)
{
	return (struct slot *)(t->slots + (size_t)(i & t->mask) * t->size);
}

static unsigned int hash2(__u64 a, __u64 b)
{
	__u64 h = (a ^ (b * 0x9e3779b97f4a7c15ULL)) * 0xff51afd7ed558ccdULL;

	return (unsigned int)(h ^ (h >> 32));
}

/* The entry for (k1, k2), created zeroed if @create and there is room. */
static void *table_get(struct table *t, __u64 k1, __u64 k2, bool create,
		       __u64 *drops)
{
	unsigned int i = hash2(k1, k2);
	struct slot *s;

	for (;; i++) {
		s = slot_at(t, i);
		if (!s->used)
			break;
		if (s->k1 == k1 && s->k2 == k2)
			return s;
	}
	if (!create)
		return NULL;
	if (t->count >= t->limit) {
		(*drops)++;
		return NULL;
	}
	memset(s, 0, t->size);
	s->used = true;
	s->k1 = k1;
	s->k2 = k2;
	t->count++;
	return s;
}

static void table_del(struct table *t, struct slot *s)
{
	unsigned int i = ((char *)s - t->slots) / t->size, j, home;
	struct slot *next;

	for (j = i + 1;; j++) {
		next = slot_at(t, j);
		if (!next->used)
			break;
		home = hash2(next->k1, next->k2);
		/* Move @next back into the hole unless its home lies
		 * cyclically in (hole, j].
		 */
		if (((j - home) & t->mask) >= ((j - i) & t->mask)) {
			memcpy(slot_at(t, i), next, t->size);
			i = j;
		}
	}
	slot_at(t, i)->used = false;
	t->count--;
}

#define table_for_each(t, i, s)						\
	for ((i) = 0; (i) <= (t)->mask; (i)++)				\
		if (((s) = (void *)slot_at((t), (i))) && slot_at((t), (i))->used)

/* ---- the model ---- */

/*
 * What the module counts for the channels of one (group, node, peer):
 * node's view of the messages from peer. blamed_us is the hold time of
 * node's channels spent waiting for peer, whichever channel it was on.
 */
struct counts {
	__u64 sent;
	__u64 delivered;
	__u64 held_total;	/* not deliverable when they arrived */
	__u64 queued;		/* held now */
	__u64 gaps;
	__u64 hold_sum_us;
	__u64 hold_max_us;
	__u64 hold_missed;	/* held, delivered, not in hist */
	__u64 blamed_us;
	__u64 hist[CAUSAL_HIST_BUCKETS];
};

/* One (group, node, peer). */
struct pair {
	struct slot slot;	/* k1: group << 32 | node << 16 | peer */
	struct counts gone;	/* of the channels that left */
	struct counts now;	/* gone plus those of the last read */
	/* From events: */
	__u64 errors;		/* channel failures, resets */
	__u64 resets_pending;	/* resets not yet followed by a message */
	__u64 retransmits;	/* on node's connection to peer */
};

/* A channel as the last read of /proc/net/causal (or its causal_totals
 * event, which is final) showed it.
 */
struct chan {
	struct slot slot;	/* k1: the channel's id */
	__u64 k_pair;		/* pair_key() of its (group, node, peer) */
	__u16 nodes;
	bool final;		/* its totals arrived: fold at the next read */
	bool folded;		/* counted as last read, its totals awaited */
	unsigned int missing;	/* reads since it was last seen */
	struct causal_model_chan c;
};

/* An endpoint's clock as of the last read: which held messages left. */
struct endpoint {
	struct slot slot;	/* k1: group << 16 | node */
	unsigned int generation;
	__u16 nodes;
	__u64 clock[CAUSAL_EV_MAX_NODES];
};

/* A message held now, by (group, node, sender) and stamp. */
struct held {
	struct slot slot;
	__u64 since_ns;
	__u16 wait_node;
	__u64 wait_stamp;
};

/* A channel's connection, by a 128-bit hash of its causal_ev_link. */
struct link {
	struct slot slot;
	__u32 group;
	__u16 node;
	__u16 peer;
};

struct causal_model {
	struct table pairs, chans, endpoints, held, links;
	unsigned int generation;	/* reads begun */
	__u64 events[CAUSAL_EV_TYPES];
	__u64 lost;
	__u64 table_drops;
	__u64 unmatched_tcp;	/* TCP events of connections not known */
	__u64 resets_pending;	/* sum of the pairs' */
	__u64 messages;		/* sent and delivered, at the last read */
	__u64 reset_base;	/* messages when the pending resets were read */
	bool reset_base_set;
};

struct causal_model *causal_model_new(const struct causal_model_limits *l)
{
	struct causal_model *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	if (table_init(&m->pairs, l->pairs, sizeof(struct pair)) ||
	    table_init(&m->chans, l->channels, sizeof(struct chan)) ||
	    table_init(&m->endpoints, l->channels, sizeof(struct endpoint)) ||
	    table_init(&m->held, l->held, sizeof(struct held)) ||
	    table_init(&m->links, l->links, sizeof(struct link))) {
		causal_model_free(m);
		return NULL;
	}
	return m;
}

void causal_model_free(struct causal_model *m)
{
	if (!m)
		return;
	free(m->pairs.slots);
	free(m->chans.slots);
	free(m->endpoints.slots);
	free(m->held.slots);
	free(m->links.slots);
	free(m);
}

static __u64 pair_key(__u32 group, __u16 node, __u16 peer)
{
	return (__u64)group << 32 | (__u32)node << 16 | peer;
}

static struct pair *pair_get(struct causal_model *m, __u32 group, __u16 node,
			     __u16 peer, bool create)
{
	return table_get(&m->pairs, pair_key(group, node, peer), 0, create,
			 &m->table_drops);
}

static void link_keys(const struct causal_ev_link *l, __u64 *k1, __u64 *k2)
{
	const unsigned char *p = (const unsigned char *)l;
	__u64 a = 0xcbf29ce484222325ULL, b = 0x84222325cbf29ce4ULL;
	size_t i;

	for (i = 0; i < sizeof(*l); i++) {
		a = (a ^ p[i]) * 0x100000001b3ULL;
		b = (b ^ p[i]) * 0x100000001b3ULL + i;
	}
	*k1 = a;
	*k2 = b;
}

static struct link *link_get(struct causal_model *m,
			     const struct causal_ev_link *l, bool create)
{
	__u64 k1, k2;

	link_keys(l, &k1, &k2);
	return table_get(&m->links, k1, k2, create, &m->table_drops);
}

/* @c's counts into its pairs' gone (a channel that left) or now. */
static void chan_add(struct causal_model *m, const struct causal_model_chan *c,
		     bool gone)
{
	struct pair *p = pair_get(m, c->group, c->node, c->peer, true);
	struct counts *n;
	unsigned int i;

	if (p) {
		n = gone ? &p->gone : &p->now;
		n->sent += c->sent;
		n->delivered += c->delivered;
		n->held_total += c->held_total;
		n->queued += c->queued;
		n->gaps += c->gaps;
		n->hold_sum_us += c->hold_sum_us;
		if (c->hold_max_us > n->hold_max_us)
			n->hold_max_us = c->hold_max_us;
		n->hold_missed += c->hold_missed;
		for (i = 0; i < CAUSAL_HIST_BUCKETS; i++)
			n->hist[i] += c->hist[i];
	}
	for (i = 0; i < c->nodes && i < CAUSAL_EV_MAX_NODES; i++) {
		if (!c->blame_us[i])
			continue;
		p = pair_get(m, c->group, c->node, i, true);
		if (p)
			(gone ? &p->gone : &p->now)->blamed_us += c->blame_us[i];
	}
}

/* Reads a channel not in /proc/net/causal waits for its totals before it
 * counts as last read, and then for late totals before it is forgotten.
 */
#define CHAN_TOTALS_READS	2
#define CHAN_LATE_READS		10

/* *@rest = what @late counted that @seen had not: the counters only grow. */
static void chan_rest(struct causal_model_chan *rest,
		      const struct causal_model_chan *late,
		      const struct causal_model_chan *seen)
{
	unsigned int i;

#define REST(f)	(late->f > seen->f ? late->f - seen->f : 0)
	*rest = *late;
	rest->sent = REST(sent);
	rest->delivered = REST(delivered);
	rest->held_total = REST(held_total);
	rest->gaps = REST(gaps);
	rest->hold_sum_us = REST(hold_sum_us);
	rest->hold_missed = REST(hold_missed);
	for (i = 0; i < CAUSAL_EV_MAX_NODES; i++)
		rest->blame_us[i] = REST(blame_us[i]);
	for (i = 0; i < CAUSAL_HIST_BUCKETS; i++)
		rest->hist[i] = REST(hist[i]);
#undef REST
}

static void chan_put(struct causal_model *m, const struct causal_model_chan *c,
		     bool final)
{
	struct chan *ch = table_get(&m->chans, c->id, 0, true, &m->table_drops);
	static struct causal_model_chan rest;

	if (!ch) {
		/* No room to wait for its next read: counted as gone now. */
		if (final)
			chan_add(m, c, true);
		return;
	}
	if (ch->final)
		return;
	if (ch->folded) {
		if (final) {
			chan_rest(&rest, c, &ch->c);
			chan_add(m, &rest, true);
			ch->final = true;
		}
		return;
	}
	ch->c = *c;
	ch->k_pair = pair_key(c->group, c->node, c->peer);
	ch->nodes = c->nodes;
	ch->final = final;
	ch->missing = 0;
}

void causal_model_channel(struct causal_model *m,
			  const struct causal_model_chan *c)
{
	chan_put(m, c, false);
}

void causal_model_endpoint(struct causal_model *m, __u32 group, __u16 node,
			   __u16 nodes, const __u64 *clock)
{
	struct endpoint *e = table_get(&m->endpoints, (__u64)group << 16 | node,
				       0, true, &m->table_drops);

	if (!e)
		return;
	e->generation = m->generation;
	e->nodes = nodes < CAUSAL_EV_MAX_NODES ? nodes : CAUSAL_EV_MAX_NODES;
	memcpy(e->clock, clock, e->nodes * sizeof(*clock));
}

static __u64 key_u64(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) ?
	       json_object_get_uint64(v) : 0;
}

/* A parsed blame_us ({"NODE": us}) into one entry per node. */
static void blame_of(struct json_object *obj, __u64 *blame_us)
{
	json_object_object_foreach(obj, node, us) {
		unsigned long w = strtoul(node, NULL, 10);

		if (w < CAUSAL_EV_MAX_NODES)
			blame_us[w] = json_object_get_uint64(us);
	}
}

int causal_model_read_procfs(struct causal_model *m, FILE *fp)
{
	struct json_object *eps = causal_procfs_parse(fp), *ep, *chs, *ch, *v;
	static struct causal_model_chan c;
	__u64 clock[CAUSAL_EV_MAX_NODES];
	size_t i, j, n;

	if (!eps)
		return -1;
	for (i = 0; i < json_object_array_length(eps); i++) {
		ep = json_object_array_get_idx(eps, i);
		memset(clock, 0, sizeof(clock));
		n = 0;
		if (json_object_object_get_ex(ep, "clock", &v))
			for (; n < json_object_array_length(v) &&
			       n < CAUSAL_EV_MAX_NODES; n++)
				clock[n] = json_object_get_uint64(
					json_object_array_get_idx(v, n));
		memset(&c, 0, offsetof(struct causal_model_chan, blame_us));
		c.group = key_u64(ep, "group");
		c.node = key_u64(ep, "node");
		c.nodes = key_u64(ep, "nodes");
		causal_model_endpoint(m, c.group, c.node, c.nodes, clock);
		if (!json_object_object_get_ex(ep, "channels", &chs))
			continue;
		for (j = 0; j < json_object_array_length(chs); j++) {
			ch = json_object_array_get_idx(chs, j);
			/* Before its HELLO a channel has no peer to count for. */
			if (!json_object_object_get_ex(ch, "peer", &v) || !v ||
			    !json_object_object_get_ex(ch, "id", &v))
				continue;
			c.id = json_object_get_uint64(v);
			c.peer = key_u64(ch, "peer");
			c.queued = key_u64(ch, "queued");
			c.sent = key_u64(ch, "sent");
			c.delivered = key_u64(ch, "delivered");
			c.held_total = key_u64(ch, "held_total");
			c.gaps = key_u64(ch, "gaps");
			c.hold_sum_us = key_u64(ch, "hold_sum_us");
			c.hold_max_us = key_u64(ch, "hold_max_us");
			c.hold_missed = key_u64(ch, "hold_missed");
			memset(c.blame_us, 0, sizeof(c.blame_us));
			if (json_object_object_get_ex(ch, "blame_us", &v))
				blame_of(v, c.blame_us);
			causal_procfs_hist(ch, c.hist);
			causal_model_channel(m, &c);
		}
	}
	json_object_put(eps);
	return 0;
}

static void settle_resets(struct causal_model *m);

void causal_model_read_begin(struct causal_model *m)
{
	m->generation++;
}

/*
 * A read of every /proc/net/causal ended: channels not in it left. One
 * whose totals came is folded into its pairs' gone; one without them is
 * given CHAN_TOTALS_READS more reads for its event (it may have left between
 * the read and the ring buffer's drain), then folded as last seen and kept
 * CHAN_LATE_READS reads more, so that totals that come even later add only
 * the rest.
 */
void causal_model_read_end(struct causal_model *m)
{
	struct endpoint *e;
	struct chan *ch;
	struct held *h;
	struct pair *p;
	unsigned int i;

	for (i = 0; i <= m->chans.mask; i++) {
		ch = (void *)slot_at(&m->chans, i);
		while (ch->slot.used &&
		       (ch->final || ch->missing > CHAN_LATE_READS)) {
			if (!ch->folded)
				chan_add(m, &ch->c, true);
			/* The next entry may shift into this slot. */
			table_del(&m->chans, &ch->slot);
		}
	}
	table_for_each(&m->chans, i, ch) {
		if (!ch->folded && ch->missing > CHAN_TOTALS_READS) {
			chan_add(m, &ch->c, true);
			ch->folded = true;
		}
	}
	table_for_each(&m->pairs, i, p)
		p->now = p->gone;
	table_for_each(&m->chans, i, ch) {
		if (!ch->folded)
			chan_add(m, &ch->c, false);
		/* Seen again by the next read, or missing one more. */
		ch->missing++;
	}
	m->messages = 0;
	table_for_each(&m->pairs, i, p)
		m->messages += p->now.sent + p->now.delivered;
	/* Messages may have gone between the last read and a reset: only
	 * those after the read that followed it make it mid-run.
	 */
	if (m->resets_pending && !m->reset_base_set) {
		m->reset_base = m->messages;
		m->reset_base_set = true;
	} else if (m->resets_pending && m->messages > m->reset_base) {
		settle_resets(m);
	}
	/* A held message left when its endpoint delivered it or went. */
	for (i = 0; i <= m->held.mask; i++) {
		h = (void *)slot_at(&m->held, i);
		while (h->slot.used) {
			__u16 peer = (__u16)h->slot.k1;

			e = table_get(&m->endpoints, h->slot.k1 >> 16, 0, false,
				      NULL);
			if (e && e->generation == m->generation &&
			    (peer >= e->nodes || e->clock[peer] < h->slot.k2))
				break;
			table_del(&m->held, &h->slot);
		}
	}
	for (i = 0; i <= m->endpoints.mask; i++) {
		e = (void *)slot_at(&m->endpoints, i);
		while (e->slot.used && e->generation != m->generation)
			table_del(&m->endpoints, &e->slot);
	}
}

static void add_totals(struct causal_model *m, const struct causal_event *ev)
{
	const struct causal_ev_totals *t = ev->totals;
	static struct causal_model_chan c;

	if (!t || ev->peer >= CAUSAL_EV_MAX_NODES)
		return;
	c = (struct causal_model_chan) {
		.id = t->id, .group = ev->group, .node = ev->node,
		.peer = ev->peer, .nodes = ev->nodes,
		.sent = t->sent, .delivered = t->delivered,
		.held_total = t->held,
		.gaps = t->gaps, .hold_sum_us = t->hold_sum_us,
		.hold_max_us = t->hold_max_us, .hold_missed = t->hold_missed,
	};
	memcpy(c.blame_us, t->blame_us, sizeof(c.blame_us));
	memcpy(c.hist, t->hold_hist, sizeof(c.hist));
	chan_put(m, &c, true);
}

/* In the audit stream: a held message left. */
static void add_deliver(struct causal_model *m, const struct causal_event *ev)
{
	struct held *h;

	h = table_get(&m->held, pair_key(ev->group, ev->node, ev->peer),
		      ev->stamp, false, &m->table_drops);
	if (h)
		table_del(&m->held, &h->slot);
}

static void add_hold(struct causal_model *m, const struct causal_event *ev)
{
	struct held *h;

	h = table_get(&m->held, pair_key(ev->group, ev->node, ev->peer),
		      ev->stamp, true, &m->table_drops);
	if (!h)
		return;
	h->since_ns = ev->ts_ns;
	h->wait_node = ev->wait_node;
	h->wait_stamp = ev->wait_stamp;
	pair_get(m, ev->group, ev->node, ev->peer, true);
}

static void add_tcp(struct causal_model *m, const struct causal_event *ev)
{
	struct link *l = link_get(m, &ev->link, false);
	struct pair *p;

	if (!l) {
		m->unmatched_tcp++;
		return;
	}
	p = pair_get(m, l->group, l->node, l->peer, true);
	if (!p)
		return;
	if (ev->type == CAUSAL_EV_TCP_RETRANSMIT) {
		p->retransmits++;
	} else if (ev->type == CAUSAL_EV_TCP_RESET) {
		p->resets_pending++;
		m->resets_pending++;
	}
}

/*
 * A reset is an error when this host sends or delivers after it; the ones
 * after its last message are the teardown of a finished run. The rule of
 * causalctl analyze (docs/analysis.md), applied as send and deliver events
 * come (--audit) or as the reads of the module's counts show messages.
 */
static void settle_resets(struct causal_model *m)
{
	unsigned int i;
	struct pair *p;

	table_for_each(&m->pairs, i, p) {
		p->errors += p->resets_pending;
		p->resets_pending = 0;
	}
	m->resets_pending = 0;
	m->reset_base_set = false;
}

void causal_model_add(struct causal_model *m, const struct causal_event *ev)
{
	struct link *l;
	struct pair *p;

	if (ev->type >= CAUSAL_EV_TYPES)
		return;
	m->events[ev->type]++;
	if (m->resets_pending &&
	    (ev->type == CAUSAL_EV_SEND || ev->type == CAUSAL_EV_DELIVER))
		settle_resets(m);
	switch (ev->type) {
	case CAUSAL_EV_TOTALS:
		add_totals(m, ev);
		break;
	case CAUSAL_EV_DELIVER:
		add_deliver(m, ev);
		break;
	case CAUSAL_EV_HOLD:
		add_hold(m, ev);
		break;
	case CAUSAL_EV_PEER:
		pair_get(m, ev->group, ev->node, ev->peer, true);
		l = link_get(m, &ev->link, true);
		if (l) {
			l->group = ev->group;
			l->node = ev->node;
			l->peer = ev->peer;
		}
		break;
	case CAUSAL_EV_ERROR:
		p = pair_get(m, ev->group, ev->node, ev->peer, true);
		if (p)
			p->errors++;
		break;
	case CAUSAL_EV_TCP_RETRANSMIT:
	case CAUSAL_EV_TCP_RESET:
		add_tcp(m, ev);
		break;
	case CAUSAL_EV_TCP_STATE:
		/* A closed connection's 4-tuple may be reused by another. */
		if (ev->tcp_state == 7 /* TCP_CLOSE */) {
			l = link_get(m, &ev->link, false);
			if (l)
				table_del(&m->links, &l->slot);
		}
		break;
	}
}

void causal_model_set_lost(struct causal_model *m, __u64 lost)
{
	m->lost = lost;
}

/* ---- output ---- */

static int cmp_u32(const void *a, const void *b)
{
	__u32 x = *(const __u32 *)a, y = *(const __u32 *)b;

	return x < y ? -1 : x > y;
}

/* The groups present, sorted; *n of them. */
static __u32 *model_groups(struct causal_model *m, unsigned int *n)
{
	__u32 *groups = malloc(sizeof(*groups) * (m->pairs.count + 1));
	unsigned int i, j, k = 0;
	struct pair *p;

	if (!groups) {
		*n = 0;
		return NULL;
	}
	table_for_each(&m->pairs, i, p)
		groups[k++] = p->slot.k1 >> 32;
	qsort(groups, k, sizeof(*groups), cmp_u32);
	for (i = 0, j = 0; i < k; i++)
		if (!j || groups[j - 1] != groups[i])
			groups[j++] = groups[i];
	*n = j;
	return groups;
}

static __u16 pair_node(const struct pair *p)
{
	return p->slot.k1 >> 16;
}

static __u16 pair_peer(const struct pair *p)
{
	return p->slot.k1;
}

/* The @pct percentile of the pair's holds, interpolated in its bucket as
 * histogram_quantile() does, not past the largest.
 */
static __u64 pair_pct_ns(const struct pair *p, unsigned int pct)
{
	__u64 v = causal_hist_quantile(p->now.hist, pct, 100);

	return (v < p->now.hold_max_us ? v : p->now.hold_max_us) * 1000;
}

/* Held messages delivered: what the percentiles are of. */
static __u64 pair_held(const struct pair *p)
{
	__u64 n = p->now.hold_missed;
	unsigned int b;

	for (b = 0; b < CAUSAL_HIST_BUCKETS; b++)
		n += p->now.hist[b];
	return n;
}

static void group_health(struct causal_model *m, __u32 group,
			 struct causal_health *h)
{
	struct causal_health_in in = {};
	__u64 *hist = calloc(CAUSAL_HIST_BUCKETS, sizeof(*hist));
	unsigned int i, b;
	struct pair *p;
	__u64 max = 0;

	table_for_each(&m->pairs, i, p) {
		if (p->slot.k1 >> 32 != group)
			continue;
		if (p->now.hold_max_us > max)
			max = p->now.hold_max_us;
		in.deliveries += p->now.delivered;
		in.held += pair_held(p);
		in.gaps += p->now.gaps;
		in.errors += p->errors;
		in.channels++;
		if (hist)
			for (b = 0; b < CAUSAL_HIST_BUCKETS; b++)
				hist[b] += p->now.hist[b];
	}
	if (hist)
		in.p99_hold_ns = causal_hist_quantile(hist, 99, 100);
	if (in.p99_hold_ns > max)
		in.p99_hold_ns = max;
	in.p99_hold_ns *= 1000;
	free(hist);
	causal_health_score(&in, h);
}

static void add_u64(struct json_object *o, const char *key, __u64 v)
{
	json_object_object_add(o, key, json_object_new_uint64(v));
}

struct json_object *causal_model_snapshot(struct causal_model *m, __u64 now_ns)
{
	struct json_object *snap = json_object_new_object();
	struct json_object *groups = json_object_new_array();
	unsigned int ngroups, g, i;
	__u32 *gs = model_groups(m, &ngroups);
	__u64 events = 0;

	for (i = 0; i < CAUSAL_EV_TYPES; i++)
		events += m->events[i];
	add_u64(snap, "events", events);
	add_u64(snap, "lost", m->lost);
	add_u64(snap, "table_drops", m->table_drops);
	add_u64(snap, "unmatched_tcp", m->unmatched_tcp);
	for (g = 0; g < ngroups; g++) {
		struct json_object *grp = json_object_new_object();
		struct json_object *peers = json_object_new_array();
		struct json_object *held = json_object_new_array();
		struct causal_health h;
		struct held *hd;
		struct pair *p, *rev;

		group_health(m, gs[g], &h);
		add_u64(grp, "group", gs[g]);
		add_u64(grp, "health", h.score);
		json_object_object_add(grp, "health_reason",
				       json_object_new_string(h.reason));
		table_for_each(&m->pairs, i, p) {
			struct json_object *o;

			if (p->slot.k1 >> 32 != gs[g])
				continue;
			o = json_object_new_object();
			add_u64(o, "node", pair_node(p));
			add_u64(o, "peer", pair_peer(p));
			add_u64(o, "delivered", p->now.delivered);
			add_u64(o, "held", pair_held(p));
			add_u64(o, "held_now", p->now.queued);
			add_u64(o, "gaps", p->now.gaps);
			add_u64(o, "errors", p->errors);
			add_u64(o, "hold_p50_ns", pair_pct_ns(p, 50));
			add_u64(o, "hold_p99_ns", pair_pct_ns(p, 99));
			add_u64(o, "hold_max_ns", p->now.hold_max_us * 1000);
			add_u64(o, "blamed_ns", p->now.blamed_us * 1000);
			/* Both ends' retransmits, when both are on this host. */
			rev = pair_get(m, gs[g], pair_peer(p), pair_node(p), false);
			add_u64(o, "retransmits",
				p->retransmits + (rev ? rev->retransmits : 0));
			json_object_array_add(peers, o);
		}
		table_for_each(&m->held, i, hd) {
			struct json_object *o;

			if (hd->slot.k1 >> 32 != gs[g])
				continue;
			o = json_object_new_object();
			add_u64(o, "node", (__u16)(hd->slot.k1 >> 16));
			add_u64(o, "peer", (__u16)hd->slot.k1);
			add_u64(o, "stamp", hd->slot.k2);
			add_u64(o, "wait_node", hd->wait_node);
			add_u64(o, "wait_stamp", hd->wait_stamp);
			add_u64(o, "age_ns", now_ns > hd->since_ns ?
				now_ns - hd->since_ns : 0);
			json_object_array_add(held, o);
		}
		json_object_object_add(grp, "peers", peers);
		json_object_object_add(grp, "held_now", held);
		json_object_array_add(groups, grp);
	}
	free(gs);
	json_object_object_add(snap, "groups", groups);
	return snap;
}

#define LABELS	"group=\"%u\",node=\"%u\",peer=\"%u\""

/* The series with one value per (group, node, peer) row. */
static const struct pair_metric {
	const char *name;
	const char *type;
	const char *help;
	size_t off;		/* of a __u64 in struct pair */
	bool seconds;		/* microseconds, shown in seconds */
} pair_metrics[] = {
	{ "causal_sent_total", "counter",
	  "Messages node sent on its channel to peer (a broadcast counts on each).",
	  offsetof(struct pair, now.sent) },
	{ "causal_delivered_total", "counter",
	  "Messages delivered to node from peer.",
	  offsetof(struct pair, now.delivered) },
	{ "causal_held_total", "counter",
	  "Messages from peer that node held: not deliverable when they arrived.",
	  offsetof(struct pair, now.held_total) },
	{ "causal_gaps_total", "counter",
	  "Messages delivered by the hold timeout, past a lost cause.",
	  offsetof(struct pair, now.gaps) },
	{ "causal_held_now", "gauge",
	  "Messages from peer that node holds now.",
	  offsetof(struct pair, now.queued) },
	{ "causal_blamed_seconds_total", "counter",
	  "Hold time node's channels spent waiting for a message of peer.",
	  offsetof(struct pair, now.blamed_us), true },
	{ "causal_errors_total", "counter",
	  "Failures of node's channel to peer: protocol errors, resets mid-run.",
	  offsetof(struct pair, errors) },
	{ "causal_tcp_retransmits_total", "counter",
	  "TCP retransmits on node's connection to peer.",
	  offsetof(struct pair, retransmits) },
};

/*
 * The buckets of causal_hold_seconds: the module's own bounds (16 per power
 * of two) from 16 us to 2^25 us (34 s), and 1, 2, 4 and 8 us below; each
 * count is exact, as the module counted. No bucket is wider than 1/16 of
 * its bound, so histogram_quantile() is within 6.25% of the true quantile.
 */
static bool prom_bound(unsigned int b)
{
	if (b < CAUSAL_HIST_SUB)
		return b && !(b & (b - 1));
	return causal_hist_lower(b) <= 1U << 25;
}

void causal_model_prometheus(struct causal_model *m, FILE *out)
{
	unsigned int i, g, ngroups, m_i;
	__u32 *gs = model_groups(m, &ngroups);
	struct pair *p;

	fputs("# HELP causald_events_total Events read from the kernel, by type.\n"
	      "# TYPE causald_events_total counter\n", out);
	for (i = 1; i < CAUSAL_EV_TYPES; i++)
		fprintf(out, "causald_events_total{type=\"%s\"} %llu\n",
			clog_type_name(i), (unsigned long long)m->events[i]);
	fprintf(out, "# HELP causald_events_lost_total Events the kernel dropped: the ring buffer was full.\n"
		"# TYPE causald_events_lost_total counter\n"
		"causald_events_lost_total %llu\n"
		"# HELP causald_table_drops_total Entries not tracked: a table of the model was full.\n"
		"# TYPE causald_table_drops_total counter\n"
		"causald_table_drops_total %llu\n",
		(unsigned long long)m->lost,
		(unsigned long long)m->table_drops);

	for (m_i = 0; m_i < sizeof(pair_metrics) / sizeof(pair_metrics[0]); m_i++) {
		const struct pair_metric *pm = &pair_metrics[m_i];

		fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", pm->name, pm->help,
			pm->name, pm->type);
		table_for_each(&m->pairs, i, p) {
			__u64 v = *(const __u64 *)((const char *)p + pm->off);

			fprintf(out, "%s{" LABELS "} ", pm->name,
				(unsigned)(p->slot.k1 >> 32), pair_node(p),
				pair_peer(p));
			if (pm->seconds)
				fprintf(out, "%.6f\n", v / 1e6);
			else
				fprintf(out, "%llu\n", (unsigned long long)v);
		}
	}
	fputs("# HELP causal_hold_seconds Hold-back time of messages from peer that waited at node.\n"
	      "# TYPE causal_hold_seconds histogram\n", out);
	table_for_each(&m->pairs, i, p) {
		__u64 below = 0;
		unsigned int b;

		for (b = 0; b < CAUSAL_HIST_BUCKETS; b++) {
			if (prom_bound(b))
				fprintf(out, "causal_hold_seconds_bucket{" LABELS ",le=\"%.6f\"} %llu\n",
					(unsigned)(p->slot.k1 >> 32),
					pair_node(p), pair_peer(p),
					causal_hist_lower(b) / 1e6,
					(unsigned long long)below);
			below += p->now.hist[b];
		}
		fprintf(out, "causal_hold_seconds_bucket{" LABELS ",le=\"+Inf\"} %llu\n",
			(unsigned)(p->slot.k1 >> 32), pair_node(p), pair_peer(p),
			(unsigned long long)pair_held(p));
		fprintf(out, "causal_hold_seconds_sum{" LABELS "} %.6f\n",
			(unsigned)(p->slot.k1 >> 32), pair_node(p), pair_peer(p),
			p->now.hold_sum_us / 1e6);
		fprintf(out, "causal_hold_seconds_count{" LABELS "} %llu\n",
			(unsigned)(p->slot.k1 >> 32), pair_node(p), pair_peer(p),
			(unsigned long long)pair_held(p));
	}
	fputs("# HELP causal_health_score Health of the group, 0-100 (docs/analysis.md).\n"
	      "# TYPE causal_health_score gauge\n", out);
	for (g = 0; g < ngroups; g++) {
		struct causal_health h;

		group_health(m, gs[g], &h);
		fprintf(out, "causal_health_score{group=\"%u\"} %u\n", gs[g],
			h.score);
	}
	free(gs);
}
