/*
 * worker.h - the insides of parrun-worker, shared by its three files:
 *
 *	parrun-worker.c	main, options, the protocol stream, the task queue,
 *			slots, heartbeats, shutdown and exit
 *	exec.c		command tasks: fork and exec (with PR_SET_PDEATHSIG),
 *			output capture, kill escalation
 *	wkernel.c	kernel tasks: inline on the loop thread or batched on
 *			the libuv threadpool
 *
 * One libuv loop and one worker per process, so the state is one global
 * (struct w_worker W).  Memory: tasks live in a struct w_batch (one
 * allocation per task/tasks message, which also owns the parsed cJSON
 * tree the tasks borrow from); a batch is freed when its last task has
 * been reported.  A command task's run state (struct w_exec) is its own
 * allocation, freed with the task after all its handles have closed.
 */
#ifndef PR_WORKER_H
#define PR_WORKER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <uv.h>

#include "buf.h"
#include "err.h"
#include "kernel.h"
#include "proto.h"

/* Exit statuses (parrun-worker(1), EXIT STATUS). */
#define W_EXIT_OK		0
#define W_EXIT_LOST		1	/* coordinator gone, tasks killed */
#define W_EXIT_USAGE		2
#define W_EXIT_HANDSHAKE	3	/* rejected, or no valid welcome */
#define W_EXIT_PROTO		4	/* corrupt stream from the coordinator */
#define W_EXIT_INTERNAL		5	/* out of memory, libuv failure */

#define W_GRACE_MS		2000	/* TERM -> KILL, PARRUN_KILL_GRACE_MS */
#define W_HANDSHAKE_MS		10000	/* PARRUN_HANDSHAKE_MS */
#define W_KBATCH_MAX		256	/* kernel tasks per work item */
#define W_KBATCH_NS		10000000 /* a work item stops after 10 ms */

struct w_exec;
struct w_batch;

enum w_tstate {
	W_T_QUEUED,
	W_T_RUNNING,
	W_T_DONE,
};

struct w_task {
	struct w_batch *batch;		/* NULL for a ghost (see w_ghost) */
	struct w_task *next, *prev;	/* queue, or the done list (next) */
	struct pr_task_msg m;		/* borrows from batch->root */
	const struct pr_kernel *kernel;	/* kernel tasks */
	int kidx;			/* its index in pr_kernels */
	enum w_tstate state;
	bool reported;			/* a ghost result went out for it */
	atomic_int stop;		/* set: a work item skips it, and a
					   running kernel sees it (ctx->stop) */
	atomic_uint_least64_t run_ns;	/* kernel tasks: CLOCK_MONOTONIC ns
					   when its thread began it; 0 while
					   it is not running */

	/* the result */
	enum pr_status status;
	int exit;			/* -1: none */
	int signal;
	double start, elapsed;
	bool has_value;
	double value;
	char *error;			/* owned, or NULL */
	struct pr_buf extra;		/* kernel metrics */
	struct w_exec *exec;		/* command tasks, owned */
};

struct w_batch {
	cJSON *root;			/* the message; or, decoded by the
					   fast path, NULL or an array of the
					   tasks' params */
	char *line;			/* fast path: the copy of the line
					   the tasks' strings point into */
	size_t refs;			/* tasks not yet released */
	size_t n;
	struct w_task tasks[];
};

struct w_slot {
	int index;			/* 1-based (PARRUN_SLOT) */
	bool busy;
	struct w_task *cmd;		/* the command task it runs */
	/* a kernel work item: items[0..nitems), the thread ran [0..ndone) */
	uv_work_t work;
	struct w_task *items[W_KBATCH_MAX];
	size_t nitems, ndone;
	double item_start;		/* unix time the item was queued */
	const void *bcast;		/* W.bcast when the item was queued */
	size_t bcastlen;
	void **kstate;			/* per kernel, kept across tasks */
	struct pr_errbuf eb;		/* for the thread running the item */
};

enum w_phase {
	W_HANDSHAKE,
	W_RUNNING,
	W_STOPPING,			/* killing tasks before exit */
};

enum w_shutdown {
	W_SD_NONE,
	W_SD_DRAIN,
	W_SD_NOW,
};

