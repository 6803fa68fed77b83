/*
 * progress.h - --bar, --eta and --progress on stderr.
 *
 * The formatting is pure (pr_progress_format() fills a buffer from a
 * struct pr_progress_state and a time the caller passes), so it is tested
 * without a terminal.  struct pr_progress draws that line on its fd, only
 * when the fd is a TTY (or force), at most every 100 ms, as "\r<line>\e[K"
 * so the line is rewritten in place; pr_progress_clear() erases it, and
 * anything else written to the terminal (task output, messages) must come
 * after a clear: lib/output.c does that itself when given the progress.
 *
 * Lines (total known / total still unknown, e.g. streaming stdin):
 *	bar	[=========>          ]  45% 450/1000 3 failed ETA 1m02s
 *		450 done 3 failed 12.3/s elapsed 37s
 *	eta	ETA: 1m02s Left: 550 AVG: 0.12s Done: 450/1000 3 failed
 *		Done: 450 3 failed 12.3/s elapsed 37s
 *	progress  the eta line, then per worker "N:running/done" (the
 *		worker's 1-based index), cut to the width with "..."
 * "3 failed" only appears when some task did not end ok.  ETA is the
 * tasks left over the throughput so far ("--" before the first result).
 *
 * The caller (the coordinator's loop) reports events and calls
 * pr_progress_update() once per loop turn with the current time.
 */
#ifndef PR_PROGRESS_H
#define PR_PROGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define PR_PROGRESS_BAR		1u
#define PR_PROGRESS_ETA		2u
#define PR_PROGRESS_WORKERS	4u	/* --progress */

#define PR_PROGRESS_INTERVAL	0.1	/* seconds between redraws */

struct pr_progress_worker {
	uint64_t running;
	uint64_t done;
};

struct pr_progress_state {
	uint64_t done;			/* final records */
	uint64_t failed;		/* of those, not ok */
	uint64_t running;
	uint64_t total;			/* tasks read so far */
	bool total_known;		/* input ended: total is final */
	double start;			/* when the run started, s */
	const struct pr_progress_worker *workers;	/* [0]: worker 1 */
	size_t nworkers;
};

/*
 * Append the line for mode (PR_PROGRESS_* bits; BAR wins over ETA) at
 * time now, cut to width - 1 bytes when width > 0 (so the cursor never
 * wraps).  Returns 0 or -ENOMEM.
 */
int pr_progress_format(struct pr_buf *b, unsigned mode,
    const struct pr_progress_state *st, double now, size_t width);

/* "12s", "1m02s", "1h02m03s"; "--" when negative or not finite. */
int pr_progress_format_duration(struct pr_buf *b, double secs);

struct pr_progress_opts {
	int fd;				/* 2 */
	unsigned mode;			/* PR_PROGRESS_* bits; 0: off */
	bool force;			/* draw even when fd is not a TTY */
	size_t width;			/* 0: the terminal's, else 80 */
};

struct pr_progress;

/* *p is NULL when mode is 0 or fd is not a TTY (and not force): every
 * function below accepts NULL and does nothing.  start: time now, s. */
int pr_progress_new(struct pr_progress **p, const struct pr_progress_opts *po,
    double start);

/* total tasks read so far; known once the input has ended */
void pr_progress_set_total(struct pr_progress *p, uint64_t total,
    bool known);
/* A task began on worker (1-based; 0 none). */
void pr_progress_started(struct pr_progress *p, int worker);
/* A running task left its worker without ending (lost, requeued). */
void pr_progress_stopped(struct pr_progress *p, int worker);
/* A final record: ok or not; worker as given to started (0: never ran). */
void pr_progress_done(struct pr_progress *p, int worker, bool ok);

/* Redraw if PR_PROGRESS_INTERVAL has passed since the last draw. */
void pr_progress_update(struct pr_progress *p, double now);
/* Erase the line if it is drawn. */
void pr_progress_clear(struct pr_progress *p);
/* Clears and frees. */
void pr_progress_free(struct pr_progress *p);

/* The state, for a final summary. */
const struct pr_progress_state *pr_progress_state(
    const struct pr_progress *p);

#endif
