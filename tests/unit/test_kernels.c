/*
 * test_kernels.c - the compute kernels (chol, randsum, sort, map) and
 * their helpers, against independent computations.
 *
 * Owner: h5.  Small sizes only: the whole file runs in about a second.
 */
#include <dlfcn.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "buf.h"
#include "err.h"
#include "kernel.h"
#include "kernels/kutil.h"
#include "rng.h"
#include "test.h"

extern const struct pr_kernel pr_kernel_chol;
extern const struct pr_kernel pr_kernel_randsum;
extern const struct pr_kernel pr_kernel_sort;
extern const struct pr_kernel pr_kernel_map;

__extension__ typedef unsigned __int128 u128;

struct krun {
	void *state;
	struct pr_buf extra;
	struct pr_errbuf eb;
	double value;
	bool has_value;
	const atomic_int *stop;	/* ctx->stop (krun_init: NULL) */
};

/* Run kernel k on the JSON text `params` as task `id`. */
static int
krun(const struct pr_kernel *k, struct krun *r, const char *params,
    uint64_t seed, const char *id, int threads)
{
	struct pr_kctx ctx;
	cJSON *p = NULL;
	int rc;

	if (params != NULL) {
		p = cJSON_Parse(params);
		if (p == NULL)
			PR_TEST_FAIL("bad test JSON: %s", params);
	}
	memset(&ctx, 0, sizeof(ctx));
	ctx.task_id = id;
	ctx.seq = 1;
	ctx.seed = seed;
	ctx.threads = threads;
	ctx.state = &r->state;
	ctx.stop = r->stop;
	pr_buf_reset(&r->extra);
	memset(&r->eb, 0, sizeof(r->eb));
	ctx.extra = &r->extra;
	ctx.eb = &r->eb;
	rc = k->run(p, &ctx);
	r->value = ctx.value;
	r->has_value = ctx.has_value;
	cJSON_Delete(p);
	return rc;
}

static void
krun_init(struct krun *r)
{
	memset(r, 0, sizeof(*r));
	pr_buf_init(&r->extra, 0);
}

static void
krun_done(const struct pr_kernel *k, struct krun *r)
{
	if (k->state_free != NULL)
		k->state_free(r->state);
	r->state = NULL;
	pr_buf_release(&r->extra);
}

/* The metric `name` in the extra members, or NAN. */
static double
metric(struct krun *r, const char *name)
{
	struct pr_buf b;
	cJSON *o, *it;
	double v = NAN;

	pr_buf_init(&b, 0);
	pr_buf_addf(&b, "{%s}", r->extra.data ? r->extra.data : "");
	o = cJSON_Parse(b.data);
	if (o == NULL)
		PR_TEST_FAIL("extra is not JSON members: %s", b.data);
	it = cJSON_GetObjectItemCaseSensitive(o, name);
	if (cJSON_IsNumber(it))
		v = it->valuedouble;
	cJSON_Delete(o);
	pr_buf_release(&b);
	return v;
}

/* Every parameter text in bad[] fails with a message naming `want`. */
static void
expect_bad(const struct pr_kernel *k, const char *const *bad, size_t n,
    const char *want)
{
	struct krun r;
	size_t i;

	krun_init(&r);
	for (i = 0; i < n; i++) {
		int rc = krun(k, &r, bad[i], 1, "t", 2);

		if (rc >= 0)
			PR_TEST_FAIL("kernel '%s' accepted %s", k->name,
			    bad[i]);
		if (strstr(r.eb.msg, want) == NULL)
			PR_TEST_FAIL("kernel '%s', params %s: message '%s' "
			    "does not name %s", k->name, bad[i], r.eb.msg,
			    want);
		if (strstr(r.eb.msg, k->name) == NULL)
			PR_TEST_FAIL("message '%s' does not name the kernel",
			    r.eb.msg);
	}
	krun_done(k, &r);
}

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* ---- helpers ---------------------------------------------------------- */

TEST(kernels_kpart_covers)
{
	size_t n, s;
	int nth, id;

	for (n = 0; n < 50; n++) {
		for (nth = 1; nth < 9; nth++) {
			s = 0;
			for (id = 0; id < nth; id++) {
				ASSERT(pr_kpart(n, id, nth) <=
				    pr_kpart(n, id + 1, nth));
				s += pr_kpart(n, id + 1, nth) - pr_kpart(n, id,
				    nth);
			}
			ASSERT_EQ(s, n);
			ASSERT_EQ(pr_kpart(n, nth, nth), n);
		}
	}
	ASSERT_EQ(pr_kpart(SIZE_MAX, 1, 2), SIZE_MAX / 2);
}

struct team_probe {
	int seen[8];
	int sizes[8];
	int after[8];
};

