// SPDX-License-Identifier: GPL-2.0
/*
 * Event log codec and store (docs/events.md). The writer and the parser
 * share one validity check, so that every line the writer produces parses
 * back to the same event and every event the parser returns could have been
 * written.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <sys/socket.h>
#include <time.h>

#include "causal_log.h"
#include "causal_wire.h"

static const char * const type_names[CAUSAL_EV_TYPES] = {
	[CAUSAL_EV_SEND]		= "send",
	[CAUSAL_EV_ARRIVE]		= "arrive",
	[CAUSAL_EV_HOLD]		= "hold",
	[CAUSAL_EV_DELIVER]		= "deliver",
	[CAUSAL_EV_CLOCK]		= "clock",
	[CAUSAL_EV_PEER]		= "peer",
	[CAUSAL_EV_ERROR]		= "error",
	[CAUSAL_EV_TOTALS]		= "totals",
	[CAUSAL_EV_TCP_RETRANSMIT]	= "tcp_retransmit",
	[CAUSAL_EV_TCP_STATE]		= "tcp_state",
	[CAUSAL_EV_TCP_RESET]		= "tcp_reset",
};

/* include/net/tcp_states.h */
static const char * const tcp_state_names[] = {
	"UNKNOWN", "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1",
	"FIN_WAIT2", "TIME_WAIT", "CLOSE", "CLOSE_WAIT", "LAST_ACK", "LISTEN",
	"CLOSING", "NEW_SYN_RECV", "BOUND_INACTIVE",
};

#define N_TCP_STATES	(sizeof(tcp_state_names) / sizeof(tcp_state_names[0]))

const char *clog_type_name(__u32 type)
{
	return type < CAUSAL_EV_TYPES ? type_names[type] : NULL;
}

int clog_type_parse(const char *name)
{
	for (int t = CAUSAL_EV_SEND; t < CAUSAL_EV_TYPES; t++)
		if (!strcmp(name, type_names[t]))
			return t;
	return -1;
}

const char *clog_tcp_state_name(__u32 state)
{
	return tcp_state_names[state < N_TCP_STATES ? state : 0];
}

int clog_tcp_state_parse(const char *name)
{
	for (size_t i = 0; i < N_TCP_STATES; i++)
		if (!strcmp(name, tcp_state_names[i]))
			return i;
	return -1;
}

static int err_parse(const char *name)
{
	for (int e = 0; e < CAUSAL_ERR_MAX; e++)
		if (!strcmp(name, causal_proto_err_name(e)))
			return e;
	return strcmp(name, causal_proto_err_name(CAUSAL_ERR_MAX)) ? -1 :
	       CAUSAL_ERR_MAX;
}

static int family_af(__u16 family)
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
	inet_ntop(family_af(l->family), l->saddr, s, sizeof(s));
	inet_ntop(family_af(l->family), l->daddr, d, sizeof(d));
	snprintf(buf, size, v6 ? "[%s]:%u -> [%s]:%u" : "%s:%u -> %s:%u",
		 s, l->sport, d, l->dport);
}

/* ---------------------------------------------------------------------- */
/* Validity, shared by writer and parser                                   */
/* ---------------------------------------------------------------------- */

/* Types whose peer may be CAUSAL_EV_NO_PEER: a broadcast send, and an error
 * on a channel that failed before its HELLO named the peer.
 */
static bool peer_optional(__u32 type)
{
	return type == CAUSAL_EV_SEND || type == CAUSAL_EV_ERROR;
}

/* The node whose own entry @stamp is, for the types where that is fixed. */
static bool stamp_owner(const struct causal_event *ev, __u16 *owner)
{
	switch (ev->type) {
	case CAUSAL_EV_SEND:
	case CAUSAL_EV_ERROR:
		*owner = ev->node;
		return true;
	case CAUSAL_EV_ARRIVE:
	case CAUSAL_EV_HOLD:
	case CAUSAL_EV_DELIVER:
	case CAUSAL_EV_CLOCK:
		*owner = ev->peer;
		return true;
	default:
		return false;
	}
}

static const char *ev_check(const struct causal_event *ev, const char *host)
{
	size_t hlen = strlen(host);
	__u16 owner;

	if (!hlen || hlen >= CLOG_HOST_MAX)
		return "host empty or too long";
	if (!clog_is_logged(ev->type))
		return "not a logged type";
	if (clog_has_link(ev->type) && ev->link.family &&
	    ev->link.family != AF_INET && ev->link.family != AF_INET6)
		return "bad link family";
	if (!clog_is_causal(ev->type))
		return NULL;
	if (!ev->nodes || ev->nodes > CAUSAL_EV_MAX_NODES)
		return "vclock size out of range";
	if (ev->node >= ev->nodes)
		return "node out of range";
	if (ev->peer == CAUSAL_EV_NO_PEER) {
		if (!peer_optional(ev->type))
			return "peer missing";
	} else if (ev->peer >= ev->nodes || ev->peer == ev->node) {
		return "peer out of range";
	}
	if (ev->type == CAUSAL_EV_HOLD && ev->wait_node >= ev->nodes)
		return "wait_node out of range";
	if (stamp_owner(ev, &owner) && ev->vclock[owner] != ev->stamp)
		return "stamp does not match the vclock";
	return NULL;
}

/* ---------------------------------------------------------------------- */
/* Writer                                                                  */
/* ---------------------------------------------------------------------- */

#define CLOG_JSON_FLAGS	(JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

