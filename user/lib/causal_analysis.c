// SPDX-License-Identifier: GPL-2.0
/*
 * Analysis of event logs; every formula is in docs/analysis.md. The
 * passes are in the table at the end; the index they read is
 * causal_index.c, the happens-before check causal_hb.c, the anomaly
 * detector causal_anomaly.c.
 *
 * Everything works on sorted index arrays rather than hash tables: the
 * events of a node, the sends of a message and the events of a reception
 * each end up contiguous, so one sort of each and linear passes give
 * O(E log E) over a million events.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <time.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "causal_analysis_int.h"
#include "causal_wire.h"

/* ---------------------------------------------------------------------- */
/* Small helpers                                                           */
/* ---------------------------------------------------------------------- */

__u64 cana_percentile(const __u64 *sorted, size_t n, unsigned int p)
{
	size_t rank;

	if (!n)
		return 0;
	rank = ((__u64)n * p + 99) / 100;
	return sorted[rank ? rank - 1 : 0];
}

void cana_fmt_ns(__u64 ns, char *buf, size_t size)
{
	if (ns < 1000)
		snprintf(buf, size, "%llu ns", (unsigned long long)ns);
	else if (ns < 1000000)
		snprintf(buf, size, "%.1f us", ns / 1e3);
	else if (ns < 1000000000)
		snprintf(buf, size, "%.1f ms", ns / 1e6);
	else
		snprintf(buf, size, "%.1f s", ns / 1e9);
}

void cana_violation_str(const struct clog_store *s,
			const struct cana_violation *v, char *buf, size_t size)
{
	char later[64];

	if (v->cause_delivered)
		snprintf(later, sizeof(later), "delivered only at ts %llu",
			 (unsigned long long)v->cause_deliver_ts);
	else
		snprintf(later, sizeof(later), "never delivered");
	snprintf(buf, size,
		 "node %u of group %u (host %s) delivered node %u's message %llu "
		 "at ts %llu before its cause, node %u's message %llu, which had "
		 "arrived at ts %llu (%s)",
		 v->node, v->group, clog_str(s, v->host), v->sender,
		 (unsigned long long)v->stamp,
		 (unsigned long long)v->deliver_ts, v->cause_sender,
		 (unsigned long long)v->cause_stamp,
		 (unsigned long long)v->cause_arrive_ts, later);
}

/* A connection as a key both ends agree on: the smaller end first. */
static void canon_link(const struct causal_ev_link *l, struct causal_ev_link *c)
{
	int d = memcmp(l->saddr, l->daddr, 16);

	memset(c, 0, sizeof(*c));
	c->family = l->family;
	if (d < 0 || (!d && l->sport <= l->dport)) {
		*c = *l;
	} else {
		memcpy(c->saddr, l->daddr, 16);
		memcpy(c->daddr, l->saddr, 16);
		c->sport = l->dport;
		c->dport = l->sport;
	}
	c->pad = 0;
}

static void swap_link(const struct causal_ev_link *l, struct causal_ev_link *o)
{
	*o = *l;
	memcpy(o->saddr, l->daddr, 16);
	memcpy(o->daddr, l->saddr, 16);
	o->sport = l->dport;
	o->dport = l->sport;
}

struct tcp_count {
	struct causal_ev_link link;	/* canonical */
	__u64 retransmits[2];		/* sent by its first, second end */
	__u64 resets;
	__u64 resets_mid;		/* before the host's last message: not
					 * the teardown of a finished run
					 */
	__u32 reset_host;		/* of the first mid-run reset */
	__u64 reset_ts;
};

/* Is (addr, port) the first end of canonical link @c? */
static bool first_end(const struct causal_ev_link *c, const __u8 *addr,
		      __u16 port)
{
	return !memcmp(c->saddr, addr, 16) && c->sport == port;
}

static int cmp_link(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct causal_ev_link));
}

/* ---------------------------------------------------------------------- */
/* The passes                                                              */
/* ---------------------------------------------------------------------- */

static int build_groups(struct ana *a)
{
	const struct cana_index *ix = &a->ix;
	struct cana_result *r = a->r;

	r->groups = calloc(ix->nnodes + 1, sizeof(*r->groups));
	a->node_group = malloc((ix->nnodes + 1) * sizeof(*a->node_group));
	if (!r->groups || !a->node_group)
		return -ENOMEM;
	for (size_t i = 0; i < ix->nnodes; i++) {
		const struct cana_node *n = &ix->nodes[i];
		struct cana_group *g = r->ngroups ? &r->groups[r->ngroups - 1] :
					NULL;

		if (!g || g->group != n->group) {
			g = &r->groups[r->ngroups++];
			g->group = n->group;
		}
		if (n->nodes > g->nodes)
			g->nodes = n->nodes;
		a->node_group[i] = r->ngroups - 1;
	}
	return 0;
}

