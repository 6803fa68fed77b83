/* input.c - see input.h */
#include "input.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto.h"
#include "template.h"

/* A line read from a file and not handed out yet. */
struct line {
	size_t off, len;	/* in src->pend */
	unsigned long lineno;
	int err;		/* 0, or PR_ETOOBIG */
};

struct src {
	enum pr_src_kind kind;
	char *name;		/* for messages */
	unsigned long lineno;	/* lines seen so far (FILE) */

	/* FILE */
	int fd;
	bool own_fd;
	bool eof;
	struct pr_framer fr;
	struct pr_buf pend;	/* lines of the last read, each + NUL */
	struct line *lines;
	size_t nlines, caplines, next;

	/* values in memory: ARGS, and FILEs after the first in a product */
	struct pr_buf vbuf;
	size_t *voff, *vlen;
	unsigned long *vline;
	size_t nvals, capvals;

	/* RANGE */
	int64_t a, b, step;
	uint64_t count;
	char num[24];		/* the current value's text */
};

struct pr_input {
	struct pr_template *tmpl;
	struct pr_task_parser *parser;
	struct src *srcs;
	size_t nsrcs;
	bool skip_bad;
	bool task_lines;	/* one line source alone: lines are tasks */
	bool kernel_range;
	char *rbuf;		/* the read buffer */
	uint64_t seq;
	int sticky;		/* a read error, returned again */
	char sticky_msg[PR_ERRBUF_LEN];

	/* the product */
	bool loaded, done, have_cur;
	struct pr_buf cur;	/* the first source's current value */
	unsigned long curline;
	size_t *idx;		/* per source: index of its current value */
	const char **vals;
	size_t *lens;

	/* rejected tasks found while loading later sources */
	struct pr_task **rej;
	size_t nrej, rejnext;

	/* kernel range chunks */
	uint64_t chunk, nchunks;
};

void
pr_input_opts_init(struct pr_input_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->stdin_fd = 0;
}

/* ---- ranges ------------------------------------------------------------- */

static int
parse_i64(const char *s, size_t n, int64_t *out)
{
	size_t i = 0;
	uint64_t v = 0;
	bool neg = false;

	if (i < n && (s[i] == '-' || s[i] == '+'))
		neg = s[i++] == '-';
	if (i == n)
		return -1;
	for (; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
		if (v > PR_ID_MAX)
			return -2;
	}
	*out = neg ? -(int64_t)v : (int64_t)v;
	return 0;
}

int
pr_range_parse(const char *s, int64_t *a, int64_t *b, int64_t *step,
    struct pr_errbuf *eb)
{
	const char *c1 = strchr(s, ':'), *c2;
	int64_t x, y, z = 1;
	int r;

	if (c1 == NULL)
		goto syntax;
	c2 = strchr(c1 + 1, ':');
	if ((r = parse_i64(s, (size_t)(c1 - s), &x)) == 0)
		r = parse_i64(c1 + 1, c2 ? (size_t)(c2 - c1 - 1) :
		    strlen(c1 + 1), &y);
	if (r == 0 && c2 != NULL)
		r = parse_i64(c2 + 1, strlen(c2 + 1), &z);
	if (r == -2)
		return pr_err(eb, PR_ECONFIG, "invalid range '%.64s': numbers "
		    "must be within +-9007199254740991", s);
	if (r < 0)
		goto syntax;
	if (x > y)
		return pr_err(eb, PR_ECONFIG, "invalid range '%.64s': the "
		    "start is after the end", s);
	if (z < 1)
		return pr_err(eb, PR_ECONFIG, "invalid range '%.64s': the "
		    "step must be at least 1", s);
	*a = x;
	*b = y;
	*step = z;
	return 0;
syntax:
	return pr_err(eb, PR_ECONFIG, "invalid range '%.64s' (expected "
	    "A:B or A:B:STEP with integers)", s);
}

