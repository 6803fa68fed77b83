/* test_cpus.c - CPUs available, with fake /proc and cgroup trees. */
#include "test.h"

#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cpus.h"
#include "slurmenv.h"

/* A fresh fake root under /tmp. */
static void
fake_root(char *root, size_t n)
{
	snprintf(root, n, "/tmp/pr-cpus-XXXXXX");
	if (mkdtemp(root) == NULL)
		PR_TEST_FAIL("mkdtemp: %s", strerror(errno));
}

/* Write root/path (creating its directories) with the given text. */
static void
put(const char *root, const char *path, const char *text)
{
	char full[4096];
	FILE *f;

	snprintf(full, sizeof(full), "%s%s", root, path);
	for (char *p = full + strlen(root) + 1; *p; p++) {
		if (*p == '/') {
			*p = '\0';
			if (mkdir(full, 0755) < 0 && errno != EEXIST)
				PR_TEST_FAIL("mkdir %s: %s", full,
				    strerror(errno));
			*p = '/';
		}
	}
	f = fopen(full, "w");
	if (f == NULL)
		PR_TEST_FAIL("fopen %s: %s", full, strerror(errno));
	fputs(text, f);
	fclose(f);
}

static void
rm_root(const char *root)
{
	char cmd[4200];

	/* Only ever our own mkdtemp directory under /tmp. */
	if (strncmp(root, "/tmp/pr-cpus-", 13) != 0)
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	if (system(cmd) != 0)
		fprintf(stderr, "# could not remove %s\n", root);
}

#define MOUNT_V2 "30 22 0:27 / /sys/fs/cgroup rw,relatime shared:4 - " \
	"cgroup2 cgroup2 rw,nsdelegate\n"

static int
cpus_in(const char *root, int affinity, const char **env,
    struct pr_cpus_detail *d)
{
	struct pr_cpus_opts o;
	static const char *noenv[] = { NULL };

	o.root = root;
	o.getenv = pr_env_envp;
	o.env_ctx = env ? env : noenv;
	o.affinity = affinity;
	return pr_cpus_available(&o, d);
}

TEST(cpus_threads_default)
{
	ASSERT_EQ(pr_threads_default(8, 4), 2);
	ASSERT_EQ(pr_threads_default(8, 3), 2);
	ASSERT_EQ(pr_threads_default(3, 4), 1);
	ASSERT_EQ(pr_threads_default(8, 0), 8);
	ASSERT_EQ(pr_threads_default(0, 1), 1);
	ASSERT_EQ(pr_threads_default(64, 1), 64);
}

TEST(cpus_real_system)
{
	struct pr_cpus_detail d;
	int n = pr_cpus_available(NULL, &d);
	long online = sysconf(_SC_NPROCESSORS_ONLN);

	ASSERT(n >= 1);
	ASSERT_EQ(n, d.cpus);
	ASSERT(d.affinity >= 1);
	if (online > 0)
		ASSERT(n <= online);
	ASSERT(d.limited_by != NULL);
}

TEST(cpus_nothing_readable)
{
	char root[64];
	struct pr_cpus_detail d;

	fake_root(root, sizeof(root));
	ASSERT_EQ(cpus_in(root, 8, NULL, &d), 8);
	ASSERT_STR_EQ(d.limited_by, "affinity");
	ASSERT(d.quota == 0);
	rm_root(root);
}

TEST(cpus_cgroup_v2_quota_rounds_up)
{
	char root[64];
	struct pr_cpus_detail d;

	fake_root(root, sizeof(root));
	put(root, "/proc/self/cgroup", "0::/job/step\n");
	put(root, "/proc/self/mountinfo", MOUNT_V2);
	put(root, "/sys/fs/cgroup/job/step/cpu.max", "150000 100000\n");
	ASSERT_EQ(cpus_in(root, 8, NULL, &d), 2);
	ASSERT_DBL_NEAR(d.quota, 1.5, 1e-9);
	ASSERT_STR_EQ(d.limited_by, "cgroup");
	/* A quota above the mask does not raise it. */
	put(root, "/sys/fs/cgroup/job/step/cpu.max", "1600000 100000\n");
	ASSERT_EQ(cpus_in(root, 8, NULL, &d), 8);
	ASSERT_STR_EQ(d.limited_by, "affinity");
	/* "max" is no limit; garbage is no limit. */
	put(root, "/sys/fs/cgroup/job/step/cpu.max", "max 100000\n");
	ASSERT_EQ(cpus_in(root, 8, NULL, &d), 8);
	put(root, "/sys/fs/cgroup/job/step/cpu.max", "lots\n");
	ASSERT_EQ(cpus_in(root, 8, NULL, &d), 8);
	rm_root(root);
}

