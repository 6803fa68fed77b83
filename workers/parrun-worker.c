/*
 * parrun-worker.c - the worker: speaks the protocol (lib/proto.h) on its
 * stdin/stdout and runs tasks.  See parrun-worker(1) and worker.h.
 *
 * One libuv loop.  The coordinator's lines are split by a pr_framer and
 * handled as they come; everything the worker says is appended to one
 * buffer (W.out) and written with one uv_write per loop iteration, from
 * a prepare and a check handle, after finished results have been
 * gathered into one "results" line.  stdout carries protocol lines only:
 * the protocol descriptors are moved off fds 0 and 1 (close-on-exec),
 * fd 0 becomes /dev/null and fd 1 a copy of stderr, so nothing a library
 * prints can corrupt the stream and no child inherits it.
 *
 * With --connect ADDR:PORT the protocol runs over TCP instead: the run's
 * secret is read first (the first line of stdin, or --secret-file), the
 * worker connects and authenticates (connect.c, lib/transport_tcp.c),
 * and the socket becomes both the input and the output stream; from the
 * welcome on, nothing differs.  fds 0 and 1 become /dev/null and a copy
 * of stderr all the same.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "connect.h"
#include "json.h"
#include "transport_tcp.h"
#include "version.h"
#include "worker.h"

extern char **environ;

struct w_worker W;

#define W_OUT_HIGH	(8u << 20)	/* pause children above this queue */
#define W_OUT_LOW	(1u << 20)	/* and resume below this */
#define W_OUT_EAGER	(256u << 10)	/* write before the iteration ends */
#define W_STOP_EXTRA_MS	2000		/* after KILL, before giving up */
#define W_EXIT_WAIT_MS	5000		/* last writes before exit */

/* framer callback returns */
#define FEED_REFEED	1		/* cap changed: feed the rest again */
#define FEED_STOP	2

#define OPT_SECRET_FILE	256		/* long options without a letter */

struct w_wreq {
	uv_write_t req;
	struct pr_buf buf;
	struct w_wreq *next;
};

static struct {
	int in_fd, out_fd;
	uv_stream_t *in_stream, *out_stream;	/* NULL: plain read/write */
	union {
		uv_pipe_t pipe;
		uv_tcp_t tcp;
		uv_tty_t tty;
	} in_h, out_h;
	uv_idle_t in_idle;		/* reads a plain file */
	bool reading;
	struct pr_framer framer;
	char inbuf[64 * 1024];

	uv_prepare_t prepare;
	uv_check_t check;
	uv_timer_t hb_timer, hs_timer, stop_timer, exit_timer;
	uv_signal_t sig[3];
	uint64_t last_rx;

	struct w_wreq *wfree;
	int nwfree;
	size_t pending_writes;

	/* stopping */
	int stop_code;
	bool stop_talk;
	uint64_t stop_t0;
	bool stop_killed;
	long *pgids;
	size_t npgids;

	bool exiting;			/* waiting for the last writes */
	int exit_code;
	bool max_frame_set;
	int hs_ms;			/* handshake deadline */

	struct pr_buf **bcasts;		/* every broadcast received */
	char **bcast_files;
	size_t nbcasts;

	const char **knames;
	size_t nkernels;
	char log_prefix[320];

	/* --connect: the protocol runs over an authenticated TCP
	 * connection (in_h.tcp) instead of stdin/stdout */
	const char *opt_connect;
	const char *opt_secret_file;
} io;

static void write_out(void);
static void stop(int code, bool talk, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void exit_now(int code) __attribute__((noreturn));

/* ---- small things --------------------------------------------------------- */

void
w_log(const char *fmt, ...)
{
	char line[2048];
	va_list ap;
	int n;

	n = snprintf(line, sizeof(line), "%s: ", io.log_prefix);
	if (n < 0 || (size_t)n >= sizeof(line))
		n = 0;
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	n = (int)strlen(line);
	line[n++] = '\n';
	/* one write: lines from several processes do not mix */
	if (write(2, line, (size_t)n) < 0)
		return;
}

double
w_unix_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *
xcalloc(size_t n, size_t size)
{
	void *p = calloc(n, size);

	if (p == NULL)
		w_fatal(-ENOMEM, "out of memory");
	return p;
}

static void
check_rc(int rc, const char *what)
{
	if (rc < 0)
		w_fatal(rc, what);
}

void
w_task_set_error(struct w_task *t, const char *fmt, ...)
{
	struct pr_buf b;
	va_list ap;
	int rc;

	pr_buf_init(&b, 0);
	va_start(ap, fmt);
	rc = pr_buf_vaddf(&b, fmt, ap);
	va_end(ap);
	check_rc(rc, "cannot report an error");
	free(t->error);
	t->error = pr_buf_detach(&b, NULL);
}

static int
env_int(const char *name, int lo, int hi, int def)
{
	const char *s = getenv(name);
	char *end;
	long v;

	if (s == NULL || *s == '\0')
		return def;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < lo || v > hi) {
		w_log("ignoring %s='%s': not an integer in [%d, %d]", name, s,
		    lo, hi);
		return def;
	}
	return (int)v;
}

/* ---- exit --------------------------------------------------------------- */

static void
remove_broadcasts(void)
{
	size_t i;

	for (i = 0; i < io.nbcasts; i++)
		if (io.bcast_files[i] != NULL)
			unlink(io.bcast_files[i]);
	if (W.bcast_dir != NULL)
		rmdir(W.bcast_dir);
}

static bool
threads_busy(void)
{
	int i;

	for (i = 0; i < W.slots; i++)
		if (W.slot[i].nitems > 0)
			return true;
	return false;
}

/* Kernels keep buffers across tasks in their per-slot state. */
static void
free_kernel_states(void)
{
	size_t k;
	int i;

	for (i = 0; W.slot != NULL && i < W.slots; i++) {
		for (k = 0; k < io.nkernels; k++) {
			void **st = &W.slot[i].kstate[k];

			if (*st != NULL && pr_kernels[k]->state_free != NULL)
				pr_kernels[k]->state_free(*st);
			*st = NULL;
		}
	}
}

static void
exit_now(int code)
{
	remove_broadcasts();
	/*
	 * libuv joins its threadpool in a destructor at exit(), which
	 * would wait for a kernel still running on it (one whose cancel
	 * was reported already); such a kernel cannot be stopped, so
	 * leave without running destructors.
	 */
	if (threads_busy())
		_exit(code);
	free_kernel_states();
	pr_framer_release(&io.framer);
	exit(code);
}

void
w_fatal(int code, const char *what)
{
	int i;

	w_log("%s: %s", what, pr_strerror(code));
	for (i = 0; W.slot != NULL && i < W.slots; i++)
		if (W.slot[i].cmd != NULL)
			w_exec_kill_now(W.slot[i].cmd);
	for (i = 0; i < (int)io.npgids; i++)
		kill(-(pid_t)io.pgids[i], SIGKILL);
	exit_now(W_EXIT_INTERNAL);
}

static void
on_exit_timer(uv_timer_t *t)
{
	(void)t;
	w_log("the coordinator is not reading; exiting without the last "
	    "%zu write(s)", io.pending_writes);
	exit_now(io.exit_code);
}

/* Write what is buffered, then exit with code (bounded wait). */
static void
finish(int code)
{
	if (io.exiting)
		return;
	io.exiting = true;
	io.exit_code = code;
	if (io.reading) {
		if (io.in_stream != NULL)
			uv_read_stop(io.in_stream);
		else
			uv_idle_stop(&io.in_idle);
		io.reading = false;
	}
	write_out();
	if (io.pending_writes == 0)
		exit_now(code);
	uv_timer_start(&io.exit_timer, on_exit_timer, W_EXIT_WAIT_MS, 0);
}

