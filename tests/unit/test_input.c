/*
 * test_input.c - lib/input.c: stdin through pipes, -a files, ::: groups
 * and their cartesian product, ranges and kernel chunks, bad lines under
 * abort and skip, over-long lines, a missing final LF, read errors, and
 * that a million lines from a pipe keep memory flat.
 */
#include "test.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "input.h"

/* A pipe whose read end holds `data` (small enough for the pipe buffer)
 * and whose write end is closed. */
static int
pipe_with(const char *data, size_t n)
{
	int fd[2];

	ASSERT_OK(pipe(fd));
	ASSERT(n < 60000);
	if (n > 0)
		ASSERT_EQ(write(fd[1], data, n), (long long)n);
	close(fd[1]);
	return fd[0];
}

static char *
temp_file(const char *data, size_t n)
{
	char *path = strdup("/tmp/pr-input-XXXXXX");
	int fd;

	ASSERT(path != NULL);
	fd = mkstemp(path);
	ASSERT(fd >= 0);
	if (n > 0)
		ASSERT_EQ(write(fd, data, n), (long long)n);
	close(fd);
	return path;
}

#define temp_str(s) temp_file((s), strlen(s))

static struct pr_input *
open_input(const struct pr_input_opts *o)
{
	struct pr_input *in;
	struct pr_errbuf eb = { 0, "" };
	int rc = pr_input_new(&in, o, &eb);

	if (rc != 0)
		PR_TEST_FAIL("pr_input_new: %d %s", rc, eb.msg);
	return in;
}

/*
 * Read every task; append one line per task to out:
 *	"SEQ ID BODY" for tasks, "SEQ rejected ERROR" for rejected ones,
 *	"error MSG" for errors (reading goes on, at most 20 in a row).
 */
static void
drain(struct pr_input *in, struct pr_buf *out)
{
	struct pr_task *t;
	struct pr_errbuf eb;
	int rc, errs = 0;

	for (;;) {
		eb.code = 0;
		eb.msg[0] = '\0';
		rc = pr_input_next(in, &t, &eb);
		if (rc == 0)
			break;
		if (rc < 0) {
			pr_buf_addf(out, "error %s\n", eb.msg);
			ASSERT(t == NULL);
			if (rc != PR_EBADINPUT || ++errs > 20)
				break;
			continue;
		}
		errs = 0;
		ASSERT_EQ(rc, 1);
		if (t->status == PR_ST_REJECTED)
			pr_buf_addf(out, "%llu rejected %s\n",
			    (unsigned long long)t->seq, t->error);
		else if (t->body != NULL)
			pr_buf_addf(out, "%llu %s %s\n",
			    (unsigned long long)t->seq, t->id, t->body);
		else
			pr_buf_addf(out, "%llu %s slot\n",
			    (unsigned long long)t->seq, t->id);
		pr_task_free(t);
	}
}

static char *
run_stdin(const char *data, const char *const *tmpl, size_t ntmpl,
    bool skip_bad)
{
	struct pr_input_opts o;
	struct pr_input *in;
	struct pr_buf out;

	pr_input_opts_init(&o);
	o.stdin_fd = pipe_with(data, strlen(data));
	o.tmpl = tmpl;
	o.ntmpl = ntmpl;
	o.skip_bad = skip_bad;
	in = open_input(&o);
	ASSERT_STR_EQ(pr_input_source_name(in), "stdin");
	pr_buf_init(&out, 0);
	pr_buf_adds(&out, "");
	drain(in, &out);
	pr_input_free(in);
	close(o.stdin_fd);
	return pr_buf_detach(&out, NULL);
}

TEST(input_stdin_lines)
{
	char *got = run_stdin("echo a\n\n  \n"
	    "{\"id\":\"j\",\"argv\":[\"x\"]}\r\n"
	    "{\"kernel\":\"noop\"}\n\t\nlast without LF", NULL, 0, false);

	ASSERT_STR_EQ(got,
	    "1 1 \"id\":\"1\",\"sh\":\"echo a\"\n"
	    "2 j \"id\":\"j\",\"argv\":[\"x\"]\n"
	    "3 3 \"id\":\"3\",\"kernel\":\"noop\",\"params\":"
	    "{\"kernel\":\"noop\"}\n"
	    "4 4 \"id\":\"4\",\"sh\":\"last without LF\"\n");
	free(got);
	ASSERT_EQ(pr_task_live(), 0);
}

TEST(input_empty_and_blank)
{
	char *got = run_stdin("", NULL, 0, false);

	ASSERT_STR_EQ(got, "");
	free(got);
	got = run_stdin("\n\n \r\n\t\n", NULL, 0, false);
	ASSERT_STR_EQ(got, "");
	free(got);
	/* a final CR without LF */
	got = run_stdin("a\r", NULL, 0, false);
	ASSERT_STR_EQ(got, "1 1 \"id\":\"1\",\"sh\":\"a\"\n");
	free(got);
}

