// SPDX-License-Identifier: GPL-2.0
/*
 * The independent happens-before check (docs/analysis.md, "Violations of
 * happens-before"): vector clocks rebuilt from the order of each node's
 * sends and deliveries alone, no clock or decision of the module's, and
 * every delivery checked against the arrivals at its node.
 */
#include <stdio.h>

#include "causal_analysis_int.h"

static void hb_visit(void *ctx, __u32 x, __u32 e, bool cycle)
{
	struct ana *a = ctx;
	const struct cana_index *ix = &a->ix;
	const struct clog_ev *ev = &a->s->ev[e];
	__u16 n = a->r->groups[a->node_group[x]].nodes;
	__u32 *cur = a->cur + (size_t)x * CAUSAL_EV_MAX_NODES;
	__u32 m = ix->ref[e];

	if (ev->type == CAUSAL_EV_SEND) {
		if (m == CLOG_NONE)
			return;		/* a duplicate, counted elsewhere */
		if (a->sent[x] && ev->stamp <= a->last_stamp[x])
			group_of(a, x)->check.inconsistent++;
		a->last_stamp[x] = ev->stamp;
		a->counter[m] = ++a->sent[x];
		cur[ev->node] = a->counter[m];
		memcpy(a->vc + a->vc_off[m], cur, n * sizeof(*cur));
		return;
	}
	/* A delivery: merge the clock of its send. */
	if (ix->recs[m].deliver != e)
		return;
	if (cycle) {
		a->cycle[m] = 1;
		group_of(a, x)->check.inconsistent++;
		return;
	}
	if (ix->recs[m].msg == CLOG_NONE)
		return;
	for (__u16 k = 0; k < n; k++) {
		__u32 v = a->vc[a->vc_off[ix->recs[m].msg] + k];

		if (v > cur[k])
			cur[k] = v;
	}
}

struct arrivals {
	__u32 counter;
	__u32 rec;
};

static int cmp_arr(const void *a, const void *b)
{
	const struct arrivals *x = a, *y = b;

	return x->counter < y->counter ? -1 : x->counter > y->counter;
}

/* Position after the last entry of @l[0..n) with counter <= @need. */
static size_t upper(const struct arrivals *l, size_t n, __u32 need)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (l[mid].counter <= need)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

struct node_check {
	struct arrivals *arr;	/* this node's arrivals, by sender then counter */
	__u8 *done;
	__u32 start[CAUSAL_EV_MAX_NODES], len[CAUSAL_EV_MAX_NODES];
	__u32 prefix[CAUSAL_EV_MAX_NODES];	/* delivered (or excused) */
	__u32 floor[CAUSAL_EV_MAX_NODES];	/* given up by gaps */
};

static void advance(struct node_check *c, __u16 k, struct cana_check *chk)
{
	while (c->prefix[k] < c->len[k]) {
		__u32 i = c->start[k] + c->prefix[k];

		if (!c->done[i]) {
			if (c->arr[i].counter > c->floor[k])
				break;
			chk->gap_excused++;
			c->done[i] = 1;
		}
		c->prefix[k]++;
	}
}

static int violation(struct ana *a, struct cana_group *g,
		     const struct cana_rec *m, const struct cana_rec *cause)
{
	const struct clog_ev *ev = a->s->ev;
	struct cana_result *r = a->r;
	struct cana_violation v = {
		.group = m->group, .node = m->node,
		.host = ev[m->deliver].host,
		.sender = m->sender, .stamp = m->stamp,
		.deliver_ts = ev[m->deliver].ts,
		.cause_sender = cause->sender, .cause_stamp = cause->stamp,
		.cause_arrive_ts = arrival_ts(ev, cause),
		.cause_delivered = cause->deliver != CLOG_NONE,
	};

	if (v.cause_delivered)
		v.cause_deliver_ts = ev[cause->deliver].ts;
	g->check.violations++;
	if (r->nviol >= a->max_items)
		return 0;
	return push((void **)&r->viol, &r->nviol, &a->cap_viol, sizeof(v), &v);
}

