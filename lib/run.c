/*
 * run.c - the coordinator's loop.  See run.h for the contract.
 *
 * Shape of a run:
 *
 *   reader thread --(bounded ring)--> pending deque --(sched)--> workers
 *        ^ lib/input.c                                              |
 *                                 output, reduce <-- results <------+
 *
 * Every task read becomes a `struct job` that lives until its one final
 * record is written.  A job sent to a worker is "in flight": it sits in
 * the seq-keyed flight table and on its worker's list, so a lost worker's
 * jobs can be put back in the queue (attempt + 1) or, past the crash
 * limit, recorded as lost.  The first final result for an attempt wins; a
 * late one (from a worker we gave up on) is logged and dropped.
 */
#include "run.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#include "auth.h"
#include "buf.h"
#include "journal.h"
#include "json.h"
#include "launch_srun.h"
#include "log.h"
#include "progress.h"
#include "proto.h"
#include "reduce.h"
#include "task.h"
#include "template.h"
#include "transport.h"
#include "transport_tcp.h"

#define RING_SIZE	4096		/* tasks read ahead of dispatch */
#define PENDING_MAX	8192		/* tasks taken from it, not yet sent */
#define KEEP_WINDOW	65536		/* -k: dispatch at most this far
					 * ahead */
#define SEND_HIGH	(8u << 20)	/* stop feeding a worker past this */
#define OUT_HIGH	(4u << 20)	/* output queued for a slow stdout: */
#define OUT_LOW		(1u << 20)	/* stop reading workers, resume */
#define TICK_MS(hb)	((uint64_t)((hb) < 250 ? (hb) : 250))
#define SPAWN_BURST	32		/* -j workers started per loop turn */

/* ---- jobs ------------------------------------------------------------- */

struct worker;

struct job {
	struct pr_task *t;
	int attempt;			/* of the current or next run */
	int crashes;			/* worker losses under it */
	int retries_left;
	int avoid;			/* a retry: the worker it failed on
					 * (1-based), or 0 */
	uint64_t due;			/* a delayed retry: when, loop ms */
	bool started;			/* its worker said it started (this
					 * attempt) */
	struct worker *w;		/* in flight on it, or NULL */
	struct job *wnext, *wprev;	/* the worker's flight list */
	struct job *hnext;		/* flight table chain */
	struct job *qnext;		/* pending deque */
	double start;
	struct pr_buf out, err;		/* output chunks so far */
};

/* A deque of jobs (intrusive, through qnext). */
struct jobq {
	struct job *head, *tail;
	size_t n;
};

static void
jobq_push(struct jobq *q, struct job *j)
{
	j->qnext = NULL;
	if (q->tail != NULL)
		q->tail->qnext = j;
	else
		q->head = j;
	q->tail = j;
	q->n++;
}

static void
jobq_push_front(struct jobq *q, struct job *j)
{
	j->qnext = q->head;
	q->head = j;
	if (q->tail == NULL)
		q->tail = j;
	q->n++;
}

static struct job *
jobq_pop(struct jobq *q)
{
	struct job *j = q->head;

	if (j == NULL)
		return NULL;
	q->head = j->qnext;
	if (q->head == NULL)
		q->tail = NULL;
	q->n--;
	return j;
}

/* ---- workers --------------------------------------------------------- */

enum wstate {
	W_STARTING,			/* waiting for hello */
	W_READY,
	W_DRAINING,			/* shutdown sent */
	W_DEAD,				/* lost or gone; transport closing */
};

struct run;

struct worker {
	struct run *r;
	int index;			/* 1-based */
	enum wstate state;
	struct pr_transport *tr;
	const struct pr_host *spec;	/* its host line, or NULL for -j */
	bool remote;
	struct pr_framer fr;
	struct pr_buf wbuf;		/* bytes to send this iteration */
	char host[256];
	long pid;
	int slots;
	size_t outstanding;		/* jobs in flight on it */
	struct job *flights;		/* list head */
	struct jobq pinned;		/* jobs placed on this worker */
	uint64_t last_seen;		/* loop time of its last message, ms */
	uint64_t started_at;
	uint64_t dead_at;		/* when it was given up on */
	bool exited, eof, closed;
	bool paused;			/* not read: stdout is backed up */
	uint64_t done;			/* results received */
	int lost_in_row;		/* it and the workers it replaced:
					 * lost without a result between */
	bool respawn_due;		/* --respawn: replace it once closed */
	/* workers that connect back over TCP */
	bool node;			/* a Slurm node's: started by srun */
	bool absent;			/* node: given up before it came */
	bool tcp;			/* came through a listener */
	struct lsn *lsn;		/* node: the port it connects to */
};

/* A listener: one per Slurm node (its worker is the one that connects
 * to that port, which names the node even where hostnames do not), or
 * the one of --listen, which any worker may join. */
struct lsn {
	struct run *r;
	struct pr_listener *l;		/* NULL once closed */
	struct worker *node;		/* the node's, or NULL: anyone */
	bool closed;
};

/* ---- the run ------------------------------------------------------------ */

struct ring {
	pthread_mutex_t mu;
	pthread_cond_t not_full;
	struct pr_task *items[RING_SIZE];
	size_t head, n;
	bool done;			/* reader finished */
	bool stop;			/* loop asks the reader to stop */
	int rc;				/* reader's final code */
	struct pr_errbuf eb;
};

struct run {
	const struct pr_config *cfg;
	uv_loop_t loop;
	uv_async_t wake;
	uv_timer_t hb_timer;
	uv_timer_t ui_timer;
	uv_timer_t retry_timer;		/* the next delayed retry is due */
	uv_signal_t sigint, sigterm;
	uv_check_t check;
	uv_poll_t out_poll[2];		/* stdout, stderr: writable */
	bool out_poll_init[2], out_polling[2];
	bool reads_paused;		/* output past OUT_HIGH */
	bool output_wait;		/* done but for output still queued */
	bool hurry;			/* second SIGINT: no more waiting */

	struct ring ring;
	pthread_t reader;
	bool reader_started;
	struct pr_input *in;
	struct pr_input_opts in_opts;	/* cfg->in, with fingerprints */

	/* Workers, each allocated on its own so pointers to it stay valid
	 * while the array grows (TCP workers join at any time); at most
	 * wmax of them in a run. */
	struct worker **workers;
	int nworkers, wcap, wmax;
	int alive;			/* not dead; counts the nodes srun is
					 * starting, --listen's wait for its
					 * first workers, and spawn_left */
	int spawn_left;			/* workers not started yet: a burst
					 * a loop turn, so the first ones get
					 * their welcome and tasks while the
					 * rest start */
	size_t spawn_hi;		/* the next one's host (index) */
	int spawn_hj;			/* of its workers, started so far */
	bool spawn_local_failed;	/* skip the other local ones */
	uv_idle_t spawn_idle;
	bool spawn_idle_init;

	/* TCP workers: Slurm nodes started by srun, --listen */
	uint8_t secret[PR_SECRET_LEN];
	char *secret_path;		/* a private secret file we made */
	struct lsn *lsns;
	size_t nlsn;
	int open_lsn;			/* listeners not yet closed */
	struct lsn *joinable;		/* --listen's, or NULL */
	bool waiting_joins;		/* --listen: counted in alive until
					 * the connect deadline */
	uint64_t join_deadline;
	struct pr_srun *srun;		/* until closed */
	bool srun_exited, srun_stopping, srun_closing;

	struct pr_sched sched;
	struct jobq pending;
	struct jobq delayed;		/* failed, to retry after a delay */
	bool halted;			/* --halt said stop */
	int respawns;			/* lost workers to replace (counted in
					 * alive meanwhile) */
	bool input_done;		/* ring drained and reader done */
	bool stopping;			/* no more dispatch (signal, error) */
	bool shutting_down;		/* shutdown sent to workers */
	bool output_failed;		/* a write error was reported */
	int signal;
	uint64_t first_sig_ms;
	uint64_t last_hb;		/* when heartbeats last went out */

	struct job **table;		/* flight table, by seq */
	size_t tmask;
	size_t inflight;

	struct pr_output *out;
	struct pr_journal *jn;		/* --journal, or NULL */
	bool journal_failed;
	struct pr_reduce *red;
	struct pr_progress *prog;

	struct pr_summary *sum;
	int rc;
	struct pr_errbuf *eb;
	uint64_t read_total;		/* tasks taken from the ring */
	uint64_t done_total;
	char session[40];
	uint64_t seed;			/* cfg->seed, or the journal's */
	struct pr_buf bcast;		/* the broadcast message, encoded
					 * once */
	size_t max_frame;		/* cfg's, raised to fit the broadcast */
	int local_slots;		/* tasks run at once on this machine */
	bool warned_threads;
};

