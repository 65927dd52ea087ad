/* SPDX-License-Identifier: GPL-2.0 */
/* Helpers shared by the causal selftests. Include after kselftest_harness.h. */
#ifndef CAUSAL_UTIL_H
#define CAUSAL_UTIL_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <linux/causal.h>
#include "causal_wire.h"
#include "causal_tcpinfo.h"
#include "causal_cutil.h"

#define CAUSAL_REFCNT_PATH "/sys/module/causal/refcnt"

/* Skip the calling test when the module is not loaded. The harness runs each
 * test in its own child and reads exit status KSFT_SKIP as "skipped".
 */
static inline void causal_require_module(struct __test_metadata *_metadata)
{
	if (access("/sys/module/causal", F_OK))
		SKIP(_exit(KSFT_SKIP), "causal module not loaded");
}

static inline void tcp_pair(struct __test_metadata *_metadata, int family,
			    int *fd, int *cfd)
{
	ASSERT_EQ(cu_tcp_pair(family, false, fd, cfd), 0)
		TH_LOG("tcp pair: %s", strerror(errno));
}

static inline int causal_attach(int fd)
{
	return setsockopt(fd, SOL_TCP, TCP_ULP, CAUSAL_ULP_NAME,
			  sizeof(CAUSAL_ULP_NAME));
}

static inline int causal_join(int fd, __u32 group, __u16 node, __u16 nodes,
			      __u32 flags)
{
	struct causal_join join = {
		.group = group, .node = node, .nodes = nodes, .flags = flags,
	};

	return setsockopt(fd, SOL_CAUSAL, CAUSAL_JOIN, &join, sizeof(join));
}

static inline long causal_module_refcnt(struct __test_metadata *_metadata)
{
	long refcnt = -1;
	FILE *f = fopen(CAUSAL_REFCNT_PATH, "r");

	ASSERT_NE(f, NULL);
	ASSERT_EQ(fscanf(f, "%ld", &refcnt), 1);
	fclose(f);
	return refcnt;
}

/* Sockets drop their module reference when TCP destroys them, shortly after
 * close(); wait up to @ms for the count to come back to @want.
 */
static inline bool causal_wait_refcnt(struct __test_metadata *_metadata,
				      long want, int ms)
{
	struct timespec pause = { .tv_nsec = 10 * 1000 * 1000 };

	for (; ms > 0; ms -= 10) {
		if (causal_module_refcnt(_metadata) == want)
			return true;
		nanosleep(&pause, NULL);
	}
	return causal_module_refcnt(_metadata) == want;
}

/* Two joined sockets on loopback: *a is node 0, *b node 1 of a 2-node group. */
static inline void joined_pair(struct __test_metadata *_metadata, int family,
			       __u32 group, __u32 flags, int *a, int *b)
{
	tcp_pair(_metadata, family, a, b);
	ASSERT_EQ(causal_attach(*a), 0);
	ASSERT_EQ(causal_attach(*b), 0);
	ASSERT_EQ(causal_join(*a, group, 0, 2, flags), 0);
	ASSERT_EQ(causal_join(*b, group, 1, 2, flags), 0);
}

/* Write all of @len bytes or fail. */
static inline int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n <= 0)
			return -1;
		p += n;
		len -= n;
	}
	return 0;
}

static inline int read_all(int fd, void *buf, size_t len)
{
	char *p = buf;

	while (len) {
		ssize_t n = read(fd, p, len);

		if (n <= 0)
			return -1;
		p += n;
		len -= n;
	}
	return 0;
}

/* Milliseconds since @t0 (CLOCK_MONOTONIC). */
static inline long ms_since(const struct timespec *t0)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - t0->tv_sec) * 1000 +
	       (now.tv_nsec - t0->tv_nsec) / 1000000;
}

static inline void set_rcvtimeo(int fd, int ms)
{
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = ms % 1000 * 1000 };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
}

/* One message to every channel of the endpoint (CAUSAL_CMSG_BROADCAST). */
static inline ssize_t send_broadcast(int fd, const void *buf, size_t len, int flags)
{
	char cbuf[CMSG_SPACE(0)] = {};
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);

	cmsg->cmsg_level = SOL_CAUSAL;
	cmsg->cmsg_type = CAUSAL_CMSG_BROADCAST;
	cmsg->cmsg_len = CMSG_LEN(0);
	return sendmsg(fd, &msg, flags);
}

