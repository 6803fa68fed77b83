#!/usr/bin/env bats
# parrun bench: the notes' experiments rerun through parrun, at --quick
# sizes.  One full --quick run (JSON and SVG) is made in setup_file and
# read by several tests; the others run single experiments.  Timings are
# never asserted (this machine is shared); what is checked is the shape
# of the results and the numbers that do not depend on time.

bats_require_minimum_version 1.5.0
load helpers

setup_file() {
	export BENCH_JSON=$BATS_FILE_TMPDIR/bench.json
	export BENCH_SVG=$BATS_FILE_TMPDIR/bench.svg
	"$PARRUN" bench --quick --json --svg "$BENCH_SVG" -q \
		>"$BENCH_JSON" 2>"$BATS_FILE_TMPDIR/bench.err" 3>&-
	echo $? >"$BATS_FILE_TMPDIR/bench.rc"
}

setup() {
	helpers_setup
	cd "$BATS_TEST_TMPDIR"
}

# jqb FILTER: jq -e over the setup_file run
jqb() {
	jq -e "$@" "$BENCH_JSON"
}

@test "bench --quick --json: ran every experiment and every check held" {
	[ "$(cat "$BATS_FILE_TMPDIR/bench.rc")" = 0 ] ||
		{ cat "$BATS_FILE_TMPDIR/bench.err" "$BENCH_JSON"; false; }
	jqb '.ok == true and .failures == 0 and .quick == true'
	jqb '.seed == 1 and .cpus >= 1 and (.cpus_limited_by | type) == "string"'
	# -q: nothing on stderr but what the children had to say
	! grep -q 'parrun bench:' "$BATS_FILE_TMPDIR/bench.err"
}

@test "bench chol: one task on 1..CPUs BLAS threads, the same U[2,3]" {
	jqb '.chol.n == 2000'
	jqb '.cpus > 8 or [.chol.runs[].threads] == [range(1; .cpus + 1)]'
	jqb '.chol.runs | all(.ok and .seconds > 0 and .gflops > 0 and
		.wall >= .seconds)'
	jqb '.chol.runs[0].speedup == 1'
	# n = 2000: U[2,3] near sqrt(3n/112) = 7.3, the same for every T
	jqb '.chol.runs | (map(.value) | max - min) <= 1e-9 * .[0].value'
	jqb '.chol.runs[0].value > 4 and .chol.runs[0].value < 11'
}

@test "bench pmap: every split W x T = CPUs after the 1 x 1 baseline" {
	jqb '.pmap.n == 1500 and .pmap.tasks == 12'
	jqb '.pmap.runs[0] | .baseline and .workers == 1 and .threads == 1 and
		.speedup == 1'
	jqb '. as $r | .pmap.runs[1:] |
		all(.workers * .threads == $r.cpus and .ok)'
	jqb '. as $r | [range(1; .cpus + 1) | select($r.cpus % . == 0)] ==
		[.pmap.runs[1:][].workers] or .cpus == 1'
	# the twelve values: distinct tasks, the same for every split
	jqb '.pmap.values | length == 12 and (unique | length) == 12'
	jqb '.pmap.values | all(. > 3 and . < 10)'
	jqb '.pmap.values_identical == true'
	# the fastest split is the run with the least wall time
	jqb '(.pmap.runs | min_by(.wall)) as $m |
		.fastest.workers == $m.workers and .fastest.threads == $m.threads'
}

@test "bench pmap values: what parrun alone gives for the same seed" {
	want=$(jq -r '.pmap.values[]' "$BENCH_JSON")
	got=$(for i in $(seq 12); do
		printf '{"id":"p%d","kernel":"chol","n":1500}\n' "$i"
	done | parrun -j 2 --threads 1 --seed 1 --results - 3>&- |
		jq -s -r 'sort_by(.id | ltrimstr("p") | tonumber) | .[].value')
	paste <(echo "$want") <(echo "$got") | awk '{
		d = $1 - $2; if (d < 0) d = -d
		if (d > 1e-9 * $1) { print "differ: " $0; bad = 1 } }
		END { exit bad }'
}

@test "bench randsum: the same sum on every worker count, mean near 1/2" {
	jqb '.randsum.n == 10000000'
	jqb '.cpus > 8 or [.randsum.runs[].workers] == [range(1; .cpus + 1)]'
	jqb '.randsum.runs | all(.ok and .wall > 0 and .kernel_seconds > 0 and
		.busiest_worker_seconds > 0)'
	jqb '.randsum.sums_identical == true'
	jqb '.randsum.runs[0].sum / .randsum.n | . > 0.4995 and . < 0.5005'
	# the notes' loop through the CLI gives that sum for the seed
	run -0 parrun -j 1 --seed 1 --range 1:10000000 --kernel randsum \
		--reduce sum --deterministic 3>&-
	jqb --argjson s "$output" '.randsum.runs[0].sum == $s'
}

@test "bench sort: the kernel on 1..CPUs threads and glibc qsort, same median" {
	jqb '.sort.sizes == [250000, 1000000]'
	for n in 250000 1000000; do
		jqb --argjson n "$n" '[.sort.runs[] | select(.n == $n)] |
			(map(select(.impl == "qsort")) | length == 1) and
			(map(select(.impl == "kernel")) | length >= 1) and
			all(.ok and .seconds > 0) and
			(map(.median) | unique | length == 1) and
			(.[0].median > 0.49 and .[0].median < 0.51)'
	done
	# the radix sort beats qsort (by 10x or more when the machine is
	# quiet; only "faster" is asserted here)
	jqb '[.sort.runs[] | select(.impl == "kernel") | .vs_qsort] |
		all(. > 1)'
}

