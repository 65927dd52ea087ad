// SPDX-License-Identifier: GPL-2.0
/*
 * Regression tests for defects found by review (issue 9, section 2): what a
 * user or a hostile peer does that must not stall, reorder, corrupt or leak
 * across channels of an endpoint. Each test states the contract from the spec
 * and checks it from user space; none assumes how the module implements it.
 *
 * Calls that a defect would make block forever run in a thread with a bound
 * (struct op), and every stall the test builds is released by the test (a
 * reset of the peer that stopped reading) before it waits for those threads,
 * so no test can hang the suite. A call reported as blocked N ms returned
 * only then, when the test released the stall.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>

#include <linux/causal.h>

#include "kselftest_harness.h"
#include "causal_util.h"
#include "causal_scene.h"

/* What "at once" means for a call that must not wait for another peer. */
#define PROMPT_MS	1000

static void set_sndtimeo(int fd, int ms)
{
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = ms % 1000 * 1000 };

	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

/* Run the calling thread on @cpu when there is one: a race between a thread
 * and softirq work needs them on different CPUs.
 */
static void pin_to_cpu(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

/* Close @fd with a reset, as a peer that crashed or gave up does. */
static void reset_close(int fd)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
}

/* Wait up to @ms for the channel to leave state @from; returns its state. */
static int wait_state_change(struct __test_metadata *_metadata, int fd,
			     int from, int ms)
{
	struct timespec t0;
	int state;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		state = info_of(_metadata, fd).state;
		if (state != from)
			break;
		usleep(5 * 1000);
	} while (ms_since(&t0) < ms);
	return state;
}

/* The next message on @fd within @ms is @text. */
static void expect_next(struct __test_metadata *_metadata, int fd,
			const char *text, int ms)
{
	char buf[64] = {};
	ssize_t n;

	ASSERT_TRUE(readable(fd, ms)) TH_LOG("no \"%s\" within %d ms", text, ms);
	n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
	ASSERT_GE(n, 0) TH_LOG("waiting for \"%s\": %s", text, strerror(errno));
	EXPECT_STREQ(buf, text);
}

/* Read frames from raw @fd until one of @type arrives, for at most @ms.
 * Returns 0 with it in @f, @clock and @payload (at most @size bytes), or -1.
 */
static int recv_frame_of(int fd, __u8 type, struct causal_frame *f,
			 __u64 *clock, void *payload, size_t size, int ms)
{
	struct timespec t0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	set_rcvtimeo(fd, ms);
	while (ms_since(&t0) < ms) {
		if (wire_recv(fd, f, clock, payload, size))
			return -1;
		if (f->type == type)
			return 0;
	}
	return -1;
}

/* ---- a call that may block, watched from outside ---- */

enum op_kind { OP_SEND, OP_BROADCAST, OP_CLOSE, OP_JOIN };

struct op {
	enum op_kind kind;
	int fd;
	int flags;			/* send flags */
	const void *buf;
	size_t len;
	__u32 group;			/* OP_JOIN */
	__u16 node, nodes;
	ssize_t ret;
	int err;
	long ms;			/* how long the call took */
	struct timespec t0;
	pthread_t thread;
	bool running;
};

static void *op_thread(void *p)
{
	struct op *o = p;

	switch (o->kind) {
	case OP_SEND:
		o->ret = send(o->fd, o->buf, o->len, o->flags);
		break;
	case OP_BROADCAST:
		o->ret = send_broadcast(o->fd, o->buf, o->len, o->flags);
		break;
	case OP_CLOSE:
		o->ret = close(o->fd);
		break;
	case OP_JOIN:
		o->ret = causal_join(o->fd, o->group, o->node, o->nodes, 0);
		break;
	}
	o->err = errno;
	o->ms = ms_since(&o->t0);
	return NULL;
}

static void op_start(struct __test_metadata *_metadata, struct op *o)
{
	clock_gettime(CLOCK_MONOTONIC, &o->t0);
	ASSERT_EQ(pthread_create(&o->thread, NULL, op_thread, o), 0);
	o->running = true;
}

/* Did the call return within @ms of its start? If not it keeps running. */
static bool op_wait(struct op *o, int ms)
{
	struct timespec dl;
	long left = ms - ms_since(&o->t0);

	if (!o->running)
		return true;
	clock_gettime(CLOCK_REALTIME, &dl);
	if (left < 0)
		left = 0;
	dl.tv_sec += left / 1000;
	dl.tv_nsec += left % 1000 * 1000000;
	if (dl.tv_nsec >= 1000000000) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000;
	}
	if (pthread_timedjoin_np(o->thread, NULL, &dl))
		return false;
	o->running = false;
	return true;
}

/* The call's blocker is gone: it must end now. */
static void op_reap(struct __test_metadata *_metadata, struct op *o)
{
	if (o->running)
		EXPECT_TRUE(op_wait(o, ms_since(&o->t0) + 5000))
			TH_LOG("a call still blocked after its peer went away");
}

/* ---- 3. one slow peer stalls the endpoint ----
 *
 * The module is node 3 of a 4-node group; raw peers A, B and C are nodes 0,
 * 1 and 2. A stops reading: an application thread writing to A blocks in
 * send(), as it may. Nothing that does not go to A may wait for it.
 */
#define STALL_GROUP	300
#define STALL_NODES	4
#define STALL_NODE	3

FIXTURE(stall)
{
	int raw[3], ch[3];
	pthread_t writer;
	bool writing;
};

FIXTURE_SETUP(stall)
{
	__u64 zero[STALL_NODES] = {};

	causal_require_module(_metadata);
	signal(SIGPIPE, SIG_IGN);
	for (int i = 0; i < 3; i++) {
		scene_join(_metadata, &self->raw[i], &self->ch[i], STALL_GROUP,
			   STALL_NODE, STALL_NODES, 0);
		ASSERT_EQ(wire_hello(self->raw[i], STALL_GROUP, STALL_NODES, i,
				     zero, 0xa0 + i), 0);
	}
	for (int i = 0; i < 3; i++)
		wait_active(_metadata, self->ch[i]);
}

/* Let A go: its peer resets, so whatever waits for A's window ends. */
static void release_a(struct __test_metadata *_metadata,
		      FIXTURE_DATA(stall) *self)
{
	struct op writer = { .thread = self->writer, .running = self->writing };

	if (self->raw[0] >= 0)
		reset_close(self->raw[0]);
	self->raw[0] = -1;
	clock_gettime(CLOCK_MONOTONIC, &writer.t0);
	op_reap(_metadata, &writer);
	self->writing = false;
}

FIXTURE_TEARDOWN(stall)
{
	release_a(_metadata, self);
	for (int i = 0; i < 3; i++) {
		if (self->raw[i] >= 0)
			close(self->raw[i]);
		if (self->ch[i] >= 0)
			close(self->ch[i]);
	}
}

static void *stall_writer(void *p)
{
	static char buf[65536];
	int fd = *(int *)p;

	while (send(fd, buf, sizeof(buf), 0) > 0)
		;
	return NULL;
}

/* Small fixed buffers on A's connection: once full it stays full, where
 * autotuning and the peer collapsing its queue would let TCP creep on.
 */
static void shrink_a(struct __test_metadata *_metadata,
		     FIXTURE_DATA(stall) *self)
{
	int size = 65536;

	ASSERT_EQ(setsockopt(self->raw[0], SOL_SOCKET, SO_RCVBUF, &size,
			     sizeof(size)), 0);
	ASSERT_EQ(setsockopt(self->ch[0], SOL_SOCKET, SO_SNDBUF, &size,
			     sizeof(size)), 0);
}

/* Wait until A's send queue stopped moving; @refill tops it up meanwhile. */
static void wait_a_full(struct __test_metadata *_metadata,
			FIXTURE_DATA(stall) *self, bool refill)
{
	static char buf[40000];
	int outq = 0, last = -1, stable = 0;

	for (int i = 0; i < 100 && stable < 4; i++) {
		while (refill &&
		       send(self->ch[0], buf, sizeof(buf), MSG_DONTWAIT) > 0)
			;
		usleep(50 * 1000);
		ASSERT_EQ(ioctl(self->ch[0], SIOCOUTQ, &outq), 0);
		stable = outq > 0 && outq == last ? stable + 1 : 0;
		last = outq;
	}
	ASSERT_EQ(stable, 4) TH_LOG("A's send queue never settled");
}

/* A blocking writer on A's channel fills it and sleeps in send(). */
static void stall_a(struct __test_metadata *_metadata, FIXTURE_DATA(stall) *self)
{
	shrink_a(_metadata, self);
	ASSERT_EQ(pthread_create(&self->writer, NULL, stall_writer,
				 &self->ch[0]), 0);
	self->writing = true;
	wait_a_full(_metadata, self, false);
}

/* A fills without anyone blocked on it: non-blocking sends until EAGAIN. */
static void fill_a(struct __test_metadata *_metadata, FIXTURE_DATA(stall) *self)
{
	shrink_a(_metadata, self);
	wait_a_full(_metadata, self, true);
}