/*
 * Lines are printed straight into a buffer in the key order of
 * docs/events.md: at causald's event rates json-c's objects and printf-based
 * number formatting cost several times the rest of the daemon. json-c still
 * escapes the strings that come from outside (host, comm), once per distinct
 * value; the other strings are the fixed names above, which need none.
 * What comes out is what json-c prints for the same object (tested).
 */
struct clog_lit {		/* a string and its JSON literal, quoted */
	char raw[CLOG_HOST_MAX];
	size_t len;
	char *json;
	size_t json_len;
};

/* Longest line: a host escaped as \u00XX per byte, 64 clock entries and
 * everything else well within the slack.
 */
#define CLOG_EV_LINE_MAX (6 * CLOG_HOST_MAX + 6 * CAUSAL_EV_COMM_LEN + \
			  21 * CAUSAL_EV_MAX_NODES + 1024)

struct clog_writer {
	struct clog_lit host, comm;
	char line[CLOG_EV_LINE_MAX];
};

struct clog_writer *clog_writer_new(void)
{
	return calloc(1, sizeof(struct clog_writer));
}

void clog_writer_free(struct clog_writer *w)
{
	if (!w)
		return;
	free(w->host.json);
	free(w->comm.json);
	free(w);
}

/* @l holding the quoted literal of @s, from json-c; NULL without memory. */
static const struct clog_lit *lit_get(struct clog_lit *l, const char *s,
				      size_t len)
{
	struct json_object *o;

	if (l->json && l->len == len && !memcmp(l->raw, s, len))
		return l;
	free(l->json);
	l->json = NULL;
	o = json_object_new_string_len(s, len);
	if (o)
		l->json = strdup(json_object_to_json_string_ext(o, CLOG_JSON_FLAGS));
	json_object_put(o);
	if (!l->json)
		return NULL;
	l->json_len = strlen(l->json);
	memcpy(l->raw, s, len);
	l->len = len;
	return l;
}

static char *put_n(char *p, const char *s, size_t n)
{
	memcpy(p, s, n);
	return p + n;
}

static char *put(char *p, const char *s)
{
	return put_n(p, s, strlen(s));
}

/* Keys and other literals: their length is known at compile time. */
#define put_lit(p, lit)	put_n(p, lit, sizeof(lit) - 1)

static char *put_u64(char *p, __u64 v)
{
	char digits[20];
	int n = 0;

	do {
		digits[n++] = '0' + v % 10;
		v /= 10;
	} while (v);
	while (n)
		*p++ = digits[--n];
	return p;
}

static char *put_quoted(char *p, const char *s)
{
	*p++ = '"';
	p = put(p, s);
	*p++ = '"';
	return p;
}

/* ,"key":value for the kinds of value in a line; @key is a literal. */
#define put_key_u64(p, key, v)	put_u64(put_lit(p, key), v)
#define put_key_str(p, key, s)	put_quoted(put_lit(p, key), s)
#define put_key_bool(p, key, v)	\
	((v) ? put_lit(put_lit(p, key), "true") : put_lit(put_lit(p, key), "false"))

static char *put_link(char *p, const struct causal_ev_link *l)
{
	char a[INET6_ADDRSTRLEN];

	if (!l->family)
		return put_lit(p, ",\"link\":null");	/* not known */
	p = put_key_u64(p, ",\"link\":{\"family\":",
			l->family == AF_INET6 ? 6 : 4);
	inet_ntop(family_af(l->family), l->saddr, a, sizeof(a));
	p = put_key_str(p, ",\"saddr\":", a);
	p = put_key_u64(p, ",\"sport\":", l->sport);
	inet_ntop(family_af(l->family), l->daddr, a, sizeof(a));
	p = put_key_str(p, ",\"daddr\":", a);
	p = put_key_u64(p, ",\"dport\":", l->dport);
	*p++ = '}';
	return p;
}

