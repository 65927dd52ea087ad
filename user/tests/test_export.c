// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of the exports (user/lib/causal_export.c). The ShiViz log is
 * parsed back and checked against ShiViz's rules: the regex and delimiter
 * lines, a host line per event, each host's own entry starting at 1 and
 * growing by exactly 1, every delivery's clock dominating its send's. A
 * corrupted copy must fail the same check. The SVG and HTML are checked
 * with a small XML well-formedness scanner and by counting their elements.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "causal_export.h"
#include "kselftest_harness.h"
#include "test_rnd.h"
#include "test_scene.h"

/* ---------------------------------------------------------------------- */
/* Scenes (test_scene.h)                                                   */
/* ---------------------------------------------------------------------- */

/* An event of a message's life; a hold waits on a node other than the two. */
static void sc_msg(struct scene *sc, __u32 type, __u16 node, __u64 ts,
		   __u16 peer, __u64 stamp, __u64 held_ns)
{
	struct causal_event ev;

	sc_ev(sc, &ev, type, node, ts, peer,
	      type == CAUSAL_EV_SEND ? node : peer, stamp);
	ev.held_ns = held_ns;
	if (type == CAUSAL_EV_HOLD) {
		ev.wait_node = (peer + 1) % sc->nodes == node ?
			       (peer + 2) % sc->nodes : (peer + 1) % sc->nodes;
		ev.wait_stamp = 1;
	}
	sc_add(sc, sc->host[node], &ev);
}

/*
 * @msgs random messages among @nodes nodes, in one global order: a node
 * sends, or delivers a message sent earlier that it has not delivered yet
 * (arrive, sometimes hold, deliver). Some messages stay undelivered.
 */
static void random_scene(struct scene *sc, __u32 group, __u16 nodes, int msgs,
			 int *held, int *stuck)
{
	struct { __u16 from; __u64 stamp; __u64 pending; } m[256];
	__u64 stamp[8] = {}, ts[8];
	int n = 0;

	sc_init(sc, group, nodes);
	for (int i = 0; i < nodes; i++)
		ts[i] = (i + 1) * 1000000000ULL;
	*held = *stuck = 0;
	while (n < msgs || rnd() % 500) {
		int i = rnd() % nodes, k;
		__u64 any = 0;

		for (k = 0; k < n; k++)
			any |= m[k].pending;
		if (n == msgs && !any)
			break;

		if (n < msgs && rnd() % 3 == 0) {
			m[n].from = i;
			m[n].stamp = ++stamp[i];
			m[n].pending = ((1ULL << nodes) - 1) & ~(1ULL << i);
			sc_msg(sc, CAUSAL_EV_SEND, i, ts[i] += 10, CAUSAL_EV_NO_PEER,
			      m[n].stamp, 0);
			n++;
			continue;
		}
		for (k = 0; k < n; k++)
			if (m[k].pending & (1ULL << i))
				break;
		if (k == n || (n < msgs && rnd() % 2))
			continue;
		k += rnd() % (n - k);
		if (!(m[k].pending & (1ULL << i)))
			continue;
		m[k].pending &= ~(1ULL << i);
		sc_msg(sc, CAUSAL_EV_ARRIVE, i, ts[i] += 10, m[k].from, m[k].stamp, 0);
		if (rnd() % 4 == 0) {
			sc_msg(sc, CAUSAL_EV_HOLD, i, ts[i] += 1, m[k].from,
			      m[k].stamp, 0);
			sc_msg(sc, CAUSAL_EV_DELIVER, i, ts[i] += 500, m[k].from,
			      m[k].stamp, 501);
			(*held)++;
		} else if (n == msgs && rnd() % 10 == 0) {
			(*stuck)++;	/* arrived, never delivered */
		} else {
			sc_msg(sc, CAUSAL_EV_DELIVER, i, ts[i] += 1, m[k].from,
			      m[k].stamp, 0);
		}
	}
}

/* ---------------------------------------------------------------------- */
/* The diagram's window, lanes, wait lines and violations                  */
/* ---------------------------------------------------------------------- */

#define T_BASE		1000000000ULL
#define T_MS		1000000ULL
#define T_NET		200000ULL	/* a message's time on the way */
#define T_SLOW		(20 * T_MS)	/* and on the slow link */

static __u64 t_step = T_MS;	/* between two messages */

/*
 * Traffic among @nodes nodes on one clock: message k is a broadcast by
 * node k % nodes at k * t_step (1 ms); each arrives 200 us later, except node 0's to
 * node 2 while k is in [@slow0, @slow1), 20 ms later. A message sent after
 * node 0's slow one (which its sender delivered) is held at node 2 until
 * that one has come. @swap >= 0: node 2 delivers message @swap + 1 (node
 * 1's) before message @swap (node 0's, which it depends on): a violation.
 */
static void traffic(struct scene *sc, __u16 nodes, int msgs, int slow0,
		    int slow1, int swap)
{
	static __u64 st[2048], arr2[2048];	/* node 0's at node 2 */
	__u64 stamp[SCENE_NODES] = {}, last02 = 0;

	sc_init(sc, 7, nodes);
	for (int k = 0; k < msgs && k < 1990; k++) {
		__u16 s = k % nodes;
		__u64 t = T_BASE + k * t_step;

		st[k] = ++stamp[s];
		sc_send(sc, s, t, st[k], -1);
		for (__u16 j = 0; j < nodes; j++) {
			__u64 arr = t + T_NET, need = 0, wait = 0;

			if (j == s)
				continue;
			if (s == 0 && j == 2) {
				if (k >= slow0 && k < slow1)
					arr += T_SLOW;
				if (arr <= last02)	/* FIFO */
					arr = last02 + 2000;
				arr2[k] = last02 = arr;
			}
			sc_arrive(sc, j, arr, s, st[k]);
			if (j == 2 && s == 0 && k == swap) {
				/* Delivered after the next message, which
				 * depends on it: a violation.
				 */
				sc_deliver(sc, j, arr + T_MS + 2, s, st[k], T_MS + 2,
					   false);
				continue;
			}
			/* At node 2, what node 0 sent before it and has not
			 * come yet holds it back.
			 */
			for (int i = 0; j == 2 && s != 0 && i < k; i += nodes) {
				if (arr2[i] > arr && arr2[i] > need) {
					if (!need)
						wait = st[i];
					need = arr2[i];
				}
			}
			if (need) {
				sc_hold(sc, j, arr + 1, s, st[k], 0, wait);
				sc_deliver(sc, j, need + k, s, st[k], need + k - arr,
					   false);
			} else {
				sc_deliver(sc, j, arr + 1, s, st[k], 0, false);
			}
		}
	}
}

