/*
 * rawpipe.c - the limit for dispatching tiny tasks to local processes:
 * a parent that reads JSON task lines from stdin, parses each with cJSON,
 * writes them to W child processes over pipes in batches of B, and reads
 * one JSON result line per task back, parsed with cJSON.  What a job
 * runner over pipes and JSON cannot beat on this machine; the baseline of
 * `make bench`.
 *
 * Owner: h11.
 *
 *	rawpipe [-v] [-w W] [-b B] < tasks.jsonl
 *
 * Defaults: W = 2 children, B = 64 tasks a batch, 2 batches in flight per
 * child (the next one is already in the pipe when a child finishes one).
 * Each input line must be a JSON object with "kernel":"noop"; the child
 * answers {"seq":N,"status":"ok"}.  With -v, prints a JSON summary line
 * on stderr.
 * Exits 0 when every task came back, 1 otherwise, 2 on usage errors.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#define MAX_CHILD	64
#define INFLIGHT	2
#define RBUF		(256 * 1024)

struct child {
	pid_t pid;
	int to, from;		/* parent's ends: write tasks, read results */
	int batches;		/* batches written, not fully answered */
	long pending;		/* tasks written, not answered */
	long bsize[INFLIGHT + 1];	/* tasks in each batch in flight */
	char *rbuf;
	size_t rlen;
};

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int
write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* The child: read task lines, parse, run noop, answer each; flush the
 * answers whenever the input read so far is used up. */
static int
child_main(int in, int out)
{
	char *rb = malloc(RBUF), *wb = malloc(RBUF);
	size_t rl = 0, wl = 0;
	int rc = 1;

	if (rb == NULL || wb == NULL)
		goto done;
	for (;;) {
		ssize_t r = read(in, rb + rl, RBUF - rl);
		char *p, *nl;

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			goto done;
		if (r == 0)
			break;
		rl += (size_t)r;
		p = rb;
		while ((nl = memchr(p, '\n', rl - (size_t)(p - rb))) != NULL) {
			cJSON *t, *seq, *k;
			int n;

			*nl = '\0';
			t = cJSON_Parse(p);
			seq = cJSON_GetObjectItemCaseSensitive(t, "seq");
			k = cJSON_GetObjectItemCaseSensitive(t, "kernel");
			if (!cJSON_IsNumber(seq) || !cJSON_IsString(k) ||
			    strcmp(k->valuestring, "noop") != 0) {
				cJSON_Delete(t);
				goto done;
			}
			if (wl + 64 > RBUF) {
				if (write_all(out, wb, wl) < 0)
					goto done;
				wl = 0;
			}
			n = snprintf(wb + wl, RBUF - wl,
			    "{\"seq\":%.0f,\"status\":\"ok\"}\n",
			    seq->valuedouble);
			wl += (size_t)n;
			cJSON_Delete(t);
			p = nl + 1;
		}
		rl -= (size_t)(p - rb);
		memmove(rb, p, rl);
		if (wl > 0) {
			if (write_all(out, wb, wl) < 0)
				goto done;
			wl = 0;
		}
	}
	rc = 0;
done:
	free(rb);
	free(wb);
	return rc;
}

static int
spawn_child(struct child *c, struct child *all, int nall)
{
	int tp[2], fp[2], i;

	if (pipe(tp) < 0 || pipe(fp) < 0)
		return -1;
	c->pid = fork();
	if (c->pid < 0)
		return -1;
	if (c->pid == 0) {
		close(tp[1]);
		close(fp[0]);
		for (i = 0; i < nall; i++) {
			if (all[i].pid > 0) {
				close(all[i].to);
				close(all[i].from);
			}
		}
		_exit(child_main(tp[0], fp[1]));
	}
	close(tp[0]);
	close(fp[1]);
	c->to = tp[1];
	c->from = fp[0];
	c->rbuf = malloc(RBUF);
	return c->rbuf == NULL ? -1 : 0;
}

/* Reads the next batch of up to B tasks from stdin into OUT as task lines
 * with sequence numbers; returns the count (0 at the end, -1 on bad
 * input). */
static long
next_batch(long b, long *seq, char *out, size_t cap, size_t *len)
{
	static char *line;
	static size_t lcap;
	long n = 0;
	size_t o = 0;

	while (n < b && o + 128 < cap) {
		ssize_t l = getline(&line, &lcap, stdin);
		cJSON *t, *k;

		if (l < 0)
			break;
		t = cJSON_Parse(line);
		k = cJSON_GetObjectItemCaseSensitive(t, "kernel");
		if (!cJSON_IsString(k)) {
			cJSON_Delete(t);
			fprintf(stderr, "rawpipe: bad task line %ld\n",
			    *seq + 1);
			return -1;
		}
		o += (size_t)snprintf(out + o, cap - o,
		    "{\"seq\":%ld,\"kernel\":\"%s\"}\n", ++*seq,
		    k->valuestring);
		cJSON_Delete(t);
		n++;
	}
	*len = o;
	return n;
}

