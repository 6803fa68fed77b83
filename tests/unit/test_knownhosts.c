/*
 * test_knownhosts.c - known_hosts names, checks, key types, appends and
 * fingerprints against the fixture file tests/fixtures/knownhosts/
 * known_hosts (plain, [host]:port, hashed, multi-type entries, and lines
 * libssh2 cannot parse).  The *.fp files hold what `ssh-keygen -l` prints.
 */
#include "test.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "json.h"
#include "knownhosts.h"

struct key {
	struct pr_buf blob;
	int type;
};

static void
fixture_path(char *out, size_t n, const char *name)
{
	snprintf(out, n, "%s/knownhosts/%s", pr_test_fixtures(), name);
}

static void
read_text(const char *path, char *out, size_t n)
{
	FILE *f = fopen(path, "r");
	size_t len;

	ASSERT(f != NULL);
	len = fread(out, 1, n - 1, f);
	fclose(f);
	out[len] = '\0';
	while (len > 0 && (out[len - 1] == '\n' || out[len - 1] == ' '))
		out[--len] = '\0';
}

/* "type base64" from NAME.pub */
static void
load_key(const char *name, struct key *k)
{
	char path[512], text[4096], *sp;

	snprintf(path, sizeof(path), "%s/knownhosts/%s.pub",
	    pr_test_fixtures(), name);
	read_text(path, text, sizeof(text));
	sp = strchr(text, ' ');
	ASSERT(sp != NULL);
	*sp = '\0';
	pr_buf_init(&k->blob, 0);
	ASSERT_OK(pr_b64_decode(&k->blob, sp + 1, strlen(sp + 1)));
	if (strcmp(text, "ssh-ed25519") == 0)
		k->type = LIBSSH2_HOSTKEY_TYPE_ED25519;
	else if (strcmp(text, "ecdsa-sha2-nistp256") == 0)
		k->type = LIBSSH2_HOSTKEY_TYPE_ECDSA_256;
	else if (strcmp(text, "ecdsa-sha2-nistp384") == 0)
		k->type = LIBSSH2_HOSTKEY_TYPE_ECDSA_384;
	else if (strcmp(text, "ssh-rsa") == 0)
		k->type = LIBSSH2_HOSTKEY_TYPE_RSA;
	else
		PR_TEST_FAIL("unexpected key type %s", text);
}

static LIBSSH2_SESSION *session;

static LIBSSH2_KNOWNHOSTS *
load_fixture(void)
{
	LIBSSH2_KNOWNHOSTS *kh = NULL;
	struct pr_errbuf eb = { 0, "" };
	char path[512];

	session = libssh2_session_init();
	ASSERT(session != NULL);
	fixture_path(path, sizeof(path), "known_hosts");
	ASSERT_OK(pr_knownhosts_load(session, path, &kh, &eb));
	ASSERT(kh != NULL);
	return kh;
}

static enum pr_kh_result
check(LIBSSH2_KNOWNHOSTS *kh, const char *host, int port, const char *key)
{
	char name[256];
	struct key k;
	enum pr_kh_result r;

	ASSERT_OK(pr_knownhosts_name(name, sizeof(name), host, port));
	load_key(key, &k);
	r = pr_knownhosts_check(kh, name, k.blob.data, k.blob.len, k.type);
	pr_buf_release(&k.blob);
	return r;
}

TEST(knownhosts_name_brackets_other_ports)
{
	char b[32];

	ASSERT_OK(pr_knownhosts_name(b, sizeof(b), "node07", 22));
	ASSERT_STR_EQ(b, "node07");
	ASSERT_OK(pr_knownhosts_name(b, sizeof(b), "node07", 0));
	ASSERT_STR_EQ(b, "node07");
	ASSERT_OK(pr_knownhosts_name(b, sizeof(b), "127.0.0.2", 2222));
	ASSERT_STR_EQ(b, "[127.0.0.2]:2222");
	ASSERT_OK(pr_knownhosts_name(b, sizeof(b), "::1", 2022));
	ASSERT_STR_EQ(b, "[::1]:2022");
	ASSERT_EQ(pr_knownhosts_name(b, 8, "node07", 2222), -ENAMETOOLONG);
}

