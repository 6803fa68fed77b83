/*
 * proto.c - the parrun wire protocol: framing, parsing, and one encoder and
 * one decoder per message type.  See proto.h for the contract and
 * man/parrun-protocol.7 for the specification.
 *
 * Encoders write JSON by hand into the caller's buffer through a small
 * "writer" with a sticky error: the first failure is kept, later pieces are
 * skipped, and at the end the buffer is cut back to where the message
 * began, so a failed encode never leaves half a line behind.  Nothing on
 * the encode path allocates except the buffer's own growth.
 *
 * Decoders only read cJSON trees.  They check every field they use (type,
 * integrality, range) and ignore fields they do not know.
 */
#include "proto.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

/* Deepest JSON value the tree writer follows (cJSON's parser stops at
 * 1000 too, so a parsed tree always fits). */
#define JSON_DEPTH_MAX		1000
#define HB_MS_MAX		86400000	/* one day */
#define FRAME_MAX		(1024 * 1024 * 1024)

/* ---- names --------------------------------------------------------------- */

const char *
pr_msg_type_name(enum pr_msg_type t)
{
	switch (t) {
	case PR_MSG_HELLO:	return "hello";
	case PR_MSG_WELCOME:	return "welcome";
	case PR_MSG_REJECT:	return "reject";
	case PR_MSG_TASK:	return "task";
	case PR_MSG_TASKS:	return "tasks";
	case PR_MSG_CANCEL:	return "cancel";
	case PR_MSG_BROADCAST:	return "broadcast";
	case PR_MSG_STARTED:	return "started";
	case PR_MSG_OUTPUT:	return "output";
	case PR_MSG_RESULT:	return "result";
	case PR_MSG_RESULTS:	return "results";
	case PR_MSG_HB:		return "hb";
	case PR_MSG_ERROR:	return "error";
	case PR_MSG_SHUTDOWN:	return "shutdown";
	case PR_MSG_BYE:	return "bye";
	case PR_MSG_UNKNOWN:	break;
	}
	return "unknown";
}

static enum pr_msg_type
type_from_name(const char *s)
{
	static const enum pr_msg_type all[] = {
		PR_MSG_HELLO, PR_MSG_WELCOME, PR_MSG_REJECT, PR_MSG_TASK,
		PR_MSG_TASKS, PR_MSG_CANCEL, PR_MSG_BROADCAST, PR_MSG_STARTED,
		PR_MSG_OUTPUT, PR_MSG_RESULT, PR_MSG_RESULTS, PR_MSG_HB,
		PR_MSG_ERROR, PR_MSG_SHUTDOWN, PR_MSG_BYE,
	};
	size_t i;

	/* the two hot types first */
	if (strcmp(s, "result") == 0)
		return PR_MSG_RESULT;
	if (strcmp(s, "task") == 0)
		return PR_MSG_TASK;
	for (i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		if (strcmp(s, pr_msg_type_name(all[i])) == 0)
			return all[i];
	return PR_MSG_UNKNOWN;
}

const char *
pr_status_name(enum pr_status s)
{
	switch (s) {
	case PR_ST_OK:		return "ok";
	case PR_ST_FAILED:	return "failed";
	case PR_ST_TIMEOUT:	return "timeout";
	case PR_ST_CANCELLED:	return "cancelled";
	case PR_ST_ERROR:	return "error";
	case PR_ST_LOST:	return "lost";
	case PR_ST_REJECTED:	return "rejected";
	}
	return "unknown";
}

int
pr_status_parse(const char *name, enum pr_status *s)
{
	static const enum pr_status all[] = {
		PR_ST_OK, PR_ST_FAILED, PR_ST_TIMEOUT, PR_ST_CANCELLED,
		PR_ST_ERROR, PR_ST_LOST, PR_ST_REJECTED,
	};
	size_t i;

	for (i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		if (strcmp(name, pr_status_name(all[i])) == 0) {
			*s = all[i];
			return 0;
		}
	}
	return PR_EPROTO;
}

int
pr_proto_negotiate(int their_min, int their_max, int *chosen)
{
	int lo = their_min > PR_PROTO_MIN ? their_min : PR_PROTO_MIN;
	int hi = their_max < PR_PROTO_MAX ? their_max : PR_PROTO_MAX;

	if (their_min > their_max || lo > hi)
		return PR_EVERSION;
	*chosen = hi;
	return 0;
}

/* ---- framing ------------------------------------------------------------- */

void
pr_framer_init(struct pr_framer *f, size_t max_line)
{
	pr_buf_init(&f->tail, 0);
	f->max_line = max_line;
	f->skipping = false;
	f->strip_cr = false;
	f->lines = 0;
	f->offset = 0;
	f->consumed = 0;
}

void
pr_framer_release(struct pr_framer *f)
{
	pr_buf_release(&f->tail);
	f->skipping = false;
}

/* The most content bytes a line may hold. */
static size_t
line_cap(const struct pr_framer *f)
{
	return f->max_line != 0 ? f->max_line : SIZE_MAX - 1;
}

/* The most raw bytes before the LF: the cap plus a CR that will go. */
static size_t
raw_cap(const struct pr_framer *f)
{
	return line_cap(f) + (f->strip_cr ? 1 : 0);
}

/* Deliver a complete line; line[len] is writable and holds the NUL. */
static int
deliver(struct pr_framer *f, char *line, size_t len, pr_frame_cb cb,
    void *arg)
{
	int err = 0;

	if (f->strip_cr && len > 0 && line[len - 1] == '\r')
		line[--len] = '\0';
	if (len > line_cap(f)) {
		len = f->max_line;
		line[len] = '\0';
		err = PR_ETOOBIG;
	}
	f->lines++;
	return cb(arg, line, len, err);
}

/* Report the over-long line whose first max_line bytes are at line
 * (line[max_line] writable) and start skipping the rest of it. */
static int
deliver_big(struct pr_framer *f, char *line, pr_frame_cb cb, void *arg)
{
	line[f->max_line] = '\0';
	f->lines++;
	return cb(arg, line, f->max_line, PR_ETOOBIG);
}

int
pr_framer_feed(struct pr_framer *f, char *data, size_t n, pr_frame_cb cb,
    void *arg)
{
	char *p = data, *end = data + n, *lf;
	uint64_t base = f->consumed;
	size_t rawcap = raw_cap(f);
	int rc = 0;

	if (n == 0)
		return 0;
	if (f->skipping) {
		lf = memchr(p, '\n', n);
		if (lf == NULL) {
			p = end;
			goto out;
		}
		p = lf + 1;
		f->skipping = false;
		f->offset = base + (uint64_t)(p - data);
	}

	/* A line begun in an earlier feed: finish it in the tail. */
	if (f->tail.len > 0 && p < end) {
		size_t take;

		lf = memchr(p, '\n', (size_t)(end - p));
		take = (size_t)((lf != NULL ? lf : end) - p);
		/* (the cap may have been lowered since the tail began) */
		if (f->tail.len > rawcap || take > rawcap - f->tail.len) {
			if (f->tail.len < f->max_line) {
				rc = pr_buf_add(&f->tail, p,
				    f->max_line - f->tail.len);
				if (rc < 0)
					goto out;
			}
			rc = deliver_big(f, f->tail.data, cb, arg);
			pr_buf_reset(&f->tail);
			if (lf == NULL) {
				f->skipping = true;
				p = end;
				goto out;
			}
		} else {
			rc = pr_buf_add(&f->tail, p, take);
			if (rc < 0 || lf == NULL) {
				p = end;
				goto out;
			}
			rc = deliver(f, f->tail.data, f->tail.len, cb, arg);
			pr_buf_reset(&f->tail);
		}
		p = lf + 1;
		f->offset = base + (uint64_t)(p - data);
	}

	/* Lines wholly inside data: no copy. */
	while (rc == 0 && p < end) {
		size_t rem = (size_t)(end - p);

		lf = memchr(p, '\n', rem);
		if (lf == NULL) {
			if (rem > rawcap) {
				f->skipping = true;
				rc = deliver_big(f, p, cb, arg);
			} else {
				rc = pr_buf_add(&f->tail, p, rem);
			}
			p = end;
			break;
		}
		*lf = '\0';
		rc = deliver(f, p, (size_t)(lf - p), cb, arg);
		p = lf + 1;
		f->offset = base + (uint64_t)(p - data);
	}
out:
	f->consumed = base + (uint64_t)(p - data);
	return rc;
}

int
pr_framer_finish(struct pr_framer *f, bool deliver_tail, pr_frame_cb cb,
    void *arg)
{
	int rc;

	if (f->skipping) {
		f->skipping = false;
		f->offset = f->consumed;
		return 0;
	}
	if (f->tail.len == 0)
		return 0;
	if (!deliver_tail)
		return PR_ETORN;
	rc = deliver(f, f->tail.data, f->tail.len, cb, arg);
	pr_buf_reset(&f->tail);
	f->offset = f->consumed;
	return rc;
}

/* ---- parsing ------------------------------------------------------------- */

static bool
json_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* UTF-8 check with a fast path over ASCII, eight bytes at a time. */
static bool
utf8_ok(const char *s, size_t n, size_t *bad)
{
	size_t i = 0, off = 0;
	uint64_t w;

	for (; i + 8 <= n; i += 8) {
		memcpy(&w, s + i, 8);
		if ((w & 0x8080808080808080ull) != 0)
			break;
	}
	while (i < n && (unsigned char)s[i] < 0x80)
		i++;
	if (i == n || pr_utf8_valid(s + i, n - i, &off))
		return true;
	*bad = i + off;
	return false;
}

int
pr_msg_parse(const char *line, size_t len, cJSON **root,
    enum pr_msg_type *type, struct pr_errbuf *eb)
{
	const char *end = NULL, *nul, *q;
	const cJSON *t;
	cJSON *msg;
	size_t i = 0, bad = 0;

	*root = NULL;
	*type = PR_MSG_UNKNOWN;
	nul = memchr(line, '\0', len);
	if (nul != NULL)
		return pr_err(eb, PR_EPROTO, "column %zu: NUL byte",
		    (size_t)(nul - line) + 1);
	if (!utf8_ok(line, len, &bad))
		return pr_err(eb, PR_EPROTO, "column %zu: invalid UTF-8",
		    bad + 1);
	/* cJSON skips a byte order mark at the start; JSON has none */
	if (len >= 3 && memcmp(line, "\xef\xbb\xbf", 3) == 0)
		return pr_err(eb, PR_EPROTO, "column 1: byte order mark");
	while (i < len && json_ws(line[i]))
		i++;
	if (i == len)
		return pr_err(eb, PR_EPROTO, "column %zu: empty message",
		    i + 1);
	/* cJSON skips any byte <= 0x20 as whitespace; JSON does not */
	if ((unsigned char)line[i] < 0x20)
		return pr_err(eb, PR_EPROTO, "column %zu: invalid JSON",
		    i + 1);
	msg = cJSON_ParseWithLengthOpts(line, len, &end, 0);
	if (msg == NULL) {
		size_t col = 1;

		if (end != NULL && end >= line && end <= line + len)
			col = (size_t)(end - line) + 1;
		return pr_err(eb, PR_EPROTO, "column %zu: invalid JSON", col);
	}
	for (q = end; q < line + len; q++) {
		if (!json_ws(*q)) {
			cJSON_Delete(msg);
			return pr_err(eb, PR_EPROTO,
			    "column %zu: trailing data after the message",
			    (size_t)(q - line) + 1);
		}
	}
	if (!cJSON_IsObject(msg)) {
		cJSON_Delete(msg);
		return pr_err(eb, PR_EPROTO,
		    "column %zu: message is not an object", i + 1);
	}
	t = cJSON_GetObjectItemCaseSensitive(msg, "type");
	if (t == NULL) {
		cJSON_Delete(msg);
		return pr_err(eb, PR_EPROTO, "missing 'type'");
	}
	if (!cJSON_IsString(t)) {
		cJSON_Delete(msg);
		return pr_err(eb, PR_EPROTO, "'type' must be a string");
	}
	*type = type_from_name(t->valuestring);
	*root = msg;
	return 0;
}

/* ---- the writer ---------------------------------------------------------- */

struct writer {
	struct pr_buf *b;
	size_t mark;		/* where this message began */
	int rc;			/* first error, sticky */
};

static void
w_init(struct writer *w, struct pr_buf *b)
{
	w->b = b;
	w->mark = b->len;
	w->rc = 0;
}

static int
w_end(struct writer *w)
{
	if (w->rc < 0) {
		w->b->len = w->mark;
		if (w->b->data != NULL)
			w->b->data[w->mark] = '\0';
	}
	return w->rc;
}

static void
w_add(struct writer *w, const char *s, size_t n)
{
	if (w->rc == 0)
		w->rc = pr_buf_add(w->b, s, n);
}

/* A string literal (the "" makes anything else a compile error). */
#define W_LIT(w, s)	w_add((w), "" s, sizeof(s) - 1)

static void
w_u64(struct writer *w, uint64_t v)
{
	if (w->rc == 0)
		w->rc = pr_buf_add_u64(w->b, v);
}

static void
w_i64(struct writer *w, int64_t v)
{
	if (w->rc == 0)
		w->rc = pr_buf_add_i64(w->b, v);
}

static void
w_dbl(struct writer *w, double v)
{
	if (w->rc == 0)
		w->rc = pr_buf_add_double(w->b, v);
}

/*
 * A time in seconds, to the microsecond, by integer arithmetic (this runs
 * twice per result; snprintf and strtod cost a microsecond each).  The
 * whole seconds and the fraction are split exactly, so the text is within
 * half a microsecond of v; below 4e9 s (2096 for Unix time) a double read
 * back from the text lies within 0.25 us of it, so it writes the same
 * text again.  Other values (negative, huge, not finite) go to the
 * general writer.
 */
static void
w_time(struct writer *w, double v)
{
	char tmp[32], *p = tmp + sizeof(tmp);
	uint64_t ip, fp;
	double whole;
	int digits = 6;

	if (w->rc != 0)
		return;
	if (!(v >= 0 && v < 4e9)) {
		w_dbl(w, v);
		return;
	}
	whole = floor(v);
	ip = (uint64_t)whole;
	fp = (uint64_t)round((v - whole) * 1e6);
	if (fp == 1000000) {
		ip++;
		fp = 0;
	}
	if (fp != 0) {
		for (; fp % 10 == 0; fp /= 10)
			digits--;
		for (int i = 0; i < digits; i++, fp /= 10)
			*--p = (char)('0' + fp % 10);
		*--p = '.';
	}
	do {
		*--p = (char)('0' + ip % 10);
		ip /= 10;
	} while (ip != 0);
	w_add(w, p, (size_t)(tmp + sizeof(tmp) - p));
}

static void
w_bool(struct writer *w, bool v)
{
	if (v)
		W_LIT(w, "true");
	else
		W_LIT(w, "false");
}

/*
 * A C string as a JSON string.  Text from our own peers and the system
 * is UTF-8 nearly always; when it is not (a host name in Latin-1, say),
 * each bad byte becomes U+FFFD rather than breaking the line for jq.
 */
static void
w_text(struct writer *w, const char *s)
{
	struct pr_buf fixed;
	size_t n, bad = 0;

	if (w->rc != 0)
		return;
	if (s == NULL)
		s = "";
	n = strlen(s);
	if (utf8_ok(s, n, &bad)) {
		w->rc = pr_json_add_str(w->b, s, n);
		return;
	}
	/* the rare path may allocate */
	pr_buf_init(&fixed, 0);
	for (;;) {
		if ((w->rc = pr_buf_add(&fixed, s, bad)) < 0)
			goto out;
		if (bad == n)
			break;
		if ((w->rc = pr_buf_add(&fixed, "\xef\xbf\xbd", 3)) < 0)
			goto out;
		s += bad + 1;
		n -= bad + 1;
		if (utf8_ok(s, n, &bad))
			bad = n;
	}
	w->rc = pr_json_add_str(w->b, fixed.data, fixed.len);
out:
	pr_buf_release(&fixed);
}

/* A 64-bit seed: a number while JSON doubles hold it exactly, else a
 * decimal string. */
static void
w_seed(struct writer *w, uint64_t v)
{
	if (v <= PR_SEQ_MAX) {
		w_u64(w, v);
		return;
	}
	W_LIT(w, "\"");
	w_u64(w, v);
	W_LIT(w, "\"");
}

static void
w_bytes(struct writer *w, const char *name, const char *s, size_t n)
{
	if (w->rc == 0)
		w->rc = pr_json_add_bytes(w->b, name, s == NULL ? "" : s, n);
}

/* A parsed JSON value, compactly (never cJSON_Print on peer data). */
static void
w_json(struct writer *w, const cJSON *it, int depth)
{
	const cJSON *c;

	if (w->rc != 0)
		return;
	if (depth > JSON_DEPTH_MAX) {
		w->rc = PR_ELIMIT;
		return;
	}
	switch (it->type & 0xff) {
	case cJSON_False:
		W_LIT(w, "false");
		break;
	case cJSON_True:
		W_LIT(w, "true");
		break;
	case cJSON_NULL:
		W_LIT(w, "null");
		break;
	case cJSON_Number:
		w_dbl(w, it->valuedouble);
		break;
	case cJSON_String:
		w_text(w, it->valuestring);
		break;
	case cJSON_Array:
		W_LIT(w, "[");
		for (c = it->child; c != NULL; c = c->next) {
			if (c != it->child)
				W_LIT(w, ",");
			w_json(w, c, depth + 1);
		}
		W_LIT(w, "]");
		break;
	case cJSON_Object:
		W_LIT(w, "{");
		for (c = it->child; c != NULL; c = c->next) {
			if (c != it->child)
				W_LIT(w, ",");
			w_text(w, c->string);
			W_LIT(w, ":");
			w_json(w, c, depth + 1);
		}
		W_LIT(w, "}");
		break;
	default:
		w->rc = -EINVAL;
	}
}

/* ---- decoding helpers ---------------------------------------------------- */

/*
 * An integral number in [lo, hi] (both within +-2^53, so exact as
 * doubles).  Absent: 1 when optional (*out untouched), else an error.
 * what completes "field 'x' must be ...".
 */
static int
get_int(const cJSON *o, const char *name, int64_t lo, int64_t hi,
    const char *what, bool optional, int64_t *out, struct pr_errbuf *eb)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, name);
	double d;

	if (it == NULL) {
		if (optional)
			return 1;
		return pr_err(eb, PR_EPROTO, "missing field '%s'", name);
	}
	if (!cJSON_IsNumber(it))
		goto bad;
	d = it->valuedouble;
	if (!(d >= (double)lo && d <= (double)hi) || d != floor(d))
		goto bad;
	*out = (int64_t)d;
	return 0;