/* Counts, and the TCP events by canonical link. */
static int count_events(struct ana *a)
{
	const struct clog_store *s = a->s;
	struct cana_result *r = a->r;
	size_t n = 0, cap = 0, j;
	__u64 *last_msg = calloc(s->str.n + 1, sizeof(*last_msg));

	if (!last_msg)
		return -ENOMEM;
	for (size_t i = 0; i < a->ix.nseq; i++) {
		const struct clog_ev *e = &s->ev[a->ix.seq[i]];

		r->events++;
		r->by_type[e->type]++;
		if ((e->type == CAUSAL_EV_SEND || e->type == CAUSAL_EV_DELIVER) &&
		    e->host < s->str.n && e->ts > last_msg[e->host])
			last_msg[e->host] = e->ts;
	}
	for (size_t i = 0; i < s->nev; i++) {
		const struct clog_ev *e = &s->ev[i];
		struct tcp_count t = {};

		if (e->type != CAUSAL_EV_TCP_RETRANSMIT &&
		    e->type != CAUSAL_EV_TCP_RESET &&
		    e->type != CAUSAL_EV_TCP_STATE)
			continue;
		r->events++;
		r->by_type[e->type]++;
		if (e->type == CAUSAL_EV_TCP_STATE || e->link == CLOG_NONE)
			continue;
		canon_link(&s->links[e->link], &t.link);
		/* A retransmit is logged by the end that sends the data. */
		if (e->type == CAUSAL_EV_TCP_RETRANSMIT)
			t.retransmits[!first_end(&t.link, s->links[e->link].saddr,
						 s->links[e->link].sport)] = 1;
		t.resets = e->type == CAUSAL_EV_TCP_RESET;
		t.resets_mid = t.resets && e->host < s->str.n &&
			       e->ts < last_msg[e->host];
		t.reset_host = t.resets_mid ? e->host : CLOG_NONE;
		t.reset_ts = t.resets_mid ? e->ts : UINT64_MAX;
		if (push((void **)&a->tcp, &n, &cap, sizeof(t), &t)) {
			free(last_msg);
			return -ENOMEM;
		}
	}
	free(last_msg);
	sort(a->tcp, n, sizeof(*a->tcp), cmp_link);
	for (size_t i = 0, k; i < n; i = k) {
		struct tcp_count t = a->tcp[i];

		for (k = i + 1; k < n && !cmp_link(&a->tcp[k].link, &t.link); k++) {
			t.retransmits[0] += a->tcp[k].retransmits[0];
			t.retransmits[1] += a->tcp[k].retransmits[1];
			t.resets += a->tcp[k].resets;
			t.resets_mid += a->tcp[k].resets_mid;
			if (a->tcp[k].reset_ts < t.reset_ts) {
				t.reset_ts = a->tcp[k].reset_ts;
				t.reset_host = a->tcp[k].reset_host;
			}
		}
		a->tcp[a->ntcp++] = t;
	}
	/* Peer events, for the links of each channel. */
	for (j = 0; j < a->ix.nseq; j++)
		a->npeers += s->ev[a->ix.seq[j]].type == CAUSAL_EV_PEER;
	a->peers = malloc((a->npeers + 1) * sizeof(*a->peers));
	if (!a->peers)
		return -ENOMEM;
	a->npeers = 0;
	for (j = 0; j < a->ix.nseq; j++)
		if (s->ev[a->ix.seq[j]].type == CAUSAL_EV_PEER)
			a->peers[a->npeers++] = a->ix.seq[j];
	if (a->npeers > 1)
		qsort_r(a->peers, a->npeers, sizeof(*a->peers), ana_cmp_rec,
			(void *)s->ev);
	return 0;
}

static const struct tcp_count *tcp_find(const struct ana *a,
					const struct causal_ev_link *canon)
{
	/* bsearch(), like qsort(), is not to be given a NULL array. */
	return a->ntcp ? bsearch(canon, a->tcp, a->ntcp, sizeof(*a->tcp),
				 cmp_link) : NULL;
}

/* Peer events of (group, node) about @peer: [*lo, *hi) in a->peers. */
static void peer_range(const struct ana *a, __u32 group, __u16 node,
		       __u16 peer, size_t *lo, size_t *hi)
{
	const struct clog_ev *ev = a->s->ev;
	size_t l = 0, h = a->npeers;

	while (l < h) {
		size_t mid = (l + h) / 2;
		const struct clog_ev *e = &ev[a->peers[mid]];

		if (e->group < group || (e->group == group &&
		    (e->node < node || (e->node == node && e->peer < peer))))
			l = mid + 1;
		else
			h = mid;
	}
	*lo = l;
	while (l < a->npeers && ev[a->peers[l]].group == group &&
	       ev[a->peers[l]].node == node && ev[a->peers[l]].peer == peer)
		l++;
	*hi = l;
}

static void lat_stats(__u64 *v, size_t n, struct cana_lat *lat)
{
	size_t z = 0;

	memset(lat, 0, sizeof(*lat));
	sort(v, n, sizeof(*v), cmp_u64p);
	while (z < n && !v[z])
		z++;
	lat->count = n;
	lat->held = n - z;
	for (size_t i = 0; i < n; i++)
		lat->total_ns += v[i];
	lat->p50 = cana_percentile(v, n, 50);
	lat->p99 = cana_percentile(v, n, 99);
	lat->max = n ? v[n - 1] : 0;
	lat->held_p50 = cana_percentile(v + z, n - z, 50);
	lat->held_p99 = cana_percentile(v + z, n - z, 99);
}

/* Receptions are sorted by (group, node, sender): each (node, sender)
 * block and each group are contiguous.
 */
static int latency(struct ana *a)
{
	const struct cana_index *ix = &a->ix;
	const struct clog_ev *ev = a->s->ev;
	__u64 *v = malloc((ix->nrecs + 1) * sizeof(*v));
	size_t i = 0, k, nv;

	if (!v)
		return -ENOMEM;
	while (i < ix->nrecs) {
		const struct cana_rec *r0 = &ix->recs[i];
		struct cana_peer_lat pl = {
			.group = r0->group, .node = r0->node, .peer = r0->sender,
			.host = ix->nodes[r0->rnode].host,
		};

		for (k = i, nv = 0; k < ix->nrecs && ix->recs[k].group == r0->group &&
		     ix->recs[k].node == r0->node &&
		     ix->recs[k].sender == r0->sender; k++)
			if (ix->recs[k].deliver != CLOG_NONE)
				v[nv++] = ev[ix->recs[k].deliver].held_ns;
		lat_stats(v, nv, &pl.lat);
		if (nv && push((void **)&a->r->lat, &a->r->nlat, &a->cap_lat,
			       sizeof(pl), &pl)) {
			free(v);
			return -ENOMEM;
		}
		i = k;
	}
	for (i = 0; i < ix->nrecs; i = k) {
		struct cana_group *g = group_of(a, ix->recs[i].rnode);

		for (k = i, nv = 0; k < ix->nrecs &&
		     ix->recs[k].group == ix->recs[i].group; k++)
			if (ix->recs[k].deliver != CLOG_NONE)
				v[nv++] = ev[ix->recs[k].deliver].held_ns;
		lat_stats(v, nv, &g->lat);
		g->hold_ns = g->lat.total_ns;
	}
	free(v);
	return 0;
}

