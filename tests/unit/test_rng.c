/*
 * test_rng.c - Philox4x32-10 known answers and stream properties.
 *
 * Owner: h5.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "rng.h"
#include "test.h"

/* Random123 kat_vectors, the three "philox4x32 10" lines:
 * counter[4] key[2] -> output[4]. */
static const uint32_t kat[3][10] = {
	{ 0x00000000, 0x00000000, 0x00000000, 0x00000000,
	  0x00000000, 0x00000000,
	  0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8 },
	{ 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff,
	  0xffffffff, 0xffffffff,
	  0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd },
	{ 0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344,
	  0xa4093822, 0x299f31d0,
	  0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1 },
};

TEST(rng_philox_known_answers)
{
	uint32_t out[4];
	int i, j;

	for (i = 0; i < 3; i++) {
		pr_philox4x32_10(kat[i], kat[i] + 4, out);
		for (j = 0; j < 4; j++)
			ASSERT_U64_EQ(out[j], kat[i][6 + j]);
	}
}

/* The stream layout of rng.h, checked against the raw block function. */
TEST(rng_stream_layout)
{
	uint64_t seed = 0x299f31d0a4093822u;
	uint64_t stream = 0x0370734413198a2eu;
	uint64_t b = 0x05a308d3243f6a88u;	/* < 2^63 */
	uint32_t ctr[4], key[2], o[4];
	struct pr_rng r;

	ctr[0] = (uint32_t)b;
	ctr[1] = (uint32_t)(b >> 32);
	ctr[2] = (uint32_t)stream;
	ctr[3] = (uint32_t)(stream >> 32);
	key[0] = (uint32_t)seed;
	key[1] = (uint32_t)(seed >> 32);
	pr_philox4x32_10(ctr, key, o);
	ASSERT_U64_EQ(pr_rng_at(seed, stream, 2 * b),
	    (uint64_t)o[0] | (uint64_t)o[1] << 32);
	ASSERT_U64_EQ(pr_rng_at(seed, stream, 2 * b + 1),
	    (uint64_t)o[2] | (uint64_t)o[3] << 32);
	pr_rng_init(&r, seed, stream);
	pr_rng_seek(&r, 2 * b + 1);
	ASSERT_U64_EQ(pr_rng_next_u64(&r),
	    (uint64_t)o[2] | (uint64_t)o[3] << 32);
	ASSERT_U64_EQ(pr_rng_tell(&r), 2 * b + 2);
	/* the all-zero KAT is draw 0 and 1 of stream 0 under seed 0 */
	ASSERT_U64_EQ(pr_rng_at(0, 0, 0), 0xe169c58d6627e8d5u);
	ASSERT_U64_EQ(pr_rng_at(0, 0, 1), 0x9b00dbd8bc57ac4cu);
}

TEST(rng_fnv1a_key)
{
	/* FNV-1a 64 published values */
	ASSERT_U64_EQ(pr_rng_key("", 0), 0xcbf29ce484222325u);
	ASSERT_U64_EQ(pr_rng_key("a", 1), 0xaf63dc4c8601ec8cu);
	ASSERT_U64_EQ(pr_rng_key("foobar", 6), 0x85944171f73967e8u);
	ASSERT(pr_rng_key("1", 1) != pr_rng_key("2", 1));
}

TEST(rng_double_range_and_exactness)
{
	struct pr_rng r;
	int i;

	ASSERT(pr_rng_u01(0) == 0.0);
	ASSERT(pr_rng_u01(UINT64_MAX) == 1.0 - 0x1.0p-53);
	ASSERT(pr_rng_u01(UINT64_MAX) < 1.0);
	ASSERT(pr_rng_u01((uint64_t)1 << 11) == 0x1.0p-53);
	pr_rng_init(&r, 42, 7);
	for (i = 0; i < 10000; i++) {
		double d = pr_rng_next_double(&r);

		ASSERT(d >= 0.0 && d < 1.0);
		/* a multiple of 2^-53 */
		ASSERT(ldexp(d, 53) == floor(ldexp(d, 53)));
	}
}

/* Bulk fills (the AVX2 path when present) equal draw-by-draw values, for
 * every start parity and length around the vector widths. */
