// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of the event log codec and store (user/lib/causal_log.c):
 * round trips of every event type through a line and through the store, the
 * exact text of docs/events.md's example, every kind of bad line (truncated,
 * not JSON, wrong types, missing keys, clocks out of range or not matching
 * the stamp, unknown types and versions), per-file counts of a log with all
 * of those, and a seeded mutation loop that must never crash the parser.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "causal_log.h"
#include "causal_wire.h"
#include "kselftest_harness.h"
#include "test_rnd.h"

static void set_link(struct causal_ev_link *l, int v6)
{
	memset(l, 0, sizeof(*l));
	if (v6) {
		l->family = AF_INET6;
		inet_pton(AF_INET6, "fd00::1", l->saddr);
		inet_pton(AF_INET6, "fd00::3", l->daddr);
	} else {
		l->family = AF_INET;
		inet_pton(AF_INET, "10.0.0.1", l->saddr);
		inet_pton(AF_INET, "10.0.0.3", l->daddr);
	}
	l->sport = 41000;
	l->dport = 7000;
}

/* An event of @type with every field its type carries set, the others as
 * the parser leaves them (zero, peer CAUSAL_EV_NO_PEER).
 */
static void make_event(struct causal_event *ev, __u32 type, int variant)
{
	memset(ev, 0, sizeof(*ev));
	ev->type = type;
	ev->ts_ns = 1234567890123ULL + variant;
	ev->peer = CAUSAL_EV_NO_PEER;
	if (type >= CAUSAL_EV_TCP_RETRANSMIT) {
		set_link(&ev->link, variant & 1);
		if (type == CAUSAL_EV_TCP_RETRANSMIT)
			ev->tcp_state = 1 + variant % 13;
		if (type == CAUSAL_EV_TCP_STATE) {
			ev->tcp_oldstate = 1;
			ev->tcp_state = 8;	/* CLOSE_WAIT */
		}
		if (type == CAUSAL_EV_TCP_RESET)
			ev->tcp_rx = variant & 1;
		return;
	}
	ev->pid = 812 + variant;
	snprintf(ev->comm, sizeof(ev->comm), variant & 1 ? "" : "node\"\\x/y");
	ev->group = variant ? 0xffffffffU : 7;
	ev->nodes = variant ? 64 : 3;
	ev->node = variant ? 63 : 0;
	ev->peer = 1;
	for (int i = 0; i < ev->nodes; i++)
		ev->vclock[i] = variant ? UINT64_MAX - i : (__u64)i + 1;
	switch (type) {
	case CAUSAL_EV_SEND:
		ev->peer = variant ? CAUSAL_EV_NO_PEER : 2;
		ev->stamp = ev->vclock[ev->node];
		ev->len = variant ? UINT32_MAX : 5;
		ev->targets = 2;
		break;
	case CAUSAL_EV_ARRIVE:
		ev->stamp = ev->vclock[1];
		ev->len = 7;
		break;
	case CAUSAL_EV_HOLD:
		ev->stamp = ev->vclock[1];
		ev->wait_node = 2;
		ev->wait_stamp = ev->vclock[2];
		break;
	case CAUSAL_EV_DELIVER:
		ev->stamp = ev->vclock[1];
		ev->index = 99;
		ev->held_ns = variant ? UINT64_MAX : 0;
		ev->gap = variant & 1;
		break;
	case CAUSAL_EV_CLOCK:
		ev->stamp = ev->vclock[1];
		break;
	case CAUSAL_EV_PEER:
		ev->stamp = 17;
		ev->joined = !(variant & 1);
		ev->incarnation = 0x1000 + variant;
		set_link(&ev->link, variant & 1);
		break;
	case CAUSAL_EV_ERROR:
		ev->peer = variant ? CAUSAL_EV_NO_PEER : 1;
		ev->stamp = ev->vclock[ev->node];
		ev->err = variant ? CAUSAL_ERR_DUPLICATE : CAUSAL_ERR_MAGIC;
		break;
	}
}

static char *format(const struct causal_event *ev, const char *host)
{
	struct json_object *o = clog_event_json(ev, host);
	char *s;

	if (!o)
		return NULL;
	s = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	return s;
}

static struct clog_parser *parser;
static struct clog_line line;

static enum clog_kind parse(const char *s)
{
	return clog_parse(parser, s, strlen(s), &line);
}

FIXTURE(log) {
	int unused;
};

FIXTURE_SETUP(log)
{
	parser = clog_parser_new();
	ASSERT_NE(NULL, parser);
}

FIXTURE_TEARDOWN(log)
{
	clog_parser_free(parser);
}

TEST_F(log, round_trip_every_type)
{
	struct clog_store *s = clog_store_new();
	struct causal_event ev, back;
	int n = 0;

	ASSERT_NE(NULL, s);
	for (__u32 t = CAUSAL_EV_SEND; t < CAUSAL_EV_TYPES; t++) {
		if (!clog_is_logged(t))
			continue;
		for (int variant = 0; variant < 2; variant++) {
			char *txt;

			make_event(&ev, t, variant);
			txt = format(&ev, "host-a.example");
			ASSERT_NE(NULL, txt);
			ASSERT_EQ(CLOG_EVENT, parse(txt)) {
				TH_LOG("%s: %s", txt, line.why);
			}
			EXPECT_STREQ("host-a.example", line.host);
			EXPECT_EQ(0, memcmp(&ev, &line.ev, sizeof(ev))) {
				TH_LOG("type %s variant %d: %s",
				       clog_type_name(t), variant, txt);
			}
			/* The same through the compact store. */
			ASSERT_EQ(0, clog_store_add(s, &line));
			clog_ev_expand(s, &s->ev[s->nev - 1], &back);
			EXPECT_EQ(0, memcmp(&ev, &back, sizeof(ev)));
			free(txt);
			n++;
		}
	}
	EXPECT_EQ(n, s->nev);
	/* One host and two comms interned once each. */
	EXPECT_EQ(3, s->str.n);
	EXPECT_EQ(2, s->nlinks);
	clog_store_free(s);
}

