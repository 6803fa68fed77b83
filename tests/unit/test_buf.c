/*
 * test_buf.c - lib/buf.c: growth, the size cap, formatting, numbers.
 */
#include "test.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"

TEST(buf_init_empty)
{
	struct pr_buf b;
	char *p;
	size_t len = 99;

	pr_buf_init(&b, 0);
	ASSERT(b.data == NULL);
	ASSERT_EQ(b.len, 0);
	pr_buf_reset(&b);		/* safe on an empty buffer */
	pr_buf_release(&b);
	pr_buf_release(&b);		/* and twice */
	p = pr_buf_detach(&b, &len);	/* an empty string, not NULL */
	ASSERT(p != NULL);
	ASSERT_STR_EQ(p, "");
	ASSERT_EQ(len, 0);
	free(p);
}

TEST(buf_add_grows_and_terminates)
{
	struct pr_buf b;

	pr_buf_init(&b, 0);
	for (int i = 0; i < 10000; i++)
		ASSERT_OK(pr_buf_add(&b, "abc", 3));
	ASSERT_EQ(b.len, 30000);
	ASSERT_EQ(b.data[b.len], '\0');
	ASSERT(b.cap > b.len);
	ASSERT_MEM_EQ(b.data + 29997, "abc", 3);
	ASSERT_OK(pr_buf_add(&b, NULL, 0));
	ASSERT_EQ(b.len, 30000);
	ASSERT_OK(pr_buf_adds(&b, "de"));
	ASSERT_OK(pr_buf_addc(&b, 'f'));
	ASSERT_STR_EQ(b.data + 29997, "abcdef");
	pr_buf_release(&b);
	ASSERT(b.data == NULL);
	ASSERT_EQ(b.len, 0);
	/* add with n == 0 on an empty buffer still gives a string */
	ASSERT_OK(pr_buf_add(&b, "", 0));
	ASSERT_STR_EQ(b.data, "");
	pr_buf_release(&b);
}

TEST(buf_binary_data)
{
	struct pr_buf b;

	pr_buf_init(&b, 0);
	ASSERT_OK(pr_buf_add(&b, "a\0b", 3));
	ASSERT_EQ(b.len, 3);
	ASSERT_MEM_EQ(b.data, "a\0b", 4);
	pr_buf_release(&b);
}

TEST(buf_cap_leaves_contents)
{
	struct pr_buf b;

	pr_buf_init(&b, 8);
	ASSERT_OK(pr_buf_adds(&b, "12345"));
	ASSERT_EQ(pr_buf_adds(&b, "6789"), PR_ETOOBIG);
	ASSERT_STR_EQ(b.data, "12345");
	ASSERT_OK(pr_buf_adds(&b, "678"));
	ASSERT_EQ(b.len, 8);
	ASSERT_EQ(pr_buf_addc(&b, 'x'), PR_ETOOBIG);
	ASSERT_EQ(pr_buf_addf(&b, "%d", 1), PR_ETOOBIG);
	ASSERT_EQ(pr_buf_add_u64(&b, 1), PR_ETOOBIG);
	ASSERT_EQ(pr_buf_grow(&b, 1), PR_ETOOBIG);
	ASSERT_OK(pr_buf_grow(&b, 0));
	ASSERT_STR_EQ(b.data, "12345678");
	/* release keeps the cap */
	pr_buf_release(&b);
	ASSERT_EQ(b.max, 8);
	ASSERT_EQ(pr_buf_adds(&b, "123456789"), PR_ETOOBIG);
	pr_buf_release(&b);
}

TEST(buf_addc_at_cap_edges)
{
	/* the fast path of addc must respect both cap and max */
	struct pr_buf b;

	pr_buf_init(&b, 3);
	ASSERT_OK(pr_buf_addc(&b, 'a'));
	ASSERT_OK(pr_buf_addc(&b, 'b'));
	ASSERT_OK(pr_buf_addc(&b, 'c'));
	ASSERT_EQ(pr_buf_addc(&b, 'd'), PR_ETOOBIG);
	ASSERT_STR_EQ(b.data, "abc");
	pr_buf_release(&b);
	pr_buf_init(&b, 0);
	for (int i = 0; i < 1000; i++) {
		ASSERT_OK(pr_buf_addc(&b, (char)('a' + i % 26)));
		ASSERT_EQ(b.data[b.len], '\0');
		ASSERT(b.len < b.cap);
	}
	pr_buf_release(&b);
}

