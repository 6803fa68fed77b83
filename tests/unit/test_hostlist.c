/* test_hostlist.c - host list expansion and compression. */
#include "test.h"

#include "buf.h"
#include "err.h"
#include "hostlist.h"

/* Expand s and join the names with ' ' into a static buffer. */
static const char *
joined(const char *s)
{
	static char out[4096];
	struct pr_hostlist hl;
	struct pr_errbuf eb = { 0, "" };
	size_t k = 0;
	int rc;

	pr_hostlist_init(&hl, 0);
	rc = pr_hostlist_expand(&hl, s, &eb);
	if (rc < 0) {
		snprintf(out, sizeof(out), "ERR %s", eb.msg);
		pr_hostlist_release(&hl);
		return out;
	}
	out[0] = '\0';
	for (size_t i = 0; i < hl.n; i++) {
		int n = snprintf(out + k, sizeof(out) - k, "%s%s",
		    i ? " " : "", pr_hostlist_get(&hl, i));
		k += (size_t)n;
	}
	pr_hostlist_release(&hl);
	return out;
}

/* The message and column of a failing expansion. */
static int
expand_err(const char *s, size_t *col, char *msg, size_t msglen)
{
	struct pr_hostlist hl;
	struct pr_errbuf eb = { 0, "" };
	int rc;

	pr_hostlist_init(&hl, 0);
	rc = pr_hostlist_expand_n(&hl, s, strlen(s), col, &eb);
	snprintf(msg, msglen, "%s", eb.msg);
	ASSERT_EQ(hl.n, 0);
	pr_hostlist_release(&hl);
	return rc;
}

static const char *
compressed(const char *s)
{
	static char out[4096];
	struct pr_hostlist hl;
	struct pr_buf b;

	pr_hostlist_init(&hl, 0);
	pr_buf_init(&b, 0);
	ASSERT_OK(pr_hostlist_expand(&hl, s, NULL));
	ASSERT_OK(pr_hostlist_compress(&hl, &b));
	snprintf(out, sizeof(out), "%s", b.data ? b.data : "");
	pr_buf_release(&b);
	pr_hostlist_release(&hl);
	return out;
}

TEST(hostlist_plain)
{
	ASSERT_STR_EQ(joined("node1"), "node1");
	ASSERT_STR_EQ(joined("a,b,c"), "a b c");
	ASSERT_STR_EQ(joined("login-1.example.org"), "login-1.example.org");
}

TEST(hostlist_ranges_and_padding)
{
	ASSERT_STR_EQ(joined("node[01-04,07]"),
	    "node01 node02 node03 node04 node07");
	ASSERT_STR_EQ(joined("n[8-10]"), "n8 n9 n10");
	ASSERT_STR_EQ(joined("n[08-10]"), "n08 n09 n10");
	ASSERT_STR_EQ(joined("n[098-101]"), "n098 n099 n100 n101");
	ASSERT_STR_EQ(joined("n[99-100]"), "n99 n100");
	ASSERT_STR_EQ(joined("n[5]"), "n5");
	ASSERT_STR_EQ(joined("n[007]"), "n007");
	ASSERT_STR_EQ(joined("n[0-2]"), "n0 n1 n2");
	ASSERT_STR_EQ(joined("n[3,1,2]"), "n3 n1 n2");
	ASSERT_STR_EQ(joined("[1-2]x"), "1x 2x");
	ASSERT_STR_EQ(joined("n[1-2]-ib"), "n1-ib n2-ib");
}

TEST(hostlist_cartesian_product)
{
	ASSERT_STR_EQ(joined("r[1-2]n[01-02]"), "r1n01 r1n02 r2n01 r2n02");
	ASSERT_STR_EQ(joined("r[1-2]n[1,3]-[a]x"), "ERR host list "
	    "'r[1-2]n[1,3]-[a]x': column 15: expected a number, not 'a'");
	ASSERT_STR_EQ(joined("a[1-2]b[3]c[4-5]"), "a1b3c4 a1b3c5 a2b3c4 a2b3c5");
}

