#!/usr/bin/env bats
# parrun --listen: workers started by any launcher (here: by hand) connect
# back over TCP and authenticate with the run's secret.  No Slurm needed.

bats_require_minimum_version 1.5.0
load helpers

setup() {
	helpers_setup
	cd "$BATS_TEST_TMPDIR"
	export PARRUN_CONNECT_MS=5000	# workers give up within 5 s
}

teardown() {
	helpers_teardown
}

# listen_bg ARGS...: `parrun --listen 127.0.0.1:0 ARGS` in the background
# (stdout in out, stderr in err); PR_PID is its PID, PR_ADDR the address
# it printed once it listens
listen_bg() {
	local i
	start_bg "$PARRUN" --listen 127.0.0.1:0 "$@" >out 2>err </dev/null
	PR_PID=$BG_PID
	PR_ADDR=
	for ((i = 0; i < 100; i++)); do
		PR_ADDR=$(sed -n 's/.*listening for workers on \([^;]*\);.*/\1/p' err)
		[[ -n $PR_ADDR ]] && return 0
		sleep 0.05
	done
	cat err
	return 1
}

# wait_parrun: wait for it; PR_RC is its exit status
wait_parrun() {
	PR_RC=0
	wait "$PR_PID" || PR_RC=$?
}

# worker_bg SECRETFILE [ARGS...]: a worker connecting to PR_ADDR; its PID
# in BG_PID, its stderr in werr.PID
worker_bg() {
	local f=$1
	shift
	start_bg "$WORKER" --connect "$PR_ADDR" --secret-file "$f" "$@" \
		</dev/null >/dev/null 2>werr.tmp
	mv werr.tmp "werr.$BG_PID"
}

new_secret() {
	(umask 077 && openssl rand -hex 32 >"$1")
}

@test "listen: workers started by hand run every task, slots respected" {
	listen_bg --secret-file sec --results res.jsonl \
		sh -c 'sleep 0.3; echo $PARRUN_WORKER' ::: $(seq 1 12)
	# the secret file was made, private, with one secret in it
	[ "$(stat -c %a sec)" = 600 ]
	grep -Eqx '[0-9a-f]{64}' sec
	[[ $(cat err) == *"parrun-worker --connect $PR_ADDR --secret-file sec"* ]]
	worker_bg sec --slots 2
	W1=$BG_PID
	worker_bg sec
	W2=$BG_PID
	wait_parrun
	[ "$PR_RC" -eq 0 ]
	[ "$(jq -s 'length' res.jsonl)" -eq 12 ]
	jq -e -s 'all(.[]; .status == "ok" and .attempts == 1)' res.jsonl
	[ "$(jq -r .id res.jsonl | sort -n | uniq | wc -l)" -eq 12 ]
	# both workers ran tasks, never more at once than their slots
	[ "$(jq -r .worker res.jsonl | sort -u | wc -l)" -eq 2 ]
	# (an interval is trimmed by 50 ms: start is wall-clock time and
	# elapsed monotonic, so back-to-back tasks can seem to touch)
	jq -r '[.worker, .start, .start + .elapsed - 0.05] | @tsv' res.jsonl |
		awk '{ print $1, $2, 1; print $1, $3, -1 }' | sort -k2,2g -k3,3n |
		awk '{ n[$1] += $3; if (n[$1] > m[$1]) m[$1] = n[$1] }
		    END { for (w in m) print w, m[w] }' | sort >conc
	cat conc
	# worker 1 connected first or second: one has 2 slots, one 1
	[ "$(awk '{print $2}' conc | sort | tr '\n' ' ')" = "1 2 " ]
	# the workers leave when the run ends
	for p in "$W1" "$W2"; do
		for ((i = 0; i < 100; i++)); do
			pid_alive "$p" || break
			sleep 0.05
		done
		run ! pid_alive "$p"
	done
}

@test "listen: an existing secret file is used; an open one is refused" {
	new_secret sec
	listen_bg --secret-file sec --results res.jsonl true ::: 1 2 3
	worker_bg sec
	wait_parrun
	[ "$PR_RC" -eq 0 ]
	[ "$(jq -s 'length' res.jsonl)" -eq 3 ]
	chmod 644 sec
	run -255 --separate-stderr "$PARRUN" --listen 127.0.0.1:0 \
		--secret-file sec true ::: 1
	[[ $stderr == *"chmod 600"* ]]
	run -255 --separate-stderr "$PARRUN" --secret-file sec true ::: 1
	[[ $stderr == *"--secret-file goes with --listen"* ]]
}

@test "listen: a worker with a wrong secret is refused and logged, good ones work" {
	new_secret sec
	new_secret other
	listen_bg --secret-file sec --connect-timeout 5 --results res.jsonl \
		sh -c 'sleep 0.2' ::: $(seq 1 6)
	worker_bg other
	BAD=$BG_PID
	worker_bg sec
	wait_parrun
	[ "$PR_RC" -eq 0 ]
	jq -e -s 'length == 6 and all(.[]; .status == "ok")' res.jsonl
	# the worker checks our MAC first, finds it bad and hangs up
	grep -q "refused worker from '127.0.0.1:[0-9]*': hung up on our challenge: a different secret?" err
	rc=0
	wait "$BAD" || rc=$?
	[ "$rc" -eq 3 ]
	grep -q 'bad MAC' "werr.$BAD"
	# nobody with the wrong secret ran a task
	[ "$(jq -r .worker res.jsonl | sort -u)" = 1 ]
}

