/*
 * test_transport_tcp.c - lib/transport_tcp.c over real loopback sockets:
 * a listener and pr_tcp_connect() clients on one loop, and fake workers
 * (raw blocking sockets in forked children, or silent sockets held by
 * the test) that send bad MACs, replays, wrong versions, nothing at all
 * or 10 MiB without a newline.  Good workers must be unaffected by all
 * of them.
 */
#include "test.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "auth.h"
#include "proto.h"
#include "transport_tcp.h"

#define MAXT 160

/* The runner ends each test with _exit(), which skips LeakSanitizer's
 * check at exit: under ASan, teardown() runs it by hand. */
#if defined(__SANITIZE_ADDRESS__)
#define HAVE_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HAVE_LSAN 1
#endif
#endif
#ifdef HAVE_LSAN
#include <sanitizer/lsan_interface.h>
#endif

/* ---- the coordinator's side: a listener collecting what happens ---------- */

struct tconn {
	struct pr_transport *t;
	struct pr_buf data;
	int eof, eof_err, exited, closed;
	long status;
};

static struct {
	uv_loop_t loop;
	uv_timer_t tick;
	struct pr_listener *l;
	uint8_t secret[PR_SECRET_LEN];
	int accepted, refused, lclosed;
	char reasons[16][PR_ERRBUF_LEN];
	struct tconn tc[MAXT];
	int nt;
	bool attach;			/* attach at once (default) */
	int max_seen_pending;
} S;

static void
on_t_data(void *arg, char *data, size_t len)
{
	struct tconn *c = arg;

	ASSERT_OK(pr_buf_add(&c->data, data, len));
}

static void
on_t_eof(void *arg, int err)
{
	struct tconn *c = arg;

	c->eof++;
	c->eof_err = err;
}

static void
on_t_exited(void *arg, long status, int sig)
{
	struct tconn *c = arg;

	ASSERT_EQ(c->eof, 1);		/* always after eof */
	ASSERT_EQ(sig, 0);
	c->exited++;
	c->status = status;
}

static void
on_t_closed(void *arg)
{
	struct tconn *c = arg;

	c->closed++;
}

static void
attach(struct tconn *c)
{
	struct pr_transport_cb cb;

	cb.arg = c;
	cb.data = on_t_data;
	cb.eof = on_t_eof;
	cb.exited = on_t_exited;
	cb.closed = on_t_closed;
	ASSERT_OK(pr_transport_tcp_attach(c->t, &cb));
	ASSERT_EQ(pr_transport_tcp_attach(c->t, &cb), -EINVAL);
}

static void
on_accepted(void *arg, struct pr_transport *t, const char *peer)
{
	struct tconn *c;

	(void)arg;
	ASSERT(S.nt < MAXT);
	ASSERT(strncmp(peer, "127.0.0.1:", 10) == 0);
	ASSERT(strncmp(t->desc, "tcp 127.0.0.1:", 14) == 0);
	ASSERT_STR_EQ(t->ops->name, "tcp");
	c = &S.tc[S.nt++];
	c->t = t;
	pr_buf_init(&c->data, 0);
	S.accepted++;
	if (S.attach)
		attach(c);
}

static void
on_refused(void *arg, const char *peer, const char *reason)
{
	(void)arg;
	ASSERT(strncmp(peer, "127.0.0.1:", 10) == 0);
	if (S.refused < 16)
		snprintf(S.reasons[S.refused], sizeof(S.reasons[0]), "%s",
		    reason);
	S.refused++;
}

static void
on_l_closed(void *arg)
{
	(void)arg;
	S.lclosed++;
}

static void
on_tick(uv_timer_t *t)
{
	struct pr_listener_stats st;

	(void)t;
	if (S.l != NULL) {
		pr_listener_stats(S.l, &st);
		if (st.pending > S.max_seen_pending)
			S.max_seen_pending = st.pending;
	}
}

static void
setup(void)
{
	memset(&S, 0, sizeof(S));
	S.attach = true;
	signal(SIGPIPE, SIG_IGN);
	ASSERT_OK(uv_loop_init(&S.loop));
	uv_timer_init(&S.loop, &S.tick);
	uv_timer_start(&S.tick, on_tick, 2, 2);
	ASSERT_OK(pr_secret_generate(S.secret));
}

static void
start_listener(const struct pr_listener_opts *o)
{
	struct pr_listener_cb cb;
	struct pr_errbuf eb = { 0, "" };
	int rc;

	cb.arg = NULL;
	cb.accepted = on_accepted;
	cb.refused = on_refused;
	cb.closed = on_l_closed;
	rc = pr_listener_start(&S.loop, "127.0.0.1:0", S.secret, o, &cb,
	    &S.l, &eb);
	if (rc < 0)
		PR_TEST_FAIL("listener: %s", pr_errmsg(&eb, rc));
	ASSERT(pr_listener_port(S.l) > 0);
}

/* Run the loop until p() holds (true) or ms pass (false). */
static bool
run_until(bool (*p)(void), int ms)
{
	uint64_t end = uv_now(&S.loop) + (uint64_t)ms;

	while (!p()) {
		if (uv_now(&S.loop) >= end)
			return false;
		uv_run(&S.loop, UV_RUN_ONCE);
	}
	return true;
}

static bool
never(void)
{
	return false;
}

/* Close everything and check the loop has nothing left. */
static void
teardown(void)
{
	int i;

	for (i = 0; i < S.nt; i++)
		if (S.tc[i].closed == 0)
			pr_transport_close(S.tc[i].t);
	if (S.l != NULL)
		pr_listener_close(S.l);
	uv_close((uv_handle_t *)&S.tick, NULL);
	uv_run(&S.loop, UV_RUN_DEFAULT);
	for (i = 0; i < S.nt; i++) {
		if (S.attach)
			ASSERT_EQ(S.tc[i].closed, 1);
		pr_buf_release(&S.tc[i].data);
		S.tc[i].t = NULL;	/* freed: let LSan see */
	}
	if (S.l != NULL)
		ASSERT_EQ(S.lclosed, 1);
	ASSERT_OK(uv_loop_close(&S.loop));
#ifdef HAVE_LSAN
	__lsan_do_leak_check();
#endif
}

