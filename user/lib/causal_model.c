// SPDX-License-Identifier: GPL-2.0
/* causald's live model: see causal_model.h. */
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "causal_health.h"
#include "causal_log.h"
#include "causal_model.h"

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

/* Upper bounds of the Prometheus histogram of hold times, seconds. */
static const double prom_le[] = { 0.0001, 0.001, 0.01, 0.1, 1, 10 };
#define PROM_LE	(sizeof(prom_le) / sizeof(prom_le[0]))

/* One (group, node, peer): node's view of messages from peer. */
struct pair {
	struct slot slot;	/* k1: group << 32 | node << 16 | peer */
	__u64 delivered;
	__u64 held;		/* waited: held_ns > 0 */
	__u64 gaps;
	__u64 errors;		/* channel failures, resets */
	__u64 resets_pending;	/* resets not yet followed by a message */
	__u64 retransmits;	/* on node's connection to peer */
	__u64 blamed_ns;	/* node's hold time spent waiting for peer */
	__u64 held_now;
	__u64 hold_sum_ns;
	__u64 hold_max_ns;
	__u64 prom[PROM_LE];	/* holds <= prom_le[i] */
	__u32 hist[CAUSAL_MODEL_BUCKETS];
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
	struct table pairs, held, links;
	__u64 events[CAUSAL_EV_TYPES];
	__u64 lost;
	__u64 table_drops;
	__u64 unmatched_tcp;	/* TCP events of connections not known */
	__u64 resets_pending;	/* sum of the pairs' */
};

