/*
 * knownhosts.h - OpenSSH known_hosts checks for the SSH transport.
 *
 * The SSH transport (transport_ssh.c) asks three things of a known_hosts
 * file, all before it authenticates: which key types are already known
 * for a host (so the handshake negotiates one of those and not a new
 * type), whether the key the server showed is the known one, and, with
 * --accept-new-hostkeys, to record the key of a host never seen before.
 *
 * Names follow OpenSSH: "host" for port 22, "[host]:port" for any other
 * port (pr_knownhosts_name()); the name is the literal one the user gave,
 * with no CheckHostIP.  Plain and hashed ("|1|salt|hash") entries both
 * match.  A missing file is an empty one.
 *
 * The collection is libssh2's (it needs a LIBSSH2_SESSION, which does not
 * have to be connected); free it with libssh2_knownhost_free().  Nothing
 * here writes to the terminal; errors go into the optional errbuf.
 */
#ifndef PR_KNOWNHOSTS_H
#define PR_KNOWNHOSTS_H

#include <stdbool.h>
#include <stddef.h>

#include <libssh2.h>

#include "err.h"

enum pr_kh_result {
	PR_KH_MATCH,		/* the key is known for this name */
	PR_KH_MISMATCH,		/* another key of this type is known */
	PR_KH_OTHERTYPE,	/* not this type, but other types are known */
	PR_KH_NOTFOUND,		/* the name is not in the file at all */
};

/* "host" (port 22 or 0) or "[host]:port" into out; -ENAMETOOLONG if it
 * does not fit. */
int pr_knownhosts_name(char *out, size_t n, const char *host, int port);

/* $HOME/.ssh/known_hosts (the passwd entry's home when HOME is unset). */
int pr_knownhosts_default_path(char *out, size_t n);

/*
 * Read path into a new collection for session s; *out is the caller's
 * (libssh2_knownhost_free()).  A missing file gives an empty collection;
 * lines libssh2 cannot parse are skipped the way libssh2 skips them.
 */
int pr_knownhosts_load(LIBSSH2_SESSION *s, const char *path,
    LIBSSH2_KNOWNHOSTS **out, struct pr_errbuf *eb);

/*
 * Check the raw key blob (as libssh2_session_hostkey() returns it, of
 * type LIBSSH2_HOSTKEY_TYPE_*) for name.  A key whose type libssh2 does
 * not know is never a match (PR_KH_OTHERTYPE or PR_KH_NOTFOUND).
 */
enum pr_kh_result pr_knownhosts_check(LIBSSH2_KNOWNHOSTS *kh,
    const char *name, const char *key, size_t len, int type);

/*
 * The libssh2 host-key method names ("ssh-ed25519,ecdsa-sha2-nistp256")
 * of the key types known for name, most preferred first, into out ("" if
 * none).  Returns how many types were found, or -ENAMETOOLONG.
 */
int pr_knownhosts_methods(LIBSSH2_KNOWNHOSTS *kh, const char *name,
    char *out, size_t n);

/*
 * Append "name keytype base64\n" to path, in one write (after a newline
 * if the file does not end with one).  The file is created (mode 0600)
 * when missing, and with mkdir_parent its directory too (mode 0700, as
 * OpenSSH does for ~/.ssh).
 */
int pr_knownhosts_append(const char *path, bool mkdir_parent,
    const char *name, const char *key, size_t len, int type,
    struct pr_errbuf *eb);

/* "SHA256:<base64 without padding>" of the key blob, as ssh-keygen -l
 * prints it, into out (at least 51 bytes). */
void pr_knownhosts_fingerprint(const char *key, size_t len, char *out,
    size_t n);

/* The key's type name ("ssh-ed25519"), read from the blob, else from
 * type; "unknown" when neither says. */
const char *pr_knownhosts_type_name(const char *key, size_t len, int type,
    char *buf, size_t n);

#endif
