/* template.c - see template.h */
#include "template.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

enum seg_kind {
	SEG_LIT,		/* text[off..off+len) */
	SEG_VAL,		/* value idx (0: all values), transformed */
	SEG_SEQ,		/* {#} */
	SEG_SLOT,		/* {%} */
};

struct seg {
	enum seg_kind kind;
	enum pr_tx tx;
	unsigned idx;
	size_t off, len;
};

struct word {
	size_t first, nsegs;	/* into segs */
	bool lone_all;		/* the word is exactly {} {.} {/} {//} {/.} */
};

struct pr_template {
	bool shell;
	bool has_repl;		/* any replacement string at all */
	bool slot;
	unsigned max_idx;
	struct word *words;
	size_t nwords;
	struct seg *segs;
	size_t nsegs;
	char *text;		/* the words, concatenated */
};

/*
 * Match a replacement string at s (which starts with '{').  On a match,
 * fill sg and return its length; else 0 (the brace is literal).
 */
static size_t
match_repl(const char *s, struct seg *sg)
{
	static const struct {
		const char *suffix;
		enum pr_tx tx;
	} txs[] = {
		{ "}", PR_TX_NONE },
		{ ".}", PR_TX_NOEXT },
		{ "/}", PR_TX_BASE },
		{ "//}", PR_TX_DIR },
		{ "/.}", PR_TX_BASENOEXT },
	};
	const char *p = s + 1;
	unsigned long idx = 0;
	size_t i;

	if (p[0] == '#' && p[1] == '}') {
		sg->kind = SEG_SEQ;
		return 3;
	}
	if (p[0] == '%' && p[1] == '}') {
		sg->kind = SEG_SLOT;
		return 3;
	}
	if (*p >= '1' && *p <= '9') {
		while (*p >= '0' && *p <= '9') {
			idx = idx * 10 + (unsigned long)(*p - '0');
			if (idx > 100000)
				return 0;
			p++;
		}
	}
	for (i = 0; i < sizeof(txs) / sizeof(txs[0]); i++) {
		size_t n = strlen(txs[i].suffix);

		if (strncmp(p, txs[i].suffix, n) == 0) {
			sg->kind = SEG_VAL;
			sg->tx = txs[i].tx;
			sg->idx = (unsigned)idx;
			return (size_t)(p - s) + n;
		}
	}
	return 0;
}

static int
push_seg(struct pr_template *t, size_t *cap, const struct seg *sg)
{
	if (t->nsegs == *cap) {
		size_t ncap = *cap ? *cap * 2 : 16;
		struct seg *p = realloc(t->segs, ncap * sizeof(*p));

		if (p == NULL)
			return -ENOMEM;
		t->segs = p;
		*cap = ncap;
	}
	t->segs[t->nsegs++] = *sg;
	return 0;
}

int
pr_template_new(struct pr_template **out, const char *const *words, size_t n,
    bool shell, struct pr_errbuf *eb)
{
	struct pr_template *t;
	size_t total = 0, off = 0, segcap = 0, i;
	int rc = -ENOMEM;

	*out = NULL;
	for (i = 0; i < n; i++) {
		size_t len = strlen(words[i]);

		if (!pr_utf8_valid(words[i], len, NULL))
			return pr_err(eb, PR_ECONFIG,
			    "command word %zu is not valid UTF-8", i + 1);
		total += len + 1;
	}
	t = calloc(1, sizeof(*t));
	if (t == NULL)
		return -ENOMEM;
	t->shell = shell;
	t->text = malloc(total + 1);
	t->words = calloc(n ? n : 1, sizeof(*t->words));
	if (t->text == NULL || t->words == NULL)
		goto fail;
	t->nwords = n;
	for (i = 0; i < n; i++) {
		const char *w = words[i];
		size_t len = strlen(w), j = 0, lit = 0;
		struct word *wd = &t->words[i];

		memcpy(t->text + off, w, len + 1);
		wd->first = t->nsegs;
		while (j < len) {
			struct seg sg = { SEG_LIT, PR_TX_NONE, 0, 0, 0 };
			size_t m = w[j] == '{' ? match_repl(w + j, &sg) : 0;

			if (m == 0) {
				j++;
				continue;
			}
			if (j > lit) {
				struct seg ls = { SEG_LIT, PR_TX_NONE, 0,
				    off + lit, j - lit };

				if ((rc = push_seg(t, &segcap, &ls)) < 0)
					goto fail;
			}
			if ((rc = push_seg(t, &segcap, &sg)) < 0)
				goto fail;
			t->has_repl = true;
			if (sg.kind == SEG_SLOT)
				t->slot = true;
			if (sg.kind == SEG_VAL && sg.idx > t->max_idx)
				t->max_idx = sg.idx;
			j += m;
			lit = j;
		}
		if (len > lit) {
			struct seg ls = { SEG_LIT, PR_TX_NONE, 0, off + lit,
			    len - lit };

			if ((rc = push_seg(t, &segcap, &ls)) < 0)
				goto fail;
		}
		wd->nsegs = t->nsegs - wd->first;
		wd->lone_all = wd->nsegs == 1 &&
		    t->segs[wd->first].kind == SEG_VAL &&
		    t->segs[wd->first].idx == 0;
		off += len + 1;
	}
	*out = t;
	return 0;
fail:
	pr_template_free(t);
	return rc;
}

