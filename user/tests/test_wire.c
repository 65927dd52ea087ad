// SPDX-License-Identifier: GPL-2.0
/*
 * Host unit tests of the causal wire codec (kmod/lib/causal_wire.c):
 * round trips, the exact byte layout, every rejection of a header or HELLO
 * payload, and a seeded header fuzz loop checked against an independent
 * statement of the header invariants.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "causal_wire.h"
#include "kselftest_harness.h"
#include "test_bytes.h"
#include "test_rnd.h"

#define MAX_LEN_DEFAULT	(1U << 20)	/* the module's default message limit */

/* A raw header written byte by byte. */
static void raw_hdr(u8 *p, u32 magic, u8 version, u8 type, u16 flags,
		    u16 nodes, u16 sender, u32 len)
{
	be32_put(p, magic);
	p[4] = version;
	p[5] = type;
	be16_put(p + 6, flags);
	be16_put(p + 8, nodes);
	be16_put(p + 10, sender);
	be32_put(p + 12, len);
}

static u32 fixed_len(u8 type)
{
	return type == CAUSAL_FRAME_HELLO ? CAUSAL_WIRE_HELLO_LEN : 0;
}

TEST(struct_sizes)
{
	ASSERT_EQ(16, sizeof(struct causal_wire_hdr));
	ASSERT_EQ(CAUSAL_WIRE_HDR_LEN, sizeof(struct causal_wire_hdr));
	ASSERT_EQ(24, sizeof(struct causal_wire_hdr2));
	ASSERT_EQ(CAUSAL_WIRE_HDR_MAX, sizeof(struct causal_wire_hdr2));
	ASSERT_EQ(2, CAUSAL_WIRE_VERSION_DELTA);
	ASSERT_EQ(16, sizeof(struct causal_wire_hello));
	ASSERT_EQ(CAUSAL_WIRE_HELLO_LEN, sizeof(struct causal_wire_hello));
	ASSERT_EQ(0x4341534c, CAUSAL_WIRE_MAGIC);
	ASSERT_EQ(0, memcmp("CASL", (u8[]){ 0x43, 0x41, 0x53, 0x4c }, 4));
	ASSERT_EQ(1, CAUSAL_WIRE_VERSION);
	ASSERT_EQ(64, CAUSAL_WIRE_MAX_NODES);
}

TEST(frame_size)
{
	EXPECT_EQ(16 + 8, causal_frame_size(1, 0));
	EXPECT_EQ(16 + 3 * 8 + 5, causal_frame_size(3, 5));
	EXPECT_EQ(16 + 64 * 8 + 16, causal_frame_size(64, 16));
	/* No 32-bit overflow on the largest header values. */
	EXPECT_EQ((size_t)16 + 64 * 8 + 0xffffffffULL,
		  causal_frame_size(64, 0xffffffffU));
	EXPECT_EQ((size_t)16 + 0xffffULL * 8 + 0xffffffffULL,
		  causal_frame_size(0xffff, 0xffffffffU));
}

/* Every valid combination of type, nodes, sender and length survives a
 * round trip at every offset of an unaligned buffer.
 */
TEST(hdr_roundtrip)
{
	static const u16 nodes_v[] = { 1, 2, 3, 17, 63, 64 };
	static const u32 max_v[] = { 0, 1, 16, MAX_LEN_DEFAULT, 0xffffffffU };
	u8 buf[CAUSAL_WIRE_HDR_LEN + 8];
	unsigned int checked = 0;
	u8 type;

	for (type = CAUSAL_FRAME_HELLO; type <= CAUSAL_FRAME_BYE; type++) {
		for (size_t ni = 0; ni < sizeof(nodes_v) / sizeof(nodes_v[0]); ni++) {
			u16 nodes = nodes_v[ni];
			u16 senders[] = { 0, nodes / 2, nodes - 1 };

			for (int si = 0; si < 3; si++) {
				for (size_t mi = 0; mi < sizeof(max_v) / sizeof(max_v[0]); mi++) {
					u32 max_len = max_v[mi];
					u32 lens[3];
					int nlens = 0;

					if (type == CAUSAL_FRAME_DATA) {
						lens[nlens++] = 0;
						lens[nlens++] = max_len / 2;
						lens[nlens++] = max_len;
					} else {
						lens[nlens++] = fixed_len(type);
					}
					for (int li = 0; li < nlens; li++) {
						for (u16 flags = 0; flags <= CAUSAL_WIRE_F_ALL; flags++) {
							struct causal_frame in = {
								.type = type, .flags = flags,
								.nodes = nodes,
								.sender = senders[si],
								.len = lens[li],
							};

							if (flags && type != CAUSAL_FRAME_DATA)
								continue;
							for (int off = 0; off < 8; off++) {
								struct causal_frame out;

								memset(buf, 0xa5, sizeof(buf));
								memset(&out, 0x5a, sizeof(out));
								causal_wire_put_hdr(buf + off, &in);
								/* Bytes outside the header untouched. */
								for (int b = 0; b < off; b++)
									ASSERT_EQ(0xa5, buf[b]);
								for (int b = off + 16; b < (int)sizeof(buf); b++)
									ASSERT_EQ(0xa5, buf[b]);
								ASSERT_EQ(CAUSAL_ERR_NONE,
									  causal_wire_get_hdr(buf + off, &out, max_len));
								ASSERT_EQ(in.type, out.type);
								ASSERT_EQ(in.flags, out.flags);
								ASSERT_EQ(in.nodes, out.nodes);
								ASSERT_EQ(in.sender, out.sender);
								ASSERT_EQ(in.len, out.len);
								checked++;
							}
						}
					}
				}
			}
		}
	}
	TH_LOG("%u header round trips", checked);
}

