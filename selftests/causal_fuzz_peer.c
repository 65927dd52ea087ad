// SPDX-License-Identifier: GPL-2.0
/*
 * Hostile-peer fuzzer. Each round builds one endpoint (node ME of a group of
 * N) with several channels whose far ends are plain TCP sockets driven here
 * with the shared codec (kmod/lib/causal_wire.h):
 *
 *  - well-behaved peers send HELLO, then DATA and CLOCK frames of one
 *    consistent history among themselves (their messages depend on each
 *    other's, never on a hostile peer's), then BYE;
 *  - hostile peers send streams built the same way and then mutated: bit
 *    flips, header fields out of range, lengths at and past the limit, clocks
 *    backwards and at 2^64-1, missing or duplicate HELLO, frames after BYE,
 *    truncation, floods, byte-by-byte dribbles, close/shutdown/RST, reconnects,
 *    a peer that never reads, a channel its owner closes under the reader;
 *  - every peer's stream goes out in random splits with short delays;
 *  - the application reads every socket with random flags (MSG_PEEK,
 *    MSG_DONTWAIT, MSG_TRUNC, short buffers, recv/read/recvmsg/recvmmsg),
 *    with CAUSAL_RECV_INFO and CAUSAL_RECV_BATCH on or off (a batched read
 *    is checked record by record), through poll or epoll (level or edge),
 *    with CAUSAL_F_MERGED_RECV, CAUSAL_F_BROADCAST, CAUSAL_PEERS and
 *    CAUSAL_HOLD_TIMEOUT on some rounds, and sends to the peers (some
 *    corked with MSG_MORE).
 *
 * Oracles, each failure named by kind in the log:
 *  deliver  every DATA of a well-behaved peer is delivered within the deadline
 *  fifo     exactly once, in its channel's order, with its payload and length
 *  hb       never before a well-behaved cause (gaps of well-behaved messages
 *           excepted, as the hold timeout allows)
 *  errno    a hostile channel fails only with EPROTO, EPERM, EEXIST or
 *           ECONNRESET/EPIPE; a well-behaved one never; a hostile peer with
 *           valid frames whose connection broke without BYE is taken back
 *           under the same incarnation
 *  info     CAUSAL_INFO agrees: failed state and proto_errors, counters
 *  poll     a socket reported readable has something to read
 *  tx       what the module writes to a peer is framed, monotonic, carries
 *           every message the application sent there, in order
 *  bye      nothing after BYE
 *  clock    every well-behaved peer learns the endpoint's final count
 *  trust    the endpoint's clock never exceeds what a node said of itself
 *  stall    MSG_DONTWAIT sends and close() return at once
 *  eof      a well-behaved channel that sent BYE reads as EOF
 *  stamp    the endpoint counts as many send events as sends succeeded
 * and the kernel stays healthy (the VM runner fails on any WARN/BUG/KASAN).
 *
 * Environment (see selftests/causal_fuzz.h for the common part):
 *  CAUSAL_FUZZ_SEED=N        run seed (default printed at start)
 *  CAUSAL_FUZZ_FRAMES=N      frames the peers send, shared by the variants
 *                            in proportion to their share (default 50000;
 *                            make fuzz: 1000000)
 *  CAUSAL_FUZZ_SECONDS=N     start no round after N seconds (default 300)
 *  CAUSAL_FUZZ_ROUND=N       replay round N only (with the seed and variant
 *                            of a report: -v VARIANT)
 *  CAUSAL_FUZZ_CLASSES=LIST  classes of hostility and of application
 *                            behaviour, e.g. "all,-stall,-close" (default all):
 *                            flip field length clock sequence truncate dribble
 *                            reset flood reconnect stall close crowd
 *                            hold send merged epoll peers
 *  CAUSAL_FUZZ_DEADLINE_MS=N how long a well-behaved message or EOF may take
 *                            once its causes are out (default 5000)
 *  CAUSAL_FUZZ_VERBOSE=1     one line per round; 2: also every read and
 *                            every step of the loop that took over 500 ms
 *  CAUSAL_FUZZ_WATCHDOG=S    end the run if it makes no progress for S seconds
 *                            (a call stuck in the kernel; default 60)
 *
 * Each failure is counted; the first of each kind in a round is logged with
 * the seed, variant and round that replay it:
 *   CAUSAL_FUZZ_SEED=S CAUSAL_FUZZ_ROUND=R causal_fuzz_peer -v VARIANT
 * A long run (make fuzz):
 *   CAUSAL_FUZZ_FRAMES=1000000 CAUSAL_FUZZ_SECONDS=7200 causal_fuzz_peer
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <linux/causal.h>
#include <linux/sockios.h>

#include "kselftest_harness.h"
#include "causal_util.h"
#include "causal_fuzz.h"

#define MAX_NODES	CAUSAL_MAX_NODES
#define MAX_CHANS	96	/* per round: a crowd takes 66 */
#define CROWD		66	/* idle channels of a crowd round: past 64 */
#define MAX_GOOD	3
#define MAX_HOSTILE	6
#define MAX_RECONNECT	2
#define MAX_APP_MSGS	8192
#define GROUP_BASE	0x46000000u
#define MMSG_VLEN	4
#define MMSG_BUF	(128 * 1024)
#define RAW_READ	(256 * 1024)
#define LOG_ROUNDS	30	/* rounds whose failure of a kind is logged */
#define DUMP_ROUNDS	3	/* ... with /proc/net/causal */
/* A call that should return at once and took longer than this (ms) is
 * reported: far above a debug kernel's slowest under TCG, far below the
 * stalled peer's 2 * STALL_MS send timeout it would wait behind.
 */
#define STALL_MS	1000

enum cls {
	C_FLIP, C_FIELD, C_LENGTH, C_CLOCK, C_SEQUENCE, C_TRUNCATE, C_DRIBBLE,
	C_RESET, C_FLOOD, C_RECONNECT, C_STALL, C_CLOSE, C_CROWD,
	C_HOLD, C_SEND, C_MERGED, C_EPOLL, C_PEERS,
	C_NR
};

static const char *const cls_names[C_NR] = {
	"flip", "field", "length", "clock", "sequence", "truncate", "dribble",
	"reset", "flood", "reconnect", "stall", "close", "crowd",
	"hold", "send", "merged", "epoll", "peers",
};

#define BIT(c)		(1ULL << (c))
/* Classes that change the bytes of a hostile stream. */
#define C_MUTATE	(BIT(C_FLIP) | BIT(C_FIELD) | BIT(C_LENGTH) | \
			 BIT(C_CLOCK) | BIT(C_SEQUENCE))
/* Classes a hostile peer may have. */
#define C_PEER		(C_MUTATE | BIT(C_TRUNCATE) | BIT(C_DRIBBLE) | \
			 BIT(C_RESET) | BIT(C_FLOOD) | BIT(C_RECONNECT) | \
			 BIT(C_STALL) | BIT(C_CLOSE))

enum fail_kind {
	F_DELIVER, F_FIFO, F_HB, F_ERRNO, F_INFO, F_POLL, F_TX, F_BYE, F_CLOCK,
	F_TRUST, F_STALL, F_EOF, F_STAMP, F_NR
};

static const char *const fail_names[F_NR] = {
	"deliver", "fifo", "hb", "errno", "info", "poll", "tx", "bye", "clock",
	"trust", "stall", "eof", "stamp",
};

enum kind { K_GOOD, K_HOSTILE, K_CROWD };
enum split { SPLIT_WHOLE, SPLIT_RANDOM, SPLIT_TINY };
/* END_VANISH: the socket goes without a FIN or reset (TCP_REPAIR), as on a
 * host that lost it; the module finds out only when it writes there.
 */
enum end_action { END_KEEP, END_CLOSE, END_RST, END_VANISH, END_SHUT_WR,
		  END_SHUT_RDWR };
enum wait_mode { WAIT_POLL, WAIT_EPOLL, WAIT_EPOLL_ET };
enum phase { P_TRAFFIC, P_SETTLE, P_BYE, P_DRAIN, P_END };

static const char *const phase_names[] = {
	"traffic", "settle", "bye", "drain", "end",
};

/* Payloads of well-behaved peers and of the application say who sent them
 * and which they are; the rest follows from the round's tag.
 */
enum { PAY_GOOD = 0x600d, PAY_APP = 0x0a99, PAY_STALL = 0x57a1 };

struct pay_hdr {
	uint64_t tag;
	uint16_t node;
	uint16_t kind;
	uint32_t seq;
	uint32_t len;
	uint32_t zero;
};

#define PAY_MIN		((uint32_t)sizeof(struct pay_hdr))

/* A byte stream and where each frame in it ends. */
struct stream {
	uint8_t *buf;
	size_t len, cap;
	uint32_t *ends;
	int nframes, capf;
};

/* One frame as it goes on the wire, header fields as sent. */
struct fspec {
	uint32_t magic;
	uint8_t version;
	uint8_t type;
	uint16_t flags, nodes, sender;
	uint32_t len;
	const uint64_t *clock;
	uint16_t clock_n;	/* entries written */
	const void *payload;
	uint32_t payload_n;	/* bytes written */
};

/* The DATA a well-behaved peer sends to the endpoint, in order. */
struct good {
	uint16_t node;
	struct chan *ch;
	int nmsgs;
	uint64_t *stamps;	/* own entry of each */
	uint64_t *clocks;	/* nodes entries each */
	uint32_t *lens;
	int delivered;		/* read without MSG_PEEK */
	uint64_t final[MAX_NODES];	/* clock of its last frame */
};

struct chan {
	int idx;
	enum kind kind;
	struct good *good;
	uint16_t node;		/* the node its HELLO claims */
	uint64_t classes;	/* C_* of a hostile peer */
	uint64_t incarnation;
	int gen;		/* reconnects before this channel */
	int fd;			/* module socket, -1 once closed */
	int raw;		/* our end, -1 once closed */
	int closed_by_thread;	/* atomic: the closer replaced fd */
	bool recv_info;
	bool recv_batch;	/* CAUSAL_RECV_BATCH: reads return records */
	bool delta_offered;	/* good: its HELLO said it reads version 2 */
	bool watched;		/* the application still reads fd */
	bool eof;
	bool stalled;		/* raw never reads */
	bool clean;		/* hostile by its timing only: valid frames,
				 * a node of its own, no BYE
				 */
	bool expect_ok;		/* a clean peer back after a break, under
				 * the same incarnation: must be taken
				 */
	bool has_bye;

	/* What we write. */
	struct stream out;
	size_t off, cut;	/* written; write up to cut */
	size_t dribble_from, dribble_to;
	int frames_done;
	enum split split;
	unsigned int delay_pct, delay_max_us;
	uint64_t next_ns, progress_ns;
	bool blocked;		/* EAGAIN: wait for POLLOUT */
	bool dead;		/* cannot write any more */
	enum end_action end;
	bool ended;
	bool shut_after;	/* good: SHUT_WR once BYE is out */
	struct fuzz_rng wr;
	uint64_t last_clock[MAX_NODES];	/* for a reconnect */

	/* What the module writes to us. */
	bool drain;
	uint8_t *in;
	size_t in_len;
	int in_frames;
	bool in_bye, in_eof, in_bad, in_any;
	uint64_t in_last[MAX_NODES];
	int app_next;		/* next application message it may carry */
};

struct app_msg {
	uint32_t len;
	int target;		/* channel index, -1 for a broadcast */
	uint64_t stamp;		/* as first seen on the wire, 0 before */
};

struct stats {
	uint64_t rounds, frames_good, frames_hostile, bytes;
	uint64_t chans_good, chans_hostile, chans_crowd, reconnects;
	uint64_t reconnects_owed, reconnects_taken;
	uint64_t good_msgs, good_delivered, hostile_delivered, gaps, peeks;
	uint64_t batch_reads, batch_msgs;	/* reads of several records */
	uint64_t truncated, zero_reads, eofs, eof_sleepers;
	uint64_t app_sent, app_failed, stall_sent, module_frames;
	uint64_t module_delta_frames;	/* of version 2 */
	uint64_t proto_errors, thread_closes, max_frames;
	uint64_t mutations[C_NR];
	struct fuzz_errnos recv_err, send_err;
	uint64_t failures[F_NR];
};

struct stall_ctx {
	pthread_t thread;
	bool running;
	int fd;
	int stop;		/* atomic */
	uint64_t sent;		/* atomic */
	uint64_t tag;
};

struct closer_ctx {
	pthread_t thread;
	bool running;
	int stop;		/* atomic */
	int devnull;
	int n;
	struct chan *targets[MAX_HOSTILE * (MAX_RECONNECT + 1)];
	uint32_t delay_us[MAX_HOSTILE * (MAX_RECONNECT + 1)];
};

/* A reader asleep in recv() on a well-behaved socket when its BYE and FIN
 * arrive: it must wake up to EOF.
 */
struct eof_ctx {
	pthread_t thread;
	bool running;
	int fd;
	int done;		/* atomic */
	ssize_t ret;
	int err;
};

struct fuzz;

struct round {
	struct fuzz *fz;
	uint64_t id;
	struct fuzz_rng rng;	/* plan and streams */
	struct fuzz_rng app;	/* the application's choices */
	uint16_t n, me;
	uint32_t group;
	uint32_t join_flags;
	bool merged;
	uint32_t hold_ms;
	uint64_t peers;
	enum wait_mode wait;
	bool app_send;
	unsigned int send_pct;
	uint32_t good_maxlen;
	uint64_t tag;
	uint64_t claim[MAX_NODES];	/* most any frame said of its sender */
	uint64_t relayed[MAX_NODES];	/* most any frame said of a node */
	uint64_t floor[MAX_NODES];	/* stamps a good gap let go */
	uint64_t hfloor[MAX_NODES];	/* what hostile gaps claimed */
	uint64_t used;			/* free nodes given to a hostile peer */
	uint64_t shared;		/* and those a second one claims too */
	bool crowd;
	bool big_done;			/* one frame at the size limit */

	int ngood;
	struct good good[MAX_GOOD];
	int nchan;
	struct chan *chan[MAX_CHANS];

	struct app_msg *msgs;
	int nmsgs;
	uint64_t sends_tried;
	uint64_t app_sent_before;	/* st.app_sent when the round began */
	uint64_t sent;			/* ep_sent once sends stopped */
	uint64_t last_index;
	uint64_t ep_incarnation;

	int epfd;
	enum phase phase;
	uint64_t deadline_ns;
	int bye_step;
	int bye_order[MAX_GOOD];
	bool bye_sent;
	int reads_this_iter;
	bool aborted;
	uint64_t stalled_ns;	/* when the last reported stall ended */
	uint64_t logged;	/* F_* already logged in this round */

	struct stall_ctx stall;
	struct closer_ctx closer;
	struct eof_ctx eofr;
};

struct fuzz {
	struct __test_metadata *meta;
	const char *variant;
	struct fuzz_budget budget;
	struct fuzz_watchdog dog;
	uint64_t classes;
	uint64_t deadline_ns;
	unsigned int verbose;
	uint32_t max_msg;
	uint8_t *buf;		/* a whole message and more */
	uint8_t *scratch;	/* expected payloads */
	uint8_t *mmsg;		/* recvmmsg buffers */
	unsigned int logged[F_NR];	/* rounds that logged a kind */
	struct stats st;
};

/* The codec's u64 is unsigned long long, uint64_t unsigned long here. */
static void clock_put(void *buf, const uint64_t *clock, uint16_t n)
{
	__u64 v[MAX_NODES];

	for (int i = 0; i < n; i++)
		v[i] = clock[i];
	causal_wire_put_clock(buf, v, n);
}

static void clock_get(const void *buf, uint64_t *clock, uint16_t n)
{
	__u64 v[MAX_NODES];

	causal_wire_get_clock(buf, v, n);
	for (int i = 0; i < n; i++)
		clock[i] = v[i];
}

