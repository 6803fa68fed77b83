/* slurmenv.c - see slurmenv.h */
#include "slurmenv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hostlist.h"

const char *
pr_env_process(const char *name, void *ctx)
{
	(void)ctx;
	return getenv(name);
}

const char *
pr_env_envp(const char *name, void *ctx)
{
	const char *const *envp = ctx;
	size_t n = strlen(name);

	if (envp == NULL)
		return NULL;
	for (; *envp != NULL; envp++)
		if (strncmp(*envp, name, n) == 0 && (*envp)[n] == '=')
			return *envp + n + 1;
	return NULL;
}

/* The first of two names that is set (and not empty); *which gets it. */
static const char *
get2(pr_getenv_fn get, void *ctx, const char *a, const char *b,
    const char **which)
{
	const char *v = get(a, ctx);

	*which = a;
	if (v == NULL || v[0] == '\0') {
		v = get(b, ctx);
		*which = b;
	}
	if (v != NULL && v[0] == '\0')
		v = NULL;
	return v;
}

bool
pr_slurmenv_present(pr_getenv_fn get, void *ctx)
{
	const char *which;

	return get2(get, ctx, "SLURM_JOB_ID", "SLURM_JOBID", &which) != NULL;
}

static bool
parse_num(const char *s, size_t *p, long max, long *v)
{
	size_t i = *p;
	long x = 0;

	if (s[i] < '0' || s[i] > '9')
		return false;
	while (s[i] >= '0' && s[i] <= '9') {
		x = x * 10 + (s[i] - '0');
		if (x > max)
			return false;
		i++;
	}
	*v = x;
	*p = i;
	return true;
}

int
pr_slurm_counts_parse(const char *s, int *out, size_t n, int max,
    size_t *total, size_t *col, struct pr_errbuf *eb)
{
	size_t p = 0, k = 0;
	long v, rep;
	int rc = 0;

	if (s[0] == '\0') {
		rc = pr_err(eb, PR_ECONFIG, "empty list");
		goto out;
	}
	for (;;) {
		size_t at = p;

		if (!parse_num(s, &p, max, &v) || v < 1) {
			char snip[40];
			size_t e = at;

			while (s[e] != '\0' && s[e] != ',' && s[e] != '(')
				e++;
			pr_hostlist_snip(snip, sizeof(snip), s + at, e - at);
			p = at;
			rc = pr_err(eb, PR_ECONFIG, "invalid count '%s'",
			    snip);
			goto out;
		}
		rep = 1;
		if (s[p] == '(') {
			size_t rat;

			if (s[p + 1] != 'x') {
				p++;
				rc = pr_err(eb, PR_ECONFIG,
				    "expected 'x' after '('");
				goto out;
			}
			p += 2;
			rat = p;
			if (!parse_num(s, &p, 1000000000L, &rep) || rep < 1) {
				p = rat;
				rc = pr_err(eb, PR_ECONFIG,
				    "invalid repeat count");
				goto out;
			}
			if (s[p] != ')') {
				rc = pr_err(eb, PR_ECONFIG, "expected ')'");
				goto out;
			}
			p++;
		}
		for (long r = 0; r < rep && k <= n; r++, k++)
			if (k < n)
				out[k] = (int)v;
		if (s[p] == '\0')
			break;
		if (s[p] != ',') {
			rc = pr_err(eb, PR_ECONFIG, "expected ',' or '('");
			goto out;
		}
		p++;
		if (s[p] == '\0') {
			p--;
			rc = pr_err(eb, PR_ECONFIG, "trailing ','");
			goto out;
		}
	}
out:
	if (total != NULL)
		*total = k;
	if (rc < 0 && col != NULL)
		*col = p + 1;
	return rc;
}

