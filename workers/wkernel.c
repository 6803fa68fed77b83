/*
 * wkernel.c - kernel tasks of parrun-worker (see worker.h).
 *
 * PR_KERNEL_INLINE kernels (noop) run on the loop thread as they are
 * dispatched.  The others run on the libuv threadpool so the loop keeps
 * answering heartbeats and cancels.  A slot's work item holds a run of
 * consecutive kernel tasks taken from the queue: the thread runs them
 * one after another until they are done or W_KBATCH_NS has passed, and
 * the loop reports the finished ones together (one "results" line) and
 * puts the rest back at the front of the queue.  So tiny tasks cost one
 * thread hand-off per batch, and long ones are not held back behind
 * each other.
 *
 * A cancel, a timeout or a "shutdown now" is reported at once with a
 * ghost result (w_ghost) and sets the task's stop flag, which the thread
 * checks before it begins a task and which a running kernel sees as
 * ctx->stop: a kernel that looks at it (sleep every 50 ms; randsum, map,
 * sort and chol every millisecond of work or so, chol not inside an
 * OpenBLAS call) returns early, and the slot is free again when the
 * thread returns.  A kernel that does not look runs to its end, its slot
 * busy meanwhile.
 * Timeouts are watched from the loop (a 20 ms timer while some running
 * kernel task has one): the thread stamps each task's start in run_ns.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "worker.h"

#define WATCH_MS	20		/* timeout resolution for kernels */

static uv_timer_t watch;
static bool watch_init, watching;

