/*
 * err.h - parrun's error codes and the error buffer.
 *
 * Every action in lib/ returns 0 on success or a negative code.  System
 * errors are -errno, so libuv results (UV_E* are -errno on Unix) pass
 * straight through.  parrun's own codes sit below -4000, clear of libuv's
 * ranges, and come from the one table below, which builds both the enum
 * and pr_strerror().
 *
 * Details that a code cannot carry (a JSON error column, a libssh2
 * message, a host name) go into an optional struct pr_errbuf.  Functions
 * that take one accept NULL.  Messages follow the project rule: lowercase,
 * no full stop, the subject quoted: "cannot connect to 'node07:22': ...".
 */
#ifndef PR_ERR_H
#define PR_ERR_H

#include <stddef.h>

#define PR_ERRNO_MAP(XX)                                             \
	XX(PROTO,    -4001, "protocol error")                            \
	XX(TOOBIG,   -4002, "line too long")                             \
	XX(TORN,     -4003, "torn frame at end of stream")               \
	XX(VERSION,  -4004, "no common protocol version")                \
	XX(BADINPUT, -4005, "bad input")                                 \
	XX(KERNEL,   -4006, "kernel failed")                             \
	XX(NOKERNEL, -4007, "no such kernel")                            \
	XX(SSH,      -4008, "ssh error")                                 \
	XX(HOSTKEY,  -4009, "host key not trusted")                      \
	XX(AUTH,     -4010, "authentication failed")                     \
	XX(CONFIG,   -4011, "bad configuration")                         \
	XX(NOWORKER, -4012, "no worker available")                       \
	XX(TIMEOUT,  -4013, "timed out")                                 \
	XX(JOURNAL,  -4014, "journal damaged")                           \
	XX(LIMIT,    -4015, "value out of range")

enum pr_errno {
#define XX(name, val, msg) PR_E##name = (val),
	PR_ERRNO_MAP(XX)
#undef XX
};

/* Text for any code: parrun's own, or -errno / UV_E* (via uv_strerror). */
const char *pr_strerror(int code);

#define PR_ERRBUF_LEN 512

struct pr_errbuf {
	int code;
	char msg[PR_ERRBUF_LEN];
};

/*
 * Record a formatted message in eb (which may be NULL) and return code,
 * so callers can write `return pr_err(eb, PR_EPROTO, "...", ...)`.
 */
int pr_err(struct pr_errbuf *eb, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* eb->msg if set, else pr_strerror(code). eb may be NULL. */
const char *pr_errmsg(const struct pr_errbuf *eb, int code);

#endif
