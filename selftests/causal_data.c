// SPDX-License-Identifier: GPL-2.0
/*
 * Selftests of the causal data path on loopback: message semantics between
 * two module endpoints, and causal delivery at a module endpoint whose peers
 * are driven by hand with the wire codec, so that arrival order, clocks and
 * malformed input are under the test's control.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>

#include <linux/causal.h>

#include "kselftest_harness.h"
#include "causal_util.h"
#include "causal_scene.h"

static void fill(char *buf, size_t len, unsigned int seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (char)(seed * 31 + i * 7);
}

/* ---- two module endpoints ---- */

FIXTURE(chan)
{
	int a, b;
};

FIXTURE_VARIANT(chan)
{
	int family;
};

FIXTURE_VARIANT_ADD(chan, ipv4)
{
	.family = AF_INET,
};

FIXTURE_VARIANT_ADD(chan, ipv6)
{
	.family = AF_INET6,
};

FIXTURE_SETUP(chan)
{
	causal_require_module(_metadata);
	joined_pair(_metadata, variant->family, 100, 0, &self->a, &self->b);
}

FIXTURE_TEARDOWN(chan)
{
	close(self->a);
	close(self->b);
}

TEST_F(chan, boundaries)
{
	static const size_t sizes[] = { 1, 7, 100, 1500, 4096, 65536 };
	char *out = malloc(65536), *in = malloc(65536 + 1);
	unsigned int i;

	ASSERT_NE(out, NULL);
	ASSERT_NE(in, NULL);
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		fill(out, sizes[i], i);
		ASSERT_EQ(send(self->a, out, sizes[i], 0), sizes[i]);
	}
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		fill(out, sizes[i], i);
		ASSERT_EQ(recv(self->b, in, 65536 + 1, 0), sizes[i]);
		EXPECT_EQ(memcmp(in, out, sizes[i]), 0);
	}
	free(out);
	free(in);
}

/* recvmmsg(): many messages in one call, each whole in its own buffer; with
 * MSG_WAITFORONE it returns what is deliverable instead of waiting.
 */
TEST_F(chan, recvmmsg_batches)
{
	char out[64], in[16][64];
	struct mmsghdr mm[16] = {};
	struct iovec iov[16];
	int i, n;

	for (i = 0; i < 10; i++) {
		fill(out, 10 + i, i);
		ASSERT_EQ(send(self->a, out, 10 + i, 0), 10 + i);
	}
	for (i = 0; i < 16; i++) {
		iov[i].iov_base = in[i];
		iov[i].iov_len = sizeof(in[i]);
		mm[i].msg_hdr.msg_iov = &iov[i];
		mm[i].msg_hdr.msg_iovlen = 1;
	}
	ASSERT_TRUE(readable(self->b, 2000));
	/* The first message may make it alone; the rest follow at once. */
	n = recvmmsg(self->b, mm, 16, MSG_WAITFORONE, NULL);
	ASSERT_GE(n, 1);
	if (n < 10) {
		usleep(100 * 1000);
		i = recvmmsg(self->b, mm + n, 16 - n, MSG_WAITFORONE, NULL);
		ASSERT_GE(i, 1);
		n += i;
	}
	ASSERT_EQ(n, 10);
	for (i = 0; i < n; i++) {
		fill(out, 10 + i, i);
		EXPECT_EQ(mm[i].msg_len, 10 + i);
		EXPECT_EQ(memcmp(in[i], out, 10 + i), 0);
	}
	EXPECT_EQ(recvmmsg(self->b, mm, 16, MSG_DONTWAIT, NULL), -1);
	EXPECT_EQ(errno, EAGAIN);
}

TEST_F(chan, both_directions)
{
	char buf[16];

	ASSERT_EQ(send(self->a, "ping", 4, 0), 4);
	ASSERT_EQ(recv(self->b, buf, sizeof(buf), 0), 4);
	ASSERT_EQ(send(self->b, "pong!", 5, 0), 5);
	ASSERT_EQ(recv(self->a, buf, sizeof(buf), 0), 5);
	EXPECT_EQ(memcmp(buf, "pong!", 5), 0);
}

struct reader_arg {
	int fd;
	size_t len;
	ssize_t got;
	char *buf;
};

static void *reader(void *p)
{
	struct reader_arg *r = p;

	r->got = recv(r->fd, r->buf, r->len, 0);
	return NULL;
}

TEST_F(chan, size_limit)
{
	size_t max = 1 << 20;
	char *out = malloc(max + 1);
	struct reader_arg r = { .fd = self->b, .len = max + 1 };
	pthread_t t;

	ASSERT_NE(out, NULL);
	r.buf = malloc(max + 1);
	ASSERT_NE(r.buf, NULL);
	fill(out, max, 3);
	ASSERT_EQ(pthread_create(&t, NULL, reader, &r), 0);
	EXPECT_EQ(send(self->a, out, max, 0), max);
	pthread_join(t, NULL);
	EXPECT_EQ(r.got, max);
	EXPECT_EQ(memcmp(out, r.buf, max), 0);

	EXPECT_EQ(send(self->a, out, max + 1, 0), -1);
	EXPECT_EQ(errno, EMSGSIZE);
	free(out);
	free(r.buf);
}

TEST_F(chan, truncation)
{
	char buf[8];
	struct msghdr msg = {};
	struct iovec iov = { .iov_base = buf, .iov_len = 4 };

	ASSERT_EQ(send(self->a, "abcdefgh", 8, 0), 8);
	ASSERT_EQ(send(self->a, "XY", 2, 0), 2);
	ASSERT_EQ(send(self->a, "0123456789", 10, 0), 10);

	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	EXPECT_EQ(recvmsg(self->b, &msg, 0), 4);
	EXPECT_TRUE(msg.msg_flags & MSG_TRUNC);
	EXPECT_EQ(memcmp(buf, "abcd", 4), 0);
	/* The rest of a truncated message is gone. */
	EXPECT_EQ(recv(self->b, buf, sizeof(buf), 0), 2);
	EXPECT_EQ(memcmp(buf, "XY", 2), 0);
	/* MSG_TRUNC asks for the real length. */
	EXPECT_EQ(recv(self->b, buf, 4, MSG_TRUNC), 10);
}

TEST_F(chan, peek)
{
	char buf[16] = {};

	ASSERT_EQ(send(self->a, "first", 5, 0), 5);
	ASSERT_EQ(send(self->a, "second", 6, 0), 6);
	ASSERT_TRUE(readable(self->b, 2000));
	EXPECT_EQ(recv(self->b, buf, sizeof(buf), MSG_PEEK), 5);
	EXPECT_EQ(recv(self->b, buf, sizeof(buf), MSG_PEEK), 5);
	EXPECT_EQ(recv(self->b, buf, sizeof(buf), 0), 5);
	EXPECT_EQ(memcmp(buf, "first", 5), 0);
	EXPECT_EQ(recv(self->b, buf, sizeof(buf), 0), 6);
}

