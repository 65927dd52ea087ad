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
	bool delta = causal_frame_delta(f);
	struct causal_wire_hdr2 h = {
		.h = {
			.magic   = cpu_to_be32(CAUSAL_WIRE_MAGIC),
			.version = delta ? CAUSAL_WIRE_VERSION_DELTA :
					   CAUSAL_WIRE_VERSION,
			.type    = f->type,
			.flags   = cpu_to_be16(f->flags),
			.nodes   = cpu_to_be16(f->nodes),
			.sender  = cpu_to_be16(f->sender),
			.len     = cpu_to_be32(f->len),
		},
		.present = cpu_to_be64(f->present),
	};

	memcpy(buf, &h, delta ? CAUSAL_WIRE_HDR_MAX : CAUSAL_WIRE_HDR_LEN);
}

void causal_wire_choose(struct causal_frame *f, u64 changed)
{
	u64 all = causal_wire_all(f->nodes);

	changed &= all;
	/* Eight bytes of mask against eight per entry left out. */
	if (hweight64(changed) + 1 < f->nodes) {
		f->version = CAUSAL_WIRE_VERSION_DELTA;
		f->present = changed;
	} else {
		f->version = CAUSAL_WIRE_VERSION;
		f->present = all;
	}
}

u32 causal_wire_put_head(void *buf, const struct causal_frame *f,
			 const u64 *clock)
{
	bool delta = causal_frame_delta(f);
	u8 *p = (u8 *)buf + (delta ? CAUSAL_WIRE_HDR_MAX : CAUSAL_WIRE_HDR_LEN);
	u64 left = delta ? f->present : causal_wire_all(f->nodes);
	__be64 v;

	causal_wire_put_hdr(buf, f);
	while (left) {
		v = cpu_to_be64(clock[__builtin_ctzll(left)]);
		memcpy(p, &v, sizeof(v));
		p += sizeof(v);
		left &= left - 1;
	}
	return p - (u8 *)buf;
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
	struct causal_wire_hdr2 h;

	memcpy(&h, buf, causal_wire_hdr_len(buf));
	if (be32_to_cpu(h.h.magic) != CAUSAL_WIRE_MAGIC)
		return CAUSAL_ERR_MAGIC;
	if (h.h.version != CAUSAL_WIRE_VERSION &&
	    h.h.version != CAUSAL_WIRE_VERSION_DELTA)
		return CAUSAL_ERR_VERSION;
	if (h.h.type < CAUSAL_FRAME_HELLO || h.h.type > CAUSAL_FRAME_BYE)
		return CAUSAL_ERR_TYPE;
	/* A HELLO opens the channel: nothing came before it to change. */
	if (h.h.version == CAUSAL_WIRE_VERSION_DELTA &&
	    h.h.type == CAUSAL_FRAME_HELLO)
		return CAUSAL_ERR_VERSION;

	f->version = h.h.version;
	f->type = h.h.type;
	f->flags = be16_to_cpu(h.h.flags);
	f->nodes = be16_to_cpu(h.h.nodes);
	f->sender = be16_to_cpu(h.h.sender);
	f->len = be32_to_cpu(h.h.len);

	if ((f->flags & ~CAUSAL_WIRE_F_ALL) ||
	    (f->flags && f->type != CAUSAL_FRAME_DATA))
		return CAUSAL_ERR_FLAGS;
	if (!f->nodes || f->nodes > CAUSAL_WIRE_MAX_NODES)
		return CAUSAL_ERR_NODES;
	f->present = f->version == CAUSAL_WIRE_VERSION ?
		     causal_wire_all(f->nodes) : be64_to_cpu(h.present);
	if (f->present & ~causal_wire_all(f->nodes))
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

void causal_wire_get_entries(const void *buf, u64 *clock, u64 present)
{
	const u8 *p = buf;
	__be64 v;

	while (present) {
		memcpy(&v, p, sizeof(v));
		clock[__builtin_ctzll(present)] = be64_to_cpu(v);
		p += sizeof(v);
		present &= present - 1;
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
