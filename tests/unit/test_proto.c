/*
 * test_proto.c - lib/proto.c: framing (against a byte-by-byte reference
 * model, over every split of the input), parsing, every encoder and
 * decoder, the golden files under tests/fixtures/proto/ and the bad
 * frames and messages under tests/fixtures/proto/bad/.
 */
#include "test.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>

#include "json.h"
#include "proto.h"

/* ---- framing: recording what the framer delivers ------------------------- */

struct rec {
	char *line;		/* copy */
	size_t len;
	int err;
	uint64_t lineno;
	uint64_t offset;
	int where;		/* 1: in the chunk, 2: in f->tail, 0: else */
};

struct col {
	struct pr_framer *f;
	struct rec *r;
	size_t n, cap;
	const char *lo, *hi;	/* the chunk being fed */
	int stop_at;		/* return 99 on this record (1-based) */
};

static int
collect(void *arg, char *line, size_t len, int err)
{
	struct col *c = arg;
	struct rec *r;

	ASSERT_EQ(line[len], '\0');
	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 16;
		c->r = realloc(c->r, c->cap * sizeof(*c->r));
		ASSERT(c->r != NULL);
	}
	r = &c->r[c->n++];
	r->line = malloc(len + 1);
	ASSERT(r->line != NULL);
	memcpy(r->line, line, len + 1);
	r->len = len;
	r->err = err;
	r->lineno = c->f->lines;
	r->offset = c->f->offset;
	if (c->lo != NULL && line >= c->lo && line < c->hi)
		r->where = 1;
	else if (c->f->tail.data != NULL && line == c->f->tail.data)
		r->where = 2;
	else
		r->where = 0;
	if (c->stop_at > 0 && (size_t)c->stop_at == c->n)
		return 99;
	return 0;
}

static void
col_free(struct col *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->r[i].line);
	free(c->r);
	memset(c, 0, sizeof(*c));
}

/* Feed one chunk from its own exact-size heap copy (ASan sees any write
 * past it). */
static int
feed(struct pr_framer *f, struct col *c, const char *s, size_t n)
{
	char *chunk = malloc(n ? n : 1);
	int rc;

	ASSERT(chunk != NULL);
	memcpy(chunk, s, n);
	c->lo = chunk;
	c->hi = chunk + n;
	rc = pr_framer_feed(f, chunk, n, collect, c);
	c->lo = c->hi = NULL;
	free(chunk);
	return rc;
}

/*
 * The reference: what a framer must deliver for the whole stream, worked
 * out line by line with no chunking at all.  Returns what finish returns.
 */
static int
reference(const char *s, size_t n, size_t max_line, bool strip_cr,
    bool deliver_tail, struct col *out)
{
	size_t cap = max_line ? max_line : SIZE_MAX - 1;
	size_t rawcap = cap + (strip_cr ? 1 : 0);
	size_t start = 0, i;
	uint64_t lineno = 0;

	for (i = 0; i <= n; i++) {
		size_t len, clen;
		bool complete = i < n && s[i] == '\n';
		struct rec *r;

		if (i < n && !complete)
			continue;
		len = i - start;
		if (!complete) {
			/* the unterminated tail */
			if (len == 0)
				break;
			if (len <= rawcap && !deliver_tail)
				return PR_ETORN;
		}
		clen = len;
		if (strip_cr && clen > 0 && s[start + clen - 1] == '\r' &&
		    (complete || len <= rawcap))
			clen--;
		if (out->n == out->cap) {
			out->cap = out->cap ? out->cap * 2 : 16;
			out->r = realloc(out->r, out->cap * sizeof(*out->r));
		}
		r = &out->r[out->n++];
		r->err = clen > cap ? PR_ETOOBIG : 0;
		if (clen > cap)
			clen = max_line;
		r->line = malloc(clen + 1);
		memcpy(r->line, s + start, clen);
		r->line[clen] = '\0';
		r->len = clen;
		r->lineno = ++lineno;
		r->offset = start;
		r->where = -1;
		start = i + 1;
	}
	return 0;
}

/* Feed s cut at the given points; compare everything with the model. */
static void
check_split(const char *s, size_t n, size_t max_line, bool strip_cr,
    bool deliver_tail, const size_t *cuts, size_t ncuts)
{
	struct pr_framer f;
	struct col got = {0}, want = {0};
	size_t prev = 0, i, k;
	int rc, wrc;

	wrc = reference(s, n, max_line, strip_cr, deliver_tail, &want);
	pr_framer_init(&f, max_line);
	f.strip_cr = strip_cr;
	got.f = &f;
	for (i = 0; i <= ncuts; i++) {
		size_t to = i < ncuts ? cuts[i] : n;

		ASSERT_OK(feed(&f, &got, s + prev, to - prev));
		ASSERT_U64_EQ(f.consumed, to);
		prev = to;
	}
	rc = pr_framer_finish(&f, deliver_tail, collect, &got);
	if (rc != wrc)
		PR_TEST_FAIL("finish %d, want %d (max %zu cr %d cuts %zu)",
		    rc, wrc, max_line, strip_cr, ncuts);
	if (got.n != want.n)
		PR_TEST_FAIL("%zu lines, want %zu (max %zu cr %d)", got.n,
		    want.n, max_line, strip_cr);
	for (k = 0; k < got.n; k++) {
		struct rec *g = &got.r[k], *w = &want.r[k];

		if (g->len != w->len || memcmp(g->line, w->line, g->len) != 0 ||
		    g->err != w->err || g->lineno != w->lineno ||
		    g->offset != w->offset)
			PR_TEST_FAIL("line %zu: got '%s' len %zu err %d no %"
			    PRIu64 " off %" PRIu64 "; want '%s' len %zu err %d"
			    " no %" PRIu64 " off %" PRIu64 " (max %zu cr %d)",
			    k + 1, g->line, g->len, g->err, g->lineno,
			    g->offset, w->line, w->len, w->err, w->lineno,
			    w->offset, max_line, strip_cr);
		/* zero-copy: a good line whose start and LF share a chunk
		 * must be a pointer into that chunk */
		if (g->err == 0) {
			size_t o = (size_t)g->offset, lfpos = o;
			size_t co = 0, cl = 0;

			while (lfpos < n && s[lfpos] != '\n')
				lfpos++;
			for (i = 0; i < ncuts; i++) {
				co += cuts[i] <= o;
				cl += cuts[i] <= lfpos;
			}
			if (lfpos < n && co == cl && g->where != 1)
				PR_TEST_FAIL("line %zu copied (cuts %zu)",
				    k + 1, ncuts);
		}
	}
	if (rc == 0)
		ASSERT_U64_EQ(f.offset, n);
	pr_framer_release(&f);
	col_free(&got);
	col_free(&want);
}

static const char *const streams[] = {
	"a\nbb\n\nccc\r\nd\re\n\r\nlast",
	"abcd\nabcde\nab\r\nabcd\r\nabcde\r\nabcdefghij\nx\nabcdefghijkl",
	"\n\n\n",
	"abc",
	"0123456789012345678901234567890123456789\nshort\n",
	"\r\n\r\r\n\r",
	"x\ry\r\r\nzz\r",
	"",
};

static void
check_all_splits(size_t max_line, bool strip_cr, bool deliver_tail)
{
	for (size_t si = 0; si < sizeof(streams) / sizeof(streams[0]); si++) {
		const char *s = streams[si];
		size_t n = strlen(s), a, b;
		size_t cuts[64];

		check_split(s, n, max_line, strip_cr, deliver_tail, NULL, 0);
		for (a = 0; a <= n; a++) {
			cuts[0] = a;
			check_split(s, n, max_line, strip_cr, deliver_tail,
			    cuts, 1);
			for (b = a; b <= n; b++) {
				cuts[1] = b;
				check_split(s, n, max_line, strip_cr,
				    deliver_tail, cuts, 2);
			}
		}
		/* one byte at a time */
		if (n < 64) {
			for (a = 0; a < n; a++)
				cuts[a] = a + 1;
			check_split(s, n, max_line, strip_cr, deliver_tail,
			    cuts, n ? n - 1 : 0);
		}
	}
}

TEST(proto_framer_every_split)
{
	static const size_t caps[] = {0, 1, 4, 5, 6, 64};

	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++)
		for (int cr = 0; cr < 2; cr++)
			for (int dt = 0; dt < 2; dt++)
				check_all_splits(caps[i], cr, dt);
}

TEST(proto_framer_basic)
{
	struct pr_framer f;
	struct col c = {0};
	const char *s = "a\nbb\nccc\n";

	pr_framer_init(&f, 100);
	c.f = &f;
	ASSERT_OK(feed(&f, &c, s, strlen(s)));
	ASSERT_EQ(c.n, 3);
	ASSERT_STR_EQ(c.r[0].line, "a");
	ASSERT_STR_EQ(c.r[1].line, "bb");
	ASSERT_STR_EQ(c.r[2].line, "ccc");
	ASSERT_EQ(c.r[0].offset, 0);
	ASSERT_EQ(c.r[1].offset, 2);
	ASSERT_EQ(c.r[2].offset, 5);
	ASSERT_EQ(c.r[2].lineno, 3);
	ASSERT_EQ(c.r[0].where, 1);
	ASSERT_U64_EQ(f.lines, 3);
	ASSERT_U64_EQ(f.offset, 9);
	ASSERT_OK(pr_framer_finish(&f, false, collect, &c));
	pr_framer_release(&f);
	col_free(&c);
}

TEST(proto_framer_spanning_line_uses_tail)
{
	struct pr_framer f;
	struct col c = {0};

	pr_framer_init(&f, 100);
	c.f = &f;
	ASSERT_OK(feed(&f, &c, "hel", 3));
	ASSERT_EQ(c.n, 0);
	ASSERT_EQ(f.tail.len, 3);
	ASSERT_OK(feed(&f, &c, "lo\nworld\nx", 10));
	ASSERT_EQ(c.n, 2);
	ASSERT_STR_EQ(c.r[0].line, "hello");
	ASSERT_EQ(c.r[0].where, 2);
	ASSERT_STR_EQ(c.r[1].line, "world");
	ASSERT_EQ(c.r[1].where, 1);
	ASSERT_EQ(c.r[1].offset, 6);
	ASSERT_EQ(f.tail.len, 1);
	ASSERT_U64_EQ(f.offset, 12);
	pr_framer_release(&f);
	col_free(&c);
}

TEST(proto_framer_toobig_lf_in_chunk)
{
	struct pr_framer f;
	struct col c = {0};
	const char *s = "0123456789\nok\n";

	pr_framer_init(&f, 4);
	c.f = &f;
	ASSERT_OK(feed(&f, &c, s, strlen(s)));
	ASSERT_EQ(c.n, 2);
	ASSERT_EQ(c.r[0].err, PR_ETOOBIG);
	ASSERT_STR_EQ(c.r[0].line, "0123");
	ASSERT_EQ(c.r[0].len, 4);
	ASSERT_EQ(c.r[0].offset, 0);
	ASSERT_EQ(c.r[1].err, 0);
	ASSERT_STR_EQ(c.r[1].line, "ok");
	ASSERT_EQ(c.r[1].offset, 11);
	ASSERT_EQ(c.r[1].lineno, 2);
	pr_framer_release(&f);
	col_free(&c);
}

TEST(proto_framer_toobig_across_feeds)
{
	struct pr_framer f;
	struct col c = {0};

	pr_framer_init(&f, 4);
	c.f = &f;
	ASSERT_OK(feed(&f, &c, "01", 2));
	ASSERT_OK(feed(&f, &c, "2345", 4));
	/* reported as soon as the cap is passed, before the LF */
	ASSERT_EQ(c.n, 1);
	ASSERT_EQ(c.r[0].err, PR_ETOOBIG);
	ASSERT_STR_EQ(c.r[0].line, "0123");
	ASSERT(f.skipping);
	ASSERT_EQ(f.tail.len, 0);
	ASSERT_OK(feed(&f, &c, "6789", 4));
	ASSERT_EQ(c.n, 1);
	ASSERT_OK(feed(&f, &c, "9\nab", 4));
	ASSERT(!f.skipping);
	ASSERT_OK(feed(&f, &c, "\n", 1));
	ASSERT_EQ(c.n, 2);
	ASSERT_STR_EQ(c.r[1].line, "ab");
	ASSERT_EQ(c.r[1].offset, 12);
	ASSERT_EQ(c.r[1].lineno, 2);
	ASSERT_EQ(c.r[1].err, 0);
	pr_framer_release(&f);
	col_free(&c);
}

TEST(proto_framer_exact_cap)
{
	struct pr_framer f;
	struct col c = {0};

	pr_framer_init(&f, 4);
	c.f = &f;
	ASSERT_OK(feed(&f, &c, "abcd\nabcde\n", 11));
	ASSERT_EQ(c.n, 2);
	ASSERT_EQ(c.r[0].err, 0);
	ASSERT_EQ(c.r[1].err, PR_ETOOBIG);
	ASSERT_STR_EQ(c.r[1].line, "abcd");
	pr_framer_release(&f);
	col_free(&c);
}

TEST(proto_framer_strip_cr)
{
	struct pr_framer f;
	struct col c = {0};

	pr_framer_init(&f, 4);
	f.strip_cr = true;
	c.f = &f;
	/* a CR before the LF goes and does not count against the cap; only
	 * one goes; a CR elsewhere stays */
	ASSERT_OK(feed(&f, &c, "abcd\r\na\r\r\nx\ry\n", 14));
	ASSERT_EQ(c.n, 3);
	ASSERT_STR_EQ(c.r[0].line, "abcd");
	ASSERT_EQ(c.r[0].err, 0);
	ASSERT_STR_EQ(c.r[1].line, "a\r");
	ASSERT_STR_EQ(c.r[2].line, "x\ry");
	/* CR and LF in different feeds */
	ASSERT_OK(feed(&f, &c, "q\r", 2));
	ASSERT_OK(feed(&f, &c, "\n", 1));
	ASSERT_EQ(c.n, 4);
	ASSERT_STR_EQ(c.r[3].line, "q");
	pr_framer_release(&f);
	col_free(&c);

	pr_framer_init(&f, 4);
	c.f = &f;
	ASSERT_OK(feed(&f, &c, "ab\r\n", 4));
	ASSERT_EQ(c.r[0].len, 3);	/* strip_cr off: the CR is data */
	pr_framer_release(&f);
	col_free(&c);
}

