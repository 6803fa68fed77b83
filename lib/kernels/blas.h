/*
 * blas.h - OpenBLAS and LAPACKE, loaded when a kernel first needs them.
 *
 * Only the chol kernel uses them, and loading OpenBLAS costs every
 * process that links it: its constructor starts a thread pool (tens of
 * milliseconds of CPU here), and a fork() of a process with it mapped
 * copies far more page tables.  So parrun-worker does not link them:
 * pr_blas() dlopen()s them on first use, once per process (thread-safe),
 * and keeps them to the end.
 *
 * Returns the table, or NULL with a message in eb ("cannot load OpenBLAS
 * ('libopenblas.so.0'): ..."); a later call tries no more and gives the
 * same message.
 */
#ifndef PR_KERNELS_BLAS_H
#define PR_KERNELS_BLAS_H

#include <cblas.h>
#include <lapacke.h>

#include "err.h"

#ifndef PR_OPENBLAS_SONAME
#define PR_OPENBLAS_SONAME	"libopenblas.so.0"
#endif
#ifndef PR_LAPACKE_SONAME
#define PR_LAPACKE_SONAME	"liblapacke.so.3"
#endif

struct pr_blas {
	void (*set_num_threads)(int);
	__typeof__(cblas_dsyrk) *dsyrk;
	__typeof__(LAPACKE_dpotrf_work) *dpotrf_work;
};

const struct pr_blas *pr_blas(struct pr_errbuf *eb);

#endif