/* ---- the worker's side: pr_tcp_connect() clients ------------------------- */

struct cli {
	uv_tcp_t tcp;
	bool done;
	int status;
	char msg[PR_ERRBUF_LEN];
	int retries;
	uint64_t done_at;
	struct pr_buf got;
	bool eof;
	bool open;
};

static void
make_hello(struct pr_buf *b, int pmin, int pmax)
{
	static const char *const k[] = { "noop", "sort" };
	struct pr_hello h;

	memset(&h, 0, sizeof(h));
	h.proto_min = pmin;
	h.proto_max = pmax;
	h.version = "0.1.0";
	h.host = "testhost";
	h.pid = 4242;
	h.cpus = 4;
	h.slots = 2;
	h.kernels = k;
	h.nkernels = 2;
	pr_buf_init(b, 0);
	ASSERT_OK(pr_msg_hello(b, &h));
}

static void
on_connected(void *arg, int status, uv_tcp_t *tcp, const char *left,
    size_t n, const char *msg)
{
	struct cli *c = arg;

	ASSERT(!c->done);
	c->done = true;
	c->done_at = uv_now(&S.loop);
	c->status = status;
	if (status == 0) {
		ASSERT(tcp == &c->tcp);
		ASSERT(msg == NULL);
		ASSERT_EQ(n, 0);
		(void)left;
		c->open = true;
		tcp->data = c;		/* ours now */
	} else {
		ASSERT(tcp == NULL);
		ASSERT(msg != NULL);
		snprintf(c->msg, sizeof(c->msg), "%s", msg);
	}
}

static void
on_retry(void *arg, int attempt, int err, const char *msg, int delay)
{
	struct cli *c = arg;

	ASSERT(attempt >= 1);
	ASSERT(err < 0);
	ASSERT(msg != NULL && msg[0] != '\0');
	ASSERT(delay > 0);
	c->retries++;
}

static void
cli_start(struct cli *c, const char *addr, const uint8_t *secret,
    const struct pr_tcp_connect_opts *o, int pmin, int pmax)
{
	struct pr_errbuf eb = { 0, "" };
	struct pr_buf hello;
	int rc;

	memset(c, 0, sizeof(*c));
	pr_buf_init(&c->got, 0);
	make_hello(&hello, pmin, pmax);
	rc = pr_tcp_connect(&S.loop, addr, secret, hello.data, hello.len, o,
	    &c->tcp, on_connected, on_retry, c, NULL, &eb);
	if (rc < 0)
		PR_TEST_FAIL("connect: %s", pr_errmsg(&eb, rc));
	pr_buf_release(&hello);
}

static void
cli_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	static char b[65536];

	(void)h;
	(void)hint;
	buf->base = b;
	buf->len = sizeof(b);
}

static void
cli_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct cli *c = s->data;

	if (n > 0)
		ASSERT_OK(pr_buf_add(&c->got, buf->base, (size_t)n));
	else if (n < 0)
		c->eof = true;
}

static void
cli_read_start(struct cli *c)
{
	c->tcp.data = c;
	ASSERT_OK(uv_read_start((uv_stream_t *)&c->tcp, cli_alloc, cli_read));
}

static void
cli_close(struct cli *c)
{
	if (c->open) {
		uv_close((uv_handle_t *)&c->tcp, NULL);
		c->open = false;
	}
}

static void
cli_free(struct cli *c)
{
	pr_buf_release(&c->got);
}

/* ---- fake workers: raw blocking sockets ---------------------------------- */

static int
raw_connect(const char *ip, int port)
{
	struct sockaddr_in sa;
	int fd;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	ASSERT_EQ(inet_pton(AF_INET, ip, &sa.sin_addr), 1);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ASSERT(fd >= 0);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;

		close(fd);
		return -e;
	}
	return fd;
}

/* One line (without LF) into buf; its length, -1 at EOF or error. */
static long
raw_line(int fd, char *buf, size_t cap)
{
	size_t n = 0;
	ssize_t r;

	while (n + 1 < cap) {
		r = read(fd, buf + n, 1);
		if (r <= 0)
			return -1;
		if (buf[n] == '\n') {
			buf[n] = '\0';
			return (long)n;
		}
		n++;
	}
	return -1;
}

static bool
raw_send(int fd, const char *s, size_t n)
{
	ssize_t w;

	while (n > 0) {
		w = send(fd, s, n, MSG_NOSIGNAL);
		if (w <= 0)
			return false;
		s += w;
		n -= (size_t)w;
	}
	return true;
}

/* True when the peer has closed: read gives EOF or a reset. */
static bool
raw_closed(int fd, int ms)
{
	struct pollfd p = { fd, POLLIN, 0 };
	char c;

	if (poll(&p, 1, ms) <= 0)
		return false;
	return read(fd, &c, 1) <= 0;
}

/* A fake worker in a child: fn(fd) gives the exit status. */
static pid_t
child(int (*fn)(int port), int port)
{
	pid_t pid = fork();

	ASSERT(pid >= 0);
	if (pid == 0)
		_exit(fn(port));
	return pid;
}

static pid_t waited_pid;
static int waited_status = -1;

static bool
child_done(void)
{
	int st;

	if (waited_status >= 0)
		return true;
	if (waitpid(waited_pid, &st, WNOHANG) == waited_pid) {
		waited_status = WIFEXITED(st) ? WEXITSTATUS(st) : 128;
		return true;
	}
	return false;
}

