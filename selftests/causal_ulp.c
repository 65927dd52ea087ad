// SPDX-License-Identifier: GPL-2.0
/*
 * Selftests for the causal ULP: attaching, JOIN and option validation,
 * ownership, netns scoping, teardown and module pinning.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <linux/causal.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>

#include "kselftest_harness.h"
#include "causal_util.h"

FIXTURE(pair)
{
	int fd, cfd;
};

FIXTURE_VARIANT(pair)
{
	int family;
};

FIXTURE_VARIANT_ADD(pair, ipv4)
{
	.family = AF_INET,
};

FIXTURE_VARIANT_ADD(pair, ipv6)
{
	.family = AF_INET6,
};

FIXTURE_SETUP(pair)
{
	causal_require_module(_metadata);
	tcp_pair(_metadata, variant->family, &self->fd, &self->cfd);
	ASSERT_EQ(causal_attach(self->fd), 0);
	ASSERT_EQ(causal_attach(self->cfd), 0);
}

FIXTURE_TEARDOWN(pair)
{
	close(self->fd);
	close(self->cfd);
}

TEST_F(pair, ulp_name)
{
	char name[16] = {};
	socklen_t len = sizeof(name);

	ASSERT_EQ(getsockopt(self->fd, SOL_TCP, TCP_ULP, name, &len), 0);
	EXPECT_STREQ(name, "causal");
}

/* ss -ti names the ULP of each socket. */
TEST_F(pair, ss_shows_ulp)
{
	char line[512];
	int found = 0;
	FILE *ss = popen("ss -tin state established 2>&1", "r");

	ASSERT_NE(ss, NULL);
	while (fgets(line, sizeof(line), ss))
		if (strstr(line, "tcp-ulp-causal"))
			found++;
	pclose(ss);
	EXPECT_GE(found, 2);
}

/* The group of the first causal socket sock_diag reports with local port
 * @port, or 0.
 */
static __u32 diag_group(int family, __u16 port)
{
	struct {
		struct nlmsghdr nlh;
		struct inet_diag_req_v2 req;
	} q = {
		.nlh = { .nlmsg_len = sizeof(q), .nlmsg_type = SOCK_DIAG_BY_FAMILY,
			 .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP },
		.req = { .sdiag_family = family, .sdiag_protocol = IPPROTO_TCP,
			 .idiag_ext = 1 << (INET_DIAG_INFO - 1),
			 .idiag_states = 1 << 1 /* ESTABLISHED */ },
	};
	static char buf[1 << 16];
	__u32 group = 0;
	int fd = socket(AF_NETLINK, SOCK_DGRAM, NETLINK_SOCK_DIAG);
	ssize_t n;

	if (fd < 0 || send(fd, &q, sizeof(q), 0) != sizeof(q))
		return 0;
	while (!group && (n = recv(fd, buf, sizeof(buf), 0)) > 0) {
		struct nlmsghdr *h;

		for (h = (void *)buf; NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
			struct inet_diag_msg *m = NLMSG_DATA(h);
			int len = h->nlmsg_len - NLMSG_LENGTH(sizeof(*m));
			struct rtattr *a;

			if (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR)
				goto out;
			if (ntohs(m->id.idiag_sport) != port)
				continue;
			for (a = (void *)(m + 1); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
				struct rtattr *u, *c;
				int ulen, clen;

				if (a->rta_type != INET_DIAG_ULP_INFO)
					continue;
				ulen = RTA_PAYLOAD(a);
				for (u = RTA_DATA(a); RTA_OK(u, ulen); u = RTA_NEXT(u, ulen)) {
					if (u->rta_type != CAUSAL_INET_ULP_INFO)
						continue;
					clen = RTA_PAYLOAD(u);
					for (c = RTA_DATA(u); RTA_OK(c, clen); c = RTA_NEXT(c, clen))
						if (c->rta_type == CAUSAL_DIAG_GROUP)
							group = *(__u32 *)RTA_DATA(c);
				}
			}
		}
	}
out:
	close(fd);
	return group;
}

TEST_F(pair, sock_diag)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	__u16 port;

	ASSERT_EQ(causal_join(self->fd, 17, 0, 2, 0), 0);
	ASSERT_EQ(getsockname(self->fd, (struct sockaddr *)&ss, &len), 0);
	port = ntohs(((struct sockaddr_in *)&ss)->sin_port);	/* same offset in v6 */
	EXPECT_EQ(diag_group(variant->family, port), 17);
}

