/*
 * exec.c - command tasks of parrun-worker (see worker.h).
 *
 * A command runs in its own session (setsid in the child), so its
 * process group is its pid and a timeout or cancel can signal everything
 * it started: TERM to the group, KILL to the group after a grace period.
 * stdin is /dev/null; stdout and stderr are fresh socket pairs read
 * straight into per-stream buffers (no copy).
 *
 * The worker starts commands itself rather than with uv_spawn(), for one
 * thing uv_spawn() cannot do: the child asks for SIGKILL when its parent
 * dies (PR_SET_PDEATHSIG) before it execs the command, so a worker killed
 * with SIGKILL, which cannot stop its tasks, leaves no task behind.  The
 * signal is tied to the thread that started the child; every command is
 * started by the loop thread, which lives as long as the process.  The
 * child then checks that its parent is still the worker (it may have died
 * before the prctl), and an exec error comes back through a close-on-exec
 * pipe, as in libuv.  This costs no extra exec (an exec shim would: a
 * second exec and dynamic load for every command).
 *
 * The child is made with clone(CLONE_VM | CLONE_VFORK) on a stack of its
 * own, as glibc's posix_spawn() does: it shares the worker's memory until
 * it execs, so nothing is copied.  fork() copied the worker's page
 * tables and left both sides to take copy-on-write faults, which made a
 * tiny command cost about twice the CPU of a posix_spawn() loop
 * (docs/PERFORMANCE.md).  The child touches no memory the worker uses
 * and calls only system calls; it searches PATH of the task's own
 * environment itself (execvpe() would search the worker's).
 * Exits are collected with waitpid() on SIGCHLD, for the running
 * commands only (a uv_signal_t).  What the task itself starts is not
 * covered (PDEATHSIG is not inherited by forks), nor a set-user-ID
 * program, for which the kernel clears it.  Up to W.chunk
 * bytes per stream stay in memory for the result; beyond that they go
 * out as "output" messages of at most W.chunk bytes, in order, so the
 * coordinator can rebuild the exact bytes.  With stream_output the
 * complete lines go out as soon as they arrive.
 *
 * The result is reported only when the process has exited AND both pipes
 * are at EOF (a background child may keep them open), and the task is
 * handed on only after every handle's close callback has run: handles
 * and buffers are freed only then (libuv rules).
 */
#define _GNU_SOURCE		/* clone() */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "worker.h"

#define READ_ROOM	(64 * 1024)	/* room offered to each read */

struct w_exec {
	struct w_task *t;
	struct w_slot *slot;
	uv_pipe_t pipe[2];		/* stdout, stderr */
	uv_timer_t timer;		/* timeout, then TERM -> KILL */
	struct pr_buf buf[2];
	bool eof[2];
	bool reading[2];
	bool spawned;
	bool exited;
	bool finished;			/* exited and both EOF: closing */
	int nopen;			/* handles whose close_cb is due */
	int64_t exit_status;
	int term_signal;
	int pid;
	int kill_stage;			/* 0 none, 1 TERM sent, 2 KILL sent */
	enum pr_status reason;		/* PR_ST_OK: not killed by us */
	uint64_t t0;			/* uv_hrtime at spawn */
};

static int
idx_of(const struct w_exec *e, const uv_handle_t *h)
{
	return h == (const uv_handle_t *)&e->pipe[1] ? 1 : 0;
}

/* ---- environment -------------------------------------------------------- */

struct envb {
	struct pr_buf arena;		/* "K=V\0" strings */
	size_t *off;			/* offsets of the additions */
	size_t n, cap;
};

static int
env_add(struct envb *eb, const char *k, const char *v)
{
	int rc;

	if (eb->n == eb->cap) {
		size_t cap = eb->cap ? eb->cap * 2 : 32;
		size_t *p = realloc(eb->off, cap * sizeof(*p));

		if (p == NULL)
			return -ENOMEM;
		eb->off = p;
		eb->cap = cap;
	}
	eb->off[eb->n] = eb->arena.len;
	if ((rc = pr_buf_adds(&eb->arena, k)) < 0 ||
	    (rc = pr_buf_addc(&eb->arena, '=')) < 0 ||
	    (rc = pr_buf_adds(&eb->arena, v)) < 0 ||
	    (rc = pr_buf_add(&eb->arena, "", 1)) < 0)
		return rc;
	eb->n++;
	return 0;
}