/* ---- output ---------------------------------------------------------------- */

static void
throttle(bool pause)
{
	int i;

	if (W.throttled == pause)
		return;
	W.throttled = pause;
	for (i = 0; i < W.slots; i++)
		if (W.slot[i].cmd != NULL)
			w_exec_throttle(W.slot[i].cmd, pause);
}

static void
on_write(uv_write_t *req, int status)
{
	struct w_wreq *wr = req->data;

	io.pending_writes--;
	if (io.nwfree < 4 && wr->buf.cap <= W_OUT_EAGER * 16) {
		pr_buf_reset(&wr->buf);
		wr->next = io.wfree;
		io.wfree = wr;
		io.nwfree++;
	} else {
		pr_buf_release(&wr->buf);
		free(wr);
	}
	if (status < 0) {
		if (io.exiting)
			exit_now(io.exit_code);
		stop(W_EXIT_LOST, false, "cannot write to the coordinator: %s",
		    uv_strerror(status));
		return;
	}
	if (W.throttled &&
	    uv_stream_get_write_queue_size(io.out_stream) < W_OUT_LOW)
		throttle(false);
	if (io.exiting && io.pending_writes == 0)
		exit_now(io.exit_code);
}

static void
write_out(void)
{
	struct w_wreq *wr;
	struct pr_buf tmp;
	uv_buf_t b;
	size_t off = 0;
	ssize_t n;
	int rc;

	if (W.out.len == 0)
		return;
	if (io.out_stream == NULL && io.opt_connect != NULL)
		return;		/* not connected yet: keep it */
	if (io.out_stream == NULL) {
		/* a plain file (or a terminal): it does not block for long */
		while (off < W.out.len) {
			n = write(io.out_fd, W.out.data + off, W.out.len - off);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0) {
				pr_buf_reset(&W.out);
				if (io.exiting)
					exit_now(io.exit_code);
				stop(W_EXIT_LOST, false, "cannot write to the "
				    "coordinator: %s", strerror(errno));
				return;
			}
			off += (size_t)n;
		}
		pr_buf_reset(&W.out);
		return;
	}
	if (io.wfree != NULL) {
		wr = io.wfree;
		io.wfree = wr->next;
		io.nwfree--;
	} else {
		wr = xcalloc(1, sizeof(*wr));
		pr_buf_init(&wr->buf, 0);
	}
	/* the buffer goes with the request; W.out takes the spare one */
	tmp = wr->buf;
	wr->buf = W.out;
	W.out = tmp;
	pr_buf_reset(&W.out);
	wr->req.data = wr;
	b = uv_buf_init(wr->buf.data, (unsigned)wr->buf.len);
	rc = uv_write(&wr->req, io.out_stream, &b, 1, on_write);
	if (rc < 0) {
		pr_buf_release(&wr->buf);
		free(wr);
		if (io.exiting)
			exit_now(io.exit_code);
		stop(W_EXIT_LOST, false, "cannot write to the coordinator: %s",
		    uv_strerror(rc));
		return;
	}
	io.pending_writes++;
	if (!W.throttled &&
	    uv_stream_get_write_queue_size(io.out_stream) > W_OUT_HIGH)
		throttle(true);
}

static void
maybe_write_early(void)
{
	if (W.out.len >= W_OUT_EAGER)
		write_out();
}

void
w_emit_output(struct w_task *t, int stream, const char *data, size_t len)
{
	if (W.phase == W_STOPPING)
		return;
	check_rc(pr_msg_output(&W.out, t->m.seq, t->m.attempt, stream, data,
	    len), "cannot send output");
	maybe_write_early();
}

void
w_emit_started(struct w_task *t, long pid)
{
	check_rc(pr_msg_started(&W.out, t->m.seq, t->m.attempt, pid),
	    "cannot send started");
}

