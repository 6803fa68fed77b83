/*
 * test_template.c - lib/template.c: replacement strings and their
 * transforms (against GNU parallel's results), argv mode (a value is
 * always one word), shell mode (every value quoted; hostile values run
 * through a real /bin/sh and come back literally), {%} holes.
 */
#include "test.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "template.h"

static struct pr_template *
tmpl(bool shell, const char *const *w, size_t n)
{
	struct pr_template *t;
	struct pr_errbuf eb = { 0, "" };

	ASSERT_OK(pr_template_new(&t, w, n, shell, &eb));
	return t;
}

/* Render with values vals[0..n) into json (with braces added) and text. */
static void
render(const struct pr_template *t, const char *const *vals, size_t n,
    uint64_t seq, long slot, struct pr_buf *json, struct pr_buf *text)
{
	size_t len[16];
	struct pr_tvals tv = { vals, len, n, seq, slot };
	struct pr_errbuf eb = { 0, "" };
	size_t i;

	for (i = 0; i < n; i++)
		len[i] = strlen(vals[i]);
	pr_buf_reset(json);
	pr_buf_reset(text);
	pr_buf_addc(json, '{');
	ASSERT_OK(pr_template_render(t, &tv, json, text, NULL, &eb));
	pr_buf_addc(json, '}');
}

/* The argv array rendered, as one string "a|b|c" (for short asserts). */
static char *
argv_joined(const struct pr_buf *json)
{
	cJSON *j = cJSON_Parse(json->data), *a, *it;
	struct pr_buf b;

	ASSERT(j != NULL);
	a = cJSON_GetObjectItem(j, "argv");
	ASSERT(cJSON_IsArray(a));
	pr_buf_init(&b, 0);
	pr_buf_adds(&b, "");
	cJSON_ArrayForEach(it, a) {
		ASSERT(cJSON_IsString(it));
		if (b.len > 0 || it != a->child)
			pr_buf_addc(&b, '|');
		pr_buf_adds(&b, it->valuestring);
	}
	cJSON_Delete(j);
	return pr_buf_detach(&b, NULL);
}

static void
check_tx(enum pr_tx tx, const char *in, const char *want)
{
	const char *o;
	size_t n;

	pr_template_transform(tx, in, strlen(in), &o, &n);
	if (strlen(want) != n || memcmp(o, want, n) != 0)
		PR_TEST_FAIL("transform %d of '%s': got '%.*s', want '%s'",
		    (int)tx, in, (int)n, o, want);
}

TEST(template_transforms)
{
	/* GNU parallel's test suite values (/a/b.c a/b.c b.c /a/b a/b b) */
	check_tx(PR_TX_NOEXT, "/a/b.c", "/a/b");
	check_tx(PR_TX_NOEXT, "a/b.c", "a/b");
	check_tx(PR_TX_NOEXT, "b.c", "b");
	check_tx(PR_TX_NOEXT, "/a/b", "/a/b");
	check_tx(PR_TX_NOEXT, "b", "b");
	check_tx(PR_TX_NOEXT, "a/b.tar.gz", "a/b.tar");
	check_tx(PR_TX_NOEXT, "sub.dir/bar", "sub.dir/bar");
	check_tx(PR_TX_NOEXT, "sub.dir/foo.jpg", "sub.dir/foo");
	check_tx(PR_TX_NOEXT, "file.", "file");
	check_tx(PR_TX_NOEXT, "", "");

	check_tx(PR_TX_BASE, "/a/b.c", "b.c");
	check_tx(PR_TX_BASE, "a/b.c", "b.c");
	check_tx(PR_TX_BASE, "b.c", "b.c");
	check_tx(PR_TX_BASE, "/a/b", "b");
	check_tx(PR_TX_BASE, "a/", "");

	check_tx(PR_TX_BASENOEXT, "/a/b.c", "b");
	check_tx(PR_TX_BASENOEXT, "a.d/b", "b");
	check_tx(PR_TX_BASENOEXT, "a/b.tar.gz", "b.tar");

	/* {//}: dirname(1), as GNU parallel's File::Basename */
	check_tx(PR_TX_DIR, "a", ".");
	check_tx(PR_TX_DIR, "a/b", "a");
	check_tx(PR_TX_DIR, "a/b/c", "a/b");
	check_tx(PR_TX_DIR, "/a", "/");
	check_tx(PR_TX_DIR, "/a/b", "/a");
	check_tx(PR_TX_DIR, "./a", ".");
	check_tx(PR_TX_DIR, "a/b/", "a");
	check_tx(PR_TX_DIR, "a//b", "a");
	check_tx(PR_TX_DIR, "/", "/");
	check_tx(PR_TX_DIR, "//", "/");
	check_tx(PR_TX_DIR, "", ".");
	check_tx(PR_TX_DIR, "/a.jpg", "/");

	check_tx(PR_TX_NONE, "x/y.z", "x/y.z");
}