static int
env_addu(struct envb *eb, const char *k, uint64_t v)
{
	char tmp[24];

	snprintf(tmp, sizeof(tmp), "%" PRIu64, v);
	return env_add(eb, k, tmp);
}

static bool
same_key(const char *a, const char *b)
{
	while (*a != '\0' && *a != '=' && *a == *b) {
		a++;
		b++;
	}
	return (*a == '=' || *a == '\0') && (*b == '=' || *b == '\0');
}

/*
 * The child's environment: the worker's own, then the thread budget,
 * then the task's "env", then the PARRUN_* variables; a later entry
 * replaces an earlier one with the same name.  *envp (free it) points
 * into W.base_env and eb->arena.
 */
static int
build_env(struct w_task *t, struct w_slot *s, struct envb *eb, char ***envp)
{
	const cJSON *it;
	char **v;
	size_t i, j, n;
	int threads = t->m.threads > 0 ? t->m.threads : W.threads;
	int rc = 0;

	*envp = NULL;
	if (threads > 0) {
		if ((rc = env_addu(eb, "OMP_NUM_THREADS", (uint64_t)threads)) < 0 ||
		    (rc = env_addu(eb, "OPENBLAS_NUM_THREADS",
		    (uint64_t)threads)) < 0 ||
		    (rc = env_addu(eb, "MKL_NUM_THREADS", (uint64_t)threads)) < 0)
			return rc;
	}
	if (t->m.env != NULL)
		for (it = t->m.env->child; it != NULL; it = it->next)
			if ((rc = env_add(eb, it->string, it->valuestring)) < 0)
				return rc;
	if (t->m.id != NULL)
		rc = env_add(eb, "PARRUN_TASK_ID", t->m.id);
	else
		rc = env_addu(eb, "PARRUN_TASK_ID", t->m.seq);
	if (rc < 0 ||
	    (rc = env_addu(eb, "PARRUN_ATTEMPT", (uint64_t)t->m.attempt)) < 0 ||
	    (rc = env_addu(eb, "PARRUN_SEQ", t->m.seq)) < 0 ||
	    (rc = env_addu(eb, "PARRUN_WORKER", (uint64_t)W.worker_index)) < 0 ||
	    (rc = env_addu(eb, "PARRUN_SLOT", (uint64_t)s->index)) < 0 ||
	    (rc = env_addu(eb, "PARRUN_SEED",
	    t->m.has_seed ? t->m.seed : W.seed)) < 0)
		return rc;
	if (W.bcast_path != NULL &&
	    (rc = env_add(eb, "PARRUN_BROADCAST", W.bcast_path)) < 0)
		return rc;

	v = malloc((W.nbase_env + eb->n + 1) * sizeof(*v));
	if (v == NULL)
		return -ENOMEM;
	n = 0;
	for (i = 0; i < W.nbase_env; i++)
		v[n++] = W.base_env[i];
	for (i = 0; i < eb->n; i++) {
		char *kv = eb->arena.data + eb->off[i];

		for (j = 0; j < n; j++)
			if (same_key(v[j], kv))
				break;
		v[j] = kv;
		if (j == n)
			n++;
	}
	v[n] = NULL;
	*envp = v;
	return 0;
}

/* ---- output ------------------------------------------------------------ */

/*
 * Where to cut the first chunk of d[0..n) (n > lim): at most lim bytes,
 * after the last LF when want_nl and there is one, else before a UTF-8
 * sequence rather than inside it (so text chunks stay text).
 */
static size_t
cut_point(const char *d, size_t n, size_t lim, bool want_nl)
{
	size_t k;

	(void)n;
	if (want_nl) {
		for (k = lim; k > 0; k--)
			if (d[k - 1] == '\n')
				return k;
	}
	k = lim;
	while (k > 0 && lim - k < 3 && ((unsigned char)d[k] & 0xc0) == 0x80)
		k--;
	if (k == 0 || ((unsigned char)d[k] & 0xc0) == 0x80)
		return lim;
	return k;
}