static double
now_unix(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- flight table ---------------------------------------------------- */

static size_t
slot_of(const struct run *r, uint64_t seq)
{
	return (size_t)(seq * 0x9e3779b97f4a7c15ull >> 17) & r->tmask;
}

static int
table_grow(struct run *r)
{
	size_t n = r->table ? (r->tmask + 1) * 2 : 1024;
	struct job **t = calloc(n, sizeof(*t));
	size_t old = r->table ? r->tmask + 1 : 0;

	if (t == NULL)
		return -ENOMEM;
	struct job **ot = r->table;
	r->table = t;
	r->tmask = n - 1;
	for (size_t i = 0; i < old; i++) {
		struct job *j = ot[i], *nx;
		for (; j != NULL; j = nx) {
			size_t s = slot_of(r, j->t->seq);
			nx = j->hnext;
			j->hnext = t[s];
			t[s] = j;
		}
	}
	free(ot);
	return 0;
}

static int
table_put(struct run *r, struct job *j)
{
	size_t s;

	if (r->table == NULL || r->inflight >= r->tmask) {
		int rc = table_grow(r);
		if (rc < 0)
			return rc;
	}
	s = slot_of(r, j->t->seq);
	j->hnext = r->table[s];
	r->table[s] = j;
	r->inflight++;
	return 0;
}

static struct job *
table_get(struct run *r, uint64_t seq)
{
	struct job *j;

	if (r->table == NULL)
		return NULL;
	for (j = r->table[slot_of(r, seq)]; j != NULL; j = j->hnext)
		if (j->t->seq == seq)
			return j;
	return NULL;
}

static void
table_del(struct run *r, struct job *j)
{
	struct job **pp = &r->table[slot_of(r, j->t->seq)];

	for (; *pp != NULL; pp = &(*pp)->hnext) {
		if (*pp == j) {
			*pp = j->hnext;
			r->inflight--;
			return;
		}
	}
}

/* ---- job lifecycle -------------------------------------------------- */

static struct job *
job_new(const struct run *r, struct pr_task *t)
{
	struct job *j = calloc(1, sizeof(*j));

	if (j == NULL)
		return NULL;
	j->t = t;
	j->attempt = 1;
	j->retries_left = t->retries >= 0 ? t->retries : r->cfg->retries;
	pr_buf_init(&j->out, 0);
	pr_buf_init(&j->err, 0);
	return j;
}

static void
job_free(struct job *j)
{
	pr_buf_release(&j->out);
	pr_buf_release(&j->err);
	pr_task_free(j->t);
	free(j);
}

static void
flight_unlink(struct run *r, struct job *j)
{
	struct worker *w = j->w;

	if (w == NULL)
		return;
	if (j->wprev != NULL)
		j->wprev->wnext = j->wnext;
	else
		w->flights = j->wnext;
	if (j->wnext != NULL)
		j->wnext->wprev = j->wprev;
	j->wnext = j->wprev = NULL;
	w->outstanding--;
	j->w = NULL;
	table_del(r, j);
}

/*
 * Write the one final record of a job and free it.  res may be NULL for
 * records the coordinator decides (lost, rejected, cancelled before run).
 */
/* The journal cannot be written (a full disk): say so once and stop,
 * since results that cannot be made durable must not be emitted. */
static void
journal_error(struct run *r, int rc, const struct pr_errbuf *eb)
{
	if (r->journal_failed)
		return;
	r->journal_failed = true;
	pr_log_error("cannot write the journal '%s': %s", r->cfg->journal,
	    pr_errmsg(eb, rc));
	if (r->rc == 0) {
		r->rc = rc;
		pr_err(r->eb, rc, "the journal failed: stopped");
	}
	r->stopping = true;
}

static void job_finish_as(struct run *r, struct job *j, enum pr_status st,
    const struct pr_result_msg *res, const char *error, const char *host,
    int worker, bool silent);

static void check_halt(struct run *r, enum pr_status st,
    const struct pr_result_msg *res);
static void cancel_running(struct run *r);
static void ring_stop(struct run *r);

/*
 * Output could not be written: said once per cause.  When the reader of
 * our stdout or stderr has gone (EPIPE), nobody will see what the
 * remaining tasks print: stop as a filter killed by SIGPIPE would, after
 * cancelling the running tasks (the results file and the journal keep
 * what finished; --resume runs the rest).
 */
static void
output_error(struct run *r, int rc, const struct pr_errbuf *eb)
{
	if (!r->output_failed || rc != -EPIPE)
		pr_log_error("%s", pr_errmsg(eb, rc));
	r->output_failed = true;
	if (rc != -EPIPE || r->stopping)
		return;
	pr_log_error("the output's reader has gone: stopping (cancelling "
	    "running tasks)");
	r->signal = SIGPIPE;
	r->sum->signal = SIGPIPE;
	r->first_sig_ms = uv_now(&r->loop);
	r->stopping = true;
	ring_stop(r);
	cancel_running(r);
}

static void
job_finish(struct run *r, struct job *j, enum pr_status st,
    const struct pr_result_msg *res, const char *error, const char *host,
    int worker)
{
	job_finish_as(r, j, st, res, error, host, worker, false);
}

/* silent: --resume found it done before; only its seq is accounted for */
static void
job_finish_as(struct run *r, struct job *j, enum pr_status st,
    const struct pr_result_msg *res, const char *error, const char *host,
    int worker, bool silent)
{
	struct pr_record rec;
	struct pr_errbuf eb = { 0, "" };
	int rc;

	memset(&rec, 0, sizeof(rec));
	rec.seq = j->t->seq;
	rec.id = j->t->id;
	rec.status = st;
	rec.exit = res ? res->exit : -1;
	rec.signal = res ? res->signal : 0;
	rec.attempts = j->attempt;
	rec.host = host;
	rec.worker = worker;
	rec.start = res ? res->start : (j->start > 0 ? j->start : now_unix());
	rec.elapsed = res ? res->elapsed : 0;
	rec.has_value = res ? res->has_value : false;
	rec.value = res ? res->value : 0;
	rec.error = error != NULL ? error : (res ? res->error : NULL);
	rec.out = j->out.data ? j->out.data : "";
	rec.outlen = j->out.len;
	rec.err = j->err.data ? j->err.data : "";
	rec.errlen = j->err.len;
	rec.tag = j->t->tag;
	rec.cmd = j->t->cmd;
	rec.extra = NULL;
	rec.seed = j->t->has_seed ? j->t->seed : r->seed;
	rec.bytes_sent = j->t->bodylen;
	rec.silent = silent;
	if (r->jn != NULL && !silent && !r->journal_failed &&
	    (rc = pr_journal_result(r->jn, j->t, st, j->attempt,
	    res ? res->exit : -1)) < 0)
		journal_error(r, rc, NULL);

	char *extra = NULL;
	if (res != NULL && res->extra_json != NULL)
		extra = cJSON_PrintUnformatted(res->extra_json);
	rec.extra = extra;

	if (r->cfg->out.parse_value && !rec.has_value && st == PR_ST_OK)
		rec.has_value = pr_value_parse(rec.out, rec.outlen, &rec.value);
	rc = pr_output_record(r->out, &rec, &eb);
	if (rc < 0)
		output_error(r, rc, &eb);
	if (extra != NULL)
		cJSON_free(extra);

	if (r->red != NULL) {
		if (st == PR_ST_OK && !silent)
			pr_reduce_add(r->red, j->t->seq, rec.value,
			    rec.has_value);
		else
			pr_reduce_skip(r->red, j->t->seq);
	}
	if (silent) {
		r->sum->skipped++;
		r->done_total++;
		job_free(j);
		return;
	}
	r->sum->tasks++;
	if (st == PR_ST_OK)
		r->sum->ok++;
	else
		r->sum->failed++;
	r->done_total++;
	pr_progress_done(r->prog, worker, st == PR_ST_OK);
	check_halt(r, st, res);
	job_free(j);
}

/* ---- sending ------------------------------------------------------------ */

static void
worker_flush(struct worker *w)
{
	size_t len;
	char *data;
	int rc;

	if (w->wbuf.len == 0 || w->state == W_DEAD || w->tr == NULL)
		return;
	data = pr_buf_detach(&w->wbuf, &len);
	rc = pr_transport_send(w->tr, data, len);
	if (rc < 0)
		pr_log_debug("worker %d: send failed: %s", w->index,
		    pr_strerror(rc));
}

static void worker_lost(struct worker *w, const char *why, bool kill);

/* Encode n jobs as one task(s) message into w->wbuf and put them in
 * flight on w. */
static void
send_jobs(struct run *r, struct worker *w, struct job **jobs, size_t n)
{
	struct pr_task_ref refs[64];
	struct pr_buf bodies[64];
	size_t done = 0;

	while (done < n) {
		size_t k = n - done < 64 ? n - done : 64;
		int rc = 0;

		for (size_t i = 0; i < k; i++) {
			struct job *j = jobs[done + i];
			struct pr_task *t = j->t;

			refs[i].seq = t->seq;
			refs[i].attempt = j->attempt;
			pr_buf_init(&bodies[i], 0);
			if (t->body != NULL) {
				refs[i].body = t->body;
				refs[i].bodylen = t->bodylen;
			} else {
				rc = pr_task_body(t, w->index, &bodies[i]);
				refs[i].body = bodies[i].data ?
				    bodies[i].data : "";
				refs[i].bodylen = bodies[i].len;
			}
		}
		if (rc == 0)
			rc = pr_msg_tasks(&w->wbuf, refs, k);
		for (size_t i = 0; i < k; i++)
			pr_buf_release(&bodies[i]);
		if (rc < 0) {
			pr_log_error("cannot encode tasks: %s",
			    pr_strerror(rc));
			r->rc = rc;
			r->stopping = true;
		}
		for (size_t i = 0; i < k; i++) {
			struct job *j = jobs[done + i];

			j->w = w;
			j->started = false;
			j->wprev = NULL;
			j->wnext = w->flights;
			if (w->flights != NULL)
				w->flights->wprev = j;
			w->flights = j;
			w->outstanding++;
			if (j->start == 0)
				j->start = now_unix();
			if (r->jn != NULL && !r->journal_failed &&
			    pr_journal_dispatch(r->jn, j->t->seq, j->attempt,
			    w->index, w->host) < 0)
				journal_error(r, PR_EJOURNAL, NULL);
			pr_progress_started(r->prog, w->index);
			if (table_put(r, j) < 0) {
				r->rc = -ENOMEM;
				r->stopping = true;
			}
		}
		done += k;
	}
}

/* ---- taking tasks from the reader ----------------------------------- */

static void
ring_stop(struct run *r)
{
	pthread_mutex_lock(&r->ring.mu);
	r->ring.stop = true;
	pthread_cond_signal(&r->ring.not_full);
	pthread_mutex_unlock(&r->ring.mu);
}

/* Every worker is gone: what is left cannot run.  The run fails (255)
 * and says so once. */
static void
no_worker_left(struct run *r)
{
	if (r->rc != 0)
		return;
	r->rc = PR_ENOWORKER;
	pr_err(r->eb, PR_ENOWORKER, "no worker left: the remaining tasks "
	    "are recorded as lost");
}

static void spawn_some(struct run *r, int n);

static void
place_job(struct run *r, struct job *j)
{
	struct pr_task *t = j->t;

	/* a worker or host still to be started is started now */
	if (t->worker > r->nworkers && t->worker - r->nworkers <=
	    r->spawn_left)
		spawn_some(r, t->worker - r->nworkers);
	else if (t->host != NULL && r->spawn_left > 0)
		spawn_some(r, r->spawn_left);
	if (t->worker > 0) {
		if (t->worker > r->nworkers) {
			char msg[128];
			snprintf(msg, sizeof(msg),
			    "no worker %d (there are %d)", t->worker,
			    r->nworkers + r->spawn_left);
			job_finish(r, j, PR_ST_ERROR, NULL, msg, NULL, 0);
			return;
		}
		jobq_push(&r->workers[t->worker - 1]->pinned, j);
		return;
	}
	if (t->host != NULL) {
		struct worker *best = NULL;
		for (int i = 0; i < r->nworkers; i++) {
			struct worker *w = r->workers[i];
			if (w->state == W_DEAD ||
			    (strcmp(w->host, t->host) != 0 &&
			    (w->spec == NULL || strcmp(w->spec->name,
			    t->host) != 0)))
				continue;
			if (best == NULL || w->pinned.n < best->pinned.n)
				best = w;
		}
		if (best == NULL) {
			char msg[320];
			snprintf(msg, sizeof(msg), "no worker on host '%s'",
			    t->host);
			job_finish(r, j, PR_ST_ERROR, NULL, msg, NULL, 0);
			return;
		}
		jobq_push(&best->pinned, j);
		return;
	}
	jobq_push(&r->pending, j);
}

/*
 * --journal: ask the journal whether a task runs (--resume), and record
 * that it was submitted.  False when the job was dealt with here.
 */
static bool
admit(struct run *r, struct job *j)
{
	enum pr_status prev;
	int d, rc;

	if (r->input_done && r->sum->bad_input) {
		/* read before the run stopped on a changed task: not run */
		job_free(j);
		return false;
	}
	if (r->cfg->resume) {
		d = pr_journal_decide(r->jn, j->t, &prev);
		if (d < 0) {
			journal_error(r, d, NULL);
			job_free(j);
			return false;
		}
		if (d == PR_JOURNAL_CHANGED && !r->cfg->force_resume) {
			/* like bad input: nothing from here on runs */
			pr_log_error("%s:%lu: task '%s' is not what the "
			    "journal recorded under that id (use "
			    "--force-resume to run it again)", j->t->src,
			    j->t->line, j->t->id);
			if (r->rc == 0)
				r->rc = pr_err(r->eb, PR_EJOURNAL, "the input "
				    "changed since the journal was written");
			r->sum->bad_input = true;
			r->input_done = true;
			ring_stop(r);
			job_free(j);
			return false;
		}
		if (!pr_journal_runs(d) && d != PR_JOURNAL_CHANGED) {
			job_finish_as(r, j, prev, NULL, NULL, NULL, 0, true);
			return false;
		}
	}
	if ((rc = pr_journal_submit(r->jn, j->t)) < 0)
		journal_error(r, rc, NULL);
	return true;
}

/* Move tasks from the reader's ring into the pending deque. */
static void
drain_ring(struct run *r)
{
	struct pr_task *batch[256];
	size_t n;
	bool done;

	for (;;) {
		size_t room = r->pending.n < PENDING_MAX ?
		    PENDING_MAX - r->pending.n : 0;

		pthread_mutex_lock(&r->ring.mu);
		n = r->ring.n < 256 ? r->ring.n : 256;
		if (n > room)
			n = room;	/* the ring holds the rest: memory
					 * stays flat */
		for (size_t i = 0; i < n; i++) {
			batch[i] = r->ring.items[r->ring.head];
			r->ring.head = (r->ring.head + 1) % RING_SIZE;
		}
		r->ring.n -= n;
		done = r->ring.done && r->ring.n == 0;
		if (n > 0)
			pthread_cond_signal(&r->ring.not_full);
		pthread_mutex_unlock(&r->ring.mu);

		for (size_t i = 0; i < n; i++) {
			struct pr_task *t = batch[i];
			struct job *j = job_new(r, t);

			r->read_total++;
			if (j == NULL) {
				pr_task_free(t);
				r->rc = -ENOMEM;
				r->stopping = true;
				continue;
			}
			if (t->status == PR_ST_REJECTED) {
				pr_log_error("%s", t->error ? t->error :
				    "bad input");
				job_finish(r, j, PR_ST_REJECTED, NULL,
				    t->error, NULL, 0);
				continue;
			}
			if (r->jn != NULL && !admit(r, j))
				continue;
			if (r->alive == 0 && !r->stopping)
				no_worker_left(r);
			if (r->stopping || r->alive == 0) {
				job_finish(r, j, r->alive == 0 ?
				    PR_ST_LOST : PR_ST_CANCELLED, NULL,
				    r->alive == 0 ? "no worker left" :
				    "not run: parrun was stopped", NULL, 0);
				continue;
			}
			place_job(r, j);
		}
		if (done && !r->input_done) {
			r->input_done = true;
			if (r->ring.rc < 0) {
				/* bad input: stop dispatching, finish the
				 * rest */
				pr_log_error("%s", pr_errmsg(&r->ring.eb,
				    r->ring.rc));
				if (r->ring.rc == PR_EBADINPUT)
					r->sum->bad_input = true;
				if (r->rc == 0)
					r->rc = r->ring.rc;
				if (r->eb != NULL && r->eb->msg[0] == '\0')
					*r->eb = r->ring.eb;
			}
		}
		if (n < 256)
			break;
	}
	pr_progress_set_total(r->prog, r->read_total, r->input_done);
}

static void *
reader_main(void *arg)
{
	struct run *r = arg;
	struct pr_errbuf eb = { 0, "" };
	int rc;

	for (;;) {
		struct pr_task *t = NULL;

		rc = pr_input_next(r->in, &t, &eb);
		if (rc <= 0)
			break;
		pthread_mutex_lock(&r->ring.mu);
		while (r->ring.n == RING_SIZE && !r->ring.stop)
			pthread_cond_wait(&r->ring.not_full, &r->ring.mu);
		if (r->ring.stop) {
			pthread_mutex_unlock(&r->ring.mu);
			pr_task_free(t);
			rc = 0;
			break;
		}
		r->ring.items[(r->ring.head + r->ring.n) % RING_SIZE] = t;
		r->ring.n++;
		/* under the lock: the loop closes `wake` only after setting
		 * stop, so a send never races the close */
		uv_async_send(&r->wake);
		pthread_mutex_unlock(&r->ring.mu);
	}
	pthread_mutex_lock(&r->ring.mu);
	r->ring.done = true;
	r->ring.rc = rc < 0 ? rc : 0;
	r->ring.eb = eb;
	if (!r->ring.stop)
		uv_async_send(&r->wake);
	pthread_mutex_unlock(&r->ring.mu);
	return NULL;
}

/* ---- dispatch ----------------------------------------------------------- */

/*
 * The tasks a worker may hold.  With --halt, no more than it runs: a
 * task queued on a worker would start the moment a slot frees, before a
 * failure there could halt the run, and --halt promises that nothing
 * starts after it.
 */
static size_t
window(const struct run *r, const struct worker *w, unsigned batch)
{
	if (r->cfg->halt.when != PR_HALT_NEVER)
		return w->slots > 0 ? (size_t)w->slots : 1;
	return pr_sched_window(&r->sched, w->slots, batch);
}

static bool
worker_has_room(const struct run *r, const struct worker *w, size_t win)
{
	return w->state == W_READY && w->outstanding < win &&
	    w->tr->ops->queued(w->tr) < SEND_HIGH && !r->stopping;
}

static bool
keep_order_blocked(const struct run *r, const struct job *j)
{
	return r->cfg->out.keep_order &&
	    j->t->seq >= pr_output_next_seq(r->out) + KEEP_WINDOW;
}

/*
 * A retry should run on another worker than the one it failed on (the
 * fault may be that worker's or its host's), when another can take it
 * now; else it runs where there is room, the same worker included.
 */
static bool
leave_for_another(const struct run *r, const struct job *j,
    const struct worker *w)
{
	if (j->avoid != w->index)
		return false;
	for (int i = 0; i < r->nworkers; i++) {
		const struct worker *o = r->workers[i];
		unsigned b = pr_sched_batch(&r->sched, r->pending.n,
		    r->input_done);

		if (o != w && worker_has_room(r, o, window(r, o, b)))
			return true;
	}
	return false;
}

static void
dispatch(struct run *r)
{
	struct job *batch[PR_SCHED_BATCH_MAX];

	if (r->stopping || r->alive == 0)
		return;

	if (r->sched.kind == PR_SCHED_STATIC && r->nworkers > 0) {
		/* task i to worker (i-1) mod W, in order; a full worker
		 * holds the line (that is what static means) */
		for (;;) {
			struct job *j = r->pending.head;
			struct worker *w;
			unsigned b = pr_sched_batch(&r->sched, r->pending.n,
			    r->input_done);
			size_t win;
			int idx;

			if (j == NULL || keep_order_blocked(r, j))
				break;
			/* over every worker of -j, started or not yet */
			idx = pr_sched_static_worker(j->t->seq, r->nworkers +
			    r->spawn_left);
			if (idx >= r->nworkers)
				break;		/* its worker is still to come */
			w = r->workers[idx];
			win = window(r, w, b);
			if (w->state == W_DEAD) {
				/* its share goes to whoever is alive */
				for (int k = 0; k < r->nworkers; k++) {
					w = r->workers[(j->t->seq +
					    (uint64_t)k) %
					    (uint64_t)r->nworkers];
					if (w->state != W_DEAD)
						break;
				}
			}
			if (!worker_has_room(r, w, win))
				break;
			jobq_pop(&r->pending);
			send_jobs(r, w, &j, 1);
		}
	}

	for (int i = 0; i < r->nworkers; i++) {
		struct worker *w = r->workers[i];
		unsigned b = pr_sched_batch(&r->sched, r->pending.n,
		    r->input_done);
		size_t win = window(r, w, b);
		size_t n = 0;

		if (w->state != W_READY)
			continue;
		/* pinned work first */
		while (w->pinned.head != NULL && worker_has_room(r, w, win) &&
		    n < b && !keep_order_blocked(r, w->pinned.head)) {
			batch[n++] = jobq_pop(&w->pinned);
			if (n == b) {
				send_jobs(r, w, batch, n);
				n = 0;
			}
		}
		if (n > 0) {
			send_jobs(r, w, batch, n);
			n = 0;
		}
		if (r->sched.kind == PR_SCHED_STATIC)
			continue;
		while (r->pending.head != NULL && worker_has_room(r, w, win)) {
			size_t room = win - w->outstanding;
			size_t want = b < room ? b : room;

			/* wait for room for a whole batch unless the
			 * queue is short anyway */
			if (want < b && r->pending.n >= b && w->outstanding > 0)
				break;
			while (n < want && r->pending.head != NULL &&
			    !keep_order_blocked(r, r->pending.head) &&
			    !leave_for_another(r, r->pending.head, w))
				batch[n++] = jobq_pop(&r->pending);
			if (n == 0)
				break;
			send_jobs(r, w, batch, n);
			n = 0;
		}
	}
}

/* ---- retries ----------------------------------------------------------- */

/*
 * A failed task runs again after --retry-delay, doubled for every retry
 * after the first (at most RETRY_DELAY_MAX), and preferably on another
 * worker than the one it failed on (see dispatch()).  It waits in
 * r->delayed; one timer is set for the earliest.
 */
#define RETRY_DELAY_MAX	60.0

static void on_retry_due(uv_timer_t *t);

/* A retry goes back where its task may run: its placement, else first
 * in the queue. */
static void
requeue(struct run *r, struct job *j)
{
	if (j->t->worker > 0 || j->t->host != NULL)
		place_job(r, j);
	else
		jobq_push_front(&r->pending, j);
}

static void
arm_retry_timer(struct run *r)
{
	uint64_t now = uv_now(&r->loop), first = UINT64_MAX;

	for (struct job *j = r->delayed.head; j != NULL; j = j->qnext)
		if (j->due < first)
			first = j->due;
	if (first == UINT64_MAX)
		uv_timer_stop(&r->retry_timer);
	else
		uv_timer_start(&r->retry_timer, on_retry_due,
		    first > now ? first - now : 0, 0);
}

static void
on_retry_due(uv_timer_t *t)
{
	struct run *r = t->data;
	uint64_t now = uv_now(&r->loop);
	struct jobq keep = { NULL, NULL, 0 };
	struct job *j;

	while ((j = jobq_pop(&r->delayed)) != NULL) {
		if (j->due > now) {
			jobq_push(&keep, j);
		} else {
			j->attempt++;
			requeue(r, j);
		}
	}
	r->delayed = keep;
	arm_retry_timer(r);
}

static void
retry_later(struct run *r, struct job *j, const struct worker *w)
{
	double delay = r->cfg->retry_delay;

	/* attempt 1 failed: the first retry waits the delay itself */
	for (int k = 1; k < j->attempt && delay < RETRY_DELAY_MAX; k++)
		delay *= 2;
	if (delay > RETRY_DELAY_MAX)
		delay = RETRY_DELAY_MAX;
	j->avoid = w->index;
	if (delay <= 0) {
		j->attempt++;
		requeue(r, j);
		return;
	}
	j->due = uv_now(&r->loop) + (uint64_t)(delay * 1000.0);
	jobq_push(&r->delayed, j);
	arm_retry_timer(r);
}

/* Record what waits for a retry as not run again (the run is ending). */
static void
drop_delayed(struct run *r, enum pr_status st, const char *why)
{
	struct job *j;

	while ((j = jobq_pop(&r->delayed)) != NULL)
		job_finish(r, j, st, NULL, why, NULL, 0);
	uv_timer_stop(&r->retry_timer);
}

/* ---- the end of a run ---------------------------------------------- */

static bool
all_work_done(const struct run *r)
{
	if (!r->input_done || r->pending.n > 0 || r->delayed.n > 0 ||
	    r->inflight > 0)
		return false;
	for (int i = 0; i < r->nworkers; i++)
		if (r->workers[i]->pinned.n > 0)
			return false;
	return true;
}

static void stop_joining(struct run *r);
static void stop_by_signal(struct run *r, int signum, const char *why);

static void stop_spawning(struct run *r);

static void
shutdown_workers(struct run *r, const char *mode)
{
	stop_joining(r);
	stop_spawning(r);
	for (int i = 0; i < r->nworkers; i++) {
		struct worker *w = r->workers[i];

		if (w->state == W_READY || w->state == W_STARTING) {
			/* one that has not said hello yet just gets EOF */
			if (w->state == W_READY)
				pr_msg_shutdown(&w->wbuf, mode, 2000);
			worker_flush(w);
			w->tr->ops->shutdown(w->tr);
			w->state = W_DRAINING;
		}
	}
	r->shutting_down = true;
}

/* Record every job not sent (read, waiting for a retry, or pinned to a
 * worker) with status st: why, or delayed_why for a failed one that
 * waited for its retry. */
static void
finish_waiting(struct run *r, enum pr_status st, const char *why,
    const char *delayed_why)
{
	struct job *j;

	while ((j = jobq_pop(&r->pending)) != NULL)
		job_finish(r, j, st, NULL, why, NULL, 0);
	drop_delayed(r, st, delayed_why);
	for (int i = 0; i < r->nworkers; i++)
		while ((j = jobq_pop(&r->workers[i]->pinned)) != NULL)
			job_finish(r, j, st, NULL, why, NULL, 0);
}

/* The run is stopping: what was read and not sent did not run. */
static void
cancel_waiting(struct run *r)
{
	finish_waiting(r, PR_ST_CANCELLED, "not run: parrun was stopped",
	    "failed, and not retried: parrun was stopped");
}

static void
finish_if_done(struct run *r)
{
	if (r->shutting_down)
		return;
	if (r->alive == 0) {
		/* nobody left to run what remains: record it as lost */
		if (r->pending.n > 0 || r->delayed.n > 0 || !r->input_done)
			no_worker_left(r);
		finish_waiting(r, PR_ST_LOST, "no worker left",
		    "failed, and no worker was left to retry it");
		if (!r->input_done)
			return;		/* keep draining the input */
	}
	if (r->stopping && r->inflight == 0) {
		cancel_waiting(r);
		ring_stop(r);
		shutdown_workers(r, "now");
		return;
	}
	if (all_work_done(r))
		shutdown_workers(r, "drain");
}

/* The run's own handles (not the workers', listeners' or srun's). */
static void
close_loop_handles(struct run *r)
{
	uv_close((uv_handle_t *)&r->hb_timer, NULL);
	uv_close((uv_handle_t *)&r->ui_timer, NULL);
	uv_close((uv_handle_t *)&r->retry_timer, NULL);
	uv_close((uv_handle_t *)&r->sigint, NULL);
	uv_close((uv_handle_t *)&r->sigterm, NULL);
	uv_close((uv_handle_t *)&r->check, NULL);
	uv_close((uv_handle_t *)&r->wake, NULL);
	if (r->spawn_idle_init)
		uv_close((uv_handle_t *)&r->spawn_idle, NULL);
	for (int i = 0; i < 2; i++)
		if (r->out_poll_init[i])
			uv_close((uv_handle_t *)&r->out_poll[i], NULL);
}

static void
close_handles_if_done(struct run *r)
{
	for (int i = 0; i < r->nworkers; i++)
		if (!r->workers[i]->closed)
			return;
	if ((!r->input_done && !r->stopping) ||
	    (r->waiting_joins && !r->shutting_down) || r->respawns > 0)
		return;		/* work is left, or workers may still come */
	stop_joining(r);
	if (r->srun != NULL) {
		/* the workers are gone, so the step ends; give srun a moment
		 * to see that before it is told to */
		if (!r->srun_exited) {
			if (!r->srun_stopping) {
				int grace = 3000;

				/* a node that never came (a run shorter than
				 * its start): its worker would keep trying to
				 * connect, and the step would not end itself */
				for (int i = 0; i < r->nworkers; i++)
					if (r->workers[i]->absent)
						grace = 0;
				r->srun_stopping = true;
				pr_srun_stop(r->srun, grace);
			}
			return;
		}
		if (!r->srun_closing) {
			r->srun_closing = true;
			pr_srun_close(r->srun);
		}
		return;		/* until it is closed */
	}
	if (r->open_lsn > 0)
		return;
	/* output queued for a slow reader goes out while the loop still
	 * handles signals (after it, a SIGINT would kill parrun at once) */
	r->output_wait = pr_output_pending(r->out) > 0 && !r->hurry;
	if (r->output_wait)
		return;
	if (!uv_is_closing((uv_handle_t *)&r->hb_timer)) {
		ring_stop(r);	/* the reader must not wake us any more */
		close_loop_handles(r);
	}
}

/* ---- messages from workers ------------------------------------------ */

/* obj: a result as a tree; or fast: one the fast decoder took, whose
 * output is still in the line */
static void
handle_result(struct worker *w, const cJSON *obj,
    const struct pr_result_msg *fast)
{
	struct run *r = w->r;
	struct pr_result_msg res;
	struct pr_errbuf eb = { 0, "" };
	struct job *j;
	uint64_t seq;
	int64_t v = 0;
	int rc;

	if (fast != NULL)
		v = (int64_t)fast->seq;
	/* find the job before decoding the output into its buffers */
	if (fast == NULL &&
	    pr_json_get_i64(obj, "seq", 1, (int64_t)1 << 53, false, &v) < 0) {
		worker_lost(w, "sent a result without a valid 'seq'", true);
		return;
	}
	seq = (uint64_t)v;
	j = table_get(r, seq);
	if (j == NULL || j->w != w) {
		pr_log_warn("worker %d: late or duplicate result for task "
		    "seq %llu: dropped", w->index, (unsigned long long)seq);
		return;
	}
	if (fast != NULL) {
		res = *fast;
		rc = 0;
		if (fast->outlen > 0)
			rc = pr_buf_add(&j->out, fast->out, fast->outlen);
		if (rc == 0 && fast->errlen > 0)
			rc = pr_buf_add(&j->err, fast->err, fast->errlen);
		if (rc < 0)
			pr_err(&eb, rc, "cannot store a result's output: %s",
			    pr_strerror(rc));
	} else {
		rc = pr_result_decode(obj, &res, &j->out, &j->err, &eb);
	}
	if (rc < 0) {
		worker_lost(w, pr_errmsg(&eb, rc), true);
		return;
	}
	if (res.attempt != j->attempt) {
		pr_log_warn("worker %d: result for task '%s' attempt %d, "
		    "expected %d: dropped", w->index, j->t->id, res.attempt,
		    j->attempt);
		return;
	}
	flight_unlink(r, j);
	w->done++;
	pr_sched_observe(&r->sched, res.elapsed, 1);

	if ((res.status == PR_ST_FAILED || res.status == PR_ST_TIMEOUT) &&
	    j->retries_left > 0 && !r->stopping) {
		j->retries_left--;
		pr_output_discard(r->out, j->t->seq);
		pr_buf_reset(&j->out);
		pr_buf_reset(&j->err);
		retry_later(r, j, w);
		return;
	}
	job_finish(r, j, res.status, &res, NULL, w->host, w->index);
}

/*
 * Threads per task: --threads, or the CPUs of the worker's host divided
 * by the tasks that host runs at once (DESIGN §6).  Warns once when the
 * slots times the threads exceed the CPUs with more than one thread per
 * task: that oversubscribes the host.
 */
static int
thread_budget(struct run *r, const struct worker *w, const struct pr_hello *h)
{
	int slots = w->remote ? w->slots : r->local_slots;
	int cpus = h->cpus > 0 ? h->cpus : 1;
	int t = r->cfg->threads > 0 ? r->cfg->threads : cpus / slots;

	if (t < 1)
		t = 1;
	/* more tasks than CPUs at one thread each is the user's -j; more
	 * threads than the CPUs left for them is what we warn about */
	if (t > 1 && (long)slots * t > cpus && !r->warned_threads) {
		r->warned_threads = true;
		pr_log_warn("host '%s': %d tasks at once x %d threads = %ld, "
		    "more than its %d CPUs (oversubscribed)", w->host, slots,
		    t, (long)slots * t, cpus);
	}
	return t;
}

static void claim_node(struct worker *w);

static void
handle_hello(struct worker *w, const cJSON *msg)
{
	struct run *r = w->r;
	struct pr_hello h;
	struct pr_welcome wl;
	struct pr_errbuf eb = { 0, "" };
	int proto, rc;

	rc = pr_hello_decode(msg, &h, &eb);
	if (rc < 0) {
		worker_lost(w, pr_errmsg(&eb, rc), true);
		return;
	}
	rc = pr_proto_negotiate(h.proto_min, h.proto_max, &proto);
	if (rc < 0) {
		char why[160];
		snprintf(why, sizeof(why), "worker speaks protocol %d..%d, "
		    "parrun speaks %d..%d", h.proto_min, h.proto_max,
		    PR_PROTO_MIN, PR_PROTO_MAX);
		pr_msg_reject(&w->wbuf, why, PR_PROTO_MIN, PR_PROTO_MAX);
		worker_flush(w);
		worker_lost(w, why, false);
		return;
	}
	if (w->spec == NULL) {
		snprintf(w->host, sizeof(w->host), "%s", h.host ? h.host : "?");
		if (w->tcp)
			claim_node(w);
	}
	w->pid = h.pid;
	w->slots = h.slots > 0 ? h.slots : 1;

	memset(&wl, 0, sizeof(wl));
	wl.proto = proto;
	wl.worker = w->index;
	wl.hb_ms = r->cfg->hb_ms;
	wl.max_frame = r->max_frame;
	wl.seed = r->seed;
	wl.threads = thread_budget(r, w, &h);
	wl.stream_output = r->cfg->out.line_buffer;
	wl.session = r->session;
	/* --timeout: the default limit of tasks that name none */
	wl.timeout_ms = r->cfg->timeout > 0 ?
	    (int64_t)ceil(r->cfg->timeout * 1000.0) : 0;
	pr_msg_welcome(&w->wbuf, &wl);
	if (r->bcast.len > 0)
		pr_buf_add(&w->wbuf, r->bcast.data, r->bcast.len);
	w->state = W_READY;
	pr_log_debug("worker %d ready: host '%s' pid %ld slots %d", w->index,
	    w->host, w->pid, w->slots);
	/* a TCP worker's hello comes from a timer (the transport replays
	 * it after the handshake), after which the loop would sleep in poll
	 * until the next event before iterate() sends the welcome and the
	 * first tasks: up to a heartbeat later.  Wake it. */
	if (!uv_is_closing((uv_handle_t *)&r->wake))
		uv_async_send(&r->wake);
}

struct line_ctx {
	struct worker *w;
};

static void
on_fast_result(void *arg, size_t i, size_t n, const struct pr_result_msg *res)
{
	struct worker *w = arg;

	(void)i;
	(void)n;
	if (w->state != W_DEAD)
		handle_result(w, NULL, res);
}

static int
on_worker_line(void *arg, char *line, size_t len, int err)
{
	struct worker *w = arg;
	struct run *r = w->r;
	struct pr_errbuf eb = { 0, "" };
	enum pr_msg_type type;
	cJSON *msg = NULL;
	int rc;

	if (w->state == W_DEAD)
		return 1;
	if (err == PR_ETOOBIG) {
		char why[128];
		snprintf(why, sizeof(why), "sent a line over %zu bytes at "
		    "byte %llu", w->fr.max_line,
		    (unsigned long long)w->fr.offset);
		worker_lost(w, why, true);
		return 1;
	}
	/* result(s) in the plain form: no tree (what it decodes is what
	 * the tree would give; anything else takes the general path) */
	if (w->state != W_STARTING) {
		w->last_seen = uv_now(&r->loop);
		if (pr_fast_results_decode(line, len, on_fast_result, w) != 0)
			return w->state == W_DEAD;
	}
	rc = pr_msg_parse(line, len, &msg, &type, &eb);
	if (rc < 0) {
		char why[PR_ERRBUF_LEN + 64];
		snprintf(why, sizeof(why), "sent garbage at byte %llu: %s",
		    (unsigned long long)w->fr.offset, pr_errmsg(&eb, rc));
		worker_lost(w, why, true);
		return 1;
	}
	w->last_seen = uv_now(&r->loop);
	if (w->state == W_STARTING) {
		if (type != PR_MSG_HELLO)
			worker_lost(w, "did not start with hello", true);
		else
			handle_hello(w, msg);
		cJSON_Delete(msg);
		return w->state == W_DEAD;
	}
	switch (type) {
	case PR_MSG_RESULT:
		handle_result(w, msg, NULL);
		break;
	case PR_MSG_RESULTS: {
		const cJSON *arr = cJSON_GetObjectItemCaseSensitive(msg,
		    "results"), *it;
		if (!cJSON_IsArray(arr)) {
			worker_lost(w, "sent 'results' without an array", true);
			break;
		}
		cJSON_ArrayForEach(it, arr) {
			if (w->state == W_DEAD)
				break;
			handle_result(w, it, NULL);
		}
		break;
	}
	case PR_MSG_OUTPUT: {
		uint64_t seq;
		int attempt, stream;
		struct pr_buf tmp;
		struct job *j;

		pr_buf_init(&tmp, 0);
		rc = pr_output_decode(msg, &seq, &attempt, &stream, &tmp, &eb);
		if (rc < 0) {
			pr_buf_release(&tmp);
			worker_lost(w, pr_errmsg(&eb, rc), true);
			break;
		}
		j = table_get(r, seq);
		if (j != NULL && j->w == w && j->attempt == attempt) {
			/* held by the output, spilled past its memory
			 * cap; --value parses the whole stdout */
			if (r->cfg->out.line_buffer ||
			    !r->cfg->out.parse_value)
				pr_output_chunk(r->out, seq, j->t->tag, stream,
				    tmp.data ? tmp.data : "", tmp.len, NULL);
			else
				pr_buf_add(stream == 2 ? &j->err : &j->out,
				    tmp.data ? tmp.data : "", tmp.len);
		}
		pr_buf_release(&tmp);
		break;
	}
	case PR_MSG_STARTED: {
		uint64_t seq;
		int attempt;
		long pid;
		struct job *j;

		rc = pr_started_decode(msg, &seq, &attempt, &pid, &eb);
		if (rc < 0) {
			worker_lost(w, pr_errmsg(&eb, rc), true);
			break;
		}
		j = table_get(r, seq);
		if (j != NULL && j->w == w && j->attempt == attempt)
			j->started = true;
		break;
	}
	case PR_MSG_HB:
	case PR_MSG_BYE:
		break;
	case PR_MSG_ERROR: {
		const cJSON *m = cJSON_GetObjectItemCaseSensitive(msg, "msg");
		const cJSON *f = cJSON_GetObjectItemCaseSensitive(msg, "fatal");
		pr_log_warn("worker %d (%s): %s", w->index, w->host,
		    cJSON_IsString(m) ? m->valuestring : "error");
		if (cJSON_IsTrue(f))
			worker_lost(w, "reported a fatal error", true);
		break;
	}
	default:
		pr_msg_error(&w->wbuf, "unknown-type",
		    "unknown message type", false);
		break;
	}
	cJSON_Delete(msg);
	return w->state == W_DEAD;
}

/* ---- worker lifecycle ------------------------------------------------ */

static void
on_tr_closed(void *arg)
{
	struct worker *w = arg;

	w->closed = true;
	w->tr = NULL;
	close_handles_if_done(w->r);
}

static void
worker_close(struct worker *w)
{
	if (w->tr != NULL && !w->closed)
		pr_transport_close(w->tr);
}

/*
 * --respawn: a lost worker is replaced (a new process or SSH connection
 * to the same host) once it is gone, RESPAWN_DELAY_MS later.  A host
 * whose workers are lost the crash limit + 2 times in a row without a
 * result between is dropped (so a task that kills every worker it runs
 * on is recorded lost first, and its host goes on); without --respawn a
 * lost worker is not replaced, so its host takes no more tasks.  Workers
 * that connect back (Slurm nodes, --listen) are started by others and
 * are not replaced.
 */
#define RESPAWN_DELAY_MS	500

static struct worker *worker_new(struct run *r, const struct pr_host *spec);
static int worker_start(struct run *r, struct worker *w);

static void
plan_respawn(struct worker *w, const char *why)
{
	struct run *r = w->r;
	int limit = r->cfg->crash_limit + 2;

	if (!r->cfg->respawn || w->tcp || w->node)
		return;
	w->lost_in_row = w->done > 0 ? 1 : w->lost_in_row + 1;
	if (w->lost_in_row >= limit && w->remote)
		pr_log_error("dropping host '%s': its worker was lost %d "
		    "times in a row without finishing a task (last: %s)",
		    w->host, w->lost_in_row, why);
	else if (w->lost_in_row >= limit)
		pr_log_error("not replacing worker %d: it and the workers "
		    "before it were lost %d times in a row without finishing "
		    "a task (last: %s)", w->index, w->lost_in_row, why);
	if (w->lost_in_row >= limit)
		return;
	w->respawn_due = true;
	r->respawns++;
	r->alive++;
}

/* From the heartbeat tick: replace the lost workers that are gone. */
static void
respawn_workers(struct run *r, uint64_t now)
{
	for (int i = 0; i < r->nworkers; i++) {
		struct worker *w = r->workers[i], *nw;

		if (!w->respawn_due || (!r->stopping && !r->shutting_down &&
		    (!w->closed || now - w->dead_at < RESPAWN_DELAY_MS)))
			continue;
		w->respawn_due = false;
		r->respawns--;
		r->alive--;
		if (r->stopping || r->shutting_down)
			continue;
		nw = worker_new(r, w->spec);
		if (nw == NULL) {
			pr_log_error("cannot replace worker %d: %d workers "
			    "in the run already", w->index, r->nworkers);
			continue;
		}
		nw->lost_in_row = w->lost_in_row;
		pr_log_info("worker %d (%s) replaces worker %d", nw->index,
		    w->host[0] ? w->host : "localhost", w->index);
		(void)worker_start(r, nw);	/* logs its own failure */
	}
}

/*
 * A worker is gone or untrustworthy: kill it, put its in-flight jobs back
 * (attempt + 1) or record them as lost past the crash limit.
 */
static void
worker_lost(struct worker *w, const char *why, bool kill)
{
	struct run *r = w->r;
	struct job *j;
	bool expected = w->state == W_DRAINING;

	if (w->state == W_DEAD)
		return;
	if (!expected || w->outstanding > 0)
		pr_log_error("worker %d (%s, pid %ld) lost: %s", w->index,
		    w->host[0] ? w->host : "starting", w->pid, why);
	w->state = W_DEAD;
	r->alive--;
	if (!expected && !r->stopping && !r->shutting_down)
		plan_respawn(w, why);
	if (w->tr != NULL && !w->exited) {
		if (kill)
			w->tr->ops->kill(w->tr, SIGKILL);
		else	/* let it read what we sent and leave on its own */
			w->tr->ops->shutdown(w->tr);
	}
	w->dead_at = uv_now(&r->loop);
	while ((j = w->flights) != NULL) {
		/* the newest first: the last `slots` are the oldest */
		bool oldest = w->outstanding <= (size_t)w->slots;

		flight_unlink(r, j);
		/*
		 * Only a task that was running counts the loss: the ones
		 * waiting in the worker's queue did nothing to it, and must
		 * not be recorded lost without ever running.  Running are
		 * the ones seen starting, and the oldest `slots` (the worker
		 * takes its queue in order, and a task that kills it at once
		 * may take its "started" with it).  Kernels send no
		 * "started": they all count.  (A worker's last messages die
		 * with it: if the result of the task before was lost as
		 * well, the blame goes to that one; the respawn limit of the
		 * host bounds that.)
		 */
		if (j->started || oldest || j->t->kind == PR_KIND_KERNEL)
			j->crashes++;
		if (j->crashes >= r->cfg->crash_limit || r->stopping) {
			char msg[PR_ERRBUF_LEN];

			if (r->stopping)
				snprintf(msg, sizeof(msg), "cancelled: its "
				    "worker was lost (%s)", why);
			else
				snprintf(msg, sizeof(msg), "lost: its worker "
				    "was lost %d times (last: %s)",
				    j->crashes, why);
			job_finish(r, j, r->stopping ? PR_ST_CANCELLED :
			    PR_ST_LOST, NULL, msg, w->host, w->index);
			continue;
		}
		pr_progress_stopped(r->prog, w->index);
		j->attempt++;
		pr_output_discard(r->out, j->t->seq);
		pr_buf_reset(&j->out);
		pr_buf_reset(&j->err);
		jobq_push_front(&r->pending, j);
	}
	/* pinned jobs have nowhere else to go */
	while ((j = jobq_pop(&w->pinned)) != NULL)
		job_finish(r, j, PR_ST_LOST, NULL, "its worker was lost",
		    w->host, w->index);
	if (w->exited || w->eof)
		worker_close(w);
}

static void
on_tr_data(void *arg, char *data, size_t len)
{
	struct worker *w = arg;

	if (w->state == W_DEAD)
		return;
	pr_framer_feed(&w->fr, data, len, on_worker_line, w);
}

static void
on_tr_eof(void *arg, int err)
{
	struct worker *w = arg;

	w->eof = true;
	if (w->state != W_DEAD) {
		if (pr_framer_finish(&w->fr, false, NULL, NULL) < 0)
			worker_lost(w, "stream ended inside a message", true);
		else if (w->state == W_DRAINING && w->outstanding == 0) {
			w->state = W_DEAD;
			w->r->alive--;
		} else
			worker_lost(w, err >= 0 ? "closed its connection" :
			    w->tr != NULL && w->tr->error[0] != '\0' ?
			    w->tr->error : pr_strerror(err), false);
	}
	if (w->exited)
		worker_close(w);
}

static void
on_tr_exited(void *arg, long status, int sig)
{
	struct worker *w = arg;
	char why[96];

	w->exited = true;
	if (w->state != W_DEAD) {
		if (sig != 0)
			snprintf(why, sizeof(why), "killed by signal %d", sig);
		else
			snprintf(why, sizeof(why), "exited with status %ld",
			    status);
		if (!w->eof)
			return;		/* let the stream drain first */
		worker_lost(w, why, false);
	}
	if (w->eof)
		worker_close(w);
}

/* Append the words of cmd (split on blanks) to argv; they live in
 * *store, which the caller frees. */
static int
split_command(const char *cmd, char ***argv, size_t *argc, char **store)
{
	char *copy = strdup(cmd), *p;

	if (copy == NULL)
		return -ENOMEM;
	*store = copy;
	for (p = copy; *p != '\0';) {
		char **v;

		while (*p == ' ' || *p == '\t')
			*p++ = '\0';
		if (*p == '\0')
			break;
		v = realloc(*argv, (*argc + 2) * sizeof(*v));
		if (v == NULL)
			return -ENOMEM;
		*argv = v;
		v[(*argc)++] = p;
		v[*argc] = NULL;
		while (*p != '\0' && *p != ' ' && *p != '\t')
			p++;
	}
	return 0;
}

/* The command line a remote shell runs: the worker, quoted. */
static int
remote_command(const struct run *r, int slots, struct pr_buf *b)
{
	const char *path = r->cfg->remote_worker ? r->cfg->remote_worker :
	    "parrun-worker";
	int rc;

	if ((rc = pr_shell_quote(b, path, strlen(path))) < 0)
		return rc;
	return pr_buf_addf(b, " --slots %d --max-frame %zu", slots,
	    r->max_frame);
}

static int
start_transport(struct run *r, struct worker *w,
    const struct pr_transport_cb *cb, struct pr_errbuf *eb)
{
	const struct pr_host *h = w->spec;
	char frame[32], slots[16], port[16];
	struct pr_buf cmd;
	char **argv = NULL, *store = NULL;
	size_t argc = 0;
	int rc;

	if (!w->remote) {
		char *largv[6];

		snprintf(frame, sizeof(frame), "%zu", r->max_frame);
		largv[0] = (char *)r->cfg->worker_path;
		largv[1] = (char *)"--slots";
		largv[2] = (char *)"1";
		largv[3] = (char *)"--max-frame";
		largv[4] = frame;
		largv[5] = NULL;
		return pr_transport_local_start(&r->loop, largv, cb, &w->tr,
		    eb);
	}
	pr_buf_init(&cmd, 0);
	rc = remote_command(r, w->slots, &cmd);
	if (rc < 0)
		goto out;
	if (r->cfg->ssh_command == NULL) {
		rc = pr_transport_ssh_start(&r->loop, &r->cfg->ssh, h->name,
		    h->port, h->user, cmd.data, cb, &w->tr, eb);
		goto out;
	}
	/* through the OpenSSH client: honours ~/.ssh/config, ProxyJump */
	if ((rc = split_command(r->cfg->ssh_command, &argv, &argc,
	    &store)) < 0 || argc == 0) {
		rc = pr_err(eb, PR_ECONFIG, "empty --ssh-command");
		goto out;
	}
	snprintf(port, sizeof(port), "%d", h->port);
	snprintf(slots, sizeof(slots), "%d", w->slots);
	{
		char **v = realloc(argv, (argc + 8) * sizeof(*v));
		if (v == NULL) {
			rc = -ENOMEM;
			goto out;
		}
		argv = v;
	}
	if (h->port > 0) {
		argv[argc++] = (char *)"-p";
		argv[argc++] = port;
	}
	if (h->user != NULL) {
		argv[argc++] = (char *)"-l";
		argv[argc++] = h->user;
	}
	argv[argc++] = (char *)"--";
	argv[argc++] = h->name;
	argv[argc++] = cmd.data;
	argv[argc] = NULL;
	rc = pr_transport_local_start(&r->loop, argv, cb, &w->tr, eb);
out:
	free(argv);
	free(store);
	pr_buf_release(&cmd);
	return rc;
}

/* A new worker at the end of the array, not started (NULL: no memory, or
 * the run has its r->wmax workers already). */
static struct worker *
worker_new(struct run *r, const struct pr_host *spec)
{
	struct worker *w;

	if (r->nworkers >= r->wmax)
		return NULL;
	if (r->nworkers == r->wcap) {
		int cap = r->wcap > 0 ? r->wcap * 2 : 16;
		struct worker **v;

		if (cap > r->wmax)
			cap = r->wmax;
		v = realloc(r->workers, (size_t)cap * sizeof(*v));
		if (v == NULL)
			return NULL;
		r->workers = v;
		r->wcap = cap;
	}
	w = calloc(1, sizeof(*w));
	if (w == NULL)
		return NULL;
	w->r = r;
	w->index = r->nworkers + 1;
	w->state = W_STARTING;
	w->spec = spec;
	if (spec != NULL)
		snprintf(w->host, sizeof(w->host), "%s", spec->name);
	pr_framer_init(&w->fr, r->max_frame);
	pr_buf_init(&w->wbuf, 0);
	r->workers[r->nworkers++] = w;
	if (r->sched.nworkers < r->nworkers)
		r->sched.nworkers = r->nworkers;
	return w;
}

static void
worker_callbacks(struct worker *w, struct pr_transport_cb *cb)
{
	cb->arg = w;
	cb->data = on_tr_data;
	cb->eof = on_tr_eof;
	cb->exited = on_tr_exited;
	cb->closed = on_tr_closed;
}

/* Start w: a local child, or an SSH connection. */
static int
worker_start(struct run *r, struct worker *w)
{
	const struct pr_host *spec = w->spec;
	struct pr_transport_cb cb;
	struct pr_errbuf eb = { 0, "" };
	int rc;

	w->remote = spec != NULL && spec->via == PR_VIA_SSH;
	w->slots = w->remote ? spec->slots : 1;
	worker_callbacks(w, &cb);
	rc = start_transport(r, w, &cb, &eb);
	if (rc < 0) {
		pr_log_error("%s", pr_errmsg(&eb, rc));
		w->state = W_DEAD;
		w->closed = true;
		return rc;
	}
	w->started_at = uv_now(&r->loop);
	w->last_seen = w->started_at;
	r->alive++;
	return 0;
}

/* ---- workers that connect back (Slurm nodes, --listen) ----------------- */

static void
lsn_close(struct lsn *ls)
{
	if (ls->l != NULL) {
		pr_listener_close(ls->l);
		ls->l = NULL;
	}
}

static void
on_lsn_closed(void *arg)
{
	struct lsn *ls = arg;

	ls->closed = true;
	ls->r->open_lsn--;
	close_handles_if_done(ls->r);
}

/*
 * A node whose worker will not come (never connected, or the run no
 * longer waits for it): it is dead; tasks placed on it are lost.  why
 * NULL: quietly (the run is ending anyway).
 */
static void
node_gone(struct worker *w, const char *why)
{
	struct run *r = w->r;
	struct job *j;

	if (w->state == W_DEAD)
		return;
	if (why != NULL)
		pr_log_error("node '%s' never connected%s", w->host, why);
	w->state = W_DEAD;
	w->closed = true;
	w->absent = true;
	w->dead_at = uv_now(&r->loop);
	r->alive--;
	if (w->lsn != NULL)
		lsn_close(w->lsn);
	while ((j = jobq_pop(&w->pinned)) != NULL)
		job_finish(r, j, PR_ST_LOST, NULL, "its node never connected",
		    w->host, w->index);
}

/*
 * A worker that joined through --listen said hello from host h: if it
 * is the worker of a Slurm node still expected (by name, or the short
 * name), it takes the node's place, and the node's placeholder goes.
 */
static void
claim_node(struct worker *w)
{
	struct run *r = w->r;
	size_t hl = strcspn(w->host, ".");
	struct worker *p = NULL;
	struct job *j;

	for (int i = 0; i < r->nworkers && p == NULL; i++) {
		struct worker *c = r->workers[i];
		size_t cl;

		if (!c->node || c->tr != NULL || c->state != W_STARTING)
			continue;
		cl = strcspn(c->host, ".");
		if (strcmp(c->host, w->host) == 0 || (cl == hl &&
		    strncmp(c->host, w->host, hl) == 0))
			p = c;
	}
	if (p == NULL)
		return;
	w->spec = p->spec;
	w->node = true;
	snprintf(w->host, sizeof(w->host), "%s", p->host);
	while ((j = jobq_pop(&p->pinned)) != NULL)
		jobq_push(&w->pinned, j);
	pr_log_debug("worker %d is node '%s'", w->index, w->host);
	node_gone(p, NULL);
}

static void
on_lsn_accepted(void *arg, struct pr_transport *t, const char *peer)
{
	struct lsn *ls = arg;
	struct run *r = ls->r;
	struct worker *w = ls->node;
	struct pr_transport_cb cb;

	if (w != NULL) {
		/* the node's own port: it takes one worker */
		lsn_close(ls);
		if (w->state != W_STARTING || w->tr != NULL) {
			pr_log_warn("node '%s': worker from '%s' came too "
			    "late: dropped", w->host, peer);
			pr_transport_close(t);
			return;
		}
	} else {
		if (r->stopping || r->shutting_down ||
		    (w = worker_new(r, NULL)) == NULL) {
			pr_log_warn("refused worker from '%s': %s", peer,
			    r->stopping || r->shutting_down ?
			    "the run is ending" : "too many workers "
			    "(--max-workers)");
			pr_transport_close(t);
			return;
		}
		w->remote = true;
		w->tcp = true;
		w->slots = 1;
		snprintf(w->host, sizeof(w->host), "%s", peer);
		r->alive++;
	}
	w->tr = t;
	w->started_at = uv_now(&r->loop);
	w->last_seen = w->started_at;
	worker_callbacks(w, &cb);
	pr_transport_tcp_attach(t, &cb);
	pr_log_info("worker %d connected from '%s'%s%s%s", w->index, peer,
	    w->node ? " (node '" : "", w->node ? w->host : "",
	    w->node ? "')" : "");
}

static int
lsn_start(struct run *r, struct lsn *ls, const char *addr,
    struct pr_errbuf *eb)
{
	struct pr_listener_cb cb;
	int rc;

	memset(&cb, 0, sizeof(cb));
	cb.arg = ls;
	cb.accepted = on_lsn_accepted;
	cb.closed = on_lsn_closed;
	ls->r = r;
	rc = pr_listener_start(&r->loop, addr, r->secret, NULL, &cb, &ls->l,
	    eb);
	if (rc < 0) {
		ls->l = NULL;
		ls->closed = true;
		return rc;
	}
	r->open_lsn++;
	return 0;
}

/* No more workers join: listeners closed, --listen's wait over, Slurm
 * nodes not connected yet given up (quietly: the run is ending). */
static void
stop_joining(struct run *r)
{
	for (size_t i = 0; i < r->nlsn; i++)
		lsn_close(&r->lsns[i]);
	if (r->waiting_joins) {
		r->waiting_joins = false;
		r->alive--;
	}
	for (int i = 0; i < r->nworkers; i++) {
		struct worker *w = r->workers[i];

		if (w->node && w->tr == NULL)
			node_gone(w, NULL);
	}
}

static void
on_srun_exited(void *arg, long status, int sig)
{
	struct run *r = arg;
	char why[128];

	r->srun_exited = true;
	if (!r->shutting_down && !r->srun_stopping) {
		if (sig != 0)
			snprintf(why, sizeof(why), "srun was killed by signal "
			    "%d", sig);
		else
			snprintf(why, sizeof(why), "srun exited with status "
			    "%ld", status);
		pr_log_warn("%s while the run went on", why);
		for (int i = 0; i < r->nworkers; i++) {
			struct worker *w = r->workers[i];
			char msg[160];

			if (w->node && w->tr == NULL) {
				snprintf(msg, sizeof(msg), ": %s", why);
				node_gone(w, msg);
			}
		}
	}
	close_handles_if_done(r);
}

static void
on_srun_closed(void *arg)
{
	struct run *r = arg;

	r->srun = NULL;
	close_handles_if_done(r);
}

/* "HOST:0", with IPv6 addresses in brackets. */
static void
any_port(char *out, size_t n, const char *host)
{
	if (strchr(host, ':') != NULL)
		snprintf(out, n, "[%s]:0", host);
	else
		snprintf(out, n, "%s:0", host);
}

/*
 * One srun step for the Slurm nodes: each node gets a placeholder
 * worker (it counts as alive: srun is starting it) and, unless --listen
 * gave a fixed port, a listener of its own on the address the nodes
 * reach, so the connection names the node whatever its hostname says.
 * A failure to start srun leaves every node dead with the reason.
 */
static int
start_srun(struct run *r, size_t nnodes, struct pr_errbuf *eb)
{
	const struct pr_hosts *hs = r->cfg->hosts;
	struct pr_srun_rank *ranks = NULL;
	struct pr_srun_opts so;
	struct pr_srun_cb scb;
	struct lsn *shared = NULL;
	char host[256], addr[300];
	char **conn = NULL, **srun_argv = NULL, *srun_store = NULL;
	size_t k = 0, nsrun_argv = 0;
	int port = 0, rc;

	ranks = calloc(nnodes, sizeof(*ranks));
	conn = calloc(nnodes, sizeof(*conn));
	if (ranks == NULL || conn == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	if (r->cfg->listen != NULL) {
		rc = pr_tcp_parse_addr(r->cfg->listen, host, sizeof(host),
		    &port, eb);
		if (rc < 0)
			goto out;
	} else {
		rc = pr_srun_listen_addr(hs, pr_env_process, NULL, host,
		    sizeof(host), eb);
		if (rc < 0)
			goto out;
	}
	if (port != 0) {
		/* one port for all: nodes are told apart by their names */
		shared = &r->lsns[r->nlsn++];
		rc = lsn_start(r, shared, r->cfg->listen, eb);
		if (rc < 0)
			goto out;
		r->joinable = shared;
	}
	for (size_t i = 0; i < hs->n; i++) {
		const struct pr_host *h = &hs->v[i];
		struct worker *w;

		if (h->via != PR_VIA_SRUN)
			continue;
		w = worker_new(r, h);
		if (w == NULL) {
			rc = pr_err(eb, -ENOMEM, "too many workers");
			goto out;
		}
		w->remote = true;
		w->node = true;
		w->tcp = true;
		w->slots = h->slots;
		r->alive++;
		if (shared == NULL) {
			struct lsn *ls = &r->lsns[r->nlsn++];

			any_port(addr, sizeof(addr), host);
			ls->node = w;
			w->lsn = ls;
			rc = lsn_start(r, ls, addr, eb);
			if (rc < 0)
				goto out;
		}
		conn[k] = strdup(pr_listener_addr(shared != NULL ? shared->l :
		    w->lsn->l));
		if (conn[k] == NULL) {
			rc = -ENOMEM;
			goto out;
		}
		ranks[k].node = h->name;
		ranks[k].slots = h->slots;
		if (h->slots > PR_SRUN_SLOTS_MAX) {
			pr_log_warn("node '%s': %d slots, more than a worker "
			    "runs at once: %d", h->name, h->slots,
			    PR_SRUN_SLOTS_MAX);
			ranks[k].slots = PR_SRUN_SLOTS_MAX;
		}
		ranks[k].connect = conn[k];
		k++;
	}
	memset(&so, 0, sizeof(so));
	if (r->cfg->srun != NULL) {
		rc = split_command(r->cfg->srun, &srun_argv, &nsrun_argv,
		    &srun_store);
		if (rc < 0)
			goto out;
		so.srun = srun_argv;
	}
	so.worker = r->cfg->remote_worker != NULL ? r->cfg->remote_worker :
	    r->cfg->worker_path;
	so.max_frame = r->max_frame;
	memset(&scb, 0, sizeof(scb));
	scb.arg = r;
	scb.exited = on_srun_exited;
	scb.closed = on_srun_closed;
	rc = pr_srun_start(&r->loop, &so, ranks, k, r->secret, &scb,
	    &r->srun, eb);
	if (rc < 0)
		goto out;
	pr_log_info("srun (pid %ld) starts workers on %zu node%s, connecting "
	    "to %s", pr_srun_pid(r->srun), k, k == 1 ? "" : "s",
	    shared != NULL ? pr_listener_addr(shared->l) : host);
out:
	if (rc < 0) {
		for (int i = 0; i < r->nworkers; i++)
			if (r->workers[i]->node)
				node_gone(r->workers[i], NULL);
		stop_joining(r);
	}
	/* the deadline starts now (finding the address may have taken a
	 * while: the loop's clock is from before) */
	uv_update_time(&r->loop);
	for (int i = 0; i < r->nworkers; i++)
		if (r->workers[i]->node)
			r->workers[i]->started_at = uv_now(&r->loop);
	for (size_t i = 0; conn != NULL && i < nnodes; i++)
		free(conn[i]);
	free(conn);
	free(ranks);
	free(srun_argv);
	free(srun_store);
	return rc;
}

/* --listen without Slurm nodes: any worker with the secret may join. */
static int
start_listen(struct run *r, struct pr_errbuf *eb)
{
	const char *path = r->cfg->secret_file != NULL ? r->cfg->secret_file :
	    r->secret_path;
	const char *worker = r->cfg->remote_worker != NULL ?
	    r->cfg->remote_worker : "parrun-worker";
	struct lsn *ls = &r->lsns[r->nlsn++];
	const char *addr;
	int rc;

	rc = lsn_start(r, ls, r->cfg->listen, eb);
	if (rc < 0)
		return rc;
	r->joinable = ls;
	/* until the deadline, no worker yet is not "no worker left" */
	r->waiting_joins = true;
	r->alive++;
	r->join_deadline = uv_now(&r->loop) +
	    (uint64_t)r->cfg->ssh.connect_timeout_ms;
	addr = pr_listener_addr(ls->l);
	pr_log_warn("listening for workers on %s; start them with: %s "
	    "--connect %s --secret-file %s", addr, worker, addr, path);
	return 0;
}

/*
 * The run's secret, for workers that connect back: --secret-file's (made
 * with a fresh secret when the file does not exist), else a fresh one;
 * --listen without --secret-file writes it to a private file for the
 * workers started by hand (removed at the end).
 */
static int
setup_secret(struct run *r, bool nodes, struct pr_errbuf *eb)
{
	const char *path = r->cfg->secret_file;
	int rc;

	if (path != NULL) {
		rc = pr_secret_read_file(path, r->secret, eb);
		if (rc != -ENOENT)
			return rc;
		if ((rc = pr_secret_generate(r->secret)) < 0)
			return pr_err(eb, rc, "cannot make a secret");
		rc = pr_secret_write_file(path, r->secret, eb);
		if (rc == -EEXIST)	/* made meanwhile: use that one */
			return pr_secret_read_file(path, r->secret, eb);
		if (rc == 0)
			pr_log_info("wrote a new secret to '%s'", path);
		return rc;
	}
	if ((rc = pr_secret_generate(r->secret)) < 0)
		return pr_err(eb, rc, "cannot make a secret");
	if (r->cfg->listen != NULL && !nodes)
		rc = pr_secret_write_private(NULL, r->secret, &r->secret_path,
		    eb);
	return rc;
}

/* ---- starting many local workers ----------------------------------- */

/* No more workers will be started (the run is ending, or has all it
 * needs). */
static void
stop_spawning(struct run *r)
{
	r->alive -= r->spawn_left;
	r->spawn_left = 0;
	if (r->spawn_idle_init)
		uv_idle_stop(&r->spawn_idle);
}

/*
 * The next worker to start, not taken yet: false when none is left, else
 * *hp is its host (NULL for -j's).  The hosts go in order, one worker per
 * slot on a local host, one on a remote host, none for Slurm nodes (srun
 * starts theirs).  Once a local worker could not be started, the other
 * local ones are skipped (they would fail alike: no more processes or
 * descriptors, no worker program); remote hosts still start.
 */
static bool
spawn_peek(struct run *r, const struct pr_host **hp)
{
	const struct pr_hosts *hs = r->cfg->hosts;
	bool listed = hs != NULL && hs->n > 0;

	while (r->spawn_left > 0) {
		const struct pr_host *h = NULL;

		if (listed) {
			int k;

			if (r->spawn_hi >= hs->n)
				break;		/* not reached: counted */
			h = &hs->v[r->spawn_hi];
			k = h->via == PR_VIA_LOCAL ? h->slots :
			    h->via == PR_VIA_SRUN ? 0 : 1;
			if (r->spawn_hj >= k) {
				r->spawn_hi++;
				r->spawn_hj = 0;
				continue;
			}
		}
		if (r->spawn_local_failed && (h == NULL ||
		    h->via == PR_VIA_LOCAL)) {
			if (listed)
				r->spawn_hj++;
			r->spawn_left--;
			r->alive--;
			continue;
		}
		*hp = h;
		return true;
	}
	return false;
}

static void
spawn_some(struct run *r, int n)
{
	const struct pr_host *h;

	uv_update_time(&r->loop);	/* each one's hello deadline */
	while (n-- > 0 && spawn_peek(r, &h)) {
		struct worker *w = worker_new(r, h);

		if (w == NULL) {
			stop_spawning(r);
			return;
		}
		if (h != NULL)
			r->spawn_hj++;
		r->spawn_left--;
		r->alive--;		/* worker_start counts it again */
		if (worker_start(r, w) < 0 && (h == NULL ||
		    h->via == PR_VIA_LOCAL))
			r->spawn_local_failed = true;	/* said why */
	}
	if (!spawn_peek(r, &h))
		stop_spawning(r);
}

/*
 * The rest of a large -j (or of many local slots), SPAWN_BURST a loop
 * turn (the loop does not block meanwhile).  Started all at once, 3000
 * workers took longer than their 10 s wait for a welcome, which the loop
 * could not send before it ran.  When all the input has been handed out
 * no more are needed.
 */
static void
on_spawn_idle(uv_idle_t *h)
{
	struct run *r = h->data;

	if (r->stopping || r->shutting_down || (r->input_done &&
	    r->pending.n == 0 && r->delayed.n == 0))
		stop_spawning(r);
	else
		spawn_some(r, SPAWN_BURST);
}

/* Workers: -j local ones, or per host: one per slot on local hosts, one
 * holding all the slots on a remote host (one SSH connection each); one
 * srun step for the Slurm nodes; a listener for --listen. */
static int
start_workers(struct run *r, struct pr_errbuf *eb)
{
	const struct pr_hosts *hs = r->cfg->hosts;
	size_t nnodes = 0;
	long initial = 0;
	int rc;

	if (hs == NULL || hs->n == 0) {
		initial = r->cfg->jobs;
	} else {
		for (size_t i = 0; i < hs->n; i++) {
			initial += hs->v[i].via == PR_VIA_LOCAL ?
			    hs->v[i].slots : 1;
			if (hs->v[i].via == PR_VIA_SRUN)
				nnodes++;
		}
	}
	r->wmax = r->cfg->max_workers > 0 ? r->cfg->max_workers :
	    PR_MAX_WORKERS;
	if (initial > r->wmax) {
		if (r->cfg->max_workers > 0)
			return pr_err(eb, PR_ELIMIT, "%ld workers, more than "
			    "--max-workers %d", initial, r->wmax);
		r->wmax = (int)initial;
	}
	if (nnodes > 0 || r->cfg->listen != NULL) {
		rc = setup_secret(r, nnodes > 0, eb);
		if (rc < 0)
			return rc;
		r->lsns = calloc(nnodes + 1, sizeof(*r->lsns));
		if (r->lsns == NULL)
			return -ENOMEM;
	}
	/* first, so a failure leaves nothing behind */
	if (nnodes == 0 && r->cfg->listen != NULL &&
	    (rc = start_listen(r, eb)) < 0)
		return rc;
	if (hs == NULL || hs->n == 0) {
		r->local_slots = r->cfg->jobs;
		r->spawn_left = r->cfg->jobs;
	} else {
		for (size_t i = 0; i < hs->n; i++) {
			const struct pr_host *h = &hs->v[i];

			if (h->via == PR_VIA_LOCAL) {
				r->local_slots += h->slots;
				r->spawn_left += h->slots;
			} else if (h->via != PR_VIA_SRUN) {
				r->spawn_left++;
			}
		}
	}
	/* the first burst now, the rest from the loop */
	r->alive += r->spawn_left;
	spawn_some(r, SPAWN_BURST);
	if (r->spawn_left > 0) {
		uv_idle_init(&r->loop, &r->spawn_idle);
		r->spawn_idle.data = r;
		r->spawn_idle_init = true;
		uv_idle_start(&r->spawn_idle, on_spawn_idle);
	}
	if (nnodes > 0) {
		struct pr_errbuf seb = { 0, "" };

		rc = start_srun(r, nnodes, &seb);
		if (rc < 0) {
			/* the other workers (if any) go on without them */
			pr_log_error("cannot start workers on the Slurm "
			    "nodes: %s", pr_errmsg(&seb, rc));
			if (r->alive == 0 && r->rc == 0)
				r->rc = pr_err(r->eb, PR_ENOWORKER, "no worker "
				    "could be started");
		}
	}
	return 0;
}

/* ---- loop callbacks ------------------------------------------------- */

static void
on_out_writable(uv_poll_t *p, int status, int events)
{
	(void)events;
	/* the check handle (iterate) writes; a broken fd shows up there */
	if (status < 0)
		uv_poll_stop(p);
}

/*
 * A slow reader of our stdout: past OUT_HIGH bytes queued, stop reading
 * the workers (their tasks then block in their writes), resume below
 * OUT_LOW; wait for the fds to take more.  Not while stopping: the
 * cancelled tasks' results must come in (the queue spills to disk).
 */
static void
output_backpressure(struct run *r)
{
	size_t q = pr_output_pending(r->out);
	uint64_t now = uv_now(&r->loop);
	bool want;

	want = !r->stopping && q > (r->reads_paused ? OUT_LOW : OUT_HIGH);
	r->reads_paused = want;
	for (int i = 0; i < r->nworkers; i++) {
		struct worker *w = r->workers[i];
		bool p = want && w->state == W_READY;

		if (w->paused == p || w->tr == NULL || w->closed)
			continue;
		w->tr->ops->pause(w->tr, p);
		w->paused = p;
		if (!p)		/* its silence counts from now */
			w->last_seen = now;
	}
	for (int i = 0; i < 2; i++) {
		size_t pending;
		bool on;

		if (!r->out_poll_init[i] ||
		    uv_is_closing((uv_handle_t *)&r->out_poll[i]))
			continue;
		(void)pr_output_wait_fd(r->out, i, &pending);
		on = pending > 0;
		if (on == r->out_polling[i])
			continue;
		if (on)
			uv_poll_start(&r->out_poll[i], UV_WRITABLE,
			    on_out_writable);
		else
			uv_poll_stop(&r->out_poll[i]);
		r->out_polling[i] = on;
	}
}

static void
iterate(struct run *r)
{
	struct pr_errbuf eb = { 0, "" };
	int rc;

	drain_ring(r);
	dispatch(r);
	finish_if_done(r);
	for (int i = 0; i < r->nworkers; i++)
		worker_flush(r->workers[i]);
	close_handles_if_done(r);
	/* results become durable before their output is written */
	if (r->jn != NULL && !r->journal_failed &&
	    (rc = pr_journal_sync(r->jn, &eb)) < 0)
		journal_error(r, rc, &eb);
	if ((rc = pr_output_flush(r->out, &eb)) < 0)
		output_error(r, rc, &eb);
	output_backpressure(r);
	if (r->output_wait && pr_output_pending(r->out) == 0)
		close_handles_if_done(r);
	if (!pr_output_stderr_busy(r->out))
		pr_progress_update(r->prog, now_unix());
}

static void
on_wake(uv_async_t *a)
{
	(void)a;
}

static void
on_check(uv_check_t *c)
{
	iterate(c->data);
}

static void
on_hb(uv_timer_t *t)
{
	struct run *r = t->data;
	uint64_t now = uv_now(&r->loop);
	bool hb_due = now - r->last_hb >= (uint64_t)r->cfg->hb_ms;
	uint64_t connect_ms = (uint64_t)r->cfg->ssh.connect_timeout_ms;

	if (r->waiting_joins && now >= r->join_deadline) {
		r->waiting_joins = false;
		r->alive--;
		if (r->alive == 0)
			pr_log_error("no worker connected to '%s' within "
			    "%.3g s", r->joinable != NULL &&
			    r->joinable->l != NULL ?
			    pr_listener_addr(r->joinable->l) : r->cfg->listen,
			    (double)connect_ms / 1000.0);
	}

	if (r->respawns > 0)
		respawn_workers(r, now);
	for (int i = 0; i < r->nworkers; i++) {
		struct worker *w = r->workers[i];

		if (w->state == W_DEAD) {
			/* given up on but still there: no more waiting */
			if (!w->exited && w->tr != NULL &&
			    now - w->dead_at > 1000)
				w->tr->ops->kill(w->tr, SIGKILL);
			continue;
		}
		if (w->node && w->tr == NULL) {
			/* srun is starting it: the connect deadline */
			if (now - w->started_at > connect_ms) {
				char why[64];

				snprintf(why, sizeof(why), " (within %.3g s "
				    "of srun's start)", (double)connect_ms /
				    1000.0);
				node_gone(w, why);
			}
			continue;
		}
		if (w->state == W_STARTING) {
			/* it has said nothing yet: no heartbeats to miss */
			if (now - w->started_at > 2 * (uint64_t)r->cfg->hb_ms +
			    (w->remote ? connect_ms : 0))
				worker_lost(w, "no hello in time", true);
			continue;
		}
		/* one we do not read from is not silent: that is us */
		if (!w->paused &&
		    now - w->last_seen > 3 * (uint64_t)r->cfg->hb_ms) {
			worker_lost(w, "missed 3 heartbeats", true);
			continue;
		}
		if (w->state == W_READY && hb_due)
			pr_msg_hb(&w->wbuf, now_unix(), (int)w->outstanding);
	}
	if (hb_due)
		r->last_hb = now;
}

static void
on_ui(uv_timer_t *t)
{
	struct run *r = t->data;

	if (!pr_output_stderr_busy(r->out))
		pr_progress_update(r->prog, now_unix());
}

/* Cancel every task in flight: TERM to its process group, KILL 2 s
 * later; each comes back as a cancelled result. */
static void
cancel_running(struct run *r)
{
	for (int i = 0; i < r->nworkers; i++) {
		struct worker *w = r->workers[i];
		if (w->state == W_READY)
			for (struct job *j = w->flights; j; j = j->wnext)
				pr_msg_cancel(&w->wbuf, j->t->seq, j->attempt,
				    2000);
	}
}

/*
 * --halt: after each final record.  soon: start nothing more, let the
 * running tasks finish (the workers report what they hold and have not
 * started as cancelled); now: cancel the running ones too.  What was read
 * and not run is recorded as cancelled; what was not read has no record
 * (--resume with a --journal runs it later).
 */
static void
check_halt(struct run *r, enum pr_status st, const struct pr_result_msg *res)
{
	const struct pr_halt *h = &r->cfg->halt;
	char policy[64];

	if (r->halted || h->when == PR_HALT_NEVER ||
	    !pr_halt_reached(h, r->sum->tasks, r->sum->ok, r->sum->failed))
		return;
	r->halted = true;
	r->sum->halted = true;
	r->sum->halt_exit = -1;
	if (h->on == PR_HALT_SUCCESS)
		r->sum->halt_exit = 0;
	else if (h->on == PR_HALT_FAIL && st != PR_ST_OK)
		/* as GNU parallel: the status of the task that tipped it */
		r->sum->halt_exit = res != NULL && res->exit > 0 ? res->exit :
		    res != NULL && res->signal > 0 ? 128 + res->signal : 1;
	pr_log_error("halting %s: %" PRIu64 " ok, %" PRIu64 " not ok "
	    "(--halt %s)", h->when == PR_HALT_NOW ? "now" : "soon",
	    r->sum->ok, r->sum->failed,
	    pr_halt_format(h, policy, sizeof(policy)));
	if (r->stopping)
		return;
	r->stopping = true;
	ring_stop(r);
	cancel_waiting(r);
	shutdown_workers(r, h->when == PR_HALT_NOW ? "now" : "soon");
}

static void
on_signal(uv_signal_t *s, int signum)
{
	struct run *r = s->data;
	uint64_t now = uv_now(&r->loop);

	if (r->signal != 0 && signum == SIGINT &&
	    now - r->first_sig_ms < 2000) {
		/* second Ctrl-C: stop everything now */
		pr_log_error("interrupted again: killing every task now");
		r->hurry = true;
		for (int i = 0; i < r->nworkers; i++) {
			struct worker *w = r->workers[i];
			if (w->state != W_DEAD && w->tr != NULL)
				w->tr->ops->kill(w->tr, SIGTERM);
		}
		if (r->srun != NULL && !r->srun_exited) {
			r->srun_stopping = true;
			pr_srun_stop(r->srun, 0);
		}
		return;
	}
	if (r->signal != 0)
		return;
	stop_by_signal(r, signum, signum == SIGINT ? "interrupted" :
	    "terminated");
}

/* Stop dispatch and cancel the running tasks; parrun then ends as if
 * killed by signum (why: for the message). */
static void
stop_by_signal(struct run *r, int signum, const char *why)
{
	r->signal = signum;
	r->first_sig_ms = uv_now(&r->loop);
	r->sum->signal = signum;
	r->stopping = true;
	pr_log_error("%s: stopping (cancelling running tasks)", why);
	ring_stop(r);
	cancel_running(r);
}

/* ---- setup and teardown ------------------------------------------------ */

void
pr_config_init(struct pr_config *c)
{
	memset(c, 0, sizeof(*c));
	c->jobs = 0;			/* default: CPUs available */
	c->worker_path = "parrun-worker";
	c->schedule = PR_SCHED_DYNAMIC;
	c->max_frame = PR_MAX_FRAME;
	c->hb_ms = 5000;
	c->retries = 0;
	c->crash_limit = 3;
	c->retry_delay = 0.1;
	c->ssh.connect_timeout_ms = 10000;
	c->ssh.keepalive_s = 15;
	pr_input_opts_init(&c->in);
	pr_output_opts_init(&c->out);
}

static void
make_session(struct run *r)
{
	snprintf(r->session, sizeof(r->session), "%lx-%lx",
	    (unsigned long)time(NULL), (unsigned long)getpid());
}

#define BCAST_MAX	(256u << 20)

/*
 * --broadcast FILE: read it once and encode its message once; every
 * worker gets it right after its welcome (the @everywhere analog: once
 * per worker, not once per task).  The frame cap grows to fit it.
 */
static int
load_broadcast(struct run *r, struct pr_errbuf *eb)
{
	const char *path = r->cfg->broadcast;
	struct pr_buf data;
	char chunk[65536];
	ssize_t n;
	int fd, rc = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return pr_err(eb, -errno, "cannot read '%s': %s", path,
		    strerror(errno));
	pr_buf_init(&data, BCAST_MAX);
	while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = pr_err(eb, -errno, "cannot read '%s': %s", path,
			    strerror(errno));
			goto out;
		}
		if ((rc = pr_buf_add(&data, chunk, (size_t)n)) < 0) {
			rc = pr_err(eb, rc, "'%s' is too big to broadcast "
			    "(more than %u MiB)", path, BCAST_MAX >> 20);
			goto out;
		}
	}
	if ((rc = pr_msg_broadcast(&r->bcast, data.data ? data.data : "",
	    data.len)) < 0) {
		rc = pr_err(eb, rc, "cannot encode '%s'", path);
		goto out;
	}
	if (r->bcast.len + 4096 > r->max_frame)
		r->max_frame = r->bcast.len + 4096;
out:
	close(fd);
	pr_buf_release(&data);
	return rc;
}

