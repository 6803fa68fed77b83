/*
 * parrun.c - main(): options -> struct pr_config -> pr_run() -> exit status.
 *
 * Exit status (as GNU parallel, which shell users already check):
 *	0	every task succeeded
 *	1-100	that many tasks failed (any status but ok)
 *	101	more than 100 tasks failed
 *	255	other error (usage, bad input, no worker), with a message
 *	128+N	stopped by signal N
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "cpus.h"
#include "log.h"
#include "machinefile.h"
#include "opts.h"
#include "run.h"
#include "slurmenv.h"
#include "version.h"

#define EXIT_OTHER 255
/* --range chunks with --deterministic: the same cut whatever -j (1024:
 * four per slot up to 256 slots; a chunk of 5e7 / 1024 randsum indices
 * is about 0.1 ms of work, with auto batching a few per message) */
#define DETERMINISTIC_CHUNKS 1024

static void
usage_line(FILE *f)
{
	fputs("usage: parrun [OPTIONS] [COMMAND [ARG...]] [::: VALUE... "
	    "[::: VALUE...]]\n", f);
}

static void
help(void)
{
	usage_line(stdout);
	fputs("\nRun tasks in parallel on local workers.  Tasks come from "
	    "stdin (one per line:\na JSON object or a plain value for the "
	    "COMMAND template), from -a FILE or\nfrom ::: groups.  "
	    "Replacement strings in COMMAND: {} {.} {/} {//} {/.} {#} {%} "
	    "{n}.\n\nOptions:\n", stdout);
	pr_opts_help(stdout);
	fputs("\nExit status: 0 all tasks succeeded; 1-100 that many failed; "
	    "101 more;\n255 other error; 128+N killed by signal N.  "
	    "See parrun(1).\n", stdout);
}

static int bad_usage(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

static int
bad_usage(const char *fmt, ...)
{
	va_list ap;

	fputs("parrun: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	usage_line(stderr);
	return EXIT_OTHER;
}

static int
parse_long(const char *s, long lo, long hi, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

static int
parse_double(const char *s, double lo, double hi, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !(v >= lo && v <= hi))
		return -1;
	*out = v;
	return 0;
}

/* The parrun-worker next to this program, if there is one. */
static char *
default_worker(void)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 32);
	char *slash;

	if (n > 0) {
		self[n] = '\0';
		slash = strrchr(self, '/');
		if (slash != NULL) {
			memcpy(slash + 1, "parrun-worker", sizeof("parrun-worker"));
			if (access(self, X_OK) == 0)
				return strdup(self);
		}
	}
	return strdup("parrun-worker");
}

static uint64_t
clock_seed(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	/* within 2^53 so it survives JSON */
	return ((uint64_t)ts.tv_sec * 1000003u ^ (uint64_t)ts.tv_nsec ^
	    (uint64_t)getpid() << 20) & ((1ull << 53) - 1);
}

/*
 * Split the words after the options into the command template and the
 * ::: groups.  Words are borrowed from argv.
 */
/* The input sources, in command-line order (-a files first, as they are
 * options, then --range, then the ::: groups). */
struct srcs {
	struct pr_input_src *v;
	size_t n;
};

static int
add_src(struct srcs *s, const struct pr_input_src *src)
{
	struct pr_input_src *v = realloc(s->v, (s->n + 1) * sizeof(*v));

	if (v == NULL)
		return -1;
	s->v = v;
	v[s->n++] = *src;
	return 0;
}

/*
 * Split the words after the options into the command template and the
 * ::: groups.  Words are borrowed from argv.
 */
static int
split_words(struct pr_config *c, struct srcs *srcs, int argc, char **argv)
{
	int i = 0;

	while (i < argc && strcmp(argv[i], ":::") != 0)
		i++;
	c->in.tmpl = i > 0 ? (const char *const *)argv : NULL;
	c->in.ntmpl = (size_t)i;
	while (i < argc) {
		struct pr_input_src src;
		int start = ++i;

		while (i < argc && strcmp(argv[i], ":::") != 0)
			i++;
		if (i == start)
			return bad_usage("empty ':::' group");
		memset(&src, 0, sizeof(src));
		src.kind = PR_SRC_ARGS;
		src.values = (const char *const *)argv + start;
		src.nvalues = (size_t)(i - start);
		if (add_src(srcs, &src) < 0)
			return EXIT_OTHER;
	}
	return 0;
}

