// SPDX-License-Identifier: GPL-2.0
/*
 * Message throughput and round-trip latency on loopback, through the causal
 * ULP, through plain TCP with the framing an application would otherwise
 * write (a 4-byte big-endian length and the payload in one write; reads of
 * large chunks, messages parsed where they landed), or through the same
 * causal protocol implemented in user space over epoll ("user": the module's
 * wire codec and delivery rule from kmod/lib, read the same way). Sender and
 * receiver are two processes, as two ends of an application would be.
 *
 * Batching, as each side would do it: --send-batch N writes N messages per
 * call (one sendmsg() of N frames for TCP and user space, sendmmsg() for the
 * ULP, whose messages but the last are corked), --recv-batch reads the ULP's
 * records (CAUSAL_RECV_BATCH) from one large buffer. Beside each result
 * stand what explains it: TCP segments, context switches and CPU time per
 * message on each side, and for the ULP how many messages had to leave TCP's
 * queue before they were read.
 *
 * Every message carries its sequence number in its first and last four bytes
 * and the receiver checks both and the length, so a path that loses,
 * reorders, duplicates, truncates or misframes messages fails the run
 * instead of producing numbers.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/causal.h>

#include "causal_rule.h"
#include "causal_tcpinfo.h"
#include "causal_cutil.h"
#include "causal_wire.h"

#define MAX_SIZE	(1U << 20)	/* the module's default max_msg_size */
#define MIN_SIZE	8		/* room for both sequence stamps */

/* Defaults, sized for a few seconds per run under QEMU's software emulation.
 * Both tests scale with the cost of a message, about that of 2 KiB of copy
 * plus its payload, so every size spends a similar time on each test; the
 * bounds keep enough latency samples for a p99 and small messages short.
 */
#define MSG_COST	2048
#define TPUT_BUDGET	(64UL << 20)
#define TPUT_MIN	100UL
#define TPUT_MAX	100000UL
#define LAT_BUDGET	(32UL << 20)
#define LAT_MIN		1000UL
#define LAT_MAX		10000UL

enum mode { MODE_TCP, MODE_ULP, MODE_USER };

static struct {
	enum mode mode;
	size_t size;
	unsigned long count;
	unsigned long rounds;
	unsigned int batch;	/* ulp: messages per recvmmsg() in throughput */
	unsigned int send_batch;	/* messages per send call, throughput */
	bool recv_batch;	/* ulp: CAUSAL_RECV_BATCH */
	unsigned int nodes;	/* ulp pair: the group size declared */
	unsigned int mesh;	/* nodes of the mesh scene, 0: the pair */
	bool broadcast;		/* mesh: every send a broadcast */
	unsigned int timeout;
	bool json;
} opt = {
	.mode = MODE_ULP,
	.size = 64,
	.batch = 1,
	.send_batch = 1,
	.nodes = 2,
	.timeout = 300,
};

static const char *const mode_name[] = {
	[MODE_TCP] = "tcp", [MODE_ULP] = "ulp", [MODE_USER] = "user",
};

static pid_t peer_pid;		/* the other side's process, while it runs */

static void on_alarm(int sig __attribute__((unused)))
{
	static const char msg[] = "causal_bench: timed out\n";

	/* A hung path must fail the run, not stall it. */
	(void)!write(STDERR_FILENO, msg, sizeof(msg) - 1);
	if (peer_pid > 0)
		kill(peer_pid, SIGKILL);
	_exit(1);
}

/* A connected loopback pair: *a the client side, *b the server side. */
static void tcp_pair(int *a, int *b, bool nodelay)
{
	int err = cu_tcp_pair(AF_INET, nodelay, a, b);

	if (err)
		cu_die("loopback pair: %s", strerror(-err));
}

static void *xmalloc(size_t len)
{
	void *p = malloc(len);

	if (!p)
		cu_die("out of memory");
	return p;
}

static void causal_setup(int fd, uint32_t group, uint16_t node)
{
	struct causal_join join = {
		.group = group, .node = node, .nodes = opt.nodes,
	};
	int one = 1;

	if (setsockopt(fd, SOL_TCP, TCP_ULP, CAUSAL_ULP_NAME,
		       sizeof(CAUSAL_ULP_NAME)))
		cu_die("TCP_ULP causal: %s (module loaded?)", strerror(errno));
	if (setsockopt(fd, SOL_CAUSAL, CAUSAL_JOIN, &join, sizeof(join)))
		cu_die("CAUSAL_JOIN: %s", strerror(errno));
	if (opt.recv_batch &&
	    setsockopt(fd, SOL_CAUSAL, CAUSAL_RECV_BATCH, &one, sizeof(one)))
		cu_die("CAUSAL_RECV_BATCH: %s", strerror(errno));
}

/* ---- reads as a careful user-space program does them ---- */

#define CHUNK_BUF	(MAX_SIZE + 65536)

/* A receive buffer filled by large reads (as much as one recv() returns)
 * and parsed in place: messages are looked at where they landed.
 */
struct chunks {
	uint8_t *buf;
	size_t off, len;
};

static void chunks_init(struct chunks *c)
{
	c->buf = malloc(CHUNK_BUF);
	if (!c->buf)
		cu_die("out of memory");
	c->off = c->len = 0;
}

static size_t chunks_have(const struct chunks *c)
{
	return c->len - c->off;
}

/* Keep the partial frame at the front and read more behind it, waiting in
 * epoll on @epfd if given, else in recv().
 */
