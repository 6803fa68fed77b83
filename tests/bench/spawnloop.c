/*
 * spawnloop.c - the limit for running commands: a plain posix_spawn loop
 * with J children in flight, as the baseline of `make bench`.
 *
 * Owner: h11.
 *
 *	spawnloop [-j J] CMD [ARG...] < lines
 *
 * Reads one value per input line and runs CMD ARG... with every "{}" in
 * the arguments replaced by the value (no shell), keeping J children
 * running (default 2).  Children inherit stdin (/dev/null), stdout and
 * stderr: no pipes, no output grouping, nothing a job runner adds.  Exits
 * 0 when every child exited 0, 1 otherwise, 2 on a usage or system error.
 */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define ARG_MAX_LEN	4096

/* Writes ARG with every "{}" replaced by VAL into OUT (OUTLEN bytes);
 * returns -1 when it does not fit. */
static int
subst(const char *arg, const char *val, char *out, size_t outlen)
{
	size_t o = 0, vl = strlen(val);

	while (*arg != '\0') {
		if (arg[0] == '{' && arg[1] == '}') {
			if (o + vl >= outlen)
				return -1;
			memcpy(out + o, val, vl);
			o += vl;
			arg += 2;
		} else {
			if (o + 1 >= outlen)
				return -1;
			out[o++] = *arg++;
		}
	}
	out[o] = '\0';
	return 0;
}

static int
reap(int *failed)
{
	int st;
	pid_t p;

	do
		p = waitpid(-1, &st, 0);
	while (p < 0 && errno == EINTR);
	if (p < 0) {
		perror("spawnloop: waitpid");
		return -1;
	}
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		(*failed)++;
	return 0;
}

int
main(int argc, char **argv)
{
	posix_spawn_file_actions_t fa;
	char line[ARG_MAX_LEN], **cargv = NULL, *bufs = NULL;
	int jobs = 2, a = 1, nargs, i, running = 0, failed = 0, rc = 2;
	size_t len;
	pid_t pid;

	if (a + 1 < argc && strcmp(argv[a], "-j") == 0) {
		jobs = atoi(argv[a + 1]);
		a += 2;
	} else if (a < argc && strncmp(argv[a], "-j", 2) == 0) {
		jobs = atoi(argv[a] + 2);
		a++;
	}
	if (a >= argc || jobs < 1 || jobs > 1024) {
		fprintf(stderr, "usage: spawnloop [-j J] CMD [ARG...]\n");
		return 2;
	}
	nargs = argc - a;
	cargv = calloc((size_t)nargs + 1, sizeof(*cargv));
	bufs = malloc((size_t)nargs * ARG_MAX_LEN);
	if (cargv == NULL || bufs == NULL) {
		fprintf(stderr, "spawnloop: out of memory\n");
		goto out;
	}
	for (i = 0; i < nargs; i++)
		cargv[i] = bufs + (size_t)i * ARG_MAX_LEN;
	/* the children read nothing: stdin from /dev/null */
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	while (fgets(line, sizeof(line), stdin) != NULL) {
		len = strlen(line);
		if (len > 0 && line[len - 1] == '\n')
			line[--len] = '\0';
		for (i = 0; i < nargs; i++) {
			if (subst(argv[a + i], line, cargv[i],
			    ARG_MAX_LEN) < 0) {
				fprintf(stderr, "spawnloop: argument too "
				    "long\n");
				goto out_fa;
			}
		}
		if (running == jobs) {
			if (reap(&failed) < 0)
				goto out_fa;
			running--;
		}
		errno = posix_spawnp(&pid, cargv[0], &fa, NULL, cargv,
		    environ);
		if (errno != 0) {
			fprintf(stderr, "spawnloop: cannot run '%s': %s\n",
			    cargv[0], strerror(errno));
			goto out_fa;
		}
		running++;
	}
	while (running > 0) {
		if (reap(&failed) < 0)
			goto out_fa;
		running--;
	}
	rc = failed > 0;
out_fa:
	posix_spawn_file_actions_destroy(&fa);
out:
	free(cargv);
	free(bufs);
	return rc;
}
