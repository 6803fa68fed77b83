/*
 * kutil.c - helpers shared by the compute kernels (see kutil.h).
 *
 * Owner: h5.
 */
#include "kutil.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "rng.h"

#define HUGE_ALIGN	((size_t)2 << 20)

/* ---- buffers ---------------------------------------------------------- */

void
pr_kbuf_release(struct pr_kbuf *b)
{
	if (b->map != NULL)
		munmap(b->map, b->maplen);
	b->p = NULL;
	b->cap = 0;
	b->map = NULL;
	b->maplen = 0;
}

int
pr_kbuf_reserve(struct pr_kbuf *b, size_t bytes)
{
	size_t len, maplen;
	uintptr_t start;
	void *map;

	if (bytes <= b->cap && b->p != NULL)
		return 0;
	pr_kbuf_release(b);
	if (bytes == 0)
		bytes = 1;
	if (bytes > SIZE_MAX / 2)
		return -ENOMEM;
	/* whole huge pages, plus one for the alignment */
	len = (bytes + HUGE_ALIGN - 1) & ~(HUGE_ALIGN - 1);
	maplen = len + HUGE_ALIGN;
	map = mmap(NULL, maplen, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (map == MAP_FAILED)
		return -ENOMEM;
	start = ((uintptr_t)map + HUGE_ALIGN - 1) &
	    ~(uintptr_t)(HUGE_ALIGN - 1);
#ifdef MADV_HUGEPAGE
	(void)madvise((void *)start, len, MADV_HUGEPAGE);
#endif
	b->p = (void *)start;
	b->cap = len;
	b->map = map;
	b->maplen = maplen;
	return 0;
}

/* ---- memory bound ----------------------------------------------------- */

/* The first number after `key` in file path, in units of `unit`;
 * false when absent. */
static bool
read_field(const char *path, const char *key, uint64_t unit, uint64_t *out)
{
	char line[256];
	size_t klen = strlen(key);
	bool found = false;
	FILE *f;

	f = fopen(path, "r");
	if (f == NULL)
		return false;
	while (!found && fgets(line, sizeof(line), f) != NULL) {
		char *end;
		unsigned long long v;

		if (strncmp(line, key, klen) != 0)
			continue;
		errno = 0;
		v = strtoull(line + klen, &end, 10);
		if (errno == 0 && end != line + klen) {
			*out = (v > UINT64_MAX / unit) ? UINT64_MAX :
			    (uint64_t)v * unit;
			found = true;
		}
	}
	fclose(f);
	return found;
}

/* Room under cgroup v2 memory.max along the path of this process's
 * cgroup, or UINT64_MAX. */
static uint64_t
cgroup_room(void)
{
	char line[1024], path[1200];
	uint64_t room = UINT64_MAX;
	FILE *f;
	char *p;

	f = fopen("/proc/self/cgroup", "r");
	if (f == NULL)
		return room;
	p = NULL;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, "0::", 3) == 0) {
			p = line + 3;
			p[strcspn(p, "\n")] = '\0';
			break;
		}
	}
	fclose(f);
	if (p == NULL || p[0] != '/')
		return room;
	for (;;) {
		uint64_t max, cur;
		char *slash;
		int n;

		n = snprintf(path, sizeof(path), "/sys/fs/cgroup%s/memory.max",
		    p);
		if (n > 0 && (size_t)n < sizeof(path) &&
		    read_field(path, "", 1, &max)) {
			n = snprintf(path, sizeof(path),
			    "/sys/fs/cgroup%s/memory.current", p);
			if (n > 0 && (size_t)n < sizeof(path) &&
			    read_field(path, "", 1, &cur))
				room = (cur >= max) ? 0 : (max - cur < room ?
				    max - cur : room);
		}
		slash = strrchr(p, '/');
		if (slash == NULL || slash == p)
			break;
		*slash = '\0';
	}
	return room;
}

