/* test_machinefile.c - machinefiles, -S lists, the hosts table. */
#include "test.h"

#include <errno.h>

#include <cjson/cJSON.h>

#include "buf.h"
#include "err.h"
#include "machinefile.h"

static struct pr_errbuf eb;

static int
parse(struct pr_hosts *hs, const char *text)
{
	eb.code = 0;
	eb.msg[0] = '\0';
	pr_hosts_init(hs);
	return pr_machinefile_parse(hs, "hosts", text, strlen(text), &eb);
}

/* Parse text, which must fail; return the message. */
static const char *
parse_err(const char *text, int code)
{
	struct pr_hosts hs;
	int rc = parse(&hs, text);

	pr_hosts_release(&hs);
	if (rc != code)
		PR_TEST_FAIL("parse of '%s' returned %d, not %d (%s)", text, rc,
		    code, eb.msg);
	return eb.msg;
}

static const char *
list_err(const char *list)
{
	struct pr_hosts hs;
	int rc;

	pr_hosts_init(&hs);
	eb.msg[0] = '\0';
	rc = pr_machinefile_parse_list(&hs, "-S", list, &eb);
	pr_hosts_release(&hs);
	if (rc != PR_ECONFIG)
		PR_TEST_FAIL("list '%s' returned %d (%s)", list, rc, eb.msg);
	return eb.msg;
}

#define ASSERT_HOST(hs, i, nm, usr, prt, slt, via_)	do {		\
	const struct pr_host *h_ = &(hs)->v[i];				\
	ASSERT((i) < (hs)->n);						\
	ASSERT_STR_EQ(h_->name, nm);					\
	if ((usr) == NULL)						\
		ASSERT(h_->user == NULL);				\
	else								\
		ASSERT_STR_EQ(h_->user, (const char *)(usr));		\
	ASSERT_EQ(h_->port, prt);					\
	ASSERT_EQ(h_->slots, slt);					\
	ASSERT_EQ(h_->via, via_);					\
} while (0)

TEST(machinefile_plain_hosts_add_up)
{
	struct pr_hosts hs;

	ASSERT_OK(parse(&hs, "a\nb\na\n\n# c\na\n"));
	ASSERT_EQ(hs.n, 2);
	ASSERT_HOST(&hs, 0, "a", NULL, 0, 3, PR_VIA_SSH);
	ASSERT_HOST(&hs, 1, "b", NULL, 0, 1, PR_VIA_SSH);
	ASSERT_STR_EQ(hs.v[0].origin, "hosts:1");
	ASSERT_STR_EQ(hs.v[1].origin, "hosts:2");
	ASSERT_EQ(hs.total_slots, 4);
	pr_hosts_release(&hs);
}

TEST(machinefile_julia_form)
{
	struct pr_hosts hs;

	ASSERT_OK(parse(&hs, "2*alice@n1:2222 10.0.0.1:9000\n"
	    "3*n2\n1*n3:22\n4*[::1]:2200\n"));
	ASSERT_EQ(hs.n, 4);
	ASSERT_HOST(&hs, 0, "n1", "alice", 2222, 2, PR_VIA_SSH);
	ASSERT_STR_EQ(hs.v[0].bind, "10.0.0.1:9000");
	ASSERT_HOST(&hs, 1, "n2", NULL, 0, 3, PR_VIA_SSH);
	ASSERT(hs.v[1].bind == NULL);
	ASSERT_HOST(&hs, 2, "n3", NULL, 22, 1, PR_VIA_SSH);
	ASSERT_HOST(&hs, 3, "::1", NULL, 2200, 4, PR_VIA_SSH);
	pr_hosts_release(&hs);
}

TEST(machinefile_mpi_form)
{
	struct pr_hosts hs;

	ASSERT_OK(parse(&hs, "n1 slots=4 max_slots=8\nn2   slots=2\n"
	    "n1 slots=1\n"));
	ASSERT_HOST(&hs, 0, "n1", NULL, 0, 5, PR_VIA_SSH);
	ASSERT_HOST(&hs, 1, "n2", NULL, 0, 2, PR_VIA_SSH);
	pr_hosts_release(&hs);
}

