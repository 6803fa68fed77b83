/* test_slurmenv.c - hosts from SLURM_* variables (a fake environment). */
#include "test.h"

#include "err.h"
#include "machinefile.h"
#include "slurmenv.h"

static struct pr_errbuf eb;

/* Read a fake environment (NULL-terminated "K=V" list). */
static int
read_env(struct pr_hosts *hs, struct pr_slurmenv *se, const char **envp)
{
	eb.code = 0;
	eb.msg[0] = '\0';
	pr_hosts_init(hs);
	return pr_slurmenv_read(hs, se, pr_env_envp, envp, &eb);
}

static const char *
read_err(const char **envp)
{
	struct pr_hosts hs;
	int rc = read_env(&hs, NULL, envp);

	pr_hosts_release(&hs);
	if (rc >= 0)
		PR_TEST_FAIL("expected an error");
	return eb.msg;
}

#define ASSERT_NODE(hs, i, nm, slt, cpu) do {				\
	ASSERT((i) < (hs)->n);						\
	ASSERT_STR_EQ((hs)->v[i].name, nm);				\
	ASSERT_EQ((hs)->v[i].slots, slt);				\
	ASSERT_EQ((hs)->v[i].cpus, cpu);				\
	ASSERT_EQ((hs)->v[i].via, PR_VIA_SRUN);				\
	ASSERT((hs)->v[i].user == NULL);				\
	ASSERT_EQ((hs)->v[i].port, 0);					\
} while (0)

TEST(slurmenv_envp_lookup)
{
	const char *env[] = { "A=1", "AB=2", "B=", NULL };

	ASSERT_STR_EQ(pr_env_envp("A", env), "1");
	ASSERT_STR_EQ(pr_env_envp("AB", env), "2");
	ASSERT_STR_EQ(pr_env_envp("B", env), "");
	ASSERT(pr_env_envp("C", env) == NULL);
	ASSERT(pr_env_envp("A", NULL) == NULL);
	ASSERT(pr_slurmenv_present(pr_env_envp, env) == false);
}

/* salloc -n2 on one node (testbed notes). */
TEST(slurmenv_single_node)
{
	const char *env[] = {
		"SLURM_JOB_ID=2", "SLURM_JOBID=2", "SLURM_JOB_NODELIST=vm",
		"SLURM_NODELIST=vm", "SLURM_JOB_NUM_NODES=1", "SLURM_NNODES=1",
		"SLURM_NTASKS=2", "SLURM_NPROCS=2", "SLURM_TASKS_PER_NODE=2",
		"SLURM_JOB_CPUS_PER_NODE=2", NULL
	};
	struct pr_hosts hs;
	struct pr_slurmenv se;

	ASSERT(pr_slurmenv_present(pr_env_envp, env));
	ASSERT_OK(read_env(&hs, &se, env));
	ASSERT_EQ(hs.n, 1);
	ASSERT_NODE(&hs, 0, "vm", 2, 2);
	ASSERT_STR_EQ(hs.v[0].origin, "SLURM_JOB_NODELIST");
	ASSERT_STR_EQ(se.job_id, "2");
	ASSERT_EQ(se.nnodes, 1);
	ASSERT_EQ(se.ntasks, 2);
	ASSERT_EQ(se.total_cpus, 2);
	ASSERT_STR_EQ(se.slots_from, "SLURM_TASKS_PER_NODE");
	ASSERT_STR_EQ(se.nodelist_var, "SLURM_JOB_NODELIST");
	pr_hosts_release(&hs);
}

/* salloc -N2 -n3: n[1-2], 2,1. */
TEST(slurmenv_two_nodes_uneven)
{
	const char *env[] = {
		"SLURM_JOB_ID=7", "SLURM_JOB_NODELIST=n[1-2]",
		"SLURM_JOB_NUM_NODES=2", "SLURM_NTASKS=3",
		"SLURM_TASKS_PER_NODE=2,1", "SLURM_JOB_CPUS_PER_NODE=2,1",
		NULL
	};
	struct pr_hosts hs;

	ASSERT_OK(read_env(&hs, NULL, env));
	ASSERT_EQ(hs.n, 2);
	ASSERT_NODE(&hs, 0, "n1", 2, 2);
	ASSERT_NODE(&hs, 1, "n2", 1, 1);
	ASSERT_EQ(hs.total_slots, 3);
	pr_hosts_release(&hs);
}