/* Parses the complete result lines in C's buffer; returns the number of
 * answers, -1 on a bad one. */
static long
take_results(struct child *c)
{
	char *p = c->rbuf, *nl;
	long got = 0;

	while ((nl = memchr(p, '\n', c->rlen - (size_t)(p - c->rbuf))) !=
	    NULL) {
		cJSON *r, *st;

		*nl = '\0';
		r = cJSON_Parse(p);
		st = cJSON_GetObjectItemCaseSensitive(r, "status");
		if (!cJSON_IsString(st) || strcmp(st->valuestring, "ok") != 0) {
			cJSON_Delete(r);
			return -1;
		}
		cJSON_Delete(r);
		got++;
		p = nl + 1;
	}
	c->rlen -= (size_t)(p - c->rbuf);
	memmove(c->rbuf, p, c->rlen);
	return got;
}

int
main(int argc, char **argv)
{
	struct child ch[MAX_CHILD];
	struct pollfd pfd[MAX_CHILD];
	long b = 64, seq = 0, done = 0;
	int w = 2, i, opt, eof = 0, rc = 1, live, verbose = 0;
	char *wbuf;
	double t0;

	while ((opt = getopt(argc, argv, "vw:b:")) != -1) {
		if (opt == 'v')
			verbose = 1;
		else if (opt == 'w')
			w = atoi(optarg);
		else if (opt == 'b')
			b = atol(optarg);
		else
			goto usage;
	}
	if (optind != argc || w < 1 || w > MAX_CHILD || b < 1 || b > 1000)
		goto usage;
	signal(SIGPIPE, SIG_IGN);
	memset(ch, 0, sizeof(ch));
	wbuf = malloc((size_t)b * 128 + 256);
	if (wbuf == NULL)
		return 2;
	t0 = now();
	for (i = 0; i < w; i++) {
		if (spawn_child(&ch[i], ch, w) < 0) {
			perror("rawpipe: spawn");
			return 2;
		}
	}
	for (;;) {
		/* keep INFLIGHT batches in each child's pipe */
		for (i = 0; i < w && !eof; i++) {
			while (ch[i].batches < INFLIGHT && !eof) {
				size_t len;
				long n = next_batch(b, &seq, wbuf,
				    (size_t)b * 128 + 256, &len);

				if (n < 0)
					goto out;
				if (n == 0) {
					eof = 1;
					break;
				}
				if (write_all(ch[i].to, wbuf, len) < 0)
					goto out;
				ch[i].bsize[ch[i].batches++] = n;
				ch[i].pending += n;
			}
		}
		live = 0;
		for (i = 0; i < w; i++) {
			pfd[i].fd = ch[i].pending > 0 ? ch[i].from : -1;
			pfd[i].events = POLLIN;
			live += ch[i].pending > 0;
		}
		if (live == 0 && eof)
			break;
		if (poll(pfd, (nfds_t)w, -1) < 0) {
			if (errno == EINTR)
				continue;
			goto out;
		}
		for (i = 0; i < w; i++) {
			ssize_t r;
			long got;

			if (pfd[i].fd < 0 || pfd[i].revents == 0)
				continue;
			r = read(ch[i].from, ch[i].rbuf + ch[i].rlen,
			    RBUF - ch[i].rlen);
			if (r <= 0)
				goto out;
			ch[i].rlen += (size_t)r;
			got = take_results(&ch[i]);
			if (got < 0)
				goto out;
			done += got;
			ch[i].pending -= got;
			/* retire the batches answered in full */
			while (ch[i].batches > 0 && got >= ch[i].bsize[0]) {
				got -= ch[i].bsize[0];
				memmove(ch[i].bsize, ch[i].bsize + 1,
				    sizeof(long) * INFLIGHT);
				ch[i].batches--;
			}
			if (ch[i].batches > 0)
				ch[i].bsize[0] -= got;
		}
	}
	rc = done == seq ? 0 : 1;
out:
	for (i = 0; i < w; i++) {
		if (ch[i].pid > 0) {
			close(ch[i].to);
			close(ch[i].from);
			waitpid(ch[i].pid, NULL, 0);
		}
		free(ch[i].rbuf);
	}
	free(wbuf);
	if (verbose || rc != 0)
		fprintf(stderr, "{\"tasks\":%ld,\"done\":%ld,"
		    "\"seconds\":%.6f,\"tasks_per_s\":%.0f}\n", seq, done,
		    now() - t0, (double)done / (now() - t0));
	return rc;
usage:
	fprintf(stderr, "usage: rawpipe [-v] [-w W] [-b B] < tasks.jsonl\n");
	return 2;
}
