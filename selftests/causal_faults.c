// SPDX-License-Identifier: GPL-2.0
/*
 * Fault injection (issue 9): failslab and fail_page_alloc, restricted by
 * their stack trace filter to allocations made with the module's code on
 * the stack: its own, and TCP's on its behalf (the skbs of a frame it
 * writes, the ACK of what it read).
 *
 * - System calls (TCP_ULP, CAUSAL_JOIN, send, sendmsg, recv, close): for
 *   n = 1, 2, ... the n-th such allocation of the calling thread fails
 *   (/proc/thread-self/fail-nth), until a call completes without reaching
 *   it. Each call either works or fails cleanly (ENOMEM; EAGAIN when
 *   non-blocking; a channel that fails does so with an errno), and what it
 *   reported is what the peer sees: a raw peer reads every frame the module
 *   writes and checks that each is whole and valid, that every message sent
 *   arrives exactly once and in order, and that none waits in the module
 *   for a later call to push it out.
 * - Receive (softirq) and transmit work: every second slab and third page
 *   allocation of the module fails for a while, as a raw peer floods frames
 *   that must be held (moved out of TCP), or as the test sends (the work
 *   items write CLOCK frames). Once injection stops, every message is
 *   delivered exactly once, in order, and every peer learns our last count.
 *
 * Skips without the module, fail-nth or debugfs' failslab (Debian's
 * kernels). Injection is silent (verbose 0): the VM runner fails the run on
 * any report in the kernel log.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <linux/causal.h>

#include "kselftest_harness.h"
#include "causal_util.h"
#include "causal_scene.h"

#define FAULT_DEBUGFS	"/sys/kernel/debug/"
#define FAIL_NTH	"/proc/thread-self/fail-nth"
#define MODULE_SECTIONS	"/sys/module/causal/sections"

/* Bound on the failure points tried per call. */
#define NTH_MAX		400
/* A frame the module wrote reaches the raw peer within this. */
#define ARRIVE_MS	2000

/* ---- the fault injection knobs ---- */

static const char *const fault_attrs[] = { "failslab", "fail_page_alloc" };

struct knob {
	const char *name;
	const char *value;
};

/* Nothing fails unless armed through fail-nth or by fault_storm(); GFP_KERNEL
 * allocations and order-0 pages may fail too; no messages (with verbose > 0
 * each failure would print, with a stack trace at 2).
 */
static const struct knob fault_armed[] = {
	{ "probability", "0" },
	{ "interval", "1" },
	{ "times", "-1" },
	{ "space", "0" },
	{ "verbose", "0" },
	{ "task-filter", "N" },
	{ "ignore-gfp-wait", "N" },
	{ "stacktrace-depth", "32" },
	{ "reject-start", "0" },
	{ "reject-end", "0" },
};

/* The kernel's own settings (lib/fault-inject.c, mm/failslab.c,
 * mm/fail_page_alloc.c), put back after each test, whatever a test that
 * died left behind.
 */
static const struct knob fault_default[] = {
	{ "probability", "0" },
	{ "interval", "1" },
	{ "times", "1" },
	{ "space", "0" },
	{ "verbose", "2" },
	{ "task-filter", "N" },
	{ "ignore-gfp-wait", "Y" },
	{ "stacktrace-depth", "32" },
	{ "require-start", "0" },
	{ "require-end", "0xffffffffffffffff" },
	{ "reject-start", "0" },
	{ "reject-end", "0" },
};

static int knob_write(const char *attr, const char *name, const char *value)
{
	char path[128];
	int fd, ret;

	snprintf(path, sizeof(path), FAULT_DEBUGFS "%s/%s", attr, name);
	fd = open(path, O_WRONLY);
	if (fd < 0)
		return -1;
	ret = write(fd, value, strlen(value)) == (ssize_t)strlen(value) ? 0 : -1;
	close(fd);
	return ret;
}

static long knob_read(const char *attr, const char *name)
{
	char path[128], buf[32] = {};
	int fd;

	snprintf(path, sizeof(path), FAULT_DEBUGFS "%s/%s", attr, name);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	if (read(fd, buf, sizeof(buf) - 1) <= 0)
		buf[0] = 0;
	close(fd);
	return strtol(buf, NULL, 0);
}

/* The module's code: from its lowest text section up to the first section
 * above its highest one (the loader lays text sections out together). Init
 * text is gone after load.
 */
static int module_text(unsigned long *start, unsigned long *end)
{
	unsigned long lo = ~0UL, hi = 0, above = ~0UL;
	unsigned long addr[128];
	bool text[128];
	struct dirent *de;
	int n = 0;
	DIR *d;

	d = opendir(MODULE_SECTIONS);
	if (!d)
		return -1;
	while ((de = readdir(d)) && n < 128) {
		char path[300], buf[32] = {};
		int fd;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
		    !strncmp(de->d_name, ".init", 5))
			continue;
		snprintf(path, sizeof(path), MODULE_SECTIONS "/%s", de->d_name);
		fd = open(path, O_RDONLY);
		if (fd < 0)
			continue;
		if (read(fd, buf, sizeof(buf) - 1) > 0) {
			addr[n] = strtoul(buf, NULL, 16);
			text[n] = strstr(de->d_name, "text");
			n++;
		}
		close(fd);
	}
	closedir(d);
	for (int i = 0; i < n; i++) {
		if (!text[i] || !addr[i])
			continue;
		if (addr[i] < lo)
			lo = addr[i];
		if (addr[i] > hi)
			hi = addr[i];
	}
	for (int i = 0; i < n; i++)
		if (!text[i] && addr[i] > hi && addr[i] < above)
			above = addr[i];
	if (!hi || above == ~0UL)
		return -1;
	*start = lo;
	*end = above;
	return 0;
}

/* Per test: fail-nth of the test's thread. */
struct faults {
	int nth;
};

/* Returns false when the test is skipped. */
static bool fault_setup(struct __test_metadata *_metadata, struct faults *f)
{
	unsigned long text_start, text_end;
	char start[32], end[32];

	f->nth = -1;
	if (access("/sys/module/causal", F_OK))
		SKIP(return false, "causal module not loaded");
	if (access(FAIL_NTH, F_OK) || access(FAULT_DEBUGFS "failslab", F_OK) ||
	    access(FAULT_DEBUGFS "fail_page_alloc", F_OK))
		SKIP(return false, "no fail-nth, failslab or fail_page_alloc");
	signal(SIGPIPE, SIG_IGN);
	ASSERT_EQ(module_text(&text_start, &text_end), 0)
		TH_LOG("cannot find the module's text in " MODULE_SECTIONS);
	snprintf(start, sizeof(start), "0x%lx", text_start);
	snprintf(end, sizeof(end), "0x%lx", text_end);
	for (int a = 0; a < 2; a++) {
		for (size_t k = 0; k < sizeof(fault_armed) / sizeof(fault_armed[0]); k++) {
			ASSERT_EQ(knob_write(fault_attrs[a], fault_armed[k].name,
					     fault_armed[k].value), 0)
				TH_LOG("%s/%s", fault_attrs[a], fault_armed[k].name);
		}
		ASSERT_EQ(knob_write(fault_attrs[a], "require-start", start), 0);
		ASSERT_EQ(knob_write(fault_attrs[a], "require-end", end), 0);
	}
	/* The module allocates single pages; user pages (highmem) stay out. */
	ASSERT_EQ(knob_write("fail_page_alloc", "min-order", "0"), 0);
	ASSERT_EQ(knob_write("fail_page_alloc", "ignore-gfp-highmem", "Y"), 0);
	f->nth = open(FAIL_NTH, O_RDWR);
	ASSERT_GE(f->nth, 0);
	return true;
}

