// SPDX-License-Identifier: GPL-2.0
/*
 * Kernel memory that a peer can make a module endpoint hold, and whether it
 * is charged to the memory cgroup of the sockets' owner.
 *
 * The bound under test. Per channel the module holds at most
 *  (a) the frames TCP still queues, the one being assembled included,
 *      charged by TCP to the socket (sk_rmem_alloc) and bounded by sk_rcvbuf;
 *  (b) the hold-back queue, bounded by the channel's hold-back limit, which
 *      is sk_rcvbuf, counted in skb truesize or allocation size;
 *  (c) a fixed per-channel context, at most CTX_MAX.
 * So one channel costs at most 2 x sk_rcvbuf + CTX_MAX of kernel memory
 * beyond an idle TCP socket, whatever the peer sends. sk_rcvbuf is what
 * getsockopt(SO_RCVBUF) reports on the module's socket; the tests set it
 * (SO_RCVBUFFORCE, past rmem_max), so that TCP does not autotune it. A
 * measured figure may exceed the bound by SLACK_PCT. With the memory
 * controller all of it is charged to the memory cgroup of the module
 * socket's owner (CHARGED_PCT of it at least, give or take the charge
 * batches).
 *
 * The peers are raw TCP sockets in this process speaking the wire protocol
 * through the shared codec: a flooding peer sends DATA that waits forever
 * for a cause, a dribbling peer sends one maximal frame a byte per segment,
 * idle peers send their HELLO and nothing else, and a peer that does not
 * read leaves the module's sender with a frame pending. The application
 * never reads.
 *
 * Kernel memory is what /proc/meminfo leaves after free pages (those on the
 * per-cpu lists included), page cache, user pages and reclaimable slabs. The
 * peers' sockets live in the same kernel: what they queue (SO_MEMINFO) is
 * taken off. They are created in the root cgroup and the module's sockets
 * accepted in a cgroup of the test's own, so memory.current shows what the
 * module's side is charged. Each scene runs with memory.max set: high but
 * in the *_memory_max scenes, where it is well below what the bound allows.
 * Every figure is logged per channel.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <linux/sock_diag.h>

#include <linux/causal.h>

#include "kselftest_harness.h"
#include "causal_util.h"

#define KIB		1024L
#define MIB		(1024L * KIB)

/* (c) of the bound: one channel's fixed context. */
#define CTX_MAX		(8 * KIB)
/* How far above the bound a measured figure may be, in percent. */
#define SLACK_PCT	10
/* memory.current must grow by at least this share of what a scene costs. */
#define CHARGED_PCT	90
/* memcg charges in batches of MEMCG_CHARGE_BATCH pages per CPU and keeps
 * the rest in a per-cpu stock: memory.current may run ahead of the pages in
 * use, or lag them, by that much.
 */
#define MEMCG_BATCH_PAGES 64

/* The peers' buffers and the module sockets' send buffer, fixed so that
 * what TCP queues outside the module's receive path stays small.
 */
#define OTHER_BUF	(64 * 1024)
/* Readings per figure; the median is used. */
#define SAMPLES		5

#define CGROUP_ROOT	"/sys/fs/cgroup"
#define MAX_MSG_PATH	"/sys/module/causal/parameters/max_msg_size"

/* The kernel's struct tcp_info goes on past glibc's (linux/tcp.h). */
struct tcp_info_more {
	struct tcp_info glibc;
	__u64 pacing_rate, max_pacing_rate, bytes_acked, bytes_received;
	__u32 segs_out, segs_in, notsent_bytes, min_rtt;
	__u32 data_segs_in, data_segs_out;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static int write_str(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), ret = -1;

	if (fd < 0)
		return -1;
	if (write(fd, s, strlen(s)) == (ssize_t)strlen(s))
		ret = 0;
	close(fd);
	return ret;
}

/* The whole of a small file, after a newline so that "\nKey" finds the
 * first line too.
 */
static int read_text(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t len = 1;
	ssize_t n;

	if (fd < 0)
		return -1;
	buf[0] = '\n';
	while (len < size - 1 && (n = read(fd, buf + len, size - 1 - len)) > 0)
		len += n;
	buf[len] = 0;
	close(fd);
	return 0;
}

static long read_long(const char *path)
{
	char buf[64];

	if (read_text(path, buf, sizeof(buf)))
		return -1;
	return strtol(buf + 1, NULL, 10);
}

