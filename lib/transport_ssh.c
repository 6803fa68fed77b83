/*
 * transport_ssh.c - a worker on another host, over one libssh2 channel.
 *
 * One struct ssh per connection, driven by the coordinator's libuv loop
 * and never blocking it: the name is resolved with uv_getaddrinfo, the
 * socket is connected non-blocking, and from then on a uv_poll_t on the
 * socket drives a non-blocking libssh2 session through its phases:
 *
 *	RESOLVE -> CONNECT -> HANDSHAKE (host key check) -> AUTH_LIST ->
 *	AUTH -> OPEN -> EXEC -> RUN -> CLOSE_WAIT -> DONE
 *
 * with FAILED reachable from any of them.  One timer bounds everything up
 * to RUN (the connect timeout), then sends the SSH keepalives.  An idle
 * handle runs the pump again when there is work that no socket event
 * would announce (bytes queued by send(), a resume, a kill).
 *
 * Rules of libssh2 1.10 that shape this file (see also
 * shared/testbed/README.md):
 *
 * - After a send that returned EAGAIN, libssh2 keeps the half-sent packet
 *   and the next call that sends must be the very same call, or it fails
 *   with LIBSSH2_ERROR_BAD_USE (reads send window adjustments, and
 *   libssh2_keepalive_send() even drops its own EAGAIN).  So libssh2 never
 *   sees EAGAIN on a send here: the session's send callback (ssh_sendcb)
 *   writes what the kernel takes and keeps the rest in sendq, which the
 *   loop flushes when the socket is writable.  Channel data is only
 *   handed to libssh2 while sendq is short, so sendq stays bounded (by
 *   that and by the remote window).
 * - Reading either stream may move data of the other into libssh2's
 *   queue, and any channel read widens the receive window: so the pump
 *   reads stdout and stderr until neither has queued data before it waits
 *   for the socket, and reads nothing at all while paused (the window then
 *   stays shut and the remote worker blocks: backpressure).
 * - libssh2_channel_eof() is true only once all queued data is read; the
 *   exit status and signal arrive before the remote close, which
 *   libssh2_channel_wait_closed() waits for.  A process killed by a
 *   signal has exit status 0: the signal comes from
 *   libssh2_channel_get_exit_signal().
 * - There is no libssh2_channel_signal() in 1.10.  kill() closes the
 *   channel instead: sshd closes the worker's stdin and stdout, and the
 *   worker kills its task process groups and exits (it ignores SIGPIPE
 *   and treats EOF as "coordinator lost").  The same happens when parrun
 *   dies: the kernel closes the TCP connection, sshd ends the session.
 * - libssh2 1.10 has no strict KEX (CVE-2023-48795): ciphers are pinned
 *   to aes*-ctr with non-EtM MACs, which that attack cannot touch.
 *
 * Reporting: a failure at any point sets t.error (naming host:port and
 * the reason) and calls cb->eof with a negative code, then cb->exited
 * with status 255 (what ssh(1) exits with when the connection fails).  A
 * normal end calls cb->eof(0) after the last byte and cb->exited with the
 * remote status and signal.  Callbacks never run inside start() or inside
 * an op the coordinator calls; they run from loop callbacks only, and an
 * op called from inside a callback (close() most of all) takes effect
 * when that callback returns.
 */
#include "transport.h"

#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libssh2.h>

#include "buf.h"
#include "knownhosts.h"
#include "log.h"

#define DEFAULT_TIMEOUT_MS	10000
#define READ_BUF		(128 * 1024)
#define PUMP_BUDGET		(8 * 1024 * 1024)	/* bytes per turn */
#define CHANNEL_WINDOW		(4 * 1024 * 1024)
#define SENDQ_HIGH		(512 * 1024)	/* stop feeding libssh2 */
#define OUT_COMPACT		(256 * 1024)
#define STDERR_CHUNK		1000	/* a log line holds 2048 */

/* Only ciphers and MACs that CVE-2023-48795 cannot reach. */
static const char crypt_pref[] = "aes128-ctr,aes192-ctr,aes256-ctr";
static const char mac_pref[] = "hmac-sha2-256,hmac-sha2-512";
static const char kex_pref[] = "curve25519-sha256,curve25519-sha256@libssh.org,"
	"ecdh-sha2-nistp256,ecdh-sha2-nistp384,ecdh-sha2-nistp521,"
	"diffie-hellman-group16-sha512,diffie-hellman-group18-sha512,"
	"diffie-hellman-group14-sha256";

enum phase {
	P_RESOLVE,
	P_CONNECT,
	P_HANDSHAKE,
	P_AUTH_LIST,
	P_AUTH,
	P_OPEN,
	P_EXEC,
	P_RUN,
	P_CLOSE_WAIT,		/* EOF seen; waiting for the exit status */
	P_DONE,			/* exited reported; wait for close() */
	P_FAILED,
};

/* "timed out after N s <phase>" */
static const char *const phase_doing[] = {
	[P_RESOLVE] = "resolving the name",
	[P_CONNECT] = "connecting",
	[P_HANDSHAKE] = "in the ssh handshake",
	[P_AUTH_LIST] = "authenticating",
	[P_AUTH] = "authenticating",
	[P_OPEN] = "opening the channel",
	[P_EXEC] = "starting the remote command",
	[P_RUN] = "running",
	[P_CLOSE_WAIT] = "waiting for the exit status",
	[P_DONE] = "done",
	[P_FAILED] = "failed",
};

struct ssh;

/* The poll handle of one connection attempt (heap: an attempt that fails
 * is closed while the next one starts). */
struct conn {
	uv_poll_t h;
	struct ssh *x;
	int fd;
	int events;		/* started with these; 0: stopped */
};

struct ssh {
	struct pr_transport t;		/* first: the public part */
	uv_loop_t *loop;
	enum phase phase;

	char *host;
	char *user;
	char *command;
	char *identity;
	int port;
	char hp[300];			/* "host:port", for messages */
	char khname[300];		/* its known_hosts name */
	char khpath[PATH_MAX];
	bool kh_default;		/* ~/.ssh/known_hosts */
	bool accept_new;
	int timeout_ms;
	int keepalive_s;

	uv_getaddrinfo_t gai;
	bool gai_pending;
	struct addrinfo *ai;		/* all addresses */
	struct addrinfo *ai_next;	/* the next one to try */
	int connect_err;
	struct conn *conn;
	int fd;				/* conn->fd, or -1 */
	uv_timer_t timer;
	uv_idle_t idle;
	int refs;			/* open handles, pending requests */