/* Check every delivery of node @x against the arrivals at @x. */
static int check_node(struct ana *a, size_t x, size_t rb, size_t re,
		      struct node_check *c)
{
	const struct cana_index *ix = &a->ix;
	const struct cana_node *nd = &ix->nodes[x];
	const struct clog_ev *ev = a->s->ev;
	struct cana_group *g = group_of(a, x);
	struct cana_check *chk = &g->check;
	__u32 *where = NULL;	/* rec - rb -> its entry in c->arr */
	size_t na = 0;
	__u16 n = g->nodes;
	int ret = 0;

	memset(c->start, 0, sizeof(c->start));
	memset(c->len, 0, sizeof(c->len));
	memset(c->prefix, 0, sizeof(c->prefix));
	memset(c->floor, 0, sizeof(c->floor));
	where = malloc((re - rb + 1) * sizeof(*where));
	if (!where)
		return -ENOMEM;
	for (size_t i = rb; i < re; i++) {
		const struct cana_rec *rc = &ix->recs[i];

		where[i - rb] = CLOG_NONE;
		if (rec_arrival(rc) == CLOG_NONE)
			continue;
		if (rc->msg == CLOG_NONE) {
			chk->no_send++;
			continue;
		}
		if (!c->len[rc->sender])
			c->start[rc->sender] = na;
		c->len[rc->sender]++;
		c->arr[na].counter = a->counter[rc->msg];
		c->arr[na].rec = i;
		c->done[na] = 0;
		na++;
	}
	for (__u16 k = 0; k < CAUSAL_EV_MAX_NODES; k++) {
		struct arrivals *l = c->arr + c->start[k];

		for (__u32 i = 1; i < c->len[k]; i++) {
			if (l[i - 1].counter >= l[i].counter) {
				sort(l, c->len[k], sizeof(*l), cmp_arr);
				break;
			}
		}
		for (__u32 i = 0; i < c->len[k]; i++)
			where[l[i].rec - rb] = c->start[k] + i;
	}

	for (__u32 i = 0; i < nd->n; i++) {
		__u32 e = ix->seq[nd->first + i], r = ix->ref[e];
		const struct cana_rec *rc;
		const __u32 *vc;
		__u16 k;

		if (ev[e].type != CAUSAL_EV_DELIVER || ix->recs[r].deliver != e)
			continue;
		rc = &ix->recs[r];
		if (rc->msg == CLOG_NONE) {
			chk->no_send++;
			continue;
		}
		if (a->cycle[r])
			continue;
		vc = a->vc + a->vc_off[rc->msg];
		if (ev[e].flag) {
			/* A gap: what it waited for is given up. */
			chk->gap_exempt++;
			for (k = 0; k < n; k++) {
				if (k == rc->sender || k == nd->node)
					continue;
				if (vc[k] > c->floor[k])
					c->floor[k] = vc[k];
				advance(c, k, chk);
			}
		} else {
			chk->checked++;
			for (k = 0; k < n; k++) {
				__u32 need, got;

				if (k == nd->node || !c->len[k])
					continue;
				need = k == rc->sender ? a->counter[rc->msg] - 1 : vc[k];
				got = upper(c->arr + c->start[k], c->len[k], need);
				if (got > c->prefix[k])
					break;
			}
			if (k < n) {
				__u32 ci = c->arr[c->start[k] + c->prefix[k]].rec;

				ret = violation(a, g, rc, &ix->recs[ci]);
				if (ret)
					break;
			}
		}
		if (where[r - rb] != CLOG_NONE) {
			c->done[where[r - rb]] = 1;
			advance(c, rc->sender, chk);
		}
	}
	free(where);
	return ret;
}

/* Lost events the check would have read: sends, arrivals and deliveries,
 * and those of no known type. A lost hold, clock or TCP event hides no
 * happens-before edge.
 */
static __u64 check_lost(const struct clog_store *s)
{
	static const __u32 unread[] = { CAUSAL_EV_HOLD, CAUSAL_EV_CLOCK,
					CAUSAL_EV_PEER, CAUSAL_EV_ERROR,
					CAUSAL_EV_TCP_RETRANSMIT,
					CAUSAL_EV_TCP_STATE, CAUSAL_EV_TCP_RESET };
	__u64 lost = s->lost;

	for (size_t i = 0; i < sizeof(unread) / sizeof(unread[0]); i++)
		lost -= s->lost_by_type[unread[i]];
	return lost;
}