static void
send_error(const char *code, bool fatal, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
send_error(const char *code, bool fatal, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	check_rc(pr_msg_error(&W.out, code, msg, fatal), "cannot send error");
}

/* ---- tasks: queue and results ---------------------------------------------- */

static void
task_release(struct w_task *t)
{
	struct w_batch *b = t->batch;

	free(t->error);
	t->error = NULL;
	pr_buf_release(&t->extra);
	w_exec_free(t->exec);
	t->exec = NULL;
	if (b == NULL) {
		free(t);
		return;
	}
	if (--b->refs == 0) {
		cJSON_Delete(b->root);
		free(b->line);
		free(b);
	}
}

static void
queue_push_back(struct w_task *t)
{
	t->next = NULL;
	t->prev = W.qtail;
	if (W.qtail != NULL)
		W.qtail->next = t;
	else
		W.qhead = t;
	W.qtail = t;
	W.nqueued++;
}

static void
queue_remove(struct w_task *t)
{
	if (t->prev != NULL)
		t->prev->next = t->next;
	else
		W.qhead = t->next;
	if (t->next != NULL)
		t->next->prev = t->prev;
	else
		W.qtail = t->prev;
	t->next = t->prev = NULL;
	W.nqueued--;
}

int64_t
w_task_timeout_ms(const struct w_task *t)
{
	return t->m.timeout_ms > 0 ? t->m.timeout_ms : W.timeout_ms;
}

void
w_queue_push_front(struct w_task **v, size_t n)
{
	while (n > 0) {
		struct w_task *t = v[--n];

		t->prev = NULL;
		t->next = W.qhead;
		if (W.qhead != NULL)
			W.qhead->prev = t;
		else
			W.qtail = t;
		W.qhead = t;
		W.nqueued++;
	}
}

void
w_task_finish(struct w_task *t)
{
	if (W.phase == W_STOPPING || t->reported) {
		task_release(t);
		return;
	}
	t->state = W_T_DONE;
	t->next = NULL;
	if (W.dtail != NULL)
		W.dtail->next = t;
	else
		W.dhead = t;
	W.dtail = t;
	W.ndone++;
	W.unreported--;
}

void
w_ghost(struct w_task *t, enum pr_status st, double start)
{
	struct w_task *g = xcalloc(1, sizeof(*g));

	t->reported = true;
	atomic_store(&t->stop, 1);
	g->m.seq = t->m.seq;
	g->m.attempt = t->m.attempt;
	g->status = st;
	g->exit = -1;
	g->start = start;
	g->elapsed = w_unix_now() - start;
	pr_buf_init(&g->extra, 0);
	w_task_finish(g);
}

static void
result_of(const struct w_task *t, struct pr_result_msg *r)
{
	memset(r, 0, sizeof(*r));
	r->seq = t->m.seq;
	r->attempt = t->m.attempt;
	r->status = t->status;
	r->exit = t->exit;
	r->signal = t->signal;
	r->start = t->start;
	r->elapsed = t->elapsed;
	r->has_value = t->has_value;
	r->value = t->value;
	r->error = t->error;
	w_exec_output(t, &r->out, &r->outlen, &r->err, &r->errlen);
	r->extra = t->extra.len > 0 ? t->extra.data : NULL;
}

/* Write the done list as one "result" line, or "results" lines that
 * each stay under the frame cap. */
static void
encode_results(void)
{
	struct pr_result_msg r;
	struct w_task *t, *next;
	size_t n = 0, line = 0, mark;
	int rc;

	if (W.ndone == 1) {
		result_of(W.dhead, &r);
		check_rc(pr_msg_result(&W.out, &r), "cannot send a result");
	} else {
		for (t = W.dhead; t != NULL; t = t->next) {
			result_of(t, &r);
			if (n == 0) {
				line = W.out.len;
				check_rc(pr_msg_results_open(&W.out),
				    "cannot send results");
			}
			mark = W.out.len;
			rc = pr_msg_results_add(&W.out, n, &r);
			check_rc(rc, "cannot send results");
			if (n > 0 && W.out.len - line + 3 > W.cap) {
				/* this one starts the next line */
				W.out.len = mark;
				W.out.data[mark] = '\0';
				check_rc(pr_msg_results_close(&W.out),
				    "cannot send results");
				line = W.out.len;
				check_rc(pr_msg_results_open(&W.out),
				    "cannot send results");
				n = 0;
				check_rc(pr_msg_results_add(&W.out, n, &r),
				    "cannot send results");
			}
			n++;
		}
		if (n > 0)
			check_rc(pr_msg_results_close(&W.out),
			    "cannot send results");
	}
	for (t = W.dhead; t != NULL; t = next) {
		next = t->next;
		task_release(t);
	}
	W.dhead = W.dtail = NULL;
	W.ndone = 0;
}

/* Once per loop iteration (prepare and check): results, bye, write. */
static void
flush_all(void)
{
	if (W.phase == W_STOPPING || io.exiting)
		return;
	if (W.ndone > 0)
		encode_results();
	if (W.phase == W_RUNNING && W.unreported == 0 &&
	    (W.shutdown != W_SD_NONE || W.in_eof)) {
		check_rc(pr_msg_bye(&W.out), "cannot send bye");
		finish(W_EXIT_OK);
		return;
	}
	write_out();
}

static void
on_prepare(uv_prepare_t *h)
{
	(void)h;
	flush_all();
}

static void
on_check(uv_check_t *h)
{
	(void)h;
	flush_all();
}

/* ---- scheduling ------------------------------------------------------------- */

static struct w_slot *
free_slot(void)
{
	int i;

	if (W.nbusy >= W.slots)
		return NULL;
	for (i = 0; i < W.slots; i++)
		if (!W.slot[i].busy)
			return &W.slot[i];
	return NULL;
}

static bool
is_thread_kernel(const struct w_task *t)
{
	return t->m.kind == PR_KIND_KERNEL &&
	    !(t->kernel->flags & PR_KERNEL_INLINE);
}

/* Give slot s a run of kernel tasks from the head of the queue: an
 * even share of what is there among the free slots. */
static void
take_kernel_run(struct w_slot *s)
{
	size_t nfree = (size_t)(W.slots - W.nbusy);
	size_t avail = 0, take;
	struct w_task *t;

	for (t = W.qhead; t != NULL && is_thread_kernel(t) &&
	    avail < W_KBATCH_MAX * nfree; t = t->next)
		avail++;
	take = (avail + nfree - 1) / nfree;
	if (take > W_KBATCH_MAX)
		take = W_KBATCH_MAX;
	if (take == 0)
		take = 1;
	s->nitems = 0;
	while (s->nitems < take) {
		t = W.qhead;
		queue_remove(t);
		s->items[s->nitems++] = t;
	}
	w_kernel_start(s);
}

void
w_schedule(void)
{
	struct w_slot *s;
	struct w_task *t;

	if (W.in_schedule) {
		W.reschedule = true;
		return;
	}
	W.in_schedule = true;
	do {
		W.reschedule = false;
		while (W.phase == W_RUNNING && W.qhead != NULL &&
		    (s = free_slot()) != NULL) {
			t = W.qhead;
			if (t->m.kind != PR_KIND_KERNEL) {
				queue_remove(t);
				w_exec_start(t, s);
			} else if (t->kernel->flags & PR_KERNEL_INLINE) {
				queue_remove(t);
				w_kernel_run_inline(t, s);
			} else {
				take_kernel_run(s);
			}
		}
	} while (W.reschedule);
	W.in_schedule = false;
}

void
w_slot_release(struct w_slot *s)
{
	if (s->busy) {
		s->busy = false;
		W.nbusy--;
	}
	w_schedule();
}

/* ---- messages ------------------------------------------------------------------ */

/* A corrupt stream: say so, then stop (exit 3 in the handshake, else 4). */
static void
proto_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
proto_fail(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (pr_msg_error(&W.out, "proto", msg, true) < 0)
		pr_buf_reset(&W.out);
	stop(W.phase == W_HANDSHAKE ? W_EXIT_HANDSHAKE : W_EXIT_PROTO, true,
	    "protocol error from the coordinator: %s", msg);
}

static void
task_init(struct w_task *t, struct w_batch *b)
{
	t->batch = b;
	t->exit = -1;
	t->kidx = -1;
	atomic_init(&t->stop, 0);
	atomic_init(&t->run_ns, 0);
	pr_buf_init(&t->extra, 0);
}

static int
kernel_index(const struct pr_kernel *k)
{
	int i;

	for (i = 0; pr_kernels[i] != NULL; i++)
		if (pr_kernels[i] == k)
			return i;
	return -1;
}

static void start_batch(struct w_batch *b);

struct fast_batch {
	struct w_batch *b;
	char *line;			/* the copy the tasks point into */
	const char *params;		/* the last task's params text */
	size_t paramslen;
	const cJSON *tree;		/* and its tree */
};

static void
fast_task(void *arg, size_t i, size_t n, const struct pr_task_msg *m,
    const char *params, size_t paramslen)
{
	struct fast_batch *fb = arg;
	struct w_batch *b;
	struct w_task *t;
	cJSON *p;

	if (i == 0) {
		fb->b = xcalloc(1, sizeof(*fb->b) + n * sizeof(fb->b->tasks[0]));
		fb->b->n = n;
		fb->b->line = fb->line;
	}
	b = fb->b;
	t = &b->tasks[i];
	task_init(t, b);
	t->m = *m;
	if (params == NULL)
		return;
	/* the same text as the task before (a kernel's fixed parameters):
	 * the same tree, which kernels only read */
	if (fb->tree != NULL && paramslen == fb->paramslen &&
	    memcmp(params, fb->params, paramslen) == 0) {
		t->m.params = fb->tree;
		return;
	}
	/* the kernel's parameters as a tree, kept in b->root's array */
	if ((b->root == NULL && (b->root = cJSON_CreateArray()) == NULL) ||
	    (p = cJSON_ParseWithLength(params, paramslen)) == NULL)
		w_fatal(-ENOMEM, "out of memory");
	if (!cJSON_AddItemToArray(b->root, p))
		w_fatal(-ENOMEM, "out of memory");
	t->m.params = p;
	fb->params = params;
	fb->paramslen = paramslen;
	fb->tree = p;
}

/* A task(s) line in the plain form: no tree of the message; the batch
 * keeps a copy of the line, which the tasks' strings point into, and the
 * trees of their params.  False when the line is not in that form. */
static bool
accept_fast_tasks(const char *line, size_t len)
{
	struct fast_batch fb = { NULL, NULL, NULL, 0, NULL };

	fb.line = xcalloc(1, len + 1);
	memcpy(fb.line, line, len);
	if (pr_fast_tasks_decode(fb.line, len, fast_task, &fb) == 0) {
		free(fb.line);
		return false;
	}
	start_batch(fb.b);
	return true;
}

static void
accept_tasks(cJSON *root, enum pr_msg_type type)
{
	struct pr_errbuf eb = { 0, "" };
	const cJSON *it;
	struct w_batch *b;
	size_t n, i;
	int rc;

	rc = pr_batch_decode(root, type, &it, &n, &eb);
	if (rc < 0) {
		proto_fail("line %" PRIu64 ": %s", io.framer.lines,
		    pr_errmsg(&eb, rc));
		cJSON_Delete(root);
		return;
	}
	b = xcalloc(1, sizeof(*b) + n * sizeof(b->tasks[0]));
	b->root = root;
	b->n = n;
	for (i = 0; i < n; i++, it = it->next) {
		struct w_task *t = &b->tasks[i];

		task_init(t, b);
		rc = pr_task_decode(it, &t->m, &eb);
		if (rc < 0) {
			proto_fail("line %" PRIu64 ": task %zu: %s",
			    io.framer.lines, i + 1, pr_errmsg(&eb, rc));
			cJSON_Delete(root);
			free(b);
			return;
		}
	}
	start_batch(b);
}

/* A decoded batch: its tasks are queued, or finished at once. */
static void
start_batch(struct w_batch *b)
{
	size_t i, n = b->n;

	b->refs = n;
	W.unreported += n;
	for (i = 0; i < n; i++) {
		struct w_task *t = &b->tasks[i];

		if (W.shutdown != W_SD_NONE) {
			t->status = PR_ST_CANCELLED;
			t->start = w_unix_now();
			w_task_set_error(t, "the worker is shutting down");
			w_task_finish(t);
			continue;
		}
		if (t->m.kind == PR_KIND_KERNEL) {
			t->kernel = pr_kernel_find(t->m.kernel);
			if (t->kernel == NULL) {
				t->status = PR_ST_ERROR;
				t->start = w_unix_now();
				w_task_set_error(t, "no such kernel '%s'",
				    t->m.kernel);
				w_task_finish(t);
				continue;
			}
			t->kidx = kernel_index(t->kernel);
		}
		t->state = W_T_QUEUED;
		queue_push_back(t);
	}
	w_schedule();
}

static bool
task_is(const struct w_task *t, uint64_t seq, int attempt)
{
	return t->m.seq == seq && t->m.attempt == attempt;
}

static void
cancel_one(struct w_task *t, int grace_ms)
{
	if (t->state == W_T_QUEUED) {
		queue_remove(t);
		t->status = PR_ST_CANCELLED;
		t->start = w_unix_now();
		w_task_set_error(t, "cancelled before it started");
		w_task_finish(t);
	} else if (t->m.kind != PR_KIND_KERNEL) {
		w_exec_kill(t, PR_ST_CANCELLED, grace_ms);
	} else {
		w_kernel_stop(t, PR_ST_CANCELLED);
	}
}

static void
on_cancel(const cJSON *root)
{
	struct pr_errbuf eb = { 0, "" };
	struct w_task *t;
	uint64_t seq;
	int attempt, grace, i, rc;
	size_t j;

	rc = pr_cancel_decode(root, &seq, &attempt, &grace, &eb);
	if (rc < 0) {
		proto_fail("line %" PRIu64 ": %s", io.framer.lines,
		    pr_errmsg(&eb, rc));
		return;
	}
	for (t = W.qhead; t != NULL; t = t->next)
		if (task_is(t, seq, attempt)) {
			cancel_one(t, grace);
			return;
		}
	for (i = 0; i < W.slots; i++) {
		struct w_slot *s = &W.slot[i];

		if (s->cmd != NULL && task_is(s->cmd, seq, attempt)) {
			cancel_one(s->cmd, grace);
			return;
		}
		for (j = 0; j < s->nitems; j++)
			if (task_is(s->items[j], seq, attempt)) {
				cancel_one(s->items[j], grace);
				return;
			}
	}
	/* finished already: the result is on its way */
}

static void
cancel_all(int grace_ms)
{
	struct w_task *t;
	int i;
	size_t j;

	while ((t = W.qhead) != NULL)
		cancel_one(t, grace_ms);
	for (i = 0; i < W.slots; i++) {
		struct w_slot *s = &W.slot[i];

		if (s->cmd != NULL)
			cancel_one(s->cmd, grace_ms);
		for (j = 0; j < s->nitems; j++)
			cancel_one(s->items[j], grace_ms);
	}
}

static void
on_shutdown(const cJSON *root)
{
	struct pr_errbuf eb = { 0, "" };
	const char *mode;
	int grace, rc;

	rc = pr_shutdown_decode(root, &mode, &grace, &eb);
	if (rc < 0) {
		proto_fail("line %" PRIu64 ": %s", io.framer.lines,
		    pr_errmsg(&eb, rc));
		return;
	}
	if (strcmp(mode, "now") == 0) {
		W.shutdown = W_SD_NOW;
		cancel_all(grace);
	} else if (W.shutdown == W_SD_NONE) {
		W.shutdown = W_SD_DRAIN;
		if (strcmp(mode, "soon") == 0) {
			struct w_task *t;

			/* what has not started does not start */
			while ((t = W.qhead) != NULL)
				cancel_one(t, grace);
		}
	}
}

static int
write_file(const char *path, const void *data, size_t len)
{
	const char *p = data;
	ssize_t n;
	int fd, rc = 0;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	if (fd < 0)
		return -errno;
	while (len > 0) {
		n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			break;
		}
		p += n;
		len -= (size_t)n;
	}
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	return rc;
}