/* Send what should not wait for the result. */
static void
drain_output(struct w_exec *e, int i)
{
	struct pr_buf *b = &e->buf[i];
	size_t lim = W.chunk, c;

	if (W.stream_output) {
		/* whole lines now; a partial line only when too long */
		while (b->len > 0) {
			size_t lines = b->len;

			while (lines > 0 && b->data[lines - 1] != '\n')
				lines--;

			if (lines == 0 && b->len <= lim)
				break;
			if (lines > 0 && lines <= lim)
				c = lines;
			else
				c = cut_point(b->data, b->len, lim,
				    lines > 0);
			w_emit_output(e->t, i + 1, b->data, c);
			pr_buf_consume(b, c);
		}
		return;
	}
	while (b->len > lim) {
		c = cut_point(b->data, b->len, lim, false);
		w_emit_output(e->t, i + 1, b->data, c);
		pr_buf_consume(b, c);
	}
}

/* ---- completion ---------------------------------------------------------- */

static void
on_close(uv_handle_t *h)
{
	struct w_exec *e = h->data;
	struct w_task *t = e->t;
	struct w_slot *s = e->slot;

	if (--e->nopen > 0)
		return;
	s->cmd = NULL;
	w_task_finish(t);
	w_slot_release(s);
}

static void
close_all(struct w_exec *e)
{
	uv_handle_t *h[3];
	int i;

	h[0] = (uv_handle_t *)&e->pipe[0];
	h[1] = (uv_handle_t *)&e->pipe[1];
	h[2] = (uv_handle_t *)&e->timer;
	for (i = 0; i < 3; i++)
		if (h[i]->type != UV_UNKNOWN_HANDLE && !uv_is_closing(h[i]))
			uv_close(h[i], on_close);
}

static void
maybe_finish(struct w_exec *e)
{
	struct w_task *t = e->t;

	if (e->finished || !e->exited || !e->eof[0] || !e->eof[1])
		return;
	e->finished = true;
	uv_timer_stop(&e->timer);
	t->elapsed = (double)(uv_hrtime() - e->t0) / 1e9;
	t->exit = e->term_signal != 0 ? -1 : (int)e->exit_status;
	t->signal = e->term_signal;
	if (e->reason != PR_ST_OK)
		t->status = e->reason;
	else if (e->term_signal != 0 || e->exit_status != 0)
		t->status = PR_ST_FAILED;
	else
		t->status = PR_ST_OK;
	close_all(e);
}

static void
on_exit_status(struct w_exec *e, int status)
{
	e->exited = true;
	e->exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : 0;
	e->term_signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
	maybe_finish(e);
}

/*
 * SIGCHLD: reap the commands that have exited.  Signals merge, so every
 * running command is looked at; only their pids are waited for.
 */
static void
on_sigchld(uv_signal_t *h, int sig)
{
	struct w_exec *e;
	pid_t pid;
	int i, status;

	(void)h;
	(void)sig;
	for (i = 0; W.slot != NULL && i < W.slots; i++) {
		if (W.slot[i].cmd == NULL)
			continue;
		e = W.slot[i].cmd->exec;
		if (e == NULL || !e->spawned || e->exited)
			continue;
		do
			pid = waitpid(e->pid, &status, WNOHANG);
		while (pid < 0 && errno == EINTR);
		if (pid == e->pid)
			on_exit_status(e, status);
		else if (pid < 0)
			w_fatal(-errno, "cannot wait for a task");
	}
}

static uv_signal_t sigchld;

static void childfn_init(void);

void
w_exec_init(void)
{
	int rc;

	childfn_init();
	/* before the first fork, so no exit goes unnoticed */
	rc = uv_signal_init(W.loop, &sigchld);
	if (rc == 0)
		rc = uv_signal_start(&sigchld, on_sigchld, SIGCHLD);
	if (rc < 0)
		w_fatal(rc, "cannot watch for SIGCHLD");
	uv_unref((uv_handle_t *)&sigchld);
}

