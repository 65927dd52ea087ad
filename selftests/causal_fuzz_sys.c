// SPDX-License-Identifier: GPL-2.0
/*
 * Syscall fuzzer for the causal ULP (issue 9): worker threads run random
 * socket operations on one shared pool of sockets: loopback TCP pairs, most
 * of them causal channels joined to a few small groups so that channels share
 * endpoints, plain TCP, listening and unconnected sockets. Nothing serializes
 * the syscalls: a slot's lock only keeps an fd number from naming two files
 * while an operation judges its result. Racing the kernel is the point.
 *
 * The oracle is the kernel's health (the VM runner fails on any WARN, BUG,
 * lockdep, KASAN or hung-task report) and cheap user-visible contract checks:
 * every error is one the call may return for what the slot held, a message on
 * a causal socket is sent whole and received intact (each payload says its
 * own length), a listening or disconnected socket never carries the ULP, no
 * fd leaks, and once everything is closed the module's reference count is
 * back where it started.
 *
 * A worker's operations follow from the seed alone; their interleaving does
 * not. Every blocking call is bounded (socket timeouts of at most 100 ms,
 * MSG_DONTWAIT, poll timeouts, SO_LINGER of at most 1 s, a child's alarm), so
 * an operation that lasts CAUSAL_FUZZ_STALL seconds is a hang: the watchdog
 * prints the worker's kernel stack and fails the test.
 *
 * Environment (all optional):
 *   CAUSAL_FUZZ_SEED=N     seed (default 1); worker i draws from seed + i
 *   CAUSAL_FUZZ_OPS=N      operations in all, split evenly between the
 *                          workers (default 100000: about a minute on 6.12
 *                          under TCG at the median 1,800 ops/s measured on
 *                          2 shared cores; make fuzz runs 1000000)
 *   CAUSAL_FUZZ_SECONDS=N  stop after N s whatever is left (default 120,
 *                          which bounds the run on a debug kernel); the
 *                          harness's timeout follows it
 *   CAUSAL_FUZZ_THREADS=N  workers, 1..16 (default 6)
 *   CAUSAL_FUZZ_SLOTS=N    sockets in the pool, 4..64 (default 24)
 *   CAUSAL_FUZZ_CLASSES=L  comma-separated classes to run, or with a leading
 *                          '-' each, to leave out (default all): sock (socket,
 *                          pair, listen, connect, accept), ulp (TCP_ULP,
 *                          CAUSAL_JOIN), opt (set/getsockopt, ioctl), send,
 *                          recv, poll, close (close, SO_LINGER 0 close,
 *                          shutdown, connect(AF_UNSPEC), dup), splice (splice,
 *                          sendfile), fork, signal, zc (TCP_ZEROCOPY_RECEIVE)
 *   CAUSAL_FUZZ_ALLOW=L    comma-separated checks whose violations are
 *                          counted and shown but do not fail the test, to
 *                          look past a known defect: errno, send_length,
 *                          empty_send, recv_length, content, cmsg_info,
 *                          option, ulp_state, raw_read, poll, child,
 *                          nonblock
 *   CAUSAL_FUZZ_NONBLOCK_MS=N  a MSG_DONTWAIT send or receive on a causal
 *                          socket that takes longer waited for something
 *                          (default 10000: on a loaded host the test VMs'
 *                          vCPUs stall for seconds; plain TCP's took 4 s)
 *   CAUSAL_FUZZ_STALL=N    seconds in one operation that count as a hang
 *                          (default 30)
 *   CAUSAL_FUZZ_PREEMPT=M  preemption model for the run, through
 *                          /sys/kernel/debug/sched/preempt (PREEMPT_DYNAMIC
 *                          kernels), put back after: none, voluntary, full
 *                          (default full: a task can lose the CPU anywhere
 *                          outside a lock, which widens every race window);
 *                          empty leaves it alone
 *   CAUSAL_FUZZ_TRACE=1    print every operation and its result as it ends
 *                          (slow; to find the last ones before an oops)
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
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
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include <linux/causal.h>
#include <linux/sockios.h>

#include "kselftest_harness.h"
#include "causal_util.h"

#define DEFAULT_OPS		100000
#define DEFAULT_SECONDS		120
#define DEFAULT_THREADS		6
#define DEFAULT_SLOTS		24
#define DEFAULT_STALL		30
#define DEFAULT_NONBLOCK_MS	10000
#define REFCNT_WAIT_MS		30000
#define ORPHAN_WAIT_MS		240000
#define MAX_THREADS		16
#define MAX_SLOTS		64

/* Slot i is always fd SLOT_FD + i: the kernel hands out the lowest free
 * number, far below, so a slot's number never names anything else.
 */
#define SLOT_FD			700

#define SEND_BUFS		4
#define SMALL_BUF		(64 * 1024 + 64)
#define RECV_BUF		(256 * 1024)
#define FILE_LEN		(256 * 1024)
#define VIOLATIONS_SHOWN	5	/* of each kind */

/* Payloads: byte i of a message is pattern(i), except that a message of 8
 * bytes or more starts with a magic and its own length. Spliced and sent
 * files are FILL bytes throughout. A send that faults on purpose has its
 * own magic: the module zero-fills what it could not copy.
 */
#define MSG_MAGIC		0x5a17f00dU
#define MSG_MAGIC_FAULT		0x5a17fa17U
#define MSG_HEAD		8
#define FILL			0xa5

static uint8_t pattern(size_t i)
{
	return (uint8_t)(i * 131 + 7);
}

/* The errors a call may return somewhere in this fuzzer; anything else is a
 * contract violation.
 */
#define FUZZ_ERRNOS(X) \
	X(EAGAIN) X(EINTR) X(EPIPE) X(ECONNRESET) X(ENOTCONN) X(EISCONN) \
	X(EINVAL) X(EOPNOTSUPP) X(ENOPROTOOPT) X(EBUSY) X(EEXIST) X(EPERM) \
	X(EMSGSIZE) X(EPROTO) X(ECONNREFUSED) X(EINPROGRESS) X(EALREADY) \
	X(EADDRINUSE) X(EADDRNOTAVAIL) X(ETIMEDOUT) X(ENOENT) X(EFAULT) \
	X(EBADF) X(ENOMEM) X(ENOBUFS) X(ECONNABORTED) X(EAFNOSUPPORT) \
	X(EDOM) X(EIO) X(ENOTSOCK)

#define X(e) EI_##e,
enum { FUZZ_ERRNOS(X) EI_COUNT };
#undef X
#define X(e) [EI_##e] = e,
static const int fuzz_errno[] = { FUZZ_ERRNOS(X) };
#undef X
#define X(e) [EI_##e] = #e,
static const char *const fuzz_errno_name[] = { FUZZ_ERRNOS(X) };
#undef X

#define EM(e)	(1ULL << EI_##e)
#define E_WAIT	(EM(EAGAIN) | EM(EINTR))
#define E_CONN	(EM(EPIPE) | EM(ECONNRESET) | EM(ENOTCONN) | EM(ETIMEDOUT) | \
		 EM(ECONNREFUSED) | EM(ECONNABORTED))
#define E_CHAN	(EM(EPROTO) | EM(EPERM) | EM(EEXIST))	/* a failed channel */
#define E_MEM	(EM(ENOMEM) | EM(ENOBUFS))
/* What a call may see when the slot changed under it: any socket error but
 * a fault, which depends on our buffers only, and ENOTSOCK.
 */
#define E_RACE	(((1ULL << EI_COUNT) - 1) & ~(EM(EFAULT) | EM(ENOTSOCK)))

static int errno_index(int err)
{
	for (int i = 0; i < EI_COUNT; i++)
		if (fuzz_errno[i] == err)
			return i;
	return -1;
}

/* What a slot holds, as far as the fuzzer made it so. A file's ULP and
 * endpoint never go away while it lives, so K_ULP and K_JOINED are facts as
 * long as the generation is unchanged; the plain kinds are hints.
 */
enum {
	K_EMPTY, K_BUSY, K_UNCONN, K_LISTEN, K_TCP, K_ULP, K_JOINED,
};

static const char *const kind_name[] = {
	"empty", "busy", "unconnected", "listening", "tcp", "ulp", "joined",
};

struct slot {
	pthread_mutex_t lock;	/* replace and close: kind follows the file */
	_Atomic uint64_t state;	/* gen:32 port:16 node:8 group:3 v6:1 kind:4 */
};

struct view {
	int idx, fd;
	uint32_t gen;
	int kind, v6, group, node, port;	/* group: index + 1, 0 none */
};

/* Groups with few nodes, so that channels share endpoints. */
static const struct fuzz_group {
	uint32_t id;
	uint16_t nodes;
	uint32_t flags;
	unsigned int weight;
} groups[] = {
	{ 0xcf01, 2, 0, 2 },
	{ 0xcf02, 3, CAUSAL_F_MERGED_RECV, 3 },
	{ 0xcf03, 4, CAUSAL_F_BROADCAST, 2 },
	{ 0xcf04, 4, CAUSAL_F_MERGED_RECV | CAUSAL_F_BROADCAST, 2 },
	{ 0xcf05, 6, CAUSAL_F_MERGED_RECV, 2 },
};
#define NR_GROUPS	(sizeof(groups) / sizeof(groups[0]))

/* The highest SOL_CAUSAL option; past it, options are unknown. */
#define LAST_OPT	CAUSAL_RECV_BATCH

/* Options that take an int and read only its first 4 bytes. */
static bool is_bool_opt(int name)
{
	return name == CAUSAL_RECV_INFO || name == CAUSAL_RECV_BATCH;
}
/* Invalid joins may create endpoints with any shape: only in these groups,
 * so that a valid join of a table group always matches its endpoint.
 */
#define STRAY_GROUP	0xce00

enum {
	C_SOCK = 1 << 0, C_ULP = 1 << 1, C_OPT = 1 << 2, C_SEND = 1 << 3,
	C_RECV = 1 << 4, C_POLL = 1 << 5, C_CLOSE = 1 << 6, C_SPLICE = 1 << 7,
	C_FORK = 1 << 8, C_SIGNAL = 1 << 9, C_ZC = 1 << 10,
};

static const struct {
	const char *name;
	unsigned int bit;
} class_names[] = {
	{ "sock", C_SOCK }, { "ulp", C_ULP }, { "opt", C_OPT },
	{ "send", C_SEND }, { "recv", C_RECV }, { "poll", C_POLL },
	{ "close", C_CLOSE }, { "splice", C_SPLICE }, { "fork", C_FORK },
	{ "signal", C_SIGNAL }, { "zc", C_ZC },
};

/* The contract checks, by what they found. */
enum {
	V_ERRNO,	/* an error the call may not return there */
	V_SEND_LENGTH,	/* a causal send took part of a message */
	V_EMPTY_SEND,	/* a causal send returned 0 for a non-empty message */
	V_RECV_LENGTH,	/* a receive overran its buffer or misflagged MSG_TRUNC */
	V_CONTENT,	/* a received message is not one that was sent */
	V_CMSG_INFO,	/* CAUSAL_CMSG_INFO contradicts the endpoint */
	V_OPTION,	/* an option's value or length is wrong */
	V_ULP_STATE,	/* listen/accept/connect/disconnect/a second ULP or
			 * JOIN succeeded on a causal socket, or a listening,
			 * accepted or disconnected socket carries the ULP
			 */
	V_RAW_READ,	/* the raw stream of a causal socket was read */
	V_POLL,		/* POLLNVAL on an open slot */
	V_CHILD,	/* a forked child did not finish */
	V_NONBLOCK,	/* a MSG_DONTWAIT call on a causal socket waited */
	NR_VIOLATIONS,
};

static const char *const violation_name[NR_VIOLATIONS] = {
	[V_ERRNO] = "errno", [V_SEND_LENGTH] = "send_length",
	[V_EMPTY_SEND] = "empty_send", [V_RECV_LENGTH] = "recv_length",
	[V_CONTENT] = "content", [V_CMSG_INFO] = "cmsg_info",
	[V_OPTION] = "option", [V_ULP_STATE] = "ulp_state",
	[V_RAW_READ] = "raw_read", [V_POLL] = "poll", [V_CHILD] = "child",
	[V_NONBLOCK] = "nonblock",
};

struct worker;
typedef void (*op_fn)(struct worker *w);

struct fuzz {
	uint64_t seed;
	uint64_t ops;
	unsigned int seconds, threads, nslots, stall;
	uint64_t nonblock_ns;	/* CAUSAL_FUZZ_NONBLOCK_MS */
	unsigned int classes;
	bool trace;
	size_t max_msg;		/* the module's max_msg_size */
	uint64_t deadline_ns;
	struct slot slots[MAX_SLOTS];
	_Atomic int hot;	/* a recently used slot, to collide on */
	_Atomic bool stop;
	_Atomic uint64_t violations[NR_VIOLATIONS];
	uint64_t allowed_violations;	/* CAUSAL_FUZZ_ALLOW, a bit per kind */
	_Atomic uint64_t fault_sends;	/* faulting sends that may have gone
					 * out zero-filled
					 */
	/* Endpoints whose raw stream TCP_ZEROCOPY_RECEIVE read, a node bit
	 * per group (index + 1): a parser robbed of bytes mid-frame delivers
	 * a message whose body is not its own. Before JOIN the parser starts
	 * misaligned instead, and fails the channel.
	 */
	_Atomic uint64_t raw_read[NR_GROUPS + 1];
	void *fault_page;	/* PROT_NONE */
	int file;		/* FILE_LEN bytes of FILL, for sendfile */
	struct worker *workers;
	/* Workers signal each other: none starts before every handle is
	 * known, none is joined while others may still signal it.
	 */
	pthread_barrier_t start, done;
	unsigned int weight_sum;
};

