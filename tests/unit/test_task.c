/*
 * test_task.c - lib/task.c: the task-line corpus in
 * tests/fixtures/input/lines.txt (every case with its outcome: a task
 * with its exact body, or an error with its column), the cases too big
 * for a fixture (deep nesting, huge numbers and objects), the bodies for
 * job slots ({%}), rejected and range tasks, the one-block ownership, and
 * the cost of a line.
 */
#include "test.h"

#include <errno.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "task.h"
#include "template.h"

/* ---- helpers ------------------------------------------------------------ */

struct ctx {
	struct pr_template *tmpl;
	struct pr_task_parser *p;
};

static void
ctx_open(struct ctx *c, const char *kernel, const char *const *words,
    size_t n, bool shell)
{
	struct pr_task_opts o = { NULL, kernel };
	struct pr_errbuf eb = { 0, "" };

	c->tmpl = NULL;
	if (n > 0) {
		ASSERT_OK(pr_template_new(&c->tmpl, words, n, shell, &eb));
		o.tmpl = c->tmpl;
	}
	ASSERT_OK(pr_task_parser_new(&c->p, &o, &eb));
}

static void
ctx_close(struct ctx *c)
{
	pr_task_parser_free(c->p);
	pr_template_free(c->tmpl);
	c->p = NULL;
	c->tmpl = NULL;
}

/* Parse a line given as a C string (copied, so it may hold NULs). */
static int
parse(struct ctx *c, const char *s, size_t n, struct pr_task **t,
    struct pr_errbuf *eb)
{
	char *line = malloc(n + 1);
	int rc;

	ASSERT(line != NULL);
	memcpy(line, s, n);
	line[n] = '\0';
	eb->code = 0;
	eb->msg[0] = '\0';
	rc = pr_task_parse_line(c->p, line, n, 1, "stdin", 1, t, eb);
	free(line);
	return rc;
}

static int
parse_s(struct ctx *c, const char *s, struct pr_task **t,
    struct pr_errbuf *eb)
{
	return parse(c, s, strlen(s), t, eb);
}

/* The column in "stdin:1:COL: ..." */
static long
msg_col(const char *msg)
{
	const char *p = strstr(msg, "stdin:1:");

	if (p == NULL)
		return -1;
	return strtol(p + 8, NULL, 10);
}

/* ---- the fixture corpus ------------------------------------------------- */

static size_t
unescape(const char *s, char *out)
{
	size_t n = 0;

	while (*s != '\0') {
		if (s[0] == '\\' && s[1] == 'x' && s[2] != '\0' &&
		    s[3] != '\0') {
			char hex[3] = { s[2], s[3], '\0' };

			out[n++] = (char)strtol(hex, NULL, 16);
			s += 4;
			continue;
		}
		out[n++] = *s++;
	}
	out[n] = '\0';
	return n;
}

/* Split s at spaces in place. */
static size_t
split_words(char *s, char **w, size_t max)
{
	size_t n = 0;

	while (*s != '\0' && n < max) {
		while (*s == ' ')
			*s++ = '\0';
		if (*s == '\0')
			break;
		w[n++] = s;
		while (*s != '\0' && *s != ' ')
			s++;
	}
	return n;
}

static void
set_mode(struct ctx *c, char *spec)
{
	char *w[32];
	size_t n = split_words(spec, w, 32);

	ctx_close(c);
	ASSERT(n >= 1);
	if (strcmp(w[0], "none") == 0) {
		ctx_open(c, NULL, NULL, 0, false);
		return;
	}
	if (strcmp(w[0], "kernel") == 0) {
		ASSERT(n == 2);
		ctx_open(c, w[1], NULL, 0, false);
		return;
	}
	ctx_open(c, NULL, (const char *const *)(w + 1), n - 1,
	    strcmp(w[0], "shell") == 0);
}