static void
team_cb(void *arg, int id, int nth, struct pr_kteam *team)
{
	struct team_probe *p = arg;
	int i, n = 0;

	p->seen[id] = 1;
	p->sizes[id] = nth;
	pr_kteam_barrier(team);
	/* after the barrier everyone has arrived */
	for (i = 0; i < nth; i++)
		n += p->seen[i];
	p->after[id] = n;
}

TEST(kernels_team_runs_all_members)
{
	int nth, i, used;

	for (nth = 1; nth <= 8; nth++) {
		struct team_probe p;

		memset(&p, 0, sizeof(p));
		used = pr_kteam_run(nth, team_cb, &p);
		ASSERT_EQ(used, nth);
		for (i = 0; i < nth; i++) {
			ASSERT_EQ(p.seen[i], 1);
			ASSERT_EQ(p.sizes[i], nth);
			ASSERT_EQ(p.after[i], nth);
		}
	}
}

TEST(kernels_kbuf_grows_only)
{
	struct pr_kbuf b = { 0 };
	void *p;

	ASSERT_OK(pr_kbuf_reserve(&b, 100));
	ASSERT(b.p != NULL && b.cap >= 100);
	ASSERT_EQ((uintptr_t)b.p % ((uintptr_t)2 << 20), 0);
	memset(b.p, 1, 100);
	p = b.p;
	ASSERT_OK(pr_kbuf_reserve(&b, 50));
	ASSERT(b.p == p);
	ASSERT_OK(pr_kbuf_reserve(&b, b.cap));
	ASSERT(b.p == p);
	ASSERT_OK(pr_kbuf_reserve(&b, b.cap + 1));
	ASSERT(b.cap >= ((size_t)4 << 20));
	ASSERT(pr_kbuf_reserve(&b, SIZE_MAX - 5) < 0);
	ASSERT(b.p == NULL && b.cap == 0);
	pr_kbuf_release(&b);
	pr_kbuf_release(&b);
}

TEST(kernels_kmem_check)
{
	struct pr_errbuf eb;

	ASSERT(pr_kmem_available() > 0);
	ASSERT_OK(pr_kmem_check(0, "k", "n", NULL));
	ASSERT_OK(pr_kmem_check(1 << 20, "k", "n", NULL));
	memset(&eb, 0, sizeof(eb));
	ASSERT_EQ(pr_kmem_check(SIZE_MAX / 2, "k", "n", &eb), PR_ELIMIT);
	ASSERT(strstr(eb.msg, "kernel 'k': parameter 'n'") != NULL);
}

TEST(kernels_fill_independent_of_threads)
{
	enum { N = 300001 };
	static double a[N], b[N];
	struct pr_rng r;
	size_t i;

	pr_kfill_double(a, N, 9, 17, 1);
	pr_kfill_double(b, N, 9, 17, 3);
	ASSERT_MEM_EQ(a, b, sizeof(a));
	pr_rng_init(&r, 9, 17);
	for (i = 0; i < N; i += 9973)
		ASSERT(a[i] == pr_rng_u01(pr_rng_at(9, 17, i)));
}

/* ---- chol ------------------------------------------------------------- */

/* U[r][c] (0-based) of the Cholesky factor of X'X, by the textbook loops,
 * X from the task's stream in column-major order. */
static double
naive_chol(size_t n, uint64_t seed, const char *id, size_t r, size_t c)
{
	double *x = calloc(n * n, sizeof(double));
	double *z = calloc(n * n, sizeof(double));
	double v;
	struct pr_rng g;
	size_t i, j, k;

	ASSERT(x != NULL && z != NULL);
	pr_rng_init(&g, seed, pr_rng_key(id, strlen(id)));
	for (i = 0; i < n * n; i++)
		x[i] = pr_rng_next_double(&g);
	/* z[i][j] = sum_k x[k][i] x[k][j], x[k][i] = x[k + n i] */
	for (i = 0; i < n; i++)
		for (j = 0; j < n; j++) {
			long double s = 0;

			for (k = 0; k < n; k++)
				s += (long double)x[k + n * i] * x[k + n * j];
			z[i * n + j] = (double)s;
		}
	/* upper U, row-major in z: U[i][j] for j >= i */
	for (i = 0; i < n; i++) {
		long double s = z[i * n + i];

		for (k = 0; k < i; k++)
			s -= (long double)z[k * n + i] * z[k * n + i];
		ASSERT(s > 0);
		z[i * n + i] = (double)sqrtl(s);
		for (j = i + 1; j < n; j++) {
			long double t = z[i * n + j];

			for (k = 0; k < i; k++)
				t -= (long double)z[k * n + i] * z[k * n + j];
			z[i * n + j] = (double)(t / z[i * n + i]);
		}
	}
	v = z[r * n + c];
	free(x);
	free(z);
	return v;
}

