/* task.c - see task.h */
#include "task.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "json.h"

static atomic_long live_tasks;

/* Members of a task line that parrun reads; all others are ignored. */
enum field {
	F_ID, F_ARGV, F_SH, F_KERNEL, F_ARGS, F_PARAMS, F_TIMEOUT, F_RETRIES,
	F_ENV, F_CWD, F_HOST, F_WORKER, F_SEED, F_COUNT
};

static const char *const field_name[F_COUNT] = {
	"id", "argv", "sh", "kernel", "args", "params", "timeout", "retries",
	"env", "cwd", "host", "worker", "seed",
};

enum jtype { J_OBJ, J_ARR, J_STR, J_NUM, J_LIT };

struct member {
	bool present;
	size_t key, val, end;	/* offsets in the line */
	enum jtype type;
};

/* A key seen in the object being read, for the duplicate check. */
struct keyrec {
	const char *p;		/* resolved only for sorting */
	size_t off, len, pos;
	bool inbuf;		/* decoded into kbuf (it had escapes) */
};

/* A decoded string: in the line, or in p->strs (resolved late because
 * strs may move while it grows). */
struct sref {
	bool inbuf;
	size_t off, n;
};

/* Objects with more keys than this are checked for duplicates by sorting
 * at their end, so a hostile line cannot make the check quadratic. */
#define KEYS_LINEAR	16
/* Working buffers larger than this are freed after the line that needed
 * them, so one huge line does not pin its memory. */
#define KEEP_BYTES	(64 * 1024)

struct pr_task_parser {
	const struct pr_template *tmpl;
	char *kernel;

	/* the JSON reader */
	const char *s;
	size_t n;
	size_t err_pos;
	char err[256];
	struct keyrec *keys;
	size_t nkeys, capkeys;
	struct pr_buf kbuf;
	struct member f[F_COUNT];
	size_t obj_start, obj_end;

	/* building a task */
	struct pr_buf strs, body, cmd, tag, tmp, scratch;
	struct sref *refs;
	const char **vals;
	size_t *lens;
	size_t nrefs, caprefs;
	size_t *holes;
	size_t nholes, capholes;

	/* fingerprints (pr_task_parser_set_fingerprint()) */
	bool fp_on;
	/* {"shell":..,"words":[..]} when the template uses {#} or {%},
	 * else NULL */
	char *fp_tmpl;
	EVP_MD_CTX *md0;	/* SHA-256, initialized once */
	EVP_MD_CTX *md;		/* a copy of md0 per task */
	struct pr_buf fpsyn;	/* the members, as found */
	struct pr_buf fpcanon;	/* the canonical text */
	struct pr_buf fptmp;	/* a decoded string */
	struct pr_buf fpkeys;	/* decoded keys of the objects open */
	struct ckey *ckeys;	/* ... and their members, a stack */
	size_t nckeys, capckeys;
};

/* An object member while it is put in canonical order (fingerprints). */
struct ckey {
	const char *k;		/* the decoded key, while sorting */
	size_t off, len;	/* ... in p->fpkeys */
	size_t val;		/* the value's offset */
};

/* What a task is made of, before it becomes one block. */
struct parts {
	uint64_t seq;
	enum pr_task_kind kind;
	enum pr_status status;
	const char *id, *body, *cmd, *tag, *kernel, *host, *error, *src;
	size_t idlen, bodylen, cmdlen, taglen, kernellen, hostlen;
	unsigned long line;
	int worker, retries;
	double timeout;
	bool has_seed;
	uint64_t seed;
	bool slot;		/* look for {%} holes in body and cmd */
	bool id_given;
	bool has_fp;
	uint8_t fp[32];
};

/* v in decimal into b (24 bytes), NUL-terminated; returns the length. */
static size_t
u64_str(char *b, uint64_t v)
{
	char tmp[24];
	size_t n = 0, i;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	for (i = 0; i < n; i++)
		b[i] = tmp[n - 1 - i];
	b[n] = '\0';
	return n;
}

static void
parts_init(struct parts *pt, uint64_t seq, const char *src,
    unsigned long line)
{
	memset(pt, 0, sizeof(*pt));
	pt->seq = seq;
	pt->status = PR_ST_OK;
	pt->src = src;
	pt->line = line;
	pt->retries = -1;
}

/* ---- the task block ----------------------------------------------------- */

long
pr_task_live(void)
{
	return atomic_load_explicit(&live_tasks, memory_order_relaxed);
}

void
pr_task_free(struct pr_task *t)
{
	if (t == NULL)
		return;
	atomic_fetch_sub_explicit(&live_tasks, 1, memory_order_relaxed);
	free(t);
}

bool
pr_task_slot_dependent(const struct pr_task *t)
{
	return t->tbody_ != NULL;
}

/* Append text[0..len) with the slot number at each hole. */
static int
fill_holes(struct pr_buf *out, const char *text, size_t len,
    const size_t *holes, size_t nholes, int slot)
{
	size_t at = 0, i;
	int rc;

	for (i = 0; i < nholes; i++) {
		if ((rc = pr_buf_add(out, text + at, holes[i] - at)) < 0 ||
		    (rc = pr_buf_add_i64(out, slot)) < 0)
			return rc;
		at = holes[i];
	}
	return pr_buf_add(out, text + at, len - at);
}

int
pr_task_body(const struct pr_task *t, int slot, struct pr_buf *out)
{
	if (t->tbody_ != NULL)
		return fill_holes(out, t->tbody_, t->tbodylen_, t->bholes_,
		    t->nbholes_, slot);
	if (t->body == NULL)
		return -EINVAL;
	return pr_buf_add(out, t->body, t->bodylen);
}

int
pr_task_cmd(const struct pr_task *t, int slot, struct pr_buf *out)
{
	if (t->tcmd_ != NULL)
		return fill_holes(out, t->tcmd_, t->tcmdlen_, t->choles_,
		    t->ncholes_, slot);
	return pr_buf_adds(out, t->cmd);
}

static int
push_hole(struct pr_task_parser *p, size_t at)
{
	if (p->nholes == p->capholes) {
		size_t ncap = p->capholes ? p->capholes * 2 : 8;
		size_t *h = realloc(p->holes, ncap * sizeof(*h));

		if (h == NULL)
			return -ENOMEM;
		p->holes = h;
		p->capholes = ncap;
	}
	p->holes[p->nholes++] = at;
	return 0;
}

/*
 * Cut the slot marks out of the encoded body (the escape \u0000: values
 * hold no NUL, so every such escape is a mark) and of the command (the
 * byte NUL).  Appends the text without marks to out and records where
 * they were in p->holes.
 */
static int
cut_holes(struct pr_task_parser *p, const char *s, size_t n, bool json,
    struct pr_buf *out)
{
	size_t i = 0, run = 0;
	int rc;

	while (i < n) {
		if (json && s[i] == '\\') {
			if (i + 6 <= n && memcmp(s + i, "\\u0000", 6) == 0) {
				if ((rc = pr_buf_add(out, s + run,
				    i - run)) < 0 ||
				    (rc = push_hole(p, out->len)) < 0)
					return rc;
				i += 6;
				run = i;
				continue;
			}
			i += 2;
			continue;
		}
		if (!json && s[i] == PR_TEMPLATE_SLOT_MARK) {
			if ((rc = pr_buf_add(out, s + run, i - run)) < 0 ||
			    (rc = push_hole(p, out->len)) < 0)
				return rc;
			run = ++i;
			continue;
		}
		i++;
	}
	return pr_buf_add(out, s + run, n - run);
}

static char *
put_str(char **w, const char *s, size_t n)
{
	char *start = *w;

	if (n > 0)
		memcpy(start, s, n);
	start[n] = '\0';
	*w += n + 1;
	return start;
}

/* Turn parts into one heap block. */
static int
assemble(struct pr_task_parser *p, const struct parts *pt,
    struct pr_task **out)
{
	struct pr_buf tb, tc, disp;
	size_t nb = 0, nc = 0, size, i, at;
	const char *body = pt->body, *cmd = pt->cmd;
	size_t bodylen = pt->bodylen, cmdlen = pt->cmdlen;
	struct pr_task *t;
	size_t *hv;
	char *w;
	int rc = 0;

	pr_buf_init(&tb, 0);
	pr_buf_init(&tc, 0);
	pr_buf_init(&disp, 0);
	p->nholes = 0;
	if (pt->slot) {
		if ((rc = cut_holes(p, pt->body, pt->bodylen, true, &tb)) < 0)
			goto out;
		nb = p->nholes;
		if ((rc = cut_holes(p, pt->cmd, pt->cmdlen, false, &tc)) < 0)
			goto out;
		nc = p->nholes - nb;
		/* the display form shows the slot as {%} */
		at = 0;
		for (i = 0; i < nc; i++) {
			size_t h = p->holes[nb + i];

			if ((rc = pr_buf_add(&disp, tc.data + at,
			    h - at)) < 0 ||
			    (rc = pr_buf_add(&disp, "{%}", 3)) < 0)
				goto out;
			at = h;
		}
		if ((rc = pr_buf_add(&disp, tc.data ? tc.data + at : "",
		    tc.len - at)) < 0)
			goto out;
		body = NULL;
		bodylen = 0;
		cmd = disp.data;
		cmdlen = disp.len;
	}
	size = sizeof(*t) + (nb + nc) * sizeof(size_t);
	size += pt->idlen + bodylen + cmdlen + pt->taglen + pt->kernellen +
	    pt->hostlen + tb.len + tc.len + 16;	/* + NULs */
	if (pt->error != NULL)
		size += strlen(pt->error);
	size += strlen(pt->src);
	t = malloc(size);
	if (t == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	memset(t, 0, sizeof(*t));
	hv = (size_t *)(void *)(t + 1);
	if (nb + nc > 0)
		memcpy(hv, p->holes, (nb + nc) * sizeof(size_t));
	w = (char *)(hv + nb + nc);
	t->seq = pt->seq;
	t->kind = pt->kind;
	t->status = pt->status;
	t->id = put_str(&w, pt->id, pt->idlen);
	if (body != NULL) {
		t->body = put_str(&w, body, bodylen);
		t->bodylen = bodylen;
	}
	t->cmd = put_str(&w, cmd ? cmd : "", cmdlen);
	t->tag = put_str(&w, pt->tag ? pt->tag : "", pt->taglen);
	if (pt->kernel != NULL)
		t->kernel = put_str(&w, pt->kernel, pt->kernellen);
	if (pt->host != NULL)
		t->host = put_str(&w, pt->host, pt->hostlen);
	if (pt->error != NULL)
		t->error = put_str(&w, pt->error, strlen(pt->error));
	t->src = put_str(&w, pt->src, strlen(pt->src));
	t->line = pt->line;
	t->worker = pt->worker;
	t->retries = pt->retries;
	t->timeout = pt->timeout;
	t->has_seed = pt->has_seed;
	t->seed = pt->seed;
	t->id_given = pt->id_given;
	t->has_fingerprint = pt->has_fp;
	if (pt->has_fp)
		memcpy(t->fingerprint, pt->fp, sizeof(t->fingerprint));
	if (pt->slot) {
		t->tbody_ = put_str(&w, tb.data ? tb.data : "", tb.len);
		t->tbodylen_ = tb.len;
		t->bholes_ = hv;
		t->nbholes_ = nb;
		t->tcmd_ = put_str(&w, tc.data ? tc.data : "", tc.len);
		t->tcmdlen_ = tc.len;
		t->choles_ = hv + nb;
		t->ncholes_ = nc;
	}
	atomic_fetch_add_explicit(&live_tasks, 1, memory_order_relaxed);
	*out = t;
out:
	pr_buf_release(&tb);
	pr_buf_release(&tc);
	pr_buf_release(&disp);
	return rc;
}

/* Kernel names: letters, digits, '_' and '-'. */
static bool
valid_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '_' || c == '-';
}

