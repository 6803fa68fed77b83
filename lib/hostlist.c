/* hostlist.c - see hostlist.h */
#include "hostlist.h"

#include <errno.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NUM_DIGITS_MAX 9	/* bounds stay below 1e9: no overflow anywhere */
#define BYTES_PER_NAME 32	/* with the name cap, bounds the name storage */

struct range {
	unsigned long lo;
	unsigned long hi;
	int width;		/* zero padding, 0 for none */
};

struct group {
	size_t lit_off;		/* literal text before the group, in s */
	size_t lit_len;
	size_t first;		/* its ranges: ranges[first .. first+nr) */
	size_t nr;
};

/* One name of the list being parsed: groups, ranges and a trailing
 * literal.  The arrays are reused from name to name. */
struct parse {
	const char *s;
	size_t len;
	struct group *g;
	size_t ng, capg;
	struct range *r;
	size_t nr, capr;
	size_t tail_off, tail_len;
	size_t errcol;		/* 0-based offset of the error */
};

void
pr_hostlist_init(struct pr_hostlist *hl, size_t max)
{
	if (max == 0)
		max = PR_HOSTLIST_MAX;
	if (max > SIZE_MAX / 64)
		max = SIZE_MAX / 64;
	hl->max = max;
	/* The storage cap: generous for real names, and it stops a list of
	 * a million 250-byte names from taking a quarter of a gigabyte. */
	pr_buf_init(&hl->names, max * BYTES_PER_NAME + (1u << 20));
	hl->off = NULL;
	hl->n = 0;
	hl->cap = 0;
}

void
pr_hostlist_release(struct pr_hostlist *hl)
{
	pr_buf_release(&hl->names);
	free(hl->off);
	hl->off = NULL;
	hl->n = 0;
	hl->cap = 0;
}

const char *
pr_hostlist_get(const struct pr_hostlist *hl, size_t i)
{
	return hl->names.data + hl->off[i];
}

int
pr_hostlist_push(struct pr_hostlist *hl, const char *s, size_t len)
{
	size_t start = hl->names.len;
	int rc;

	if (hl->n >= hl->max)
		return PR_ELIMIT;
	if (hl->n == hl->cap) {
		size_t cap = hl->cap ? hl->cap * 2 : 16;
		size_t *p;

		if (cap > hl->max)
			cap = hl->max;
		p = realloc(hl->off, cap * sizeof(*p));
		if (p == NULL)
			return -ENOMEM;
		hl->off = p;
		hl->cap = cap;
	}
	rc = pr_buf_add(&hl->names, s, len);
	if (rc == 0)
		rc = pr_buf_addc(&hl->names, '\0');
	if (rc < 0) {
		hl->names.len = start;
		if (hl->names.data != NULL)
			hl->names.data[start] = '\0';
		return rc == PR_ETOOBIG ? PR_ELIMIT : rc;
	}
	hl->off[hl->n++] = start;
	return 0;
}

void
pr_hostlist_snip(char *dst, size_t dstlen, const char *s, size_t n)
{
	size_t i, k = 0;
	bool cut = false;

	if (dstlen == 0)
		return;
	if (n > dstlen - 1) {
		cut = dstlen > 4;
		n = cut ? dstlen - 4 : dstlen - 1;
	}
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		dst[k++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	if (cut) {
		memcpy(dst + k, "...", 3);
		k += 3;
	}
	dst[k] = '\0';
}

static bool
is_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
}

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Record an error at offset `at`: pre, then 'subj' quoted (if not NULL),
 * then post. */
static int
fail(struct parse *ps, size_t at, struct pr_errbuf *eb, const char *pre,
    const char *subj, size_t subjlen, const char *post)
{
	char snip[80];

	ps->errcol = at;
	if (subj == NULL)
		return pr_err(eb, PR_ECONFIG, "%s", pre);
	pr_hostlist_snip(snip, sizeof(snip), subj, subjlen);
	return pr_err(eb, PR_ECONFIG, "%s'%s'%s", pre, snip, post);
}

/* Parse a bound at *p: digits, at most NUM_DIGITS_MAX of them. */
static int
parse_num(struct parse *ps, size_t *p, unsigned long *v, size_t *ndig,
    struct pr_errbuf *eb)
{
	size_t start = *p, i = *p;
	unsigned long x = 0;

	while (i < ps->len && is_digit(ps->s[i]))
		i++;
	if (i == start)
		return fail(ps, start, eb, "expected a number, not ",
		    ps->s + start, 1, "");
	if (i - start > NUM_DIGITS_MAX)
		return fail(ps, start, eb, "number ", ps->s + start,
		    i - start, " too large");
	for (size_t k = start; k < i; k++)
		x = x * 10 + (unsigned long)(ps->s[k] - '0');
	*v = x;
	*ndig = i - start;
	*p = i;
	return 0;
}