static void
on_broadcast(const cJSON *root)
{
	struct pr_errbuf eb = { 0, "" };
	struct pr_buf *b, **nb;
	char **nf, *path = NULL;
	const char *tmp;
	struct pr_buf pb;
	int rc;

	b = xcalloc(1, sizeof(*b));
	pr_buf_init(b, 0);
	rc = pr_broadcast_decode(root, b, &eb);
	if (rc < 0) {
		pr_buf_release(b);
		free(b);
		proto_fail("line %" PRIu64 ": %s", io.framer.lines,
		    pr_errmsg(&eb, rc));
		return;
	}
	/* an empty broadcast still gets a (NUL-terminated) buffer */
	check_rc(pr_buf_grow(b, 0), "cannot keep the broadcast");
	b->data[b->len] = '\0';
	nb = realloc(io.bcasts, (io.nbcasts + 1) * sizeof(*nb));
	if (nb == NULL)
		w_fatal(-ENOMEM, "cannot keep the broadcast");
	io.bcasts = nb;
	nf = realloc(io.bcast_files, (io.nbcasts + 1) * sizeof(*nf));
	if (nf == NULL)
		w_fatal(-ENOMEM, "cannot keep the broadcast");
	io.bcast_files = nf;
	/* older data stays alive: running kernels may still read it */
	io.bcasts[io.nbcasts] = b;
	io.bcast_files[io.nbcasts] = NULL;
	io.nbcasts++;
	W.bcast = b;

	if (W.bcast_dir == NULL) {
		tmp = getenv("TMPDIR");
		if (tmp == NULL || *tmp == '\0')
			tmp = "/tmp";
		pr_buf_init(&pb, 0);
		check_rc(pr_buf_addf(&pb, "%s/parrun-worker.XXXXXX", tmp),
		    "cannot keep the broadcast");
		if (mkdtemp(pb.data) == NULL) {
			rc = -errno;
			w_log("cannot create a directory in '%s': %s", tmp,
			    strerror(errno));
			send_error("broadcast", false, "cannot create a "
			    "directory in '%s': %s", tmp, pr_strerror(rc));
			pr_buf_release(&pb);
			W.bcast_path = NULL;
			return;
		}
		W.bcast_dir = pr_buf_detach(&pb, NULL);
	}
	pr_buf_init(&pb, 0);
	check_rc(pr_buf_addf(&pb, "%s/broadcast.%zu", W.bcast_dir,
	    io.nbcasts), "cannot keep the broadcast");
	path = pr_buf_detach(&pb, NULL);
	rc = write_file(path, b->data, b->len);
	if (rc < 0) {
		w_log("cannot write '%s': %s", path, pr_strerror(rc));
		send_error("broadcast", false, "cannot write '%s': %s", path,
		    pr_strerror(rc));
		unlink(path);
		free(path);
		W.bcast_path = NULL;
		return;
	}
	io.bcast_files[io.nbcasts - 1] = path;
	W.bcast_path = path;
}