TEST(clock_roundtrip)
{
	static const u64 edge[] = {
		0, 1, 0xff, 0x100, 0xffffffffULL, 0x100000000ULL,
		0x0102030405060708ULL, 0x8000000000000000ULL, UINT64_MAX,
	};
	u8 buf[64 * 8 + 16];
	u64 in[64], out[64];
	u16 nodes_v[] = { 1, 2, 64 };

	xs_state = 0x9e3779b97f4a7c15ULL;
	for (size_t ni = 0; ni < 3; ni++) {
		u16 nodes = nodes_v[ni];

		for (int round = 0; round < 20; round++) {
			for (u16 i = 0; i < nodes; i++)
				in[i] = round < 9 ? edge[(i + round) % 9] : rnd();
			for (int off = 0; off < 8; off++) {
				memset(buf, 0xa5, sizeof(buf));
				memset(out, 0x5a, sizeof(out));
				causal_wire_put_clock(buf + off, in, nodes);
				for (u16 i = 0; i < nodes; i++)
					ASSERT_EQ(in[i], be64_get(buf + off + 8 * i));
				for (int b = 0; b < off; b++)
					ASSERT_EQ(0xa5, buf[b]);
				for (size_t b = off + 8 * nodes; b < sizeof(buf); b++)
					ASSERT_EQ(0xa5, buf[b]);
				causal_wire_get_clock(buf + off, out, nodes);
				ASSERT_EQ(0, memcmp(in, out, nodes * sizeof(u64)));
				/* Entries past @nodes are not written. */
				for (u16 i = nodes; i < 64; i++)
					ASSERT_EQ(0x5a5a5a5a5a5a5a5aULL, out[i]);
			}
		}
	}
}

TEST(hello_roundtrip)
{
	static const struct causal_hello cases[] = {
		{ 0, 0, 1 },
		{ 1, 1, 2 },
		{ 0xffffffffU, 3, UINT64_MAX },
		{ 0x12345678, 0xffffffffU, 0x8000000000000000ULL },
		{ 42, 2, 0x100000000ULL },	/* low 32 bits zero */
	};
	u8 buf[32];

	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		for (int off = 0; off < 8; off++) {
			struct causal_hello out;

			memset(buf, 0xa5, sizeof(buf));
			memset(&out, 0, sizeof(out));
			causal_wire_put_hello(buf + off, &cases[c]);
			ASSERT_EQ(cases[c].group, be32_get(buf + off));
			ASSERT_EQ(cases[c].flags, be32_get(buf + off + 4));
			ASSERT_EQ(cases[c].incarnation, be64_get(buf + off + 8));
			for (int b = 0; b < off; b++)
				ASSERT_EQ(0xa5, buf[b]);
			for (size_t b = off + 16; b < sizeof(buf); b++)
				ASSERT_EQ(0xa5, buf[b]);
			ASSERT_EQ(CAUSAL_ERR_NONE, causal_wire_get_hello(buf + off, &out));
			ASSERT_EQ(cases[c].group, out.group);
			ASSERT_EQ(cases[c].flags, out.flags);
			ASSERT_EQ(cases[c].incarnation, out.incarnation);
		}
	}
}

TEST(hello_incarnation_zero)
{
	struct causal_hello in = { .group = 7, .flags = 1, .incarnation = 0 };
	struct causal_hello out;
	u8 buf[17];

	for (int off = 0; off < 2; off++) {
		causal_wire_put_hello(buf + off, &in);
		EXPECT_EQ(CAUSAL_ERR_INCARNATION, causal_wire_get_hello(buf + off, &out));
	}
	/* Any single set bit makes it valid: the whole 64 bits are checked. */
	for (int bit = 0; bit < 64; bit++) {
		memset(buf, 0, sizeof(buf));
		be64_put(buf + 1 + 8, 1ULL << bit);
		ASSERT_EQ(CAUSAL_ERR_NONE, causal_wire_get_hello(buf + 1, &out));
		ASSERT_EQ(1ULL << bit, out.incarnation);
	}
}

/* A DATA frame written by hand, byte by byte, big-endian. */
TEST(known_data_frame_layout)
{
	static const u8 expect[] = {
		0x43, 0x41, 0x53, 0x4c,		/* magic "CASL" */
		0x01,				/* version */
		0x02,				/* type DATA */
		0x00, 0x01,			/* flags BROADCAST */
		0x00, 0x03,			/* nodes 3 */
		0x00, 0x02,			/* sender 2 */
		0x00, 0x00, 0x00, 0x05,		/* len 5 */
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
		0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe,
		'h', 'e', 'l', 'l', 'o',
	};
	struct causal_frame f = {
		.type = CAUSAL_FRAME_DATA, .flags = CAUSAL_WIRE_F_BROADCAST,
		.nodes = 3, .sender = 2, .len = 5,
	};
	u64 clock[3] = { 1, 0x0102030405060708ULL, 0xfffffffffffffffeULL };
	u8 buf[sizeof(expect) + 3];
	struct causal_frame g;
	u64 back[3];

	ASSERT_EQ(sizeof(expect), causal_frame_size(3, 5));
	for (int off = 0; off < 3; off++) {
		u8 *p = buf + off;

		memset(buf, 0, sizeof(buf));
		causal_wire_put_hdr(p, &f);
		causal_wire_put_clock(p + CAUSAL_WIRE_HDR_LEN, clock, 3);
		memcpy(p + CAUSAL_WIRE_HDR_LEN + 3 * 8, "hello", 5);
		ASSERT_EQ(0, memcmp(expect, p, sizeof(expect)));

		ASSERT_EQ(CAUSAL_ERR_NONE, causal_wire_get_hdr(expect, &g, 5));
		EXPECT_EQ(CAUSAL_FRAME_DATA, g.type);
		EXPECT_EQ(CAUSAL_WIRE_F_BROADCAST, g.flags);
		EXPECT_EQ(3, g.nodes);
		EXPECT_EQ(2, g.sender);
		EXPECT_EQ(5, g.len);
		causal_wire_get_clock(p + CAUSAL_WIRE_HDR_LEN, back, 3);
		EXPECT_EQ(0, memcmp(clock, back, sizeof(clock)));
		/* One byte short of the limit is refused. */
		EXPECT_EQ(CAUSAL_ERR_LENGTH, causal_wire_get_hdr(p, &g, 4));
	}
}

