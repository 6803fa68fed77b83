/*
 * test_transport_ssh.c - the libssh2 transport on a real loop.
 *
 * The refused and silent-server cases need nothing but loopback and always
 * run.  The others talk to a private sshd and SKIP unless the harness
 * (tests/bats/400-ssh.bats runs them) says where it is:
 *	PARRUN_SSH_TEST_ENDPOINT	ADDR:PORT of the sshd
 *	PARRUN_SSH_TEST_KNOWN_HOSTS	a known_hosts file that has it
 *	PARRUN_SSH_TEST_KEY		a private key it accepts
 */
#include "test.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <uv.h>

#include "buf.h"
#include "transport.h"

struct run {
	uv_loop_t loop;
	struct pr_transport *t;
	struct pr_buf got;
	size_t ndata;
	bool eof;
	int eof_err;
	bool exited;
	long status;
	int sig;
	bool closed;
	bool close_on_end;	/* close once both eof and exited came */
	/* pause after pause_at bytes for pause_ms */
	size_t pause_at;
	int pause_ms;
	bool paused;
	size_t while_paused;
	uv_timer_t resume;
	char error[PR_ERRBUF_LEN];
};

static void
maybe_close(struct run *r)
{
	if (r->close_on_end && r->eof && r->exited && !r->closed)
		pr_transport_close(r->t);
}

static void
on_resume(uv_timer_t *h)
{
	struct run *r = h->data;

	r->paused = false;
	r->t->ops->pause(r->t, false);
}

static void
on_data(void *arg, char *data, size_t len)
{
	struct run *r = arg;

	ASSERT(!r->eof);
	if (r->paused)
		r->while_paused += len;
	r->ndata++;
	ASSERT_OK(pr_buf_add(&r->got, data, len));
	if (r->pause_at > 0 && r->got.len >= r->pause_at) {
		r->pause_at = 0;
		r->paused = true;
		r->t->ops->pause(r->t, true);
		uv_timer_start(&r->resume, on_resume, (uint64_t)r->pause_ms, 0);
	}
}

static void
on_eof(void *arg, int err)
{
	struct run *r = arg;

	ASSERT(!r->eof);
	r->eof = true;
	r->eof_err = err;
	snprintf(r->error, sizeof(r->error), "%s", r->t->error);
	maybe_close(r);
}

static void
on_exited(void *arg, long status, int sig)
{
	struct run *r = arg;

	ASSERT(!r->exited);
	r->exited = true;
	r->status = status;
	r->sig = sig;
	maybe_close(r);
}

static void
on_closed(void *arg)
{
	struct run *r = arg;

	ASSERT(!r->closed);
	r->closed = true;
}

static void
run_init(struct run *r)
{
	memset(r, 0, sizeof(*r));
	ASSERT_OK(uv_loop_init(&r->loop));
	pr_buf_init(&r->got, 0);
	uv_timer_init(&r->loop, &r->resume);
	r->resume.data = r;
	r->close_on_end = true;
}

static void
run_finish(struct run *r)
{
	uv_close((uv_handle_t *)&r->resume, NULL);
	ASSERT_OK(uv_run(&r->loop, UV_RUN_DEFAULT));
	ASSERT_OK(uv_loop_close(&r->loop));
	pr_buf_release(&r->got);
}

static int
start(struct run *r, const struct pr_ssh_opts *o, const char *host, int port,
    const char *cmd)
{
	struct pr_transport_cb cb;
	struct pr_errbuf eb = { 0, "" };

	cb.arg = r;
	cb.data = on_data;
	cb.eof = on_eof;
	cb.exited = on_exited;
	cb.closed = on_closed;
	return pr_transport_ssh_start(&r->loop, o, host, port, "root", cmd,
	    &cb, &r->t, &eb);
}

/* Run until closed, or fail after secs. */
static void
run_until_closed(struct run *r, double secs)
{
	uint64_t end = uv_hrtime() + (uint64_t)(secs * 1e9);

	while (!r->closed) {
		ASSERT(uv_hrtime() < end);
		uv_run(&r->loop, UV_RUN_ONCE);
	}
}

static void
on_wake(uv_timer_t *h)
{
	(void)h;
}

/* Run the loop for ms milliseconds. */
static void
run_for(struct run *r, int ms)
{
	uv_timer_t t;
	uint64_t end = uv_now(&r->loop) + (uint64_t)ms;

	uv_timer_init(&r->loop, &t);
	uv_timer_start(&t, on_wake, (uint64_t)ms, 0);
	while (uv_now(&r->loop) < end)
		uv_run(&r->loop, UV_RUN_ONCE);
	uv_close((uv_handle_t *)&t, NULL);
	uv_run(&r->loop, UV_RUN_NOWAIT);
}

