/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Wire protocol of the causal ULP, versions 1 and 2 (docs/wire.md).
 *
 * A frame is a header, the sender's vector clock and a payload. Version 1
 * carries the whole clock (nodes x 64 bit) behind a 16-byte header; version
 * 2 adds to the header a mask of the entries that follow, those that
 * changed since the sender's previous frame on the channel (Singhal and
 * Kshemkalyani), and is sent only to a peer whose HELLO said it reads it.
 * All integers are big-endian. Shared by the kernel module and user space
 * (unit tests, analyzer, user-space peers).
 */
#ifndef _CAUSAL_WIRE_H
#define _CAUSAL_WIRE_H

#include "causal_types.h"

#define CAUSAL_WIRE_MAGIC	0x4341534cU	/* "CASL" */
#define CAUSAL_WIRE_VERSION	1	/* the whole clock */
#define CAUSAL_WIRE_VERSION_DELTA 2	/* the entries that changed */
#define CAUSAL_WIRE_HDR_LEN	16
#define CAUSAL_WIRE_HDR_MAX	24	/* version 2: and the entry mask */
#define CAUSAL_WIRE_HELLO_LEN	16
#define CAUSAL_WIRE_MAX_NODES	64

enum causal_frame_type {
	CAUSAL_FRAME_HELLO = 1,	/* payload: struct causal_wire_hello */
	CAUSAL_FRAME_DATA  = 2,	/* payload: one message */
	CAUSAL_FRAME_CLOCK = 3,	/* no payload: the sender's current clock */
	CAUSAL_FRAME_BYE   = 4,	/* no payload: the sender leaves for good */
};

/* HELLO flag: the sender reads version 2 frames. The other HELLO flags are
 * the endpoint's CAUSAL_F_*.
 */
#define CAUSAL_WIRE_HELLO_F_DELTA	0x80000000U

/* Header flags. DATA sent to every channel as one send event. */
#define CAUSAL_WIRE_F_BROADCAST	0x0001
#define CAUSAL_WIRE_F_ALL	CAUSAL_WIRE_F_BROADCAST

struct causal_wire_hdr {
	__be32	magic;
	__u8	version;
	__u8	type;
	__be16	flags;
	__be16	nodes;		/* group size, entries in the clock */
	__be16	sender;		/* sending node */
	__be32	len;		/* payload bytes after the clock */
};

/* Version 2: the entries of the clock that follow, bit k for node k, in
 * order of k.
 */
struct causal_wire_hdr2 {
	struct causal_wire_hdr	h;
	__be64	present;
};

struct causal_wire_hello {
	__be32	group;
	__be32	flags;		/* the endpoint's CAUSAL_F_BROADCAST|MERGED_RECV */
	__be64	incarnation;	/* non-zero, new for every endpoint */
};

/* A decoded header. A frame built with a version other than
 * CAUSAL_WIRE_VERSION_DELTA (0 too) is version 1, of the whole clock.
 */
struct causal_frame {
	u8	version;
	u8	type;
	u16	flags;
	u16	nodes;
	u16	sender;
	u32	len;
	u64	present;	/* version 2: clock entries in the frame
				 * (decoded version 1: all of them)
				 */
};

struct causal_hello {
	u32	group;
	u32	flags;
	u64	incarnation;
};

/* Why a peer's frame was refused; the channel fails with EPROTO (EPERM for
 * CAUSAL_ERR_PEER, EEXIST for CAUSAL_ERR_DUPLICATE).
 */
enum causal_proto_err {
	CAUSAL_ERR_NONE = 0,
	CAUSAL_ERR_MAGIC,	/* not a causal frame: wrong magic */
	CAUSAL_ERR_VERSION,	/* unsupported protocol version, or a HELLO
				 * of version 2
				 */
	CAUSAL_ERR_TYPE,	/* unknown frame type */
	CAUSAL_ERR_FLAGS,	/* unknown or misplaced header flags */
	CAUSAL_ERR_NODES,	/* group size out of range or not ours, or
				 * a clock entry past it
				 */
	CAUSAL_ERR_SENDER,	/* sender out of range, ourselves, or not
				 * the channel's peer
				 */
	CAUSAL_ERR_LENGTH,	/* payload length wrong for the type or over
				 * the size limit
				 */
	CAUSAL_ERR_GROUP,	/* HELLO for another group */
	CAUSAL_ERR_SEQUENCE,	/* frame before HELLO, second HELLO, frame
				 * after BYE
				 */
	CAUSAL_ERR_INCARNATION,	/* incarnation zero, or a node that left
				 * coming back under the same one
				 */
	CAUSAL_ERR_CLOCK,	/* clock went backwards, or a DATA frame that
				 * is not a new send event
				 */
	CAUSAL_ERR_FUTURE,	/* clock claims messages from us we never sent */
	CAUSAL_ERR_PEER,	/* peer not in CAUSAL_PEERS */
	CAUSAL_ERR_DUPLICATE,	/* a second channel to the same peer */
	CAUSAL_ERR_MAX,
};