TEST_F_TIMEOUT(stall, dontwait_send_elsewhere, 30)
{
	struct op b = { .kind = OP_SEND, .fd = self->ch[1], .buf = "b", .len = 1,
			.flags = MSG_DONTWAIT };
	struct op a = { .kind = OP_SEND, .fd = self->ch[0], .buf = "a", .len = 1,
			.flags = MSG_DONTWAIT };
	bool b_prompt, a_prompt;

	stall_a(_metadata, self);
	op_start(_metadata, &b);
	op_start(_metadata, &a);
	b_prompt = op_wait(&b, PROMPT_MS);
	a_prompt = op_wait(&a, PROMPT_MS);
	release_a(_metadata, self);
	op_reap(_metadata, &b);
	op_reap(_metadata, &a);

	EXPECT_TRUE(b_prompt)
		TH_LOG("MSG_DONTWAIT send to B blocked %ld ms behind A's stalled peer",
		       b.ms);
	if (b_prompt)
		EXPECT_EQ(b.ret, 1) TH_LOG("send to B: %s", strerror(b.err));
	/* Another thread's non-blocking send to A itself does not wait either. */
	EXPECT_TRUE(a_prompt)
		TH_LOG("MSG_DONTWAIT send to A blocked %ld ms behind A's other writer",
		       a.ms);
	if (a_prompt) {
		EXPECT_EQ(a.ret, -1);
		EXPECT_EQ(a.err, EAGAIN);
	}
}

TEST_F_TIMEOUT(stall, sndtimeo_elsewhere, 30)
{
	struct op b = { .kind = OP_SEND, .fd = self->ch[1], .buf = "b", .len = 1 };
	struct op a = { .kind = OP_SEND, .fd = self->ch[0], .buf = "a", .len = 1 };
	bool b_prompt, a_prompt;

	stall_a(_metadata, self);
	/* A's writer sleeps with the timeout it started with: none. */
	set_sndtimeo(self->ch[0], 200);
	set_sndtimeo(self->ch[1], 200);
	op_start(_metadata, &b);
	op_start(_metadata, &a);
	b_prompt = op_wait(&b, PROMPT_MS);
	a_prompt = op_wait(&a, PROMPT_MS);
	release_a(_metadata, self);
	op_reap(_metadata, &b);
	op_reap(_metadata, &a);

	EXPECT_TRUE(b_prompt)
		TH_LOG("send to B with SO_SNDTIMEO 200 ms blocked %ld ms behind A",
		       b.ms);
	if (b_prompt)
		EXPECT_EQ(b.ret, 1) TH_LOG("send to B: %s", strerror(b.err));
	EXPECT_TRUE(a_prompt)
		TH_LOG("send to A with SO_SNDTIMEO 200 ms blocked %ld ms", a.ms);
	if (a_prompt) {
		EXPECT_EQ(a.ret, -1);
		EXPECT_EQ(a.err, EAGAIN);
	}
}

/* A unicast to C owes B a CLOCK frame with the new count, stalled A or not. */
TEST_F_TIMEOUT(stall, clock_frames_elsewhere, 30)
{
	struct op c = { .kind = OP_SEND, .fd = self->ch[2], .buf = "to C",
			.len = 4, .flags = MSG_DONTWAIT };
	__u64 clock[STALL_NODES], stamp;
	struct causal_frame f;
	char buf[8];
	bool c_prompt;

	stall_a(_metadata, self);
	op_start(_metadata, &c);
	c_prompt = op_wait(&c, PROMPT_MS);
	if (!c_prompt) {
		release_a(_metadata, self);
		op_reap(_metadata, &c);
	}
	ASSERT_TRUE(c_prompt)
		TH_LOG("MSG_DONTWAIT send to C blocked %ld ms behind A", c.ms);
	ASSERT_EQ(c.ret, 4) TH_LOG("send to C: %s", strerror(c.err));
	ASSERT_EQ(recv_frame_of(self->raw[2], CAUSAL_FRAME_DATA, &f, clock, buf,
				sizeof(buf), 2000), 0);
	stamp = clock[STALL_NODE];

	do {
		ASSERT_EQ(recv_frame_of(self->raw[1], CAUSAL_FRAME_CLOCK, &f, clock,
					buf, sizeof(buf), 2000), 0)
			TH_LOG("B got no CLOCK frame for stamp %llu while A is stalled",
			       stamp);
	} while (clock[STALL_NODE] < stamp);
}

TEST_F_TIMEOUT(stall, join_elsewhere, 30)
{
	struct op join = { .kind = OP_JOIN, .group = STALL_GROUP,
			   .node = STALL_NODE, .nodes = STALL_NODES };
	__u64 clock[STALL_NODES];
	struct causal_frame f;
	char buf[16];
	bool prompt;
	int raw, ch;

	stall_a(_metadata, self);
	tcp_pair(_metadata, AF_INET, &raw, &ch);
	ASSERT_EQ(causal_attach(ch), 0);
	join.fd = ch;
	op_start(_metadata, &join);
	prompt = op_wait(&join, PROMPT_MS);
	if (prompt && !join.ret) {
		/* And the new channel's HELLO goes out. */
		EXPECT_EQ(recv_frame_of(raw, CAUSAL_FRAME_HELLO, &f, clock, buf,
					sizeof(buf), PROMPT_MS), 0)
			TH_LOG("no HELLO on the new channel while A is stalled");
	}
	release_a(_metadata, self);
	op_reap(_metadata, &join);
	EXPECT_TRUE(prompt) TH_LOG("JOIN blocked %ld ms behind A's stalled peer",
				   join.ms);
	EXPECT_EQ(join.ret, 0) TH_LOG("JOIN: %s", strerror(join.err));
	close(raw);
	close(ch);
}

/* Closing the stalled channel itself: what it owes (the rest of a message
 * cut short included) and its BYE go to TCP at once, whatever the peer's
 * window, and reach the peer once it reads. Close waits at most 1 s for
 * memory TCP could not allocate; well under that here.
 */
TEST_F_TIMEOUT(stall, close_stalled_channel, 30)
{
	struct op bye = { .kind = OP_CLOSE, .fd = self->ch[0] };
	__u64 clock[STALL_NODES];
	struct causal_frame f;
	char buf[8];
	bool prompt;

	fill_a(_metadata, self);
	self->ch[0] = -1;
	op_start(_metadata, &bye);
	prompt = op_wait(&bye, 700);
	op_reap(_metadata, &bye);
	EXPECT_TRUE(prompt) TH_LOG("close() of the stalled channel took %ld ms",
				   bye.ms);
	EXPECT_EQ(recv_frame_of(self->raw[0], CAUSAL_FRAME_BYE, &f, clock, buf,
				sizeof(buf), 5000), 0)
		TH_LOG("the stalled channel's BYE never came");
	EXPECT_EQ(read(self->raw[0], buf, sizeof(buf)), 0)
		TH_LOG("after the BYE: %s", strerror(errno));
}

TEST_F_TIMEOUT(stall, close_elsewhere, 30)
{
	struct op bye = { .kind = OP_CLOSE, .fd = self->ch[1] };
	__u64 clock[STALL_NODES];
	struct causal_frame f;
	char buf[8];
	bool prompt;

	stall_a(_metadata, self);
	self->ch[1] = -1;
	op_start(_metadata, &bye);
	prompt = op_wait(&bye, PROMPT_MS);
	if (prompt) {
		EXPECT_EQ(recv_frame_of(self->raw[1], CAUSAL_FRAME_BYE, &f, clock,
					buf, sizeof(buf), PROMPT_MS), 0)
			TH_LOG("no BYE from the closed channel while A is stalled");
		EXPECT_EQ(read(self->raw[1], buf, sizeof(buf)), 0);
	}
	release_a(_metadata, self);
	op_reap(_metadata, &bye);
	EXPECT_TRUE(prompt) TH_LOG("close() of B blocked %ld ms behind A",
				   bye.ms);
}

/* A non-blocking broadcast while A's window is shut: a user retries when
 * poll() says the socket is writable; it must get through, and reach every
 * channel, A's included once A reads again, as one whole frame.
 */
TEST_F_TIMEOUT(stall, broadcast_dontwait_full_target, 30)
{
	__u64 clock[STALL_NODES], stamp = 0;
	struct pollfd p = { .fd = self->ch[1], .events = POLLOUT };
	int tries = 0, pollout = 0;
	struct causal_frame f;
	struct timespec t0;
	char buf[16];
	ssize_t ret;

	fill_a(_metadata, self);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		ret = send_broadcast(self->ch[1], "everyone", 8, MSG_DONTWAIT);
		tries++;
		if (ret >= 0 || errno != EAGAIN || ms_since(&t0) > 2000)
			break;
		if (poll(&p, 1, 500) == 1 && (p.revents & POLLOUT))
			pollout++;
	}
	ASSERT_EQ(ret, 8)
		TH_LOG("broadcast: %s after %d tries in %ld ms, poll() said POLLOUT %d times",
		       strerror(errno), tries, ms_since(&t0), pollout);

	for (int i = 1; i < 3; i++) {
		ASSERT_EQ(recv_frame_of(self->raw[i], CAUSAL_FRAME_DATA, &f, clock,
					buf, sizeof(buf), 2000), 0);
		EXPECT_EQ(f.flags, CAUSAL_WIRE_F_BROADCAST);
		EXPECT_EQ(memcmp(buf, "everyone", 8), 0);
		stamp = clock[STALL_NODE];
	}
	/* A reads again: its stream holds the same event after the fill. */
	do {
		ASSERT_EQ(recv_frame_of(self->raw[0], CAUSAL_FRAME_DATA, &f, clock,
					buf, sizeof(buf), 5000), 0)
			TH_LOG("A's stream ended or broke before the broadcast");
	} while (clock[STALL_NODE] < stamp);
	EXPECT_EQ(clock[STALL_NODE], stamp);
	EXPECT_EQ(f.len, 8);
	EXPECT_EQ(memcmp(buf, "everyone", 8), 0);
}