/* What splice() feeds its pipe with. */
static uint8_t fill_buf[SMALL_BUF];

enum {
	OP_PAIR, OP_SOCKET, OP_LISTEN, OP_CONNECT, OP_ACCEPT, OP_SELFCONN,
	OP_ULP, OP_JOIN,
	OP_SETOPT_CAUSAL, OP_SETOPT_SOCK, OP_SETOPT_TCP, OP_GETOPT, OP_IOCTL,
	OP_SEND, OP_SENDMMSG, OP_FLOOD, OP_RECV, OP_RECVMMSG, OP_DRAIN,
	OP_POLL, OP_EPOLL,
	OP_SHUTDOWN, OP_DISCONNECT, OP_CLOSE, OP_LINGER_CLOSE, OP_DUP,
	OP_SPLICE, OP_SENDFILE,
	OP_FORK, OP_SIGNAL, OP_ZEROCOPY,
	NR_OPS,
};

#define ERR_BUCKETS	(EI_COUNT + 2)	/* success, each errno, other */

struct worker {
	struct fuzz *f;
	int id;
	pthread_t thread;
	_Atomic pid_t tid;
	uint64_t rng;
	uint64_t quota;
	bool child;		/* a forked child: no locks, no accounting */
	int pipe[2];
	int epfd;
	uint8_t *buf[SEND_BUFS];	/* buf[0] holds max_msg + 64 KiB */
	uint8_t *rbuf;

	/* For the watchdog. */
	_Atomic int cur_op;
	_Atomic uint64_t cur_since;	/* ns, 0 between operations */

	/* Accounting. */
	uint64_t ops, syscalls;
	uint64_t res[NR_OPS][ERR_BUCKETS];
	uint64_t checked_msgs, checked_bytes, zeroed_msgs, batched_reads;
	uint64_t info_state[CAUSAL_CH_FAILED + 1];	/* CAUSAL_INFO reads */
	uint64_t info_paused;		/* of them, holding 64 KiB or more */
	uint64_t closed_under_reader;	/* deliveries with index 0 */
	uint64_t nonblock_max_ns[2];	/* plain, causal */
	int nonblock_max_op[2];
};

static struct fuzz fuzz;

/* splitmix64 */
static uint64_t next(struct worker *w)
{
	uint64_t z = (w->rng += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint32_t rnd(struct worker *w, uint32_t n)
{
	return n ? next(w) % n : 0;
}

static bool chance(struct worker *w, unsigned int pct)
{
	return rnd(w, 100) < pct;
}

/* ---- slots ---- */

static uint64_t st_pack(uint32_t gen, int kind, int v6, int group, int node,
			int port)
{
	return (uint64_t)gen << 32 | (uint64_t)(port & 0xffff) << 16 |
	       (uint64_t)(node & 0xff) << 8 | (group & 7) << 5 |
	       (v6 & 1) << 4 | (kind & 15);
}

static struct view view_of(struct fuzz *f, int idx)
{
	uint64_t s = atomic_load(&f->slots[idx].state);

	return (struct view){
		.idx = idx, .fd = SLOT_FD + idx, .gen = s >> 32,
		.kind = s & 15, .v6 = (s >> 4) & 1, .group = (s >> 5) & 7,
		.node = (s >> 8) & 0xff, .port = (s >> 16) & 0xffff,
	};
}

/* Did the slot hold the same file all along? */
static bool stable(struct fuzz *f, const struct view *v)
{
	return v->kind != K_BUSY &&
	       (atomic_load(&f->slots[v->idx].state) >> 32) == v->gen;
}

static int pick_slot(struct worker *w)
{
	struct fuzz *f = w->f;
	int s;

	if (chance(w, 25))
		return atomic_load(&f->hot);
	s = rnd(w, f->nslots);
	atomic_store(&f->hot, s);
	return s;
}

/* A slot of at least @kind if a few tries find one, @pct percent of the
 * time; else any.
 */
static struct view pick(struct worker *w, int kind, unsigned int pct)
{
	struct view v = view_of(w->f, pick_slot(w));

	if (!chance(w, pct))
		return v;
	for (int i = 0; i < 4 && v.kind < kind; i++)
		v = view_of(w->f, rnd(w, w->f->nslots));
	return v;
}

static struct view pick_exact(struct worker *w, int kind, unsigned int pct)
{
	struct view v = view_of(w->f, pick_slot(w));

	if (!chance(w, pct))
		return v;
	for (int i = 0; i < 6 && v.kind != kind; i++)
		v = view_of(w->f, rnd(w, w->f->nslots));
	return v;
}

/* Put the new socket @fd in slot @idx instead of what it held; @fd itself
 * is closed. What the slot held is closed by dup2(), maybe for good.
 */
static void slot_install(struct worker *w, int idx, int fd, int kind, int v6,
			 int group, int node, int port)
{
	struct slot *s = &w->f->slots[idx];
	uint32_t gen;

	pthread_mutex_lock(&s->lock);
	gen = atomic_load(&s->state) >> 32;
	atomic_store(&s->state, st_pack(gen + 1, K_BUSY, 0, 0, 0, 0));
	dup2(fd, SLOT_FD + idx);
	atomic_store(&s->state, st_pack(gen + 2, kind, v6, group, node, port));
	pthread_mutex_unlock(&s->lock);
	close(fd);
	w->syscalls += 2;
}

/* Record what a successful call made of a slot's file, if it is still the
 * same file.
 */
static void slot_promote(struct worker *w, const struct view *v, int kind,
			 int group, int node, int port)
{
	struct slot *s = &w->f->slots[v->idx];

	if (w->child)
		return;
	pthread_mutex_lock(&s->lock);
	if ((atomic_load(&s->state) >> 32) == v->gen)
		atomic_store(&s->state, st_pack(v->gen, kind, v->v6, group,
						node, port));
	pthread_mutex_unlock(&s->lock);
}

/* ---- accounting and judging ---- */

static const char *const op_name[NR_OPS] = {
	[OP_PAIR] = "pair", [OP_SOCKET] = "socket", [OP_LISTEN] = "listen",
	[OP_CONNECT] = "connect", [OP_ACCEPT] = "accept",
	[OP_SELFCONN] = "selfconnect", [OP_ULP] = "tcp_ulp",
	[OP_JOIN] = "join", [OP_SETOPT_CAUSAL] = "setopt_causal",
	[OP_SETOPT_SOCK] = "setopt_socket", [OP_SETOPT_TCP] = "setopt_tcp",
	[OP_GETOPT] = "getsockopt", [OP_IOCTL] = "ioctl", [OP_SEND] = "send",
	[OP_SENDMMSG] = "sendmmsg", [OP_FLOOD] = "flood", [OP_RECV] = "recv",
	[OP_RECVMMSG] = "recvmmsg", [OP_DRAIN] = "drain", [OP_POLL] = "poll",
	[OP_EPOLL] = "epoll",
	[OP_SHUTDOWN] = "shutdown", [OP_DISCONNECT] = "disconnect",
	[OP_CLOSE] = "close", [OP_LINGER_CLOSE] = "linger0_close",
	[OP_DUP] = "dup", [OP_SPLICE] = "splice", [OP_SENDFILE] = "sendfile",
	[OP_FORK] = "fork", [OP_SIGNAL] = "signal",
	[OP_ZEROCOPY] = "zerocopy_recv",
};

static void violation(struct worker *w, int kind, const char *fmt, ...)
{
	uint64_t n;
	char msg[256];
	va_list ap;

	if (w->child)
		return;
	n = atomic_fetch_add(&w->f->violations[kind], 1);
	if (n >= VIOLATIONS_SHOWN)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "# violation %s: worker %d, its op %llu (%s): %s\n",
		violation_name[kind], w->id, (unsigned long long)w->ops,
		op_name[atomic_load(&w->cur_op)], msg);
}

/* One fuzzed syscall of @op on @v returned @ret (errno @err): count it and
 * check the error against @allowed.
 */
static void judge(struct worker *w, int op, const struct view *v, long ret,
		  int err, uint64_t allowed)
{
	int i = ret < 0 ? errno_index(err) : -1;

	w->syscalls++;
	if (w->child)
		return;
	w->res[op][ret >= 0 ? 0 : i < 0 ? ERR_BUCKETS - 1 : i + 1]++;
	if (ret >= 0)
		return;
	if (i < 0) {
		violation(w, V_ERRNO, "errno %d (%s) on a %s slot", err, strerror(err),
			  v ? kind_name[v->kind] : "-");
		return;
	}
	if (v && !stable(w->f, v))
		allowed |= E_RACE;
	if (err == EBADF && v && (v->kind == K_EMPTY || !stable(w->f, v)))
		return;
	if (!(allowed & (1ULL << i)))
		violation(w, V_ERRNO, "%s on a %s slot", fuzz_errno_name[i],
			  v ? kind_name[v->kind] : "-");
}

/* A MSG_DONTWAIT call on @v that began at @start returned: keep the
 * slowest, and on a causal socket fail one that waited.
 */
static void nonblock_time(struct worker *w, int op, const struct view *v,
			  uint64_t start)
{
	uint64_t d = cu_mono_ns() - start;
	bool causal = v->kind == K_JOINED && stable(w->f, v);

	if (d > w->nonblock_max_ns[causal]) {
		w->nonblock_max_ns[causal] = d;
		w->nonblock_max_op[causal] = op;
	}
	if (causal && d > w->f->nonblock_ns)
		violation(w, V_NONBLOCK, "MSG_DONTWAIT %s took %llu ms",
			  op_name[op], (unsigned long long)(d / 1000000));
}

static void set_timeouts(struct worker *w, int fd)
{
	struct timeval snd = { .tv_usec = 1000 * (5 + rnd(w, 45)) };
	struct timeval rcv = { .tv_usec = 1000 * (1 + rnd(w, 30)) };

	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &snd, sizeof(snd));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &rcv, sizeof(rcv));
	w->syscalls += 2;
}

/* The ULP a socket carries, "" for none. */
static void ulp_name(int fd, char *name, socklen_t size)
{
	socklen_t len = size;

	memset(name, 0, size);
	if (getsockopt(fd, SOL_TCP, TCP_ULP, name, &len))
		name[0] = 0;
}

enum { NO_ULP_ACCEPTED, NO_ULP_LISTENING, NO_ULP_DISCONNECTED };

/* A socket that must never carry the ULP: accepted from a listener (@v
 * NULL: @fd is ours alone), listening, or disconnected. The last two are
 * in slot @v: only the same file counts, and only while it is in that state
 * (other workers may have connected it again and attached the ULP since).
 */
static void check_no_ulp(struct worker *w, const struct view *v, int fd,
			 int what)
{
	static const char *const what_name[] = { "accepted", "listening",
						 "disconnected" };
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int listening = 0;
	char name[16];

	if (w->child)
		return;
	ulp_name(fd, name, sizeof(name));
	w->syscalls++;
	if (strcmp(name, CAUSAL_ULP_NAME))
		return;
	if (what == NO_ULP_LISTENING) {
		len = sizeof(listening);
		if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) ||
		    !listening)
			return;
	} else if (what == NO_ULP_DISCONNECTED &&
		   (!getpeername(fd, (struct sockaddr *)&ss, &len) ||
		    errno != ENOTCONN)) {
		return;
	}
	if (v && !stable(w->f, v))
		return;
	violation(w, V_ULP_STATE, "%s socket carries the causal ULP",
		  what_name[what]);
}

static const struct fuzz_group *pick_group(struct worker *w, int *gi)
{
	unsigned int sum = 0, r;
	size_t i;

	for (i = 0; i < NR_GROUPS; i++)
		sum += groups[i].weight;
	r = rnd(w, sum);
	for (i = 0; r >= groups[i].weight; i++)
		r -= groups[i].weight;
	*gi = i;
	return &groups[i];
}

static int loopback(int v6, uint16_t port, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (v6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;

		a->sin6_family = AF_INET6;
		a->sin6_addr = in6addr_loopback;
		a->sin6_port = htons(port);
		return sizeof(*a);
	}
	struct sockaddr_in *a = (struct sockaddr_in *)ss;

	a->sin_family = AF_INET;
	a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a->sin_port = htons(port);
	return sizeof(*a);
}

static int local_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len))
		return 0;
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);	/* same offset in v6 */
}

/* ---- socket life ---- */

static int join_valid(struct worker *w, int fd, int gi, int node)
{
	struct causal_join j = {
		.group = groups[gi].id, .node = node,
		.nodes = groups[gi].nodes,
		.flags = groups[gi].flags |
			 (chance(w, 30) ? CAUSAL_F_RECV_INFO : 0),
	};

	return setsockopt(fd, SOL_CAUSAL, CAUSAL_JOIN, &j, sizeof(j));
}

