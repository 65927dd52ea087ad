/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The JSON-lines event log (docs/events.md, version 1): writing one line
 * (causal_log_write.c: events printed directly, the rest with json-c),
 * parsing one with json-c (causal_log_parse.c), and a compact in-memory
 * store of the lines of one or more log files, plain or gzip-compressed,
 * for the analysis and the exporters (causal_log_store.c). What each type
 * carries is one table (causal_log_fields.h, names in causal_log.c).
 *
 * The store keeps one small record per event (struct clog_ev), the vector
 * clocks in one arena of exactly `nodes` entries each, and host, comm and
 * boot id strings and TCP links interned, so that a million events fit in
 * about a hundred megabytes.
 */
#ifndef _CAUSAL_LOG_H
#define _CAUSAL_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <linux/types.h>
#include <json-c/json.h>

#include "causal_event.h"

#define CLOG_VERSION		1
#define CLOG_HOST_MAX		256	/* bytes of a host name, with its NUL */
#define CLOG_BOOT_ID_MAX	64
#define CLOG_LINE_MAX		(64 * 1024)	/* longer lines are bad unread */
#define CLOG_NONE		0xffffffffU	/* no string, link or vclock */

enum clog_kind {
	CLOG_EVENT,		/* a struct causal_event */
	CLOG_META,
	CLOG_LOST,
	CLOG_BAD,		/* not a valid version 1 line */
	CLOG_OTHER_VERSION,	/* well-formed JSON with "v" other than 1 */
};

struct clog_meta {
	char boot_id[CLOG_BOOT_ID_MAX];
	__u64 started_ts;
	__u64 realtime_ns;	/* CLOCK_REALTIME at started_ts */
};

/* A "lost" line: events the tracer dropped, by type where it says. */
struct clog_lost {
	__u64 count;
	__u64 by_type[CAUSAL_EV_TYPES];	/* sums to count at most */
};

/* One parsed line. */
struct clog_line {
	enum clog_kind kind;
	char host[CLOG_HOST_MAX];
	__u64 ts;			/* lost: its ts, 0 when absent */
	union {
		struct causal_event ev;	/* CLOG_EVENT */
		struct clog_meta meta;	/* CLOG_META */
		struct clog_lost lost;	/* CLOG_LOST */
	};
	const char *why;		/* CLOG_BAD: what was wrong */
};

/* Names used in the log; NULL or -1 for values the format does not know. */
const char *clog_type_name(__u32 type);
int clog_type_parse(const char *name);
/* TCP states as the kernel's tcp_states.h names them, without "TCP_";
 * 0 (not a TCP state) is "UNKNOWN".
 */
const char *clog_tcp_state_name(__u32 state);
int clog_tcp_state_parse(const char *name);

/* "10.0.0.1:41000 -> 10.0.0.3:7000", "[::1]:41000 -> [::1]:7000". */
void clog_link_str(const struct causal_ev_link *l, char *buf, size_t size);

/*
 * The line of @ev (no newline, *len bytes), printed directly in the key
 * order and form json-c would print it, since this is causald's hot path.
 * The string lives until the next call; NULL (errno EINVAL) for an event
 * the format cannot express (unknown type, nodes 0 or over
 * CAUSAL_EV_MAX_NODES, a host that is empty or too long).
 */
struct clog_writer;

struct clog_writer *clog_writer_new(void);
void clog_writer_free(struct clog_writer *w);
const char *clog_writer_line(struct clog_writer *w,
			     const struct causal_event *ev, const char *host,
			     size_t *len);

/* The same line as a json-c object, for documents that embed it; NULL as
 * above.
 */
struct json_object *clog_event_json(const struct causal_event *ev,
				    const char *host);
struct json_object *clog_meta_json(const char *host,
				   const struct clog_meta *meta);
/* This host's meta line now: boot id, CLOCK_MONOTONIC and CLOCK_REALTIME
 * read together, as a log (causald) or a trace (causalctl trace -j) begins.
 */
void clog_meta_now(struct clog_meta *meta);
/* @by_type may be NULL; its zero counts are left out. */
struct json_object *clog_lost_json(const char *host, __u64 ts, __u64 count,
				   const __u64 by_type[CAUSAL_EV_TYPES]);

/* Write @obj as one line and drop the reference. 0 or -errno. */
int clog_write(FILE *f, struct json_object *obj);

/* A reusable parser (one json-c tokener). */
struct clog_parser;

struct clog_parser *clog_parser_new(void);
void clog_parser_free(struct clog_parser *p);

/* Parse one line of @len bytes (no newline needed, trailing whitespace
 * allowed). Never fails on its input: a line that is not a valid version 1
 * line comes back as CLOG_BAD or CLOG_OTHER_VERSION.
 */
enum clog_kind clog_parse(struct clog_parser *p, const char *buf, size_t len,
			  struct clog_line *out);

/* ---------------------------------------------------------------------- */
/* The store                                                               */
/* ---------------------------------------------------------------------- */

