// SPDX-License-Identifier: GPL-2.0
/*
 * ShiViz log and space-time diagram of event logs (docs/analysis.md). Both
 * follow the events in a topological order of happens-before (cana_walk),
 * so a delivery always comes after its send.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <json-c/json.h>

#include "causal_analysis.h"
#include "causal_export.h"
#include "causal_why.h"
#include "causal_wire.h"

#define BIT(t)	CAUSAL_EV_BIT(t)

static void msg_name(char *buf, size_t size, __u16 node, __u64 stamp)
{
	snprintf(buf, size, "n%u:%llu", node, (unsigned long long)stamp);
}

/* One line, no newline: the ShiViz event text and the SVG tooltips. */
static void describe(const struct clog_store *s, const struct clog_ev *e,
		     char *buf, size_t size)
{
	char m[48], w[48], held[32], link[128];

	switch (e->type) {
	case CAUSAL_EV_SEND:
		msg_name(m, sizeof(m), e->node, e->stamp);
		if (e->peer == CAUSAL_EV_NO_PEER)
			snprintf(w, sizeof(w), "all");
		else
			snprintf(w, sizeof(w), "n%u", e->peer);
		snprintf(buf, size, "send %s to %s, %u B", m, w, e->len);
		break;
	case CAUSAL_EV_ARRIVE:
		msg_name(m, sizeof(m), e->peer, e->stamp);
		snprintf(buf, size, "arrive %s, %u B", m, e->len);
		break;
	case CAUSAL_EV_HOLD:
		msg_name(m, sizeof(m), e->peer, e->stamp);
		msg_name(w, sizeof(w), e->wait_node, e->wait_stamp);
		snprintf(buf, size, "hold %s, waits for %s", m, w);
		break;
	case CAUSAL_EV_DELIVER:
		msg_name(m, sizeof(m), e->peer, e->stamp);
		cana_fmt_ns(e->held_ns, held, sizeof(held));
		snprintf(buf, size, "deliver %s as #%llu after %s held%s", m,
			 (unsigned long long)e->index, held,
			 e->flag ? ", gap (hold timeout)" : "");
		break;
	case CAUSAL_EV_PEER:
		if (e->link != CLOG_NONE)
			clog_link_str(&s->links[e->link], link, sizeof(link));
		else
			snprintf(link, sizeof(link), "unknown link");
		snprintf(buf, size, "peer n%u %s on %s", e->peer,
			 e->flag ? "joined" : "left", link);
		break;
	case CAUSAL_EV_ERROR:
		if (e->peer == CAUSAL_EV_NO_PEER)
			snprintf(w, sizeof(w), "a peer before its HELLO");
		else
			snprintf(w, sizeof(w), "n%u", e->peer);
		snprintf(buf, size, "channel to %s failed: %s", w,
			 causal_proto_err_name(e->err));
		break;
	default:
		snprintf(buf, size, "%s", clog_type_name(e->type));
	}
	snprintf(buf + strlen(buf), size - strlen(buf), " (ts %llu)",
		 (unsigned long long)e->ts);
}

/* ---------------------------------------------------------------------- */
/* ShiViz                                                                  */
/* ---------------------------------------------------------------------- */

struct shiviz {
	FILE *f;
	const struct cana_index *ix;
	__u16 *gn;		/* node -> its group's size */
	__u32 *cur;		/* node -> 64 entries */
	size_t *off;		/* msg -> its clock in vc */
	__u32 *vc;
	size_t events;
	int err;
};

static void shiviz_visit(void *ctx, __u32 x, __u32 e, bool cycle)
{
	struct shiviz *sv = ctx;
	const struct cana_index *ix = sv->ix;
	const struct clog_ev *ev = &ix->s->ev[e];
	const struct cana_node *nd = &ix->nodes[x];
	__u32 *cur = sv->cur + (size_t)x * CAUSAL_EV_MAX_NODES, r;
	__u16 n = sv->gn[x];
	struct json_object *clock;
	char desc[256], host[32];

	if (sv->err)
		return;
	cur[nd->node]++;
	r = ix->ref[e];
	if (ev->type == CAUSAL_EV_DELIVER && !cycle && ix->recs[r].deliver == e &&
	    ix->recs[r].msg != CLOG_NONE) {
		const __u32 *v = sv->vc + sv->off[ix->recs[r].msg];

		for (__u16 k = 0; k < n; k++)
			if (v[k] > cur[k])
				cur[k] = v[k];
	}
	if (ev->type == CAUSAL_EV_SEND && r != CLOG_NONE)
		memcpy(sv->vc + sv->off[r], cur, n * sizeof(*cur));

	describe(ix->s, ev, desc, sizeof(desc));
	clock = json_object_new_object();
	for (__u16 k = 0; k < n; k++) {
		if (!cur[k])
			continue;
		snprintf(host, sizeof(host), "g%u/n%u", nd->group, k);
		json_object_object_add(clock, host, json_object_new_uint64(cur[k]));
	}
	snprintf(host, sizeof(host), "g%u/n%u", nd->group, nd->node);
	if (fprintf(sv->f, "%s\n%s %s\n", desc, host,
		    json_object_to_json_string_ext(clock, JSON_C_TO_STRING_PLAIN |
						   JSON_C_TO_STRING_NOSLASHESCAPE)) < 0)
		sv->err = -EIO;
	json_object_put(clock);
	sv->events++;
}

int cexp_shiviz(FILE *f, const struct clog_store *s, const struct cexp_opts *o,
		struct cexp_info *info)
{
	struct shiviz sv = { .f = f };
	struct cana_index ix;
	size_t total = 0;
	long cycles;
	int ret;

	memset(info, 0, sizeof(*info));
	ret = cana_index_build(&ix, s, o->has_group, o->group);
	if (ret)
		return ret;
	sv.ix = &ix;
	sv.gn = calloc(ix.nnodes + 1, sizeof(*sv.gn));
	sv.cur = calloc(ix.nnodes * CAUSAL_EV_MAX_NODES + 1, sizeof(*sv.cur));
	sv.off = malloc((ix.nmsgs + 1) * sizeof(*sv.off));
	ret = -ENOMEM;
	if (!sv.gn || !sv.cur || !sv.off)
		goto out;
	/* Clocks span the nodes of the node's group. */
	for (size_t i = 0, k; i < ix.nnodes; i = k) {
		__u16 n = 0;

		for (k = i; k < ix.nnodes && ix.nodes[k].group == ix.nodes[i].group; k++)
			if (ix.nodes[k].nodes > n)
				n = ix.nodes[k].nodes;
		for (size_t j = i; j < k; j++)
			sv.gn[j] = n;
	}
	for (size_t m = 0; m < ix.nmsgs; m++) {
		sv.off[m] = total;
		total += sv.gn[ix.msgs[m].node];
	}
	sv.vc = malloc((total + 1) * sizeof(*sv.vc));
	if (!sv.vc)
		goto out;
	fprintf(f, "%s\n\n", CEXP_SHIVIZ_REGEX);
	cycles = cana_walk(&ix, 0, ix.nnodes,
			   BIT(CAUSAL_EV_SEND) | BIT(CAUSAL_EV_ARRIVE) |
			   BIT(CAUSAL_EV_HOLD) | BIT(CAUSAL_EV_DELIVER) |
			   BIT(CAUSAL_EV_PEER) | BIT(CAUSAL_EV_ERROR),
			   shiviz_visit, &sv);
	ret = cycles < 0 ? cycles : sv.err;
	if (!ret && ferror(f))
		ret = -EIO;
	info->events = sv.events;
out:
	free(sv.gn);
	free(sv.cur);
	free(sv.off);
	free(sv.vc);
	cana_index_free(&ix);
	return ret;
}

/* ---------------------------------------------------------------------- */
/* Space-time diagram: the window                                          */
/* ---------------------------------------------------------------------- */

#define D_LEFT		110	/* x of the first node line */
#define D_COL		190	/* least between node lines */
#define D_TOP		190	/* y of the earliest event */
#define D_TOP_HTML	60	/* in the HTML page, whose text has the legend */
#define D_STEP		8	/* least y between two events of a node */
#define D_SPAN		480	/* the window's time, in pixels */
#define D_GAP		70	/* most pixels a quiet stretch takes */
#define D_LANE		7	/* between hold lanes */
#define D_LANES		48	/* lanes beside one line at most */
#define D_TICK		64	/* least between time ticks */
#define D_MUST		16	/* messages a window must show */

enum clocks { CL_ONE, CL_WALL, CL_ESTIMATED };

struct item {
	__s64 g;
	__u32 ev;
};

struct pos {			/* a drawn reception */
	double xa, ya;		/* its arrival, on the receiver's line */
	double xd, yd;		/* its delivery dot (or the bar's end) */
	int lane;		/* -1: not held */
	bool stuck;
};

struct box {
	double x0, y0, x1, y1;
};

struct label {
	double x, y;
	bool end;		/* text-anchor end */
	const char *cls;
	char text[96];
};