TEST_F(pair, ulp_twice)
{
	EXPECT_EQ(causal_attach(self->fd), -1);
	EXPECT_EQ(errno, EEXIST);
}

TEST_F(pair, tcp_options_pass_through)
{
	int one = 1, val = 0;
	socklen_t len = sizeof(val);

	ASSERT_EQ(setsockopt(self->fd, SOL_TCP, TCP_NODELAY, &one, sizeof(one)), 0);
	ASSERT_EQ(getsockopt(self->fd, SOL_TCP, TCP_NODELAY, &val, &len), 0);
	EXPECT_EQ(val, 1);
}

TEST_F(pair, join)
{
	EXPECT_EQ(causal_join(self->fd, 7, 0, 2, 0), 0);
	EXPECT_EQ(causal_join(self->cfd, 7, 1, 2, 0), 0);
}

TEST_F(pair, join_twice)
{
	ASSERT_EQ(causal_join(self->fd, 7, 0, 2, 0), 0);
	EXPECT_EQ(causal_join(self->fd, 7, 0, 2, 0), -1);
	EXPECT_EQ(errno, EBUSY);
	EXPECT_EQ(causal_join(self->fd, 8, 0, 2, 0), -1);
	EXPECT_EQ(errno, EBUSY);
}

TEST_F(pair, join_invalid)
{
	static const struct causal_join bad[] = {
		{ .group = 0, .node = 0, .nodes = 2 },		/* group 0 */
		{ .group = 1, .node = 0, .nodes = 0 },		/* no nodes */
		{ .group = 1, .node = 0, .nodes = 65 },		/* too many */
		{ .group = 1, .node = 2, .nodes = 2 },		/* node >= nodes */
		{ .group = 1, .node = 64, .nodes = 64 },
		{ .group = 1, .node = 0xffff, .nodes = 0xffff },
		{ .group = 1, .node = 0, .nodes = 2, .flags = 1U << 31 },
		{ .group = 1, .node = 0, .nodes = 2, .reserved = 1 },
	};
	unsigned int i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		EXPECT_EQ(setsockopt(self->fd, SOL_CAUSAL, CAUSAL_JOIN,
				     &bad[i], sizeof(bad[i])), -1)
			TH_LOG("case %u accepted", i);
		EXPECT_EQ(errno, EINVAL) TH_LOG("case %u", i);
	}
	/* Nothing above may have joined: a valid join still works. */
	EXPECT_EQ(causal_join(self->fd, 1, 63, 64, 0), 0);
}

TEST_F(pair, join_optlen)
{
	struct causal_join join = { .group = 1, .node = 0, .nodes = 2 };
	char big[sizeof(join) + 8] = {};

	memcpy(big, &join, sizeof(join));
	EXPECT_EQ(setsockopt(self->fd, SOL_CAUSAL, CAUSAL_JOIN, &join,
			     sizeof(join) - 1), -1);
	EXPECT_EQ(errno, EINVAL);
	EXPECT_EQ(setsockopt(self->fd, SOL_CAUSAL, CAUSAL_JOIN, big,
			     sizeof(big)), -1);
	EXPECT_EQ(errno, EINVAL);
	EXPECT_EQ(setsockopt(self->fd, SOL_CAUSAL, CAUSAL_JOIN, NULL,
			     sizeof(join)), -1);
	EXPECT_EQ(errno, EFAULT);
}

TEST_F(pair, unknown_option)
{
	int val = 1;
	socklen_t len = sizeof(val);

	EXPECT_EQ(setsockopt(self->fd, SOL_CAUSAL, 999, &val, sizeof(val)), -1);
	EXPECT_EQ(errno, ENOPROTOOPT);
	EXPECT_EQ(getsockopt(self->fd, SOL_CAUSAL, 999, &val, &len), -1);
	EXPECT_EQ(errno, ENOPROTOOPT);
	/* CAUSAL_JOIN is set-only. */
	ASSERT_EQ(causal_join(self->fd, 3, 0, 2, 0), 0);
	EXPECT_EQ(getsockopt(self->fd, SOL_CAUSAL, CAUSAL_JOIN, &val, &len), -1);
	EXPECT_EQ(errno, ENOPROTOOPT);
}