/* One event: the fields of struct causal_event its type uses. */
struct clog_ev {
	__u64 ts;
	__u64 stamp;
	union {
		__u64 held_ns;		/* deliver */
		__u64 wait_stamp;	/* hold */
		__u64 incarnation;	/* peer */
	};
	__u64 index;			/* deliver */
	union {
		struct {
			__u32 len;	/* send, arrive */
			__u32 targets;	/* send */
		};
		struct {
			__u32 link;	/* peer, tcp_*: link id or CLOG_NONE */
			__u32 err;	/* error */
		};
	};
	__u32 group;
	__u32 pid;
	__u32 host;			/* string ids */
	__u32 comm;
	__u32 vc;			/* first entry in the arena, or CLOG_NONE */
	__u16 node;
	__u16 peer;
	__u16 nodes;
	__u16 wait_node;		/* hold */
	__u8 type;
	__u8 flag;			/* deliver: gap; peer: joined; tcp_reset: rx */
	__u8 tcp_state;			/* retransmit: state; tcp_state: new */
	__u8 tcp_oldstate;
};

/* What one file contributed. */
struct clog_file {
	char *name;
	__u32 host;		/* host of its first good line, or CLOG_NONE */
	__u64 lines;		/* non-empty lines read */
	__u64 events;
	__u64 bad;		/* skipped: not a valid line */
	__u64 other_version;	/* skipped: "v" is not 1 */
	__u64 lost;		/* sum of its "lost" lines */
	bool has_meta;
	__u32 boot_id;		/* string id */
	__u64 started_ts;
	__u64 realtime_ns;
	__u64 first_ts, last_ts;	/* over its events */
};

struct clog_strtab {
	char *buf;
	size_t len, cap;
	__u32 *off;		/* string id -> offset in buf */
	__u32 n, cap_ids;
	__u32 *hash;		/* open addressing: id + 1, 0 empty */
	__u32 hash_size;
};

struct clog_store {
	struct clog_ev *ev;
	size_t nev, cap_ev;
	__u64 *vc;		/* arena of vector clocks */
	size_t nvc, cap_vc;
	struct clog_strtab str;
	struct causal_ev_link *links;
	__u32 nlinks, cap_links;
	__u32 *link_hash;	/* id + 1, 0 empty */
	__u32 link_hash_size;
	struct clog_file *files;
	size_t nfiles;
	__u64 lost;		/* over every file */
	__u64 lost_by_type[CAUSAL_EV_TYPES];	/* where the lines said */
	bool stdin_used;	/* "-" was loaded */
	char error[128];	/* why the last load failed: "NAME: reason" */
};

struct clog_store *clog_store_new(void);
void clog_store_free(struct clog_store *s);

/* Read a whole log file into @s: plain or gzip-compressed (zlib tells them
 * apart by their first bytes, whatever the name), "-" for standard input,
 * which can be read once only. Bad lines are counted in the file's record,
 * never fatal. Returns 0, or -errno when the file cannot be opened or read,
 * or its compressed data is cut or corrupt (-EILSEQ), with s->error saying
 * so; the record is still added, with what was read before a read error
 * (not for a second "-", -EINVAL).
 */
int clog_store_load(struct clog_store *s, const char *path);
int clog_store_load_fp(struct clog_store *s, FILE *f, const char *name);

/* Start a file record by hand, then add parsed lines to it (tests, and
 * callers with lines from elsewhere). 0 or -ENOMEM.
 */
int clog_store_begin(struct clog_store *s, const char *name);
int clog_store_add(struct clog_store *s, const struct clog_line *l);

static inline const char *clog_str(const struct clog_store *s, __u32 id)
{
	return id == CLOG_NONE ? "" : s->str.buf + s->str.off[id];
}

static inline const __u64 *clog_vclock(const struct clog_store *s,
				       const struct clog_ev *e)
{
	return e->vc == CLOG_NONE ? NULL : s->vc + e->vc;
}

static inline const struct causal_ev_link *
clog_ev_link(const struct clog_store *s, const struct clog_ev *e)
{
	return e->link == CLOG_NONE ? NULL : &s->links[e->link];
}

/* Events that carry a link rather than a length. */
static inline bool clog_has_link(__u32 type)
{
	return type == CAUSAL_EV_PEER || type >= CAUSAL_EV_TCP_RETRANSMIT;
}

static inline bool clog_is_causal(__u32 type)
{
	return type >= CAUSAL_EV_SEND && type < CAUSAL_EV_TCP_RETRANSMIT;
}

/* Types with a line in the log: all but totals, which only causald's
 * model takes.
 */
static inline bool clog_is_logged(__u32 type)
{
	return type >= CAUSAL_EV_SEND && type < CAUSAL_EV_TYPES &&
	       type != CAUSAL_EV_TOTALS;
}

/* Id of @str in the store's string table, CLOG_NONE if it was never seen. */
__u32 clog_str_find(const struct clog_store *s, const char *str);

/* The full struct of event @e (for the codec and for printing). */
void clog_ev_expand(const struct clog_store *s, const struct clog_ev *e,
		    struct causal_event *out);

#endif /* _CAUSAL_LOG_H */