struct draw {
	FILE *f;
	const struct clog_store *s;
	struct cana_index ix;
	struct cana_result *res;	/* the group's analysis, for violations */
	bool has_group;
	__u32 group;
	size_t max, nmsgs, shown, events, cost_used;
	bool capped;
	bool in_html;		/* no header and legend in the SVG */
	double top;		/* y of the earliest event */
	__u8 *drawn;		/* msg -> drawn */
	__u32 *mfirst, *mrec;	/* msg -> its receptions */
	__u32 *ord;		/* msgs by send time */
	__s64 *off;		/* host string id -> to the one time line */
	enum clocks clocks;
	__s64 t0, t1;		/* the run */
	__s64 w0, w1;		/* the window drawn */
	enum cexp_reason reason;
	char window[384];
	double *y;		/* event -> its y, drawn ones */
	struct item *items;
	size_t nitems;
	struct pos *pos;	/* rec -> where */
	int col[CAUSAL_EV_MAX_NODES];
	int ncols;
	double colx[CAUSAL_EV_MAX_NODES + 1];
	int lanes[CAUSAL_EV_MAX_NODES];
	size_t maxlanes;
	double width, height, bottom;
	struct box *boxes;
	size_t nboxes, capboxes;
	struct label *labels;
	size_t nlabels, caplabels;
	size_t violations;
};

static __s64 gt(const struct draw *d, __u32 e)
{
	const struct clog_ev *ev = &d->s->ev[e];

	return (__s64)ev->ts + d->off[ev->host];
}

static __s64 send_g(const struct draw *d, __u32 m)
{
	return gt(d, d->ix.msgs[m].ev);
}

/* "+12.503 s" from the run's start, with more digits for short windows. */
static void rel_str(const struct draw *d, __s64 g, char *buf, size_t size)
{
	__s64 span = d->w1 - d->w0, r = g - d->t0;
	int digits = span < 10000000 ? 6 : span < 100000000 ? 5 :
		     span < 1000000000 ? 4 : 3;

	snprintf(buf, size, "%s%.*f s", r < 0 ? "-" : "+", digits,
		 (r < 0 ? -(double)r : (double)r) / 1e9);
}

int cexp_parse_time(const char *s, struct cexp_time *t)
{
	struct tm tm = {};
	const char *p = s;
	double v, frac = 0;
	char *end;

	memset(t, 0, sizeof(*t));
	if (!*s)
		return -EINVAL;
	/* Wall clock: a date and a time, or a time of day. */
	if (strchr(s, ':')) {
		int n = 0;

		if (strchr(s, '-') && *s != '-' &&
		    sscanf(s, "%d-%d-%d%*[ T]%n", &tm.tm_year, &tm.tm_mon,
			   &tm.tm_mday, &n) == 3 && n) {
			tm.tm_year -= 1900;
			tm.tm_mon -= 1;
			p = s + n;
		} else {
			tm.tm_year = 70;
			tm.tm_mday = 1;
		}
		n = 0;
		if (sscanf(p, "%d:%d:%d%n", &tm.tm_hour, &tm.tm_min, &tm.tm_sec,
			   &n) != 3 || tm.tm_hour > 23 || tm.tm_min > 59 ||
		    tm.tm_sec > 60 || tm.tm_hour < 0 || tm.tm_min < 0 ||
		    tm.tm_sec < 0)
			return -EINVAL;
		p += n;
		if (*p == '.') {
			frac = strtod(p, &end);
			if (end == p + 1)
				return -EINVAL;
			p = end;
		}
		if (!strcmp(p, "Z") || !strcmp(p, " UTC"))
			p += strlen(p);
		if (*p)
			return -EINVAL;
		t->set = t->wall = true;
		t->ns = (__s64)timegm(&tm) * 1000000000LL + (__s64)(frac * 1e9 + 0.5);
		return 0;
	}
	/* From the run's start. */
	if (*p == '+')
		p++;
	if (*p == '-' || *p == '+')
		return -EINVAL;
	v = strtod(p, &end);
	if (end == p || !(v >= 0) || v > 1e7)
		return -EINVAL;
	if (!*end || !strcmp(end, "s"))
		v *= 1e9;
	else if (!strcmp(end, "ms"))
		v *= 1e6;
	else if (!strcmp(end, "us"))
		v *= 1e3;
	else if (strcmp(end, "ns"))
		return -EINVAL;
	t->set = true;
	t->ns = (__s64)(v + 0.5);
	return 0;
}

/* The busiest group, when none was asked for. */
static bool pick_group(const struct clog_store *s, __u32 *group)
{
	struct cana_index ix;
	size_t best = 0;
	bool found = false;

	if (cana_index_build(&ix, s, false, 0))
		return false;
	for (size_t i = 0, k; i < ix.nmsgs; i = k) {
		__u32 g = s->ev[ix.msgs[i].ev].group;

		for (k = i; k < ix.nmsgs && s->ev[ix.msgs[k].ev].group == g; k++)
			;
		if (k - i > best) {
			best = k - i;
			*group = g;
			found = true;
		}
	}
	if (!found && ix.nnodes) {
		*group = ix.nodes[0].group;
		found = true;
	}
	cana_index_free(&ix);
	return found;
}

/*
 * One time line for every host: wall clock when each host's log has a meta
 * line; else each host's offset from the messages between hosts, as NTP
 * does: the least send-to-arrival difference each way, the path taken as
 * symmetric (one way only: as if it took no time).
 */
#define MAX_HOSTS	64

static int align_clocks(struct draw *d)
{
	const struct cana_index *ix = &d->ix;
	const struct clog_ev *ev = d->s->ev;
	__u32 host[MAX_HOSTS];
	static __s64 mn[MAX_HOSTS][MAX_HOSTS];
	__s64 first[MAX_HOSTS], rel[MAX_HOSTS];
	bool done[MAX_HOSTS] = {}, wall = true;
	size_t nh = 0, q[MAX_HOSTS], qh = 0, qt = 0;
	__u64 *woff = NULL;
	__u8 *has = NULL;
	int *idx, ret;

	d->off = calloc(d->s->str.n + 1, sizeof(*d->off));
	idx = malloc((d->s->str.n + 1) * sizeof(*idx));
	ret = cana_host_offsets(d->s, &woff, &has);
	if (!ret && (!d->off || !idx))
		ret = -ENOMEM;
	if (ret)
		goto out;
	for (size_t i = 0; i <= d->s->str.n; i++)
		idx[i] = -1;
	for (size_t i = 0; i < ix->nseq; i++) {
		__u32 h = ev[ix->seq[i]].host;

		if (!has[h])
			wall = false;
		if (idx[h] >= 0) {
			if ((__s64)ev[ix->seq[i]].ts < first[idx[h]])
				first[idx[h]] = ev[ix->seq[i]].ts;
			continue;
		}
		if (nh == MAX_HOSTS)
			continue;
		idx[h] = nh;
		first[nh] = ev[ix->seq[i]].ts;
		host[nh++] = h;
	}
	d->clocks = wall && nh ? CL_WALL : nh <= 1 ? CL_ONE : CL_ESTIMATED;
	if (d->clocks == CL_WALL) {
		for (size_t i = 0; i < nh; i++)
			d->off[host[i]] = woff[host[i]];
		goto out;
	}
	if (d->clocks == CL_ONE)
		goto out;
	for (size_t a = 0; a < nh; a++)
		for (size_t b = 0; b < nh; b++)
			mn[a][b] = INT64_MAX;
	for (size_t i = 0; i < ix->nrecs; i++) {
		const struct cana_rec *rc = &ix->recs[i];
		__u32 to = rc->arrive != CLOG_NONE ? rc->arrive : rc->deliver;
		int a, b;
		__s64 v;

		if (rc->msg == CLOG_NONE || to == CLOG_NONE)
			continue;
		a = idx[ev[ix->msgs[rc->msg].ev].host];
		b = idx[ev[to].host];
		if (a < 0 || b < 0 || a == b)
			continue;
		v = (__s64)ev[to].ts - (__s64)ev[ix->msgs[rc->msg].ev].ts;
		if (v < mn[a][b])
			mn[a][b] = v;
	}
	rel[0] = 0;
	done[0] = true;
	q[qt++] = 0;
	while (qh < qt) {
		size_t a = q[qh++];

		for (size_t b = 0; b < nh; b++) {
			if (done[b])
				continue;
			if (mn[a][b] != INT64_MAX && mn[b][a] != INT64_MAX)
				rel[b] = rel[a] - (mn[a][b] - mn[b][a]) / 2;
			else if (mn[a][b] != INT64_MAX)
				rel[b] = rel[a] - mn[a][b];
			else if (mn[b][a] != INT64_MAX)
				rel[b] = rel[a] + mn[b][a];
			else
				continue;
			done[b] = true;
			q[qt++] = b;
		}
	}
	/* Hosts no message links: their first event with the first host's. */
	for (size_t b = 0; b < nh; b++)
		d->off[host[b]] = done[b] ? rel[b] : first[0] - first[b];
out:
	free(woff);
	free(has);
	free(idx);
	return ret;
}

/* A message's events drawn: its send, each reception's arrival and delivery. */
static size_t msg_cost(const struct draw *d, __u32 m)
{
	size_t n = 1;

	for (__u32 i = d->mfirst[m]; i < d->mfirst[m + 1]; i++) {
		const struct cana_rec *rc = &d->ix.recs[d->mrec[i]];

		n += (rc->arrive != CLOG_NONE) + (rc->deliver != CLOG_NONE);
	}
	return n;
}

