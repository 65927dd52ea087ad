// SPDX-License-Identifier: GPL-2.0
/*
 * The causal chain of one delivery (causal_why.h): what it waited for, what
 * that waited for, down to the message whose lateness or absence explains
 * the rest, with the evidence the logs have for it (its time in transit,
 * TCP retransmits on its channel, its sender's last send).
 */
#include <errno.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "causal_why.h"

/* One end of a TCP connection. */
struct tcp_end {
	__u16 family;
	__u16 port;
	__u8 addr[16];
};

/* A channel's connection in the direction of its data: @from sends. */
struct tcp_dir {
	struct tcp_end from, to;
};

static void end_of(struct tcp_end *e, __u16 family, const __u8 *addr,
		   __u16 port)
{
	memset(e, 0, sizeof(*e));
	e->family = family;
	e->port = port;
	memcpy(e->addr, addr, family == AF_INET ? 4 : 16);
}

static bool same_end(const struct tcp_end *x, const struct tcp_end *y)
{
	return !memcmp(x, y, sizeof(*x));
}

/*
 * The connections that carried @sender's messages to @node: from the peer
 * events of either end (a peer event's link starts at its own node).
 */
static size_t channel_dirs(const struct clog_store *s, __u32 group,
			   __u16 sender, __u16 node, struct tcp_dir *dirs,
			   size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < s->nev && n < max; i++) {
		const struct clog_ev *e = &s->ev[i];
		const struct causal_ev_link *l;
		struct tcp_dir d;
		size_t k;

		if (e->type != CAUSAL_EV_PEER || e->group != group)
			continue;
		l = clog_ev_link(s, e);
		if (!l || !l->family)
			continue;
		if (e->node == node && e->peer == sender) {
			end_of(&d.from, l->family, l->daddr, l->dport);
			end_of(&d.to, l->family, l->saddr, l->sport);
		} else if (e->node == sender && e->peer == node) {
			end_of(&d.from, l->family, l->saddr, l->sport);
			end_of(&d.to, l->family, l->daddr, l->dport);
		} else {
			continue;
		}
		for (k = 0; k < n; k++)
			if (same_end(&dirs[k].from, &d.from) &&
			    same_end(&dirs[k].to, &d.to))
				break;
		if (k == n)
			dirs[n++] = d;
	}
	return n;
}

/* Retransmits by the sending end of @dirs, logged by @host in [from, to]. */
static __u64 retransmits(const struct clog_store *s, const struct tcp_dir *dirs,
			 size_t ndirs, __u32 host, __u64 from, __u64 to)
{
	__u64 n = 0;

	for (size_t i = 0; i < s->nev; i++) {
		const struct clog_ev *e = &s->ev[i];
		const struct causal_ev_link *l;
		struct tcp_end src, dst;

		if (e->type != CAUSAL_EV_TCP_RETRANSMIT || e->host != host ||
		    e->ts < from || e->ts > to)
			continue;
		l = clog_ev_link(s, e);
		if (!l)
			continue;
		end_of(&src, l->family, l->saddr, l->sport);
		end_of(&dst, l->family, l->daddr, l->dport);
		for (size_t k = 0; k < ndirs; k++) {
			if (same_end(&dirs[k].from, &src) &&
			    same_end(&dirs[k].to, &dst)) {
				n++;
				break;
			}
		}
	}
	return n;
}

/* @ts of @from on @to's clock, where the logs relate the two. */
static bool on_clock(const struct cwhy_chain *c, __u32 from, __u32 to,
		     __u64 ts, __s64 *out)
{
	if (from == to) {
		*out = ts;
		return true;
	}
	if (from == CLOG_NONE || to == CLOG_NONE || !c->has_wall[from] ||
	    !c->has_wall[to])
		return false;
	*out = (__s64)(ts + c->wall_off[from] - c->wall_off[to]);
	return true;
}

/* What the logs say of @st, the message (st->sender, st->stamp) at the
 * chain's node.
 */
static void fill_step(const struct cana_index *ix, struct cwhy_chain *c,
		      struct cwhy_step *st)
{
	const struct clog_store *s = ix->s;
	__u32 m = cana_find_msg(ix, c->group, st->sender, st->stamp);
	const struct cana_rec *rc;

