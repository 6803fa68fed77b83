/*
 * test_journal.c - lib/journal.c and the task fingerprints (lib/task.c,
 * lib/input.c): fingerprints stay the same for the same task (reordered,
 * reformatted, another default id) and change with a byte of it; the
 * journal round-trips, resumes reordered, extended and edited inputs,
 * tolerates a torn end with its exact offset, refuses damage in the
 * middle and foreign files, reports a full disk, batches its fdatasyncs,
 * tells identical tasks apart, and loads a million tasks in bounded
 * memory.  Fixtures: tests/fixtures/journal/ (the fingerprints in
 * good.journal were computed independently, with Python's hashlib, from
 * the canonical texts task.h documents).
 */
#include "test.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "buf.h"
#include "input.h"
#include "journal.h"
#include "task.h"
#include "template.h"

/* ---- helpers ------------------------------------------------------------ */

static const char *
fixture(const char *name)
{
	static char buf[4][512];
	static int next;
	char *b = buf[next++ % 4];

	snprintf(b, sizeof(buf[0]), "%s/journal/%s", pr_test_fixtures(), name);
	return b;
}

static char *
slurp(const char *path, size_t *len)
{
	struct pr_buf b;
	char tmp[4096];
	ssize_t r;
	int fd = open(path, O_RDONLY);

	ASSERT(fd >= 0);
	pr_buf_init(&b, 0);
	ASSERT_OK(pr_buf_add(&b, "", 0));
	while ((r = read(fd, tmp, sizeof(tmp))) > 0)
		ASSERT_OK(pr_buf_add(&b, tmp, (size_t)r));
	close(fd);
	return pr_buf_detach(&b, len);
}

static void
spit(const char *path, const char *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	ASSERT(fd >= 0);
	ASSERT_EQ(write(fd, data, len), (ssize_t)len);
	close(fd);
}

static off_t
fsize(const char *path)
{
	struct stat sb;

	ASSERT_OK(stat(path, &sb));
	return sb.st_size;
}

/* Tasks of a whole input file, read with fingerprints on. */
struct tasks {
	struct pr_task *t[64];
	size_t n;
};

static void
read_tasks(struct tasks *ts, const char *path, const char *const *tmpl,
    size_t ntmpl, const char *kernel)
{
	struct pr_input_src src = { PR_SRC_FILE, path, NULL, 0, NULL };
	struct pr_input_opts o;
	struct pr_input *in;
	struct pr_errbuf eb = { 0, "" };
	struct pr_task *t;
	int rc;

	pr_input_opts_init(&o);
	o.srcs = &src;
	o.nsrcs = 1;
	o.tmpl = tmpl;
	o.ntmpl = ntmpl;
	o.kernel = kernel;
	o.fingerprint = true;
	ASSERT_OK(pr_input_new(&in, &o, &eb));
	ts->n = 0;
	while ((rc = pr_input_next(in, &t, &eb)) == 1) {
		ASSERT(ts->n < 64);
		ASSERT(t->has_fingerprint);
		ts->t[ts->n++] = t;
	}
	if (rc != 0)
		PR_TEST_FAIL("input: %s", eb.msg);
	pr_input_free(in);
}

static void
free_tasks(struct tasks *ts)
{
	for (size_t i = 0; i < ts->n; i++)
		pr_task_free(ts->t[i]);
	ts->n = 0;
}

/* A parser with fingerprints on. */
struct fctx {
	struct pr_template *tmpl;
	struct pr_task_parser *p;
	uint64_t seq;
};

static void
fctx_open(struct fctx *c, const char *kernel, const char *const *words,
    size_t n, bool shell)
{
	struct pr_task_opts o;
	struct pr_errbuf eb = { 0, "" };

	memset(&o, 0, sizeof(o));
	memset(c, 0, sizeof(*c));
	o.kernel = kernel;
	if (n > 0) {
		ASSERT_OK(pr_template_new(&c->tmpl, words, n, shell, &eb));
		o.tmpl = c->tmpl;
	}
	ASSERT_OK(pr_task_parser_new(&c->p, &o, &eb));
	ASSERT_OK(pr_task_parser_set_fingerprint(c->p, words, n, shell));
}

static void
fctx_close(struct fctx *c)
{
	pr_task_parser_free(c->p);
	pr_template_free(c->tmpl);
}

/* The task of one line at seq (seq 0: the next one). */
static struct pr_task *
line_at(struct fctx *c, const char *s, uint64_t seq)
{
	struct pr_errbuf eb = { 0, "" };
	struct pr_task *t = NULL;
	size_t n = strlen(s);
	char *line = malloc(n + 1);
	int rc;

	ASSERT(line != NULL);
	memcpy(line, s, n + 1);
	rc = pr_task_parse_line(c->p, line, n, seq ? seq : ++c->seq, "t", 1,
	    &t, &eb);
	if (rc != 1)
		PR_TEST_FAIL("'%s': %d %s", s, rc, eb.msg);
	free(line);
	return t;
}

static struct pr_task *
line(struct fctx *c, const char *s)
{
	return line_at(c, s, 0);
}

static bool
same_fp(const struct pr_task *a, const struct pr_task *b)
{
	ASSERT(a->has_fingerprint && b->has_fingerprint);
	return memcmp(a->fingerprint, b->fingerprint, 32) == 0;
}

/* Two lines give the same fingerprint, or not. */
static void
check_fp(struct fctx *c, const char *a, const char *b, bool same)
{
	struct pr_task *x = line(c, a), *y = line(c, b);

	if (same_fp(x, y) != same)
		PR_TEST_FAIL("'%s' and '%s' should %s", a, b,
		    same ? "match" : "differ");
	pr_task_free(x);
	pr_task_free(y);
}

static void
hex_of(const struct pr_task *t, char hex[65])
{
	pr_journal_fp_hex(t->fingerprint, hex);
}

/* A bare task with a given fingerprint, for the index tests. */
static void
fake_task(struct pr_task *t, uint64_t seq, const uint8_t fp[32])
{
	static char ids[8][24];

	memset(t, 0, sizeof(*t));
	t->seq = seq;
	snprintf(ids[seq % 8], sizeof(ids[0]), "%llu",
	    (unsigned long long)seq);
	t->id = ids[seq % 8];
	t->has_fingerprint = true;
	memcpy(t->fingerprint, fp, 32);
}

static void
open_journal(struct pr_journal **j, const char *path, bool resume,
    bool retry, struct pr_journal_info *info)
{
	struct pr_journal_opts o;
	struct pr_errbuf eb = { 0, "" };

	pr_journal_opts_init(&o);
	o.path = path;
	o.resume = resume;
	o.retry_failed = retry;
	o.seed = 42;
	o.started = 1700000000.5;
	if (pr_journal_open(j, &o, info, &eb) != 0)
		PR_TEST_FAIL("open '%s': %s", path, eb.msg);
}

static void
close_journal(struct pr_journal *j)
{
	struct pr_errbuf eb = { 0, "" };

	if (pr_journal_close(j, &eb) != 0)
		PR_TEST_FAIL("close: %s", eb.msg);
}

static void
sync_journal(struct pr_journal *j)
{
	struct pr_errbuf eb = { 0, "" };

	if (pr_journal_sync(j, &eb) != 0)
		PR_TEST_FAIL("sync: %s", eb.msg);
}

