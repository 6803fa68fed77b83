/*
 * registry.c - the table of built-in kernels (see kernel.h).
 *
 * To add a kernel, write lib/kernels/k_<name>.c defining
 * `const struct pr_kernel pr_kernel_<name>` and add one line
 * `X(<name>)` to PR_KERNEL_TABLE below.  The order is the order of
 * `parrun-worker --kernels` and of the worker's hello.
 */
#include <stddef.h>
#include <string.h>

#include "kernel.h"

#define PR_KERNEL_TABLE(X)						\
	X(noop)								\
	X(sleep)							\
	X(chol)								\
	X(randsum)							\
	X(sort)								\
	X(map)

#define X(name) extern const struct pr_kernel pr_kernel_##name;
PR_KERNEL_TABLE(X)
#undef X

const struct pr_kernel *const pr_kernels[] = {
#define X(name) &pr_kernel_##name,
	PR_KERNEL_TABLE(X)
#undef X
	NULL,
};

const struct pr_kernel *
pr_kernel_find(const char *name)
{
	size_t i;

	if (name == NULL)
		return NULL;
	for (i = 0; pr_kernels[i] != NULL; i++)
		if (strcmp(pr_kernels[i]->name, name) == 0)
			return pr_kernels[i];
	return NULL;
}