TEST(machinefile_gnu_parallel_form)
{
	struct pr_hosts hs;

	ASSERT_OK(parse(&hs, "4/bob@n2:22\n8/n3\n2/:\n"));
	ASSERT_EQ(hs.n, 3);
	ASSERT_HOST(&hs, 0, "n2", "bob", 22, 4, PR_VIA_SSH);
	ASSERT_HOST(&hs, 1, "n3", NULL, 0, 8, PR_VIA_SSH);
	ASSERT_HOST(&hs, 2, "localhost", NULL, 0, 2, PR_VIA_LOCAL);
	pr_hosts_release(&hs);
}

TEST(machinefile_host_colon_number_rule)
{
	struct pr_hosts hs;

	/* Bare host:N is a slot count (disBatch, MPICH) ... */
	ASSERT_OK(parse(&hs, "n3:8\n"));
	ASSERT_HOST(&hs, 0, "n3", NULL, 0, 8, PR_VIA_SSH);
	pr_hosts_release(&hs);
	/* ... written SSH-style it is a port. */
	ASSERT_OK(parse(&hs, "me@n3:8\n1*n3:2222\n1/n3:2022\n[::1]:22\n"));
	ASSERT_EQ(hs.n, 4);
	ASSERT_HOST(&hs, 0, "n3", "me", 8, 1, PR_VIA_SSH);
	ASSERT_HOST(&hs, 1, "n3", NULL, 2222, 1, PR_VIA_SSH);
	ASSERT_HOST(&hs, 2, "n3", NULL, 2022, 1, PR_VIA_SSH);
	ASSERT_HOST(&hs, 3, "::1", NULL, 22, 1, PR_VIA_SSH);
	pr_hosts_release(&hs);
	/* A slot count past the cap, and a port past 65535. */
	ASSERT_STR_EQ(parse_err("n3:70000\n", PR_ECONFIG),
	    "hosts:1:4: invalid slot count '70000'");
	ASSERT_STR_EQ(parse_err("me@n3:70000\n", PR_ECONFIG),
	    "hosts:1:7: invalid port '70000'");
}

TEST(machinefile_ipv6)
{
	struct pr_hosts hs;

	ASSERT_OK(parse(&hs, "[::1]:22\n::1\n[fe80::1%eth0]\n"
	    "u@[2001:db8::7]\n2/[::ffff:10.0.0.1]:2200\n"));
	ASSERT_EQ(hs.n, 5);
	ASSERT_HOST(&hs, 0, "::1", NULL, 22, 1, PR_VIA_SSH);
	ASSERT_HOST(&hs, 1, "::1", NULL, 0, 1, PR_VIA_SSH);
	ASSERT_HOST(&hs, 2, "fe80::1%eth0", NULL, 0, 1, PR_VIA_SSH);
	ASSERT_HOST(&hs, 3, "2001:db8::7", "u", 0, 1, PR_VIA_SSH);
	pr_hosts_release(&hs);
	ASSERT_OK(parse(&hs, "2/[::ffff:10.0.0.1]:2200\n"));
	ASSERT_HOST(&hs, 0, "::ffff:10.0.0.1", NULL, 2200, 2, PR_VIA_SSH);
	pr_hosts_release(&hs);

	ASSERT_STR_EQ(parse_err("[::g]:22\n", PR_ECONFIG),
	    "hosts:1:4: invalid IPv6 address '::g'");
	ASSERT_STR_EQ(parse_err("[::1]x\n", PR_ECONFIG),
	    "hosts:1:6: expected ':' after ']', not 'x'");
	ASSERT_STR_EQ(parse_err("[::1\n", PR_ECONFIG),
	    "hosts:1:1: unterminated '['");
	ASSERT_STR_EQ(parse_err("[]:22\n", PR_ECONFIG),
	    "hosts:1:2: empty range");
	ASSERT_STR_EQ(parse_err("fe80::zz\n", PR_ECONFIG),
	    "hosts:1:7: invalid IPv6 address 'fe80::zz'");
}

