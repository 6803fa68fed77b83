/*
 * transport_ssh.c - a worker on another host, over one libssh2 channel.
 * (Being written; until then SSH hosts are refused with a clear error.)
 */
#include "transport.h"

int
pr_transport_ssh_start(uv_loop_t *loop, const struct pr_ssh_opts *o,
    const char *host, int port, const char *user, const char *command,
    const struct pr_transport_cb *cb, struct pr_transport **out,
    struct pr_errbuf *eb)
{
	(void)loop; (void)o; (void)user; (void)command; (void)cb; (void)out;
	return pr_err(eb, PR_ESSH, "cannot connect to '%s:%d': ssh transport "
	    "not available in this build", host, port ? port : 22);
}