/* Only the keys of the type are written. */
TEST_F(log, keys_per_type)
{
	static const char * const keys[CAUSAL_EV_TYPES] = {
		[CAUSAL_EV_SEND] = "v type host ts pid comm group node peer stamp len targets vclock",
		[CAUSAL_EV_ARRIVE] = "v type host ts pid comm group node peer stamp len vclock",
		[CAUSAL_EV_HOLD] = "v type host ts pid comm group node peer stamp wait_node wait_stamp vclock",
		[CAUSAL_EV_DELIVER] = "v type host ts pid comm group node peer stamp index held_ns gap vclock",
		[CAUSAL_EV_CLOCK] = "v type host ts pid comm group node peer stamp vclock",
		[CAUSAL_EV_PEER] = "v type host ts pid comm group node peer stamp joined incarnation link vclock",
		[CAUSAL_EV_ERROR] = "v type host ts pid comm group node peer stamp err vclock",
		[CAUSAL_EV_TCP_RETRANSMIT] = "v type host ts link state",
		[CAUSAL_EV_TCP_STATE] = "v type host ts link old new",
		[CAUSAL_EV_TCP_RESET] = "v type host ts link rx",
	};
	struct causal_event ev;

	for (__u32 t = CAUSAL_EV_SEND; t < CAUSAL_EV_TYPES; t++) {
		struct json_object *o;
		char got[256] = "";

		make_event(&ev, t, 0);
		o = clog_event_json(&ev, "a");
		if (!clog_is_logged(t)) {
			/* causald's model takes them; the log has no line. */
			EXPECT_EQ(NULL, o);
			continue;
		}
		ASSERT_NE(NULL, o);
		json_object_object_foreach(o, k, v) {
			(void)v;
			if (got[0])
				strcat(got, " ");
			strcat(got, k);
		}
		EXPECT_STREQ(keys[t], got);
		json_object_put(o);
	}
}

