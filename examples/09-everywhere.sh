#!/bin/sh
# 09-everywhere.sh [BUILD_DIR] - the notes' @everywhere x = $x: send data
# to every worker once, then run many tasks that use it.
#
# --broadcast FILE copies FILE to each worker once (not once per task);
# command tasks find the worker's copy at $PARRUN_BROADCAST, kernels get
# the bytes.  As in the notes, where pointer_from_objref showed a distinct
# copy per worker, each worker has its own copy (its own path), and every
# task sees the same numbers: here each of 12 tasks returns sum(x), like
# the notes' pmap(test, 1:12, batch_size = 3).
set -eu
build=${1:-${PARRUN_BUILD:-$(dirname "$0")/../build}}
PATH=$build:$PATH
export PATH

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# x = randn(5), written once
printf '%s\n' 1.9367694818080448 -0.2 0.35 1.1 -0.75 >"$tmp/x"

# shellcheck disable=SC2016 # expanded by the task's shell
seq 12 | parrun -j 2 -k --batch-size 3 --broadcast "$tmp/x" sh -c '
	printf "task %s worker %s copy %s sum(x) %s\n" "$0" "$PARRUN_WORKER" \
	    "$PARRUN_BROADCAST" "$(awk "{ s += \$1 } END { print s }" \
	    "$PARRUN_BROADCAST")"' >"$tmp/out"
cat "$tmp/out"
echo "copies: $(awk '{ print $6 }' "$tmp/out" | sort -u | wc -l)" \
	"for $(awk '{ print $4 }' "$tmp/out" | sort -u | wc -l) workers;" \
	"distinct sums: $(awk '{ print $8 }' "$tmp/out" | sort -u | wc -l)"