bad:
	return pr_err(eb, PR_EPROTO, "field '%s' must be %s", name, what);
}

static int
get_seq(const cJSON *o, uint64_t *seq, struct pr_errbuf *eb)
{
	int64_t v;
	int rc;

	rc = get_int(o, "seq", 1, (int64_t)PR_SEQ_MAX, "a positive integer",
	    false, &v, eb);
	if (rc == 0)
		*seq = (uint64_t)v;
	return rc;
}

static int
get_attempt(const cJSON *o, int *attempt, struct pr_errbuf *eb)
{
	int64_t v;
	int rc;

	rc = get_int(o, "attempt", 1, INT_MAX, "a positive integer", false,
	    &v, eb);
	if (rc == 0)
		*attempt = (int)v;
	return rc;
}

/* An int-sized field: 0, or an error (absent optional fields: 1). */
static int
get_i(const cJSON *o, const char *name, int lo, int hi, const char *what,
    bool optional, int *out, struct pr_errbuf *eb)
{
	int64_t v;
	int rc;

	rc = get_int(o, name, lo, hi, what, optional, &v, eb);
	if (rc == 0)
		*out = (int)v;
	return rc;
}

/* A finite number >= 0. */
static int
get_time(const cJSON *o, const char *name, double *out, struct pr_errbuf *eb)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, name);

	if (it == NULL)
		return pr_err(eb, PR_EPROTO, "missing field '%s'", name);
	if (!cJSON_IsNumber(it) || !isfinite(it->valuedouble) ||
	    it->valuedouble < 0)
		return pr_err(eb, PR_EPROTO,
		    "field '%s' must be a non-negative number", name);
	*out = it->valuedouble;
	return 0;
}

/* A string; absent optional fields give NULL. */
static int
get_str(const cJSON *o, const char *name, bool optional, const char **out,
    struct pr_errbuf *eb)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, name);

	*out = NULL;
	if (it == NULL) {
		if (optional)
			return 0;
		return pr_err(eb, PR_EPROTO, "missing field '%s'", name);
	}
	if (!cJSON_IsString(it))
		return pr_err(eb, PR_EPROTO, "field '%s' must be a string",
		    name);
	*out = it->valuestring;
	return 0;
}

/* A seed: a number 0..2^53-1 or a decimal string up to 2^64-1. */
static int
get_seed(const cJSON *o, const char *name, bool optional, bool *has,
    uint64_t *out, struct pr_errbuf *eb)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, name);
	const char *s;
	uint64_t v = 0;

	*has = false;
	if (it == NULL) {
		if (optional)
			return 0;
		return pr_err(eb, PR_EPROTO, "missing field '%s'", name);
	}
	if (cJSON_IsNumber(it)) {
		double d = it->valuedouble;

		if (!(d >= 0 && d <= (double)PR_SEQ_MAX) || d != floor(d))
			goto bad;
		v = (uint64_t)d;
	} else if (cJSON_IsString(it)) {
		s = it->valuestring;
		if (*s == '\0')
			goto bad;
		for (; *s != '\0'; s++) {
			unsigned dig = (unsigned)(*s - '0');

			if (*s < '0' || *s > '9' ||
			    v > (UINT64_MAX - dig) / 10)
				goto bad;
			v = v * 10 + dig;
		}
	} else {
		goto bad;
	}
	*has = true;
	*out = v;
	return 0;
bad:
	return pr_err(eb, PR_EPROTO,
	    "field '%s' must be an integer in 0..18446744073709551615", name);
}