/* Export into a string. */
static char *run(int (*fn)(FILE *, const struct clog_store *,
			   const struct cexp_opts *, struct cexp_info *),
		 const struct clog_store *s, const struct cexp_opts *o,
		 struct cexp_info *info)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	if (fn(f, s, o, info)) {
		fclose(f);
		free(buf);
		return NULL;
	}
	fclose(f);
	return buf;
}

/* ---------------------------------------------------------------------- */
/* ShiViz's rules, checked on the text                                     */
/* ---------------------------------------------------------------------- */

#define MAX_HOSTS	64
#define MAX_SENDS	4096

struct sv_check {
	char host[MAX_HOSTS][32];
	__u64 own[MAX_HOSTS];
	int nhosts;
	char send[MAX_SENDS][64];	/* "g<group>/n<sender>:<stamp>" */
	struct json_object *send_clock[MAX_SENDS];
	int nsends;
	int events, delivers;
	char why[256];
};

static int sv_find(const struct sv_check *c, const char *h)
{
	for (int i = 0; i < c->nhosts; i++)
		if (!strcmp(c->host[i], h))
			return i;
	return -1;
}

static int sv_host(struct sv_check *c, const char *h)
{
	int i = sv_find(c, h);

	if (i >= 0)
		return i;
	if (c->nhosts == MAX_HOSTS)
		return -1;
	snprintf(c->host[c->nhosts], sizeof(c->host[0]), "%s", h);
	return c->nhosts++;
}

/* "send n1:4 ..." -> "g<group>/n1:4". */
static bool sv_msg(const char *event, const char *verb, const char *host,
		   char *key, size_t size)
{
	char name[32];
	const char *slash = strchr(host, '/');

	if (strncmp(event, verb, strlen(verb)) ||
	    sscanf(event + strlen(verb), "%31[^ ,]", name) != 1 || !slash)
		return false;
	snprintf(key, size, "%.*s/%s", (int)(slash - host), host, name);
	return true;
}

static bool sv_fail(struct sv_check *c, int line, const char *why)
{
	snprintf(c->why, sizeof(c->why), "line %d: %s", line, why);
	return false;
}

static bool shiviz_ok(char *text, struct sv_check *c)
{
	char *save = NULL, *ev, *hl;
	int line = 3;

	memset(c, 0, sizeof(*c));
	ev = strtok_r(text, "\n", &save);
	if (!ev || strcmp(ev, CEXP_SHIVIZ_REGEX))
		return sv_fail(c, 1, "not the parser regex");
	/* strtok_r skips the empty delimiter line: check it by hand. */
	if (strncmp(save, "\n", 1))
		return sv_fail(c, 2, "no empty delimiter line");
	for (;;) {
		struct json_object *clock;
		char key[64], *sp;
		int h;

		ev = strtok_r(NULL, "\n", &save);
		if (!ev)
			break;
		hl = strtok_r(NULL, "\n", &save);
		if (!hl)
			return sv_fail(c, line, "event without a host line");
		sp = strchr(hl, ' ');
		if (!sp || sp == hl || sp[1] != '{' || hl[strlen(hl) - 1] != '}')
			return sv_fail(c, line + 1, "host line does not match");
		*sp = 0;
		clock = json_tokener_parse(sp + 1);
		if (!clock || !json_object_is_type(clock, json_type_object))
			return sv_fail(c, line + 1, "clock is not a JSON object");
		h = sv_host(c, hl);
		if (h < 0)
			return sv_fail(c, line, "too many hosts");
		/* The host's own entry: 1, 2, 3, ... */
		{
			struct json_object *own;

			if (!json_object_object_get_ex(clock, hl, &own) ||
			    json_object_get_int64(own) != (int64_t)++c->own[h]) {
				json_object_put(clock);
				return sv_fail(c, line + 1, "own entry not previous + 1");
			}
		}
		json_object_object_foreach(clock, k, v) {
			if (!json_object_is_type(v, json_type_int) ||
			    json_object_get_int64(v) < 1) {
				json_object_put(clock);
				return sv_fail(c, line + 1, "bad clock entry");
			}
			(void)k;
		}
		if (sv_msg(ev, "send ", hl, key, sizeof(key))) {
			if (c->nsends == MAX_SENDS)
				return sv_fail(c, line, "too many sends");
			snprintf(c->send[c->nsends], sizeof(c->send[0]), "%s", key);
			c->send_clock[c->nsends++] = json_object_get(clock);
		} else if (sv_msg(ev, "deliver ", hl, key, sizeof(key))) {
			struct json_object *sc = NULL;

			for (int i = 0; i < c->nsends && !sc; i++)
				if (!strcmp(c->send[i], key))
					sc = c->send_clock[i];
			if (!sc) {
				json_object_put(clock);
				return sv_fail(c, line, "delivery before its send");
			}
			json_object_object_foreach(sc, sk, sv) {
				struct json_object *d;

				if (!json_object_object_get_ex(clock, sk, &d) ||
				    json_object_get_int64(d) < json_object_get_int64(sv)) {
					json_object_put(clock);
					return sv_fail(c, line + 1,
						       "receive does not dominate its send");
				}
			}
			c->delivers++;
		}
		json_object_put(clock);
		c->events++;
		line += 2;
	}
	/* Every host named in a clock has events of its own. */
	for (int i = 0; i < c->nsends; i++) {
		json_object_object_foreach(c->send_clock[i], k, v) {
			(void)v;
			if (sv_find(c, k) < 0)
				return sv_fail(c, 0, "a clock names a host without events");
		}
	}
	return true;
}