static void
on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct w_exec *e = h->data;
	struct pr_buf *b = &e->buf[idx_of(e, h)];

	(void)suggested;
	if (pr_buf_grow(b, READ_ROOM) < 0) {
		buf->base = NULL;
		buf->len = 0;
		return;
	}
	buf->base = b->data + b->len;
	buf->len = b->cap - b->len - 1;
}

static void
on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
	struct w_exec *e = st->data;
	int i = idx_of(e, (uv_handle_t *)st);
	struct pr_buf *b = &e->buf[i];

	(void)buf;
	if (nread > 0) {
		b->len += (size_t)nread;
		b->data[b->len] = '\0';
		drain_output(e, i);
		return;
	}
	if (nread == 0)
		return;
	if (nread == UV_ENOBUFS)
		w_fatal(UV_ENOMEM, "cannot buffer task output");
	if (nread != UV_EOF)
		w_log("reading the %s of task %" PRIu64 ": %s",
		    i == 0 ? "stdout" : "stderr", e->t->m.seq,
		    uv_strerror((int)nread));
	uv_read_stop(st);
	e->reading[i] = false;
	e->eof[i] = true;
	maybe_finish(e);
}

/* ---- signals ------------------------------------------------------------- */

static void
signal_group(struct w_exec *e, int sig)
{
	if (e->pid <= 0)
		return;
	if (kill(-e->pid, sig) < 0 && errno != ESRCH)
		w_log("cannot signal process group %d: %s", e->pid,
		    strerror(errno));
}

static void
on_timer(uv_timer_t *tm)
{
	struct w_exec *e = tm->data;

	if (e->kill_stage == 0) {
		w_exec_kill(e->t, PR_ST_TIMEOUT, 0);
		return;
	}
	if (e->kill_stage == 1) {
		e->kill_stage = 2;
		signal_group(e, SIGKILL);
	}
}

void
w_exec_kill(struct w_task *t, enum pr_status reason, int grace_ms)
{
	struct w_exec *e = t->exec;

	if (e == NULL || !e->spawned || e->finished)
		return;
	if (e->reason == PR_ST_OK)
		e->reason = reason;
	if (e->kill_stage > 0)
		return;
	e->kill_stage = 1;
	signal_group(e, SIGTERM);
	/* a stopped process would sit on its TERM */
	signal_group(e, SIGCONT);
	uv_timer_stop(&e->timer);
	uv_timer_start(&e->timer, on_timer,
	    (uint64_t)(grace_ms > 0 ? grace_ms : W.grace_ms), 0);
}

void
w_exec_kill_now(struct w_task *t)
{
	struct w_exec *e = t->exec;

	if (e == NULL || !e->spawned || e->kill_stage == 2)
		return;
	if (e->finished && !w_exec_alive(t))
		return;
	e->kill_stage = 2;
	uv_timer_stop(&e->timer);
	signal_group(e, SIGKILL);
}

bool
w_exec_alive(const struct w_task *t)
{
	const struct w_exec *e = t->exec;

	if (e == NULL || !e->spawned)
		return false;
	if (!e->exited || !e->eof[0] || !e->eof[1])
		return true;
	/* the leader is gone and the pipes are closed, but a member that
	 * let go of them may remain */
	return kill(-e->pid, 0) == 0;
}

long
w_exec_pid(const struct w_task *t)
{
	return t->exec != NULL && t->exec->spawned ? t->exec->pid : 0;
}

void
w_exec_throttle(struct w_task *t, bool pause)
{
	struct w_exec *e = t->exec;
	int i;

	if (e == NULL || !e->spawned)
		return;
	for (i = 0; i < 2; i++) {
		if (e->eof[i] || e->reading[i] == !pause)
			continue;
		if (pause) {
			uv_read_stop((uv_stream_t *)&e->pipe[i]);
			e->reading[i] = false;
		} else if (uv_read_start((uv_stream_t *)&e->pipe[i], on_alloc,
		    on_read) == 0) {
			e->reading[i] = true;
		}
	}
}

/* ---- spawn --------------------------------------------------------------- */

