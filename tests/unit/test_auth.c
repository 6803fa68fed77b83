/*
 * test_auth.c - lib/auth.c: secrets (parsing, files and their modes,
 * stdin) and the handshake as pure functions: success, a bad MAC either
 * way, replays, reflection, tampering, versions, garbage.
 */
#include "test.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth.h"
#include "proto.h"

static const char HELLO[] = "{\"type\":\"hello\",\"proto\":[1,1],"
    "\"version\":\"0.1.0\",\"host\":\"node07\",\"pid\":4242,\"cpus\":8,"
    "\"slots\":2,\"kernels\":[\"noop\",\"sort\"]}\n";

static void
secret_of(uint8_t s[PR_SECRET_LEN], uint8_t v)
{
	memset(s, v, PR_SECRET_LEN);
}

/* The line in b without its LF, as a C string (b keeps it). */
static const char *
line_of(struct pr_buf *b, size_t *len)
{
	ASSERT(b->len > 0 && b->data[b->len - 1] == '\n');
	*len = b->len - 1;
	return b->data;
}

/* Messages of one whole handshake, with the states at the end. */
struct hs {
	struct pr_auth w, c;
	struct pr_buf hello, cauth, wauth;
	int rc_ch, rc_wr, rc_cc;
};

static void
hs_run(struct hs *h, const uint8_t *ws, const uint8_t *cs)
{
	struct pr_errbuf eb = { 0, "" };
	size_t n;
	const char *l;

	memset(h, 0, sizeof(*h));
	pr_buf_init(&h->hello, 0);
	pr_buf_init(&h->cauth, 0);
	pr_buf_init(&h->wauth, 0);
	ASSERT_OK(pr_auth_init(&h->w, PR_AUTH_WORKER, ws));
	ASSERT_OK(pr_auth_init(&h->c, PR_AUTH_COORDINATOR, cs));
	ASSERT_OK(pr_auth_worker_hello(&h->w, HELLO, strlen(HELLO), &h->hello,
	    &eb));
	l = line_of(&h->hello, &n);
	h->rc_ch = pr_auth_coord_hello(&h->c, l, n, &h->cauth, &eb);
	if (h->rc_ch < 0)
		return;
	l = line_of(&h->cauth, &n);
	h->rc_wr = pr_auth_worker_reply(&h->w, l, n, &h->wauth, &eb);
	if (h->rc_wr < 0)
		return;
	l = line_of(&h->wauth, &n);
	h->rc_cc = pr_auth_coord_check(&h->c, l, n, &h->cauth, &eb);
}

static void
hs_free(struct hs *h)
{
	pr_buf_release(&h->hello);
	pr_buf_release(&h->cauth);
	pr_buf_release(&h->wauth);
}

/* ---- secrets ------------------------------------------------------------- */

TEST(auth_secret_parse)
{
	struct pr_errbuf eb = { 0, "" };
	uint8_t s[PR_SECRET_LEN], t[PR_SECRET_LEN];
	char hex[PR_SECRET_HEX + 1], line[PR_SECRET_HEX + 3];
	size_t i;

	for (i = 0; i < PR_SECRET_LEN; i++)
		s[i] = (uint8_t)(i * 37 + 5);
	pr_secret_hex(s, hex);
	ASSERT_EQ(strlen(hex), PR_SECRET_HEX);
	for (i = 0; i < PR_SECRET_HEX; i++)
		ASSERT((hex[i] >= '0' && hex[i] <= '9') ||
		    (hex[i] >= 'a' && hex[i] <= 'f'));
	ASSERT_STR_EQ(hex, "052a4f7499bee3082d52779cc1e60b30"
	    "557a9fc4e90e33587da2c7ec11365b80");
	ASSERT_OK(pr_secret_parse(hex, PR_SECRET_HEX, t, &eb));
	ASSERT_MEM_EQ(s, t, PR_SECRET_LEN);

	snprintf(line, sizeof(line), "%s\n", hex);
	ASSERT_OK(pr_secret_parse(line, strlen(line), t, &eb));
	ASSERT_MEM_EQ(s, t, PR_SECRET_LEN);
	snprintf(line, sizeof(line), "%s\r\n", hex);
	ASSERT_OK(pr_secret_parse(line, strlen(line), t, &eb));
	for (i = 0; i < PR_SECRET_HEX; i++)
		if (line[i] >= 'a')
			line[i] = (char)(line[i] - 'a' + 'A');
	ASSERT_OK(pr_secret_parse(line, strlen(line), t, &eb));
	ASSERT_MEM_EQ(s, t, PR_SECRET_LEN);

	ASSERT_EQ(pr_secret_parse(hex, PR_SECRET_HEX - 1, t, &eb), PR_EAUTH);
	ASSERT(strstr(eb.msg, "64 hex digits") != NULL);
	/* the message never quotes what it was given */
	ASSERT(strstr(eb.msg, "052a") == NULL);
	snprintf(line, sizeof(line), "%s0", hex);
	ASSERT_EQ(pr_secret_parse(line, strlen(line), t, &eb), PR_EAUTH);
	snprintf(line, sizeof(line), "%s ", hex);
	ASSERT_EQ(pr_secret_parse(line, strlen(line), t, &eb), PR_EAUTH);
	snprintf(line, sizeof(line), "%s", hex);
	line[10] = 'g';
	ASSERT_EQ(pr_secret_parse(line, strlen(line), t, &eb), PR_EAUTH);
	ASSERT_EQ(pr_secret_parse("\n", 1, t, &eb), PR_EAUTH);
	ASSERT_EQ(pr_secret_parse("", 0, t, NULL), PR_EAUTH);
}