static int
add_range(struct parse *ps, const struct range *r)
{
	if (ps->nr == ps->capr) {
		size_t cap = ps->capr ? ps->capr * 2 : 8;
		struct range *p = realloc(ps->r, cap * sizeof(*p));

		if (p == NULL)
			return -ENOMEM;
		ps->r = p;
		ps->capr = cap;
	}
	ps->r[ps->nr++] = *r;
	return 0;
}

static int
add_group(struct parse *ps, const struct group *g)
{
	if (ps->ng == ps->capg) {
		size_t cap = ps->capg ? ps->capg * 2 : 4;
		struct group *p = realloc(ps->g, cap * sizeof(*p));

		if (p == NULL)
			return -ENOMEM;
		ps->g = p;
		ps->capg = cap;
	}
	ps->g[ps->ng++] = *g;
	return 0;
}

/* "[" ranges "]", with *p on the '['. */
static int
parse_group(struct parse *ps, size_t *p, struct group *g,
    struct pr_errbuf *eb)
{
	size_t open = *p, i = *p + 1;
	int rc;

	g->first = ps->nr;
	g->nr = 0;
	for (;;) {
		struct range r;
		size_t lo_at = i, nlo, nhi;

		if (i < ps->len && (ps->s[i] == ',' || ps->s[i] == ']'))
			return fail(ps, i, eb, "empty range", NULL, 0, "");
		if (i < ps->len && ps->s[i] == '[')
			return fail(ps, i, eb, "nested '['", NULL, 0, "");
		if (i >= ps->len)
			return fail(ps, open, eb, "unterminated '['", NULL, 0,
			    "");
		rc = parse_num(ps, &i, &r.lo, &nlo, eb);
		if (rc < 0)
			return rc;
		r.width = (nlo > 1 && ps->s[lo_at] == '0') ? (int)nlo : 0;
		r.hi = r.lo;
		if (i < ps->len && ps->s[i] == '-') {
			size_t hi_at = ++i;

			if (i >= ps->len)
				return fail(ps, open, eb, "unterminated '['",
				    NULL, 0, "");
			rc = parse_num(ps, &i, &r.hi, &nhi, eb);
			if (rc < 0)
				return rc;
			if (r.hi < r.lo)
				return fail(ps, lo_at, eb, "decreasing range ",
				    ps->s + lo_at, i - lo_at, "");
			if (nhi > 1 && ps->s[hi_at] == '0' && nhi != nlo)
				return fail(ps, hi_at, eb,
				    "padded bounds of different widths in ",
				    ps->s + lo_at, i - lo_at, "");
		}
		rc = add_range(ps, &r);
		if (rc < 0)
			return rc;
		g->nr++;
		if (i >= ps->len)
			return fail(ps, open, eb, "unterminated '['", NULL, 0,
			    "");
		if (ps->s[i] == ']') {
			*p = i + 1;
			return 0;
		}
		if (ps->s[i] == ',') {
			i++;
			continue;
		}
		if (ps->s[i] == '[')
			return fail(ps, i, eb, "nested '['", NULL, 0, "");
		return fail(ps, i, eb, "unexpected ", ps->s + i, 1,
		    " in a range");
	}
}

/* One name from *p up to the next top-level ',' or the end. */
static int
parse_name(struct parse *ps, size_t *p, struct pr_errbuf *eb)
{
	size_t i = *p, lit = *p;
	int rc;

	ps->ng = 0;
	ps->nr = 0;
	if (i >= ps->len || ps->s[i] == ',')
		return fail(ps, i, eb, "empty host name", NULL, 0, "");
	if (ps->s[i] == '-')
		return fail(ps, i, eb, "host name starts with '-'", NULL, 0,
		    "");
	while (i < ps->len && ps->s[i] != ',') {
		char c = ps->s[i];

		if (c == '[') {
			struct group g;

			g.lit_off = lit;
			g.lit_len = i - lit;
			rc = parse_group(ps, &i, &g, eb);
			if (rc < 0)
				return rc;
			rc = add_group(ps, &g);
			if (rc < 0)
				return rc;
			lit = i;
		} else if (c == ']') {
			return fail(ps, i, eb, "unexpected ']'", NULL, 0, "");
		} else if (is_name_char(c)) {
			i++;
		} else {
			return fail(ps, i, eb, "invalid character ", &c, 1,
			    " in a host name");
		}
	}
	ps->tail_off = lit;
	ps->tail_len = i - lit;
	*p = i;
	return 0;
}

static size_t
digits_of(unsigned long v)
{
	size_t d = 1;

	while (v >= 10) {
		v /= 10;
		d++;
	}
	return d;
}