TEST(proto_framer_torn_tail)
{
	struct pr_framer f;
	struct col c = {0};

	pr_framer_init(&f, 64);
	c.f = &f;
	ASSERT_OK(feed(&f, &c, "one\ntw", 6));
	ASSERT_EQ(pr_framer_finish(&f, false, collect, &c), PR_ETORN);
	ASSERT_EQ(c.n, 1);
	/* the torn bytes stay for the error message */
	ASSERT_EQ(f.tail.len, 2);
	ASSERT_U64_EQ(f.offset, 4);
	ASSERT_EQ(pr_framer_finish(&f, true, collect, &c), 0);
	ASSERT_EQ(c.n, 2);
	ASSERT_STR_EQ(c.r[1].line, "tw");
	ASSERT_EQ(c.r[1].lineno, 2);
	ASSERT_EQ(c.r[1].offset, 4);
	ASSERT_EQ(pr_framer_finish(&f, false, collect, &c), 0);
	pr_framer_release(&f);
	col_free(&c);

	/* empty tail, and a skipped over-long tail (already reported) */
	pr_framer_init(&f, 2);
	c.f = &f;
	ASSERT_OK(pr_framer_finish(&f, false, collect, &c));
	ASSERT_OK(feed(&f, &c, "abcdef", 6));
	ASSERT_EQ(c.n, 1);
	ASSERT_EQ(c.r[0].err, PR_ETOOBIG);
	ASSERT_OK(pr_framer_finish(&f, false, collect, &c));
	pr_framer_release(&f);
	col_free(&c);
}

TEST(proto_framer_callback_stops)
{
	struct pr_framer f;
	struct col c = {0};

	pr_framer_init(&f, 64);
	c.f = &f;
	c.stop_at = 2;
	ASSERT_EQ(feed(&f, &c, "a\nb\nc\nd", 7), 99);
	ASSERT_EQ(c.n, 2);
	/* the rest of the chunk is dropped as if never fed */
	ASSERT_U64_EQ(f.consumed, 4);
	ASSERT_U64_EQ(f.offset, 4);
	ASSERT_EQ(f.tail.len, 0);
	c.stop_at = 0;
	ASSERT_OK(feed(&f, &c, "e\n", 2));
	ASSERT_EQ(c.n, 3);
	ASSERT_STR_EQ(c.r[2].line, "e");
	ASSERT_EQ(c.r[2].offset, 4);
	ASSERT_EQ(c.r[2].lineno, 3);
	/* finish passes the callback's value on */
	c.stop_at = 4;
	ASSERT_OK(feed(&f, &c, "tail", 4));
	ASSERT_EQ(pr_framer_finish(&f, true, collect, &c), 99);
	pr_framer_release(&f);
	col_free(&c);
}

TEST(proto_framer_cap_lowered_mid_line)
{
	struct pr_framer f;
	struct col c = {0};

	pr_framer_init(&f, 100);
	c.f = &f;
	ASSERT_OK(feed(&f, &c, "0123456789", 10));
	f.max_line = 4;
	ASSERT_OK(feed(&f, &c, "ab", 2));
	ASSERT_EQ(c.n, 1);
	ASSERT_EQ(c.r[0].err, PR_ETOOBIG);
	ASSERT_STR_EQ(c.r[0].line, "0123");
	ASSERT(f.skipping);
	ASSERT_OK(feed(&f, &c, "\nok\n", 4));
	ASSERT_EQ(c.n, 2);
	ASSERT_STR_EQ(c.r[1].line, "ok");
	ASSERT_EQ(c.r[1].offset, 13);
	pr_framer_release(&f);
	col_free(&c);
}

TEST(proto_framer_nul_and_empty_feeds)
{
	struct pr_framer f;
	struct col c = {0};

	pr_framer_init(&f, 64);
	c.f = &f;
	ASSERT_OK(pr_framer_feed(&f, NULL, 0, collect, &c));
	ASSERT_OK(feed(&f, &c, "a\0b\n", 4));
	ASSERT_EQ(c.n, 1);
	ASSERT_EQ(c.r[0].len, 3);
	ASSERT_MEM_EQ(c.r[0].line, "a\0b", 3);
	pr_framer_release(&f);
	col_free(&c);
}

TEST(proto_framer_big_stream_offsets)
{
	struct pr_framer f;
	struct col c = {0};
	struct pr_buf s;
	size_t pos, step = 1;
	uint64_t off = 0;

	/* 2000 lines of growing length, fed in growing chunks */
	pr_buf_init(&s, 0);
	for (int i = 0; i < 2000; i++) {
		for (int k = 0; k < i % 97; k++)
			ASSERT_OK(pr_buf_addc(&s, (char)('a' + k % 26)));
		ASSERT_OK(pr_buf_addc(&s, '\n'));
	}
	pr_framer_init(&f, 90);
	c.f = &f;
	for (pos = 0; pos < s.len; pos += step, step = step * 3 % 1000 + 1) {
		size_t n = s.len - pos < step ? s.len - pos : step;

		ASSERT_OK(feed(&f, &c, s.data + pos, n));
	}
	ASSERT_OK(pr_framer_finish(&f, false, collect, &c));
	ASSERT_EQ(c.n, 2000);
	for (int i = 0; i < 2000; i++) {
		size_t want = (size_t)(i % 97);

		ASSERT_U64_EQ(c.r[i].offset, off);
		ASSERT_EQ(c.r[i].lineno, i + 1);
		ASSERT_EQ(c.r[i].err, want > 90 ? PR_ETOOBIG : 0);
		ASSERT_EQ(c.r[i].len, want > 90 ? 90 : want);
		off += want + 1;
	}
	ASSERT_U64_EQ(f.consumed, s.len);
	pr_buf_release(&s);
	pr_framer_release(&f);
	col_free(&c);
}

/* ---- parsing ------------------------------------------------------------- */

static int
parse_err(const char *line, size_t len, struct pr_errbuf *eb)
{
	cJSON *root = (cJSON *)1;
	enum pr_msg_type t;
	int rc;

	memset(eb, 0, sizeof(*eb));
	rc = pr_msg_parse(line, len, &root, &t, eb);
	if (rc == 0)
		cJSON_Delete(root);
	else
		ASSERT(root == NULL);
	return rc;
}

#define PARSE_FAILS(s, want) do {					\
	struct pr_errbuf eb_;						\
	ASSERT_EQ(parse_err((s), sizeof(s) - 1, &eb_), PR_EPROTO);	\
	ASSERT_STR_EQ(eb_.msg, (want));					\
} while (0)

TEST(proto_parse_ok)
{
	cJSON *root;
	enum pr_msg_type t;
	const char *s = "  {\"type\":\"hb\",\"t\":1,\"running\":0} \r\n";

	ASSERT_OK(pr_msg_parse(s, strlen(s), &root, &t, NULL));
	ASSERT_EQ(t, PR_MSG_HB);
	cJSON_Delete(root);
	s = "{\"type\":\"frobnicate\"}";
	ASSERT_OK(pr_msg_parse(s, strlen(s), &root, &t, NULL));
	ASSERT_EQ(t, PR_MSG_UNKNOWN);
	cJSON_Delete(root);
	/* no NUL needed at len: the rest of the buffer is not read */
	s = "{\"type\":\"bye\"}garbage";
	ASSERT_OK(pr_msg_parse(s, 14, &root, &t, NULL));
	ASSERT_EQ(t, PR_MSG_BYE);
	cJSON_Delete(root);
}

TEST(proto_parse_errors)
{
	PARSE_FAILS("{\"type\":\"hello\",]", "column 17: invalid JSON");
	PARSE_FAILS("[1,2]", "column 1: message is not an object");
	PARSE_FAILS("  42", "column 3: message is not an object");
	PARSE_FAILS("{\"seq\":1}", "missing 'type'");
	PARSE_FAILS("{\"type\":7}", "'type' must be a string");
	PARSE_FAILS("{\"type\":\"bye\"} x",
	    "column 16: trailing data after the message");
	PARSE_FAILS("{\"type\":\"bye\"}{}",
	    "column 15: trailing data after the message");
	PARSE_FAILS("", "column 1: empty message");
	PARSE_FAILS("   ", "column 4: empty message");
	PARSE_FAILS("{\"type\":\"b\0e\"}", "column 11: NUL byte");
	PARSE_FAILS("{\"type\":\"\xff\"}", "column 10: invalid UTF-8");
	PARSE_FAILS("{\"type\":\"\xc3\"}", "column 10: invalid UTF-8");
	PARSE_FAILS("\x01{\"type\":\"bye\"}", "column 1: invalid JSON");
	PARSE_FAILS("\xef\xbb\xbf{\"type\":\"bye\"}",
	    "column 1: byte order mark");
	/* cJSON points at the last byte when the input ends early */
	PARSE_FAILS("{\"type\":\"bye\"", "column 13: invalid JSON");
}

TEST(proto_parse_utf8_fast_path)
{
	char line[200];
	struct pr_errbuf eb;

	/* a bad byte at every position behind a run of ASCII */
	for (size_t pos = 10; pos < 40; pos++) {
		memset(line, 'a', sizeof(line));
		memcpy(line, "{\"type\":\"", 9);
		line[pos] = (char)0x80;
		memcpy(line + 60, "\"}", 2);
		ASSERT_EQ(parse_err(line, 62, &eb), PR_EPROTO);
		{
			char want[64];

			snprintf(want, sizeof(want),
			    "column %zu: invalid UTF-8", pos + 1);
			ASSERT_STR_EQ(eb.msg, want);
		}
	}
	/* valid multi-byte text passes */
	{
		const char *s = "{\"type\":\"bye\",\"x\":\"h\xc3\xa9t\xe2\x82"
		    "\xac \xf0\x9f\x98\x80\"}";
		ASSERT_EQ(parse_err(s, strlen(s), &eb), 0);
	}
}

TEST(proto_type_names)
{
	static const enum pr_msg_type all[] = {
		PR_MSG_HELLO, PR_MSG_WELCOME, PR_MSG_REJECT, PR_MSG_TASK,
		PR_MSG_TASKS, PR_MSG_CANCEL, PR_MSG_BROADCAST, PR_MSG_STARTED,
		PR_MSG_OUTPUT, PR_MSG_RESULT, PR_MSG_RESULTS, PR_MSG_HB,
		PR_MSG_ERROR, PR_MSG_SHUTDOWN, PR_MSG_BYE,
	};

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		char line[64];
		cJSON *root;
		enum pr_msg_type t;

		snprintf(line, sizeof(line), "{\"type\":\"%s\"}",
		    pr_msg_type_name(all[i]));
		ASSERT_OK(pr_msg_parse(line, strlen(line), &root, &t, NULL));
		ASSERT_EQ(t, all[i]);
		cJSON_Delete(root);
	}
	ASSERT_STR_EQ(pr_msg_type_name(PR_MSG_UNKNOWN), "unknown");
	ASSERT_STR_EQ(pr_msg_type_name((enum pr_msg_type)12345), "unknown");
	/* numbers are fixed forever */
	ASSERT_EQ(PR_MSG_HELLO, 100);
	ASSERT_EQ(PR_MSG_TASK, 200);
	ASSERT_EQ(PR_MSG_RESULT, 302);
	ASSERT_EQ(PR_MSG_BYE, 403);
}

TEST(proto_status_names)
{
	enum pr_status s;

	for (int i = PR_ST_OK; i <= PR_ST_REJECTED; i++) {
		ASSERT_OK(pr_status_parse(pr_status_name((enum pr_status)i),
		    &s));
		ASSERT_EQ(s, i);
	}
	ASSERT_STR_EQ(pr_status_name(PR_ST_CANCELLED), "cancelled");
	ASSERT_EQ(pr_status_parse("great", &s), PR_EPROTO);
	ASSERT_STR_EQ(pr_status_name((enum pr_status)99), "unknown");
}

TEST(proto_negotiate)
{
	int v = -1;

	ASSERT_OK(pr_proto_negotiate(1, 1, &v));
	ASSERT_EQ(v, 1);
	ASSERT_OK(pr_proto_negotiate(1, 5, &v));
	ASSERT_EQ(v, PR_PROTO_MAX);
	ASSERT_EQ(pr_proto_negotiate(99, 99, &v), PR_EVERSION);
	ASSERT_EQ(pr_proto_negotiate(0, 0, &v), PR_EVERSION);
	ASSERT_EQ(pr_proto_negotiate(2, 1, &v), PR_EVERSION);
}

/* ---- encoders and decoders ----------------------------------------------- */

static cJSON *
parse_ok(const char *line, enum pr_msg_type want)
{
	cJSON *root;
	enum pr_msg_type t;
	struct pr_errbuf eb = {0};

	if (pr_msg_parse(line, strlen(line), &root, &t, &eb) != 0)
		PR_TEST_FAIL("cannot parse %s: %s", line, eb.msg);
	ASSERT_EQ(t, want);
	return root;
}

TEST(proto_hello)
{
	static const char *const k[] = {"chol", "noop"};
	struct pr_hello h = {
		.proto_min = 1, .proto_max = 1, .version = "0.1.0",
		.host = "node07", .pid = 4242, .cpus = 8, .slots = 2,
		.kernels = k, .nkernels = 2,
	};
	struct pr_hello d;
	struct pr_buf b;
	cJSON *root;

	pr_buf_init(&b, 0);
	ASSERT_OK(pr_msg_hello(&b, &h));
	ASSERT_STR_EQ(b.data, "{\"type\":\"hello\",\"proto\":[1,1],"
	    "\"version\":\"0.1.0\",\"host\":\"node07\",\"pid\":4242,"
	    "\"cpus\":8,\"slots\":2,\"kernels\":[\"chol\",\"noop\"]}\n");
	root = parse_ok(b.data, PR_MSG_HELLO);
	ASSERT_OK(pr_hello_decode(root, &d, NULL));
	ASSERT_EQ(d.proto_min, 1);
	ASSERT_STR_EQ(d.host, "node07");
	ASSERT_EQ(d.pid, 4242);
	ASSERT_EQ(d.slots, 2);
	ASSERT(pr_hello_has_kernel(&d, "noop"));
	ASSERT(!pr_hello_has_kernel(&d, "sort"));
	ASSERT(pr_hello_has_kernel(&h, "chol"));
	ASSERT(!pr_hello_has_kernel(&h, "nope"));
	/* a decoded hello writes back the same line */
	pr_buf_reset(&b);
	ASSERT_OK(pr_msg_hello(&b, &d));
	ASSERT(strstr(b.data, "\"kernels\":[\"chol\",\"noop\"]") != NULL);
	cJSON_Delete(root);
	/* no kernels at all */
	h.kernels = NULL;
	pr_buf_reset(&b);
	ASSERT_OK(pr_msg_hello(&b, &h));
	ASSERT(strstr(b.data, "\"kernels\":[]}") != NULL);
	pr_buf_release(&b);
}

