/* launch_srun.c - see launch_srun.h */
#include "launch_srun.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "transport_tcp.h"

#define LINE_MAX_OUT	65536		/* copy a longer line in pieces */
#define KILL_AFTER_MS	3000		/* SIGTERM -> SIGKILL */
#define CONF_NAME	"multi-prog.conf"

/* Slurm says this on every step when its task plugin cannot bind CPUs,
 * which --cpu-bind=none does not need: noise, not news. */
static const char benign_line[] =
    "srun: cluster configuration lacks support for cpu binding";

struct pr_srun {
	uv_loop_t *loop;
	uv_process_t proc;
	uv_pipe_t in;			/* srun's stdin: the secret */
	uv_pipe_t out;			/* srun's stdout and stderr */
	uv_timer_t timer;		/* stop: TERM, then KILL */
	uv_write_t wreq;
	int open_handles;
	bool proc_init, spawned, exited, closing, in_closed;
	int stage;			/* 0 none, 1 waiting, 2 TERM sent */
	bool quiet;			/* stopping: output to the debug log */
	struct pr_srun_cb cb;
	char dir[PATH_MAX];		/* private directory, or "" */
	char conf[PATH_MAX + 32];
	char secret_line[PR_SECRET_HEX + 2];
	struct pr_buf line;		/* partial line from srun */
	char rbuf[16384];
};

/* ---- the configuration --------------------------------------------------- */

/* One word in single quotes for Slurm's multi-prog parser, which keeps
 * everything between quotes and drops a backslash before any character
 * outside them. */
static int
add_word(struct pr_buf *b, const char *s, struct pr_errbuf *eb)
{
	int rc;

	if (strchr(s, '\n') != NULL || strchr(s, '\r') != NULL)
		return pr_err(eb, PR_ECONFIG, "a line break in '%s' cannot "
		    "go into srun's --multi-prog file", s);
	if ((rc = pr_buf_addc(b, ' ')) < 0 || (rc = pr_buf_addc(b, '\'')) < 0)
		return rc;
	for (; *s != '\0'; s++) {
		if (*s == '\'')
			rc = pr_buf_adds(b, "'\\''");
		else
			rc = pr_buf_addc(b, *s);
		if (rc < 0)
			return rc;
	}
	return pr_buf_addc(b, '\'');
}

int
pr_srun_conf(struct pr_buf *out, const struct pr_srun_opts *o,
    const struct pr_srun_rank *ranks, size_t n, struct pr_errbuf *eb)
{
	char num[32];
	int rc;

	rc = pr_buf_adds(out, "# parrun: one parrun-worker per node\n");
	for (size_t i = 0; i < n && rc == 0; i++) {
		if ((rc = pr_buf_addf(out, "%zu", i)) < 0 ||
		    (rc = add_word(out, o->worker, eb)) < 0 ||
		    (rc = add_word(out, "--connect", eb)) < 0 ||
		    (rc = add_word(out, ranks[i].connect, eb)) < 0 ||
		    (rc = add_word(out, "--slots", eb)) < 0)
			break;
		snprintf(num, sizeof(num), "%d", ranks[i].slots);
		if ((rc = add_word(out, num, eb)) < 0)
			break;
		if (o->max_frame > 0) {
			snprintf(num, sizeof(num), "%zu", o->max_frame);
			if ((rc = add_word(out, "--max-frame", eb)) < 0 ||
			    (rc = add_word(out, num, eb)) < 0)
				break;
		}
		rc = pr_buf_addc(out, '\n');
	}
	return rc;
}

static const char *const step_flags[] = {
	"--overlap",
	"--ntasks-per-node=1",
	"--distribution=block",
	"--kill-on-bad-exit=0",
	"--wait=0",
	"--cpu-bind=none",
	"--input=all",
	"--job-name=parrun-worker",
	NULL,
};

