// SPDX-License-Identifier: GPL-2.0
/*
 * causalctl analyze and export: event logs of several hosts in, a report
 * (text or JSON), a ShiViz log or a space-time diagram out. The work is in
 * user/lib (causal_log, causal_analysis, causal_export); this is options
 * and printing.
 *
 * Exit status: 0, 1 when the happens-before check found violations, 2 on
 * bad usage or a log that cannot be read. Bad lines inside a log are
 * skipped and counted, never fatal.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>

#include "causal_analysis.h"
#include "causal_export.h"
#include "causal_log.h"
#include "causal_cutil.h"
#include "causal_why.h"
#include "causalctl.h"

#define EXIT_VIOLATIONS	1
#define EXIT_USAGE	2

const struct ctl_opt analyze_opts[] = {
	{ "group",	'g', "G",	"only group G" },
	{ "top",	'n', "N",	"top findings to list (default 5)" },
	{ "bucket",	'b', "MS",	"anomaly bucket width in ms (default: a 50th of the run, 10 to 1000)" },
	{}
};

const char analyze_more[] =
	"LOG: causald's event logs (or causalctl trace -j), one per host.\n"
	"\nexamples:\n"
	"  causalctl analyze a.jsonl b.jsonl c.jsonl\n"
	"  causalctl analyze -j --group 7 *.jsonl\n"
	"exit status: 0 ok, 1 happens-before violations, 2 bad usage, an\n"
	"unreadable log, a group not in the logs or logs without events\n";

const struct ctl_opt export_opts[] = {
	{ "shiviz",	's', "FILE",	"ShiViz log (https://bestchai.bitbucket.io/shiviz/)" },
	{ "svg",	'v', "FILE",	"space-time diagram of one group" },
	{ "html",	'H', "FILE",	"the diagram with its legend and an overview of the whole run, as one HTML page" },
	{ "group",	'g', "G",	"only group G (the diagram: default the busiest)" },
	{ "max",	'm', "N",	"events drawn at most (default 120, at most 900)" },
	{ "around",	'a', "S:T",	"a window around message T of node S" },
	{ "from",	'f', "T",	"a window from T: \"12.5s\", \"800ms\" from the run's start, or wall clock \"2026-12-03 10:00:01.5\" or \"10:00:01\" (UTC) when every log has a meta line" },
	{ "to",		't', "T",	"a window to T, as --from" },
	{}
};

const char export_more[] =
	"FILE - is standard output. One of --shiviz, --svg, --html is needed.\n"
	"The diagram's window is by default around the top finding: the first\n"
	"happens-before violation, else the longest hold of the worst anomaly,\n"
	"else the longest hold.\n"
	"\nexamples:\n"
	"  causalctl export --html run.html a.jsonl b.jsonl\n"
	"  causalctl export --html d.html --around 1:5 a.jsonl b.jsonl\n"
	"  causalctl export --shiviz - *.jsonl > run.shiviz\n"
	"exit status: 0, 2 on bad usage or an unreadable log\n";

const char why_more[] =
	"Why node NODE of GROUP held message SENDER:STAMP: what it waited for,\n"
	"what that waited for, down to the message that came late or never came,\n"
	"with its time on the way and the TCP retransmits meanwhile, and what to\n"
	"check next.\n"
	"\nexamples:\n"
	"  causalctl why 7 2 1:5 a.jsonl b.jsonl c.jsonl\n"
	"exit status: 0, 2 on bad usage, an unreadable log, or no such message\n"
	"at that node\n";

static int usage_error(const char *fmt, const char *arg)
{
	char msg[256];

	snprintf(msg, sizeof(msg), fmt, arg);
	return ctl_usage_error("%s", msg);
}

/* Every LOG into one store (gzip or plain, - for standard input); an
 * unreadable one ends the command with the store's word for why.
 */
static struct clog_store *load(int argc, char **argv)
{
	struct clog_store *s;

	if (optind >= argc) {
		usage_error("no LOG given%s", "");
		return NULL;
	}
	s = clog_store_new();
	if (!s) {
		ctl_error("out of memory");
		return NULL;
	}
	for (int i = optind; i < argc; i++) {
		int ret = clog_store_load(s, argv[i]);

		if (ret) {
			if (s->error[0])
				ctl_error("%s", s->error);
			else
				ctl_error("%s: %s", argv[i], strerror(-ret));
			clog_store_free(s);
			return NULL;
		}
	}
	return s;
}

/* --group G must name a group the logs have, and the selection must hold
 * events: a typo is an error (exit 2) that lists what there is, not an
 * empty report that reads as "healthy".
 */
static bool group_selected(const struct clog_store *s, bool has_group,
			   __u32 group)
{
	char list[256] = "";
	size_t len = 0, n = 0;
	__u32 seen[16];

	for (size_t i = 0; i < s->nev; i++) {
		const struct clog_ev *e = &s->ev[i];
		size_t k;

		if (!clog_is_causal(e->type))
			continue;
		if (has_group && e->group == group)
			return true;
		for (k = 0; k < n && seen[k] != e->group; k++)
			;
		if (k == n && n < sizeof(seen) / sizeof(seen[0])) {
			seen[n++] = e->group;
			len += snprintf(list + len, sizeof(list) - len, "%s%u",
					len ? ", " : "", e->group);
		}
	}
	if (!has_group && (n || s->nev))
		return true;
	if (has_group && n)
		ctl_error("group %u is not in these logs (groups: %s)", group, list);
	else if (has_group)
		ctl_error("group %u is not in these logs: they have no causal events", group);
	else
		ctl_error("these logs have no events");
	return false;
}

/* ---------------------------------------------------------------------- */
/* JSON helpers                                                            */
/* ---------------------------------------------------------------------- */

static void jadd(struct json_object *o, const char *k, struct json_object *v)
{
	json_object_object_add(o, k, v);
}