/* ---- parser lifetime ---------------------------------------------------- */

int
pr_task_parser_new(struct pr_task_parser **out, const struct pr_task_opts *o,
    struct pr_errbuf *eb)
{
	struct pr_task_parser *p;

	*out = NULL;
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return pr_err(eb, -ENOMEM, "out of memory");
	p->tmpl = o->tmpl;
	if (o->kernel != NULL) {
		size_t i, n = strlen(o->kernel);

		for (i = 0; i < n; i++) {
			char c = o->kernel[i];

			if (!valid_name_char(c))
				break;
		}
		if (n == 0 || n > 64 || i < n) {
			free(p);
			return pr_err(eb, PR_ECONFIG,
			    "invalid kernel name '%.64s'", o->kernel);
		}
		p->kernel = strdup(o->kernel);
		if (p->kernel == NULL) {
			free(p);
			return pr_err(eb, -ENOMEM, "out of memory");
		}
	}
	pr_buf_init(&p->kbuf, 0);
	pr_buf_init(&p->strs, 0);
	pr_buf_init(&p->body, 0);
	pr_buf_init(&p->cmd, 0);
	pr_buf_init(&p->tag, 0);
	pr_buf_init(&p->tmp, 0);
	pr_buf_init(&p->scratch, 0);
	pr_buf_init(&p->fpsyn, 0);
	pr_buf_init(&p->fpcanon, 0);
	pr_buf_init(&p->fptmp, 0);
	pr_buf_init(&p->fpkeys, 0);
	*out = p;
	return 0;
}

void
pr_task_parser_free(struct pr_task_parser *p)
{
	if (p == NULL)
		return;
	free(p->kernel);
	free(p->fp_tmpl);
	EVP_MD_CTX_free(p->md);
	EVP_MD_CTX_free(p->md0);
	pr_buf_release(&p->fpsyn);
	pr_buf_release(&p->fpcanon);
	pr_buf_release(&p->fptmp);
	pr_buf_release(&p->fpkeys);
	free(p->ckeys);
	free(p->keys);
	pr_buf_release(&p->kbuf);
	pr_buf_release(&p->strs);
	pr_buf_release(&p->body);
	pr_buf_release(&p->cmd);
	pr_buf_release(&p->tag);
	pr_buf_release(&p->tmp);
	pr_buf_release(&p->scratch);
	free(p->refs);
	free(p->vals);
	free(p->lens);
	free(p->holes);
	free(p);
}

size_t
pr_task_parser_mem(const struct pr_task_parser *p)
{
	return p->capkeys * sizeof(*p->keys) + p->kbuf.cap + p->strs.cap +
	    p->body.cap + p->cmd.cap + p->tag.cap + p->tmp.cap +
	    p->scratch.cap + p->fpsyn.cap + p->fpcanon.cap + p->fptmp.cap +
	    p->fpkeys.cap + p->capckeys * sizeof(*p->ckeys) +
	    p->caprefs * (sizeof(*p->refs) +
	    sizeof(*p->vals) + sizeof(*p->lens)) +
	    p->capholes * sizeof(*p->holes);
}

static void
trim_buf(struct pr_buf *b)
{
	if (b->cap > KEEP_BYTES)
		pr_buf_release(b);
	else
		pr_buf_reset(b);
}

/* Reset the working buffers for the next line; drop oversized ones. */
static void
parser_reset(struct pr_task_parser *p)
{
	trim_buf(&p->kbuf);
	trim_buf(&p->strs);
	trim_buf(&p->body);
	trim_buf(&p->cmd);
	trim_buf(&p->tag);
	trim_buf(&p->tmp);
	trim_buf(&p->scratch);
	trim_buf(&p->fpsyn);
	trim_buf(&p->fpcanon);
	trim_buf(&p->fptmp);
	trim_buf(&p->fpkeys);
	if (p->capckeys * sizeof(*p->ckeys) > KEEP_BYTES) {
		free(p->ckeys);
		p->ckeys = NULL;
		p->capckeys = 0;
	}
	p->nckeys = 0;
	if (p->capkeys * sizeof(*p->keys) > KEEP_BYTES) {
		free(p->keys);
		p->keys = NULL;
		p->capkeys = 0;
	}
	if (p->caprefs * sizeof(*p->refs) > KEEP_BYTES) {
		free(p->refs);
		free(p->vals);
		free(p->lens);
		p->refs = NULL;
		p->vals = NULL;
		p->lens = NULL;
		p->caprefs = 0;
	}
	p->nkeys = 0;
	p->nrefs = 0;
	p->nholes = 0;
}

/* ---- messages ----------------------------------------------------------- */

int
pr_task_snippet(struct pr_buf *b, const char *s, size_t n, size_t max)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, lim = n < max ? n : max;
	int rc = 0;

	for (i = 0; i < lim && rc == 0; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x20 && c < 0x7f && c != '\\' && c != '\'') {
			rc = pr_buf_addc(b, (char)c);
		} else if (c == '\\' || c == '\'') {
			char e[2] = { '\\', (char)c };

			rc = pr_buf_add(b, e, 2);
		} else {
			char e[4] = { '\\', 'x', hex[c >> 4], hex[c & 15] };

			rc = pr_buf_add(b, e, 4);
		}
	}
	if (rc == 0 && lim < n)
		rc = pr_buf_add(b, "...", 3);
	return rc;
}