const char *clog_writer_line(struct clog_writer *w,
			     const struct causal_event *ev, const char *host,
			     size_t *len)
{
	const struct clog_lit *host_lit, *comm_lit;
	char *p = w->line;

	if (ev_check(ev, host)) {
		errno = EINVAL;
		return NULL;
	}
	host_lit = lit_get(&w->host, host, strlen(host));
	comm_lit = lit_get(&w->comm, ev->comm,
			   strnlen(ev->comm, CAUSAL_EV_COMM_LEN - 1));
	if (!host_lit || !comm_lit) {
		errno = ENOMEM;
		return NULL;
	}
	p = put_key_u64(p, "{\"v\":", CLOG_VERSION);
	p = put_key_str(p, ",\"type\":", type_names[ev->type]);
	p = put_n(put_lit(p, ",\"host\":"), host_lit->json, host_lit->json_len);
	p = put_key_u64(p, ",\"ts\":", ev->ts_ns);
	switch (ev->type) {
	case CAUSAL_EV_TCP_RETRANSMIT:
		p = put_link(p, &ev->link);
		p = put_key_str(p, ",\"state\":",
				clog_tcp_state_name(ev->tcp_state));
		goto out;
	case CAUSAL_EV_TCP_STATE:
		p = put_link(p, &ev->link);
		p = put_key_str(p, ",\"old\":",
				clog_tcp_state_name(ev->tcp_oldstate));
		p = put_key_str(p, ",\"new\":",
				clog_tcp_state_name(ev->tcp_state));
		goto out;
	case CAUSAL_EV_TCP_RESET:
		p = put_link(p, &ev->link);
		p = put_key_bool(p, ",\"rx\":", ev->tcp_rx);
		goto out;
	}
	p = put_key_u64(p, ",\"pid\":", ev->pid);
	p = put_n(put_lit(p, ",\"comm\":"), comm_lit->json, comm_lit->json_len);
	p = put_key_u64(p, ",\"group\":", ev->group);
	p = put_key_u64(p, ",\"node\":", ev->node);
	if (ev->peer == CAUSAL_EV_NO_PEER)
		p = put_lit(p, ",\"peer\":null");
	else
		p = put_key_u64(p, ",\"peer\":", ev->peer);
	p = put_key_u64(p, ",\"stamp\":", ev->stamp);
	switch (ev->type) {
	case CAUSAL_EV_SEND:
		p = put_key_u64(p, ",\"len\":", ev->len);
		p = put_key_u64(p, ",\"targets\":", ev->targets);
		break;
	case CAUSAL_EV_ARRIVE:
		p = put_key_u64(p, ",\"len\":", ev->len);
		break;
	case CAUSAL_EV_HOLD:
		p = put_key_u64(p, ",\"wait_node\":", ev->wait_node);
		p = put_key_u64(p, ",\"wait_stamp\":", ev->wait_stamp);
		break;
	case CAUSAL_EV_DELIVER:
		p = put_key_u64(p, ",\"index\":", ev->index);
		p = put_key_u64(p, ",\"held_ns\":", ev->held_ns);
		p = put_key_bool(p, ",\"gap\":", ev->gap);
		break;
	case CAUSAL_EV_PEER:
		p = put_key_bool(p, ",\"joined\":", ev->joined);
		p = put_key_u64(p, ",\"incarnation\":", ev->incarnation);
		p = put_link(p, &ev->link);
		break;
	case CAUSAL_EV_ERROR:
		p = put_key_str(p, ",\"err\":", causal_proto_err_name(ev->err));
		break;
	}
	p = put_lit(p, ",\"vclock\":[");
	for (int i = 0; i < ev->nodes; i++) {
		if (i)
			*p++ = ',';
		p = put_u64(p, ev->vclock[i]);
	}
	*p++ = ']';
out:
	*p++ = '}';
	*p = 0;
	*len = p - w->line;
	return w->line;
}

struct json_object *clog_event_json(const struct causal_event *ev,
				    const char *host)
{
	struct clog_writer *w = clog_writer_new();
	struct json_object *o = NULL;
	const char *s;
	size_t len;

	if (!w) {
		errno = ENOMEM;
		return NULL;
	}
	s = clog_writer_line(w, ev, host, &len);
	if (s)
		o = json_tokener_parse(s);
	clog_writer_free(w);
	return o;
}

static void add(struct json_object *o, const char *key, struct json_object *v)
{
	json_object_object_add_ex(o, key, v, JSON_C_OBJECT_ADD_KEY_IS_NEW |
				  JSON_C_OBJECT_KEY_IS_CONSTANT);
}

static void add_u64(struct json_object *o, const char *key, __u64 v)
{
	add(o, key, json_object_new_uint64(v));
}

static struct json_object *head_json(const char *type, const char *host)
{
	struct json_object *o = json_object_new_object();

	add_u64(o, "v", CLOG_VERSION);
	add(o, "type", json_object_new_string(type));
	add(o, "host", json_object_new_string(host));
	return o;
}

static bool host_ok(const char *host)
{
	size_t n = strlen(host);

	return n && n < CLOG_HOST_MAX;
}

struct json_object *clog_meta_json(const char *host,
				   const struct clog_meta *meta)
{
	struct json_object *o;

	if (!host_ok(host) ||
	    strnlen(meta->boot_id, CLOG_BOOT_ID_MAX) >= CLOG_BOOT_ID_MAX) {
		errno = EINVAL;
		return NULL;
	}
	o = head_json("meta", host);
	add(o, "boot_id", json_object_new_string(meta->boot_id));
	add_u64(o, "started_ts", meta->started_ts);
	add_u64(o, "realtime_ns", meta->realtime_ns);
	return o;
}

void clog_meta_now(struct clog_meta *meta)
{
	struct timespec mono, rt;
	FILE *f;

	memset(meta, 0, sizeof(*meta));
	clock_gettime(CLOCK_MONOTONIC, &mono);
	clock_gettime(CLOCK_REALTIME, &rt);
	meta->started_ts = mono.tv_sec * 1000000000ULL + mono.tv_nsec;
	meta->realtime_ns = rt.tv_sec * 1000000000ULL + rt.tv_nsec;
	f = fopen("/proc/sys/kernel/random/boot_id", "re");
	if (f) {
		if (fgets(meta->boot_id, sizeof(meta->boot_id), f))
			meta->boot_id[strcspn(meta->boot_id, "\n")] = 0;
		fclose(f);
	}
}

struct json_object *clog_lost_json(const char *host, __u64 ts, __u64 count,
				   const __u64 by_type[CAUSAL_EV_TYPES])
{
	struct json_object *o, *types;
	__u32 t;

	if (!host_ok(host)) {
		errno = EINVAL;
		return NULL;
	}
	o = head_json("lost", host);
	add_u64(o, "ts", ts);
	add_u64(o, "count", count);
	if (!by_type)
		return o;
	types = json_object_new_object();
	for (t = CAUSAL_EV_SEND; t < CAUSAL_EV_TYPES; t++)
		if (by_type[t])
			add_u64(types, clog_type_name(t), by_type[t]);
	json_object_object_add(o, "types", types);
	return o;
}

