// SPDX-License-Identifier: GPL-2.0
/*
 * The event log (docs/events.md): names, the table of each type's fields
 * (causal_log_fields.h) and the one validity check that the writer
 * (causal_log_write.c), the parser (causal_log_parse.c) and the store
 * (causal_log_store.c) share, so that every line the writer produces
 * parses back to the same event and every event the parser returns could
 * have been written.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "causal_log.h"
#include "causal_log_fields.h"
#include "causal_wire.h"

#define MEMBER_SIZE(type, m)	sizeof(((struct type *)0)->m)

/* What the parser says of a field that is missing or bad, by kind. */
#define WHY_NUM(k)	"missing or bad \"" k "\""
#define WHY_NODE(k)	"missing, bad or out of range \"" k "\""
#define WHY_BOOL(k)	"missing or bad \"" k "\""
#define WHY_LINK(k)	NULL		/* get_link() says what */
#define WHY_ERR(k)	"missing or bad \"" k "\""
#define WHY_STATE(k)	"bad TCP state"

/* The X-macros of causal_log_fields.h as the array clog_types[]. */
#define FIELD(kind_, k, max_, evm, stm) {				\
	.key = k, .kind = CLOG_F_##kind_,				\
	.ev_size = MEMBER_SIZE(causal_event, evm),			\
	.st_size = MEMBER_SIZE(clog_ev, stm),				\
	.ev_off = offsetof(struct causal_event, evm),			\
	.st_off = offsetof(struct clog_ev, stm),			\
	.max = max_, .why = WHY_##kind_(k) },
#define COUNT(...)	+ 1
#define TYPE(ty, n, own, opt)						\
	[CAUSAL_EV_##ty] = {						\
		.name = n, .owner = own, .peer_optional = opt,		\
		.nfields = 0 CLOG_FIELDS_##ty(COUNT),			\
		.f = { CLOG_FIELDS_##ty(FIELD) },			\
	},

const struct clog_type clog_types[CAUSAL_EV_TYPES] = {
	CLOG_TYPES(TYPE)
	/* Not a line of the log: causald's model takes them. */
	[CAUSAL_EV_TOTALS] = { .name = "totals" },
};

/* include/net/tcp_states.h */
static const char * const tcp_state_names[CLOG_N_TCP_STATES] = {
	"UNKNOWN", "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1",
	"FIN_WAIT2", "TIME_WAIT", "CLOSE", "CLOSE_WAIT", "LAST_ACK", "LISTEN",
	"CLOSING", "NEW_SYN_RECV", "BOUND_INACTIVE",
};

const char *clog_type_name(__u32 type)
{
	return type < CAUSAL_EV_TYPES ? clog_types[type].name : NULL;
}

int clog_type_parse(const char *name)
{
	for (int t = CAUSAL_EV_SEND; t < CAUSAL_EV_TYPES; t++)
		if (!strcmp(name, clog_types[t].name))
			return t;
	return -1;
}

const char *clog_tcp_state_name(__u32 state)
{
	return tcp_state_names[state < CLOG_N_TCP_STATES ? state : 0];
}

int clog_tcp_state_parse(const char *name)
{
	for (size_t i = 0; i < CLOG_N_TCP_STATES; i++)
		if (!strcmp(name, tcp_state_names[i]))
			return i;
	return -1;
}

int clog_family_af(__u16 family)
{
	return family == AF_INET6 ? AF_INET6 : AF_INET;
}

void clog_link_str(const struct causal_ev_link *l, char *buf, size_t size)
{
	char s[INET6_ADDRSTRLEN], d[INET6_ADDRSTRLEN];
	bool v6 = l->family == AF_INET6;

	if (l->family != AF_INET && !v6) {
		snprintf(buf, size, "unknown link");
		return;
	}
	inet_ntop(clog_family_af(l->family), l->saddr, s, sizeof(s));
	inet_ntop(clog_family_af(l->family), l->daddr, d, sizeof(d));
	snprintf(buf, size, v6 ? "[%s]:%u -> [%s]:%u" : "%s:%u -> %s:%u",
		 s, l->sport, d, l->dport);
}

bool clog_host_ok(const char *host)
{
	size_t n = strlen(host);

	return n && n < CLOG_HOST_MAX;
}

/* ---------------------------------------------------------------------- */
/* Validity, shared by writer, parser and store                            */
/* ---------------------------------------------------------------------- */

const char *clog_ev_check(const struct causal_event *ev, const char *host)
{
	const struct clog_type *t;
	__u16 owner;

	if (!clog_host_ok(host))
		return "host empty or too long";
	if (!clog_is_logged(ev->type))
		return "not a logged type";
	if (clog_has_link(ev->type) && ev->link.family &&
	    ev->link.family != AF_INET && ev->link.family != AF_INET6)
		return "bad link family";
	if (!clog_is_causal(ev->type))
		return NULL;
	t = &clog_types[ev->type];
	if (!ev->nodes || ev->nodes > CAUSAL_EV_MAX_NODES)
		return "vclock size out of range";
	if (ev->node >= ev->nodes)
		return "node out of range";
	if (ev->peer == CAUSAL_EV_NO_PEER) {
		if (!t->peer_optional)
			return "peer missing";
	} else if (ev->peer >= ev->nodes || ev->peer == ev->node) {
		return "peer out of range";
	}
	for (int i = 0; i < t->nfields; i++)
		if (t->f[i].kind == CLOG_F_NODE &&
		    clog_ev_field(ev, &t->f[i]) >= ev->nodes)
			return t->f[i].why;
	if (t->owner != CLOG_OWN_NONE) {
		owner = t->owner == CLOG_OWN_NODE ? ev->node : ev->peer;
		if (ev->vclock[owner] != ev->stamp)
			return "stamp does not match the vclock";
	}
	return NULL;
}
