/*
 * transport_tcp.c - the TCP listener, its authenticated transports, and
 * the worker's connect-and-authenticate (see transport_tcp.h, auth.h).
 *
 * A connection in the handshake reads into a buffer of PR_PREAUTH_FRAME
 * + 1 bytes and never more (on_pre_alloc hands out only what is left of
 * it), so a peer that sends a huge line costs 4 KiB, not its size.  The
 * connection struct is the transport: a uv_tcp_t cannot move once in use,
 * so the struct that accepted it is the one handed to the coordinator.
 */
#include "transport_tcp.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "proto.h"

#define READ_BUF	(64 * 1024)
#define PRE_BUF		(PR_PREAUTH_FRAME + 1)	/* a line and its LF */
#define REFUSE_FLUSH_MS	1000	/* time for a reject line to leave */
#define PEER_LEN	64
#define KEEPALIVE_S	60	/* TCP keepalive idle time */

/* ---- addresses ----------------------------------------------------------- */

int
pr_tcp_parse_addr(const char *addr_port, char *host, size_t hostlen,
    int *port, struct pr_errbuf *eb)
{
	const char *colon, *h = addr_port, *p;
	size_t hl;
	long v;
	char *end;

	if (addr_port[0] == '[') {
		colon = strchr(addr_port, ']');
		if (colon == NULL || colon[1] != ':')
			goto bad;
		h = addr_port + 1;
		hl = (size_t)(colon - h);
		p = colon + 2;
	} else {
		colon = strrchr(addr_port, ':');
		if (colon == NULL)
			goto bad;
		hl = (size_t)(colon - addr_port);
		p = colon + 1;
		if (memchr(addr_port, ':', hl) != NULL)	/* bare IPv6 */
			goto bad;
	}
	if (hl == 0 || (hl == 1 && h[0] == '*'))
		return pr_err(eb, PR_ECONFIG, "'%s': no address (give one "
		    "address of this host, e.g. 10.0.0.1:0)", addr_port);
	if (hl >= hostlen)
		return pr_err(eb, PR_ECONFIG, "'%s': address too long",
		    addr_port);
	if (*p < '0' || *p > '9')
		goto bad;
	errno = 0;
	v = strtol(p, &end, 10);
	if (errno != 0 || *end != '\0' || v < 0 || v > 65535)
		goto bad;
	memcpy(host, h, hl);
	host[hl] = '\0';
	*port = (int)v;
	return 0;
bad:
	return pr_err(eb, PR_ECONFIG, "'%s': expected ADDRESS:PORT or "
	    "[IPV6]:PORT with PORT in 0..65535", addr_port);
}

/* Resolve host:port into *ss (numeric first, then getaddrinfo). */
static int
resolve(const char *host, int port, int socktype,
    struct sockaddr_storage *ss, struct pr_errbuf *eb)
{
	struct addrinfo hints, *res = NULL;
	char ps[16];
	int rc;

	memset(ss, 0, sizeof(*ss));
	if (uv_ip4_addr(host, port, (struct sockaddr_in *)ss) == 0)
		return 0;
	if (uv_ip6_addr(host, port, (struct sockaddr_in6 *)ss) == 0)
		return 0;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = socktype;
	hints.ai_flags = AI_ADDRCONFIG;
	snprintf(ps, sizeof(ps), "%d", port);
	rc = getaddrinfo(host, ps, &hints, &res);
	if (rc != 0 || res == NULL)
		return pr_err(eb, PR_ECONFIG, "cannot resolve '%s': %s", host,
		    rc != 0 ? gai_strerror(rc) : "no address");
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	return 0;
}

/* "10.0.0.5:41234" or "[fe80::1]:41234" */
static void
format_addr(const struct sockaddr *sa, char *out, size_t n)
{
	char ip[INET6_ADDRSTRLEN] = "?";

	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)sa;

		uv_ip6_name(s6, ip, sizeof(ip));
		snprintf(out, n, "[%s]:%d", ip, ntohs(s6->sin6_port));
	} else if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)sa;

		uv_ip4_name(s4, ip, sizeof(ip));
		snprintf(out, n, "%s:%d", ip, ntohs(s4->sin_port));
	} else {
		snprintf(out, n, "?");
	}
}

int
pr_tcp_route_addr(const char *host, char *out, size_t outlen,
    struct pr_errbuf *eb)
{
	struct sockaddr_storage ss, me;
	socklen_t len;
	int fd, rc;

	rc = resolve(host, 9, SOCK_DGRAM, &ss, eb);
	if (rc < 0)
		return rc;
	fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return pr_err(eb, -errno, "cannot make a socket: %s",
		    strerror(errno));
	len = ss.ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) :
	    sizeof(struct sockaddr_in);
	/* a UDP connect only picks the route and the source address */
	if (connect(fd, (struct sockaddr *)&ss, len) < 0) {
		rc = pr_err(eb, -errno, "no route to '%s': %s", host,
		    strerror(errno));
		goto out;
	}
	len = sizeof(me);
	if (getsockname(fd, (struct sockaddr *)&me, &len) < 0) {
		rc = pr_err(eb, -errno, "getsockname: %s", strerror(errno));
		goto out;
	}
	if (me.ss_family == AF_INET6)
		rc = uv_ip6_name((struct sockaddr_in6 *)&me, out, outlen);
	else
		rc = uv_ip4_name((struct sockaddr_in *)&me, out, outlen);
	if (rc < 0)
		rc = pr_err(eb, rc, "cannot write the address of this host");
