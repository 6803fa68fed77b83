/* test_halt.c - --halt: parsing and when it says stop. */
#include "test.h"

#include "halt.h"

static struct pr_halt
parse_ok(const char *s)
{
	struct pr_errbuf eb = { 0, "" };
	struct pr_halt h;

	if (pr_halt_parse(s, &h, &eb) != 0)
		PR_TEST_FAIL("pr_halt_parse(\"%s\"): %s", s, eb.msg);
	return h;
}

TEST(halt_parse_forms)
{
	struct pr_halt h;
	char buf[64];

	h = parse_ok("never");
	ASSERT_EQ(h.when, PR_HALT_NEVER);
	h = parse_ok("0");
	ASSERT_EQ(h.when, PR_HALT_NEVER);
	h = parse_ok("1");
	ASSERT_STR_EQ(pr_halt_format(&h, buf, sizeof(buf)), "soon,fail=1");
	h = parse_ok("2");
	ASSERT_STR_EQ(pr_halt_format(&h, buf, sizeof(buf)), "now,fail=1");
	h = parse_ok("soon,fail=3");
	ASSERT_EQ(h.when, PR_HALT_SOON);
	ASSERT_EQ(h.on, PR_HALT_FAIL);
	ASSERT_EQ(h.threshold, 3);
	ASSERT(!h.percent);
	h = parse_ok("now,success=50%");
	ASSERT_EQ(h.when, PR_HALT_NOW);
	ASSERT_EQ(h.on, PR_HALT_SUCCESS);
	ASSERT(h.percent);
	ASSERT_STR_EQ(pr_halt_format(&h, buf, sizeof(buf)),
	    "now,success=50%");
	h = parse_ok("soon,done=12.5%");
	ASSERT_STR_EQ(pr_halt_format(&h, buf, sizeof(buf)), "soon,done=12.5%");
}

TEST(halt_parse_errors_name_the_part)
{
	static const struct {
		const char *in, *msg;
	} bad[] = {
		{ "", "expected never" },
		{ "soon", "expected never" },
		{ "later,fail=1", "'later': expected soon or now" },
		{ "now,fail", "expected fail|success|done=N" },
		{ "now,oops=1", "unknown condition 'oops'" },
		{ "now,fail=", "expected a count" },
		{ "now,fail=0", "above 0" },
		{ "now,fail=-2", "above 0" },
		{ "now,fail=1.5", "whole count" },
		{ "now,fail=3x", "whole count" },
		{ "now,fail=101%", "percentage above 100" },
		{ "now,fail=nan", "expected a count" },
		{ "now,fail=inf", "expected a count" },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct pr_errbuf eb = { 0, "" };
		struct pr_halt h;

		if (pr_halt_parse(bad[i].in, &h, &eb) != PR_ECONFIG)
			PR_TEST_FAIL("'%s' was accepted", bad[i].in);
		if (strstr(eb.msg, bad[i].msg) == NULL)
			PR_TEST_FAIL("'%s': message '%s' lacks '%s'",
			    bad[i].in, eb.msg, bad[i].msg);
	}
}

TEST(halt_reached_counts)
{
	struct pr_halt h = parse_ok("soon,fail=2");

	ASSERT(!pr_halt_reached(&h, 10, 9, 1));
	ASSERT(pr_halt_reached(&h, 11, 9, 2));
	h = parse_ok("now,success=1");
	ASSERT(!pr_halt_reached(&h, 5, 0, 5));
	ASSERT(pr_halt_reached(&h, 6, 1, 5));
	h = parse_ok("soon,done=3");
	ASSERT(!pr_halt_reached(&h, 2, 1, 1));
	ASSERT(pr_halt_reached(&h, 3, 1, 2));
	h = parse_ok("never");
	ASSERT(!pr_halt_reached(&h, 1000, 0, 1000));
}

TEST(halt_reached_percent_waits_for_three)
{
	struct pr_halt h = parse_ok("soon,fail=50%");

	/* one of one failed is 100%, but too few to tell */
	ASSERT(!pr_halt_reached(&h, 1, 0, 1));
	ASSERT(!pr_halt_reached(&h, 2, 0, 2));
	ASSERT(pr_halt_reached(&h, 3, 1, 2));
	ASSERT(!pr_halt_reached(&h, 5, 3, 2));
	ASSERT(pr_halt_reached(&h, 4, 2, 2));	/* exactly 50% */
}