static uint64_t umin(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static uint64_t umax(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

static void *xrealloc(void *p, size_t size)
{
	p = realloc(p, size);
	if (!p) {
		fprintf(stderr, "# out of memory\n");
		_exit(1);
	}
	return p;
}

/* ---- failures ---- */

static void __attribute__((format(printf, 3, 4)))
fail(struct round *r, enum fail_kind kind, const char *fmt, ...)
{
	struct fuzz *fz = r->fz;
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fz->st.failures[kind]++;
	fz->meta->exit_code = KSFT_FAIL;
	if (r->logged & BIT(kind))
		return;
	r->logged |= BIT(kind);
	if (++fz->logged[kind] > LOG_ROUNDS)
		return;
	fprintf(stderr, "# FAIL %s: seed=0x%llx variant=%s round=%llu phase=%s: %s\n",
		fail_names[kind], (unsigned long long)fz->budget.seed,
		fz->variant, (unsigned long long)r->id, phase_names[r->phase],
		msg);
	if (fz->logged[kind] <= DUMP_ROUNDS &&
	    (kind == F_DELIVER || kind == F_EOF || kind == F_CLOCK))
		fuzz_dump_proc(fail_names[kind]);
}

/* ---- streams ---- */

static uint8_t *st_grow(struct stream *s, size_t n)
{
	uint8_t *p;

	if (s->len + n > s->cap) {
		s->cap = umax(s->cap * 2, s->len + n + 4096);
		s->buf = xrealloc(s->buf, s->cap);
	}
	p = s->buf + s->len;
	s->len += n;
	return p;
}

static void st_end_frame(struct stream *s)
{
	if (s->nframes == s->capf) {
		s->capf = s->capf ? s->capf * 2 : 64;
		s->ends = xrealloc(s->ends, s->capf * sizeof(*s->ends));
	}
	s->ends[s->nframes++] = s->len;
}

static void st_free(struct stream *s)
{
	free(s->buf);
	free(s->ends);
	memset(s, 0, sizeof(*s));
}

static void fs_init(struct fspec *f, uint8_t type, uint16_t nodes,
		    uint16_t sender, const uint64_t *clock, const void *payload,
		    uint32_t len)
{
	*f = (struct fspec){
		.magic = CAUSAL_WIRE_MAGIC, .version = CAUSAL_WIRE_VERSION,
		.type = type, .nodes = nodes, .sender = sender, .len = len,
		.clock = clock, .clock_n = nodes, .payload = payload,
		.payload_n = len,
	};
}

static void st_put(struct stream *s, const struct fspec *f)
{
	struct causal_frame h = {
		.type = f->type, .flags = f->flags, .nodes = f->nodes,
		.sender = f->sender, .len = f->len,
	};
	uint8_t *p = st_grow(s, CAUSAL_WIRE_HDR_LEN);
	uint32_t magic = htonl(f->magic);

	causal_wire_put_hdr(p, &h);
	memcpy(p, &magic, sizeof(magic));
	p[4] = f->version;
	if (f->clock_n)
		clock_put(st_grow(s, f->clock_n * 8), f->clock, f->clock_n);
	if (f->payload_n)
		memcpy(st_grow(s, f->payload_n), f->payload, f->payload_n);
	st_end_frame(s);
}

/* Walk @s as the module frames it and raise r->claim[] by what each frame
 * says of its own sender (an upper bound of what any node announced), and
 * r->relayed[] by what it says of any node.
 */
static void st_claims(struct round *r, const struct stream *s)
{
	size_t off = 0;

	while (s->len - off >= CAUSAL_WIRE_HDR_LEN) {
		struct causal_frame f;
		uint64_t v[MAX_NODES];
		size_t size;

		if (causal_wire_get_hdr(s->buf + off, &f, r->fz->max_msg))
			return;
		size = causal_frame_size(f.nodes, f.len);
		if (s->len - off < CAUSAL_WIRE_HDR_LEN + f.nodes * 8)
			return;
		clock_get(s->buf + off + CAUSAL_WIRE_HDR_LEN, v, f.nodes);
		if (f.sender < MAX_NODES)
			r->claim[f.sender] = umax(r->claim[f.sender],
						  v[f.sender]);
		for (int k = 0; k < f.nodes && k < MAX_NODES; k++)
			r->relayed[k] = umax(r->relayed[k], v[k]);
		if (s->len - off < size)
			return;
		off += size;
	}
}

/* What the endpoint may say node @k sent (docs/design.md, "Trust"): of a
 * peer, at most what its own frames announced; a node outside CAUSAL_PEERS
 * never speaks to it, so its entry is relayed as members claim it, and
 * only never invented.
 */
static uint64_t trust_bound(const struct round *r, int k)
{
	return r->peers & BIT(k) ? r->claim[k] : r->relayed[k];
}

static const char *trust_whose(const struct round *r, int k)
{
	return r->peers & BIT(k) ? "of that node said" : "said of that node";
}

/* ---- payloads ---- */

static void pay_make(uint8_t *buf, uint64_t tag, uint16_t kind, uint16_t node,
		     uint32_t seq, uint32_t len)
{
	struct pay_hdr h = {
		.tag = tag, .node = node, .kind = kind, .seq = seq, .len = len,
	};
	struct fuzz_rng g;

	memcpy(buf, &h, sizeof(h));
	fuzz_rng_init(&g, tag, (uint64_t)kind << 16 | node, seq);
	fuzz_fill(&g, buf + sizeof(h), len - sizeof(h));
}

/* Do the @got bytes at @buf begin the payload (tag, kind, node, seq, len)? */
static bool pay_check(struct fuzz *fz, const uint8_t *buf, size_t got,
		      uint64_t tag, uint16_t kind, uint16_t node, uint32_t seq,
		      uint32_t len)
{
	pay_make(fz->scratch, tag, kind, node, seq, len);
	return !memcmp(buf, fz->scratch, umin(got, len));
}

static bool pay_header(const uint8_t *buf, size_t got, uint64_t tag,
		       uint16_t kind, struct pay_hdr *h)
{
	if (got < sizeof(*h))
		return false;
	memcpy(h, buf, sizeof(*h));
	return h->tag == tag && h->kind == kind;
}

/* ---- the well-behaved peers' history ---- */

static void good_add_msg(struct round *r, struct good *g, const uint64_t *v,
			 uint32_t len)
{
	int i = g->nmsgs++;

	g->stamps = xrealloc(g->stamps, g->nmsgs * sizeof(*g->stamps));
	g->clocks = xrealloc(g->clocks, g->nmsgs * r->n * sizeof(*g->clocks));
	g->lens = xrealloc(g->lens, g->nmsgs * sizeof(*g->lens));
	g->stamps[i] = v[g->node];
	memcpy(&g->clocks[i * r->n], v, r->n * sizeof(*v));
	g->lens[i] = len;
}

/* Sizes around the module's copy/keep boundary (2 KiB) now and then. */
static uint32_t good_len(struct round *r)
{
	static const uint32_t edges[] = { 2047, 2048, 2049, 4096 };

	if (r->good_maxlen > 4096 && fuzz_chance(&r->rng, 8))
		return edges[fuzz_below(&r->rng, 4)];
	return fuzz_size(&r->rng, PAY_MIN, r->good_maxlen);
}

static void good_put(struct round *r, struct good *g, uint8_t type,
		     uint16_t flags, const uint64_t *v)
{
	struct fuzz *fz = r->fz;
	struct fspec f;
	uint32_t len = 0;

	if (type == CAUSAL_FRAME_DATA) {
		len = good_len(r);
		pay_make(fz->buf, r->tag, PAY_GOOD, g->node, g->nmsgs, len);
		good_add_msg(r, g, v, len);
	}
	fs_init(&f, type, r->n, g->node, v, fz->buf, len);
	f.flags = flags;
	st_put(&g->ch->out, &f);
}

static void merge(uint64_t *to, const uint64_t *from, uint16_t n)
{
	for (int k = 0; k < n; k++)
		to[k] = umax(to[k], from[k]);
}

/* One history of the well-behaved peers: each sends to the endpoint, to
 * nodes elsewhere and to each other, so that their messages to the endpoint
 * depend on each other's. Frames go to each peer's stream; the endpoint must
 * deliver them in an order consistent with that history.
 */
static void gen_good(struct round *r, int events)
{
	uint64_t c[MAX_GOOD][MAX_NODES] = {};
	struct fuzz_rng *g = &r->rng;
	uint8_t hello[CAUSAL_WIRE_HELLO_LEN];
	struct fspec f;

	for (int i = 0; i < r->ngood; i++) {
		struct good *gd = &r->good[i];
		struct causal_hello h = {
			.group = r->group,
			.flags = r->join_flags & (CAUSAL_F_BROADCAST |
						  CAUSAL_F_MERGED_RECV),
			.incarnation = fuzz_next(g) | 1,
		};

		/* Half of them read frames of the entries that changed. */
		gd->ch->delta_offered = fuzz_chance(g, 50);
		if (gd->ch->delta_offered)
			h.flags |= CAUSAL_WIRE_HELLO_F_DELTA;

		/* Where its count starts: what it sent before this channel. */
		switch (fuzz_below(g, 10)) {
		case 0:
			c[i][gd->node] = fuzz_range(g, 1, 1000);
			break;
		case 1:
			c[i][gd->node] = fuzz_range(g, 1, 1ULL << 40);
			break;
		case 2:
			c[i][gd->node] = UINT64_MAX - fuzz_range(g, 1 << 20, 1 << 30);
			break;
		}
		causal_wire_put_hello(hello, &h);
		fs_init(&f, CAUSAL_FRAME_HELLO, r->n, gd->node, c[i], hello,
			sizeof(hello));
		st_put(&gd->ch->out, &f);
	}
	for (int e = 0; e < events; e++) {
		int i = fuzz_below(g, r->ngood), h = fuzz_below(g, r->ngood);
		struct good *gd = &r->good[i];
		uint64_t *v = c[i];
		unsigned int roll = fuzz_below(g, 100);

		if (roll < 55) {
			v[gd->node]++;
			good_put(r, gd, CAUSAL_FRAME_DATA, 0, v);
		} else if (roll < 65) {
			v[gd->node]++;		/* a send elsewhere */
		} else if (roll < 80) {
			v[gd->node]++;		/* a send to peer h only */
			if (h != i)
				merge(c[h], v, r->n);
		} else if (roll < 90) {
			/* A broadcast: the endpoint and some peers get it. */
			v[gd->node]++;
			good_put(r, gd, CAUSAL_FRAME_DATA,
				 CAUSAL_WIRE_F_BROADCAST, v);
			for (h = 0; h < r->ngood; h++)
				if (h != i && fuzz_chance(g, 60))
					merge(c[h], v, r->n);
		} else {
			good_put(r, gd, CAUSAL_FRAME_CLOCK, 0, v);
		}
	}
	/* Every count anyone depends on is announced. */
	for (int i = 0; i < r->ngood; i++) {
		good_put(r, &r->good[i], CAUSAL_FRAME_CLOCK, 0, c[i]);
		memcpy(r->good[i].final, c[i], sizeof(c[i]));
		r->fz->st.good_msgs += r->good[i].nmsgs;
	}
}

/* ---- hostile streams ---- */

/* Mutations that break the protocol: the channel must fail on them. */
static void mutate_fatal(struct round *r, struct chan *c, struct fspec *f,
			 uint64_t *mc, const uint64_t *last, uint16_t own,
			 enum cls cl, bool *stop)
{
	struct fuzz_rng *g = &r->rng;
	uint16_t n = r->n;
	int k;

	switch (cl) {
	case C_FIELD:
		switch (fuzz_below(g, 7)) {
		case 0:
			f->magic = (uint32_t)fuzz_next(g);
			if (f->magic == CAUSAL_WIRE_MAGIC)
				f->magic ^= 1u << fuzz_below(g, 32);
			break;
		case 1: {
			static const uint8_t v[] = { 0, 2, 255 };

			f->version = v[fuzz_below(g, 3)];
			break;
		}
		case 2: {
			static const uint8_t t[] = { 0, 5, 6, 255 };

			f->type = t[fuzz_below(g, 4)];
			break;
		}
		case 3:
			if (f->type != CAUSAL_FRAME_DATA)
				f->flags = CAUSAL_WIRE_F_BROADCAST;
			else
				f->flags = 1u << fuzz_range(g, 1, 15);
			break;
		case 4: {
			const uint16_t v[] = { 0, n - 1, n + 1, 64, 65, 0xffff };

			f->nodes = v[fuzz_below(g, 6)];
			if (f->nodes == n)
				f->nodes = n + 1;
			f->clock_n = umin(f->nodes, MAX_NODES);
			break;
		}
		case 5: {
			const uint16_t v[] = { n, 0xffff, r->me,
					       (c->node + 1) % n };

			f->sender = v[fuzz_below(g, 4)];
			if (f->sender == c->node)
				f->sender = n;
			break;
		}
		default:
			goto bad_length;
		}
		return;
	case C_LENGTH:
bad_length:
		if (f->type == CAUSAL_FRAME_DATA) {
			if (fuzz_chance(g, 50)) {
				f->len = fuzz_chance(g, 50) ? r->fz->max_msg + 1 :
							      UINT32_MAX;
				f->payload_n = umin(f->payload_n, 64);
				return;
			}
			/* Claims more than follows: the stream ends in it. */
			f->len = umin(f->payload_n + fuzz_size(g, 1, 1 << 20),
				      r->fz->max_msg);
			*stop = true;
			return;
		}
		if (f->type == CAUSAL_FRAME_HELLO) {
			static const uint32_t v[] = { 0, 15, 17, 0xffff };

			f->len = v[fuzz_below(g, 4)];
		} else {
			static const uint32_t v[] = { 1, 8, 0xffffffff };

			f->len = v[fuzz_below(g, 3)];
		}
		f->payload_n = umin(f->len, CAUSAL_WIRE_HELLO_LEN + 1);
		f->payload = r->fz->buf;
		return;
	case C_CLOCK:
		switch (fuzz_below(g, 3)) {
		case 0:
			/* Own count backwards, or a DATA that is no new send. */
			if (last[own]) {
				mc[own] = last[own] - fuzz_below(g, umin(last[own], 4));
				if (f->type != CAUSAL_FRAME_DATA && mc[own] == last[own])
					mc[own]--;
				return;
			}
			/* fall through */
		case 1:
			for (k = 0; k < n; k++) {
				if (k != own && last[k]) {
					mc[k] = last[k] - 1;
					return;
				}
			}
			/* fall through */
		default:
			/* Claims messages from the endpoint it never sent. */
			mc[r->me] = fuzz_chance(g, 50) ? UINT64_MAX :
					fuzz_range(g, 1ULL << 32, 1ULL << 62);
			return;
		}
	default:
		/* C_SEQUENCE: the caller put a second HELLO or a BYE
		 * before this frame.
		 */
		return;
	}
}

static void put_hello(struct round *r, struct chan *c, const uint64_t *v,
		      bool fatal_ok)
{
	struct fuzz_rng *g = &r->rng;
	uint8_t hello[CAUSAL_WIRE_HELLO_LEN];
	struct causal_hello h = {
		.group = r->group, .incarnation = c->incarnation,
		.flags = (uint32_t)fuzz_next(g),
	};
	struct fspec f;

	if (fatal_ok && (c->classes & BIT(C_SEQUENCE)) && fuzz_chance(g, 15)) {
		if (fuzz_chance(g, 50))
			h.group ^= 1u << fuzz_below(g, 32);
		else
			h.incarnation = 0;
		r->fz->st.mutations[C_SEQUENCE]++;
	}
	causal_wire_put_hello(hello, &h);
	fs_init(&f, CAUSAL_FRAME_HELLO, r->n, c->node, v, hello, sizeof(hello));
	st_put(&c->out, &f);
}

/* Flip a few bits of a few frames: header, clock or payload. */
static void flip_bits(struct round *r, struct chan *c)
{
	struct fuzz_rng *g = &r->rng;
	struct stream *s = &c->out;
	int frames = fuzz_range(g, 1, 4);

	for (int i = 0; i < frames && s->nframes; i++) {
		int fi = fuzz_below(g, s->nframes);
		size_t start = fi ? s->ends[fi - 1] : 0, size = s->ends[fi] - start;
		size_t clock_end = umin(CAUSAL_WIRE_HDR_LEN + r->n * 8, size);
		int bits = fuzz_range(g, 1, 3);

		for (int b = 0; b < bits; b++) {
			unsigned int where = fuzz_below(g, 100);
			size_t at;

			if (where < 50 || size <= CAUSAL_WIRE_HDR_LEN)
				at = fuzz_below(g, umin(size, CAUSAL_WIRE_HDR_LEN));
			else if (where < 80 || size <= clock_end)
				at = fuzz_range(g, CAUSAL_WIRE_HDR_LEN, clock_end - 1);
			else
				at = fuzz_range(g, clock_end, size - 1);
			s->buf[start + at] ^= 1u << fuzz_below(g, 8);
		}
	}
	r->fz->st.mutations[C_FLIP]++;
}

static uint32_t hostile_len(struct round *r, struct chan *c)
{
	struct fuzz_rng *g = &r->rng;

	if ((c->classes & BIT(C_LENGTH)) && fuzz_chance(g, 5)) {
		static const uint32_t edges[] = { 0, 2047, 2048, 2049 };

		r->fz->st.mutations[C_LENGTH]++;
		if (!r->big_done && fuzz_chance(g, 5)) {
			/* Exactly at the limit: valid, and large. */
			r->big_done = true;
			r->fz->st.max_frames++;
			return r->fz->max_msg;
		}
		return edges[fuzz_below(g, 4)];
	}
	return fuzz_size(g, 0, fuzz_chance(g, 90) ? 300 : 8192);
}

/* A hostile peer's stream: a plausible history of its own, its claims about
 * the others now and then forged, then mutated by its classes.
 */
static void gen_hostile(struct round *r, struct chan *c)
{
	struct fuzz *fz = r->fz;
	struct fuzz_rng *g = &r->rng;
	uint64_t v[MAX_NODES], last[MAX_NODES], mc[MAX_NODES];
	uint64_t cl = c->classes, fatal_cls = cl & (C_MUTATE & ~BIT(C_FLIP));
	uint16_t own = c->node < r->n ? c->node : 0;
	int nframes, fatal_at = -1, big_at = -1;
	/* A valid peer that means to come back says BYE only now and then. */
	int bye_pct = (cl & BIT(C_RECONNECT)) && !(cl & C_MUTATE) ? 10 : 30;
	bool after_bye = false;

	memcpy(v, c->last_clock, sizeof(v));
	memcpy(last, v, sizeof(v));
	nframes = (cl & BIT(C_FLOOD)) ? fuzz_range(g, 300, 2000) :
					fuzz_range(g, 4, 120);
	if (cl & BIT(C_FLOOD))
		fz->st.mutations[C_FLOOD]++;
	if (fatal_cls)
		fatal_at = fuzz_range(g, nframes / 2, nframes - 1);
	if (cl & BIT(C_DRIBBLE))
		big_at = fuzz_below(g, nframes);

	if ((cl & BIT(C_SEQUENCE)) && fuzz_chance(g, 10))
		fz->st.mutations[C_SEQUENCE]++;	/* DATA before any HELLO */
	else
		put_hello(r, c, v, true);

	for (int i = 0; i < nframes && !after_bye; i++) {
		uint8_t type = CAUSAL_FRAME_CLOCK;
		unsigned int roll = fuzz_below(g, 100);
		bool stop = false;
		uint32_t len = 0;
		struct fspec f;
		int k;

		/* What it claims about the others, only ever growing. */
		if (fuzz_chance(g, 30)) {
			k = fuzz_below(g, r->n);
			for (int j = 0; j < r->ngood; j++) {
				const struct good *gd = &r->good[j];

				if (gd->node != k)
					continue;
				v[k] = umax(v[k], fuzz_chance(g, 85) ?
					    fuzz_below(g, gd->final[k] + 1) :
					    gd->final[k] + fuzz_range(g, 1, 100));
				k = -1;
				break;
			}
			if (k >= 0 && k != own && k != r->me)
				v[k] += fuzz_below(g, 5);
		}
		if ((cl & BIT(C_CLOCK)) && fuzz_chance(g, 3)) {
			/* Valid, but waits forever (or for a gap). */
			k = fuzz_below(g, r->n);
			if (k != own && k != r->me) {
				v[k] = UINT64_MAX;
				fz->st.mutations[C_CLOCK]++;
			}
		}
		if (roll < 60)
			type = CAUSAL_FRAME_DATA;
		else if (roll == 99 && !(cl & BIT(C_FLOOD)) && bye_pct == 30)
			type = CAUSAL_FRAME_BYE;

		if (type == CAUSAL_FRAME_DATA) {
			if (v[own] < UINT64_MAX)
				v[own]++;
			if ((cl & BIT(C_CLOCK)) && fuzz_chance(g, 2)) {
				v[own] = UINT64_MAX;	/* nothing can follow */
				fz->st.mutations[C_CLOCK]++;
			}
			len = i == big_at ? fuzz_range(g, 8192, 65536) :
					    hostile_len(r, c);
			memcpy(fz->buf, "HOSTILE!", umin(len, 8));
			if (len > 8)
				fuzz_fill(g, fz->buf + 8, umin(len - 8, 256));
			if (len > 264)
				memset(fz->buf + 264, 0x5a, len - 264);
		}
		if (i == big_at) {
			c->dribble_from = c->out.len;
			c->dribble_to = c->out.len + fuzz_range(g, 64, 4096);
			fz->st.mutations[C_DRIBBLE]++;
		}
		memcpy(mc, v, sizeof(v));
		fs_init(&f, type, r->n, c->node, mc, fz->buf, len);
		if (type == CAUSAL_FRAME_DATA && (cl & BIT(C_FIELD)) &&
		    fuzz_chance(g, 5))
			f.flags = CAUSAL_WIRE_F_BROADCAST;	/* valid */
		if (i == fatal_at) {
			enum cls which;

			do {
				which = fuzz_below(g, C_SEQUENCE + 1);
			} while (!(fatal_cls & BIT(which)));
			if (which == C_SEQUENCE) {
				if (fuzz_chance(g, 50)) {
					put_hello(r, c, last, false);
				} else {
					struct fspec bye;

					fs_init(&bye, CAUSAL_FRAME_BYE, r->n,
						c->node, last, NULL, 0);
					st_put(&c->out, &bye);
					c->has_bye = true;
				}
			}
			mutate_fatal(r, c, &f, mc, last, own, which, &stop);
			fz->st.mutations[which]++;
			if (fuzz_chance(g, 50))
				stop = true;
		}
		st_put(&c->out, &f);
		memcpy(last, mc, sizeof(mc));
		c->has_bye |= type == CAUSAL_FRAME_BYE;
		if (type == CAUSAL_FRAME_BYE)
			after_bye = !(cl & BIT(C_SEQUENCE)) || fuzz_chance(g, 50);
		if (stop)
			break;
	}
	if (!after_bye && fatal_at < 0 && fuzz_chance(g, bye_pct)) {
		struct fspec bye;

		fs_init(&bye, CAUSAL_FRAME_BYE, r->n, c->node, last, NULL, 0);
		st_put(&c->out, &bye);
		c->has_bye = true;
	}
	memcpy(c->last_clock, last, sizeof(last));

	if (cl & BIT(C_FLIP))
		flip_bits(r, c);
	st_claims(r, &c->out);
	if ((cl & BIT(C_TRUNCATE)) && c->out.len > 1) {
		/* Mostly late, so that most of the stream is parsed. */
		c->cut = fuzz_chance(g, 70) ?
			fuzz_range(g, c->out.len / 2, c->out.len - 1) :
			fuzz_range(g, 1, c->out.len - 1);
		fz->st.mutations[C_TRUNCATE]++;
	}
}

/* ---- channels ---- */

static bool chan_closed(const struct chan *c)
{
	return c->fd < 0 || __atomic_load_n(&c->closed_by_thread, __ATOMIC_ACQUIRE);
}

static void unwatch(struct round *r, struct chan *c)
{
	if (!c->watched)
		return;
	c->watched = false;
	if (r->epfd >= 0 && !chan_closed(c))
		epoll_ctl(r->epfd, EPOLL_CTL_DEL, c->fd, NULL);
}

static int chan_info(struct chan *c, struct causal_info *info)
{
	socklen_t len = sizeof(*info);

	if (chan_closed(c))
		return -1;
	return getsockopt(c->fd, SOL_CAUSAL, CAUSAL_INFO, info, &len);
}

static void set_timeo(int fd, int opt, long us)
{
	struct timeval tv = { .tv_sec = us / 1000000, .tv_usec = us % 1000000 };

	setsockopt(fd, SOL_SOCKET, opt, &tv, sizeof(tv));
}

static void stall_stop(struct round *r);

/* A call that should have returned at once took @ms: say so once, stop the
 * stalled peer's sender, and restart the clocks of what could not progress
 * meanwhile.
 */
static void __attribute__((format(printf, 3, 4)))
stalled(struct round *r, uint64_t ms, const char *fmt, ...)
{
	char what[256];
	uint64_t now;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	fail(r, F_STALL, "%s took %llu ms%s", what, (unsigned long long)ms,
	     r->stall.running ? " while another socket's send blocks" : "");
	stall_stop(r);
	now = cu_mono_ns();
	for (int i = 0; i < r->nchan; i++)
		r->chan[i]->progress_ns = now;
	r->deadline_ns = umax(r->deadline_ns, now + r->fz->deadline_ns);
	r->stalled_ns = now;
}

/* A module socket joined to the round's endpoint and our end of its TCP
 * connection. Returns NULL (and has said why) if the kernel refused.
 */
static struct chan *chan_open(struct round *r, enum kind kind, uint16_t node)
{
	struct fuzz_rng *g = &r->rng;
	int a, b, family = fuzz_chance(g, 30) ? AF_INET6 : AF_INET;
	uint32_t flags = r->join_flags;
	struct chan *c;
	uint64_t t0, ms;
	int one = 1;

	if (r->nchan == MAX_CHANS)
		return NULL;
	if (cu_tcp_pair(family, false, &a, &b) &&
	    (family == AF_INET || cu_tcp_pair(AF_INET, false, &a, &b))) {
		fail(r, F_ERRNO, "tcp pair: %s", strerror(errno));
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	c->idx = r->nchan;
	c->kind = kind;
	c->node = node;
	c->fd = fuzz_chance(g, 50) ? a : b;
	c->raw = c->fd == a ? b : a;
	c->recv_info = r->hold_ms || fuzz_chance(g, 50);
	c->progress_ns = cu_mono_ns();
	fuzz_rng_init(&c->wr, r->fz->budget.seed ^ r->id, 0x77, r->nchan);
	r->chan[r->nchan++] = c;

	if (causal_attach(c->fd)) {
		fail(r, F_ERRNO, "TCP_ULP: %s", strerror(errno));
		return NULL;
	}
	if (c->recv_info && fuzz_chance(g, 50))
		flags |= CAUSAL_F_RECV_INFO;
	else if (c->recv_info &&
		 setsockopt(c->fd, SOL_CAUSAL, CAUSAL_RECV_INFO, &one, sizeof(one)))
		fail(r, F_ERRNO, "CAUSAL_RECV_INFO: %s", strerror(errno));
	c->recv_batch = fuzz_chance(g, 30);
	if (c->recv_batch &&
	    setsockopt(c->fd, SOL_CAUSAL, CAUSAL_RECV_BATCH, &one, sizeof(one)))
		fail(r, F_ERRNO, "CAUSAL_RECV_BATCH: %s", strerror(errno));
	t0 = cu_mono_ns();
	if (causal_join(c->fd, r->group, r->me, r->n, flags)) {
		fail(r, F_ERRNO, "JOIN: %s", strerror(errno));
		return NULL;
	}
	ms = (cu_mono_ns() - t0) / 1000000;
	if (ms > STALL_MS)
		stalled(r, ms, "JOIN of chan %d", c->idx);
	set_timeo(c->fd, SO_RCVTIMEO, 1000000);
	set_timeo(c->fd, SO_SNDTIMEO, 1000000);
	fcntl(c->raw, F_SETFL, O_NONBLOCK);
	if (fuzz_chance(g, 50))
		setsockopt(c->raw, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->drain = kind != K_CROWD;
	if (c->drain)
		c->in = xrealloc(NULL, RAW_READ + 2 * 65536 + 4096);
	c->watched = kind != K_CROWD;
	if (c->watched && r->epfd >= 0) {
		struct epoll_event ev = {
			.events = EPOLLIN | (r->wait == WAIT_EPOLL_ET ? EPOLLET : 0),
			.data.u32 = c->idx,
		};

		epoll_ctl(r->epfd, EPOLL_CTL_ADD, c->fd, &ev);
	}
	switch (kind) {
	case K_GOOD:
		r->fz->st.chans_good++;
		break;
	case K_HOSTILE:
		r->fz->st.chans_hostile++;
		break;
	case K_CROWD:
		r->fz->st.chans_crowd++;
		break;
	}
	return c;
}

/* How a peer's bytes go out: splits, pauses, and how it ends. */
static void chan_pace(struct round *r, struct chan *c)
{
	struct fuzz_rng *g = &r->rng;
	unsigned int roll = fuzz_below(g, 100);

	c->split = roll < 30 ? SPLIT_WHOLE : roll < 85 || c->out.len > 16384 ?
		   SPLIT_RANDOM : SPLIT_TINY;
	c->delay_pct = fuzz_below(g, c->kind == K_GOOD ? 10 : 25);
	c->delay_max_us = fuzz_range(g, 50, c->kind == K_GOOD ? 500 : 2000);
	if (c->kind != K_HOSTILE)
		return;
	if (c->classes & BIT(C_RESET)) {
		c->end = fuzz_below(g, END_SHUT_RDWR + 1);
		r->fz->st.mutations[C_RESET]++;
		if (!c->cut && fuzz_chance(g, 30) && c->out.len > 1)
			c->cut = fuzz_range(g, 1, c->out.len - 1);
	} else {
		c->end = roll < 50 ? END_KEEP : roll < 80 ? END_CLOSE : END_SHUT_WR;
	}
}

static size_t chan_end_off(const struct chan *c)
{
	return c->cut ? c->cut : c->out.len;
}

static bool chan_pending(const struct chan *c)
{
	return c->raw >= 0 && !c->dead && c->off < chan_end_off(c);
}

static void raw_close(struct chan *c, enum end_action how)
{
	struct linger lin = { .l_onoff = 1, .l_linger = 0 };
	int on = 1;

	if (c->raw < 0)
		return;
	if (how == END_RST)
		setsockopt(c->raw, SOL_SOCKET, SO_LINGER, &lin, sizeof(lin));
	else if (how == END_VANISH)
		setsockopt(c->raw, SOL_TCP, TCP_REPAIR, &on, sizeof(on));
	close(c->raw);
	c->raw = -1;
}

static void gen_hostile(struct round *r, struct chan *c);

/* The node of a hostile peer: a free one, or one it must not take. */
static uint16_t hostile_node(struct round *r, uint64_t cl)
{
	struct fuzz_rng *g = &r->rng;
	uint16_t freeset[MAX_NODES], nfree = 0;
	uint64_t good = 0;

	for (int i = 0; i < r->ngood; i++)
		good |= BIT(r->good[i].node);
	for (int k = 0; k < r->n; k++)
		if (k != r->me && !(good & BIT(k)) && !(r->used & BIT(k)))
			freeset[nfree++] = k;
	if (nfree && !((cl & BIT(C_SEQUENCE)) && fuzz_chance(g, 35))) {
		uint16_t k = freeset[fuzz_below(g, nfree)];

		r->used |= BIT(k);
		return k;
	}
	for (int k = 0; k < r->n && !nfree; k++)
		if (k != r->me && !(good & BIT(k)) && fuzz_chance(g, 50)) {
			r->shared |= BIT(k);
			return k;	/* another hostile peer's */
		}
	r->fz->st.mutations[C_SEQUENCE]++;
	switch (fuzz_below(g, 4)) {
	case 0:
		return r->me;
	case 1:
		return r->n + fuzz_below(g, 3);
	case 2:
		for (int k = 0; k < r->n; k++)
			if (k != r->me && !(r->peers & BIT(k)))
				return k;	/* outside CAUSAL_PEERS */
		/* fall through */
	default:
		return r->good[fuzz_below(g, r->ngood)].node;	/* taken */
	}
}

static struct chan *hostile_open(struct round *r, uint64_t cl, uint16_t node,
				 uint64_t incarnation, const uint64_t *clock,
				 int gen, bool fresh_node)
{
	struct chan *c = chan_open(r, K_HOSTILE, node);

	if (!c)
		return NULL;
	c->clean = fresh_node && !(cl & C_MUTATE) && node < r->n &&
		   (r->peers & BIT(node));
	c->classes = cl;
	c->incarnation = incarnation;
	c->gen = gen;
	c->stalled = cl & BIT(C_STALL);
	if (c->stalled) {
		int small = 2048;

		/* Never reads, and takes little: the module's sends to it
		 * block soon.
		 */
		c->drain = false;
		setsockopt(c->raw, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
		r->fz->st.mutations[C_STALL]++;
	}
	if (clock)
		memcpy(c->last_clock, clock, sizeof(c->last_clock));
	else if (node < r->n && fuzz_chance(&r->rng, 30))
		c->last_clock[node] = fuzz_range(&r->rng, 1, 1ULL << 50);
	gen_hostile(r, c);
	c->clean &= !c->has_bye;
	chan_pace(r, c);
	if (r->fz->verbose > 1) {
		char names[256];
		int off = 0;

		names[0] = 0;
		for (int k = 0; k < C_NR; k++)
			if (cl & BIT(k))
				off += snprintf(names + off, sizeof(names) - off,
						"%s%s", off ? "," : "", cls_names[k]);
		fprintf(stderr, "#   chan %d: hostile node %u gen %d end %d%s classes %s\n",
			c->idx, node, gen, c->end, c->clean ? " clean" : "",
			names);
	}
	return c;
}

/* The peer wrote all it had: end as its class says, maybe come back. */
static void chan_finish(struct round *r, struct chan *c)
{
	struct fuzz_rng *g = &r->rng;
	int outq = 0;

	c->ended = true;
	/* A FIN goes out behind what the raw socket has not sent yet: until
	 * then the module cannot know the connection ended, and a reconnect
	 * is a second channel to the same peer.
	 */
	if (c->raw >= 0 && ioctl(c->raw, SIOCOUTQ, &outq))
		outq = -1;
	if (c->kind == K_GOOD) {
		if (c->shut_after) {
			shutdown(c->raw, SHUT_WR);
			c->shut_after = false;
		}
		return;
	}
	switch (c->end) {
	case END_KEEP:
		break;
	case END_CLOSE:
	case END_RST:
	case END_VANISH:
		raw_close(c, c->end);
		break;
	case END_SHUT_WR:
		shutdown(c->raw, SHUT_WR);
		break;
	case END_SHUT_RDWR:
		shutdown(c->raw, SHUT_RDWR);
		break;
	}
	if ((c->classes & BIT(C_RECONNECT)) && c->gen < MAX_RECONNECT &&
	    r->phase == P_TRAFFIC && fuzz_chance(g, 60)) {
		uint64_t inc = fuzz_chance(g, 80) ? c->incarnation :
						    fuzz_next(g) | 1;
		struct chan *back;

		if (c->end == END_KEEP && fuzz_chance(g, 50)) {
			c->end = END_CLOSE + fuzz_below(g, 3);
			raw_close(c, c->end);
		}
		r->fz->st.reconnects++;
		back = hostile_open(r, c->classes & ~(BIT(C_STALL) | BIT(C_CLOSE)),
				    c->node, inc, c->last_clock, c->gen + 1,
				    c->clean);
		/* Its old connection is gone (or half-closed) without BYE:
		 * the spec lets it continue as the same incarnation, if that
		 * is the one the module knows (a reconnect's is, when it was
		 * owed acceptance itself; another peer claiming the node may
		 * have come first).
		 */
		if (back)
			back->expect_ok = c->clean && inc == c->incarnation &&
					  (!c->gen || c->expect_ok) &&
					  !(r->shared & BIT(c->node)) &&
					  (c->raw < 0 || c->end != END_KEEP) &&
					  (outq == 0 || c->end == END_RST ||
					   c->end == END_VANISH);
	}
}

static void count_frames(struct round *r, struct chan *c)
{
	while (c->frames_done < c->out.nframes &&
	       c->out.ends[c->frames_done] <= c->off) {
		c->frames_done++;
		if (c->kind == K_GOOD)
			r->fz->st.frames_good++;
		else
			r->fz->st.frames_hostile++;
	}
}

static void chan_write(struct round *r, struct chan *c, uint64_t now)
{
	size_t end = chan_end_off(c), n = end - c->off;
	ssize_t ret;

	if (c->off >= c->dribble_from && c->off < c->dribble_to)
		n = umin(n, fuzz_range(&c->wr, 1, 2));
	else if (c->split == SPLIT_RANDOM)
		n = umin(n, fuzz_size(&c->wr, 1, 65536));
	else if (c->split == SPLIT_TINY)
		n = umin(n, fuzz_range(&c->wr, 1, 7));
	ret = send(c->raw, c->out.buf + c->off, n, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (ret < 0) {
		if (errno == EAGAIN) {
			c->blocked = true;
			return;
		}
		/* The module side is gone (closed under the reader, RST). */
		c->dead = true;
		if (c->kind == K_GOOD)
			fail(r, F_ERRNO, "well-behaved peer %u: write: %s",
			     c->node, strerror(errno));
		return;
	}
	c->off += ret;
	c->progress_ns = now;
	r->fz->st.bytes += ret;
	count_frames(r, c);
	if (fuzz_chance(&c->wr, c->delay_pct) ||
	    (c->off >= c->dribble_from && c->off < c->dribble_to &&
	     fuzz_chance(&c->wr, 30)))
		c->next_ns = now + fuzz_range(&c->wr, 20, c->delay_max_us) * 1000;
	if (c->off == end && !c->ended)
		chan_finish(r, c);
}

/* ---- what the module writes to the peers ---- */

/* The next application message channel @c must carry from index @from. */
static int next_expected(struct round *r, struct chan *c, int from)
{
	for (int i = from; i < r->nmsgs; i++)
		if (r->msgs[i].target == c->idx || r->msgs[i].target < 0)
			return i;
	return -1;
}

static const char *frame_name(uint8_t type)
{
	static const char *const names[] = { "?", "HELLO", "DATA", "CLOCK", "BYE" };

	return type <= CAUSAL_FRAME_BYE ? names[type] : "?";
}

static void module_data(struct round *r, struct chan *c,
			const struct causal_frame *f, const uint64_t *v,
			const uint8_t *payload)
{
	struct app_msg *m;
	struct pay_hdr h;
	int want;

	if (!pay_header(payload, f->len, r->tag, PAY_APP, &h) ||
	    h.seq >= (uint32_t)r->nmsgs) {
		fail(r, F_TX, "chan %d: DATA (%u bytes) that the application did not send",
		     c->idx, f->len);
		return;
	}
	m = &r->msgs[h.seq];
	if (h.len != f->len || m->len != f->len ||
	    !pay_check(r->fz, payload, f->len, r->tag, PAY_APP, r->me, h.seq,
		       m->len))
		fail(r, F_TX, "chan %d: application message %u: %u bytes on the wire, payload %s",
		     c->idx, h.seq, f->len, h.len == f->len ? "differs" : "cut");
	if (m->target >= 0 && m->target != c->idx)
		fail(r, F_TX, "chan %d: carries message %u sent on chan %d",
		     c->idx, h.seq, m->target);
	if (!!(f->flags & CAUSAL_WIRE_F_BROADCAST) != (m->target < 0))
		fail(r, F_TX, "chan %d (%s): %s %u %s BROADCAST", c->idx,
		     c->kind == K_GOOD ? "well-behaved" : "hostile",
		     m->target < 0 ? "broadcast" : "unicast", h.seq,
		     m->target < 0 ? "without" : "flagged");
	if (m->stamp && m->stamp != v[r->me])
		fail(r, F_TX, "message %u stamped %llu on chan %d, %llu elsewhere",
		     h.seq, (unsigned long long)v[r->me], c->idx,
		     (unsigned long long)m->stamp);
	m->stamp = v[r->me];
	if ((int)h.seq < c->app_next) {
		fail(r, F_TX, "chan %d: message %u again or out of order (next %d)",
		     c->idx, h.seq, c->app_next);
		return;
	}
	/* A well-behaved channel is active throughout: it gets every
	 * broadcast. A hostile one may have failed in between.
	 */
	want = next_expected(r, c, c->app_next);
	if (c->kind == K_GOOD && want != (int)h.seq)
		fail(r, F_TX, "well-behaved chan %d: message %u arrived, %d was due (%s)",
		     c->idx, h.seq, want,
		     want >= 0 && r->msgs[want].target < 0 ? "a broadcast" : "a unicast");
	c->app_next = h.seq + 1;
}

static void module_frame(struct round *r, struct chan *c,
			 const struct causal_frame *f, const uint64_t *v,
			 const uint8_t *payload)
{
	uint16_t me = r->me;

	r->fz->st.module_frames++;
	if (c->in_bye) {
		fail(r, F_BYE, "chan %d (%s peer %u): %s after BYE", c->idx,
		     c->kind == K_GOOD ? "well-behaved" : "hostile", c->node,
		     frame_name(f->type));
		return;
	}
	if (f->nodes != r->n || f->sender != me) {
		fail(r, F_TX, "chan %d: frame nodes=%u sender=%u", c->idx,
		     f->nodes, f->sender);
		return;
	}
	if (!c->in_frames++ != (f->type == CAUSAL_FRAME_HELLO)) {
		fail(r, F_TX, "chan %d: %s as frame %d", c->idx,
		     frame_name(f->type), c->in_frames);
		return;
	}
	for (int k = 0; k < r->n; k++) {
		if (v[k] < c->in_last[k])
			fail(r, F_TX, "chan %d: %s clock[%d] %llu after %llu",
			     c->idx, frame_name(f->type), k,
			     (unsigned long long)v[k],
			     (unsigned long long)c->in_last[k]);
		if (k != me && v[k] > trust_bound(r, k))
			fail(r, F_TRUST, "the endpoint tells node %u that node %d sent %llu; no frame %s more than %llu",
			     c->node, k, (unsigned long long)v[k],
			     trust_whose(r, k),
			     (unsigned long long)trust_bound(r, k));
	}
	switch (f->type) {
	case CAUSAL_FRAME_HELLO: {
		struct causal_hello h;

		if (causal_wire_get_hello(payload, &h) || h.group != r->group ||
		    (h.flags & ~CAUSAL_WIRE_HELLO_F_DELTA) !=
		    (r->join_flags & (CAUSAL_F_BROADCAST |
				      CAUSAL_F_MERGED_RECV)) ||
		    (r->ep_incarnation && h.incarnation != r->ep_incarnation))
			fail(r, F_TX, "chan %d: HELLO group %u flags %#x incarnation %#llx",
			     c->idx, h.group, h.flags,
			     (unsigned long long)h.incarnation);
		r->ep_incarnation = h.incarnation;
		break;
	}
	case CAUSAL_FRAME_DATA:
		if (v[me] <= c->in_last[me] && c->in_any)
			fail(r, F_TX, "chan %d: DATA stamp %llu is no new send (after %llu)",
			     c->idx, (unsigned long long)v[me],
			     (unsigned long long)c->in_last[me]);
		module_data(r, c, f, v, payload);
		break;
	case CAUSAL_FRAME_BYE:
		c->in_bye = true;
		break;
	}
	c->in_any = true;
	memcpy(c->in_last, v, r->n * sizeof(*v));
}

static void raw_parse(struct round *r, struct chan *c)
{
	size_t off = 0;

	while (!c->in_bad && c->in_len - off >= CAUSAL_WIRE_HDR_LEN &&
	       c->in_len - off >= causal_wire_hdr_len(c->in + off)) {
		uint64_t v[MAX_NODES];
		struct causal_frame f;
		enum causal_proto_err err;
		size_t size;

		err = causal_wire_get_hdr(c->in + off, &f, r->fz->max_msg);
		if (err) {
			fail(r, F_TX, "chan %d: the module wrote a bad header (%s)",
			     c->idx, causal_proto_err_name(err));
			c->in_bad = true;
			break;
		}
		size = causal_frame_len(&f);
		if (c->in_len - off < size)
			break;
		if (causal_frame_delta(&f)) {
			/* Only to a peer that asked, and never first. */
			if ((c->kind == K_GOOD && !c->delta_offered) || !c->in_any)
				fail(r, F_TX, "chan %d: a version 2 %s, %s",
				     c->idx, frame_name(f.type),
				     c->in_any ? "not offered" : "first");
			memcpy(v, c->in_last, sizeof(v));
			causal_wire_get_entries(c->in + off + CAUSAL_WIRE_HDR_MAX,
						(u64 *)v, f.present);
			r->fz->st.module_delta_frames++;
		} else {
			clock_get(c->in + off + CAUSAL_WIRE_HDR_LEN, v, f.nodes);
		}
		module_frame(r, c, &f, v, c->in + off + causal_frame_head_len(&f));
		off += size;
	}
	if (c->in_bad)
		off = c->in_len;
	memmove(c->in, c->in + off, c->in_len - off);
	c->in_len -= off;
}

static void raw_drain(struct round *r, struct chan *c)
{
	for (int i = 0; i < 16 && c->raw >= 0 && !c->in_eof; i++) {
		ssize_t n = recv(c->raw, c->in + c->in_len, RAW_READ, MSG_DONTWAIT);

		if (n < 0) {
			if (errno != EAGAIN)
				c->in_eof = true;	/* reset */
			return;
		}
		if (!n) {
			c->in_eof = true;
			if (c->in_len && !c->in_bad)
				fail(r, F_TX, "chan %d: EOF after %zu bytes of a frame",
				     c->idx, c->in_len);
			return;
		}
		c->in_len += n;
		raw_parse(r, c);
		if (n < RAW_READ)
			return;
	}
}

/* ---- the application: reading ---- */

struct recv_info {
	struct causal_msg_info info;
	uint64_t vclock[MAX_NODES];
};

#define CMSG_FULL	CMSG_SPACE(sizeof(struct recv_info))

/* How many of @g's messages to the endpoint are stamped <= @s. */
static int count_upto(const struct good *g, uint64_t s)
{
	int lo = 0, hi = g->nmsgs;

	while (lo < hi) {
		int mid = (lo + hi) / 2;

		if (g->stamps[mid] <= s)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static struct good *good_of(struct round *r, uint16_t node)
{
	for (int i = 0; i < r->ngood; i++)
		if (r->good[i].node == node)
			return &r->good[i];
	return NULL;
}

/* Message @seq of @g is being handed out: its well-behaved causes must be
 * out already, except those a gap of a well-behaved message let go.
 */
static void hb_check(struct round *r, const struct good *g, int seq)
{
	const uint64_t *v = &g->clocks[seq * r->n];

	for (int i = 0; i < r->ngood; i++) {
		const struct good *h = &r->good[i];
		int need;

		if (h == g)
			continue;
		need = count_upto(h, v[h->node]);
		if (need > h->delivered &&
		    need > count_upto(h, r->floor[h->node]))
			fail(r, F_HB, "node %u's message %d (stamp %llu) delivered while node %u's message %d (stamp %llu), a cause, was not%s",
			     g->node, seq, (unsigned long long)g->stamps[seq],
			     h->node, h->delivered,
			     (unsigned long long)h->stamps[h->delivered],
			     v[h->node] <= r->hfloor[h->node] ?
			     " (a hostile message released by the hold timeout claimed that many of it)" : "");
	}
}

static void got_good(struct round *r, struct good *g, const uint8_t *buf,
		     size_t copied, ssize_t ret, size_t bufl, int flags,
		     int msg_flags, const struct recv_info *ri, bool rec)
{
	int seq = g->delivered;
	bool gap = ri && (ri->info.flags & CAUSAL_MSG_GAP);
	struct pay_hdr h;
	uint32_t len;

	if (seq >= g->nmsgs) {
		fail(r, F_FIFO, "node %u: a message after its last (%d)", g->node,
		     g->nmsgs);
		return;
	}
	len = g->lens[seq];
	if (copied >= PAY_MIN && pay_header(buf, copied, r->tag, PAY_GOOD, &h) &&
	    h.seq != (uint32_t)seq) {
		fail(r, F_FIFO, "node %u: message %u delivered, %d was next (%s)",
		     g->node, h.seq, seq, h.seq < (uint32_t)seq ? "again" : "lost one");
		return;
	}
	if (!pay_check(r->fz, buf, copied, r->tag, PAY_GOOD, g->node, seq, len))
		fail(r, F_FIFO, "node %u message %d: payload differs", g->node, seq);
	if (ret != (ssize_t)((flags & MSG_TRUNC) ? len : umin(bufl, len)))
		fail(r, F_FIFO, "node %u message %d (%u bytes): read into %zu bytes%s returned %zd",
		     g->node, seq, len, bufl, flags & MSG_TRUNC ? " with MSG_TRUNC" : "",
		     ret);
	if (msg_flags >= 0 && !!(msg_flags & MSG_TRUNC) != (bufl < len))
		fail(r, F_FIFO, "node %u message %d (%u bytes) into %zu: msg_flags %#x",
		     g->node, seq, len, bufl, msg_flags);
	if (ri && (ri->info.sender != g->node || ri->info.nodes != r->n ||
		   ri->info.stamp != g->stamps[seq] ||
		   (!rec && memcmp(ri->vclock, &g->clocks[seq * r->n], r->n * 8))))
		fail(r, F_INFO, "node %u message %d: cmsg sender %u nodes %u stamp %llu, want stamp %llu",
		     g->node, seq, ri->info.sender, ri->info.nodes,
		     (unsigned long long)ri->info.stamp,
		     (unsigned long long)g->stamps[seq]);
	if (gap && !r->hold_ms)
		fail(r, F_HB, "node %u message %d: flagged a gap without a hold timeout",
		     g->node, seq);
	if (!gap)
		hb_check(r, g, seq);
	if (flags & MSG_PEEK)
		return;
	g->delivered++;
	r->fz->st.good_delivered++;
	if (gap) {
		const uint64_t *v = &g->clocks[seq * r->n];

		r->fz->st.gaps++;
		for (int k = 0; k < r->n; k++)
			if (k != g->node)
				r->floor[k] = umax(r->floor[k], v[k]);
	}
}

/* One message came back from a read on @c. @ri: what the read said of it,
 * its cmsg or, with @rec, its batch record (sender, stamp and flags only).
 */
static void got_msg(struct round *r, struct chan *c, const uint8_t *buf,
		    ssize_t ret, size_t bufl, int flags, int msg_flags,
		    const struct recv_info *ri, bool rec)
{
	size_t copied = (flags & MSG_TRUNC) ? umin(ret, bufl) : (size_t)ret;
	struct good *g = NULL;
	struct pay_hdr h;
	bool looks_good;

	looks_good = pay_header(buf, copied, r->tag, PAY_GOOD, &h) &&
		     good_of(r, h.node);
	if (r->fz->verbose > 1)
		fprintf(stderr, "#   read chan %d flags %#x into %zu: %zd msg_flags %#x cmsg %s sender %d stamp %llu index %llu; payload %s node %u seq %u\n",
			c->idx, flags, bufl, ret, msg_flags, ri ? "yes" : "no",
			ri ? ri->info.sender : -1,
			ri ? (unsigned long long)ri->info.stamp : 0ULL,
			ri ? (unsigned long long)ri->info.index : 0ULL,
			looks_good ? "good" : "other", looks_good ? h.node : 0,
			looks_good ? h.seq : 0);
	if (ri)
		g = good_of(r, ri->info.sender);
	else if (!r->merged)
		g = c->good;
	else if (looks_good)
		g = good_of(r, h.node);
	if (ri && (ri->info.nodes != r->n || ri->info.sender >= r->n ||
		   ri->info.sender == r->me))
		fail(r, F_INFO, "cmsg sender %u nodes %u", ri->info.sender,
		     ri->info.nodes);
	if (ri && !rec && !(flags & MSG_PEEK)) {
		if (ri->info.index <= r->last_index &&
		    !(ri->info.index == 0 && r->closer.running))
			fail(r, F_INFO, "delivery index %llu after %llu",
			     (unsigned long long)ri->info.index,
			     (unsigned long long)r->last_index);
		r->last_index = umax(r->last_index, ri->info.index);
	}
	if (ri && !r->merged && ri->info.sender != c->node)
		fail(r, F_INFO, "chan %d (node %u): message of node %u", c->idx,
		     c->node, ri->info.sender);
	if (looks_good && (!g || g->node != h.node)) {
		fail(r, F_FIFO, "a message of well-behaved node %u read as node %d's",
		     h.node, g ? g->node : -1);
		return;
	}
	if (g) {
		got_good(r, g, buf, copied, ret, bufl, flags, msg_flags, ri, rec);
		return;
	}
	if (flags & MSG_PEEK)
		return;
	r->fz->st.hostile_delivered++;
	if (ri && (ri->info.flags & CAUSAL_MSG_GAP)) {
		r->fz->st.gaps++;
		for (int k = 0; k < r->n && ri->info.nodes == r->n && !rec; k++)
			r->hfloor[k] = umax(r->hfloor[k], ri->vclock[k]);
	}
}

/* What a read of @ret bytes into @bufl handed out: one message or, with
 * CAUSAL_RECV_BATCH, records, each checked for layout and handed to
 * got_msg() with what its record says of it. @ri, the read's cmsg,
 * describes its first message.
 */
static void got_read(struct round *r, struct chan *c, const uint8_t *buf,
		     ssize_t ret, size_t bufl, int flags, int msg_flags,
		     const struct recv_info *ri, bool batch)
{
	const size_t hdr = sizeof(struct causal_rec);
	size_t avail = (flags & MSG_TRUNC) ? umin(ret, bufl) : (size_t)ret;
	bool cut = msg_flags >= 0 && (msg_flags & MSG_TRUNC);
	size_t off = 0;
	int n = 0;

	if (!batch) {
		got_msg(r, c, buf, ret, bufl, flags, msg_flags, ri, false);
		return;
	}
	for (;;) {
		struct recv_info rinfo = {};
		const struct recv_info *mine = &rinfo;
		struct causal_rec rec;
		size_t end;

		if (off + hdr > avail) {
			fail(r, F_INFO, "chan %d: batched read of %zd into %zu: record %d at %zu cut in its header",
			     c->idx, ret, bufl, n, off);
			return;
		}
		memcpy(&rec, buf + off, hdr);
		rinfo.info.sender = rec.sender;
		rinfo.info.nodes = r->n;
		rinfo.info.flags = rec.flags;
		rinfo.info.stamp = rec.stamp;
		if (!n && ri) {
			if (ri->info.sender != rec.sender ||
			    ri->info.stamp != rec.stamp ||
			    ri->info.flags != rec.flags)
				fail(r, F_INFO, "chan %d: first record sender %u stamp %llu flags %#x, cmsg sender %u stamp %llu flags %#x",
				     c->idx, rec.sender,
				     (unsigned long long)rec.stamp, rec.flags,
				     ri->info.sender,
				     (unsigned long long)ri->info.stamp,
				     ri->info.flags);
			mine = ri;
		}
		end = off + hdr + rec.len;
		if (end > avail) {
			/* Only a lone first message is ever cut short. */
			if (n || (msg_flags >= 0 && !cut))
				fail(r, F_INFO, "chan %d: batched read of %zd into %zu: record %d (%u bytes) at %zu cut short, msg_flags %#x",
				     c->idx, ret, bufl, n, rec.len, off, msg_flags);
			else
				got_msg(r, c, buf + hdr,
					(flags & MSG_TRUNC) ? ret - hdr : avail - hdr,
					bufl - hdr, flags, msg_flags, mine,
					mine == &rinfo);
			return;
		}
		got_msg(r, c, buf + off + hdr, rec.len, rec.len, flags,
			msg_flags >= 0 ? 0 : -1, mine, mine == &rinfo);
		n++;
		if (end == avail)
			break;
		off = (end + CAUSAL_REC_ALIGN - 1) & ~(size_t)(CAUSAL_REC_ALIGN - 1);
		for (size_t i = end; i < off && i < avail; i++)
			if (buf[i]) {
				fail(r, F_INFO, "chan %d: batched read: padding byte %zu is %#x",
				     c->idx, i, buf[i]);
				return;
			}
	}
	if (cut)
		fail(r, F_INFO, "chan %d: batched read of %d whole records, MSG_TRUNC",
		     c->idx, n);
	if (n > 1 && (flags & MSG_PEEK))
		fail(r, F_INFO, "chan %d: MSG_PEEK read %d records", c->idx, n);
	if (n > 1) {
		r->fz->st.batch_reads++;
		r->fz->st.batch_msgs += n;
	}
}

static bool errno_hostile_ok(int err)
{
	/* EPIPE: TCP's for a reset in CLOSE_WAIT. */
	return err == EPROTO || err == EPERM || err == EEXIST ||
	       err == ECONNRESET || err == EPIPE;
}

/* A read on @c failed with @err for good. */
static void read_failed(struct round *r, struct chan *c, int err)
{
	struct causal_info info;

	fuzz_errno_add(&r->fz->st.recv_err, err);
	if (c->kind == K_GOOD)
		fail(r, F_ERRNO, "well-behaved chan %d (node %u): recv: %s",
		     c->idx, c->node, strerror(err));
	else if (c->expect_ok && err != ECONNRESET && err != EPIPE)
		fail(r, F_ERRNO, "node %u reconnected as the same incarnation after its connection broke without BYE (valid frames only): %s (%s, gen %d)",
		     c->node, strerrorname_np(err),
		     chan_info(c, &info) ? "?" :
		     causal_proto_err_name(info.last_error), c->gen);
	else if (!errno_hostile_ok(err))
		fail(r, F_ERRNO, "hostile chan %d (node %u): recv: %s", c->idx,
		     c->node, strerror(err));
	else if (err != ECONNRESET && err != EPIPE && !chan_info(c, &info) &&
		 (info.state != CAUSAL_CH_FAILED || !info.proto_errors))
		fail(r, F_INFO, "chan %d failed with %s: state %u proto_errors %llu",
		     c->idx, strerrorname_np(err), info.state,
		     (unsigned long long)info.proto_errors);
	unwatch(r, c);
}

/* A read returned 0 without a cmsg: EOF, or a zero-length message (only a
 * hostile peer sends those). The channel's state tells them apart.
 */
static void got_zero(struct round *r, struct chan *c, bool surely_eof)
{
	struct causal_info info;

	if (!surely_eof && (r->merged || c->kind != K_GOOD) &&
	    !chan_info(c, &info) &&
	    (info.state == CAUSAL_CH_ACTIVE || info.state == CAUSAL_CH_JOINED)) {
		r->fz->st.zero_reads++;
		return;
	}
	c->eof = true;
	r->fz->st.eofs++;
	if (c->kind == K_GOOD && !c->in_bye && r->phase < P_BYE)
		fail(r, F_EOF, "well-behaved chan %d (node %u): EOF before its BYE",
		     c->idx, c->node);
	unwatch(r, c);
}

static const struct recv_info *find_info(struct msghdr *msg)
{
	struct cmsghdr *cm;

	for (cm = CMSG_FIRSTHDR(msg); cm; cm = CMSG_NXTHDR(msg, cm))
		if (cm->cmsg_level == SOL_CAUSAL && cm->cmsg_type == CAUSAL_CMSG_INFO)
			return (const void *)CMSG_DATA(cm);
	return NULL;
}

enum read_result { R_AGAIN, R_MSG, R_PEEK, R_END };

/* Has a gap let a message pass a cause in this round? The application sees
 * the flag only where it asked for CAUSAL_RECV_INFO; the endpoint (@c's)
 * counts every one.
 */
static bool round_had_gap(const struct round *r, struct chan *c)
{
	struct causal_info info;

	for (int k = 0; k < r->n; k++)
		if (r->floor[k] || r->hfloor[k])
			return true;
	return !chan_info(c, &info) && info.ep_gaps;
}

/* One read on @c with random flags, buffer and call. @ready: the socket
 * was just reported readable and nothing read it since.
 */
static enum read_result app_read(struct round *r, struct chan *c, bool ready,
				 bool no_peek)
{
	struct fuzz *fz = r->fz;
	struct fuzz_rng *g = &r->app;
	bool need_info = r->hold_ms > 0;
	unsigned int op = fuzz_below(g, 100);
	bool may_block = ready && !r->closer.running &&
			 (!r->merged || !r->reads_this_iter);
	int flags = 0, msg_flags = -1;
	char control[CMSG_FULL];
	const struct recv_info *ri = NULL;
	size_t bufl = fz->max_msg + 64, ctl = sizeof(control);
	struct iovec iov;
	struct msghdr msg = {};
	bool batch = c->recv_batch;
	ssize_t ret;
	int err;

	if (chan_closed(c)) {
		unwatch(r, c);
		return R_END;
	}
	if (!may_block || fuzz_chance(g, 60))
		flags |= MSG_DONTWAIT;
	if (!no_peek && fuzz_chance(g, 10))
		flags |= MSG_PEEK;
	if (fuzz_chance(g, 10))
		flags |= MSG_TRUNC;
	/* A read into no room at all would consume a message as a 0; with
	 * merged receive the payload must say whose message it is.
	 */
	if (fuzz_chance(g, 15))
		bufl = (batch ? sizeof(struct causal_rec) : 0) +
		       fuzz_size(g, r->merged ? PAY_MIN : 1, 300);
	if (!need_info && fuzz_chance(g, 5))
		ctl = CMSG_SPACE(8);	/* too short: MSG_CTRUNC */
	r->reads_this_iter++;

	if (op < 8 && !need_info && !flags) {
		ret = read(c->fd, fz->buf, bufl);
	} else if (op < 20 && !need_info) {
		ret = recv(c->fd, fz->buf, bufl, flags);
	} else if (op < 27) {
		struct mmsghdr mm[MMSG_VLEN] = {};
		struct iovec iovs[MMSG_VLEN];
		char ctls[MMSG_VLEN][CMSG_FULL];
		int vlen = fuzz_range(g, 1, MMSG_VLEN);
		size_t mbufl = umin(bufl, MMSG_BUF);

		for (int i = 0; i < vlen; i++) {
			iovs[i].iov_base = fz->mmsg + i * MMSG_BUF;
			iovs[i].iov_len = mbufl;
			mm[i].msg_hdr.msg_iov = &iovs[i];
			mm[i].msg_hdr.msg_iovlen = 1;
			mm[i].msg_hdr.msg_control = ctls[i];
			mm[i].msg_hdr.msg_controllen = sizeof(ctls[i]);
		}
		flags |= MSG_DONTWAIT;
		ret = recvmmsg(c->fd, mm, vlen, flags, NULL);
		if (ret <= 0)
			goto check;
		for (int i = 0; i < ret; i++) {
			ri = c->recv_info ? find_info(&mm[i].msg_hdr) : NULL;
			/* EOF can only end a batch; a 0 before is a message. */
			if (!mm[i].msg_len && !ri && !batch && i + 1 < ret) {
				fz->st.zero_reads++;
				continue;
			}
			if (!mm[i].msg_len && !ri) {
				got_zero(r, c, c->recv_info || batch);
				return c->eof ? R_END : R_MSG;
			}
			if (c->recv_info && !ri)
				fail(r, F_INFO, "chan %d: CAUSAL_RECV_INFO on, no cmsg",
				     c->idx);
			if (mm[i].msg_hdr.msg_flags & MSG_TRUNC)
				fz->st.truncated++;
			got_read(r, c, iovs[i].iov_base, mm[i].msg_len, mbufl,
				 flags, mm[i].msg_hdr.msg_flags, ri, batch);
			if (flags & MSG_PEEK)
				fz->st.peeks++;
		}
		return flags & MSG_PEEK ? R_PEEK : R_MSG;
	} else {
		iov = (struct iovec){ .iov_base = fz->buf, .iov_len = bufl };
		msg.msg_iov = &iov;
		msg.msg_iovlen = 1;
		msg.msg_control = control;
		msg.msg_controllen = ctl;
		ret = recvmsg(c->fd, &msg, flags);
		if (ret >= 0) {
			msg_flags = msg.msg_flags;
			if (c->recv_info && ctl == sizeof(control))
				ri = find_info(&msg);
		}
	}
check:
	if (ret < 0) {
		err = errno;
		if (err == EAGAIN) {
			/* One reader: what poll promised is still there,
			 * unless (merged) a read on another socket took it,
			 * a cause that a gap let it pass arrived since
			 * (docs/design.md: readiness can go back), or the
			 * stalled peer's sender thread took the connection's
			 * error (TCP's sendmsg reports it once, to whoever
			 * calls first).
			 */
			if (ready && !r->closer.running && !c->stalled &&
			    !round_had_gap(r, c) &&
			    (!r->merged || r->reads_this_iter == 1))
				fail(r, F_POLL, "chan %d (%s) reported readable, %s read: EAGAIN",
				     c->idx, c->kind == K_GOOD ? "well-behaved" : "hostile",
				     flags & MSG_DONTWAIT ? "MSG_DONTWAIT" : "blocking");
			return R_AGAIN;
		}
		if ((err == ENOTSOCK || err == EBADF) && chan_closed(c)) {
			unwatch(r, c);
			return R_END;
		}
		read_failed(r, c, err);
		return R_END;
	}
	if (!ret && !ri) {
		bool surely = batch || (c->recv_info && ctl == sizeof(control) &&
					msg.msg_iov);

		got_zero(r, c, surely);
		return c->eof ? R_END : R_MSG;
	}
	if (c->recv_info && ctl == sizeof(control) && msg.msg_iov && !ri)
		fail(r, F_INFO, "chan %d: CAUSAL_RECV_INFO on, no cmsg", c->idx);
	if (msg_flags >= 0 && (msg_flags & MSG_TRUNC))
		fz->st.truncated++;
	if (flags & MSG_PEEK)
		fz->st.peeks++;
	got_read(r, c, fz->buf, ret, bufl, flags, msg_flags, ri, batch);
	return flags & MSG_PEEK ? R_PEEK : R_MSG;
}

/* ---- the application: sending, options, threads ---- */

static struct chan *pick_chan(struct round *r, bool good)
{
	struct chan *cands[MAX_CHANS];
	int n = 0;

	for (int i = 0; i < r->nchan; i++) {
		struct chan *c = r->chan[i];

		if (chan_closed(c) || c->kind == K_CROWD || c->stalled ||
		    (good && c->kind != K_GOOD))
			continue;
		cands[n++] = c;
	}
	return n ? cands[fuzz_below(&r->app, n)] : NULL;
}

static void stall_stop(struct round *r)
{
	if (!r->stall.running)
		return;
	__atomic_store_n(&r->stall.stop, 1, __ATOMIC_RELEASE);
	/* Its send may wait out its own timeout: not a stall of ours. */
	pthread_join(r->stall.thread, NULL);
	r->stall.running = false;
	r->fz->st.stall_sent += r->stall.sent;
	r->stalled_ns = cu_mono_ns();
}

static bool errno_send_ok(const struct chan *c, int err)
{
	if (err == EAGAIN)
		return true;
	if (c->kind == K_GOOD)
		return false;
	return err == EPIPE || err == ECONNRESET || err == EPROTO ||
	       err == EPERM || err == EEXIST ||
	       ((err == ENOTSOCK || err == EBADF) && chan_closed(c));
}

/* One message from the endpoint: on @on (or a random channel), unicast or
 * broadcast, MSG_DONTWAIT or blocking with SO_SNDTIMEO.
 */
static void app_send(struct round *r, struct chan *on, bool may_bcast)
{
	struct fuzz *fz = r->fz;
	struct fuzz_rng *g = &r->app;
	struct chan *c = on ? on : pick_chan(r, fuzz_chance(g, 60));
	bool bcast = may_bcast && fuzz_chance(g, 25);
	char cbuf[CMSG_SPACE(0)] = {};
	struct iovec iov;
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	uint64_t t0, ms;
	uint32_t len;
	ssize_t ret;
	int flags = MSG_NOSIGNAL;

	if (!c || r->nmsgs == MAX_APP_MSGS)
		return;
	len = fuzz_chance(g, 90) ? fuzz_size(g, PAY_MIN, 600) :
				   fuzz_size(g, PAY_MIN, 65536);
	pay_make(fz->mmsg, r->tag, PAY_APP, r->me, r->nmsgs, len);
	iov = (struct iovec){ .iov_base = fz->mmsg, .iov_len = len };
	if (bcast) {
		struct cmsghdr *cm;

		msg.msg_control = cbuf;
		msg.msg_controllen = sizeof(cbuf);
		cm = CMSG_FIRSTHDR(&msg);
		cm->cmsg_level = SOL_CAUSAL;
		cm->cmsg_type = CAUSAL_CMSG_BROADCAST;
		cm->cmsg_len = CMSG_LEN(0);
	}
	/* A blocking send only to a peer that reads. */
	if (bcast || c->kind != K_GOOD || fuzz_chance(g, 60))
		flags |= MSG_DONTWAIT;
	/* Corked: it leaves with the next send, or on TCP's timer. */
	if (fuzz_chance(g, 15))
		flags |= MSG_MORE;
	t0 = cu_mono_ns();
	ret = sendmsg(c->fd, &msg, flags);
	ms = (cu_mono_ns() - t0) / 1000000;
	r->sends_tried++;
	if (ret == (ssize_t)len) {
		bool all = bcast || (r->join_flags & CAUSAL_F_BROADCAST);

		r->msgs[r->nmsgs++] = (struct app_msg){
			.len = len, .target = all ? -1 : c->idx,
		};
		fz->st.app_sent++;
	} else {
		int err = ret < 0 ? errno : EMSGSIZE;

		fz->st.app_failed++;
		fuzz_errno_add(&fz->st.send_err, err);
		if (ret >= 0)
			fail(r, F_TX, "send of %u bytes returned %zd", len, ret);
		else if (!errno_send_ok(c, err))
			fail(r, F_ERRNO, "%s chan %d (node %u): %s send: %s",
			     c->kind == K_GOOD ? "well-behaved" : "hostile",
			     c->idx, c->node, bcast ? "broadcast" : "unicast",
			     strerror(err));
	}
	if (ms > (flags & MSG_DONTWAIT ? STALL_MS : STALL_MS + 1000))
		stalled(r, ms, "%s %s on chan %d (%s)",
			flags & MSG_DONTWAIT ? "MSG_DONTWAIT" : "blocking",
			bcast ? "broadcast" : "unicast", c->idx,
			c->kind == K_GOOD ? "well-behaved" : "hostile");
}

static void check_vclock(struct round *r, struct chan *c, uint64_t sent)
{
	uint64_t v[MAX_NODES];
	socklen_t len = sizeof(v);

	if (chan_closed(c) ||
	    getsockopt(c->fd, SOL_CAUSAL, CAUSAL_VCLOCK, v, &len))
		return;
	for (int k = 0; k < r->n; k++)
		if (k != r->me && v[k] > trust_bound(r, k))
			fail(r, F_TRUST, "CAUSAL_VCLOCK[%d] = %llu; no frame %s more than %llu",
			     k, (unsigned long long)v[k], trust_whose(r, k),
			     (unsigned long long)trust_bound(r, k));
	if (sent != UINT64_MAX && v[r->me] != sent)
		fail(r, F_INFO, "CAUSAL_VCLOCK[me] = %llu after %llu send events",
		     (unsigned long long)v[r->me], (unsigned long long)sent);
}

/* Options, counters and /proc while traffic flows. */
static void app_option(struct round *r)
{
	struct fuzz_rng *g = &r->app;
	struct chan *c = pick_chan(r, false);
	struct causal_info info;
	char line[512];
	uint64_t peers;
	socklen_t len;
	uint32_t ms;
	FILE *f;
	int on;

	if (!c)
		return;
	switch (fuzz_below(g, 8)) {
	case 0:
		if (chan_info(c, &info))
			break;
		if (info.group != r->group || info.node != r->me ||
		    info.nodes != r->n)
			fail(r, F_INFO, "chan %d: CAUSAL_INFO group %u node %u nodes %u",
			     c->idx, info.group, info.node, info.nodes);
		if (c->kind == K_GOOD && r->phase == P_TRAFFIC &&
		    (info.peer != c->node || info.state != CAUSAL_CH_ACTIVE ||
		     info.proto_errors))
			fail(r, F_INFO, "well-behaved chan %d: peer %u state %u proto_errors %llu",
			     c->idx, info.peer, info.state,
			     (unsigned long long)info.proto_errors);
		break;
	case 1:
		check_vclock(r, c, UINT64_MAX);
		break;
	case 2:
		if (r->hold_ms)
			break;	/* gaps must be seen */
		on = !c->recv_info;
		if (!setsockopt(c->fd, SOL_CAUSAL, CAUSAL_RECV_INFO, &on, sizeof(on)))
			c->recv_info = on;
		else if (!chan_closed(c))
			fail(r, F_ERRNO, "CAUSAL_RECV_INFO: %s", strerror(errno));
		break;
	case 3:
		peers = r->peers;
		if (setsockopt(c->fd, SOL_CAUSAL, CAUSAL_PEERS, &peers, sizeof(peers)) &&
		    !chan_closed(c))
			fail(r, F_ERRNO, "CAUSAL_PEERS: %s", strerror(errno));
		len = sizeof(peers);
		if (!getsockopt(c->fd, SOL_CAUSAL, CAUSAL_PEERS, &peers, &len) &&
		    peers != r->peers)
			fail(r, F_INFO, "CAUSAL_PEERS %#llx, set %#llx",
			     (unsigned long long)peers, (unsigned long long)r->peers);
		break;
	case 4:
		len = sizeof(ms);
		if (!getsockopt(c->fd, SOL_CAUSAL, CAUSAL_HOLD_TIMEOUT, &ms, &len) &&
		    ms != r->hold_ms)
			fail(r, F_INFO, "CAUSAL_HOLD_TIMEOUT %u, set %u", ms, r->hold_ms);
		break;
	case 5:
		f = fopen("/proc/net/causal", "r");
		while (f && fgets(line, sizeof(line), f))
			;
		if (f)
			fclose(f);
		break;
	case 6:
		on = !c->recv_batch;
		if (!setsockopt(c->fd, SOL_CAUSAL, CAUSAL_RECV_BATCH, &on, sizeof(on)))
			c->recv_batch = on;
		else if (!chan_closed(c))
			fail(r, F_ERRNO, "CAUSAL_RECV_BATCH: %s", strerror(errno));
		break;
	default:
		if (c->kind == K_HOSTILE && fuzz_chance(g, 30))
			shutdown(c->fd, fuzz_range(g, SHUT_RD, SHUT_RDWR));
		break;
	}
}

/* Blocking sends to the peer that never reads: each waits up to its
 * SO_SNDTIMEO in the kernel, while the main thread keeps using the others.
 */
static void *stall_fn(void *arg)
{
	struct stall_ctx *s = arg;
	size_t len = 16384;
	uint8_t *buf = xrealloc(NULL, len);

	pay_make(buf, s->tag, PAY_STALL, 0, 0, len);
	while (!__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE)) {
		ssize_t ret = send(s->fd, buf, len, MSG_NOSIGNAL);

		if (ret == (ssize_t)len)
			__atomic_add_fetch(&s->sent, 1, __ATOMIC_RELEASE);
		else if (ret < 0 && errno != EAGAIN && errno != EINTR)
			break;
	}
	free(buf);
	return NULL;
}

/* Close channels behind the reader's back: the file goes, the number stays
 * (dup2 of /dev/null over it), so the main thread never reads another file.
 */
static void *closer_fn(void *arg)
{
	struct closer_ctx *cl = arg;

	for (int i = 0; i < cl->n; i++) {
		struct chan *c = cl->targets[i];

		for (uint32_t us = 0; us < cl->delay_us[i]; us += 1000) {
			if (__atomic_load_n(&cl->stop, __ATOMIC_ACQUIRE))
				return NULL;
			usleep(1000);
		}
		__atomic_store_n(&c->closed_by_thread, 1, __ATOMIC_RELEASE);
		dup2(cl->devnull, c->fd);
	}
	return NULL;
}

static void threads_stop(struct round *r)
{
	stall_stop(r);
	if (r->closer.running) {
		__atomic_store_n(&r->closer.stop, 1, __ATOMIC_RELEASE);
		pthread_join(r->closer.thread, NULL);
		r->closer.running = false;
		for (int i = 0; i < r->closer.n; i++)
			if (r->closer.targets[i]->closed_by_thread)
				r->fz->st.thread_closes++;
		close(r->closer.devnull);
	}
}

static void threads_start(struct round *r)
{
	for (int i = 0; i < r->nchan; i++) {
		struct chan *c = r->chan[i];

		if (c->kind != K_HOSTILE || chan_closed(c))
			continue;
		/* Unicasts only: its messages must stay on its channel. */
		if (c->stalled && !r->stall.running &&
		    !(r->join_flags & CAUSAL_F_BROADCAST)) {
			r->stall.fd = c->fd;
			r->stall.tag = r->tag;
			set_timeo(c->fd, SO_SNDTIMEO, 2 * STALL_MS * 1000);
			r->stall.running =
				!pthread_create(&r->stall.thread, NULL, stall_fn,
						&r->stall);
		}
		if ((c->classes & BIT(C_CLOSE)) && !c->stalled &&
		    r->closer.n < (int)(sizeof(r->closer.targets) /
					sizeof(r->closer.targets[0]))) {
			r->closer.delay_us[r->closer.n] =
				fuzz_range(&r->rng, 0, 50000);
			r->closer.targets[r->closer.n++] = c;
			r->fz->st.mutations[C_CLOSE]++;
		}
	}
	if (r->closer.n) {
		r->closer.devnull = open("/dev/null", O_RDWR);
		r->closer.running =
			!pthread_create(&r->closer.thread, NULL, closer_fn,
					&r->closer);
	}
}

/* ---- phases ---- */

static void set_phase(struct round *r, enum phase p)
{
	r->phase = p;
	fuzz_watchdog_kick(&r->fz->dog, "variant %s round %llu phase %s",
			   r->fz->variant, (unsigned long long)r->id,
			   phase_names[p]);
}

static void report_undelivered(struct round *r)
{
	for (int i = 0; i < r->ngood; i++) {
		struct good *g = &r->good[i];
		struct causal_info info = {};
		char deps[256] = "";
		size_t off = 0;

		if (g->delivered == g->nmsgs)
			continue;
		for (int k = 0; k < r->n && off < sizeof(deps); k++)
			off += snprintf(deps + off, sizeof(deps) - off, "%s%llu",
					k ? "," : "",
					(unsigned long long)g->clocks[g->delivered * r->n + k]);
		chan_info(g->ch, &info);
		fail(r, F_DELIVER, "node %u (chan %d): %d of %d delivered; next stamp %llu clock [%s]; CAUSAL_INFO state %u held_now %llu delivered %llu watermark %llu",
		     g->node, g->ch->idx, g->delivered, g->nmsgs,
		     (unsigned long long)g->stamps[g->delivered], deps, info.state,
		     (unsigned long long)info.held_now,
		     (unsigned long long)info.delivered,
		     (unsigned long long)info.watermark);
	}
}

static bool goods_written(struct round *r)
{
	for (int i = 0; i < r->ngood; i++)
		if (chan_pending(r->good[i].ch))
			return false;
	return true;
}

static bool goods_delivered(struct round *r)
{
	for (int i = 0; i < r->ngood; i++)
		if (r->good[i].delivered < r->good[i].nmsgs)
			return false;
	return true;
}

/* Hostile peers have written what they could. */
static bool hostiles_quiet(struct round *r, uint64_t now)
{
	for (int i = 0; i < r->nchan; i++) {
		struct chan *c = r->chan[i];

		if (c->kind == K_HOSTILE && chan_pending(c) &&
		    !(c->blocked && now - c->progress_ns > 300000000ULL))
			return false;
	}
	return true;
}

static uint64_t ep_sent(struct round *r)
{
	struct causal_info info;

	for (int i = 0; i < r->ngood; i++)
		if (!chan_info(r->good[i].ch, &info))
			return info.ep_sent;
	return UINT64_MAX;
}

/* Each well-behaved peer got every message meant for it and the endpoint's
 * final count, and the endpoint parsed its last frame.
 */
static bool goods_informed(struct round *r, uint64_t sent, bool report)
{
	bool ok = true;

	for (int i = 0; i < r->ngood; i++) {
		struct chan *c = r->good[i].ch;
		int due = next_expected(r, c, c->app_next);
		struct causal_info info;

		if (!report && !chan_info(c, &info) &&
		    info.watermark != c->good->final[c->node])
			ok = false;

		if (due >= 0) {
			ok = false;
			if (report)
				fail(r, F_TX, "well-behaved chan %d: application message %d (%s) never arrived",
				     c->idx, due,
				     r->msgs[due].target < 0 ? "broadcast" : "unicast");
		}
		if (c->in_last[r->me] != sent) {
			ok = false;
			if (report)
				fail(r, F_CLOCK, "well-behaved node %u knows %llu of the endpoint's %llu sends",
				     c->node, (unsigned long long)c->in_last[r->me],
				     (unsigned long long)sent);
		}
	}
	return ok;
}

static void settle_checks(struct round *r, uint64_t sent)
{
	for (int i = 0; i < r->ngood; i++) {
		struct good *g = &r->good[i];
		struct causal_info info;

		if (chan_info(g->ch, &info))
			continue;
		if (info.state != CAUSAL_CH_ACTIVE || info.peer != g->node ||
		    info.proto_errors || info.held_now ||
		    info.delivered != (uint64_t)g->nmsgs ||
		    info.watermark != g->final[g->node])
			fail(r, F_INFO, "well-behaved node %u: state %u peer %u proto_errors %llu held_now %llu delivered %llu of %d watermark %llu of %llu",
			     g->node, info.state, info.peer,
			     (unsigned long long)info.proto_errors,
			     (unsigned long long)info.held_now,
			     (unsigned long long)info.delivered, g->nmsgs,
			     (unsigned long long)info.watermark,
			     (unsigned long long)g->final[g->node]);
	}
	check_vclock(r, r->good[0].ch, sent);
}

static void close_timed(struct round *r, struct chan *c, bool abort)
{
	struct linger lin = { .l_onoff = 1, .l_linger = 0 };
	uint64_t t0 = cu_mono_ns(), ms;

	if (c->fd < 0)
		return;
	unwatch(r, c);
	if (abort)
		setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lin, sizeof(lin));
	close(c->fd);
	c->fd = -1;
	ms = (cu_mono_ns() - t0) / 1000000;
	if (ms > STALL_MS)
		stalled(r, ms, "close of chan %d", c->idx);
}

static void *eof_fn(void *arg)
{
	struct eof_ctx *e = arg;
	char buf[64];

	e->ret = recv(e->fd, buf, sizeof(buf), 0);
	e->err = errno;
	__atomic_store_n(&e->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/* Asleep in recv() before the peer's BYE and FIN go out. */
static void eof_reader_start(struct round *r, struct chan *c)
{
	struct eof_ctx *e = &r->eofr;

	*e = (struct eof_ctx){ .fd = c->fd };
	set_timeo(c->fd, SO_RCVTIMEO, 2 * STALL_MS * 1000);
	unwatch(r, c);
	e->running = !pthread_create(&e->thread, NULL, eof_fn, e);
	if (e->running) {
		r->fz->st.eof_sleepers++;
		usleep(20000);
	}
	else
		c->watched = true;
}

/* The sleeper came back: EOF, or it was never woken. */
static void eof_reader_end(struct round *r, struct chan *c)
{
	struct eof_ctx *e = &r->eofr;

	pthread_join(e->thread, NULL);
	e->running = false;
	if (!e->ret) {
		c->eof = true;
		r->fz->st.eofs++;
		return;
	}
	if (e->ret < 0 && e->err == EAGAIN)
		fail(r, F_EOF, "well-behaved chan %d (node %u): a reader asleep in recv() when BYE and FIN came in one segment was not woken in %d ms",
		     c->idx, c->node, 2 * STALL_MS);
	else
		fail(r, F_EOF, "well-behaved chan %d (node %u): recv() asleep at its BYE returned %zd (%s)",
		     c->idx, c->node, e->ret, e->ret < 0 ? strerror(e->err) : "a message");
	/* Let the main loop find the EOF, as a poll would. */
	c->watched = true;
	if (r->epfd >= 0) {
		struct epoll_event ev = {
			.events = EPOLLIN | (r->wait == WAIT_EPOLL_ET ? EPOLLET : 0),
			.data.u32 = c->idx,
		};

		epoll_ctl(r->epfd, EPOLL_CTL_ADD, c->fd, &ev);
	}
}

/* Goodbyes, one well-behaved peer after the other: it sends BYE and its FIN,
 * the application reads EOF and closes, which sends our BYE while a unicast
 * to a later peer has the CLOCK work write to every other channel.
 */
static void bye_step(struct round *r, uint64_t now)
{
	struct chan *c;
	struct fspec f;

	if (r->bye_step == r->ngood) {
		set_phase(r, P_DRAIN);
		r->deadline_ns = now + r->fz->deadline_ns;
		return;
	}
	c = r->good[r->bye_order[r->bye_step]].ch;
	if (!r->bye_sent) {
		if (r->app_send && r->bye_step + 1 < r->ngood &&
		    fuzz_chance(&r->app, 70))
			app_send(r, r->good[r->bye_order[r->bye_step + 1]].ch, false);
		fs_init(&f, CAUSAL_FRAME_BYE, r->n, c->node, c->good->final, NULL, 0);
		st_put(&c->out, &f);
		if (fuzz_chance(&r->rng, 50)) {
			int one = 1;

			/* BYE and FIN in one segment: EOF comes with the
			 * last bytes parsed.
			 */
			setsockopt(c->raw, IPPROTO_TCP, TCP_CORK, &one, sizeof(one));
			c->split = SPLIT_WHOLE;
			if (!r->merged && fuzz_chance(&r->rng, 50))
				eof_reader_start(r, c);
		}
		c->shut_after = true;
		c->ended = false;
		r->bye_sent = true;
		r->deadline_ns = now + r->fz->deadline_ns;
		return;
	}
	if (r->eofr.running) {
		if (!__atomic_load_n(&r->eofr.done, __ATOMIC_ACQUIRE))
			return;
		eof_reader_end(r, c);
	}
	if (!c->eof && now < r->deadline_ns)
		return;
	if (!c->eof)
		fail(r, F_EOF, "well-behaved chan %d (node %u): no EOF %llu ms after its BYE (%s)",
		     c->idx, c->node,
		     (unsigned long long)(r->fz->deadline_ns / 1000000),
		     r->wait == WAIT_POLL ? "poll" :
		     r->wait == WAIT_EPOLL ? "epoll" : "epoll edge-triggered");
	if (r->app_send && r->bye_step + 1 < r->ngood && fuzz_chance(&r->app, 50))
		app_send(r, r->good[r->bye_order[r->bye_step + 1]].ch, false);
	close_timed(r, c, false);
	r->bye_step++;
	r->bye_sent = false;
}

static void phase_step(struct round *r, uint64_t now)
{
	uint64_t sent;

	switch (r->phase) {
	case P_TRAFFIC:
		for (int i = 0; i < r->ngood; i++) {
			struct chan *c = r->good[i].ch;

			if (chan_pending(c) && now - c->progress_ns > r->fz->deadline_ns) {
				struct causal_info info = {};

				chan_info(c, &info);
				fail(r, F_DELIVER, "well-behaved node %u: %zu of %zu bytes written, none for %llu ms (%s; state %u held_now %llu holdback %llu delivered %llu%s)",
				     c->node, c->off, c->out.len,
				     (unsigned long long)(r->fz->deadline_ns / 1000000),
				     c->blocked ? "its socket is full" : "not blocked",
				     info.state, (unsigned long long)info.held_now,
				     (unsigned long long)info.holdback_bytes,
				     (unsigned long long)info.delivered,
				     c->watched ? "" : ", not read");
				report_undelivered(r);
				r->aborted = true;
			}
		}
		if (r->aborted) {
			set_phase(r, P_END);
			return;
		}
		if (!goods_written(r)) {
			r->deadline_ns = now + r->fz->deadline_ns;
			return;
		}
		if (!goods_delivered(r)) {
			if (now > r->deadline_ns) {
				report_undelivered(r);
				r->aborted = true;
				set_phase(r, P_END);
			}
			return;
		}
		if (!hostiles_quiet(r, now) && now < r->deadline_ns)
			return;
		threads_stop(r);
		set_phase(r, P_SETTLE);
		r->deadline_ns = now + r->fz->deadline_ns;
		sent = ep_sent(r);
		if (sent != r->fz->st.app_sent - r->app_sent_before + r->stall.sent)
			fail(r, F_STAMP, "ep_sent %llu, but %llu sends succeeded (%llu tried); a failed send took a stamp?",
			     (unsigned long long)sent,
			     (unsigned long long)(r->fz->st.app_sent - r->app_sent_before +
						  r->stall.sent),
			     (unsigned long long)r->sends_tried);
		r->sent = sent;
		return;
	case P_SETTLE:
		if (!goods_informed(r, r->sent, false) && now < r->deadline_ns)
			return;
		goods_informed(r, r->sent, true);
		settle_checks(r, r->sent);
		set_phase(r, P_BYE);
		return;
	case P_BYE:
		bye_step(r, now);
		return;
	case P_DRAIN:
		for (int i = 0; i < r->ngood; i++) {
			struct chan *c = r->good[i].ch;

			if (c->raw >= 0 && !(c->in_bye && c->in_eof)) {
				if (now < r->deadline_ns)
					return;
				fail(r, F_BYE, "well-behaved chan %d: %s from the module",
				     c->idx, c->in_bye ? "no EOF after BYE" : "no BYE");
			}
		}
		set_phase(r, P_END);
		return;
	case P_END:
		return;
	}
}

/* ---- one round ---- */

static int ms_until(uint64_t at, uint64_t now)
{
	return at <= now ? 0 : (int)((at - now + 999999) / 1000000);
}

/* Read @c after poll or epoll reported @events; edge-triggered, until
 * EAGAIN. A hangup or error with nothing to read ends the watch: level-
 * triggered polls would report it forever.
 */
static void app_ready(struct round *r, struct chan *c, uint32_t events,
		      bool edge)
{
	bool first = events & POLLIN, peeked = false;

	for (int i = 0; c->watched && i < 4096; i++) {
		enum read_result res = app_read(r, c, first, peeked);

		if (res == R_AGAIN && !(events & POLLIN) &&
		    (events & (POLLHUP | POLLERR)))
			unwatch(r, c);
		first = false;
		peeked = res == R_PEEK;
		if (res == R_AGAIN || res == R_END || (!edge && !peeked))
			return;
	}
}

/* A step of the loop is a few calls that should each return at once; one
 * stuck in the kernel (say, behind another socket's blocked send) is a
 * stall, whichever call it was. CAUSAL_FUZZ_VERBOSE=2 names slow steps.
 */
static void step_done(struct round *r, const char *what, uint64_t *t)
{
	uint64_t now = cu_mono_ns(), ms = (now - *t) / 1000000;

	if (r->fz->verbose > 1 && ms > 500)
		fprintf(stderr, "#   round %llu: %s took %llu ms\n",
			(unsigned long long)r->id, what, (unsigned long long)ms);
	if (ms > 2 * STALL_MS && r->stalled_ns < *t)
		stalled(r, ms, "the loop's %s", what);
	*t = cu_mono_ns();
}

static void round_loop(struct round *r)
{
	struct pollfd pfd[2 * MAX_CHANS + 1];
	int who[2 * MAX_CHANS + 1];

	while (r->phase != P_END) {
		uint64_t now = cu_mono_ns(), t = now;
		int n = 0, timeout = 20;
		struct timespec ts;

		fuzz_watchdog_kick(&r->fz->dog, NULL);
		phase_step(r, now);
		step_done(r, "phase step", &t);
		if (r->phase == P_END)
			break;
		r->reads_this_iter = 0;
		if (r->phase == P_TRAFFIC && r->app_send &&
		    fuzz_chance(&r->app, r->send_pct))
			app_send(r, NULL, true);
		step_done(r, "send step", &t);
		if (fuzz_chance(&r->app, 2))
			app_option(r);
		step_done(r, "option step", &t);
		now = cu_mono_ns();	/* a send may have stalled */
		for (int i = 0; i < r->nchan; i++) {
			struct chan *c = r->chan[i];

			if (chan_pending(c) && !c->blocked && c->next_ns <= now)
				chan_write(r, c, now);
		}
		step_done(r, "write step", &t);
		now = cu_mono_ns();
		for (int i = 0; i < r->nchan; i++) {
			struct chan *c = r->chan[i];
			short ev = 0;

			if (c->raw >= 0) {
				if (c->drain && !c->in_eof)
					ev |= POLLIN;
				if (chan_pending(c)) {
					if (c->blocked)
						ev |= POLLOUT;
					else if (ms_until(c->next_ns, now) < timeout)
						timeout = ms_until(c->next_ns, now);
				}
			}
			if (ev) {
				pfd[n] = (struct pollfd){ .fd = c->raw, .events = ev };
				who[n++] = 2 * i;
			}
			if (r->wait == WAIT_POLL && c->watched && !chan_closed(c)) {
				pfd[n] = (struct pollfd){ .fd = c->fd, .events = POLLIN };
				who[n++] = 2 * i + 1;
			}
		}
		if (r->epfd >= 0) {
			pfd[n] = (struct pollfd){ .fd = r->epfd, .events = POLLIN };
			who[n++] = -1;
		}
		ts = (struct timespec){ .tv_nsec = timeout * 1000000L };
		if (ppoll(pfd, n, &ts, NULL) <= 0)
			continue;
		step_done(r, "poll", &t);
		for (int i = 0; i < n; i++) {
			struct chan *c;

			if (!pfd[i].revents)
				continue;
			if (who[i] < 0) {
				struct epoll_event evs[32];
				int m = epoll_wait(r->epfd, evs, 32, 0);

				for (int j = 0; j < m; j++) {
					c = r->chan[evs[j].data.u32];
					if (c->watched)
						app_ready(r, c, evs[j].events,
							  r->wait == WAIT_EPOLL_ET);
				}
				continue;
			}
			c = r->chan[who[i] / 2];
			if (who[i] & 1) {
				if (c->watched)
					app_ready(r, c, pfd[i].revents, false);
				continue;
			}
			if (pfd[i].revents & (POLLOUT | POLLERR | POLLHUP))
				c->blocked = false;
			if (pfd[i].revents & (POLLIN | POLLERR | POLLHUP) && c->drain)
				raw_drain(r, c);
		}
		step_done(r, "read step", &t);
	}
}

static void round_end(struct round *r)
{
	struct fuzz_rng *g = &r->rng;
	struct causal_info info;
	int order[MAX_CHANS];

	threads_stop(r);
	for (int i = 0; i < r->nchan; i++) {
		order[i] = i;
		if (r->chan[i]->kind != K_HOSTILE || chan_info(r->chan[i], &info))
			continue;
		r->fz->st.proto_errors += info.proto_errors;
		/* Owed acceptance, and its HELLO got past waiting. */
		if (r->chan[i]->expect_ok) {
			r->fz->st.reconnects_owed++;
			r->fz->st.reconnects_taken += info.state != CAUSAL_CH_JOINED &&
						      info.state != CAUSAL_CH_FAILED;
		}
	}
	for (int i = r->nchan - 1; i > 0; i--) {
		int j = fuzz_below(g, i + 1), t = order[i];

		order[i] = order[j];
		order[j] = t;
	}
	for (int i = 0; i < r->nchan; i++) {
		struct chan *c = r->chan[order[i]];

		close_timed(r, c, fuzz_chance(g, 30));
		raw_close(c, c->kind == K_HOSTILE && fuzz_chance(g, 30) ?
			     END_RST : END_CLOSE);
	}
	if (r->epfd >= 0)
		close(r->epfd);
	for (int i = 0; i < r->nchan; i++) {
		st_free(&r->chan[i]->out);
		free(r->chan[i]->in);
		free(r->chan[i]);
	}
	for (int i = 0; i < r->ngood; i++) {
		free(r->good[i].stamps);
		free(r->good[i].clocks);
		free(r->good[i].lens);
	}
	free(r->msgs);
}

/* Wait until the module took each well-behaved peer's HELLO: only then may
 * a hostile peer claim the same node (and must be refused).
 */
static bool goods_active(struct round *r)
{
	uint64_t until = cu_mono_ns() + r->fz->deadline_ns;

	for (int i = 0; i < r->ngood; i++) {
		struct chan *c = r->good[i].ch;
		struct causal_info info = {};

		while (!chan_info(c, &info) && info.state != CAUSAL_CH_ACTIVE &&
		       cu_mono_ns() < until)
			usleep(1000);
		if (info.state != CAUSAL_CH_ACTIVE) {
			fail(r, F_DELIVER, "well-behaved node %u: state %u after its HELLO",
			     c->node, info.state);
			return false;
		}
	}
	return true;
}

struct plan {
	uint16_t nodes;
	int merged;		/* 0 never, 1 on some rounds, 2 always */
	uint32_t id;
};

static bool round_setup(struct round *r, const struct plan *p)
{
	struct fuzz *fz = r->fz;
	struct fuzz_rng *g = &r->rng;
	uint64_t cl = fz->classes, taken = 0, all;
	static const uint32_t holds[] = { 1, 5, 20, 100, 1000 };
	int nhostile, events;

	r->n = p->nodes;
	r->me = fuzz_below(g, r->n);
	r->group = GROUP_BASE + (p->id << 20) + (uint32_t)(r->id & 0xfffff);
	r->tag = fuzz_next(g) | 1;
	r->epfd = -1;
	r->msgs = xrealloc(NULL, MAX_APP_MSGS * sizeof(*r->msgs));
	r->app_sent_before = fz->st.app_sent;
	all = (r->n == 64 ? ~0ULL : BIT(r->n) - 1) & ~BIT(r->me);
	r->peers = all;

	if (p->merged == 2 || (p->merged == 1 && (cl & BIT(C_MERGED)) &&
			       fuzz_chance(g, 30)))
		r->merged = true;
	if (r->merged)
		r->join_flags |= CAUSAL_F_MERGED_RECV;
	if (fuzz_chance(g, 10))
		r->join_flags |= CAUSAL_F_BROADCAST;
	if ((cl & BIT(C_HOLD)) && fuzz_chance(g, 25))
		r->hold_ms = holds[fuzz_below(g, 5)];
	r->wait = (cl & BIT(C_EPOLL)) ? fuzz_below(g, 3) : WAIT_POLL;
	r->app_send = (cl & BIT(C_SEND)) && fuzz_chance(g, 70);
	r->send_pct = fuzz_range(g, 1, 15);
	r->good_maxlen = fuzz_chance(g, 70) ? 256 : fuzz_chance(g, 66) ? 4096 : 70000;
	r->crowd = (cl & BIT(C_CROWD)) && fuzz_chance(g, 3);
	if (r->crowd && (cl & BIT(C_SEND))) {
		/* Broadcasts and CLOCK frames are what 64 would cut. */
		r->app_send = true;
		r->send_pct = umax(r->send_pct, 10);
	}
	r->ngood = fuzz_range(g, 1, umin(MAX_GOOD, r->n - 1));
	for (int i = 0; i < r->ngood; i++) {
		uint16_t k;

		do {
			k = fuzz_below(g, r->n);
		} while (k == r->me || (taken & BIT(k)));
		taken |= BIT(k);
		r->good[i].node = k;
		r->bye_order[i] = i;
	}
	for (int i = r->ngood - 1; i > 0; i--) {
		int j = fuzz_below(g, i + 1), t = r->bye_order[i];

		r->bye_order[i] = r->bye_order[j];
		r->bye_order[j] = t;
	}
	if ((cl & BIT(C_PEERS)) && fuzz_chance(g, 20))
		r->peers &= taken | fuzz_next(g);
	if (r->wait != WAIT_POLL)
		r->epfd = epoll_create1(0);

	/* Idle channels first, so that the well-behaved ones come after the
	 * 64th in the endpoint's list.
	 */
	for (int i = 0; r->crowd && i < CROWD; i++)
		if (!chan_open(r, K_CROWD, CAUSAL_PEER_NONE))
			return false;
	for (int i = 0; i < r->ngood; i++) {
		struct chan *c = chan_open(r, K_GOOD, r->good[i].node);

		if (!c)
			return false;
		c->good = &r->good[i];
		r->good[i].ch = c;
		if (r->nchan == 1 + (r->crowd ? CROWD : 0)) {
			/* Endpoint options, on its first well-behaved socket. */
			if (setsockopt(c->fd, SOL_CAUSAL, CAUSAL_PEERS, &r->peers,
				       sizeof(r->peers)) ||
			    setsockopt(c->fd, SOL_CAUSAL, CAUSAL_HOLD_TIMEOUT,
				       &r->hold_ms, sizeof(r->hold_ms)))
				fail(r, F_ERRNO, "endpoint options: %s", strerror(errno));
		}
	}
	events = fuzz_range(g, 10, 150) * r->ngood;
	gen_good(r, events);
	for (int i = 0; i < r->ngood; i++) {
		struct chan *c = r->good[i].ch;

		st_claims(r, &c->out);
		chan_pace(r, c);
		if (write_all(c->raw, c->out.buf, c->out.ends[0])) {
			fail(r, F_ERRNO, "HELLO of node %u: %s", c->node, strerror(errno));
			return false;
		}
		c->off = c->out.ends[0];
		count_frames(r, c);
	}
	if (!goods_active(r))
		return false;

	nhostile = fuzz_range(g, 1, r->n <= 2 ? 3 : MAX_HOSTILE);
	for (int i = 0; i < nhostile; i++) {
		uint64_t hcl = 0, used;
		uint16_t node;

		for (int c = 0; c < C_NR; c++)
			if ((C_PEER & cl & BIT(c)) && fuzz_chance(g, 30))
				hcl |= BIT(c);
		/* Now and then a peer whose frames are all valid and that
		 * breaks and comes back: what it is owed is then checked.
		 */
		if ((cl & BIT(C_RECONNECT)) && fuzz_chance(g, 25))
			hcl = BIT(C_RECONNECT) |
			      (hcl & (BIT(C_RESET) | BIT(C_DRIBBLE) | BIT(C_FLOOD)));
		if (hcl & BIT(C_STALL)) {
			for (int j = 0; j < r->nchan; j++)
				if (r->chan[j]->stalled)
					hcl &= ~BIT(C_STALL);
			if (hcl & BIT(C_STALL))
				hcl &= ~BIT(C_CLOSE);
		}
		used = r->used;
		node = hostile_node(r, hcl);
		if (!hostile_open(r, hcl, node, fuzz_next(g) | 1, NULL, 0,
				  !(used & BIT(node)) && (r->used & BIT(node))))
			return false;
	}
	threads_start(r);
	return true;
}

static void round_run(struct fuzz *fz, const struct plan *p, uint64_t id)
{
	struct round *r = calloc(1, sizeof(*r));
	uint64_t frames0 = fz->st.frames_good + fz->st.frames_hostile;
	uint64_t t0 = cu_mono_ns();

	r->fz = fz;
	r->id = id;
	fuzz_rng_init(&r->rng, fz->budget.seed, p->id, id);
	fuzz_rng_init(&r->app, fz->budget.seed, p->id | 1ULL << 32, id);
	set_phase(r, P_TRAFFIC);
	r->deadline_ns = t0 + fz->deadline_ns;
	if (round_setup(r, p))
		round_loop(r);
	else
		set_phase(r, P_END);
	round_end(r);
	fz->st.rounds++;
	if (fz->verbose)
		fprintf(stderr, "# round %llu: n=%u me=%u good=%d chans=%d peers=%#llx%s%s%s hold=%u wait=%d sends=%d frames=%llu %.2fs%s\n",
			(unsigned long long)id, r->n, r->me, r->ngood, r->nchan,
			(unsigned long long)r->peers,
			r->merged ? " merged" : "",
			r->join_flags & CAUSAL_F_BROADCAST ? " broadcast" : "",
			r->crowd ? " crowd" : "", r->hold_ms, r->wait, r->nmsgs,
			(unsigned long long)(fz->st.frames_good + fz->st.frames_hostile - frames0),
			(cu_mono_ns() - t0) / 1e9, r->aborted ? " ABORTED" : "");
	free(r);
}

/* ---- the test ---- */

FIXTURE(fuzz)
{
	struct fuzz fz;
};

FIXTURE_VARIANT(fuzz)
{
	struct plan plan;
	unsigned int share;	/* percent of the run's frames and seconds */
};

FIXTURE_VARIANT_ADD(fuzz, nodes2)
{
	.plan = { .nodes = 2, .merged = 1, .id = 2 }, .share = 15,
};

FIXTURE_VARIANT_ADD(fuzz, nodes3)
{
	.plan = { .nodes = 3, .merged = 1, .id = 3 }, .share = 30,
};

FIXTURE_VARIANT_ADD(fuzz, nodes8)
{
	.plan = { .nodes = 8, .merged = 1, .id = 8 }, .share = 30,
};

FIXTURE_VARIANT_ADD(fuzz, nodes8_merged)
{
	.plan = { .nodes = 8, .merged = 2, .id = 0x108 }, .share = 25,
};

static uint32_t read_max_msg(void)
{
	unsigned int v = 1 << 20;
	FILE *f = fopen("/sys/module/causal/parameters/max_msg_size", "r");

	if (f) {
		if (fscanf(f, "%u", &v) != 1)
			v = 1 << 20;
		fclose(f);
	}
	return v;
}

FIXTURE_SETUP(fuzz)
{
	struct fuzz *fz = &self->fz;
	struct rlimit nofile = { 4096, 4096 };
	char classes[256], only[32] = "";

	causal_require_module(_metadata);
	memset(fz, 0, sizeof(*fz));
	fz->meta = _metadata;
	fz->variant = variant->plan.nodes == 2 ? "nodes2" :
		      variant->plan.nodes == 3 ? "nodes3" :
		      variant->plan.merged == 2 ? "nodes8_merged" : "nodes8";
	fuzz_budget_init(&fz->budget, "CAUSAL_FUZZ_FRAMES", 50000, 300);
	fz->budget.limit = fz->budget.limit * variant->share / 100;
	fz->budget.seconds = fz->budget.seconds * variant->share / 100;
	fz->classes = fuzz_classes(cls_names, C_NR, BIT(C_NR) - 1);
	fz->deadline_ns = fuzz_env_u64("CAUSAL_FUZZ_DEADLINE_MS", 5000) * 1000000ULL;
	fz->verbose = fuzz_env_u64("CAUSAL_FUZZ_VERBOSE", 0);
	fz->max_msg = read_max_msg();
	fz->buf = xrealloc(NULL, fz->max_msg + 4096);
	fz->scratch = xrealloc(NULL, fz->max_msg + 4096);
	fz->mmsg = xrealloc(NULL, MMSG_VLEN * MMSG_BUF);
	setrlimit(RLIMIT_NOFILE, &nofile);
	fuzz_format_classes(classes, sizeof(classes), cls_names, C_NR, fz->classes);
	if (fz->budget.only_round >= 0)
		snprintf(only, sizeof(only), " round=%lld",
			 (long long)fz->budget.only_round);
	fprintf(stderr, "# fuzz_peer %s: seed=0x%llx frames=%llu seconds=%llu%s classes=%s max_msg=%u\n",
		fz->variant, (unsigned long long)fz->budget.seed,
		(unsigned long long)fz->budget.limit,
		(unsigned long long)fz->budget.seconds, only, classes,
		fz->max_msg);
	ASSERT_EQ(fuzz_watchdog_start(&fz->dog,
				      fuzz_env_u64("CAUSAL_FUZZ_WATCHDOG", 60)), 0);
}

FIXTURE_TEARDOWN(fuzz)
{
	struct fuzz *fz = &self->fz;

	fuzz_watchdog_stop(&fz->dog);
	free(fz->buf);
	free(fz->scratch);
	free(fz->mmsg);
}

static void report(struct fuzz *fz)
{
	const struct stats *st = &fz->st;
	char recv_err[512], send_err[512], muts[512] = "", fails[256] = "";
	size_t off = 0;

	fuzz_errno_format(&st->recv_err, recv_err, sizeof(recv_err));
	fuzz_errno_format(&st->send_err, send_err, sizeof(send_err));
	for (int i = 0; i < C_NR; i++)
		if (st->mutations[i])
			off += snprintf(muts + off, sizeof(muts) - off, "%s%s:%llu",
					off ? " " : "", cls_names[i],
					(unsigned long long)st->mutations[i]);
	off = 0;
	for (int i = 0; i < F_NR; i++)
		if (st->failures[i])
			off += snprintf(fails + off, sizeof(fails) - off, "%s%s:%llu",
					off ? " " : "", fail_names[i],
					(unsigned long long)st->failures[i]);
	fprintf(stderr,
		"# fuzz_peer %s: seed=0x%llx rounds=%llu frames=%llu (good %llu, hostile %llu) bytes=%llu in %.1f s\n"
		"#   channels: good %llu hostile %llu crowd %llu reconnects %llu (%llu owed acceptance, %llu taken) closed-by-thread %llu\n"
		"#   delivered: good %llu of %llu, hostile %llu, gaps %llu, peeks %llu, truncated %llu, zero-length %llu, EOFs %llu (%llu readers asleep in recv at a BYE), %llu in %llu batched reads\n"
		"#   hostile channels failed (recv errno): %s; proto_errors %llu\n"
		"#   application: sent %llu, refused %llu (%s), stalled-peer sends %llu; module frames checked %llu (%llu of version 2); frames at the size limit %llu\n"
		"#   mutations: %s\n"
		"#   failures: %s\n",
		fz->variant, (unsigned long long)fz->budget.seed,
		(unsigned long long)st->rounds,
		(unsigned long long)(st->frames_good + st->frames_hostile),
		(unsigned long long)st->frames_good,
		(unsigned long long)st->frames_hostile,
		(unsigned long long)st->bytes, fuzz_elapsed(&fz->budget),
		(unsigned long long)st->chans_good,
		(unsigned long long)st->chans_hostile,
		(unsigned long long)st->chans_crowd,
		(unsigned long long)st->reconnects,
		(unsigned long long)st->reconnects_owed,
		(unsigned long long)st->reconnects_taken,
		(unsigned long long)st->thread_closes,
		(unsigned long long)st->good_delivered,
		(unsigned long long)st->good_msgs,
		(unsigned long long)st->hostile_delivered,
		(unsigned long long)st->gaps, (unsigned long long)st->peeks,
		(unsigned long long)st->truncated,
		(unsigned long long)st->zero_reads, (unsigned long long)st->eofs,
		(unsigned long long)st->eof_sleepers,
		(unsigned long long)st->batch_msgs,
		(unsigned long long)st->batch_reads,
		recv_err, (unsigned long long)st->proto_errors,
		(unsigned long long)st->app_sent, (unsigned long long)st->app_failed,
		send_err, (unsigned long long)st->stall_sent,
		(unsigned long long)st->module_frames,
		(unsigned long long)st->module_delta_frames,
		(unsigned long long)st->max_frames, muts, off ? fails : "none");
}

TEST_F_TIMEOUT(fuzz, peers, 86400)
{
	struct fuzz *fz = &self->fz;
	uint64_t round = fuzz_first_round(&fz->budget);

	while (fuzz_budget_left(&fz->budget, round,
				fz->st.frames_good + fz->st.frames_hostile))
		round_run(fz, &variant->plan, round++);
	report(fz);
}

TEST_HARNESS_MAIN
