/*
 * transport.h - how the coordinator reaches a worker.
 *
 * A transport moves protocol bytes between the coordinator's loop and one
 * worker: local pipes to a child process (transport_local.c), an SSH
 * channel, or a TCP connection.  The coordinator does not care which: it
 * sends bytes, gets bytes and an end, and can kill or close.
 *
 * Lifecycle: a transport is created by its constructor (e.g.
 * pr_transport_local_start()), delivers events through the callbacks in
 * struct pr_transport_cb until it is closed, and after pr_transport_close()
 * calls cb->closed exactly once; the struct is freed by the transport after
 * that call returns.  Events never arrive after closed.
 */
#ifndef PR_TRANSPORT_H
#define PR_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>

#include <uv.h>

#include "err.h"

struct pr_transport;

struct pr_transport_cb {
	void *arg;
	/* Bytes from the worker; data may be modified, valid during call. */
	void (*data)(void *arg, char *data, size_t len);
	/* The worker's stream ended: err is 0 (EOF) or a negative code. */
	void (*eof)(void *arg, int err);
	/* The worker process ended (local workers: exit status, signal). */
	void (*exited)(void *arg, long status, int signal);
	/* The transport is closed and about to be freed. */
	void (*closed)(void *arg);
};

struct pr_transport_ops {
	const char *name;
	/* Queue bytes; data is taken and freed with free() once written. */
	int (*send)(struct pr_transport *t, char *data, size_t len);
	/* Bytes queued and not yet written (for backpressure). */
	size_t (*queued)(const struct pr_transport *t);
	/* Stop or resume reading from the worker. */
	void (*pause)(struct pr_transport *t, bool paused);
	/* Signal the worker process (where there is one). */
	void (*kill)(struct pr_transport *t, int sig);
	/* Close the outgoing direction: the worker sees EOF. */
	void (*shutdown)(struct pr_transport *t);
	/* Release everything; cb->closed follows. */
	void (*close)(struct pr_transport *t);
};

struct pr_transport {
	const struct pr_transport_ops *ops;
	struct pr_transport_cb cb;
	char desc[128];		/* "local pid 1234", "ssh node07:22" */
	/* Set before cb->eof(arg, err < 0): why, naming the peer, e.g.
	 * "cannot connect to 'node07:22': connection refused". */
	char error[PR_ERRBUF_LEN];
};

static inline int
pr_transport_send(struct pr_transport *t, char *data, size_t len)
{
	return t->ops->send(t, data, len);
}

static inline void
pr_transport_close(struct pr_transport *t)
{
	t->ops->close(t);
}

/*
 * Start `argv[0]` (the parrun-worker program) as a child with pipes on its
 * stdin/stdout and parrun's stderr, in its own session (so a Ctrl-C at the
 * terminal reaches parrun alone, which then shuts the workers down in
 * order).  On success *out is the new transport.
 */
int pr_transport_local_start(uv_loop_t *loop, char *const *argv,
    const struct pr_transport_cb *cb, struct pr_transport **out,
    struct pr_errbuf *eb);

/* ---- SSH (transport_ssh.c) ------------------------------------------ */

struct pr_ssh_opts {
	const char *known_hosts;	/* NULL: ~/.ssh/known_hosts */
	bool accept_new;		/* append unknown host keys (TOFU) */
	const char *identity;		/* -i KEY, or NULL */
	int connect_timeout_ms;		/* TCP connect + handshake + auth */
	int keepalive_s;		/* SSH keepalive; 0: off */
};

/*
 * Connect to user@host:port over SSH on the loop (non-blocking libssh2
 * session, uv_poll on its socket), check the host key against known_hosts
 * before any authentication, authenticate (ssh-agent, then -i KEY, then
 * ~/.ssh/id_ed25519, id_ecdsa, id_rsa), and exec `command` on one channel
 * whose stdin/stdout carry the protocol (the remote stderr is copied to
 * parrun's stderr, prefixed with the host).  Returns 0 at once and does
 * the work asynchronously: bytes sent before the channel is open are
 * queued; a failure at any step calls cb->eof with a negative code and
 * t->error naming the host and the reason (refused, timed out, host key
 * with its fingerprint, authentication).  user NULL: $USER; port 0: 22.
 * cb->exited reports the remote exit status (and signal) when known.
 */
int pr_transport_ssh_start(uv_loop_t *loop, const struct pr_ssh_opts *o,
    const char *host, int port, const char *user, const char *command,
    const struct pr_transport_cb *cb, struct pr_transport **out,
    struct pr_errbuf *eb);

#endif