static void add_msg(struct draw *d, __u32 m)
{
	if (m == CLOG_NONE || d->drawn[m])
		return;
	d->drawn[m] = 1;
	d->shown++;
	d->cost_used += msg_cost(d, m);
}

/* A message the window must show, while the budget allows. */
static void add_must(struct draw *d, __u32 m)
{
	if (m != CLOG_NONE &&
	    (!d->shown || d->cost_used + msg_cost(d, m) <= d->max))
		add_msg(d, m);
}

/* What the receptions of @m waited for, while the budget allows. */
static void add_waited(struct draw *d, __u32 m)
{
	const struct clog_ev *ev = d->s->ev;

	for (__u32 i = d->mfirst[m]; i < d->mfirst[m + 1]; i++) {
		const struct cana_rec *rc = &d->ix.recs[d->mrec[i]];

		if (rc->hold != CLOG_NONE)
			add_must(d, cana_find_msg(&d->ix, d->group,
						  ev[rc->hold].wait_node,
						  ev[rc->hold].wait_stamp));
	}
}

static const struct draw *sort_ctx;

static int cmp_send(const void *a, const void *b)
{
	__s64 x = send_g(sort_ctx, *(const __u32 *)a);
	__s64 y = send_g(sort_ctx, *(const __u32 *)b);

	if (x != y)
		return x < y ? -1 : 1;
	return *(const __u32 *)a < *(const __u32 *)b ? -1 : 1;
}

static int index_msgs(struct draw *d)
{
	const struct cana_index *ix = &d->ix;

	d->drawn = calloc(ix->nmsgs + 1, 1);
	d->mfirst = calloc(ix->nmsgs + 2, sizeof(*d->mfirst));
	d->mrec = malloc((ix->nrecs + 1) * sizeof(*d->mrec));
	d->ord = malloc((ix->nmsgs + 1) * sizeof(*d->ord));
	if (!d->drawn || !d->mfirst || !d->mrec || !d->ord)
		return -ENOMEM;
	for (size_t i = 0; i < ix->nrecs; i++)
		if (ix->recs[i].msg != CLOG_NONE)
			d->mfirst[ix->recs[i].msg + 2]++;
	for (size_t m = 0; m < ix->nmsgs; m++)
		d->mfirst[m + 2] += d->mfirst[m + 1];
	for (size_t i = 0; i < ix->nrecs; i++)
		if (ix->recs[i].msg != CLOG_NONE)
			d->mrec[d->mfirst[ix->recs[i].msg + 1]++] = i;
	for (size_t m = 0; m < ix->nmsgs; m++)
		d->ord[m] = m;
	sort_ctx = d;
	if (ix->nmsgs > 1)
		qsort(d->ord, ix->nmsgs, sizeof(*d->ord), cmp_send);
	d->t0 = INT64_MAX;
	d->t1 = INT64_MIN;
	for (size_t i = 0; i < ix->nseq; i++) {
		__s64 g = gt(d, ix->seq[i]);

		if (g < d->t0)
			d->t0 = g;
		if (g > d->t1)
			d->t1 = g;
	}
	if (d->t0 > d->t1)
		d->t0 = d->t1 = 0;
	return 0;
}

/* Messages by send time, nearest to @t first, while they fit the budget. */
static void grow_around(struct draw *d, __s64 t)
{
	size_t n = d->ix.nmsgs, hi = 0, lo;

	while (hi < n && send_g(d, d->ord[hi]) < t)
		hi++;
	lo = hi;
	while (d->cost_used < d->max && (lo > 0 || hi < n)) {
		bool before = hi == n ||
			(lo > 0 && t - send_g(d, d->ord[lo - 1]) <=
				   send_g(d, d->ord[hi]) - t);
		__u32 m = before ? d->ord[lo - 1] : d->ord[hi];

		if (!d->drawn[m] && d->shown && d->cost_used + msg_cost(d, m) > d->max)
			break;
		add_msg(d, m);
		add_waited(d, m);
		if (before)
			lo--;
		else
			hi++;
	}
}

/* The hold of reception @r: its message and its chain (causal_why.h) must
 * be drawn; the window is centred on the hold. Its time in @held.
 */
static __s64 hold_anchor(struct draw *d, __u32 r, char *held, size_t size,
			 char *wait, size_t wsize)
{
	const struct cana_index *ix = &d->ix;
	const struct cana_rec *rc = &ix->recs[r];
	const struct clog_ev *ev = d->s->ev;
	__u64 arrived = 0, end;
	struct cwhy_chain c;
	__s64 off = d->off[ix->nodes[rc->rnode].host];

	snprintf(wait, wsize, "an unknown cause");
	add_must(d, rc->msg);
	if (!cwhy_explain(ix, d->group, rc->node, rc->sender, rc->stamp, &c)) {
		for (size_t i = 0; i < c.n && i < D_MUST; i++)
			add_must(d, cana_find_msg(ix, d->group, c.step[i].sender,
						 c.step[i].stamp));
		if (c.n && c.step[0].waits)
			snprintf(wait, wsize, "n%u:%llu", c.step[0].wait_node,
				 (unsigned long long)c.step[0].wait_stamp);
		else if (c.n && c.step[0].behind)
			snprintf(wait, wsize, "the message ahead of it on its channel");
	}
	cwhy_free(&c);
	cana_rec_arrival(ix, rc, &arrived);
	if (rc->deliver != CLOG_NONE)
		end = ev[rc->deliver].ts;
	else
		end = ix->host_last[ix->nodes[rc->rnode].host];
	if (end < arrived)
		end = arrived;
	cana_fmt_ns(rc->deliver != CLOG_NONE ? ev[rc->deliver].held_ns :
		    end - arrived, held, size);
	return (__s64)(arrived + (end - arrived) / 2) + off;
}

/* The worst anomaly's longest hold blamed on its peer, in its buckets. */
static __u32 anomaly_hold(struct draw *d, const struct cana_anomaly *an)
{
	const struct cana_index *ix = &d->ix;
	const struct clog_ev *ev = d->s->ev;
	__s64 start = INT64_MAX, from, to;
	__u64 best = 0;
	__u32 r = CLOG_NONE;

	/* The analysis counts from the group's first delivery. */
	for (size_t i = 0; i < ix->nrecs; i++) {
		__u32 e = ix->recs[i].deliver;
		__s64 t;

		if (e == CLOG_NONE)
			continue;
		t = an->wall ? gt(d, e) : (__s64)ev[e].ts;
		if (t < start)
			start = t;
	}
	from = start + an->start_ns;
	to = from + an->buckets * an->bucket_ns;
	for (int pass = 0; pass < 2 && r == CLOG_NONE; pass++)
		for (size_t i = 0; i < ix->nrecs; i++) {
			const struct cana_rec *rc = &ix->recs[i];
			__s64 t;

			if (rc->deliver == CLOG_NONE || rc->hold == CLOG_NONE ||
			    ev[rc->hold].wait_node != an->peer || rc->msg == CLOG_NONE)
				continue;
			t = an->wall ? gt(d, rc->deliver) : (__s64)ev[rc->deliver].ts;
			if (!pass && (t < from || t >= to))
				continue;
			if (ev[rc->deliver].held_ns > best) {
				best = ev[rc->deliver].held_ns;
				r = i;
			}
		}
	return r;
}

