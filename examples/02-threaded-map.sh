#!/bin/sh
# 02-threaded-map.sh [BUILD_DIR] - the notes' @threads loop,
# x[i] = tan(x[i]) + 3 sin(x[i]) over 5e7 uniforms, on 1 and 2 threads.
#
# The map kernel fills x from the task's random stream, maps it in
# parallel chunks and returns the sum of the mapped vector.  The sum is
# compensated and added up block by block in a fixed order, so it is the
# same double for any number of threads.
# PARRUN_EXAMPLE_SMALL=1 makes n = 100000.
set -eu
build=${1:-${PARRUN_BUILD:-$(dirname "$0")/../build}}
PATH=$build:$PATH
export PATH

n=50000000
[ "${PARRUN_EXAMPLE_SMALL:-0}" = 1 ] && n=100000

field() { sed -n "s/.*\"$1\":\([^,}]*\).*/\1/p"; }
# map T: one line about the map on T threads
map() {
	rec=$(echo "{\"kernel\":\"map\",\"n\":$n}" |
		parrun -j 1 --threads "$1" --seed 1 --results -)
	printf 'threads=%s value=%s seconds=%s\n' "$1" \
		"$(echo "$rec" | field value)" "$(echo "$rec" | field seconds)"
}

echo "map n=$n: sum of tan(x) + 3 sin(x), seed 1"
l1=$(map 1)
echo "$l1"
l2=$(map 2)
echo "$l2"
echo "$l1 $l2" | awk '{ sub(/seconds=/, "", $3); sub(/seconds=/, "", $6)
	printf "speed-up with 2 threads: %.2fx; ", $3 / $6
	print ($2 == $5 ? "same value: yes" : "same value: NO") }'