TEST(known_hello_frame_layout)
{
	static const u8 expect[] = {
		0x43, 0x41, 0x53, 0x4c, 0x01, 0x01, 0x00, 0x00,
		0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10,
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,	/* clock[0] */
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00,	/* clock[1] */
		0xca, 0xfe, 0xba, 0xbe,				/* group */
		0x00, 0x00, 0x00, 0x03,				/* flags */
		0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88,	/* incarnation */
	};
	struct causal_frame f = {
		.type = CAUSAL_FRAME_HELLO, .nodes = 2, .sender = 0, .len = 16,
	};
	struct causal_hello h = {
		.group = 0xcafebabe, .flags = 3,
		.incarnation = 0x1122334455667788ULL,
	};
	u64 clock[2] = { 0, 256 };
	u8 buf[sizeof(expect) + 1];
	struct causal_frame g;
	struct causal_hello hh;
	u8 *p = buf + 1;

	ASSERT_EQ(sizeof(expect), causal_frame_size(2, 16));
	causal_wire_put_hdr(p, &f);
	causal_wire_put_clock(p + 16, clock, 2);
	causal_wire_put_hello(p + 32, &h);
	ASSERT_EQ(0, memcmp(expect, p, sizeof(expect)));
	ASSERT_EQ(CAUSAL_ERR_NONE, causal_wire_get_hdr(p, &g, 0));
	ASSERT_EQ(CAUSAL_ERR_NONE, causal_wire_get_hello(p + 32, &hh));
	EXPECT_EQ(h.group, hh.group);
	EXPECT_EQ(h.flags, hh.flags);
	EXPECT_EQ(h.incarnation, hh.incarnation);
}

TEST(known_clock_bye_layout)
{
	/* CLOCK from node 63 of 64, BYE from node 0 of 1. */
	static const u8 clock_hdr[] = {
		0x43, 0x41, 0x53, 0x4c, 0x01, 0x03, 0x00, 0x00,
		0x00, 0x40, 0x00, 0x3f, 0x00, 0x00, 0x00, 0x00,
	};
	static const u8 bye_hdr[] = {
		0x43, 0x41, 0x53, 0x4c, 0x01, 0x04, 0x00, 0x00,
		0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	};
	struct causal_frame c = { .type = CAUSAL_FRAME_CLOCK, .nodes = 64, .sender = 63 };
	struct causal_frame b = { .type = CAUSAL_FRAME_BYE, .nodes = 1, .sender = 0 };
	u8 buf[17];

	causal_wire_put_hdr(buf + 1, &c);
	EXPECT_EQ(0, memcmp(clock_hdr, buf + 1, 16));
	causal_wire_put_hdr(buf + 1, &b);
	EXPECT_EQ(0, memcmp(bye_hdr, buf + 1, 16));
}

/* A DATA frame carrying the largest payload the module accepts by default,
 * at an odd offset, with a 64-entry clock.
 */
TEST(max_length_payload)
{
	size_t size = causal_frame_size(64, MAX_LEN_DEFAULT);
	u8 *buf = malloc(size + 1);
	u8 *p = buf + 1, *payload;
	struct causal_frame f = {
		.type = CAUSAL_FRAME_DATA, .nodes = 64, .sender = 63,
		.len = MAX_LEN_DEFAULT,
	};
	struct causal_frame g;
	u64 clock[64], back[64];

	ASSERT_NE(NULL, buf);
	for (int i = 0; i < 64; i++)
		clock[i] = (u64)i << 56 | (u64)i;
	causal_wire_put_hdr(p, &f);
	causal_wire_put_clock(p + CAUSAL_WIRE_HDR_LEN, clock, 64);
	payload = p + CAUSAL_WIRE_HDR_LEN + 64 * 8;
	for (u32 i = 0; i < MAX_LEN_DEFAULT; i++)
		payload[i] = (u8)(i * 31 + 7);
	ASSERT_EQ(size, (size_t)(payload + MAX_LEN_DEFAULT - p));

	ASSERT_EQ(CAUSAL_ERR_NONE, causal_wire_get_hdr(p, &g, MAX_LEN_DEFAULT));
	EXPECT_EQ(MAX_LEN_DEFAULT, g.len);
	EXPECT_EQ(CAUSAL_ERR_LENGTH, causal_wire_get_hdr(p, &g, MAX_LEN_DEFAULT - 1));
	causal_wire_get_clock(p + CAUSAL_WIRE_HDR_LEN, back, 64);
	EXPECT_EQ(0, memcmp(clock, back, sizeof(clock)));
	for (u32 i = 0; i < MAX_LEN_DEFAULT; i++)
		if (payload[i] != (u8)(i * 31 + 7))
			ASSERT_EQ((u8)(i * 31 + 7), payload[i]);
	free(buf);
}