int clog_write(FILE *f, struct json_object *obj)
{
	const char *s;
	int ret = 0;

	if (!obj)
		return -EINVAL;
	s = json_object_to_json_string_ext(obj, CLOG_JSON_FLAGS);
	if (!s || fputs(s, f) == EOF || putc('\n', f) == EOF)
		ret = -(errno ? errno : EIO);
	json_object_put(obj);
	return ret;
}

/* ---------------------------------------------------------------------- */
/* Parser                                                                  */
/* ---------------------------------------------------------------------- */

struct clog_parser {
	struct json_tokener *tok;
};

/* Deep enough for a line (object, link object, vclock array), not for a
 * hostile nest of arrays.
 */
#define CLOG_JSON_DEPTH	4

struct clog_parser *clog_parser_new(void)
{
	struct clog_parser *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->tok = json_tokener_new_ex(CLOG_JSON_DEPTH);
	if (!p->tok) {
		free(p);
		return NULL;
	}
	json_tokener_set_flags(p->tok, JSON_TOKENER_STRICT);
	return p;
}

void clog_parser_free(struct clog_parser *p)
{
	if (!p)
		return;
	json_tokener_free(p->tok);
	free(p);
}

/* A non-negative JSON integer (json-c reads those above INT64_MAX as
 * uint64, and get_int64() then saturates to INT64_MAX, never below 0).
 */
static bool num(struct json_object *v, __u64 max, __u64 *out)
{
	__u64 x;

	if (!json_object_is_type(v, json_type_int) ||
	    json_object_get_int64(v) < 0)
		return false;
	x = json_object_get_uint64(v);
	if (x > max)
		return false;
	*out = x;
	return true;
}

static bool get_num(struct json_object *o, const char *key, __u64 max,
		    __u64 *out)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) && num(v, max, out);
}

static const char *get_str(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	/* An embedded NUL would make the C string a different one. */
	if (strlen(json_object_get_string(v)) !=
	    (size_t)json_object_get_string_len(v))
		return NULL;
	return json_object_get_string(v);
}

static bool get_bool(struct json_object *o, const char *key, __u8 *out)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_boolean))
		return false;
	*out = json_object_get_boolean(v);
	return true;
}

static bool get_addr(struct json_object *o, const char *key, int af,
		     __u8 *addr)
{
	const char *s = get_str(o, key);

	memset(addr, 0, 16);
	return s && inet_pton(af, s, addr) == 1;
}

static const char *get_link(struct json_object *o, struct causal_ev_link *l)
{
	struct json_object *v;
	__u64 fam, sport, dport;
	int af;

	memset(l, 0, sizeof(*l));
	if (!json_object_object_get_ex(o, "link", &v))
		return "missing \"link\"";
	if (json_object_is_type(v, json_type_null))
		return NULL;
	if (!json_object_is_type(v, json_type_object))
		return "\"link\" is not an object";
	if (!get_num(v, "family", 6, &fam) || (fam != 4 && fam != 6))
		return "bad link family";
	af = fam == 6 ? AF_INET6 : AF_INET;
	if (!get_num(v, "sport", 65535, &sport) ||
	    !get_num(v, "dport", 65535, &dport))
		return "bad link port";
	if (!get_addr(v, "saddr", af, l->saddr) ||
	    !get_addr(v, "daddr", af, l->daddr))
		return "bad link address";
	l->family = af;
	l->sport = sport;
	l->dport = dport;
	return NULL;
}

static const char *get_tcp_state(struct json_object *o, const char *key,
				 __u32 *out)
{
	const char *s = get_str(o, key);
	int st = s ? clog_tcp_state_parse(s) : -1;

	if (st < 0)
		return "bad TCP state";
	*out = st;
	return NULL;
}

static const char *parse_tcp(struct json_object *o, struct causal_event *ev)
{
	const char *why = get_link(o, &ev->link);

	if (why)
		return why;
	switch (ev->type) {
	case CAUSAL_EV_TCP_RETRANSMIT:
		return get_tcp_state(o, "state", &ev->tcp_state);
	case CAUSAL_EV_TCP_STATE:
		why = get_tcp_state(o, "old", &ev->tcp_oldstate);
		return why ? why : get_tcp_state(o, "new", &ev->tcp_state);
	default: {
		__u8 rx;

		if (!get_bool(o, "rx", &rx))
			return "missing or bad \"rx\"";
		ev->tcp_rx = rx;
		return NULL;
	}
	}
}

static const char *parse_vclock(struct json_object *o, struct causal_event *ev)
{
	struct json_object *v;
	size_t n;

	if (!json_object_object_get_ex(o, "vclock", &v) ||
	    !json_object_is_type(v, json_type_array))
		return "missing or bad \"vclock\"";
	n = json_object_array_length(v);
	if (!n || n > CAUSAL_EV_MAX_NODES)
		return "vclock size out of range";
	for (size_t i = 0; i < n; i++)
		if (!num(json_object_array_get_idx(v, i), UINT64_MAX,
			 &ev->vclock[i]))
			return "bad vclock entry";
	ev->nodes = n;
	return NULL;
}