TEST(input_template_lines)
{
	static const char *const w[] = { "./sim", "--rep", "{}" };
	char *got = run_stdin("1\n2\n{\"args\":[\"3\"],\"id\":\"x\"}\n", w, 3,
	    false);

	ASSERT_STR_EQ(got,
	    "1 1 \"id\":\"1\",\"argv\":[\"./sim\",\"--rep\",\"1\"]\n"
	    "2 2 \"id\":\"2\",\"argv\":[\"./sim\",\"--rep\",\"2\"]\n"
	    "3 x \"id\":\"x\",\"argv\":[\"./sim\",\"--rep\",\"3\"]\n");
	free(got);
}

/* research/reliability.md §6 test 23: line 3 of 5 malformed */
TEST(input_bad_line_abort_and_skip)
{
	static const char data[] = "echo 1\necho 2\n{\"sh\":1}\necho 4\n"
	    "echo 5\n";
	char *got = run_stdin(data, NULL, 0, false);

	/* abort mode: the error names line 3 and its column; reading can
	 * go on (the caller decides to stop) */
	ASSERT_STR_EQ(got,
	    "1 1 \"id\":\"1\",\"sh\":\"echo 1\"\n"
	    "2 2 \"id\":\"2\",\"sh\":\"echo 2\"\n"
	    "error stdin:3:7: field 'sh' must be a non-empty string\n"
	    "3 3 \"id\":\"3\",\"sh\":\"echo 4\"\n"
	    "4 4 \"id\":\"4\",\"sh\":\"echo 5\"\n");
	free(got);

	/* skip mode: a rejected task with its own seq, then the rest */
	got = run_stdin(data, NULL, 0, true);
	ASSERT_STR_EQ(got,
	    "1 1 \"id\":\"1\",\"sh\":\"echo 1\"\n"
	    "2 2 \"id\":\"2\",\"sh\":\"echo 2\"\n"
	    "3 rejected stdin:3:7: field 'sh' must be a non-empty string\n"
	    "4 4 \"id\":\"4\",\"sh\":\"echo 4\"\n"
	    "5 5 \"id\":\"5\",\"sh\":\"echo 5\"\n");
	free(got);
}

TEST(input_rejected_task_fields)
{
	struct pr_input_opts o;
	struct pr_input *in;
	struct pr_task *t;
	struct pr_errbuf eb = { 0, "" };
	static const char data[] = "\n{\"argv\":[1]}\n";

	pr_input_opts_init(&o);
	o.stdin_fd = pipe_with(data, strlen(data));
	o.skip_bad = true;
	in = open_input(&o);
	ASSERT_EQ(pr_input_next(in, &t, &eb), 1);
	ASSERT_EQ(t->status, PR_ST_REJECTED);
	ASSERT_STR_EQ(t->id, "1");
	ASSERT_STR_EQ(t->src, "stdin");
	ASSERT_EQ(t->line, 2);
	ASSERT_STR_EQ(t->error, "stdin:2:10: field 'argv' must be a "
	    "non-empty array of strings");
	ASSERT_STR_EQ(t->cmd, "{\"argv\":[1]}");
	ASSERT(t->body == NULL);
	pr_task_free(t);
	ASSERT_EQ(pr_input_next(in, &t, &eb), 0);
	ASSERT_EQ(pr_input_count(in), 1);
	pr_input_free(in);
	close(o.stdin_fd);
}

TEST(input_text_errors_name_the_column)
{
	static const char data[] = "echo ok\nab\xff" "c\n\xef\xbb\xbf" "echo\n"
	    "x\0y\n";
	struct pr_input_opts o;
	struct pr_input *in;
	struct pr_buf out;

	pr_input_opts_init(&o);
	o.stdin_fd = pipe_with(data, sizeof(data) - 1);
	in = open_input(&o);
	pr_buf_init(&out, 0);
	drain(in, &out);
	ASSERT_STR_EQ(out.data,
	    "1 1 \"id\":\"1\",\"sh\":\"echo ok\"\n"
	    "error stdin:2:3: invalid UTF-8\n"
	    "error stdin:3:1: byte order mark at the start of the line (save "
	    "the file as UTF-8 without BOM)\n"
	    "error stdin:4:2: NUL byte\n");
	pr_buf_release(&out);
	pr_input_free(in);
	close(o.stdin_fd);
}

TEST(input_line_too_long)
{
	struct pr_input_opts o;
	struct pr_input *in;
	struct pr_buf data, out;
	size_t i;

	/* a line over the cap [24], in the middle and at the end */
	pr_buf_init(&data, 0);
	pr_buf_adds(&data, "echo a\n");
	for (i = 0; i < 40; i++)
		pr_buf_addc(&data, 'x');
	pr_buf_adds(&data, "\necho b\n");
	for (i = 0; i < 40; i++)
		pr_buf_addc(&data, 'y');
	pr_input_opts_init(&o);
	o.stdin_fd = pipe_with(data.data, data.len);
	o.max_line = 32;
	in = open_input(&o);
	pr_buf_init(&out, 0);
	drain(in, &out);
	ASSERT_STR_EQ(out.data,
	    "1 1 \"id\":\"1\",\"sh\":\"echo a\"\n"
	    "error stdin:2:1: line too long (> 32 bytes)\n"
	    "2 2 \"id\":\"2\",\"sh\":\"echo b\"\n"
	    "error stdin:4:1: line too long (> 32 bytes)\n");
	pr_input_free(in);
	close(o.stdin_fd);

	/* under skip: rejected tasks */
	o.stdin_fd = pipe_with(data.data, data.len);
	o.skip_bad = true;
	in = open_input(&o);
	pr_buf_reset(&out);
	drain(in, &out);
	ASSERT_STR_EQ(out.data,
	    "1 1 \"id\":\"1\",\"sh\":\"echo a\"\n"
	    "2 rejected stdin:2:1: line too long (> 32 bytes)\n"
	    "3 3 \"id\":\"3\",\"sh\":\"echo b\"\n"
	    "4 rejected stdin:4:1: line too long (> 32 bytes)\n");
	pr_input_free(in);
	close(o.stdin_fd);
	pr_buf_release(&out);
	pr_buf_release(&data);
}

