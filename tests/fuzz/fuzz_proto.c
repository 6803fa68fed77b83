/*
 * fuzz_proto.c - libFuzzer target for the protocol reader (lib/proto.c).
 *
 * The input is a byte stream as a peer might send it.  Three checks:
 *
 * 1. Framing: the stream is fed to a framer with a small cap (taken from
 *    the input's size), cut into pieces of pseudo-random sizes, and what it
 *    delivers (lines, errors, line numbers, offsets, the end-of-stream
 *    result) must equal a plain line-by-line reference model.
 * 2. Decoding: every line of the stream, framed with the real 1 MiB cap,
 *    goes through pr_msg_parse() and the decoder for its type
 *    (pr_msg_canonical(), which calls them all).  Nothing may crash or
 *    leak, whatever the bytes.
 * 3. Encoding: a line that decodes is written back by the encoders; that
 *    output must parse, decode, and write back to the same bytes (the
 *    canonical form is a fixed point).
 * 4. The fast decoders (task(s) and result(s) without a tree): on every
 *    line, and on the canonical form of every line that decodes (which
 *    they should take), either they decline it, leaving it unchanged, or
 *    the general path takes it too and both write back the same bytes;
 *    for results, start, elapsed and value must be the same doubles, to
 *    the bit.
 *
 * Any broken property calls abort(), which libFuzzer reports as a crash.
 * Build and run with tests/run-fuzz; seeds are in tests/fuzz/corpus/proto/.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fail(const char *what)
{
	fprintf(stderr, "fuzz_proto: %s\n", what);
	abort();
}

/* ---- 1. framing against the reference model ------------------------------ */

/* One record per delivered line: err, len, lineno, offset, then bytes. */
struct trace {
	struct pr_framer *f;
	struct pr_buf b;
};

static void
put(struct pr_buf *b, const void *p, size_t n)
{
	if (pr_buf_add(b, p, n) < 0)
		fail("out of memory");
}

static void
record(struct pr_buf *b, int err, const char *line, size_t len,
    uint64_t lineno, uint64_t offset)
{
	put(b, &err, sizeof(err));
	put(b, &len, sizeof(len));
	put(b, &lineno, sizeof(lineno));
	put(b, &offset, sizeof(offset));
	put(b, line, len);
}

static int
trace_line(void *arg, char *line, size_t len, int err)
{
	struct trace *t = arg;

	if (line[len] != '\0')
		fail("line not NUL-terminated");
	if (err == 0 && memchr(line, '\n', len) != NULL)
		fail("LF inside a line");
	record(&t->b, err, line, len, t->f->lines, t->f->offset);
	return 0;
}

/* What any framer must deliver: returns what finish must return. */
static int
reference(const char *s, size_t n, size_t max_line, bool strip_cr,
    bool deliver_tail, struct pr_buf *out)
{
	size_t rawcap = max_line + (strip_cr ? 1 : 0);
	size_t start = 0, i;
	uint64_t lineno = 0;

	for (i = 0; i <= n; i++) {
		bool complete = i < n && s[i] == '\n';
		size_t len, clen;
		int err = 0;

		if (i < n && !complete)
			continue;
		len = i - start;
		if (!complete) {
			if (len == 0)
				break;
			if (len <= rawcap && !deliver_tail)
				return PR_ETORN;
		}
		clen = len;
		if (strip_cr && clen > 0 && s[start + clen - 1] == '\r' &&
		    (complete || len <= rawcap))
			clen--;
		if (clen > max_line) {
			clen = max_line;
			err = PR_ETOOBIG;
		}
		record(out, err, s + start, clen, ++lineno, start);
		start = i + 1;
	}
	return 0;
}

static void
check_framing(const uint8_t *data, size_t size)
{
	size_t max_line = 1 + size % 97;
	bool strip_cr = size % 2 == 1;
	bool deliver_tail = size % 3 == 0;
	struct pr_framer f;
	struct trace t;
	struct pr_buf want;
	uint32_t x = (uint32_t)size * 2654435761u + 1;
	size_t pos = 0;
	int rc, wrc;

	pr_buf_init(&want, 0);
	wrc = reference((const char *)data, size, max_line, strip_cr,
	    deliver_tail, &want);

	pr_framer_init(&f, max_line);
	f.strip_cr = strip_cr;
	t.f = &f;
	pr_buf_init(&t.b, 0);
	while (pos < size) {
		size_t n;
		char *chunk;

		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		n = x % 8 == 0 ? 0 : 1 + x % (2 * max_line + 3);
		if (n > size - pos)
			n = size - pos;
		/* an exact-size copy: ASan sees any access past it */
		chunk = malloc(n ? n : 1);
		if (chunk == NULL)
			fail("out of memory");
		if (n > 0)
			memcpy(chunk, data + pos, n);
		if (pr_framer_feed(&f, chunk, n, trace_line, &t) != 0)
			fail("feed failed");
		free(chunk);
		pos += n;
		if (f.consumed != pos)
			fail("consumed is wrong");
	}
	rc = pr_framer_finish(&f, deliver_tail, trace_line, &t);
	if (rc != wrc)
		fail("finish returned the wrong code");
	if (t.b.len != want.len ||
	    (want.len > 0 && memcmp(t.b.data, want.data, want.len) != 0))
		fail("framer and reference disagree");
	if (rc == 0 && f.offset != size)
		fail("offset is wrong at the end");
	pr_framer_release(&f);
	pr_buf_release(&t.b);
	pr_buf_release(&want);
}

/* ---- 2 and 3. decoding and the canonical form --------------------------- */

