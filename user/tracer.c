// SPDX-License-Identifier: GPL-2.0
/* Loading the causal BPF programs: see tracer.h. */
#define _GNU_SOURCE
#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "causal_log.h"
#include "causal_types.h"
#include "causal_hist.h"
#include "causal_tp_args.h"
#include "causal.skel.h"
#include "tracer.h"

#define TRACEFS		"/sys/kernel/tracing"
#define CAUSAL_EVENTS	TRACEFS "/events/causal"

struct tracer {
	struct causal_bpf *skel;
	struct ring_buffer *rb;
	tracer_event_fn fn;
	void *ctx;
	bool has_module;
	struct causal_event ev;		/* the event being handed out */
	struct causal_ev_totals totals;	/* ev.totals of a totals event */
	struct tracer_comm {
		__u32 pid;
		__u64 ts_ns;		/* when read */
		char comm[CAUSAL_EV_COMM_LEN];
	} comms[256];			/* by pid, direct mapped */
};

/* Names are read again after this, for pids that were reused. */
#define COMM_TTL_NS	1000000000ULL

static_assert(sizeof(struct causal_rec) == 48,
	      "a record is 48 bytes and the clock (issue 11: at most 64)");
static_assert(CAUSAL_EV_HIST_BUCKETS == CAUSAL_HIST_BUCKETS,
	      "a totals event carries the module's whole histogram");
static_assert(offsetof(struct causal_ev_totals, has_hist) ==
	      sizeof(struct causal_tp_totals),
	      "the programs copy struct causal_tp_totals to the record's head");
static_assert(sizeof(struct causal_ev_delivery) ==
	      sizeof(struct causal_tp_delivery) &&
	      offsetof(struct causal_ev_delivery, sender) ==
	      offsetof(struct causal_tp_delivery, sender) &&
	      offsetof(struct causal_ev_delivery, gap) ==
	      offsetof(struct causal_tp_delivery, gap),
	      "the programs copy struct causal_tp_delivery as it is");
static_assert(CAUSAL_EV_BATCH == CAUSAL_TRACE_BATCH,
	      "a deliver record has room for a whole causal_deliver_batch");

long tracer_parse_types(const char *list)
{
	char *copy = strdup(list), *tok, *save = NULL;
	long mask = 0;
	int t;

	if (!copy)
		return -1;
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (!strcmp(tok, "causal")) {
			mask |= CAUSAL_EV_CAUSAL;
			continue;
		}
		if (!strcmp(tok, "tcp")) {
			mask |= CAUSAL_EV_TCP;
			continue;
		}
		t = clog_type_parse(tok);
		if (t <= 0 || t >= CAUSAL_EV_TYPES) {
			free(copy);
			return -1;
		}
		mask |= CAUSAL_EV_BIT(t);
	}
	free(copy);
	return mask;
}

int tracer_parse_addr(struct tracer_opts *o, const char *s)
{
	memset(o->addr, 0, sizeof(o->addr));
	if (inet_pton(AF_INET, s, o->addr) == 1)
		o->family = AF_INET;
	else if (inet_pton(AF_INET6, s, o->addr) == 1)
		o->family = AF_INET6;
	else
		return -1;
	o->filter_addr = true;
	return 0;
}

int tracer_module_version(char *buf, size_t len)
{
	struct stat st;
	FILE *fp;

	if (stat("/sys/module/causal", &st))
		return -ENOENT;
	fp = fopen("/sys/module/causal/version", "re");
	if (!fp)
		return -ENODATA;
	if (!fgets(buf, len, fp))
		buf[0] = 0;
	fclose(fp);
	buf[strcspn(buf, "\n")] = 0;
	return buf[0] ? 0 : -ENODATA;
}

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

#define TP_ARGS_PARAM	"/sys/module/causal/parameters/tracepoint_args"

/* The programs attach raw: they read the tracepoints' arguments, which
 * only the module knows. It says which it was built with; they must be
 * the ones these programs were built with.
 */
