// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer harness over the frame codec (kmod/lib/causal_wire.c).
 *
 * The first input byte picks the DATA size limit; the rest is a TCP stream
 * read frame by frame as the module's parser does: a header, then, if it
 * passes, its clock and payload, until a header is refused or the stream
 * ends mid-frame. Every header is judged again by a statement of
 * docs/wire.md written here from the raw bytes; the codec must agree on
 * accept/refuse and give a reason that does apply. What it accepts must
 * re-encode to the same bytes, and its frame size must be exact, bounded
 * and larger than the header. Each piece is copied to a heap buffer of its
 * exact size, so that ASan sees any read past it.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "causal_wire.h"
#include "../tests/test_bytes.h"

#define MAX_LEN_KERNEL	(64U << 20)	/* largest max_msg_size the module takes */

static const u32 max_lens[] = {
	0, 1, 15, 16, 17, 65536, 1U << 20, MAX_LEN_KERNEL, UINT32_MAX,
};

__attribute__((noreturn, format(printf, 1, 2)))
static void fail(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "fuzz_wire: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

/* The header as docs/wire.md describes it. */
struct ref_hdr {
	u32 magic;
	u8 version, type;
	u16 flags, nodes, sender;
	u32 len;
	u32 hdr_len;		/* 16, or 24 for version 2 */
	u64 present;		/* version 2: the entries that follow */
};

static void ref_parse(const u8 *b, struct ref_hdr *h)
{
	h->magic = be32_get(b);
	h->version = b[4];
	h->type = b[5];
	h->flags = be16_get(b + 6);
	h->nodes = be16_get(b + 8);
	h->sender = be16_get(b + 10);
	h->len = be32_get(b + 12);
	h->hdr_len = h->version == 2 ? 24 : 16;
	h->present = h->version == 2 ? be64_get(b + 16) : 0;
}

/* Every reason docs/wire.md gives to refuse @h, as a bit mask of
 * enum causal_proto_err; 0 when a receiver must take it.
 */
static u32 ref_violations(const struct ref_hdr *h, u32 max_len)
{
	bool known_type = h->type >= CAUSAL_FRAME_HELLO && h->type <= CAUSAL_FRAME_BYE;
	u32 v = 0;

	if (h->magic != 0x4341534cU)
		v |= 1U << CAUSAL_ERR_MAGIC;
	if ((h->version != 1 && h->version != 2) ||
	    (h->version == 2 && h->type == CAUSAL_FRAME_HELLO))
		v |= 1U << CAUSAL_ERR_VERSION;
	if (!known_type)
		v |= 1U << CAUSAL_ERR_TYPE;
	if ((h->flags & ~0x0001) || (h->flags && h->type != CAUSAL_FRAME_DATA))
		v |= 1U << CAUSAL_ERR_FLAGS;
	if (h->nodes < 1 || h->nodes > 64)
		v |= 1U << CAUSAL_ERR_NODES;
	for (int k = h->nodes; k < 64; k++)
		if (h->present & (1ULL << k))
			v |= 1U << CAUSAL_ERR_NODES;
	if (h->sender >= h->nodes)
		v |= 1U << CAUSAL_ERR_SENDER;
	if ((h->type == CAUSAL_FRAME_DATA && h->len > max_len) ||
	    (h->type == CAUSAL_FRAME_HELLO && h->len != 16) ||
	    ((h->type == CAUSAL_FRAME_CLOCK || h->type == CAUSAL_FRAME_BYE) && h->len))
		v |= 1U << CAUSAL_ERR_LENGTH;
	return v;
}

/* The codec's verdict on the header at @raw (its causal_wire_hdr_len()
 * bytes) against the reference; returns whether the header was accepted,
 * its decoding in *f.
 */
static bool check_hdr(const u8 *raw, u32 max_len, struct causal_frame *f)
{
	u8 *hb, again[CAUSAL_WIRE_HDR_MAX];
	enum causal_proto_err err;
	struct ref_hdr h;
	u64 size, want;
	u32 viol;

	ref_parse(raw, &h);
	if (causal_wire_hdr_len(raw) != h.hdr_len)
		fail("header length %u for version %u", causal_wire_hdr_len(raw),
		     h.version);
	hb = malloc(h.hdr_len);
	if (!hb)
		abort();
	memcpy(hb, raw, h.hdr_len);
	err = causal_wire_get_hdr(hb, f, max_len);
	free(hb);
	viol = ref_violations(&h, max_len);

	if ((unsigned int)err >= CAUSAL_ERR_MAX ||
	    !strcmp(causal_proto_err_name(err), "unknown"))
		fail("get_hdr returned %d, not a reason", err);
	if (viol && !err)
		fail("get_hdr accepted a header the spec refuses (mask 0x%x): type %u flags 0x%x nodes %u sender %u len %u max %u",
		     viol, h.type, h.flags, h.nodes, h.sender, h.len, max_len);
	if (!viol && err)
		fail("get_hdr refused a valid header (%s): type %u flags 0x%x nodes %u sender %u len %u max %u",
		     causal_proto_err_name(err), h.type, h.flags, h.nodes, h.sender, h.len,
		     max_len);
	if (err && !(viol & (1U << err)))
		fail("get_hdr refused for %s, which does not apply (mask 0x%x)",
		     causal_proto_err_name(err), viol);
	if (err)
		return false;

	if (f->type != h.type || f->flags != h.flags || f->nodes != h.nodes ||
	    f->sender != h.sender || f->len != h.len ||
	    f->present != (h.version == 2 ? h.present : causal_wire_all(h.nodes)))
		fail("get_hdr decoded type %u flags 0x%x nodes %u sender %u len %u present 0x%llx, bytes say %u 0x%x %u %u %u 0x%llx",
		     f->type, f->flags, f->nodes, f->sender, f->len,
		     (unsigned long long)f->present, h.type, h.flags, h.nodes,
		     h.sender, h.len, (unsigned long long)h.present);
	causal_wire_put_hdr(again, f);
	if (memcmp(again, raw, h.hdr_len))
		fail("a decoded header does not re-encode to its bytes");

	size = causal_frame_len(f);
	want = h.hdr_len + 8ULL * (h.version == 2 ? (u32)__builtin_popcountll(h.present) :
						    h.nodes) + h.len;
	if (size != want)
		fail("causal_frame_len(version %u, %u nodes, len %u) = %llu, not %llu",
		     f->version, f->nodes, f->len, (unsigned long long)size,
		     (unsigned long long)want);
	/* The parser must move forward and stay within the limit: a peer's
	 * version 2 frame may carry every entry and the mask too (ours never
	 * do, causal_wire_choose()), 8 bytes over causal_frame_size()...
	 */
	if (size < CAUSAL_WIRE_HDR_LEN + 8 ||
	    size > causal_frame_size(f->nodes, max_len > 16 ? max_len : 16) +
		   CAUSAL_WIRE_HDR_MAX - CAUSAL_WIRE_HDR_LEN)
		fail("frame size %llu out of bounds (nodes %u len %u max %u)",
		     (unsigned long long)size, f->nodes, f->len, max_len);
	/* ...and strparser takes it as an int with any limit the module allows. */
	if (max_len <= MAX_LEN_KERNEL && size > INT_MAX)
		fail("frame size %llu does not fit strparser's int", (unsigned long long)size);
	return true;
}

/* Encode arbitrary field values, decode them back. @raw has the room of
 * a version 2 header.
 */
static void check_encode(const u8 *raw, u32 max_len)
{
	struct causal_frame g = {
		.version = raw[4], .type = raw[5], .flags = be16_get(raw + 6),
		.nodes = be16_get(raw + 8), .sender = be16_get(raw + 10),
		.len = be32_get(raw + 12), .present = be64_get(raw + 16),
	};
	bool delta = g.version == CAUSAL_WIRE_VERSION_DELTA;
	u8 b[CAUSAL_WIRE_HDR_MAX];
	struct causal_frame f;

	causal_wire_put_hdr(b, &g);
	if (be32_get(b) != 0x4341534cU || b[4] != (delta ? 2 : 1) ||
	    (delta && be64_get(b + 16) != g.present))
		fail("put_hdr wrote magic 0x%08x version %u", be32_get(b), b[4]);
	if (check_hdr(b, max_len, &f) &&
	    (f.type != g.type || f.flags != g.flags || f.nodes != g.nodes ||
	     f.sender != g.sender || f.len != g.len ||
	     (delta && f.present != g.present)))
		fail("encode/decode changed the header");
}

/* The entries @present of a version 2 frame: each lands in its slot, the
 * others stay, and they re-encode to their bytes.
 */
static void check_entries(const u8 *raw, const struct causal_frame *f)
{
	size_t len = 8 * (size_t)__builtin_popcountll(f->present);
	u8 *cb = malloc(len ? len : 1), again[CAUSAL_WIRE_HDR_MAX + 64 * 8];
	u64 clock[CAUSAL_WIRE_MAX_NODES];
	size_t at = 0;

	if (!cb)
		abort();
	memcpy(cb, raw, len);
	for (int k = 0; k < CAUSAL_WIRE_MAX_NODES; k++)
		clock[k] = 0x5a5a5a5a00000000ULL + k;
	causal_wire_get_entries(cb, clock, f->present);
	for (int k = 0; k < CAUSAL_WIRE_MAX_NODES; k++) {
		u64 want = f->present & (1ULL << k) ? be64_get(raw + 8 * at++) :
			   0x5a5a5a5a00000000ULL + k;

		if (clock[k] != want)
			fail("entry %d decoded as %llu", k, (unsigned long long)clock[k]);
	}
	if (causal_wire_put_head(again, f, clock) != CAUSAL_WIRE_HDR_MAX + len ||
	    memcmp(again + CAUSAL_WIRE_HDR_MAX, raw, len))
		fail("the entries of 0x%llx do not re-encode to their bytes",
		     (unsigned long long)f->present);
	free(cb);
}

static void check_clock(const u8 *raw, u16 nodes)
{
	size_t len = (size_t)nodes * 8;
	u8 *cb = malloc(len), *again = malloc(len);
	u64 clock[CAUSAL_WIRE_MAX_NODES];

	if (!cb || !again)
		abort();
	memcpy(cb, raw, len);
	causal_wire_get_clock(cb, clock, nodes);
	for (u16 i = 0; i < nodes; i++)
		if (clock[i] != be64_get(raw + 8 * i))
			fail("clock entry %u decoded as %llu", i, (unsigned long long)clock[i]);
	causal_wire_put_clock(again, clock, nodes);
	if (memcmp(again, raw, len))
		fail("a clock of %u entries does not re-encode to its bytes", nodes);
	free(cb);
	free(again);
}

static void check_hello(const u8 *raw)
{
	u8 *pb = malloc(CAUSAL_WIRE_HELLO_LEN), again[CAUSAL_WIRE_HELLO_LEN];
	enum causal_proto_err err;
	struct causal_hello h;
	u64 inc = be64_get(raw + 8);

	if (!pb)
		abort();
	memcpy(pb, raw, CAUSAL_WIRE_HELLO_LEN);
	err = causal_wire_get_hello(pb, &h);
	free(pb);
	if (err != (inc ? CAUSAL_ERR_NONE : CAUSAL_ERR_INCARNATION))
		fail("get_hello: %s for incarnation %llu", causal_proto_err_name(err),
		     (unsigned long long)inc);
	if (h.group != be32_get(raw) || h.flags != be32_get(raw + 4) || h.incarnation != inc)
		fail("get_hello decoded group 0x%x flags 0x%x incarnation %llu", h.group,
		     h.flags, (unsigned long long)h.incarnation);
	causal_wire_put_hello(again, &h);
	if (memcmp(again, raw, sizeof(again)))
		fail("a HELLO payload does not re-encode to its bytes");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct causal_frame f;
	size_t off = 1;
	u32 max_len;

	if (!size)
		return 0;
	max_len = max_lens[data[0] % (sizeof(max_lens) / sizeof(max_lens[0]))];

	while (size - off >= CAUSAL_WIRE_HDR_LEN) {
		const u8 *p = data + off;
		u64 frame;

		if (size - off < causal_wire_hdr_len(p))
			break;			/* waits for the rest */
		if (size - off >= CAUSAL_WIRE_HDR_MAX)
			check_encode(p, max_len);
		if (!check_hdr(p, max_len, &f))
			break;			/* the channel fails */
		frame = causal_frame_len(&f);
		if (frame > size - off)
			break;			/* waits for the rest */
		if (causal_frame_delta(&f))
			check_entries(p + CAUSAL_WIRE_HDR_MAX, &f);
		else
			check_clock(p + CAUSAL_WIRE_HDR_LEN, f.nodes);
		if (f.type == CAUSAL_FRAME_HELLO)
			check_hello(p + CAUSAL_WIRE_HDR_LEN + 8 * f.nodes);
		off += frame;
	}
	return 0;
}
