#!/usr/bin/env bats
# Inside Slurm allocations: a private cluster of two nodes h1 and h2 (2 CPUs
# each), each slurmd in its own network namespace with its own address and
# hostname (tests/harness/slurm-up.sh netns 2).  parrun reads the
# allocation, starts one worker per node with one srun step, and the
# workers connect back over TCP.

bats_require_minimum_version 1.5.0
load helpers
load slurm

setup_file() {
	export SL_CPUS=2
	slurm_setup_file netns 2
}

teardown_file() {
	helpers_teardown_file
	slurm_teardown_file
}

setup() {
	helpers_setup
	cd "$BATS_TEST_TMPDIR"
	# the bridge: the one address of this host the nodes reach
	# shellcheck source=/dev/null
	. "$(cat "$SL_DIR/netns-dir")/config"
	GW=$NS_GW
	export PARRUN_CONNECT_MS=10000
}

teardown() {
	helpers_teardown
}

# the task of most tests: prints where it ran
TASK=(sh -c 'sleep 0.2; echo $(hostname) $SLURMD_NODENAME')
# the same, once both nodes have started a task (see meet)
both() {
	echo "$(meet "$BATS_TEST_TMPDIR" h1 h2) sleep ${1:-0.2};" \
		'echo $(hostname) $SLURMD_NODENAME'
}

@test "slurm: parrun hosts shows the allocation; --launcher picks the way" {
	run -0 alloc -N2 -n3 bash -c "$PARRUN hosts --json |
		jq -r '.hosts[] | \"\(.host) \(.slots) \(.via)\"'"
	[ "${lines[0]}" = "h1 2 srun" ]
	[ "${lines[1]}" = "h2 1 srun" ]
	run -0 alloc -N2 bash -c "$PARRUN hosts --launcher ssh --json |
		jq -r '[.hosts[] | \"\(.host):\(.via)\"] | join(\" \")'"
	[ "$output" = "h1:ssh h2:ssh" ]
	run -0 alloc -N2 bash -c "$PARRUN hosts --launcher local -j 3 --json |
		jq -r '.hosts[] | \"\(.host) \(.workers) \(.via)\"'"
	[ "$output" = "localhost 3 local" ]
	# outside an allocation
	run -255 --separate-stderr "$PARRUN" --launcher srun true ::: 1
	[[ $stderr == *"--launcher srun needs a Slurm allocation"* ]]
	run -255 --separate-stderr "$PARRUN" --launcher bogus true ::: 1
	[[ $stderr == *"invalid --launcher 'bogus'"* ]]
}

@test "slurm: under salloc, tasks run on every node of the allocation and nowhere else" {
	alloc -N2 -n4 "$PARRUN" --results res.jsonl sh -c "$(both)" \
		::: $(seq 1 20) >/dev/null 2>err
	cat err
	exact res.jsonl 20
	[ "$(jq -r .host res.jsonl | sort -u | tr '\n' ' ')" = "h1 h2 " ]
	# a single-node allocation: that node alone
	alloc -N1 -n2 -w h2 "$PARRUN" --results one.jsonl "${TASK[@]}" \
		::: $(seq 1 6) >/dev/null
	exact one.jsonl 6
	[ "$(jq -r .host one.jsonl | sort -u)" = h2 ]
	# the step is gone with the run
	[ -z "$(squeue -h -s)" ]
}

@test "slurm: each node runs as many tasks at once as its slots" {
	# -n3 on two 2-CPU nodes: SLURM_TASKS_PER_NODE=2,1
	alloc -N2 -n3 bash -c "$PARRUN hosts --json >hosts.json &&
		$PARRUN --results res.jsonl sh -c '$(both 0.4)' \
		::: \$(seq 1 12) >/dev/null"
	exact res.jsonl 12
	jq -r '.hosts[] | "\(.host) \(.slots)"' hosts.json | sort >slots
	conc res.jsonl >seen
	cat slots seen
	diff slots seen
}

