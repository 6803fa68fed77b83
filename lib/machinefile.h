/*
 * machinefile.h - the hosts a run uses: machinefiles, -S lists, and the
 * table `parrun hosts` prints.
 *
 * A struct pr_hosts is an ordered list of hosts (first-seen order), each
 * with the slots it runs at once.  It is filled from a machinefile
 * (pr_machinefile_load/_parse), from an inline -S list
 * (pr_machinefile_parse_list), or from a Slurm allocation (slurmenv.h).
 * The grammar is in man/parrun-machinefile.5; in short, one entry a line:
 *
 *	host			1 slot (repeat the line for more)
 *	host slots=N [max_slots=M]	MPI (max_slots is checked and ignored)
 *	host:N			N slots (disBatch, MPICH)
 *	N/[user@]host[:port]	GNU parallel
 *	N*[user@]host[:port] [bind_addr[:port]]	Julia
 *	[user@]host:port	a port when written with user@
 *	[::1]:22		IPv6 literals in brackets (the number is a port)
 *	: or localhost		this machine, no SSH
 *	node[01-04]		host list ranges in the host part
 *
 * The rule for "host:NUM": NUM is a port when the entry is written in an
 * SSH style (an N/ or N* prefix, a user@, or a bracketed IPv6 address);
 * otherwise it is a slot count.  So "node1:4" is 4 slots, while
 * "1*node1:2222" and "me@node1:2222" reach port 2222.
 *
 * Lines for the same host (same name, user and port) add up their slots;
 * the host keeps its first position.  Errors name the source, line and
 * column: "hosts:3:7: invalid slot count 'x'".
 *
 * Ownership: struct pr_hosts owns every string of every host; pointers
 * into it stay valid until the next add or the release.
 */
#ifndef PR_MACHINEFILE_H
#define PR_MACHINEFILE_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "err.h"

#define PR_HOST_SLOTS_MAX 65536		/* slots of one host */
#define PR_HOSTS_SLOTS_MAX (1L << 24)	/* slots of all hosts together */
#define PR_MACHINEFILE_MAX (16L << 20)	/* bytes in a machinefile */
#define PR_MACHINEFILE_LINE_MAX 4096	/* bytes in one line */

/* How parrun reaches a host. */
enum pr_host_via {
	PR_VIA_LOCAL,		/* this machine: local pipes, no SSH */
	PR_VIA_SSH,		/* one SSH connection per host */
	PR_VIA_SRUN		/* a Slurm node: one srun step for all */
};

struct pr_host {
	char *name;		/* name or address; IPv6 without brackets;
				 * "localhost" for PR_VIA_LOCAL */
	char *user;		/* NULL: the default user */
	char *bind;		/* Julia bind_addr as written, or NULL;
				 * kept for display only */
	char *origin;		/* where first seen: "hosts:3", "-S",
				 * "SLURM_JOB_NODELIST" */
	int port;		/* 0: the default (22) */
	int slots;		/* tasks the host runs at once, >= 1 */
	int cpus;		/* CPUs known for the host (Slurm), 0 unknown */
	enum pr_host_via via;
};

struct pr_hosts {
	struct pr_host *v;
	size_t n;
	size_t cap;
	long total_slots;
	size_t max_hosts;	/* cap on n; PR_HOSTLIST_MAX after init */
	size_t *index;		/* hash of (via, name, user, port) -> i+1 */
	size_t index_cap;
};

/* Empty list; cannot fail, allocates nothing.  A caller may lower
 * max_hosts afterwards (the fuzzer does). */
void pr_hosts_init(struct pr_hosts *hs);

/* Free every host and string; the list is empty again (max_hosts is
 * kept). */
void pr_hosts_release(struct pr_hosts *hs);

/*
 * Add h (borrowed: its strings are copied).  A host already present with
 * the same via, name, user and port gets h->slots added to its own (and
 * h->cpus, when it had none); otherwise h is appended.  Returns 0,
 * PR_ELIMIT (more than PR_HOST_SLOTS_MAX slots on one host,
 * PR_HOSTS_SLOTS_MAX in all, or max_hosts hosts) or -ENOMEM.
 */
int pr_hosts_add(struct pr_hosts *hs, const struct pr_host *h,
    struct pr_errbuf *eb);

/* Index of the host with this via, name, user (may be NULL) and port,
 * or -1. */
long pr_hosts_find(const struct pr_hosts *hs, enum pr_host_via via,
    const char *name, const char *user, int port);

/*
 * Parse a machinefile held in text[0..len) and add its hosts to hs.
 * `name` (borrowed) is the file name used in messages and origins.  On
 * error eb reads "NAME:LINE:COL: what", and hs may hold some of the hosts
 * before the bad line: the caller releases it.
 * Returns 0, PR_ECONFIG, PR_ELIMIT or -ENOMEM.
 */
int pr_machinefile_parse(struct pr_hosts *hs, const char *name,
    const char *text, size_t len, struct pr_errbuf *eb);

/* Read the file at path (at most PR_MACHINEFILE_MAX bytes) and parse it.
 * Also returns -errno when it cannot be read. */
int pr_machinefile_load(struct pr_hosts *hs, const char *path,
    struct pr_errbuf *eb);

/*
 * Parse an inline list (the argument of -S): entries separated by commas
 * outside brackets, each in any one-token form above, for example
 * "2/node[01-04],:,me@gpu1:2222".  `what` (borrowed) names the list in
 * messages: "-S: column 9: invalid slot count 'x'".
 */
int pr_machinefile_parse_list(struct pr_hosts *hs, const char *what,
    const char *list, struct pr_errbuf *eb);

/*
 * Worker processes parrun starts for h: locally one per slot (crash
 * isolation, like `-j N`); over SSH and srun one per host, holding all
 * the host's slots, so a host costs one SSH handshake, never one per
 * task.
 */
int pr_host_workers(const struct pr_host *h);

/* "local", "ssh" or "srun". */
const char *pr_host_via_name(enum pr_host_via via);

/*
 * The layout as `parrun hosts` prints it, appended to out: a table with
 * the columns HOST USER PORT WORKERS SLOTS CPUS VIA FROM and a total
 * line; or one JSON object
 *	{"hosts":[{"host":..,"user":..|null,"port":22|null,"workers":..,
 *	"slots":..,"cpus":..|null,"via":"ssh","from":"hosts:3",
 *	"bind":..|null},...],"total_hosts":..,"total_slots":..,
 *	"total_workers":..}
 * followed by a newline.  Return 0 or a buf.h code.
 */
int pr_hosts_format_table(const struct pr_hosts *hs, struct pr_buf *out);
int pr_hosts_format_json(const struct pr_hosts *hs, struct pr_buf *out);

#endif
