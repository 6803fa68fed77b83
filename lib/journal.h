/*
 * journal.h - the journal: an append-only record of a run, and resume.
 *
 * `--journal FILE` writes one JSON object per line (mode 0600, O_APPEND,
 * never through a symbolic link):
 *
 *	{"journal":"parrun","v":1,"seed":42,"started":1700000000.25}
 *	{"type":"submit","seq":3,"id":"t7","fp":"<64 hex>","id_given":true}
 *	{"type":"dispatch","seq":3,"attempt":1,"worker":2,"host":"node07"}
 *	{"type":"result","seq":3,"id":"t7","fp":"<64 hex>","status":"ok",
 *	 "attempt":1,"exit":0}
 *	{"type":"emitted","seq":3,"fp":"<64 hex>"}
 *
 * A header starts every run that writes to the file (a resumed run adds
 * its own).  "fp" is the task's fingerprint (task.h, "Fingerprints"); "k"
 * (written when not 0) tells identical tasks apart (below); "id_given"
 * marks an id the input gave; "exit" is null when the task did not exit
 * (signal, error, kernel); a rejected task's result has no "fp".
 * "emitted" records are written only when the run asked for them
 * (opts.acks, header "acks":true).
 *
 * Durability.  Records are buffered in memory; pr_journal_sync() writes
 * them and, when a result is among them, fdatasync()s the file before it
 * returns.  The coordinator calls it once per loop turn, before it writes
 * the output of any result it journaled in that turn: a result that was
 * emitted is on disk.  Submit and dispatch records alone are written only
 * once 64 KiB have gathered (they are not needed to resume correctly) and
 * are made durable by the next result's fdatasync.
 *
 * The window, and acks.  A crash after the fdatasync and before the output
 * is written leaves a result that is journaled but was never seen.  By
 * default resume trusts the journal (the result is done).  With
 * opts.acks the coordinator calls pr_journal_emitted() once a result's
 * output is written, and resume runs again every result of such a run
 * that has no "emitted" record (PR_JOURNAL_UNEMITTED): output may then be
 * written twice, but is never lost.
 *
 * Resume.  Loading reads every record into an index:
 *	task key -> the last final status (and whether it was emitted)
 *	explicit id -> the fingerprint last journaled with it
 * A task key is the first 16 bytes of the fingerprint, or for the k-th
 * (k >= 1) of several identical tasks, of SHA-256(fp || k as 8 bytes big
 * endian).  pr_journal_decide() then tells for each task of the new run:
 *	RUN		no final record: never ran, or was in flight
 *	RERUN		ended lost or cancelled: run it again
 *	SKIP_DONE	ended ok: do not run it
 *	SKIP_FAILED	ended failed, timeout or error, and retry_failed is
 *			off (GNU parallel --resume): do not run it
 *	RETRY_FAILED	the same with retry_failed (--retry-failed):
 *			run it
 *	UNEMITTED	ended, in a run with acks, but its output was not
 *			confirmed: run it again
 *	CHANGED		the task's explicit id was journaled with
 *			another fingerprint: the input was edited.
 *			Refuse, unless --force-resume, which runs it
 *			(it is a new task)
 * So a reordered input resumes (matching is by fingerprint), an extended
 * one runs just the new tasks, and a result journaled several times (a
 * rerun) counts as its last record.
 *
 * Identical tasks (the same fingerprint, e.g. one line given twice) are
 * told apart by counting: pr_journal_decide() gives the k-th such task
 * of the run fp_dup = k, and records carry it as "k".  Counting needs
 * memory only for fingerprints found in the loaded journal; a task whose
 * fingerprint is not there gets k = 0, so two new identical tasks both
 * write k = 0: the next resume counts one of them done and runs the
 * other again (at least once, never skipped unrun).
 *
 * A torn last record (no final LF, a last line that does not parse, and
 * NUL bytes after it as zeroed blocks leave) is tolerated: the load
 * reports its byte offset in the info (the caller warns) and, when the
 * journal is opened to be continued, cuts it off.  A bad record with a
 * good one after it is damage in the middle: PR_EJOURNAL, with the byte
 * offset and the line.  Byte offsets count from 0 (`truncate -s OFFSET`
 * keeps what precedes).  A file whose first record is not a journal
 * header is refused, and so is a version other than 1.
 *
 * Memory.  The index is an open-addressing table of 20-byte slots (16
 * bytes of key, 4 of state), at most 3/4 full, grown by half: 27 to 40
 * bytes per journaled task; explicit ids take 32 more bytes each in a
 * second table.  Keys are 128 bits of SHA-256, so among n tasks the
 * chance that two share a key is below n^2 / 2^129 (1.5e-27 for a
 * million, 1.5e-21 for a billion); a collision could skip a task that
 * did not run, and nothing else.  Reading streams through a 64 KiB
 * buffer (a record may be at most 64 KiB).
 *
 * Threads: one thread at a time (the coordinator's loop).  Calls are cheap:
 * decide is a hash lookup (plus one SHA-256 for an explicit id or a
 * repeated task), records are appended to a buffer.
 *
 * Errors: 0 or a negative code with eb filled when given: -errno for the
 * file ("cannot write journal 'j': No space left on device"), PR_EJOURNAL
 * for a damaged or foreign journal, -ENOMEM.  After a failed write or sync
 * every later record and sync returns the same error: the coordinator
 * stops loudly.
 */