TEST(buf_grow_overflow)
{
	struct pr_buf b;

	pr_buf_init(&b, 0);
	ASSERT_OK(pr_buf_adds(&b, "x"));
	ASSERT_EQ(pr_buf_grow(&b, SIZE_MAX), -ENOMEM);
	ASSERT_EQ(pr_buf_grow(&b, SIZE_MAX - 1), -ENOMEM);
	ASSERT_STR_EQ(b.data, "x");
	pr_buf_release(&b);
}

TEST(buf_addf)
{
	struct pr_buf b;

	pr_buf_init(&b, 0);
	ASSERT_OK(pr_buf_addf(&b, "%s=%d", "n", 42));
	ASSERT_OK(pr_buf_addf(&b, "%s", ""));
	ASSERT_OK(pr_buf_addf(&b, ",%05.1f", 2.25));
	ASSERT_STR_EQ(b.data, "n=42,002.2");
	for (int i = 0; i < 100; i++)
		ASSERT_OK(pr_buf_addf(&b, "%0100d", i));
	ASSERT_EQ(b.len, 10 + 100 * 100);
	pr_buf_release(&b);
}

TEST(buf_detach)
{
	struct pr_buf b;
	char *p;
	size_t len;

	pr_buf_init(&b, 100);
	ASSERT_OK(pr_buf_adds(&b, "hello"));
	p = pr_buf_detach(&b, &len);
	ASSERT_STR_EQ(p, "hello");
	ASSERT_EQ(len, 5);
	ASSERT(b.data == NULL);
	ASSERT_EQ(b.len, 0);
	ASSERT_EQ(b.max, 100);
	free(p);
	p = pr_buf_detach(&b, NULL);
	free(p);
}

TEST(buf_consume)
{
	struct pr_buf b;

	pr_buf_init(&b, 0);
	ASSERT_OK(pr_buf_adds(&b, "abcdef"));
	pr_buf_consume(&b, 2);
	ASSERT_STR_EQ(b.data, "cdef");
	pr_buf_consume(&b, 0);
	ASSERT_STR_EQ(b.data, "cdef");
	pr_buf_consume(&b, 4);
	ASSERT_STR_EQ(b.data, "");
	ASSERT_OK(pr_buf_adds(&b, "xy"));
	pr_buf_consume(&b, 100);
	ASSERT_EQ(b.len, 0);
	ASSERT_STR_EQ(b.data, "");
	pr_buf_consume(&b, 1);	/* on empty: nothing */
	pr_buf_release(&b);
	pr_buf_consume(&b, 1);	/* on released: nothing */
}

TEST(buf_integers)
{
	struct pr_buf b;

	pr_buf_init(&b, 0);
	ASSERT_OK(pr_buf_add_u64(&b, 0));
	ASSERT_OK(pr_buf_addc(&b, ' '));
	ASSERT_OK(pr_buf_add_u64(&b, UINT64_MAX));
	ASSERT_OK(pr_buf_addc(&b, ' '));
	ASSERT_OK(pr_buf_add_i64(&b, INT64_MIN));
	ASSERT_OK(pr_buf_addc(&b, ' '));
	ASSERT_OK(pr_buf_add_i64(&b, INT64_MAX));
	ASSERT_OK(pr_buf_addc(&b, ' '));
	ASSERT_OK(pr_buf_add_i64(&b, -1));
	ASSERT_STR_EQ(b.data, "0 18446744073709551615 -9223372036854775808 "
	    "9223372036854775807 -1");
	pr_buf_release(&b);
}