out:
	close(fd);
	return rc;
}

/* ---- the listener and its connections ------------------------------------ */

enum conn_state {
	C_HELLO,		/* waiting for the hello */
	C_AUTH,			/* auth sent, waiting for the worker's */
	C_REFUSING,		/* a reject is on its way, then close */
	C_READY,		/* authenticated, not attached yet */
	C_ATTACHED,
};

struct pr_listener {
	uv_loop_t *loop;
	uv_tcp_t server;
	struct pr_listener_cb cb;
	struct pr_listener_opts o;
	uint8_t secret[PR_SECRET_LEN];
	char addr[PEER_LEN];
	int port;
	bool closing;
	bool waiting;		/* a connection waits for uv_accept */
	struct conn *pending;	/* in the handshake (or refusing) */
	struct pr_listener_stats st;
};

struct conn {
	struct pr_transport t;		/* first: the public part */
	struct pr_listener *l;		/* NULL once out of the handshake */
	struct conn *next, *prev;	/* l->pending */
	uv_tcp_t tcp;
	uv_timer_t timer;		/* deadline; then the replay */
	int open_handles;
	enum conn_state state;
	bool closing;
	bool reading;
	bool paused;
	bool replayed;
	struct pr_auth auth;
	char peer[PEER_LEN];
	char *hello;			/* the hello line with LF, to replay */
	size_t hellolen;
	char pre[PRE_BUF];		/* handshake input; then leftover */
	size_t prelen;
	size_t preread;			/* bytes read before authentication */
	char *rbuf;			/* READ_BUF, after attach */
};

struct wreq {
	uv_write_t req;
	char *data;
};

static const struct pr_transport_ops tcp_ops;
static void accept_one(struct pr_listener *l);
static void on_server_closed(uv_handle_t *h);
static void on_pre_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf);

static void
pending_unlink(struct conn *c)
{
	struct pr_listener *l = c->l;

	if (l == NULL)
		return;
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		l->pending = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	c->next = c->prev = NULL;
	c->l = NULL;
	l->st.pending--;
	/* a slot is free: take the connection that waits, if any */
	if (l->waiting && !l->closing)
		accept_one(l);
}

static void
on_conn_closed(uv_handle_t *h)
{
	struct conn *c = h->data;

	if (--c->open_handles > 0)
		return;
	if (c->state == C_ATTACHED && c->t.cb.closed != NULL)
		c->t.cb.closed(c->t.cb.arg);
	pr_auth_wipe(&c->auth);
	free(c->hello);
	free(c->rbuf);
	free(c);
}

static void
conn_close(struct conn *c)
{
	if (c->closing)
		return;
	c->closing = true;
	pending_unlink(c);
	uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
	uv_close((uv_handle_t *)&c->timer, on_conn_closed);
}

static void
on_written(uv_write_t *req, int status)
{
	struct wreq *w = (struct wreq *)req;

	(void)status;	/* a failed write shows up as EOF */
	free(w->data);
	free(w);
}

/* Queue data (taken, freed with free()). */
static int
conn_write(struct conn *c, char *data, size_t len)
{
	struct wreq *w;
	uv_buf_t b;
	int rc;

	if (c->closing) {
		free(data);
		return UV_EPIPE;
	}
	w = malloc(sizeof(*w));
	if (w == NULL) {
		free(data);
		return -ENOMEM;
	}
	w->data = data;
	b = uv_buf_init(data, (unsigned int)len);
	rc = uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_written);
	if (rc < 0) {
		free(data);
		free(w);
	}
	return rc;
}

static void
on_refuse_shutdown(uv_shutdown_t *req, int status)
{
	struct conn *c = req->data;

	(void)status;
	free(req);
	conn_close(c);
}

static void
on_refuse_timer(uv_timer_t *t)
{
	conn_close(t->data);
}

/*
 * Drop a connection in the handshake: report it, send reply (a reject
 * line, taken; may be NULL) and close once it is out, or at once.
 */
static void
refuse(struct conn *c, struct pr_buf *reply, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
refuse(struct conn *c, struct pr_buf *reply, const char *fmt, ...)
{
	struct pr_listener *l = c->l;
	char why[PR_ERRBUF_LEN];
	uv_shutdown_t *sr;
	va_list ap;
	size_t len;
	char *data;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	pr_auth_wipe(&c->auth);
	c->state = C_REFUSING;
	if (c->reading) {
		uv_read_stop((uv_stream_t *)&c->tcp);
		c->reading = false;
	}
	if (l != NULL) {
		l->st.refused++;
		if (l->cb.refused != NULL)
			l->cb.refused(l->cb.arg, c->peer, why);
		else
			pr_log_warn("refused worker from '%s': %s", c->peer,
			    why);
	}
	if (reply == NULL || reply->len == 0 || c->closing)
		goto now;
	data = pr_buf_detach(reply, &len);
	if (conn_write(c, data, len) < 0)
		goto now;
	sr = malloc(sizeof(*sr));
	if (sr == NULL)
		goto now;
	sr->data = c;
	if (uv_shutdown(sr, (uv_stream_t *)&c->tcp, on_refuse_shutdown) < 0) {
		free(sr);
		goto now;
	}
	uv_timer_stop(&c->timer);
	uv_timer_start(&c->timer, on_refuse_timer, REFUSE_FLUSH_MS, 0);
	return;
now:
	if (reply != NULL)
		pr_buf_release(reply);
	conn_close(c);
}

static void
on_deadline(uv_timer_t *t)
{
	struct conn *c = t->data;
	int ms = c->l != NULL ? c->l->o.preauth_ms : 0;

	if (c->state == C_HELLO)
		refuse(c, NULL, "no hello within %d ms", ms);
	else if (c->state == C_AUTH)
		refuse(c, NULL, "no authentication within %d ms", ms);
}

static void
on_pre_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct conn *c = h->data;

	(void)hint;
	/* only what is left of the handshake buffer: never more */
	buf->base = c->pre + c->prelen;
	buf->len = sizeof(c->pre) - c->prelen;
}

