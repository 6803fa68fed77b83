/*
 * rng.c - Philox4x32-10 streams (see rng.h).
 *
 * Owner: h5.
 *
 * The scalar block function follows the Random123 reference: ten rounds,
 * the key bumped by the Weyl constants before rounds 2..10.  The bulk
 * fills run four blocks per AVX2 register (one 32-bit word in the low half
 * of each 64-bit lane, so _mm256_mul_epu32 gives the full 32x32->64
 * product) when the CPU has AVX2; the scalar loop computes the very same
 * integers otherwise.  The known-answer tests in tests/unit/test_rng.c
 * pin both paths.
 */
#include "rng.h"

#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define PR_RNG_X86 1
#include <immintrin.h>
#else
#define PR_RNG_X86 0
#endif

#define PHILOX_M0	0xD2511F53u
#define PHILOX_M1	0xCD9E8D57u
#define PHILOX_W0	0x9E3779B9u
#define PHILOX_W1	0xBB67AE85u
#define PHILOX_ROUNDS	10

static inline void
philox_round(uint32_t c[4], uint32_t k0, uint32_t k1)
{
	uint64_t p0 = (uint64_t)PHILOX_M0 * c[0];
	uint64_t p1 = (uint64_t)PHILOX_M1 * c[2];

	c[0] = (uint32_t)(p1 >> 32) ^ c[1] ^ k0;
	c[1] = (uint32_t)p1;
	c[2] = (uint32_t)(p0 >> 32) ^ c[3] ^ k1;
	c[3] = (uint32_t)p0;
}

void
pr_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2],
    uint32_t out[4])
{
	uint32_t c[4] = { ctr[0], ctr[1], ctr[2], ctr[3] };
	uint32_t k0 = key[0], k1 = key[1];
	int i;

	philox_round(c, k0, k1);
	for (i = 1; i < PHILOX_ROUNDS; i++) {
		k0 += PHILOX_W0;
		k1 += PHILOX_W1;
		philox_round(c, k0, k1);
	}
	memcpy(out, c, sizeof(c));
}

/* The two draws of block b of stream (seed, stream). */
static inline void
block(uint64_t seed, uint64_t stream, uint64_t b, uint64_t out[2])
{
	uint32_t ctr[4] = {
		(uint32_t)b, (uint32_t)(b >> 32),
		(uint32_t)stream, (uint32_t)(stream >> 32)
	};
	uint32_t key[2] = { (uint32_t)seed, (uint32_t)(seed >> 32) };
	uint32_t o[4];

	pr_philox4x32_10(ctr, key, o);
	out[0] = (uint64_t)o[0] | (uint64_t)o[1] << 32;
	out[1] = (uint64_t)o[2] | (uint64_t)o[3] << 32;
}

uint64_t
pr_rng_key(const void *s, size_t n)
{
	const unsigned char *p = s;
	uint64_t h = 0xcbf29ce484222325u;
	size_t i;

	for (i = 0; i < n; i++) {
		h ^= p[i];
		h *= 0x100000001b3u;
	}
	return h;
}

void
pr_rng_init(struct pr_rng *r, uint64_t seed, uint64_t stream)
{
	r->seed = seed;
	r->stream = stream;
	r->next = 0;
	r->blk = UINT64_MAX;
	r->out[0] = r->out[1] = 0;
}

void
pr_rng_seek(struct pr_rng *r, uint64_t index)
{
	r->next = index;
}

uint64_t
pr_rng_at(uint64_t seed, uint64_t stream, uint64_t index)
{
	uint64_t o[2];

	block(seed, stream, index >> 1, o);
	return o[index & 1];
}

uint64_t
pr_rng_next_u64(struct pr_rng *r)
{
	uint64_t i = r->next++;

	if (r->blk != i >> 1) {
		r->blk = i >> 1;
		block(r->seed, r->stream, r->blk, r->out);
	}
	return r->out[i & 1];
}

/*
 * Bulk generation: nblk whole blocks from block b, draws to out[0..2nblk)
 * as uint64 (dbl == 0) or as doubles in [0, 1) (dbl == 1, out is then a
 * double array seen through void *).
 */
