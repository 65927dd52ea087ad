// SPDX-License-Identifier: GPL-2.0
/*
 * One node of the demo scene, run in its own network namespace by
 * tools/demo/run.sh. A (node 0) posts clips to B and C; B (node 1) comments
 * on each clip to C as soon as it has read it; C (node 2) prints what it
 * receives, when, and for how long the module held it. With --mode tcp the
 * same scene runs over plain TCP with length-prefixed messages.
 *
 * usage: demo_node --mode tcp|ulp --node 0|1|2
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <linux/causal.h>

#define PORT	7200
#define GROUP	42
#define ROUNDS	3

static const char *const clips[ROUNDS] = {
	"Tokyo clip", "Lisbon recap", "Oslo teaser",
};
static const char *const names = "ABC";
static bool ulp;

static void die(const char *what)
{
	fprintf(stderr, "demo_node: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* Node i's address on its link to j: 10.98.<link>.<1 for the lower id>. */
static void link_addr(int i, int j, struct sockaddr_in *sa)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "10.98.%d.%d", i < j ? i * 3 + j : j * 3 + i,
		 i < j ? 1 : 2);
	sa->sin_family = AF_INET;
	sa->sin_port = htons(PORT);
	inet_pton(AF_INET, buf, &sa->sin_addr);
}

static void setup(int fd, int me)
{
	struct causal_join join = { .group = GROUP, .node = me, .nodes = 3,
				    .flags = CAUSAL_F_RECV_INFO };
	int one = 1;

	setsockopt(fd, SOL_TCP, TCP_NODELAY, &one, sizeof(one));
	if (!ulp)
		return;
	if (setsockopt(fd, SOL_TCP, TCP_ULP, "causal", sizeof("causal")))
		die("TCP_ULP causal (is the module loaded?)");
	if (setsockopt(fd, SOL_CAUSAL, CAUSAL_JOIN, &join, sizeof(join)))
		die("CAUSAL_JOIN");
}

/* Connect to every higher node, accept every lower one; fd[j] is node j. */
static void connect_all(int me, int *fd)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(PORT) };
	int lfd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) || listen(lfd, 4))
		die("listen");
	for (int j = me + 1; j < 3; j++) {
		link_addr(j, me, &sa);
		for (int tries = 0; ; tries++) {
			fd[j] = socket(AF_INET, SOCK_STREAM, 0);
			if (!connect(fd[j], (struct sockaddr *)&sa, sizeof(sa)))
				break;
			close(fd[j]);
			if (tries > 300)
				die("connect");
			usleep(10000);
		}
	}
	for (int n = 0; n < me; n++) {
		struct sockaddr_in peer;
		socklen_t len = sizeof(peer);
		int c = accept(lfd, (struct sockaddr *)&peer, &len);
		int l = (ntohl(peer.sin_addr.s_addr) >> 8) & 0xff;

		if (c < 0)
			die("accept");
		fd[l / 3 == me ? l % 3 : l / 3] = c;
	}
	close(lfd);
	for (int j = 0; j < 3; j++)
		if (j != me)
			setup(fd[j], me);
}

static void send_msg(int fd, const char *text)
{
	uint32_t len = strlen(text), be = htonl(len);
	char buf[256];

	if (ulp) {
		if (send(fd, text, len, 0) != (ssize_t)len)
			die("send");
		return;
	}
	memcpy(buf, &be, 4);
	memcpy(buf + 4, text, len);
	if (send(fd, buf, len + 4, 0) != (ssize_t)len + 4)
		die("send");
}

/* A's post to B and C. With the ULP it is one send event (a broadcast), so
 * that both copies carry the same stamp: two unicasts would be two events,
 * and a comment on the first would not depend on the second.
 */
static void post(int *fd, const char *text)
{
	char cbuf[CMSG_SPACE(0)] = {};
	struct iovec iov = { .iov_base = (void *)text, .iov_len = strlen(text) };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);

	if (!ulp) {
		send_msg(fd[1], text);
		send_msg(fd[2], text);
		return;
	}
	cmsg->cmsg_level = SOL_CAUSAL;
	cmsg->cmsg_type = CAUSAL_CMSG_BROADCAST;
	cmsg->cmsg_len = CMSG_LEN(0);
	if (sendmsg(fd[1], &msg, 0) != (ssize_t)iov.iov_len)
		die("sendmsg broadcast");
}