static int choose_window(struct draw *d, const struct cexp_opts *o)
{
	const struct cana_index *ix = &d->ix;
	const struct cana_anomaly *worst = NULL;
	char a[64], b[64], held[32], wait[64];
	struct cana_opts co = { .has_group = true, .group = d->group };
	__u16 node, sender;
	__u64 stamp;
	__u32 r;
	__s64 t;

	d->res = cana_analyze(d->s, &co);
	if (!d->res)
		return -ENOMEM;
	if (!ix->nmsgs) {
		d->reason = CEXP_R_NONE;
		snprintf(d->window, sizeof(d->window), "no messages to draw");
		return 0;
	}
	if (o->from.set || o->to.set) {
		__s64 from = d->t0, to = d->t1;
		size_t in = 0;

		if ((o->from.wall || o->to.wall) && d->clocks != CL_WALL) {
			snprintf(d->window, sizeof(d->window), "a wall-clock --from "
				 "or --to needs a meta line in every host's log");
			return -EINVAL;
		}
		if (o->from.set)
			from = o->from.wall ? o->from.ns : d->t0 + o->from.ns;
		if (o->to.set)
			to = o->to.wall ? o->to.ns : d->t0 + o->to.ns;
		/* A time of day: on the run's first day. */
		if (o->from.wall && o->from.ns < 86400000000000LL)
			from += d->t0 - d->t0 % 86400000000000LL;
		if (o->to.wall && o->to.ns < 86400000000000LL)
			to += d->t0 - d->t0 % 86400000000000LL;
		if (from >= to) {
			rel_str(d, from, a, sizeof(a));
			rel_str(d, to, b, sizeof(b));
			rel_str(d, d->t1, held, sizeof(held));
			snprintf(d->window, sizeof(d->window), "--from %s is not "
				 "before --to %s; the run is +0 s to %s", a, b, held);
			return -EINVAL;
		}
		for (size_t i = 0; i < ix->nmsgs; i++) {
			__u32 m = d->ord[i];
			__s64 g = send_g(d, m);

			if (g < from || g > to)
				continue;
			in++;
			if (d->shown && d->cost_used + msg_cost(d, m) > d->max)
				continue;
			if (d->cost_used < d->max)
				add_msg(d, m);
		}
		d->reason = CEXP_R_RANGE;
		d->w0 = from;
		d->w1 = to;
		rel_str(d, from, a, sizeof(a));
		rel_str(d, to, b, sizeof(b));
		snprintf(d->window, sizeof(d->window),
			 "the messages sent from %s to %s (--from/--to): %zu of %zu%s",
			 a, b, d->shown, in,
			 d->shown < in ? ", the first that fit --max" : "");
		if (!in) {
			char w[64] = "";

			if (d->clocks == CL_WALL) {
				memcpy(w, ", from ", 8);
				cana_wall_str(d->t0, w + 7, sizeof(w) - 7);
			}
			rel_str(d, d->t1, held, sizeof(held));
			snprintf(d->window, sizeof(d->window), "no message was sent "
				 "from %s to %s; the run is +0 s to %s%s", a, b, held,
				 w);
		}
		return in ? 0 : -EINVAL;
	}
	if (o->has_around) {
		__u32 m = cana_find_msg(ix, d->group, o->around_sender,
					o->around_stamp);

		if (m == CLOG_NONE)
			return -ENOENT;
		add_must(d, m);
		add_waited(d, m);
		d->reason = CEXP_R_AROUND;
		grow_around(d, send_g(d, m));
		snprintf(d->window, sizeof(d->window),
			 "around message n%u:%llu (--around)", o->around_sender,
			 (unsigned long long)o->around_stamp);
		return 0;
	}
	for (size_t i = 0; i < d->res->nviol; i++) {
		const struct cana_violation *v = &d->res->viol[i];

		if (v->group != d->group)
			continue;
		add_must(d, cana_find_msg(ix, d->group, v->sender, v->stamp));
		add_must(d, cana_find_msg(ix, d->group, v->cause_sender,
					 v->cause_stamp));
		d->reason = CEXP_R_VIOLATION;
		grow_around(d, (__s64)v->deliver_ts + d->off[v->host]);
		snprintf(d->window, sizeof(d->window),
			 "around the first happens-before violation: node %u delivered "
			 "n%u:%llu before its cause n%u:%llu (%llu in all)",
			 v->node, v->sender, (unsigned long long)v->stamp,
			 v->cause_sender, (unsigned long long)v->cause_stamp,
			 (unsigned long long)d->res->check.violations);
		return 0;
	}
	for (size_t i = 0; i < d->res->nanomalies; i++) {
		const struct cana_anomaly *an = &d->res->anomalies[i];

		if (an->group == d->group && (!worst || an->excess_ns > worst->excess_ns))
			worst = an;
	}
	r = worst ? anomaly_hold(d, worst) : CLOG_NONE;
	if (r != CLOG_NONE) {
		d->reason = CEXP_R_ANOMALY;
		t = hold_anchor(d, r, held, sizeof(held), wait, sizeof(wait));
		grow_around(d, t);
		snprintf(d->window, sizeof(d->window),
			 "around the longest hold of the anomaly on node %u: node %u "
			 "held n%u:%llu for %s, waiting for %s", worst->peer,
			 ix->recs[r].node, ix->recs[r].sender,
			 (unsigned long long)ix->recs[r].stamp, held, wait);
		return 0;
	}
	if (cwhy_longest_hold(ix, d->group, &node, &sender, &stamp)) {
		r = cana_find_rec(ix, d->group, node, sender, stamp);
		if (r != CLOG_NONE && ix->recs[r].msg != CLOG_NONE) {
			d->reason = CEXP_R_HOLD;
			t = hold_anchor(d, r, held, sizeof(held), wait, sizeof(wait));
			grow_around(d, t);
			snprintf(d->window, sizeof(d->window),
				 "around the longest hold: node %u held n%u:%llu for %s, "
				 "waiting for %s", node, sender,
				 (unsigned long long)stamp, held, wait);
			return 0;
		}
	}
	d->reason = CEXP_R_START;
	grow_around(d, d->t0);
	snprintf(d->window, sizeof(d->window),
		 "the run's first messages: nothing was held and nothing broke "
		 "causal order");
	return 0;
}

/* ---------------------------------------------------------------------- */
/* Space-time diagram: layout                                              */
/* ---------------------------------------------------------------------- */

static int push_item(struct draw *d, size_t *cap, __u32 e)
{
	if (e == CLOG_NONE)
		return 0;
	if (d->nitems == *cap) {
		size_t c = *cap ? *cap * 2 : 256;
		struct item *n = realloc(d->items, c * sizeof(*n));

		if (!n)
			return -ENOMEM;
		d->items = n;
		*cap = c;
	}
	d->items[d->nitems].ev = e;
	d->items[d->nitems++].g = gt(d, e);
	return 0;
}

static int cmp_item(const void *a, const void *b)
{
	const struct item *x = a, *y = b;

	if (x->g != y->g)
		return x->g < y->g ? -1 : 1;
	return x->ev < y->ev ? -1 : x->ev > y->ev;
}

struct span {
	int col;
	double y1, y2;
	__u32 rec;
};

static int cmp_span(const void *a, const void *b)
{
	const struct span *x = a, *y = b;

	if (x->col != y->col)
		return x->col - y->col;
	if (x->y1 != y->y1)
		return x->y1 < y->y1 ? -1 : 1;
	return x->rec < y->rec ? -1 : x->rec > y->rec;
}

static bool rec_drawn(const struct draw *d, __u32 r)
{
	return r != CLOG_NONE && d->ix.recs[r].msg != CLOG_NONE &&
	       d->drawn[d->ix.recs[r].msg];
}

static bool rec_held(const struct draw *d, const struct cana_rec *rc)
{
	if (rc->arrive == CLOG_NONE)
		return false;
	return rc->deliver == CLOG_NONE ||
	       d->s->ev[rc->deliver].held_ns || rc->hold != CLOG_NONE;
}

/*
 * y of each drawn event: every host on one time line, in time order, at
 * least D_STEP below the node's previous event; a quiet stretch takes at
 * most D_GAP pixels. Then the holds beside each line in lanes, no two in
 * one lane at once, and the lines' x from how many lanes each needs.
 */
static int layout(struct draw *d)
{
	const struct cana_index *ix = &d->ix;
	const struct clog_ev *ev = d->s->ev;
	double last[CAUSAL_EV_MAX_NODES], y = d->top, scale = 0;
	struct span *sp = NULL;
	size_t cap = 0, nsp = 0;

	for (size_t m = 0; m < ix->nmsgs; m++) {
		if (!d->drawn[m])
			continue;
		if (push_item(d, &cap, ix->msgs[m].ev))
			return -ENOMEM;
		for (__u32 i = d->mfirst[m]; i < d->mfirst[m + 1]; i++) {
			const struct cana_rec *rc = &ix->recs[d->mrec[i]];

			if (push_item(d, &cap, rc->arrive) ||
			    push_item(d, &cap, rc->deliver))
				return -ENOMEM;
		}
	}
	d->events = d->nitems;
	d->y = calloc(d->s->nev + 1, sizeof(*d->y));
	d->pos = calloc(ix->nrecs + 1, sizeof(*d->pos));
	if (!d->y || !d->pos)
		return -ENOMEM;
	if (d->nitems > 1)
		qsort(d->items, d->nitems, sizeof(*d->items), cmp_item);
	if (d->nitems) {
		d->w0 = d->items[0].g;
		d->w1 = d->items[d->nitems - 1].g;
	}
	if (d->w1 > d->w0)
		scale = (double)D_SPAN / (double)(d->w1 - d->w0);
	for (int c = 0; c < CAUSAL_EV_MAX_NODES; c++)
		last[c] = -1e9;
	for (size_t i = 0; i < d->nitems; i++) {
		int c = d->col[ev[d->items[i].ev].node];

		if (i) {
			double dy = scale * (double)(d->items[i].g - d->items[i - 1].g);

			y += dy > D_GAP ? D_GAP : dy;
		}
		if (y < last[c] + D_STEP)
			y = last[c] + D_STEP;
		last[c] = y;
		d->y[d->items[i].ev] = y;
	}
	d->bottom = y + 40;

	/* Holds, in lanes. */
	for (size_t r = 0; r < ix->nrecs; r++) {
		const struct cana_rec *rc = &ix->recs[r];
		struct span *n;

		d->pos[r].lane = -1;
		if (!rec_drawn(d, r) || !rec_held(d, rc))
			continue;
		if (nsp == cap || !sp) {
			cap = cap ? cap * 2 : 64;
			n = realloc(sp, cap * sizeof(*n));
			if (!n) {
				free(sp);
				return -ENOMEM;
			}
			sp = n;
		}
		sp[nsp].col = d->col[rc->node];
		sp[nsp].y1 = d->y[rc->arrive];
		sp[nsp].y2 = rc->deliver != CLOG_NONE ? d->y[rc->deliver] : d->bottom;
		sp[nsp++].rec = r;
	}
	if (nsp > 1)
		qsort(sp, nsp, sizeof(*sp), cmp_span);
	for (size_t i = 0, k; i < nsp; i = k) {
		double end[D_LANES];
		int used = 0;

		for (k = i; k < nsp && sp[k].col == sp[i].col; k++) {
			int l;

			for (l = 0; l < used && end[l] + 3 > sp[k].y1; l++)
				;
			if (l == used && used == D_LANES) {
				/* Out of lanes: the one free soonest. */
				l = 0;
				for (int j = 1; j < used; j++)
					if (end[j] < end[l])
						l = j;
			} else if (l == used) {
				used++;
			}
			end[l] = sp[k].y2;
			d->pos[sp[k].rec].lane = l;
		}
		d->lanes[sp[i].col] = used;
		if ((size_t)used > d->maxlanes)
			d->maxlanes = used;
	}
	free(sp);
	d->colx[0] = D_LEFT;
	for (int c = 0; c < d->ncols; c++) {
		double w = 40 + d->lanes[c] * D_LANE + 120;

		d->colx[c + 1] = d->colx[c] + (w > D_COL ? w : D_COL);
	}
	d->width = d->colx[d->ncols ? d->ncols - 1 : 0] + 20 +
		   (d->ncols ? d->lanes[d->ncols - 1] : 0) * D_LANE + 200;
	if (d->width < 900)
		d->width = 900;

	/* Where each reception is drawn. */
	for (size_t r = 0; r < ix->nrecs; r++) {
		const struct cana_rec *rc = &ix->recs[r];
		struct pos *p = &d->pos[r];
		double cx = d->colx[d->col[rc->node]];

		if (!rec_drawn(d, r))
			continue;
		p->xa = p->xd = cx;
		p->ya = d->y[rc->arrive != CLOG_NONE ? rc->arrive : rc->deliver];
		p->stuck = rc->deliver == CLOG_NONE;
		p->yd = p->stuck ? d->bottom : d->y[rc->deliver];
		if (p->lane >= 0)
			p->xd = cx + 10 + p->lane * D_LANE;
	}
	d->height = d->bottom + 50;
	return 0;
}