TEST(hostlist_top_level_lists)
{
	ASSERT_STR_EQ(joined("a,b[1-3],c"), "a b1 b2 b3 c");
	ASSERT_STR_EQ(joined("n[1-2],m[1-2]"), "n1 n2 m1 m2");
	/* Slurm's own forms (testbed notes) */
	ASSERT_STR_EQ(joined("n[1-2]"), "n1 n2");
	ASSERT_STR_EQ(joined("h[1-3]"), "h1 h2 h3");
	ASSERT_STR_EQ(joined("vm"), "vm");
}

TEST(hostlist_errors_name_the_column)
{
	char msg[PR_ERRBUF_LEN];
	size_t col = 0;

	ASSERT_EQ(expand_err("n[3-1]", &col, msg, sizeof(msg)), PR_ECONFIG);
	ASSERT_EQ(col, 3);
	ASSERT_STR_EQ(msg, "decreasing range '3-1'");

	ASSERT_EQ(expand_err("n[1-", &col, msg, sizeof(msg)), PR_ECONFIG);
	ASSERT_EQ(col, 2);
	ASSERT_STR_EQ(msg, "unterminated '['");

	ASSERT_EQ(expand_err("n[1-3", &col, msg, sizeof(msg)), PR_ECONFIG);
	ASSERT_EQ(col, 2);
	ASSERT_STR_EQ(msg, "unterminated '['");

	ASSERT_EQ(expand_err("n[1-[2]]", &col, msg, sizeof(msg)), PR_ECONFIG);
	ASSERT_EQ(col, 5);
	ASSERT_STR_EQ(msg, "expected a number, not '['");

	ASSERT_EQ(expand_err("n[[1]]", &col, msg, sizeof(msg)), PR_ECONFIG);
	ASSERT_EQ(col, 3);
	ASSERT_STR_EQ(msg, "nested '['");

	ASSERT_EQ(expand_err("n[1[2]]", &col, msg, sizeof(msg)), PR_ECONFIG);
	ASSERT_EQ(col, 4);
	ASSERT_STR_EQ(msg, "nested '['");

	ASSERT_EQ(expand_err("", &col, msg, sizeof(msg)), PR_ECONFIG);
	ASSERT_EQ(col, 1);
	ASSERT_STR_EQ(msg, "empty host list");

	ASSERT_EQ(expand_err("a,,b", &col, msg, sizeof(msg)), PR_ECONFIG);
	ASSERT_EQ(col, 3);
	ASSERT_STR_EQ(msg, "empty host name");

	ASSERT_EQ(expand_err("a,b,", &col, msg, sizeof(msg)), PR_ECONFIG);
	ASSERT_EQ(col, 4);
	ASSERT_STR_EQ(msg, "trailing ','");

	ASSERT_EQ(expand_err("n[]", &col, msg, sizeof(msg)), PR_ECONFIG);
	ASSERT_EQ(col, 3);
	ASSERT_STR_EQ(msg, "empty range");

	ASSERT_EQ(expand_err("n[1,]", &col, msg, sizeof(msg)), PR_ECONFIG);
	ASSERT_EQ(col, 5);

	ASSERT_EQ(expand_err("n1]", &col, msg, sizeof(msg)), PR_ECONFIG);
	ASSERT_EQ(col, 3);
	ASSERT_STR_EQ(msg, "unexpected ']'");

	ASSERT_EQ(expand_err("n[1-2-3]", &col, msg, sizeof(msg)), PR_ECONFIG);
	ASSERT_EQ(col, 6);
	ASSERT_STR_EQ(msg, "unexpected '-' in a range");

	ASSERT_EQ(expand_err("n[1-05]", &col, msg, sizeof(msg)), PR_ECONFIG);
	ASSERT_EQ(col, 5);
	ASSERT_STR_EQ(msg, "padded bounds of different widths in '1-05'");

	ASSERT_EQ(expand_err("n[1234567890]", &col, msg, sizeof(msg)),
	    PR_ECONFIG);
	ASSERT_EQ(col, 3);
	ASSERT_STR_EQ(msg, "number '1234567890' too large");

	ASSERT_EQ(expand_err("-oProxyCommand=x", &col, msg, sizeof(msg)),
	    PR_ECONFIG);
	ASSERT_EQ(col, 1);
	ASSERT_STR_EQ(msg, "host name starts with '-'");

	ASSERT_EQ(expand_err("a b", &col, msg, sizeof(msg)), PR_ECONFIG);
	ASSERT_EQ(col, 2);
	ASSERT_STR_EQ(msg, "invalid character ' ' in a host name");

	ASSERT_EQ(expand_err("a;rm", &col, msg, sizeof(msg)), PR_ECONFIG);
	ASSERT_EQ(col, 2);

	ASSERT_EQ(expand_err("a\x1b[2J", &col, msg, sizeof(msg)), PR_ECONFIG);
	ASSERT_STR_EQ(msg, "invalid character '?' in a host name");
}

