/* SPDX-License-Identifier: GPL-2.0 */
/*
 * TCP_INFO fields newer than glibc's struct tcp_info, for the tests and the
 * benchmark: <linux/tcp.h> has them but cannot be included beside
 * <netinet/tcp.h>.
 */
#ifndef CAUSAL_TCPINFO_H
#define CAUSAL_TCPINFO_H

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

/* struct tcp_info as Linux has had it since 4.2; glibc's stops at
 * tcpi_total_retrans.
 */
struct tcp_info_linux {
	struct tcp_info glibc;
	uint64_t pacing_rate, max_pacing_rate, bytes_acked, bytes_received;
	uint32_t segs_out, segs_in;
};

static inline int tcp_info_linux(int fd, struct tcp_info_linux *ti)
{
	socklen_t len = sizeof(*ti);

	memset(ti, 0, sizeof(*ti));
	if (getsockopt(fd, SOL_TCP, TCP_INFO, ti, &len) ||
	    len < offsetof(struct tcp_info_linux, segs_in))
		return -1;
	return 0;
}

/* Bytes of @fd's stream the peer acknowledged so far, or 0 if TCP cannot
 * say.
 */
static inline uint64_t tcp_bytes_acked(int fd)
{
	struct tcp_info_linux ti;

	return tcp_info_linux(fd, &ti) ? 0 : ti.bytes_acked;
}

/* Segments TCP sent on @fd so far, or 0 if it cannot say. */
static inline uint32_t tcp_segs_out(int fd)
{
	struct tcp_info_linux ti;

	return tcp_info_linux(fd, &ti) ? 0 : ti.segs_out;
}

#endif /* CAUSAL_TCPINFO_H */