/* ---------------------------------------------------------------------- */
/* Space-time diagram: labels that do not overlap                          */
/* ---------------------------------------------------------------------- */

static int add_box(struct draw *d, double x0, double y0, double x1, double y1)
{
	if (d->nboxes == d->capboxes) {
		size_t c = d->capboxes ? d->capboxes * 2 : 256;
		struct box *n = realloc(d->boxes, c * sizeof(*n));

		if (!n)
			return -ENOMEM;
		d->boxes = n;
		d->capboxes = c;
	}
	d->boxes[d->nboxes++] = (struct box){ x0, y0, x1, y1 };
	return 0;
}

static bool box_free(const struct draw *d, double x0, double y0, double x1,
		     double y1)
{
	for (size_t i = 0; i < d->nboxes; i++) {
		const struct box *b = &d->boxes[i];

		if (x0 < b->x1 && b->x0 < x1 && y0 < b->y1 && b->y0 < y1)
			return false;
	}
	return true;
}

#define CHAR_W	5.9	/* of the 10px labels */

/*
 * A label beside the point (@px, @py): to its right, left, above or below,
 * the first place it overlaps no dot and no other label. A label that
 * must be shown (@force) takes the first place when none is free; others
 * are left out (their element's tooltip still has the text).
 */
static int place(struct draw *d, double px, double py, const char *cls,
		 const char *text, bool force, bool left_first)
{
	static const struct { double dx, dy; bool end; } at[] = {
		{ 7, 3, false }, { -7, 3, true }, { 7, -7, false }, { 7, 13, false },
		{ -7, -7, true }, { -7, 13, true }, { 7, -17, false },
		{ 7, 23, false }, { -7, -17, true }, { -7, 23, true },
	};
	double w = strlen(text) * CHAR_W + 2;
	size_t n = sizeof(at) / sizeof(at[0]), j = 0;
	double x0 = 0, base = 0;
	bool found = false;
	struct label *l;

	for (size_t k = 0; k < n && !found; k++) {
		j = left_first ? (k ^ 1) : k;
		x0 = at[j].end ? px + at[j].dx - w : px + at[j].dx;
		base = py + at[j].dy;
		found = x0 >= 2 && box_free(d, x0, base - 9, x0 + w, base + 2);
	}
	if (!found && !force)
		return 0;
	if (!found) {
		j = left_first ? 1 : 0;
		x0 = at[j].end ? px + at[j].dx - w : px + at[j].dx;
		base = py + at[j].dy;
	}
	if (d->nlabels == d->caplabels) {
		size_t c = d->caplabels ? d->caplabels * 2 : 128;
		struct label *nl = realloc(d->labels, c * sizeof(*nl));

		if (!nl)
			return -ENOMEM;
		d->labels = nl;
		d->caplabels = c;
	}
	l = &d->labels[d->nlabels++];
	l->x = at[j].end ? x0 + w : x0;
	l->y = base;
	l->end = at[j].end;
	l->cls = cls;
	snprintf(l->text, sizeof(l->text), "%s", text);
	if (x0 + w + 10 > d->width)
		d->width = x0 + w + 10;
	return add_box(d, x0, base - 9, x0 + w, base + 2);
}

/* ---------------------------------------------------------------------- */
/* Space-time diagram: drawing                                             */
/* ---------------------------------------------------------------------- */

static void xml_text(FILE *f, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '<':
			fputs("&lt;", f);
			break;
		case '>':
			fputs("&gt;", f);
			break;
		case '&':
			fputs("&amp;", f);
			break;
		case '"':
			fputs("&quot;", f);
			break;
		case '\'':
			fputs("&apos;", f);
			break;
		default:
			/* XML 1.0 has no other control characters. */
			if ((unsigned char)*s < 0x20 && *s != '\t')
				fputc('?', f);
			else
				fputc(*s, f);
		}
	}
}

static void title(FILE *f, const char *s)
{
	fputs("<title>", f);
	xml_text(f, s);
	fputs("</title>", f);
}

static const char svg_style[] =
	"<style>\n"
	".node{stroke:#222;stroke-width:2}\n"
	".grid{stroke:#e4e4e4;stroke-width:1}\n"
	".msg{stroke:#8a8a8a;stroke-width:1}\n"
	".hold{stroke:#d01c1c;stroke-width:4;stroke-linecap:butt}\n"
	".stuck{stroke:#d01c1c;stroke-width:4;stroke-dasharray:8 5}\n"
	".tie{stroke:#d01c1c;stroke-width:1}\n"
	".wait{stroke:#c061cb;stroke-width:1.2;stroke-dasharray:5 3;fill:none}\n"
	".send{fill:#1a5fb4}\n.dlv{fill:#26a269}\n.late{fill:#d01c1c}\n"
	".gap{fill:#e66100}\n"
	".viol{fill:none;stroke:#e01b9c;stroke-width:2.5}\n"
	".vline{stroke:#e01b9c;stroke-width:2;stroke-dasharray:2 3}\n"
	"text{paint-order:stroke;stroke:#fff;stroke-width:3px;stroke-linejoin:round}\n"
	".lbl{font-size:10px;fill:#333}\n.hdr{font-size:13px;font-weight:bold}\n"
	".note{font-size:11px;fill:#555}\n.tick{font-size:10px;fill:#666}\n"
	".wlbl{font-size:10px;fill:#813d9c}\n"
	".vlbl{font-size:11px;font-weight:bold;fill:#c0007a}\n"
	".hlbl{font-size:10px;fill:#a51d2d}\n"
	"</style>\n";

static void legend(struct draw *d, double y)
{
	FILE *f = d->f;

	fprintf(f, "<g class=\"legend\">\n");
	fprintf(f, "<line class=\"msg\" x1=\"20\" y1=\"%.0f\" x2=\"60\" y2=\"%.0f\" "
		"marker-end=\"url(#arrow)\"/><text class=\"note\" x=\"68\" y=\"%.0f\">"
		"message: send to arrival</text>\n", y, y, y + 4);
	fprintf(f, "<line class=\"hold\" x1=\"300\" y1=\"%.0f\" x2=\"340\" y2=\"%.0f\"/>"
		"<text class=\"note\" x=\"348\" y=\"%.0f\">held: arrival to delivery, "
		"one lane each</text>\n", y, y, y + 4);
	fprintf(f, "<line class=\"stuck\" x1=\"580\" y1=\"%.0f\" x2=\"620\" y2=\"%.0f\"/>"
		"<text class=\"note\" x=\"628\" y=\"%.0f\">still held at the end</text>\n",
		y, y, y + 4);
	y += 20;
	fprintf(f, "<circle class=\"send\" cx=\"40\" cy=\"%.0f\" r=\"4\"/>"
		"<text class=\"note\" x=\"68\" y=\"%.0f\">send (label: n&lt;sender&gt;:"
		"&lt;stamp&gt;)</text>\n", y, y + 4);
	fprintf(f, "<circle class=\"dlv\" cx=\"320\" cy=\"%.0f\" r=\"4\"/>"
		"<text class=\"note\" x=\"348\" y=\"%.0f\">delivered at once</text>\n",
		y, y + 4);
	fprintf(f, "<circle class=\"late\" cx=\"600\" cy=\"%.0f\" r=\"4\"/>"
		"<text class=\"note\" x=\"628\" y=\"%.0f\">delivered after a hold "
		"(label: time held)</text>\n", y, y + 4);
	y += 20;
	fprintf(f, "<circle class=\"gap\" cx=\"40\" cy=\"%.0f\" r=\"4\"/>"
		"<text class=\"note\" x=\"68\" y=\"%.0f\">gap: delivered by the hold "
		"timeout</text>\n", y, y + 4);
	fprintf(f, "<path class=\"wait\" d=\"M300,%.0f Q320,%.0f 340,%.0f\"/>"
		"<text class=\"note\" x=\"348\" y=\"%.0f\">a hold to the send it waits "
		"for</text>\n", y + 3, y - 5, y + 3, y + 4);
	fprintf(f, "<circle class=\"viol\" cx=\"600\" cy=\"%.0f\" r=\"7\"/>"
		"<text class=\"note\" x=\"628\" y=\"%.0f\">violation: delivered before "
		"its cause</text>\n", y, y + 4);
	fprintf(f, "</g>\n");
}