/* ---- reading lines ------------------------------------------------------ */

static int
on_line(void *arg, char *line, size_t len, int err)
{
	struct src *s = arg;
	struct line *l;
	size_t i;
	int rc;

	s->lineno++;
	if (err == 0) {
		/* the framer dropped the CR of a CRLF */
		for (i = 0; i < len; i++)
			if (line[i] != ' ' && line[i] != '\t' &&
			    line[i] != '\r' && line[i] != '\v' &&
			    line[i] != '\f')
				break;
		if (i == len)
			return 0;	/* blank: not a task */
	}
	if (s->nlines == s->caplines) {
		size_t ncap = s->caplines ? s->caplines * 2 : 64;

		l = realloc(s->lines, ncap * sizeof(*l));
		if (l == NULL)
			return -ENOMEM;
		s->lines = l;
		s->caplines = ncap;
	}
	l = &s->lines[s->nlines];
	l->off = s->pend.len;
	l->len = err == 0 ? len : 0;
	l->lineno = s->lineno;
	l->err = err;
	if (err == 0 && ((rc = pr_buf_add(&s->pend, line, len)) < 0 ||
	    (rc = pr_buf_addc(&s->pend, '\0')) < 0))
		return rc;
	s->nlines++;
	return 0;
}

static int
read_err(struct pr_input *in, struct src *s, int code, struct pr_errbuf *eb)
{
	in->sticky = code;
	pr_err(eb, code, "cannot read '%s': %s", s->name, pr_strerror(code));
	memcpy(in->sticky_msg, eb ? eb->msg : "", eb ? sizeof(in->sticky_msg)
	    : 1);
	return code;
}

/*
 * The next non-blank line of a file source: 1 with *l (its text is
 * s->pend.data + l->off, NUL-terminated, writable), 0 at EOF, or a
 * negative code for a read error.
 */
static int
next_line(struct pr_input *in, struct src *s, struct line **l,
    struct pr_errbuf *eb)
{
	ssize_t n;
	int rc;

	while (s->next >= s->nlines) {
		s->next = s->nlines = 0;
		if (s->pend.cap > 4 * PR_INPUT_READ_SIZE)
			pr_buf_release(&s->pend);
		else
			pr_buf_reset(&s->pend);
		if (s->eof)
			return 0;
		n = read(s->fd, in->rbuf, PR_INPUT_READ_SIZE);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				struct pollfd pfd = { s->fd, POLLIN, 0 };

				(void)poll(&pfd, 1, -1);
				continue;
			}
			return read_err(in, s, -errno, eb);
		}
		if (n == 0) {
			s->eof = true;
			rc = pr_framer_finish(&s->fr, true, on_line, s);
			if (rc < 0 && rc != PR_ETORN)
				return read_err(in, s, rc, eb);
			continue;
		}
		rc = pr_framer_feed(&s->fr, in->rbuf, (size_t)n, on_line, s);
		if (rc < 0)
			return read_err(in, s, rc, eb);
	}
	*l = &s->lines[s->next++];
	return 1;
}

/* ---- values in memory --------------------------------------------------- */

static int
add_value(struct src *s, const char *v, size_t n, unsigned long lineno)
{
	int rc;

	if (s->nvals == s->capvals) {
		size_t ncap = s->capvals ? s->capvals * 2 : 16;
		size_t *no, *nl;
		unsigned long *nli;

		no = realloc(s->voff, ncap * sizeof(*no));
		if (no == NULL)
			return -ENOMEM;
		s->voff = no;
		nl = realloc(s->vlen, ncap * sizeof(*nl));
		if (nl == NULL)
			return -ENOMEM;
		s->vlen = nl;
		nli = realloc(s->vline, ncap * sizeof(*nli));
		if (nli == NULL)
			return -ENOMEM;
		s->vline = nli;
		s->capvals = ncap;
	}
	s->voff[s->nvals] = s->vbuf.len;
	s->vlen[s->nvals] = n;
	s->vline[s->nvals] = lineno;
	if ((rc = pr_buf_add(&s->vbuf, v, n)) < 0 ||
	    (rc = pr_buf_addc(&s->vbuf, '\0')) < 0)
		return rc;
	s->nvals++;
	return 0;
}