static int
wait_child(pid_t pid, int ms)
{
	waited_pid = pid;
	waited_status = -1;
	ASSERT(run_until(child_done, ms));
	return waited_status;
}

/* The worker's side of the handshake on a raw socket: hello (with
 * nonce) sent and the coordinator's auth line read into line. */
static int
raw_hello(int fd, struct pr_auth *a, const uint8_t *secret,
    struct pr_buf *hello, char *line, size_t cap)
{
	struct pr_buf h;

	make_hello(&h, 1, 1);
	pr_buf_init(hello, 0);
	if (pr_auth_init(a, PR_AUTH_WORKER, secret) < 0 ||
	    pr_auth_worker_hello(a, h.data, h.len, hello, NULL) < 0 ||
	    !raw_send(fd, hello->data, hello->len))
		return -1;
	pr_buf_release(&h);
	return (int)raw_line(fd, line, cap);
}

/* ---- tests --------------------------------------------------------------- */

TEST(tcp_parse_addr)
{
	struct pr_errbuf eb = { 0, "" };
	char host[64];
	int port;

	ASSERT_OK(pr_tcp_parse_addr("10.0.0.1:5000", host, sizeof(host),
	    &port, &eb));
	ASSERT_STR_EQ(host, "10.0.0.1");
	ASSERT_EQ(port, 5000);
	ASSERT_OK(pr_tcp_parse_addr("[fe80::1]:0", host, sizeof(host), &port,
	    &eb));
	ASSERT_STR_EQ(host, "fe80::1");
	ASSERT_EQ(port, 0);
	ASSERT_OK(pr_tcp_parse_addr("node07.cluster:65535", host,
	    sizeof(host), &port, &eb));
	ASSERT_STR_EQ(host, "node07.cluster");
	ASSERT_EQ(port, 65535);
	ASSERT_EQ(pr_tcp_parse_addr(":5000", host, sizeof(host), &port, &eb),
	    PR_ECONFIG);
	ASSERT(strstr(eb.msg, "no address") != NULL);
	ASSERT_EQ(pr_tcp_parse_addr("*:5000", host, sizeof(host), &port, &eb),
	    PR_ECONFIG);
	ASSERT_EQ(pr_tcp_parse_addr("5000", host, sizeof(host), &port, &eb),
	    PR_ECONFIG);
	ASSERT_EQ(pr_tcp_parse_addr("h:65536", host, sizeof(host), &port,
	    &eb), PR_ECONFIG);
	ASSERT_EQ(pr_tcp_parse_addr("h:-1", host, sizeof(host), &port, &eb),
	    PR_ECONFIG);
	ASSERT_EQ(pr_tcp_parse_addr("h:", host, sizeof(host), &port, &eb),
	    PR_ECONFIG);
	ASSERT_EQ(pr_tcp_parse_addr("h:1x", host, sizeof(host), &port, &eb),
	    PR_ECONFIG);
	ASSERT_EQ(pr_tcp_parse_addr("fe80::1:80", host, sizeof(host), &port,
	    &eb), PR_ECONFIG);
	ASSERT_EQ(pr_tcp_parse_addr("[fe80::1]80", host, sizeof(host), &port,
	    &eb), PR_ECONFIG);
	ASSERT_EQ(pr_tcp_parse_addr("averyveryverylonghostname:1", host, 8,
	    &port, &eb), PR_ECONFIG);
}

TEST(tcp_route_addr)
{
	struct pr_errbuf eb = { 0, "" };
	char a[64];

	ASSERT_OK(pr_tcp_route_addr("127.0.0.1", a, sizeof(a), &eb));
	ASSERT_STR_EQ(a, "127.0.0.1");
	ASSERT(pr_tcp_route_addr("no-such-host.invalid", a, sizeof(a), &eb)
	    < 0);
}

TEST(tcp_listener_one_address)
{
	struct pr_listener *l;
	struct pr_listener_cb cb;
	struct pr_errbuf eb = { 0, "" };
	char want[32];
	int fd, port;

	setup();
	start_listener(NULL);
	port = pr_listener_port(S.l);
	snprintf(want, sizeof(want), "127.0.0.1:%d", port);
	/* the address getsockname() gives: not 0.0.0.0 */
	ASSERT_STR_EQ(pr_listener_addr(S.l), want);
	/* another address of this host is not listened on */
	fd = raw_connect("127.0.0.2", port);
	if (fd >= 0)
		PR_TEST_FAIL("127.0.0.2:%d accepted a connection", port);
	ASSERT_EQ(fd, -ECONNREFUSED);
	fd = raw_connect("127.0.0.1", port);
	ASSERT(fd >= 0);
	close(fd);

	/* no address, or a wildcard spelled as a star: refused */
	memset(&cb, 0, sizeof(cb));
	cb.accepted = on_accepted;
	ASSERT_EQ(pr_listener_start(&S.loop, ":0", S.secret, NULL, &cb, &l,
	    &eb), PR_ECONFIG);
	ASSERT_EQ(pr_listener_start(&S.loop, "*:0", S.secret, NULL, &cb, &l,
	    &eb), PR_ECONFIG);
	/* a port in use */
	ASSERT(pr_listener_start(&S.loop, want, S.secret, NULL, &cb, &l,
	    &eb) < 0);
	ASSERT(strstr(eb.msg, "cannot listen on") != NULL);
	teardown();
}

static struct cli C1, C2;

static bool
c1_hello_in(void)
{
	return C1.done && S.nt == 1 && memchr(S.tc[0].data.data ?
	    S.tc[0].data.data : "", '\n', S.tc[0].data.len) != NULL;
}

static bool
c1_got_line(void)
{
	return C1.got.len > 0 && C1.got.data[C1.got.len - 1] == '\n';
}

static bool
t0_got_bye(void)
{
	return S.tc[0].data.len > 0 && strstr(S.tc[0].data.data, "bye")
	    != NULL;
}

