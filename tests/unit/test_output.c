/* test_output.c - lib/output.c: grouping, tags, order, spill, results,
 * joblog, write errors. */
#include "test.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "buf.h"
#include "json.h"
#include "output.h"
#include "progress.h"

/* ---- helpers ---------------------------------------------------------- */

/* A file to stand for stdout or stderr. */
static int
tfile(const char *name)
{
	int fd = open(pr_test_path(name), O_RDWR | O_CREAT | O_TRUNC, 0600);

	ASSERT(fd >= 0);
	return fd;
}

/* Whole contents of fd (from offset 0), NUL-terminated; *n its length. */
static char *
slurp_fd(int fd, size_t *n)
{
	struct pr_buf b;
	char tmp[4096];
	off_t off = 0;
	ssize_t r;

	pr_buf_init(&b, 0);
	ASSERT_OK(pr_buf_add(&b, "", 0));
	while ((r = pread(fd, tmp, sizeof(tmp), off)) > 0) {
		ASSERT_OK(pr_buf_add(&b, tmp, (size_t)r));
		off += r;
	}
	if (n != NULL)
		*n = b.len;
	return pr_buf_detach(&b, NULL);
}

static char *
slurp(const char *path, size_t *n)
{
	int fd = open(path, O_RDONLY);
	char *s;

	ASSERT(fd >= 0);
	s = slurp_fd(fd, n);
	close(fd);
	return s;
}

static void
rec_init(struct pr_record *r, uint64_t seq, const char *id, const char *out,
    const char *err)
{
	memset(r, 0, sizeof(*r));
	r->seq = seq;
	r->id = id;
	r->status = PR_ST_OK;
	r->exit = 0;
	r->attempts = 1;
	r->worker = 1;
	r->start = 1700000000.25;
	r->elapsed = 0.5;
	r->out = out;
	r->outlen = out ? strlen(out) : 0;
	r->err = err;
	r->errlen = err ? strlen(err) : 0;
	r->cmd = "echo x";
}

static struct pr_output *
open_out(struct pr_output_opts *oo)
{
	struct pr_output *o = NULL;
	struct pr_errbuf eb = { 0 };

	if (pr_output_open(&o, oo, &eb) != 0)
		PR_TEST_FAIL("open: %s", eb.msg);
	return o;
}

static void
close_out(struct pr_output *o)
{
	struct pr_errbuf eb = { 0 };

	if (pr_output_close(o, &eb) != 0)
		PR_TEST_FAIL("close: %s", eb.msg);
}

static void
record(struct pr_output *o, const struct pr_record *r)
{
	struct pr_errbuf eb = { 0 };

	if (pr_output_record(o, r, &eb) != 0)
		PR_TEST_FAIL("record %llu: %s", (unsigned long long)r->seq,
		    eb.msg);
}

static void
shuffle(uint64_t *a, size_t n, unsigned seed)
{
	srand(seed);
	for (size_t i = n - 1; i > 0; i--) {
		size_t j = (size_t)rand() % (i + 1);
		uint64_t t = a[i];

		a[i] = a[j];
		a[j] = t;
	}
}

/* Parse every line of a results file; returns the count. */
static size_t
parse_lines(const char *text, cJSON **items, size_t max)
{
	size_t n = 0;
	const char *p = text;

	while (*p != '\0') {
		const char *nl = strchr(p, '\n');

		ASSERT(nl != NULL);
		ASSERT(n < max);
		items[n] = cJSON_ParseWithLength(p, (size_t)(nl - p));
		if (items[n] == NULL)
			PR_TEST_FAIL("line %zu is not JSON: %.*s", n + 1,
			    (int)(nl - p), p);
		n++;
		p = nl + 1;
	}
	return n;
}

/* ---- grouping and tags ------------------------------------------------ */

TEST(output_grouped_not_interleaved)
{
	struct pr_output_opts oo;
	struct pr_output *o;
	struct pr_record r;
	int ofd = tfile("out"), efd = tfile("err");
	char *s;

	pr_output_opts_init(&oo);
	oo.out_fd = ofd;
	oo.err_fd = efd;
	o = open_out(&oo);
	/* output of two running tasks arrives interleaved */
	ASSERT_OK(pr_output_chunk(o, 1, NULL, 1, "a1\n", 3, NULL));
	ASSERT_OK(pr_output_chunk(o, 2, NULL, 1, "b1\n", 3, NULL));
	ASSERT_OK(pr_output_chunk(o, 1, NULL, 2, "ea1\n", 4, NULL));
	ASSERT_OK(pr_output_chunk(o, 2, NULL, 1, "b2\n", 3, NULL));
	ASSERT_OK(pr_output_chunk(o, 1, NULL, 1, "a2\n", 3, NULL));
	ASSERT_OK(pr_output_flush(o, NULL));
	s = slurp_fd(ofd, NULL);
	ASSERT_STR_EQ(s, "");		/* nothing before the record */
	free(s);
	rec_init(&r, 2, "2", "b3", "eb\n");
	record(o, &r);
	rec_init(&r, 1, "1", "a3\n", "ea2\n");
	record(o, &r);
	close_out(o);
	s = slurp_fd(ofd, NULL);
	ASSERT_STR_EQ(s, "b1\nb2\nb3a1\na2\na3\n");
	free(s);
	s = slurp_fd(efd, NULL);
	ASSERT_STR_EQ(s, "eb\nea1\nea2\n");
	free(s);
}

/* stdout and stderr on one file (a terminal, 2>&1): each task's stdout
 * then its stderr, in record order. */
TEST(output_same_file_keeps_order)
{
	struct pr_output_opts oo;
	struct pr_output *o;
	struct pr_record r;
	int fd = tfile("both");
	char *s;

	pr_output_opts_init(&oo);
	oo.out_fd = fd;
	oo.err_fd = dup(fd);
	o = open_out(&oo);
	rec_init(&r, 1, "1", "o1\n", "e1\n");
	record(o, &r);
	rec_init(&r, 2, "2", "o2\n", "e2\n");
	record(o, &r);
	rec_init(&r, 3, "3", "o3\n", NULL);
	record(o, &r);
	close_out(o);
	s = slurp_fd(fd, NULL);
	ASSERT_STR_EQ(s, "o1\ne1\no2\ne2\no3\n");
	free(s);
	close(oo.err_fd);
}

TEST(output_tag_prefix)
{
	struct pr_output_opts oo;
	struct pr_output *o;
	struct pr_record r;
	int ofd = tfile("out"), efd = tfile("err");
	char *s;

	pr_output_opts_init(&oo);
	oo.out_fd = ofd;
	oo.err_fd = efd;
	oo.tag = true;
	o = open_out(&oo);
	rec_init(&r, 1, "1", "x\ny", "warn\n");
	r.tag = "a";
	record(o, &r);
	rec_init(&r, 2, "t2", "p\n\nq\n", NULL);	/* tag: the id */
	record(o, &r);
	rec_init(&r, 3, "3", "", "");		/* nothing at all */
	r.tag = "c";
	record(o, &r);
	close_out(o);
	s = slurp_fd(ofd, NULL);
	/* no newline is added after "y", as GNU parallel --tag */
	ASSERT_STR_EQ(s, "a\tx\na\tyt2\tp\nt2\t\nt2\tq\n");
	free(s);
	s = slurp_fd(efd, NULL);
	ASSERT_STR_EQ(s, "a\twarn\n");
	free(s);
}

TEST(output_quiet_writes_only_records)
{
	struct pr_output_opts oo;
	struct pr_output *o;
	struct pr_record r;
	int ofd = tfile("out"), efd = tfile("err");
	char *s;

	pr_output_opts_init(&oo);
	oo.out_fd = ofd;
	oo.err_fd = efd;
	oo.quiet = true;
	oo.results = pr_test_path("res");
	o = open_out(&oo);
	rec_init(&r, 1, "1", "hello\n", "e\n");
	record(o, &r);
	close_out(o);
	s = slurp_fd(ofd, NULL);
	ASSERT_STR_EQ(s, "");
	free(s);
	s = slurp_fd(efd, NULL);
	ASSERT_STR_EQ(s, "");
	free(s);
	s = slurp(pr_test_path("res"), NULL);
	ASSERT(strstr(s, "\"stdout\":\"hello\\n\"") != NULL);
	free(s);
}

