/* test_reduce.c - lib/reduce.c: each op, compensated sums, deterministic
 * order. */
#include "test.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>

#include "buf.h"
#include "err.h"
#include "reduce.h"

static double
result_of(struct pr_reduce *r, uint64_t *count)
{
	double v = -12345;

	ASSERT_OK(pr_reduce_result(r, &v, count));
	return v;
}

static char *
format_of(struct pr_reduce *r)
{
	struct pr_buf b;

	pr_buf_init(&b, 0);
	ASSERT_OK(pr_buf_add(&b, "", 0));
	ASSERT_OK(pr_reduce_format(r, &b));
	return pr_buf_detach(&b, NULL);
}

/* Feed 1..n with values v[i], skipping where skip[i]. */
static struct pr_reduce *
feed(enum pr_reduce_op op, bool det, const double *v, const bool *has,
    size_t n)
{
	struct pr_reduce *r = pr_reduce_new(op, det);

	ASSERT(r != NULL);
	for (size_t i = 0; i < n; i++) {
		if (has != NULL && !has[i])
			ASSERT_OK(pr_reduce_skip(r, i + 1));
		else
			ASSERT_OK(pr_reduce_add(r, i + 1, v[i], true));
	}
	return r;
}

TEST(reduce_op_parse)
{
	enum pr_reduce_op op;
	struct pr_errbuf eb = { 0 };
	static const char *const names[] = { "sum", "prod", "min", "max",
	    "mean", "count", "concat" };

	for (size_t i = 0; i < 7; i++) {
		ASSERT_OK(pr_reduce_op_parse(names[i], &op, NULL));
		ASSERT_STR_EQ(pr_reduce_op_name(op), names[i]);
	}
	ASSERT_EQ(pr_reduce_op_parse("avg", &op, &eb), PR_ECONFIG);
	ASSERT(strstr(eb.msg, "'avg'") != NULL);
	ASSERT(strstr(eb.msg, "sum, prod, min, max, mean, count, concat"));
	ASSERT_EQ(pr_reduce_op_parse("", &op, NULL), PR_ECONFIG);
}

TEST(reduce_each_op)
{
	static const double v[] = { 3, -1.5, 8, 0.25, 2 };
	static const bool has[] = { true, true, false, true, true };
	struct pr_reduce *r;
	uint64_t n;
	char *s;

	for (int det = 0; det <= 1; det++) {
		r = feed(PR_REDUCE_SUM, det, v, has, 5);
		ASSERT_DBL_NEAR(result_of(r, &n), 3.75, 0);
		ASSERT_U64_EQ(n, 4);
		pr_reduce_free(r);
		r = feed(PR_REDUCE_PROD, det, v, has, 5);
		ASSERT_DBL_NEAR(result_of(r, &n), -2.25, 0);
		pr_reduce_free(r);
		r = feed(PR_REDUCE_MIN, det, v, has, 5);
		ASSERT_DBL_NEAR(result_of(r, &n), -1.5, 0);
		pr_reduce_free(r);
		r = feed(PR_REDUCE_MAX, det, v, has, 5);
		ASSERT_DBL_NEAR(result_of(r, &n), 3, 0);	/* 8 skipped */
		pr_reduce_free(r);
		r = feed(PR_REDUCE_MEAN, det, v, has, 5);
		ASSERT_DBL_NEAR(result_of(r, &n), 3.75 / 4, 0);
		ASSERT_U64_EQ(n, 4);
		pr_reduce_free(r);
		r = feed(PR_REDUCE_COUNT, det, v, has, 5);
		ASSERT_DBL_NEAR(result_of(r, &n), 4, 0);
		s = format_of(r);
		ASSERT_STR_EQ(s, "4");
		free(s);
		pr_reduce_free(r);
		r = feed(PR_REDUCE_CONCAT, det, v, has, 5);
		ASSERT(isnan(result_of(r, &n)));
		ASSERT_U64_EQ(n, 4);
		s = format_of(r);
		ASSERT_STR_EQ(s, "3\n-1.5\n0.25\n2");
		free(s);
		pr_reduce_free(r);
	}
}