static void
decode_fails(const char *line, enum pr_msg_type type, const char *want)
{
	cJSON *root = parse_ok(line, type);
	struct pr_errbuf eb = {0};
	struct pr_buf b;
	int rc;

	pr_buf_init(&b, 0);
	rc = pr_msg_canonical(&b, root, type, &eb);
	if (rc != PR_EPROTO)
		PR_TEST_FAIL("%s: rc %d (%s), want PR_EPROTO", line, rc,
		    b.data ? b.data : "");
	if (strcmp(eb.msg, want) != 0)
		PR_TEST_FAIL("%s: '%s', want '%s'", line, eb.msg, want);
	ASSERT_EQ(b.len, 0);
	pr_buf_release(&b);
	cJSON_Delete(root);
}

TEST(proto_hello_bad)
{
	decode_fails("{\"type\":\"hello\",\"proto\":[2,1],\"version\":\"1\","
	    "\"host\":\"h\",\"pid\":1,\"cpus\":1,\"slots\":1}", PR_MSG_HELLO,
	    "field 'proto' must be [min,max] with 1 <= min <= max");
	decode_fails("{\"type\":\"hello\",\"proto\":[1],\"version\":\"1\","
	    "\"host\":\"h\",\"pid\":1,\"cpus\":1,\"slots\":1}", PR_MSG_HELLO,
	    "field 'proto' must be [min,max] with 1 <= min <= max");
	decode_fails("{\"type\":\"hello\",\"proto\":[1,1.5],\"version\":\"1\","
	    "\"host\":\"h\",\"pid\":1,\"cpus\":1,\"slots\":1}", PR_MSG_HELLO,
	    "field 'proto' must be [min,max] with 1 <= min <= max");
	decode_fails("{\"type\":\"hello\",\"proto\":[1,1],\"version\":1,"
	    "\"host\":\"h\",\"pid\":1,\"cpus\":1,\"slots\":1}", PR_MSG_HELLO,
	    "field 'version' must be a string");
	decode_fails("{\"type\":\"hello\",\"proto\":[1,1],\"version\":\"1\","
	    "\"pid\":1,\"cpus\":1,\"slots\":1}", PR_MSG_HELLO,
	    "missing field 'host'");
	decode_fails("{\"type\":\"hello\",\"proto\":[1,1],\"version\":\"1\","
	    "\"host\":\"h\",\"pid\":1,\"cpus\":1,\"slots\":70000}",
	    PR_MSG_HELLO, "field 'slots' must be an integer in 1..65536");
	decode_fails("{\"type\":\"hello\",\"proto\":[1,1],\"version\":\"1\","
	    "\"host\":\"h\",\"pid\":0,\"cpus\":1,\"slots\":1}", PR_MSG_HELLO,
	    "field 'pid' must be a positive integer");
	decode_fails("{\"type\":\"hello\",\"proto\":[1,1],\"version\":\"1\","
	    "\"host\":\"h\",\"pid\":1,\"cpus\":1,\"slots\":1,"
	    "\"kernels\":[\"a\",2]}", PR_MSG_HELLO,
	    "field 'kernels' must be an array of strings");
}

TEST(proto_welcome_reject)
{
	struct pr_welcome w = {
		.proto = 1, .worker = 3, .hb_ms = 5000,
		.max_frame = PR_MAX_FRAME, .seed = 42, .threads = 2,
		.stream_output = true, .session = "r-1",
	};
	struct pr_welcome d;
	struct pr_buf b;
	cJSON *root;
	const char *reason;
	int lo, hi;

	pr_buf_init(&b, 0);
	ASSERT_OK(pr_msg_welcome(&b, &w));
	ASSERT_STR_EQ(b.data, "{\"type\":\"welcome\",\"proto\":1,\"worker\":3,"
	    "\"hb_ms\":5000,\"max_frame\":1048576,\"seed\":42,\"threads\":2,"
	    "\"stream_output\":true,\"session\":\"r-1\"}\n");
	root = parse_ok(b.data, PR_MSG_WELCOME);
	ASSERT_OK(pr_welcome_decode(root, &d, NULL));
	ASSERT_EQ(d.worker, 3);
	ASSERT_EQ(d.max_frame, PR_MAX_FRAME);
	ASSERT_U64_EQ(d.seed, 42);
	ASSERT(d.stream_output);
	ASSERT_STR_EQ(d.session, "r-1");
	cJSON_Delete(root);

	/* seeds above 2^53-1 travel as strings */
	w.seed = UINT64_MAX;
	pr_buf_reset(&b);
	ASSERT_OK(pr_msg_welcome(&b, &w));
	ASSERT(strstr(b.data, "\"seed\":\"18446744073709551615\"") != NULL);
	root = parse_ok(b.data, PR_MSG_WELCOME);
	ASSERT_OK(pr_welcome_decode(root, &d, NULL));
	ASSERT_U64_EQ(d.seed, UINT64_MAX);
	cJSON_Delete(root);
	w.seed = PR_SEQ_MAX;
	pr_buf_reset(&b);
	ASSERT_OK(pr_msg_welcome(&b, &w));
	ASSERT(strstr(b.data, "\"seed\":9007199254740991,") != NULL);

	pr_buf_reset(&b);
	ASSERT_OK(pr_msg_reject(&b, "no common protocol version", 2, 3));
	ASSERT_STR_EQ(b.data, "{\"type\":\"reject\",\"reason\":\"no common "
	    "protocol version\",\"proto\":[2,3]}\n");
	root = parse_ok(b.data, PR_MSG_REJECT);
	ASSERT_OK(pr_reject_decode(root, &reason, &lo, &hi, NULL));
	ASSERT_STR_EQ(reason, "no common protocol version");
	ASSERT_EQ(lo, 2);
	ASSERT_EQ(hi, 3);
	cJSON_Delete(root);
	pr_buf_release(&b);

	decode_fails("{\"type\":\"welcome\",\"proto\":1,\"worker\":1,"
	    "\"hb_ms\":5000,\"max_frame\":100,\"seed\":1,\"threads\":1,"
	    "\"stream_output\":false,\"session\":\"s\"}", PR_MSG_WELCOME,
	    "field 'max_frame' must be an integer in 4096..1073741824");
	decode_fails("{\"type\":\"welcome\",\"proto\":1,\"worker\":1,"
	    "\"hb_ms\":5000,\"max_frame\":4096,\"seed\":\"12x\","
	    "\"threads\":1,\"stream_output\":false,\"session\":\"s\"}",
	    PR_MSG_WELCOME,
	    "field 'seed' must be an integer in 0..18446744073709551615");
	decode_fails("{\"type\":\"welcome\",\"proto\":1,\"worker\":1,"
	    "\"hb_ms\":5000,\"max_frame\":4096,"
	    "\"seed\":\"18446744073709551616\",\"threads\":1,"
	    "\"stream_output\":false,\"session\":\"s\"}", PR_MSG_WELCOME,
	    "field 'seed' must be an integer in 0..18446744073709551615");
	decode_fails("{\"type\":\"welcome\",\"proto\":1,\"worker\":1,"
	    "\"hb_ms\":5000,\"max_frame\":4096,\"seed\":1,\"threads\":1,"
	    "\"stream_output\":1,\"session\":\"s\"}", PR_MSG_WELCOME,
	    "field 'stream_output' must be true or false");
	decode_fails("{\"type\":\"reject\",\"reason\":\"x\"}", PR_MSG_REJECT,
	    "missing field 'proto'");
}

/* The default task timeout: optional, omitted when 0, older lines (and
 * lines without it) decode to 0. */
TEST(proto_welcome_timeout)
{
	struct pr_welcome w = {
		.proto = 1, .worker = 2, .hb_ms = 0,
		.max_frame = PR_MAX_FRAME, .seed = 1, .threads = 1,
		.session = "s",
	};
	struct pr_welcome d;
	struct pr_buf b;
	cJSON *root;

	pr_buf_init(&b, 0);
	ASSERT_OK(pr_msg_welcome(&b, &w));
	ASSERT(strstr(b.data, "timeout_ms") == NULL);
	root = parse_ok(b.data, PR_MSG_WELCOME);
	d.timeout_ms = 99;
	ASSERT_OK(pr_welcome_decode(root, &d, NULL));
	ASSERT_EQ(d.timeout_ms, 0);
	cJSON_Delete(root);

	w.timeout_ms = 1500;
	pr_buf_reset(&b);
	ASSERT_OK(pr_msg_welcome(&b, &w));
	ASSERT_STR_EQ(b.data, "{\"type\":\"welcome\",\"proto\":1,\"worker\":2,"
	    "\"hb_ms\":0,\"max_frame\":1048576,\"seed\":1,\"threads\":1,"
	    "\"stream_output\":false,\"session\":\"s\",\"timeout_ms\":1500}\n");
	root = parse_ok(b.data, PR_MSG_WELCOME);
	ASSERT_OK(pr_welcome_decode(root, &d, NULL));
	ASSERT_EQ(d.timeout_ms, 1500);
	cJSON_Delete(root);

	/* explicit 0 is accepted and written back without the member */
	root = parse_ok("{\"type\":\"welcome\",\"proto\":1,\"worker\":1,"
	    "\"hb_ms\":0,\"max_frame\":4096,\"seed\":1,\"threads\":1,"
	    "\"stream_output\":false,\"session\":\"s\",\"timeout_ms\":0}",
	    PR_MSG_WELCOME);
	pr_buf_reset(&b);
	ASSERT_OK(pr_msg_canonical(&b, root, PR_MSG_WELCOME, NULL));
	ASSERT(strstr(b.data, "timeout_ms") == NULL);
	cJSON_Delete(root);

	/* the encoder refuses what no reader would take */
	pr_buf_reset(&b);
	w.timeout_ms = -1;
	ASSERT_EQ(pr_msg_welcome(&b, &w), -EINVAL);
	ASSERT_EQ(b.len, 0);
	w.timeout_ms = (int64_t)PR_SEQ_MAX + 1;
	ASSERT_EQ(pr_msg_welcome(&b, &w), -EINVAL);
	ASSERT_EQ(b.len, 0);
	pr_buf_release(&b);

	decode_fails("{\"type\":\"welcome\",\"proto\":1,\"worker\":1,"
	    "\"hb_ms\":0,\"max_frame\":4096,\"seed\":1,\"threads\":1,"
	    "\"stream_output\":false,\"session\":\"s\","
	    "\"timeout_ms\":\"10\"}", PR_MSG_WELCOME,
	    "field 'timeout_ms' must be a non-negative integer");
	decode_fails("{\"type\":\"welcome\",\"proto\":1,\"worker\":1,"
	    "\"hb_ms\":0,\"max_frame\":4096,\"seed\":1,\"threads\":1,"
	    "\"stream_output\":false,\"session\":\"s\","
	    "\"timeout_ms\":9007199254740992}", PR_MSG_WELCOME,
	    "field 'timeout_ms' must be a non-negative integer");
}

TEST(proto_task)
{
	struct pr_task_ref refs[2] = {
		{.seq = 7, .attempt = 1,
		 .body = "\"id\":\"t7\",\"argv\":[\"echo\",\"hi\"]",
		 .bodylen = 30},
		{.seq = 8, .attempt = 2, .body = "\"id\":\"8\",\"sh\":\"true\"",
		 .bodylen = 20},
	};
	struct pr_task_msg t;
	struct pr_buf b;
	cJSON *root;
	const cJSON *it;
	size_t n;

	pr_buf_init(&b, 0);
	ASSERT_OK(pr_msg_tasks(&b, refs, 1));
	ASSERT_STR_EQ(b.data, "{\"type\":\"task\",\"seq\":7,\"attempt\":1,"
	    "\"id\":\"t7\",\"argv\":[\"echo\",\"hi\"]}\n");
	root = parse_ok(b.data, PR_MSG_TASK);
	ASSERT_OK(pr_task_decode(root, &t, NULL));
	ASSERT_U64_EQ(t.seq, 7);
	ASSERT_EQ(t.attempt, 1);
	ASSERT_STR_EQ(t.id, "t7");
	ASSERT_EQ(t.kind, PR_KIND_ARGV);
	ASSERT_EQ(cJSON_GetArraySize(t.argv), 2);
	ASSERT(t.env == NULL && t.cwd == NULL && !t.has_seed);
	ASSERT_EQ(t.timeout_ms, 0);
	ASSERT_EQ(t.threads, 0);
	ASSERT_OK(pr_batch_decode(root, PR_MSG_TASK, &it, &n, NULL));
	ASSERT(it == root);
	ASSERT_EQ(n, 1);
	cJSON_Delete(root);

	pr_buf_reset(&b);
	ASSERT_OK(pr_msg_tasks(&b, refs, 2));
	ASSERT_STR_EQ(b.data, "{\"type\":\"tasks\",\"tasks\":[{\"seq\":7,"
	    "\"attempt\":1,\"id\":\"t7\",\"argv\":[\"echo\",\"hi\"]},"
	    "{\"seq\":8,\"attempt\":2,\"id\":\"8\",\"sh\":\"true\"}]}\n");
	root = parse_ok(b.data, PR_MSG_TASKS);
	ASSERT_OK(pr_batch_decode(root, PR_MSG_TASKS, &it, &n, NULL));
	ASSERT_EQ(n, 2);
	ASSERT_OK(pr_task_decode(it, &t, NULL));
	ASSERT_U64_EQ(t.seq, 7);
	ASSERT_OK(pr_task_decode(it->next, &t, NULL));
	ASSERT_EQ(t.kind, PR_KIND_SH);
	ASSERT_STR_EQ(t.sh, "true");
	ASSERT_STR_EQ(t.id, "8");
	/* id is optional on the wire */
	{
		cJSON *j = parse_ok("{\"type\":\"task\",\"seq\":3,"
		    "\"attempt\":1,\"sh\":\"x\"}", PR_MSG_TASK);

		ASSERT_OK(pr_task_decode(j, &t, NULL));
		ASSERT(t.id == NULL);
		cJSON_Delete(j);
	}
	ASSERT(it->next->next == NULL);
	cJSON_Delete(root);

	ASSERT_EQ(pr_msg_tasks(&b, refs, 0), -EINVAL);
	pr_buf_release(&b);
}