/* ---- keep_order ------------------------------------------------------- */

static void
keep_order_run(uint64_t *order, size_t n, size_t hold_max, bool check_held)
{
	struct pr_output_opts oo;
	struct pr_output *o;
	struct pr_record r;
	struct pr_buf want;
	int ofd = tfile("out"), efd = tfile("err");
	char text[64], *s;
	struct pr_output_stats st;

	pr_output_opts_init(&oo);
	oo.out_fd = ofd;
	oo.err_fd = efd;
	oo.keep_order = true;
	oo.hold_max = hold_max;
	oo.spill_dir = pr_test_dir();
	o = open_out(&oo);
	for (size_t i = 0; i < n; i++) {
		uint64_t seq = order[i];

		snprintf(text, sizeof(text), "task %llu out\nline 2\n",
		    (unsigned long long)seq);
		rec_init(&r, seq, "x", text, "e\n");
		record(o, &r);
		/* in reverse order all but the last are held */
		if (check_held)
			ASSERT_EQ(pr_output_held(o), i + 1 < n ? i + 1 : 0);
	}
	ASSERT_U64_EQ(pr_output_next_seq(o), n + 1);
	ASSERT_EQ(pr_output_held(o), 0);
	ASSERT_EQ(pr_output_held_bytes(o), 0);
	pr_output_get_stats(o, &st);
	ASSERT_U64_EQ(st.emitted, n);
	ASSERT_U64_EQ(st.failed, 0);
	if (hold_max > 0 && hold_max < 64)
		ASSERT(st.spilled > 0);
	else
		ASSERT_U64_EQ(st.spilled, 0);
	close_out(o);
	pr_buf_init(&want, 0);
	for (size_t seq = 1; seq <= n; seq++)
		ASSERT_OK(pr_buf_addf(&want, "task %zu out\nline 2\n", seq));
	s = slurp_fd(ofd, NULL);
	ASSERT_STR_EQ(s, want.data);
	free(s);
	pr_buf_release(&want);
}

TEST(output_keep_order_reverse)
{
	uint64_t order[200];

	for (size_t i = 0; i < 200; i++)
		order[i] = 200 - i;
	keep_order_run(order, 200, 0, true);
}

TEST(output_keep_order_random)
{
	uint64_t order[1000];

	for (unsigned seed = 1; seed <= 3; seed++) {
		for (size_t i = 0; i < 1000; i++)
			order[i] = i + 1;
		shuffle(order, 1000, seed);
		keep_order_run(order, 1000, 0, false);
	}
}

TEST(output_keep_order_spill)
{
	uint64_t order[300];

	/* a tiny cap: everything held goes through the spill file */
	for (size_t i = 0; i < 300; i++)
		order[i] = i + 1;
	shuffle(order, 300, 7);
	keep_order_run(order, 300, 16, false);
	for (size_t i = 0; i < 300; i++)
		order[i] = 300 - i;
	keep_order_run(order, 300, 1, false);
}

TEST(output_keep_order_held_counts)
{
	struct pr_output_opts oo;
	struct pr_output *o;
	struct pr_record r;
	int ofd = tfile("out"), efd = tfile("err");

	pr_output_opts_init(&oo);
	oo.out_fd = ofd;
	oo.err_fd = efd;
	oo.keep_order = true;
	o = open_out(&oo);
	ASSERT_U64_EQ(pr_output_next_seq(o), 1);
	rec_init(&r, 3, "3", "three\n", NULL);
	record(o, &r);
	rec_init(&r, 2, "2", "two\n", NULL);
	record(o, &r);
	ASSERT_EQ(pr_output_held(o), 2);
	ASSERT(pr_output_held_bytes(o) >= 10);
	ASSERT_U64_EQ(pr_output_next_seq(o), 1);
	rec_init(&r, 1, "1", "one\n", NULL);
	record(o, &r);
	ASSERT_EQ(pr_output_held(o), 0);
	ASSERT_U64_EQ(pr_output_next_seq(o), 4);
	/* a second record for a written seq is refused */
	rec_init(&r, 2, "2", "again\n", NULL);
	ASSERT_EQ(pr_output_record(o, &r, NULL), -EINVAL);
	close_out(o);
}

/* A gap that never fills: close writes what is held, in order. */
TEST(output_keep_order_close_with_gap)
{
	struct pr_output_opts oo;
	struct pr_output *o;
	struct pr_record r;
	int ofd = tfile("out"), efd = tfile("err");
	char *s;

	pr_output_opts_init(&oo);
	oo.out_fd = ofd;
	oo.err_fd = efd;
	oo.keep_order = true;
	o = open_out(&oo);
	rec_init(&r, 4, "4", "four\n", NULL);
	record(o, &r);
	rec_init(&r, 1, "1", "one\n", NULL);
	record(o, &r);
	rec_init(&r, 3, "3", "three\n", NULL);
	record(o, &r);
	ASSERT_OK(pr_output_chunk(o, 5, NULL, 1, "never ends\n", 11, NULL));
	close_out(o);
	s = slurp_fd(ofd, NULL);
	ASSERT_STR_EQ(s, "one\nthree\nfour\n");
	free(s);
}

/* A spill that cannot happen must not lose output silently. */
static void
spill_failure_run(const char *spill_dir, pr_output_write_fn fn, void *arg,
    const char *reason)
{
	struct pr_output_opts oo;
	struct pr_output *o;
	struct pr_record r;
	struct pr_output_stats st;
	int ofd = tfile("out"), efd = tfile("err");
	cJSON *items[4];
	char *s;
	size_t n;

	pr_output_opts_init(&oo);
	oo.out_fd = ofd;
	oo.err_fd = efd;
	oo.keep_order = true;
	oo.hold_max = 8;
	oo.spill_dir = spill_dir;
	oo.results = pr_test_path("res");
	oo.write_fn = fn;
	oo.write_arg = arg;
	o = open_out(&oo);
	rec_init(&r, 2, "two", "this output cannot be held\n", NULL);
	record(o, &r);	/* accepted: the failure is in the record */
	rec_init(&r, 1, "one", "first\n", NULL);
	record(o, &r);
	pr_output_get_stats(o, &st);
	ASSERT_U64_EQ(st.emitted, 2);
	ASSERT_U64_EQ(st.failed, 1);
	ASSERT_U64_EQ(st.downgraded, 1);
	close_out(o);
	s = slurp(pr_test_path("res"), NULL);
	n = parse_lines(s, items, 4);
	ASSERT_EQ(n, 2);
	ASSERT_STR_EQ(cJSON_GetObjectItem(items[0], "status")->valuestring,
	    "ok");
	ASSERT_STR_EQ(cJSON_GetObjectItem(items[1], "id")->valuestring, "two");
	ASSERT_STR_EQ(cJSON_GetObjectItem(items[1], "status")->valuestring,
	    "error");
	ASSERT(strncmp(cJSON_GetObjectItem(items[1], "error")->valuestring,
	    "output incomplete: ", 19) == 0);
	ASSERT(strstr(cJSON_GetObjectItem(items[1], "error")->valuestring,
	    reason) != NULL);
	for (size_t i = 0; i < n; i++)
		cJSON_Delete(items[i]);
	free(s);
	s = slurp_fd(efd, NULL);
	ASSERT(strstr(s, "task 'two' (seq 2): output incomplete") != NULL);
	free(s);
}

TEST(output_spill_dir_missing)
{
	spill_failure_run("/nonexistent/parrun-spill", NULL, NULL,
	    "no such file");
}

/* A full disk for the spill file (the only unlinked file written). */
static ssize_t
enospc_write(void *arg, int fd, const void *p, size_t n)
{
	struct stat sb;

	(void)arg;
	if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_nlink == 0) {
		errno = ENOSPC;
		return -1;
	}
	return write(fd, p, n);
}

TEST(output_spill_write_fails)
{
	spill_failure_run(pr_test_dir(), enospc_write, NULL, "no space");
}