static const char *parse_causal(struct json_object *o, struct causal_event *ev)
{
	struct json_object *v;
	const char *comm, *why;
	__u64 x;

	if (!get_num(o, "pid", UINT32_MAX, &x))
		return "missing or bad \"pid\"";
	ev->pid = x;
	comm = get_str(o, "comm");
	if (!comm || strlen(comm) >= CAUSAL_EV_COMM_LEN)
		return "missing or bad \"comm\"";
	strcpy(ev->comm, comm);
	if (!get_num(o, "group", UINT32_MAX, &x))
		return "missing or bad \"group\"";
	ev->group = x;
	if (!get_num(o, "node", CAUSAL_EV_MAX_NODES - 1, &x))
		return "missing or bad \"node\"";
	ev->node = x;
	if (!json_object_object_get_ex(o, "peer", &v))
		return "missing \"peer\"";
	if (json_object_is_type(v, json_type_null))
		ev->peer = CAUSAL_EV_NO_PEER;
	else if (num(v, CAUSAL_EV_MAX_NODES - 1, &x))
		ev->peer = x;
	else
		return "bad \"peer\"";
	if (!get_num(o, "stamp", UINT64_MAX, &ev->stamp))
		return "missing or bad \"stamp\"";
	why = parse_vclock(o, ev);
	if (why)
		return why;

	switch (ev->type) {
	case CAUSAL_EV_SEND:
		if (!get_num(o, "targets", UINT32_MAX, &x))
			return "missing or bad \"targets\"";
		ev->targets = x;
		/* fall through */
	case CAUSAL_EV_ARRIVE:
		if (!get_num(o, "len", UINT32_MAX, &x))
			return "missing or bad \"len\"";
		ev->len = x;
		break;
	case CAUSAL_EV_HOLD:
		if (!get_num(o, "wait_node", CAUSAL_EV_MAX_NODES - 1, &x) ||
		    !get_num(o, "wait_stamp", UINT64_MAX, &ev->wait_stamp))
			return "missing or bad \"wait_node\"/\"wait_stamp\"";
		ev->wait_node = x;
		break;
	case CAUSAL_EV_DELIVER:
		if (!get_num(o, "index", UINT64_MAX, &ev->index) ||
		    !get_num(o, "held_ns", UINT64_MAX, &ev->held_ns) ||
		    !get_bool(o, "gap", &ev->gap))
			return "missing or bad \"index\"/\"held_ns\"/\"gap\"";
		break;
	case CAUSAL_EV_PEER:
		if (!get_bool(o, "joined", &ev->joined) ||
		    !get_num(o, "incarnation", UINT64_MAX, &ev->incarnation))
			return "missing or bad \"joined\"/\"incarnation\"";
		return get_link(o, &ev->link);
	case CAUSAL_EV_ERROR: {
		const char *s = get_str(o, "err");
		int e = s ? err_parse(s) : -1;

		if (e < 0)
			return "missing or bad \"err\"";
		ev->err = e;
		break;
	}
	}
	return NULL;
}

/* The optional "types" of a lost line: known names, summing to its count
 * at most (a tracer may not know the type of every drop).
 */
static const char *parse_lost_types(struct json_object *o,
				    struct clog_lost *lost)
{
	struct json_object *types;
	__u64 sum = 0;
	int t;

	memset(lost->by_type, 0, sizeof(lost->by_type));
	if (!json_object_object_get_ex(o, "types", &types))
		return NULL;
	if (!json_object_is_type(types, json_type_object))
		return "bad \"types\"";
	json_object_object_foreach(types, name, v) {
		t = clog_type_parse(name);
		if (t < 0 || !num(v, lost->count, &lost->by_type[t]))
			return "bad \"types\"";
		sum += lost->by_type[t];
		if (sum > lost->count)
			return "\"types\" sum past \"count\"";
	}
	return NULL;
}

static const char *parse_obj(struct json_object *o, struct clog_line *out)
{
	const char *type, *host, *s, *why;
	__u64 v;
	int t;

	if (!json_object_is_type(o, json_type_object))
		return "not a JSON object";
	if (!get_num(o, "v", UINT64_MAX, &v))
		return "missing or bad \"v\"";
	if (v != CLOG_VERSION) {
		out->kind = CLOG_OTHER_VERSION;
		return NULL;
	}
	type = get_str(o, "type");
	if (!type)
		return "missing or bad \"type\"";
	host = get_str(o, "host");
	if (!host || !host_ok(host))
		return "missing or bad \"host\"";
	strcpy(out->host, host);

	if (!strcmp(type, "meta")) {
		struct clog_meta *m = &out->meta;

		s = get_str(o, "boot_id");
		if (!s || strlen(s) >= CLOG_BOOT_ID_MAX)
			return "missing or bad \"boot_id\"";
		strcpy(m->boot_id, s);
		if (!get_num(o, "started_ts", UINT64_MAX, &m->started_ts) ||
		    !get_num(o, "realtime_ns", UINT64_MAX, &m->realtime_ns))
			return "missing or bad \"started_ts\"/\"realtime_ns\"";
		out->kind = CLOG_META;
		return NULL;
	}
	if (!strcmp(type, "lost")) {
		struct json_object *ts;

		/* ts is optional here: the count is what matters. */
		if (json_object_object_get_ex(o, "ts", &ts) &&
		    !num(ts, UINT64_MAX, &out->ts))
			return "bad \"ts\"";
		if (!get_num(o, "count", UINT64_MAX, &out->lost.count))
			return "missing or bad \"count\"";
		why = parse_lost_types(o, &out->lost);
		if (why)
			return why;
		out->kind = CLOG_LOST;
		return NULL;
	}

	t = clog_type_parse(type);
	if (t < 0 || !clog_is_logged(t))
		return "unknown \"type\"";
	memset(&out->ev, 0, sizeof(out->ev));
	out->ev.type = t;
	out->ev.peer = CAUSAL_EV_NO_PEER;
	if (!get_num(o, "ts", UINT64_MAX, &out->ev.ts_ns))
		return "missing or bad \"ts\"";
	out->ts = out->ev.ts_ns;
	s = clog_is_causal(t) ? parse_causal(o, &out->ev) :
				parse_tcp(o, &out->ev);
	if (!s)
		s = ev_check(&out->ev, out->host);
	if (!s)
		out->kind = CLOG_EVENT;
	return s;
}