TEST(kernels_chol_matches_naive)
{
	size_t sizes[] = { 1, 2, 3, 4, 7, 40, 130 };
	struct krun r;
	size_t i;

	krun_init(&r);
	for (i = 0; i < NELEM(sizes); i++) {
		size_t n = sizes[i];
		size_t row = n < 2 ? n - 1 : 1, col = n < 3 ? n - 1 : 2;
		char p[64];
		double want;

		snprintf(p, sizeof(p), "{\"n\":%zu}", n);
		ASSERT_OK(krun(&pr_kernel_chol, &r, p, 77, "task-a", 1));
		ASSERT(r.has_value);
		want = naive_chol(n, 77, "task-a", row, col);
		ASSERT_DBL_NEAR(r.value, want, 1e-10 * fabs(want) + 1e-12);
		ASSERT(metric(&r, "seconds") >= 0);
		ASSERT(metric(&r, "gflops") >= 0);
		ASSERT_EQ(metric(&r, "threads"), 1);
	}
	krun_done(&pr_kernel_chol, &r);
}

/* The notes' pmap(test, repeat([5000],12)) values are near 11.6;
 * U[2,3] ~ sqrt(3 n / 112) for X'X of uniforms. */
TEST(kernels_chol_value_scale)
{
	struct krun r;

	krun_init(&r);
	ASSERT_OK(krun(&pr_kernel_chol, &r, "{\"n\":400}", 1, "1", 2));
	ASSERT(fabs(r.value - sqrt(3.0 * 400 / 112)) < 2.5);
	ASSERT_EQ(metric(&r, "threads"), 2);
	krun_done(&pr_kernel_chol, &r);
}

TEST(kernels_chol_same_seed_same_value)
{
	struct krun a, b;

	krun_init(&a);
	krun_init(&b);
	ASSERT_OK(krun(&pr_kernel_chol, &a, "{\"n\":64}", 5, "x", 1));
	ASSERT_OK(krun(&pr_kernel_chol, &b, "{\"n\":64}", 5, "x", 1));
	ASSERT(a.value == b.value);
	ASSERT_OK(krun(&pr_kernel_chol, &b, "{\"n\":64}", 5, "y", 1));
	ASSERT(a.value != b.value);
	ASSERT_OK(krun(&pr_kernel_chol, &b, "{\"n\":64}", 6, "x", 1));
	ASSERT(a.value != b.value);
	krun_done(&pr_kernel_chol, &a);
	krun_done(&pr_kernel_chol, &b);
}

/* The buffers stay in the state and are reused (each kernel's state
 * starts with its main struct pr_kbuf). */
TEST(kernels_chol_reuses_buffers)
{
	struct krun r;
	void *st, *buf;

	krun_init(&r);
	ASSERT_OK(krun(&pr_kernel_chol, &r, "{\"n\":100}", 1, "a", 1));
	st = r.state;
	buf = ((struct pr_kbuf *)st)->p;
	ASSERT(st != NULL && buf != NULL);
	ASSERT_OK(krun(&pr_kernel_chol, &r, "{\"n\":100}", 1, "b", 1));
	ASSERT(r.state == st);
	ASSERT(((struct pr_kbuf *)r.state)->p == buf);
	ASSERT_OK(krun(&pr_kernel_chol, &r, "{\"n\":30}", 1, "c", 1));
	ASSERT(((struct pr_kbuf *)r.state)->p == buf);
	krun_done(&pr_kernel_chol, &r);
}

/* The thread budget reaches the OpenBLAS that chol loaded. */
TEST(kernels_chol_sets_openblas_threads)
{
	int (*get)(void);
	void *p;
	struct krun r;

	krun_init(&r);
	ASSERT_OK(krun(&pr_kernel_chol, &r, "{\"n\":20}", 1, "a", 1));
	/* chol loaded libopenblas RTLD_GLOBAL */
	p = dlsym(RTLD_DEFAULT, "openblas_get_num_threads");
	ASSERT(p != NULL);
	memcpy(&get, &p, sizeof(p));
	ASSERT_EQ(get(), 1);
	ASSERT_OK(krun(&pr_kernel_chol, &r, "{\"n\":20,\"threads\":2}", 1,
	    "a", 1));
	ASSERT_EQ(get(), 2);
	ASSERT_OK(krun(&pr_kernel_chol, &r, "{\"n\":20}", 1, "a", 1));
	ASSERT_EQ(get(), 1);
	krun_done(&pr_kernel_chol, &r);
}

static const char *const bad_n[] = {
	NULL, "{}", "{\"n\":0}", "{\"n\":-1}", "{\"n\":2.5}", "{\"n\":\"5\"}",
	"{\"n\":[5]}", "{\"n\":{}}", "{\"n\":null}", "{\"n\":true}",
	"{\"n\":1e400}", "{\"n\":-1e400}", "{\"n\":1e300}",
	"{\"n\":9223372036854775808}", "{\"N\":5}", "[5]", "5", "\"n\"",
};

