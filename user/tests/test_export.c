// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of the exports (user/lib/causal_export.c). The ShiViz log is
 * parsed back and checked against ShiViz's rules: the regex and delimiter
 * lines, a host line per event, each host's own entry starting at 1 and
 * growing by exactly 1, every delivery's clock dominating its send's. A
 * corrupted copy must fail the same check. The SVG and HTML are checked
 * with a small XML well-formedness scanner and by counting their elements.
 */
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

TEST_HARNESS_MAIN