/* salloc -n4: 2(x2) for both. */
TEST(slurmenv_repeat_form)
{
	const char *env[] = {
		"SLURM_JOB_ID=8", "SLURM_JOB_NODELIST=n[1-2]",
		"SLURM_NTASKS=4", "SLURM_TASKS_PER_NODE=2(x2)",
		"SLURM_JOB_CPUS_PER_NODE=2(x2)", NULL
	};
	struct pr_hosts hs;

	ASSERT_OK(read_env(&hs, NULL, env));
	ASSERT_EQ(hs.n, 2);
	ASSERT_NODE(&hs, 0, "n1", 2, 2);
	ASSERT_NODE(&hs, 1, "n2", 2, 2);
	pr_hosts_release(&hs);
}

/* Three namespaces: h[1-3] with 1(x3). */
TEST(slurmenv_three_nodes)
{
	const char *env[] = {
		"SLURM_JOB_ID=9", "SLURM_JOB_NODELIST=h[1-3]",
		"SLURM_NTASKS=3", "SLURM_TASKS_PER_NODE=1(x3)",
		"SLURM_JOB_CPUS_PER_NODE=1(x3)", NULL
	};
	struct pr_hosts hs;
	struct pr_buf b;

	ASSERT_OK(read_env(&hs, NULL, env));
	ASSERT_EQ(hs.n, 3);
	ASSERT_NODE(&hs, 0, "h1", 1, 1);
	ASSERT_NODE(&hs, 2, "h3", 1, 1);
	pr_buf_init(&b, 0);
	ASSERT_OK(pr_hosts_format_table(&hs, &b));
	ASSERT(strstr(b.data, "h1    -        -        1      1     1  srun  "
	    "SLURM_JOB_NODELIST\n") != NULL);
	pr_buf_release(&b);
	pr_hosts_release(&hs);
}

/* A mixed list: 2(x3),1 over four nodes in two groups. */
TEST(slurmenv_mixed_counts)
{
	const char *env[] = {
		"SLURM_JOB_ID=10", "SLURM_JOB_NODELIST=a[1-3],b7",
		"SLURM_NTASKS=7", "SLURM_TASKS_PER_NODE=2(x3),1",
		"SLURM_JOB_CPUS_PER_NODE=4(x2),2,1", NULL
	};
	struct pr_hosts hs;

	ASSERT_OK(read_env(&hs, NULL, env));
	ASSERT_EQ(hs.n, 4);
	ASSERT_NODE(&hs, 0, "a1", 2, 4);
	ASSERT_NODE(&hs, 2, "a3", 2, 2);
	ASSERT_NODE(&hs, 3, "b7", 1, 1);
	pr_hosts_release(&hs);
}

/* sbatch -N2 without -n: every CPU becomes a slot. */
TEST(slurmenv_no_ntasks_uses_cpus)
{
	const char *env[] = {
		"SLURM_JOB_ID=11", "SLURM_JOB_NODELIST=n[1-2]",
		"SLURM_TASKS_PER_NODE=1(x2)", "SLURM_JOB_CPUS_PER_NODE=8,4",
		"SLURM_CPUS_ON_NODE=8", NULL
	};
	const char *env_c[] = {
		"SLURM_JOB_ID=11", "SLURM_JOB_NODELIST=n[1-2]",
		"SLURM_TASKS_PER_NODE=1(x2)", "SLURM_JOB_CPUS_PER_NODE=8,4",
		"SLURM_CPUS_PER_TASK=3", NULL
	};
	struct pr_hosts hs;
	struct pr_slurmenv se;

	ASSERT_OK(read_env(&hs, &se, env));
	ASSERT_NODE(&hs, 0, "n1", 8, 8);
	ASSERT_NODE(&hs, 1, "n2", 4, 4);
	ASSERT_STR_EQ(se.slots_from, "SLURM_JOB_CPUS_PER_NODE");
	ASSERT_EQ(se.total_cpus, 12);
	pr_hosts_release(&hs);

	/* -c 3: 8/3 = 2 and 4/3 = 1 tasks. */
	ASSERT_OK(read_env(&hs, &se, env_c));
	ASSERT_NODE(&hs, 0, "n1", 2, 8);
	ASSERT_NODE(&hs, 1, "n2", 1, 4);
	ASSERT_EQ(se.cpus_per_task, 3);
	pr_hosts_release(&hs);
}