/* The number after "\n@key" in @text, or -1. */
static long text_field(const char *text, const char *key)
{
	char pat[64];
	const char *p;

	snprintf(pat, sizeof(pat), "\n%s", key);
	p = strstr(text, pat);
	return p ? strtol(p + strlen(pat), NULL, 10) : -1;
}

static long page_size(void)
{
	return sysconf(_SC_PAGESIZE);
}

/* ---- kernel memory ---- */

struct kmem {
	long used;		/* kernel memory, bytes, see kmem_sample() */
	long slab;
	long sunreclaim;
};

/* Free pages waiting on the per-cpu lists: not in MemFree, yet free. */
static long pcp_pages(void)
{
	static char buf[256 * 1024];
	long sum = 0, v;
	char *line;

	if (read_text("/proc/zoneinfo", buf, sizeof(buf)))
		return 0;
	for (line = strtok(buf, "\n"); line; line = strtok(NULL, "\n"))
		if (sscanf(line, " count: %ld", &v) == 1)
			sum += v;
	return sum;
}

static void kmem_sample(struct kmem *k)
{
	char buf[8192];

	/* Fold the per-cpu vmstat deltas into the global counters. */
	write_str("/proc/sys/vm/stat_refresh", "1");
	read_text("/proc/meminfo", buf, sizeof(buf));
	k->used = (text_field(buf, "MemTotal:") - text_field(buf, "MemFree:") -
		   text_field(buf, "Buffers:") - text_field(buf, "Cached:") -
		   text_field(buf, "SwapCached:") -
		   text_field(buf, "AnonPages:") -
		   text_field(buf, "SReclaimable:")) * KIB -
		  pcp_pages() * page_size();
	k->slab = text_field(buf, "Slab:") * KIB;
	k->sunreclaim = text_field(buf, "SUnreclaim:") * KIB;
}

static int cmp_long(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;

	return x < y ? -1 : x > y;
}

static long median(long *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_long);
	return v[n / 2];
}

/* ---- the memory cgroup ---- */

struct memcg {
	char dir[64];
};

static int memcg_path(const struct memcg *cg, const char *file, char *path,
		      size_t size)
{
	return snprintf(path, size, "%s/%s", cg->dir, file);
}

static long memcg_read(const struct memcg *cg, const char *file)
{
	char path[128];

	memcg_path(cg, file, path, sizeof(path));
	return read_long(path);
}

/* A counter of memory.events, e.g. "max" or "oom_kill". */
static long memcg_event(const struct memcg *cg, const char *name)
{
	char path[128], buf[512], key[32];

	memcg_path(cg, "memory.events", path, sizeof(path));
	if (read_text(path, buf, sizeof(buf)))
		return -1;
	snprintf(key, sizeof(key), "%s ", name);
	return text_field(buf, key);
}

static int memcg_set_max(const struct memcg *cg, long bytes)
{
	char path[128], val[32];

	memcg_path(cg, "memory.max", path, sizeof(path));
	snprintf(val, sizeof(val), "%ld", bytes);
	return write_str(path, val);
}

/* Move this process into @dir (a cgroup directory). */
static int cgroup_enter(const char *dir)
{
	char path[128], pid[16];

	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	snprintf(pid, sizeof(pid), "%d", getpid());
	return write_str(path, pid);
}

static bool memcg_create(struct memcg *cg)
{
	snprintf(cg->dir, sizeof(cg->dir), CGROUP_ROOT "/causal-mem-%d",
		 getpid());
	if (write_str(CGROUP_ROOT "/cgroup.subtree_control", "+memory"))
		return false;
	return !mkdir(cg->dir, 0755) || errno == EEXIST;
}

static void memcg_remove(struct memcg *cg)
{
	if (!cg->dir[0])
		return;
	cgroup_enter(CGROUP_ROOT);
	rmdir(cg->dir);
	cg->dir[0] = 0;
}

/* What memory.current may be off by: the per-cpu charge stock. */
static long memcg_stock_slack(void)
{
	return MEMCG_BATCH_PAGES * page_size() * sysconf(_SC_NPROCESSORS_ONLN);
}

/* ---- channels ---- */

/* @n channels, @per_ep per endpoint. The module is node 0 of each endpoint,
 * its peers nodes 1 .. per_ep, and node per_ep + 1 never speaks: DATA that
 * depends on it waits forever.
 */