TEST(auth_secret_generate)
{
	uint8_t a[PR_SECRET_LEN], b[PR_SECRET_LEN], z[PR_SECRET_LEN];

	memset(z, 0, sizeof(z));
	ASSERT_OK(pr_secret_generate(a));
	ASSERT_OK(pr_secret_generate(b));
	ASSERT(memcmp(a, b, sizeof(a)) != 0);
	ASSERT(memcmp(a, z, sizeof(a)) != 0);
	pr_secret_wipe(a, sizeof(a));
	ASSERT_MEM_EQ(a, z, sizeof(a));
}


static void
put_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	ASSERT(fd >= 0);
	ASSERT_EQ(write(fd, text, strlen(text)), (long long)strlen(text));
	ASSERT_OK(fchmod(fd, mode));
	close(fd);
}

TEST(auth_secret_files)
{
	struct pr_errbuf eb = { 0, "" };
	uint8_t s[PR_SECRET_LEN], t[PR_SECRET_LEN];
	char path[128], hex[PR_SECRET_HEX + 1], text[PR_SECRET_HEX + 2];
	char *priv = NULL, *slash;
	struct stat st;

	const char *tmpdir = pr_test_dir();
	ASSERT_OK(pr_secret_generate(s));
	pr_secret_hex(s, hex);

	/* the private directory and file */
	ASSERT_OK(pr_secret_write_private(tmpdir, s, &priv, &eb));
	ASSERT(priv != NULL);
	ASSERT(strncmp(priv, tmpdir, strlen(tmpdir)) == 0);
	ASSERT(strstr(priv, "/parrun-") != NULL);
	ASSERT_OK(stat(priv, &st));
	ASSERT(S_ISREG(st.st_mode));
	ASSERT_EQ(st.st_mode & 07777, 0600);
	ASSERT_EQ(st.st_size, PR_SECRET_HEX + 1);
	slash = strrchr(priv, '/');
	*slash = '\0';
	ASSERT_OK(stat(priv, &st));
	ASSERT(S_ISDIR(st.st_mode));
	ASSERT_EQ(st.st_mode & 07777, 0700);
	*slash = '/';
	ASSERT_OK(pr_secret_read_file(priv, t, &eb));
	ASSERT_MEM_EQ(s, t, PR_SECRET_LEN);
	pr_secret_remove(priv);
	ASSERT(stat(priv, &st) < 0 && errno == ENOENT);
	*slash = '\0';
	ASSERT(stat(priv, &st) < 0 && errno == ENOENT);
	free(priv);

	/* modes: 0600 and 0400 pass; anything for group or others fails */
	snprintf(path, sizeof(path), "%s/s", tmpdir);
	snprintf(text, sizeof(text), "%s\n", hex);
	put_file(path, text, 0600);
	ASSERT_OK(pr_secret_read_file(path, t, &eb));
	ASSERT_MEM_EQ(s, t, PR_SECRET_LEN);
	put_file(path, text, 0400);
	ASSERT_OK(pr_secret_read_file(path, t, &eb));
	put_file(path, text, 0644);
	memset(&eb, 0, sizeof(eb));
	ASSERT_EQ(pr_secret_read_file(path, t, &eb), PR_EAUTH);
	ASSERT(strstr(eb.msg, "0644") != NULL);
	ASSERT(strstr(eb.msg, "chmod 600") != NULL);
	put_file(path, text, 0640);
	ASSERT_EQ(pr_secret_read_file(path, t, &eb), PR_EAUTH);
	put_file(path, text, 0604);
	ASSERT_EQ(pr_secret_read_file(path, t, &eb), PR_EAUTH);
	put_file(path, text, 0610);
	ASSERT_EQ(pr_secret_read_file(path, t, &eb), PR_EAUTH);

	/* content */
	put_file(path, "not a secret\n", 0600);
	memset(&eb, 0, sizeof(eb));
	ASSERT_EQ(pr_secret_read_file(path, t, &eb), PR_EAUTH);
	ASSERT(strstr(eb.msg, "does not hold a secret") != NULL);
	put_file(path, "", 0600);
	ASSERT_EQ(pr_secret_read_file(path, t, &eb), PR_EAUTH);
	unlink(path);

	/* not a file, no file */
	ASSERT_EQ(pr_secret_read_file(tmpdir, t, &eb), PR_EAUTH);
	ASSERT(strstr(eb.msg, "not a regular file") != NULL);
	ASSERT_EQ(pr_secret_read_file(path, t, &eb), -ENOENT);

	/* writing: never over an existing file, never through a link */
	ASSERT_OK(pr_secret_write_file(path, s, &eb));
	ASSERT_OK(stat(path, &st));
	ASSERT_EQ(st.st_mode & 07777, 0600);
	ASSERT_EQ(pr_secret_write_file(path, s, &eb), -EEXIST);
	{
		char link[160], target[160];

		snprintf(link, sizeof(link), "%s/l", tmpdir);
		snprintf(target, sizeof(target), "%s/t", tmpdir);
		ASSERT_OK(symlink(target, link));
		ASSERT(pr_secret_write_file(link, s, &eb) < 0);
		ASSERT(stat(target, &st) < 0);
		unlink(link);
	}
	unlink(path);
}