static struct pr_journal *
load(const char *path, bool retry, struct pr_journal_info *info)
{
	struct pr_journal *j = NULL;
	struct pr_errbuf eb = { 0, "" };

	if (pr_journal_load(&j, path, retry, info, &eb) != 0)
		PR_TEST_FAIL("load '%s': %s", path, eb.msg);
	return j;
}

static int
decide(struct pr_journal *j, struct pr_task *t)
{
	enum pr_status prev;

	return pr_journal_decide(j, t, &prev);
}

/* ---- fingerprints ------------------------------------------------------ */

TEST(journal_fp_json_and_plain_forms_match)
{
	static const char *const echo[] = { "echo", "{}" };
	static const char *const echo_sh[] = { "echo", "{}" };
	struct fctx c, t, s;

	fctx_open(&c, NULL, NULL, 0, false);
	/* a plain line is a shell command */
	check_fp(&c, "{\"sh\":\"echo a\"}", "echo a", true);
	/* formatting and escapes do not matter */
	check_fp(&c, "{\"argv\":[\"echo\",\"a\"]}",
	    "  { \"argv\" : [ \"ech\\u006f\" , \"a\" ] }  ", true);
	check_fp(&c, "{\"sh\":\"a/b\"}", "{\"sh\":\"a\\/b\"}", true);
	/* members parrun ignores do not matter */
	check_fp(&c, "{\"sh\":\"x\"}", "{\"sh\":\"x\",\"note\":[1,2]}", true);
	/* argv and sh are different tasks */
	check_fp(&c, "{\"argv\":[\"echo\",\"a\"]}", "echo a", false);
	fctx_close(&c);

	/* a template without {#}: the command after substitution */
	fctx_open(&t, NULL, echo, 2, false);
	fctx_open(&c, NULL, NULL, 0, false);
	{
		struct pr_task *a = line(&t, "hello world");
		struct pr_task *b = line(&c,
		    "{\"argv\":[\"echo\",\"hello world\"]}");
		struct pr_task *d = line(&t, "{\"args\":[\"hello world\"]}");

		ASSERT(same_fp(a, b));
		ASSERT(same_fp(a, d));
		pr_task_free(a);
		pr_task_free(b);
		pr_task_free(d);
	}
	fctx_close(&t);
	fctx_open(&s, NULL, echo_sh, 2, true);
	{
		struct pr_task *a = line(&s, "it's");
		struct pr_task *b = line(&c, "{\"sh\":\"echo 'it'\\\\''s'\"}");

		ASSERT(same_fp(a, b));
		pr_task_free(a);
		pr_task_free(b);
	}
	fctx_close(&s);
	fctx_close(&c);
	ASSERT_EQ(pr_task_live(), 0);
}

TEST(journal_fp_ids_seq_and_placement)
{
	struct fctx c;
	struct pr_task *a, *b;

	fctx_open(&c, NULL, NULL, 0, false);
	/* the default id (the seq) does not matter */
	a = line_at(&c, "{\"sh\":\"x\"}", 1);
	b = line_at(&c, "{\"sh\":\"x\"}", 1000);
	ASSERT(same_fp(a, b));
	ASSERT(!a->id_given);
	ASSERT_STR_EQ(b->id, "1000");
	pr_task_free(a);
	pr_task_free(b);
	/* an explicit id does, and 7 is "7" */
	check_fp(&c, "{\"sh\":\"x\"}", "{\"id\":\"1\",\"sh\":\"x\"}", false);
	check_fp(&c, "{\"id\":7,\"sh\":\"x\"}", "{\"id\":\"7\",\"sh\":\"x\"}",
	    true);
	check_fp(&c, "{\"id\":\"a\",\"sh\":\"x\"}",
	    "{\"id\":\"b\",\"sh\":\"x\"}", false);
	a = line(&c, "{\"id\":7,\"sh\":\"x\"}");
	ASSERT(a->id_given);
	pr_task_free(a);
	/* timeout, retries and placement do not matter */
	check_fp(&c, "{\"sh\":\"x\"}", "{\"sh\":\"x\",\"timeout\":3,"
	    "\"retries\":2,\"host\":\"n1\",\"worker\":4}", true);
	/* env, cwd and seed do; env's key order does not */
	check_fp(&c, "{\"sh\":\"x\"}", "{\"sh\":\"x\",\"cwd\":\"/\"}", false);
	check_fp(&c, "{\"sh\":\"x\"}", "{\"sh\":\"x\",\"env\":{}}", false);
	check_fp(&c, "{\"sh\":\"x\",\"env\":{\"A\":\"1\",\"B\":\"2\"}}",
	    "{\"env\":{\"B\":\"2\",\"A\":\"1\"},\"sh\":\"x\"}", true);
	check_fp(&c, "{\"sh\":\"x\",\"env\":{\"A\":\"1\"}}",
	    "{\"sh\":\"x\",\"env\":{\"A\":\"2\"}}", false);
	check_fp(&c, "{\"sh\":\"x\"}", "{\"sh\":\"x\",\"seed\":1}", false);
	fctx_close(&c);
	ASSERT_EQ(pr_task_live(), 0);
}

TEST(journal_fp_one_byte_changes_it)
{
	static const char base[] = "{\"argv\":[\"./fit\",\"--k\",\"3\"],"
	    "\"env\":{\"A\":\"x\"},\"cwd\":\"/d\",\"id\":\"t\",\"seed\":5}";
	/* a byte of each part, as it appears in base */
	static const struct {
		const char *from, *to;
	} edit[] = {
		{ "./fit", "./fiu" }, { "--k", "--j" }, { "\"3\"", "\"4\"" },
		{ "\"A\"", "\"B\"" }, { "\"x\"", "\"y\"" },
		{ "/d", "/e" }, { "\"t\"", "\"u\"" }, { "5}", "6}" },
		{ "\"3\"]", "\"3\",\"\"]" },
	};
	struct fctx c;
	size_t i;

	fctx_open(&c, NULL, NULL, 0, false);
	for (i = 0; i < sizeof(edit) / sizeof(edit[0]); i++) {
		char m[256];
		const char *at = strstr(base, edit[i].from);

		ASSERT(at != NULL);
		snprintf(m, sizeof(m), "%.*s%s%s", (int)(at - base), base,
		    edit[i].to, at + strlen(edit[i].from));
		check_fp(&c, base, m, false);
	}
	check_fp(&c, "{\"sh\":\"zcat f.gz | wc -l\"}",
	    "{\"sh\":\"zcat f.gz | wc -L\"}", false);
	check_fp(&c, "echo a", "echo  a", false);
	fctx_close(&c);
	ASSERT_EQ(pr_task_live(), 0);
}