static uint64_t
src_count(const struct src *s)
{
	return s->kind == PR_SRC_RANGE ? s->count : s->nvals;
}

static void
src_value(struct src *s, size_t i, const char **v, size_t *n)
{
	if (s->kind == PR_SRC_RANGE) {
		int64_t x = s->a + (int64_t)i * s->step;
		char *p = s->num + sizeof(s->num);
		uint64_t u = x < 0 ? (uint64_t)0 - (uint64_t)x : (uint64_t)x;

		do {
			*--p = (char)('0' + u % 10);
			u /= 10;
		} while (u != 0);
		if (x < 0)
			*--p = '-';
		*v = p;
		*n = (size_t)(s->num + sizeof(s->num) - p);
		return;
	}
	*v = s->vbuf.data + s->voff[i];
	*n = s->vlen[i];
}

/* ---- bad input ---------------------------------------------------------- */

/*
 * A bad line: under skip_bad a rejected task (1 with *out), else the
 * error (eb already holds the message).
 */
static int
bad_line(struct pr_input *in, int code, const char *srcname,
    unsigned long lineno, const char *line, size_t len, struct pr_task **out,
    struct pr_errbuf *eb)
{
	int rc;

	if (code != PR_EBADINPUT || !in->skip_bad)
		return code;
	rc = pr_task_rejected(in->parser, ++in->seq, srcname, lineno,
	    eb ? eb->msg : pr_strerror(code), line, len, out);
	if (rc < 0)
		return pr_err(eb, rc, "%s:%lu: %s", srcname, lineno,
		    pr_strerror(rc));
	if (eb != NULL) {
		eb->code = 0;
		eb->msg[0] = '\0';
	}
	return 1;
}

static int
too_long(struct pr_input *in, const struct src *s, unsigned long lineno,
    struct pr_task **out, struct pr_errbuf *eb)
{
	struct pr_errbuf local;

	if (eb == NULL)
		eb = &local;
	pr_err(eb, PR_EBADINPUT, "%s:%lu:1: line too long (> %zu bytes)",
	    s->name, lineno, s->fr.max_line);
	return bad_line(in, PR_EBADINPUT, s->name, lineno, NULL, 0, out, eb);
}

/* ---- setup -------------------------------------------------------------- */

static void
src_release(struct src *s)
{
	if (s->kind == PR_SRC_FILE) {
		if (s->own_fd && s->fd >= 0)
			close(s->fd);
		pr_framer_release(&s->fr);
	}
	free(s->name);
	pr_buf_release(&s->pend);
	free(s->lines);
	pr_buf_release(&s->vbuf);
	free(s->voff);
	free(s->vlen);
	free(s->vline);
}

void
pr_input_free(struct pr_input *in)
{
	size_t i;

	if (in == NULL)
		return;
	for (i = 0; i < in->nsrcs; i++)
		src_release(&in->srcs[i]);
	free(in->srcs);
	for (i = in->rejnext; i < in->nrej; i++)
		pr_task_free(in->rej[i]);
	free(in->rej);
	pr_task_parser_free(in->parser);
	pr_template_free(in->tmpl);
	pr_buf_release(&in->cur);
	free(in->idx);
	free(in->vals);
	free(in->lens);
	free(in->rbuf);
	free(in);
}

static int
open_file(struct src *s, const struct pr_input_opts *o, const char *path,
    struct pr_errbuf *eb)
{
	const char *sname = o->stdin_name ? o->stdin_name : "stdin";

