/*
 * k_sleep.c - sleep on the kernel's own thread, for tests of slots,
 * cancellation and heartbeats while a kernel runs.
 *
 * Parameters: "seconds" (a number in [0, 86400]) or "ms" (an integer in
 * [0, 86400000]); exactly one of them.  The value is the time asked for,
 * in seconds (so sums over sleep tasks are exact); the metric "seconds"
 * is the time measured.
 *
 * It sleeps in slices of at most 50 ms and looks at ctx->stop between
 * them, so a cancelled or timed-out sleep ends within 50 ms (-ECANCELED).
 */
#include <errno.h>
#include <math.h>
#include <time.h>

#include "kernel.h"

#define SLEEP_MAX_S	86400
#define SLEEP_SLICE_S	0.05	/* longest sleep between looks at stop */

static double
mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
sleep_run(const cJSON *params, struct pr_kctx *ctx)
{
	double secs = -1, t0, t1, left;
	int64_t ms = -1;
	struct timespec req, rem;
	int rc;

	rc = pr_kparam_num(params, "sleep", "seconds", 0, SLEEP_MAX_S, true,
	    &secs, ctx->eb);
	if (rc < 0)
		return rc;
	rc = pr_kparam_int(params, "sleep", "ms", 0,
	    (int64_t)SLEEP_MAX_S * 1000, true, &ms, ctx->eb);
	if (rc < 0)
		return rc;
	if (secs >= 0 && ms >= 0)
		return pr_err(ctx->eb, PR_EBADINPUT, "kernel 'sleep': give "
		    "parameter 'seconds' or 'ms', not both");
	if (ms >= 0)
		secs = (double)ms / 1000;
	if (secs < 0)
		return pr_err(ctx->eb, PR_EBADINPUT, "kernel 'sleep': "
		    "parameter 'seconds' (or 'ms') is missing");

	t0 = mono_now();
	for (;;) {
		if (ctx->stop != NULL && atomic_load(ctx->stop) != 0)
			return pr_err(ctx->eb, -ECANCELED, "kernel 'sleep': "
			    "stopped after %.3f s", mono_now() - t0);
		left = secs - (mono_now() - t0);
		if (left <= 0)
			break;
		if (left > SLEEP_SLICE_S)
			left = SLEEP_SLICE_S;
		req.tv_sec = 0;
		req.tv_nsec = (long)(left * 1e9);
		if (req.tv_nsec >= 1000000000L)
			req.tv_nsec = 999999999L;
		while (nanosleep(&req, &rem) != 0 && errno == EINTR)
			req = rem;
	}
	t1 = mono_now();

	ctx->has_value = true;
	ctx->value = secs;
	if (ctx->extra != NULL) {
		rc = pr_buf_adds(ctx->extra, "\"seconds\":");
		if (rc == 0)
			rc = pr_buf_add_double(ctx->extra, t1 - t0);
		if (rc < 0)
			return pr_err(ctx->eb, rc, "kernel 'sleep': %s",
			    pr_strerror(rc));
	}
	return 0;
}

const struct pr_kernel pr_kernel_sleep = {
	.name = "sleep",
	.summary = "sleep params.seconds (or params.ms); value is the seconds",
	.flags = 0,
	.run = sleep_run,
	.state_free = NULL,
};