TEST(journal_fp_kernel_forms)
{
	struct fctx c, k;
	struct pr_task *a, *b, *d, *e;

	fctx_open(&c, NULL, NULL, 0, false);
	fctx_open(&k, "randsum", NULL, 0, false);
	a = line(&c, "{\"kernel\":\"randsum\",\"n\":1000}");
	b = line(&c, "{\"kernel\":\"randsum\",\"params\":{\"n\":1000}}");
	d = line(&k, "1000");
	e = line(&k, "{\"n\":1000,\"timeout\":4,\"id\":\"9\"}");
	ASSERT(same_fp(a, b));
	ASSERT(same_fp(a, d));
	ASSERT(!same_fp(a, e));		/* an explicit id */
	pr_task_free(e);
	e = line(&k, "{\"n\":1000,\"timeout\":4,\"host\":\"h\"}");
	ASSERT(same_fp(a, e));
	pr_task_free(a);
	pr_task_free(b);
	pr_task_free(d);
	pr_task_free(e);
	/* numbers as written; parameters' key order does not matter */
	check_fp(&c, "{\"kernel\":\"k\",\"n\":5}",
	    "{\"kernel\":\"k\",\"n\":5.0}", false);
	check_fp(&c, "{\"kernel\":\"k\",\"params\":{\"a\":1,\"b\":[1,{\"y\":2,"
	    "\"x\":1}]}}", "{\"kernel\":\"k\",\"params\":{\"b\":[1,{\"x\":1,"
	    "\"y\":2}],\"a\":1}}", true);
	check_fp(&c, "{\"kernel\":\"k\",\"params\":{\"a\":[1,2]}}",
	    "{\"kernel\":\"k\",\"params\":{\"a\":[2,1]}}", false);
	check_fp(&c, "{\"kernel\":\"k\",\"n\":5}", "{\"kernel\":\"j\",\"n\":5}",
	    false);
	/* the own members left out of whole-line parameters are only
	 * parrun's: a kernel's other members count */
	check_fp(&c, "{\"kernel\":\"k\",\"n\":5}",
	    "{\"kernel\":\"k\",\"n\":5,\"m\":1}", false);
	fctx_close(&c);
	fctx_close(&k);
	ASSERT_EQ(pr_task_live(), 0);
}

TEST(journal_fp_templates_with_seq_and_slot)
{
	static const char *const seqw[] = { "echo", "{#}", "{}" };
	static const char *const slotw[] = { "run", "--slot={%}", "{}" };
	static const char *const plain[] = { "echo", "1", "{}" };
	struct fctx s, l, p;
	struct pr_task *a, *b, *d;
	const char *text;

	fctx_open(&s, NULL, seqw, 3, false);
	fctx_open(&l, NULL, slotw, 3, false);
	fctx_open(&p, NULL, plain, 3, false);
	/* {#}: the template and the values, not the position */
	a = line_at(&s, "v", 1);
	b = line_at(&s, "v", 9);
	ASSERT(same_fp(a, b));
	text = pr_task_parser_fp_text(s.p, NULL);
	ASSERT_STR_EQ(text, "{\"template\":{\"shell\":false,\"words\":"
	    "[\"echo\",\"{#}\",\"{}\"]},\"values\":[\"v\"]}");
	/* seq 1 renders as "echo 1 v", yet it is another task */
	d = line_at(&p, "v", 1);
	ASSERT(!same_fp(a, d));
	pr_task_free(b);
	b = line_at(&s, "w", 1);
	ASSERT(!same_fp(a, b));
	pr_task_free(a);
	pr_task_free(b);
	pr_task_free(d);
	/* {%}: the slot is not known, the fingerprint is */
	a = line_at(&l, "v", 1);
	b = line_at(&l, "{\"args\":[\"v\"],\"timeout\":2}", 5);
	ASSERT(pr_task_slot_dependent(a));
	ASSERT(same_fp(a, b));
	pr_task_free(a);
	pr_task_free(b);
	fctx_close(&s);
	fctx_close(&l);
	fctx_close(&p);
	ASSERT_EQ(pr_task_live(), 0);
}

TEST(journal_fp_canonical_text)
{
	struct fctx c;
	struct pr_task *t;

	fctx_open(&c, NULL, NULL, 0, false);
	t = line(&c, "{\"seed\":3,\"id\":\"t1\",\"env\":{\"B\":\"2\","
	    "\"A\":\"\\u00e9\\n\"},\"cwd\":\"/tmp\",\"argv\":[\"echo\","
	    "\"a b\"],\"timeout\":1}");
	ASSERT_STR_EQ(pr_task_parser_fp_text(c.p, NULL),
	    "{\"argv\":[\"echo\",\"a b\"],\"cwd\":\"/tmp\",\"env\":{\"A\":"
	    "\"\xc3\xa9\\n\",\"B\":\"2\"},\"id\":\"t1\",\"seed\":3}");
	pr_task_free(t);
	/* rejected tasks have none */
	{
		struct pr_task *r = NULL;

		ASSERT_EQ(pr_task_rejected(c.p, 4, "t", 4, "bad", "x", 1, &r),
		    1);
		ASSERT(!r->has_fingerprint);
		pr_task_free(r);
	}
	fctx_close(&c);
	/* off by default */
	{
		struct pr_task_opts o;
		struct pr_task_parser *p;
		struct pr_errbuf eb = { 0, "" };
		char l[] = "echo a";

		memset(&o, 0, sizeof(o));
		ASSERT_OK(pr_task_parser_new(&p, &o, &eb));
		ASSERT_EQ(pr_task_parse_line(p, l, 6, 1, "t", 1, &t, &eb), 1);
		ASSERT(!t->has_fingerprint);
		pr_task_free(t);
		pr_task_parser_free(p);
	}
	ASSERT_EQ(pr_task_live(), 0);
}

/* The fingerprints in good.journal were made by Python from the canonical
 * texts: the same tasks read by parrun must have them. */
TEST(journal_fp_matches_independent_hashes)
{
	struct tasks ts;
	char hex[65];
	size_t len;
	char *good = slurp(fixture("good.journal"), &len);

	read_tasks(&ts, fixture("tasks.jsonl"), NULL, 0, NULL);
	ASSERT_EQ(ts.n, 7);
	hex_of(ts.t[0], hex);		/* t1 */
	ASSERT(strstr(good, hex) != NULL);
	hex_of(ts.t[1], hex);		/* echo two */
	ASSERT(strstr(good, hex) != NULL);
	hex_of(ts.t[2], hex);		/* echo three */
	ASSERT(strstr(good, hex) != NULL);
	free_tasks(&ts);
	free(good);
	ASSERT_EQ(pr_task_live(), 0);
}

TEST(journal_fp_reordered_file)
{
	struct tasks a, b;
	size_t i, k;

	read_tasks(&a, fixture("tasks.jsonl"), NULL, 0, NULL);
	read_tasks(&b, fixture("tasks-reordered.jsonl"), NULL, 0, NULL);
	ASSERT_EQ(a.n, b.n);
	/* the same multiset of fingerprints */
	for (i = 0; i < a.n; i++) {
		size_t na = 0, nb = 0;

		for (k = 0; k < a.n; k++) {
			na += same_fp(a.t[i], a.t[k]);
			nb += same_fp(a.t[i], b.t[k]);
		}
		if (na != nb)
			PR_TEST_FAIL("task %zu of tasks.jsonl: %zu vs %zu",
			    i + 1, na, nb);
	}
	/* explicit ids are kept and marked */
	ASSERT(a.t[0]->id_given && b.t[5]->id_given);
	ASSERT_STR_EQ(b.t[5]->id, "t1");
	ASSERT(same_fp(a.t[0], b.t[5]));
	free_tasks(&a);
	free_tasks(&b);
	ASSERT_EQ(pr_task_live(), 0);
}

/* ---- the journal ------------------------------------------------------- */