TEST(knownhosts_default_path_under_home)
{
	char b[512];

	setenv("HOME", "/home/someone", 1);
	ASSERT_OK(pr_knownhosts_default_path(b, sizeof(b)));
	ASSERT_STR_EQ(b, "/home/someone/.ssh/known_hosts");
	unsetenv("HOME");
	ASSERT_OK(pr_knownhosts_default_path(b, sizeof(b)));
	ASSERT(strstr(b, "/.ssh/known_hosts") != NULL);
}

TEST(knownhosts_match_plain_and_port)
{
	LIBSSH2_KNOWNHOSTS *kh = load_fixture();

	ASSERT_EQ(check(kh, "example.org", 22, "k1"), PR_KH_MATCH);
	ASSERT_EQ(check(kh, "example.org", 2222, "k2"), PR_KH_MATCH);
	ASSERT_EQ(check(kh, "10.0.0.1", 22, "ke"), PR_KH_MATCH);
	ASSERT_EQ(check(kh, "rsa-only.example", 22, "kr"), PR_KH_MATCH);
	ASSERT_EQ(check(kh, "multi-alias.example", 22, "kr"), PR_KH_MATCH);
	ASSERT_EQ(check(kh, "::1", 2022, "k1"), PR_KH_MATCH);
	libssh2_knownhost_free(kh);
	libssh2_session_free(session);
}

TEST(knownhosts_changed_key_is_a_mismatch)
{
	LIBSSH2_KNOWNHOSTS *kh = load_fixture();

	ASSERT_EQ(check(kh, "example.org", 22, "k2"), PR_KH_MISMATCH);
	ASSERT_EQ(check(kh, "example.org", 2222, "k1"), PR_KH_MISMATCH);
	ASSERT_EQ(check(kh, "multi.example", 22, "k2"), PR_KH_MISMATCH);
	libssh2_knownhost_free(kh);
	libssh2_session_free(session);
}

TEST(knownhosts_other_port_does_not_fall_back_to_plain_name)
{
	LIBSSH2_KNOWNHOSTS *kh = load_fixture();

	/* OpenSSH looks up "[example.org]:2223" alone */
	ASSERT_EQ(check(kh, "example.org", 2223, "k1"), PR_KH_NOTFOUND);
	/* and port 22 never matches a "[host]:port" entry */
	ASSERT_EQ(check(kh, "::1", 22, "k1"), PR_KH_NOTFOUND);
	libssh2_knownhost_free(kh);
	libssh2_session_free(session);
}

TEST(knownhosts_other_type_known_is_not_unknown)
{
	LIBSSH2_KNOWNHOSTS *kh = load_fixture();

	/* only ssh-rsa is known: an ed25519 key must not pass as new */
	ASSERT_EQ(check(kh, "rsa-only.example", 22, "k1"), PR_KH_OTHERTYPE);
	ASSERT_EQ(check(kh, "10.0.0.1", 22, "k1"), PR_KH_OTHERTYPE);
	ASSERT_EQ(check(kh, "multi.example", 2200, "ke"), PR_KH_OTHERTYPE);
	ASSERT_EQ(check(kh, "nowhere.example", 22, "k1"), PR_KH_NOTFOUND);
	libssh2_knownhost_free(kh);
	libssh2_session_free(session);
}

TEST(knownhosts_hashed_entries)
{
	LIBSSH2_KNOWNHOSTS *kh = load_fixture();

	ASSERT_EQ(check(kh, "hashed.example", 22, "k1"), PR_KH_MATCH);
	ASSERT_EQ(check(kh, "hashed.example", 22, "k2"), PR_KH_MISMATCH);
	ASSERT_EQ(check(kh, "hashed.example", 2222, "k2"), PR_KH_MATCH);
	ASSERT_EQ(check(kh, "hashed.example", 2222, "k1"), PR_KH_MISMATCH);
	ASSERT_EQ(check(kh, "hashed.example", 2223, "k1"), PR_KH_NOTFOUND);
	libssh2_knownhost_free(kh);
	libssh2_session_free(session);
}