static const char *const bad_threads[] = {
	"{\"n\":10,\"threads\":0}", "{\"n\":10,\"threads\":-2}",
	"{\"n\":10,\"threads\":100000}", "{\"n\":10,\"threads\":1.5}",
	"{\"n\":10,\"threads\":\"2\"}", "{\"n\":10,\"threads\":1e400}",
};

TEST(kernels_chol_bad_params)
{
	static const char *const big[] = { "{\"n\":20001}", "{\"n\":1e9}" };

	/* a non-object names no parameter, only the kernel */
	expect_bad(&pr_kernel_chol, bad_n, 15, "'n'");
	expect_bad(&pr_kernel_chol, bad_n + 15, 3, "chol");
	expect_bad(&pr_kernel_chol, big, NELEM(big), "'n'");
	expect_bad(&pr_kernel_chol, bad_threads, NELEM(bad_threads),
	    "'threads'");
}

/* ---- randsum ---------------------------------------------------------- */

static double
exact(u128 k)
{
	return (double)k * 0x1.0p-53;
}

TEST(kernels_randsum_n_is_exact_sum)
{
	uint64_t ns[] = { 0, 1, 2, 3, 17, 1000, 4099 };
	struct krun r;
	size_t i, j;

	krun_init(&r);
	for (i = 0; i < NELEM(ns); i++) {
		u128 k = 0;
		double naive = 0;
		char p[64];

		for (j = 0; j < ns[i]; j++) {
			uint64_t d = pr_rng_at(3, pr_rng_key("job7", 4), j);

			k += d >> 11;
			naive += pr_rng_u01(d);
		}
		snprintf(p, sizeof(p), "{\"n\":%" PRIu64 "}", ns[i]);
		ASSERT_OK(krun(&pr_kernel_randsum, &r, p, 3, "job7", 1));
		ASSERT(r.has_value);
		ASSERT(r.value == exact(k));
		ASSERT_DBL_NEAR(r.value, naive, 1e-12 * (naive + 1));
		ASSERT_EQ(metric(&r, "count"), ns[i]);
	}
	/* the mean of many uniforms */
	ASSERT_OK(krun(&pr_kernel_randsum, &r, "{\"n\":1000000}", 3, "m", 1));
	ASSERT(fabs(r.value / 1e6 - 0.5) < 0.002);
	krun_done(&pr_kernel_randsum, &r);
}

static double
range_sum(struct krun *r, long long from, long long to, long long step)
{
	char p[128];

	snprintf(p, sizeof(p), "{\"from\":%lld,\"to\":%lld,\"step\":%lld}",
	    from, to, step);
	if (krun(&pr_kernel_randsum, r, p, 11, "any", 1) != 0)
		PR_TEST_FAIL("randsum %s: %s", p, r->eb.msg);
	return r->value;
}

/* u(seed, i) does not depend on the task, and a range cut in chunks sums
 * the same per-index values. */
TEST(kernels_randsum_range_chunks)
{
	struct krun r;
	double whole, parts;
	long long i;

	krun_init(&r);
	whole = range_sum(&r, 1, 1000, 1);
	parts = range_sum(&r, 1, 400, 1) + range_sum(&r, 401, 1000, 1);
	ASSERT_DBL_NEAR(whole, parts, 1e-12 * whole);
	for (i = 1; i <= 1000; i += 37)
		ASSERT(range_sum(&r, i, i, 1) ==
		    pr_rng_u01(pr_rng_at(11, 0, (uint64_t)i)));
	/* the task id does not matter in the range form */
	ASSERT_OK(krun(&pr_kernel_randsum, &r, "{\"from\":1,\"to\":1000}", 11,
	    "other", 1));
	ASSERT(r.value == whole);
	ASSERT_EQ(metric(&r, "count"), 1000);
	/* the count that --range chunks carry must agree */
	ASSERT_OK(krun(&pr_kernel_randsum, &r,
	    "{\"from\":1,\"to\":1000,\"n\":1000}", 11, "x", 1));
	ASSERT(r.value == whole);
	ASSERT(krun(&pr_kernel_randsum, &r,
	    "{\"from\":1,\"to\":1000,\"n\":999}", 11, "x", 1) < 0);
	ASSERT(strstr(r.eb.msg, "'n'") != NULL);
	/* chunks of any size */
	parts = 0;
	for (i = 1; i <= 1000; i += 33)
		parts += range_sum(&r, i, i + 32 > 1000 ? 1000 : i + 32, 1);
	ASSERT_DBL_NEAR(whole, parts, 1e-12 * whole);
	krun_done(&pr_kernel_randsum, &r);
}