/* parrun hosts: the resolved layout, then exit. */
static int
show_hosts(const struct pr_config *cfg, struct pr_hosts *hosts, bool json)
{
	struct pr_errbuf eb = { 0, "" };
	struct pr_buf b;
	int rc;

	if (hosts->n == 0 && cfg->jobs > 0) {
		struct pr_host h;

		/* no host given: this machine, with -j slots (none with
		 * --listen alone: the workers come to parrun) */
		memset(&h, 0, sizeof(h));
		h.name = (char *)"localhost";
		h.origin = (char *)"-j";
		h.slots = cfg->jobs;
		h.via = PR_VIA_LOCAL;
		if ((rc = pr_hosts_add(hosts, &h, &eb)) < 0) {
			pr_log_error("%s", pr_errmsg(&eb, rc));
			return EXIT_OTHER;
		}
	}
	pr_buf_init(&b, 0);
	rc = json ? pr_hosts_format_json(hosts, &b) :
	    pr_hosts_format_table(hosts, &b);
	if (rc == 0)
		fwrite(b.data, 1, b.len, stdout);
	pr_buf_release(&b);
	return rc == 0 ? 0 : EXIT_OTHER;
}

enum launcher {
	LAUNCH_AUTO,
	LAUNCH_LOCAL,
	LAUNCH_SSH,
	LAUNCH_SRUN,
};

/*
 * Inside a Slurm allocation (SLURM_JOB_ID set) with no hosts given: the
 * allocation's nodes, to be reached by srun (the default) or over SSH
 * (--launcher ssh).  --launcher local, or --listen without --launcher,
 * leaves Slurm alone.  Returns 0 or an exit status.
 */
static int
slurm_hosts(struct pr_hosts *hosts, enum launcher launcher, bool listen)
{
	struct pr_errbuf eb = { 0, "" };
	struct pr_hosts found;
	int rc, status = 0;

	if (launcher == LAUNCH_LOCAL ||
	    (launcher == LAUNCH_AUTO && listen))
		return 0;
	if (hosts->n > 0) {
		if (launcher == LAUNCH_SRUN)
			return bad_usage("--launcher srun starts workers on "
			    "the nodes of a Slurm allocation, not on -S or "
			    "--machinefile hosts");
		return 0;
	}
	if (!pr_slurmenv_present(pr_env_process, NULL)) {
		if (launcher == LAUNCH_AUTO)
			return 0;
		return bad_usage("--launcher %s needs a Slurm allocation "
		    "(SLURM_JOB_ID is not set)", launcher == LAUNCH_SSH ?
		    "ssh" : "srun");
	}
	pr_hosts_init(&found);
	rc = pr_slurmenv_read(&found, NULL, pr_env_process, NULL, &eb);
	for (size_t i = 0; rc == 0 && i < found.n; i++) {
		struct pr_host h = found.v[i];

		h.via = launcher == LAUNCH_SSH ? PR_VIA_SSH : PR_VIA_SRUN;
		rc = pr_hosts_add(hosts, &h, &eb);
	}
	if (rc < 0) {
		pr_log_error("%s", pr_errmsg(&eb, rc));
		status = EXIT_OTHER;
	}
	pr_hosts_release(&found);
	return status;
}

/* Workers that connect back hold a listener and a connection each: lift
 * the soft limit on open files to the hard one. */
static void
raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static int
exit_status(const struct pr_summary *s, int rc)
{
	if (s->signal != 0)
		return 128 + s->signal;
	if (rc < 0)
		return EXIT_OTHER;
	if (s->halted && s->halt_exit >= 0)
		return s->halt_exit;
	if (s->failed > 100)
		return 101;
	return (int)s->failed;
}