/* docs/events.md's example lines, byte for byte. */
TEST_F(log, docs_example)
{
	static const char send[] = "{\"v\":1,\"type\":\"send\",\"host\":\"a\",\"ts\":1500,\"pid\":812,\"comm\":\"node\",\"group\":7,\"node\":0,\"peer\":null,\"stamp\":1,\"len\":5,\"targets\":2,\"vclock\":[1,0,0]}";
	static const char hold[] = "{\"v\":1,\"type\":\"hold\",\"host\":\"c\",\"ts\":9110,\"pid\":0,\"comm\":\"\",\"group\":7,\"node\":2,\"peer\":1,\"stamp\":1,\"wait_node\":0,\"wait_stamp\":1,\"vclock\":[1,1,0]}";
	static const char meta[] = "{\"v\":1,\"type\":\"meta\",\"host\":\"a\",\"boot_id\":\"6f1c...\",\"started_ts\":1200,\"realtime_ns\":1790000000000000000}";
	struct json_object *o;
	char *txt;

	ASSERT_EQ(CLOG_EVENT, parse(send));
	EXPECT_EQ(CAUSAL_EV_NO_PEER, line.ev.peer);
	EXPECT_EQ(3, line.ev.nodes);
	EXPECT_STREQ("node", line.ev.comm);
	txt = format(&line.ev, line.host);
	EXPECT_STREQ(send, txt);
	free(txt);

	ASSERT_EQ(CLOG_EVENT, parse(hold));
	EXPECT_EQ(0, line.ev.wait_node);
	EXPECT_EQ(1, line.ev.wait_stamp);
	txt = format(&line.ev, line.host);
	EXPECT_STREQ(hold, txt);
	free(txt);

	ASSERT_EQ(CLOG_META, parse(meta));
	EXPECT_STREQ("6f1c...", line.meta.boot_id);
	EXPECT_EQ(1200, line.meta.started_ts);
	EXPECT_EQ(1790000000000000000ULL, line.meta.realtime_ns);
	o = clog_meta_json("a", &line.meta);
	EXPECT_STREQ(meta, json_object_to_json_string_ext(
		o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);

	ASSERT_EQ(CLOG_EVENT, parse("{\"v\":1,\"type\":\"tcp_state\",\"host\":\"b\",\"ts\":5,\"link\":{\"family\":4,\"saddr\":\"10.0.0.1\",\"sport\":40000,\"daddr\":\"10.0.0.3\",\"dport\":7000},\"old\":\"ESTABLISHED\",\"new\":\"CLOSE_WAIT\"}"));
	EXPECT_EQ(1, line.ev.tcp_oldstate);
	EXPECT_EQ(8, line.ev.tcp_state);
	EXPECT_EQ(AF_INET, line.ev.link.family);
	EXPECT_EQ(40000, line.ev.link.sport);
	EXPECT_EQ(10, line.ev.link.saddr[0]);
	EXPECT_EQ(3, line.ev.link.daddr[3]);
}

TEST_F(log, lost_lines)
{
	__u64 by_type[CAUSAL_EV_TYPES] = { [CAUSAL_EV_DELIVER] = 4,
					   [CAUSAL_EV_TCP_STATE] = 1 };
	struct json_object *o = clog_lost_json("a", 77, 5, by_type);

	ASSERT_EQ(CLOG_LOST, parse(json_object_to_json_string(o)));
	EXPECT_EQ(5, line.lost.count);
	EXPECT_EQ(77, line.ts);
	EXPECT_EQ(0, memcmp(by_type, line.lost.by_type, sizeof(by_type)));
	json_object_put(o);
	ASSERT_EQ(CLOG_LOST, parse("{\"v\":1,\"type\":\"lost\",\"host\":\"a\",\"count\":3}"));
	EXPECT_EQ(3, line.lost.count);
	EXPECT_EQ(0, line.lost.by_type[CAUSAL_EV_DELIVER]);
	/* A tracer may not know every drop's type: the sum is a bound. */
	ASSERT_EQ(CLOG_LOST, parse("{\"v\":1,\"type\":\"lost\",\"host\":\"a\",\"count\":3,\"types\":{\"send\":2}}"));
	EXPECT_EQ(2, line.lost.by_type[CAUSAL_EV_SEND]);
	EXPECT_EQ(CLOG_BAD, parse("{\"v\":1,\"type\":\"lost\",\"host\":\"a\",\"count\":3,\"types\":{\"send\":2,\"deliver\":2}}"));
	EXPECT_EQ(CLOG_BAD, parse("{\"v\":1,\"type\":\"lost\",\"host\":\"a\",\"count\":3,\"types\":{\"lost\":1}}"));
	EXPECT_EQ(CLOG_BAD, parse("{\"v\":1,\"type\":\"lost\",\"host\":\"a\",\"count\":3,\"types\":[1]}"));
	EXPECT_EQ(CLOG_BAD, parse("{\"v\":1,\"type\":\"lost\",\"host\":\"a\",\"count\":-3}"));
	EXPECT_EQ(CLOG_BAD, parse("{\"v\":1,\"type\":\"lost\",\"host\":\"a\"}"));
}

/* The writer refuses what the parser would refuse. */
TEST_F(log, writer_refuses_invalid)
{
	struct causal_event ev;

	make_event(&ev, CAUSAL_EV_DELIVER, 0);
	EXPECT_EQ(NULL, clog_event_json(&ev, ""));
	ev.nodes = 0;
	EXPECT_EQ(NULL, clog_event_json(&ev, "a"));
	ev.nodes = CAUSAL_EV_MAX_NODES + 1;
	EXPECT_EQ(NULL, clog_event_json(&ev, "a"));
	make_event(&ev, CAUSAL_EV_DELIVER, 0);
	ev.peer = CAUSAL_EV_NO_PEER;	/* only send and error may omit it */
	EXPECT_EQ(NULL, clog_event_json(&ev, "a"));
	make_event(&ev, CAUSAL_EV_DELIVER, 0);
	ev.stamp++;
	EXPECT_EQ(NULL, clog_event_json(&ev, "a"));
	ev.type = CAUSAL_EV_TYPES;
	EXPECT_EQ(NULL, clog_event_json(&ev, "a"));
	ev.type = 0;
	EXPECT_EQ(NULL, clog_event_json(&ev, "a"));
}

/* Lines handed to the store directly get the parser's check too. */
/* What json-c prints for the object the line parses into. */
static char *json_c_reprint(const char *line)
{
	struct json_object *o = json_tokener_parse(line);
	char *s;

	if (!o)
		return NULL;
	s = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
						  JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	return s;
}

/* The writer prints what json-c would print, byte for byte, whatever came
 * before: types interleaved, peers null and not, clocks of other sizes,
 * links unknown, IPv4 and IPv6, hosts and comms that need escaping (quotes,
 * backslashes, control bytes, UTF-8) and that change from line to line.
 */
TEST_F(log, writer_prints_as_json_c)
{
	static const char * const hosts[] = {
		"h1", "another-host", "q\"uo\\te", "tab\there\x01\x1f",
		"caf\xc3\xa9", "/slash/",
	};
	static const char * const comms[] = {
		"node\"\\x/y", "", "ctl\x02\x7f", "fifteen-chars-x",
	};
	struct clog_writer *w = clog_writer_new();
	struct causal_event ev;
	const char *got, *host;
	char *want;
	size_t len;

	ASSERT_NE(w, NULL);
	for (int i = 0; i < 4000; i++) {
		__u32 type = 1 + rnd() % (CAUSAL_EV_TYPES - 1);
		int variant = rnd() % 4;

		if (!clog_is_logged(type))
			continue;
		make_event(&ev, type, variant);
		if (clog_has_link(type) && !(rnd() % 3))
			memset(&ev.link, 0, sizeof(ev.link));
		if (type < CAUSAL_EV_TCP_RETRANSMIT) {
			memset(ev.comm, 0, sizeof(ev.comm));
			snprintf(ev.comm, sizeof(ev.comm), "%s",
				 comms[rnd() % 4]);
		}
		host = hosts[rnd() % 6];
		got = clog_writer_line(w, &ev, host, &len);
		ASSERT_NE(got, NULL);
		EXPECT_EQ(len, strlen(got));
		want = json_c_reprint(got);
		ASSERT_NE(want, NULL) {
			TH_LOG("not JSON: %s", got);
		}
		EXPECT_STREQ(got, want) {
			TH_LOG("event %d, type %u, variant %d", i, type, variant);
			free(want);
			break;
		}
		free(want);
		/* ... and parses back to the event it came from. */
		ASSERT_EQ(CLOG_EVENT, parse(got)) {
			TH_LOG("%s: %s", got, line.why);
		}
		EXPECT_STREQ(host, line.host);
		EXPECT_EQ(0, memcmp(&ev, &line.ev, sizeof(ev)));
	}
	/* The longest line: every host byte escaped, 64 entries of 20 digits,
	 * two IPv6 addresses (the buffer ends the writer: ASan checks it).
	 */
	{
		char longest[CLOG_HOST_MAX];

		memset(longest, '\x01', sizeof(longest) - 1);
		longest[sizeof(longest) - 1] = 0;
		for (__u32 type = CAUSAL_EV_SEND; type < CAUSAL_EV_TYPES; type++) {
			if (!clog_is_logged(type))
				continue;
			make_event(&ev, type, 3);	/* IPv6, 64 nodes */
			memset(ev.link.saddr, 0xff, sizeof(ev.link.saddr));
			memset(ev.link.daddr, 0xff, sizeof(ev.link.daddr));
			memset(ev.comm, '\x02', sizeof(ev.comm) - 1);
			got = clog_writer_line(w, &ev, longest, &len);
			ASSERT_NE(got, NULL);
			want = json_c_reprint(got);
			EXPECT_STREQ(got, want);
			free(want);
		}
	}
	make_event(&ev, CAUSAL_EV_SEND, 0);
	ev.nodes = 0;
	EXPECT_EQ(clog_writer_line(w, &ev, "h1", &len), NULL);
	clog_writer_free(w);
}

TEST(store_refuses_invalid)
{
	struct clog_store *s = clog_store_new();
	static struct clog_line l;

	ASSERT_NE(NULL, s);
	memset(&l, 0, sizeof(l));
	l.kind = CLOG_EVENT;
	strcpy(l.host, "a");
	make_event(&l.ev, CAUSAL_EV_HOLD, 0);
	ASSERT_EQ(0, clog_store_add(s, &l));
	l.ev.wait_node = 70;
	ASSERT_EQ(0, clog_store_add(s, &l));
	make_event(&l.ev, CAUSAL_EV_ARRIVE, 0);
	l.ev.peer = l.ev.node;
	ASSERT_EQ(0, clog_store_add(s, &l));
	EXPECT_EQ(1, s->nev);
	EXPECT_EQ(3, s->files[0].lines);
	EXPECT_EQ(2, s->files[0].bad);
	clog_store_free(s);
}

/* Every prefix of a good line is refused, and so is the line with any one
 * key removed.
 */
TEST_F(log, truncated_and_missing_keys)
{
	struct causal_event ev;

	for (__u32 t = CAUSAL_EV_SEND; t < CAUSAL_EV_TYPES; t++) {
		struct json_object *o, *c;
		char *txt;
		size_t n;

		if (!clog_is_logged(t))
			continue;
		make_event(&ev, t, 0);
		txt = format(&ev, "a");
		n = strlen(txt);
		for (size_t cut = 0; cut < n; cut++) {
			ASSERT_NE(CLOG_EVENT, clog_parse(parser, txt, cut, &line)) {
				TH_LOG("prefix %zu of %s parsed", cut, txt);
			}
		}
		ASSERT_EQ(CLOG_EVENT, clog_parse(parser, txt, n, &line));

		o = json_tokener_parse(txt);
		json_object_object_foreach(o, key, val) {
			(void)val;
			c = NULL;
			json_object_deep_copy(o, &c, NULL);
			json_object_object_del(c, key);
			EXPECT_EQ(CLOG_BAD, parse(json_object_to_json_string(c))) {
				TH_LOG("%s without %s parsed", clog_type_name(t), key);
			}
			json_object_put(c);
		}
		json_object_put(o);
		free(txt);
	}
}

/* Replace @key of a good deliver line with the raw JSON @val. */
static char *with(const char *key, const char *val)
{
	static const char base[] = "{\"v\":1,\"type\":\"deliver\",\"host\":\"c\",\"ts\":9300,\"pid\":0,\"comm\":\"\",\"group\":7,\"node\":2,\"peer\":1,\"stamp\":1,\"index\":2,\"held_ns\":190,\"gap\":false,\"vclock\":[1,1,0]}";
	char pat[64], *out = malloc(sizeof(base) + 4096);
	const char *p, *e;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	p = strstr(base, pat);
	if (!p)
		return strcpy(out, base);
	p += strlen(pat);
	e = p;
	if (*e == '[')
		e = strchr(e, ']') + 1;
	else
		while (*e != ',' && *e != '}')
			e++;
	sprintf(out, "%.*s%s%s", (int)(p - base), base, val, e);
	return out;
}

TEST_F(log, bad_values)
{
	static const struct { const char *key, *val; enum clog_kind want; } c[] = {
		{ "ts", "9300", CLOG_EVENT },		/* the base line */
		{ "ts", "\"9300\"", CLOG_BAD },
		{ "ts", "-1", CLOG_BAD },
		{ "ts", "1.5", CLOG_BAD },
		{ "ts", "true", CLOG_BAD },
		{ "ts", "null", CLOG_BAD },
		{ "ts", "18446744073709551615", CLOG_EVENT },
		{ "group", "4294967296", CLOG_BAD },
		{ "group", "{}", CLOG_BAD },
		{ "node", "3", CLOG_BAD },		/* >= nodes */
		{ "node", "1", CLOG_BAD },		/* == peer */
		{ "peer", "null", CLOG_BAD },		/* only for send */
		{ "peer", "64", CLOG_BAD },
		{ "stamp", "2", CLOG_BAD },		/* vclock[peer] is 1 */
		{ "vclock", "[1,1]", CLOG_BAD },	/* node 2 out of range */
		{ "vclock", "[]", CLOG_BAD },
		{ "vclock", "[1,1,-1]", CLOG_BAD },
		{ "vclock", "[1,1,\"0\"]", CLOG_BAD },
		{ "vclock", "[1,1,[0]]", CLOG_BAD },
		{ "vclock", "{}", CLOG_BAD },
		{ "gap", "0", CLOG_BAD },
		{ "comm", "\"0123456789abcdef\"", CLOG_BAD },	/* 16 chars */
		{ "comm", "\"0123456789abcde\"", CLOG_EVENT },
		{ "comm", "\"a\\u0000b\"", CLOG_BAD },
		{ "comm", "7", CLOG_BAD },
		{ "host", "\"\"", CLOG_BAD },
		{ "type", "\"deliverx\"", CLOG_BAD },
		{ "type", "\"DELIVER\"", CLOG_BAD },
		{ "v", "2", CLOG_OTHER_VERSION },
		{ "v", "0", CLOG_OTHER_VERSION },
		{ "v", "\"1\"", CLOG_BAD },
		{ "v", "1.0", CLOG_BAD },
	};

	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		char *s = with(c[i].key, c[i].val);

		EXPECT_EQ(c[i].want, parse(s)) {
			TH_LOG("%s=%s: %s (%s)", c[i].key, c[i].val, s,
			       line.why ? line.why : "");
		}
		free(s);
	}
}

