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
#define CEXP_MAX_MSGS		300	/* messages drawn by default */

struct cexp_opts {
	bool has_group;
	__u32 group;
	size_t max_msgs;	/* diagram: 0 is CEXP_MAX_MSGS */
};

/* What an export wrote. */
struct cexp_info {
	bool has_group;		/* the diagram's group */
	__u32 group;
	size_t events;		/* ShiViz: events; diagram: events drawn */
	size_t msgs;		/* diagram: messages of the group */
	size_t shown;		/* diagram: messages drawn */
};

/*
 * ShiViz log of the send, arrive, hold, deliver, peer and error events of
 * @o's group (every group without one). ShiViz host "g<group>/n<node>";
 * each host's own entry counts its events from 1, a delivery merges the
 * clock of its send. 0 or -errno.
 */
int cexp_shiviz(FILE *f, const struct clog_store *s, const struct cexp_opts *o,
		struct cexp_info *info);

/* Space-time diagram of one group (@o's, else the one with most sends). */
int cexp_svg(FILE *f, const struct clog_store *s, const struct cexp_opts *o,
	     struct cexp_info *info);
int cexp_html(FILE *f, const struct clog_store *s, const struct cexp_opts *o,
	      struct cexp_info *info);

#endif /* _CAUSAL_EXPORT_H */