/* A blocking broadcast honours the sender's SO_SNDTIMEO, and sends to other
 * channels meanwhile do not wait.
 */
TEST_F_TIMEOUT(stall, broadcast_sndtimeo_full_target, 30)
{
	struct op all = { .kind = OP_BROADCAST, .fd = self->ch[1],
			  .buf = "everyone", .len = 8 };
	struct op c = { .kind = OP_SEND, .fd = self->ch[2], .buf = "to C",
			.len = 4, .flags = MSG_DONTWAIT };
	bool all_prompt, c_prompt;

	fill_a(_metadata, self);
	set_sndtimeo(self->ch[1], 200);
	op_start(_metadata, &all);
	usleep(50 * 1000);
	op_start(_metadata, &c);
	c_prompt = op_wait(&c, PROMPT_MS);
	all_prompt = op_wait(&all, 200 + PROMPT_MS);
	release_a(_metadata, self);
	op_reap(_metadata, &all);
	op_reap(_metadata, &c);

	EXPECT_TRUE(all_prompt)
		TH_LOG("broadcast with SO_SNDTIMEO 200 ms blocked %ld ms on A",
		       all.ms);
	if (all_prompt && all.ret < 0)
		EXPECT_EQ(all.err, EAGAIN);
	EXPECT_TRUE(c_prompt)
		TH_LOG("MSG_DONTWAIT send to C blocked %ld ms behind the broadcast",
		       c.ms);
	if (c_prompt)
		EXPECT_EQ(c.ret, 4) TH_LOG("send to C: %s", strerror(c.err));
}

/* ---- 4. frames after BYE ----
 *
 * BYE is the last frame on its stream. Node 2 of 3 closes its channel to A
 * while another socket of the endpoint sends unicasts (each owes A a CLOCK
 * frame) and broadcasts (each goes to A too); A's peer reads to EOF.
 */
#define BYE_GROUP	400

struct hammer {
	int fd;
	volatile bool stop;
};

static void *hammer_sends(void *p)
{
	struct hammer *h = p;

	pin_to_cpu(1);
	while (!h->stop) {
		send(h->fd, "u", 1, MSG_DONTWAIT);
		send_broadcast(h->fd, "all", 3, MSG_DONTWAIT);
	}
	return NULL;
}

struct drain {
	int fd;
	volatile bool stop;
};

static void *drain_raw(void *p)
{
	struct drain *d = p;
	char buf[4096];

	while (!d->stop)
		if (readable(d->fd, 10) && read(d->fd, buf, sizeof(buf)) <= 0)
			break;
	return NULL;
}

struct bye_watch {
	int fd;
	bool bye;
	int after_bye;		/* frames that followed it */
	__u8 first_after;	/* the type of the first one */
};

static void *watch_bye(void *p)
{
	struct bye_watch *w = p;
	struct causal_frame f;
	__u64 clock[3];
	char buf[8];

	while (!wire_recv(w->fd, &f, clock, buf, sizeof(buf))) {
		if (w->bye && !w->after_bye++)
			w->first_after = f.type;
		if (f.type == CAUSAL_FRAME_BYE)
			w->bye = true;
	}
	return NULL;
}