/* Encoders and decoders stay inside their bytes: heap buffers of the exact
 * size, so that AddressSanitizer reports any access past them.
 */
TEST(exact_size_buffers)
{
	struct causal_frame f = { .type = CAUSAL_FRAME_CLOCK, .nodes = 64, .sender = 7 };
	struct causal_hello h = { 1, 2, 3 }, hh;
	u8 *hdr = malloc(CAUSAL_WIRE_HDR_LEN);
	u8 *hello = malloc(CAUSAL_WIRE_HELLO_LEN);
	u8 *clk1 = malloc(8), *clk64 = malloc(64 * 8);
	u64 in[64], out[64];
	struct causal_frame g;

	ASSERT_NE(NULL, hdr);
	ASSERT_NE(NULL, hello);
	ASSERT_NE(NULL, clk1);
	ASSERT_NE(NULL, clk64);
	for (int i = 0; i < 64; i++)
		in[i] = ~(u64)i;
	causal_wire_put_hdr(hdr, &f);
	EXPECT_EQ(CAUSAL_ERR_NONE, causal_wire_get_hdr(hdr, &g, 0));
	causal_wire_put_hello(hello, &h);
	EXPECT_EQ(CAUSAL_ERR_NONE, causal_wire_get_hello(hello, &hh));
	causal_wire_put_clock(clk1, in, 1);
	causal_wire_get_clock(clk1, out, 1);
	EXPECT_EQ(in[0], out[0]);
	causal_wire_put_clock(clk64, in, 64);
	causal_wire_get_clock(clk64, out, 64);
	EXPECT_EQ(0, memcmp(in, out, sizeof(in)));
	free(hdr);
	free(hello);
	free(clk1);
	free(clk64);
}

/* Header limits: len == max accepted, max + 1 refused, for several max. */
TEST(data_len_limit)
{
	static const u32 max_v[] = { 0, 1, 15, 16, 17, MAX_LEN_DEFAULT, 0xfffffffeU };
	struct causal_frame g;
	u8 h[16];

	for (size_t i = 0; i < sizeof(max_v) / sizeof(max_v[0]); i++) {
		u32 m = max_v[i];

		raw_hdr(h, CAUSAL_WIRE_MAGIC, 1, CAUSAL_FRAME_DATA, 0, 2, 1, m);
		EXPECT_EQ(CAUSAL_ERR_NONE, causal_wire_get_hdr(h, &g, m));
		raw_hdr(h, CAUSAL_WIRE_MAGIC, 1, CAUSAL_FRAME_DATA, 0, 2, 1, m + 1);
		EXPECT_EQ(CAUSAL_ERR_LENGTH, causal_wire_get_hdr(h, &g, m));
		raw_hdr(h, CAUSAL_WIRE_MAGIC, 1, CAUSAL_FRAME_DATA, 0, 2, 1, 0xffffffffU);
		EXPECT_EQ(CAUSAL_ERR_LENGTH, causal_wire_get_hdr(h, &g, m));
	}
	raw_hdr(h, CAUSAL_WIRE_MAGIC, 1, CAUSAL_FRAME_DATA, 0, 2, 1, 0xffffffffU);
	EXPECT_EQ(CAUSAL_ERR_NONE, causal_wire_get_hdr(h, &g, 0xffffffffU));
	/* The DATA limit does not apply to the fixed-length types. */
	raw_hdr(h, CAUSAL_WIRE_MAGIC, 1, CAUSAL_FRAME_HELLO, 0, 2, 1, 16);
	EXPECT_EQ(CAUSAL_ERR_NONE, causal_wire_get_hdr(h, &g, 0));
}

struct reject_case {
	const char *what;
	u32 magic;
	u8 version, type;
	u16 flags, nodes, sender;
	u32 len;
	u32 max_len;
	enum causal_proto_err err;
	u64 present;		/* version 2 */
};

#define M CAUSAL_WIRE_MAGIC
#define HELLO CAUSAL_FRAME_HELLO
#define DATA CAUSAL_FRAME_DATA
#define CLOCK CAUSAL_FRAME_CLOCK
#define BYE CAUSAL_FRAME_BYE
#define BC CAUSAL_WIRE_F_BROADCAST

