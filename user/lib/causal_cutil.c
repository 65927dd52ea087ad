// SPDX-License-Identifier: GPL-2.0
/* The helpers of causal_cutil.h. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "causal_cutil.h"

bool cu_parse_u64(const char *s, __u64 max, __u64 *out)
{
	unsigned long long v;
	char *end;

	if (!*s || *s == '-' || *s == '+' || *s == ' ')
		return false;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || *end || v > max)
		return false;
	*out = v;
	return true;
}

__u64 cu_clock_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static void vmsg(const char *fmt, va_list ap)
{
	fprintf(stderr, "%s: ", program_invocation_short_name);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void cu_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
}

void cu_die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
	exit(1);
}

int cu_tcp_pair(int family, bool nodelay, int *client, int *server)
{
	struct sockaddr_storage ss = { .ss_family = family };
	socklen_t len = family == AF_INET6 ? sizeof(struct sockaddr_in6) :
					     sizeof(struct sockaddr_in);
	int lfd, err, one = 1;

	if (family == AF_INET6)
		((struct sockaddr_in6 *)&ss)->sin6_addr = in6addr_loopback;
	else
		((struct sockaddr_in *)&ss)->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(family, SOCK_STREAM, 0);
	if (lfd < 0)
		return -errno;
	*client = *server = -1;
	if (bind(lfd, (struct sockaddr *)&ss, len) || listen(lfd, 8) ||
	    getsockname(lfd, (struct sockaddr *)&ss, &len))
		goto err_close;
	*client = socket(family, SOCK_STREAM, 0);
	if (*client < 0 || connect(*client, (struct sockaddr *)&ss, len))
		goto err_close;
	*server = accept(lfd, NULL, NULL);
	if (*server < 0)
		goto err_close;
	if (nodelay &&
	    (setsockopt(*client, SOL_TCP, TCP_NODELAY, &one, sizeof(one)) ||
	     setsockopt(*server, SOL_TCP, TCP_NODELAY, &one, sizeof(one))))
		goto err_close;
	close(lfd);
	return 0;

err_close:
	err = -errno;
	if (*server >= 0)
		close(*server);
	if (*client >= 0)
		close(*client);
	*client = *server = -1;
	close(lfd);
	errno = -err;
	return err;
}
