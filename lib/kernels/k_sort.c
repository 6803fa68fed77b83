/*
 * k_sort.c - the `sort` kernel and the parallel sort of doubles.
 *
 * Owner: h5.
 *
 * The notes' psort! is a parallel merge sort with a serial cutoff.  Here a
 * least-significant-digit radix sort does the work instead: doubles are
 * mapped to unsigned 64-bit keys whose integer order is the numeric order
 * (flip every bit of a negative number, only the sign bit of a positive
 * one), and the keys are sorted by RADIX_BITS-bit digits, least
 * significant first, each pass a stable counting scatter.  That is O(n)
 * work with sequential reads, where a merge sort does log2(n) ~ 23
 * comparison passes for n = 1e7.
 *
 * Parallel passes: thread t owns the slice [n t / T, n (t+1) / T) of the
 * source.  It counts the digits of its slice; after a barrier every thread
 * derives, from all the counts, where its elements of each digit go (after
 * the same digit of threads < t, which keeps the pass stable) and
 * scatters its slice; a second barrier ends the pass.  Counts for the
 * first pass come from one read-only pre-pass that also counts every other
 * digit of the whole array, so a digit that is the same in every key is
 * skipped.  The first pass reads doubles and makes keys on the fly; the
 * last writes doubles back.
 *
 * NaNs: the key of a NaN is made from the NaN with its sign cleared, so
 * every NaN sorts after +inf, payload kept.  -0.0 sorts before +0.0.
 *
 * The kernel looks at ctx->stop while it fills, between radix passes and
 * before the check.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "kernel.h"
#include "kutil.h"
#include "rng.h"

#define RADIX_BITS	9	/* the widest digit */
#define RADIX		(1u << RADIX_BITS)
#define NPASS		((64 + RADIX_BITS - 1) / RADIX_BITS)
#define SIGN		((uint64_t)1 << 63)
#define ABS		(~SIGN)
#define INF_BITS	((uint64_t)0x7FF0000000000000)
#define INSERTION_MAX	48

static inline uint64_t
to_key(uint64_t u)
{
	/* a NaN loses its sign */
	uint64_t nan = (uint64_t)0 - (uint64_t)((u & ABS) > INF_BITS);

	u &= ~(nan & SIGN);
	return u ^ ((uint64_t)((int64_t)u >> 63) | SIGN);
}

static inline uint64_t
from_key(uint64_t k)
{
	return k ^ (((k >> 63) - 1) | SIGN);
}

static inline uint64_t
ld(const void *base, size_t i)
{
	uint64_t u;

	memcpy(&u, (const unsigned char *)base + 8 * i, 8);
	return u;
}

static inline void
st(void *base, size_t i, uint64_t u)
{
	memcpy((unsigned char *)base + 8 * i, &u, 8);
}

struct sort_job {
	void *x, *tmp;
	size_t n;
	size_t (*cnt)[RADIX];	/* this pass's digit counts, per thread */
	uint64_t or_[PR_KTEAM_MAX], and_[PR_KTEAM_MAX];
	int shift[NPASS];	/* the digits to sort by, in order */
	int width[NPASS];
	int nactive;
	const atomic_int *stop;	/* NULL, or: give up between passes */
	atomic_int quit;	/* member 0 read stop (same pass for all) */
};

/*
 * Count digit `shift` of keys src[lo..hi) into cnt.  first: src holds
 * doubles, and the OR and AND of all keys go to *or_ and *and_.  Two
 * interleaved tables: the top digits of uniform data are nearly constant,
 * and one table would make every increment wait for the previous one to
 * the same counter.
 */
static inline void
count(const void *src, size_t lo, size_t hi, int shift, uint64_t mask,
    size_t *cnt, int first, uint64_t *or_, uint64_t *and_)
{
	size_t c2[RADIX] = { 0 };
	uint64_t o = 0, n = UINT64_MAX;
	size_t i, b;

	memset(cnt, 0, (mask + 1) * sizeof(*cnt));
	for (i = lo; i + 1 < hi; i += 2) {
		uint64_t a = ld(src, i), c = ld(src, i + 1);

		if (first) {
			a = to_key(a);
			c = to_key(c);
			o |= a | c;
			n &= a & c;
		}
		cnt[(a >> shift) & mask]++;
		c2[(c >> shift) & mask]++;
	}
	if (i < hi) {
		uint64_t a = ld(src, i);

		if (first) {
			a = to_key(a);
			o |= a;
			n &= a;
		}
		cnt[(a >> shift) & mask]++;
	}
	for (b = 0; b <= mask; b++)
		cnt[b] += c2[b];
	if (first) {
		*or_ = o;
		*and_ = n;
	}
}

/* One scatter of keys src[lo..hi) by the digit at `shift`; first: src
 * holds doubles; last: write doubles. */
