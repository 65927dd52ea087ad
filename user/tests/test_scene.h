/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Scenes for the analysis and export tests: causal events of one group
 * added straight to a log store, node i on host "a" + i unless a test
 * renames it.
 */
#ifndef _TEST_SCENE_H
#define _TEST_SCENE_H

#include <stdio.h>
#include <string.h>

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

#endif /* _TEST_SCENE_H */