/* What failed in the child, sent back with its errno. */
enum {
	CHILD_SETUP = 1,
	CHILD_CHDIR,
	CHILD_EXEC,
};

static int
cloexec_pipe(int fds[2])
{
	if (pipe(fds) < 0)
		return -errno;
	if (fcntl(fds[0], F_SETFD, FD_CLOEXEC) < 0 ||
	    fcntl(fds[1], F_SETFD, FD_CLOEXEC) < 0) {
		int rc = -errno;

		close(fds[0]);
		close(fds[1]);
		return rc;
	}
	return 0;
}

static void
close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/*
 * What the child calls before it execs, reached through pointers taken
 * when the worker starts: the child shares the worker's memory and runs
 * on a stack of its own, and must not enter the dynamic linker (a lazily
 * bound symbol would be looked up on that small stack, under the
 * linker's lock that another thread of the worker may hold).
 */
static struct {
	int (*prctl)(int, ...);
	pid_t (*getppid)(void);
	pid_t (*setsid)(void);
	int (*dup2)(int, int);
	int (*chdir)(const char *);
	int (*sigaction)(int, const struct sigaction *, struct sigaction *);
	int (*sigprocmask)(int, const sigset_t *, sigset_t *);
	int (*execve)(const char *, char *const [], char *const []);
	ssize_t (*write)(int, const void *, size_t);
	void (*exit)(int);
	struct sigaction dfl;		/* SIG_DFL */
	sigset_t none;
} cf;

static void
childfn_init(void)
{
	cf.prctl = prctl;
	cf.getppid = getppid;
	cf.setsid = setsid;
	cf.dup2 = dup2;
	cf.chdir = chdir;
	cf.sigaction = sigaction;
	cf.sigprocmask = sigprocmask;
	cf.execve = execve;
	cf.write = write;
	cf.exit = _exit;
	memset(&cf.dfl, 0, sizeof(cf.dfl));
	cf.dfl.sa_handler = SIG_DFL;
	sigemptyset(&cf.dfl.sa_mask);
	sigemptyset(&cf.none);
}

/* What the child needs: on the worker's stack, which waits meanwhile. */
struct child_args {
	pid_t worker;
	int out_w, err_w, report;
	char **argv, **envp;
	const char *cwd;
	int argc;
	char **sh_argv;			/* room for argc + 2 pointers */
};

/*
 * The child's code must not be instrumented: the sanitizers' runtime
 * knows nothing of its stack, and their checks may allocate.
 */
#if defined(__clang__) || __GNUC__ >= 8
#define CHILD_CODE __attribute__((no_sanitize("address", "undefined")))
#else
#define CHILD_CODE
#endif

/* In the child: report what failed and leave. */
static CHILD_CODE void __attribute__((noreturn))
child_fail(int fd, int what, int err)
{
	int msg[2];
	ssize_t n;

	msg[0] = what;
	msg[1] = err;
	do
		n = cf.write(fd, msg, sizeof(msg));
	while (n < 0 && errno == EINTR);
	cf.exit(127);
	for (;;)		/* not reached */
		;
}

/*
 * execve(path), and a file without a #! line run by /bin/sh, as
 * execvp() does.  Returns only on failure, with errno set.
 */
static CHILD_CODE void
child_execve(const char *path, struct child_args *a)
{
	char **sh_argv = a->sh_argv;
	int i;

	cf.execve(path, a->argv, a->envp);
	if (errno != ENOEXEC)
		return;
	sh_argv[0] = (char *)"/bin/sh";
	sh_argv[1] = (char *)path;
	for (i = 1; i <= a->argc; i++)
		sh_argv[i + 1] = a->argv[i];
	cf.execve("/bin/sh", sh_argv, a->envp);
	errno = ENOEXEC;
}

/*
 * execvp() with the PATH of the task's environment (glibc's default
 * "/bin:/usr/bin" without one); an empty element is the current
 * directory.  Returns the errno to report.
 */