static void fault_teardown(struct faults *f)
{
	for (int a = 0; a < 2; a++)
		for (size_t k = 0; k < sizeof(fault_default) / sizeof(fault_default[0]); k++)
			knob_write(fault_attrs[a], fault_default[k].name,
				   fault_default[k].value);
	knob_write("fail_page_alloc", "min-order", "1");
	if (f->nth >= 0)
		close(f->nth);
}

/* Fail the @n-th allocation with the module's code on the stack that this
 * thread makes from now on.
 */
static void nth_arm(struct __test_metadata *_metadata, struct faults *f,
		    unsigned int n)
{
	char buf[16];
	int len = snprintf(buf, sizeof(buf), "%u", n);

	ASSERT_EQ(pwrite(f->nth, buf, len, 0), len);
}

/* Disarm; was the armed failure injected? (fail-nth reads 0 once it was.) */
static bool nth_fired(struct __test_metadata *_metadata, struct faults *f)
{
	char buf[16] = {};

	ASSERT_GT(pread(f->nth, buf, sizeof(buf) - 1, 0), 0);
	ASSERT_EQ(pwrite(f->nth, "0", 1, 0), 1);
	return atoi(buf) == 0;
}

/* Every @slab-th slab and @page-th page allocation of the module fails, in
 * any context (softirq included) until fault_calm(); counted by "times".
 */
#define STORM_TIMES	1000000

static void fault_storm(struct __test_metadata *_metadata, int slab, int page)
{
	char buf[16];

	for (int a = 0; a < 2; a++) {
		snprintf(buf, sizeof(buf), "%d", a ? page : slab);
		ASSERT_EQ(knob_write(fault_attrs[a], "interval", buf), 0);
		snprintf(buf, sizeof(buf), "%d", STORM_TIMES);
		ASSERT_EQ(knob_write(fault_attrs[a], "times", buf), 0);
		ASSERT_EQ(knob_write(fault_attrs[a], "probability", "100"), 0);
	}
}

/* Stop the storm; returns how many allocations it failed. */
static long fault_calm(struct __test_metadata *_metadata)
{
	long failed = 0;

	for (int a = 0; a < 2; a++) {
		ASSERT_EQ(knob_write(fault_attrs[a], "probability", "0"), 0);
		failed += STORM_TIMES - knob_read(fault_attrs[a], "times");
		ASSERT_EQ(knob_write(fault_attrs[a], "times", "-1"), 0);
	}
	return failed;
}

/* ---- messages and frames ---- */

/* A message's payload: its id in the first 4 bytes, then a pattern of it. */
static void fill_payload(char *buf, size_t len, __u32 id)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (char)(id * 131 + i * 7);
	if (len >= sizeof(id))
		memcpy(buf, &id, sizeof(id));
}

/* The id of a payload made by fill_payload(), or -1. */
static long payload_id(const char *buf, size_t len)
{
	__u32 id;

	if (len < sizeof(id))
		return -1;
	memcpy(&id, buf, sizeof(id));
	for (size_t i = sizeof(id); i < len; i++)
		if (buf[i] != (char)(id * 131 + i * 7))
			return -1;
	return id;
}

enum stream_end {
	STREAM_OPEN,
	STREAM_EOF,		/* at a frame boundary */
	STREAM_CUT,		/* inside a frame */
	STREAM_BAD,		/* a header that is not a frame */
	STREAM_TIMEOUT,		/* nothing more came in time */
};

static const char *const stream_end_name[] = {
	"open", "EOF", "EOF inside a frame", "not a frame", "timeout",
};

/* What the raw peer read of one frame. */
struct seen {
	__u8 type;
	__u16 flags;
	__u16 nodes;
	__u16 sender;
	__u32 len;
	__u64 stamp;		/* the sender's own entry */
	long id;		/* DATA: payload_id(), or -1 */
};

/* Fill @buf with @len bytes; returns how many came before EOF, an error or
 * SO_RCVTIMEO.
 */
static size_t read_some(int fd, void *buf, size_t len, bool *timeout)
{
	size_t got = 0;

	*timeout = false;
	while (got < len) {
		ssize_t n = read(fd, (char *)buf + got, len - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			*timeout = true;
		if (n <= 0)
			break;
		got += n;
	}
	return got;
}

/* Read one frame with the shared codec. Returns STREAM_OPEN with it in @s,
 * or how the stream ended (*@cut: bytes of the frame it ended in).
 */
static enum stream_end frame_read(int fd, struct seen *s, size_t *cut)
{
	char hdr[CAUSAL_WIRE_HDR_LEN];
	__u64 clock[CAUSAL_WIRE_MAX_NODES];
	struct causal_frame f;
	size_t got, rest;
	bool timeout;
	char *body;

	*cut = 0;
	got = read_some(fd, hdr, sizeof(hdr), &timeout);
	if (got < sizeof(hdr)) {
		*cut = got;
		if (timeout)
			return STREAM_TIMEOUT;
		return got ? STREAM_CUT : STREAM_EOF;
	}
	if (causal_wire_get_hdr(hdr, &f, 1 << 30))
		return STREAM_BAD;
	rest = f.nodes * sizeof(__u64) + f.len;
	body = malloc(rest + 1);
	if (!body)
		return STREAM_BAD;
	got = read_some(fd, body, rest, &timeout);
	if (got < rest) {
		free(body);
		*cut = sizeof(hdr) + got;
		return timeout ? STREAM_TIMEOUT : STREAM_CUT;
	}
	causal_wire_get_clock(body, clock, f.nodes);
	s->type = f.type;
	s->flags = f.flags;
	s->nodes = f.nodes;
	s->sender = f.sender;
	s->len = f.len;
	s->stamp = f.sender < f.nodes ? clock[f.sender] : 0;
	s->id = f.type == CAUSAL_FRAME_DATA ?
		payload_id(body + f.nodes * sizeof(__u64), f.len) : -1;
	free(body);
	return STREAM_OPEN;
}

/* A raw peer's reader thread: every frame the module writes, in order, until
 * the stream ends.
 */
#define SEEN_MAX	2048

struct reader {
	int fd;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct seen *log;
	unsigned int nr;
	unsigned int next;	/* the first not yet checked */
	enum stream_end end;
	size_t cut;
	bool running;
};

static void *reader_thread(void *p)
{
	struct reader *r = p;
	enum stream_end end;
	struct seen s;
	size_t cut;

	do {
		end = frame_read(r->fd, &s, &cut);
		pthread_mutex_lock(&r->lock);
		if (end == STREAM_OPEN && r->nr == SEEN_MAX)
			end = STREAM_BAD;
		if (end == STREAM_OPEN)
			r->log[r->nr++] = s;
		r->end = end;
		r->cut = cut;
		pthread_cond_broadcast(&r->cond);
		pthread_mutex_unlock(&r->lock);
	} while (end == STREAM_OPEN);
	return NULL;
}

static void reader_start(struct __test_metadata *_metadata, struct reader *r,
			 int fd)
{
	memset(r, 0, sizeof(*r));
	r->fd = fd;
	r->log = calloc(SEEN_MAX, sizeof(*r->log));
	ASSERT_NE(r->log, NULL);
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->cond, NULL);
	ASSERT_EQ(pthread_create(&r->thread, NULL, reader_thread, r), 0);
	r->running = true;
}