/* "proto":[min,max] with 1 <= min <= max. */
static int
get_range(const cJSON *o, int *min, int *max, struct pr_errbuf *eb)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, "proto");
	const cJSON *a, *b;

	if (it == NULL)
		return pr_err(eb, PR_EPROTO, "missing field 'proto'");
	if (!cJSON_IsArray(it))
		goto bad;
	a = it->child;
	b = a != NULL ? a->next : NULL;
	if (a == NULL || b == NULL || b->next != NULL ||
	    !cJSON_IsNumber(a) || !cJSON_IsNumber(b))
		goto bad;
	if (!(a->valuedouble >= 1 && a->valuedouble <= INT_MAX) ||
	    !(b->valuedouble >= 1 && b->valuedouble <= INT_MAX) ||
	    a->valuedouble != floor(a->valuedouble) ||
	    b->valuedouble != floor(b->valuedouble) ||
	    a->valuedouble > b->valuedouble)
		goto bad;
	*min = (int)a->valuedouble;
	*max = (int)b->valuedouble;
	return 0;
bad:
	return pr_err(eb, PR_EPROTO,
	    "field 'proto' must be [min,max] with 1 <= min <= max");
}

static int
need_object(const cJSON *o, const char *what, struct pr_errbuf *eb)
{
	if (!cJSON_IsObject(o))
		return pr_err(eb, PR_EPROTO, "%s is not an object", what);
	return 0;
}

/*
 * Append the bytes of name / name_b64 (b64name) to out, at most max of
 * them (0: any).  Like pr_json_get_bytes(), without building the _b64
 * name each time: this runs for every result.
 */
static int
get_bytes(const cJSON *o, const char *name, const char *b64name,
    bool optional, size_t max, struct pr_buf *out, struct pr_errbuf *eb)
{
	const cJSON *it;
	size_t mark = out->len;
	int rc = 0;

	if ((it = cJSON_GetObjectItemCaseSensitive(o, name)) != NULL) {
		rc = cJSON_IsString(it) ? pr_buf_adds(out, it->valuestring) :
		    PR_EPROTO;
	} else if ((it = cJSON_GetObjectItemCaseSensitive(o, b64name)) !=
	    NULL) {
		rc = cJSON_IsString(it) ? pr_b64_decode(out, it->valuestring,
		    strlen(it->valuestring)) : PR_EPROTO;
	} else if (!optional) {
		return pr_err(eb, PR_EPROTO, "missing field '%s' or '%s'",
		    name, b64name);
	}
	if (rc == PR_EPROTO) {
		rc = pr_err(eb, PR_EPROTO,
		    "field '%s' must be a string, or '%s_b64' base64", name,
		    name);
		goto fail;
	}
	if (rc < 0) {
		rc = pr_err(eb, rc, "cannot store field '%s': %s", name,
		    pr_strerror(rc));
		goto fail;
	}
	if (max > 0 && out->len - mark > max) {
		rc = pr_err(eb, PR_EPROTO,
		    "field '%s' holds more than %zu bytes", name, max);
		goto fail;
	}
	return 0;
fail:
	out->len = mark;
	if (out->data != NULL)
		out->data[mark] = '\0';
	return rc;
}

/* ---- handshake ----------------------------------------------------------- */

int
pr_msg_hello(struct pr_buf *b, const struct pr_hello *h)
{
	struct writer w;
	const cJSON *c;
	size_t i;

	w_init(&w, b);
	W_LIT(&w, "{\"type\":\"hello\",\"proto\":[");
	w_i64(&w, h->proto_min);
	W_LIT(&w, ",");
	w_i64(&w, h->proto_max);
	W_LIT(&w, "],\"version\":");
	w_text(&w, h->version);
	W_LIT(&w, ",\"host\":");
	w_text(&w, h->host);
	W_LIT(&w, ",\"pid\":");
	w_i64(&w, h->pid);
	W_LIT(&w, ",\"cpus\":");
	w_i64(&w, h->cpus);
	W_LIT(&w, ",\"slots\":");
	w_i64(&w, h->slots);
	W_LIT(&w, ",\"kernels\":[");
	if (h->kernels != NULL) {
		for (i = 0; i < h->nkernels; i++) {
			if (i > 0)
				W_LIT(&w, ",");
			w_text(&w, h->kernels[i]);
		}
	} else if (h->kernel_list != NULL) {
		for (c = h->kernel_list->child; c != NULL; c = c->next) {
			if (c != h->kernel_list->child)
				W_LIT(&w, ",");
			w_text(&w, c->valuestring);
		}
	}
	W_LIT(&w, "]}\n");
	return w_end(&w);
}

int
pr_hello_decode(const cJSON *msg, struct pr_hello *h, struct pr_errbuf *eb)
{
	const cJSON *k, *c;
	int rc;

	memset(h, 0, sizeof(*h));
	if ((rc = need_object(msg, "hello", eb)) < 0 ||
	    (rc = get_range(msg, &h->proto_min, &h->proto_max, eb)) < 0 ||
	    (rc = get_str(msg, "version", false, &h->version, eb)) < 0 ||
	    (rc = get_str(msg, "host", false, &h->host, eb)) < 0)
		return rc;
	{
		int64_t pid;

		rc = get_int(msg, "pid", 1, INT_MAX, "a positive integer",
		    false, &pid, eb);
		if (rc < 0)
			return rc;
		h->pid = (long)pid;
	}
	if ((rc = get_i(msg, "cpus", 1, PR_MAX_SLOTS,
	    "an integer in 1..65536", false, &h->cpus, eb)) < 0 ||
	    (rc = get_i(msg, "slots", 1, PR_MAX_SLOTS,
	    "an integer in 1..65536", false, &h->slots, eb)) < 0)
		return rc;
	k = cJSON_GetObjectItemCaseSensitive(msg, "kernels");
	if (k != NULL) {
		if (!cJSON_IsArray(k))
			goto badk;
		for (c = k->child; c != NULL; c = c->next)
			if (!cJSON_IsString(c))
				goto badk;
		h->kernel_list = k;
	}
	return 0;
badk:
	return pr_err(eb, PR_EPROTO,
	    "field 'kernels' must be an array of strings");
}

bool
pr_hello_has_kernel(const struct pr_hello *h, const char *name)
{
	const cJSON *c;
	size_t i;

	if (h->kernels != NULL) {
		for (i = 0; i < h->nkernels; i++)
			if (h->kernels[i] != NULL &&
			    strcmp(h->kernels[i], name) == 0)
				return true;
		return false;
	}
	if (h->kernel_list == NULL)
		return false;
	for (c = h->kernel_list->child; c != NULL; c = c->next)
		if (cJSON_IsString(c) && strcmp(c->valuestring, name) == 0)
			return true;
	return false;
}

int
pr_msg_welcome(struct pr_buf *b, const struct pr_welcome *wl)
{
	struct writer w;

	w_init(&w, b);
	W_LIT(&w, "{\"type\":\"welcome\",\"proto\":");
	w_i64(&w, wl->proto);
	W_LIT(&w, ",\"worker\":");
	w_i64(&w, wl->worker);
	W_LIT(&w, ",\"hb_ms\":");
	w_i64(&w, wl->hb_ms);
	W_LIT(&w, ",\"max_frame\":");
	w_u64(&w, wl->max_frame);
	W_LIT(&w, ",\"seed\":");
	w_seed(&w, wl->seed);
	W_LIT(&w, ",\"threads\":");
	w_i64(&w, wl->threads);
	W_LIT(&w, ",\"stream_output\":");
	w_bool(&w, wl->stream_output);
	W_LIT(&w, ",\"session\":");
	w_text(&w, wl->session);
	if (w.rc == 0 && (wl->timeout_ms < 0 ||
	    (uint64_t)wl->timeout_ms > PR_SEQ_MAX))
		w.rc = -EINVAL;
	if (wl->timeout_ms > 0) {
		W_LIT(&w, ",\"timeout_ms\":");
		w_i64(&w, wl->timeout_ms);
	}
	W_LIT(&w, "}\n");
	return w_end(&w);
}

int
pr_welcome_decode(const cJSON *msg, struct pr_welcome *w,
    struct pr_errbuf *eb)
{
	const cJSON *so;
	int64_t frame;
	bool has;
	int rc;

	memset(w, 0, sizeof(*w));
	if ((rc = need_object(msg, "welcome", eb)) < 0 ||
	    (rc = get_i(msg, "proto", 1, INT_MAX, "a positive integer",
	    false, &w->proto, eb)) < 0 ||
	    (rc = get_i(msg, "worker", 1, INT_MAX, "a positive integer",
	    false, &w->worker, eb)) < 0 ||
	    (rc = get_i(msg, "hb_ms", 0, HB_MS_MAX,
	    "an integer in 0..86400000", false, &w->hb_ms, eb)) < 0 ||
	    (rc = get_int(msg, "max_frame", PR_PREAUTH_FRAME, FRAME_MAX,
	    "an integer in 4096..1073741824", false, &frame, eb)) < 0 ||
	    (rc = get_seed(msg, "seed", false, &has, &w->seed, eb)) < 0 ||
	    (rc = get_i(msg, "threads", 0, PR_MAX_SLOTS,
	    "an integer in 0..65536", false, &w->threads, eb)) < 0 ||
	    (rc = get_str(msg, "session", false, &w->session, eb)) < 0)
		return rc;
	/* optional (absent in older coordinators' lines): 0 */
	rc = get_int(msg, "timeout_ms", 0, (int64_t)PR_SEQ_MAX,
	    "a non-negative integer", true, &w->timeout_ms, eb);
	if (rc < 0)
		return rc;
	w->max_frame = (size_t)frame;
	so = cJSON_GetObjectItemCaseSensitive(msg, "stream_output");
	if (so == NULL)
		return pr_err(eb, PR_EPROTO, "missing field 'stream_output'");
	if (!cJSON_IsBool(so))
		return pr_err(eb, PR_EPROTO,
		    "field 'stream_output' must be true or false");
	w->stream_output = cJSON_IsTrue(so);
	return 0;
}

int
pr_msg_reject(struct pr_buf *b, const char *reason, int min, int max)
{
	struct writer w;

	w_init(&w, b);
	W_LIT(&w, "{\"type\":\"reject\",\"reason\":");
	w_text(&w, reason);
	W_LIT(&w, ",\"proto\":[");
	w_i64(&w, min);
	W_LIT(&w, ",");
	w_i64(&w, max);
	W_LIT(&w, "]}\n");
	return w_end(&w);
}

int
pr_reject_decode(const cJSON *msg, const char **reason, int *min, int *max,
    struct pr_errbuf *eb)
{
	int rc;

	if ((rc = need_object(msg, "reject", eb)) < 0 ||
	    (rc = get_str(msg, "reason", false, reason, eb)) < 0)
		return rc;
	return get_range(msg, min, max, eb);
}

/* ---- tasks --------------------------------------------------------------- */

static void
w_task_head(struct writer *w, const struct pr_task_ref *t)
{
	W_LIT(w, "\"seq\":");
	w_u64(w, t->seq);
	W_LIT(w, ",\"attempt\":");
	w_i64(w, t->attempt);
	if (t->bodylen > 0) {
		W_LIT(w, ",");
		w_add(w, t->body, t->bodylen);
	}
}

/* Decimal digits of v at p (room made by the caller); the end. */
static char *
put_u64(char *p, uint64_t v)
{
	char tmp[20];
	int n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	while (n > 0)
		*p++ = tmp[--n];
	return p;
}