	if (m != CLOG_NONE) {
		const struct clog_ev *e = &s->ev[ix->msgs[m].ev];

		st->has_send = true;
		st->send_host = e->host;
		st->send_ts = e->ts;
	}
	st->rec = cana_find_rec(ix, c->group, c->node, st->sender, st->stamp);
	if (st->rec == CLOG_NONE)
		return;
	rc = &ix->recs[st->rec];
	st->arrived = cana_rec_arrival(ix, rc, &st->arrive_ts);
	if (rc->deliver != CLOG_NONE) {
		const struct clog_ev *d = &s->ev[rc->deliver];

		st->delivered = true;
		st->deliver_ts = d->ts;
		st->held_ns = d->held_ns;
		st->gap = d->flag;
	}
	if (rc->hold != CLOG_NONE) {
		const struct clog_ev *h = &s->ev[rc->hold];

		st->waits = true;
		st->wait_node = h->wait_node;
		st->wait_stamp = h->wait_stamp;
	}
	if (st->has_send && st->arrived) {
		__s64 sent;
		struct tcp_dir dirs[8];
		size_t n;

		if (on_clock(c, st->send_host, c->host, st->send_ts, &sent)) {
			st->has_transit = true;
			st->transit_ns = (__s64)st->arrive_ts - sent;
		}
		if (st->has_transit && st->transit_ns > 0) {
			n = channel_dirs(s, c->group, st->sender, c->node, dirs,
					 sizeof(dirs) / sizeof(dirs[0]));
			st->retransmits = retransmits(s, dirs, n, st->send_host,
						      st->send_ts,
						      st->send_ts + st->transit_ns);
		}
	}
}

/* The last send of @sender in the logs: false if it has none. */
static bool last_send(const struct cana_index *ix, __u32 group, __u16 sender,
		      __u64 *stamp, __u64 *ts, __u32 *host)
{
	bool found = false;

	for (size_t i = 0; i < ix->nmsgs; i++) {
		const struct clog_ev *e = &ix->s->ev[ix->msgs[i].ev];

		if (e->group == group && e->node == sender) {
			*stamp = e->stamp;
			*ts = e->ts;
			*host = e->host;
			found = true;
		}
	}
	return found;
}

int cwhy_explain(const struct cana_index *ix, __u32 group, __u16 node,
		 __u16 sender, __u64 stamp, struct cwhy_chain *c)
{
	__u32 nd = cana_find_node(ix, group, node);

	memset(c, 0, sizeof(*c));
	c->group = group;
	c->node = node;
	c->host = nd == CLOG_NONE ? CLOG_NONE : ix->nodes[nd].host;
	if (cana_host_offsets(ix->s, &c->wall_off, &c->has_wall))
		return -ENOMEM;
	if (cana_find_rec(ix, group, node, sender, stamp) == CLOG_NONE)
		return -ENOENT;
	c->step[0].sender = sender;
	c->step[0].stamp = stamp;
	for (;;) {
		struct cwhy_step *st = &c->step[c->n++];
		const struct cwhy_step *prev = c->n > 1 ? st - 1 : NULL;

		fill_step(ix, c, st);
		if (st->rec == CLOG_NONE) {
			__u64 ls = 0, lt = 0;

			if (st->has_send)
				c->root = CWHY_MISSING;
			else if (cana_find_node(ix, group, st->sender) == CLOG_NONE)
				c->root = CWHY_NO_LOG;
			else
				c->root = CWHY_NOT_SENT;
			if (c->root == CWHY_NOT_SENT &&
			    last_send(ix, group, st->sender, &ls, &lt,
				      &c->last_send_host)) {
				c->last_send_stamp = ls;
				c->last_send_ts = lt;
			}
			return 0;
		}
		if (!st->waits) {
			/* Still held at the end, or held for a while. */
			bool held = st->delivered ? st->held_ns > 0 : true;
			__u32 behind = st->rec - 1;

			if (!held) {
				c->root = prev ? CWHY_LATE : CWHY_NOT_HELD;
				return 0;
			}
			/* Only a channel's head has a hold event: one behind
			 * it waited for the channel's previous message.
			 */
			if (!st->rec || ix->recs[behind].group != group ||
			    ix->recs[behind].node != node ||
			    ix->recs[behind].sender != st->sender) {
				c->root = CWHY_UNKNOWN;
				return 0;
			}
			st->behind = true;
			st->wait_node = st->sender;
			st->wait_stamp = ix->recs[behind].stamp;
		}
		for (size_t i = 0; i < c->n; i++) {
			if (c->step[i].sender == st->wait_node &&
			    c->step[i].stamp == st->wait_stamp) {
				c->root = CWHY_LOOP;
				return 0;
			}
		}
		if (c->n == CWHY_MAX_STEPS) {
			c->root = CWHY_UNKNOWN;
			return 0;
		}
		c->step[c->n].sender = st->wait_node;
		c->step[c->n].stamp = st->wait_stamp;
	}
}