/* The reader's error: remember the offset and the message; returns -1. */
static int
jerr(struct pr_task_parser *p, size_t pos, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int
jerr(struct pr_task_parser *p, size_t pos, const char *fmt, ...)
{
	va_list ap;

	p->err_pos = pos;
	va_start(ap, fmt);
	vsnprintf(p->err, sizeof(p->err), fmt, ap);
	va_end(ap);
	return -1;
}

/* jerr() with " near '...'" and the text at pos appended, then the hint
 * (may be NULL). */
static int
jerr_hint(struct pr_task_parser *p, size_t pos, const char *what,
    const char *hint)
{
	struct pr_buf b;
	const char *h1 = hint ? " (" : "", *h2 = hint ? hint : "";
	const char *h3 = hint ? ")" : "";

	pr_buf_init(&b, 0);
	if (pos >= p->n) {
		jerr(p, pos, "%s at the end of the line%s%s%s", what, h1, h2,
		    h3);
	} else if (pr_task_snippet(&b, p->s + pos, p->n - pos, 16) == 0) {
		jerr(p, pos, "%s near '%s'%s%s%s", what, b.data, h1, h2, h3);
	} else {
		jerr(p, pos, "%s%s%s%s", what, h1, h2, h3);
	}
	pr_buf_release(&b);
	return -1;
}

static int
jerr_near(struct pr_task_parser *p, size_t pos, const char *what)
{
	return jerr_hint(p, pos, what, NULL);
}

/* Turn the reader's error into the message for eb. */
static int
report(struct pr_task_parser *p, const char *src, unsigned long lineno,
    struct pr_errbuf *eb)
{
	return pr_err(eb, PR_EBADINPUT, "%s:%lu:%zu: %s", src, lineno,
	    p->err_pos + 1, p->err);
}

bool
pr_task_text_ok(const char *s, size_t n, size_t *col, const char **what)
{
	const char *nul = memchr(s, '\0', n);
	size_t bad = n;
	bool utf8 = pr_utf8_valid(s, nul ? (size_t)(nul - s) : n, &bad);

	if (nul == NULL && utf8)
		return true;
	if (!utf8) {
		*col = bad + 1;
		*what = "invalid UTF-8";
	} else {
		*col = (size_t)(nul - s) + 1;
		*what = "NUL byte";
	}
	return false;
}

/* ---- the JSON reader ---------------------------------------------------- */

static size_t
skip_ws(const char *s, size_t n, size_t pos)
{
	while (pos < n && (s[pos] == ' ' || s[pos] == '\t' ||
	    s[pos] == '\r' || s[pos] == '\n'))
		pos++;
	return pos;
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Four hex digits at s[0..4); -1 when they are not. */
static long
hex4(const char *s, size_t avail)
{
	long v = 0;
	int i;

	if (avail < 4)
		return -1;
	for (i = 0; i < 4; i++) {
		int h = hexval((unsigned char)s[i]);

		if (h < 0)
			return -1;
		v = v << 4 | h;
	}
	return v;
}

/*
 * Check the string at p->s[*pos] (its opening quote) and move *pos past
 * its closing quote.  *esc tells whether it has escapes.
 */
static int
read_string(struct pr_task_parser *p, size_t *pos, bool *esc)
{
	const char *s = p->s;
	size_t n = p->n, start = *pos, i = start + 1;

	*esc = false;
	for (;;) {
		unsigned char c;

		while (i < n && (unsigned char)s[i] >= 0x20 && s[i] != '"' &&
		    s[i] != '\\')
			i++;
		if (i >= n)
			return jerr(p, start, "unterminated string");
		c = (unsigned char)s[i];
		if (c == '"')
			break;
		if (c < 0x20)
			return jerr(p, i, "control character 0x%02x in a "
			    "string (write it as an escape)", c);
		/* a backslash */
		*esc = true;
		if (i + 1 >= n)
			return jerr(p, start, "unterminated string");
		switch (s[i + 1]) {
		case '"': case '\\': case '/': case 'b': case 'f': case 'n':
		case 'r': case 't':
			i += 2;
			continue;
		case 'u':
			break;
		default:
			return jerr_near(p, i, "invalid escape in a string");
		}
		{
			long u = hex4(s + i + 2, n - i - 2), lo;

			if (u < 0)
				return jerr_near(p, i, "invalid \\u escape");
			if (u == 0)
				return jerr(p, i, "NUL character (\\u0000) in "
				    "a string");
			if (u >= 0xdc00 && u <= 0xdfff)
				return jerr(p, i, "unpaired surrogate in a "
				    "\\u escape");
			if (u >= 0xd800 && u <= 0xdbff) {
				lo = i + 7 < n && s[i + 6] == '\\' &&
				    s[i + 7] == 'u' ?
				    hex4(s + i + 8, n - i - 8) : -1;
				if (lo < 0xdc00 || lo > 0xdfff)
					return jerr(p, i, "unpaired surrogate "
					    "in a \\u escape");
				i += 12;
			} else {
				i += 6;
			}
		}
	}
	*pos = i + 1;
	return 0;
}


/*
 * Append the decoded text of the (checked) string at s[pos] to out;
 * *end gets the offset after its closing quote.
 */
static int
decode_string(const char *s, size_t pos, struct pr_buf *out, size_t *end)
{
	size_t i = pos + 1, run = i;
	int rc;

	for (;;) {
		while (s[i] != '"' && s[i] != '\\')
			i++;
		if ((rc = pr_buf_add(out, s + run, i - run)) < 0)
			return rc;
		if (s[i] == '"')
			break;
		switch (s[i + 1]) {
		case 'b': rc = pr_buf_addc(out, '\b'); break;
		case 'f': rc = pr_buf_addc(out, '\f'); break;
		case 'n': rc = pr_buf_addc(out, '\n'); break;
		case 'r': rc = pr_buf_addc(out, '\r'); break;
		case 't': rc = pr_buf_addc(out, '\t'); break;
		case 'u': {
			unsigned long cp = (unsigned long)hex4(s + i + 2, 4);

			if (cp >= 0xd800 && cp <= 0xdbff) {
				unsigned long lo =
				    (unsigned long)hex4(s + i + 8, 4);

				cp = 0x10000 + ((cp - 0xd800) << 10) +
				    (lo - 0xdc00);
				i += 6;
			}
			rc = pr_utf8_add(out, cp);
			i += 4;
			break;
		}
		default:
			rc = pr_buf_addc(out, s[i + 1]);
		}
		if (rc < 0)
			return rc;
		i += 2;
		run = i;
	}
	*end = i + 1;
	return 0;
}

/* The parts of a (checked) number's text, for exact integer checks. */
struct numtext {
	bool neg;
	const char *ip, *fp;	/* integer and fraction digits */
	size_t il, fl;
	long exp;		/* saturated at +-1000000 */
};

static void
split_number(const char *s, size_t n, struct numtext *nt)
{
	size_t i = 0;
	bool eneg = false;

	memset(nt, 0, sizeof(*nt));
	if (i < n && s[i] == '-') {
		nt->neg = true;
		i++;
	}
	nt->ip = s + i;
	while (i < n && s[i] >= '0' && s[i] <= '9')
		i++;
	nt->il = (size_t)(s + i - nt->ip);
	nt->fp = s + i;
	if (i < n && s[i] == '.') {
		nt->fp = s + ++i;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
		nt->fl = (size_t)(s + i - nt->fp);
	}
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < n && (s[i] == '+' || s[i] == '-'))
			eneg = s[i++] == '-';
		while (i < n && s[i] >= '0' && s[i] <= '9') {
			if (nt->exp < 1000000)
				nt->exp = nt->exp * 10 + (s[i] - '0');
			i++;
		}
		if (eneg)
			nt->exp = -nt->exp;
	}
}

/*
 * The decimal magnitude m of a number (10^(m-1) <= |x| < 10^m), and
 * whether it is zero.
 */
static bool
number_magnitude(const struct numtext *nt, long *mag)
{
	size_t k;

	for (k = 0; k < nt->il; k++)
		if (nt->ip[k] != '0') {
			*mag = (long)(nt->il - k) + nt->exp;
			return true;
		}
	for (k = 0; k < nt->fl; k++)
		if (nt->fp[k] != '0') {
			*mag = -(long)k + nt->exp;
			return true;
		}
	return false;
}

/* True when the number's value is beyond the range of a double. */
static bool
number_overflows(const char *s, size_t n)
{
	struct numtext nt;
	char tmp[64];
	size_t k, w = 0;
	long mag;
	bool started = false;

	split_number(s, n, &nt);
	if (!number_magnitude(&nt, &mag) || mag <= 308)
		return false;
	if (mag > 309)
		return true;
	/* 1e308 <= |x| < 1e309: ask strtod about a normalized copy */
	tmp[w++] = '.';
	for (k = 0; k < nt.il + nt.fl && w < 48; k++) {
		char c = k < nt.il ? nt.ip[k] : nt.fp[k - nt.il];

		if (c != '0')
			started = true;
		if (started)
			tmp[w++] = c;
	}
	snprintf(tmp + w, sizeof(tmp) - w, "e%ld", mag);
	return isinf(strtod(tmp, NULL));
}

/*
 * The exact value of a (checked) JSON number if it is an integer in
 * [0, max]: 0; -1 when it is not integral; -2 when out of range.
 */
static int
number_u64(const char *s, size_t n, uint64_t max, uint64_t *out)
{
	struct numtext nt;
	uint64_t v = 0;
	long mag, e;
	size_t k, nd;
	char c;

	split_number(s, n, &nt);
	if (!number_magnitude(&nt, &mag)) {
		*out = 0;
		return 0;
	}
	/* digits from the first non-zero one; the value is those digits
	 * times 10^(mag - their count) */
	nd = nt.il + nt.fl;
	for (k = 0; k < nd; k++) {
		c = k < nt.il ? nt.ip[k] : nt.fp[k - nt.il];
		if (c != '0')
			break;
	}
	while (nd > k && (nd - 1 < nt.il ? nt.ip[nd - 1] :
	    nt.fp[nd - 1 - nt.il]) == '0')
		nd--;
	/* significant digits k..nd, the last at 10^(mag - (nd - k)) */
	e = mag - (long)(nd - k);
	if (e < 0)
		return -1;
	if (nt.neg || mag > 20)
		return -2;
	for (; k < nd; k++) {
		c = k < nt.il ? nt.ip[k] : nt.fp[k - nt.il];
		if (v > (UINT64_MAX - (uint64_t)(c - '0')) / 10)
			return -2;
		v = v * 10 + (uint64_t)(c - '0');
	}
	for (; e > 0; e--) {
		if (v > UINT64_MAX / 10)
			return -2;
		v *= 10;
	}
	if (v > max)
		return -2;
	*out = v;
	return 0;
}

/* Check the number at p->s[*pos]; move *pos past it. */
static int
read_number(struct pr_task_parser *p, size_t *pos)
{
	const char *s = p->s;
	size_t n = p->n, start = *pos, i = start;
	bool big = false;

	if (s[i] == '-')
		i++;
	if (i < n && s[i] == '0') {
		i++;
	} else if (i < n && s[i] >= '1' && s[i] <= '9') {
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
	} else {
		return jerr_near(p, start, "invalid number");
	}
	if (i < n && s[i] == '.') {
		i++;
		if (i >= n || s[i] < '0' || s[i] > '9')
			return jerr_near(p, start, "invalid number");
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
	}
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		big = true;
		i++;
		if (i < n && (s[i] == '+' || s[i] == '-'))
			i++;
		if (i >= n || s[i] < '0' || s[i] > '9')
			return jerr_near(p, start, "invalid number");
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
	}
	if ((big || i - start > 300) && number_overflows(s + start, i - start))
		return jerr_near(p, start, "number out of range");
	*pos = i;
	return 0;
}

static int read_value(struct pr_task_parser *p, size_t *pos, int depth,
    enum jtype *type);

static const char *
key_ptr(const struct pr_task_parser *p, const struct keyrec *k)
{
	return k->inbuf ? p->kbuf.data + k->off : p->s + k->off;
}

static int
keycmp(const void *a, const void *b)
{
	const struct keyrec *x = a, *y = b;
	int c;

	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	c = memcmp(x->p, y->p, x->len);
	if (c != 0)
		return c;
	return x->pos < y->pos ? -1 : x->pos > y->pos;
}

static int
dup_error(struct pr_task_parser *p, const struct keyrec *k)
{
	struct pr_buf b;

	pr_buf_init(&b, 0);
	if (pr_task_snippet(&b, key_ptr(p, k), k->len, 40) < 0)
		return jerr(p, k->pos, "duplicate key");
	jerr(p, k->pos, "duplicate key '%s'", b.data ? b.data : "");
	pr_buf_release(&b);
	return -1;
}

/* Find a duplicate among the keys of one object (keys[base..nkeys)). */
static int
check_dups_sorted(struct pr_task_parser *p, size_t base)
{
	struct keyrec *k = p->keys + base;
	size_t m = p->nkeys - base, i, best = SIZE_MAX, bi = 0;

	for (i = 0; i < m; i++)
		k[i].p = key_ptr(p, &k[i]);
	qsort(k, m, sizeof(*k), keycmp);
	for (i = 0; i + 1 < m; i++)
		if (k[i].len == k[i + 1].len &&
		    memcmp(k[i].p, k[i + 1].p, k[i].len) == 0 &&
		    k[i + 1].pos < best) {
			best = k[i + 1].pos;
			bi = i + 1;
		}
	if (best != SIZE_MAX)
		return dup_error(p, &k[bi]);
	return 0;
}