TEST_F(log, vclock_sizes)
{
	char buf[4096], *p;

	for (int n = 63; n <= 66; n++) {
		p = buf + sprintf(buf, "{\"v\":1,\"type\":\"clock\",\"host\":\"h\",\"ts\":1,\"pid\":0,\"comm\":\"\",\"group\":1,\"node\":0,\"peer\":1,\"stamp\":0,\"vclock\":[");
		for (int i = 0; i < n; i++)
			p += sprintf(p, "%s0", i ? "," : "");
		strcpy(p, "]}");
		EXPECT_EQ(n <= CAUSAL_EV_MAX_NODES ? CLOG_EVENT : CLOG_BAD,
			  parse(buf)) {
			TH_LOG("%d entries", n);
		}
	}
}

TEST_F(log, garbage)
{
	static const char * const bad[] = {
		"", "hello", "[]", "{}", "null", "1", "\"x\"", "{\"v\":1}",
		"{\"v\":1,\"type\":\"send\"}",
		"{\"v\":1,\"type\":\"meta\",\"host\":\"a\"}",
		"{\"v\":1,\"type\":\"send\",\"host\":\"a\",\"ts\":1,",
		"{\"v\":1,\"type\":\"lost\",\"host\":\"a\",\"count\":1}{}",
		"{\"v\":1,\"type\":\"lost\",\"host\":\"a\",\"count\":1} x",
		"{'v':1}",
		"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
		"{\"v\":1,\"type\":\"tcp_reset\",\"host\":\"a\",\"ts\":1,\"link\":{\"family\":5,\"saddr\":\"1.2.3.4\",\"sport\":1,\"daddr\":\"1.2.3.4\",\"dport\":2},\"rx\":true}",
		"{\"v\":1,\"type\":\"tcp_reset\",\"host\":\"a\",\"ts\":1,\"link\":{\"family\":4,\"saddr\":\"::1\",\"sport\":1,\"daddr\":\"1.2.3.4\",\"dport\":2},\"rx\":true}",
		"{\"v\":1,\"type\":\"tcp_reset\",\"host\":\"a\",\"ts\":1,\"link\":{\"family\":4,\"saddr\":\"1.2.3.4\",\"sport\":65536,\"daddr\":\"1.2.3.4\",\"dport\":2},\"rx\":true}",
		"{\"v\":1,\"type\":\"tcp_state\",\"host\":\"a\",\"ts\":1,\"link\":null,\"old\":\"ESTABLISHED\",\"new\":\"BOGUS\"}",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		EXPECT_EQ(CLOG_BAD, parse(bad[i])) {
			TH_LOG("parsed: %s", bad[i]);
		}
	}
	/* A NUL inside the line. */
	EXPECT_EQ(CLOG_BAD, clog_parse(parser, "{\"v\":1\0}", 8, &line));
	/* CRLF and trailing blanks are fine; a null link is "unknown". */
	EXPECT_EQ(CLOG_EVENT, parse("{\"v\":1,\"type\":\"tcp_reset\",\"host\":\"a\",\"ts\":1,\"link\":null,\"rx\":false}  \r\n"));
	EXPECT_EQ(0, line.ev.link.family);
}

