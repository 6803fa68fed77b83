/*
 * kernel.h - built-in computations that workers run in-process.
 *
 * A kernel is a function from parameters (the task's JSON object, borrowed)
 * to a number and some metrics.  Kernels never print, never exit and never
 * abort on bad parameters: they are untrusted input.  A bad parameter is an
 * error result with a message in ctx->eb; the worker goes on.
 *
 * Adding a kernel:
 *	1. write lib/kernels/k_<name>.c defining
 *	   `const struct pr_kernel pr_kernel_<name> = { ... };`
 *	2. add one line for it in lib/kernels/registry.c.
 * That is all: the worker advertises every registered kernel in its
 * hello, and tests/unit can call it directly.
 *
 * Kernels are linked into parrun-worker and the unit tests only, never into
 * parrun itself.  None of them links OpenBLAS: chol loads it on its first
 * task (lib/kernels/blas.h).
 */
#ifndef PR_KERNEL_H
#define PR_KERNEL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "buf.h"
#include "err.h"

struct pr_kctx {
	/* in */
	const char *task_id;	/* the task's id (its stream key) */
	uint64_t seq;		/* input order, 1-based */
	uint64_t seed;		/* the run's seed (or the task's "seed") */
	int threads;		/* threads this task may use */
	const void *bcast;	/* --broadcast data, or NULL */
	size_t bcastlen;
	void **state;		/* this kernel's per-slot state, kept across
				   tasks (reuse buffers: fresh pages are slow) */
	const atomic_int *stop;	/* NULL, or becomes non-zero when the task
				   is cancelled, times out or the worker
				   shuts down: a long kernel should check it
				   (atomic_load, every ~1 ms of work; see
				   pr_kstopped() in kernels/kutil.h) and
				   then return at once, with any code: its
				   result is no longer wanted */
	/* out */
	bool has_value;
	double value;
	struct pr_buf *extra;	/* metrics as JSON members, no braces:
				   `"seconds":1.5,"gflops":30.1` */
	struct pr_errbuf *eb;	/* message when run() fails */
};

/* Run on the worker's loop thread: only for kernels that take well
 * under a millisecond (noop); others run on a thread of their own. */
#define PR_KERNEL_INLINE	0x1

struct pr_kernel {
	const char *name;
	const char *summary;	/* one line, for `parrun-worker --kernels` */
	unsigned flags;
	/* 0, or a negative code with ctx->eb filled */
	int (*run)(const cJSON *params, struct pr_kctx *ctx);
	/* free *state (may be NULL) */
	void (*state_free)(void *state);
};

/* NULL-terminated, in registry order. */
extern const struct pr_kernel *const pr_kernels[];

const struct pr_kernel *pr_kernel_find(const char *name);

/*
 * Parameter helpers that give a message naming the parameter:
 * "kernel 'chol': parameter 'n' must be an integer in [1, 20000]".
 * A missing optional parameter leaves *out unchanged and returns 0.
 */
int pr_kparam_int(const cJSON *params, const char *kernel, const char *name,
    int64_t lo, int64_t hi, bool optional, int64_t *out,
    struct pr_errbuf *eb);
int pr_kparam_num(const cJSON *params, const char *kernel, const char *name,
    double lo, double hi, bool optional, double *out, struct pr_errbuf *eb);

#endif
