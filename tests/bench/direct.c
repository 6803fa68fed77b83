/*
 * direct.c - the kernels' computations run directly, without parrun, as
 * the baselines of `make bench`: what a C programmer gets by calling
 * OpenBLAS, a counter-based generator, glibc qsort or the notes' merge
 * sort by hand.  Prints one JSON object per line.
 *
 * Owner: h11 (written by h5).
 *
 *	direct [-r REPS] chol N T	dsyrk + dpotrf of X'X, BLAS threads T
 *	direct [-r REPS] randsum N	plain Philox loop, pr_rng loop, the
 *					randsum kernel in-process
 *	direct [-r REPS] sort N T	glibc qsort, the notes' psort! (merge
 *					sort, cutoff 100000) and the radix
 *					sort, with 1..T threads
 *	direct [-r REPS] map N T	the @threads loop, 1..T threads, and
 *					the map kernel in-process
 *	direct [-r REPS] all		a short run of each
 *	direct [-r REPS] run chol N T	REPS x (fill X with T threads, dsyrk,
 *					dpotrf), buffers kept
 *	direct [-r REPS] run randsum N	REPS x the plain Philox loop
 *	direct [-r REPS] run qsort N	REPS x (fill N doubles, glibc qsort)
 *
 * The "run" forms are for tests/bench/run, which times the whole program
 * against the same work through parrun: they do only that work, as a C
 * programmer would write it, and print one line with the inner times
 * (fill included) as "inner".
 * Every line has "bench", "impl", "n", "threads", "reps", "best" and
 * "median" (seconds); timed regions exclude filling the inputs, and
 * buffers are touched before timing, as the kernels reuse theirs.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>
#include <cjson/cJSON.h>
#include <lapacke.h>

#include "buf.h"
#include "kernel.h"
#include "kernels/kutil.h"
#include "rng.h"

extern const struct pr_kernel pr_kernel_randsum;
extern const struct pr_kernel pr_kernel_sort;
extern const struct pr_kernel pr_kernel_map;
extern const struct pr_kernel pr_kernel_chol;

static int reps = 3;

static int
dcmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static void
report(const char *bench, const char *impl, size_t n, int threads,
    double *t, int nt, const char *more)
{
	double best, med;

	qsort(t, (size_t)nt, sizeof(double), dcmp);
	best = t[0];
	med = t[nt / 2];
	printf("{\"bench\":\"%s\",\"impl\":\"%s\",\"n\":%zu,\"threads\":%d,"
	    "\"reps\":%d,\"best\":%.6f,\"median\":%.6f%s%s}\n", bench, impl, n,
	    threads, nt, best, med, more ? "," : "", more ? more : "");
	fflush(stdout);
}

static void *
xbuf(struct pr_kbuf *b, size_t bytes)
{
	if (pr_kbuf_reserve(b, bytes) < 0) {
		fprintf(stderr, "direct: cannot map %zu bytes\n", bytes);
		exit(1);
	}
	memset(b->p, 0, bytes);
	return b->p;
}

/* ---- kernels in-process ----------------------------------------------- */

static double
run_kernel(const struct pr_kernel *k, const char *params, int threads,
    void **state, double *value, char *metrics, size_t mlen)
{
	struct pr_errbuf eb;
	struct pr_kctx ctx;
	struct pr_buf extra;
	cJSON *p = cJSON_Parse(params);
	double t0, t1;

	memset(&ctx, 0, sizeof(ctx));
	memset(&eb, 0, sizeof(eb));
	pr_buf_init(&extra, 0);
	ctx.task_id = "1";
	ctx.seq = 1;
	ctx.seed = 1;
	ctx.threads = threads;
	ctx.state = state;
	ctx.extra = &extra;
	ctx.eb = &eb;
	t0 = pr_ktime();
	if (k->run(p, &ctx) < 0) {
		fprintf(stderr, "direct: kernel '%s': %s\n", k->name, eb.msg);
		exit(1);
	}
	t1 = pr_ktime();
	*value = ctx.value;
	snprintf(metrics, mlen, "%s", extra.data ? extra.data : "");
	pr_buf_release(&extra);
	cJSON_Delete(p);
	return t1 - t0;
}