	LIBSSH2_SESSION *s;
	LIBSSH2_CHANNEL *ch;
	struct pr_buf sendq;		/* what the kernel did not take */
	size_t sendq_off;
	bool sock_dead;			/* no more sends: they fail */
	int sock_err;			/* the socket's error, -errno */
	bool peer_closed;		/* the server closed the connection */
	bool handshaken;
	int disc_reason;		/* SSH_DISCONNECT_* when we hang up */
	char known_types[256];		/* its known host key methods */

	/* authentication */
	LIBSSH2_AGENT *agent;
	struct libssh2_agent_publickey *agent_id;
	bool agent_tried;
	int key_next;			/* next key file candidate */
	char key_path[PATH_MAX];
	bool auth_busy;			/* an attempt is under way */
	struct pr_buf authlog;		/* "agent key 'x' refused; ..." */

	/* the channel */
	struct pr_buf out;		/* bytes for the worker */
	size_t out_off;
	bool eof_wanted;		/* shutdown(): EOF after out */
	bool eof_sent;
	bool paused;
	bool kill_wanted;
	int kill_sig;
	bool eof_reported;
	bool exited_reported;
	struct pr_buf errline;		/* unfinished stderr line */
	char *rbuf;

	bool closing;			/* close() was called */
	bool torn;			/* libssh2 state released */
	int busy;			/* inside a loop callback */
};

static bool ssh_inited;

static void advance(struct ssh *x);
static void teardown(struct ssh *x);
static void update_poll(struct ssh *x);
static void on_idle(uv_idle_t *h);
static void on_timer(uv_timer_t *h);

/* ---- lifetime -------------------------------------------------------- */

static void
maybe_free(struct ssh *x)
{
	if (x->refs > 0 || !x->torn)
		return;
	if (x->t.cb.closed != NULL)
		x->t.cb.closed(x->t.cb.arg);
	if (x->ai != NULL)
		uv_freeaddrinfo(x->ai);
	pr_buf_release(&x->out);
	pr_buf_release(&x->sendq);
	pr_buf_release(&x->errline);
	pr_buf_release(&x->authlog);
	free(x->rbuf);
	free(x->host);
	free(x->user);
	free(x->command);
	free(x->identity);
	free(x);
}

static void
on_handle_closed(uv_handle_t *h)
{
	struct ssh *x = h->data;

	x->refs--;
	maybe_free(x);
}

static void
on_conn_closed(uv_handle_t *h)
{
	struct conn *c = h->data;
	struct ssh *x = c->x;

	if (c->fd >= 0)
		close(c->fd);
	free(c);
	x->refs--;
	maybe_free(x);
}

static void
conn_close(struct ssh *x)
{
	struct conn *c = x->conn;

	if (c == NULL)
		return;
	x->conn = NULL;
	x->fd = -1;
	uv_close((uv_handle_t *)&c->h, on_conn_closed);
}

/* Loop callbacks run the state machine between enter() and leave(); a
 * close() that a callback of ours triggered is carried out in leave(),
 * once no libssh2 call is on the stack. */
static void
enter(struct ssh *x)
{
	x->busy++;
}

static void
leave(struct ssh *x)
{
	if (--x->busy == 0 && x->closing && !x->torn)
		teardown(x);
}


static void
schedule(struct ssh *x)
{
	if (!x->closing && !uv_is_active((uv_handle_t *)&x->idle))
		uv_idle_start(&x->idle, on_idle);
}

/* ---- reporting ------------------------------------------------------- */

static void
report_eof(struct ssh *x, int err)
{
	if (x->eof_reported || x->closing)
		return;
	x->eof_reported = true;
	x->t.cb.eof(x->t.cb.arg, err);
}

static void
report_exited(struct ssh *x, long status, int sig)
{
	if (x->exited_reported || x->closing)
		return;
	x->exited_reported = true;
	if (x->t.cb.exited != NULL)
		x->t.cb.exited(x->t.cb.arg, status, sig);
}

/*
 * The connection is over: record why in t.error, then report EOF (if the
 * stream had not ended yet) and an exit status of 255.  Returns code (< 0)
 * so that steps can `return fail(...)`.
 */
__attribute__((format(printf, 3, 4)))
static int
fail(struct ssh *x, int code, const char *fmt, ...)
{
	va_list ap;

	if (x->phase == P_FAILED || x->phase == P_DONE)
		return code;
	va_start(ap, fmt);
	vsnprintf(x->t.error, sizeof(x->t.error), fmt, ap);
	va_end(ap);
	x->phase = P_FAILED;
	uv_timer_stop(&x->timer);
	report_eof(x, code);
	report_exited(x, 255, 0);
	return code;
}

/* Why the last libssh2 call failed, in words: the socket's own error when
 * there is one, else libssh2's message (first letter lowered). */
static const char *
why(struct ssh *x, char *buf, size_t n)
{
	char *msg = NULL;

	if (x->sock_err != 0)
		return uv_strerror(x->sock_err);
	if (x->peer_closed)
		return "the server closed the connection";
	if (x->s != NULL)
		libssh2_session_last_error(x->s, &msg, NULL, 0);
	if (msg == NULL || msg[0] == '\0')
		return "unknown error";
	snprintf(buf, n, "%s", msg);
	if (buf[0] >= 'A' && buf[0] <= 'Z' && !(buf[1] >= 'A' && buf[1] <= 'Z'))
		buf[0] = (char)(buf[0] - 'A' + 'a');
	return buf;
}

static int
lost(struct ssh *x)
{
	char b[256];

	return fail(x, x->sock_err != 0 ? x->sock_err : PR_ESSH,
	    "connection to '%s' lost: %s", x->hp, why(x, b, sizeof(b)));
}

/* ---- the socket ------------------------------------------------------ */

/*
 * libssh2's send: what the kernel does not take now goes to sendq, and
 * libssh2 is told it was sent (see the top of the file).  The agent's own
 * socket comes through here too, and is passed straight on.
 */
static ssize_t
ssh_sendcb(libssh2_socket_t fd, const void *p, size_t n, int flags,
    void **abstract)
{
	struct ssh *x = *abstract;
	ssize_t w = 0;

	if (fd != x->fd) {
		w = send(fd, p, n, flags | MSG_NOSIGNAL);
		return w < 0 ? -errno : w;
	}
	if (x->sock_dead)
		return -EPIPE;
	if (x->sendq.len == x->sendq_off) {
		do
			w = send(fd, p, n, flags | MSG_NOSIGNAL);
		while (w < 0 && errno == EINTR);
		if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
			x->sock_err = -errno;
			return -errno;
		}
		if (w < 0)
			w = 0;
	}
	if ((size_t)w < n &&
	    pr_buf_add(&x->sendq, (const char *)p + w, n - (size_t)w) < 0)
		return -ENOMEM;
	return (ssize_t)n;
}