/* Sync and close the journal (once); a failure becomes the run's. */
static void
close_journal(struct run *r, int *rc)
{
	struct pr_errbuf eb = { 0, "" };
	int jrc;

	if (r->jn == NULL)
		return;
	jrc = pr_journal_close(r->jn, &eb);
	r->jn = NULL;
	if (jrc < 0 && !r->journal_failed) {
		pr_log_error("cannot write the journal '%s': %s",
		    r->cfg->journal, pr_errmsg(&eb, jrc));
		if (*rc == 0)
			*rc = jrc;
	}
}

static int
open_journal(struct run *r, struct pr_errbuf *eb)
{
	struct pr_journal_opts jo;
	struct pr_journal_info info;
	int rc;

	if (r->cfg->resume && !r->cfg->seed_given) {
		/* the same random streams as the run being resumed */
		struct pr_journal *old;

		memset(&info, 0, sizeof(info));
		if (pr_journal_load(&old, r->cfg->journal, false, &info,
		    NULL) == 0) {
			if (info.runs > 0)
				r->seed = info.seed;
			pr_journal_close(old, NULL);
		}
	}
	pr_journal_opts_init(&jo);
	jo.path = r->cfg->journal;
	jo.resume = r->cfg->resume;
	jo.retry_failed = r->cfg->retry_failed;
	jo.seed = r->seed;
	jo.started = now_unix();
	memset(&info, 0, sizeof(info));
	rc = pr_journal_open(&r->jn, &jo, &info, eb);
	if (rc < 0)
		return rc;
	if (info.torn)
		pr_log_warn("journal '%s': torn last record at byte %llu "
		    "(line %lu, %s): ignored, that task runs again",
		    r->cfg->journal, (unsigned long long)info.torn_offset,
		    info.torn_line, info.torn_reason);
	if (r->cfg->resume && info.runs > 0 && info.seed != r->seed) {
		pr_log_warn("journal '%s' was written with --seed %llu, "
		    "this run uses %llu", r->cfg->journal,
		    (unsigned long long)info.seed,
		    (unsigned long long)r->seed);
	}
	return 0;
}