TEST(machinefile_local_hosts)
{
	struct pr_hosts hs;

	ASSERT_OK(parse(&hs, ":\nlocalhost\nLOCALHOST:2\n3/:\n127.0.0.1\n"
	    "me@localhost\n1*localhost:2222\n"));
	ASSERT_EQ(hs.n, 4);
	ASSERT_HOST(&hs, 0, "localhost", NULL, 0, 7, PR_VIA_LOCAL);
	ASSERT_HOST(&hs, 1, "127.0.0.1", NULL, 0, 1, PR_VIA_SSH);
	ASSERT_HOST(&hs, 2, "localhost", "me", 0, 1, PR_VIA_SSH);
	ASSERT_HOST(&hs, 3, "localhost", NULL, 2222, 1, PR_VIA_SSH);
	ASSERT_EQ(pr_host_workers(&hs.v[0]), 7);
	ASSERT_EQ(pr_host_workers(&hs.v[1]), 1);
	pr_hosts_release(&hs);
}

TEST(machinefile_hostlist_ranges)
{
	struct pr_hosts hs;

	ASSERT_OK(parse(&hs, "node[01-03] slots=2\n2/u@r[1-2]n[1-2]:2222\n"
	    "node02\n"));
	ASSERT_EQ(hs.n, 7);
	ASSERT_HOST(&hs, 0, "node01", NULL, 0, 2, PR_VIA_SSH);
	ASSERT_HOST(&hs, 1, "node02", NULL, 0, 3, PR_VIA_SSH);
	ASSERT_HOST(&hs, 2, "node03", NULL, 0, 2, PR_VIA_SSH);
	ASSERT_HOST(&hs, 3, "r1n1", "u", 2222, 2, PR_VIA_SSH);
	ASSERT_HOST(&hs, 6, "r2n2", "u", 2222, 2, PR_VIA_SSH);
	pr_hosts_release(&hs);
	ASSERT_OK(parse(&hs, "n[1-2]:4\n"));
	ASSERT_HOST(&hs, 1, "n2", NULL, 0, 4, PR_VIA_SSH);
	pr_hosts_release(&hs);
}

TEST(machinefile_whitespace_comments_crlf)
{
	struct pr_hosts hs;

	ASSERT_OK(parse(&hs, "  \ta#x\n\t b slots=2 # two\r\n#\n\r\nc"));
	ASSERT_EQ(hs.n, 3);
	ASSERT_HOST(&hs, 0, "a", NULL, 0, 1, PR_VIA_SSH);
	ASSERT_HOST(&hs, 1, "b", NULL, 0, 2, PR_VIA_SSH);
	ASSERT_HOST(&hs, 2, "c", NULL, 0, 1, PR_VIA_SSH);
	ASSERT_STR_EQ(hs.v[2].origin, "hosts:5");
	pr_hosts_release(&hs);
	ASSERT_OK(parse(&hs, ""));
	ASSERT_EQ(hs.n, 0);
	pr_hosts_release(&hs);
}

