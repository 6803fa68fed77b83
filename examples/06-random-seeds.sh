#!/bin/sh
# 06-random-seeds.sh [BUILD_DIR] - the notes' worry about random numbers
# on workers: does each worker get a distinct stream, and can a run be
# reproduced?
#
# In parrun every task draws from its own stream, keyed by the run's
# --seed and the task's id (a counter-based generator, Philox4x32-10; see
# parrun-kernels(7)).  Streams never overlap, and a task's numbers do not
# depend on which worker runs it, how many workers there are, the
# schedule or the batch size: the same seed gives the same values.
# PARRUN_EXAMPLE_SMALL=1 makes each task sum 1000 draws instead of 1e6.
set -eu
build=${1:-${PARRUN_BUILD:-$(dirname "$0")/../build}}
PATH=$build:$PATH
export PATH

n=1000000
[ "${PARRUN_EXAMPLE_SMALL:-0}" = 1 ] && n=1000

# eight tasks, each the sum of n uniform draws from its own stream
tasks() {
	for i in 1 2 3 4 5 6 7 8; do
		printf '{"id":"r%s","kernel":"randsum","n":%s}\n' "$i" "$n"
	done
}
# values ARGS...: "id value" per task, in id order
values() {
	tasks | parrun --results - "$@" |
		sed -n 's/.*"id":"\([^"]*\)".*"value":\([^,}]*\).*/\1 \2/p' |
		sort
}

ref=$(values -j 1 --seed 42)
echo "per-task values with --seed 42 on 1 worker:"
echo "$ref"
compare() { # LABEL ARGS...
	label=$1
	shift
	if [ "$(values "$@")" = "$ref" ]; then
		printf '%-40s identical\n' "$label:"
	else
		printf '%-40s different\n' "$label:"
	fi
}
compare "--seed 42 -j 2 --schedule static" -j 2 --seed 42 --schedule static
compare "--seed 42 -j 2 --schedule dynamic" -j 2 --seed 42 --schedule dynamic
compare "--seed 42 -j 2 --batch-size 3" -j 2 --seed 42 --batch-size 3
compare "--seed 43 -j 1 (another seed)" -j 1 --seed 43