TEST(no_frame_after_bye)
{
	static const char *const type_name[] = {
		[CAUSAL_FRAME_HELLO] = "HELLO", [CAUSAL_FRAME_DATA] = "DATA",
		[CAUSAL_FRAME_CLOCK] = "CLOCK", [CAUSAL_FRAME_BYE] = "BYE",
	};
	__u64 zero[3] = {};
	unsigned int seed = 4;
	struct timespec t0;
	int round, bad = 0;

	causal_require_module(_metadata);
	signal(SIGPIPE, SIG_IGN);
	pin_to_cpu(0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (round = 0; round < 200 && !bad && ms_since(&t0) < 5000; round++) {
		int a_raw, a_ch, b_raw, b_ch;
		struct bye_watch w = {};
		struct drain d = {};
		struct hammer h = {};
		pthread_t tw, td, th;
		struct op watch;

		scene_join(_metadata, &a_raw, &a_ch, BYE_GROUP, 2, 3, 0);
		scene_join(_metadata, &b_raw, &b_ch, BYE_GROUP, 2, 3, 0);
		ASSERT_EQ(wire_hello(a_raw, BYE_GROUP, 3, 0, zero, 0xa), 0);
		ASSERT_EQ(wire_hello(b_raw, BYE_GROUP, 3, 1, zero, 0xb), 0);
		wait_active(_metadata, a_ch);
		wait_active(_metadata, b_ch);

		w.fd = a_raw;
		d.fd = b_raw;
		h.fd = b_ch;
		ASSERT_EQ(pthread_create(&tw, NULL, watch_bye, &w), 0);
		ASSERT_EQ(pthread_create(&td, NULL, drain_raw, &d), 0);
		ASSERT_EQ(pthread_create(&th, NULL, hammer_sends, &h), 0);
		usleep(rand_r(&seed) % 5000);
		close(a_ch);
		usleep(5000);
		h.stop = true;
		pthread_join(th, NULL);
		/* The module's FIN follows whatever it wrote. */
		watch = (struct op){ .thread = tw, .running = true };
		clock_gettime(CLOCK_MONOTONIC, &watch.t0);
		EXPECT_TRUE(op_wait(&watch, 5000)) TH_LOG("no EOF from A's channel");
		if (watch.running) {
			shutdown(a_raw, SHUT_RDWR);
			pthread_join(tw, NULL);
		}
		d.stop = true;
		pthread_join(td, NULL);
		close(b_ch);
		close(b_raw);
		close(a_raw);

		EXPECT_TRUE(w.bye) TH_LOG("round %d: no BYE", round);
		if (w.after_bye) {
			TH_LOG("round %d: %d frames after BYE, the first a %s",
			       round, w.after_bye,
			       w.first_after <= CAUSAL_FRAME_BYE ?
			       type_name[w.first_after] : "?");
			bad++;
		}
	}
	TH_LOG("%d rounds in %ld ms", round, ms_since(&t0));
	EXPECT_EQ(bad, 0);
}

/* ---- 5. a peer's state across its channels ----
 *
 * Node 2 of 3 with raw peers A (node 0) and B (node 1). A's channel breaks
 * and A comes back as the same incarnation on a new channel (raw2/ch2).
 */
#define PEER_GROUP	500
#define INC_A		0xa

struct trio {
	int a_raw, a_ch, b_raw, b_ch, raw2, ch2;
};

static void trio_open(struct __test_metadata *_metadata, struct trio *t,
		      __u32 group)
{
	__u64 zero[3] = {};

	t->raw2 = t->ch2 = -1;
	scene_join(_metadata, &t->a_raw, &t->a_ch, group, 2, 3, 0);
	scene_join(_metadata, &t->b_raw, &t->b_ch, group, 2, 3, 0);
	ASSERT_EQ(wire_hello(t->a_raw, group, 3, 0, zero, INC_A), 0);
	ASSERT_EQ(wire_hello(t->b_raw, group, 3, 1, zero, 0xb), 0);
	wait_active(_metadata, t->a_ch);
	wait_active(_metadata, t->b_ch);
}

static void trio_close(struct trio *t)
{
	int *fds[] = { &t->a_raw, &t->a_ch, &t->b_raw, &t->b_ch, &t->raw2,
		       &t->ch2 };

	for (unsigned int i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
}

enum break_how { BREAK_PROTO, BREAK_RESET };

/* Wait until the module's end took the peer's reset. (The error and the
 * hangup are told only after what TCP still holds is read.)
 */
static bool wait_reset(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLRDHUP };

	return poll(&p, 1, ms) == 1 &&
	       (p.revents & (POLLRDHUP | POLLERR | POLLHUP));
}

/* A's first channel breaks: A sends garbage, or its connection resets. */
static void break_a(struct __test_metadata *_metadata, struct trio *t,
		    enum break_how how)
{
	if (how == BREAK_PROTO) {
		ASSERT_EQ(write_all(t->a_raw, "garbage garbage!", 16), 0);
		ASSERT_EQ(wait_state_change(_metadata, t->a_ch, CAUSAL_CH_ACTIVE,
					    2000), CAUSAL_CH_FAILED);
		return;
	}
	reset_close(t->a_raw);
	t->a_raw = -1;
	/* Broken once what TCP holds of it is read: wait for the reset. */
	ASSERT_TRUE(wait_reset(t->a_ch, 2000));
}

/* A reconnects as the same incarnation, having sent @sent messages. */
static void rejoin_a(struct __test_metadata *_metadata, struct trio *t,
		     __u32 group, __u64 sent)
{
	__u64 clock[3] = { sent, 0, 0 };
	char buf[8];
	int state, err = 0;

	scene_join(_metadata, &t->raw2, &t->ch2, group, 2, 3, 0);
	ASSERT_EQ(wire_hello(t->raw2, group, 3, 0, clock, INC_A), 0);
	/* Its HELLO may wait until what the old channel's TCP holds is read. */
	state = wait_state_change(_metadata, t->ch2, CAUSAL_CH_JOINED, 300);
	if (state == CAUSAL_CH_FAILED &&
	    recv(t->ch2, buf, sizeof(buf), MSG_DONTWAIT) < 0)
		err = errno;
	ASSERT_TRUE(state == CAUSAL_CH_ACTIVE || state == CAUSAL_CH_JOINED)
		TH_LOG("A's reconnect as the same incarnation failed: %s",
		       err ? strerror(err) : "no answer");
}

FIXTURE(rejoin)
{
	struct trio t;
};

FIXTURE_VARIANT(rejoin)
{
	enum break_how how;
};

FIXTURE_VARIANT_ADD(rejoin, proto_error)
{
	.how = BREAK_PROTO,
};

FIXTURE_VARIANT_ADD(rejoin, reset)
{
	.how = BREAK_RESET,
};

FIXTURE_SETUP(rejoin)
{
	causal_require_module(_metadata);
	trio_open(_metadata, &self->t, PEER_GROUP);
}

FIXTURE_TEARDOWN(rejoin)
{
	trio_close(&self->t);
}

/* A message still queued on the broken channel goes before what A sent
 * after it on the new one: either the new channel continues with it, or the
 * new channel waits until it was read from the old one.
 */
TEST_F(rejoin, cause_on_broken_channel_first)
{
	struct trio *t = &self->t;
	char buf[64] = {};

	ASSERT_EQ(send_data(t->a_raw, 0, 1, 0, 0, "cause"), 0);
	ASSERT_TRUE(readable(t->a_ch, 2000));
	break_a(_metadata, t, variant->how);
	rejoin_a(_metadata, t, PEER_GROUP, 1);
	ASSERT_EQ(send_data(t->raw2, 0, 2, 0, 0, "effect"), 0);
	if (readable(t->ch2, 300)) {
		ASSERT_GT(recv(t->ch2, buf, sizeof(buf) - 1, MSG_DONTWAIT), 0);
		ASSERT_STREQ(buf, "cause")
			TH_LOG("\"%s\" delivered while its cause waits on the broken channel",
			       buf);
		expect_next(_metadata, t->ch2, "effect", 2000);
		return;
	}
	expect_next(_metadata, t->a_ch, "cause", 2000);
	expect_next(_metadata, t->ch2, "effect", 2000);
}

/* A sends @msgs (stamps 1..@n) and its connection resets while TCP still
 * holds them (only the first is parsed: a deliverable head waits there).
 */
static void reset_with_queued(struct __test_metadata *_metadata,
			      struct trio *t, const char *const *msgs, int n)
{
	for (int i = 0; i < n; i++)
		ASSERT_EQ(send_data(t->a_raw, 0, i + 1, 0, 0, msgs[i]), 0);
	ASSERT_TRUE(readable(t->a_ch, 2000));
	usleep(100 * 1000);
	reset_close(t->a_raw);
	t->a_raw = -1;
	ASSERT_TRUE(wait_reset(t->a_ch, 2000));
}

/* A's messages are read from its channel, then its reset. */
static void expect_msgs_then_reset(struct __test_metadata *_metadata,
				   struct trio *t, const char *const *msgs,
				   int n)
{
	char buf[16];

	for (int i = 0; i < n; i++)
		expect_next(_metadata, t->a_ch, msgs[i], 2000);
	EXPECT_EQ(recv(t->a_ch, buf, sizeof(buf), MSG_DONTWAIT), -1)
		TH_LOG("after A's messages: a clean EOF instead of its reset");
	EXPECT_EQ(errno, ECONNRESET);
}

/* A's connection resets with three messages in TCP's queue (only the first
 * is parsed: a deliverable head waits there to be read), and A reconnects
 * at once. All three are read from the old channel, then its error; the
 * reconnect's HELLO waits for that, and its message comes after them.
 */
TEST(reset_keeps_what_tcp_holds)
{
	const char *const msgs[] = { "one", "two", "three" };
	struct trio t;

	causal_require_module(_metadata);
	trio_open(_metadata, &t, PEER_GROUP + 4);
	reset_with_queued(_metadata, &t, msgs, 3);

	scene_join(_metadata, &t.raw2, &t.ch2, PEER_GROUP + 4, 2, 3, 0);
	ASSERT_EQ(wire_hello(t.raw2, PEER_GROUP + 4, 3, 0,
			     (__u64 [3]){ 3, 0, 0 }, INC_A), 0);
	ASSERT_EQ(send_data(t.raw2, 0, 4, 0, 0, "four"), 0);
	EXPECT_FALSE(readable(t.ch2, 200));

	expect_msgs_then_reset(_metadata, &t, msgs, 3);
	expect_next(_metadata, t.ch2, "four", 2000);
	EXPECT_EQ(wait_state_change(_metadata, t.ch2, CAUSAL_CH_JOINED, 0),
		  CAUSAL_CH_ACTIVE);
	trio_close(&t);
}

/* As above, and the endpoint writes to A's reset connection before the
 * reader gets there: a unicast to B owes A a CLOCK frame. That write is the
 * module's, not the application's: it must not take the reset's error, which
 * the reader is owed after A's messages (TCP's sendmsg hands the error to
 * whoever calls it first).
 */
TEST(reset_error_outlives_our_writes)
{
	const char *const msgs[] = { "one", "two" };
	struct trio t;

	causal_require_module(_metadata);
	trio_open(_metadata, &t, PEER_GROUP + 9);
	reset_with_queued(_metadata, &t, msgs, 2);
	ASSERT_EQ(send(t.b_ch, "to b", 4, 0), 4);
	usleep(100 * 1000);
	expect_msgs_then_reset(_metadata, &t, msgs, 2);
	trio_close(&t);
}

/* As above, and A's first reconnect resets too, with its message still in
 * TCP, before A reconnects once more. Reconnects go in the order they
 * joined: the second waits for the first, which waits for the old channel.
 */
TEST(reconnects_in_order)
{
	int raw3 = -1, ch3 = -1;
	char buf[16];
	struct trio t;

	causal_require_module(_metadata);
	trio_open(_metadata, &t, PEER_GROUP + 5);
	ASSERT_EQ(send_data(t.a_raw, 0, 1, 0, 0, "one"), 0);
	ASSERT_EQ(send_data(t.a_raw, 0, 2, 0, 0, "two"), 0);
	ASSERT_TRUE(readable(t.a_ch, 2000));
	usleep(100 * 1000);
	reset_close(t.a_raw);
	t.a_raw = -1;
	ASSERT_TRUE(wait_reset(t.a_ch, 2000));

	scene_join(_metadata, &t.raw2, &t.ch2, PEER_GROUP + 5, 2, 3, 0);
	ASSERT_EQ(wire_hello(t.raw2, PEER_GROUP + 5, 3, 0,
			     (__u64 [3]){ 2, 0, 0 }, INC_A), 0);
	ASSERT_EQ(send_data(t.raw2, 0, 3, 0, 0, "three"), 0);
	usleep(100 * 1000);
	reset_close(t.raw2);
	t.raw2 = -1;
	ASSERT_TRUE(wait_reset(t.ch2, 2000));

	scene_join(_metadata, &raw3, &ch3, PEER_GROUP + 5, 2, 3, 0);
	ASSERT_EQ(wire_hello(raw3, PEER_GROUP + 5, 3, 0,
			     (__u64 [3]){ 3, 0, 0 }, INC_A), 0);
	ASSERT_EQ(send_data(raw3, 0, 4, 0, 0, "four"), 0);
	EXPECT_FALSE(readable(ch3, 200));

	expect_next(_metadata, t.a_ch, "one", 2000);
	expect_next(_metadata, t.a_ch, "two", 2000);
	EXPECT_EQ(recv(t.a_ch, buf, sizeof(buf), MSG_DONTWAIT), -1);
	expect_next(_metadata, t.ch2, "three", 2000);
	EXPECT_EQ(recv(t.ch2, buf, sizeof(buf), MSG_DONTWAIT), -1);
	EXPECT_EQ(errno, ECONNRESET);
	expect_next(_metadata, ch3, "four", 2000);
	EXPECT_EQ(wait_state_change(_metadata, ch3, CAUSAL_CH_JOINED, 0),
		  CAUSAL_CH_ACTIVE);
	close(raw3);
	close(ch3);
	trio_close(&t);
}

/* Closing A's dead channel after A came back touches nothing of the live one:
 * its queue still holds back what depends on it, and it keeps working.
 */
TEST(stale_close_spares_live_channel)
{
	struct trio t;

	causal_require_module(_metadata);
	trio_open(_metadata, &t, PEER_GROUP + 1);
	ASSERT_EQ(send_data(t.a_raw, 0, 1, 0, 0, "one"), 0);
	expect_next(_metadata, t.a_ch, "one", 2000);
	break_a(_metadata, &t, BREAK_PROTO);
	rejoin_a(_metadata, &t, PEER_GROUP + 1, 1);
	ASSERT_EQ(send_data(t.raw2, 0, 2, 0, 0, "two"), 0);
	ASSERT_TRUE(readable(t.ch2, 2000));

	close(t.a_ch);
	t.a_ch = -1;
	ASSERT_EQ(send_data(t.b_raw, 1, 2, 1, 0, "needs two"), 0);
	EXPECT_FALSE(readable(t.b_ch, 200))
		TH_LOG("B's message delivered before A's \"two\" it depends on");
	ASSERT_EQ(send_data(t.raw2, 0, 3, 0, 0, "three"), 0);
	expect_next(_metadata, t.ch2, "two", 2000);
	if (!readable(t.ch2, 2000) || info_of(_metadata, t.ch2).state != CAUSAL_CH_ACTIVE) {
		char buf[8];

		recv(t.ch2, buf, sizeof(buf), MSG_DONTWAIT);
		ASSERT_TRUE(false)
			TH_LOG("closing A's dead channel broke the live one: state %d, %s",
			       info_of(_metadata, t.ch2).state, strerror(errno));
	}
	expect_next(_metadata, t.ch2, "three", 0);
	trio_close(&t);
}

/* A's socket is closed by its owner with a message unread: that message is
 * gone, and what depended on it is delivered only flagged as a gap.
 */
TEST(purge_flags_dependents_as_gap)
{
	struct {
		struct causal_msg_info info;
		__u64 vclock[3];
	} *ci;
	char cbuf[CMSG_SPACE(sizeof(*ci))], buf[16];
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *cmsg;
	__u32 ms = 100;
	int one = 1;
	struct trio t;

	causal_require_module(_metadata);
	trio_open(_metadata, &t, PEER_GROUP + 2);
	ASSERT_EQ(setsockopt(t.b_ch, SOL_CAUSAL, CAUSAL_RECV_INFO, &one,
			     sizeof(one)), 0);
	ASSERT_EQ(send_data(t.a_raw, 0, 1, 0, 0, "cause"), 0);
	ASSERT_TRUE(readable(t.a_ch, 2000));
	ASSERT_EQ(send_data(t.b_raw, 1, 1, 1, 0, "effect"), 0);
	expect_held(_metadata, t.b_ch);

	close(t.a_ch);
	t.a_ch = -1;
	if (!readable(t.b_ch, 500)) {
		/* Held for a cause that will never come: the timeout says so. */
		ASSERT_EQ(setsockopt(t.b_ch, SOL_CAUSAL, CAUSAL_HOLD_TIMEOUT, &ms,
				     sizeof(ms)), 0);
		ASSERT_TRUE(readable(t.b_ch, 3000));
	}
	ASSERT_EQ(recvmsg(t.b_ch, &msg, MSG_DONTWAIT), 6);
	cmsg = CMSG_FIRSTHDR(&msg);
	ASSERT_NE(cmsg, NULL);
	ci = (void *)CMSG_DATA(cmsg);
	EXPECT_TRUE(ci->info.flags & CAUSAL_MSG_GAP)
		TH_LOG("\"effect\" delivered without CAUSAL_MSG_GAP though its cause was dropped");
	trio_close(&t);
}

/* Node 0 claims that node 1 sent 5 messages; its message waits for them
 * until the hold timeout lets it go as a gap. Node 2's next message depends
 * on node 1's first, which never came: it may pass too, but only flagged as
 * a gap, or the application takes it for causally complete.
 */
static int recv_gap_flag(struct __test_metadata *_metadata, int fd,
			 const char *text)
{
	struct {
		struct causal_msg_info info;
		__u64 vclock[CAUSAL_MAX_NODES];
	} *ci;
	char cbuf[CMSG_SPACE(sizeof(*ci))], buf[16] = {};
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) - 1 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *cmsg;

	if (!readable(fd, 3000) || recvmsg(fd, &msg, MSG_DONTWAIT) != strlen(text))
		return -1;
	EXPECT_STREQ(buf, text);
	cmsg = CMSG_FIRSTHDR(&msg);
	if (!cmsg)
		return -1;
	ci = (void *)CMSG_DATA(cmsg);
	return !!(ci->info.flags & CAUSAL_MSG_GAP);
}