/* The stream must have ended (its socket closed by the module, or shut down
 * here); reap the thread.
 */
static void reader_stop(struct reader *r)
{
	if (!r->running)
		return;
	shutdown(r->fd, SHUT_RDWR);
	pthread_join(r->thread, NULL);
	r->running = false;
	free(r->log);
	r->log = NULL;
}

static void deadline_in(struct timespec *dl, int ms)
{
	clock_gettime(CLOCK_REALTIME, dl);
	dl->tv_sec += ms / 1000;
	dl->tv_nsec += ms % 1000 * 1000000L;
	if (dl->tv_nsec >= 1000000000L) {
		dl->tv_sec++;
		dl->tv_nsec -= 1000000000L;
	}
}

/* The next frame of @r that is not a CLOCK, within @ms: copied to @s, or
 * false when the stream ended or nothing came. CLOCK frames passed over
 * must not go back in time.
 */
static bool reader_next(struct __test_metadata *_metadata, struct reader *r,
			struct seen *s, int ms, __u64 *clock_stamp)
{
	struct timespec dl;
	bool found = false;

	deadline_in(&dl, ms);
	pthread_mutex_lock(&r->lock);
	for (;;) {
		while (r->next < r->nr) {
			*s = r->log[r->next++];
			if (s->type != CAUSAL_FRAME_CLOCK) {
				found = true;
				break;
			}
			EXPECT_GE(s->stamp, *clock_stamp);
			*clock_stamp = s->stamp;
		}
		if (found || r->end != STREAM_OPEN ||
		    pthread_cond_timedwait(&r->cond, &r->lock, &dl))
			break;
	}
	pthread_mutex_unlock(&r->lock);
	return found;
}

/* Wait up to @ms for a frame of @r stamped at least @stamp (a CLOCK or DATA
 * announcing our count).
 */
static bool reader_wait_stamp(struct reader *r, __u64 stamp, int ms)
{
	struct timespec dl;
	bool found = false;

	deadline_in(&dl, ms);
	pthread_mutex_lock(&r->lock);
	for (;;) {
		for (unsigned int i = 0; i < r->nr && !found; i++)
			found = r->log[i].type != CAUSAL_FRAME_HELLO &&
				r->log[i].stamp >= stamp;
		if (found || r->end != STREAM_OPEN ||
		    pthread_cond_timedwait(&r->cond, &r->lock, &dl))
			break;
	}
	pthread_mutex_unlock(&r->lock);
	return found;
}

/* The highest count any frame of @r announced so far. */
static __u64 reader_top_stamp(struct reader *r)
{
	__u64 top = 0;

	pthread_mutex_lock(&r->lock);
	for (unsigned int i = 0; i < r->nr; i++)
		if (r->log[i].stamp > top)
			top = r->log[i].stamp;
	pthread_mutex_unlock(&r->lock);
	return top;
}

static enum stream_end reader_wait_end(struct reader *r, int ms)
{
	struct timespec dl;
	enum stream_end end;

	deadline_in(&dl, ms);
	pthread_mutex_lock(&r->lock);
	while (r->end == STREAM_OPEN &&
	       !pthread_cond_timedwait(&r->cond, &r->lock, &dl))
		;
	end = r->end;
	pthread_mutex_unlock(&r->lock);
	return end;
}

/* What one raw peer has been checked to have received, in order. */
struct peer_check {
	struct reader rd;
	const char *name;
	__u16 node, nodes;		/* the module's endpoint */
	__u32 want;			/* the next message due */
	__u64 last_stamp;		/* of the last DATA */
	__u64 clock_stamp;		/* the highest count announced */
	__u64 stamp_of[NTH_MAX + 2];	/* each message's stamp */
	unsigned int stuck;		/* messages that did not come in time */
};

static void peer_check_start(struct __test_metadata *_metadata,
			     struct peer_check *pc, const char *name, int fd,
			     __u16 node, __u16 nodes)
{
	memset(pc, 0, sizeof(*pc));
	pc->name = name;
	pc->node = node;
	pc->nodes = nodes;
	reader_start(_metadata, &pc->rd, fd);
}

/* Every message up to @upto reached the peer whole, once and in order,
 * within ARRIVE_MS of the call that sent it. One that did not is counted
 * as stuck (a later call may push it out: it is looked for first then).
 */
static void expect_upto(struct __test_metadata *_metadata,
			struct peer_check *pc, __u32 upto, size_t len,
			__u16 flags, unsigned int n)
{
	struct seen s;

	while (pc->want <= upto) {
		if (!reader_next(_metadata, &pc->rd, &s, ARRIVE_MS,
				 &pc->clock_stamp)) {
			pc->stuck++;
			EXPECT_TRUE(false)
				TH_LOG("n=%u: message %u not at %s %d ms after the call that sent it (stream: %s)",
				       n, pc->want, pc->name, ARRIVE_MS,
				       stream_end_name[pc->rd.end]);
			return;
		}
		EXPECT_EQ(s.type, CAUSAL_FRAME_DATA)
			TH_LOG("n=%u: %s got frame type %u", n, pc->name,
			       s.type);
		EXPECT_EQ(s.id, pc->want)
			TH_LOG("n=%u: %s got message %ld where %u was due", n,
			       pc->name, s.id, pc->want);
		EXPECT_EQ(s.len, len);
		EXPECT_EQ(s.flags, flags);
		EXPECT_EQ(s.sender, pc->node);
		EXPECT_EQ(s.nodes, pc->nodes);
		EXPECT_GT(s.stamp, pc->last_stamp)
			TH_LOG("n=%u: %s: stamp %llu after %llu", n, pc->name,
			       (unsigned long long)s.stamp,
			       (unsigned long long)pc->last_stamp);
		pc->last_stamp = s.stamp;
		if (pc->clock_stamp < s.stamp)
			pc->clock_stamp = s.stamp;
		if (s.id >= 0 && s.id < pc->want)
			continue;	/* a duplicate: the due one still is */
		if (s.id > pc->want && s.id <= NTH_MAX)
			pc->want = s.id;	/* those before it are lost */
		pc->stamp_of[pc->want++] = s.stamp;
	}
}