TEST(task_corpus)
{
	char path[4096], buf[8192], in[8192], exp[8192];
	size_t inlen = 0, cases = 0, lineno = 0, explen;
	struct pr_task *t = NULL;
	struct pr_errbuf eb;
	struct ctx c = { NULL, NULL };
	bool have_in = false;
	int rc = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/input/lines.txt", pr_test_fixtures());
	f = fopen(path, "r");
	ASSERT(f != NULL);
	ctx_open(&c, NULL, NULL, 0, false);
	while (fgets(buf, sizeof(buf), f) != NULL) {
		size_t n = strlen(buf);

		lineno++;
		if (n > 0 && buf[n - 1] == '\n')
			buf[--n] = '\0';
		if (n == 0 || buf[0] == '#')
			continue;
		if (strncmp(buf, "mode ", 5) == 0) {
			set_mode(&c, buf + 5);
			continue;
		}
		if (strncmp(buf, "in ", 3) == 0 || strcmp(buf, "in") == 0) {
			pr_task_free(t);
			t = NULL;
			inlen = unescape(n > 3 ? buf + 3 : "", in);
			rc = parse(&c, in, inlen, &t, &eb);
			have_in = true;
			cases++;
			continue;
		}
		if (!have_in)
			PR_TEST_FAIL("lines.txt:%zu: no 'in' before", lineno);
		if (strncmp(buf, "ok ", 3) == 0) {
			explen = unescape(buf + 3, exp);
			if (rc != 1)
				PR_TEST_FAIL("lines.txt:%zu: expected a task, "
				    "got %d: %s", lineno, rc, eb.msg);
			ASSERT(t->body != NULL);
			if (t->bodylen != explen ||
			    memcmp(t->body, exp, explen) != 0)
				PR_TEST_FAIL("lines.txt:%zu: body\n#   got  %s"
				    "\n#   want %s", lineno, t->body, exp);
			ASSERT_EQ(t->status, PR_ST_OK);
			ASSERT_EQ(t->seq, 1);
			/* the body is valid JSON inside braces */
			{
				char *obj = malloc(t->bodylen + 3);
				cJSON *j;

				obj[0] = '{';
				memcpy(obj + 1, t->body, t->bodylen);
				obj[t->bodylen + 1] = '}';
				obj[t->bodylen + 2] = '\0';
				j = cJSON_Parse(obj);
				if (j == NULL)
					PR_TEST_FAIL("lines.txt:%zu: body is "
					    "not JSON: %s", lineno, obj);
				ASSERT_STR_EQ(cJSON_GetObjectItem(j, "id")->
				    valuestring, t->id);
				cJSON_Delete(j);
				free(obj);
			}
		} else if (strncmp(buf, "cmd ", 4) == 0) {
			unescape(buf + 4, exp);
			ASSERT(rc == 1);
			if (strcmp(t->cmd, exp) != 0)
				PR_TEST_FAIL("lines.txt:%zu: cmd\n#   got  %s"
				    "\n#   want %s", lineno, t->cmd, exp);
		} else if (strncmp(buf, "err ", 4) == 0) {
			char *rest;
			long col = strtol(buf + 4, &rest, 10);

			if (rc != PR_EBADINPUT)
				PR_TEST_FAIL("lines.txt:%zu: expected an "
				    "error, got %d (%s)", lineno, rc,
				    rc == 1 ? t->body : "");
			ASSERT_EQ(eb.code, PR_EBADINPUT);
			if (msg_col(eb.msg) != col ||
			    strstr(eb.msg, rest + 1) == NULL)
				PR_TEST_FAIL("lines.txt:%zu: message\n#   got "
				    " %s\n#   want stdin:1:%ld: ...%s...",
				    lineno, eb.msg, col, rest + 1);
			ASSERT(t == NULL);
		} else if (strcmp(buf, "blank") == 0) {
			if (rc != 0)
				PR_TEST_FAIL("lines.txt:%zu: expected blank, "
				    "got %d", lineno, rc);
			ASSERT(t == NULL);
		} else {
			PR_TEST_FAIL("lines.txt:%zu: bad fixture line",
			    lineno);
		}
	}
	fclose(f);
	pr_task_free(t);
	ctx_close(&c);
	ASSERT(cases >= 170);
	ASSERT_EQ(pr_task_live(), 0);
	printf("# %zu cases\n", cases);
}

/* ---- cases too big for the fixture -------------------------------------- */