static bool
t0_exited(void)
{
	return S.tc[0].exited == 1;
}

TEST(tcp_auth_ok)
{
	struct pr_errbuf eb = { 0, "" };
	struct pr_listener_stats st;
	struct pr_hello h;
	enum pr_msg_type type;
	cJSON *root;
	char *lf, *msg;
	uv_write_t wr;
	uv_buf_t b;

	setup();
	start_listener(NULL);
	cli_start(&C1, pr_listener_addr(S.l), S.secret, NULL, 1, 1);
	ASSERT(run_until(c1_hello_in, 3000));
	ASSERT_OK(C1.status);
	ASSERT_EQ(S.accepted, 1);
	ASSERT_EQ(S.refused, 0);
	ASSERT_EQ(C1.retries, 0);

	/* the first bytes are the worker's hello line, nonce and all */
	lf = memchr(S.tc[0].data.data, '\n', S.tc[0].data.len);
	ASSERT((size_t)(lf - S.tc[0].data.data) + 1 == S.tc[0].data.len);
	ASSERT_OK(pr_msg_parse(S.tc[0].data.data, (size_t)(lf -
	    S.tc[0].data.data), &root, &type, &eb));
	ASSERT_EQ(type, PR_MSG_HELLO);
	ASSERT_OK(pr_hello_decode(root, &h, &eb));
	ASSERT_STR_EQ(h.host, "testhost");
	ASSERT_EQ(h.slots, 2);
	ASSERT(cJSON_GetObjectItem(root, "nonce") != NULL);
	cJSON_Delete(root);
	pr_buf_reset(&S.tc[0].data);

	/* then the plain protocol, both ways */
	cli_read_start(&C1);
	msg = strdup("{\"type\":\"hb\",\"now\":1,\"running\":0}\n");
	ASSERT_OK(pr_transport_send(S.tc[0].t, msg, strlen(msg)));
	ASSERT(run_until(c1_got_line, 3000));
	ASSERT_STR_EQ(C1.got.data,
	    "{\"type\":\"hb\",\"now\":1,\"running\":0}\n");
	b = uv_buf_init((char *)"{\"type\":\"bye\"}\n", 15);
	ASSERT_OK(uv_write(&wr, (uv_stream_t *)&C1.tcp, &b, 1, NULL));
	ASSERT(run_until(t0_got_bye, 3000));
	ASSERT_EQ(S.tc[0].t->ops->queued(S.tc[0].t), 0);

	/* the worker goes: eof, then exited(-1) */
	cli_close(&C1);
	ASSERT(run_until(t0_exited, 3000));
	ASSERT_EQ(S.tc[0].eof, 1);
	ASSERT_EQ(S.tc[0].eof_err, 0);
	ASSERT_EQ(S.tc[0].status, -1);
	pr_listener_stats(S.l, &st);
	ASSERT_EQ(st.accepted, 1);
	ASSERT_EQ(st.refused, 0);
	ASSERT_EQ(st.pending, 0);
	teardown();
	cli_free(&C1);
}

static bool
one_accepted(void)
{
	return S.accepted == 1;
}

static bool
c1_done(void)
{
	return C1.done;
}

static bool
c1_c2_done(void)
{
	return C1.done && C2.done;
}

static bool
one_refused(void)
{
	return S.refused >= 1;
}

TEST(tcp_wrong_secret_worker)
{
	uint8_t other[PR_SECRET_LEN];

	setup();
	start_listener(NULL);
	memcpy(other, S.secret, sizeof(other));
	other[31] ^= 1;
	cli_start(&C1, pr_listener_addr(S.l), other, NULL, 1, 1);
	cli_start(&C2, pr_listener_addr(S.l), S.secret, NULL, 1, 1);
	ASSERT(run_until(c1_c2_done, 3000));
	ASSERT(run_until(one_refused, 3000));
	/* the worker found the coordinator's MAC wrong: no retry */
	ASSERT_EQ(C1.status, PR_EAUTH);
	ASSERT(strstr(C1.msg, "bad MAC") != NULL);
	ASSERT_EQ(C1.retries, 0);
	/* the coordinator saw it hang up; the good worker got in */
	ASSERT_OK(C2.status);
	ASSERT(run_until(one_accepted, 3000));
	ASSERT_EQ(S.accepted, 1);
	ASSERT_EQ(S.refused, 1);
	ASSERT(strstr(S.reasons[0], "a different secret?") != NULL);
	cli_close(&C2);
	teardown();
	cli_free(&C1);
	cli_free(&C2);
}

/* A worker that knows no secret answers the auth with a made-up MAC. */
static int
fake_bad_mac(int port)
{
	uint8_t guess[PR_SECRET_LEN];
	struct pr_auth a;
	struct pr_buf hello;
	char line[4200];
	int fd;

	fd = raw_connect("127.0.0.1", port);
	if (fd < 0)
		return 10;
	memset(guess, 0x42, sizeof(guess));
	if (raw_hello(fd, &a, guess, &hello, line, sizeof(line)) < 0)
		return 11;
	if (strncmp(line, "{\"type\":\"auth\",\"nonce\":", 23) != 0)
		return 12;
	snprintf(line, sizeof(line), "{\"type\":\"auth\",\"mac\":\"%064d\"}\n",
	    7);
	if (!raw_send(fd, line, strlen(line)))
		return 13;
	/* a reject comes back, then the end */
	if (raw_line(fd, line, sizeof(line)) < 0)
		return 14;
	if (strstr(line, "\"reject\"") == NULL ||
	    strstr(line, "authentication failed") == NULL)
		return 15;
	if (!raw_closed(fd, 2000))
		return 16;
	return 0;
}