/* ---- results ---------------------------------------------------------- */

static const char *const result_keys[] = {
	"id", "seq", "status", "exit", "signal", "attempts", "host", "worker",
	"start", "elapsed", "value", "error", "seed", "stdout", "stderr",
	"metrics",
};

/* The members of item appear in the documented order. */
static void
check_order(const cJSON *item)
{
	size_t k = 0, nkeys = sizeof(result_keys) / sizeof(result_keys[0]);

	for (const cJSON *c = item->child; c != NULL; c = c->next) {
		char name[32];
		size_t l;

		snprintf(name, sizeof(name), "%s", c->string);
		l = strlen(name);
		if (l > 4 && strcmp(name + l - 4, "_b64") == 0)
			name[l - 4] = '\0';
		while (k < nkeys && strcmp(result_keys[k], name) != 0)
			k++;
		if (k == nkeys)
			PR_TEST_FAIL("member '%s' out of order", c->string);
	}
}

TEST(output_results_fields)
{
	struct pr_output_opts oo;
	struct pr_output *o;
	struct pr_record r;
	cJSON *items[8], *it;
	const char *want;
	char *s;
	size_t n;

	pr_output_opts_init(&oo);
	oo.out_fd = tfile("out");
	oo.err_fd = tfile("err");
	oo.results = pr_test_path("res.jsonl");
	o = open_out(&oo);

	rec_init(&r, 1, "t1", "hello\n", "");
	r.host = "node07";
	r.worker = 3;
	r.seed = 42;
	r.has_value = true;
	r.value = 2.5;
	r.extra = "{\"seconds\":1.5,\"gflops\":\n12}";
	record(o, &r);

	rec_init(&r, 2, "t2", "", "boom\n");
	r.status = PR_ST_FAILED;
	r.exit = -1;
	r.signal = 9;
	r.worker = 0;
	r.extra = "\"seconds\":0.25";	/* members without braces */
	record(o, &r);

	rec_init(&r, 3, "t3", NULL, NULL);
	r.status = PR_ST_REJECTED;
	r.exit = -1;
	r.attempts = 0;
	r.error = "stdin:3:1: bad \"json\"";
	r.extra = "{not json";
	record(o, &r);
	close_out(o);

	s = slurp(pr_test_path("res.jsonl"), NULL);
	n = parse_lines(s, items, 8);
	ASSERT_EQ(n, 3);
	for (size_t i = 0; i < n; i++)
		check_order(items[i]);
	want = "{\"id\":\"t1\",\"seq\":1,\"status\":\"ok\",\"exit\":0,"
	    "\"signal\":null,\"attempts\":1,\"host\":\"node07\",\"worker\":3,"
	    "\"start\":1700000000.25,\"elapsed\":0.5,\"value\":2.5,"
	    "\"seed\":42,\"stdout\":\"hello\\n\",\"stderr\":\"\","
	    "\"metrics\":{\"seconds\":1.5,\"gflops\": 12}}\n";
	if (strncmp(s, want, strlen(want)) != 0)
		PR_TEST_FAIL("first line:\n%s\nwant:\n%s", s, want);

	it = items[1];
	ASSERT_STR_EQ(cJSON_GetObjectItem(it, "status")->valuestring,
	    "failed");
	ASSERT(cJSON_IsNull(cJSON_GetObjectItem(it, "exit")));
	ASSERT_EQ(cJSON_GetObjectItem(it, "signal")->valueint, 9);
	ASSERT(cJSON_IsNull(cJSON_GetObjectItem(it, "host")));
	ASSERT(cJSON_IsNull(cJSON_GetObjectItem(it, "worker")));
	ASSERT(cJSON_GetObjectItem(it, "value") == NULL);
	ASSERT(cJSON_GetObjectItem(it, "error") == NULL);
	ASSERT_STR_EQ(cJSON_GetObjectItem(it, "stderr")->valuestring,
	    "boom\n");
	ASSERT_DBL_NEAR(cJSON_GetObjectItem(cJSON_GetObjectItem(it,
	    "metrics"), "seconds")->valuedouble, 0.25, 0);

	it = items[2];
	ASSERT_STR_EQ(cJSON_GetObjectItem(it, "status")->valuestring,
	    "rejected");
	ASSERT_STR_EQ(cJSON_GetObjectItem(it, "error")->valuestring,
	    "stdin:3:1: bad \"json\"");
	ASSERT_STR_EQ(cJSON_GetObjectItem(it, "stdout")->valuestring, "");
	/* bad metrics text is left out rather than breaking the line */
	ASSERT(cJSON_IsNull(cJSON_GetObjectItem(it, "metrics")));
	for (size_t i = 0; i < n; i++)
		cJSON_Delete(items[i]);
	free(s);
}

TEST(output_results_b64)
{
	static const char bin[] = { 'a', '\0', 'b', (char)0xff, '\n' };
	struct pr_output_opts oo;
	struct pr_output *o;
	struct pr_record r;
	struct pr_buf dec;
	cJSON *items[2], *it;
	char *s;

	pr_output_opts_init(&oo);
	oo.out_fd = tfile("out");
	oo.err_fd = tfile("err");
	oo.results = pr_test_path("res.jsonl");
	o = open_out(&oo);
	rec_init(&r, 1, "bad\xc3(id", NULL, "caf\xc3\xa9\n");
	r.out = bin;
	r.outlen = sizeof(bin);
	r.host = "h\xff";
	r.error = "x\x80y";
	record(o, &r);
	close_out(o);
	s = slurp(pr_test_path("res.jsonl"), NULL);
	ASSERT_EQ(parse_lines(s, items, 2), 1);
	it = items[0];
	ASSERT(cJSON_GetObjectItem(it, "stdout") == NULL);
	pr_buf_init(&dec, 0);
	ASSERT_OK(pr_json_get_bytes(it, "stdout", &dec));
	ASSERT_EQ(dec.len, sizeof(bin));
	ASSERT_MEM_EQ(dec.data, bin, sizeof(bin));
	pr_buf_release(&dec);
	/* valid UTF-8 stays text */
	ASSERT_STR_EQ(cJSON_GetObjectItem(it, "stderr")->valuestring,
	    "caf\xc3\xa9\n");
	/* C strings with bad bytes get U+FFFD */
	ASSERT_STR_EQ(cJSON_GetObjectItem(it, "id")->valuestring,
	    "bad\xef\xbf\xbd(id");
	ASSERT_STR_EQ(cJSON_GetObjectItem(it, "host")->valuestring,
	    "h\xef\xbf\xbd");
	ASSERT_STR_EQ(cJSON_GetObjectItem(it, "error")->valuestring,
	    "x\xef\xbf\xbdy");
	cJSON_Delete(it);
	free(s);
}

TEST(output_results_jq_reads_them)
{
	static const char bin[] = { '\0', (char)0xc0, (char)0x80, '\n' };
	struct pr_output_opts oo;
	struct pr_output *o;
	struct pr_record r;
	char cmd[512], *s;

	if (system("command -v jq >/dev/null 2>&1") != 0)
		SKIP("jq not installed");
	pr_output_opts_init(&oo);
	oo.out_fd = tfile("out");
	oo.err_fd = tfile("err");
	oo.results = pr_test_path("res.jsonl");
	o = open_out(&oo);
	for (uint64_t i = 1; i <= 20; i++) {
		rec_init(&r, i, "t", "line \"q\" \\ \t\x01\n", NULL);
		if (i % 2 == 0) {
			r.out = bin;
			r.outlen = sizeof(bin);
		}
		r.has_value = i % 3 == 0;
		r.value = 1.0 / (double)i;
		r.extra = i % 5 == 0 ? "{\"a\":[1,2]}" : NULL;
		record(o, &r);
	}
	close_out(o);
	snprintf(cmd, sizeof(cmd), "jq -c '[.seq,.status]' < %s > %s",
	    pr_test_path("res.jsonl"), pr_test_path("jq.out"));
	ASSERT_EQ(system(cmd), 0);
	s = slurp(pr_test_path("jq.out"), NULL);
	ASSERT(strncmp(s, "[1,\"ok\"]\n[2,\"ok\"]\n", 18) == 0);
	free(s);
}