TEST_F(chan, nonblocking_and_timeout)
{
	struct timeval tv = { .tv_usec = 200 * 1000 };
	struct timespec t0, t1;
	char buf[4];
	long ms;

	EXPECT_EQ(recv(self->b, buf, sizeof(buf), MSG_DONTWAIT), -1);
	EXPECT_EQ(errno, EAGAIN);

	ASSERT_EQ(setsockopt(self->b, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	EXPECT_EQ(recv(self->b, buf, sizeof(buf), 0), -1);
	EXPECT_EQ(errno, EAGAIN);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	EXPECT_GE(ms, 150);
	EXPECT_LT(ms, 2000);

	ASSERT_EQ(fcntl(self->b, F_SETFL, O_NONBLOCK), 0);
	EXPECT_EQ(recv(self->b, buf, sizeof(buf), 0), -1);
	EXPECT_EQ(errno, EAGAIN);
}

TEST_F(chan, poll_readiness)
{
	struct pollfd p = { .fd = self->b, .events = POLLIN | POLLOUT };
	char buf[4];

	ASSERT_EQ(poll(&p, 1, 0), 1);
	EXPECT_EQ(p.revents, POLLOUT);
	ASSERT_EQ(send(self->a, "x", 1, 0), 1);
	EXPECT_TRUE(readable(self->b, 2000));
	ASSERT_EQ(recv(self->b, buf, sizeof(buf), 0), 1);
	ASSERT_EQ(poll(&p, 1, 0), 1);
	EXPECT_EQ(p.revents, POLLOUT);
}

TEST_F(chan, recv_info)
{
	struct {
		struct causal_msg_info info;
		__u64 vclock[2];
	} *ci;
	char cbuf[CMSG_SPACE(sizeof(*ci))], buf[8];
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *cmsg;
	int one = 1;

	ASSERT_EQ(setsockopt(self->b, SOL_CAUSAL, CAUSAL_RECV_INFO, &one,
			     sizeof(one)), 0);
	ASSERT_EQ(send(self->a, "m1", 2, 0), 2);
	ASSERT_EQ(send(self->a, "m2", 2, 0), 2);
	ASSERT_EQ(recv(self->b, buf, sizeof(buf), 0), 2);
	ASSERT_EQ(recvmsg(self->b, &msg, 0), 2);
	cmsg = CMSG_FIRSTHDR(&msg);
	ASSERT_NE(cmsg, NULL);
	EXPECT_EQ(cmsg->cmsg_level, SOL_CAUSAL);
	EXPECT_EQ(cmsg->cmsg_type, CAUSAL_CMSG_INFO);
	EXPECT_EQ(cmsg->cmsg_len, CMSG_LEN(sizeof(*ci)));
	ci = (void *)CMSG_DATA(cmsg);
	EXPECT_EQ(ci->info.sender, 0);
	EXPECT_EQ(ci->info.nodes, 2);
	EXPECT_EQ(ci->info.stamp, 2);
	EXPECT_EQ(ci->info.index, 2);
	EXPECT_EQ(ci->info.flags, 0);
	EXPECT_EQ(ci->vclock[0], 2);
	EXPECT_EQ(ci->vclock[1], 0);
}

TEST_F(chan, info_and_vclock)
{
	struct causal_info info;
	socklen_t len = sizeof(info);
	__u64 vclock[2];
	char buf[4];

	ASSERT_EQ(send(self->a, "a", 1, 0), 1);
	ASSERT_EQ(send(self->a, "b", 1, 0), 1);
	ASSERT_EQ(recv(self->b, buf, sizeof(buf), 0), 1);
	ASSERT_EQ(recv(self->b, buf, sizeof(buf), 0), 1);
	ASSERT_EQ(send(self->b, "c", 1, 0), 1);

	ASSERT_EQ(getsockopt(self->a, SOL_CAUSAL, CAUSAL_INFO, &info, &len), 0);
	EXPECT_EQ(len, sizeof(info));
	EXPECT_EQ(info.group, 100);
	EXPECT_EQ(info.node, 0);
	EXPECT_EQ(info.nodes, 2);
	EXPECT_EQ(info.peer, 1);
	EXPECT_EQ(info.state, CAUSAL_CH_ACTIVE);
	EXPECT_EQ(info.sent, 2);
	EXPECT_EQ(info.ep_sent, 2);

	len = sizeof(info);
	ASSERT_EQ(getsockopt(self->b, SOL_CAUSAL, CAUSAL_INFO, &info, &len), 0);
	EXPECT_EQ(info.delivered, 2);
	EXPECT_EQ(info.held_now, 0);
	EXPECT_EQ(info.watermark, 2);

	len = sizeof(vclock);
	ASSERT_EQ(getsockopt(self->b, SOL_CAUSAL, CAUSAL_VCLOCK, vclock, &len), 0);
	EXPECT_EQ(vclock[0], 2);
	EXPECT_EQ(vclock[1], 1);
}

TEST_F(chan, close_with_queued_data)
{
	long before = causal_module_refcnt(_metadata);
	int a, b;

	joined_pair(_metadata, variant->family, 101, 0, &a, &b);
	for (int i = 0; i < 50; i++) {
		ASSERT_EQ(send(a, "queued", 6, 0), 6);
	}
	close(b);
	close(a);
	EXPECT_TRUE(causal_wait_refcnt(_metadata, before, 3000));
}

TEST_F(chan, eof_after_peer_close)
{
	char buf[4];

	ASSERT_EQ(send(self->a, "z", 1, 0), 1);
	close(self->a);
	self->a = -1;
	EXPECT_EQ(recv(self->b, buf, sizeof(buf), 0), 1);
	EXPECT_EQ(recv(self->b, buf, sizeof(buf), 0), 0);
}

TEST_F(chan, epoll)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLET }, out;
	char buf[8];
	int ep = epoll_create1(0);

	ASSERT_GE(ep, 0);
	ASSERT_EQ(epoll_ctl(ep, EPOLL_CTL_ADD, self->b, &ev), 0);
	EXPECT_EQ(epoll_wait(ep, &out, 1, 50), 0);
	ASSERT_EQ(send(self->a, "e1", 2, 0), 2);
	ASSERT_EQ(epoll_wait(ep, &out, 1, 2000), 1);
	EXPECT_TRUE(out.events & EPOLLIN);
	/* Edge-triggered: no new event until something new arrives. */
	EXPECT_EQ(epoll_wait(ep, &out, 1, 50), 0);
	ASSERT_EQ(send(self->a, "e2", 2, 0), 2);
	ASSERT_EQ(epoll_wait(ep, &out, 1, 2000), 1);
	EXPECT_EQ(recv(self->b, buf, sizeof(buf), 0), 2);
	EXPECT_EQ(recv(self->b, buf, sizeof(buf), 0), 2);
	close(ep);
}

/* Read @n messages of @len bytes stamped with their index; all intact. */
static void expect_stream(struct __test_metadata *_metadata, int fd, int n,
			  size_t len)
{
	char *buf = malloc(len + 1), *want = malloc(len);

	ASSERT_NE(buf, NULL);
	ASSERT_NE(want, NULL);
	for (int i = 0; i < n; i++) {
		fill(want, len, i);
		ASSERT_EQ(recv(fd, buf, len + 1, 0), len) TH_LOG("message %d", i);
		ASSERT_EQ(memcmp(buf, want, len), 0) TH_LOG("message %d", i);
	}
	free(buf);
	free(want);
}

/* Non-blocking sends into a full pipe fail whole (EAGAIN), never leaving
 * half a frame on the stream.
 */
TEST_F(chan, nonblocking_send_full)
{
	size_t len = 40000;
	char *out = malloc(len);
	int n = 0;

	ASSERT_NE(out, NULL);
	for (;;) {
		fill(out, len, n);
		if (send(self->a, out, len, MSG_DONTWAIT) < 0)
			break;
		n++;
		ASSERT_LT(n, 100000);
	}
	EXPECT_EQ(errno, EAGAIN);
	TH_LOG("%d messages before EAGAIN", n);
	expect_stream(_metadata, self->b, n, len);
	free(out);
}

static void on_alarm(int sig)
{
}

/* A signal interrupts a sender blocked on a full buffer: whatever the call
 * returns, the stream stays framed.
 */
TEST_F(chan, signal_during_blocked_send)
{
	struct sigaction sa = { .sa_handler = on_alarm };
	struct itimerval it = { .it_interval.tv_usec = 20000,
				.it_value.tv_usec = 20000 };
	size_t len = 100000;
	char *out = malloc(len);
	int n = 0, interrupted = 0;

	ASSERT_NE(out, NULL);
	ASSERT_EQ(sigaction(SIGALRM, &sa, NULL), 0);	/* no SA_RESTART */
	ASSERT_EQ(setitimer(ITIMER_REAL, &it, NULL), 0);
	while (n < 200 && interrupted < 5) {
		fill(out, len, n);
		if (send(self->a, out, len, 0) == (ssize_t)len) {
			n++;
			continue;
		}
		ASSERT_EQ(errno, EINTR);
		interrupted++;
	}
	memset(&it, 0, sizeof(it));
	setitimer(ITIMER_REAL, &it, NULL);
	TH_LOG("%d sent, %d interrupted", n, interrupted);
	EXPECT_GT(interrupted, 0);
	expect_stream(_metadata, self->b, n, len);
	free(out);
}

/* A peer process killed mid-stream: its sockets close, BYE goes out, the
 * survivor gets what was sent and then EOF.
 */
TEST_F(chan, peer_killed)
{
	struct causal_info info;
	socklen_t len = sizeof(info);
	char buf[8];
	pid_t pid = fork();

	ASSERT_GE(pid, 0);
	if (!pid) {
		for (int i = 0; i < 3; i++)
			send(self->a, "last", 4, 0);
		raise(SIGKILL);
	}
	close(self->a);
	self->a = -1;
	waitpid(pid, NULL, 0);
	for (int i = 0; i < 3; i++)
		EXPECT_EQ(recv(self->b, buf, sizeof(buf), 0), 4);
	EXPECT_EQ(recv(self->b, buf, sizeof(buf), 0), 0);
	ASSERT_EQ(getsockopt(self->b, SOL_CAUSAL, CAUSAL_INFO, &info, &len), 0);
	EXPECT_EQ(info.state, CAUSAL_CH_LEFT);
}

TEST(send_recv_before_join)
{
	char buf[4];
	int a, b;

	causal_require_module(_metadata);
	tcp_pair(_metadata, AF_INET, &a, &b);
	ASSERT_EQ(causal_attach(a), 0);
	EXPECT_EQ(send(a, "x", 1, 0), -1);
	EXPECT_EQ(errno, ENOTCONN);
	EXPECT_EQ(recv(a, buf, sizeof(buf), MSG_DONTWAIT), -1);
	EXPECT_EQ(errno, ENOTCONN);
	close(a);
	close(b);
}

/* ---- a module endpoint with hand-driven peers ----
 *
 * The module is node 2 of a 3-node group; the test plays nodes 0 (A) and 1
 * (B) on plain sockets: a_raw/b_raw are the test's ends, a_ch/b_ch the
 * module's channels to them.
 */
#define G SCENE_GROUP

FIXTURE(scene)
{
	int a_raw, a_ch, b_raw, b_ch;
	__u64 zero[3];
};

FIXTURE_SETUP(scene)
{
	causal_require_module(_metadata);
	scene_open(_metadata, &self->a_raw, &self->a_ch, 0);
	scene_open(_metadata, &self->b_raw, &self->b_ch, 0);
	ASSERT_EQ(wire_hello(self->a_raw, G, 3, 0, self->zero, 0xa), 0);
	ASSERT_EQ(wire_hello(self->b_raw, G, 3, 1, self->zero, 0xb), 0);
	wait_active(_metadata, self->a_ch);
	wait_active(_metadata, self->b_ch);
}

FIXTURE_TEARDOWN(scene)
{
	close(self->a_raw);
	close(self->a_ch);
	close(self->b_raw);
	close(self->b_ch);
}

/* B's reply to A's message arrives first: held until A's message has been
 * delivered, i.e. read.
 */