static void ju64(struct json_object *o, const char *k, __u64 v)
{
	jadd(o, k, json_object_new_uint64(v));
}

static void jstr(struct json_object *o, const char *k, const char *v)
{
	jadd(o, k, json_object_new_string(v));
}

static struct json_object *lat_json(const struct cana_lat *l)
{
	struct json_object *o = json_object_new_object();

	ju64(o, "delivered", l->count);
	ju64(o, "held", l->held);
	ju64(o, "p50_ns", l->p50);
	ju64(o, "p99_ns", l->p99);
	ju64(o, "max_ns", l->max);
	ju64(o, "held_p50_ns", l->held_p50);
	ju64(o, "held_p99_ns", l->held_p99);
	ju64(o, "total_ns", l->total_ns);
	return o;
}

static struct json_object *check_json(const struct cana_check *c)
{
	struct json_object *o = json_object_new_object();

	jadd(o, "complete", json_object_new_boolean(cana_complete(c)));
	ju64(o, "checked", c->checked);
	ju64(o, "violations", c->violations);
	ju64(o, "gap_exempt", c->gap_exempt);
	ju64(o, "gap_excused", c->gap_excused);
	ju64(o, "lost", c->lost);
	ju64(o, "no_send", c->no_send);
	ju64(o, "inconsistent", c->inconsistent);
	return o;
}

static struct json_object *link_obj(const struct causal_ev_link *l)
{
	struct causal_event ev = { .type = CAUSAL_EV_TCP_RESET, .link = *l };
	struct json_object *line = clog_event_json(&ev, "-"), *v = NULL;

	/* The log's own link format. */
	if (line && json_object_object_get_ex(line, "link", &v))
		json_object_get(v);
	json_object_put(line);
	return v;
}

static struct json_object *blame_json(const struct clog_store *s,
				      const struct cana_blame *b, bool pair)
{
	struct json_object *o = json_object_new_object();

	ju64(o, "group", b->group);
	if (pair) {
		ju64(o, "node", b->node);
		jstr(o, "host", clog_str(s, b->host));
	}
	ju64(o, "peer", b->peer);
	ju64(o, "hold_ns", b->hold_ns);
	ju64(o, "messages", b->msgs);
	jadd(o, "share", json_object_new_double(b->share));
	if (pair) {
		ju64(o, "retransmits", b->retransmits);
		ju64(o, "retransmits_back", b->retransmits_back);
		ju64(o, "resets", b->resets);
		jadd(o, "link", b->has_link ? link_obj(&b->link) : NULL);
	}
	return o;
}

/* A message at the node that received it: what held and violation entries
 * start with.
 */
static struct json_object *msg_json(const struct clog_store *s, __u32 group,
				    __u16 node, __u32 host, __u16 sender,
				    __u64 stamp)
{
	struct json_object *m = json_object_new_object();

	ju64(m, "group", group);
	ju64(m, "node", node);
	jstr(m, "host", clog_str(s, host));
	ju64(m, "sender", sender);
	ju64(m, "stamp", stamp);
	return m;
}

static struct json_object *group_json(const struct cana_result *r,
				      const struct cana_group *gr)
{
	struct json_object *x = json_object_new_object();
	struct json_object *h = json_object_new_object();

	ju64(x, "group", gr->group);
	ju64(x, "nodes", gr->nodes);
	ju64(x, "sends", gr->sends);
	ju64(x, "arrivals", gr->arrivals);
	ju64(x, "holds", gr->holds);
	ju64(x, "deliveries", gr->deliveries);
	ju64(x, "gaps", gr->gaps);
	ju64(x, "errors", gr->errors);
	ju64(x, "resets", gr->resets);
	ju64(x, "retransmits", gr->retransmits);
	ju64(x, "channels", gr->channels);
	ju64(x, "held_now", gr->held_now);
	ju64(x, "hold_ns", gr->hold_ns);
	ju64(x, "unattributed_ns", gr->unattributed_ns);
	ju64(x, "pair_median_ns", gr->pair_median_ns);
	jadd(x, "healthy",
	     json_object_new_boolean(cana_group_healthy(r, gr->group)));
	jadd(x, "latency", lat_json(&gr->lat));
	ju64(h, "score", gr->health.score);
	jstr(h, "reason", gr->health.reason);
	jadd(h, "latency", json_object_new_double(gr->health.latency));
	jadd(h, "held", json_object_new_double(gr->health.held));
	jadd(h, "gaps", json_object_new_double(gr->health.gaps));
	jadd(h, "errors", json_object_new_double(gr->health.errors));
	jadd(x, "health", h);
	jadd(x, "check", check_json(&gr->check));
	return x;
}

/* ---------------------------------------------------------------------- */
/* The report: a function per section, text or, given @o, JSON into it   */
/* ---------------------------------------------------------------------- */

static const char *dur(__u64 ns, char *buf)
{
	cana_fmt_ns(ns, buf, 32);
	return buf;
}

/* The logs read, the events by type, the groups; JSON "logs", "events",
 * "lost_by_type".
 */