/* The module's HELLO on raw @fd within @ms (read here, not by a reader). */
static bool hello_arrives(int fd, int ms)
{
	struct seen s;
	size_t cut;

	set_rcvtimeo(fd, ms);
	return frame_read(fd, &s, &cut) == STREAM_OPEN &&
	       s.type == CAUSAL_FRAME_HELLO;
}

/* A DATA frame of an @nodes group from raw peer @sender with clock @v and
 * message @id of @len bytes.
 */
static int raw_data(int fd, __u16 nodes, __u16 sender, const __u64 *v,
		    __u32 id, size_t len)
{
	char *buf = malloc(len);
	int ret;

	if (!buf)
		return -1;
	fill_payload(buf, len, id);
	ret = wire_send(fd, CAUSAL_FRAME_DATA, 0, nodes, sender, v, buf, len);
	free(buf);
	return ret;
}

/* The next message on @fd within @ms is @id of @len bytes. */
static void expect_msg_id(struct __test_metadata *_metadata, int fd, __u32 id,
			  size_t len, int ms, unsigned int n)
{
	static char buf[1 << 20];
	ssize_t got;

	EXPECT_TRUE(readable(fd, ms))
		TH_LOG("n=%u: message %u not deliverable within %d ms", n, id,
		       ms);
	got = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
	EXPECT_EQ(got, (ssize_t)len)
		TH_LOG("n=%u: waiting for message %u: %s", n, id,
		       got < 0 ? strerror(errno) : "wrong length");
	if (got > 0) {
		EXPECT_EQ(payload_id(buf, got), id)
			TH_LOG("n=%u: message %ld delivered where %u was due",
			       n, payload_id(buf, got), id);
	}
}

/* Nothing more is deliverable on @fd. */
static void expect_nothing(struct __test_metadata *_metadata, int fd,
			   unsigned int n)
{
	char buf[64];

	EXPECT_EQ(recv(fd, buf, sizeof(buf), MSG_DONTWAIT), -1)
		TH_LOG("n=%u: a message delivered twice or out of nowhere", n);
	EXPECT_EQ(errno, EAGAIN);
}

/* Wait until the module's end took all that raw @fd sent (TCP acknowledged
 * it, so the module's receive ran over it).
 */
static void wait_taken(struct __test_metadata *_metadata, int fd)
{
	struct timespec t0;
	int outq;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		ASSERT_EQ(ioctl(fd, SIOCOUTQ, &outq), 0);
		if (!outq)
			return;
		usleep(2000);
	} while (ms_since(&t0) < ARRIVE_MS);
	ASSERT_EQ(outq, 0) TH_LOG("%d bytes never taken", outq);
}

/* ---- TCP_ULP ---- */

FIXTURE(attach)
{
	struct faults f;
};

FIXTURE_SETUP(attach)
{
	fault_setup(_metadata, &self->f);
}

FIXTURE_TEARDOWN(attach)
{
	fault_teardown(&self->f);
}

/* setsockopt(TCP_ULP) fails with ENOMEM and leaves a plain TCP socket that
 * can attach again, or works; either way the channel then works both ways.
 */
TEST_F_TIMEOUT(attach, ulp, 120)
{
	__u64 zero[2] = {};
	unsigned int n;
	bool fired = true;

	for (n = 1; fired && n <= NTH_MAX; n++) {
		int raw, ch, ret, err;

		tcp_pair(_metadata, AF_INET, &raw, &ch);
		nth_arm(_metadata, &self->f, n);
		ret = causal_attach(ch);
		err = errno;
		fired = nth_fired(_metadata, &self->f);
		if (ret) {
			EXPECT_EQ(err, ENOMEM) TH_LOG("n=%u", n);
			EXPECT_TRUE(fired) TH_LOG("n=%u: failed with no fault", n);
			EXPECT_EQ(causal_attach(ch), 0)
				TH_LOG("n=%u: attach after ENOMEM: %s", n,
				       strerror(errno));
		}
		ASSERT_EQ(causal_join(ch, 10, 0, 2, 0), 0) TH_LOG("n=%u", n);
		EXPECT_TRUE(hello_arrives(raw, ARRIVE_MS)) TH_LOG("n=%u", n);
		ASSERT_EQ(wire_hello(raw, 10, 2, 1, zero, 0x100 + n), 0);
		ASSERT_EQ(raw_data(raw, 2, 1, (__u64 [2]){ 0, 1 }, n, 100), 0);
		expect_msg_id(_metadata, ch, n, 100, ARRIVE_MS, n);
		close(ch);
		close(raw);
	}
	EXPECT_FALSE(fired) TH_LOG("still failing after %u points", NTH_MAX);
	TH_LOG("TCP_ULP: %u failure points", n - 2);
}

/* ---- CAUSAL_JOIN ----
 *
 * The module is node 2 of a 3-node group; raw peers 0 and 1. Before the
 * JOIN under test, peer 0 already sent its HELLO and two messages that wait
 * for one of peer 1 (so the JOIN's receive moves them out of TCP). Peer 1's
 * channel joins before (the endpoint exists) or after (the JOIN under test
 * creates it).
 */
FIXTURE(join)
{
	struct faults f;
};

FIXTURE_VARIANT(join)
{
	bool endpoint_exists;
	__u32 group;
};

FIXTURE_VARIANT_ADD(join, new_endpoint)
{
	.endpoint_exists = false,
	.group = 20000,
};

FIXTURE_VARIANT_ADD(join, existing_endpoint)
{
	.endpoint_exists = true,
	.group = 30000,
};

FIXTURE_SETUP(join)
{
	fault_setup(_metadata, &self->f);
}

FIXTURE_TEARDOWN(join)
{
	fault_teardown(&self->f);
}

static void join_peer1(struct __test_metadata *_metadata, int *raw, int *ch,
		       __u32 group)
{
	__u64 zero[3] = {};

	scene_join(_metadata, raw, ch, group, 2, 3, 0);
	ASSERT_EQ(wire_hello(*raw, group, 3, 1, zero, 0x201), 0);
}