TEST(knownhosts_lines_after_bad_ones_still_count)
{
	LIBSSH2_KNOWNHOSTS *kh = load_fixture();

	/* "[::1]:2022" and the hashed lines follow a garbled ssh-dss
	 * line, an sk- key and an @cert-authority line */
	ASSERT_EQ(check(kh, "::1", 2022, "k1"), PR_KH_MATCH);
	ASSERT_EQ(check(kh, "hashed.example", 22, "k1"), PR_KH_MATCH);
	libssh2_knownhost_free(kh);
	libssh2_session_free(session);
}

TEST(knownhosts_methods_of_known_types)
{
	LIBSSH2_KNOWNHOSTS *kh = load_fixture();
	char m[256];

	ASSERT_EQ(pr_knownhosts_methods(kh, "example.org", m, sizeof(m)), 1);
	ASSERT_STR_EQ(m, "ssh-ed25519");
	ASSERT_EQ(pr_knownhosts_methods(kh, "multi.example", m, sizeof(m)), 3);
	ASSERT_STR_EQ(m, "ssh-ed25519,ecdsa-sha2-nistp256,ssh-rsa");
	ASSERT_EQ(pr_knownhosts_methods(kh, "[multi.example]:2200", m,
	    sizeof(m)), 1);
	ASSERT_STR_EQ(m, "ecdsa-sha2-nistp384");
	ASSERT_EQ(pr_knownhosts_methods(kh, "|1|hashed.example", m,
	    sizeof(m)), 0);
	ASSERT_EQ(pr_knownhosts_methods(kh, "hashed.example", m, sizeof(m)),
	    1);
	ASSERT_STR_EQ(m, "ssh-ed25519");
	ASSERT_EQ(pr_knownhosts_methods(kh, "nowhere.example", m, sizeof(m)),
	    0);
	ASSERT_STR_EQ(m, "");
	ASSERT_EQ(pr_knownhosts_methods(kh, "multi.example", m, 12),
	    -ENAMETOOLONG);
	libssh2_knownhost_free(kh);
	libssh2_session_free(session);
}

TEST(knownhosts_missing_file_is_empty)
{
	LIBSSH2_KNOWNHOSTS *kh = NULL;
	char m[64];

	session = libssh2_session_init();
	ASSERT_OK(pr_knownhosts_load(session, "/nonexistent/known_hosts", &kh,
	    NULL));
	ASSERT(kh != NULL);
	ASSERT_EQ(check(kh, "example.org", 22, "k1"), PR_KH_NOTFOUND);
	ASSERT_EQ(pr_knownhosts_methods(kh, "example.org", m, sizeof(m)), 0);
	libssh2_knownhost_free(kh);
	libssh2_session_free(session);
}

TEST(knownhosts_unreadable_file_is_an_error)
{
	LIBSSH2_KNOWNHOSTS *kh = NULL;
	struct pr_errbuf eb = { 0, "" };

	session = libssh2_session_init();
	/* a directory cannot be read as a file */
	ASSERT(pr_knownhosts_load(session, "/", &kh, &eb) < 0);
	ASSERT(kh == NULL);
	ASSERT(strstr(eb.msg, "'/'") != NULL);
	libssh2_session_free(session);
}


