/*
 * timeit.c - run one command and measure it, for tests/bench/run.
 *
 * Owner: h11.
 *
 *	timeit [-i IN] [-o OUT] [-t SECONDS] [-g DIR] [-l LABEL] -- CMD [ARG...]
 *
 * Starts CMD with posix_spawnp (no shell; stdin from IN, "-" for timeit's
 * own, stdout to OUT, both /dev/null by default; stderr inherited) and
 * prints one JSON line:
 *
 *	wall		seconds from just before the spawn to the exit
 *	user, sys	CPU seconds of CMD and every descendant it waited for
 *	maxrss_kb	the largest RSS among them (ru_maxrss, as time -f %M)
 *	self_user, self_sys
 *			CPU seconds of CMD's own process only (the coordinator
 *			when CMD is parrun), read from /proc while it is a
 *			zombie, 10 ms ticks
 *	self_hwm_kb	CMD's own peak RSS (VmHWM), sampled every 10 ms
 *	status		exit status, or 128+N for signal N
 *	timed_out	true when CMD ran past SECONDS, or timeit got SIGINT,
 *			SIGTERM or SIGHUP, and CMD was killed
 *	bg_cores	CPU the rest of the machine used meanwhile (busy time
 *			in /proc/stat less user+sys above), in cores
 *	steal_cores	time the hypervisor took, in cores
 *
 * With -t, CMD runs in its own process group, which gets SIGKILL at the
 * deadline and after CMD's exit, so nothing it started outlives the
 * measurement.  With -g, the
 * file DIR/PGID exists while that group may hold processes, so that a
 * caller that is itself killed can still end the group.  Exits with
 * CMD's status (2 on a usage or system error of its own).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* VmHWM of PID in kB, or -1. */
static long
read_hwm(pid_t pid)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, "VmHWM:", 6) == 0) {
			kb = strtol(line + 6, NULL, 10);
			break;
		}
	}
	fclose(f);
	return kb;
}

/* utime and stime (fields 14, 15) of PID in seconds; -1 when unknown. */
static void
read_self_cpu(pid_t pid, double *ut, double *st)
{
	char path[64], buf[1024], *p;
	unsigned long u, s;
	long tck = sysconf(_SC_CLK_TCK);
	size_t n;
	FILE *f;
	int i;

	*ut = *st = -1;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (f == NULL)
		return;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* the command name may hold spaces: fields count from its ')' */
	p = strrchr(buf, ')');
	if (p == NULL)
		return;
	p++;
	/* after ')' come fields 3.. ; skip to field 14 */
	for (i = 3; i < 14 && p != NULL; i++) {
		p = strchr(p + 1, ' ');
	}
	if (p == NULL || sscanf(p, " %lu %lu", &u, &s) != 2)
		return;
	*ut = (double)u / (double)tck;
	*st = (double)s / (double)tck;
}

/* Busy and stolen CPU seconds of the whole machine so far (/proc/stat). */
static void
read_machine_cpu(double *busy, double *steal)
{
	unsigned long long v[8] = { 0 };
	double tck = (double)sysconf(_SC_CLK_TCK);
	FILE *f = fopen("/proc/stat", "r");

	*busy = *steal = 0;
	if (f == NULL)
		return;
	if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0],
	    &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) == 8) {
		/* user nice system idle iowait irq softirq steal */
		*busy = (double)(v[0] + v[1] + v[2] + v[5] + v[6]) / tck;
		*steal = (double)v[7] / tck;
	}
	fclose(f);
}