static CHILD_CODE int
child_execvp(struct child_args *a)
{
	const char *file = a->argv[0], *path = NULL, *p, *q;
	char buf[PATH_MAX];
	size_t flen = 0, dlen;
	bool eacces = false;
	char **e;

	for (p = file; *p != '\0'; p++)
		if (*p == '/') {
			child_execve(file, a);
			return errno;
		}
	flen = (size_t)(p - file);
	if (flen == 0)
		return ENOENT;
	for (e = a->envp; *e != NULL && path == NULL; e++)
		if ((*e)[0] == 'P' && (*e)[1] == 'A' && (*e)[2] == 'T' &&
		    (*e)[3] == 'H' && (*e)[4] == '=')
			path = *e + 5;
	if (path == NULL)
		path = "/bin:/usr/bin";
	for (p = path;; p = q + 1) {
		for (q = p; *q != '\0' && *q != ':'; q++)
			;
		dlen = (size_t)(q - p);
		if (dlen + 1 + flen < sizeof(buf)) {
			size_t n = 0, i;

			for (i = 0; i < dlen; i++)
				buf[n++] = p[i];
			if (dlen > 0)
				buf[n++] = '/';
			for (i = 0; i < flen; i++)
				buf[n++] = file[i];
			buf[n] = '\0';
			child_execve(buf, a);
			switch (errno) {
			case EACCES:
				eacces = true;
				break;
			case ENOENT: case ENOTDIR: case ESTALE: case ENODEV:
			case ETIMEDOUT: case ELOOP: case ENAMETOOLONG:
				break;
			default:
				return errno;
			}
		}
		if (*q == '\0')
			break;
	}
	return eacces ? EACCES : ENOENT;
}

/*
 * The child until it execs.  fd 0 is already /dev/null (parrun-worker.c
 * keeps it so).  Every signal is blocked on entry (see spawn()).
 */
