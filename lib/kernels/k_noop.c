/*
 * k_noop.c - the kernel that does nothing, for tests and for measuring
 * dispatch speed.  Its value is 0, or params.value when given (so a test
 * can see which task a result belongs to).
 */
#include <float.h>

#include "kernel.h"

static int
noop_run(const cJSON *params, struct pr_kctx *ctx)
{
	double v = 0;
	int rc;

	rc = pr_kparam_num(params, "noop", "value", -DBL_MAX, DBL_MAX, true,
	    &v, ctx->eb);
	if (rc < 0)
		return rc;
	ctx->has_value = true;
	ctx->value = v;
	return 0;
}

const struct pr_kernel pr_kernel_noop = {
	.name = "noop",
	.summary = "do nothing; value is params.value, or 0",
	.flags = PR_KERNEL_INLINE,
	.run = noop_run,
	.state_free = NULL,
};
