/*
 * launch_srun.h - parrun-worker on every node of a Slurm allocation, from
 * one srun step.
 *
 * One step starts one worker per node, and each worker holds all of its
 * node's slots (like one SSH connection per host): a node costs one
 * process and one TCP connection back to the coordinator, not one per
 * CPU, and the worker shares the node's CPUs among its tasks.  Per-node
 * arguments (each node's --slots, and the address it connects to) go
 * through `srun --multi-prog` with a configuration file written to a
 * private temporary directory (srun reads it and sends its contents to
 * the nodes, so it need not be on a shared file system).  The step is
 *
 *	srun --overlap --nodes=N --ntasks=N --ntasks-per-node=1
 *	    --distribution=block --kill-on-bad-exit=0 --wait=0
 *	    --cpu-bind=none --input=all --job-name=parrun-worker
 *	    --multi-prog CONF
 *
 * --overlap lets it run beside other steps of the job (the step takes no
 * CPUs away from them, nor they from it); --kill-on-bad-exit=0 --wait=0
 * keep the healthy workers running when one exits or dies; --cpu-bind=none
 * leaves the worker free to place its tasks on every CPU of its node;
 * --input=all copies srun's stdin to every task: parrun writes the run's
 * secret there as one line and closes it, so the secret is never in an
 * argv or an environment.  Rank i runs on node i of the allocation's node
 * list (block distribution, one task per node).
 *
 * srun's stdout and stderr are read by parrun and copied to its stderr
 * line by line (the workers' stdout never mixes with parrun's output);
 * Slurm's "cluster configuration lacks support for cpu binding" notice
 * (task plugins without affinity) is dropped.  srun runs in its own
 * session, so a Ctrl-C at the terminal reaches parrun alone, which shuts
 * the workers down in order; they exit, and the step ends.
 *
 * Ownership: the struct pr_srun is freed after cb->closed returns (after
 * pr_srun_close()).  Strings passed in are copied or used during the call
 * only.
 */
#ifndef PR_LAUNCH_SRUN_H
#define PR_LAUNCH_SRUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "auth.h"
#include "buf.h"
#include "err.h"
#include "machinefile.h"
#include "slurmenv.h"

#define PR_SRUN_SLOTS_MAX	1024	/* parrun-worker --slots takes no more */

/* One rank of the step: a worker on one node. */
struct pr_srun_rank {
	const char *node;	/* the node's name, for messages */
	int slots;		/* its --slots */
	const char *connect;	/* "ADDR:PORT" it connects back to */
};

struct pr_srun_opts {
	/* srun and any arguments of the user's, NULL-terminated
	 * (NULL: "srun") */
	char *const *srun;
	const char *worker;	/* parrun-worker on the nodes */
	size_t max_frame;	/* its --max-frame; 0: not passed */
	const char *tmpdir;	/* for the config file; NULL: $TMPDIR, /tmp */
};

struct pr_srun_cb {
	void *arg;
	/* srun ended: its exit status, or the signal that killed it */
	void (*exited)(void *arg, long status, int sig);
	/* after pr_srun_close(): about to be freed */
	void (*closed)(void *arg);
};

struct pr_srun;

/*
 * Append the --multi-prog configuration for ranks[0..n) to out: one line
 * per rank, "I 'WORKER' '--connect' 'ADDR:PORT' '--slots' 'K' ...", every
 * word single-quoted for Slurm's parser (a quote inside a word is written
 * '\'').  PR_ECONFIG for a word holding a newline, -ENOMEM.
 */
int pr_srun_conf(struct pr_buf *out, const struct pr_srun_opts *o,
    const struct pr_srun_rank *ranks, size_t n, struct pr_errbuf *eb);

/*
 * The srun argv for n ranks with configuration file conf, as a
 * NULL-terminated array of pointers into *store (free both with free()).
 */
int pr_srun_argv(const struct pr_srun_opts *o, size_t n, const char *conf,
    char ***argv, char **store);

/*
 * Write the configuration, start srun on the loop, write the secret
 * (64 hex digits and a LF) to its stdin and close it.  Returns 0 or an
 * error ("cannot start 'srun': no such file or directory") with nothing
 * left behind.  cb->exited follows when srun ends.
 */
int pr_srun_start(uv_loop_t *loop, const struct pr_srun_opts *o,
    const struct pr_srun_rank *ranks, size_t n,
    const uint8_t secret[PR_SECRET_LEN], const struct pr_srun_cb *cb,
    struct pr_srun **out, struct pr_errbuf *eb);

/* srun's PID (for messages). */
long pr_srun_pid(const struct pr_srun *s);

/* True once srun has ended. */
bool pr_srun_exited(const struct pr_srun *s);

/*
 * Ask srun to end: nothing for grace_ms (the workers have been told to
 * leave; the step ends when they have), then SIGTERM (srun cancels the
 * step), SIGKILL 3 s later.  grace_ms 0: SIGTERM now.  Nothing once it
 * has exited.  From here on srun's output (the step's teardown, a
 * late worker that finds the listener closed) is logged at debug level,
 * not copied to stderr.
 */
void pr_srun_stop(struct pr_srun *s, int grace_ms);

/* Kill srun if it still runs (SIGKILL), remove the configuration file and
 * its directory, release everything; cb->closed follows. */
void pr_srun_close(struct pr_srun *s);

/*
 * An address of this host that the nodes of hs can reach, for the
 * listener (never a wildcard): the local address that routes to a node
 * of the allocation (another node than this one first, since a host's
 * own name may resolve to a loopback address), else to the Slurm
 * controller (SLURM_WORKING_CLUSTER, or SlurmctldHost in $SLURM_CONF).
 * Written as text into out.  PR_ECONFIG when nothing resolves, with a
 * message that suggests --listen ADDR:0.
 */
int pr_srun_listen_addr(const struct pr_hosts *hs, pr_getenv_fn get,
    void *ctx, char *out, size_t outlen, struct pr_errbuf *eb);

#endif