TEST(tcp_bad_mac_refused)
{
	pid_t pid;

	setup();
	start_listener(NULL);
	pid = child(fake_bad_mac, pr_listener_port(S.l));
	cli_start(&C1, pr_listener_addr(S.l), S.secret, NULL, 1, 1);
	ASSERT_EQ(wait_child(pid, 5000), 0);
	ASSERT(run_until(c1_done, 3000));
	ASSERT_OK(C1.status);
	/* the worker is done when the welcome reaches it; the listener
	 * counts it in a later turn of the loop */
	ASSERT(run_until(one_accepted, 3000));
	ASSERT(run_until(one_refused, 3000));
	ASSERT_EQ(S.accepted, 1);
	ASSERT_EQ(S.refused, 1);
	ASSERT_STR_EQ(S.reasons[0], "bad MAC");
	cli_close(&C1);
	teardown();
	cli_free(&C1);
}

/*
 * An eavesdropper saw one whole good handshake (here: made one, with the
 * secret) and replays the worker's lines on a new connection.
 */
static const uint8_t *replay_secret;

static int
fake_replay(int port)
{
	struct pr_auth a;
	struct pr_buf hello, wauth;
	char line[4200];
	int fd, fd2;

	fd = raw_connect("127.0.0.1", port);
	if (fd < 0)
		return 10;
	pr_buf_init(&wauth, 0);
	if (raw_hello(fd, &a, replay_secret, &hello, line, sizeof(line)) < 0)
		return 11;
	if (pr_auth_worker_reply(&a, line, strlen(line), &wauth, NULL) < 0)
		return 12;
	if (!raw_send(fd, wauth.data, wauth.len))
		return 13;
	/* the replay */
	fd2 = raw_connect("127.0.0.1", port);
	if (fd2 < 0)
		return 14;
	if (!raw_send(fd2, hello.data, hello.len))
		return 15;
	if (raw_line(fd2, line, sizeof(line)) < 0 ||
	    strncmp(line, "{\"type\":\"auth\"", 14) != 0)
		return 16;
	if (!raw_send(fd2, wauth.data, wauth.len))
		return 17;
	if (raw_line(fd2, line, sizeof(line)) < 0 ||
	    strstr(line, "\"reject\"") == NULL)
		return 18;
	if (!raw_closed(fd2, 2000))
		return 19;
	close(fd);
	return 0;
}

TEST(tcp_replay_refused)
{
	pid_t pid;

	setup();
	start_listener(NULL);
	replay_secret = S.secret;
	pid = child(fake_replay, pr_listener_port(S.l));
	ASSERT_EQ(wait_child(pid, 5000), 0);
	ASSERT(run_until(one_refused, 3000));
	ASSERT(run_until(one_accepted, 3000));
	ASSERT_EQ(S.accepted, 1);	/* the original */
	ASSERT_EQ(S.refused, 1);	/* the replay */
	ASSERT_STR_EQ(S.reasons[0], "bad MAC");
	teardown();
}

/* A worker of protocol 7..9 on a raw socket: it gets the usual reject. */
static int
fake_version(int port)
{
	char line[4200];
	const char *hello = "{\"type\":\"hello\",\"proto\":[7,9],\"version\":"
	    "\"9\",\"host\":\"h\",\"pid\":1,\"cpus\":1,\"slots\":1,"
	    "\"kernels\":[],\"nonce\":\"00000000000000000000000000000000000"
	    "00000000000000000000000000000\"}\n";
	int fd;

	fd = raw_connect("127.0.0.1", port);
	if (fd < 0)
		return 10;
	if (!raw_send(fd, hello, strlen(hello)))
		return 11;
	if (raw_line(fd, line, sizeof(line)) < 0)
		return 12;
	if (strncmp(line, "{\"type\":\"reject\"", 16) != 0 ||
	    strstr(line, "7..9") == NULL || strstr(line, "\"auth\"") != NULL)
		return 13;
	if (!raw_closed(fd, 2000))
		return 14;
	return 0;
}

static bool
two_refused(void)
{
	return S.refused >= 2;
}

TEST(tcp_version_refused)
{
	pid_t pid;

	setup();
	start_listener(NULL);
	pid = child(fake_version, pr_listener_port(S.l));
	ASSERT_EQ(wait_child(pid, 5000), 0);
	/* and through pr_tcp_connect: PR_EVERSION, no retries */
	cli_start(&C1, pr_listener_addr(S.l), S.secret, NULL, 5, 6);
	ASSERT(run_until(c1_done, 3000));
	ASSERT_EQ(C1.status, PR_EVERSION);
	ASSERT(strstr(C1.msg, "rejected by the coordinator") != NULL);
	ASSERT(strstr(C1.msg, "5..6") != NULL);
	ASSERT_EQ(C1.retries, 0);
	ASSERT(run_until(two_refused, 3000));
	ASSERT(strstr(S.reasons[0], "protocol 7..9") != NULL);
	ASSERT(strstr(S.reasons[1], "protocol 5..6") != NULL);
	ASSERT_EQ(S.accepted, 0);
	teardown();
	cli_free(&C1);
}