static double
now_unix(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/*
 * Run one kernel task on slot s's state.  Runs on the loop thread
 * (inline kernels) or on the slot's threadpool thread; it touches only
 * t, s->eb and s->kstate, which nothing else uses meanwhile.
 */
static void
run_one(struct w_task *t, struct w_slot *s)
{
	struct pr_kctx ctx;
	uint64_t t0;
	int rc;

	memset(&ctx, 0, sizeof(ctx));
	s->eb.code = 0;
	s->eb.msg[0] = '\0';
	ctx.task_id = t->m.id;
	ctx.seq = t->m.seq;
	ctx.seed = t->m.has_seed ? t->m.seed : W.seed;
	ctx.threads = t->m.threads > 0 ? t->m.threads : W.threads;
	if (ctx.threads <= 0)
		ctx.threads = W.cpus / W.slots > 1 ? W.cpus / W.slots : 1;
	ctx.bcast = s->bcast;
	ctx.bcastlen = s->bcastlen;
	ctx.state = &s->kstate[t->kidx];
	ctx.stop = &t->stop;
	ctx.extra = &t->extra;
	ctx.eb = &s->eb;

	t->start = now_unix();
	t0 = now_ns();
	atomic_store(&t->run_ns, t0);
	rc = t->kernel->run(t->m.params, &ctx);
	atomic_store(&t->run_ns, 0);
	t->elapsed = (double)(now_ns() - t0) / 1e9;
	t->exit = -1;
	if (rc < 0) {
		t->status = PR_ST_ERROR;
		t->error = strdup(pr_errmsg(&s->eb, rc));
		pr_buf_reset(&t->extra);
		return;
	}
	if (w_task_timeout_ms(t) > 0 &&
	    t->elapsed * 1000 > (double)w_task_timeout_ms(t)) {
		t->status = PR_ST_TIMEOUT;
		pr_buf_reset(&t->extra);
		return;
	}
	t->status = PR_ST_OK;
	t->has_value = ctx.has_value;
	t->value = ctx.value;
}

void
w_kernel_run_inline(struct w_task *t, struct w_slot *s)
{
	t->state = W_T_RUNNING;
	s->bcast = W.bcast != NULL ? W.bcast->data : NULL;
	s->bcastlen = W.bcast != NULL ? W.bcast->len : 0;
	run_one(t, s);
	if (t->status == PR_ST_ERROR && t->error == NULL)
		w_fatal(-ENOMEM, "cannot report a kernel error");
	w_task_finish(t);
}

static void
work_cb(uv_work_t *req)
{
	struct w_slot *s = req->data;
	uint64_t t0 = now_ns();
	size_t i;

	for (i = 0; i < s->nitems; i++) {
		struct w_task *t = s->items[i];

		if (i > 0 && now_ns() - t0 >= W_KBATCH_NS)
			break;
		if (atomic_load(&t->stop))
			continue;
		run_one(t, s);
	}
	s->ndone = i;
}

static void
after_work_cb(uv_work_t *req, int status)
{
	struct w_slot *s = req->data;
	struct w_task *back[W_KBATCH_MAX];
	size_t i, nback = 0;

	(void)status;
	for (i = 0; i < s->nitems; i++) {
		struct w_task *t = s->items[i];

		if (t->reported) {
			/* its ghost result went out already */
			t->state = W_T_DONE;
			w_task_finish(t);
			continue;
		}
		if (i < s->ndone) {
			if (t->status == PR_ST_ERROR && t->error == NULL)
				w_fatal(-ENOMEM,
				    "cannot report a kernel error");
			w_task_finish(t);
		} else {
			t->state = W_T_QUEUED;
			back[nback++] = t;
		}
	}
	s->nitems = s->ndone = 0;
	w_queue_push_front(back, nback);
	w_slot_release(s);
}

/* The unix time t began (now if it has not). */
static double
task_start(const struct w_task *t)
{
	uint64_t t0 = atomic_load(&t->run_ns), now = now_ns();

	if (t0 == 0 || t0 > now)
		return now_unix();
	return now_unix() - (double)(now - t0) / 1e9;
}

void
w_kernel_stop(struct w_task *t, enum pr_status st)
{
	if (t->reported)
		return;
	w_ghost(t, st, task_start(t));	/* sets t->stop */
}

static bool
has_timeout(const struct w_slot *s)
{
	size_t i;

	for (i = 0; i < s->nitems; i++)
		if (!s->items[i]->reported && w_task_timeout_ms(s->items[i]) > 0)
			return true;
	return false;
}

/* Report the running kernel tasks that are past their time. */
static void
on_watch(uv_timer_t *h)
{
	struct w_slot *s;
	struct w_task *t;
	uint64_t t0, now = now_ns();
	int64_t ms;
	bool more = false;
	size_t i;
	int k;

	(void)h;
	for (k = 0; k < W.slots; k++) {
		s = &W.slot[k];
		for (i = 0; i < s->nitems; i++) {
			t = s->items[i];
			ms = w_task_timeout_ms(t);
			if (t->reported || ms <= 0)
				continue;
			t0 = atomic_load(&t->run_ns);
			if (t0 != 0 && t0 < now &&
			    now - t0 >= (uint64_t)ms * 1000000u)
				w_kernel_stop(t, PR_ST_TIMEOUT);
			else
				more = true;
		}
	}
	if (!more) {
		uv_timer_stop(&watch);
		watching = false;
	}
}

static void
watch_start(void)
{
	int rc;

	if (watching)
		return;
	if (!watch_init) {
		rc = uv_timer_init(W.loop, &watch);
		if (rc < 0)
			w_fatal(rc, "cannot time kernel tasks");
		uv_unref((uv_handle_t *)&watch);
		watch_init = true;
	}
	uv_timer_start(&watch, on_watch, WATCH_MS, WATCH_MS);
	watching = true;
}

int
w_kernel_start(struct w_slot *s)
{
	size_t i;
	int rc;

	s->busy = true;
	W.nbusy++;
	s->ndone = 0;
	s->item_start = now_unix();
	/* the thread must not read W.bcast, which a broadcast may change */
	s->bcast = W.bcast != NULL ? W.bcast->data : NULL;
	s->bcastlen = W.bcast != NULL ? W.bcast->len : 0;
	for (i = 0; i < s->nitems; i++)
		s->items[i]->state = W_T_RUNNING;
	s->work.data = s;
	rc = uv_queue_work(W.loop, &s->work, work_cb, after_work_cb);
	if (rc < 0)
		w_fatal(rc, "cannot queue a kernel task");
	if (has_timeout(s))
		watch_start();
	return rc;
}