TEST_F(pair, options_need_join)
{
	__u64 peers = 2, vclock[2];
	__u32 ms = 5;
	socklen_t len;

	EXPECT_EQ(setsockopt(self->fd, SOL_CAUSAL, CAUSAL_PEERS, &peers,
			     sizeof(peers)), -1);
	EXPECT_EQ(errno, ENOTCONN);
	EXPECT_EQ(setsockopt(self->fd, SOL_CAUSAL, CAUSAL_HOLD_TIMEOUT, &ms,
			     sizeof(ms)), -1);
	EXPECT_EQ(errno, ENOTCONN);
	len = sizeof(peers);
	EXPECT_EQ(getsockopt(self->fd, SOL_CAUSAL, CAUSAL_PEERS, &peers, &len), -1);
	EXPECT_EQ(errno, ENOTCONN);
	len = sizeof(vclock);
	EXPECT_EQ(getsockopt(self->fd, SOL_CAUSAL, CAUSAL_VCLOCK, vclock, &len), -1);
	EXPECT_EQ(errno, ENOTCONN);
}

TEST_F(pair, peers)
{
	__u64 peers = 0;
	socklen_t len = sizeof(peers);

	ASSERT_EQ(causal_join(self->fd, 9, 1, 4, 0), 0);
	ASSERT_EQ(getsockopt(self->fd, SOL_CAUSAL, CAUSAL_PEERS, &peers, &len), 0);
	EXPECT_EQ(len, sizeof(peers));
	EXPECT_EQ(peers, 0xdULL);	/* every node but 1 */

	peers = 1ULL << 1;		/* itself */
	EXPECT_EQ(setsockopt(self->fd, SOL_CAUSAL, CAUSAL_PEERS, &peers,
			     sizeof(peers)), -1);
	EXPECT_EQ(errno, EINVAL);
	peers = 1ULL << 4;		/* outside the group */
	EXPECT_EQ(setsockopt(self->fd, SOL_CAUSAL, CAUSAL_PEERS, &peers,
			     sizeof(peers)), -1);
	EXPECT_EQ(errno, EINVAL);
	EXPECT_EQ(setsockopt(self->fd, SOL_CAUSAL, CAUSAL_PEERS, &peers, 4), -1);
	EXPECT_EQ(errno, EINVAL);

	peers = 0x9;
	ASSERT_EQ(setsockopt(self->fd, SOL_CAUSAL, CAUSAL_PEERS, &peers,
			     sizeof(peers)), 0);
	peers = 0;
	len = sizeof(peers);
	ASSERT_EQ(getsockopt(self->fd, SOL_CAUSAL, CAUSAL_PEERS, &peers, &len), 0);
	EXPECT_EQ(peers, 0x9ULL);

	len = 4;
	EXPECT_EQ(getsockopt(self->fd, SOL_CAUSAL, CAUSAL_PEERS, &peers, &len), -1);
	EXPECT_EQ(errno, EINVAL);
}

TEST_F(pair, peers_shared_by_endpoint)
{
	__u64 peers = 0x4;
	socklen_t len = sizeof(peers);
	int a, b;

	/* Two sockets of node 0 share one endpoint and so one peer set. */
	tcp_pair(_metadata, variant->family, &a, &b);
	ASSERT_EQ(causal_attach(a), 0);
	ASSERT_EQ(causal_join(self->fd, 11, 0, 3, 0), 0);
	ASSERT_EQ(causal_join(a, 11, 0, 3, 0), 0);
	ASSERT_EQ(setsockopt(self->fd, SOL_CAUSAL, CAUSAL_PEERS, &peers,
			     sizeof(peers)), 0);
	peers = 0;
	ASSERT_EQ(getsockopt(a, SOL_CAUSAL, CAUSAL_PEERS, &peers, &len), 0);
	EXPECT_EQ(peers, 0x4ULL);
	close(a);
	close(b);
}

TEST_F(pair, endpoint_must_agree)
{
	int a, b;

	tcp_pair(_metadata, variant->family, &a, &b);
	ASSERT_EQ(causal_attach(a), 0);
	ASSERT_EQ(causal_join(self->fd, 12, 0, 3, 0), 0);
	EXPECT_EQ(causal_join(a, 12, 0, 4, 0), -1);	/* other group size */
	EXPECT_EQ(errno, EINVAL);
	EXPECT_EQ(causal_join(a, 12, 0, 3, CAUSAL_F_BROADCAST), -1);
	EXPECT_EQ(errno, EINVAL);
	/* Per-socket flags may differ. */
	EXPECT_EQ(causal_join(a, 12, 0, 3, CAUSAL_F_RECV_INFO), 0);
	close(a);
	close(b);
}

