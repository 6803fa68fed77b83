#!/usr/bin/env bats
# Task failure kept apart from worker loss: --halt, --retries with a delay
# and on another worker, --crash-limit, a stopped worker.  Every test is
# "exact": one final record per input id, the right exit status, nothing
# left running.  Tasks wait for events (a file, a line in parrun's
# stderr), never for a time.

bats_require_minimum_version 1.5.0
load helpers

setup() {
	helpers_setup
	cd "$BATS_TEST_TMPDIR"
}

# one_record_per_id FILE N: ids 1..N, each exactly once
one_record_per_id() {
	[ "$(jq -r .id "$1" | sort -n | tr '\n' ' ')" = "$(seq 1 "$2" | tr '\n' ' ')" ]
}

# until_seen FILE PATTERN: a shell loop (bounded: 20 s) for task scripts
until_seen() {
	printf 'i=0; until grep -q "%s" "%s" 2>/dev/null || [ $i -ge 400 ]; do sleep 0.05; i=$((i + 1)); done' "$2" "$1"
}

@test "--halt now,fail=1: the failing task's status, running tasks cancelled, nothing else starts" {
	# task 1 fails once another task runs; the others mark the ledger,
	# then sleep under MARK until cancelled
	cat > task.sh <<-EOF
	if [ "\$1" = 1 ]; then $(until_seen ledger .); exit 7; fi
	echo "\$1" >> ledger
	exec -a "$MARK" sleep 30
	EOF
	run -7 --separate-stderr parrun -j2 --halt now,fail=1 --results r.jsonl \
		bash task.sh ::: $(seq 1 10)
	one_record_per_id r.jsonl 10
	[ "$(jq -r 'select(.id == "1") | "\(.status) \(.exit)"' r.jsonl)" = "failed 7" ]
	[ "$(jq -r 'select(.id != "1") | .status' r.jsonl | sort -u)" = cancelled ]
	# only the one task that ran beside task 1 ever started
	[ "$(wc -l < ledger)" -eq 1 ]
	[[ $stderr == *"halting now"*"--halt now,fail=1"* ]]
	assert_no_process "$MARK" 5 || false
}

@test "--halt soon,fail=1: running tasks finish, queued ones never start" {
	# the others wait for parrun to say it halts, then succeed
	cat > task.sh <<-EOF
	if [ "\$1" = 1 ]; then $(until_seen ledger .); exit 3; fi
	echo "\$1" >> ledger
	$(until_seen "$BATS_TEST_TMPDIR/err" halting)
	EOF
	run -3 bash -c "parrun -j2 --halt soon,fail=1 --results r.jsonl \
		bash task.sh ::: \$(seq 1 10) 2>err 3>&-"
	one_record_per_id r.jsonl 10
	[ "$(jq -r 'select(.id == "1") | "\(.status) \(.exit)"' r.jsonl)" = "failed 3" ]
	# the one running beside it finished; nothing started after the halt
	[ "$(wc -l < ledger)" -eq 1 ]
	[ "$(jq -r "select(.id == \"$(cat ledger)\") | .status" r.jsonl)" = ok ]
	[ "$(jq -r 'select(.status == "cancelled") | .id' r.jsonl | wc -l)" -eq 8 ]
	grep -q "halting soon" err
}

@test "--halt now,success=1 ends the run at the first success, exit 0" {
	# task 2 succeeds once task 1 runs; every other task would run long
	cat > task.sh <<-EOF
	if [ "\$1" = 2 ]; then $(until_seen ledger .); exit 0; fi
	echo "\$1" >> ledger
	exec -a "$MARK" sleep 30
	EOF
	run -0 --separate-stderr parrun -j2 --halt now,success=1 --results r.jsonl \
		bash task.sh ::: $(seq 1 6)
	one_record_per_id r.jsonl 6
	[ "$(jq -r 'select(.status == "ok") | .id' r.jsonl)" = 2 ]
	[ "$(jq -r 'select(.id != "2") | .status' r.jsonl | sort -u)" = cancelled ]
	[ "$(cat ledger)" = 1 ]
	assert_no_process "$MARK" 5 || false
}

@test "--halt soon,fail=50% waits for three records, then stops" {
	# -j1: records come in input order; 2 and 3 fail, 4.. would succeed
	cat > task.sh <<-EOF
	case "\$1" in 2|3) exit 5 ;; esac
	[ "\$1" -ge 4 ] && $(until_seen "$BATS_TEST_TMPDIR/err" halting)
	exit 0
	EOF
	run -5 bash -c "parrun -j1 --halt soon,fail=50% --results r.jsonl \
		bash task.sh ::: \$(seq 1 8) 2>err 3>&-"
	one_record_per_id r.jsonl 8
	[ "$(jq -r 'select(.status == "failed") | .id' r.jsonl | tr '\n' ' ')" = "2 3 " ]
	# after the third record nothing new starts: at most the one running
	[ "$(jq -r 'select(.status == "ok") | .id' r.jsonl | wc -l)" -le 2 ]
	grep -q "halting soon: 1 ok, 2 not ok (--halt soon,fail=50%)" err
}