/* What its hold waited for: the send, else its arrival here, else none. */
static bool wait_target(const struct draw *d, const struct cana_rec *rc,
			double *x, double *y, char *name, size_t size)
{
	const struct clog_ev *h = &d->s->ev[rc->hold];
	__u32 m = cana_find_msg(&d->ix, d->group, h->wait_node, h->wait_stamp);
	__u32 r;

	msg_name(name, size, h->wait_node, h->wait_stamp);
	if (m != CLOG_NONE && d->drawn[m]) {
		*x = d->colx[d->col[d->s->ev[d->ix.msgs[m].ev].node]];
		*y = d->y[d->ix.msgs[m].ev];
		return true;
	}
	r = cana_find_rec(&d->ix, d->group, rc->node, h->wait_node, h->wait_stamp);
	if (rec_drawn(d, r)) {
		*x = d->pos[r].xa;
		*y = d->pos[r].ya;
		return true;
	}
	return false;
}

struct vdraw {
	const struct cana_violation *v;
	__u32 rec, cause;
};

static size_t drawn_violations(const struct draw *d, struct vdraw *out,
			       size_t max)
{
	size_t n = 0;

	for (size_t i = 0; d->res && i < d->res->nviol && n < max; i++) {
		const struct cana_violation *v = &d->res->viol[i];
		__u32 r;

		if (v->group != d->group)
			continue;
		r = cana_find_rec(&d->ix, d->group, v->node, v->sender, v->stamp);
		if (!rec_drawn(d, r) || d->ix.recs[r].deliver == CLOG_NONE)
			continue;
		out[n].v = v;
		out[n].rec = r;
		out[n++].cause = cana_find_rec(&d->ix, d->group, v->node,
					       v->cause_sender, v->cause_stamp);
	}
	return n;
}

#define MAX_VDRAW	64

/* Every label, the most important first, after every dot is an obstacle. */
static int plan_labels(struct draw *d)
{
	const struct cana_index *ix = &d->ix;
	const struct clog_ev *ev = d->s->ev;
	struct vdraw vd[MAX_VDRAW];
	size_t nv = drawn_violations(d, vd, MAX_VDRAW);
	char text[192], a[48], b[48];
	int ret = 0;

	for (size_t m = 0; m < ix->nmsgs && !ret; m++) {
		double x, y;

		if (!d->drawn[m])
			continue;
		x = d->colx[d->col[ev[ix->msgs[m].ev].node]];
		y = d->y[ix->msgs[m].ev];
		ret = add_box(d, x - 4, y - 4, x + 4, y + 4);
	}
	for (size_t r = 0; r < ix->nrecs && !ret; r++) {
		const struct pos *p = &d->pos[r];

		if (!rec_drawn(d, r))
			continue;
		if (!p->stuck)
			ret = add_box(d, p->xd - 4, p->yd - 4, p->xd + 4, p->yd + 4);
		if (!ret && p->lane >= 0)
			ret = add_box(d, p->xd - 2.5, p->ya, p->xd + 2.5, p->yd);
	}
	d->violations = nv;
	for (size_t i = 0; i < nv && !ret; i++) {
		const struct pos *p = &d->pos[vd[i].rec];

		msg_name(a, sizeof(a), vd[i].v->sender, vd[i].v->stamp);
		msg_name(b, sizeof(b), vd[i].v->cause_sender, vd[i].v->cause_stamp);
		snprintf(text, sizeof(text), "violation: %s delivered before its cause %s",
			 a, b);
		ret = add_box(d, p->xd - 9, p->yd - 9, p->xd + 9, p->yd + 9);
		if (!ret)
			ret = place(d, p->xd + 4, p->yd, "vlbl", text, true, false);
	}
	for (size_t r = 0; r < ix->nrecs && !ret; r++) {
		const struct cana_rec *rc = &ix->recs[r];
		const struct pos *p = &d->pos[r];
		double x, y;

		if (!rec_drawn(d, r) || p->lane < 0 || rc->hold == CLOG_NONE)
			continue;
		if (wait_target(d, rc, &x, &y, a, sizeof(a)))
			snprintf(text, sizeof(text), "waits for %s", a);
		else
			snprintf(text, sizeof(text), "waits for %s (not drawn)", a);
		ret = place(d, p->xd, p->ya, "wlbl", text, false, false);
	}
	for (size_t r = 0; r < ix->nrecs && !ret; r++) {
		const struct cana_rec *rc = &ix->recs[r];
		const struct pos *p = &d->pos[r];

		if (!rec_drawn(d, r) || p->lane < 0 || p->stuck)
			continue;
		cana_fmt_ns(ev[rc->deliver].held_ns, a, sizeof(a));
		ret = place(d, p->xd, p->yd, "hlbl", a, false, false);
	}
	for (size_t m = 0; m < ix->nmsgs && !ret; m++) {
		const struct clog_ev *se = &ev[ix->msgs[m].ev];

		if (!d->drawn[m])
			continue;
		msg_name(a, sizeof(a), se->node, se->stamp);
		ret = place(d, d->colx[d->col[se->node]], d->y[ix->msgs[m].ev], "lbl",
			    a, false, true);
	}
	return ret;
}

/* Time ticks down the left, with a faint line across. */
static void ticks(struct draw *d)
{
	FILE *f = d->f;
	double last = -1e9, right = d->width - 20;
	char t[48], prev[48] = "";

	for (size_t i = 0; i < d->nitems; i++) {
		double y = d->y[d->items[i].ev];

		if (y < last + D_TICK)
			continue;
		rel_str(d, d->items[i].g, t, sizeof(t));
		if (!strcmp(t, prev))
			continue;
		last = y;
		memcpy(prev, t, sizeof(prev));
		fprintf(f, "<line class=\"grid\" x1=\"%d\" y1=\"%.1f\" x2=\"%.0f\" "
			"y2=\"%.1f\"/><text class=\"tick\" x=\"6\" y=\"%.1f\">%s</text>\n",
			D_LEFT - 30, y, right, y, y + 3, t);
	}
}

static void draw_svg(struct draw *d)
{
	const struct cana_index *ix = &d->ix;
	const struct clog_ev *ev = d->s->ev;
	FILE *f = d->f;
	char desc[256], label[64], a[64], b[64], w[64] = "";
	struct vdraw vd[MAX_VDRAW];
	size_t nv = drawn_violations(d, vd, MAX_VDRAW);
	static const char *const clocks[] = {
		[CL_ONE] = "one host's clock",
		[CL_WALL] = "wall clock from the logs' meta lines",
		[CL_ESTIMATED] = "hosts' clocks aligned on the messages between them "
				 "(no meta lines)",
	};

	fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" "
		"height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" font-family=\"sans-serif\" "
		"font-size=\"11\">\n", d->width, d->height, d->width, d->height);
	fprintf(f, "<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" "
		"refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto\">"
		"<path d=\"M0,0 L10,5 L0,10 z\" fill=\"#8a8a8a\"/></marker></defs>\n");
	fputs(svg_style, f);
	fprintf(f, "<rect width=\"100%%\" height=\"100%%\" fill=\"#fff\"/>\n");
	if (!d->has_group) {
		fprintf(f, "<text class=\"hdr\" x=\"20\" y=\"24\">no causal events in "
			"the logs</text>\n</svg>\n");
		return;
	}
	if (d->in_html)
		goto body;
	rel_str(d, d->w0, a, sizeof(a));
	rel_str(d, d->w1, b, sizeof(b));
	fprintf(f, "<text class=\"hdr\" x=\"20\" y=\"24\">group %u: %d nodes, "
		"%zu messages, %zu drawn (%zu events), %s to %s</text>\n",
		d->group, d->ncols, d->nmsgs, d->shown, d->events, a, b);
	fprintf(f, "<text class=\"window note\" x=\"20\" y=\"42\">window: ");
	xml_text(f, d->window);
	if (d->clocks == CL_WALL) {
		memcpy(w, " (", 2);
		cana_wall_str(d->t0, w + 2, sizeof(w) - 3);
		strcat(w, ")");
	}
	fprintf(f, "</text>\n<text class=\"note\" x=\"20\" y=\"58\">time runs "
		"down, from the run's start%s, on %s; quiet stretches are shortened, "
		"crowded ones stretched</text>\n", w, clocks[d->clocks]);
	legend(d, 80);