static void
on_error_msg(const cJSON *root)
{
	struct pr_errbuf eb = { 0, "" };
	const char *code, *text;
	bool fatal;
	int rc;

	rc = pr_error_decode(root, &code, &text, &fatal, &eb);
	if (rc < 0) {
		proto_fail("line %" PRIu64 ": %s", io.framer.lines,
		    pr_errmsg(&eb, rc));
		return;
	}
	w_log("the coordinator says: %s (%s)", text, code);
	if (fatal)
		stop(W_EXIT_LOST, false, "the coordinator gave up");
}

static const char *
type_text(const cJSON *root)
{
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(root, "type");

	return cJSON_IsString(t) ? t->valuestring : "?";
}

/* Returns FEED_* or 0. */
static int
on_message(cJSON *root, enum pr_msg_type type)
{
	switch (type) {
	case PR_MSG_TASK:
	case PR_MSG_TASKS:
		accept_tasks(root, type);	/* takes root */
		return 0;
	case PR_MSG_CANCEL:
		on_cancel(root);
		break;
	case PR_MSG_HB:
		break;
	case PR_MSG_SHUTDOWN:
		on_shutdown(root);
		break;
	case PR_MSG_BROADCAST:
		on_broadcast(root);
		break;
	case PR_MSG_ERROR:
		on_error_msg(root);
		break;
	case PR_MSG_UNKNOWN:
		w_log("line %" PRIu64 ": unknown message type '%s'",
		    io.framer.lines, type_text(root));
		send_error("unknown-type", false, "unknown message type '%s'",
		    type_text(root));
		break;
	default:
		w_log("line %" PRIu64 ": unexpected message '%s'",
		    io.framer.lines, type_text(root));
		send_error("unexpected", false, "unexpected message '%s'",
		    type_text(root));
		break;
	}
	cJSON_Delete(root);
	return 0;
}

static void
on_hb_timer(uv_timer_t *h)
{
	uint64_t quiet;

	(void)h;
	if (W.phase != W_RUNNING || io.exiting)
		return;
	quiet = uv_now(W.loop) - io.last_rx;
	if (!W.in_eof && quiet > 3 * (uint64_t)W.hb_ms) {
		stop(W_EXIT_LOST, false, "no word from the coordinator for "
		    "%" PRIu64 " ms", quiet);
		return;
	}
	check_rc(pr_msg_hb(&W.out, w_unix_now(), W.nbusy), "cannot send hb");
}

static int
on_welcome(const cJSON *root)
{
	struct pr_errbuf eb = { 0, "" };
	struct pr_welcome wl;
	size_t cap;
	int rc;

	rc = pr_welcome_decode(root, &wl, &eb);
	if (rc < 0) {
		proto_fail("bad welcome: %s", pr_errmsg(&eb, rc));
		return FEED_STOP;
	}
	if (wl.proto < PR_PROTO_MIN || wl.proto > PR_PROTO_MAX) {
		proto_fail("welcome chose protocol %d; this worker speaks "
		    "%d..%d", wl.proto, PR_PROTO_MIN, PR_PROTO_MAX);
		return FEED_STOP;
	}
	W.proto = wl.proto;
	W.worker_index = wl.worker;
	W.hb_ms = wl.hb_ms;
	W.cap = wl.max_frame;
	cap = W.cap > 1024 ? (W.cap - 1024) / 12 : 64;
	W.chunk = cap < PR_OUTPUT_CHUNK ? cap : PR_OUTPUT_CHUNK;
	W.seed = wl.seed;
	W.threads = wl.threads;
	W.timeout_ms = wl.timeout_ms;
	W.stream_output = wl.stream_output;
	W.session = strdup(wl.session);
	if (W.session == NULL)
		w_fatal(-ENOMEM, "out of memory");
	io.framer.max_line = io.max_frame_set ? W.opt_max_frame : W.cap;
	W.phase = W_RUNNING;
	uv_timer_stop(&io.hs_timer);
	if (W.hb_ms > 0)
		uv_timer_start(&io.hb_timer, on_hb_timer, (uint64_t)W.hb_ms,
		    (uint64_t)W.hb_ms);
	return FEED_REFEED;
}

static int
on_handshake(cJSON *root, enum pr_msg_type type)
{
	struct pr_errbuf eb = { 0, "" };
	const char *reason;
	int min, max, rc;

	switch (type) {
	case PR_MSG_WELCOME:
		rc = on_welcome(root);
		break;
	case PR_MSG_REJECT:
		rc = pr_reject_decode(root, &reason, &min, &max, &eb);
		if (rc < 0) {
			proto_fail("bad reject: %s", pr_errmsg(&eb, rc));
		} else {
			w_log("rejected by the coordinator: %s (it speaks "
			    "protocol %d..%d, this worker %d..%d)", reason,
			    min, max, PR_PROTO_MIN, PR_PROTO_MAX);
			cJSON_Delete(root);
			exit_now(W_EXIT_HANDSHAKE);
		}
		rc = FEED_STOP;
		break;
	case PR_MSG_ERROR:
		on_error_msg(root);
		stop(W_EXIT_HANDSHAKE, false, "no welcome");
		rc = FEED_STOP;
		break;
	default:
		proto_fail("expected 'welcome', got '%s'", type_text(root));
		rc = FEED_STOP;
		break;
	}
	cJSON_Delete(root);
	return rc;
}

static int
on_line(void *arg, char *line, size_t len, int err)
{
	struct pr_errbuf eb = { 0, "" };
	enum pr_msg_type type;
	cJSON *root;
	int rc;

	(void)arg;
	if (W.phase == W_STOPPING || io.exiting)
		return FEED_STOP;
	io.last_rx = uv_now(W.loop);
	if (err == PR_ETOOBIG) {
		proto_fail("line %" PRIu64 ": longer than %zu bytes",
		    io.framer.lines, io.framer.max_line);
		return FEED_STOP;
	}
	/* task(s) in the plain form: no tree (see proto.h) */
	if (W.phase != W_HANDSHAKE && accept_fast_tasks(line, len)) {
		maybe_write_early();
		if (W.phase == W_STOPPING || io.exiting)
			return FEED_STOP;
		return 0;
	}
	rc = pr_msg_parse(line, len, &root, &type, &eb);
	if (rc < 0) {
		proto_fail("line %" PRIu64 ": %s", io.framer.lines,
		    pr_errmsg(&eb, rc));
		return FEED_STOP;
	}
	if (W.phase == W_HANDSHAKE)
		return on_handshake(root, type);
	rc = on_message(root, type);
	maybe_write_early();
	if (W.phase == W_STOPPING || io.exiting)
		return FEED_STOP;
	return rc;
}

/* ---- input -------------------------------------------------------------------- */

static void
feed(char *data, size_t n)
{
	uint64_t before;
	size_t used;
	int rc;

	while (n > 0) {
		before = io.framer.consumed;
		rc = pr_framer_feed(&io.framer, data, n, on_line, NULL);
		if (rc != FEED_REFEED)
			break;
		used = (size_t)(io.framer.consumed - before);
		data += used;
		n -= used;
	}
}