static void chunks_fill(struct chunks *c, int fd, int epfd)
{
	struct epoll_event ev;
	size_t have = chunks_have(c);
	ssize_t n;

	memmove(c->buf, c->buf + c->off, have);
	c->off = 0;
	c->len = have;
	if (epfd >= 0 && epoll_wait(epfd, &ev, 1, -1) < 0 && errno != EINTR)
		cu_die("epoll_wait: %s", strerror(errno));
	n = recv(fd, c->buf + c->len, CHUNK_BUF - c->len,
		 epfd >= 0 ? MSG_DONTWAIT : 0);
	if (n == 0)
		cu_die("recv: unexpected EOF");
	if (n < 0 && errno != EAGAIN && errno != EINTR)
		cu_die("recv: %s", strerror(errno));
	if (n > 0)
		c->len += n;
}

/* ---- the protocol in user space: what an application would write ---- */

#define USER_NODES	2

/* One endpoint's end of one connection: the delivery rule, and its reads. */
struct user_conn {
	int fd, epfd;
	uint16_t peer;
	bool hello_seen;
	struct causal_rule rule;
	struct chunks in;
};

static struct user_conn *user_conns[2];

static struct user_conn *user_of(int fd)
{
	for (int i = 0; i < 2; i++)
		if (user_conns[i] && user_conns[i]->fd == fd)
			return user_conns[i];
	cu_die("fd %d is not a user-space endpoint", fd);
}

static void write_iov(int fd, struct iovec *iov, int iovcnt, size_t left)
{
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = iovcnt };
	ssize_t n;

	for (;;) {
		n = sendmsg(fd, &msg, MSG_NOSIGNAL);
		if (n < 0)
			cu_die("sendmsg: %s", strerror(errno));
		left -= n;
		if (!left)
			return;
		/* Short write: skip what went out and send the rest. */
		while ((size_t)n >= msg.msg_iov->iov_len) {
			n -= msg.msg_iov->iov_len;
			msg.msg_iov++;
			msg.msg_iovlen--;
		}
		msg.msg_iov->iov_base = (uint8_t *)msg.msg_iov->iov_base + n;
		msg.msg_iov->iov_len -= n;
	}
}

/* The header and clock of a frame at @head; a DATA frame is a send event. */
static void user_put_head(struct user_conn *c, uint8_t *head, uint8_t type,
			  size_t len)
{
	struct causal_frame f = {
		.type = type, .nodes = USER_NODES, .sender = c->rule.self,
		.len = len,
	};

	if (type == CAUSAL_FRAME_DATA)
		causal_rule_send(&c->rule);
	causal_wire_put_hdr(head, &f);
	causal_wire_put_clock(head + CAUSAL_WIRE_HDR_LEN, c->rule.clock, USER_NODES);
}

/* Header and clock of one frame, then the payload, in one sendmsg(). */
static void user_send_frame(struct user_conn *c, uint8_t type, const void *payload,
			    size_t len)
{
	uint8_t head[CAUSAL_WIRE_HDR_LEN + USER_NODES * 8];
	struct iovec iov[2] = {
		{ .iov_base = head, .iov_len = sizeof(head) },
		{ .iov_base = (void *)payload, .iov_len = len },
	};

	user_put_head(c, head, type, len);
	write_iov(c->fd, iov, len ? 2 : 1, sizeof(head) + len);
}

static void user_setup(int fd, uint32_t group, uint16_t node)
{
	struct user_conn *c = calloc(1, sizeof(*c));
	struct causal_hello hello = { .group = group, .incarnation = getpid() };
	uint8_t raw[CAUSAL_WIRE_HELLO_LEN];
	struct epoll_event ev = { .events = EPOLLIN };

	if (!c)
		cu_die("out of memory");
	chunks_init(&c->in);
	c->fd = fd;
	c->peer = !node;
	causal_rule_init(&c->rule, group, node, USER_NODES, 3);
	c->epfd = epoll_create1(0);
	ev.data.fd = fd;
	if (c->epfd < 0 || epoll_ctl(c->epfd, EPOLL_CTL_ADD, fd, &ev))
		cu_die("epoll: %s", strerror(errno));
	user_conns[node] = c;
	causal_wire_put_hello(raw, &hello);
	user_send_frame(c, CAUSAL_FRAME_HELLO, raw, sizeof(raw));
}

/* The next DATA message, where it lies in the receive buffer (its length
 * in *@len): parse what the buffer holds, and wait in epoll for more only
 * when it holds no whole frame.
 */
static const uint8_t *user_recv(struct user_conn *c, size_t *len)
{
	enum causal_proto_err err;
	struct causal_hello hello;
	struct causal_frame f;
	u64 clock[USER_NODES];
	size_t frame;

	for (;;) {
		const uint8_t *p = c->in.buf + c->in.off;
		size_t have = chunks_have(&c->in);

		if (have >= CAUSAL_WIRE_HDR_LEN) {
			err = causal_wire_get_hdr(p, &f, MAX_SIZE);
			if (err)
				cu_die("user: bad frame: %s", causal_proto_err_name(err));
			frame = causal_frame_size(f.nodes, f.len);
			if (have >= frame) {
				causal_wire_get_clock(p + CAUSAL_WIRE_HDR_LEN, clock, f.nodes);
				if (f.type == CAUSAL_FRAME_HELLO &&
				    causal_wire_get_hello(p + frame - f.len, &hello))
					cu_die("user: bad HELLO");
				err = causal_rule_accept(&c->rule, c->peer, &f, clock,
							 &hello, !c->hello_seen);
				if (err)
					cu_die("user: refused: %s", causal_proto_err_name(err));
				c->hello_seen = true;
				c->in.off += frame;
				if (f.type != CAUSAL_FRAME_DATA)
					continue;
				/* Two nodes: the rule never holds, but it is asked. */
				causal_rule_set_head(&c->rule, c->peer, clock[c->peer]);
				if (!causal_rule_ready(&c->rule, c->peer, clock, NULL, NULL))
					cu_die("user: message held with two nodes");
				causal_rule_deliver(&c->rule, c->peer, clock, false);
				causal_rule_set_head(&c->rule, c->peer, 0);
				*len = f.len;
				return p + frame - f.len;
			}
		}
		chunks_fill(&c->in, c->fd, c->epfd);
	}
}