static bool
have_sshd(const char **addr, int *port, struct pr_ssh_opts *o)
{
	static char a[64];
	const char *ep = getenv("PARRUN_SSH_TEST_ENDPOINT");
	const char *colon;

	memset(o, 0, sizeof(*o));
	if (ep == NULL || getenv("PARRUN_SSH_TEST_KNOWN_HOSTS") == NULL ||
	    getenv("PARRUN_SSH_TEST_KEY") == NULL)
		return false;
	colon = strrchr(ep, ':');
	ASSERT(colon != NULL && (size_t)(colon - ep) < sizeof(a));
	memcpy(a, ep, (size_t)(colon - ep));
	a[colon - ep] = '\0';
	*addr = a;
	*port = atoi(colon + 1);
	o->known_hosts = getenv("PARRUN_SSH_TEST_KNOWN_HOSTS");
	o->identity = getenv("PARRUN_SSH_TEST_KEY");
	o->connect_timeout_ms = 5000;
	o->keepalive_s = 1;
	/* the agent would come first: keep the tests to the key given */
	unsetenv("SSH_AUTH_SOCK");
	return true;
}

#define NEED_SSHD(addr, port, o) do {					\
	if (!have_sshd(&(addr), &(port), &(o)))				\
		SKIP("no PARRUN_SSH_TEST_ENDPOINT, _KNOWN_HOSTS, _KEY"); \
} while (0)

/* a loopback port where nothing listens */
static int
closed_port(void)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ASSERT_OK(bind(fd, (struct sockaddr *)&sa, sizeof(sa)));
	ASSERT_OK(getsockname(fd, (struct sockaddr *)&sa, &len));
	close(fd);
	return ntohs(sa.sin_port);
}

TEST(transport_ssh_refused_port_is_reported_with_the_host)
{
	struct pr_ssh_opts o;
	struct run r;
	int port = closed_port();

	memset(&o, 0, sizeof(o));
	o.known_hosts = "/dev/null";
	run_init(&r);
	ASSERT_OK(start(&r, &o, "127.0.0.1", port, "true"));
	/* nothing happens inside start() */
	ASSERT(!r.eof && !r.exited);
	run_until_closed(&r, 5);
	ASSERT(r.eof_err == -ECONNREFUSED);
	ASSERT(r.exited && r.status == 255 && r.sig == 0);
	ASSERT(strstr(r.error, "cannot connect to '127.0.0.1:") != NULL);
	ASSERT(strstr(r.error, "connection refused") != NULL);
	run_finish(&r);
}

TEST(transport_ssh_silent_server_times_out_in_the_handshake)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	struct pr_ssh_opts o;
	struct run r;
	uint64_t t0;
	int lfd = socket(AF_INET, SOCK_STREAM, 0);

	/* the kernel completes the TCP handshake; nobody ever speaks */
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ASSERT_OK(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)));
	ASSERT_OK(listen(lfd, 8));
	ASSERT_OK(getsockname(lfd, (struct sockaddr *)&sa, &len));
	memset(&o, 0, sizeof(o));
	o.known_hosts = "/dev/null";
	o.connect_timeout_ms = 300;
	run_init(&r);
	t0 = uv_hrtime();
	ASSERT_OK(start(&r, &o, "127.0.0.1", ntohs(sa.sin_port), "true"));
	run_until_closed(&r, 5);
	ASSERT(uv_hrtime() - t0 >= 250000000u);
	ASSERT(uv_hrtime() - t0 < 2000000000u);
	ASSERT_EQ(r.eof_err, PR_ETIMEOUT);
	ASSERT(strstr(r.error, "timed out after 0.3 s in the ssh handshake") !=
	    NULL);
	close(lfd);
	run_finish(&r);
}