static void put(FILE *f, const char *s)
{
	fputs(s, f);
}

/* A file with every kind of line; the last line is cut mid-way. */
TEST_F(log, file_counts)
{
	char path[] = "/tmp/test_log_XXXXXX";
	struct clog_store *s = clog_store_new();
	struct causal_event ev;
	const struct clog_file *f;
	int fd = mkstemp(path);
	FILE *fp;
	char *txt;

	ASSERT_GE(fd, 0);
	fp = fdopen(fd, "w");
	put(fp, "{\"v\":1,\"type\":\"meta\",\"host\":\"a\",\"boot_id\":\"b1\",\"started_ts\":10,\"realtime_ns\":1000}\n");
	for (int i = 0; i < 100; i++) {
		make_event(&ev, CAUSAL_EV_SEND, 0);
		ev.ts_ns = 100 + i;
		clog_write(fp, clog_event_json(&ev, "a"));
	}
	put(fp, "\n   \n");					/* blank: ignored */
	put(fp, "{\"v\":1,\"type\":\"lost\",\"host\":\"a\",\"ts\":5,\"count\":3}\n");
	put(fp, "{\"v\":2,\"type\":\"send\",\"whatever\":[]}\n");
	put(fp, "{\"v\":3}\n");
	put(fp, "not json at all\n");
	put(fp, "{\"v\":1,\"type\":\"lost\",\"host\":\"a\",\"count\":4}\r\n");
	/* A line longer than the read buffer, then a good one. */
	for (int i = 0; i < 300000; i++)
		put(fp, "xxxxxxx");
	put(fp, "\n");
	make_event(&ev, CAUSAL_EV_DELIVER, 1);
	clog_write(fp, clog_event_json(&ev, "a"));
	make_event(&ev, CAUSAL_EV_ARRIVE, 0);
	txt = format(&ev, "a");
	fwrite(txt, 1, strlen(txt) - 9, fp);	/* no newline, cut */
	free(txt);
	fclose(fp);

	ASSERT_EQ(0, clog_store_load(s, path));
	ASSERT_EQ(1, s->nfiles);
	f = &s->files[0];
	EXPECT_EQ(109, f->lines);
	EXPECT_EQ(101, f->events);
	EXPECT_EQ(3, f->bad);
	EXPECT_EQ(2, f->other_version);
	EXPECT_EQ(7, f->lost);
	EXPECT_EQ(7, s->lost);
	EXPECT_TRUE(f->has_meta);
	EXPECT_STREQ("b1", clog_str(s, f->boot_id));
	EXPECT_STREQ("a", clog_str(s, f->host));
	EXPECT_EQ(10, f->started_ts);
	EXPECT_EQ(1000, f->realtime_ns);
	EXPECT_EQ(100, f->first_ts);
	EXPECT_EQ(1234567890124ULL, f->last_ts);
	/* Vector clocks stored with exactly their nodes entries. */
	EXPECT_EQ(100 * 3 + 64, s->nvc);
	EXPECT_EQ(CAUSAL_EV_DELIVER, s->ev[100].type);
	EXPECT_EQ(UINT64_MAX, s->ev[100].held_ns);
	EXPECT_EQ(1, s->ev[100].flag);

	/* An unreadable file is an error, and still gets a record. */
	EXPECT_GT(0, clog_store_load(s, "/nonexistent/log"));
	EXPECT_EQ(2, s->nfiles);
	unlink(path);
	clog_store_free(s);
}