TEST(gap_floor_passes_only_as_gap)
{
	int raw[3], ch[3], one = 1;
	__u64 v[4] = {};
	__u32 ms = 100;

	causal_require_module(_metadata);
	for (int i = 0; i < 3; i++) {
		scene_join(_metadata, &raw[i], &ch[i], PEER_GROUP + 3, 3, 4, 0);
		ASSERT_EQ(wire_hello(raw[i], PEER_GROUP + 3, 4, i, v, 0x10 + i), 0);
		wait_active(_metadata, ch[i]);
		ASSERT_EQ(setsockopt(ch[i], SOL_CAUSAL, CAUSAL_RECV_INFO, &one,
				     sizeof(one)), 0);
	}
	ASSERT_EQ(setsockopt(ch[0], SOL_CAUSAL, CAUSAL_HOLD_TIMEOUT, &ms,
			     sizeof(ms)), 0);

	v[0] = 1;
	v[1] = 5;
	ASSERT_EQ(wire_send(raw[0], CAUSAL_FRAME_DATA, 0, 4, 0, v, "claim", 5), 0);
	EXPECT_EQ(recv_gap_flag(_metadata, ch[0], "claim"), 1);

	v[0] = 0;
	v[1] = 1;
	v[2] = 1;
	ASSERT_EQ(wire_send(raw[2], CAUSAL_FRAME_DATA, 0, 4, 2, v, "after", 5), 0);
	EXPECT_EQ(recv_gap_flag(_metadata, ch[2], "after"), 1)
		TH_LOG("delivered before node 1's first message without CAUSAL_MSG_GAP");

	/* Node 1's message, when it comes, is no gap; nor what follows it. */
	v[1] = 1;
	v[2] = 0;
	ASSERT_EQ(wire_send(raw[1], CAUSAL_FRAME_DATA, 0, 4, 1, v, "first", 5), 0);
	EXPECT_EQ(recv_gap_flag(_metadata, ch[1], "first"), 0);
	v[2] = 2;
	ASSERT_EQ(wire_send(raw[2], CAUSAL_FRAME_DATA, 0, 4, 2, v, "later", 5), 0);
	EXPECT_EQ(recv_gap_flag(_metadata, ch[2], "later"), 0);
	for (int i = 0; i < 3; i++) {
		close(raw[i]);
		close(ch[i]);
	}
}

/* ---- 6. EOF wakes a blocked reader ----
 *
 * The peer sends a few messages and then shuts its side down; a reader
 * blocked in recv() or poll() gets the messages and then EOF at once. The
 * reader and the softirq that takes the FIN run on different CPUs.
 */
/* A's host lost its old connection without a word (it rebooted its
 * network, the reset never came: TCP_REPAIR closes without one), and A
 * reconnects as the same incarnation. The old connection looks live, and
 * nothing is sent on it: the reconnect is not refused as a duplicate for
 * as long as it stays so. The module asks the old one (a CLOCK frame draws
 * the reset) and lets the reconnect go on when it ends.
 */
TEST(reconnect_over_silently_dead_connection)
{
	int on = 1, state;
	char buf[16];
	struct trio t;

	causal_require_module(_metadata);
	trio_open(_metadata, &t, PEER_GROUP + 7);
	ASSERT_EQ(send_data(t.a_raw, 0, 1, 0, 0, "one"), 0);
	expect_next(_metadata, t.a_ch, "one", 2000);
	ASSERT_EQ(setsockopt(t.a_raw, SOL_TCP, TCP_REPAIR, &on, sizeof(on)), 0);
	close(t.a_raw);
	t.a_raw = -1;

	scene_join(_metadata, &t.raw2, &t.ch2, PEER_GROUP + 7, 2, 3, 0);
	ASSERT_EQ(wire_hello(t.raw2, PEER_GROUP + 7, 3, 0,
			     (__u64 [3]){ 1, 0, 0 }, INC_A), 0);
	ASSERT_EQ(send_data(t.raw2, 0, 2, 0, 0, "two"), 0);
	state = wait_state_change(_metadata, t.ch2, CAUSAL_CH_JOINED, 2000);
	if (state == CAUSAL_CH_FAILED)
		recv(t.ch2, buf, sizeof(buf), MSG_DONTWAIT);
	ASSERT_EQ(state, CAUSAL_CH_ACTIVE)
		TH_LOG("the reconnect failed: %s", strerror(errno));
	expect_next(_metadata, t.ch2, "two", 2000);
	EXPECT_EQ(recv(t.a_ch, buf, sizeof(buf), MSG_DONTWAIT), -1);
	EXPECT_EQ(errno, ECONNRESET);
	trio_close(&t);
}

/* The same incarnation on a second connection while the first is live:
 * refused as a duplicate once the first answered (it is not gone).
 */
TEST(reconnect_over_live_connection_fails)
{
	struct causal_frame f;
	__u64 clock[3];
	char buf[16];
	struct trio t;

	causal_require_module(_metadata);
	trio_open(_metadata, &t, PEER_GROUP + 8);
	scene_join(_metadata, &t.raw2, &t.ch2, PEER_GROUP + 8, 2, 3, 0);
	ASSERT_EQ(wire_hello(t.raw2, PEER_GROUP + 8, 3, 0,
			     (__u64 [3]){ 0, 0, 0 }, INC_A), 0);
	/* The old connection is asked, and it stays. */
	ASSERT_EQ(recv_frame_of(t.a_raw, CAUSAL_FRAME_CLOCK, &f, clock, buf,
				sizeof(buf), 2000), 0);
	expect_failed(_metadata, t.ch2, EEXIST);
	ASSERT_EQ(send_data(t.a_raw, 0, 1, 0, 0, "still here"), 0);
	expect_next(_metadata, t.a_ch, "still here", 2000);
	trio_close(&t);
}

/* The reader shuts its read side of A's channel. As with TCP, a read finds
 * what is there and returns 0 instead of waiting; A's connection goes on,
 * and what A sends after it is still A's: read there, and the cause it is
 * for B's message. (It is not the end of A's stream: only A's FIN is.)
 */