enum clog_kind clog_parse(struct clog_parser *p, const char *buf, size_t len,
			  struct clog_line *out)
{
	struct json_object *o;

	out->kind = CLOG_BAD;
	out->ts = 0;
	out->host[0] = 0;
	out->why = NULL;
	while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r' ||
		       buf[len - 1] == ' ' || buf[len - 1] == '\t'))
		len--;
	if (len > CLOG_LINE_MAX) {
		out->why = "line too long";
		return out->kind;
	}
	if (memchr(buf, 0, len)) {
		out->why = "NUL byte";
		return out->kind;
	}
	json_tokener_reset(p->tok);
	o = json_tokener_parse_ex(p->tok, buf, len);
	if (!o) {
		out->why = json_tokener_get_error(p->tok) == json_tokener_continue ?
			   "truncated" : "not JSON";
		return out->kind;
	}
	if (json_tokener_get_parse_end(p->tok) != len)
		out->why = "text after the JSON object";
	else
		out->why = parse_obj(o, out);
	if (out->why)
		out->kind = CLOG_BAD;
	json_object_put(o);
	return out->kind;
}

/* ---------------------------------------------------------------------- */
/* Store                                                                   */
/* ---------------------------------------------------------------------- */

static __u32 hash_bytes(const void *p, size_t n)
{
	const unsigned char *b = p;
	__u32 h = 2166136261U;		/* FNV-1a */

	while (n--)
		h = (h ^ *b++) * 16777619U;
	return h;
}

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
	size_t n = *cap ? *cap : 16;
	void *q;

	if (need <= *cap)
		return 0;
	while (n < need)
		n *= 2;
	q = realloc(*p, n * elem);
	if (!q)
		return -ENOMEM;
	*p = q;
	*cap = n;
	return 0;
}

static int grow32(void **p, __u32 *cap, size_t need, size_t elem)
{
	size_t c = *cap;
	int ret;

	if (need > UINT32_MAX / 2)
		return -ENOMEM;
	ret = grow(p, &c, need, elem);
	*cap = c;
	return ret;
}

/* Open addressing tables of ids + 1, rebuilt at half load. */
static int rehash(__u32 **tab, __u32 *size, __u32 n,
		  __u32 (*hash)(const void *ctx, __u32 id), const void *ctx)
{
	__u32 nsize = *size ? *size : 64, *t;

	if (2 * (n + 1) <= *size)
		return 0;
	while (2 * (n + 1) > nsize)
		nsize *= 2;
	t = calloc(nsize, sizeof(*t));
	if (!t)
		return -ENOMEM;
	for (__u32 id = 0; id < n; id++) {
		__u32 i = hash(ctx, id) & (nsize - 1);

		while (t[i])
			i = (i + 1) & (nsize - 1);
		t[i] = id + 1;
	}
	free(*tab);
	*tab = t;
	*size = nsize;
	return 0;
}

static __u32 str_hash_id(const void *ctx, __u32 id)
{
	const struct clog_strtab *t = ctx;
	const char *s = t->buf + t->off[id];

	return hash_bytes(s, strlen(s));
}

static __u32 str_lookup(const struct clog_strtab *t, const char *s, size_t n,
			__u32 h, __u32 *slot)
{
	__u32 i = h & (t->hash_size - 1);

	while (t->hash[i]) {
		__u32 id = t->hash[i] - 1;
		const char *c = t->buf + t->off[id];

		if (!strncmp(c, s, n) && !c[n])
			return id;
		i = (i + 1) & (t->hash_size - 1);
	}
	*slot = i;
	return CLOG_NONE;
}

__u32 clog_str_find(const struct clog_store *s, const char *str)
{
	__u32 slot;

	if (!s->str.hash_size)
		return CLOG_NONE;
	return str_lookup(&s->str, str, strlen(str), hash_bytes(str, strlen(str)),
			  &slot);
}

static int str_intern(struct clog_strtab *t, const char *s, __u32 *id)
{
	size_t n = strlen(s);
	__u32 h = hash_bytes(s, n), slot;

	if (rehash(&t->hash, &t->hash_size, t->n, str_hash_id, t))
		return -ENOMEM;
	*id = str_lookup(t, s, n, h, &slot);
	if (*id != CLOG_NONE)
		return 0;
	if (t->len + n + 1 > UINT32_MAX ||
	    grow((void **)&t->buf, &t->cap, t->len + n + 1, 1) ||
	    grow32((void **)&t->off, &t->cap_ids, t->n + 1, sizeof(*t->off)))
		return -ENOMEM;
	memcpy(t->buf + t->len, s, n + 1);
	t->off[t->n] = t->len;
	t->len += n + 1;
	t->hash[slot] = t->n + 1;
	*id = t->n++;
	return 0;
}

static __u32 link_hash_id(const void *ctx, __u32 id)
{
	const struct clog_store *s = ctx;

	return hash_bytes(&s->links[id], sizeof(s->links[id]));
}