struct scene {
	int n;
	int per_ep;
	__u16 nodes;
	__u32 group0;
	int rcvbuf;		/* the module sockets' sk_rcvbuf */
	bool joined;
	int *peer, *mod;
	struct memcg cg;
};

static __u32 chan_group(const struct scene *s, int i)
{
	return s->group0 + i / s->per_ep;
}

static __u16 chan_peer(const struct scene *s, int i)
{
	return 1 + i % s->per_ep;
}

static __u16 chan_phantom(const struct scene *s)
{
	return s->nodes - 1;
}

static void scene_init(struct __test_metadata *_metadata, struct scene *s)
{
	struct rlimit nofile = { 4096, 4096 };

	causal_require_module(_metadata);
	if (!memcg_create(&s->cg))
		SKIP(return, "no cgroup v2 memory controller at " CGROUP_ROOT);
	ASSERT_EQ(memcg_set_max(&s->cg, 1024 * MIB), 0);
	ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &nofile), 0);
}

static void scene_close(struct scene *s)
{
	char path[128];

	/* TCP charges a socket's first skb past memory.max (forced, like
	 * receive): the BYE that close writes would have the cgroup's OOM
	 * handler report. The limit was for the scene, not the teardown.
	 */
	memcg_path(&s->cg, "memory.max", path, sizeof(path));
	write_str(path, "max");
	for (int i = 0; i < s->n; i++) {
		if (s->peer[i] >= 0)
			close(s->peer[i]);
		if (s->mod[i] >= 0)
			close(s->mod[i]);
	}
	free(s->peer);
	free(s->mod);
	s->n = 0;
	memcg_remove(&s->cg);
}

static unsigned short sock_port(int fd, bool peer)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);

	if (peer ? getpeername(fd, (struct sockaddr *)&a, &len) :
		   getsockname(fd, (struct sockaddr *)&a, &len))
		return 0;
	return ntohs(a.sin_port);
}

/* Connect @n loopback pairs: the peers' ends in the root cgroup, the
 * module's ends accepted in the test's cgroup. This process stays in the
 * root cgroup but to accept, join and send on the module's sockets, so that
 * its own pages and the peers' traffic are not charged to the test's.
 */
