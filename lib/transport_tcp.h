/*
 * transport_tcp.h - workers that connect to the coordinator over TCP.
 *
 * The coordinator listens on one address (pr_listener_start); workers
 * started by srun, mpirun, pdsh or by hand connect to it
 * (pr_tcp_connect, which parrun-worker --connect calls through
 * workers/connect.h).  Every connection first goes through the mutual
 * HMAC handshake of auth.h; only an authenticated worker becomes a
 * struct pr_transport, and from then on the connection carries the plain
 * protocol of proto.h, unencrypted (see auth.h for what that means).
 *
 * Before authentication a connection may send lines of at most
 * PR_PREAUTH_FRAME bytes (it is read into a buffer of that size and no
 * more: a longer line drops it), must finish within a deadline (10 s),
 * and at most max_pending (64) connections are in the handshake at once:
 * further ones wait in the kernel's accept queue, not in parrun's memory,
 * until one of those finishes.  A connection that fails is closed and
 * reported through cb->refused (or logged: "refused worker from
 * '10.0.0.5:41234': bad MAC"); others are not affected.
 *
 * Coordinator side:
 *
 *	pr_listener_start(loop, "10.0.0.1:0", secret, NULL, &lcb, &l, &eb);
 *	port = pr_listener_port(l);		(the bound port)
 *	... lcb.accepted(arg, t, peer):
 *		pr_transport_tcp_attach(t, &cb);	(now or later)
 *	... t is then used like any struct pr_transport: its first data is
 *	    the worker's hello line, replayed, so the usual hello handling
 *	    runs; cb->eof when the connection ends, then cb->exited(-1, 0).
 *	pr_listener_close(l);	(stop taking workers; transports go on)
 *
 * Worker side:
 *
 *	pr_tcp_connect(loop, "10.0.0.1:5000", secret, hello, hello_len,
 *	    NULL, &tcp, on_connected, on_retry, arg, &req, &eb);
 *	... on_connected(arg, 0, &tcp, leftover, n, NULL): the stream is
 *	    authenticated and not reading; the hello has been sent.
 *
 * Ownership: a listener is freed after cb->closed returns.  A transport
 * follows transport.h.  pr_tcp_connect() uses the caller's uv_tcp_t
 * storage, which must stay put until the callback; the request frees
 * itself after the callback returns.
 */
#ifndef PR_TRANSPORT_TCP_H
#define PR_TRANSPORT_TCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "auth.h"
#include "err.h"
#include "transport.h"

#define PR_TCP_PREAUTH_MS	10000	/* handshake deadline */
#define PR_TCP_MAX_PENDING	64	/* connections in the handshake */

/* ---- addresses ----------------------------------------------------------- */

/*
 * Split "HOST:PORT" or "[IPV6]:PORT" into host (NUL-terminated, at most
 * hostlen - 1 bytes) and port (0..65535).  An empty host, "*", a missing
 * or bad port: PR_ECONFIG.
 */
int pr_tcp_parse_addr(const char *addr_port, char *host, size_t hostlen,
    int *port, struct pr_errbuf *eb);

/*
 * The local address this node would use to reach host (resolved; no
 * packet is sent): a good --listen address for workers on that host.
 * Written as text ("10.0.0.1", "fe80::1") into out.
 */
int pr_tcp_route_addr(const char *host, char *out, size_t outlen,
    struct pr_errbuf *eb);

/* ---- coordinator: the listener ------------------------------------------- */

struct pr_listener;

struct pr_listener_opts {
	int preauth_ms;		/* handshake deadline; 0: 10 s */
	int max_pending;	/* in the handshake at once; 0: 64 */
	int backlog;		/* listen(2) backlog; 0: SOMAXCONN */
};

struct pr_listener_cb {
	void *arg;
	/*
	 * A worker authenticated.  t is its transport, with no callbacks:
	 * call pr_transport_tcp_attach() (here or later) or
	 * pr_transport_close().  peer is "10.0.0.5:41234" or
	 * "[fe80::1]:41234", valid during the call (also in t->desc).
	 */
	void (*accepted)(void *arg, struct pr_transport *t, const char *peer);
	/* A connection was dropped before authenticating; reason is
	 * "bad MAC", "no hello within 10000 ms", ...  NULL: each one is
	 * logged as a warning instead. */
	void (*refused)(void *arg, const char *peer, const char *reason);
	/* After pr_listener_close(): the listener is about to be freed. */
	void (*closed)(void *arg);
};

struct pr_listener_stats {
	uint64_t accepted;	/* authenticated */
	uint64_t refused;
	int pending;		/* in the handshake now */
	size_t max_preauth;	/* most bytes read from one connection
				   before it authenticated */
};