TEST(hostlist_full_message)
{
	ASSERT_STR_EQ(joined("n[3-1]"),
	    "ERR host list 'n[3-1]': column 3: decreasing range '3-1'");
}

TEST(hostlist_caps)
{
	struct pr_hostlist hl;
	struct pr_errbuf eb = { 0, "" };
	size_t col = 0;
	char longname[300];

	/* Refused before anything is generated. */
	pr_hostlist_init(&hl, 0);
	ASSERT_EQ(pr_hostlist_expand(&hl, "n[0-999999999]", &eb), PR_ELIMIT);
	ASSERT(strstr(eb.msg, "more than 1000000") != NULL);
	ASSERT_EQ(hl.n, 0);
	ASSERT_EQ(pr_hostlist_expand(&hl,
	    "a[0-999]b[0-999]c[0-999]d[0-999]", &eb), PR_ELIMIT);
	ASSERT_EQ(pr_hostlist_expand(&hl,
	    "a[0-999999999,0-999999999,0-999999999,0-999999999]", &eb),
	    PR_ELIMIT);
	ASSERT_EQ(hl.n, 0);
	pr_hostlist_release(&hl);

	/* A small cap, reached over several calls; a failed call leaves
	 * the list as it was. */
	pr_hostlist_init(&hl, 5);
	ASSERT_OK(pr_hostlist_expand(&hl, "n[1-3]", NULL));
	ASSERT_EQ(pr_hostlist_expand_n(&hl, "m[1-3]", 6, &col, NULL),
	    PR_ELIMIT);
	ASSERT_EQ(hl.n, 3);
	ASSERT_OK(pr_hostlist_expand(&hl, "m[1-2]", NULL));
	ASSERT_EQ(hl.n, 5);
	ASSERT_STR_EQ(pr_hostlist_get(&hl, 4), "m2");
	ASSERT_EQ(pr_hostlist_push(&hl, "x", 1), PR_ELIMIT);
	pr_hostlist_release(&hl);

	/* A failure in the second name rolls back the first. */
	pr_hostlist_init(&hl, 0);
	ASSERT_EQ(pr_hostlist_expand(&hl, "a[1-5],b[2-1]", NULL), PR_ECONFIG);
	ASSERT_EQ(hl.n, 0);
	pr_hostlist_release(&hl);

	/* Name length. */
	memset(longname, 'x', sizeof(longname));
	longname[256] = '\0';
	pr_hostlist_init(&hl, 0);
	ASSERT_EQ(pr_hostlist_expand(&hl, longname, &eb), PR_ECONFIG);
	ASSERT(strstr(eb.msg, "too long") != NULL);
	longname[255] = '\0';
	ASSERT_OK(pr_hostlist_expand(&hl, longname, &eb));
	memcpy(longname + 250, "[1-2,99999]", 12);
	ASSERT_OK(pr_hostlist_expand(&hl, longname, &eb));
	memcpy(longname + 250, "[1-2,999999]", 13);
	ASSERT_EQ(pr_hostlist_expand(&hl, longname, &eb), PR_ECONFIG);
	pr_hostlist_release(&hl);
}

