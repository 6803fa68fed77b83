/*
 * auth.h - the run secret and the mutual HMAC handshake of TCP workers.
 *
 * A worker that connects over TCP (parrun-worker --connect) proves that it
 * knows the run's secret, and the coordinator proves it too, before
 * anything else is said.  This file is the handshake as pure functions
 * over bytes (no sockets, no loop), so it can be unit tested and fuzzed;
 * transport_tcp.c moves the bytes.
 *
 *	W->C  {"type":"hello", ...the usual hello...,"nonce":"<64 hex>"}
 *	C->W  {"type":"auth","nonce":"<64 hex>","mac":"<64 hex>"}
 *	W->C  {"type":"auth","mac":"<64 hex>"}
 *
 * With H = SHA-256 of the hello line as sent (its bytes before the LF):
 *
 *	mac_c = HMAC-SHA256(secret, "parrun-v1 coordinator" 0x00 nonce_w
 *	    nonce_c H)
 *	mac_w = HMAC-SHA256(secret, "parrun-v1 worker" 0x00 nonce_c nonce_w H)
 *
 * Nonces are 32 random bytes, fresh for every connection on both sides,
 * so an old handshake replays to nothing; the role labels differ, so a
 * MAC cannot be reflected back as the other side's; H binds both MACs to
 * everything the worker announced (protocol range, host, slots, kernels).
 * The worker checks mac_c before it sends mac_w, so a fake coordinator
 * learns no MAC of the worker's.  MACs are compared with CRYPTO_memcmp.
 *
 * Before the MACs are checked the coordinator looks at nothing but the
 * hello's "type", "proto" range and "nonce" (the line is at most
 * PR_PREAUTH_FRAME bytes).  A worker whose range does not meet
 * PR_PROTO_MIN..PR_PROTO_MAX gets the usual "reject" line and no auth.
 *
 * This authenticates the two ends when the connection is made.  It does
 * not encrypt or sign what follows: the session after the handshake is
 * the plain protocol, readable and, for an attacker who can rewrite
 * packets between the nodes, alterable.  Use a private network or an SSH
 * tunnel where that matters.
 *
 * Secrets are 32 bytes from RAND_bytes, written as 64 lowercase hex
 * digits and one LF.  They travel on a worker's stdin (first line) or in a
 * file of mode 0600 owned by the user; never in argv or the environment.
 *
 * Ownership: struct pr_auth is the caller's (stack or embedded); it holds
 * a copy of the secret until pr_auth_wipe().  Lines passed in are
 * borrowed for the call; output is appended to the caller's pr_buf.
 */
#ifndef PR_AUTH_H
#define PR_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"

#define PR_SECRET_LEN	32	/* bytes */
#define PR_SECRET_HEX	64	/* hex digits */
#define PR_NONCE_LEN	32
#define PR_MAC_LEN	32

/* ---- secrets ------------------------------------------------------------- */

/* 32 bytes from the OpenSSL CSPRNG; PR_EAUTH if it cannot give them. */
int pr_secret_generate(uint8_t secret[PR_SECRET_LEN]);

/* 64 lowercase hex digits and a NUL into hex[65]. */
void pr_secret_hex(const uint8_t secret[PR_SECRET_LEN],
    char hex[PR_SECRET_HEX + 1]);

/* Exactly 64 hex digits (either case), optionally followed by LF or
 * CR LF; nothing else.  PR_EAUTH otherwise (the text is not quoted in the
 * message: it may be most of a secret). */
int pr_secret_parse(const char *s, size_t n, uint8_t secret[PR_SECRET_LEN],
    struct pr_errbuf *eb);

/* Overwrite n bytes in a way the compiler keeps (OPENSSL_cleanse). */
void pr_secret_wipe(void *p, size_t n);

/*
 * Read the first line of fd (a worker's stdin) byte by byte, so not one
 * byte past its LF is consumed, and parse it.  A terminal is refused (the
 * secret would be echoed), as are EOF before 64 digits and a line over
 * 128 bytes.
 */
int pr_secret_read_fd(int fd, uint8_t secret[PR_SECRET_LEN],
    struct pr_errbuf *eb);