static int tp_args_check(char *err, size_t errlen)
{
	static const char want[] = CAUSAL_TP_ARGS_TEXT;
	char have[sizeof(want) + 2];
	size_t n;
	FILE *fp;

	fp = fopen(TP_ARGS_PARAM, "r");
	if (!fp) {
		set_err(err, errlen,
			"%s: %s: the loaded module is older than these tools",
			TP_ARGS_PARAM, strerror(errno));
		return -1;
	}
	n = fread(have, 1, sizeof(have) - 1, fp);
	fclose(fp);
	have[n] = '\0';
	if (n && have[n - 1] == '\n')
		have[--n] = '\0';
	if (strcmp(have, want)) {
		set_err(err, errlen,
			"the loaded module's tracepoints pass other arguments than these tools were built for (%s)",
			TP_ARGS_PARAM);
		return -1;
	}
	return 0;
}

static int mount_tracefs(char *err, size_t errlen)
{
	struct stat st;

	if (!stat(TRACEFS "/events", &st))
		return 0;
	if (mount("nodev", TRACEFS, "tracefs", 0, NULL) && errno != EBUSY) {
		set_err(err, errlen, "cannot mount tracefs on " TRACEFS ": %s",
			strerror(errno));
		return -1;
	}
	return 0;
}

/* Channels joined before the tracer started: their connections from
 * /proc/net/causal, so that their TCP events are kept.
 */
static void prefill_links(struct tracer *t)
{
	char line[1024], local[80], remote[80];
	int fd = bpf_map__fd(t->skel->maps.links);
	unsigned int group = 0;
	FILE *fp;

	fp = fopen("/proc/net/causal", "r");
	if (!fp)
		return;
	while (fgets(line, sizeof(line), fp)) {
		struct causal_ev_link link = {};
		char *l, *r, *lp, *rp;

		if (sscanf(line, "endpoint group=%u", &group) == 1)
			continue;
		l = strstr(line, " local=");
		r = strstr(line, " remote=");
		if (!l || !r || sscanf(l, " local=%79s", local) != 1 ||
		    sscanf(r, " remote=%79s", remote) != 1)
			continue;
		lp = strrchr(local, ':');
		rp = strrchr(remote, ':');
		if (!lp || !rp)
			continue;
		*lp++ = 0;
		*rp++ = 0;
		link.sport = atoi(lp);
		link.dport = atoi(rp);
		if (local[0] == '[') {
			local[strlen(local) - 1] = 0;
			remote[strlen(remote) - 1] = 0;
			link.family = AF_INET6;
			if (inet_pton(AF_INET6, local + 1, link.saddr) != 1 ||
			    inet_pton(AF_INET6, remote + 1, link.daddr) != 1)
				continue;
		} else {
			link.family = AF_INET;
			if (inet_pton(AF_INET, local, link.saddr) != 1 ||
			    inet_pton(AF_INET, remote, link.daddr) != 1)
				continue;
		}
		bpf_map_update_elem(fd, &link, &group, BPF_ANY);
	}
	fclose(fp);
}

/* Records are shorter than the struct (causal_event.h): handed out in a
 * whole one, with the clock entries past `nodes` zero.
 */
/* The records carry a pid, not a task name: the name of the process, as
 * /proc has it, read once a second at most per pid.
 */
static const char *pid_comm(struct tracer *t, __u32 pid, __u64 now)
{
	struct tracer_comm *c = &t->comms[pid % (sizeof(t->comms) / sizeof(t->comms[0]))];
	char path[32];
	FILE *f;

	if (!pid)
		return "";
	if (c->pid == pid && now - c->ts_ns < COMM_TTL_NS)
		return c->comm;
	c->pid = pid;
	c->ts_ns = now;
	c->comm[0] = 0;
	snprintf(path, sizeof(path), "/proc/%u/comm", pid);
	f = fopen(path, "r");
	if (f) {
		if (fgets(c->comm, sizeof(c->comm), f))
			c->comm[strcspn(c->comm, "\n")] = 0;
		fclose(f);
	}
	return c->comm;
}

