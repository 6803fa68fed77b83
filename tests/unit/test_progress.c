/* test_progress.c - lib/progress.c: the lines, and drawing on a
 * (non-TTY, forced) fd. */
#include "test.h"

#include <fcntl.h>
#include <math.h>
#include <stdbool.h>
#include <unistd.h>

#include "buf.h"
#include "progress.h"

static char *
fmt(unsigned mode, const struct pr_progress_state *st, double now,
    size_t width)
{
	struct pr_buf b;

	pr_buf_init(&b, 0);
	ASSERT_OK(pr_buf_add(&b, "", 0));
	ASSERT_OK(pr_progress_format(&b, mode, st, now, width));
	return pr_buf_detach(&b, NULL);
}

static char *
dur(double s)
{
	struct pr_buf b;

	pr_buf_init(&b, 0);
	ASSERT_OK(pr_progress_format_duration(&b, s));
	return pr_buf_detach(&b, NULL);
}

#define CHECK(got, want) do {						\
	char *g_ = (got);						\
	ASSERT_STR_EQ(g_, want);					\
	free(g_);							\
} while (0)

TEST(progress_duration)
{
	CHECK(dur(0), "0s");
	CHECK(dur(12.4), "12s");
	CHECK(dur(59.6), "1m00s");
	CHECK(dur(62), "1m02s");
	CHECK(dur(3723), "1h02m03s");
	CHECK(dur(-1), "--");
	CHECK(dur(NAN), "--");
	CHECK(dur(INFINITY), "--");
}

TEST(progress_bar_known_total)
{
	struct pr_progress_state st = { .done = 450, .total = 1000,
	    .total_known = true, .start = 100 };

	/* 450 in 45 s: 550 left at 10/s */
	CHECK(fmt(PR_PROGRESS_BAR, &st, 145, 0),
	    "[==================>                     ]  45% 450/1000 "
	    "ETA 55s");
	st.failed = 3;
	CHECK(fmt(PR_PROGRESS_BAR, &st, 145, 0),
	    "[==================>                     ]  45% 450/1000 "
	    "3 failed ETA 55s");
	/* a narrow terminal: the bar shrinks, the line fits */
	CHECK(fmt(PR_PROGRESS_BAR, &st, 145, 50),
	    "[=======>        ]  45% 450/1000 3 failed ETA 55s");
	st.done = 1000;
	st.failed = 0;
	CHECK(fmt(PR_PROGRESS_BAR, &st, 200, 0),
	    "[========================================] 100% 1000/1000 "
	    "ETA 0s");
	st.done = 0;
	CHECK(fmt(PR_PROGRESS_BAR, &st, 101, 0),
	    "[                                        ]   0% 0/1000 ETA --");
	st.total = 0;
	CHECK(fmt(PR_PROGRESS_BAR, &st, 101, 0),
	    "[========================================] 100% 0/0 ETA --");
}

TEST(progress_bar_unknown_total)
{
	struct pr_progress_state st = { .done = 123, .total = 500,
	    .total_known = false, .start = 0 };

	CHECK(fmt(PR_PROGRESS_BAR, &st, 10, 0),
	    "123 done 12.3/s elapsed 10s");
	st.done = 12345;
	st.failed = 2;
	CHECK(fmt(PR_PROGRESS_BAR, &st, 10, 0),
	    "12345 done 2 failed 1234/s elapsed 10s");
}

TEST(progress_eta_line)
{
	struct pr_progress_state st = { .done = 60, .total = 100,
	    .total_known = true, .start = 0 };

	CHECK(fmt(PR_PROGRESS_ETA, &st, 30, 0),
	    "ETA: 20s Left: 40 AVG: 0.50s Done: 60/100");
	st.failed = 1;
	CHECK(fmt(PR_PROGRESS_ETA, &st, 30, 0),
	    "ETA: 20s Left: 40 AVG: 0.50s Done: 60/100 1 failed");
	st.done = 0;
	st.failed = 0;
	CHECK(fmt(PR_PROGRESS_ETA, &st, 30, 0),
	    "ETA: -- Left: 100 AVG: -- Done: 0/100");
	st.total_known = false;
	st.done = 5;
	CHECK(fmt(PR_PROGRESS_ETA, &st, 2, 0),
	    "Done: 5 2.5/s elapsed 2s");
}