TEST(task_deep_nesting)
{
	struct ctx c;
	struct pr_buf b;
	struct pr_task *t;
	struct pr_errbuf eb;
	size_t i;

	ctx_open(&c, NULL, NULL, 0, false);
	pr_buf_init(&b, 0);
	/* 100k nested '[' [24]: refused at the 64th level */
	pr_buf_adds(&b, "{\"sh\":\"x\",\"a\":");
	for (i = 0; i < 100000; i++)
		pr_buf_addc(&b, '[');
	ASSERT_EQ(parse(&c, b.data, b.len, &t, &eb), PR_EBADINPUT);
	/* the object is level 1 and the 63rd '[' level 64: the 64th
	 * (at column 15 + 63) is refused */
	ASSERT_EQ(msg_col(eb.msg), 15 + 63);
	ASSERT(strstr(eb.msg, "nesting deeper than 64") != NULL);

	/* exactly 64 levels are fine */
	pr_buf_reset(&b);
	pr_buf_adds(&b, "{\"sh\":\"x\",\"a\":");
	for (i = 0; i < 62; i++)
		pr_buf_addc(&b, '[');
	pr_buf_adds(&b, "{}");
	for (i = 0; i < 62; i++)
		pr_buf_addc(&b, ']');
	pr_buf_addc(&b, '}');
	ASSERT_EQ(parse(&c, b.data, b.len, &t, &eb), 1);
	pr_task_free(t);

	/* objects nest the same way */
	pr_buf_reset(&b);
	for (i = 0; i < 70; i++)
		pr_buf_adds(&b, "{\"a\":");
	ASSERT_EQ(parse(&c, b.data, b.len, &t, &eb), PR_EBADINPUT);
	ASSERT_EQ(msg_col(eb.msg), 5 * 64 + 1);
	pr_buf_release(&b);
	ctx_close(&c);
}

TEST(task_huge_numbers)
{
	struct ctx c;
	struct pr_buf b;
	struct pr_task *t;
	struct pr_errbuf eb;
	size_t i;

	ctx_open(&c, NULL, NULL, 0, false);
	pr_buf_init(&b, 0);
	/* a 400-digit integer overflows a double */
	pr_buf_adds(&b, "{\"sh\":\"x\",\"v\":");
	for (i = 0; i < 400; i++)
		pr_buf_addc(&b, '9');
	pr_buf_addc(&b, '}');
	ASSERT_EQ(parse(&c, b.data, b.len, &t, &eb), PR_EBADINPUT);
	ASSERT_EQ(msg_col(eb.msg), 15);
	ASSERT(strstr(eb.msg, "number out of range") != NULL);

	/* 309 digits: 1e308 <= x < 1e309, decided by strtod */
	pr_buf_reset(&b);
	pr_buf_adds(&b, "{\"sh\":\"x\",\"v\":1");
	for (i = 0; i < 308; i++)
		pr_buf_addc(&b, '0');
	pr_buf_addc(&b, '}');
	ASSERT_EQ(parse(&c, b.data, b.len, &t, &eb), 1);
	pr_task_free(t);
	pr_buf_reset(&b);
	pr_buf_adds(&b, "{\"sh\":\"x\",\"v\":2");
	for (i = 0; i < 308; i++)
		pr_buf_addc(&b, '0');
	pr_buf_addc(&b, '}');
	ASSERT_EQ(parse(&c, b.data, b.len, &t, &eb), PR_EBADINPUT);

	/* long fractions are fine */
	pr_buf_reset(&b);
	pr_buf_adds(&b, "{\"sh\":\"x\",\"v\":0.");
	for (i = 0; i < 5000; i++)
		pr_buf_addc(&b, '0');
	pr_buf_adds(&b, "1}");
	ASSERT_EQ(parse(&c, b.data, b.len, &t, &eb), 1);
	pr_task_free(t);

	/* an id with trailing zeros in its fraction is integral */
	ASSERT_EQ(parse_s(&c, "{\"id\":12.000000000000000000000000000,"
	    "\"sh\":\"x\"}", &t, &eb), 1);
	ASSERT_STR_EQ(t->id, "12");
	pr_task_free(t);
	/* 2^53-1 written with an exponent */
	ASSERT_EQ(parse_s(&c, "{\"id\":9.007199254740991e15,\"sh\":\"x\"}",
	    &t, &eb), 1);
	ASSERT_STR_EQ(t->id, "9007199254740991");
	pr_task_free(t);
	ASSERT_EQ(parse_s(&c, "{\"id\":9.0071992547409911e15,\"sh\":\"x\"}",
	    &t, &eb), PR_EBADINPUT);
	ASSERT_EQ(parse_s(&c, "{\"id\":1e25,\"sh\":\"x\"}", &t, &eb),
	    PR_EBADINPUT);
	ASSERT_EQ(parse_s(&c, "{\"id\":0.0e99999,\"sh\":\"x\"}", &t, &eb), 1);
	ASSERT_STR_EQ(t->id, "0");
	pr_task_free(t);
	pr_buf_release(&b);
	ctx_close(&c);
}