TEST_F(scene, held_until_cause)
{
	struct causal_info info;
	socklen_t len = sizeof(info);
	__u64 vclock[3];

	ASSERT_EQ(send_data(self->b_raw, 1, 1, 1, 0, "reply"), 0);
	expect_held(_metadata, self->b_ch);
	ASSERT_EQ(getsockopt(self->b_ch, SOL_CAUSAL, CAUSAL_INFO, &info, &len), 0);
	EXPECT_EQ(info.held_now, 1);
	EXPECT_EQ(info.held_total, 1);

	ASSERT_EQ(send_data(self->a_raw, 0, 1, 0, 0, "clip"), 0);
	ASSERT_TRUE(readable(self->a_ch, 2000));
	/* The cause is deliverable but not yet delivered. */
	expect_held(_metadata, self->b_ch);
	expect_msg(_metadata, self->a_ch, "clip");
	ASSERT_TRUE(readable(self->b_ch, 2000));
	expect_msg(_metadata, self->b_ch, "reply");
	len = sizeof(vclock);
	ASSERT_EQ(getsockopt(self->b_ch, SOL_CAUSAL, CAUSAL_VCLOCK, vclock, &len), 0);
	EXPECT_EQ(vclock[0], 1);
	EXPECT_EQ(vclock[1], 1);
	EXPECT_EQ(vclock[2], 0);
}

/* A's message went to B only; A's CLOCK frame tells us there is nothing to
 * wait for, and wakes the reader of the other socket.
 */
TEST_F(scene, clock_frame_unblocks)
{
	ASSERT_EQ(send_data(self->b_raw, 1, 1, 1, 0, "reply"), 0);
	expect_held(_metadata, self->b_ch);
	ASSERT_EQ(send_clock(self->a_raw, 0, 1, 0, 0), 0);
	EXPECT_TRUE(readable(self->b_ch, 2000));
	expect_msg(_metadata, self->b_ch, "reply");
}

/* A reader blocked on B's socket wakes when a frame on A's socket... */
TEST_F(scene, wakes_reader_on_arrival_elsewhere)
{
	struct blocked_reader r = { .fd = self->b_ch };
	pthread_t t;

	ASSERT_EQ(send_data(self->b_raw, 1, 1, 1, 0, "reply"), 0);
	ASSERT_EQ(pthread_create(&t, NULL, blocked_read, &r), 0);
	usleep(100 * 1000);
	ASSERT_EQ(send_clock(self->a_raw, 0, 1, 0, 0), 0);
	pthread_join(t, NULL);
	EXPECT_EQ(r.got, 5);
}

/* ...or a read on A's socket unblocks it. */
TEST_F(scene, wakes_reader_on_delivery_elsewhere)
{
	struct blocked_reader r = { .fd = self->b_ch };
	pthread_t t;

	ASSERT_EQ(send_data(self->b_raw, 1, 1, 1, 0, "reply"), 0);
	ASSERT_EQ(pthread_create(&t, NULL, blocked_read, &r), 0);
	ASSERT_EQ(send_data(self->a_raw, 0, 1, 0, 0, "clip"), 0);
	usleep(100 * 1000);
	expect_msg(_metadata, self->a_ch, "clip");
	pthread_join(t, NULL);
	EXPECT_EQ(r.got, 5);
}

TEST_F(scene, fifo_within_channel)
{
	ASSERT_EQ(send_data(self->a_raw, 0, 1, 0, 0, "one"), 0);
	ASSERT_EQ(send_data(self->a_raw, 0, 3, 0, 0, "two"), 0);
	ASSERT_EQ(send_data(self->a_raw, 0, 4, 0, 0, "three"), 0);
	expect_msg(_metadata, self->a_ch, "one");
	expect_msg(_metadata, self->a_ch, "two");
	expect_msg(_metadata, self->a_ch, "three");
}

TEST_F(scene, hold_timeout_gap)
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

	ASSERT_EQ(setsockopt(self->b_ch, SOL_CAUSAL, CAUSAL_HOLD_TIMEOUT, &ms,
			     sizeof(ms)), 0);
	ASSERT_EQ(setsockopt(self->b_ch, SOL_CAUSAL, CAUSAL_RECV_INFO, &one,
			     sizeof(one)), 0);
	/* Depends on A's 5th message, which never comes. */
	ASSERT_EQ(send_data(self->b_raw, 1, 5, 1, 0, "orphan"), 0);
	EXPECT_FALSE(readable(self->b_ch, 30));
	ASSERT_TRUE(readable(self->b_ch, 3000));
	ASSERT_EQ(recvmsg(self->b_ch, &msg, 0), 6);
	cmsg = CMSG_FIRSTHDR(&msg);
	ASSERT_NE(cmsg, NULL);
	ci = (void *)CMSG_DATA(cmsg);
	EXPECT_EQ(ci->info.flags, CAUSAL_MSG_GAP);
	EXPECT_GE(ci->info.held_ns, 90ULL * 1000 * 1000);
	/* A later message with the same cause is not held again. */
	ASSERT_EQ(send_data(self->b_raw, 1, 5, 2, 0, "next"), 0);
	expect_msg(_metadata, self->b_ch, "next");
}

TEST_F(scene, peers_mask_ignores_others)
{
	__u64 peers = 1ULL << 1;	/* B only */

	ASSERT_EQ(send_data(self->b_raw, 1, 7, 1, 0, "independent"), 0);
	expect_held(_metadata, self->b_ch);
	ASSERT_EQ(setsockopt(self->b_ch, SOL_CAUSAL, CAUSAL_PEERS, &peers,
			     sizeof(peers)), 0);
	EXPECT_TRUE(readable(self->b_ch, 2000));
	expect_msg(_metadata, self->b_ch, "independent");
}

TEST_F(scene, bye_satisfies_dependency)
{
	__u64 bye_clock[3] = { 2, 0, 0 };
	struct causal_info info;
	socklen_t len = sizeof(info);

	/* A's last message, and its BYE announcing a count of 2: the second
	 * send went elsewhere, and nothing more will come.
	 */
	ASSERT_EQ(send_data(self->a_raw, 0, 1, 0, 0, "last"), 0);
	ASSERT_EQ(wire_send(self->a_raw, CAUSAL_FRAME_BYE, 0, 3, 0, bye_clock,
			    NULL, 0), 0);
	ASSERT_EQ(send_data(self->b_raw, 1, 2, 1, 0, "after"), 0);
	expect_held(_metadata, self->b_ch);
	expect_msg(_metadata, self->a_ch, "last");
	EXPECT_TRUE(readable(self->b_ch, 2000));
	expect_msg(_metadata, self->b_ch, "after");
	ASSERT_EQ(getsockopt(self->a_ch, SOL_CAUSAL, CAUSAL_INFO, &info, &len), 0);
	EXPECT_EQ(info.state, CAUSAL_CH_LEFT);
}

TEST(merged_recv)
{
	__u64 zero[3] = {};
	int a_raw, a_ch, b_raw, b_ch;

	causal_require_module(_metadata);
	scene_open(_metadata, &a_raw, &a_ch, CAUSAL_F_MERGED_RECV);
	scene_open(_metadata, &b_raw, &b_ch, CAUSAL_F_MERGED_RECV);
	ASSERT_EQ(wire_hello(a_raw, G, 3, 0, zero, 0xa), 0);
	ASSERT_EQ(wire_hello(b_raw, G, 3, 1, zero, 0xb), 0);
	wait_active(_metadata, a_ch);
	wait_active(_metadata, b_ch);
	ASSERT_EQ(send_data(b_raw, 1, 1, 1, 0, "reply"), 0);
	expect_held(_metadata, a_ch);
	ASSERT_EQ(send_data(a_raw, 0, 1, 0, 0, "clip"), 0);
	/* Either socket reads the endpoint's queue, in causal order. */
	ASSERT_TRUE(readable(b_ch, 2000));
	expect_msg(_metadata, b_ch, "clip");
	expect_msg(_metadata, b_ch, "reply");
	close(a_raw);
	close(a_ch);
	close(b_raw);
	close(b_ch);
}

/* What the module sends: unicast DATA, then CLOCK frames on the others. */
TEST_F(scene, module_sends_clock_frames)
{
	struct causal_frame f;
	__u64 clock[3];
	char buf[16];

	ASSERT_EQ(send(self->a_ch, "hi A", 4, 0), 4);
	ASSERT_EQ(wire_recv(self->a_raw, &f, clock, buf, sizeof(buf)), 0);
	EXPECT_EQ(f.type, CAUSAL_FRAME_DATA);
	EXPECT_EQ(f.sender, 2);
	EXPECT_EQ(f.len, 4);
	EXPECT_EQ(clock[2], 1);
	ASSERT_EQ(wire_recv(self->b_raw, &f, clock, buf, sizeof(buf)), 0);
	EXPECT_EQ(f.type, CAUSAL_FRAME_CLOCK);
	EXPECT_EQ(clock[2], 1);
}

/* A burst of unicasts to A costs B's channel a CLOCK frame per coalescing
 * interval (about a millisecond), not one per send, and the last one B gets
 * carries the whole count. A's channel, which carried the messages, gets
 * none.
 */