TEST(shut_rd_keeps_the_peer)
{
	char buf[16];
	struct trio t;
	int one = 1;

	causal_require_module(_metadata);
	trio_open(_metadata, &t, PEER_GROUP + 6);
	set_rcvtimeo(t.a_ch, 2000);
	ASSERT_EQ(setsockopt(t.b_ch, SOL_CAUSAL, CAUSAL_RECV_INFO, &one,
			     sizeof(one)), 0);
	ASSERT_EQ(shutdown(t.a_ch, SHUT_RD), 0);
	EXPECT_TRUE(readable(t.a_ch, 0));
	EXPECT_EQ(recv(t.a_ch, buf, sizeof(buf), 0), 0)
		TH_LOG("read after SHUT_RD: %s", strerror(errno));

	/* Readable at once now: each message is given time to arrive. */
	ASSERT_EQ(send_data(t.a_raw, 0, 1, 0, 0, "one"), 0);
	usleep(50 * 1000);
	expect_next(_metadata, t.a_ch, "one", 0);
	ASSERT_EQ(send_data(t.a_raw, 0, 2, 0, 0, "two"), 0);
	ASSERT_EQ(send_data(t.b_raw, 1, 2, 1, 0, "needs two"), 0);
	usleep(50 * 1000);
	expect_next(_metadata, t.a_ch, "two", 0);
	EXPECT_EQ(recv_gap_flag(_metadata, t.b_ch, "needs two"), 0)
		TH_LOG("B's message waited for A's \"two\" and passed as a gap");
	EXPECT_EQ(info_of(_metadata, t.a_ch).state, CAUSAL_CH_ACTIVE);
	EXPECT_EQ(recv(t.a_ch, buf, sizeof(buf), 0), 0);
	trio_close(&t);
}

#define EOF_GROUP	600
#define EOF_MSGS	3

FIXTURE(eof)
{
};

FIXTURE_VARIANT(eof)
{
	enum eof_wait { WAIT_RECV, WAIT_POLL } wait;
};

FIXTURE_VARIANT_ADD(eof, recv)
{
	.wait = WAIT_RECV,
};

FIXTURE_VARIANT_ADD(eof, poll)
{
	.wait = WAIT_POLL,
};

FIXTURE_SETUP(eof)
{
	causal_require_module(_metadata);
}

FIXTURE_TEARDOWN(eof)
{
}

struct eof_reader {
	int fd;
	enum eof_wait wait;
	int got;
	ssize_t last;
	int err;
};

static void *read_to_eof(void *p)
{
	struct eof_reader *r = p;
	int flags = r->wait == WAIT_POLL ? MSG_DONTWAIT : 0;
	char buf[64];

	pin_to_cpu(1);
	for (;;) {
		if (r->wait == WAIT_POLL && !readable(r->fd, 3000)) {
			r->last = -1;
			r->err = ETIMEDOUT;
			break;
		}
		r->last = recv(r->fd, buf, sizeof(buf), flags);
		r->err = errno;
		if (r->last > 0)
			r->got++;
		else if (r->last || !flags || errno != EAGAIN)
			break;
	}
	return NULL;
}

TEST_F(eof, wakes_blocked_reader)
{
	__u64 zero[3] = {};
	struct timespec t0;
	int round, missed = 0;

	pin_to_cpu(0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (round = 0; round < 200 && !missed && ms_since(&t0) < 5000; round++) {
		struct eof_reader r = { .wait = variant->wait };
		struct op reader = {};
		bool prompt;
		int raw, ch;

		scene_join(_metadata, &raw, &ch, EOF_GROUP, 2, 3, 0);
		ASSERT_EQ(wire_hello(raw, EOF_GROUP, 3, 0, zero, 0xa), 0);
		wait_active(_metadata, ch);
		set_rcvtimeo(ch, 3000);
		r.fd = ch;
		ASSERT_EQ(pthread_create(&reader.thread, NULL, read_to_eof, &r), 0);
		reader.running = true;
		for (int i = 1; i <= EOF_MSGS; i++)
			ASSERT_EQ(send_data(raw, 0, i, 0, 0, "m"), 0);
		/* The reader is asleep again when the FIN comes. */
		usleep(20 * 1000);
		clock_gettime(CLOCK_MONOTONIC, &reader.t0);
		shutdown(raw, SHUT_WR);
		prompt = op_wait(&reader, PROMPT_MS);
		if (!prompt) {
			pthread_join(reader.thread, NULL);
			missed++;
		}
		EXPECT_TRUE(prompt)
			TH_LOG("round %d: reader not woken at EOF, it returned %zd (%s) after %ld ms",
			       round, r.last, r.last < 0 ? strerror(r.err) : "EOF",
			       ms_since(&reader.t0));
		EXPECT_EQ(r.got, EOF_MSGS);
		EXPECT_EQ(r.last, 0);
		close(raw);
		close(ch);
	}
	TH_LOG("%d rounds in %ld ms", round, ms_since(&t0));
}

/* ---- 7. more channels than nodes ----
 *
 * Sockets that joined but whose peer never said HELLO are channels too, as
 * many as a client cares to open. The endpoint's real peers, joined last,
 * still get every broadcast and CLOCK frame.
 */
#define CROWD_GROUP	700
#define CROWD_IDLE	68

FIXTURE(crowd)
{
	int idle_raw[CROWD_IDLE], idle_ch[CROWD_IDLE];
	int a_raw, a_ch, b_raw, b_ch;
};

FIXTURE_SETUP(crowd)
{
	__u64 zero[3] = {};

	causal_require_module(_metadata);
	memset(self->idle_raw, -1, sizeof(self->idle_raw));
	memset(self->idle_ch, -1, sizeof(self->idle_ch));
	self->a_raw = self->a_ch = self->b_raw = self->b_ch = -1;
	for (int i = 0; i < CROWD_IDLE; i++)
		scene_join(_metadata, &self->idle_raw[i], &self->idle_ch[i],
			   CROWD_GROUP, 2, 3, 0);
	scene_join(_metadata, &self->a_raw, &self->a_ch, CROWD_GROUP, 2, 3, 0);
	scene_join(_metadata, &self->b_raw, &self->b_ch, CROWD_GROUP, 2, 3, 0);
	ASSERT_EQ(wire_hello(self->a_raw, CROWD_GROUP, 3, 0, zero, 0xa), 0);
	ASSERT_EQ(wire_hello(self->b_raw, CROWD_GROUP, 3, 1, zero, 0xb), 0);
	wait_active(_metadata, self->a_ch);
	wait_active(_metadata, self->b_ch);
}

FIXTURE_TEARDOWN(crowd)
{
	for (int i = 0; i < CROWD_IDLE; i++) {
		close(self->idle_raw[i]);
		close(self->idle_ch[i]);
	}
	close(self->a_raw);
	close(self->a_ch);
	close(self->b_raw);
	close(self->b_ch);
}

TEST_F(crowd, broadcast_reaches_real_peers)
{
	int raws[] = { self->a_raw, self->b_raw };
	struct causal_frame f;
	__u64 clock[3];
	char buf[8];

	ASSERT_EQ(send_broadcast(self->b_ch, "crowd", 5, 0), 5);
	for (int i = 0; i < 2; i++) {
		ASSERT_EQ(recv_frame_of(raws[i], CAUSAL_FRAME_DATA, &f, clock, buf,
					sizeof(buf), 2000), 0)
			TH_LOG("node %d got no broadcast on an endpoint of %d channels",
			       i, CROWD_IDLE + 2);
		EXPECT_EQ(f.flags, CAUSAL_WIRE_F_BROADCAST);
		EXPECT_EQ(memcmp(buf, "crowd", 5), 0);
	}
}

TEST_F(crowd, clock_reaches_real_peers)
{
	struct causal_frame f;
	__u64 clock[3];
	char buf[8];

	ASSERT_EQ(send(self->a_ch, "to A", 4, 0), 4);
	ASSERT_EQ(recv_frame_of(self->b_raw, CAUSAL_FRAME_CLOCK, &f, clock, buf,
				sizeof(buf), 2000), 0)
		TH_LOG("B got no CLOCK frame on an endpoint of %d channels",
		       CROWD_IDLE + 2);
	EXPECT_EQ(clock[2], 1);
}

/* ---- 8. what a peer's frame costs ----
 *
 * A frame costs the receive path what it changes, not a walk over the
 * endpoint: a flood of CLOCK frames from one peer is taken in about as fast
 * on an endpoint that also has hundreds of idle channels and dozens of
 * messages waiting on another node as on one with nothing else. (Before,
 * every frame re-checked every channel's head.)
 */
#define COST_GROUP	1100
#define COST_NODES	64
#define COST_IDLE	400	/* joined, never said HELLO */
#define COST_HELD	40	/* peers with a message waiting on node 63 */
#define COST_FRAMES	20000
#define COST_ROUNDS	5

struct cost_ep {
	int raw[1 + COST_IDLE + COST_HELD], ch[1 + COST_IDLE + COST_HELD];
	int n;
	__u64 clock[COST_NODES];	/* the flooder's, node 1 */
};

static void cost_add(struct __test_metadata *_metadata, struct cost_ep *e,
		     __u32 group, int peer)
{
	__u64 zero[COST_NODES] = {};

	scene_join(_metadata, &e->raw[e->n], &e->ch[e->n], group, 0,
		   COST_NODES, 0);
	if (peer >= 0) {
		ASSERT_EQ(wire_hello(e->raw[e->n], group, COST_NODES, peer, zero,
				     0x100 + peer), 0);
		wait_active(_metadata, e->ch[e->n]);
	}
	e->n++;
}

/* Node 0's endpoint with the flooder, node 1, on its first channel. */
static void cost_open(struct __test_metadata *_metadata, struct cost_ep *e,
		      __u32 group, bool crowded)
{
	memset(e, 0, sizeof(*e));
	cost_add(_metadata, e, group, 1);
	if (!crowded)
		return;
	for (int i = 0; i < COST_IDLE; i++)
		cost_add(_metadata, e, group, -1);
	for (int p = 2; p < 2 + COST_HELD; p++) {
		__u64 v[COST_NODES] = {};

		cost_add(_metadata, e, group, p);
		v[p] = 1;
		v[COST_NODES - 1] = 1;	/* never comes */
		ASSERT_EQ(wire_send(e->raw[e->n - 1], CAUSAL_FRAME_DATA, 0,
				    COST_NODES, p, v, "held", 4), 0);
	}
	expect_held(_metadata, e->ch[e->n - 1]);
}

static void cost_close(struct cost_ep *e)
{
	for (int i = 0; i < e->n; i++) {
		close(e->raw[i]);
		close(e->ch[i]);
	}
}

/* Microseconds for the module to take in COST_FRAMES CLOCK frames. */
static long cost_flood(struct __test_metadata *_metadata, struct cost_ep *e)
{
	size_t size = causal_frame_size(COST_NODES, 0);
	struct causal_frame f = {
		.type = CAUSAL_FRAME_CLOCK, .nodes = COST_NODES, .sender = 1,
	};
	char *buf = malloc(size * COST_FRAMES);
	struct timespec t0, t1;
	int outq;

	for (int i = 0; i < COST_FRAMES; i++) {
		e->clock[1]++;
		causal_wire_put_hdr(buf + i * size, &f);
		causal_wire_put_clock(buf + i * size + CAUSAL_WIRE_HDR_LEN,
				      e->clock, COST_NODES);
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	EXPECT_EQ(write_all(e->raw[0], buf, size * COST_FRAMES), 0);
	/* Acknowledged means parsed: the module reads in data_ready. */
	do {
		ASSERT_EQ(ioctl(e->raw[0], SIOCOUTQ, &outq), 0);
	} while (outq > 0 && ms_since(&t0) < 30000);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	free(buf);
	return (t1.tv_sec - t0.tv_sec) * 1000000L +
	       (t1.tv_nsec - t0.tv_nsec) / 1000;
}

static int cmp_long(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;

	return (x > y) - (x < y);
}

TEST(clock_flood_costs_what_changed)
{
	struct rlimit fds = { 4096, 4096 };
	long bare[COST_ROUNDS], crowded[COST_ROUNDS];
	struct cost_ep a, b;

	causal_require_module(_metadata);
	ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &fds), 0);
	cost_open(_metadata, &a, COST_GROUP, false);
	cost_open(_metadata, &b, COST_GROUP + 1, true);
	/* Alternately, for the machine's drift. */
	for (int i = 0; i < COST_ROUNDS; i++) {
		bare[i] = cost_flood(_metadata, &a);
		crowded[i] = cost_flood(_metadata, &b);
	}
	EXPECT_EQ(info_of(_metadata, a.ch[0]).watermark, a.clock[1]);
	EXPECT_EQ(info_of(_metadata, b.ch[0]).watermark, b.clock[1]);
	expect_held(_metadata, b.ch[b.n - 1]);
	qsort(bare, COST_ROUNDS, sizeof(long), cmp_long);
	qsort(crowded, COST_ROUNDS, sizeof(long), cmp_long);
	TH_LOG("%d CLOCK frames of %d nodes: median %ld us alone, %ld us beside %d idle channels and %d held heads",
	       COST_FRAMES, COST_NODES, bare[COST_ROUNDS / 2],
	       crowded[COST_ROUNDS / 2], COST_IDLE, COST_HELD);
	EXPECT_LE(crowded[COST_ROUNDS / 2], 2 * bare[COST_ROUNDS / 2]);
	cost_close(&a);
	cost_close(&b);
}

