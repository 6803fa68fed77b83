#!/bin/sh
# 05-distributed-sum.sh [BUILD_DIR] - the notes' @distributed (+) loop:
# the sum of 50 million uniform draws, serial (-j 1) and on 2 workers.
#
# --range 1:N with --kernel randsum cuts the indices into a few chunks per
# worker; each worker sums its chunks where it runs and sends back one
# number, and --reduce sum adds them.  Draw i depends only on the seed and
# i, not on the chunk or the worker, and --deterministic adds the chunks
# in order, so -j 1 and -j 2 give the same bits.
# PARRUN_EXAMPLE_SMALL=1 makes N = 1000000.
set -eu
build=${1:-${PARRUN_BUILD:-$(dirname "$0")/../build}}
PATH=$build:$PATH
export PATH

n=50000000
[ "${PARRUN_EXAMPLE_SMALL:-0}" = 1 ] && n=1000000

now() { date +%s.%N; }
# psum J: a line with the sum over J workers, its mean and the wall time
psum() {
	t0=$(now)
	s=$(parrun -j "$1" --range "1:$n" --kernel randsum --reduce sum \
		--deterministic --seed 7)
	t1=$(now)
	printf 'j=%s sum=%s mean=%s seconds=%s\n' "$1" "$s" \
		"$(awk -v s="$s" -v n="$n" 'BEGIN { printf "%.6f", s / n }')" \
		"$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')"
}

echo "sum of $n uniform draws, seed 7"
l1=$(psum 1)
echo "$l1"
l2=$(psum 2)
echo "$l2"
s1=${l1#*sum=}
s2=${l2#*sum=}
if [ "${s1%% *}" = "${s2%% *}" ]; then
	echo "same bits for -j 1 and -j 2: yes"
else
	echo "same bits for -j 1 and -j 2: NO"
fi
