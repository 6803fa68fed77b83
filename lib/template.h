/*
 * template.h - command templates with GNU parallel replacement strings.
 *
 * A template is the words after parrun's options (`./sim --rep {}`).  A
 * task's input values are substituted into it:
 *
 *	{}	the value (all values, space-separated, with several sources)
 *	{.}	without extension	a/b.tar.gz -> a/b.tar
 *	{/}	basename		a/b.c -> b.c
 *	{//}	dirname			a/b.c -> a, b.c -> .
 *	{/.}	basename without extension
 *	{#}	the task's sequence number (1-based input order)
 *	{%}	the job slot (known only at dispatch)
 *	{n} {n.} {n/} {n//} {n/.}	the same for the n-th value (1-based)
 *
 * Any other text in braces ("{print $1}") is literal.  A template without
 * any replacement string gets the values appended as last arguments, as
 * GNU parallel does.
 *
 * Argv mode (the default): each template word is one argv element and the
 * values are substituted inside words (`--out={}.txt` works).  A value can
 * never split into several words.  A word that is exactly `{}` (or `{.}`,
 * `{/}`, ...) with several values gives one argv element per value.
 *
 * Shell mode: the words are joined with spaces into one `sh -c` string and
 * every substituted value is single-quoted (' becomes '\''), the first
 * word included, so a value can never become code.  The template words
 * themselves are the user's shell code and are copied as they are.
 *
 * Ownership: pr_template_new() copies what it needs from words; the
 * template is freed with pr_template_free().  A template is read-only
 * after creation, so one template may render on several threads at once.
 */
#ifndef PR_TEMPLATE_H
#define PR_TEMPLATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"

struct pr_template;

/*
 * Parse words[0..n) (n >= 1).  Errors: PR_ECONFIG with eb filled when a
 * word is not valid UTF-8 (commands travel as JSON text), -ENOMEM.
 */
int pr_template_new(struct pr_template **out, const char *const *words,
    size_t n, bool shell, struct pr_errbuf *eb);
void pr_template_free(struct pr_template *t);

bool pr_template_is_shell(const struct pr_template *t);
/* True when the template uses {%}: the command depends on the job slot. */
bool pr_template_uses_slot(const struct pr_template *t);
/* The largest n of any {n...} replacement string; 0 when there is none. */
unsigned pr_template_max_index(const struct pr_template *t);

/* The values of one task. */
struct pr_tvals {
	const char *const *v;	/* v[i][0..len[i]) is value i+1 */
	const size_t *len;
	size_t n;
	uint64_t seq;		/* for {#} */
	long slot;		/* for {%}; < 0: write PR_TEMPLATE_SLOT_MARK */
};

/*
 * The byte written where the slot goes when it is not known yet (slot < 0).
 * Values cannot contain it (they are text without NUL), so a caller can
 * find the holes in the output: in `text` as this byte, in `json` as the
 * escape \u0000.
 */
#define PR_TEMPLATE_SLOT_MARK '\0'

/*
 * Render one task.  Appends to json the wire member `"argv":[...]` (argv
 * mode) or `"sh":"..."` (shell mode), and to text the human-readable
 * command (argv joined with spaces, or the sh string).  Either buffer may
 * be NULL.  scratch is working space the caller may reuse between calls
 * to save allocations (its contents are overwritten), or NULL.  Values
 * must be text (no NUL, valid UTF-8): the caller checks.
 * Errors: PR_EBADINPUT with eb "'{3}' needs 3 input values, got 2" when a
 * {n} has no value; codes from buf.h.
 */
int pr_template_render(const struct pr_template *t, const struct pr_tvals *v,
    struct pr_buf *json, struct pr_buf *text, struct pr_buf *scratch,
    struct pr_errbuf *eb);

/*
 * Append s[0..n) single-quoted for /bin/sh: 'it'\''s'.  Safe for any bytes
 * except NUL (which no shell string can hold).
 */
int pr_shell_quote(struct pr_buf *b, const char *s, size_t n);

/*
 * The transforms behind {.} {/} {//} {/.}, for tests and for callers that
 * want them: set *out and *outlen to the transformed s[0..n).  The result
 * points into s, or at a static string ("." or "/").
 */
enum pr_tx {
	PR_TX_NONE,
	PR_TX_NOEXT,		/* {.}  */
	PR_TX_BASE,		/* {/}  */
	PR_TX_DIR,		/* {//} */
	PR_TX_BASENOEXT,	/* {/.} */
};

void pr_template_transform(enum pr_tx tx, const char *s, size_t n,
    const char **out, size_t *outlen);

#endif