@test "slurm: sbatch --wait runs examples/slurm.sbatch: tasks from a file, --results" {
	# each task waits (bounded) until both nodes have started one, so
	# both take part whichever connects first
	for i in $(seq 1 8); do
		jq -n -c --arg id "$i" --arg sh "$(both 0)" '{id: $id, sh: $sh}'
	done >tasks.jsonl
	timeout 60 sbatch -Q --wait -N2 --ntasks-per-node=2 -o job.out \
		"$TOP/examples/slurm.sbatch" tasks.jsonl res.jsonl 3>&-
	cat job.out
	exact res.jsonl 8
	[ "$(jq -r .host res.jsonl | sort -u | tr '\n' ' ')" = "h1 h2 " ]
	grep -q '8 of 8 tasks ok' job.out
	# the journal knows them all: the script again (in an allocation of
	# salloc's, quicker than sbatch --wait) runs nothing again
	alloc -N2 --ntasks-per-node=2 bash "$TOP/examples/slurm.sbatch" \
		tasks.jsonl res2.jsonl >job2.out
	cat job2.out
	[ ! -s res2.jsonl ]
	grep -q 'parrun exit status 0' job2.out
}

@test "slurm: a worker killed mid-run: its tasks run again elsewhere, each task once" {
	ln -s "$WORKER" "w-$MARK"
	start_bg timeout 60 salloc -Q -N2 -n4 "$PARRUN" \
		--remote-worker "$PWD/w-$MARK" --results res.jsonl \
		sh -c "$(both 0.3)" ::: $(seq 1 30) >/dev/null 2>err
	SA=$BG_PID
	# h2's worker, once it runs a task
	victim=
	for ((i = 0; i < 400; i++)); do
		for p in $(pgrep -f -- "w-$MARK --connect"); do
			if tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null |
				grep -qx SLURMD_NODENAME=h2 &&
				pgrep -P "$p" >/dev/null; then
				victim=$p
			fi
		done
		[[ -n $victim ]] && break
		sleep 0.05
	done
	[ -n "$victim" ]
	kill -9 "$victim"
	rc=0
	wait "$SA" || rc=$?
	cat err
	[ "$rc" -eq 0 ]
	exact res.jsonl 30
	grep -q "worker 2 (h2, pid $victim) lost" err
	# what h2 was running when it died ran again on h1
	jq -e -s 'any(.[]; .attempts == 2)' res.jsonl
	jq -e -s 'all(.[] | select(.attempts == 2); .host == "h1")' res.jsonl
	assert_no_process "w-$MARK"
}

@test "slurm: a node whose worker never connects is named; the others run the tasks" {
	wrapper w.sh h2 fail
	run -0 --separate-stderr alloc -N2 -n4 "$PARRUN" --connect-timeout 1 \
		--remote-worker "$PWD/w.sh" --results - \
		sh -c 'sleep 0.4; echo $(hostname) $SLURMD_NODENAME' \
		::: $(seq 1 8)
	echo "$stderr"
	[[ $stderr == *"node 'h2' never connected"* ]]
	echo "$output" >res.jsonl
	exact res.jsonl 8
	[ "$(jq -r .host res.jsonl | sort -u)" = h1 ]
	# no node at all: every task lost, exit 255
	wrapper none.sh h1 fail
	run -255 --separate-stderr alloc -N1 -w h1 "$PARRUN" \
		--connect-timeout 1 --remote-worker "$PWD/none.sh" \
		--results - true ::: 1 2
	[[ $stderr == *"node 'h1' never connected"* ]]
	[[ $stderr == *"no worker left"* ]]
	jq -e -s 'length == 2 and all(.[]; .status == "lost")' <<<"$output"
}

@test "slurm: the listener is on the address the nodes reach, not on every interface" {
	# h2's worker waits for the file 'go': its listener is still open
	# to be seen once h1 runs a task
	wrapper slow.sh h2 hold
	start_bg timeout 60 salloc -Q -N2 -n2 "$PARRUN" \
		--remote-worker "$PWD/slow.sh" --results res.jsonl \
		sh -c "$(both 0.3)" "$MARK" ::: $(seq 1 16) >/dev/null 2>err
	SA=$BG_PID
	pp=
	for ((i = 0; i < 400; i++)); do
		pp=$(pgrep -f -- "^$PARRUN .*$MARK" || true)
		[[ -n $pp && -e on.h1 ]] && break
		sleep 0.05
	done
	[ -n "$pp" ]
	[ -e on.h1 ]
	# parrun's own sockets (salloc lets its children inherit one of its
	# own, which they then hold too)
	ss -ltnpH | grep "users:((\"parrun\",pid=$pp,fd=[0-9]*))" |
		awk '{print $4}' >addrs
	cat addrs
	[ -s addrs ]
	run ! grep -v "^$GW:[0-9]*\$" addrs
	touch go
	rc=0
	wait "$SA" || rc=$?
	[ "$rc" -eq 0 ]
	exact res.jsonl 16
	[ "$(jq -r .host res.jsonl | sort -u | tr '\n' ' ')" = "h1 h2 " ]
}

