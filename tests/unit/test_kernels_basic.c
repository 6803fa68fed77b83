/*
 * test_kernels_basic.c - the kernel registry, the parameter helpers
 * (kparam.c) and the noop and sleep kernels.
 */
#include <float.h>
#include <math.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "buf.h"
#include "err.h"
#include "kernel.h"
#include "test.h"

static cJSON *
parse(const char *s)
{
	cJSON *j = cJSON_Parse(s);

	if (j == NULL)
		PR_TEST_FAIL("cannot parse test JSON '%s'", s);
	return j;
}

static double
mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Run kernel k on the params text; fills ctx (extra and eb given). */
static int
run_kernel(const struct pr_kernel *k, const char *params,
    struct pr_kctx *ctx, struct pr_buf *extra, struct pr_errbuf *eb)
{
	cJSON *p = params != NULL ? parse(params) : NULL;
	void *state = NULL;
	int rc;

	memset(ctx, 0, sizeof(*ctx));
	memset(eb, 0, sizeof(*eb));
	ctx->task_id = "t1";
	ctx->seq = 1;
	ctx->seed = 42;
	ctx->threads = 1;
	ctx->state = &state;
	ctx->extra = extra;
	ctx->eb = eb;
	rc = k->run(p, ctx);
	if (k->state_free != NULL)
		k->state_free(state);
	cJSON_Delete(p);
	return rc;
}

TEST(kernels_basic_registry_lists_noop_and_sleep)
{
	size_t i, n = 0;

	for (i = 0; pr_kernels[i] != NULL; i++) {
		ASSERT(pr_kernels[i]->name != NULL);
		ASSERT(pr_kernels[i]->summary != NULL);
		ASSERT(pr_kernels[i]->run != NULL);
		ASSERT(pr_kernel_find(pr_kernels[i]->name) == pr_kernels[i]);
		n++;
	}
	ASSERT(n >= 2);
	ASSERT(pr_kernel_find("noop") != NULL);
	ASSERT(pr_kernel_find("sleep") != NULL);
	ASSERT_STR_EQ(pr_kernel_find("noop")->name, "noop");
	ASSERT(pr_kernel_find("noop")->flags & PR_KERNEL_INLINE);
	ASSERT(!(pr_kernel_find("sleep")->flags & PR_KERNEL_INLINE));
	ASSERT(pr_kernel_find("nope") == NULL);
	ASSERT(pr_kernel_find("") == NULL);
	ASSERT(pr_kernel_find("NOOP") == NULL);
	ASSERT(pr_kernel_find(NULL) == NULL);
}

TEST(kernels_basic_registry_names_unique)
{
	size_t i, j;

	for (i = 0; pr_kernels[i] != NULL; i++)
		for (j = i + 1; pr_kernels[j] != NULL; j++)
			ASSERT(strcmp(pr_kernels[i]->name,
			    pr_kernels[j]->name) != 0);
}

TEST(kernels_basic_kparam_int_ok)
{
	cJSON *p = parse("{\"n\":5000,\"neg\":-3,\"big\":1e6}");
	struct pr_errbuf eb = { 0 };
	int64_t v = -1;

	ASSERT_OK(pr_kparam_int(p, "chol", "n", 1, 20000, false, &v, &eb));
	ASSERT_EQ(v, 5000);
	ASSERT_OK(pr_kparam_int(p, "chol", "neg", -10, 10, false, &v, &eb));
	ASSERT_EQ(v, -3);
	ASSERT_OK(pr_kparam_int(p, "chol", "big", 0, 1000000, false, &v,
	    &eb));
	ASSERT_EQ(v, 1000000);
	/* bounds are inclusive */
	ASSERT_OK(pr_kparam_int(p, "chol", "n", 5000, 5000, false, &v, &eb));
	ASSERT_EQ(v, 5000);
	cJSON_Delete(p);
}

TEST(kernels_basic_kparam_int_optional_missing)
{
	cJSON *p = parse("{\"m\":1}");
	struct pr_errbuf eb = { 0 };
	int64_t v = 77;

	ASSERT_OK(pr_kparam_int(p, "chol", "n", 1, 10, true, &v, &eb));
	ASSERT_EQ(v, 77);
	/* no params at all, or JSON null */
	ASSERT_OK(pr_kparam_int(NULL, "chol", "n", 1, 10, true, &v, &eb));
	ASSERT_EQ(v, 77);
	cJSON_Delete(p);
	p = parse("null");
	ASSERT_OK(pr_kparam_int(p, "chol", "n", 1, 10, true, &v, &eb));
	ASSERT_EQ(v, 77);
	cJSON_Delete(p);
}

