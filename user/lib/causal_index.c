// SPDX-License-Identifier: GPL-2.0
/*
 * The index of a log store that analysis, why and export share: each
 * node's events in time order, each message's send, each reception's
 * arrive, hold and deliver events, all as sorted arrays (docs/analysis.md,
 * "Reading the logs"), and the walk in happens-before order over them.
 */
#define _GNU_SOURCE
#include <stdio.h>

#include "causal_analysis_int.h"

static int cmp_seq(const void *a, const void *b, void *ctx)
{
	const struct clog_ev *ev = ctx;
	__u32 i = *(const __u32 *)a, j = *(const __u32 *)b;
	const struct clog_ev *x = &ev[i], *y = &ev[j];

	if (x->group != y->group)
		return x->group < y->group ? -1 : 1;
	if (x->node != y->node)
		return x->node < y->node ? -1 : 1;
	if (x->ts != y->ts)
		return x->ts < y->ts ? -1 : 1;
	return cmp_u64(i, j);
}

/* Receptions (and peer events) by (node, peer, stamp), then time. */
int ana_cmp_rec(const void *a, const void *b, void *ctx)
{
	const struct clog_ev *ev = ctx;
	__u32 i = *(const __u32 *)a, j = *(const __u32 *)b;
	const struct clog_ev *x = &ev[i], *y = &ev[j];

	if (x->group != y->group)
		return x->group < y->group ? -1 : 1;
	if (x->node != y->node)
		return x->node < y->node ? -1 : 1;
	if (x->peer != y->peer)
		return x->peer < y->peer ? -1 : 1;
	if (x->stamp != y->stamp)
		return x->stamp < y->stamp ? -1 : 1;
	if (x->ts != y->ts)
		return x->ts < y->ts ? -1 : 1;
	return cmp_u64(i, j);
}

/* Sends by message, then time; the peer of a send is only its target. */
static int cmp_send(const void *a, const void *b, void *ctx)
{
	const struct clog_ev *ev = ctx;
	__u32 i = *(const __u32 *)a, j = *(const __u32 *)b;
	const struct clog_ev *x = &ev[i], *y = &ev[j];

	if (x->group != y->group)
		return x->group < y->group ? -1 : 1;
	if (x->node != y->node)
		return x->node < y->node ? -1 : 1;
	if (x->stamp != y->stamp)
		return x->stamp < y->stamp ? -1 : 1;
	if (x->ts != y->ts)
		return x->ts < y->ts ? -1 : 1;
	return cmp_u64(i, j);
}

static bool same_rec(const struct clog_ev *x, const struct clog_ev *y)
{
	return x->group == y->group && x->node == y->node &&
	       x->peer == y->peer && x->stamp == y->stamp;
}

static __u32 find_node(const struct cana_index *ix, __u32 group, __u16 node)
{
	size_t lo = 0, hi = ix->nnodes;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		const struct cana_node *n = &ix->nodes[mid];

		if (n->group < group || (n->group == group && n->node < node))
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < ix->nnodes && ix->nodes[lo].group == group &&
	    ix->nodes[lo].node == node)
		return lo;
	return CLOG_NONE;
}

__u32 cana_find_msg(const struct cana_index *ix, __u32 group, __u16 sender,
		    __u64 stamp)
{
	size_t lo = 0, hi = ix->nmsgs;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		const struct clog_ev *e = &ix->s->ev[ix->msgs[mid].ev];
		int c = e->group != group ? (e->group < group ? -1 : 1) :
			e->node != sender ? (e->node < sender ? -1 : 1) :
			cmp_u64(e->stamp, stamp);

		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < ix->nmsgs) {
		const struct clog_ev *e = &ix->s->ev[ix->msgs[lo].ev];

		if (e->group == group && e->node == sender && e->stamp == stamp)
			return lo;
	}
	return CLOG_NONE;
}

void cana_index_free(struct cana_index *ix)
{
	free(ix->seq);
	free(ix->nodes);
	free(ix->msgs);
	free(ix->recs);
	free(ix->ref);
	free(ix->host_last);
	memset(ix, 0, sizeof(*ix));
}

static bool is_rec_type(__u32 type)
{
	return type == CAUSAL_EV_ARRIVE || type == CAUSAL_EV_HOLD ||
	       type == CAUSAL_EV_DELIVER;
}

static void index_nodes(struct cana_index *ix)
{
	const struct clog_ev *ev = ix->s->ev;
	struct cana_node *n = NULL;

	for (size_t i = 0; i < ix->nseq; i++) {
		const struct clog_ev *e = &ev[ix->seq[i]];

		if (!n || n->group != e->group || n->node != e->node) {
			n = &ix->nodes[ix->nnodes++];
			n->group = e->group;
			n->node = e->node;
			n->nodes = e->nodes;
			n->host = e->host;
			n->first = i;
			n->n = 0;
		}
		if (e->nodes > n->nodes)
			n->nodes = e->nodes;
		n->n++;
	}
}