static void
blocks_scalar(uint64_t seed, uint64_t stream, uint64_t b, void *out,
    size_t nblk, int dbl)
{
	uint64_t o[2];
	size_t j;

	for (j = 0; j < nblk; j++) {
		block(seed, stream, b + j, o);
		if (dbl) {
			double d[2] = { pr_rng_u01(o[0]), pr_rng_u01(o[1]) };

			memcpy((double *)out + 2 * j, d, sizeof(d));
		} else {
			memcpy((uint64_t *)out + 2 * j, o, sizeof(o));
		}
	}
}

#if PR_RNG_X86

/*
 * Four blocks per register.  Words live in the low halves of the 64-bit
 * lanes; the high halves may hold garbage between rounds, which is harmless
 * because _mm256_mul_epu32 reads only the low halves and the outputs are
 * masked (or shifted out) at the end.
 */
#define AVX2_ROUND(c0, c1, c2, c3, k0, k1) do {				\
	__m256i p0_ = _mm256_mul_epu32((c0), m0);			\
	__m256i p1_ = _mm256_mul_epu32((c2), m1);			\
	(c0) = _mm256_xor_si256(_mm256_xor_si256(			\
	    _mm256_srli_epi64(p1_, 32), (c1)), (k0));			\
	(c1) = p1_;							\
	(c2) = _mm256_xor_si256(_mm256_xor_si256(			\
	    _mm256_srli_epi64(p0_, 32), (c3)), (k1));			\
	(c3) = p0_;							\
} while (0)

/* 2^-53 where bit 11 of the draw is set, else +0.0; plus the 52 top bits
 * as (1.m - 1): together exactly (draw >> 11) * 2^-53. */
__attribute__((target("avx2")))
static inline __m256d
avx2_u01(__m256i x)
{
	const __m256i one = _mm256_set1_epi64x(0x3FF0000000000000);
	const __m256i b11 = _mm256_set1_epi64x(1 << 11);
	const __m256i ulp = _mm256_set1_epi64x(0x3CA0000000000000);
	__m256d hi = _mm256_sub_pd(_mm256_castsi256_pd(_mm256_or_si256(
	    _mm256_srli_epi64(x, 12), one)), _mm256_set1_pd(1.0));
	__m256i m = _mm256_cmpeq_epi64(_mm256_and_si256(x, b11), b11);

	return _mm256_add_pd(hi, _mm256_castsi256_pd(_mm256_and_si256(m,
	    ulp)));
}

