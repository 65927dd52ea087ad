/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A module endpoint whose peers the test drives by hand: each channel is a
 * TCP pair whose module end joined the endpoint and whose other end ("raw")
 * speaks the wire protocol through the shared codec, so that arrival order,
 * clocks and malformed input are under the test's control.
 *
 * The default scene is node 2 of a 3-node group SCENE_GROUP, its peers nodes
 * 0 and 1. Include after kselftest_harness.h and causal_util.h.
 */
#ifndef CAUSAL_SCENE_H
#define CAUSAL_SCENE_H

#include <poll.h>
#include <stdbool.h>

#define SCENE_GROUP	200

static inline bool readable(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, ms) == 1 && (p.revents & POLLIN);
}

/* A reader thread: one recv() on fd into buf, its result in got. */
struct blocked_reader {
	int fd;
	char buf[4096];
	ssize_t got;
};

static inline void *blocked_read(void *p)
{
	struct blocked_reader *r = p;

	r->got = recv(r->fd, r->buf, sizeof(r->buf), 0);
	return NULL;
}

/* A new channel of the endpoint (@group, @node of @nodes): *ch is the module's
 * end, *raw the test's, which has read the module's HELLO.
 */
static inline void scene_join(struct __test_metadata *_metadata, int *raw,
			      int *ch, __u32 group, __u16 node, __u16 nodes,
			      __u32 flags)
{
	struct causal_frame f;
	__u64 clock[CAUSAL_WIRE_MAX_NODES];
	char payload[16];

	tcp_pair(_metadata, AF_INET, raw, ch);
	ASSERT_EQ(causal_attach(*ch), 0);
	ASSERT_EQ(causal_join(*ch, group, node, nodes, flags), 0);
	/* The module's HELLO is the first frame on the channel. */
	ASSERT_EQ(wire_recv(*raw, &f, clock, payload, sizeof(payload)), 0);
	EXPECT_EQ(f.type, CAUSAL_FRAME_HELLO);
	EXPECT_EQ(f.nodes, nodes);
	EXPECT_EQ(f.sender, node);
	EXPECT_EQ(f.len, CAUSAL_WIRE_HELLO_LEN);
}

static inline void scene_open(struct __test_metadata *_metadata, int *raw,
			      int *ch, __u32 flags)
{
	scene_join(_metadata, raw, ch, SCENE_GROUP, 2, 3, flags);
}

static inline struct causal_info info_of(struct __test_metadata *_metadata, int fd)
{
	struct causal_info info = {};
	socklen_t len = sizeof(info);

	EXPECT_EQ(getsockopt(fd, SOL_CAUSAL, CAUSAL_INFO, &info, &len), 0);
	return info;
}

/* Wait until the module has taken the peer's HELLO on @fd. */
static inline void wait_active(struct __test_metadata *_metadata, int fd)
{
	struct causal_info info;
	socklen_t len;

	for (int i = 0; i < 200; i++) {
		len = sizeof(info);
		ASSERT_EQ(getsockopt(fd, SOL_CAUSAL, CAUSAL_INFO, &info, &len), 0);
		if (info.state == CAUSAL_CH_ACTIVE)
			return;
		usleep(10 * 1000);
	}
	ASSERT_EQ(info.state, CAUSAL_CH_ACTIVE);
}

/* DATA and CLOCK frames of a 3-node group. */
static inline int send_data(int fd, __u16 sender, __u64 v0, __u64 v1, __u64 v2,
			    const char *text)
{
	__u64 clock[3] = { v0, v1, v2 };

	return wire_send(fd, CAUSAL_FRAME_DATA, 0, 3, sender, clock, text,
			 strlen(text));
}

static inline int send_clock(int fd, __u16 sender, __u64 v0, __u64 v1,
			     __u64 v2)
{
	__u64 clock[3] = { v0, v1, v2 };

	return wire_send(fd, CAUSAL_FRAME_CLOCK, 0, 3, sender, clock, NULL, 0);
}

static inline void expect_msg(struct __test_metadata *_metadata, int fd,
			      const char *text)
{
	char buf[64] = {};

	ASSERT_EQ(recv(fd, buf, sizeof(buf) - 1, 0), strlen(text));
	EXPECT_STREQ(buf, text);
}

static inline void expect_held(struct __test_metadata *_metadata, int fd)
{
	char buf[8];

	/* Give the frame time to arrive: it must still not be readable. */
	EXPECT_FALSE(readable(fd, 100));
	EXPECT_EQ(recv(fd, buf, sizeof(buf), MSG_DONTWAIT), -1);
	EXPECT_EQ(errno, EAGAIN);
}

/* The peer broke the protocol: the channel failed with @err. */
static inline void expect_failed(struct __test_metadata *_metadata, int fd,
				 int err)
{
	char buf[8];
	struct causal_info info;
	socklen_t len = sizeof(info);

	EXPECT_TRUE(readable(fd, 2000));
	EXPECT_EQ(recv(fd, buf, sizeof(buf), 0), -1);
	EXPECT_EQ(errno, err);
	ASSERT_EQ(getsockopt(fd, SOL_CAUSAL, CAUSAL_INFO, &info, &len), 0);
	EXPECT_EQ(info.state, CAUSAL_CH_FAILED);
	EXPECT_GE(info.proto_errors, 1);
}

#endif /* CAUSAL_SCENE_H */