TEST(output_results_to_stdout)
{
	struct pr_output_opts oo;
	struct pr_output *o;
	struct pr_record r;
	int ofd = tfile("out"), efd = tfile("err");
	char *s;
	cJSON *items[4];

	pr_output_opts_init(&oo);
	oo.out_fd = ofd;
	oo.err_fd = efd;
	oo.results = "-";
	oo.line_buffer = true;
	o = open_out(&oo);
	ASSERT_OK(pr_output_chunk(o, 1, NULL, 1, "early\n", 6, NULL));
	rec_init(&r, 1, "1", "task output\n", "task err\n");
	record(o, &r);
	rec_init(&r, 2, "2", "more\n", NULL);
	record(o, &r);
	close_out(o);
	s = slurp_fd(ofd, NULL);
	/* only JSON lines on stdout; the task's stdout is in them */
	ASSERT_EQ(parse_lines(s, items, 4), 2);
	ASSERT_STR_EQ(cJSON_GetObjectItem(items[0], "stdout")->valuestring,
	    "early\ntask output\n");
	cJSON_Delete(items[0]);
	cJSON_Delete(items[1]);
	free(s);
	s = slurp_fd(efd, NULL);
	ASSERT_STR_EQ(s, "task err\n");
	free(s);
}

TEST(output_results_file_mode)
{
	struct pr_output_opts oo;
	struct pr_output *o = NULL;
	struct pr_errbuf eb = { 0 };
	struct stat sb;

	pr_output_opts_init(&oo);
	oo.results = pr_test_path("mode.jsonl");
	o = open_out(&oo);
	close_out(o);
	ASSERT_OK(stat(pr_test_path("mode.jsonl"), &sb));
	ASSERT_EQ(sb.st_mode & 0777, 0600);
	/* a symlink is not followed */
	ASSERT_OK(symlink(pr_test_path("mode.jsonl"), pr_test_path("link.jsonl")));
	oo.results = pr_test_path("link.jsonl");
	ASSERT(pr_output_open(&o, &oo, &eb) < 0);
	ASSERT(o == NULL);
	ASSERT(strstr(eb.msg, "link.jsonl") != NULL);
}

TEST(output_results_keep_order_lines)
{
	struct pr_output_opts oo;
	struct pr_output *o;
	struct pr_record r;
	uint64_t order[50];
	cJSON *items[50];
	char *s;

	pr_output_opts_init(&oo);
	oo.out_fd = tfile("out");
	oo.err_fd = tfile("err");
	oo.keep_order = true;
	oo.hold_max = 100;
	oo.spill_dir = pr_test_dir();
	oo.results = pr_test_path("res.jsonl");
	o = open_out(&oo);
	for (size_t i = 0; i < 50; i++)
		order[i] = i + 1;
	shuffle(order, 50, 3);
	for (size_t i = 0; i < 50; i++) {
		char text[32];

		snprintf(text, sizeof(text), "out of %llu\n",
		    (unsigned long long)order[i]);
		rec_init(&r, order[i], "t", text, NULL);
		record(o, &r);
	}
	close_out(o);
	s = slurp(pr_test_path("res.jsonl"), NULL);
	ASSERT_EQ(parse_lines(s, items, 50), 50);
	for (int i = 0; i < 50; i++) {
		char text[32];

		snprintf(text, sizeof(text), "out of %d\n", i + 1);
		ASSERT_EQ(cJSON_GetObjectItem(items[i], "seq")->valueint,
		    i + 1);
		ASSERT_STR_EQ(cJSON_GetObjectItem(items[i],
		    "stdout")->valuestring, text);
		cJSON_Delete(items[i]);
	}
	free(s);
}

/* ---- joblog ----------------------------------------------------------- */

TEST(output_joblog_format)
{
	struct pr_output_opts oo;
	struct pr_output *o;
	struct pr_record r;
	char *s, host[256] = "";
	size_t n;
	static const char want[] =
	    "Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\t"
	    "Signal\tCommand\n"
	    "1\t:\t1700000000.250\t     0.500\t17\t3\t0\t0\techo x\n"
	    "2\tnode1\t1700000001.000\t    12.346\t0\t0\t3\t0\texit 3\n"
	    "3\t:\t1700000000.250\t     0.500\t0\t0\t0\t9\tkill\n"
	    "4\t:\t1700000000.250\t     0.500\t0\t0\t-1\t15\tsleep 9\n"
	    "5\t:\t1700000000.250\t     0.500\t0\t0\t-1\t0\ta\0b\n";

	pr_output_opts_init(&oo);
	oo.out_fd = tfile("out");
	oo.err_fd = tfile("err");
	oo.joblog = pr_test_path("joblog");
	o = open_out(&oo);
	rec_init(&r, 1, "1", "ab\n", NULL);
	r.bytes_sent = 17;
	record(o, &r);
	rec_init(&r, 2, "2", NULL, NULL);
	r.status = PR_ST_FAILED;
	r.exit = 3;
	r.host = "node1";
	r.start = 1700000001.0;
	r.elapsed = 12.3456;
	r.cmd = "exit 3";
	record(o, &r);
	rec_init(&r, 3, "3", NULL, NULL);	/* killed by a signal */
	r.status = PR_ST_FAILED;
	r.exit = -1;
	r.signal = 9;
	r.cmd = "kill";
	record(o, &r);
	rec_init(&r, 4, "4", NULL, NULL);	/* timed out */
	r.status = PR_ST_TIMEOUT;
	r.exit = -1;
	r.signal = 15;
	r.cmd = "sleep 9";
	record(o, &r);
	rec_init(&r, 5, "5", NULL, NULL);	/* never ran */
	r.status = PR_ST_REJECTED;
	r.exit = -1;
	r.cmd = "a\nb";
	record(o, &r);
	close_out(o);
	s = slurp(pr_test_path("joblog"), &n);
	ASSERT_EQ(n, sizeof(want) - 1);
	ASSERT_MEM_EQ(s, want, n);
	free(s);

	/* append: no second header */
	oo.append = true;
	o = open_out(&oo);
	rec_init(&r, 6, "6", NULL, NULL);
	ASSERT_OK(gethostname(host, sizeof(host) - 1));
	r.host = host;		/* this machine is local too */
	record(o, &r);
	close_out(o);
	s = slurp(pr_test_path("joblog"), &n);
	ASSERT_EQ(n, sizeof(want) - 1 + strlen("6\t:\t1700000000.250\t"
	    "     0.500\t0\t0\t0\t0\techo x\n"));
	ASSERT_STR_EQ(s + sizeof(want) - 1, "6\t:\t1700000000.250\t"
	    "     0.500\t0\t0\t0\t0\techo x\n");
	free(s);
}

/* ---- line buffering --------------------------------------------------- */

TEST(output_line_buffer)
{
	struct pr_output_opts oo;
	struct pr_output *o;
	struct pr_record r;
	int ofd = tfile("out"), efd = tfile("err");
	cJSON *items[2];
	char *s;

	pr_output_opts_init(&oo);
	oo.out_fd = ofd;
	oo.err_fd = efd;
	oo.line_buffer = true;
	oo.tag = true;
	oo.results = pr_test_path("res");
	o = open_out(&oo);
	ASSERT_OK(pr_output_chunk(o, 2, "B", 1, "b1\n", 3, NULL));
	ASSERT_OK(pr_output_chunk(o, 1, "A", 1, "a1\na2\n", 6, NULL));
	ASSERT_OK(pr_output_flush(o, NULL));
	s = slurp_fd(ofd, NULL);
	ASSERT_STR_EQ(s, "B\tb1\nA\ta1\nA\ta2\n");	/* at once */
	free(s);
	rec_init(&r, 1, "1", "tail", NULL);
	r.tag = "A";
	record(o, &r);
	close_out(o);
	s = slurp_fd(ofd, NULL);
	ASSERT_STR_EQ(s, "B\tb1\nA\ta1\nA\ta2\nA\ttail");
	free(s);
	/* the record's stdout is whole, streamed chunks included */
	s = slurp(pr_test_path("res"), NULL);
	ASSERT_EQ(parse_lines(s, items, 2), 1);
	ASSERT_STR_EQ(cJSON_GetObjectItem(items[0], "stdout")->valuestring,
	    "a1\na2\ntail");
	cJSON_Delete(items[0]);
	free(s);
}