static int cmp_held(const void *a, const void *b)
{
	const struct cana_held *x = a, *y = b;

	if (x->age_ns != y->age_ns)
		return x->age_ns > y->age_ns ? -1 : 1;
	if (x->group != y->group)
		return x->group < y->group ? -1 : 1;
	if (x->node != y->node)
		return x->node < y->node ? -1 : 1;
	if (x->sender != y->sender)
		return x->sender < y->sender ? -1 : 1;
	return cmp_u64(x->stamp, y->stamp);
}

static const char * const finding_names[CANA_F_KINDS] = {
	[CANA_F_VIOLATION] = "violation",
	[CANA_F_HELD] = "held",
	[CANA_F_BLAME] = "blame",
	[CANA_F_ANOMALY] = "anomaly",
	[CANA_F_ERROR] = "error",
	[CANA_F_RESET] = "reset",
	[CANA_F_GAP] = "gap",
	[CANA_F_SLOW] = "slow",
	[CANA_F_NO_LOG] = "no_log",
};

const char *cana_finding_name(enum cana_finding_kind kind)
{
	return kind < CANA_F_KINDS ? finding_names[kind] : "unknown";
}

void cana_wall_str(__u64 wall_ns, char *buf, size_t size)
{
	time_t sec = wall_ns / 1000000000ULL;
	struct tm tm;
	char day[32];

	gmtime_r(&sec, &tm);
	strftime(day, sizeof(day), "%Y-%m-%d %H:%M:%S", &tm);
	snprintf(buf, size, "%s.%06llu UTC", day,
		 (unsigned long long)(wall_ns % 1000000000ULL / 1000));
}

void cana_time_str(const struct clog_store *s, __u32 host, __u64 ts,
		   __u64 wall_ns, char *buf, size_t size)
{
	if (wall_ns) {
		cana_wall_str(wall_ns, buf, size);
	} else {
		snprintf(buf, size, "%llu.%06llu s on %s's clock",
			 (unsigned long long)(ts / 1000000000ULL),
			 (unsigned long long)(ts % 1000000000ULL / 1000),
			 host == CLOG_NONE ? "the" : clog_str(s, host));
	}
}

struct cana_finding *ana_add_finding(struct ana *a,
				     enum cana_finding_kind kind,
				     __u32 group, __u64 weight, __u32 host,
				     __u64 ts, const char *fmt, ...)
{
	struct cana_finding f = { .kind = kind, .group = group,
				  .weight_ns = weight, .since_host = host,
				  .since_ts = ts };
	va_list ap;

	if (host != CLOG_NONE && a->has_wall[host])
		f.since_wall_ns = ts + a->wall_off[host];
	va_start(ap, fmt);
	vsnprintf(f.text, sizeof(f.text), fmt, ap);
	va_end(ap);
	if (push((void **)&a->r->findings, &a->r->nfindings, &a->cap_find,
		 sizeof(f), &f))
		return NULL;
	return &a->r->findings[a->r->nfindings - 1];
}

/* Messages that arrived and were not delivered by the end of the log. */
static int held_now(struct ana *a)
{
	const struct cana_index *ix = &a->ix;
	const struct clog_ev *ev = a->s->ev;
	struct cana_result *r = a->r;
	size_t i = 0, k;

	while (i < ix->nrecs) {
		__u64 sum = 0, count = 0;
		struct cana_held oldest = {};

		/* One receiving node at a time, for its finding. */
		for (k = i; k < ix->nrecs && ix->recs[k].rnode == ix->recs[i].rnode;
		     k++) {
			const struct cana_rec *rc = &ix->recs[k];
			const struct clog_ev *e;
			struct cana_held h = {};

			if (rc->arrive == CLOG_NONE || rc->deliver != CLOG_NONE)
				continue;
			e = &ev[rc->arrive];
			h.group = rc->group;
			h.node = rc->node;
			h.sender = rc->sender;
			h.stamp = rc->stamp;
			h.host = e->host;
			h.arrive_ts = e->ts;
			h.age_ns = ix->host_last[e->host] - e->ts;
			if (rc->hold != CLOG_NONE) {
				h.has_wait = true;
				h.wait_node = ev[rc->hold].wait_node;
				h.wait_stamp = ev[rc->hold].wait_stamp;
			}
			group_of(a, rc->rnode)->held_now++;
			r->held_total++;
			sum += h.age_ns;
			if (!count++ || h.age_ns > oldest.age_ns)
				oldest = h;
			if (push((void **)&r->held, &r->nheld, &a->cap_held,
				  sizeof(h), &h))
				return -ENOMEM;
		}
		/* A log ends with some messages in flight: only those held
		 * as long as a slow group's p99 are a finding.
		 */
		if (count && oldest.age_ns >= CANA_HELD_NOW_NS) {
			char age[32], wait[96] = "", peer[32] = "the sender";
			struct cana_finding *f;

			cana_fmt_ns(oldest.age_ns, age, sizeof(age));
			if (oldest.has_wait) {
				snprintf(wait, sizeof(wait),
					 ", waiting for node %u's message %llu",
					 oldest.wait_node,
					 (unsigned long long)oldest.wait_stamp);
				snprintf(peer, sizeof(peer), "node %u",
					 oldest.wait_node);
			}
			f = ana_add_finding(a, CANA_F_HELD, oldest.group, sum,
					    oldest.host, oldest.arrive_ts,
					    "node %u of group %u (host %s) still holds %llu "
					    "message%s at the end of its log, the oldest "
					    "(node %u's message %llu) for %s%s",
					    oldest.node, oldest.group,
					    clog_str(a->s, oldest.host),
					    (unsigned long long)count, count > 1 ? "s" : "",
					    oldest.sender,
					    (unsigned long long)oldest.stamp, age, wait);
			if (!f)
				return -ENOMEM;
			advise(f, "causalctl why %u %u %u:%llu for its chain; then the channel "
			       "from %s (causalctl status on host %s, ss -ti); "
			       "CAUSAL_HOLD_TIMEOUT bounds such holds (a gap instead)",
			       oldest.group, oldest.node, oldest.sender,
			       (unsigned long long)oldest.stamp, peer,
			       clog_str(a->s, oldest.host));
		}
		i = k;
	}
	sort(r->held, r->nheld, sizeof(*r->held), cmp_held);
	if (r->nheld > a->max_items)
		r->nheld = a->max_items;
	return 0;
}

