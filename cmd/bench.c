/*
 * bench.c - `parrun bench`: rerun the lecture notes' experiments here.
 *
 * Owner: h12.
 *
 * Four experiments, each run through parrun itself so that what is
 * measured is what a user gets from the command line:
 *
 *	chol	one Cholesky of X'X (n = 6000) with BLAS threads 1..CPUs
 *	pmap	12 x chol(5000) on W workers x T threads, every split of the
 *		CPUs (W * T = CPUs), against 1 worker x 1 thread
 *	randsum	the sum of 5e7 uniforms, --range over W = 1..CPUs workers
 *	sort	250000 and 1e7 doubles with 1..CPUs threads, against glibc
 *		qsort timed here, in this process, on the same numbers
 *
 * A measurement is one child: /proc/self/exe with the options, its task
 * lines on stdin, its JSON records read from stdout and parsed with
 * cJSON.  The child leads a process group of its own.  On a timeout or a
 * ^C (which reaches only bench: the child is not in the terminal's
 * foreground group) it gets TERM, and KILL two seconds later; so do its
 * descendants, found in /proc when the TERM is sent, since parrun starts
 * its workers detached, in sessions of their own (each is checked by its
 * start time before it is signalled, so a recycled PID is left alone).
 * The child's end is seen through SIGCHLD and a self-pipe, so the wall
 * time is not rounded to a poll period, and it is reaped only after what
 * it left in its group has been killed, so the group id cannot have been
 * reused.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "bench.h"
#include "buf.h"
#include "cpus.h"
#include "rng.h"
#include "version.h"

#define EXIT_USAGE	255
#define MAXCONF		64		/* configurations per experiment */
#define MAXTASKS	64		/* tasks of one pmap run */
#define OUT_MAX		((size_t)64 << 20)	/* a child's stdout */
#define ERR_MAX		((size_t)1 << 20)	/* a child's stderr */
#define KILL_GRACE	2.0		/* seconds from TERM to KILL */

enum {
	EXP_CHOL = 1,
	EXP_PMAP = 2,
	EXP_RANDSUM = 4,
	EXP_SORT = 8,
	EXP_ALL = 15,
};

struct bopts {
	bool quick, json, quiet, verbose;
	const char *svg;
	uint64_t seed;
	int cpus;
	const char *cpus_by;		/* what limited the CPU count */
	unsigned only;
	int repeat;			/* 0: each experiment's default */
	double timeout;			/* per child, seconds */
	const char *worker;		/* --worker for the children */
	long chol_n, pmap_n, randsum_n, sort_n[2];
	int pmap_tasks;
};

/* One measurement: one row of a table, one bar of the chart. */
struct row {
	int workers, threads;
	long n;
	bool ran, ok, qsort;
	double wall;		/* child start to exit, s (best of the reps) */
	double seconds;		/* the kernel's own time, s (best) */
	double gflops;
	double ksec;		/* randsum: kernel seconds over all chunks */
	double busiest;		/* randsum: kernel seconds of the busiest
				 * worker, the compute's critical path */
	double cspeedup;	/* randsum: speed-up of that */
	double value;
	double speedup;		/* over the experiment's baseline */
	double vs_qsort;	/* sort: qsort time / this time */
	char err[240];
};

struct bench {
	struct bopts o;
	struct row chol[MAXCONF], pmap[MAXCONF], rs[MAXCONF];
	struct row sort[2 * (MAXCONF + 1)];
	size_t nchol, npmap, nrs, nsort;
	double pmap_values[MAXTASKS];
	bool pmap_have_values, pmap_same;
	double pmap_maxrel;		/* largest relative value difference */
	bool rs_same, rs_bits;
	int fastest;			/* index into pmap, or -1 */
	int failures;
};

/* ---- small helpers ------------------------------------------------------ */

static volatile sig_atomic_t stop_sig;
static int wake_fd[2] = { -1, -1 };