static void
log_hook(void *arg)
{
	struct run *r = arg;

	pr_progress_clear(r->prog);
}

int
pr_run(const struct pr_config *cfg, struct pr_summary *sum,
    struct pr_errbuf *eb)
{
	struct pr_output_opts oo;
	struct run *r;
	int rc;

	memset(sum, 0, sizeof(*sum));
	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return -ENOMEM;
	r->cfg = cfg;
	r->seed = cfg->seed;
	r->sum = sum;
	r->eb = eb;
	make_session(r);
	pthread_mutex_init(&r->ring.mu, NULL);
	pthread_cond_init(&r->ring.not_full, NULL);

	pr_buf_init(&r->bcast, 0);
	r->max_frame = cfg->max_frame;
	if (cfg->broadcast != NULL && (rc = load_broadcast(r, eb)) < 0)
		goto out_free;
	rc = uv_loop_init(&r->loop);
	if (rc < 0) {
		pr_err(eb, rc, "cannot start the event loop: %s",
		    uv_strerror(rc));
		goto out_free;
	}
	if (cfg->bar || cfg->eta || cfg->progress) {
		struct pr_progress_opts po;

		memset(&po, 0, sizeof(po));
		po.fd = 2;
		po.mode = (cfg->bar ? PR_PROGRESS_BAR : 0) |
		    (cfg->eta ? PR_PROGRESS_ETA : 0) |
		    (cfg->progress ? PR_PROGRESS_WORKERS : 0);
		rc = pr_progress_new(&r->prog, &po, now_unix());
		if (rc < 0)
			goto out_loop;
		pr_log_set_hook(log_hook, r);
	}
	oo = cfg->out;
	oo.progress = r->prog;
	if (cfg->journal != NULL) {
		rc = open_journal(r, eb);
		if (rc < 0)
			goto out_progress;
		r->in_opts = cfg->in;
		r->in_opts.fingerprint = true;
		oo.hold_until_flush = true;
		oo.append = cfg->resume;
	}
	rc = pr_output_open(&r->out, &oo, eb);
	if (rc < 0)
		goto out_progress;
	if (cfg->reduce != NULL) {
		enum pr_reduce_op op;

		rc = pr_reduce_op_parse(cfg->reduce, &op, eb);
		if (rc < 0)
			goto out_output;
		r->red = pr_reduce_new(op, cfg->deterministic);
		if (r->red == NULL) {
			rc = -ENOMEM;
			goto out_output;
		}
	}
	rc = pr_input_new(&r->in, cfg->journal != NULL ? &r->in_opts :
	    &cfg->in, eb);
	if (rc < 0)
		goto out_reduce;

