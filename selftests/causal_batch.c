// SPDX-License-Identifier: GPL-2.0
/*
 * Selftests of batching: batched receive (CAUSAL_RECV_BATCH), where one read
 * returns as many whole deliverable messages as fit, each a struct
 * causal_rec and its payload, in delivery order; it waits only for the
 * first, and a first message that does not fit is truncated as a lone
 * message is. And corked sends: MSG_MORE and sendmmsg() let messages wait
 * in the socket for the next, until a send without MSG_MORE, or TCP's own
 * timer, pushes them.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <linux/causal.h>

#include "kselftest_harness.h"
#include "causal_util.h"
#include "causal_scene.h"

#define G SCENE_GROUP

static void set_batch(struct __test_metadata *_metadata, int fd, int on)
{
	ASSERT_EQ(setsockopt(fd, SOL_CAUSAL, CAUSAL_RECV_BATCH, &on, sizeof(on)),
		  0);
}

static void fill(char *buf, size_t len, unsigned int seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (char)(seed * 31 + i * 7);
}

/* The records of a batched read of @n bytes, checked for layout: each
 * within the read, zero padding between them, the last ending the read.
 * Returns how many, their starts in @recs.
 */
static int records(struct __test_metadata *_metadata, const char *buf,
		   ssize_t n, const struct causal_rec **recs, int max)
{
	const struct causal_rec *rec = (const void *)buf;
	int count = 0;

	EXPECT_GE(n, (ssize_t)sizeof(*rec));
	while ((const char *)rec < buf + n) {
		const char *end = (const char *)CAUSAL_REC_DATA(rec) + rec->len;
		const char *next = (const char *)CAUSAL_REC_NEXT(rec);

		EXPECT_EQ(((uintptr_t)rec - (uintptr_t)buf) % CAUSAL_REC_ALIGN, 0);
		EXPECT_LE(end, buf + n);
		if (count < max)
			recs[count] = rec;
		count++;
		if (end == buf + n)
			break;
		for (const char *p = end; p < next; p++)
			EXPECT_EQ(*p, 0);
		rec = (const void *)next;
	}
	return count;
}

/* ---- two module endpoints, node 0 sends to node 1 ---- */

FIXTURE(batch)
{
	int a, b;
};

FIXTURE_SETUP(batch)
{
	causal_require_module(_metadata);
	joined_pair(_metadata, AF_INET, 110, 0, &self->a, &self->b);
	set_batch(_metadata, self->b, 1);
}

FIXTURE_TEARDOWN(batch)
{
	close(self->a);
	close(self->b);
}

/* Send @count messages of @sizes, then give them time to arrive. */
static void send_sizes(struct __test_metadata *_metadata, int fd,
		       const size_t *sizes, int count)
{
	char out[4096];

	for (int i = 0; i < count; i++) {
		fill(out, sizes[i], i);
		ASSERT_EQ(send(fd, out, sizes[i], 0), sizes[i]);
	}
	usleep(100 * 1000);
}

TEST_F(batch, option)
{
	socklen_t len = sizeof(int);
	int val = -1;

	ASSERT_EQ(getsockopt(self->b, SOL_CAUSAL, CAUSAL_RECV_BATCH, &val, &len), 0);
	EXPECT_EQ(len, sizeof(int));
	EXPECT_EQ(val, 1);
	set_batch(_metadata, self->b, 0);
	ASSERT_EQ(getsockopt(self->b, SOL_CAUSAL, CAUSAL_RECV_BATCH, &val, &len), 0);
	EXPECT_EQ(val, 0);
	val = 5;
	ASSERT_EQ(setsockopt(self->b, SOL_CAUSAL, CAUSAL_RECV_BATCH, &val, 2), -1);
	EXPECT_EQ(errno, EINVAL);
}

