/* test_launch_srun.c - the srun step: its --multi-prog file, its argv, the
 * secret on its stdin (with a stand-in srun), the listen address. */
#include "test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <uv.h>

#include "auth.h"
#include "buf.h"
#include "err.h"
#include "launch_srun.h"
#include "machinefile.h"
#include "slurmenv.h"

TEST(launch_srun_conf_quotes_every_word)
{
	struct pr_srun_opts o;
	struct pr_srun_rank r[2] = {
		{ "n1", 4, "10.0.0.1:5001" },
		{ "n2", 1, "10.0.0.1:5002" },
	};
	struct pr_buf b;

	memset(&o, 0, sizeof(o));
	o.worker = "/opt/it's here/parrun-worker";
	o.max_frame = 1048576;
	pr_buf_init(&b, 0);
	ASSERT_OK(pr_srun_conf(&b, &o, r, 2, NULL));
	ASSERT_STR_EQ(b.data,
	    "# parrun: one parrun-worker per node\n"
	    "0 '/opt/it'\\''s here/parrun-worker' '--connect' "
	    "'10.0.0.1:5001' '--slots' '4' '--max-frame' '1048576'\n"
	    "1 '/opt/it'\\''s here/parrun-worker' '--connect' "
	    "'10.0.0.1:5002' '--slots' '1' '--max-frame' '1048576'\n");
	pr_buf_release(&b);
}

TEST(launch_srun_conf_refuses_a_line_break)
{
	struct pr_srun_opts o;
	struct pr_srun_rank r = { "n1", 1, "h:1" };
	struct pr_errbuf eb = { 0, "" };
	struct pr_buf b;

	memset(&o, 0, sizeof(o));
	o.worker = "/bin/parrun\nworker";
	pr_buf_init(&b, 0);
	ASSERT_EQ(pr_srun_conf(&b, &o, &r, 1, &eb), PR_ECONFIG);
	ASSERT(strstr(eb.msg, "line break") != NULL);
	pr_buf_release(&b);
}

TEST(launch_srun_argv_flags)
{
	char *pre[] = { (char *)"srun", (char *)"--mpi=none", NULL };
	static const char *const want[] = { "srun", "--mpi=none",
	    "--overlap", "--ntasks-per-node=1", "--distribution=block",
	    "--kill-on-bad-exit=0", "--wait=0", "--cpu-bind=none",
	    "--input=all", "--job-name=parrun-worker", "--nodes=3",
	    "--ntasks=3", "--multi-prog", "/tmp/x/multi-prog.conf", NULL };
	struct pr_srun_opts o;
	char **argv, *store;
	size_t i;

	memset(&o, 0, sizeof(o));
	o.srun = pre;
	ASSERT_OK(pr_srun_argv(&o, 3, "/tmp/x/multi-prog.conf", &argv,
	    &store));
	for (i = 0; want[i] != NULL; i++) {
		ASSERT(argv[i] != NULL);
		ASSERT_STR_EQ(argv[i], want[i]);
	}
	ASSERT(argv[i] == NULL);
	free(argv);
	free(store);
	/* default: plain srun */
	o.srun = NULL;
	ASSERT_OK(pr_srun_argv(&o, 1, "c", &argv, &store));
	ASSERT_STR_EQ(argv[0], "srun");
	ASSERT_STR_EQ(argv[1], "--overlap");
	free(argv);
	free(store);
}

/* ---- a stand-in srun ------------------------------------------------------ */

struct fake {
	bool exited, closed;
	long status;
	int sig;
};

static void
on_exited(void *arg, long status, int sig)
{
	struct fake *f = arg;

	f->exited = true;
	f->status = status;
	f->sig = sig;
}

static void
on_closed(void *arg)
{
	struct fake *f = arg;

	f->closed = true;
}

static char *
slurp(const char *path)
{
	FILE *fp = fopen(path, "r");
	char *s;
	long n;

	if (fp == NULL)
		return NULL;
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	fseek(fp, 0, SEEK_SET);
	s = calloc(1, (size_t)n + 1);
	if (s != NULL && fread(s, 1, (size_t)n, fp) != (size_t)n)
		s[0] = '\0';
	fclose(fp);
	return s;
}