/* The kernel's own "seconds" metric out of its extra members. */
static double
metric_seconds(const char *m)
{
	const char *s = strstr(m, "\"seconds\":");

	return s ? strtod(s + 10, NULL) : NAN;
}

static void
bench_kernel(const struct pr_kernel *k, const char *bench, size_t n,
    int threads, const char *params)
{
	double wall[64], inner[64], value = 0;
	char m[512], more[640];
	void *state = NULL;
	int i;

	/* one warm-up run maps and touches the buffers */
	(void)run_kernel(k, params, threads, &state, &value, m, sizeof(m));
	for (i = 0; i < reps; i++) {
		wall[i] = run_kernel(k, params, threads, &state, &value, m,
		    sizeof(m));
		inner[i] = metric_seconds(m);
	}
	snprintf(more, sizeof(more), "\"value\":%.17g", value);
	report(bench, "kernel-wall", n, threads, wall, reps, more);
	if (!isnan(inner[0]))
		report(bench, "kernel-seconds", n, threads, inner, reps, more);
	if (k->state_free != NULL)
		k->state_free(state);
}

/* ---- chol ------------------------------------------------------------- */

static void
bench_chol(size_t n, int threads)
{
	struct pr_kbuf xb = { 0 }, zb = { 0 };
	double *x = xbuf(&xb, n * n * 8), *z = xbuf(&zb, n * n * 8);
	double t[64], flops, best, dn = (double)n;
	char more[128], params[64];
	int i, info;

	pr_kfill_double(x, n * n, 1, pr_rng_key("1", 1), threads);
	openblas_set_num_threads(threads);
	/* rep -1 warms OpenBLAS up (its buffers and threads), as the
	 * kernel's warm-up run does */
	for (i = -1; i < reps; i++) {
		double t0 = pr_ktime();

		cblas_dsyrk(CblasColMajor, CblasUpper, CblasTrans, (blasint)n,
		    (blasint)n, 1.0, x, (blasint)n, 0.0, z, (blasint)n);
		info = (int)LAPACKE_dpotrf_work(LAPACK_COL_MAJOR, 'U',
		    (lapack_int)n, z, (lapack_int)n);
		if (i >= 0)
			t[i] = pr_ktime() - t0;
		if (info != 0) {
			fprintf(stderr, "direct: dpotrf info=%d\n", info);
			exit(1);
		}
	}
	flops = dn * dn * (dn + 1) + dn * dn * dn / 3 + dn * dn / 2 + dn / 6;
	best = t[0];
	for (i = 1; i < reps; i++)
		best = t[i] < best ? t[i] : best;
	snprintf(more, sizeof(more), "\"value\":%.17g,\"gflops\":%.2f",
	    n >= 3 ? z[1 + 2 * n] : z[0], flops / 1e9 / best);
	report("chol", "openblas", n, threads, t, reps, more);
	pr_kbuf_release(&xb);
	pr_kbuf_release(&zb);
	snprintf(params, sizeof(params), "{\"n\":%zu}", n);
	bench_kernel(&pr_kernel_chol, "chol", n, threads, params);
}

/* ---- randsum ---------------------------------------------------------- */

/* A plain Philox4x32-10, written out here so the baseline does not lean
 * on lib/rng.c: the loop a C programmer writes around a counter-based
 * generator. */
static inline void
philox(uint32_t c[4], uint32_t k0, uint32_t k1)
{
	int r;

	for (r = 0; r < 10; r++) {
		uint64_t p0 = (uint64_t)0xD2511F53u * c[0];
		uint64_t p1 = (uint64_t)0xCD9E8D57u * c[2];
		uint32_t n0 = (uint32_t)(p1 >> 32) ^ c[1] ^ k0;
		uint32_t n2 = (uint32_t)(p0 >> 32) ^ c[3] ^ k1;

		c[1] = (uint32_t)p1;
		c[3] = (uint32_t)p0;
		c[0] = n0;
		c[2] = n2;
		k0 += 0x9E3779B9u;
		k1 += 0xBB67AE85u;
	}
}

