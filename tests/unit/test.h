/*
 * test.h - parrun's C unit tests (libuv style, TAP output).
 *
 *	#include "test.h"
 *	TEST(buf_grows) {
 *		ASSERT_EQ(1 + 1, 2);
 *	}
 *
 * Each TEST registers itself (a constructor), so adding a test is adding a
 * function; there is no list to edit.  The runner (runner.c) forks every
 * test with a timeout, prints TAP, and takes `--list` or test names (a
 * trailing '*' matches a prefix).  A test that returns normally passes;
 * a failed ASSERT prints file:line and the values, then exits 1.
 * SKIP("why") exits 7 and is reported as a skip.
 */
#ifndef PR_TEST_H
#define PR_TEST_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void (*pr_test_fn)(void);
void pr_test_register(const char *name, pr_test_fn fn);

#define TEST(name)							\
	static void test_##name(void);					\
	__attribute__((constructor)) static void reg_##name(void)	\
	{ pr_test_register(#name, test_##name); }			\
	static void test_##name(void)

#define PR_TEST_FAIL(...) do {						\
	fprintf(stderr, "# %s:%d: ", __FILE__, __LINE__);		\
	fprintf(stderr, __VA_ARGS__);					\
	fprintf(stderr, "\n");						\
	exit(1);							\
} while (0)

#define ASSERT(c) do { if (!(c)) PR_TEST_FAIL("assertion failed: %s", #c); } while (0)
#define ASSERT_EQ(a, b) do {						\
	long long a_ = (long long)(a), b_ = (long long)(b);		\
	if (a_ != b_) PR_TEST_FAIL("%s == %s: %lld != %lld", #a, #b, a_, b_); \
} while (0)
#define ASSERT_NE(a, b) do {						\
	long long a_ = (long long)(a), b_ = (long long)(b);		\
	if (a_ == b_) PR_TEST_FAIL("%s != %s: both %lld", #a, #b, a_);	\
} while (0)
#define ASSERT_U64_EQ(a, b) do {					\
	uint64_t a_ = (a), b_ = (b);					\
	if (a_ != b_) PR_TEST_FAIL("%s == %s: %" PRIu64 " != %" PRIu64, #a, #b, a_, b_); \
} while (0)
#define ASSERT_OK(e) do {						\
	long long r_ = (long long)(e);					\
	if (r_ != 0) PR_TEST_FAIL("%s returned %lld", #e, r_);		\
} while (0)
#define ASSERT_STR_EQ(a, b) do {					\
	const char *a_ = (a), *b_ = (b);				\
	if (a_ == NULL || b_ == NULL || strcmp(a_, b_) != 0)		\
		PR_TEST_FAIL("%s == %s: \"%s\" != \"%s\"", #a, #b,	\
		    a_ ? a_ : "(null)", b_ ? b_ : "(null)");		\
} while (0)
#define ASSERT_MEM_EQ(a, b, n) do {					\
	if (memcmp((a), (b), (n)) != 0) PR_TEST_FAIL("%s and %s differ", #a, #b); \
} while (0)
#define ASSERT_DBL_NEAR(a, b, tol) do {					\
	double a_ = (a), b_ = (b);					\
	if (!(a_ - b_ <= (tol) && b_ - a_ <= (tol)))			\
		PR_TEST_FAIL("%s ~ %s: %.17g vs %.17g", #a, #b, a_, b_);	\
} while (0)
#define SKIP(why) do { fprintf(stderr, "# skip: %s\n", why); exit(7); } while (0)

/* The directory of the fixtures (tests/fixtures), from $PR_FIXTURES. */
const char *pr_test_fixtures(void);

/*
 * A directory of the calling test's own, made on first use and removed
 * when the test ends, however it ends; pr_test_path() names a file in it
 * (one of 8 rotating static buffers).
 */
const char *pr_test_dir(void);
char *pr_test_path(const char *name);

#endif