	if (strcmp(path, "-") == 0) {
		s->fd = o->stdin_fd;
		s->own_fd = false;
		s->name = strdup(sname);
	} else {
		s->fd = open(path, O_RDONLY | O_CLOEXEC);
		if (s->fd < 0)
			return pr_err(eb, -errno, "cannot open '%s': %s", path,
			    pr_strerror(-errno));
		s->own_fd = true;
		s->name = strdup(path);
	}
	if (s->name == NULL)
		return pr_err(eb, -ENOMEM, "out of memory");
	return 0;
}

static int
setup_src(struct src *s, const struct pr_input_src *is,
    const struct pr_input_opts *o, size_t max_line, size_t gi,
    struct pr_errbuf *eb)
{
	const char *what;
	size_t i, col;
	int rc;

	s->kind = is->kind;
	s->fd = -1;
	pr_buf_init(&s->pend, 0);
	pr_buf_init(&s->vbuf, 0);
	switch (is->kind) {
	case PR_SRC_FILE:
		pr_framer_init(&s->fr, max_line);
		s->fr.strip_cr = true;
		if (is->path == NULL)
			return pr_err(eb, PR_ECONFIG, "input file not given");
		return open_file(s, o, is->path, eb);
	case PR_SRC_ARGS:
		s->name = strdup("args");
		if (s->name == NULL)
			return pr_err(eb, -ENOMEM, "out of memory");
		for (i = 0; i < is->nvalues; i++) {
			const char *v = is->values[i];
			size_t n = strlen(v);

			if (!pr_task_text_ok(v, n, &col, &what))
				return pr_err(eb, PR_ECONFIG, "::: group %zu, "
				    "value %zu: %s at byte %zu", gi, i + 1,
				    what, col);
			if ((rc = add_value(s, v, n, i + 1)) < 0)
				return pr_err(eb, rc, "out of memory");
		}
		return 0;
	case PR_SRC_RANGE:
		s->name = strdup("range");
		if (s->name == NULL)
			return pr_err(eb, -ENOMEM, "out of memory");
		if (is->range == NULL)
			return pr_err(eb, PR_ECONFIG, "range not given");
		if ((rc = pr_range_parse(is->range, &s->a, &s->b, &s->step,
		    eb)) < 0)
			return rc;
		s->count = (uint64_t)(s->b - s->a) / (uint64_t)s->step + 1;
		return 0;
	}
	return pr_err(eb, PR_ECONFIG, "unknown input source");
}

int
pr_input_new(struct pr_input **out, const struct pr_input_opts *o,
    struct pr_errbuf *eb)
{
	struct pr_input_src stdin_src = { PR_SRC_FILE, "-", NULL, 0, NULL };
	const struct pr_input_src *srcs = o->srcs;
	size_t nsrcs = o->nsrcs, max_line = o->max_line, i, nstdin = 0;
	size_t ngroup = 0;
	struct pr_task_opts to;
	struct pr_input *in;
	int rc;