static void
on_signal(int sig)
{
	int saved = errno;
	char c = 's';
	ssize_t r;

	if (sig != SIGCHLD)
		stop_sig = sig;
	if (wake_fd[1] >= 0) {
		r = write(wake_fd[1], &c, 1);
		(void)r;
	}
	errno = saved;
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int
set_flags(int fd, bool nonblock)
{
	int fl = fcntl(fd, F_GETFD);

	if (fl < 0 || fcntl(fd, F_SETFD, fl | FD_CLOEXEC) < 0)
		return -1;
	if (!nonblock)
		return 0;
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -1;
	return 0;
}

static void
close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void
progress(const struct bopts *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void
progress(const struct bopts *o, const char *fmt, ...)
{
	va_list ap;

	if (o->quiet)
		return;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fflush(stderr);
}

static void
row_fail(struct bench *b, struct row *r, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
row_fail(struct bench *b, struct row *r, const char *fmt, ...)
{
	va_list ap;

	if (r->ok || r->err[0] == '\0') {
		va_start(ap, fmt);
		vsnprintf(r->err, sizeof(r->err), fmt, ap);
		va_end(ap);
	}
	if (r->ok || !r->ran)
		b->failures++;
	r->ran = true;
	r->ok = false;
}

/* ---- the child: parrun with options, records on stdout ------------------ */

struct argv {
	char *v[48];
	int n;
	char store[2048];
	size_t used;
};

static void
arg_add(struct argv *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void
arg_add(struct argv *a, const char *fmt, ...)
{
	va_list ap;
	int len;

	if (a->n >= (int)(sizeof(a->v) / sizeof(a->v[0])) - 1)
		return;
	va_start(ap, fmt);
	len = vsnprintf(a->store + a->used, sizeof(a->store) - a->used, fmt,
	    ap);
	va_end(ap);
	if (len < 0 || (size_t)len >= sizeof(a->store) - a->used)
		return;
	a->v[a->n++] = a->store + a->used;
	a->v[a->n] = NULL;
	a->used += (size_t)len + 1;
}

/* parrun's options common to every child */
static void
arg_start(struct argv *a, const struct bopts *o, int workers, int threads)
{
	memset(a, 0, sizeof(*a));
	arg_add(a, "parrun");
	arg_add(a, "-j");
	arg_add(a, "%d", workers);
	arg_add(a, "--threads");
	arg_add(a, "%d", threads);
	arg_add(a, "--seed");
	arg_add(a, "%llu", (unsigned long long)o->seed);
	arg_add(a, "--results");
	arg_add(a, "-");
	if (o->worker != NULL) {
		arg_add(a, "--worker");
		arg_add(a, "%s", o->worker);
	}
}

struct child {
	struct pr_buf out, err;
	double wall;
	int status;		/* waitpid status, valid when exited */
	bool exited, timed_out;
	char why[160];		/* why it could not run */
};

static void
child_init(struct child *c)
{
	memset(c, 0, sizeof(*c));
	pr_buf_init(&c->out, OUT_MAX);
	pr_buf_init(&c->err, ERR_MAX);
}

static void
child_release(struct child *c)
{
	pr_buf_release(&c->out);
	pr_buf_release(&c->err);
}

/* ---- descendants of the child, for the kill ----------------------------- */

struct proc {
	pid_t pid, ppid;
	unsigned long long start;	/* field 22 of /proc/PID/stat */
};

struct procs {
	struct proc *v;
	size_t n, cap;
};

static int
proc_stat(pid_t pid, struct proc *p)
{
	char path[64], buf[1024], *s, *end;
	size_t n;
	FILE *f;
	int field;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* the command name may hold spaces and parentheses: skip to the
	 * last ')', after which come field 3 (state), 4 (ppid), ... */
	s = strrchr(buf, ')');
	if (s == NULL)
		return -1;
	s++;
	p->pid = pid;
	for (field = 3; field <= 22; field++) {
		while (*s == ' ')
			s++;
		if (*s == '\0')
			return -1;
		if (field == 4)
			p->ppid = (pid_t)strtol(s, NULL, 10);
		if (field == 22) {
			errno = 0;
			p->start = strtoull(s, &end, 10);
			if (errno != 0 || end == s)
				return -1;
		}
		s += strcspn(s, " ");
	}
	return 0;
}

static void
procs_add(struct procs *ps, const struct proc *p)
{
	struct proc *v;

	for (size_t i = 0; i < ps->n; i++)
		if (ps->v[i].pid == p->pid)
			return;
	if (ps->n == ps->cap) {
		size_t cap = ps->cap ? ps->cap * 2 : 64;

		v = realloc(ps->v, cap * sizeof(*v));
		if (v == NULL)
			return;
		ps->v = v;
		ps->cap = cap;
	}
	ps->v[ps->n++] = *p;
}

/* Add the descendants of root that run now to out. */
static void
find_descendants(pid_t root, struct procs *out)
{
	struct procs all = { NULL, 0, 0 };
	struct dirent *de;
	DIR *d = opendir("/proc");
	bool grew = true;

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		struct proc p;
		char *end;
		long pid = strtol(de->d_name, &end, 10);

		if (*end != '\0' || pid <= 0 || proc_stat((pid_t)pid, &p) < 0)
			continue;
		procs_add(&all, &p);
	}
	closedir(d);
	/* every process whose parent is root or already found */
	while (grew) {
		grew = false;
		for (size_t i = 0; i < all.n; i++) {
			bool known = false, parent = all.v[i].ppid == root;

			for (size_t k = 0; k < out->n && !(known && parent);
			    k++) {
				known |= out->v[k].pid == all.v[i].pid;
				parent |= out->v[k].pid == all.v[i].ppid;
			}
			if (parent && !known) {
				procs_add(out, &all.v[i]);
				grew = true;
			}
		}
	}
	free(all.v);
}

/* Signal the processes of ps that are still the ones recorded. */
static void
signal_procs(const struct procs *ps, int sig)
{
	for (size_t i = 0; i < ps->n; i++) {
		struct proc now_p;

		if (proc_stat(ps->v[i].pid, &now_p) == 0 &&
		    now_p.start == ps->v[i].start)
			kill(ps->v[i].pid, sig);
	}
}

/* Read what fd has now into b; -1 at EOF or error (fd closed). */
static void
drain(int *fd, struct pr_buf *b)
{
	char tmp[65536];
	ssize_t n;

	while (*fd >= 0) {
		n = read(*fd, tmp, sizeof(tmp));
		if (n > 0) {
			/* past the cap the rest is dropped, not an error */
			(void)pr_buf_add(b, tmp, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		close_fd(fd);
	}
}

static bool
child_gone(pid_t pid)
{
	siginfo_t si;

	memset(&si, 0, sizeof(si));
	/* WNOWAIT: the zombie keeps its process group id reserved */
	if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0)
		return errno == ECHILD;
	return si.si_pid == pid;
}

/*
 * Run parrun with argv, input on its stdin; fill c.  Returns 0 when the
 * child ran to its exit (whatever its status), -1 when it could not be
 * started (c->why says why).
 */
static int
run_child(const struct bopts *o, struct argv *a, const char *input,
    size_t inlen, struct child *c)
{
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, err[2] = { -1, -1 };
	size_t sent = 0;
	double t0, deadline, term_at = 0;
	bool killed = false;
	struct procs desc = { NULL, 0, 0 };
	pid_t pid = -1;
	int rc = -1;

	if (pipe(in) < 0 || pipe(out) < 0 || pipe(err) < 0) {
		snprintf(c->why, sizeof(c->why), "cannot make a pipe: %s",
		    strerror(errno));
		goto out;
	}
	if (set_flags(in[0], false) < 0 || set_flags(out[1], false) < 0 ||
	    set_flags(err[1], false) < 0 || set_flags(in[1], true) < 0 ||
	    set_flags(out[0], true) < 0 || set_flags(err[0], true) < 0) {
		snprintf(c->why, sizeof(c->why), "cannot set up a pipe: %s",
		    strerror(errno));
		goto out;
	}
	if (o->verbose) {
		fputs("parrun bench: running", stderr);
		for (int i = 0; i < a->n; i++)
			fprintf(stderr, " %s", a->v[i]);
		fputc('\n', stderr);
	}
	fflush(stdout);
	fflush(stderr);
	t0 = now();
	pid = fork();
	if (pid < 0) {
		snprintf(c->why, sizeof(c->why), "cannot fork: %s",
		    strerror(errno));
		goto out;
	}
	if (pid == 0) {
		sigset_t none;
		static const char msg[] = "parrun bench: cannot run "
		    "/proc/self/exe\n";
		ssize_t w;

		setpgid(0, 0);
		if (dup2(in[0], 0) < 0 || dup2(out[1], 1) < 0 ||
		    dup2(err[1], 2) < 0)
			_exit(127);
		signal(SIGPIPE, SIG_DFL);
		signal(SIGCHLD, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		execv("/proc/self/exe", a->v);
		w = write(2, msg, sizeof(msg) - 1);
		(void)w;
		_exit(127);
	}
	/* both sides set the group, so neither order of events races */
	setpgid(pid, pid);
	close_fd(&in[0]);
	close_fd(&out[1]);
	close_fd(&err[1]);
	if (inlen == 0)
		close_fd(&in[1]);
	deadline = t0 + o->timeout;

	for (;;) {
		struct pollfd p[4];
		nfds_t np = 0;
		double t, until;
		int ms;
		char junk[64];

		if (child_gone(pid)) {
			c->wall = now() - t0;
			break;
		}
		t = now();
		if (!killed && term_at == 0 && (stop_sig != 0 ||
		    t >= deadline)) {
			c->timed_out = stop_sig == 0;
			find_descendants(pid, &desc);
			kill(-pid, SIGTERM);
			signal_procs(&desc, SIGTERM);
			term_at = t;
		}
		if (!killed && term_at != 0 && t >= term_at + KILL_GRACE) {
			find_descendants(pid, &desc);
			kill(-pid, SIGKILL);
			signal_procs(&desc, SIGKILL);
			killed = true;
		}
		until = term_at != 0 ? term_at + KILL_GRACE : deadline;
		ms = killed ? 100 : (int)((until - t) * 1000) + 1;
		if (ms > 1000)
			ms = 1000;
		if (ms < 1)
			ms = 1;
		p[np].fd = wake_fd[0];
		p[np++].events = POLLIN;
		if (out[0] >= 0) {
			p[np].fd = out[0];
			p[np++].events = POLLIN;
		}
		if (err[0] >= 0) {
			p[np].fd = err[0];
			p[np++].events = POLLIN;
		}
		if (in[1] >= 0) {
			p[np].fd = in[1];
			p[np++].events = POLLOUT;
		}
		if (poll(p, np, ms) < 0 && errno != EINTR) {
			snprintf(c->why, sizeof(c->why), "poll: %s",
			    strerror(errno));
			kill(-pid, SIGKILL);
			killed = true;
		}
		while (read(wake_fd[0], junk, sizeof(junk)) > 0)
			;
		drain(&out[0], &c->out);
		drain(&err[0], &c->err);
		while (in[1] >= 0 && sent < inlen) {
			ssize_t w = write(in[1], input + sent, inlen - sent);

			if (w > 0) {
				sent += (size_t)w;
			} else if (w < 0 && errno == EINTR) {
				continue;
			} else {
				if (w < 0 && errno != EAGAIN &&
				    errno != EWOULDBLOCK)
					close_fd(&in[1]);	/* EPIPE */
				break;
			}
		}
		if (in[1] >= 0 && sent == inlen)
			close_fd(&in[1]);
	}
	/* the child is gone: what it wrote is in the pipes */
	drain(&out[0], &c->out);
	drain(&err[0], &c->err);
	/* what it left in its group (the group id is still its own), and,
	 * after a TERM, the descendants it had then */
	kill(-pid, SIGKILL);
	signal_procs(&desc, SIGKILL);
	while (waitpid(pid, &c->status, 0) < 0 && errno == EINTR)
		;
	c->exited = true;
	rc = 0;
out:
	close_fd(&in[0]);
	close_fd(&in[1]);
	close_fd(&out[0]);
	close_fd(&out[1]);
	close_fd(&err[0]);
	close_fd(&err[1]);
	free(desc.v);
	return rc;
}

/* The last line of the child's stderr: where parrun says why it stopped. */
static void
last_error(const struct child *c, char *dst, size_t len)
{
	const char *s = c->err.data != NULL ? c->err.data : "";
	size_t end = strlen(s), start;

	while (end > 0 && s[end - 1] == '\n')
		end--;
	start = end;
	while (start > 0 && s[start - 1] != '\n')
		start--;
	snprintf(dst, len, "%.*s", (int)(end - start), s + start);
}

/*
 * Run one child and parse its records: *recs gets a cJSON array of the
 * record objects (caller deletes), *reduced the number printed after them
 * (NAN if none).  On failure the row says why and -1 is returned.
 */
static int
measure(struct bench *b, struct row *r, struct argv *a, const char *input,
    size_t inlen, cJSON **recs, double *reduced, double *wall)
{
	struct child c;
	char msg[160];
	const char *line;
	int rc = -1;

	*recs = NULL;
	*reduced = NAN;
	child_init(&c);
	if (run_child(&b->o, a, input, inlen, &c) < 0) {
		row_fail(b, r, "%s", c.why);
		goto out;
	}
	if (b->o.verbose && c.err.len > 0)
		fwrite(c.err.data, 1, c.err.len, stderr);
	last_error(&c, msg, sizeof(msg));
	if (c.timed_out) {
		row_fail(b, r, "timed out after %g s (--timeout)",
		    b->o.timeout);
		goto out;
	}
	if (stop_sig != 0) {
		row_fail(b, r, "interrupted");
		goto out;
	}
	if (WIFSIGNALED(c.status)) {
		row_fail(b, r, "parrun killed by signal %d%s%s",
		    WTERMSIG(c.status), msg[0] ? ": " : "", msg);
		goto out;
	}
	*wall = c.wall;
	*recs = cJSON_CreateArray();
	if (*recs == NULL)
		goto out;
	line = c.out.data != NULL ? c.out.data : "";
	while (*line != '\0') {
		size_t len = strcspn(line, "\n");
		cJSON *j = cJSON_ParseWithLength(line, len);

		if (cJSON_IsObject(j)) {
			const cJSON *st = cJSON_GetObjectItemCaseSensitive(j,
			    "status");
			const cJSON *er = cJSON_GetObjectItemCaseSensitive(j,
			    "error");
			const cJSON *id = cJSON_GetObjectItemCaseSensitive(j,
			    "id");

			if (!cJSON_IsString(st) ||
			    strcmp(st->valuestring, "ok") != 0)
				row_fail(b, r, "task '%s': %s%s%s",
				    cJSON_IsString(id) ? id->valuestring : "?",
				    cJSON_IsString(st) ? st->valuestring :
				    "no status", cJSON_IsString(er) ? ": " : "",
				    cJSON_IsString(er) ? er->valuestring : "");
			cJSON_AddItemToArray(*recs, j);
		} else {
			if (cJSON_IsNumber(j))
				*reduced = j->valuedouble;
			cJSON_Delete(j);
		}
		line += len;
		if (*line == '\n')
			line++;
	}
	/* after the records, which tell better which task failed and why */
	if (WEXITSTATUS(c.status) != 0)
		row_fail(b, r, "parrun exit status %d%s%s",
		    WEXITSTATUS(c.status), msg[0] ? ": " : "", msg);
	rc = r->ok || !r->ran ? 0 : -1;
out:
	child_release(&c);
	return rc;
}

static double
num(const cJSON *obj, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);

	return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static double
metric(const cJSON *rec, const char *name)
{
	return num(cJSON_GetObjectItemCaseSensitive(rec, "metrics"), name);
}

static const char *
rec_id(const cJSON *rec)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(rec, "id");

	return cJSON_IsString(v) ? v->valuestring : "";
}

static void
row_ok(struct row *r)
{
	if (!r->ran) {
		r->ran = true;
		r->ok = true;
	}
}

/* Task lines {"id":"<prefix><i>","kernel":K,"n":N}, i = 1..count. */
static void
tasks(struct pr_buf *in, const char *prefix, const char *kernel, long n,
    int count)
{
	pr_buf_reset(in);
	for (int i = 1; i <= count; i++)
		pr_buf_addf(in, "{\"id\":\"%s%d\",\"kernel\":\"%s\",\"n\":%ld}"
		    "\n", prefix, i, kernel, n);
}

static int
reps(const struct bopts *o, int dflt)
{
	return o->repeat > 0 ? o->repeat : dflt;
}

/* Thread or worker counts 1..cpus: all of them up to 8, else powers of
 * two and cpus. */
static size_t
counts(int cpus, int *v)
{
	size_t n = 0;

	if (cpus <= 8) {
		for (int t = 1; t <= cpus; t++)
			v[n++] = t;
		return n;
	}
	for (int t = 1; t < cpus && n < MAXCONF - 1; t *= 2)
		v[n++] = t;
	v[n++] = cpus;
	return n;
}

/* ---- the experiments ---------------------------------------------------- */

/* chol: one task, BLAS threads 1..CPUs; best kernel time of the reps. */
static void
exp_chol(struct bench *b)
{
	const struct bopts *o = &b->o;
	int tv[MAXCONF], nrep = reps(o, 1);
	size_t nt = counts(o->cpus, tv);
	struct pr_buf in;

	pr_buf_init(&in, 0);
	tasks(&in, "chol", "chol", o->chol_n, nrep);
	for (size_t i = 0; i < nt && stop_sig == 0; i++) {
		struct row *r = &b->chol[b->nchol++];
		struct argv a;
		cJSON *recs, *rec;
		double red, wall = NAN;

		r->n = o->chol_n;
		r->workers = 1;
		r->threads = tv[i];
		r->seconds = INFINITY;
		progress(o, "parrun bench: chol n=%ld, %d thread%s ... ",
		    o->chol_n, tv[i], tv[i] == 1 ? "" : "s");
		arg_start(&a, o, 1, tv[i]);
		arg_add(&a, "--batch-size");
		arg_add(&a, "1");
		if (measure(b, r, &a, in.data, in.len, &recs, &red,
		    &wall) == 0) {
			cJSON_ArrayForEach(rec, recs) {
				double s = metric(rec, "seconds");

				if (s < r->seconds) {
					r->seconds = s;
					r->gflops = metric(rec, "gflops");
				}
				if (strcmp(rec_id(rec), "chol1") == 0)
					r->value = num(rec, "value");
			}
			r->wall = wall;
			if (isfinite(r->seconds))
				row_ok(r);
			else
				row_fail(b, r, "no 'seconds' metric");
		}
		cJSON_Delete(recs);
		progress(o, "%s\n", r->ok ? "done" : r->err);
	}
	for (size_t i = 0; i < b->nchol; i++)
		if (b->chol[i].ok && b->chol[0].ok)
			b->chol[i].speedup = b->chol[0].seconds /
			    b->chol[i].seconds;
	pr_buf_release(&in);
}

/* pmap: 12 x chol(n) on W x T, every split with W * T = CPUs, after the
 * 1 x 1 baseline. */
static void
exp_pmap(struct bench *b)
{
	struct bopts *o = &b->o;
	int wv[MAXCONF], tv[MAXCONF];
	size_t nc = 0;
	struct pr_buf in;

	wv[nc] = 1;
	tv[nc++] = 1;
	for (int w = 1; w <= o->cpus && nc < MAXCONF; w++)
		if (o->cpus % w == 0 && o->cpus > 1) {
			wv[nc] = w;
			tv[nc++] = o->cpus / w;
		}
	pr_buf_init(&in, 0);
	tasks(&in, "p", "chol", o->pmap_n, o->pmap_tasks);
	b->pmap_same = true;
	b->fastest = -1;
	for (size_t i = 0; i < nc && stop_sig == 0; i++) {
		struct row *r = &b->pmap[b->npmap++];
		struct argv a;
		cJSON *recs, *rec;
		double red, wall = NAN;
		int seen = 0;

		r->n = o->pmap_n;
		r->workers = wv[i];
		r->threads = tv[i];
		progress(o, "parrun bench: %d x chol(%ld) on %d worker%s x "
		    "%d thread%s ... ", o->pmap_tasks, o->pmap_n, wv[i],
		    wv[i] == 1 ? "" : "s", tv[i], tv[i] == 1 ? "" : "s");
		arg_start(&a, o, wv[i], tv[i]);
		arg_add(&a, "--batch-size");
		arg_add(&a, "1");
		if (measure(b, r, &a, in.data, in.len, &recs, &red,
		    &wall) == 0) {
			cJSON_ArrayForEach(rec, recs) {
				const char *id = rec_id(rec);
				long k = id[0] == 'p' ? strtol(id + 1, NULL,
				    10) : 0;
				double v = num(rec, "value");
				double *ref;

				if (k < 1 || k > o->pmap_tasks)
					continue;
				seen++;
				ref = &b->pmap_values[k - 1];
				if (!b->pmap_have_values) {
					*ref = v;
				} else if (v != *ref) {
					double d = fabs(v - *ref) /
					    fmax(fabs(*ref), 1e-300);

					b->pmap_maxrel = fmax(b->pmap_maxrel,
					    d);
					if (!(d <= 1e-9))
						b->pmap_same = false;
				}
			}
			if (seen == o->pmap_tasks) {
				b->pmap_have_values = true;
				r->wall = wall;
				r->value = b->pmap_values[0];
				row_ok(r);
			} else {
				row_fail(b, r, "%d of %d records", seen,
				    o->pmap_tasks);
			}
		}
		cJSON_Delete(recs);
		progress(o, "%s\n", r->ok ? "done" : r->err);
	}
	for (size_t i = 0; i < b->npmap; i++) {
		struct row *r = &b->pmap[i];

		if (!r->ok)
			continue;
		if (b->pmap[0].ok)
			r->speedup = b->pmap[0].wall / r->wall;
		if (b->fastest < 0 || r->wall < b->pmap[b->fastest].wall)
			b->fastest = (int)i;
	}
	if (b->pmap_have_values && !b->pmap_same) {
		b->failures++;
		progress(o, "parrun bench: chol values differ between splits "
		    "(relative %.3g)\n", b->pmap_maxrel);
	}
	pr_buf_release(&in);
}

/* randsum: --range 1:N --kernel randsum --reduce sum on W = 1..CPUs
 * workers; best wall time of the reps. */
static void
exp_randsum(struct bench *b)
{
	const struct bopts *o = &b->o;
	int wv[MAXCONF], nrep = reps(o, 3);
	size_t nw = counts(o->cpus, wv);
	double *per = calloc((size_t)o->cpus + 1, sizeof(*per));

	if (per == NULL)
		return;
	b->rs_same = b->rs_bits = true;
	for (size_t i = 0; i < nw && stop_sig == 0; i++) {
		struct row *r = &b->rs[b->nrs++];

		r->n = o->randsum_n;
		r->workers = wv[i];
		r->threads = 1;
		r->wall = INFINITY;
		progress(o, "parrun bench: randsum %ld on %d worker%s ... ",
		    o->randsum_n, wv[i], wv[i] == 1 ? "" : "s");
		for (int k = 0; k < nrep && stop_sig == 0; k++) {
			struct argv a;
			cJSON *recs, *rec;
			double red, wall = NAN, ks = 0, busy = 0;

			arg_start(&a, o, wv[i], 1);
			arg_add(&a, "--range");
			arg_add(&a, "1:%ld", o->randsum_n);
			arg_add(&a, "--kernel");
			arg_add(&a, "randsum");
			arg_add(&a, "--reduce");
			arg_add(&a, "sum");
			arg_add(&a, "--deterministic");
			if (measure(b, r, &a, NULL, 0, &recs, &red,
			    &wall) < 0) {
				cJSON_Delete(recs);
				break;
			}
			memset(per, 0, ((size_t)o->cpus + 1) * sizeof(*per));
			cJSON_ArrayForEach(rec, recs) {
				double sec = metric(rec, "seconds"), w;

				ks += sec;
				w = num(rec, "worker");
				if (w >= 1 && w <= o->cpus)
					per[(int)w] += sec;
			}
			cJSON_Delete(recs);
			for (int w = 1; w <= o->cpus; w++)
				busy = fmax(busy, per[w]);
			if (isnan(red)) {
				row_fail(b, r, "no reduced value");
				break;
			}
			if (wall < r->wall) {
				r->wall = wall;
				r->ksec = ks;
			}
			if (k == 0 || busy < r->busiest)
				r->busiest = busy;
			r->value = red;
			row_ok(r);
		}
		if (r->ok && b->rs[0].ok && r->value != b->rs[0].value) {
			b->rs_bits = false;
			if (!(fabs(r->value - b->rs[0].value) <=
			    1e-12 * fabs(b->rs[0].value)))
				b->rs_same = false;
		}
		progress(o, "%s\n", r->ok ? "done" : r->err);
	}
	for (size_t i = 0; i < b->nrs; i++)
		if (b->rs[i].ok && b->rs[0].ok) {
			b->rs[i].speedup = b->rs[0].wall / b->rs[i].wall;
			b->rs[i].cspeedup = b->rs[0].busiest /
			    b->rs[i].busiest;
		}
	free(per);
	if (!b->rs_same) {
		b->failures++;
		progress(o, "parrun bench: randsum sums differ between "
		    "worker counts\n");
	}
}

static int
dcmp(const void *x, const void *y)
{
	double a = *(const double *)x, c = *(const double *)y;

	return (a > c) - (a < c);
}

/*
 * glibc qsort on the numbers the sort kernel gets for task id: the same
 * stream (seed, FNV-1a of the id), so the medians must agree.  Returns the
 * seconds of the qsort alone, or NAN when memory is short.
 */
static double
time_qsort(uint64_t seed, const char *id, long n, double *median)
{
	double *x = malloc((size_t)n * sizeof(*x));
	struct pr_rng rng;
	double t0, t;

	if (x == NULL)
		return NAN;
	pr_rng_init(&rng, seed, pr_rng_key(id, strlen(id)));
	pr_rng_fill_double(&rng, x, (size_t)n);
	t0 = now();
	qsort(x, (size_t)n, sizeof(*x), dcmp);
	t = now() - t0;
	for (long i = 1; i < n; i++)
		if (x[i - 1] > x[i]) {
			t = NAN;
			break;
		}
	*median = x[(n - 1) / 2];
	free(x);
	return t;
}

/* sort: each size with glibc qsort here, then the kernel with 1..CPUs
 * threads; best of the reps. */
static void
exp_sort(struct bench *b)
{
	const struct bopts *o = &b->o;
	int tv[MAXCONF], nrep = reps(o, 3);
	size_t nt = counts(o->cpus, tv);
	struct pr_buf in;

	pr_buf_init(&in, 0);
	for (int s = 0; s < 2 && stop_sig == 0; s++) {
		long n = o->sort_n[s];
		struct row *q = &b->sort[b->nsort++];
		char prefix[32], id[48];
		double qmed = NAN;

		snprintf(prefix, sizeof(prefix), "sort%ld-", n);
		q->n = n;
		q->qsort = true;
		q->workers = q->threads = 1;
		q->seconds = INFINITY;
		progress(o, "parrun bench: glibc qsort of %ld doubles ... ", n);
		for (int k = 1; k <= nrep && stop_sig == 0; k++) {
			double med = NAN, t;

			snprintf(id, sizeof(id), "%s%d", prefix, k);
			t = time_qsort(o->seed, id, n, &med);
			if (isnan(t)) {
				row_fail(b, q, "qsort of %ld doubles failed",
				    n);
				break;
			}
			if (k == 1)
				qmed = med;
			q->seconds = fmin(q->seconds, t);
			q->value = qmed;
			row_ok(q);
		}
		progress(o, "%s\n", q->ok ? "done" : q->err);
		tasks(&in, prefix, "sort", n, nrep);
		for (size_t i = 0; i < nt && stop_sig == 0; i++) {
			struct row *r = &b->sort[b->nsort++];
			struct argv a;
			cJSON *recs, *rec;
			double red, wall = NAN;

			r->n = n;
			r->workers = 1;
			r->threads = tv[i];
			r->seconds = INFINITY;
			progress(o, "parrun bench: sort %ld, %d thread%s ... ",
			    n, tv[i], tv[i] == 1 ? "" : "s");
			arg_start(&a, o, 1, tv[i]);
			arg_add(&a, "--batch-size");
			arg_add(&a, "1");
			snprintf(id, sizeof(id), "%s1", prefix);
			if (measure(b, r, &a, in.data, in.len, &recs, &red,
			    &wall) == 0) {
				cJSON_ArrayForEach(rec, recs) {
					double t = metric(rec, "seconds");

					r->seconds = fmin(r->seconds, t);
					if (strcmp(rec_id(rec), id) == 0)
						r->value = num(rec, "value");
				}
				r->wall = wall;
				if (!isfinite(r->seconds))
					row_fail(b, r, "no 'seconds' metric");
				else if (q->ok && r->value != qmed)
					row_fail(b, r, "median %.17g, qsort's "
					    "%.17g", r->value, qmed);
				else
					row_ok(r);
			}
			cJSON_Delete(recs);
			progress(o, "%s\n", r->ok ? "done" : r->err);
		}
	}
	/* speed-ups: over the kernel on 1 thread and over qsort, per size */
	for (size_t i = 0; i < b->nsort; i++) {
		struct row *r = &b->sort[i], *q = NULL, *one = NULL;

		for (size_t k = 0; k < b->nsort; k++) {
			struct row *x = &b->sort[k];

			if (x->n != r->n || !x->ok)
				continue;
			if (x->qsort)
				q = x;
			else if (x->threads == 1)
				one = x;
		}
		if (!r->ok || r->qsort)
			continue;
		if (one != NULL)
			r->speedup = one->seconds / r->seconds;
		if (q != NULL)
			r->vs_qsort = q->seconds / r->seconds;
	}
	pr_buf_release(&in);
}

/* ---- output: table ------------------------------------------------------ */

static size_t
rs_ok(const struct bench *b)
{
	size_t n = 0;

	for (size_t i = 0; i < b->nrs; i++)
		n += b->rs[i].ok;
	return n;
}

static const char *
plural(int n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

static void
print_table(const struct bench *b, FILE *f)
{
	const struct bopts *o = &b->o;

	fprintf(f, "parrun bench %s: %d CPU%s (limited by %s), seed %llu, "
	    "%s sizes\n", PR_VERSION, o->cpus, o->cpus == 1 ? "" : "s",
	    o->cpus_by, (unsigned long long)o->seed,
	    o->quick ? "quick" : "full");
	if (b->nchol > 0) {
		fprintf(f, "\nchol: Cholesky of X'X, n=%ld, one task, 1..%d "
		    "BLAS threads (chol_xtx)\n", o->chol_n, o->cpus);
		fprintf(f, "  %7s %9s %9s %9s %9s\n", "threads", "seconds",
		    "GFLOP/s", "speed-up", "wall s");
		for (size_t i = 0; i < b->nchol; i++) {
			const struct row *r = &b->chol[i];

			if (!r->ok) {
				fprintf(f, "  %7d   failed: %s\n", r->threads,
				    r->err);
				continue;
			}
			fprintf(f, "  %7d %9.3f %9.2f %8.2fx %9.2f\n",
			    r->threads, r->seconds, r->gflops, r->speedup,
			    r->wall);
		}
	}
	if (b->npmap > 0) {
		fprintf(f, "\npmap: %d x chol(%ld) on W workers x T threads "
		    "(pmap(test, ...))\n", o->pmap_tasks, o->pmap_n);
		fprintf(f, "  %7s %7s %9s %9s\n", "workers", "threads",
		    "wall s", "speed-up");
		for (size_t i = 0; i < b->npmap; i++) {
			const struct row *r = &b->pmap[i];

			if (!r->ok) {
				fprintf(f, "  %7d %7d   failed: %s\n",
				    r->workers, r->threads, r->err);
				continue;
			}
			fprintf(f, "  %7d %7d %9.2f %8.2fx%s\n", r->workers,
			    r->threads, r->wall, r->speedup,
			    i == 0 ? "  (baseline)" :
			    (int)i == b->fastest ? "  <- fastest" : "");
		}
		if (b->pmap_have_values)
			fprintf(f, "  values: %s for every split (task 1: "
			    "%.15g)\n", !b->pmap_same ? "DIFFERENT" :
			    b->pmap_maxrel == 0 ? "identical" :
			    "the same to 1e-9", b->pmap_values[0]);
	}
	if (b->nrs > 0) {
		fprintf(f, "\nrandsum: %ld uniforms, --range 1:%ld --reduce "
		    "sum (@distributed (+))\n", o->randsum_n, o->randsum_n);
		fprintf(f, "  %7s %9s %9s %9s %9s %9s  %s\n", "workers",
		    "wall s", "speed-up", "kernel s", "busiest", "speed-up",
		    "sum");
		for (size_t i = 0; i < b->nrs; i++) {
			const struct row *r = &b->rs[i];

			if (!r->ok) {
				fprintf(f, "  %7d   failed: %s\n", r->workers,
				    r->err);
				continue;
			}
			fprintf(f, "  %7d %9.3f %8.2fx %9.3f %9.3f %8.2fx  "
			    "%.17g\n", r->workers, r->wall, r->speedup,
			    r->ksec, r->busiest, r->cspeedup, r->value);
		}
		fprintf(f, "  wall: the whole run, workers started; kernel: "
		    "the chunks' own time, in all\n  and on the busiest "
		    "worker\n");
		if (rs_ok(b) > 1)
			fprintf(f, "  sums: %s for every worker count\n",
			    b->rs_bits ? "bit-identical" : b->rs_same ?
			    "the same to 1e-12" : "DIFFERENT");
	}
	if (b->nsort > 0) {
		fprintf(f, "\nsort: n doubles, the sort kernel on T threads "
		    "vs glibc qsort (psort!)\n");
		fprintf(f, "  %9s %7s %9s %9s %9s\n", "n", "threads",
		    "seconds", "speed-up", "vs qsort");
		for (size_t i = 0; i < b->nsort; i++) {
			const struct row *r = &b->sort[i];

			if (!r->ok) {
				fprintf(f, "  %9ld %7s   failed: %s\n", r->n,
				    r->qsort ? "qsort" : "", r->err);
				continue;
			}
			if (r->qsort)
				fprintf(f, "  %9ld %7s %9.4f %9s %9s\n", r->n,
				    "qsort", r->seconds, "", "1.0x");
			else
				fprintf(f, "  %9ld %7d %9.4f %8.2fx %8.1fx\n",
				    r->n, r->threads, r->seconds, r->speedup,
				    r->vs_qsort);
		}
	}
	if (b->fastest >= 0) {
		const struct row *r = &b->pmap[b->fastest];

		fprintf(f, "\nfastest split of %d CPU%s on this machine: "
		    "%d worker%s x %d thread%s (%.2f s for %d x chol(%ld), "
		    "%.2fx over 1 x 1)\n", o->cpus, o->cpus == 1 ? "" : "s",
		    r->workers, plural(r->workers, "", "s"), r->threads,
		    plural(r->threads, "", "s"), r->wall, o->pmap_tasks,
		    o->pmap_n, r->speedup);
	}
	if (b->failures > 0)
		fprintf(f, "\n%d measurement%s or check%s failed\n",
		    b->failures, b->failures == 1 ? "" : "s",
		    b->failures == 1 ? "" : "s");
}

/* ---- output: JSON ------------------------------------------------------- */

/*
 * A number that reads back as the same double.  cJSON prints 15 digits
 * and accepts them when they come back within an epsilon, which loses
 * the last bits of sums and seeds; buf.c writes the shortest exact text.
 * Not finite: null.
 */
static cJSON *
jexact(double v)
{
	struct pr_buf t;
	cJSON *j = NULL;

	pr_buf_init(&t, 0);
	if (pr_buf_add_double(&t, v) == 0)
		j = cJSON_CreateRaw(t.data);
	pr_buf_release(&t);
	return j;
}

static void
jnum(cJSON *o, const char *name, double v)
{
	cJSON_AddItemToObject(o, name, jexact(v));
}

static cJSON *
jrow(const struct row *r, bool kernel_time, bool wall)
{
	cJSON *o = cJSON_CreateObject();

	if (o == NULL)
		return NULL;
	cJSON_AddBoolToObject(o, "ok", r->ok);
	if (!r->ok) {
		cJSON_AddStringToObject(o, "error", r->err);
		return o;
	}
	if (kernel_time)
		jnum(o, "seconds", r->seconds);
	if (wall)
		jnum(o, "wall", r->wall);
	jnum(o, "speedup", r->speedup);
	return o;
}

static char *
to_json(const struct bench *b)
{
	const struct bopts *o = &b->o;
	cJSON *root = cJSON_CreateObject(), *e, *runs, *x;
	char host[256] = "";
	char *s;

	if (root == NULL)
		return NULL;
	gethostname(host, sizeof(host) - 1);
	cJSON_AddStringToObject(root, "version", PR_VERSION);
	cJSON_AddStringToObject(root, "host", host);
	cJSON_AddNumberToObject(root, "cpus", o->cpus);
	cJSON_AddStringToObject(root, "cpus_limited_by", o->cpus_by);
	jnum(root, "seed", (double)o->seed);
	cJSON_AddBoolToObject(root, "quick", o->quick);
	if (b->nchol > 0) {
		e = cJSON_AddObjectToObject(root, "chol");
		cJSON_AddNumberToObject(e, "n", (double)o->chol_n);
		runs = cJSON_AddArrayToObject(e, "runs");
		for (size_t i = 0; i < b->nchol; i++) {
			const struct row *r = &b->chol[i];

			x = jrow(r, true, true);
			cJSON_AddNumberToObject(x, "threads", r->threads);
			if (r->ok) {
				jnum(x, "gflops", r->gflops);
				jnum(x, "value", r->value);
			}
			cJSON_AddItemToArray(runs, x);
		}
	}
	if (b->npmap > 0) {
		e = cJSON_AddObjectToObject(root, "pmap");
		cJSON_AddNumberToObject(e, "n", (double)o->pmap_n);
		cJSON_AddNumberToObject(e, "tasks", o->pmap_tasks);
		runs = cJSON_AddArrayToObject(e, "runs");
		for (size_t i = 0; i < b->npmap; i++) {
			const struct row *r = &b->pmap[i];

			x = jrow(r, false, true);
			cJSON_AddNumberToObject(x, "workers", r->workers);
			cJSON_AddNumberToObject(x, "threads", r->threads);
			cJSON_AddBoolToObject(x, "baseline", i == 0);
			cJSON_AddItemToArray(runs, x);
		}
		if (b->pmap_have_values) {
			x = cJSON_AddArrayToObject(e, "values");
			for (int i = 0; i < o->pmap_tasks; i++)
				cJSON_AddItemToArray(x,
				    jexact(b->pmap_values[i]));
			cJSON_AddBoolToObject(e, "values_identical",
			    b->pmap_same && b->pmap_maxrel == 0);
			jnum(e, "values_max_relative_difference",
			    b->pmap_maxrel);
		}
	}
	if (b->nrs > 0) {
		e = cJSON_AddObjectToObject(root, "randsum");
		cJSON_AddNumberToObject(e, "n", (double)o->randsum_n);
		runs = cJSON_AddArrayToObject(e, "runs");
		for (size_t i = 0; i < b->nrs; i++) {
			const struct row *r = &b->rs[i];

			x = jrow(r, false, true);
			cJSON_AddNumberToObject(x, "workers", r->workers);
			if (r->ok) {
				jnum(x, "kernel_seconds", r->ksec);
				jnum(x, "busiest_worker_seconds", r->busiest);
				jnum(x, "compute_speedup", r->cspeedup);
				jnum(x, "sum", r->value);
			}
			cJSON_AddItemToArray(runs, x);
		}
		if (rs_ok(b) > 0)
			cJSON_AddBoolToObject(e, "sums_identical",
			    b->rs_bits);
	}
	if (b->nsort > 0) {
		e = cJSON_AddObjectToObject(root, "sort");
		x = cJSON_AddArrayToObject(e, "sizes");
		for (int i = 0; i < 2; i++)
			cJSON_AddItemToArray(x, cJSON_CreateNumber(
			    (double)o->sort_n[i]));
		runs = cJSON_AddArrayToObject(e, "runs");
		for (size_t i = 0; i < b->nsort; i++) {
			const struct row *r = &b->sort[i];

			x = jrow(r, true, false);
			cJSON_AddNumberToObject(x, "n", (double)r->n);
			if (r->qsort) {
				cJSON_AddStringToObject(x, "impl", "qsort");
				cJSON_DeleteItemFromObject(x, "speedup");
			} else {
				cJSON_AddStringToObject(x, "impl", "kernel");
				cJSON_AddNumberToObject(x, "threads",
				    r->threads);
				if (r->ok)
					jnum(x, "vs_qsort", r->vs_qsort);
			}
			if (r->ok)
				jnum(x, "median", r->value);
			cJSON_AddItemToArray(runs, x);
		}
	}
	if (b->fastest >= 0) {
		const struct row *r = &b->pmap[b->fastest];

		e = cJSON_AddObjectToObject(root, "fastest");
		cJSON_AddNumberToObject(e, "workers", r->workers);
		cJSON_AddNumberToObject(e, "threads", r->threads);
		jnum(e, "wall", r->wall);
		jnum(e, "speedup", r->speedup);
	} else {
		cJSON_AddNullToObject(root, "fastest");
	}
	if (o->svg != NULL)
		cJSON_AddStringToObject(root, "svg", o->svg);
	cJSON_AddNumberToObject(root, "failures", b->failures);
	cJSON_AddBoolToObject(root, "ok", b->failures == 0 && stop_sig == 0);
	s = cJSON_Print(root);
	cJSON_Delete(root);
	return s;
}

/* ---- output: SVG chart -------------------------------------------------- */

/* Colours by threads per task (Okabe-Ito, distinguishable by most
 * colour-blind readers). */
static const char *const palette[] = {
	"#0072B2", "#E69F00", "#009E73", "#CC79A7",
	"#56B4E9", "#D55E00", "#F0E442", "#000000",
};
#define NPALETTE (sizeof(palette) / sizeof(palette[0]))

/* the distinct thread counts drawn, in order: their colours */
struct legend {
	int threads[NPALETTE];
	size_t n;
};

static const char *
colour(struct legend *lg, int threads)
{
	size_t i;

	for (i = 0; i < lg->n; i++)
		if (lg->threads[i] == threads)
			return palette[i];
	if (lg->n < NPALETTE) {
		lg->threads[lg->n] = threads;
		return palette[lg->n++];
	}
	return "#777777";
}

struct bar {
	char label[24];		/* under the bar */
	char group[48];		/* under a run of bars; "" none */
	double v;		/* speed-up; <= 0 or NAN: failed */
	int threads;
	bool mark;		/* the fastest */
};

/* n as people write it on a chart: 250000, 5e7 */
static void
count_text(char *dst, size_t len, long n)
{
	int e = 0;
	long m = n;

	while (m >= 10 && m % 10 == 0) {
		m /= 10;
		e++;
	}
	if (e >= 6)
		snprintf(dst, len, "%lde%d", m, e);
	else
		snprintf(dst, len, "%ld", n);
}

static void
xml_text(struct pr_buf *s, const char *t)
{
	for (; *t != '\0'; t++) {
		switch (*t) {
		case '<':
			pr_buf_adds(s, "&lt;");
			break;
		case '>':
			pr_buf_adds(s, "&gt;");
			break;
		case '&':
			pr_buf_adds(s, "&amp;");
			break;
		case '"':
			pr_buf_adds(s, "&quot;");
			break;
		default:
			pr_buf_addc(s, *t);
		}
	}
}

static double
nice_step(double top)
{
	double raw = top / 5, mag = pow(10, floor(log10(raw)));

	if (raw <= mag)
		return mag;
	if (raw <= 2 * mag)
		return 2 * mag;
	if (raw <= 5 * mag)
		return 5 * mag;
	return 10 * mag;
}

/* One bar chart in the box (x, y, w, h). */
static void
svg_panel(struct pr_buf *s, struct legend *lg, double x, double y, double w,
    double h, const char *title, const char *base, const struct bar *bars,
    size_t n)
{
	double left = x + 56, right = x + w - 12, top = y + 48;
	double bottom = y + h - 46, ymax = 1, step, slot, bw, gap;
	size_t groups = 0;

	pr_buf_addf(s, "<text x=\"%.1f\" y=\"%.1f\" class=\"title\">", x + 8,
	    y + 20);
	xml_text(s, title);
	pr_buf_addf(s, "</text>\n<text x=\"%.1f\" y=\"%.1f\" class=\"sub\">",
	    x + 8, y + 36);
	xml_text(s, base);
	pr_buf_adds(s, "</text>\n");
	if (n == 0) {
		pr_buf_addf(s, "<text x=\"%.1f\" y=\"%.1f\" class=\"sub\" "
		    "text-anchor=\"middle\">not run</text>\n",
		    (left + right) / 2, (top + bottom) / 2);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if (isfinite(bars[i].v) && bars[i].v > ymax)
			ymax = bars[i].v;
		if (i == 0 || strcmp(bars[i].group, bars[i - 1].group) != 0)
			groups++;
	}
	step = nice_step(ymax * 1.15);
	ymax = ceil(ymax * 1.15 / step) * step;
	/* axes and grid */
	for (double t = 0; t <= ymax + step / 2; t += step) {
		double ty = bottom - (bottom - top) * t / ymax;

		pr_buf_addf(s, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
		    "y2=\"%.1f\" class=\"grid\"/>\n", left, ty, right, ty);
		pr_buf_addf(s, "<text x=\"%.1f\" y=\"%.1f\" class=\"tick\" "
		    "text-anchor=\"end\">%g</text>\n", left - 6, ty + 4, t);
	}
	pr_buf_addf(s, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
	    "class=\"axis\"/>\n", left, top - 4, left, bottom);
	pr_buf_addf(s, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
	    "class=\"axis\"/>\n", left, bottom, right, bottom);
	pr_buf_addf(s, "<text transform=\"translate(%.1f %.1f) rotate(-90)\" "
	    "class=\"tick\" text-anchor=\"middle\">speed-up (&#215;)</text>\n",
	    x + 16, (top + bottom) / 2);
	/* bars: groups separated by half a slot */
	slot = (right - left) / ((double)n + 0.5 * (double)(groups + 1));
	bw = slot * 0.7;
	gap = slot * 0.5;
	{
		double cx = left + gap, gstart = cx;

		for (size_t i = 0; i < n; i++) {
			const struct bar *bb = &bars[i];
			double bx = cx + (slot - bw) / 2;
			bool ok = isfinite(bb->v) && bb->v > 0;
			double bh = ok ? (bottom - top) * bb->v / ymax : 0;

			if (ok) {
				pr_buf_addf(s, "<rect x=\"%.1f\" y=\"%.1f\" "
				    "width=\"%.1f\" height=\"%.1f\" "
				    "fill=\"%s\"%s/>\n", bx, bottom - bh, bw,
				    bh, colour(lg, bb->threads), bb->mark ?
				    " stroke=\"#000\" stroke-width=\"2\"" : "");
				pr_buf_addf(s, "<text x=\"%.1f\" y=\"%.1f\" "
				    "class=\"val\" text-anchor=\"middle\">"
				    "%s%.2f&#215;</text>\n", bx + bw / 2,
				    bottom - bh - 5, bb->mark ? "&#9733; " :
				    "", bb->v);
			} else {
				pr_buf_addf(s, "<text x=\"%.1f\" y=\"%.1f\" "
				    "class=\"note\" text-anchor=\"middle\">"
				    "failed</text>\n", bx + bw / 2,
				    bottom - 6);
			}
			pr_buf_addf(s, "<text x=\"%.1f\" y=\"%.1f\" "
			    "class=\"tick\" text-anchor=\"middle\">",
			    bx + bw / 2, bottom + 15);
			xml_text(s, bb->label);
			pr_buf_adds(s, "</text>\n");
			cx += slot;
			if (i + 1 == n ||
			    strcmp(bars[i + 1].group, bb->group) != 0) {
				if (bb->group[0] != '\0') {
					pr_buf_addf(s, "<text x=\"%.1f\" "
					    "y=\"%.1f\" class=\"sub\" "
					    "text-anchor=\"middle\">",
					    (gstart + cx) / 2, bottom + 32);
					xml_text(s, bb->group);
					pr_buf_adds(s, "</text>\n");
				}
				cx += gap;
				gstart = cx;
			}
		}
	}
	/* 1x: the baseline */
	{
		double ty = bottom - (bottom - top) / ymax;

		pr_buf_addf(s, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
		    "y2=\"%.1f\" class=\"base\"/>\n", left, ty, right, ty);
	}
}

static int
write_svg(const struct bench *b, const char *path)
{
	const struct bopts *o = &b->o;
	struct legend lg = { { 0 }, 0 };
	struct bar bars[2 * (MAXCONF + 1)];
	struct pr_buf s;
	char host[256] = "", title[512], num_text[32];
	const double W = 1000, H = 720, PW = 490, PH = 300;
	size_t n;
	FILE *f;
	int rc = -1;

	gethostname(host, sizeof(host) - 1);
	pr_buf_init(&s, 0);
	pr_buf_addf(&s, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	    "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%g\" "
	    "height=\"%g\" viewBox=\"0 0 %g %g\" font-family=\"DejaVu Sans, "
	    "Helvetica, Arial, sans-serif\">\n<style>\n"
	    ".title { font-size: 15px; font-weight: bold; }\n"
	    ".head { font-size: 18px; font-weight: bold; }\n"
	    ".sub { font-size: 12px; fill: #444; }\n"
	    ".tick { font-size: 11px; fill: #333; }\n"
	    ".val { font-size: 11px; font-weight: bold; }\n"
	    ".note { font-size: 12px; fill: #a00; }\n"
	    ".grid { stroke: #ddd; stroke-width: 1; }\n"
	    ".axis { stroke: #333; stroke-width: 1.2; }\n"
	    ".base { stroke: #a00; stroke-width: 1.2; "
	    "stroke-dasharray: 6 4; }\n</style>\n"
	    "<rect width=\"100%%\" height=\"100%%\" fill=\"#fff\"/>\n",
	    W, H, W, H);
	snprintf(title, sizeof(title), "parrun bench on %s: %d CPU%s, seed "
	    "%llu, %s sizes (higher is faster)", host, o->cpus,
	    o->cpus == 1 ? "" : "s", (unsigned long long)o->seed,
	    o->quick ? "quick" : "full");
	pr_buf_adds(&s, "<text x=\"10\" y=\"26\" class=\"head\">");
	xml_text(&s, title);
	pr_buf_adds(&s, "</text>\n");

	/* chol */
	n = 0;
	for (size_t i = 0; i < b->nchol; i++, n++) {
		memset(&bars[n], 0, sizeof(bars[n]));
		snprintf(bars[n].label, sizeof(bars[n].label), "T=%d",
		    b->chol[i].threads);
		bars[n].v = b->chol[i].ok ? b->chol[i].speedup : NAN;
		bars[n].threads = b->chol[i].threads;
	}
	snprintf(title, sizeof(title), "chol n=%ld, one task, T BLAS threads",
	    o->chol_n);
	svg_panel(&s, &lg, 5, 40, PW, PH, title, "speed-up of the "
	    "factorization over 1 thread", bars, n);

	/* pmap */
	n = 0;
	for (size_t i = 0; i < b->npmap; i++, n++) {
		memset(&bars[n], 0, sizeof(bars[n]));
		snprintf(bars[n].label, sizeof(bars[n].label), "%dx%d",
		    b->pmap[i].workers, b->pmap[i].threads);
		bars[n].v = b->pmap[i].ok ? b->pmap[i].speedup : NAN;
		bars[n].threads = b->pmap[i].threads;
		bars[n].mark = (int)i == b->fastest;
	}
	snprintf(title, sizeof(title), "pmap: %d x chol(%ld), W workers x T "
	    "threads", o->pmap_tasks, o->pmap_n);
	svg_panel(&s, &lg, 505, 40, PW, PH, title, "speed-up of the run over "
	    "1x1; \xe2\x98\x85 fastest split", bars, n);

	/* randsum */
	n = 0;
	for (int k = 0; k < 2; k++)
		for (size_t i = 0; i < b->nrs; i++, n++) {
			const struct row *r = &b->rs[i];

			memset(&bars[n], 0, sizeof(bars[n]));
			snprintf(bars[n].label, sizeof(bars[n].label), "W=%d",
			    r->workers);
			snprintf(bars[n].group, sizeof(bars[n].group), "%s",
			    k == 0 ? "whole run" : "busiest worker");
			bars[n].v = !r->ok ? NAN : k == 0 ? r->speedup :
			    r->cspeedup;
			bars[n].threads = 1;
		}
	count_text(num_text, sizeof(num_text), o->randsum_n);
	snprintf(title, sizeof(title), "randsum %s uniforms, --range on W "
	    "workers", num_text);
	svg_panel(&s, &lg, 5, 360, PW, PH, title, "speed-up over 1 worker: "
	    "wall time, and kernel time of the busiest worker", bars, n);

	/* sort */
	n = 0;
	for (size_t i = 0; i < b->nsort; i++) {
		const struct row *r = &b->sort[i];

		if (r->qsort)
			continue;
		memset(&bars[n], 0, sizeof(bars[n]));
		snprintf(bars[n].label, sizeof(bars[n].label), "T=%d",
		    r->threads);
		count_text(num_text, sizeof(num_text), r->n);
		snprintf(bars[n].group, sizeof(bars[n].group), "n=%s",
		    num_text);
		bars[n].v = r->ok ? r->vs_qsort : NAN;
		bars[n].threads = r->threads;
		n++;
	}
	svg_panel(&s, &lg, 505, 360, PW, PH, "sort: radix sort kernel on T "
	    "threads", "speed-up of the sort over glibc qsort", bars, n);

	/* legend: colours are threads per task; the dashed line is 1x */
	{
		double lx = 15, ly = H - 22;

		pr_buf_addf(&s, "<text x=\"%.1f\" y=\"%.1f\" class=\"sub\">"
		    "threads per task:</text>\n", lx, ly + 4);
		lx += 110;
		for (size_t i = 0; i < lg.n; i++) {
			pr_buf_addf(&s, "<rect x=\"%.1f\" y=\"%.1f\" "
			    "width=\"14\" height=\"14\" fill=\"%s\"/>\n", lx,
			    ly - 8, palette[i]);
			pr_buf_addf(&s, "<text x=\"%.1f\" y=\"%.1f\" "
			    "class=\"sub\">%d</text>\n", lx + 19, ly + 4,
			    lg.threads[i]);
			lx += 48;
		}
		lx += 20;
		pr_buf_addf(&s, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
		    "y2=\"%.1f\" class=\"base\"/>\n", lx, ly, lx + 30, ly);
		pr_buf_addf(&s, "<text x=\"%.1f\" y=\"%.1f\" class=\"sub\">"
		    "1&#215;: as fast as the baseline</text>\n", lx + 36,
		    ly + 4);
	}
	pr_buf_adds(&s, "</svg>\n");

	f = fopen(path, "w");
	if (f == NULL) {
		fprintf(stderr, "parrun bench: cannot write '%s': %s\n", path,
		    strerror(errno));
		goto out;
	}
	if (fwrite(s.data, 1, s.len, f) != s.len || fclose(f) != 0) {
		fprintf(stderr, "parrun bench: cannot write '%s': %s\n", path,
		    strerror(errno));
		goto out;
	}
	rc = 0;
out:
	pr_buf_release(&s);
	return rc;
}

/* ---- options ------------------------------------------------------------ */

static void
bench_usage(FILE *f)
{
	fputs("usage: parrun bench [--quick] [--json] [--svg FILE] "
	    "[--seed N] [--cpus N]\n"
	    "                    [--only LIST] [--repeat N] "
	    "[--timeout SECONDS] [--worker PATH]\n"
	    "                    [-q] [-v]\n", f);
}

static void
bench_help(void)
{
	bench_usage(stdout);
	fputs("\nRerun the lecture notes' experiments on this machine, "
	    "each through parrun\nitself, and print a table.\n\n"
	    "  chol     Cholesky of X'X, n=6000, BLAS threads 1..CPUs\n"
	    "  pmap     12 x chol(5000) on W workers x T threads, every "
	    "split of the CPUs\n"
	    "  randsum  sum of 5e7 uniforms over 1..CPUs workers "
	    "(--range, --reduce sum)\n"
	    "  sort     250000 and 1e7 doubles, 1..CPUs threads, vs "
	    "glibc qsort\n\nOptions:\n"
	    "      --quick          small sizes: chol 2000, 12 x "
	    "chol(1500), randsum 1e7,\n"
	    "                       sort 250000 and 1e6\n"
	    "      --json           print one JSON object instead of the "
	    "table\n"
	    "      --svg FILE       draw the speed-ups as an SVG chart in "
	    "FILE\n"
	    "      --seed N         seed of the random streams (default 1; "
	    "printed)\n"
	    "      --cpus N         CPUs to plan for (default: the CPUs "
	    "this process may use)\n"
	    "      --only LIST      run only these experiments, "
	    "comma-separated\n"
	    "      --repeat N       runs per measurement, best kept "
	    "(default: 1 for chol\n"
	    "                       and pmap, 3 for randsum and sort)\n"
	    "      --timeout SECONDS  kill a measurement that takes longer "
	    "(default 1800,\n"
	    "                       --quick 300)\n"
	    "      --worker PATH    the parrun-worker program\n"
	    "  -q, --quiet          no progress on stderr\n"
	    "  -v, --verbose        show each parrun command and its "
	    "stderr\n"
	    "  -h, --help           show this help and exit\n\n"
	    "Exit status: 0 all ran and checked; 1 a measurement or check "
	    "failed;\n255 bad usage; 128+N stopped by signal N.  See "
	    "parrun-bench(1).\n", stdout);
}

static int
bad(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int
bad(const char *fmt, ...)
{
	va_list ap;

	fputs("parrun bench: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	bench_usage(stderr);
	return EXIT_USAGE;
}

static int
parse_only(const char *s, unsigned *out)
{
	static const struct {
		const char *name;
		unsigned bit;
	} names[] = {
		{ "chol", EXP_CHOL }, { "pmap", EXP_PMAP },
		{ "randsum", EXP_RANDSUM }, { "sort", EXP_SORT },
	};
	unsigned m = 0;

	while (*s != '\0') {
		size_t len = strcspn(s, ","), i;

		for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			if (strlen(names[i].name) == len &&
			    strncmp(names[i].name, s, len) == 0)
				break;
		if (i == sizeof(names) / sizeof(names[0]))
			return -1;
		m |= names[i].bit;
		s += len;
		if (*s == ',')
			s++;
	}
	if (m == 0)
		return -1;
	*out = m;
	return 0;
}

static int
parse_num(const char *s, double lo, double hi, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !(v >= lo && v <= hi))
		return -1;
	*out = v;
	return 0;
}

enum {
	OPT_QUICK = 256, OPT_JSON, OPT_SVG, OPT_SEED, OPT_CPUS, OPT_ONLY,
	OPT_REPEAT, OPT_TIMEOUT, OPT_WORKER,
};

static int
parse_opts(struct bopts *o, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "quick", no_argument, NULL, OPT_QUICK },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "svg", required_argument, NULL, OPT_SVG },
		{ "seed", required_argument, NULL, OPT_SEED },
		{ "cpus", required_argument, NULL, OPT_CPUS },
		{ "only", required_argument, NULL, OPT_ONLY },
		{ "repeat", required_argument, NULL, OPT_REPEAT },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ "worker", required_argument, NULL, OPT_WORKER },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	double d;
	int c;
	bool timeout_given = false;

	o->seed = 1;
	o->only = EXP_ALL;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+qvh", lo, NULL)) != -1) {
		switch (c) {
		case OPT_QUICK:
			o->quick = true;
			break;
		case OPT_JSON:
			o->json = true;
			break;
		case OPT_SVG:
			o->svg = optarg;
			break;
		case OPT_SEED:
			if (parse_num(optarg, 0, 9007199254740991.0, &d) < 0 ||
			    d != floor(d))
				return bad("invalid --seed '%s' (0..2^53-1)",
				    optarg);
			o->seed = (uint64_t)d;
			break;
		case OPT_CPUS:
			if (parse_num(optarg, 1, 4096, &d) < 0 ||
			    d != floor(d))
				return bad("invalid --cpus '%s' (1..4096)",
				    optarg);
			o->cpus = (int)d;
			o->cpus_by = "--cpus";
			break;
		case OPT_ONLY:
			if (parse_only(optarg, &o->only) < 0)
				return bad("invalid --only '%s' (chol, pmap, "
				    "randsum, sort, comma-separated)",
				    optarg);
			break;
		case OPT_REPEAT:
			if (parse_num(optarg, 1, 100, &d) < 0 ||
			    d != floor(d))
				return bad("invalid --repeat '%s' (1..100)",
				    optarg);
			o->repeat = (int)d;
			break;
		case OPT_TIMEOUT:
			if (parse_num(optarg, 0.1, 1e6, &d) < 0)
				return bad("invalid --timeout '%s'", optarg);
			o->timeout = d;
			timeout_given = true;
			break;
		case OPT_WORKER:
			o->worker = optarg;
			break;
		case 'q':
			o->quiet = true;
			break;
		case 'v':
			o->verbose = true;
			break;
		case 'h':
			bench_help();
			return 0;
		default:
			if (optopt != 0 && optopt < 256)
				return bad("unknown or incomplete option "
				    "'-%c'", optopt);
			return bad("unknown or incomplete option '%s'",
			    argv[optind - 1]);
		}
	}
	if (optind < argc)
		return bad("unexpected argument '%s'", argv[optind]);
	if (!timeout_given)
		o->timeout = o->quick ? 300 : 1800;
	o->chol_n = o->quick ? 2000 : 6000;
	o->pmap_n = o->quick ? 1500 : 5000;
	o->pmap_tasks = 12;
	o->randsum_n = o->quick ? 10000000 : 50000000;
	o->sort_n[0] = 250000;
	o->sort_n[1] = o->quick ? 1000000 : 10000000;
	return -1;		/* go on */
}

/* ---- main --------------------------------------------------------------- */

int
pr_cmd_bench(int argc, char **argv)
{
	struct bench *b = calloc(1, sizeof(*b));
	struct sigaction sa, old_int, old_term, old_chld;
	int status = EXIT_USAGE, rc;
	char *json = NULL;

	if (b == NULL) {
		fputs("parrun bench: out of memory\n", stderr);
		return EXIT_USAGE;
	}
	if ((rc = parse_opts(&b->o, argc, argv)) >= 0) {
		free(b);
		return rc;
	}
	if (b->o.cpus == 0) {
		struct pr_cpus_detail d;

		b->o.cpus = pr_cpus_available(NULL, &d);
		b->o.cpus_by = d.limited_by != NULL ? d.limited_by : "default";
	}
	if (b->o.cpus > 4096)
		b->o.cpus = 4096;
	b->fastest = -1;

	signal(SIGPIPE, SIG_IGN);
	if (pipe(wake_fd) < 0 || set_flags(wake_fd[0], true) < 0 ||
	    set_flags(wake_fd[1], true) < 0) {
		fprintf(stderr, "parrun bench: cannot make a pipe: %s\n",
		    strerror(errno));
		goto out;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_NOCLDSTOP;	/* no SA_RESTART: poll wakes */
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	sigaction(SIGCHLD, &sa, &old_chld);

	progress(&b->o, "parrun bench: %d CPU%s, seed %llu, %s sizes\n",
	    b->o.cpus, b->o.cpus == 1 ? "" : "s",
	    (unsigned long long)b->o.seed, b->o.quick ? "quick" : "full");
	if (b->o.only & EXP_CHOL)
		exp_chol(b);
	if ((b->o.only & EXP_PMAP) && stop_sig == 0)
		exp_pmap(b);
	if ((b->o.only & EXP_RANDSUM) && stop_sig == 0)
		exp_randsum(b);
	if ((b->o.only & EXP_SORT) && stop_sig == 0)
		exp_sort(b);

	if (b->o.json) {
		json = to_json(b);
		if (json != NULL)
			printf("%s\n", json);
	} else {
		print_table(b, stdout);
	}
	fflush(stdout);
	status = b->failures > 0 ? 1 : 0;
	if (b->o.svg != NULL && write_svg(b, b->o.svg) < 0)
		status = EXIT_USAGE;
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	sigaction(SIGCHLD, &old_chld, NULL);
	if (stop_sig != 0) {
		/* die by the same signal, so a calling shell sees it */
		fflush(NULL);
		signal(stop_sig, SIG_DFL);
		raise(stop_sig);
		status = 128 + stop_sig;
	}
out:
	close_fd(&wake_fd[0]);
	close_fd(&wake_fd[1]);
	cJSON_free(json);
	free(b);
	return status;
}
