#!/bin/sh
# 07-batch-size.sh [BUILD_DIR] - the notes' pmap batch_size: many tiny
# tasks, sent one per message or in batches, prescheduled (static) or
# handed out as workers become free (dynamic).
#
# 20000 tasks of the noop kernel, each with a value i; --reduce sum must
# give n(n+1)/2 every time.  With one task per message the time goes into
# messages; batches (a fixed size, or auto, sized from the measured task
# time) cut that cost.  For long tasks of uneven length, dynamic balances
# better; for many equal tiny tasks, static batches are cheapest.
# PARRUN_EXAMPLE_SMALL=1 makes it 2000 tasks.
set -eu
build=${1:-${PARRUN_BUILD:-$(dirname "$0")/../build}}
PATH=$build:$PATH
export PATH

n=20000
[ "${PARRUN_EXAMPLE_SMALL:-0}" = 1 ] && n=2000

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
seq "$n" | sed 's/.*/{"kernel":"noop","value":&}/' >"$tmp/tasks"
now() { date +%s.%N; }

echo "$n tiny tasks on 2 workers; expected sum $(awk -v n="$n" \
	'BEGIN { printf "%.0f", n * (n + 1) / 2 }')"
for b in 1 64 auto; do
	for s in static dynamic; do
		t0=$(now)
		sum=$(parrun -j 2 --batch-size "$b" --schedule "$s" \
			--reduce sum <"$tmp/tasks")
		t1=$(now)
		printf 'batch=%-4s schedule=%-7s sum=%s seconds=%s\n' "$b" \
			"$s" "$sum" \
			"$(awk -v a="$t0" -v b="$t1" \
			'BEGIN { printf "%.3f", b - a }')"
	done
done