static void user_close(int fd)
{
	struct user_conn *c = user_of(fd);

	user_conns[c->rule.self] = NULL;
	close(c->epfd);
	free(c->in.buf);
	free(c);
}

/* An end read in chunks: plain TCP, or the ULP's batched records. */
struct chunk_conn {
	int fd;
	struct chunks in;
};

static struct chunk_conn chunk_conns[2];

static bool chunked(void)
{
	return opt.mode == MODE_TCP || (opt.mode == MODE_ULP && opt.recv_batch);
}

static struct chunk_conn *chunk_of(int fd)
{
	for (int i = 0; i < 2; i++)
		if (chunk_conns[i].in.buf && chunk_conns[i].fd == fd)
			return &chunk_conns[i];
	cu_die("fd %d is not read in chunks", fd);
}

static void chunk_setup(int fd, int i)
{
	chunk_conns[i].fd = fd;
	chunks_init(&chunk_conns[i].in);
}

/* A pair ready for messages: node 0 on *a, node 1 on *b for the ULP. Each
 * test gets its own group, so no endpoint outlives its test.
 */
static void msg_pair(int *a, int *b, bool nodelay, unsigned int test)
{
	uint32_t group = (uint32_t)getpid() << 2 | test;

	tcp_pair(a, b, nodelay);
	if (opt.mode == MODE_ULP) {
		causal_setup(*a, group, 0);
		causal_setup(*b, group, 1);
	} else if (opt.mode == MODE_USER) {
		user_setup(*a, group, 0);
		user_setup(*b, group, 1);
	}
	if (chunked()) {
		chunk_setup(*a, 0);
		chunk_setup(*b, 1);
	}
}

static void pair_close(int a, int b)
{
	if (opt.mode == MODE_USER) {
		user_close(a);
		user_close(b);
	}
	for (int i = 0; i < 2; i++) {
		free(chunk_conns[i].in.buf);
		chunk_conns[i].in.buf = NULL;
	}
	close(a);
	close(b);
}

static void put_u32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, sizeof(v));
}

static uint32_t get_u32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static void stamp(uint8_t *buf, uint32_t seq)
{
	put_u32(buf, seq);
	put_u32(buf + opt.size - 4, ~seq);
}

static void check(const uint8_t *buf, uint32_t seq, const char *who)
{
	uint32_t head = get_u32(buf), tail = ~get_u32(buf + opt.size - 4);

	if (head != seq || tail != seq)
		cu_die("%s: message %u arrived as head %u, tail %u", who, seq,
		       head, tail);
}

#define MAX_SEND_BATCH	256	/* two iovecs a message, within IOV_MAX */

/* @n messages of opt.size bytes, one after the other at @bufs, in one call:
 * a send() for one message on the ULP, a sendmmsg() for more (all but the
 * last corked); for TCP and user space one sendmsg() of their frames (a
 * length prefix, or header and clock, and the payload), as a careful
 * application would write them.
 */
static void msgs_send(int fd, const uint8_t *bufs, unsigned int n)
{
	uint8_t heads[MAX_SEND_BATCH][CAUSAL_WIRE_HDR_LEN + USER_NODES * 8];
	struct iovec iov[2 * MAX_SEND_BATCH];
	uint32_t hdrs[MAX_SEND_BATCH];
	struct mmsghdr mm[MAX_SEND_BATCH];
	unsigned int i, sent;
	struct user_conn *c;
	ssize_t ret;

	switch (opt.mode) {
	case MODE_ULP:
		if (n == 1) {
			ret = send(fd, bufs, opt.size, MSG_NOSIGNAL);
			if (ret != (ssize_t)opt.size)
				cu_die("send: %zd of %zu bytes: %s", ret, opt.size,
				       ret < 0 ? strerror(errno) : "short");
			return;
		}
		memset(mm, 0, n * sizeof(mm[0]));
		for (i = 0; i < n; i++) {
			iov[i].iov_base = (void *)(bufs + (size_t)i * opt.size);
			iov[i].iov_len = opt.size;
			mm[i].msg_hdr.msg_iov = &iov[i];
			mm[i].msg_hdr.msg_iovlen = 1;
		}
		for (sent = 0; sent < n; sent += ret) {
			ret = sendmmsg(fd, mm + sent, n - sent, MSG_NOSIGNAL);
			if (ret <= 0)
				cu_die("sendmmsg: %s", ret ? strerror(errno) : "none sent");
		}
		return;
	case MODE_USER:
		c = user_of(fd);
		for (i = 0; i < n; i++) {
			iov[2 * i].iov_base = heads[i];
			iov[2 * i].iov_len = sizeof(heads[i]);
			user_put_head(c, heads[i], CAUSAL_FRAME_DATA, opt.size);
		}
		break;
	case MODE_TCP:
		for (i = 0; i < n; i++) {
			hdrs[i] = htonl(opt.size);
			iov[2 * i].iov_base = &hdrs[i];
			iov[2 * i].iov_len = sizeof(hdrs[i]);
		}
		break;
	}
	for (i = 0; i < n; i++) {
		iov[2 * i + 1].iov_base = (void *)(bufs + (size_t)i * opt.size);
		iov[2 * i + 1].iov_len = opt.size;
	}
	write_iov(fd, iov, 2 * n, n * (iov[0].iov_len + opt.size));
}