bool cwhy_longest_hold(const struct cana_index *ix, __u32 group, __u16 *node,
		       __u16 *sender, __u64 *stamp)
{
	__u64 longest = 0;

	for (size_t i = 0; i < ix->nrecs; i++) {
		const struct cana_rec *rc = &ix->recs[i];
		__u64 held, arrived;

		if (rc->group != group)
			continue;
		if (rc->deliver != CLOG_NONE)
			held = ix->s->ev[rc->deliver].held_ns;
		else if (rc->hold != CLOG_NONE &&
			 cana_rec_arrival(ix, rc, &arrived) &&
			 ix->host_last[ix->nodes[rc->rnode].host] > arrived)
			held = ix->host_last[ix->nodes[rc->rnode].host] - arrived;
		else
			continue;
		if (held > longest) {
			longest = held;
			*node = rc->node;
			*sender = rc->sender;
			*stamp = rc->stamp;
		}
	}
	return longest;
}

void cwhy_free(struct cwhy_chain *c)
{
	free(c->wall_off);
	free(c->has_wall);
	c->wall_off = NULL;
	c->has_wall = NULL;
}

const char *cwhy_root_name(enum cwhy_root root)
{
	static const char *const names[] = {
		[CWHY_NOT_HELD] = "not_held",
		[CWHY_LATE] = "late",
		[CWHY_MISSING] = "missing",
		[CWHY_NOT_SENT] = "not_sent",
		[CWHY_NO_LOG] = "no_log",
		[CWHY_UNKNOWN] = "unknown",
		[CWHY_LOOP] = "loop",
	};

	return names[root];
}

void cwhy_time_str(const struct cwhy_chain *c, __u32 host, __u64 ts,
		   char *buf, size_t size)
{
	if (host != CLOG_NONE && c->has_wall[host])
		cana_wall_str(ts + c->wall_off[host], buf, size);
	else
		snprintf(buf, size, "%llu.%06llu",
			 (unsigned long long)(ts / 1000000000ULL),
			 (unsigned long long)(ts % 1000000000ULL / 1000));
}

static const struct cwhy_step *last_step(const struct cwhy_chain *c)
{
	return &c->step[c->n - 1];
}