static int
push_key(struct pr_task_parser *p, const struct keyrec *kr, size_t base)
{
	size_t i;

	if (p->nkeys - base < KEYS_LINEAR) {
		const char *kp = key_ptr(p, kr);

		for (i = base; i < p->nkeys; i++)
			if (p->keys[i].len == kr->len &&
			    memcmp(key_ptr(p, &p->keys[i]), kp, kr->len) == 0)
				return dup_error(p, kr);
	}
	if (p->nkeys == p->capkeys) {
		size_t ncap = p->capkeys ? p->capkeys * 2 : 32;
		struct keyrec *nk = realloc(p->keys, ncap * sizeof(*nk));

		if (nk == NULL)
			return jerr(p, kr->pos, "out of memory");
		p->keys = nk;
		p->capkeys = ncap;
	}
	p->keys[p->nkeys++] = *kr;
	return 0;
}

static int
read_object(struct pr_task_parser *p, size_t *pos, int depth)
{
	const char *s = p->s;
	size_t n = p->n, i = *pos + 1, open = *pos, base = p->nkeys;
	bool comma = false;

	i = skip_ws(s, n, i);
	if (i < n && s[i] == '}') {
		*pos = i + 1;
		return 0;
	}
	for (;;) {
		struct keyrec kr;
		enum jtype type;
		bool esc;
		int fld = -1;
		size_t kstart, vstart;

		i = skip_ws(s, n, i);
		if (i >= n)
			return jerr(p, i, "unexpected end of the line (the "
			    "object at column %zu is not closed)", open + 1);
		if (s[i] != '"') {
			if (s[i] == '}' && comma)
				return jerr(p, i, "trailing comma before '}'");
			if (depth == 1 && i == skip_ws(s, n, open + 1))
				return jerr_hint(p, i, "expected a string key",
				    "a line starting with '{' is read as a "
				    "JSON task");
			return jerr_near(p, i, "expected a string key");
		}
		kstart = i;
		if (read_string(p, &i, &esc) < 0)
			return -1;
		kr.pos = kstart;
		kr.inbuf = esc;
		kr.p = NULL;
		if (esc) {
			size_t e;

			kr.off = p->kbuf.len;
			if (decode_string(s, kstart, &p->kbuf, &e) < 0)
				return jerr(p, kstart, "out of memory");
			kr.len = p->kbuf.len - kr.off;
		} else {
			kr.off = kstart + 1;
			kr.len = i - kstart - 2;
		}
		if (push_key(p, &kr, base) < 0)
			return -1;
		if (depth == 1) {
			const char *kp = key_ptr(p, &kr);
			int f;

			for (f = 0; f < F_COUNT; f++)
				if (strlen(field_name[f]) == kr.len &&
				    memcmp(field_name[f], kp, kr.len) == 0) {
					fld = f;
					break;
				}
		}
		i = skip_ws(s, n, i);
		if (i >= n || s[i] != ':')
			return jerr_near(p, i, "expected ':' after the key");
		i = skip_ws(s, n, i + 1);
		vstart = i;
		if (read_value(p, &i, depth, &type) < 0)
			return -1;
		if (fld >= 0) {
			struct member *m = &p->f[fld];

			m->present = true;
			m->key = kstart;
			m->val = vstart;
			m->end = i;
			m->type = type;
		}
		i = skip_ws(s, n, i);
		if (i < n && s[i] == ',') {
			comma = true;
			i++;
			continue;
		}
		if (i < n && s[i] == '}')
			break;
		if (i >= n)
			return jerr(p, i, "unexpected end of the line (the "
			    "object at column %zu is not closed)", open + 1);
		return jerr_near(p, i, "expected ',' or '}'");
	}
	if (p->nkeys - base > KEYS_LINEAR && check_dups_sorted(p, base) < 0)
		return -1;
	p->nkeys = base;
	*pos = i + 1;
	return 0;
}

static int
read_array(struct pr_task_parser *p, size_t *pos, int depth)
{
	const char *s = p->s;
	size_t n = p->n, i = *pos + 1, open = *pos;
	enum jtype type;

	i = skip_ws(s, n, i);
	if (i < n && s[i] == ']') {
		*pos = i + 1;
		return 0;
	}
	for (;;) {
		i = skip_ws(s, n, i);
		if (i < n && s[i] == ']')
			return jerr(p, i, "trailing comma before ']'");
		if (read_value(p, &i, depth, &type) < 0)
			return -1;
		i = skip_ws(s, n, i);
		if (i < n && s[i] == ',') {
			i++;
			continue;
		}
		if (i < n && s[i] == ']')
			break;
		if (i >= n)
			return jerr(p, i, "unexpected end of the line (the "
			    "array at column %zu is not closed)", open + 1);
		return jerr_near(p, i, "expected ',' or ']'");
	}
	*pos = i + 1;
	return 0;
}

static int
read_value(struct pr_task_parser *p, size_t *pos, int depth,
    enum jtype *type)
{
	const char *s = p->s;
	size_t i = *pos, n = p->n;
	bool esc;

	if (i >= n)
		return jerr(p, i, "unexpected end of the line (a value was "
		    "expected)");
	switch (s[i]) {
	case '{':
	case '[':
		if (depth >= PR_JSON_MAX_DEPTH)
			return jerr(p, i, "nesting deeper than %d levels",
			    PR_JSON_MAX_DEPTH);
		*type = s[i] == '{' ? J_OBJ : J_ARR;
		if (s[i] == '{')
			return read_object(p, pos, depth + 1);
		return read_array(p, pos, depth + 1);
	case '"':
		*type = J_STR;
		return read_string(p, pos, &esc);
	case 't':
	case 'f':
	case 'n': {
		static const char *const lit[] = { "true", "false", "null" };
		const char *l = lit[s[i] == 't' ? 0 : s[i] == 'f' ? 1 : 2];
		size_t ll = strlen(l);

		if (n - i < ll || memcmp(s + i, l, ll) != 0)
			return jerr_near(p, i, "invalid literal (expected "
			    "true, false or null)");
		*type = J_LIT;
		*pos = i + ll;
		return 0;
	}
	default:
		if (s[i] == '-' || (s[i] >= '0' && s[i] <= '9')) {
			*type = J_NUM;
			return read_number(p, pos);
		}
		if (s[i] == '\'')
			return jerr_near(p, i, "unexpected character "
			    "(JSON strings use double quotes)");
		return jerr_near(p, i, "unexpected character");
	}
}

/* ---- walking a checked value -------------------------------------------- */

/* The end of the (checked) value at s[pos]. */
static size_t
skip_value(const char *s, size_t n, size_t pos)
{
	int depth = 0;

	if (s[pos] != '{' && s[pos] != '[' && s[pos] != '"') {
		while (pos < n && s[pos] != ',' && s[pos] != '}' &&
		    s[pos] != ']' && s[pos] != ' ' && s[pos] != '\t' &&
		    s[pos] != '\r' && s[pos] != '\n')
			pos++;
		return pos;
	}
	for (;;) {
		char c = s[pos];

		if (c == '"') {
			/* the closing quote is the first one after an even
			 * run of backslashes */
			for (;;) {
				const char *q = memchr(s + pos + 1, '"',
				    n - pos - 1);
				size_t k = 0;

				pos = (size_t)(q - s);
				while (s[pos - 1 - k] == '\\')
					k++;
				if (k % 2 == 0)
					break;
			}
			pos++;
			if (depth == 0)
				return pos;
			continue;
		}
		if (c == '{' || c == '[')
			depth++;
		else if (c == '}' || c == ']')
			if (--depth == 0)
				return pos + 1;
		pos++;
	}
}

/*
 * Iterate over the items of a checked array or object: *pos starts at
 * the bracket (first call) and is moved to the next item; returns false
 * at the end.  For objects, *key is the key's offset and *pos the value's.
 */
struct iter {
	const char *s;
	size_t n, pos;
	bool first;
};

static void
iter_init(struct iter *it, const char *s, size_t n, size_t open)
{
	it->s = s;
	it->n = n;
	it->pos = open;
	it->first = true;
}

static bool
iter_next(struct iter *it, bool object, size_t *key, size_t *val)
{
	const char *s = it->s;
	size_t i = it->pos;

	if (it->first) {
		it->first = false;
		i = skip_ws(s, it->n, i + 1);
	} else {
		i = skip_ws(s, it->n, i);
		if (s[i] != ',')
			return false;
		i = skip_ws(s, it->n, i + 1);
	}
	if (s[i] == '}' || s[i] == ']')
		return false;
	if (object) {
		*key = i;
		i = skip_value(s, it->n, i);
		i = skip_ws(s, it->n, i);	/* the ':' */
		i = skip_ws(s, it->n, i + 1);
	}
	*val = i;
	it->pos = skip_value(s, it->n, i);
	return true;
}

static enum jtype
type_at(const char *s, size_t pos)
{
	switch (s[pos]) {
	case '{': return J_OBJ;
	case '[': return J_ARR;
	case '"': return J_STR;
	case 't': case 'f': case 'n': return J_LIT;
	default: return J_NUM;
	}
}

/* ---- building tasks ----------------------------------------------------- */

static int
push_ref(struct pr_task_parser *p, const struct sref *r)
{
	if (p->nrefs == p->caprefs) {
		size_t ncap = p->caprefs ? p->caprefs * 2 : 8;
		struct sref *nr = realloc(p->refs, ncap * sizeof(*nr));
		const char **nv;
		size_t *nl;

		if (nr == NULL)
			return -ENOMEM;
		p->refs = nr;
		nv = realloc(p->vals, ncap * sizeof(*nv));
		if (nv == NULL)
			return -ENOMEM;
		p->vals = nv;
		nl = realloc(p->lens, ncap * sizeof(*nl));
		if (nl == NULL)
			return -ENOMEM;
		p->lens = nl;
		p->caprefs = ncap;
	}
	p->refs[p->nrefs++] = *r;
	return 0;
}