static inline void
scatter(const void *src, void *dst, size_t lo, size_t hi, int shift,
    uint64_t mask, size_t *off, int first, int last)
{
	size_t i;

	for (i = lo; i < hi; i++) {
		uint64_t k = ld(src, i);
		size_t d;

		if (first)
			k = to_key(k);
		d = (size_t)((k >> shift) & mask);
		st(dst, off[d]++, last ? from_key(k) : k);
	}
}

static void
sort_part(void *arg, int id, int nth, struct pr_kteam *team)
{
	struct sort_job *j = arg;
	size_t lo = pr_kpart(j->n, id, nth), hi = pr_kpart(j->n, id + 1, nth);
	size_t off[RADIX];
	void *src = j->x, *dst = j->tmp, *sw;
	uint64_t o, a, diff;
	size_t b;
	int p, t;

	/* pre-pass: the counts of the lowest 9 bits, and which bits differ
	 * between keys: only the span of bits that differ is sorted, cut in
	 * digits of at most 9 bits (a 512-entry table and 512 write streams
	 * stay in L1; 10 bits and more miss, measured in tests/bench) */
	count(j->x, lo, hi, 0, RADIX - 1, j->cnt[id], 1, &o, &a);
	j->or_[id] = o;
	j->and_[id] = a;
	pr_kteam_barrier(team);
	if (id == 0) {
		int lob, hib, span, np, w;

		for (t = 1; t < nth; t++) {
			o |= j->or_[t];
			a &= j->and_[t];
		}
		diff = o ^ a;
		j->nactive = 0;
		if (diff != 0) {
			lob = __builtin_ctzll(diff);
			hib = 63 - __builtin_clzll(diff);
			span = hib - lob + 1;
			np = (span + RADIX_BITS - 1) / RADIX_BITS;
			for (p = 0; p < np; p++) {
				uint64_t m;

				/* near-equal widths, the wider ones last */
				w = span / np + (p >= np - span % np);
				m = ((uint64_t)1 << w) - 1;
				if (((diff >> lob) & m) != 0) {
					j->shift[j->nactive] = lob;
					j->width[j->nactive++] = w;
				}
				lob += w;
			}
		}
	}
	pr_kteam_barrier(team);
	for (p = 0; p < j->nactive; p++) {
		int shift = j->shift[p];
		uint64_t mask = ((uint64_t)1 << j->width[p]) - 1;
		int first = p == 0, last = p == j->nactive - 1;
		size_t base = 0;

		/* the pre-pass counted digit (0, 9 bits) */
		if (!first || shift != 0 || mask != RADIX - 1)
			count(src, lo, hi, shift, mask, j->cnt[id], first,
			    &o, &a);
		pr_kteam_barrier(team);
		for (b = 0; b <= mask; b++) {
			size_t before = 0, tot = 0;

			for (t = 0; t < nth; t++) {
				if (t < id)
					before += j->cnt[t][b];
				tot += j->cnt[t][b];
			}
			off[b] = base + before;
			base += tot;
		}
		if (first && last)
			scatter(src, dst, lo, hi, shift, mask, off, 1, 1);
		else if (first)
			scatter(src, dst, lo, hi, shift, mask, off, 1, 0);
		else if (last)
			scatter(src, dst, lo, hi, shift, mask, off, 0, 1);
		else
			scatter(src, dst, lo, hi, shift, mask, off, 0, 0);
		/* one member decides, before the barrier, so that every
		 * member leaves after the same pass */
		if (id == 0 && pr_kstop_set(j->stop))
			atomic_store(&j->quit, 1);
		pr_kteam_barrier(team);
		sw = src;
		src = dst;
		dst = sw;
		if (atomic_load(&j->quit))
			return;
	}
	/* an odd number of passes leaves the result in tmp */
	if (src != j->x)
		memcpy((unsigned char *)j->x + 8 * lo,
		    (const unsigned char *)src + 8 * lo, 8 * (hi - lo));
}

static void
insertion(double *x, double *tmp, size_t n)
{
	size_t i, k;

	for (i = 0; i < n; i++) {
		uint64_t v = to_key(ld(x, i));

		for (k = i; k > 0 && ld(tmp, k - 1) > v; k--)
			st(tmp, k, ld(tmp, k - 1));
		st(tmp, k, v);
	}
	for (i = 0; i < n; i++)
		st(x, i, from_key(ld(tmp, i)));
}

int
pr_sort_doubles(double *x, double *tmp, size_t n, int nth)
{
	return pr_sort_doubles_stop(x, tmp, n, nth, NULL);
}