TEST(machinefile_errors_name_line_and_column)
{
	ASSERT_STR_EQ(parse_err("n1\nn2\nnode3 slots=x\n", PR_ECONFIG),
	    "hosts:3:13: invalid slot count 'x'");
	ASSERT_STR_EQ(parse_err("a\n  x/n1\n", PR_ECONFIG),
	    "hosts:2:3: invalid slot count 'x'");
	ASSERT_STR_EQ(parse_err("0/n1\n", PR_ECONFIG),
	    "hosts:1:1: invalid slot count '0'");
	ASSERT_STR_EQ(parse_err("/n1\n", PR_ECONFIG),
	    "hosts:1:1: missing slot count before '/'");
	ASSERT_STR_EQ(parse_err("n1:0\n", PR_ECONFIG),
	    "hosts:1:4: invalid slot count '0'");
	ASSERT_STR_EQ(parse_err("n1:\n", PR_ECONFIG),
	    "hosts:1:3: missing number after ':'");
	ASSERT_STR_EQ(parse_err("n1:x\n", PR_ECONFIG),
	    "hosts:1:4: invalid slot count 'x'");
	ASSERT_STR_EQ(parse_err("u@n1:0\n", PR_ECONFIG),
	    "hosts:1:6: invalid port '0'");
	ASSERT_STR_EQ(parse_err("n[3-1]\n", PR_ECONFIG),
	    "hosts:1:3: decreasing range '3-1'");
	ASSERT_STR_EQ(parse_err("me@n[1-\n", PR_ECONFIG),
	    "hosts:1:5: unterminated '['");
	ASSERT_STR_EQ(parse_err("n1 foo=1\n", PR_ECONFIG),
	    "hosts:1:4: unknown option 'foo'");
	ASSERT_STR_EQ(parse_err("n1 slots=2 slots=3\n", PR_ECONFIG),
	    "hosts:1:12: slot count given twice");
	ASSERT_STR_EQ(parse_err("n1:2 slots=3\n", PR_ECONFIG),
	    "hosts:1:6: slot count given twice");
	ASSERT_STR_EQ(parse_err("2/n1 slots=3\n", PR_ECONFIG),
	    "hosts:1:6: slot count given twice");
	ASSERT_STR_EQ(parse_err("n1 max_slots=-1\n", PR_ECONFIG),
	    "hosts:1:14: invalid slot count '-1'");
	ASSERT_STR_EQ(parse_err("-oProxyCommand=x\n", PR_ECONFIG),
	    "hosts:1:1: host name starts with '-'");
	ASSERT_STR_EQ(parse_err("-x@n1\n", PR_ECONFIG),
	    "hosts:1:1: invalid user name '-x'");
	ASSERT_STR_EQ(parse_err("@n1\n", PR_ECONFIG),
	    "hosts:1:1: invalid user name ''");
	ASSERT_STR_EQ(parse_err("u@\n", PR_ECONFIG),
	    "hosts:1:3: missing host name after '@'");
	ASSERT_STR_EQ(parse_err("2/\n", PR_ECONFIG),
	    "hosts:1:3: missing host name");
	ASSERT_STR_EQ(parse_err(":4\n", PR_ECONFIG),
	    "hosts:1:1: missing host name");
	ASSERT_STR_EQ(parse_err("n1 a b\n", PR_ECONFIG),
	    "hosts:1:6: unexpected 'b'");
	ASSERT_STR_EQ(parse_err(": a\n", PR_ECONFIG),
	    "hosts:1:3: unexpected 'a'");
	ASSERT_STR_EQ(parse_err("n1 a;b\n", PR_ECONFIG),
	    "hosts:1:5: invalid character ';' in a bind address");
	ASSERT_STR_EQ(parse_err("n1 slots=2\nn$1\n", PR_ECONFIG),
	    "hosts:2:2: invalid character '$' in a host name");
	ASSERT_STR_EQ(parse_err("n1\n\x1b[31m\n", PR_ECONFIG),
	    "hosts:2:1: invalid character '?' in a host name");
}

TEST(machinefile_nul_and_long_lines)
{
	struct pr_hosts hs;
	char big[PR_MACHINEFILE_LINE_MAX + 10];

	pr_hosts_init(&hs);
	ASSERT_EQ(pr_machinefile_parse(&hs, "hosts", "a\nb\0c\n", 6, &eb),
	    PR_ECONFIG);
	ASSERT_STR_EQ(eb.msg, "hosts:2:2: NUL byte");
	pr_hosts_release(&hs);

	memset(big, ' ', sizeof(big));
	big[0] = 'a';
	big[sizeof(big) - 1] = '\0';
	ASSERT_STR_EQ(parse_err(big, PR_ECONFIG),
	    "hosts:1:4097: line too long");
	big[PR_MACHINEFILE_LINE_MAX] = '\0';
	ASSERT_OK(parse(&hs, big));
	ASSERT_EQ(hs.n, 1);
	pr_hosts_release(&hs);
}