TEST(input_default_cap_is_1mib)
{
	struct pr_input_opts o;
	struct pr_input *in;
	struct pr_buf out;
	char *path;
	size_t n = PR_MAX_FRAME + 10, i;
	char *data = malloc(n + 20);
	FILE *f;

	ASSERT(data != NULL);
	memcpy(data, "echo ", 5);
	for (i = 5; i < n; i++)
		data[i] = 'x';
	memcpy(data + n, "\necho b\n", 8);
	path = temp_str("");
	f = fopen(path, "w");
	ASSERT(f != NULL);
	ASSERT_EQ(fwrite(data, 1, n + 8, f), (long long)(n + 8));
	fclose(f);
	{
		struct pr_input_src s = { PR_SRC_FILE, path, NULL, 0, NULL };

		pr_input_opts_init(&o);
		o.srcs = &s;
		o.nsrcs = 1;
		in = open_input(&o);
	}
	ASSERT_STR_EQ(pr_input_source_name(in), path);
	pr_buf_init(&out, 0);
	drain(in, &out);
	{
		char want[256];

		snprintf(want, sizeof(want), "error %s:1:1: line too long "
		    "(> 1048576 bytes)\n1 1 \"id\":\"1\",\"sh\":\"echo b\"\n",
		    path);
		ASSERT_STR_EQ(out.data, want);
	}
	pr_input_free(in);
	pr_buf_release(&out);
	unlink(path);
	free(path);
	free(data);
}

TEST(input_files)
{
	char *p1 = temp_str("{\"sh\":\"x\"}\nplain\n");
	struct pr_input_src s[2] = {
		{ PR_SRC_FILE, p1, NULL, 0, NULL },
		{ PR_SRC_FILE, "/nonexistent/parrun-input", NULL, 0, NULL },
	};
	struct pr_input_opts o;
	struct pr_input *in;
	struct pr_errbuf eb = { 0, "" };
	struct pr_buf out;

	/* one -a file alone is read as task lines */
	pr_input_opts_init(&o);
	o.srcs = s;
	o.nsrcs = 1;
	in = open_input(&o);
	pr_buf_init(&out, 0);
	drain(in, &out);
	ASSERT_STR_EQ(out.data, "1 1 \"id\":\"1\",\"sh\":\"x\"\n"
	    "2 2 \"id\":\"2\",\"sh\":\"plain\"\n");
	pr_input_free(in);

	/* a file that cannot be opened: -ENOENT, the message names it */
	o.nsrcs = 2;
	ASSERT_EQ(pr_input_new(&in, &o, &eb), -ENOENT);
	ASSERT(in == NULL);
	ASSERT_STR_EQ(eb.msg, "cannot open '/nonexistent/parrun-input': no "
	    "such file or directory");

	/* a directory: the read fails, and keeps failing */
	s[0].path = "/";
	o.nsrcs = 1;
	in = open_input(&o);
	ASSERT_EQ(pr_input_next(in, &(struct pr_task *){ NULL }, &eb),
	    -EISDIR);
	ASSERT_STR_EQ(eb.msg, "cannot read '/': illegal operation on a "
	    "directory");
	eb.msg[0] = '\0';
	ASSERT_EQ(pr_input_next(in, &(struct pr_task *){ NULL }, &eb),
	    -EISDIR);
	ASSERT(strstr(eb.msg, "cannot read '/'") != NULL);
	pr_input_free(in);
	pr_buf_release(&out);
	unlink(p1);
	free(p1);
}

/* ---- the cartesian product ---------------------------------------------- */