static void msg_send(int fd, const uint8_t *buf)
{
	msgs_send(fd, buf, 1);
}

/* The payload of the next record of a batched ULP read: one recv() takes
 * as many records as are deliverable into the chunk buffer.
 */
static const uint8_t *ulp_next_record(int fd)
{
	struct chunks *in = &chunk_of(fd)->in;
	const struct causal_rec *rec;
	ssize_t n;

	if (!chunks_have(in)) {
		n = recv(fd, in->buf, CHUNK_BUF, 0);
		if (n <= 0)
			cu_die("recv: %s", n ? strerror(errno) : "EOF");
		in->off = 0;
		in->len = n;
	}
	rec = (const void *)(in->buf + in->off);
	if (chunks_have(in) < sizeof(*rec) + opt.size || rec->len != opt.size)
		cu_die("recv: a record of %u bytes in %zu, want %zu",
		       chunks_have(in) < sizeof(*rec) ? 0 : rec->len,
		       chunks_have(in), opt.size);
	in->off += CAUSAL_REC_SIZE(rec->len);
	if (in->off > in->len)
		in->off = in->len;
	return CAUSAL_REC_DATA(rec);
}

/* Exactly one message of opt.size bytes: where it lies, in @buf for the
 * ULP (one recv() per message), in the chunk buffer otherwise.
 */
static const uint8_t *msg_recv(int fd, uint8_t *buf)
{
	const uint8_t *p;
	struct chunks *in;
	uint32_t hdr;
	size_t len;
	ssize_t n;

	switch (opt.mode) {
	case MODE_USER:
		p = user_recv(user_of(fd), &len);
		if (len != opt.size)
			cu_die("recv: %zu bytes, want %zu", len, opt.size);
		return p;
	case MODE_ULP:
		if (opt.recv_batch)
			return ulp_next_record(fd);
		/* MSG_TRUNC: the real length, so a longer message shows. */
		n = recv(fd, buf, opt.size, MSG_TRUNC);
		if (n != (ssize_t)opt.size)
			cu_die("recv: %zd bytes, want %zu: %s", n, opt.size,
			       n < 0 ? strerror(errno) : n ? "wrong size" : "EOF");
		return buf;
	case MODE_TCP:
		break;
	}
	in = &chunk_of(fd)->in;
	while (chunks_have(in) < sizeof(hdr))
		chunks_fill(in, fd, -1);
	memcpy(&hdr, in->buf + in->off, sizeof(hdr));
	if (ntohl(hdr) != opt.size)
		cu_die("recv: length prefix %u, want %zu", ntohl(hdr), opt.size);
	while (chunks_have(in) < sizeof(hdr) + opt.size)
		chunks_fill(in, fd, -1);
	p = in->buf + in->off + sizeof(hdr);
	in->off += sizeof(hdr) + opt.size;
	return p;
}

static uint8_t *msg_buf(void)
{
	uint8_t *buf = xmalloc(opt.size);

	/* Touch every page before timing starts. */
	memset(buf, 0xa5, opt.size);
	return buf;
}

/* Up to opt.batch messages per recvmmsg(): it waits for the first only. */
static void tput_read_batches(int fd)
{
	struct mmsghdr *mm = calloc(opt.batch, sizeof(*mm));
	struct iovec *iov = calloc(opt.batch, sizeof(*iov));
	uint8_t *bufs = xmalloc((size_t)opt.batch * opt.size);
	unsigned long seq = 0;
	unsigned int i;
	int n;

	if (!mm || !iov)
		cu_die("out of memory");
	for (i = 0; i < opt.batch; i++) {
		iov[i].iov_base = bufs + (size_t)i * opt.size;
		iov[i].iov_len = opt.size;
		mm[i].msg_hdr.msg_iov = &iov[i];
		mm[i].msg_hdr.msg_iovlen = 1;
	}
	while (seq < opt.count) {
		n = recvmmsg(fd, mm, opt.count - seq < opt.batch ?
			     opt.count - seq : opt.batch, MSG_WAITFORONE, NULL);
		if (n <= 0)
			cu_die("recvmmsg: %s", n ? strerror(errno) : "EOF");
		for (i = 0; i < (unsigned int)n; i++, seq++) {
			if (mm[i].msg_len != opt.size ||
			    mm[i].msg_hdr.msg_flags & MSG_TRUNC)
				cu_die("recvmmsg: %u bytes, want %zu", mm[i].msg_len,
				       opt.size);
			check(iov[i].iov_base, seq, "reader");
		}
	}
	free(bufs);
	free(iov);
	free(mm);
}

/* What the reader saw of the module, written by the reader's process. */
struct reader_report {
	uint64_t moved, copied_frames;
};

static struct reader_report *report;	/* shared with the reader */

static void tput_reader(int fd)
{
	struct causal_info info;
	socklen_t len = sizeof(info);
	unsigned long seq;
	uint8_t *buf;

	if (opt.batch > 1) {
		tput_read_batches(fd);
	} else {
		buf = msg_buf();
		for (seq = 0; seq < opt.count; seq++)
			check(msg_recv(fd, buf), seq, "reader");
		free(buf);
	}
	if (opt.mode == MODE_ULP && !getsockopt(fd, SOL_CAUSAL, CAUSAL_INFO,
						&info, &len) &&
	    len >= offsetof(struct causal_info, copied_frames) + 8) {
		report->moved = info.moved;
		report->copied_frames = info.copied_frames;
	}
}

/* The other side runs @fn on @fd in a process of its own, as the two ends
 * of a real application would.
 */