TEST(task_big_objects)
{
	struct ctx c;
	struct pr_buf b;
	struct pr_task *t;
	struct pr_errbuf eb;
	size_t i, dupcol;

	ctx_open(&c, NULL, NULL, 0, false);
	pr_buf_init(&b, 0);
	/* 50k distinct keys: no duplicate, and not quadratic */
	pr_buf_adds(&b, "{\"sh\":\"x\"");
	for (i = 0; i < 50000; i++)
		pr_buf_addf(&b, ",\"k%zu\":%zu", i, i);
	pr_buf_addc(&b, '}');
	ASSERT_EQ(parse(&c, b.data, b.len, &t, &eb), 1);
	pr_task_free(t);

	/* a duplicate far apart is found by the sorted check; the column
	 * is the second one's */
	b.len--;
	dupcol = b.len + 2;
	pr_buf_adds(&b, ",\"k123\":0}");
	ASSERT_EQ(parse(&c, b.data, b.len, &t, &eb), PR_EBADINPUT);
	ASSERT_EQ(msg_col(eb.msg), (long)dupcol);
	ASSERT(strstr(eb.msg, "duplicate key 'k123'") != NULL);

	/* two duplicates: the first second occurrence is reported */
	pr_buf_reset(&b);
	pr_buf_adds(&b, "{\"sh\":\"x\"");
	for (i = 0; i < 40; i++)
		pr_buf_addf(&b, ",\"k%02zu\":0", i);
	dupcol = b.len + 2;
	pr_buf_adds(&b, ",\"k30\":1,\"k05\":1}");
	ASSERT_EQ(parse(&c, b.data, b.len, &t, &eb), PR_EBADINPUT);
	ASSERT_EQ(msg_col(eb.msg), (long)dupcol);
	/* escaped keys compare by their decoded text */
	b.len -= 17;
	pr_buf_adds(&b, ",\"k\\u00301\":1}");
	ASSERT_EQ(parse(&c, b.data, b.len, &t, &eb), PR_EBADINPUT);
	ASSERT(strstr(eb.msg, "duplicate key 'k01'") != NULL);

	/* memory is given back after a huge line */
	ASSERT(pr_task_parser_mem(c.p) < 8 * 1024 * 1024);
	ASSERT_EQ(parse_s(&c, "{\"sh\":\"x\"}", &t, &eb), 1);
	pr_task_free(t);
	ASSERT(pr_task_parser_mem(c.p) < 1024 * 1024);
	pr_buf_release(&b);
	ctx_close(&c);
}

TEST(task_snippets_are_printable)
{
	struct ctx c;
	struct pr_task *t;
	struct pr_errbuf eb;
	const char *m;

	ctx_open(&c, NULL, NULL, 0, false);
	/* terminal escapes in a bad line never reach the message raw */
	ASSERT_EQ(parse_s(&c, "{\"sh\":\"x\",\x1b[31m}", &t, &eb),
	    PR_EBADINPUT);
	for (m = eb.msg; *m != '\0'; m++)
		ASSERT((unsigned char)*m >= 0x20 && (unsigned char)*m < 0x7f);
	ASSERT(strstr(eb.msg, "\\x1b[31m") != NULL);
	ctx_close(&c);
}

/* ---- fields of the task ------------------------------------------------- */