TEST(launch_srun_secret_on_stdin_conf_gone_after)
{
	char dir[] = "/tmp/parrun-test-srun-XXXXXX";
	char script[1024], path[1200], hex[PR_SECRET_HEX + 1];
	char *pre[5];
	struct pr_srun_rank r[2] = {
		{ "n1", 2, "127.0.0.1:1" },
		{ "n2", 3, "127.0.0.1:2" },
	};
	uint8_t secret[PR_SECRET_LEN];
	struct pr_srun_opts o;
	struct pr_srun_cb cb;
	struct pr_srun *s;
	struct fake f;
	uv_loop_t loop;
	char *text, *conf_path;

	ASSERT(mkdtemp(dir) != NULL);
	/* it records its arguments, its stdin and the config it was given
	 * (the last argument) */
	snprintf(script, sizeof(script),
	    "cd '%s' && printf '%%s\\n' \"$@\" >args && cat >stdin && "
	    "for a; do last=$a; done && cp \"$last\" conf && "
	    "echo \"$last\" >conf-path && echo 'srun: cluster configuration "
	    "lacks support for cpu binding' >&2 && exit 7", dir);
	pre[0] = (char *)"/bin/sh";
	pre[1] = (char *)"-c";
	pre[2] = script;
	pre[3] = (char *)"fake-srun";
	pre[4] = NULL;
	memset(&o, 0, sizeof(o));
	o.srun = pre;
	o.worker = "/w/parrun-worker";
	o.tmpdir = dir;
	memset(&f, 0, sizeof(f));
	cb.arg = &f;
	cb.exited = on_exited;
	cb.closed = on_closed;
	ASSERT_OK(pr_secret_generate(secret));
	ASSERT_OK(uv_loop_init(&loop));
	ASSERT_OK(pr_srun_start(&loop, &o, r, 2, secret, &cb, &s, NULL));
	ASSERT(pr_srun_pid(s) > 0);
	while (!f.exited)
		uv_run(&loop, UV_RUN_ONCE);
	ASSERT(pr_srun_exited(s));
	ASSERT_EQ(f.status, 7);
	pr_srun_close(s);
	while (!f.closed)
		uv_run(&loop, UV_RUN_ONCE);
	ASSERT_OK(uv_loop_close(&loop));

	snprintf(path, sizeof(path), "%s/stdin", dir);
	text = slurp(path);
	pr_secret_hex(secret, hex);
	ASSERT(text != NULL);
	ASSERT_EQ(strlen(text), PR_SECRET_HEX + 1);
	ASSERT(strncmp(text, hex, PR_SECRET_HEX) == 0);
	ASSERT_EQ(text[PR_SECRET_HEX], '\n');
	free(text);

	snprintf(path, sizeof(path), "%s/args", dir);
	text = slurp(path);
	ASSERT(text != NULL);
	ASSERT(strstr(text, "--overlap\n--ntasks-per-node=1\n") != NULL);
	ASSERT(strstr(text, "--nodes=2\n--ntasks=2\n--multi-prog\n") != NULL);
	/* no secret in the arguments */
	ASSERT(strstr(text, hex) == NULL);
	free(text);

	snprintf(path, sizeof(path), "%s/conf", dir);
	text = slurp(path);
	ASSERT(text != NULL);
	ASSERT(strstr(text, "\n0 '/w/parrun-worker' '--connect' "
	    "'127.0.0.1:1' '--slots' '2'\n") != NULL);
	ASSERT(strstr(text, "\n1 '/w/parrun-worker' '--connect' "
	    "'127.0.0.1:2' '--slots' '3'\n") != NULL);
	ASSERT(strstr(text, hex) == NULL);
	free(text);

	/* the private directory with the config is gone */
	snprintf(path, sizeof(path), "%s/conf-path", dir);
	text = slurp(path);
	ASSERT(text != NULL);
	conf_path = text;
	ASSERT(strchr(conf_path, '\n') != NULL);
	*strchr(conf_path, '\n') = '\0';
	ASSERT(strncmp(conf_path, dir, strlen(dir)) == 0);
	ASSERT(access(conf_path, F_OK) != 0);
	*strrchr(conf_path, '/') = '\0';
	ASSERT(access(conf_path, F_OK) != 0);
	free(text);

	{
		const char *files[] = { "args", "stdin", "conf", "conf-path" };
		for (size_t i = 0; i < 4; i++) {
			snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
			unlink(path);
		}
	}
	rmdir(dir);
	pr_secret_wipe(secret, sizeof(secret));
}