TEST(input_product_of_groups)
{
	static const char *const g1[] = { "a", "b" };
	static const char *const g2[] = { "1", "2", "3" };
	static const char *const w[] = { "echo", "{1}-{2}", "{}" };
	struct pr_input_src s[2] = {
		{ PR_SRC_ARGS, NULL, g1, 2, NULL },
		{ PR_SRC_ARGS, NULL, g2, 3, NULL },
	};
	struct pr_input_opts o;
	struct pr_input *in;
	struct pr_buf out;
	struct pr_task *t;
	struct pr_errbuf eb;

	pr_input_opts_init(&o);
	o.srcs = s;
	o.nsrcs = 2;
	o.tmpl = w;
	o.ntmpl = 3;
	in = open_input(&o);
	ASSERT_STR_EQ(pr_input_source_name(in), "args");
	pr_buf_init(&out, 0);
	drain(in, &out);
	/* the last source varies fastest */
	ASSERT_STR_EQ(out.data,
	    "1 1 \"id\":\"1\",\"argv\":[\"echo\",\"a-1\",\"a\",\"1\"]\n"
	    "2 2 \"id\":\"2\",\"argv\":[\"echo\",\"a-2\",\"a\",\"2\"]\n"
	    "3 3 \"id\":\"3\",\"argv\":[\"echo\",\"a-3\",\"a\",\"3\"]\n"
	    "4 4 \"id\":\"4\",\"argv\":[\"echo\",\"b-1\",\"b\",\"1\"]\n"
	    "5 5 \"id\":\"5\",\"argv\":[\"echo\",\"b-2\",\"b\",\"2\"]\n"
	    "6 6 \"id\":\"6\",\"argv\":[\"echo\",\"b-3\",\"b\",\"3\"]\n");
	pr_input_free(in);

	/* tag and line of a combination */
	in = open_input(&o);
	for (int i = 0; i < 3; i++) {
		ASSERT_EQ(pr_input_next(in, &t, &eb), 1);
		pr_task_free(t);
	}
	ASSERT_EQ(pr_input_next(in, &t, &eb), 1);
	ASSERT_STR_EQ(t->tag, "b\t1");
	ASSERT_STR_EQ(t->src, "args");
	ASSERT_EQ(t->line, 2);
	pr_task_free(t);
	pr_input_free(in);
	pr_buf_release(&out);
	ASSERT_EQ(pr_task_live(), 0);
}

TEST(input_product_three_sources_and_files)
{
	static const char *const g[] = { "x", "y" };
	static const char *const w[] = { "{1}{2}{3}" };
	char *f1 = temp_str("p\n\nq\r\n");
	char *f3 = temp_str("1\n2");
	struct pr_input_src s[3] = {
		{ PR_SRC_FILE, f1, NULL, 0, NULL },
		{ PR_SRC_ARGS, NULL, g, 2, NULL },
		{ PR_SRC_FILE, f3, NULL, 0, NULL },
	};
	struct pr_input_opts o;
	struct pr_input *in;
	struct pr_buf out;

	pr_input_opts_init(&o);
	o.srcs = s;
	o.nsrcs = 3;
	o.tmpl = w;
	o.ntmpl = 1;
	in = open_input(&o);
	pr_buf_init(&out, 0);
	drain(in, &out);
	ASSERT_STR_EQ(out.data,
	    "1 1 \"id\":\"1\",\"argv\":[\"px1\"]\n"
	    "2 2 \"id\":\"2\",\"argv\":[\"px2\"]\n"
	    "3 3 \"id\":\"3\",\"argv\":[\"py1\"]\n"
	    "4 4 \"id\":\"4\",\"argv\":[\"py2\"]\n"
	    "5 5 \"id\":\"5\",\"argv\":[\"qx1\"]\n"
	    "6 6 \"id\":\"6\",\"argv\":[\"qx2\"]\n"
	    "7 7 \"id\":\"7\",\"argv\":[\"qy1\"]\n"
	    "8 8 \"id\":\"8\",\"argv\":[\"qy2\"]\n");
	pr_input_free(in);

	/* a JSON-looking line in a product is a literal value */
	pr_buf_release(&out);
	unlink(f1);
	unlink(f3);
	free(f1);
	free(f3);
}

TEST(input_product_literal_values_and_stdin)
{
	static const char *const g[] = { "{\"sh\":\"x\"}", "" };
	static const char *const w[] = { "echo", "{2}", "{1}" };
	static const char data[] = "s1\n{\"argv\":[\"z\"]}\n";
	struct pr_input_src s[2] = {
		{ PR_SRC_FILE, "-", NULL, 0, NULL },
		{ PR_SRC_ARGS, NULL, g, 2, NULL },
	};
	struct pr_input_opts o;
	struct pr_input *in;
	struct pr_buf out;

	pr_input_opts_init(&o);
	o.stdin_fd = pipe_with(data, sizeof(data) - 1);
	o.srcs = s;
	o.nsrcs = 2;
	o.tmpl = w;
	o.ntmpl = 3;
	in = open_input(&o);
	ASSERT_STR_EQ(pr_input_source_name(in), "stdin");
	pr_buf_init(&out, 0);
	drain(in, &out);
	/* {1} is the stdin line, {2} the ::: value; JSON is literal */
	ASSERT_STR_EQ(out.data,
	    "1 1 \"id\":\"1\",\"argv\":[\"echo\","
	    "\"{\\\"sh\\\":\\\"x\\\"}\",\"s1\"]\n"
	    "2 2 \"id\":\"2\",\"argv\":[\"echo\",\"\",\"s1\"]\n"
	    "3 3 \"id\":\"3\",\"argv\":[\"echo\",\"{\\\"sh\\\":\\\"x\\\"}\","
	    "\"{\\\"argv\\\":[\\\"z\\\"]}\"]\n"
	    "4 4 \"id\":\"4\",\"argv\":[\"echo\",\"\","
	    "\"{\\\"argv\\\":[\\\"z\\\"]}\"]\n");
	pr_input_free(in);
	pr_buf_release(&out);
	close(o.stdin_fd);
}