	*out = NULL;
	if (nsrcs == 0) {
		srcs = &stdin_src;
		nsrcs = 1;
	}
	if (max_line == 0)
		max_line = PR_MAX_FRAME;
	in = calloc(1, sizeof(*in));
	if (in == NULL)
		return pr_err(eb, -ENOMEM, "out of memory");
	pr_buf_init(&in->cur, 0);
	in->skip_bad = o->skip_bad;
	in->srcs = calloc(nsrcs, sizeof(*in->srcs));
	in->idx = calloc(nsrcs, sizeof(*in->idx));
	in->vals = calloc(nsrcs, sizeof(*in->vals));
	in->lens = calloc(nsrcs, sizeof(*in->lens));
	in->rbuf = malloc(PR_INPUT_READ_SIZE);
	if (in->srcs == NULL || in->idx == NULL || in->vals == NULL ||
	    in->lens == NULL || in->rbuf == NULL) {
		rc = pr_err(eb, -ENOMEM, "out of memory");
		goto fail;
	}
	for (i = 0; i < nsrcs; i++) {
		if (srcs[i].kind == PR_SRC_FILE && srcs[i].path != NULL &&
		    strcmp(srcs[i].path, "-") == 0 && ++nstdin > 1) {
			rc = pr_err(eb, PR_ECONFIG, "stdin ('-') given as "
			    "input more than once");
			goto fail;
		}
		if (srcs[i].kind == PR_SRC_ARGS)
			ngroup++;
		in->nsrcs = i + 1;
		if ((rc = setup_src(&in->srcs[i], &srcs[i], o, max_line,
		    ngroup, eb)) < 0)
			goto fail;
	}
	in->task_lines = nsrcs == 1 && srcs[0].kind == PR_SRC_FILE;
	if (o->ntmpl > 0) {
		if (o->kernel != NULL) {
			rc = pr_err(eb, PR_ECONFIG, "--kernel and a command "
			    "cannot be used together");
			goto fail;
		}
		if ((rc = pr_template_new(&in->tmpl, o->tmpl, o->ntmpl,
		    o->shell, eb)) < 0)
			goto fail;
		if (!in->task_lines &&
		    pr_template_max_index(in->tmpl) > nsrcs) {
			rc = pr_err(eb, PR_ECONFIG, "the command uses '{%u}' "
			    "but there %s only %zu input source%s",
			    pr_template_max_index(in->tmpl),
			    nsrcs == 1 ? "is" : "are", nsrcs,
			    nsrcs == 1 ? "" : "s");
			goto fail;
		}
	}
	if (o->kernel != NULL && !in->task_lines) {
		if (nsrcs > 1) {
			rc = pr_err(eb, PR_ECONFIG, "--kernel takes a single "
			    "input source");
			goto fail;
		}
		if (srcs[0].kind == PR_SRC_RANGE) {
			struct src *s = &in->srcs[0];

			in->kernel_range = true;
			in->nchunks = o->chunks ? o->chunks : 1;
			if (in->nchunks > s->count)
				in->nchunks = s->count;
		}
	}
	for (i = 0; i < nsrcs; i++)
		if (srcs[i].kind == PR_SRC_RANGE && o->ntmpl == 0 &&
		    o->kernel == NULL) {
			rc = pr_err(eb, PR_ECONFIG, "--range needs a command "
			    "or --kernel");
			goto fail;
		}
	memset(&to, 0, sizeof(to));
	to.tmpl = in->tmpl;
	to.kernel = o->kernel;
	if ((rc = pr_task_parser_new(&in->parser, &to, eb)) < 0)
		goto fail;
	if (o->fingerprint && (rc = pr_task_parser_set_fingerprint(in->parser,
	    o->tmpl, in->tmpl != NULL ? o->ntmpl : 0, o->shell)) < 0) {
		rc = pr_err(eb, rc, "cannot make fingerprints: %s",
		    pr_strerror(rc));
		goto fail;
	}
	*out = in;
	return 0;
fail:
	pr_input_free(in);
	return rc;
}

/* ---- producing tasks ---------------------------------------------------- */