@test "listen: a client that sends a bad MAC is refused and logged as such" {
	new_secret sec
	listen_bg --secret-file sec --connect-timeout 5 --results res.jsonl \
		true ::: 1
	nonce=$(openssl rand -hex 32)
	exec 5<>"/dev/tcp/${PR_ADDR%:*}/${PR_ADDR##*:}"
	printf '{"type":"hello","proto":[1,1],"version":"9","host":"x","pid":1,"cpus":1,"slots":1,"kernels":[],"nonce":"%s"}\n' \
		"$nonce" >&5
	read -r -t 5 auth <&5
	[ "$(jq -r .type <<<"$auth")" = auth ]
	printf '{"type":"auth","mac":"%064d"}\n' 0 >&5
	reply=
	read -r -t 5 reply <&5 || true
	exec 5<&-
	[ "$(jq -r .type <<<"$reply")" = reject ]
	worker_bg sec
	wait_parrun
	[ "$PR_RC" -eq 0 ]
	grep -q "refused worker from '127.0.0.1:[0-9]*': bad MAC" err
	[ "$(jq -r .worker res.jsonl)" = 1 ]
}

@test "listen: a worker speaking another protocol version is refused and logged" {
	new_secret sec
	listen_bg --secret-file sec --connect-timeout 5 --results res.jsonl \
		true ::: 1
	nonce=$(openssl rand -hex 32)
	exec 5<>"/dev/tcp/${PR_ADDR%:*}/${PR_ADDR##*:}"
	printf '{"type":"hello","proto":[99,99],"version":"9","host":"x","pid":1,"cpus":1,"slots":1,"kernels":[],"nonce":"%s"}\n' \
		"$nonce" >&5
	read -r -t 5 reply <&5
	exec 5<&-
	[ "$(jq -r .type <<<"$reply")" = reject ]
	worker_bg sec
	wait_parrun
	[ "$PR_RC" -eq 0 ]
	grep -q "refused worker from '127.0.0.1:[0-9]*'.*99" err
}

@test "listen: bound to the address asked for, never to every interface" {
	new_secret sec
	listen_bg --secret-file sec --connect-timeout 5 true ::: 1
	ss -ltnpH | grep "pid=$PR_PID," >ss.txt
	cat ss.txt
	[ "$(wc -l <ss.txt)" -eq 1 ]
	[ "$(awk '{print $4}' ss.txt)" = "$PR_ADDR" ]
	run ! grep -E '^(0\.0\.0\.0|\*|\[::\]):' <(awk '{print $4}' ss.txt)
	worker_bg sec
	wait_parrun
	[ "$PR_RC" -eq 0 ]
}

@test "listen: the secret is in no /proc/*/cmdline or environ during the run" {
	new_secret sec
	tr -d '\n' <sec >pattern
	listen_bg --secret-file sec --results res.jsonl \
		sh -c 'sleep 1; env' ::: 1 2
	# one worker reads the secret from its stdin
	start_bg sh -c 'exec "$0" --connect "$1" <"$2"' "$WORKER" "$PR_ADDR" sec
	worker_bg sec
	sleep 0.5
	# one grep over them all; the pattern comes from a file, so it is
	# not in grep's own argv
	found=$(grep -a -l -F -f pattern /proc/[0-9]*/cmdline \
		/proc/[0-9]*/environ 2>/dev/null || true)
	echo "$found"
	[ -z "$found" ]
	wait_parrun
	[ "$PR_RC" -eq 0 ]
	# nor in the tasks' environment
	jq -e -s 'length == 2' res.jsonl
	run ! grep -q -F -f pattern res.jsonl
}

@test "listen: no worker within --connect-timeout: every task lost, exit 255" {
	listen_bg --connect-timeout 0.5 --results res.jsonl true ::: 1 2 3
	wait_parrun
	[ "$PR_RC" -eq 255 ]
	grep -q "no worker connected to '$PR_ADDR' within 0.5 s" err
	jq -e -s 'length == 3 and all(.[]; .status == "lost")' res.jsonl
	# the secret made for the run was removed with its directory
	f=$(sed -n 's/.*--secret-file \(.*\)$/\1/p' err)
	[[ $f == */secret ]]
	[ ! -e "$f" ]
	[ ! -e "${f%/secret}" ]
}

@test "listen: --max-workers refuses workers beyond the cap" {
	new_secret sec
	listen_bg --secret-file sec --max-workers 1 --results res.jsonl \
		sh -c 'sleep 0.5' ::: 1 2 3
	worker_bg sec
	sleep 0.3
	worker_bg sec
	wait_parrun
	[ "$PR_RC" -eq 0 ]
	grep -q "too many workers" err
	[ "$(jq -r .worker res.jsonl | sort -u)" = 1 ]
}

@test "--timeout reaches the workers: local and over TCP" {
	run -1 bash -c "$PARRUN --timeout 1 --results - sleep 10 ::: 1 3>&-"
	[ "$(jq -r .status <<<"$output")" = timeout ]
	new_secret sec
	listen_bg --secret-file sec --timeout 1 --results res.jsonl sleep 10 ::: 1
	worker_bg sec
	wait_parrun
	[ "$(jq -r .status res.jsonl)" = timeout ]
	[ "$PR_RC" -eq 1 ]
}