/* ---- 10. endpoint squatting ----
 *
 * Another uid creates the service's (group, node) first, with the service's
 * nodes and flags. The service then gets an endpoint of its own or a clear
 * error, never the squatter's: the squatter reads none of its messages and
 * its stamps are its own.
 */
#define SQUAT_GROUP	1000
#define SQUATTER_UID	1000

struct squat_reply {
	int ret;
	int err;
	char data[32];
};

static int drop_to(uid_t uid)
{
	if (setgroups(0, NULL) || setresgid(uid, uid, uid) ||
	    setresuid(uid, uid, uid))
		return -1;
	return 0;
}

/* The squatter's process: join, then read or send on command. */
static void squatter(int cmd, int reply)
{
	struct squat_reply r = {};
	int raw, ch;
	char c;

	alarm(20);
	if (drop_to(SQUATTER_UID) || cu_tcp_pair(AF_INET, false, &raw, &ch)) {
		r.ret = -1;
	} else {
		r.ret = causal_attach(ch) ? :
			causal_join(ch, SQUAT_GROUP, 0, 2, CAUSAL_F_MERGED_RECV);
	}
	r.err = errno;
	if (write(reply, &r, sizeof(r)) != sizeof(r) || r.ret)
		_exit(1);
	while (read(cmd, &c, 1) == 1) {
		memset(&r, 0, sizeof(r));
		if (c == 'r')
			r.ret = recv(ch, r.data, sizeof(r.data), MSG_DONTWAIT);
		else
			r.ret = send(ch, "forged", 6, 0);
		r.err = errno;
		if (write(reply, &r, sizeof(r)) != sizeof(r))
			break;
	}
	_exit(0);
}

FIXTURE(squat)
{
	pid_t pid;
	int cmd, reply;
};

FIXTURE_VARIANT(squat)
{
	uid_t service_uid;
};

FIXTURE_VARIANT_ADD(squat, root_service)
{
	.service_uid = 0,
};

FIXTURE_VARIANT_ADD(squat, user_service)
{
	.service_uid = 1001,
};

static struct squat_reply squat_ask(struct __test_metadata *_metadata,
				    FIXTURE_DATA(squat) *self, char c)
{
	struct squat_reply r = { .ret = -1 };

	if (c)
		EXPECT_EQ(write(self->cmd, &c, 1), 1);
	EXPECT_TRUE(readable(self->reply, 5000));
	EXPECT_EQ(read(self->reply, &r, sizeof(r)), sizeof(r));
	return r;
}

FIXTURE_SETUP(squat)
{
	struct squat_reply r;
	int to[2], from[2];

	causal_require_module(_metadata);
	if (getuid())
		SKIP(return, "needs root to act as two users");
	ASSERT_EQ(pipe(to), 0);
	ASSERT_EQ(pipe(from), 0);
	self->pid = fork();
	ASSERT_GE(self->pid, 0);
	if (!self->pid) {
		close(to[1]);
		close(from[0]);
		squatter(to[0], from[1]);
	}
	close(to[0]);
	close(from[1]);
	self->cmd = to[1];
	self->reply = from[0];
	r = squat_ask(_metadata, self, 0);
	ASSERT_EQ(r.ret, 0) TH_LOG("the squatter could not join: %s",
				   strerror(r.err));
}

FIXTURE_TEARDOWN(squat)
{
	close(self->cmd);
	close(self->reply);
	waitpid(self->pid, NULL, 0);
}

TEST_F(squat, service_keeps_its_endpoint)
{
	__u64 zero[2] = {}, peer_clock[2] = { 0, 1 }, clock[2];
	struct causal_frame f;
	struct squat_reply r;
	char buf[16];
	int raw, ch;

	if (variant->service_uid)
		ASSERT_EQ(drop_to(variant->service_uid), 0);
	tcp_pair(_metadata, AF_INET, &raw, &ch);
	ASSERT_EQ(causal_attach(ch), 0);
	if (causal_join(ch, SQUAT_GROUP, 0, 2, CAUSAL_F_MERGED_RECV)) {
		TH_LOG("the service's JOIN was refused: %s", strerror(errno));
		close(raw);
		close(ch);
		return;
	}
	ASSERT_EQ(recv_frame_of(raw, CAUSAL_FRAME_HELLO, &f, clock, buf,
				sizeof(buf), 2000), 0);
	ASSERT_EQ(wire_hello(raw, SQUAT_GROUP, 2, 1, zero, 0x5e), 0);
	wait_active(_metadata, ch);
	ASSERT_EQ(wire_send(raw, CAUSAL_FRAME_DATA, 0, 2, 1, peer_clock,
			    "secret", 6), 0);
	ASSERT_TRUE(readable(ch, 2000));

	r = squat_ask(_metadata, self, 'r');
	EXPECT_EQ(r.ret, -1)
		TH_LOG("the squatter (uid %d) read the service's message \"%.*s\"",
		       SQUATTER_UID, r.ret > 0 ? r.ret : 0, r.data);
	if (r.ret <= 0)
		expect_next(_metadata, ch, "secret", 1000);

	r = squat_ask(_metadata, self, 's');
	EXPECT_EQ(r.ret, 6) TH_LOG("the squatter's send: %s", strerror(r.err));
	ASSERT_EQ(send(ch, "mine", 4, 0), 4);
	ASSERT_EQ(recv_frame_of(raw, CAUSAL_FRAME_DATA, &f, clock, buf,
				sizeof(buf), 2000), 0);
	EXPECT_EQ(clock[0], 1)
		TH_LOG("the service's first message carries stamp %llu: its clock is the squatter's",
		       clock[0]);
	close(raw);
	close(ch);
}

