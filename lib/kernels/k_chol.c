/*
 * k_chol.c - the `chol` kernel: Cholesky factor of X'X (the notes'
 * chol_xtx and pmap test(n)).
 *
 * Owner: h5.
 *
 * X is n x n, column-major, X[i + n j] = draw (i + n j) of the task's
 * stream as a uniform(0,1) double (the order of Julia's rand(n, n)).
 * Z = X'X by cblas_dsyrk (upper triangle only), then LAPACK dpotrf('U')
 * overwrites it with U, Z = U'U.  value = U[2,3] (1-based); for n < 3,
 * U[min(2,n), min(3,n)].  X and Z stay mapped in ctx->state for the next
 * task (fresh pages are the slow part of a first run on this VM).
 *
 * OpenBLAS is loaded on the first chol task (blas.h); a worker without it
 * gives an error result for chol and runs every other kernel.  ctx->stop
 * is looked at between the phases (fill, dsyrk, dpotrf): a call into
 * OpenBLAS itself runs to its end.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "blas.h"
#include "kernel.h"
#include "kutil.h"
#include "rng.h"

#define CHOL_MAX	20000

struct chol_state {
	struct pr_kbuf x, z;
};

static void
chol_state_free(void *p)
{
	struct chol_state *s = p;

	if (s == NULL)
		return;
	pr_kbuf_release(&s->x);
	pr_kbuf_release(&s->z);
	free(s);
}

static int
chol_run(const cJSON *params, struct pr_kctx *ctx)
{
	const struct pr_blas *bl;
	struct chol_state *s;
	int64_t n64 = 0;
	size_t n, bytes, more;
	lapack_int info;
	double *x, *z, t0, t1, flops, dn;
	int nth, rc, r, c;

	rc = pr_kparam_int(params, "chol", "n", 1, CHOL_MAX, false, &n64,
	    ctx->eb);
	if (rc < 0)
		return rc;
	rc = pr_kthreads(params, "chol", ctx, &nth);
	if (rc < 0)
		return rc;
	n = (size_t)n64;
	rc = pr_blas_get("chol", &bl, ctx->eb);
	if (rc < 0)
		return rc;
	s = *ctx->state;
	if (s == NULL) {
		s = calloc(1, sizeof(*s));
		if (s == NULL)
			return pr_err(ctx->eb, -ENOMEM, "kernel 'chol': out of "
			    "memory");
		*ctx->state = s;
	}
	bytes = n * n * sizeof(double);
	more = (bytes > s->x.cap ? bytes : 0) + (bytes > s->z.cap ? bytes :
	    0);
	rc = pr_kmem_check(more, "chol", "n", ctx->eb);
	if (rc < 0)
		return rc;
	if (pr_kbuf_reserve(&s->x, bytes) < 0 ||
	    pr_kbuf_reserve(&s->z, bytes) < 0)
		return pr_err(ctx->eb, -ENOMEM, "kernel 'chol': cannot map "
		    "%zu MiB for n=%zu", 2 * bytes >> 20, n);
	x = s->x.p;
	z = s->z.p;
	if (pr_kfill_double_stop(x, n * n, ctx->seed, pr_kstream(ctx), nth,
	    ctx->stop) < 0)
		return pr_kstopped_err(ctx, "chol");
	bl->set_num_threads(nth);
	t0 = pr_ktime();
	bl->dsyrk(CblasColMajor, CblasUpper, CblasTrans, (blasint)n,
	    (blasint)n, 1.0, x, (blasint)n, 0.0, z, (blasint)n);
	if (pr_kstopped(ctx))
		return pr_kstopped_err(ctx, "chol");
	/* the _work form: no NaN scan of Z, no allocation */
	info = bl->dpotrf_work(LAPACK_COL_MAJOR, 'U', (lapack_int)n, z,
	    (lapack_int)n);
	t1 = pr_ktime();
	if (info > 0)
		return pr_err(ctx->eb, PR_EKERNEL, "kernel 'chol': matrix not "
		    "positive definite (info=%d)", (int)info);
	if (info < 0)
		return pr_err(ctx->eb, PR_EKERNEL, "kernel 'chol': dpotrf "
		    "rejected argument %d", (int)-info);
	r = n < 2 ? (int)n : 2;
	c = n < 3 ? (int)n : 3;
	ctx->has_value = true;
	ctx->value = z[(size_t)(r - 1) + n * (size_t)(c - 1)];
	/* dsyrk: n(n+1)/2 dot products of length n, 2n flops each;
	 * dpotrf: n^3/3 + n^2/2 + n/6 */
	dn = (double)n;
	flops = dn * dn * (dn + 1) + dn * dn * dn / 3 + dn * dn / 2 + dn / 6;
	return pr_kmetrics(ctx, "chol", "\"seconds\":%.9g,\"gflops\":%.6g,"
	    "\"threads\":%d", t1 - t0, t1 > t0 ? flops / (t1 - t0) * 1e-9 :
	    0.0, nth);
}

const struct pr_kernel pr_kernel_chol = {
	.name = "chol",
	.summary = "Cholesky factor U of X'X, X n x n uniform (n, threads): "
	    "value = U[2,3]",
	.flags = 0,
	.run = chol_run,
	.state_free = chol_state_free,
};
