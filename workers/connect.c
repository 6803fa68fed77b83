/*
 * connect.c - parrun-worker --connect (see connect.h).  The handshake and
 * the retries are lib/transport_tcp.c's; this file picks the secret's
 * source and logs like the rest of the worker.
 */
#include "connect.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "transport_tcp.h"
#include "worker.h"

struct wconn {
	pr_worker_connected_cb cb;
	void *arg;
	bool logged;
};

int
pr_worker_secret(const char *secret_file, int fd,
    uint8_t secret[PR_SECRET_LEN], struct pr_errbuf *eb)
{
	struct pr_errbuf e = { 0, "" };
	int rc;

	if (secret_file != NULL)
		return pr_secret_read_file(secret_file, secret, eb);
	rc = pr_secret_read_fd(fd, secret, &e);
	if (rc < 0)
		return pr_err(eb, rc, "%s; --connect needs the run's secret "
		    "as the first line of stdin or in --secret-file FILE",
		    e.msg);
	return 0;
}

static void
on_retry(void *arg, int attempt, int err, const char *msg, int delay_ms)
{
	struct wconn *w = arg;

	(void)attempt;
	(void)err;
	(void)delay_ms;
	/* once: srun may start workers before the listener is reachable */
	if (w->logged)
		return;
	w->logged = true;
	w_log("%s; trying again", msg);
}

static void
on_connected(void *arg, int status, uv_tcp_t *tcp, const char *leftover,
    size_t n, const char *msg)
{
	struct wconn *w = arg;
	pr_worker_connected_cb cb = w->cb;
	void *cb_arg = w->arg;

	free(w);
	cb(cb_arg, status, (uv_stream_t *)tcp, leftover, n, msg);
}

static int
connect_ms(void)
{
	const char *s = getenv("PARRUN_CONNECT_MS");
	char *end;
	long v;

	if (s == NULL || *s == '\0')
		return W_CONNECT_MS;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < 1 || v > 86400000)
		return W_CONNECT_MS;
	return (int)v;
}

int
pr_worker_connect(uv_loop_t *loop, const char *addr_port,
    const uint8_t secret[PR_SECRET_LEN], const char *hello, size_t len,
    int total_ms, uv_tcp_t *tcp, pr_worker_connected_cb cb, void *arg,
    struct pr_errbuf *eb)
{
	struct pr_tcp_connect_opts o;
	struct wconn *w;
	int rc;

	w = calloc(1, sizeof(*w));
	if (w == NULL)
		return pr_err(eb, -ENOMEM, "out of memory");
	w->cb = cb;
	w->arg = arg;
	memset(&o, 0, sizeof(o));
	o.total_ms = total_ms > 0 ? total_ms : connect_ms();
	rc = pr_tcp_connect(loop, addr_port, secret, hello, len, &o, tcp,
	    on_connected, on_retry, w, NULL, eb);
	if (rc < 0)
		free(w);
	return rc;
}