/* A chunk that ends inside a line: the tail waits for its newline, so no
 * other task's line lands in the middle of it. */
TEST(output_line_buffer_partial_lines)
{
	struct pr_output_opts oo;
	struct pr_output *o;
	struct pr_record r;
	int ofd = tfile("out"), efd = tfile("err");
	cJSON *items[2];
	size_t n;
	char *s, *big;

	pr_output_opts_init(&oo);
	oo.out_fd = ofd;
	oo.err_fd = efd;
	oo.line_buffer = true;
	oo.tag = true;
	oo.results = pr_test_path("res");
	o = open_out(&oo);
	ASSERT_OK(pr_output_chunk(o, 1, "A", 1, "a1\npar", 6, NULL));
	ASSERT_OK(pr_output_chunk(o, 2, "B", 1, "b1\n", 3, NULL));
	ASSERT_OK(pr_output_chunk(o, 1, "A", 1, "t", 1, NULL));
	ASSERT_OK(pr_output_chunk(o, 1, "A", 1, "ial\nnext", 8, NULL));
	ASSERT_OK(pr_output_flush(o, NULL));
	s = slurp_fd(ofd, NULL);
	ASSERT_STR_EQ(s, "A\ta1\nB\tb1\nA\tpartial\n");
	free(s);
	/* the record completes the held tail */
	rec_init(&r, 1, "1", " line\nlast", NULL);
	r.tag = "A";
	record(o, &r);
	ASSERT_OK(pr_output_flush(o, NULL));
	s = slurp_fd(ofd, NULL);
	ASSERT_STR_EQ(s, "A\ta1\nB\tb1\nA\tpartial\nA\tnext line\nA\tlast");
	free(s);
	/* a line longer than what is held back whole goes out in pieces,
	 * and the piece after the cut gets no second tag */
	big = malloc(100000);
	ASSERT(big != NULL);
	memset(big, 'x', 100000);
	ASSERT_OK(pr_output_chunk(o, 3, "C", 1, big, 70000, NULL));
	ASSERT_OK(pr_output_chunk(o, 3, "C", 1, big, 100, NULL));
	rec_init(&r, 3, "3", "y\n", NULL);
	r.tag = "C";
	record(o, &r);
	close_out(o);
	s = slurp_fd(ofd, &n);
	ASSERT(strstr(s, "A\tlastC\txxx") != NULL);
	ASSERT_EQ(n, strlen("A\ta1\nB\tb1\nA\tpartial\nA\tnext line\nA\tlast") +
	    2 + 70100 + 2);
	ASSERT(strcmp(s + n - 4, "xxy\n") == 0);
	free(s);
	free(big);
	s = slurp(pr_test_path("res"), NULL);
	ASSERT_EQ(parse_lines(s, items, 2), 2);
	ASSERT_STR_EQ(cJSON_GetObjectItem(items[0], "stdout")->valuestring,
	    "a1\npartial\nnext line\nlast");
	ASSERT_EQ(strlen(cJSON_GetObjectItem(items[1],
	    "stdout")->valuestring), 70102);
	cJSON_Delete(items[0]);
	cJSON_Delete(items[1]);
	free(s);
}

TEST(output_keep_order_line_buffer)
{
	struct pr_output_opts oo;
	struct pr_output *o;
	struct pr_record r;
	int ofd = tfile("out"), efd = tfile("err");
	char *s;

	pr_output_opts_init(&oo);
	oo.out_fd = ofd;
	oo.err_fd = efd;
	oo.line_buffer = true;
	oo.keep_order = true;
	o = open_out(&oo);
	ASSERT_OK(pr_output_chunk(o, 2, NULL, 1, "two-a\n", 6, NULL));
	ASSERT_OK(pr_output_chunk(o, 1, NULL, 1, "one-a\n", 6, NULL));
	ASSERT_OK(pr_output_flush(o, NULL));
	s = slurp_fd(ofd, NULL);
	ASSERT_STR_EQ(s, "one-a\n");		/* the head goes live */
	free(s);
	rec_init(&r, 1, "1", "one-b\n", NULL);
	record(o, &r);
	ASSERT_OK(pr_output_flush(o, NULL));
	s = slurp_fd(ofd, NULL);
	/* now 2 is the head: its held chunk is written, later ones at once */
	ASSERT_STR_EQ(s, "one-a\none-b\ntwo-a\n");
	free(s);
	ASSERT_OK(pr_output_chunk(o, 2, NULL, 1, "two-b\n", 6, NULL));
	ASSERT_OK(pr_output_chunk(o, 3, NULL, 1, "three-a\n", 8, NULL));
	ASSERT_OK(pr_output_flush(o, NULL));
	s = slurp_fd(ofd, NULL);
	ASSERT_STR_EQ(s, "one-a\none-b\ntwo-a\ntwo-b\n");
	free(s);
	rec_init(&r, 3, "3", "three-b\n", NULL);
	record(o, &r);
	rec_init(&r, 2, "2", "", NULL);
	record(o, &r);
	close_out(o);
	s = slurp_fd(ofd, NULL);
	ASSERT_STR_EQ(s, "one-a\none-b\ntwo-a\ntwo-b\nthree-a\nthree-b\n");
	free(s);
}

TEST(output_discard_before_retry)
{
	struct pr_output_opts oo;
	struct pr_output *o;
	struct pr_record r;
	int ofd = tfile("out"), efd = tfile("err");
	char *s;

	pr_output_opts_init(&oo);
	oo.out_fd = ofd;
	oo.err_fd = efd;
	o = open_out(&oo);
	ASSERT_OK(pr_output_chunk(o, 1, NULL, 1, "attempt 1\n", 10, NULL));
	pr_output_discard(o, 1);
	ASSERT_EQ(pr_output_held_bytes(o), 0);
	ASSERT_OK(pr_output_chunk(o, 1, NULL, 1, "attempt 2\n", 10, NULL));
	rec_init(&r, 1, "1", "done\n", NULL);
	record(o, &r);
	/* chunks after the record are refused */
	ASSERT_EQ(pr_output_chunk(o, 1, NULL, 1, "late\n", 5, NULL),
	    -EINVAL);
	close_out(o);
	s = slurp_fd(ofd, NULL);
	ASSERT_STR_EQ(s, "attempt 2\ndone\n");
	free(s);
}

/* ---- seq tracking without keep_order ---------------------------------- */

TEST(output_next_seq_unordered)
{
	struct pr_output_opts oo;
	struct pr_output *o;
	struct pr_record r;
	uint64_t order[5000];

	pr_output_opts_init(&oo);
	oo.out_fd = tfile("out");
	oo.err_fd = tfile("err");
	o = open_out(&oo);
	for (size_t i = 0; i < 5000; i++)
		order[i] = i + 1;
	shuffle(order, 5000, 11);
	for (size_t i = 0; i < 5000; i++) {
		rec_init(&r, order[i], "t", "x\n", NULL);
		record(o, &r);
		/* a duplicate is refused whether before or after next */
		ASSERT_EQ(pr_output_record(o, &r, NULL), -EINVAL);
	}
	ASSERT_U64_EQ(pr_output_next_seq(o), 5001);
	close_out(o);
}

/* ---- write errors and non-blocking fds -------------------------------- */