TEST(kernels_randsum_range_steps_and_signs)
{
	long long steps[] = { 1, 2, 3, 7, 16, 17, 100 };
	struct krun r;
	size_t s;

	krun_init(&r);
	for (s = 0; s < NELEM(steps); s++) {
		long long from = -523, to = 4000, i;
		u128 k = 0;

		for (i = from; i <= to; i += steps[s])
			k += pr_rng_at(11, 0, (uint64_t)i) >> 11;
		ASSERT(range_sum(&r, from, to, steps[s]) == exact(k));
		ASSERT_EQ(metric(&r, "count"), (to - from) / steps[s] + 1);
	}
	/* draw 2^64 - 1 is index -1 */
	ASSERT(range_sum(&r, -1, -1, 1) ==
	    pr_rng_u01(pr_rng_at(11, 0, UINT64_MAX)));
	/* empty range */
	ASSERT(range_sum(&r, 5, 4, 1) == 0.0);
	ASSERT_EQ(metric(&r, "count"), 0);
	/* the ends of the index range */
	ASSERT(range_sum(&r, 9007199254740992LL, 9007199254740992LL, 1) ==
	    pr_rng_u01(pr_rng_at(11, 0, (uint64_t)1 << 53)));
	krun_done(&pr_kernel_randsum, &r);
}

TEST(kernels_randsum_bad_params)
{
	static const char *const bad_n2[] = {
		"{\"n\":-1}", "{\"n\":1e13}", "{\"n\":0.5}", "{\"n\":\"9\"}",
		"{\"n\":1e400}", "{}", "{\"n\":[]}",
	};
	static const char *const bad_range[] = {
		"{\"from\":1}", "{\"to\":5}", "{\"from\":\"1\",\"to\":5}",
		"{\"from\":1,\"to\":5,\"step\":0}",
		"{\"from\":1,\"to\":5,\"step\":-1}",
		"{\"from\":1e17,\"to\":1e17}",
		"{\"from\":1,\"to\":1e400}",
		"{\"from\":-9007199254740992,\"to\":9007199254740992}",
		"{\"from\":1,\"to\":5,\"n\":3}",
	};

	expect_bad(&pr_kernel_randsum, bad_n2, NELEM(bad_n2), "'n'");
	expect_bad(&pr_kernel_randsum, bad_range, NELEM(bad_range), "'");
}

/* ---- sort ------------------------------------------------------------- */

static int
is_nan_bits(uint64_t u)
{
	return (u & ~((uint64_t)1 << 63)) > 0x7FF0000000000000u;
}

/* The reference order: numbers ascending, -0.0 before +0.0, then NaNs by
 * payload; written without the radix key transform. */
static int
ref_cmp(const void *pa, const void *pb)
{
	double a, b;
	uint64_t ua, ub;

	memcpy(&a, pa, 8);
	memcpy(&b, pb, 8);
	memcpy(&ua, pa, 8);
	memcpy(&ub, pb, 8);
	if (is_nan_bits(ua) || is_nan_bits(ub)) {
		if (!is_nan_bits(ub))
			return 1;
		if (!is_nan_bits(ua))
			return -1;
		ua &= ~((uint64_t)1 << 63);
		ub &= ~((uint64_t)1 << 63);
		return (ua > ub) - (ua < ub);
	}
	if (a < b)
		return -1;
	if (a > b)
		return 1;
	return (signbit(b) != 0) - (signbit(a) != 0);
}

/* Sort a copy of x[0..n) with pr_sort_doubles and with the reference,
 * for several thread counts, and compare bits. */
static void
check_sort(const double *x, size_t n)
{
	int threads[] = { 1, 2, 3, 4, 7 };
	double *a = malloc((n + 1) * sizeof(double));
	double *t = malloc((n + 1) * sizeof(double));
	double *want = malloc((n + 1) * sizeof(double));
	size_t i, k;

	ASSERT(a != NULL && t != NULL && want != NULL);
	memcpy(want, x, n * sizeof(double));
	for (i = 0; i < n; i++) {
		uint64_t u;

		memcpy(&u, &want[i], 8);
		if (is_nan_bits(u))
			u &= ~((uint64_t)1 << 63);
		memcpy(&want[i], &u, 8);
	}
	qsort(want, n, sizeof(double), ref_cmp);
	for (k = 0; k < NELEM(threads); k++) {
		int used;

		memcpy(a, x, n * sizeof(double));
		used = pr_sort_doubles(a, t, n, threads[k]);
		ASSERT(used >= 1 && used <= threads[k]);
		if (memcmp(a, want, n * sizeof(double)) != 0) {
			for (i = 0; i < n; i++)
				if (memcmp(&a[i], &want[i], 8) != 0)
					PR_TEST_FAIL("n=%zu threads=%d: [%zu] "
					    "%a != %a", n, threads[k], i, a[i],
					    want[i]);
		}
		ASSERT(pr_sort_is_sorted(a, n, threads[k]));
	}
	free(a);
	free(t);
	free(want);
}