/* Everything deliverable in one read, in order, each with its stamp. */
TEST_F(batch, whole_messages_in_order)
{
	static const size_t sizes[] = { 1, 7, 8, 9, 100, 1500, 4096, 3 };
	const int count = sizeof(sizes) / sizeof(sizes[0]);
	const struct causal_rec *recs[16];
	char buf[65536], out[4096];
	ssize_t n;

	send_sizes(_metadata, self->a, sizes, count);
	ASSERT_TRUE(readable(self->b, 2000));
	n = read(self->b, buf, sizeof(buf));
	ASSERT_EQ(records(_metadata, buf, n, recs, 16), count);
	for (int i = 0; i < count; i++) {
		fill(out, sizes[i], i);
		EXPECT_EQ(recs[i]->len, sizes[i]);
		EXPECT_EQ(recs[i]->sender, 0);
		EXPECT_EQ(recs[i]->flags, 0);
		EXPECT_EQ(recs[i]->stamp, i + 1);
		EXPECT_EQ(memcmp(CAUSAL_REC_DATA(recs[i]), out, sizes[i]), 0);
	}
	EXPECT_EQ(recv(self->b, buf, sizeof(buf), MSG_DONTWAIT), -1);
	EXPECT_EQ(errno, EAGAIN);
}

/* A message that does not fit whole behind others waits for the next read;
 * a buffer that ends exactly at a record's end takes it.
 */
TEST_F(batch, only_whole_messages)
{
	static const size_t sizes[] = { 100, 100, 100 };
	const size_t two = CAUSAL_REC_SIZE(100) + sizeof(struct causal_rec) + 100;
	const struct causal_rec *recs[4];
	char buf[1024];
	ssize_t n;

	send_sizes(_metadata, self->a, sizes, 3);
	n = recv(self->b, buf, two + CAUSAL_REC_SIZE(100) - 1, 0);
	EXPECT_EQ(n, two);
	ASSERT_EQ(records(_metadata, buf, n, recs, 4), 2);
	EXPECT_EQ(recs[1]->stamp, 2);
	n = recv(self->b, buf, two, 0);
	ASSERT_EQ(records(_metadata, buf, n, recs, 4), 1);
	EXPECT_EQ(recs[0]->stamp, 3);
}

/* A first message that does not fit: its record header and what fits of
 * its payload, MSG_TRUNC, and the rest is gone, as without batching.
 */
TEST_F(batch, first_message_truncated)
{
	static const size_t sizes[] = { 100, 20, 30 };
	struct causal_rec *rec;
	char buf[256], out[100];
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof(*rec) + 10 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };

	send_sizes(_metadata, self->a, sizes, 3);
	ASSERT_EQ(recvmsg(self->b, &msg, 0), sizeof(*rec) + 10);
	EXPECT_TRUE(msg.msg_flags & MSG_TRUNC);
	rec = (void *)buf;
	EXPECT_EQ(rec->len, 100);
	EXPECT_EQ(rec->stamp, 1);
	fill(out, 100, 0);
	EXPECT_EQ(memcmp(CAUSAL_REC_DATA(rec), out, 10), 0);
	/* Shorter than a record header: its first bytes. MSG_TRUNC asks for
	 * the whole record's length.
	 */
	EXPECT_EQ(recv(self->b, buf, 4, MSG_TRUNC), sizeof(*rec) + 20);
	EXPECT_EQ(rec->len, 20);
	ASSERT_EQ(recv(self->b, buf, sizeof(buf), 0), sizeof(*rec) + 30);
	EXPECT_EQ(rec->stamp, 3);
}

/* A record header cut short is a truncated message, an empty one too
 * (found by causal_fuzz_sys: a zero-length message read into 6 bytes came
 * back without MSG_TRUNC).
 */
TEST_F(batch, empty_message_short_of_its_header)
{
	static const size_t sizes[] = { 0, 0 };
	struct causal_rec *rec;
	char buf[256];
	struct iovec iov = { .iov_base = buf, .iov_len = 6 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };

	send_sizes(_metadata, self->a, sizes, 2);
	ASSERT_EQ(recvmsg(self->b, &msg, 0), 6);
	EXPECT_TRUE(msg.msg_flags & MSG_TRUNC);
	EXPECT_EQ(recv(self->b, buf, 6, MSG_TRUNC), sizeof(*rec));
	rec = (void *)buf;
	EXPECT_EQ(rec->len, 0);
}