/*
 * Listen on addr_port ("HOST:PORT", "[V6]:PORT"; PORT 0 picks a free
 * port).  HOST is a numeric address or a name, which is bound to its
 * first address (give a number to be sure which); nothing listens on all
 * interfaces unless HOST says 0.0.0.0 or [::] (which is logged as a
 * warning).  secret is copied.  o may be NULL.  On success *out is the
 * listener, already accepting.  Sockets are close-on-exec.
 */
int pr_listener_start(uv_loop_t *loop, const char *addr_port,
    const uint8_t secret[PR_SECRET_LEN], const struct pr_listener_opts *o,
    const struct pr_listener_cb *cb, struct pr_listener **out,
    struct pr_errbuf *eb);

/* The bound port, and the bound address as "10.0.0.1:5000". */
int pr_listener_port(const struct pr_listener *l);
const char *pr_listener_addr(const struct pr_listener *l);
void pr_listener_stats(const struct pr_listener *l,
    struct pr_listener_stats *st);

/*
 * Stop listening and drop connections still in the handshake (without
 * cb->refused).  Transports already handed out are not affected.
 * cb->closed follows, from the loop.
 */
void pr_listener_close(struct pr_listener *l);

/*
 * Give an accepted transport its callbacks (t->cb) and start it: on a
 * later turn of the loop cb->data gets the worker's hello line (with its
 * LF and the "nonce" member, which decoders ignore), then any bytes the
 * worker sent after its "auth" line, then what it sends from then on.
 * Call once.  -EINVAL if t is not an accepted TCP transport or is
 * already attached.
 *
 * The TCP transport's ops: send, queued, pause and shutdown as for local
 * workers; kill (any signal) shuts the connection down both ways, which
 * the worker takes as losing its coordinator (it kills its tasks and
 * exits), and this side then sees EOF; close closes it.  After cb->eof
 * (EOF or an error, with t->error naming the peer) the transport calls
 * cb->exited(arg, -1, 0) unless it was closed meanwhile: the end of the
 * connection is all that is known of the worker's end.
 */
int pr_transport_tcp_attach(struct pr_transport *t,
    const struct pr_transport_cb *cb);

/* ---- worker: connect and authenticate ------------------------------------ */

struct pr_tcp_connect;

struct pr_tcp_connect_opts {
	int attempt_ms;		/* connect + handshake; 0: 10 s */
	int total_ms;		/* retry until then; 0: 30 s */
	int backoff_ms;		/* first pause between attempts; 0: 100 */
	int backoff_max_ms;	/* doubling up to this; 0: 2000 */
};

/*
 * status 0: tcp is connected and authenticated, not reading, and the
 * caller now owns it (tcp->data is free for the caller); leftover[0..n)
 * are bytes the coordinator sent after its "auth" line (normally none):
 * feed them to the protocol reader first.  status < 0: tcp is closed (the
 * storage may be reused), msg says why (never NULL then):
 * PR_EAUTH (bad MAC, or a reject for authentication), PR_EVERSION
 * (rejected: no common protocol version), PR_EPROTO (not a parrun
 * coordinator); after the last retry, the last attempt's error:
 * PR_ETIMEOUT (no answer within attempt_ms), UV_ECONNREFUSED, ...;
 * UV_ECANCELED after pr_tcp_connect_cancel().
 */
typedef void (*pr_tcp_connected_cb)(void *arg, int status, uv_tcp_t *tcp,
    const char *leftover, size_t n, const char *msg);

/* An attempt failed and another follows in delay_ms (for logging). */
typedef void (*pr_tcp_retry_cb)(void *arg, int attempt, int err,
    const char *msg, int delay_ms);

/*
 * Connect to addr_port and run the worker's side of the handshake,
 * asynchronously on loop.  A name is resolved on the loop; its addresses
 * (up to 8) are tried in turn, one per attempt.  hello is the worker's
 * hello line (as pr_msg_hello() writes it; copied, the nonce is added).
 * Connection refused, unreachable, timed out, EOF or reset during the
 * handshake (the coordinator not listening yet, or busy) are retried
 * with exponential backoff and jitter until o->total_ms; a bad MAC, a
 * reject or garbage are not.  retry may be NULL; o may be NULL; req may be NULL
 * (else *req is valid until cb is called, for pr_tcp_connect_cancel()).
 * Returns 0, or an error (bad address, hello too long) without calling
 * cb.
 */
int pr_tcp_connect(uv_loop_t *loop, const char *addr_port,
    const uint8_t secret[PR_SECRET_LEN], const char *hello, size_t hello_len,
    const struct pr_tcp_connect_opts *o, uv_tcp_t *tcp,
    pr_tcp_connected_cb cb, pr_tcp_retry_cb retry, void *arg,
    struct pr_tcp_connect **req, struct pr_errbuf *eb);

/* Give up: cb follows (from the loop) with UV_ECANCELED. */
void pr_tcp_connect_cancel(struct pr_tcp_connect *req);

#endif