int
pr_srun_argv(const struct pr_srun_opts *o, size_t n, const char *conf,
    char ***argv, char **store)
{
	static char *const dflt[] = { (char *)"srun", NULL };
	char *const *pre = o->srun != NULL && o->srun[0] != NULL ? o->srun :
	    dflt;
	size_t npre = 0, nflags = 0, k = 0, size;
	char nodes[64], tasks[64];
	char **v;
	char *p;

	*argv = NULL;
	*store = NULL;
	while (pre[npre] != NULL)
		npre++;
	while (step_flags[nflags] != NULL)
		nflags++;
	snprintf(nodes, sizeof(nodes), "--nodes=%zu", n);
	snprintf(tasks, sizeof(tasks), "--ntasks=%zu", n);
	size = strlen(nodes) + strlen(tasks) + strlen(conf) + 3;
	v = calloc(npre + nflags + 5, sizeof(*v));
	p = malloc(size);
	if (v == NULL || p == NULL) {
		free(v);
		free(p);
		return -ENOMEM;
	}
	for (size_t i = 0; i < npre; i++)
		v[k++] = pre[i];
	for (size_t i = 0; i < nflags; i++)
		v[k++] = (char *)step_flags[i];
	/* the strings of our own: in one block */
	*store = p;
	v[k++] = p;
	p += snprintf(p, size, "%s", nodes) + 1;
	v[k++] = p;
	p += snprintf(p, size - (size_t)(p - *store), "%s", tasks) + 1;
	v[k++] = (char *)"--multi-prog";
	v[k++] = p;
	snprintf(p, size - (size_t)(p - *store), "%s", conf);
	v[k] = NULL;
	*argv = v;
	return 0;
}

