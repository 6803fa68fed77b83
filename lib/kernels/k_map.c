/*
 * k_map.c - the `map` kernel: the notes' @threads loop
 * x[i] = tan(x[i]) + 3 sin(x[i]) over a vector of uniforms.
 *
 * Owner: h5.
 *
 * x[i] is draw i of the task's stream.  The threads take contiguous
 * chunks of blocks of MAP_BLOCK elements; each block is summed on its own
 * (Neumaier) and the block sums are added in block order afterwards, so
 * the value is the same bits whatever the number of threads.
 * ctx->stop is looked at between blocks (~0.1 ms each).
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernel.h"
#include "kutil.h"
#include "rng.h"

#define MAP_MAX		1000000000LL	/* 8 GB; memory-bound too */
#define MAP_BLOCK	4096

struct map_state {
	struct pr_kbuf x, part;
};

struct map_job {
	double *x;
	struct pr_ksum *part;
	size_t n, nblk;
	const atomic_int *stop;
};

static void
map_state_free(void *p)
{
	struct map_state *s = p;

	if (s == NULL)
		return;
	pr_kbuf_release(&s->x);
	pr_kbuf_release(&s->part);
	free(s);
}

static void
map_part(void *arg, int id, int nth, struct pr_kteam *team)
{
	struct map_job *j = arg;
	size_t b0 = pr_kpart(j->nblk, id, nth);
	size_t b1 = pr_kpart(j->nblk, id + 1, nth);
	size_t b, i, end;

	(void)team;
	for (b = b0; b < b1 && !pr_kstop_set(j->stop); b++) {
		struct pr_ksum k = { 0, 0 };

		end = (b + 1) * MAP_BLOCK < j->n ? (b + 1) * MAP_BLOCK : j->n;
		for (i = b * MAP_BLOCK; i < end; i++) {
			double v = j->x[i];

			v = tan(v) + 3 * sin(v);
			j->x[i] = v;
			pr_ksum_add(&k, v);
		}
		j->part[b] = k;
	}
}

static int
map_run(const cJSON *params, struct pr_kctx *ctx)
{
	struct map_state *s;
	struct map_job j;
	struct pr_ksum tot = { 0, 0 };
	int64_t n = 0;
	size_t bytes, pbytes, more, b;
	double t0, t1;
	int nth, used, rc;

	rc = pr_kparam_int(params, "map", "n", 1, MAP_MAX, false, &n,
	    ctx->eb);
	if (rc < 0)
		return rc;
	rc = pr_kthreads(params, "map", ctx, &nth);
	if (rc < 0)
		return rc;
	s = *ctx->state;
	if (s == NULL) {
		s = calloc(1, sizeof(*s));
		if (s == NULL)
			return pr_err(ctx->eb, -ENOMEM, "kernel 'map': out of "
			    "memory");
		*ctx->state = s;
	}
	j.n = (size_t)n;
	j.nblk = (j.n + MAP_BLOCK - 1) / MAP_BLOCK;
	bytes = j.n * sizeof(double);
	pbytes = j.nblk * sizeof(struct pr_ksum);
	more = (bytes > s->x.cap ? bytes : 0) + (pbytes > s->part.cap ?
	    pbytes : 0);
	rc = pr_kmem_check(more, "map", "n", ctx->eb);
	if (rc < 0)
		return rc;
	if (pr_kbuf_reserve(&s->x, bytes) < 0 ||
	    pr_kbuf_reserve(&s->part, pbytes) < 0)
		return pr_err(ctx->eb, -ENOMEM, "kernel 'map': cannot map "
		    "%zu MiB for n=%zu", (bytes + pbytes) >> 20, j.n);
	j.x = s->x.p;
	j.part = s->part.p;
	j.stop = ctx->stop;
	if (pr_kfill_double_stop(j.x, j.n, ctx->seed, pr_kstream(ctx), nth,
	    ctx->stop) < 0)
		return pr_kstopped_err(ctx, "map");
	if (j.nblk < 16)
		nth = 1;
	t0 = pr_ktime();
	used = pr_kteam_run(nth, map_part, &j);
	if (pr_kstopped(ctx))
		return pr_kstopped_err(ctx, "map");
	for (b = 0; b < j.nblk; b++) {
		pr_ksum_add(&tot, j.part[b].s);
		tot.c += j.part[b].c;
	}
	t1 = pr_ktime();
	ctx->has_value = true;
	ctx->value = pr_ksum_value(&tot);
	return pr_kmetrics(ctx, "map", "\"seconds\":%.9g,\"threads\":%d",
	    t1 - t0, used);
}

const struct pr_kernel pr_kernel_map = {
	.name = "map",
	.summary = "threaded map x = tan(x) + 3 sin(x) over n uniforms "
	    "(n, threads): value = the sum",
	.flags = 0,
	.run = map_run,
	.state_free = map_state_free,
};
