/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * Causal delivery over TCP: the user API of the "causal" TCP ULP.
 *
 * Enable on an established TCP socket, then join an endpoint:
 *
 *	setsockopt(fd, SOL_TCP, TCP_ULP, "causal", sizeof("causal"));
 *	setsockopt(fd, SOL_CAUSAL, CAUSAL_JOIN, &join, sizeof(join));
 *
 * The numeric values below are part of the ABI and never change.
 */
#ifndef _UAPI_LINUX_CAUSAL_H
#define _UAPI_LINUX_CAUSAL_H

#include <linux/const.h>
#include <linux/types.h>

#define CAUSAL_ULP_NAME		"causal"

/* Socket option level; chosen outside the range the kernel assigns to SOL_*. */
#define SOL_CAUSAL		0x4341

/* Most members in a group; node ids are 0 .. nodes - 1. */
#define CAUSAL_MAX_NODES	64

/* Socket options at level SOL_CAUSAL. */

/* set: struct causal_join. Attach this socket to the endpoint (group, node),
 * creating the endpoint if this is its first socket.
 */
#define CAUSAL_JOIN		1
/* get/set: __u64 bitmask of the nodes this endpoint exchanges messages with.
 * Default: every other node of the group.
 */
#define CAUSAL_PEERS		2
/* get/set: __u32 milliseconds. 0 (default) holds a blocked message forever;
 * otherwise a message still blocked after this long is delivered, flagged
 * CAUSAL_MSG_GAP.
 */
#define CAUSAL_HOLD_TIMEOUT	3
/* get/set: int, boolean. When on, every message received on this socket
 * carries a SOL_CAUSAL/CAUSAL_CMSG_INFO control message.
 */
#define CAUSAL_RECV_INFO	4
/* get: struct causal_info for this socket's channel and its endpoint. */
#define CAUSAL_INFO		5
/* get: the endpoint's vector clock, nodes x __u64. */
#define CAUSAL_VCLOCK		6
/* get/set: int, boolean. When on, one read returns as many whole
 * deliverable messages as fit in the buffer, each as a struct causal_rec
 * followed by its payload, the next record CAUSAL_REC_ALIGN-aligned.
 */
#define CAUSAL_RECV_BATCH	7

/* causal_join.flags */
#define CAUSAL_F_BROADCAST	_BITUL(0) /* every send goes to every channel */
#define CAUSAL_F_MERGED_RECV	_BITUL(1) /* one delivery queue per endpoint */
#define CAUSAL_F_RECV_INFO	_BITUL(2) /* same as CAUSAL_RECV_INFO = 1 */

struct causal_join {
	__u32	group;		/* group id, non-zero, scoped to the netns */
	__u16	node;		/* this endpoint's node id, < nodes */
	__u16	nodes;		/* group size, 1 .. CAUSAL_MAX_NODES */
	__u32	flags;		/* CAUSAL_F_* */
	__u32	reserved;	/* must be zero */
};

/* Control message types at level SOL_CAUSAL. */

/* sendmsg: no payload. Send this message to every channel of the endpoint
 * as one send event.
 */
#define CAUSAL_CMSG_BROADCAST	1
/* recvmsg: struct causal_msg_info followed by the message's vector clock. */
#define CAUSAL_CMSG_INFO	2

/* causal_msg_info.flags */
#define CAUSAL_MSG_GAP		_BITUL(0) /* delivered by CAUSAL_HOLD_TIMEOUT
					   * before all its causes
					   */

struct causal_msg_info {
	__u16	sender;		/* node that sent the message */
	__u16	nodes;		/* entries in vclock[] */
	__u32	flags;		/* CAUSAL_MSG_* */
	__u64	stamp;		/* sender's own entry of the message's clock */
	__u64	index;		/* endpoint-wide delivery index, from 1 */
	__u64	held_ns;	/* time from arrival to deliverable */
	__u64	vclock[];	/* the message's vector clock */
};

/* A message in a CAUSAL_RECV_BATCH read: this header, len payload bytes,
 * then zero padding up to the next record. The first record starts at the
 * buffer's start; a read returns the end of its last record's payload.
 */
struct causal_rec {
	__u32	len;		/* payload bytes that follow */
	__u16	sender;		/* node that sent the message */
	__u16	flags;		/* CAUSAL_MSG_* */
	__u64	stamp;		/* sender's own entry of the message's clock */
};

