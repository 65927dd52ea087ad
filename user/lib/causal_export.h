/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Exports of event logs (docs/analysis.md): a ShiViz log, and a space-time
 * diagram as SVG or as an HTML page with a legend.
 */
#ifndef _CAUSAL_EXPORT_H
#define _CAUSAL_EXPORT_H

#include <stdio.h>

#include "causal_log.h"

/* ShiViz's own default parser: an event line, then "host {clock}". */
#define CEXP_SHIVIZ_REGEX	"(?<event>.*)\\n(?<host>\\S*) (?<clock>{.*})"
#define CEXP_MAX_EVENTS		120	/* events drawn by default */
#define CEXP_CAP_EVENTS		900	/* and at most */
#define CEXP_BUCKETS		200	/* of the HTML page's overview strip */

/* A time given to --from or --to: from the run's start, or wall clock. */
struct cexp_time {
	bool set;
	bool wall;		/* ns since the epoch (UTC) */
	__s64 ns;		/* else from the group's first event */
};

/*
 * "12.5s", "+800ms", "12" (seconds), "250us", "1000ns": from the run's
 * start; "2026-12-03 10:00:01.5", "2026-12-03T10:00:01" or "10:00:01.25"
 * (that time on the run's first day): wall clock, UTC. 0 or -EINVAL.
 */
int cexp_parse_time(const char *s, struct cexp_time *t);

struct cexp_opts {
	bool has_group;
	__u32 group;
	size_t max_events;	/* diagram: 0 is CEXP_MAX_EVENTS; at most
				 * CEXP_CAP_EVENTS
				 */
	bool has_around;	/* diagram: a window around this message */
	__u16 around_sender;
	__u64 around_stamp;
	struct cexp_time from, to;	/* or this window */
};

/* Why the diagram shows the window it shows. */
enum cexp_reason {
	CEXP_R_NONE,		/* nothing to draw */
	CEXP_R_VIOLATION,	/* around the first happens-before violation */
	CEXP_R_ANOMALY,		/* the longest hold of the worst anomaly */
	CEXP_R_HOLD,		/* the longest hold */
	CEXP_R_START,		/* nothing held: the run's first messages */
	CEXP_R_AROUND,		/* --around */
	CEXP_R_RANGE,		/* --from/--to */
};

/* What an export wrote. */
struct cexp_info {
	bool has_group;		/* the diagram's group */
	__u32 group;
	size_t events;		/* ShiViz: events; diagram: events drawn */
	size_t msgs;		/* diagram: messages of the group */
	size_t shown;		/* diagram: messages drawn */
	size_t max_events;	/* diagram: the limit applied */
	bool capped;		/* more than CEXP_CAP_EVENTS were asked for */
	enum cexp_reason reason;
	bool wall;		/* the time line is wall clock (meta lines) */
	__s64 from_ns, to_ns;	/* the window drawn, from the run's start */
	__s64 run_ns;		/* the run: the group's first to last event */
	size_t violations;	/* drawn */
	size_t lanes;		/* most hold lanes beside one node's line */
	char window[384];	/* the window and why, in words */
};

/*
 * ShiViz log of the send, arrive, hold, deliver, peer and error events of
 * @o's group (every group without one). ShiViz host "g<group>/n<node>";
 * each host's own entry counts its events from 1, a delivery merges the
 * clock of its send. 0 or -errno.
 */
int cexp_shiviz(FILE *f, const struct clog_store *s, const struct cexp_opts *o,
		struct cexp_info *info);

/*
 * Space-time diagram of one group (@o's, else the one with most sends), all
 * hosts on one time line, of at most max_events events: by default around
 * the top finding (a violation, else the worst anomaly's longest hold, else
 * the longest hold), or around @o's message, or in its from/to window.
 * -ENOENT when the --around message is not in the group, -EINVAL for a
 * wall-clock time without meta lines or an empty window.
 */
int cexp_svg(FILE *f, const struct clog_store *s, const struct cexp_opts *o,
	     struct cexp_info *info);
int cexp_html(FILE *f, const struct clog_store *s, const struct cexp_opts *o,
	      struct cexp_info *info);

#endif /* _CAUSAL_EXPORT_H */
