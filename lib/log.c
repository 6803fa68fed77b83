/* log.c - see log.h */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static enum pr_log_level level = PR_LOG_WARN;
static const char *prefix = "parrun";
static void (*hook_fn)(void *);
static void *hook_arg;

void
pr_log_set_level(enum pr_log_level lvl)
{
	level = lvl;
}

void
pr_log_set_prefix(const char *p)
{
	prefix = p;
}

void
pr_log_set_hook(void (*hook)(void *), void *arg)
{
	hook_fn = hook;
	hook_arg = arg;
}

void
pr_log(enum pr_log_level lvl, const char *fmt, ...)
{
	char line[2048];
	va_list ap;
	int n;

	if (lvl > level)
		return;
	if (hook_fn != NULL)
		hook_fn(hook_arg);
	n = snprintf(line, sizeof(line), "%s: ", prefix);
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	n = (int)strlen(line);
	line[n++] = '\n';
	/* one write, so lines from several processes do not mix */
	if (write(2, line, (size_t)n) < 0)
		return;
}