/* Drop the first n bytes of c->pre. */
static void
pre_consume(struct conn *c, size_t n)
{
	memmove(c->pre, c->pre + n, c->prelen - n);
	c->prelen -= n;
}

static void
authenticated(struct conn *c)
{
	struct pr_listener *l = c->l;

	uv_read_stop((uv_stream_t *)&c->tcp);
	c->reading = false;
	uv_timer_stop(&c->timer);
	pr_auth_wipe(&c->auth);
	c->state = C_READY;
	snprintf(c->t.desc, sizeof(c->t.desc), "tcp %s", c->peer);
	pending_unlink(c);
	l->st.accepted++;
	pr_log_debug("worker from '%s' authenticated", c->peer);
	l->cb.accepted(l->cb.arg, &c->t, c->peer);
}

/* One complete line in the handshake; false: stop reading. */
static bool
pre_line(struct conn *c, size_t len)
{
	struct pr_errbuf eb = { 0, "" };
	struct pr_buf out;
	char *data;
	size_t n;
	int rc;

	pr_buf_init(&out, 0);
	c->pre[len] = '\0';
	if (c->state == C_HELLO) {
		rc = pr_auth_coord_hello(&c->auth, c->pre, len, &out, &eb);
		if (rc < 0) {
			refuse(c, &out, "%s", pr_errmsg(&eb, rc));
			return false;
		}
		c->hello = malloc(len + 1);
		if (c->hello == NULL) {
			pr_buf_release(&out);
			refuse(c, NULL, "out of memory");
			return false;
		}
		memcpy(c->hello, c->pre, len);
		c->hello[len] = '\n';
		c->hellolen = len + 1;
		pre_consume(c, len + 1);
		data = pr_buf_detach(&out, &n);
		rc = conn_write(c, data, n);
		if (rc < 0) {
			refuse(c, NULL, "cannot send auth: %s",
			    uv_strerror(rc));
			return false;
		}
		c->state = C_AUTH;
		return true;
	}
	rc = pr_auth_coord_check(&c->auth, c->pre, len, &out, &eb);
	if (rc < 0) {
		refuse(c, &out, "%s", pr_errmsg(&eb, rc));
		return false;
	}
	pr_buf_release(&out);
	pre_consume(c, len + 1);
	authenticated(c);
	return false;
}

static void
on_pre_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct conn *c = s->data;
	struct pr_listener *l = c->l;
	char *lf;

	(void)buf;
	if (c->closing || c->state == C_REFUSING)
		return;
	if (n == 0)
		return;
	if (n < 0) {
		if (n == UV_EOF && c->state == C_AUTH)
			/* a real worker hangs up when our MAC is wrong */
			refuse(c, NULL, "hung up on our challenge: a "
			    "different secret?");
		else if (n == UV_EOF)
			refuse(c, NULL, "closed the connection before "
			    "authenticating");
		else
			refuse(c, NULL, "%s before authenticating",
			    uv_strerror((int)n));
		return;
	}
	c->prelen += (size_t)n;
	c->preread += (size_t)n;
	if (l != NULL && c->preread > l->st.max_preauth)
		l->st.max_preauth = c->preread;
	while (c->state == C_HELLO || c->state == C_AUTH) {
		lf = memchr(c->pre, '\n', c->prelen);
		if (lf == NULL) {
			if (c->prelen == sizeof(c->pre))
				refuse(c, NULL, "a line over %d bytes before "
				    "authentication", PR_PREAUTH_FRAME);
			return;
		}
		if (!pre_line(c, (size_t)(lf - c->pre)))
			return;
	}
}

static void
accept_one(struct pr_listener *l)
{
	struct sockaddr_storage ss;
	struct conn *c;
	int len = sizeof(ss), rc;

	if (l->st.pending >= l->o.max_pending) {
		l->waiting = true;	/* libuv holds it and stops polling */
		return;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		l->waiting = true;	/* try again when a slot frees */
		return;
	}
	uv_tcp_init(l->loop, &c->tcp);
	uv_timer_init(l->loop, &c->timer);
	c->tcp.data = c->timer.data = c;
	c->open_handles = 2;
	c->t.ops = &tcp_ops;
	c->state = C_HELLO;
	rc = uv_accept((uv_stream_t *)&l->server, (uv_stream_t *)&c->tcp);
	l->waiting = false;
	if (rc < 0) {
		c->closing = true;
		uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
		uv_close((uv_handle_t *)&c->timer, on_conn_closed);
		return;
	}
	/* the list first: every way out goes through pending_unlink */
	c->l = l;
	c->next = l->pending;
	if (l->pending != NULL)
		l->pending->prev = c;
	l->pending = c;
	l->st.pending++;

	if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) == 0)
		format_addr((struct sockaddr *)&ss, c->peer, sizeof(c->peer));
	else
		snprintf(c->peer, sizeof(c->peer), "?");
	uv_tcp_nodelay(&c->tcp, 1);
	/* a dead peer's half-open connection ends even without heartbeats */
	uv_tcp_keepalive(&c->tcp, 1, KEEPALIVE_S);
	if (pr_auth_init(&c->auth, PR_AUTH_COORDINATOR, l->secret) < 0) {
		refuse(c, NULL, "no random numbers for a nonce");
		return;
	}
	uv_timer_start(&c->timer, on_deadline, (uint64_t)l->o.preauth_ms, 0);
	rc = uv_read_start((uv_stream_t *)&c->tcp, on_pre_alloc, on_pre_read);
	if (rc < 0) {
		refuse(c, NULL, "cannot read: %s", uv_strerror(rc));
		return;
	}
	c->reading = true;
}