/* Write the configuration into a new private directory. */
static int
write_conf(struct pr_srun *s, const struct pr_srun_opts *o,
    const struct pr_srun_rank *ranks, size_t n, struct pr_errbuf *eb)
{
	const char *parent = o->tmpdir;
	struct pr_buf b;
	size_t off = 0;
	int fd = -1, rc;

	if (parent == NULL || parent[0] == '\0')
		parent = getenv("TMPDIR");
	if (parent == NULL || parent[0] == '\0')
		parent = "/tmp";
	pr_buf_init(&b, 0);
	rc = pr_srun_conf(&b, o, ranks, n, eb);
	if (rc < 0)
		goto out;
	if (strlen(parent) + sizeof("/parrun-srun-XXXXXX/" CONF_NAME) >
	    sizeof(s->dir)) {
		s->dir[0] = '\0';
		rc = pr_err(eb, -ENAMETOOLONG, "temporary directory name too "
		    "long");
		goto out;
	}
	snprintf(s->dir, sizeof(s->dir), "%s/parrun-srun-XXXXXX", parent);
	if (mkdtemp(s->dir) == NULL) {
		rc = pr_err(eb, -errno, "cannot make a directory in '%s': %s",
		    parent, strerror(errno));
		s->dir[0] = '\0';
		goto out;
	}
	snprintf(s->conf, sizeof(s->conf), "%s/%s", s->dir, CONF_NAME);
	fd = open(s->conf, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	if (fd < 0) {
		rc = pr_err(eb, -errno, "cannot write '%s': %s", s->conf,
		    strerror(errno));
		goto out;
	}
	while (off < b.len) {
		ssize_t w = write(fd, b.data + off, b.len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			rc = pr_err(eb, -errno, "cannot write '%s': %s",
			    s->conf, strerror(errno));
			goto out;
		}
		off += (size_t)w;
	}
out:
	if (fd >= 0 && close(fd) < 0 && rc == 0)
		rc = pr_err(eb, -errno, "cannot write '%s': %s", s->conf,
		    strerror(errno));
	pr_buf_release(&b);
	return rc;
}

static void
remove_conf(struct pr_srun *s)
{
	if (s->dir[0] == '\0')
		return;
	unlink(s->conf);
	rmdir(s->dir);
	s->dir[0] = '\0';
}

/* ---- srun's output ------------------------------------------------------- */

static void
emit(const char *p, size_t n, bool quiet)
{
	if (n == sizeof(benign_line) - 1 && memcmp(p, benign_line, n) == 0) {
		pr_log_debug("%s", benign_line);
		return;
	}
	if (quiet) {
		if (n > 0 && p[n - 1] == '\n')
			n--;
		if (n > 0)
			pr_log_debug("srun, stopping: %.*s", (int)n, p);
		return;
	}
	while (n > 0) {
		ssize_t w = write(2, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

/* Copy the complete lines in s->line to stderr, keep the rest. */
static void
flush_lines(struct pr_srun *s, bool all)
{
	size_t start = 0;

	for (size_t i = 0; i < s->line.len; i++) {
		if (s->line.data[i] != '\n')
			continue;
		/* the benign line is compared without its LF */
		if (i - start == sizeof(benign_line) - 1 &&
		    memcmp(s->line.data + start, benign_line, i - start) == 0)
			emit(s->line.data + start, i - start, s->quiet);
		else
			emit(s->line.data + start, i - start + 1, s->quiet);
		start = i + 1;
	}
	if (all || s->line.len - start >= LINE_MAX_OUT) {
		emit(s->line.data + start, s->line.len - start, s->quiet);
		start = s->line.len;
	}
	pr_buf_consume(&s->line, start);
}

static void
on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct pr_srun *s = h->data;

	(void)hint;
	buf->base = s->rbuf;
	buf->len = sizeof(s->rbuf);
}

static void
on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
	struct pr_srun *s = st->data;

	if (n > 0) {
		if (pr_buf_add(&s->line, buf->base, (size_t)n) < 0) {
			flush_lines(s, true);
			emit(buf->base, (size_t)n, s->quiet);
			return;
		}
		flush_lines(s, false);
		return;
	}
	if (n == 0)
		return;
	flush_lines(s, true);
	uv_read_stop(st);
}

/* ---- the process --------------------------------------------------------- */

static void
on_closed(uv_handle_t *h)
{
	struct pr_srun *s = h->data;

	if (--s->open_handles > 0)
		return;
	flush_lines(s, true);
	pr_buf_release(&s->line);
	if (s->cb.closed != NULL)
		s->cb.closed(s->cb.arg);
	free(s);
}

static void
on_exit_cb(uv_process_t *p, int64_t status, int sig)
{
	struct pr_srun *s = p->data;

	s->exited = true;
	uv_timer_stop(&s->timer);
	if (s->cb.exited != NULL)
		s->cb.exited(s->cb.arg, (long)status, sig);
}

static void
on_in_closed(uv_handle_t *h)
{
	struct pr_srun *s = h->data;

	s->in_closed = true;
	on_closed(h);
}

static void
on_secret_written(uv_write_t *req, int status)
{
	struct pr_srun *s = req->data;

	(void)status;	/* srun gone: its exit says why */
	pr_secret_wipe(s->secret_line, sizeof(s->secret_line));
	/* closing the pipe is srun's EOF, which it passes to every task */
	if (!uv_is_closing((uv_handle_t *)&s->in))
		uv_close((uv_handle_t *)&s->in, on_in_closed);
}

static void
on_timer(uv_timer_t *t)
{
	struct pr_srun *s = t->data;

	if (s->exited)
		return;
	if (s->stage < 2) {
		pr_log_info("srun (pid %d) still running: sending it SIGTERM",
		    s->proc.pid);
		uv_process_kill(&s->proc, SIGTERM);
		s->stage = 2;
		uv_timer_start(&s->timer, on_timer, KILL_AFTER_MS, 0);
		return;
	}
	pr_log_warn("srun (pid %d) ignored SIGTERM: killing it", s->proc.pid);
	uv_process_kill(&s->proc, SIGKILL);
}

void
pr_srun_stop(struct pr_srun *s, int grace_ms)
{
	if (s->exited || s->closing)
		return;
	/* what srun says from here on is the step's end: complete lines
	 * before now are out already */
	flush_lines(s, false);
	s->quiet = true;
	if (grace_ms <= 0) {
		if (s->stage < 2)
			on_timer(&s->timer);
		return;
	}
	if (s->stage > 0)
		return;
	s->stage = 1;
	uv_timer_start(&s->timer, on_timer, (uint64_t)grace_ms, 0);
}

void
pr_srun_close(struct pr_srun *s)
{
	if (s->closing)
		return;
	s->closing = true;
	if (s->spawned && !s->exited)
		uv_process_kill(&s->proc, SIGKILL);
	remove_conf(s);
	uv_timer_stop(&s->timer);
	if (!uv_is_closing((uv_handle_t *)&s->in))
		uv_close((uv_handle_t *)&s->in, on_in_closed);
	uv_close((uv_handle_t *)&s->out, on_closed);
	uv_close((uv_handle_t *)&s->timer, on_closed);
	uv_close((uv_handle_t *)&s->proc, on_closed);
}

long
pr_srun_pid(const struct pr_srun *s)
{
	return s->proc.pid;
}

bool
pr_srun_exited(const struct pr_srun *s)
{
	return s->exited;
}

int
pr_srun_start(uv_loop_t *loop, const struct pr_srun_opts *o,
    const struct pr_srun_rank *ranks, size_t n,
    const uint8_t secret[PR_SECRET_LEN], const struct pr_srun_cb *cb,
    struct pr_srun **out, struct pr_errbuf *eb)
{
	uv_process_options_t opt;
	uv_stdio_container_t stdio[3];
	uv_file fds[2] = { -1, -1 };
	char **argv = NULL, *store = NULL;
	struct pr_srun *s;
	char hex[PR_SECRET_HEX + 1];
	uv_buf_t b;
	int rc;

	*out = NULL;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return -ENOMEM;
	s->loop = loop;
	s->cb = *cb;
	pr_buf_init(&s->line, 0);
	uv_pipe_init(loop, &s->in, 0);
	uv_pipe_init(loop, &s->out, 0);
	uv_timer_init(loop, &s->timer);
	s->in.data = s->out.data = s->timer.data = s->proc.data = s;
	s->wreq.data = s;
	s->open_handles = 4;

	rc = write_conf(s, o, ranks, n, eb);
	if (rc < 0)
		goto fail;
	rc = pr_srun_argv(o, n, s->conf, &argv, &store);
	if (rc < 0)
		goto fail;
	/* one pipe for srun's stdout and stderr: both go to our stderr,
	 * never into parrun's output */
	rc = uv_pipe(fds, 0, 0);
	if (rc < 0) {
		pr_err(eb, rc, "cannot make a pipe: %s", uv_strerror(rc));
		goto fail;
	}
	memset(&opt, 0, sizeof(opt));
	stdio[0].flags = UV_CREATE_PIPE | UV_READABLE_PIPE;
	stdio[0].data.stream = (uv_stream_t *)&s->in;
	stdio[1].flags = UV_INHERIT_FD;
	stdio[1].data.fd = fds[1];
	stdio[2].flags = UV_INHERIT_FD;
	stdio[2].data.fd = fds[1];
	opt.file = argv[0];
	opt.args = argv;
	opt.exit_cb = on_exit_cb;
	opt.stdio = stdio;
	opt.stdio_count = 3;
	/* its own session: a Ctrl-C is parrun's to handle */
	opt.flags = UV_PROCESS_DETACHED;
	s->proc_init = true;	/* even a failed uv_spawn inits it */
	rc = uv_spawn(loop, &s->proc, &opt);
	close(fds[1]);
	fds[1] = -1;
	if (rc < 0) {
		pr_err(eb, rc, "cannot start '%s': %s", argv[0],
		    uv_strerror(rc));
		goto fail;
	}
	s->spawned = true;
	if (uv_pipe_open(&s->out, fds[0]) == 0) {
		fds[0] = -1;
		uv_read_start((uv_stream_t *)&s->out, on_alloc, on_read);
	}
	pr_secret_hex(secret, hex);
	memcpy(s->secret_line, hex, PR_SECRET_HEX);
	s->secret_line[PR_SECRET_HEX] = '\n';
	s->secret_line[PR_SECRET_HEX + 1] = '\0';
	pr_secret_wipe(hex, sizeof(hex));
	b = uv_buf_init(s->secret_line, PR_SECRET_HEX + 1);
	rc = uv_write(&s->wreq, (uv_stream_t *)&s->in, &b, 1,
	    on_secret_written);
	if (rc < 0) {
		pr_secret_wipe(s->secret_line, sizeof(s->secret_line));
		uv_close((uv_handle_t *)&s->in, on_in_closed);
		/* srun gets EOF at once; its workers then fail to read a
		 * secret, and the connect deadline reports the nodes */
		pr_log_error("cannot send the secret to srun: %s",
		    uv_strerror(rc));
	}
	pr_log_debug("srun (pid %d) started for %zu node%s", s->proc.pid, n,
	    n == 1 ? "" : "s");
	free(argv);
	free(store);
	*out = s;
	return 0;
fail:
	if (fds[0] >= 0)
		close(fds[0]);
	if (fds[1] >= 0)
		close(fds[1]);
	free(argv);
	free(store);
	s->cb.closed = NULL;
	s->cb.exited = NULL;
	s->closing = true;
	remove_conf(s);
	uv_close((uv_handle_t *)&s->in, on_in_closed);
	uv_close((uv_handle_t *)&s->out, on_closed);
	uv_close((uv_handle_t *)&s->timer, on_closed);
	if (s->proc_init)
		uv_close((uv_handle_t *)&s->proc, on_closed);
	else
		s->open_handles--;
	return rc;
}

/* ---- the address the nodes connect to ------------------------------------ */

/* The short form of a host name: up to the first dot. */
static size_t
short_len(const char *s)
{
	const char *dot = strchr(s, '.');

	return dot != NULL ? (size_t)(dot - s) : strlen(s);
}

static bool
same_host(const char *a, const char *b)
{
	size_t la = short_len(a), lb = short_len(b);

	return la == lb && strncmp(a, b, la) == 0;
}

/* The controller's address from "cluster:ADDR:port:..." */
static bool
working_cluster_addr(const char *v, char *out, size_t outlen)
{
	const char *a, *e;

	if (v == NULL || (a = strchr(v, ':')) == NULL)
		return false;
	a++;
	e = strchr(a, ':');
	if (e == NULL || e == a || (size_t)(e - a) >= outlen)
		return false;
	memcpy(out, a, (size_t)(e - a));
	out[e - a] = '\0';
	return true;
}

/* The first SlurmctldHost (or ControlAddr/ControlMachine) of a slurm.conf:
 * "name(addr)" gives addr, "name" gives name. */
static bool
conf_ctld_addr(const char *path, char *out, size_t outlen)
{
	char line[1024];
	bool found = false;
	FILE *f;

	if (path == NULL || path[0] == '\0')
		return false;
	f = fopen(path, "re");
	if (f == NULL)
		return false;
	while (!found && fgets(line, sizeof(line), f) != NULL) {
		static const char *const keys[] = { "SlurmctldHost=",
		    "ControlAddr=", "ControlMachine=", NULL };
		char *p = line, *v = NULL, *e;
		size_t n;

		while (*p == ' ' || *p == '\t')
			p++;
		for (size_t k = 0; keys[k] != NULL; k++)
			if (strncasecmp(p, keys[k], strlen(keys[k])) == 0)
				v = p + strlen(keys[k]);
		if (v == NULL)
			continue;
		n = strcspn(v, " \t\r\n#,");
		v[n] = '\0';
		if ((e = strchr(v, '(')) != NULL) {
			char *close_p = strchr(e, ')');
			if (close_p == NULL)
				continue;
			*close_p = '\0';
			v = e + 1;
		}
		if (v[0] == '\0' || strlen(v) >= outlen)
			continue;
		memcpy(out, v, strlen(v) + 1);
		found = true;
	}
	fclose(f);
	return found;
}

#define ROUTE_TRIES	4	/* node names tried */
#define ROUTE_WAIT_MS	1000	/* for their names to resolve */
#define ROUTE_CANDS	(ROUTE_TRIES + 1)	/* and the controller */

/*
 * The lookups run in threads of their own, so a name server that does
 * not answer (20 s per name is common) costs ROUTE_WAIT_MS, not minutes:
 * a thread still blocked then finishes on its own and frees the shared
 * state last.
 */
struct route_ctx {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int refs;
	int n;
	char name[ROUTE_CANDS][256];
	char addr[ROUTE_CANDS][64];
	bool done[ROUTE_CANDS];
	bool ok[ROUTE_CANDS];
};

struct route_arg {
	struct route_ctx *c;
	int i;
};

static void
route_unref(struct route_ctx *c)
{
	bool last;

	pthread_mutex_lock(&c->mu);
	last = --c->refs == 0;
	pthread_mutex_unlock(&c->mu);
	if (last) {
		pthread_mutex_destroy(&c->mu);
		pthread_cond_destroy(&c->cv);
		free(c);
	}
}

static void *
route_main(void *p)
{
	struct route_arg *a = p;
	struct route_ctx *c = a->c;
	int i = a->i;
	char addr[64];
	bool ok;

	free(a);
	ok = pr_tcp_route_addr(c->name[i], addr, sizeof(addr), NULL) == 0;
	pthread_mutex_lock(&c->mu);
	c->done[i] = true;
	c->ok[i] = ok;
	if (ok)
		memcpy(c->addr[i], addr, sizeof(addr));
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);
	route_unref(c);
	return NULL;
}

/* The first candidate (in order) that routes, once every one before it
 * has failed; -1 while that is not known; -2 when all failed. */
static int
route_pick(const struct route_ctx *c)
{
	for (int i = 0; i < c->n; i++) {
		if (!c->done[i])
			return -1;
		if (c->ok[i])
			return i;
	}
	return -2;
}

int
pr_srun_listen_addr(const struct pr_hosts *hs, pr_getenv_fn get,
    void *ctx, char *out, size_t outlen, struct pr_errbuf *eb)
{
	const char *me = get("SLURMD_NODENAME", ctx), *conf;
	char self[256], ctld[256];
	struct route_ctx *c;
	struct timespec until;
	int pick = -2, nctld = -1;

	if (me == NULL || me[0] == '\0') {
		if (gethostname(self, sizeof(self) - 1) == 0) {
			self[sizeof(self) - 1] = '\0';
			me = self;
		} else {
			me = "";
		}
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return -ENOMEM;
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->cv, NULL);
	c->refs = 1;
	/* another node first, then this one (whose own name may resolve
	 * to a loopback address), then the controller */
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < hs->n && c->n < ROUTE_TRIES; i++)
			if (same_host(hs->v[i].name, me) == (pass == 1))
				snprintf(c->name[c->n++], sizeof(c->name[0]),
				    "%s", hs->v[i].name);
	conf = get("SLURM_CONF", ctx);
	if (working_cluster_addr(get("SLURM_WORKING_CLUSTER", ctx), ctld,
	    sizeof(ctld)) || conf_ctld_addr(conf != NULL ? conf :
	    "/etc/slurm/slurm.conf", ctld, sizeof(ctld))) {
		nctld = c->n;
		snprintf(c->name[c->n++], sizeof(c->name[0]), "%s", ctld);
	}
	for (int i = 0; i < c->n; i++) {
		struct route_arg *a = malloc(sizeof(*a));
		pthread_attr_t attr;
		pthread_t th;
		int rc;

		if (a == NULL) {
			c->done[i] = true;
			continue;
		}
		a->c = c;
		a->i = i;
		pthread_attr_init(&attr);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		pthread_mutex_lock(&c->mu);
		c->refs++;
		pthread_mutex_unlock(&c->mu);
		rc = pthread_create(&th, &attr, route_main, a);
		pthread_attr_destroy(&attr);
		if (rc != 0) {
			free(a);
			pthread_mutex_lock(&c->mu);
			c->refs--;
			c->done[i] = true;
			pthread_mutex_unlock(&c->mu);
		}
	}
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += ROUTE_WAIT_MS / 1000;
	until.tv_nsec += (long)(ROUTE_WAIT_MS % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&c->mu);
	while ((pick = route_pick(c)) == -1)
		if (pthread_cond_timedwait(&c->cv, &c->mu, &until) != 0)
			break;
	if (pick == -1) {
		/* out of time: the best of what has answered */
		for (int i = 0; i < c->n && pick < 0; i++)
			if (c->done[i] && c->ok[i])
				pick = i;
	}
	if (pick >= 0 && strlen(c->addr[pick]) < outlen) {
		memcpy(out, c->addr[pick], strlen(c->addr[pick]) + 1);
		pr_log_debug("listening on %s, the address that routes to %s "
		    "'%s'", out, pick == nctld ? "the Slurm controller" :
		    "node", c->name[pick]);
	} else {
		pick = -2;
	}
	pthread_mutex_unlock(&c->mu);
	route_unref(c);
	if (pick >= 0)
		return 0;
	return pr_err(eb, PR_ECONFIG, "cannot tell which address of this "
	    "host the nodes reach (their names do not resolve here): give "
	    "one with --listen ADDR:0");
}