static int read_full(int fd, char *buf, size_t len)
{
	while (len) {
		ssize_t n = recv(fd, buf, len, 0);

		if (n <= 0)
			return -1;
		buf += n;
		len -= n;
	}
	return 0;
}

/* One message from @fd into @buf; *held_ns from the module's cmsg. */
static int recv_msg(int fd, char *buf, size_t size, uint64_t *held_ns)
{
	char cbuf[CMSG_SPACE(sizeof(struct causal_msg_info) + 3 * 8)];
	struct iovec iov = { .iov_base = buf, .iov_len = size - 1 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *cmsg;
	uint32_t be;
	ssize_t n;

	*held_ns = 0;
	if (!ulp) {
		if (read_full(fd, (char *)&be, 4) || ntohl(be) >= size ||
		    read_full(fd, buf, ntohl(be)))
			return -1;
		buf[ntohl(be)] = 0;
		return 0;
	}
	n = recvmsg(fd, &msg, 0);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	cmsg = CMSG_FIRSTHDR(&msg);
	if (cmsg && cmsg->cmsg_level == SOL_CAUSAL &&
	    cmsg->cmsg_type == CAUSAL_CMSG_INFO)
		*held_ns = ((struct causal_msg_info *)CMSG_DATA(cmsg))->held_ns;
	return 0;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ULL + ts.tv_nsec / 1000000;
}

static void show_proc(void)
{
	FILE *f = fopen("/proc/net/causal", "r");
	char line[512];

	if (!f)
		die("/proc/net/causal");
	printf("-- /proc/net/causal on C while B's comment waits --\n");
	while (fgets(line, sizeof(line), f))
		printf("   %s", line);
	printf("--\n");
	fclose(f);
}

/* C: print each message as it is delivered; show the module's view of the
 * first held message.
 */
static void run_c(int *fd)
{
	struct pollfd p[2] = { { .fd = fd[0], .events = POLLIN },
			       { .fd = fd[1], .events = POLLIN } };
	uint64_t start = 0, held_ns;
	bool shown = false;
	char buf[256];

	for (int got = 0; got < 2 * ROUNDS;) {
		if (poll(p, 2, 20) < 0)
			die("poll");
		if (ulp && !shown) {
			struct causal_info info;
			socklen_t len = sizeof(info);

			if (!getsockopt(fd[1], SOL_CAUSAL, CAUSAL_INFO, &info, &len) &&
			    info.held_now) {
				show_proc();
				shown = true;
			}
		}
		for (int k = 0; k < 2; k++) {
			if (!(p[k].revents & POLLIN))
				continue;
			if (recv_msg(fd[k], buf, sizeof(buf), &held_ns))
				die("recv");
			if (!start)
				start = now_ms();
			printf("%2d. +%4llu ms  from %c: %-34s", ++got,
			       (unsigned long long)(now_ms() - start), names[k], buf);
			if (held_ns >= 1000000)
				printf(" held %llu ms",
				       (unsigned long long)held_ns / 1000000);
			printf("\n");
			fflush(stdout);
		}
	}
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "mode", required_argument, NULL, 'm' },
		{ "node", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	int fd[3] = { -1, -1, -1 }, me = -1, c;
	uint64_t held;
	char buf[200], comment[256];

	while ((c = getopt_long(argc, argv, "m:n:h", opts, NULL)) != -1) {
		switch (c) {
		case 'm':
			ulp = !strcmp(optarg, "ulp");
			break;
		case 'n':
			me = atoi(optarg);
			break;
		default:
			fprintf(stderr, "usage: demo_node --mode tcp|ulp --node 0|1|2\n");
			return c == 'h' ? 0 : 2;
		}
	}
	if (me < 0 || me > 2)
		return 2;
	connect_all(me, fd);

	switch (me) {
	case 0:
		/* C joins only once the slow link's handshake is done. */
		sleep(1);
		for (int r = 0; r < ROUNDS; r++) {
			post(fd, clips[r]);
			sleep(1);
		}
		break;
	case 1:
		for (int r = 0; r < ROUNDS; r++) {
			if (recv_msg(fd[0], buf, sizeof(buf), &held))
				die("recv");
			snprintf(comment, sizeof(comment), "B comments on the %s", buf);
			send_msg(fd[2], comment);
		}
		break;
	case 2:
		run_c(fd);
		break;
	}
	/* Let the last frames drain before the sockets go. */
	sleep(1);
	return 0;
}