TEST(template_argv_basic)
{
	static const char *const w[] = { "./sim", "--rep", "{}",
	    "--out={.}.txt", "{/}", "{//}", "{/.}", "{#}" };
	struct pr_template *t = tmpl(false, w, 8);
	const char *v[] = { "dir/in.csv" };
	struct pr_buf j, x;
	char *a;

	ASSERT(!pr_template_is_shell(t));
	ASSERT(!pr_template_uses_slot(t));
	ASSERT_EQ(pr_template_max_index(t), 0);
	pr_buf_init(&j, 0);
	pr_buf_init(&x, 0);
	render(t, v, 1, 17, 1, &j, &x);
	a = argv_joined(&j);
	ASSERT_STR_EQ(a, "./sim|--rep|dir/in.csv|--out=dir/in.txt|in.csv|"
	    "dir|in|17");
	free(a);
	ASSERT_STR_EQ(x.data, "./sim --rep dir/in.csv --out=dir/in.txt "
	    "in.csv dir in 17");
	pr_template_free(t);
	pr_buf_release(&j);
	pr_buf_release(&x);
}

TEST(template_no_replacement_appends)
{
	static const char *const w[] = { "echo", "-n" };
	static const char *const w2[] = { "sh", "-c", "echo {print $1} {x}" };
	struct pr_template *t = tmpl(false, w, 2);
	const char *v[] = { "a b", "c" };
	struct pr_buf j, x;
	char *a;

	pr_buf_init(&j, 0);
	pr_buf_init(&x, 0);
	render(t, v, 1, 1, 1, &j, &x);
	a = argv_joined(&j);
	ASSERT_STR_EQ(a, "echo|-n|a b");
	free(a);
	/* several values: each its own argument */
	render(t, v, 2, 1, 1, &j, &x);
	a = argv_joined(&j);
	ASSERT_STR_EQ(a, "echo|-n|a b|c");
	free(a);
	pr_template_free(t);

	/* braces that are no replacement string stay literal, and the
	 * value is appended */
	t = tmpl(false, w2, 3);
	ASSERT_EQ(pr_template_max_index(t), 0);
	render(t, v, 1, 1, 1, &j, &x);
	a = argv_joined(&j);
	ASSERT_STR_EQ(a, "sh|-c|echo {print $1} {x}|a b");
	free(a);
	pr_template_free(t);

	/* {#} counts as a replacement string: nothing is appended */
	{
		static const char *const w3[] = { "echo", "{#}" };

		t = tmpl(false, w3, 2);
		render(t, v, 1, 9, 1, &j, &x);
		a = argv_joined(&j);
		ASSERT_STR_EQ(a, "echo|9");
		free(a);
		pr_template_free(t);
	}
	pr_buf_release(&j);
	pr_buf_release(&x);
}

TEST(template_numbered_and_several_values)
{
	static const char *const w[] = { "cp", "{1}", "{2//}/{1/.}-{3}.bak",
	    "{}", "x{}y", "{2.}" };
	struct pr_template *t = tmpl(false, w, 6);
	const char *v[] = { "d/a.txt", "out/x.y", "" };
	struct pr_buf j, x;
	struct pr_errbuf eb = { 0, "" };
	size_t len[2] = { 7, 7 };
	struct pr_tvals tv = { v, len, 2, 1, 1 };
	char *a;

	ASSERT_EQ(pr_template_max_index(t), 3);
	pr_buf_init(&j, 0);
	pr_buf_init(&x, 0);
	render(t, v, 3, 1, 1, &j, &x);
	a = argv_joined(&j);
	/* a lone {} gives one element per value; inside a word the values
	 * are joined with spaces (still one element) */
	ASSERT_STR_EQ(a, "cp|d/a.txt|out/a-.bak|d/a.txt|out/x.y||"
	    "xd/a.txt out/x.y y|out/x");
	free(a);
	/* a missing value is an error, not an empty word */
	ASSERT_EQ(pr_template_render(t, &tv, &j, &x, NULL, &eb),
	    PR_EBADINPUT);
	ASSERT_STR_EQ(eb.msg, "'{3}' needs 3 input values, got 2");
	pr_template_free(t);
	pr_buf_release(&j);
	pr_buf_release(&x);
}

