/*
 * fuzz_input.c - libFuzzer target for the task-line reader (lib/task.c,
 * lib/template.c) and the input streams around it (lib/input.c).
 *
 * The first byte picks the setting: no template, an argv template, a
 * shell template with {%}, or --kernel; and whether bad lines are skipped.
 * The rest is what a user might pipe in.  Checks:
 *
 * 1. Every line (split on LF here, each in an exact-size heap copy so
 *    ASan sees any over-read) goes through pr_task_parse_line().  A task's
 *    body, wrapped in braces, must be valid JSON that cJSON reads with the
 *    same id; a kernel's params must be an object; a JSON line the reader
 *    accepts must be one cJSON accepts too.  An error must be
 *    PR_EBADINPUT with "stdin:1:COL: " where 1 <= COL <= len + 1.
 * 2. The whole input through pr_input over a pipe (small line cap): seqs
 *    are 1, 2, 3, ... and, under skip, nothing but a read error stops it.
 * 3. No leaks: pr_task_live() is back to zero.
 *
 * Any broken property calls abort().  Run with tests/run-fuzz input.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "input.h"
#include "task.h"
#include "template.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fail(const char *what, const char *detail)
{
	fprintf(stderr, "fuzz_input: %s: %s\n", what, detail ? detail : "");
	abort();
}

static const char *const argv_tmpl[] = { "./sim", "--in={}", "{.}",
    "{2/}", "{#}" };
static const char *const shell_tmpl[] = { "grep", "-c", "{}", "|", "wc",
    "{%}" };

struct setting {
	const char *const *tmpl;
	size_t ntmpl;
	bool shell;
	const char *kernel;
};

static const struct setting settings[4] = {
	{ NULL, 0, false, NULL },
	{ argv_tmpl, 5, false, NULL },
	{ shell_tmpl, 6, true, NULL },
	{ NULL, 0, false, "chol" },
};

/* The body of t (for slot 3 when it depends on the slot), in braces. */
static cJSON *
body_json(const struct pr_task *t)
{
	struct pr_buf b;
	cJSON *j;

	pr_buf_init(&b, 0);
	if (pr_buf_addc(&b, '{') < 0 || pr_task_body(t, 3, &b) < 0 ||
	    pr_buf_addc(&b, '}') < 0)
		fail("body", "cannot write");
	j = cJSON_ParseWithLength(b.data, b.len);
	if (j == NULL)
		fail("body is not JSON", b.data);
	pr_buf_release(&b);
	return j;
}

static void
check_task(const struct pr_task *t, const char *line, size_t len)
{
	cJSON *j = body_json(t), *id, *params, *argv, *it;
	size_t i;

	id = cJSON_GetObjectItemCaseSensitive(j, "id");
	if (!cJSON_IsString(id) || strcmp(id->valuestring, t->id) != 0)
		fail("id differs", t->id);
	switch (t->kind) {
	case PR_KIND_ARGV:
		argv = cJSON_GetObjectItemCaseSensitive(j, "argv");
		if (!cJSON_IsArray(argv) || cJSON_GetArraySize(argv) < 1)
			fail("argv", t->cmd);
		cJSON_ArrayForEach(it, argv)
			if (!cJSON_IsString(it))
				fail("argv item", t->cmd);
		break;
	case PR_KIND_SH:
		if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(j, "sh")))
			fail("sh", t->cmd);
		break;
	case PR_KIND_KERNEL:
		params = cJSON_GetObjectItemCaseSensitive(j, "params");
		if (!cJSON_IsObject(params) || t->kernel == NULL)
			fail("params", t->cmd);
		break;
	}
	cJSON_Delete(j);
	/* a JSON line we accept, cJSON accepts */
	for (i = 0; i < len && (line[i] == ' ' || line[i] == '\t'); i++)
		;
	if (i < len && line[i] == '{') {
		size_t n = len;

		if (n > 0 && line[n - 1] == '\r')
			n--;
		j = cJSON_ParseWithLength(line, n);
		if (j == NULL)
			fail("cJSON refuses an accepted line", line);
		cJSON_Delete(j);
	}
}