TEST(cpus_cgroup_v2_ancestor_limits)
{
	char root[64];
	struct pr_cpus_detail d;

	fake_root(root, sizeof(root));
	put(root, "/proc/self/cgroup", "0::/a/b/c\n");
	put(root, "/proc/self/mountinfo", MOUNT_V2);
	put(root, "/sys/fs/cgroup/a/b/c/cpu.max", "max 100000\n");
	put(root, "/sys/fs/cgroup/a/b/cpu.max", "300000 100000\n");
	put(root, "/sys/fs/cgroup/a/cpu.max", "100000 50000\n");
	ASSERT_EQ(cpus_in(root, 16, NULL, &d), 2);
	ASSERT_DBL_NEAR(d.quota, 2.0, 1e-9);
	/* The namespace root's own file counts too (containers). */
	put(root, "/sys/fs/cgroup/cpu.max", "50000 100000\n");
	ASSERT_EQ(cpus_in(root, 16, NULL, &d), 1);
	rm_root(root);
}

TEST(cpus_cgroup_v2_container_root)
{
	char root[64];

	/* No cgroup namespace: /proc/self/cgroup shows the host path and
	 * the mount's root is that same path. */
	fake_root(root, sizeof(root));
	put(root, "/proc/self/cgroup", "0::/docker/abc\n");
	put(root, "/proc/self/mountinfo", "30 22 0:27 /docker/abc "
	    "/sys/fs/cgroup ro,nosuid - cgroup2 cgroup2 rw\n");
	put(root, "/sys/fs/cgroup/cpu.max", "200000 100000\n");
	ASSERT_EQ(cpus_in(root, 8, NULL, NULL), 2);
	rm_root(root);
}

TEST(cpus_cgroup_v2_without_mountinfo)
{
	char root[64];

	fake_root(root, sizeof(root));
	put(root, "/proc/self/cgroup", "0::/u\n");
	put(root, "/sys/fs/cgroup/u/cpu.max", "300000 100000\n");
	ASSERT_EQ(cpus_in(root, 8, NULL, NULL), 3);
	rm_root(root);
}

TEST(cpus_cgroup_v2_mount_elsewhere_with_escapes)
{
	char root[64];

	fake_root(root, sizeof(root));
	put(root, "/proc/self/cgroup", "0::/x\n");
	put(root, "/proc/self/mountinfo",
	    "40 30 0:37 / /sys/fs/cgroup/un\\040ified rw - cgroup2 cgroup2 rw\n");
	put(root, "/sys/fs/cgroup/un ified/x/cpu.max", "100000 100000\n");
	ASSERT_EQ(cpus_in(root, 4, NULL, NULL), 1);
	rm_root(root);
}