static char *
put_lit(char *p, const char *s, size_t n)
{
	memcpy(p, s, n);
	return p + n;
}

#define PUT_LIT(p, s)	put_lit((p), "" s, sizeof(s) - 1)

/*
 * The same bytes as the writer below, with the room made once and the
 * pieces stored directly: this runs for every task sent.  64 bytes a
 * task hold its braces, commas, seq and attempt.
 */
static int
tasks_direct(struct pr_buf *b, const struct pr_task_ref *t, size_t n)
{
	size_t need = 32, i;
	char *p;

	for (i = 0; i < n; i++) {
		if (t[i].bodylen > SIZE_MAX / 4 || need > SIZE_MAX / 4)
			return -ENOMEM;
		need += t[i].bodylen + 64;
	}
	if (pr_buf_grow(b, need) < 0)
		return -ENOMEM;
	p = b->data + b->len;
	p = n == 1 ? PUT_LIT(p, "{\"type\":\"task\",") :
	    PUT_LIT(p, "{\"type\":\"tasks\",\"tasks\":[");
	for (i = 0; i < n; i++) {
		if (n > 1)
			p = i > 0 ? PUT_LIT(p, ",{") : PUT_LIT(p, "{");
		p = PUT_LIT(p, "\"seq\":");
		p = put_u64(p, t[i].seq);
		p = PUT_LIT(p, ",\"attempt\":");
		if (t[i].attempt < 0) {
			*p++ = '-';
			p = put_u64(p, -(uint64_t)(int64_t)t[i].attempt);
		} else {
			p = put_u64(p, (uint64_t)t[i].attempt);
		}
		if (t[i].bodylen > 0) {
			*p++ = ',';
			p = put_lit(p, t[i].body, t[i].bodylen);
		}
		*p++ = '}';
	}
	p = n == 1 ? PUT_LIT(p, "\n") : PUT_LIT(p, "]}\n");
	b->len = (size_t)(p - b->data);
	b->data[b->len] = '\0';
	return 0;
}

int
pr_msg_tasks(struct pr_buf *b, const struct pr_task_ref *t, size_t n)
{
	struct writer w;
	size_t i;

	if (n == 0)
		return -EINVAL;
	/* the buffer's cap may refuse the estimate: then piece by piece */
	if (tasks_direct(b, t, n) == 0)
		return 0;
	w_init(&w, b);
	if (n == 1) {
		W_LIT(&w, "{\"type\":\"task\",");
		w_task_head(&w, t);
		W_LIT(&w, "}\n");
		return w_end(&w);
	}
	W_LIT(&w, "{\"type\":\"tasks\",\"tasks\":[");
	for (i = 0; i < n; i++) {
		if (i > 0)
			W_LIT(&w, ",");
		W_LIT(&w, "{");
		w_task_head(&w, &t[i]);
		W_LIT(&w, "}");
	}
	W_LIT(&w, "]}\n");
	return w_end(&w);
}

static int
check_argv(const cJSON *a, struct pr_errbuf *eb)
{
	const cJSON *c;

	if (!cJSON_IsArray(a) || a->child == NULL)
		goto bad;
	for (c = a->child; c != NULL; c = c->next)
		if (!cJSON_IsString(c))
			goto bad;
	return 0;
bad:
	return pr_err(eb, PR_EPROTO,
	    "field 'argv' must be a non-empty array of strings");
}

static int
check_env(const cJSON *e, struct pr_errbuf *eb)
{
	const cJSON *c;

	if (!cJSON_IsObject(e))
		goto bad;
	for (c = e->child; c != NULL; c = c->next)
		if (!cJSON_IsString(c) || c->string == NULL ||
		    c->string[0] == '\0' || strchr(c->string, '=') != NULL)
			goto bad;
	return 0;
bad:
	return pr_err(eb, PR_EPROTO,
	    "field 'env' must be an object of strings (names without '=')");
}

int
pr_task_decode(const cJSON *obj, struct pr_task_msg *t, struct pr_errbuf *eb)
{
	const cJSON *argv, *sh, *kernel, *it;
	int kinds, rc;

	memset(t, 0, sizeof(*t));
	if ((rc = need_object(obj, "task", eb)) < 0 ||
	    (rc = get_seq(obj, &t->seq, eb)) < 0 ||
	    (rc = get_attempt(obj, &t->attempt, eb)) < 0 ||
	    (rc = get_str(obj, "id", true, &t->id, eb)) < 0)
		return rc;

	argv = cJSON_GetObjectItemCaseSensitive(obj, "argv");
	sh = cJSON_GetObjectItemCaseSensitive(obj, "sh");
	kernel = cJSON_GetObjectItemCaseSensitive(obj, "kernel");
	kinds = (argv != NULL) + (sh != NULL) + (kernel != NULL);
	if (kinds == 0)
		return pr_err(eb, PR_EPROTO,
		    "task needs one of 'argv', 'sh' or 'kernel'");
	if (kinds > 1)
		return pr_err(eb, PR_EPROTO,
		    "task has more than one of 'argv', 'sh' and 'kernel'");
	if (argv != NULL) {
		if ((rc = check_argv(argv, eb)) < 0)
			return rc;
		t->kind = PR_KIND_ARGV;
		t->argv = argv;
	} else if (sh != NULL) {
		if ((rc = get_str(obj, "sh", false, &t->sh, eb)) < 0)
			return rc;
		t->kind = PR_KIND_SH;
	} else {
		if ((rc = get_str(obj, "kernel", false, &t->kernel, eb)) < 0)
			return rc;
		t->kind = PR_KIND_KERNEL;
	}
	it = cJSON_GetObjectItemCaseSensitive(obj, "params");
	if (it != NULL) {
		if (!cJSON_IsObject(it))
			return pr_err(eb, PR_EPROTO,
			    "field 'params' must be an object");
		if (t->kind == PR_KIND_KERNEL)
			t->params = it;
	}
	it = cJSON_GetObjectItemCaseSensitive(obj, "env");
	if (it != NULL) {
		if ((rc = check_env(it, eb)) < 0)
			return rc;
		t->env = it;
	}
	if ((rc = get_str(obj, "cwd", true, &t->cwd, eb)) < 0)
		return rc;
	rc = get_int(obj, "timeout_ms", 0, (int64_t)PR_SEQ_MAX,
	    "a non-negative integer", true, &t->timeout_ms, eb);
	if (rc < 0)
		return rc;
	if ((rc = get_seed(obj, "seed", true, &t->has_seed, &t->seed,
	    eb)) < 0)
		return rc;
	rc = get_i(obj, "threads", 0, PR_MAX_SLOTS, "an integer in 0..65536",
	    true, &t->threads, eb);
	return rc < 0 ? rc : 0;
}

int
pr_task_body_encode(struct pr_buf *b, const struct pr_task_msg *t)
{
	struct writer w;
	bool first = true;

	w_init(&w, b);
	if (t->id != NULL) {
		W_LIT(&w, "\"id\":");
		w_text(&w, t->id);
		first = false;
	}
	if (!first)
		W_LIT(&w, ",");
	switch (t->kind) {
	case PR_KIND_ARGV:
		W_LIT(&w, "\"argv\":");
		if (t->argv != NULL)
			w_json(&w, t->argv, 0);
		else
			w.rc = -EINVAL;
		break;
	case PR_KIND_SH:
		W_LIT(&w, "\"sh\":");
		w_text(&w, t->sh);
		break;
	case PR_KIND_KERNEL:
		W_LIT(&w, "\"kernel\":");
		w_text(&w, t->kernel);
		if (t->params != NULL) {
			W_LIT(&w, ",\"params\":");
			w_json(&w, t->params, 0);
		}
		break;
	default:
		w.rc = -EINVAL;
	}
	if (t->env != NULL) {
		W_LIT(&w, ",\"env\":");
		w_json(&w, t->env, 0);
	}
	if (t->cwd != NULL) {
		W_LIT(&w, ",\"cwd\":");
		w_text(&w, t->cwd);
	}
	if (t->timeout_ms > 0) {
		W_LIT(&w, ",\"timeout_ms\":");
		w_i64(&w, t->timeout_ms);
	}
	if (t->has_seed) {
		W_LIT(&w, ",\"seed\":");
		w_seed(&w, t->seed);
	}
	if (t->threads > 0) {
		W_LIT(&w, ",\"threads\":");
		w_i64(&w, t->threads);
	}
	return w_end(&w);
}

int
pr_batch_decode(const cJSON *msg, enum pr_msg_type type,
    const cJSON **first, size_t *n, struct pr_errbuf *eb)
{
	const char *name;
	const cJSON *a;
	int len;

	*first = NULL;
	*n = 0;
	switch (type) {
	case PR_MSG_TASK:
	case PR_MSG_RESULT:
		*first = msg;
		*n = 1;
		return 0;
	case PR_MSG_TASKS:
		name = "tasks";
		break;
	case PR_MSG_RESULTS:
		name = "results";
		break;
	default:
		return pr_err(eb, PR_EPROTO, "'%s' is not a batch",
		    pr_msg_type_name(type));
	}
	a = cJSON_GetObjectItemCaseSensitive(msg, name);
	if (a == NULL)
		return pr_err(eb, PR_EPROTO, "missing field '%s'", name);
	if (!cJSON_IsArray(a) || a->child == NULL)
		return pr_err(eb, PR_EPROTO,
		    "field '%s' must be a non-empty array", name);
	len = cJSON_GetArraySize(a);
	*first = a->child;
	*n = (size_t)len;
	return 0;
}

int
pr_msg_cancel(struct pr_buf *b, uint64_t seq, int attempt, int grace_ms)
{
	struct writer w;

	w_init(&w, b);
	W_LIT(&w, "{\"type\":\"cancel\",\"seq\":");
	w_u64(&w, seq);
	W_LIT(&w, ",\"attempt\":");
	w_i64(&w, attempt);
	W_LIT(&w, ",\"grace_ms\":");
	w_i64(&w, grace_ms);
	W_LIT(&w, "}\n");
	return w_end(&w);
}

int
pr_cancel_decode(const cJSON *msg, uint64_t *seq, int *attempt,
    int *grace_ms, struct pr_errbuf *eb)
{
	int rc;

	if ((rc = need_object(msg, "cancel", eb)) < 0 ||
	    (rc = get_seq(msg, seq, eb)) < 0 ||
	    (rc = get_attempt(msg, attempt, eb)) < 0)
		return rc;
	return get_i(msg, "grace_ms", 0, INT_MAX, "a non-negative integer",
	    false, grace_ms, eb);
}

int
pr_msg_broadcast(struct pr_buf *b, const void *data, size_t len)
{
	struct writer w;

	w_init(&w, b);
	W_LIT(&w, "{\"type\":\"broadcast\",");
	w_bytes(&w, "data", data, len);
	W_LIT(&w, "}\n");
	return w_end(&w);
}

int
pr_broadcast_decode(const cJSON *msg, struct pr_buf *out,
    struct pr_errbuf *eb)
{
	int rc;

	if ((rc = need_object(msg, "broadcast", eb)) < 0)
		return rc;
	return get_bytes(msg, "data", "data_b64", false, 0, out, eb);
}

/* ---- progress and results ------------------------------------------------ */