/* Attach and join @fd to node @node of group @gi; K_JOINED on success.
 * Attaching may fail with @may_fail besides memory.
 */
static int make_causal(struct worker *w, int fd, bool join, int gi, int node,
		       uint64_t may_fail)
{
	int kind = K_TCP;
	long ret;

	ret = causal_attach(fd);
	judge(w, OP_PAIR, NULL, ret, errno, E_MEM | may_fail);
	if (ret)
		return kind;
	kind = K_ULP;
	if (!join)
		return kind;
	ret = join_valid(w, fd, gi, node);
	judge(w, OP_PAIR, NULL, ret, errno, E_MEM);
	return ret ? kind : K_JOINED;
}

static void op_pair(struct worker *w)
{
	struct fuzz *f = w->f;
	int v6 = chance(w, 20), a, b, ka = K_TCP, kb = K_TCP, gi, gb, i, j;
	int sa, sb, mode = rnd(w, 100);
	const struct fuzz_group *g = pick_group(w, &gi);
	long ret;

	ret = cu_tcp_pair(v6 ? AF_INET6 : AF_INET, false, &a, &b) ? -1 : 0;
	judge(w, OP_PAIR, NULL, ret, errno,
	      EM(EADDRNOTAVAIL) | EM(EADDRINUSE) | E_MEM | E_WAIT | E_CONN);
	if (ret)
		return;
	w->syscalls += 6;
	set_timeouts(w, a);
	set_timeouts(w, b);

	/* Two nodes of one group, now and then the same node twice (its own
	 * HELLO comes back) or the peer in another group.
	 */
	i = rnd(w, g->nodes);
	j = (i + 1 + rnd(w, g->nodes - 1)) % g->nodes;
	gb = gi;
	if (chance(w, 4))
		j = i;
	else if (chance(w, 4))
		j = rnd(w, groups[gb = rnd(w, NR_GROUPS)].nodes);

	if (mode < 60) {		/* a channel */
		ka = make_causal(w, a, true, gi, i, 0);
		kb = make_causal(w, b, true, gb, j, 0);
	} else if (mode < 75) {		/* one side speaks raw TCP */
		ka = make_causal(w, a, true, gi, i, 0);
	} else if (mode < 85) {		/* attached, joined later if ever */
		ka = make_causal(w, a, false, 0, 0, 0);
		kb = make_causal(w, b, false, 0, 0, 0);
	}

	sa = rnd(w, f->nslots);
	sb = (sa + 1 + rnd(w, f->nslots - 1)) % f->nslots;
	slot_install(w, sa, a, ka, v6, ka == K_JOINED ? gi + 1 : 0, i, 0);
	slot_install(w, sb, b, kb, v6, kb == K_JOINED ? gb + 1 : 0, j, 0);
}

static void op_socket(struct worker *w)
{
	int v6 = chance(w, 20), fd;
	struct sockaddr_storage ss;
	int len;

	fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
	judge(w, OP_SOCKET, NULL, fd, errno, E_MEM);
	if (fd < 0)
		return;
	set_timeouts(w, fd);
	if (chance(w, 50)) {
		len = loopback(v6, 0, &ss);
		judge(w, OP_SOCKET, NULL, bind(fd, (struct sockaddr *)&ss, len),
		      errno, EM(EADDRINUSE) | EM(EADDRNOTAVAIL));
	}
	slot_install(w, pick_slot(w), fd, K_UNCONN, v6, 0, 0, 0);
}

static void op_listen(struct worker *w)
{
	struct view v = pick_exact(w, K_UNCONN, 70);
	struct sockaddr_storage ss;
	long ret;
	int len;

	if (v.kind == K_UNCONN || chance(w, 10)) {
		len = loopback(v.v6, 0, &ss);
		ret = bind(v.fd, (struct sockaddr *)&ss, len);
		judge(w, OP_LISTEN, &v, ret, errno,
		      EM(EINVAL) | EM(EADDRINUSE) | EM(EADDRNOTAVAIL) |
		      EM(EAFNOSUPPORT));
	}
	ret = listen(v.fd, rnd(w, 17));
	judge(w, OP_LISTEN, &v, ret, errno,
	      EM(EINVAL) | EM(EADDRINUSE) | EM(EOPNOTSUPP));
	if (ret)
		return;
	if (v.kind >= K_ULP && stable(w->f, &v))
		violation(w, V_ULP_STATE, "listen() succeeded on a causal socket");
	check_no_ulp(w, &v, v.fd, NO_ULP_LISTENING);
	slot_promote(w, &v, K_LISTEN, 0, 0, local_port(v.fd));
}

/* A listening slot's address, else a port nobody listens on. */
static int connect_target(struct worker *w, int v6, struct sockaddr_storage *ss)
{
	for (int i = 0; i < 4; i++) {
		struct view l = view_of(w->f, rnd(w, w->f->nslots));

		if (l.kind == K_LISTEN && l.port && (l.v6 == v6 || chance(w, 10)))
			return loopback(l.v6, l.port, ss);
	}
	return loopback(v6, 1 + rnd(w, 1000), ss);
}

static void op_connect(struct worker *w)
{
	struct view v = pick_exact(w, K_UNCONN, 70);
	struct sockaddr_storage ss;
	int len = connect_target(w, v.v6, &ss);
	uint64_t allowed;
	long ret;

	ret = connect(v.fd, (struct sockaddr *)&ss, len);
	allowed = EM(EISCONN) | EM(EALREADY) | EM(EINPROGRESS) | EM(EINVAL) |
		  EM(EAFNOSUPPORT) | EM(EADDRNOTAVAIL) | EM(EADDRINUSE) |
		  E_CONN | E_WAIT | E_MEM;
	/* A causal socket is connected. One whose non-blocking connect the
	 * application never finished is still "connecting" to the socket
	 * layer: TCP's connect() then reports how it ended, success or the
	 * error that closed it, as for any TCP socket.
	 */
	if (v.kind >= K_ULP)
		allowed = EM(EISCONN) | EM(EALREADY) | EM(EINVAL) |
			  EM(EAFNOSUPPORT) | EM(EINTR) | E_CONN;
	judge(w, OP_CONNECT, &v, ret, errno, allowed);
	if (ret || v.kind >= K_ULP)
		return;
	slot_promote(w, &v, K_TCP, 0, 0, 0);
}

static void op_accept(struct worker *w)
{
	struct view v = pick_exact(w, K_LISTEN, 80);
	int fd, gi = 0, node = 0, kind = K_TCP;

	fd = accept4(v.fd, NULL, NULL, chance(w, 10) ? SOCK_NONBLOCK : 0);
	judge(w, OP_ACCEPT, &v, fd, errno,
	      v.kind >= K_ULP ? EM(EINVAL) | EM(EINTR) :
	      EM(EINVAL) | EM(ECONNABORTED) | E_WAIT | E_MEM);
	if (fd < 0)
		return;
	if (v.kind >= K_ULP && stable(w->f, &v))
		violation(w, V_ULP_STATE, "accept() succeeded on a causal socket");
	check_no_ulp(w, NULL, fd, NO_ULP_ACCEPTED);
	set_timeouts(w, fd);
	if (chance(w, 40)) {
		gi = rnd(w, NR_GROUPS);
		node = rnd(w, groups[gi].nodes);
		/* The peer may be gone already. */
		kind = make_causal(w, fd, chance(w, 80), gi, node,
				   EM(ENOTCONN));
	}
	slot_install(w, pick_slot(w), fd, kind, v.v6,
		     kind == K_JOINED ? gi + 1 : 0, node, 0);
}

/* A socket connected to itself (simultaneous open): a channel whose peer
 * is its own endpoint.
 */
static void op_selfconnect(struct worker *w)
{
	int v6 = chance(w, 20), fd, port, len, kind = K_TCP, gi = 0, node = 0;
	struct sockaddr_storage ss;
	long ret;

	fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
	judge(w, OP_SELFCONN, NULL, fd, errno, E_MEM);
	if (fd < 0)
		return;
	set_timeouts(w, fd);
	len = loopback(v6, 0, &ss);
	if (bind(fd, (struct sockaddr *)&ss, len) || !(port = local_port(fd))) {
		close(fd);
		return;
	}
	len = loopback(v6, port, &ss);
	ret = connect(fd, (struct sockaddr *)&ss, len);
	judge(w, OP_SELFCONN, NULL, ret, errno, E_CONN | E_WAIT |
	      EM(EINPROGRESS) | EM(EADDRNOTAVAIL));
	w->syscalls += 2;
	if (!ret && chance(w, 70)) {
		gi = rnd(w, NR_GROUPS);
		node = rnd(w, groups[gi].nodes);
		kind = make_causal(w, fd, true, gi, node, 0);
	}
	slot_install(w, pick_slot(w), fd, ret ? K_UNCONN : kind, v6,
		     kind == K_JOINED ? gi + 1 : 0, node, 0);
}

/* ---- ULP and JOIN ---- */

static void op_ulp(struct worker *w)
{
	struct view v = pick(w, K_TCP, 60);
	static const char *const names[] = { CAUSAL_ULP_NAME, "causa", "nope" };
	int r = rnd(w, 20), which = r < 18 ? 0 : r - 17;
	const char *name = names[which];
	socklen_t len = strlen(name) + (chance(w, 50) ? 1 : 0);
	uint64_t allowed;
	long ret;

	if (chance(w, 3))
		len = 0;
	ret = setsockopt(v.fd, SOL_TCP, TCP_ULP, name, len);
	allowed = EM(EEXIST) | EM(ENOENT) | EM(EINVAL) | EM(ENOTCONN) |
		  EM(EOPNOTSUPP) | E_MEM;
	if (v.kind >= K_ULP)
		allowed = EM(EEXIST) | EM(ENOENT) | EM(EINVAL);
	judge(w, OP_ULP, &v, ret, errno, allowed);
	if (ret)
		return;
	if (v.kind >= K_ULP && stable(w->f, &v))
		violation(w, V_ULP_STATE, "a second TCP_ULP succeeded");
	if (v.kind == K_TCP || v.kind == K_UNCONN)
		slot_promote(w, &v, K_ULP, 0, 0, 0);
}

static void op_join(struct worker *w)
{
	struct view v = pick_exact(w, K_ULP, 70);
	struct causal_join j;
	socklen_t len = sizeof(j);
	const void *opt = &j;
	bool valid = chance(w, 85), fault = false;
	uint64_t allowed;
	int gi, node = 0;
	long ret;

	pick_group(w, &gi);
	j = (struct causal_join){
		.group = groups[gi].id, .node = rnd(w, groups[gi].nodes),
		.nodes = groups[gi].nodes,
		.flags = groups[gi].flags | (chance(w, 30) ? CAUSAL_F_RECV_INFO : 0),
	};
	if (!valid) {
		j.group = STRAY_GROUP + rnd(w, 2);
		j.nodes = 1 + rnd(w, 8);
		j.node = rnd(w, j.nodes);
		j.flags = rnd(w, 8);
		switch (rnd(w, 10)) {
		case 0: j.group = 0; break;
		case 1: j.nodes = chance(w, 50) ? 0 : 65 + rnd(w, 1000); break;
		case 2: j.node = j.nodes + rnd(w, 3); break;
		case 3: j.flags |= 1U << (3 + rnd(w, 29)); break;
		case 4: j.reserved = 1 + rnd(w, 100); break;
		case 5: len = rnd(w, sizeof(j) * 2); break;
		case 6: opt = NULL; fault = true; break;
		case 7: opt = w->f->fault_page; fault = true; break;
		default: break;	/* a valid stray endpoint, or a mismatch */
		}
	}
	node = j.node;
	ret = setsockopt(v.fd, SOL_CAUSAL, CAUSAL_JOIN, opt, len);
	allowed = EM(EINVAL) | EM(EBUSY) | EM(ENOPROTOOPT) | E_MEM |
		  (fault ? EM(EFAULT) : 0);
	if (v.kind >= K_ULP)
		allowed &= ~EM(ENOPROTOOPT);
	/* Attached, not joined: a valid JOIN succeeds unless another
	 * worker's came first.
	 */
	if (v.kind == K_ULP && valid)
		allowed = EM(EBUSY) | E_MEM;
	if (v.kind == K_JOINED)
		allowed = EM(EBUSY) | EM(EINVAL) | (fault ? EM(EFAULT) : 0);
	judge(w, OP_JOIN, &v, ret, errno, allowed);
	if (ret)
		return;
	if (v.kind == K_JOINED && stable(w->f, &v))
		violation(w, V_ULP_STATE, "a second JOIN succeeded");
	slot_promote(w, &v, K_JOINED, valid ? gi + 1 : 0, node, 0);
}

/* ---- options ---- */