/* MSG_PEEK shows the first record and leaves it. */
TEST_F(batch, peek_shows_the_first)
{
	static const size_t sizes[] = { 5, 6 };
	const struct causal_rec *recs[4];
	char buf[256];
	ssize_t n;

	send_sizes(_metadata, self->a, sizes, 2);
	for (int i = 0; i < 2; i++) {
		n = recv(self->b, buf, sizeof(buf), MSG_PEEK);
		ASSERT_EQ(records(_metadata, buf, n, recs, 4), 1);
		EXPECT_EQ(recs[0]->stamp, 1);
	}
	n = recv(self->b, buf, sizeof(buf), 0);
	EXPECT_EQ(records(_metadata, buf, n, recs, 4), 2);
}

/* A read waits for the first message only; nonblocking and timed reads
 * behave as without batching.
 */
TEST_F(batch, waits_for_the_first_only)
{
	struct blocked_reader r = { .fd = self->b };
	const struct causal_rec *recs[4];
	struct timespec t0;
	pthread_t t;
	char buf[64];

	EXPECT_EQ(recv(self->b, buf, sizeof(buf), MSG_DONTWAIT), -1);
	EXPECT_EQ(errno, EAGAIN);
	set_rcvtimeo(self->b, 200);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	EXPECT_EQ(recv(self->b, buf, sizeof(buf), 0), -1);
	EXPECT_EQ(errno, EAGAIN);
	EXPECT_GE(ms_since(&t0), 150);
	set_rcvtimeo(self->b, 0);

	ASSERT_EQ(pthread_create(&t, NULL, blocked_read, &r), 0);
	usleep(100 * 1000);
	ASSERT_EQ(send(self->a, "one", 3, 0), 3);
	pthread_join(t, NULL);
	ASSERT_EQ(records(_metadata, r.buf, r.got, recs, 4), 1);
	EXPECT_EQ(recs[0]->len, 3);
}

/* CAUSAL_RECV_INFO's control message describes the read's first record. */
TEST_F(batch, recv_info_is_the_first)
{
	static const size_t sizes[] = { 10, 20, 30 };
	struct {
		struct causal_msg_info info;
		__u64 vclock[2];
	} *ci;
	char cbuf[CMSG_SPACE(sizeof(*ci))], buf[256];
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	const struct causal_rec *recs[4];
	struct cmsghdr *cmsg;
	int one = 1;
	ssize_t n;

	ASSERT_EQ(setsockopt(self->b, SOL_CAUSAL, CAUSAL_RECV_INFO, &one,
			     sizeof(one)), 0);
	send_sizes(_metadata, self->a, sizes, 1);
	ASSERT_EQ(recv(self->b, buf, sizeof(buf), 0), sizeof(struct causal_rec) + 10);
	send_sizes(_metadata, self->a, sizes + 1, 2);
	n = recvmsg(self->b, &msg, 0);
	ASSERT_EQ(records(_metadata, buf, n, recs, 4), 2);
	cmsg = CMSG_FIRSTHDR(&msg);
	ASSERT_NE(cmsg, NULL);
	EXPECT_EQ(cmsg->cmsg_type, CAUSAL_CMSG_INFO);
	ci = (void *)CMSG_DATA(cmsg);
	EXPECT_EQ(ci->info.index, 2);
	EXPECT_EQ(ci->info.stamp, recs[0]->stamp);
	EXPECT_EQ(ci->vclock[0], 2);
	EXPECT_EQ(CMSG_NXTHDR(&msg, cmsg), NULL);
}

/* ---- corked sends ---- */

static void nodelay(struct __test_metadata *_metadata, int fd)
{
	int one = 1;

	ASSERT_EQ(setsockopt(fd, SOL_TCP, TCP_NODELAY, &one, sizeof(one)), 0);
}