TEST(output_epipe_reported_once)
{
	struct pr_output_opts oo;
	struct pr_output *o;
	struct pr_record r;
	struct pr_errbuf eb = { 0 };
	int p[2], rc;
	char *s;

	signal(SIGPIPE, SIG_IGN);
	ASSERT_OK(pipe(p));
	close(p[0]);
	pr_output_opts_init(&oo);
	oo.out_fd = p[1];
	oo.err_fd = tfile("err");
	oo.results = pr_test_path("res");
	o = open_out(&oo);
	rec_init(&r, 1, "1", "x\n", NULL);
	record(o, &r);
	rc = pr_output_flush(o, &eb);
	ASSERT_EQ(rc, -EPIPE);
	ASSERT(strstr(eb.msg, "stdout") != NULL);
	rec_init(&r, 2, "2", "y\n", NULL);
	record(o, &r);
	ASSERT_OK(pr_output_flush(o, NULL));	/* once only */
	close_out(o);
	s = slurp(pr_test_path("res"), NULL);
	ASSERT(strstr(s, "\"seq\":1") != NULL && strstr(s, "\"seq\":2"));
	free(s);
	close(p[1]);
}

TEST(output_nonblocking_pipe)
{
	struct pr_output_opts oo;
	struct pr_output *o;
	struct pr_record r;
	size_t n = 3 << 20;
	char *big = malloc(n);
	int p[2], status;
	pid_t pid;

	ASSERT(big != NULL);
	signal(SIGPIPE, SIG_IGN);
	for (size_t i = 0; i < n; i++)
		big[i] = (char)('a' + i % 26);
	ASSERT_OK(pipe(p));
	pid = fork();
	ASSERT(pid >= 0);
	if (pid == 0) {
		/* a slow reader that checks every byte */
		size_t got = 0;
		char buf[8192];
		ssize_t k;

		close(p[1]);
		usleep(100000);
		while ((k = read(p[0], buf, sizeof(buf))) > 0) {
			for (ssize_t i = 0; i < k; i++)
				if (buf[i] != (char)('a' +
				    (got + (size_t)i) % n % 26))
					_exit(2);
			got += (size_t)k;
		}
		_exit(got == 2 * n ? 0 : 1);
	}
	close(p[0]);
	ASSERT_OK(fcntl(p[1], F_SETFL, O_NONBLOCK));
	pr_output_opts_init(&oo);
	oo.out_fd = p[1];
	oo.err_fd = tfile("err");
	o = open_out(&oo);
	rec_init(&r, 1, "1", NULL, NULL);
	r.out = big;
	r.outlen = n;
	record(o, &r);
	r.seq = 2;
	record(o, &r);
	close_out(o);
	close(p[1]);
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT(WIFEXITED(status));
	ASSERT_EQ(WEXITSTATUS(status), 0);
	free(big);
}

/* ---- slow readers: non-blocking queue, overflow file ------------------ */

#define PAT(i)	((char)('a' + (i) % 26))

/*
 * A reader of fd rd that waits for a byte on gate (if >= 0), then reads
 * everything, copying it to the file `copy` (if not NULL) or checking
 * the pattern; exits 0 when it got `want` bytes (stops after stop_after
 * bytes when not 0).
 */
static pid_t
reader(int rd, int wr_close, int gate, const char *copy, size_t want,
    size_t stop_after)
{
	pid_t pid = fork();

	ASSERT(pid >= 0);
	if (pid == 0) {
		size_t got = 0;
		char buf[65536], c;
		ssize_t k;
		int cfd = -1;

		close(wr_close);
		if (gate >= 0 && read(gate, &c, 1) != 1)
			_exit(3);
		if (copy != NULL &&
		    (cfd = open(copy, O_WRONLY | O_CREAT | O_TRUNC, 0600)) < 0)
			_exit(4);
		while ((k = read(rd, buf, sizeof(buf))) > 0) {
			if (cfd >= 0 && write(cfd, buf, (size_t)k) != k)
				_exit(5);
			for (ssize_t i = 0; cfd < 0 && i < k; i++)
				if (buf[i] != PAT(got + (size_t)i))
					_exit(2);
			got += (size_t)k;
			if (stop_after > 0 && got >= stop_after)
				_exit(0);
		}
		_exit(got == want ? 0 : 1);
	}
	close(rd);
	return pid;
}

static void
reader_done(pid_t pid)
{
	int status;

	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT(WIFEXITED(status));
	ASSERT_EQ(WEXITSTATUS(status), 0);
}

/* Flush, waiting for the fds, until nothing is queued. */
static void
flush_all(struct pr_output *o)
{
	struct pr_errbuf eb = { 0 };
	size_t pending;

	for (;;) {
		struct pollfd pfd[2];
		int n = 0;

		if (pr_output_flush(o, &eb) < 0)
			PR_TEST_FAIL("flush: %s", eb.msg);
		if (pr_output_pending(o) == 0)
			return;
		for (int i = 0; i < 2; i++) {
			int fd = pr_output_wait_fd(o, i, &pending);

			if (fd >= 0 && pending > 0) {
				pfd[n].fd = fd;
				pfd[n].events = POLLOUT;
				n++;
			}
		}
		ASSERT(n > 0);
		ASSERT(poll(pfd, (nfds_t)n, 10000) > 0);
	}
}

static bool
fd_nonblocking(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	ASSERT(fl >= 0);
	return (fl & O_NONBLOCK) != 0;
}

TEST(output_slow_pipe_queues_and_overflows)
{
	struct pr_output_opts oo;
	struct pr_output_stats st;
	struct pr_output *o;
	struct pr_record r;
	const size_t k = 64 * 1024, nrec = 320, total = k * nrec;
	char *big = malloc(total);
	size_t pending;
	int p[2], g[2], fd;
	pid_t pid;

	ASSERT(big != NULL);
	signal(SIGPIPE, SIG_IGN);
	for (size_t i = 0; i < total; i++)
		big[i] = PAT(i);
	ASSERT_OK(pipe(p));
	ASSERT_OK(pipe(g));
	pid = reader(p[0], p[1], g[0], NULL, total, 0);
	close(g[0]);
	pr_output_opts_init(&oo);
	oo.out_fd = p[1];
	oo.err_fd = tfile("err");
	oo.spill_dir = pr_test_dir();
	o = open_out(&oo);
	/* writes go through a description of our own: the user's stays */
	fd = pr_output_wait_fd(o, 0, &pending);
	ASSERT(fd >= 0 && fd != p[1]);
	ASSERT(!fd_nonblocking(p[1]));
	ASSERT_EQ(pr_output_wait_fd(o, 1, &pending), -1);	/* a file */
	for (size_t i = 0; i < nrec; i++) {
		rec_init(&r, i + 1, "x", NULL, NULL);
		r.out = big + i * k;
		r.outlen = k;
		record(o, &r);		/* never waits for the reader */
	}
	ASSERT_OK(pr_output_flush(o, NULL));
	/* the pipe took at most its buffer; the rest waits, past 4 MiB on
	 * disk */
	ASSERT(pr_output_pending(o) >= total - (1u << 20));
	ASSERT_EQ(pr_output_wait_fd(o, 0, &pending), fd);
	ASSERT_EQ(pending, pr_output_pending(o));
	pr_output_get_stats(o, &st);
	ASSERT(st.overflowed >= total - (4u << 20) - k);
	ASSERT(st.overflowed <= total);
	ASSERT(!fd_nonblocking(p[1]));
	ASSERT_EQ(write(g[1], "g", 1), 1);
	flush_all(o);
	ASSERT_EQ(pr_output_pending(o), 0);
	close_out(o);
	close(p[1]);
	close(g[1]);
	reader_done(pid);
	free(big);
}

