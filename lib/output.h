/*
 * output.h - what parrun writes: task output, the results file, the
 * joblog.
 *
 * The coordinator owns one struct pr_output and calls it from its single
 * loop thread:
 *
 *	struct pr_output_opts oo;
 *	pr_output_opts_init(&oo);	defaults: fds 1 and 2, grouped
 *	oo.keep_order = true; oo.results = "r.jsonl"; ...
 *	pr_output_open(&o, &oo, eb);
 *	  per chunk of a running task:	pr_output_chunk() (optional)
 *	  per final record:		pr_output_record()
 *	  once per loop iteration:	pr_output_flush()
 *	pr_output_close(o, eb);
 *
 * Every seq the coordinator assigns (PR_OUTPUT_FIRST_SEQ, +1, +2, ...)
 * must get exactly one record, rejected input lines and cancelled tasks
 * included: with keep_order a missing seq holds back everything after it
 * (pr_output_close() writes what is held, in seq order, over the gaps).
 *
 * Task output.  Grouped (the default): a task's stdout is written whole
 * to out_fd and its stderr whole to err_fd when its record arrives, never
 * interleaved with another task's.  Chunks passed to pr_output_chunk()
 * before the record are held with the task (in memory, spilled to disk
 * past the cap) unless line_buffer is set, when they are written at once.
 * With tag every line is prefixed with the record's tag and a TAB, a last
 * line without newline included; no newline is added (as GNU parallel).
 * With results "-" stdout carries only the JSON lines: task stdout then
 * goes only into the records (task stderr still goes to err_fd).  quiet
 * writes no task output at all.  parse_value: a record without a value
 * gets pr_value_parse() of its out (with line_buffer, of the part the
 * record carries); the coordinator, which needs the value for --reduce
 * too, can call pr_value_parse() itself and set has_value instead.
 *
 * keep_order: records, their output, results and joblog lines are written
 * in seq order.  A record that arrives early is held; held output past
 * hold_max bytes goes to an unlinked temp file in spill_dir and is read
 * back when its turn comes.  A spill that fails (ENOSPC, EIO, no spill
 * directory) is never silent: the task's record becomes status "error"
 * with error "output incomplete: <reason>", a line saying so goes to
 * err_fd, and pr_output_stats.downgraded counts records that were ok
 * before (add it to the failed count for the exit status).  With
 * keep_order and line_buffer, the chunks of the task at the head of the
 * order (seq == pr_output_next_seq()) are written at once, the others
 * held (GNU parallel -k --line-buffer).  The coordinator bounds how far
 * ahead of pr_output_next_seq() it dispatches; pr_output_held() and
 * pr_output_held_bytes() tell it how much is waiting.
 *
 * Results (--results): one JSON line per record, in the order records are
 * written, members always in this order:
 *	"id","seq","status","exit","signal","attempts","host","worker",
 *	"start","elapsed",["value",]["error",]"seed",
 *	"stdout"|"stdout_b64","stderr"|"stderr_b64"[,"metrics":{...}]
 * exit, signal, host and worker are null when there is none (exit -1,
 * signal 0, host NULL, worker 0); value only when there is one, error only
 * when set.  start and elapsed are seconds to the microsecond; value is
 * written so that it reads back as the same double.  Output that is not
 * valid UTF-8 or holds NUL bytes goes base64 in the *_b64 member; other
 * strings (id, host, error) have bad bytes replaced by U+FFFD, so every
 * line is valid JSON (the line is built in memory, output included).
 * stdout/stderr hold the task's whole output, chunks written earlier by
 * line_buffer included.
 * Files are created 0600 with O_NOFOLLOW and truncated (appended to with
 * append, for --resume).
 *
 * Joblog (--joblog): GNU parallel's TSV columns
 *	Seq Host Starttime JobRuntime Send Receive Exitval Signal Command
 * Host ":" for local (host NULL, "", ":", "localhost" or this machine's
 * name, as GNU parallel writes it); Starttime "%.3f"; JobRuntime
 * "%10.3f"; Send is bytes_sent; Receive the bytes of stdout and stderr;
 * Exitval is the exit code, 0 for a task killed by a signal, -1 for a
 * timeout and for tasks that did not run (as GNU parallel); newlines in
 * the command become NUL bytes, as GNU parallel writes them.
 *
 * Writes are buffered per fd (flushed at 64 KiB and by pr_output_flush())
 * and written fully: partial writes and EINTR are retried, EAGAIN waits in
 * poll(POLLOUT).  With nonblock, writes to out_fd and err_fd never wait
 * (unless they are regular files): what a pipe, terminal or socket does
 * not take now stays in memory, pr_output_backlog() bytes of it, and
 * pr_output_flush() writes more when pr_output_wait_fd() is writable; the
 * caller stops reading what produces output while the backlog is large.
 * pr_output_close() waits until everything is written.  The caller must ignore SIGPIPE.  A write error on an fd
 * (EPIPE on stdout when the reader went away) is returned once, with eb
 * naming the fd; that fd is then dropped while the others go on, so the
 * results file and joblog are still complete.  If a progress display is
 * set, it is cleared before anything is written to out_fd or err_fd.
 *
 * Ownership: every pointer in a record or chunk is borrowed for the call
 * only; what must be held is copied.  The opts strings are copied by
 * pr_output_open().
 */