int
pr_msg_started(struct pr_buf *b, uint64_t seq, int attempt, long pid)
{
	struct writer w;

	w_init(&w, b);
	W_LIT(&w, "{\"type\":\"started\",\"seq\":");
	w_u64(&w, seq);
	W_LIT(&w, ",\"attempt\":");
	w_i64(&w, attempt);
	W_LIT(&w, ",\"pid\":");
	w_i64(&w, pid);
	W_LIT(&w, "}\n");
	return w_end(&w);
}

int
pr_started_decode(const cJSON *msg, uint64_t *seq, int *attempt, long *pid,
    struct pr_errbuf *eb)
{
	int64_t v;
	int rc;

	if ((rc = need_object(msg, "started", eb)) < 0 ||
	    (rc = get_seq(msg, seq, eb)) < 0 ||
	    (rc = get_attempt(msg, attempt, eb)) < 0 ||
	    (rc = get_int(msg, "pid", 1, INT_MAX, "a positive integer",
	    false, &v, eb)) < 0)
		return rc;
	*pid = (long)v;
	return 0;
}

int
pr_msg_output(struct pr_buf *b, uint64_t seq, int attempt, int stream,
    const char *data, size_t len)
{
	struct writer w;

	if ((stream != 1 && stream != 2) || len > PR_OUTPUT_CHUNK)
		return -EINVAL;
	w_init(&w, b);
	W_LIT(&w, "{\"type\":\"output\",\"seq\":");
	w_u64(&w, seq);
	W_LIT(&w, ",\"attempt\":");
	w_i64(&w, attempt);
	W_LIT(&w, ",\"stream\":");
	w_i64(&w, stream);
	W_LIT(&w, ",");
	w_bytes(&w, "data", data, len);
	W_LIT(&w, "}\n");
	return w_end(&w);
}

int
pr_output_decode(const cJSON *msg, uint64_t *seq, int *attempt, int *stream,
    struct pr_buf *out, struct pr_errbuf *eb)
{
	int rc;

	if ((rc = need_object(msg, "output", eb)) < 0 ||
	    (rc = get_seq(msg, seq, eb)) < 0 ||
	    (rc = get_attempt(msg, attempt, eb)) < 0 ||
	    (rc = get_i(msg, "stream", 1, 2, "1 or 2", false, stream,
	    eb)) < 0)
		return rc;
	return get_bytes(msg, "data", "data_b64", false, PR_OUTPUT_CHUNK, out,
	    eb);
}

static void
w_result_fields(struct writer *w, const struct pr_result_msg *r)
{
	W_LIT(w, "\"seq\":");
	w_u64(w, r->seq);
	W_LIT(w, ",\"attempt\":");
	w_i64(w, r->attempt);
	W_LIT(w, ",\"status\":\"");
	w_add(w, pr_status_name(r->status), strlen(pr_status_name(r->status)));
	W_LIT(w, "\"");
	if (r->exit != -1) {
		W_LIT(w, ",\"exit\":");
		w_i64(w, r->exit);
	}
	if (r->signal != 0) {
		W_LIT(w, ",\"signal\":");
		w_i64(w, r->signal);
	}
	W_LIT(w, ",\"start\":");
	w_time(w, r->start);
	W_LIT(w, ",\"elapsed\":");
	w_time(w, r->elapsed);
	if (r->has_value) {
		W_LIT(w, ",\"value\":");
		w_dbl(w, r->value);
	}
	if (r->error != NULL) {
		W_LIT(w, ",\"error\":");
		w_text(w, r->error);
	}
	if (r->outlen > 0) {
		W_LIT(w, ",");
		w_bytes(w, "stdout", r->out, r->outlen);
	}
	if (r->errlen > 0) {
		W_LIT(w, ",");
		w_bytes(w, "stderr", r->err, r->errlen);
	}
	if (r->extra != NULL) {
		W_LIT(w, ",\"extra\":{");
		w_add(w, r->extra, strlen(r->extra));
		W_LIT(w, "}");
	} else if (r->extra_json != NULL) {
		W_LIT(w, ",\"extra\":");
		w_json(w, r->extra_json, 0);
	}
}

int
pr_msg_result(struct pr_buf *b, const struct pr_result_msg *r)
{
	struct writer w;

	w_init(&w, b);
	W_LIT(&w, "{\"type\":\"result\",");
	w_result_fields(&w, r);
	W_LIT(&w, "}\n");
	return w_end(&w);
}

int
pr_msg_results_open(struct pr_buf *b)
{
	static const char head[] = "{\"type\":\"results\",\"results\":[";

	return pr_buf_add(b, head, sizeof(head) - 1);
}

int
pr_msg_results_add(struct pr_buf *b, size_t n, const struct pr_result_msg *r)
{
	struct writer w;

	w_init(&w, b);
	if (n > 0)
		W_LIT(&w, ",{");
	else
		W_LIT(&w, "{");
	w_result_fields(&w, r);
	W_LIT(&w, "}");
	return w_end(&w);
}

int
pr_msg_results_close(struct pr_buf *b)
{
	return pr_buf_add(b, "]}\n", 3);
}

static void
cut(struct pr_buf *b, size_t mark)
{
	if (b != NULL && b->len > mark) {
		b->len = mark;
		b->data[mark] = '\0';
	}
}

int
pr_result_decode(const cJSON *obj, struct pr_result_msg *r,
    struct pr_buf *out, struct pr_buf *err, struct pr_errbuf *eb)
{
	const cJSON *it;
	size_t omark = out != NULL ? out->len : 0, oend = omark, emark = 0;
	const char *st;
	int rc;

	memset(r, 0, sizeof(*r));
	r->exit = -1;
	if ((rc = need_object(obj, "result", eb)) < 0 ||
	    (rc = get_seq(obj, &r->seq, eb)) < 0 ||
	    (rc = get_attempt(obj, &r->attempt, eb)) < 0 ||
	    (rc = get_str(obj, "status", false, &st, eb)) < 0)
		return rc;
	if (pr_status_parse(st, &r->status) < 0 || r->status == PR_ST_LOST ||
	    r->status == PR_ST_REJECTED)
		return pr_err(eb, PR_EPROTO, "field 'status' must be one of "
		    "ok, failed, timeout, cancelled, error");
	if ((rc = get_i(obj, "exit", 0, 255, "an integer in 0..255", true,
	    &r->exit, eb)) < 0 ||
	    (rc = get_i(obj, "signal", 0, 255, "an integer in 0..255", true,
	    &r->signal, eb)) < 0 ||
	    (rc = get_time(obj, "start", &r->start, eb)) < 0 ||
	    (rc = get_time(obj, "elapsed", &r->elapsed, eb)) < 0 ||
	    (rc = get_str(obj, "error", true, &r->error, eb)) < 0)
		return rc;
	it = cJSON_GetObjectItemCaseSensitive(obj, "value");
	if (it != NULL) {
		if (cJSON_IsNumber(it))
			r->value = it->valuedouble;
		else if (cJSON_IsNull(it))
			r->value = NAN;	/* the kernel's NaN or infinity */
		else
			return pr_err(eb, PR_EPROTO,
			    "field 'value' must be a number or null");
		r->has_value = true;
	}
	it = cJSON_GetObjectItemCaseSensitive(obj, "extra");
	if (it != NULL) {
		if (!cJSON_IsObject(it))
			return pr_err(eb, PR_EPROTO,
			    "field 'extra' must be an object");
		r->extra_json = it;
	}
	if (out != NULL) {
		if ((rc = get_bytes(obj, "stdout", "stdout_b64", true, 0, out,
		    eb)) < 0)
			return rc;
		oend = out->len;
	} else if ((it = cJSON_GetObjectItemCaseSensitive(obj, "stdout")) !=
	    NULL && !cJSON_IsString(it)) {
		return pr_err(eb, PR_EPROTO, "field 'stdout' must be a string");
	}
	if (err != NULL) {
		emark = err->len;
		if ((rc = get_bytes(obj, "stderr", "stderr_b64", true, 0, err,
		    eb)) < 0) {
			cut(out, omark);
			return rc;
		}
	} else if ((it = cJSON_GetObjectItemCaseSensitive(obj, "stderr")) !=
	    NULL && !cJSON_IsString(it)) {
		cut(out, omark);
		return pr_err(eb, PR_EPROTO, "field 'stderr' must be a string");
	}
	/* pointers last: out and err may be the same buffer */
	if (oend > omark) {
		r->out = out->data + omark;
		r->outlen = oend - omark;
	}
	if (err != NULL && err->len > emark) {
		r->err = err->data + emark;
		r->errlen = err->len - emark;
	}
	return 0;
}

/* ---- control ------------------------------------------------------------- */

int
pr_msg_hb(struct pr_buf *b, double now, int running)
{
	struct writer w;

	w_init(&w, b);
	W_LIT(&w, "{\"type\":\"hb\",\"t\":");
	w_time(&w, now);
	W_LIT(&w, ",\"running\":");
	w_i64(&w, running);
	W_LIT(&w, "}\n");
	return w_end(&w);
}

int
pr_hb_decode(const cJSON *msg, double *now, int *running,
    struct pr_errbuf *eb)
{
	int rc;

	if ((rc = need_object(msg, "hb", eb)) < 0 ||
	    (rc = get_time(msg, "t", now, eb)) < 0)
		return rc;
	return get_i(msg, "running", 0, INT_MAX, "a non-negative integer",
	    false, running, eb);
}

int
pr_msg_error(struct pr_buf *b, const char *code, const char *msg, bool fatal)
{
	struct writer w;

	w_init(&w, b);
	W_LIT(&w, "{\"type\":\"error\",\"code\":");
	w_text(&w, code);
	W_LIT(&w, ",\"msg\":");
	w_text(&w, msg);
	W_LIT(&w, ",\"fatal\":");
	w_bool(&w, fatal);
	W_LIT(&w, "}\n");
	return w_end(&w);
}

int
pr_error_decode(const cJSON *msg, const char **code, const char **text,
    bool *fatal, struct pr_errbuf *eb)
{
	const cJSON *f;
	int rc;

	if ((rc = need_object(msg, "error", eb)) < 0 ||
	    (rc = get_str(msg, "code", false, code, eb)) < 0 ||
	    (rc = get_str(msg, "msg", false, text, eb)) < 0)
		return rc;
	*fatal = false;
	f = cJSON_GetObjectItemCaseSensitive(msg, "fatal");
	if (f != NULL) {
		if (!cJSON_IsBool(f))
			return pr_err(eb, PR_EPROTO,
			    "field 'fatal' must be true or false");
		*fatal = cJSON_IsTrue(f);
	}
	return 0;
}

int
pr_msg_shutdown(struct pr_buf *b, const char *mode, int grace_ms)
{
	struct writer w;

	w_init(&w, b);
	W_LIT(&w, "{\"type\":\"shutdown\",\"mode\":");
	w_text(&w, mode);
	W_LIT(&w, ",\"grace_ms\":");
	w_i64(&w, grace_ms);
	W_LIT(&w, "}\n");
	return w_end(&w);
}

int
pr_shutdown_decode(const cJSON *msg, const char **mode, int *grace_ms,
    struct pr_errbuf *eb)
{
	int rc;