int
pr_sort_doubles_stop(double *x, double *tmp, size_t n, int nth,
    const atomic_int *stop)
{
	struct sort_job j;

	if (n <= INSERTION_MAX) {
		insertion(x, tmp, n);
		return 1;
	}
	if (n < PR_SORT_SERIAL || nth < 1)
		nth = 1;
	if (nth > 64)
		nth = 64;
	if ((size_t)nth > n / 4096 + 1)
		nth = (int)(n / 4096 + 1);
	memset(&j, 0, sizeof(j));
	j.x = x;
	j.tmp = tmp;
	j.n = n;
	j.stop = stop;
	atomic_init(&j.quit, 0);
	j.cnt = malloc((size_t)nth * sizeof(*j.cnt));
	if (j.cnt == NULL)
		return -ENOMEM;
	nth = pr_kteam_run(nth, sort_part, &j);
	free(j.cnt);
	return atomic_load(&j.quit) ? -ECANCELED : nth;
}

struct check_job {
	const double *x;
	size_t n;
	bool bad[PR_KTEAM_MAX];
};

static inline bool
neg_nan(uint64_t u)
{
	return (u & SIGN) != 0 && (u & ABS) > INF_BITS;
}

static void
check_part(void *arg, int id, int nth, struct pr_kteam *team)
{
	struct check_job *j = arg;
	size_t lo = pr_kpart(j->n, id, nth), hi = pr_kpart(j->n, id + 1, nth);
	size_t i;
	bool bad = false;

	(void)team;
	for (i = lo; i < hi; i++) {
		uint64_t u = ld(j->x, i);

		/* sorted output holds no NaN with the sign set */
		bad |= neg_nan(u);
		if (i > 0)
			bad |= to_key(ld(j->x, i - 1)) > to_key(u);
	}
	j->bad[id] = bad;
}

bool
pr_sort_is_sorted(const double *x, size_t n, int nth)
{
	struct check_job j;
	int i, used;

	j.x = x;
	j.n = n;
	if (n < PR_SORT_SERIAL)
		nth = 1;
	used = pr_kteam_run(nth, check_part, &j);
	for (i = 0; i < used; i++)
		if (j.bad[i])
			return false;
	return true;
}

/* ---- the kernel ------------------------------------------------------- */

#define SORT_MAX	200000000

struct sort_state {
	struct pr_kbuf x, tmp;
};

static void
sort_state_free(void *p)
{
	struct sort_state *s = p;

	if (s == NULL)
		return;
	pr_kbuf_release(&s->x);
	pr_kbuf_release(&s->tmp);
	free(s);
}

static int
sort_run(const cJSON *params, struct pr_kctx *ctx)
{
	struct sort_state *s;
	int64_t n = 0;
	size_t bytes, more;
	double t0, t1;
	int nth, used, rc;

	rc = pr_kparam_int(params, "sort", "n", 1, SORT_MAX, false, &n,
	    ctx->eb);
	if (rc < 0)
		return rc;
	rc = pr_kthreads(params, "sort", ctx, &nth);
	if (rc < 0)
		return rc;
	s = *ctx->state;
	if (s == NULL) {
		s = calloc(1, sizeof(*s));
		if (s == NULL)
			return pr_err(ctx->eb, -ENOMEM, "kernel 'sort': out of "
			    "memory");
		*ctx->state = s;
	}
	bytes = (size_t)n * sizeof(double);
	more = (bytes > s->x.cap ? bytes : 0) + (bytes > s->tmp.cap ? bytes :
	    0);
	rc = pr_kmem_check(more, "sort", "n", ctx->eb);
	if (rc < 0)
		return rc;
	if (pr_kbuf_reserve(&s->x, bytes) < 0 ||
	    pr_kbuf_reserve(&s->tmp, bytes) < 0)
		return pr_err(ctx->eb, -ENOMEM, "kernel 'sort': cannot map "
		    "%zu MiB for n=%" PRId64, 2 * bytes >> 20, n);
	if (pr_kfill_double_stop(s->x.p, (size_t)n, ctx->seed,
	    pr_kstream(ctx), nth, ctx->stop) < 0)
		return pr_kstopped_err(ctx, "sort");
	t0 = pr_ktime();
	used = pr_sort_doubles_stop(s->x.p, s->tmp.p, (size_t)n, nth,
	    ctx->stop);
	t1 = pr_ktime();
	if (used == -ECANCELED || pr_kstopped(ctx))
		return pr_kstopped_err(ctx, "sort");
	if (used < 0)
		return pr_err(ctx->eb, used, "kernel 'sort': out of memory");
	if (!pr_sort_is_sorted(s->x.p, (size_t)n, nth))
		return pr_err(ctx->eb, PR_EKERNEL, "kernel 'sort': result "
		    "is not sorted");
	ctx->has_value = true;
	ctx->value = ((double *)s->x.p)[((size_t)n - 1) / 2];
	return pr_kmetrics(ctx, "sort", "\"seconds\":%.9g,\"threads\":%d",
	    t1 - t0, used);
}

const struct pr_kernel pr_kernel_sort = {
	.name = "sort",
	.summary = "parallel LSD radix sort of n uniform doubles "
	    "(n, threads): value = the lower median",
	.flags = 0,
	.run = sort_run,
	.state_free = sort_state_free,
};