int
main(int argc, char **argv)
{
	struct pr_config cfg;
	struct pr_summary sum = { 0 };
	struct pr_errbuf eb = { 0, "" };
	char shortopts[128];
	void *longopts = NULL;
	struct srcs srcs = { NULL, 0 };
	struct pr_hosts hosts;
	bool hosts_cmd = false, json = false;
	const char *range = NULL;
	char *worker = NULL;
	bool seed_given = false, jobs_given = false;
	enum launcher launcher = LAUNCH_AUTO;
	int c, rc, verbose = 0, quiet = 0, status = EXIT_OTHER;
	long l;
	double d;

	if (argc > 1 && strcmp(argv[1], "bench") == 0)
		return pr_cmd_bench(argc - 1, argv + 1);
	signal(SIGPIPE, SIG_IGN);
	pr_config_init(&cfg);
	pr_hosts_init(&hosts);
	if (argc > 1 && strcmp(argv[1], "hosts") == 0) {
		/* parrun hosts [--json] [host options]: show the layout */
		hosts_cmd = true;
		argv[1] = argv[0];
		argv++;
		argc--;
		for (int i = 1; i < argc; i++)
			if (strcmp(argv[i], "--json") == 0) {
				json = true;
				memmove(argv + i, argv + i + 1,
				    (size_t)(argc - i) * sizeof(*argv));
				argc--;
				break;
			}
	}
	if (pr_opts_getopt(shortopts, sizeof(shortopts), &longopts) < 0)
		return EXIT_OTHER;
	opterr = 0;
	while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		int id = pr_opts_id(c);

		switch (id) {
		case PR_OPT_JOBS:
			if (parse_long(optarg, 1, 100000, &l) < 0) {
				status = bad_usage("invalid worker count "
				    "'%s' for -j", optarg);
				goto out;
			}
			cfg.jobs = (int)l;
			jobs_given = true;
			break;
		case PR_OPT_ARGFILE: {
			struct pr_input_src src;

			memset(&src, 0, sizeof(src));
			src.kind = PR_SRC_FILE;
			src.path = optarg;
			if (add_src(&srcs, &src) < 0)
				goto out;
			break;
		}
		case PR_OPT_SHELL:
			cfg.in.shell = true;
			break;
		case PR_OPT_KERNEL:
			cfg.in.kernel = optarg;
			break;
		case PR_OPT_RANGE:
			range = optarg;
			break;
		case PR_OPT_SCHEDULE:
			if (pr_sched_parse(optarg, &cfg.schedule) < 0) {
				status = bad_usage("invalid schedule '%s' "
				    "(dynamic, static or guided)", optarg);
				goto out;
			}
			break;
		case PR_OPT_BATCH:
			if (strcmp(optarg, "auto") == 0) {
				cfg.batch = 0;
			} else if (parse_long(optarg, 1, PR_SCHED_BATCH_MAX,
			    &l) < 0) {
				status = bad_usage("invalid batch size '%s' "
				    "(1..4096 or auto)", optarg);
				goto out;
			} else {
				cfg.batch = (unsigned)l;
			}
			break;
		case PR_OPT_KEEP:
			cfg.out.keep_order = true;
			break;
		case PR_OPT_LINEBUF:
			cfg.out.line_buffer = true;
			break;
		case PR_OPT_TAG:
			cfg.out.tag = true;
			break;
		case PR_OPT_RESULTS:
			cfg.out.results = optarg;
			break;
		case PR_OPT_JOBLOG:
			cfg.out.joblog = optarg;
			break;
		case PR_OPT_BADINPUT:
			if (strcmp(optarg, "skip") == 0) {
				cfg.in.skip_bad = true;
			} else if (strcmp(optarg, "abort") == 0) {
				cfg.in.skip_bad = false;
			} else {
				status = bad_usage("invalid --on-bad-input "
				    "'%s' (abort or skip)", optarg);
				goto out;
			}
			break;
		case PR_OPT_MAXLINE:
			if (parse_long(optarg, 64, 1L << 30, &l) < 0) {
				status = bad_usage("invalid --max-line '%s'",
				    optarg);
				goto out;
			}
			cfg.in.max_line = (size_t)l;
			break;
		case PR_OPT_TIMEOUT:
			if (parse_double(optarg, 0, 1e9, &d) < 0) {
				status = bad_usage("invalid --timeout '%s'",
				    optarg);
				goto out;
			}
			cfg.timeout = d;
			break;
		case PR_OPT_RETRIES:
			if (parse_long(optarg, 0, 1000, &l) < 0) {
				status = bad_usage("invalid --retries '%s'",
				    optarg);
				goto out;
			}
			cfg.retries = (int)l;
			break;
		case PR_OPT_RETRYDELAY:
			if (parse_double(optarg, 0, 3600, &d) < 0) {
				status = bad_usage("invalid --retry-delay '%s'",
				    optarg);
				goto out;
			}
			cfg.retry_delay = d;
			break;
		case PR_OPT_CRASHLIMIT:
			if (parse_long(optarg, 1, 1000, &l) < 0) {
				status = bad_usage("invalid --crash-limit '%s' "
				    "(1 to 1000)", optarg);
				goto out;
			}
			cfg.crash_limit = (int)l;
			break;
		case PR_OPT_RESPAWN:
			cfg.respawn = true;
			break;
		case PR_OPT_HALT:
			if (pr_halt_parse(optarg, &cfg.halt, &eb) < 0) {
				status = bad_usage("invalid --halt: %s",
				    eb.msg);
				goto out;
			}
			break;
		case PR_OPT_JOURNAL:
			cfg.journal = optarg;
			break;
		case PR_OPT_RESUME:
			cfg.resume = true;
			break;
		case PR_OPT_FORCERESUME:
			cfg.resume = cfg.force_resume = true;
			break;
		case PR_OPT_RETRYFAILED:
			cfg.resume = cfg.retry_failed = true;
			break;
		case PR_OPT_SEED:
			if (parse_long(optarg, 0, LONG_MAX, &l) < 0 ||
			    (uint64_t)l >= (1ull << 53)) {
				status = bad_usage("invalid --seed '%s' "
				    "(0..2^53-1)", optarg);
				goto out;
			}
			cfg.seed = (uint64_t)l;
			seed_given = true;
			break;
		case PR_OPT_THREADS:
			if (parse_long(optarg, 1, 4096, &l) < 0) {
				status = bad_usage("invalid --threads '%s'",
				    optarg);
				goto out;
			}
			cfg.threads = (int)l;
			break;
		case PR_OPT_REDUCE:
			cfg.reduce = optarg;
			break;
		case PR_OPT_DETERM:
			cfg.deterministic = true;
			break;
		case PR_OPT_BROADCAST:
			cfg.broadcast = optarg;
			break;
		case PR_OPT_VALUE:
			cfg.out.parse_value = true;
			break;
		case PR_OPT_BAR:
			cfg.bar = true;
			break;
		case PR_OPT_ETA:
			cfg.eta = true;
			break;
		case PR_OPT_PROGRESS:
			cfg.progress = true;
			break;
		case PR_OPT_MACHINEFILE:
			if ((rc = pr_machinefile_load(&hosts, optarg,
			    &eb)) < 0) {
				pr_log_error("%s", pr_errmsg(&eb, rc));
				goto out;
			}
			break;
		case PR_OPT_SSHLOGIN:
			if ((rc = pr_machinefile_parse_list(&hosts, "-S",
			    optarg, &eb)) < 0) {
				pr_log_error("%s", pr_errmsg(&eb, rc));
				goto out;
			}
			break;
		case PR_OPT_SSHCMD:
			cfg.ssh_command = optarg;
			break;
		case PR_OPT_REMOTEWORKER:
			cfg.remote_worker = optarg;
			break;
		case PR_OPT_KNOWNHOSTS:
			cfg.ssh.known_hosts = optarg;
			break;
		case PR_OPT_ACCEPTNEW:
			cfg.ssh.accept_new = true;
			break;
		case PR_OPT_IDENTITY:
			cfg.ssh.identity = optarg;
			break;
		case PR_OPT_CONNTIMEOUT:
			if (parse_double(optarg, 0.1, 3600, &d) < 0) {
				status = bad_usage("invalid --connect-timeout "
				    "'%s'", optarg);
				goto out;
			}
			cfg.ssh.connect_timeout_ms = (int)(d * 1000);
			break;
		case PR_OPT_LAUNCHER:
			if (strcmp(optarg, "local") == 0) {
				launcher = LAUNCH_LOCAL;
			} else if (strcmp(optarg, "ssh") == 0) {
				launcher = LAUNCH_SSH;
			} else if (strcmp(optarg, "srun") == 0) {
				launcher = LAUNCH_SRUN;
			} else {
				status = bad_usage("invalid --launcher '%s' "
				    "(local, ssh or srun)", optarg);
				goto out;
			}
			break;
		case PR_OPT_LISTEN:
			cfg.listen = optarg;
			break;
		case PR_OPT_SECRETFILE:
			cfg.secret_file = optarg;
			break;
		case PR_OPT_MAXWORKERS:
			if (parse_long(optarg, 1, 1000000, &l) < 0) {
				status = bad_usage("invalid --max-workers '%s'",
				    optarg);
				goto out;
			}
			cfg.max_workers = (int)l;
			break;
		case PR_OPT_WORKER:
			free(worker);
			worker = strdup(optarg);
			break;
		case PR_OPT_HEARTBEAT:
			if (parse_long(optarg, 10, 3600000, &l) < 0) {
				status = bad_usage("invalid --heartbeat '%s'",
				    optarg);
				goto out;
			}
			cfg.hb_ms = (int)l;
			break;
		case PR_OPT_VERBOSE:
			verbose++;
			break;
		case PR_OPT_QUIET:
			quiet = 1;
			break;
		case PR_OPT_HELP:
			help();
			status = 0;
			goto out;
		case PR_OPT_VERSION:
			printf("parrun %s (protocol %d)\n", PR_VERSION,
			    PR_PROTO_MAX);
			status = 0;
			goto out;
		case PR_OPT_HELP_MDOC:
			pr_opts_mdoc(stdout);
			status = 0;
			goto out;
		default:
			if (optopt != 0 && optopt < 256)
				fprintf(stderr, "parrun: unknown or incomplete "
				    "option '-%c'\n", optopt);
			else
				fprintf(stderr, "parrun: unknown or incomplete "
				    "option '%s'\n", argv[optind - 1]);
			usage_line(stderr);
			goto out;
		}
	}
	pr_log_set_level(quiet ? PR_LOG_ERROR : verbose >= 2 ? PR_LOG_DEBUG :
	    verbose == 1 ? PR_LOG_INFO : PR_LOG_WARN);
	if (range != NULL) {
		struct pr_input_src src;

		memset(&src, 0, sizeof(src));
		src.kind = PR_SRC_RANGE;
		src.range = range;
		if (add_src(&srcs, &src) < 0)
			goto out;
	}
	if ((status = split_words(&cfg, &srcs, argc - optind,
	    argv + optind)) != 0)
		goto out;
	cfg.in.srcs = srcs.v;
	cfg.in.nsrcs = srcs.n;
	status = EXIT_OTHER;

	if (cfg.jobs == 0)		/* -j not given: the CPUs we may use */
		cfg.jobs = pr_cpus_available(NULL, NULL);
	if (cfg.secret_file != NULL && cfg.listen == NULL) {
		status = bad_usage("--secret-file goes with --listen");
		goto out;
	}
	if ((status = slurm_hosts(&hosts, launcher, cfg.listen != NULL)) != 0)
		goto out;
	status = EXIT_OTHER;
	if (hosts.n > 0)
		cfg.hosts = &hosts;
	if (cfg.listen != NULL && !jobs_given && hosts.n == 0)
		cfg.jobs = 0;	/* the workers connect: none here */
	cfg.srun = getenv("PARRUN_SRUN");
	/* many connections, or many local workers (a few descriptors
	 * each): the soft limit (often 1024) up to the hard one */
	if (cfg.listen != NULL || (hosts.n > 0 && (hosts.v[0].via ==
	    PR_VIA_SRUN || hosts.total_slots > 64)) || cfg.jobs > 64)
		raise_nofile();
	if (cfg.resume && cfg.journal == NULL) {
		status = bad_usage("--resume, --force-resume and "
		    "--retry-failed need --journal FILE");
		goto out;
	}
	if (hosts_cmd) {
		status = show_hosts(&cfg, &hosts, json);
		goto out;
	}
	if (cfg.jobs < 1 && cfg.listen == NULL)
		cfg.jobs = 1;
	if (!seed_given)
		cfg.seed = clock_seed();
	cfg.seed_given = seed_given;
	/* --range with a kernel: a few chunks per task slot, for balance;
	 * with --deterministic a number that does not depend on the slots,
	 * since each chunk's value is rounded once and another cut would
	 * round differently */
	if (cfg.deterministic) {
		cfg.in.chunks = DETERMINISTIC_CHUNKS;
	} else {
		long slots = hosts.n > 0 ? hosts.total_slots : cfg.jobs;

		if (slots < 1)
			slots = 1;
		if (slots > 100000)
			slots = 100000;
		cfg.in.chunks = (unsigned)slots * 4;
	}
	if (worker == NULL)
		worker = default_worker();
	cfg.worker_path = worker;

	rc = pr_run(&cfg, &sum, &eb);
	if (rc < 0 && eb.msg[0] != '\0' && !sum.bad_input)
		pr_log_error("%s", eb.msg);
	else if (rc < 0 && eb.msg[0] == '\0' && !sum.bad_input)
		pr_log_error("%s", pr_strerror(rc));
	if (sum.reduced && sum.reduced_text != NULL)
		printf("%s\n", sum.reduced_text);
	status = exit_status(&sum, rc);
	if (sum.signal != 0) {
		fflush(stdout);
		/* die by the same signal, so a calling shell sees it */
		signal(sum.signal, SIG_DFL);
		raise(sum.signal);
	}
out:
	free(srcs.v);
	pr_hosts_release(&hosts);
	free(sum.reduced_text);
	free(worker);
	free(longopts);
	return status;
}