/* The canonical links between @node and @peer of @group, from either end's
 * peer events, with their TCP counts: retransmits by the peer's end (its
 * data to node) apart from those the other way. The busiest link is shown,
 * peer's end first.
 */
static void pair_tcp(struct ana *a, struct cana_blame *b)
{
	struct causal_ev_link seen[16];
	size_t nseen = 0, lo, hi;
	__u64 best = 0;

	for (int side = 0; side < 2; side++) {
		__u16 from = side ? b->peer : b->node;
		__u16 to = side ? b->node : b->peer;

		peer_range(a, b->group, from, to, &lo, &hi);
		for (size_t i = lo; i < hi; i++) {
			const struct clog_ev *e = &a->s->ev[a->peers[i]];
			const struct causal_ev_link *l = clog_ev_link(a->s, e);
			const struct tcp_count *t;
			struct causal_ev_link c, o;
			__u64 fwd = 0;
			size_t k;

			if (!l)
				continue;
			/* A peer event's link starts at its own node. */
			if (side)
				o = *l;
			else
				swap_link(l, &o);
			canon_link(l, &c);
			for (k = 0; k < nseen; k++)
				if (!cmp_link(&seen[k], &c))
					break;
			if (k < nseen)
				continue;
			if (nseen < sizeof(seen) / sizeof(seen[0]))
				seen[nseen++] = c;
			t = tcp_find(a, &c);
			if (t) {
				bool pa = first_end(&c, o.saddr, o.sport);

				fwd = t->retransmits[!pa];
				b->retransmits += fwd;
				b->retransmits_back += t->retransmits[pa];
				b->resets += t->resets;
			}
			if (!b->has_link || fwd > best) {
				best = fwd;
				b->has_link = true;
				b->link = o;
			}
		}
	}
}

static int cmp_blame(const void *a, const void *b)
{
	const struct cana_blame *x = a, *y = b;

	if (x->hold_ns != y->hold_ns)
		return x->hold_ns > y->hold_ns ? -1 : 1;
	if (x->group != y->group)
		return x->group < y->group ? -1 : 1;
	if (x->node != y->node)
		return x->node < y->node ? -1 : 1;
	return x->peer < y->peer ? -1 : x->peer > y->peer;
}

/*
 * Each group's median channel blame: what "stands out" is measured
 * against. Channels that carried messages and waited on nobody count as 0,
 * so the one channel that waited in a quiet group stands out.
 */
static int pair_medians(struct ana *a)
{
	struct cana_result *r = a->r;
	size_t *n = calloc(2 * (r->ngroups + 1), sizeof(*n)), *seen;

	if (!n)
		return -ENOMEM;
	seen = n + r->ngroups + 1;
	for (size_t i = 0; i < r->npairs; i++)
		if (r->pairs[i].hold_ns)
			n[find_group(a, r->pairs[i].group) - r->groups]++;
	for (size_t x = 0; x < r->ngroups; x++)
		if (r->groups[x].channels > n[x])
			n[x] = r->groups[x].channels;
	/* Largest first: the median is the (n / 2)th of its group, 0 when
	 * it falls among the channels that did not wait.
	 */
	for (size_t i = 0; i < r->npairs; i++) {
		struct cana_group *g = find_group(a, r->pairs[i].group);
		size_t x = g - r->groups;

		if (r->pairs[i].hold_ns && seen[x]++ == n[x] / 2)
			g->pair_median_ns = r->pairs[i].hold_ns;
	}
	free(n);
	return 0;
}

static __u64 group_first_hold(struct ana *a, __u32 group, __u32 *host)
{
	const struct cana_result *r = a->r;
	__u64 ts = UINT64_MAX;

	*host = CLOG_NONE;
	for (size_t i = 0; i < r->npairs; i++) {
		if (r->pairs[i].group != group || !r->pairs[i].hold_ns ||
		    r->pairs[i].first_hold_ts >= ts)
			continue;
		ts = r->pairs[i].first_hold_ts;
		*host = r->pairs[i].host;
	}
	return ts;
}

/*
 * A pair whose blame stands out of its group's (CANA_BLAME_OUTLIER times
 * the median channel, and CANA_BLAME_MIN_NS) is a finding; a group slow
 * everywhere, with no pair standing out, is one finding of its own.
 */
