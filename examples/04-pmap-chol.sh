#!/bin/sh
# 04-pmap-chol.sh [BUILD_DIR] - the notes' pmap(test, repeat([5000],12)):
# twelve Cholesky factorizations of X'X, X 5000 x 5000, on the workers,
# each returning U[2,3], printed in order as Julia prints the vector.
#
# `--kernel chol` makes each input line the size n of one task; `-k` and
# `--reduce concat` give the values in input order.  Two workers with one
# BLAS thread each: parallelize the outer loop, not the linear algebra.
# The same --seed gives the same twelve values on any number of workers.
# PARRUN_EXAMPLE_SMALL=1 makes n = 200.
set -eu
build=${1:-${PARRUN_BUILD:-$(dirname "$0")/../build}}
PATH=$build:$PATH
export PATH

n=5000
[ "${PARRUN_EXAMPLE_SMALL:-0}" = 1 ] && n=200

echo "12-element Vector{Float64}:"
yes "$n" | head -n 12 |
	parrun -j 2 --threads 1 -k --kernel chol --seed 1 --reduce concat |
	sed 's/^/ /'
