/* blas.c - see blas.h */
#include "blas.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

static pthread_once_t once = PTHREAD_ONCE_INIT;
static struct pr_blas table;
static const struct pr_blas *loaded;
static char why[PR_ERRBUF_LEN];

/* dlsym's result as a function pointer (POSIX guarantees the round trip;
 * ISO C does not, hence the copy) */
static int
sym(void *lib, const char *libname, const char *name, void *out,
    size_t size)
{
	void *p = dlsym(lib, name);

	if (p == NULL) {
		snprintf(why, sizeof(why), "'%s' has no '%s'", libname, name);
		return -1;
	}
	memcpy(out, &p, size);
	return 0;
}

static void
load(void)
{
	void *blas, *lapacke;

	/* GLOBAL: LAPACKE's LAPACK finds OpenBLAS's symbols */
	blas = dlopen(PR_OPENBLAS_SONAME, RTLD_NOW | RTLD_GLOBAL);
	if (blas == NULL) {
		snprintf(why, sizeof(why), "cannot load OpenBLAS ('%s'): %s",
		    PR_OPENBLAS_SONAME, dlerror());
		return;
	}
	lapacke = dlopen(PR_LAPACKE_SONAME, RTLD_NOW | RTLD_GLOBAL);
	if (lapacke == NULL) {
		snprintf(why, sizeof(why), "cannot load LAPACKE ('%s'): %s",
		    PR_LAPACKE_SONAME, dlerror());
		return;
	}
	if (sym(blas, PR_OPENBLAS_SONAME, "openblas_set_num_threads",
	    &table.set_num_threads, sizeof(table.set_num_threads)) < 0 ||
	    sym(blas, PR_OPENBLAS_SONAME, "cblas_dsyrk", &table.dsyrk,
	    sizeof(table.dsyrk)) < 0 ||
	    sym(lapacke, PR_LAPACKE_SONAME, "LAPACKE_dpotrf_work",
	    &table.dpotrf_work, sizeof(table.dpotrf_work)) < 0)
		return;
	loaded = &table;
}

const struct pr_blas *
pr_blas(struct pr_errbuf *eb)
{
	pthread_once(&once, load);
	if (loaded == NULL)
		pr_err(eb, PR_EKERNEL, "%s", why);
	return loaded;
}