/* Read @count 64-byte messages of seq 0.. from @fd, batched. */
static void read_msgs(struct __test_metadata *_metadata, int fd, int count)
{
	const struct causal_rec *recs[64];
	__u64 buf[8192];
	int got = 0, n;
	ssize_t ret;

	set_rcvtimeo(fd, 2000);
	while (got < count) {
		ret = recv(fd, buf, sizeof(buf), 0);
		ASSERT_GT(ret, 0);
		n = records(_metadata, (char *)buf, ret, recs, 64);
		ASSERT_LE(got + n, count);
		for (int i = 0; i < n; i++) {
			char out[64];

			fill(out, 64, got + i);
			EXPECT_EQ(recs[i]->len, 64);
			EXPECT_EQ(memcmp(CAUSAL_REC_DATA(recs[i]), out, 64), 0);
		}
		got += n;
	}
}

/* sendmmsg() of many small messages leaves in about one segment, even with
 * TCP_NODELAY: each but the last is corked.
 */
TEST_F(batch, sendmmsg_leaves_together)
{
	char out[32][64];
	struct mmsghdr mm[32] = {};
	struct iovec iov[32];
	__u32 before;

	nodelay(_metadata, self->a);
	for (int i = 0; i < 32; i++) {
		fill(out[i], 64, i);
		iov[i].iov_base = out[i];
		iov[i].iov_len = 64;
		mm[i].msg_hdr.msg_iov = &iov[i];
		mm[i].msg_hdr.msg_iovlen = 1;
	}
	before = tcp_segs_out(self->a);
	ASSERT_NE(before, 0);
	ASSERT_EQ(sendmmsg(self->a, mm, 32, 0), 32);
	read_msgs(_metadata, self->b, 32);
	TH_LOG("32 messages in %u segments", tcp_segs_out(self->a) - before);
	EXPECT_LE(tcp_segs_out(self->a) - before, 2);
}

/* MSG_MORE holds messages until a send without it. */
TEST_F(batch, more_waits_for_the_next_send)
{
	char out[64];

	nodelay(_metadata, self->a);
	for (int i = 0; i < 3; i++) {
		fill(out, 64, i);
		ASSERT_EQ(send(self->a, out, 64, MSG_MORE), 64);
	}
	EXPECT_FALSE(readable(self->b, 100));
	fill(out, 64, 3);
	ASSERT_EQ(send(self->a, out, 64, 0), 64);
	read_msgs(_metadata, self->b, 4);
}

/* Nothing waits forever: with no send after it, TCP's own timer sends a
 * corked message, as it does for TCP's MSG_MORE.
 */