TEST(cpus_cgroup_v1)
{
	char root[64];
	struct pr_cpus_detail d;

	fake_root(root, sizeof(root));
	put(root, "/proc/self/cgroup", "5:memory:/m\n4:cpu,cpuacct:/slurm/"
	    "job1\n0::/\n");
	put(root, "/proc/self/mountinfo",
	    "31 30 0:28 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup "
	    "rw,cpu,cpuacct\n"
	    "34 30 0:31 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n");
	put(root, "/sys/fs/cgroup/cpu,cpuacct/slurm/job1/cpu.cfs_quota_us",
	    "200000\n");
	put(root, "/sys/fs/cgroup/cpu,cpuacct/slurm/job1/cpu.cfs_period_us",
	    "100000\n");
	put(root, "/sys/fs/cgroup/cpu,cpuacct/slurm/cpu.cfs_quota_us", "-1\n");
	put(root, "/sys/fs/cgroup/cpu,cpuacct/slurm/cpu.cfs_period_us",
	    "100000\n");
	ASSERT_EQ(cpus_in(root, 8, NULL, &d), 2);
	ASSERT_STR_EQ(d.limited_by, "cgroup");
	put(root, "/sys/fs/cgroup/cpu,cpuacct/slurm/job1/cpu.cfs_quota_us",
	    "-1\n");
	ASSERT_EQ(cpus_in(root, 8, NULL, &d), 8);
	rm_root(root);
}

TEST(cpus_cgroup_v1_and_v2_take_the_smaller)
{
	char root[64];

	fake_root(root, sizeof(root));
	put(root, "/proc/self/cgroup", "1:cpu:/g\n0::/g\n");
	put(root, "/proc/self/mountinfo",
	    "31 30 0:28 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n"
	    "40 30 0:37 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n");
	put(root, "/sys/fs/cgroup/cpu/g/cpu.cfs_quota_us", "300000\n");
	put(root, "/sys/fs/cgroup/cpu/g/cpu.cfs_period_us", "100000\n");
	put(root, "/sys/fs/cgroup/unified/g/cpu.max", "500000 100000\n");
	ASSERT_EQ(cpus_in(root, 8, NULL, NULL), 3);
	put(root, "/sys/fs/cgroup/unified/g/cpu.max", "100000 100000\n");
	ASSERT_EQ(cpus_in(root, 8, NULL, NULL), 1);
	rm_root(root);
}

TEST(cpus_slurm_limits)
{
	char root[64];
	struct pr_cpus_detail d;
	const char *batch[] = {
		"SLURM_JOB_ID=5", "SLURM_CPUS_ON_NODE=3",
		"SLURM_CPUS_PER_TASK=1", NULL
	};
	const char *step[] = {
		"SLURM_JOB_ID=5", "SLURM_STEP_ID=0", "SLURM_CPUS_ON_NODE=6",
		"SLURM_CPUS_PER_TASK=2", NULL
	};
	const char *salloc[] = {
		"SLURM_JOB_ID=5", "SLURM_CPUS_PER_TASK=2", NULL
	};
	const char *nojob[] = { "SLURM_CPUS_ON_NODE=1", NULL };
	const char *bad[] = { "SLURM_JOB_ID=5", "SLURM_CPUS_ON_NODE=x", NULL };

	fake_root(root, sizeof(root));
	ASSERT_EQ(cpus_in(root, 8, batch, &d), 3);
	ASSERT_STR_EQ(d.limited_by, "slurm");
	ASSERT_STR_EQ(d.slurm_var, "SLURM_CPUS_ON_NODE");
	ASSERT_EQ(cpus_in(root, 8, step, &d), 2);
	ASSERT_STR_EQ(d.slurm_var, "SLURM_CPUS_PER_TASK");
	/* salloc's shell: not on a node, CPUS_PER_TASK is no limit. */
	ASSERT_EQ(cpus_in(root, 8, salloc, &d), 8);
	ASSERT(d.slurm_var == NULL);
	ASSERT_EQ(cpus_in(root, 8, nojob, &d), 8);
	ASSERT_EQ(cpus_in(root, 8, bad, &d), 8);
	/* Slurm above the mask: the mask wins. */
	ASSERT_EQ(cpus_in(root, 2, batch, &d), 2);
	ASSERT_STR_EQ(d.limited_by, "affinity");
	/* With a cgroup quota too: the smallest. */
	put(root, "/proc/self/cgroup", "0::/\n");
	put(root, "/sys/fs/cgroup/cpu.max", "100000 100000\n");
	ASSERT_EQ(cpus_in(root, 8, batch, &d), 1);
	ASSERT_STR_EQ(d.limited_by, "cgroup");
	rm_root(root);
}