/* A deliver record's deliveries, one event each, in index order. */
static int on_deliveries(struct tracer *t, const struct causal_rec *rec,
			 size_t size)
{
	size_t batch = CAUSAL_REC_BATCH_ROOM(rec->batch.count);
	size_t room = CAUSAL_REC_ROOM(rec->nodes);
	const struct causal_ev_delivery *d;
	struct causal_event *ev = &t->ev;
	const char *comm;
	int ret = 0;

	if (!rec->nodes || rec->batch.count > batch ||
	    size < CAUSAL_REC_DELIVER_SIZE(batch, room))
		return 0;
	d = (const void *)rec + CAUSAL_REC_DELIVERIES(batch, room);
	comm = pid_comm(t, rec->pid, rec->ts_ns);
	for (__u32 i = 0; i < rec->batch.count && !ret; i++) {
		memset(ev, 0, offsetof(struct causal_event, vclock));
		ev->ts_ns = d[i].deliver_ns;
		ev->type = CAUSAL_EV_DELIVER;
		ev->pid = rec->pid;
		strcpy(ev->comm, comm);
		ev->group = rec->group;
		ev->node = rec->node;
		ev->peer = d[i].sender;
		ev->stamp = d[i].stamp;
		ev->index = d[i].index;
		ev->held_ns = d[i].held_ns;
		ev->gap = d[i].gap;
		ev->nodes = rec->nodes;
		memcpy(ev->vclock, rec->vclock + i * rec->nodes,
		       rec->nodes * sizeof(__u64));
		ret = t->fn(t->ctx, ev);
	}
	return ret;
}

static int on_sample(void *ctx, void *data, size_t size)
{
	const struct causal_rec *rec = data;
	struct tracer *t = ctx;
	struct causal_event *ev = &t->ev;
	const struct causal_ev_totals *tot;
	size_t room, need;

	if (size < CAUSAL_REC_SIZE(0) || rec->nodes > CAUSAL_EV_MAX_NODES)
		return 0;
	if (rec->type == CAUSAL_EV_DELIVER)
		return on_deliveries(t, rec, size);
	room = rec->type == CAUSAL_EV_TOTALS ||
	       rec->type >= CAUSAL_EV_TCP_RETRANSMIT ? 0 :
	       CAUSAL_REC_ROOM(rec->nodes);
	need = CAUSAL_REC_SIZE(room);
	if (rec->type == CAUSAL_EV_TOTALS)
		need = CAUSAL_REC_TOTALS_SIZE;
	else if (CAUSAL_REC_HAS_LINK(rec->type))
		need += sizeof(struct causal_ev_link);
	if (rec->type == CAUSAL_EV_TCP_STATE)
		need = CAUSAL_REC_TCP_STATE_SIZE;
	if (size < need)
		return 0;

	memset(ev, 0, offsetof(struct causal_event, vclock));
	ev->ts_ns = rec->ts_ns;
	ev->type = rec->type;
	ev->pid = rec->pid;
	if (rec->type == CAUSAL_EV_TCP_STATE)
		memcpy(ev->comm, (const char *)rec + CAUSAL_REC_TCP_SIZE,
		       CAUSAL_EV_COMM_LEN - 1);
	else
		strcpy(ev->comm, pid_comm(t, rec->pid, rec->ts_ns));
	ev->group = rec->group;
	ev->node = rec->node;
	ev->peer = rec->peer;
	ev->stamp = rec->stamp;
	ev->nodes = rec->nodes;
	ev->totals = NULL;
	switch (rec->type) {
	case CAUSAL_EV_SEND:
		ev->targets = rec->send.targets;
		/* fall through */
	case CAUSAL_EV_ARRIVE:
		ev->len = rec->send.len;
		break;
	case CAUSAL_EV_HOLD:
		ev->wait_node = rec->wait.node;
		ev->wait_stamp = rec->wait.stamp;
		break;
	case CAUSAL_EV_ERROR:
		ev->err = rec->error.err;
		break;
	case CAUSAL_EV_PEER:
		ev->joined = rec->flag;
		ev->incarnation = rec->hello.incarnation;
		memcpy(&ev->link, &rec->vclock[room], sizeof(ev->link));
		break;
	case CAUSAL_EV_TOTALS:
		tot = (const void *)rec->vclock;
		memcpy(&t->totals, tot, offsetof(struct causal_ev_totals,
						 blame_us));
		memset(t->totals.blame_us, 0, sizeof(t->totals.blame_us));
		memcpy(t->totals.blame_us, tot->blame_us,
		       rec->nodes * sizeof(__u64));
		if (tot->has_hist)
			memcpy(t->totals.hold_hist, tot->hold_hist,
			       sizeof(t->totals.hold_hist));
		else
			memset(t->totals.hold_hist, 0,
			       sizeof(t->totals.hold_hist));
		ev->totals = &t->totals;
		break;
	case CAUSAL_EV_TCP_RETRANSMIT:
	case CAUSAL_EV_TCP_STATE:
	case CAUSAL_EV_TCP_RESET:
		ev->tcp_state = rec->tcp.state;
		ev->tcp_oldstate = rec->tcp.oldstate;
		ev->tcp_rx = rec->flag;
		memcpy(&ev->link, &rec->vclock[0], sizeof(ev->link));
		break;
	}
	/* A totals event's entries are its blame, not a clock. */
	if (room)
		memcpy(ev->vclock, rec->vclock, rec->nodes * sizeof(__u64));
	else
		memset(ev->vclock, 0, rec->nodes * sizeof(__u64));
	return t->fn(t->ctx, ev);
}