/* Random byte edits of good lines: never a crash, and whatever still parses
 * as an event writes back to a line that parses to the same event.
 */
TEST_F(log, mutations)
{
	static const char alphabet[] = "{}[]\":,-0123456789.eEtruefalsn \\x";
	struct causal_event ev, first;
	int parsed = 0;

	for (int iter = 0; iter < 8000; iter++) {
		char *txt, *again;
		size_t n;

		do
			make_event(&ev, CAUSAL_EV_SEND + rnd() % (CAUSAL_EV_TYPES - 1),
				   rnd() & 1);
		while (!clog_is_logged(ev.type));
		txt = format(&ev, "h");
		n = strlen(txt);
		for (int k = 1 + rnd() % 3; k && n; k--) {
			size_t at = rnd() % n;

			switch (rnd() % 3) {
			case 0:
				txt[at] = alphabet[rnd() % (sizeof(alphabet) - 1)];
				break;
			case 1:
				txt[at] = rnd();
				break;
			default:
				n = at;
				break;
			}
		}
		if (clog_parse(parser, txt, n, &line) == CLOG_EVENT) {
			parsed++;
			first = line.ev;
			again = format(&first, line.host);
			ASSERT_NE(NULL, again);
			ASSERT_EQ(CLOG_EVENT, parse(again));
			EXPECT_EQ(0, memcmp(&first, &line.ev, sizeof(first)));
			free(again);
		}
		free(txt);
	}
	TH_LOG("%d of 8000 mutated lines still parsed", parsed);
	EXPECT_GT(parsed, 0);
}

/*
 * The log format, byte for byte: every logged type in four variants (peers
 * null and not, clocks of 3 and 64 entries, IPv4, IPv6 and unknown links,
 * hosts and comms that need escaping), written by the hot-path writer, and
 * a meta and two lost lines, against user/tests/test_log.golden; then that
 * file parsed and loaded back, field for field. CLOG_GOLDEN_WRITE=1
 * rewrites the file (only when the format is meant to change).
 */
#define GOLDEN_VARIANTS	4

static const char *golden_host(int variant)
{
	static const char * const hosts[] = {
		"host-a.example", "b\"\\\x01\xc3\xa9", "c", "node-3",
	};

	return hosts[variant % 4];
}

/* The events of the golden file, in its order; false past the end. */
static bool golden_event(int i, struct causal_event *ev)
{
	int n = 0;

	for (__u32 t = CAUSAL_EV_SEND; t < CAUSAL_EV_TYPES; t++) {
		if (!clog_is_logged(t))
			continue;
		for (int variant = 0; variant < GOLDEN_VARIANTS; variant++) {
			if (n++ != i)
				continue;
			make_event(ev, t, variant & 1);
			ev->ts_ns += variant;
			if (variant >= 2 && clog_has_link(t))
				memset(&ev->link, 0, sizeof(ev->link));
			if (variant == 3 && clog_is_causal(t)) {
				snprintf(ev->comm, sizeof(ev->comm),
					 "tab\there\x7f");
				ev->pid = 0;
			}
			return true;
		}
	}
	return false;
}

static char *golden_path(void)
{
	static char path[4096];
	const char *dot;

	snprintf(path, sizeof(path), "%s", __FILE__);
	dot = strrchr(path, '.');
	snprintf(path + (dot - path), sizeof(path) - (dot - path), ".golden");
	return path;
}

/* The golden text, as the writer prints it now. */
static char *golden_text(size_t *size)
{
	__u64 by_type[CAUSAL_EV_TYPES] = { [CAUSAL_EV_SEND] = 2,
					   [CAUSAL_EV_TCP_RESET] = 1 };
	struct clog_meta meta = { "6f1c-boot", 1200, 1790000000000000000ULL };
	struct clog_writer *w = clog_writer_new();
	struct causal_event ev;
	char *buf = NULL;
	FILE *f = open_memstream(&buf, size);

	if (!w || !f)
		return NULL;
	clog_write(f, clog_meta_json("host-a.example", &meta));
	for (int i = 0; golden_event(i, &ev); i++) {
		const char *s;
		size_t len;

		s = clog_writer_line(w, &ev, golden_host(i), &len);
		if (!s)
			return NULL;
		fwrite(s, 1, len, f);
		fputc('\n', f);
	}
	clog_write(f, clog_lost_json("c", 99, 5, by_type));
	clog_write(f, clog_lost_json("c", 0, 1, NULL));
	fclose(f);
	clog_writer_free(w);
	return buf;
}

