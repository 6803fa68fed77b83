/* cpus.c - see cpus.h */
#include "cpus.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define PATH_LEN 4096

/* Read a small file whole into buf (NUL-terminated); -1 on failure. */
static long
read_small(const char *root, const char *path, char *buf, size_t size)
{
	char full[PATH_LEN];
	size_t got = 0;
	int fd, n;

	n = snprintf(full, sizeof(full), "%s%s", root, path);
	if (n < 0 || (size_t)n >= sizeof(full))
		return -1;
	fd = open(full, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	while (got + 1 < size) {
		ssize_t r = read(fd, buf + got, size - 1 - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	buf[got] = '\0';
	return (long)got;
}

/*
 * CPUs in this thread's affinity mask.  This calls the system call itself
 * rather than sched_getaffinity(): that needs <sched.h>, which the -Ilib
 * include path resolves to parrun's own lib/sched.h.  The kernel fails
 * with EINVAL when the mask is too small, so grow it until it fits.
 */
static int
affinity_count(void)
{
	size_t words = 16;	/* 1024 CPUs */

	for (int tries = 0; tries < 8; tries++, words *= 4) {
		unsigned long *mask = calloc(words, sizeof(*mask));
		long r;
		int n = 0;

		if (mask == NULL)
			return 0;
		r = syscall(SYS_sched_getaffinity, 0,
		    words * sizeof(*mask), mask);
		if (r > 0) {
			for (size_t i = 0; i < (size_t)r / sizeof(*mask); i++)
				n += __builtin_popcountl(mask[i]);
			free(mask);
			return n;
		}
		free(mask);
		if (r < 0 && errno != EINVAL)
			return 0;
	}
	return 0;
}

/* cpu.max: "max 100000" or "150000 100000". */
static double
quota_v2(const char *root, const char *dir)
{
	char path[PATH_LEN], buf[128];
	double q, p;

	if (snprintf(path, sizeof(path), "%s/cpu.max", dir) >= PATH_LEN)
		return 0;
	if (read_small(root, path, buf, sizeof(buf)) <= 0)
		return 0;
	if (strncmp(buf, "max", 3) == 0)
		return 0;
	if (sscanf(buf, "%lf %lf", &q, &p) != 2 || !(q > 0) || !(p > 0))
		return 0;
	return q / p;
}

/* cpu.cfs_quota_us (-1: none) over cpu.cfs_period_us. */
static double
quota_v1(const char *root, const char *dir)
{
	char path[PATH_LEN], buf[64];
	double q, p;

	if (snprintf(path, sizeof(path), "%s/cpu.cfs_quota_us", dir) >=
	    PATH_LEN || read_small(root, path, buf, sizeof(buf)) <= 0 ||
	    sscanf(buf, "%lf", &q) != 1 || !(q > 0))
		return 0;
	if (snprintf(path, sizeof(path), "%s/cpu.cfs_period_us", dir) >=
	    PATH_LEN || read_small(root, path, buf, sizeof(buf)) <= 0 ||
	    sscanf(buf, "%lf", &p) != 1 || !(p > 0))
		return 0;
	return q / p;
}

/* The smallest quota from mnt+rel up to mnt; 0 when there is none. */
static double
walk_quota(const char *root, const char *mnt, const char *rel, bool v2)
{
	char dir[PATH_LEN];
	size_t base, n;
	double best = 0;

	if (snprintf(dir, sizeof(dir), "%s%s", mnt, rel) >= PATH_LEN)
		return 0;
	base = strlen(mnt);
	while (base > 1 && mnt[base - 1] == '/')
		base--;
	n = strlen(dir);
	while (n > base && dir[n - 1] == '/')
		dir[--n] = '\0';
	for (;;) {
		double q = v2 ? quota_v2(root, dir) : quota_v1(root, dir);

		if (q > 0 && (best == 0 || q < best))
			best = q;
		if (n <= base)
			break;
		while (n > base && dir[n - 1] != '/')
			n--;
		while (n > base && dir[n - 1] == '/')
			n--;
		dir[n] = '\0';
	}
	return best;
}

/* Does the comma list s[0..n) hold the word w? */
static bool
has_word(const char *s, size_t n, const char *w)
{
	size_t wl = strlen(w), i = 0;

	while (i < n) {
		size_t j = i;

		while (j < n && s[j] != ',')
			j++;
		if (j - i == wl && memcmp(s + i, w, wl) == 0)
			return true;
		i = j + 1;
	}
	return false;
}

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static void
unescape(char *s)
{
	char *w = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' &&
		    s[2] >= '0' && s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
			*w++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 +
			    (s[3] - '0'));
			s += 3;
		} else {
			*w++ = *s;
		}
	}
	*w = '\0';
}

struct mount {
	char point[PATH_LEN];
	char root[PATH_LEN];
	bool found;
};