static void sv_free(struct sv_check *c)
{
	for (int i = 0; i < c->nsends; i++)
		json_object_put(c->send_clock[i]);
	c->nsends = 0;
}

TEST(shiviz_rules_random)
{
	struct cexp_opts o = {};
	static struct sv_check c;

	for (int seed = 1; seed <= 40; seed++) {
		struct cexp_info info;
		struct scene sc;
		int held, stuck;
		char *txt;

		xs_state = 0x9e3779b97f4a7c15ULL * seed;
		random_scene(&sc, 5 + seed % 2, 3 + seed % 4, 30, &held, &stuck);
		txt = run(cexp_shiviz, sc.s, &o, &info);
		ASSERT_NE(NULL, txt);
		ASSERT_TRUE(shiviz_ok(txt, &c)) {
			TH_LOG("seed %d: %s", seed, c.why);
		}
		EXPECT_EQ(sc.s->nev, c.events);
		EXPECT_EQ(sc.s->nev, info.events);
		EXPECT_EQ(30, c.nsends);
		EXPECT_EQ(sc.nodes, c.nhosts);
		EXPECT_GT(c.delivers, 0);
		sv_free(&c);
		free(txt);
		clog_store_free(sc.s);
	}
}

/* The check fails on a clock that skips a step, and on a delivery whose
 * clock lost its send's entry.
 */
TEST(shiviz_rules_catch_corruption)
{
	struct cexp_opts o = {};
	static struct sv_check c;
	struct cexp_info info;
	char *txt, *p, *copy, *hl, *q, name[16], host[32];
	struct scene sc;
	int held, stuck;

	xs_state = 7;
	random_scene(&sc, 5, 3, 20, &held, &stuck);
	txt = run(cexp_shiviz, sc.s, &o, &info);
	ASSERT_NE(NULL, txt);
	copy = strdup(txt);
	ASSERT_TRUE(shiviz_ok(copy, &c));
	sv_free(&c);
	free(copy);

	/* First host line: its own entry 1 becomes 2. */
	copy = strdup(txt);
	p = strstr(copy, ":1}");
	ASSERT_NE(NULL, p);
	p[1] = '2';
	EXPECT_FALSE(shiviz_ok(copy, &c));
	TH_LOG("corrupted: %s", c.why);
	sv_free(&c);
	free(copy);

	/* A delivery's clock without the sender's entry. */
	copy = strdup(txt);
	p = strstr(copy, "\ndeliver n");
	ASSERT_NE(NULL, p);
	hl = strchr(p + 1, '\n') + 1;
	ASSERT_EQ(1, sscanf(p + 9, "n%15[0-9]", name));
	snprintf(host, sizeof(host), "\"g5/n%s\":", name);
	q = strstr(hl, host);
	ASSERT_NE(NULL, q);
	ASSERT_LT(q, strchr(hl, '\n'));
	q[2] = 'x';	/* "gx/n0": another host */
	EXPECT_FALSE(shiviz_ok(copy, &c));
	TH_LOG("corrupted: %s", c.why);
	sv_free(&c);
	free(copy);
	free(txt);
	clog_store_free(sc.s);
}

/* A hand-written scene, line by line. */
TEST(shiviz_exact)
{
	static const char want[] =
		CEXP_SHIVIZ_REGEX "\n\n"
		"send n0:1 to all, 0 B (ts 100)\ng7/n0 {\"g7/n0\":1}\n"
		"arrive n1:1, 0 B (ts 400)\ng7/n0 {\"g7/n0\":2}\n"
		/* n0 waits for n1:1's send: n1's events come first */
		"arrive n0:1, 0 B (ts 200)\ng7/n1 {\"g7/n1\":1}\n"
		"deliver n0:1 as #0 after 0 ns held (ts 201)\n"
		"g7/n1 {\"g7/n0\":1,\"g7/n1\":2}\n"
		"send n1:1 to n0, 0 B (ts 300)\ng7/n1 {\"g7/n0\":1,\"g7/n1\":3}\n"
		"deliver n1:1 as #0 after 5.0 us held (ts 401)\n"
		"g7/n0 {\"g7/n0\":3,\"g7/n1\":3}\n";
	struct cexp_opts o = { .has_group = true, .group = 7 };
	struct cexp_info info;
	struct scene sc;
	char *txt;

	sc_init(&sc, 7, 2);
	sc_msg(&sc, CAUSAL_EV_DELIVER, 0, 401, 1, 1, 5000);
	sc_msg(&sc, CAUSAL_EV_SEND, 0, 100, CAUSAL_EV_NO_PEER, 1, 0);
	sc_msg(&sc, CAUSAL_EV_ARRIVE, 1, 200, 0, 1, 0);
	sc_msg(&sc, CAUSAL_EV_DELIVER, 1, 201, 0, 1, 0);
	sc_msg(&sc, CAUSAL_EV_SEND, 1, 300, 0, 1, 0);
	sc_msg(&sc, CAUSAL_EV_ARRIVE, 0, 400, 1, 1, 0);
	/* Another group: not exported. */
	sc.group = 8;
	sc_msg(&sc, CAUSAL_EV_SEND, 1, 300, 0, 1, 0);
	txt = run(cexp_shiviz, sc.s, &o, &info);
	ASSERT_NE(NULL, txt);
	EXPECT_STREQ(want, txt);
	EXPECT_EQ(6, info.events);
	free(txt);
	clog_store_free(sc.s);
}