TEST(template_literal_braces)
{
	static const char *const w[] = { "awk", "{print $1}", "{0}", "{1x}",
	    "{", "}", "{}}", "{{}", "{-1}", "{100001}", "{%x}", "{#}}" };
	struct pr_template *t = tmpl(false, w, 12);
	const char *v[] = { "V" };
	struct pr_buf j, x;
	char *a;

	ASSERT_EQ(pr_template_max_index(t), 0);
	pr_buf_init(&j, 0);
	pr_buf_init(&x, 0);
	render(t, v, 1, 4, 1, &j, &x);
	a = argv_joined(&j);
	ASSERT_STR_EQ(a, "awk|{print $1}|{0}|{1x}|{|}|V}|{V|{-1}|{100001}|"
	    "{%x}|4}");
	free(a);
	pr_template_free(t);
	pr_buf_release(&j);
	pr_buf_release(&x);
}

/* The hostile values of research/reliability.md §6 test 26. */
static const char *const hostile[] = {
	"'; touch PWNED; '",
	"$(touch PWNED)",
	"`touch PWNED`",
	"a\ntouch PWNED",
	"*",
	"-rf",
	"",
	"'",
	"''",
	"\\",
	"\"$HOME\"",
	"a b\tc",
	"; touch PWNED",
	"| touch PWNED",
	"&& touch PWNED",
	"$((1+1))",
	"${IFS}",
	"~",
	"#",
	"!!",
	">PWNED",
	"\xc3\xa9t\xc3\xa9",
};

TEST(template_argv_hostile_values_stay_one_word)
{
	static const char *const w[] = { "{}", "--x={}", "{.}" };
	struct pr_template *t = tmpl(false, w, 3);
	struct pr_buf j, x;
	size_t i;

	pr_buf_init(&j, 0);
	pr_buf_init(&x, 0);
	for (i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++) {
		const char *v[] = { hostile[i] };
		cJSON *doc, *a;
		char want[256];

		render(t, v, 1, 1, 1, &j, &x);
		doc = cJSON_Parse(j.data);
		ASSERT(doc != NULL);
		a = cJSON_GetObjectItem(doc, "argv");
		ASSERT_EQ(cJSON_GetArraySize(a), 3);
		ASSERT_STR_EQ(cJSON_GetArrayItem(a, 0)->valuestring,
		    hostile[i]);
		snprintf(want, sizeof(want), "--x=%s", hostile[i]);
		ASSERT_STR_EQ(cJSON_GetArrayItem(a, 1)->valuestring, want);
		cJSON_Delete(doc);
	}
	pr_template_free(t);
	pr_buf_release(&j);
	pr_buf_release(&x);
}

/* Run sh -c CMD in dir, capture stdout. */
static char *
run_sh(const char *dir, const char *cmd)
{
	int fd[2], st;
	pid_t pid;
	struct pr_buf out;
	char buf[4096];
	ssize_t n;

	ASSERT_OK(pipe(fd));
	pid = fork();
	ASSERT(pid >= 0);
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		dup2(fd[1], 1);
		dup2(null, 2);
		close(fd[0]);
		close(fd[1]);
		if (chdir(dir) != 0)
			_exit(126);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	close(fd[1]);
	pr_buf_init(&out, 0);
	pr_buf_adds(&out, "");
	while ((n = read(fd[0], buf, sizeof(buf))) > 0)
		pr_buf_add(&out, buf, (size_t)n);
	close(fd[0]);
	ASSERT(waitpid(pid, &st, 0) == pid);
	ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	return pr_buf_detach(&out, NULL);
}

