/*
 * reduce.h - --reduce: one value from the values of many tasks, like
 * Julia's @distributed (op).
 *
 *	sum	compensated (Neumaier) sum
 *	prod	product
 *	min max	smallest, largest (NaN values are ignored)
 *	mean	compensated sum / count
 *	count	ok tasks (whether or not they carry a value)
 *	concat	the values as text (the shortest form that reads back
 *		the same),
 *		one per line, in seq order; stdout of tasks is not joined
 *		(use -k for that)
 *
 * The coordinator calls pr_reduce_add() for every ok record (has_value
 * says whether it carries a value) and pr_reduce_skip() for every other
 * seq (failed, rejected, cancelled...): every seq once.  Records without
 * a value and skipped seqs are not folded (except that count counts ok
 * records); pr_reduce_result() says how many were.
 *
 * deterministic: values are folded in seq order, whatever order they
 * arrive in, so the result is bit-identical for any -j, schedule or
 * timing.  Values that arrive ahead of the next seq wait in a ring
 * (9 bytes each); the coordinator's dispatch window bounds it.  concat is
 * always in seq order.  Without deterministic the others fold as values
 * come.  Seqs start at PR_REDUCE_FIRST_SEQ unless set.
 *
 * Ownership: struct pr_reduce is the caller's; pr_reduce_free() frees it.
 */
#ifndef PR_REDUCE_H
#define PR_REDUCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"

#define PR_REDUCE_FIRST_SEQ	1

enum pr_reduce_op {
	PR_REDUCE_SUM,
	PR_REDUCE_PROD,
	PR_REDUCE_MIN,
	PR_REDUCE_MAX,
	PR_REDUCE_MEAN,
	PR_REDUCE_COUNT,
	PR_REDUCE_CONCAT,
};

/* "sum" -> PR_REDUCE_SUM; PR_ECONFIG with eb listing the valid ops. */
int pr_reduce_op_parse(const char *name, enum pr_reduce_op *op,
    struct pr_errbuf *eb);
const char *pr_reduce_op_name(enum pr_reduce_op op);

struct pr_reduce;

/* NULL when out of memory. */
struct pr_reduce *pr_reduce_new(enum pr_reduce_op op, bool deterministic);
/* Before the first add: the seq the coordinator starts from. */
void pr_reduce_set_first_seq(struct pr_reduce *r, uint64_t seq);
void pr_reduce_free(struct pr_reduce *r);

/*
 * An ok record.  Errors (deterministic and concat only, which track seqs):
 * -EINVAL for a seq already given, PR_ELIMIT for a seq absurdly far ahead,
 * -ENOMEM.
 */
int pr_reduce_add(struct pr_reduce *r, uint64_t seq, double value,
    bool has_value);
/* A seq that is not folded. */
int pr_reduce_skip(struct pr_reduce *r, uint64_t seq);

/*
 * The value so far (values still waiting for an earlier seq are folded
 * first, in seq order) and how many records were folded.  With nothing
 * folded: sum 0, prod 1, count 0, min/max/mean NaN.  concat: NaN (see
 * pr_reduce_format()).  Returns 0 or -ENOMEM.
 */
int pr_reduce_result(struct pr_reduce *r, double *value, uint64_t *count);

/* Append the result as text: the number (nan, inf, -inf spelled so), or
 * the concat text. */
int pr_reduce_format(struct pr_reduce *r, struct pr_buf *b);

#endif