	uv_async_init(&r->loop, &r->wake, on_wake);
	r->wake.data = r;
	uv_check_init(&r->loop, &r->check);
	r->check.data = r;
	uv_check_start(&r->check, on_check);
	uv_timer_init(&r->loop, &r->hb_timer);
	r->hb_timer.data = r;
	/* ticks often enough to enforce deadlines; heartbeats go out
	 * every hb_ms */
	uv_timer_start(&r->hb_timer, on_hb, TICK_MS(cfg->hb_ms),
	    TICK_MS(cfg->hb_ms));
	r->last_hb = uv_now(&r->loop);
	uv_timer_init(&r->loop, &r->ui_timer);
	r->ui_timer.data = r;
	uv_timer_init(&r->loop, &r->retry_timer);
	r->retry_timer.data = r;
	if (r->prog != NULL)
		uv_timer_start(&r->ui_timer, on_ui, 100, 100);
	uv_signal_init(&r->loop, &r->sigint);
	uv_signal_init(&r->loop, &r->sigterm);
	r->sigint.data = r->sigterm.data = r;
	uv_signal_start(&r->sigint, on_signal, SIGINT);
	uv_signal_start(&r->sigterm, on_signal, SIGTERM);
	for (int i = 0; i < 2; i++) {
		size_t pending;
		int fd = pr_output_wait_fd(r->out, i, &pending);
		int fl = fd >= 0 ? fcntl(fd, F_GETFL) : -1;

		if (fl < 0 || uv_poll_init(&r->loop, &r->out_poll[i], fd) < 0)
			continue;
		/* uv_poll_init() made the fd non-blocking: epoll does not
		 * need that, and a user's socket must stay as it was */
		(void)fcntl(fd, F_SETFL, fl);
		r->out_poll[i].data = r;
		r->out_poll_init[i] = true;
	}