static void
on_connection(uv_stream_t *server, int status)
{
	struct pr_listener *l = server->data;

	if (l->closing)
		return;
	if (status < 0) {
		pr_log_debug("listener '%s': %s", l->addr,
		    uv_strerror(status));
		return;
	}
	accept_one(l);
}

int
pr_listener_start(uv_loop_t *loop, const char *addr_port,
    const uint8_t secret[PR_SECRET_LEN], const struct pr_listener_opts *o,
    const struct pr_listener_cb *cb, struct pr_listener **out,
    struct pr_errbuf *eb)
{
	struct sockaddr_storage ss;
	struct pr_listener *l;
	char host[256];
	int port, rc, len;

	*out = NULL;
	if (cb == NULL || cb->accepted == NULL)
		return pr_err(eb, -EINVAL, "listener without an accepted "
		    "callback");
	rc = pr_tcp_parse_addr(addr_port, host, sizeof(host), &port, eb);
	if (rc < 0)
		return rc;
	rc = resolve(host, port, SOCK_STREAM, &ss, eb);
	if (rc < 0)
		return rc;
	l = calloc(1, sizeof(*l));
	if (l == NULL)
		return -ENOMEM;
	l->loop = loop;
	l->cb = *cb;
	if (o != NULL)
		l->o = *o;
	if (l->o.preauth_ms <= 0)
		l->o.preauth_ms = PR_TCP_PREAUTH_MS;
	if (l->o.max_pending <= 0)
		l->o.max_pending = PR_TCP_MAX_PENDING;
	if (l->o.backlog <= 0)
		l->o.backlog = SOMAXCONN;
	memcpy(l->secret, secret, PR_SECRET_LEN);
	uv_tcp_init(loop, &l->server);
	l->server.data = l;

	rc = uv_tcp_bind(&l->server, (struct sockaddr *)&ss,
	    ss.ss_family == AF_INET6 ? UV_TCP_IPV6ONLY : 0);
	if (rc == 0)
		rc = uv_listen((uv_stream_t *)&l->server, l->o.backlog,
		    on_connection);
	if (rc < 0) {
		pr_err(eb, rc, "cannot listen on '%s': %s", addr_port,
		    uv_strerror(rc));
		goto fail;
	}
	len = sizeof(ss);
	rc = uv_tcp_getsockname(&l->server, (struct sockaddr *)&ss, &len);
	if (rc < 0) {
		pr_err(eb, rc, "cannot find the address of '%s': %s",
		    addr_port, uv_strerror(rc));
		goto fail;
	}
	format_addr((struct sockaddr *)&ss, l->addr, sizeof(l->addr));
	l->port = ntohs(ss.ss_family == AF_INET6 ?
	    ((struct sockaddr_in6 *)&ss)->sin6_port :
	    ((struct sockaddr_in *)&ss)->sin_port);
	if ((ss.ss_family == AF_INET &&
	    ((struct sockaddr_in *)&ss)->sin_addr.s_addr == htonl(INADDR_ANY))
	    || (ss.ss_family == AF_INET6 && IN6_IS_ADDR_UNSPECIFIED(
	    &((struct sockaddr_in6 *)&ss)->sin6_addr)))
		pr_log_warn("listening on every interface ('%s') as asked; "
		    "anyone who can reach it may try to authenticate",
		    l->addr);
	*out = l;
	return 0;
fail:
	pr_secret_wipe(l->secret, sizeof(l->secret));
	l->closing = true;
	l->cb.closed = NULL;
	/* l is freed when the loop has let the handle go */
	uv_close((uv_handle_t *)&l->server, on_server_closed);
	return rc;
}

int
pr_listener_port(const struct pr_listener *l)
{
	return l->port;
}

const char *
pr_listener_addr(const struct pr_listener *l)
{
	return l->addr;
}

void
pr_listener_stats(const struct pr_listener *l, struct pr_listener_stats *st)
{
	*st = l->st;
}

static void
on_server_closed(uv_handle_t *h)
{
	struct pr_listener *l = h->data;

	if (l->cb.closed != NULL)
		l->cb.closed(l->cb.arg);
	pr_secret_wipe(l->secret, sizeof(l->secret));
	free(l);
}

void
pr_listener_close(struct pr_listener *l)
{
	struct conn *c;

	if (l->closing)
		return;
	l->closing = true;
	while ((c = l->pending) != NULL)
		conn_close(c);		/* unlinks it */
	uv_close((uv_handle_t *)&l->server, on_server_closed);
}

/* ---- the transport ------------------------------------------------------- */

static void
on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct conn *c = h->data;

	(void)hint;
	buf->base = c->rbuf;
	buf->len = READ_BUF;
}