static void
bench_randsum(size_t n)
{
	double t[64], s = 0;
	char more[128], params[64];
	struct pr_rng r;
	size_t i;
	int k;

	/* plain: draws 0..n-1 of stream 0, seed 1, naive sum */
	for (k = 0; k < reps; k++) {
		double t0 = pr_ktime();

		s = 0;
		for (i = 0; i < n; i += 2) {
			uint32_t c[4] = { (uint32_t)(i >> 1),
			    (uint32_t)(i >> 33), 0, 0 };

			philox(c, 1, 0);
			s += (double)(((uint64_t)c[1] << 32 | c[0]) >> 11) *
			    0x1.0p-53;
			if (i + 1 < n)
				s += (double)(((uint64_t)c[3] << 32 | c[2]) >>
				    11) * 0x1.0p-53;
		}
		t[k] = pr_ktime() - t0;
	}
	snprintf(more, sizeof(more), "\"value\":%.17g", s);
	report("randsum", "plain-philox-loop", n, 1, t, reps, more);
	/* the library's draw-at-a-time interface */
	for (k = 0; k < reps; k++) {
		double t0 = pr_ktime();

		s = 0;
		pr_rng_init(&r, 1, 0);
		for (i = 0; i < n; i++)
			s += pr_rng_next_double(&r);
		t[k] = pr_ktime() - t0;
	}
	snprintf(more, sizeof(more), "\"value\":%.17g", s);
	report("randsum", "pr_rng_next_double-loop", n, 1, t, reps, more);
	/* the kernel, range form over the same draws (indices 0..n-1) */
	snprintf(params, sizeof(params), "{\"from\":0,\"to\":%zu}", n - 1);
	bench_kernel(&pr_kernel_randsum, "randsum", n, 1, params);
}

/* ---- sort ------------------------------------------------------------- */

/* The notes' psort!: split in halves, the lower half in a new task (here
 * a thread while threads remain), a serial merge sort below 100000, then
 * merge through a copy of the lower half. */
#define PSORT_CUTOFF 100000

static void
msort(double *v, double *tmp, size_t lo, size_t hi)	/* [lo, hi] */
{
	size_t mid, i, j, k;

	if (hi - lo < 16) {
		for (i = lo + 1; i <= hi; i++) {
			double x = v[i];

			for (j = i; j > lo && v[j - 1] > x; j--)
				v[j] = v[j - 1];
			v[j] = x;
		}
		return;
	}
	mid = lo + (hi - lo) / 2;
	msort(v, tmp, lo, mid);
	msort(v, tmp, mid + 1, hi);
	memcpy(tmp + lo, v + lo, (mid - lo + 1) * sizeof(double));
	i = lo;
	j = mid + 1;
	k = lo;
	while (k < j && j <= hi) {
		if (v[j] < tmp[i])
			v[k++] = v[j++];
		else
			v[k++] = tmp[i++];
	}
	while (k < j)
		v[k++] = tmp[i++];
}

struct psort_arg {
	double *v, *tmp;
	size_t lo, hi;
	int threads;
};

static void psort(double *v, double *tmp, size_t lo, size_t hi, int thr);

static void *
psort_thread(void *p)
{
	struct psort_arg *a = p;

	psort(a->v, a->tmp, a->lo, a->hi, a->threads);
	return NULL;
}

