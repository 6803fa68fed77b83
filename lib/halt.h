/*
 * halt.h - when to stop a run early: GNU parallel's --halt.
 *
 *   never                      run everything (the default)
 *   soon|now,fail=N|P%         after N failed tasks, or when P% of the
 *                              tasks finished so far failed (at least 3
 *                              finished)
 *   soon|now,success=N|P%      the same counting tasks that succeeded
 *   soon|now,done=N|P%         the same counting every finished task
 *   0, 1, 2                    GNU parallel's old forms: never,
 *                              soon,fail=1, now,fail=1
 *
 * soon stops dispatching and lets the running tasks finish; now also
 * cancels them.  Pure functions over counts: lib/run.c applies them.
 */
#ifndef PR_HALT_H
#define PR_HALT_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"

enum pr_halt_when {
	PR_HALT_NEVER,
	PR_HALT_SOON,
	PR_HALT_NOW,
};

enum pr_halt_on {
	PR_HALT_FAIL,
	PR_HALT_SUCCESS,
	PR_HALT_DONE,
};

#define PR_HALT_PERCENT_MIN	3	/* finished tasks before P% counts */

struct pr_halt {
	enum pr_halt_when when;
	enum pr_halt_on on;
	double threshold;		/* a count, or a percentage */
	bool percent;
};

/*
 * Parse a --halt value into *h.  Returns 0, or PR_ECONFIG with a message
 * in eb naming what is wrong ("unknown condition 'x'").
 */
int pr_halt_parse(const char *s, struct pr_halt *h, struct pr_errbuf *eb);

/* Whether the policy says stop, given the final records so far. */
bool pr_halt_reached(const struct pr_halt *h, uint64_t done, uint64_t ok,
    uint64_t failed);

/* "soon,fail=3", "now,success=50%", "never": the policy, in its own
 * syntax, into buf (n bytes); returns buf. */
const char *pr_halt_format(const struct pr_halt *h, char *buf, size_t n);

#endif