TEST(tcp_silent_dropped)
{
	struct pr_listener_opts o = { .preauth_ms = 200 };
	char hello[4200];
	struct pr_auth a;
	struct pr_buf hb, h;
	int quiet, half, port;
	uint64_t t0;

	setup();
	start_listener(&o);
	port = pr_listener_port(S.l);
	t0 = uv_now(&S.loop);
	/* one says nothing; one says hello and then nothing */
	quiet = raw_connect("127.0.0.1", port);
	ASSERT(quiet >= 0);
	half = raw_connect("127.0.0.1", port);
	ASSERT(half >= 0);
	make_hello(&h, 1, 1);
	pr_buf_init(&hb, 0);
	ASSERT_OK(pr_auth_init(&a, PR_AUTH_WORKER, S.secret));
	ASSERT_OK(pr_auth_worker_hello(&a, h.data, h.len, &hb, NULL));
	ASSERT(raw_send(half, hb.data, hb.len));
	cli_start(&C1, pr_listener_addr(S.l), S.secret, NULL, 1, 1);
	ASSERT(run_until(two_refused, 3000));
	ASSERT(uv_now(&S.loop) - t0 >= 190);
	ASSERT(uv_now(&S.loop) - t0 < 2000);
	ASSERT(strstr(S.reasons[0], "within 200 ms") != NULL);
	ASSERT(strstr(S.reasons[1], "within 200 ms") != NULL);
	ASSERT(strstr(S.reasons[0], "no hello") != NULL ||
	    strstr(S.reasons[1], "no hello") != NULL);
	ASSERT(strstr(S.reasons[0], "no authentication") != NULL ||
	    strstr(S.reasons[1], "no authentication") != NULL);
	ASSERT(raw_closed(quiet, 1000));
	/* the half-done one read the auth line, then the end */
	ASSERT(raw_line(half, hello, sizeof(hello)) > 0);
	ASSERT(raw_closed(half, 1000));
	/* the good worker was not held up */
	ASSERT(C1.done);
	ASSERT_OK(C1.status);
	ASSERT(C1.done_at - t0 < 190);
	close(quiet);
	close(half);
	cli_close(&C1);
	pr_buf_release(&hb);
	pr_buf_release(&h);
	teardown();
	cli_free(&C1);
}

/* 10 MiB and no newline; exit 0 when the coordinator cut it short. */
static int
fake_big(int port)
{
	static char chunk[65536];
	size_t sent = 0;
	ssize_t w;
	int fd;

	fd = raw_connect("127.0.0.1", port);
	if (fd < 0)
		return 10;
	memset(chunk, 'x', sizeof(chunk));
	while (sent < 10u << 20) {
		w = send(fd, chunk, sizeof(chunk), MSG_NOSIGNAL);
		if (w < 0)
			return errno == EPIPE || errno == ECONNRESET ? 0 : 11;
		sent += (size_t)w;
	}
	/* all of it went into socket buffers: the end must follow */
	return raw_closed(fd, 2000) ? 0 : 12;
}

TEST(tcp_big_preauth_frame)
{
	struct pr_listener_stats st;
	pid_t pid;

	setup();
	start_listener(NULL);
	pid = child(fake_big, pr_listener_port(S.l));
	cli_start(&C1, pr_listener_addr(S.l), S.secret, NULL, 1, 1);
	ASSERT_EQ(wait_child(pid, 10000), 0);
	ASSERT(run_until(one_refused, 3000));
	ASSERT(run_until(c1_done, 3000));
	ASSERT_OK(C1.status);
	ASSERT_EQ(S.refused, 1);
	ASSERT(strstr(S.reasons[0], "a line over 4096 bytes") != NULL);
	/* it was never read past the handshake buffer */
	pr_listener_stats(S.l, &st);
	ASSERT(st.max_preauth <= PR_PREAUTH_FRAME + 1);
	ASSERT(st.max_preauth > PR_PREAUTH_FRAME - 100);
	cli_close(&C1);
	teardown();
	cli_free(&C1);
}

static struct cli CS[100];

static bool
all_done(void)
{
	int i;

	for (i = 0; i < 100; i++)
		if (!CS[i].done)
			return false;
	return S.accepted == 100;
}

static void
many(int max_pending)
{
	struct pr_listener_opts o = { .max_pending = max_pending };
	struct pr_listener_stats st;
	int i;

	setup();
	start_listener(&o);
	for (i = 0; i < 100; i++)
		cli_start(&CS[i], pr_listener_addr(S.l), S.secret, NULL, 1,
		    1);
	ASSERT(run_until(all_done, 10000));
	for (i = 0; i < 100; i++) {
		if (CS[i].status != 0)
			PR_TEST_FAIL("client %d: %s", i, CS[i].msg);
		cli_close(&CS[i]);
	}
	ASSERT_EQ(S.refused, 0);
	ASSERT(S.max_seen_pending <= (max_pending ? max_pending : 64));
	pr_listener_stats(S.l, &st);
	ASSERT_EQ(st.accepted, 100);
	ASSERT_EQ(st.pending, 0);
	teardown();
	for (i = 0; i < 100; i++)
		cli_free(&CS[i]);
}

TEST(tcp_100_concurrent)
{
	many(0);
}

TEST(tcp_100_concurrent_few_pending)
{
	many(4);
}

TEST(tcp_pending_limit_waits)
{
	struct pr_listener_opts o = { .preauth_ms = 300, .max_pending = 2 };
	int s1, s2, port;
	uint64_t t0;

	/* two silent connections fill the handshake; the third waits in the
	 * kernel's queue, not refused, and gets in when they are dropped */
	setup();
	start_listener(&o);
	port = pr_listener_port(S.l);
	t0 = uv_now(&S.loop);
	s1 = raw_connect("127.0.0.1", port);
	s2 = raw_connect("127.0.0.1", port);
	ASSERT(s1 >= 0 && s2 >= 0);
	run_until(never, 50);
	cli_start(&C1, pr_listener_addr(S.l), S.secret, NULL, 1, 1);
	ASSERT(run_until(c1_done, 3000));
	ASSERT_OK(C1.status);
	ASSERT(C1.done_at - t0 >= 250);
	ASSERT_EQ(S.refused, 2);
	ASSERT(S.max_seen_pending <= 2);
	close(s1);
	close(s2);
	cli_close(&C1);
	teardown();
	cli_free(&C1);
}

static bool
t0_eof(void)
{
	return S.nt == 1 && S.tc[0].exited == 1 && C1.eof;
}

