// SPDX-License-Identifier: GPL-2.0
/*
 * ShiViz log and space-time diagram of event logs (docs/analysis.md). Both
 * follow the events in a topological order of happens-before (cana_walk),
 * so a delivery always comes after its send.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>

#include "causal_analysis.h"
#include "causal_export.h"
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
/* Space-time diagram                                                      */
/* ---------------------------------------------------------------------- */

#define D_LEFT		90	/* x of the first node line */
#define D_COL		170	/* between node lines */
#define D_TOP		150	/* y of the earliest event */
#define D_BOTTOM	60	/* below the last event */
#define D_STEP		11	/* least y between two events of a host */
#define D_MIN_H		300	/* time axis of the busiest host */
#define D_MAX_H		5000
#define D_PER_EVENT	14

struct ypos {
	__u32 host;
	__u64 ts;
	double y;
};

struct draw {
	FILE *f;
	const struct clog_store *s;
	struct cana_index ix;
	bool has_group;
	__u32 group;
	size_t max, nmsgs, shown;
	__u8 *drawn;		/* msg -> drawn */
	int col[CAUSAL_EV_MAX_NODES];
	int ncols;
	struct ypos *ys;
	size_t nys;
	double width, height, bottom;
	size_t events;
};

static int cmp_ypos(const void *a, const void *b)
{
	const struct ypos *x = a, *y = b;

	if (x->host != y->host)
		return x->host < y->host ? -1 : 1;
	return x->ts < y->ts ? -1 : x->ts > y->ts;
}