TEST(task_fields)
{
	struct ctx c;
	struct pr_task *t;
	struct pr_errbuf eb;
	struct pr_buf b;

	ctx_open(&c, NULL, NULL, 0, false);
	ASSERT_EQ(parse_s(&c, "{\"id\":\"t7\",\"argv\":[\"./fit\",\"--k\","
	    "\"3\"],\"timeout\":2.5,\"retries\":4,\"host\":\"n\\u00f6de\","
	    "\"worker\":3,\"seed\":99}", &t, &eb), 1);
	ASSERT_STR_EQ(t->id, "t7");
	ASSERT_EQ(t->kind, PR_KIND_ARGV);
	ASSERT_STR_EQ(t->cmd, "./fit --k 3");
	ASSERT_STR_EQ(t->tag, "t7");
	ASSERT(t->kernel == NULL);
	ASSERT_STR_EQ(t->host, "n\xc3\xb6" "de");
	ASSERT_EQ(t->worker, 3);
	ASSERT_EQ(t->retries, 4);
	ASSERT_DBL_NEAR(t->timeout, 2.5, 0);
	ASSERT(t->has_seed);
	ASSERT_U64_EQ(t->seed, 99);
	ASSERT_EQ(t->status, PR_ST_OK);
	ASSERT(t->error == NULL);
	ASSERT_STR_EQ(t->src, "stdin");
	ASSERT_EQ(t->line, 1);
	ASSERT(!pr_task_slot_dependent(t));
	pr_buf_init(&b, 0);
	ASSERT_OK(pr_task_body(t, 5, &b));
	ASSERT_STR_EQ(b.data, t->body);
	pr_buf_reset(&b);
	ASSERT_OK(pr_task_cmd(t, 5, &b));
	ASSERT_STR_EQ(b.data, "./fit --k 3");
	pr_task_free(t);

	ASSERT_EQ(parse_s(&c, "{\"sh\":\"x\"}", &t, &eb), 1);
	ASSERT_STR_EQ(t->id, "1");
	ASSERT_EQ(t->kind, PR_KIND_SH);
	ASSERT_EQ(t->retries, -1);
	ASSERT_DBL_NEAR(t->timeout, 0, 0);
	ASSERT(!t->has_seed);
	ASSERT(t->host == NULL);
	ASSERT_EQ(t->worker, 0);
	pr_task_free(t);

	ASSERT_EQ(parse_s(&c, "{\"kernel\":\"chol\",\"n\":50}", &t, &eb), 1);
	ASSERT_EQ(t->kind, PR_KIND_KERNEL);
	ASSERT_STR_EQ(t->kernel, "chol");
	ASSERT_STR_EQ(t->cmd, "kernel chol");
	pr_task_free(t);
	pr_buf_release(&b);
	ctx_close(&c);
	ASSERT_EQ(pr_task_live(), 0);
}

TEST(task_seq_and_source)
{
	struct ctx c;
	struct pr_task *t;
	struct pr_errbuf eb;
	char line[] = "echo a";

	ctx_open(&c, NULL, NULL, 0, false);
	ASSERT_EQ(pr_task_parse_line(c.p, line, strlen(line), 42, "jobs.txt",
	    7, &t, &eb), 1);
	ASSERT_U64_EQ(t->seq, 42);
	ASSERT_STR_EQ(t->id, "42");
	ASSERT_STR_EQ(t->src, "jobs.txt");
	ASSERT_EQ(t->line, 7);
	ASSERT_STR_EQ(t->body, "\"id\":\"42\",\"sh\":\"echo a\"");
	pr_task_free(t);
	{
		char bad[] = "{\"sh\":1}";

		ASSERT_EQ(pr_task_parse_line(c.p, bad, strlen(bad), 3,
		    "jobs.txt", 9, &t, &eb), PR_EBADINPUT);
		ASSERT_STR_EQ(eb.msg, "jobs.txt:9:7: field 'sh' must be a "
		    "non-empty string");
	}
	ctx_close(&c);
}

/* ---- {%}: bodies per job slot ------------------------------------------- */