TEST(hostlist_many_groups)
{
	char s[400], want[200];
	size_t k = 0;

	/* More bracket groups than the odometer's stack arrays hold. */
	for (int i = 0; i < 70; i++) {
		memcpy(s + k, "[1]", 3);
		k += 3;
	}
	memcpy(s + k, "[1-2]", 6);
	memset(want, '1', 143);
	want[71] = ' ';
	want[142] = '2';
	want[143] = '\0';
	ASSERT_STR_EQ(joined(s), want);
}

TEST(hostlist_big_expansion)
{
	struct pr_hostlist hl;

	pr_hostlist_init(&hl, 0);
	ASSERT_OK(pr_hostlist_expand(&hl, "node[000000-999999]", NULL));
	ASSERT_EQ(hl.n, 1000000);
	ASSERT_STR_EQ(pr_hostlist_get(&hl, 0), "node000000");
	ASSERT_STR_EQ(pr_hostlist_get(&hl, 999999), "node999999");
	pr_hostlist_release(&hl);
}

TEST(hostlist_compress)
{
	ASSERT_STR_EQ(compressed("node[01-04,07]"), "node[01-04,07]");
	ASSERT_STR_EQ(compressed("n1,n2,n3,login"), "n[1-3],login");
	ASSERT_STR_EQ(compressed("n1"), "n1");
	ASSERT_STR_EQ(compressed("n[8-10]"), "n[8-10]");
	ASSERT_STR_EQ(compressed("n[08-10]"), "n[08-10]");
	ASSERT_STR_EQ(compressed("n9,n010"), "n[9,010]");
	ASSERT_STR_EQ(compressed("n3,n1,n2"), "n[3,1-2]");
	ASSERT_STR_EQ(compressed("r[1-2]n[01-02]"),
	    "r1n[01-02],r2n[01-02]");
	ASSERT_STR_EQ(compressed("a,b"), "a,b");
	ASSERT_STR_EQ(compressed("n1,m1,n2"), "n1,m1,n2");
	ASSERT_STR_EQ(compressed("n1,n1"), "n[1,1]");
	ASSERT_STR_EQ(compressed("x1234567890,x1234567891"),
	    "x1234567890,x1234567891");
}

TEST(hostlist_compress_round_trip)
{
	static const char *const lists[] = {
		"n[1-3,5,7-9]", "a[001-003]b[1-2]", "x,y,z", "q[0-12]",
		"p[09-11,8]", "r[1-2]n[01-02]-ib", "m[0,00,000]",
	};

	for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
		struct pr_hostlist a, b;
		struct pr_buf buf;

		pr_hostlist_init(&a, 0);
		pr_hostlist_init(&b, 0);
		pr_buf_init(&buf, 0);
		ASSERT_OK(pr_hostlist_expand(&a, lists[i], NULL));
		ASSERT_OK(pr_hostlist_compress(&a, &buf));
		ASSERT_OK(pr_hostlist_expand(&b, buf.data, NULL));
		ASSERT_EQ(a.n, b.n);
		for (size_t k = 0; k < a.n; k++)
			ASSERT_STR_EQ(pr_hostlist_get(&a, k),
			    pr_hostlist_get(&b, k));
		pr_buf_release(&buf);
		pr_hostlist_release(&a);
		pr_hostlist_release(&b);
	}
}

TEST(hostlist_compress_names)
{
	const char *names[] = { "c1", "c2", "c3", "gpu07", "gpu08" };
	struct pr_buf b;

	pr_buf_init(&b, 0);
	ASSERT_OK(pr_hostlist_compress_names(names, 5, &b));
	ASSERT_STR_EQ(b.data, "c[1-3],gpu[07-08]");
	pr_buf_release(&b);
}

TEST(hostlist_snip)
{
	char d[12];

	pr_hostlist_snip(d, sizeof(d), "abc", 3);
	ASSERT_STR_EQ(d, "abc");
	pr_hostlist_snip(d, sizeof(d), "a\nb\x7f", 4);
	ASSERT_STR_EQ(d, "a?b?");
	pr_hostlist_snip(d, sizeof(d), "abcdefghijklmnop", 16);
	ASSERT_STR_EQ(d, "abcdefgh...");
}