TEST(reduce_count_counts_ok_without_value)
{
	struct pr_reduce *r = pr_reduce_new(PR_REDUCE_COUNT, false);
	struct pr_reduce *s = pr_reduce_new(PR_REDUCE_SUM, false);
	uint64_t n;

	ASSERT_OK(pr_reduce_add(r, 1, 0, false));
	ASSERT_OK(pr_reduce_add(r, 2, 5, true));
	ASSERT_OK(pr_reduce_skip(r, 3));
	ASSERT_DBL_NEAR(result_of(r, &n), 2, 0);
	ASSERT_U64_EQ(n, 2);
	/* other ops fold only values */
	ASSERT_OK(pr_reduce_add(s, 1, 0, false));
	ASSERT_OK(pr_reduce_add(s, 2, 5, true));
	ASSERT_DBL_NEAR(result_of(s, &n), 5, 0);
	ASSERT_U64_EQ(n, 1);
	pr_reduce_free(r);
	pr_reduce_free(s);
}

TEST(reduce_empty)
{
	static const enum pr_reduce_op ops[] = { PR_REDUCE_SUM,
	    PR_REDUCE_PROD, PR_REDUCE_MIN, PR_REDUCE_MAX, PR_REDUCE_MEAN,
	    PR_REDUCE_COUNT, PR_REDUCE_CONCAT };
	static const char *const want[] = { "0", "1", "nan", "nan", "nan",
	    "0", "" };

	for (size_t i = 0; i < 7; i++) {
		struct pr_reduce *r = pr_reduce_new(ops[i], true);
		uint64_t n = 99;
		char *s;

		ASSERT_OK(pr_reduce_skip(r, 1));
		(void)result_of(r, &n);
		ASSERT_U64_EQ(n, 0);
		s = format_of(r);
		ASSERT_STR_EQ(s, want[i]);
		free(s);
		pr_reduce_free(r);
	}
}

TEST(reduce_nonfinite)
{
	struct pr_reduce *r = pr_reduce_new(PR_REDUCE_SUM, true);
	char *s;

	ASSERT_OK(pr_reduce_add(r, 1, 1, true));
	ASSERT_OK(pr_reduce_add(r, 2, INFINITY, true));
	ASSERT_OK(pr_reduce_add(r, 3, 1, true));
	ASSERT(isinf(result_of(r, NULL)));
	s = format_of(r);
	ASSERT_STR_EQ(s, "inf");
	free(s);
	pr_reduce_free(r);
	/* min/max ignore NaN */
	r = pr_reduce_new(PR_REDUCE_MIN, false);
	ASSERT_OK(pr_reduce_add(r, 1, NAN, true));
	ASSERT_OK(pr_reduce_add(r, 2, 4, true));
	ASSERT_OK(pr_reduce_add(r, 3, NAN, true));
	ASSERT_DBL_NEAR(result_of(r, NULL), 4, 0);
	pr_reduce_free(r);
}

TEST(reduce_sum_compensated)
{
	struct pr_reduce *r;
	double naive = 1e16;
	uint64_t n;

	/* 1e16 then a million 0.1: a plain loop never moves off 1e16 */
	for (int det = 0; det <= 1; det++) {
		r = pr_reduce_new(PR_REDUCE_SUM, det);
		ASSERT_OK(pr_reduce_add(r, 1, 1e16, true));
		for (uint64_t i = 2; i <= 1000001; i++)
			ASSERT_OK(pr_reduce_add(r, i, 0.1, true));
		ASSERT(result_of(r, &n) == 10000000000100000.0);
		ASSERT_U64_EQ(n, 1000001);
		pr_reduce_free(r);
	}
	for (int i = 0; i < 1000000; i++)
		naive += 0.1;
	ASSERT(naive == 1e16);

	/* big terms that cancel must not swallow the small ones */
	r = pr_reduce_new(PR_REDUCE_SUM, false);
	ASSERT_OK(pr_reduce_add(r, 1, 1.0, true));
	ASSERT_OK(pr_reduce_add(r, 2, 1e100, true));
	ASSERT_OK(pr_reduce_add(r, 3, 1.0, true));
	ASSERT_OK(pr_reduce_add(r, 4, -1e100, true));
	ASSERT(result_of(r, NULL) == 2.0);
	pr_reduce_free(r);

	/* mean of the same */
	r = pr_reduce_new(PR_REDUCE_MEAN, false);
	for (uint64_t i = 1; i <= 10; i++)
		ASSERT_OK(pr_reduce_add(r, i, 0.1, true));
	ASSERT(result_of(r, NULL) == 0.1);
	pr_reduce_free(r);
}

static uint64_t rng_state = 88172645463325252ULL;