static int link_intern(struct clog_store *s, const struct causal_ev_link *l,
		       __u32 *id)
{
	struct causal_ev_link k = *l;
	__u32 i;

	if (!k.family) {
		*id = CLOG_NONE;
		return 0;
	}
	k.pad = 0;
	if (rehash(&s->link_hash, &s->link_hash_size, s->nlinks, link_hash_id, s))
		return -ENOMEM;
	i = hash_bytes(&k, sizeof(k)) & (s->link_hash_size - 1);
	while (s->link_hash[i]) {
		if (!memcmp(&s->links[s->link_hash[i] - 1], &k, sizeof(k))) {
			*id = s->link_hash[i] - 1;
			return 0;
		}
		i = (i + 1) & (s->link_hash_size - 1);
	}
	if (grow32((void **)&s->links, &s->cap_links, s->nlinks + 1,
		   sizeof(*s->links)))
		return -ENOMEM;
	s->links[s->nlinks] = k;
	s->link_hash[i] = s->nlinks + 1;
	*id = s->nlinks++;
	return 0;
}

struct clog_store *clog_store_new(void)
{
	return calloc(1, sizeof(struct clog_store));
}

void clog_store_free(struct clog_store *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->nfiles; i++)
		free(s->files[i].name);
	free(s->files);
	free(s->ev);
	free(s->vc);
	free(s->str.buf);
	free(s->str.off);
	free(s->str.hash);
	free(s->links);
	free(s->link_hash);
	free(s);
}

int clog_store_begin(struct clog_store *s, const char *name)
{
	struct clog_file *f;
	size_t cap = s->nfiles;

	/* Files come one at a time: grow by one. */
	f = realloc(s->files, (cap + 1) * sizeof(*f));
	if (!f)
		return -ENOMEM;
	s->files = f;
	f = &s->files[s->nfiles];
	memset(f, 0, sizeof(*f));
	f->name = strdup(name);
	if (!f->name)
		return -ENOMEM;
	f->host = CLOG_NONE;
	f->boot_id = CLOG_NONE;
	s->nfiles++;
	return 0;
}

static int add_event(struct clog_store *s, struct clog_file *f,
		     const struct clog_line *l)
{
	const struct causal_event *ev = &l->ev;
	struct clog_ev *e;
	int ret;

	if (grow((void **)&s->ev, &s->cap_ev, s->nev + 1, sizeof(*s->ev)))
		return -ENOMEM;
	e = &s->ev[s->nev];
	memset(e, 0, sizeof(*e));
	e->ts = ev->ts_ns;
	e->type = ev->type;
	e->vc = CLOG_NONE;
	e->comm = CLOG_NONE;
	ret = str_intern(&s->str, l->host, &e->host);
	if (ret)
		return ret;
	if (clog_is_causal(ev->type)) {
		char comm[CAUSAL_EV_COMM_LEN];

		memcpy(comm, ev->comm, sizeof(comm));
		comm[sizeof(comm) - 1] = 0;
		ret = str_intern(&s->str, comm, &e->comm);
		if (ret)
			return ret;
		if (s->nvc + ev->nodes > UINT32_MAX ||
		    grow((void **)&s->vc, &s->cap_vc, s->nvc + ev->nodes,
			 sizeof(*s->vc)))
			return -ENOMEM;
		e->vc = s->nvc;
		memcpy(s->vc + s->nvc, ev->vclock, ev->nodes * sizeof(*s->vc));
		s->nvc += ev->nodes;
		e->pid = ev->pid;
		e->group = ev->group;
		e->node = ev->node;
		e->peer = ev->peer;
		e->nodes = ev->nodes;
		e->stamp = ev->stamp;
	}
	if (clog_has_link(ev->type)) {
		ret = link_intern(s, &ev->link, &e->link);
		if (ret)
			return ret;
	}
	switch (ev->type) {
	case CAUSAL_EV_SEND:
		e->targets = ev->targets;
		/* fall through */
	case CAUSAL_EV_ARRIVE:
		e->len = ev->len;
		break;
	case CAUSAL_EV_HOLD:
		e->wait_node = ev->wait_node;
		e->wait_stamp = ev->wait_stamp;
		break;
	case CAUSAL_EV_DELIVER:
		e->index = ev->index;
		e->held_ns = ev->held_ns;
		e->flag = !!ev->gap;
		break;
	case CAUSAL_EV_PEER:
		e->incarnation = ev->incarnation;
		e->flag = !!ev->joined;
		break;
	case CAUSAL_EV_ERROR:
		e->err = ev->err;
		break;
	case CAUSAL_EV_TCP_RETRANSMIT:
		e->tcp_state = ev->tcp_state < N_TCP_STATES ? ev->tcp_state : 0;
		break;
	case CAUSAL_EV_TCP_STATE:
		e->tcp_state = ev->tcp_state < N_TCP_STATES ? ev->tcp_state : 0;
		e->tcp_oldstate = ev->tcp_oldstate < N_TCP_STATES ?
				  ev->tcp_oldstate : 0;
		break;
	case CAUSAL_EV_TCP_RESET:
		e->flag = !!ev->tcp_rx;
		break;
	}
	if (!f->events || e->ts < f->first_ts)
		f->first_ts = e->ts;
	if (!f->events || e->ts > f->last_ts)
		f->last_ts = e->ts;
	f->events++;
	s->nev++;
	return 0;
}