static void op_setopt_causal(struct worker *w)
{
	struct view v = pick(w, K_JOINED, 70);
	uint8_t val[16] = {};
	int name, nodes = v.group ? groups[v.group - 1].nodes : 0;
	socklen_t len, want;
	uint64_t mask, allowed;
	bool valid;
	long ret;

	switch (rnd(w, 4)) {
	case 0: {
		uint64_t all = (nodes == 64 ? ~0ULL : (1ULL << nodes) - 1) &
			       ~(1ULL << v.node);

		name = CAUSAL_PEERS;
		want = sizeof(mask);
		mask = chance(w, 50) ? all : chance(w, 60) ? next(w) & all :
		       next(w);
		valid = (mask & ~all) == 0;
		memcpy(val, &mask, sizeof(mask));
		break;
	}
	case 1: {
		uint32_t ms = chance(w, 90) ? rnd(w, 100) : ~0U;

		name = CAUSAL_HOLD_TIMEOUT;
		want = sizeof(ms);
		valid = true;
		memcpy(val, &ms, sizeof(ms));
		break;
	}
	case 2: {
		int on = rnd(w, 2);

		name = chance(w, 50) ? CAUSAL_RECV_INFO : CAUSAL_RECV_BATCH;
		want = sizeof(on);
		valid = true;
		memcpy(val, &on, sizeof(on));
		break;
	}
	default:
		name = chance(w, 50) ? CAUSAL_INFO : LAST_OPT + 1 + rnd(w, 100);
		want = 8;
		valid = false;
		break;
	}
	len = chance(w, 80) ? want : rnd(w, sizeof(val) + 1);
	valid &= len == want || (is_bool_opt(name) && len >= want);

	ret = setsockopt(v.fd, SOL_CAUSAL, name, val, len);
	allowed = EM(EINVAL) | EM(ENOTCONN) | EM(ENOPROTOOPT);
	if (v.kind == K_JOINED && valid && v.group)
		allowed = 0;
	judge(w, OP_SETOPT_CAUSAL, &v, ret, errno, allowed);
	if (!ret && v.kind >= K_ULP && stable(w->f, &v) &&
	    (name == CAUSAL_INFO || name == CAUSAL_VCLOCK || name > LAST_OPT))
		violation(w, V_OPTION, "setsockopt(SOL_CAUSAL, %d) succeeded", name);
}

static void op_setopt_sock(struct worker *w)
{
	struct view v = pick(w, K_TCP, 50);
	struct timeval tv = { .tv_usec = 1000 * (1 + rnd(w, 100)) };
	struct linger lg = { .l_onoff = rnd(w, 2), .l_linger = rnd(w, 2) };
	int val = 0, name, r = rnd(w, 9);
	const void *opt = &val;
	socklen_t len = sizeof(val);
	long ret;

	switch (r) {
	case 0: name = SO_RCVTIMEO; opt = &tv; len = sizeof(tv); break;
	case 1: name = SO_SNDTIMEO; opt = &tv; len = sizeof(tv); break;
	case 2: name = SO_RCVBUF; val = 1 + rnd(w, 128 * 1024); break;
	case 3: name = SO_SNDBUF; val = 1 + rnd(w, 128 * 1024); break;
	case 4: name = SO_LINGER; opt = &lg; len = sizeof(lg); break;
	case 5: name = SO_KEEPALIVE; val = rnd(w, 2); break;
	case 6: name = SO_ZEROCOPY; val = rnd(w, 2); break;
	case 7: name = SO_RCVLOWAT; val = 1 + rnd(w, 64 * 1024); break;
	default: name = SO_PEEK_OFF; val = rnd(w, 3) - 1; break;
	}
	if (chance(w, 5))
		len = rnd(w, len);
	ret = setsockopt(v.fd, SOL_SOCKET, name, opt, len);
	judge(w, OP_SETOPT_SOCK, &v, ret, errno,
	      EM(EINVAL) | EM(EOPNOTSUPP) | EM(ENOPROTOOPT) | EM(EDOM) |
	      EM(ENOBUFS) | EM(EPERM));
}

static void op_setopt_tcp(struct worker *w)
{
	struct view v = pick(w, K_TCP, 60);
	static const int names[] = {
		TCP_NODELAY, TCP_CORK, TCP_QUICKACK, TCP_USER_TIMEOUT,
		TCP_NOTSENT_LOWAT, TCP_WINDOW_CLAMP, TCP_INQ, TCP_MAXSEG,
		TCP_DEFER_ACCEPT, TCP_KEEPIDLE,
	};
	int name = names[rnd(w, sizeof(names) / sizeof(names[0]))];
	int val = rnd(w, 2);
	long ret;

	if (name == TCP_USER_TIMEOUT)
		val = chance(w, 50) ? 0 : 10 + rnd(w, 500);
	else if (name == TCP_NOTSENT_LOWAT || name == TCP_WINDOW_CLAMP)
		val = 256 + rnd(w, 64 * 1024);
	else if (name == TCP_MAXSEG)
		val = 64 + rnd(w, 2000);
	else if (name == TCP_KEEPIDLE || name == TCP_DEFER_ACCEPT)
		val = 1 + rnd(w, 10);
	ret = setsockopt(v.fd, SOL_TCP, name, &val, sizeof(val));
	judge(w, OP_SETOPT_TCP, &v, ret, errno,
	      EM(EINVAL) | EM(ENOPROTOOPT) | EM(EOPNOTSUPP));
}

/* Check what a joined socket reports about itself. */
static void check_causal_opt(struct worker *w, const struct view *v, int name,
			     const uint8_t *val, socklen_t len, int asked)
{
	const struct fuzz_group *g = &groups[v->group - 1];
	uint64_t all = (g->nodes == 64 ? ~0ULL : (1ULL << g->nodes) - 1);
	struct causal_info info;
	uint64_t peers;
	int on;

	switch (name) {
	case CAUSAL_INFO:
		if (len != (asked < (int)sizeof(info) ? asked : sizeof(info))) {
			violation(w, V_OPTION, "CAUSAL_INFO wrote back length %u for %d",
				  len, asked);
			return;
		}
		if (len < sizeof(info))
			break;
		memcpy(&info, val, sizeof(info));
		if (info.state <= CAUSAL_CH_FAILED)
			w->info_state[info.state]++;
		w->info_paused += info.holdback_bytes >= 64 * 1024;
		if (info.group != g->id || info.node != v->node ||
		    info.nodes != g->nodes || info.flags != g->flags ||
		    info.state < CAUSAL_CH_JOINED || info.state > CAUSAL_CH_FAILED ||
		    (info.peer != CAUSAL_PEER_NONE && info.peer >= g->nodes))
			violation(w, V_OPTION, "CAUSAL_INFO group %#x node %u/%u flags %#x state %u peer %u, joined %#x node %d/%u flags %#x",
				  info.group, info.node, info.nodes, info.flags,
				  info.state, info.peer, g->id, v->node, g->nodes,
				  g->flags);
		break;
	case CAUSAL_VCLOCK:
		if (len != g->nodes * sizeof(uint64_t))
			violation(w, V_OPTION, "CAUSAL_VCLOCK wrote back length %u for %u nodes",
				  len, g->nodes);
		break;
	case CAUSAL_PEERS:
		memcpy(&peers, val, sizeof(peers));
		if (len != sizeof(peers) || (peers & ~all) ||
		    (peers & (1ULL << v->node)))
			violation(w, V_OPTION, "CAUSAL_PEERS %#llx (length %u) for node %d of %u",
				  (unsigned long long)peers, len, v->node,
				  g->nodes);
		break;
	case CAUSAL_RECV_INFO:
	case CAUSAL_RECV_BATCH:
		memcpy(&on, val, sizeof(on));
		if (len != sizeof(on) || (on != 0 && on != 1))
			violation(w, V_OPTION, "option %d is %d (length %u)", name,
				  on, len);
		break;
	}
}

static void op_getopt(struct worker *w)
{
	struct view v = pick(w, K_JOINED, 70);
	uint8_t val[1024] __attribute__((aligned(8)));
	int name = rnd(w, LAST_OPT + 2), level = SOL_CAUSAL;
	static const int lens[] = { -1, 0, 1, 4, 7, 8, 16, 63, 511, 512 };
	int need = 0, len, asked;
	bool fault = false, known;
	socklen_t *lenp = (socklen_t *)&len;
	void *opt = val;
	uint64_t allowed;
	long ret;

	switch (name) {
	case CAUSAL_PEERS: need = 8; break;
	case CAUSAL_HOLD_TIMEOUT: case CAUSAL_RECV_INFO: case CAUSAL_RECV_BATCH:
		need = 4;
		break;
	/* It grows at its end: any length gets its first bytes. */
	case CAUSAL_INFO: need = 0; break;
	case CAUSAL_VCLOCK:
		need = v.group ? groups[v.group - 1].nodes * 8 : 8;
		break;
	}
	len = chance(w, 60) && need ? need + rnd(w, 2) * rnd(w, 64) :
	      name == CAUSAL_INFO && chance(w, 60) ?
	      (int)sizeof(struct causal_info) + rnd(w, 2) * rnd(w, 64) :
	      lens[rnd(w, sizeof(lens) / sizeof(lens[0]))];
	asked = len;
	if (chance(w, 3)) {
		opt = chance(w, 50) ? NULL : w->f->fault_page;
		fault = len > 0;
	} else if (chance(w, 2)) {
		lenp = w->f->fault_page;
		fault = true;
	}
	if (chance(w, 15)) {
		level = SOL_TCP;
		name = chance(w, 50) ? TCP_ULP : TCP_INFO;
	}
	ret = getsockopt(v.fd, level, name, opt, lenp);
	known = name >= CAUSAL_PEERS && name <= LAST_OPT;
	/* IPv4 answers a level it does not know with EOPNOTSUPP. */
	allowed = EM(EINVAL) | EM(ENOTCONN) | EM(ENOPROTOOPT) |
		  (v.kind < K_ULP ? EM(EOPNOTSUPP) : 0) |
		  (fault ? EM(EFAULT) : 0);
	if (level == SOL_CAUSAL && v.kind == K_JOINED && v.group && !fault)
		allowed = len < 0 ? EM(EINVAL) :
			  known && len >= need ? 0 :
			  known ? EM(EINVAL) : EM(ENOPROTOOPT);
	judge(w, OP_GETOPT, &v, ret, errno, allowed);
	if (ret || fault || !stable(w->f, &v))
		return;
	if (level == SOL_TCP && name == TCP_ULP && v.kind >= K_ULP &&
	    strncmp((char *)val, CAUSAL_ULP_NAME, len))
		violation(w, V_OPTION, "TCP_ULP reads \"%.*s\" on a causal socket", len, val);
	if (level == SOL_CAUSAL && v.kind == K_JOINED && v.group)
		check_causal_opt(w, &v, name, val, len, asked);
}

static void op_ioctl(struct worker *w)
{
	struct view v = pick(w, K_TCP, 60);
	static const unsigned long reqs[] = { SIOCINQ, SIOCOUTQ, SIOCOUTQNSD, FIONBIO };
	unsigned long req = reqs[rnd(w, 4)];
	int val = req == FIONBIO ? chance(w, 30) : 0;
	long ret;

	ret = ioctl(v.fd, req, &val);
	judge(w, OP_IOCTL, &v, ret, errno, EM(EINVAL));
	if (!ret && req != FIONBIO && val < 0)
		violation(w, V_OPTION, "ioctl %#lx says %d", req, val);
}

/* ---- send ---- */

static size_t send_size(struct worker *w)
{
	size_t max = w->f->max_msg;
	int r = rnd(w, 100);

	if (r < 5)
		return 0;
	if (r < 35)
		return 1 + rnd(w, 512);
	if (r < 65)
		return 513 + rnd(w, 4096 - 512);
	if (r < 88)
		return 4097 + rnd(w, 65536 - 4096);
	if (r < 95)
		return 65537 + rnd(w, 192 * 1024);
	if (r < 98)
		return max - rnd(w, 3);
	return max + 1 + rnd(w, 64 * 1024);
}

static void fill_head(uint8_t *buf, size_t size, bool fault)
{
	uint32_t magic = fault ? MSG_MAGIC_FAULT : MSG_MAGIC, len = size;

	if (size < MSG_HEAD) {
		/* Pattern alone: undo an earlier message's head. */
		for (size_t i = 0; i < MSG_HEAD; i++)
			buf[i] = pattern(i);
		return;
	}
	memcpy(buf, &magic, 4);
	memcpy(buf + 4, &len, 4);
}

static int send_flags(struct worker *w)
{
	int flags = 0;

	if (chance(w, 40))
		flags |= MSG_DONTWAIT;
	if (chance(w, 10))
		flags |= MSG_MORE;
	if (chance(w, 3))
		flags |= MSG_OOB;
	if (chance(w, 50))
		flags |= MSG_NOSIGNAL;
	return flags;
}

/* What a send on @v may fail with. */
static uint64_t send_allowed(struct worker *w, const struct view *v,
			     size_t size, int flags, bool bad_cmsg, bool fault)
{
	uint64_t io = E_WAIT | E_CONN | E_CHAN | E_MEM | (fault ? EM(EFAULT) : 0);

	if (v->kind == K_JOINED) {
		if (flags & MSG_OOB)
			return EM(EOPNOTSUPP);
		if (size > w->f->max_msg)
			return EM(EMSGSIZE);
		if (bad_cmsg)
			return EM(EINVAL);
		return io;
	}
	/* Plain TCP, or a causal socket that may be joined meanwhile. */
	return io | EM(EOPNOTSUPP) | EM(EINVAL) |
	       (size > w->f->max_msg ? EM(EMSGSIZE) : 0);
}