TEST_F(pair, hold_timeout)
{
	__u32 ms = 1;
	socklen_t len = sizeof(ms);

	ASSERT_EQ(causal_join(self->fd, 13, 0, 2, 0), 0);
	ASSERT_EQ(getsockopt(self->fd, SOL_CAUSAL, CAUSAL_HOLD_TIMEOUT, &ms, &len), 0);
	EXPECT_EQ(ms, 0);
	ms = 250;
	ASSERT_EQ(setsockopt(self->fd, SOL_CAUSAL, CAUSAL_HOLD_TIMEOUT, &ms,
			     sizeof(ms)), 0);
	ms = 0;
	ASSERT_EQ(getsockopt(self->fd, SOL_CAUSAL, CAUSAL_HOLD_TIMEOUT, &ms, &len), 0);
	EXPECT_EQ(ms, 250);
	EXPECT_EQ(setsockopt(self->fd, SOL_CAUSAL, CAUSAL_HOLD_TIMEOUT, &ms, 2), -1);
	EXPECT_EQ(errno, EINVAL);
}

TEST_F(pair, recv_info)
{
	int val = -1;
	socklen_t len = sizeof(val);

	/* Per socket, so it may be set before JOIN. */
	ASSERT_EQ(getsockopt(self->fd, SOL_CAUSAL, CAUSAL_RECV_INFO, &val, &len), 0);
	EXPECT_EQ(val, 0);
	val = 5;
	ASSERT_EQ(setsockopt(self->fd, SOL_CAUSAL, CAUSAL_RECV_INFO, &val,
			     sizeof(val)), 0);
	ASSERT_EQ(getsockopt(self->fd, SOL_CAUSAL, CAUSAL_RECV_INFO, &val, &len), 0);
	EXPECT_EQ(val, 1);

	/* The JOIN flag turns it on too. */
	ASSERT_EQ(causal_join(self->cfd, 14, 1, 2, CAUSAL_F_RECV_INFO), 0);
	ASSERT_EQ(getsockopt(self->cfd, SOL_CAUSAL, CAUSAL_RECV_INFO, &val, &len), 0);
	EXPECT_EQ(val, 1);
}

TEST_F(pair, vclock_after_join)
{
	__u64 vclock[5];
	socklen_t len = sizeof(vclock);

	memset(vclock, 0xff, sizeof(vclock));
	ASSERT_EQ(causal_join(self->fd, 15, 2, 5, 0), 0);
	ASSERT_EQ(getsockopt(self->fd, SOL_CAUSAL, CAUSAL_VCLOCK, vclock, &len), 0);
	EXPECT_EQ(len, sizeof(vclock));
	for (int i = 0; i < 5; i++)
		EXPECT_EQ(vclock[i], 0);
	len = sizeof(vclock) - 1;
	EXPECT_EQ(getsockopt(self->fd, SOL_CAUSAL, CAUSAL_VCLOCK, vclock, &len), -1);
	EXPECT_EQ(errno, EINVAL);
}

TEST_F(pair, disconnect_refused)
{
	struct sockaddr sa = { .sa_family = AF_UNSPEC };

	EXPECT_EQ(connect(self->fd, &sa, sizeof(sa)), -1);
	EXPECT_EQ(errno, EOPNOTSUPP);
}

TEST_F(pair, close_releases_module)
{
	long before = causal_module_refcnt(_metadata);
	int a, b;

	tcp_pair(_metadata, variant->family, &a, &b);
	ASSERT_EQ(causal_attach(a), 0);
	ASSERT_EQ(causal_attach(b), 0);
	ASSERT_EQ(causal_join(a, 16, 0, 2, 0), 0);
	ASSERT_EQ(causal_join(b, 16, 1, 2, 0), 0);
	EXPECT_EQ(causal_module_refcnt(_metadata), before + 2);
	close(a);
	close(b);
	EXPECT_TRUE(causal_wait_refcnt(_metadata, before, 3000));
}

/* Without the ULP the option level is unknown to TCP. */
TEST(plain_tcp_has_no_causal_level)
{
	struct causal_join join = { .group = 1, .node = 0, .nodes = 2 };
	int fd, cfd;

	tcp_pair(_metadata, AF_INET, &fd, &cfd);
	EXPECT_EQ(setsockopt(fd, SOL_CAUSAL, CAUSAL_JOIN, &join, sizeof(join)), -1);
	EXPECT_EQ(errno, ENOPROTOOPT);
	close(fd);
	close(cfd);
}