void cwhy_root_text(const struct clog_store *s, const struct cwhy_chain *c,
		    char *buf, size_t size)
{
	const struct cwhy_step *st = last_step(c), *first = &c->step[0];
	char t[64], d[32];

	switch (c->root) {
	case CWHY_NOT_HELD:
		snprintf(buf, size, "%u:%llu was delivered as it came: it waited for nothing",
			 first->sender, (unsigned long long)first->stamp);
		break;
	case CWHY_LATE:
		if (st->has_transit) {
			cana_fmt_ns(st->transit_ns > 0 ? st->transit_ns : 0, d,
				    sizeof(d));
			char rtx[64] = "";

			if (st->retransmits)
				snprintf(rtx, sizeof(rtx),
					 ", %llu TCP retransmit%s meanwhile",
					 (unsigned long long)st->retransmits,
					 st->retransmits > 1 ? "s" : "");
			snprintf(buf, size,
				 "%u:%llu came late: %s on the way from node %u (host %s) to node %u%s",
				 st->sender, (unsigned long long)st->stamp, d,
				 st->sender, clog_str(s, st->send_host), c->node,
				 rtx);
		} else {
			cana_fmt_ns(st->arrive_ts > first->arrive_ts ?
				    st->arrive_ts - first->arrive_ts : 0, d,
				    sizeof(d));
			snprintf(buf, size,
				 "%u:%llu came late: it arrived %s after %u:%llu (its time on the way is not known: %s)",
				 st->sender, (unsigned long long)st->stamp, d,
				 first->sender, (unsigned long long)first->stamp,
				 st->has_send ? "the two hosts' logs have no meta line" :
				 "no log has its send");
		}
		break;
	case CWHY_MISSING:
		cwhy_time_str(c, st->send_host, st->send_ts, t, sizeof(t));
		snprintf(buf, size,
			 "%u:%llu never arrived at node %u: node %u (host %s) sent it at %s%s",
			 st->sender, (unsigned long long)st->stamp, c->node,
			 st->sender, clog_str(s, st->send_host), t,
			 first->gap ? "; the hold timeout gave it up (a gap)" : "");
		break;
	case CWHY_NOT_SENT:
		if (c->last_send_ts) {
			cwhy_time_str(c, c->last_send_host, c->last_send_ts, t,
				      sizeof(t));
			snprintf(buf, size,
				 "node %u never sent %u:%llu in these logs: its last send was %u:%llu at %s",
				 st->sender, st->sender,
				 (unsigned long long)st->stamp, st->sender,
				 (unsigned long long)c->last_send_stamp, t);
		} else {
			snprintf(buf, size,
				 "node %u never sent %u:%llu in these logs: it sent nothing",
				 st->sender, st->sender,
				 (unsigned long long)st->stamp);
		}
		break;
	case CWHY_NO_LOG:
		snprintf(buf, size,
			 "%u:%llu never arrived, and no log of node %u is given: what it did is not known",
			 st->sender, (unsigned long long)st->stamp, st->sender);
		break;
	case CWHY_UNKNOWN:
		snprintf(buf, size,
			 "%u:%llu was held, but no hold event says for what (events lost, or a log of causald's default mode)",
			 st->sender, (unsigned long long)st->stamp);
		break;
	case CWHY_LOOP:
		snprintf(buf, size,
			 "the chain comes back to %u:%llu: the logs are inconsistent",
			 st->wait_node, (unsigned long long)st->wait_stamp);
		break;
	}
}

void cwhy_advice(const struct clog_store *s, const struct cwhy_chain *c,
		 char *buf, size_t size)
{
	const struct cwhy_step *st = last_step(c);
	const char *from = clog_str(s, st->send_host);

	switch (c->root) {
	case CWHY_NOT_HELD:
		snprintf(buf, size, "nothing to do");
		break;
	case CWHY_LATE:
		if (st->retransmits)
			snprintf(buf, size,
				 "the path from host %s to host %s loses packets: look at it (ss -ti on %s: retrans, rtt; the link's errors)",
				 from, clog_str(s, c->host), from);
		else
			snprintf(buf, size,
				 "the path from host %s to host %s is slow, or node %u's socket was backed up: compare its rtt with the other links (ss -ti on %s) and look at node %u's send queue",
				 from, clog_str(s, c->host), st->sender, from,
				 st->sender);
		break;
	case CWHY_MISSING:
		snprintf(buf, size,
			 "look at the channel from node %u to node %u: its state and last error (causalctl status on host %s), and its connection (ss -ti)",
			 st->sender, c->node, clog_str(s, c->host));
		break;
	case CWHY_NOT_SENT:
		snprintf(buf, size,
			 "node %u stopped sending: is its process alive and its log complete?",
			 st->sender);
		break;
	case CWHY_NO_LOG:
		snprintf(buf, size,
			 "add the log of node %u's host (causald --audit there) to see why",
			 st->sender);
		break;
	case CWHY_UNKNOWN:
		snprintf(buf, size,
			 "run causald --audit (every event) and look again; see its lost events");
		break;
	case CWHY_LOOP:
		snprintf(buf, size,
			 "check the logs: causalctl analyze reports what is inconsistent");
		break;
	}
}