TEST(auth_secret_files_owner)
{
	struct pr_errbuf eb = { 0, "" };
	uint8_t s[PR_SECRET_LEN], t[PR_SECRET_LEN];
	char path[128];

	if (geteuid() != 0) {
		/* root's file, which we can open but do not own */
		ASSERT_EQ(pr_secret_read_file("/etc/hostname", t, &eb),
		    PR_EAUTH);
		ASSERT(strstr(eb.msg, "not to you") != NULL);
		return;
	}
	/* as root: a 0600 file given to nobody is not ours */
	const char *tmpdir = pr_test_dir();
	snprintf(path, sizeof(path), "%s/s", tmpdir);
	secret_of(s, 0x5a);
	ASSERT_OK(pr_secret_write_file(path, s, &eb));
	ASSERT_OK(chown(path, 65534, 65534));
	ASSERT_EQ(pr_secret_read_file(path, t, &eb), PR_EAUTH);
	ASSERT(strstr(eb.msg, "not to you") != NULL);
	unlink(path);
}

TEST(auth_secret_fd)
{
	struct pr_errbuf eb = { 0, "" };
	uint8_t s[PR_SECRET_LEN], t[PR_SECRET_LEN];
	char hex[PR_SECRET_HEX + 1], text[256], rest[16];
	int p[2];

	ASSERT_OK(pr_secret_generate(s));
	pr_secret_hex(s, hex);

	/* the first line only: what follows stays in the pipe */
	ASSERT_OK(pipe(p));
	snprintf(text, sizeof(text), "%s\nREST", hex);
	ASSERT_EQ(write(p[1], text, strlen(text)), (long long)strlen(text));
	close(p[1]);
	ASSERT_OK(pr_secret_read_fd(p[0], t, &eb));
	ASSERT_MEM_EQ(s, t, PR_SECRET_LEN);
	ASSERT_EQ(read(p[0], rest, sizeof(rest)), 4);
	ASSERT(memcmp(rest, "REST", 4) == 0);
	close(p[0]);

	/* empty, no LF, too long, not hex */
	ASSERT_OK(pipe(p));
	close(p[1]);
	ASSERT_EQ(pr_secret_read_fd(p[0], t, &eb), PR_EAUTH);
	ASSERT(strstr(eb.msg, "empty") != NULL);
	close(p[0]);

	ASSERT_OK(pipe(p));
	ASSERT_EQ(write(p[1], hex, PR_SECRET_HEX), PR_SECRET_HEX);
	close(p[1]);
	ASSERT_EQ(pr_secret_read_fd(p[0], t, &eb), PR_EAUTH);
	close(p[0]);

	ASSERT_OK(pipe(p));
	memset(text, 'a', 200);
	text[200] = '\n';
	ASSERT_EQ(write(p[1], text, 201), 201);
	close(p[1]);
	ASSERT_EQ(pr_secret_read_fd(p[0], t, &eb), PR_EAUTH);
	ASSERT(strstr(eb.msg, "over") != NULL);
	close(p[0]);

	ASSERT_OK(pipe(p));
	ASSERT_EQ(write(p[1], "hello world\n", 12), 12);
	close(p[1]);
	ASSERT_EQ(pr_secret_read_fd(p[0], t, &eb), PR_EAUTH);
	ASSERT(strstr(eb.msg, "hello") == NULL);
	close(p[0]);
}