	if ((rc = need_object(msg, "shutdown", eb)) < 0 ||
	    (rc = get_str(msg, "mode", false, mode, eb)) < 0)
		return rc;
	if (strcmp(*mode, "drain") != 0 && strcmp(*mode, "soon") != 0 &&
	    strcmp(*mode, "now") != 0)
		return pr_err(eb, PR_EPROTO, "field 'mode' must be "
		    "\"drain\", \"soon\" or \"now\"");
	return get_i(msg, "grace_ms", 0, INT_MAX, "a non-negative integer",
	    false, grace_ms, eb);
}

int
pr_msg_bye(struct pr_buf *b)
{
	static const char line[] = "{\"type\":\"bye\"}\n";

	return pr_buf_add(b, line, sizeof(line) - 1);
}

/* ---- canonical form ------------------------------------------------------ */

static int
canon_tasks(struct pr_buf *b, const cJSON *msg, enum pr_msg_type type,
    struct pr_errbuf *eb)
{
	struct pr_task_ref *refs = NULL;
	size_t *ends = NULL;
	struct pr_buf bodies;
	struct pr_task_msg t;
	const cJSON *it;
	size_t n, i, start;
	int rc;

	pr_buf_init(&bodies, 0);
	if ((rc = pr_batch_decode(msg, type, &it, &n, eb)) < 0)
		return rc;
	refs = calloc(n, sizeof(*refs));
	ends = calloc(n, sizeof(*ends));
	if (refs == NULL || ends == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	for (i = 0; i < n; i++, it = it->next) {
		if ((rc = pr_task_decode(it, &t, eb)) < 0 ||
		    (rc = pr_task_body_encode(&bodies, &t)) < 0)
			goto out;
		refs[i].seq = t.seq;
		refs[i].attempt = t.attempt;
		ends[i] = bodies.len;
	}
	for (i = 0, start = 0; i < n; start = ends[i], i++) {
		refs[i].body = bodies.data + start;
		refs[i].bodylen = ends[i] - start;
	}
	rc = pr_msg_tasks(b, refs, n);
out:
	free(refs);
	free(ends);
	pr_buf_release(&bodies);
	return rc;
}

static int
canon_results(struct pr_buf *b, const cJSON *msg, enum pr_msg_type type,
    struct pr_errbuf *eb)
{
	struct pr_result_msg r;
	struct pr_buf out, err;
	const cJSON *it;
	size_t n, i, mark = b->len;
	int rc;

	pr_buf_init(&out, 0);
	pr_buf_init(&err, 0);
	if ((rc = pr_batch_decode(msg, type, &it, &n, eb)) < 0)
		return rc;
	if (type == PR_MSG_RESULT) {
		if ((rc = pr_result_decode(msg, &r, &out, &err, eb)) == 0)
			rc = pr_msg_result(b, &r);
		goto out;
	}
	if ((rc = pr_msg_results_open(b)) < 0)
		goto out;
	for (i = 0; i < n; i++, it = it->next) {
		pr_buf_reset(&out);
		pr_buf_reset(&err);
		if ((rc = pr_result_decode(it, &r, &out, &err, eb)) < 0 ||
		    (rc = pr_msg_results_add(b, i, &r)) < 0)
			goto out;
	}
	rc = pr_msg_results_close(b);
out:
	if (rc < 0)
		cut(b, mark);
	pr_buf_release(&out);
	pr_buf_release(&err);
	return rc;
}

int
pr_msg_canonical(struct pr_buf *b, const cJSON *msg, enum pr_msg_type type,
    struct pr_errbuf *eb)
{
	struct pr_hello h;
	struct pr_welcome wl;
	struct pr_buf data;
	const char *s1, *s2;
	uint64_t seq;
	int i1, i2, i3, rc;
	long pid;
	double d;
	bool flag;