size_t
pr_kmem_available(void)
{
	uint64_t avail = UINT64_MAX, room;

	(void)read_field("/proc/meminfo", "MemAvailable:", 1024, &avail);
	room = cgroup_room();
	if (room < avail)
		avail = room;
	return avail > SIZE_MAX ? SIZE_MAX : (size_t)avail;
}

int
pr_kmem_check(size_t more, const char *kernel, const char *param,
    struct pr_errbuf *eb)
{
	size_t avail;

	if (more == 0)
		return 0;
	avail = pr_kmem_available();
	if (more <= avail / 2)
		return 0;
	return pr_err(eb, PR_ELIMIT, "kernel '%s': parameter '%s' needs %zu "
	    "MiB more memory, over half of the %zu MiB available", kernel,
	    param, (more + (1 << 20) - 1) >> 20, avail >> 20);
}

/* ---- time and threads ------------------------------------------------- */

int
pr_kstopped_err(struct pr_kctx *ctx, const char *kernel)
{
	return pr_err(ctx->eb, -ECANCELED, "kernel '%s': stopped", kernel);
}

double
pr_ktime(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

uint64_t
pr_kstream(const struct pr_kctx *ctx)
{
	const char *id = ctx->task_id != NULL ? ctx->task_id : "";

	return pr_rng_key(id, strlen(id));
}

int
pr_kmetrics(struct pr_kctx *ctx, const char *kernel, const char *fmt, ...)
{
	va_list ap;
	int rc;

	if (ctx->extra == NULL)
		return 0;
	va_start(ap, fmt);
	rc = pr_buf_vaddf(ctx->extra, fmt, ap);
	va_end(ap);
	if (rc < 0)
		return pr_err(ctx->eb, rc, "kernel '%s': cannot add metrics: "
		    "%s", kernel, pr_strerror(rc));
	return 0;
}

int
pr_kthreads(const cJSON *params, const char *kernel,
    const struct pr_kctx *ctx, int *out)
{
	int64_t t = ctx->threads;
	int rc;

	if (t < 1)
		t = 1;
	if (t > PR_KTEAM_MAX)
		t = PR_KTEAM_MAX;
	rc = pr_kparam_int(params, kernel, "threads", 1, PR_KTEAM_MAX, true,
	    &t, ctx->eb);
	if (rc < 0)
		return rc;
	*out = (int)t;
	return 0;
}

/*
 * The team's barrier spins first and sleeps after: the kernels' phases
 * between barriers are short (a radix pass of 250000 keys takes 0.3 ms),
 * and waking a thread blocked in the kernel costs tens of microseconds on
 * a virtual machine.  A waiter that has spun BARRIER_SPIN times sleeps on
 * the condition variable, so oversubscribed teams do not burn CPU.
 */
#define BARRIER_SPIN	20000	/* about 1 ms */

struct pr_kteam {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int state;		/* 0 wait, 1 run, 2 quit */
	int nth;
	atomic_uint arrived;	/* at the current barrier */
	atomic_uint gen;	/* barriers passed */
	pr_kteam_cb cb;
	void *arg;
};

struct kmember {
	struct pr_kteam *team;
	int id;
	pthread_t th;
};

static inline void
cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

static void *
member_main(void *p)
{
	struct kmember *m = p;
	struct pr_kteam *t = m->team;
	int state;

	pthread_mutex_lock(&t->mu);
	while (t->state == 0)
		pthread_cond_wait(&t->cv, &t->mu);
	state = t->state;
	pthread_mutex_unlock(&t->mu);
	if (state == 1)
		t->cb(t->arg, m->id, t->nth, t);
	return NULL;
}

int
pr_kteam_run(int nth, pr_kteam_cb cb, void *arg)
{
	struct kmember members[PR_KTEAM_MAX];
	struct pr_kteam t;
	int made = 1, i;

	if (nth < 1)
		nth = 1;
	if (nth > PR_KTEAM_MAX)
		nth = PR_KTEAM_MAX;
	t.nth = 1;
	atomic_init(&t.arrived, 0);
	atomic_init(&t.gen, 0);
	if (nth == 1) {
		cb(arg, 0, 1, &t);
		return 1;
	}
	pthread_mutex_init(&t.mu, NULL);
	pthread_cond_init(&t.cv, NULL);
	t.state = 0;
	t.cb = cb;
	t.arg = arg;
	for (i = 1; i < nth; i++) {
		members[i].team = &t;
		members[i].id = i;
		if (pthread_create(&members[i].th, NULL, member_main,
		    &members[i]) != 0)
			break;
		made++;
	}
	/* the team is as large as the threads that started */
	pthread_mutex_lock(&t.mu);
	t.nth = made;
	t.state = 1;
	pthread_cond_broadcast(&t.cv);
	pthread_mutex_unlock(&t.mu);
	cb(arg, 0, made, &t);
	for (i = 1; i < made; i++)
		pthread_join(members[i].th, NULL);
	pthread_cond_destroy(&t.cv);
	pthread_mutex_destroy(&t.mu);
	return made;
}

void
pr_kteam_barrier(struct pr_kteam *team)
{
	unsigned g, i;

	if (team->nth <= 1)
		return;
	g = atomic_load(&team->gen);
	if (atomic_fetch_add(&team->arrived, 1) + 1 == (unsigned)team->nth) {
		atomic_store(&team->arrived, 0);
		/* the lock orders this against a waiter about to sleep */
		pthread_mutex_lock(&team->mu);
		atomic_fetch_add(&team->gen, 1);
		pthread_cond_broadcast(&team->cv);
		pthread_mutex_unlock(&team->mu);
		return;
	}
	for (i = 0; i < BARRIER_SPIN; i++) {
		if (atomic_load(&team->gen) != g)
			return;
		/* let a member that shares this CPU run (a thread just
		 * created often starts on its creator's CPU) */
		if ((i & 63) == 63)
			sched_yield();
		else
			cpu_relax();
	}
	pthread_mutex_lock(&team->mu);
	while (atomic_load(&team->gen) == g)
		pthread_cond_wait(&team->cv, &team->mu);
	pthread_mutex_unlock(&team->mu);
}

/* ---- random fills ----------------------------------------------------- */

#define FILL_BLOCK	((size_t)1 << 16)	/* 512 KiB between looks at stop */

struct fill_job {
	double *x;
	size_t n;
	uint64_t seed, stream;
	const atomic_int *stop;
};

static void
fill_part(void *arg, int id, int nth, struct pr_kteam *team)
{
	struct fill_job *j = arg;
	size_t lo = pr_kpart(j->n, id, nth), hi = pr_kpart(j->n, id + 1, nth);
	struct pr_rng r;
	size_t m;

	(void)team;
	pr_rng_init(&r, j->seed, j->stream);
	pr_rng_seek(&r, lo);
	/* the blocks continue one stream: the values are those of one fill */
	for (; lo < hi && !pr_kstop_set(j->stop); lo += m) {
		m = hi - lo < FILL_BLOCK ? hi - lo : FILL_BLOCK;
		pr_rng_fill_double(&r, j->x + lo, m);
	}
}

int
pr_kfill_double_stop(double *x, size_t n, uint64_t seed, uint64_t stream,
    int nth, const atomic_int *stop)
{
	struct fill_job j = { x, n, seed, stream, stop };

	/* a thread is worth it from about a millisecond of work */
	if (n < ((size_t)1 << 18))
		nth = 1;
	pr_kteam_run(nth, fill_part, &j);
	return pr_kstop_set(stop) ? -ECANCELED : 0;
}

void
pr_kfill_double(double *x, size_t n, uint64_t seed, uint64_t stream,
    int nth)
{
	(void)pr_kfill_double_stop(x, n, seed, stream, nth, NULL);
}