static void check_sent(struct worker *w, const struct view *v, long ret,
		       size_t size)
{
	if (ret < 0 || v->kind != K_JOINED || (size_t)ret == size ||
	    !stable(w->f, v))
		return;
	/* A broadcast on an endpoint without a live channel. */
	if (!ret)
		violation(w, V_EMPTY_SEND, "a causal send of %zu bytes returned 0",
			  size);
	else
		violation(w, V_SEND_LENGTH, "a causal send of %zu bytes returned %ld",
			  size, ret);
}

static void op_send(struct worker *w)
{
	struct view v = pick(w, K_JOINED, 70);
	size_t size = send_size(w);
	int flags = send_flags(w), variant = rnd(w, 4);
	bool bcast = chance(w, 20), bad_cmsg = chance(w, 3);
	bool fault = size > 64 && chance(w, 3);
	uint8_t *buf = w->buf[0];
	struct iovec iov[4];
	char cbuf[CMSG_SPACE(0)] __attribute__((aligned(8))) = {};
	struct msghdr msg = { .msg_iov = iov };
	uint64_t start = cu_mono_ns();
	long ret;

	fill_head(buf, size, fault);
	if (fault)
		atomic_fetch_add(&w->f->fault_sends, 1);
	if (variant == 0 && !fault) {
		ret = send(v.fd, buf, size, flags);
		bad_cmsg = false;
	} else if (variant == 1 && !fault) {
		ret = write(v.fd, buf, size);
		flags = 0;
		bad_cmsg = false;
	} else {
		/* Up to four pieces of the same message; a fault ends it. */
		size_t off = 0;
		int n = 1 + rnd(w, 4);

		for (int i = 0; i < n; i++) {
			size_t piece = i == n - 1 ? size - off :
				       rnd(w, size - off + 1);

			iov[i].iov_base = buf + off;
			iov[i].iov_len = piece;
			off += piece;
		}
		msg.msg_iovlen = n;
		if (fault) {
			size_t keep = MSG_HEAD + rnd(w, size - MSG_HEAD);

			iov[0].iov_len = keep;
			iov[1].iov_base = w->f->fault_page;
			iov[1].iov_len = size - keep;
			msg.msg_iovlen = 2;
		}
		if (bcast || bad_cmsg) {
			struct cmsghdr *c = (struct cmsghdr *)cbuf;

			c->cmsg_level = SOL_CAUSAL;
			c->cmsg_type = bad_cmsg ? 3 + rnd(w, 100) :
				       CAUSAL_CMSG_BROADCAST;
			c->cmsg_len = CMSG_LEN(0);
			msg.msg_control = cbuf;
			msg.msg_controllen = sizeof(cbuf);
		}
		ret = sendmsg(v.fd, &msg, flags);
	}
	judge(w, OP_SEND, &v, ret, errno,
	      send_allowed(w, &v, size, flags, bad_cmsg, fault));
	if (flags & MSG_DONTWAIT)
		nonblock_time(w, OP_SEND, &v, start);
	check_sent(w, &v, ret, size);
}

static void op_sendmmsg(struct worker *w)
{
	struct view v = pick(w, K_JOINED, 70);
	struct mmsghdr mm[SEND_BUFS] = {};
	struct iovec iov[SEND_BUFS];
	char cbuf[SEND_BUFS][CMSG_SPACE(0)] __attribute__((aligned(8))) = {};
	int n = 1 + rnd(w, SEND_BUFS), flags = send_flags(w) & ~MSG_OOB;
	uint64_t start = cu_mono_ns();
	long ret;

	for (int i = 0; i < n; i++) {
		size_t size = rnd(w, 4) ? rnd(w, 2048) : rnd(w, SMALL_BUF - 64);

		fill_head(w->buf[i], size, false);
		iov[i] = (struct iovec){ w->buf[i], size };
		mm[i].msg_hdr.msg_iov = &iov[i];
		mm[i].msg_hdr.msg_iovlen = 1;
		if (chance(w, 25)) {
			struct cmsghdr *c = (struct cmsghdr *)cbuf[i];

			c->cmsg_level = SOL_CAUSAL;
			c->cmsg_type = CAUSAL_CMSG_BROADCAST;
			c->cmsg_len = CMSG_LEN(0);
			mm[i].msg_hdr.msg_control = cbuf[i];
			mm[i].msg_hdr.msg_controllen = sizeof(cbuf[i]);
		}
	}
	ret = sendmmsg(v.fd, mm, n, flags);
	judge(w, OP_SENDMMSG, &v, ret, errno, send_allowed(w, &v, 0, flags,
							   false, false));
	if (flags & MSG_DONTWAIT)
		nonblock_time(w, OP_SENDMMSG, &v, start);
	for (int i = 0; i < ret; i++)
		check_sent(w, &v, mm[i].msg_len, iov[i].iov_len);
}

/* A burst of non-blocking messages on one channel: enough to fill the peer's
 * hold-back queue and pause its parser.
 */
static void op_flood(struct worker *w)
{
	struct view v = pick(w, K_JOINED, 90);
	int n = 4 + rnd(w, 29);
	uint64_t start;
	long ret;

	for (int i = 0; i < n; i++) {
		size_t size = 4096 + rnd(w, 28 * 1024);

		fill_head(w->buf[0], size, false);
		start = cu_mono_ns();
		ret = send(v.fd, w->buf[0], size, MSG_DONTWAIT);
		judge(w, OP_FLOOD, &v, ret, errno,
		      send_allowed(w, &v, size, MSG_DONTWAIT, false, false));
		nonblock_time(w, OP_FLOOD, &v, start);
		check_sent(w, &v, ret, size);
		if (ret < 0)
			break;
	}
}

/* ---- receive ---- */

static size_t recv_len(struct worker *w)
{
	int r = rnd(w, 100);

	if (r < 5)
		return 0;
	if (r < 15)
		return 1 + rnd(w, MSG_HEAD * 2);
	if (r < 55)
		return 1 + rnd(w, 4096);
	if (r < 90)
		return 4097 + rnd(w, 61440);
	return 65537 + rnd(w, RECV_BUF - 65536);
}

static int recv_flags(struct worker *w)
{
	int flags = 0;

	if (chance(w, 15))
		flags |= MSG_PEEK;
	if (chance(w, 50))
		flags |= MSG_DONTWAIT;
	if (chance(w, 15))
		flags |= MSG_TRUNC;
	if (chance(w, 10))
		flags |= MSG_WAITALL;
	if (chance(w, 3))
		flags |= MSG_OOB;
	if (chance(w, 3))
		flags |= MSG_ERRQUEUE;
	return flags;
}

static uint64_t recv_allowed(const struct view *v, int flags, bool fault)
{
	uint64_t io = E_WAIT | E_CONN | E_CHAN | E_MEM | (fault ? EM(EFAULT) : 0);

	if (v->kind == K_JOINED) {
		/* TCP's error queue; recvmmsg() may also see a signal. */
		if (flags & MSG_ERRQUEUE)
			return E_WAIT | (fault ? EM(EFAULT) : 0);
		if (flags & MSG_OOB)
			return EM(EOPNOTSUPP);
		return io;
	}
	return io | EM(EINVAL) | EM(EOPNOTSUPP);
}

/* Does the start of a message that was zero-filled from somewhere on match
 * a faulting send's? @p ends at the first byte that is neither.
 */
static bool zero_filled(const uint8_t *p, size_t copied)
{
	uint32_t magic = MSG_MAGIC_FAULT;
	size_t i = 0;

	while (i < copied && i < 4 && p[i] == ((uint8_t *)&magic)[i])
		i++;
	if (i == 4)	/* then the length, which may be cut too */
		for (i = copied < MSG_HEAD ? copied : MSG_HEAD;
		     i < copied && p[i] == pattern(i); i++)
			;
	while (i < copied && !p[i])
		i++;
	return i == copied;
}

/* A message of @full bytes (0 if unknown: cut short at @copied, or exactly
 * @copied long) was received into @p: is it one that was sent?
 */
static bool content_ok(struct worker *w, const uint8_t *p, size_t copied,
		       size_t full)
{
	uint32_t m1 = MSG_MAGIC, m2 = MSG_MAGIC_FAULT, magic = 0, size = 0;
	size_t i = 0, n = copied < 4 ? copied : 4;

	if (!copied)
		return true;
	if (p[0] == FILL) {
		while (i < copied && p[i] == FILL)
			i++;
		return i == copied;
	}
	if (copied >= MSG_HEAD) {
		memcpy(&magic, p, 4);
		memcpy(&size, p + 4, 4);
		if (magic == m1 && (full ? size != full : size < copied))
			return false;
		if (magic == m1 || (magic == m2 && (full ? size == full :
							 size >= copied)))
			i = MSG_HEAD;
	} else if ((!full || full >= MSG_HEAD) &&
		   (!memcmp(p, &m1, n) || !memcmp(p, &m2, n))) {
		return true;	/* the head of a longer message, cut short */
	}
	/* Pattern from i: behind a head, or all of a message too short for
	 * one.
	 */
	if (i || (full ? full < MSG_HEAD : copied < MSG_HEAD)) {
		size_t j = i;

		while (j < copied && p[j] == pattern(j))
			j++;
		if (j == copied)
			return true;
		if (magic == m1)
			return false;
	}
	/* What the module zero-filled behind a faulting send. */
	if (atomic_load(&w->f->fault_sends) && zero_filled(p, copied)) {
		w->zeroed_msgs++;
		return true;
	}
	return false;
}

/* A batched read's @copied bytes: records, each a message that was sent,
 * zero padding between them; only a lone first one may be @cut short.
 */
static bool records_ok(struct worker *w, const uint8_t *p, size_t copied,
		       bool cut)
{
	const size_t hdr = sizeof(struct causal_rec);
	size_t off = 0, end;
	struct causal_rec rec;

	if (copied < hdr)
		return cut;
	for (;;) {
		if (off + hdr > copied)
			return false;
		memcpy(&rec, p + off, hdr);
		end = off + hdr + rec.len;
		if (end > copied)
			return !off && cut &&
			       content_ok(w, p + hdr, copied - hdr, 0);
		if (!content_ok(w, p + off + hdr, rec.len, rec.len))
			return false;
		if (end == copied)
			return true;
		off = (end + CAUSAL_REC_ALIGN - 1) & ~(size_t)(CAUSAL_REC_ALIGN - 1);
		for (size_t i = end; i < off && i < copied; i++)
			if (p[i])
				return false;
	}
}

/* A receive on @v gave @ret for a buffer of @len; @msg_flags from the
 * msghdr, or -1 without one.
 */
static void check_received(struct worker *w, const struct view *v,
			   const uint8_t *p, size_t len, long ret, int flags,
			   int msg_flags)
{
	size_t copied, full;

	if (ret <= 0 || v->kind != K_JOINED || (flags & MSG_ERRQUEUE) ||
	    !stable(w->f, v))
		return;
	if (flags & MSG_TRUNC) {
		full = ret;
		copied = full < len ? full : len;
	} else {
		if ((size_t)ret > len) {
			violation(w, V_RECV_LENGTH, "recv returned %ld for %zu bytes", ret, len);
			return;
		}
		copied = ret;
		if (msg_flags >= 0)
			full = msg_flags & MSG_TRUNC ? 0 : copied;
		else
			full = copied < len ? copied : 0;
	}
	if (msg_flags >= 0 && !(flags & MSG_TRUNC) && (msg_flags & MSG_TRUNC) &&
	    copied < len)
		violation(w, V_RECV_LENGTH, "MSG_TRUNC set on %zu of a %zu-byte buffer",
			  copied, len);
	w->checked_msgs++;
	w->checked_bytes += copied;
	/* Which sockets read batched, dups and races hide: a read is one
	 * message or, failing that, records of them.
	 */
	if (!content_ok(w, p, copied, full) &&
	    records_ok(w, p, copied, msg_flags >= 0 ? msg_flags & MSG_TRUNC :
						      copied == len)) {
		w->batched_reads++;
		return;
	}
	if (!content_ok(w, p, copied, full)) {
		bool robbed = v->group &&
			      (atomic_load(&w->f->raw_read[v->group]) &
			       (1ULL << v->node));
		size_t at = MSG_HEAD;

		while (at < copied && p[at] == pattern(at))
			at++;
		violation(w, robbed ? V_RAW_READ : V_CONTENT,
			  "%smessage of %zu bytes (%zu copied, length %s) is not one that was sent: head %02x %02x %02x %02x %02x %02x %02x %02x, pattern up to byte %zu",
			  robbed ? "after a raw read of the endpoint's stream, " : "",
			  full, copied, full ? "known" : "unknown",
			  p[0], copied > 1 ? p[1] : 0, copied > 2 ? p[2] : 0,
			  copied > 3 ? p[3] : 0, copied > 4 ? p[4] : 0,
			  copied > 5 ? p[5] : 0, copied > 6 ? p[6] : 0,
			  copied > 7 ? p[7] : 0, at);
	}
}

static void check_info_cmsg(struct worker *w, const struct view *v,
			    struct msghdr *msg)
{
	const struct fuzz_group *g;
	struct causal_msg_info info;
	struct cmsghdr *c;
	uint64_t stamp;

