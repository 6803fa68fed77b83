/*
 * cpus.h - how many CPUs this process may use, and the default number of
 * threads per task.
 *
 * pr_cpus_available() starts from the CPUs in the affinity mask
 * (sched_getaffinity; taskset, numactl, Slurm's task/affinity and
 * cgroup cpusets all show there) and lowers it, taking the minimum, by:
 *
 *  - the cgroup CPU quota of the process's cgroup and of every ancestor
 *    up to the mount point: cgroup v2 cpu.max ("150000 100000" is 1.5
 *    CPUs, "max ..." is none) and cgroup v1 cpu.cfs_quota_us /
 *    cpu.cfs_period_us (-1 is none).  The cgroup comes from
 *    /proc/self/cgroup and the mount point from /proc/self/mountinfo
 *    (falling back to /sys/fs/cgroup).  A fractional quota is rounded
 *    up: 1.5 CPUs gives 2 threads, each of which gets most of a CPU;
 *  - inside a Slurm job (SLURM_JOB_ID set): in an srun step
 *    (SLURM_STEP_ID set) SLURM_CPUS_PER_TASK, the step task's share;
 *    outside a step (the batch script) SLURM_CPUS_ON_NODE, the job's
 *    CPUs on this node.  Outside a step SLURM_CPUS_PER_TASK is not a
 *    limit on this process: the batch script holds the node's whole
 *    allocation, and under salloc the shell is not even on a node.
 *
 * Nothing here fails: unreadable or malformed files mean "no limit", and
 * the result is at least 1.
 *
 * Tests inject everything through struct pr_cpus_opts: a root directory
 * that prefixes every /proc and /sys path, an environment callback and a
 * fixed affinity count.
 */
#ifndef PR_CPUS_H
#define PR_CPUS_H

#include "slurmenv.h"

struct pr_cpus_opts {
	const char *root;	/* prefix for /proc and /sys paths; NULL: "" */
	pr_getenv_fn getenv;	/* NULL: the process environment */
	void *env_ctx;
	int affinity;		/* > 0: use instead of sched_getaffinity */
};

/* Where the number came from, for `parrun hosts` and warnings. */
struct pr_cpus_detail {
	int online;		/* CPUs online (sysconf), 0 unknown */
	int affinity;		/* CPUs in the affinity mask, 0 unknown */
	double quota;		/* cgroup quota in CPUs, 0: none */
	int slurm;		/* limit from Slurm, 0: none */
	const char *slurm_var;	/* static: which variable, or NULL */
	int cpus;		/* the result, >= 1 */
	const char *limited_by;	/* static: "affinity", "online", "cgroup",
				 * "slurm" or "default" */
};

/* The CPUs this process may use (>= 1).  opts and detail may be NULL. */
int pr_cpus_available(const struct pr_cpus_opts *opts,
    struct pr_cpus_detail *detail);

/* Threads per task for a host with `cpus` CPUs running `slots` tasks at
 * once: max(1, cpus / slots).  slots < 1 counts as 1. */
int pr_threads_default(int cpus, int slots);

#endif