/* ---------------------------------------------------------------------- */
/* SVG and HTML                                                            */
/* ---------------------------------------------------------------------- */

static bool name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '_' || c == ':';
}

static const char *entity(const char *p)
{
	static const char * const ok[] = { "&lt;", "&gt;", "&amp;", "&quot;",
					   "&apos;" };

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (!strncmp(p, ok[i], strlen(ok[i])))
			return p + strlen(ok[i]);
	return NULL;
}

/* Well-formed XML: balanced tags, quoted attributes, known entities, no
 * stray '<' or '&', one root element.
 */
static const char *xml_check(const char *p)
{
	char stack[32][32];
	int sp = 0, roots = 0;

	while (*p) {
		if (*p == '&') {
			p = entity(p);
			if (!p)
				return "bad entity in text";
			continue;
		}
		if (*p != '<') {
			p++;
			continue;
		}
		if (!strncmp(p, "<?", 2)) {
			p = strstr(p, "?>");
			if (!p)
				return "unterminated <?";
			p += 2;
		} else if (p[1] == '/') {
			size_t n = 0;

			p += 2;
			while (name_char(p[n]))
				n++;
			if (!sp || strlen(stack[sp - 1]) != n ||
			    strncmp(stack[sp - 1], p, n) || p[n] != '>')
				return "mismatched end tag";
			sp--;
			p += n + 1;
		} else {
			size_t n = 0;

			p++;
			while (name_char(p[n]))
				n++;
			if (!n || n >= sizeof(stack[0]))
				return "bad element name";
			if (!sp)
				roots++;
			if (sp == 32)
				return "too deep";
			memcpy(stack[sp], p, n);
			stack[sp][n] = 0;
			p += n;
			for (;;) {
				while (*p == ' ' || *p == '\n')
					p++;
				if (!strncmp(p, "/>", 2)) {
					p += 2;
					break;
				}
				if (*p == '>') {
					p++;
					sp++;
					break;
				}
				n = 0;
				while (name_char(p[n]))
					n++;
				if (!n || p[n] != '=' || p[n + 1] != '"')
					return "bad attribute";
				p += n + 2;
				while (*p != '"') {
					if (!*p || *p == '<')
						return "bad attribute value";
					if (*p == '&') {
						p = entity(p);
						if (!p)
							return "bad entity in attribute";
					} else {
						p++;
					}
				}
				p++;
			}
		}
	}
	if (sp)
		return "unclosed element";
	return roots == 1 ? NULL : "not exactly one root element";
}

static int count(const char *s, const char *what)
{
	int n = 0;

	while ((s = strstr(s, what))) {
		n++;
		s += strlen(what);
	}
	return n;
}

/* The drawing after the legend. */
static const char *diagram(const char *svg)
{
	const char *g = strstr(svg, "<g class=\"legend\">");

	return g ? strstr(g, "</g>") : svg;
}

TEST(xml_checker_catches)
{
	EXPECT_EQ(NULL, xml_check("<a x=\"1\"><b/>t &amp; t</a>"));
	EXPECT_NE(NULL, xml_check("<a><b></a></b>"));
	EXPECT_NE(NULL, xml_check("<a x=1/>"));
	EXPECT_NE(NULL, xml_check("<a>x & y</a>"));
	EXPECT_NE(NULL, xml_check("<a>x</a><b/>"));
	EXPECT_NE(NULL, xml_check("<a x=\"<\"/>"));
	EXPECT_NE(NULL, xml_check("<a>"));
}

TEST(svg_random)
{
	struct cexp_opts o = { .max_events = CEXP_CAP_EVENTS };

	for (int seed = 1; seed <= 30; seed++) {
		struct cexp_info info;
		struct scene sc;
		int held, stuck;
		const char *why;
		char *svg;

		xs_state = 0x2545f4914f6cdd1dULL * seed;
		random_scene(&sc, 3, 2 + seed % 5, 40, &held, &stuck);
		svg = run(cexp_svg, sc.s, &o, &info);
		ASSERT_NE(NULL, svg);
		why = xml_check(svg);
		ASSERT_EQ(NULL, why) {
			TH_LOG("seed %d: %s", seed, why);
		}
		EXPECT_TRUE(info.has_group);
		EXPECT_EQ(3, info.group);
		EXPECT_EQ(40, info.msgs);
		EXPECT_EQ(40, info.shown);
		/* One line per node; one bar per hold; the stuck ones dashed
		 * (after the legend, which has one of each).
		 */
		EXPECT_EQ(sc.nodes, count(svg, "<line class=\"node\""));
		EXPECT_EQ(held, count(diagram(svg), "<line class=\"hold\""));
		EXPECT_EQ(stuck, count(diagram(svg), "<line class=\"stuck\""));
		EXPECT_EQ(40, count(diagram(svg), "<circle class=\"send\""));
		EXPECT_EQ(0, count(svg, "messages drawn, at most"));
		free(svg);
		clog_store_free(sc.s);
	}
}

TEST(svg_cap_and_escaping)
{
	struct cexp_opts o = { .max_events = 12 };
	struct cexp_info info;
	struct scene sc;
	int held, stuck;
	char *svg;

	xs_state = 99;
	random_scene(&sc, 3, 4, 40, &held, &stuck);
	snprintf(sc.host[0], sizeof(sc.host[0]), "<evil & \"host\">");
	sc_msg(&sc, CAUSAL_EV_SEND, 0, 1, CAUSAL_EV_NO_PEER, 999, 0);
	svg = run(cexp_svg, sc.s, &o, &info);
	ASSERT_NE(NULL, svg);
	EXPECT_EQ(NULL, xml_check(svg));
	EXPECT_LE(info.events, 12);
	EXPECT_GE(info.events, 6);
	EXPECT_EQ(41, info.msgs);
	EXPECT_EQ(info.shown, count(diagram(svg), "<circle class=\"send\""));
	EXPECT_EQ(1, count(svg, "of the group's 41 messages drawn, at most 12 events"));
	EXPECT_EQ(0, count(svg, "<evil"));
	free(svg);
	clog_store_free(sc.s);
}

