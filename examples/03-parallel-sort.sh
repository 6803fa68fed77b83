#!/bin/sh
# 03-parallel-sort.sh [BUILD_DIR] - the notes' psort!: a parallel sort of
# 250 000 and then 10 million uniform doubles, on 1 and 2 threads.
#
# The sort kernel fills n doubles from the task's random stream, sorts
# them (a radix sort, see parrun-kernels(7)), checks the result is in
# order (status ok) and returns the median; "seconds" is the sort alone.
# The task id keys the stream, so both thread counts sort the very same
# numbers and find the same median.
# PARRUN_EXAMPLE_SMALL=1 makes the sizes 100000 and 300000.
set -eu
build=${1:-${PARRUN_BUILD:-$(dirname "$0")/../build}}
PATH=$build:$PATH
export PATH

sizes="250000 10000000"
[ "${PARRUN_EXAMPLE_SMALL:-0}" = 1 ] && sizes="100000 300000"

field() { sed -n "s/.*\"$1\":\([^,}]*\).*/\1/p"; }
# psort N T: one line about sorting N doubles on T threads
psort() {
	rec=$(echo "{\"id\":\"v$1\",\"kernel\":\"sort\",\"n\":$1}" |
		parrun -j 1 --threads "$2" --seed 1 --results -)
	printf 'n=%s threads=%s status=%s median=%s seconds=%s\n' "$1" "$2" \
		"$(echo "$rec" | sed -n 's/.*"status":"\([a-z]*\)".*/\1/p')" \
		"$(echo "$rec" | field value)" "$(echo "$rec" | field seconds)"
}

for n in $sizes; do
	l1=$(psort "$n" 1)
	echo "$l1"
	l2=$(psort "$n" 2)
	echo "$l2"
	echo "$l1 $l2" | awk '{ sub(/seconds=/, "", $5); sub(/seconds=/, "", $10)
		printf "  speed-up with 2 threads: %.2fx; ", $5 / $10
		print ($4 == $9 ? "same median: yes" : "same median: NO") }'
done