TEST(proto_task_fields)
{
	const char *line = "{\"type\":\"task\",\"seq\":9007199254740991,"
	    "\"attempt\":3,\"id\":\"k\",\"kernel\":\"chol\","
	    "\"params\":{\"n\":5000,\"opts\":[1,\"x\",true,null,{}]},"
	    "\"env\":{\"A\":\"1\",\"B\":\"\"},\"cwd\":\"/tmp\","
	    "\"timeout_ms\":60000,\"seed\":\"18446744073709551615\","
	    "\"threads\":4,\"unknown_field\":[1,2]}";
	struct pr_task_msg t;
	struct pr_buf b;
	cJSON *root = parse_ok(line, PR_MSG_TASK);

	ASSERT_OK(pr_task_decode(root, &t, NULL));
	ASSERT_U64_EQ(t.seq, PR_SEQ_MAX);
	ASSERT_EQ(t.kind, PR_KIND_KERNEL);
	ASSERT_STR_EQ(t.kernel, "chol");
	ASSERT(cJSON_IsObject(t.params));
	ASSERT(cJSON_IsObject(t.env));
	ASSERT_STR_EQ(t.cwd, "/tmp");
	ASSERT_EQ(t.timeout_ms, 60000);
	ASSERT(t.has_seed);
	ASSERT_U64_EQ(t.seed, UINT64_MAX);
	ASSERT_EQ(t.threads, 4);
	pr_buf_init(&b, 0);
	ASSERT_OK(pr_task_body_encode(&b, &t));
	ASSERT_STR_EQ(b.data, "\"id\":\"k\",\"kernel\":\"chol\","
	    "\"params\":{\"n\":5000,\"opts\":[1,\"x\",true,null,{}]},"
	    "\"env\":{\"A\":\"1\",\"B\":\"\"},\"cwd\":\"/tmp\","
	    "\"timeout_ms\":60000,\"seed\":\"18446744073709551615\","
	    "\"threads\":4");
	pr_buf_release(&b);
	cJSON_Delete(root);
}

TEST(proto_task_bad)
{
	decode_fails("{\"type\":\"task\",\"seq\":0,\"attempt\":1,"
	    "\"sh\":\"x\"}", PR_MSG_TASK,
	    "field 'seq' must be a positive integer");
	decode_fails("{\"type\":\"task\",\"seq\":-1,\"attempt\":1,"
	    "\"sh\":\"x\"}", PR_MSG_TASK,
	    "field 'seq' must be a positive integer");
	decode_fails("{\"type\":\"task\",\"seq\":1.5,\"attempt\":1,"
	    "\"sh\":\"x\"}", PR_MSG_TASK,
	    "field 'seq' must be a positive integer");
	decode_fails("{\"type\":\"task\",\"seq\":9007199254740992,"
	    "\"attempt\":1,\"sh\":\"x\"}", PR_MSG_TASK,
	    "field 'seq' must be a positive integer");
	decode_fails("{\"type\":\"task\",\"seq\":\"1\",\"attempt\":1,"
	    "\"sh\":\"x\"}", PR_MSG_TASK,
	    "field 'seq' must be a positive integer");
	decode_fails("{\"type\":\"task\",\"seq\":true,\"attempt\":1,"
	    "\"sh\":\"x\"}", PR_MSG_TASK,
	    "field 'seq' must be a positive integer");
	decode_fails("{\"type\":\"task\",\"seq\":1e400,\"attempt\":1,"
	    "\"sh\":\"x\"}", PR_MSG_TASK,
	    "field 'seq' must be a positive integer");
	decode_fails("{\"type\":\"task\",\"attempt\":1,\"sh\":\"x\"}",
	    PR_MSG_TASK, "missing field 'seq'");
	decode_fails("{\"type\":\"task\",\"seq\":1,\"attempt\":0,"
	    "\"sh\":\"x\"}", PR_MSG_TASK,
	    "field 'attempt' must be a positive integer");
	decode_fails("{\"type\":\"task\",\"seq\":1,\"attempt\":1,\"id\":\"x\"}",
	    PR_MSG_TASK, "task needs one of 'argv', 'sh' or 'kernel'");
	decode_fails("{\"type\":\"task\",\"seq\":1,\"attempt\":1,"
	    "\"id\":\"i\",\"sh\":\"x\",\"argv\":[\"y\"]}", PR_MSG_TASK,
	    "task has more than one of 'argv', 'sh' and 'kernel'");
	decode_fails("{\"type\":\"task\",\"seq\":1,\"attempt\":1,"
	    "\"id\":\"i\",\"argv\":[]}", PR_MSG_TASK,
	    "field 'argv' must be a non-empty array of strings");
	decode_fails("{\"type\":\"task\",\"seq\":1,\"attempt\":1,"
	    "\"id\":\"i\",\"argv\":[\"a\",1]}", PR_MSG_TASK,
	    "field 'argv' must be a non-empty array of strings");
	decode_fails("{\"type\":\"task\",\"seq\":1,\"attempt\":1,"
	    "\"id\":\"i\",\"argv\":\"ls\"}", PR_MSG_TASK,
	    "field 'argv' must be a non-empty array of strings");
	decode_fails("{\"type\":\"task\",\"seq\":1,\"attempt\":1,"
	    "\"id\":\"i\",\"sh\":[\"x\"]}", PR_MSG_TASK,
	    "field 'sh' must be a string");
	decode_fails("{\"type\":\"task\",\"seq\":1,\"attempt\":1,"
	    "\"id\":\"i\",\"kernel\":\"k\",\"params\":[1]}", PR_MSG_TASK,
	    "field 'params' must be an object");
	decode_fails("{\"type\":\"task\",\"seq\":1,\"attempt\":1,"
	    "\"id\":\"i\",\"sh\":\"x\",\"env\":{\"A\":1}}", PR_MSG_TASK,
	    "field 'env' must be an object of strings (names without '=')");
	decode_fails("{\"type\":\"task\",\"seq\":1,\"attempt\":1,"
	    "\"id\":\"i\",\"sh\":\"x\",\"env\":{\"A=B\":\"1\"}}", PR_MSG_TASK,
	    "field 'env' must be an object of strings (names without '=')");
	decode_fails("{\"type\":\"task\",\"seq\":1,\"attempt\":1,"
	    "\"id\":\"i\",\"sh\":\"x\",\"env\":[\"A=1\"]}", PR_MSG_TASK,
	    "field 'env' must be an object of strings (names without '=')");
	decode_fails("{\"type\":\"task\",\"seq\":1,\"attempt\":1,"
	    "\"id\":\"i\",\"sh\":\"x\",\"timeout_ms\":-1}", PR_MSG_TASK,
	    "field 'timeout_ms' must be a non-negative integer");
	decode_fails("{\"type\":\"task\",\"seq\":1,\"attempt\":1,"
	    "\"id\":\"i\",\"sh\":\"x\",\"cwd\":false}", PR_MSG_TASK,
	    "field 'cwd' must be a string");
	decode_fails("{\"type\":\"task\",\"seq\":1,\"attempt\":1,"
	    "\"sh\":\"x\",\"id\":7}", PR_MSG_TASK,
	    "field 'id' must be a string");
	decode_fails("{\"type\":\"task\",\"seq\":1,\"attempt\":1,"
	    "\"id\":\"i\",\"sh\":\"x\",\"seed\":-1}", PR_MSG_TASK,
	    "field 'seed' must be an integer in 0..18446744073709551615");
	decode_fails("{\"type\":\"task\",\"seq\":1,\"attempt\":1,"
	    "\"id\":\"i\",\"sh\":\"x\",\"threads\":100000}", PR_MSG_TASK,
	    "field 'threads' must be an integer in 0..65536");
	decode_fails("{\"type\":\"tasks\",\"tasks\":[]}", PR_MSG_TASKS,
	    "field 'tasks' must be a non-empty array");
	decode_fails("{\"type\":\"tasks\"}", PR_MSG_TASKS,
	    "missing field 'tasks'");
	decode_fails("{\"type\":\"tasks\",\"tasks\":[1]}", PR_MSG_TASKS,
	    "task is not an object");
	decode_fails("{\"type\":\"tasks\",\"tasks\":[{\"seq\":1,"
	    "\"attempt\":1,\"id\":\"a\",\"sh\":\"a\"},{\"seq\":2,"
	    "\"attempt\":1,\"id\":\"b\"}]}",
	    PR_MSG_TASKS, "task needs one of 'argv', 'sh' or 'kernel'");
}

TEST(proto_seq_limits)
{
	struct pr_task_msg t;
	cJSON *root;

	root = parse_ok("{\"type\":\"task\",\"seq\":1.0,\"attempt\":1e0,"
	    "\"id\":\"1\",\"sh\":\"x\"}", PR_MSG_TASK);
	ASSERT_OK(pr_task_decode(root, &t, NULL));
	ASSERT_U64_EQ(t.seq, 1);
	ASSERT_EQ(t.attempt, 1);
	cJSON_Delete(root);
	root = parse_ok("{\"type\":\"task\",\"seq\":9007199254740991,"
	    "\"attempt\":2147483647,\"id\":\"1\",\"sh\":\"x\"}", PR_MSG_TASK);
	ASSERT_OK(pr_task_decode(root, &t, NULL));
	ASSERT_U64_EQ(t.seq, 9007199254740991ull);
	ASSERT_EQ(t.attempt, 2147483647);
	cJSON_Delete(root);
	decode_fails("{\"type\":\"task\",\"seq\":1,\"attempt\":2147483648,"
	    "\"sh\":\"x\"}", PR_MSG_TASK,
	    "field 'attempt' must be a positive integer");
}

TEST(proto_cancel_started_output)
{
	struct pr_buf b, out;
	cJSON *root;
	uint64_t seq;
	int attempt, grace, stream;
	long pid;
	char bin[300];

	pr_buf_init(&b, 0);
	pr_buf_init(&out, 0);
	ASSERT_OK(pr_msg_cancel(&b, 12, 2, 2000));
	ASSERT_STR_EQ(b.data, "{\"type\":\"cancel\",\"seq\":12,\"attempt\":2,"
	    "\"grace_ms\":2000}\n");
	root = parse_ok(b.data, PR_MSG_CANCEL);
	ASSERT_OK(pr_cancel_decode(root, &seq, &attempt, &grace, NULL));
	ASSERT_U64_EQ(seq, 12);
	ASSERT_EQ(attempt, 2);
	ASSERT_EQ(grace, 2000);
	cJSON_Delete(root);

	pr_buf_reset(&b);
	ASSERT_OK(pr_msg_started(&b, 5, 1, 31337));
	ASSERT_STR_EQ(b.data, "{\"type\":\"started\",\"seq\":5,\"attempt\":1,"
	    "\"pid\":31337}\n");
	root = parse_ok(b.data, PR_MSG_STARTED);
	ASSERT_OK(pr_started_decode(root, &seq, &attempt, &pid, NULL));
	ASSERT_EQ(pid, 31337);
	cJSON_Delete(root);

	pr_buf_reset(&b);
	ASSERT_OK(pr_msg_output(&b, 5, 1, 1, "line\n\t\"q\"", 9));
	ASSERT_STR_EQ(b.data, "{\"type\":\"output\",\"seq\":5,\"attempt\":1,"
	    "\"stream\":1,\"data\":\"line\\n\\t\\\"q\\\"\"}\n");
	root = parse_ok(b.data, PR_MSG_OUTPUT);
	ASSERT_OK(pr_output_decode(root, &seq, &attempt, &stream, &out,
	    NULL));
	ASSERT_EQ(stream, 1);
	ASSERT_EQ(out.len, 9);
	ASSERT_MEM_EQ(out.data, "line\n\t\"q\"", 9);
	cJSON_Delete(root);

	/* binary output goes as base64 and comes back byte-exact */
	for (int i = 0; i < 300; i++)
		bin[i] = (char)(i * 7);
	pr_buf_reset(&b);
	pr_buf_reset(&out);
	ASSERT_OK(pr_msg_output(&b, 5, 1, 2, bin, sizeof(bin)));
	ASSERT(strstr(b.data, "\"data_b64\":\"") != NULL);
	root = parse_ok(b.data, PR_MSG_OUTPUT);
	ASSERT_OK(pr_output_decode(root, &seq, &attempt, &stream, &out,
	    NULL));
	ASSERT_EQ(stream, 2);
	ASSERT_EQ(out.len, sizeof(bin));
	ASSERT_MEM_EQ(out.data, bin, sizeof(bin));
	cJSON_Delete(root);

	ASSERT_EQ(pr_msg_output(&b, 5, 1, 3, "x", 1), -EINVAL);
	ASSERT_EQ(pr_msg_output(&b, 5, 1, 1, bin, PR_OUTPUT_CHUNK + 1),
	    -EINVAL);

	decode_fails("{\"type\":\"output\",\"seq\":1,\"attempt\":1,"
	    "\"stream\":3,\"data\":\"x\"}", PR_MSG_OUTPUT,
	    "field 'stream' must be 1 or 2");
	decode_fails("{\"type\":\"output\",\"seq\":1,\"attempt\":1,"
	    "\"stream\":1}", PR_MSG_OUTPUT,
	    "missing field 'data' or 'data_b64'");
	decode_fails("{\"type\":\"output\",\"seq\":1,\"attempt\":1,"
	    "\"stream\":1,\"data_b64\":\"abc\"}", PR_MSG_OUTPUT,
	    "field 'data' must be a string, or 'data_b64' base64");
	decode_fails("{\"type\":\"output\",\"seq\":1,\"attempt\":1,"
	    "\"stream\":1,\"data\":5}", PR_MSG_OUTPUT,
	    "field 'data' must be a string, or 'data_b64' base64");
	decode_fails("{\"type\":\"cancel\",\"seq\":1,\"attempt\":1,"
	    "\"grace_ms\":-5}", PR_MSG_CANCEL,
	    "field 'grace_ms' must be a non-negative integer");
	decode_fails("{\"type\":\"started\",\"seq\":1,\"attempt\":1}",
	    PR_MSG_STARTED, "missing field 'pid'");
	pr_buf_release(&b);
	pr_buf_release(&out);
}

TEST(proto_output_cap)
{
	/* a peer may not send more than PR_OUTPUT_CHUNK bytes at once */
	struct pr_buf line, out;
	struct pr_errbuf eb = {0};
	cJSON *root;
	enum pr_msg_type t;
	uint64_t seq;
	int attempt, stream;

	pr_buf_init(&line, 0);
	pr_buf_init(&out, 0);
	ASSERT_OK(pr_buf_adds(&line, "{\"type\":\"output\",\"seq\":1,"
	    "\"attempt\":1,\"stream\":1,\"data\":\""));
	for (int i = 0; i < PR_OUTPUT_CHUNK + 1; i++)
		ASSERT_OK(pr_buf_addc(&line, 'x'));
	ASSERT_OK(pr_buf_adds(&line, "\"}"));
	ASSERT_OK(pr_msg_parse(line.data, line.len, &root, &t, NULL));
	ASSERT_OK(pr_buf_adds(&out, "keep"));
	ASSERT_EQ(pr_output_decode(root, &seq, &attempt, &stream, &out, &eb),
	    PR_EPROTO);
	ASSERT_STR_EQ(eb.msg, "field 'data' holds more than 65536 bytes");
	/* out is left as it was */
	ASSERT_STR_EQ(out.data, "keep");
	cJSON_Delete(root);
	pr_buf_release(&line);
	pr_buf_release(&out);
}