/* ---- the handshake ------------------------------------------------------- */

TEST(auth_handshake_ok)
{
	uint8_t s[PR_SECRET_LEN];
	struct pr_errbuf eb = { 0, "" };
	struct pr_hello h;
	enum pr_msg_type type;
	cJSON *root;
	struct hs x;

	ASSERT_OK(pr_secret_generate(s));
	hs_run(&x, s, s);
	ASSERT_OK(x.rc_ch);
	ASSERT_OK(x.rc_wr);
	ASSERT_OK(x.rc_cc);
	/* the hello is still a hello, with a 64-digit nonce */
	ASSERT(strncmp(x.hello.data, HELLO, strlen(HELLO) - 2) == 0);
	ASSERT(strstr(x.hello.data, ",\"nonce\":\"") != NULL);
	ASSERT_OK(pr_msg_parse(x.hello.data, x.hello.len - 1, &root, &type,
	    &eb));
	ASSERT_EQ(type, PR_MSG_HELLO);
	ASSERT_OK(pr_hello_decode(root, &h, &eb));
	ASSERT_EQ(h.slots, 2);
	ASSERT_STR_EQ(h.host, "node07");
	ASSERT_EQ(strlen(cJSON_GetObjectItem(root, "nonce")->valuestring),
	    64);
	cJSON_Delete(root);
	ASSERT(strncmp(x.cauth.data, "{\"type\":\"auth\",\"nonce\":\"", 24)
	    == 0);
	ASSERT(strncmp(x.wauth.data, "{\"type\":\"auth\",\"mac\":\"", 22)
	    == 0);
	ASSERT_EQ(x.wauth.len, 22 + 64 + 3);
	/* done is done */
	ASSERT_EQ(pr_auth_coord_check(&x.c, "{}", 2, &x.cauth, NULL),
	    -EINVAL);
	pr_auth_wipe(&x.w);
	pr_auth_wipe(&x.c);
	hs_free(&x);
}

TEST(auth_handshake_fresh_nonces)
{
	uint8_t s[PR_SECRET_LEN];
	struct hs a, b;

	secret_of(s, 7);
	hs_run(&a, s, s);
	hs_run(&b, s, s);
	ASSERT_OK(a.rc_cc);
	ASSERT_OK(b.rc_cc);
	ASSERT(strcmp(a.hello.data, b.hello.data) != 0);
	ASSERT(strcmp(a.cauth.data, b.cauth.data) != 0);
	ASSERT(strcmp(a.wauth.data, b.wauth.data) != 0);
	hs_free(&a);
	hs_free(&b);
}

TEST(auth_bad_secret_worker_refuses)
{
	uint8_t ws[PR_SECRET_LEN], cs[PR_SECRET_LEN];
	struct hs x;

	secret_of(ws, 1);
	secret_of(cs, 2);
	hs_run(&x, ws, cs);
	ASSERT_OK(x.rc_ch);
	/* the worker sees the coordinator's MAC fail and says nothing */
	ASSERT_EQ(x.rc_wr, PR_EAUTH);
	ASSERT_EQ(x.wauth.len, 0);
	hs_free(&x);
}

