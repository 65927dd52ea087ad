// SPDX-License-Identifier: GPL-2.0
/*
 * Anomalies (docs/analysis.md, "Anomalies"): per group and blamed peer, a
 * series of blamed hold time per bucket against its own EWMA baseline;
 * sustained runs above it are findings.
 */
#include <math.h>
#include <stdio.h>

#include "causal_analysis_int.h"

size_t cana_anomaly_runs(const __u64 *x, size_t n, __u64 min_ns,
			 struct cana_run *out, size_t max)
{
	double mean = 0, var = 0, m2 = 0;
	struct cana_run run = {};
	size_t nruns = 0, i;
	bool in_run = false;

	for (i = 0; i < n && i < CANA_WARMUP; i++) {
		double d = x[i] - mean;

		mean += d / (i + 1);
		m2 += d * (x[i] - mean);
	}
	var = i ? m2 / i : 0;
	for (; i < n; i++) {
		double sd = sqrt(var), v = x[i];
		bool flag = in_run ? v > mean + CANA_SIGMAS_ON * sd &&
				     v > CANA_RATIO_ON * mean :
				     x[i] >= min_ns && v > mean + CANA_SIGMAS * sd &&
				     v > CANA_RATIO * mean;

		if (flag) {
			if (!in_run) {
				memset(&run, 0, sizeof(run));
				run.first = i;
				run.mean_ns = llround(mean);
				run.sd_ns = llround(sd);
				in_run = true;
			}
			run.len++;
			if (x[i] > run.peak_ns)
				run.peak_ns = x[i];
			run.excess_ns += llround(v - mean);
			continue;	/* the baseline stays the one before */
		}
		if (in_run) {
			if (nruns < max)
				out[nruns] = run;
			nruns++;
			in_run = false;
		}
		/* Exponentially weighted mean and variance. */
		{
			double d = v - mean, inc = CANA_ALPHA * d;

			mean += inc;
			var = (1 - CANA_ALPHA) * (var + d * inc);
		}
	}
	if (in_run) {
		if (nruns < max)
			out[nruns] = run;
		nruns++;
	}
	return nruns;
}

struct blamed {
	__u16 peer;
	__u64 bucket;
	__u64 ns;
	__u64 t;		/* of its delivery, on the group's time line */
	__u32 deliver;
	__u16 sender;
	__u64 stamp;
};

static int cmp_blamed(const void *a, const void *b)
{
	const struct blamed *x = a, *y = b;

	if (x->peer != y->peer)
		return x->peer < y->peer ? -1 : 1;
	return cmp_u64(x->bucket, y->bucket);
}