	if (v->kind != K_JOINED || !v->group || !stable(w->f, v))
		return;
	g = &groups[v->group - 1];
	for (c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
		if (c->cmsg_level != SOL_CAUSAL || c->cmsg_type != CAUSAL_CMSG_INFO)
			continue;
		if (c->cmsg_len < CMSG_LEN(sizeof(info)))
			continue;	/* MSG_CTRUNC */
		memcpy(&info, CMSG_DATA(c), sizeof(info));
		/* Its channel was closed while it was being copied out. */
		w->closed_under_reader += !info.index;
		if (info.nodes != g->nodes || info.sender >= g->nodes ||
		    info.sender == v->node) {
			violation(w, V_CMSG_INFO, "CAUSAL_CMSG_INFO sender %u nodes %u on node %d of %u",
				  info.sender, info.nodes, v->node, g->nodes);
			continue;
		}
		if (c->cmsg_len < CMSG_LEN(sizeof(info) + g->nodes * 8))
			continue;
		memcpy(&stamp, CMSG_DATA(c) + sizeof(info) + info.sender * 8, 8);
		if (stamp != info.stamp || !stamp)
			violation(w, V_CMSG_INFO, "CAUSAL_CMSG_INFO stamp %llu, clock says %llu",
				  (unsigned long long)info.stamp,
				  (unsigned long long)stamp);
	}
}

static void op_recv(struct worker *w)
{
	struct view v = pick(w, K_JOINED, 70);
	size_t len = recv_len(w);
	int flags = recv_flags(w), variant = rnd(w, 4), msg_flags = -1;
	bool fault = chance(w, 2);
	uint8_t *p = fault ? w->f->fault_page : w->rbuf;
	char cbuf[CMSG_SPACE(sizeof(struct causal_msg_info) + 64 * 8)]
		__attribute__((aligned(8)));
	uint64_t start = cu_mono_ns();
	long ret;

	if (variant == 0) {
		ret = recv(v.fd, p, len, flags);
	} else if (variant == 1) {
		ret = read(v.fd, p, len);
		flags = 0;
	} else {
		struct iovec iov[2] = { { p, len / 2 }, { p + len / 2, len - len / 2 } };
		struct msghdr msg = { .msg_iov = iov, .msg_iovlen = 2 };

		if (chance(w, 70)) {
			msg.msg_control = cbuf;
			msg.msg_controllen = chance(w, 80) ? sizeof(cbuf) :
					     rnd(w, sizeof(cbuf));
		}
		ret = recvmsg(v.fd, &msg, flags);
		msg_flags = msg.msg_flags;
		if (ret >= 0 && !fault && msg.msg_controllen)
			check_info_cmsg(w, &v, &msg);
	}
	judge(w, OP_RECV, &v, ret, errno, recv_allowed(&v, flags, fault));
	if (flags & MSG_DONTWAIT)
		nonblock_time(w, OP_RECV, &v, start);
	if (!fault)
		check_received(w, &v, p, len, ret, flags, msg_flags);
}

static void op_recvmmsg(struct worker *w)
{
	struct view v = pick(w, K_JOINED, 70);
	struct mmsghdr mm[4] = {};
	struct iovec iov[4];
	struct timespec ts = { .tv_nsec = 1000000 * rnd(w, 10) };
	int n = 1 + rnd(w, 4), flags = recv_flags(w) & ~MSG_ERRQUEUE;
	size_t len = 1 + rnd(w, RECV_BUF / 4 - 1);
	long ret;

	if (chance(w, 30))
		flags |= MSG_WAITFORONE;
	for (int i = 0; i < n; i++) {
		iov[i] = (struct iovec){ w->rbuf + i * (RECV_BUF / 4), len };
		mm[i].msg_hdr.msg_iov = &iov[i];
		mm[i].msg_hdr.msg_iovlen = 1;
	}
	ret = recvmmsg(v.fd, mm, n, flags, chance(w, 50) ? &ts : NULL);
	/* recvmmsg() reports a pending socket error before anything else. */
	judge(w, OP_RECVMMSG, &v, ret, errno,
	      recv_allowed(&v, flags, false) | E_CONN | E_CHAN);
	for (int i = 0; i < ret; i++)
		check_received(w, &v, iov[i].iov_base, len, mm[i].msg_len, flags,
			       mm[i].msg_hdr.msg_flags);
}

/* Deliver a run of messages: with merged receive, from every channel of the
 * endpoint, each resuming a paused one's parser on its way.
 */
static void op_drain(struct worker *w)
{
	struct view v = pick(w, K_JOINED, 90);
	int n = 4 + rnd(w, 29);
	long ret;

	for (int i = 0; i < n; i++) {
		size_t len = 1 + rnd(w, 64 * 1024);

		ret = recv(v.fd, w->rbuf, len, MSG_DONTWAIT);
		judge(w, OP_DRAIN, &v, ret, errno, recv_allowed(&v, 0, false));
		check_received(w, &v, w->rbuf, len, ret, 0, -1);
		if (ret <= 0)
			break;
	}
}

/* ---- poll ---- */

static void op_poll(struct worker *w)
{
	struct pollfd pfd[4];
	struct view v[4];
	int n = 1 + rnd(w, 4);
	long ret;

	for (int i = 0; i < n; i++) {
		v[i] = pick(w, K_TCP, 50);
		pfd[i] = (struct pollfd){
			.fd = v[i].fd,
			.events = (chance(w, 80) ? POLLIN : 0) |
				  (chance(w, 50) ? POLLOUT : 0) |
				  (chance(w, 10) ? POLLPRI : 0) |
				  (chance(w, 20) ? POLLRDHUP : 0),
		};
	}
	ret = poll(pfd, n, rnd(w, 11));
	judge(w, OP_POLL, NULL, ret, errno, EM(EINTR) | E_MEM);
	for (int i = 0; i < ret && i < n; i++)
		if ((pfd[i].revents & POLLNVAL) && v[i].kind != K_EMPTY &&
		    stable(w->f, &v[i]))
			violation(w, V_POLL, "poll: POLLNVAL on a %s slot",
				  kind_name[v[i].kind]);
}

static void op_epoll(struct worker *w)
{
	struct view v = pick(w, K_TCP, 50);
	struct epoll_event ev = {
		.events = EPOLLIN | (chance(w, 50) ? EPOLLOUT : 0) |
			  (chance(w, 30) ? EPOLLET : 0) |
			  (chance(w, 10) ? EPOLLONESHOT : 0) |
			  (chance(w, 20) ? EPOLLRDHUP : 0),
		.data.u32 = v.idx,
	};
	struct epoll_event out[8];
	int r = rnd(w, 3), op = r == 0 ? EPOLL_CTL_ADD :
				r == 1 ? EPOLL_CTL_MOD : EPOLL_CTL_DEL;
	long ret;

	if (op == EPOLL_CTL_ADD && chance(w, 10))
		ev.events = EPOLLIN | EPOLLEXCLUSIVE;
	ret = epoll_ctl(w->epfd, op, v.fd, &ev);
	judge(w, OP_EPOLL, &v, ret, errno,
	      EM(EEXIST) | EM(ENOENT) | EM(EINVAL) | E_MEM);
	ret = epoll_wait(w->epfd, out, 8, rnd(w, 11));
	judge(w, OP_EPOLL, NULL, ret, errno, EM(EINTR));
}

/* ---- shutdown, disconnect, close, dup ---- */

static void op_shutdown(struct worker *w)
{
	struct view v = pick(w, K_TCP, 60);
	int how = chance(w, 3) ? 3 + rnd(w, 5) : rnd(w, 3);
	long ret;

	ret = shutdown(v.fd, how);
	judge(w, OP_SHUTDOWN, &v, ret, errno,
	      EM(ENOTCONN) | (how > SHUT_RDWR ? EM(EINVAL) : 0));
}

static void op_disconnect(struct worker *w)
{
	struct view v = pick(w, K_ULP, 60);
	struct sockaddr sa = { .sa_family = AF_UNSPEC };
	long ret;

	ret = connect(v.fd, &sa, sizeof(sa));
	judge(w, OP_DISCONNECT, &v, ret, errno,
	      v.kind >= K_ULP ? EM(EOPNOTSUPP) :
	      EM(EOPNOTSUPP) | EM(EINVAL) | EM(EALREADY) | E_WAIT);
	if (ret)
		return;
	if (v.kind >= K_ULP && stable(w->f, &v))
		violation(w, V_ULP_STATE, "connect(AF_UNSPEC) succeeded on a causal socket");
	check_no_ulp(w, &v, v.fd, NO_ULP_DISCONNECTED);
	if (v.kind != K_LISTEN)
		slot_promote(w, &v, K_UNCONN, 0, 0, 0);
}

/* Close slot @idx; with @linger0 after SO_LINGER {1, 0} (an abortive close,
 * no BYE).
 */
