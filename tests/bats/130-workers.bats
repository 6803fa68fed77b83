#!/usr/bin/env bats
# Workers that misbehave, signals, streaming memory.

bats_require_minimum_version 1.5.0
load helpers

setup() {
	helpers_setup
	cd "$BATS_TEST_TMPDIR"
	FAKE=$BATS_TEST_DIRNAME/../fixtures/workers
}

@test "a worker that sends garbage is killed and reported" {
	run -255 --separate-stderr bash -c "echo true | parrun -j 1 --worker $FAKE/garbage-worker 3>&-"
	[[ "$stderr" == *"worker 1"*"garbage"* ]]
	run ! pgrep -f "$FAKE/garbage-worker"
}

@test "a worker with another protocol version is rejected with both ranges" {
	export FAKE_WORKER_LOG=$BATS_TEST_TMPDIR/reply
	run -255 --separate-stderr bash -c "echo true | parrun -j 1 --worker $FAKE/future-worker 3>&-"
	[[ "$stderr" == *"99..99"* ]]
	[ "$(jq -r .type reply)" = "reject" ]
	run ! pgrep -f "$FAKE/future-worker"
}

@test "a worker that never says hello is given up on" {
	run -255 --separate-stderr bash -c "echo true | parrun -j 1 --heartbeat 200 --worker $FAKE/silent-worker 3>&-"
	[[ "$stderr" == *"no hello"* ]]
	run ! pgrep -f "$FAKE/silent-worker"
}

@test "a missing worker program is a clear error" {
	run -255 --separate-stderr bash -c "echo true | parrun -j 2 --worker /nonexistent/parrun-worker 3>&-"
	[[ "$stderr" == *"/nonexistent/parrun-worker"* ]]
}

@test "a large -j starts workers in bursts: the first run tasks meanwhile, and no more start than the input needs" {
	# 2000 workers started before the loop ran took longer than their
	# wait for a welcome (all lost); now 32 a loop turn, none once every
	# task is handed out
	run -0 --separate-stderr bash -c "seq 5 | parrun -vv -j 2000 --results - true 3>&-"
	[ "$(jq -s 'map(select(.status == "ok")) | length' <<<"$output")" -eq 5 ]
	ready=$(grep -c "ready: host" <<<"$stderr" || true)
	echo "workers ready: $ready"
	[ "$ready" -ge 1 ]
	[ "$ready" -lt 1000 ]
}

@test "many workers at once: -j 300 with tasks that overlap, every one ok" {
	run -0 --separate-stderr bash -c "seq 300 | parrun -j 300 --results - sh -c 'sleep 0.5' sh {} 3>&-"
	[ "$(jq -s 'map(select(.status == "ok")) | length' <<<"$output")" -eq 300 ]
	[ -z "$stderr" ]
}

@test "a worker killed mid-run loses no task: its tasks run again elsewhere" {
	mark=mark-$BATS_TEST_NUMBER-$$
	# task 3 kills its own worker (the parent of the task's shell) once
	cat > t.jsonl <<-EOF
	{"id":"1","sh":"echo 1 >> ledger"}
	{"id":"2","sh":"echo 2 >> ledger"}
	{"id":"3","sh":"if [ ! -e killed ]; then touch killed; kill -9 \$PPID; sleep 5; fi; echo 3 >> ledger"}
	{"id":"4","sh":"echo 4 >> ledger"}
	EOF
	run -0 --separate-stderr bash -c "parrun -j 2 --results r.jsonl < t.jsonl 3>&-"
	[ "$(sort ledger | tr '\n' ' ')" = "1 2 3 4 " ]
	[ "$(jq -r 'select(.id=="3") | .attempts' r.jsonl)" = "2" ]
	[[ "$stderr" == *"lost"* ]]
}

@test "SIGTERM stops the run: running tasks cancelled, exit 143, nothing left" {
	parrun -j 2 bash -c 'exec -a "$0" sleep 100' "$MARK" ::: 1 2 3 3>&- > out 2> err &
	pid=$!
	for _ in $(seq 200); do pgrep -f "^$MARK" >/dev/null && break; sleep 0.05; done
	pgrep -f "^$MARK"
	kill -TERM "$pid"
	status=0
	wait "$pid" || status=$?
	[ "$status" -eq 143 ]
	assert_no_process
	grep -q terminated err
}

@test "SIGINT exits 130 and leaves no task running" {
	parrun -j 2 bash -c 'exec -a "$0" sleep 100' "$MARK" ::: 1 2 3>&- > out 2> err &
	pid=$!
	for _ in $(seq 200); do pgrep -f "^$MARK" >/dev/null && break; sleep 0.05; done
	pgrep -f "^$MARK"
	kill -INT "$pid"
	status=0
	wait "$pid" || status=$?
	[ "$status" -eq 130 ]
	assert_no_process
}

@test "a second SIGINT kills at once, even tasks that ignore TERM" {
	parrun -j 1 bash -c 'trap "" TERM; exec -a "$0" sleep 100' "$MARK" ::: 1 3>&- > out 2> err &
	pid=$!
	for _ in $(seq 200); do pgrep -f "^$MARK" >/dev/null && break; sleep 0.05; done
	kill -INT "$pid"
	kill -INT "$pid"
	status=0
	wait "$pid" || status=$?
	[ "$status" -eq 130 ]
	assert_no_process
}

@test "the coordinator's memory does not grow with the number of tasks" {
	# ASan keeps freed memory in quarantine, so RSS says nothing there;
	# the normal build of the same suite measures it
	[ -z "${PARRUN_SANITIZE:-}" ] || skip "RSS is not meaningful under ASan"
	# both sizes past the bounded queues' steady state (a small run can
	# end before the queues have filled)
	n1=1000000 n2=3000000
	peak() {
		seq "$1" | sed 's/.*/{"kernel":"noop"}/' |
		    /usr/bin/time -f %M parrun -j 2 --results /dev/null 2>&1 >/dev/null 3>&- | tail -1
	}
	small=$(peak $n1)
	big=$(peak $n2)
	echo "peak RSS: $small KiB for $n1 tasks, $big KiB for $n2" >&3
	# ten times the tasks may not cost more than a quarter more memory
	[ "$big" -lt $((small + small / 4 + 2048)) ]
}