static void peer_start(void (*fn)(int fd), int fd)
{
	peer_pid = fork();
	if (peer_pid < 0)
		cu_die("fork: %s", strerror(errno));
	if (!peer_pid) {
		fn(fd);
		_exit(0);
	}
}

/* Wait for the other side; its resource use in @ru if given. */
static void peer_wait(struct rusage *ru)
{
	struct rusage mine;
	int status;

	if (wait4(peer_pid, &status, 0, ru ? ru : &mine) != peer_pid)
		cu_die("wait4: %s", strerror(errno));
	peer_pid = 0;
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		cu_die("the other side failed");
}

static double cpu_us(const struct rusage *ru)
{
	return (ru->ru_utime.tv_sec + ru->ru_stime.tv_sec) * 1e6 +
	       ru->ru_utime.tv_usec + ru->ru_stime.tv_usec;
}

static double switches(const struct rusage *ru)
{
	return ru->ru_nvcsw + ru->ru_nivcsw;
}

static void throughput(void)
{
	uint8_t *bufs = xmalloc((size_t)opt.send_batch * opt.size);
	struct rusage tx0, tx1, rx;
	unsigned long seq;
	uint64_t bytes;
	uint32_t segs;
	unsigned int i, n;
	uint64_t start;
	double secs, per;
	int a, b;

	memset(bufs, 0xa5, (size_t)opt.send_batch * opt.size);
	memset(report, 0, sizeof(*report));
	msg_pair(&a, &b, true, 1);
	peer_start(tput_reader, b);
	segs = tcp_segs_out(a);
	bytes = tcp_bytes_acked(a);
	getrusage(RUSAGE_SELF, &tx0);
	start = cu_mono_ns();
	for (seq = 0; seq < opt.count; seq += n) {
		n = opt.count - seq < opt.send_batch ? opt.count - seq :
						       opt.send_batch;
		for (i = 0; i < n; i++)
			stamp(bufs + (size_t)i * opt.size, seq + i);
		msgs_send(a, bufs, n);
	}
	peer_wait(&rx);
	secs = (cu_mono_ns() - start) / 1e9;
	getrusage(RUSAGE_SELF, &tx1);
	segs = tcp_segs_out(a) - segs;
	/* Everything was read: what the peer has not acked yet is at most
	 * the last window's worth.
	 */
	bytes = tcp_bytes_acked(a) - bytes;
	pair_close(a, b);
	free(bufs);

	per = 1.0 / opt.count;
	if (opt.json)
		printf("{\"test\":\"throughput\",\"mode\":\"%s\",\"size\":%zu,"
		       "\"count\":%lu,\"seconds\":%.3f,\"msgs_per_s\":%.0f,"
		       "\"mb_per_s\":%.2f,\"send_batch\":%u,\"recv_batch\":%s,"
		       "\"segs_per_msg\":%.3f,\"tx_cs_per_msg\":%.3f,"
		       "\"rx_cs_per_msg\":%.3f,\"tx_cpu_us\":%.2f,"
		       "\"rx_cpu_us\":%.2f,\"moved\":%llu,\"copied_frames\":%llu,"
		       "\"nodes\":%u,\"wire_bytes\":%.1f}\n",
		       mode_name[opt.mode], opt.size, opt.count, secs,
		       opt.count / secs, opt.count * opt.size / secs / 1e6,
		       opt.send_batch, opt.recv_batch ? "true" : "false",
		       segs * per, (switches(&tx1) - switches(&tx0)) * per,
		       switches(&rx) * per, (cpu_us(&tx1) - cpu_us(&tx0)) * per,
		       cpu_us(&rx) * per, (unsigned long long)report->moved,
		       (unsigned long long)report->copied_frames, opt.nodes,
		       bytes * per);
	else
		printf("throughput %s size %zu: %lu msgs in %.3f s, %.0f msgs/s, %.2f MB/s; per message %.3f segments, context switches %.3f sender %.3f reader, CPU %.2f us sender %.2f us reader; %llu moved out of TCP, %llu frames copied in\n",
		       mode_name[opt.mode], opt.size, opt.count, secs,
		       opt.count / secs, opt.count * opt.size / secs / 1e6,
		       segs * per, (switches(&tx1) - switches(&tx0)) * per,
		       switches(&rx) * per, (cpu_us(&tx1) - cpu_us(&tx0)) * per,
		       cpu_us(&rx) * per, (unsigned long long)report->moved,
		       (unsigned long long)report->copied_frames);
	fflush(stdout);
}

/* A tenth more round trips first, untimed, to settle caches and TCP. */
static unsigned long lat_warmup(void)
{
	return opt.rounds / 10;
}