static int blame_findings(struct ana *a)
{
	struct cana_result *r = a->r;

	for (size_t i = 0; i < r->npairs; i++) {
		const struct cana_blame *b = &r->pairs[i];
		struct cana_group *g = find_group(a, b->group);
		char held[32], tcp[192], link[128] = "", than[64];
		struct cana_finding *f;

		if (b->hold_ns < CANA_BLAME_MIN_NS ||
		    b->hold_ns < CANA_BLAME_OUTLIER * g->pair_median_ns)
			continue;
		if (g->pair_median_ns)
			snprintf(than, sizeof(than), "%.1fx the median channel of group %u",
				 (double)b->hold_ns / g->pair_median_ns, b->group);
		else
			snprintf(than, sizeof(than), "while most channels of group %u "
				 "waited on nobody", b->group);
		g->outliers++;
		cana_fmt_ns(b->hold_ns, held, sizeof(held));
		if (b->has_link) {
			clog_link_str(&b->link, link, sizeof(link));
			snprintf(tcp, sizeof(tcp), "; %llu TCP retransmits on %s",
				 (unsigned long long)b->retransmits, link);
			if (b->retransmits_back)
				snprintf(tcp + strlen(tcp), sizeof(tcp) - strlen(tcp),
					 " (%llu the other way)",
					 (unsigned long long)b->retransmits_back);
			if (b->resets)
				snprintf(tcp + strlen(tcp), sizeof(tcp) - strlen(tcp),
					 ", %llu resets",
					 (unsigned long long)b->resets);
		} else {
			snprintf(tcp, sizeof(tcp), "; its link is not in the logs");
		}
		f = ana_add_finding(a, CANA_F_BLAME, b->group, b->hold_ns, b->host,
				    b->first_hold_ts,
				    "node %u (host %s) waited %s on node %u over %llu "
				    "holds, %s (%.0f%% of its hold time)%s",
				    b->node, clog_str(a->s, b->host), held, b->peer,
				    (unsigned long long)b->msgs, than, 100 * b->share, tcp);
		if (!f)
			return -ENOMEM;
		if (b->retransmits)
			advise(f, "node %u's end of %s retransmits: look for loss on "
			       "that path (ss -ti and nstat on both hosts, tc -s "
			       "qdisc, the NICs' drop counters)", b->peer, link);
		else if (b->has_link)
			advise(f, "node %u's messages reach node %u later than the "
			       "others' do, without retransmits: compare the rtt of "
			       "%s with the other links' (ss -ti on host %s), and "
			       "node %u's send queue and CPU", b->peer, b->node,
			       link, clog_str(a->s, b->host), b->peer);
		else
			advise(f, "add the logs of node %u's host, with its peer "
			       "events, to see its link", b->peer);
	}
	for (size_t gi = 0; gi < r->ngroups; gi++) {
		struct cana_group *g = &r->groups[gi];
		char p99[32];
		struct cana_finding *f;
		__u32 host;
		__u64 ts;

		if (g->outliers || g->lat.held_p99 < CANA_SLOW_P99_NS)
			continue;
		ts = group_first_hold(a, g->group, &host);
		cana_fmt_ns(g->lat.held_p99, p99, sizeof(p99));
		f = ana_add_finding(a, CANA_F_SLOW, g->group, g->hold_ns, host,
				    host == CLOG_NONE ? 0 : ts,
				    "group %u holds messages long on every channel: p99 "
				    "of its holds %s over %llu held deliveries, and no "
				    "peer stands out", g->group, p99,
				    (unsigned long long)g->lat.held);
		if (!f)
			return -ENOMEM;
		advise(f, "the network or the nodes are slow everywhere: compare "
		       "the links' rtt (ss -ti) and the nodes' CPU load; causalctl "
		       "why for the longest hold shows one chain");
	}
	return 0;
}

/*
 * The part of a delivery's hold time that it waited at the head of its
 * channel, from its hold event on (the module's blame_us counts the same):
 * before that it waited behind its own channel. Without an arrive event
 * its whole hold.
 */
__u64 ana_head_wait_ns(const struct clog_ev *ev, const struct cana_rec *rc)
{
	__u64 ready, held = ev[rc->deliver].held_ns;

	if (rc->arrive == CLOG_NONE || rc->hold == CLOG_NONE)
		return held;
	ready = ev[rc->arrive].ts + held;
	if (ready <= ev[rc->hold].ts)
		return 0;
	return ready - ev[rc->hold].ts < held ? ready - ev[rc->hold].ts : held;
}

/* Each delivery's wait at the head of its channel, charged to the node
 * its hold waited for; the rest of its hold is unattributed.
 */
static int blame(struct ana *a)
{
	const struct cana_index *ix = &a->ix;
	const struct clog_ev *ev = a->s->ev;
	struct cana_result *r = a->r;
	struct cana_blame tot[CAUSAL_EV_MAX_NODES], pair[CAUSAL_EV_MAX_NODES];
	size_t i = 0, k;

	while (i < ix->nrecs) {
		__u32 group = ix->recs[i].group;
		struct cana_group *g = group_of(a, ix->recs[i].rnode);

		memset(tot, 0, sizeof(tot));
		while (i < ix->nrecs && ix->recs[i].group == group) {
			__u32 rnode = ix->recs[i].rnode;

			memset(pair, 0, sizeof(pair));
			for (k = i; k < ix->nrecs && ix->recs[k].rnode == rnode; k++) {
				const struct cana_rec *rc = &ix->recs[k];
				__u64 held;
				__u16 w;

				if (rc->deliver == CLOG_NONE)
					continue;
				held = ev[rc->deliver].held_ns;
				if (rc->hold == CLOG_NONE) {
					g->unattributed_ns += held;
					continue;
				}
				g->unattributed_ns += held - ana_head_wait_ns(ev, rc);
				held = ana_head_wait_ns(ev, rc);
				w = ev[rc->hold].wait_node;
				if (!pair[w].msgs ||
				    ev[rc->hold].ts < pair[w].first_hold_ts)
					pair[w].first_hold_ts = ev[rc->hold].ts;
				pair[w].hold_ns += held;
				pair[w].msgs++;
				tot[w].hold_ns += held;
				tot[w].msgs++;
			}
			for (__u16 p = 0; p < CAUSAL_EV_MAX_NODES; p++) {
				struct cana_blame *b = &pair[p];

				if (!b->msgs)
					continue;
				b->group = group;
				b->node = ix->nodes[rnode].node;
				b->host = ix->nodes[rnode].host;
				b->peer = p;
				b->share = g->hold_ns ? (double)b->hold_ns / g->hold_ns : 0;
				pair_tcp(a, b);
				if (push((void **)&r->pairs, &r->npairs, &a->cap_pairs,
					 sizeof(*b), b))
					return -ENOMEM;
			}
			i = k;
		}
		for (__u16 p = 0; p < CAUSAL_EV_MAX_NODES; p++) {
			struct cana_blame *b = &tot[p];

			if (!b->msgs)
				continue;
			b->group = group;
			b->node = CANA_ALL;
			b->host = CLOG_NONE;
			b->peer = p;
			b->share = g->hold_ns ? (double)b->hold_ns / g->hold_ns : 0;
			if (push((void **)&r->blame, &r->nblame, &a->cap_blame,
				 sizeof(*b), b))
				return -ENOMEM;
		}
	}
	sort(r->blame, r->nblame, sizeof(*r->blame), cmp_blame);
	sort(r->pairs, r->npairs, sizeof(*r->pairs), cmp_blame);
	return pair_medians(a) ? -ENOMEM : blame_findings(a);
}