static void render_summary(const struct clog_store *s,
			   const struct cana_result *r, struct json_object *o)
{
	__u64 lines = 0, bad = 0, other = 0;

	if (o) {
		struct json_object *a = json_object_new_array(), *x;

		for (size_t i = 0; i < s->nfiles; i++) {
			const struct clog_file *f = &s->files[i];

			x = json_object_new_object();
			jstr(x, "log", f->name);
			jadd(x, "host", f->host == CLOG_NONE ? NULL :
			     json_object_new_string(clog_str(s, f->host)));
			ju64(x, "lines", f->lines);
			ju64(x, "events", f->events);
			ju64(x, "bad", f->bad);
			ju64(x, "other_version", f->other_version);
			ju64(x, "lost", f->lost);
			jadd(x, "meta", json_object_new_boolean(f->has_meta));
			json_object_array_add(a, x);
		}
		jadd(o, "logs", a);
		x = json_object_new_object();
		for (__u32 t = CAUSAL_EV_SEND; t < CAUSAL_EV_TYPES; t++)
			ju64(x, clog_type_name(t), r->by_type[t]);
		jadd(o, "events", x);
		x = json_object_new_object();
		for (__u32 t = CAUSAL_EV_SEND; t < CAUSAL_EV_TYPES; t++)
			if (s->lost_by_type[t])
				ju64(x, clog_type_name(t), s->lost_by_type[t]);
		jadd(o, "lost_by_type", x);
		return;
	}
	for (size_t i = 0; i < s->nfiles; i++) {
		lines += s->files[i].lines;
		bad += s->files[i].bad;
		other += s->files[i].other_version;
	}
	printf("Summary\n");
	printf("  %zu log%s, %llu lines: %llu events analyzed; skipped: %llu bad, "
	       "%llu of another version; events lost by the tracer: %llu\n",
	       s->nfiles, s->nfiles == 1 ? "" : "s", (unsigned long long)lines,
	       (unsigned long long)r->events, (unsigned long long)bad,
	       (unsigned long long)other, (unsigned long long)s->lost);
	printf("  %-28s %-16s %10s %10s %8s %8s %8s\n", "LOG", "HOST", "LINES",
	       "EVENTS", "BAD", "OTHER-V", "LOST");
	for (size_t i = 0; i < s->nfiles; i++) {
		const struct clog_file *f = &s->files[i];

		printf("  %-28s %-16s %10llu %10llu %8llu %8llu %8llu%s\n", f->name,
		       f->host == CLOG_NONE ? "-" : clog_str(s, f->host),
		       (unsigned long long)f->lines, (unsigned long long)f->events,
		       (unsigned long long)f->bad,
		       (unsigned long long)f->other_version,
		       (unsigned long long)f->lost,
		       f->has_meta ? "" : "  (no meta line)");
	}
	printf("  events:");
	for (__u32 t = CAUSAL_EV_SEND; t < CAUSAL_EV_TYPES; t++)
		if (r->by_type[t])
			printf(" %s %llu", clog_type_name(t),
			       (unsigned long long)r->by_type[t]);
	if (s->lost) {
		__u64 known = 0;

		printf("\n  lost:");
		for (__u32 t = CAUSAL_EV_SEND; t < CAUSAL_EV_TYPES; t++) {
			if (!s->lost_by_type[t])
				continue;
			printf(" %s %llu", clog_type_name(t),
			       (unsigned long long)s->lost_by_type[t]);
			known += s->lost_by_type[t];
		}
		if (known < s->lost)
			printf(" %llu of no known type",
			       (unsigned long long)(s->lost - known));
	}
	printf("\n  groups:");
	for (size_t i = 0; i < r->ngroups; i++)
		printf(" %u (%u nodes)", r->groups[i].group, r->groups[i].nodes);
	printf("%s\n\n", r->ngroups ? "" : " none");
}

static void lat_row(const char *group, const char *node, const char *peer,
		    const struct cana_lat *l)
{
	char b[6][32];

	printf("  %8s %5s %5s %10llu %9llu %6.1f %10s %10s %10s %10s %10s\n",
	       group, node, peer, (unsigned long long)l->count,
	       (unsigned long long)l->held,
	       l->count ? 100.0 * l->held / l->count : 0.0,
	       dur(l->p50, b[0]), dur(l->p99, b[1]), dur(l->max, b[2]),
	       dur(l->held_p50, b[3]), dur(l->held_p99, b[4]));
}

/* Hold-back latency per (group, node, peer); JSON "latency". */
static void render_latency(const struct clog_store *s,
			   const struct cana_result *r, struct json_object *o)
{
	if (o) {
		struct json_object *a = json_object_new_array(), *x;

		for (size_t i = 0; i < r->nlat; i++) {
			x = json_object_new_object();
			ju64(x, "group", r->lat[i].group);
			ju64(x, "node", r->lat[i].node);
			ju64(x, "peer", r->lat[i].peer);
			jstr(x, "host", clog_str(s, r->lat[i].host));
			jadd(x, "latency", lat_json(&r->lat[i].lat));
			json_object_array_add(a, x);
		}
		jadd(o, "latency", a);
		return;
	}
	printf("Hold-back latency (held_ns of each delivery; held: > 0; nearest-rank "
	       "percentiles)\n");
	printf("  %8s %5s %5s %10s %9s %6s %10s %10s %10s %10s %10s\n", "GROUP",
	       "NODE", "PEER", "DELIVERED", "HELD", "HELD%", "P50", "P99", "MAX",
	       "HELD-P50", "HELD-P99");
	for (size_t g = 0; g < r->ngroups; g++) {
		char gs[16], ns[8], ps[8];

		snprintf(gs, sizeof(gs), "%u", r->groups[g].group);
		lat_row(gs, "*", "*", &r->groups[g].lat);
		for (size_t i = 0; i < r->nlat; i++) {
			const struct cana_peer_lat *l = &r->lat[i];

			if (l->group != r->groups[g].group)
				continue;
			snprintf(ns, sizeof(ns), "%u", l->node);
			snprintf(ps, sizeof(ps), "%u", l->peer);
			lat_row(gs, ns, ps, &l->lat);
		}
	}
	printf("\n");
}

/* What the logs end with still held; JSON "held_now". */
static void render_held(const struct clog_store *s, const struct cana_result *r,
			struct json_object *o)
{
	char b[32];