TEST(proto_broadcast)
{
	struct pr_buf b, out;
	cJSON *root;

	pr_buf_init(&b, 0);
	pr_buf_init(&out, 0);
	ASSERT_OK(pr_msg_broadcast(&b, "abc", 3));
	ASSERT_STR_EQ(b.data,
	    "{\"type\":\"broadcast\",\"data\":\"abc\"}\n");
	root = parse_ok(b.data, PR_MSG_BROADCAST);
	ASSERT_OK(pr_broadcast_decode(root, &out, NULL));
	ASSERT_STR_EQ(out.data, "abc");
	cJSON_Delete(root);
	pr_buf_reset(&b);
	ASSERT_OK(pr_msg_broadcast(&b, "a\0b", 3));
	ASSERT_STR_EQ(b.data,
	    "{\"type\":\"broadcast\",\"data_b64\":\"YQBi\"}\n");
	pr_buf_reset(&b);
	ASSERT_OK(pr_msg_broadcast(&b, NULL, 0));
	ASSERT_STR_EQ(b.data, "{\"type\":\"broadcast\",\"data\":\"\"}\n");
	decode_fails("{\"type\":\"broadcast\"}", PR_MSG_BROADCAST,
	    "missing field 'data' or 'data_b64'");
	pr_buf_release(&b);
	pr_buf_release(&out);
}

TEST(proto_result)
{
	struct pr_result_msg r = {
		.seq = 3, .attempt = 1, .status = PR_ST_OK, .exit = 0,
		.signal = 0, .start = 1700000000.25, .elapsed = 0.5,
		.out = "hello\n", .outlen = 6,
	};
	struct pr_result_msg d;
	struct pr_buf b, out, err;
	cJSON *root;

	pr_buf_init(&b, 0);
	pr_buf_init(&out, 0);
	pr_buf_init(&err, 0);
	ASSERT_OK(pr_msg_result(&b, &r));
	ASSERT_STR_EQ(b.data, "{\"type\":\"result\",\"seq\":3,\"attempt\":1,"
	    "\"status\":\"ok\",\"exit\":0,\"start\":1700000000.25,"
	    "\"elapsed\":0.5,\"stdout\":\"hello\\n\"}\n");
	root = parse_ok(b.data, PR_MSG_RESULT);
	ASSERT_OK(pr_result_decode(root, &d, &out, &err, NULL));
	ASSERT_EQ(d.status, PR_ST_OK);
	ASSERT_EQ(d.exit, 0);
	ASSERT_EQ(d.signal, 0);
	ASSERT(!d.has_value);
	ASSERT(d.error == NULL);
	ASSERT_DBL_NEAR(d.start, 1700000000.25, 0);
	ASSERT_EQ(d.outlen, 6);
	ASSERT_MEM_EQ(d.out, "hello\n", 6);
	ASSERT_EQ(d.errlen, 0);
	ASSERT(d.extra_json == NULL);
	cJSON_Delete(root);

	/* every optional field */
	r.status = PR_ST_FAILED;
	r.exit = -1;
	r.signal = 9;
	r.has_value = true;
	r.value = 11.849097103207377;
	r.error = "killed";
	r.out = "\xff\x00";
	r.outlen = 2;
	r.err = "warn\n";
	r.errlen = 5;
	r.extra = "\"seconds\":1.5";
	pr_buf_reset(&b);
	ASSERT_OK(pr_msg_result(&b, &r));
	ASSERT_STR_EQ(b.data, "{\"type\":\"result\",\"seq\":3,\"attempt\":1,"
	    "\"status\":\"failed\",\"signal\":9,\"start\":1700000000.25,"
	    "\"elapsed\":0.5,\"value\":11.849097103207377,"
	    "\"error\":\"killed\",\"stdout_b64\":\"/wA=\","
	    "\"stderr\":\"warn\\n\",\"extra\":{\"seconds\":1.5}}\n");
	root = parse_ok(b.data, PR_MSG_RESULT);
	/* out and err may be one buffer */
	pr_buf_reset(&out);
	ASSERT_OK(pr_buf_adds(&out, "before"));
	ASSERT_OK(pr_result_decode(root, &d, &out, &out, NULL));
	ASSERT_EQ(d.exit, -1);
	ASSERT_EQ(d.signal, 9);
	ASSERT(d.has_value);
	ASSERT_DBL_NEAR(d.value, 11.849097103207377, 0);
	ASSERT_STR_EQ(d.error, "killed");
	ASSERT_EQ(d.outlen, 2);
	ASSERT_MEM_EQ(d.out, "\xff\x00", 2);
	ASSERT_EQ(d.errlen, 5);
	ASSERT_MEM_EQ(d.err, "warn\n", 5);
	ASSERT_EQ(out.len, 13);
	ASSERT(cJSON_IsObject(d.extra_json));
	/* NULL buffers skip the bytes */
	ASSERT_OK(pr_result_decode(root, &d, NULL, NULL, NULL));
	ASSERT(d.out == NULL && d.outlen == 0 && d.errlen == 0);
	/* the decoded struct writes the same line back */
	pr_buf_reset(&out);
	pr_buf_reset(&err);
	ASSERT_OK(pr_result_decode(root, &d, &out, &err, NULL));
	{
		struct pr_buf again;

		pr_buf_init(&again, 0);
		ASSERT_OK(pr_msg_result(&again, &d));
		ASSERT_STR_EQ(again.data, b.data);
		pr_buf_release(&again);
	}
	cJSON_Delete(root);

	/* a NaN value travels as null and comes back NaN */
	r.value = NAN;
	r.extra = NULL;
	pr_buf_reset(&b);
	ASSERT_OK(pr_msg_result(&b, &r));
	ASSERT(strstr(b.data, "\"value\":null,") != NULL);
	root = parse_ok(b.data, PR_MSG_RESULT);
	ASSERT_OK(pr_result_decode(root, &d, NULL, NULL, NULL));
	ASSERT(d.has_value && isnan(d.value));
	cJSON_Delete(root);
	pr_buf_release(&b);
	pr_buf_release(&out);
	pr_buf_release(&err);
}

TEST(proto_result_bad)
{
	struct pr_buf out;
	struct pr_result_msg r;
	struct pr_errbuf eb = {0};
	cJSON *root;

	decode_fails("{\"type\":\"result\",\"seq\":1,\"attempt\":1,"
	    "\"status\":\"great\",\"start\":0,\"elapsed\":0}", PR_MSG_RESULT,
	    "field 'status' must be one of ok, failed, timeout, cancelled, "
	    "error");
	decode_fails("{\"type\":\"result\",\"seq\":1,\"attempt\":1,"
	    "\"status\":\"lost\",\"start\":0,\"elapsed\":0}", PR_MSG_RESULT,
	    "field 'status' must be one of ok, failed, timeout, cancelled, "
	    "error");
	decode_fails("{\"type\":\"result\",\"seq\":1,\"attempt\":1,"
	    "\"status\":\"ok\",\"exit\":256,\"start\":0,\"elapsed\":0}",
	    PR_MSG_RESULT, "field 'exit' must be an integer in 0..255");
	decode_fails("{\"type\":\"result\",\"seq\":1,\"attempt\":1,"
	    "\"status\":\"ok\",\"start\":-1,\"elapsed\":0}", PR_MSG_RESULT,
	    "field 'start' must be a non-negative number");
	decode_fails("{\"type\":\"result\",\"seq\":1,\"attempt\":1,"
	    "\"status\":\"ok\",\"start\":0}", PR_MSG_RESULT,
	    "missing field 'elapsed'");
	decode_fails("{\"type\":\"result\",\"seq\":1,\"attempt\":1,"
	    "\"status\":\"ok\",\"start\":0,\"elapsed\":0,\"value\":\"1\"}",
	    PR_MSG_RESULT, "field 'value' must be a number or null");
	decode_fails("{\"type\":\"result\",\"seq\":1,\"attempt\":1,"
	    "\"status\":\"ok\",\"start\":0,\"elapsed\":0,\"extra\":[]}",
	    PR_MSG_RESULT, "field 'extra' must be an object");
	decode_fails("{\"type\":\"result\",\"seq\":1,\"attempt\":1,"
	    "\"status\":\"ok\",\"start\":0,\"elapsed\":0,\"error\":{}}",
	    PR_MSG_RESULT, "field 'error' must be a string");
	decode_fails("{\"type\":\"results\",\"results\":{}}", PR_MSG_RESULTS,
	    "field 'results' must be a non-empty array");

	/* a bad stderr leaves out untouched too */
	root = parse_ok("{\"type\":\"result\",\"seq\":1,\"attempt\":1,"
	    "\"status\":\"ok\",\"start\":0,\"elapsed\":0,\"stdout\":\"abc\","
	    "\"stderr_b64\":\"!!!!\"}", PR_MSG_RESULT);
	pr_buf_init(&out, 0);
	ASSERT_OK(pr_buf_adds(&out, "x"));
	ASSERT_EQ(pr_result_decode(root, &r, &out, &out, &eb), PR_EPROTO);
	ASSERT_STR_EQ(eb.msg,
	    "field 'stderr' must be a string, or 'stderr_b64' base64");
	ASSERT_STR_EQ(out.data, "x");
	ASSERT_EQ(pr_result_decode(root, &r, NULL, NULL, &eb), 0);
	cJSON_Delete(root);
	pr_buf_release(&out);
}

TEST(proto_results_batch)
{
	struct pr_result_msg r = {
		.seq = 1, .attempt = 1, .status = PR_ST_OK, .exit = 0,
		.start = 10, .elapsed = 1,
	};
	struct pr_buf b;
	cJSON *root;
	const cJSON *it;
	size_t n;
	struct pr_result_msg d;

	pr_buf_init(&b, 0);
	ASSERT_OK(pr_msg_results_open(&b));
	ASSERT_OK(pr_msg_results_add(&b, 0, &r));
	r.seq = 2;
	r.status = PR_ST_TIMEOUT;
	r.exit = -1;
	r.signal = 15;
	ASSERT_OK(pr_msg_results_add(&b, 1, &r));
	ASSERT_OK(pr_msg_results_close(&b));
	ASSERT_STR_EQ(b.data, "{\"type\":\"results\",\"results\":["
	    "{\"seq\":1,\"attempt\":1,\"status\":\"ok\",\"exit\":0,"
	    "\"start\":10,\"elapsed\":1},"
	    "{\"seq\":2,\"attempt\":1,\"status\":\"timeout\",\"signal\":15,"
	    "\"start\":10,\"elapsed\":1}]}\n");
	root = parse_ok(b.data, PR_MSG_RESULTS);
	ASSERT_OK(pr_batch_decode(root, PR_MSG_RESULTS, &it, &n, NULL));
	ASSERT_EQ(n, 2);
	ASSERT_OK(pr_result_decode(it->next, &d, NULL, NULL, NULL));
	ASSERT_EQ(d.status, PR_ST_TIMEOUT);
	ASSERT_EQ(d.signal, 15);
	ASSERT_EQ(pr_batch_decode(root, PR_MSG_HB, &it, &n, NULL),
	    PR_EPROTO);
	cJSON_Delete(root);
	pr_buf_release(&b);
}

TEST(proto_control)
{
	struct pr_buf b;
	cJSON *root;
	double t;
	int running, grace;
	const char *code, *msg, *mode;
	bool fatal;

	pr_buf_init(&b, 0);
	ASSERT_OK(pr_msg_hb(&b, 1700000000.5, 3));
	ASSERT_STR_EQ(b.data,
	    "{\"type\":\"hb\",\"t\":1700000000.5,\"running\":3}\n");
	root = parse_ok(b.data, PR_MSG_HB);
	ASSERT_OK(pr_hb_decode(root, &t, &running, NULL));
	ASSERT_DBL_NEAR(t, 1700000000.5, 0);
	ASSERT_EQ(running, 3);
	cJSON_Delete(root);

	pr_buf_reset(&b);
	ASSERT_OK(pr_msg_error(&b, "unknown-type", "no such type 'x'", false));
	ASSERT_STR_EQ(b.data, "{\"type\":\"error\",\"code\":\"unknown-type\","
	    "\"msg\":\"no such type 'x'\",\"fatal\":false}\n");
	root = parse_ok(b.data, PR_MSG_ERROR);
	ASSERT_OK(pr_error_decode(root, &code, &msg, &fatal, NULL));
	ASSERT_STR_EQ(code, "unknown-type");
	ASSERT_STR_EQ(msg, "no such type 'x'");
	ASSERT(!fatal);
	cJSON_Delete(root);
	root = parse_ok("{\"type\":\"error\",\"code\":\"x\",\"msg\":\"y\"}",
	    PR_MSG_ERROR);
	ASSERT_OK(pr_error_decode(root, &code, &msg, &fatal, NULL));
	ASSERT(!fatal);
	cJSON_Delete(root);

	pr_buf_reset(&b);
	ASSERT_OK(pr_msg_shutdown(&b, "drain", 5000));
	ASSERT_STR_EQ(b.data,
	    "{\"type\":\"shutdown\",\"mode\":\"drain\",\"grace_ms\":5000}\n");
	root = parse_ok(b.data, PR_MSG_SHUTDOWN);
	ASSERT_OK(pr_shutdown_decode(root, &mode, &grace, NULL));
	ASSERT_STR_EQ(mode, "drain");
	ASSERT_EQ(grace, 5000);
	cJSON_Delete(root);

	pr_buf_reset(&b);
	ASSERT_OK(pr_msg_bye(&b));
	ASSERT_STR_EQ(b.data, "{\"type\":\"bye\"}\n");

	decode_fails("{\"type\":\"hb\",\"t\":\"now\",\"running\":0}",
	    PR_MSG_HB, "field 't' must be a non-negative number");
	decode_fails("{\"type\":\"hb\",\"t\":1,\"running\":-1}", PR_MSG_HB,
	    "field 'running' must be a non-negative integer");
	decode_fails("{\"type\":\"error\",\"code\":\"x\",\"msg\":\"y\","
	    "\"fatal\":0}", PR_MSG_ERROR,
	    "field 'fatal' must be true or false");
	decode_fails("{\"type\":\"error\",\"msg\":\"y\"}", PR_MSG_ERROR,
	    "missing field 'code'");
	decode_fails("{\"type\":\"shutdown\",\"mode\":\"later\","
	    "\"grace_ms\":1}", PR_MSG_SHUTDOWN,
	    "field 'mode' must be \"drain\", \"soon\" or \"now\"");
	decode_fails("{\"type\":\"frob\"}", PR_MSG_UNKNOWN,
	    "unknown message type 'frob'");
	pr_buf_release(&b);
}