static CHILD_CODE int
child_run(void *arg)
{
	struct child_args *a = arg;
	int sig;

	/* SIGKILL when the worker dies; if it died already (before the
	 * prctl), this child has been given to another parent: stop */
	if (cf.prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
		child_fail(a->report, CHILD_SETUP, errno);
	if (cf.getppid() != a->worker)
		cf.exit(127);
	if (cf.setsid() < 0)
		child_fail(a->report, CHILD_SETUP, errno);
	if (cf.dup2(a->out_w, 1) < 0 || cf.dup2(a->err_w, 2) < 0)
		child_fail(a->report, CHILD_SETUP, errno);
	if (a->cwd != NULL && cf.chdir(a->cwd) < 0)
		child_fail(a->report, CHILD_CHDIR, errno);
	/* exec keeps ignored signals ignored (the worker ignores SIGPIPE)
	 * and the mask: the command starts from the defaults.  Not the
	 * real-time signals, which glibc uses itself.  (The child has its
	 * own copy of the handlers: CLONE_SIGHAND is not set.) */
	for (sig = 1; sig < 32; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			cf.sigaction(sig, &cf.dfl, NULL);
	cf.sigprocmask(SIG_SETMASK, &cf.none, NULL);
	child_fail(a->report, CHILD_EXEC, child_execvp(a));
}

/*
 * The child's stack, kept from one command to the next (only the loop
 * thread starts commands, and it waits while the child runs): the /bin/sh
 * argv at its low end (*sh_argv), then room for the PATH buffer and the
 * calls.  NULL when it cannot be had.
 */
static char *
child_stack(int argc, size_t *size, char ***sh_argv)
{
	static char *stack;
	static size_t have;
	size_t argvb = ((size_t)argc + 2) * sizeof(char *);
	size_t need = 64 * 1024 + PATH_MAX + argvb;
	long page = sysconf(_SC_PAGESIZE);

	need = (need + (size_t)page - 1) / (size_t)page * (size_t)page;
	if (need > have) {
		if (stack != NULL)
			munmap(stack, have);
		have = 0;
		stack = mmap(NULL, need, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
		if (stack == MAP_FAILED) {
			stack = NULL;
			return NULL;
		}
		have = need;
	}
	*sh_argv = (char **)(void *)stack;
	*size = have;
	return stack;
}

/*
 * Start argv with stdout and stderr on new socket pairs, opened as
 * e->pipe[0..1] (already initialised).  0 and e->pid set; or -errno with
 * *what saying which step failed (CHILD_*), the child reaped.
 */
static int
spawn(struct w_exec *e, char **argv, char **envp, const char *cwd,
    int *what)
{
	int out[2] = { -1, -1 }, err[2] = { -1, -1 }, rep[2] = { -1, -1 };
	int msg[2], status, rc;
	struct child_args a;
	pid_t pid;
	sigset_t all, old;
	size_t size;
	char *stack;
	ssize_t n;

	*what = CHILD_SETUP;
	/* socket pairs for the output, as uv_spawn() made them: a task
	 * costs measurably less wall time than with pipes */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, out) < 0 ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, err) < 0) {
		rc = -errno;
		goto fail;
	}
	if ((rc = cloexec_pipe(rep)) < 0)
		goto fail;
	a.worker = (pid_t)W.pid;
	a.out_w = out[1];
	a.err_w = err[1];
	a.report = rep[1];
	a.argv = argv;
	a.envp = envp;
	a.cwd = cwd;
	for (a.argc = 0; argv[a.argc] != NULL; a.argc++)
		;
	if ((stack = child_stack(a.argc, &size, &a.sh_argv)) == NULL) {
		rc = -ENOMEM;
		goto fail;
	}
	/* no signal handler of the worker's (libuv's write to pipes the
	 * parent shares) may run in the child: block them all across the
	 * clone; the child unblocks once its handlers are reset */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pid = clone(child_run, stack + size, CLONE_VM | CLONE_VFORK | SIGCHLD,
	    &a);
	if (pid < 0)
		rc = -errno;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (pid < 0)
		goto fail;
	close_fd(&out[1]);
	close_fd(&err[1]);
	close_fd(&rep[1]);
	/* EOF: the exec happened (the pipe was close-on-exec) */
	do
		n = read(rep[0], msg, sizeof(msg));
	while (n < 0 && errno == EINTR);
	close_fd(&rep[0]);
	if (n != 0) {
		if (n == (ssize_t)sizeof(msg)) {
			*what = msg[0];
			rc = -msg[1];
		} else {
			rc = n < 0 ? -errno : -EIO;
		}
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		goto fail;
	}
	e->pid = (int)pid;
	/* from here the pipes are the handles' (closed with them) */
	if ((rc = uv_pipe_open(&e->pipe[0], out[0])) < 0) {
		w_log("cannot read task output: %s", uv_strerror(rc));
		close_fd(&out[0]);
		e->eof[0] = true;
	}
	if ((rc = uv_pipe_open(&e->pipe[1], err[0])) < 0) {
		w_log("cannot read task output: %s", uv_strerror(rc));
		close_fd(&err[0]);
		e->eof[1] = true;
	}
	return 0;
fail:
	close_fd(&out[0]);
	close_fd(&out[1]);
	close_fd(&err[0]);
	close_fd(&err[1]);
	close_fd(&rep[0]);
	close_fd(&rep[1]);
	return rc;
}

/* ---- start --------------------------------------------------------------- */

static int
exit_code_for(int err)
{
	return err == UV_ENOENT || err == UV_ENOTDIR ? 127 : 126;
}

/* The task could not start: report it with status error once the
 * handles that were set up have closed. */
static void
spawn_failed(struct w_exec *e, int err, const char *what, const char *name)
{
	struct w_task *t = e->t;

	t->status = PR_ST_ERROR;
	t->exit = exit_code_for(err);
	t->elapsed = (double)(uv_hrtime() - e->t0) / 1e9;
	w_task_set_error(t, "%s '%s': %s", what, name, uv_strerror(err));
	e->exited = e->eof[0] = e->eof[1] = true;
	e->finished = true;
	close_all(e);
}