TEST_F(scene, clock_frames_coalesce)
{
	struct causal_info info;
	struct causal_frame f;
	struct timespec t0;
	int clocks = 0, data = 0;
	__u64 clock[3] = {};
	long ms;
	char buf[16];

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < 500; i++)
		ASSERT_EQ(send(self->a_ch, "x", 1, 0), 1);
	ms = ms_since(&t0);
	usleep(200 * 1000);
	set_rcvtimeo(self->b_raw, 300);
	while (!wire_recv(self->b_raw, &f, clock, buf, sizeof(buf))) {
		EXPECT_EQ(f.type, CAUSAL_FRAME_CLOCK);
		clocks++;
	}
	EXPECT_EQ(clock[2], 500);
	set_rcvtimeo(self->a_raw, 300);
	while (!wire_recv(self->a_raw, &f, clock, buf, sizeof(buf))) {
		EXPECT_EQ(f.type, CAUSAL_FRAME_DATA);
		data++;
	}
	EXPECT_EQ(data, 500);
	info = info_of(_metadata, self->b_ch);
	EXPECT_EQ(info.clocks_sent, clocks);
	EXPECT_EQ(info_of(_metadata, self->a_ch).clocks_sent, 0);
	TH_LOG("500 unicasts in %ld ms: %d CLOCK frames on the other channel",
	       ms, clocks);
	EXPECT_GE(clocks, 1);
	/* One per started interval of at least a millisecond. */
	EXPECT_LE(clocks, ms + 2);
}