TEST(input_product_empty_source)
{
	static const char *const g1[] = { "a", "b" };
	char *empty = temp_str("\n\n");
	struct pr_input_src s[2] = {
		{ PR_SRC_ARGS, NULL, g1, 2, NULL },
		{ PR_SRC_FILE, empty, NULL, 0, NULL },
	};
	struct pr_input_opts o;
	struct pr_input *in;
	struct pr_buf out;

	pr_input_opts_init(&o);
	o.srcs = s;
	o.nsrcs = 2;
	in = open_input(&o);
	pr_buf_init(&out, 0);
	pr_buf_adds(&out, "");
	drain(in, &out);
	ASSERT_STR_EQ(out.data, "");
	pr_input_free(in);
	pr_buf_release(&out);
	unlink(empty);
	free(empty);
}

TEST(input_product_bad_lines)
{
	static const char *const g1[] = { "a", "b" };
	static const char *const w[] = { "echo" };
	char *later = temp_str("1\nbad\xff\n2\n");
	char *first = temp_str("p\nq\x01\xfe\nr\n");
	struct pr_input_src s[2] = {
		{ PR_SRC_ARGS, NULL, g1, 2, NULL },
		{ PR_SRC_FILE, later, NULL, 0, NULL },
	};
	struct pr_input_opts o;
	struct pr_input *in;
	struct pr_buf out;
	char want[1024];

	/* a bad line in a later source: one rejected task, first; under
	 * abort, the error */
	pr_input_opts_init(&o);
	o.srcs = s;
	o.nsrcs = 2;
	o.tmpl = w;
	o.ntmpl = 1;
	o.skip_bad = true;
	in = open_input(&o);
	pr_buf_init(&out, 0);
	drain(in, &out);
	snprintf(want, sizeof(want),
	    "1 rejected %s:2:4: invalid UTF-8\n"
	    "2 2 \"id\":\"2\",\"argv\":[\"echo\",\"a\",\"1\"]\n"
	    "3 3 \"id\":\"3\",\"argv\":[\"echo\",\"a\",\"2\"]\n"
	    "4 4 \"id\":\"4\",\"argv\":[\"echo\",\"b\",\"1\"]\n"
	    "5 5 \"id\":\"5\",\"argv\":[\"echo\",\"b\",\"2\"]\n", later);
	ASSERT_STR_EQ(out.data, want);
	pr_input_free(in);
	o.skip_bad = false;
	in = open_input(&o);
	pr_buf_reset(&out);
	drain(in, &out);
	/* the caller stops on the error; if it reads on, the rest comes */
	snprintf(want, sizeof(want), "error %s:2:4: invalid UTF-8\n"
	    "1 1 \"id\":\"1\",\"argv\":[\"echo\",\"a\",\"1\"]\n"
	    "2 2 \"id\":\"2\",\"argv\":[\"echo\",\"a\",\"2\"]\n"
	    "3 3 \"id\":\"3\",\"argv\":[\"echo\",\"b\",\"1\"]\n"
	    "4 4 \"id\":\"4\",\"argv\":[\"echo\",\"b\",\"2\"]\n", later);
	ASSERT_STR_EQ(out.data, want);
	pr_input_free(in);

	/* a bad line in the first source: one rejected task, not one per
	 * combination */
	s[0].kind = PR_SRC_FILE;
	s[0].path = first;
	s[1].kind = PR_SRC_ARGS;
	s[1].values = g1;
	s[1].nvalues = 2;
	o.skip_bad = true;
	in = open_input(&o);
	pr_buf_reset(&out);
	drain(in, &out);
	snprintf(want, sizeof(want),
	    "1 1 \"id\":\"1\",\"argv\":[\"echo\",\"p\",\"a\"]\n"
	    "2 2 \"id\":\"2\",\"argv\":[\"echo\",\"p\",\"b\"]\n"
	    "3 rejected %s:2:3: invalid UTF-8\n"
	    "4 4 \"id\":\"4\",\"argv\":[\"echo\",\"r\",\"a\"]\n"
	    "5 5 \"id\":\"5\",\"argv\":[\"echo\",\"r\",\"b\"]\n", first);
	ASSERT_STR_EQ(out.data, want);
	pr_input_free(in);
	pr_buf_release(&out);
	unlink(later);
	unlink(first);
	free(later);
	free(first);
	ASSERT_EQ(pr_task_live(), 0);
}