TEST(transport_ssh_kill_while_connecting_abandons_the_attempt)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	struct pr_ssh_opts o;
	struct run r;
	int lfd = socket(AF_INET, SOCK_STREAM, 0);

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ASSERT_OK(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)));
	ASSERT_OK(listen(lfd, 8));
	ASSERT_OK(getsockname(lfd, (struct sockaddr *)&sa, &len));
	memset(&o, 0, sizeof(o));
	o.known_hosts = "/dev/null";

	/* at once: still resolving */
	run_init(&r);
	ASSERT_OK(start(&r, &o, "127.0.0.1", ntohs(sa.sin_port), "true"));
	r.t->ops->kill(r.t, SIGKILL);
	ASSERT(!r.eof);
	run_until_closed(&r, 5);
	ASSERT_EQ(r.eof_err, UV_ECANCELED);
	ASSERT(strstr(r.error, "abandoned while resolving") != NULL);
	ASSERT(r.exited && r.status == 255);
	run_finish(&r);

	/* in the handshake with a server that never speaks */
	run_init(&r);
	ASSERT_OK(start(&r, &o, "127.0.0.1", ntohs(sa.sin_port), "true"));
	run_for(&r, 300);
	ASSERT(!r.eof);
	r.t->ops->kill(r.t, SIGKILL);
	run_until_closed(&r, 5);
	ASSERT_EQ(r.eof_err, UV_ECANCELED);
	ASSERT(strstr(r.error, "abandoned while in the ssh handshake") !=
	    NULL);
	close(lfd);
	run_finish(&r);
}

TEST(transport_ssh_unresolvable_name)
{
	struct pr_ssh_opts o;
	struct run r;

	memset(&o, 0, sizeof(o));
	o.known_hosts = "/dev/null";
	run_init(&r);
	ASSERT_OK(start(&r, &o, "no-such-host.invalid", 22, "true"));
	run_until_closed(&r, 20);
	ASSERT(r.eof_err < 0);
	ASSERT(strstr(r.error, "cannot resolve 'no-such-host.invalid'") !=
	    NULL);
	run_finish(&r);
}

TEST(transport_ssh_close_while_connecting)
{
	struct pr_ssh_opts o;
	struct run r;

	memset(&o, 0, sizeof(o));
	o.known_hosts = "/dev/null";
	run_init(&r);
	ASSERT_OK(start(&r, &o, "127.0.0.1", closed_port(), "true"));
	pr_transport_close(r.t);
	run_until_closed(&r, 5);
	ASSERT(!r.eof && !r.exited);
	run_finish(&r);
}

TEST(transport_ssh_cat_round_trip)
{
	struct pr_ssh_opts o;
	const char *addr;
	struct run r;
	struct pr_buf want;
	int port;

	NEED_SSHD(addr, port, o);
	run_init(&r);
	ASSERT_OK(start(&r, &o, addr, port, "cat"));
	ASSERT(strstr(r.t->desc, "ssh root@") != NULL);
	/* queued before the channel opens, in many small sends */
	pr_buf_init(&want, 0);
	for (int i = 0; i < 20000; i++) {
		char line[64];
		int n = snprintf(line, sizeof(line), "line %d of the input\n",
		    i);

		ASSERT_OK(pr_buf_add(&want, line, (size_t)n));
		ASSERT_OK(pr_transport_send(r.t, strdup(line), (size_t)n));
	}
	ASSERT(r.t->ops->queued(r.t) == want.len);
	r.t->ops->shutdown(r.t);
	run_until_closed(&r, 20);
	ASSERT_EQ(r.eof_err, 0);
	ASSERT(r.exited && r.status == 0 && r.sig == 0);
	ASSERT_EQ(r.got.len, want.len);
	ASSERT_MEM_EQ(r.got.data, want.data, want.len);
	pr_buf_release(&want);
	run_finish(&r);
}

TEST(transport_ssh_exit_status_and_signal)
{
	struct pr_ssh_opts o;
	const char *addr;
	struct run r;
	int port;

	NEED_SSHD(addr, port, o);
	run_init(&r);
	ASSERT_OK(start(&r, &o, addr, port, "echo hi; exit 3"));
	run_until_closed(&r, 20);
	ASSERT_EQ(r.status, 3);
	ASSERT_EQ(r.sig, 0);
	ASSERT_EQ(r.got.len, 3);
	run_finish(&r);

	run_init(&r);
	ASSERT_OK(start(&r, &o, addr, port, "kill -TERM $$"));
	run_until_closed(&r, 20);
	ASSERT_EQ(r.status, 0);
	ASSERT_EQ(r.sig, SIGTERM);
	run_finish(&r);
}

