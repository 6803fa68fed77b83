/*
 * blas.c - OpenBLAS and LAPACKE, loaded on first use (see blas.h).
 *
 * Owner: h5.
 */
#include "blas.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* The run-time names of the libraries -lopenblas and -llapacke link:
 * their sonames first, then the development links. */
static const char *const openblas_names[] = {
	"libopenblas.so.0", "libopenblas.so", NULL,
};
static const char *const lapacke_names[] = {
	"liblapacke.so.3", "liblapacke.so", NULL,
};

_Static_assert(sizeof(void *) == sizeof(void (*)(void)),
    "dlsym needs function pointers the size of void *");

static pthread_once_t once = PTHREAD_ONCE_INIT;
static struct pr_blas blas;
static const struct pr_blas *loaded;	/* &blas once every symbol is found */
static char why[PR_ERRBUF_LEN / 2];	/* else: what failed */

/* dlopen the first of names that loads; NULL with why set. */
static void *
open_first(const char *const *names, int flags)
{
	void *h = NULL;
	const char *e;
	int i;

	for (i = 0; names[i] != NULL && h == NULL; i++) {
		h = dlopen(names[i], flags);
		/* report the first (the soname) when none loads */
		if (h == NULL && i == 0) {
			e = dlerror();
			snprintf(why, sizeof(why), "%s", e != NULL ? e :
			    names[0]);
		}
	}
	return h;
}

/* Look name up in h into *fp (a function pointer of fpsize bytes);
 * false with why set. */
static bool
sym(void *h, const char *name, void *fp, size_t fpsize)
{
	const char *e;
	void *p;

	(void)dlerror();
	p = dlsym(h, name);
	if (p == NULL) {
		e = dlerror();
		snprintf(why, sizeof(why), "%s", e != NULL ? e : name);
		return false;
	}
	/* ISO C has no cast from void * to a function pointer; POSIX
	 * guarantees they have the same representation */
	memcpy(fp, &p, fpsize);
	return true;
}

static void
load(void)
{
	void *ob, *lk;

	ob = open_first(openblas_names, RTLD_NOW | RTLD_GLOBAL);
	if (ob == NULL)
		return;
	if (!sym(ob, "cblas_dsyrk", &blas.dsyrk, sizeof(blas.dsyrk)) ||
	    !sym(ob, "openblas_set_num_threads", &blas.set_num_threads,
	    sizeof(blas.set_num_threads)))
		return;
	/* some OpenBLAS builds carry LAPACKE; Debian's does not */
	if (dlsym(ob, "LAPACKE_dpotrf_work") != NULL)
		lk = ob;
	else
		lk = open_first(lapacke_names, RTLD_NOW | RTLD_LOCAL);
	if (lk == NULL || !sym(lk, "LAPACKE_dpotrf_work", &blas.dpotrf_work,
	    sizeof(blas.dpotrf_work)))
		return;
	loaded = &blas;
}

int
pr_blas_get(const char *kernel, const struct pr_blas **out,
    struct pr_errbuf *eb)
{
	pthread_once(&once, load);
	*out = loaded;
	if (loaded == NULL)
		return pr_err(eb, PR_EKERNEL, "kernel '%s': cannot load "
		    "OpenBLAS: %s", kernel, why);
	return 0;
}
