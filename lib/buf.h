/*
 * buf.h - a growable byte buffer with an optional size cap.
 *
 * After pr_buf_init() the buffer is empty and owns nothing; init cannot
 * fail.  Appends grow it; an append that would pass `max` (when max > 0)
 * fails with PR_ETOOBIG and leaves the contents as they were, so a caller
 * can report the overflow and go on.  Allocation failure gives -ENOMEM.
 * data is always NUL-terminated after a successful append (the NUL is not
 * counted in len), so text can be used as a C string.
 *
 * pr_buf_release() frees the storage and returns the buffer to the state
 * of pr_buf_init() with the same max.  pr_buf_detach() hands the storage
 * to the caller (free() it) and leaves the buffer empty.
 */
#ifndef PR_BUF_H
#define PR_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

struct pr_buf {
	char *data;
	size_t len;
	size_t cap;
	size_t max;		/* 0: no cap */
};

void pr_buf_init(struct pr_buf *b, size_t max);
void pr_buf_release(struct pr_buf *b);
char *pr_buf_detach(struct pr_buf *b, size_t *len);
static inline void pr_buf_reset(struct pr_buf *b) { b->len = 0; if (b->data) b->data[0] = '\0'; }

/* Make room for n more bytes (plus the NUL). */
int pr_buf_grow(struct pr_buf *b, size_t n);
int pr_buf_add(struct pr_buf *b, const void *p, size_t n);
int pr_buf_adds(struct pr_buf *b, const char *s);
int pr_buf_addc(struct pr_buf *b, char c);
int pr_buf_addf(struct pr_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int pr_buf_vaddf(struct pr_buf *b, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));
int pr_buf_add_u64(struct pr_buf *b, uint64_t v);
int pr_buf_add_i64(struct pr_buf *b, int64_t v);
/* Shortest text that reads back as the same double ("%.17g" when needed);
 * non-finite values are written as null, since JSON has no NaN. */
int pr_buf_add_double(struct pr_buf *b, double v);
/* Drop the first n bytes. */
void pr_buf_consume(struct pr_buf *b, size_t n);

#endif