/* One message per (group, sender, stamp): the first send event. */
static void index_msgs(struct cana_index *ix, __u32 *tmp, size_t nsend)
{
	const struct clog_ev *ev = ix->s->ev;

	qsort_r(tmp, nsend, sizeof(*tmp), cmp_send, (void *)ev);
	for (size_t i = 0; i < nsend; i++) {
		const struct clog_ev *e = &ev[tmp[i]];

		if (i && e->group == ev[tmp[i - 1]].group &&
		    e->node == ev[tmp[i - 1]].node &&
		    e->stamp == ev[tmp[i - 1]].stamp) {
			ix->dup_sends++;
			continue;
		}
		ix->msgs[ix->nmsgs].ev = tmp[i];
		ix->msgs[ix->nmsgs].node = find_node(ix, e->group, e->node);
		ix->ref[tmp[i]] = ix->nmsgs++;
	}
}

bool cana_rec_arrival(const struct cana_index *ix, const struct cana_rec *rc,
		      __u64 *ts)
{
	if (rec_arrival(rc) == CLOG_NONE)
		return false;
	*ts = arrival_ts(ix->s->ev, rc);
	return true;
}

__u32 cana_find_rec(const struct cana_index *ix, __u32 group, __u16 node,
		    __u16 sender, __u64 stamp)
{
	size_t lo = 0, hi = ix->nrecs;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		const struct cana_rec *r = &ix->recs[mid];
		int c = r->group != group ? (r->group < group ? -1 : 1) :
			r->node != node ? (r->node < node ? -1 : 1) :
			r->sender != sender ? (r->sender < sender ? -1 : 1) :
			cmp_u64(r->stamp, stamp);

		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < ix->nrecs && ix->recs[lo].group == group &&
	    ix->recs[lo].node == node && ix->recs[lo].sender == sender &&
	    ix->recs[lo].stamp == stamp)
		return lo;
	return CLOG_NONE;
}

__u32 cana_find_node(const struct cana_index *ix, __u32 group, __u16 node)
{
	return find_node(ix, group, node);
}

static void index_recs(struct cana_index *ix, __u32 *tmp, size_t nrec)
{
	const struct clog_ev *ev = ix->s->ev;
	struct cana_rec *r = NULL;
	__u32 rnode = CLOG_NONE;

	qsort_r(tmp, nrec, sizeof(*tmp), ana_cmp_rec, (void *)ev);
	for (size_t i = 0; i < nrec; i++) {
		const struct clog_ev *e = &ev[tmp[i]];
		__u32 *slot;

		if (!r || !same_rec(&ev[tmp[i - 1]], e)) {
			r = &ix->recs[ix->nrecs++];
			r->group = e->group;
			r->node = e->node;
			r->sender = e->peer;
			r->stamp = e->stamp;
			if (rnode == CLOG_NONE ||
			    ix->nodes[rnode].group != e->group ||
			    ix->nodes[rnode].node != e->node)
				rnode = find_node(ix, e->group, e->node);
			r->rnode = rnode;
			r->msg = cana_find_msg(ix, e->group, e->peer, e->stamp);
			r->arrive = r->hold = r->deliver = CLOG_NONE;
		}
		slot = e->type == CAUSAL_EV_ARRIVE ? &r->arrive :
		       e->type == CAUSAL_EV_HOLD ? &r->hold : &r->deliver;
		if (*slot == CLOG_NONE)
			*slot = tmp[i];
		else if (e->type != CAUSAL_EV_HOLD)
			ix->dup_events++;
		ix->ref[tmp[i]] = ix->nrecs - 1;
	}
}

int cana_index_build(struct cana_index *ix, const struct clog_store *s,
		     bool has_group, __u32 group)
{
	size_t nsend = 0, nrec = 0, n = 0;
	__u32 *tmp = NULL;

	memset(ix, 0, sizeof(*ix));
	ix->s = s;
	ix->ref = malloc((s->nev ? s->nev : 1) * sizeof(*ix->ref));
	ix->host_last = calloc(s->str.n ? s->str.n : 1, sizeof(*ix->host_last));
	if (!ix->ref || !ix->host_last)
		goto nomem;
	for (size_t i = 0; i < s->nev; i++) {
		const struct clog_ev *e = &s->ev[i];

		ix->ref[i] = CLOG_NONE;
		if (e->ts > ix->host_last[e->host])
			ix->host_last[e->host] = e->ts;
		if (!clog_is_causal(e->type) || (has_group && e->group != group))
			continue;
		n++;
		nsend += e->type == CAUSAL_EV_SEND;
		nrec += is_rec_type(e->type);
	}
	ix->seq = malloc((n ? n : 1) * sizeof(*ix->seq));
	ix->nodes = malloc((n ? n : 1) * sizeof(*ix->nodes));
	ix->msgs = malloc((nsend ? nsend : 1) * sizeof(*ix->msgs));
	ix->recs = malloc((nrec ? nrec : 1) * sizeof(*ix->recs));
	tmp = malloc((nsend + nrec + 1) * sizeof(*tmp));
	if (!ix->seq || !ix->nodes || !ix->msgs || !ix->recs || !tmp)
		goto nomem;
	nsend = nrec = 0;
	for (size_t i = 0; i < s->nev; i++) {
		const struct clog_ev *e = &s->ev[i];

		if (!clog_is_causal(e->type) || (has_group && e->group != group))
			continue;
		ix->seq[ix->nseq++] = i;
	}
	qsort_r(ix->seq, ix->nseq, sizeof(*ix->seq), cmp_seq, (void *)s->ev);
	index_nodes(ix);
	/* Sized for one node per event until counted. */
	ix->nodes = realloc(ix->nodes, (ix->nnodes + 1) * sizeof(*ix->nodes)) ?:
		    ix->nodes;

	for (size_t i = 0; i < ix->nseq; i++)
		if (s->ev[ix->seq[i]].type == CAUSAL_EV_SEND)
			tmp[nsend++] = ix->seq[i];
	index_msgs(ix, tmp, nsend);
	for (size_t i = 0; i < ix->nseq; i++)
		if (is_rec_type(s->ev[ix->seq[i]].type))
			tmp[nrec++] = ix->seq[i];
	index_recs(ix, tmp, nrec);
	free(tmp);
	return 0;
nomem:
	free(tmp);
	cana_index_free(ix);
	return -ENOMEM;
}