/* Parse and write back; 0 with the line in out, or the error. */
static int
canon(const char *line, size_t len, struct pr_buf *out)
{
	struct pr_errbuf eb = {0};
	enum pr_msg_type type;
	cJSON *root;
	char *copy;
	int rc;

	/* exact size, no NUL after it: the parser must keep to len */
	copy = malloc(len ? len : 1);
	if (copy == NULL)
		fail("out of memory");
	if (len > 0)
		memcpy(copy, line, len);
	rc = pr_msg_parse(copy, len, &root, &type, &eb);
	if (rc != 0) {
		if (root != NULL || eb.msg[0] == '\0')
			fail("parse error without message, or with a tree");
		free(copy);
		return rc;
	}
	free(copy);
	if (type == PR_MSG_HELLO) {
		struct pr_hello h;

		if (pr_hello_decode(root, &h, NULL) == 0)
			(void)pr_hello_has_kernel(&h, "noop");
	}
	rc = pr_msg_canonical(out, root, type, &eb);
	if (rc != 0 && eb.msg[0] == '\0' && rc == PR_EPROTO)
		fail("decode error without message");
	cJSON_Delete(root);
	return rc;
}

/* ---- 4. the fast decoders against the general path ---------------------- */

struct times {
	double v[3 * 64];
	size_t n;
};

static void
keep_times(void *arg, size_t i, size_t n, const struct pr_result_msg *r)
{
	struct times *t = arg;

	(void)n;
	if (i < 64) {
		t->v[3 * i] = r->start;
		t->v[3 * i + 1] = r->elapsed;
		t->v[3 * i + 2] = r->value;
		t->n = i + 1;
	}
}

static bool
same_double(double a, double b)
{
	return memcmp(&a, &b, sizeof(a)) == 0 || (a != a && b != b);
}

/* slow: the general path's canonical line (or its error, slow_rc) */
static void
check_fast(const char *line, size_t len, int slow_rc,
    const struct pr_buf *slow)
{
	struct pr_errbuf eb = {0};
	struct pr_buf fast;
	struct times t;
	size_t n, tn = 0, i;
	char *copy, *orig;
	int rc, type;

	/* exact size: the decoders must keep to len */
	copy = malloc(len ? len : 1);
	orig = malloc(len ? len : 1);
	if (copy == NULL || orig == NULL)
		fail("out of memory");
	if (len > 0) {
		memcpy(copy, line, len);
		memcpy(orig, line, len);
	}
	pr_buf_init(&fast, 0);
	rc = pr_fast_canonical(&fast, copy, len);
	if (rc == 1) {
		if (fast.len != 0 || (len > 0 && memcmp(copy, orig, len) != 0))
			fail("a declined line was changed or written");
		if (pr_fast_tasks_check(orig, len, &n) != 0 ||
		    pr_fast_results_check(orig, len, &n) != 0)
			fail("check and decode disagree");
	} else if (rc != 0) {
		fail("pr_fast_canonical failed");
	} else if (slow_rc != 0) {
		fprintf(stderr, "fast: %s", fast.data);
		fail("the fast path took a line the general path refuses");
	} else if (slow->len != fast.len ||
	    memcmp(slow->data, fast.data, fast.len) != 0) {
		fprintf(stderr, "general: %sfast: %s", slow->data, fast.data);
		fail("the fast path and the general path differ");
	}
	pr_buf_release(&fast);

	/* the doubles, to the bit */
	memcpy(copy, orig, len);
	t.n = 0;
	type = pr_fast_results_decode(copy, len, keep_times, &t);
	if (type != 0) {
		enum pr_msg_type mt;
		const cJSON *it;
		cJSON *root;

		if (pr_msg_parse(orig, len, &root, &mt, &eb) != 0 ||
		    (int)mt != type ||
		    pr_batch_decode(root, mt, &it, &tn, &eb) != 0)
			fail("the general path refuses a fast result line");
		for (i = 0; i < tn && i < t.n; i++, it = it->next) {
			struct pr_result_msg r;

			if (pr_result_decode(it, &r, NULL, NULL, &eb) != 0)
				fail("the general path refuses a result");
			if (!same_double(r.start, t.v[3 * i]) ||
			    !same_double(r.elapsed, t.v[3 * i + 1]) ||
			    !same_double(r.value, t.v[3 * i + 2]))
				fail("a number decodes to another double");
		}
		cJSON_Delete(root);
	}
	free(copy);
	free(orig);
}

static int
decode_line(void *arg, char *line, size_t len, int err)
{
	struct pr_buf one, two;
	int rc;

	(void)arg;
	if (err != 0)
		return 0;
	pr_buf_init(&one, 0);
	pr_buf_init(&two, 0);
	rc = canon(line, len, &one);
	check_fast(line, len, rc, &one);
	if (rc == 0)
		check_fast(one.data, one.len - 1, 0, &one);
	if (rc == 0) {
		if (one.len == 0 || one.data[one.len - 1] != '\n' ||
		    memchr(one.data, '\n', one.len - 1) != NULL)
			fail("encoder wrote other than one line");
		if (canon(one.data, one.len - 1, &two) != 0)
			fail("canonical line does not decode");
		if (one.len != two.len || memcmp(one.data, two.data,
		    one.len) != 0) {
			fprintf(stderr, "1: %s2: %s", one.data, two.data);
			fail("canonical form is not a fixed point");
		}
	}
	pr_buf_release(&one);
	pr_buf_release(&two);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pr_framer f;
	char *copy;

	check_framing(data, size);

	copy = malloc(size ? size : 1);
	if (copy == NULL)
		fail("out of memory");
	if (size > 0)
		memcpy(copy, data, size);
	pr_framer_init(&f, PR_MAX_FRAME);
	(void)pr_framer_feed(&f, copy, size, decode_line, NULL);
	(void)pr_framer_finish(&f, true, decode_line, NULL);
	pr_framer_release(&f);
	free(copy);
	return 0;
}