TEST(transport_ssh_large_output_intact)
{
	struct pr_ssh_opts o;
	const char *addr;
	struct run r;
	int port;
	size_t n = 32u << 20;

	NEED_SSHD(addr, port, o);
	run_init(&r);
	/* 32 MiB of "0123456789abcde\n", and noise on stderr meanwhile */
	ASSERT_OK(start(&r, &o, addr, port, "yes 0123456789abcde | head -c "
	    "33554432; echo done >&2"));
	run_until_closed(&r, 60);
	ASSERT_EQ(r.status, 0);
	ASSERT_EQ(r.got.len, n);
	for (size_t i = 0; i < n; i += 16)
		ASSERT(memcmp(r.got.data + i, "0123456789abcde\n", 16) == 0);
	run_finish(&r);
}

TEST(transport_ssh_pause_stops_the_data)
{
	struct pr_ssh_opts o;
	const char *addr;
	struct run r;
	int port;

	NEED_SSHD(addr, port, o);
	run_init(&r);
	r.pause_at = 1;
	r.pause_ms = 700;
	ASSERT_OK(start(&r, &o, addr, port, "head -c 50000000 /dev/zero"));
	run_until_closed(&r, 60);
	ASSERT_EQ(r.while_paused, 0);
	ASSERT_EQ(r.got.len, 50000000);
	ASSERT_EQ(r.status, 0);
	run_finish(&r);
}

TEST(transport_ssh_remote_stderr_is_prefixed_lines)
{
	struct pr_ssh_opts o;
	const char *addr;
	struct run r;
	char path[] = "/tmp/test_transport_ssh.XXXXXX", text[4096];
	int port, fd, saved;
	ssize_t n;

	NEED_SSHD(addr, port, o);
	fd = mkstemp(path);
	ASSERT(fd >= 0);
	saved = dup(2);
	ASSERT_OK(dup2(fd, 2) < 0);
	run_init(&r);
	ASSERT_OK(start(&r, &o, addr, port,
	    "printf 'one\\ntwo\\r\\n' >&2; sleep 0.2; printf 'tail' >&2"));
	run_until_closed(&r, 20);
	run_finish(&r);
	dup2(saved, 2);
	close(saved);
	n = pread(fd, text, sizeof(text) - 1, 0);
	ASSERT(n > 0);
	text[n] = '\0';
	close(fd);
	unlink(path);
	snprintf(path, sizeof(path), "parrun: %s: one\n", addr);
	ASSERT(strstr(text, path) != NULL);
	snprintf(path, sizeof(path), "parrun: %s: two\n", addr);
	ASSERT(strstr(text, path) != NULL);
	snprintf(path, sizeof(path), "parrun: %s: tail\n", addr);
	ASSERT(strstr(text, path) != NULL);
}

TEST(transport_ssh_kill_reports_the_signal)
{
	struct pr_ssh_opts o;
	const char *addr;
	struct run r;
	int port;

	NEED_SSHD(addr, port, o);
	run_init(&r);
	/* a command that would wait forever unless its stdin closes */
	ASSERT_OK(start(&r, &o, addr, port, "cat"));
	for (int i = 0; i < 50 && r.got.len == 0; i++) {
		if (i == 0)
			ASSERT_OK(pr_transport_send(r.t, strdup("x\n"), 2));
		uv_run(&r.loop, UV_RUN_ONCE);
	}
	while (r.got.len == 0)
		uv_run(&r.loop, UV_RUN_ONCE);
	r.t->ops->kill(r.t, SIGKILL);
	ASSERT(!r.eof);		/* from the loop, not inside kill() */
	run_until_closed(&r, 10);
	ASSERT_EQ(r.eof_err, 0);
	ASSERT_EQ(r.sig, SIGKILL);
	run_finish(&r);
}

TEST(transport_ssh_hosts_connect_in_parallel)
{
	struct pr_ssh_opts o;
	const char *addr;
	struct run r[4];
	int port;

	NEED_SSHD(addr, port, o);
	/* four sessions on one loop: each runs `sleep 1`, so in turn they
	 * would take over 4 s */
	{
		uv_loop_t loop;
		struct pr_transport_cb cb;
		struct pr_errbuf eb = { 0, "" };
		uint64_t t0 = uv_hrtime();
		bool all;

		ASSERT_OK(uv_loop_init(&loop));
		for (int i = 0; i < 4; i++) {
			memset(&r[i], 0, sizeof(r[i]));
			pr_buf_init(&r[i].got, 0);
			r[i].close_on_end = true;
			cb.arg = &r[i];
			cb.data = on_data;
			cb.eof = on_eof;
			cb.exited = on_exited;
			cb.closed = on_closed;
			ASSERT_OK(pr_transport_ssh_start(&loop, &o, addr, port,
			    NULL, "sleep 1; echo ok", &cb, &r[i].t, &eb));
		}
		do {
			ASSERT(uv_hrtime() - t0 < 20000000000u);
			uv_run(&loop, UV_RUN_ONCE);
			all = true;
			for (int i = 0; i < 4; i++)
				all = all && r[i].closed;
		} while (!all);
		ASSERT(uv_hrtime() - t0 < 3900000000u);
		for (int i = 0; i < 4; i++) {
			ASSERT_EQ(r[i].status, 0);
			ASSERT_EQ(r[i].got.len, 3);
			pr_buf_release(&r[i].got);
		}
		ASSERT_OK(uv_run(&loop, UV_RUN_DEFAULT));
		ASSERT_OK(uv_loop_close(&loop));
	}
}