	switch (type) {
	case PR_MSG_HELLO:
		if ((rc = pr_hello_decode(msg, &h, eb)) < 0)
			return rc;
		return pr_msg_hello(b, &h);
	case PR_MSG_WELCOME:
		if ((rc = pr_welcome_decode(msg, &wl, eb)) < 0)
			return rc;
		return pr_msg_welcome(b, &wl);
	case PR_MSG_REJECT:
		if ((rc = pr_reject_decode(msg, &s1, &i1, &i2, eb)) < 0)
			return rc;
		return pr_msg_reject(b, s1, i1, i2);
	case PR_MSG_TASK:
	case PR_MSG_TASKS:
		return canon_tasks(b, msg, type, eb);
	case PR_MSG_CANCEL:
		if ((rc = pr_cancel_decode(msg, &seq, &i1, &i2, eb)) < 0)
			return rc;
		return pr_msg_cancel(b, seq, i1, i2);
	case PR_MSG_BROADCAST:
		pr_buf_init(&data, 0);
		if ((rc = pr_broadcast_decode(msg, &data, eb)) == 0)
			rc = pr_msg_broadcast(b, data.data, data.len);
		pr_buf_release(&data);
		return rc;
	case PR_MSG_STARTED:
		if ((rc = pr_started_decode(msg, &seq, &i1, &pid, eb)) < 0)
			return rc;
		return pr_msg_started(b, seq, i1, pid);
	case PR_MSG_OUTPUT:
		pr_buf_init(&data, 0);
		rc = pr_output_decode(msg, &seq, &i1, &i3, &data, eb);
		if (rc == 0)
			rc = pr_msg_output(b, seq, i1, i3, data.data,
			    data.len);
		pr_buf_release(&data);
		return rc;
	case PR_MSG_RESULT:
	case PR_MSG_RESULTS:
		return canon_results(b, msg, type, eb);
	case PR_MSG_HB:
		if ((rc = pr_hb_decode(msg, &d, &i1, eb)) < 0)
			return rc;
		return pr_msg_hb(b, d, i1);
	case PR_MSG_ERROR:
		if ((rc = pr_error_decode(msg, &s1, &s2, &flag, eb)) < 0)
			return rc;
		return pr_msg_error(b, s1, s2, flag);
	case PR_MSG_SHUTDOWN:
		if ((rc = pr_shutdown_decode(msg, &s1, &i1, eb)) < 0)
			return rc;
		return pr_msg_shutdown(b, s1, i1);
	case PR_MSG_BYE:
		return pr_msg_bye(b);
	case PR_MSG_UNKNOWN:
		break;
	}
	{
		const cJSON *t = cJSON_GetObjectItemCaseSensitive(msg, "type");

		return pr_err(eb, PR_EPROTO, "unknown message type '%.64s'",
		    cJSON_IsString(t) ? t->valuestring : "?");
	}
}

/* ---- fast decoders ------------------------------------------------------- */

/*
 * One pass over the line, no tree, for the two messages sent per task.
 * A scan either takes the line or declines it; it declines everything
 * outside the plain form (see proto.h), and the checks on each field are
 * those of the tree decoders above, on the same double, so a line it
 * takes decodes to what pr_msg_parse() and pr_task_decode() /
 * pr_result_decode() make of it.  The scan only reads, and keeps the
 * items it found in a scratch array (per thread, grown as needed and
 * kept); only when the whole line is taken are their strings decoded in
 * place (escapes shrink; the NUL goes where the closing quote was) and
 * the items handed out.  So a declined line is left as it was, and no
 * item of it has been acted on.
 */

#define FS_DEPTH_MAX	32		/* deepest value skipped */
#define FS_NUM_MAX	40		/* longest number taken */

struct fscan {
	char *p, *end;
};

/* A string as scanned: the bytes between its quotes. */
struct fspan {
	char *s;
	size_t len;
	bool esc;		/* has escapes */
};

static inline void
fs_ws(struct fscan *s)
{
	while (s->p < s->end && json_ws(*s->p))
		s->p++;
}

/* The next non-blank byte is c: take it. */
static inline bool
fs_take(struct fscan *s, char c)
{
	fs_ws(s);
	if (s->p < s->end && *s->p == c) {
		s->p++;
		return true;
	}
	return false;
}

/* Bytes that end a run of plain string bytes: controls, '"', '\\'. */
static const unsigned char fs_stop[256] = {
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,	/* '"' */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,	/* '\\' */
};

static bool
fs_str(struct fscan *s, struct fspan *out)
{
	char *q, *start;

	fs_ws(s);
	if (s->p >= s->end || *s->p != '"')
		return false;
	start = q = s->p + 1;
	out->esc = false;
	for (;;) {
		while (q < s->end && !fs_stop[(unsigned char)*q])
			q++;
		if (q >= s->end || (unsigned char)*q < 0x20)
			return false;
		if (*q == '"')
			break;
		/* a backslash; \u is left to cJSON (surrogates, \u0000) */
		if (q + 1 >= s->end || strchr("\"\\/bfnrt", q[1]) == NULL ||
		    q[1] == '\0')
			return false;
		out->esc = true;
		q += 2;
	}
	out->s = start;
	out->len = (size_t)(q - start);
	s->p = q + 1;
	return true;
}

/* Decode a scanned string in place and NUL-terminate it (once). */
static char *
fs_finish(struct fspan *v)
{
	char *d = v->s, *end = v->s + v->len;
	const char *r;

	if (v->esc) {
		for (r = v->s; r < end; r++) {
			if (*r != '\\') {
				*d++ = *r;
				continue;
			}
			switch (*++r) {
			case 'b': *d++ = '\b'; break;
			case 'f': *d++ = '\f'; break;
			case 'n': *d++ = '\n'; break;
			case 'r': *d++ = '\r'; break;
			case 't': *d++ = '\t'; break;
			default: *d++ = *r; break;	/* " \\ / */
			}
		}
		v->len = (size_t)(d - v->s);
		v->esc = false;
	}
	v->s[v->len] = '\0';
	return v->s;
}

static const double fs_pow10[] = {
	1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12,
	1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

/*
 * A JSON number (strict grammar), as strtod reads it (which is what
 * cJSON does): exactly, by one rounding of m / 10^k or m * 10^k when
 * the digits fit in 2^53 and the scale in 10^22 (both operands are
 * exact), else by strtod itself.
 */
static bool
fs_num(struct fscan *s, double *out)
{
	const char *p, *start, *end = s->end;
	uint64_t m = 0;
	int nd = 0, scale = 0, e = 0;
	bool neg = false, eneg = false;
	double v;

	fs_ws(s);
	p = start = s->p;
	if (p < end && *p == '-') {
		neg = true;
		p++;
	}
	if (p >= end || (unsigned)(*p - '0') > 9)
		return false;
	if (*p == '0')
		p++;		/* no digits after a leading 0 */
	else
		for (; p < end && (unsigned)(*p - '0') <= 9; p++, nd++)
			m = m * 10 + (uint64_t)(*p - '0');
	if (p < end && *p == '.') {
		p++;
		if (p >= end || (unsigned)(*p - '0') > 9)
			return false;
		for (; p < end && (unsigned)(*p - '0') <= 9; p++, nd++) {
			m = m * 10 + (uint64_t)(*p - '0');
			scale--;
		}
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		p++;
		if (p < end && (*p == '+' || *p == '-'))
			eneg = *p++ == '-';
		if (p >= end || (unsigned)(*p - '0') > 9)
			return false;
		for (; p < end && (unsigned)(*p - '0') <= 9; p++)
			if (e < 10000)
				e = e * 10 + (*p - '0');
		scale += eneg ? -e : e;
	}
	if (p - start > FS_NUM_MAX)
		return false;
	s->p = (char *)p;
	/* at most 19 digits: m did not wrap */
	if (nd <= 19 && m <= ((uint64_t)1 << 53) && scale >= -22 &&
	    scale <= 22) {
		v = (double)m;
		if (scale < 0)
			v /= fs_pow10[-scale];
		else
			v *= fs_pow10[scale];
		*out = neg ? -v : v;
		return true;
	}
	{
		char tmp[FS_NUM_MAX + 1];

		memcpy(tmp, start, (size_t)(p - start));
		tmp[p - start] = '\0';
		*out = strtod(tmp, NULL);
	}
	return true;
}

static bool
fs_word(struct fscan *s, const char *w, size_t n)
{
	if ((size_t)(s->end - s->p) < n || memcmp(s->p, w, n) != 0)
		return false;
	s->p += n;
	return true;
}

/* Any JSON value, not kept. */
static bool
fs_skip(struct fscan *s, int depth)
{
	struct fspan k;
	double d;

	if (depth > FS_DEPTH_MAX)
		return false;
	fs_ws(s);
	if (s->p >= s->end)
		return false;
	switch (*s->p) {
	case '"':
		return fs_str(s, &k);
	case 't':
		return fs_word(s, "true", 4);
	case 'f':
		return fs_word(s, "false", 5);
	case 'n':
		return fs_word(s, "null", 4);
	case '[':
		s->p++;
		if (fs_take(s, ']'))
			return true;
		do {
			if (!fs_skip(s, depth + 1))
				return false;
		} while (fs_take(s, ','));
		return fs_take(s, ']');
	case '{':
		s->p++;
		if (fs_take(s, '}'))
			return true;
		do {
			if (!fs_str(s, &k) || !fs_take(s, ':') ||
			    !fs_skip(s, depth + 1))
				return false;
		} while (fs_take(s, ','));
		return fs_take(s, '}');
	default:
		return fs_num(s, &d);
	}
}

static bool
fs_key_is(const struct fspan *k, const char *name)
{
	size_t n = strlen(name);

	return k->len == n && memcmp(k->s, name, n) == 0;
}

/* A number the tree decoders' get_int() takes: integral, in [lo, hi]. */
static bool
fs_int(struct fscan *s, int64_t lo, int64_t hi, int64_t *out)
{
	double d;

	if (!fs_num(s, &d) || !(d >= (double)lo && d <= (double)hi) ||
	    d != floor(d))
		return false;
	*out = (int64_t)d;
	return true;
}

/* A string without escapes (names compared as bytes). */
static bool
fs_plain(struct fscan *s, struct fspan *v)
{
	return fs_str(s, v) && !v->esc;
}

/* Bits of the known fields seen in one object. */
enum {
	F_TYPE = 1u << 0, F_SEQ = 1u << 1, F_ATTEMPT = 1u << 2,
	F_ID = 1u << 3, F_SH = 1u << 4, F_KERNEL = 1u << 5, F_CWD = 1u << 6,
	F_TIMEOUT = 1u << 7, F_SEED = 1u << 8, F_THREADS = 1u << 9,
	F_STATUS = 1u << 10, F_EXIT = 1u << 11, F_SIGNAL = 1u << 12,
	F_START = 1u << 13, F_ELAPSED = 1u << 14, F_VALUE = 1u << 15,
	F_ERROR = 1u << 16, F_STDOUT = 1u << 17, F_STDERR = 1u << 18,
	F_BATCH = 1u << 19, F_PARAMS = 1u << 20,
};

/* Its strings, decoded when the line is taken. */
enum { S_ID, S_SH, S_KERNEL, S_CWD, S_N };		/* a task's */
enum { S_ERROR = 0, S_OUT, S_ERR };			/* a result's */

/* The item of a message being scanned: a task or a result. */
struct fs_item {
	bool tasks;
	unsigned seen;
	const char *params;		/* a task's "params" text */
	size_t paramslen;
	struct fspan str[S_N];
	unsigned nstr;			/* bits: str[i] was set */
	union {
		struct pr_task_msg t;
		struct pr_result_msg r;
	} u;
};

static void
fs_item_init(struct fs_item *it, bool tasks)
{
	it->tasks = tasks;
	it->seen = 0;
	it->params = NULL;
	it->paramslen = 0;
	it->nstr = 0;
	memset(&it->u, 0, sizeof(it->u));
	if (!tasks)
		it->u.r.exit = -1;
}

/* 1: a known field, taken; 0: not one (skip it); -1: decline. */
static int
fs_task_field(struct fscan *s, const struct fspan *k, struct fs_item *it)
{
	struct pr_task_msg *t = &it->u.t;
	struct fspan v;
	int64_t i;
	int str = -1;
	unsigned bit;

	switch (k->len > 0 ? k->s[0] : 0) {
	case 's':
		if (fs_key_is(k, "seq")) {
			bit = F_SEQ;
			if (!fs_int(s, 1, (int64_t)PR_SEQ_MAX, &i))
				return -1;
			t->seq = (uint64_t)i;
		} else if (fs_key_is(k, "sh")) {
			bit = F_SH;
			str = S_SH;
		} else if (fs_key_is(k, "seed")) {
			bit = F_SEED;
			fs_ws(s);
			if (s->p < s->end && *s->p == '"') {
				uint64_t u = 0;

				if (!fs_plain(s, &v) || v.len == 0)
					return -1;
				for (size_t j = 0; j < v.len; j++) {
					unsigned dig = (unsigned)(v.s[j] - '0');

					if (v.s[j] < '0' || v.s[j] > '9' ||
					    u > (UINT64_MAX - dig) / 10)
						return -1;
					u = u * 10 + dig;
				}
				t->seed = u;
			} else {
				if (!fs_int(s, 0, (int64_t)PR_SEQ_MAX, &i))
					return -1;
				t->seed = (uint64_t)i;
			}
			t->has_seed = true;
		} else {
			return 0;
		}
		break;
	case 'a':
		if (fs_key_is(k, "attempt")) {
			bit = F_ATTEMPT;
			if (!fs_int(s, 1, INT_MAX, &i))
				return -1;
			t->attempt = (int)i;
		} else if (fs_key_is(k, "argv")) {
			return -1;
		} else {
			return 0;
		}
		break;
	case 'i':
		if (!fs_key_is(k, "id"))
			return 0;
		bit = F_ID;
		str = S_ID;
		break;
	case 'k':
		if (!fs_key_is(k, "kernel"))
			return 0;
		bit = F_KERNEL;
		str = S_KERNEL;
		break;
	case 'c':
		if (!fs_key_is(k, "cwd"))
			return 0;
		bit = F_CWD;
		str = S_CWD;
		break;
	case 't':
		if (fs_key_is(k, "timeout_ms")) {
			bit = F_TIMEOUT;
			if (!fs_int(s, 0, (int64_t)PR_SEQ_MAX, &i))
				return -1;
			t->timeout_ms = i;
		} else if (fs_key_is(k, "threads")) {
			bit = F_THREADS;
			if (!fs_int(s, 0, PR_MAX_SLOTS, &i))
				return -1;
			t->threads = (int)i;
		} else {
			return 0;
		}
		break;
	case 'p':
		if (!fs_key_is(k, "params"))
			return 0;
		/* an object, kept as text for the caller (cJSON) */
		bit = F_PARAMS;
		fs_ws(s);
		it->params = s->p;
		if (s->p >= s->end || *s->p != '{' || !fs_skip(s, 1))
			return -1;
		it->paramslen = (size_t)(s->p - it->params);
		break;
	case 'e':
		/* an object of strings: the tree decoder's */
		if (fs_key_is(k, "env"))
			return -1;
		return 0;
	default:
		return 0;
	}
	if (it->seen & bit)
		return -1;		/* a repeated key: cJSON's first wins */
	it->seen |= bit;
	if (str >= 0) {
		if (!fs_str(s, &it->str[str]))
			return -1;
		it->nstr |= 1u << str;
	}
	return 1;
}

static bool
fs_task_done(struct fs_item *it)
{
	struct pr_task_msg *t = &it->u.t;
	unsigned need = F_SEQ | F_ATTEMPT;

	if ((it->seen & need) != need)
		return false;
	if ((it->seen & (F_SH | F_KERNEL)) == F_SH)
		t->kind = PR_KIND_SH;
	else if ((it->seen & (F_SH | F_KERNEL)) == F_KERNEL)
		t->kind = PR_KIND_KERNEL;
	else
		return false;
	if (t->kind != PR_KIND_KERNEL) {
		it->params = NULL;	/* checked, and ignored */
		it->paramslen = 0;
	}
	return true;
}

/* A time: finite and >= 0 (get_time()). */
static bool
fs_time(struct fscan *s, double *out)
{
	return fs_num(s, out) && isfinite(*out) && *out >= 0;
}

static int
fs_result_field(struct fscan *s, const struct fspan *k, struct fs_item *it)
{
	struct pr_result_msg *r = &it->u.r;
	struct fspan v;
	int64_t i;
	int str = -1;
	unsigned bit;

	switch (k->len > 0 ? k->s[0] : 0) {
	case 's':
		if (fs_key_is(k, "seq")) {
			bit = F_SEQ;
			if (!fs_int(s, 1, (int64_t)PR_SEQ_MAX, &i))
				return -1;
			r->seq = (uint64_t)i;
		} else if (fs_key_is(k, "status")) {
			bit = F_STATUS;
			if (!fs_plain(s, &v))
				return -1;
#define ST(name, st)	(v.len == sizeof(name) - 1 && \
			    memcmp(v.s, name, sizeof(name) - 1) == 0 ? \
			    (r->status = (st), true) : false)
			if (!ST("ok", PR_ST_OK) &&
			    !ST("failed", PR_ST_FAILED) &&
			    !ST("timeout", PR_ST_TIMEOUT) &&
			    !ST("cancelled", PR_ST_CANCELLED) &&
			    !ST("error", PR_ST_ERROR))
				return -1;
#undef ST
		} else if (fs_key_is(k, "signal")) {
			bit = F_SIGNAL;
			if (!fs_int(s, 0, 255, &i))
				return -1;
			r->signal = (int)i;
		} else if (fs_key_is(k, "start")) {
			bit = F_START;
			if (!fs_time(s, &r->start))
				return -1;
		} else if (fs_key_is(k, "stdout")) {
			bit = F_STDOUT;
			str = S_OUT;
		} else if (fs_key_is(k, "stderr")) {
			bit = F_STDERR;
			str = S_ERR;
		} else if (fs_key_is(k, "stdout_b64") ||
		    fs_key_is(k, "stderr_b64")) {
			return -1;
		} else {
			return 0;
		}
		break;
	case 'a':
		if (!fs_key_is(k, "attempt"))
			return 0;
		bit = F_ATTEMPT;
		if (!fs_int(s, 1, INT_MAX, &i))
			return -1;
		r->attempt = (int)i;
		break;
	case 'e':
		if (fs_key_is(k, "exit")) {
			bit = F_EXIT;
			if (!fs_int(s, 0, 255, &i))
				return -1;
			r->exit = (int)i;
		} else if (fs_key_is(k, "elapsed")) {
			bit = F_ELAPSED;
			if (!fs_time(s, &r->elapsed))
				return -1;
		} else if (fs_key_is(k, "error")) {
			bit = F_ERROR;
			str = S_ERROR;
		} else if (fs_key_is(k, "extra")) {
			return -1;	/* an object: the tree decoder's */
		} else {
			return 0;
		}
		break;
	case 'v':
		if (!fs_key_is(k, "value"))
			return 0;
		bit = F_VALUE;
		fs_ws(s);
		if (fs_word(s, "null", 4))
			r->value = NAN;
		else if (!fs_num(s, &r->value))
			return -1;
		r->has_value = true;
		break;
	default:
		return 0;
	}
	if (it->seen & bit)
		return -1;
	it->seen |= bit;
	if (str >= 0) {
		if (!fs_str(s, &it->str[str]))
			return -1;
		it->nstr |= 1u << str;
	}
	return 1;
}

static bool
fs_result_done(struct fs_item *it)
{
	unsigned need = F_SEQ | F_ATTEMPT | F_STATUS | F_START | F_ELAPSED;

	return (it->seen & need) == need;
}

/* The line is taken: the item's strings, decoded in place. */
static void
fs_item_finish(struct fs_item *it)
{
	struct pr_task_msg *t = &it->u.t;
	struct pr_result_msg *r = &it->u.r;
	char *v[S_N] = { NULL, NULL, NULL, NULL };

	for (int i = 0; i < S_N; i++)
		if (it->nstr & (1u << i))
			v[i] = fs_finish(&it->str[i]);
	if (it->tasks) {
		t->id = v[S_ID];
		t->sh = v[S_SH];
		t->kernel = v[S_KERNEL];
		t->cwd = v[S_CWD];
		return;
	}
	r->error = v[S_ERROR];
	if (v[S_OUT] != NULL && it->str[S_OUT].len > 0) {
		r->out = v[S_OUT];
		r->outlen = it->str[S_OUT].len;
	}
	if (v[S_ERR] != NULL && it->str[S_ERR].len > 0) {
		r->err = v[S_ERR];
		r->errlen = it->str[S_ERR].len;
	}
}

/* The items found, kept until the line is taken (per thread). */
static _Thread_local struct fs_item *fs_kept;
static _Thread_local size_t fs_kept_cap;

/* The message being scanned. */
struct fs_msg {
	bool tasks;
	bool keep;			/* keep the items in fs_kept */
	const char *one, *many;		/* its type names */
	struct fspan type;
	char *batch;			/* the batch array, when it came
					 * before the type */
	bool walked;			/* the batch array was walked */
	size_t count;			/* items walked */
};

static bool
fs_span_is(const struct fspan *v, const char *name)
{
	return fs_key_is(v, name);
}

static bool
fs_keep(struct fs_msg *m, const struct fs_item *it)
{
	if (!m->keep)
		return true;
	if (m->count == fs_kept_cap) {
		size_t cap = fs_kept_cap ? 2 * fs_kept_cap : 64;
		struct fs_item *v = realloc(fs_kept, cap * sizeof(*v));

		if (v == NULL)
			return false;	/* declined: the general path's */
		fs_kept = v;
		fs_kept_cap = cap;
	}
	fs_kept[m->count] = *it;
	return true;
}

static bool fs_object(struct fscan *s, struct fs_item *it,
    struct fs_msg *m);

/* The batch array: every item checked, and kept. */
static bool
fs_items(struct fscan *s, struct fs_msg *m)
{
	struct fs_item it;

	if (!fs_take(s, '['))
		return false;
	do {
		fs_item_init(&it, m->tasks);
		if (!fs_object(s, &it, NULL) ||
		    !(m->tasks ? fs_task_done(&it) : fs_result_done(&it)) ||
		    !fs_keep(m, &it))
			return false;
		m->count++;
	} while (fs_take(s, ','));
	m->walked = true;
	return fs_take(s, ']');
}

/*
 * One object: an item of a batch, or (m) the message itself, whose
 * "type" goes to m->type.  Its batch array is walked where it is when
 * the type came first (as parrun writes it), else it is skipped here and
 * walked when the type is known.
 */
static bool
fs_object(struct fscan *s, struct fs_item *it, struct fs_msg *m)
{
	struct fspan k;
	int rc;

	if (!fs_take(s, '{'))
		return false;
	if (fs_take(s, '}'))
		return false;		/* no fields: not a task or result */
	do {
		if (!fs_str(s, &k) || k.esc || !fs_take(s, ':'))
			return false;
		if (m != NULL && fs_key_is(&k, "type")) {
			if ((it->seen & F_TYPE) || !fs_plain(s, &m->type))
				return false;
			it->seen |= F_TYPE;
			continue;
		}
		if (m != NULL && fs_key_is(&k, m->many)) {
			if (it->seen & F_BATCH)
				return false;
			it->seen |= F_BATCH;
			if ((it->seen & F_TYPE) && fs_span_is(&m->type,
			    m->many)) {
				if (!fs_items(s, m))
					return false;
				continue;
			}
			fs_ws(s);
			m->batch = s->p;
			if (!fs_skip(s, 1))
				return false;
			continue;
		}
		rc = it->tasks ? fs_task_field(s, &k, it) :
		    fs_result_field(s, &k, it);
		if (rc < 0 || (rc == 0 && !fs_skip(s, 1)))
			return false;
	} while (fs_take(s, ','));
	return fs_take(s, '}');
}

/* The whole line, only read: its type and the item count when it is in
 * the plain form (with keep, the items are in fs_kept), else 0. */
static int
fs_message(char *line, size_t len, bool tasks, bool keep, size_t *n)
{
	struct fscan s = { line, line + len };
	struct fs_msg m;
	struct fs_item it;
	size_t bad;

	*n = 0;
	if (memchr(line, '\0', len) != NULL || !utf8_ok(line, len, &bad))
		return 0;
	memset(&m, 0, sizeof(m));
	m.tasks = tasks;
	m.keep = keep;
	m.one = tasks ? "task" : "result";
	m.many = tasks ? "tasks" : "results";
	fs_item_init(&it, tasks);
	if (!fs_object(&s, &it, &m))
		return 0;
	fs_ws(&s);
	if (s.p != s.end || !(it.seen & F_TYPE))
		return 0;
	if (fs_span_is(&m.type, m.one)) {
		if (!(tasks ? fs_task_done(&it) : fs_result_done(&it)) ||
		    !fs_keep(&m, &it))
			return 0;
		*n = 1;
		return tasks ? PR_MSG_TASK : PR_MSG_RESULT;
	}
	if (!fs_span_is(&m.type, m.many) || !(it.seen & F_BATCH))
		return 0;
	if (!m.walked) {
		s.p = m.batch;
		m.count = 0;
		if (!fs_items(&s, &m))
			return 0;
	}
	*n = m.count;
	return tasks ? PR_MSG_TASKS : PR_MSG_RESULTS;
}

int
pr_fast_tasks_check(const char *line, size_t len, size_t *n)
{
	/* only read */
	return fs_message((char *)line, len, true, false, n);
}

int
pr_fast_tasks_decode(char *line, size_t len, pr_fast_task_cb cb, void *arg)
{
	size_t n, i;
	int type = fs_message(line, len, true, true, &n);

	for (i = 0; type != 0 && i < n; i++) {
		fs_item_finish(&fs_kept[i]);
		cb(arg, i, n, &fs_kept[i].u.t, fs_kept[i].params,
		    fs_kept[i].paramslen);
	}
	return type;
}

int
pr_fast_results_check(const char *line, size_t len, size_t *n)
{
	return fs_message((char *)line, len, false, false, n);
}

int
pr_fast_results_decode(char *line, size_t len, pr_fast_result_cb cb,
    void *arg)
{
	size_t n, i;
	int type = fs_message(line, len, false, true, &n);

	for (i = 0; type != 0 && i < n; i++) {
		fs_item_finish(&fs_kept[i]);
		cb(arg, i, n, &fs_kept[i].u.r);
	}
	return type;
}

/* pr_fast_canonical(): the items, kept for the encoders. */
struct fs_all {
	struct pr_task_msg *t;
	cJSON **params;
	bool failed;
	struct pr_result_msg *r;
};

static void
fs_keep_task(void *arg, size_t i, size_t n, const struct pr_task_msg *t,
    const char *params, size_t paramslen)
{
	struct fs_all *all = arg;

	(void)n;
	all->t[i] = *t;
	if (params != NULL) {
		all->params[i] = cJSON_ParseWithLength(params, paramslen);
		all->t[i].params = all->params[i];
		if (all->params[i] == NULL)
			all->failed = true;
	}
}

static void
fs_keep_result(void *arg, size_t i, size_t n, const struct pr_result_msg *r)
{
	(void)n;
	((struct fs_all *)arg)->r[i] = *r;
}

int
pr_fast_canonical(struct pr_buf *b, char *line, size_t len)
{
	struct fs_all all = { NULL, NULL, false, NULL };
	struct pr_task_ref *refs = NULL;
	size_t *ends = NULL;
	struct pr_buf bodies;
	size_t n, i, start, mark = b->len;
	int type, rc = 0;

	pr_buf_init(&bodies, 0);
	if ((type = pr_fast_tasks_check(line, len, &n)) != 0) {
		all.t = calloc(n, sizeof(*all.t));
		all.params = calloc(n, sizeof(*all.params));
		refs = calloc(n, sizeof(*refs));
		ends = calloc(n, sizeof(*ends));
		if (all.t == NULL || all.params == NULL || refs == NULL ||
		    ends == NULL) {
			rc = -ENOMEM;
			goto out;
		}
		pr_fast_tasks_decode(line, len, fs_keep_task, &all);
		if (all.failed)
			rc = -ENOMEM;	/* or cJSON refused it: a bug */
		for (i = 0; i < n && rc == 0; i++) {
			rc = pr_task_body_encode(&bodies, &all.t[i]);
			refs[i].seq = all.t[i].seq;
			refs[i].attempt = all.t[i].attempt;
			ends[i] = bodies.len;
		}
		for (i = 0, start = 0; i < n; start = ends[i], i++) {
			refs[i].body = bodies.data + start;
			refs[i].bodylen = ends[i] - start;
		}
		if (rc == 0)	/* as canon_tasks() writes them */
			rc = pr_msg_tasks(b, refs, n);
		goto out;
	}
	if ((type = pr_fast_results_check(line, len, &n)) != 0) {
		all.r = calloc(n, sizeof(*all.r));
		if (all.r == NULL) {
			rc = -ENOMEM;
			goto out;
		}
		pr_fast_results_decode(line, len, fs_keep_result, &all);
		if (type == PR_MSG_RESULT) {
			rc = pr_msg_result(b, &all.r[0]);
			goto out;
		}
		rc = pr_msg_results_open(b);
		for (i = 0; i < n && rc == 0; i++)
			rc = pr_msg_results_add(b, i, &all.r[i]);
		if (rc == 0)
			rc = pr_msg_results_close(b);
		goto out;
	}
	rc = 1;
out:
	if (rc < 0)
		cut(b, mark);
	for (i = 0; all.params != NULL && i < n; i++)
		cJSON_Delete(all.params[i]);
	free(all.params);
	free(all.t);
	free(all.r);
	free(refs);
	free(ends);
	pr_buf_release(&bodies);
	return rc;
}
