/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The unit tests' random numbers: cu_rnd() on one state, seeded by the
 * tests that need a particular sequence, so that a failure replays.
 */
#ifndef _TEST_RND_H
#define _TEST_RND_H

#include "causal_cutil.h"

static __u64 xs_state = 88172645463325252ULL;

static inline __u64 rnd(void)
{
	return cu_rnd(&xs_state);
}

#endif /* _TEST_RND_H */
