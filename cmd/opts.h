/*
 * opts.h - parrun's command-line options, in one table.
 *
 * The table feeds getopt_long(), `parrun --help` and the OPTIONS list of
 * man/parrun.1 (`parrun --help-mdoc` prints it; tests/lint checks that the
 * page holds exactly that text), so the three cannot drift apart.
 *
 * X(id, short, long, arg, help): short is 0 when there is none; arg is
 * NULL for a flag.  Help text is one sentence, lowercase, no full stop;
 * in it, `ARG` names the argument.
 */
#ifndef PR_OPTS_H
#define PR_OPTS_H

#include <stddef.h>
#include <stdio.h>

#define PR_OPTIONS(X)							\
	X(JOBS, 'j', "jobs", "N",					\
	  "run N local workers (default: the CPUs in the affinity mask)")	\
	X(ARGFILE, 'a', "arg-file", "FILE",				\
	  "read input values from FILE (repeatable; several sources "	\
	  "combine as a cartesian product)")				\
	X(SHELL, 0, "shell", NULL,					\
	  "run the command template with /bin/sh -c; every substituted "	\
	  "value is single-quoted")					\
	X(KERNEL, 0, "kernel", "NAME",					\
	  "make each input value a task of the built-in kernel NAME "	\
	  "(its parameter n)")						\
	X(RANGE, 0, "range", "A:B[:STEP]",				\
	  "index tasks from A to B; with --kernel, one chunk per worker "	\
	  "share, reduced where it runs")				\
	X(SCHEDULE, 0, "schedule", "KIND",				\
	  "dynamic (default), static (task i to worker i mod W) or "	\
	  "guided (shrinking batches)")					\
	X(BATCH, 0, "batch-size", "N|auto",				\
	  "tasks per message; auto (default) sizes batches from the "	\
	  "measured task time")						\
	X(KEEP, 'k', "keep-order", NULL,				\
	  "write output in input order")				\
	X(LINEBUF, 0, "line-buffer", NULL,				\
	  "pass output on line by line as it comes, instead of whole per task") \
	X(TAG, 0, "tag", NULL,						\
	  "prefix each output line with the task's input value and a tab") \
	X(RESULTS, 0, "results", "FILE",				\
	  "write one JSON line per task to FILE (- for stdout)")	\
	X(JOBLOG, 0, "joblog", "FILE",					\
	  "write GNU parallel's job log (TSV) to FILE")			\
	X(BADINPUT, 0, "on-bad-input", "abort|skip",			\
	  "abort (default): stop at a bad input line; skip: record it "	\
	  "as rejected and go on")					\
	X(MAXLINE, 0, "max-line", "BYTES",				\
	  "longest input line accepted (default 1048576)")		\
	X(TIMEOUT, 0, "timeout", "SECONDS",				\
	  "stop a task after SECONDS (TERM to its process group, KILL "	\
	  "2 s later)")							\
	X(RETRIES, 0, "retries", "N",					\
	  "run a failed task up to N more times, preferably on another "	\
	  "worker")							\
	X(RETRYDELAY, 0, "retry-delay", "SECONDS",			\
	  "wait SECONDS before the first retry of a failed task, twice "	\
	  "as long before each next one (default 0.1)")			\
	X(CRASHLIMIT, 0, "crash-limit", "N",				\
	  "record a task as lost after its worker was lost under it N "	\
	  "times (default 3)")						\
	X(RESPAWN, 0, "respawn", NULL,					\
	  "replace a lost local or SSH worker; drop its host after "	\
	  "crash-limit + 2 losses in a row without a result")		\
	X(HALT, 0, "halt", "WHEN,COND=N",				\
	  "stop early as GNU parallel: soon or now, when fail, success or "	\
	  "done reaches N tasks or N%; never (default)")		\
	X(JOURNAL, 0, "journal", "FILE",				\
	  "record every task and result in FILE (append-only JSON lines, "	\
	  "made durable before output)")				\
	X(RESUME, 0, "resume", NULL,					\
	  "with --journal: skip the tasks the journal has finished "	\
	  "(matched by content, so input may be reordered or extended)")	\
	X(FORCERESUME, 0, "force-resume", NULL,				\
	  "resume even when a task with a journaled id has changed "	\
	  "(it runs again)")						\
	X(RETRYFAILED, 0, "retry-failed", NULL,				\
	  "with --resume: also run again the tasks that failed")	\
	X(SEED, 0, "seed", "N",						\
	  "seed of the per-task random streams (default: from the clock; " \
	  "always recorded)")						\
	X(THREADS, 0, "threads", "T",					\
	  "threads per task (default: CPUs divided by the slots on the host)") \
	X(REDUCE, 0, "reduce", "OP",					\
	  "fold the tasks' values: sum, prod, min, max, mean, count or concat") \
	X(DETERM, 0, "deterministic", NULL,				\
	  "reduce in task order (and cut --range the same way whatever -j), " \
	  "so the result does not depend on -j or timing")		\
	X(BROADCAST, 0, "broadcast", "FILE",				\
	  "send FILE once to every worker: kernels get it, command tasks "	\
	  "find it at $PARRUN_BROADCAST")				\
	X(VALUE, 0, "value", NULL,					\
	  "take each command task's value from the last number on its stdout") \
	X(BAR, 0, "bar", NULL,						\
	  "draw a progress bar on stderr (only when it is a terminal)")	\
	X(ETA, 0, "eta", NULL,						\
	  "show the estimated time left on stderr (only on a terminal)")	\
	X(PROGRESS, 0, "progress", NULL,				\
	  "show per-worker progress on stderr (only on a terminal)")	\
	X(MACHINEFILE, 0, "machinefile", "FILE",			\
	  "run workers on the hosts listed in FILE (see "		\
	  "parrun-machinefile(5))")					\
	X(SSHLOGIN, 'S', "hosts", "LIST",				\
	  "run workers on the hosts in LIST, comma-separated, with "	\
	  "ranges as node[01-04]")					\
	X(SSHCMD, 0, "ssh-command", "CMD",				\
	  "start remote workers with CMD (e.g. ssh) instead of the "	\
	  "built-in libssh2 client")					\
	X(REMOTEWORKER, 0, "remote-worker", "PATH",			\
	  "the parrun-worker program on remote hosts (default: "	\
	  "parrun-worker in the remote PATH)")				\
	X(KNOWNHOSTS, 0, "known-hosts", "FILE",				\
	  "check host keys against FILE (default ~/.ssh/known_hosts)")	\
	X(ACCEPTNEW, 0, "accept-new-hostkeys", NULL,			\
	  "trust and record the key of a host seen for the first time "	\
	  "(never a changed key)")					\
	X(IDENTITY, 'i', "identity", "KEY",				\
	  "authenticate with the private key file KEY (after the ssh-agent)") \
	X(CONNTIMEOUT, 0, "connect-timeout", "SECONDS",			\
	  "give up on a host that does not answer, or a worker that "	\
	  "does not connect back, within SECONDS (default 10)")		\
	X(LAUNCHER, 0, "launcher", "local|ssh|srun",			\
	  "inside a Slurm allocation: srun (default) starts one "	\
	  "worker per node, ssh reaches the nodes over SSH, local "	\
	  "ignores Slurm")						\
	X(LISTEN, 0, "listen", "ADDR:PORT",				\
	  "take workers that connect to ADDR:PORT (PORT 0: any) with "	\
	  "parrun-worker --connect, from any launcher")			\
	X(SECRETFILE, 0, "secret-file", "FILE",				\
	  "the secret of --listen workers, in FILE (mode 0600; made "	\
	  "with a fresh secret if missing)")				\
	X(MAXWORKERS, 0, "max-workers", "N",				\
	  "take at most N workers in all (default 4096)")		\
	X(WORKER, 0, "worker", "PATH",					\
	  "the parrun-worker program (default: next to parrun, then PATH)") \
	X(HEARTBEAT, 0, "heartbeat", "MS",				\
	  "heartbeat period; a worker silent for 3 periods is lost "	\
	  "(default 5000)")						\
	X(VERBOSE, 'v', "verbose", NULL,				\
	  "say more on stderr (repeat for debug output)")		\
	X(QUIET, 'q', "quiet", NULL,					\
	  "only errors on stderr")					\
	X(HELP, 'h', "help", NULL,					\
	  "show this help and exit")					\
	X(VERSION, 'V', "version", NULL,				\
	  "show the version and exit")

enum pr_opt_id {
	PR_OPT_NONE_ = 255,
#define X(id, s, l, a, h) PR_OPT_##id,
	PR_OPTIONS(X)
#undef X
	PR_OPT_HELP_MDOC,
};

struct pr_opt {
	int id;
	char shortopt;
	const char *longopt;
	const char *arg;
	const char *help;
};

extern const struct pr_opt pr_opts[];

/* getopt_long tables built from pr_opts; caller frees *longopts. */
int pr_opts_getopt(char *shortopts, size_t shortlen, void **longopts);
/* Map getopt_long's return value to an option id. */
int pr_opts_id(int c);

void pr_opts_help(FILE *f);
void pr_opts_mdoc(FILE *f);

#endif
