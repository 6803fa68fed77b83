/*
 * transport_local.c - a worker as a child process over two pipes.
 *
 * The child gets a pipe on stdin (protocol in), a pipe on stdout
 * (protocol out) and parrun's own stderr for its log lines.  libuv creates
 * the pipes close-on-exec, so workers never inherit each other's ends.
 */
#include "transport.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define READ_BUF (64 * 1024)

struct local {
	struct pr_transport t;		/* first: the public part */
	uv_process_t proc;
	uv_pipe_t to;			/* its stdin */
	uv_pipe_t from;			/* its stdout */
	int open_handles;
	bool closing;
	bool exited;
	bool reading;
	char rbuf[READ_BUF];
};

struct wreq {
	uv_write_t req;
	char *data;
};

static struct local *
to_local(struct pr_transport *t)
{
	return (struct local *)t;
}

static void
on_handle_closed(uv_handle_t *h)
{
	struct local *l = h->data;

	if (--l->open_handles > 0)
		return;
	if (l->t.cb.closed != NULL)
		l->t.cb.closed(l->t.cb.arg);
	free(l);
}

static void
on_exit_cb(uv_process_t *p, int64_t status, int sig)
{
	struct local *l = p->data;

	l->exited = true;
	if (!l->closing && l->t.cb.exited != NULL)
		l->t.cb.exited(l->t.cb.arg, (long)status, sig);
}

static void
on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct local *l = h->data;

	(void)hint;
	buf->base = l->rbuf;
	buf->len = sizeof(l->rbuf);
}

static void
on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct local *l = s->data;

	(void)buf;
	if (l->closing)
		return;
	if (n > 0) {
		l->t.cb.data(l->t.cb.arg, buf->base, (size_t)n);
		return;
	}
	if (n == 0)
		return;		/* EAGAIN: not EOF */
	uv_read_stop(s);
	l->reading = false;
	l->t.cb.eof(l->t.cb.arg, n == UV_EOF ? 0 : (int)n);
}

static void
on_written(uv_write_t *req, int status)
{
	struct wreq *w = (struct wreq *)req;

	(void)status;	/* a failed write shows up as EOF or exit */
	free(w->data);
	free(w);
}

static int
local_send(struct pr_transport *t, char *data, size_t len)
{
	struct local *l = to_local(t);
	struct wreq *w;
	uv_buf_t b;
	int rc;

	if (l->closing) {
		free(data);
		return UV_EPIPE;
	}
	w = malloc(sizeof(*w));
	if (w == NULL) {
		free(data);
		return -ENOMEM;
	}
	w->data = data;
	b = uv_buf_init(data, (unsigned int)len);
	rc = uv_write(&w->req, (uv_stream_t *)&l->to, &b, 1, on_written);
	if (rc < 0) {
		free(data);
		free(w);
	}
	return rc;
}

static size_t
local_queued(const struct pr_transport *t)
{
	const struct local *l = (const struct local *)t;

	return uv_stream_get_write_queue_size((const uv_stream_t *)&l->to);
}

static void
local_pause(struct pr_transport *t, bool paused)
{
	struct local *l = to_local(t);

	if (l->closing)
		return;
	if (paused && l->reading) {
		uv_read_stop((uv_stream_t *)&l->from);
		l->reading = false;
	} else if (!paused && !l->reading) {
		if (uv_read_start((uv_stream_t *)&l->from, on_alloc, on_read) == 0)
			l->reading = true;
	}
}

static void
local_kill(struct pr_transport *t, int sig)
{
	struct local *l = to_local(t);

	if (!l->exited)
		uv_process_kill(&l->proc, sig);
}

static void
on_shutdown(uv_shutdown_t *req, int status)
{
	(void)status;
	free(req);
}

static void
local_shutdown(struct pr_transport *t)
{
	struct local *l = to_local(t);
	uv_shutdown_t *req;

	if (l->closing)
		return;
	req = malloc(sizeof(*req));
	if (req == NULL || uv_shutdown(req, (uv_stream_t *)&l->to,
	    on_shutdown) < 0)
		free(req);
}

static void
local_close(struct pr_transport *t)
{
	struct local *l = to_local(t);

	if (l->closing)
		return;
	l->closing = true;
	uv_close((uv_handle_t *)&l->to, on_handle_closed);
	uv_close((uv_handle_t *)&l->from, on_handle_closed);
	uv_close((uv_handle_t *)&l->proc, on_handle_closed);
}

static const struct pr_transport_ops local_ops = {
	.name = "local",
	.send = local_send,
	.queued = local_queued,
	.pause = local_pause,
	.kill = local_kill,
	.shutdown = local_shutdown,
	.close = local_close,
};

int
pr_transport_local_start(uv_loop_t *loop, char *const *argv,
    const struct pr_transport_cb *cb, struct pr_transport **out,
    struct pr_errbuf *eb)
{
	uv_process_options_t opt;
	uv_stdio_container_t stdio[3];
	struct local *l;
	int rc;

	l = calloc(1, sizeof(*l));
	if (l == NULL)
		return -ENOMEM;
	l->t.ops = &local_ops;
	l->t.cb = *cb;
	uv_pipe_init(loop, &l->to, 0);
	uv_pipe_init(loop, &l->from, 0);
	l->to.data = l->from.data = l->proc.data = l;
	l->open_handles = 3;

	memset(&opt, 0, sizeof(opt));
	stdio[0].flags = UV_CREATE_PIPE | UV_READABLE_PIPE;
	stdio[0].data.stream = (uv_stream_t *)&l->to;
	stdio[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
	stdio[1].data.stream = (uv_stream_t *)&l->from;
	stdio[2].flags = UV_INHERIT_FD;
	stdio[2].data.fd = 2;
	opt.file = argv[0];
	opt.args = (char **)argv;
	opt.exit_cb = on_exit_cb;
	opt.stdio = stdio;
	opt.stdio_count = 3;
	opt.flags = UV_PROCESS_DETACHED;

	rc = uv_spawn(loop, &l->proc, &opt);
	if (rc < 0) {
		pr_err(eb, rc, "cannot start worker '%s': %s", argv[0],
		    uv_strerror(rc));
		/* uv_spawn leaves the handle initialised: close all three */
		l->t.cb.closed = NULL;
		l->closing = true;
		uv_close((uv_handle_t *)&l->to, on_handle_closed);
		uv_close((uv_handle_t *)&l->from, on_handle_closed);
		uv_close((uv_handle_t *)&l->proc, on_handle_closed);
		return rc;
	}
	snprintf(l->t.desc, sizeof(l->t.desc), "local pid %d", l->proc.pid);
	rc = uv_read_start((uv_stream_t *)&l->from, on_alloc, on_read);
	if (rc < 0) {
		pr_err(eb, rc, "cannot read from worker: %s", uv_strerror(rc));
		uv_process_kill(&l->proc, SIGKILL);
		l->t.cb.closed = NULL;
		local_close(&l->t);
		return rc;
	}
	l->reading = true;
	*out = &l->t;
	return 0;
}
