/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Common utilities (cu_) that the tools, the benchmark, the demo and the
 * selftests would each write again: number parsing, clocks, messages, a
 * random generator and a loopback TCP pair.
 */
#ifndef _CAUSAL_CUTIL_H
#define _CAUSAL_CUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>
#include <linux/types.h>

/* A whole unsigned number up to @max (decimal, 0x hex or 0 octal), no
 * sign, no trailing characters.
 */
bool cu_parse_u64(const char *s, __u64 max, __u64 *out);

/* @clk now, in nanoseconds. */
__u64 cu_clock_ns(clockid_t clk);

static inline __u64 cu_mono_ns(void)
{
	return cu_clock_ns(CLOCK_MONOTONIC);
}

/* "program: message\n" on stderr; cu_die() then exits with status 1. */
void cu_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void cu_die(const char *fmt, ...)
	__attribute__((noreturn, format(printf, 1, 2)));

/* xorshift64 (13, 7, 17): a fast sequence that replays from its nonzero
 * @state.
 */
static inline __u64 cu_rnd(__u64 *state)
{
	__u64 x = *state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *state = x;
}

/* A connected loopback pair of @family (AF_INET or AF_INET6): *client and
 * the accepted *server, TCP_NODELAY on both when asked. 0, or -errno with
 * errno set.
 */
int cu_tcp_pair(int family, bool nodelay, int *client, int *server);

#endif /* _CAUSAL_CUTIL_H */