static void
on_eof(void)
{
	int rc;

	if (io.reading) {
		if (io.in_stream != NULL)
			uv_read_stop(io.in_stream);
		else
			uv_idle_stop(&io.in_idle);
		io.reading = false;
	}
	if (W.phase == W_STOPPING || io.exiting)
		return;
	rc = pr_framer_finish(&io.framer, false, on_line, NULL);
	if (W.phase == W_HANDSHAKE) {
		/* the coordinator did not need us (a short run): not an
		 * error, and nothing to say unless it left half a line */
		if (rc == PR_ETORN)
			stop(W_EXIT_HANDSHAKE, false, "the coordinator hung up "
			    "in the middle of the welcome");
		else
			stop(W_EXIT_OK, false, "%s", "");
		return;
	}
	if (rc == PR_ETORN) {
		stop(W_EXIT_LOST, false, "the coordinator hung up in the "
		    "middle of a line");
		return;
	}
	W.in_eof = true;
	if (W.shutdown != W_SD_NONE || W.unreported == 0)
		return;		/* flush_all says bye when all is done */
	stop(W_EXIT_LOST, false, "the coordinator hung up with %zu task(s) "
	    "unfinished", W.unreported);
}

static void
on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	(void)h;
	(void)suggested;
	buf->base = io.inbuf;
	buf->len = sizeof(io.inbuf);
}

static void
on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
	(void)st;
	if (nread > 0) {
		feed(buf->base, (size_t)nread);
		return;
	}
	if (nread == 0)
		return;
	if (nread != UV_EOF)
		w_log("reading from the coordinator: %s",
		    uv_strerror((int)nread));
	on_eof();
}

static void
on_idle_read(uv_idle_t *h)
{
	ssize_t n;

	(void)h;
	n = read(io.in_fd, io.inbuf, sizeof(io.inbuf));
	if (n > 0) {
		feed(io.inbuf, (size_t)n);
		return;
	}
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n < 0)
		w_log("reading from the coordinator: %s", strerror(errno));
	on_eof();
}

/* ---- stopping ---------------------------------------------------------------- */

/*
 * How many of the killed process groups still hold a live process.  A
 * zombie does not count: an orphan killed with its group waits for init
 * to reap it, which may take a while, yet runs no more.
 */
static size_t
groups_alive(void)
{
	char path[300], buf[512], *p;
	struct dirent *de;
	bool *live;
	size_t i, n = 0;
	ssize_t len;
	long pgrp;
	DIR *d;
	int fd;

	for (i = 0; i < io.npgids; i++)
		if (io.pgids[i] > 0 && kill(-(pid_t)io.pgids[i], 0) < 0)
			io.pgids[i] = 0;
	live = xcalloc(io.npgids + 1, sizeof(*live));
	d = opendir("/proc");
	if (d == NULL) {
		/* no /proc: believe kill(), zombies and all */
		for (i = 0; i < io.npgids; i++)
			live[i] = io.pgids[i] > 0;
	}
	while (d != NULL && (de = readdir(d)) != NULL) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		len = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (len <= 0)
			continue;
		buf[len] = '\0';
		/* "pid (comm) S ppid pgrp ...": comm may hold anything */
		p = strrchr(buf, ')');
		if (p == NULL || p[1] != ' ' || p[2] == '\0' || p[2] == 'Z' ||
		    p[2] == 'X')
			continue;
		if (sscanf(p + 3, "%*d %ld", &pgrp) != 1)
			continue;
		for (i = 0; i < io.npgids; i++)
			if (io.pgids[i] > 0 && io.pgids[i] == pgrp)
				live[i] = true;
	}
	if (d != NULL)
		closedir(d);
	for (i = 0; i < io.npgids; i++)
		if (live[i])
			n++;
	free(live);
	return n;
}

static void
on_stop_timer(uv_timer_t *h)
{
	uint64_t el = uv_now(W.loop) - io.stop_t0;
	size_t i, n;

	(void)h;
	n = groups_alive();
	if (n == 0) {
		uv_timer_stop(&io.stop_timer);
		if (io.stop_talk) {
			finish(io.stop_code);
			return;
		}
		exit_now(io.stop_code);
	}
	if (!io.stop_killed && el >= (uint64_t)W.grace_ms) {
		io.stop_killed = true;
		for (i = 0; i < io.npgids; i++)
			if (io.pgids[i] > 0)
				kill(-(pid_t)io.pgids[i], SIGKILL);
	}
	if (el >= (uint64_t)W.grace_ms + W_STOP_EXTRA_MS) {
		w_log("%zu process group(s) would not die", n);
		exit_now(io.stop_code);
	}
}

/*
 * Stop for good: no more input, every task's process group gets TERM
 * and, after the grace period, KILL; exit with code once they are gone.
 * talk: still write what is in W.out (an error message) before exiting.
 */
static void
stop(int code, bool talk, const char *fmt, ...)
{
	char why[1024];
	va_list ap;
	int i;
	size_t j;

	if (W.phase == W_STOPPING || io.exiting)
		return;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (why[0] != '\0')
		w_log("%s", why);
	W.phase = W_STOPPING;
	io.stop_code = code;
	io.stop_talk = talk;
	if (io.reading) {
		if (io.in_stream != NULL)
			uv_read_stop(io.in_stream);
		else
			uv_idle_stop(&io.in_idle);
		io.reading = false;
	}
	uv_timer_stop(&io.hb_timer);
	uv_timer_stop(&io.hs_timer);
	if (!talk)
		pr_buf_reset(&W.out);
	else
		write_out();

	io.pgids = xcalloc((size_t)W.slots + 1, sizeof(*io.pgids));
	for (i = 0; W.slot != NULL && i < W.slots; i++) {
		struct w_slot *s = &W.slot[i];

		if (s->cmd != NULL && w_exec_alive(s->cmd)) {
			w_exec_kill(s->cmd, PR_ST_CANCELLED, W.grace_ms);
			io.pgids[io.npgids++] = w_exec_pid(s->cmd);
		}
		for (j = 0; j < s->nitems; j++)
			atomic_store(&s->items[j]->stop, 1);
	}
	io.stop_t0 = uv_now(W.loop);
	uv_timer_start(&io.stop_timer, on_stop_timer, 0, 20);
}

static void
on_signal(uv_signal_t *h, int sig)
{
	(void)h;
	if (W.phase == W_STOPPING || io.exiting) {
		/* a second signal: do not wait any more */
		size_t i;

		if (sig == SIGHUP)
			return;
		for (i = 0; i < io.npgids; i++)
			if (io.pgids[i] > 0)
				kill(-(pid_t)io.pgids[i], SIGKILL);
		exit_now(128 + sig);
	}
	stop(128 + sig, false, "stopping on signal %d", sig);
}

static void
on_hs_timer(uv_timer_t *h)
{
	(void)h;
	if (W.phase != W_HANDSHAKE)
		return;
	w_log("no welcome from the coordinator within %d ms", io.hs_ms);
	exit_now(W_EXIT_HANDSHAKE);
}

/* ---- set-up ----------------------------------------------------------------- */

/*
 * The CPUs this process may run on (its affinity mask).  The raw system
 * call, because <sched.h> is shadowed by lib/sched.h on the include path.
 */
static int
count_cpus(void)
{
	unsigned long mask[4096 / (8 * sizeof(unsigned long))];
	long n, i;
	int cpus = 0;

	memset(mask, 0, sizeof(mask));
	n = syscall(SYS_sched_getaffinity, 0, sizeof(mask), mask);
	if (n > 0) {
		for (i = 0; i < n / (long)sizeof(unsigned long); i++)
			cpus += __builtin_popcountl(mask[i]);
		if (cpus > 0)
			return cpus;
	}
	n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (int)n : 1;
}