/* How many names the parsed name gives, capped at limit+1; and the
 * length of the longest of them. */
static size_t
count_names(const struct parse *ps, size_t limit, size_t *longest)
{
	size_t total = 1, len = ps->tail_len;

	for (size_t gi = 0; gi < ps->ng; gi++) {
		const struct group *g = &ps->g[gi];
		size_t n = 0, w = 0;

		for (size_t k = g->first; k < g->first + g->nr; k++) {
			const struct range *r = &ps->r[k];
			size_t d = digits_of(r->hi);

			if ((size_t)r->width > d)
				d = (size_t)r->width;
			if (d > w)
				w = d;
			n += r->hi - r->lo + 1;
			if (n > limit)
				n = limit + 1;
		}
		len += g->lit_len + w;
		if (total > (limit + 1) / n)
			total = limit + 1;
		else
			total *= n;
		if (total > limit)
			total = limit + 1;
	}
	*longest = len;
	return total;
}

static int
generate(struct pr_hostlist *hl, const struct parse *ps)
{
	size_t ri[64], *rip = ri;
	unsigned long cv[64], *cvp = cv;
	char name[PR_HOSTNAME_MAX + 1];
	int rc = 0;

	if (ps->ng > 64) {
		rip = calloc(ps->ng, sizeof(*rip));
		cvp = calloc(ps->ng, sizeof(*cvp));
		if (rip == NULL || cvp == NULL) {
			rc = -ENOMEM;
			goto out;
		}
	}
	for (size_t g = 0; g < ps->ng; g++) {
		rip[g] = ps->g[g].first;
		cvp[g] = ps->r[rip[g]].lo;
	}
	for (;;) {
		size_t k = 0;
		size_t g;

		for (g = 0; g < ps->ng; g++) {
			const struct range *r = &ps->r[rip[g]];
			int n;

			memcpy(name + k, ps->s + ps->g[g].lit_off,
			    ps->g[g].lit_len);
			k += ps->g[g].lit_len;
			n = snprintf(name + k, sizeof(name) - k, "%0*lu",
			    r->width, cvp[g]);
			k += (size_t)n;
		}
		memcpy(name + k, ps->s + ps->tail_off, ps->tail_len);
		k += ps->tail_len;
		rc = pr_hostlist_push(hl, name, k);
		if (rc < 0)
			goto out;
		/* Odometer: the rightmost group turns fastest. */
		for (g = ps->ng; g > 0; g--) {
			size_t x = g - 1;
			const struct group *gr = &ps->g[x];

			if (cvp[x] < ps->r[rip[x]].hi) {
				cvp[x]++;
				break;
			}
			if (rip[x] + 1 < gr->first + gr->nr) {
				rip[x]++;
				cvp[x] = ps->r[rip[x]].lo;
				break;
			}
			rip[x] = gr->first;
			cvp[x] = ps->r[rip[x]].lo;
		}
		if (g == 0)
			break;
	}
out:
	if (rip != ri)
		free(rip);
	if (cvp != cv)
		free(cvp);
	return rc;
}

int
pr_hostlist_expand_n(struct pr_hostlist *hl, const char *s, size_t len,
    size_t *col, struct pr_errbuf *eb)
{
	struct parse ps;
	size_t n0 = hl->n, len0 = hl->names.len, p = 0;
	int rc = 0;

	memset(&ps, 0, sizeof(ps));
	ps.s = s;
	ps.len = len;
	if (len == 0) {
		rc = fail(&ps, 0, eb, "empty host list", NULL, 0, "");
		goto out;
	}
	for (;;) {
		size_t start = p, longest, count;

		rc = parse_name(&ps, &p, eb);
		if (rc < 0)
			goto out;
		count = count_names(&ps, hl->max - hl->n, &longest);
		if (longest > PR_HOSTNAME_MAX) {
			rc = fail(&ps, start, eb, "host name ", s + start,
			    p - start, " too long");
			goto out;
		}
		if (count > hl->max - hl->n ||
		    count * (longest + 1) > hl->names.max - hl->names.len) {
			ps.errcol = start;
			rc = pr_err(eb, PR_ELIMIT,
			    "expands to more than %zu host names", hl->max);
			goto out;
		}
		rc = generate(hl, &ps);
		if (rc < 0) {
			ps.errcol = start;
			if (rc == PR_ELIMIT)
				pr_err(eb, rc, "expands to more than %zu host "
				    "names", hl->max);
			else
				pr_err(eb, rc, "%s", pr_strerror(rc));
			goto out;
		}
		if (p >= len)
			break;
		p++;		/* the ',' */
		if (p >= len) {
			rc = fail(&ps, p - 1, eb, "trailing ','", NULL, 0, "");
			goto out;
		}
	}
out:
	if (rc < 0) {
		hl->n = n0;
		hl->names.len = len0;
		if (hl->names.data != NULL)
			hl->names.data[len0] = '\0';
		if (col != NULL)
			*col = ps.errcol + 1;
	}
	free(ps.g);
	free(ps.r);
	return rc;
}