static const struct reject_case reject_cases[] = {
	{ "magic LE",       0x4c534143, 1, DATA, 0, 3, 1, 0, 64, CAUSAL_ERR_MAGIC },
	{ "magic 0",        0,          1, DATA, 0, 3, 1, 0, 64, CAUSAL_ERR_MAGIC },
	{ "magic byte0",    M ^ 0x01000000, 1, DATA, 0, 3, 1, 0, 64, CAUSAL_ERR_MAGIC },
	{ "magic byte1",    M ^ 0x00010000, 1, DATA, 0, 3, 1, 0, 64, CAUSAL_ERR_MAGIC },
	{ "magic byte2",    M ^ 0x00000100, 1, DATA, 0, 3, 1, 0, 64, CAUSAL_ERR_MAGIC },
	{ "magic byte3",    M ^ 0x00000001, 1, DATA, 0, 3, 1, 0, 64, CAUSAL_ERR_MAGIC },
	{ "magic all ones", 0xffffffff, 1, DATA, 0, 3, 1, 0, 64, CAUSAL_ERR_MAGIC },
	{ "version 0",      M, 0,   DATA, 0, 3, 1, 0, 64, CAUSAL_ERR_VERSION },
	{ "version 3",      M, 3,   DATA, 0, 3, 1, 0, 64, CAUSAL_ERR_VERSION },
	{ "HELLO version 2", M, 2,  HELLO, 0, 3, 1, 16, 64, CAUSAL_ERR_VERSION, 7 },
	{ "v2 entry 3 of 3", M, 2,  DATA, 0, 3, 1, 0, 64, CAUSAL_ERR_NODES, 8 },
	{ "v2 entry 63 of 63", M, 2, CLOCK, 0, 63, 1, 0, 64, CAUSAL_ERR_NODES, 1ULL << 63 },
	{ "v2 all of 1",    M, 2,   BYE, 0, 1, 0, 0, 64, CAUSAL_ERR_NODES, ~0ULL },
	{ "version 255",    M, 255, DATA, 0, 3, 1, 0, 64, CAUSAL_ERR_VERSION },
	{ "type 0",         M, 1, 0,   0, 3, 1, 0, 64, CAUSAL_ERR_TYPE },
	{ "type 5",         M, 1, 5,   0, 3, 1, 0, 64, CAUSAL_ERR_TYPE },
	{ "type 255",       M, 1, 255, 0, 3, 1, 0, 64, CAUSAL_ERR_TYPE },
	{ "flags 0x2",      M, 1, DATA,  0x0002, 3, 1, 0, 64, CAUSAL_ERR_FLAGS },
	{ "flags 0x8000",   M, 1, DATA,  0x8000, 3, 1, 0, 64, CAUSAL_ERR_FLAGS },
	{ "flags 0x0100",   M, 1, DATA,  0x0100, 3, 1, 0, 64, CAUSAL_ERR_FLAGS },
	{ "flags 0xffff",   M, 1, DATA,  0xffff, 3, 1, 0, 64, CAUSAL_ERR_FLAGS },
	{ "flags 0x3",      M, 1, DATA,  0x0003, 3, 1, 0, 64, CAUSAL_ERR_FLAGS },
	{ "BC on HELLO",    M, 1, HELLO, BC, 3, 1, 16, 64, CAUSAL_ERR_FLAGS },
	{ "BC on CLOCK",    M, 1, CLOCK, BC, 3, 1, 0, 64, CAUSAL_ERR_FLAGS },
	{ "BC on BYE",      M, 1, BYE,   BC, 3, 1, 0, 64, CAUSAL_ERR_FLAGS },
	{ "0x2 on CLOCK",   M, 1, CLOCK, 0x0002, 3, 1, 0, 64, CAUSAL_ERR_FLAGS },
	{ "nodes 0",        M, 1, DATA, 0, 0,  0, 0, 64, CAUSAL_ERR_NODES },
	{ "nodes 65",       M, 1, DATA, 0, 65, 1, 0, 64, CAUSAL_ERR_NODES },
	{ "nodes 0x100",    M, 1, DATA, 0, 0x100, 1, 0, 64, CAUSAL_ERR_NODES },
	{ "nodes 0xffff",   M, 1, DATA, 0, 0xffff, 1, 0, 64, CAUSAL_ERR_NODES },
	{ "nodes 0 HELLO",  M, 1, HELLO, 0, 0, 0, 16, 64, CAUSAL_ERR_NODES },
	{ "sender = nodes", M, 1, DATA, 0, 3,  3, 0, 64, CAUSAL_ERR_SENDER },
	{ "sender 1 of 1",  M, 1, DATA, 0, 1,  1, 0, 64, CAUSAL_ERR_SENDER },
	{ "sender 64 of 64", M, 1, DATA, 0, 64, 64, 0, 64, CAUSAL_ERR_SENDER },
	{ "sender 0xffff",  M, 1, CLOCK, 0, 64, 0xffff, 0, 64, CAUSAL_ERR_SENDER },
	{ "sender 0x100",   M, 1, HELLO, 0, 3, 0x100, 16, 64, CAUSAL_ERR_SENDER },
	{ "DATA len max+1", M, 1, DATA, 0, 3, 1, 65, 64, CAUSAL_ERR_LENGTH },
	{ "DATA len huge",  M, 1, DATA, BC, 3, 1, 0xffffffff, 64, CAUSAL_ERR_LENGTH },
	{ "DATA 1 max 0",   M, 1, DATA, 0, 3, 1, 1, 0, CAUSAL_ERR_LENGTH },
	{ "HELLO len 0",    M, 1, HELLO, 0, 3, 1, 0, 64, CAUSAL_ERR_LENGTH },
	{ "HELLO len 15",   M, 1, HELLO, 0, 3, 1, 15, 64, CAUSAL_ERR_LENGTH },
	{ "HELLO len 17",   M, 1, HELLO, 0, 3, 1, 17, 64, CAUSAL_ERR_LENGTH },
	{ "HELLO len 32",   M, 1, HELLO, 0, 3, 1, 32, 64, CAUSAL_ERR_LENGTH },
	{ "HELLO len 2^32-1", M, 1, HELLO, 0, 3, 1, 0xffffffff, 0xffffffff, CAUSAL_ERR_LENGTH },
	{ "HELLO len 0x10010", M, 1, HELLO, 0, 3, 1, 0x10010, 0xffffffff, CAUSAL_ERR_LENGTH },
	{ "CLOCK len 1",    M, 1, CLOCK, 0, 3, 1, 1, 64, CAUSAL_ERR_LENGTH },
	{ "CLOCK len 16",   M, 1, CLOCK, 0, 3, 1, 16, 64, CAUSAL_ERR_LENGTH },
	{ "CLOCK len 2^31", M, 1, CLOCK, 0, 3, 1, 0x80000000, 0xffffffff, CAUSAL_ERR_LENGTH },
	{ "BYE len 1",      M, 1, BYE, 0, 3, 1, 1, 64, CAUSAL_ERR_LENGTH },
	{ "BYE len 16",     M, 1, BYE, 0, 3, 1, 16, 64, CAUSAL_ERR_LENGTH },
	{ "BYE len 2^32-1", M, 1, BYE, 0, 3, 1, 0xffffffff, 0xffffffff, CAUSAL_ERR_LENGTH },
	/* Not a causal frame at all: magic is judged before anything else,
	 * and an unknown version before the fields whose meaning it defines.
	 */
	{ "magic+all bad",  0, 7, 9, 0xffff, 0, 5, 99, 0, CAUSAL_ERR_MAGIC },
	{ "version+all bad", M, 7, 9, 0xffff, 0, 5, 99, 0, CAUSAL_ERR_VERSION },
};