static void
check_double(double v, const char *want)
{
	struct pr_buf b;

	pr_buf_init(&b, 0);
	ASSERT_OK(pr_buf_add_double(&b, v));
	if (strcmp(b.data, want) != 0)
		PR_TEST_FAIL("%.17g: '%s', want '%s'", v, b.data, want);
	pr_buf_release(&b);
}

TEST(buf_double_text)
{
	check_double(0, "0");
	check_double(-0.0, "-0");
	check_double(1, "1");
	check_double(-42, "-42");
	check_double(0.5, "0.5");
	check_double(0.1, "0.1");
	check_double(1700000000.25, "1700000000.25");
	check_double(1e15, "1e+15");
	check_double(999999999999999, "999999999999999");
	check_double(9007199254740992.0, "9007199254740992");
	check_double(1e300, "1e+300");		/* no int64 cast: UB */
	check_double(-1e300, "-1e+300");
	check_double(1e-9, "1e-09");
	check_double(0.1 + 0.2, "0.30000000000000004");
	check_double(11.849097103207377, "11.849097103207377");
	check_double(NAN, "null");
	check_double(INFINITY, "null");
	check_double(-INFINITY, "null");
	check_double(DBL_MAX, "1.7976931348623157e+308");
	check_double(DBL_MIN, "2.2250738585072014e-308");
	check_double(5e-324, "4.94065645841247e-324");
}

TEST(buf_double_round_trips)
{
	/* whatever is written reads back as the same double */
	uint64_t x = 88172645463325252ull;
	struct pr_buf b;

	pr_buf_init(&b, 0);
	for (int i = 0; i < 100000; i++) {
		double v, back;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		memcpy(&v, &x, sizeof(v));
		if (!isfinite(v))
			continue;
		pr_buf_reset(&b);
		ASSERT_OK(pr_buf_add_double(&b, v));
		back = strtod(b.data, NULL);
		if (memcmp(&back, &v, sizeof(v)) != 0)
			PR_TEST_FAIL("%.17g written as '%s'", v, b.data);
		ASSERT(strlen(b.data) <= 24);
	}
	pr_buf_release(&b);
}

/* The algorithm before the fast path: %.15g, %.16g, %.17g, the first
 * that reads back. */
static void
reference_double(double v, char *out, size_t size)
{
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(out, size, "%.*g", prec, v);
		if (strtod(out, NULL) == v)
			return;
	}
}

static void
check_same_as_reference(double v)
{
	char want[40];
	struct pr_buf b;

	if (!isfinite(v) || v == 0 || (fabs(v) < 1e15 && v == floor(v)))
		return;
	reference_double(v, want, sizeof(want));
	pr_buf_init(&b, 0);
	ASSERT_OK(pr_buf_add_double(&b, v));
	if (strcmp(b.data, want) != 0)
		PR_TEST_FAIL("%.17g: '%s', want '%s'", v, b.data, want);
	pr_buf_release(&b);
}

TEST(buf_double_fast_path_is_exact)
{
	/* few decimals (the fast path) at every scale, and the edges */
	static const double p10[] = {
		1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
		1e12, 1e13, 1e14, 1e15, 1e16,
	};
	uint64_t x = 0x9e3779b97f4a7c15ull;

	for (int i = 0; i < 300000; i++) {
		uint64_t m;
		int k;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		k = (int)(x % 17);
		m = (x >> 8) % (uint64_t)p10[1 + (x >> 40) % 16];
		check_same_as_reference((double)m / p10[k]);
		check_same_as_reference(-(double)m / p10[k]);
		/* neighbours, which need many digits */
		check_same_as_reference(nextafter((double)m / p10[k], 0));
		check_same_as_reference(nextafter((double)m / p10[k], 1e300));
	}
	check_same_as_reference(1e-4);
	check_same_as_reference(nextafter(1e-4, 0));
	check_same_as_reference(0.000123);
	check_same_as_reference(99999999999999.9);
	check_same_as_reference(999999999999999.9);
	check_same_as_reference(0.1 + 0.2);
	check_same_as_reference(1.0 / 3);
	check_same_as_reference(2.0 / 3);
}