TEST(slurmenv_ntasks_per_node_uses_tasks)
{
	const char *env[] = {
		"SLURM_JOB_ID=12", "SLURM_JOB_NODELIST=n[1-2]",
		"SLURM_NTASKS_PER_NODE=1", "SLURM_TASKS_PER_NODE=1(x2)",
		"SLURM_JOB_CPUS_PER_NODE=8(x2)", NULL
	};
	struct pr_hosts hs;

	ASSERT_OK(read_env(&hs, NULL, env));
	ASSERT_NODE(&hs, 0, "n1", 1, 8);
	ASSERT_NODE(&hs, 1, "n2", 1, 8);
	pr_hosts_release(&hs);
}

/* Inside an srun step the task variables describe the step. */
TEST(slurmenv_inside_a_step)
{
	const char *env[] = {
		"SLURM_JOB_ID=13", "SLURM_JOB_NODELIST=n[1-4]",
		"SLURM_STEP_ID=0", "SLURM_NTASKS=1", "SLURM_TASKS_PER_NODE=1",
		"SLURM_JOB_CPUS_PER_NODE=2(x4)", NULL
	};
	struct pr_hosts hs;
	struct pr_slurmenv se;

	ASSERT_OK(read_env(&hs, &se, env));
	ASSERT(se.in_step);
	ASSERT_EQ(hs.n, 4);
	ASSERT_NODE(&hs, 3, "n4", 2, 2);
	pr_hosts_release(&hs);
}

/* srun -n2 parrun: two copies would each run every task. */
TEST(slurmenv_step_of_several_tasks)
{
	const char *two[] = {
		"SLURM_JOB_ID=16", "SLURM_JOB_NODELIST=vm", "SLURM_STEP_ID=0",
		"SLURM_STEP_NUM_TASKS=2", "SLURM_NTASKS=2",
		"SLURM_JOB_CPUS_PER_NODE=2", NULL
	};
	const char *old[] = {
		"SLURM_JOB_ID=16", "SLURM_JOB_NODELIST=vm", "SLURM_STEP_ID=3",
		"SLURM_NTASKS=4", NULL
	};
	const char *one[] = {
		"SLURM_JOB_ID=16", "SLURM_JOB_NODELIST=vm", "SLURM_STEP_ID=0",
		"SLURM_STEP_NUM_TASKS=1", "SLURM_NTASKS=1",
		"SLURM_JOB_CPUS_PER_NODE=2", NULL
	};
	struct pr_hosts hs;

	ASSERT_STR_EQ(read_err(two), "running as one of 2 tasks of Slurm "
	    "step 16.0, each copy would run every task: start one "
	    "(srun -n1 parrun ...), or run parrun without srun");
	ASSERT(strstr(read_err(old), "one of 4 tasks of Slurm step 16.3,")
	    != NULL);
	ASSERT_OK(read_env(&hs, NULL, one));
	ASSERT_NODE(&hs, 0, "vm", 2, 2);
	pr_hosts_release(&hs);
}