static bool libbpf_verbose;

/* libbpf speaks (the verifier's log too) only with -v (tracer_opts.verbose)
 * or CAUSAL_BPF_DEBUG set: our own message says what failed.
 */
static int libbpf_print(enum libbpf_print_level level, const char *fmt,
			va_list ap)
{
	return libbpf_verbose || getenv("CAUSAL_BPF_DEBUG") ?
	       vfprintf(stderr, fmt, ap) : 0;
}

struct tracer *tracer_open(const struct tracer_opts *o, tracer_event_fn fn,
			   void *ctx, char *err, size_t errlen)
{
	struct bpf_program *prog;
	struct tracer *t;
	struct stat st;
	__u32 wanted;
	int ret;

	if (geteuid()) {
		set_err(err, errlen,
			"tracing needs root (CAP_BPF and CAP_PERFMON to load BPF programs)");
		return NULL;
	}
	if (mount_tracefs(err, errlen))
		return NULL;
	t = calloc(1, sizeof(*t));
	if (!t) {
		set_err(err, errlen, "out of memory");
		return NULL;
	}
	t->fn = fn;
	t->ctx = ctx;
	t->has_module = !stat(CAUSAL_EVENTS, &st);
	if (t->has_module && tp_args_check(err, errlen))
		goto err_free;

	libbpf_verbose = o->verbose;
	libbpf_set_print(libbpf_print);
	t->skel = causal_bpf__open();
	if (!t->skel) {
		set_err(err, errlen, "cannot open the BPF object: %s",
			strerror(errno));
		goto err_free;
	}
	t->skel->rodata->filter_group = o->filter_group;
	t->skel->rodata->targ_group = o->group;
	t->skel->rodata->filter_node = o->filter_node;
	t->skel->rodata->targ_node = o->node;
	t->skel->rodata->targ_pid = o->pid;
	t->skel->rodata->ev_mask = o->ev_mask ? o->ev_mask : CAUSAL_EV_ALL;
	t->skel->rodata->tcp_all = o->tcp_all;
	t->skel->rodata->targ_port = o->port;
	if (o->filter_addr) {
		__u8 v6[16] = { [10] = 0xff, [11] = 0xff };

		if (o->family == AF_INET)
			memcpy(v6 + 12, o->addr, 4);
		else
			memcpy(v6, o->addr, 16);
		t->skel->rodata->filter_addr = true;
		t->skel->rodata->targ_family = o->family;
		memcpy((void *)t->skel->rodata->targ_addr, o->addr, 16);
		memcpy((void *)t->skel->rodata->targ_addr_v6, v6, 16);
	}
	if (o->ringbuf_bytes)
		bpf_map__set_max_entries(t->skel->maps.events, o->ringbuf_bytes);
	/* A program for events not asked for is not attached at all, but for
	 * peer's, which learns the channels' links for the TCP events; without
	 * the module its tracepoints do not exist: TCP only.
	 */
	wanted = t->skel->rodata->ev_mask;
	if (wanted & CAUSAL_EV_TCP)
		wanted |= CAUSAL_EV_BIT(CAUSAL_EV_PEER);
	bpf_object__for_each_program(prog, t->skel->obj) {
		const char *sec = bpf_program__section_name(prog);
		int type;

		if (strncmp(sec, "raw_tp/causal_", 14))
			continue;
		/* Deliver events come from the batch tracepoint. */
		type = strcmp(sec + 14, "deliver_batch") ?
		       clog_type_parse(sec + 14) : CAUSAL_EV_DELIVER;
		if (!t->has_module ||
		    (type >= 0 && !(wanted & CAUSAL_EV_BIT(type))))
			bpf_program__set_autoload(prog, false);
	}
	ret = causal_bpf__load(t->skel);
	if (ret) {
		set_err(err, errlen, "cannot load the BPF programs: %s%s",
			strerror(-ret), ret == -EPERM ?
			" (root with CAP_BPF and CAP_PERFMON needed)" : "");
		goto err_destroy;
	}
	ret = causal_bpf__attach(t->skel);
	if (ret) {
		set_err(err, errlen, "cannot attach the BPF programs: %s",
			strerror(-ret));
		goto err_destroy;
	}
	prefill_links(t);
	t->rb = ring_buffer__new(bpf_map__fd(t->skel->maps.events), on_sample,
				 t, NULL);
	if (!t->rb) {
		set_err(err, errlen, "cannot open the ring buffer: %s",
			strerror(errno));
		goto err_destroy;
	}
	return t;

err_destroy:
	causal_bpf__destroy(t->skel);
err_free:
	free(t);
	return NULL;
}