TEST(input_single_group_literal)
{
	static const char *const g[] = { "echo a", "{\"sh\":\"b\"}" };
	struct pr_input_src s = { PR_SRC_ARGS, NULL, g, 2, NULL };
	struct pr_input_opts o;
	struct pr_input *in;
	struct pr_buf out;

	/* ::: values without a template are commands (GNU parallel) */
	pr_input_opts_init(&o);
	o.srcs = &s;
	o.nsrcs = 1;
	in = open_input(&o);
	pr_buf_init(&out, 0);
	drain(in, &out);
	ASSERT_STR_EQ(out.data,
	    "1 1 \"id\":\"1\",\"sh\":\"echo a\"\n"
	    "2 2 \"id\":\"2\",\"sh\":\"{\\\"sh\\\":\\\"b\\\"}\"\n");
	pr_input_free(in);
	pr_buf_release(&out);
}

/* ---- configuration errors ----------------------------------------------- */

static void
expect_config_error(const struct pr_input_opts *o, int code,
    const char *msg)
{
	struct pr_input *in;
	struct pr_errbuf eb = { 0, "" };

	ASSERT_EQ(pr_input_new(&in, o, &eb), code);
	ASSERT(in == NULL);
	if (strstr(eb.msg, msg) == NULL)
		PR_TEST_FAIL("message '%s' lacks '%s'", eb.msg, msg);
}

TEST(input_config_errors)
{
	static const char *const g[] = { "a" };
	static const char *const bad[] = { "a", "b\xff" };
	static const char *const w[] = { "x", "{3}" };
	struct pr_input_src s[3] = {
		{ PR_SRC_FILE, "-", NULL, 0, NULL },
		{ PR_SRC_FILE, "-", NULL, 0, NULL },
		{ PR_SRC_ARGS, NULL, g, 1, NULL },
	};
	struct pr_input_opts o;

	pr_input_opts_init(&o);
	o.srcs = s;
	o.nsrcs = 2;
	expect_config_error(&o, PR_ECONFIG, "stdin ('-') given as input more "
	    "than once");

	o.srcs = s + 1;
	o.nsrcs = 2;
	o.tmpl = w;
	o.ntmpl = 2;
	expect_config_error(&o, PR_ECONFIG, "the command uses '{3}' but there "
	    "are only 2 input sources");

	o.kernel = "chol";
	expect_config_error(&o, PR_ECONFIG, "--kernel and a command cannot be "
	    "used together");
	o.ntmpl = 0;
	expect_config_error(&o, PR_ECONFIG, "--kernel takes a single input "
	    "source");
	o.kernel = "no good";
	o.nsrcs = 1;
	expect_config_error(&o, PR_ECONFIG, "invalid kernel name 'no good'");
	o.kernel = NULL;

	s[2].values = bad;
	s[2].nvalues = 2;
	o.srcs = s + 2;
	o.nsrcs = 1;
	expect_config_error(&o, PR_ECONFIG, "::: group 1, value 2: invalid "
	    "UTF-8 at byte 2");

	{
		struct pr_input_src r = { PR_SRC_RANGE, NULL, NULL, 0, "1:x" };

		o.srcs = &r;
		expect_config_error(&o, PR_ECONFIG, "invalid range '1:x'");
		r.range = "1:10";
		expect_config_error(&o, PR_ECONFIG, "--range needs a command "
		    "or --kernel");
	}
	{
		static const char *const ww[] = { "ok", "\xff" };

		o.srcs = NULL;
		o.nsrcs = 0;
		o.tmpl = ww;
		o.ntmpl = 2;
		expect_config_error(&o, PR_ECONFIG, "command word 2 is not "
		    "valid UTF-8");
	}
}

/* ---- ranges ------------------------------------------------------------- */

TEST(input_range_parse)
{
	struct pr_errbuf eb = { 0, "" };
	int64_t a, b, s;

	ASSERT_OK(pr_range_parse("1:10", &a, &b, &s, &eb));
	ASSERT_EQ(a, 1);
	ASSERT_EQ(b, 10);
	ASSERT_EQ(s, 1);
	ASSERT_OK(pr_range_parse("-5:5:2", &a, &b, &s, &eb));
	ASSERT_EQ(a, -5);
	ASSERT_EQ(b, 5);
	ASSERT_EQ(s, 2);
	ASSERT_OK(pr_range_parse("7:7", &a, &b, &s, &eb));
	ASSERT_OK(pr_range_parse("+1:+2", &a, &b, &s, &eb));
	ASSERT_OK(pr_range_parse("-9007199254740991:9007199254740991", &a, &b,
	    &s, &eb));
	ASSERT_EQ(a, -9007199254740991LL);

	ASSERT_EQ(pr_range_parse("x", &a, &b, &s, &eb), PR_ECONFIG);
	ASSERT_STR_EQ(eb.msg, "invalid range 'x' (expected A:B or A:B:STEP "
	    "with integers)");
	ASSERT_EQ(pr_range_parse("1:", &a, &b, &s, &eb), PR_ECONFIG);
	ASSERT_EQ(pr_range_parse(":1", &a, &b, &s, &eb), PR_ECONFIG);
	ASSERT_EQ(pr_range_parse("1:2:", &a, &b, &s, &eb), PR_ECONFIG);
	ASSERT_EQ(pr_range_parse("1:2:3:4", &a, &b, &s, &eb), PR_ECONFIG);
	ASSERT_EQ(pr_range_parse("1.5:2", &a, &b, &s, &eb), PR_ECONFIG);
	ASSERT_EQ(pr_range_parse(" 1:2", &a, &b, &s, &eb), PR_ECONFIG);
	ASSERT_EQ(pr_range_parse("", &a, &b, &s, &eb), PR_ECONFIG);
	ASSERT_EQ(pr_range_parse("5:1", &a, &b, &s, &eb), PR_ECONFIG);
	ASSERT_STR_EQ(eb.msg, "invalid range '5:1': the start is after the "
	    "end");
	ASSERT_EQ(pr_range_parse("1:5:0", &a, &b, &s, &eb), PR_ECONFIG);
	ASSERT_STR_EQ(eb.msg, "invalid range '1:5:0': the step must be at "
	    "least 1");
	ASSERT_EQ(pr_range_parse("1:5:-1", &a, &b, &s, &eb), PR_ECONFIG);
	ASSERT_EQ(pr_range_parse("0:9007199254740992", &a, &b, &s, &eb),
	    PR_ECONFIG);
	ASSERT(strstr(eb.msg, "within +-9007199254740991") != NULL);
	ASSERT_EQ(pr_range_parse("0:99999999999999999999999", &a, &b, &s,
	    &eb), PR_ECONFIG);
}

