#!/usr/bin/env bats
# Host layouts: parrun hosts, machinefiles, -S, --ssh-command.

bats_require_minimum_version 1.5.0
load helpers

setup() {
	helpers_setup
	cd "$BATS_TEST_TMPDIR"
	FAKE=$BATS_TEST_DIRNAME/../fixtures/workers
}

@test "parrun hosts prints the resolved layout of every machinefile form" {
	cat > hosts <<-'EOF'
	# comment
	2*alice@node1:2200
	node2 slots=3
	4/node3
	node4:2
	:
	EOF
	run -0 parrun hosts --machinefile hosts
	[[ "${lines[0]}" == HOST* ]]
	[[ "$output" == *"node1"*"alice"*"2200"* ]]
	run -0 bash -c "parrun hosts --json --machinefile hosts | jq -r '.hosts[] | \"\(.host) \(.slots) \(.via)\"'"
	[ "$output" = "$(printf 'node1 2 ssh\nnode2 3 ssh\nnode3 4 ssh\nnode4 2 ssh\nlocalhost 1 local')" ]
}

@test "-S takes hostlist ranges" {
	run -0 bash -c "parrun hosts --json -S '2/n[01-03],:' | jq -r '[.hosts[].host] | join(\" \")'"
	[ "$output" = "n01 n02 n03 localhost" ]
}

@test "a bad machinefile names the file, line and column" {
	printf 'node1\nnode2 slots=x\n' > hosts
	run -255 --separate-stderr parrun hosts --machinefile hosts
	[[ "$stderr" == *"hosts:2:"* ]]
}

@test "without hosts, parrun hosts shows the local workers" {
	run -0 bash -c "parrun hosts --json -j 3 | jq -r '.hosts[0] | \"\(.host) \(.workers) \(.via)\"'"
	[ "$output" = "localhost 3 local" ]
}

@test "--ssh-command starts one worker per host through that command" {
	# static: tasks alternate between the two hosts whichever connects first
	export FAKE_SSH_LOG=$BATS_TEST_TMPDIR/ssh.log
	run -0 bash -c "parrun -S '2/alice@hostA:2200,1/hostB' --ssh-command $FAKE/fake-ssh --remote-worker '$WORKER' --schedule static --results - sh -c 'echo \$PARRUN_FAKE_HOST' ::: 1 2 3 4 5 6 3>&- | jq -r '[.host, .stdout] | @tsv' | sort -u"
	[ "$output" = "$(printf 'hostA\thostA\\n\nhostB\thostB\\n')" ]
	# one connection per host, whatever the number of tasks
	[ "$(wc -l < ssh.log)" -eq 2 ]
	grep -qx -- "-p 2200 -l alice -- hostA '$WORKER' --slots 2 --max-frame 1048576" ssh.log
}

@test "local hosts in a machinefile run local workers" {
	printf '2/:\n' > hosts
	run -0 bash -c "parrun --machinefile hosts --schedule static --results - true ::: 1 2 3 4 3>&- | jq -r .worker | sort -u | tr '\n' ' '"
	[ "$output" = "1 2 " ]
}