TEST(task_slot_bodies)
{
	static const char *const w[] = { "./sim", "--slot={%}", "{}", "{#}" };
	static const char *const sw[] = { "run", "{%}", "{}" };
	struct ctx c;
	struct pr_task *t;
	struct pr_errbuf eb;
	struct pr_buf b;

	ctx_open(&c, NULL, w, 4, false);
	ASSERT_EQ(parse_s(&c, "x y", &t, &eb), 1);
	ASSERT(pr_task_slot_dependent(t));
	ASSERT(t->body == NULL);
	ASSERT_STR_EQ(t->cmd, "./sim --slot={%} x y 1");
	pr_buf_init(&b, 0);
	ASSERT_OK(pr_task_body(t, 3, &b));
	ASSERT_STR_EQ(b.data, "\"id\":\"1\",\"argv\":[\"./sim\","
	    "\"--slot=3\",\"x y\",\"1\"]");
	pr_buf_reset(&b);
	ASSERT_OK(pr_task_body(t, 12, &b));
	ASSERT_STR_EQ(b.data, "\"id\":\"1\",\"argv\":[\"./sim\","
	    "\"--slot=12\",\"x y\",\"1\"]");
	pr_buf_reset(&b);
	ASSERT_OK(pr_task_cmd(t, 12, &b));
	ASSERT_STR_EQ(b.data, "./sim --slot=12 x y 1");
	pr_task_free(t);

	/* a value that looks like an escape is not a hole */
	ASSERT_EQ(parse_s(&c, "\\u0000", &t, &eb), 1);
	pr_buf_reset(&b);
	ASSERT_OK(pr_task_body(t, 2, &b));
	ASSERT_STR_EQ(b.data, "\"id\":\"1\",\"argv\":[\"./sim\","
	    "\"--slot=2\",\"\\\\u0000\",\"1\"]");
	pr_task_free(t);
	ctx_close(&c);

	ctx_open(&c, NULL, sw, 3, true);
	ASSERT_EQ(parse_s(&c, "{\"args\":[\"a'b\"],\"timeout\":1}", &t, &eb),
	    1);
	pr_buf_reset(&b);
	ASSERT_OK(pr_task_body(t, 7, &b));
	ASSERT_STR_EQ(b.data, "\"id\":\"1\",\"sh\":\"run '7' 'a'\\\\''b'\","
	    "\"timeout_ms\":1000");
	pr_buf_reset(&b);
	ASSERT_OK(pr_task_cmd(t, 7, &b));
	ASSERT_STR_EQ(b.data, "run '7' 'a'\\''b'");
	ASSERT_STR_EQ(t->cmd, "run '{%}' 'a'\\''b'");
	pr_task_free(t);
	pr_buf_release(&b);
	ctx_close(&c);
}

/* ---- rejected and range tasks ------------------------------------------- */

TEST(task_rejected)
{
	struct ctx c;
	struct pr_task *t;
	struct pr_buf b;

	ctx_open(&c, NULL, NULL, 0, false);
	ASSERT_EQ(pr_task_rejected(c.p, 5, "stdin", 3, "stdin:3:7: field "
	    "'sh' must be a non-empty string", "{\"sh\":1}\x1b", 9, &t), 1);
	ASSERT_EQ(t->status, PR_ST_REJECTED);
	ASSERT_U64_EQ(t->seq, 5);
	ASSERT_STR_EQ(t->id, "5");
	ASSERT_STR_EQ(t->error, "stdin:3:7: field 'sh' must be a non-empty "
	    "string");
	ASSERT_STR_EQ(t->cmd, "{\"sh\":1}\\x1b");
	ASSERT(t->body == NULL);
	ASSERT_EQ(t->line, 3);
	pr_buf_init(&b, 0);
	ASSERT_EQ(pr_task_body(t, 1, &b), -EINVAL);
	pr_buf_release(&b);
	pr_task_free(t);
	ctx_close(&c);
}

TEST(task_range_chunk)
{
	struct ctx c;
	struct pr_task *t;
	cJSON *j;
	char obj[512];

	ctx_open(&c, NULL, NULL, 0, false);
	ASSERT_EQ(pr_task_range_chunk(c.p, 1, 1, 10, 1, 10, &t), -EINVAL);
	ctx_close(&c);
	ctx_open(&c, "randsum", NULL, 0, false);
	ASSERT_EQ(pr_task_range_chunk(c.p, 2, -5, 13, 3, 7, &t), 1);
	ASSERT_STR_EQ(t->body, "\"id\":\"2\",\"kernel\":\"randsum\","
	    "\"params\":{\"from\":-5,\"to\":13,\"step\":3,\"n\":7}");
	ASSERT_STR_EQ(t->kernel, "randsum");
	ASSERT_EQ(t->kind, PR_KIND_KERNEL);
	ASSERT_STR_EQ(t->cmd, "kernel randsum -5:13:3");
	snprintf(obj, sizeof(obj), "{%s}", t->body);
	j = cJSON_Parse(obj);
	ASSERT(j != NULL);
	cJSON_Delete(j);
	pr_task_free(t);
	ctx_close(&c);
}

TEST(task_parser_rejects_bad_kernel_name)
{
	struct pr_task_parser *p;
	struct pr_task_opts o = { NULL, "a;b" };
	struct pr_errbuf eb = { 0, "" };

	ASSERT_EQ(pr_task_parser_new(&p, &o, &eb), PR_ECONFIG);
	ASSERT(strstr(eb.msg, "invalid kernel name 'a;b'") != NULL);
}