TEST(journal_round_trip)
{
	struct pr_journal *j;
	struct pr_journal_info info;
	struct tasks ts;
	const char *path = pr_test_path("j");
	struct stat sb;
	enum pr_status prev;
	char *text;
	size_t i;

	read_tasks(&ts, fixture("tasks.jsonl"), NULL, 0, NULL);
	open_journal(&j, path, false, false, &info);
	ASSERT_OK(stat(path, &sb));
	ASSERT_EQ(sb.st_mode & 0777, 0600);
	for (i = 0; i < ts.n; i++) {
		ASSERT_EQ(decide(j, ts.t[i]), PR_JOURNAL_RUN);
		ASSERT_OK(pr_journal_submit(j, ts.t[i]));
	}
	ASSERT_OK(pr_journal_dispatch(j, 1, 1, 1, "node07"));
	ASSERT_OK(pr_journal_dispatch(j, 2, 1, 2, NULL));
	ASSERT_OK(pr_journal_result(j, ts.t[0], PR_ST_OK, 1, 0));
	ASSERT_OK(pr_journal_result(j, ts.t[1], PR_ST_FAILED, 1, 3));
	ASSERT_OK(pr_journal_result(j, ts.t[3], PR_ST_TIMEOUT, 2, -1));
	ASSERT_OK(pr_journal_result(j, ts.t[4], PR_ST_LOST, 3, -1));
	ASSERT_OK(pr_journal_result(j, ts.t[5], PR_ST_CANCELLED, 1, -1));
	sync_journal(j);
	close_journal(j);

	text = slurp(path, NULL);
	ASSERT(strncmp(text, "{\"journal\":\"parrun\",\"v\":1,\"seed\":42,"
	    "\"started\":1700000000.5}\n", 59) == 0);
	ASSERT(strstr(text, "{\"type\":\"dispatch\",\"seq\":1,\"attempt\":1,"
	    "\"worker\":1,\"host\":\"node07\"}\n") != NULL);
	ASSERT(strstr(text, "\"id\":\"t1\",\"fp\":\"") != NULL);
	ASSERT(strstr(text, "\"id_given\":true,\"status\":\"ok\","
	    "\"attempt\":1,\"exit\":0}\n") != NULL);
	ASSERT(strstr(text, "\"status\":\"timeout\",\"attempt\":2,"
	    "\"exit\":null}\n") != NULL);
	/* every line is JSON */
	{
		char *p = text, *nl;

		while ((nl = strchr(p, '\n')) != NULL) {
			cJSON *o;

			*nl = '\0';
			o = cJSON_Parse(p);
			ASSERT(o != NULL);
			cJSON_Delete(o);
			p = nl + 1;
		}
		ASSERT_EQ(*p, '\0');
	}
	free(text);

	j = load(path, false, &info);
	ASSERT_EQ(info.runs, 1);
	ASSERT_EQ(info.seed, 42);
	ASSERT_DBL_NEAR(info.started, 1700000000.5, 1e-6);
	ASSERT_EQ(info.submits, 7);
	ASSERT_EQ(info.dispatches, 2);
	ASSERT_EQ(info.results, 5);
	ASSERT_EQ(info.tasks, 6);	/* "echo three" twice, k = 0 both */
	ASSERT_EQ(info.by_status[PR_ST_OK], 1);
	ASSERT_EQ(info.by_status[PR_ST_FAILED], 1);
	ASSERT_EQ(info.by_status[PR_ST_TIMEOUT], 1);
	ASSERT_EQ(info.by_status[PR_ST_LOST], 1);
	ASSERT_EQ(info.by_status[PR_ST_CANCELLED], 1);
	ASSERT_EQ(info.unfinished, 1);
	ASSERT_EQ(info.ids, 2);
	ASSERT(!info.torn);
	ASSERT_EQ(info.size, fsize(path));
	ASSERT_EQ(pr_journal_decide(j, ts.t[0], &prev), PR_JOURNAL_SKIP_DONE);
	ASSERT_EQ(prev, PR_ST_OK);
	ASSERT_EQ(pr_journal_decide(j, ts.t[1], &prev),
	    PR_JOURNAL_SKIP_FAILED);
	ASSERT_EQ(prev, PR_ST_FAILED);
	/* submitted only */
	ASSERT_EQ(decide(j, ts.t[2]), PR_JOURNAL_RUN);
	ASSERT_EQ(decide(j, ts.t[3]), PR_JOURNAL_SKIP_FAILED);
	ASSERT_EQ(decide(j, ts.t[4]), PR_JOURNAL_RERUN);
	ASSERT_EQ(decide(j, ts.t[5]), PR_JOURNAL_RERUN);
	ASSERT_EQ(decide(j, ts.t[6]), PR_JOURNAL_RUN);	/* the 2nd copy */
	ASSERT_EQ(ts.t[6]->fp_dup, 1);
	ASSERT(pr_journal_runs(PR_JOURNAL_RERUN));
	ASSERT(!pr_journal_runs(PR_JOURNAL_SKIP_DONE));
	ASSERT(!pr_journal_runs(PR_JOURNAL_CHANGED));
	/* a loaded journal does not record */
	ASSERT_EQ(pr_journal_submit(j, ts.t[0]), -EBADF);
	close_journal(j);

	/* --retry-failed */
	j = load(path, true, NULL);
	for (i = 0; i < ts.n; i++)
		ts.t[i]->fp_dup = 0;
	ASSERT_EQ(decide(j, ts.t[0]), PR_JOURNAL_SKIP_DONE);
	ASSERT_EQ(decide(j, ts.t[1]), PR_JOURNAL_RETRY_FAILED);
	ASSERT_EQ(decide(j, ts.t[3]), PR_JOURNAL_RETRY_FAILED);
	ASSERT_EQ(decide(j, ts.t[4]), PR_JOURNAL_RERUN);
	close_journal(j);
	free_tasks(&ts);
	ASSERT_EQ(pr_task_live(), 0);
}

TEST(journal_fixture_decisions)
{
	struct pr_journal *j;
	struct pr_journal_info info;
	struct tasks ts;

	read_tasks(&ts, fixture("tasks.jsonl"), NULL, 0, NULL);
	j = load(fixture("good.journal"), false, &info);
	ASSERT_EQ(info.records, 10);
	ASSERT_EQ(info.tasks, 3);
	ASSERT_EQ(decide(j, ts.t[0]), PR_JOURNAL_SKIP_DONE);	/* t1 ok */
	ASSERT_EQ(decide(j, ts.t[1]), PR_JOURNAL_SKIP_FAILED);
	ASSERT_EQ(decide(j, ts.t[2]), PR_JOURNAL_RERUN);	/* lost */
	ASSERT_EQ(ts.t[2]->fp_dup, 0);
	ASSERT_EQ(decide(j, ts.t[3]), PR_JOURNAL_RUN);
	/* the second "echo three" */
	ASSERT_EQ(decide(j, ts.t[6]), PR_JOURNAL_RUN);
	ASSERT_EQ(ts.t[6]->fp_dup, 1);
	close_journal(j);
	free_tasks(&ts);
}

/* Run 1 over tasks.jsonl ends after three results; run 2 resumes with
 * the reordered input, then the edited one. */