/*
 * Read a secret file.  It must be a regular file owned by the effective
 * user with no permission bits for group or others (0600, 0400), else
 * PR_EAUTH with a message saying what to fix ("chmod 600").
 */
int pr_secret_read_file(const char *path, uint8_t secret[PR_SECRET_LEN],
    struct pr_errbuf *eb);

/* Create path (O_EXCL, O_NOFOLLOW, mode 0600) holding the secret. */
int pr_secret_write_file(const char *path,
    const uint8_t secret[PR_SECRET_LEN], struct pr_errbuf *eb);

/*
 * Make a private directory (mkdtemp, mode 0700) "parrun-XXXXXX" under
 * parent (NULL: $TMPDIR, else /tmp) and write the secret into the file
 * "secret" inside it.  *path gets the file's path (caller frees); remove
 * both with pr_secret_remove().
 */
int pr_secret_write_private(const char *parent,
    const uint8_t secret[PR_SECRET_LEN], char **path, struct pr_errbuf *eb);

/* Unlink a file made by pr_secret_write_private() and its directory. */
void pr_secret_remove(const char *path);

/* ---- the handshake ------------------------------------------------------- */

enum pr_auth_role {
	PR_AUTH_WORKER,
	PR_AUTH_COORDINATOR,
};

struct pr_auth {
	enum pr_auth_role role;
	int step;			/* internal: what comes next */
	uint8_t secret[PR_SECRET_LEN];
	uint8_t nonce[PR_NONCE_LEN];	/* ours; tests may set it */
	uint8_t peer_nonce[PR_NONCE_LEN];
	uint8_t transcript[32];		/* SHA-256 of the hello line */
	int proto_min, proto_max;	/* the worker's announced range */
};

/* Copy the secret and draw a fresh nonce (PR_EAUTH if RAND_bytes
 * fails).  Every connection needs its own pr_auth_init(). */
int pr_auth_init(struct pr_auth *a, enum pr_auth_role role,
    const uint8_t secret[PR_SECRET_LEN]);

/* Forget the secret and the nonces. */
void pr_auth_wipe(struct pr_auth *a);

/*
 * Worker, step 1.  hello is one complete hello line as pr_msg_hello()
 * writes it (a JSON object, with or without the final LF, at most
 * PR_PREAUTH_FRAME - 80 bytes); the "nonce" member is added before its
 * closing brace and the line (with LF) appended to out.  PR_EPROTO if
 * hello is not such a line, PR_ETOOBIG if it is too long.
 */
int pr_auth_worker_hello(struct pr_auth *a, const char *hello, size_t len,
    struct pr_buf *out, struct pr_errbuf *eb);

/*
 * Worker, step 2: line is the coordinator's first line (without its LF).
 * An "auth" whose MAC checks: 0, and the worker's "auth" line is
 * appended to out.  A "reject": PR_EVERSION, eb holds its reason and
 * range.  A MAC that does not check: PR_EAUTH ("bad MAC": the secrets
 * differ, or this is not our coordinator).  Anything else: PR_EPROTO.
 */
int pr_auth_worker_reply(struct pr_auth *a, const char *line, size_t len,
    struct pr_buf *out, struct pr_errbuf *eb);

/*
 * Coordinator, step 1: line is the worker's first line (without its LF,
 * at most PR_PREAUTH_FRAME bytes).  A hello with a nonce and a protocol
 * range that meets ours: 0, and the "auth" line is appended to out.
 * A range that does not: PR_EVERSION, and a "reject" line naming both
 * ranges is appended to out (send it, then close).  A hello without a
 * nonce: PR_EAUTH, and a "reject" saying authentication is required is
 * appended.  Anything else: PR_EPROTO and nothing appended.
 */
int pr_auth_coord_hello(struct pr_auth *a, const char *line, size_t len,
    struct pr_buf *out, struct pr_errbuf *eb);

/*
 * Coordinator, step 2: line is the worker's second line.  0 when its MAC
 * checks (the worker is authenticated); PR_EAUTH ("bad MAC") when it does
 * not, and a "reject" line is appended to out; PR_EPROTO when the line is
 * not an "auth" message.
 */
int pr_auth_coord_check(struct pr_auth *a, const char *line, size_t len,
    struct pr_buf *out, struct pr_errbuf *eb);

#endif