@test "slurm: the secret travels on srun's stdin: in no /proc/*/cmdline or environ" {
	(umask 077 && openssl rand -hex 32 >sec)
	tr -d '\n' <sec >pattern
	start_bg timeout 60 salloc -Q -N2 -n2 "$PARRUN" --launcher srun \
		--listen "$GW:0" --secret-file sec --results res.jsonl \
		sh -c 'sleep 1.5; env' "$MARK" ::: 1 2 3 4 >/dev/null 2>err
	SA=$BG_PID
	# once the tasks run (the workers have read the secret)
	for ((i = 0; i < 100; i++)); do
		[[ -n $(pgrep -f -- "^sh -c sleep 1.5; env $MARK") ]] && break
		sleep 0.05
	done
	# one grep over them all; the pattern comes from a file, so it is
	# not in grep's own argv
	found=$(grep -a -l -F -f pattern /proc/[0-9]*/cmdline \
		/proc/[0-9]*/environ 2>/dev/null || true)
	echo "$found"
	[ -z "$found" ]
	rc=0
	wait "$SA" || rc=$?
	[ "$rc" -eq 0 ]
	jq -e -s 'length == 4 and all(.[]; .status == "ok")' res.jsonl
	# nor in the tasks' environment (env printed it all)
	run ! grep -q -F -f pattern res.jsonl
}

@test "slurm: a worker with a wrong secret is refused while the nodes' workers work" {
	(umask 077 && openssl rand -hex 32 >sec && openssl rand -hex 32 >bad)
	port=$(h_pick_ports 1)
	# one fixed port for all: the nodes are told apart by their names
	start_bg timeout 60 salloc -Q -N2 -n4 "$PARRUN" --launcher srun \
		--listen "$GW:$port" --secret-file sec --results res.jsonl \
		sh -c "$(both 0.3)" ::: $(seq 1 16) >/dev/null 2>err
	SA=$BG_PID
	rc=0
	PARRUN_CONNECT_MS=5000 "$WORKER" --connect "$GW:$port" \
		--secret-file bad </dev/null >/dev/null 2>rogue 3>&- || rc=$?
	[ "$rc" -eq 3 ]
	grep -q 'bad MAC' rogue
	rc=0
	wait "$SA" || rc=$?
	cat err
	[ "$rc" -eq 0 ]
	grep -q "refused worker from '$GW:" err
	exact res.jsonl 16
	[ "$(jq -r .host res.jsonl | sort -u | tr '\n' ' ')" = "h1 h2 " ]
	# two workers, one per node (the rogue never became one)
	[ "$(jq -r .worker res.jsonl | sort -u | wc -l)" -eq 2 ]
}

@test "slurm: --launcher local runs here; --listen takes workers from the user's own srun" {
	run -0 alloc -N2 "$PARRUN" --launcher local -j 2 --results - \
		sh -c 'echo $(hostname) ${SLURMD_NODENAME:-none}' ::: 1 2 3
	[ "$(jq -j .stdout <<<"$output" | sort -u)" = "$(hostname) none" ]
	# srun-less: parrun starts no step; the user's srun starts the workers
	(umask 077 && openssl rand -hex 32 >sec)
	alloc -N2 -n2 bash -c "
		$PARRUN --listen $GW:0 --secret-file sec --results res.jsonl \
			sh -c '$(both)' ::: \$(seq 1 10) >/dev/null 2>err &
		for i in \$(seq 1 100); do
			grep -q 'listening for workers' err && break
			sleep 0.05
		done
		addr=\$(sed -n 's/.*listening for workers on \([^;]*\);.*/\1/p' err)
		srun --overlap -N2 -n2 $WORKER --connect \$addr --secret-file sec
		wait \$!"
	cat err
	exact res.jsonl 10
	[ "$(jq -r .host res.jsonl | sort -u | tr '\n' ' ')" = "h1 h2 " ]
}