static void
hb_time(double t, const char *want)
{
	struct pr_buf b, again;
	cJSON *root;
	double back;
	int running;
	char line[128];

	pr_buf_init(&b, 0);
	pr_buf_init(&again, 0);
	ASSERT_OK(pr_msg_hb(&b, t, 0));
	if (want != NULL) {
		snprintf(line, sizeof(line),
		    "{\"type\":\"hb\",\"t\":%s,\"running\":0}\n", want);
		if (strcmp(b.data, line) != 0)
			PR_TEST_FAIL("%.17g: %s", t, b.data);
	}
	/* read back and written again: the same text */
	root = parse_ok(b.data, PR_MSG_HB);
	ASSERT_OK(pr_hb_decode(root, &back, &running, NULL));
	if (!(fabs(back - t) <= 5.5e-7 || t >= 4e9))
		PR_TEST_FAIL("%.17g read back as %.17g (%s)", t, back, b.data);
	ASSERT_OK(pr_msg_hb(&again, back, 0));
	if (strcmp(b.data, again.data) != 0)
		PR_TEST_FAIL("%.17g: %s then %s", t, b.data, again.data);
	cJSON_Delete(root);
	pr_buf_release(&b);
	pr_buf_release(&again);
}

TEST(proto_times_to_the_microsecond)
{
	uint64_t x = 12345;

	hb_time(0, "0");
	hb_time(-0.0, "0");
	hb_time(1.5, "1.5");
	hb_time(0.000001, "0.000001");
	hb_time(0.0000004, "0");
	hb_time(0.0000005, "0.000001");
	hb_time(1700000000.1234567, "1700000000.123457");
	hb_time(1700000000.25, "1700000000.25");
	hb_time(59.9999999, "60");
	hb_time(3999999999.999999, "3999999999.999999");
	hb_time(3999999999.9999996, "4000000000");
	hb_time(4e9, "4000000000");
	hb_time(4e9 + 0.5, "4000000000.5");
	hb_time(1e300, "1e+300");
	for (int i = 0; i < 200000; i++) {
		double t;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		t = (double)(x >> 11) / 9007199254740992.0 * 4.2e9;
		hb_time(t, NULL);
		hb_time(t / 1e6, NULL);
	}
}

TEST(proto_text_is_sanitized)
{
	/* C strings that are not UTF-8 still give valid JSON */
	struct pr_buf b;
	cJSON *root;
	const char *code, *msg;
	bool fatal;

	pr_buf_init(&b, 0);
	ASSERT_OK(pr_msg_error(&b, "x", "caf\xe9 \xc3\xa9 \xff", true));
	ASSERT_STR_EQ(b.data, "{\"type\":\"error\",\"code\":\"x\",\"msg\":"
	    "\"caf\xef\xbf\xbd \xc3\xa9 \xef\xbf\xbd\",\"fatal\":true}\n");
	root = parse_ok(b.data, PR_MSG_ERROR);
	ASSERT_OK(pr_error_decode(root, &code, &msg, &fatal, NULL));
	ASSERT(fatal);
	cJSON_Delete(root);
	/* control characters are escaped */
	pr_buf_reset(&b);
	ASSERT_OK(pr_msg_error(&b, "x", "a\x01\x1f\n", false));
	ASSERT(strstr(b.data, "\"a\\u0001\\u001f\\n\"") != NULL);
	pr_buf_release(&b);
}

TEST(proto_encode_rolls_back)
{
	/* a capped buffer: a failed encode leaves what was there */
	struct pr_result_msg r = {
		.seq = 1, .attempt = 1, .status = PR_ST_OK, .exit = 0,
		.out = "0123456789012345678901234567890123456789", .outlen = 40,
	};
	struct pr_buf b;

	pr_buf_init(&b, 64);
	ASSERT_OK(pr_buf_adds(&b, "kept"));
	ASSERT_EQ(pr_msg_result(&b, &r), PR_ETOOBIG);
	ASSERT_EQ(b.len, 4);
	ASSERT_STR_EQ(b.data, "kept");
	ASSERT_OK(pr_msg_bye(&b));
	ASSERT_STR_EQ(b.data, "kept{\"type\":\"bye\"}\n");
	ASSERT_OK(pr_msg_results_open(&b));
	ASSERT_EQ(pr_msg_results_add(&b, 0, &r), PR_ETOOBIG);
	ASSERT_EQ(b.len, 19 + 29);
	pr_buf_release(&b);
}

TEST(proto_encode_reuses_buffer)
{
	/* the encode path does not allocate once the buffer is big enough */
	struct pr_buf b;
	char *p;
	size_t cap;

	pr_buf_init(&b, 0);
	ASSERT_OK(pr_buf_grow(&b, 4096));
	p = b.data;
	cap = b.cap;
	for (int i = 0; i < 1000; i++) {
		pr_buf_reset(&b);
		ASSERT_OK(pr_msg_hb(&b, 1.5 * i, i));
		ASSERT_OK(pr_msg_cancel(&b, (uint64_t)i + 1, 1, 100));
	}
	ASSERT(b.data == p);
	ASSERT_EQ(b.cap, cap);
	pr_buf_release(&b);
}

/* ---- golden files -------------------------------------------------------- */

static char *
slurp(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	struct pr_buf b;
	char tmp[4096];
	size_t n;

	if (fp == NULL)
		PR_TEST_FAIL("cannot open '%s': %s", path, strerror(errno));
	pr_buf_init(&b, 0);
	while ((n = fread(tmp, 1, sizeof(tmp), fp)) > 0)
		ASSERT_OK(pr_buf_add(&b, tmp, n));
	fclose(fp);
	return pr_buf_detach(&b, len);
}

static bool
ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Names of dir's files ending in suffix, sorted; NULL-terminated. */
static char **
list_dir(const char *dir, const char *suffix, size_t *count)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char **names = NULL;
	size_t n = 0;

	if (d == NULL)
		PR_TEST_FAIL("cannot open '%s': %s", dir, strerror(errno));
	while ((e = readdir(d)) != NULL) {
		if (!ends_with(e->d_name, suffix))
			continue;
		names = realloc(names, (n + 2) * sizeof(*names));
		ASSERT(names != NULL);
		names[n++] = strdup(e->d_name);
	}
	closedir(d);
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0;
		    j--) {
			char *t = names[j];

			names[j] = names[j - 1];
			names[j - 1] = t;
		}
	if (names != NULL)
		names[n] = NULL;
	*count = n;
	return names;
}

struct golden {
	const char *file;
	const char *want_type;
	size_t lines;
	struct pr_buf out;
};

static int
golden_line(void *arg, char *line, size_t len, int err)
{
	struct golden *g = arg;
	struct pr_errbuf eb = {0};
	enum pr_msg_type t;
	cJSON *root;

	if (err != 0)
		PR_TEST_FAIL("%s:%zu: line too long", g->file, g->lines + 1);
	g->lines++;
	if (pr_msg_parse(line, len, &root, &t, &eb) != 0)
		PR_TEST_FAIL("%s:%zu: %s", g->file, g->lines, eb.msg);
	if (strcmp(pr_msg_type_name(t), g->want_type) != 0)
		PR_TEST_FAIL("%s:%zu: a '%s' in the file for '%s'", g->file,
		    g->lines, pr_msg_type_name(t), g->want_type);
	pr_buf_reset(&g->out);
	if (pr_msg_canonical(&g->out, root, t, &eb) != 0)
		PR_TEST_FAIL("%s:%zu: %s", g->file, g->lines, eb.msg);
	if (g->out.len != len + 1 || memcmp(g->out.data, line, len) != 0 ||
	    g->out.data[len] != '\n')
		PR_TEST_FAIL("%s:%zu: not canonical:\n#   golden  %s\n#   "
		    "encoded %s", g->file, g->lines, line, g->out.data);
	cJSON_Delete(root);
	return 0;
}

TEST(proto_golden_round_trip)
{
	char dir[1024], path[1200], type[64];
	char **names;
	size_t n, total = 0, seen_types = 0;

	snprintf(dir, sizeof(dir), "%s/proto", pr_test_fixtures());
	names = list_dir(dir, ".jsonl", &n);
	for (size_t i = 0; i < n; i++) {
		struct golden g = {0};
		struct pr_framer f;
		char *data;
		size_t len;

		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		snprintf(type, sizeof(type), "%.*s",
		    (int)(strlen(names[i]) - 6), names[i]);
		data = slurp(path, &len);
		g.file = names[i];
		g.want_type = type;
		pr_buf_init(&g.out, 0);
		pr_framer_init(&f, PR_MAX_FRAME);
		ASSERT_OK(pr_framer_feed(&f, data, len, golden_line, &g));
		ASSERT_OK(pr_framer_finish(&f, false, golden_line, &g));
		if (g.lines == 0)
			PR_TEST_FAIL("%s: no lines", names[i]);
		total += g.lines;
		seen_types++;
		pr_framer_release(&f);
		pr_buf_release(&g.out);
		free(data);
		free(names[i]);
	}
	free(names);
	/* one file per message type */
	ASSERT_EQ(seen_types, 15);
	ASSERT(total >= 30);
}

/* ---- bad frames and messages --------------------------------------------- */

/*
 * Each tests/fixtures/proto/bad/NAME.txt starts with header lines
 *	#! error PR_EPROTO		the code the pipeline must stop with
 *	#! msg column 17: invalid JSON	the message (optional)
 *	#! line 2			the line it is on (optional)
 *	#! max_line 64			the framer's cap (default 1 MiB)
 * and the rest of the file is the stream, fed through the framer; each
 * line is parsed and decoded as its type (pr_msg_canonical).
 */
struct badrun {
	struct pr_framer *f;
	int rc;
	uint64_t line;
	struct pr_errbuf eb;
	struct pr_buf out;
};

static int
bad_line(void *arg, char *line, size_t len, int err)
{
	struct badrun *r = arg;
	enum pr_msg_type t;
	cJSON *root;

	r->line = r->f->lines;
	if (err != 0)
		return r->rc = err;
	if ((r->rc = pr_msg_parse(line, len, &root, &t, &r->eb)) != 0)
		return r->rc;
	r->rc = pr_msg_canonical(&r->out, root, t, &r->eb);
	cJSON_Delete(root);
	return r->rc;
}

static int
code_by_name(const char *s)
{
#define XX(name, val, msg) if (strcmp(s, "PR_E" #name) == 0) return val;
	PR_ERRNO_MAP(XX)
#undef XX
	PR_TEST_FAIL("unknown error name '%s'", s);
	return 0;
}

TEST(proto_bad_fixtures)
{
	char dir[1024], path[1200];
	char **names;
	size_t n;

	snprintf(dir, sizeof(dir), "%s/proto/bad", pr_test_fixtures());
	names = list_dir(dir, ".txt", &n);
	ASSERT(n >= 20);
	for (size_t i = 0; i < n; i++) {
		struct badrun r = {0};
		struct pr_framer f;
		char *data, *p, *want_msg = NULL;
		size_t len, max_line = PR_MAX_FRAME;
		long want_line = -1;
		int want = 0, rc;

		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		data = slurp(path, &len);
		p = data;
		while (strncmp(p, "#! ", 3) == 0) {
			char *eol = strchr(p, '\n');

			ASSERT(eol != NULL);
			*eol = '\0';
			if (strncmp(p + 3, "error ", 6) == 0)
				want = code_by_name(p + 9);
			else if (strncmp(p + 3, "msg ", 4) == 0)
				want_msg = p + 7;
			else if (strncmp(p + 3, "line ", 5) == 0)
				want_line = atol(p + 8);
			else if (strncmp(p + 3, "max_line ", 9) == 0)
				max_line = (size_t)atol(p + 12);
			else
				PR_TEST_FAIL("%s: bad header '%s'", names[i],
				    p);
			p = eol + 1;
		}
		if (want == 0)
			PR_TEST_FAIL("%s: no '#! error' header", names[i]);
		pr_framer_init(&f, max_line);
		pr_buf_init(&r.out, 0);
		r.f = &f;
		rc = pr_framer_feed(&f, p, len - (size_t)(p - data), bad_line,
		    &r);
		if (rc == 0)
			rc = pr_framer_finish(&f, false, bad_line, &r);
		if (rc != want)
			PR_TEST_FAIL("%s: got %d (%s), want %d", names[i], rc,
			    r.eb.msg, want);
		if (want_msg != NULL && strcmp(r.eb.msg, want_msg) != 0)
			PR_TEST_FAIL("%s: got '%s', want '%s'", names[i],
			    r.eb.msg, want_msg);
		if (want_line >= 0 && rc != PR_ETORN &&
		    r.line != (uint64_t)want_line)
			PR_TEST_FAIL("%s: on line %" PRIu64 ", want %ld",
			    names[i], r.line, want_line);
		pr_framer_release(&f);
		pr_buf_release(&r.out);
		free(data);
		free(names[i]);
	}
	free(names);
}

/* ---- the specification's examples ---------------------------------------- */

/*
 * Every one-line example in man/parrun-protocol.7 (".Dl {...}") must be
 * a message in canonical form, so the page cannot drift from the code.
 */
TEST(proto_man_page_examples)
{
	char path[1200];
	char *data, *line, *save = NULL;
	size_t len, n = 0;

	snprintf(path, sizeof(path), "%s/../../man/parrun-protocol.7",
	    pr_test_fixtures());
	data = slurp(path, &len);
	for (line = data; line != NULL; line = save) {
		struct pr_errbuf eb = {0};
		struct pr_buf msg, out;
		enum pr_msg_type t;
		cJSON *root;
		char *nl = strchr(line, '\n');

		save = nl != NULL ? nl + 1 : NULL;
		if (nl != NULL)
			*nl = '\0';
		if (strncmp(line, ".Dl {", 5) != 0)
			continue;
		/* mdoc writes a backslash as \e */
		pr_buf_init(&msg, 0);
		for (const char *p = line + 4; *p != '\0'; p++) {
			if (p[0] == '\\' && p[1] == 'e') {
				ASSERT_OK(pr_buf_addc(&msg, '\\'));
				p++;
			} else {
				ASSERT_OK(pr_buf_addc(&msg, *p));
			}
		}
		if (pr_msg_parse(msg.data, msg.len, &root, &t, &eb) != 0)
			PR_TEST_FAIL("%s: %s", msg.data, eb.msg);
		pr_buf_init(&out, 0);
		if (pr_msg_canonical(&out, root, t, &eb) != 0)
			PR_TEST_FAIL("%s: %s", msg.data, eb.msg);
		if (out.len != msg.len + 1 ||
		    memcmp(out.data, msg.data, msg.len) != 0)
			PR_TEST_FAIL("not canonical:\n#   page    %s\n#   "
			    "encoded %s", msg.data, out.data);
		cJSON_Delete(root);
		pr_buf_release(&msg);
		pr_buf_release(&out);
		n++;
	}
	free(data);
	ASSERT(n >= 15);
}