static const char *
ref_ptr(const struct pr_task_parser *p, const struct sref *r)
{
	return r->inbuf ? p->strs.data + r->off : p->s + r->off;
}

/* Decode the checked string at s[pos] into an sref (no copy when it has
 * no escapes). */
static int
get_str(struct pr_task_parser *p, size_t pos, struct sref *r)
{
	size_t end;
	const char *q;
	int rc;

	end = skip_value(p->s, p->n, pos);
	q = memchr(p->s + pos + 1, '\\', end - pos - 2);
	if (q == NULL) {
		r->inbuf = false;
		r->off = pos + 1;
		r->n = end - pos - 2;
		return 0;
	}
	r->inbuf = true;
	r->off = p->strs.len;
	if ((rc = decode_string(p->s, pos, &p->strs, &end)) < 0)
		return rc;
	r->n = p->strs.len - r->off;
	return 0;
}

static int
field_err(struct pr_task_parser *p, enum field f, size_t pos,
    const char *what)
{
	return jerr(p, pos, "field '%s' must be %s", field_name[f], what);
}

/* An integer field in [lo, hi]. */
static int
get_int(struct pr_task_parser *p, enum field f, uint64_t lo, uint64_t hi,
    uint64_t *out)
{
	const struct member *m = &p->f[f];

	if (m->type != J_NUM ||
	    number_u64(p->s + m->val, m->end - m->val, hi, out) != 0 ||
	    *out < lo)
		return jerr(p, m->val, "field '%s' must be an integer in "
		    "[%llu, %llu]", field_name[f], (unsigned long long)lo,
		    (unsigned long long)hi);
	return 0;
}

static bool
valid_kernel_name(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > 64)
		return false;
	for (i = 0; i < n; i++)
		if (!valid_name_char(s[i]))
			return false;
	return true;
}

static int
add_seq_id(struct pr_buf *b, uint64_t seq)
{
	return pr_buf_add_u64(b, seq);
}

/*
 * Render the command for values vals[0..n) into p->body (the kind member)
 * and p->cmd; sets *kind.  The caller has put the id member first.
 */
static int
command_from_values(struct pr_task_parser *p, const char *const *v,
    const size_t *len, size_t n, uint64_t seq, struct parts *pt,
    size_t errpos)
{
	struct pr_errbuf teb;
	size_t i;
	int rc;

	if (p->tmpl != NULL) {
		struct pr_tvals tv = { v, len, n, seq, -1 };

		teb.msg[0] = '\0';
		rc = pr_template_render(p->tmpl, &tv, &p->body, &p->cmd,
		    &p->scratch, &teb);
		if (rc == PR_EBADINPUT)
			return jerr(p, errpos, "%s", teb.msg);
		if (rc < 0)
			return jerr(p, errpos, "%s", pr_strerror(rc));
		pt->kind = pr_template_is_shell(p->tmpl) ? PR_KIND_SH :
		    PR_KIND_ARGV;
		pt->slot = pr_template_uses_slot(p->tmpl);
		return 0;
	}
	if (p->kernel != NULL) {
		size_t a = 0, b;
		const char *s;

		if (n != 1)
			return jerr(p, errpos, "--kernel takes one value per "
			    "task, got %zu", n);
		s = v[0];
		b = len[0];
		while (a < b && (s[a] == ' ' || s[a] == '\t'))
			a++;
		while (b > a && (s[b - 1] == ' ' || s[b - 1] == '\t'))
			b--;
		{
			/* check it with the JSON reader */
			const char *os = p->s;
			size_t on = p->n, pos = a;
			bool range;

			p->s = s;
			p->n = b;
			p->err[0] = '\0';
			rc = -1;
			if (a < b && (s[a] == '-' || (s[a] >= '0' &&
			    s[a] <= '9')))
				rc = read_number(p, &pos);
			range = rc < 0 && strncmp(p->err, "number out of range",
			    19) == 0;
			p->s = os;
			p->n = on;
			if (range)
				return jerr(p, errpos + a, "number out of "
				    "range");
			if (rc < 0 || pos != b)
				return jerr(p, errpos + a, "kernel '%s' takes "
				    "a number per line (its n)", p->kernel);
		}
		pt->kind = PR_KIND_KERNEL;
		pt->kernel = p->kernel;
		pt->kernellen = strlen(p->kernel);
		if ((rc = pr_buf_add(&p->body, "\"kernel\":", 9)) < 0 ||
		    (rc = pr_json_add_cstr(&p->body, p->kernel)) < 0 ||
		    (rc = pr_buf_add(&p->body, ",\"params\":{\"n\":",
		    15)) < 0 ||
		    (rc = pr_buf_add(&p->body, s + a, b - a)) < 0 ||
		    (rc = pr_buf_addc(&p->body, '}')) < 0 ||
		    (rc = pr_buf_add(&p->cmd, "kernel ", 7)) < 0 ||
		    (rc = pr_buf_adds(&p->cmd, p->kernel)) < 0 ||
		    (rc = pr_buf_addc(&p->cmd, ' ')) < 0 ||
		    (rc = pr_buf_add(&p->cmd, s + a, b - a)) < 0)
			return jerr(p, errpos, "%s", pr_strerror(rc));
		return 0;
	}
	/* no template: the value is a shell command */
	for (i = 0; i < n; i++) {
		if (i > 0 && (rc = pr_buf_addc(&p->cmd, ' ')) < 0)
			return jerr(p, errpos, "%s", pr_strerror(rc));
		if ((rc = pr_buf_add(&p->cmd, v[i], len[i])) < 0)
			return jerr(p, errpos, "%s", pr_strerror(rc));
	}
	if ((rc = pr_buf_add(&p->body, "\"sh\":", 5)) < 0 ||
	    (rc = pr_json_add_str(&p->body, p->cmd.data ? p->cmd.data : "",
	    p->cmd.len)) < 0)
		return jerr(p, errpos, "%s", pr_strerror(rc));
	pt->kind = PR_KIND_SH;
	return 0;
}

static int
add_tag(struct pr_task_parser *p, const char *const *v, const size_t *len,
    size_t n)
{
	size_t i;
	int rc;

	for (i = 0; i < n; i++)
		if ((i > 0 && (rc = pr_buf_addc(&p->tag, '\t')) < 0) ||
		    (rc = pr_buf_add(&p->tag, v[i], len[i])) < 0)
			return rc;
	return 0;
}

static void
parts_from_bufs(struct pr_task_parser *p, struct parts *pt)
{
	pt->body = p->body.data ? p->body.data : "";
	pt->bodylen = p->body.len;
	pt->cmd = p->cmd.data ? p->cmd.data : "";
	pt->cmdlen = p->cmd.len;
	pt->tag = p->tag.data ? p->tag.data : "";
	pt->taglen = p->tag.len;
}

/* ---- fingerprints (see task.h) ------------------------------------------ */

int
pr_task_parser_set_fingerprint(struct pr_task_parser *p,
    const char *const *words, size_t n, bool shell)
{
	struct pr_buf b;
	bool counts = false;
	size_t i;
	int rc = 0;

	pr_buf_init(&b, 0);
	for (i = 0; i < n; i++) {
		if (!pr_json_is_text(words[i], strlen(words[i])))
			return PR_ECONFIG;
		/* "{#}" and "{%}" are replacement strings wherever they
		 * stand (template.c) */
		if (strstr(words[i], "{#}") != NULL ||
		    strstr(words[i], "{%}") != NULL)
			counts = true;
	}
	if (p->md == NULL) {
		/* one init; each task copies it (an init looks the digest
		 * up again, which costs more than hashing a task) */
		p->md0 = EVP_MD_CTX_new();
		p->md = EVP_MD_CTX_new();
		if (p->md0 == NULL || p->md == NULL ||
		    EVP_DigestInit_ex(p->md0, EVP_sha256(), NULL) != 1) {
			EVP_MD_CTX_free(p->md0);
			EVP_MD_CTX_free(p->md);
			p->md0 = NULL;
			p->md = NULL;
			return -ENOMEM;
		}
	}
	free(p->fp_tmpl);
	p->fp_tmpl = NULL;
	if (counts) {
		if ((rc = pr_buf_adds(&b, "{\"shell\":")) < 0 ||
		    (rc = pr_buf_adds(&b, shell ? "true" : "false")) < 0 ||
		    (rc = pr_buf_adds(&b, ",\"words\":[")) < 0)
			goto out;
		for (i = 0; i < n; i++)
			if ((i > 0 && (rc = pr_buf_addc(&b, ',')) < 0) ||
			    (rc = pr_json_add_cstr(&b, words[i])) < 0)
				goto out;
		if ((rc = pr_buf_adds(&b, "]}")) < 0)
			goto out;
		p->fp_tmpl = pr_buf_detach(&b, NULL);
	}
	p->fp_on = true;
out:
	pr_buf_release(&b);
	return rc;
}

const char *
pr_task_parser_fp_text(const struct pr_task_parser *p, size_t *len)
{
	if (len != NULL)
		*len = p->fpcanon.len;
	return p->fpcanon.len > 0 ? p->fpcanon.data : "";
}

static bool
own_field(const char *k, size_t n)
{
	int i;

	for (i = 0; i < F_COUNT; i++)
		if (strlen(field_name[i]) == n &&
		    memcmp(field_name[i], k, n) == 0)
			return true;
	return false;
}

/* Keys in byte order, a prefix first. */
static int
ckey_cmp(const void *a, const void *b)
{
	const struct ckey *x = a, *y = b;
	size_t n = x->len < y->len ? x->len : y->len;
	int c = n > 0 ? memcmp(x->k, y->k, n) : 0;

	if (c != 0)
		return c;
	return (x->len > y->len) - (x->len < y->len);
}

static int canon_value(struct pr_task_parser *p, const char *s, size_t n,
    size_t pos, bool drop_own, struct pr_buf *out);