TEST(machinefile_slot_caps)
{
	struct pr_hosts hs;

	ASSERT_OK(parse(&hs, "65536*a\n"));
	pr_hosts_release(&hs);
	ASSERT_STR_EQ(parse_err("65537*a\n", PR_ECONFIG),
	    "hosts:1:1: invalid slot count '65537'");
	ASSERT_STR_EQ(parse_err("65536*a\na\n", PR_ELIMIT),
	    "hosts:2:1: more than 65536 slots for 'a'");
	/* All hosts together: 256 x 65536 = 2^24 is the most. */
	ASSERT_OK(parse(&hs, "65536*n[1-256]\n"));
	ASSERT_EQ(hs.total_slots, PR_HOSTS_SLOTS_MAX);
	pr_hosts_release(&hs);
	ASSERT_STR_EQ(parse_err("65536*n[1-256]\nx\n", PR_ELIMIT),
	    "hosts:2:1: more than 16777216 slots in all");
	ASSERT_EQ(parse(&hs, "n[1-9999999]\n"), PR_ELIMIT);
	pr_hosts_release(&hs);
}

TEST(machinefile_users_and_ports_are_distinct_hosts)
{
	struct pr_hosts hs;

	ASSERT_OK(parse(&hs, "a\nu@a\nv@a\nu@a\n1*a:2222\n1*a:22\n"));
	ASSERT_EQ(hs.n, 5);
	ASSERT_HOST(&hs, 1, "a", "u", 0, 2, PR_VIA_SSH);
	/* 22 written out is a different entry from the default. */
	ASSERT_HOST(&hs, 4, "a", NULL, 22, 1, PR_VIA_SSH);
	ASSERT_EQ(pr_hosts_find(&hs, PR_VIA_SSH, "a", "v", 0), 2);
	ASSERT_EQ(pr_hosts_find(&hs, PR_VIA_SSH, "a", "w", 0), -1);
	ASSERT_EQ(pr_hosts_find(&hs, PR_VIA_LOCAL, "a", NULL, 0), -1);
	pr_hosts_release(&hs);
}

TEST(machinefile_many_hosts_merge_fast)
{
	struct pr_hosts hs;

	/* 200000 hosts, then each again: the merge is hashed. */
	ASSERT_OK(parse(&hs, "n[1-200000]\nn[1-200000]\n"));
	ASSERT_EQ(hs.n, 200000);
	ASSERT_EQ(hs.total_slots, 400000);
	ASSERT_EQ(hs.v[199999].slots, 2);
	pr_hosts_release(&hs);
}

TEST(machinefile_inline_list)
{
	struct pr_hosts hs;

	pr_hosts_init(&hs);
	ASSERT_OK(pr_machinefile_parse_list(&hs, "-S", "2/node[01-04],:", &eb));
	ASSERT_EQ(hs.n, 5);
	ASSERT_HOST(&hs, 0, "node01", NULL, 0, 2, PR_VIA_SSH);
	ASSERT_HOST(&hs, 3, "node04", NULL, 0, 2, PR_VIA_SSH);
	ASSERT_HOST(&hs, 4, "localhost", NULL, 0, 1, PR_VIA_LOCAL);
	ASSERT_STR_EQ(hs.v[0].origin, "-S");
	pr_hosts_release(&hs);

	pr_hosts_init(&hs);
	ASSERT_OK(pr_machinefile_parse_list(&hs, "-S",
	    " n[1,3] , me@gpu1:2222,[::1]:22,4*x,y:3,localhost", &eb));
	ASSERT_EQ(hs.n, 7);
	ASSERT_HOST(&hs, 0, "n1", NULL, 0, 1, PR_VIA_SSH);
	ASSERT_HOST(&hs, 1, "n3", NULL, 0, 1, PR_VIA_SSH);
	ASSERT_HOST(&hs, 2, "gpu1", "me", 2222, 1, PR_VIA_SSH);
	ASSERT_HOST(&hs, 3, "::1", NULL, 22, 1, PR_VIA_SSH);
	ASSERT_HOST(&hs, 4, "x", NULL, 0, 4, PR_VIA_SSH);
	ASSERT_HOST(&hs, 5, "y", NULL, 0, 3, PR_VIA_SSH);
	ASSERT_HOST(&hs, 6, "localhost", NULL, 0, 1, PR_VIA_LOCAL);
	pr_hosts_release(&hs);

	ASSERT_STR_EQ(list_err("a,,b"), "-S: column 3: empty entry");
	ASSERT_STR_EQ(list_err(""), "-S: column 1: empty entry");
	ASSERT_STR_EQ(list_err("a,b,"), "-S: column 4: trailing ','");
	ASSERT_STR_EQ(list_err("a,b c"), "-S: column 4: space inside an entry");
	ASSERT_STR_EQ(list_err("a,x/b"), "-S: column 3: invalid slot count 'x'");
	ASSERT_STR_EQ(list_err("2/n[1-3,x]"),
	    "-S: column 9: expected a number, not 'x'");
	ASSERT_STR_EQ(list_err("a,b slots=2"),
	    "-S: column 4: space inside an entry");
}

