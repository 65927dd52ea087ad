/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Wire protocol of the causal ULP, version 1 (docs/wire.md).
 *
 * A frame is a 16-byte header, the sender's vector clock (nodes x 64 bit)
 * and a payload. All integers are big-endian. Shared by the kernel module
 * and user space (unit tests, analyzer, user-space peers).
 */
#ifndef _CAUSAL_WIRE_H
#define _CAUSAL_WIRE_H

#include "causal_types.h"

#define CAUSAL_WIRE_MAGIC	0x4341534cU	/* "CASL" */
#define CAUSAL_WIRE_VERSION	1
#define CAUSAL_WIRE_HDR_LEN	16
#define CAUSAL_WIRE_HELLO_LEN	16
#define CAUSAL_WIRE_MAX_NODES	64

enum causal_frame_type {
	CAUSAL_FRAME_HELLO = 1,	/* payload: struct causal_wire_hello */
	CAUSAL_FRAME_DATA  = 2,	/* payload: one message */
	CAUSAL_FRAME_CLOCK = 3,	/* no payload: the sender's current clock */
	CAUSAL_FRAME_BYE   = 4,	/* no payload: the sender leaves for good */
};

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

struct causal_wire_hello {
	__be32	group;
	__be32	flags;		/* the endpoint's CAUSAL_F_BROADCAST|MERGED_RECV */
	__be64	incarnation;	/* non-zero, new for every endpoint */
};

/* A decoded header. */
struct causal_frame {
	u8	type;
	u16	flags;
	u16	nodes;
	u16	sender;
	u32	len;
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
	CAUSAL_ERR_VERSION,	/* unsupported protocol version */
	CAUSAL_ERR_TYPE,	/* unknown frame type */
	CAUSAL_ERR_FLAGS,	/* unknown or misplaced header flags */
	CAUSAL_ERR_NODES,	/* group size out of range or not ours */
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

static inline size_t causal_frame_size(u16 nodes, u32 len)
{
	return CAUSAL_WIRE_HDR_LEN + (size_t)nodes * sizeof(__be64) + len;
}

void causal_wire_put_hdr(void *buf, const struct causal_frame *f);
void causal_wire_put_clock(void *buf, const u64 *clock, u16 nodes);
void causal_wire_put_hello(void *buf, const struct causal_hello *h);

/* Decode and check a header on its own. @max_len bounds DATA payloads;
 * HELLO, CLOCK and BYE have fixed lengths.
 */
enum causal_proto_err causal_wire_get_hdr(const void *buf,
					  struct causal_frame *f, u32 max_len);
void causal_wire_get_clock(const void *buf, u64 *clock, u16 nodes);
enum causal_proto_err causal_wire_get_hello(const void *buf,
					    struct causal_hello *h);

#endif /* _CAUSAL_WIRE_H */