long cana_walk(const struct cana_index *ix, size_t first, size_t count,
	       __u32 types, cana_visit_fn fn, void *ctx)
{
	const struct clog_ev *ev = ix->s->ev;
	__u32 *pos, *wait_next, *blocked, *stack, *wait_head;
	size_t sp = 0;
	long cycles = 0;
	__u8 *done;

	pos = calloc(count + 1, sizeof(*pos));
	wait_next = malloc((count + 1) * sizeof(*wait_next));
	blocked = malloc((count + 1) * sizeof(*blocked));
	stack = malloc((count + 1) * sizeof(*stack));
	wait_head = malloc((ix->nmsgs + 1) * sizeof(*wait_head));
	done = calloc(ix->nmsgs + 1, 1);
	if (!pos || !wait_next || !blocked || !stack || !wait_head || !done) {
		cycles = -ENOMEM;
		goto out;
	}
	memset(wait_head, 0xff, (ix->nmsgs + 1) * sizeof(*wait_head));
	for (size_t x = count; x--; ) {
		blocked[x] = CLOG_NONE;
		stack[sp++] = x;
	}
	for (;;) {
		size_t x;

		while (sp) {
			const struct cana_node *nd;

			x = stack[--sp];
			nd = &ix->nodes[first + x];
			while (pos[x] < nd->n) {
				__u32 e = ix->seq[nd->first + pos[x]], r, m;

				if (!(types & BIT(ev[e].type))) {
					pos[x]++;
					continue;
				}
				if (ev[e].type == CAUSAL_EV_DELIVER) {
					r = ix->ref[e];
					m = ix->recs[r].msg;
					if (ix->recs[r].deliver == e &&
					    m != CLOG_NONE && !done[m]) {
						blocked[x] = m;
						wait_next[x] = wait_head[m];
						wait_head[m] = x;
						break;
					}
				}
				fn(ctx, first + x, e, false);
				m = ix->ref[e];
				if (ev[e].type == CAUSAL_EV_SEND && m != CLOG_NONE) {
					done[m] = 1;
					for (__u32 w = wait_head[m]; w != CLOG_NONE;
					     w = wait_next[w]) {
						blocked[w] = CLOG_NONE;
						stack[sp++] = w;
					}
					wait_head[m] = CLOG_NONE;
				}
				pos[x]++;
			}
		}
		/* Everyone left waits for a send that waits for them: break
		 * the cycle at the first blocked node.
		 */
		for (x = 0; x < count; x++)
			if (pos[x] < ix->nodes[first + x].n)
				break;
		if (x == count)
			break;
		for (__u32 *w = &wait_head[blocked[x]]; *w != CLOG_NONE;
		     w = &wait_next[*w]) {
			if (*w == x) {
				*w = wait_next[x];
				break;
			}
		}
		blocked[x] = CLOG_NONE;
		fn(ctx, first + x, ix->seq[ix->nodes[first + x].first + pos[x]],
		   true);
		pos[x]++;
		cycles++;
		stack[sp++] = x;
	}
out:
	free(pos);
	free(wait_next);
	free(blocked);
	free(stack);
	free(wait_head);
	free(done);
	return cycles;
}

/* Wall-clock offset of each host (CLOCK_REALTIME - CLOCK_MONOTONIC) from
 * its meta line.
 */
int cana_host_offsets(const struct clog_store *s, __u64 **off, __u8 **has)
{
	*off = calloc(s->str.n + 1, sizeof(**off));
	*has = calloc(s->str.n + 1, 1);
	if (!*off || !*has)
		return -ENOMEM;
	for (size_t i = 0; i < s->nfiles; i++) {
		const struct clog_file *f = &s->files[i];

		if (!f->has_meta || f->host == CLOG_NONE)
			continue;
		(*off)[f->host] = f->realtime_ns - f->started_ts;
		(*has)[f->host] = 1;
	}
	return 0;
}