#ifndef PR_OUTPUT_H
#define PR_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "err.h"
#include "proto.h"

#define PR_OUTPUT_FIRST_SEQ	1		/* 1-based, as {#} */
#define PR_OUTPUT_HOLD_MAX	(64u << 20)	/* default hold_max */

struct pr_progress;

/* Write hook for tests (a full disk): behaves as write(2). */
typedef ssize_t (*pr_output_write_fn)(void *arg, int fd, const void *p,
    size_t n);

struct pr_output_opts {
	int out_fd;			/* task stdout goes here; 1 */
	int err_fd;			/* task stderr goes here; 2 */
	bool keep_order;		/* -k: write in seq order */
	bool tag;			/* --tag: prefix lines with the tag */
	bool line_buffer;		/* --line-buffer: chunks at once */
	bool quiet;			/* write no task output */
	bool parse_value;		/* --value: see pr_value_parse() */
	bool append;			/* append to results/joblog */
	bool hold_until_flush;		/* write only in pr_output_flush(), so
					 * the caller can make its journal
					 * durable first (--journal) */
	bool nonblock;			/* never wait for out_fd/err_fd: see
					 * above; pipes, FIFOs and terminals
					 * are reopened (/proc/self/fd/N) for
					 * a description of our own, sockets
					 * get O_NONBLOCK until close */
	const char *results;		/* path, "-" for out_fd, or NULL */
	const char *joblog;		/* path, "-" for out_fd, or NULL */
	const char *spill_dir;		/* NULL: $TMPDIR, else /tmp */
	size_t hold_max;		/* bytes held in memory; 0: default */
	uint64_t first_seq;		/* PR_OUTPUT_FIRST_SEQ */
	struct pr_progress *progress;	/* cleared before writing; NULL */
	pr_output_write_fn write_fn;	/* NULL: write(2) */
	void *write_arg;
};

/* One task's final record.  All pointers borrowed for the call. */
struct pr_record {
	uint64_t seq;
	const char *id;
	enum pr_status status;
	int exit;			/* -1: none */
	int signal;			/* 0: none */
	int attempts;
	const char *host;		/* NULL: local */
	int worker;			/* 1-based; 0: none */
	double start;			/* unix time, seconds */
	double elapsed;			/* seconds */
	bool has_value;
	double value;
	const char *error;		/* or NULL */
	const char *out;		/* stdout not passed as chunks */
	size_t outlen;
	const char *err;		/* stderr not passed as chunks */
	size_t errlen;
	const char *tag;		/* --tag text; NULL: id */
	const char *cmd;		/* joblog Command; or NULL */
	const char *extra;		/* kernel metrics: a JSON object, or
					 * its members without braces; NULL */
	uint64_t seed;
	uint64_t bytes_sent;		/* task body size, joblog Send */
	bool silent;			/* writes nothing: only accounts for
					 * the seq (--resume skipped it) */
};

