// SPDX-License-Identifier: GPL-2.0
/*
 * Host unit tests of the hold-time histogram's buckets (kmod/lib/causal_hist.h),
 * which the module counts in and the tools read: every value falls in the
 * bucket whose bounds hold it, the buckets tile the range without holes, and
 * none is wider than 1/16 of its lower bound.
 */
#include <stdint.h>
#include <stdlib.h>

#include "causal_hist.h"
#include "kselftest_harness.h"

static int in_bucket(u64 v)
{
	u32 b = causal_hist_bucket(v);

	if (b >= CAUSAL_HIST_BUCKETS || causal_hist_lower(b) > v)
		return 0;
	return b == CAUSAL_HIST_BUCKETS - 1 || v < causal_hist_lower(b + 1);
}

TEST(layout)
{
	EXPECT_EQ(CAUSAL_HIST_SUB, 1U << CAUSAL_HIST_SUB_BITS);
	EXPECT_EQ(CAUSAL_HIST_BUCKETS, 464);
	EXPECT_EQ(causal_hist_bucket(0), 0);
	EXPECT_EQ(causal_hist_bucket(15), 15);
	EXPECT_EQ(causal_hist_bucket(16), 16);
	EXPECT_EQ(causal_hist_bucket(33), 32);
	EXPECT_EQ(causal_hist_bucket(34), 33);
	EXPECT_EQ(causal_hist_lower(33), 34);
	EXPECT_EQ(causal_hist_bucket((1ULL << 32) - 1), CAUSAL_HIST_BUCKETS - 1);
	EXPECT_EQ(causal_hist_bucket(1ULL << 32), CAUSAL_HIST_BUCKETS - 1);
	EXPECT_EQ(causal_hist_bucket(UINT64_MAX), CAUSAL_HIST_BUCKETS - 1);
	EXPECT_EQ(causal_hist_lower(CAUSAL_HIST_BUCKETS - 1),
		  (1ULL << 31) + 15 * (1ULL << 27));
}

TEST(buckets_tile_the_range)
{
	u32 b;

	for (b = 0; b + 1 < CAUSAL_HIST_BUCKETS; b++) {
		u64 lo = causal_hist_lower(b), hi = causal_hist_lower(b + 1);

		ASSERT_LT(lo, hi) TH_LOG("bucket %u", b);
		ASSERT_EQ(causal_hist_bucket(lo), b);
		ASSERT_EQ(causal_hist_bucket(hi - 1), b);
		/* Exact below 16 us, then at most 1/16 of the bound wide. */
		if (b < CAUSAL_HIST_SUB) {
			ASSERT_EQ(hi - lo, 1);
			continue;
		}
		ASSERT_LE((hi - lo) * CAUSAL_HIST_SUB, lo)
			TH_LOG("bucket %u: [%llu, %llu)", b,
			       (unsigned long long)lo, (unsigned long long)hi);
	}
}

TEST(values_fall_in_their_bucket)
{
	u64 v, seed = 0x9e3779b97f4a7c15ULL;
	int i;

	for (v = 0; v < (1 << 20); v++)
		ASSERT_TRUE(in_bucket(v)) TH_LOG("%llu", (unsigned long long)v);
	for (i = 0; i < 1000000; i++) {
		seed ^= seed << 13;
		seed ^= seed >> 7;
		seed ^= seed << 17;
		v = seed >> (seed % 40);
		ASSERT_TRUE(in_bucket(v)) TH_LOG("%llu", (unsigned long long)v);
	}
}

/* Quantiles read off the histogram are within 1/16 of the true ones, for
 * hold times spread over six decades.
 */
TEST(quantiles_within_a_sixteenth)
{
	static u64 hist[CAUSAL_HIST_BUCKETS], v[20000];
	static const unsigned int qs[] = { 1, 50, 90, 99, 999, 1000 };
	u64 seed = 12345, t, got;
	unsigned int i, j, n = sizeof(v) / sizeof(v[0]);

	EXPECT_EQ(causal_hist_quantile(hist, 99, 100), 0);
	for (i = 0; i < n; i++) {
		seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
		v[i] = (seed >> 40) >> ((seed >> 20) % 20);
		hist[causal_hist_bucket(v[i])]++;
	}
	/* Sorted: the true quantiles. */
	for (i = 1; i < n; i++)
		for (j = i; j && v[j - 1] > v[j]; j--) {
			t = v[j];
			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	for (i = 0; i < sizeof(qs) / sizeof(qs[0]); i++) {
		u64 want = v[(n * (u64)qs[i] + 999) / 1000 - 1];

		got = causal_hist_quantile(hist, qs[i], 1000);
		EXPECT_LE(got, want + want / 16 + 1)
			TH_LOG("q %u/1000: %llu, true %llu", qs[i],
			       (unsigned long long)got,
			       (unsigned long long)want);
		EXPECT_GE(got + got / 16 + 1, want)
			TH_LOG("q %u/1000: %llu, true %llu", qs[i],
			       (unsigned long long)got,
			       (unsigned long long)want);
	}
}

TEST_HARNESS_MAIN
