/*
 * rng.h - reproducible random streams (Philox4x32-10, counter-based).
 *
 * Owner: h5.
 *
 * Philox4x32-10 (Salmon, Moraes, Dror and Shaw, "Parallel random numbers:
 * as easy as 1, 2, 3", SC11; the Random123 library) is a keyed bijection
 * of a 128-bit counter: output = philox(key, counter).  It was chosen over
 * a jump-ahead generator because any draw can be computed directly from
 * its index (random access, so a range can be cut into chunks anywhere),
 * it passes BigCrush with a wide margin, it has published known-answer
 * vectors, and it vectorizes well (no serial state).
 *
 * A stream is (seed, stream key s).  Draw i of a stream (i = 0, 1, ...)
 * is 64 bits of the Philox output for
 *
 *	key     = { seed & 0xffffffff, seed >> 32 }
 *	counter = { b & 0xffffffff, b >> 32, s & 0xffffffff, s >> 32 }
 *	          with b = i / 2 (the block)
 *	draw i  = out[0] | out[1] << 32   when i is even
 *	          out[2] | out[3] << 32   when i is odd
 *
 * For a fixed seed, distinct (stream key, block) pairs are distinct
 * counters, and Philox is a bijection of the counter under one key: two
 * streams never share an input block, so they cannot overlap, whatever
 * their lengths (up to 2^64 draws each).  Independence between the
 * outputs of distinct counters is Philox's design property.
 *
 * The stream key of a task is pr_rng_key(id): the 64-bit FNV-1a hash of
 * the id's bytes.  Stream key 0 is reserved for the index form of
 * `randsum` (u(seed, i) = draw i of stream 0).
 *
 * Doubles are (draw >> 11) * 2^-53: the 53 top bits, a multiple of 2^-53
 * in [0, 1), so every double in a stream is exact and host-independent.
 *
 * Nothing here allocates or fails; a struct pr_rng is a plain value that
 * may be copied.  It is not thread-safe: one stream per thread (threads
 * that fill parts of one array each seek their own copy).
 */
#ifndef PR_RNG_H
#define PR_RNG_H

#include <stddef.h>
#include <stdint.h>

struct pr_rng {
	uint64_t seed;
	uint64_t stream;	/* the stream key */
	uint64_t next;		/* index of the next draw */
	uint64_t blk;		/* block in out[], or UINT64_MAX */
	uint64_t out[2];
};

/* The raw block function: out = philox4x32_10(key, ctr). */
void pr_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2],
    uint32_t out[4]);

/* FNV-1a (64 bit) of s[0..n): the stream key of a task id. */
uint64_t pr_rng_key(const void *s, size_t n);

/* Start a stream at draw 0. */
void pr_rng_init(struct pr_rng *r, uint64_t seed, uint64_t stream);

/* Move to draw `index` (random access, O(1)). */
void pr_rng_seek(struct pr_rng *r, uint64_t index);

static inline uint64_t
pr_rng_tell(const struct pr_rng *r)
{
	return r->next;
}

/* Draw `index` of stream (seed, stream), without a struct pr_rng. */
uint64_t pr_rng_at(uint64_t seed, uint64_t stream, uint64_t index);

/* The next draw, and the next draw as a double in [0, 1). */
uint64_t pr_rng_next_u64(struct pr_rng *r);

static inline double
pr_rng_u01(uint64_t draw)
{
	return (double)(int64_t)(draw >> 11) * 0x1.0p-53;
}

static inline double
pr_rng_next_double(struct pr_rng *r)
{
	return pr_rng_u01(pr_rng_next_u64(r));
}

/*
 * Bulk forms: the next n draws, exactly what n calls of next_u64 or
 * next_double would give, but several times faster (AVX2 when the CPU has
 * it; the values do not depend on it).  The stream advances by n.
 */
void pr_rng_fill_u64(struct pr_rng *r, uint64_t *out, size_t n);
void pr_rng_fill_double(struct pr_rng *r, double *out, size_t n);

#endif