/* nblk is a multiple of 8: two registers per iteration for overlap. */
__attribute__((target("avx2")))
static void
blocks_avx2(uint64_t seed, uint64_t stream, uint64_t b, void *out,
    size_t nblk, int dbl)
{
	const __m256i m0 = _mm256_set1_epi64x(PHILOX_M0);
	const __m256i m1 = _mm256_set1_epi64x(PHILOX_M1);
	const __m256i lo = _mm256_set1_epi64x(0xffffffff);
	const __m256i s0 = _mm256_set1_epi64x((uint32_t)stream);
	const __m256i s1 = _mm256_set1_epi64x((uint32_t)(stream >> 32));
	const __m256i four = _mm256_set1_epi64x(4);
	__m256i k0[PHILOX_ROUNDS], k1[PHILOX_ROUNDS];
	__m256i va = _mm256_setr_epi64x((long long)b, (long long)(b + 1),
	    (long long)(b + 2), (long long)(b + 3));
	__m256i vb = _mm256_add_epi64(va, four);
	uint32_t x0 = (uint32_t)seed, x1 = (uint32_t)(seed >> 32);
	size_t j;
	int r;

	for (r = 0; r < PHILOX_ROUNDS; r++) {
		k0[r] = _mm256_set1_epi64x(x0);
		k1[r] = _mm256_set1_epi64x(x1);
		x0 += PHILOX_W0;
		x1 += PHILOX_W1;
	}
	for (j = 0; j < nblk; j += 8) {
		__m256i a0 = va, a1 = _mm256_srli_epi64(va, 32), a2 = s0,
		    a3 = s1;
		__m256i b0 = vb, b1 = _mm256_srli_epi64(vb, 32), b2 = s0,
		    b3 = s1;
		__m256i ea, oa, eb, ob, t0, t1;

		for (r = 0; r < PHILOX_ROUNDS; r++) {
			AVX2_ROUND(a0, a1, a2, a3, k0[r], k1[r]);
			AVX2_ROUND(b0, b1, b2, b3, k0[r], k1[r]);
		}
		/* even draws (words 0,1) and odd draws (words 2,3) */
		ea = _mm256_or_si256(_mm256_and_si256(a0, lo),
		    _mm256_slli_epi64(a1, 32));
		oa = _mm256_or_si256(_mm256_and_si256(a2, lo),
		    _mm256_slli_epi64(a3, 32));
		eb = _mm256_or_si256(_mm256_and_si256(b0, lo),
		    _mm256_slli_epi64(b1, 32));
		ob = _mm256_or_si256(_mm256_and_si256(b2, lo),
		    _mm256_slli_epi64(b3, 32));
		/* interleave to block order: e0 o0 e1 o1 | e2 o2 e3 o3 */
		t0 = _mm256_unpacklo_epi64(ea, oa);
		t1 = _mm256_unpackhi_epi64(ea, oa);
		ea = _mm256_permute2x128_si256(t0, t1, 0x20);
		oa = _mm256_permute2x128_si256(t0, t1, 0x31);
		t0 = _mm256_unpacklo_epi64(eb, ob);
		t1 = _mm256_unpackhi_epi64(eb, ob);
		eb = _mm256_permute2x128_si256(t0, t1, 0x20);
		ob = _mm256_permute2x128_si256(t0, t1, 0x31);
		if (dbl) {
			double *d = (double *)out + 2 * j;

			_mm256_storeu_pd(d, avx2_u01(ea));
			_mm256_storeu_pd(d + 4, avx2_u01(oa));
			_mm256_storeu_pd(d + 8, avx2_u01(eb));
			_mm256_storeu_pd(d + 12, avx2_u01(ob));
		} else {
			__m256i *u = (__m256i *)((uint64_t *)out + 2 * j);

			_mm256_storeu_si256(u, ea);
			_mm256_storeu_si256(u + 1, oa);
			_mm256_storeu_si256(u + 2, eb);
			_mm256_storeu_si256(u + 3, ob);
		}
		va = _mm256_add_epi64(va, _mm256_add_epi64(four, four));
		vb = _mm256_add_epi64(vb, _mm256_add_epi64(four, four));
	}
}

/* A read of the CPU model that libgcc / compiler-rt filled in at start-up
 * (no cache here: fills run on several threads at once). */
static int
have_avx2(void)
{
	return __builtin_cpu_supports("avx2") ? 1 : 0;
}

#else

static int
have_avx2(void)
{
	return 0;
}

static void
blocks_avx2(uint64_t seed, uint64_t stream, uint64_t b, void *out,
    size_t nblk, int dbl)
{
	blocks_scalar(seed, stream, b, out, nblk, dbl);
}

#endif

static void
fill(struct pr_rng *r, void *out, size_t n, int dbl)
{
	size_t sz = dbl ? sizeof(double) : sizeof(uint64_t);
	unsigned char *p = out;
	size_t nblk, nvec;

	/* finish a half-used block */
	if (n > 0 && (r->next & 1) != 0) {
		uint64_t v = pr_rng_next_u64(r);

		if (dbl) {
			double d = pr_rng_u01(v);

			memcpy(p, &d, sz);
		} else {
			memcpy(p, &v, sz);
		}
		p += sz;
		n--;
	}
	nblk = n / 2;
	nvec = have_avx2() ? nblk / 8 * 8 : 0;
	if (nvec > 0)
		blocks_avx2(r->seed, r->stream, r->next >> 1, p, nvec, dbl);
	blocks_scalar(r->seed, r->stream, (r->next >> 1) + nvec,
	    p + 2 * nvec * sz, nblk - nvec, dbl);
	r->next += 2 * nblk;
	p += 2 * nblk * sz;
	if ((n & 1) != 0) {
		uint64_t v = pr_rng_next_u64(r);

		if (dbl) {
			double d = pr_rng_u01(v);

			memcpy(p, &d, sz);
		} else {
			memcpy(p, &v, sz);
		}
	}
}

void
pr_rng_fill_u64(struct pr_rng *r, uint64_t *out, size_t n)
{
	fill(r, out, n, 0);
}

void
pr_rng_fill_double(struct pr_rng *r, double *out, size_t n)
{
	fill(r, out, n, 1);
}