static double y_of(const struct draw *d, __u32 host, __u64 ts)
{
	struct ypos key = { .host = host, .ts = ts };
	const struct ypos *p = bsearch(&key, d->ys, d->nys, sizeof(*d->ys),
				       cmp_ypos);

	return p ? p->y : D_TOP;
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

static void select_visit(void *ctx, __u32 x, __u32 e, bool cycle)
{
	struct draw *d = ctx;
	__u32 m = d->ix.ref[e];

	if (d->s->ev[e].type == CAUSAL_EV_SEND && m != CLOG_NONE &&
	    d->shown < d->max) {
		d->drawn[m] = 1;
		d->shown++;
	}
}

static int add_y(struct draw *d, size_t *cap, __u32 e)
{
	const struct clog_ev *ev = &d->s->ev[e];
	struct ypos p = { .host = ev->host, .ts = ev->ts };

	if (d->nys == *cap) {
		size_t c = *cap ? *cap * 2 : 256;
		struct ypos *n = realloc(d->ys, c * sizeof(*n));

		if (!n)
			return -ENOMEM;
		d->ys = n;
		*cap = c;
	}
	d->ys[d->nys++] = p;
	d->events++;
	return 0;
}

/* y of each drawn event: per host, its ts scaled from the host's first to
 * its last drawn event, and at least D_STEP below the previous one.
 */
static int layout(struct draw *d)
{
	const struct cana_index *ix = &d->ix;
	size_t cap = 0, busiest = 0, n = 0;
	double h;

	for (size_t m = 0; m < ix->nmsgs; m++)
		if (d->drawn[m] && add_y(d, &cap, ix->msgs[m].ev))
			return -ENOMEM;
	for (size_t i = 0; i < ix->nrecs; i++) {
		const struct cana_rec *r = &ix->recs[i];

		if (r->msg == CLOG_NONE || !d->drawn[r->msg])
			continue;
		if (r->arrive != CLOG_NONE && add_y(d, &cap, r->arrive))
			return -ENOMEM;
		if (r->deliver != CLOG_NONE && add_y(d, &cap, r->deliver))
			return -ENOMEM;
	}
	if (d->nys > 1)
		qsort(d->ys, d->nys, sizeof(*d->ys), cmp_ypos);
	for (size_t i = 0; i < d->nys; i++) {
		if (i && d->ys[i].host == d->ys[n - 1].host &&
		    d->ys[i].ts == d->ys[n - 1].ts)
			continue;
		d->ys[n++] = d->ys[i];
	}
	d->nys = n;
	for (size_t i = 0, k; i < d->nys; i = k) {
		for (k = i; k < d->nys && d->ys[k].host == d->ys[i].host; k++)
			;
		if (k - i > busiest)
			busiest = k - i;
	}
	h = busiest * D_PER_EVENT;
	h = h < D_MIN_H ? D_MIN_H : h > D_MAX_H ? D_MAX_H : h;
	d->bottom = D_TOP;
	for (size_t i = 0, k; i < d->nys; i = k) {
		__u64 t0 = d->ys[i].ts, span;
		double prev = 0;

		for (k = i; k < d->nys && d->ys[k].host == d->ys[i].host; k++)
			;
		span = d->ys[k - 1].ts - t0;
		for (size_t j = i; j < k; j++) {
			double y = D_TOP + (span ? h * (double)(d->ys[j].ts - t0) / span : 0);

			if (j > i && y < prev + D_STEP)
				y = prev + D_STEP;
			d->ys[j].y = prev = y;
		}
		if (prev > d->bottom)
			d->bottom = prev;
	}
	d->bottom += 30;
	d->height = d->bottom + D_BOTTOM;
	return 0;
}

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
	".msg{stroke:#8a8a8a;stroke-width:1}\n"
	".hold{stroke:#d01c1c;stroke-width:5;stroke-linecap:round}\n"
	".stuck{stroke:#d01c1c;stroke-width:5;stroke-dasharray:8 5}\n"
	".send{fill:#1a5fb4}\n.dlv{fill:#26a269}\n.late{fill:#d01c1c}\n"
	".gap{fill:#e66100}\n"
	".lbl{font-size:10px;fill:#333}\n.hdr{font-size:13px;font-weight:bold}\n"
	".note{font-size:11px;fill:#555}\n"
	"</style>\n";

static void legend(struct draw *d)
{
	FILE *f = d->f;
	double y = 48;

	fprintf(f, "<g class=\"legend\">\n");
	fprintf(f, "<line class=\"msg\" x1=\"20\" y1=\"%.0f\" x2=\"60\" y2=\"%.0f\" "
		"marker-end=\"url(#arrow)\"/><text class=\"note\" x=\"68\" y=\"%.0f\">"
		"message: send to arrival</text>\n", y, y, y + 4);
	fprintf(f, "<line class=\"hold\" x1=\"300\" y1=\"%.0f\" x2=\"340\" y2=\"%.0f\"/>"
		"<text class=\"note\" x=\"348\" y=\"%.0f\">held: arrival to delivery"
		"</text>\n", y, y, y + 4);
	fprintf(f, "<line class=\"stuck\" x1=\"560\" y1=\"%.0f\" x2=\"600\" y2=\"%.0f\"/>"
		"<text class=\"note\" x=\"608\" y=\"%.0f\">still held at the end</text>\n",
		y, y, y + 4);
	y += 20;
	fprintf(f, "<circle class=\"send\" cx=\"40\" cy=\"%.0f\" r=\"4\"/>"
		"<text class=\"note\" x=\"68\" y=\"%.0f\">send (label: sender:stamp)</text>\n",
		y, y + 4);
	fprintf(f, "<circle class=\"dlv\" cx=\"320\" cy=\"%.0f\" r=\"4\"/>"
		"<text class=\"note\" x=\"348\" y=\"%.0f\">delivered at once</text>\n",
		y, y + 4);
	fprintf(f, "<circle class=\"late\" cx=\"580\" cy=\"%.0f\" r=\"4\"/>"
		"<text class=\"note\" x=\"608\" y=\"%.0f\">delivered after a hold</text>\n",
		y, y + 4);
	y += 20;
	fprintf(f, "<circle class=\"gap\" cx=\"40\" cy=\"%.0f\" r=\"4\"/>"
		"<text class=\"note\" x=\"68\" y=\"%.0f\">gap: delivered by the hold "
		"timeout</text>\n", y, y + 4);
	fprintf(f, "<text class=\"note\" x=\"300\" y=\"%.0f\">time runs down; each host's "
		"clock is scaled on its own</text>\n", y + 4);
	fprintf(f, "</g>\n");
}

static void draw_svg(struct draw *d)
{
	const struct cana_index *ix = &d->ix;
	const struct clog_ev *ev = d->s->ev;
	FILE *f = d->f;
	char desc[256], label[64];

	fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" "
		"height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" font-family=\"sans-serif\" "
		"font-size=\"11\">\n", d->width, d->height, d->width, d->height);
	fprintf(f, "<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" "
		"refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto\">"
		"<path d=\"M0,0 L10,5 L0,10 z\" fill=\"#8a8a8a\"/></marker></defs>\n");
	fputs(svg_style, f);
	fprintf(f, "<rect width=\"100%%\" height=\"100%%\" fill=\"#fff\"/>\n");
	if (d->has_group)
		fprintf(f, "<text class=\"hdr\" x=\"20\" y=\"24\">group %u: %d nodes, "
			"%zu messages, %zu drawn</text>\n", d->group, d->ncols,
			d->nmsgs, d->shown);
	else
		fprintf(f, "<text class=\"hdr\" x=\"20\" y=\"24\">no causal events in "
			"the logs</text>\n");
	legend(d);

	/* One line per node. */
	for (size_t x = 0; x < ix->nnodes; x++) {
		const struct cana_node *nd = &ix->nodes[x];
		double cx = D_LEFT + d->col[nd->node] * D_COL;

		fprintf(f, "<text class=\"hdr\" x=\"%.0f\" y=\"%d\" text-anchor=\"middle\">"
			"n%u</text>\n", cx, D_TOP - 32, nd->node);
		fprintf(f, "<text class=\"note\" x=\"%.0f\" y=\"%d\" "
			"text-anchor=\"middle\">", cx, D_TOP - 18);
		xml_text(f, clog_str(d->s, nd->host));
		fprintf(f, "</text>\n");
		fprintf(f, "<line class=\"node\" x1=\"%.0f\" y1=\"%d\" x2=\"%.0f\" "
			"y2=\"%.0f\">", cx, D_TOP - 10, cx, d->bottom);
		snprintf(desc, sizeof(desc), "node %u on host %s", nd->node,
			 clog_str(d->s, nd->host));
		title(f, desc);
		fprintf(f, "</line>\n");
	}

	/* Messages: network part, then the hold on the receiver's line. */
	for (size_t i = 0; i < ix->nrecs; i++) {
		const struct cana_rec *r = &ix->recs[i];
		const struct clog_ev *se, *to;
		double x1, y1, x2, y2, xh;
		bool held;

		if (r->msg == CLOG_NONE || !d->drawn[r->msg])
			continue;
		se = &ev[ix->msgs[r->msg].ev];
		to = &ev[r->arrive != CLOG_NONE ? r->arrive : r->deliver];
		x1 = D_LEFT + d->col[se->node] * D_COL;
		y1 = y_of(d, se->host, se->ts);
		x2 = D_LEFT + d->col[r->node] * D_COL;
		y2 = y_of(d, to->host, to->ts);
		xh = x2 + (x2 > x1 ? -5 : 5);
		fprintf(f, "<line class=\"msg\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
			"y2=\"%.1f\" marker-end=\"url(#arrow)\">", x1, y1, xh, y2);
		describe(d->s, to, desc, sizeof(desc));
		title(f, desc);
		fprintf(f, "</line>\n");
		if (r->deliver == CLOG_NONE) {
			fprintf(f, "<line class=\"stuck\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
				"y2=\"%.1f\">", xh, y2, xh, d->bottom);
			msg_name(label, sizeof(label), r->sender, r->stamp);
			snprintf(desc, sizeof(desc), "%s still held at the end of the log",
				 label);
			title(f, desc);
			fprintf(f, "</line>\n");
			continue;
		}
		held = ev[r->deliver].held_ns || r->hold != CLOG_NONE;
		y2 = y_of(d, ev[r->deliver].host, ev[r->deliver].ts);
		describe(d->s, &ev[r->deliver], desc, sizeof(desc));
		if (held && r->arrive != CLOG_NONE) {
			double ya = y_of(d, ev[r->arrive].host, ev[r->arrive].ts);

			fprintf(f, "<line class=\"hold\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
				"y2=\"%.1f\">", xh, ya, xh, y2 > ya + 2 ? y2 : ya + 2);
			if (r->hold != CLOG_NONE) {
				char why[256];

				describe(d->s, &ev[r->hold], why, sizeof(why));
				title(f, why);
			} else {
				title(f, desc);
			}
			fprintf(f, "</line>\n");
		}
		fprintf(f, "<circle class=\"%s\" cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\">",
			ev[r->deliver].flag ? "gap" : held ? "late" : "dlv", xh, y2);
		title(f, desc);
		fprintf(f, "</circle>\n");
		if (held) {
			cana_fmt_ns(ev[r->deliver].held_ns, label, sizeof(label));
			fprintf(f, "<text class=\"lbl\" x=\"%.1f\" y=\"%.1f\"%s>%s</text>\n",
				xh + (x2 > x1 ? -6 : 6), y2 + 3,
				x2 > x1 ? " text-anchor=\"end\"" : "", label);
		}
	}
	for (size_t m = 0; m < ix->nmsgs; m++) {
		const struct clog_ev *se = &ev[ix->msgs[m].ev];
		double cx, cy;

		if (!d->drawn[m])
			continue;
		cx = D_LEFT + d->col[se->node] * D_COL;
		cy = y_of(d, se->host, se->ts);
		describe(d->s, se, desc, sizeof(desc));
		fprintf(f, "<circle class=\"send\" cx=\"%.1f\" cy=\"%.1f\" r=\"4\">", cx, cy);
		title(f, desc);
		msg_name(label, sizeof(label), se->node, se->stamp);
		fprintf(f, "</circle>\n<text class=\"lbl\" x=\"%.1f\" y=\"%.1f\">%s</text>\n",
			cx + 7, cy - 4, label);
	}
	if (d->shown < d->nmsgs)
		fprintf(f, "<text class=\"note\" x=\"20\" y=\"%.0f\">showing the first %zu "
			"of %zu messages in causal order (export --max N for more)</text>\n",
			d->height - 20, d->shown, d->nmsgs);
	fprintf(f, "</svg>\n");
}