/* Channels, failures and the TCP trouble of each group's links. */
static int channels(struct ana *a)
{
	const struct clog_ev *ev = a->s->ev;
	const struct cana_index *ix = &a->ix;
	struct causal_ev_link *links = NULL;
	size_t nlinks = 0, cap = 0;
	int ret = 0;

	for (size_t x = 0; x < ix->nnodes; x++) {
		const struct cana_node *nd = &ix->nodes[x];
		struct cana_group *g = group_of(a, x);
		__u64 seen = 0;

		for (__u32 i = 0; i < nd->n; i++) {
			__u32 r = ix->ref[ix->seq[nd->first + i]];
			const struct clog_ev *e = &ev[ix->seq[nd->first + i]];

			switch (e->type) {
			case CAUSAL_EV_SEND:
				g->sends++;
				continue;
			case CAUSAL_EV_ARRIVE:
				g->arrivals++;
				continue;
			case CAUSAL_EV_HOLD:
				g->holds++;
				break;
			case CAUSAL_EV_DELIVER:
				g->deliveries++;
				g->gaps += e->flag;
				/* Ready when it came: no arrive event. */
				if (r != CLOG_NONE && ix->recs[r].arrive == CLOG_NONE)
					g->arrivals++;
				break;
			case CAUSAL_EV_ERROR:
				g->errors++;
				break;
			case CAUSAL_EV_PEER:
				if (e->link != CLOG_NONE) {
					struct causal_ev_link c;

					canon_link(&a->s->links[e->link], &c);
					c.pad = a->node_group[x];	/* sort by group */
					if (push((void **)&links, &nlinks, &cap,
						 sizeof(c), &c)) {
						ret = -ENOMEM;
						goto out;
					}
				}
				break;
			default:
				continue;
			}
			/* The channels the daemon's model counts: pairs with
			 * a hold, delivery, peer or error event.
			 */
			if (e->peer < CAUSAL_EV_MAX_NODES &&
			    !(seen & (1ULL << e->peer))) {
				seen |= 1ULL << e->peer;
				g->channels++;
			}
		}
	}
	/* Each group's distinct links: their retransmits and resets. */
	sort(links, nlinks, sizeof(*links), cmp_link);
	for (size_t i = 0; i < nlinks; i++) {
		const struct tcp_count *t;
		struct causal_ev_link c;
		struct cana_group *g;

		if (i && !cmp_link(&links[i], &links[i - 1]))
			continue;
		g = &a->r->groups[links[i].pad];
		c = links[i];
		c.pad = 0;
		t = tcp_find(a, &c);
		if (!t)
			continue;
		g->retransmits += t->retransmits[0] + t->retransmits[1];
		g->resets += t->resets;
		g->resets_mid += t->resets_mid;
		/* Resets after the last message are a run's teardown:
		 * counted, but they are no finding.
		 */
		if (t->resets_mid) {
			struct cana_finding *f;
			char l[128];

			clog_link_str(&c, l, sizeof(l));
			f = ana_add_finding(a, CANA_F_RESET, g->group,
					    t->resets_mid * CANA_ERROR_WEIGHT_NS,
					    t->reset_host, t->reset_ts,
					    "%llu TCP resets on %s, a channel of group %u, "
					    "while its hosts still exchanged messages",
					    (unsigned long long)t->resets_mid, l, g->group);
			if (!f) {
				ret = -ENOMEM;
				goto out;
			}
			advise(f, "a peer process closed or crashed, or a middlebox "
			       "reset the connection: look at both ends' processes "
			       "and their logs at that time; the channel's peer "
			       "events show when it came back");
		}
	}
out:
	free(links);
	return ret;
}

