#!/usr/bin/env bats
# SSH hosts that fail: a closed port, a black hole, an address where
# nothing answers, a link cut mid-run, no host at all; and a coordinator
# killed mid-run leaving nothing behind.  Loopback sshd n1 plus network
# namespace hosts h1, h2 (tests/harness).

bats_require_minimum_version 1.5.0
load helpers

setup_file() {
	ssh_setup_file 1
	netns_setup_file 2
}

teardown_file() {
	netns_teardown_file
	ssh_teardown_file
}

setup() {
	helpers_setup
	cd "$BATS_TEST_TMPDIR"
	unset SSH_AUTH_SOCK
	SSHOPTS=(--known-hosts "$SSH_KNOWN_HOSTS" -i "$SSH_KEY"
		--remote-worker "$WORKER")
	EP1=$SSH_ADDR_1:$SSH_PORT_1
	CLOSED=$SSH_ADDR_1:$(h_pick_ports 1)
}

teardown() {
	# a test that cut a link must not leave it cut for the next
	if [[ -n ${NETNS_HOSTS:-} ]]; then
		netns_link_up 1 2>/dev/null || true
		netns_link_up 2 2>/dev/null || true
	fi
	helpers_teardown
}

@test "a closed port is reported with the host; the others run the tasks" {
	run -0 --separate-stderr bash -c "parrun -S '1/$EP1,1/$CLOSED' \
		${SSHOPTS[*]} echo ::: a b c 3>&-"
	[ "$output" = "$(printf 'a\nb\nc')" ]
	[[ $stderr == *"cannot connect to '$CLOSED': connection refused"* ]]
}

@test "a black-hole host times out after --connect-timeout, named" {
	netns_link_down 2
	local t0=$SECONDS
	run -0 --separate-stderr bash -c "parrun -S '1/$EP1,1/$NETNS_ADDR_2:22' \
		--connect-timeout 2 ${SSHOPTS[*]} sleep ::: 1 1 1 1 3>&-"
	[[ $stderr == *"cannot connect to '$NETNS_ADDR_2:22': timed out after 2 s"* ]]
	# four 1 s tasks on the one host that works, and no waiting beyond
	[ $((SECONDS - t0)) -lt 12 ]
}

@test "an address where nothing answers is reported, named" {
	local t0=$SECONDS
	run -0 --separate-stderr bash -c "parrun \
		-S '1/$EP1,1/$NETNS_DEAD_ADDR:22' --connect-timeout 2 \
		${SSHOPTS[*]} sleep ::: 1 1 1 1 3>&-"
	[[ $stderr == *"cannot connect to '$NETNS_DEAD_ADDR:22': "* ]]
	[ $((SECONDS - t0)) -lt 12 ]
}

@test "no host that works is a clear error naming each host" {
	netns_link_down 1
	run -255 --separate-stderr bash -c "parrun \
		-S '1/$CLOSED,1/$NETNS_ADDR_1:22' --connect-timeout 1 \
		${SSHOPTS[*]} echo ::: a 3>&-"
	[ -z "$output" ]
	[[ $stderr == *"cannot connect to '$CLOSED': connection refused"* ]]
	[[ $stderr == *"cannot connect to '$NETNS_ADDR_1:22': timed out"* ]]
	[[ $stderr == *"no worker"* ]]
}

@test "namespace hosts run tasks under their own hostnames" {
	run -0 bash -c "parrun -S '2/$NETNS_ADDR_1:22,2/$NETNS_ADDR_2:22' \
		${SSHOPTS[*]} --results - sh -c 'sleep 0.2; hostname' \
		::: 1 2 3 4 5 6 7 8 3>&- | \
		jq -r '.host + \" \" + (.stdout | rtrimstr(\"\\n\"))' | \
		sort -u"
	[ "$output" = "$(printf '%s h1\n%s h2' "$NETNS_ADDR_1" "$NETNS_ADDR_2")" ]
}