/* The checked object at s[pos], keys sorted; drop_own leaves out the
 * members of a task line (a kernel's whole-line parameters).  Its keys
 * and members go on the stacks p->fpkeys and p->ckeys, above those of the
 * objects that contain it, and come off at the end. */
static int
canon_object(struct pr_task_parser *p, const char *s, size_t n, size_t pos,
    bool drop_own, struct pr_buf *out)
{
	size_t base = p->nckeys, kbase = p->fpkeys.len, k, v, e, i;
	struct iter it;
	int rc = 0;

	iter_init(&it, s, n, pos);
	while (iter_next(&it, true, &k, &v)) {
		size_t off = p->fpkeys.len;
		struct ckey *ck;

		if ((rc = decode_string(s, k, &p->fpkeys, &e)) < 0)
			goto out;
		if (drop_own && own_field(p->fpkeys.data + off,
		    p->fpkeys.len - off)) {
			p->fpkeys.len = off;
			continue;
		}
		if (p->nckeys == p->capckeys) {
			size_t ncap = p->capckeys ? p->capckeys * 2 : 16;
			struct ckey *nk = realloc(p->ckeys,
			    ncap * sizeof(*nk));

			if (nk == NULL) {
				rc = -ENOMEM;
				goto out;
			}
			p->ckeys = nk;
			p->capckeys = ncap;
		}
		ck = &p->ckeys[p->nckeys++];
		ck->off = off;
		ck->len = p->fpkeys.len - off;
		ck->val = v;
	}
	for (i = base; i < p->nckeys; i++)
		p->ckeys[i].k = p->fpkeys.data + p->ckeys[i].off;
	if (p->nckeys - base > 1)
		qsort(p->ckeys + base, p->nckeys - base, sizeof(*p->ckeys),
		    ckey_cmp);
	if ((rc = pr_buf_addc(out, '{')) < 0)
		goto out;
	/* nested objects may move both stacks: index, never keep pointers */
	for (i = base; i < p->nckeys; i++)
		if ((i > base && (rc = pr_buf_addc(out, ',')) < 0) ||
		    (rc = pr_json_add_str(out, p->fpkeys.data +
		    p->ckeys[i].off, p->ckeys[i].len)) < 0 ||
		    (rc = pr_buf_addc(out, ':')) < 0 ||
		    (rc = canon_value(p, s, n, p->ckeys[i].val, false,
		    out)) < 0)
			goto out;
	rc = pr_buf_addc(out, '}');
out:
	p->nckeys = base;
	p->fpkeys.len = kbase;
	return rc;
}

/* The checked value at s[pos] in canonical form, appended to out. */
static int
canon_value(struct pr_task_parser *p, const char *s, size_t n, size_t pos,
    bool drop_own, struct pr_buf *out)
{
	struct iter it;
	size_t k, v, e;
	bool first = true;
	int rc;

	switch (s[pos]) {
	case '{':
		return canon_object(p, s, n, pos, drop_own, out);
	case '[':
		if ((rc = pr_buf_addc(out, '[')) < 0)
			return rc;
		iter_init(&it, s, n, pos);
		while (iter_next(&it, false, &k, &v)) {
			if ((!first && (rc = pr_buf_addc(out, ',')) < 0) ||
			    (rc = canon_value(p, s, n, v, false, out)) < 0)
				return rc;
			first = false;
		}
		return pr_buf_addc(out, ']');
	case '"':
		pr_buf_reset(&p->fptmp);
		if ((rc = decode_string(s, pos, &p->fptmp, &e)) < 0)
			return rc;
		return pr_json_add_str(out, p->fptmp.data ? p->fptmp.data : "",
		    p->fptmp.len);
	default:
		/* numbers as written, and the literals */
		e = skip_value(s, n, pos);
		return pr_buf_add(out, s + pos, e - pos);
	}
}

/*
 * The members of the canonical text are gathered as found (raw JSON from
 * the line, or our own rendering) in p->fpsyn as one object, which is then
 * canonicalized as a whole: fp_begin(), fp_key() + a value ..., fp_end().
 */
static int
fp_begin(struct pr_task_parser *p)
{
	pr_buf_reset(&p->fpsyn);
	pr_buf_reset(&p->fpcanon);
	return pr_buf_addc(&p->fpsyn, '{');
}

static int
fp_key(struct pr_task_parser *p, const char *key)
{
	int rc;

	if (p->fpsyn.len > 1 && (rc = pr_buf_addc(&p->fpsyn, ',')) < 0)
		return rc;
	return pr_json_add_key(&p->fpsyn, key);
}

static int
fp_raw(struct pr_task_parser *p, const char *key, const char *v, size_t n)
{
	int rc;

	if ((rc = fp_key(p, key)) < 0)
		return rc;
	return pr_buf_add(&p->fpsyn, v, n);
}

/* Canonicalize what was gathered and hash it into pt. */
static int
fp_end(struct pr_task_parser *p, struct parts *pt)
{
	unsigned int len = 0;
	int rc;

	if ((rc = pr_buf_addc(&p->fpsyn, '}')) < 0 ||
	    (rc = canon_value(p, p->fpsyn.data, p->fpsyn.len, 0, false,
	    &p->fpcanon)) < 0)
		return rc;
	if (EVP_MD_CTX_copy_ex(p->md, p->md0) != 1 ||
	    EVP_DigestUpdate(p->md, p->fpcanon.data, p->fpcanon.len) != 1 ||
	    EVP_DigestFinal_ex(p->md, pt->fp, &len) != 1 ||
	    len != sizeof(pt->fp))
		return -ENOMEM;
	pt->has_fp = true;
	return 0;
}

/*
 * The command of a task made from values: the rendered members
 * p->body[a..b) (`"argv":[..]`, `"sh":".."`, or `"kernel":..,"params":..`
 * under --kernel), or the template and the values when the template
 * uses {#} or {%}.
 */
static int
fp_command(struct pr_task_parser *p, size_t a, size_t b,
    const char *const *v, const size_t *len, size_t n)
{
	size_t i;
	int rc;

	if (p->fp_tmpl == NULL || p->tmpl == NULL) {
		if (p->fpsyn.len > 1 && (rc = pr_buf_addc(&p->fpsyn, ',')) < 0)
			return rc;
		return pr_buf_add(&p->fpsyn, p->body.data + a, b - a);
	}
	if ((rc = fp_raw(p, "template", p->fp_tmpl,
	    strlen(p->fp_tmpl))) < 0 ||
	    (rc = fp_key(p, "values")) < 0 ||
	    (rc = pr_buf_addc(&p->fpsyn, '[')) < 0)
		return rc;
	for (i = 0; i < n; i++)
		if ((i > 0 && (rc = pr_buf_addc(&p->fpsyn, ',')) < 0) ||
		    (rc = pr_json_add_str(&p->fpsyn, v[i], len[i])) < 0)
			return rc;
	return pr_buf_addc(&p->fpsyn, ']');
}

/*
 * A task from literal values.  The id is the seq.  errpos is the column
 * base for messages (0).
 */
static int
task_from_values(struct pr_task_parser *p, const char *const *v,
    const size_t *len, size_t n, uint64_t seq, const char *src,
    unsigned long lineno, struct pr_task **out, struct pr_errbuf *eb)
{
	struct parts pt;
	char idb[24];
	int rc, nidb;
	size_t a;

	parts_init(&pt, seq, src, lineno);
	nidb = (int)u64_str(idb, seq);
	if ((rc = pr_buf_add(&p->body, "\"id\":\"", 6)) < 0 ||
	    (rc = pr_buf_add(&p->body, idb, (size_t)nidb)) < 0 ||
	    (rc = pr_buf_add(&p->body, "\",", 2)) < 0)
		goto fail;
	a = p->body.len;
	if (command_from_values(p, v, len, n, seq, &pt, 0) < 0)
		return report(p, src, lineno, eb);
	if ((rc = add_tag(p, v, len, n)) < 0)
		goto fail;
	if (p->fp_on && ((rc = fp_begin(p)) < 0 ||
	    (rc = fp_command(p, a, p->body.len, v, len, n)) < 0 ||
	    (rc = fp_end(p, &pt)) < 0))
		goto fail;
	pt.id = idb;
	pt.idlen = (size_t)nidb;
	parts_from_bufs(p, &pt);
	if ((rc = assemble(p, &pt, out)) < 0)
		goto fail;
	return 1;
fail:
	return pr_err(eb, rc, "%s:%lu: %s", src, lineno, pr_strerror(rc));
}

int
pr_task_from_values(struct pr_task_parser *p, const char *const *v,
    const size_t *len, size_t n, uint64_t seq, const char *src,
    unsigned long lineno, struct pr_task **out, struct pr_errbuf *eb)
{
	const char *what;
	size_t i, col;
	int rc;

	*out = NULL;
	parser_reset(p);
	for (i = 0; i < n; i++)
		if (!pr_task_text_ok(v[i], len[i], &col, &what))
			return pr_err(eb, PR_EBADINPUT, "%s:%lu:%zu: %s in "
			    "value %zu", src, lineno, col, what, i + 1);
	p->s = "";
	p->n = 0;
	rc = task_from_values(p, v, len, n, seq, src, lineno, out, eb);
	return rc;
}

/*
 * The fingerprint of the JSON task at p->s, of kind `kind` (a field, or -1
 * for the --kernel default); the command of an "args" task was rendered
 * into p->body[a..b).
 */
