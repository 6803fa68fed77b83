/* buf.c - see buf.h */
#include "buf.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

void
pr_buf_init(struct pr_buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
}

void
pr_buf_release(struct pr_buf *b)
{
	free(b->data);
	pr_buf_init(b, b->max);
}

char *
pr_buf_detach(struct pr_buf *b, size_t *len)
{
	char *p = b->data;

	if (len != NULL)
		*len = b->len;
	if (p == NULL)
		p = calloc(1, 1);
	pr_buf_init(b, b->max);
	return p;
}

int
pr_buf_grow(struct pr_buf *b, size_t n)
{
	size_t need, cap;
	char *p;

	if (n > SIZE_MAX - b->len - 1)
		return -ENOMEM;
	need = b->len + n + 1;
	if (b->max > 0 && b->len + n > b->max)
		return PR_ETOOBIG;
	if (need <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	p = realloc(b->data, cap);
	if (p == NULL)
		return -ENOMEM;
	b->data = p;
	b->cap = cap;
	return 0;
}

int
pr_buf_add(struct pr_buf *b, const void *p, size_t n)
{
	int rc = pr_buf_grow(b, n);

	if (rc < 0)
		return rc;
	if (n > 0)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int
pr_buf_adds(struct pr_buf *b, const char *s)
{
	return pr_buf_add(b, s, strlen(s));
}

int
pr_buf_addc(struct pr_buf *b, char c)
{
	int rc;

	if (b->len + 1 < b->cap && (b->max == 0 || b->len < b->max)) {
		b->data[b->len++] = c;
		b->data[b->len] = '\0';
		return 0;
	}
	rc = pr_buf_grow(b, 1);
	if (rc < 0)
		return rc;
	b->data[b->len++] = c;
	b->data[b->len] = '\0';
	return 0;
}

int
pr_buf_vaddf(struct pr_buf *b, const char *fmt, va_list ap)
{
	va_list cp;
	int n, rc;

	va_copy(cp, ap);
	n = vsnprintf(NULL, 0, fmt, cp);
	va_end(cp);
	if (n < 0)
		return -EINVAL;
	rc = pr_buf_grow(b, (size_t)n);
	if (rc < 0)
		return rc;
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return 0;
}

int
pr_buf_addf(struct pr_buf *b, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = pr_buf_vaddf(b, fmt, ap);
	va_end(ap);
	return rc;
}

int
pr_buf_add_u64(struct pr_buf *b, uint64_t v)
{
	char tmp[24];
	char *p = tmp + sizeof(tmp);

	do {
		*--p = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	return pr_buf_add(b, p, (size_t)(tmp + sizeof(tmp) - p));
}

int
pr_buf_add_i64(struct pr_buf *b, int64_t v)
{
	int rc;

	if (v >= 0)
		return pr_buf_add_u64(b, (uint64_t)v);
	rc = pr_buf_addc(b, '-');
	if (rc < 0)
		return rc;
	return pr_buf_add_u64(b, (uint64_t)0 - (uint64_t)v);
}

/*
 * The common case without snprintf and strtod (which cost about a
 * microsecond): a value with few decimals, such as a time in seconds.  m
 * is the value scaled by 10^k and rounded; since m and 10^k are exact
 * doubles, m / 10^k is correctly rounded, just as strtod() of the text
 * "m e-k" is, so equality proves the text reads back as v.  The smallest
 * such k gives the same digits as "%.15g": the text has at most 15
 * significant digits and lies within half an ulp of v, closer than half a
 * step of the 15-digit grid, and 1e-4 <= |v| < 1e15 is where %g writes
 * fixed notation.  Returns 1 when it does not apply.
 */
static int
add_decimal(struct pr_buf *b, double v)
{
	static const double p10[] = {
		1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
		1e11, 1e12, 1e13, 1e14, 1e15,
	};
	char tmp[40], *p = tmp + sizeof(tmp);
	double a = fabs(v), m = 0;
	uint64_t ip, fp;
	int k;

	if (a < 1e-4 || a >= 1e15)
		return 1;
	for (k = 1; k < 16; k++) {
		if (a * p10[k] >= 1e15)
			return 1;
		m = round(a * p10[k]);
		if (m / p10[k] == a)
			break;
	}
	if (k == 16)
		return 1;
	ip = (uint64_t)m / (uint64_t)p10[k];
	fp = (uint64_t)m % (uint64_t)p10[k];
	for (int i = 0; i < k; i++, fp /= 10)
		*--p = (char)('0' + fp % 10);
	*--p = '.';
	do {
		*--p = (char)('0' + ip % 10);
		ip /= 10;
	} while (ip != 0);
	if (v < 0)
		*--p = '-';
	return pr_buf_add(b, p, (size_t)(tmp + sizeof(tmp) - p));
}

int
pr_buf_add_double(struct pr_buf *b, double v)
{
	char tmp[40];
	int n = 0, prec, rc;

	if (!isfinite(v))
		return pr_buf_add(b, "null", 4);
	if (v == 0)
		return signbit(v) ? pr_buf_add(b, "-0", 2) :
		    pr_buf_addc(b, '0');
	/* range first: converting an out-of-range double is undefined */
	if (fabs(v) < 1e15 && v == floor(v))
		return pr_buf_add_i64(b, (int64_t)v);
	if ((rc = add_decimal(b, v)) <= 0)
		return rc;
	for (prec = 15; prec <= 17; prec++) {
		n = snprintf(tmp, sizeof(tmp), "%.*g", prec, v);
		if (strtod(tmp, NULL) == v)
			break;
	}
	return pr_buf_add(b, tmp, (size_t)n);
}

void
pr_buf_consume(struct pr_buf *b, size_t n)
{
	if (n >= b->len) {
		pr_buf_reset(b);
		return;
	}
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
	b->data[b->len] = '\0';
}