/* Load a later FILE source of a product into memory. */
static int
load_file(struct pr_input *in, struct src *s, struct pr_errbuf *eb)
{
	struct line *l;
	const char *what;
	size_t col;
	int rc;

	while ((rc = next_line(in, s, &l, eb)) == 1) {
		const char *text = s->pend.data + l->off;
		struct pr_task *t = NULL;

		if (l->err == 0 && pr_task_text_ok(text, l->len, &col,
		    &what)) {
			if ((rc = add_value(s, text, l->len, l->lineno)) < 0)
				return pr_err(eb, rc, "out of memory");
			continue;
		}
		if (l->err != 0) {
			rc = too_long(in, s, l->lineno, &t, eb);
		} else {
			pr_err(eb, PR_EBADINPUT, "%s:%lu:%zu: %s", s->name,
			    l->lineno, col, what);
			rc = bad_line(in, PR_EBADINPUT, s->name, l->lineno,
			    text, l->len, &t, eb);
		}
		if (rc < 0)
			return rc;
		if (in->nrej % 16 == 0) {
			struct pr_task **nr = realloc(in->rej,
			    (in->nrej + 16) * sizeof(*nr));

			if (nr == NULL) {
				pr_task_free(t);
				return pr_err(eb, -ENOMEM, "out of memory");
			}
			in->rej = nr;
		}
		in->rej[in->nrej++] = t;
	}
	if (rc < 0)
		return rc;
	/* the file is in memory now */
	if (s->own_fd)
		close(s->fd);
	s->fd = -1;
	s->own_fd = false;
	free(s->lines);
	s->lines = NULL;
	s->caplines = 0;
	pr_buf_release(&s->pend);
	return 0;
}

/* The first source's next value into in->cur: 1, 0 at its end, or a
 * negative code / a rejected task (2 with *out). */
static int
next_first(struct pr_input *in, struct pr_task **out, struct pr_errbuf *eb)
{
	struct src *s = &in->srcs[0];
	const char *v, *what;
	size_t n, col;
	struct line *l;
	int rc;

	if (s->kind == PR_SRC_FILE) {
		rc = next_line(in, s, &l, eb);
		if (rc <= 0)
			return rc;
		if (l->err != 0) {
			rc = too_long(in, s, l->lineno, out, eb);
			return rc == 1 ? 2 : rc;
		}
		v = s->pend.data + l->off;
		n = l->len;
		if (!pr_task_text_ok(v, n, &col, &what)) {
			pr_err(eb, PR_EBADINPUT, "%s:%lu:%zu: %s", s->name,
			    l->lineno, col, what);
			rc = bad_line(in, PR_EBADINPUT, s->name, l->lineno,
			    v, n, out, eb);
			return rc == 1 ? 2 : rc;
		}
		in->curline = l->lineno;
	} else {
		if (in->idx[0] >= src_count(s))
			return 0;
		src_value(s, in->idx[0], &v, &n);
		in->idx[0]++;
		in->curline = in->idx[0];
	}
	pr_buf_reset(&in->cur);
	if ((rc = pr_buf_add(&in->cur, v, n)) < 0)
		return pr_err(eb, rc, "out of memory");
	return 1;
}

static int
next_product(struct pr_input *in, struct pr_task **out, struct pr_errbuf *eb)
{
	size_t k, i;
	int rc;

	if (!in->loaded) {
		for (k = 1; k < in->nsrcs; k++)
			if (in->srcs[k].kind == PR_SRC_FILE &&
			    (rc = load_file(in, &in->srcs[k], eb)) < 0)
				return rc;
		in->loaded = true;
		for (k = 1; k < in->nsrcs; k++)
			if (src_count(&in->srcs[k]) == 0)
				in->done = true;
	}
	if (in->rejnext < in->nrej) {
		*out = in->rej[in->rejnext];
		in->rej[in->rejnext++] = NULL;
		return 1;
	}
	if (in->done)
		return 0;
	if (!in->have_cur) {
		rc = next_first(in, out, eb);
		if (rc == 2)
			return 1;
		if (rc <= 0) {
			if (rc == 0)
				in->done = true;
			return rc;
		}
		in->have_cur = true;
		for (k = 1; k < in->nsrcs; k++)
			in->idx[k] = 0;
	}
	in->vals[0] = in->cur.data;
	in->lens[0] = in->cur.len;
	for (k = 1; k < in->nsrcs; k++)
		src_value(&in->srcs[k], in->idx[k], &in->vals[k],
		    &in->lens[k]);
	rc = pr_task_from_values(in->parser, in->vals, in->lens, in->nsrcs,
	    in->seq + 1, in->srcs[0].name, in->curline, out, eb);
	if (rc == 1)
		in->seq++;
	else
		rc = bad_line(in, rc, in->srcs[0].name, in->curline,
		    in->cur.data, in->cur.len, out, eb);
	/* the odometer: the last source varies fastest */
	for (i = in->nsrcs; i-- > 1;) {
		if (++in->idx[i] < src_count(&in->srcs[i]))
			break;
		in->idx[i] = 0;
	}
	if (i == 0)
		in->have_cur = false;
	return rc;
}