static int
fp_json(struct pr_task_parser *p, int kind, struct parts *pt, size_t a,
    size_t b)
{
	const struct member *f = p->f;
	const char *s = p->s;
	int rc;

	if ((rc = fp_begin(p)) < 0)
		return rc;
	switch (kind) {
	case F_ARGV:
	case F_SH:
		rc = fp_raw(p, field_name[kind], s + f[kind].val,
		    f[kind].end - f[kind].val);
		break;
	case F_ARGS:
		rc = fp_command(p, a, b, p->vals, p->lens, p->nrefs);
		break;
	default: {
		bool whole = !f[F_PARAMS].present;

		if ((rc = fp_key(p, "kernel")) < 0 ||
		    (rc = pr_json_add_str(&p->fpsyn, pt->kernel,
		    pt->kernellen)) < 0 ||
		    (rc = fp_key(p, "params")) < 0)
			return rc;
		rc = canon_value(p, s, p->n, whole ? p->obj_start :
		    f[F_PARAMS].val, whole, &p->fpsyn);
		break;
	}
	}
	if (rc < 0)
		return rc;
	if (f[F_ENV].present && (rc = fp_raw(p, "env", s + f[F_ENV].val,
	    f[F_ENV].end - f[F_ENV].val)) < 0)
		return rc;
	if (f[F_CWD].present && (rc = fp_raw(p, "cwd", s + f[F_CWD].val,
	    f[F_CWD].end - f[F_CWD].val)) < 0)
		return rc;
	if (pt->id_given && ((rc = fp_key(p, "id")) < 0 ||
	    (rc = pr_json_add_str(&p->fpsyn, pt->id, pt->idlen)) < 0))
		return rc;
	if (pt->has_seed && ((rc = fp_key(p, "seed")) < 0 ||
	    (rc = pr_buf_add_u64(&p->fpsyn, pt->seed)) < 0))
		return rc;
	return fp_end(p, pt);
}

/* The JSON task at p->s (checked by read_object). */
static int
task_from_json(struct pr_task_parser *p, uint64_t seq, const char *src,
    unsigned long lineno, struct pr_task **out, struct pr_errbuf *eb)
{
	static const enum field kinds[] = { F_ARGV, F_SH, F_KERNEL, F_ARGS };
	const struct member *f = p->f;
	const char *s = p->s;
	struct parts pt;
	struct sref idr = { false, 0, 0 }, hostr = { false, 0, 0 };
	struct sref kernr = { false, 0, 0 };
	int kind = -1, rc = 0;
	size_t i, k, v, nargs = 0, sega = 0, segb = 0;
	bool idnum = false, hasid = false, hashost = false;
	char idb[24];
	uint64_t u;
	struct iter it;

	parts_init(&pt, seq, src, lineno);

	/* which kind: exactly one of argv, sh, kernel, args */
	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		if (!f[kinds[i]].present)
			continue;
		if (kind >= 0) {
			const struct member *a = &f[kind], *b = &f[kinds[i]];
			enum field later = a->key > b->key ? (enum field)kind :
			    kinds[i];
			enum field earlier = later == kinds[i] ?
			    (enum field)kind : kinds[i];

			return jerr(p, f[later].key, "fields '%s' and '%s' "
			    "cannot be used together", field_name[earlier],
			    field_name[later]);
		}
		kind = (int)kinds[i];
	}
	if (kind < 0 && p->kernel == NULL)
		return jerr(p, p->obj_start, "the task needs one of 'argv', "
		    "'sh', 'kernel' or 'args'");

	/* optional members */
	if (f[F_ID].present) {
		const struct member *m = &f[F_ID];
		const char *idwhat = "a non-empty string or an integer in "
		    "[0, 9007199254740991]";

		if (m->type == J_NUM) {
			int r = number_u64(s + m->val, m->end - m->val,
			    PR_ID_MAX, &u);

			if (r != 0)
				return field_err(p, F_ID, m->val, idwhat);
			u64_str(idb, u);
			idnum = true;
		} else if (m->type == J_STR) {
			const char *q;

			if ((rc = get_str(p, m->val, &idr)) < 0)
				goto oom;
			if (idr.n == 0)
				return field_err(p, F_ID, m->val, idwhat);
			if (idr.n > PR_ID_MAXLEN)
				return jerr(p, m->val, "field 'id' is longer "
				    "than %d bytes", PR_ID_MAXLEN);
			q = ref_ptr(p, &idr);
			for (k = 0; k < idr.n; k++)
				if ((unsigned char)q[k] < 0x20 || q[k] == 0x7f)
					return jerr(p, m->val, "field 'id' "
					    "must not contain control "
					    "characters");
		} else {
			return field_err(p, F_ID, m->val, idwhat);
		}
		hasid = true;
	}
	if (f[F_TIMEOUT].present) {
		const struct member *m = &f[F_TIMEOUT];
		double d = -1;

		if (m->type == J_NUM) {
			pr_buf_reset(&p->tmp);
			if ((rc = pr_buf_add(&p->tmp, s + m->val,
			    m->end - m->val)) < 0)
				goto oom;
			d = strtod(p->tmp.data, NULL);
		}
		if (!(d >= 0 && d <= 1e9))
			return field_err(p, F_TIMEOUT, m->val, "a number of "
			    "seconds in [0, 1e9]");
		pt.timeout = d;
	}
	if (f[F_RETRIES].present) {
		if (get_int(p, F_RETRIES, 0, 1000000, &u) < 0)
			return -1;
		pt.retries = (int)u;
	}
	if (f[F_WORKER].present) {
		if (get_int(p, F_WORKER, 1, 1000000, &u) < 0)
			return -1;
		pt.worker = (int)u;
	}
	if (f[F_SEED].present) {
		if (get_int(p, F_SEED, 0, PR_ID_MAX, &u) < 0)
			return -1;
		pt.has_seed = true;
		pt.seed = u;
	}
	if (f[F_HOST].present) {
		const struct member *m = &f[F_HOST];

		if (m->type != J_STR)
			return field_err(p, F_HOST, m->val, "a non-empty "
			    "string");
		if ((rc = get_str(p, m->val, &hostr)) < 0)
			goto oom;
		if (hostr.n == 0)
			return field_err(p, F_HOST, m->val, "a non-empty "
			    "string");
		hashost = true;
	}
	if (f[F_CWD].present && (f[F_CWD].type != J_STR ||
	    f[F_CWD].end - f[F_CWD].val == 2))
		return field_err(p, F_CWD, f[F_CWD].val, "a non-empty string");
	if (f[F_ENV].present) {
		const struct member *m = &f[F_ENV];
		size_t key;

		if (m->type != J_OBJ)
			return field_err(p, F_ENV, m->val, "an object of "
			    "strings");
		iter_init(&it, s, p->n, m->val);
		while (iter_next(&it, true, &key, &v)) {
			size_t e;
			const char *kn;

			if (type_at(s, v) != J_STR)
				return field_err(p, F_ENV, v, "an object of "
				    "strings");
			pr_buf_reset(&p->tmp);
			if ((rc = decode_string(s, key, &p->tmp, &e)) < 0)
				goto oom;
			kn = p->tmp.data ? p->tmp.data : "";
			if (p->tmp.len == 0 || memchr(kn, '=',
			    p->tmp.len) != NULL)
				return jerr(p, key, "field 'env': invalid "
				    "variable name");
		}
	}

	/* the kind's own member */
	switch (kind) {
	case F_ARGV: {
		const struct member *m = &f[F_ARGV];
		const char *what = "a non-empty array of strings";

		if (m->type != J_ARR)
			return field_err(p, F_ARGV, m->val, what);
		iter_init(&it, s, p->n, m->val);
		nargs = 0;
		while (iter_next(&it, false, &k, &v)) {
			if (type_at(s, v) != J_STR)
				return field_err(p, F_ARGV, v, what);
			if (nargs == 0 && skip_value(s, p->n, v) == v + 2)
				return jerr(p, v, "field 'argv' must start "
				    "with a non-empty program name");
			nargs++;
		}
		if (nargs == 0)
			return field_err(p, F_ARGV, m->val, what);
		break;
	}
	case F_SH:
		if (f[F_SH].type != J_STR || f[F_SH].end - f[F_SH].val == 2)
			return field_err(p, F_SH, f[F_SH].val, "a non-empty "
			    "string");
		break;
	case F_KERNEL: {
		const struct member *m = &f[F_KERNEL];

		if (m->type != J_STR)
			return field_err(p, F_KERNEL, m->val, "a kernel name "
			    "(letters, digits, '_' and '-')");
		if ((rc = get_str(p, m->val, &kernr)) < 0)
			goto oom;
		break;
	}
	case F_ARGS: {
		const struct member *m = &f[F_ARGS];
		const char *what = "a non-empty array of strings";
		struct sref r;

		if (m->type != J_ARR)
			return field_err(p, F_ARGS, m->val, what);
		if (p->tmpl == NULL)
			return jerr(p, m->key, "field 'args' needs a command "
			    "template (the words after the options)");
		iter_init(&it, s, p->n, m->val);
		while (iter_next(&it, false, &k, &v)) {
			if (type_at(s, v) != J_STR)
				return field_err(p, F_ARGS, v, what);
			if ((rc = get_str(p, v, &r)) < 0 ||
			    (rc = push_ref(p, &r)) < 0)
				goto oom;
		}
		if (p->nrefs == 0)
			return field_err(p, F_ARGS, m->val, what);
		break;
	}
	default:
		break;
	}
	if (f[F_PARAMS].present && (kind == F_KERNEL || kind < 0) &&
	    f[F_PARAMS].type != J_OBJ)
		return field_err(p, F_PARAMS, f[F_PARAMS].val, "an object");

	/* all strings are decoded: p->strs no longer moves */
	if (kind == F_KERNEL) {
		const char *kn = ref_ptr(p, &kernr);

		if (!valid_kernel_name(kn, kernr.n))
			return field_err(p, F_KERNEL, f[F_KERNEL].val,
			    "a kernel name (letters, digits, '_' and '-')");
		pt.kernel = kn;
		pt.kernellen = kernr.n;
	} else if (kind < 0) {
		pt.kernel = p->kernel;
		pt.kernellen = strlen(p->kernel);
	}
	if (hasid && !idnum) {
		pt.id = ref_ptr(p, &idr);
		pt.idlen = idr.n;
	} else {
		if (!hasid)
			u64_str(idb, seq);
		pt.id = idb;
		pt.idlen = strlen(idb);
	}
	if (hashost) {
		pt.host = ref_ptr(p, &hostr);
		pt.hostlen = hostr.n;
	}

	/* the body */
	if ((rc = pr_buf_add(&p->body, "\"id\":", 5)) < 0 ||
	    (rc = pr_json_add_str(&p->body, pt.id, pt.idlen)) < 0 ||
	    (rc = pr_buf_addc(&p->body, ',')) < 0)
		goto oom;
	switch (kind) {
	case F_ARGV:
		pt.kind = PR_KIND_ARGV;
		if ((rc = pr_buf_add(&p->body, "\"argv\":[", 8)) < 0)
			goto oom;
		iter_init(&it, s, p->n, f[F_ARGV].val);
		i = 0;
		while (iter_next(&it, false, &k, &v)) {
			size_t e = skip_value(s, p->n, v);

			if ((i > 0 && ((rc = pr_buf_addc(&p->body, ',')) < 0 ||
			    (rc = pr_buf_addc(&p->cmd, ' ')) < 0)) ||
			    (rc = pr_buf_add(&p->body, s + v, e - v)) < 0 ||
			    (rc = decode_string(s, v, &p->cmd, &e)) < 0)
				goto oom;
			i++;
		}
		if ((rc = pr_buf_addc(&p->body, ']')) < 0 ||
		    (rc = pr_buf_add(&p->tag, pt.id, pt.idlen)) < 0)
			goto oom;
		break;
	case F_SH: {
		size_t e = f[F_SH].end;

		pt.kind = PR_KIND_SH;
		if ((rc = pr_buf_add(&p->body, "\"sh\":", 5)) < 0 ||
		    (rc = pr_buf_add(&p->body, s + f[F_SH].val,
		    f[F_SH].end - f[F_SH].val)) < 0 ||
		    (rc = decode_string(s, f[F_SH].val, &p->cmd, &e)) < 0 ||
		    (rc = pr_buf_add(&p->tag, pt.id, pt.idlen)) < 0)
			goto oom;
		break;
	}
	case F_ARGS:
		for (i = 0; i < p->nrefs; i++) {
			p->vals[i] = ref_ptr(p, &p->refs[i]);
			p->lens[i] = p->refs[i].n;
		}
		sega = p->body.len;
		if (command_from_values(p, p->vals, p->lens, p->nrefs, seq,
		    &pt, f[F_ARGS].val) < 0)
			return -1;
		segb = p->body.len;
		if ((rc = add_tag(p, p->vals, p->lens, p->nrefs)) < 0)
			goto oom;
		break;
	default: {
		/* a kernel: named, or the --kernel default */
		size_t ps = p->obj_start, pe = p->obj_end;

		if (f[F_PARAMS].present) {
			ps = f[F_PARAMS].val;
			pe = f[F_PARAMS].end;
		}
		pt.kind = PR_KIND_KERNEL;
		if ((rc = pr_buf_add(&p->body, "\"kernel\":", 9)) < 0 ||
		    (rc = pr_json_add_str(&p->body, pt.kernel,
		    pt.kernellen)) < 0 ||
		    (rc = pr_buf_add(&p->body, ",\"params\":", 10)) < 0 ||
		    (rc = pr_buf_add(&p->body, s + ps, pe - ps)) < 0 ||
		    (rc = pr_buf_add(&p->cmd, "kernel ", 7)) < 0 ||
		    (rc = pr_buf_add(&p->cmd, pt.kernel, pt.kernellen)) < 0 ||
		    (rc = pr_buf_add(&p->tag, pt.id, pt.idlen)) < 0)
			goto oom;
		break;
	}
	}
	if (f[F_ENV].present &&
	    ((rc = pr_buf_add(&p->body, ",\"env\":", 7)) < 0 ||
	    (rc = pr_buf_add(&p->body, s + f[F_ENV].val,
	    f[F_ENV].end - f[F_ENV].val)) < 0))
		goto oom;
	if (f[F_CWD].present &&
	    ((rc = pr_buf_add(&p->body, ",\"cwd\":", 7)) < 0 ||
	    (rc = pr_buf_add(&p->body, s + f[F_CWD].val,
	    f[F_CWD].end - f[F_CWD].val)) < 0))
		goto oom;
	if (pt.timeout > 0) {
		double ms = ceil(pt.timeout * 1000.0);

		if ((rc = pr_buf_add(&p->body, ",\"timeout_ms\":", 14)) < 0 ||
		    (rc = pr_buf_add_i64(&p->body, (int64_t)ms)) < 0)
			goto oom;
	}
	if (pt.has_seed &&
	    ((rc = pr_buf_add(&p->body, ",\"seed\":", 8)) < 0 ||
	    (rc = pr_buf_add_u64(&p->body, pt.seed)) < 0))
		goto oom;
	pt.id_given = hasid;
	if (p->fp_on && (rc = fp_json(p, kind, &pt, sega, segb)) < 0)
		goto oom;
	parts_from_bufs(p, &pt);
	if ((rc = assemble(p, &pt, out)) < 0)
		goto oom;
	return 1;
