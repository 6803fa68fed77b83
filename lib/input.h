/*
 * input.h - task sources: from the bytes the user gives to tasks ready to
 * dispatch.
 *
 * Sources, as GNU parallel has them:
 *	stdin		the default, when no other source is given
 *	-a FILE		one value per line ("-" is stdin); repeatable
 *	::: a b c	a group of values; repeatable
 *	--range A:B[:STEP]	the integers A, A+STEP, ... <= B
 *
 * One line source alone (stdin, or a single -a FILE) is read as task
 * lines (task.h): JSON objects or plain lines, blank lines skipped.
 * Otherwise the sources' values are literal and combine as a cartesian
 * product in the order given, the last source varying fastest; a
 * combination's values are {1} {2} ... in the template ({} with one
 * source).  Blank lines of files are skipped in every case.
 *
 * --range with --kernel (and no template) is the `@distributed for` loop:
 * [A, B] is split into `chunks` contiguous chunks, as equal as possible,
 * each one kernel task with params {"from":a,"to":b,"step":s,"n":count}.
 *
 * Memory does not grow with the number of tasks: the first source streams
 * (a fixed read buffer and pr_framer); later sources of a product are held
 * in memory (GNU parallel does the same), ranges are computed.
 *
 * Blocking and synchronous: the coordinator calls it from a reader thread.
 * One struct pr_input is used by one thread at a time.
 */
#ifndef PR_INPUT_H
#define PR_INPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "task.h"

#define PR_INPUT_READ_SIZE	(64 * 1024)

enum pr_src_kind {
	PR_SRC_FILE,		/* -a FILE */
	PR_SRC_ARGS,		/* ::: values */
	PR_SRC_RANGE,		/* --range A:B[:STEP] */
};

struct pr_input_src {
	enum pr_src_kind kind;
	const char *path;		/* FILE: as given; "-" is stdin */
	const char *const *values;	/* ARGS: one ::: group */
	size_t nvalues;
	const char *range;		/* RANGE: "A:B[:STEP]" */
};

struct pr_input_opts {
	int stdin_fd;			/* stdin (default 0); not closed */
	const char *stdin_name;		/* in messages; NULL: "stdin" */
	const struct pr_input_src *srcs;	/* in command-line order */
	size_t nsrcs;			/* 0: read stdin */
	const char *const *tmpl;	/* command template words, or NULL */
	size_t ntmpl;
	bool shell;			/* --shell: run the command in sh */
	const char *kernel;		/* --kernel NAME, or NULL */
	size_t max_line;		/* 0: PR_MAX_FRAME (1 MiB) */
	bool skip_bad;			/* --on-bad-input=skip */
	unsigned chunks;		/* --range with --kernel: tasks; 0: 1 */
	bool fingerprint;		/* every task carries its fingerprint
					   (task.h, "Fingerprints") */
};

/* All zero, stdin_fd 0. */
void pr_input_opts_init(struct pr_input_opts *o);

struct pr_input;

/*
 * Check the options, open every file and parse ranges and the template.
 * Everything in o is copied (o may go away after the call).  Errors:
 * PR_ECONFIG (bad combination, range or template, with eb), -errno for a
 * file that cannot be opened (eb names the file), -ENOMEM.
 */
int pr_input_new(struct pr_input **out, const struct pr_input_opts *o,
    struct pr_errbuf *eb);
void pr_input_free(struct pr_input *in);

/*
 * The next task, in input order.  Returns 1 with *out (caller frees it
 * with pr_task_free()), 0 at the end of the input, or a negative code:
 * PR_EBADINPUT with eb "stdin:3:14: field 'argv' must be ..." for a bad
 * line (reading may go on after it with the next line), or -errno / -ENOMEM
 * with eb for a failed read (the error repeats on later calls).
 * Under skip_bad a bad line is instead a task with status PR_ST_REJECTED,
 * its error set and a seq and id like any other.
 */
int pr_input_next(struct pr_input *in, struct pr_task **out,
    struct pr_errbuf *eb);

/* The name of the first source: "stdin", the file as given, "args" (a
 * ::: group) or "range". */
const char *pr_input_source_name(const struct pr_input *in);
/* True when commands depend on the job slot ({%} in the template). */
bool pr_input_slot_dependent(const struct pr_input *in);
/* True when the tasks are the chunks of --range for a kernel: equal work
 * each. */
bool pr_input_range_chunks(const struct pr_input *in);
/* Tasks made so far (the last seq given). */
uint64_t pr_input_count(const struct pr_input *in);
/* Bytes of working memory held now, for the memory tests. */
size_t pr_input_mem(const struct pr_input *in);

/*
 * Parse "A:B" or "A:B:STEP": integers with |A|, |B| <= 2^53-1, A <= B,
 * STEP >= 1 (default 1).  PR_ECONFIG with eb "invalid range 'x': ...".
 */
int pr_range_parse(const char *s, int64_t *a, int64_t *b, int64_t *step,
    struct pr_errbuf *eb);

#endif