TEST(slurmenv_old_names_and_defaults)
{
	const char *env[] = {
		"SLURM_JOBID=14", "SLURM_NODELIST=x[01-02]", NULL
	};
	const char *empty_new[] = {
		"SLURM_JOB_ID=", "SLURM_JOBID=15", "SLURM_JOB_NODELIST=",
		"SLURM_NODELIST=y", NULL
	};
	struct pr_hosts hs;
	struct pr_slurmenv se;

	ASSERT(pr_slurmenv_present(pr_env_envp, env));
	ASSERT_OK(read_env(&hs, &se, env));
	ASSERT_EQ(hs.n, 2);
	ASSERT_NODE(&hs, 0, "x01", 1, 0);
	ASSERT_STR_EQ(hs.v[0].origin, "SLURM_NODELIST");
	ASSERT_STR_EQ(se.slots_from, "default");
	ASSERT_STR_EQ(se.job_id, "14");
	pr_hosts_release(&hs);

	ASSERT_OK(read_env(&hs, &se, empty_new));
	ASSERT_STR_EQ(se.job_id, "15");
	ASSERT_NODE(&hs, 0, "y", 1, 0);
	pr_hosts_release(&hs);
}

TEST(slurmenv_errors_name_the_variable)
{
	const char *none[] = { "HOME=/root", NULL };
	const char *nolist[] = { "SLURM_JOB_ID=1", NULL };
	const char *badlist[] = {
		"SLURM_JOB_ID=1", "SLURM_JOB_NODELIST=n[3-1]", NULL
	};
	const char *toomany[] = {
		"SLURM_JOB_ID=1", "SLURM_JOB_NODELIST=n[1-3]",
		"SLURM_NTASKS=7", "SLURM_TASKS_PER_NODE=2(x3),1", NULL
	};
	const char *toofew[] = {
		"SLURM_JOB_ID=1", "SLURM_JOB_NODELIST=n[1-3]",
		"SLURM_JOB_CPUS_PER_NODE=2,1", NULL
	};
	const char *huge[] = {
		"SLURM_JOB_ID=1", "SLURM_JOB_NODELIST=n[1-3]",
		"SLURM_JOB_CPUS_PER_NODE=2(x999999999)", NULL
	};
	const char *numnodes[] = {
		"SLURM_JOB_ID=1", "SLURM_JOB_NODELIST=n[1-2]",
		"SLURM_JOB_NUM_NODES=3", NULL
	};
	const char *badsyntax[] = {
		"SLURM_JOB_ID=1", "SLURM_JOB_NODELIST=n[1-2]",
		"SLURM_NTASKS=4", "SLURM_TASKS_PER_NODE=2(y2)", NULL
	};
	const char *sum[] = {
		"SLURM_JOB_ID=1", "SLURM_JOB_NODELIST=n[1-2]",
		"SLURM_NTASKS=5", "SLURM_TASKS_PER_NODE=2(x2)", NULL
	};
	const char *cpt[] = {
		"SLURM_JOB_ID=1", "SLURM_JOB_NODELIST=n1",
		"SLURM_CPUS_PER_TASK=two", NULL
	};
	const char *bigtasks[] = {
		"SLURM_JOB_ID=1", "SLURM_JOB_NODELIST=n1", "SLURM_NTASKS=1",
		"SLURM_TASKS_PER_NODE=99999999", NULL
	};

	ASSERT_STR_EQ(read_err(none),
	    "not inside a Slurm allocation (SLURM_JOB_ID is not set)");
	ASSERT_STR_EQ(read_err(nolist), "SLURM_JOB_NODELIST is not set");
	ASSERT_STR_EQ(read_err(badlist), "SLURM_JOB_NODELIST 'n[3-1]': "
	    "column 3: decreasing range '3-1'");
	ASSERT_STR_EQ(read_err(toomany), "SLURM_TASKS_PER_NODE '2(x3),1' "
	    "gives more than 3 counts for the 3 nodes of SLURM_JOB_NODELIST "
	    "'n[1-3]'");
	ASSERT_STR_EQ(read_err(toofew), "SLURM_JOB_CPUS_PER_NODE '2,1' "
	    "gives 2 counts for the 3 nodes of SLURM_JOB_NODELIST 'n[1-3]'");
	ASSERT(strstr(read_err(huge), "gives more than 3 counts") != NULL);
	ASSERT_STR_EQ(read_err(numnodes), "SLURM_JOB_NUM_NODES is 3 but "
	    "SLURM_JOB_NODELIST 'n[1-2]' has 2 nodes");
	ASSERT_STR_EQ(read_err(badsyntax), "SLURM_TASKS_PER_NODE '2(y2)': "
	    "column 3: expected 'x' after '('");
	ASSERT_STR_EQ(read_err(sum), "SLURM_NTASKS is 5 but "
	    "SLURM_TASKS_PER_NODE '2(x2)' adds up to 4");
	ASSERT_STR_EQ(read_err(cpt),
	    "SLURM_CPUS_PER_TASK: invalid value 'two'");
	ASSERT_STR_EQ(read_err(bigtasks), "SLURM_TASKS_PER_NODE '99999999': "
	    "column 1: invalid count '99999999'");
}