TEST(progress_workers_line)
{
	struct pr_progress_worker w[12];
	struct pr_progress_state st = { .done = 60, .total = 100,
	    .total_known = true, .start = 0, .workers = w, .nworkers = 3 };
	char *s;

	for (size_t i = 0; i < 12; i++) {
		w[i].running = i % 2;
		w[i].done = 10 + i;
	}
	CHECK(fmt(PR_PROGRESS_ETA | PR_PROGRESS_WORKERS, &st, 30, 0),
	    "ETA: 20s Left: 40 AVG: 0.50s Done: 60/100  1:0/10 2:1/11 "
	    "3:0/12");
	/* too many for the width: cut with "..." and never wrap */
	st.nworkers = 12;
	s = fmt(PR_PROGRESS_ETA | PR_PROGRESS_WORKERS, &st, 30, 70);
	ASSERT(strlen(s) <= 69);
	ASSERT(strstr(s, "  1:0/10 2:1/11") != NULL);
	ASSERT(strcmp(s + strlen(s) - 4, " ...") == 0);
	free(s);
	/* with the bar */
	st.nworkers = 2;
	CHECK(fmt(PR_PROGRESS_BAR | PR_PROGRESS_WORKERS, &st, 30, 0),
	    "[========================>               ]  60% 60/100 "
	    "ETA 20s  1:0/10 2:1/11");
}

TEST(progress_width_cut)
{
	struct pr_progress_state st = { .done = 5, .total_known = false,
	    .start = 0 };
	char *s = fmt(PR_PROGRESS_ETA, &st, 2, 10);

	ASSERT_STR_EQ(s, "Done: 5 2");
	free(s);
}

static char *
slurp_fd(int fd)
{
	struct pr_buf b;
	char tmp[512];
	off_t off = 0;
	ssize_t r;

	pr_buf_init(&b, 0);
	ASSERT_OK(pr_buf_add(&b, "", 0));
	while ((r = pread(fd, tmp, sizeof(tmp), off)) > 0) {
		ASSERT_OK(pr_buf_add(&b, tmp, (size_t)r));
		off += r;
	}
	return pr_buf_detach(&b, NULL);
}

TEST(progress_draw_and_clear)
{
	struct pr_progress_opts po = { .mode = PR_PROGRESS_ETA,
	    .width = 80 };
	struct pr_progress *p = (struct pr_progress *)&po;
	char path[] = "/tmp/pr-test-progress-XXXXXX";
	int fd = mkstemp(path);

	ASSERT(fd >= 0);
	unlink(path);
	po.fd = fd;
	/* not a TTY: nothing is drawn, and NULL is fine everywhere */
	ASSERT_OK(pr_progress_new(&p, &po, 0));
	ASSERT(p == NULL);
	pr_progress_started(p, 1);
	pr_progress_done(p, 1, true);
	pr_progress_update(p, 1);
	pr_progress_clear(p);
	pr_progress_free(p);
	ASSERT(pr_progress_state(p) == NULL);
	po.mode = 0;
	po.force = true;
	ASSERT_OK(pr_progress_new(&p, &po, 0));
	ASSERT(p == NULL);

	po.mode = PR_PROGRESS_ETA | PR_PROGRESS_WORKERS;
	ASSERT_OK(pr_progress_new(&p, &po, 0));
	ASSERT(p != NULL);
	pr_progress_set_total(p, 4, true);
	pr_progress_started(p, 1);
	pr_progress_started(p, 2);
	pr_progress_done(p, 1, true);
	pr_progress_started(p, 1);
	pr_progress_update(p, 1.0);
	pr_progress_done(p, 2, false);
	pr_progress_update(p, 1.05);		/* too soon: not drawn */
	pr_progress_stopped(p, 1);		/* lost, requeued */
	pr_progress_done(p, 0, false);		/* never ran */
	ASSERT_U64_EQ(pr_progress_state(p)->done, 3);
	ASSERT_U64_EQ(pr_progress_state(p)->failed, 2);
	ASSERT_U64_EQ(pr_progress_state(p)->running, 0);
	pr_progress_update(p, 1.2);
	pr_progress_clear(p);
	pr_progress_clear(p);			/* once is enough */
	pr_progress_free(p);
	CHECK(slurp_fd(fd),
	    "\rETA: 3s Left: 3 AVG: 1.00s Done: 1/4  1:1/1 2:1/0\033[K"
	    "\rETA: 0s Left: 1 AVG: 0.40s Done: 3/4 2 failed  1:0/1 2:0/1"
	    "\033[K\r\033[K");
	close(fd);
}