static void
on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct conn *c = s->data;

	if (c->closing)
		return;
	if (n > 0) {
		c->t.cb.data(c->t.cb.arg, buf->base, (size_t)n);
		return;
	}
	if (n == 0)
		return;		/* EAGAIN: not EOF */
	uv_read_stop(s);
	c->reading = false;
	if (n != UV_EOF)
		snprintf(c->t.error, sizeof(c->t.error), "connection from "
		    "'%s' lost: %s", c->peer, uv_strerror((int)n));
	c->t.cb.eof(c->t.cb.arg, n == UV_EOF ? 0 : (int)n);
	if (!c->closing && c->t.cb.exited != NULL)
		c->t.cb.exited(c->t.cb.arg, -1, 0);
}

static void
start_reading(struct conn *c)
{
	int rc;

	if (c->closing || c->reading || c->paused || !c->replayed)
		return;
	rc = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
	if (rc == 0) {
		c->reading = true;
		return;
	}
	/* as if the connection had failed */
	snprintf(c->t.error, sizeof(c->t.error), "cannot read from '%s': %s",
	    c->peer, uv_strerror(rc));
	c->t.cb.eof(c->t.cb.arg, rc);
	if (!c->closing && c->t.cb.exited != NULL)
		c->t.cb.exited(c->t.cb.arg, -1, 0);
}

static void
on_replay(uv_timer_t *t)
{
	struct conn *c = t->data;
	char *hello = c->hello;

	c->hello = NULL;
	c->replayed = true;
	if (!c->closing)
		c->t.cb.data(c->t.cb.arg, hello, c->hellolen);
	free(hello);
	if (!c->closing && c->prelen > 0) {
		c->t.cb.data(c->t.cb.arg, c->pre, c->prelen);
		c->prelen = 0;
	}
	start_reading(c);
}

int
pr_transport_tcp_attach(struct pr_transport *t,
    const struct pr_transport_cb *cb)
{
	struct conn *c = (struct conn *)t;

	if (t->ops != &tcp_ops || c->state != C_READY || c->closing)
		return -EINVAL;
	c->rbuf = malloc(READ_BUF);
	if (c->rbuf == NULL)
		return -ENOMEM;
	c->t.cb = *cb;
	c->state = C_ATTACHED;
	/* events come from the loop, never from inside this call */
	uv_timer_start(&c->timer, on_replay, 0, 0);
	return 0;
}

static int
tcp_send(struct pr_transport *t, char *data, size_t len)
{
	return conn_write((struct conn *)t, data, len);
}

static size_t
tcp_queued(const struct pr_transport *t)
{
	const struct conn *c = (const struct conn *)t;

	return uv_stream_get_write_queue_size((const uv_stream_t *)&c->tcp);
}

static void
tcp_pause(struct pr_transport *t, bool paused)
{
	struct conn *c = (struct conn *)t;

	c->paused = paused;
	if (c->closing || c->state != C_ATTACHED)
		return;
	if (paused && c->reading) {
		uv_read_stop((uv_stream_t *)&c->tcp);
		c->reading = false;
	} else if (!paused) {
		start_reading(c);
	}
}

static void
tcp_kill(struct pr_transport *t, int sig)
{
	struct conn *c = (struct conn *)t;
	uv_os_fd_t fd;

	(void)sig;
	if (c->closing)
		return;
	/* both ways: the worker sees its coordinator go, we see EOF */
	if (uv_fileno((uv_handle_t *)&c->tcp, &fd) == 0)
		shutdown(fd, SHUT_RDWR);
	c->paused = false;
	if (c->state == C_ATTACHED)
		start_reading(c);
}

static void
on_shutdown(uv_shutdown_t *req, int status)
{
	(void)status;
	free(req);
}

static void
tcp_shutdown(struct pr_transport *t)
{
	struct conn *c = (struct conn *)t;
	uv_shutdown_t *req;

	if (c->closing)
		return;
	req = malloc(sizeof(*req));
	if (req == NULL || uv_shutdown(req, (uv_stream_t *)&c->tcp,
	    on_shutdown) < 0)
		free(req);
}

static void
tcp_close(struct pr_transport *t)
{
	conn_close((struct conn *)t);
}

static const struct pr_transport_ops tcp_ops = {
	.name = "tcp",
	.send = tcp_send,
	.queued = tcp_queued,
	.pause = tcp_pause,
	.kill = tcp_kill,
	.shutdown = tcp_shutdown,
	.close = tcp_close,
};

/* ---- the worker's side --------------------------------------------------- */

#define K_MAX_ADDRS	8

enum k_state {
	K_RESOLVING,
	K_CONNECTING,
	K_HELLO,		/* hello sent, waiting for auth */
	K_REPLYING,		/* our auth on its way */
	K_BACKOFF,
	K_DONE,
};