int clog_store_add(struct clog_store *s, const struct clog_line *l)
{
	struct clog_file *f;
	int ret = 0;

	if (!s->nfiles) {
		ret = clog_store_begin(s, "-");
		if (ret)
			return ret;
	}
	f = &s->files[s->nfiles - 1];
	f->lines++;
	switch (l->kind) {
	case CLOG_BAD:
		f->bad++;
		return 0;
	case CLOG_OTHER_VERSION:
		f->other_version++;
		return 0;
	case CLOG_EVENT:
		/* Lines from elsewhere than clog_parse() get the same check:
		 * the analysis indexes arrays with these fields.
		 */
		if (ev_check(&l->ev, l->host)) {
			f->bad++;
			return 0;
		}
		ret = add_event(s, f, l);
		break;
	case CLOG_META:
		if (f->has_meta)
			break;
		ret = str_intern(&s->str, l->meta.boot_id, &f->boot_id);
		f->has_meta = !ret;
		f->started_ts = l->meta.started_ts;
		f->realtime_ns = l->meta.realtime_ns;
		break;
	case CLOG_LOST:
		f->lost += l->lost.count;
		s->lost += l->lost.count;
		for (int t = 0; t < CAUSAL_EV_TYPES; t++)
			s->lost_by_type[t] += l->lost.by_type[t];
		break;
	}
	if (!ret && f->host == CLOG_NONE)
		ret = str_intern(&s->str, l->host, &f->host);
	return ret;
}

static bool blank(const char *p, size_t n)
{
	while (n--)
		if (!strchr(" \t\r", *p++))
			return false;
	return true;
}

#define CLOG_READ_BUF	(1024 * 1024)

int clog_store_load_fp(struct clog_store *s, FILE *f, const char *name)
{
	struct clog_parser *p = clog_parser_new();
	struct clog_line *line = malloc(sizeof(*line));
	char *buf = malloc(CLOG_READ_BUF);
	size_t have = 0, n;
	bool skipping = false;	/* inside a line longer than the buffer */
	int ret;

	ret = p && line && buf ? clog_store_begin(s, name) : -ENOMEM;
	while (!ret) {
		size_t start = 0, len;
		char *nl;
		bool eof;

		n = fread(buf + have, 1, CLOG_READ_BUF - have, f);
		have += n;
		eof = n == 0;
		if (eof && ferror(f)) {
			ret = -(errno ? errno : EIO);
			break;
		}
		while (start < have) {
			nl = memchr(buf + start, '\n', have - start);
			if (!nl && !eof)
				break;
			len = (nl ? (size_t)(nl - buf) : have) - start;
			if (skipping) {
				line->kind = CLOG_BAD;
				ret = clog_store_add(s, line);
				skipping = false;
			} else if (!blank(buf + start, len)) {
				clog_parse(p, buf + start, len, line);
				ret = clog_store_add(s, line);
			}
			if (ret)
				break;
			start += len + !!nl;
		}
		if (eof)
			break;
		if (start == 0 && have == CLOG_READ_BUF) {
			/* No newline in a full buffer: drop it, the line is
			 * bad whatever follows.
			 */
			skipping = true;
			have = 0;
			continue;
		}
		memmove(buf, buf + start, have - start);
		have -= start;
	}
	if (!ret && skipping) {
		line->kind = CLOG_BAD;
		ret = clog_store_add(s, line);
	}
	free(buf);
	free(line);
	clog_parser_free(p);
	return ret;
}

int clog_store_load(struct clog_store *s, const char *path)
{
	FILE *f = fopen(path, "r");
	int ret;

	if (!f) {
		ret = -errno;
		if (!clog_store_begin(s, path))
			return ret;
		return -ENOMEM;
	}
	ret = clog_store_load_fp(s, f, path);
	fclose(f);
	return ret;
}

void clog_ev_expand(const struct clog_store *s, const struct clog_ev *e,
		    struct causal_event *out)
{
	memset(out, 0, sizeof(*out));
	out->ts_ns = e->ts;
	out->type = e->type;
	out->peer = CAUSAL_EV_NO_PEER;
	if (clog_is_causal(e->type)) {
		out->pid = e->pid;
		snprintf(out->comm, sizeof(out->comm), "%s", clog_str(s, e->comm));
		out->group = e->group;
		out->node = e->node;
		out->peer = e->peer;
		out->stamp = e->stamp;
		out->nodes = e->nodes;
		memcpy(out->vclock, clog_vclock(s, e), e->nodes * sizeof(__u64));
	}
	if (clog_has_link(e->type) && e->link != CLOG_NONE)
		out->link = s->links[e->link];
	switch (e->type) {
	case CAUSAL_EV_SEND:
		out->targets = e->targets;
		/* fall through */
	case CAUSAL_EV_ARRIVE:
		out->len = e->len;
		break;
	case CAUSAL_EV_HOLD:
		out->wait_node = e->wait_node;
		out->wait_stamp = e->wait_stamp;
		break;
	case CAUSAL_EV_DELIVER:
		out->index = e->index;
		out->held_ns = e->held_ns;
		out->gap = e->flag;
		break;
	case CAUSAL_EV_PEER:
		out->incarnation = e->incarnation;
		out->joined = e->flag;
		break;
	case CAUSAL_EV_ERROR:
		out->err = e->err;
		break;
	case CAUSAL_EV_TCP_RETRANSMIT:
		out->tcp_state = e->tcp_state;
		break;
	case CAUSAL_EV_TCP_STATE:
		out->tcp_state = e->tcp_state;
		out->tcp_oldstate = e->tcp_oldstate;
		break;
	case CAUSAL_EV_TCP_RESET:
		out->tcp_rx = e->flag;
		break;
	}
}