TEST_F(log, golden)
{
	struct clog_store *s = clog_store_new();
	struct causal_event ev, back;
	char *want = NULL, *got, *p, *nl;
	size_t size, want_size = 0;
	FILE *f;
	int i = 0;

	got = golden_text(&size);
	ASSERT_NE(NULL, got);
	if (getenv("CLOG_GOLDEN_WRITE")) {
		f = fopen(golden_path(), "w");
		ASSERT_NE(NULL, f);
		fwrite(got, 1, size, f);
		fclose(f);
	}
	f = fopen(golden_path(), "r");
	ASSERT_NE(NULL, f) {
		TH_LOG("%s: run from the top of the tree", golden_path());
	}
	ASSERT_EQ(0, getdelim(&want, &want_size, 0, f) < 0);
	fclose(f);
	EXPECT_STREQ(want, got);

	/* Parsed back, line by line: the events they were written from. */
	p = want;
	ASSERT_EQ(CLOG_META, clog_parse(parser, p, strcspn(p, "\n"), &line));
	EXPECT_STREQ("6f1c-boot", line.meta.boot_id);
	EXPECT_EQ(1200, line.meta.started_ts);
	EXPECT_EQ(1790000000000000000ULL, line.meta.realtime_ns);
	for (p = strchr(p, '\n') + 1; golden_event(i, &ev); i++) {
		nl = strchr(p, '\n');
		ASSERT_NE(NULL, nl);
		ASSERT_EQ(CLOG_EVENT, clog_parse(parser, p, nl - p, &line)) {
			TH_LOG("line %d: %s", i + 2, line.why);
		}
		EXPECT_STREQ(golden_host(i), line.host);
		EXPECT_EQ(0, memcmp(&ev, &line.ev, sizeof(ev))) {
			TH_LOG("line %d: %.*s", i + 2, (int)(nl - p), p);
		}
		p = nl + 1;
	}
	EXPECT_EQ(10 * GOLDEN_VARIANTS, i);
	ASSERT_EQ(CLOG_LOST, clog_parse(parser, p, strcspn(p, "\n"), &line));
	EXPECT_EQ(5, line.lost.count);
	EXPECT_EQ(99, line.ts);
	EXPECT_EQ(2, line.lost.by_type[CAUSAL_EV_SEND]);
	EXPECT_EQ(1, line.lost.by_type[CAUSAL_EV_TCP_RESET]);

	/* Loaded into the store: the same events, expanded. */
	ASSERT_EQ(0, clog_store_load(s, golden_path()));
	ASSERT_EQ(1, s->nfiles);
	EXPECT_EQ(i, s->nev);
	EXPECT_EQ(0, s->files[0].bad);
	EXPECT_EQ(6, s->lost);
	EXPECT_TRUE(s->files[0].has_meta);
	for (i = 0; i < s->nev && golden_event(i, &ev); i++) {
		clog_ev_expand(s, &s->ev[i], &back);
		EXPECT_EQ(0, memcmp(&ev, &back, sizeof(ev))) {
			TH_LOG("event %d (%s)", i, clog_type_name(ev.type));
		}
		EXPECT_STREQ(golden_host(i), clog_str(s, s->ev[i].host));
	}
	clog_store_free(s);
	free(want);
	free(got);
}

/* The golden log to @path, plain or gzip-compressed; its size in *@size. */
static void write_log(const char *path, bool gz, size_t *size)
{
	size_t len;
	char *txt = golden_text(&len);
	FILE *f;
	gzFile z;

	if (gz) {
		z = gzopen(path, "wb");
		gzwrite(z, txt, len);
		gzclose(z);
	} else {
		f = fopen(path, "w");
		fwrite(txt, 1, len, f);
		fclose(f);
	}
	if (size) {
		struct stat st;

		*size = stat(path, &st) ? 0 : st.st_size;
	}
	free(txt);
}

/* The events of the golden file, all there, none bad. */
static bool all_events(const struct clog_store *s, size_t file)
{
	const struct clog_file *f = &s->files[file];

	return f->events == 10 * GOLDEN_VARIANTS && f->bad == 0 &&
	       f->has_meta && f->lost == 6;
}

/* gzip logs read as the plain ones, whatever their name. */
TEST(store_gzip)
{
	char plain[] = "/tmp/test_log_XXXXXX", gz[64], named[64];
	struct clog_store *s = clog_store_new();
	struct causal_event a, b;
	int fd = mkstemp(plain);

	ASSERT_GE(fd, 0);
	close(fd);
	snprintf(gz, sizeof(gz), "%s.gz", plain);
	snprintf(named, sizeof(named), "%s.jsonl", plain);
	write_log(plain, false, NULL);
	write_log(gz, true, NULL);
	write_log(named, true, NULL);
	ASSERT_EQ(0, clog_store_load(s, plain));
	ASSERT_EQ(0, clog_store_load(s, gz)) {
		TH_LOG("%s", s->error);
	}
	ASSERT_EQ(0, clog_store_load(s, named));
	ASSERT_EQ(3, s->nfiles);
	for (int i = 0; i < 3; i++) {
		const struct clog_file *f = &s->files[i];

		EXPECT_TRUE(all_events(s, i)) {
			TH_LOG("%s: %llu events, %llu bad", f->name,
			       (unsigned long long)f->events,
			       (unsigned long long)f->bad);
		}
	}
	EXPECT_STREQ(gz, s->files[1].name);
	EXPECT_EQ(3 * 10 * GOLDEN_VARIANTS, s->nev);
	for (size_t i = 0; i < 10 * GOLDEN_VARIANTS && s->nev == 120; i++) {
		clog_ev_expand(s, &s->ev[i], &a);
		clog_ev_expand(s, &s->ev[i + 40], &b);
		EXPECT_EQ(0, memcmp(&a, &b, sizeof(a)));
	}
	EXPECT_STREQ("", s->error);
	unlink(plain);
	unlink(gz);
	unlink(named);
	clog_store_free(s);
}