static double
bits_double(uint64_t u)
{
	double d;

	memcpy(&d, &u, 8);
	return d;
}

/* Adversarial values: signs, zeros, infinities, subnormals, NaNs of both
 * signs with payloads, duplicates. */
static void
fill_adversarial(double *x, size_t n, uint64_t seed)
{
	const double special[] = {
		0.0, -0.0, INFINITY, -INFINITY, NAN, -NAN, DBL_MIN, -DBL_MIN,
		DBL_MAX, -DBL_MAX, 4.9e-324, -4.9e-324, 1.0, -1.0, 0.5,
		bits_double(0x7FF0000000000001u),	/* signalling NaN */
		bits_double(0xFFF8000000000123u),	/* -NaN, payload */
		bits_double(0x7FFFFFFFFFFFFFFFu),
	};
	struct pr_rng r;
	size_t i;

	pr_rng_init(&r, seed, 1);
	for (i = 0; i < n; i++) {
		uint64_t u = pr_rng_next_u64(&r);

		switch (u % 4) {
		case 0:
			x[i] = special[(u >> 8) % NELEM(special)];
			break;
		case 1:
			x[i] = bits_double(pr_rng_next_u64(&r));
			break;
		case 2:
			x[i] = (pr_rng_u01(u) - 0.5) * 1e6;
			break;
		default:
			x[i] = (double)((int)(u >> 40) % 7);
			break;
		}
	}
}

TEST(kernels_sort_adversarial_small)
{
	double x[200];
	size_t n;

	for (n = 0; n <= 200; n++) {
		fill_adversarial(x, n, n);
		check_sort(x, n);
	}
}

TEST(kernels_sort_adversarial_parallel)
{
	size_t sizes[] = { PR_SORT_SERIAL - 1, PR_SORT_SERIAL + 1, 200003 };
	size_t s, i, n;
	double *x;

	for (s = 0; s < NELEM(sizes); s++) {
		n = sizes[s];
		x = malloc(n * sizeof(double));
		ASSERT(x != NULL);
		fill_adversarial(x, n, 100 + s);
		check_sort(x, n);
		/* sorted, reversed, all equal, uniform */
		for (i = 0; i < n; i++)
			x[i] = (double)i - 1000.5;
		check_sort(x, n);
		for (i = 0; i < n; i++)
			x[i] = -(double)i;
		check_sort(x, n);
		for (i = 0; i < n; i++)
			x[i] = -0.0;
		check_sort(x, n);
		pr_kfill_double(x, n, 1, 2, 2);
		check_sort(x, n);
		free(x);
	}
}

TEST(kernels_sort_special_order)
{
	double x[] = { NAN, 1.0, -0.0, -INFINITY, 0.0, -NAN, INFINITY, -1.0,
	    -0.0 };
	double t[NELEM(x)];
	uint64_t u;

	pr_sort_doubles(x, t, NELEM(x), 1);
	ASSERT(x[0] == -INFINITY && x[1] == -1.0);
	ASSERT(x[2] == 0.0 && signbit(x[2]) && signbit(x[3]));
	ASSERT(x[4] == 0.0 && !signbit(x[4]));
	ASSERT(x[5] == 1.0 && x[6] == INFINITY);
	ASSERT(isnan(x[7]) && isnan(x[8]));
	memcpy(&u, &x[7], 8);
	ASSERT(u >> 63 == 0);
	ASSERT(pr_sort_is_sorted(x, NELEM(x), 1));
	/* the checker sees disorder and negative NaNs */
	x[0] = 2.0;
	ASSERT(!pr_sort_is_sorted(x, NELEM(x), 1));
	x[0] = -INFINITY;
	x[8] = -NAN;
	ASSERT(!pr_sort_is_sorted(x, NELEM(x), 1));
}

static int
dbl_cmp(const void *pa, const void *pb)
{
	double a = *(const double *)pa, b = *(const double *)pb;

	return (a > b) - (a < b);
}