static ssize_t
ssh_recvcb(libssh2_socket_t fd, void *p, size_t n, int flags,
    void **abstract)
{
	struct ssh *x = *abstract;
	ssize_t r;

	do
		r = recv(fd, p, n, flags);
	while (r < 0 && errno == EINTR);
	if (fd != x->fd)
		return r < 0 ? -errno : r;
	if (r == 0)
		x->peer_closed = true;
	if (r < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return -EAGAIN;
		x->sock_err = -errno;
		return -errno;
	}
	return r;
}

/* Write what sendq holds; 0, or a negative code (the connection is gone). */
static int
flush_sendq(struct ssh *x)
{
	while (x->sendq.len > x->sendq_off && !x->sock_dead) {
		ssize_t w = send(x->fd, x->sendq.data + x->sendq_off,
		    x->sendq.len - x->sendq_off, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (w < 0) {
			x->sock_err = -errno;
			return x->sock_err;
		}
		x->sendq_off += (size_t)w;
	}
	if (x->sendq_off == x->sendq.len) {
		pr_buf_reset(&x->sendq);
		x->sendq_off = 0;
	} else if (x->sendq_off >= OUT_COMPACT) {
		pr_buf_consume(&x->sendq, x->sendq_off);
		x->sendq_off = 0;
	}
	return 0;
}

static size_t
sendq_len(const struct ssh *x)
{
	return x->sendq.len - x->sendq_off;
}

static void
on_poll(uv_poll_t *h, int status, int events);

static void
update_poll(struct ssh *x)
{
	struct conn *c = x->conn;
	bool want_write;
	int ev = 0;

	if (c == NULL || x->closing)
		return;
	want_write = (x->out.len > x->out_off ||
	    (x->eof_wanted && !x->eof_sent)) && sendq_len(x) < SENDQ_HIGH;
	switch (x->phase) {
	case P_CONNECT:
		ev = UV_WRITABLE;
		break;
	case P_HANDSHAKE:
	case P_AUTH_LIST:
	case P_AUTH:
	case P_OPEN:
	case P_EXEC:
	case P_CLOSE_WAIT:
		ev = UV_READABLE;
		break;
	case P_RUN:
		/* paused: read the socket only for what a write needs (window
		 * adjustments), since every channel read widens the window */
		if (!x->paused || want_write)
			ev = UV_READABLE;
		break;
	default:
		break;
	}
	if (sendq_len(x) > 0 && x->phase != P_CONNECT && x->phase != P_FAILED)
		ev |= UV_WRITABLE;
	if (ev == c->events)
		return;
	if (ev == 0)
		uv_poll_stop(&c->h);
	else if (uv_poll_start(&c->h, ev, on_poll) < 0)
		return;
	c->events = ev;
}

static void
tune_socket(struct ssh *x, int fd)
{
	int one = 1;

	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (x->keepalive_s > 0) {
		int idle = x->keepalive_s, cnt = 3;
		unsigned int user = (unsigned int)x->keepalive_s * 3000u;

		/* a peer that stops answering (host down, link cut) fails
		 * the connection after about three keepalive periods */
		(void)setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one,
		    sizeof(one));
		(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle,
		    sizeof(idle));
		(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &idle,
		    sizeof(idle));
		(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt,
		    sizeof(cnt));
		(void)setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user,
		    sizeof(user));
	}
}

/* Connect to the next address; 0 when an attempt is under way. */
static int
try_connect(struct ssh *x)
{
	int err;

	while (x->ai_next != NULL) {
		struct addrinfo *a = x->ai_next;
		struct conn *c;
		int fd;

		x->ai_next = a->ai_next;
		fd = socket(a->ai_family, SOCK_STREAM | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0);
		if (fd < 0) {
			x->connect_err = -errno;
			continue;
		}
		if (connect(fd, a->ai_addr, a->ai_addrlen) < 0 &&
		    errno != EINPROGRESS) {
			x->connect_err = -errno;
			close(fd);
			continue;
		}
		c = calloc(1, sizeof(*c));
		if (c == NULL) {
			close(fd);
			x->connect_err = -ENOMEM;
			break;
		}
		if ((err = uv_poll_init_socket(x->loop, &c->h, fd)) < 0) {
			close(fd);
			free(c);
			x->connect_err = err;
			continue;
		}
		c->x = x;
		c->fd = fd;
		c->h.data = c;
		x->refs++;
		x->conn = c;
		x->fd = fd;
		x->phase = P_CONNECT;
		return 0;
	}
	err = x->connect_err != 0 ? x->connect_err : -EHOSTUNREACH;
	return fail(x, err, "cannot connect to '%s': %s", x->hp,
	    pr_strerror(err));
}

static void
on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
	struct ssh *x = req->data;

	x->refs--;
	x->gai_pending = false;
	if (x->closing) {
		if (res != NULL)
			uv_freeaddrinfo(res);
		maybe_free(x);
		return;
	}
	enter(x);
	x->ai = res;		/* freed with x */
	/* (a kill may have ended the attempt meanwhile) */
	if (x->phase == P_RESOLVE && status < 0)
		fail(x, status, "cannot connect to '%s': cannot resolve '%s': "
		    "%s", x->hp, x->host, uv_strerror(status));
	else if (x->phase == P_RESOLVE) {
		x->ai_next = res;
		try_connect(x);
	}
	update_poll(x);
	leave(x);
}

/* ---- the session ----------------------------------------------------- */

static void
set_io_callbacks(LIBSSH2_SESSION *s)
{
	/* libssh2 takes the callbacks as void *: pass them through a union
	 * (a cast between function and object pointers is not ISO C) */
	union {
		LIBSSH2_SEND_FUNC((*f));
		void *p;
	} snd;
	union {
		LIBSSH2_RECV_FUNC((*f));
		void *p;
	} rcv;

	snd.p = NULL;
	snd.f = ssh_sendcb;
	rcv.p = NULL;
	rcv.f = ssh_recvcb;
	libssh2_session_callback_set(s, LIBSSH2_CALLBACK_SEND, snd.p);
	libssh2_session_callback_set(s, LIBSSH2_CALLBACK_RECV, rcv.p);
}

/* Ask for the host key types known_hosts already has for this host, so a
 * server that also has a key of another type cannot dodge the check. */
static void
prefer_known_types(struct ssh *x)
{
	LIBSSH2_KNOWNHOSTS *kh = NULL;

	x->known_types[0] = '\0';
	if (pr_knownhosts_load(x->s, x->khpath, &kh, NULL) < 0)
		return;	/* the check after the handshake says why */
	if (pr_knownhosts_methods(kh, x->khname, x->known_types,
	    sizeof(x->known_types)) <= 0 ||
	    libssh2_session_method_pref(x->s, LIBSSH2_METHOD_HOSTKEY,
	    x->known_types) < 0)
		x->known_types[0] = '\0';
	libssh2_knownhost_free(kh);
}