void
pr_template_free(struct pr_template *t)
{
	if (t == NULL)
		return;
	free(t->words);
	free(t->segs);
	free(t->text);
	free(t);
}

bool
pr_template_is_shell(const struct pr_template *t)
{
	return t->shell;
}

bool
pr_template_uses_slot(const struct pr_template *t)
{
	return t->slot;
}

unsigned
pr_template_max_index(const struct pr_template *t)
{
	return t->max_idx;
}

int
pr_shell_quote(struct pr_buf *b, const char *s, size_t n)
{
	size_t i, run = 0;
	int rc;

	if ((rc = pr_buf_grow(b, n + 2)) < 0 || (rc = pr_buf_addc(b, '\'')) < 0)
		return rc;
	for (i = 0; i < n; i++) {
		if (s[i] != '\'')
			continue;
		if ((rc = pr_buf_add(b, s + run, i - run)) < 0 ||
		    (rc = pr_buf_add(b, "'\\''", 4)) < 0)
			return rc;
		run = i + 1;
	}
	if ((rc = pr_buf_add(b, s + run, n - run)) < 0)
		return rc;
	return pr_buf_addc(b, '\'');
}

/* The position of the extension's dot in s[0..n), or n when none: the
 * last '.' with no '/' after it (GNU parallel's s:\.[^/.]*$::). */
static size_t
ext_start(const char *s, size_t n)
{
	size_t i = n;

	while (i > 0) {
		i--;
		if (s[i] == '/')
			return n;
		if (s[i] == '.')
			return i;
	}
	return n;
}

static size_t
base_start(const char *s, size_t n)
{
	size_t i = n;

	while (i > 0 && s[i - 1] != '/')
		i--;
	return i;
}

void
pr_template_transform(enum pr_tx tx, const char *s, size_t n,
    const char **out, size_t *outlen)
{
	size_t b, e;

	switch (tx) {
	case PR_TX_NOEXT:
		*out = s;
		*outlen = ext_start(s, n);
		return;
	case PR_TX_BASE:
		b = base_start(s, n);
		*out = s + b;
		*outlen = n - b;
		return;
	case PR_TX_BASENOEXT:
		b = base_start(s, n);
		*out = s + b;
		*outlen = ext_start(s + b, n - b);
		return;
	case PR_TX_DIR:
		/* POSIX dirname(1): drop trailing slashes, the last
		 * component, then the slashes before it. */
		e = n;
		while (e > 1 && s[e - 1] == '/')
			e--;
		if (e == 1 && s[0] == '/')
			goto root;
		while (e > 0 && s[e - 1] != '/')
			e--;
		if (e == 0) {
			*out = ".";
			*outlen = 1;
			return;
		}
		while (e > 1 && s[e - 1] == '/')
			e--;
		if (e == 1 && s[0] == '/')
			goto root;
		*out = s;
		*outlen = e;
		return;
	case PR_TX_NONE:
		break;
	}
	*out = s;
	*outlen = n;
	return;
root:
	*out = "/";
	*outlen = 1;
}

/* Append one substituted value: raw in argv mode, quoted in shell mode. */
static int
add_value(const struct pr_template *t, struct pr_buf *b, enum pr_tx tx,
    const char *s, size_t n)
{
	const char *p;
	size_t len;

	pr_template_transform(tx, s, n, &p, &len);
	if (t->shell)
		return pr_shell_quote(b, p, len);
	return pr_buf_add(b, p, len);
}