TEST(knownhosts_append_then_match)
{
	const char *dir = pr_test_dir();
	char path[256], text[4096], expect[8192], pub[2048];
	LIBSSH2_KNOWNHOSTS *kh = NULL;
	struct pr_errbuf eb = { 0, "" };
	struct key k;
	struct stat st;
	int fd;

	/* an existing file without a final newline */
	snprintf(path, sizeof(path), "%s/kh", dir);
	fd = open(path, O_WRONLY | O_CREAT, 0644);
	ASSERT(fd >= 0);
	ASSERT_EQ(write(fd, "# no newline", 12), 12);
	close(fd);

	load_key("k1", &k);
	ASSERT_OK(pr_knownhosts_append(path, false, "[127.0.0.2]:2222",
	    k.blob.data, k.blob.len, k.type, &eb));
	fixture_path(text, sizeof(text), "k1.pub");
	read_text(text, pub, sizeof(pub));
	read_text(path, text, sizeof(text));
	snprintf(expect, sizeof(expect), "# no newline\n[127.0.0.2]:2222 %s",
	    pub);
	ASSERT_STR_EQ(text, expect);

	session = libssh2_session_init();
	ASSERT_OK(pr_knownhosts_load(session, path, &kh, &eb));
	ASSERT_EQ(pr_knownhosts_check(kh, "[127.0.0.2]:2222", k.blob.data,
	    k.blob.len, k.type), PR_KH_MATCH);
	ASSERT_EQ(pr_knownhosts_check(kh, "127.0.0.2", k.blob.data,
	    k.blob.len, k.type), PR_KH_NOTFOUND);
	libssh2_knownhost_free(kh);
	libssh2_session_free(session);

	/* a new file in a new directory, made private */
	snprintf(path, sizeof(path), "%s/ssh/known_hosts", dir);
	ASSERT(pr_knownhosts_append(path, false, "h", k.blob.data, k.blob.len,
	    k.type, &eb) == -ENOENT);
	ASSERT(strstr(eb.msg, path) != NULL);
	ASSERT_OK(pr_knownhosts_append(path, true, "h", k.blob.data,
	    k.blob.len, k.type, &eb));
	ASSERT_OK(stat(path, &st));
	ASSERT_EQ(st.st_mode & 0777, 0600);
	snprintf(text, sizeof(text), "%s/ssh", dir);
	ASSERT_OK(stat(text, &st));
	ASSERT_EQ(st.st_mode & 0777, 0700);
	read_text(path, text, sizeof(text));
	snprintf(expect, sizeof(expect), "h %s", pub);
	ASSERT_STR_EQ(text, expect);

	pr_buf_release(&k.blob);
}

TEST(knownhosts_fingerprints_as_ssh_keygen)
{
	static const char *const names[] = { "k1", "k2", "ke", "ke384", "kr" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char path[512], want[128], got[128];
		struct key k;

		snprintf(path, sizeof(path), "%s/knownhosts/%s.fp",
		    pr_test_fixtures(), names[i]);
		read_text(path, want, sizeof(want));
		load_key(names[i], &k);
		pr_knownhosts_fingerprint(k.blob.data, k.blob.len, got,
		    sizeof(got));
		ASSERT_STR_EQ(got, want);
		pr_buf_release(&k.blob);
	}
}

TEST(knownhosts_fingerprint_of_empty_and_long_inputs)
{
	char got[128];
	char big[1000];

	/* SHA-256("") and of 1000 'a' (two padding blocks' worth) */
	pr_knownhosts_fingerprint("", 0, got, sizeof(got));
	ASSERT_STR_EQ(got,
	    "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU");
	memset(big, 'a', sizeof(big));
	pr_knownhosts_fingerprint(big, sizeof(big), got, sizeof(got));
	ASSERT_STR_EQ(got,
	    "SHA256:Qe3s5C1j6Nm/UVqbppMuHCDLyfWl0TRkWttdsblzfqM");
	pr_knownhosts_fingerprint(big, 55, got, sizeof(got));
	ASSERT_STR_EQ(got,
	    "SHA256:n0OQ+NMMLdkuyfCVtl4rmumwqSWlJY4kHJ8ekQ9zQxg");
	pr_knownhosts_fingerprint(big, 56, got, sizeof(got));
	ASSERT_STR_EQ(got,
	    "SHA256:s1Q5pKxvCUi21vnjxq8PX1kM4g8b3nCQ73lwaG7Gc4o");
	pr_knownhosts_fingerprint(big, 64, got, 10);
	ASSERT_STR_EQ(got,
	    "SHA256:/+");
}

TEST(knownhosts_type_name_from_blob)
{
	struct key k;
	char b[64];

	load_key("ke384", &k);
	ASSERT_STR_EQ(pr_knownhosts_type_name(k.blob.data, k.blob.len, 0, b,
	    sizeof(b)), "ecdsa-sha2-nistp384");
	pr_buf_release(&k.blob);
	ASSERT_STR_EQ(pr_knownhosts_type_name("\0\0\0\xff", 4,
	    LIBSSH2_HOSTKEY_TYPE_ED25519, b, sizeof(b)), "ssh-ed25519");
	ASSERT_STR_EQ(pr_knownhosts_type_name("", 0, 99, b, sizeof(b)),
	    "unknown");
}