TEST(rng_fill_matches_draws)
{
	enum { N = 100 };
	uint64_t u[N + 1];
	double d[N + 1];
	size_t start, n, i;
	struct pr_rng r;

	for (start = 0; start < 3; start++) {
		for (n = 0; n <= N; n++) {
			pr_rng_init(&r, 0x1234, 99);
			pr_rng_seek(&r, start);
			u[n] = 0xdeadbeef;
			pr_rng_fill_u64(&r, u, n);
			ASSERT_U64_EQ(u[n], 0xdeadbeef);
			ASSERT_U64_EQ(pr_rng_tell(&r), start + n);
			for (i = 0; i < n; i++)
				ASSERT_U64_EQ(u[i],
				    pr_rng_at(0x1234, 99, start + i));
			pr_rng_seek(&r, start);
			pr_rng_fill_double(&r, d, n);
			for (i = 0; i < n; i++)
				ASSERT(d[i] == pr_rng_u01(u[i]));
			/* the stream continues where the fill stopped */
			ASSERT_U64_EQ(pr_rng_next_u64(&r),
			    pr_rng_at(0x1234, 99, start + n));
		}
	}
}

TEST(rng_fill_large_offsets)
{
	enum { N = 64 };
	uint64_t u[N];
	uint64_t starts[] = { (uint64_t)1 << 33, ((uint64_t)1 << 33) - 6,
	    UINT64_MAX - N };
	struct pr_rng r;
	size_t s, i;

	for (s = 0; s < sizeof(starts) / sizeof(starts[0]); s++) {
		pr_rng_init(&r, UINT64_MAX, UINT64_MAX);
		pr_rng_seek(&r, starts[s]);
		pr_rng_fill_u64(&r, u, N);
		for (i = 0; i < N; i++)
			ASSERT_U64_EQ(u[i], pr_rng_at(UINT64_MAX, UINT64_MAX,
			    starts[s] + i));
	}
}

/* Distinct stream keys and distinct seeds give unrelated draws: no equal
 * draws among many, and bit balance near one half. */
TEST(rng_streams_independent)
{
	enum { K = 16, N = 512 };
	static uint64_t v[K * N];
	struct pr_rng r;
	uint64_t ones = 0;
	size_t k, i, j;
	char id[8];

	for (k = 0; k < K; k++) {
		int len = snprintf(id, sizeof(id), "%zu", k + 1);

		pr_rng_init(&r, k < K / 2 ? 1 : 2,
		    pr_rng_key(id, (size_t)len));
		pr_rng_fill_u64(&r, v + k * N, N);
	}
	for (i = 0; i < K * N; i++)
		ones += (uint64_t)__builtin_popcountll(v[i]);
	/* 64 K N bits, mean 0.5, sd 0.5 / sqrt(64 K N) ~ 0.0003 */
	ASSERT(fabs((double)ones / (64.0 * K * N) - 0.5) < 0.002);
	/* any two equal 64-bit draws would be a 2^-40 event */
	for (i = 0; i < K * N; i++)
		for (j = i + 1; j < K * N; j++)
			ASSERT(v[i] != v[j]);
	/* streams keyed by task id: the same id gives the same values */
	pr_rng_init(&r, 1, pr_rng_key("1", 1));
	ASSERT_U64_EQ(pr_rng_next_u64(&r), v[0]);
}

/* Correlation between neighbouring streams (keys differing by 1) and
 * between a stream and itself shifted by one draw stays at noise level. */
TEST(rng_streams_uncorrelated)
{
	enum { N = 20000 };
	static double a[N], b[N];
	struct pr_rng r;
	double sa = 0, sb = 0, sab = 0, saa = 0, sbb = 0, c;
	int i;

	pr_rng_init(&r, 5, 1000);
	pr_rng_fill_double(&r, a, N);
	pr_rng_init(&r, 5, 1001);
	pr_rng_fill_double(&r, b, N);
	for (i = 0; i < N; i++) {
		sa += a[i];
		sb += b[i];
		sab += a[i] * b[i];
		saa += a[i] * a[i];
		sbb += b[i] * b[i];
	}
	c = (sab - sa * sb / N) / sqrt((saa - sa * sa / N) *
	    (sbb - sb * sb / N));
	ASSERT(fabs(c) < 0.04);	/* sd 1/sqrt(N) ~ 0.007 */
	ASSERT(fabs(sa / N - 0.5) < 0.01);
}