static int
start_session(struct ssh *x)
{
	static const int methods[] = {
		LIBSSH2_METHOD_CRYPT_CS, LIBSSH2_METHOD_CRYPT_SC,
		LIBSSH2_METHOD_MAC_CS, LIBSSH2_METHOD_MAC_SC,
	};

	tune_socket(x, x->fd);
	x->s = libssh2_session_init_ex(NULL, NULL, NULL, x);
	if (x->s == NULL)
		return fail(x, -ENOMEM, "cannot start ssh to '%s': out of "
		    "memory", x->hp);
	libssh2_session_set_blocking(x->s, 0);
	set_io_callbacks(x->s);
	/* the pins are a policy: a failure here is a libssh2 without them */
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (libssh2_session_method_pref(x->s, methods[i],
		    methods[i] <= LIBSSH2_METHOD_CRYPT_SC ? crypt_pref :
		    mac_pref) < 0)
			return fail(x, PR_ESSH, "cannot start ssh to '%s': "
			    "libssh2 lacks aes-ctr or hmac-sha2", x->hp);
	(void)libssh2_session_method_pref(x->s, LIBSSH2_METHOD_KEX, kex_pref);
	prefer_known_types(x);
	x->phase = P_HANDSHAKE;
	return 1;
}

static void
connected(struct ssh *x)
{
	socklen_t len = sizeof(int);
	int err = 0;

	if (getsockopt(x->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err == EINPROGRESS || err == EALREADY)
		return;		/* not yet */
	if (err != 0) {
		x->connect_err = -err;
		conn_close(x);
		try_connect(x);
		return;
	}
	if (start_session(x) > 0)
		advance(x);
}

static int
check_hostkey(struct ssh *x)
{
	LIBSSH2_KNOWNHOSTS *kh = NULL;
	struct pr_errbuf eb = { 0, "" };
	enum pr_kh_result r;
	const char *key;
	char fp[64], tname[64], known[256];
	size_t len;
	int type, rc;

	key = libssh2_session_hostkey(x->s, &len, &type);
	if (key == NULL)
		return fail(x, PR_EHOSTKEY, "'%s' showed no host key", x->hp);
	pr_knownhosts_fingerprint(key, len, fp, sizeof(fp));
	pr_knownhosts_type_name(key, len, type, tname, sizeof(tname));
	/* read afresh: another connection may just have added this host */
	if (pr_knownhosts_load(x->s, x->khpath, &kh, &eb) < 0)
		return fail(x, PR_EHOSTKEY, "host key for '%s' cannot be "
		    "checked (%s %s): %s", x->hp, fp, tname, eb.msg);
	r = pr_knownhosts_check(kh, x->khname, key, len, type);
	known[0] = '\0';
	if (r == PR_KH_OTHERTYPE &&
	    pr_knownhosts_methods(kh, x->khname, known, sizeof(known)) <= 0)
		snprintf(known, sizeof(known), "other types");
	libssh2_knownhost_free(kh);
	x->disc_reason = SSH_DISCONNECT_HOST_KEY_NOT_VERIFIABLE;
	switch (r) {
	case PR_KH_MATCH:
		break;
	case PR_KH_MISMATCH:
		return fail(x, PR_EHOSTKEY, "host key for '%s' has changed "
		    "(%s %s): refusing; '%s' holds another key for '%s'",
		    x->hp, fp, tname, x->khpath, x->khname);
	case PR_KH_OTHERTYPE:
		return fail(x, PR_EHOSTKEY, "host key for '%s' is not of a "
		    "known type (%s %s; '%s' has %s for '%s'): refusing",
		    x->hp, fp, tname, x->khpath, known, x->khname);
	case PR_KH_NOTFOUND:
		if (!x->accept_new)
			return fail(x, PR_EHOSTKEY, "host key for '%s' is not "
			    "known (%s %s): refusing; check it, then add it "
			    "to '%s' or use --accept-new-hostkeys", x->hp, fp,
			    tname, x->khpath);
		rc = pr_knownhosts_append(x->khpath, x->kh_default,
		    x->khname, key, len, type, &eb);
		if (rc < 0)
			return fail(x, PR_EHOSTKEY, "host key for '%s' (%s %s) "
			    "cannot be recorded: %s", x->hp, fp, tname,
			    eb.msg);
		pr_log_warn("added the host key of '%s' (%s %s) to '%s'",
		    x->hp, fp, tname, x->khpath);
		break;
	}
	x->disc_reason = SSH_DISCONNECT_BY_APPLICATION;
	return 0;
}

static int
step_handshake(struct ssh *x)
{
	char b[256];
	int rc;

	rc = libssh2_session_handshake(x->s, x->fd);
	if (rc == LIBSSH2_ERROR_EAGAIN)
		return 0;
	if (rc < 0) {
		if (x->sock_err != 0 || x->peer_closed)
			return lost(x);
		if (x->known_types[0] != '\0' &&
		    rc == LIBSSH2_ERROR_KEX_FAILURE)
			return fail(x, PR_EHOSTKEY, "host key for '%s' cannot "
			    "be checked: the ssh handshake failed (%s) asking "
			    "only for the key types '%s' has for it (%s): "
			    "refusing", x->hp, why(x, b, sizeof(b)),
			    x->khpath, x->known_types);
		return fail(x, PR_ESSH, "ssh handshake with '%s' failed: %s",
		    x->hp, why(x, b, sizeof(b)));
	}
	x->handshaken = true;
	if ((rc = check_hostkey(x)) < 0)
		return rc;
	x->phase = P_AUTH_LIST;
	return 1;
}

/* ---- authentication -------------------------------------------------- */

static void
authlog(struct ssh *x, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void
authlog(struct ssh *x, const char *fmt, ...)
{
	va_list ap;

	if (x->authlog.len > 0)
		(void)pr_buf_adds(&x->authlog, "; ");
	va_start(ap, fmt);
	(void)pr_buf_vaddf(&x->authlog, fmt, ap);
	va_end(ap);
}

static void
agent_done(struct ssh *x)
{
	if (x->agent == NULL)
		return;
	libssh2_agent_disconnect(x->agent);
	libssh2_agent_free(x->agent);
	x->agent = NULL;
	x->agent_id = NULL;
}

/* The agent's next key, or false.  Talking to the agent blocks, briefly:
 * it is a local socket. */
static bool
next_agent_key(struct ssh *x)
{
	struct libssh2_agent_publickey *id = NULL;
	const char *sock;

	if (!x->agent_tried) {
		x->agent_tried = true;
		sock = getenv("SSH_AUTH_SOCK");
		if (sock == NULL || sock[0] == '\0')
			return false;
		x->agent = libssh2_agent_init(x->s);
		if (x->agent == NULL)
			return false;
		if (libssh2_agent_connect(x->agent) != 0) {
			authlog(x, "ssh-agent: cannot connect to '%s'", sock);
			agent_done(x);
			return false;
		}
		if (libssh2_agent_list_identities(x->agent) != 0) {
			authlog(x, "ssh-agent: cannot list its keys");
			agent_done(x);
			return false;
		}
	}
	if (x->agent == NULL)
		return false;
	if (libssh2_agent_get_identity(x->agent, &id, x->agent_id) != 0) {
		agent_done(x);
		return false;
	}
	x->agent_id = id;
	return true;
}

/* The next key file: -i KEY, then ~/.ssh/id_ed25519, id_ecdsa, id_rsa
 * (those that exist). */
static bool
next_key_file(struct ssh *x)
{
	static const char *const defaults[] = {
		"id_ed25519", "id_ecdsa", "id_rsa",
	};
	const char *home = getenv("HOME");

	if (home == NULL || home[0] == '\0') {
		struct passwd *pw = getpwuid(getuid());

		home = pw != NULL && pw->pw_dir != NULL ? pw->pw_dir : "/";
	}
	while (x->key_next <= 3) {
		int i = x->key_next++;
		int n;

		if (i == 0) {
			if (x->identity == NULL)
				continue;
			if (access(x->identity, R_OK) < 0) {
				authlog(x, "key '%s': %s", x->identity,
				    pr_strerror(-errno));
				continue;
			}
			snprintf(x->key_path, sizeof(x->key_path), "%s",
			    x->identity);
			return true;
		}
		n = snprintf(x->key_path, sizeof(x->key_path), "%s/.ssh/%s",
		    home, defaults[i - 1]);
		if (n < 0 || (size_t)n >= sizeof(x->key_path))
			continue;
		if (x->identity != NULL &&
		    strcmp(x->identity, x->key_path) == 0)
			continue;
		if (access(x->key_path, R_OK) == 0)
			return true;
	}
	return false;
}

static bool
is_refusal(int rc)
{
	return rc == LIBSSH2_ERROR_AUTHENTICATION_FAILED ||
	    rc == LIBSSH2_ERROR_PUBLICKEY_UNVERIFIED ||
	    rc == LIBSSH2_ERROR_METHOD_NOT_SUPPORTED;
}

static bool
is_key_problem(int rc)
{
	return rc == LIBSSH2_ERROR_FILE ||
	    rc == LIBSSH2_ERROR_PUBLICKEY_PROTOCOL ||
	    rc == LIBSSH2_ERROR_KEYFILE_AUTH_FAILED ||
	    rc == LIBSSH2_ERROR_AGENT_PROTOCOL ||
	    rc == LIBSSH2_ERROR_METHOD_NONE || rc == LIBSSH2_ERROR_ALLOC;
}

static int
step_auth_list(struct ssh *x)
{
	char *list;

	list = libssh2_userauth_list(x->s, x->user,
	    (unsigned int)strlen(x->user));
	if (list == NULL) {
		if (libssh2_userauth_authenticated(x->s)) {
			x->phase = P_OPEN;	/* "none" was enough */
			return 1;
		}
		if (libssh2_session_last_errno(x->s) == LIBSSH2_ERROR_EAGAIN)
			return 0;
		return lost(x);
	}
	if (strstr(list, "publickey") == NULL)
		return fail(x, PR_EAUTH, "cannot authenticate to '%s' as '%s': "
		    "the server takes no keys (only %s)", x->hp, x->user, list);
	x->phase = P_AUTH;
	return 1;
}

static int
step_auth(struct ssh *x)
{
	char b[256];
	int rc;

	for (;;) {
		if (!x->auth_busy) {
			if (!next_agent_key(x) && !next_key_file(x))
				return fail(x, PR_EAUTH, "cannot authenticate "
				    "to '%s' as '%s': %s", x->hp, x->user,
				    x->authlog.len > 0 ? x->authlog.data :
				    "no key to offer (no ssh-agent, no -i "
				    "KEY, no ~/.ssh/id_ed25519, id_ecdsa or "
				    "id_rsa)");
			x->auth_busy = true;
		}
		if (x->agent_id != NULL)
			rc = libssh2_agent_userauth(x->agent, x->user,
			    x->agent_id);
		else
			rc = libssh2_userauth_publickey_fromfile_ex(x->s,
			    x->user, (unsigned int)strlen(x->user), NULL,
			    x->key_path, NULL);
		if (rc == LIBSSH2_ERROR_EAGAIN)
			return 0;
		x->auth_busy = false;
		if (rc == 0) {
			agent_done(x);
			x->phase = P_OPEN;
			return 1;
		}
		if (!is_refusal(rc) && !is_key_problem(rc)) {
			char lb[256];

			snprintf(lb, sizeof(lb), "%s", why(x, b, sizeof(b)));
			return fail(x, PR_EAUTH, "cannot authenticate to '%s' "
			    "as '%s': %s%s%s", x->hp, x->user, lb,
			    x->authlog.len > 0 ? " after: " : "",
			    x->authlog.len > 0 ? x->authlog.data : "");
		}
		if (x->agent_id != NULL)
			authlog(x, "ssh-agent key '%s' %s",
			    x->agent_id->comment != NULL ?
			    x->agent_id->comment : "?", is_refusal(rc) ?
			    "refused" : why(x, b, sizeof(b)));
		else
			authlog(x, "key '%s' %s", x->key_path, is_refusal(rc) ?
			    "refused" : why(x, b, sizeof(b)));
	}
}

/* ---- the channel ----------------------------------------------------- */

static int
step_open(struct ssh *x)
{
	char b[256];

	x->ch = libssh2_channel_open_ex(x->s, "session",
	    sizeof("session") - 1, CHANNEL_WINDOW,
	    LIBSSH2_CHANNEL_PACKET_DEFAULT, NULL, 0);
	if (x->ch == NULL) {
		if (libssh2_session_last_errno(x->s) == LIBSSH2_ERROR_EAGAIN)
			return 0;
		if (x->sock_err != 0 || x->peer_closed)
			return lost(x);
		return fail(x, PR_ESSH, "cannot open a channel to '%s': %s",
		    x->hp, why(x, b, sizeof(b)));
	}
	x->phase = P_EXEC;
	return 1;
}

static int
step_exec(struct ssh *x)
{
	char b[256];
	int rc;

	rc = libssh2_channel_exec(x->ch, x->command);
	if (rc == LIBSSH2_ERROR_EAGAIN)
		return 0;
	if (rc < 0) {
		if (x->sock_err != 0 || x->peer_closed)
			return lost(x);
		return fail(x, PR_ESSH, "'%s' did not run '%s': %s", x->hp,
		    x->command, why(x, b, sizeof(b)));
	}
	x->phase = P_RUN;
	uv_timer_stop(&x->timer);
	if (x->keepalive_s > 0) {
		libssh2_keepalive_config(x->s, 1, (unsigned int)x->keepalive_s);
		uv_timer_start(&x->timer, on_timer,
		    (uint64_t)x->keepalive_s * 1000, 0);
	}
	return 1;
}

/* Remote stderr: to parrun's stderr line by line, "parrun: HOST: line". */
static void
emit_errline(struct ssh *x, const char *p, size_t n)
{
	if (n > 0 && p[n - 1] == '\r')
		n--;
	pr_log(PR_LOG_ERROR, "%s: %.*s", x->host, (int)n, p);
}

static void
stderr_bytes(struct ssh *x, const char *p, size_t n)
{
	struct pr_buf *l = &x->errline;
	size_t start = 0;

	if (pr_buf_add(l, p, n) < 0) {
		/* no memory for the tail: show what there is */
		emit_errline(x, l->data, l->len);
		emit_errline(x, p, n);
		pr_buf_reset(l);
		return;
	}
	for (;;) {
		const char *nl = memchr(l->data + start, '\n', l->len - start);
		size_t len = nl != NULL ? (size_t)(nl - (l->data + start)) :
		    l->len - start;

		if (nl == NULL && len < STDERR_CHUNK)
			break;
		if (len > STDERR_CHUNK)
			len = STDERR_CHUNK;
		emit_errline(x, l->data + start, len);
		start += len;
		if (start < l->len && l->data[start] == '\n')
			start++;
	}
	pr_buf_consume(l, start);
}

static void
flush_errline(struct ssh *x)
{
	if (x->errline.len > 0)
		emit_errline(x, x->errline.data, x->errline.len);
	pr_buf_reset(&x->errline);
}

/* Read one stream until libssh2 has nothing queued for it (EAGAIN). */
static int
read_stream(struct ssh *x, int stream, size_t *budget, bool *progress)
{
	while (*budget > 0 && !x->paused && !x->closing) {
		ssize_t n = libssh2_channel_read_ex(x->ch, stream, x->rbuf,
		    READ_BUF);

		if (n == LIBSSH2_ERROR_EAGAIN || n == 0)
			return 0;
		if (n < 0)
			return lost(x);
		*progress = true;
		*budget -= (size_t)n < *budget ? (size_t)n : *budget;
		if (stream == 0)
			x->t.cb.data(x->t.cb.arg, x->rbuf, (size_t)n);
		else
			stderr_bytes(x, x->rbuf, (size_t)n);
	}
	return 0;
}

/* Hand queued bytes to libssh2 (one call per packet, as many as the
 * window and sendq allow), then the EOF once they are all out. */
static int
write_out(struct ssh *x, bool *progress)
{
	int rc;

	while (x->out.len > x->out_off && sendq_len(x) < SENDQ_HIGH) {
		ssize_t n = libssh2_channel_write(x->ch,
		    x->out.data + x->out_off, x->out.len - x->out_off);

		if (n == LIBSSH2_ERROR_EAGAIN || n == 0)
			break;		/* the window is full */
		if (n < 0)
			return lost(x);
		x->out_off += (size_t)n;
		*progress = true;
	}
	if (x->out_off == x->out.len) {
		pr_buf_reset(&x->out);
		x->out_off = 0;
	} else if (x->out_off >= OUT_COMPACT) {
		pr_buf_consume(&x->out, x->out_off);
		x->out_off = 0;
	}
	if (x->eof_wanted && !x->eof_sent && x->out.len == 0) {
		rc = libssh2_channel_send_eof(x->ch);
		if (rc == 0) {
			x->eof_sent = true;
			*progress = true;
		} else if (rc != LIBSSH2_ERROR_EAGAIN)
			return lost(x);
	}
	return 0;
}

/*
 * The kill asked for: libssh2 1.10 cannot signal, so close the channel.
 * sshd closes the worker's stdin and stdout, and the worker, which takes
 * that as the coordinator gone, kills its tasks and exits.  The exit is
 * reported now as the signal asked for; the connection stays until
 * close(), which hangs up.
 */
static int
do_kill(struct ssh *x)
{
	x->kill_wanted = false;
	if (x->phase < P_RUN)
		return fail(x, UV_ECANCELED, "connection to '%s' abandoned "
		    "while %s", x->hp, phase_doing[x->phase]);
	if (x->phase != P_RUN && x->phase != P_CLOSE_WAIT)
		return 0;
	if (x->ch != NULL)
		(void)libssh2_channel_close(x->ch);	/* EAGAIN: sent */
	x->phase = P_DONE;
	uv_timer_stop(&x->timer);
	flush_errline(x);
	report_eof(x, 0);
	report_exited(x, 0, x->kill_sig);
	return 1;
}

/* Move bytes both ways until nothing moves; 1 when the phase changed. */
static int
pump(struct ssh *x)
{
	size_t budget = PUMP_BUDGET;
	bool looked = false;
	int rc;

	for (;;) {
		bool progress = false;

		if (!x->paused) {
			if ((rc = read_stream(x, 0, &budget, &progress)) < 0)
				return rc;
			if (x->closing)
				return 0;
			if ((rc = read_stream(x, 1, &budget, &progress)) < 0)
				return rc;
			if (x->closing)
				return 0;
		}
		if ((rc = write_out(x, &progress)) < 0)
			return rc;
		if (!x->paused && libssh2_channel_eof(x->ch)) {
			flush_errline(x);
			x->phase = P_CLOSE_WAIT;
			report_eof(x, 0);
			return 1;
		}
		if (budget == 0) {
			schedule(x);	/* let the loop breathe */
			return 0;
		}
		if (progress)
			continue;
		/* a write (or the other stream's read) may have queued data
		 * inside libssh2 that no socket event will announce */
		if (!x->paused && !looked &&
		    libssh2_poll_channel_read(x->ch, 1) > 0) {
			looked = true;
			continue;
		}
		return 0;
	}
}

static int
signal_number(const char *name)
{
	static const struct {
		const char *name;
		int sig;
	} sigs[] = {
		{ "ABRT", SIGABRT }, { "ALRM", SIGALRM }, { "BUS", SIGBUS },
		{ "FPE", SIGFPE }, { "HUP", SIGHUP }, { "ILL", SIGILL },
		{ "INT", SIGINT }, { "KILL", SIGKILL }, { "PIPE", SIGPIPE },
		{ "QUIT", SIGQUIT }, { "SEGV", SIGSEGV }, { "SYS", SIGSYS },
		{ "TERM", SIGTERM }, { "TRAP", SIGTRAP }, { "USR1", SIGUSR1 },
		{ "USR2", SIGUSR2 }, { "XCPU", SIGXCPU }, { "XFSZ", SIGXFSZ },
	};

	if (strncmp(name, "SIG", 3) == 0)
		name += 3;
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		if (strcmp(sigs[i].name, name) == 0)
			return sigs[i].sig;
	return 0;
}

/* After the EOF: wait for the remote close, which follows the exit
 * status or signal. */
static int
step_close_wait(struct ssh *x)
{
	char *signame = NULL;
	long status;
	int rc, sig = 0;

	rc = libssh2_channel_wait_closed(x->ch);
	if (rc == LIBSSH2_ERROR_EAGAIN)
		return 0;
	if (rc < 0)
		return lost(x);
	status = libssh2_channel_get_exit_status(x->ch);
	if (libssh2_channel_get_exit_signal(x->ch, &signame, NULL, NULL, NULL,
	    NULL, NULL) == 0 && signame != NULL) {
		sig = signal_number(signame);
		if (sig == 0)
			pr_log_warn("'%s': the remote command ended by signal "
			    "'%s'", x->hp, signame);
		status = sig != 0 ? 0 : 255;
		libssh2_free(x->s, signame);
	}
	x->phase = P_DONE;
	uv_timer_stop(&x->timer);
	report_exited(x, status, sig);
	return 1;
}

/* Run the phases until one has to wait for the socket (or the end). */
static void
advance(struct ssh *x)
{
	int rc = 1;

	if (x->closing || x->torn)
		return;
	if (flush_sendq(x) < 0)
		(void)lost(x);
	while (rc > 0 && !x->closing) {
		if (x->kill_wanted && x->phase != P_FAILED) {
			rc = do_kill(x);
			continue;
		}
		switch (x->phase) {
		case P_HANDSHAKE:
			rc = step_handshake(x);
			break;
		case P_AUTH_LIST:
			rc = step_auth_list(x);
			break;
		case P_AUTH:
			rc = step_auth(x);
			break;
		case P_OPEN:
			rc = step_open(x);
			break;
		case P_EXEC:
			rc = step_exec(x);
			break;
		case P_RUN:
			rc = pump(x);
			break;
		case P_CLOSE_WAIT:
			rc = step_close_wait(x);
			break;
		default:
			rc = 0;
			break;
		}
	}
	if (x->closing)
		return;
	if (x->phase != P_FAILED && flush_sendq(x) < 0)
		(void)lost(x);
	update_poll(x);
}

/* ---- loop callbacks -------------------------------------------------- */

static void
on_poll(uv_poll_t *h, int status, int events)
{
	struct conn *c = h->data;
	struct ssh *x = c->x;

	(void)events;
	if (c != x->conn || x->closing)
		return;
	enter(x);
	if (status < 0)
		c->events = 0;	/* libuv stopped the handle */
	if (x->phase == P_CONNECT) {
		connected(x);
	} else if (status < 0 && x->phase < P_DONE) {
		socklen_t len = sizeof(int);
		int err = 0;

		if (getsockopt(x->fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 &&
		    err != 0)
			x->sock_err = -err;
		advance(x);
		if (x->phase < P_DONE && x->sock_err != 0)
			(void)lost(x);
	} else
		advance(x);
	update_poll(x);
	leave(x);
}

static void
on_idle(uv_idle_t *h)
{
	struct ssh *x = h->data;

	uv_idle_stop(h);
	enter(x);
	advance(x);
	update_poll(x);
	leave(x);
}

static void
on_timer(uv_timer_t *h)
{
	struct ssh *x = h->data;
	int next = 0;

	enter(x);
	if (x->phase < P_RUN) {
		if (x->phase == P_RESOLVE || x->phase == P_CONNECT)
			fail(x, PR_ETIMEOUT, "cannot connect to '%s': timed "
			    "out after %g s", x->hp, x->timeout_ms / 1000.0);
		else
			fail(x, PR_ETIMEOUT, "cannot connect to '%s': timed "
			    "out after %g s %s", x->hp, x->timeout_ms / 1000.0,
			    phase_doing[x->phase]);
	} else if (x->phase == P_RUN || x->phase == P_CLOSE_WAIT) {
		if (libssh2_keepalive_send(x->s, &next) < 0)
			(void)lost(x);
		else {
			if (next <= 0)
				next = x->keepalive_s;
			uv_timer_start(&x->timer, on_timer,
			    (uint64_t)next * 1000, 0);
			advance(x);
		}
	}
	update_poll(x);
	leave(x);
}

/* ---- ops ------------------------------------------------------------- */

static struct ssh *
to_ssh(struct pr_transport *t)
{
	return (struct ssh *)t;
}

static int
ssh_send(struct pr_transport *t, char *data, size_t len)
{
	struct ssh *x = to_ssh(t);
	int rc;

	if (x->closing || x->eof_wanted || x->phase >= P_CLOSE_WAIT) {
		free(data);
		return UV_EPIPE;
	}
	rc = pr_buf_add(&x->out, data, len);
	free(data);
	if (rc < 0)
		return rc;
	if (x->phase == P_RUN)
		schedule(x);
	return 0;
}

static size_t
ssh_queued(const struct pr_transport *t)
{
	const struct ssh *x = (const struct ssh *)t;

	return x->out.len - x->out_off + sendq_len(x);
}

static void
ssh_pause(struct pr_transport *t, bool paused)
{
	struct ssh *x = to_ssh(t);

	if (x->closing || x->paused == paused)
		return;
	x->paused = paused;
	if (paused)
		update_poll(x);
	else if (x->phase == P_RUN)
		schedule(x);	/* libssh2 may hold data already */
}

static void
ssh_kill(struct pr_transport *t, int sig)
{
	struct ssh *x = to_ssh(t);

	if (x->closing || x->phase >= P_DONE)
		return;
	x->kill_wanted = true;
	x->kill_sig = sig;
	schedule(x);
}

static void
ssh_shutdown(struct pr_transport *t)
{
	struct ssh *x = to_ssh(t);

	if (x->closing || x->eof_wanted)
		return;
	x->eof_wanted = true;
	if (x->phase == P_RUN)
		schedule(x);
}

/* Release libssh2 and the handles (never inside a libssh2 call). */
static void
teardown(struct ssh *x)
{
	x->torn = true;
	if (x->gai_pending)
		(void)uv_cancel((uv_req_t *)&x->gai);
	if (x->s != NULL) {
		if (x->handshaken && !x->sock_dead && x->sock_err == 0 &&
		    !x->peer_closed) {
			/* hang up politely: sshd logs a disconnect, not a
			 * dropped connection */
			if (x->ch != NULL)
				(void)libssh2_channel_close(x->ch);
			if (x->disc_reason ==
			    SSH_DISCONNECT_HOST_KEY_NOT_VERIFIABLE)
				(void)libssh2_session_disconnect_ex(x->s,
				    x->disc_reason, "parrun: host key not "
				    "trusted", "");
			else
				(void)libssh2_session_disconnect_ex(x->s,
				    SSH_DISCONNECT_BY_APPLICATION,
				    "parrun: done", "");
			(void)flush_sendq(x);
		}
		/* from here every send fails and every read sees EOF, so
		 * libssh2 frees without waiting for the server */
		x->sock_dead = true;
		if (x->fd >= 0)
			(void)shutdown(x->fd, SHUT_RDWR);
		agent_done(x);
		if (x->ch != NULL)
			(void)libssh2_channel_free(x->ch);
		x->ch = NULL;
		(void)libssh2_session_free(x->s);
		x->s = NULL;
	}
	conn_close(x);
	uv_close((uv_handle_t *)&x->timer, on_handle_closed);
	uv_close((uv_handle_t *)&x->idle, on_handle_closed);
}

static void
ssh_close(struct pr_transport *t)
{
	struct ssh *x = to_ssh(t);

	if (x->closing)
		return;
	x->closing = true;
	uv_timer_stop(&x->timer);
	uv_idle_stop(&x->idle);
	if (x->busy == 0)
		teardown(x);
}

static const struct pr_transport_ops ssh_ops = {
	.name = "ssh",
	.send = ssh_send,
	.queued = ssh_queued,
	.pause = ssh_pause,
	.kill = ssh_kill,
	.shutdown = ssh_shutdown,
	.close = ssh_close,
};

/* ---- start ----------------------------------------------------------- */

static char *
dup_or_null(const char *s)
{
	return s != NULL ? strdup(s) : NULL;
}

static const char *
login_name(void)
{
	const char *u = getenv("USER");
	struct passwd *pw;

	if (u != NULL && u[0] != '\0')
		return u;
	pw = getpwuid(getuid());
	return pw != NULL && pw->pw_name != NULL ? pw->pw_name : "root";
}

int
pr_transport_ssh_start(uv_loop_t *loop, const struct pr_ssh_opts *o,
    const char *host, int port, const char *user, const char *command,
    const struct pr_transport_cb *cb, struct pr_transport **out,
    struct pr_errbuf *eb)
{
	struct addrinfo hints;
	char portstr[16];
	struct ssh *x;
	int rc, n;

	if (host == NULL || host[0] == '\0' || command == NULL ||
	    port < 0 || port > 65535)
		return pr_err(eb, -EINVAL, "cannot connect: bad ssh "
		    "destination '%s:%d'", host != NULL ? host : "", port);
	if (port == 0)
		port = 22;
	if (!ssh_inited) {
		if (libssh2_init(0) != 0)
			return pr_err(eb, PR_ESSH, "cannot connect to '%s:%d': "
			    "libssh2 does not initialise", host, port);
		ssh_inited = true;
	}
	x = calloc(1, sizeof(*x));
	if (x == NULL)
		return pr_err(eb, -ENOMEM, "cannot connect to '%s:%d': out of "
		    "memory", host, port);
	x->t.ops = &ssh_ops;
	x->t.cb = *cb;
	x->loop = loop;
	x->fd = -1;
	x->port = port;
	x->phase = P_RESOLVE;
	x->accept_new = o->accept_new;
	x->timeout_ms = o->connect_timeout_ms > 0 ? o->connect_timeout_ms :
	    DEFAULT_TIMEOUT_MS;
	x->keepalive_s = o->keepalive_s > 0 ? o->keepalive_s : 0;
	pr_buf_init(&x->out, 0);
	pr_buf_init(&x->sendq, 0);
	pr_buf_init(&x->errline, 0);
	pr_buf_init(&x->authlog, 0);
	uv_timer_init(loop, &x->timer);
	uv_idle_init(loop, &x->idle);
	x->timer.data = x->idle.data = x->gai.data = x;
	x->refs = 2;

	x->host = strdup(host);
	x->user = strdup(user != NULL && user[0] != '\0' ? user : login_name());
	x->command = strdup(command);
	x->identity = dup_or_null(o->identity);
	x->rbuf = malloc(READ_BUF);
	if (x->host == NULL || x->user == NULL || x->command == NULL ||
	    (o->identity != NULL && x->identity == NULL) || x->rbuf == NULL) {
		rc = pr_err(eb, -ENOMEM, "cannot connect to '%s:%d': out of "
		    "memory", host, port);
		goto fail;
	}
	snprintf(x->hp, sizeof(x->hp), "%s:%d", host, port);
	if (pr_knownhosts_name(x->khname, sizeof(x->khname), host, port) < 0) {
		rc = pr_err(eb, -ENAMETOOLONG, "cannot connect to '%s': the "
		    "name is too long", x->hp);
		goto fail;
	}
	if (o->known_hosts != NULL) {
		n = snprintf(x->khpath, sizeof(x->khpath), "%s",
		    o->known_hosts);
		rc = n < 0 || (size_t)n >= sizeof(x->khpath) ?
		    -ENAMETOOLONG : 0;
	} else {
		rc = pr_knownhosts_default_path(x->khpath, sizeof(x->khpath));
		x->kh_default = true;
	}
	if (rc < 0) {
		pr_err(eb, rc, "cannot connect to '%s': no known_hosts file: "
		    "%s", x->hp, pr_strerror(rc));
		goto fail;
	}
	snprintf(x->t.desc, sizeof(x->t.desc), "ssh %.40s@%.80s", x->user,
	    x->hp);

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	hints.ai_flags = AI_NUMERICSERV;
	snprintf(portstr, sizeof(portstr), "%d", port);
	rc = uv_getaddrinfo(loop, &x->gai, on_resolved, host, portstr, &hints);
	if (rc < 0) {
		pr_err(eb, rc, "cannot connect to '%s': cannot resolve '%s': "
		    "%s", x->hp, host, uv_strerror(rc));
		goto fail;
	}
	x->refs++;
	x->gai_pending = true;
	uv_timer_start(&x->timer, on_timer, (uint64_t)x->timeout_ms, 0);
	*out = &x->t;
	return 0;
fail:
	/* no callbacks: the caller knows from the return code */
	x->t.cb.closed = NULL;
	x->closing = true;
	x->torn = true;
	uv_close((uv_handle_t *)&x->timer, on_handle_closed);
	uv_close((uv_handle_t *)&x->idle, on_handle_closed);
	return rc;
}