TEST_F_TIMEOUT(join, held_frames_waiting, 180)
{
	__u64 zero[3] = {};
	unsigned int n, failed = 0;
	bool fired = true;

	for (n = 1; fired && n <= NTH_MAX; n++) {
		__u32 group = variant->group + n;
		int raw0, ch0, raw1 = -1, ch1 = -1, ret, err;

		if (variant->endpoint_exists)
			join_peer1(_metadata, &raw1, &ch1, group);
		tcp_pair(_metadata, AF_INET, &raw0, &ch0);
		ASSERT_EQ(causal_attach(ch0), 0);
		ASSERT_EQ(wire_hello(raw0, group, 3, 0, zero, 0x200), 0);
		ASSERT_EQ(raw_data(raw0, 3, 0, (__u64 [3]){ 1, 1, 0 }, 1, 100), 0);
		ASSERT_EQ(raw_data(raw0, 3, 0, (__u64 [3]){ 2, 1, 0 }, 2, 3000), 0);

		nth_arm(_metadata, &self->f, n);
		ret = causal_join(ch0, group, 2, 3, 0);
		err = errno;
		fired = nth_fired(_metadata, &self->f);
		if (ret) {
			failed++;
			EXPECT_EQ(err, ENOMEM) TH_LOG("n=%u", n);
			EXPECT_TRUE(fired) TH_LOG("n=%u: failed with no fault", n);
			ASSERT_EQ(causal_join(ch0, group, 2, 3, 0), 0)
				TH_LOG("n=%u: JOIN after ENOMEM: %s", n,
				       strerror(errno));
		}
		/* The HELLO goes out on its own, before anything else. */
		EXPECT_TRUE(hello_arrives(raw0, ARRIVE_MS))
			TH_LOG("n=%u: JOIN %s, its HELLO did not reach the peer",
			       n, ret ? "retried" : "returned 0");
		if (!variant->endpoint_exists)
			join_peer1(_metadata, &raw1, &ch1, group);
		ASSERT_EQ(raw_data(raw1, 3, 1, (__u64 [3]){ 0, 1, 0 }, 3, 100), 0);
		expect_msg_id(_metadata, ch1, 3, 100, ARRIVE_MS, n);
		expect_msg_id(_metadata, ch0, 1, 100, ARRIVE_MS, n);
		expect_msg_id(_metadata, ch0, 2, 3000, ARRIVE_MS, n);
		expect_nothing(_metadata, ch0, n);
		EXPECT_EQ(info_of(_metadata, ch0).proto_errors, 0);
		close(ch0);
		close(ch1);
		close(raw0);
		close(raw1);
	}
	EXPECT_FALSE(fired) TH_LOG("still failing after %u points", NTH_MAX);
	TH_LOG("JOIN: %u failure points, %u returned ENOMEM", n - 2, failed);
}

/* ---- send and sendmsg ----
 *
 * The module is node 0 of a 3-node group; raw peers 1 and 2 each read
 * their channel in a thread. Messages go out on peer 1's channel: unicast
 * (peer 2 must learn our count from CLOCK frames) or broadcast (both get
 * it). After a failed send the application retries it, as one would; a
 * channel that failed for good is replaced by a new endpoint.
 */
#define SEND_GROUP	40000

FIXTURE(send)
{
	struct faults f;
	int raw[3], ch[3];
	struct peer_check pc[3];
	__u32 group;
};

FIXTURE_VARIANT(send)
{
	bool broadcast;
	bool nonblock;
	size_t len;
};

FIXTURE_VARIANT_ADD(send, unicast_small)
{
	.len = 100,
};

FIXTURE_VARIANT_ADD(send, unicast_small_dontwait)
{
	.nonblock = true,
	.len = 100,
};

FIXTURE_VARIANT_ADD(send, unicast_large)
{
	.len = 200000,
};

FIXTURE_VARIANT_ADD(send, unicast_large_dontwait)
{
	.nonblock = true,
	.len = 200000,
};

FIXTURE_VARIANT_ADD(send, broadcast_small)
{
	.broadcast = true,
	.len = 100,
};

FIXTURE_VARIANT_ADD(send, broadcast_small_dontwait)
{
	.broadcast = true,
	.nonblock = true,
	.len = 100,
};

FIXTURE_VARIANT_ADD(send, broadcast_large)
{
	.broadcast = true,
	.len = 200000,
};

FIXTURE_VARIANT_ADD(send, broadcast_large_dontwait)
{
	.broadcast = true,
	.nonblock = true,
	.len = 200000,
};

static void send_scene_open(struct __test_metadata *_metadata,
			    FIXTURE_DATA(send) *self)
{
	__u64 zero[3] = {};

	self->group++;
	for (int i = 1; i < 3; i++) {
		scene_join(_metadata, &self->raw[i], &self->ch[i], self->group,
			   0, 3, 0);
		ASSERT_EQ(wire_hello(self->raw[i], self->group, 3, i, zero,
				     0x300 + i), 0);
	}
	for (int i = 1; i < 3; i++) {
		wait_active(_metadata, self->ch[i]);
		peer_check_start(_metadata, &self->pc[i],
				 i == 1 ? "peer 1" : "peer 2", self->raw[i],
				 0, 3);
	}
}

/* Close the module's ends: the raw peers read the rest, then BYE, then EOF
 * (unless the channel had failed: then EOF, maybe inside a frame).
 */
static void send_scene_close(struct __test_metadata *_metadata,
			     FIXTURE_DATA(send) *self, bool failed)
{
	for (int i = 1; i < 3; i++) {
		struct reader *r = &self->pc[i].rd;
		enum stream_end end;

		if (self->ch[i] < 0)
			continue;
		close(self->ch[i]);
		self->ch[i] = -1;
		end = reader_wait_end(r, ARRIVE_MS);
		EXPECT_TRUE(end == STREAM_EOF || (failed && end == STREAM_CUT))
			TH_LOG("peer %d's stream: %s", i, stream_end_name[end]);
		if (!failed && end == STREAM_EOF) {
			EXPECT_TRUE(r->nr && r->log[r->nr - 1].type ==
					     CAUSAL_FRAME_BYE)
				TH_LOG("peer %d: no BYE before EOF", i);
		}
		reader_stop(r);
		close(self->raw[i]);
		self->raw[i] = -1;
	}
}

FIXTURE_SETUP(send)
{
	for (int i = 0; i < 3; i++)
		self->raw[i] = self->ch[i] = -1;
	self->group = SEND_GROUP;
	if (!fault_setup(_metadata, &self->f))
		return;
	send_scene_open(_metadata, self);
}

FIXTURE_TEARDOWN(send)
{
	fault_teardown(&self->f);
}

static ssize_t send_one(int fd, const char *buf, size_t len, bool broadcast,
			bool nonblock)
{
	int flags = nonblock ? MSG_DONTWAIT : 0;

	return broadcast ? send_broadcast(fd, buf, len, flags) :
			   send(fd, buf, len, flags);
}

/* Send again without faults, waiting out EAGAIN. */
static ssize_t send_retry(int fd, const char *buf, size_t len, bool broadcast,
			  bool nonblock, int *err)
{
	struct timespec t0;
	ssize_t ret;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		ret = send_one(fd, buf, len, broadcast, nonblock);
		*err = errno;
		if (ret >= 0 || *err != EAGAIN)
			break;
		poll(&(struct pollfd){ .fd = fd, .events = POLLOUT }, 1, 10);
	} while (ms_since(&t0) < ARRIVE_MS);
	return ret;
}

/* One send event, one stamp: a broadcast carries the same to every peer. */
static void expect_same_stamps(struct __test_metadata *_metadata,
			       FIXTURE_DATA(send) *self)
{
	for (__u32 id = 0; id < self->pc[1].want && id < self->pc[2].want; id++) {
		EXPECT_EQ(self->pc[1].stamp_of[id], self->pc[2].stamp_of[id])
			TH_LOG("broadcast %u stamped differently", id);
	}
}

