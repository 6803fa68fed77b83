/*
 * progress.c - see progress.h.
 *
 * Only ASCII goes into the line, so cutting it at a byte count never
 * splits a character and the width in bytes is the width on screen.
 */
#include "progress.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define BAR_MIN		10
#define BAR_MAX		40

struct pr_progress {
	struct pr_progress_opts opts;
	struct pr_progress_state st;
	struct pr_progress_worker *workers;
	size_t cap;
	bool drawn;		/* a line is on the screen */
	bool ever;		/* drawn at least once */
	bool broken;		/* a write failed: stop drawing */
	double last;		/* time of the last draw */
	struct pr_buf line;
};

int
pr_progress_format_duration(struct pr_buf *b, double secs)
{
	unsigned long s;

	if (!isfinite(secs) || secs < 0 || secs > 1e9)
		return pr_buf_adds(b, "--");
	s = (unsigned long)(secs + 0.5);
	if (s < 60)
		return pr_buf_addf(b, "%lus", s);
	if (s < 3600)
		return pr_buf_addf(b, "%lum%02lus", s / 60, s % 60);
	return pr_buf_addf(b, "%luh%02lum%02lus", s / 3600, s / 60 % 60,
	    s % 60);
}

static int
add_rate(struct pr_buf *b, const struct pr_progress_state *st, double now)
{
	double dt = now - st->start;
	double rate = dt > 0 ? (double)st->done / dt : 0;

	if (rate < 100)
		return pr_buf_addf(b, " %.1f/s", rate);
	return pr_buf_addf(b, " %.0f/s", rate);
}

static int
add_failed(struct pr_buf *b, const struct pr_progress_state *st)
{
	if (st->failed == 0)
		return 0;
	return pr_buf_addf(b, " %llu failed", (unsigned long long)st->failed);
}

static double
eta_of(const struct pr_progress_state *st, double now)
{
	double dt = now - st->start;

	if (st->done == 0 || dt <= 0)
		return -1;
	if (st->done >= st->total)
		return 0;
	return (double)(st->total - st->done) * dt / (double)st->done;
}

static int
format_bar(struct pr_buf *b, const struct pr_progress_state *st,
    double now, size_t width)
{
	struct pr_buf tail;
	size_t barlen, fill, start = b->len;
	double frac;
	int rc;

	if (!st->total_known) {
		rc = pr_buf_addf(b, "%llu done", (unsigned long long)st->done);
		if (rc == 0)
			rc = add_failed(b, st);
		if (rc == 0)
			rc = add_rate(b, st, now);
		if (rc == 0)
			rc = pr_buf_adds(b, " elapsed ");
		if (rc == 0)
			rc = pr_progress_format_duration(b, now - st->start);
		return rc;
	}
	frac = st->total > 0 ? (double)st->done / (double)st->total : 1.0;
	if (frac > 1)
		frac = 1;
	pr_buf_init(&tail, 0);
	rc = pr_buf_addf(&tail, " %3d%% %llu/%llu", (int)(frac * 100),
	    (unsigned long long)st->done, (unsigned long long)st->total);
	if (rc == 0)
		rc = add_failed(&tail, st);
	if (rc == 0)
		rc = pr_buf_adds(&tail, " ETA ");
	if (rc == 0)
		rc = pr_progress_format_duration(&tail, eta_of(st, now));
	if (rc < 0)
		goto out;
	/* the bar takes what the rest leaves, within [BAR_MIN, BAR_MAX] */
	barlen = BAR_MAX;
	if (width > 0) {
		size_t room = width - 1 > tail.len + 2 ?
		    width - 1 - tail.len - 2 : 0;

		if (room < barlen)
			barlen = room < BAR_MIN ? BAR_MIN : room;
	}
	fill = (size_t)(frac * (double)barlen);
	if ((rc = pr_buf_grow(b, barlen + 2 + tail.len)) < 0)
		goto out;
	b->data[b->len++] = '[';
	for (size_t i = 0; i < barlen; i++) {
		char c = ' ';

		if (i < fill)
			c = '=';
		else if (i == fill && fill < barlen && st->done > 0)
			c = '>';
		b->data[b->len++] = c;
	}
	b->data[b->len++] = ']';
	b->data[b->len] = '\0';
	rc = pr_buf_add(b, tail.data, tail.len);
out:
	pr_buf_release(&tail);
	if (rc < 0) {
		b->len = start;
		if (b->data != NULL)
			b->data[b->len] = '\0';
	}
	return rc;
}