static int prepare(struct draw *d, FILE *f, const struct clog_store *s,
		   const struct cexp_opts *o)
{
	int ret;

	memset(d, 0, sizeof(*d));
	d->f = f;
	d->s = s;
	d->max = o->max_msgs ? o->max_msgs : CEXP_MAX_MSGS;
	d->has_group = o->has_group;
	d->group = o->group;
	if (!d->has_group)
		d->has_group = pick_group(s, &d->group);
	ret = cana_index_build(&d->ix, s, true, d->group);
	if (ret)
		return ret;
	d->nmsgs = d->ix.nmsgs;
	d->drawn = calloc(d->ix.nmsgs + 1, 1);
	if (!d->drawn)
		return -ENOMEM;
	memset(d->col, 0, sizeof(d->col));
	for (size_t x = 0; x < d->ix.nnodes; x++)
		d->col[d->ix.nodes[x].node] = d->ncols++;
	/* The first messages in causal order. */
	if (cana_walk(&d->ix, 0, d->ix.nnodes,
		      BIT(CAUSAL_EV_SEND) | BIT(CAUSAL_EV_DELIVER),
		      select_visit, d) < 0)
		return -ENOMEM;
	ret = layout(d);
	if (ret)
		return ret;
	d->width = D_LEFT * 2 + (d->ncols > 1 ? d->ncols - 1 : 0) * D_COL;
	if (d->width < 800)
		d->width = 800;
	return 0;
}

