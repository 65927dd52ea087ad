/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Loading bpf/causal.bpf.c and reading its events: shared by causald and
 * causalctl trace.
 */
#ifndef CAUSAL_TRACER_H
#define CAUSAL_TRACER_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

#include "causal_event.h"

struct tracer_opts {
	bool filter_group;
	__u32 group;
	bool filter_node;
	__u16 node;
	__u32 pid;		/* 0: any */
	__u32 ev_mask;		/* CAUSAL_EV_BIT()s, 0: all */
	bool tcp_all;		/* TCP events of every connection */
	__u16 port;		/* only connections with this port, 0: any */
	bool filter_addr;	/* only connections with addr at either end */
	__u16 family;		/* of addr: AF_INET, AF_INET6 */
	__u8 addr[16];		/* IPv4 in the first 4 bytes */
	bool verbose;		/* libbpf's messages on stderr */
	size_t ringbuf_bytes;	/* 0: the default (8 MiB) */
};

/* Called for every event; a non-zero return stops tracer_poll(). */
typedef int (*tracer_event_fn)(void *ctx, const struct causal_event *ev);

struct tracer;

/* Load and attach. Without the module (no causal tracepoints) only the TCP
 * programs are attached and tracer_has_module() says so. On failure returns
 * NULL with the reason in @err.
 */
struct tracer *tracer_open(const struct tracer_opts *o, tracer_event_fn fn,
			   void *ctx, char *err, size_t errlen);
bool tracer_has_module(const struct tracer *t);
/* The ring buffer's epoll fd, to wait on it along with other fds. */
int tracer_fd(const struct tracer *t);
/* Consume what is ready, waiting up to @timeout_ms for a wakeup. The
 * programs wake the reader only once 64 KiB are queued: call this at least
 * every few hundred ms, even when tracer_fd() stays quiet. Returns events
 * handled or a negative errno.
 */
int tracer_poll(struct tracer *t, int timeout_ms);
/* Events the kernel dropped since the tracer started (ring buffer full);
 * by type in @by_type unless NULL.
 */
__u64 tracer_lost(const struct tracer *t, __u64 by_type[CAUSAL_EV_TYPES]);
void tracer_close(struct tracer *t);

/* An IPv4 or IPv6 address into @o's address filter; -1 if it is neither. */
int tracer_parse_addr(struct tracer_opts *o, const char *s);

/* The loaded module's MODULE_VERSION into @buf: 0, -ENOENT when the module
 * is not loaded, -ENODATA when it has no version.
 */
int tracer_module_version(char *buf, size_t len);

/* A comma-separated list of event types (docs/events.md names, or "causal"
 * and "tcp" for each kind) as a mask; -1 if one is unknown.
 */
long tracer_parse_types(const char *list);

#endif /* CAUSAL_TRACER_H */