TEST(svg_picks_busiest_group)
{
	struct cexp_opts o = {};
	struct cexp_info info;
	struct scene sc;
	char *svg;

	sc_init(&sc, 4, 2);
	sc_msg(&sc, CAUSAL_EV_SEND, 0, 1, CAUSAL_EV_NO_PEER, 1, 0);
	sc.group = 9;
	sc_msg(&sc, CAUSAL_EV_SEND, 0, 1, CAUSAL_EV_NO_PEER, 1, 0);
	sc_msg(&sc, CAUSAL_EV_SEND, 1, 1, CAUSAL_EV_NO_PEER, 1, 0);
	svg = run(cexp_svg, sc.s, &o, &info);
	ASSERT_NE(NULL, svg);
	EXPECT_EQ(9, info.group);
	EXPECT_EQ(2, info.msgs);
	EXPECT_EQ(NULL, xml_check(svg));
	free(svg);
	o.has_group = true;
	o.group = 4;
	svg = run(cexp_svg, sc.s, &o, &info);
	ASSERT_NE(NULL, svg);
	EXPECT_EQ(4, info.group);
	EXPECT_EQ(1, info.msgs);
	EXPECT_EQ(1, count(svg, "<line class=\"node\""));
	free(svg);
	clog_store_free(sc.s);

	/* Nothing at all: still a picture, saying so. */
	sc_init(&sc, 4, 2);
	o.has_group = false;
	svg = run(cexp_svg, sc.s, &o, &info);
	ASSERT_NE(NULL, svg);
	EXPECT_EQ(NULL, xml_check(svg));
	EXPECT_FALSE(info.has_group);
	EXPECT_EQ(1, count(svg, "no causal events"));
	free(svg);
	clog_store_free(sc.s);
}

TEST(html_page)
{
	struct cexp_opts o = {};
	struct cexp_info info;
	struct scene sc;
	int held, stuck;
	char *html, *svg, *end;

	xs_state = 5;
	random_scene(&sc, 3, 3, 20, &held, &stuck);
	html = run(cexp_html, sc.s, &o, &info);
	ASSERT_NE(NULL, html);
	EXPECT_EQ(0, strncmp(html, "<!DOCTYPE html>", 15));
	EXPECT_EQ(1, count(html, "<svg xmlns"));
	EXPECT_EQ(1, count(html, "<svg class=\"overview\""));
	EXPECT_EQ(1, count(html, "</html>"));
	EXPECT_EQ(1, count(html, "Red bar"));
	EXPECT_EQ(1, count(html, "one time line for every host"));
	svg = strstr(html, "<svg xmlns");
	end = svg ? strstr(svg, "</svg>") : NULL;
	ASSERT_NE(NULL, svg);
	ASSERT_NE(NULL, end);
	end[6] = 0;
	EXPECT_EQ(NULL, xml_check(svg));
	EXPECT_EQ(3, count(svg, "<line class=\"node\""));
	free(html);
	clog_store_free(sc.s);
}

/* The n-th number after @key in @s, or -1. */
static double attr(const char *s, const char *key)
{
	const char *p = strstr(s, key);

	return p ? atof(p + strlen(key)) : -1;
}

TEST(window_around_the_slow_incident)
{
	struct cexp_opts o = {};
	struct cexp_info info;
	struct scene sc;
	char *svg;

	/* Node 0's messages 200..239 ms take 20 ms more to node 2. */
	traffic(&sc, 4, 500, 200, 240, -1);
	svg = run(cexp_svg, sc.s, &o, &info);
	ASSERT_NE(NULL, svg);
	EXPECT_EQ(NULL, xml_check(svg));
	EXPECT_TRUE(info.reason == CEXP_R_HOLD || info.reason == CEXP_R_ANOMALY) {
		TH_LOG("reason %d: %s", info.reason, info.window);
	}
	EXPECT_LE(info.events, CEXP_MAX_EVENTS);
	EXPECT_GE(info.events, CEXP_MAX_EVENTS - 10);
	/* The window is in the incident: 200 ms to 260 ms of the run. */
	EXPECT_GE(info.from_ns, 195 * T_MS) {
		TH_LOG("window %lld..%lld ns: %s", (long long)info.from_ns,
		       (long long)info.to_ns, info.window);
	}
	EXPECT_LE(info.to_ns, 265 * T_MS);
	EXPECT_NE(NULL, strstr(info.window, "node 2 held"));
	EXPECT_NE(NULL, strstr(svg, "window: around the"));
	EXPECT_FALSE(info.wall);
	EXPECT_EQ(499 * T_MS + T_NET + 1, info.run_ns);
	EXPECT_GE(count(diagram(svg), "<line class=\"hold\""), 3);
	free(svg);
	clog_store_free(sc.s);
}

TEST(one_time_line_without_meta_lines)
{
	struct cexp_opts o = {};
	struct cexp_info info;
	struct scene sc;
	int arrows = 0, up = 0;
	const char *p;
	char *svg;

	/* Node 2's host booted 5 s earlier: its clock is 5 s ahead. */
	traffic(&sc, 4, 500, 200, 240, -1);
	for (size_t i = 0; i < sc.s->nev; i++)
		if (!strcmp(clog_str(sc.s, sc.s->ev[i].host), "c"))
			sc.s->ev[i].ts += 5 * T_BASE;
	svg = run(cexp_svg, sc.s, &o, &info);
	ASSERT_NE(NULL, svg);
	EXPECT_NE(NULL, strstr(svg, "aligned on the messages between them"));
	EXPECT_GE(info.from_ns, 195 * T_MS) {
		TH_LOG("window %lld..%lld ns: %s", (long long)info.from_ns,
		       (long long)info.to_ns, info.window);
	}
	EXPECT_LE(info.to_ns, 265 * T_MS);
	/* Every message goes down the page, from its send to its arrival. */
	for (p = diagram(svg); (p = strstr(p, "<line class=\"msg\"")); p++) {
		arrows++;
		up += attr(p, " y2=\"") < attr(p, " y1=\"");
	}
	EXPECT_GE(arrows, 30);
	EXPECT_EQ(0, up);
	free(svg);
	clog_store_free(sc.s);
}