TEST(journal_resume_reordered_extended_edited)
{
	struct pr_journal *j;
	struct pr_journal_info info;
	struct tasks a, b, e;
	const char *path = pr_test_path("j");
	size_t i, runs = 0;

	read_tasks(&a, fixture("tasks.jsonl"), NULL, 0, NULL);
	open_journal(&j, path, false, false, NULL);
	for (i = 0; i < a.n; i++)
		ASSERT_OK(pr_journal_submit(j, a.t[i]));
	/* t1, the kernel, 42 */
	ASSERT_OK(pr_journal_result(j, a.t[0], PR_ST_OK, 1, 0));
	ASSERT_OK(pr_journal_result(j, a.t[3], PR_ST_OK, 1, 0));
	ASSERT_OK(pr_journal_result(j, a.t[5], PR_ST_OK, 1, 0));
	sync_journal(j);
	/* killed here: no close */
	pr_journal_close(j, NULL);

	read_tasks(&b, fixture("tasks-reordered.jsonl"), NULL, 0, NULL);
	open_journal(&j, path, true, false, &info);
	ASSERT_EQ(info.runs, 1);
	for (i = 0; i < b.n; i++) {
		int d = decide(j, b.t[i]);

		ASSERT(d == PR_JOURNAL_RUN || d == PR_JOURNAL_SKIP_DONE);
		if (d == PR_JOURNAL_RUN) {
			runs++;
			ASSERT_OK(pr_journal_submit(j, b.t[i]));
			ASSERT_OK(pr_journal_result(j, b.t[i], PR_ST_OK, 1,
			    0));
		}
	}
	ASSERT_EQ(runs, 4);	/* 7 tasks, 3 done */
	close_journal(j);

	/* the edited input: t1 changed (refused without force), "echo two"
	 * edited (no id: a new task), one task added */
	read_tasks(&e, fixture("tasks-edited.jsonl"), NULL, 0, NULL);
	j = load(path, false, &info);
	ASSERT_EQ(info.runs, 2);
	/* run 1 submitted both copies of "echo three", so run 2 could
	 * number them: 7 distinct tasks are done */
	ASSERT_EQ(info.by_status[PR_ST_OK], 7);
	ASSERT_EQ(decide(j, e.t[0]), PR_JOURNAL_SKIP_DONE);
	ASSERT_EQ(decide(j, e.t[1]), PR_JOURNAL_SKIP_DONE);	/* id 42 */
	ASSERT_EQ(decide(j, e.t[2]), PR_JOURNAL_SKIP_DONE);
	ASSERT_EQ(decide(j, e.t[3]), PR_JOURNAL_SKIP_DONE);
	ASSERT_EQ(decide(j, e.t[4]), PR_JOURNAL_RUN);	/* edited */
	ASSERT_EQ(decide(j, e.t[5]), PR_JOURNAL_CHANGED);	/* t1 */
	ASSERT_EQ(decide(j, e.t[6]), PR_JOURNAL_SKIP_DONE);
	ASSERT_EQ(e.t[6]->fp_dup, 1);
	ASSERT_EQ(decide(j, e.t[7]), PR_JOURNAL_RUN);		/* new */
	close_journal(j);

	/* --force-resume: the coordinator runs the changed task; after
	 * that the journal knows t1 by its new fingerprint */
	open_journal(&j, path, true, false, NULL);
	for (i = 0; i < e.n; i++)
		e.t[i]->fp_dup = 0;
	for (i = 0; i < e.n; i++) {
		int d = decide(j, e.t[i]);

		if (pr_journal_runs(d) || d == PR_JOURNAL_CHANGED) {
			ASSERT_OK(pr_journal_submit(j, e.t[i]));
			ASSERT_OK(pr_journal_result(j, e.t[i], PR_ST_OK, 1,
			    0));
		}
	}
	close_journal(j);
	j = load(path, false, NULL);
	for (i = 0; i < e.n; i++)
		e.t[i]->fp_dup = 0;
	for (i = 0; i < e.n; i++)
		ASSERT_EQ(decide(j, e.t[i]), PR_JOURNAL_SKIP_DONE);
	close_journal(j);
	free_tasks(&a);
	free_tasks(&b);
	free_tasks(&e);
}

TEST(journal_last_record_wins)
{
	struct pr_journal *j;
	struct tasks ts;
	const char *path = pr_test_path("j");

	read_tasks(&ts, fixture("tasks.jsonl"), NULL, 0, NULL);
	open_journal(&j, path, false, false, NULL);
	ASSERT_OK(pr_journal_result(j, ts.t[0], PR_ST_FAILED, 1, 1));
	ASSERT_OK(pr_journal_result(j, ts.t[0], PR_ST_OK, 2, 0));
	ASSERT_OK(pr_journal_result(j, ts.t[1], PR_ST_OK, 1, 0));
	ASSERT_OK(pr_journal_result(j, ts.t[1], PR_ST_LOST, 2, -1));
	close_journal(j);
	j = load(path, false, NULL);
	ASSERT_EQ(decide(j, ts.t[0]), PR_JOURNAL_SKIP_DONE);
	ASSERT_EQ(decide(j, ts.t[1]), PR_JOURNAL_RERUN);
	close_journal(j);
	free_tasks(&ts);
}

/* Three identical tasks: the journal counts them. */
TEST(journal_identical_tasks)
{
	struct pr_journal *j;
	struct fctx c;
	struct pr_task *t[3];
	const char *path = pr_test_path("j");
	char *text;
	int i;

	fctx_open(&c, NULL, NULL, 0, false);
	for (i = 0; i < 3; i++)
		t[i] = line(&c, "./bench");
	/* run 1: two of them finish (a fresh journal: all have k = 0) */
	open_journal(&j, path, false, false, NULL);
	for (i = 0; i < 3; i++)
		ASSERT_EQ(decide(j, t[i]), PR_JOURNAL_RUN);
	ASSERT_OK(pr_journal_result(j, t[0], PR_ST_OK, 1, 0));
	ASSERT_OK(pr_journal_result(j, t[2], PR_ST_OK, 1, 0));
	close_journal(j);
	/* run 2: one counts as done, two run, now numbered */
	open_journal(&j, path, true, false, NULL);
	ASSERT_EQ(decide(j, t[0]), PR_JOURNAL_SKIP_DONE);
	ASSERT_EQ(decide(j, t[1]), PR_JOURNAL_RUN);
	ASSERT_EQ(decide(j, t[2]), PR_JOURNAL_RUN);
	ASSERT_EQ(t[1]->fp_dup, 1);
	ASSERT_EQ(t[2]->fp_dup, 2);
	ASSERT_OK(pr_journal_result(j, t[1], PR_ST_OK, 1, 0));
	ASSERT_OK(pr_journal_result(j, t[2], PR_ST_OK, 1, 0));
	close_journal(j);
	text = slurp(path, NULL);
	ASSERT(strstr(text, "\",\"k\":1,\"status\":\"ok\"") != NULL);
	ASSERT(strstr(text, "\",\"k\":2,\"status\":\"ok\"") != NULL);
	free(text);
	/* run 3: all three are done */
	j = load(path, false, NULL);
	for (i = 0; i < 3; i++)
		ASSERT_EQ(decide(j, t[i]), PR_JOURNAL_SKIP_DONE);
	/* a fourth copy runs */
	{
		struct pr_task *x = line(&c, "./bench");

		ASSERT_EQ(decide(j, x), PR_JOURNAL_RUN);
		ASSERT_EQ(x->fp_dup, 3);
		pr_task_free(x);
	}
	close_journal(j);
	for (i = 0; i < 3; i++)
		pr_task_free(t[i]);
	fctx_close(&c);
}