/* ---- host keys ---------------------------------------------------------- */

static int
count_lines(const char *path)
{
	FILE *f = fopen(path, "r");
	int c, n = 0;

	if (f == NULL)
		return -1;
	while ((c = fgetc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

TEST(transport_ssh_unknown_host_refused_then_accepted_once)
{
	struct pr_ssh_opts o;
	const char *addr;
	struct run r;
	char kh[] = "/tmp/test_transport_ssh_kh.XXXXXX";
	int port, fd;

	NEED_SSHD(addr, port, o);
	fd = mkstemp(kh);
	ASSERT(fd >= 0);
	close(fd);
	o.known_hosts = kh;

	run_init(&r);
	ASSERT_OK(start(&r, &o, addr, port, "true"));
	run_until_closed(&r, 20);
	ASSERT_EQ(r.eof_err, PR_EHOSTKEY);
	ASSERT(strstr(r.error, "is not known (SHA256:") != NULL);
	ASSERT(strstr(r.error, "ssh-ed25519") != NULL);
	ASSERT_EQ(count_lines(kh), 0);
	run_finish(&r);

	o.accept_new = true;
	for (int i = 0; i < 2; i++) {
		run_init(&r);
		ASSERT_OK(start(&r, &o, addr, port, "echo yes"));
		run_until_closed(&r, 20);
		ASSERT_EQ(r.eof_err, 0);
		ASSERT_EQ(r.got.len, 4);
		ASSERT_EQ(count_lines(kh), 1);
		run_finish(&r);
	}
	unlink(kh);
}

TEST(transport_ssh_changed_key_refused_even_with_accept_new)
{
	struct pr_ssh_opts o;
	const char *addr;
	struct run r;
	char kh[] = "/tmp/test_transport_ssh_kh.XXXXXX", line[512];
	FILE *f;
	int port, fd;

	NEED_SSHD(addr, port, o);
	fd = mkstemp(kh);
	ASSERT(fd >= 0);
	close(fd);
	f = fopen(kh, "w");
	ASSERT(f != NULL);
	/* another ed25519 key under this host's name */
	fprintf(f, "[%s]:%d ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDuRYSR5CTiau0"
	    "978iPa4HWj6GYI/IzTgX2KVAOGtbtZ\n", addr, port);
	fclose(f);
	o.known_hosts = kh;
	o.accept_new = true;
	run_init(&r);
	ASSERT_OK(start(&r, &o, addr, port, "true"));
	run_until_closed(&r, 20);
	ASSERT_EQ(r.eof_err, PR_EHOSTKEY);
	snprintf(line, sizeof(line), "host key for '%s:%d' has changed "
	    "(SHA256:", addr, port);
	ASSERT(strstr(r.error, line) != NULL);
	ASSERT_EQ(count_lines(kh), 1);
	run_finish(&r);
	unlink(kh);
}

TEST(transport_ssh_auth_failure_names_what_was_tried)
{
	struct pr_ssh_opts o;
	const char *addr;
	struct run r;
	char home[] = "/tmp/test_transport_ssh_home.XXXXXX";
	char key[256];
	int port;

	NEED_SSHD(addr, port, o);
	/* a HOME with no keys, and -i naming a missing file */
	ASSERT(mkdtemp(home) != NULL);
	setenv("HOME", home, 1);
	snprintf(key, sizeof(key), "%s/nokey", home);
	o.identity = key;
	run_init(&r);
	ASSERT_OK(start(&r, &o, addr, port, "true"));
	run_until_closed(&r, 20);
	ASSERT_EQ(r.eof_err, PR_EAUTH);
	ASSERT(strstr(r.error, "cannot authenticate to") != NULL);
	ASSERT(strstr(r.error, "nokey") != NULL);
	run_finish(&r);
	rmdir(home);
}