/* A meta line for @host: its monotonic clock read @started at @realtime. */
static void add_meta(struct scene *sc, const char *host, __u64 started,
		     __u64 realtime)
{
	static struct clog_line l;

	clog_store_begin(sc->s, host);
	memset(&l, 0, sizeof(l));
	l.kind = CLOG_META;
	snprintf(l.host, sizeof(l.host), "%s", host);
	l.meta.started_ts = started;
	l.meta.realtime_ns = realtime;
	clog_store_add(sc->s, &l);
}

TEST(wall_clock_from_meta_lines)
{
	const __u64 wall = 1796292000ULL * T_BASE;	/* 2026-12-03 10:00:00 */
	struct cexp_opts o = {};
	struct cexp_info info;
	struct scene sc;
	char *svg;

	/* Host c's clock is 5 s ahead; the meta lines say so. */
	traffic(&sc, 4, 500, 200, 240, -1);
	for (size_t i = 0; i < sc.s->nev; i++)
		if (!strcmp(clog_str(sc.s, sc.s->ev[i].host), "c"))
			sc.s->ev[i].ts += 5 * T_BASE;
	add_meta(&sc, "a", 0, wall);
	add_meta(&sc, "b", 0, wall);
	add_meta(&sc, "c", 5 * T_BASE, wall);
	add_meta(&sc, "d", 0, wall);
	ASSERT_EQ(0, cexp_parse_time("2026-12-03 10:00:01.1", &o.from));
	ASSERT_EQ(0, cexp_parse_time("10:00:01.110", &o.to));
	svg = run(cexp_svg, sc.s, &o, &info);
	ASSERT_NE(NULL, svg);
	EXPECT_TRUE(info.wall);
	EXPECT_NE(NULL, strstr(svg, "wall clock from the logs' meta lines"));
	EXPECT_NE(NULL, strstr(svg, "2026-12-03 10:00:01.000000 UTC"));
	EXPECT_EQ(11, info.shown);
	EXPECT_EQ(100 * T_MS, info.from_ns);
	free(svg);
	clog_store_free(sc.s);
}

TEST(window_around_an_anomaly)
{
	struct cexp_opts o = {};
	struct cexp_info info;
	struct scene sc;
	char *svg;

	/* 19 s, a message every 10 ms; node 0's to node 2 are slow from
	 * 12 s to 14 s, each holding the next message there for 10 ms: the
	 * anomaly detector's 1 s buckets see it.
	 */
	t_step = 10 * T_MS;
	traffic(&sc, 4, 1900, 1200, 1400, -1);
	t_step = T_MS;
	svg = run(cexp_svg, sc.s, &o, &info);
	ASSERT_NE(NULL, svg);
	EXPECT_EQ(CEXP_R_ANOMALY, info.reason) {
		TH_LOG("%s", info.window);
	}
	EXPECT_NE(NULL, strstr(info.window, "anomaly on node 0"));
	EXPECT_GE(info.from_ns, 11900 * T_MS);
	EXPECT_LE(info.to_ns, 14300 * T_MS);
	free(svg);
	clog_store_free(sc.s);
}

TEST(window_around_a_violation)
{
	struct cexp_opts o = {};
	struct cexp_info info;
	struct scene sc;
	const char *v;
	char *svg, key[96];

	/* Slow holds early, the violation at 300 ms: it comes first. */
	traffic(&sc, 4, 500, 40, 80, 300);
	svg = run(cexp_svg, sc.s, &o, &info);
	ASSERT_NE(NULL, svg);
	EXPECT_EQ(NULL, xml_check(svg));
	EXPECT_EQ(CEXP_R_VIOLATION, info.reason) {
		TH_LOG("%s", info.window);
	}
	EXPECT_LE(info.from_ns, 300 * T_MS);
	EXPECT_GE(info.to_ns, 301 * T_MS);
	EXPECT_GE(info.from_ns, 280 * T_MS);
	EXPECT_EQ(1, info.violations);
	/* A ring, its label, a dotted line to the cause's delivery. */
	EXPECT_EQ(1, count(diagram(svg), "<circle class=\"viol\""));
	EXPECT_EQ(1, count(svg, "violation: n1:76 delivered before its cause n0:76"));
	EXPECT_EQ(1, count(svg, "<line class=\"vline\""));
	v = strstr(diagram(svg), "<circle class=\"viol\"");
	ASSERT_NE(NULL, v);
	/* The ring is on the early delivery's dot. */
	snprintf(key, sizeof(key), "<circle class=\"dlv\" cx=\"%.1f\" cy=\"%.1f\"",
		 attr(v, "cx=\""), attr(v, "cy=\""));
	EXPECT_EQ(1, count(svg, key));
	free(svg);
	clog_store_free(sc.s);
}

struct bar {
	double x, y1, y2;
};

