// SPDX-License-Identifier: GPL-2.0
/* Frame encoding and decoding, shared by the kernel and user space. */

#include "causal_wire.h"

#define EM(value, name)		{ value, name },
#define EM_LAST(value, name)	{ value, name }
static const struct {
	enum causal_proto_err value;
	const char *name;
} causal_proto_err_names[] = {
	CAUSAL_PROTO_ERR_NAMES
};

#undef EM
#undef EM_LAST

const char *causal_proto_err_name(enum causal_proto_err err)
{
	size_t i;

	for (i = 0; i < sizeof(causal_proto_err_names) /
			sizeof(causal_proto_err_names[0]); i++)
		if (causal_proto_err_names[i].value == err)
			return causal_proto_err_names[i].name;
	return "unknown";
}

/* The header and HELLO layouts are fixed; memcpy keeps unaligned buffers
 * (a frame in the middle of a stream) safe on every architecture.
 */
void causal_wire_put_hdr(void *buf, const struct causal_frame *f)
{
	struct causal_wire_hdr h = {
		.magic   = cpu_to_be32(CAUSAL_WIRE_MAGIC),
		.version = CAUSAL_WIRE_VERSION,
		.type    = f->type,
		.flags   = cpu_to_be16(f->flags),
		.nodes   = cpu_to_be16(f->nodes),
		.sender  = cpu_to_be16(f->sender),
		.len     = cpu_to_be32(f->len),
	};

	memcpy(buf, &h, sizeof(h));
}

void causal_wire_put_clock(void *buf, const u64 *clock, u16 nodes)
{
	u8 *p = buf;
	__be64 v;
	u16 i;

	for (i = 0; i < nodes; i++) {
		v = cpu_to_be64(clock[i]);
		memcpy(p + i * sizeof(v), &v, sizeof(v));
	}
}

void causal_wire_put_hello(void *buf, const struct causal_hello *h)
{
	struct causal_wire_hello w = {
		.group       = cpu_to_be32(h->group),
		.flags       = cpu_to_be32(h->flags),
		.incarnation = cpu_to_be64(h->incarnation),
	};

	memcpy(buf, &w, sizeof(w));
}

static u32 causal_fixed_len(u8 type)
{
	return type == CAUSAL_FRAME_HELLO ? CAUSAL_WIRE_HELLO_LEN : 0;
}

enum causal_proto_err causal_wire_get_hdr(const void *buf,
					  struct causal_frame *f, u32 max_len)
{
	struct causal_wire_hdr h;

	memcpy(&h, buf, sizeof(h));
	if (be32_to_cpu(h.magic) != CAUSAL_WIRE_MAGIC)
		return CAUSAL_ERR_MAGIC;
	if (h.version != CAUSAL_WIRE_VERSION)
		return CAUSAL_ERR_VERSION;
	if (h.type < CAUSAL_FRAME_HELLO || h.type > CAUSAL_FRAME_BYE)
		return CAUSAL_ERR_TYPE;

	f->type = h.type;
	f->flags = be16_to_cpu(h.flags);
	f->nodes = be16_to_cpu(h.nodes);
	f->sender = be16_to_cpu(h.sender);
	f->len = be32_to_cpu(h.len);

	if ((f->flags & ~CAUSAL_WIRE_F_ALL) ||
	    (f->flags && f->type != CAUSAL_FRAME_DATA))
		return CAUSAL_ERR_FLAGS;
	if (!f->nodes || f->nodes > CAUSAL_WIRE_MAX_NODES)
		return CAUSAL_ERR_NODES;
	if (f->sender >= f->nodes)
		return CAUSAL_ERR_SENDER;
	if (f->type == CAUSAL_FRAME_DATA ? f->len > max_len :
					   f->len != causal_fixed_len(f->type))
		return CAUSAL_ERR_LENGTH;
	return CAUSAL_ERR_NONE;
}

void causal_wire_get_clock(const void *buf, u64 *clock, u16 nodes)
{
	const u8 *p = buf;
	__be64 v;
	u16 i;

	for (i = 0; i < nodes; i++) {
		memcpy(&v, p + i * sizeof(v), sizeof(v));
		clock[i] = be64_to_cpu(v);
	}
}

enum causal_proto_err causal_wire_get_hello(const void *buf,
					    struct causal_hello *h)
{
	struct causal_wire_hello w;

	memcpy(&w, buf, sizeof(w));
	h->group = be32_to_cpu(w.group);
	h->flags = be32_to_cpu(w.flags);
	h->incarnation = be64_to_cpu(w.incarnation);
	if (!h->incarnation)
		return CAUSAL_ERR_INCARNATION;
	return CAUSAL_ERR_NONE;
}