TEST(task_from_values)
{
	static const char *const w[] = { "cp", "{1}", "{2//}/{1/.}.bak" };
	struct ctx c;
	struct pr_task *t;
	struct pr_errbuf eb;
	const char *v[2] = { "dir/a.txt", "out/x" };
	size_t l[2] = { 9, 5 };
	const char *bad[1] = { "a\xff" };
	size_t bl[1] = { 2 };

	ctx_open(&c, NULL, w, 3, false);
	ASSERT_EQ(pr_task_from_values(c.p, v, l, 2, 4, "args", 2, &t, &eb), 1);
	ASSERT_STR_EQ(t->body, "\"id\":\"4\",\"argv\":[\"cp\",\"dir/a.txt\","
	    "\"out/a.bak\"]");
	ASSERT_STR_EQ(t->tag, "dir/a.txt\tout/x");
	pr_task_free(t);
	ASSERT_EQ(pr_task_from_values(c.p, bad, bl, 1, 1, "args", 1, &t, &eb),
	    PR_EBADINPUT);
	ASSERT_STR_EQ(eb.msg, "args:1:2: invalid UTF-8 in value 1");
	ctx_close(&c);

	/* no template: the values are a shell command (GNU parallel) */
	ctx_open(&c, NULL, NULL, 0, false);
	ASSERT_EQ(pr_task_from_values(c.p, v, l, 2, 1, "args", 1, &t, &eb), 1);
	ASSERT_STR_EQ(t->body, "\"id\":\"1\",\"sh\":\"dir/a.txt out/x\"");
	pr_task_free(t);
	ctx_close(&c);

	/* --kernel: one number per task */
	ctx_open(&c, "sleep", NULL, 0, false);
	ASSERT_EQ(pr_task_from_values(c.p, v, l, 2, 1, "args", 1, &t, &eb),
	    PR_EBADINPUT);
	v[0] = "0.5";
	l[0] = 3;
	ASSERT_EQ(pr_task_from_values(c.p, v, l, 1, 1, "args", 1, &t, &eb), 1);
	ASSERT_STR_EQ(t->body, "\"id\":\"1\",\"kernel\":\"sleep\","
	    "\"params\":{\"n\":0.5}");
	pr_task_free(t);
	ctx_close(&c);
}

/* ---- the task is one block; nothing stays behind ------------------------ */

TEST(task_live_counter)
{
	struct ctx c;
	struct pr_task *t[100];
	struct pr_errbuf eb;
	long base = pr_task_live();
	int i;

	ctx_open(&c, NULL, NULL, 0, false);
	for (i = 0; i < 100; i++)
		ASSERT_EQ(parse_s(&c, "{\"argv\":[\"a\",\"b\"]}", &t[i], &eb),
		    1);
	ASSERT_EQ(pr_task_live(), base + 100);
	for (i = 0; i < 100; i++)
		pr_task_free(t[i]);
	ASSERT_EQ(pr_task_live(), base);
	pr_task_free(NULL);
	ctx_close(&c);
}

/* ---- cost --------------------------------------------------------------- */

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

TEST(task_parse_speed)
{
	static const char line[] = "{\"id\":\"t123\",\"argv\":[\"./simulate\","
	    "\"--rep\",\"123\",\"--out\",\"res/123.json\"],\"timeout\":60}";
	static const char *const w[] = { "./simulate", "--rep", "{}" };
	struct ctx c;
	struct pr_task *t;
	struct pr_errbuf eb;
	char buf[sizeof(line)];
	int i, n = 200000;
	double t0, json_ns, plain_ns;

	ctx_open(&c, NULL, w, 3, false);
	t0 = now();
	for (i = 0; i < n; i++) {
		memcpy(buf, line, sizeof(line));
		ASSERT_EQ(pr_task_parse_line(c.p, buf, sizeof(line) - 1, 1,
		    "stdin", 1, &t, &eb), 1);
		pr_task_free(t);
	}
	json_ns = (now() - t0) / n * 1e9;
	t0 = now();
	for (i = 0; i < n; i++) {
		char v[] = "123456";

		ASSERT_EQ(pr_task_parse_line(c.p, v, 6, 1, "stdin", 1, &t,
		    &eb), 1);
		pr_task_free(t);
	}
	plain_ns = (now() - t0) / n * 1e9;
	printf("# json line: %.0f ns, plain line with template: %.0f ns\n",
	    json_ns, plain_ns);
	/* a loose bound: sanitizer builds are several times slower */
	ASSERT(json_ns < 50000);
	ASSERT(plain_ns < 50000);
	ctx_close(&c);
}