TEST_F_TIMEOUT(send, each_failure_point, 300)
{
	const bool bcast = variant->broadcast;
	const size_t len = variant->len;
	const __u16 flags = bcast ? CAUSAL_WIRE_F_BROADCAST : 0;
	unsigned int n, id = 0, failed = 0, broken = 0, stuck = 0;
	unsigned int clock_stuck = 0;
	char *buf = malloc(len);
	bool fired = true;

	ASSERT_NE(buf, NULL);
	for (n = 1; fired && n <= NTH_MAX; n++) {
		struct peer_check *p1 = &self->pc[1], *p2 = &self->pc[2];
		ssize_t ret;
		int err;

		fill_payload(buf, len, id);
		nth_arm(_metadata, &self->f, n);
		ret = send_one(self->ch[1], buf, len, bcast, variant->nonblock);
		err = errno;
		fired = nth_fired(_metadata, &self->f);
		if (ret < 0) {
			failed++;
			EXPECT_TRUE(err == ENOMEM ||
				    (variant->nonblock && err == EAGAIN))
				TH_LOG("n=%u: send failed with %s", n,
				       strerror(err));
			ret = send_retry(self->ch[1], buf, len, bcast,
					 variant->nonblock, &err);
		}
		if (ret < 0) {
			/* The channel failed for good: its peer saw whole
			 * frames, then the end of the stream.
			 */
			broken++;
			TH_LOG("n=%u: channel failed: %s", n, strerror(err));
			EXPECT_TRUE(err == ENOMEM || err == EPIPE)
				TH_LOG("n=%u: %s", n, strerror(err));
			stuck += p1->stuck + p2->stuck;
			send_scene_close(_metadata, self, true);
			send_scene_open(_metadata, self);
			id = 0;
			continue;
		}
		EXPECT_EQ(ret, (ssize_t)len) TH_LOG("n=%u", n);
		expect_upto(_metadata, p1, id, len, flags, n);
		if (bcast) {
			expect_upto(_metadata, p2, id, len, flags, n);
		} else if (p1->want > id &&
			   !reader_wait_stamp(&p2->rd, p1->stamp_of[id],
					      ARRIVE_MS)) {
			clock_stuck++;
			EXPECT_TRUE(false)
				TH_LOG("n=%u: no CLOCK told peer 2 of stamp %llu",
				       n, (unsigned long long)p1->stamp_of[id]);
		}
		id++;
	}
	EXPECT_FALSE(fired) TH_LOG("still failing after %u points", NTH_MAX);
	if (bcast)
		expect_same_stamps(_metadata, self);
	stuck += self->pc[1].stuck + self->pc[2].stuck;
	TH_LOG("%s%s %zu B: %u failure points, %u sends failed, %u channels failed, %u messages and %u CLOCKs stuck",
	       bcast ? "broadcast" : "unicast",
	       variant->nonblock ? " MSG_DONTWAIT" : "", len, n - 2, failed,
	       broken, stuck, clock_stuck);
	send_scene_close(_metadata, self, false);
	free(buf);
}

/* ---- recv ----
 *
 * The module is node 2 of a 3-node group; raw peers 0 and 1. The recv under
 * test takes a message that makes the channel read on, moving the frames
 * behind it out of TCP: either an in-order message read straight from TCP
 * with held ones behind it, or a held message of a hold-back queue that is
 * full, with more held frames waiting in TCP.
 */
#define RECV_GROUP	50000
#define HELD_FRAMES	18	/* about 15 fill the hold-back queue */
#define HELD_LEN	3000

FIXTURE(recv)
{
	struct faults f;
	int raw[2], ch[2];
	__u64 s0, s1;		/* the raw peers' stamps so far */
	__u32 id;
};

FIXTURE_VARIANT(recv)
{
	bool held;
};

FIXTURE_VARIANT_ADD(recv, in_order)
{
	.held = false,
};

FIXTURE_VARIANT_ADD(recv, held)
{
	.held = true,
};

/* Node 2 of a 3-node @group with both peers' channels, each with a receive
 * buffer that makes a hold-back limit of 64 KiB.
 */
static void small_trio_open(struct __test_metadata *_metadata, int *raw,
			    int *ch, __u32 group, __u64 incarnation)
{
	__u64 zero[3] = {};
	int rcvbuf = 16384;

	for (int i = 0; i < 2; i++) {
		scene_join(_metadata, &raw[i], &ch[i], group, 2, 3, 0);
		ASSERT_EQ(setsockopt(ch[i], SOL_SOCKET, SO_RCVBUF, &rcvbuf,
				     sizeof(rcvbuf)), 0);
		ASSERT_EQ(wire_hello(raw[i], group, 3, i, zero, incarnation + i),
			  0);
	}
	for (int i = 0; i < 2; i++)
		wait_active(_metadata, ch[i]);
}

FIXTURE_SETUP(recv)
{
	self->raw[0] = self->raw[1] = self->ch[0] = self->ch[1] = -1;
	if (fault_setup(_metadata, &self->f))
		small_trio_open(_metadata, self->raw, self->ch, RECV_GROUP, 0x400);
}

FIXTURE_TEARDOWN(recv)
{
	fault_teardown(&self->f);
}

/* Peer 0 sends @count messages of @len bytes that wait for peer 1's next. */
static void send_held(struct __test_metadata *_metadata,
		      FIXTURE_DATA(recv) *self, int count, size_t len)
{
	for (int i = 0; i < count; i++) {
		self->s0++;
		ASSERT_EQ(raw_data(self->raw[0], 3, 0,
				   (__u64 [3]){ self->s0, self->s1 + 1, 0 },
				   self->id++, len), 0);
	}
}