TEST_F(scene, module_broadcast)
{
	char cbuf[CMSG_SPACE(0)] = {}, buf[16];
	struct iovec iov = { .iov_base = "all", .iov_len = 3 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
	struct causal_frame f;
	__u64 clock[3];

	cmsg->cmsg_level = SOL_CAUSAL;
	cmsg->cmsg_type = CAUSAL_CMSG_BROADCAST;
	cmsg->cmsg_len = CMSG_LEN(0);
	ASSERT_EQ(sendmsg(self->b_ch, &msg, 0), 3);
	ASSERT_EQ(wire_recv(self->a_raw, &f, clock, buf, sizeof(buf)), 0);
	EXPECT_EQ(f.type, CAUSAL_FRAME_DATA);
	EXPECT_EQ(f.flags, CAUSAL_WIRE_F_BROADCAST);
	EXPECT_EQ(clock[2], 1);
	ASSERT_EQ(wire_recv(self->b_raw, &f, clock, buf, sizeof(buf)), 0);
	EXPECT_EQ(f.type, CAUSAL_FRAME_DATA);
	EXPECT_EQ(clock[2], 1);
	EXPECT_EQ(memcmp(buf, "all", 3), 0);
}

TEST_F(scene, module_sends_bye_on_close)
{
	struct causal_frame f;
	__u64 clock[3];
	char buf[4];

	close(self->a_ch);
	self->a_ch = -1;
	ASSERT_EQ(wire_recv(self->a_raw, &f, clock, buf, sizeof(buf)), 0);
	EXPECT_EQ(f.type, CAUSAL_FRAME_BYE);
	EXPECT_EQ(read(self->a_raw, buf, sizeof(buf)), 0);
}

/* ---- hostile peers: the channel fails, the others go on ---- */

static void expect_other_alive(struct __test_metadata *_metadata,
			       FIXTURE_DATA(scene) *self)
{
	ASSERT_EQ(send_data(self->b_raw, 1, 0, 1, 0, "alive"), 0);
	expect_msg(_metadata, self->b_ch, "alive");
}

/* CAUSAL_INFO grows at its end: an older, shorter struct gets its part. */
TEST_F(scene, info_shorter_buffer)
{
	struct causal_info info;
	socklen_t len = offsetof(struct causal_info, last_error);

	memset(&info, 0xa5, sizeof(info));
	ASSERT_EQ(getsockopt(self->a_ch, SOL_CAUSAL, CAUSAL_INFO, &info, &len), 0);
	EXPECT_EQ(len, offsetof(struct causal_info, last_error));
	EXPECT_EQ(info.group, G);
	EXPECT_EQ(info.peer, 0);
	EXPECT_EQ(info.last_error, 0xa5a5a5a5);
	len = sizeof(info) + 16;
	ASSERT_EQ(getsockopt(self->a_ch, SOL_CAUSAL, CAUSAL_INFO, &info, &len), 0);
	EXPECT_EQ(len, sizeof(info));
	EXPECT_EQ(info.last_error, 0);
}

TEST_F(scene, truncated_frame_then_close)
{
	__u64 clock[3] = { 1, 0, 0 };
	struct causal_frame f = {
		.type = CAUSAL_FRAME_DATA, .nodes = 3, .sender = 0, .len = 100,
	};
	char buf[CAUSAL_WIRE_HDR_LEN + 24 + 10];

	causal_wire_put_hdr(buf, &f);
	causal_wire_put_clock(buf + CAUSAL_WIRE_HDR_LEN, clock, 3);
	ASSERT_EQ(write_all(self->a_raw, buf, sizeof(buf)), 0);
	close(self->a_raw);
	self->a_raw = -1;
	/* Half a frame and EOF: nothing to deliver, no hang. */
	EXPECT_TRUE(readable(self->a_ch, 2000));
	EXPECT_LE(recv(self->a_ch, buf, sizeof(buf), 0), 0);
	expect_other_alive(_metadata, self);
}

/* /proc/net/causal shows the endpoint, its channels and what waits. */
TEST_F(scene, proc_net_causal)
{
	char text[4096] = {}, line[64];
	FILE *f;

	ASSERT_EQ(send_data(self->b_raw, 1, 1, 1, 0, "reply"), 0);
	expect_held(_metadata, self->b_ch);
	f = fopen("/proc/net/causal", "r");
	ASSERT_NE(f, NULL);
	EXPECT_GT(fread(text, 1, sizeof(text) - 1, f), 0);
	fclose(f);
	snprintf(line, sizeof(line), "endpoint group=%d node=2 nodes=3", G);
	EXPECT_NE(strstr(text, line), NULL) TH_LOG("%s", text);
	EXPECT_NE(strstr(text, "channel peer=0 state=active watermark=0 queued=0"), NULL)
		TH_LOG("%s", text);
	EXPECT_NE(strstr(text, "channel peer=1 state=active watermark=1 queued=1"), NULL)
		TH_LOG("%s", text);
	EXPECT_NE(strstr(text, "held_now=1"), NULL) TH_LOG("%s", text);
}

/* The line of /proc/net/causal for the channel to @peer, in @buf. */
static void proc_channel(struct __test_metadata *_metadata, int peer,
			 char *buf, size_t len)
{
	char want[32];
	FILE *f;

	snprintf(want, sizeof(want), "  channel peer=%d ", peer);
	f = fopen("/proc/net/causal", "r");
	ASSERT_NE(f, NULL);
	while (fgets(buf, len, f))
		if (!strncmp(buf, want, strlen(want)))
			break;
	ASSERT_EQ(strncmp(buf, want, strlen(want)), 0);
	fclose(f);
}

static unsigned long long proc_value(const char *line, const char *key)
{
	const char *p = strstr(line, key);

	return p ? strtoull(p + strlen(key), NULL, 10) : ~0ULL;
}

/* The aggregates: a message held ~100 ms for node 0 is one histogram count
 * in its bucket, its hold time the sum and the max, and the time its
 * channel's head waited is blamed on node 0; the cause itself, never held,
 * counts nowhere.
 */
TEST_F(scene, hold_aggregates)
{
	unsigned long long max, sum, blame, lower, count;
	char line[2048], *hist;

	ASSERT_EQ(send_data(self->b_raw, 1, 1, 1, 0, "reply"), 0);
	expect_held(_metadata, self->b_ch);
	proc_channel(_metadata, 1, line, sizeof(line));
	EXPECT_NE(strstr(line, " hold_sum_us=0 hold_max_us=0 hold_missed=0 blame_us=- hold_hist=-"),
		  NULL) TH_LOG("%s", line);
	usleep(100 * 1000);
	ASSERT_EQ(send_data(self->a_raw, 0, 1, 0, 0, "clip"), 0);
	expect_msg(_metadata, self->a_ch, "clip");
	ASSERT_TRUE(readable(self->b_ch, 2000));
	expect_msg(_metadata, self->b_ch, "reply");

	proc_channel(_metadata, 1, line, sizeof(line));
	max = proc_value(line, " hold_max_us=");
	sum = proc_value(line, " hold_sum_us=");
	blame = proc_value(line, " blame_us=0:");
	EXPECT_GE(max, 100000) TH_LOG("%s", line);
	EXPECT_LT(max, 5000000) TH_LOG("%s", line);
	EXPECT_EQ(sum, max);
	EXPECT_EQ(proc_value(line, " hold_missed="), 0);
	/* The head waited from its arrival on, and no longer than it was
	 * held.
	 */
	EXPECT_GE(blame, 100000) TH_LOG("%s", line);
	EXPECT_LE(blame, max) TH_LOG("%s", line);
	hist = strstr(line, " hold_hist=");
	ASSERT_NE(hist, NULL);
	ASSERT_EQ(sscanf(hist, " hold_hist=%llu:%llu", &lower, &count), 2)
		TH_LOG("%s", line);
	EXPECT_EQ(count, 1);
	EXPECT_LE(lower, max);
	EXPECT_GT(lower * 17 / 16, max) TH_LOG("%s", line);
	EXPECT_EQ(strchr(hist + 1, ','), NULL) TH_LOG("%s", line);

	proc_channel(_metadata, 0, line, sizeof(line));
	EXPECT_NE(strstr(line, " hold_sum_us=0 hold_max_us=0 hold_missed=0 blame_us=- hold_hist=-"),
		  NULL) TH_LOG("%s", line);
}

static int tracefs_write(const char *path, const char *val)
{
	char full[256];
	FILE *f;
	int ok;

	snprintf(full, sizeof(full), "/sys/kernel/tracing/%s", path);
	f = fopen(full, "w");
	if (!f)
		return -1;
	ok = fputs(val, f) >= 0;
	return fclose(f) || !ok ? -1 : 0;
}

/* The tracepoints fire with what they promise: hold with what it waits for,
 * deliver (alone and as a read's batch) with the hold time, peer, clock,
 * send and error.
 */
TEST_F(scene, tracepoints)
{
	static const char *const want[] = {
		"causal_arrive: group=200 node=2 peer=1 stamp=1",
		"causal_hold: group=200 node=2 peer=1 stamp=1 waits_for=0:1",
		"causal_clock: group=200 node=2 peer=0 stamp=1",
		"causal_deliver: group=200 node=2 peer=1 stamp=1 index=1 held_ns=",
		"causal_deliver_batch: group=200 node=2 count=1 index=1..1",
		"causal_send: group=200 node=2 peer=0 stamp=1 len=2 targets=1",
		"causal_error: group=200 node=2 peer=0",
	};
	char *text = calloc(1, 1 << 20);
	size_t n;
	FILE *f;

	ASSERT_NE(text, NULL);
	if (tracefs_write("events/causal/enable", "1"))
		SKIP(return, "no tracefs");
	ASSERT_EQ(tracefs_write("trace", ""), 0);

	ASSERT_EQ(send_data(self->b_raw, 1, 1, 1, 0, "reply"), 0);
	expect_held(_metadata, self->b_ch);
	ASSERT_EQ(send_clock(self->a_raw, 0, 1, 0, 0), 0);
	expect_msg(_metadata, self->b_ch, "reply");
	ASSERT_EQ(send(self->a_ch, "hi", 2, 0), 2);
	ASSERT_EQ(write_all(self->a_raw, "garbage garbage!", 16), 0);
	EXPECT_TRUE(readable(self->a_ch, 2000));

	ASSERT_EQ(tracefs_write("events/causal/enable", "0"), 0);
	f = fopen("/sys/kernel/tracing/trace", "r");
	ASSERT_NE(f, NULL);
	n = fread(text, 1, (1 << 20) - 1, f);
	fclose(f);
	text[n] = 0;
	for (unsigned int i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		EXPECT_NE(strstr(text, want[i]), NULL) TH_LOG("missing: %s", want[i]);
	}
	EXPECT_NE(strstr(text, "err=magic"), NULL);
	free(text);
}

/* A flooding peer whose messages all wait: the module stops reading, TCP
 * pushes back, and the hold-back memory stays under the channel's bound.
 * Small frames are taken straight from TCP's skbs, large ones through
 * strparser: the bound holds for both.
 */
static void flood(struct __test_metadata *_metadata, FIXTURE_DATA(scene) *self,
		  size_t size)
{
	struct causal_info info;
	socklen_t len = sizeof(info);
	__u64 clock[3] = { 0, 0, 0 };
	int rcvbuf = 0, sent = 0, flags;
	socklen_t optlen = sizeof(rcvbuf);
	char *payload = malloc(size);

	ASSERT_NE(payload, NULL);
	memset(payload, 'f', size);
	flags = fcntl(self->b_raw, F_GETFL);
	ASSERT_EQ(fcntl(self->b_raw, F_SETFL, flags | O_NONBLOCK), 0);
	/* Every message depends on A's first, which never comes. */
	for (; sent < 1000000; sent++) {
		clock[0] = 1;
		clock[1] = sent + 1;
		if (wire_send(self->b_raw, CAUSAL_FRAME_DATA, 0, 3, 1, clock,
			      payload, size))
			break;
	}
	TH_LOG("%d frames of %zu bytes before the window closed", sent, size);
	EXPECT_LT(sent, 1000000);
	usleep(200 * 1000);
	ASSERT_EQ(getsockopt(self->b_ch, SOL_SOCKET, SO_RCVBUF, &rcvbuf, &optlen), 0);
	ASSERT_EQ(getsockopt(self->b_ch, SOL_CAUSAL, CAUSAL_INFO, &info, &len), 0);
	TH_LOG("held %llu messages, %llu bytes, rcvbuf %d", info.held_now,
	       info.holdback_bytes, rcvbuf);
	EXPECT_GT(info.held_now, 0);
	/* The bound plus the one frame that crossed it. */
	EXPECT_LE(info.holdback_bytes,
		  (rcvbuf > 65536 ? rcvbuf : 65536) + 2 * size + 4096);
	free(payload);
}

TEST_F(scene, flood_is_bounded)
{
	flood(_metadata, self, 4000);
}

TEST_F(scene, flood_small_is_bounded)
{
	flood(_metadata, self, 16);
}

/* ---- framing across TCP's segments ---- */

#define SPLIT_FRAMES	400

struct split_stream {
	int fd;
	char *buf;
	size_t len;
	unsigned int seed;
};

/* Write the stream in random pieces, from a byte to several frames, each
 * pushed out on its own so frames start and end anywhere in TCP's skbs.
 */
static void *split_writer(void *p)
{
	struct split_stream *s = p;
	size_t off = 0, n;

	while (off < s->len) {
		n = rand_r(&s->seed) % 4 ? 1 + rand_r(&s->seed) % 300 :
					   1 + rand_r(&s->seed) % 20000;
		if (n > s->len - off)
			n = s->len - off;
		if (write_all(s->fd, s->buf + off, n))
			return (void *)1;
		off += n;
		if (!(rand_r(&s->seed) % 8))
			usleep(1000);
	}
	return NULL;
}

static size_t split_size(unsigned int i)
{
	/* Around the copy threshold (2 KiB), empty, and large. */
	static const size_t sizes[] = { 0, 1, 9, 64, 2047, 2048, 2049, 4096,
					70000, 100 };

	return sizes[i % (sizeof(sizes) / sizeof(sizes[0]))] + i % 3;
}

/* Messages of every size, cut at random points on the wire, arrive whole and
 * in order.
 */
TEST_F(scene, split_stream)
{
	struct split_stream s = { .fd = self->a_raw, .seed = 7 };
	size_t off = 0, size, max = 0;
	char *got, *want;
	pthread_t writer;
	void *ret;
	int one = 1;

	for (unsigned int i = 0; i < SPLIT_FRAMES; i++) {
		size = split_size(i);
		s.len += causal_frame_size(3, size);
		if (size > max)
			max = size;
	}
	s.buf = malloc(s.len);
	got = malloc(max + 1);
	want = malloc(max);
	ASSERT_TRUE(s.buf && got && want);
	for (unsigned int i = 0; i < SPLIT_FRAMES; i++) {
		struct causal_frame f = {
			.type = CAUSAL_FRAME_DATA, .nodes = 3, .sender = 0,
			.len = split_size(i),
		};
		__u64 clock[3] = { i + 1, 0, 0 };

		causal_wire_put_hdr(s.buf + off, &f);
		causal_wire_put_clock(s.buf + off + CAUSAL_WIRE_HDR_LEN, clock, 3);
		fill(s.buf + off + causal_frame_size(3, 0), f.len, i);
		off += causal_frame_size(3, f.len);
	}
	ASSERT_EQ(setsockopt(self->a_raw, SOL_TCP, TCP_NODELAY, &one,
			     sizeof(one)), 0);
	ASSERT_EQ(pthread_create(&writer, NULL, split_writer, &s), 0);
	for (unsigned int i = 0; i < SPLIT_FRAMES; i++) {
		size = split_size(i);
		fill(want, size, i);
		ASSERT_EQ(recv(self->a_ch, got, max + 1, 0), size)
			TH_LOG("message %u", i);
		ASSERT_EQ(memcmp(got, want, size), 0)
			TH_LOG("message %u", i);
	}
	pthread_join(writer, &ret);
	EXPECT_EQ(ret, NULL);
	EXPECT_FALSE(readable(self->a_ch, 50));
	free(s.buf);
	free(got);
	free(want);
}

/* Good frames and then garbage in one segment: the good ones are delivered,
 * then the channel fails.
 */
TEST_F(scene, frames_then_garbage)
{
	size_t one = causal_frame_size(3, 5), off = 0;
	char buf[3 * causal_frame_size(3, 5)];

	for (__u64 i = 1; i <= 2; i++) {
		struct causal_frame f = {
			.type = CAUSAL_FRAME_DATA, .nodes = 3, .sender = 0,
			.len = 5,
		};
		__u64 clock[3] = { i, 0, 0 };

		causal_wire_put_hdr(buf + off, &f);
		causal_wire_put_clock(buf + off + CAUSAL_WIRE_HDR_LEN, clock, 3);
		memcpy(buf + off + one - 5, i == 1 ? "first" : "other", 5);
		off += one;
	}
	memset(buf + off, 'x', one);
	ASSERT_EQ(write_all(self->a_raw, buf, sizeof(buf)), 0);
	expect_msg(_metadata, self->a_ch, "first");
	expect_msg(_metadata, self->a_ch, "other");
	expect_failed(_metadata, self->a_ch, EPROTO);
	expect_other_alive(_metadata, self);
}

/* A peer whose connection breaks without BYE may come back as the same
 * incarnation on a new channel, and not as another.
 */
TEST_F(scene, reconnect_same_incarnation)
{
	__u64 seen[3] = { 1, 0, 0 };
	int raw, ch, raw2, ch2;

	/* The module's side of the broken channel is closed by its owner. */
	ASSERT_EQ(send_data(self->a_raw, 0, 1, 0, 0, "before"), 0);
	expect_msg(_metadata, self->a_ch, "before");
	close(self->a_ch);
	self->a_ch = -1;

	scene_open(_metadata, &raw2, &ch2, 0);
	ASSERT_EQ(wire_hello(raw2, G, 3, 0, seen, 0xbad), 0);
	expect_failed(_metadata, ch2, EPROTO);

	scene_open(_metadata, &raw, &ch, 0);
	ASSERT_EQ(wire_hello(raw, G, 3, 0, seen, 0xa), 0);
	ASSERT_EQ(send_data(raw, 0, 2, 0, 0, "after"), 0);
	expect_msg(_metadata, ch, "after");
	close(raw);
	close(ch);
	close(raw2);
	close(ch2);
}

/* A reset (no BYE) leaves A's messages missing: what depends on them waits,
 * and the hold timeout lets it out as a gap; B's channel is unaffected.
 */
TEST_F(scene, reset_peer)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	struct causal_info info;
	socklen_t len = sizeof(info);
	char buf[8];
	__u32 ms = 100;

	ASSERT_EQ(setsockopt(self->a_raw, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
	close(self->a_raw);
	self->a_raw = -1;
	EXPECT_TRUE(readable(self->a_ch, 2000));
	EXPECT_EQ(recv(self->a_ch, buf, sizeof(buf), 0), -1);
	EXPECT_EQ(errno, ECONNRESET);
	ASSERT_EQ(getsockopt(self->a_ch, SOL_CAUSAL, CAUSAL_INFO, &info, &len), 0);
	EXPECT_EQ(info.state, CAUSAL_CH_BROKEN);

	ASSERT_EQ(send_data(self->b_raw, 1, 3, 1, 0, "needs A"), 0);
	expect_held(_metadata, self->b_ch);
	ASSERT_EQ(setsockopt(self->b_ch, SOL_CAUSAL, CAUSAL_HOLD_TIMEOUT, &ms,
			     sizeof(ms)), 0);
	EXPECT_TRUE(readable(self->b_ch, 3000));
	expect_msg(_metadata, self->b_ch, "needs A");
}

struct merged_reader {
	int fd;
	volatile int stop;
	int got;
};

static void *merged_read(void *p)
{
	struct merged_reader *r = p;
	char buf[256];

	while (!r->stop) {
		if (recv(r->fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
			r->got++;
	}
	return NULL;
}

/* Closing a channel while its frames arrive in softirq and another socket's
 * reader (merged receive) copies its messages out: nothing may be freed under
 * anyone. The VM runner fails the run on any oops or warning.
 */
TEST(close_races_receive)
{
	__u64 zero[3] = {};
	int total = 0;

	causal_require_module(_metadata);
	/* The test's own peer writes on after the module's side closed. */
	signal(SIGPIPE, SIG_IGN);
	for (int round = 0; round < 20; round++) {
		struct merged_reader r = {};
		int a_raw, a_ch, b_raw, b_ch;
		pthread_t t;

		scene_open(_metadata, &a_raw, &a_ch, CAUSAL_F_MERGED_RECV);
		scene_open(_metadata, &b_raw, &b_ch, CAUSAL_F_MERGED_RECV);
		ASSERT_EQ(wire_hello(a_raw, G, 3, 0, zero, 0xa), 0);
		ASSERT_EQ(wire_hello(b_raw, G, 3, 1, zero, 0xb), 0);
		r.fd = b_ch;
		ASSERT_EQ(pthread_create(&t, NULL, merged_read, &r), 0);
		for (int i = 1; i <= 200; i++) {
			if (send_data(a_raw, 0, i, 0, 0, "flood"))
				break;
			if (i == 100 + round * 5) {
				close(a_ch);
				a_ch = -1;
			}
		}
		usleep(20 * 1000);
		r.stop = 1;
		pthread_join(t, NULL);
		total += r.got;
		close(a_raw);
		close(b_raw);
		close(b_ch);
	}
	TH_LOG("%d messages read across the closes", total);
	EXPECT_GT(total, 0);
}

/* A signal interrupts a blocked recv: EINTR, nothing lost. */
TEST_F(chan, signal_during_blocked_recv)
{
	struct sigaction sa = { .sa_handler = on_alarm };
	char buf[8];

	ASSERT_EQ(sigaction(SIGALRM, &sa, NULL), 0);	/* no SA_RESTART */
	alarm(1);
	EXPECT_EQ(recv(self->b, buf, sizeof(buf), 0), -1);
	EXPECT_EQ(errno, EINTR);
	ASSERT_EQ(send(self->a, "after", 5, 0), 5);
	EXPECT_EQ(recv(self->b, buf, sizeof(buf), 0), 5);
}

/* ---- hostile input, one variant each ----
 *
 * Channel A (node 0) sends one bad input, after its HELLO unless .no_hello
 * (the input is then its first frame); its channel must fail with .err and
 * CAUSAL_INFO must name .reason, while channel B (node 1) keeps working.
 * The input is .text as it is, or a frame built with the shared codec from
 * the other fields (nodes 3 unless given), then byte .poke_off set to
 * .poke_val when .poke.
 */
FIXTURE(hostile)
{
	int a_raw, a_ch, b_raw, b_ch;
};

FIXTURE_VARIANT(hostile)
{
	const char *text;
	bool no_hello;
	bool first_ok;		/* a valid message stamped 3 is read first */
	bool bye_first;		/* A says BYE first */
	__u64 peers;		/* CAUSAL_PEERS before A's HELLO, 0: all */
	__u8 type;
	__u16 flags, nodes, sender;
	__u64 clock[4];
	__u32 len;
	bool header_only;	/* no clock nor payload follow */
	bool delta;		/* version 2: the entries in present */
	__u64 present;
	__u32 hello_group;	/* HELLO payload: group (G if 0) */
	__u64 hello_inc;	/* and incarnation */
	bool poke;
	int poke_off;
	__u8 poke_val;
	int err;
	__u32 reason;
};

FIXTURE_VARIANT_ADD(hostile, http_request)
{
	.text = "GET / HTTP/1.1\r\n\r\n",
	.err = EPROTO, .reason = CAUSAL_ERR_MAGIC,
};

FIXTURE_VARIANT_ADD(hostile, plain_tcp_peer)
{
	.text = "hello, I am plain TCP\n", .no_hello = true,
	.err = EPROTO, .reason = CAUSAL_ERR_MAGIC,
};

FIXTURE_VARIANT_ADD(hostile, version)
{
	.type = CAUSAL_FRAME_DATA, .clock = { 1 }, .len = 1,
	.poke = true, .poke_off = 4, .poke_val = CAUSAL_WIRE_VERSION_DELTA + 1,
	.err = EPROTO, .reason = CAUSAL_ERR_VERSION,
};

FIXTURE_VARIANT_ADD(hostile, unknown_type)
{
	.type = CAUSAL_FRAME_DATA, .clock = { 1 }, .len = 1,
	.poke = true, .poke_off = 5, .poke_val = CAUSAL_FRAME_BYE + 1,
	.err = EPROTO, .reason = CAUSAL_ERR_TYPE,
};

FIXTURE_VARIANT_ADD(hostile, unknown_flag)
{
	.type = CAUSAL_FRAME_DATA, .flags = 0x8000, .clock = { 1 }, .len = 1,
	.err = EPROTO, .reason = CAUSAL_ERR_FLAGS,
};

FIXTURE_VARIANT_ADD(hostile, nodes_zero)
{
	.type = CAUSAL_FRAME_DATA, .nodes = 0, .poke = true, .poke_off = 9,
	.poke_val = 0, .len = 1,
	.err = EPROTO, .reason = CAUSAL_ERR_NODES,
};

FIXTURE_VARIANT_ADD(hostile, nodes_mismatch)
{
	.type = CAUSAL_FRAME_DATA, .nodes = 4, .clock = { 1 }, .len = 1,
	.err = EPROTO, .reason = CAUSAL_ERR_NODES,
};

FIXTURE_VARIANT_ADD(hostile, sender_out_of_range)
{
	.type = CAUSAL_FRAME_DATA, .sender = 5, .clock = { 1 }, .len = 1,
	.err = EPROTO, .reason = CAUSAL_ERR_SENDER,
};

FIXTURE_VARIANT_ADD(hostile, sender_not_the_peer)
{
	.type = CAUSAL_FRAME_DATA, .sender = 1, .clock = { 0, 1 }, .len = 1,
	.err = EPROTO, .reason = CAUSAL_ERR_SENDER,
};

FIXTURE_VARIANT_ADD(hostile, length_past_limit)
{
	.type = CAUSAL_FRAME_DATA, .len = 0x7fffffff, .header_only = true,
	.err = EPROTO, .reason = CAUSAL_ERR_LENGTH,
};

FIXTURE_VARIANT_ADD(hostile, clock_with_payload)
{
	.type = CAUSAL_FRAME_CLOCK, .clock = { 1 }, .len = 4,
	.err = EPROTO, .reason = CAUSAL_ERR_LENGTH,
};

FIXTURE_VARIANT_ADD(hostile, hello_short)
{
	.type = CAUSAL_FRAME_HELLO, .no_hello = true, .len = 8,
	.err = EPROTO, .reason = CAUSAL_ERR_LENGTH,
};

FIXTURE_VARIANT_ADD(hostile, data_before_hello)
{
	.type = CAUSAL_FRAME_DATA, .no_hello = true, .clock = { 1 }, .len = 1,
	.err = EPROTO, .reason = CAUSAL_ERR_SEQUENCE,
};

FIXTURE_VARIANT_ADD(hostile, second_hello)
{
	.type = CAUSAL_FRAME_HELLO, .len = CAUSAL_WIRE_HELLO_LEN,
	.hello_inc = 0xa,
	.err = EPROTO, .reason = CAUSAL_ERR_SEQUENCE,
};

FIXTURE_VARIANT_ADD(hostile, data_after_bye)
{
	.bye_first = true, .type = CAUSAL_FRAME_DATA, .clock = { 1 }, .len = 1,
	.err = EPROTO, .reason = CAUSAL_ERR_SEQUENCE,
};

FIXTURE_VARIANT_ADD(hostile, hello_other_group)
{
	.type = CAUSAL_FRAME_HELLO, .no_hello = true,
	.len = CAUSAL_WIRE_HELLO_LEN, .hello_group = G + 1, .hello_inc = 1,
	.err = EPROTO, .reason = CAUSAL_ERR_GROUP,
};

FIXTURE_VARIANT_ADD(hostile, hello_incarnation_zero)
{
	.type = CAUSAL_FRAME_HELLO, .no_hello = true,
	.len = CAUSAL_WIRE_HELLO_LEN,
	.err = EPROTO, .reason = CAUSAL_ERR_INCARNATION,
};

FIXTURE_VARIANT_ADD(hostile, clock_backwards)
{
	.first_ok = true, .type = CAUSAL_FRAME_DATA, .clock = { 2 }, .len = 1,
	.err = EPROTO, .reason = CAUSAL_ERR_CLOCK,
};

FIXTURE_VARIANT_ADD(hostile, stamp_reused)
{
	.first_ok = true, .type = CAUSAL_FRAME_DATA, .clock = { 3 }, .len = 1,
	.err = EPROTO, .reason = CAUSAL_ERR_CLOCK,
};

FIXTURE_VARIANT_ADD(hostile, clock_from_future)
{
	/* Claims to have seen our (node 2's) 9th message. */
	.type = CAUSAL_FRAME_DATA, .clock = { 1, 0, 9 }, .len = 1,
	.err = EPROTO, .reason = CAUSAL_ERR_FUTURE,
};

FIXTURE_VARIANT_ADD(hostile, not_in_peers)
{
	.peers = 1ULL << 1, .type = CAUSAL_FRAME_HELLO, .no_hello = true,
	.len = CAUSAL_WIRE_HELLO_LEN, .hello_inc = 0xa,
	.err = EPERM, .reason = CAUSAL_ERR_PEER,
};

FIXTURE_VARIANT_ADD(hostile, second_channel_same_peer)
{
	/* B is node 1 already. */
	.type = CAUSAL_FRAME_HELLO, .no_hello = true, .sender = 1,
	.len = CAUSAL_WIRE_HELLO_LEN, .hello_inc = 0xb,
	.err = EEXIST, .reason = CAUSAL_ERR_DUPLICATE,
};

FIXTURE_VARIANT_ADD(hostile, delta_hello)
{
	/* A HELLO has no earlier frame to carry changes from. */
	.type = CAUSAL_FRAME_HELLO, .no_hello = true, .delta = true,
	.present = 1, .len = CAUSAL_WIRE_HELLO_LEN, .hello_inc = 0xa,
	.err = EPROTO, .reason = CAUSAL_ERR_VERSION,
};

FIXTURE_VARIANT_ADD(hostile, delta_entry_past_group)
{
	.type = CAUSAL_FRAME_DATA, .delta = true, .present = 1 << 3,
	.clock = { 1 }, .len = 1,
	.err = EPROTO, .reason = CAUSAL_ERR_NODES,
};

FIXTURE_VARIANT_ADD(hostile, delta_without_own_entry)
{
	/* Entry 0 stays at 3 (the valid message): no new send. */
	.first_ok = true, .type = CAUSAL_FRAME_DATA, .delta = true,
	.present = 1 << 1, .clock = { 1 }, .len = 1,
	.err = EPROTO, .reason = CAUSAL_ERR_CLOCK,
};

FIXTURE_VARIANT_ADD(hostile, delta_backwards)
{
	.first_ok = true, .type = CAUSAL_FRAME_DATA, .delta = true,
	.present = 1 << 0, .clock = { 2 }, .len = 1,
	.err = EPROTO, .reason = CAUSAL_ERR_CLOCK,
};

FIXTURE_VARIANT_ADD(hostile, delta_from_future)
{
	.type = CAUSAL_FRAME_DATA, .delta = true, .present = 5,
	.clock = { 1, 9 }, .len = 1,
	.err = EPROTO, .reason = CAUSAL_ERR_FUTURE,
};

FIXTURE_SETUP(hostile)
{
	__u64 zero[3] = {};

	causal_require_module(_metadata);
	scene_open(_metadata, &self->b_raw, &self->b_ch, 0);
	ASSERT_EQ(wire_hello(self->b_raw, G, 3, 1, zero, 0xb), 0);
	wait_active(_metadata, self->b_ch);
	scene_open(_metadata, &self->a_raw, &self->a_ch, 0);
	if (variant->no_hello)
		return;
	ASSERT_EQ(wire_hello(self->a_raw, G, 3, 0, zero, 0xa), 0);
	wait_active(_metadata, self->a_ch);
}

FIXTURE_TEARDOWN(hostile)
{
	close(self->a_raw);
	close(self->a_ch);
	close(self->b_raw);
	close(self->b_ch);
}

/* The variant's frame, into a buffer the caller frees; its size in *size. */
static char *hostile_frame(const FIXTURE_VARIANT(hostile) *variant,
			   size_t *size)
{
	__u16 nodes = variant->nodes ? : 3;
	struct causal_frame f = {
		.version = variant->delta ? CAUSAL_WIRE_VERSION_DELTA :
					    CAUSAL_WIRE_VERSION,
		.type = variant->type, .flags = variant->flags,
		.nodes = nodes, .sender = variant->sender, .len = variant->len,
		.present = variant->present,
	};
	__u64 clock[CAUSAL_WIRE_MAX_NODES] = {};
	struct causal_hello h = {
		.group = variant->hello_group ? : G,
		.incarnation = variant->hello_inc,
	};
	char *buf;

	*size = variant->header_only ? CAUSAL_WIRE_HDR_LEN :
				       causal_frame_len(&f);
	buf = calloc(1, *size);
	if (!buf)
		return NULL;
	causal_wire_put_hdr(buf, &f);
	if (!variant->header_only) {
		/* A delta's entries are the variant's clock, in order. */
		for (int i = 0, k = 0; variant->delta && k < 64; k++)
			if (f.present & (1ULL << k))
				clock[k] = variant->clock[i++];
		causal_wire_put_head(buf, &f, variant->delta ? clock :
					      variant->clock);
		if (variant->type == CAUSAL_FRAME_HELLO &&
		    variant->len == CAUSAL_WIRE_HELLO_LEN)
			causal_wire_put_hello(buf + *size - variant->len, &h);
	}
	if (variant->poke)
		buf[variant->poke_off] = variant->poke_val;
	return buf;
}

TEST_F(hostile, fails_only_its_channel)
{
	struct causal_info info;
	socklen_t len = sizeof(info);
	__u64 zero[3] = {};
	size_t size;
	char *buf;

	if (variant->peers)
		ASSERT_EQ(setsockopt(self->b_ch, SOL_CAUSAL, CAUSAL_PEERS,
				     &variant->peers, sizeof(variant->peers)), 0);
	if (variant->first_ok) {
		ASSERT_EQ(send_data(self->a_raw, 0, 3, 0, 0, "ok"), 0);
		expect_msg(_metadata, self->a_ch, "ok");
	}
	if (variant->bye_first)
		ASSERT_EQ(wire_send(self->a_raw, CAUSAL_FRAME_BYE, 0, 3, 0, zero,
				    NULL, 0), 0);
	if (variant->text) {
		ASSERT_EQ(write_all(self->a_raw, variant->text,
				    strlen(variant->text)), 0);
	} else {
		buf = hostile_frame(variant, &size);
		ASSERT_NE(buf, NULL);
		ASSERT_EQ(write_all(self->a_raw, buf, size), 0);
		free(buf);
	}
	expect_failed(_metadata, self->a_ch, variant->err);
	ASSERT_EQ(getsockopt(self->a_ch, SOL_CAUSAL, CAUSAL_INFO, &info, &len), 0);
	EXPECT_EQ(info.last_error, variant->reason)
		TH_LOG("failed for %s", causal_proto_err_name(info.last_error));
	ASSERT_EQ(send_data(self->b_raw, 1, 0, 1, 0, "alive"), 0);
	expect_msg(_metadata, self->b_ch, "alive");
}

/* Wire version 2 in a group of 8: node 7 is the module's endpoint, its
 * peers A (node 0), which reads version 2 frames, and B (node 1), which
 * does not. Each raw end keeps the clock of the module's last frame.
 */
#define DELTA_NODES	8
#define DELTA_PARAM	"/sys/module/causal/parameters/wire_delta"

FIXTURE(delta)
{
	int a_raw, a_ch, b_raw, b_ch;
	__u64 a_clock[DELTA_NODES], b_clock[DELTA_NODES];
	__u32 hello_flags;	/* of the module's HELLO to A */
};

static void delta_join(struct __test_metadata *_metadata, int *raw, int *ch,
		       __u64 *clock, __u32 *hello_flags)
{
	struct causal_hello h;
	struct causal_frame f;
	char payload[CAUSAL_WIRE_HELLO_LEN];

	tcp_pair(_metadata, AF_INET, raw, ch);
	ASSERT_EQ(causal_attach(*ch), 0);
	ASSERT_EQ(causal_join(*ch, G + 8, DELTA_NODES - 1, DELTA_NODES, 0), 0);
	ASSERT_EQ(wire_recv(*raw, &f, clock, payload, sizeof(payload)), 0);
	ASSERT_EQ(f.type, CAUSAL_FRAME_HELLO);
	ASSERT_EQ(f.version, CAUSAL_WIRE_VERSION);
	ASSERT_EQ(causal_wire_get_hello(payload, &h), 0);
	*hello_flags = h.flags;
}

FIXTURE_SETUP(delta)
{
	__u64 zero[DELTA_NODES] = {}, peers = 3;
	__u32 flags;

	causal_require_module(_metadata);
	delta_join(_metadata, &self->a_raw, &self->a_ch, self->a_clock,
		   &self->hello_flags);
	delta_join(_metadata, &self->b_raw, &self->b_ch, self->b_clock, &flags);
	/* Entries of the other nodes are taken as they come. */
	ASSERT_EQ(setsockopt(self->a_ch, SOL_CAUSAL, CAUSAL_PEERS, &peers,
			     sizeof(peers)), 0);
	ASSERT_EQ(wire_hello_flags(self->a_raw, G + 8, DELTA_NODES, 0, zero, 0xa,
				   CAUSAL_WIRE_HELLO_F_DELTA), 0);
	ASSERT_EQ(wire_hello(self->b_raw, G + 8, DELTA_NODES, 1, zero, 0xb), 0);
	wait_active(_metadata, self->a_ch);
	wait_active(_metadata, self->b_ch);
}

FIXTURE_TEARDOWN(delta)
{
	close(self->a_raw);
	close(self->a_ch);
	close(self->b_raw);
	close(self->b_ch);
}

static bool delta_param(void)
{
	char c = '1';
	FILE *f = fopen(DELTA_PARAM, "r");

	if (f) {
		c = fgetc(f);
		fclose(f);
	}
	return c == 'Y' || c == '1';
}

static int set_delta_param(bool on)
{
	FILE *f = fopen(DELTA_PARAM, "w");
	int ret;

	if (!f)
		return -1;
	ret = fputs(on ? "1" : "0", f) < 0;
	return fclose(f) || ret ? -1 : 0;
}

/* The module's next DATA frame on @raw (CLOCK frames before it are taken
 * into @clock too); its payload in @text.
 */
static void delta_next_data(struct __test_metadata *_metadata, int raw,
			    __u64 *clock, struct causal_frame *f, char *text)
{
	for (;;) {
		memset(text, 0, 64);
		ASSERT_EQ(wire_recv(raw, f, clock, text, 63), 0);
		if (f->type == CAUSAL_FRAME_DATA)
			return;
		ASSERT_EQ(f->type, CAUSAL_FRAME_CLOCK);
	}
}

/* To A each frame carries only what changed since its previous one; B gets
 * whole clocks. Both rebuild the module's clock exactly.
 */
TEST_F(delta, module_sends_changed_entries)
{
	__u64 a1[DELTA_NODES] = { 1, 0, 4, 9 }, vclock[DELTA_NODES];
	socklen_t len = sizeof(vclock);
	struct causal_frame f;
	char text[64];

	if (!delta_param())
		SKIP(return, "causal.wire_delta is off");
	EXPECT_TRUE(self->hello_flags & CAUSAL_WIRE_HELLO_F_DELTA);
	ASSERT_EQ(send(self->a_ch, "x", 1, 0), 1);
	delta_next_data(_metadata, self->a_raw, self->a_clock, &f, text);
	EXPECT_STREQ(text, "x");
	EXPECT_EQ(f.version, CAUSAL_WIRE_VERSION_DELTA);
	EXPECT_EQ(f.present, 1ULL << 7);
	EXPECT_EQ(self->a_clock[7], 1);

	ASSERT_EQ(send(self->b_ch, "y", 1, 0), 1);
	delta_next_data(_metadata, self->b_raw, self->b_clock, &f, text);
	EXPECT_STREQ(text, "y");
	EXPECT_EQ(f.version, CAUSAL_WIRE_VERSION);
	EXPECT_EQ(self->b_clock[7], 2);
	/* A is owed our new count: a CLOCK of our own entry alone. */
	ASSERT_EQ(wire_recv(self->a_raw, &f, self->a_clock, text, 63), 0);
	EXPECT_EQ(f.type, CAUSAL_FRAME_CLOCK);
	EXPECT_EQ(f.version, CAUSAL_WIRE_VERSION_DELTA);
	EXPECT_EQ(f.present, 1ULL << 7);
	EXPECT_EQ(self->a_clock[7], 2);

	/* A message of A's brings entries 0, 2 and 3 into the clock. */
	ASSERT_EQ(wire_send(self->a_raw, CAUSAL_FRAME_DATA, 0, DELTA_NODES, 0,
			    a1, "a1", 2), 0);
	expect_msg(_metadata, self->a_ch, "a1");
	ASSERT_EQ(send(self->a_ch, "z", 1, 0), 1);
	delta_next_data(_metadata, self->a_raw, self->a_clock, &f, text);
	EXPECT_STREQ(text, "z");
	EXPECT_EQ(f.version, CAUSAL_WIRE_VERSION_DELTA);
	EXPECT_EQ(f.present, (1ULL << 0) | (1ULL << 2) | (1ULL << 3) | (1ULL << 7));
	ASSERT_EQ(getsockopt(self->a_ch, SOL_CAUSAL, CAUSAL_VCLOCK, vclock, &len), 0);
	EXPECT_EQ(0, memcmp(vclock, self->a_clock, sizeof(vclock)));
	EXPECT_EQ(self->a_clock[7], 3);
	/* B, told of all of it in whole clocks. */
	ASSERT_EQ(send(self->b_ch, "w", 1, 0), 1);
	delta_next_data(_metadata, self->b_raw, self->b_clock, &f, text);
	EXPECT_EQ(f.version, CAUSAL_WIRE_VERSION);
	EXPECT_EQ(0, memcmp(vclock, self->b_clock, 7 * sizeof(__u64)));
	EXPECT_EQ(self->b_clock[7], 4);
}

/* A's version 2 frames leave out what did not change: the module keeps the
 * earlier values (a lost entry would go backwards and fail the channel).
 */
TEST_F(delta, peer_delta_frames_rebuild_clock)
{
	__u64 m1[DELTA_NODES] = { 1, 0, 5, 7 }, m[DELTA_NODES] = {};
	__u64 vclock[DELTA_NODES];
	socklen_t len = sizeof(vclock);
	struct causal_info info;

	ASSERT_EQ(wire_send(self->a_raw, CAUSAL_FRAME_DATA, 0, DELTA_NODES, 0,
			    m1, "m1", 2), 0);
	m[0] = 2;
	ASSERT_EQ(wire_send_delta(self->a_raw, CAUSAL_FRAME_DATA, DELTA_NODES,
				  0, 1 << 0, m, "m2", 2), 0);
	ASSERT_EQ(wire_send_delta(self->a_raw, CAUSAL_FRAME_CLOCK, DELTA_NODES,
				  0, 0, m, NULL, 0), 0);
	m[0] = 3;
	m[2] = 9;
	ASSERT_EQ(wire_send_delta(self->a_raw, CAUSAL_FRAME_DATA, DELTA_NODES,
				  0, (1 << 0) | (1 << 2), m, "m3", 2), 0);
	expect_msg(_metadata, self->a_ch, "m1");
	expect_msg(_metadata, self->a_ch, "m2");
	expect_msg(_metadata, self->a_ch, "m3");
	ASSERT_EQ(getsockopt(self->a_ch, SOL_CAUSAL, CAUSAL_VCLOCK, vclock, &len), 0);
	EXPECT_EQ(vclock[0], 3);
	EXPECT_EQ(vclock[1], 0);
	EXPECT_EQ(vclock[2], 9);
	EXPECT_EQ(vclock[3], 7);
	info = info_of(_metadata, self->a_ch);
	EXPECT_EQ(info.proto_errors, 0);
	EXPECT_EQ(info.state, CAUSAL_CH_ACTIVE);
}

/* With causal.wire_delta off the module neither offers nor sends version 2,
 * even to a peer that reads it.
 */
TEST(delta_param_off)
{
	__u64 zero[DELTA_NODES] = {}, clock[DELTA_NODES];
	bool was = delta_param();
	struct causal_frame f;
	int raw, ch;
	__u32 flags;
	char text[64];

	causal_require_module(_metadata);
	if (set_delta_param(false))
		SKIP(return, "cannot write %s", DELTA_PARAM);
	delta_join(_metadata, &raw, &ch, clock, &flags);
	EXPECT_FALSE(flags & CAUSAL_WIRE_HELLO_F_DELTA);
	ASSERT_EQ(wire_hello_flags(raw, G + 8, DELTA_NODES, 0, zero, 0xa,
				   CAUSAL_WIRE_HELLO_F_DELTA), 0);
	wait_active(_metadata, ch);
	ASSERT_EQ(send(ch, "x", 1, 0), 1);
	delta_next_data(_metadata, raw, clock, &f, text);
	EXPECT_EQ(f.version, CAUSAL_WIRE_VERSION);
	EXPECT_EQ(clock[7], 1);
	close(raw);
	close(ch);
	ASSERT_EQ(set_delta_param(was), 0);
}

TEST_HARNESS_MAIN
