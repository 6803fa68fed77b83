/*
 * slurmenv.h - the hosts of a Slurm allocation, read from its SLURM_*
 * variables (no scontrol, no slurm library).
 *
 * The environment is read through a callback so tests (and callers that
 * hold an envp array) never touch the real one:
 *
 *	struct pr_hosts hs;
 *	struct pr_slurmenv se;
 *	pr_hosts_init(&hs);
 *	if (pr_slurmenv_present(pr_env_process, NULL))
 *		rc = pr_slurmenv_read(&hs, &se, pr_env_process, NULL, &eb);
 *
 * Variables read (SLURM_JOB_* first, the older names as fallbacks):
 *
 *	SLURM_JOB_ID / SLURM_JOBID		must be set
 *	SLURM_JOB_NODELIST / SLURM_NODELIST	must be set: "n[1-4],gpu7"
 *	SLURM_JOB_NUM_NODES / SLURM_NNODES	checked against the list
 *	SLURM_JOB_CPUS_PER_NODE			"2(x3),1": CPUs of each node
 *	SLURM_TASKS_PER_NODE			"2(x3),1": tasks of each node
 *	SLURM_NTASKS / SLURM_NPROCS		set when the job asked for -n
 *	SLURM_NTASKS_PER_NODE			set by --ntasks-per-node
 *	SLURM_CPUS_PER_TASK			-c
 *	SLURM_STEP_ID				set inside an srun step
 *
 * Slots of each node (the tasks parrun runs there at once):
 *  - the job asked for tasks (SLURM_NTASKS or SLURM_NTASKS_PER_NODE is
 *    set) and this is not an srun step: SLURM_TASKS_PER_NODE, as Slurm
 *    laid the tasks out (checked to add up to SLURM_NTASKS);
 *  - otherwise: CPUs of the node / SLURM_CPUS_PER_TASK (default 1), at
 *    least 1, so `sbatch -N4 --exclusive` uses every CPU it got;
 *  - with neither variable: 1.
 * Inside an srun step SLURM_TASKS_PER_NODE and SLURM_NTASKS describe the
 * step, not the allocation, so they are ignored there.
 *
 * Every host is PR_VIA_SRUN, with cpus = its SLURM_JOB_CPUS_PER_NODE
 * entry (0 when unknown) and origin = the node list variable's name.
 */
#ifndef PR_SLURMENV_H
#define PR_SLURMENV_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"
#include "machinefile.h"

/* Look a variable up: its value (borrowed) or NULL. */
typedef const char *(*pr_getenv_fn)(const char *name, void *ctx);

/* getenv() of this process; ctx is ignored. */
const char *pr_env_process(const char *name, void *ctx);

/* Look name up in ctx, a NULL-terminated "NAME=value" array (envp). */
const char *pr_env_envp(const char *name, void *ctx);

/* What the allocation looked like, besides its hosts. */
struct pr_slurmenv {
	char job_id[64];
	const char *nodelist_var;	/* static: the variable used */
	const char *slots_from;		/* static: "SLURM_TASKS_PER_NODE",
					 * "SLURM_JOB_CPUS_PER_NODE" or
					 * "default" */
	size_t nnodes;
	int ntasks;			/* 0: not set */
	int cpus_per_task;		/* 0: not set */
	long total_cpus;		/* 0: unknown */
	bool in_step;			/* SLURM_STEP_ID was set */
};

/* True when SLURM_JOB_ID (or SLURM_JOBID) is set and not empty. */
bool pr_slurmenv_present(pr_getenv_fn get, void *ctx);

/*
 * Read the allocation and add its nodes to hs (in the node list's order).
 * se (may be NULL) gets the summary.  Errors name the variable:
 * "SLURM_TASKS_PER_NODE '2(x3),1' gives 4 counts for the 3 nodes of
 * SLURM_JOB_NODELIST 'n[1-3]'".  Inside a step (SLURM_STEP_ID set) of
 * more than one task (SLURM_STEP_NUM_TASKS, else SLURM_NTASKS) it is an
 * error: every copy of parrun would run every task.  Returns 0, PR_ECONFIG, PR_ELIMIT or
 * -ENOMEM; on error hs may hold some of the nodes.
 */
int pr_slurmenv_read(struct pr_hosts *hs, struct pr_slurmenv *se,
    pr_getenv_fn get, void *ctx, struct pr_errbuf *eb);

/*
 * Expand Slurm's compressed count list s ("2(x3),1" is 2 2 2 1) into
 * out[0..n).  *total gets how many values s holds (counting stops at
 * n + 1, so "1(x999999999)" costs nothing); only the first n are stored.
 * Values must be in [1, max].  On a syntax error eb gets the bare
 * message and *col (may be NULL) the 1-based column.  Returns 0 or
 * PR_ECONFIG.
 */
int pr_slurm_counts_parse(const char *s, int *out, size_t n, int max,
    size_t *total, size_t *col, struct pr_errbuf *eb);

#endif
