/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The few kernel types and helpers the shared code (kmod/lib) uses, so that
 * it compiles unchanged in the kernel and in user space.
 */
#ifndef _CAUSAL_TYPES_H
#define _CAUSAL_TYPES_H

#ifdef __KERNEL__
#include <linux/bitops.h>
#include <linux/errno.h>
#include <linux/string.h>
#include <linux/types.h>
#include <asm/byteorder.h>
#else
#include <endian.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <linux/types.h>

typedef __u8 u8;
typedef __u16 u16;
typedef __u32 u32;
typedef __u64 u64;

#define cpu_to_be16(x)	((__be16)htobe16(x))
#define cpu_to_be32(x)	((__be32)htobe32(x))
#define cpu_to_be64(x)	((__be64)htobe64(x))
#define be16_to_cpu(x)	be16toh((__u16)(x))
#define be32_to_cpu(x)	be32toh((__u32)(x))
#define be64_to_cpu(x)	be64toh((__u64)(x))

static inline unsigned int hweight64(__u64 w)
{
	return __builtin_popcountll(w);
}

/* The position of the highest bit set, from 1; 0 for 0. */
static inline int fls64(__u64 x)
{
	return x ? 64 - __builtin_clzll(x) : 0;
}
#endif

#endif /* _CAUSAL_TYPES_H */