TEST(holds_in_lanes_do_not_overlap)
{
	struct cexp_opts o = { .max_events = 400 };
	struct cexp_info info;
	static struct bar b[512];
	struct scene sc;
	const char *p;
	int n = 0, late = 0, overlaps = 0;
	char *svg;

	traffic(&sc, 4, 500, 200, 240, -1);
	svg = run(cexp_svg, sc.s, &o, &info);
	ASSERT_NE(NULL, svg);
	for (p = diagram(svg); (p = strstr(p, "<line class=\"hold\"")) && n < 512;
	     p++, n++) {
		b[n].x = attr(p, " x1=\"");
		b[n].y1 = attr(p, " y1=\"");
		b[n].y2 = attr(p, " y2=\"");
		EXPECT_EQ(b[n].x, attr(p, " x2=\""));
	}
	ASSERT_GE(n, 10);
	EXPECT_GE(info.lanes, 5);
	for (int i = 0; i < n; i++)
		for (int j = i + 1; j < n; j++)
			overlaps += b[i].x == b[j].x &&
				    b[i].y1 < b[j].y2 && b[j].y1 < b[i].y2;
	EXPECT_EQ(0, overlaps);
	/* Each held delivery has its own dot at the end of its bar. */
	for (p = diagram(svg); (p = strstr(p, "<circle class=\"late\"")); p++) {
		double cx = attr(p, "cx=\""), cy = attr(p, "cy=\"");
		int found = 0;

		for (int i = 0; i < n; i++)
			found += b[i].x == cx && b[i].y2 == cy;
		EXPECT_EQ(1, found);
		late++;
	}
	EXPECT_EQ(n, late);
	free(svg);
	clog_store_free(sc.s);
}

TEST(wait_lines_to_the_send_waited_for)
{
	struct cexp_opts o = {};
	struct cexp_info info;
	struct scene sc;
	int n = 0, to_send = 0;
	const char *p;
	char *svg;

	traffic(&sc, 4, 500, 200, 240, -1);
	svg = run(cexp_svg, sc.s, &o, &info);
	ASSERT_NE(NULL, svg);
	/* Every hold here has a hold event: one dashed line each. */
	EXPECT_EQ(count(diagram(svg), "<line class=\"hold\"") +
		  count(diagram(svg), "<line class=\"stuck\""),
		  count(diagram(svg), "<path class=\"wait\""));
	for (p = diagram(svg); (p = strstr(p, "<path class=\"wait\"")); p++) {
		double x1, y1, cx, cy, x2, y2;
		char key[96];

		ASSERT_EQ(6, sscanf(p, "<path class=\"wait\" d=\"M%lf,%lf Q%lf,%lf %lf,%lf",
				    &x1, &y1, &cx, &cy, &x2, &y2));
		snprintf(key, sizeof(key), "<circle class=\"send\" cx=\"%.1f\" cy=\"%.1f\"",
			 x2, y2);
		to_send += count(svg, key) == 1;
		/* From the top of a hold bar. */
		snprintf(key, sizeof(key), "x1=\"%.1f\" y1=\"%.1f\"", x1, y1);
		EXPECT_EQ(1, count(diagram(svg), key));
		n++;
	}
	EXPECT_GE(n, 3);
	EXPECT_GE(to_send, n / 2);
	/* Labelled in the picture, not only in a tooltip. */
	EXPECT_GE(count(svg, ">waits for n0:"), 1);
	free(svg);
	clog_store_free(sc.s);
}

TEST(labels_do_not_overlap)
{
	struct cexp_opts o = { .max_events = 400 };
	static struct { double x0, y0, x1, y1; } b[2048];
	const char *cls[] = { "lbl", "hlbl", "wlbl", "vlbl" };
	struct cexp_info info;
	struct scene sc;
	int n = 0, overlaps = 0;
	char *svg;

	traffic(&sc, 4, 500, 200, 240, 230);
	svg = run(cexp_svg, sc.s, &o, &info);
	ASSERT_NE(NULL, svg);
	for (size_t c = 0; c < sizeof(cls) / sizeof(cls[0]); c++) {
		char key[48];
		const char *p;

		snprintf(key, sizeof(key), "<text class=\"%s\" x=\"", cls[c]);
		for (p = diagram(svg); (p = strstr(p, key)) && n < 2048; p++, n++) {
			const char *gt = strchr(p, '>');
			double x = attr(p, " x=\""), y = attr(p, " y=\"");
			double w = (strchr(gt, '<') - gt - 1) * 5.9;
			bool end = strstr(p, "text-anchor=\"end\"") &&
				   strstr(p, "text-anchor=\"end\"") < gt;

			b[n].x0 = end ? x - w : x;
			b[n].x1 = end ? x : x + w;
			b[n].y0 = y - 9;
			b[n].y1 = y + 2;
		}
	}
	ASSERT_GE(n, 40);
	for (int i = 0; i < n; i++)
		for (int j = i + 1; j < n; j++)
			overlaps += b[i].x0 < b[j].x1 && b[j].x0 < b[i].x1 &&
				    b[i].y0 < b[j].y1 && b[j].y0 < b[i].y1;
	EXPECT_EQ(0, overlaps);
	free(svg);
	clog_store_free(sc.s);
}

TEST(window_around_a_message)
{
	struct cexp_opts o = { .has_around = true, .around_sender = 1,
			       .around_stamp = 100 };
	struct cexp_info info;
	struct scene sc;
	char *svg;

	traffic(&sc, 4, 500, 200, 240, 300);
	svg = run(cexp_svg, sc.s, &o, &info);
	ASSERT_NE(NULL, svg);
	EXPECT_EQ(CEXP_R_AROUND, info.reason);
	/* 1:100 is message 397, sent at 397 ms. */
	EXPECT_LE(info.from_ns, 397 * T_MS);
	EXPECT_GE(info.to_ns, 397 * T_MS);
	EXPECT_GE(info.from_ns, 380 * T_MS);
	EXPECT_NE(NULL, strstr(info.window, "n1:100"));
	EXPECT_EQ(1, count(svg, ">n1:100<"));
	free(svg);
	o.around_stamp = 9999;
	EXPECT_EQ(NULL, run(cexp_svg, sc.s, &o, &info));
	clog_store_free(sc.s);
}

