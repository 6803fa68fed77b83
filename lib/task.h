/*
 * task.h - one task ready to dispatch, and the parser that makes tasks
 * from input lines.
 *
 * A line is one task (DESIGN.md §3):
 *
 *	{"id":"t7","argv":["./fit","--k","3"]}	argv, no shell
 *	{"sh":"zcat f.gz | wc -l"}		a shell command
 *	{"kernel":"chol","n":5000}		a built-in kernel; the object
 *						is its parameters (or the
 *						member "params" when given)
 *	{"args":["x","y"]}			fills the template's {1} {2}
 *	./sim --rep 7				a plain line
 *
 * Optional members: "id" (string, or integer in [0, 2^53-1]), "timeout"
 * (seconds >= 0), "retries" (integer >= 0), "env" (object of strings),
 * "cwd", "host" (string), "worker" (integer >= 1), "seed" (integer in
 * [0, 2^53-1]).  Exactly one of argv/sh/kernel/args, unless the parser has
 * a default kernel (--kernel), which then takes the whole object as its
 * parameters.  Unknown members are ignored; wrong types are errors.
 *
 * A line whose first non-blank byte is '{' is JSON; any other line is
 * plain: substituted into the command template when there is one, the
 * number n of a kernel task under --kernel, else a shell command.  Blank
 * lines are not tasks.
 *
 * The JSON reader is strict RFC 8259 (our own, not cJSON: one pass, no
 * tree, no allocation per node, and exact columns).  Besides syntax it
 * rejects duplicate keys at any depth, nesting deeper than 64, numbers
 * that overflow a double (1e400), \u0000 and unpaired surrogates, raw
 * control characters in strings, NUL bytes and invalid UTF-8 anywhere in
 * the line, a byte order mark at the start of a line, and text after the
 * object.  Whatever it accepts, cJSON reads the same way.
 *
 * Errors are PR_EBADINPUT with eb->msg "SRC:LINE:COL: what is wrong";
 * COL is the 1-based byte column of the offending token or value.
 *
 * Fingerprints (pr_task_parser_set_fingerprint(); the journal matches
 * tasks by them, so that a resumed run finds its tasks whatever their
 * order).  A fingerprint is the SHA-256 of the task's canonical text, a
 * JSON object with these members, keys sorted, no white space, strings
 * decoded and re-encoded with the fewest escapes (pr_json_add_str()),
 * numbers as written ("5" and "5.0" differ), arrays in order:
 *
 *	argv | sh		the command as run (after substitution)
 *	kernel, params		the kernel and its parameters (canonical;
 *				when the parameters are the whole line,
 *				parrun's own members are left out of them)
 *	env, cwd, seed		when the line gives them
 *	id			only when the line gives it ("id":7 and
 *				"id":"7" are the same id)
 *	template, values	instead of argv | sh when the command template
 *				uses {#} or {%}
 *
 * Not in it: the sequence number, a default id, timeout, retries,
 * placement (host, worker), and members parrun ignores (but in a kernel's
 * whole-line parameters they are parameters).  So a task means
 * the same thing wherever it stands in the input, `{"sh":"x"}` and the
 * plain line `x` are the same task, and so are `{"kernel":"k","n":5}`,
 * `{"kernel":"k","params":{"n":5}}` and the line `5` under --kernel k.
 *
 * Why {#} and {%} use the template and the values: the slot is known only
 * at dispatch and changes from attempt to attempt, and the sequence number
 * is the task's position, which is exactly what a reordered input changes
 * (rush#77).  A task is what the template does with its values; where it
 * stood is not part of it.  The cost: two lines with the same values under
 * a {#} template are the same task (and so are two identical lines
 * anywhere); the journal tells identical tasks apart by counting them
 * (journal.h, pr_task.fp_dup).
 *
 * Ownership: a struct pr_task is one heap block; every string field
 * points inside it.  Free it with pr_task_free() only; never free a field.
 * (A caller may point a field at memory of its own, and must then free
 * that memory itself.)
 */
#ifndef PR_TASK_H
#define PR_TASK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"
#include "proto.h"
#include "template.h"

#define PR_JSON_MAX_DEPTH	64
#define PR_ID_MAX		9007199254740991ULL	/* 2^53 - 1 */
#define PR_ID_MAXLEN		1024	/* bytes in a string id */

struct pr_task {
	uint64_t seq;		/* 1-based input order ({#}) */
	char *id;		/* "id" member, else seq in decimal */
	/*
	 * The wire members of the task message (proto.h), no braces:
	 *	"id":"7","argv":["./sim","--rep","7"],"timeout_ms":1000
	 * in this order: id; argv | sh | kernel,params; env; cwd;
	 * timeout_ms (only when the line gave "timeout"); seed (only when
	 * the line gave "seed").  NULL when the command depends on the job
	 * slot ({%}: use pr_task_body()) and for rejected tasks.
	 */
	char *body;
	size_t bodylen;
	enum pr_task_kind kind;
	char *cmd;		/* human-readable command (joblog, messages);
				   {%} shows as "{%}": see pr_task_cmd() */
	char *tag;		/* input value(s) for --tag, TAB-separated */
	char *kernel;		/* kernel name, or NULL */
	char *host;		/* placement: "host", or NULL */
	int worker;		/* placement: "worker" (1-based), 0: none */
	int retries;		/* -1: not given */
	double timeout;		/* seconds; 0: not given */
	bool has_seed;
	uint64_t seed;
	enum pr_status status;	/* PR_ST_OK, or PR_ST_REJECTED */
	char *error;		/* rejected: "stdin:3:14: ..."; else NULL */
	char *src;		/* source: "stdin", a file, "args", "range" */
	unsigned long line;	/* 1-based line (or value index) in src */