TEST(kernels_sort_kernel_median)
{
	size_t ns[] = { 1, 2, 1001, 70000 };
	struct krun r;
	size_t i;

	krun_init(&r);
	for (i = 0; i < NELEM(ns); i++) {
		size_t n = ns[i];
		double *x = malloc(n * sizeof(double));
		char p[64];

		ASSERT(x != NULL);
		pr_kfill_double(x, n, 8, pr_rng_key("s", 1), 1);
		qsort(x, n, sizeof(double), dbl_cmp);
		snprintf(p, sizeof(p), "{\"n\":%zu,\"threads\":2}", n);
		ASSERT_OK(krun(&pr_kernel_sort, &r, p, 8, "s", 1));
		ASSERT(r.value == x[(n - 1) / 2]);
		ASSERT(metric(&r, "seconds") >= 0);
		ASSERT_EQ(metric(&r, "threads"), n >= PR_SORT_SERIAL ? 2 : 1);
		snprintf(p, sizeof(p), "{\"n\":%zu}", n);
		ASSERT_OK(krun(&pr_kernel_sort, &r, p, 8, "s", 1));
		ASSERT(r.value == x[(n - 1) / 2]);
		free(x);
	}
	krun_done(&pr_kernel_sort, &r);
}

TEST(kernels_sort_reuses_buffers)
{
	struct krun r;
	void *buf;

	krun_init(&r);
	ASSERT_OK(krun(&pr_kernel_sort, &r, "{\"n\":5000}", 1, "a", 2));
	buf = ((struct pr_kbuf *)r.state)->p;
	ASSERT_OK(krun(&pr_kernel_sort, &r, "{\"n\":4000}", 1, "b", 2));
	ASSERT(((struct pr_kbuf *)r.state)->p == buf);
	krun_done(&pr_kernel_sort, &r);
}

TEST(kernels_sort_bad_params)
{
	static const char *const big[] = { "{\"n\":200000001}",
	    "{\"n\":1e12}" };

	expect_bad(&pr_kernel_sort, bad_n, 15, "'n'");
	expect_bad(&pr_kernel_sort, bad_n + 15, 3, "sort");
	expect_bad(&pr_kernel_sort, big, NELEM(big), "'n'");
	expect_bad(&pr_kernel_sort, bad_threads, NELEM(bad_threads),
	    "'threads'");
}

/* ---- map -------------------------------------------------------------- */

TEST(kernels_map_value)
{
	size_t ns[] = { 1, 4095, 4097, 100000 };
	struct krun r;
	size_t i, k;

	krun_init(&r);
	for (i = 0; i < NELEM(ns); i++) {
		long double want = 0;
		double v1;
		struct pr_rng g;
		char p[64];
		int th;

		pr_rng_init(&g, 4, pr_rng_key("m1", 2));
		for (k = 0; k < ns[i]; k++) {
			double x = pr_rng_next_double(&g);

			want += tan(x) + 3 * sin(x);
		}
		snprintf(p, sizeof(p), "{\"n\":%zu,\"threads\":1}", ns[i]);
		ASSERT_OK(krun(&pr_kernel_map, &r, p, 4, "m1", 1));
		v1 = r.value;
		ASSERT_DBL_NEAR(v1, (double)want, 1e-13 * fabs((double)want));
		/* bit-identical whatever the threads */
		for (th = 2; th <= 5; th++) {
			snprintf(p, sizeof(p), "{\"n\":%zu,\"threads\":%d}",
			    ns[i], th);
			ASSERT_OK(krun(&pr_kernel_map, &r, p, 4, "m1", 1));
			ASSERT(r.value == v1);
		}
	}
	krun_done(&pr_kernel_map, &r);
}

TEST(kernels_map_reuses_buffers)
{
	struct krun r;
	void *buf;

	krun_init(&r);
	ASSERT_OK(krun(&pr_kernel_map, &r, "{\"n\":5000}", 1, "a", 2));
	buf = ((struct pr_kbuf *)r.state)->p;
	ASSERT_OK(krun(&pr_kernel_map, &r, "{\"n\":5000}", 1, "b", 2));
	ASSERT(((struct pr_kbuf *)r.state)->p == buf);
	krun_done(&pr_kernel_map, &r);
}

TEST(kernels_map_bad_params)
{
	static const char *const big[] = { "{\"n\":1000000001}" };

	expect_bad(&pr_kernel_map, bad_n, 15, "'n'");
	expect_bad(&pr_kernel_map, bad_n + 15, 3, "map");
	expect_bad(&pr_kernel_map, big, NELEM(big), "'n'");
	expect_bad(&pr_kernel_map, bad_threads, NELEM(bad_threads),
	    "'threads'");
}

/* Once registered, the kernels are found by name. */
TEST(kernels_registered_when_listed)
{
	const char *names[] = { "chol", "randsum", "sort", "map" };
	const struct pr_kernel *ks[] = { &pr_kernel_chol, &pr_kernel_randsum,
	    &pr_kernel_sort, &pr_kernel_map };
	size_t i;

	for (i = 0; i < NELEM(names); i++) {
		const struct pr_kernel *k = pr_kernel_find(names[i]);

		ASSERT(k == NULL || k == ks[i]);
		ASSERT(ks[i]->summary != NULL && ks[i]->run != NULL);
		ASSERT((ks[i]->flags & PR_KERNEL_INLINE) == 0);
	}
}