	if (o) {
		struct json_object *x = json_object_new_object();
		struct json_object *a = json_object_new_array();

		ju64(x, "total", r->held_total);
		for (size_t i = 0; i < r->nheld; i++) {
			const struct cana_held *h = &r->held[i];
			struct json_object *m = msg_json(s, h->group, h->node,
							 h->host, h->sender,
							 h->stamp);

			ju64(m, "arrive_ts", h->arrive_ts);
			ju64(m, "age_ns", h->age_ns);
			jadd(m, "wait_node", h->has_wait ?
			     json_object_new_uint64(h->wait_node) : NULL);
			jadd(m, "wait_stamp", h->has_wait ?
			     json_object_new_uint64(h->wait_stamp) : NULL);
			json_object_array_add(a, m);
		}
		jadd(x, "messages", a);
		jadd(o, "held_now", x);
		return;
	}
	printf("Held now (arrived, not delivered by the end of the host's log): %llu\n",
	       (unsigned long long)r->held_total);
	if (r->nheld)
		printf("  %8s %5s %-16s %5s %10s %10s  %s\n", "GROUP", "NODE", "HOST",
		       "FROM", "STAMP", "AGE", "WAITS FOR");
	for (size_t i = 0; i < r->nheld; i++) {
		const struct cana_held *h = &r->held[i];
		char wait[64] = "-";

		if (h->has_wait)
			snprintf(wait, sizeof(wait), "node %u's message %llu",
				 h->wait_node, (unsigned long long)h->wait_stamp);
		printf("  %8u %5u %-16s %5u %10llu %10s  %s\n", h->group, h->node,
		       clog_str(s, h->host), h->sender, (unsigned long long)h->stamp,
		       dur(h->age_ns, b), wait);
	}
	if (r->nheld < r->held_total)
		printf("  (%llu more not listed)\n",
		       (unsigned long long)(r->held_total - r->nheld));
	printf("\n");
}

/* Blame per peer and per (node, peer) with its TCP; JSON "blame",
 * "blame_pairs".
 */
static void render_blame(const struct clog_store *s,
			 const struct cana_result *r, struct json_object *o)
{
	char b[32], link[128];

	if (o) {
		struct json_object *a = json_object_new_array();

		for (size_t i = 0; i < r->nblame; i++)
			json_object_array_add(a, blame_json(s, &r->blame[i], false));
		jadd(o, "blame", a);
		a = json_object_new_array();
		for (size_t i = 0; i < r->npairs; i++)
			json_object_array_add(a, blame_json(s, &r->pairs[i], true));
		jadd(o, "blame_pairs", a);
		return;
	}
	printf("Blame (hold time charged to the node each hold waited for)\n");
	if (!r->nblame) {
		printf("  no held deliveries with a hold event\n\n");
		return;
	}
	printf("  %8s %5s %10s %6s %8s\n", "GROUP", "PEER", "HOLD", "SHARE",
	       "MSGS");
	for (size_t i = 0; i < r->nblame; i++) {
		const struct cana_blame *bl = &r->blame[i];

		printf("  %8u %5u %10s %5.1f%% %8llu\n", bl->group, bl->peer,
		       dur(bl->hold_ns, b), 100 * bl->share,
		       (unsigned long long)bl->msgs);
	}
	printf("  by holding node, with TCP on the link between them:\n");
	printf("  retransmits by the peer's end (its data to the node) and back:\n");
	printf("  %8s %5s %-16s %5s %10s %6s %8s %8s %6s %6s  %s\n", "GROUP", "NODE",
	       "HOST", "PEER", "HOLD", "SHARE", "MSGS", "RETRANS", "BACK",
	       "RESETS", "LINK (peer -> node)");
	for (size_t i = 0; i < r->npairs; i++) {
		const struct cana_blame *bl = &r->pairs[i];

		if (bl->has_link)
			clog_link_str(&bl->link, link, sizeof(link));
		else
			snprintf(link, sizeof(link), "-");
		printf("  %8u %5u %-16s %5u %10s %5.1f%% %8llu %8llu %6llu %6llu  %s\n",
		       bl->group, bl->node, clog_str(s, bl->host), bl->peer,
		       dur(bl->hold_ns, b), 100 * bl->share,
		       (unsigned long long)bl->msgs,
		       (unsigned long long)bl->retransmits,
		       (unsigned long long)bl->retransmits_back,
		       (unsigned long long)bl->resets, link);
	}
	for (size_t g = 0; g < r->ngroups; g++)
		if (r->groups[g].unattributed_ns)
			printf("  group %u: %s of hold time without a hold event "
			       "(waited behind its own channel)\n",
			       r->groups[g].group,
			       dur(r->groups[g].unattributed_ns, b));
	printf("\n");
}

/* Each group's health; JSON "groups", with their counts, latency and
 * check.
 */
static void render_groups(const struct cana_result *r, struct json_object *o)
{
	if (o) {
		struct json_object *a = json_object_new_array();

		for (size_t g = 0; g < r->ngroups; g++)
			json_object_array_add(a, group_json(r, &r->groups[g]));
		jadd(o, "groups", a);
		return;
	}
	printf("Health (0-100, docs/analysis.md)\n");
	for (size_t g = 0; g < r->ngroups; g++) {
		const struct cana_group *gr = &r->groups[g];
		const struct causal_health *h = &gr->health;

		printf("  group %u: %u/100 - %s  [p99 hold -%.0f, held -%.0f, gaps -%.0f, "
		       "errors -%.0f%s]\n", gr->group, h->score, h->reason,
		       h->latency, h->held, h->gaps, h->errors,
		       gr->check.violations ? "; violations force 0" : "");
	}
	printf("\n");
}