TEST(machinefile_load_fixtures)
{
	struct pr_hosts hs;
	char path[1024];

	snprintf(path, sizeof(path), "%s/machinefiles/all-forms",
	    pr_test_fixtures());
	pr_hosts_init(&hs);
	ASSERT_OK(pr_machinefile_load(&hs, path, &eb));
	ASSERT_EQ(hs.n, 14);
	ASSERT_HOST(&hs, 0, "plain1", NULL, 0, 2, PR_VIA_SSH);
	ASSERT_HOST(&hs, 1, "mpi1", NULL, 0, 4, PR_VIA_SSH);
	ASSERT_HOST(&hs, 2, "disbatch1", NULL, 0, 3, PR_VIA_SSH);
	ASSERT_HOST(&hs, 3, "gp1", NULL, 0, 4, PR_VIA_SSH);
	ASSERT_HOST(&hs, 4, "gp2", "bob", 2200, 2, PR_VIA_SSH);
	ASSERT_HOST(&hs, 5, "julia1", NULL, 0, 3, PR_VIA_SSH);
	ASSERT_HOST(&hs, 6, "julia2", "alice", 2222, 2, PR_VIA_SSH);
	ASSERT_STR_EQ(hs.v[6].bind, "10.0.0.2");
	ASSERT_HOST(&hs, 7, "sshport", "carol", 2022, 1, PR_VIA_SSH);
	ASSERT_HOST(&hs, 8, "::1", NULL, 2200, 1, PR_VIA_SSH);
	ASSERT_HOST(&hs, 9, "localhost", NULL, 0, 3, PR_VIA_LOCAL);
	ASSERT_HOST(&hs, 10, "127.0.0.1", NULL, 0, 1, PR_VIA_SSH);
	ASSERT_HOST(&hs, 11, "node01", NULL, 0, 2, PR_VIA_SSH);
	ASSERT_HOST(&hs, 13, "node03", NULL, 0, 2, PR_VIA_SSH);
	ASSERT(strstr(hs.v[13].origin, "all-forms:16") != NULL);
	ASSERT_EQ(hs.total_slots, 32);
	pr_hosts_release(&hs);

	snprintf(path, sizeof(path), "%s/machinefiles/crlf",
	    pr_test_fixtures());
	pr_hosts_init(&hs);
	ASSERT_OK(pr_machinefile_load(&hs, path, &eb));
	ASSERT_EQ(hs.n, 2);
	ASSERT_HOST(&hs, 1, "good2", NULL, 0, 2, PR_VIA_SSH);
	pr_hosts_release(&hs);

	snprintf(path, sizeof(path), "%s/machinefiles/comments-only",
	    pr_test_fixtures());
	pr_hosts_init(&hs);
	ASSERT_OK(pr_machinefile_load(&hs, path, &eb));
	ASSERT_EQ(hs.n, 0);
	pr_hosts_release(&hs);

	snprintf(path, sizeof(path), "%s/machinefiles/bad-slots",
	    pr_test_fixtures());
	pr_hosts_init(&hs);
	ASSERT_EQ(pr_machinefile_load(&hs, path, &eb), PR_ECONFIG);
	ASSERT(strstr(eb.msg, "bad-slots:3:13: invalid slot count 'x'"));
	pr_hosts_release(&hs);

	snprintf(path, sizeof(path), "%s/machinefiles/bad-range",
	    pr_test_fixtures());
	pr_hosts_init(&hs);
	ASSERT_EQ(pr_machinefile_load(&hs, path, &eb), PR_ECONFIG);
	ASSERT(strstr(eb.msg, "bad-range:2:7: decreasing range '3-1'"));
	pr_hosts_release(&hs);

	pr_hosts_init(&hs);
	ASSERT_EQ(pr_machinefile_load(&hs, "/nonexistent/hosts", &eb),
	    -ENOENT);
	ASSERT(strstr(eb.msg, "cannot open '/nonexistent/hosts'"));
	pr_hosts_release(&hs);
}