TEST(auth_bad_mac_coordinator_refuses)
{
	struct pr_errbuf eb = { 0, "" };
	uint8_t s[PR_SECRET_LEN];
	struct pr_auth c;
	struct pr_buf out;
	char line[160];
	size_t n;
	struct hs x;
	const char *l;

	secret_of(s, 3);
	hs_run(&x, s, s);
	ASSERT_OK(x.rc_cc);

	/* a fresh coordinator; the worker's MAC off by one bit */
	pr_buf_init(&out, 0);
	ASSERT_OK(pr_auth_init(&c, PR_AUTH_COORDINATOR, s));
	l = line_of(&x.hello, &n);
	ASSERT_OK(pr_auth_coord_hello(&c, l, n, &out, &eb));
	pr_buf_reset(&out);
	snprintf(line, sizeof(line), "{\"type\":\"auth\",\"mac\":\"%064d\"}",
	    0);
	ASSERT_EQ(pr_auth_coord_check(&c, line, strlen(line), &out, &eb),
	    PR_EAUTH);
	ASSERT_STR_EQ(eb.msg, "bad MAC");
	/* a reject goes back, naming the reason */
	ASSERT(strstr(out.data, "\"type\":\"reject\"") != NULL);
	ASSERT(strstr(out.data, "authentication failed") != NULL);
	/* and it stays failed */
	ASSERT_EQ(pr_auth_coord_check(&c, line, strlen(line), &out, &eb),
	    -EINVAL);
	pr_buf_release(&out);
	hs_free(&x);
}

TEST(auth_replay_fails)
{
	struct pr_errbuf eb = { 0, "" };
	uint8_t s[PR_SECRET_LEN];
	struct pr_auth c, w;
	struct pr_buf out;
	struct hs old;
	const char *l;
	size_t n;

	secret_of(s, 4);
	hs_run(&old, s, s);
	ASSERT_OK(old.rc_cc);
	pr_buf_init(&out, 0);

	/* an eavesdropper replays the worker's lines to the coordinator */
	ASSERT_OK(pr_auth_init(&c, PR_AUTH_COORDINATOR, s));
	l = line_of(&old.hello, &n);
	ASSERT_OK(pr_auth_coord_hello(&c, l, n, &out, &eb));
	l = line_of(&old.wauth, &n);
	ASSERT_EQ(pr_auth_coord_check(&c, l, n, &out, &eb), PR_EAUTH);

	/* ... or the coordinator's lines to a worker */
	pr_buf_reset(&out);
	ASSERT_OK(pr_auth_init(&w, PR_AUTH_WORKER, s));
	ASSERT_OK(pr_auth_worker_hello(&w, HELLO, strlen(HELLO), &out, &eb));
	pr_buf_reset(&out);
	l = line_of(&old.cauth, &n);
	ASSERT_EQ(pr_auth_worker_reply(&w, l, n, &out, &eb), PR_EAUTH);
	ASSERT_EQ(out.len, 0);
	pr_buf_release(&out);
	hs_free(&old);
}

TEST(auth_reflection_fails)
{
	struct pr_errbuf eb = { 0, "" };
	uint8_t s[PR_SECRET_LEN];
	struct pr_auth c;
	struct pr_buf out;
	struct hs x;
	const char *mac;
	char line[160];
	size_t n;
	const char *l;

	/* a fake worker sends the coordinator's own MAC back: the roles are
	 * in the MAC, so it does not pass as the worker's */
	secret_of(s, 5);
	hs_run(&x, s, s);
	pr_buf_init(&out, 0);
	ASSERT_OK(pr_auth_init(&c, PR_AUTH_COORDINATOR, s));
	l = line_of(&x.hello, &n);
	ASSERT_OK(pr_auth_coord_hello(&c, l, n, &out, &eb));
	mac = strstr(out.data, "\"mac\":\"");
	ASSERT(mac != NULL);
	snprintf(line, sizeof(line), "{\"type\":\"auth\",\"mac\":\"%.64s\"}",
	    mac + 7);
	ASSERT_EQ(pr_auth_coord_check(&c, line, strlen(line), &out, &eb),
	    PR_EAUTH);
	pr_buf_release(&out);
	hs_free(&x);
}

