/*
 * connect.h - parrun-worker --connect ADDR:PORT: get the run's secret and
 * reach the coordinator over TCP, authenticated (lib/transport_tcp.h,
 * lib/auth.h).
 *
 * In parrun-worker's main(), in this order:
 *
 *	1. Before setup_fds() (which moves fd 0 away):
 *	   pr_worker_secret(opt_secret_file, 0, secret, &eb)
 *	   reads the secret from --secret-file FILE (mode 0600, ours) or
 *	   else from the first line of stdin, byte by byte so nothing past
 *	   that line is consumed.  stdin is not used after that (setup_fds
 *	   puts /dev/null in its place, so tasks never see it).
 *	2. Once the loop exists, instead of send_hello(): write the hello
 *	   line with pr_msg_hello() into a buffer and call
 *	   pr_worker_connect(loop, opt_connect, secret, line, len, 0,
 *	       &tcp_storage, on_connected, NULL, &eb);
 *	   then pr_secret_wipe(secret, sizeof(secret)) (it was copied).
 *	   The hello goes out as the first line, with a nonce added.
 *	3. In on_connected(arg, 0, stream, leftover, n, NULL): the stream is
 *	   both the protocol input and output (in_stream = out_stream =
 *	   stream; close it once); copy leftover[0..n) into the input buffer
 *	   and feed it to the framer first (normally n is 0), then
 *	   uv_read_start() and start the handshake timer: the next line is
 *	   the coordinator's welcome or reject, as over pipes.
 *	   On status < 0, log msg and exit with W_EXIT_HANDSHAKE (nothing to
 *	   clean up: the socket is closed).
 *
 * Ownership: tcp_storage is the caller's and must stay put; on success
 * the caller owns the open handle (and its data field).
 */
#ifndef PR_WORKER_CONNECT_H
#define PR_WORKER_CONNECT_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "auth.h"
#include "err.h"

#define W_CONNECT_MS	30000	/* keep trying for; PARRUN_CONNECT_MS */

/*
 * The run's secret: from secret_file when it is not NULL (a regular file
 * of mode 0600 or stricter owned by this user), else from the first line
 * of fd.  Never from argv or the environment.  PR_EAUTH (or -errno) with
 * eb saying what to do.
 */
int pr_worker_secret(const char *secret_file, int fd,
    uint8_t secret[PR_SECRET_LEN], struct pr_errbuf *eb);

/* status 0: stream is connected and authenticated, not reading;
 * leftover[0..n) are protocol bytes that came with the handshake (valid
 * during the call).  status < 0: msg says why (never NULL then). */
typedef void (*pr_worker_connected_cb)(void *arg, int status,
    uv_stream_t *stream, const char *leftover, size_t n, const char *msg);

/*
 * Connect to addr_port ("10.0.0.1:5000", "[fe80::1]:5000", "node01:5000")
 * and authenticate with secret (copied), sending hello (the worker's
 * hello line, copied) as the first line.  Refused, unreachable or busy
 * coordinators are retried with backoff for total_ms (0: $PARRUN_CONNECT_MS
 * or 30 s), the first failure logged; a bad MAC or a reject is final.
 * Returns 0 and calls cb once from the loop, or fails at once (bad
 * address, hello too long) without calling it.
 */
int pr_worker_connect(uv_loop_t *loop, const char *addr_port,
    const uint8_t secret[PR_SECRET_LEN], const char *hello, size_t len,
    int total_ms, uv_tcp_t *tcp, pr_worker_connected_cb cb, void *arg,
    struct pr_errbuf *eb);

#endif
