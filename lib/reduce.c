/*
 * reduce.c - see reduce.h.
 *
 * Sums use Neumaier's variant of Kahan summation: the running sum s is
 * the plain sum, c collects the low-order bits each addition drops
 * (whichever operand is smaller loses them), and the result is s + c.
 * That keeps sum(1e16, 0.1 x 1e6) at 1e16 + 1e5 where a plain loop
 * returns 1e16.  Summation order still matters in the last bits, which
 * is what deterministic mode fixes: the fold runs in seq order.
 *
 * The reorder ring holds the seqs [base, base + cap) by seq & (cap - 1):
 * one double and one state byte each.  base is the next seq to fold.
 */
#include "reduce.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_AHEAD	((uint64_t)1 << 28)

enum slot {
	EMPTY = 0,
	VALUE,			/* ok, with a value */
	NOVALUE,		/* ok, no value */
	SKIP,			/* not ok */
};

struct acc {
	double s, c;		/* Neumaier sum */
	double p;		/* product */
	double mn, mx;
	bool have_mm;
	uint64_t n;		/* folded */
};

struct pr_reduce {
	enum pr_reduce_op op;
	bool ordered;		/* deterministic, or concat */
	struct acc acc;
	struct pr_buf text;	/* concat */
	uint64_t base;
	double *val;
	unsigned char *st;
	size_t cap;		/* power of two, or 0 */
	size_t pending;		/* filled slots */
};

static const char *const op_names[] = {
	[PR_REDUCE_SUM] = "sum",
	[PR_REDUCE_PROD] = "prod",
	[PR_REDUCE_MIN] = "min",
	[PR_REDUCE_MAX] = "max",
	[PR_REDUCE_MEAN] = "mean",
	[PR_REDUCE_COUNT] = "count",
	[PR_REDUCE_CONCAT] = "concat",
};

#define NOPS (sizeof(op_names) / sizeof(op_names[0]))

int
pr_reduce_op_parse(const char *name, enum pr_reduce_op *op,
    struct pr_errbuf *eb)
{
	for (size_t i = 0; i < NOPS; i++) {
		if (strcmp(name, op_names[i]) == 0) {
			*op = (enum pr_reduce_op)i;
			return 0;
		}
	}
	return pr_err(eb, PR_ECONFIG, "unknown reduction '%s' (valid: sum, "
	    "prod, min, max, mean, count, concat)", name);
}

const char *
pr_reduce_op_name(enum pr_reduce_op op)
{
	if ((size_t)op < NOPS)
		return op_names[op];
	return "?";
}

static void
acc_init(struct acc *a)
{
	memset(a, 0, sizeof(*a));
	a->p = 1.0;
	a->mn = NAN;
	a->mx = NAN;
}

struct pr_reduce *
pr_reduce_new(enum pr_reduce_op op, bool deterministic)
{
	struct pr_reduce *r;

	if ((size_t)op >= NOPS)
		return NULL;
	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return NULL;
	r->op = op;
	r->ordered = deterministic || op == PR_REDUCE_CONCAT;
	acc_init(&r->acc);
	pr_buf_init(&r->text, 0);
	r->base = PR_REDUCE_FIRST_SEQ;
	return r;
}

void
pr_reduce_set_first_seq(struct pr_reduce *r, uint64_t seq)
{
	if (r->pending == 0)
		r->base = seq;
}

void
pr_reduce_free(struct pr_reduce *r)
{
	if (r == NULL)
		return;
	free(r->val);
	free(r->st);
	pr_buf_release(&r->text);
	free(r);
}

static void
neumaier(struct acc *a, double x)
{
	double t = a->s + x;

	if (fabs(a->s) >= fabs(x))
		a->c += (a->s - t) + x;
	else
		a->c += (x - t) + a->s;
	a->s = t;
}

static double
acc_sum(const struct acc *a)
{
	/* once s is inf or NaN, c is meaningless (inf - inf) */
	return isfinite(a->s) ? a->s + a->c : a->s;
}

static int
add_number(struct pr_buf *b, double v)
{
	if (isnan(v))
		return pr_buf_adds(b, "nan");
	if (isinf(v))
		return pr_buf_adds(b, v > 0 ? "inf" : "-inf");
	return pr_buf_add_double(b, v);
}

/* Fold one ok record into a (and text, for concat, when not NULL). */
static int
fold(enum pr_reduce_op op, struct acc *a, struct pr_buf *text,
    enum slot kind, double v)
{
	int rc;

	if (op == PR_REDUCE_COUNT) {
		if (kind == VALUE || kind == NOVALUE)
			a->n++;
		return 0;
	}
	if (kind != VALUE)
		return 0;
	switch (op) {
	case PR_REDUCE_SUM:
	case PR_REDUCE_MEAN:
		neumaier(a, v);
		break;
	case PR_REDUCE_PROD:
		a->p *= v;
		break;
	case PR_REDUCE_MIN:
	case PR_REDUCE_MAX:
		if (isnan(v))
			break;
		if (!a->have_mm || v < a->mn)
			a->mn = v;
		if (!a->have_mm || v > a->mx)
			a->mx = v;
		a->have_mm = true;
		break;
	case PR_REDUCE_CONCAT:
		if (text != NULL) {
			if ((rc = add_number(text, v)) < 0 ||
			    (rc = pr_buf_addc(text, '\n')) < 0)
				return rc;
		}
		break;
	case PR_REDUCE_COUNT:
		break;
	}
	a->n++;
	return 0;
}