TEST(auth_tampered_hello_fails)
{
	struct pr_errbuf eb = { 0, "" };
	uint8_t s[PR_SECRET_LEN];
	struct pr_auth w, c;
	struct pr_buf hello, cauth, wauth;
	char *p;
	size_t n;
	const char *l;

	/* someone in the middle raises the worker's slots: both MACs cover
	 * the hello, so the worker refuses the coordinator's answer */
	secret_of(s, 6);
	pr_buf_init(&hello, 0);
	pr_buf_init(&cauth, 0);
	pr_buf_init(&wauth, 0);
	ASSERT_OK(pr_auth_init(&w, PR_AUTH_WORKER, s));
	ASSERT_OK(pr_auth_init(&c, PR_AUTH_COORDINATOR, s));
	ASSERT_OK(pr_auth_worker_hello(&w, HELLO, strlen(HELLO), &hello, &eb));
	p = strstr(hello.data, "\"slots\":2");
	ASSERT(p != NULL);
	p[8] = '9';
	l = line_of(&hello, &n);
	ASSERT_OK(pr_auth_coord_hello(&c, l, n, &cauth, &eb));
	l = line_of(&cauth, &n);
	ASSERT_EQ(pr_auth_worker_reply(&w, l, n, &wauth, &eb), PR_EAUTH);
	ASSERT(strstr(eb.msg, "bad MAC") != NULL);
	ASSERT_EQ(wauth.len, 0);
	pr_buf_release(&hello);
	pr_buf_release(&cauth);
	pr_buf_release(&wauth);
}

TEST(auth_version_refused)
{
	struct pr_errbuf eb = { 0, "" };
	uint8_t s[PR_SECRET_LEN];
	struct pr_auth c, w;
	struct pr_buf out, wout;
	const char *line = "{\"type\":\"hello\",\"proto\":[7,9],\"version\":"
	    "\"9.0\",\"host\":\"h\",\"pid\":1,\"cpus\":1,\"slots\":1,"
	    "\"kernels\":[],\"nonce\":\"000000000000000000000000000000000000"
	    "0000000000000000000000000000\"}";
	size_t n;

	secret_of(s, 8);
	pr_buf_init(&out, 0);
	pr_buf_init(&wout, 0);
	ASSERT_OK(pr_auth_init(&c, PR_AUTH_COORDINATOR, s));
	ASSERT_EQ(pr_auth_coord_hello(&c, line, strlen(line), &out, &eb),
	    PR_EVERSION);
	ASSERT(strstr(eb.msg, "7..9") != NULL);
	/* the usual reject, with our range: a worker reads it */
	ASSERT(strstr(out.data, "\"type\":\"reject\"") != NULL);
	ASSERT(strstr(out.data, "\"auth\"") == NULL);
	ASSERT_OK(pr_auth_init(&w, PR_AUTH_WORKER, s));
	ASSERT_OK(pr_auth_worker_hello(&w, HELLO, strlen(HELLO), &wout, &eb));
	pr_buf_reset(&wout);
	n = out.len - 1;
	/* a reject with a range that meets ours is about authentication */
	ASSERT_EQ(pr_auth_worker_reply(&w, out.data, n, &wout, &eb),
	    PR_EAUTH);
	ASSERT_OK(pr_auth_init(&w, PR_AUTH_WORKER, s));
	ASSERT_OK(pr_auth_worker_hello(&w, HELLO, strlen(HELLO), &wout, &eb));
	pr_buf_reset(&wout);
	line = "{\"type\":\"reject\",\"reason\":\"too old\",\"proto\":[5,6]}";
	ASSERT_EQ(pr_auth_worker_reply(&w, line, strlen(line), &wout, &eb),
	    PR_EVERSION);
	ASSERT(strstr(eb.msg, "too old") != NULL);
	ASSERT(strstr(eb.msg, "5..6") != NULL);
	ASSERT_EQ(wout.len, 0);
	pr_buf_release(&out);
	pr_buf_release(&wout);
}