struct pr_tcp_connect {
	uv_loop_t *loop;
	uv_tcp_t *tcp;			/* the caller's */
	uv_timer_t timer;		/* attempt deadline, backoff */
	uv_connect_t creq;
	uv_getaddrinfo_t gai;
	uv_write_t wr_hello, wr_auth;
	struct pr_buf b_hello, b_auth;
	struct pr_tcp_connect_opts o;
	char addr[300];			/* as given, for messages */
	char host[256];
	char port[8];
	struct sockaddr_storage ss;	/* this attempt's address */
	bool numeric;
	/* a name's addresses, tried in turn, resolved again after the last */
	struct sockaddr_storage addrs[K_MAX_ADDRS];
	int naddrs, next_addr;
	uint8_t secret[PR_SECRET_LEN];
	struct pr_auth auth;
	char *hello;
	size_t hellolen;
	char in[PRE_BUF];
	size_t inlen;
	enum k_state state;
	bool tcp_open;
	bool failing;			/* tearing an attempt down */
	bool cancelled;
	bool gai_pending;
	int attempt;
	uint64_t t0;
	int delay;
	uint64_t rng;
	/* the last failure */
	int err;
	bool retry;
	char msg[PR_ERRBUF_LEN];
	pr_tcp_connected_cb cb;
	pr_tcp_retry_cb retry_cb;
	void *arg;
};

static void k_attempt(struct pr_tcp_connect *k);
static void k_fail(struct pr_tcp_connect *k, int err, bool retry,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void
on_k_timer_closed(uv_handle_t *h)
{
	struct pr_tcp_connect *k = h->data;

	pr_buf_release(&k->b_hello);
	pr_buf_release(&k->b_auth);
	free(k->hello);
	pr_secret_wipe(k, sizeof(*k));
	free(k);
}

/* The end: call back once and free k. */
static void
k_finish(struct pr_tcp_connect *k, int status)
{
	k->state = K_DONE;
	uv_timer_stop(&k->timer);
	pr_auth_wipe(&k->auth);
	pr_secret_wipe(k->secret, sizeof(k->secret));
	if (status == 0)
		k->cb(k->arg, 0, k->tcp, k->in, k->inlen, NULL);
	else
		k->cb(k->arg, status, NULL, NULL, 0, k->msg);
	uv_close((uv_handle_t *)&k->timer, on_k_timer_closed);
}

static uint64_t
k_random(struct pr_tcp_connect *k)
{
	/* xorshift64*: jitter only */
	k->rng ^= k->rng >> 12;
	k->rng ^= k->rng << 25;
	k->rng ^= k->rng >> 27;
	return k->rng * 2685821657736338717ull;
}

static void
on_k_timer(uv_timer_t *t)
{
	struct pr_tcp_connect *k = t->data;

	if (k->state != K_BACKOFF)
		return;
	if (k->cancelled)
		k_fail(k, UV_ECANCELED, false, "cancelled");
	else
		k_attempt(k);
}

/* After an attempt's socket is closed: retry, or give up. */
static void
k_after(struct pr_tcp_connect *k)
{
	uint64_t elapsed = uv_now(k->loop) - k->t0;
	int delay;

	k->failing = false;
	pr_auth_wipe(&k->auth);
	if (k->cancelled) {
		k->err = UV_ECANCELED;
		snprintf(k->msg, sizeof(k->msg), "connecting to '%s' was "
		    "cancelled", k->addr);
		k_finish(k, UV_ECANCELED);
		return;
	}
	delay = k->delay;
	delay = delay - delay / 4 + (int)(k_random(k) % (uint64_t)(delay / 2
	    + 1));
	if (!k->retry || elapsed + (uint64_t)delay >= (uint64_t)k->o.total_ms) {
		if (k->retry) {
			size_t used = strlen(k->msg);

			snprintf(k->msg + used, sizeof(k->msg) - used,
			    " (gave up after %d attempts in %.1f s)",
			    k->attempt, (double)elapsed / 1000.0);
		}
		k_finish(k, k->err);
		return;
	}
	if (k->retry_cb != NULL)
		k->retry_cb(k->arg, k->attempt, k->err, k->msg, delay);
	k->delay = k->delay * 2 > k->o.backoff_max_ms ? k->o.backoff_max_ms :
	    k->delay * 2;
	k->state = K_BACKOFF;
	uv_timer_start(&k->timer, on_k_timer, (uint64_t)delay, 0);
}

static void
on_k_tcp_closed(uv_handle_t *h)
{
	struct pr_tcp_connect *k = h->data;

	k->tcp_open = false;
	k_after(k);
}

/* This attempt failed: err and the message are kept for the end. */
static void
k_fail(struct pr_tcp_connect *k, int err, bool retry, const char *fmt, ...)
{
	va_list ap;

	if (k->failing || k->state == K_DONE)
		return;
	k->failing = true;
	k->err = err;
	k->retry = retry;
	va_start(ap, fmt);
	vsnprintf(k->msg, sizeof(k->msg), fmt, ap);
	va_end(ap);
	uv_timer_stop(&k->timer);
	if (k->tcp_open) {
		uv_close((uv_handle_t *)k->tcp, on_k_tcp_closed);
		return;
	}
	k_after(k);
}

static void
on_k_attempt_timeout(uv_timer_t *t)
{
	struct pr_tcp_connect *k = t->data;

	k_fail(k, PR_ETIMEOUT, true, "no answer from the coordinator at "
	    "'%s' within %d ms", k->addr, k->o.attempt_ms);
}

static void
on_k_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct pr_tcp_connect *k = h->data;

	(void)hint;
	buf->base = k->in + k->inlen;
	buf->len = sizeof(k->in) - k->inlen;
}

static void
on_k_auth_written(uv_write_t *req, int status)
{
	struct pr_tcp_connect *k = req->data;

	if (k->failing || k->state != K_REPLYING)
		return;
	if (status < 0) {
		k_fail(k, status, true, "cannot send auth to '%s': %s",
		    k->addr, uv_strerror(status));
		return;
	}
	k_finish(k, 0);
}

