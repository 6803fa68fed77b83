#!/usr/bin/env bats
# The notes' computations through the CLI: kernels, seeds, reductions,
# ranges, broadcast, the thread budget, placement, untrusted parameters.

bats_require_minimum_version 1.5.0
load helpers

setup() {
	helpers_setup
	cd "$BATS_TEST_TMPDIR"
}

values() { # ARGS... : the per-task values by id, one "id value" a line
	parrun --results - "$@" 3>&- | jq -r '"\(.id) \(.value)"' | sort
}

@test "the same --seed gives the same per-task values whatever -j and schedule" {
	for i in $(seq 12); do printf '{"id":"r%d","kernel":"randsum","n":10000}\n' "$i"; done > t.jsonl
	a=$(values -j 1 --seed 42 < t.jsonl)
	b=$(values -j 2 --seed 42 --schedule static < t.jsonl)
	c=$(values -j 4 --seed 42 --schedule guided --batch-size 3 < t.jsonl)
	[ "$a" = "$b" ]
	[ "$a" = "$c" ]
	d=$(values -j 2 --seed 43 < t.jsonl)
	[ "$a" != "$d" ]
	# and the seed used is in every record
	run -0 bash -c "parrun --seed 42 --results - < t.jsonl 3>&- | jq -r .seed | sort -u"
	[ "$output" = 42 ]
}

@test "tasks in one message with the same or other parameters each run with their own" {
	# no ids: the same line gives the same params text, which a worker
	# decodes once per run of equal texts in a message
	for n in 10 10 10 20 20 20 10 10; do printf '{"kernel":"randsum","n":%d}\n' "$n"; done > t.jsonl
	a=$(values -j 1 --seed 7 --batch-size 1 < t.jsonl)
	b=$(values -j 1 --seed 7 --batch-size 8 < t.jsonl)
	[ "$(printf '%s\n' "$a" | wc -l)" -eq 8 ]
	[ "$a" = "$b" ]
	# and n is what counts: the same lines with n=20 throughout differ
	# from task 1 to 3 and 7 to 8 only
	for n in 20 20 20 20 20 20 20 20; do printf '{"kernel":"randsum","n":%d}\n' "$n"; done > u.jsonl
	c=$(values -j 1 --seed 7 --batch-size 8 < u.jsonl)
	diff <(printf '%s\n' "$b") <(printf '%s\n' "$c") | grep -c '^<' | grep -qx 5
}

@test "chol: value is U[2,3] of the Cholesky factor of X'X, with metrics" {
	run -0 bash -c "echo '{\"kernel\":\"chol\",\"n\":200}' | parrun --seed 1 --results - 3>&-"
	[ "$(printf '%s' "$output" | jq -r .status)" = ok ]
	printf '%s' "$output" | jq -e '.value > 0 and .metrics.seconds >= 0 and .metrics.gflops > 0'
}

@test "--reduce sum equals the sum of the per-task values; --deterministic is bit-identical" {
	for i in $(seq 30); do printf '{"id":"r%d","kernel":"randsum","n":1000}\n' "$i"; done > t.jsonl
	sum=$(parrun --seed 5 --results - < t.jsonl 3>&- | jq -s 'map(.value) | add')
	red=$(parrun --seed 5 --reduce sum < t.jsonl 3>&-)
	awk -v a="$sum" -v b="$red" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d < 1e-9) }'
	x=$(parrun -j 1 --seed 5 --reduce sum --deterministic < t.jsonl 3>&-)
	y=$(parrun -j 2 --seed 5 --reduce sum --deterministic --schedule static < t.jsonl 3>&-)
	z=$(parrun -j 3 --seed 5 --reduce sum --deterministic --batch-size 1 < t.jsonl 3>&-)
	[ "$x" = "$y" ]
	[ "$x" = "$z" ]
}

@test "every reduction op" {
	run -0 parrun --reduce count --value echo ::: 1 2 3 3>&-
	[ "${lines[-1]}" = 3 ]
	run -0 parrun --reduce max --value echo ::: 1 7 3 3>&-
	[ "${lines[-1]}" = 7 ]
	run -0 parrun --reduce min --value echo ::: 4 2 3 3>&-
	[ "${lines[-1]}" = 2 ]
	run -0 parrun --reduce prod --value echo ::: 2 3 4 3>&-
	[ "${lines[-1]}" = 24 ]
	run -0 parrun --reduce mean --value echo ::: 1 2 3 3>&-
	[ "${lines[-1]}" = 2 ]
	run -255 --separate-stderr parrun --reduce median true ::: 1 3>&-
	[[ "$stderr" == *"sum"* ]]
}