TEST(auth_hello_without_nonce)
{
	struct pr_errbuf eb = { 0, "" };
	uint8_t s[PR_SECRET_LEN];
	struct pr_auth c;
	struct pr_buf out;

	secret_of(s, 9);
	pr_buf_init(&out, 0);
	ASSERT_OK(pr_auth_init(&c, PR_AUTH_COORDINATOR, s));
	ASSERT_EQ(pr_auth_coord_hello(&c, HELLO, strlen(HELLO) - 1, &out,
	    &eb), PR_EAUTH);
	ASSERT(strstr(out.data, "authentication required") != NULL);
	pr_buf_release(&out);
}

/* Lines a coordinator must refuse in step 1 with PR_EPROTO or
 * PR_ETOOBIG, writing nothing. */
TEST(auth_coordinator_garbage)
{
	static const char *const bad[] = {
		"",
		"garbage",
		"{",
		"[]",
		"{\"type\":\"auth\",\"mac\":\"00\"}",
		"{\"type\":\"task\",\"seq\":1}",
		"{\"type\":\"hello\",\"nonce\":\"00\"}",
		"{\"type\":\"hello\",\"proto\":[1],\"nonce\":\"0\"}",
		"{\"type\":\"hello\",\"proto\":[2,1]}",
		"{\"type\":\"hello\",\"proto\":[1,1],\"nonce\":\"xyz\"}",
		"{\"type\":\"hello\",\"proto\":[1,1],\"nonce\":5}",
		"{\"type\":\"hello\",\"proto\":[1,1]} {}",
		"{\"type\":\"hello\",\"proto\":[1.5,2]}",
	};
	struct pr_errbuf eb = { 0, "" };
	uint8_t s[PR_SECRET_LEN];
	struct pr_auth c;
	struct pr_buf out;
	char *big;
	size_t i;
	int rc;

	secret_of(s, 10);
	pr_buf_init(&out, 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ASSERT_OK(pr_auth_init(&c, PR_AUTH_COORDINATOR, s));
		rc = pr_auth_coord_hello(&c, bad[i], strlen(bad[i]), &out, &eb);
		if (rc != PR_EPROTO)
			PR_TEST_FAIL("line %zu '%s': %d", i, bad[i], rc);
		ASSERT_EQ(out.len, 0);
	}
	big = malloc(PR_PREAUTH_FRAME + 2);
	ASSERT(big != NULL);
	memset(big, ' ', PR_PREAUTH_FRAME + 1);
	ASSERT_OK(pr_auth_init(&c, PR_AUTH_COORDINATOR, s));
	ASSERT_EQ(pr_auth_coord_hello(&c, big, PR_PREAUTH_FRAME + 1, &out,
	    &eb), PR_ETOOBIG);
	free(big);
	/* nonces of 63 and 65 digits, and one not hex */
	{
		char line[200];
		int len;

		for (len = 63; len <= 65; len++) {
			snprintf(line, sizeof(line), "{\"type\":\"hello\","
			    "\"proto\":[1,1],\"nonce\":\"%0*d\"}", len, 0);
			ASSERT_OK(pr_auth_init(&c, PR_AUTH_COORDINATOR, s));
			rc = pr_auth_coord_hello(&c, line, strlen(line), &out,
			    &eb);
			ASSERT_EQ(rc, len == 64 ? 0 : PR_EPROTO);
			pr_buf_reset(&out);
		}
		snprintf(line, sizeof(line), "{\"type\":\"hello\","
		    "\"proto\":[1,1],\"nonce\":\"%0*dz\"}", 63, 0);
		ASSERT_OK(pr_auth_init(&c, PR_AUTH_COORDINATOR, s));
		ASSERT_EQ(pr_auth_coord_hello(&c, line, strlen(line), &out,
		    &eb), PR_EPROTO);
	}
	/* the worker's second line, when it is not an auth with a MAC */
	{
		static const char *const bad2[] = {
			"{\"type\":\"hello\",\"proto\":[1,1]}",
			"{\"type\":\"auth\"}",
			"{\"type\":\"auth\",\"mac\":\"zz\"}",
			"{\"type\":\"auth\",\"mac\":[]}",
			"not json",
		};
		struct hs x;
		const char *l;
		size_t n;

		for (i = 0; i < sizeof(bad2) / sizeof(bad2[0]); i++) {
			hs_run(&x, s, s);
			ASSERT_OK(x.rc_cc);
			ASSERT_OK(pr_auth_init(&c, PR_AUTH_COORDINATOR, s));
			l = line_of(&x.hello, &n);
			ASSERT_OK(pr_auth_coord_hello(&c, l, n, &out, &eb));
			pr_buf_reset(&out);
			ASSERT_EQ(pr_auth_coord_check(&c, bad2[i],
			    strlen(bad2[i]), &out, &eb), PR_EPROTO);
			ASSERT_EQ(out.len, 0);
			hs_free(&x);
		}
	}
	pr_buf_release(&out);
}