static void
on_k_hello_written(uv_write_t *req, int status)
{
	struct pr_tcp_connect *k = req->data;

	if (k->failing || status >= 0 || k->state == K_DONE)
		return;
	k_fail(k, status, true, "cannot send hello to '%s': %s", k->addr,
	    uv_strerror(status));
}

static void
on_k_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct pr_tcp_connect *k = s->data;
	struct pr_errbuf eb = { 0, "" };
	size_t len;
	char *lf;
	uv_buf_t b;
	int rc;

	(void)buf;
	if (k->failing || k->state != K_HELLO || n == 0)
		return;
	if (n < 0) {
		if (n == UV_EOF)
			k_fail(k, UV_ECONNRESET, true, "the coordinator at "
			    "'%s' closed the connection before "
			    "authenticating", k->addr);
		else
			k_fail(k, (int)n, true, "connection to '%s': %s",
			    k->addr, uv_strerror((int)n));
		return;
	}
	k->inlen += (size_t)n;
	lf = memchr(k->in, '\n', k->inlen);
	if (lf == NULL) {
		if (k->inlen == sizeof(k->in))
			k_fail(k, PR_EPROTO, false, "'%s' sent a line over %d "
			    "bytes: not a parrun coordinator", k->addr,
			    PR_PREAUTH_FRAME);
		return;
	}
	uv_read_stop(s);
	len = (size_t)(lf - k->in);
	*lf = '\0';
	rc = pr_auth_worker_reply(&k->auth, k->in, len, &k->b_auth, &eb);
	if (rc < 0) {
		k_fail(k, rc, false, "'%s': %s", k->addr, pr_errmsg(&eb, rc));
		return;
	}
	/* whatever followed the auth line belongs to the protocol */
	memmove(k->in, lf + 1, k->inlen - len - 1);
	k->inlen -= len + 1;
	k->state = K_REPLYING;
	b = uv_buf_init(k->b_auth.data, (unsigned int)k->b_auth.len);
	k->wr_auth.data = k;
	rc = uv_write(&k->wr_auth, (uv_stream_t *)k->tcp, &b, 1,
	    on_k_auth_written);
	if (rc < 0)
		k_fail(k, rc, true, "cannot send auth to '%s': %s", k->addr,
		    uv_strerror(rc));
}

static void
on_k_connect(uv_connect_t *req, int status)
{
	struct pr_tcp_connect *k = req->data;
	struct pr_errbuf eb = { 0, "" };
	uv_buf_t b;
	int rc;

	if (k->failing || k->state != K_CONNECTING)
		return;
	if (status < 0) {
		k_fail(k, status, true, "cannot connect to '%s': %s", k->addr,
		    uv_strerror(status));
		return;
	}
	uv_tcp_nodelay(k->tcp, 1);
	uv_tcp_keepalive(k->tcp, 1, KEEPALIVE_S);
	pr_buf_reset(&k->b_hello);
	pr_buf_reset(&k->b_auth);
	k->inlen = 0;
	rc = pr_auth_init(&k->auth, PR_AUTH_WORKER, k->secret);
	if (rc == 0)
		rc = pr_auth_worker_hello(&k->auth, k->hello, k->hellolen,
		    &k->b_hello, &eb);
	if (rc < 0) {
		k_fail(k, rc, false, "%s", pr_errmsg(&eb, rc));
		return;
	}
	k->state = K_HELLO;
	b = uv_buf_init(k->b_hello.data, (unsigned int)k->b_hello.len);
	k->wr_hello.data = k;
	rc = uv_write(&k->wr_hello, (uv_stream_t *)k->tcp, &b, 1,
	    on_k_hello_written);
	if (rc == 0)
		rc = uv_read_start((uv_stream_t *)k->tcp, on_k_alloc,
		    on_k_read);
	if (rc < 0)
		k_fail(k, rc, true, "connection to '%s': %s", k->addr,
		    uv_strerror(rc));
}

static void
k_connect(struct pr_tcp_connect *k)
{
	int rc;

	k->state = K_CONNECTING;
	rc = uv_tcp_init(k->loop, k->tcp);
	if (rc < 0) {
		k_fail(k, rc, false, "cannot make a socket: %s",
		    uv_strerror(rc));
		return;
	}
	k->tcp_open = true;
	k->tcp->data = k;
	k->creq.data = k;
	uv_timer_start(&k->timer, on_k_attempt_timeout,
	    (uint64_t)k->o.attempt_ms, 0);
	rc = uv_tcp_connect(&k->creq, k->tcp, (struct sockaddr *)&k->ss,
	    on_k_connect);
	if (rc < 0)
		k_fail(k, rc, true, "cannot connect to '%s': %s", k->addr,
		    uv_strerror(rc));
}

static void
on_k_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
	struct pr_tcp_connect *k = req->data;
	struct addrinfo *ai;

	k->gai_pending = false;
	if (k->cancelled) {
		uv_freeaddrinfo(res);
		k_fail(k, UV_ECANCELED, false, "cancelled");
		return;
	}
	if (status < 0 || res == NULL) {
		uv_freeaddrinfo(res);
		k_fail(k, status < 0 ? status : UV_EAI_NONAME, true,
		    "cannot resolve '%s': %s", k->host,
		    uv_strerror(status < 0 ? status : UV_EAI_NONAME));
		return;
	}
	k->naddrs = 0;
	for (ai = res; ai != NULL && k->naddrs < K_MAX_ADDRS; ai = ai->ai_next)
		if (ai->ai_addrlen <= sizeof(k->addrs[0]))
			memcpy(&k->addrs[k->naddrs++], ai->ai_addr,
			    ai->ai_addrlen);
	uv_freeaddrinfo(res);
	if (k->naddrs == 0) {
		k_fail(k, UV_EAI_NONAME, true, "cannot resolve '%s': %s",
		    k->host, uv_strerror(UV_EAI_NONAME));
		return;
	}
	k->ss = k->addrs[0];
	k->next_addr = 1;
	k_connect(k);
}

