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

int
pr_buf_add_double(struct pr_buf *b, double v)
{
	char tmp[40];
	int n = 0, prec;

	if (!isfinite(v))
		return pr_buf_add(b, "null", 4);
	if (v == 0)
		return signbit(v) ? pr_buf_add(b, "-0", 2) : pr_buf_addc(b, '0');
	/* range first: converting an out-of-range double is undefined */
	if (fabs(v) < 1e15 && v == floor(v))
		return pr_buf_add_i64(b, (int64_t)v);
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