#define CAUSAL_REC_ALIGN	8
#define CAUSAL_REC_SIZE(len)	\
	(((__u32)sizeof(struct causal_rec) + (len) + CAUSAL_REC_ALIGN - 1) & \
	 ~(__u32)(CAUSAL_REC_ALIGN - 1))
#define CAUSAL_REC_DATA(rec)	((void *)((struct causal_rec *)(rec) + 1))
/* The record after @rec; past the end of the read once it reaches the
 * returned length.
 */
static __inline__ struct causal_rec *causal_rec_next(const void *rec)
{
	const struct causal_rec *r = (const struct causal_rec *)rec;

	return (struct causal_rec *)((char *)rec + CAUSAL_REC_SIZE(r->len));
}

#define CAUSAL_REC_NEXT(rec)	causal_rec_next(rec)

/* Value of causal_info.peer before the peer's HELLO arrived. */
#define CAUSAL_PEER_NONE	0xffff

/* causal_info.state */
enum {
	CAUSAL_CH_JOINED = 1,	/* HELLO sent, waiting for the peer's */
	CAUSAL_CH_ACTIVE,	/* HELLOs exchanged, messages flow */
	CAUSAL_CH_LEFT,		/* the peer sent BYE */
	CAUSAL_CH_BROKEN,	/* the connection failed without BYE */
	CAUSAL_CH_FAILED,	/* protocol error; the channel is unusable */
};

struct causal_info {
	__u32	group;
	__u16	node;
	__u16	nodes;
	__u16	peer;		/* peer node, or CAUSAL_PEER_NONE */
	__u16	state;		/* CAUSAL_CH_* */
	__u32	flags;		/* the endpoint's CAUSAL_F_* flags */
	/* this channel */
	__u64	sent;		/* DATA frames sent */
	__u64	delivered;	/* messages from this peer delivered */
	__u64	held_now;	/* messages from this peer waiting */
	__u64	held_total;	/* messages from this peer that had to wait */
	__u64	gaps;		/* delivered by the hold timeout */
	__u64	proto_errors;	/* malformed or unexpected frames */
	__u64	holdback_bytes;	/* memory charged for waiting messages */
	__u64	watermark;	/* highest stamp the peer announced */
	/* the whole endpoint */
	__u64	ep_sent;	/* send events */
	__u64	ep_delivered;	/* messages delivered */
	__u64	ep_held_now;
	__u64	ep_gaps;
	/* Fields are only ever added here: a shorter buffer gets the first
	 * optlen bytes, and optlen is set to what was copied.
	 */
	__u32	last_error;	/* the peer's last protocol error, a
				 * CAUSAL_ERR_* of docs/wire.md, 0: none
				 */
	__u32	tx_queued;	/* bytes queued for the peer, not yet in TCP */
	/* received messages that could not stay in TCP's queue */
	__u64	moved;		/* moved out of TCP into hold-back memory,
				 * so that the stream behind could be read
				 */
	__u64	copied_frames;	/* assembled outside TCP: TCP could not
				 * hold them whole
				 */
	__u64	clocks_sent;	/* CLOCK frames written to the peer */
};

/* sock_diag (ss -ti): with INET_DIAG_INFO requested by a CAP_NET_ADMIN
 * caller, INET_DIAG_ULP_INFO carries INET_ULP_INFO_NAME "causal" and this
 * nest of CAUSAL_DIAG_* attributes. The number is far above the kernel's
 * own INET_ULP_INFO_* values.
 */
#define CAUSAL_INET_ULP_INFO	0x3ca5

enum {
	CAUSAL_DIAG_UNSPEC,
	CAUSAL_DIAG_GROUP,	/* u32 */
	CAUSAL_DIAG_NODE,	/* u16 */
	CAUSAL_DIAG_NODES,	/* u16 */
	CAUSAL_DIAG_PEER,	/* u16, CAUSAL_PEER_NONE before the HELLO */
	CAUSAL_DIAG_STATE,	/* u16, CAUSAL_CH_* */
	CAUSAL_DIAG_HELD,	/* u32, messages waiting in the channel */
	CAUSAL_DIAG_HOLDBACK,	/* u32, bytes they are charged */
	__CAUSAL_DIAG_MAX,
};

#define CAUSAL_DIAG_MAX		(__CAUSAL_DIAG_MAX - 1)

#endif /* _UAPI_LINUX_CAUSAL_H */