TEST(hdr_rejections)
{
	u8 buf[CAUSAL_WIRE_HDR_MAX + 8];

	for (size_t i = 0; i < sizeof(reject_cases) / sizeof(reject_cases[0]); i++) {
		const struct reject_case *c = &reject_cases[i];

		for (int off = 0; off < 8; off += 3) {
			struct causal_frame g;
			enum causal_proto_err err;

			raw_hdr(buf + off, c->magic, c->version, c->type, c->flags,
				c->nodes, c->sender, c->len);
			be64_put(buf + off + 16, c->present);
			err = causal_wire_get_hdr(buf + off, &g, c->max_len);
			if (err != c->err)
				TH_LOG("case '%s': got %s, want %s", c->what,
				       causal_proto_err_name(err),
				       causal_proto_err_name(c->err));
			EXPECT_EQ(c->err, err);
		}
	}
}

TEST(proto_err_names)
{
	static const char * const want[CAUSAL_ERR_MAX] = {
		"none", "magic", "version", "type", "flags", "nodes", "sender",
		"length", "group", "sequence", "incarnation", "clock", "future",
		"peer", "duplicate",
	};
	int e;

	ASSERT_EQ(15, CAUSAL_ERR_MAX);
	for (e = 0; e < CAUSAL_ERR_MAX; e++) {
		const char *name = causal_proto_err_name((enum causal_proto_err)e);

		ASSERT_NE(NULL, name);
		EXPECT_STREQ(want[e], name);
		for (int o = 0; o < e; o++)
			EXPECT_STRNE(name, causal_proto_err_name((enum causal_proto_err)o));
	}
	EXPECT_STREQ("unknown", causal_proto_err_name(CAUSAL_ERR_MAX));
	EXPECT_STREQ("unknown", causal_proto_err_name((enum causal_proto_err)(CAUSAL_ERR_MAX + 1)));
	EXPECT_STREQ("unknown", causal_proto_err_name((enum causal_proto_err)1000));
	EXPECT_STREQ("unknown", causal_proto_err_name((enum causal_proto_err)-1));
}

/* The documented header invariants, stated independently of the codec. A
 * bit per violated invariant, indexed by enum causal_proto_err.
 */
static unsigned int hdr_violations(const u8 *p, u32 max_len)
{
	u32 magic = be32_get(p), len = be32_get(p + 12);
	u8 version = p[4], type = p[5];
	u16 flags = be16_get(p + 6), nodes = be16_get(p + 8), sender = be16_get(p + 10);
	unsigned int v = 0;
	bool known_type = type >= 1 && type <= 4;

	if (magic != 0x4341534c)
		v |= 1U << CAUSAL_ERR_MAGIC;
	if (version != 1 && version != 2)
		v |= 1U << CAUSAL_ERR_VERSION;
	/* A HELLO opens a channel: it has no earlier frame to be relative to. */
	if (version == 2 && type == 1)
		v |= 1U << CAUSAL_ERR_VERSION;
	/* Version 2's entry mask names nodes of the group only. */
	if (version == 2 && (nodes >= 64 ? 0 : be64_get(p + 16) >> nodes))
		v |= 1U << CAUSAL_ERR_NODES;
	if (!known_type)
		v |= 1U << CAUSAL_ERR_TYPE;
	if (flags & ~1U)
		v |= 1U << CAUSAL_ERR_FLAGS;
	if (flags && type != 2)
		v |= 1U << CAUSAL_ERR_FLAGS;
	if (nodes < 1 || nodes > 64)
		v |= 1U << CAUSAL_ERR_NODES;
	if (sender >= nodes)
		v |= 1U << CAUSAL_ERR_SENDER;
	if (type == 2 && len > max_len)
		v |= 1U << CAUSAL_ERR_LENGTH;
	if (type == 1 && len != 16)
		v |= 1U << CAUSAL_ERR_LENGTH;
	if ((type == 3 || type == 4) && len != 0)
		v |= 1U << CAUSAL_ERR_LENGTH;
	return v;
}

/* Pick a field value: mostly valid, else an edge or random bits. */
static u32 pick(u32 valid, const u32 *edges, int nedges, u32 mask)
{
	u64 r = rnd();

	/* 13/16 valid, 2/16 an edge value, 1/16 random bits: a header
	 * has seven fields, so about a quarter of them stay valid.
	 */
	if (r % 16 < 13)
		return valid;
	if (r % 16 < 15)
		return edges[(r >> 8) % nedges] & mask;
	return (u32)(r >> 32) & mask;
}