TEST(journal_acks)
{
	struct pr_journal_opts o;
	struct pr_journal *j;
	struct pr_journal_info info;
	struct pr_errbuf eb = { 0, "" };
	struct tasks ts;
	const char *path = pr_test_path("j");

	read_tasks(&ts, fixture("tasks.jsonl"), NULL, 0, NULL);
	pr_journal_opts_init(&o);
	o.path = path;
	o.acks = true;
	ASSERT_OK(pr_journal_open(&j, &o, NULL, &eb));
	ASSERT_OK(pr_journal_result(j, ts.t[0], PR_ST_OK, 1, 0));
	ASSERT_OK(pr_journal_result(j, ts.t[1], PR_ST_FAILED, 1, 1));
	ASSERT_OK(pr_journal_result(j, ts.t[2], PR_ST_OK, 1, 0));
	sync_journal(j);
	ASSERT_OK(pr_journal_emitted(j, ts.t[0]));
	ASSERT_OK(pr_journal_emitted(j, ts.t[1]));
	/* killed before the output of ts.t[2] was written */
	close_journal(j);
	j = load(path, false, &info);
	ASSERT_EQ(info.emitted, 2);
	ASSERT_EQ(info.unemitted, 1);
	ASSERT_EQ(decide(j, ts.t[0]), PR_JOURNAL_SKIP_DONE);
	ASSERT_EQ(decide(j, ts.t[1]), PR_JOURNAL_SKIP_FAILED);
	ASSERT_EQ(decide(j, ts.t[2]), PR_JOURNAL_UNEMITTED);
	ASSERT(pr_journal_runs(PR_JOURNAL_UNEMITTED));
	close_journal(j);
	free_tasks(&ts);
}

/* ---- torn ends and damage ---------------------------------------------- */

static void
check_torn(const char *name, uint64_t off, unsigned long line,
    const char *why)
{
	struct pr_journal *j;
	struct pr_journal_info info;
	const char *path = pr_test_path(name);
	size_t len;
	char *data = slurp(fixture(name), &len);
	struct tasks ts;

	j = load(fixture(name), false, &info);
	ASSERT(info.torn);
	ASSERT_U64_EQ(info.torn_offset, off);
	ASSERT_EQ(info.torn_line, line);
	ASSERT_U64_EQ(info.torn_bytes, len - off);
	ASSERT_U64_EQ(info.size, off);
	if (strstr(info.torn_reason, why) == NULL)
		PR_TEST_FAIL("%s: reason '%s'", name, info.torn_reason);
	ASSERT_EQ(info.records, 10);
	close_journal(j);
	/* the same from memory */
	ASSERT_OK(pr_journal_load_mem(&j, data, len, name, false, &info,
	    NULL));
	ASSERT(info.torn && info.torn_offset == off);
	close_journal(j);

	/* continuing cuts it off and appends after the last good record */
	spit(path, data, len);
	open_journal(&j, path, true, false, &info);
	ASSERT(info.torn && info.cut);
	ASSERT_U64_EQ(info.torn_offset, off);
	read_tasks(&ts, fixture("tasks.jsonl"), NULL, 0, NULL);
	ASSERT_EQ(decide(j, ts.t[0]), PR_JOURNAL_SKIP_DONE);
	ASSERT_OK(pr_journal_result(j, ts.t[3], PR_ST_OK, 1, 0));
	close_journal(j);
	j = load(path, false, &info);
	ASSERT(!info.torn);
	ASSERT_EQ(info.runs, 2);
	ASSERT_EQ(info.records, 12);
	close_journal(j);
	free_tasks(&ts);
	free(data);
}

TEST(journal_torn_no_line_feed)
{
	check_torn("torn-nolf.journal", (uint64_t)fsize(
	    fixture("good.journal")), 11, "no line feed");
}

TEST(journal_torn_half_object)
{
	check_torn("torn-half.journal", (uint64_t)fsize(
	    fixture("good.journal")), 11, "bad value");
}

TEST(journal_torn_junk_at_end)
{
	check_torn("junk-end.journal", (uint64_t)fsize(
	    fixture("good.journal")), 11, "not a JSON object");
}

TEST(journal_torn_zeroed_blocks)
{
	check_torn("zero-tail.journal", (uint64_t)fsize(
	    fixture("good.journal")), 11, "no line feed");
}

TEST(journal_torn_header_only)
{
	struct pr_journal *j;
	struct pr_journal_info info;
	const char *path = pr_test_path("j");
	size_t len;
	char *data = slurp(fixture("torn-header.journal"), &len);

	spit(path, data, len);
	open_journal(&j, path, true, false, &info);
	ASSERT(info.torn && info.torn_offset == 0 && info.runs == 0);
	close_journal(j);
	j = load(path, false, &info);
	ASSERT(!info.torn && info.runs == 1 && info.records == 1);
	close_journal(j);
	free(data);
}

TEST(journal_damage_in_the_middle)
{
	struct pr_journal *j = NULL;
	struct pr_journal_info info;
	struct pr_errbuf eb = { 0, "" };
	const char *path = pr_test_path("j");
	char *good = slurp(fixture("good.journal"), NULL);
	char *data, *p, want[64];
	size_t len;
	uint64_t off = 0;
	int i;

	/* the bad record follows the first three lines */
	for (p = good, i = 0; i < 3; i++) {
		char *nl = strchr(p, '\n');

		off += (uint64_t)(nl - p) + 1;
		p = nl + 1;
	}
	ASSERT_EQ(pr_journal_load(&j, fixture("junk-middle.journal"), false,
	    &info, &eb), PR_EJOURNAL);
	ASSERT(j == NULL);
	snprintf(want, sizeof(want), "at byte %llu (line 4): bad fingerprint",
	    (unsigned long long)off);
	if (strstr(eb.msg, want) == NULL)
		PR_TEST_FAIL("message: %s", eb.msg);
	ASSERT(strstr(eb.msg, "truncate -s") != NULL);
	/* refused to be continued too, and left alone */
	data = slurp(fixture("junk-middle.journal"), &len);
	spit(path, data, len);
	{
		struct pr_journal_opts o;

		pr_journal_opts_init(&o);
		o.path = path;
		o.resume = true;
		ASSERT_EQ(pr_journal_open(&j, &o, NULL, &eb), PR_EJOURNAL);
	}
	ASSERT_EQ(fsize(path), (off_t)len);
	/* junk, then only blank lines and NULs, is a torn end */
	{
		struct pr_buf b;

		pr_buf_init(&b, 0);
		ASSERT_OK(pr_buf_adds(&b, good));
		ASSERT_OK(pr_buf_adds(&b, "junk\n\n  \r\n"));
		ASSERT_OK(pr_buf_add(&b, "\0\0\0\n\0", 5));
		ASSERT_OK(pr_journal_load_mem(&j, b.data, b.len, "m", false,
		    &info, &eb));
		ASSERT(info.torn && info.torn_offset == strlen(good));
		close_journal(j);
		/* and with one more record after it, damage */
		ASSERT_OK(pr_buf_adds(&b, "{}\n"));
		ASSERT_EQ(pr_journal_load_mem(&j, b.data, b.len, "m", false,
		    &info, &eb), PR_EJOURNAL);
		pr_buf_release(&b);
	}
	/* an over-long line in the middle */
	{
		struct pr_buf b;

		pr_buf_init(&b, 0);
		ASSERT_OK(pr_buf_adds(&b, good));
		for (i = 0; i < 70000; i++)
			ASSERT_OK(pr_buf_addc(&b, 'x'));
		ASSERT_OK(pr_buf_addc(&b, '\n'));
		ASSERT_OK(pr_journal_load_mem(&j, b.data, b.len, "m", false,
		    &info, &eb));
		ASSERT(info.torn && info.torn_offset == strlen(good));
		ASSERT(strstr(info.torn_reason, "longer") != NULL);
		close_journal(j);
		ASSERT_OK(pr_buf_adds(&b, good + 61));
		ASSERT_EQ(pr_journal_load_mem(&j, b.data, b.len, "m", false,
		    &info, &eb), PR_EJOURNAL);
		pr_buf_release(&b);
	}
	free(data);
	free(good);
}