int
pr_hostlist_expand(struct pr_hostlist *hl, const char *s,
    struct pr_errbuf *eb)
{
	struct pr_errbuf inner;
	size_t col = 0, len = strlen(s);
	char snip[80];
	int rc;

	inner.msg[0] = '\0';
	rc = pr_hostlist_expand_n(hl, s, len, &col, &inner);
	if (rc < 0) {
		pr_hostlist_snip(snip, sizeof(snip), s, len);
		pr_err(eb, rc, "host list '%s': column %zu: %s", snip, col,
		    pr_errmsg(&inner, rc));
	}
	return rc;
}

/* ---- compress --------------------------------------------------------- */

/* A name split as prefix + trailing digits (at most NUM_DIGITS_MAX). */
struct split {
	const char *name;
	size_t plen;		/* prefix length */
	size_t dlen;		/* digits, 0 when the name cannot fold */
	unsigned long v;
};

static void
split_name(const char *name, struct split *sp)
{
	size_t n = strlen(name), i = n;

	sp->name = name;
	while (i > 0 && is_digit(name[i - 1]))
		i--;
	sp->plen = i;
	sp->dlen = n - i;
	sp->v = 0;
	if (sp->dlen == 0 || sp->dlen > NUM_DIGITS_MAX) {
		sp->plen = n;
		sp->dlen = 0;
		return;
	}
	for (size_t k = i; k < n; k++)
		sp->v = sp->v * 10 + (unsigned long)(name[k] - '0');
}

static int
width_of(const struct split *sp)
{
	return (sp->dlen > 1 && sp->name[sp->plen] == '0') ? (int)sp->dlen : 0;
}

/* Does sp print as itself with the padding w? */
static bool
fits(const struct split *sp, int w)
{
	size_t d = digits_of(sp->v);

	if (w == 0)
		return d == sp->dlen;
	return sp->dlen == (d > (size_t)w ? d : (size_t)w);
}

static bool
same_prefix(const struct split *a, const struct split *b)
{
	return a->dlen > 0 && b->dlen > 0 && a->plen == b->plen &&
	    memcmp(a->name, b->name, a->plen) == 0;
}

static int
compress(const char *(*get)(const void *, size_t), const void *ctx,
    size_t n, struct pr_buf *out)
{
	size_t i = 0;
	int rc = 0;

	while (i < n && rc == 0) {
		struct split a, b;
		size_t j;

		if (i > 0)
			rc = pr_buf_addc(out, ',');
		if (rc < 0)
			break;
		split_name(get(ctx, i), &a);
		/* The group: the neighbours with the same prefix. */
		j = i + 1;
		while (j < n) {
			split_name(get(ctx, j), &b);
			if (!same_prefix(&a, &b))
				break;
			j++;
		}
		if (j == i + 1) {
			rc = pr_buf_adds(out, a.name);
			i++;
			continue;
		}
		rc = pr_buf_add(out, a.name, a.plen);
		if (rc == 0)
			rc = pr_buf_addc(out, '[');
		for (size_t k = i; k < j && rc == 0;) {
			struct split lo, cur, nx;
			size_t m = k + 1;
			int w;

			split_name(get(ctx, k), &lo);
			w = width_of(&lo);
			cur = lo;
			while (m < j) {
				split_name(get(ctx, m), &nx);
				if (nx.v != cur.v + 1 || !fits(&nx, w))
					break;
				cur = nx;
				m++;
			}
			if (k > i)
				rc = pr_buf_addc(out, ',');
			if (rc == 0)
				rc = pr_buf_add(out, lo.name + lo.plen,
				    lo.dlen);
			if (rc == 0 && m > k + 1)
				rc = pr_buf_addf(out, "-%.*s", (int)cur.dlen,
				    cur.name + cur.plen);
			k = m;
		}
		if (rc == 0)
			rc = pr_buf_addc(out, ']');
		i = j;
	}
	return rc;
}

static const char *
get_hl(const void *ctx, size_t i)
{
	return pr_hostlist_get(ctx, i);
}

static const char *
get_vec(const void *ctx, size_t i)
{
	return ((const char *const *)ctx)[i];
}

int
pr_hostlist_compress(const struct pr_hostlist *hl, struct pr_buf *out)
{
	return compress(get_hl, hl, hl->n, out);
}

int
pr_hostlist_compress_names(const char *const *names, size_t n,
    struct pr_buf *out)
{
	return compress(get_vec, names, n, out);
}