@test "bad --halt, --crash-limit and --retry-delay values name what is wrong" {
	run -255 --separate-stderr parrun --halt later,fail=1 true ::: 1
	[[ $stderr == *"invalid --halt: 'later': expected soon or now"* ]]
	run -255 --separate-stderr parrun --halt now,fail=101% true ::: 1
	[[ $stderr == *"a percentage above 100"* ]]
	run -255 --separate-stderr parrun --halt now,boom=1 true ::: 1
	[[ $stderr == *"unknown condition 'boom'"* ]]
	run -255 --separate-stderr parrun --crash-limit 0 true ::: 1
	[[ $stderr == *"invalid --crash-limit '0'"* ]]
	run -255 --separate-stderr parrun --retry-delay -1 true ::: 1
	[[ $stderr == *"invalid --retry-delay '-1'"* ]]
}

@test "--retries: a failed task runs again on the other worker" {
	# attempt 1 waits until both workers are ready, then fails; the
	# retry must go to the idle one
	cat > task.sh <<-EOF
	echo "\$PARRUN_ATTEMPT \$PARRUN_WORKER" >> ledger
	if [ "\$PARRUN_ATTEMPT" = 1 ]; then
		$(until_seen "$BATS_TEST_TMPDIR/err" "worker 1 ready")
		$(until_seen "$BATS_TEST_TMPDIR/err" "worker 2 ready")
		exit 4
	fi
	EOF
	run -0 bash -c "parrun -vv -j2 --retries 2 --retry-delay 0 \
		--results r.jsonl bash task.sh ::: x 2>err 3>&-"
	[ "$(jq -r '"\(.status) \(.attempts)"' r.jsonl)" = "ok 2" ]
	[ "$(wc -l < ledger)" -eq 2 ]
	[ "$(sed -n 1p ledger | cut -d' ' -f2)" != "$(sed -n 2p ledger | cut -d' ' -f2)" ]
}

@test "--retries waits --retry-delay, doubling, and records the last attempt" {
	cat > task.sh <<-'EOF'
	date +%s.%N >> ledger
	exit 6
	EOF
	run -1 --separate-stderr parrun -j1 --retries 2 --retry-delay 0.3 \
		--results r.jsonl bash task.sh ::: x
	[ "$(jq -r '"\(.status) \(.exit) \(.attempts)"' r.jsonl)" = "failed 6 3" ]
	[ "$(wc -l < ledger)" -eq 3 ]
	# lower bounds only: 0.3 s before the first retry, 0.6 s before the
	# second
	awk 'NR > 1 { gap[NR] = $1 - prev } { prev = $1 }
	     END { exit !(gap[2] >= 0.3 && gap[3] >= 0.6) }' ledger
}

@test "--crash-limit N: a task whose worker dies under it N times is lost" {
	# the task kills its own worker every time it runs
	cat > task.sh <<-'EOF'
	echo run >> ledger
	kill -9 $PPID
	sleep 5
	EOF
	run -1 --separate-stderr parrun -j2 --crash-limit 2 --results r.jsonl \
		bash task.sh ::: x
	[ "$(jq -r '"\(.status) \(.attempts)"' r.jsonl)" = "lost 2" ]
	[[ "$(jq -r .error r.jsonl)" == *"was lost 2 times"* ]]
	[ "$(wc -l < ledger)" -eq 2 ]
}

