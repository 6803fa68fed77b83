/* sched.c - see sched.h */
#include "sched.h"

#include <string.h>

#include "err.h"

static const char *const names[] = {
	[PR_SCHED_DYNAMIC] = "dynamic",
	[PR_SCHED_STATIC] = "static",
	[PR_SCHED_GUIDED] = "guided",
};

int
pr_sched_parse(const char *name, enum pr_schedule *out)
{
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(name, names[i]) == 0) {
			*out = (enum pr_schedule)i;
			return 0;
		}
	}
	return PR_ECONFIG;
}

const char *
pr_sched_name(enum pr_schedule s)
{
	return names[s];
}

void
pr_sched_init(struct pr_sched *s, enum pr_schedule kind, unsigned fixed_batch,
    int nworkers)
{
	memset(s, 0, sizeof(*s));
	s->kind = kind;
	s->fixed_batch = fixed_batch;
	s->nworkers = nworkers > 0 ? nworkers : 1;
	s->task_time = -1;
}

void
pr_sched_observe(struct pr_sched *s, double seconds, size_t n)
{
	double per;

	if (n == 0 || seconds < 0)
		return;
	per = seconds / (double)n;
	if (s->task_time < 0)
		s->task_time = per;
	else	/* weight by tasks so one huge batch does not whipsaw it */
		s->task_time += (per - s->task_time) *
		    (n >= 64 ? 0.5 : (double)n / 128.0);
	s->observed += n;
}

static unsigned
clampu(double v, unsigned lo, unsigned hi)
{
	if (v < lo)
		return lo;
	if (v > hi)
		return hi;
	return (unsigned)v;
}

unsigned
pr_sched_batch(const struct pr_sched *s, size_t pending, bool input_done)
{
	unsigned b, share;

	if (s->fixed_batch > 0 && s->kind != PR_SCHED_GUIDED)
		return s->fixed_batch;
	if (s->task_time < 0)
		b = 1;			/* measure before committing */
	else if (s->task_time <= 0)
		b = PR_SCHED_BATCH_MAX;
	else
		b = clampu(PR_SCHED_BATCH_TIME / s->task_time, 1,
		    PR_SCHED_BATCH_MAX);
	if (s->kind == PR_SCHED_GUIDED) {
		/* chunks shrink with the queue: remaining / (2 W) */
		unsigned min = s->fixed_batch > 0 ? s->fixed_batch : b;
		share = (unsigned)(pending / (2 * (size_t)s->nworkers));
		return share > min ? (share > PR_SCHED_BATCH_MAX ?
		    PR_SCHED_BATCH_MAX : share) : min;
	}
	if (input_done) {
		/* keep every worker fed to the end */
		share = (unsigned)((pending + 2 * (size_t)s->nworkers - 1) /
		    (2 * (size_t)s->nworkers));
		if (share < 1)
			share = 1;
		if (b > share)
			b = share;
	}
	return b;
}

size_t
pr_sched_window(const struct pr_sched *s, int slots, unsigned batch)
{
	size_t prefetch = 0;

	if (slots < 1)
		slots = 1;
	/*
	 * What a worker holds beyond its slots, so that the next task is
	 * there when one ends.  Tasks sent in batches (a fixed
	 * --batch-size, or auto batches of short tasks): two batches.
	 * Measured tasks: also PR_SCHED_PREFETCH_TIME of their work if that
	 * is more, so tiny tasks share each read, write and wake-up, while
	 * tasks longer than that are never held away from an idle worker.
	 * Tasks of unknown length, one at a time: nothing (a long task
	 * queued on the first worker to say hello would wait behind
	 * another while later workers idle).  Tasks of equal work (the
	 * chunks of --range, a few per slot): one per slot, so a worker
	 * goes on to its next chunk at once instead of waiting for us to
	 * be scheduled on a CPU its peers keep busy; the imbalance this
	 * can make at the end is under one chunk.
	 */
	if (s->fixed_batch > 0 || batch > 1)
		prefetch = 2 * (size_t)batch;
	if (s->task_time >= 0) {
		double want = s->task_time > 0 ?
		    PR_SCHED_PREFETCH_TIME / s->task_time :
		    PR_SCHED_PREFETCH_MAX;

		if (want > PR_SCHED_PREFETCH_MAX)
			want = PR_SCHED_PREFETCH_MAX;
		if (want > (double)prefetch)
			prefetch = (size_t)want;
	}
	if (s->equal_tasks && prefetch < (size_t)slots)
		prefetch = (size_t)slots;
	return (size_t)slots + prefetch;
}

int
pr_sched_static_worker(uint64_t seq, int nworkers)
{
	return (int)((seq - 1) % (uint64_t)nworkers);
}