TEST(tcp_kill_drops_worker)
{
	setup();
	start_listener(NULL);
	cli_start(&C1, pr_listener_addr(S.l), S.secret, NULL, 1, 1);
	ASSERT(run_until(c1_hello_in, 3000));
	cli_read_start(&C1);
	/* pause first: kill still ends it */
	S.tc[0].t->ops->pause(S.tc[0].t, true);
	S.tc[0].t->ops->kill(S.tc[0].t, 9);
	ASSERT(run_until(t0_eof, 3000));
	ASSERT_EQ(S.tc[0].eof, 1);
	cli_close(&C1);
	teardown();
	cli_free(&C1);
}

static bool
t0_hello_only(void)
{
	return S.nt == 1 && S.tc[0].data.len > 0;
}

TEST(tcp_attach_later_and_pause)
{
	uv_write_t wr;
	uv_buf_t b;

	setup();
	S.attach = false;
	start_listener(NULL);
	cli_start(&C1, pr_listener_addr(S.l), S.secret, NULL, 1, 1);
	ASSERT(run_until(c1_done, 3000));
	ASSERT(run_until(never, 50) == false);
	ASSERT_EQ(S.nt, 1);
	/* the worker talks before the coordinator attaches: kept */
	b = uv_buf_init((char *)"{\"type\":\"bye\"}\n", 15);
	ASSERT_OK(uv_write(&wr, (uv_stream_t *)&C1.tcp, &b, 1, NULL));
	run_until(never, 50);
	ASSERT_EQ(S.tc[0].data.len, 0);
	S.tc[0].t->ops->pause(S.tc[0].t, true);
	S.attach = true;
	attach(&S.tc[0]);
	ASSERT_EQ(S.tc[0].data.len, 0);	/* never from inside attach */
	ASSERT(run_until(t0_hello_only, 3000));
	/* paused: the hello is replayed, nothing is read after it */
	run_until(never, 100);
	ASSERT(strstr(S.tc[0].data.data, "bye") == NULL);
	S.tc[0].t->ops->pause(S.tc[0].t, false);
	ASSERT(run_until(t0_got_bye, 3000));
	ASSERT(strncmp(S.tc[0].data.data, "{\"type\":\"hello\"", 15) == 0);
	cli_close(&C1);
	teardown();
	cli_free(&C1);
}

static bool
l_closed(void)
{
	return S.lclosed == 1;
}

TEST(tcp_listener_close_drops_pending)
{
	int fd;

	setup();
	start_listener(NULL);
	fd = raw_connect("127.0.0.1", pr_listener_port(S.l));
	ASSERT(fd >= 0);
	run_until(never, 50);
	pr_listener_close(S.l);
	ASSERT(run_until(l_closed, 1000));
	S.l = NULL;
	ASSERT(raw_closed(fd, 1000));
	ASSERT_EQ(S.refused, 0);	/* dropped, not refused */
	close(fd);
	S.lclosed = 0;
	teardown();
}

/* ---- the worker's retries ------------------------------------------------ */

static struct pr_listener_opts late_o;
static char late_addr[64];

static void
on_late(uv_timer_t *t)
{
	struct pr_listener_cb cb;
	struct pr_errbuf eb = { 0, "" };

	memset(&cb, 0, sizeof(cb));
	cb.accepted = on_accepted;
	cb.refused = on_refused;
	cb.closed = on_l_closed;
	if (pr_listener_start(&S.loop, late_addr, S.secret, &late_o, &cb,
	    &S.l, &eb) < 0)
		PR_TEST_FAIL("late listener: %s", eb.msg);
	uv_close((uv_handle_t *)t, NULL);
}

static bool
l_closed_free(void)
{
	return S.lclosed == 1;
}

TEST(tcp_connect_retries)
{
	struct pr_tcp_connect_opts o = { .backoff_ms = 30,
	    .backoff_max_ms = 60, .total_ms = 5000 };
	static uv_timer_t late;
	uint64_t t0;

	/* find a free port, and let it go */
	setup();
	start_listener(NULL);
	snprintf(late_addr, sizeof(late_addr), "%s", pr_listener_addr(S.l));
	pr_listener_close(S.l);
	ASSERT(run_until(l_closed_free, 1000));
	S.l = NULL;
	S.lclosed = 0;

	/* the worker comes first; the listener 300 ms later */
	t0 = uv_now(&S.loop);
	cli_start(&C1, late_addr, S.secret, &o, 1, 1);
	uv_timer_init(&S.loop, &late);
	uv_timer_start(&late, on_late, 300, 0);
	ASSERT(run_until(c1_done, 5000));
	if (C1.status != 0)
		PR_TEST_FAIL("%s", C1.msg);
	ASSERT(C1.retries >= 2);
	ASSERT(C1.done_at - t0 >= 300);
	ASSERT(run_until(one_accepted, 3000));
	cli_close(&C1);
	teardown();
	cli_free(&C1);
}

TEST(tcp_connect_gives_up)
{
	struct pr_tcp_connect_opts o = { .backoff_ms = 20, .total_ms = 300 };
	char addr[64];
	uint64_t t0;

	setup();
	start_listener(NULL);
	snprintf(addr, sizeof(addr), "%s", pr_listener_addr(S.l));
	pr_listener_close(S.l);
	ASSERT(run_until(l_closed_free, 1000));
	S.l = NULL;
	S.lclosed = 0;
	t0 = uv_now(&S.loop);
	cli_start(&C1, addr, S.secret, &o, 1, 1);
	ASSERT(run_until(c1_done, 3000));
	ASSERT_EQ(C1.status, UV_ECONNREFUSED);
	ASSERT(strstr(C1.msg, "cannot connect to") != NULL);
	ASSERT(strstr(C1.msg, "gave up after") != NULL);
	ASSERT(C1.retries >= 2);
	ASSERT(C1.done_at - t0 < 1000);
	teardown();
	cli_free(&C1);
}