static uint64_t
xorshift(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static void
permute(size_t *p, size_t n)
{
	for (size_t i = n - 1; i > 0; i--) {
		size_t j = (size_t)(xorshift() % (i + 1));
		size_t t = p[i];

		p[i] = p[j];
		p[j] = t;
	}
}

/* The same values arriving in different orders: bit-identical results. */
TEST(reduce_deterministic_bit_identical)
{
	enum { N = 20000 };
	static double v[N];
	static bool skip[N];
	static size_t order[N];
	static const enum pr_reduce_op ops[] = { PR_REDUCE_SUM,
	    PR_REDUCE_MEAN, PR_REDUCE_PROD };
	bool some_differ = false;

	for (size_t i = 0; i < N; i++) {
		/* wide magnitudes and both signs, so order matters */
		double m = (double)(xorshift() >> 11) / 9007199254740992.0;
		int e = (int)(xorshift() % 40) - 20;

		v[i] = ldexp(m, e) * ((xorshift() & 1) ? 1 : -1);
		skip[i] = xorshift() % 10 == 0;
	}
	for (size_t k = 0; k < 3; k++) {
		double first = 0, got, nondet_first = 0;
		uint64_t nfirst = 0, n;

		for (int perm = 0; perm < 6; perm++) {
			struct pr_reduce *r = pr_reduce_new(ops[k], true);
			struct pr_reduce *u = pr_reduce_new(ops[k], false);

			for (size_t i = 0; i < N; i++)
				order[i] = i;
			if (perm > 0)
				permute(order, N);
			for (size_t i = 0; i < N; i++) {
				size_t j = order[i];
				/* products of 20000 values: keep them near 1 */
				double x = ops[k] == PR_REDUCE_PROD ?
				    1 + v[j] * 1e-6 : v[j];

				if (skip[j]) {
					ASSERT_OK(pr_reduce_skip(r, j + 1));
					ASSERT_OK(pr_reduce_skip(u, j + 1));
				} else {
					ASSERT_OK(pr_reduce_add(r, j + 1, x,
					    true));
					ASSERT_OK(pr_reduce_add(u, j + 1, x,
					    true));
				}
			}
			got = result_of(r, &n);
			if (perm == 0) {
				first = got;
				nfirst = n;
				nondet_first = result_of(u, NULL);
			} else {
				ASSERT_MEM_EQ(&got, &first, sizeof(got));
				ASSERT_U64_EQ(n, nfirst);
				if (ops[k] == PR_REDUCE_PROD &&
				    result_of(u, NULL) != nondet_first)
					some_differ = true;
			}
			pr_reduce_free(r);
			pr_reduce_free(u);
		}
	}
	/* the point of deterministic mode: arrival order does change a
	 * plain fold's last bits */
	ASSERT(some_differ);
}

TEST(reduce_deterministic_gaps_and_errors)
{
	struct pr_reduce *r = pr_reduce_new(PR_REDUCE_CONCAT, false);
	uint64_t n;
	char *s;

	pr_reduce_set_first_seq(r, 10);
	ASSERT_OK(pr_reduce_add(r, 13, 3, true));
	ASSERT_OK(pr_reduce_add(r, 11, 1, true));
	ASSERT_EQ(pr_reduce_add(r, 11, 1, true), -EINVAL);	/* twice */
	ASSERT_OK(pr_reduce_add(r, 10, 0.5, true));
	ASSERT_EQ(pr_reduce_skip(r, 10), -EINVAL);		/* folded */
	/* 12 never comes (the run stopped): result folds over the gap,
	 * without consuming what waits */
	(void)result_of(r, &n);
	ASSERT_U64_EQ(n, 3);
	s = format_of(r);
	ASSERT_STR_EQ(s, "0.5\n1\n3");
	free(s);
	ASSERT_OK(pr_reduce_add(r, 12, 2, true));
	s = format_of(r);
	ASSERT_STR_EQ(s, "0.5\n1\n2\n3");
	free(s);
	ASSERT_EQ(pr_reduce_add(r, (uint64_t)1 << 40, 1, true), PR_ELIMIT);
	pr_reduce_free(r);
}

TEST(reduce_ring_grows)
{
	struct pr_reduce *r = pr_reduce_new(PR_REDUCE_SUM, true);
	uint64_t n;

	/* far ahead first, then everything before it */
	for (uint64_t i = 100000; i >= 1; i--)
		ASSERT_OK(pr_reduce_add(r, i, (double)i, true));
	ASSERT(result_of(r, &n) == 5000050000.0);
	ASSERT_U64_EQ(n, 100000);
	pr_reduce_free(r);
	pr_reduce_free(NULL);
}
