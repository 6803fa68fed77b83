/*
 * sched.h - scheduling decisions: which worker gets the next tasks, and
 * how many at once.  Pure functions over counts, so they can be tested
 * without a loop; lib/run.c applies them.
 *
 *   dynamic  the next task goes to the first worker with room; each worker
 *            also holds a small prefetch queue so it never waits for us
 *   static   task i goes to worker (i-1) mod W, in batches (prescheduling,
 *            Julia's @threads :static, TACC launcher "block")
 *   guided   batches shrink as the queue drains: remaining / (2 W),
 *            at least the measured minimum batch
 *
 * Batch size: fixed (--batch-size N), or auto: from the measured time per
 * task, the number of tasks whose run time covers PR_SCHED_BATCH_TIME, so a
 * message costs at most a few percent of the work it carries; capped so
 * that the known remaining work still spreads over every worker.
 */
#ifndef PR_SCHED_H
#define PR_SCHED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum pr_schedule {
	PR_SCHED_DYNAMIC,
	PR_SCHED_STATIC,
	PR_SCHED_GUIDED,
};

#define PR_SCHED_BATCH_MAX	4096
#define PR_SCHED_BATCH_TIME	0.002	/* seconds of work per message */
#define PR_SCHED_PREFETCH_TIME	0.001	/* seconds of work queued ahead */
#define PR_SCHED_PREFETCH_MAX	256	/* tasks queued ahead, at most */

struct pr_sched {
	enum pr_schedule kind;
	unsigned fixed_batch;		/* 0: auto */
	int nworkers;
	double task_time;		/* moving average, seconds; <0: none yet */
	uint64_t observed;		/* tasks measured */
	bool equal_tasks;		/* known to be equal work (--range
					   chunks): one per slot queued ahead */
};

int pr_sched_parse(const char *name, enum pr_schedule *out);
const char *pr_sched_name(enum pr_schedule s);
void pr_sched_init(struct pr_sched *s, enum pr_schedule kind,
    unsigned fixed_batch, int nworkers);

/* Feed the measured run time of finished tasks (sum over n tasks). */
void pr_sched_observe(struct pr_sched *s, double seconds, size_t n);

/*
 * The batch to send now.  pending: tasks ready to send (known so far);
 * input_done: no more will come, so pending is all that is left.
 */
unsigned pr_sched_batch(const struct pr_sched *s, size_t pending,
    bool input_done);

/*
 * How many tasks a worker with `slots` slots may hold (running plus
 * queued) given the batch size: slots to run, plus a prefetch of two
 * batches when tasks go in batches (fixed, or auto above 1), or of
 * PR_SCHED_PREFETCH_TIME of measured work if that is more (tiny tasks in
 * small batches), at most PR_SCHED_PREFETCH_MAX; nothing beyond the
 * slots for tasks of unknown length sent one at a time, but one per slot
 * for equal_tasks.
 */
size_t pr_sched_window(const struct pr_sched *s, int slots, unsigned batch);

/* static: the 0-based worker index of the task with this 1-based seq */
int pr_sched_static_worker(uint64_t seq, int nworkers);

#endif