struct causal_model *causal_model_new(const struct causal_model_limits *l)
{
	struct causal_model *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	if (table_init(&m->pairs, l->pairs, sizeof(struct pair)) ||
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
	free(m->held.slots);
	free(m->links.slots);
	free(m);
}

unsigned int causal_model_bucket(__u64 ns)
{
	unsigned int exp;

	if (ns < 16)
		return ns;
	exp = 63 - __builtin_clzll(ns);
	return 16 + (exp - 4) * 8 + ((ns >> (exp - 3)) & 7);
}

__u64 causal_model_bucket_max(unsigned int b)
{
	unsigned int exp, sub;

	if (b < 16)
		return b;
	exp = (b - 16) / 8 + 4;
	sub = (b - 16) % 8;
	if (exp == 63 && sub == 7)
		return ~0ULL;
	return (1ULL << exp) + ((__u64)(sub + 1) << (exp - 3)) - 1;
}

__u64 causal_model_hist_pct(const __u32 *hist, __u64 count, unsigned int p)
{
	__u64 rank = (count * p + 99) / 100, seen = 0;
	unsigned int b;

	if (!count)
		return 0;
	if (!rank)
		rank = 1;
	for (b = 0; b < CAUSAL_MODEL_BUCKETS; b++) {
		seen += hist[b];
		if (seen >= rank)
			return causal_model_bucket_max(b);
	}
	return causal_model_bucket_max(CAUSAL_MODEL_BUCKETS - 1);
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

static void add_deliver(struct causal_model *m, const struct causal_event *ev)
{
	struct pair *p = pair_get(m, ev->group, ev->node, ev->peer, true);
	struct held *h;
	struct pair *blamed;
	unsigned int i;

	h = table_get(&m->held, pair_key(ev->group, ev->node, ev->peer),
		      ev->stamp, false, &m->table_drops);
	if (h) {
		/* The hold's wait names who the time is charged to. */
		blamed = pair_get(m, ev->group, ev->node, h->wait_node, true);
		if (blamed)
			blamed->blamed_ns += ev->held_ns;
		if (p && p->held_now)
			p->held_now--;
		table_del(&m->held, &h->slot);
	}
	if (!p)
		return;
	p->delivered++;
	p->gaps += ev->gap;
	if (!ev->held_ns)
		return;
	p->held++;
	p->hold_sum_ns += ev->held_ns;
	if (ev->held_ns > p->hold_max_ns)
		p->hold_max_ns = ev->held_ns;
	p->hist[causal_model_bucket(ev->held_ns)]++;
	for (i = 0; i < PROM_LE; i++)
		if (ev->held_ns <= prom_le[i] * 1e9)
			p->prom[i]++;
}

static void add_hold(struct causal_model *m, const struct causal_event *ev)
{
	struct held *h;
	struct pair *p;

	h = table_get(&m->held, pair_key(ev->group, ev->node, ev->peer),
		      ev->stamp, true, &m->table_drops);
	if (!h)
		return;
	h->since_ns = ev->ts_ns;
	h->wait_node = ev->wait_node;
	h->wait_stamp = ev->wait_stamp;
	p = pair_get(m, ev->group, ev->node, ev->peer, true);
	if (p)
		p->held_now++;
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
 * causalctl analyze (docs/analysis.md), applied as the events come.
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

/* A bucket's bound can pass the largest value seen: not past the max. */
static __u64 pair_pct(const struct pair *p, unsigned int pct)
{
	__u64 v = causal_model_hist_pct(p->hist, p->held, pct);

	return v < p->hold_max_ns ? v : p->hold_max_ns;
}

static void group_health(struct causal_model *m, __u32 group,
			 struct causal_health *h)
{
	struct causal_health_in in = {};
	__u32 *hist = calloc(CAUSAL_MODEL_BUCKETS, sizeof(*hist));
	unsigned int i, b;
	struct pair *p;
	__u64 max = 0;

	table_for_each(&m->pairs, i, p) {
		if (p->slot.k1 >> 32 != group)
			continue;
		if (p->hold_max_ns > max)
			max = p->hold_max_ns;
		in.deliveries += p->delivered;
		in.held += p->held;
		in.gaps += p->gaps;
		in.errors += p->errors;
		in.channels++;
		if (hist)
			for (b = 0; b < CAUSAL_MODEL_BUCKETS; b++)
				hist[b] += p->hist[b];
	}
	if (hist)
		in.p99_hold_ns = causal_model_hist_pct(hist, in.held, 99);
	if (in.p99_hold_ns > max)
		in.p99_hold_ns = max;
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
			add_u64(o, "delivered", p->delivered);
			add_u64(o, "held", p->held);
			add_u64(o, "held_now", p->held_now);
			add_u64(o, "gaps", p->gaps);
			add_u64(o, "errors", p->errors);
			add_u64(o, "hold_p50_ns", pair_pct(p, 50));
			add_u64(o, "hold_p99_ns", pair_pct(p, 99));
			add_u64(o, "hold_max_ns", p->hold_max_ns);
			add_u64(o, "blamed_ns", p->blamed_ns);
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
	bool seconds;		/* nanoseconds, shown in seconds */
} pair_metrics[] = {
	{ "causal_delivered_total", "counter",
	  "Messages delivered to node from peer.",
	  offsetof(struct pair, delivered) },
	{ "causal_gaps_total", "counter",
	  "Messages delivered by the hold timeout, past a lost cause.",
	  offsetof(struct pair, gaps) },
	{ "causal_held_now", "gauge",
	  "Messages from peer that node holds now.",
	  offsetof(struct pair, held_now) },
	{ "causal_blamed_seconds_total", "counter",
	  "Hold time node spent waiting for a message of peer.",
	  offsetof(struct pair, blamed_ns), true },
	{ "causal_tcp_retransmits_total", "counter",
	  "TCP retransmits on node's connection to peer.",
	  offsetof(struct pair, retransmits) },
};

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
				fprintf(out, "%.9f\n", v / 1e9);
			else
				fprintf(out, "%llu\n", (unsigned long long)v);
		}
	}
	fputs("# HELP causal_hold_seconds Hold-back time of messages from peer that waited at node.\n"
	      "# TYPE causal_hold_seconds histogram\n", out);
	table_for_each(&m->pairs, i, p) {
		unsigned int b;

		for (b = 0; b < PROM_LE; b++)
			fprintf(out, "causal_hold_seconds_bucket{" LABELS ",le=\"%g\"} %llu\n",
				(unsigned)(p->slot.k1 >> 32), pair_node(p),
				pair_peer(p), prom_le[b],
				(unsigned long long)p->prom[b]);
		fprintf(out, "causal_hold_seconds_bucket{" LABELS ",le=\"+Inf\"} %llu\n",
			(unsigned)(p->slot.k1 >> 32), pair_node(p), pair_peer(p),
			(unsigned long long)p->held);
		fprintf(out, "causal_hold_seconds_sum{" LABELS "} %.9f\n",
			(unsigned)(p->slot.k1 >> 32), pair_node(p), pair_peer(p),
			p->hold_sum_ns / 1e9);
		fprintf(out, "causal_hold_seconds_count{" LABELS "} %llu\n",
			(unsigned)(p->slot.k1 >> 32), pair_node(p), pair_peer(p),
			(unsigned long long)p->held);
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