/* Whatever descriptors the worker inherited (past 0, 1, 2) are not
 * for its tasks: mark them close-on-exec. */
static void
cloexec_inherited(void)
{
	struct dirent *de;
	DIR *d;
	int fd, fl;

#ifdef SYS_close_range
	/* CLOSE_RANGE_CLOEXEC (Linux 5.11) */
	if (syscall(SYS_close_range, 3u, ~0u, 4u) == 0)
		return;
#endif
	d = opendir("/proc/self/fd");
	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		fd = atoi(de->d_name);
		if (fd < 3 || fd == dirfd(d))
			continue;
		fl = fcntl(fd, F_GETFD);
		if (fl >= 0 && !(fl & FD_CLOEXEC))
			fcntl(fd, F_SETFD, fl | FD_CLOEXEC);
	}
	closedir(d);
}

/* Move the protocol off fds 0 and 1 (close-on-exec copies) and put
 * /dev/null and stderr in their place.  With --connect, stdin and stdout
 * are not the protocol: they are only replaced. */
static void
setup_fds(void)
{
	int fd;

	cloexec_inherited();

	/* make sure 0, 1, 2 are open so the copies land above them */
	for (fd = open("/dev/null", O_RDWR); fd >= 0 && fd <= 2;
	    fd = open("/dev/null", O_RDWR))
		;
	if (fd > 2)
		close(fd);
	io.in_fd = io.out_fd = -1;
	if (io.opt_connect == NULL) {
		io.in_fd = fcntl(0, F_DUPFD_CLOEXEC, 3);
		io.out_fd = fcntl(1, F_DUPFD_CLOEXEC, 3);
		if (io.in_fd < 0 || io.out_fd < 0) {
			w_log("cannot copy stdin/stdout: %s",
			    strerror(errno));
			exit(W_EXIT_INTERNAL);
		}
	}
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		dup2(fd, 0);
		close(fd);
	}
	dup2(2, 1);
}

static int
open_stream(int fd, bool input, uv_stream_t **st, void *storage)
{
	uv_handle_type t = uv_guess_handle(fd);
	int rc;

	*st = NULL;
	switch (t) {
	case UV_NAMED_PIPE:
		rc = uv_pipe_init(W.loop, storage, 0);
		if (rc == 0)
			rc = uv_pipe_open(storage, fd);
		break;
	case UV_TCP:
		rc = uv_tcp_init(W.loop, storage);
		if (rc == 0)
			rc = uv_tcp_open(storage, fd);
		break;
	case UV_TTY:
		if (!input)
			return 0;	/* plain writes */
		rc = uv_tty_init(W.loop, storage, fd, 1);
		break;
	default:
		return 0;		/* a file: plain reads and writes */
	}
	if (rc < 0)
		return rc;
	*st = storage;
	return 0;
}

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: parrun-worker [--slots N] [--max-frame BYTES]\n"
	    "                     [--connect ADDR:PORT [--secret-file FILE]]\n"
	    "       parrun-worker --kernels | --version | --help\n"
	    "\n"
	    "The worker process of parrun(1).  It speaks the parrun protocol\n"
	    "on stdin and stdout (or over TCP with --connect) and runs the\n"
	    "tasks it is sent; parrun starts it, people normally do not.\n"
	    "\n"
	    "  -s, --slots N          run at most N tasks at once (default 1)\n"
	    "  -m, --max-frame BYTES  longest line accepted from the coordinator\n"
	    "                         (default: the welcome's max_frame)\n"
	    "  -c, --connect ADDR:PORT  connect to a coordinator started with\n"
	    "                         parrun --listen; the run's secret is the\n"
	    "                         first line of stdin unless --secret-file\n"
	    "      --secret-file FILE  read the secret from FILE (mode 0600)\n"
	    "  -k, --kernels          list the built-in kernels and exit\n"
	    "  -V, --version          print the version and exit\n"
	    "  -h, --help             print this help and exit\n");
}

static int
parse_num(const char *opt, const char *s, long long lo, long long hi,
    long long *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi) {
		fprintf(stderr, "parrun-worker: %s '%s': not an integer in "
		    "[%lld, %lld]\n", opt, s, lo, hi);
		return -1;
	}
	*out = v;
	return 0;
}

static void
parse_args(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "slots", required_argument, NULL, 's' },
		{ "max-frame", required_argument, NULL, 'm' },
		{ "connect", required_argument, NULL, 'c' },
		{ "secret-file", required_argument, NULL, OPT_SECRET_FILE },
		{ "kernels", no_argument, NULL, 'k' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct pr_errbuf eb = { 0, "" };
	char host[256];
	long long v;
	int c, i, port;

	W.slots = 1;
	W.opt_max_frame = PR_MAX_FRAME;
	while ((c = getopt_long(argc, argv, "s:m:c:kVh", longopts, NULL)) !=
	    -1) {
		switch (c) {
		case 's':
			if (parse_num("--slots", optarg, 1, 1024, &v) < 0)
				exit(W_EXIT_USAGE);
			W.slots = (int)v;
			break;
		case 'm':
			if (parse_num("--max-frame", optarg, PR_PREAUTH_FRAME,
			    1 << 30, &v) < 0)
				exit(W_EXIT_USAGE);
			W.opt_max_frame = (size_t)v;
			io.max_frame_set = true;
			break;
		case 'c':
			/* a bad address is a usage error, found before the
			 * secret is read */
			if (pr_tcp_parse_addr(optarg, host, sizeof(host),
			    &port, &eb) < 0) {
				fprintf(stderr, "parrun-worker: --connect %s\n",
				    pr_errmsg(&eb, PR_ECONFIG));
				exit(W_EXIT_USAGE);
			}
			if (port == 0) {
				fprintf(stderr, "parrun-worker: --connect '%s': "
				    "port 0 cannot be connected to\n", optarg);
				exit(W_EXIT_USAGE);
			}
			io.opt_connect = optarg;
			break;
		case OPT_SECRET_FILE:
			io.opt_secret_file = optarg;
			break;
		case 'k':
			for (i = 0; pr_kernels[i] != NULL; i++)
				printf("%-12s %s\n", pr_kernels[i]->name,
				    pr_kernels[i]->summary);
			exit(fflush(stdout) == 0 ? 0 : W_EXIT_INTERNAL);
		case 'V':
			printf("parrun-worker %s (protocol %d..%d)\n",
			    PR_VERSION, PR_PROTO_MIN, PR_PROTO_MAX);
			exit(fflush(stdout) == 0 ? 0 : W_EXIT_INTERNAL);
		case 'h':
			usage(stdout);
			exit(fflush(stdout) == 0 ? 0 : W_EXIT_INTERNAL);
		default:
			usage(stderr);
			exit(W_EXIT_USAGE);
		}
	}
	if (optind < argc) {
		fprintf(stderr, "parrun-worker: unexpected argument '%s'\n",
		    argv[optind]);
		usage(stderr);
		exit(W_EXIT_USAGE);
	}
	if (io.opt_secret_file != NULL && io.opt_connect == NULL) {
		fprintf(stderr, "parrun-worker: --secret-file goes with "
		    "--connect\n");
		exit(W_EXIT_USAGE);
	}
}

static void
setup_env(void)
{
	char **e;
	size_t n = 0, i;
	char tmp[16];

	for (e = environ; *e != NULL; e++)
		n++;
	W.base_env = xcalloc(n + 1, sizeof(*W.base_env));
	for (i = 0; i < n; i++)
		W.base_env[i] = environ[i];
	W.nbase_env = n;
	/* kernel threads must not wait for each other (or for nothing):
	 * at least one pool thread per slot, set before the pool starts;
	 * children get the environment copied above, without it */
	if (getenv("UV_THREADPOOL_SIZE") == NULL && W.slots + 2 > 4) {
		snprintf(tmp, sizeof(tmp), "%d",
		    W.slots + 2 > 1024 ? 1024 : W.slots + 2);
		setenv("UV_THREADPOOL_SIZE", tmp, 1);
	}
}