TEST(auth_worker_garbage)
{
	static const char *const bad[] = {
		"",
		"nonsense",
		"{\"type\":\"welcome\",\"proto\":1}",
		"{\"type\":\"auth\"}",
		"{\"type\":\"auth\",\"nonce\":\"00\",\"mac\":\"00\"}",
		("{\"type\":\"auth\",\"nonce\":\"0000000000000000000000000000"
		    "000000000000000000000000000000000000\"}"),
		"{\"type\":\"reject\"}",
	};
	struct pr_errbuf eb = { 0, "" };
	uint8_t s[PR_SECRET_LEN];
	struct pr_auth w;
	struct pr_buf out;
	size_t i;
	int rc;

	secret_of(s, 11);
	pr_buf_init(&out, 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ASSERT_OK(pr_auth_init(&w, PR_AUTH_WORKER, s));
		ASSERT_OK(pr_auth_worker_hello(&w, HELLO, strlen(HELLO), &out,
		    &eb));
		pr_buf_reset(&out);
		rc = pr_auth_worker_reply(&w, bad[i], strlen(bad[i]), &out,
		    &eb);
		if (rc != PR_EPROTO)
			PR_TEST_FAIL("line %zu '%s': %d", i, bad[i], rc);
		ASSERT_EQ(out.len, 0);
	}
	pr_buf_release(&out);
}

TEST(auth_worker_hello_forms)
{
	struct pr_errbuf eb = { 0, "" };
	uint8_t s[PR_SECRET_LEN];
	struct pr_auth w;
	struct pr_buf out;
	const char *dup;
	char *big;
	size_t n;

	secret_of(s, 12);
	pr_buf_init(&out, 0);
	/* with or without the LF: the same line, ending in LF */
	ASSERT_OK(pr_auth_init(&w, PR_AUTH_WORKER, s));
	ASSERT_OK(pr_auth_worker_hello(&w, HELLO, strlen(HELLO) - 1, &out,
	    &eb));
	ASSERT_EQ(out.len, strlen(HELLO) + 10 + 64 + 1);
	ASSERT_EQ(out.data[out.len - 1], '\n');
	ASSERT_EQ(memchr(out.data, '\n', out.len - 1), NULL);
	/* not a hello */
	pr_buf_reset(&out);
	ASSERT_OK(pr_auth_init(&w, PR_AUTH_WORKER, s));
	ASSERT_EQ(pr_auth_worker_hello(&w, "{\"type\":\"bye\"}", 14, &out,
	    &eb), PR_EPROTO);
	ASSERT_EQ(pr_auth_worker_hello(&w, "xx", 2, &out, &eb), PR_EPROTO);
	/* one nonce only, however spelled */
	dup = "{\"type\":\"hello\",\"non\\u0063e\":1}";
	ASSERT_EQ(pr_auth_worker_hello(&w, dup, strlen(dup), &out, &eb),
	    PR_EPROTO);
	ASSERT(strstr(eb.msg, "already has a nonce") != NULL);
	/* a coordinator's step */
	ASSERT_EQ(pr_auth_coord_hello(&w, HELLO, strlen(HELLO), &out, &eb),
	    -EINVAL);
	/* too long to fit the pre-authentication cap with its nonce */
	n = PR_PREAUTH_FRAME - 60;
	big = malloc(n + 1);
	ASSERT(big != NULL);
	memcpy(big, "{\"type\":\"hello\",\"x\":\"", 21);
	memset(big + 21, 'a', n - 23);
	memcpy(big + n - 2, "\"}", 2);
	big[n] = '\0';
	ASSERT_EQ(pr_auth_worker_hello(&w, big, n, &out, &eb), PR_ETOOBIG);
	free(big);
	ASSERT_EQ(out.len, 0);
	pr_buf_release(&out);
}