@test "parrun killed -9 mid-run leaves no remote worker and no task" {
	# the worker's own command line carries the mark too
	ln -s "$WORKER" "$BATS_TEST_TMPDIR/worker-$MARK"
	start_bg parrun -S "2/$EP1" --known-hosts "$SSH_KNOWN_HOSTS" \
		-i "$SSH_KEY" --remote-worker "$BATS_TEST_TMPDIR/worker-$MARK" \
		bash -c 'exec -a "$0" sleep 60' ::: "$MARK" "$MARK" "$MARK"
	for _ in $(seq 1 200); do
		[ "$(pgrep -c -f -- "^$MARK 60")" -eq 2 ] && break
		sleep 0.05
	done
	[ "$(pgrep -c -f -- "^$MARK 60")" -eq 2 ]
	pgrep -f -- "worker-$MARK" >/dev/null
	kill -9 "$BG_PID"
	wait "$BG_PID" 2>/dev/null || true
	# (|| false: the helper's pgrep loop must not run under errexit,
	# where a zombie listed last would end it early)
	assert_no_process "$MARK" 10 || false
}

@test "a link cut mid-run: the host is lost, its tasks run elsewhere" {
	# host 2's tasks say they started, then wait (bounded) for a flag
	# nobody sets: the cut finds them running, and only the requeue onto
	# host 1 can finish them
	local cutter i
	ln -s "$WORKER" "$BATS_TEST_TMPDIR/worker-$MARK"
	cat > task.sh <<-EOF
	case " \$SSH_CONNECTION " in
	*" $NETNS_ADDR_2 "*)
		: > "$BATS_TEST_TMPDIR/started-on-2"
		i=0
		while [ ! -e "$BATS_TEST_TMPDIR/never" ] && [ \$i -lt 600 ]; do
			sleep 0.1; i=\$((i + 1))
		done
		exit 9 ;;
	esac
	sleep 0.05
	EOF
	(
		for ((i = 0; i < 600; i++)); do
			[ -e "$BATS_TEST_TMPDIR/started-on-2" ] && break
			sleep 0.05
		done
		netns_link_down 2
	) 3>&- &
	cutter=$!
	run -0 --separate-stderr bash -c "parrun --heartbeat 300 \
		-S '1/$NETNS_ADDR_1:22,1/$NETNS_ADDR_2:22' \
		--known-hosts '$SSH_KNOWN_HOSTS' -i '$SSH_KEY' \
		--remote-worker '$BATS_TEST_TMPDIR/worker-$MARK' \
		--results r.jsonl sh '$PWD/task.sh' ::: \$(seq 1 12) 3>&-"
	wait "$cutter"
	[ -e "$BATS_TEST_TMPDIR/started-on-2" ]
	# every task once, all on host 1 in the end, host 2 reported lost
	[ "$(jq -r .status r.jsonl | sort | uniq -c | tr -s ' ')" = " 12 ok" ]
	[ "$(jq -r .id r.jsonl | sort -n | tr '\n' ' ')" = "$(seq 1 12 | tr '\n' ' ')" ]
	[ "$(jq -r .host r.jsonl | sort -u)" = "$NETNS_ADDR_1" ]
	[[ $stderr == *"$NETNS_ADDR_2"*"lost"* ]]
	# the cut-off worker gives up on its coordinator by itself
	assert_no_process "worker-$MARK" 20 || false
}

@test "--respawn: a remote worker killed mid-run is replaced over a new connection" {
	# task 2 kills its (remote) worker once; the host is the only one.
	# (Absolute paths: remote tasks start in the home directory.)
	cat > task.sh <<-EOF
	if [ "\$1" = 2 ] && [ ! -e "$BATS_TEST_TMPDIR/killed" ]; then
		touch "$BATS_TEST_TMPDIR/killed"; kill -9 \$PPID; sleep 5
	fi
	echo "\$1"
	EOF
	run -0 --separate-stderr bash -c "parrun -v --respawn -S '1/$EP1' \
		${SSHOPTS[*]} --results r.jsonl bash '$PWD/task.sh' ::: 1 2 3 3>&-"
	[ "$(jq -r .id r.jsonl | sort -n | tr '\n' ' ')" = "1 2 3 " ]
	[ "$(jq -r .status r.jsonl | sort -u)" = ok ]
	[ "$(jq -r 'select(.id == "2") | "\(.attempts) \(.worker) \(.host)"' r.jsonl)" = "2 2 $SSH_ADDR_1" ]
	[[ $stderr == *"worker 2 ($SSH_ADDR_1) replaces worker 1"* ]]
}