static void
k_attempt(struct pr_tcp_connect *k)
{
	struct addrinfo hints;
	int rc;

	k->attempt++;
	if (k->numeric) {
		k_connect(k);
		return;
	}
	if (k->next_addr < k->naddrs) {
		/* the name's next address before asking again */
		k->ss = k->addrs[k->next_addr++];
		k_connect(k);
		return;
	}
	k->state = K_RESOLVING;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_ADDRCONFIG;
	k->gai.data = k;
	rc = uv_getaddrinfo(k->loop, &k->gai, on_k_resolved, k->host, k->port,
	    &hints);
	if (rc < 0) {
		k_fail(k, rc, true, "cannot resolve '%s': %s", k->host,
		    uv_strerror(rc));
		return;
	}
	k->gai_pending = true;
}

int
pr_tcp_connect(uv_loop_t *loop, const char *addr_port,
    const uint8_t secret[PR_SECRET_LEN], const char *hello, size_t hello_len,
    const struct pr_tcp_connect_opts *o, uv_tcp_t *tcp,
    pr_tcp_connected_cb cb, pr_tcp_retry_cb retry, void *arg,
    struct pr_tcp_connect **req, struct pr_errbuf *eb)
{
	struct pr_tcp_connect *k;
	struct pr_auth probe;
	struct pr_buf tmp;
	int port, rc;

	if (req != NULL)
		*req = NULL;
	k = calloc(1, sizeof(*k));
	if (k == NULL)
		return -ENOMEM;
	rc = pr_tcp_parse_addr(addr_port, k->host, sizeof(k->host), &port,
	    eb);
	if (rc < 0)
		goto fail;
	if (port == 0) {
		rc = pr_err(eb, PR_ECONFIG, "'%s': port 0 cannot be "
		    "connected to", addr_port);
		goto fail;
	}
	/* check the hello now, not on every attempt */
	pr_buf_init(&tmp, 0);
	rc = pr_auth_init(&probe, PR_AUTH_WORKER, secret);
	if (rc == 0)
		rc = pr_auth_worker_hello(&probe, hello, hello_len, &tmp, eb);
	pr_auth_wipe(&probe);
	pr_buf_release(&tmp);
	if (rc < 0)
		goto fail;
	k->hello = malloc(hello_len + 1);
	if (k->hello == NULL) {
		rc = -ENOMEM;
		goto fail;
	}
	memcpy(k->hello, hello, hello_len);
	k->hellolen = hello_len;
	snprintf(k->addr, sizeof(k->addr), "%s", addr_port);
	snprintf(k->port, sizeof(k->port), "%d", port);
	if (uv_ip4_addr(k->host, port, (struct sockaddr_in *)&k->ss) == 0 ||
	    uv_ip6_addr(k->host, port, (struct sockaddr_in6 *)&k->ss) == 0)
		k->numeric = true;
	k->loop = loop;
	k->tcp = tcp;
	memcpy(k->secret, secret, PR_SECRET_LEN);
	if (o != NULL)
		k->o = *o;
	if (k->o.attempt_ms <= 0)
		k->o.attempt_ms = 10000;
	if (k->o.total_ms <= 0)
		k->o.total_ms = 30000;
	if (k->o.backoff_ms <= 0)
		k->o.backoff_ms = 100;
	if (k->o.backoff_max_ms <= 0)
		k->o.backoff_max_ms = 2000;
	k->delay = k->o.backoff_ms;
	k->rng = uv_hrtime() ^ ((uint64_t)getpid() << 32) ^
	    0x9e3779b97f4a7c15ull;
	pr_buf_init(&k->b_hello, 0);
	pr_buf_init(&k->b_auth, 0);
	k->cb = cb;
	k->retry_cb = retry;
	k->arg = arg;
	uv_timer_init(loop, &k->timer);
	k->timer.data = k;
	k->t0 = uv_now(loop);
	if (req != NULL)
		*req = k;
	/* the first attempt from the loop: cb is never called from here */
	k->state = K_BACKOFF;
	uv_timer_start(&k->timer, on_k_timer, 0, 0);
	return 0;
fail:
	free(k->hello);
	free(k);
	return rc;
}

void
pr_tcp_connect_cancel(struct pr_tcp_connect *k)
{
	if (k == NULL || k->state == K_DONE || k->cancelled)
		return;
	k->cancelled = true;
	if (k->gai_pending) {
		uv_cancel((uv_req_t *)&k->gai);	/* on_k_resolved follows */
		return;
	}
	if (k->failing)
		return;			/* k_after sees cancelled */
	if (k->state == K_BACKOFF) {
		/* from the loop, not from inside this call */
		uv_timer_stop(&k->timer);
		uv_timer_start(&k->timer, on_k_timer, 0, 0);
		return;
	}
	k_fail(k, UV_ECANCELED, false, "cancelled");	/* closes: async */
}