static void slot_close(struct worker *w, int op, int idx, bool linger0)
{
	struct slot *s = &w->f->slots[idx];
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	struct view v;
	uint32_t gen;
	long ret;

	if (w->child) {
		if (linger0)
			setsockopt(SLOT_FD + idx, SOL_SOCKET, SO_LINGER, &lg,
				   sizeof(lg));
		close(SLOT_FD + idx);
		return;
	}
	pthread_mutex_lock(&s->lock);
	v = view_of(w->f, idx);
	if (v.kind == K_EMPTY) {
		pthread_mutex_unlock(&s->lock);
		return;
	}
	gen = v.gen;
	if (linger0) {
		ret = setsockopt(v.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		judge(w, op, &v, ret, errno, 0);
	}
	atomic_store(&s->state, st_pack(gen + 1, K_BUSY, 0, 0, 0, 0));
	ret = close(v.fd);
	atomic_store(&s->state, st_pack(gen + 2, K_EMPTY, 0, 0, 0, 0));
	pthread_mutex_unlock(&s->lock);
	judge(w, op, NULL, ret, errno, 0);
}

static void op_close(struct worker *w)
{
	slot_close(w, OP_CLOSE, pick(w, K_JOINED, 50).idx, false);
}

static void op_linger_close(struct worker *w)
{
	slot_close(w, OP_LINGER_CLOSE, pick(w, K_JOINED, 60).idx, true);
}

/* Keep a slot's file open through a dup while the slot is closed, then
 * either put it in another slot too or close the dup after one more call.
 */
static void op_dup(struct worker *w)
{
	struct view v = pick(w, K_TCP, 70);
	int fd, to;
	char b;
	long ret;

	fd = dup(v.fd);
	judge(w, OP_DUP, &v, fd, errno, 0);
	if (fd < 0)
		return;
	if (!stable(w->f, &v)) {
		close(fd);
		return;
	}
	if (chance(w, 50)) {
		to = rnd(w, w->f->nslots);
		if (to != v.idx) {
			slot_install(w, to, fd, v.kind, v.v6, v.group, v.node,
				     v.port);
			return;
		}
	}
	slot_close(w, OP_DUP, v.idx, false);
	ret = recv(fd, &b, 1, MSG_DONTWAIT | MSG_PEEK);
	judge(w, OP_DUP, NULL, ret, errno, E_WAIT | E_CONN | E_CHAN | EM(EINVAL));
	close(fd);
	w->syscalls++;
}

/* ---- splice and sendfile ---- */

static void drain_pipe(struct worker *w)
{
	char b[4096];

	while (read(w->pipe[0], b, sizeof(b)) > 0)
		w->syscalls++;
}

static void op_splice(struct worker *w)
{
	struct view v = pick(w, K_JOINED, 70);
	size_t len = 1 + rnd(w, 64 * 1024);
	unsigned int flags = SPLICE_F_NONBLOCK | (chance(w, 30) ? SPLICE_F_MORE : 0);
	uint64_t allowed;
	long ret;

	if (chance(w, 70)) {
		size_t fill = len;

		while (fill) {
			size_t n = fill < SMALL_BUF ? fill : SMALL_BUF;

			if (write(w->pipe[1], fill_buf, n) <= 0)
				break;
			fill -= n;
		}
		ret = splice(w->pipe[0], NULL, v.fd, NULL, len, flags);
		allowed = E_WAIT | E_CONN | E_CHAN | E_MEM;
		if (v.kind < K_JOINED)
			allowed |= EM(EINVAL) | EM(EOPNOTSUPP);
	} else {
		ret = splice(v.fd, NULL, w->pipe[1], NULL, len, flags);
		/* A plain socket's splice sleeps unlocked: the ULP may come
		 * meanwhile, and its channel fail.
		 */
		allowed = v.kind >= K_ULP ? EM(EOPNOTSUPP) :
			  E_WAIT | E_CONN | E_CHAN | EM(EINVAL) | EM(EOPNOTSUPP) |
			  E_MEM;
		if (ret > 0 && v.kind >= K_ULP && stable(w->f, &v))
			violation(w, V_RAW_READ, "splice() read %ld raw bytes of a causal socket",
				  ret);
	}
	judge(w, OP_SPLICE, &v, ret, errno, allowed);
	drain_pipe(w);
}

static void op_sendfile(struct worker *w)
{
	struct view v = pick(w, K_JOINED, 70);
	off_t off = rnd(w, FILE_LEN);
	size_t len = 1 + rnd(w, FILE_LEN);
	long ret;

	ret = sendfile(v.fd, w->f->file, &off, len);
	judge(w, OP_SENDFILE, &v, ret, errno,
	      E_WAIT | E_CONN | E_CHAN | E_MEM |
	      (v.kind < K_JOINED ? EM(EINVAL) | EM(EOPNOTSUPP) : 0));
}

/* ---- fork, signals, zerocopy ---- */

static void run_op(struct worker *w, int op);

static const bool child_ok[NR_OPS] = {
	[OP_SEND] = true, [OP_RECV] = true, [OP_SHUTDOWN] = true,
	[OP_SETOPT_CAUSAL] = true, [OP_SETOPT_SOCK] = true,
	[OP_SETOPT_TCP] = true, [OP_GETOPT] = true, [OP_JOIN] = true,
	[OP_ULP] = true, [OP_POLL] = true, [OP_DISCONNECT] = true,
	[OP_CLOSE] = true, [OP_LINGER_CLOSE] = true, [OP_SENDFILE] = true,
};

/* A child shares every socket: a few calls on them, its own closes (which
 * drop only its references), and its exit releases what only it still
 * held. No locks: another thread may have held one when it forked.
 */
static void op_fork(struct worker *w)
{
	int status, ops = 1 + rnd(w, 8);
	pid_t pid;

	pid = fork();
	judge(w, OP_FORK, NULL, pid, errno, EM(EAGAIN) | E_MEM);
	if (pid < 0)
		return;
	if (!pid) {
		w->child = true;
		alarm(10);
		while (ops) {
			int op = rnd(w, NR_OPS);

			if (!child_ok[op])
				continue;
			run_op(w, op);
			ops--;
		}
		_exit(0);
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		violation(w, V_CHILD, "child %d ended with status %#x (SIGALRM: it hung)",
			  pid, status);
}

static void op_signal(struct worker *w)
{
	struct worker *to = &w->f->workers[rnd(w, w->f->threads)];

	if (to != w)
		pthread_kill(to->thread, SIGUSR1);
	w->syscalls++;
}

/* The uapi layout of struct tcp_zerocopy_receive; glibc's stops early. */
struct zc_receive {
	uint64_t address;
	uint32_t length;
	uint32_t recv_skip_hint;
	uint32_t inq;
	int32_t err;
	uint64_t copybuf_address;
	int32_t copybuf_len;
	uint32_t flags;
	uint64_t msg_control;
	uint64_t msg_controllen;
	uint32_t msg_flags;
	uint32_t reserved;
};

static void op_zerocopy(struct worker *w)
{
	struct view v = pick(w, K_JOINED, 80);
	struct zc_receive zc = {
		.copybuf_address = (uintptr_t)w->rbuf,
		.copybuf_len = 1 + rnd(w, RECV_BUF - 1),
	};
	socklen_t len = sizeof(zc);
	long ret;

	ret = getsockopt(v.fd, SOL_TCP, TCP_ZEROCOPY_RECEIVE, &zc, &len);
	judge(w, OP_ZEROCOPY, &v, ret, errno,
	      EM(EINVAL) | EM(ENOTCONN) | EM(EOPNOTSUPP) | EM(ENOPROTOOPT) |
	      EM(EIO) | E_WAIT | E_CONN | E_MEM);
	if (!ret && zc.copybuf_len > 0 && v.kind >= K_ULP && stable(w->f, &v)) {
		violation(w, V_RAW_READ, "TCP_ZEROCOPY_RECEIVE read %d raw bytes of a causal socket",
			  zc.copybuf_len);
		if (v.kind == K_JOINED && v.group)
			atomic_fetch_or(&w->f->raw_read[v.group], 1ULL << v.node);
	}
}

/* ---- the operation table ---- */

static const struct {
	op_fn fn;
	unsigned int class;
	unsigned int weight;
} ops[NR_OPS] = {
	[OP_PAIR] = { op_pair, C_SOCK, 20 },
	[OP_SOCKET] = { op_socket, C_SOCK, 6 },
	[OP_LISTEN] = { op_listen, C_SOCK, 10 },
	[OP_CONNECT] = { op_connect, C_SOCK, 15 },
	[OP_ACCEPT] = { op_accept, C_SOCK, 12 },
	[OP_SELFCONN] = { op_selfconnect, C_SOCK, 2 },
	[OP_ULP] = { op_ulp, C_ULP, 15 },
	[OP_JOIN] = { op_join, C_ULP, 25 },
	[OP_SETOPT_CAUSAL] = { op_setopt_causal, C_OPT, 25 },
	[OP_SETOPT_SOCK] = { op_setopt_sock, C_OPT, 30 },
	[OP_SETOPT_TCP] = { op_setopt_tcp, C_OPT, 20 },
	[OP_GETOPT] = { op_getopt, C_OPT, 45 },
	[OP_IOCTL] = { op_ioctl, C_OPT, 8 },
	[OP_SEND] = { op_send, C_SEND, 160 },
	[OP_SENDMMSG] = { op_sendmmsg, C_SEND, 30 },
	[OP_FLOOD] = { op_flood, C_SEND, 15 },
	[OP_RECV] = { op_recv, C_RECV, 160 },
	[OP_RECVMMSG] = { op_recvmmsg, C_RECV, 30 },
	[OP_DRAIN] = { op_drain, C_RECV, 15 },
	[OP_POLL] = { op_poll, C_POLL, 25 },
	[OP_EPOLL] = { op_epoll, C_POLL, 25 },
	[OP_SHUTDOWN] = { op_shutdown, C_CLOSE, 10 },
	[OP_DISCONNECT] = { op_disconnect, C_CLOSE, 8 },
	[OP_CLOSE] = { op_close, C_CLOSE, 15 },
	[OP_LINGER_CLOSE] = { op_linger_close, C_CLOSE, 10 },
	[OP_DUP] = { op_dup, C_CLOSE, 8 },
	[OP_SPLICE] = { op_splice, C_SPLICE, 15 },
	[OP_SENDFILE] = { op_sendfile, C_SPLICE, 12 },
	[OP_FORK] = { op_fork, C_FORK, 2 },
	[OP_SIGNAL] = { op_signal, C_SIGNAL, 8 },
	[OP_ZEROCOPY] = { op_zerocopy, C_ZC, 6 },
};

static void run_op(struct worker *w, int op)
{
	atomic_store(&w->cur_op, op);
	atomic_store(&w->cur_since, cu_mono_ns());
	ops[op].fn(w);
	atomic_store(&w->cur_since, 0);
}

static int pick_op(struct worker *w)
{
	struct fuzz *f = w->f;
	unsigned int r = rnd(w, f->weight_sum);
	int op;

	for (op = 0; op < NR_OPS; op++) {
		if (!(ops[op].class & f->classes))
			continue;
		if (r < ops[op].weight)
			break;
		r -= ops[op].weight;
	}
	return op;
}

static void on_sigusr1(int sig)
{
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct fuzz *f = w->f;

	atomic_store(&w->tid, gettid());
	pthread_barrier_wait(&f->start);
	while (w->ops < w->quota && !atomic_load(&f->stop)) {
		int op = pick_op(w);
		uint64_t calls = w->syscalls;

		if (cu_mono_ns() > f->deadline_ns)
			break;
		run_op(w, op);
		w->ops++;
		if (f->trace)
			fprintf(stderr, "# w%d %llu %s (%llu calls)\n", w->id,
				(unsigned long long)w->ops, op_name[op],
				(unsigned long long)(w->syscalls - calls));
	}
	pthread_barrier_wait(&f->done);
	return NULL;
}

/* ---- watchdog ---- */

static void print_stack(pid_t tid)
{
	char path[64], line[256];
	FILE *fp;

	snprintf(path, sizeof(path), "/proc/self/task/%d/stack", tid);
	fp = fopen(path, "r");
	if (!fp)
		return;
	while (fgets(line, sizeof(line), fp))
		fprintf(stderr, "#   %s", line);
	fclose(fp);
}

static void *watchdog_main(void *arg)
{
	struct fuzz *f = arg;
	uint64_t stall = f->stall * 1000000000ULL;

	while (!atomic_load(&f->stop)) {
		bool hung = false;

		sleep(1);
		for (unsigned int i = 0; i < f->threads; i++) {
			struct worker *w = &f->workers[i];
			uint64_t since = atomic_load(&w->cur_since);
			uint64_t now = cu_mono_ns();	/* after since */

			if (!since || now - since < stall)
				continue;
			hung = true;
			fprintf(stderr, "# causal_fuzz_sys: worker %u stuck for %llu s in %s (seed %llu, its op %llu); kernel stack:\n",
				i, (unsigned long long)((now - since) / 1000000000ULL),
				op_name[atomic_load(&w->cur_op)],
				(unsigned long long)f->seed,
				(unsigned long long)w->ops);
			print_stack(atomic_load(&w->tid));
		}
		if (hung) {
			fprintf(stderr, "# causal_fuzz_sys: a call that must be bounded hung: aborting\n");
			fflush(stderr);
			abort();
		}
	}
	return NULL;
}

/* ---- setup and the test ---- */

static unsigned long env_ul(const char *name, unsigned long def,
			    unsigned long min, unsigned long max)
{
	const char *s = getenv(name);
	unsigned long v;

	if (!s || !*s)
		return def;
	v = strtoul(s, NULL, 0);
	return v < min ? min : v > max ? max : v;
}

static unsigned int parse_classes(const char *s)
{
	unsigned int all = 0, on = 0, off = 0;
	char buf[256], *tok, *save;

	for (size_t i = 0; i < sizeof(class_names) / sizeof(class_names[0]); i++)
		all |= class_names[i].bit;
	if (!s || !*s)
		return all;
	snprintf(buf, sizeof(buf), "%s", s);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		bool minus = *tok == '-';
		size_t i;

		for (i = 0; i < sizeof(class_names) / sizeof(class_names[0]); i++)
			if (!strcmp(tok + minus, class_names[i].name))
				break;
		if (i == sizeof(class_names) / sizeof(class_names[0])) {
			fprintf(stderr, "# CAUSAL_FUZZ_CLASSES: no class %s\n", tok);
			continue;
		}
		*(minus ? &off : &on) |= class_names[i].bit;
	}
	return (on ? on : all) & ~off;
}

static uint64_t parse_allowed(const char *s)
{
	char buf[256], *tok, *save;
	uint64_t allowed = 0;

	if (!s)
		return 0;
	snprintf(buf, sizeof(buf), "%s", s);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		int k;

		for (k = 0; k < NR_VIOLATIONS; k++)
			if (!strcmp(tok, violation_name[k]))
				break;
		if (k == NR_VIOLATIONS)
			fprintf(stderr, "# CAUSAL_FUZZ_ALLOW: no check %s\n", tok);
		else
			allowed |= 1ULL << k;
	}
	return allowed;
}

#define PREEMPT_PATH	"/sys/kernel/debug/sched/preempt"

/* Switch the preemption model to @mode; returns the one that was on (the
 * word in parentheses, "none (voluntary) full"), or "" if it cannot.
 */
static const char *set_preempt(const char *mode)
{
	static char was[32];
	char line[128], *open, *close;
	FILE *fp;

	was[0] = 0;
	if (!mode || !*mode)
		return was;
	fp = fopen(PREEMPT_PATH, "r");
	if (!fp)
		return was;
	if (fgets(line, sizeof(line), fp) && (open = strchr(line, '(')) &&
	    (close = strchr(open, ')'))) {
		*close = 0;
		snprintf(was, sizeof(was), "%s", open + 1);
	}
	fclose(fp);
	fp = fopen(PREEMPT_PATH, "w");
	if (!fp || fputs(mode, fp) < 0 || fclose(fp)) {
		if (fp)
			fclose(fp);
		was[0] = 0;
	}
	return was;
}

/* What holds the module: TCP sockets other than listeners and TIME_WAIT. */
static void show_sockets(void)
{
	FILE *ss = popen("ss -Htanoie exclude listening exclude time-wait 2>&1 | head -n 40", "r");
	char line[512];

	if (!ss)
		return;
	while (fgets(line, sizeof(line), ss))
		fprintf(stderr, "#   %s", line);
	pclose(ss);
}

/* Sockets with the causal ULP in this namespace, whatever their state. */
static long causal_sockets_left(void)
{
	FILE *ss = popen("ss -Htnai 2>/dev/null", "r");
	char line[4096];
	long n = 0;

	if (!ss)
		return -1;
	while (fgets(line, sizeof(line), ss))
		n += strstr(line, "tcp-ulp-causal") != NULL;
	return pclose(ss) ? -1 : n;
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n - 1;	/* the directory's own */
}

static size_t read_max_msg(void)
{
	FILE *fp = fopen("/sys/module/causal/parameters/max_msg_size", "r");
	unsigned long v = 1 << 20;

	if (fp) {
		if (fscanf(fp, "%lu", &v) != 1)
			v = 1 << 20;
		fclose(fp);
	}
	return v;
}

static void worker_init(struct __test_metadata *_metadata, struct fuzz *f,
			struct worker *w, int id)
{
	w->f = f;
	w->id = id;
	w->rng = f->seed + id;
	w->quota = f->ops / f->threads + (id < f->ops % f->threads);
	ASSERT_EQ(pipe2(w->pipe, O_NONBLOCK), 0);
	w->epfd = epoll_create1(0);
	ASSERT_GE(w->epfd, 0);
	for (int i = 0; i < SEND_BUFS; i++) {
		size_t size = i ? SMALL_BUF : f->max_msg + 64 * 1024 + 64;

		w->buf[i] = malloc(size);
		ASSERT_NE(w->buf[i], NULL);
		for (size_t j = 0; j < size; j++)
			w->buf[i][j] = pattern(j);
	}
	w->rbuf = malloc(RECV_BUF);
	ASSERT_NE(w->rbuf, NULL);
}