static void
psort(double *v, double *tmp, size_t lo, size_t hi, int threads)
{
	struct psort_arg a;
	pthread_t th;
	size_t mid, i, j, k;
	double *temp;
	int spawned = 0;

	if (lo >= hi)
		return;
	if (hi - lo < PSORT_CUTOFF) {
		msort(v, tmp, lo, hi);
		return;
	}
	mid = lo + (hi - lo) / 2;
	a.v = v;
	a.tmp = tmp;
	a.lo = lo;
	a.hi = mid;
	a.threads = threads / 2;
	if (threads > 1 && pthread_create(&th, NULL, psort_thread, &a) == 0)
		spawned = 1;
	else
		psort(v, tmp, lo, mid, 1);
	psort(v, tmp, mid + 1, hi, threads - threads / 2);
	if (spawned)
		pthread_join(th, NULL);
	/* temp = v[lo:mid], a fresh allocation as in the notes */
	temp = malloc((mid - lo + 1) * sizeof(double));
	if (temp == NULL) {
		fprintf(stderr, "direct: out of memory\n");
		exit(1);
	}
	memcpy(temp, v + lo, (mid - lo + 1) * sizeof(double));
	i = 0;
	k = lo;
	j = mid + 1;
	while (k < j && j <= hi) {
		if (v[j] < temp[i])
			v[k++] = v[j++];
		else
			v[k++] = temp[i++];
	}
	while (k < j)
		v[k++] = temp[i++];
	free(temp);
}

static void
bench_sort(size_t n, int threads)
{
	struct pr_kbuf xb = { 0 }, tb = { 0 }, cb = { 0 };
	double *x = xbuf(&xb, n * 8), *tmp = xbuf(&tb, n * 8);
	double *ref = xbuf(&cb, n * 8);
	double t[64], *rt = calloc((size_t)threads * (size_t)reps,
	    sizeof(double));
	char more[128], params[64];
	int k, th;

	if (rt == NULL) {
		fprintf(stderr, "direct: out of memory\n");
		exit(1);
	}
	pr_kfill_double(ref, n, 1, pr_rng_key("1", 1), 1);
	for (k = 0; k < reps; k++) {
		double t0;

		memcpy(x, ref, n * 8);
		t0 = pr_ktime();
		qsort(x, n, sizeof(double), dcmp);
		t[k] = pr_ktime() - t0;
	}
	report("sort", "glibc-qsort", n, 1, t, reps, NULL);
	for (th = 1; th <= threads; th++) {
		for (k = 0; k < reps; k++) {
			double t0;

			memcpy(x, ref, n * 8);
			t0 = pr_ktime();
			psort(x, tmp, 0, n - 1, th);
			t[k] = pr_ktime() - t0;
		}
		if (!pr_sort_is_sorted(x, n, 1)) {
			fprintf(stderr, "direct: psort failed\n");
			exit(1);
		}
		report("sort", "notes-psort", n, th, t, reps, NULL);
	}
	/* the radix sort's thread counts take turns, so that a burst of
	 * load from elsewhere does not land on one of them only */
	for (k = 0; k < reps; k++) {
		for (th = 1; th <= threads; th++) {
			double t0;

			memcpy(x, ref, n * 8);
			t0 = pr_ktime();
			pr_sort_doubles(x, tmp, n, th);
			rt[(th - 1) * reps + k] = pr_ktime() - t0;
			if (!pr_sort_is_sorted(x, n, 1)) {
				fprintf(stderr, "direct: radix sort failed\n");
				exit(1);
			}
		}
	}
	for (th = 1; th <= threads; th++) {
		snprintf(more, sizeof(more), "\"median_value\":%.17g",
		    x[(n - 1) / 2]);
		report("sort", "radix", n, th, rt + (th - 1) * reps, reps,
		    more);
	}
	pr_kbuf_release(&xb);
	pr_kbuf_release(&tb);
	pr_kbuf_release(&cb);
	free(rt);
	snprintf(params, sizeof(params), "{\"n\":%zu}", n);
	bench_kernel(&pr_kernel_sort, "sort", n, threads, params);
}

/* ---- map -------------------------------------------------------------- */

struct map_arg {
	double *x;
	size_t lo, hi;
};

