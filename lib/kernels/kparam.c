/*
 * kparam.c - checked kernel parameters (see kernel.h).
 *
 * Parameters come from the task line and are untrusted: a missing,
 * mistyped, non-finite, fractional or out-of-range value gives a message
 * that names the kernel, the parameter and the accepted range.
 */
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>

#include "kernel.h"

/* Find name in params; NULL when params is NULL or name is absent.
 * *bad is set when params is not an object. */
static const cJSON *
param_get(const cJSON *params, const char *name, int *bad)
{
	*bad = 0;
	if (params == NULL || cJSON_IsNull(params))
		return NULL;
	if (!cJSON_IsObject(params)) {
		*bad = 1;
		return NULL;
	}
	return cJSON_GetObjectItemCaseSensitive(params, name);
}

int
pr_kparam_int(const cJSON *params, const char *kernel, const char *name,
    int64_t lo, int64_t hi, bool optional, int64_t *out,
    struct pr_errbuf *eb)
{
	const cJSON *it;
	double d;
	int bad;

	it = param_get(params, name, &bad);
	if (bad)
		return pr_err(eb, PR_EBADINPUT,
		    "kernel '%s': parameters must be an object", kernel);
	if (it == NULL) {
		if (optional)
			return 0;
		return pr_err(eb, PR_EBADINPUT, "kernel '%s': parameter '%s' "
		    "is missing (an integer in [%" PRId64 ", %" PRId64 "])",
		    kernel, name, lo, hi);
	}
	if (!cJSON_IsNumber(it))
		goto range;
	d = it->valuedouble;
	/* The bounds are compared as doubles; 2^63 and beyond never fit
	 * an int64_t, whatever (double)hi rounds to. */
	if (!isfinite(d) || d != floor(d) || d < (double)lo ||
	    d > (double)hi || d >= 9223372036854775808.0 ||
	    d < -9223372036854775808.0)
		goto range;
	if ((int64_t)d < lo || (int64_t)d > hi)
		goto range;
	*out = (int64_t)d;
	return 0;
range:
	return pr_err(eb, PR_EBADINPUT, "kernel '%s': parameter '%s' must be "
	    "an integer in [%" PRId64 ", %" PRId64 "]", kernel, name, lo, hi);
}

int
pr_kparam_num(const cJSON *params, const char *kernel, const char *name,
    double lo, double hi, bool optional, double *out, struct pr_errbuf *eb)
{
	const cJSON *it;
	double d;
	int bad;

	it = param_get(params, name, &bad);
	if (bad)
		return pr_err(eb, PR_EBADINPUT,
		    "kernel '%s': parameters must be an object", kernel);
	if (it == NULL) {
		if (optional)
			return 0;
		if (lo <= -DBL_MAX && hi >= DBL_MAX)
			return pr_err(eb, PR_EBADINPUT, "kernel '%s': "
			    "parameter '%s' is missing (a finite number)",
			    kernel, name);
		return pr_err(eb, PR_EBADINPUT, "kernel '%s': parameter '%s' "
		    "is missing (a number in [%g, %g])", kernel, name, lo, hi);
	}
	if (!cJSON_IsNumber(it))
		goto range;
	d = it->valuedouble;
	if (!isfinite(d) || d < lo || d > hi)
		goto range;
	*out = d;
	return 0;
range:
	if (lo <= -DBL_MAX && hi >= DBL_MAX)
		return pr_err(eb, PR_EBADINPUT, "kernel '%s': parameter '%s' "
		    "must be a finite number", kernel, name);
	return pr_err(eb, PR_EBADINPUT, "kernel '%s': parameter '%s' must be "
	    "a number in [%g, %g]", kernel, name, lo, hi);
}
