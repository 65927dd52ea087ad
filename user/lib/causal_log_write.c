// SPDX-License-Identifier: GPL-2.0
/*
 * The event log's writer (docs/events.md): an event's line printed straight
 * into a buffer from the table of its type's fields (causal_log_fields.h),
 * since this is causald's hot path; meta and lost lines, and events for
 * documents that embed them, as json-c objects.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "causal_log.h"
#include "causal_log_fields.h"
#include "causal_wire.h"

#define CLOG_JSON_FLAGS	(JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

/*
 * Lines are printed in the key order of docs/events.md: at causald's event
 * rates json-c's objects and printf-based number formatting cost several
 * times the rest of the daemon. json-c still escapes the strings that come
 * from outside (host, comm), once per distinct value; the other strings are
 * the fixed names of the table and of causal_log.c, which need none. What
 * comes out is what json-c prints for the same object (tested, and against
 * user/tests/test_log.golden).
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

static char *put_link(char *p, const struct causal_ev_link *l)
{
	char a[INET6_ADDRSTRLEN];

	if (!l->family)
		return put_lit(p, "null");	/* not known */
	p = put_key_u64(p, "{\"family\":", l->family == AF_INET6 ? 6 : 4);
	inet_ntop(clog_family_af(l->family), l->saddr, a, sizeof(a));
	p = put_key_str(p, ",\"saddr\":", a);
	p = put_key_u64(p, ",\"sport\":", l->sport);
	inet_ntop(clog_family_af(l->family), l->daddr, a, sizeof(a));
	p = put_key_str(p, ",\"daddr\":", a);
	p = put_key_u64(p, ",\"dport\":", l->dport);
	*p++ = '}';
	return p;
}

/*
 * The X-macros of causal_log_fields.h as code: ,"key":value of each field
 * of the event's type, by its kind, with the key a literal and the member
 * a constant offset.
 */
#define PUT_NUM(p, key, v)	put_u64(put_lit(p, key), v)
#define PUT_NODE(p, key, v)	put_u64(put_lit(p, key), v)
#define PUT_BOOL(p, key, v)	\
	((v) ? put_lit(put_lit(p, key), "true") : put_lit(put_lit(p, key), "false"))
#define PUT_LINK(p, key, v)	put_link(put_lit(p, key), &(v))
#define PUT_ERR(p, key, v)	put_quoted(put_lit(p, key), causal_proto_err_name(v))
#define PUT_STATE(p, key, v)	put_quoted(put_lit(p, key), clog_tcp_state_name(v))

#define PUT_FIELD(kind, k, max, evm, stm)				\
	p = PUT_##kind(p, ",\"" k "\":", ev->evm);
#define PUT_TYPE(ty, n, own, opt)					\
	case CAUSAL_EV_##ty:						\
		p = put_lit(p, ",\"type\":\"" n "\"");			\
		break;
#define PUT_FIELDS(ty, n, own, opt)					\
	case CAUSAL_EV_##ty:						\
		CLOG_FIELDS_##ty(PUT_FIELD)				\
		break;

const char *clog_writer_line(struct clog_writer *w,
			     const struct causal_event *ev, const char *host,
			     size_t *len)
{
	const struct clog_lit *host_lit, *comm_lit;
	bool causal;
	char *p = w->line;

	if (clog_ev_check(ev, host)) {
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
	causal = clog_is_causal(ev->type);
	p = put_key_u64(p, "{\"v\":", CLOG_VERSION);
	switch (ev->type) {
	CLOG_TYPES(PUT_TYPE)
	}
	p = put_n(put_lit(p, ",\"host\":"), host_lit->json, host_lit->json_len);
	p = put_key_u64(p, ",\"ts\":", ev->ts_ns);
	if (causal) {
		p = put_key_u64(p, ",\"pid\":", ev->pid);
		p = put_n(put_lit(p, ",\"comm\":"), comm_lit->json,
			  comm_lit->json_len);
		p = put_key_u64(p, ",\"group\":", ev->group);
		p = put_key_u64(p, ",\"node\":", ev->node);
		if (ev->peer == CAUSAL_EV_NO_PEER)
			p = put_lit(p, ",\"peer\":null");
		else
			p = put_key_u64(p, ",\"peer\":", ev->peer);
		p = put_key_u64(p, ",\"stamp\":", ev->stamp);
	}
	switch (ev->type) {
	CLOG_TYPES(PUT_FIELDS)
	}
	if (causal) {
		p = put_lit(p, ",\"vclock\":[");
		for (int i = 0; i < ev->nodes; i++) {
			if (i)
				*p++ = ',';
			p = put_u64(p, ev->vclock[i]);
		}
		*p++ = ']';
	}
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

struct json_object *clog_meta_json(const char *host,
				   const struct clog_meta *meta)
{
	struct json_object *o;

	if (!clog_host_ok(host) ||
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

	if (!clog_host_ok(host)) {
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