/* Channel failures, one finding per (group, node, peer, error). */
static int errors(struct ana *a)
{
	const struct clog_ev *ev = a->s->ev;
	const struct cana_index *ix = &a->ix;

	for (size_t x = 0; x < ix->nnodes; x++) {
		const struct cana_node *nd = &ix->nodes[x];
		/* peer (no peer yet in the last slot) x error */
		__u64 cnt[CAUSAL_EV_MAX_NODES + 1][CAUSAL_ERR_MAX + 1];
		__u64 first[CAUSAL_EV_MAX_NODES + 1][CAUSAL_ERR_MAX + 1];
		bool any = false;

		for (__u32 i = 0; i < nd->n; i++) {
			const struct clog_ev *e = &ev[ix->seq[nd->first + i]];
			int p, err;

			if (e->type != CAUSAL_EV_ERROR)
				continue;
			if (!any)
				memset(cnt, 0, sizeof(cnt));
			any = true;
			p = e->peer < CAUSAL_EV_MAX_NODES ? e->peer :
			    CAUSAL_EV_MAX_NODES;
			err = e->err < CAUSAL_ERR_MAX ? e->err : CAUSAL_ERR_MAX;
			if (!cnt[p][err]++)
				first[p][err] = e->ts;	/* in time order */
		}
		for (int p = 0; any && p <= CAUSAL_EV_MAX_NODES; p++) {
			for (int err = 0; err <= CAUSAL_ERR_MAX; err++) {
				struct cana_finding *f;
				char peer[32];

				if (!cnt[p][err])
					continue;
				if (p == CAUSAL_EV_MAX_NODES)
					snprintf(peer, sizeof(peer),
						 "a peer before its HELLO");
				else
					snprintf(peer, sizeof(peer), "node %d", p);
				f = ana_add_finding(a, CANA_F_ERROR, nd->group,
						    cnt[p][err] * CANA_ERROR_WEIGHT_NS,
						    nd->host, first[p][err],
						    "node %u of group %u (host %s) failed its "
						    "channel to %s %llu time%s: protocol error "
						    "\"%s\"",
						    nd->node, nd->group,
						    clog_str(a->s, nd->host), peer,
						    (unsigned long long)cnt[p][err],
						    cnt[p][err] > 1 ? "s" : "",
						    causal_proto_err_name(err));
				if (!f)
					return -ENOMEM;
				advise(f, "%s sent what the protocol forbids: check that "
				       "it runs the same module version (modinfo causal "
				       "on its host) and that only causal peers connect "
				       "to the group's port; causalctl status on host %s "
				       "shows the channel's last error", peer,
				       clog_str(a->s, nd->host));
			}
		}
	}
	return 0;
}

static int violation_findings(struct ana *a)
{
	for (size_t gi = 0; gi < a->r->ngroups; gi++) {
		const struct cana_group *g = &a->r->groups[gi];
		const struct cana_violation *v = NULL;
		struct cana_finding *f;
		char first[512];

		if (!g->check.violations)
			continue;
		for (size_t i = 0; i < a->r->nviol && !v; i++)
			if (a->r->viol[i].group == g->group)
				v = &a->r->viol[i];
		if (v)
			cana_violation_str(a->s, v, first, sizeof(first));
		else
			snprintf(first, sizeof(first), "(not listed)");
		f = ana_add_finding(a, CANA_F_VIOLATION, g->group, UINT64_MAX,
				    v ? v->host : CLOG_NONE, v ? v->deliver_ts : 0,
				    "group %u: %llu deliver%s broke happens-before; first: %s",
				    g->group, (unsigned long long)g->check.violations,
				    g->check.violations > 1 ? "ies" : "y", first);
		if (!f)
			return -ENOMEM;
		advise(f, "%s", cana_complete(&a->r->check) ?
		       "the module delivered out of causal order: keep these logs "
		       "and report it with the module version (modinfo causal)" :
		       "the logs are incomplete (lost events or a missing host), so "
		       "this may be the logs' fault: give every host's log, raise "
		       "causald --ringbuf if events were lost, and check again");
	}
	return 0;
}

/* Deliveries past a lost cause, one finding per receiving node. */
static int gap_findings(struct ana *a)
{
	const struct cana_index *ix = &a->ix;
	const struct clog_ev *ev = a->s->ev;

	for (size_t x = 0; x < ix->nnodes; x++) {
		const struct cana_node *nd = &ix->nodes[x];
		const struct clog_ev *first = NULL;
		struct cana_finding *f;
		__u64 n = 0;

		for (__u32 i = 0; i < nd->n; i++) {
			const struct clog_ev *e = &ev[ix->seq[nd->first + i]];

			if (e->type != CAUSAL_EV_DELIVER || !e->flag)
				continue;
			if (!n++)
				first = e;
		}
		if (!n)
			continue;
		f = ana_add_finding(a, CANA_F_GAP, nd->group, n * CANA_ERROR_WEIGHT_NS,
				    first->host, first->ts,
				    "node %u of group %u (host %s) gave up waiting %llu "
				    "time%s (hold timeout): the first, node %u's message "
				    "%llu, was delivered without a cause that never came",
				    nd->node, nd->group, clog_str(a->s, nd->host),
				    (unsigned long long)n, n > 1 ? "s" : "", first->peer,
				    (unsigned long long)first->stamp);
		if (!f)
			return -ENOMEM;
		advise(f, "causalctl why %u %u %u:%llu names what never came; then "
		       "that sender's channel (causalctl status on host %s, ss -ti)",
		       nd->group, nd->node, first->peer,
		       (unsigned long long)first->stamp, clog_str(a->s, nd->host));
	}
	return 0;
}

/* "; its address, from node 2's channel: 10.0.0.2", or "" if no peer event
 * of @group names @node's end.
 */
static void peer_addr(struct ana *a, __u32 group, __u16 node, char *buf,
		      size_t size)
{
	const struct cana_index *ix = &a->ix;

	*buf = 0;
	for (size_t x = 0; x < ix->nnodes; x++) {
		size_t lo, hi;

		if (ix->nodes[x].group != group)
			continue;
		peer_range(a, group, ix->nodes[x].node, node, &lo, &hi);
		for (size_t i = lo; i < hi; i++) {
			const struct causal_ev_link *l =
				clog_ev_link(a->s, &a->s->ev[a->peers[i]]);
			char addr[INET6_ADDRSTRLEN];

			/* A peer event's link starts at its own node. */
			if (!l || !inet_ntop(l->family == AF_INET6 ? AF_INET6 : AF_INET,
					     l->daddr, addr, sizeof(addr)))
				continue;
			snprintf(buf, size, "; its address, from node %u's channel: %s",
				 ix->nodes[x].node, addr);
			return;
		}
	}
}