TEST(input_range_values)
{
	static const char *const w[] = { "./sim", "{}", "{#}" };
	struct pr_input_src r = { PR_SRC_RANGE, NULL, NULL, 0, "-2:7:3" };
	struct pr_input_opts o;
	struct pr_input *in;
	struct pr_buf out;

	pr_input_opts_init(&o);
	o.srcs = &r;
	o.nsrcs = 1;
	o.tmpl = w;
	o.ntmpl = 3;
	in = open_input(&o);
	ASSERT_STR_EQ(pr_input_source_name(in), "range");
	/* one task per index through a template: not kernel chunks */
	ASSERT(!pr_input_range_chunks(in));
	pr_buf_init(&out, 0);
	drain(in, &out);
	ASSERT_STR_EQ(out.data,
	    "1 1 \"id\":\"1\",\"argv\":[\"./sim\",\"-2\",\"1\"]\n"
	    "2 2 \"id\":\"2\",\"argv\":[\"./sim\",\"1\",\"2\"]\n"
	    "3 3 \"id\":\"3\",\"argv\":[\"./sim\",\"4\",\"3\"]\n"
	    "4 4 \"id\":\"4\",\"argv\":[\"./sim\",\"7\",\"4\"]\n");
	pr_input_free(in);
	pr_buf_release(&out);
}

static char *
chunks(const char *range, unsigned n)
{
	struct pr_input_src r = { PR_SRC_RANGE, NULL, NULL, 0, range };
	struct pr_input_opts o;
	struct pr_input *in;
	struct pr_task *t;
	struct pr_errbuf eb = { 0, "" };
	struct pr_buf out;
	int rc;

	pr_input_opts_init(&o);
	o.srcs = &r;
	o.nsrcs = 1;
	o.kernel = "randsum";
	o.chunks = n;
	in = open_input(&o);
	ASSERT(pr_input_range_chunks(in));
	pr_buf_init(&out, 0);
	pr_buf_adds(&out, "");
	while ((rc = pr_input_next(in, &t, &eb)) == 1) {
		cJSON *j, *p;
		char obj[512];

		ASSERT_EQ(t->kind, PR_KIND_KERNEL);
		ASSERT_STR_EQ(t->kernel, "randsum");
		snprintf(obj, sizeof(obj), "{%s}", t->body);
		j = cJSON_Parse(obj);
		ASSERT(j != NULL);
		p = cJSON_GetObjectItem(j, "params");
		pr_buf_addf(&out, "%s[%.0f,%.0f,%.0f,%.0f]",
		    out.len > 0 ? " " : "",
		    cJSON_GetObjectItem(p, "from")->valuedouble,
		    cJSON_GetObjectItem(p, "to")->valuedouble,
		    cJSON_GetObjectItem(p, "step")->valuedouble,
		    cJSON_GetObjectItem(p, "n")->valuedouble);
		cJSON_Delete(j);
		pr_task_free(t);
	}
	ASSERT_EQ(rc, 0);
	pr_input_free(in);
	return pr_buf_detach(&out, NULL);
}

TEST(input_range_kernel_chunks)
{
	char *got;

	/* as equal as possible, contiguous, covering [A, B] */
	got = chunks("1:10", 3);
	ASSERT_STR_EQ(got, "[1,4,1,4] [5,7,1,3] [8,10,1,3]");
	free(got);
	got = chunks("1:10", 0);
	ASSERT_STR_EQ(got, "[1,10,1,10]");
	free(got);
	got = chunks("1:3", 8);
	ASSERT_STR_EQ(got, "[1,1,1,1] [2,2,1,1] [3,3,1,1]");
	free(got);
	got = chunks("-10:10:5", 2);
	ASSERT_STR_EQ(got, "[-10,0,5,3] [5,10,5,2]");
	free(got);
	got = chunks("0:50000000", 4);
	ASSERT_STR_EQ(got, "[0,12500000,1,12500001] "
	    "[12500001,25000000,1,12500000] [25000001,37500000,1,12500000] "
	    "[37500001,50000000,1,12500000]");
	free(got);
	got = chunks("-9007199254740991:9007199254740991:9007199254740991",
	    2);
	ASSERT_STR_EQ(got, "[-9007199254740991,0,9007199254740991,2] "
	    "[9007199254740991,9007199254740991,9007199254740991,1]");
	free(got);
}

