/*
 * blas.h - OpenBLAS and LAPACKE, loaded on first use.
 *
 * Owner: h5.  Internal to lib/kernels/.
 *
 * The worker does not link OpenBLAS: loading it and running its
 * constructor (which starts a thread pool) cost every worker milliseconds
 * of start-up, and only the `chol` kernel needs it.  pr_blas() loads
 * libopenblas.so.0 (RTLD_GLOBAL, so that the LAPACK routines LAPACKE
 * calls bind to OpenBLAS's own, as a link-time -lopenblas -llapacke
 * does) and takes LAPACKE_dpotrf_work from it when it has one, else from
 * liblapacke.so.3.  Only the headers come from the build (pkg-config
 * openblas lapacke), for the types.
 *
 * The load happens once per process, on the first call, from whichever
 * thread makes it (pthread_once); later calls return the same answer.
 * Nothing is ever unloaded.
 */
#ifndef PR_BLAS_H
#define PR_BLAS_H

#include <cblas.h>
#include <lapacke.h>

#include "err.h"

struct pr_blas {
	void (*dsyrk)(enum CBLAS_ORDER, enum CBLAS_UPLO, enum CBLAS_TRANSPOSE,
	    blasint n, blasint k, double alpha, const double *a, blasint lda,
	    double beta, double *c, blasint ldc);
	lapack_int (*dpotrf_work)(int layout, char uplo, lapack_int n,
	    double *a, lapack_int lda);
	void (*set_num_threads)(int n);
};

/*
 * Load the libraries if this is the first call, and point *out at the
 * functions (static storage, never freed).  0, or PR_EKERNEL with *out
 * NULL and a message in eb (which may be NULL): "kernel 'KERNEL': cannot
 * load OpenBLAS: <dlerror>", which names the library that is missing or
 * the symbol it lacks.  A failed load is not retried.  Thread-safe.
 */
int pr_blas_get(const char *kernel, const struct pr_blas **out,
    struct pr_errbuf *eb);

#endif