/* A hand-driven peer speaks the wire protocol on a plain TCP socket, with the
 * same codec the module uses.
 */
static inline int wire_send(int fd, __u8 type, __u16 flags, __u16 nodes,
			    __u16 sender, const __u64 *clock,
			    const void *payload, __u32 len)
{
	struct causal_frame f = {
		.type = type, .flags = flags, .nodes = nodes,
		.sender = sender, .len = len,
	};
	size_t size = causal_frame_size(nodes, len);
	char *buf = malloc(size);
	int ret;

	if (!buf)
		return -1;
	causal_wire_put_hdr(buf, &f);
	causal_wire_put_clock(buf + CAUSAL_WIRE_HDR_LEN, clock, nodes);
	if (len)
		memcpy(buf + size - len, payload, len);
	ret = write_all(fd, buf, size);
	free(buf);
	return ret;
}

/* A version 2 frame: the entries @present of @clock. */
static inline int wire_send_delta(int fd, __u8 type, __u16 nodes, __u16 sender,
				  __u64 present, const __u64 *clock,
				  const void *payload, __u32 len)
{
	struct causal_frame f = {
		.version = CAUSAL_WIRE_VERSION_DELTA, .type = type,
		.nodes = nodes, .sender = sender, .len = len,
		.present = present,
	};
	size_t size = causal_frame_len(&f);
	char *buf = malloc(size);
	int ret;

	if (!buf)
		return -1;
	causal_wire_put_head(buf, &f, clock);
	if (len)
		memcpy(buf + size - len, payload, len);
	ret = write_all(fd, buf, size);
	free(buf);
	return ret;
}

static inline int wire_hello_flags(int fd, __u32 group, __u16 nodes,
				   __u16 sender, const __u64 *clock,
				   __u64 incarnation, __u32 flags)
{
	struct causal_hello h = {
		.group = group, .flags = flags, .incarnation = incarnation,
	};
	char payload[CAUSAL_WIRE_HELLO_LEN];

	causal_wire_put_hello(payload, &h);
	return wire_send(fd, CAUSAL_FRAME_HELLO, 0, nodes, sender, clock,
			 payload, sizeof(payload));
}

static inline int wire_hello(int fd, __u32 group, __u16 nodes, __u16 sender,
			     const __u64 *clock, __u64 incarnation)
{
	return wire_hello_flags(fd, group, nodes, sender, clock, incarnation, 0);
}

/* Read one frame: header into @f, clock into @clock, payload (at most
 * @size bytes kept) into @payload. @clock holds the sender's clock as of
 * its previous frame: a version 2 frame brings only the entries that
 * changed. Returns 0, or -1 on EOF or a bad header.
 */
static inline int wire_recv(int fd, struct causal_frame *f, __u64 *clock,
			    void *payload, size_t size)
{
	char hdr[CAUSAL_WIRE_HDR_MAX];
	char raw[CAUSAL_WIRE_MAX_NODES * 8];
	char *data;

	if (read_all(fd, hdr, CAUSAL_WIRE_HDR_LEN))
		return -1;
	if (causal_wire_hdr_len(hdr) > CAUSAL_WIRE_HDR_LEN &&
	    read_all(fd, hdr + CAUSAL_WIRE_HDR_LEN,
		     causal_wire_hdr_len(hdr) - CAUSAL_WIRE_HDR_LEN))
		return -1;
	if (causal_wire_get_hdr(hdr, f, 1 << 30))
		return -1;
	if (read_all(fd, raw, causal_frame_head_len(f) - causal_wire_hdr_len(hdr)))
		return -1;
	if (causal_frame_delta(f))
		causal_wire_get_entries(raw, (u64 *)clock, f->present);
	else
		causal_wire_get_clock(raw, (u64 *)clock, f->nodes);
	data = malloc(f->len + 1);
	if (!data || read_all(fd, data, f->len)) {
		free(data);
		return -1;
	}
	memcpy(payload, data, f->len < size ? f->len : size);
	free(data);
	return 0;
}

#endif /* CAUSAL_UTIL_H */
