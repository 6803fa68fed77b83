/*
 * k_randsum.c - the `randsum` kernel: a sum of uniforms (the notes'
 * forfun / @distributed (+) loop).
 *
 * Owner: h5.
 *
 * Two forms:
 *	{"n": N}	draws 0..N-1 of the task's own stream (seed, FNV-1a of
 *			the task id)
 *	{"from": A, "to": B, "step": S}
 *			u(seed, i) for i = A, A+S, ... <= B, where u(seed, i)
 *			is draw i of stream 0 of the run's seed: the value of
 *			an index does not depend on the task, so a range cut
 *			into any chunks sums the same per-index values; an
 *			"n" beside them (--range chunks carry one) must be
 *			the number of indices
 *
 * The sum is exact: every uniform is k 2^-53 with k a 53-bit integer, so
 * the k are added as 128-bit integers (2^40 terms of 2^53 cannot
 * overflow) and the total is rounded to a double once.  That is more than
 * compensated summation gives (it is the correctly rounded sum), costs
 * less than a floating-point add per term, and makes the value of a task
 * independent of how the loop is blocked or vectorized.
 *
 * ctx->stop is looked at every STOP_EVERY chunks of draws.
 */
#include <inttypes.h>
#include <string.h>

#include "kernel.h"
#include "kutil.h"
#include "rng.h"

__extension__ typedef unsigned __int128 u128;

#define RANDSUM_MAX	1000000000000LL		/* 1e12 draws */
#define INDEX_MAX	9007199254740992LL	/* 2^53, exact in JSON */
#define CHUNK		1024
#define SPAN_STEP_MAX	16
#define STOP_EVERY	16	/* chunks (~40 us of draws) between looks at
				   ctx->stop */

/* Sum of the 53-bit integers of draws start..start+count-1 of a stream;
 * the indices must not pass 2^64 - 1.  Stops early (a partial sum) when
 * *stop is set. */
static u128
sum_run(uint64_t seed, uint64_t stream, uint64_t start, uint64_t count,
    const atomic_int *stop)
{
	uint64_t buf[CHUNK];
	struct pr_rng r;
	u128 tot = 0;
	unsigned k = 0;
	size_t first;

	pr_rng_init(&r, seed, stream);
	pr_rng_seek(&r, start);
	/* the fills start at an even draw (a whole Philox block), so that
	 * each fill of CHUNK draws is whole 8-block AVX2 groups: from an odd
	 * start every fill had a scalar head and tail, 14% slower (--range
	 * chunks start at odd indices) */
	first = CHUNK - (size_t)(start & 1);
	while (count > 0) {
		size_t m = count < first ? (size_t)count : first, i;
		uint64_t part = 0;	/* 1024 terms < 2^63 */

		first = CHUNK;
		if (++k % STOP_EVERY == 0 && pr_kstop_set(stop))
			break;

		pr_rng_fill_u64(&r, buf, m);
		for (i = 0; i < m; i++)
			part += buf[i] >> 11;
		tot += part;
		count -= m;
	}
	return tot;
}

/* The same for indices start, start+step, ... (count of them), none
 * passing 2^64 - 1. */
static u128
sum_strided(uint64_t seed, uint64_t stream, uint64_t start, uint64_t step,
    uint64_t count, const atomic_int *stop)
{
	uint64_t buf[CHUNK];
	struct pr_rng r;
	u128 tot = 0;
	unsigned k = 0;

	if (step == 1)
		return sum_run(seed, stream, start, count, stop);
	if (step > SPAN_STEP_MAX) {
		for (; count > 0; count--, start += step) {
			if (++k % (STOP_EVERY * CHUNK) == 0 &&
			    pr_kstop_set(stop))
				break;
			tot += pr_rng_at(seed, stream, start) >> 11;
		}
		return tot;
	}
	/* short steps: fill the span, take every step-th draw */
	pr_rng_init(&r, seed, stream);
	while (count > 0) {
		uint64_t m = CHUNK / step, i, part = 0;

		if (++k % STOP_EVERY == 0 && pr_kstop_set(stop))
			break;

		if (m > count)
			m = count;
		pr_rng_seek(&r, start);
		pr_rng_fill_u64(&r, buf, (size_t)((m - 1) * step + 1));
		for (i = 0; i < m; i++)
			part += buf[i * step] >> 11;
		tot += part;
		count -= m;
		start += m * step;
	}
	return tot;
}