/* ---- ctx->stop --------------------------------------------------------- */

/* Each long task, with stop set before it starts, returns -ECANCELED
 * with a message (the sizes would run for minutes otherwise, and the
 * untouched buffers cost only address space). */
TEST(kernels_stop_set_before)
{
	static const struct {
		const struct pr_kernel *k;
		const char *params;
	} cases[] = {
		{ &pr_kernel_randsum, "{\"n\":1000000000000}" },
		{ &pr_kernel_randsum, "{\"from\":1,\"to\":1000000000000}" },
		{ &pr_kernel_randsum,
		    "{\"from\":-5,\"to\":1000000000000,\"step\":3}" },
		{ &pr_kernel_randsum,
		    "{\"from\":1,\"to\":100000000000000,\"step\":100}" },
		{ &pr_kernel_sort, "{\"n\":20000000,\"threads\":2}" },
		{ &pr_kernel_map, "{\"n\":100000000,\"threads\":2}" },
		{ &pr_kernel_chol, "{\"n\":2000}" },
	};
	atomic_int stop;
	struct krun r;
	size_t i;

	atomic_init(&stop, 1);
	for (i = 0; i < NELEM(cases); i++) {
		krun_init(&r);
		r.stop = &stop;
		ASSERT_EQ(krun(cases[i].k, &r, cases[i].params, 1, "t", 2),
		    -ECANCELED);
		ASSERT(!r.has_value);
		ASSERT(strstr(r.eb.msg, "stopped") != NULL);
		ASSERT(strstr(r.eb.msg, cases[i].k->name) != NULL);
		krun_done(cases[i].k, &r);
	}
}

/* Set *p (an atomic_int) after 20 ms. */
static void *
stopper_main(void *p)
{
	struct timespec ts = { 0, 20 * 1000 * 1000 };

	nanosleep(&ts, NULL);
	atomic_store((atomic_int *)p, 1);
	return NULL;
}

/* Set while it runs (or, on a slow start, before), stop ends a task of
 * ~30 minutes (the runner's timeout fails this test if the kernel does
 * not look). */
TEST(kernels_stop_while_running)
{
	static const char *const params[] = {
		"{\"n\":1000000000000}",
		"{\"from\":0,\"to\":1000000000000,\"step\":2}",
	};
	atomic_int stop;
	pthread_t th;
	struct krun r;
	size_t i;

	for (i = 0; i < NELEM(params); i++) {
		atomic_init(&stop, 0);
		ASSERT_OK(pthread_create(&th, NULL, stopper_main, &stop));
		krun_init(&r);
		r.stop = &stop;
		ASSERT_EQ(krun(&pr_kernel_randsum, &r, params[i], 1, "t", 1),
		    -ECANCELED);
		ASSERT_OK(pthread_join(th, NULL));
		krun_done(&pr_kernel_randsum, &r);
	}
}

/* The sort gives up between radix passes, every member of the team
 * after the same pass (no member left waiting at a barrier). */
TEST(kernels_sort_stops_between_passes)
{
	size_t n = 300000, i;
	double *x = malloc(n * sizeof(*x)), *tmp = malloc(n * sizeof(*tmp));
	atomic_int stop;
	int nth;

	ASSERT(x != NULL && tmp != NULL);
	pr_kfill_double(x, n, 3, 4, 1);
	atomic_init(&stop, 1);
	for (nth = 1; nth <= 3; nth++)
		ASSERT_EQ(pr_sort_doubles_stop(x, tmp, n, nth, &stop),
		    -ECANCELED);
	/* and without a stop it still sorts */
	atomic_store(&stop, 0);
	ASSERT_EQ(pr_sort_doubles_stop(x, tmp, n, 2, &stop), 2);
	ASSERT(pr_sort_is_sorted(x, n, 2));
	for (i = 1; i < n; i++)
		ASSERT(x[i - 1] <= x[i]);
	free(x);
	free(tmp);
}

/* A fill that is stopped says so; the values it would give without a
 * stop are those of the plain fill (the blocks continue one stream). */
TEST(kernels_fill_stop)
{
	size_t n = 600000, i;
	double *a = malloc(n * sizeof(*a)), *b = malloc(n * sizeof(*b));
	atomic_int stop;

	ASSERT(a != NULL && b != NULL);
	atomic_init(&stop, 0);
	pr_kfill_double(a, n, 8, 9, 2);
	ASSERT_OK(pr_kfill_double_stop(b, n, 8, 9, 3, &stop));
	for (i = 0; i < n; i++)
		ASSERT(a[i] == b[i]);
	atomic_store(&stop, 1);
	ASSERT_EQ(pr_kfill_double_stop(b, n, 8, 9, 2, &stop), -ECANCELED);
	free(a);
	free(b);
}