static int
add_number(const struct pr_template *t, struct pr_buf *b, uint64_t v)
{
	char tmp[24];
	char *p = tmp + sizeof(tmp);

	do {
		*--p = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	if (t->shell)
		return pr_shell_quote(b, p, (size_t)(tmp + sizeof(tmp) - p));
	return pr_buf_add(b, p, (size_t)(tmp + sizeof(tmp) - p));
}

static int
add_seg(const struct pr_template *t, const struct seg *sg,
    const struct pr_tvals *v, struct pr_buf *b, struct pr_errbuf *eb)
{
	int rc = 0;
	size_t i;

	switch (sg->kind) {
	case SEG_LIT:
		return pr_buf_add(b, t->text + sg->off, sg->len);
	case SEG_SEQ:
		return add_number(t, b, v->seq);
	case SEG_SLOT:
		if (v->slot >= 0)
			return add_number(t, b, (uint64_t)v->slot);
		/* the quotes stay around the hole: the slot is digits */
		if (t->shell && (rc = pr_buf_addc(b, '\'')) < 0)
			return rc;
		if ((rc = pr_buf_addc(b, PR_TEMPLATE_SLOT_MARK)) < 0)
			return rc;
		if (t->shell)
			rc = pr_buf_addc(b, '\'');
		return rc;
	case SEG_VAL:
		if (sg->idx > v->n)
			return pr_err(eb, PR_EBADINPUT,
			    "'{%u}' needs %u input values, got %zu",
			    sg->idx, sg->idx, v->n);
		if (sg->idx > 0)
			return add_value(t, b, sg->tx, v->v[sg->idx - 1],
			    v->len[sg->idx - 1]);
		for (i = 0; i < v->n; i++) {
			if (i > 0 && (rc = pr_buf_addc(b, ' ')) < 0)
				return rc;
			if ((rc = add_value(t, b, sg->tx, v->v[i],
			    v->len[i])) < 0)
				return rc;
		}
		return 0;
	}
	return 0;
}

/* One finished argv element: into the JSON array and the text. */
static int
emit_elem(struct pr_buf *json, struct pr_buf *text, size_t *nel,
    const char *s, size_t n)
{
	int rc;

	if (json != NULL) {
		if (*nel > 0 && (rc = pr_buf_addc(json, ',')) < 0)
			return rc;
		if ((rc = pr_json_add_str(json, s, n)) < 0)
			return rc;
	}
	if (text != NULL) {
		if (*nel > 0 && (rc = pr_buf_addc(text, ' ')) < 0)
			return rc;
		if ((rc = pr_buf_add(text, s, n)) < 0)
			return rc;
	}
	(*nel)++;
	return 0;
}

static int
render_argv(const struct pr_template *t, const struct pr_tvals *v,
    struct pr_buf *json, struct pr_buf *text, struct pr_buf *tmp,
    struct pr_errbuf *eb)
{
	size_t nel = 0, i, k;
	int rc;

	if (json != NULL && (rc = pr_buf_add(json, "\"argv\":[", 8)) < 0)
		return rc;
	for (i = 0; i < t->nwords; i++) {
		const struct word *w = &t->words[i];

		if (w->lone_all) {
			/* one element per value; never joined */
			const struct seg *sg = &t->segs[w->first];

			for (k = 0; k < v->n; k++) {
				const char *p;
				size_t len;

				pr_template_transform(sg->tx, v->v[k],
				    v->len[k], &p, &len);
				if ((rc = emit_elem(json, text, &nel, p,
				    len)) < 0)
					return rc;
			}
			continue;
		}
		pr_buf_reset(tmp);
		for (k = 0; k < w->nsegs; k++)
			if ((rc = add_seg(t, &t->segs[w->first + k], v, tmp,
			    eb)) < 0)
				return rc;
		if ((rc = emit_elem(json, text, &nel, tmp->data ? tmp->data :
		    "", tmp->len)) < 0)
			return rc;
	}
	if (!t->has_repl)
		for (k = 0; k < v->n; k++)
			if ((rc = emit_elem(json, text, &nel, v->v[k],
			    v->len[k])) < 0)
				return rc;
	if (json != NULL)
		return pr_buf_addc(json, ']');
	return 0;
}

static int
render_shell(const struct pr_template *t, const struct pr_tvals *v,
    struct pr_buf *json, struct pr_buf *text, struct pr_buf *tmp,
    struct pr_errbuf *eb)
{
	size_t i, k;
	int rc;

	pr_buf_reset(tmp);
	for (i = 0; i < t->nwords; i++) {
		const struct word *w = &t->words[i];

		if (i > 0 && (rc = pr_buf_addc(tmp, ' ')) < 0)
			return rc;
		for (k = 0; k < w->nsegs; k++)
			if ((rc = add_seg(t, &t->segs[w->first + k], v, tmp,
			    eb)) < 0)
				return rc;
	}
	if (!t->has_repl)
		for (k = 0; k < v->n; k++)
			if ((rc = pr_buf_addc(tmp, ' ')) < 0 ||
			    (rc = pr_shell_quote(tmp, v->v[k], v->len[k])) < 0)
				return rc;
	if (json != NULL) {
		if ((rc = pr_buf_add(json, "\"sh\":", 5)) < 0 ||
		    (rc = pr_json_add_str(json, tmp->data ? tmp->data : "",
		    tmp->len)) < 0)
			return rc;
	}
	if (text != NULL)
		return pr_buf_add(text, tmp->data ? tmp->data : "", tmp->len);
	return 0;
}

int
pr_template_render(const struct pr_template *t, const struct pr_tvals *v,
    struct pr_buf *json, struct pr_buf *text, struct pr_buf *scratch,
    struct pr_errbuf *eb)
{
	struct pr_buf local;
	int rc;

	/* The scratch buffer is the caller's, so the template itself stays
	 * read-only and shareable between threads. */
	pr_buf_init(&local, 0);
	if (scratch == NULL)
		scratch = &local;
	if (t->shell)
		rc = render_shell(t, v, json, text, scratch, eb);
	else
		rc = render_argv(t, v, json, text, scratch, eb);
	pr_buf_release(&local);
	return rc;
}