/* Sustained jumps of blamed hold time; JSON "anomalies". */
static void render_anomalies(const struct cana_result *r, struct json_object *o)
{
	char b[6][32];

	if (o) {
		struct json_object *a = json_object_new_array(), *x;

		for (size_t i = 0; i < r->nanomalies; i++) {
			const struct cana_anomaly *an = &r->anomalies[i];

			x = json_object_new_object();
			ju64(x, "group", an->group);
			ju64(x, "peer", an->peer);
			ju64(x, "start_ns", an->start_ns);
			ju64(x, "bucket_ns", an->bucket_ns);
			ju64(x, "buckets", an->buckets);
			ju64(x, "peak_ns", an->peak_ns);
			ju64(x, "mean_ns", an->mean_ns);
			ju64(x, "sd_ns", an->sd_ns);
			ju64(x, "excess_ns", an->excess_ns);
			jadd(x, "wall_clock", json_object_new_boolean(an->wall));
			json_object_array_add(a, x);
		}
		jadd(o, "anomalies", a);
		return;
	}
	printf("Anomalies (blamed hold time per peer and bucket against its own "
	       "EWMA baseline)\n");
	if (!r->nanomalies)
		printf("  none\n");
	for (size_t i = 0; i < r->nanomalies; i++) {
		const struct cana_anomaly *a = &r->anomalies[i];

		printf("  group %u, peer %u: at +%s for %s, peak %s per %s "
		       "(baseline %s +- %s)%s\n", a->group, a->peer,
		       dur(a->start_ns, b[0]), dur(a->buckets * a->bucket_ns, b[1]),
		       dur(a->peak_ns, b[2]), dur(a->bucket_ns, b[3]),
		       dur(a->mean_ns, b[4]), dur(a->sd_ns, b[5]),
		       a->wall ? "" : " (host clock)");
	}
	printf("\n");
}

/* The happens-before check and its listed violations; JSON "check". */
static void render_check(const struct clog_store *s,
			 const struct cana_result *r, struct json_object *o)
{
	const struct cana_check *c = &r->check;
	char line[768];

	if (o) {
		struct json_object *x = check_json(c);
		struct json_object *a = json_object_new_array();

		for (size_t i = 0; i < r->nviol; i++) {
			const struct cana_violation *v = &r->viol[i];
			struct json_object *m = msg_json(s, v->group, v->node,
							 v->host, v->sender,
							 v->stamp);

			ju64(m, "deliver_ts", v->deliver_ts);
			ju64(m, "cause_sender", v->cause_sender);
			ju64(m, "cause_stamp", v->cause_stamp);
			ju64(m, "cause_arrive_ts", v->cause_arrive_ts);
			jadd(m, "cause_deliver_ts", v->cause_delivered ?
			     json_object_new_uint64(v->cause_deliver_ts) : NULL);
			cana_violation_str(s, v, line, sizeof(line));
			jstr(m, "text", line);
			json_object_array_add(a, m);
		}
		jadd(x, "listed", a);
		jadd(o, "check", x);
		return;
	}
	printf("Happens-before check (rebuilt from send and deliver events)\n");
	printf("  %s", cana_complete(c) ? "complete" : "INCOMPLETE:");
	if (c->lost)
		printf(" %llu events lost;", (unsigned long long)c->lost);
	if (c->no_send)
		printf(" %llu arrivals or deliveries without their send event;",
		       (unsigned long long)c->no_send);
	if (c->inconsistent)
		printf(" %llu duplicate or out-of-order events;",
		       (unsigned long long)c->inconsistent);
	printf("%s\n", cana_complete(c) ? "" :
	       " a cause may be missing, so violations can be missed");
	printf("  %llu deliveries checked, %llu violations, %llu gap deliveries "
	       "exempt, %llu causes given up after a gap\n",
	       (unsigned long long)c->checked, (unsigned long long)c->violations,
	       (unsigned long long)c->gap_exempt,
	       (unsigned long long)c->gap_excused);
	for (size_t i = 0; i < r->nviol; i++) {
		cana_violation_str(s, &r->viol[i], line, sizeof(line));
		printf("  %zu. %s\n", i + 1, line);
	}
	if (r->nviol < c->violations)
		printf("  (%llu more not listed)\n",
		       (unsigned long long)(c->violations - r->nviol));
	printf("\n");
}


/* A healthy group's one line: what was looked at, and that nothing stood
 * out.
 */
static void healthy_str(const struct cana_group *g, char *buf, size_t size)
{
	char p99[32];

	cana_fmt_ns(g->lat.held_p99, p99, sizeof(p99));
	snprintf(buf, size,
		 "group %u is healthy: %llu deliveries, %.1f%% held (p99 of holds "
		 "%s), health %u/100; no peer stands out, nothing failed, was "
		 "lost or broke causal order", g->group,
		 (unsigned long long)g->lat.count,
		 g->lat.count ? 100.0 * g->lat.held / g->lat.count : 0.0, p99,
		 g->health.score);
}

/* The findings, heaviest first, with since when and what to do next; then
 * a line for each healthy group. Into @report's "findings" and "healthy"
 * when given, else as text.
 */
static void render_findings(const struct clog_store *s,
			    const struct cana_result *r, size_t top,
			    struct json_object *report)
{
	struct json_object *list = NULL, *healthy = NULL;
	char since[96], line[512];

	if (report) {
		list = json_object_new_array();
		healthy = json_object_new_array();
	} else {
		printf("\nFindings\n");
	}
	for (size_t i = 0; i < r->nfindings && i < top; i++) {
		const struct cana_finding *f = &r->findings[i];

		if (f->since_host != CLOG_NONE)
			cana_time_str(s, f->since_host, f->since_ts,
				      f->since_wall_ns, since, sizeof(since));
		if (report) {
			struct json_object *x = json_object_new_object();

			jstr(x, "kind", cana_finding_name(f->kind));
			ju64(x, "group", f->group);
			ju64(x, "weight_ns", f->weight_ns);
			jstr(x, "text", f->text);
			jadd(x, "since", f->since_host == CLOG_NONE ? NULL :
			     json_object_new_string(since));
			if (f->since_wall_ns)
				ju64(x, "since_wall_ns", f->since_wall_ns);
			jstr(x, "advice", f->advice);
			json_object_array_add(list, x);
			continue;
		}
		printf("  %zu. %s\n", i + 1, f->text);
		if (f->since_host != CLOG_NONE)
			printf("     since %s\n", since);
		printf("     next: %s\n", f->advice);
	}
	if (!report && r->nfindings > top)
		printf("  (%zu more: --top N)\n", r->nfindings - top);
	for (size_t g = 0; g < r->ngroups; g++) {
		if (!cana_group_healthy(r, r->groups[g].group))
			continue;
		healthy_str(&r->groups[g], line, sizeof(line));
		if (report)
			json_object_array_add(healthy, json_object_new_string(line));
		else
			printf("  %s\n", line);
	}
	if (report) {
		jadd(report, "findings", list);
		jadd(report, "healthy", healthy);
	}
}