TEST(kernels_basic_kparam_int_required_missing)
{
	struct pr_errbuf eb = { 0 };
	int64_t v = 77;

	ASSERT_EQ(pr_kparam_int(NULL, "chol", "n", 1, 20000, false, &v, &eb),
	    PR_EBADINPUT);
	ASSERT_EQ(v, 77);
	ASSERT_STR_EQ(eb.msg, "kernel 'chol': parameter 'n' is missing "
	    "(an integer in [1, 20000])");
}

TEST(kernels_basic_kparam_int_rejects)
{
	static const char *const bad[] = {
		"{\"n\":1.5}", "{\"n\":\"5\"}", "{\"n\":true}", "{\"n\":null}",
		"{\"n\":[1]}", "{\"n\":{}}", "{\"n\":0}", "{\"n\":20001}",
		"{\"n\":-1}", "{\"n\":1e300}", "{\"n\":-1e300}",
		"{\"n\":9223372036854775807}", "{\"n\":9.3e18}",
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cJSON *p = parse(bad[i]);
		struct pr_errbuf eb = { 0 };
		int64_t v = 77;

		ASSERT_EQ(pr_kparam_int(p, "chol", "n", 1, 20000, false, &v,
		    &eb), PR_EBADINPUT);
		ASSERT_EQ(v, 77);
		ASSERT_STR_EQ(eb.msg, "kernel 'chol': parameter 'n' must be "
		    "an integer in [1, 20000]");
		cJSON_Delete(p);
	}
}

TEST(kernels_basic_kparam_int_extreme_bounds)
{
	cJSON *p = parse("{\"n\":9223372036854775807,\"m\":-4611686018427387904}");
	struct pr_errbuf eb = { 0 };
	int64_t v = 77;

	/* 2^63 (what the text rounds to) does not fit an int64_t */
	ASSERT_EQ(pr_kparam_int(p, "k", "n", INT64_MIN, INT64_MAX, false, &v,
	    &eb), PR_EBADINPUT);
	ASSERT_EQ(v, 77);
	ASSERT_OK(pr_kparam_int(p, "k", "m", INT64_MIN, INT64_MAX, false, &v,
	    &eb));
	ASSERT(v == -4611686018427387904LL);
	cJSON_Delete(p);
}

TEST(kernels_basic_kparam_not_an_object)
{
	cJSON *p = parse("[1,2]");
	struct pr_errbuf eb = { 0 };
	int64_t v = 0;
	double d = 0;

	ASSERT_EQ(pr_kparam_int(p, "chol", "n", 1, 10, true, &v, &eb),
	    PR_EBADINPUT);
	ASSERT_STR_EQ(eb.msg, "kernel 'chol': parameters must be an object");
	ASSERT_EQ(pr_kparam_num(p, "chol", "x", 0, 1, true, &d, &eb),
	    PR_EBADINPUT);
	cJSON_Delete(p);
}

TEST(kernels_basic_kparam_num)
{
	cJSON *p = parse("{\"s\":0.25,\"i\":3,\"neg\":-2,\"str\":\"1\"}");
	struct pr_errbuf eb = { 0 };
	double d = -7;

	ASSERT_OK(pr_kparam_num(p, "sleep", "s", 0, 86400, false, &d, &eb));
	ASSERT_DBL_NEAR(d, 0.25, 0);
	ASSERT_OK(pr_kparam_num(p, "sleep", "i", 0, 86400, false, &d, &eb));
	ASSERT_DBL_NEAR(d, 3, 0);
	d = -7;
	ASSERT_OK(pr_kparam_num(p, "sleep", "none", 0, 1, true, &d, &eb));
	ASSERT_DBL_NEAR(d, -7, 0);
	ASSERT_EQ(pr_kparam_num(p, "sleep", "neg", 0, 86400, false, &d, &eb),
	    PR_EBADINPUT);
	ASSERT_STR_EQ(eb.msg, "kernel 'sleep': parameter 'neg' must be a "
	    "number in [0, 86400]");
	ASSERT_EQ(pr_kparam_num(p, "sleep", "str", 0, 86400, false, &d, &eb),
	    PR_EBADINPUT);
	ASSERT_EQ(pr_kparam_num(p, "sleep", "none", 0, 86400, false, &d, &eb),
	    PR_EBADINPUT);
	ASSERT_STR_EQ(eb.msg, "kernel 'sleep': parameter 'none' is missing "
	    "(a number in [0, 86400])");
	ASSERT_EQ(pr_kparam_num(p, "noop", "str", -DBL_MAX, DBL_MAX, false,
	    &d, &eb), PR_EBADINPUT);
	ASSERT_STR_EQ(eb.msg, "kernel 'noop': parameter 'str' must be a "
	    "finite number");
	ASSERT_DBL_NEAR(d, -7, 0);
	cJSON_Delete(p);
}

