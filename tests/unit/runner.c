/*
 * runner.c - runs the registered unit tests, each in a forked child with a
 * timeout, and prints TAP.  `unit-tests --list`, `unit-tests NAME...`
 * (NAME may end in '*').  PR_TEST_TIMEOUT sets the per-test limit in
 * seconds (default 60).
 */
#include "test.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct entry {
	const char *name;
	pr_test_fn fn;
};

static struct entry *tests;
static size_t ntests, captests;

void
pr_test_register(const char *name, pr_test_fn fn)
{
	if (ntests == captests) {
		captests = captests ? captests * 2 : 64;
		tests = realloc(tests, captests * sizeof(*tests));
		if (tests == NULL)
			abort();
	}
	tests[ntests].name = name;
	tests[ntests].fn = fn;
	ntests++;
}

const char *
pr_test_fixtures(void)
{
	const char *d = getenv("PR_FIXTURES");

	return d != NULL ? d : "tests/fixtures";
}

/*
 * Each test runs in its own process and gets one directory.  The runner
 * ends a passing test with _exit(), so atexit() would never run: a
 * watcher process removes the directory when the test's end closes the
 * pipe, however it ends (a crash and the timeout's SIGKILL included).
 */
const char *
pr_test_dir(void)
{
	static char dir[64];
	int p[2];
	pid_t pid;
	char c;

	if (dir[0] != '\0')
		return dir;
	snprintf(dir, sizeof(dir), "/tmp/pr-unit-XXXXXX");
	ASSERT(mkdtemp(dir) != NULL);
	ASSERT(pipe(p) == 0);
	pid = fork();
	ASSERT(pid >= 0);
	if (pid == 0) {
		/* out of the test's process group, which the runner kills
		 * when the test ends; and holding nothing of the test's
		 * (its pipes must see EOF) */
		setpgid(0, 0);
		for (int fd = 0; fd < 1024; fd++)
			if (fd != p[0])
				close(fd);
		for (;;) {
			ssize_t r = read(p[0], &c, 1);

			if (r == 0 || (r < 0 && errno != EINTR))
				break;
		}
		execlp("rm", "rm", "-rf", dir, (char *)NULL);
		_exit(127);
	}
	/* both sides, so the runner's kill cannot come first */
	(void)setpgid(pid, pid);
	close(p[0]);
	(void)fcntl(p[1], F_SETFD, FD_CLOEXEC);
	return dir;
}

char *
pr_test_path(const char *name)
{
	static char buf[8][256];
	static int next;
	char *b = buf[next++ % 8];

	snprintf(b, sizeof(buf[0]), "%s/%s", pr_test_dir(), name);
	return b;
}

static int
cmp_entry(const void *a, const void *b)
{
	return strcmp(((const struct entry *)a)->name,
	    ((const struct entry *)b)->name);
}

static bool
selected(const char *name, int argc, char **argv)
{
	if (argc == 0)
		return true;
	for (int i = 0; i < argc; i++) {
		size_t n = strlen(argv[i]);
		if (n > 0 && argv[i][n - 1] == '*') {
			if (strncmp(name, argv[i], n - 1) == 0)
				return true;
		} else if (strcmp(name, argv[i]) == 0) {
			return true;
		}
	}
	return false;
}

/* 0 pass, 1 fail, 7 skip */
static int
run_one(const struct entry *t, int timeout)
{
	pid_t pid;
	int status = 0;
	struct timespec start, now;

	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		perror("fork");
		return 1;
	}
	if (pid == 0) {
		setpgid(0, 0);
		t->fn();
		fflush(NULL);
		_exit(0);
	}
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			break;
		if (r < 0 && errno != EINTR) {
			perror("waitpid");
			return 1;
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - start.tv_sec >= timeout) {
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			fprintf(stderr, "# timed out after %d s\n", timeout);
			return 1;
		}
		struct timespec ts = { 0, 2 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	/* the test's own helpers share its process group */
	kill(-pid, SIGKILL);
	if (WIFEXITED(status))
		return WEXITSTATUS(status) == 7 ? 7 : WEXITSTATUS(status) != 0;
	fprintf(stderr, "# killed by signal %d\n", WTERMSIG(status));
	return 1;
}

int
main(int argc, char **argv)
{
	int timeout = 60, failed = 0, passed = 0, skipped = 0, n = 0;
	const char *e = getenv("PR_TEST_TIMEOUT");

	if (e != NULL && atoi(e) > 0)
		timeout = atoi(e);
	qsort(tests, ntests, sizeof(*tests), cmp_entry);
	if (argc > 1 && strcmp(argv[1], "--list") == 0) {
		for (size_t i = 0; i < ntests; i++)
			printf("%s\n", tests[i].name);
		return 0;
	}
	for (size_t i = 0; i < ntests; i++)
		n += selected(tests[i].name, argc - 1, argv + 1);
	printf("1..%d\n", n);
	n = 0;
	for (size_t i = 0; i < ntests; i++) {
		int r;

		if (!selected(tests[i].name, argc - 1, argv + 1))
			continue;
		r = run_one(&tests[i], timeout);
		n++;
		if (r == 0) {
			printf("ok %d - %s\n", n, tests[i].name);
			passed++;
		} else if (r == 7) {
			printf("ok %d - %s # skip\n", n, tests[i].name);
			skipped++;
		} else {
			printf("not ok %d - %s\n", n, tests[i].name);
			failed++;
		}
	}
	printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
	return failed != 0;
}