	bool id_given;		/* the line gave "id" (else id is the seq) */
	/* The SHA-256 of the canonical text (see Fingerprints above) when
	 * the parser makes fingerprints; rejected tasks have none. */
	bool has_fingerprint;
	uint8_t fingerprint[32];
	/* Which of several identical tasks this is (0: the first); set by
	 * pr_journal_decide(), 0 until then. */
	uint32_t fp_dup;

	/* private: the slot-dependent form (see pr_task_body()) */
	const char *tbody_;
	size_t tbodylen_;
	const size_t *bholes_;
	size_t nbholes_;
	const char *tcmd_;
	size_t tcmdlen_;
	const size_t *choles_;
	size_t ncholes_;
};

void pr_task_free(struct pr_task *t);

/* True when the command contains {%}: body differs per job slot. */
bool pr_task_slot_dependent(const struct pr_task *t);

/*
 * Append the body for the job slot `slot` to out (t->body when the task
 * does not depend on the slot).  -EINVAL for a rejected task (it has no
 * body); codes from buf.h.
 */
int pr_task_body(const struct pr_task *t, int slot, struct pr_buf *out);
/* Append the command as run in job slot `slot`. */
int pr_task_cmd(const struct pr_task *t, int slot, struct pr_buf *out);

/* Tasks allocated and not yet freed (all threads); for leak tests. */
long pr_task_live(void);

/* ---- the parser --------------------------------------------------------- */

struct pr_task_opts {
	const struct pr_template *tmpl;	/* borrowed; NULL: none */
	const char *kernel;		/* --kernel NAME (copied); NULL: none */
};

/* Working buffers reused from line to line; one per reading thread. */
struct pr_task_parser;

int pr_task_parser_new(struct pr_task_parser **out,
    const struct pr_task_opts *o, struct pr_errbuf *eb);
void pr_task_parser_free(struct pr_task_parser *p);

/*
 * Make every task from now on carry its fingerprint.  words[0..n) and
 * shell must be what the template (o->tmpl) was made from (words NULL and
 * n 0 without a template): the fingerprint of a task whose template uses
 * {#} or {%} covers the words and the values.  Errors: PR_ECONFIG when a
 * word is not text, -ENOMEM.
 */
int pr_task_parser_set_fingerprint(struct pr_task_parser *p,
    const char *const *words, size_t n, bool shell);

/*
 * The canonical text behind the last fingerprint made (see Fingerprints);
 * valid until the next line.  "" when there is none.  For tests and
 * debugging.
 */
const char *pr_task_parser_fp_text(const struct pr_task_parser *p,
    size_t *len);
/* Bytes of working memory held now (bounded by the longest line). */
size_t pr_task_parser_mem(const struct pr_task_parser *p);

/*
 * Make a task from one input line line[0..len), without its LF; a final
 * CR is dropped.  The line must be followed by a NUL (line[len] == '\0';
 * pr_framer guarantees it) and may be modified.  src and lineno name the
 * place for messages and are copied into the task.
 * Returns 1 with *out set, 0 for a blank line (no task, seq not used), or
 * a negative code: PR_EBADINPUT with eb "src:line:col: ...", -ENOMEM.
 */
int pr_task_parse_line(struct pr_task_parser *p, char *line, size_t len,
    uint64_t seq, const char *src, unsigned long lineno,
    struct pr_task **out, struct pr_errbuf *eb);

/*
 * Make a task from input values that are literal (::: arguments, or the
 * combination of several sources): substituted into the template; with
 * no template the single value is the kernel's n (--kernel) or the values
 * joined with spaces are a shell command (GNU parallel runs `::: "echo a"`
 * as a command).  Values must be text; they are checked here.
 * Returns 1 with *out, or PR_EBADINPUT ("src:line:col: ...") / -ENOMEM.
 */
int pr_task_from_values(struct pr_task_parser *p, const char *const *v,
    const size_t *len, size_t n, uint64_t seq, const char *src,
    unsigned long lineno, struct pr_task **out, struct pr_errbuf *eb);

/*
 * A rejected task for a bad line (--on-bad-input=skip): status
 * PR_ST_REJECTED, error = msg (copied), id = seq, cmd = a printable
 * excerpt of the line (line may be NULL).  Returns 1 or -ENOMEM.
 */
int pr_task_rejected(struct pr_task_parser *p, uint64_t seq,
    const char *src, unsigned long lineno, const char *msg,
    const char *line, size_t len, struct pr_task **out);

/*
 * A kernel task over an index range (--range with --kernel): params
 * {"from":a,"to":b,"step":s,"n":count}.  Returns 1 or -ENOMEM.
 */
int pr_task_range_chunk(struct pr_task_parser *p, uint64_t seq,
    int64_t from, int64_t to, int64_t step, uint64_t count,
    struct pr_task **out);

/*
 * Check that s[0..n) is text a task may carry: no NUL, valid UTF-8.  On
 * failure returns false and sets *col to the 1-based column of the first
 * bad byte and *what to "NUL byte" or "invalid UTF-8".
 */
bool pr_task_text_ok(const char *s, size_t n, size_t *col,
    const char **what);

/* Append a printable, quoted-safe excerpt of s[0..n) (at most max bytes
 * of input; non-ASCII and control bytes as \xNN; "..." when cut). */
int pr_task_snippet(struct pr_buf *b, const char *s, size_t n, size_t max);

#endif