/* A cut or corrupt gzip file, a directory, a missing file: errors that say
 * which file and why, not bad lines.
 */
TEST(store_bad_files)
{
	char path[] = "/tmp/test_log_XXXXXX", want[128];
	struct clog_store *s = clog_store_new();
	size_t size;
	int fd = mkstemp(path);
	FILE *f;

	ASSERT_GE(fd, 0);
	close(fd);
	write_log(path, true, &size);
	ASSERT_GT(size, 100);
	ASSERT_EQ(0, truncate(path, size / 2));
	EXPECT_GT(0, clog_store_load(s, path));
	snprintf(want, sizeof(want), "%s: ", path);
	EXPECT_EQ(0, strncmp(want, s->error, strlen(want))) {
		TH_LOG("error \"%s\"", s->error);
	}
	EXPECT_LT(strlen(want), strlen(s->error));
	EXPECT_EQ(NULL, strstr(s->error, "<fd:"));
	TH_LOG("cut: %s", s->error);

	/* The same size, a run of its compressed bytes overwritten. */
	write_log(path, true, &size);
	f = fopen(path, "r+");
	ASSERT_NE(NULL, f);
	fseek(f, size / 3, SEEK_SET);
	for (int i = 0; i < 64; i++)
		fputc(0x5a, f);
	fclose(f);
	s->error[0] = 0;
	EXPECT_GT(0, clog_store_load(s, path));
	EXPECT_EQ(0, strncmp(want, s->error, strlen(want)));
	TH_LOG("corrupt: %s", s->error);

	EXPECT_EQ(-EISDIR, clog_store_load(s, "/tmp"));
	EXPECT_STREQ("/tmp: Is a directory", s->error);
	EXPECT_EQ(-ENOENT, clog_store_load(s, "/nonexistent/log"));
	EXPECT_STREQ("/nonexistent/log: No such file or directory", s->error);
	/* A good load clears the last error. */
	write_log(path, false, NULL);
	EXPECT_EQ(0, clog_store_load(s, path));
	EXPECT_STREQ("", s->error);
	unlink(path);
	clog_store_free(s);
}

/* "-" is standard input, plain or compressed, once. */
static void stdin_from(const char *path)
{
	int fd = open(path, O_RDONLY);

	dup2(fd, STDIN_FILENO);
	close(fd);
}

TEST(store_stdin)
{
	char path[] = "/tmp/test_log_XXXXXX";
	struct clog_store *s = clog_store_new();
	int fd = mkstemp(path);

	ASSERT_GE(fd, 0);
	close(fd);
	write_log(path, false, NULL);
	stdin_from(path);
	ASSERT_EQ(0, clog_store_load(s, "-")) {
		TH_LOG("%s", s->error);
	}
	ASSERT_EQ(1, s->nfiles);
	EXPECT_STREQ("-", s->files[0].name);
	EXPECT_TRUE(all_events(s, 0));
	/* Twice is an error, whatever standard input now is. */
	stdin_from(path);
	EXPECT_EQ(-EINVAL, clog_store_load(s, "-"));
	EXPECT_STREQ("-: standard input given twice", s->error);
	EXPECT_EQ(1, s->nfiles);
	clog_store_free(s);

	s = clog_store_new();
	write_log(path, true, NULL);
	stdin_from(path);
	ASSERT_EQ(0, clog_store_load(s, "-"));
	EXPECT_TRUE(all_events(s, 0));
	unlink(path);
	clog_store_free(s);
}

TEST(names)
{
	EXPECT_STREQ("ESTABLISHED", clog_tcp_state_name(1));
	EXPECT_STREQ("CLOSE_WAIT", clog_tcp_state_name(8));
	EXPECT_STREQ("NEW_SYN_RECV", clog_tcp_state_name(12));
	EXPECT_STREQ("UNKNOWN", clog_tcp_state_name(200));
	EXPECT_EQ(10, clog_tcp_state_parse("LISTEN"));
	EXPECT_EQ(-1, clog_tcp_state_parse("listen"));
	EXPECT_EQ(CAUSAL_EV_TCP_RETRANSMIT, clog_type_parse("tcp_retransmit"));
	EXPECT_EQ(-1, clog_type_parse("meta"));
	for (__u32 t = CAUSAL_EV_SEND; t < CAUSAL_EV_TYPES; t++)
		EXPECT_EQ((int)t, clog_type_parse(clog_type_name(t)));
}

TEST(link_str)
{
	struct causal_ev_link l;
	char buf[128];

	set_link(&l, 0);
	clog_link_str(&l, buf, sizeof(buf));
	EXPECT_STREQ("10.0.0.1:41000 -> 10.0.0.3:7000", buf);
	set_link(&l, 1);
	clog_link_str(&l, buf, sizeof(buf));
	EXPECT_STREQ("[fd00::1]:41000 -> [fd00::3]:7000", buf);
}

TEST_HARNESS_MAIN
