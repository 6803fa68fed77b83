/*
 * log.h - parrun's messages to stderr.
 *
 * Every line is "parrun: message" (git style: lowercase, no full stop,
 * the subject quoted).  The level threshold is global (set once by cmd/
 * from -v/--quiet).  A hook runs before each line so a progress bar can
 * erase itself first.  Logging never touches stdout.
 */
#ifndef PR_LOG_H
#define PR_LOG_H

enum pr_log_level {
	PR_LOG_ERROR,
	PR_LOG_WARN,
	PR_LOG_INFO,
	PR_LOG_DEBUG,
};

void pr_log_set_level(enum pr_log_level lvl);
void pr_log_set_prefix(const char *prefix);	/* default "parrun" */
void pr_log_set_hook(void (*hook)(void *), void *arg);
void pr_log(enum pr_log_level lvl, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define pr_log_error(...) pr_log(PR_LOG_ERROR, __VA_ARGS__)
#define pr_log_warn(...)  pr_log(PR_LOG_WARN, __VA_ARGS__)
#define pr_log_info(...)  pr_log(PR_LOG_INFO, __VA_ARGS__)
#define pr_log_debug(...) pr_log(PR_LOG_DEBUG, __VA_ARGS__)

#endif