TEST(output_slow_pipe_stdout_stderr_order)
{
	struct pr_output_opts oo;
	struct pr_output *o;
	struct pr_record r;
	struct pr_buf want;
	char out[4096 + 16], err[4096 + 16], *got;
	size_t pending, n;
	int p[2], g[2];
	pid_t pid;

	signal(SIGPIPE, SIG_IGN);
	ASSERT_OK(pipe(p));
	ASSERT_OK(pipe(g));
	pr_buf_init(&want, 0);
	for (int i = 0; i < 2000; i++) {
		int a = snprintf(out, 16, "o%d:", i);
		int b = snprintf(err, 16, "e%d:", i);

		memset(out + a, 'O', 4096 - (size_t)a);
		memset(err + b, 'E', 1000 - (size_t)b);
		ASSERT_OK(pr_buf_add(&want, out, 4096));
		ASSERT_OK(pr_buf_add(&want, err, 1000));
	}
	pid = reader(p[0], p[1], g[0], pr_test_path("copy"), want.len, 0);
	close(g[0]);
	pr_output_opts_init(&oo);
	oo.out_fd = p[1];
	oo.err_fd = p[1];	/* 2>&1 */
	oo.spill_dir = pr_test_dir();
	o = open_out(&oo);
	ASSERT(pr_output_wait_fd(o, 0, &pending) >= 0);
	ASSERT_EQ(pr_output_wait_fd(o, 1, &pending), -1);	/* shared */
	for (int i = 0; i < 2000; i++) {
		rec_init(&r, (uint64_t)i + 1, "x", NULL, NULL);
		r.out = want.data + (size_t)i * 5096;
		r.outlen = 4096;
		r.err = want.data + (size_t)i * 5096 + 4096;
		r.errlen = 1000;
		record(o, &r);
	}
	ASSERT_OK(pr_output_flush(o, NULL));
	ASSERT(pr_output_pending(o) > (4u << 20));
	ASSERT(pr_output_stderr_busy(o));
	ASSERT_EQ(write(g[1], "g", 1), 1);
	flush_all(o);
	ASSERT(!pr_output_stderr_busy(o));
	close_out(o);
	close(p[1]);
	close(g[1]);
	reader_done(pid);
	got = slurp(pr_test_path("copy"), &n);
	ASSERT_EQ(n, want.len);
	ASSERT(memcmp(got, want.data, n) == 0);
	free(got);
	pr_buf_release(&want);
}

TEST(output_slow_pipe_no_overflow_file_waits)
{
	struct pr_output_opts oo;
	struct pr_output_stats st;
	struct pr_output *o;
	struct pr_record r;
	const size_t k = 64 * 1024, nrec = 128, total = k * nrec;
	char *big = malloc(total);
	int p[2];
	pid_t pid;

	ASSERT(big != NULL);
	signal(SIGPIPE, SIG_IGN);
	for (size_t i = 0; i < total; i++)
		big[i] = PAT(i);
	ASSERT_OK(pipe(p));
	pid = reader(p[0], p[1], -1, NULL, total, 0);
	pr_output_opts_init(&oo);
	oo.out_fd = p[1];
	oo.err_fd = tfile("err");
	oo.spill_dir = pr_test_path("no-such-dir");
	o = open_out(&oo);
	for (size_t i = 0; i < nrec; i++) {
		rec_init(&r, i + 1, "x", NULL, NULL);
		r.out = big + i * k;
		r.outlen = k;
		record(o, &r);
	}
	/* past 4 MiB the writes waited for the reader: nothing lost */
	pr_output_get_stats(o, &st);
	ASSERT_U64_EQ(st.overflowed, 0);
	ASSERT(pr_output_pending(o) <= (4u << 20));
	close_out(o);
	close(p[1]);
	reader_done(pid);
	free(big);
}

TEST(output_slow_pipe_reader_gone)
{
	struct pr_output_opts oo;
	struct pr_output *o;
	struct pr_record r;
	struct pr_errbuf eb = { 0 };
	const size_t k = 64 * 1024, nrec = 64, total = k * nrec;
	char *big = malloc(total);
	int p[2], rc = 0;
	pid_t pid;

	ASSERT(big != NULL);
	signal(SIGPIPE, SIG_IGN);
	for (size_t i = 0; i < total; i++)
		big[i] = PAT(i);
	ASSERT_OK(pipe(p));
	pr_output_opts_init(&oo);
	oo.out_fd = p[1];
	oo.err_fd = tfile("err");
	oo.spill_dir = pr_test_dir();
	o = open_out(&oo);
	pid = reader(p[0], p[1], -1, NULL, total, 100000);
	for (size_t i = 0; i < nrec; i++) {
		rec_init(&r, i + 1, "x", NULL, NULL);
		r.out = big + i * k;
		r.outlen = k;
		if (rc == 0)
			rc = pr_output_record(o, &r, &eb);
		else
			record(o, &r);	/* reported once only */
	}
	/* write on until the reader's leaving shows (it stops after 100000
	 * bytes, which may be more than the records above got out) */
	while (rc == 0 && pr_output_pending(o) > 0) {
		size_t pending;
		struct pollfd pfd = { .fd = pr_output_wait_fd(o, 0, &pending),
		    .events = POLLOUT };

		rc = pr_output_flush(o, &eb);
		if (rc == 0 && pfd.fd >= 0)
			(void)poll(&pfd, 1, 100);
	}
	reader_done(pid);
	ASSERT_EQ(rc, -EPIPE);
	ASSERT(strstr(eb.msg, "stdout") != NULL);
	ASSERT_EQ(pr_output_stdout_error(o), -EPIPE);
	ASSERT_EQ(pr_output_pending(o), 0);
	close_out(o);
	close(p[1]);
	free(big);
}

TEST(output_slow_socket)
{
	struct pr_output_opts oo;
	struct pr_output *o;
	struct pr_record r;
	const size_t k = 64 * 1024, nrec = 160, total = k * nrec;
	char *big = malloc(total);
	size_t pending;
	int sv[2], g[2];
	pid_t pid;

	ASSERT(big != NULL);
	signal(SIGPIPE, SIG_IGN);
	for (size_t i = 0; i < total; i++)
		big[i] = PAT(i);
	ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	ASSERT_OK(pipe(g));
	pid = reader(sv[0], sv[1], g[0], NULL, total, 0);
	close(g[0]);
	pr_output_opts_init(&oo);
	oo.out_fd = sv[1];
	oo.err_fd = tfile("err");
	oo.spill_dir = pr_test_dir();
	o = open_out(&oo);
	/* send(MSG_DONTWAIT) on the user's own fd, left blocking */
	ASSERT_EQ(pr_output_wait_fd(o, 0, &pending), sv[1]);
	for (size_t i = 0; i < nrec; i++) {
		rec_init(&r, i + 1, "x", NULL, NULL);
		r.out = big + i * k;
		r.outlen = k;
		record(o, &r);
	}
	ASSERT_OK(pr_output_flush(o, NULL));
	ASSERT(pr_output_pending(o) > 0);
	ASSERT(!fd_nonblocking(sv[1]));
	ASSERT_EQ(write(g[1], "g", 1), 1);
	close_out(o);		/* waits for the reader */
	shutdown(sv[1], SHUT_WR);
	reader_done(pid);
	close(sv[1]);
	close(g[1]);
	free(big);
}

TEST(output_blocking_option)
{
	struct pr_output_opts oo;
	struct pr_output *o;
	size_t pending;
	int p[2];

	ASSERT_OK(pipe(p));
	pr_output_opts_init(&oo);
	oo.out_fd = p[1];
	oo.err_fd = p[1];
	oo.blocking = true;
	o = open_out(&oo);
	ASSERT_EQ(pr_output_wait_fd(o, 0, &pending), -1);
	ASSERT_EQ(pr_output_wait_fd(o, 1, &pending), -1);
	ASSERT_EQ(pr_output_pending(o), 0);
	close_out(o);
	close(p[0]);
	close(p[1]);
}

/* ---- progress is cleared before task output --------------------------- */

TEST(output_clears_progress)
{
	struct pr_output_opts oo;
	struct pr_progress_opts po = { .mode = PR_PROGRESS_ETA,
	    .force = true, .width = 60 };
	struct pr_progress *p;
	struct pr_output *o;
	struct pr_record r;
	int efd = tfile("err");
	char *s;

	po.fd = efd;
	ASSERT_OK(pr_progress_new(&p, &po, 100.0));
	ASSERT(p != NULL);
	pr_progress_update(p, 100.5);
	pr_output_opts_init(&oo);
	oo.out_fd = efd;		/* a terminal shows both */
	oo.err_fd = efd;
	oo.progress = p;
	o = open_out(&oo);
	rec_init(&r, 1, "1", "task\n", NULL);
	record(o, &r);
	close_out(o);
	s = slurp_fd(efd, NULL);
	ASSERT(strncmp(s, "\rDone: 0", 8) == 0 || strncmp(s, "\rETA", 4) == 0);
	ASSERT(strstr(s, "\033[K\r\033[Ktask\n") != NULL);
	free(s);
	pr_progress_free(p);
}