static void *
map_thread(void *p)
{
	struct map_arg *a = p;
	size_t i;

	for (i = a->lo; i < a->hi; i++)
		a->x[i] = tan(a->x[i]) + 3 * sin(a->x[i]);
	return NULL;
}

static void
bench_map(size_t n, int threads)
{
	struct pr_kbuf xb = { 0 };
	double *x = xbuf(&xb, n * 8);
	struct map_arg a[64];
	pthread_t th[64];
	double t[64];
	char params[64];
	int k, nt, i;

	if (threads > 64)
		threads = 64;
	for (nt = 1; nt <= threads; nt++) {
		for (k = 0; k < reps; k++) {
			double t0;

			pr_kfill_double(x, n, 1, pr_rng_key("1", 1), threads);
			t0 = pr_ktime();
			for (i = 0; i < nt; i++) {
				a[i].x = x;
				a[i].lo = n * (size_t)i / (size_t)nt;
				a[i].hi = n * (size_t)(i + 1) / (size_t)nt;
				if (i > 0)
					pthread_create(&th[i], NULL, map_thread,
					    &a[i]);
			}
			map_thread(&a[0]);
			for (i = 1; i < nt; i++)
				pthread_join(th[i], NULL);
			t[k] = pr_ktime() - t0;
		}
		report("map", "plain-threads", n, nt, t, reps, NULL);
	}
	pr_kbuf_release(&xb);
	snprintf(params, sizeof(params), "{\"n\":%zu}", n);
	bench_kernel(&pr_kernel_map, "map", n, threads, params);
}

/* ---- run: whole-program baselines for tests/bench/run ------------------- */

static void
report_inner(const char *bench, size_t n, int threads, const double *t,
    int nt, double value)
{
	int i;

	printf("{\"bench\":\"%s\",\"impl\":\"run\",\"n\":%zu,\"threads\":%d,"
	    "\"reps\":%d,\"value\":%.17g,\"inner\":[", bench, n, threads, nt,
	    value);
	for (i = 0; i < nt; i++)
		printf("%s%.6f", i > 0 ? "," : "", t[i]);
	printf("]}\n");
	fflush(stdout);
}

static void
run_chol(size_t n, int threads)
{
	struct pr_kbuf xb = { 0 }, zb = { 0 };
	double t[64];
	int i, info;

	if (pr_kbuf_reserve(&xb, n * n * 8) < 0 ||
	    pr_kbuf_reserve(&zb, n * n * 8) < 0) {
		fprintf(stderr, "direct: cannot map %zu bytes\n", n * n * 16);
		exit(1);
	}
	openblas_set_num_threads(threads);
	for (i = 0; i < reps; i++) {
		double t0 = pr_ktime(), *x = xb.p, *z = zb.p;

		pr_kfill_double(x, n * n, 1, pr_rng_key("1", 1), threads);
		cblas_dsyrk(CblasColMajor, CblasUpper, CblasTrans, (blasint)n,
		    (blasint)n, 1.0, x, (blasint)n, 0.0, z, (blasint)n);
		info = (int)LAPACKE_dpotrf_work(LAPACK_COL_MAJOR, 'U',
		    (lapack_int)n, z, (lapack_int)n);
		t[i] = pr_ktime() - t0;
		if (info != 0) {
			fprintf(stderr, "direct: dpotrf info=%d\n", info);
			exit(1);
		}
	}
	report_inner("chol", n, threads, t, reps,
	    n >= 3 ? ((double *)zb.p)[1 + 2 * n] : ((double *)zb.p)[0]);
	pr_kbuf_release(&xb);
	pr_kbuf_release(&zb);
}

