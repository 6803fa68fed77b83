/*
 * run.h - the coordinator: one run of parrun from first task to exit.
 *
 * pr_run() owns one libuv loop.  A reader thread turns the input into
 * tasks (lib/input.c) and hands them over through a bounded queue, so the
 * coordinator's memory does not grow with the number of tasks; the loop
 * starts the workers, schedules tasks onto them (lib/sched.c), collects
 * results, writes output (lib/output.c) and folds reductions
 * (lib/reduce.c).  It returns when every task read has exactly one final
 * record, or after a signal.
 *
 * Errors: 0 when the run completed (tasks may have failed: see the
 * summary); a negative code with eb filled when it could not run or had to
 * stop early (bad input, no worker).  The summary is filled in both cases.
 */
#ifndef PR_RUN_H
#define PR_RUN_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"
#include "halt.h"
#include "input.h"
#include "machinefile.h"
#include "output.h"
#include "sched.h"
#include "transport.h"

#define PR_MAX_WORKERS	4096	/* default cap on the workers of a run */

struct pr_config {
	int jobs;			/* local workers */
	const char *worker_path;	/* parrun-worker program */
	/* hosts (--machinefile, -S); NULL: -j local workers */
	const struct pr_hosts *hosts;
	const char *remote_worker;	/* parrun-worker on remote hosts and
					 * Slurm nodes (there default:
					 * worker_path) */
	const char *ssh_command;	/* OpenSSH client instead of libssh2 */
	/* ssh.connect_timeout_ms is also the deadline of workers that
	 * connect back (Slurm nodes from srun's start, --listen) */
	struct pr_ssh_opts ssh;
	/*
	 * Workers that connect back over TCP.  Hosts with via PR_VIA_SRUN
	 * (a Slurm allocation) get one srun step (launch_srun.h) whose
	 * workers connect to listeners on an address of this host that
	 * routes to the nodes (or listen's address).  listen alone: any
	 * worker holding the secret may join (parrun-worker --connect).
	 */
	const char *listen;		/* --listen ADDR:PORT, or NULL */
	const char *secret_file;	/* --secret-file FILE, or NULL */
	const char *srun;		/* srun and its arguments, split on
					 * blanks; NULL: "srun" */
	int max_workers;		/* workers in a run (0:
					 * PR_MAX_WORKERS) */
	enum pr_schedule schedule;
	unsigned batch;			/* 0: auto */
	size_t max_frame;
	int hb_ms;			/* heartbeat period */
	int retries;			/* default for tasks without
					 * "retries" */
	double timeout;			/* default per-task timeout, s;
					 * 0 none */
	int crash_limit;		/* worker losses before a task is
					 * lost */
	double retry_delay;		/* s before the first retry of a
					 * failed task; doubles per retry */
	struct pr_halt halt;		/* --halt: stop early */
	bool respawn;			/* replace lost local and SSH workers */
	uint64_t seed;
	bool seed_given;		/* --seed: else a resume reuses the
					 * journal's */
	int threads;			/* 0: CPUs / slots */
	const char *reduce;		/* op name or NULL */
	const char *journal;		/* --journal FILE, or NULL */
	const char *broadcast;		/* --broadcast FILE, or NULL */
	bool resume, force_resume, retry_failed;
	bool deterministic;
	bool bar, eta, progress;
	int verbose;
	struct pr_input_opts in;
	struct pr_output_opts out;
};

void pr_config_init(struct pr_config *c);

struct pr_summary {
	uint64_t tasks;			/* final records written */
	uint64_t ok;
	uint64_t failed;		/* every status other than ok */
	uint64_t skipped;		/* --resume: done before, not run */
	int signal;			/* stopped by this signal, or 0 */
	bool bad_input;			/* stopped on bad input */
	bool halted;			/* --halt stopped the run */
	int halt_exit;			/* then the exit status, or -1 */
	bool reduced;			/* --reduce gave a value */
	double value;
	char *reduced_text;		/* its text; caller frees */
	uint64_t folded;		/* values folded into it */
};

int pr_run(const struct pr_config *cfg, struct pr_summary *sum,
    struct pr_errbuf *eb);

#endif