/* ---- --value ---------------------------------------------------------- */

TEST(output_value_parse)
{
	double v = 0;

	ASSERT(pr_value_parse("42\n", 3, &v));
	ASSERT_DBL_NEAR(v, 42, 0);
	ASSERT(pr_value_parse("a 1\nresult: -2.5e3 s\n\n  \n", 24, &v));
	ASSERT_DBL_NEAR(v, -2500, 0);
	ASSERT(pr_value_parse("x 1 2 3", 7, &v));
	ASSERT_DBL_NEAR(v, 3, 0);
	ASSERT(pr_value_parse("\t.5\r\n", 5, &v));
	ASSERT_DBL_NEAR(v, 0.5, 0);
	ASSERT(pr_value_parse("+7.", 3, &v));
	ASSERT_DBL_NEAR(v, 7, 0);
	/* the last non-empty line decides: no number there, no value */
	ASSERT(!pr_value_parse("3\nno number\n", 12, &v));
	ASSERT(!pr_value_parse("", 0, &v));
	ASSERT(!pr_value_parse(NULL, 0, &v));
	ASSERT(!pr_value_parse("\n\n", 2, &v));
	ASSERT(!pr_value_parse("nan", 3, &v));
	ASSERT(!pr_value_parse("inf", 3, &v));
	ASSERT(!pr_value_parse("0x10", 4, &v));
	ASSERT(!pr_value_parse("1e", 2, &v));
	ASSERT(!pr_value_parse("1e999", 5, &v));
	ASSERT(!pr_value_parse("12abc", 5, &v));
	ASSERT(!pr_value_parse("-", 1, &v));
	ASSERT(pr_value_parse("v=1 2,", 6, &v) == false);
}

TEST(output_parse_value_option)
{
	struct pr_output_opts oo;
	struct pr_output *o;
	struct pr_record r;
	cJSON *items[3];
	char *s;

	pr_output_opts_init(&oo);
	oo.out_fd = tfile("out");
	oo.err_fd = tfile("err");
	oo.results = pr_test_path("res");
	oo.parse_value = true;
	o = open_out(&oo);
	rec_init(&r, 1, "1", "answer 41.5\n", NULL);
	record(o, &r);
	rec_init(&r, 2, "2", "no\n", NULL);
	record(o, &r);
	rec_init(&r, 3, "3", "7\n", NULL);	/* a kernel value wins */
	r.has_value = true;
	r.value = 1.0;
	record(o, &r);
	close_out(o);
	s = slurp(pr_test_path("res"), NULL);
	ASSERT_EQ(parse_lines(s, items, 3), 3);
	ASSERT_DBL_NEAR(cJSON_GetObjectItem(items[0], "value")->valuedouble,
	    41.5, 0);
	ASSERT(cJSON_GetObjectItem(items[1], "value") == NULL);
	ASSERT_DBL_NEAR(cJSON_GetObjectItem(items[2], "value")->valuedouble,
	    1.0, 0);
	for (int i = 0; i < 3; i++)
		cJSON_Delete(items[i]);
	free(s);
}

/* ---- randomized: every mode against a model --------------------------- */

static uint64_t fz_state;

static unsigned
fz(unsigned n)
{
	fz_state ^= fz_state << 13;
	fz_state ^= fz_state >> 7;
	fz_state ^= fz_state << 17;
	return (unsigned)(fz_state % n);
}

/* Random text of n bytes with newlines in it. */
static void
fz_text(struct pr_buf *b, size_t n, uint64_t seq)
{
	for (size_t i = 0; i < n; i++)
		ASSERT_OK(pr_buf_addc(b, fz(6) == 0 ? '\n' :
		    (char)('a' + (seq + i) % 26)));
}

static void
fuzz_run(bool keep, bool lb, size_t hold_max, uint64_t seed)
{
	enum { N = 60 };
	struct pr_output_opts oo;
	struct pr_output *o;
	struct pr_record r;
	struct pr_buf full[N + 1], want;
	bool done[N + 1] = { false };
	size_t left = N;
	int ofd = tfile("out"), efd = tfile("err");
	cJSON *items[N];
	char *s;

	fz_state = seed;
	pr_output_opts_init(&oo);
	oo.out_fd = ofd;
	oo.err_fd = efd;
	oo.keep_order = keep;
	oo.line_buffer = lb;
	oo.hold_max = hold_max;
	oo.spill_dir = pr_test_dir();
	oo.results = pr_test_path("res");
	o = open_out(&oo);
	for (int i = 0; i <= N; i++)
		pr_buf_init(&full[i], 0);
	while (left > 0) {
		uint64_t seq = 1 + fz(N);
		struct pr_buf piece;

		if (done[seq])
			continue;
		pr_buf_init(&piece, 0);
		/* lines end a chunk more often than not */
		fz_text(&piece, 1 + fz(300), seq);
		if (fz(3) != 0)
			ASSERT_OK(pr_buf_addc(&piece, '\n'));
		if (fz(4) != 0) {
			ASSERT_OK(pr_output_chunk(o, seq, NULL, 1, piece.data,
			    piece.len, NULL));
			ASSERT_OK(pr_buf_add(&full[seq], piece.data,
			    piece.len));
		} else {
			rec_init(&r, seq, "t", NULL, NULL);
			r.out = piece.data;
			r.outlen = piece.len;
			record(o, &r);
			ASSERT_OK(pr_buf_add(&full[seq], piece.data,
			    piece.len));
			done[seq] = true;
			left--;
		}
		pr_buf_release(&piece);
		if (fz(5) == 0)
			ASSERT_OK(pr_output_flush(o, NULL));
	}
	ASSERT_EQ(pr_output_held(o), 0);
	ASSERT_EQ(pr_output_held_bytes(o), 0);
	close_out(o);

	/* results carry each task's whole stdout */
	s = slurp(pr_test_path("res"), NULL);
	ASSERT_EQ(parse_lines(s, items, N), N);
	for (int i = 0; i < N; i++) {
		int seq = cJSON_GetObjectItem(items[i], "seq")->valueint;

		if (keep)
			ASSERT_EQ(seq, i + 1);
		ASSERT_STR_EQ(cJSON_GetObjectItem(items[i],
		    "stdout")->valuestring, full[seq].data);
		cJSON_Delete(items[i]);
	}
	free(s);
	/* the stream: in seq order with keep_order; otherwise every byte
	 * is there and each task's lines come in their order */
	s = slurp_fd(ofd, NULL);
	pr_buf_init(&want, 0);
	for (int i = 1; i <= N; i++)
		ASSERT_OK(pr_buf_add(&want, full[i].data, full[i].len));
	if (keep) {
		ASSERT_STR_EQ(s, want.data);
	} else {
		ASSERT_EQ(strlen(s), want.len);
		for (int i = 1; i <= N; i++) {
			const char *p = s, *line = full[i].data;

			while (*line != '\0') {
				const char *nl = strchr(line, '\n');
				size_t l = nl ? (size_t)(nl - line) + 1 :
				    strlen(line);
				char tmp[400];

				ASSERT(l < sizeof(tmp));
				memcpy(tmp, line, l);
				tmp[l] = '\0';
				p = strstr(p, tmp);
				if (p == NULL)
					PR_TEST_FAIL("seq %d: '%s' missing or "
					    "out of order", i, tmp);
				p += l;
				line += l;
			}
		}
	}
	free(s);
	pr_buf_release(&want);
	for (int i = 0; i <= N; i++)
		pr_buf_release(&full[i]);
}

TEST(output_randomized_modes)
{
	static const size_t caps[] = { 0, 1, 2000 };

	for (uint64_t seed = 1; seed <= 4; seed++)
		for (int keep = 0; keep <= 1; keep++)
			for (int lb = 0; lb <= 1; lb++)
				for (size_t c = 0; c < 3; c++)
					fuzz_run(keep, lb, caps[c],
					    seed * 7919 + 1);
}