TEST(hdr_fuzz)
{
	static const u32 magic_e[] = { 0, 0x4c534143, 0x4341534d, 0xc341534c, 0x4341544c };
	static const u32 ver_e[] = { 0, 2, 0x81, 0xff };
	static const u32 type_e[] = { 0, 1, 2, 3, 4, 5, 6, 0x82, 0xff };
	static const u32 flag_e[] = { 0, 1, 2, 3, 0x8000, 0x8001, 0xfffe, 0xffff };
	static const u32 nodes_e[] = { 0, 1, 2, 63, 64, 65, 0x100, 0x140, 0xffff };
	static const u32 sender_e[] = { 0, 1, 62, 63, 64, 65, 0xff, 0x100, 0xffff };
	static const u32 len_e[] = { 0, 1, 15, 16, 17, 0x10000, 0x100000, 0x100001,
				     0x10000010, 0x80000000, 0xfffffff0, 0xffffffff };
	static const u32 max_e[] = { 0, 16, 0x100000, 0xffffffff };
	unsigned long accepted = 0, rejected_by[CAUSAL_ERR_MAX] = { 0 };
	const unsigned long rounds = 200000;
	u8 raw[CAUSAL_WIRE_HDR_MAX + 7], re[CAUSAL_WIRE_HDR_MAX];

	xs_state = 0x2545f4914f6cdd1dULL;
	for (unsigned long n = 0; n < rounds; n++) {
		unsigned int off = n & 7;
		u8 *p = raw + off;
		struct causal_frame f;
		enum causal_proto_err err;
		unsigned int viol;
		u32 max_len;

		if (n % 16 == 15) {
			/* Completely random bytes, magic kept half the time. */
			for (int b = 0; b < CAUSAL_WIRE_HDR_MAX; b++)
				p[b] = (u8)rnd();
			if (rnd() & 1)
				be32_put(p, CAUSAL_WIRE_MAGIC);
			max_len = (u32)rnd();
		} else {
			u8 type = pick(1 + rnd() % 4, type_e, 9, 0xff);
			u16 nodes = pick(1 + rnd() % 64, nodes_e, 9, 0xffff);
			u16 sender = pick(nodes ? rnd() % nodes : 0,
					  sender_e, 9, 0xffff);
			u32 vlen = type == 2 ? rnd() % 0x200000 :
				   type == 1 ? 16 : 0;

			raw_hdr(p, pick(CAUSAL_WIRE_MAGIC, magic_e, 5, 0xffffffff),
				pick(1, ver_e, 4, 0xff), type,
				pick(type == 2 ? rnd() & 1 : 0, flag_e, 8, 0xffff),
				nodes, sender, pick(vlen, len_e, 12, 0xffffffff));
			/* Entries of the group, or any bits one time in 8. */
			be64_put(p + 16, rnd() % 8 ? rnd() & causal_wire_all(nodes) :
				 rnd());
			max_len = max_e[rnd() % 4];
		}

		viol = hdr_violations(p, max_len);
		memset(&f, 0, sizeof(f));
		err = causal_wire_get_hdr(p, &f, max_len);
		if (err == CAUSAL_ERR_NONE) {
			accepted++;
			if (viol) {
				TH_LOG("round %lu: accepted a header violating 0x%x: %02x%02x%02x%02x %02x %02x %02x%02x %02x%02x %02x%02x %02x%02x%02x%02x max %u",
				       n, viol, p[0], p[1], p[2], p[3], p[4], p[5], p[6],
				       p[7], p[8], p[9], p[10], p[11], p[12], p[13],
				       p[14], p[15], max_len);
				ASSERT_EQ(0, viol);
			}
			ASSERT_EQ(p[5], f.type);
			ASSERT_EQ(be16_get(p + 6), f.flags);
			ASSERT_EQ(be16_get(p + 8), f.nodes);
			ASSERT_EQ(be16_get(p + 10), f.sender);
			ASSERT_EQ(be32_get(p + 12), f.len);
			ASSERT_EQ(p[4] == 2 ? be64_get(p + 16) : causal_wire_all(f.nodes),
				  f.present);
			causal_wire_put_hdr(re, &f);
			ASSERT_EQ(0, memcmp(p, re, causal_wire_hdr_len(p)));
		} else {
			ASSERT_LT(err, CAUSAL_ERR_MAX);
			rejected_by[err]++;
			if (!(viol & (1U << err))) {
				TH_LOG("round %lu: rejected as %s, violations 0x%x",
				       n, causal_proto_err_name(err), viol);
				ASSERT_NE(0, viol & (1U << err));
			}
		}
	}
	TH_LOG("%lu headers: %lu accepted, magic %lu version %lu type %lu flags %lu nodes %lu sender %lu length %lu",
	       rounds, accepted, rejected_by[CAUSAL_ERR_MAGIC],
	       rejected_by[CAUSAL_ERR_VERSION], rejected_by[CAUSAL_ERR_TYPE],
	       rejected_by[CAUSAL_ERR_FLAGS], rejected_by[CAUSAL_ERR_NODES],
	       rejected_by[CAUSAL_ERR_SENDER], rejected_by[CAUSAL_ERR_LENGTH]);
	/* The loop is not vacuous: both outcomes and every reason occur. */
	EXPECT_GT(accepted, rounds / 50);
	for (int e = CAUSAL_ERR_MAGIC; e <= CAUSAL_ERR_LENGTH; e++)
		EXPECT_GT(rejected_by[e], 100);
}

/* A version 2 frame byte by byte: the mask after the header, then the
 * present entries in order of node.
 */