struct w_worker {
	uv_loop_t *loop;
	char host[256];
	long pid;
	int cpus;
	int slots;
	size_t opt_max_frame;		/* --max-frame */
	int grace_ms;			/* default TERM -> KILL grace */
	char **base_env;		/* environ at start, for children */
	size_t nbase_env;

	/* from the welcome */
	int proto;
	int worker_index;
	int hb_ms;
	size_t cap;			/* frame cap, both directions */
	size_t chunk;			/* output bytes per message/result */
	uint64_t seed;
	int threads;			/* per task; 0 before welcome */
	int64_t timeout_ms;		/* tasks without their own; 0: none */
	bool stream_output;
	char *session;

	enum w_phase phase;
	enum w_shutdown shutdown;
	bool in_eof;

	/* tasks */
	struct w_task *qhead, *qtail;	/* queued, FIFO */
	size_t nqueued;
	struct w_task *dhead, *dtail;	/* done, result not yet written */
	size_t ndone;
	size_t unreported;		/* accepted, no result sent yet */
	struct w_slot *slot;		/* slots[0..slots) */
	int nbusy;
	bool in_schedule, reschedule;

	/* broadcast */
	struct pr_buf *bcast;		/* the latest; older ones kept */
	char *bcast_dir;		/* private mkdtemp directory */
	char *bcast_path;		/* the latest file */

	/* output to the coordinator */
	struct pr_buf out;		/* lines not yet written */
	bool throttled;			/* children's pipes paused */
};

extern struct w_worker W;

/* parrun-worker.c */
void w_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Out of memory and the like: log, kill tasks, exit W_EXIT_INTERNAL. */
void w_fatal(int code, const char *what) __attribute__((noreturn));
/* A finished task's result goes to the done list (written at the end
 * of this loop iteration).  Does not touch slots. */
void w_task_finish(struct w_task *t);
/* Release a slot whose task or work item is over, and schedule. */
void w_slot_release(struct w_slot *s);
void w_schedule(void);
/* Emit one "output" message (len <= W.chunk). */
void w_emit_output(struct w_task *t, int stream, const char *data,
    size_t len);
void w_emit_started(struct w_task *t, long pid);
/* Report t now with status st while its thread still runs it. */
void w_ghost(struct w_task *t, enum pr_status st, double start);
/* The task's error message (copied). */
void w_task_set_error(struct w_task *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
double w_unix_now(void);
/* The task's time limit in ms: its own "timeout_ms", else the
 * welcome's; 0: none. */
int64_t w_task_timeout_ms(const struct w_task *t);
/* Put tasks back at the front of the queue, keeping their order. */
void w_queue_push_front(struct w_task **v, size_t n);

/* exec.c */
/* Watch for SIGCHLD; once, before the first command starts. */
void w_exec_init(void);
void w_exec_start(struct w_task *t, struct w_slot *s);
/* Escalate: TERM to the group now, KILL after grace_ms (<= 0: default).
 * reason: PR_ST_TIMEOUT or PR_ST_CANCELLED (kept if one is set). */
void w_exec_kill(struct w_task *t, enum pr_status reason, int grace_ms);
/* KILL the group now. */
void w_exec_kill_now(struct w_task *t);
/* True while the task's process group may still hold processes. */
bool w_exec_alive(const struct w_task *t);
/* The task's process group (its pid), 0 if it never started. */
long w_exec_pid(const struct w_task *t);
void w_exec_throttle(struct w_task *t, bool pause);
void w_exec_free(struct w_exec *e);
/* The captured output still held (the result's inline part). */
void w_exec_output(const struct w_task *t, const char **out, size_t *outlen,
    const char **err, size_t *errlen);

/* wkernel.c */
/* Run an inline kernel task now on slot s's state. */
void w_kernel_run_inline(struct w_task *t, struct w_slot *s);
/* Queue s->items[0..nitems) on the threadpool. */
int w_kernel_start(struct w_slot *s);
/* A kernel task in a work item is over for the coordinator (st:
 * PR_ST_CANCELLED or PR_ST_TIMEOUT): report it now and ask its kernel
 * to stop; the slot is freed when the thread returns. */
void w_kernel_stop(struct w_task *t, enum pr_status st);

#endif