TEST(slurmenv_counts_parse)
{
	int v[8];
	size_t total = 0, col = 0;
	struct pr_errbuf e = { 0, "" };

	ASSERT_OK(pr_slurm_counts_parse("2(x3),1", v, 4, 100, &total, &col,
	    &e));
	ASSERT_EQ(total, 4);
	ASSERT_EQ(v[0], 2);
	ASSERT_EQ(v[2], 2);
	ASSERT_EQ(v[3], 1);
	ASSERT_OK(pr_slurm_counts_parse("5", v, 1, 100, &total, NULL, NULL));
	ASSERT_EQ(total, 1);
	ASSERT_EQ(v[0], 5);
	/* Counting stops at n + 1. */
	ASSERT_OK(pr_slurm_counts_parse("1(x999999999)", v, 3, 100, &total,
	    NULL, NULL));
	ASSERT_EQ(total, 4);

	ASSERT_EQ(pr_slurm_counts_parse("", v, 1, 100, &total, &col, &e),
	    PR_ECONFIG);
	ASSERT_STR_EQ(e.msg, "empty list");
	ASSERT_EQ(pr_slurm_counts_parse("0", v, 1, 100, &total, &col, &e),
	    PR_ECONFIG);
	ASSERT_STR_EQ(e.msg, "invalid count '0'");
	ASSERT_EQ(pr_slurm_counts_parse("101", v, 1, 100, &total, &col, &e),
	    PR_ECONFIG);
	ASSERT_EQ(pr_slurm_counts_parse("2(x0)", v, 1, 100, &total, &col,
	    &e), PR_ECONFIG);
	ASSERT_STR_EQ(e.msg, "invalid repeat count");
	ASSERT_EQ(col, 4);
	ASSERT_EQ(pr_slurm_counts_parse("2(x2", v, 2, 100, &total, &col, &e),
	    PR_ECONFIG);
	ASSERT_STR_EQ(e.msg, "expected ')'");
	ASSERT_EQ(col, 5);
	ASSERT_EQ(pr_slurm_counts_parse("1,", v, 2, 100, &total, &col, &e),
	    PR_ECONFIG);
	ASSERT_STR_EQ(e.msg, "trailing ','");
	ASSERT_EQ(col, 2);
	ASSERT_EQ(pr_slurm_counts_parse("1;2", v, 2, 100, &total, &col, &e),
	    PR_ECONFIG);
	ASSERT_STR_EQ(e.msg, "expected ',' or '('");
	ASSERT_EQ(col, 2);
	ASSERT_EQ(pr_slurm_counts_parse(",1", v, 2, 100, &total, &col, &e),
	    PR_ECONFIG);
	ASSERT_EQ(col, 1);
}

TEST(slurmenv_hostile_nodelist)
{
	const char *env[] = {
		"SLURM_JOB_ID=1", "SLURM_JOB_NODELIST=n[0-999999999]", NULL
	};
	const char *msg = read_err(env);

	ASSERT(strstr(msg, "SLURM_JOB_NODELIST 'n[0-999999999]': column 1: "
	    "expands to more than") != NULL);
}