/* Find the cgroup2 mount and the v1 mount holding the cpu controller. */
static void
find_mounts(const char *root, struct mount *m2, struct mount *m1)
{
	char *buf = malloc(1 << 20), *line, *next;

	m2->found = m1->found = false;
	if (buf == NULL || read_small(root, "/proc/self/mountinfo", buf,
	    1 << 20) <= 0)
		goto out;
	for (line = buf; line != NULL && *line; line = next) {
		char *f[5], *sep, *p;
		int nf = 0;
		struct mount *m = NULL;

		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		sep = strstr(line, " - ");
		if (sep == NULL)
			continue;
		*sep = '\0';
		/* id parent major:minor root mountpoint options... */
		for (p = line; *p && nf < 5;) {
			f[nf++] = p;
			while (*p && *p != ' ')
				p++;
			if (*p)
				*p++ = '\0';
		}
		if (nf < 5)
			continue;
		p = sep + 3;
		/* fstype source superopts */
		if (strncmp(p, "cgroup2 ", 8) == 0 && !m2->found) {
			m = m2;
		} else if (strncmp(p, "cgroup ", 7) == 0 && !m1->found) {
			char *opts = strrchr(p, ' ');

			if (opts != NULL && has_word(opts + 1, strlen(opts + 1),
			    "cpu"))
				m = m1;
		}
		if (m == NULL)
			continue;
		unescape(f[3]);
		unescape(f[4]);
		snprintf(m->root, sizeof(m->root), "%s", f[3]);
		snprintf(m->point, sizeof(m->point), "%s", f[4]);
		m->found = true;
	}
out:
	free(buf);
}

/* The cgroup path relative to the mount: strip the mount's own root. */
static const char *
relative(const char *path, const char *mroot)
{
	size_t n = strlen(mroot);

	if (n <= 1)
		return path;
	if (strncmp(path, mroot, n) == 0 && (path[n] == '/' || path[n] == 0))
		return path + n;
	return path;
}

static double
cgroup_quota(const char *root)
{
	char buf[8192], p2[PATH_LEN] = "", p1[PATH_LEN] = "";
	char *line, *next;
	bool have2 = false, have1 = false;
	struct mount m2, m1;
	double q = 0, q1;

	if (read_small(root, "/proc/self/cgroup", buf, sizeof(buf)) <= 0)
		return 0;
	/* "0::/path" (v2) or "4:cpu,cpuacct:/path" (v1). */
	for (line = buf; line != NULL && *line; line = next) {
		char *c1, *c2;

		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		c1 = strchr(line, ':');
		c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (c2 == NULL)
			continue;
		if (strncmp(line, "0::", 3) == 0 && !have2) {
			snprintf(p2, sizeof(p2), "%s", c2 + 1);
			have2 = true;
		} else if (!have1 && has_word(c1 + 1, (size_t)(c2 - c1 - 1),
		    "cpu")) {
			snprintf(p1, sizeof(p1), "%s", c2 + 1);
			have1 = true;
		}
	}
	find_mounts(root, &m2, &m1);
	if (have2) {
		if (!m2.found) {
			snprintf(m2.point, sizeof(m2.point), "/sys/fs/cgroup");
			snprintf(m2.root, sizeof(m2.root), "/");
		}
		q = walk_quota(root, m2.point, relative(p2, m2.root), true);
	}
	if (have1 && m1.found) {
		q1 = walk_quota(root, m1.point, relative(p1, m1.root), false);
		if (q1 > 0 && (q == 0 || q1 < q))
			q = q1;
	}
	return q;
}

static const char *
env_get(const struct pr_cpus_opts *o, const char *name)
{
	return o->getenv ? o->getenv(name, o->env_ctx) : getenv(name);
}

static bool
env_set(const struct pr_cpus_opts *o, const char *name)
{
	const char *v = env_get(o, name);

	return v != NULL && *v != '\0';
}

static int
env_positive(const struct pr_cpus_opts *o, const char *name)
{
	const char *v = env_get(o, name);
	char *end;
	long x;

	if (v == NULL || *v == '\0')
		return 0;
	errno = 0;
	x = strtol(v, &end, 10);
	if (errno != 0 || *end != '\0' || x < 1 || x > 1 << 20)
		return 0;
	return (int)x;
}

int
pr_cpus_available(const struct pr_cpus_opts *opts,
    struct pr_cpus_detail *detail)
{
	struct pr_cpus_opts none = { NULL, NULL, NULL, 0 };
	struct pr_cpus_detail d;
	const char *root;
	long online;
	int n;

	if (opts == NULL)
		opts = &none;
	root = opts->root ? opts->root : "";
	memset(&d, 0, sizeof(d));
	online = sysconf(_SC_NPROCESSORS_ONLN);
	d.online = online > 0 && online < (1L << 20) ? (int)online : 0;
	d.affinity = opts->affinity > 0 ? opts->affinity : affinity_count();
	if (d.affinity > 0) {
		n = d.affinity;
		d.limited_by = "affinity";
	} else if (d.online > 0) {
		n = d.online;
		d.limited_by = "online";
	} else {
		n = 1;
		d.limited_by = "default";
	}
	d.quota = cgroup_quota(root);
	if (d.quota > 0 && ceil(d.quota) < n) {
		n = (int)ceil(d.quota);
		d.limited_by = "cgroup";
	}
	if (env_set(opts, "SLURM_JOB_ID") || env_set(opts, "SLURM_JOBID")) {
		const char *var = "SLURM_CPUS_ON_NODE";

		if (env_set(opts, "SLURM_STEP_ID"))
			var = "SLURM_CPUS_PER_TASK";
		d.slurm = env_positive(opts, var);
		if (d.slurm > 0) {
			d.slurm_var = var;
			if (d.slurm < n) {
				n = d.slurm;
				d.limited_by = "slurm";
			}
		}
	}
	if (n < 1)
		n = 1;
	d.cpus = n;
	if (detail != NULL)
		*detail = d;
	return n;
}

int
pr_threads_default(int cpus, int slots)
{
	if (slots < 1)
		slots = 1;
	return cpus / slots > 1 ? cpus / slots : 1;
}