static int
format_eta(struct pr_buf *b, const struct pr_progress_state *st, double now)
{
	int rc;

	if (!st->total_known) {
		rc = pr_buf_addf(b, "Done: %llu",
		    (unsigned long long)st->done);
		if (rc == 0)
			rc = add_failed(b, st);
		if (rc == 0)
			rc = add_rate(b, st, now);
		if (rc == 0)
			rc = pr_buf_adds(b, " elapsed ");
		if (rc == 0)
			rc = pr_progress_format_duration(b, now - st->start);
		return rc;
	}
	rc = pr_buf_adds(b, "ETA: ");
	if (rc == 0)
		rc = pr_progress_format_duration(b, eta_of(st, now));
	if (rc == 0)
		rc = pr_buf_addf(b, " Left: %llu AVG: ",
		    (unsigned long long)(st->total > st->done ?
		    st->total - st->done : 0));
	if (rc == 0) {
		if (st->done > 0 && now > st->start)
			rc = pr_buf_addf(b, "%.2fs",
			    (now - st->start) / (double)st->done);
		else
			rc = pr_buf_adds(b, "--");
	}
	if (rc == 0)
		rc = pr_buf_addf(b, " Done: %llu/%llu",
		    (unsigned long long)st->done,
		    (unsigned long long)st->total);
	if (rc == 0)
		rc = add_failed(b, st);
	return rc;
}

static int
format_workers(struct pr_buf *b, const struct pr_progress_state *st,
    size_t width, size_t line_start)
{
	char item[64];
	int rc = 0;

	for (size_t i = 0; i < st->nworkers && rc == 0; i++) {
		size_t used = b->len - line_start;
		int n = snprintf(item, sizeof(item), "%s%zu:%llu/%llu",
		    i == 0 ? "  " : " ", i + 1,
		    (unsigned long long)st->workers[i].running,
		    (unsigned long long)st->workers[i].done);

		if (n < 0)
			return -EINVAL;
		/* leave room for " ..." when this one does not fit */
		if (width > 0 && used + (size_t)n + 4 > width - 1 &&
		    i + 1 < st->nworkers) {
			if (used + 4 <= width - 1)
				rc = pr_buf_adds(b, " ...");
			break;
		}
		rc = pr_buf_add(b, item, (size_t)n);
	}
	return rc;
}

int
pr_progress_format(struct pr_buf *b, unsigned mode,
    const struct pr_progress_state *st, double now, size_t width)
{
	size_t start = b->len;
	int rc;

	if (mode & PR_PROGRESS_BAR)
		rc = format_bar(b, st, now, width);
	else
		rc = format_eta(b, st, now);
	if (rc == 0 && (mode & PR_PROGRESS_WORKERS))
		rc = format_workers(b, st, width, start);
	if (rc < 0)
		return rc;
	if (width > 0 && b->len - start > width - 1) {
		b->len = start + width - 1;
		b->data[b->len] = '\0';
	}
	return 0;
}

/* ---- the drawn line --------------------------------------------------- */

int
pr_progress_new(struct pr_progress **pp, const struct pr_progress_opts *po,
    double start)
{
	struct pr_progress *p;

	*pp = NULL;
	if (po->mode == 0 || (!po->force && !isatty(po->fd)))
		return 0;
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return -ENOMEM;
	p->opts = *po;
	p->st.start = start;
	pr_buf_init(&p->line, 0);
	*pp = p;
	return 0;
}

