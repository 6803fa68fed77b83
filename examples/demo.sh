#!/bin/sh
# demo.sh [BUILD_DIR] - the main job on local workers: the lecture notes'
# examples, from the shell.  `make demo` runs it.
set -eu
build=${1:-$(dirname "$0")/../build}
PATH=$build:$PATH
export PATH

say() { printf '\n== %s\n' "$*"; }

say "a command per input line: seq 10 | parrun -k echo replicate {}"
seq 10 | parrun -k echo replicate {}

say "every combination of two lists (GNU parallel's :::), in order"
parrun -k echo 'alpha={1} beta={2}' ::: 0.1 0.5 ::: 1 2

say "JSON tasks in, JSON records out (--results -)"
printf '%s\n' '{"id":"ok","argv":["echo","hello"]}' \
    '{"id":"fails","sh":"echo oops >&2; exit 3"}' |
    parrun --results - || true

say "pmap(test, repeat([n],12)): 12 Cholesky factorizations of X'X (n=1000)"
yes 1000 | head -12 | parrun -k --kernel chol --seed 1 --reduce concat

say "@distributed (+) over 5e7 uniform draws: --range with --reduce sum"
parrun --range 1:50000000 --kernel randsum --reduce sum --seed 1

say "parallel sort of 1e7 doubles on 2 threads (value: the median)"
echo '{"kernel":"sort","n":10000000,"threads":2}' | parrun --results - |
    sed 's/.*"value":\([^,]*\).*"metrics":\(.*\)}$/median \1, metrics \2/'

say "a bad input line is reported with its place, and nothing after it runs"
printf '%s\n' '{"argv":["echo","first"]}' '{"argv":"not a list"}' \
    '{"argv":["echo","never"]}' | parrun -j 1 || echo "(exit status $?)"

say "done: see man parrun, or README.md"