TEST(kernels_basic_noop_value)
{
	const struct pr_kernel *k = pr_kernel_find("noop");
	struct pr_kctx ctx;
	struct pr_errbuf eb;
	struct pr_buf extra;

	pr_buf_init(&extra, 0);
	ASSERT_OK(run_kernel(k, NULL, &ctx, &extra, &eb));
	ASSERT(ctx.has_value);
	ASSERT_DBL_NEAR(ctx.value, 0, 0);
	ASSERT_OK(run_kernel(k, "{}", &ctx, &extra, &eb));
	ASSERT(ctx.has_value);
	ASSERT_DBL_NEAR(ctx.value, 0, 0);
	ASSERT_OK(run_kernel(k, "{\"value\":-12.5,\"other\":1}", &ctx, &extra,
	    &eb));
	ASSERT(ctx.has_value);
	ASSERT_DBL_NEAR(ctx.value, -12.5, 0);
	ASSERT_EQ(extra.len, 0);
	ASSERT_EQ(run_kernel(k, "{\"value\":\"x\"}", &ctx, &extra, &eb),
	    PR_EBADINPUT);
	ASSERT_STR_EQ(eb.msg, "kernel 'noop': parameter 'value' must be a "
	    "finite number");
	pr_buf_release(&extra);
}

TEST(kernels_basic_sleep_seconds)
{
	const struct pr_kernel *k = pr_kernel_find("sleep");
	struct pr_kctx ctx;
	struct pr_errbuf eb;
	struct pr_buf extra;
	double t0 = mono_now(), t;

	pr_buf_init(&extra, 0);
	ASSERT_OK(run_kernel(k, "{\"seconds\":0.05}", &ctx, &extra, &eb));
	t = mono_now() - t0;
	ASSERT(t >= 0.05);
	ASSERT(t < 2);
	ASSERT(ctx.has_value);
	ASSERT_DBL_NEAR(ctx.value, 0.05, 0);
	ASSERT(strncmp(extra.data, "\"seconds\":", 10) == 0);
	ASSERT(strtod(extra.data + 10, NULL) >= 0.05);
	pr_buf_release(&extra);
}

TEST(kernels_basic_sleep_ms)
{
	const struct pr_kernel *k = pr_kernel_find("sleep");
	struct pr_kctx ctx;
	struct pr_errbuf eb;
	struct pr_buf extra;
	double t0 = mono_now(), t;

	pr_buf_init(&extra, 0);
	ASSERT_OK(run_kernel(k, "{\"ms\":30}", &ctx, &extra, &eb));
	t = mono_now() - t0;
	ASSERT(t >= 0.03);
	ASSERT_DBL_NEAR(ctx.value, 0.03, 1e-12);
	ASSERT_OK(run_kernel(k, "{\"seconds\":0}", &ctx, &extra, &eb));
	ASSERT_DBL_NEAR(ctx.value, 0, 0);
	pr_buf_release(&extra);
}

TEST(kernels_basic_sleep_bad_params)
{
	static const struct {
		const char *params, *msg;
	} cases[] = {
		{ NULL, "kernel 'sleep': parameter 'seconds' (or 'ms') is "
		    "missing" },
		{ "{}", "kernel 'sleep': parameter 'seconds' (or 'ms') is "
		    "missing" },
		{ "{\"seconds\":-1}", "kernel 'sleep': parameter 'seconds' "
		    "must be a number in [0, 86400]" },
		{ "{\"seconds\":86400.5}", "kernel 'sleep': parameter "
		    "'seconds' must be a number in [0, 86400]" },
		{ "{\"seconds\":\"1\"}", "kernel 'sleep': parameter "
		    "'seconds' must be a number in [0, 86400]" },
		{ "{\"ms\":1.5}", "kernel 'sleep': parameter 'ms' must be "
		    "an integer in [0, 86400000]" },
		{ "{\"ms\":86400001}", "kernel 'sleep': parameter 'ms' must "
		    "be an integer in [0, 86400000]" },
		{ "{\"ms\":1,\"seconds\":1}", "kernel 'sleep': give "
		    "parameter 'seconds' or 'ms', not both" },
		{ "[1]", "kernel 'sleep': parameters must be an object" },
	};
	const struct pr_kernel *k = pr_kernel_find("sleep");
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct pr_kctx ctx;
		struct pr_errbuf eb;
		struct pr_buf extra;
		double t0 = mono_now();

		pr_buf_init(&extra, 0);
		ASSERT_EQ(run_kernel(k, cases[i].params, &ctx, &extra, &eb),
		    PR_EBADINPUT);
		ASSERT_STR_EQ(eb.msg, cases[i].msg);
		ASSERT(!ctx.has_value);
		ASSERT(mono_now() - t0 < 0.5);
		pr_buf_release(&extra);
	}
}
