/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Scenes for the analysis and export tests: causal events of one group
 * added straight to a log store, node i on host "a" + i unless a test
 * renames it.
 */
#ifndef _TEST_SCENE_H
#define _TEST_SCENE_H

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "causal_log.h"

#define SCENE_NODES	8

struct scene {
	struct clog_store *s;
	__u32 group;
	__u16 nodes;
	char host[SCENE_NODES][24];	/* per node */
};

static inline void sc_init(struct scene *sc, __u32 group, __u16 nodes)
{
	memset(sc, 0, sizeof(*sc));
	sc->s = clog_store_new();
	sc->group = group;
	sc->nodes = nodes;
	for (int i = 0; i < SCENE_NODES; i++)
		snprintf(sc->host[i], sizeof(sc->host[i]), "%c", 'a' + i);
	clog_store_begin(sc->s, "scene");
}

static inline void sc_add(struct scene *sc, const char *host,
			  const struct causal_event *ev)
{
	static struct clog_line l;

	memset(&l, 0, sizeof(l));
	l.kind = CLOG_EVENT;
	snprintf(l.host, sizeof(l.host), "%s", host);
	l.ev = *ev;
	l.ts = ev->ts_ns;
	clog_store_add(sc->s, &l);
}

/* A causal event of node @node whose stamp belongs to @owner; only that
 * entry of its clock is set.
 */
static inline void sc_ev(struct scene *sc, struct causal_event *ev,
			 __u32 type, __u16 node, __u64 ts, __u16 peer,
			 __u16 owner, __u64 stamp)
{
	memset(ev, 0, sizeof(*ev));
	ev->type = type;
	ev->ts_ns = ts;
	ev->group = sc->group;
	ev->node = node;
	ev->nodes = sc->nodes;
	ev->peer = peer;
	ev->stamp = stamp;
	ev->vclock[owner] = stamp;
}

/* One event of a message's life per call: a send to @to (-1: broadcast),
 * its arrival, hold and delivery at @node; peer and TCP events with their
 * IPv4 link.
 */
static inline void sc_send(struct scene *sc, __u16 node, __u64 ts, __u64 stamp,
		    int to)
{
	struct causal_event ev;

	sc_ev(sc, &ev, CAUSAL_EV_SEND, node, ts,
	      to < 0 ? CAUSAL_EV_NO_PEER : to, node, stamp);
	ev.targets = to < 0 ? sc->nodes - 1 : 1;
	sc_add(sc, sc->host[node], &ev);
}

static inline void sc_arrive(struct scene *sc, __u16 node, __u64 ts, __u16 from,
		      __u64 stamp)
{
	struct causal_event ev;

	sc_ev(sc, &ev, CAUSAL_EV_ARRIVE, node, ts, from, from, stamp);
	sc_add(sc, sc->host[node], &ev);
}

static inline void sc_hold(struct scene *sc, __u16 node, __u64 ts, __u16 from,
		    __u64 stamp, __u16 wait_node, __u64 wait_stamp)
{
	struct causal_event ev;

	sc_ev(sc, &ev, CAUSAL_EV_HOLD, node, ts, from, from, stamp);
	ev.wait_node = wait_node;
	ev.wait_stamp = wait_stamp;
	sc_add(sc, sc->host[node], &ev);
}

static inline void sc_deliver(struct scene *sc, __u16 node, __u64 ts, __u16 from,
		       __u64 stamp, __u64 held_ns, bool gap)
{
	struct causal_event ev;

	sc_ev(sc, &ev, CAUSAL_EV_DELIVER, node, ts, from, from, stamp);
	ev.held_ns = held_ns;
	ev.gap = gap;
	sc_add(sc, sc->host[node], &ev);
}

static inline void set_link(struct causal_ev_link *l, const char *s, __u16 sp,
		     const char *d, __u16 dp)
{
	memset(l, 0, sizeof(*l));
	l->family = AF_INET;
	inet_pton(AF_INET, s, l->saddr);
	inet_pton(AF_INET, d, l->daddr);
	l->sport = sp;
	l->dport = dp;
}

static inline void sc_peer(struct scene *sc, __u16 node, __u64 ts, __u16 peer,
		    const char *s, __u16 sp, const char *d, __u16 dp)
{
	struct causal_event ev;

	sc_ev(sc, &ev, CAUSAL_EV_PEER, node, ts, peer, peer, 0);
	ev.joined = 1;
	ev.incarnation = 0x100 + peer;
	set_link(&ev.link, s, sp, d, dp);
	sc_add(sc, sc->host[node], &ev);
}

static inline void sc_tcp(struct scene *sc, const char *host, __u32 type, __u64 ts,
		   const char *s, __u16 sp, const char *d, __u16 dp)
{
	struct causal_event ev = { .type = type, .ts_ns = ts,
				   .peer = CAUSAL_EV_NO_PEER, .tcp_state = 1 };

	set_link(&ev.link, s, sp, d, dp);
	sc_add(sc, host, &ev);
}

/* The log's meta line, from @host: CLOCK_REALTIME was @realtime_ns when
 * its monotonic clock read @started_ts. First, as causald writes it.
 */
static inline void sc_meta(struct scene *sc, const char *host,
			   __u64 started_ts, __u64 realtime_ns)
{
	static struct clog_line l;

	memset(&l, 0, sizeof(l));
	l.kind = CLOG_META;
	snprintf(l.host, sizeof(l.host), "%s", host);
	snprintf(l.meta.boot_id, sizeof(l.meta.boot_id), "boot-%s", host);
	l.meta.started_ts = started_ts;
	l.meta.realtime_ns = realtime_ns;
	clog_store_add(sc->s, &l);
}

#endif /* _TEST_SCENE_H */