static double
to_double(u128 k)
{
	/* one rounding (to nearest), then an exact scaling */
	return (double)k * 0x1.0p-53;
}

static int
add_metrics(struct pr_kctx *ctx, uint64_t count, double secs)
{
	return pr_kmetrics(ctx, "randsum", "\"count\":%" PRIu64
	    ",\"seconds\":%.9g", count, secs);
}

static int
randsum_run(const cJSON *params, struct pr_kctx *ctx)
{
	const cJSON *pf = NULL, *pt = NULL, *pn = NULL;
	int64_t n = 0, from = 0, to = 0, step = 1;
	uint64_t count, neg;
	u128 tot = 0;
	double t0;
	int rc;

	if (cJSON_IsObject(params)) {
		pn = cJSON_GetObjectItemCaseSensitive(params, "n");
		pf = cJSON_GetObjectItemCaseSensitive(params, "from");
		pt = cJSON_GetObjectItemCaseSensitive(params, "to");
	}
	if (pf == NULL && pt == NULL) {
		rc = pr_kparam_int(params, "randsum", "n", 0, RANDSUM_MAX,
		    false, &n, ctx->eb);
		if (rc < 0)
			return rc;
		t0 = pr_ktime();
		tot = sum_run(ctx->seed, pr_kstream(ctx), 0, (uint64_t)n,
		    ctx->stop);
		if (pr_kstopped(ctx))
			return pr_kstopped_err(ctx, "randsum");
		ctx->has_value = true;
		ctx->value = to_double(tot);
		return add_metrics(ctx, (uint64_t)n, pr_ktime() - t0);
	}
	if ((rc = pr_kparam_int(params, "randsum", "from", -INDEX_MAX,
	    INDEX_MAX, false, &from, ctx->eb)) < 0 ||
	    (rc = pr_kparam_int(params, "randsum", "to", -INDEX_MAX,
	    INDEX_MAX, false, &to, ctx->eb)) < 0 ||
	    (rc = pr_kparam_int(params, "randsum", "step", 1, INDEX_MAX,
	    true, &step, ctx->eb)) < 0)
		return rc;
	count = to < from ? 0 : (uint64_t)(to - from) / (uint64_t)step + 1;
	/* --range chunks also carry "n", the count: it must agree */
	if (pn != NULL && (pr_kparam_int(params, "randsum", "n", 0,
	    RANDSUM_MAX, false, &n, ctx->eb) < 0 || (uint64_t)n != count))
		return pr_err(ctx->eb, PR_EBADINPUT, "kernel 'randsum': "
		    "parameter 'n' must be the number of indices from 'from' "
		    "to 'to' (%" PRIu64 ")", count);
	if (count > (uint64_t)RANDSUM_MAX)
		return pr_err(ctx->eb, PR_EBADINPUT, "kernel 'randsum': "
		    "parameters 'from', 'to' and 'step' give %" PRIu64
		    " indices, more than %lld", count, RANDSUM_MAX);
	t0 = pr_ktime();
	/* negative indices are draws 2^64 + i: sum them apart, so that no
	 * run of draws wraps around 2^64 */
	neg = 0;
	if (count > 0 && from < 0)
		neg = (uint64_t)(-1 - from) / (uint64_t)step + 1;
	if (neg > count)
		neg = count;
	if (neg > 0)
		tot += sum_strided(ctx->seed, 0, (uint64_t)from,
		    (uint64_t)step, neg, ctx->stop);
	if (count > neg)
		tot += sum_strided(ctx->seed, 0, (uint64_t)(from +
		    (int64_t)neg * step), (uint64_t)step, count - neg,
		    ctx->stop);
	if (pr_kstopped(ctx))
		return pr_kstopped_err(ctx, "randsum");
	ctx->has_value = true;
	ctx->value = to_double(tot);
	return add_metrics(ctx, count, pr_ktime() - t0);
}

const struct pr_kernel pr_kernel_randsum = {
	.name = "randsum",
	.summary = "exact sum of uniforms: n draws of the task's stream, or "
	    "u(seed, i) for i in from..to (step)",
	.flags = 0,
	.run = randsum_run,
	.state_free = NULL,
};
