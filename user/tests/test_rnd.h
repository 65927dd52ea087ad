/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The unit tests' random numbers: xorshift64, seeded by the tests that need
 * a particular sequence, so that a failure replays.
 */
#ifndef _TEST_RND_H
#define _TEST_RND_H

#include <linux/types.h>

static __u64 xs_state = 88172645463325252ULL;

static inline __u64 rnd(void)
{
	__u64 x = xs_state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return xs_state = x;
}

#endif /* _TEST_RND_H */