TEST(template_shell_hostile_values_never_run)
{
	/* the first word is a value too: it is quoted as well */
	static const char *const w[] = { "{}", "x", "|", "printf",
	    "'[%s]'", "{}", "--x={}" };
	static const char *const w2[] = { "printf", "'[%s]\\n'" };
	char dir[] = "/tmp/pr-tmpl-XXXXXX", path[256];
	struct pr_template *t = tmpl(true, w, 7), *t2 = tmpl(true, w2, 2);
	struct pr_buf j, x;
	struct stat st;
	size_t i;

	ASSERT(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/PWNED", dir);
	pr_buf_init(&j, 0);
	pr_buf_init(&x, 0);
	for (i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++) {
		const char *v[] = { hostile[i] };
		char want[512], *got;
		cJSON *doc;

		render(t, v, 1, 1, 1, &j, &x);
		/* the wire form carries exactly the text */
		doc = cJSON_Parse(j.data);
		ASSERT(doc != NULL);
		ASSERT_STR_EQ(cJSON_GetObjectItem(doc, "sh")->valuestring,
		    x.data);
		cJSON_Delete(doc);
		/* "{}" as a command fails harmlessly; its output is lost in
		 * the pipe, printf shows what the shell passed */
		pr_buf_adds(&x, "; true");
		got = run_sh(dir, x.data);
		snprintf(want, sizeof(want), "[%s][--x=%s]", hostile[i],
		    hostile[i]);
		ASSERT_STR_EQ(got, want);
		free(got);
		ASSERT(stat(path, &st) != 0 && errno == ENOENT);

		/* appended values (no replacement string) are quoted too */
		render(t2, v, 1, 1, 1, &j, &x);
		got = run_sh(dir, x.data);
		snprintf(want, sizeof(want), "[%s]\n", hostile[i]);
		ASSERT_STR_EQ(got, want);
		free(got);
		ASSERT(stat(path, &st) != 0 && errno == ENOENT);
	}
	rmdir(dir);
	pr_template_free(t);
	pr_template_free(t2);
	pr_buf_release(&j);
	pr_buf_release(&x);
}

TEST(template_shell_quoting_exact)
{
	static const char *const w[] = { "{}", "{#}", "{%}", "{1.}" };
	struct pr_template *t = tmpl(true, w, 4);
	const char *v[] = { "it's.txt" };
	struct pr_buf j, x;

	ASSERT(pr_template_is_shell(t));
	ASSERT(pr_template_uses_slot(t));
	pr_buf_init(&j, 0);
	pr_buf_init(&x, 0);
	render(t, v, 1, 12, 3, &j, &x);
	ASSERT_STR_EQ(x.data, "'it'\\''s.txt' '12' '3' 'it'\\''s'");
	ASSERT_STR_EQ(j.data, "{\"sh\":\"'it'\\\\''s.txt' '12' '3' "
	    "'it'\\\\''s'\"}");
	pr_template_free(t);
	pr_buf_release(&j);
	pr_buf_release(&x);

	pr_buf_init(&x, 0);
	ASSERT_OK(pr_shell_quote(&x, "", 0));
	ASSERT_STR_EQ(x.data, "''");
	pr_buf_reset(&x);
	ASSERT_OK(pr_shell_quote(&x, "'''", 3));
	ASSERT_STR_EQ(x.data, "''\\'''\\'''\\'''");
	pr_buf_release(&x);
}

TEST(template_slot_marks)
{
	static const char *const w[] = { "run", "--slot={%}", "{}" };
	static const char *const sw[] = { "run", "{%}" };
	struct pr_template *t = tmpl(false, w, 3);
	const char *v[] = { "a" };
	struct pr_buf j, x;

	pr_buf_init(&j, 0);
	pr_buf_init(&x, 0);
	render(t, v, 1, 1, -1, &j, &x);
	ASSERT_STR_EQ(j.data, "{\"argv\":[\"run\",\"--slot=\\u0000\","
	    "\"a\"]}");
	ASSERT_EQ(x.len, strlen("run --slot=") + 1 + 2);
	ASSERT_EQ(x.data[11], PR_TEMPLATE_SLOT_MARK);
	render(t, v, 1, 1, 4, &j, &x);
	ASSERT_STR_EQ(j.data, "{\"argv\":[\"run\",\"--slot=4\",\"a\"]}");
	pr_template_free(t);

	t = tmpl(true, sw, 2);
	render(t, v, 1, 1, -1, &j, &x);
	/* {%} is a replacement string: the value is not appended */
	ASSERT_STR_EQ(j.data, "{\"sh\":\"run '\\u0000'\"}");
	pr_template_free(t);
	pr_buf_release(&j);
	pr_buf_release(&x);
}

TEST(template_rejects_non_text_words)
{
	static const char *const w[] = { "ok", "bad\xff" };
	struct pr_template *t;
	struct pr_errbuf eb = { 0, "" };

	ASSERT_EQ(pr_template_new(&t, w, 2, false, &eb), PR_ECONFIG);
	ASSERT_STR_EQ(eb.msg, "command word 2 is not valid UTF-8");
	ASSERT(t == NULL);
}

TEST(template_scratch_reuse)
{
	static const char *const w[] = { "a", "{}x" };
	struct pr_template *t = tmpl(false, w, 2);
	struct pr_buf j, x, s;
	const char *v[] = { "1" };
	size_t len[1] = { 1 };
	struct pr_tvals tv = { v, len, 1, 1, 1 };
	int i;

	pr_buf_init(&j, 0);
	pr_buf_init(&x, 0);
	pr_buf_init(&s, 0);
	for (i = 0; i < 3; i++) {
		pr_buf_reset(&j);
		ASSERT_OK(pr_template_render(t, &tv, &j, NULL, &s, NULL));
		ASSERT_STR_EQ(j.data, "\"argv\":[\"a\",\"1x\"]");
	}
	ASSERT_OK(pr_template_render(t, &tv, NULL, &x, &s, NULL));
	ASSERT_STR_EQ(x.data, "a 1x");
	pr_template_free(t);
	pr_buf_release(&j);
	pr_buf_release(&x);
	pr_buf_release(&s);
}