static void
run_randsum(size_t n)
{
	double t[64], s = 0;
	size_t i;
	int k;

	for (k = 0; k < reps; k++) {
		double t0 = pr_ktime();

		s = 0;
		for (i = 0; i < n; i += 2) {
			uint32_t c[4] = { (uint32_t)(i >> 1),
			    (uint32_t)(i >> 33), 0, 0 };

			philox(c, 1, 0);
			s += (double)(((uint64_t)c[1] << 32 | c[0]) >> 11) *
			    0x1.0p-53;
			if (i + 1 < n)
				s += (double)(((uint64_t)c[3] << 32 | c[2]) >>
				    11) * 0x1.0p-53;
		}
		t[k] = pr_ktime() - t0;
	}
	report_inner("randsum", n, 1, t, reps, s);
}

static void
run_qsort(size_t n)
{
	struct pr_kbuf xb = { 0 };
	double t[64];
	int k;

	if (pr_kbuf_reserve(&xb, n * 8) < 0) {
		fprintf(stderr, "direct: cannot map %zu bytes\n", n * 8);
		exit(1);
	}
	for (k = 0; k < reps; k++) {
		double t0 = pr_ktime();

		pr_kfill_double(xb.p, n, 1, pr_rng_key("1", 1), 1);
		qsort(xb.p, n, sizeof(double), dcmp);
		t[k] = pr_ktime() - t0;
	}
	if (!pr_sort_is_sorted(xb.p, n, 1)) {
		fprintf(stderr, "direct: qsort failed\n");
		exit(1);
	}
	report_inner("qsort", n, 1, t, reps, ((double *)xb.p)[(n - 1) / 2]);
	pr_kbuf_release(&xb);
}

/* ---- main ------------------------------------------------------------- */

static size_t
arg_size(const char *s, size_t lo, size_t hi)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || *end != '\0' || !(v >= (double)lo) ||
	    !(v <= (double)hi) || v != floor(v)) {
		fprintf(stderr, "direct: bad number '%s' (%zu..%zu)\n", s, lo,
		    hi);
		exit(2);
	}
	return (size_t)v;
}

static void
usage(void)
{
	fprintf(stderr, "usage: direct [-r REPS] chol N T | randsum N | "
	    "sort N T | map N T | all | run chol N T | run randsum N | "
	    "run qsort N\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	int a = 1;

	if (a + 1 < argc && strcmp(argv[a], "-r") == 0) {
		reps = (int)arg_size(argv[a + 1], 1, 64);
		a += 2;
	}
	if (a >= argc)
		usage();
	if (strcmp(argv[a], "chol") == 0 && argc == a + 3)
		bench_chol(arg_size(argv[a + 1], 1, 20000),
		    (int)arg_size(argv[a + 2], 1, 64));
	else if (strcmp(argv[a], "randsum") == 0 && argc == a + 2)
		bench_randsum(arg_size(argv[a + 1], 2, 1e12));
	else if (strcmp(argv[a], "sort") == 0 && argc == a + 3)
		bench_sort(arg_size(argv[a + 1], 2, 2e8),
		    (int)arg_size(argv[a + 2], 1, 64));
	else if (strcmp(argv[a], "map") == 0 && argc == a + 3)
		bench_map(arg_size(argv[a + 1], 1, 1e9),
		    (int)arg_size(argv[a + 2], 1, 64));
	else if (strcmp(argv[a], "run") == 0 && argc == a + 4 &&
	    strcmp(argv[a + 1], "chol") == 0)
		run_chol(arg_size(argv[a + 2], 1, 20000),
		    (int)arg_size(argv[a + 3], 1, 64));
	else if (strcmp(argv[a], "run") == 0 && argc == a + 3 &&
	    strcmp(argv[a + 1], "randsum") == 0)
		run_randsum(arg_size(argv[a + 2], 2, 1e12));
	else if (strcmp(argv[a], "run") == 0 && argc == a + 3 &&
	    strcmp(argv[a + 1], "qsort") == 0)
		run_qsort(arg_size(argv[a + 2], 2, 2e8));
	else if (strcmp(argv[a], "all") == 0 && argc == a + 1) {
		bench_chol(1000, 2);
		bench_randsum(10000000);
		bench_sort(1000000, 2);
		bench_map(1000000, 2);
	} else
		usage();
	return 0;
}