bool tracer_has_module(const struct tracer *t)
{
	return t->has_module;
}

int tracer_fd(const struct tracer *t)
{
	return ring_buffer__epoll_fd(t->rb);
}

int tracer_poll(struct tracer *t, int timeout_ms)
{
	int n = ring_buffer__poll(t->rb, timeout_ms), more;

	/* Events below the wakeup threshold raise no epoll event: take them. */
	if (n < 0)
		return n;
	more = ring_buffer__consume(t->rb);
	return more < 0 ? more : n + more;
}

__u64 tracer_lost(const struct tracer *t, __u64 by_type[CAUSAL_EV_TYPES])
{
	int ncpu = libbpf_num_possible_cpus(), fd, i;
	__u64 *vals, sum = 0, n;
	__u32 type;

	if (by_type)
		memset(by_type, 0, CAUSAL_EV_TYPES * sizeof(*by_type));
	if (ncpu <= 0)
		return 0;
	vals = calloc(ncpu, sizeof(*vals));
	if (!vals)
		return 0;
	fd = bpf_map__fd(t->skel->maps.lost);
	for (type = 0; type < CAUSAL_EV_TYPES; type++) {
		if (bpf_map_lookup_elem(fd, &type, vals))
			continue;
		for (n = 0, i = 0; i < ncpu; i++)
			n += vals[i];
		if (by_type)
			by_type[type] = n;
		sum += n;
	}
	free(vals);
	return sum;
}

void tracer_close(struct tracer *t)
{
	if (!t)
		return;
	ring_buffer__free(t->rb);
	causal_bpf__destroy(t->skel);
	free(t);
}