TEST(launch_srun_missing_program)
{
	char *pre[] = { (char *)"/nonexistent/srun", NULL };
	struct pr_srun_rank r = { "n1", 1, "127.0.0.1:1" };
	uint8_t secret[PR_SECRET_LEN] = { 0 };
	struct pr_errbuf eb = { 0, "" };
	struct pr_srun_opts o;
	struct pr_srun_cb cb;
	struct pr_srun *s = NULL;
	struct fake f;
	uv_loop_t loop;

	memset(&o, 0, sizeof(o));
	o.srun = pre;
	o.worker = "w";
	memset(&f, 0, sizeof(f));
	cb.arg = &f;
	cb.exited = on_exited;
	cb.closed = on_closed;
	ASSERT_OK(uv_loop_init(&loop));
	ASSERT(pr_srun_start(&loop, &o, &r, 1, secret, &cb, &s, &eb) < 0);
	ASSERT(s == NULL);
	ASSERT(strstr(eb.msg, "cannot start '/nonexistent/srun'") != NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	ASSERT(!f.closed && !f.exited);
	ASSERT_OK(uv_loop_close(&loop));
}

/* ---- the address the nodes connect to ------------------------------------ */

static void
one_host(struct pr_hosts *hs, const char *name)
{
	struct pr_host h;

	memset(&h, 0, sizeof(h));
	h.name = (char *)name;
	h.slots = 1;
	h.via = PR_VIA_SRUN;
	ASSERT_OK(pr_hosts_add(hs, &h, NULL));
}

TEST(launch_srun_listen_addr_routes_to_a_node)
{
	const char *env[] = { "SLURMD_NODENAME=elsewhere",
	    "SLURM_CONF=/nonexistent", NULL };
	struct pr_hosts hs;
	char out[64];

	pr_hosts_init(&hs);
	one_host(&hs, "127.0.0.1");
	ASSERT_OK(pr_srun_listen_addr(&hs, pr_env_envp, env, out,
	    sizeof(out), NULL));
	ASSERT_STR_EQ(out, "127.0.0.1");
	pr_hosts_release(&hs);
}

TEST(launch_srun_listen_addr_falls_back_to_the_controller)
{
	const char *env[] = {
	    "SLURM_WORKING_CLUSTER=parrun:127.0.0.1:6817:9728:109",
	    "SLURM_CONF=/nonexistent", NULL };
	const char *none[] = { "SLURM_CONF=/nonexistent", NULL };
	struct pr_errbuf eb = { 0, "" };
	struct pr_hosts hs;
	char out[64];

	pr_hosts_init(&hs);
	/* names that resolve nowhere (RFC 6761) */
	one_host(&hs, "n1.parrun-test.invalid");
	one_host(&hs, "n2.parrun-test.invalid");
	ASSERT_OK(pr_srun_listen_addr(&hs, pr_env_envp, env, out,
	    sizeof(out), NULL));
	ASSERT_STR_EQ(out, "127.0.0.1");
	ASSERT_EQ(pr_srun_listen_addr(&hs, pr_env_envp, none, out,
	    sizeof(out), &eb), PR_ECONFIG);
	ASSERT(strstr(eb.msg, "--listen ADDR:0") != NULL);
	pr_hosts_release(&hs);
}

TEST(launch_srun_listen_addr_reads_slurm_conf)
{
	char path[] = "/tmp/parrun-test-conf-XXXXXX";
	char var[128], out[64];
	const char *env[3];
	struct pr_hosts hs;
	FILE *fp;
	int fd;

	fd = mkstemp(path);
	ASSERT(fd >= 0);
	fp = fdopen(fd, "w");
	ASSERT(fp != NULL);
	fputs("# a comment\nClusterName=x\nSlurmctldHost=ctl(127.0.0.1)\n"
	    "SlurmctldHost=backup(10.9.9.9)\n", fp);
	fclose(fp);
	snprintf(var, sizeof(var), "SLURM_CONF=%s", path);
	env[0] = var;
	env[1] = NULL;
	pr_hosts_init(&hs);
	one_host(&hs, "n1.parrun-test.invalid");
	ASSERT_OK(pr_srun_listen_addr(&hs, pr_env_envp, env, out,
	    sizeof(out), NULL));
	ASSERT_STR_EQ(out, "127.0.0.1");
	pr_hosts_release(&hs);
	unlink(path);
}