TEST(journal_refuses_foreign_files)
{
	struct pr_journal *j = NULL;
	struct pr_journal_opts o;
	struct pr_errbuf eb = { 0, "" };
	const char *path = pr_test_path("notes.txt");
	size_t len;
	char *data;

	ASSERT_EQ(pr_journal_load(&j, fixture("foreign.txt"), false, NULL,
	    &eb), PR_EJOURNAL);
	ASSERT(strstr(eb.msg, "not a parrun journal") != NULL);
	ASSERT_EQ(pr_journal_load(&j, fixture("v2.journal"), false, NULL,
	    &eb), PR_EJOURNAL);
	ASSERT(strstr(eb.msg, "version 2") != NULL);
	/* a one-line file without LF is not cut as a "torn" record */
	spit(path, "my notes", 8);
	pr_journal_opts_init(&o);
	o.path = path;
	o.resume = true;
	ASSERT_EQ(pr_journal_open(&j, &o, NULL, &eb), PR_EJOURNAL);
	ASSERT(strstr(eb.msg, "not a parrun journal") != NULL);
	data = slurp(path, &len);
	ASSERT_EQ(len, 8);
	free(data);
	/* a valid JSON line that is not a header */
	ASSERT_EQ(pr_journal_load_mem(&j, "{\"a\":1}\n", 8, "m", false, NULL,
	    &eb), PR_EJOURNAL);
	ASSERT(strstr(eb.msg, "not a parrun journal") != NULL);
}