/* Echo side of the ping-pong: every message goes straight back. */
static void lat_echo(int fd)
{
	uint8_t *buf = msg_buf();
	unsigned long seq, total = lat_warmup() + opt.rounds;
	const uint8_t *p;

	for (seq = 0; seq < total; seq++) {
		p = msg_recv(fd, buf);
		check(p, seq, "echo");
		msg_send(fd, p);
	}
	free(buf);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of sorted @v. */
static double pct_us(const uint64_t *v, unsigned long n, unsigned int p)
{
	return v[(n * p + 99) / 100 - 1] / 1e3;
}

static void latency(void)
{
	unsigned long warmup = lat_warmup(), seq;
	uint64_t *rtt = xmalloc(opt.rounds * sizeof(*rtt));
	uint8_t *buf = msg_buf();
	uint32_t segs_a = 0, segs_b = 0;
	const uint8_t *p;
	uint64_t start;
	double segs;
	int a, b;

	msg_pair(&a, &b, true, 2);
	peer_start(lat_echo, b);
	for (seq = 0; seq < warmup + opt.rounds; seq++) {
		if (seq == warmup) {
			segs_a = tcp_segs_out(a);
			segs_b = tcp_segs_out(b);
		}
		stamp(buf, seq);
		start = cu_mono_ns();
		msg_send(a, buf);
		p = msg_recv(a, buf);
		if (seq >= warmup)
			rtt[seq - warmup] = cu_mono_ns() - start;
		check(p, seq, "pinger");
	}
	peer_wait(NULL);
	/* Both directions: a pure ACK beside each message shows here. */
	segs = (double)(tcp_segs_out(a) - segs_a + tcp_segs_out(b) - segs_b) /
	       opt.rounds;
	pair_close(a, b);
	free(buf);

	qsort(rtt, opt.rounds, sizeof(*rtt), cmp_u64);
	if (opt.json)
		printf("{\"test\":\"latency\",\"mode\":\"%s\",\"size\":%zu,"
		       "\"rounds\":%lu,\"p50_us\":%.1f,\"p99_us\":%.1f,"
		       "\"min_us\":%.1f,\"max_us\":%.1f,\"segs_per_round\":%.2f}\n",
		       mode_name[opt.mode], opt.size, opt.rounds,
		       pct_us(rtt, opt.rounds, 50), pct_us(rtt, opt.rounds, 99),
		       rtt[0] / 1e3, rtt[opt.rounds - 1] / 1e3, segs);
	else
		printf("latency %s size %zu: %lu round trips, p50 %.1f us, p99 %.1f us (min %.1f, max %.1f), %.2f segments per round trip\n",
		       mode_name[opt.mode], opt.size, opt.rounds,
		       pct_us(rtt, opt.rounds, 50), pct_us(rtt, opt.rounds, 99),
		       rtt[0] / 1e3, rtt[opt.rounds - 1] / 1e3, segs);
	fflush(stdout);
	free(rtt);
}

/* ---- the mesh scene: every node connected to every other ---- */

#define MESH_MAX	16

/* What each node's process saw, for the parent to add up. */
struct mesh_report {
	uint64_t delivered, clocks;
};

static struct mesh_report *mesh_reports;	/* shared, one per node */

/* Node @me of opt.mesh: @fds[j] its channel to node j. It sends opt.count
 * messages, each unicast to the next peer in turn (or a broadcast), and
 * reads the endpoint's merged queue in batches until it has every message
 * meant for it; sends and reads interleave, never blocking on a full peer.
 */
static void mesh_node(unsigned int me, const int *fds)
{
	const unsigned int peers = opt.mesh - 1;
	unsigned long want = 0, sent = 0, got = 0, turn = 0;
	uint8_t *in = xmalloc(CHUNK_BUF), *out = msg_buf();
	struct pollfd pfd[MESH_MAX];
	struct causal_info info;
	unsigned int i, n = 0;
	socklen_t len;
	ssize_t ret;

	for (i = 0; i < opt.mesh; i++) {
		/* Node i's turn comes to us at this place of its peers. */
		unsigned int at = me < i ? me : me - 1;

		if (i == me)
			continue;
		pfd[n++] = (struct pollfd){ .fd = fds[i] };
		want += opt.broadcast ? opt.count :
			opt.count / peers + (at < opt.count % peers);
	}
	while (sent < opt.count || got < want) {
		for (i = 0; i < n; i++)
			pfd[i].events = POLLIN | (sent < opt.count ? POLLOUT : 0);
		if (poll(pfd, n, 10000) <= 0)
			cu_die("mesh node %u: stuck at %lu sent, %lu of %lu read",
			       me, sent, got, want);
		/* One reader takes the merged queue of the whole endpoint. */
		ret = recv(fds[me ? 0 : 1], in, CHUNK_BUF, MSG_DONTWAIT);
		if (ret < 0 && errno != EAGAIN)
			cu_die("mesh node %u: recv: %s", me, strerror(errno));
		for (const uint8_t *p = in; ret > 0 && p < in + ret;
		     p = (const uint8_t *)CAUSAL_REC_NEXT(p)) {
			if (((const struct causal_rec *)p)->len != opt.size)
				cu_die("mesh node %u: a message of %u bytes", me,
				       ((const struct causal_rec *)p)->len);
			got++;
		}
		for (i = 0; i < n && sent < opt.count; i++) {
			int fd = pfd[turn++ % n].fd;

			stamp(out, sent);
			ret = send(fd, out, opt.size, MSG_DONTWAIT | MSG_NOSIGNAL);
			if (ret < 0 && errno != EAGAIN)
				cu_die("mesh node %u: send: %s", me, strerror(errno));
			if (ret < 0)
				break;
			sent++;
		}
	}
	for (i = 0; i < n; i++) {
		len = sizeof(info);
		if (!getsockopt(pfd[i].fd, SOL_CAUSAL, CAUSAL_INFO, &info, &len) &&
		    len >= offsetof(struct causal_info, clocks_sent) + 8)
			mesh_reports[me].clocks += info.clocks_sent;
	}
	mesh_reports[me].delivered = got;
	free(in);
	free(out);
}

static void mesh(void)
{
	uint32_t group = (uint32_t)getpid() << 2 | 3;
	struct causal_join join = {
		.group = group, .nodes = opt.mesh,
		.flags = CAUSAL_F_MERGED_RECV |
			 (opt.broadcast ? CAUSAL_F_BROADCAST : 0),
	};
	int fds[MESH_MAX][MESH_MAX], one = 1;
	pid_t pids[MESH_MAX];
	uint64_t start, delivered = 0, clocks = 0;
	unsigned int i, j;
	double secs;

	for (i = 0; i < opt.mesh; i++)
		for (j = i + 1; j < opt.mesh; j++)
			tcp_pair(&fds[i][j], &fds[j][i], true);
	for (i = 0; i < opt.mesh; i++) {
		join.node = i;
		for (j = 0; j < opt.mesh; j++) {
			if (j == i)
				continue;
			if (setsockopt(fds[i][j], SOL_TCP, TCP_ULP, CAUSAL_ULP_NAME,
				       sizeof(CAUSAL_ULP_NAME)) ||
			    setsockopt(fds[i][j], SOL_CAUSAL, CAUSAL_JOIN, &join,
				       sizeof(join)) ||
			    setsockopt(fds[i][j], SOL_CAUSAL, CAUSAL_RECV_BATCH,
				       &one, sizeof(one)))
				cu_die("mesh: joining node %u: %s", i, strerror(errno));
		}
	}
	memset(mesh_reports, 0, MESH_MAX * sizeof(*mesh_reports));
	start = cu_mono_ns();
	for (i = 0; i < opt.mesh; i++) {
		pids[i] = fork();
		if (pids[i] < 0)
			cu_die("fork: %s", strerror(errno));
		if (!pids[i]) {
			/* A run that times out takes its nodes along. */
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			mesh_node(i, fds[i]);
			_exit(0);
		}
	}
	for (i = 0; i < opt.mesh; i++) {
		int status;

		if (waitpid(pids[i], &status, 0) != pids[i] ||
		    !WIFEXITED(status) || WEXITSTATUS(status))
			cu_die("mesh node %u failed", i);
	}
	secs = (cu_mono_ns() - start) / 1e9;
	for (i = 0; i < opt.mesh; i++) {
		delivered += mesh_reports[i].delivered;
		clocks += mesh_reports[i].clocks;
		for (j = 0; j < opt.mesh; j++)
			if (j != i)
				close(fds[i][j]);
	}
	if (opt.json)
		printf("{\"test\":\"mesh\",\"mode\":\"%s\",\"size\":%zu,"
		       "\"nodes\":%u,\"sends\":%lu,\"delivered\":%llu,"
		       "\"seconds\":%.3f,\"msgs_per_s\":%.0f,"
		       "\"clocks_per_send\":%.3f,\"clocks_per_channel_ms\":%.3f}\n",
		       opt.broadcast ? "broadcast" : "unicast", opt.size,
		       opt.mesh, opt.count * opt.mesh,
		       (unsigned long long)delivered, secs, delivered / secs,
		       (double)clocks / (opt.count * opt.mesh),
		       clocks / (opt.mesh * (opt.mesh - 1.0)) / (secs * 1e3));
	else
		printf("mesh %s of %u nodes, size %zu: %lu sends, %llu messages delivered in %.3f s, %.0f msgs/s; %llu CLOCK frames, %.3f per send, %.3f per channel and ms\n",
		       opt.broadcast ? "broadcast" : "unicast", opt.mesh,
		       opt.size, opt.count * opt.mesh,
		       (unsigned long long)delivered, secs, delivered / secs,
		       (unsigned long long)clocks,
		       (double)clocks / (opt.count * opt.mesh),
		       clocks / (opt.mesh * (opt.mesh - 1.0)) / (secs * 1e3));
	fflush(stdout);
}

static void usage(FILE *f)
{
	fprintf(f,
"usage: causal_bench [-m ulp|tcp|user] [-s BYTES] [-n COUNT] [-r ROUNDS] [-b N]\n"
"                    [-S N] [-R] [-M N [-B]] [-t SECONDS] [-j]\n"
"\n"
"Loopback benchmark of the causal ULP against plain TCP with user-space framing\n"
"(4-byte big-endian length, then the payload, one sendmsg() per message) and\n"
"against the causal protocol implemented in user space over epoll; both read\n"
"large chunks and parse messages in place.\n"
"Runs a throughput test (one sender, one reader process) and a latency test\n"
"(ping-pong), both with TCP_NODELAY, and checks every message's sequence\n"
"stamps. Throughput comes with TCP segments, context switches and CPU time\n"
"per message of each side.\n"
"\n"
"  -m, --mode MODE     ulp: both ends join a 2-node causal group; tcp: plain TCP;\n"
"                      user: the causal protocol in user space over epoll\n"
"                      (default ulp)\n"
"  -s, --size BYTES    message size, %u..%u (default 64)\n"
"  -n, --count N       throughput messages, 0 skips the test (default\n"
"                      %lu MiB / (size + %u), within %lu..%lu)\n"
"  -r, --rounds M      latency round trips, 0 skips the test (default\n"
"                      %lu MiB / (size + %u), within %lu..%lu)\n"
"  -b, --batch N       ulp throughput: read up to N messages per recvmmsg()\n"
"                      (default 1: one recv() per message)\n"
"  -S, --send-batch N  throughput: send N messages per call, 1..%u (default\n"
"                      1; ulp: sendmmsg(), which corks all but the last)\n"
"  -R, --recv-batch    ulp: read with CAUSAL_RECV_BATCH, many messages per\n"
"                      recv()\n"
"  -N, --nodes N       ulp: the pair joins a group of N nodes (2..%u,\n"
"                      default 2): every frame carries N clock entries\n"
"  -M, --mesh N        instead: the mesh scene, N nodes (2..%u) each\n"
"                      connected to every other, each sending COUNT unicasts\n"
"                      to its peers in turn and reading its merged queue in\n"
"                      batches; reports messages delivered per second and\n"
"                      CLOCK frames per send and per channel and ms\n"
"  -B, --broadcast     mesh: every send a broadcast\n"
"  -t, --timeout SECS  fail if the run takes longer, 0 never (default 300)\n"
"  -j, --json          one JSON object per result line\n"
"  -h, --help          this text\n",
		MIN_SIZE, MAX_SIZE, TPUT_BUDGET >> 20, MSG_COST, TPUT_MIN,
		TPUT_MAX, LAT_BUDGET >> 20, MSG_COST, LAT_MIN, LAT_MAX,
		MAX_SEND_BATCH, CAUSAL_MAX_NODES, MESH_MAX);
}

/* A default count: @budget bytes of message cost, within [@min, @max]. */
static unsigned long scaled(unsigned long budget, unsigned long min,
			    unsigned long max)
{
	unsigned long n = budget / (opt.size + MSG_COST);

	return n < min ? min : n > max ? max : n;
}

static unsigned long parse_num(const char *s, const char *what)
{
	__u64 v;

	if (!cu_parse_u64(s, ULONG_MAX, &v))
		cu_die("bad %s '%s'", what, s);
	return v;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "mode",	required_argument, NULL, 'm' },
		{ "size",	required_argument, NULL, 's' },
		{ "count",	required_argument, NULL, 'n' },
		{ "rounds",	required_argument, NULL, 'r' },
		{ "batch",	required_argument, NULL, 'b' },
		{ "send-batch",	required_argument, NULL, 'S' },
		{ "recv-batch",	no_argument,	   NULL, 'R' },
		{ "nodes",	required_argument, NULL, 'N' },
		{ "mesh",	required_argument, NULL, 'M' },
		{ "broadcast",	no_argument,	   NULL, 'B' },
		{ "timeout",	required_argument, NULL, 't' },
		{ "json",	no_argument,	   NULL, 'j' },
		{ "help",	no_argument,	   NULL, 'h' },
		{}
	};
	bool count_set = false, rounds_set = false;
	int c;

	while ((c = getopt_long(argc, argv, "m:s:n:r:b:S:RN:M:Bt:jh", longopts, NULL)) != -1) {
		switch (c) {
		case 'm':
			if (!strcmp(optarg, "ulp"))
				opt.mode = MODE_ULP;
			else if (!strcmp(optarg, "tcp"))
				opt.mode = MODE_TCP;
			else if (!strcmp(optarg, "user"))
				opt.mode = MODE_USER;
			else
				cu_die("bad mode '%s' (ulp, tcp or user)", optarg);
			break;
		case 's':
			opt.size = parse_num(optarg, "size");
			if (opt.size < MIN_SIZE || opt.size > MAX_SIZE)
				cu_die("size must be %u..%u", MIN_SIZE, MAX_SIZE);
			break;
		case 'n':
			opt.count = parse_num(optarg, "count");
			count_set = true;
			break;
		case 'r':
			opt.rounds = parse_num(optarg, "rounds");
			rounds_set = true;
			break;
		case 'b':
			opt.batch = parse_num(optarg, "batch");
			if (opt.batch < 1 || opt.batch > 1024)
				cu_die("batch must be 1..1024");
			break;
		case 'S':
			opt.send_batch = parse_num(optarg, "send batch");
			if (opt.send_batch < 1 || opt.send_batch > MAX_SEND_BATCH)
				cu_die("send batch must be 1..%u", MAX_SEND_BATCH);
			break;
		case 'R':
			opt.recv_batch = true;
			break;
		case 'N':
			opt.nodes = parse_num(optarg, "nodes");
			if (opt.nodes < 2 || opt.nodes > CAUSAL_MAX_NODES)
				cu_die("nodes must be 2..%u", CAUSAL_MAX_NODES);
			break;
		case 'M':
			opt.mesh = parse_num(optarg, "mesh");
			if (opt.mesh < 2 || opt.mesh > MESH_MAX)
				cu_die("mesh must be 2..%u nodes", MESH_MAX);
			break;
		case 'B':
			opt.broadcast = true;
			break;
		case 't':
			opt.timeout = parse_num(optarg, "timeout");
			break;
		case 'j':
			opt.json = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		usage(stderr);
		return 2;
	}
	if (!count_set)
		opt.count = scaled(TPUT_BUDGET, TPUT_MIN, TPUT_MAX);
	if (!rounds_set)
		opt.rounds = scaled(LAT_BUDGET, LAT_MIN, LAT_MAX);
	/* Sequence numbers are 32-bit stamps. */
	if (opt.count > UINT32_MAX || opt.rounds > UINT32_MAX / 2)
		cu_die("count or rounds too large");
	if (opt.batch > 1 && opt.mode != MODE_ULP)
		cu_die("--batch is for the ulp mode (recvmmsg)");
	if (opt.recv_batch && (opt.mode != MODE_ULP || opt.batch > 1))
		cu_die("--recv-batch is for the ulp mode, without --batch");
	report = mmap(NULL, sizeof(*report), PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (report == MAP_FAILED)
		cu_die("mmap: %s", strerror(errno));

	signal(SIGALRM, on_alarm);
	alarm(opt.timeout);
	if (opt.broadcast && !opt.mesh)
		cu_die("--broadcast is for the mesh scene");
	if (opt.mesh && opt.mode != MODE_ULP)
		cu_die("the mesh scene is the ulp's");
	if (opt.nodes != 2 && (opt.mode != MODE_ULP || opt.mesh))
		cu_die("--nodes is for the ulp pair");
	if (opt.mesh) {
		mesh_reports = mmap(NULL, MESH_MAX * sizeof(*mesh_reports),
				    PROT_READ | PROT_WRITE,
				    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		if (mesh_reports == MAP_FAILED)
			cu_die("mmap: %s", strerror(errno));
		if (!count_set)
			opt.count /= opt.mesh;
		mesh();
		return 0;
	}
	if (opt.count)
		throughput();
	if (opt.rounds)
		latency();
	return 0;
}