/* Append the hello line to b. */
static void
hello_line(struct pr_buf *b)
{
	struct pr_hello h;

	memset(&h, 0, sizeof(h));
	h.proto_min = PR_PROTO_MIN;
	h.proto_max = PR_PROTO_MAX;
	h.version = PR_VERSION;
	h.host = W.host;
	h.pid = W.pid;
	h.cpus = W.cpus;
	h.slots = W.slots;
	h.kernels = io.knames;
	h.nkernels = io.nkernels;
	check_rc(pr_msg_hello(b, &h), "cannot send hello");
}

/* The coordinator's first line is due: wait for it at most hs_ms. */
static void
start_handshake_timer(void)
{
	uv_timer_start(&io.hs_timer, on_hs_timer, (uint64_t)io.hs_ms, 0);
	io.last_rx = uv_now(W.loop);
}

static void
start_reading(void)
{
	int rc;

	if (io.in_stream != NULL)
		rc = uv_read_start(io.in_stream, on_alloc, on_read);
	else
		rc = uv_idle_start(&io.in_idle, on_idle_read);
	if (rc < 0) {
		w_log("cannot read from the coordinator: %s",
		    uv_strerror(rc));
		exit_now(W_EXIT_INTERNAL);
	}
	io.reading = true;
}

/*
 * --connect: the connection is authenticated (the hello went out inside
 * the handshake).  From here on it is the protocol stream both ways, and
 * the coordinator's welcome is the next line.
 */
static void
on_connected(void *arg, int status, uv_stream_t *stream,
    const char *leftover, size_t n, const char *msg)
{
	size_t k;

	(void)arg;
	if (status < 0) {
		w_log("cannot connect to the coordinator at '%s': %s",
		    io.opt_connect, msg);
		exit_now(W_EXIT_HANDSHAKE);
	}
	if (W.phase == W_STOPPING || io.exiting)
		return;		/* a signal came first: leaving anyway */
	/* one handle for both directions, closed (by exit) once */
	io.in_stream = io.out_stream = stream;
	start_handshake_timer();
	/* bytes that came with the coordinator's auth line (its welcome,
	 * normally in a later read) */
	while (n > 0 && W.phase != W_STOPPING && !io.exiting) {
		k = n < sizeof(io.inbuf) ? n : sizeof(io.inbuf);
		memcpy(io.inbuf, leftover, k);
		feed(io.inbuf, k);
		leftover += k;
		n -= k;
	}
	if (W.phase == W_STOPPING || io.exiting)
		return;
	start_reading();
}

/* Connect and authenticate; the secret is wiped once copied. */
static void
start_connect(uint8_t secret[PR_SECRET_LEN])
{
	struct pr_errbuf eb = { 0, "" };
	struct pr_buf hello;
	int rc;

	pr_buf_init(&hello, 0);
	hello_line(&hello);
	rc = pr_worker_connect(W.loop, io.opt_connect, secret, hello.data,
	    hello.len, 0, &io.in_h.tcp, on_connected, NULL, &eb);
	pr_secret_wipe(secret, PR_SECRET_LEN);
	pr_buf_release(&hello);
	if (rc < 0) {
		w_log("cannot connect to '%s': %s", io.opt_connect,
		    pr_errmsg(&eb, rc));
		exit_now(rc == PR_ECONFIG ? W_EXIT_USAGE : W_EXIT_HANDSHAKE);
	}
}

int
main(int argc, char **argv)
{
	static const int sigs[3] = { SIGTERM, SIGINT, SIGHUP };
	struct pr_errbuf eb = { 0, "" };
	uint8_t secret[PR_SECRET_LEN];
	int i, rc;

	parse_args(argc, argv);
	signal(SIGPIPE, SIG_IGN);

	if (gethostname(W.host, sizeof(W.host) - 1) < 0)
		snprintf(W.host, sizeof(W.host), "localhost");
	W.pid = (long)getpid();
	snprintf(io.log_prefix, sizeof(io.log_prefix),
	    "parrun-worker[%s:%ld]", W.host, W.pid);
	if (io.opt_connect != NULL) {
		/* before setup_fds(), which puts /dev/null on fd 0; only the
		 * first line of stdin is read */
		rc = pr_worker_secret(io.opt_secret_file, 0, secret, &eb);
		if (rc < 0) {
			pr_secret_wipe(secret, sizeof(secret));
			w_log("%s", pr_errmsg(&eb, rc));
			return W_EXIT_HANDSHAKE;
		}
	}
	setup_fds();
	W.cpus = count_cpus();
	if (W.cpus > PR_MAX_SLOTS)
		W.cpus = PR_MAX_SLOTS;
	W.grace_ms = env_int("PARRUN_KILL_GRACE_MS", 0, 3600000, W_GRACE_MS);
	W.cap = PR_PREAUTH_FRAME;
	W.chunk = PR_OUTPUT_CHUNK;
	setup_env();
	pr_buf_init(&W.out, 0);
	W.slot = xcalloc((size_t)W.slots, sizeof(*W.slot));
	for (i = 0; pr_kernels[i] != NULL; i++)
		;
	io.nkernels = (size_t)i;
	io.knames = xcalloc(io.nkernels + 1, sizeof(*io.knames));
	for (i = 0; i < (int)io.nkernels; i++)
		io.knames[i] = pr_kernels[i]->name;
	for (i = 0; i < W.slots; i++) {
		W.slot[i].index = i + 1;
		W.slot[i].kstate = xcalloc(io.nkernels + 1,
		    sizeof(*W.slot[i].kstate));
	}

	W.loop = uv_default_loop();
	W.phase = W_HANDSHAKE;
	pr_framer_init(&io.framer, PR_PREAUTH_FRAME);
	if (io.opt_connect == NULL &&
	    ((rc = open_stream(io.in_fd, true, &io.in_stream, &io.in_h)) < 0 ||
	    (rc = open_stream(io.out_fd, false, &io.out_stream,
	    &io.out_h)) < 0)) {
		w_log("cannot use stdin/stdout: %s", uv_strerror(rc));
		return W_EXIT_INTERNAL;
	}
	uv_prepare_init(W.loop, &io.prepare);
	uv_prepare_start(&io.prepare, on_prepare);
	uv_check_init(W.loop, &io.check);
	uv_check_start(&io.check, on_check);
	uv_timer_init(W.loop, &io.hb_timer);
	uv_timer_init(W.loop, &io.hs_timer);
	uv_timer_init(W.loop, &io.stop_timer);
	uv_timer_init(W.loop, &io.exit_timer);
	uv_idle_init(W.loop, &io.in_idle);
	w_exec_init();
	for (i = 0; i < 3; i++) {
		uv_signal_init(W.loop, &io.sig[i]);
		uv_signal_start(&io.sig[i], on_signal, sigs[i]);
	}

	io.hs_ms = env_int("PARRUN_HANDSHAKE_MS", 1, 3600000, W_HANDSHAKE_MS);
	if (io.opt_connect != NULL) {
		start_connect(secret);
	} else {
		hello_line(&W.out);
		write_out();
		start_handshake_timer();
		start_reading();
	}
	uv_run(W.loop, UV_RUN_DEFAULT);
	/* not reached: every way out goes through exit_now() */
	exit_now(W_EXIT_INTERNAL);
}
