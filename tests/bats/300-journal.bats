#!/usr/bin/env bats
# --journal and --resume: at least once, recorded exactly once.

bats_require_minimum_version 1.5.0
load helpers

setup() {
	helpers_setup
	cd "$BATS_TEST_TMPDIR"
	# each task appends its id to a ledger: what really ran
	for i in $(seq 20); do
		printf '{"id":"t%d","sh":"echo t%d >> ledger"}\n' "$i" "$i"
	done > tasks.jsonl
}

@test "a journal records submit, dispatch and result of every task" {
	run -0 parrun -j 2 --journal j.jsonl < tasks.jsonl 3>&-
	[ "$(jq -r 'select(.journal) | .v' j.jsonl)" = "1" ]
	[ "$(stat -c %a j.jsonl)" = "600" ]
	for t in submit dispatch result; do
		[ "$(grep -c "\"$t\"" j.jsonl)" -ge 20 ]
	done
}

@test "--resume skips what is done, also for reordered and extended input" {
	run -0 parrun -j 2 --journal j.jsonl < tasks.jsonl 3>&-
	: > ledger
	{ tac tasks.jsonl; echo '{"id":"t21","sh":"echo t21 >> ledger"}'; } > more.jsonl
	run -0 parrun -j 2 --journal j.jsonl --resume --results r.jsonl < more.jsonl 3>&-
	[ "$(cat ledger)" = "t21" ]
	[ "$(jq -r .id r.jsonl)" = "t21" ]
}

@test "a journal that exists is not overwritten without --resume" {
	run -0 parrun -j 2 --journal j.jsonl < tasks.jsonl 3>&-
	run -255 --separate-stderr parrun -j 2 --journal j.jsonl < tasks.jsonl 3>&-
	[[ "$stderr" == *"--resume"* ]]
}

@test "a changed task is refused; --force-resume runs only changed and new ones" {
	run -0 parrun -j 2 --journal j.jsonl < tasks.jsonl 3>&-
	: > ledger
	sed 's/echo t5 /echo t5-edited /' tasks.jsonl > edited.jsonl
	echo '{"id":"t21","sh":"echo t21 >> ledger"}' >> edited.jsonl
	run -255 --separate-stderr parrun -j 2 --journal j.jsonl --resume < edited.jsonl 3>&-
	[[ "$stderr" == *"stdin:5:"*"'t5'"*"--force-resume"* ]]
	run -0 parrun -j 2 --journal j.jsonl --force-resume < edited.jsonl 3>&-
	[ "$(sort ledger | tr '\n' ' ')" = "t21 t5-edited " ]
}

@test "--retry-failed runs the failed tasks again, and only those" {
	printf '%s\n' '{"id":"a","sh":"echo a >> ledger"}' \
	    '{"id":"b","sh":"echo b >> ledger; test -e fixed"}' > t.jsonl
	run -1 parrun -j 1 --journal j.jsonl < t.jsonl 3>&-
	run -0 parrun -j 1 --journal j.jsonl --resume < t.jsonl 3>&-
	[ "$(tr '\n' ' ' < ledger)" = "a b " ]
	touch fixed
	run -0 parrun -j 1 --journal j.jsonl --retry-failed < t.jsonl 3>&-
	[ "$(tr '\n' ' ' < ledger)" = "a b b " ]
}

@test "a torn last record is tolerated with a warning naming the offset" {
	run -0 parrun -j 2 --journal j.jsonl < tasks.jsonl 3>&-
	size=$(stat -c %s j.jsonl)
	printf '{"result":{"seq":' >> j.jsonl
	run -0 --separate-stderr parrun -j 2 --journal j.jsonl --resume < tasks.jsonl 3>&-
	[[ "$stderr" == *"torn"*"byte $size"* ]]
}

@test "damage in the middle of a journal is refused" {
	run -0 parrun -j 2 --journal j.jsonl < tasks.jsonl 3>&-
	sed -i '5s/.*/this is not json/' j.jsonl
	: > ledger
	run -255 --separate-stderr parrun -j 2 --journal j.jsonl --resume < tasks.jsonl 3>&-
	[[ "$stderr" == *"j.jsonl"* ]]
	[ ! -s ledger ]
}

@test "parrun killed mid-run: --resume finishes the rest, rerunning at most what was in flight" {
	for i in $(seq 200); do
		printf '{"id":"t%d","sh":"echo t%d >> ledger; sleep 0.02"}\n' "$i" "$i"
	done > slow.jsonl
	parrun -j 2 --journal j.jsonl < slow.jsonl 3>&- > /dev/null 2>&1 &
	pid=$!
	for _ in $(seq 400); do
		[ "$(wc -l < ledger 2>/dev/null || echo 0)" -ge 100 ] && break
		sleep 0.02
	done
	kill -9 "$pid"
	wait "$pid" || true
	# the workers see their coordinator gone and stop their tasks
	assert_no_process "sleep 0.02" 10
	before=$(wc -l < ledger)
	run -0 parrun -j 2 --journal j.jsonl --resume < slow.jsonl 3>&-
	# every task ran at least once ...
	[ "$(sort -u ledger | wc -l)" -eq 200 ]
	# ... and the reruns are at most the tasks that were in flight
	reruns=$(( $(wc -l < ledger) - 200 ))
	echo "ran $before before the kill; $reruns reruns" >&3
	[ "$reruns" -le 20 ]
}