static void release(struct draw *d, struct cexp_info *info)
{
	info->has_group = d->has_group;
	info->group = d->group;
	info->events = d->events;
	info->msgs = d->nmsgs;
	info->shown = d->shown;
	free(d->drawn);
	free(d->ys);
	cana_index_free(&d->ix);
}

int cexp_svg(FILE *f, const struct clog_store *s, const struct cexp_opts *o,
	     struct cexp_info *info)
{
	struct draw d;
	int ret = prepare(&d, f, s, o);

	if (!ret) {
		fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
		draw_svg(&d);
		ret = ferror(f) ? -EIO : 0;
	}
	release(&d, info);
	return ret;
}

int cexp_html(FILE *f, const struct clog_store *s, const struct cexp_opts *o,
	      struct cexp_info *info)
{
	struct draw d;
	int ret = prepare(&d, f, s, o);

	if (ret) {
		release(&d, info);
		return ret;
	}
	fprintf(f, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n"
		"<meta charset=\"utf-8\">\n<title>causal delivery: group %u</title>\n"
		"<style>body{font-family:sans-serif;margin:1.5em;color:#222}"
		"dt{font-weight:bold;margin-top:.5em}"
		".sw{display:inline-block;width:2.5em;height:.6em;vertical-align:middle;"
		"margin-right:.5em}</style>\n</head>\n<body>\n", d.group);
	if (d.has_group)
		fprintf(f, "<h1>Group %u: space-time diagram</h1>\n<p>%d nodes, %zu "
			"messages, %zu drawn (the first in causal order).</p>\n",
			d.group, d.ncols, d.nmsgs, d.shown);
	else
		fprintf(f, "<h1>No causal events in the logs</h1>\n");
	fprintf(f, "<dl>\n"
		"<dt>Vertical lines</dt><dd>one per node (n&lt;id&gt;), with the host "
		"whose log recorded it. Time runs downwards.</dd>\n"
		"<dt>Time axis</dt><dd>each host's CLOCK_MONOTONIC is its own: a host's "
		"events are placed by their ts, scaled from its first to its last "
		"drawn event, at least a few pixels apart. Heights on different "
		"hosts are not comparable; an arrow may climb when clocks differ.</dd>\n"
		"<dt><span class=\"sw\" style=\"background:#8a8a8a;height:2px\"></span>"
		"Arrow</dt><dd>a message from its send (blue dot, labelled "
		"sender:stamp) to its arrival at a receiver.</dd>\n"
		"<dt><span class=\"sw\" style=\"background:#d01c1c\"></span>Red bar</dt>"
		"<dd>the hold: from arrival to delivery, while the message waited for a "
		"cause; its length is the hold time, also written next to it. Hover "
		"for what it waited for.</dd>\n"
		"<dt><span class=\"sw\" style=\"background:repeating-linear-gradient("
		"90deg,#d01c1c 0 8px,#fff 8px 13px)\"></span>Dashed red</dt>"
		"<dd>still held when the log ends.</dd>\n"
		"<dt>Dots at the receiver</dt><dd>green: delivered at once; red: "
		"delivered after a hold; orange: delivered by the hold timeout (a "
		"gap).</dd>\n</dl>\n");
	draw_svg(&d);
	fprintf(f, "</body>\n</html>\n");
	ret = ferror(f) ? -EIO : 0;
	release(&d, info);
	return ret;
}
