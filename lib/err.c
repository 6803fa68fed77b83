/* err.c - see err.h */
#include "err.h"

#include <stdarg.h>
#include <stdio.h>

#include <uv.h>

const char *
pr_strerror(int code)
{
	switch (code) {
#define XX(name, val, msg) case PR_E##name: return msg;
	PR_ERRNO_MAP(XX)
#undef XX
	}
	return uv_strerror(code);
}

int
pr_err(struct pr_errbuf *eb, int code, const char *fmt, ...)
{
	va_list ap;

	if (eb == NULL)
		return code;
	eb->code = code;
	va_start(ap, fmt);
	vsnprintf(eb->msg, sizeof(eb->msg), fmt, ap);
	va_end(ap);
	return code;
}

const char *
pr_errmsg(const struct pr_errbuf *eb, int code)
{
	if (eb != NULL && eb->msg[0] != '\0')
		return eb->msg;
	return pr_strerror(code);
}