TEST_F_TIMEOUT(recv, each_failure_point, 300)
{
	unsigned int n, points = 0;
	bool fired = true;

	for (n = 1; fired && n <= NTH_MAX; n++) {
		__u32 first, release;
		int count;
		ssize_t got;
		char *buf = malloc(HELD_LEN);

		ASSERT_NE(buf, NULL);
		first = self->id;
		if (!variant->held) {
			/* In order, then two behind it that must wait. */
			self->s0++;
			ASSERT_EQ(raw_data(self->raw[0], 3, 0,
					   (__u64 [3]){ self->s0, self->s1, 0 },
					   self->id++, 100), 0);
			send_held(_metadata, self, 1, 100);
			send_held(_metadata, self, 1, HELD_LEN);
			count = 3;
		} else {
			send_held(_metadata, self, HELD_FRAMES, HELD_LEN);
			count = HELD_FRAMES;
		}
		/* The module read what it could: the held frames are out of
		 * TCP, up to the hold-back limit.
		 */
		wait_taken(_metadata, self->raw[0]);
		release = self->id++;
		if (variant->held) {
			self->s1++;
			ASSERT_EQ(raw_data(self->raw[1], 3, 1,
					   (__u64 [3]){ 0, self->s1, 0 },
					   release, 100), 0);
			expect_msg_id(_metadata, self->ch[1], release, 100,
				      ARRIVE_MS, n);
			ASSERT_TRUE(readable(self->ch[0], ARRIVE_MS));
		}

		nth_arm(_metadata, &self->f, n);
		got = recv(self->ch[0], buf, HELD_LEN, MSG_DONTWAIT);
		fired = nth_fired(_metadata, &self->f);
		points += fired;
		EXPECT_EQ(got, variant->held ? HELD_LEN : 100)
			TH_LOG("n=%u: recv: %s", n,
			       got < 0 ? strerror(errno) : "wrong length");
		if (got > 0) {
			EXPECT_EQ(payload_id(buf, got), first) TH_LOG("n=%u", n);
		}

		if (!variant->held) {
			self->s1++;
			ASSERT_EQ(raw_data(self->raw[1], 3, 1,
					   (__u64 [3]){ 0, self->s1, 0 },
					   release, 100), 0);
			expect_msg_id(_metadata, self->ch[1], release, 100,
				      ARRIVE_MS, n);
			expect_msg_id(_metadata, self->ch[0], first + 1, 100,
				      ARRIVE_MS, n);
			expect_msg_id(_metadata, self->ch[0], first + 2,
				      HELD_LEN, ARRIVE_MS, n);
		} else {
			for (int i = 1; i < count; i++)
				expect_msg_id(_metadata, self->ch[0], first + i,
					      HELD_LEN, ARRIVE_MS, n);
		}
		expect_nothing(_metadata, self->ch[0], n);
		expect_nothing(_metadata, self->ch[1], n);
		free(buf);
	}
	EXPECT_FALSE(fired) TH_LOG("still failing after %u points", NTH_MAX);
	EXPECT_EQ(info_of(_metadata, self->ch[0]).proto_errors, 0);
	EXPECT_EQ(info_of(_metadata, self->ch[0]).state, CAUSAL_CH_ACTIVE);
	TH_LOG("recv (%s): %u failure points", variant->held ? "held" : "in order",
	       points);
}

/* ---- close ----
 *
 * The module is node 0 of a 2-node group, the raw peer node 1, which reads
 * only after the close. Close has nothing left to write but its BYE, or
 * also the rest of a large message TCP did not take yet.
 */
#define CLOSE_GROUP	60000
#define CLOSE_LARGE	300000

FIXTURE(close)
{
	struct faults f;
};

FIXTURE_VARIANT(close)
{
	bool pending;
};

FIXTURE_VARIANT_ADD(close, idle)
{
	.pending = false,
};

FIXTURE_VARIANT_ADD(close, pending_rest)
{
	.pending = true,
};

FIXTURE_SETUP(close)
{
	fault_setup(_metadata, &self->f);
}

FIXTURE_TEARDOWN(close)
{
	fault_teardown(&self->f);
}

TEST_F_TIMEOUT(close, each_failure_point, 300)
{
	static char big[CLOSE_LARGE];
	unsigned int n, lost = 0;
	bool fired = true;

	for (n = 1; fired && n <= NTH_MAX; n++) {
		__u32 group = CLOSE_GROUP + n;
		__u64 zero[2] = {};
		unsigned int sent = 0, got = 0;
		enum stream_end end;
		bool bye = false;
		struct seen s;
		char small[100];
		int raw, ch, one = 1;
		size_t cut;

		scene_join(_metadata, &raw, &ch, group, 0, 2, 0);
		/* Frames go out at once, so that the BYE needs an skb of
		 * its own rather than the tail of one Nagle held back.
		 */
		ASSERT_EQ(setsockopt(ch, SOL_TCP, TCP_NODELAY, &one,
				     sizeof(one)), 0);
		ASSERT_EQ(wire_hello(raw, group, 2, 1, zero, 0x500), 0);
		wait_active(_metadata, ch);
		for (; sent < 2; sent++) {
			fill_payload(small, sizeof(small), sent);
			ASSERT_EQ(send(ch, small, sizeof(small), 0), sizeof(small));
		}
		if (variant->pending) {
			int sndbuf = 16384;

			ASSERT_EQ(setsockopt(ch, SOL_SOCKET, SO_SNDBUF, &sndbuf,
					     sizeof(sndbuf)), 0);
			fill_payload(big, sizeof(big), sent++);
			ASSERT_EQ(send(ch, big, sizeof(big), MSG_DONTWAIT),
				  sizeof(big));
		}

		nth_arm(_metadata, &self->f, n);
		close(ch);
		fired = nth_fired(_metadata, &self->f);

		set_rcvtimeo(raw, ARRIVE_MS);
		while ((end = frame_read(raw, &s, &cut)) == STREAM_OPEN) {
			if (s.type == CAUSAL_FRAME_DATA) {
				EXPECT_EQ(s.id, got) TH_LOG("n=%u", n);
				EXPECT_FALSE(bye) TH_LOG("n=%u: DATA after BYE", n);
				got++;
			} else if (s.type == CAUSAL_FRAME_BYE) {
				bye = true;
			}
		}
		EXPECT_EQ(end, STREAM_EOF)
			TH_LOG("n=%u: the stream ended in %s (%zu bytes of a frame)",
			       n, stream_end_name[end], cut);
		EXPECT_EQ(got, sent)
			TH_LOG("n=%u: %u of %u messages sent reached the peer",
			       n, got, sent);
		EXPECT_TRUE(bye) TH_LOG("n=%u: close wrote no BYE", n);
		lost += got < sent || !bye;
		close(raw);
	}
	EXPECT_FALSE(fired) TH_LOG("still failing after %u points", NTH_MAX);
	TH_LOG("close (%s): %u failure points, %u lost BYE or messages",
	       variant->pending ? "pending rest" : "idle", n - 2, lost);
}

/* ---- receive in softirq ----
 *
 * The module is node 2 of a 3-node group with a small receive buffer (a
 * hold-back limit of 64 KiB). In each round raw peer 0 floods messages that
 * all wait for peer 1's next: small ones (copied behind their descriptor),
 * pages, and frames larger than TCP can hold (assembled in copy mode), from
 * a thread, as the window closes once the hold-back queue is full. Every
 * second slab and third page allocation of the module fails meanwhile;
 * then injection stops, peer 1 sends, and everything must come out.
 */
#define STORM_GROUP	70000
#define STORM_ROUNDS	3
#define STORM_WINDOW_MS	1000

static const size_t storm_sizes[] = { 64, 1500, 2100, 5000, 70000, 64, 3000 };
#define STORM_FRAMES	(sizeof(storm_sizes) / sizeof(storm_sizes[0]))

FIXTURE(storm)
{
	struct faults f;
	int raw[2], ch[2];
};

FIXTURE_SETUP(storm)
{
	self->raw[0] = self->raw[1] = self->ch[0] = self->ch[1] = -1;
	if (fault_setup(_metadata, &self->f))
		small_trio_open(_metadata, self->raw, self->ch, STORM_GROUP, 0x600);
}

FIXTURE_TEARDOWN(storm)
{
	fault_teardown(&self->f);
}

