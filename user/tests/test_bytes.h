/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Big-endian reads and writes of the tests' own, so that checks of the wire
 * codec (user/tests/test_wire.c, user/fuzz/fuzz_wire.c) do not reuse it.
 */
#ifndef _TEST_BYTES_H
#define _TEST_BYTES_H

#include <linux/types.h>

static inline void be16_put(__u8 *p, __u16 v)
{
	p[0] = v >> 8;
	p[1] = v;
}

static inline void be32_put(__u8 *p, __u32 v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

static inline void be64_put(__u8 *p, __u64 v)
{
	be32_put(p, v >> 32);
	be32_put(p + 4, (__u32)v);
}

static inline __u16 be16_get(const __u8 *p)
{
	return (__u16)(p[0] << 8 | p[1]);
}

static inline __u32 be32_get(const __u8 *p)
{
	return (__u32)p[0] << 24 | (__u32)p[1] << 16 | (__u32)p[2] << 8 | p[3];
}

static inline __u64 be64_get(const __u8 *p)
{
	return (__u64)be32_get(p) << 32 | be32_get(p + 4);
}

#endif /* _TEST_BYTES_H */
