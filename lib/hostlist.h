/*
 * hostlist.h - pdsh/Slurm host lists: "node[01-04,07]" <-> names.
 *
 * Syntax (the one Slurm prints in SLURM_JOB_NODELIST and pdsh reads):
 *
 *	list   = name *("," name)
 *	name   = 1*(text | "[" ranges "]")	  text: A-Z a-z 0-9 . _ -
 *	ranges = range *("," range)
 *	range  = NUM | NUM "-" NUM		  NUM: 1 to 9 decimal digits
 *
 * A name with several bracket groups is their cartesian product, the
 * leftmost group varying slowest: "r[1-2]n[01-02]" is r1n01 r1n02 r2n01
 * r2n02.  Names come out in the order written (no sorting, duplicates
 * kept).  A bound written with a leading zero fixes the width: "[08-10]"
 * is 08 09 10; "[8-10]" is 8 9 10; a padded upper bound must have the
 * width of the lower one ("[1-05]" and "[01-005]" are errors).  A name
 * may not start with '-' (it would read as an option to ssh), nor be
 * longer than PR_HOSTNAME_MAX.
 *
 * The number of names is capped (PR_HOSTLIST_MAX by default) and the cap
 * is checked before anything is generated, so "n[0-999999999]" costs
 * nothing but an error.
 *
 * Usage:
 *
 *	struct pr_hostlist hl;
 *	pr_hostlist_init(&hl, 0);
 *	rc = pr_hostlist_expand(&hl, "n[1-3],login", &eb);
 *	for (i = 0; i < hl.n; i++)
 *		use(pr_hostlist_get(&hl, i));
 *	pr_hostlist_release(&hl);
 *
 * Ownership: the hostlist owns every name; pr_hostlist_get() lends a
 * pointer that stays valid until the next push/expand or the release.
 */
#ifndef PR_HOSTLIST_H
#define PR_HOSTLIST_H

#include <stddef.h>

#include "buf.h"
#include "err.h"

#define PR_HOSTLIST_MAX 1000000	/* default cap on the number of names */
#define PR_HOSTNAME_MAX 255	/* longest name, in bytes */

struct pr_hostlist {
	struct pr_buf names;	/* the names, NUL-terminated, back to back */
	size_t *off;		/* off[i]: offset of name i in names.data */
	size_t n;		/* number of names */
	size_t cap;		/* room in off[] */
	size_t max;		/* cap on n */
};

/* Empty list holding at most max names (0: PR_HOSTLIST_MAX).  Cannot
 * fail, allocates nothing. */
void pr_hostlist_init(struct pr_hostlist *hl, size_t max);

/* Free every name; the list is empty again, with the same cap. */
void pr_hostlist_release(struct pr_hostlist *hl);

/* Name i (i < hl->n), borrowed. */
const char *pr_hostlist_get(const struct pr_hostlist *hl, size_t i);

/* Append one name s[0..len) as it is (no expansion, no checks other
 * than the cap: PR_ELIMIT). */
int pr_hostlist_push(struct pr_hostlist *hl, const char *s, size_t len);

/*
 * Expand the list s and append its names to hl.  On error nothing is
 * appended, and eb (may be NULL) reads, for example,
 * "host list 'n[3-1]': column 3: decreasing range '3-1'".
 * Returns 0, PR_ECONFIG (syntax), PR_ELIMIT (too many names) or -ENOMEM.
 */
int pr_hostlist_expand(struct pr_hostlist *hl, const char *s,
    struct pr_errbuf *eb);

/*
 * The same for s[0..len), for callers that place the error themselves:
 * eb gets the bare message ("decreasing range '3-1'") and *col (may be
 * NULL) the 1-based column in s where the problem is.
 */
int pr_hostlist_expand_n(struct pr_hostlist *hl, const char *s, size_t len,
    size_t *col, struct pr_errbuf *eb);

/*
 * The reverse, for display: append to out a list that expands back to
 * exactly the names given, in the same order.  Neighbours that share a
 * prefix and end in numbers are folded: n01 n02 n03 n07 login is
 * "n[01-03,07],login".  Returns 0 or a buf.h code.
 */
int pr_hostlist_compress(const struct pr_hostlist *hl, struct pr_buf *out);
int pr_hostlist_compress_names(const char *const *names, size_t n,
    struct pr_buf *out);

/*
 * Copy at most dstlen-1 bytes of s[0..n) into dst for use inside an error
 * message: bytes that are not printable ASCII become '?', and a long
 * subject is cut with "...".  Always NUL-terminates (dstlen > 4).
 */
void pr_hostlist_snip(char *dst, size_t dstlen, const char *s, size_t n);

#endif