static int
next_chunk(struct pr_input *in, struct pr_task **out, struct pr_errbuf *eb)
{
	const struct src *s = &in->srcs[0];
	uint64_t base, rem, start, len;
	int64_t from, to;
	int rc;

	if (in->chunk >= in->nchunks)
		return 0;
	base = s->count / in->nchunks;
	rem = s->count % in->nchunks;
	start = in->chunk * base + (in->chunk < rem ? in->chunk : rem);
	len = base + (in->chunk < rem ? 1 : 0);
	from = s->a + (int64_t)start * s->step;
	to = from + (int64_t)(len - 1) * s->step;
	rc = pr_task_range_chunk(in->parser, in->seq + 1, from, to, s->step,
	    len, out);
	if (rc < 0)
		return pr_err(eb, rc, "range: %s", pr_strerror(rc));
	in->chunk++;
	in->seq++;
	return 1;
}

static int
next_task_line(struct pr_input *in, struct pr_task **out,
    struct pr_errbuf *eb)
{
	struct src *s = &in->srcs[0];
	struct line *l;
	int rc;

	for (;;) {
		char *text;

		rc = next_line(in, s, &l, eb);
		if (rc <= 0)
			return rc;
		if (l->err != 0)
			return too_long(in, s, l->lineno, out, eb);
		text = s->pend.data + l->off;
		rc = pr_task_parse_line(in->parser, text, l->len, in->seq + 1,
		    s->name, l->lineno, out, eb);
		if (rc == 0)
			continue;	/* blank */
		if (rc == 1) {
			in->seq++;
			return 1;
		}
		return bad_line(in, rc, s->name, l->lineno, text, l->len, out,
		    eb);
	}
}

int
pr_input_next(struct pr_input *in, struct pr_task **out,
    struct pr_errbuf *eb)
{
	struct pr_errbuf local;

	/* rejected tasks carry the message, so there must be one */
	if (eb == NULL)
		eb = &local;
	*out = NULL;
	if (in->sticky != 0) {
		if (eb != NULL) {
			eb->code = in->sticky;
			memcpy(eb->msg, in->sticky_msg, sizeof(eb->msg));
		}
		return in->sticky;
	}
	if (in->kernel_range)
		return next_chunk(in, out, eb);
	if (in->task_lines)
		return next_task_line(in, out, eb);
	return next_product(in, out, eb);
}

const char *
pr_input_source_name(const struct pr_input *in)
{
	return in->srcs[0].name;
}

bool
pr_input_slot_dependent(const struct pr_input *in)
{
	return in->tmpl != NULL && pr_template_uses_slot(in->tmpl);
}

bool
pr_input_range_chunks(const struct pr_input *in)
{
	return in->kernel_range;
}

uint64_t
pr_input_count(const struct pr_input *in)
{
	return in->seq;
}

size_t
pr_input_mem(const struct pr_input *in)
{
	size_t m = PR_INPUT_READ_SIZE + in->cur.cap +
	    pr_task_parser_mem(in->parser);
	size_t i;

	for (i = 0; i < in->nsrcs; i++) {
		const struct src *s = &in->srcs[i];

		m += s->pend.cap + s->caplines * sizeof(*s->lines) +
		    s->vbuf.cap + s->capvals * (2 * sizeof(size_t) +
		    sizeof(unsigned long));
		if (s->kind == PR_SRC_FILE)
			m += s->fr.tail.cap;
	}
	return m;
}