@test "--range with a kernel: chunks reduced where they run, independent of -j" {
	a=$(parrun -j 1 --seed 9 --range 1:1000000 --kernel randsum --reduce sum --deterministic 3>&-)
	b=$(parrun -j 2 --seed 9 --range 1:1000000 --kernel randsum --reduce sum --deterministic 3>&-)
	[ "$a" = "$b" ]
	# the mean of uniforms is near 1/2
	awk -v s="$a" 'BEGIN { m = s / 1000000; exit !(m > 0.49 && m < 0.51) }'
	# chunks, not one task per index
	run -0 bash -c "parrun -j 2 --range 1:1000000 --kernel randsum --results - 3>&- | wc -l"
	[ "$output" -le 64 ]
}

@test "--range --deterministic: the same bits whatever -j and schedule" {
	# with a cut of the range that depended on -j these seeds gave sums
	# one unit in the last place apart (each chunk's sum is rounded once)
	for seed in 16 32 35; do
		a=$(parrun -j 1 --seed $seed --range 1:3000017 --kernel randsum --reduce sum --deterministic 3>&-)
		b=$(parrun -j 2 --seed $seed --range 1:3000017 --kernel randsum --reduce sum --deterministic 3>&-)
		c=$(parrun -j 3 --schedule guided --seed $seed --range 1:3000017 --kernel randsum --reduce sum --deterministic 3>&-)
		echo "seed $seed: $a $b $c"
		[ "$a" = "$b" ]
		[ "$b" = "$c" ]
	done
	# and the cut is the fixed one: 1024 chunks
	run -0 bash -c "parrun -j 2 --range 1:3000017 --kernel randsum --deterministic --results - 3>&- | wc -l"
	[ "$output" -eq 1024 ]
}

@test "--range without a kernel gives one task per index" {
	run -0 parrun -k --range 3:9:3 echo i={} 3>&-
	[ "$output" = "$(printf 'i=3\ni=6\ni=9')" ]
	run -255 --separate-stderr parrun --range 5:x echo 3>&-
	[[ "$stderr" == *"range"* ]]
}

@test "--broadcast reaches every task once per worker, at \$PARRUN_BROADCAST" {
	printf 'shared data\n' > data
	run -0 --separate-stderr bash -c "parrun -j 2 --broadcast data --results - sh -c 'cat \"\$PARRUN_BROADCAST\"; echo \"\$PARRUN_WORKER \$PARRUN_BROADCAST\" >&2' ::: 1 2 3 4 5 6 3>&-"
	[ "$(printf '%s\n' "$output" | jq -r .stdout | sed '/^$/d' | sort -u)" = "shared data" ]
	# one file per worker, the same for all its tasks: sent once
	[ "$(printf '%s\n' "$output" | jq -r .stderr | sed '/^$/d' | sort -u | wc -l)" -le 2 ]
	run -255 --separate-stderr parrun --broadcast /nonexistent true 3>&-
	[[ "$stderr" == *"/nonexistent"* ]]
}

@test "thread budget: --threads sets OMP/OpenBLAS/MKL threads; oversubscription warns" {
	run -0 --separate-stderr parrun -j 1 --threads 3 sh -c 'echo $OMP_NUM_THREADS $OPENBLAS_NUM_THREADS $MKL_NUM_THREADS' ::: x 3>&-
	[ "$output" = "3 3 3" ]
	n=$(nproc)
	run -0 --separate-stderr parrun -j "$n" --threads 2 true ::: x 3>&-
	[[ "$stderr" == *"oversubscribed"* ]]
	# the default divides the CPUs among the workers
	run -0 parrun -j 1 sh -c 'echo $OMP_NUM_THREADS' ::: x 3>&-
	[ "$output" = "$n" ]
}

