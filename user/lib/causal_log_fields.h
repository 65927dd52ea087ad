/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What each event type carries beyond the fields every event of its kind
 * has (docs/events.md): one table, below, that the writer, the parser, the
 * validity check and the store all use, so that a new field is one line
 * here and nowhere else.
 *
 * Every causal event (send .. error) has pid, comm, group, node, peer and
 * stamp before its own fields and the vclock after them; a TCP event has
 * only its own fields after ts. A field names its key, how it is written
 * (a number, a boolean, a link, an error or a TCP state name) and where it
 * lives in struct causal_event and in the store's struct clog_ev.
 *
 * Internal to user/lib/causal_log*.c.
 */
#ifndef _CAUSAL_LOG_FIELDS_H
#define _CAUSAL_LOG_FIELDS_H

#include <stddef.h>
#include <string.h>

#include "causal_log.h"

/*
 * The table, as X-macros: CLOG_TYPES(T) calls T(TYPE, "name", owner,
 * peer_optional) for each type of the log, CLOG_FIELDS_TYPE(F) calls
 * F(KIND, "key", max, member of causal_event, member of clog_ev) for each
 * of its own fields in the order they are written. causal_log.c expands
 * them into the array clog_types[] that the parser, the check and the
 * store walk; the writer expands them into code, so that its hot path has
 * every key and member as a constant.
 */
#define CLOG_TYPES(T)							\
	T(SEND, "send", CLOG_OWN_NODE, true)				\
	T(ARRIVE, "arrive", CLOG_OWN_PEER, false)			\
	T(HOLD, "hold", CLOG_OWN_PEER, false)				\
	T(DELIVER, "deliver", CLOG_OWN_PEER, false)			\
	T(CLOCK, "clock", CLOG_OWN_PEER, false)				\
	T(PEER, "peer", CLOG_OWN_NONE, false)				\
	T(ERROR, "error", CLOG_OWN_NODE, true)				\
	T(TCP_RETRANSMIT, "tcp_retransmit", CLOG_OWN_NONE, false)	\
	T(TCP_STATE, "tcp_state", CLOG_OWN_NONE, false)			\
	T(TCP_RESET, "tcp_reset", CLOG_OWN_NONE, false)

#define CLOG_FIELDS_SEND(F)						\
	F(NUM, "len", UINT32_MAX, len, len)				\
	F(NUM, "targets", UINT32_MAX, targets, targets)
#define CLOG_FIELDS_ARRIVE(F)						\
	F(NUM, "len", UINT32_MAX, len, len)
#define CLOG_FIELDS_HOLD(F)						\
	F(NODE, "wait_node", CAUSAL_EV_MAX_NODES - 1, wait_node, wait_node) \
	F(NUM, "wait_stamp", UINT64_MAX, wait_stamp, wait_stamp)
#define CLOG_FIELDS_DELIVER(F)						\
	F(NUM, "index", UINT64_MAX, index, index)			\
	F(NUM, "held_ns", UINT64_MAX, held_ns, held_ns)			\
	F(BOOL, "gap", 1, gap, flag)
#define CLOG_FIELDS_CLOCK(F)
#define CLOG_FIELDS_PEER(F)						\
	F(BOOL, "joined", 1, joined, flag)				\
	F(NUM, "incarnation", UINT64_MAX, incarnation, incarnation)	\
	F(LINK, "link", 0, link, link)
#define CLOG_FIELDS_ERROR(F)						\
	F(ERR, "err", 0, err, err)
#define CLOG_FIELDS_TCP_RETRANSMIT(F)					\
	F(LINK, "link", 0, link, link)					\
	F(STATE, "state", 0, tcp_state, tcp_state)
#define CLOG_FIELDS_TCP_STATE(F)					\
	F(LINK, "link", 0, link, link)					\
	F(STATE, "old", 0, tcp_oldstate, tcp_oldstate)			\
	F(STATE, "new", 0, tcp_state, tcp_state)
#define CLOG_FIELDS_TCP_RESET(F)					\
	F(LINK, "link", 0, link, link)					\
	F(BOOL, "rx", 1, tcp_rx, flag)

enum clog_fkind {
	CLOG_F_NUM,	/* a JSON integer up to max */
	CLOG_F_NODE,	/* a node of the event's clock: below its nodes */
	CLOG_F_BOOL,	/* true or false; the store's flag */
	CLOG_F_LINK,	/* an object or null; the store interns it */
	CLOG_F_ERR,	/* causal_proto_err_name() */
	CLOG_F_STATE,	/* clog_tcp_state_name() */
};

struct clog_field {
	const char *key;
	__u8 kind;		/* enum clog_fkind */
	__u8 ev_size;		/* bytes of the member in struct causal_event */
	__u8 st_size;		/* and in struct clog_ev */
	__u16 ev_off;
	__u16 st_off;
	__u64 max;		/* CLOG_F_NUM, CLOG_F_NODE */
	const char *why;	/* the parser's word when it is missing or bad */
};

/* Whose entry of the vector clock an event's stamp is. */
enum clog_owner {
	CLOG_OWN_NONE,		/* not fixed (peer) */
	CLOG_OWN_NODE,		/* its own: send, error */
	CLOG_OWN_PEER,		/* the sender's: arrive .. clock */
};

#define CLOG_FIELDS_MAX	3	/* a type with more does not compile */

struct clog_type {
	const char *name;
	__u8 owner;		/* enum clog_owner, causal types */
	bool peer_optional;	/* peer may be null: broadcast send, early error */
	__u8 nfields;
	struct clog_field f[CLOG_FIELDS_MAX];
};

extern const struct clog_type clog_types[CAUSAL_EV_TYPES];

#define CLOG_N_TCP_STATES	14

/* A struct member of either side, as an unsigned number. */
static inline __u64 clog_field_get(const void *base, unsigned int off,
				   unsigned int size)
{
	const char *p = (const char *)base + off;

	switch (size) {
	case 1:
		return *(const __u8 *)p;
	case 2:
		return *(const __u16 *)p;
	case 4:
		return *(const __u32 *)p;
	default:
		return *(const __u64 *)p;
	}
}

static inline void clog_field_set(void *base, unsigned int off,
				  unsigned int size, __u64 v)
{
	char *p = (char *)base + off;

	switch (size) {
	case 1:
		*(__u8 *)p = v;
		break;
	case 2:
		*(__u16 *)p = v;
		break;
	case 4:
		*(__u32 *)p = v;
		break;
	default:
		*(__u64 *)p = v;
		break;
	}
}

static inline __u64 clog_ev_field(const struct causal_event *ev,
				  const struct clog_field *f)
{
	return clog_field_get(ev, f->ev_off, f->ev_size);
}

/* Shared by writer, parser and store: why @ev cannot be a line of the log,
 * NULL when it can.
 */
const char *clog_ev_check(const struct causal_event *ev, const char *host);
bool clog_host_ok(const char *host);
int clog_family_af(__u16 family);

#endif /* _CAUSAL_LOG_FIELDS_H */
