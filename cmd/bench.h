/*
 * bench.h - `parrun bench`: the lecture notes' experiments, rerun on this
 * machine.
 *
 * Owner: h12.
 *
 * Every measurement runs parrun itself (/proc/self/exe) as a child
 * process, with the options a user would type and `--results -`, in a
 * process group of its own that is killed (TERM, then KILL 2 s later)
 * when it outlives the timeout or when bench gets SIGINT or SIGTERM.
 * The experiments, their sizes and the output are described in
 * man/parrun-bench.1.
 */
#ifndef PR_BENCH_H
#define PR_BENCH_H

/*
 * Run `parrun bench`: argv[0] is "bench", the rest its options.  Writes
 * the table (or JSON) to stdout, progress to stderr, and the chart to the
 * --svg file.  Returns the exit status: 0 when every measurement ran and
 * every check held, 1 when one failed, 255 on bad usage or when the chart
 * cannot be written, 128+N when stopped by signal N.
 */
int pr_cmd_bench(int argc, char **argv);

#endif