void
w_exec_start(struct w_task *t, struct w_slot *s)
{
	static char sh_path[] = "/bin/sh", sh_c[] = "-c";
	struct envb eb;
	struct w_exec *e;
	char **argv = NULL, **envp = NULL, *sh_argv[4];
	const cJSON *it;
	struct stat st;
	size_t n, i;
	int rc, i2, what;

	e = calloc(1, sizeof(*e));
	if (e == NULL) {
		w_fatal(-ENOMEM, "cannot start a task");
		return;
	}
	memset(&eb, 0, sizeof(eb));
	pr_buf_init(&eb.arena, 0);
	e->t = t;
	e->slot = s;
	e->reason = PR_ST_OK;
	e->t0 = uv_hrtime();
	for (i2 = 0; i2 < 2; i2++)
		pr_buf_init(&e->buf[i2], 0);
	t->exec = e;
	t->state = W_T_RUNNING;
	t->start = w_unix_now();
	s->busy = true;
	s->cmd = t;
	W.nbusy++;

	uv_timer_init(W.loop, &e->timer);
	e->timer.data = e;
	e->nopen++;
	for (i2 = 0; i2 < 2; i2++) {
		uv_pipe_init(W.loop, &e->pipe[i2], 0);
		e->pipe[i2].data = e;
		e->nopen++;
	}

	if (t->m.kind == PR_KIND_SH) {
		sh_argv[0] = sh_path;
		sh_argv[1] = sh_c;
		sh_argv[2] = (char *)t->m.sh;
		sh_argv[3] = NULL;
		argv = sh_argv;
	} else {
		n = (size_t)cJSON_GetArraySize(t->m.argv);
		argv = calloc(n + 1, sizeof(*argv));
		if (argv == NULL) {
			w_fatal(-ENOMEM, "cannot start a task");
			return;
		}
		i = 0;
		for (it = t->m.argv->child; it != NULL; it = it->next)
			argv[i++] = it->valuestring;
	}

	if (t->m.cwd != NULL) {
		if (stat(t->m.cwd, &st) < 0) {
			spawn_failed(e, -errno, "cannot change to directory",
			    t->m.cwd);
			goto out;
		}
		if (!S_ISDIR(st.st_mode)) {
			spawn_failed(e, UV_ENOTDIR,
			    "cannot change to directory", t->m.cwd);
			goto out;
		}
	}
	if ((rc = build_env(t, s, &eb, &envp)) < 0) {
		w_fatal(rc, "cannot build a task's environment");
		goto out;
	}

	rc = spawn(e, argv, envp, t->m.cwd, &what);
	if (rc < 0) {
		if (what == CHILD_CHDIR)
			spawn_failed(e, rc, "cannot change to directory",
			    t->m.cwd);
		else if (what == CHILD_EXEC)
			spawn_failed(e, rc, "cannot run", argv[0]);
		else
			spawn_failed(e, rc, "cannot start", argv[0]);
		goto out;
	}
	e->spawned = true;
	w_emit_started(t, e->pid);
	for (i2 = 0; i2 < 2; i2++) {
		if (W.throttled || e->eof[i2])
			continue;
		rc = uv_read_start((uv_stream_t *)&e->pipe[i2], on_alloc,
		    on_read);
		if (rc < 0) {
			w_log("cannot read task output: %s", uv_strerror(rc));
			e->eof[i2] = true;
		} else {
			e->reading[i2] = true;
		}
	}
	if (w_task_timeout_ms(t) > 0) {
		/* the loop's clock was read before the fork: from now */
		uv_update_time(W.loop);
		uv_timer_start(&e->timer, on_timer,
		    (uint64_t)w_task_timeout_ms(t), 0);
	}
out:
	if (argv != sh_argv)
		free(argv);
	free(envp);
	free(eb.off);
	pr_buf_release(&eb.arena);
}

void
w_exec_output(const struct w_task *t, const char **out, size_t *outlen,
    const char **err, size_t *errlen)
{
	const struct w_exec *e = t->exec;

	*out = *err = NULL;
	*outlen = *errlen = 0;
	if (e == NULL)
		return;
	*out = e->buf[0].data;
	*outlen = e->buf[0].len;
	*err = e->buf[1].data;
	*errlen = e->buf[1].len;
}

void
w_exec_free(struct w_exec *e)
{
	if (e == NULL)
		return;
	pr_buf_release(&e->buf[0]);
	pr_buf_release(&e->buf[1]);
	free(e);
}