TEST(tcp_connect_cancel)
{
	struct pr_tcp_connect *req;
	struct pr_errbuf eb = { 0, "" };
	struct pr_buf hello;
	char addr[64];

	setup();
	start_listener(NULL);
	snprintf(addr, sizeof(addr), "%s", pr_listener_addr(S.l));
	pr_listener_close(S.l);
	ASSERT(run_until(l_closed_free, 1000));
	S.l = NULL;
	S.lclosed = 0;
	memset(&C1, 0, sizeof(C1));
	make_hello(&hello, 1, 1);
	ASSERT_OK(pr_tcp_connect(&S.loop, addr, S.secret, hello.data,
	    hello.len, NULL, &C1.tcp, on_connected, on_retry, &C1, &req,
	    &eb));
	pr_buf_release(&hello);
	run_until(never, 150);
	ASSERT(!C1.done);
	pr_tcp_connect_cancel(req);
	ASSERT(!C1.done);		/* not from inside the call */
	ASSERT(run_until(c1_done, 1000));
	ASSERT_EQ(C1.status, UV_ECANCELED);
	/* bad arguments fail at once, without the callback */
	ASSERT_EQ(pr_tcp_connect(&S.loop, "127.0.0.1:0", S.secret, "{}", 2,
	    NULL, &C2.tcp, on_connected, NULL, &C2, NULL, &eb), PR_ECONFIG);
	ASSERT_EQ(pr_tcp_connect(&S.loop, addr, S.secret, "{}", 2, NULL,
	    &C2.tcp, on_connected, NULL, &C2, NULL, &eb), PR_EPROTO);
	teardown();
}

/* ---- the secret stays out of /proc --------------------------------------- */

static int secret_pipe[2], status_pipe[2];

static struct cli CW;
static uv_loop_t wloop;

static void
w_connected(void *arg, int status, uv_tcp_t *tcp, const char *left,
    size_t n, const char *msg)
{
	(void)arg;
	(void)tcp;
	(void)left;
	(void)n;
	(void)msg;
	CW.status = status;
	CW.done = true;
	uv_stop(&wloop);
}

/* The worker's side in a child: the secret from a pipe, as from srun. */
static int
secret_worker(int port)
{
	uint8_t secret[PR_SECRET_LEN];
	struct pr_buf hello;
	char addr[32];

	close(secret_pipe[1]);
	if (pr_secret_read_fd(secret_pipe[0], secret, NULL) < 0)
		return 10;
	close(secret_pipe[0]);
	if (uv_loop_init(&wloop) < 0)
		return 11;
	make_hello(&hello, 1, 1);
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
	if (pr_tcp_connect(&wloop, addr, secret, hello.data, hello.len, NULL,
	    &CW.tcp, w_connected, NULL, NULL, NULL, NULL) < 0)
		return 12;
	pr_secret_wipe(secret, sizeof(secret));
	uv_run(&wloop, UV_RUN_DEFAULT);
	if (!CW.done || CW.status != 0)
		return 13;
	if (write(status_pipe[1], "ok", 2) != 2)
		return 14;
	pause();		/* until the test kills it */
	return 0;
}

/* Does /proc/PID/FILE hold needle? */
static bool
proc_has(long pid, const char *file, const char *needle)
{
	char path[64], buf[65536];
	size_t n = 0, nl = strlen(needle), i;
	ssize_t r;
	int fd;

	snprintf(path, sizeof(path), "/proc/%ld/%s", pid, file);
	fd = open(path, O_RDONLY);
	ASSERT(fd >= 0);
	while (n < sizeof(buf) && (r = read(fd, buf + n, sizeof(buf) - n))
	    > 0)
		n += (size_t)r;
	close(fd);
	for (i = 0; i + nl <= n; i++)
		if (memcmp(buf + i, needle, nl) == 0)
			return true;
	return false;
}

TEST(tcp_secret_not_in_proc)
{
	char hex[PR_SECRET_HEX + 2], ok[2];
	pid_t pid;
	int st;

	setup();
	start_listener(NULL);
	ASSERT_OK(pipe(secret_pipe));
	ASSERT_OK(pipe(status_pipe));
	pid = child(secret_worker, pr_listener_port(S.l));
	close(secret_pipe[0]);
	pr_secret_hex(S.secret, hex);
	hex[PR_SECRET_HEX] = '\n';
	ASSERT_EQ(write(secret_pipe[1], hex, PR_SECRET_HEX + 1),
	    PR_SECRET_HEX + 1);
	close(secret_pipe[1]);
	ASSERT(run_until(one_accepted, 5000));
	ASSERT_EQ(read(status_pipe[0], ok, 2), 2);
	hex[PR_SECRET_HEX] = '\0';
	/* the authenticated worker process: not in argv, not in environ */
	ASSERT(!proc_has((long)pid, "cmdline", hex));
	ASSERT(!proc_has((long)pid, "environ", hex));
	ASSERT(!proc_has((long)getpid(), "cmdline", hex));
	ASSERT(!proc_has((long)getpid(), "environ", hex));
	kill(pid, SIGKILL);
	ASSERT_EQ(waitpid(pid, &st, 0), pid);
	close(status_pipe[0]);
	close(status_pipe[1]);
	teardown();
}

TEST(tcp_connect_by_name)
{
	struct pr_tcp_connect_opts o = { .backoff_ms = 20, .total_ms = 2000 };
	char addr[64];

	/* "localhost" may come as ::1 first: its addresses are tried in
	 * turn until 127.0.0.1 answers */
	setup();
	start_listener(NULL);
	snprintf(addr, sizeof(addr), "localhost:%d", pr_listener_port(S.l));
	cli_start(&C1, addr, S.secret, &o, 1, 1);
	ASSERT(run_until(c1_done, 3000));
	if (C1.status != 0)
		PR_TEST_FAIL("%s", C1.msg);
	ASSERT(run_until(one_accepted, 3000));
	cli_close(&C1);
	teardown();
	cli_free(&C1);
}