struct pr_output_stats {
	uint64_t emitted;		/* records written */
	uint64_t failed;		/* of those, final status not ok: the
					 * count for the exit status */
	uint64_t downgraded;		/* ok records turned into errors
					 * because their output was lost */
	uint64_t spilled;		/* bytes written to the spill file */
};

struct pr_output;

void pr_output_opts_init(struct pr_output_opts *oo);

/* Opens the results and joblog files (the joblog header is written at
 * once).  *o is the caller's, freed by pr_output_close(). */
int pr_output_open(struct pr_output **o, const struct pr_output_opts *oo,
    struct pr_errbuf *eb);

/*
 * Output of a running task, as it arrives: stream 1 stdout, 2 stderr.
 * With line_buffer whole lines are written at once; an unterminated tail
 * waits for its newline (or for the record, or until it passes 64 KiB), so
 * lines of different tasks never mix.  tag may be NULL (then no prefix,
 * even with opts.tag).  A chunk for a seq whose record was already
 * written is an error (-EINVAL).
 */
int pr_output_chunk(struct pr_output *o, uint64_t seq, const char *tag,
    int stream, const char *data, size_t len, struct pr_errbuf *eb);

/* Drops the held (not yet written) chunks of seq, before a retry. */
void pr_output_discard(struct pr_output *o, uint64_t seq);

/*
 * A task's final record: written now, or held until its turn with
 * keep_order.  Errors: -EINVAL for a second record of a seq; a write
 * error of some fd (reported once per fd, see above); -ENOMEM.  The record
 * is accepted in every case but the first.
 */
int pr_output_record(struct pr_output *o, const struct pr_record *r,
    struct pr_errbuf *eb);

/* Writes the buffered bytes of every fd.  Call once per loop turn. */
int pr_output_flush(struct pr_output *o, struct pr_errbuf *eb);

/*
 * nonblock: bytes for out_fd and err_fd not written yet; the fd to poll
 * for writability for stream 1 (out) or 2 (err) while it has such bytes,
 * else -1; and that fd whether or not it has any (-1 when the stream is
 * not non-blocking), for setting up a poll handle once.
 */
size_t pr_output_backlog(const struct pr_output *o);
int pr_output_wait_fd(const struct pr_output *o, int stream);
int pr_output_nb_fd(const struct pr_output *o, int stream);

/* The lowest seq whose record has not been written yet. */
uint64_t pr_output_next_seq(const struct pr_output *o);
/* Records held back (keep_order), and the bytes held in memory for them
 * and for chunks of running tasks (spilled bytes not counted). */
size_t pr_output_held(const struct pr_output *o);
size_t pr_output_held_bytes(const struct pr_output *o);

void pr_output_get_stats(const struct pr_output *o,
    struct pr_output_stats *st);

/* Writes everything held (seq order, over gaps), flushes, closes the
 * files, frees o.  Returns the first error; o is freed in every case.
 * NULL is a no-op. */
int pr_output_close(struct pr_output *o, struct pr_errbuf *eb);

/*
 * --value: the last token of the last non-empty line of s[0..n) that is a
 * decimal number (optional sign, digits, optional fraction and exponent;
 * no hex, inf or nan), as strtod reads it.  Tokens are separated by
 * blanks.  False when there is none.
 */
bool pr_value_parse(const char *s, size_t n, double *v);

/* "ok", "failed", ... (the results file's names; same as proto.c's). */
const char *pr_output_status_name(enum pr_status s);

#endif