#ifndef PR_JOURNAL_H
#define PR_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "buf.h"
#include "err.h"
#include "proto.h"
#include "task.h"

#define PR_JOURNAL_VERSION	1
#define PR_JOURNAL_MAX_LINE	(64 * 1024)
#define PR_JOURNAL_FP_HEX	64

/* Hooks for tests (a full disk, a failing sync): behave as write(2) and
 * fdatasync(2). */
typedef ssize_t (*pr_journal_write_fn)(void *arg, int fd, const void *p,
    size_t n);
typedef int (*pr_journal_sync_fn)(void *arg, int fd);

struct pr_journal_opts {
	const char *path;		/* copied */
	bool resume;			/* load the records and continue the
					   file; else it must be new or empty */
	bool retry_failed;		/* --retry-failed */
	bool acks;			/* the coordinator confirms output
					   with pr_journal_emitted() */
	uint64_t seed;			/* the run's seed (header) */
	double started;			/* unix time; 0: now */
	pr_journal_write_fn write_fn;	/* NULL: write(2) */
	pr_journal_sync_fn sync_fn;	/* NULL: fdatasync(2) */
	void *hook_arg;
};

/* All zero. */
void pr_journal_opts_init(struct pr_journal_opts *o);

/* The statuses counted per task (enum pr_status values index it). */
#define PR_JOURNAL_NSTATUS	(PR_ST_REJECTED + 1)

/* What a load found.  Counts are of records, or of tasks (a task is a
 * fingerprint and its k). */
struct pr_journal_info {
	uint64_t size;			/* bytes of good records */
	uint64_t records;		/* good records, headers included */
	uint64_t runs;			/* header records */
	uint64_t seed;			/* from the last header */
	double started;			/* from the last header, or 0 */
	uint64_t submits, dispatches, results, emitted, others;
	uint64_t tasks;			/* tasks with any record */
	/* tasks by their last status */
	uint64_t by_status[PR_JOURNAL_NSTATUS];
	uint64_t unfinished;		/* tasks without a final record */
	uint64_t unemitted;		/* final but output not confirmed */
	uint64_t rejected;		/* rejected results */
	uint64_t ids;			/* explicit ids */
	/* a torn last record, tolerated */
	bool torn;
	uint64_t torn_offset;		/* where it starts (0-based) */
	uint64_t torn_bytes;		/* from there to the end */
	unsigned long torn_line;	/* 1-based */
	char torn_reason[128];
	bool cut;			/* opened to continue: cut off */
};

struct pr_journal;

/*
 * Open opts->path to write a run into it: create it (0600) or open it
 * without following a symbolic link, lock it (a second parrun on the same
 * journal gets PR_EJOURNAL), load it when opts->resume (info gets what was
 * found; a torn tail is cut off), and write the header durably.  Without
 * resume a file that already has bytes is refused (PR_EJOURNAL).
 * info may be NULL.  Free with pr_journal_close().
 */
int pr_journal_open(struct pr_journal **out, const struct pr_journal_opts *o,
    struct pr_journal_info *info, struct pr_errbuf *eb);

/*
 * Read a journal without writing to it (`parrun journal FILE`, tests):
 * *out can decide (retry_failed as given) but not record.  Free it with
 * pr_journal_close().  _fd reads fd to its end (a pipe will do; name is
 * for messages; fd is not closed); _mem reads data[0..len).
 */