body:
	ticks(d);

	/* One line per node. */
	for (size_t x = 0; x < ix->nnodes; x++) {
		const struct cana_node *nd = &ix->nodes[x];
		double cx = d->colx[d->col[nd->node]];

		fprintf(f, "<text class=\"hdr\" x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\">"
			"n%u</text>\n", cx, d->top - 32, nd->node);
		fprintf(f, "<text class=\"note\" x=\"%.0f\" y=\"%.0f\" "
			"text-anchor=\"middle\">", cx, d->top - 18);
		xml_text(f, clog_str(d->s, nd->host));
		fprintf(f, "</text>\n");
		fprintf(f, "<line class=\"node\" x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" "
			"y2=\"%.0f\">", cx, d->top - 10, cx, d->bottom);
		snprintf(desc, sizeof(desc), "node %u on host %s", nd->node,
			 clog_str(d->s, nd->host));
		title(f, desc);
		fprintf(f, "</line>\n");
	}

	/* Messages: send to arrival. */
	for (size_t r = 0; r < ix->nrecs; r++) {
		const struct cana_rec *rc = &ix->recs[r];
		const struct pos *p = &d->pos[r];
		const struct clog_ev *se;
		double x1, y1, xe;

		if (!rec_drawn(d, r))
			continue;
		se = &ev[ix->msgs[rc->msg].ev];
		x1 = d->colx[d->col[se->node]];
		y1 = d->y[ix->msgs[rc->msg].ev];
		xe = p->xa + (p->xa > x1 ? -3 : 3);
		fprintf(f, "<line class=\"msg\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
			"y2=\"%.1f\" marker-end=\"url(#arrow)\">", x1, y1, xe, p->ya);
		describe(d->s, &ev[rc->arrive != CLOG_NONE ? rc->arrive : rc->deliver],
			 desc, sizeof(desc));
		title(f, desc);
		fprintf(f, "</line>\n");
	}
	/* What each hold waits for. */
	for (size_t r = 0; r < ix->nrecs; r++) {
		const struct cana_rec *rc = &ix->recs[r];
		const struct pos *p = &d->pos[r];
		double x, y, bow;

		if (!rec_drawn(d, r) || p->lane < 0 || rc->hold == CLOG_NONE)
			continue;
		describe(d->s, &ev[rc->hold], desc, sizeof(desc));
		if (!wait_target(d, rc, &x, &y, label, sizeof(label))) {
			x = p->xd + 30;
			y = p->ya - 12;
		}
		/* Bowed up (down at the top), so that it does not run
		 * along the arrows.
		 */
		bow = (p->ya < y ? p->ya : y) - 12 - fabs(p->xd - x) / 10;
		if (bow < d->top - 4)
			bow = (p->ya > y ? p->ya : y) + 12 + fabs(p->xd - x) / 10;
		fprintf(f, "<path class=\"wait\" d=\"M%.1f,%.1f Q%.1f,%.1f %.1f,%.1f\">",
			p->xd, p->ya, (p->xd + x) / 2, bow, x, y);
		title(f, desc);
		fprintf(f, "</path>\n");
	}
	/* Holds, each in its lane. */
	for (size_t r = 0; r < ix->nrecs; r++) {
		const struct cana_rec *rc = &ix->recs[r];
		const struct pos *p = &d->pos[r];

		if (!rec_drawn(d, r) || p->lane < 0)
			continue;
		if (rc->hold != CLOG_NONE)
			describe(d->s, &ev[rc->hold], desc, sizeof(desc));
		else if (!p->stuck)
			describe(d->s, &ev[rc->deliver], desc, sizeof(desc));
		if (p->stuck) {
			msg_name(label, sizeof(label), rc->sender, rc->stamp);
			snprintf(desc + (rc->hold != CLOG_NONE ? strlen(desc) : 0),
				 sizeof(desc) - (rc->hold != CLOG_NONE ? strlen(desc) : 0),
				 "%s%s still held at the end of the log",
				 rc->hold != CLOG_NONE ? "; " : "", label);
		}
		fprintf(f, "<line class=\"tie\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
			"y2=\"%.1f\"/>\n", p->xa, p->ya, p->xd, p->ya);
		fprintf(f, "<line class=\"%s\" data-lane=\"%d\" x1=\"%.1f\" y1=\"%.1f\" "
			"x2=\"%.1f\" y2=\"%.1f\">", p->stuck ? "stuck" : "hold", p->lane,
			p->xd, p->ya, p->xd, p->yd > p->ya + 2 ? p->yd : p->ya + 2);
		title(f, desc);
		fprintf(f, "</line>\n");
	}
	/* Violations: to the delivery of the cause that came after. */
	for (size_t i = 0; i < nv; i++) {
		const struct pos *p = &d->pos[vd[i].rec];

		if (!rec_drawn(d, vd[i].cause))
			continue;
		cana_violation_str(d->s, vd[i].v, desc, sizeof(desc));
		fprintf(f, "<line class=\"vline\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
			"y2=\"%.1f\">", p->xd, p->yd, d->pos[vd[i].cause].xd,
			d->pos[vd[i].cause].stuck ? d->pos[vd[i].cause].ya :
			d->pos[vd[i].cause].yd);
		title(f, desc);
		fprintf(f, "</line>\n");
	}
	/* Deliveries, then sends. */
	for (size_t r = 0; r < ix->nrecs; r++) {
		const struct cana_rec *rc = &ix->recs[r];
		const struct pos *p = &d->pos[r];

		if (!rec_drawn(d, r) || p->stuck)
			continue;
		describe(d->s, &ev[rc->deliver], desc, sizeof(desc));
		fprintf(f, "<circle class=\"%s\" cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\">",
			ev[rc->deliver].flag ? "gap" : p->lane >= 0 ? "late" : "dlv",
			p->xd, p->yd);
		title(f, desc);
		fprintf(f, "</circle>\n");
	}
	for (size_t m = 0; m < ix->nmsgs; m++) {
		const struct clog_ev *se = &ev[ix->msgs[m].ev];

		if (!d->drawn[m])
			continue;
		describe(d->s, se, desc, sizeof(desc));
		fprintf(f, "<circle class=\"send\" cx=\"%.1f\" cy=\"%.1f\" r=\"4\">",
			d->colx[d->col[se->node]], d->y[ix->msgs[m].ev]);
		title(f, desc);
		fprintf(f, "</circle>\n");
	}
	for (size_t i = 0; i < nv; i++) {
		const struct pos *p = &d->pos[vd[i].rec];

		cana_violation_str(d->s, vd[i].v, desc, sizeof(desc));
		fprintf(f, "<circle class=\"viol\" cx=\"%.1f\" cy=\"%.1f\" r=\"8\">",
			p->xd, p->yd);
		title(f, desc);
		fprintf(f, "</circle>\n");
	}
	for (size_t i = 0; i < d->nlabels; i++) {
		const struct label *l = &d->labels[i];

		fprintf(f, "<text class=\"%s\" x=\"%.1f\" y=\"%.1f\"%s>", l->cls, l->x,
			l->y, l->end ? " text-anchor=\"end\"" : "");
		xml_text(f, l->text);
		fprintf(f, "</text>\n");
	}
	if (d->shown < d->nmsgs)
		fprintf(f, "<text class=\"note\" x=\"20\" y=\"%.0f\">%zu of the group's "
			"%zu messages drawn, at most %zu events (export --max N, "
			"--around, --from/--to for others)</text>\n", d->height - 20,
			d->shown, d->nmsgs, d->max);
	fprintf(f, "</svg>\n");
}

static int prepare(struct draw *d, FILE *f, const struct clog_store *s,
		   const struct cexp_opts *o, bool in_html)
{
	int ret;

	memset(d, 0, sizeof(*d));
	d->f = f;
	d->s = s;
	d->in_html = in_html;
	d->top = in_html ? D_TOP_HTML : D_TOP;
	d->max = o->max_events ? o->max_events : CEXP_MAX_EVENTS;
	if (d->max > CEXP_CAP_EVENTS) {
		d->max = CEXP_CAP_EVENTS;
		d->capped = true;
	}
	d->has_group = o->has_group;
	d->group = o->group;
	if (!d->has_group)
		d->has_group = pick_group(s, &d->group);
	ret = cana_index_build(&d->ix, s, true, d->group);
	if (ret)
		return ret;
	d->nmsgs = d->ix.nmsgs;
	for (size_t x = 0; x < d->ix.nnodes; x++)
		d->col[d->ix.nodes[x].node] = d->ncols++;
	ret = align_clocks(d);
	if (!ret)
		ret = index_msgs(d);
	if (!ret)
		ret = choose_window(d, o);
	if (!ret)
		ret = layout(d);
	if (!ret)
		ret = plan_labels(d);
	return ret;
}

static void release(struct draw *d, struct cexp_info *info)
{
	memset(info, 0, sizeof(*info));
	info->has_group = d->has_group;
	info->group = d->group;
	info->events = d->events;
	info->msgs = d->nmsgs;
	info->shown = d->shown;
	info->max_events = d->max;
	info->capped = d->capped;
	info->reason = d->reason;
	info->wall = d->clocks == CL_WALL;
	info->from_ns = d->w0 - d->t0;
	info->to_ns = d->w1 - d->t0;
	info->run_ns = d->t1 - d->t0;
	info->violations = d->violations;
	info->lanes = d->maxlanes;
	snprintf(info->window, sizeof(info->window), "%s", d->window);
	cana_free(d->res);
	free(d->drawn);
	free(d->mfirst);
	free(d->mrec);
	free(d->ord);
	free(d->off);
	free(d->y);
	free(d->items);
	free(d->pos);
	free(d->boxes);
	free(d->labels);
	cana_index_free(&d->ix);
}