struct flood {
	int fd;
	unsigned int round;
	__u64 s0;
	__u32 id;
	int ret;
};

static void *flood_thread(void *p)
{
	struct flood *fl = p;

	fl->ret = 0;
	for (size_t i = 0; i < STORM_FRAMES && !fl->ret; i++) {
		fl->s0++;
		fl->ret = raw_data(fl->fd, 3, 0,
				   (__u64 [3]){ fl->s0, fl->round, 0 },
				   fl->id + i, storm_sizes[i]);
	}
	return NULL;
}

TEST_F_TIMEOUT(storm, held_flood, 300)
{
	struct flood fl = { .fd = self->raw[0] };
	long failed = 0;
	__u32 id = 0;

	for (unsigned int r = 1; r <= STORM_ROUNDS; r++) {
		__u32 release = id + STORM_FRAMES;
		pthread_t flooder;

		fl.round = r;
		fl.id = id;
		fault_storm(_metadata, 2, 3);
		ASSERT_EQ(pthread_create(&flooder, NULL, flood_thread, &fl), 0);
		usleep(STORM_WINDOW_MS * 1000);
		failed += fault_calm(_metadata);

		ASSERT_EQ(raw_data(self->raw[1], 3, 1, (__u64 [3]){ 0, r, 0 },
				   release, 100), 0);
		expect_msg_id(_metadata, self->ch[1], release, 100, ARRIVE_MS, r);
		for (size_t i = 0; i < STORM_FRAMES; i++)
			expect_msg_id(_metadata, self->ch[0], id + i,
				      storm_sizes[i], 2 * ARRIVE_MS, r);
		pthread_join(flooder, NULL);
		EXPECT_EQ(fl.ret, 0);
		expect_nothing(_metadata, self->ch[0], r);
		id = release + 1;
	}
	EXPECT_GT(failed, 0) TH_LOG("no allocation failed: injection is off");
	for (int i = 0; i < 2; i++) {
		struct causal_info info = info_of(_metadata, self->ch[i]);

		EXPECT_EQ(info.state, CAUSAL_CH_ACTIVE);
		EXPECT_EQ(info.proto_errors, 0);
		EXPECT_EQ(info.held_now, 0);
	}
	TH_LOG("receive: %ld allocations failed over %d rounds of %zu frames",
	       failed, STORM_ROUNDS, STORM_FRAMES);
}

/* ---- transmit under a storm ----
 *
 * The module is node 0 of a 3-node group; raw peers 1 and 2 read in
 * threads. The test sends unicasts to peer 1 while every second slab and
 * third page allocation of the module fails: in its own writes, in keeping
 * the rest of a frame TCP took only in part, and in the channels' work,
 * which writes the CLOCK frames that tell peer 2 our count. The channel to
 * peer 1 may fail (ENOMEM, when the rest of a frame cannot be kept): its
 * stream then ends, after whole frames only. Once injection stops, with
 * nothing more sent, peer 1 has every message that was sent and peer 2 our
 * last count.
 */
#define TXSTORM_GROUP	80000
#define TXSTORM_MAX	200

FIXTURE(txstorm)
{
	struct faults f;
	int raw[3], ch[3];
	struct peer_check pc[3];
};

FIXTURE_VARIANT(txstorm)
{
	bool nonblock;
	size_t len;
};

FIXTURE_VARIANT_ADD(txstorm, small)
{
	.len = 100,
};

/* Written in two pieces, header and payload; a rest that does not fit in a
 * page, which kvmalloc() would take from vmalloc, is not asked for.
 */
FIXTURE_VARIANT_ADD(txstorm, dontwait_3000)
{
	.nonblock = true,
	.len = 3000,
};

FIXTURE_SETUP(txstorm)
{
	__u64 zero[3] = {};

	for (int i = 0; i < 3; i++)
		self->raw[i] = self->ch[i] = -1;
	if (!fault_setup(_metadata, &self->f))
		return;
	for (int i = 1; i < 3; i++) {
		scene_join(_metadata, &self->raw[i], &self->ch[i],
			   TXSTORM_GROUP, 0, 3, 0);
		ASSERT_EQ(wire_hello(self->raw[i], TXSTORM_GROUP, 3, i, zero,
				     0x700 + i), 0);
	}
	for (int i = 1; i < 3; i++) {
		wait_active(_metadata, self->ch[i]);
		peer_check_start(_metadata, &self->pc[i],
				 i == 1 ? "peer 1" : "peer 2", self->raw[i],
				 0, 3);
	}
}

FIXTURE_TEARDOWN(txstorm)
{
	fault_teardown(&self->f);
	for (int i = 1; i < 3; i++) {
		if (self->ch[i] >= 0)
			close(self->ch[i]);
		reader_stop(&self->pc[i].rd);
		if (self->raw[i] >= 0)
			close(self->raw[i]);
	}
}

TEST_F_TIMEOUT(txstorm, unicast, 120)
{
	struct peer_check *p1 = &self->pc[1], *p2 = &self->pc[2];
	const size_t len = variant->len;
	char *buf = malloc(len);
	int err = 0, flags = variant->nonblock ? MSG_DONTWAIT : 0;
	struct timespec t0;
	long failed;
	__u32 id = 0;

	ASSERT_NE(buf, NULL);
	fault_storm(_metadata, 2, 3);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (id < TXSTORM_MAX && ms_since(&t0) < STORM_WINDOW_MS) {
		fill_payload(buf, len, id);
		if (send(self->ch[1], buf, len, flags) == (ssize_t)len) {
			id++;
			continue;
		}
		err = errno;
		if (err != EAGAIN)
			break;
		poll(&(struct pollfd){ .fd = self->ch[1], .events = POLLOUT },
		     1, 10);
		err = 0;
	}
	failed = fault_calm(_metadata);
	EXPECT_GT(failed, 0) TH_LOG("no allocation failed: injection is off");

	if (id)
		expect_upto(_metadata, p1, id - 1, len, 0, id);
	if (err) {
		enum stream_end end = reader_wait_end(&p1->rd, ARRIVE_MS);

		EXPECT_TRUE(err == ENOMEM || err == EPIPE)
			TH_LOG("message %u: %s", id, strerror(err));
		EXPECT_TRUE(end == STREAM_EOF || end == STREAM_CUT)
			TH_LOG("after the channel failed (%s) its stream: %s",
			       strerror(err), stream_end_name[end]);
	}
	EXPECT_TRUE(reader_wait_stamp(&p2->rd, p1->last_stamp, ARRIVE_MS))
		TH_LOG("peer 2 never learnt of stamp %llu (last told: %llu)",
		       (unsigned long long)p1->last_stamp,
		       (unsigned long long)reader_top_stamp(&p2->rd));
	TH_LOG("transmit%s %zu B: %ld allocations failed over %u unicasts%s%s",
	       variant->nonblock ? " MSG_DONTWAIT" : "", len, failed, id,
	       err ? ", then the channel failed: " : "",
	       err ? strerror(err) : "");
	free(buf);
}

TEST_HARNESS_MAIN