/* A positive integer variable; 0 when unset. */
static int
env_int(pr_getenv_fn get, void *ctx, const char *a, const char *b, int max,
    int *out, struct pr_errbuf *eb)
{
	const char *which, *v = b ? get2(get, ctx, a, b, &which) : get(a, ctx);
	size_t p = 0;
	long x;
	char snip[40];

	if (b == NULL)
		which = a;
	*out = 0;
	if (v == NULL || v[0] == '\0')
		return 0;
	if (parse_num(v, &p, max, &x) && v[p] == '\0' && x >= 1) {
		*out = (int)x;
		return 0;
	}
	pr_hostlist_snip(snip, sizeof(snip), v, strlen(v));
	return pr_err(eb, PR_ECONFIG, "%s: invalid value '%s'", which, snip);
}

/* Parse a per-node count variable into a new array of nnodes ints. */
static int
env_counts(pr_getenv_fn get, void *ctx, const char *var, size_t nnodes,
    const char *listvar, const char *list, int **out, struct pr_errbuf *eb)
{
	const char *v = get(var, ctx);
	struct pr_errbuf inner;
	char snip[80], lsnip[80];
	size_t total = 0, col = 0;
	int rc;

	*out = NULL;
	if (v == NULL || v[0] == '\0')
		return 0;
	*out = calloc(nnodes, sizeof(**out));
	if (*out == NULL)
		return -ENOMEM;
	inner.msg[0] = '\0';
	pr_hostlist_snip(snip, sizeof(snip), v, strlen(v));
	rc = pr_slurm_counts_parse(v, *out, nnodes, PR_HOST_SLOTS_MAX, &total,
	    &col, &inner);
	if (rc < 0) {
		rc = pr_err(eb, rc, "%s '%s': column %zu: %s", var, snip, col,
		    inner.msg);
	} else if (total != nnodes) {
		pr_hostlist_snip(lsnip, sizeof(lsnip), list, strlen(list));
		rc = pr_err(eb, PR_ECONFIG, "%s '%s' gives %s%zu count%s for "
		    "the %zu node%s of %s '%s'", var, snip,
		    total > nnodes ? "more than " : "",
		    total > nnodes ? nnodes : total,
		    (total > nnodes ? nnodes : total) == 1 ? "" : "s",
		    nnodes, nnodes == 1 ? "" : "s",
		    listvar, lsnip);
	}
	if (rc < 0) {
		free(*out);
		*out = NULL;
	}
	return rc;
}