@test "bench --svg: a chart with four panels, axes, bars and a legend" {
	[ -s "$BENCH_SVG" ]
	head -n 2 "$BENCH_SVG" | grep -q '<svg xmlns="http://www.w3.org/2000/svg"'
	tail -n 1 "$BENCH_SVG" | grep -q '</svg>'
	for t in 'chol n=2000' 'pmap: 12 x chol(1500)' 'randsum 1e7 uniforms' \
		'sort: radix sort' 'threads per task:' 'speed-up (&#215;)' \
		'1&#215;: as fast as the baseline' 'seed 1'; do
		grep -q -F "$t" "$BENCH_SVG" || { echo "missing: $t"; false; }
	done
	# a bar per measurement: chol T, pmap splits, randsum twice, sort
	bars=$(jq '(.chol.runs | length) + (.pmap.runs | length) +
		2 * (.randsum.runs | length) +
		([.sort.runs[] | select(.impl == "kernel")] | length)' \
		"$BENCH_JSON")
	[ "$(grep -c '<rect x=.*height=.*fill="#' "$BENCH_SVG")" -ge "$bars" ]
	# the fastest split is marked
	grep -q '&#9733; ' "$BENCH_SVG"
	if command -v xmllint >/dev/null; then
		xmllint --noout "$BENCH_SVG"
	fi
	if command -v rsvg-convert >/dev/null; then
		rsvg-convert "$BENCH_SVG" -o chart.png
		[ -s chart.png ]
	fi
}

@test "bench table: states the fastest split, with the seed" {
	run -0 --separate-stderr parrun bench --quick --cpus 1 --only pmap,randsum --seed 7 3>&-
	[[ ${lines[0]} == "parrun bench "*": 1 CPU (limited by --cpus), seed 7, quick sizes" ]]
	[[ $output == *"pmap: 12 x chol(1500) on W workers x T threads"* ]]
	[[ $output == *"(baseline)"* ]]
	[[ $output == *"values: identical for every split"* ]]
	[[ $output == *"randsum: 10000000 uniforms"* ]]
	[[ ${lines[-1]} == "fastest split of 1 CPU on this machine: 1 worker x 1 thread ("*" s for 12 x chol(1500), 1.00x over 1 x 1)" ]]
	# progress went to stderr, one line per measurement
	[[ $stderr == *"parrun bench: 12 x chol(1500) on 1 worker x 1 thread ... done"* ]]
	# a different seed, a different first value
	v7=$(sed -n 's/.*values: .*(task 1: \(.*\))$/\1/p' <<<"$output")
	v1=$(jq '.pmap.values[0]' "$BENCH_JSON")
	[ -n "$v7" ]
	[ "$v7" != "$v1" ]
}

@test "bench: a measurement over --timeout is killed with what it started" {
	run -1 --separate-stderr parrun bench --only chol --cpus 1 \
		--timeout 0.3 --seed 424242 3>&-
	[[ $output == *"failed: timed out after 0.3 s (--timeout)"* ]]
	[[ $output == *"1 measurement or check failed"* ]]
	assert_no_process "--seed 424242"
	assert_no_process "$PARRUN_BUILD/parrun-worker --slots 1"
}

@test "bench: SIGTERM stops the run and the children, status 143" {
	start_bg "$PARRUN" bench --only chol --cpus 1 --seed 515151 -q
	for _ in $(seq 100); do
		pgrep -f -- "--seed 515151 --results" >/dev/null && break
		sleep 0.05
	done
	kill -TERM "$BG_PID"
	rc=0
	wait "$BG_PID" || rc=$?
	[ "$rc" = 143 ]
	assert_no_process "--seed 515151"
}

@test "bench: a hung worker is killed too (TERM ignored, then KILL)" {
	printf '#!/bin/bash\ntrap "" TERM\nexec -a "$0" sleep 300\n' >hang
	chmod +x hang
	cp hang "$MARK"
	run -1 --separate-stderr parrun bench --only randsum --cpus 1 \
		--repeat 1 --timeout 0.5 --worker "$PWD/$MARK" 3>&-
	[[ $output == *"timed out"* ]]
	assert_no_process "$MARK"
}

@test "bench: usage errors and --help" {
	run -255 --separate-stderr parrun bench --bogus 3>&-
	[[ $stderr == *"unknown or incomplete option '--bogus'"* ]]
	[[ $stderr == *"usage: parrun bench"* ]]
	run -255 --separate-stderr parrun bench --only chol,fft 3>&-
	[[ $stderr == *"invalid --only 'chol,fft'"* ]]
	run -255 --separate-stderr parrun bench --cpus 0 3>&-
	run -255 --separate-stderr parrun bench --seed -1 3>&-
	run -255 --separate-stderr parrun bench --repeat x 3>&-
	run -255 --separate-stderr parrun bench extra 3>&-
	[[ $stderr == *"unexpected argument 'extra'"* ]]
	run -0 parrun bench --help 3>&-
	[[ $output == *"usage: parrun bench"* && $output == *"--svg FILE"* ]]
	# the subcommand does not change the main parser's: a file named
	# "bench" after options is still a command
	run -0 parrun -k echo ::: bench 3>&-
	[ "$output" = bench ]
}

@test "bench: an unwritable --svg is an error after the table" {
	run -255 --separate-stderr parrun bench --quick --only randsum --cpus 1 \
		--repeat 1 --svg /nonexistent/dir/x.svg -q 3>&-
	[[ $output == *"randsum:"* ]]
	[[ $stderr == *"cannot write '/nonexistent/dir/x.svg'"* ]]
}