TEST(machinefile_table)
{
	struct pr_hosts hs;
	struct pr_buf b;

	ASSERT_OK(parse(&hs, "4/:\n2*alice@n1:2222\nn2 slots=8\n"));
	pr_buf_init(&b, 0);
	ASSERT_OK(pr_hosts_format_table(&hs, &b));
	ASSERT_STR_EQ(b.data,
	    "HOST       USER   PORT  WORKERS  SLOTS  CPUS  VIA    FROM\n"
	    "localhost  -         -        4      4     -  local  hosts:1\n"
	    "n1         alice  2222        1      2     -  ssh    hosts:2\n"
	    "n2         -        22        1      8     -  ssh    hosts:3\n"
	    "3 hosts, 14 slots, 6 workers\n");
	pr_buf_release(&b);
	pr_hosts_release(&hs);
}

TEST(machinefile_json)
{
	struct pr_hosts hs;
	struct pr_buf b;
	cJSON *doc, *h;

	ASSERT_OK(parse(&hs, "4/:\n2*alice@n1:2222 10.1.1.1\n"));
	pr_buf_init(&b, 0);
	ASSERT_OK(pr_hosts_format_json(&hs, &b));
	ASSERT_STR_EQ(b.data, "{\"hosts\":["
	    "{\"host\":\"localhost\",\"user\":null,\"port\":null,"
	    "\"workers\":4,\"slots\":4,\"cpus\":null,\"via\":\"local\","
	    "\"from\":\"hosts:1\",\"bind\":null},"
	    "{\"host\":\"n1\",\"user\":\"alice\",\"port\":2222,"
	    "\"workers\":1,\"slots\":2,\"cpus\":null,\"via\":\"ssh\","
	    "\"from\":\"hosts:2\",\"bind\":\"10.1.1.1\"}],"
	    "\"total_hosts\":2,\"total_slots\":6,\"total_workers\":5}\n");
	doc = cJSON_Parse(b.data);
	ASSERT(doc != NULL);
	h = cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "hosts"), 1);
	ASSERT_EQ(cJSON_GetObjectItem(h, "port")->valueint, 2222);
	cJSON_Delete(doc);
	pr_buf_release(&b);
	pr_hosts_release(&hs);
}

TEST(machinefile_origin_is_cleaned)
{
	struct pr_hosts hs;
	struct pr_buf b;
	cJSON *doc;

	pr_hosts_init(&hs);
	ASSERT_OK(pr_machinefile_parse(&hs, "h\x1b[2J\xff", "a\n", 2, &eb));
	ASSERT_STR_EQ(hs.v[0].origin, "h?[2J?:1");
	pr_hosts_release(&hs);

	pr_hosts_init(&hs);
	ASSERT_OK(pr_machinefile_parse(&hs, "h\xc3\xa9", "a\n", 2, &eb));
	ASSERT_STR_EQ(hs.v[0].origin, "h\xc3\xa9:1");
	pr_buf_init(&b, 0);
	ASSERT_OK(pr_hosts_format_json(&hs, &b));
	doc = cJSON_Parse(b.data);
	ASSERT(doc != NULL);
	cJSON_Delete(doc);
	pr_buf_release(&b);
	pr_hosts_release(&hs);
}