/* ---- fast decoders against the general path --------------------------- */

/*
 * Decode line both ways and write both back in canonical form: when the
 * fast decoders take the line, the general path must take it too and
 * give the same bytes.  Returns whether the fast decoders took it.
 */
static bool
fast_vs_tree(const char *line)
{
	struct pr_errbuf eb = { 0, "" };
	struct pr_buf slow, fast;
	enum pr_msg_type type;
	size_t len = strlen(line);
	cJSON *root = NULL;
	char *copy;
	int src = -1, frc;

	pr_buf_init(&slow, 0);
	pr_buf_init(&fast, 0);
	copy = strdup(line);
	ASSERT(copy != NULL);
	if (pr_msg_parse(copy, len, &root, &type, &eb) == 0) {
		src = pr_msg_canonical(&slow, root, type, &eb);
		cJSON_Delete(root);
	}
	frc = pr_fast_canonical(&fast, copy, len);
	if (frc == 0 && (src != 0 || slow.len != fast.len ||
	    memcmp(slow.data, fast.data, slow.len) != 0))
		PR_TEST_FAIL("fast and tree decoders differ on %s\n"
		    "# tree (%d): %s# fast: %s", line, src,
		    src == 0 ? slow.data : eb.msg, fast.data);
	ASSERT(frc == 0 || frc == 1);
	if (frc == 1)
		ASSERT_EQ(fast.len, 0);
	free(copy);
	pr_buf_release(&slow);
	pr_buf_release(&fast);
	return frc == 0;
}

TEST(proto_fast_task_lines)
{
	static const struct { const char *line; bool fast; } c[] = {
		{ "{\"type\":\"task\",\"seq\":1,\"attempt\":1,\"id\":\"1\","
		    "\"kernel\":\"noop\"}", true },
		{ "{\"type\":\"tasks\",\"tasks\":[{\"seq\":1,\"attempt\":1,"
		    "\"id\":\"a\",\"kernel\":\"noop\"},{\"seq\":2,\"attempt\":3,"
		    "\"sh\":\"echo hi\"},{\"seq\":3,\"attempt\":1,\"id\":\"c\","
		    "\"kernel\":\"sleep\",\"cwd\":\"/tmp\",\"timeout_ms\":1500,"
		    "\"seed\":42,\"threads\":4}]}", true },
		/* a batch of one */
		{ "{\"type\":\"tasks\",\"tasks\":[{\"seq\":9,\"attempt\":1,"
		    "\"kernel\":\"noop\"}]}", true },
		/* odd whitespace */
		{ " \t{ \"type\" :\r\"tasks\" , \"tasks\" : [ { \"seq\" : 2 ,"
		    "\"attempt\":1\t,\"kernel\" : \"noop\" } ] }\r ", true },
		/* reordered keys, the batch before its type */
		{ "{\"kernel\":\"noop\",\"attempt\":2,\"seq\":5,\"type\":\"task\","
		    "\"id\":\"x\"}", true },
		{ "{\"tasks\":[{\"kernel\":\"noop\",\"seq\":7,\"attempt\":1}],"
		    "\"type\":\"tasks\"}", true },
		/* escapes in strings */
		{ "{\"type\":\"task\",\"seq\":1,\"attempt\":1,\"id\":\"q\\\"x\\\\\","
		    "\"sh\":\"printf '\\\\n' \\\"a\\/b\\\"\\n\\t\\r\\b\\f\"}", true },
		{ "{\"type\":\"task\",\"seq\":1,\"attempt\":1,\"id\":\"\\u00e9\","
		    "\"kernel\":\"noop\"}", false },
		{ "{\"type\":\"task\",\"seq\":1,\"attempt\":1,\"id\":\"\xc3\xa9\","
		    "\"kernel\":\"noop\"}", true },
		/* unknown keys, nested, skipped */
		{ "{\"type\":\"task\",\"zz\":{\"a\":[1,-2.5e3,{\"b\":null}],"
		    "\"c\":true,\"d\":false,\"e\":\"\\\\\"},\"seq\":1,"
		    "\"attempt\":1,\"kernel\":\"noop\",\"yy\":[]}", true },
		/* the general decoder's */
		{ "{\"type\":\"task\",\"seq\":1,\"attempt\":1,\"argv\":[\"true\"]}",
		    false },
		/* params: text for cJSON; ignored but checked without a
		 * kernel */
		{ "{\"type\":\"task\",\"seq\":1,\"attempt\":1,\"kernel\":\"noop\","
		    "\"params\":{\"n\":3}}", true },
		{ "{\"type\":\"tasks\",\"tasks\":[{\"seq\":1,\"attempt\":1,"
		    "\"kernel\":\"noop\",\"params\": { \"kernel\" : \"no\\\"op\","
		    "\"a\":[1,{\"b\":[]},null,-0.5e-3],\"c\":{}}},{\"seq\":2,"
		    "\"params\":{},\"attempt\":1,\"kernel\":\"x\"}]}", true },
		{ "{\"type\":\"task\",\"seq\":1,\"attempt\":1,\"sh\":\"true\","
		    "\"params\":{\"n\":3}}", true },
		{ "{\"type\":\"task\",\"seq\":1,\"attempt\":1,\"sh\":\"true\","
		    "\"params\":[]}", false },
		{ "{\"type\":\"task\",\"seq\":1,\"attempt\":1,\"kernel\":\"noop\","
		    "\"params\":\"n\"}", false },
		{ "{\"type\":\"task\",\"seq\":1,\"attempt\":1,\"kernel\":\"noop\","
		    "\"params\":{\"n\":\"\\u0041\"}}", false },
		{ "{\"type\":\"task\",\"seq\":1,\"attempt\":1,\"kernel\":\"noop\","
		    "\"params\":{\"n\":1},\"params\":{}}", false },
		{ "{\"type\":\"task\",\"seq\":1,\"attempt\":1,\"sh\":\"env\","
		    "\"env\":{\"A\":\"b\"}}", false },
		{ "{\"type\":\"task\",\"seq\":1,\"seq\":2,\"attempt\":1,"
		    "\"kernel\":\"noop\"}", false },
		{ "{\"type\":\"task\",\"type\":\"task\",\"seq\":1,\"attempt\":1,"
		    "\"kernel\":\"noop\"}", false },
		{ "{\"typ\\u0065\":\"task\",\"seq\":1,\"attempt\":1,"
		    "\"kernel\":\"noop\"}", false },
		{ "{\"type\":\"task\",\"s\\u0065q\":1,\"attempt\":1,"
		    "\"kernel\":\"noop\"}", false },
		/* numbers as get_int() takes them */
		{ "{\"type\":\"task\",\"seq\":1.0,\"attempt\":1e0,"
		    "\"kernel\":\"noop\",\"timeout_ms\":-0}", true },
		{ "{\"type\":\"task\",\"seq\":1E2,\"attempt\":100e-2,"
		    "\"kernel\":\"noop\"}", true },
		{ "{\"type\":\"task\",\"seq\":9007199254740991,\"attempt\":"
		    "2147483647,\"kernel\":\"noop\"}", true },
		{ "{\"type\":\"task\",\"seq\":9007199254740992,\"attempt\":1,"
		    "\"kernel\":\"noop\"}", false },
		{ "{\"type\":\"task\",\"seq\":0,\"attempt\":1,\"kernel\":\"noop\"}",
		    false },
		{ "{\"type\":\"task\",\"seq\":1.5,\"attempt\":1,"
		    "\"kernel\":\"noop\"}", false },
		{ "{\"type\":\"task\",\"seq\":01,\"attempt\":1,"
		    "\"kernel\":\"noop\"}", false },
		{ "{\"type\":\"task\",\"seq\":1,\"attempt\":1,\"kernel\":\"noop\","
		    "\"timeout_ms\":1e400}", false },
		{ "{\"type\":\"task\",\"seq\":1,\"attempt\":1,\"kernel\":\"noop\","
		    "\"timeout_ms\":1000000000000000000000000000000000000000000}",
		    false },
		{ "{\"type\":\"task\",\"seq\":1,\"attempt\":1,\"kernel\":\"noop\","
		    "\"threads\":65537}", false },
		/* seeds: numbers and decimal strings */
		{ "{\"type\":\"task\",\"seq\":1,\"attempt\":1,\"kernel\":\"noop\","
		    "\"seed\":\"18446744073709551615\"}", true },
		{ "{\"type\":\"task\",\"seq\":1,\"attempt\":1,\"kernel\":\"noop\","
		    "\"seed\":\"18446744073709551616\"}", false },
		{ "{\"type\":\"task\",\"seq\":1,\"attempt\":1,\"kernel\":\"noop\","
		    "\"seed\":\"\"}", false },
		{ "{\"type\":\"task\",\"seq\":1,\"attempt\":1,\"kernel\":\"noop\","
		    "\"seed\":-1}", false },
		/* not a task */
		{ "{\"type\":\"task\",\"seq\":1,\"attempt\":1,\"sh\":\"x\","
		    "\"kernel\":\"noop\"}", false },
		{ "{\"type\":\"task\",\"seq\":1,\"attempt\":1}", false },
		{ "{\"type\":\"task\",\"seq\":1,\"attempt\":1,\"kernel\":7}",
		    false },
		{ "{\"type\":\"tasks\",\"tasks\":[]}", false },
		{ "{\"type\":\"tasks\",\"tasks\":[1]}", false },
		{ "{\"type\":\"tasks\"}", false },
		{ "{\"type\":\"cancel\",\"seq\":1,\"attempt\":1,\"grace_ms\":5}",
		    false },
		{ "{\"type\":\"task\",\"seq\":1,\"attempt\":1,\"kernel\":\"noop\"}"
		    " x", false },
		{ "{\"type\":\"task\",\"seq\":1,\"attempt\":1,\"kernel\":\"noop\",}",
		    false },
		{ "[{\"type\":\"task\"}]", false },
		{ "", false },
		/* what cJSON takes and JSON does not: the general path's */
		{ "{\"type\":\"task\",\"seq\":1,\"attempt\":1,\"sh\":\"a\tb\"}",
		    false },
		{ "{\"type\":\"task\",\x01\"seq\":1,\"attempt\":1,"
		    "\"kernel\":\"noop\"}", false },
		{ "{\"type\":\"task\",\"seq\":1,\"attempt\":1,\"id\":\"\xff\","
		    "\"kernel\":\"noop\"}", false },
		{ "{\"type\":\"task\",\"seq\":1,\"attempt\":1,\"kernel\":\"noop\","
		    "\"x\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]"
		    "]]]]]]]]]]]]]]]]]]]]]]}", false },
	};

	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++)
		if (fast_vs_tree(c[i].line) != c[i].fast)
			PR_TEST_FAIL("case %zu: fast path %s %s", i,
			    c[i].fast ? "declined" : "took", c[i].line);
}

TEST(proto_fast_result_lines)
{
	static const struct { const char *line; bool fast; } c[] = {
		{ "{\"type\":\"result\",\"seq\":1,\"attempt\":1,\"status\":\"ok\","
		    "\"start\":1795516844.885577,\"elapsed\":0.000002,"
		    "\"value\":0}", true },
		{ "{\"type\":\"results\",\"results\":[{\"seq\":1,\"attempt\":1,"
		    "\"status\":\"failed\",\"exit\":3,\"start\":1.5,"
		    "\"elapsed\":2,\"stdout\":\"a\\nb\\\"\",\"stderr\":\"\\t\"},"
		    "{\"seq\":2,\"attempt\":2,\"status\":\"timeout\",\"signal\":9,"
		    "\"start\":0,\"elapsed\":1e-6},{\"seq\":3,\"attempt\":1,"
		    "\"status\":\"error\",\"error\":\"no such kernel 'x'\","
		    "\"start\":3,\"elapsed\":0},{\"seq\":4,\"attempt\":1,"
		    "\"status\":\"cancelled\",\"start\":3,\"elapsed\":0,"
		    "\"value\":null,\"stdout\":\"\"}]}", true },
		{ "{\"type\":\"results\",\"results\":[{\"seq\":1,\"attempt\":1,"
		    "\"status\":\"ok\",\"start\":1,\"elapsed\":1,"
		    "\"value\":-1.25e-7}]}", true },
		/* reordered, whitespace, unknown keys, the type last */
		{ "{ \"results\" : [ { \"elapsed\" : 0.5 , \"start\" : 2 ,"
		    " \"zz\" : { \"k\" : [ true ] } , \"status\" : \"ok\" ,"
		    " \"attempt\" : 1 , \"seq\" : 8 } ] , \"n\" : 1 ,"
		    " \"type\" : \"results\" }", true },
		{ "{\"type\":\"result\",\"results\":\"ignored\",\"seq\":1,"
		    "\"attempt\":1,\"status\":\"ok\",\"start\":-0,"
		    "\"elapsed\":0.0}", true },
		/* times with more digits than 2^53 holds: strtod's */
		{ "{\"type\":\"result\",\"seq\":1,\"attempt\":1,\"status\":\"ok\","
		    "\"start\":1795516844.88557712345,\"elapsed\":"
		    "123456789012345678901234567890,\"value\":1e-300}", true },
		/* the general decoder's */
		{ "{\"type\":\"result\",\"seq\":1,\"attempt\":1,\"status\":\"ok\","
		    "\"start\":1,\"elapsed\":1,\"extra\":{\"seconds\":1}}", false },
		{ "{\"type\":\"result\",\"seq\":1,\"attempt\":1,\"status\":\"ok\","
		    "\"start\":1,\"elapsed\":1,\"stdout_b64\":\"AA==\"}", false },
		{ "{\"type\":\"result\",\"seq\":1,\"attempt\":1,\"status\":\"ok\","
		    "\"start\":1,\"elapsed\":1,\"stdout\":\"\\u001b[0m\"}", false },
		{ "{\"type\":\"result\",\"seq\":1,\"attempt\":1,\"status\":"
		    "\"o\\u006b\",\"start\":1,\"elapsed\":1}", false },
		/* errors */
		{ "{\"type\":\"result\",\"seq\":1,\"attempt\":1,\"status\":\"lost\","
		    "\"start\":1,\"elapsed\":1}", false },
		{ "{\"type\":\"result\",\"seq\":1,\"attempt\":1,\"status\":\"ok\","
		    "\"start\":1}", false },
		{ "{\"type\":\"result\",\"seq\":1,\"attempt\":1,\"status\":\"ok\","
		    "\"start\":-1,\"elapsed\":1}", false },
		{ "{\"type\":\"result\",\"seq\":1,\"attempt\":1,\"status\":\"ok\","
		    "\"start\":1e999,\"elapsed\":1}", false },
		{ "{\"type\":\"result\",\"seq\":1,\"attempt\":1,\"status\":\"ok\","
		    "\"start\":1,\"elapsed\":1,\"exit\":256}", false },
		{ "{\"type\":\"result\",\"seq\":1,\"attempt\":1,\"status\":\"ok\","
		    "\"start\":1,\"elapsed\":1,\"value\":\"1\"}", false },
		{ "{\"type\":\"result\",\"seq\":1,\"attempt\":1,\"status\":\"ok\","
		    "\"start\":1,\"elapsed\":1,\"stdout\":1}", false },
		{ "{\"type\":\"result\",\"seq\":1,\"attempt\":1,\"status\":\"ok\","
		    "\"start\":1,\"elapsed\":1,\"elapsed\":2}", false },
		{ "{\"type\":\"results\",\"results\":[{\"seq\":1,\"attempt\":1,"
		    "\"status\":\"ok\",\"start\":1,\"elapsed\":1},{}]}", false },
		{ "{\"type\":\"results\",\"results\":{}}", false },
		{ "{\"type\":\"hb\",\"t\":1,\"running\":0}", false },
		{ "{\"type\":\"result\",\"seq\":1,\"attempt\":1,\"status\":\"ok\","
		    "\"start\":1.,\"elapsed\":1}", false },
		{ "{\"type\":\"result\",\"seq\":1,\"attempt\":1,\"status\":\"ok\","
		    "\"start\":.5,\"elapsed\":1}", false },
		{ "{\"type\":\"result\",\"seq\":1,\"attempt\":1,\"status\":\"ok\","
		    "\"start\":1e,\"elapsed\":1}", false },
		{ "{\"type\":\"result\",\"seq\":1,\"attempt\":1,\"status\":\"ok\","
		    "\"start\":1,\"elapsed\":1,\"x\":tru}", false },
	};

	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++)
		if (fast_vs_tree(c[i].line) != c[i].fast)
			PR_TEST_FAIL("case %zu: fast path %s %s", i,
			    c[i].fast ? "declined" : "took", c[i].line);
}