static int anomalies_group(struct ana *a, struct cana_group *g, size_t rb,
			   size_t re, const __u64 *off, const __u8 *has)
{
	const struct cana_index *ix = &a->ix;
	const struct clog_ev *ev = a->s->ev;
	__u64 bucket = a->o->bucket_ns, start = UINT64_MAX, end = 0, nb;
	struct blamed *b = NULL;
	struct cana_run runs[64];
	__u64 *series = NULL;
	size_t nbl = 0, cap = 0;
	bool wall = true;
	int ret = -ENOMEM;

	for (size_t x = 0; x < ix->nnodes; x++)
		if (ix->nodes[x].group == g->group && !has[ix->nodes[x].host])
			wall = false;
	/* The group's time line: its deliveries, on one clock. */
	for (size_t i = rb; i < re; i++) {
		const struct cana_rec *rc = &ix->recs[i];
		__u64 t;

		if (rc->deliver == CLOG_NONE)
			continue;
		t = ev[rc->deliver].ts + (wall ? off[ev[rc->deliver].host] : 0);
		if (t < start)
			start = t;
		if (t > end)
			end = t;
	}
	if (start > end)
		return 0;
	/* Fine enough that an incident of a tenth of the run spans buckets
	 * after the warm-up, coarse enough that a long run is not noise.
	 */
	if (!bucket) {
		bucket = (end - start) / CANA_RUN_BUCKETS;
		bucket = bucket < CANA_BUCKET_MIN_NS ? CANA_BUCKET_MIN_NS :
			 bucket > CANA_BUCKET_NS ? CANA_BUCKET_NS : bucket;
	}
	if ((end - start) / bucket >= CANA_MAX_BUCKETS)
		bucket = (end - start) / (CANA_MAX_BUCKETS - 1) + 1;
	nb = (end - start) / bucket + 1;
	for (size_t i = rb; i < re; i++) {
		const struct cana_rec *rc = &ix->recs[i];
		struct blamed item;
		__u64 t;

		if (rc->deliver == CLOG_NONE || rc->hold == CLOG_NONE ||
		    !ev[rc->deliver].held_ns)
			continue;
		t = ev[rc->deliver].ts + (wall ? off[ev[rc->deliver].host] : 0);
		item.peer = ev[rc->hold].wait_node;
		item.bucket = (t - start) / bucket;
		item.ns = ana_head_wait_ns(ev, rc);
		item.t = t;
		item.deliver = rc->deliver;
		item.sender = rc->sender;
		item.stamp = rc->stamp;
		if (push((void **)&b, &nbl, &cap, sizeof(item), &item))
			goto out;
	}
	sort(b, nbl, sizeof(*b), cmp_blamed);
	series = malloc(nb * sizeof(*series));
	if (!series)
		goto out;
	for (size_t i = 0, k; i < nbl; i = k) {
		size_t nr, kept;

		memset(series, 0, nb * sizeof(*series));
		for (k = i; k < nbl && b[k].peer == b[i].peer; k++)
			series[b[k].bucket] += b[k].ns;
		nr = cana_anomaly_runs(series, nb, CANA_MIN_SHARE * bucket, runs, 64);
		if (nr > 64)
			nr = 64;
		/* Sustained: a spike of a bucket or three is noise. */
		for (size_t j = kept = 0; j < nr; j++)
			if (runs[j].len >= CANA_MIN_RUN)
				runs[kept++] = runs[j];
		nr = kept;
		for (size_t j = 0; j < nr; j++) {
			struct cana_anomaly an = {
				.group = g->group, .peer = b[i].peer,
				.start_ns = runs[j].first * bucket,
				.bucket_ns = bucket, .buckets = runs[j].len,
				.peak_ns = runs[j].peak_ns,
				.mean_ns = runs[j].mean_ns, .sd_ns = runs[j].sd_ns,
				.excess_ns = runs[j].excess_ns, .wall = wall,
			};
			char peak[32], mean[32], sd[32], per[32], at[32], len[32];
			const struct blamed *since = NULL;
			bool since_big = false;
			__u32 node = cana_find_node(ix, g->group, an.peer);
			struct cana_finding *f;

			if (push((void **)&a->r->anomalies, &a->r->nanomalies,
				 &a->cap_anom, sizeof(an), &an))
				goto out;
			/* It starts at the first hold of its first bucket
			 * that alone outweighs a normal bucket, else at the
			 * bucket's first; the bucket has holds, as a run
			 * starts at one of at least CANA_MIN_SHARE of it.
			 */
			for (size_t m = i; m < k; m++) {
				bool big = b[m].ns > an.mean_ns;

				if (b[m].bucket != runs[j].first)
					continue;
				if (!since || (big && !since_big) ||
				    (big == since_big && b[m].t < since->t)) {
					since = &b[m];
					since_big = big;
				}
			}
			cana_fmt_ns(an.peak_ns, peak, sizeof(peak));
			cana_fmt_ns(an.mean_ns, mean, sizeof(mean));
			cana_fmt_ns(an.sd_ns, sd, sizeof(sd));
			cana_fmt_ns(bucket, per, sizeof(per));
			cana_fmt_ns(an.start_ns, at, sizeof(at));
			cana_fmt_ns(an.buckets * bucket, len, sizeof(len));
			f = ana_add_finding(a, CANA_F_ANOMALY, g->group, an.excess_ns,
					    ev[since->deliver].host,
					    ev[since->deliver].ts,
					    "hold time blamed on node %u in group %u jumped from "
					    "its baseline of %s +- %s to %s per %s at +%s, for %s",
					    an.peer, g->group, mean, sd, peak, per, at, len);
			if (!f)
				goto out;
			advise(f, "look at what changed then on node %u's host%s%s and "
			       "on its links: TCP retransmits (the blame table), its CPU, "
			       "the network; causalctl export --around %u:%llu draws that "
			       "time", an.peer, node == CLOG_NONE ? "" : " ",
			       node == CLOG_NONE ? "" : clog_str(a->s, ix->nodes[node].host),
			       since->sender, (unsigned long long)since->stamp);
		}
	}
	ret = 0;
out:
	free(series);
	free(b);
	return ret;
}

int ana_anomalies(struct ana *a)
{
	const struct cana_index *ix = &a->ix;
	int ret = 0;

	for (size_t i = 0, k; !ret && i < ix->nrecs; i = k) {
		for (k = i; k < ix->nrecs && ix->recs[k].group == ix->recs[i].group; k++)
			;
		ret = anomalies_group(a, find_group(a, ix->recs[i].group), i, k,
				      a->wall_off, a->has_wall);
	}
	return ret;
}
