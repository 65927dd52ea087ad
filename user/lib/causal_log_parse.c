// SPDX-License-Identifier: GPL-2.0
/*
 * The event log's parser (docs/events.md): one line with json-c, an event's
 * own fields from the table of its type (causal_log_fields.h), then the
 * check the writer makes, so that what it returns could have been written.
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


static int err_parse(const char *name)
{
	for (int e = 0; e < CAUSAL_ERR_MAX; e++)
		if (!strcmp(name, causal_proto_err_name(e)))
			return e;
	return strcmp(name, causal_proto_err_name(CAUSAL_ERR_MAX)) ? -1 :
	       CAUSAL_ERR_MAX;
}

/* One field of the table into @ev; NULL, or what was wrong. */
static const char *parse_field(struct json_object *o, struct causal_event *ev,
			       const struct clog_field *f)
{
	const char *s;
	__u64 v;
	__u8 b;
	int x;

	switch (f->kind) {
	case CLOG_F_NUM:
	case CLOG_F_NODE:
		if (!get_num(o, f->key, f->max, &v))
			return f->why;
		break;
	case CLOG_F_BOOL:
		if (!get_bool(o, f->key, &b))
			return f->why;
		v = b;
		break;
	case CLOG_F_LINK:
		return get_link(o, &ev->link);
	default:		/* a name: of an error, of a TCP state */
		s = get_str(o, f->key);
		x = !s ? -1 : f->kind == CLOG_F_ERR ? err_parse(s) :
		     clog_tcp_state_parse(s);
		if (x < 0)
			return f->why;
		v = x;
		break;
	}
	clog_field_set(ev, f->ev_off, f->ev_size, v);
	return NULL;
}

/* What every causal event has: pid .. stamp and the vclock. */
static const char *parse_causal(struct json_object *o, struct causal_event *ev)
{
	struct json_object *v;
	const char *comm;
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
	return parse_vclock(o, ev);
}

static const char *parse_event(struct json_object *o, struct causal_event *ev)
{
	const struct clog_type *t = &clog_types[ev->type];
	const char *why = NULL;

	if (clog_is_causal(ev->type))
		why = parse_causal(o, ev);
	for (int i = 0; !why && i < t->nfields; i++)
		why = parse_field(o, ev, &t->f[i]);
	return why;
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
	if (!host || !clog_host_ok(host))
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
	s = parse_event(o, &out->ev);
	if (!s)
		s = clog_ev_check(&out->ev, out->host);
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

