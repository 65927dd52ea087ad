// SPDX-License-Identifier: GPL-2.0
/*
 * The event log's store (causal_log.h): the lines of one or more log files
 * in compact records, each event's own fields kept where the table of its
 * type (causal_log_fields.h) says, strings and links interned.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "causal_log.h"
#include "causal_log_fields.h"


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
	const struct clog_type *t = &clog_types[ev->type];
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
	for (int i = 0; i < t->nfields; i++) {
		const struct clog_field *fd = &t->f[i];
		__u64 v;

		if (fd->kind == CLOG_F_LINK) {
			ret = link_intern(s, &ev->link, &e->link);
			if (ret)
				return ret;
			continue;
		}
		v = clog_ev_field(ev, fd);
		if (fd->kind == CLOG_F_BOOL)
			v = !!v;
		else if (fd->kind == CLOG_F_STATE && v >= CLOG_N_TCP_STATES)
			v = 0;
		clog_field_set(e, fd->st_off, fd->st_size, v);
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
		if (clog_ev_check(&l->ev, l->host)) {
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

/* Where lines come from: a stdio stream or a zlib one (which reads plain
 * files as they are). read() returns bytes, 0 at the end, or -errno with
 * the reason in s->error.
 */
struct src {
	FILE *f;
	gzFile gz;
	const char *name;
};

static void set_error(struct clog_store *s, const char *name, const char *why)
{
	snprintf(s->error, sizeof(s->error), "%s: %s", name, why);
}

static long src_read(struct clog_store *s, struct src *in, char *buf, size_t n)
{
	const char *why;
	int errnum;
	size_t got;
	int r;

	if (in->f) {
		got = fread(buf, 1, n, in->f);
		if (!got && ferror(in->f)) {
			r = errno ? errno : EIO;
			set_error(s, in->name, strerror(r));
			return -r;
		}
		return got;
	}
	errno = 0;
	r = gzread(in->gz, buf, n);
	why = gzerror(in->gz, &errnum);
	if (r >= 0 && (errnum == Z_OK || errnum == Z_STREAM_END))
		return r;
	if (errnum == Z_ERRNO) {
		r = errno ? errno : EIO;
		set_error(s, in->name, strerror(r));
		return -r;
	}
	/* A cut or corrupt compressed file: what zlib says of it, without
	 * the "<fd:N>: " that it puts first for gzdopen()'s streams.
	 */
	if (why && !strncmp(why, "<fd:", 4) && strstr(why, ": "))
		why = strstr(why, ": ") + 2;
	set_error(s, in->name, why && *why ? why : "bad compressed data");
	return -EILSEQ;
}

static int load_src(struct clog_store *s, struct src *in)
{
	struct clog_parser *p = clog_parser_new();
	struct clog_line *line = malloc(sizeof(*line));
	char *buf = malloc(CLOG_READ_BUF);
	size_t have = 0;
	bool skipping = false;	/* inside a line longer than the buffer */
	long n;
	int ret;

	ret = p && line && buf ? clog_store_begin(s, in->name) : -ENOMEM;
	while (!ret) {
		size_t start = 0, len;
		char *nl;
		bool eof;

		n = src_read(s, in, buf + have, CLOG_READ_BUF - have);
		if (n < 0) {
			ret = n;
			break;
		}
		have += n;
		eof = n == 0;
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
	if (ret == -ENOMEM && !s->error[0])
		set_error(s, in->name, strerror(ENOMEM));
	free(buf);
	free(line);
	clog_parser_free(p);
	return ret;
}

int clog_store_load_fp(struct clog_store *s, FILE *f, const char *name)
{
	struct src in = { .f = f, .name = name };

	s->error[0] = 0;
	return load_src(s, &in);
}

int clog_store_load(struct clog_store *s, const char *path)
{
	struct src in = { .name = path };
	bool std_in = !strcmp(path, "-");
	int fd, ret;

	s->error[0] = 0;
	if (std_in && s->stdin_used) {
		set_error(s, path, "standard input given twice");
		return -EINVAL;
	}
	fd = std_in ? dup(STDIN_FILENO) : open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		in.gz = gzdopen(fd, "rb");
		if (!in.gz) {
			close(fd);
			errno = ENOMEM;
		}
	}
	if (!in.gz) {
		ret = -errno;
		set_error(s, path, strerror(errno));
		if (!clog_store_begin(s, path))
			return ret;
		return -ENOMEM;
	}
	s->stdin_used |= std_in;
	gzbuffer(in.gz, 256 * 1024);
	ret = load_src(s, &in);
	gzclose(in.gz);
	return ret;
}

void clog_ev_expand(const struct clog_store *s, const struct clog_ev *e,
		    struct causal_event *out)
{
	const struct clog_type *t = &clog_types[e->type];

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
	for (int i = 0; i < t->nfields; i++) {
		const struct clog_field *fd = &t->f[i];

		if (fd->kind != CLOG_F_LINK)
			clog_field_set(out, fd->ev_off, fd->ev_size,
				       clog_field_get(e, fd->st_off, fd->st_size));
		else if (e->link != CLOG_NONE)
			out->link = s->links[e->link];
	}
}