int pr_journal_load(struct pr_journal **out, const char *path,
    bool retry_failed, struct pr_journal_info *info, struct pr_errbuf *eb);
int pr_journal_load_fd(struct pr_journal **out, int fd, const char *name,
    bool retry_failed, struct pr_journal_info *info, struct pr_errbuf *eb);
int pr_journal_load_mem(struct pr_journal **out, const char *data,
    size_t len, const char *name, bool retry_failed,
    struct pr_journal_info *info, struct pr_errbuf *eb);

enum pr_journal_decision {
	PR_JOURNAL_RUN,
	PR_JOURNAL_RERUN,
	PR_JOURNAL_SKIP_DONE,
	PR_JOURNAL_SKIP_FAILED,
	PR_JOURNAL_RETRY_FAILED,
	PR_JOURNAL_UNEMITTED,
	PR_JOURNAL_CHANGED,
};

const char *pr_journal_decision_name(enum pr_journal_decision d);

/* True when the decision is to run the task (CHANGED is not: the caller
 * decides, by --force-resume). */
bool pr_journal_runs(enum pr_journal_decision d);

/*
 * What to do with task t of the new run; call it once per task, in input
 * order, for every task when the journal was loaded (it also numbers
 * identical tasks: sets t->fp_dup).  prev (may be NULL) gets the last
 * final status when there was one (SKIP_*, RETRY_FAILED, RERUN,
 * UNEMITTED).  A task without a fingerprint (rejected, or fingerprints
 * off) is always RUN.  Returns a decision (>= 0), or PR_ELIMIT past
 * 2^26 - 1 identical tasks, -ENOMEM.
 */
int pr_journal_decide(struct pr_journal *j, struct pr_task *t,
    enum pr_status *prev);

/*
 * Records, appended to the buffer (nothing is written until
 * pr_journal_sync()).  The task is borrowed for the call.  A task without
 * a fingerprint writes none.  Errors: -ENOMEM, -EBADF on a journal only
 * loaded, or the error of an earlier failed write.
 */
int pr_journal_submit(struct pr_journal *j, const struct pr_task *t);
/* worker: 1-based index; host: its host name, or NULL. */
int pr_journal_dispatch(struct pr_journal *j, uint64_t seq, int attempt,
    int worker, const char *host);
/* exit < 0: none (written as null). */
int pr_journal_result(struct pr_journal *j, const struct pr_task *t,
    enum pr_status status, int attempt, int exit);
/* The result's output was written (opts.acks; without it, nothing is
 * recorded). */
int pr_journal_emitted(struct pr_journal *j, const struct pr_task *t);

/*
 * Write what is buffered; when a result is among it, fdatasync before
 * returning (at most one fdatasync per call).  When there is no result,
 * small buffers wait.  Returns 0 (every result recorded so far is on
 * disk) or -errno with eb; on a failed write the partial record is cut
 * off when possible.
 */
int pr_journal_sync(struct pr_journal *j, struct pr_errbuf *eb);

/* True when records wait in the buffer. */
bool pr_journal_pending(const struct pr_journal *j);

/*
 * Sync everything (a final fdatasync), unlock and close, and free j
 * (NULL is fine).  Returns the sync's error, if any; j is freed anyway.
 */
int pr_journal_close(struct pr_journal *j, struct pr_errbuf *eb);

/* Counters for tests and --verbose. */
struct pr_journal_stats {
	uint64_t writes;		/* write(2) calls */
	uint64_t syncs;			/* fdatasync(2) calls */
	uint64_t bytes;			/* bytes written */
};

void pr_journal_get_stats(const struct pr_journal *j,
    struct pr_journal_stats *st);

/* Bytes of memory held (index and buffers), for the memory tests. */
size_t pr_journal_mem(const struct pr_journal *j);

/*
 * A summary of a loaded journal for people (`parrun journal FILE`):
 *	journal 'j': 2 runs, seed 42, 1000 tasks
 *	  ok 990, failed 5, timeout 2, error 0, cancelled 0, lost 1
 *	  unfinished 2, rejected 0
 *	  torn last record at byte 123456 (line 3001), 57 bytes: ...
 * or as one JSON object (json true).  Appends to out.
 */
int pr_journal_format_info(struct pr_buf *out, const char *name,
    const struct pr_journal_info *info, bool json);

/* The 64 lowercase hex digits of a fingerprint into hex[65]. */
void pr_journal_fp_hex(const uint8_t fp[32], char hex[65]);

#endif