/* ---- streaming: a million lines from a pipe keep memory flat ------------ */

TEST(input_million_lines_flat_memory)
{
	static const char *const w[] = { "./sim", "--rep", "{}" };
	struct pr_input_opts o;
	struct pr_input *in;
	struct pr_task *t;
	struct pr_errbuf eb = { 0, "" };
	const long total = 1000000;
	size_t mem_early = 0, mem_max = 0;
	long n = 0, live0 = pr_task_live();
	int fd[2], st;
	pid_t pid;
	int rc;

	ASSERT_OK(pipe(fd));
	pid = fork();
	ASSERT(pid >= 0);
	if (pid == 0) {
		/* the writer: half JSON, half plain lines */
		FILE *f = fdopen(fd[1], "w");
		long i;

		close(fd[0]);
		for (i = 1; i <= total; i++) {
			if (i % 2)
				fprintf(f, "{\"id\":\"t%ld\","
				    "\"args\":[\"%ld\"]}\n", i, i);
			else
				fprintf(f, "%ld\n", i);
		}
		fclose(f);
		_exit(0);
	}
	close(fd[1]);
	pr_input_opts_init(&o);
	o.stdin_fd = fd[0];
	o.tmpl = w;
	o.ntmpl = 3;
	in = open_input(&o);
	while ((rc = pr_input_next(in, &t, &eb)) == 1) {
		size_t m;

		n++;
		if (n == 1 || n == total) {
			char want[64];

			snprintf(want, sizeof(want), "%ld", n);
			ASSERT_STR_EQ(t->tag, want);
		}
		ASSERT_U64_EQ(t->seq, (uint64_t)n);
		pr_task_free(t);
		ASSERT_EQ(pr_task_live(), live0);
		if (n % 1000 == 0) {
			m = pr_input_mem(in);
			if (n == 10000)
				mem_early = m;
			if (m > mem_max)
				mem_max = m;
		}
	}
	ASSERT_EQ(rc, 0);
	ASSERT_EQ(n, total);
	printf("# working memory: %zu bytes after 10k lines, at most %zu\n",
	    mem_early, mem_max);
	/* nothing grows with the number of tasks */
	ASSERT(mem_max <= mem_early + 64 * 1024);
	ASSERT(mem_max < 1024 * 1024);
	pr_input_free(in);
	close(fd[0]);
	ASSERT(waitpid(pid, &st, 0) == pid);
	ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

TEST(input_nonblocking_pipe)
{
	struct pr_input_opts o;
	struct pr_input *in;
	struct pr_task *t;
	struct pr_errbuf eb = { 0, "" };
	int fd[2], st, n = 0, rc;
	pid_t pid;

	/* a reader that finds O_NONBLOCK on stdin (libuv sets it) waits
	 * instead of failing with EAGAIN */
	ASSERT_OK(pipe(fd));
	ASSERT_OK(fcntl(fd[0], F_SETFL, fcntl(fd[0], F_GETFL) | O_NONBLOCK));
	pid = fork();
	ASSERT(pid >= 0);
	if (pid == 0) {
		close(fd[0]);
		for (int i = 0; i < 3; i++) {
			usleep(50000);
			if (write(fd[1], "echo x\n", 7) != 7)
				_exit(1);
		}
		_exit(0);
	}
	close(fd[1]);
	pr_input_opts_init(&o);
	o.stdin_fd = fd[0];
	in = open_input(&o);
	while ((rc = pr_input_next(in, &t, &eb)) == 1) {
		n++;
		pr_task_free(t);
	}
	ASSERT_EQ(rc, 0);
	ASSERT_EQ(n, 3);
	pr_input_free(in);
	close(fd[0]);
	ASSERT(waitpid(pid, &st, 0) == pid);
}

TEST(input_slot_dependent)
{
	static const char *const w[] = { "run", "{%}", "{}" };
	struct pr_input_opts o;
	struct pr_input *in;
	struct pr_task *t;
	struct pr_errbuf eb = { 0, "" };
	struct pr_buf b;

	pr_input_opts_init(&o);
	o.stdin_fd = pipe_with("v\n", 2);
	o.tmpl = w;
	o.ntmpl = 3;
	in = open_input(&o);
	ASSERT(pr_input_slot_dependent(in));
	ASSERT_EQ(pr_input_next(in, &t, &eb), 1);
	ASSERT(t->body == NULL);
	pr_buf_init(&b, 0);
	ASSERT_OK(pr_task_body(t, 2, &b));
	ASSERT_STR_EQ(b.data, "\"id\":\"1\",\"argv\":[\"run\",\"2\",\"v\"]");
	pr_buf_release(&b);
	pr_task_free(t);
	pr_input_free(in);
	close(o.stdin_fd);
}