int cexp_svg(FILE *f, const struct clog_store *s, const struct cexp_opts *o,
	     struct cexp_info *info)
{
	struct draw d;
	int ret = prepare(&d, f, s, o, false);

	if (!ret) {
		fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
		draw_svg(&d);
		ret = ferror(f) ? -EIO : 0;
	}
	release(&d, info);
	return ret;
}

/*
 * The whole run in CEXP_BUCKETS buckets: messages sent (grey), time held
 * (red, by delivery), violations (magenta); the window drawn below boxed.
 */
static int overview(struct draw *d)
{
	const struct cana_index *ix = &d->ix;
	const struct clog_ev *ev = d->s->ev;
	double msgs[CEXP_BUCKETS] = {}, held[CEXP_BUCKETS] = {}, mm = 0, mh = 0;
	int viol[CEXP_BUCKETS] = {};
	const double w = 1000, h = 36, x0 = 10, top = 22;
	__s64 span = d->t1 - d->t0 + 1;
	struct vdraw vd[1];
	FILE *f = d->f;
	char a[48], b[48];
	double wx0, wx1, lx;

#define BUCKET(g)	((int)((double)((g) - d->t0) * CEXP_BUCKETS / span))
	for (size_t m = 0; m < ix->nmsgs; m++)
		msgs[BUCKET(send_g(d, m))]++;
	for (size_t r = 0; r < ix->nrecs; r++)
		if (ix->recs[r].deliver != CLOG_NONE)
			held[BUCKET(gt(d, ix->recs[r].deliver))] +=
				ev[ix->recs[r].deliver].held_ns;
	for (size_t i = 0; d->res && i < d->res->nviol; i++) {
		const struct cana_violation *v = &d->res->viol[i];
		__s64 g = (__s64)v->deliver_ts + d->off[v->host];

		if (v->group == d->group && g >= d->t0 && g <= d->t1)
			viol[BUCKET(g)]++;
	}
	(void)vd;
	for (int i = 0; i < CEXP_BUCKETS; i++) {
		if (msgs[i] > mm)
			mm = msgs[i];
		if (held[i] > mh)
			mh = held[i];
	}
	fprintf(f, "<svg class=\"overview\" xmlns=\"http://www.w3.org/2000/svg\" "
		"width=\"%.0f\" height=\"%.0f\" font-family=\"sans-serif\" "
		"font-size=\"11\">\n<rect width=\"100%%\" height=\"100%%\" "
		"fill=\"#fafafa\"/>\n", w + 2 * x0, top + 2 * h + 24);
	rel_str(d, d->t1, b, sizeof(b));
	cana_fmt_ns(span / CEXP_BUCKETS, a, sizeof(a));
	fprintf(f, "<text x=\"%.0f\" y=\"14\" fill=\"#555\">the whole run, %s: "
		"messages sent (grey, top) and time held (red, bottom) per %s; "
		"violations magenta; the window drawn below in blue</text>\n",
		x0, b + 1, a);
	for (int i = 0; i < CEXP_BUCKETS; i++) {
		double x = x0 + i * w / CEXP_BUCKETS, bw = w / CEXP_BUCKETS;
		double hm = mm ? h * msgs[i] / mm : 0, hh = mh ? h * held[i] / mh : 0;

		fprintf(f, "<rect class=\"ob\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
			"height=\"%.1f\" fill=\"#9a9996\"/>", x, top + h - hm, bw, hm);
		if (hh > 0)
			fprintf(f, "<rect class=\"oh\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
				"height=\"%.1f\" fill=\"#d01c1c\"/>", x, top + h + 1, bw,
				hh < 1 ? 1 : hh);
		if (viol[i])
			fprintf(f, "<rect class=\"ov\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
				"height=\"%.1f\" fill=\"#e01b9c\"/>", x, top, bw < 2 ? 2 : bw,
				2 * h + 1);
		fputc('\n', f);
	}
	wx0 = x0 + (double)(d->w0 - d->t0) * w / span;
	wx1 = x0 + (double)(d->w1 - d->t0) * w / span;
	if (wx1 < wx0 + 3) {
		wx0 = (wx0 + wx1) / 2 - 1.5;
		wx1 = wx0 + 3;
	}
	rel_str(d, d->w0, a, sizeof(a));
	rel_str(d, d->w1, b, sizeof(b));
	fprintf(f, "<rect class=\"win\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
		"height=\"%.1f\" fill=\"#1a5fb4\" fill-opacity=\"0.15\" stroke=\"#1a5fb4\" "
		"stroke-width=\"2\"><title>the window drawn: %s to %s</title></rect>\n",
		wx0, top - 3, wx1 - wx0, 2 * h + 7, a, b);
	lx = (wx0 + wx1) / 2;
	lx = lx < x0 + 150 ? x0 + 150 : lx > x0 + w - 150 ? x0 + w - 150 : lx;
	fprintf(f, "<text x=\"%.1f\" y=\"%.0f\" fill=\"#1a5fb4\" "
		"text-anchor=\"middle\">window %s to %s</text>\n", lx,
		top + 2 * h + 20, a, b);
	fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" fill=\"#555\">+0 s</text>"
		"<text x=\"%.0f\" y=\"%.0f\" fill=\"#555\" text-anchor=\"end\">%s"
		"</text>\n</svg>\n", x0, top + 2 * h + 20, x0 + w, top + 2 * h + 20,
		(rel_str(d, d->t1, b, sizeof(b)), b));
#undef BUCKET
	return ferror(f) ? -EIO : 0;
}

int cexp_html(FILE *f, const struct clog_store *s, const struct cexp_opts *o,
	      struct cexp_info *info)
{
	struct draw d;
	int ret = prepare(&d, f, s, o, true);

	if (ret) {
		release(&d, info);
		return ret;
	}
	fprintf(f, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n"
		"<meta charset=\"utf-8\">\n<title>causal delivery: group %u</title>\n"
		"<style>body{font-family:sans-serif;margin:1.5em;color:#222}"
		"dt{font-weight:bold;margin-top:.5em}"
		"details{margin:.5em 0 1em}"
		".sw{display:inline-block;width:2.5em;height:.6em;vertical-align:middle;"
		"margin-right:.5em}</style>\n</head>\n<body>\n", d.group);
	if (d.has_group) {
		fprintf(f, "<h1>Group %u: space-time diagram</h1>\n<p>%d nodes, %zu "
			"messages, %zu drawn (%zu events). <b>Window: ", d.group,
			d.ncols, d.nmsgs, d.shown, d.events);
		xml_text(f, d.window);
		fprintf(f, ".</b></p>\n");
		if (overview(&d)) {
			release(&d, info);
			return -EIO;
		}
	} else {
		fprintf(f, "<h1>No causal events in the logs</h1>\n");
	}
	fprintf(f, "<details><summary>How to read it</summary><dl>\n"
		"<dt>Vertical lines</dt><dd>one per node (n&lt;id&gt;), with the host "
		"whose log recorded it. Time runs downwards.</dd>\n"
		"<dt>Time axis</dt><dd>one time line for every host: wall clock when "
		"each log has a meta line, else the hosts' clocks aligned on the "
		"messages between them. The ticks on the left are times from the "
		"run's start; a quiet stretch is shortened, and events of one node "
		"stay a few pixels apart, so the scale is not even.</dd>\n"
		"<dt><span class=\"sw\" style=\"background:#8a8a8a;height:2px\"></span>"
		"Arrow</dt><dd>a message from its send (blue dot, labelled "
		"n&lt;sender&gt;:&lt;stamp&gt;) to its arrival at a receiver.</dd>\n"
		"<dt><span class=\"sw\" style=\"background:#d01c1c\"></span>Red bar</dt>"
		"<dd>the hold: from arrival to delivery, while the message waited for a "
		"cause, in a lane of its own beside the receiver's line so that "
		"every delivery dot shows; the hold time is written at its end.</dd>\n"
		"<dt><span class=\"sw\" style=\"background:repeating-linear-gradient("
		"90deg,#c061cb 0 5px,#fff 5px 8px);height:2px\"></span>Dashed purple"
		"</dt><dd>from a hold to the send of the message it waits for, "
		"labelled \"waits for\".</dd>\n"
		"<dt><span class=\"sw\" style=\"background:repeating-linear-gradient("
		"90deg,#d01c1c 0 8px,#fff 8px 13px)\"></span>Dashed red</dt>"
		"<dd>still held when the log ends.</dd>\n"
		"<dt>Dots at the receiver</dt><dd>green: delivered at once; red: "
		"delivered after a hold; orange: delivered by the hold timeout (a "
		"gap).</dd>\n"
		"<dt><span class=\"sw\" style=\"border:2px solid #e01b9c;width:.6em;"
		"border-radius:50%%\"></span>Magenta ring</dt><dd>a happens-before "
		"violation: delivered before a cause that had arrived; a dotted line "
		"goes to the cause's later delivery.</dd>\n</dl></details>\n");
	draw_svg(&d);
	fprintf(f, "</body>\n</html>\n");
	ret = ferror(f) ? -EIO : 0;
	release(&d, info);
	return ret;
}
