bats_require_minimum_version 1.5.0
load helpers

# The harness itself: the helpers every other file relies on, and the
# private sshd, network namespace and Slurm servers.  Servers come up once
# for the file.

setup_file() {
	start_bg bash -c 'exec -a "$0" sleep 600' "file-bg-$BATS_ROOT_PID"
	export FILE_BG_PID=$BG_PID
	ssh_setup_file 2
	netns_setup_file 2
	slurm_setup_file single
}

teardown_file() {
	slurm_teardown_file
	netns_teardown_file
	ssh_teardown_file
	helpers_teardown_file
}

@test "helpers: PARRUN and WORKER live in PARRUN_BUILD, which leads PATH" {
	[[ $PARRUN_BUILD == /* ]]
	[ "$PARRUN" = "$PARRUN_BUILD/parrun" ]
	[ "$WORKER" = "$PARRUN_BUILD/parrun-worker" ]
	[ "${PATH%%:*}" = "$PARRUN_BUILD" ]
	[ -x "$HARNESS/sshd-up.sh" ]
}

@test "helpers: MARK is unique to each test" {
	echo "$MARK" >>"$BATS_FILE_TMPDIR/marks"
	[[ $MARK == parrun-mark-*-"$BATS_SUITE_TEST_NUMBER"-* ]]
}

@test "helpers: a second test gets another MARK" {
	echo "$MARK" >>"$BATS_FILE_TMPDIR/marks"
	[ "$(sort -u "$BATS_FILE_TMPDIR/marks" | wc -l)" = 2 ]
}

@test "run_parrun runs PARRUN with FD 3 closed and passes run's options" {
	PARRUN=$BATS_TEST_TMPDIR/fake-parrun
	cat >"$PARRUN" <<-'EOF'
	#!/bin/sh
	[ -e /proc/$$/fd/3 ] && echo "fd3 open" || echo "fd3 closed"
	echo "args: $*"
	echo "to stderr" >&2
	exit "${1:-0}"
	EOF
	chmod +x "$PARRUN"
	run_parrun -0 0 a 'b c'
	[ "${lines[0]}" = "fd3 closed" ]
	[ "${lines[1]}" = "args: 0 a b c" ]
	run_parrun -3 --separate-stderr 3
	[ "$stderr" = "to stderr" ]
	run_parrun ! 4
}

@test "start_bg: teardown kills the process and its whole group" {
	start_bg bash -c '(exec -a "$0" sleep 300) & exec -a "$0" sleep 301' \
		"$MARK"
	[ "$(ps -o pgid= -p "$BG_PID" | tr -d ' ')" = "$BG_PID" ]
	for _ in $(seq 1 100); do
		[ "$(pgrep -c -f -- "$MARK")" = 2 ] && break
		sleep 0.05
	done
	[ "$(pgrep -c -f -- "$MARK")" = 2 ]
	helpers_teardown
	assert_no_process "$MARK"
	run ! pid_alive "$BG_PID"
}

@test "start_bg in setup_file: runs for the whole file" {
	pid_alive "$FILE_BG_PID"
	[ "$(pgrep -f -- "file-bg-$BATS_ROOT_PID")" = "$FILE_BG_PID" ]
}

@test "start_bg keeps the caller's stdin" {
	printf 'abc\n' >"$BATS_TEST_TMPDIR/in"
	start_bg sh -c 'cat >"$0"' "$BATS_TEST_TMPDIR/out" \
		<"$BATS_TEST_TMPDIR/in"
	wait "$BG_PID"
	[ "$(cat "$BATS_TEST_TMPDIR/out")" = abc ]
}

@test "assert_no_process fails after its deadline and lists what is left" {
	start_bg bash -c 'exec -a "$0" sleep 300' "$MARK"
	run -1 assert_no_process "$MARK" 0.2
	[[ $output == *"$MARK 300"* ]]
	[[ ${lines[0]} == "processes still running that match '$MARK':" ]]
}

@test "ssh: each loopback sshd answers through the generated ssh_config" {
	[ "$SSH_HOSTS" = "n1 n2" ]
	[ "$SSH_ADDR_1" = 127.0.0.2 ]
	[ "$SSH_ADDR_2" = 127.0.0.3 ]
	[ "$SSH_ENDPOINTS" = "127.0.0.2:$SSH_PORT_1 127.0.0.3:$SSH_PORT_2" ]
	for h in $SSH_HOSTS; do
		run -0 ssh -F "$SSH_CONFIG" "$h" echo ok
		[ "$output" = ok ]
	done
	pid_alive "$SSH_PID_1"
}

@test "ssh: key, port and private known_hosts work without ssh_config" {
	run -0 ssh -F /dev/null -p "$SSH_PORT_2" -i "$SSH_KEY" \
		-o IdentitiesOnly=yes -o BatchMode=yes \
		-o UserKnownHostsFile="$SSH_KNOWN_HOSTS" \
		-o GlobalKnownHostsFile=/dev/null \
		-o StrictHostKeyChecking=yes "root@$SSH_ADDR_2" \
		'echo $((6 * 7))'
	[ "$output" = 42 ]
	grep -q "^\[$SSH_ADDR_2\]:$SSH_PORT_2 ssh-ed25519 " "$SSH_KNOWN_HOSTS"
	# an unknown host key is refused
	run ! ssh -F /dev/null -p "$SSH_PORT_2" -i "$SSH_KEY" \
		-o BatchMode=yes -o UserKnownHostsFile=/dev/null \
		-o GlobalKnownHostsFile=/dev/null \
		-o StrictHostKeyChecking=yes "root@$SSH_ADDR_2" true
}

@test "ssh: a stopped instance is gone, with its sessions, and refuses" {
	run -0 "$HARNESS/sshd-up.sh" x9 127.0.0.9 auto 3>&-
	read -r addr port _ <"$TB_DIR/sshd/x9/endpoint"
	pid=$(cat "$TB_DIR/sshd/x9/pid")
	start_bg ssh -F "$SSH_CONFIG" x9 \
		"bash -c 'exec -a \"\$0\" sleep 300' $MARK"
	for _ in $(seq 1 100); do
		pgrep -f -- "$MARK 300" >/dev/null && break
		sleep 0.05
	done
	pgrep -f -- "$MARK 300"
	run -0 "$HARNESS/sshd-down.sh" x9
	run ! pid_alive "$pid"
	assert_no_process "$MARK"
	run ! grep -q '^Host x9$' "$SSH_CONFIG"
	run ! grep -qF "[$addr]:$port " "$SSH_KNOWN_HOSTS"
	run ! ssh -F /dev/null -p "$port" -o BatchMode=yes \
		-o ConnectTimeout=2 "root@$addr" true
	# the other instances are untouched
	ssh -F "$SSH_CONFIG" n1 true
}

@test "down-all.sh stops every server under a state root" {
	root=$HARNESS_FILE_DIR/down-all
	mkdir -p "$root"
	TB_DIR=$root/a run -0 "$HARNESS/sshd-up.sh" y1 127.0.0.10 auto 3>&-
	pid=$(cat "$root/a/sshd/y1/pid")
	pid_alive "$pid"
	run -0 "$HARNESS/down-all.sh" "$root"
	run ! pid_alive "$pid"
	[ ! -e "$root/a" ]
	run -0 "$HARNESS/down-all.sh" "$root"
	rmdir "$root"
}

@test "netns: two hosts reachable, each with its own hostname and address" {
	[ "$NETNS_HOSTS" = "h1 h2" ]
	# (not $i: bats' run sets it)
	for h in 1 2; do
		run -0 ssh -F "$SSH_CONFIG" "h$h" \
			'hostname; ip -o -4 addr show eth0'
		[ "${lines[0]}" = "h$h" ]
		[[ ${lines[1]} == *" $NETNS_NET.$((10 + h))/24 "* ]]
	done
	run -0 netns_exec 1 ip -o -4 addr show eth0
	[[ $output == *" $NETNS_ADDR_1/24 "* ]]
}

@test "hosts_exec resolves the harness host names, only inside" {
	run -0 hosts_exec getent hosts n2 h1
	[ "$(printf '%s\n' "${lines[@]}" | awk '{ printf "%s=%s ", $2, $1 }')" \
		= "n2=$SSH_ADDR_2 h1=$NETNS_ADDR_1 " ]
	run -0 hosts_exec ssh -F /dev/null -p "$SSH_PORT_1" -i "$SSH_KEY" \
		-o BatchMode=yes -o UserKnownHostsFile="$SSH_KNOWN_HOSTS" \
		-o HostKeyAlias="[$SSH_ADDR_1]:$SSH_PORT_1" \
		root@n1 echo via-name
	[ "$output" = via-name ]
	run ! grep -q " n2\$" /etc/hosts
}

@test "netns: a host whose link is down is unreachable until it is up" {
	netns_link_down 2
	run ! ssh -F "$SSH_CONFIG" -o ConnectTimeout=1 h2 true
	netns_link_up 2
	for _ in $(seq 1 50); do
		ssh -F "$SSH_CONFIG" -o ConnectTimeout=1 h2 true && break
		sleep 0.1
	done
	ssh -F "$SSH_CONFIG" h2 true
}

@test "slurm: a single-node cluster runs srun" {
	[ -f "$SLURM_CONF" ]
	run -0 srun true
	run -0 srun -n2 hostname
	[ "${#lines[@]}" = 2 ]
	[ "${lines[0]}" = "$SL_NODES" ]
}

@test "slurm: two nodes in multi mode, then in the netns hosts" {
	export SL_DIR=$HARNESS_FILE_DIR/slurm2
	export SLURM_CONF=$SL_DIR/slurm.conf
	run -0 "$HARNESS/slurm-up.sh" multi 2 3>&-
	run -0 srun -N2 -n2 printenv SLURMD_NODENAME
	[ "$(printf '%s\n' "${lines[@]}" | sort | tr '\n' ' ')" = "n1 n2 " ]
	pids=$(cat "$SL_DIR"/*.pidx)
	run -0 "$HARNESS/slurm-down.sh"
	for p in $pids; do run ! pid_alive "$p"; done
	[ ! -e "$SL_DIR" ]

	# NS_DIR is this file's network: slurmd joins its namespaces
	run -0 "$HARNESS/slurm-up.sh" netns 2 3>&-
	run -0 srun -N2 -n2 hostname
	[ "$(printf '%s\n' "${lines[@]}" | sort | tr '\n' ' ')" = "h1 h2 " ]
	run -0 "$HARNESS/slurm-down.sh"
	[ ! -e "$SL_DIR" ]
	# the namespaces belong to netns_setup_file and stay
	ssh -F "$SSH_CONFIG" h1 true
}

@test "run-bats counts passed, failed and skipped, and fails on a failure" {
	# (not a here-document: bats would rewrite its @test lines)
	printf '%s\n' 'bats_require_minimum_version 1.5.0' \
		'@test "passes" { true; }' \
		'@test "fails" { false; }' \
		'@test "skips" { skip "no reason"; }' >"$BATS_TEST_TMPDIR/t.bats"
	# a run of its own: its clean-up must not reach this file's servers
	run -1 env -u PARRUN_HARNESS_ROOT "$TOP/tests/run-bats" \
		"$BATS_TEST_TMPDIR/t.bats"
	[ "${lines[-1]}" = "1 passed, 1 failed, 1 skipped" ]
	run -0 env -u PARRUN_HARNESS_ROOT "$TOP/tests/run-bats" \
		-f 'pass|skip' "$BATS_TEST_TMPDIR/t.bats"
	[ "${lines[-1]}" = "1 passed, 0 failed, 1 skipped" ]
	ssh -F "$SSH_CONFIG" n1 true
}

@test "lint finds banned functions and stdout in lib/, not in comments" {
	t=$BATS_TEST_TMPDIR/tree
	mkdir -p "$t/tests" "$t/lib" "$t/cmd"
	cp "$TOP/tests/lint" "$t/tests/"
	cat >"$t/lib/a.c" <<-'EOF2'
	/* strcpy( in a comment, printf( and stdout too */
	static const char *m = "sprintf( in a string"; // strcat(
	int f(char *d) { return snprintf(d, 2, "%s", m); }
	EOF2
	run -0 "$t/tests/lint"
	echo 'void g(char *d) { strcpy(d, "x"); puts(d); }' >>"$t/lib/a.c"
	run -1 "$t/tests/lint"
	[[ $output == *'lib/a.c:4: void g(char *d) { strcpy(d, "x");'* ]]
	[[ $output == *"lib/ writes to stdout"* ]]
}

@test "tests/deps is quiet when nothing is missing" {
	if [[ ${CI:-} != true ]]; then
		# outside CI the packages may really be missing
		run tests/deps test
		[[ $status == 0 ]] || skip "packages missing: $output"
	fi
	run -0 "$TOP/tests/deps" test
	[ -z "$output" ]
	run -2 "$TOP/tests/deps" sideways
}