	pr_sched_init(&r->sched, cfg->schedule, cfg->batch, 1);
	r->sched.equal_tasks = pr_input_range_chunks(r->in);
	{
		struct pr_errbuf seb = { 0, "" };

		rc = start_workers(r, &seb);
		if (rc < 0) {
			pr_err(eb, rc, "cannot start workers: %s",
			    pr_errmsg(&seb, rc));
			/* nothing runs: let the loop release its handles */
			r->stopping = true;
			r->input_done = true;
			stop_joining(r);
			for (int i = 0; i < r->nworkers; i++) {
				struct worker *w = r->workers[i];

				if (w->tr != NULL && !w->closed) {
					w->tr->ops->kill(w->tr, SIGKILL);
					pr_transport_close(w->tr);
				}
			}
			close_loop_handles(r);
			uv_run(&r->loop, UV_RUN_DEFAULT);
			goto out_workers;
		}
	}
	if (r->alive == 0 && r->rc == 0) {
		/* the input is still read, so every task gets its record */
		r->rc = pr_err(eb, PR_ENOWORKER, "no worker could be started "
		    "(is '%s' installed?)", cfg->worker_path);
	}

	rc = pthread_create(&r->reader, NULL, reader_main, r);
	if (rc != 0) {
		rc = pr_err(eb, -rc, "cannot start the input reader: %s",
		    strerror(rc));
		r->stopping = true;
		r->input_done = true;
	} else {
		r->reader_started = true;
	}