oom:
	return pr_err(eb, rc, "%s:%lu: %s", src, lineno, pr_strerror(rc));
}

static bool
is_blank(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' &&
		    s[i] != '\v' && s[i] != '\f')
			return false;
	return true;
}

int
pr_task_parse_line(struct pr_task_parser *p, char *line, size_t len,
    uint64_t seq, const char *src, unsigned long lineno,
    struct pr_task **out, struct pr_errbuf *eb)
{
	const char *what;
	size_t col, i;
	int rc;

	*out = NULL;
	if (len > 0 && line[len - 1] == '\r')
		line[--len] = '\0';
	if (is_blank(line, len))
		return 0;
	parser_reset(p);
	if (len >= 3 && memcmp(line, "\xef\xbb\xbf", 3) == 0)
		return pr_err(eb, PR_EBADINPUT, "%s:%lu:1: byte order mark "
		    "at the start of the line (save the file as UTF-8 "
		    "without BOM)", src, lineno);
	if (!pr_task_text_ok(line, len, &col, &what))
		return pr_err(eb, PR_EBADINPUT, "%s:%lu:%zu: %s", src, lineno,
		    col, what);
	p->s = line;
	p->n = len;
	i = skip_ws(line, len, 0);
	if (line[i] == '{') {
		size_t pos = i;

		memset(p->f, 0, sizeof(p->f));
		p->nkeys = 0;
		p->obj_start = i;
		if (read_object(p, &pos, 1) < 0)
			return report(p, src, lineno, eb);
		p->obj_end = pos;
		pos = skip_ws(line, len, pos);
		if (pos < len) {
			if (line[pos] == '{')
				jerr(p, pos, "a second JSON object on the line "
				    "(one task per line)");
			else
				jerr_near(p, pos, "unexpected text after the "
				    "JSON object");
			return report(p, src, lineno, eb);
		}
		rc = task_from_json(p, seq, src, lineno, out, eb);
		if (rc == -1)
			return report(p, src, lineno, eb);
		return rc;
	}
	{
		const char *v[1] = { line };
		size_t l[1] = { len };

		return task_from_values(p, v, l, 1, seq, src, lineno, out, eb);
	}
}

int
pr_task_rejected(struct pr_task_parser *p, uint64_t seq, const char *src,
    unsigned long lineno, const char *msg, const char *line, size_t len,
    struct pr_task **out)
{
	struct parts pt;
	char idb[24];
	int rc;

	*out = NULL;
	parser_reset(p);
	parts_init(&pt, seq, src, lineno);
	pt.status = PR_ST_REJECTED;
	pt.kind = PR_KIND_SH;
	pt.error = msg;
	u64_str(idb, seq);
	pt.id = idb;
	pt.idlen = strlen(idb);
	if (line != NULL && (rc = pr_task_snippet(&p->cmd, line, len,
	    200)) < 0)
		return rc;
	parts_from_bufs(p, &pt);
	pt.body = NULL;
	pt.bodylen = 0;
	if ((rc = assemble(p, &pt, out)) < 0)
		return rc;
	return 1;
}

int
pr_task_range_chunk(struct pr_task_parser *p, uint64_t seq, int64_t from,
    int64_t to, int64_t step, uint64_t count, struct pr_task **out)
{
	struct parts pt;
	char idb[24];
	size_t a;
	int rc;

	*out = NULL;
	if (p->kernel == NULL)
		return -EINVAL;
	parser_reset(p);
	parts_init(&pt, seq, "range", (unsigned long)seq);
	u64_str(idb, seq);
	pt.id = idb;
	pt.idlen = strlen(idb);
	pt.kind = PR_KIND_KERNEL;
	pt.kernel = p->kernel;
	pt.kernellen = strlen(p->kernel);
	if ((rc = pr_buf_add(&p->body, "\"id\":\"", 6)) < 0 ||
	    (rc = add_seq_id(&p->body, seq)) < 0 ||
	    (rc = pr_buf_add(&p->body, "\",", 2)) < 0)
		return rc;
	a = p->body.len;
	if ((rc = pr_buf_add(&p->body, "\"kernel\":", 9)) < 0 ||
	    (rc = pr_json_add_cstr(&p->body, p->kernel)) < 0 ||
	    (rc = pr_buf_add(&p->body, ",\"params\":{\"from\":", 18)) < 0 ||
	    (rc = pr_buf_add_i64(&p->body, from)) < 0 ||
	    (rc = pr_buf_add(&p->body, ",\"to\":", 6)) < 0 ||
	    (rc = pr_buf_add_i64(&p->body, to)) < 0 ||
	    (rc = pr_buf_add(&p->body, ",\"step\":", 8)) < 0 ||
	    (rc = pr_buf_add_i64(&p->body, step)) < 0 ||
	    (rc = pr_buf_add(&p->body, ",\"n\":", 5)) < 0 ||
	    (rc = pr_buf_add_u64(&p->body, count)) < 0 ||
	    (rc = pr_buf_addc(&p->body, '}')) < 0 ||
	    (rc = pr_buf_addf(&p->cmd, "kernel %s %lld:%lld:%lld", p->kernel,
	    (long long)from, (long long)to, (long long)step)) < 0 ||
	    (rc = pr_buf_addf(&p->tag, "%lld:%lld", (long long)from,
	    (long long)to)) < 0)
		return rc;
	if (p->fp_on && ((rc = fp_begin(p)) < 0 ||
	    (rc = fp_command(p, a, p->body.len, NULL, NULL, 0)) < 0 ||
	    (rc = fp_end(p, &pt)) < 0))
		return rc;
	parts_from_bufs(p, &pt);
	if ((rc = assemble(p, &pt, out)) < 0)
		return rc;
	return 1;
}