/* The chain of the longest hold in the top finding's group: what the
 * finding comes down to for one message, and the command that shows it.
 */
static void top_chain(const struct clog_store *s, const struct cana_result *r,
		      struct json_object *report)
{
	char cause[512], next[512], cmd[96];
	__u16 node, sender;
	struct cwhy_chain c = {};
	struct cana_index ix;
	__u64 stamp;
	__u32 group;

	if (!r->nfindings)
		return;
	group = r->findings[0].group;
	if (cana_index_build(&ix, s, true, group))
		return;
	if (cwhy_longest_hold(&ix, group, &node, &sender, &stamp) &&
	    !cwhy_explain(&ix, group, node, sender, stamp, &c)) {
		cwhy_root_text(s, &c, cause, sizeof(cause));
		cwhy_advice(s, &c, next, sizeof(next));
		snprintf(cmd, sizeof(cmd), "causalctl why %u %u %u:%llu", group,
			 node, sender, (unsigned long long)stamp);
		if (report) {
			struct json_object *o = json_object_new_object();

			ju64(o, "group", group);
			ju64(o, "node", node);
			ju64(o, "sender", sender);
			ju64(o, "stamp", stamp);
			jstr(o, "root", cwhy_root_name(c.root));
			jstr(o, "cause", cause);
			jstr(o, "next", next);
			jstr(o, "command", cmd);
			jadd(report, "longest_hold", o);
		} else {
			printf("\nThe longest hold of group %u (%s LOG...)\n  cause: %s\n  next: %s\n",
			       group, cmd, cause, next);
		}
	}
	cwhy_free(&c);
	cana_index_free(&ix);
}

int cmd_analyze(int argc, char **argv)
{
	struct json_object *report = NULL;
	struct cana_opts o = {};
	struct clog_store *s;
	struct cana_result *r;
	__u64 top = 5, v;
	int c, ret;

	while ((c = ctl_getopt(argc, argv)) != -1) {
		switch (c) {
		case 'g':
			if (!cu_parse_u64(optarg, UINT32_MAX, &v))
				return usage_error("bad group '%s'", optarg);
			o.has_group = true;
			o.group = v;
			break;
		case 'n':
			if (!cu_parse_u64(optarg, 1000000, &top))
				return usage_error("bad count '%s'", optarg);
			break;
		case 'b':
			if (!cu_parse_u64(optarg, 86400000, &v) || !v)
				return usage_error("bad bucket '%s'", optarg);
			o.bucket_ns = v * 1000000;
			break;
		}
	}
	s = load(argc, argv);
	if (!s)
		return EXIT_USAGE;
	if (!group_selected(s, o.has_group, o.group)) {
		clog_store_free(s);
		return EXIT_USAGE;
	}
	r = cana_analyze(s, &o);
	if (!r) {
		ctl_error("analysis failed: %s", strerror(errno));
		clog_store_free(s);
		return EXIT_USAGE;
	}
	/* causald's default mode logs the rare events only: holds without the
	 * deliveries say nothing of latency or order.
	 */
	if (r->by_type[CAUSAL_EV_HOLD] && !r->by_type[CAUSAL_EV_DELIVER] &&
	    !r->by_type[CAUSAL_EV_SEND])
		fputs("causalctl: these logs have no send or deliver events: causald logs them only with --audit\n",
		      stderr);
	if (ctl.json)
		report = json_object_new_object();
	render_summary(s, r, report);
	render_latency(s, r, report);
	render_held(s, r, report);
	render_blame(s, r, report);
	render_groups(r, report);
	render_anomalies(r, report);
	render_check(s, r, report);
	render_findings(s, r, top, report);
	top_chain(s, r, report);
	if (report) {
		puts(json_object_to_json_string_ext(report, ctl_json_flags()));
		json_object_put(report);
	}
	ret = r->check.violations ? EXIT_VIOLATIONS : 0;
	cana_free(r);
	clog_store_free(s);
	return ret;
}

/* ---------------------------------------------------------------------- */
/* export                                                                  */
/* ---------------------------------------------------------------------- */

static FILE *open_out(const char *path)
{
	return strcmp(path, "-") ? fopen(path, "w") : stdout;
}

static int close_out(FILE *f)
{
	if (f == stdout)
		return fflush(f) ? -errno : 0;
	return fclose(f) ? -errno : 0;
}

typedef int (*export_fn)(FILE *f, const struct clog_store *s,
			 const struct cexp_opts *o, struct cexp_info *info);

static int export_one(const char *kind, export_fn fn, const char *path,
		      const struct clog_store *s, const struct cexp_opts *o,
		      struct json_object *report)
{
	struct cexp_info info = {};
	FILE *f = open_out(path);
	int ret;

