/*
 * kutil.h - helpers shared by the compute kernels (chol, randsum, sort,
 * map): reusable huge-page buffers, the memory bound, a thread team with
 * a barrier, parallel random fills, compensated sums and the sort itself.
 *
 * Owner: h5.  Internal to lib/kernels/: nothing outside the kernels and
 * their tests (tests/unit/test_kernels.c, tests/bench/direct.c) uses it.
 */
#ifndef PR_KUTIL_H
#define PR_KUTIL_H

#include <math.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "kernel.h"

/*
 * A buffer that only grows and is kept across tasks in ctx->state: this
 * VM pays ~11.5 us per fresh 4 KiB page, so a kernel reuses its largest
 * buffers.  Storage is an anonymous mapping aligned to 2 MiB and advised
 * MADV_HUGEPAGE (one fault per 2 MiB where transparent huge pages are on).
 * Contents are not kept when the buffer grows.  Each kernel's state
 * struct starts with its main struct pr_kbuf (the unit tests look at it).
 */
struct pr_kbuf {
	void *p;		/* NULL or cap bytes, 2 MiB aligned */
	size_t cap;
	void *map;		/* the mapping to unmap */
	size_t maplen;
};

/* Make b hold at least `bytes`.  0, or -ENOMEM (b is then empty). */
int pr_kbuf_reserve(struct pr_kbuf *b, size_t bytes);
void pr_kbuf_release(struct pr_kbuf *b);

/*
 * Bytes this process may still allocate: MemAvailable from /proc/meminfo,
 * lowered to the room left under any cgroup v2 memory.max on the way to
 * the root.  SIZE_MAX when nothing can be read.
 */
size_t pr_kmem_available(void);

/*
 * The memory bound of the kernels: allocating `more` new bytes is allowed
 * when it is at most half of pr_kmem_available(), so a task never drives
 * the worker into the OOM killer.  0, or PR_ELIMIT with a message naming
 * the kernel, the parameter and the sizes.
 */
int pr_kmem_check(size_t more, const char *kernel, const char *param,
    struct pr_errbuf *eb);

/* The stream key of the task: FNV-1a of ctx->task_id ("" when NULL). */
uint64_t pr_kstream(const struct pr_kctx *ctx);

/*
 * Whether the task's result is no longer wanted (ctx->stop, see kernel.h).
 * Long kernels look every ~1 ms of work or less and then return
 * pr_kstopped_err(): -ECANCELED, "kernel 'NAME': stopped" (the worker has
 * reported the task as cancelled or timed out already).
 */
static inline bool
pr_kstop_set(const atomic_int *stop)
{
	return stop != NULL && atomic_load_explicit(stop,
	    memory_order_relaxed) != 0;
}

static inline bool
pr_kstopped(const struct pr_kctx *ctx)
{
	return pr_kstop_set(ctx->stop);
}

int pr_kstopped_err(struct pr_kctx *ctx, const char *kernel);

/* Monotonic seconds. */
double pr_ktime(void);

/* Append metrics (JSON members, printf format) to ctx->extra when there is
 * one.  0, or a negative code with ctx->eb filled. */
int pr_kmetrics(struct pr_kctx *ctx, const char *kernel, const char *fmt,
    ...) __attribute__((format(printf, 3, 4)));

/* Threads a kernel may use: ctx->threads clamped to [1, PR_KTEAM_MAX],
 * or the optional "threads" parameter (checked, same bounds). */
#define PR_KTEAM_MAX	256
int pr_kthreads(const cJSON *params, const char *kernel,
    const struct pr_kctx *ctx, int *out);

/*
 * A team of threads running one function; the caller is member 0.  When
 * fewer threads can be created than asked for, the team is smaller: cb
 * gets the real size and must split its work by it.  Returns the size.
 */
struct pr_kteam;
typedef void (*pr_kteam_cb)(void *arg, int id, int nth,
    struct pr_kteam *team);
int pr_kteam_run(int nth, pr_kteam_cb cb, void *arg);
/* Wait until every member of the team arrives. */
void pr_kteam_barrier(struct pr_kteam *team);

/* Part id of n items split in nth near-equal contiguous parts. */
static inline size_t
pr_kpart(size_t n, int id, int nth)
{
	size_t q = n / (size_t)nth, r = n % (size_t)nth;

	return q * (size_t)id + r * (size_t)id / (size_t)nth;
}

/* x[0..n) = draws 0..n-1 of stream (seed, stream) as doubles in [0, 1),
 * filled by nth threads; the values do not depend on nth. */
void pr_kfill_double(double *x, size_t n, uint64_t seed, uint64_t stream,
    int nth);
/* The same, looking at *stop (may be NULL) between blocks: 0, or
 * -ECANCELED when stop was set (x is then partly filled). */
int pr_kfill_double_stop(double *x, size_t n, uint64_t seed,
    uint64_t stream, int nth, const atomic_int *stop);

/* Neumaier's compensated sum. */
struct pr_ksum {
	double s;
	double c;
};

static inline void
pr_ksum_add(struct pr_ksum *k, double x)
{
	double t = k->s + x;

	if (fabs(k->s) >= fabs(x))
		k->c += (k->s - t) + x;
	else
		k->c += (x - t) + k->s;
	k->s = t;
}

static inline double
pr_ksum_value(const struct pr_ksum *k)
{
	return k->s + k->c;
}

/*
 * Sort x[0..n) ascending in place with nth threads (a serial run below
 * PR_SORT_SERIAL elements), tmp holding n doubles of scratch.  LSD radix
 * sort on the order-preserving integer image of the doubles: -inf < ... <
 * -0.0 < +0.0 < ... < +inf < NaN; NaNs end up last with their sign
 * cleared (payloads kept).  Returns the threads used (>= 1), or -ENOMEM.
 * pr_sort_doubles_stop() looks at *stop (may be NULL) between the radix
 * passes and returns -ECANCELED when it was set (x is then in no useful
 * order).
 */
#define PR_SORT_SERIAL	65536
int pr_sort_doubles(double *x, double *tmp, size_t n, int nth);
int pr_sort_doubles_stop(double *x, double *tmp, size_t n, int nth,
    const atomic_int *stop);

/* Whether x[0..n) is in the order pr_sort_doubles() produces (checked
 * with nth threads). */
bool pr_sort_is_sorted(const double *x, size_t n, int nth);

#endif