/* Each error's name: the one list that /proc, the tools and the trace
 * format (__print_symbolic) print. A user defines EM(value, name) and, for
 * the last entry, EM_LAST.
 */
#define CAUSAL_PROTO_ERR_NAMES					\
	EM(CAUSAL_ERR_NONE,		"none")			\
	EM(CAUSAL_ERR_MAGIC,		"magic")		\
	EM(CAUSAL_ERR_VERSION,		"version")		\
	EM(CAUSAL_ERR_TYPE,		"type")			\
	EM(CAUSAL_ERR_FLAGS,		"flags")		\
	EM(CAUSAL_ERR_NODES,		"nodes")		\
	EM(CAUSAL_ERR_SENDER,		"sender")		\
	EM(CAUSAL_ERR_LENGTH,		"length")		\
	EM(CAUSAL_ERR_GROUP,		"group")		\
	EM(CAUSAL_ERR_SEQUENCE,		"sequence")		\
	EM(CAUSAL_ERR_INCARNATION,	"incarnation")		\
	EM(CAUSAL_ERR_CLOCK,		"clock")		\
	EM(CAUSAL_ERR_FUTURE,		"future")		\
	EM(CAUSAL_ERR_PEER,		"peer")			\
	EM_LAST(CAUSAL_ERR_DUPLICATE,	"duplicate")

const char *causal_proto_err_name(enum causal_proto_err err);

/* Every entry of a clock of @nodes. */
static inline u64 causal_wire_all(u16 nodes)
{
	return nodes >= 64 ? ~0ULL : (1ULL << nodes) - 1;
}

/* Size of a version 1 frame: the largest a frame of @len bytes can be. */
static inline size_t causal_frame_size(u16 nodes, u32 len)
{
	return CAUSAL_WIRE_HDR_LEN + (size_t)nodes * sizeof(__be64) + len;
}

static inline bool causal_frame_delta(const struct causal_frame *f)
{
	return f->version == CAUSAL_WIRE_VERSION_DELTA;
}

/* Header and clock of @f, the offset of its payload. */
static inline u32 causal_frame_head_len(const struct causal_frame *f)
{
	if (!causal_frame_delta(f))
		return CAUSAL_WIRE_HDR_LEN + f->nodes * sizeof(__be64);
	return CAUSAL_WIRE_HDR_MAX + hweight64(f->present) * sizeof(__be64);
}

static inline size_t causal_frame_len(const struct causal_frame *f)
{
	return causal_frame_head_len(f) + (size_t)f->len;
}

/* Length of the header that starts with these CAUSAL_WIRE_HDR_LEN bytes
 * (a version the codec does not know is refused from those).
 */
static inline u32 causal_wire_hdr_len(const void *buf)
{
	return ((const u8 *)buf)[4] == CAUSAL_WIRE_VERSION_DELTA ?
	       CAUSAL_WIRE_HDR_MAX : CAUSAL_WIRE_HDR_LEN;
}

/* The frame for @f as a version 2 frame of the entries in @changed, if
 * that is shorter than the whole clock; else as version 1. Sets
 * f->version and f->present.
 */
void causal_wire_choose(struct causal_frame *f, u64 changed);

void causal_wire_put_hdr(void *buf, const struct causal_frame *f);
void causal_wire_put_clock(void *buf, const u64 *clock, u16 nodes);
/* Header and the entries f->present of @clock; returns their length. */
u32 causal_wire_put_head(void *buf, const struct causal_frame *f,
			 const u64 *clock);
void causal_wire_put_hello(void *buf, const struct causal_hello *h);

/* Decode and check a header of causal_wire_hdr_len() bytes on its own.
 * @max_len bounds DATA payloads; HELLO, CLOCK and BYE have fixed lengths.
 */
enum causal_proto_err causal_wire_get_hdr(const void *buf,
					  struct causal_frame *f, u32 max_len);
void causal_wire_get_clock(const void *buf, u64 *clock, u16 nodes);
/* The clock entries @present at @buf into @clock; the others stay. */
void causal_wire_get_entries(const void *buf, u64 *clock, u64 present);
enum causal_proto_err causal_wire_get_hello(const void *buf,
					    struct causal_hello *h);

#endif /* _CAUSAL_WIRE_H */