TEST_F(batch, more_alone_goes_out)
{
	struct timespec t0;
	char out[64];

	nodelay(_metadata, self->a);
	fill(out, 64, 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ASSERT_EQ(send(self->a, out, 64, MSG_MORE), 64);
	read_msgs(_metadata, self->b, 1);
	TH_LOG("a corked message alone arrived after %ld ms", ms_since(&t0));
}

/* ---- a module endpoint with hand-driven peers (causal_scene.h) ---- */

FIXTURE(scene)
{
	int a_raw, a_ch, b_raw, b_ch;
};

FIXTURE_VARIANT(scene)
{
	__u32 flags;
};

FIXTURE_VARIANT_ADD(scene, per_channel)
{
	.flags = 0,
};

FIXTURE_VARIANT_ADD(scene, merged)
{
	.flags = CAUSAL_F_MERGED_RECV,
};

FIXTURE_SETUP(scene)
{
	__u64 zero[3] = {};

	causal_require_module(_metadata);
	scene_open(_metadata, &self->a_raw, &self->a_ch, variant->flags);
	scene_open(_metadata, &self->b_raw, &self->b_ch, variant->flags);
	set_batch(_metadata, self->a_ch, 1);
	set_batch(_metadata, self->b_ch, 1);
	ASSERT_EQ(wire_hello(self->a_raw, G, 3, 0, zero, 0xa), 0);
	ASSERT_EQ(wire_hello(self->b_raw, G, 3, 1, zero, 0xb), 0);
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

/* A read takes what is deliverable and leaves what is held; with merged
 * receive one read on either socket takes the endpoint's messages from
 * both channels in delivery order.
 */
TEST_F(scene, held_messages_stay)
{
	const struct causal_rec *recs[8];
	char buf[1024];
	ssize_t n;
	int count;

	/* B's two replies depend on A's second message. */
	ASSERT_EQ(send_data(self->b_raw, 1, 2, 1, 0, "reply"), 0);
	ASSERT_EQ(send_data(self->b_raw, 1, 2, 2, 0, ""), 0);
	ASSERT_EQ(send_data(self->a_raw, 0, 1, 0, 0, "first"), 0);
	ASSERT_TRUE(readable(self->a_ch, 2000));
	usleep(100 * 1000);
	n = recv(self->a_ch, buf, sizeof(buf), 0);
	ASSERT_EQ(records(_metadata, buf, n, recs, 8), 1);
	EXPECT_EQ(recs[0]->sender, 0);
	expect_held(_metadata, self->b_ch);

	ASSERT_EQ(send_data(self->a_raw, 0, 2, 0, 0, "second"), 0);
	ASSERT_EQ(send_data(self->a_raw, 0, 3, 0, 0, "third"), 0);
	usleep(200 * 1000);
	if (variant->flags & CAUSAL_F_MERGED_RECV) {
		n = recv(self->b_ch, buf, sizeof(buf), 0);
		count = records(_metadata, buf, n, recs, 8);
		ASSERT_EQ(count, 4);
		EXPECT_EQ(recs[0]->sender, 0);
		EXPECT_EQ(recs[0]->stamp, 2);
		/* B's replies became deliverable before A's third
		 * arrived... or after: either way each channel's order
		 * holds, and the replies follow A's second.
		 */
		for (int i = 1, a = 3, b = 1; i < count; i++) {
			if (recs[i]->sender == 0) {
				EXPECT_EQ(recs[i]->stamp, a++);
			} else {
				EXPECT_EQ(recs[i]->stamp, b++);
			}
		}
	} else {
		n = recv(self->a_ch, buf, sizeof(buf), 0);
		ASSERT_EQ(records(_metadata, buf, n, recs, 8), 2);
		EXPECT_EQ(memcmp(CAUSAL_REC_DATA(recs[1]), "third", 5), 0);
		n = recv(self->b_ch, buf, sizeof(buf), 0);
		ASSERT_EQ(records(_metadata, buf, n, recs, 8), 2);
		EXPECT_EQ(recs[0]->len, 5);
		EXPECT_EQ(recs[1]->len, 0);
		EXPECT_EQ(recs[1]->stamp, 2);
		/* An empty message's record ends the read. */
		EXPECT_EQ(n, CAUSAL_REC_SIZE(5) + sizeof(struct causal_rec));
	}
	EXPECT_EQ(recv(self->b_ch, buf, sizeof(buf), MSG_DONTWAIT), -1);
	EXPECT_EQ(errno, EAGAIN);
}

/* A message the hold timeout lets go says so in its record. */
TEST_F(scene, gap_flag)
{
	const struct causal_rec *recs[4];
	__u32 ms = 100;
	char buf[256];
	ssize_t n;

	ASSERT_EQ(setsockopt(self->b_ch, SOL_CAUSAL, CAUSAL_HOLD_TIMEOUT, &ms,
			     sizeof(ms)), 0);
	ASSERT_EQ(send_data(self->b_raw, 1, 5, 1, 0, "orphan"), 0);
	ASSERT_EQ(send_data(self->b_raw, 1, 5, 2, 0, "next"), 0);
	ASSERT_TRUE(readable(self->b_ch, 3000));
	n = recv(self->b_ch, buf, sizeof(buf), 0);
	ASSERT_EQ(records(_metadata, buf, n, recs, 4), 2);
	EXPECT_EQ(recs[0]->flags, CAUSAL_MSG_GAP);
	EXPECT_EQ(recs[0]->sender, 1);
	EXPECT_EQ(recs[1]->stamp, 2);
}

TEST_HARNESS_MAIN