	if (!f) {
		ctl_error("%s: %s", path, strerror(errno));
		return EXIT_USAGE;
	}
	ret = fn(f, s, o, &info);
	if (!ret)
		ret = close_out(f);
	else if (f != stdout)
		fclose(f);
	if (ret == -ENOENT && o->has_around) {
		ctl_error("no message %u:%llu in group %u", o->around_sender,
			  (unsigned long long)o->around_stamp, info.group);
		return EXIT_USAGE;
	}
	if (ret == -EINVAL) {
		ctl_error("%s: %s", path, info.window);
		return EXIT_USAGE;
	}
	if (ret) {
		ctl_error("%s: %s", path, strerror(-ret));
		return EXIT_USAGE;
	}
	if (report) {
		struct json_object *x = json_object_new_object();

		jstr(x, "file", path);
		ju64(x, "events", info.events);
		if (fn != cexp_shiviz) {
			static const char *const reasons[] = {
				[CEXP_R_NONE] = "none",
				[CEXP_R_VIOLATION] = "violation",
				[CEXP_R_ANOMALY] = "anomaly",
				[CEXP_R_HOLD] = "longest_hold",
				[CEXP_R_START] = "start",
				[CEXP_R_AROUND] = "around",
				[CEXP_R_RANGE] = "range",
			};
			struct json_object *w = json_object_new_object();

			jadd(x, "group", info.has_group ?
			     json_object_new_uint64(info.group) : NULL);
			ju64(x, "messages", info.msgs);
			ju64(x, "drawn", info.shown);
			ju64(x, "max_events", info.max_events);
			ju64(x, "violations_drawn", info.violations);
			ju64(x, "lanes", info.lanes);
			jstr(w, "reason", reasons[info.reason]);
			jstr(w, "text", info.window);
			jadd(w, "from_ns", json_object_new_int64(info.from_ns));
			jadd(w, "to_ns", json_object_new_int64(info.to_ns));
			jadd(w, "run_ns", json_object_new_int64(info.run_ns));
			jadd(w, "wall_clock", json_object_new_boolean(info.wall));
			jadd(x, "window", w);
		}
		jadd(report, kind, x);
	} else {
		fprintf(stderr, "causalctl: %s: %s, %zu events", path, kind,
			info.events);
		if (info.has_group && fn != cexp_shiviz)
			fprintf(stderr, ", group %u, %zu of %zu messages drawn; "
				"window +%.6f s to +%.6f s of %.6f s: %s", info.group,
				info.shown, info.msgs, info.from_ns / 1e9,
				info.to_ns / 1e9, info.run_ns / 1e9, info.window);
		fprintf(stderr, "\n");
		if (info.capped)
			fprintf(stderr, "causalctl: --max is at most %d events\n",
				CEXP_CAP_EVENTS);
	}
	return 0;
}

int cmd_export(int argc, char **argv)
{
	const char *shiviz = NULL, *svg = NULL, *html = NULL;
	struct json_object *report = NULL;
	struct cexp_opts o = {};
	struct clog_store *s;
	int c, ret = 0;
	__u64 v, stamp;
	char *colon;

	while ((c = ctl_getopt(argc, argv)) != -1) {
		switch (c) {
		case 's':
			shiviz = optarg;
			break;
		case 'v':
			svg = optarg;
			break;
		case 'H':
			html = optarg;
			break;
		case 'g':
			if (!cu_parse_u64(optarg, UINT32_MAX, &v))
				return usage_error("bad group '%s'", optarg);
			o.has_group = true;
			o.group = v;
			break;
		case 'm':
			if (!cu_parse_u64(optarg, 100000, &v) || !v)
				return usage_error("bad count '%s'", optarg);
			o.max_events = v;
			break;
		case 'a':
			colon = strchr(optarg, ':');
			if (!colon)
				return usage_error("bad message '%s' (SENDER:STAMP)", optarg);
			*colon = 0;
			if (!cu_parse_u64(optarg, CAUSAL_EV_MAX_NODES - 1, &v) ||
			    !cu_parse_u64(colon + 1, UINT64_MAX, &stamp)) {
				*colon = ':';
				return usage_error("bad message '%s' (SENDER:STAMP)", optarg);
			}
			*colon = ':';
			o.has_around = true;
			o.around_sender = v;
			o.around_stamp = stamp;
			break;
		case 'f':
		case 't':
			if (cexp_parse_time(optarg, c == 'f' ? &o.from : &o.to))
				return usage_error("bad time '%s'", optarg);
			break;
		}
	}
	if (!shiviz && !svg && !html)
		return usage_error("one of --shiviz, --svg, --html is needed%s", "");
	s = load(argc, argv);
	if (!s)
		return EXIT_USAGE;
	if (!group_selected(s, o.has_group, o.group)) {
		clog_store_free(s);
		return EXIT_USAGE;
	}
	/* A JSON summary only when no export goes to standard output. */
	if (ctl.json && (!shiviz || strcmp(shiviz, "-")) &&
	    (!svg || strcmp(svg, "-")) && (!html || strcmp(html, "-")))
		report = json_object_new_object();
	if (shiviz)
		ret = export_one("shiviz", cexp_shiviz, shiviz, s, &o, report);
	if (!ret && svg)
		ret = export_one("svg", cexp_svg, svg, s, &o, report);
	if (!ret && html)
		ret = export_one("html", cexp_html, html, s, &o, report);
	if (!ret && report)
		puts(json_object_to_json_string_ext(report, ctl_json_flags()));
	json_object_put(report);
	clog_store_free(s);
	return ret;
}

/* ---------------------------------------------------------------------- */
/* why                                                                     */
/* ---------------------------------------------------------------------- */

