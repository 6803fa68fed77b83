/* test_sched.c - scheduling decisions */
#include "test.h"

#include "sched.h"

TEST(sched_parse_names)
{
	enum pr_schedule s;

	ASSERT_OK(pr_sched_parse("dynamic", &s));
	ASSERT_EQ(s, PR_SCHED_DYNAMIC);
	ASSERT_OK(pr_sched_parse("static", &s));
	ASSERT_EQ(s, PR_SCHED_STATIC);
	ASSERT_OK(pr_sched_parse("guided", &s));
	ASSERT_EQ(s, PR_SCHED_GUIDED);
	ASSERT(pr_sched_parse("sideways", &s) < 0);
	ASSERT_STR_EQ(pr_sched_name(PR_SCHED_GUIDED), "guided");
}

TEST(sched_static_round_robin)
{
	/* task i goes to worker (i-1) mod W: 1,2,3,1,2,3,... */
	for (uint64_t seq = 1; seq <= 12; seq++)
		ASSERT_EQ(pr_sched_static_worker(seq, 3), (int)((seq - 1) % 3));
	ASSERT_EQ(pr_sched_static_worker(1, 1), 0);
}

TEST(sched_fixed_batch_is_kept)
{
	struct pr_sched s;

	pr_sched_init(&s, PR_SCHED_DYNAMIC, 16, 2);
	ASSERT_EQ(pr_sched_batch(&s, 1000, false), 16);
	ASSERT_EQ(pr_sched_batch(&s, 3, true), 16);
	pr_sched_init(&s, PR_SCHED_STATIC, 8, 2);
	ASSERT_EQ(pr_sched_batch(&s, 1000, false), 8);
}

TEST(sched_auto_batch_starts_at_one_and_grows_for_tiny_tasks)
{
	struct pr_sched s;
	unsigned b;

	pr_sched_init(&s, PR_SCHED_DYNAMIC, 0, 2);
	ASSERT_EQ(pr_sched_batch(&s, 100000, false), 1);
	/* 1 microsecond tasks: a batch should cover ~2 ms of work */
	pr_sched_observe(&s, 64e-6, 64);
	b = pr_sched_batch(&s, 100000, false);
	ASSERT(b >= 1000 && b <= PR_SCHED_BATCH_MAX);
	/* long tasks: one at a time */
	pr_sched_init(&s, PR_SCHED_DYNAMIC, 0, 2);
	pr_sched_observe(&s, 1.0, 1);
	ASSERT_EQ(pr_sched_batch(&s, 100000, false), 1);
}

TEST(sched_auto_batch_spreads_the_tail)
{
	struct pr_sched s;

	pr_sched_init(&s, PR_SCHED_DYNAMIC, 0, 4);
	pr_sched_observe(&s, 0, 100);	/* instant tasks */
	/* 80 tasks left over 4 workers: at most 10 per message */
	ASSERT_EQ(pr_sched_batch(&s, 80, true), 10);
	ASSERT_EQ(pr_sched_batch(&s, 1, true), 1);
	ASSERT_EQ(pr_sched_batch(&s, 80, false), PR_SCHED_BATCH_MAX);
}

TEST(sched_guided_shrinks_with_the_queue)
{
	struct pr_sched s;
	unsigned prev = ~0u, b;

	pr_sched_init(&s, PR_SCHED_GUIDED, 0, 2);
	pr_sched_observe(&s, 1.0, 1);	/* slow tasks: minimum batch 1 */
	for (size_t pending = 4000; pending > 0; pending /= 2) {
		b = pr_sched_batch(&s, pending, true);
		ASSERT(b <= prev);
		ASSERT(b >= 1);
		ASSERT(b == 1 || b == pending / 4 || b == PR_SCHED_BATCH_MAX);
		prev = b;
	}
	ASSERT_EQ(pr_sched_batch(&s, 1000, true), 250);
}

TEST(sched_window_holds_slots_plus_two_batches)
{
	struct pr_sched s;

	pr_sched_init(&s, PR_SCHED_DYNAMIC, 0, 2);
	/* unknown length, one at a time: the slots alone */
	ASSERT_EQ(pr_sched_window(&s, 1, 1), 1);
	ASSERT_EQ(pr_sched_window(&s, 0, 1), 1);
	ASSERT_EQ(pr_sched_window(&s, 4, 1), 4);
	/* batches: two of them */
	ASSERT_EQ(pr_sched_window(&s, 4, 64), 132);
	/* long measured tasks: nothing queued behind a running one */
	pr_sched_observe(&s, 2.0, 1);
	ASSERT_EQ(pr_sched_window(&s, 3, 1), 3);
	/* a fixed batch size is the user's: two batches whatever */
	pr_sched_init(&s, PR_SCHED_DYNAMIC, 5, 2);
	ASSERT_EQ(pr_sched_window(&s, 1, 5), 11);
}

TEST(sched_window_holds_a_millisecond_of_tiny_tasks)
{
	struct pr_sched s;

	/* batch 1 fixed, as --batch-size 1 */
	pr_sched_init(&s, PR_SCHED_DYNAMIC, 1, 2);
	/* nothing measured yet: two batches, as before */
	ASSERT_EQ(pr_sched_window(&s, 2, 1), 4);
	/* 10 us tasks: 1 ms of them is 100 queued ahead */
	pr_sched_observe(&s, 10e-6, 1);
	ASSERT_EQ(pr_sched_window(&s, 2, 1), 2 + 100);
	/* instant tasks: the cap */
	pr_sched_observe(&s, 0, 1000);
	s.task_time = 0;
	ASSERT_EQ(pr_sched_window(&s, 2, 1), 2 + PR_SCHED_PREFETCH_MAX);
	/* long tasks are never held away from idle workers */
	s.task_time = 0.5;
	ASSERT_EQ(pr_sched_window(&s, 2, 1), 4);
	/* big batches keep their two batches */
	s.task_time = 1e-6;
	ASSERT_EQ(pr_sched_window(&s, 2, 1000), 2 + 2000);
}

TEST(sched_window_queues_one_equal_chunk_per_slot)
{
	struct pr_sched s;

	pr_sched_init(&s, PR_SCHED_DYNAMIC, 0, 2);
	s.equal_tasks = true;
	/* --range chunks: the next one waits on the worker, even long ones */
	ASSERT_EQ(pr_sched_window(&s, 1, 1), 2);
	ASSERT_EQ(pr_sched_window(&s, 4, 1), 8);
	pr_sched_observe(&s, 2.0, 1);
	ASSERT_EQ(pr_sched_window(&s, 3, 1), 6);
	/* short ones keep their millisecond's worth */
	s.task_time = 10e-6;
	ASSERT_EQ(pr_sched_window(&s, 2, 1), 2 + 100);
	/* and without equal_tasks, long ones are not held */
	s.equal_tasks = false;
	s.task_time = 2.0;
	ASSERT_EQ(pr_sched_window(&s, 3, 1), 3);
}

TEST(sched_observe_moves_towards_new_times)
{
	struct pr_sched s;

	pr_sched_init(&s, PR_SCHED_DYNAMIC, 0, 1);
	pr_sched_observe(&s, 0.010, 1);
	ASSERT_DBL_NEAR(s.task_time, 0.010, 1e-12);
	for (int i = 0; i < 20; i++)
		pr_sched_observe(&s, 0.001 * 64, 64);
	ASSERT_DBL_NEAR(s.task_time, 0.001, 1e-4);
	ASSERT_U64_EQ(s.observed, 1 + 20 * 64);
}