static void
usage(void)
{
	fprintf(stderr, "usage: timeit [-i IN] [-o OUT] [-t SECONDS] "
	    "[-g DIR] [-l LABEL] -- CMD [ARG...]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	const char *in = "/dev/null", *out = "/dev/null", *label = "";
	const char *gdir = NULL;
	char gfile[4096] = "";
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	struct timespec tick = { 0, 10000000 };
	sigset_t chld, none;
	double limit = 0, t0, t1, su, ss, b0, b1, st0, st1, cpu;
	long hwm = -1, h;
	struct rusage ru;
	siginfo_t si;
	int opt, st, rc, sig, timed_out = 0;
	pid_t pid;

	while ((opt = getopt(argc, argv, "i:o:t:g:l:")) != -1) {
		switch (opt) {
		case 'i':
			in = optarg;
			break;
		case 'o':
			out = optarg;
			break;
		case 't':
			limit = atof(optarg);
			break;
		case 'l':
			label = optarg;
			break;
		case 'g':
			gdir = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind >= argc)
		usage();
	posix_spawn_file_actions_init(&fa);
	if (strcmp(in, "-") != 0)
		posix_spawn_file_actions_addopen(&fa, 0, in, O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, out, O_WRONLY | O_CREAT |
	    O_TRUNC, 0644);
	/* SIGCHLD blocked here, so the exit wakes sigtimedwait at once;
	 * INT, TERM and HUP too, to pass them on to the command's process
	 * group (with -t it is not ours).  The child starts with an empty
	 * mask. */
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigaddset(&chld, SIGINT);
	sigaddset(&chld, SIGTERM);
	sigaddset(&chld, SIGHUP);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	sigemptyset(&none);
	posix_spawnattr_init(&attr);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK |
	    (limit > 0 ? POSIX_SPAWN_SETPGROUP : 0));
	if (limit > 0)
		posix_spawnattr_setpgroup(&attr, 0);
	read_machine_cpu(&b0, &st0);
	t0 = now();
	rc = posix_spawnp(&pid, argv[optind], &fa, &attr, argv + optind,
	    environ);
	if (rc != 0) {
		fprintf(stderr, "timeit: cannot run '%s': %s\n", argv[optind],
		    strerror(rc));
		return 2;
	}
	if (gdir != NULL && limit > 0) {
		FILE *g;

		snprintf(gfile, sizeof(gfile), "%s/%d", gdir, (int)pid);
		g = fopen(gfile, "w");
		if (g != NULL)
			fclose(g);
	}
	/* wait for the exit without reaping: the zombie still shows its
	 * own CPU times; sample its peak RSS meanwhile */
	for (;;) {
		memset(&si, 0, sizeof(si));
		rc = waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT |
		    WNOHANG);
		if (rc < 0 && errno != EINTR) {
			perror("timeit: waitid");
			return 2;
		}
		if (rc == 0 && si.si_pid == pid)
			break;
		h = read_hwm(pid);
		if (h > hwm)
			hwm = h;
		if (limit > 0 && !timed_out && now() - t0 > limit) {
			kill(-pid, SIGKILL);
			timed_out = 1;
		}
		sig = sigtimedwait(&chld, NULL, &tick);
		if (sig == SIGINT || sig == SIGTERM || sig == SIGHUP) {
			/* interrupted: the command and all it started go */
			kill(limit > 0 ? -pid : pid, SIGKILL);
			timed_out = 1;
		}
	}
	t1 = now();
	read_machine_cpu(&b1, &st1);
	read_self_cpu(pid, &su, &ss);
	while (wait4(pid, &st, 0, &ru) < 0) {
		if (errno != EINTR) {
			perror("timeit: wait4");
			return 2;
		}
	}
	/* whatever CMD left behind in its group goes too */
	if (limit > 0)
		kill(-pid, SIGKILL);
	if (gfile[0] != '\0')
		unlink(gfile);
	rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	cpu = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 +
	    (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec * 1e-6;
	printf("{\"label\":\"%s\",\"wall\":%.6f,\"user\":%.3f,\"sys\":%.3f,"
	    "\"maxrss_kb\":%ld,\"self_user\":%.2f,\"self_sys\":%.2f,"
	    "\"self_hwm_kb\":%ld,\"status\":%d,\"timed_out\":%s,"
	    "\"bg_cores\":%.2f,\"steal_cores\":%.2f}\n", label, t1 - t0,
	    (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6,
	    (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec * 1e-6,
	    ru.ru_maxrss, su, ss, hwm, rc, timed_out ? "true" : "false",
	    t1 > t0 ? ((b1 - b0) - cpu) / (t1 - t0) : 0.0,
	    t1 > t0 ? (st1 - st0) / (t1 - t0) : 0.0);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	return rc;
}