TEST(journal_open_rules)
{
	struct pr_journal *j = NULL, *k = NULL;
	struct pr_journal_opts o;
	struct pr_errbuf eb = { 0, "" };
	const char *path = pr_test_path("j"), *link = pr_test_path("link");
	pid_t pid;
	int st;

	/* a new journal must be new (or empty) */
	open_journal(&j, path, false, false, NULL);
	close_journal(j);
	pr_journal_opts_init(&o);
	o.path = path;
	ASSERT_EQ(pr_journal_open(&j, &o, NULL, &eb), PR_EJOURNAL);
	ASSERT(strstr(eb.msg, "--resume") != NULL);
	spit(pr_test_path("empty"), "", 0);
	open_journal(&j, pr_test_path("empty"), false, false, NULL);
	close_journal(j);
	/* resume of a missing journal starts one */
	open_journal(&j, pr_test_path("missing"), true, false, NULL);
	close_journal(j);
	/* no symbolic links */
	ASSERT_OK(symlink(path, link));
	o.path = link;
	o.resume = true;
	ASSERT_EQ(pr_journal_open(&j, &o, NULL, &eb), PR_EJOURNAL);
	ASSERT(strstr(eb.msg, "symbolic link") != NULL);
	ASSERT_EQ(pr_journal_load(&j, link, false, NULL, &eb), -ELOOP);
	/* not a regular file */
	o.path = pr_test_dir();
	ASSERT(pr_journal_open(&j, &o, NULL, &eb) < 0);
	/* one parrun at a time (record locks are per process: ask from a
	 * child) */
	open_journal(&j, path, true, false, NULL);
	pid = fork();
	ASSERT(pid >= 0);
	if (pid == 0) {
		o.path = path;
		_exit(pr_journal_open(&k, &o, NULL, &eb) == PR_EJOURNAL &&
		    strstr(eb.msg, "in use") != NULL ? 0 : 1);
	}
	ASSERT_EQ(waitpid(pid, &st, 0), pid);
	ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	close_journal(j);
	pid = fork();
	ASSERT(pid >= 0);
	if (pid == 0) {
		o.path = path;
		if (pr_journal_open(&k, &o, NULL, &eb) != 0)
			_exit(1);
		_exit(pr_journal_close(k, NULL) == 0 ? 0 : 1);
	}
	ASSERT_EQ(waitpid(pid, &st, 0), pid);
	ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* ---- writing: batching and a full disk --------------------------------- */

struct hooks {
	size_t budget;			/* bytes before ENOSPC */
	int syncs;
	int sync_errno;
};

static ssize_t
hook_write(void *arg, int fd, const void *p, size_t n)
{
	struct hooks *h = arg;

	if (h->budget == 0) {
		errno = ENOSPC;
		return -1;
	}
	if (n > h->budget)
		n = h->budget;	/* a short write, as a full disk gives */
	h->budget -= n;
	return write(fd, p, n);
}

static int
hook_sync(void *arg, int fd)
{
	struct hooks *h = arg;

	h->syncs++;
	if (h->sync_errno != 0) {
		errno = h->sync_errno;
		return -1;
	}
	return fdatasync(fd);
}

TEST(journal_sync_batches)
{
	struct pr_journal_opts o;
	struct pr_journal *j;
	struct pr_journal_stats st;
	struct pr_errbuf eb = { 0, "" };
	struct hooks h = { (size_t)-1, 0, 0 };
	struct fctx c;
	struct pr_task *t;
	int i;

	fctx_open(&c, NULL, NULL, 0, false);
	t = line(&c, "echo a");
	pr_journal_opts_init(&o);
	o.path = pr_test_path("j");
	o.write_fn = hook_write;
	o.sync_fn = hook_sync;
	o.hook_arg = &h;
	ASSERT_OK(pr_journal_open(&j, &o, NULL, &eb));
	ASSERT_EQ(h.syncs, 1);		/* the header */
	/* submits and dispatches alone wait, and never sync */
	for (i = 0; i < 10; i++) {
		ASSERT_OK(pr_journal_submit(j, t));
		ASSERT_OK(pr_journal_dispatch(j, t->seq, 1, 1, NULL));
		sync_journal(j);
	}
	pr_journal_get_stats(j, &st);
	ASSERT_EQ(st.writes, 1);
	ASSERT_EQ(h.syncs, 1);
	ASSERT(pr_journal_pending(j));
	/* a turn with 500 results: one write, one fdatasync */
	for (i = 0; i < 500; i++)
		ASSERT_OK(pr_journal_result(j, t, PR_ST_OK, 1, 0));
	sync_journal(j);
	pr_journal_get_stats(j, &st);
	ASSERT_EQ(st.writes, 2);
	ASSERT_EQ(st.syncs, 2);
	ASSERT_EQ(h.syncs, 2);
	ASSERT(!pr_journal_pending(j));
	sync_journal(j);		/* nothing new: nothing done */
	ASSERT_EQ(h.syncs, 2);
	/* 64 KiB of submits go out without a sync */
	for (i = 0; i < 1000; i++)
		ASSERT_OK(pr_journal_submit(j, t));
	sync_journal(j);
	pr_journal_get_stats(j, &st);
	ASSERT_EQ(st.writes, 3);
	ASSERT_EQ(h.syncs, 2);
	/* close syncs what was written */
	ASSERT_OK(pr_journal_close(j, &eb));
	ASSERT_EQ(h.syncs, 3);
	pr_task_free(t);
	fctx_close(&c);
}

TEST(journal_full_disk)
{
	struct pr_journal_opts o;
	struct pr_journal *j;
	struct pr_journal_info info;
	struct pr_errbuf eb = { 0, "" };
	struct hooks h = { (size_t)-1, 0, 0 };
	struct fctx c;
	struct pr_task *t;
	const char *path = pr_test_path("j");
	off_t before;
	int i;

	fctx_open(&c, NULL, NULL, 0, false);
	t = line(&c, "echo a");
	pr_journal_opts_init(&o);
	o.path = path;
	o.write_fn = hook_write;
	o.sync_fn = hook_sync;
	o.hook_arg = &h;
	ASSERT_OK(pr_journal_open(&j, &o, NULL, &eb));
	ASSERT_OK(pr_journal_result(j, t, PR_ST_OK, 1, 0));
	sync_journal(j);
	before = fsize(path);
	/* the disk fills in the middle of the next batch */
	h.budget = 300;
	for (i = 0; i < 10; i++)
		ASSERT_OK(pr_journal_result(j, t, PR_ST_OK, 1, 0));
	ASSERT_EQ(pr_journal_sync(j, &eb), -ENOSPC);
	if (strstr(eb.msg, "cannot write journal") == NULL ||
	    strstr(eb.msg, "o space left on device") == NULL)
		PR_TEST_FAIL("message: %s", eb.msg);
	/* what the batch wrote is cut off: no partial record */
	ASSERT_EQ(fsize(path), before);
	/* and every later call fails the same way */
	ASSERT_EQ(pr_journal_result(j, t, PR_ST_OK, 1, 0), -ENOSPC);
	eb.msg[0] = '\0';
	ASSERT_EQ(pr_journal_sync(j, &eb), -ENOSPC);
	ASSERT(strstr(eb.msg, "o space") != NULL);
	ASSERT_EQ(pr_journal_close(j, &eb), -ENOSPC);
	j = load(path, false, &info);
	ASSERT(!info.torn);
	ASSERT_EQ(info.results, 1);
	close_journal(j);

	/* a failing fdatasync is an error too */
	h.budget = (size_t)-1;
	h.sync_errno = EIO;
	o.path = pr_test_path("k");
	ASSERT_EQ(pr_journal_open(&j, &o, NULL, &eb), -EIO);
	ASSERT(strstr(eb.msg, "cannot sync journal") != NULL);
	pr_task_free(t);
	fctx_close(&c);
}

/* ---- scale ------------------------------------------------------------- */

static uint64_t
splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void
fp_of(uint64_t i, uint8_t fp[32])
{
	uint64_t s = i * 7919 + 1, w;
	int k;

	for (k = 0; k < 4; k++) {
		w = splitmix(&s);
		memcpy(fp + 8 * k, &w, 8);
	}
}

#define MANY	1000000

struct gen {
	int fd;
};

/* Write MANY result records into the pipe. */
static void *
generate(void *arg)
{
	struct gen *g = arg;
	struct pr_buf b;
	uint8_t fp[32];
	char hex[65];
	uint64_t i;

	pr_buf_init(&b, 0);
	pr_buf_adds(&b, "{\"journal\":\"parrun\",\"v\":1,\"seed\":1}\n");
	for (i = 1; i <= MANY; i++) {
		fp_of(i, fp);
		pr_journal_fp_hex(fp, hex);
		pr_buf_addf(&b, "{\"type\":\"result\",\"seq\":%llu,\"id\":"
		    "\"%llu\",\"fp\":\"%s\",\"status\":\"%s\",\"attempt\":1,"
		    "\"exit\":0}\n", (unsigned long long)i,
		    (unsigned long long)i, hex, i % 10 == 0 ? "failed" : "ok");
		if (b.len > 60000 || i == MANY) {
			size_t at = 0;

			while (at < b.len) {
				ssize_t w = write(g->fd, b.data + at,
				    b.len - at);

				if (w <= 0)
					break;
				at += (size_t)w;
			}
			pr_buf_reset(&b);
		}
	}
	pr_buf_release(&b);
	close(g->fd);
	return NULL;
}

TEST(journal_million_tasks)
{
	struct pr_journal *j;
	struct pr_journal_info info;
	struct pr_errbuf eb = { 0, "" };
	struct timespec t0, t1;
	struct rusage ru;
	struct pr_task t;
	pthread_t th;
	struct gen g;
	uint8_t fp[32];
	double secs;
	int p[2];
	uint64_t i;

	ASSERT_OK(pipe(p));
	g.fd = p[1];
	ASSERT_OK(pthread_create(&th, NULL, generate, &g));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (pr_journal_load_fd(&j, p[0], "pipe", false, &info, &eb) != 0)
		PR_TEST_FAIL("load: %s", eb.msg);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	pthread_join(th, NULL);
	close(p[0]);
	secs = (double)(t1.tv_sec - t0.tv_sec) +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	fprintf(stderr, "# %d tasks loaded in %.2f s, index %zu bytes "
	    "(%.1f per task)\n", MANY, secs, pr_journal_mem(j),
	    (double)pr_journal_mem(j) / MANY);
	ASSERT_EQ(info.tasks, MANY);
	ASSERT_EQ(info.by_status[PR_ST_OK], MANY - MANY / 10);
	ASSERT_EQ(info.by_status[PR_ST_FAILED], MANY / 10);
	ASSERT(!info.torn);
	/* bounded memory: the index, not the file (~140 MB) */
	ASSERT(pr_journal_mem(j) < 42u * MANY);
	getrusage(RUSAGE_SELF, &ru);
	ASSERT(ru.ru_maxrss < 200 * 1024);	/* KiB */
	ASSERT(secs < 30);
	for (i = 1; i <= MANY; i += 997) {
		fp_of(i, fp);
		fake_task(&t, i, fp);
		ASSERT_EQ(decide(j, &t), i % 10 == 0 ?
		    PR_JOURNAL_SKIP_FAILED : PR_JOURNAL_SKIP_DONE);
	}
	fp_of(MANY + 1, fp);
	fake_task(&t, 1, fp);
	ASSERT_EQ(decide(j, &t), PR_JOURNAL_RUN);
	close_journal(j);
}

TEST(journal_summary)
{
	struct pr_journal *j;
	struct pr_journal_info info;
	struct pr_buf b;
	cJSON *o;

	j = load(fixture("torn-nolf.journal"), false, &info);
	close_journal(j);
	pr_buf_init(&b, 0);
	ASSERT_OK(pr_journal_format_info(&b, "torn-nolf.journal", &info,
	    false));
	ASSERT(strstr(b.data, "1 run, seed 42, 3 tasks") != NULL);
	ASSERT(strstr(b.data, "ok 1, failed 1, timeout 0, error 0, "
	    "cancelled 0, lost 1") != NULL);
	ASSERT(strstr(b.data, "torn last record at byte 1004 (line 11)")
	    != NULL);
	pr_buf_reset(&b);
	ASSERT_OK(pr_journal_format_info(&b, "torn-nolf.journal", &info,
	    true));
	o = cJSON_Parse(b.data);
	ASSERT(o != NULL);
	ASSERT_EQ(cJSON_GetObjectItem(o, "ok")->valueint, 1);
	ASSERT_EQ(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "torn"),
	    "offset")->valueint, 1004);
	cJSON_Delete(o);
	pr_buf_release(&b);
	ASSERT_STR_EQ(pr_journal_decision_name(PR_JOURNAL_SKIP_DONE),
	    "skip-done");
}