	uv_run(&r->loop, UV_RUN_DEFAULT);

	if (r->reader_started) {
		ring_stop(r);
		pthread_mutex_lock(&r->ring.mu);
		bool done = r->ring.done;
		pthread_mutex_unlock(&r->ring.mu);
		/* blocked in read(): it holds nothing of ours */
		if (!done)
			pthread_cancel(r->reader);
		pthread_join(r->reader, NULL);
		/* tasks still in the ring were never taken: free them */
		while (r->ring.n > 0) {
			pr_task_free(r->ring.items[r->ring.head]);
			r->ring.head = (r->ring.head + 1) % RING_SIZE;
			r->ring.n--;
		}
	}
	if (rc == 0)
		rc = r->rc;
	if (r->red != NULL) {
		struct pr_buf b;

		pr_buf_init(&b, 0);
		if (pr_reduce_result(r->red, &sum->value, &sum->folded) == 0 &&
		    pr_reduce_format(r->red, &b) == 0) {
			sum->reduced = true;
			sum->reduced_text = pr_buf_detach(&b, NULL);
		}
		pr_buf_release(&b);
	}

out_workers:
	/* jobs never sent (a run stopped early) */
	for (struct job *j; (j = jobq_pop(&r->pending)) != NULL;)
		job_free(j);
	for (int i = 0; i < r->nworkers; i++) {
		struct worker *w = r->workers[i];

		for (struct job *j; (j = jobq_pop(&w->pinned)) != NULL;)
			job_free(j);
		pr_framer_release(&w->fr);
		pr_buf_release(&w->wbuf);
		free(w);
	}
	free(r->workers);
	free(r->lsns);
	if (r->secret_path != NULL) {
		pr_secret_remove(r->secret_path);
		free(r->secret_path);
	}
	pr_secret_wipe(r->secret, sizeof(r->secret));
	free(r->table);
	pr_input_free(r->in);
out_reduce:
	pr_reduce_free(r->red);
out_output:
	close_journal(r, &rc);
	{
		struct pr_errbuf oeb = { 0, "" };
		struct pr_output_stats st;
		int orc;

		pr_output_get_stats(r->out, &st);
		sum->failed += st.downgraded;
		if (sum->ok >= st.downgraded)
			sum->ok -= st.downgraded;
		orc = pr_output_close(r->out, &oeb);
		if (orc < 0 && !r->output_failed)
			pr_log_error("%s", pr_errmsg(&oeb, orc));
		if (rc == 0 && orc < 0 && orc != UV_EPIPE)
			rc = orc;
	}
out_progress:
	close_journal(r, &rc);
	pr_log_set_hook(NULL, NULL);
	pr_progress_free(r->prog);
out_loop:
	uv_loop_close(&r->loop);
out_free:
	pr_buf_release(&r->bcast);
	pthread_mutex_destroy(&r->ring.mu);
	pthread_cond_destroy(&r->ring.not_full);
	free(r);
	return rc;
}