/* ---- smaller defects ---- */
#define MISC_GROUP	800

/* A broadcast that reaches no channel is an error, and no send event. */
TEST(broadcast_to_no_channel_fails)
{
	__u64 zero[3] = {};
	__u64 before;
	ssize_t ret;
	int raw, ch;

	causal_require_module(_metadata);
	scene_join(_metadata, &raw, &ch, MISC_GROUP, 2, 3, 0);
	ASSERT_EQ(wire_hello(raw, MISC_GROUP, 3, 0, zero, 0xa), 0);
	wait_active(_metadata, ch);
	ASSERT_EQ(wire_send(raw, CAUSAL_FRAME_BYE, 0, 3, 0, zero, NULL, 0), 0);
	ASSERT_EQ(wait_state_change(_metadata, ch, CAUSAL_CH_ACTIVE, 2000),
		  CAUSAL_CH_LEFT);

	before = info_of(_metadata, ch).ep_sent;
	ret = send_broadcast(ch, "nobody", 6, 0);
	EXPECT_EQ(ret, -1)
		TH_LOG("a broadcast that reached no channel returned %zd", ret);
	EXPECT_EQ(info_of(_metadata, ch).ep_sent, before)
		TH_LOG("a broadcast that reached no channel used a stamp");
	close(raw);
	close(ch);
}

/* Before the peer's HELLO a send is still a unicast on the wire. */
TEST(unicast_before_hello_is_unicast)
{
	struct causal_frame f;
	__u64 clock[3];
	char buf[8];
	int raw, ch;

	causal_require_module(_metadata);
	scene_join(_metadata, &raw, &ch, MISC_GROUP + 1, 2, 3, 0);
	ASSERT_EQ(send(ch, "early", 5, 0), 5);
	ASSERT_EQ(recv_frame_of(raw, CAUSAL_FRAME_DATA, &f, clock, buf,
				sizeof(buf), 2000), 0);
	EXPECT_EQ(f.flags, 0)
		TH_LOG("a unicast before the peer's HELLO went out flagged BROADCAST");
	close(raw);
	close(ch);
}

/* An urgent byte from the peer: the frames after it are delivered, or the
 * channel fails with an error; it never just stops.
 */
TEST(urgent_byte_does_not_wedge)
{
	__u64 zero[3] = {};
	char buf[16] = {};
	ssize_t n;
	int raw, ch;

	causal_require_module(_metadata);
	scene_join(_metadata, &raw, &ch, MISC_GROUP + 2, 2, 3, 0);
	ASSERT_EQ(wire_hello(raw, MISC_GROUP + 2, 3, 0, zero, 0xa), 0);
	wait_active(_metadata, ch);
	ASSERT_EQ(send_data(raw, 0, 1, 0, 0, "before"), 0);
	ASSERT_EQ(send(raw, "!", 1, MSG_OOB), 1);
	ASSERT_EQ(send_data(raw, 0, 2, 0, 0, "after"), 0);
	expect_next(_metadata, ch, "before", 2000);
	ASSERT_TRUE(readable(ch, 2000))
		TH_LOG("after an urgent byte the channel neither delivers nor fails");
	n = recv(ch, buf, sizeof(buf) - 1, MSG_DONTWAIT);
	if (n >= 0) {
		EXPECT_STREQ(buf, "after");
	} else {
		TH_LOG("the channel failed: %s", strerror(errno));
	}
	close(raw);
	close(ch);
}

/* <linux/tcp.h>'s struct, up to the fields used; it clashes with
 * <netinet/tcp.h>, whose own version stops before copybuf.
 */
struct zc_receive {
	__u64 address;
	__u32 length;
	__u32 recv_skip_hint;
	__u32 inq;
	__s32 err;
	__u64 copybuf_address;
	__s32 copybuf_len;
	__u32 flags;
};

/* The raw stream belongs to the module: TCP_ZEROCOPY_RECEIVE, which reads
 * it around recvmsg(), is refused, and the messages stay whole.
 */
TEST(zerocopy_receive_refused)
{
	size_t copy_len = 8 << 20, size = 4000;
	char *copybuf = malloc(copy_len), *payload = malloc(size), buf[4001];
	struct zc_receive zc = { .copybuf_len = copy_len };
	socklen_t zlen = sizeof(zc);
	__u64 clock[3] = { 1, 0, 0 };
	int sent, inq = 0, ret;
	struct trio t;

	causal_require_module(_metadata);
	ASSERT_TRUE(copybuf && payload);
	memset(payload, 'z', size);
	trio_open(_metadata, &t, MISC_GROUP + 3);
	/* Messages that wait for A fill B's hold-back; the rest waits in TCP. */
	ASSERT_EQ(fcntl(t.b_raw, F_SETFL, O_NONBLOCK), 0);
	for (sent = 0; sent < 2000; sent++) {
		clock[1] = sent + 1;
		if (wire_send(t.b_raw, CAUSAL_FRAME_DATA, 0, 3, 1, clock, payload,
			      size))
			break;
	}
	usleep(200 * 1000);
	ASSERT_EQ(ioctl(t.b_ch, SIOCINQ, &inq), 0);
	TH_LOG("%d messages sent, %d bytes unparsed in TCP", sent, inq);

	zc.copybuf_address = (uintptr_t)copybuf;
	ret = getsockopt(t.b_ch, IPPROTO_TCP, TCP_ZEROCOPY_RECEIVE, &zc, &zlen);
	EXPECT_EQ(ret, -1)
		TH_LOG("TCP_ZEROCOPY_RECEIVE returned %d and copied %d bytes of the raw stream",
		       ret, zc.copybuf_len);

	ASSERT_EQ(send_clock(t.a_raw, 0, 1, 0, 0), 0);
	for (int i = 0; i < sent; i++) {
		ASSERT_TRUE(readable(t.b_ch, 2000)) TH_LOG("message %d of %d", i, sent);
		ASSERT_EQ(recv(t.b_ch, buf, sizeof(buf), MSG_DONTWAIT), size)
			TH_LOG("message %d of %d: %s", i, sent, strerror(errno));
		ASSERT_EQ(memcmp(buf, payload, size), 0);
	}
	trio_close(&t);
	free(copybuf);
	free(payload);
}

/* ---- 1. a paused channel resumed by another socket's reader as it closes ----
 *
 * Merged receive: A's peer floods until A's hold-back is full and its parser
 * pauses; a reader on B's socket drains A's messages, resuming A's parser
 * from B, while A is closed. The VM runner fails the run on any oops, and
 * the debug kernel's KASAN on the use-after-free.
 */
struct flooder {
	int fd;
	int sent;
};

static void *flood_frames(void *p)
{
	static char payload[4000];
	struct flooder *fl = p;
	__u64 clock[3] = {};

	for (;;) {
		clock[0] = ++fl->sent;
		if (wire_send(fl->fd, CAUSAL_FRAME_DATA, 0, 3, 0, clock, payload,
			      sizeof(payload)))
			break;
	}
	return NULL;
}

struct drainer {
	int fd;
	volatile bool stop;
	int got;
};

static void *drain_merged(void *p)
{
	struct drainer *d = p;
	char buf[4096];

	while (!d->stop)
		if (recv(d->fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
			d->got++;
	return NULL;
}

TEST(merged_resume_races_close)
{
	__u64 zero[3] = {};
	unsigned int seed = 1;
	struct timespec t0;
	int round, got = 0;

	causal_require_module(_metadata);
	signal(SIGPIPE, SIG_IGN);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (round = 0; round < 50 && ms_since(&t0) < 5000; round++) {
		struct flooder fl = {};
		struct drainer d = {};
		int a_raw, a_ch, b_raw, b_ch;
		pthread_t tf, td;

		scene_join(_metadata, &a_raw, &a_ch, MISC_GROUP + 4, 2, 3,
			   CAUSAL_F_MERGED_RECV);
		scene_join(_metadata, &b_raw, &b_ch, MISC_GROUP + 4, 2, 3,
			   CAUSAL_F_MERGED_RECV);
		ASSERT_EQ(wire_hello(a_raw, MISC_GROUP + 4, 3, 0, zero, 0xa), 0);
		ASSERT_EQ(wire_hello(b_raw, MISC_GROUP + 4, 3, 1, zero, 0xb), 0);
		wait_active(_metadata, a_ch);
		wait_active(_metadata, b_ch);
		fl.fd = a_raw;
		d.fd = b_ch;
		ASSERT_EQ(pthread_create(&tf, NULL, flood_frames, &fl), 0);
		/* Let A's hold-back fill before the reader starts on it. */
		usleep(20 * 1000);
		ASSERT_EQ(pthread_create(&td, NULL, drain_merged, &d), 0);
		usleep(rand_r(&seed) % 20000);
		close(a_ch);
		/* The flooder's writes now fail on the reset connection. */
		pthread_join(tf, NULL);
		d.stop = true;
		pthread_join(td, NULL);
		got += d.got;
		close(a_raw);
		close(b_raw);
		close(b_ch);
	}
	TH_LOG("%d rounds, %d messages read across the closes, in %ld ms",
	       round, got, ms_since(&t0));
	EXPECT_GT(got, 0);
}

TEST_HARNESS_MAIN