@test "a stopped worker misses its heartbeats: killed, its task runs elsewhere" {
	# attempt 1 stops its own worker (SIGSTOP); the heartbeat timeout
	# gives it up and the task runs again on the other worker
	cat > task.sh <<-EOF
	if [ "\$PARRUN_ATTEMPT" = 1 ]; then
		echo "\$PPID" > stopped
		kill -STOP \$PPID
		exec -a "$MARK" sleep 30
	fi
	echo done
	EOF
	run -0 --separate-stderr parrun -j2 --heartbeat 200 --results r.jsonl \
		bash task.sh ::: x
	[ "$(jq -r '"\(.status) \(.attempts) \(.stdout)"' r.jsonl)" = "ok 2 done" ]
	[[ $stderr == *"missed 3 heartbeats"* ]]
	# the stopped worker was killed, and its task with it
	run ! pid_alive "$(cat stopped)"
	assert_no_process "$MARK" 5 || false
}

@test "--respawn replaces a lost worker; without it the run has none left" {
	# -j1: task 2 kills its worker once
	cat > task.sh <<-'EOF'
	echo "$1 $PARRUN_WORKER" >> ledger
	if [ "$1" = 2 ] && [ ! -e killed ]; then
		touch killed; kill -9 $PPID; sleep 5
	fi
	EOF
	run -0 --separate-stderr parrun -v -j1 --respawn --results r.jsonl \
		bash task.sh ::: 1 2 3 4
	one_record_per_id r.jsonl 4
	[ "$(jq -r .status r.jsonl | sort -u)" = ok ]
	[ "$(jq -r 'select(.id == "2") | "\(.attempts) \(.worker)"' r.jsonl)" = "2 2" ]
	[[ $stderr == *"worker 2 ("*") replaces worker 1"* ]]

	rm -f killed ledger
	run -255 --separate-stderr parrun -j1 --results r.jsonl \
		bash task.sh ::: 1 2 3 4
	one_record_per_id r.jsonl 4
	[ "$(jq -r 'select(.id == "1") | .status' r.jsonl)" = ok ]
	[ "$(jq -r 'select(.id != "1") | .status' r.jsonl | sort -u)" = lost ]
	[[ $stderr == *"no worker left"* ]]
}

@test "--respawn gives up on workers lost crash-limit + 2 times in a row: the run ends, nothing hangs" {
	# a worker program that dies at once, every time; --crash-limit 1:
	# given up after 3
	run -255 --separate-stderr parrun -j2 --respawn --crash-limit 1 \
		--worker /bin/false --results r.jsonl true ::: 1 2 3
	one_record_per_id r.jsonl 3
	[ "$(jq -r .status r.jsonl | sort -u)" = lost ]
	[ "$(grep -c 'not replacing worker' <<< "$stderr")" -eq 2 ]
	# 2 workers, each replaced twice: 6 started in all
	[ "$(grep -c ' lost: ' <<< "$stderr")" -eq 6 ]
}

@test "a worker's loss counts only against the task it ran: the ones queued behind a poison task run" {
	# -j1 --respawn: task 2 kills every worker it runs on (after a moment,
	# so the worker has said it started); 3 and 4 wait in the same
	# worker's queue each time.  2 is lost after 3 runs; 3 and 4 are not
	# lost for having waited, and the host is not given up (3 + 2)
	cat > task.sh <<-'EOF'
	echo "$1" >> ledger
	if [ "$1" = 2 ]; then sleep 0.3; kill -9 $PPID; sleep 5; fi
	EOF
	run -1 --separate-stderr parrun -j1 --respawn --results r.jsonl \
		bash task.sh ::: 1 2 3 4
	one_record_per_id r.jsonl 4
	[ "$(jq -r 'select(.id == "2") | "\(.status) \(.attempts)"' r.jsonl)" = "lost 3" ]
	[ "$(jq -r 'select(.id != "2") | .status' r.jsonl | sort -u)" = ok ]
	[ "$(sort ledger | tr '\n' ' ')" = "1 2 2 2 3 4 " ]
	[[ $stderr != *"not replacing"* ]]
}
