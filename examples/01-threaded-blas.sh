#!/bin/sh
# 01-threaded-blas.sh [BUILD_DIR] - the notes' "threaded linear algebra":
# the Cholesky factor of X'X for one 6000 x 6000 uniform X (chol_xtx),
# with OpenBLAS on 1 thread and then on 2.
#
# One task on one worker (-j 1), so the task owns every thread it is given
# (--threads).  The chol kernel reports the time of X'X and the
# factorization only (not the filling of X), like the notes' @btime.
# The same seed gives the same X, so the value, U[2,3], is the same for
# both thread counts (up to the last bits of the threaded BLAS).
# PARRUN_EXAMPLE_SMALL=1 makes n = 300.
set -eu
build=${1:-${PARRUN_BUILD:-$(dirname "$0")/../build}}
PATH=$build:$PATH
export PATH

n=6000
[ "${PARRUN_EXAMPLE_SMALL:-0}" = 1 ] && n=300

# field NAME: the number after "NAME": in the JSON record on stdin
field() { sed -n "s/.*\"$1\":\([^,}]*\).*/\1/p"; }
# chol T: one line about the factorization with T BLAS threads
chol() {
	rec=$(echo "{\"kernel\":\"chol\",\"n\":$n}" |
		parrun -j 1 --threads "$1" --seed 1 --results -)
	printf 'threads=%s value=%s seconds=%s gflops=%s\n' "$1" \
		"$(echo "$rec" | field value)" \
		"$(echo "$rec" | field seconds)" \
		"$(echo "$rec" | field gflops)"
}

echo "chol n=$n: U[2,3] of the Cholesky factor of X'X, seed 1"
l1=$(chol 1)
echo "$l1"
l2=$(chol 2)
echo "$l2"
echo "$l1 $l2" | awk '{ sub(/seconds=/, "", $3); sub(/seconds=/, "", $7)
	printf "speed-up with 2 threads: %.2fx\n", $3 / $7 }'