static void
check_error(int rc, const struct pr_errbuf *eb, size_t len)
{
	char *end;
	long col;

	if (rc != PR_EBADINPUT)
		fail("unexpected code", eb->msg);
	if (strncmp(eb->msg, "stdin:1:", 8) != 0)
		fail("message prefix", eb->msg);
	col = strtol(eb->msg + 8, &end, 10);
	if (col < 1 || (size_t)col > len + 1 || strncmp(end, ": ", 2) != 0)
		fail("column", eb->msg);
}

static void
lines(struct pr_task_parser *p, const char *s, size_t n)
{
	size_t at = 0;

	while (at <= n) {
		const char *lf = memchr(s + at, '\n', n - at);
		size_t len = lf ? (size_t)(lf - (s + at)) : n - at;
		char *line = malloc(len + 1);
		struct pr_task *t = NULL;
		struct pr_errbuf eb = { 0, "" };
		int rc;

		if (line == NULL)
			fail("malloc", NULL);
		memcpy(line, s + at, len);
		line[len] = '\0';
		rc = pr_task_parse_line(p, line, len, 1, "stdin", 1, &t, &eb);
		if (rc == 1) {
			/* the parser may modify the line: check a copy */
			char *orig = malloc(len + 1);

			memcpy(orig, s + at, len);
			orig[len] = '\0';
			check_task(t, orig, len);
			free(orig);
			pr_task_free(t);
		} else if (rc != 0) {
			check_error(rc, &eb, len);
		}
		free(line);
		if (lf == NULL)
			break;
		at += len + 1;
	}
}

static void
stream(const struct setting *st, bool skip, const char *s, size_t n)
{
	struct pr_input_opts o;
	struct pr_input *in;
	struct pr_task *t;
	struct pr_errbuf eb = { 0, "" };
	uint64_t seq = 0;
	int fd[2], rc;

	if (n > 60000 || pipe(fd) != 0)
		return;
	if (n > 0 && write(fd[1], s, n) != (ssize_t)n)
		fail("write", NULL);
	close(fd[1]);
	pr_input_opts_init(&o);
	o.stdin_fd = fd[0];
	o.tmpl = st->tmpl;
	o.ntmpl = st->ntmpl;
	o.shell = st->shell;
	o.kernel = st->kernel;
	o.max_line = 200;
	o.skip_bad = skip;
	if (pr_input_new(&in, &o, &eb) != 0)
		fail("pr_input_new", eb.msg);
	for (;;) {
		rc = pr_input_next(in, &t, &eb);
		if (rc == 0)
			break;
		if (rc < 0) {
			if (rc != PR_EBADINPUT || skip)
				fail("stream error", eb.msg);
			continue;
		}
		if (t->seq != ++seq)
			fail("seq", t->id);
		if (t->status == PR_ST_REJECTED) {
			if (!skip || t->error == NULL || t->body != NULL)
				fail("rejected", t->id);
		} else {
			cJSON_Delete(body_json(t));
		}
		pr_task_free(t);
	}
	if (pr_input_count(in) != seq)
		fail("count", NULL);
	pr_input_free(in);
	close(fd[0]);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct setting *st;
	struct pr_task_parser *p;
	struct pr_template *tmpl = NULL;
	struct pr_task_opts to;
	struct pr_errbuf eb = { 0, "" };
	bool skip;

	if (size < 1)
		return 0;
	st = &settings[data[0] & 3];
	skip = (data[0] & 4) != 0;
	if (st->ntmpl > 0 && pr_template_new(&tmpl, st->tmpl, st->ntmpl,
	    st->shell, &eb) != 0)
		fail("template", eb.msg);
	to.tmpl = tmpl;
	to.kernel = st->kernel;
	if (pr_task_parser_new(&p, &to, &eb) != 0)
		fail("parser", eb.msg);
	lines(p, (const char *)data + 1, size - 1);
	pr_task_parser_free(p);
	pr_template_free(tmpl);
	stream(st, skip, (const char *)data + 1, size - 1);
	if (pr_task_live() != 0)
		fail("tasks leaked", NULL);
	return 0;
}