int
pr_slurmenv_read(struct pr_hosts *hs, struct pr_slurmenv *se,
    pr_getenv_fn get, void *ctx, struct pr_errbuf *eb)
{
	struct pr_slurmenv local;
	struct pr_hostlist hl;
	const char *which, *id, *list, *step, *per_node;
	int *cpus = NULL, *tasks = NULL, nnodes_var = 0;
	char snip[80];
	long sum;
	int rc;

	if (se == NULL)
		se = &local;
	memset(se, 0, sizeof(*se));
	pr_hostlist_init(&hl, 0);
	id = get2(get, ctx, "SLURM_JOB_ID", "SLURM_JOBID", &which);
	if (id == NULL) {
		rc = pr_err(eb, PR_ECONFIG, "not inside a Slurm allocation "
		    "(SLURM_JOB_ID is not set)");
		goto out;
	}
	snprintf(se->job_id, sizeof(se->job_id), "%s", id);
	list = get2(get, ctx, "SLURM_JOB_NODELIST", "SLURM_NODELIST", &which);
	if (list == NULL) {
		rc = pr_err(eb, PR_ECONFIG, "SLURM_JOB_NODELIST is not set");
		goto out;
	}
	se->nodelist_var = which;
	pr_hostlist_snip(snip, sizeof(snip), list, strlen(list));
	{
		struct pr_errbuf inner;
		size_t col = 0;

		inner.msg[0] = '\0';
		rc = pr_hostlist_expand_n(&hl, list, strlen(list), &col,
		    &inner);
		if (rc < 0) {
			rc = pr_err(eb, rc, "%s '%s': column %zu: %s", which,
			    snip, col, pr_errmsg(&inner, rc));
			goto out;
		}
	}
	se->nnodes = hl.n;
	rc = env_int(get, ctx, "SLURM_JOB_NUM_NODES", "SLURM_NNODES",
	    PR_HOSTLIST_MAX, &nnodes_var, eb);
	if (rc < 0)
		goto out;
	if (nnodes_var > 0 && (size_t)nnodes_var != hl.n) {
		rc = pr_err(eb, PR_ECONFIG, "SLURM_JOB_NUM_NODES is %d but %s "
		    "'%s' has %zu node%s", nnodes_var, which, snip, hl.n,
		    hl.n == 1 ? "" : "s");
		goto out;
	}
	rc = env_int(get, ctx, "SLURM_CPUS_PER_TASK", NULL, PR_HOST_SLOTS_MAX,
	    &se->cpus_per_task, eb);
	if (rc == 0)
		rc = env_int(get, ctx, "SLURM_NTASKS", "SLURM_NPROCS",
		    PR_HOSTS_SLOTS_MAX, &se->ntasks, eb);
	if (rc < 0)
		goto out;
	step = get("SLURM_STEP_ID", ctx);
	se->in_step = step != NULL && step[0] != '\0';
	if (se->in_step) {
		int st = 0;

		/* srun -n2 parrun: two parruns, each running every task */
		rc = env_int(get, ctx, "SLURM_STEP_NUM_TASKS", NULL,
		    PR_HOSTS_SLOTS_MAX, &st, eb);
		if (rc < 0)
			goto out;
		if (st == 0)
			st = se->ntasks;	/* the step's, in a step */
		if (st > 1) {
			rc = pr_err(eb, PR_ECONFIG, "running as one of %d "
			    "tasks of Slurm step %s.%s, each copy would run "
			    "every task: start one (srun -n1 parrun ...), or "
			    "run parrun without srun", st, se->job_id, step);
			goto out;
		}
	}
	rc = env_counts(get, ctx, "SLURM_JOB_CPUS_PER_NODE", hl.n, which,
	    list, &cpus, eb);
	if (rc < 0)
		goto out;
	per_node = get("SLURM_NTASKS_PER_NODE", ctx);
	if (!se->in_step && (se->ntasks > 0 ||
	    (per_node != NULL && per_node[0] != '\0'))) {
		rc = env_counts(get, ctx, "SLURM_TASKS_PER_NODE", hl.n, which,
		    list, &tasks, eb);
		if (rc < 0)
			goto out;
	}
	if (tasks != NULL) {
		sum = 0;
		for (size_t i = 0; i < hl.n; i++)
			sum += tasks[i];
		if (se->ntasks > 0 && sum != se->ntasks) {
			rc = pr_err(eb, PR_ECONFIG, "SLURM_NTASKS is %d but "
			    "SLURM_TASKS_PER_NODE '%s' adds up to %ld",
			    se->ntasks, get("SLURM_TASKS_PER_NODE", ctx), sum);
			goto out;
		}
		se->slots_from = "SLURM_TASKS_PER_NODE";
	} else if (cpus != NULL) {
		se->slots_from = "SLURM_JOB_CPUS_PER_NODE";
	} else {
		se->slots_from = "default";
	}
	for (size_t i = 0; i < hl.n; i++) {
		struct pr_host h;
		int cpt = se->cpus_per_task > 0 ? se->cpus_per_task : 1;

		memset(&h, 0, sizeof(h));
		h.name = (char *)pr_hostlist_get(&hl, i);
		h.origin = (char *)which;
		h.via = PR_VIA_SRUN;
		h.cpus = cpus != NULL ? cpus[i] : 0;
		if (tasks != NULL)
			h.slots = tasks[i];
		else if (cpus != NULL)
			h.slots = cpus[i] / cpt > 0 ? cpus[i] / cpt : 1;
		else
			h.slots = 1;
		se->total_cpus += h.cpus;
		rc = pr_hosts_add(hs, &h, eb);
		if (rc < 0)
			goto out;
	}
out:
	free(cpus);
	free(tasks);
	pr_hostlist_release(&hl);
	return rc;
}