static struct pr_progress_worker *
worker_of(struct pr_progress *p, int worker)
{
	size_t i;

	if (worker <= 0)
		return NULL;
	i = (size_t)worker - 1;
	if (i >= p->cap) {
		size_t ncap = p->cap ? p->cap : 8;
		struct pr_progress_worker *w;

		while (ncap <= i)
			ncap *= 2;
		w = realloc(p->workers, ncap * sizeof(*w));
		if (w == NULL)
			return NULL;
		memset(w + p->cap, 0, (ncap - p->cap) * sizeof(*w));
		p->workers = w;
		p->cap = ncap;
	}
	if (i >= p->st.nworkers)
		p->st.nworkers = i + 1;
	p->st.workers = p->workers;
	return &p->workers[i];
}

void
pr_progress_set_total(struct pr_progress *p, uint64_t total, bool known)
{
	if (p == NULL)
		return;
	p->st.total = total;
	p->st.total_known = known;
}

void
pr_progress_started(struct pr_progress *p, int worker)
{
	struct pr_progress_worker *w;

	if (p == NULL)
		return;
	p->st.running++;
	if ((w = worker_of(p, worker)) != NULL)
		w->running++;
}

void
pr_progress_stopped(struct pr_progress *p, int worker)
{
	struct pr_progress_worker *w;

	if (p == NULL)
		return;
	if (p->st.running > 0)
		p->st.running--;
	if ((w = worker_of(p, worker)) != NULL && w->running > 0)
		w->running--;
}

void
pr_progress_done(struct pr_progress *p, int worker, bool ok)
{
	struct pr_progress_worker *w;

	if (p == NULL)
		return;
	p->st.done++;
	if (!ok)
		p->st.failed++;
	if ((w = worker_of(p, worker)) != NULL) {
		if (w->running > 0) {
			w->running--;
			if (p->st.running > 0)
				p->st.running--;
		}
		w->done++;
	}
}

static void
put(struct pr_progress *p, const char *s, size_t n)
{
	while (n > 0 && !p->broken) {
		ssize_t w = write(p->opts.fd, s, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			/* a full or gone terminal: progress is not worth
			 * blocking or failing the run for */
			p->broken = true;
			return;
		}
		s += w;
		n -= (size_t)w;
	}
}

static size_t
term_width(const struct pr_progress *p)
{
	struct winsize ws;
	const char *cols;

	if (p->opts.width > 0)
		return p->opts.width;
	if (ioctl(p->opts.fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	cols = getenv("COLUMNS");
	if (cols != NULL && atoi(cols) > 0)
		return (size_t)atoi(cols);
	return 80;
}

void
pr_progress_update(struct pr_progress *p, double now)
{
	if (p == NULL || p->broken)
		return;
	if (p->ever && now - p->last < PR_PROGRESS_INTERVAL &&
	    now >= p->last)
		return;
	pr_buf_reset(&p->line);
	if (pr_buf_addc(&p->line, '\r') < 0 ||
	    pr_progress_format(&p->line, p->opts.mode, &p->st, now,
	    term_width(p)) < 0 ||
	    pr_buf_adds(&p->line, "\033[K") < 0)
		return;
	put(p, p->line.data, p->line.len);
	p->drawn = true;
	p->ever = true;
	p->last = now;
}

void
pr_progress_clear(struct pr_progress *p)
{
	static const char erase[] = "\r\033[K";

	if (p == NULL || !p->drawn)
		return;
	put(p, erase, sizeof(erase) - 1);
	p->drawn = false;
}

void
pr_progress_free(struct pr_progress *p)
{
	if (p == NULL)
		return;
	pr_progress_clear(p);
	pr_buf_release(&p->line);
	free(p->workers);
	free(p);
}

const struct pr_progress_state *
pr_progress_state(const struct pr_progress *p)
{
	return p != NULL ? &p->st : NULL;
}