TEST(refused_on_listening_socket)
{
	struct sockaddr_in addr = { .sin_family = AF_INET,
				    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd;

	causal_require_module(_metadata);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	ASSERT_EQ(listen(fd, 1), 0);
	EXPECT_EQ(causal_attach(fd), -1);
	EXPECT_EQ(errno, ENOTCONN);
	close(fd);
}

TEST(refused_on_unconnected_socket)
{
	struct sockaddr_in addr = { .sin_family = AF_INET,
				    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd;

	causal_require_module(_metadata);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	ASSERT_GE(fd, 0);
	EXPECT_EQ(causal_attach(fd), -1);
	EXPECT_EQ(errno, ENOTCONN);
	ASSERT_EQ(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	EXPECT_EQ(causal_attach(fd), -1);
	EXPECT_EQ(errno, ENOTCONN);
	close(fd);
}

TEST(refused_after_peer_closed)
{
	char c;
	int fd, cfd;

	causal_require_module(_metadata);
	tcp_pair(_metadata, AF_INET, &fd, &cfd);
	close(cfd);
	/* Wait for the FIN: the socket leaves ESTABLISHED. */
	ASSERT_EQ(recv(fd, &c, 1, 0), 0);
	EXPECT_EQ(causal_attach(fd), -1);
	EXPECT_EQ(errno, ENOTCONN);
	close(fd);
}

/* Run @fn in a child as an unprivileged uid and return its exit status. */
static int run_as_nobody(int (*fn)(void *), void *arg)
{
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		if (setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534))
			_exit(100);
		_exit(fn(arg));
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

static int join_as_nobody(void *arg)
{
	int fd, cfd;

	if (cu_tcp_pair(AF_INET, false, &fd, &cfd) || causal_attach(fd))
		return 101;
	if (causal_join(fd, *(__u32 *)arg, 0, 2, 0) == 0)
		return 0;
	return errno == EPERM ? 1 : 102;
}

TEST(join_other_owner)
{
	__u32 group = 21;
	int fd, cfd;

	causal_require_module(_metadata);
	tcp_pair(_metadata, AF_INET, &fd, &cfd);
	ASSERT_EQ(causal_attach(fd), 0);
	ASSERT_EQ(causal_join(fd, group, 0, 2, 0), 0);
	/* Root owns (21, 0): an unprivileged user may not join it... */
	EXPECT_EQ(run_as_nobody(join_as_nobody, &group), 1);
	/* ...but may create its own endpoint. */
	group = 22;
	EXPECT_EQ(run_as_nobody(join_as_nobody, &group), 0);
	close(fd);
	close(cfd);
}

static int join_in_new_netns(void *arg)
{
	int fd, cfd;

	if (unshare(CLONE_NEWNET))
		return 101;
	if (system("ip link set lo up"))
		return 102;
	if (cu_tcp_pair(AF_INET, false, &fd, &cfd) || causal_attach(fd))
		return 103;
	/* Another group size than the endpoint in the parent's netns. */
	return causal_join(fd, *(__u32 *)arg, 0, 5, 0) ? 1 : 0;
}

TEST(netns_scoping)
{
	__u32 group = 23;
	int fd, cfd, status;
	pid_t pid;

	causal_require_module(_metadata);
	tcp_pair(_metadata, AF_INET, &fd, &cfd);
	ASSERT_EQ(causal_attach(fd), 0);
	ASSERT_EQ(causal_join(fd, group, 0, 3, 0), 0);
	pid = fork();
	if (pid == 0)
		_exit(join_in_new_netns(&group));
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(WEXITSTATUS(status), 0);
	close(fd);
	close(cfd);
}

TEST(rmmod_refused_while_in_use)
{
	int fd, cfd;

	causal_require_module(_metadata);
	tcp_pair(_metadata, AF_INET, &fd, &cfd);
	ASSERT_EQ(causal_attach(fd), 0);
	EXPECT_EQ(syscall(SYS_delete_module, "causal", O_NONBLOCK), -1);
	EXPECT_TRUE(errno == EWOULDBLOCK || errno == EBUSY) TH_LOG("errno %d", errno);
	close(fd);
	close(cfd);
}

TEST_HARNESS_MAIN