/* The encoders' own lines all take the fast path. */
TEST(proto_fast_takes_encoded_lines)
{
	struct pr_task_msg t;
	struct pr_task_ref ref[3];
	struct pr_result_msg r;
	struct pr_buf b, body;

	pr_buf_init(&b, 0);
	pr_buf_init(&body, 0);
	memset(&t, 0, sizeof(t));
	t.id = "id \"7\"\n";
	t.kind = PR_KIND_SH;
	t.sh = "echo 'a\\b' \x7f \xe2\x82\xac";
	t.cwd = "/tmp";
	t.timeout_ms = 1000;
	t.has_seed = true;
	t.seed = UINT64_MAX;
	t.threads = 2;
	ASSERT_OK(pr_task_body_encode(&body, &t));
	for (int i = 0; i < 3; i++) {
		ref[i].seq = 100 + (uint64_t)i;
		ref[i].attempt = 1 + i;
		ref[i].body = body.data;
		ref[i].bodylen = body.len;
	}
	for (size_t n = 1; n <= 3; n++) {
		pr_buf_reset(&b);
		ASSERT_OK(pr_msg_tasks(&b, ref, n));
		b.data[--b.len] = '\0';		/* the LF */
		ASSERT(fast_vs_tree(b.data));
	}
	memset(&r, 0, sizeof(r));
	r.seq = 5;
	r.attempt = 1;
	r.status = PR_ST_FAILED;
	r.exit = 2;
	r.start = 1795516844.123456;
	r.elapsed = 0.25;
	r.has_value = true;
	r.value = 0.1;
	r.out = "line 1\nline \"2\"\n";
	r.outlen = strlen(r.out);
	r.err = "warn\t\\\n";
	r.errlen = strlen(r.err);
	pr_buf_reset(&b);
	ASSERT_OK(pr_msg_result(&b, &r));
	b.data[--b.len] = '\0';
	ASSERT(fast_vs_tree(b.data));
	pr_buf_reset(&b);
	ASSERT_OK(pr_msg_results_open(&b));
	for (size_t i = 0; i < 3; i++) {
		r.seq = 10 + i;
		ASSERT_OK(pr_msg_results_add(&b, i, &r));
	}
	ASSERT_OK(pr_msg_results_close(&b));
	b.data[--b.len] = '\0';
	ASSERT(fast_vs_tree(b.data));
	pr_buf_release(&b);
	pr_buf_release(&body);
}

struct fast_rs {
	struct pr_result_msg r[4];
	size_t n;
};

static void
keep_result(void *arg, size_t i, size_t n, const struct pr_result_msg *r)
{
	struct fast_rs *k = arg;

	ASSERT_EQ(i, k->n);
	ASSERT(n <= 4 && i < n);
	k->r[k->n++] = *r;
}

static bool
same_double(double a, double b)
{
	return memcmp(&a, &b, sizeof(a)) == 0 || (isnan(a) && isnan(b));
}

/* Numbers to the bit: the fast path's arithmetic against strtod's. */
TEST(proto_fast_numbers_exact)
{
	struct pr_errbuf eb = { 0, "" };
	uint64_t x = 0x9e3779b97f4a7c15ull;
	char num[3][48], line[256];

	for (int round = 0; round < 20000; round++) {
		struct pr_result_msg slow;
		struct fast_rs k;
		enum pr_msg_type type;
		cJSON *root;
		size_t n, len;

		for (int j = 0; j < 3; j++) {
			int idig, fdig, e;
			char *p = num[j];

			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			idig = (int)(x % 12);
			fdig = (int)(x >> 8) % 19;
			e = (int)((x >> 16) % 64) - 32;
			if (j == 2 && (x >> 30) % 2)
				*p++ = '-';
			*p++ = (char)('1' + (x >> 24) % 9);
			for (int d = 0; d < idig; d++)
				*p++ = (char)('0' + (x >> (d * 3 + 32)) % 10);
			if (fdig > 0) {
				*p++ = '.';
				for (int d = 0; d < fdig; d++)
					*p++ = (char)('0' + (x >> (d * 2 + 9)) %
					    10);
			}
			if ((x >> 40) % 3 == 0)
				p += sprintf(p, "e%d", e);
			*p = '\0';
		}
		len = (size_t)snprintf(line, sizeof(line),
		    "{\"type\":\"result\",\"seq\":1,\"attempt\":1,"
		    "\"status\":\"ok\",\"start\":%s,\"elapsed\":%s,"
		    "\"value\":%s}", num[0], num[1], num[2]);
		ASSERT_OK(pr_msg_parse(line, len, &root, &type, &eb));
		ASSERT_OK(pr_result_decode(root, &slow, NULL, NULL, &eb));
		ASSERT_EQ(pr_fast_results_check(line, len, &n),
		    PR_MSG_RESULT);
		k.n = 0;
		ASSERT_EQ(pr_fast_results_decode(line, len, keep_result, &k),
		    PR_MSG_RESULT);
		ASSERT_EQ(k.n, 1);
		if (!same_double(slow.start, k.r[0].start) ||
		    !same_double(slow.elapsed, k.r[0].elapsed) ||
		    !same_double(slow.value, k.r[0].value))
			PR_TEST_FAIL("%s %s %s: %.17g %.17g %.17g", num[0],
			    num[1], num[2], k.r[0].start, k.r[0].elapsed,
			    k.r[0].value);
		cJSON_Delete(root);
	}
}

/* In place: strings end where their quotes were; the line is changed. */
TEST(proto_fast_decodes_in_place)
{
	char line[] = "{\"type\":\"results\",\"results\":[{\"seq\":3,"
	    "\"attempt\":1,\"status\":\"error\",\"error\":\"x\\ty\","
	    "\"stdout\":\"a\\\\b\",\"start\":1,\"elapsed\":2},{\"seq\":4,"
	    "\"attempt\":2,\"status\":\"ok\",\"start\":1,\"elapsed\":2,"
	    "\"stderr\":\"e\"}]}";
	size_t len = strlen(line), n;
	struct fast_rs k;

	ASSERT_EQ(pr_fast_results_check(line, len, &n), PR_MSG_RESULTS);
	ASSERT_EQ(n, 2);
	ASSERT_EQ(pr_fast_tasks_check(line, len, &n), 0);
	ASSERT_EQ(n, 0);
	k.n = 0;
	ASSERT_EQ(pr_fast_results_decode(line, len, keep_result, &k),
	    PR_MSG_RESULTS);
	ASSERT_EQ(k.n, 2);
	ASSERT_U64_EQ(k.r[0].seq, 3);
	ASSERT_EQ(k.r[0].status, PR_ST_ERROR);
	ASSERT_STR_EQ(k.r[0].error, "x\ty");
	ASSERT_EQ(k.r[0].outlen, 3);
	ASSERT_STR_EQ(k.r[0].out, "a\\b");
	ASSERT(k.r[0].err == NULL && k.r[0].errlen == 0);
	ASSERT_EQ(k.r[0].exit, -1);
	ASSERT(k.r[0].out >= line && k.r[0].out < line + len);
	ASSERT_U64_EQ(k.r[1].seq, 4);
	ASSERT_EQ(k.r[1].attempt, 2);
	ASSERT(k.r[1].out == NULL && k.r[1].error == NULL);
	ASSERT_STR_EQ(k.r[1].err, "e");
	ASSERT(!k.r[1].has_value && k.r[1].extra_json == NULL);
}

/* A line declined on its last item: nothing handed out, nothing
 * changed, though the items before it were in the plain form. */
TEST(proto_fast_declines_whole_lines)
{
	static const char orig[] = "{\"type\":\"results\",\"results\":["
	    "{\"seq\":1,\"attempt\":1,\"status\":\"ok\",\"start\":1,"
	    "\"elapsed\":1,\"stdout\":\"a\\nb\"},{\"seq\":2,\"attempt\":1,"
	    "\"status\":\"ok\",\"start\":1,\"elapsed\":1,"
	    "\"stdout_b64\":\"AA==\"}]}";
	char line[sizeof(orig)];
	struct fast_rs k;

	memcpy(line, orig, sizeof(orig));
	k.n = 0;
	ASSERT_EQ(pr_fast_results_decode(line, strlen(line), keep_result,
	    &k), 0);
	ASSERT_EQ(k.n, 0);
	ASSERT_MEM_EQ(line, orig, sizeof(orig));
}

static void
keep_task(void *arg, size_t i, size_t n, const struct pr_task_msg *t,
    const char *params, size_t paramslen)
{
	struct pr_task_msg *v = arg;

	ASSERT(n == 3 && i < n);
	v[i] = *t;
	if (i == 1)
		ASSERT(params != NULL && paramslen == 8 &&
		    memcmp(params, "{\"n\": 2}", 8) == 0);
	else
		ASSERT(params == NULL && paramslen == 0);
}

TEST(proto_fast_tasks_decode)
{
	char line[] = "{\"type\":\"tasks\",\"tasks\":[{\"seq\":1,\"attempt\":1,"
	    "\"id\":\"a\\\"\",\"sh\":\"echo\",\"params\":{\"x\":1}},"
	    "{\"seq\":2,\"attempt\":2,\"kernel\":\"noop\",\"params\":{\"n\": 2},"
	    "\"timeout_ms\":5},{\"seq\":3,\"attempt\":1,\"kernel\":\"k\","
	    "\"cwd\":\"/\",\"seed\":\"7\",\"threads\":3}]}";
	struct pr_task_msg v[3];
	size_t n;

	ASSERT_EQ(pr_fast_tasks_check(line, strlen(line), &n), PR_MSG_TASKS);
	ASSERT_EQ(n, 3);
	ASSERT_EQ(pr_fast_tasks_decode(line, strlen(line), keep_task, v),
	    PR_MSG_TASKS);
	ASSERT_STR_EQ(v[0].id, "a\"");
	ASSERT_EQ(v[0].kind, PR_KIND_SH);
	ASSERT_STR_EQ(v[0].sh, "echo");
	ASSERT(v[0].kernel == NULL && v[0].params == NULL);
	ASSERT(v[1].id == NULL);
	ASSERT_EQ(v[1].kind, PR_KIND_KERNEL);
	ASSERT_STR_EQ(v[1].kernel, "noop");
	ASSERT_EQ(v[1].timeout_ms, 5);
	ASSERT_EQ(v[1].attempt, 2);
	ASSERT_STR_EQ(v[2].cwd, "/");
	ASSERT(v[2].has_seed && v[2].seed == 7);
	ASSERT_EQ(v[2].threads, 3);
	ASSERT_U64_EQ(v[2].seq, 3);
}

/* Task messages are stored directly when the buffer has room for the
 * estimate, else piece by piece: the same bytes either way. */
TEST(proto_tasks_direct_and_piecewise_agree)
{
	struct pr_task_ref ref[3] = {
		{ 1, 1, "\"id\":\"1\",\"kernel\":\"noop\"", 24 },
		{ PR_SEQ_MAX, INT_MAX, "", 0 },
		{ 18, INT_MIN, "\"sh\":\"x\"", 8 },
	};

	for (size_t n = 1; n <= 3; n++) {
		struct pr_buf direct, piece;

		pr_buf_init(&direct, 0);
		ASSERT_OK(pr_buf_add(&direct, "x", 1));
		ASSERT_OK(pr_msg_tasks(&direct, ref, n));
		/* a cap that fits the line but not the estimate */
		pr_buf_init(&piece, direct.len);
		ASSERT_OK(pr_buf_add(&piece, "x", 1));
		ASSERT_OK(pr_msg_tasks(&piece, ref, n));
		ASSERT_EQ(piece.len, direct.len);
		ASSERT_MEM_EQ(piece.data, direct.data, direct.len + 1);
		/* one byte less: refused, nothing appended */
		pr_buf_release(&piece);
		pr_buf_init(&piece, direct.len - 1);
		ASSERT_OK(pr_buf_add(&piece, "x", 1));
		ASSERT(pr_msg_tasks(&piece, ref, n) < 0);
		ASSERT_EQ(piece.len, 1);
		ASSERT_STR_EQ(piece.data, "x");
		if (n == 3)
			ASSERT(strstr(direct.data, "{\"seq\":18,\"attempt\":"
			    "-2147483648,\"sh\":\"x\"}]}\n") != NULL);
		pr_buf_release(&direct);
		pr_buf_release(&piece);
	}
}