static void scene_connect(struct __test_metadata *_metadata, struct scene *s,
			  int n, int per_ep, int rcvbuf)
{
	struct sockaddr_in addr = {
		.sin_family = AF_INET,
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	socklen_t len = sizeof(addr);
	int lfd, one = 1, buf = OTHER_BUF, got;

	s->per_ep = per_ep;
	s->nodes = per_ep + 2;
	ASSERT_LE(s->nodes, CAUSAL_MAX_NODES);
	s->group0 = ((__u32)getpid() << 6) + 1;
	s->peer = malloc(n * sizeof(int));
	s->mod = malloc(n * sizeof(int));
	ASSERT_TRUE(s->peer && s->mod);
	memset(s->peer, -1, n * sizeof(int));
	memset(s->mod, -1, n * sizeof(int));
	s->n = n;

	lfd = socket(AF_INET, SOCK_STREAM, 0);
	ASSERT_GE(lfd, 0);
	/* Before the handshake, so that TCP scales its window to it; the
	 * accepted sockets inherit both, locked. FORCE: past rmem_max.
	 */
	ASSERT_EQ(setsockopt(lfd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf,
			     sizeof(rcvbuf)), 0);
	ASSERT_EQ(setsockopt(lfd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf)), 0);
	ASSERT_EQ(bind(lfd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	ASSERT_EQ(listen(lfd, n), 0);
	ASSERT_EQ(getsockname(lfd, (struct sockaddr *)&addr, &len), 0);
	for (int i = 0; i < n; i++) {
		s->peer[i] = socket(AF_INET, SOCK_STREAM, 0);
		ASSERT_GE(s->peer[i], 0);
		ASSERT_EQ(setsockopt(s->peer[i], SOL_SOCKET, SO_SNDBUF, &buf,
				     sizeof(buf)), 0);
		ASSERT_EQ(setsockopt(s->peer[i], SOL_SOCKET, SO_RCVBUF, &buf,
				     sizeof(buf)), 0);
		ASSERT_EQ(setsockopt(s->peer[i], IPPROTO_TCP, TCP_NODELAY,
				     &one, sizeof(one)), 0);
		ASSERT_EQ(connect(s->peer[i], (struct sockaddr *)&addr,
				  sizeof(addr)), 0)
			TH_LOG("connect %d: %s", i, strerror(errno));
	}
	/* A socket is charged to the cgroup of the task that accepts it. */
	ASSERT_EQ(cgroup_enter(s->cg.dir), 0);
	for (int i = 0; i < n; i++) {
		s->mod[i] = accept(lfd, NULL, NULL);
		ASSERT_GE(s->mod[i], 0);
		ASSERT_EQ(sock_port(s->mod[i], true),
			  sock_port(s->peer[i], false));
		len = sizeof(got);
		ASSERT_EQ(getsockopt(s->mod[i], SOL_SOCKET, SO_RCVBUF, &got,
				     &len), 0);
		if (!i)
			s->rcvbuf = got;
		ASSERT_EQ(got, s->rcvbuf);
	}
	ASSERT_EQ(cgroup_enter(CGROUP_ROOT), 0);
	close(lfd);
}

static void wait_active(struct __test_metadata *_metadata, int fd)
{
	struct causal_info info;
	socklen_t len;

	for (int i = 0; i < 500; i++) {
		len = sizeof(info);
		ASSERT_EQ(getsockopt(fd, SOL_CAUSAL, CAUSAL_INFO, &info, &len), 0);
		if (info.state == CAUSAL_CH_ACTIVE)
			return;
		sleep_ms(10);
	}
	ASSERT_EQ(info.state, CAUSAL_CH_ACTIVE);
}

/* Join every module socket and exchange HELLOs; the module's HELLO is read
 * off the peer so that nothing is left queued there.
 */
static void scene_join(struct __test_metadata *_metadata, struct scene *s)
{
	__u64 zero[CAUSAL_MAX_NODES] = {}, clock[CAUSAL_MAX_NODES];
	char payload[CAUSAL_WIRE_HELLO_LEN];
	struct causal_frame f;

	ASSERT_EQ(cgroup_enter(s->cg.dir), 0);
	for (int i = 0; i < s->n; i++) {
		ASSERT_EQ(causal_attach(s->mod[i]), 0);
		ASSERT_EQ(causal_join(s->mod[i], chan_group(s, i), 0, s->nodes,
				      0), 0);
	}
	ASSERT_EQ(cgroup_enter(CGROUP_ROOT), 0);
	s->joined = true;
	for (int i = 0; i < s->n; i++) {
		ASSERT_EQ(wire_recv(s->peer[i], &f, clock, payload,
				    sizeof(payload)), 0);
		ASSERT_EQ(f.type, CAUSAL_FRAME_HELLO);
		ASSERT_EQ(wire_hello(s->peer[i], chan_group(s, i), s->nodes,
				     chan_peer(s, i), zero, i + 1), 0);
	}
	for (int i = 0; i < s->n; i++)
		wait_active(_metadata, s->mod[i]);
}

static void scene_open(struct __test_metadata *_metadata, struct scene *s,
		       int n, int per_ep, int rcvbuf)
{
	scene_connect(_metadata, s, n, per_ep, rcvbuf);
	scene_join(_metadata, s);
}

static void meminfo_of(int fd, __u32 *mi)
{
	socklen_t len = SK_MEMINFO_VARS * sizeof(__u32);

	memset(mi, 0, len);
	getsockopt(fd, SOL_SOCKET, SO_MEMINFO, mi, &len);
}

/* ---- figures ---- */

struct figures {
	struct kmem k;
	long spread;		/* of the readings of k.used */
	long charged;		/* memory.current */
	long peer_mem;		/* what the peers' sockets queue */
	long mod_rmem;		/* TCP's queue of the module's sockets */
	long holdback;		/* the module's count of its hold-back */
	long segs_in;		/* data segments the module's sockets got */
};

static void measure(struct __test_metadata *_metadata, const struct scene *s,
		    struct figures *f)
{
	long used[SAMPLES], slab[SAMPLES], sunr[SAMPLES], cur[SAMPLES];
	__u32 mi[SK_MEMINFO_VARS];
	struct kmem k;

	memset(f, 0, sizeof(*f));
	/* Let delayed ACKs, work and RCU callbacks run, and shrink the
	 * reclaimable slabs.
	 */
	sleep_ms(300);
	write_str("/proc/sys/vm/drop_caches", "2");
	for (int i = 0; i < SAMPLES; i++) {
		if (i)
			sleep_ms(50);
		kmem_sample(&k);
		used[i] = k.used;
		slab[i] = k.slab;
		sunr[i] = k.sunreclaim;
		cur[i] = memcg_read(&s->cg, "memory.current");
		ASSERT_GE(cur[i], 0);
	}
	f->k.used = median(used, SAMPLES);
	/* median() sorted them. */
	f->spread = used[SAMPLES - 1] - used[0];
	f->k.slab = median(slab, SAMPLES);
	f->k.sunreclaim = median(sunr, SAMPLES);
	f->charged = median(cur, SAMPLES);

	for (int i = 0; i < s->n; i++) {
		struct tcp_info_more ti = {};
		struct causal_info info;
		socklen_t len = sizeof(ti);

		meminfo_of(s->peer[i], mi);
		f->peer_mem += mi[SK_MEMINFO_RMEM_ALLOC] +
			       mi[SK_MEMINFO_WMEM_QUEUED];
		meminfo_of(s->mod[i], mi);
		f->mod_rmem += mi[SK_MEMINFO_RMEM_ALLOC];
		if (!getsockopt(s->mod[i], IPPROTO_TCP, TCP_INFO, &ti, &len) &&
		    len >= sizeof(ti))
			f->segs_in += ti.data_segs_in;
		len = sizeof(info);
		if (s->joined &&
		    !getsockopt(s->mod[i], SOL_CAUSAL, CAUSAL_INFO, &info, &len))
			f->holdback += info.holdback_bytes;
	}
}

/* Per channel, what the scene cost between @a and @b. */
struct cost {
	long kernel;		/* bytes of kernel memory */
	long charged;		/* growth of memory.current */
};

static void cost_of(const struct scene *s, const struct figures *a,
		    const struct figures *b, struct cost *c)
{
	c->kernel = ((b->k.used - b->peer_mem) - (a->k.used - a->peer_mem)) /
		    s->n;
	c->charged = (b->charged - a->charged) / s->n;
}

static long chan_bound(const struct scene *s)
{
	return 2L * s->rcvbuf + CTX_MAX;
}

static bool debug_kernel(void)
{
	return !access("/sys/kernel/debug/kmemleak", F_OK) ||
	       !access("/sys/kernel/debug/kasan", F_OK);
}

/* Log what the scene cost per channel and check it: within @bound (no
 * bound when 0), and charged to the cgroup.
 */
static void judge(struct __test_metadata *_metadata, const char *what,
		  const struct scene *s, const struct figures *a,
		  const struct figures *b, long sent, long bound)
{
	char vs_bound[64] = "";
	struct cost c;

	cost_of(s, a, b, &c);
	if (bound)
		snprintf(vs_bound, sizeof(vs_bound),
			 ", bound %ld KiB, ratio %.2f", bound / KIB,
			 (double)c.kernel / bound);
	TH_LOG("%s: %d channels, sk_rcvbuf %d KiB; per channel: peer sent %ld B, "
	       "kernel memory %+ld KiB (Slab %+ld KiB, SUnreclaim %+ld KiB), "
	       "TCP queue %ld KiB, hold-back %ld KiB counted%s; "
	       "memory.current %+ld KiB, %ld%% of it charged; "
	       "readings spread over %ld KiB",
	       what, s->n, s->rcvbuf / 1024, sent, c.kernel / KIB,
	       (b->k.slab - a->k.slab) / s->n / KIB,
	       (b->k.sunreclaim - a->k.sunreclaim) / s->n / KIB,
	       (b->mod_rmem - a->mod_rmem) / s->n / KIB,
	       (b->holdback - a->holdback) / s->n / KIB, vs_bound,
	       c.charged / KIB,
	       c.kernel > 0 ? c.charged * 100 / c.kernel : 100,
	       (a->spread > b->spread ? a->spread : b->spread) / KIB);
	/* A debugging kernel's allocators (KASAN redzones and quarantine,
	 * kmemleak's and the stack depot's records) cost more than what
	 * they track: there the scenes run for the checkers, the figures
	 * are only logged.
	 */
	if (debug_kernel()) {
		TH_LOG("debugging kernel: figures not judged");
		return;
	}
	if (bound)
		EXPECT_LE(c.kernel, bound * (100 + SLACK_PCT) / 100);
	EXPECT_GE(c.charged * s->n, c.kernel * s->n * CHARGED_PCT / 100 -
		  memcg_stock_slack());
}

/* ---- peers ---- */

static size_t frame_put(char *buf, __u8 type, __u16 nodes, __u16 sender,
			const __u64 *clock, __u32 len, bool with_payload)
{
	struct causal_frame f = {
		.type = type, .nodes = nodes, .sender = sender, .len = len,
	};
	size_t head = CAUSAL_WIRE_HDR_LEN + nodes * sizeof(__u64);

	causal_wire_put_hdr(buf, &f);
	causal_wire_put_clock(buf + CAUSAL_WIRE_HDR_LEN, clock, nodes);
	if (with_payload)
		memset(buf + head, 0x5a, len);
	return head;
}

static long max_msg_size(struct __test_metadata *_metadata)
{
	long v = read_long(MAX_MSG_PATH);

	EXPECT_GT(v, 0);
	return v > 0 ? v : MIB;
}

/* Every peer sends DATA frames of @len bytes, each waiting for a message of
 * the silent node, as fast as the module takes them, until nothing moves
 * for a while (TCP's window closed), @cap bytes went on a channel, or 20 s
 * passed. Returns the bytes sent per channel.
 */
static long flood(struct __test_metadata *_metadata, struct scene *s,
		  __u32 len, long cap)
{
	size_t size = causal_frame_size(s->nodes, len);
	double deadline = now_s() + 20;
	long total = 0;
	struct stream {
		char *buf;
		size_t off;
		__u64 seq;
		long sent;
	} *st = calloc(s->n, sizeof(*st));
	__u64 clock[CAUSAL_MAX_NODES] = {};
	int quiet = 0;

	ASSERT_NE(st, NULL);
	for (int i = 0; i < s->n; i++) {
		st[i].buf = malloc(size);
		ASSERT_NE(st[i].buf, NULL);
		st[i].off = size;
	}
	while (quiet < 3 && now_s() < deadline) {
		bool moved = false;

		for (int i = 0; i < s->n; i++) {
			struct stream *t = &st[i];

			/* At memory.max every send may reclaim first: the
			 * deadline bounds each stream's turn too.
			 */
			while (t->sent < cap && now_s() < deadline) {
				ssize_t w;

				if (t->off == size) {
					clock[chan_peer(s, i)] = ++t->seq;
					clock[chan_phantom(s)] = 1;
					frame_put(t->buf, CAUSAL_FRAME_DATA,
						  s->nodes, chan_peer(s, i),
						  clock, len, t->seq == 1);
					clock[chan_peer(s, i)] = 0;
					t->off = 0;
				}
				w = send(s->peer[i], t->buf + t->off,
					 size - t->off,
					 MSG_DONTWAIT | MSG_NOSIGNAL);
				if (w < 0) {
					ASSERT_EQ(errno, EAGAIN)
						TH_LOG("peer %d: %s", i,
						       strerror(errno));
					break;
				}
				t->off += w;
				t->sent += w;
				moved = true;
			}
		}
		if (moved) {
			quiet = 0;
		} else {
			quiet++;
			sleep_ms(100);
		}
	}
	for (int i = 0; i < s->n; i++) {
		total += st[i].sent;
		free(st[i].buf);
	}
	free(st);
	return total / s->n;
}

/* Every peer sends the first @bytes of one DATA frame of the largest size
 * the module takes, one byte per write (TCP_NODELAY: one byte per
 * segment), round robin, until done, @secs passed or nothing moved for a
 * second. Returns the bytes sent per channel.
 */
static long dribble(struct __test_metadata *_metadata, struct scene *s,
		    long bytes, double secs)
{
	size_t head_len = CAUSAL_WIRE_HDR_LEN + s->nodes * sizeof(__u64);
	char *heads = malloc(s->n * head_len);
	long *sent = calloc(s->n, sizeof(long)), total = 0;
	double deadline = now_s() + secs, stalled = 0;
	__u32 len = max_msg_size(_metadata);
	__u64 clock[CAUSAL_MAX_NODES] = {};
	int done = 0;

	ASSERT_TRUE(heads && sent);
	for (int i = 0; i < s->n; i++) {
		clock[chan_peer(s, i)] = 1;
		frame_put(heads + i * head_len, CAUSAL_FRAME_DATA, s->nodes,
			  chan_peer(s, i), clock, len, false);
		clock[chan_peer(s, i)] = 0;
	}
	while (done < s->n && now_s() < deadline) {
		bool moved = false;

		done = 0;
		for (int i = 0; i < s->n; i++) {
			char c = 0x5a;
			ssize_t w;

			if (sent[i] >= bytes) {
				done++;
				continue;
			}
			if (sent[i] < head_len)
				c = heads[i * head_len + sent[i]];
			w = send(s->peer[i], &c, 1, MSG_DONTWAIT | MSG_NOSIGNAL);
			if (w < 0) {
				ASSERT_EQ(errno, EAGAIN)
					TH_LOG("peer %d: %s", i, strerror(errno));
				continue;
			}
			sent[i]++;
			moved = true;
		}
		if (moved) {
			stalled = 0;
		} else if (done < s->n) {
			if (!stalled)
				stalled = now_s();
			else if (now_s() - stalled > 1)
				break;
			sleep_ms(10);
		}
	}
	for (int i = 0; i < s->n; i++)
		total += sent[i];
	free(heads);
	free(sent);
	return total / s->n;
}

/* ---- flooding and dribbling peers ---- */

FIXTURE(peers)
{
	struct scene s;
};

FIXTURE_VARIANT(peers)
{
	int rcvbuf;		/* SO_RCVBUF of the module's sockets */
};

FIXTURE_VARIANT_ADD(peers, rcvbuf_64k)
{
	.rcvbuf = 64 * 1024,
};

FIXTURE_VARIANT_ADD(peers, rcvbuf_256k)
{
	.rcvbuf = 256 * 1024,
};

FIXTURE_SETUP(peers)
{
	scene_init(_metadata, &self->s);
}

FIXTURE_TEARDOWN(peers)
{
	scene_close(&self->s);
}

#define FLOOD_CHANNELS	8
#define DRIBBLE_CHANNELS 4
/* A frame stops at this many bytes or when the time is up; each byte is a
 * segment and a trip through the stack, slow under emulation.
 */
#define DRIBBLE_BYTES	(16 * KIB)
#define DRIBBLE_SECS	6

static void flood_scene(struct __test_metadata *_metadata, struct scene *s,
			int rcvbuf, __u32 len, const char *what)
{
	struct figures a, b;
	long sent;

	scene_open(_metadata, s, FLOOD_CHANNELS, FLOOD_CHANNELS, rcvbuf);
	measure(_metadata, s, &a);
	sent = flood(_metadata, s, len, 16 * chan_bound(s));
	measure(_metadata, s, &b);
	judge(_metadata, what, s, &a, &b, sent, chan_bound(s));
}

/* These measure memory, not time. On the debugging kernel a thousand idle
 * channels take 23 s of the harness's default 30 alone, and a busy host
 * doubles that.
 */
#define MEMORY_TEST_TIMEOUT	180

/* Small messages: copied out of TCP's skbs into the hold-back queue. */
TEST_F_TIMEOUT(peers, flood_small, MEMORY_TEST_TIMEOUT)
{
	flood_scene(_metadata, &self->s, variant->rcvbuf, 200, "flood 200 B");
}

/* Large messages: kept in the skbs they arrived in. */
TEST_F_TIMEOUT(peers, flood_large, MEMORY_TEST_TIMEOUT)
{
	flood_scene(_metadata, &self->s, variant->rcvbuf, 48 * KIB,
		    "flood 48 KiB");
}

TEST_F_TIMEOUT(peers, dribble, MEMORY_TEST_TIMEOUT)
{
	struct scene *s = &self->s;
	struct figures a, b;
	char what[96];
	long sent;

	scene_open(_metadata, s, DRIBBLE_CHANNELS, DRIBBLE_CHANNELS,
		   variant->rcvbuf);
	measure(_metadata, s, &a);
	sent = dribble(_metadata, s, DRIBBLE_BYTES, DRIBBLE_SECS);
	measure(_metadata, s, &b);
	snprintf(what, sizeof(what),
		 "dribble of a %ld B frame, %.2f B per segment",
		 max_msg_size(_metadata),
		 b.segs_in > a.segs_in ?
		 (double)sent * s->n / (b.segs_in - a.segs_in) : 0.0);
	judge(_metadata, what, s, &a, &b, sent, chan_bound(s));
}

/* memory.max well below what the bound allows. Receive runs in softirq,
 * where charges are forced past memory.max (GFP_ATOMIC has __GFP_HIGH), as
 * for any TCP socket: the limit cannot hold the receive path below
 * sk_rcvbuf. What must hold at the limit is the bound, the charge, and that
 * the kernel copes (no oops, no OOM kill: nothing runs in the cgroup).
 */
static void limited_scene(struct __test_metadata *_metadata, struct scene *s,
			  int rcvbuf, bool dribbling, const char *what)
{
	int n = dribbling ? DRIBBLE_CHANNELS : FLOOD_CHANNELS;
	struct figures a, b;
	long sent, limit;
	char line[128];

	scene_open(_metadata, s, n, n, rcvbuf);
	measure(_metadata, s, &a);
	limit = a.charged + s->n * (long)s->rcvbuf / 2;
	ASSERT_EQ(memcg_set_max(&s->cg, limit), 0);
	sent = dribbling ? dribble(_metadata, s, DRIBBLE_BYTES, DRIBBLE_SECS) :
			   flood(_metadata, s, 200, 16 * chan_bound(s));
	measure(_metadata, s, &b);
	snprintf(line, sizeof(line), "%s, memory.max +%ld KiB per channel",
		 what, (limit - a.charged) / s->n / KIB);
	judge(_metadata, line, s, &a, &b, sent, chan_bound(s));
	TH_LOG("memory.events: max %ld, oom %ld, oom_kill %ld; memory.peak - memory.max: %+ld KiB",
	       memcg_event(&s->cg, "max"), memcg_event(&s->cg, "oom"),
	       memcg_event(&s->cg, "oom_kill"),
	       (memcg_read(&s->cg, "memory.peak") - limit) / KIB);
	EXPECT_EQ(memcg_event(&s->cg, "oom_kill"), 0);
}

TEST_F_TIMEOUT(peers, flood_memory_max, MEMORY_TEST_TIMEOUT)
{
	limited_scene(_metadata, &self->s, variant->rcvbuf, false, "flood 200 B");
}

TEST_F_TIMEOUT(peers, dribble_memory_max, MEMORY_TEST_TIMEOUT)
{
	limited_scene(_metadata, &self->s, variant->rcvbuf, true, "dribble");
}

/* ---- idle channels and a blocked sender ---- */

FIXTURE(idle)
{
	struct scene s;
};

FIXTURE_SETUP(idle)
{
	scene_init(_metadata, &self->s);
}

FIXTURE_TEARDOWN(idle)
{
	scene_close(&self->s);
}

/* 16 endpoints of 62 channels: peers that sent HELLO and nothing else cost
 * the fixed context only, which JOIN charges to the joining task's cgroup.
 */
TEST_F_TIMEOUT(idle, hello_only, MEMORY_TEST_TIMEOUT)
{
	struct scene *s = &self->s;
	struct figures a, b;

	scene_connect(_metadata, s, 16 * 62, 62, 64 * 1024);
	measure(_metadata, s, &a);
	scene_join(_metadata, s);
	measure(_metadata, s, &b);
	judge(_metadata, "idle after HELLO", s, &a, &b,
	      causal_frame_size(s->nodes, CAUSAL_WIRE_HELLO_LEN), CTX_MAX);
}

/* The application sends one maximal message per channel without waiting;
 * the peers do not read. What TCP cannot take waits in the kernel, charged
 * to the sender.
 */
TEST_F_TIMEOUT(idle, tx_pending, MEMORY_TEST_TIMEOUT)
{
	struct scene *s = &self->s;
	long size = max_msg_size(_metadata);
	struct figures a, b;
	char *msg = malloc(size);

	ASSERT_NE(msg, NULL);
	memset(msg, 0x5a, size);
	scene_open(_metadata, s, 8, 8, 64 * 1024);
	measure(_metadata, s, &a);
	ASSERT_EQ(cgroup_enter(s->cg.dir), 0);
	for (int i = 0; i < s->n; i++) {
		ASSERT_EQ(send(s->mod[i], msg, size, MSG_DONTWAIT), size)
			TH_LOG("send %d: %s", i, strerror(errno));
	}
	ASSERT_EQ(cgroup_enter(CGROUP_ROOT), 0);
	measure(_metadata, s, &b);
	judge(_metadata, "a pending message", s, &a, &b, 0, 0);
	free(msg);
}

TEST_HARNESS_MAIN