TEST(known_delta_frame_layout)
{
	static const u8 want[] = {
		0x43, 0x41, 0x53, 0x4c, 0x02, 0x02, 0x00, 0x01,
		0x00, 0x08, 0x00, 0x05, 0x00, 0x00, 0x00, 0x03,
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x24,
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x07,
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00,
	};
	u64 clock[8] = { 1, 2, 7, 3, 4, 0x100, 5, 6 };
	struct causal_frame f = {
		.type = CAUSAL_FRAME_DATA, .flags = CAUSAL_WIRE_F_BROADCAST,
		.nodes = 8, .sender = 5, .len = 3,
	}, g;
	u64 base[8] = { 0 };
	u8 buf[64];

	causal_wire_choose(&f, (1ULL << 2) | (1ULL << 5));
	ASSERT_EQ(CAUSAL_WIRE_VERSION_DELTA, f.version);
	ASSERT_EQ(sizeof(want), causal_frame_head_len(&f));
	ASSERT_EQ(sizeof(want), causal_wire_put_head(buf, &f, clock));
	ASSERT_EQ(0, memcmp(want, buf, sizeof(want)));
	ASSERT_EQ(CAUSAL_WIRE_HDR_MAX, causal_wire_hdr_len(buf));
	ASSERT_EQ(CAUSAL_ERR_NONE, causal_wire_get_hdr(buf, &g, 64));
	ASSERT_EQ(0x24, g.present);
	ASSERT_EQ(sizeof(want) + 3, causal_frame_len(&g));
	causal_wire_get_entries(buf + CAUSAL_WIRE_HDR_MAX, base, g.present);
	EXPECT_EQ(7, base[2]);
	EXPECT_EQ(0x100, base[5]);
	EXPECT_EQ(0, base[0] | base[1] | base[3] | base[4] | base[6] | base[7]);
}

/* A delta is sent only when it is shorter than the whole clock. */
TEST(delta_chosen_when_shorter)
{
	static const u16 nodes_v[] = { 1, 2, 3, 8, 63, 64 };

	for (size_t i = 0; i < sizeof(nodes_v) / sizeof(nodes_v[0]); i++) {
		u16 n = nodes_v[i];

		for (u16 c = 0; c <= n; c++) {
			struct causal_frame f = {
				.type = CAUSAL_FRAME_CLOCK, .nodes = n,
			};
			u64 changed = c == 64 ? ~0ULL : (1ULL << c) - 1;
			size_t whole = causal_frame_size(n, 0);

			/* Bits past the group are not entries. */
			causal_wire_choose(&f, changed | ~causal_wire_all(n));
			if (c + 1 < n) {
				ASSERT_EQ(CAUSAL_WIRE_VERSION_DELTA, f.version);
				ASSERT_LT(causal_frame_head_len(&f), whole);
			} else {
				ASSERT_EQ(CAUSAL_WIRE_VERSION, f.version);
				ASSERT_EQ(whole, causal_frame_head_len(&f));
				ASSERT_EQ(causal_wire_all(n), f.present);
			}
		}
	}
}

/* A stream of frames, each of the entries changed since the previous one,
 * rebuilds every clock on the receiving side, whichever version each frame
 * takes, at every offset.
 */
TEST(delta_stream_rebuilds_clocks)
{
	static const u16 nodes_v[] = { 2, 3, 9, 33, 64 };
	unsigned long deltas = 0, whole = 0;

	xs_state = 0x9e3779b97f4a7c15ULL;
	for (size_t i = 0; i < sizeof(nodes_v) / sizeof(nodes_v[0]); i++) {
		u16 n = nodes_v[i];
		u64 clock[64] = { 0 }, seen[64] = { 0 };
		u8 buf[8 + CAUSAL_WIRE_HDR_MAX + 64 * 8];

		for (int round = 0; round < 2000; round++) {
			u64 changed = 0;
			unsigned int off = round & 7, k, moves = rnd() % (n + 1);
			struct causal_frame f = {
				.type = CAUSAL_FRAME_DATA, .nodes = n,
				.sender = (u16)(rnd() % n),
			}, g;
			u32 len;

			/* A few entries grow, sometimes by a lot. */
			for (unsigned int m = 0; m < moves % 5 + (moves == n); m++) {
				k = rnd() % n;
				clock[k] += rnd() % 3 ? 1 : rnd() >> 8;
				changed |= 1ULL << k;
			}
			/* The sender may name unchanged entries too. */
			if (rnd() % 4 == 0)
				changed |= rnd() & causal_wire_all(n);
			causal_wire_choose(&f, changed);
			memset(buf, 0xa5, sizeof(buf));
			len = causal_wire_put_head(buf + off, &f, clock);
			ASSERT_EQ(causal_frame_head_len(&f), len);
			for (unsigned int b = off + len; b < sizeof(buf); b++)
				ASSERT_EQ(0xa5, buf[b]);
			ASSERT_EQ(CAUSAL_ERR_NONE,
				  causal_wire_get_hdr(buf + off, &g, 0));
			ASSERT_EQ(f.present, g.present);
			if (causal_frame_delta(&g)) {
				causal_wire_get_entries(buf + off + CAUSAL_WIRE_HDR_MAX,
							seen, g.present);
				deltas++;
			} else {
				causal_wire_get_clock(buf + off + CAUSAL_WIRE_HDR_LEN,
						      seen, n);
				whole++;
			}
			ASSERT_EQ(0, memcmp(clock, seen, n * sizeof(u64)));
		}
	}
	TH_LOG("%lu delta frames, %lu whole", deltas, whole);
	EXPECT_GT(deltas, 1000);
	EXPECT_GT(whole, 1000);
}

TEST_HARNESS_MAIN