/* One step of the chain, in words or as a JSON object. */
static void why_step(const struct clog_store *s, const struct cwhy_chain *c,
		     const struct cwhy_step *st, size_t i, struct json_object *a)
{
	char arr[64], sent[64], held[32], transit[32];

	cwhy_time_str(c, c->host, st->arrive_ts, arr, sizeof(arr));
	cwhy_time_str(c, st->send_host, st->send_ts, sent, sizeof(sent));
	cana_fmt_ns(st->held_ns, held, sizeof(held));
	cana_fmt_ns(st->transit_ns > 0 ? st->transit_ns : 0, transit,
		    sizeof(transit));
	if (a) {
		struct json_object *o = json_object_new_object();

		json_object_array_add(a, o);
		ju64(o, "sender", st->sender);
		ju64(o, "stamp", st->stamp);
		if (st->has_send) {
			jstr(o, "send_host", clog_str(s, st->send_host));
			ju64(o, "send_ts", st->send_ts);
		}
		jadd(o, "arrived", json_object_new_boolean(st->arrived));
		if (st->arrived)
			ju64(o, "arrive_ts", st->arrive_ts);
		jadd(o, "delivered", json_object_new_boolean(st->delivered));
		if (st->delivered) {
			ju64(o, "deliver_ts", st->deliver_ts);
			ju64(o, "held_ns", st->held_ns);
			jadd(o, "gap", json_object_new_boolean(st->gap));
		}
		if (st->has_transit)
			jadd(o, "transit_ns", json_object_new_int64(st->transit_ns));
		ju64(o, "retransmits", st->retransmits);
		if (st->waits || st->behind) {
			struct json_object *w = json_object_new_object();

			ju64(w, "sender", st->wait_node);
			ju64(w, "stamp", st->wait_stamp);
			jadd(w, "behind", json_object_new_boolean(st->behind));
			jadd(o, "waited_for", w);
		}
		return;
	}
	printf("  %zu. %u:%llu", i + 1, st->sender, (unsigned long long)st->stamp);
	if (st->has_send)
		printf("  sent %s by node %u (host %s)", sent, st->sender,
		       clog_str(s, st->send_host));
	if (st->arrived)
		printf("  arrived %s", arr);
	else
		printf("  never arrived");
	if (st->has_transit)
		printf(" (%s on the way)", transit);
	if (st->retransmits)
		printf(", %llu TCP retransmit%s", (unsigned long long)st->retransmits,
		       st->retransmits > 1 ? "s" : "");
	if (st->delivered && !st->held_ns)
		printf("; delivered at once");
	else if (st->delivered)
		printf("; delivered after %s held%s", held,
		       st->gap ? " (a gap)" : "");
	else if (st->arrived)
		printf("; still held at the end of the log");
	if (st->waits)
		printf("; waited for %u:%llu", st->wait_node,
		       (unsigned long long)st->wait_stamp);
	else if (st->behind)
		printf("; waited behind %u:%llu on its channel", st->wait_node,
		       (unsigned long long)st->wait_stamp);
	putchar('\n');
}

static void why_render(const struct clog_store *s, const struct cwhy_chain *c)
{
	const struct cwhy_step *first = &c->step[0];
	struct json_object *o = NULL, *a = NULL;
	char root[512], advice[512], held[32];

	cwhy_root_text(s, c, root, sizeof(root));
	cwhy_advice(s, c, advice, sizeof(advice));
	if (ctl.json) {
		o = json_object_new_object();
		a = json_object_new_array();
		ju64(o, "group", c->group);
		ju64(o, "node", c->node);
		jstr(o, "host", clog_str(s, c->host));
	} else {
		cana_fmt_ns(first->held_ns, held, sizeof(held));
		printf("node %u of group %u (host %s) ", c->node, c->group,
		       clog_str(s, c->host));
		if (first->delivered)
			printf("delivered %u:%llu after %s held\n", first->sender,
			       (unsigned long long)first->stamp, held);
		else
			printf("still holds %u:%llu at the end of the log\n",
			       first->sender, (unsigned long long)first->stamp);
	}
	for (size_t i = 0; i < c->n; i++)
		why_step(s, c, &c->step[i], i, a);
	if (ctl.json) {
		jadd(o, "chain", a);
		jstr(o, "root", cwhy_root_name(c->root));
		jstr(o, "cause", root);
		jstr(o, "next", advice);
		puts(json_object_to_json_string_ext(o, ctl_json_flags()));
		json_object_put(o);
	} else {
		printf("cause: %s\nnext: %s\n", root, advice);
	}
}

int cmd_why(int argc, char **argv)
{
	__u64 group, node, sender, stamp;
	struct cana_index ix;
	struct cwhy_chain c;
	struct clog_store *s;
	char *colon;
	int ret;

	while (ctl_getopt(argc, argv) != -1)
		;
	if (argc - optind < 4)
		return usage_error("GROUP, NODE, SENDER:STAMP and a LOG are needed%s", "");
	colon = strchr(argv[optind + 2], ':');
	if (!cu_parse_u64(argv[optind], UINT32_MAX, &group))
		return usage_error("bad group '%s'", argv[optind]);
	if (!cu_parse_u64(argv[optind + 1], CAUSAL_EV_MAX_NODES - 1, &node))
		return usage_error("bad node '%s'", argv[optind + 1]);
	if (!colon)
		return usage_error("'%s' is not SENDER:STAMP", argv[optind + 2]);
	*colon = 0;
	if (!cu_parse_u64(argv[optind + 2], CAUSAL_EV_MAX_NODES - 1, &sender) ||
	    !cu_parse_u64(colon + 1, UINT64_MAX, &stamp))
		return usage_error("bad SENDER:STAMP '%s'", argv[optind + 2]);
	optind += 3;
	s = load(argc, argv);
	if (!s)
		return EXIT_USAGE;
	ret = cana_index_build(&ix, s, true, group);
	if (ret) {
		ctl_error("%s", strerror(-ret));
		clog_store_free(s);
		return EXIT_USAGE;
	}
	ret = cwhy_explain(&ix, group, node, sender, stamp, &c);
	if (ret == -ENOENT)
		ctl_error("node %llu of group %llu has no message %llu:%llu in these logs",
			  (unsigned long long)node, (unsigned long long)group,
			  (unsigned long long)sender, (unsigned long long)stamp);
	else if (ret)
		ctl_error("%s", strerror(-ret));
	else
		why_render(s, &c);
	cwhy_free(&c);
	cana_index_free(&ix);
	clog_store_free(s);
	return ret ? EXIT_USAGE : 0;
}