static void worker_fini(struct worker *w)
{
	close(w->pipe[0]);
	close(w->pipe[1]);
	close(w->epfd);
	for (int i = 0; i < SEND_BUFS; i++)
		free(w->buf[i]);
	free(w->rbuf);
}

static void report(struct __test_metadata *_metadata, struct fuzz *f,
		   double secs)
{
	uint64_t total[NR_OPS][ERR_BUCKETS] = {}, ops = 0, calls = 0;
	uint64_t byerr[ERR_BUCKETS] = {}, msgs = 0, bytes = 0, zeroed = 0;
	uint64_t nb_max[2] = {}, states[CAUSAL_CH_FAILED + 1] = {}, paused = 0;
	uint64_t closed = 0, batched = 0;
	int nb_op[2] = {};
	char line[512];

	for (unsigned int i = 0; i < f->threads; i++) {
		struct worker *w = &f->workers[i];

		ops += w->ops;
		calls += w->syscalls;
		msgs += w->checked_msgs;
		bytes += w->checked_bytes;
		zeroed += w->zeroed_msgs;
		batched += w->batched_reads;
		paused += w->info_paused;
		closed += w->closed_under_reader;
		for (int st = 0; st <= CAUSAL_CH_FAILED; st++)
			states[st] += w->info_state[st];
		for (int c = 0; c < 2; c++) {
			if (w->nonblock_max_ns[c] > nb_max[c]) {
				nb_max[c] = w->nonblock_max_ns[c];
				nb_op[c] = w->nonblock_max_op[c];
			}
		}
		for (int op = 0; op < NR_OPS; op++)
			for (int e = 0; e < ERR_BUCKETS; e++)
				total[op][e] += w->res[op][e];
	}
	TH_LOG("seed %llu, %u workers, %u slots: %llu ops, %llu syscalls in %.1f s (%.0f ops/s)",
	       (unsigned long long)f->seed, f->threads, f->nslots,
	       (unsigned long long)ops, (unsigned long long)calls, secs,
	       ops / secs);
	for (int op = 0; op < NR_OPS; op++) {
		uint64_t n = 0;
		int len;

		for (int e = 0; e < ERR_BUCKETS; e++) {
			n += total[op][e];
			byerr[e] += total[op][e];
		}
		if (!n)
			continue;
		len = snprintf(line, sizeof(line), "%-14s %8llu calls, %8llu ok",
			       op_name[op], (unsigned long long)n,
			       (unsigned long long)total[op][0]);
		for (int e = 1; e < ERR_BUCKETS && len < (int)sizeof(line) - 32; e++)
			if (total[op][e])
				len += snprintf(line + len, sizeof(line) - len,
						", %s %llu",
						e == ERR_BUCKETS - 1 ? "other" :
						fuzz_errno_name[e - 1],
						(unsigned long long)total[op][e]);
		TH_LOG("%s", line);
	}
	line[0] = 0;
	for (int e = 1, len = 0; e < ERR_BUCKETS && len < (int)sizeof(line) - 32; e++)
		if (byerr[e])
			len += snprintf(line + len, sizeof(line) - len, "%s%s %llu",
					len ? ", " : "",
					e == ERR_BUCKETS - 1 ? "other" :
					fuzz_errno_name[e - 1],
					(unsigned long long)byerr[e]);
	TH_LOG("errors: %s", line);
	TH_LOG("messages checked: %llu (%llu bytes, %llu zero-filled after a faulting send, %llu whose channel closed while a reader copied them, %llu reads of records)",
	       (unsigned long long)msgs, (unsigned long long)bytes,
	       (unsigned long long)zeroed, (unsigned long long)closed,
	       (unsigned long long)batched);
	TH_LOG("channels seen by CAUSAL_INFO: %llu joined, %llu active, %llu left, %llu broken, %llu failed; %llu holding 64 KiB or more",
	       (unsigned long long)states[CAUSAL_CH_JOINED],
	       (unsigned long long)states[CAUSAL_CH_ACTIVE],
	       (unsigned long long)states[CAUSAL_CH_LEFT],
	       (unsigned long long)states[CAUSAL_CH_BROKEN],
	       (unsigned long long)states[CAUSAL_CH_FAILED],
	       (unsigned long long)paused);
	TH_LOG("slowest MSG_DONTWAIT call: %s %.1f ms on a causal socket, %s %.1f ms on another",
	       op_name[nb_op[1]], nb_max[1] / 1e6, op_name[nb_op[0]],
	       nb_max[0] / 1e6);
}

TEST(syscalls)
{
	struct fuzz *f = &fuzz;
	struct sigaction sa = { .sa_handler = on_sigusr1 };	/* no SA_RESTART */
	pthread_t watchdog;
	sigset_t block;
	long refcnt, now, left;
	int fds, ms;
	char preempt_was[32], classes[128] = "";
	const char *preempt;
	uint64_t start;
	double secs;

	causal_require_module(_metadata);
	f->seed = env_ul("CAUSAL_FUZZ_SEED", 1, 0, ~0UL);
	f->ops = env_ul("CAUSAL_FUZZ_OPS", DEFAULT_OPS, 1, ~0UL);
	f->seconds = env_ul("CAUSAL_FUZZ_SECONDS", DEFAULT_SECONDS, 1, 1 << 20);
	f->threads = env_ul("CAUSAL_FUZZ_THREADS", DEFAULT_THREADS, 1, MAX_THREADS);
	f->nslots = env_ul("CAUSAL_FUZZ_SLOTS", DEFAULT_SLOTS, 4, MAX_SLOTS);
	f->stall = env_ul("CAUSAL_FUZZ_STALL", DEFAULT_STALL, 2, 3600);
	f->trace = env_ul("CAUSAL_FUZZ_TRACE", 0, 0, 1);
	f->nonblock_ns = env_ul("CAUSAL_FUZZ_NONBLOCK_MS", DEFAULT_NONBLOCK_MS,
				1, 3600000) * 1000000ULL;
	f->classes = parse_classes(getenv("CAUSAL_FUZZ_CLASSES"));
	f->allowed_violations = parse_allowed(getenv("CAUSAL_FUZZ_ALLOW"));
	for (int op = 0; op < NR_OPS; op++)
		if (ops[op].class & f->classes)
			f->weight_sum += ops[op].weight;
	ASSERT_GT(f->weight_sum, 0) TH_LOG("CAUSAL_FUZZ_CLASSES leaves nothing to run");
	f->max_msg = read_max_msg();
	for (size_t i = 0, len = 0; i < sizeof(class_names) / sizeof(class_names[0]); i++)
		if (f->classes & class_names[i].bit)
			len += snprintf(classes + len, sizeof(classes) - len, "%s%s",
					len ? "," : "", class_names[i].name);
	TH_LOG("CAUSAL_FUZZ_SEED=%llu CAUSAL_FUZZ_OPS=%llu CAUSAL_FUZZ_SECONDS=%u CAUSAL_FUZZ_THREADS=%u CAUSAL_FUZZ_SLOTS=%u CAUSAL_FUZZ_CLASSES=%s",
	       (unsigned long long)f->seed, (unsigned long long)f->ops,
	       f->seconds, f->threads, f->nslots, classes);

	signal(SIGPIPE, SIG_IGN);
	ASSERT_EQ(sigaction(SIGUSR1, &sa, NULL), 0);
	fds = count_fds();
	refcnt = causal_module_refcnt(_metadata);

	f->fault_page = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
			     -1, 0);
	ASSERT_NE(f->fault_page, MAP_FAILED);
	f->file = memfd_create("causal_fuzz", 0);
	ASSERT_GE(f->file, 0);
	for (size_t off = 0; off < FILE_LEN; off += 4096) {
		char page[4096];

		memset(page, FILL, sizeof(page));
		ASSERT_EQ(write(f->file, page, sizeof(page)), sizeof(page));
	}
	for (unsigned int i = 0; i < f->nslots; i++) {
		pthread_mutex_init(&f->slots[i].lock, NULL);
		atomic_store(&f->slots[i].state, 0);
	}
	memset(fill_buf, FILL, sizeof(fill_buf));
	ASSERT_EQ(pthread_barrier_init(&f->start, NULL, f->threads + 1), 0);
	ASSERT_EQ(pthread_barrier_init(&f->done, NULL, f->threads), 0);
	f->workers = calloc(f->threads, sizeof(*f->workers));
	ASSERT_NE(f->workers, NULL);
	for (unsigned int i = 0; i < f->threads; i++)
		worker_init(_metadata, f, &f->workers[i], i);

	preempt = getenv("CAUSAL_FUZZ_PREEMPT") ? : "full";
	snprintf(preempt_was, sizeof(preempt_was), "%s", set_preempt(preempt));
	if (*preempt_was)
		TH_LOG("preemption %s for the run (was %s)", preempt, preempt_was);
	else if (*preempt)
		TH_LOG("preemption left as it is: no %s", PREEMPT_PATH);

	start = cu_mono_ns();
	f->deadline_ns = start + f->seconds * 1000000000ULL;
	/* Signals are for the workers' calls only. */
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &block, NULL);
	ASSERT_EQ(pthread_create(&watchdog, NULL, watchdog_main, f), 0);
	pthread_sigmask(SIG_UNBLOCK, &block, NULL);
	for (unsigned int i = 0; i < f->threads; i++)
		ASSERT_EQ(pthread_create(&f->workers[i].thread, NULL, worker_main,
					 &f->workers[i]), 0);
	pthread_sigmask(SIG_BLOCK, &block, NULL);
	pthread_barrier_wait(&f->start);
	for (unsigned int i = 0; i < f->threads; i++)
		pthread_join(f->workers[i].thread, NULL);
	secs = (cu_mono_ns() - start) / 1e9;
	atomic_store(&f->stop, true);
	pthread_join(watchdog, NULL);

	if (*preempt_was)
		set_preempt(preempt_was);
	report(_metadata, f, secs);
	if (cu_mono_ns() > f->deadline_ns)
		TH_LOG("stopped by CAUSAL_FUZZ_SECONDS=%u", f->seconds);

	for (unsigned int i = 0; i < f->nslots; i++)
		close(SLOT_FD + i);
	for (unsigned int i = 0; i < f->threads; i++)
		worker_fini(&f->workers[i]);
	close(f->file);
	free(f->workers);

	for (int k = 0; k < NR_VIOLATIONS; k++) {
		uint64_t n = atomic_load(&f->violations[k]);

		if (!n)
			continue;
		if (f->allowed_violations & (1ULL << k)) {
			TH_LOG("%llu %s violations, allowed by CAUSAL_FUZZ_ALLOW",
			       (unsigned long long)n, violation_name[k]);
			continue;
		}
		EXPECT_EQ(n, 0)
			TH_LOG("%llu %s violations (seed %llu), the first %d above",
			       (unsigned long long)n, violation_name[k],
			       (unsigned long long)f->seed, VIOLATIONS_SHOWN);
	}
	EXPECT_EQ(count_fds(), fds) TH_LOG("file descriptors leaked");
	/* Every causal socket holds one module reference until TCP destroys
	 * it, and TCP keeps some for minutes: orphans with data for a peer
	 * whose window stays closed probe it (tcp_orphan_retries), and
	 * nothing from user space can abort them (SOCK_DESTROY skips orphans
	 * and only purges their queue, which leaves them without a timer).
	 * So the references must be those of the causal sockets that are
	 * left: one that no socket holds never comes back.
	 */
	for (ms = REFCNT_WAIT_MS;; ms -= 100) {
		left = causal_sockets_left();
		now = causal_module_refcnt(_metadata);
		if (now == refcnt + left || ms <= 0)
			break;
		usleep(100 * 1000);
	}
	EXPECT_EQ(now, refcnt + left)
		TH_LOG("module refcount %ld with %ld causal sockets left, %ld before",
		       now, left, refcnt);
	if (!left)
		return;
	TH_LOG("%ld causal sockets that TCP still keeps:", left);
	show_sockets();
	/* Their references are theirs; so that the tests after this one
	 * start from none, wait for TCP to let them go (it aborts an orphan
	 * once its probes back off to TCP_RTO_MAX, or when the peer's end
	 * answers with a reset).
	 */
	for (ms = ORPHAN_WAIT_MS; ms > 0 && causal_sockets_left() > 0; ms -= 1000)
		sleep(1);
	TH_LOG("%s %d s later", causal_sockets_left() ? "still there" : "all gone",
	       (ORPHAN_WAIT_MS - ms) / 1000);
}

/* The harness's timeout follows CAUSAL_FUZZ_SECONDS, with room for the
 * watchdog and the final wait for the module's references.
 */
static void __attribute__((constructor)) fuzz_timeout(void)
{
	_syscalls_object.timeout = env_ul("CAUSAL_FUZZ_SECONDS", DEFAULT_SECONDS,
					  1, 1 << 20) +
				   env_ul("CAUSAL_FUZZ_STALL", DEFAULT_STALL, 2, 3600) +
				   60 + ORPHAN_WAIT_MS / 1000;
}

TEST_HARNESS_MAIN