TEST(window_from_to)
{
	struct cexp_opts o = {};
	struct cexp_info info;
	struct scene sc;
	char *svg;

	traffic(&sc, 4, 500, 200, 240, -1);
	ASSERT_EQ(0, cexp_parse_time("100ms", &o.from));
	ASSERT_EQ(0, cexp_parse_time("0.11", &o.to));
	svg = run(cexp_svg, sc.s, &o, &info);
	ASSERT_NE(NULL, svg);
	EXPECT_EQ(CEXP_R_RANGE, info.reason);
	/* Messages 100..110, 7 events each. */
	EXPECT_EQ(11, info.shown);
	EXPECT_EQ(77, info.events);
	EXPECT_EQ(100 * T_MS, info.from_ns);
	EXPECT_EQ(110 * T_MS + T_NET + 1, info.to_ns);
	EXPECT_EQ(11, count(diagram(svg), "<circle class=\"send\""));
	free(svg);
	/* Past the budget: the first that fit, said so. */
	ASSERT_EQ(0, cexp_parse_time("+0.3s", &o.to));
	svg = run(cexp_svg, sc.s, &o, &info);
	ASSERT_NE(NULL, svg);
	EXPECT_EQ(CEXP_MAX_EVENTS / 7, info.shown);
	EXPECT_NE(NULL, strstr(info.window, "the first that fit --max"));
	free(svg);
	/* Empty, backwards, or wall clock without meta lines: -EINVAL. */
	ASSERT_EQ(0, cexp_parse_time("2s", &o.from));
	ASSERT_EQ(0, cexp_parse_time("3s", &o.to));
	EXPECT_EQ(NULL, run(cexp_svg, sc.s, &o, &info));
	ASSERT_EQ(0, cexp_parse_time("10:00:00", &o.from));
	ASSERT_EQ(0, cexp_parse_time("2026-12-03 10:00:01.5", &o.to));
	EXPECT_EQ(NULL, run(cexp_svg, sc.s, &o, &info));
	clog_store_free(sc.s);
}

TEST(parse_time)
{
	struct cexp_time t;

	ASSERT_EQ(0, cexp_parse_time("12.5s", &t));
	EXPECT_TRUE(t.set);
	EXPECT_FALSE(t.wall);
	EXPECT_EQ(12500000000LL, t.ns);
	ASSERT_EQ(0, cexp_parse_time("+800ms", &t));
	EXPECT_EQ(800000000LL, t.ns);
	ASSERT_EQ(0, cexp_parse_time("250us", &t));
	EXPECT_EQ(250000LL, t.ns);
	ASSERT_EQ(0, cexp_parse_time("7", &t));
	EXPECT_EQ(7000000000LL, t.ns);
	ASSERT_EQ(0, cexp_parse_time("2026-12-03 10:00:01.5", &t));
	EXPECT_TRUE(t.wall);
	EXPECT_EQ(1796292001500000000LL, t.ns);
	ASSERT_EQ(0, cexp_parse_time("2026-12-03T10:00:01Z", &t));
	EXPECT_EQ(1796292001000000000LL, t.ns);
	ASSERT_EQ(0, cexp_parse_time("10:00:01.25", &t));
	EXPECT_TRUE(t.wall);
	EXPECT_EQ(36001250000000LL, t.ns);
	EXPECT_EQ(-EINVAL, cexp_parse_time("", &t));
	EXPECT_EQ(-EINVAL, cexp_parse_time("-1s", &t));
	EXPECT_EQ(-EINVAL, cexp_parse_time("12 parsecs", &t));
	EXPECT_EQ(-EINVAL, cexp_parse_time("25:00:00", &t));
	EXPECT_EQ(-EINVAL, cexp_parse_time("10:00:00.", &t));
}

TEST(max_events_default_and_cap)
{
	struct cexp_opts o = {};
	struct cexp_info info;
	struct scene sc;
	char *svg;

	traffic(&sc, 4, 500, 200, 240, -1);
	svg = run(cexp_svg, sc.s, &o, &info);
	ASSERT_NE(NULL, svg);
	EXPECT_LE(info.events, CEXP_MAX_EVENTS);
	EXPECT_EQ(CEXP_MAX_EVENTS, info.max_events);
	EXPECT_FALSE(info.capped);
	free(svg);
	o.max_events = 5000;
	svg = run(cexp_svg, sc.s, &o, &info);
	ASSERT_NE(NULL, svg);
	EXPECT_TRUE(info.capped);
	EXPECT_EQ(CEXP_CAP_EVENTS, info.max_events);
	EXPECT_LE(info.events, CEXP_CAP_EVENTS);
	EXPECT_GE(info.events, CEXP_CAP_EVENTS - 10);
	EXPECT_EQ(info.shown, count(diagram(svg), "<circle class=\"send\""));
	free(svg);
	clog_store_free(sc.s);
}

TEST(html_overview_marks_the_window)
{
	struct cexp_opts o = {};
	struct cexp_info info;
	struct scene sc;
	const char *ov, *win;
	char *html;

	traffic(&sc, 4, 500, 200, 240, -1);
	html = run(cexp_html, sc.s, &o, &info);
	ASSERT_NE(NULL, html);
	ov = strstr(html, "<svg class=\"overview\"");
	ASSERT_NE(NULL, ov);
	EXPECT_EQ(CEXP_BUCKETS, count(ov, "<rect class=\"ob\""));
	/* Holds only in the incident's buckets (200..260 ms of 500). */
	EXPECT_GE(count(ov, "<rect class=\"oh\""), 3);
	EXPECT_LE(count(ov, "<rect class=\"oh\""), 30);
	win = strstr(ov, "<rect class=\"win\"");
	ASSERT_NE(NULL, win);
	/* x: 10 + 1000 * from / run. */
	EXPECT_LE(fabs(attr(win, " x=\"") -
		       (10 + 1000.0 * info.from_ns / (info.run_ns + 1))), 2);
	EXPECT_NE(NULL, strstr(html, "Window: around the"));
	free(html);
	clog_store_free(sc.s);
}

TEST_HARNESS_MAIN