/* Fold the slots from base on while they are filled. */
static int
advance(struct pr_reduce *r)
{
	int rc;

	while (r->cap > 0) {
		size_t i = (size_t)(r->base & (r->cap - 1));

		if (r->st[i] == EMPTY)
			break;
		rc = fold(r->op, &r->acc, &r->text, (enum slot)r->st[i],
		    r->val[i]);
		if (rc < 0)
			return rc;
		r->st[i] = EMPTY;
		r->pending--;
		r->base++;
	}
	return 0;
}

static int
ring_cover(struct pr_reduce *r, uint64_t seq)
{
	uint64_t ahead = seq - r->base;
	size_t ncap = r->cap ? r->cap : 256;
	double *nv;
	unsigned char *ns;

	if (ahead < r->cap)
		return 0;
	if (ahead >= MAX_AHEAD)
		return PR_ELIMIT;
	while (ncap <= ahead)
		ncap *= 2;
	nv = malloc(ncap * sizeof(*nv));
	ns = calloc(ncap, 1);
	if (nv == NULL || ns == NULL) {
		free(nv);
		free(ns);
		return -ENOMEM;
	}
	for (size_t k = 0; k < r->cap; k++) {
		uint64_t s = r->base + k;
		size_t oi = (size_t)(s & (r->cap - 1));
		size_t ni = (size_t)(s & (ncap - 1));

		ns[ni] = r->st[oi];
		nv[ni] = r->val[oi];
	}
	free(r->val);
	free(r->st);
	r->val = nv;
	r->st = ns;
	r->cap = ncap;
	return 0;
}

static int
put(struct pr_reduce *r, uint64_t seq, enum slot kind, double v)
{
	size_t i;
	int rc;

	if (!r->ordered)
		return fold(r->op, &r->acc, NULL, kind, v);
	if (seq < r->base)
		return -EINVAL;
	if ((rc = ring_cover(r, seq)) < 0)
		return rc;
	i = (size_t)(seq & (r->cap - 1));
	if (r->st[i] != EMPTY)
		return -EINVAL;
	r->st[i] = (unsigned char)kind;
	r->val[i] = v;
	r->pending++;
	return advance(r);
}

int
pr_reduce_add(struct pr_reduce *r, uint64_t seq, double value,
    bool has_value)
{
	return put(r, seq, has_value ? VALUE : NOVALUE, value);
}

int
pr_reduce_skip(struct pr_reduce *r, uint64_t seq)
{
	return put(r, seq, SKIP, 0.0);
}

/*
 * The accumulator with the waiting slots folded in seq order over the
 * gaps (a run that stopped early), without changing r.  Their concat text
 * goes to text when not NULL.
 */
static int
finish(const struct pr_reduce *r, struct acc *a, struct pr_buf *text)
{
	size_t seen = 0;
	int rc;

	*a = r->acc;
	for (uint64_t k = 0; k < r->cap && seen < r->pending; k++) {
		size_t i = (size_t)((r->base + k) & (r->cap - 1));

		if (r->st[i] == EMPTY)
			continue;
		seen++;
		rc = fold(r->op, a, text, (enum slot)r->st[i], r->val[i]);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static double
value_of(enum pr_reduce_op op, const struct acc *a)
{
	switch (op) {
	case PR_REDUCE_SUM:
		return acc_sum(a);
	case PR_REDUCE_PROD:
		return a->p;
	case PR_REDUCE_MIN:
		return a->have_mm ? a->mn : NAN;
	case PR_REDUCE_MAX:
		return a->have_mm ? a->mx : NAN;
	case PR_REDUCE_MEAN:
		return a->n > 0 ? acc_sum(a) / (double)a->n : NAN;
	case PR_REDUCE_COUNT:
		return (double)a->n;
	case PR_REDUCE_CONCAT:
		break;
	}
	return NAN;
}

int
pr_reduce_result(struct pr_reduce *r, double *value, uint64_t *count)
{
	struct acc a;
	int rc = finish(r, &a, NULL);

	if (rc < 0)
		return rc;
	if (value != NULL)
		*value = value_of(r->op, &a);
	if (count != NULL)
		*count = a.n;
	return 0;
}

int
pr_reduce_format(struct pr_reduce *r, struct pr_buf *b)
{
	struct acc a;
	int rc;

	if (r->op == PR_REDUCE_CONCAT) {
		size_t start = b->len;

		if ((rc = pr_buf_add(b, r->text.data != NULL ? r->text.data :
		    "", r->text.len)) < 0 || (rc = finish(r, &a, b)) < 0)
			return rc;
		/* one value a line, no newline after the last */
		if (b->len > start && b->data[b->len - 1] == '\n')
			b->data[--b->len] = '\0';
		return 0;
	}
	if ((rc = finish(r, &a, NULL)) < 0)
		return rc;
	return add_number(b, value_of(r->op, &a));
}