@test "placement: a task's worker field pins it" {
	for i in $(seq 8); do printf '{"id":"p%d","sh":"echo $PARRUN_WORKER","worker":2}\n' "$i"; done > t.jsonl
	run -0 bash -c "parrun -j 3 < t.jsonl 3>&- | sort -u"
	[ "$output" = 2 ]
	run -1 --separate-stderr bash -c "echo '{\"sh\":\"true\",\"worker\":9}' | parrun -j 2 --results r.jsonl 3>&-"
	[[ "$(jq -r .error r.jsonl)" == *"no worker 9"* ]]
}

@test "untrusted kernel parameters give an error result and the worker goes on" {
	printf '%s\n' '{"id":"a","kernel":"chol","n":-5}' '{"id":"b","kernel":"chol","n":1000000000}' \
	    '{"id":"c","kernel":"sort","n":"many"}' '{"id":"d","kernel":"randsum","n":1e300}' \
	    '{"id":"e","kernel":"nope"}' '{"id":"f","kernel":"noop"}' > t.jsonl
	run -5 bash -c "parrun -j 1 --results r.jsonl < t.jsonl 3>&-"
	[ "$(jq -r 'select(.status=="error") | .id' r.jsonl | sort | tr '\n' ' ')" = "a b c d e " ]
	[ "$(jq -r 'select(.id=="f") | .status' r.jsonl)" = ok ]
	[ "$(jq -r 'select(.id=="a") | .error' r.jsonl)" != null ]
}

@test "--timeout stops a long randsum or sort kernel; the worker runs the next task" {
	# randsum of 1e12 draws runs for many minutes, a sort of 1e8 doubles
	# on one thread for seconds: both must stop at the timeout (ctx->stop)
	# for "next" to get the only slot.  Without that, run-bats' time
	# limit fails this test.
	printf '%s\n' '{"id":"long","kernel":"randsum","n":1000000000000}' \
	    '{"id":"next","kernel":"randsum","n":1000}' > r.jsonl
	avail=$(awk '/^MemAvailable:/ { print int($2 / 1048576) }' /proc/meminfo)
	if [ "${avail:-0}" -ge 4 ]; then
		# 1.6 GB of buffers: the memory bound wants twice that free
		printf '%s\n' '{"id":"long","kernel":"sort","n":100000000,"threads":1}' \
		    '{"id":"next","kernel":"sort","n":1000}' > s.jsonl
	else
		printf '%s\n' '{"id":"long","kernel":"randsum","from":1,"to":1000000000000,"step":3}' \
		    '{"id":"next","kernel":"sort","n":1000}' > s.jsonl
	fi
	for f in r.jsonl s.jsonl; do
		run -1 --separate-stderr bash -c "parrun -j 1 --timeout 1 --results - < $f 3>&-"
		[ "$(printf '%s\n' "$output" | jq -r 'select(.id=="long") | .status')" = timeout ]
		[ "$(printf '%s\n' "$output" | jq -r 'select(.id=="next") | .status')" = ok ]
		printf '%s\n' "$output" | jq -e 'select(.id=="next") | .value >= 0'
	done
}

@test "chol without a usable OpenBLAS: an error result naming it; other kernels run" {
	command -v cc >/dev/null || skip "no C compiler for the stand-in library"
	# a libopenblas.so.0 found first (LD_LIBRARY_PATH) that lacks cblas_dsyrk
	mkdir lib
	printf 'int parrun_test_not_openblas;\n' | cc -shared -fPIC -x c - -o lib/libopenblas.so.0
	printf '%s\n' '{"id":"c","kernel":"chol","n":10}' '{"id":"r","kernel":"randsum","n":1000}' \
	    '{"id":"c2","kernel":"chol","n":10}' > t.jsonl
	# exit status: two tasks did not succeed
	run -2 --separate-stderr bash -c "LD_LIBRARY_PATH=$PWD/lib parrun -j 1 --results - < t.jsonl 3>&-"
	[ "$(printf '%s\n' "$output" | jq -r 'select(.id=="r") | .status')" = ok ]
	for id in c c2; do
		err=$(printf '%s\n' "$output" | jq -r --arg id "$id" 'select(.id==$id) | "\(.status) \(.error)"')
		[[ "$err" == "error kernel 'chol': cannot load OpenBLAS: "*"cblas_dsyrk"* ]]
	done
	# the real one: loaded on the first chol task of a worker
	run -0 --separate-stderr bash -c "parrun -j 1 --results - < t.jsonl 3>&- | jq -r .status | sort -u"
	[ "$output" = ok ]
}