int ana_hb_check(struct ana *a)
{
	const struct cana_index *ix = &a->ix;
	struct node_check c = {};
	size_t total = 0, maxrecs = 0, rb = 0;
	__u64 lost;
	long cycles;
	int ret = -ENOMEM;

	a->counter = calloc(ix->nmsgs + 1, sizeof(*a->counter));
	a->vc_off = malloc((ix->nmsgs + 1) * sizeof(*a->vc_off));
	a->cur = calloc(ix->nnodes * CAUSAL_EV_MAX_NODES + 1, sizeof(*a->cur));
	a->sent = calloc(ix->nnodes + 1, sizeof(*a->sent));
	a->last_stamp = calloc(ix->nnodes + 1, sizeof(*a->last_stamp));
	a->cycle = calloc(ix->nrecs + 1, 1);
	if (!a->counter || !a->vc_off || !a->cur || !a->sent ||
	    !a->last_stamp || !a->cycle)
		return -ENOMEM;
	for (size_t m = 0; m < ix->nmsgs; m++) {
		a->vc_off[m] = total;
		total += group_of(a, ix->msgs[m].node)->nodes;
	}
	a->vc = malloc((total + 1) * sizeof(*a->vc));
	if (!a->vc)
		return -ENOMEM;
	cycles = cana_walk(ix, 0, ix->nnodes,
			   BIT(CAUSAL_EV_SEND) | BIT(CAUSAL_EV_DELIVER),
			   hb_visit, a);
	if (cycles < 0)
		return cycles;

	/* Per receiving node: its receptions are recs [rb, re). */
	for (size_t i = 0, k; i < ix->nrecs; i = k) {
		for (k = i; k < ix->nrecs && ix->recs[k].rnode == ix->recs[i].rnode; k++)
			;
		if (k - i > maxrecs)
			maxrecs = k - i;
	}
	c.arr = malloc((maxrecs + 1) * sizeof(*c.arr));
	c.done = malloc(maxrecs + 1);
	if (!c.arr || !c.done)
		goto out;
	ret = 0;
	for (size_t x = 0; x < ix->nnodes && !ret; x++) {
		size_t re = rb;

		while (re < ix->nrecs && ix->recs[re].rnode == x)
			re++;
		ret = check_node(a, x, rb, re, &c);
		rb = re;
	}
	lost = check_lost(a->s);
	for (size_t gi = 0; gi < a->r->ngroups; gi++) {
		struct cana_check *chk = &a->r->groups[gi].check;

		chk->lost = lost;
		a->r->check.checked += chk->checked;
		a->r->check.violations += chk->violations;
		a->r->check.gap_exempt += chk->gap_exempt;
		a->r->check.gap_excused += chk->gap_excused;
		a->r->check.no_send += chk->no_send;
		a->r->check.inconsistent += chk->inconsistent;
	}
	a->r->check.lost = lost;
out:
	free(c.arr);
	free(c.done);
	return ret;
}

/* Duplicates make the check unreliable: count them per group. */
int ana_duplicates(struct ana *a)
{
	const struct cana_index *ix = &a->ix;
	const struct clog_ev *ev = a->s->ev;

	for (size_t x = 0; x < ix->nnodes; x++) {
		const struct cana_node *nd = &ix->nodes[x];

		for (__u32 i = 0; i < nd->n; i++) {
			__u32 e = ix->seq[nd->first + i];
			const struct cana_rec *rc;

			if (ev[e].type == CAUSAL_EV_SEND) {
				if (ix->ref[e] == CLOG_NONE)
					group_of(a, x)->check.inconsistent++;
				continue;
			}
			if (ev[e].type != CAUSAL_EV_ARRIVE &&
			    ev[e].type != CAUSAL_EV_DELIVER)
				continue;
			rc = &ix->recs[ix->ref[e]];
			if (rc->arrive != e && rc->deliver != e)
				group_of(a, x)->check.inconsistent++;
		}
	}
	return 0;
}