/* Senders whose messages arrived but whose sends are not in the logs. */
static int no_log_findings(struct ana *a)
{
	const struct cana_index *ix = &a->ix;
	const struct clog_ev *ev = a->s->ev;
	__u64 n[CAUSAL_EV_MAX_NODES], ts[CAUSAL_EV_MAX_NODES];
	__u32 host[CAUSAL_EV_MAX_NODES];

	for (size_t i = 0, k; i < ix->nrecs; i = k) {
		__u32 group = ix->recs[i].group;

		memset(n, 0, sizeof(n));
		for (k = i; k < ix->nrecs && ix->recs[k].group == group; k++) {
			const struct cana_rec *rc = &ix->recs[k];
			__u32 e = rc->arrive != CLOG_NONE ? rc->arrive : rc->deliver;

			if (rc->msg != CLOG_NONE || e == CLOG_NONE)
				continue;
			if (!n[rc->sender]++ || ev[e].ts < ts[rc->sender]) {
				ts[rc->sender] = ev[e].ts;
				host[rc->sender] = ev[e].host;
			}
		}
		for (__u16 p = 0; p < CAUSAL_EV_MAX_NODES; p++) {
			struct cana_finding *f;
			char seen[160];
			bool has_log;

			if (!n[p])
				continue;
			has_log = cana_find_node(ix, group, p) != CLOG_NONE;
			peer_addr(a, group, p, seen, sizeof(seen));
			f = ana_add_finding(a, CANA_F_NO_LOG, group, 0, host[p], ts[p],
					    has_log ?
					    "node %u of group %u: %llu of its messages arrived "
					    "but its log has no send for them%s" :
					    "node %u of group %u: no log of its host is given; "
					    "%llu of its messages arrived without a send event%s",
					    p, group, (unsigned long long)n[p], seen);
			if (!f)
				return -ENOMEM;
			if (has_log)
				advise(f, "its log is cut or lost events: give its whole "
				       "log, and raise causald --ringbuf there if it "
				       "counts lost events");
			else
				advise(f, "add the log of node %u's host to the command "
				       "line: without it the happens-before check is "
				       "incomplete", p);
		}
	}
	return 0;
}

/* ---------------------------------------------------------------------- */

static int health(struct ana *a)
{
	for (size_t gi = 0; gi < a->r->ngroups; gi++) {
		struct cana_group *g = &a->r->groups[gi];
		struct causal_health_in in = {
			.deliveries = g->lat.count,
			.held = g->lat.held,
			.gaps = g->gaps,
			.p99_hold_ns = g->lat.held_p99,
			.errors = g->errors + g->resets_mid,
			.channels = g->channels,
			.violations = g->check.violations,
		};

		causal_health_score(&in, &g->health);
	}
	return 0;
}

static int cmp_finding(const void *a, const void *b)
{
	const struct cana_finding *x = a, *y = b;

	if (x->weight_ns != y->weight_ns)
		return x->weight_ns > y->weight_ns ? -1 : 1;
	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	return strcmp(x->text, y->text);
}

bool cana_group_healthy(const struct cana_result *r, __u32 group)
{
	for (size_t i = 0; i < r->nfindings; i++)
		if (r->findings[i].group == group)
			return false;
	return true;
}

void cana_free(struct cana_result *r)
{
	if (!r)
		return;
	free(r->groups);
	free(r->lat);
	free(r->held);
	free(r->blame);
	free(r->pairs);
	free(r->anomalies);
	free(r->viol);
	free(r->findings);
	free(r);
}

/*
 * The passes, in order: each reads the index and what the passes before it
 * wrote, adds its part of the result and its findings.
 */
static int (*const passes[])(struct ana *a) = {
	build_groups,		/* groups and their node counts */
	count_events,		/* counts by type, TCP events by link */
	channels,		/* channels, failures, resets, peer events */
	latency,		/* hold-back latency tables */
	held_now,		/* what the logs end with still held */
	blame,			/* hold time by the node waited for */
	errors,			/* channel failures */
	ana_duplicates,		/* duplicate events: the check's trust */
	ana_hb_check,		/* happens-before, rebuilt (causal_hb.c) */
	violation_findings,
	gap_findings,		/* deliveries past a lost cause */
	no_log_findings,	/* senders without a log */
	ana_anomalies,		/* sustained jumps of blame (causal_anomaly.c) */
	health,			/* the score, from all of the above */
};

struct cana_result *cana_analyze(const struct clog_store *s,
				 const struct cana_opts *o)
{
	struct ana a = { .s = s, .o = o };
	int ret;

	a.r = calloc(1, sizeof(*a.r));
	if (!a.r)
		return NULL;
	a.max_items = o->max_items ? o->max_items : CANA_MAX_ITEMS;
	ret = cana_host_offsets(s, &a.wall_off, &a.has_wall);
	if (!ret)
		ret = cana_index_build(&a.ix, s, o->has_group, o->group);
	for (size_t i = 0; !ret && i < sizeof(passes) / sizeof(passes[0]); i++)
		ret = passes[i](&a);
	if (!ret)
		sort(a.r->findings, a.r->nfindings, sizeof(*a.r->findings),
		     cmp_finding);
	cana_index_free(&a.ix);
	free(a.node_group);
	free(a.tcp);
	free(a.peers);
	free(a.counter);
	free(a.vc_off);
	free(a.vc);
	free(a.cur);
	free(a.sent);
	free(a.last_stamp);
	free(a.cycle);
	free(a.wall_off);
	free(a.has_wall);
	if (ret) {
		cana_free(a.r);
		errno = -ret;
		return NULL;
	}
	return a.r;
}

