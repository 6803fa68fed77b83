#!/usr/bin/env bats
# Inside Slurm allocations on a cluster of one node: this host, with 4 CPUs
# (tests/harness/slurm-up.sh single; the CPUs are Slurm's count, not the
# machine's).  The allocation's -n, --ntasks-per-node and --cpus-per-task
# give the node's slots; parrun runs under salloc, under sbatch, and as a
# step of its own (srun -n1 parrun).

bats_require_minimum_version 1.5.0
load helpers
load slurm

setup_file() {
	export SL_CPUS=4
	slurm_setup_file single
}

teardown_file() {
	helpers_teardown_file
	slurm_teardown_file
}

setup() {
	helpers_setup
	cd "$BATS_TEST_TMPDIR"
	NODE=$SL_NODES
	export PARRUN_CONNECT_MS=10000
	# a worker whose command line names this test
	ln -s "$WORKER" "w-$MARK"
}

teardown() {
	helpers_teardown
}

# task N: shell code that waits (up to 20 s) until N tasks have started,
# else exits 9, so a run shows that N tasks ran at once; then sleeps
# 0.3 s (for conc) and prints where it ran
task() {
	local d=$BATS_TEST_TMPDIR/started.$RANDOM$RANDOM
	mkdir "$d"
	# shellcheck disable=SC2016 # expanded by the task's shell
	printf '%s' "touch $d/\$PARRUN_TASK_ID; i=0;" \
		"while set -- $d/*; [ \$# -lt $1 ] && [ \$i -lt 400 ]; do" \
		' sleep 0.05; i=$((i + 1)); done; [ $i -lt 400 ] || exit 9;' \
		' sleep 0.3; echo $(hostname -s) $SLURMD_NODENAME'
}

# quiet: no step of a job left, no worker of this test left
quiet() {
	[ -z "$(squeue -h -s)" ]
	assert_no_process "w-$MARK"
}

@test "slurm single: parrun hosts: the node's slots from -n, --ntasks-per-node, --cpus-per-task" {
	# salloc arguments | slots cpus (of 4 CPUs)
	local cases=(
		"-n1|1 1"
		"-n3|3 3"
		"-N1|1 1"
		"-c3|1 3"
		"-n2 -c2|2 4"
		"-n1 -c3|1 3"
		"--ntasks-per-node=3|3 3"
		"--ntasks-per-node=2 --cpus-per-task=2|2 4"
		"--exclusive|4 4"
		"--exclusive -c2|2 4"
		"-w $NODE -n2|2 2"
	)
	local c args want
	for c in "${cases[@]}"; do
		args=${c%%|*}
		want=${c#*|}
		# shellcheck disable=SC2086 # the arguments are words
		run -0 alloc $args "$PARRUN" hosts --json
		echo "salloc $args: $output"
		[ "$(jq -r '.hosts[] | "\(.host) \(.slots) \(.cpus) \(.via)"' \
			<<<"$output")" = "$NODE $want srun" ]
	done
	# the table
	run -0 alloc -n3 "$PARRUN" hosts
	[ "${lines[1]%% *}" = "$NODE" ]
	[ "$(awk 'NR == 2 { print $4, $5, $6, $7, $8 }' <<<"$output")" = \
		"1 3 3 srun SLURM_JOB_NODELIST" ]
	[ "${lines[2]}" = "1 host, 3 slots, 1 worker" ]
	# a list that does not fit the node list is named, with the node list
	run -255 --separate-stderr alloc -n2 env SLURM_TASKS_PER_NODE='2(x2)' \
		"$PARRUN" hosts
	[[ $stderr == *"SLURM_TASKS_PER_NODE '2(x2)' gives more than 1 count for the 1 node of SLURM_JOB_NODELIST '$NODE'"* ]]
	run -255 --separate-stderr alloc -n2 env SLURM_JOB_NODELIST="$NODE[" \
		"$PARRUN" true ::: 1
	[[ $stderr == *"SLURM_JOB_NODELIST '$NODE[': column "* ]]
	[ -z "$output" ]
	quiet
}

@test "slurm single: under salloc, tasks run on the node, as many at once as its slots" {
	# salloc arguments | slots
	local cases=("-n3|3" "-n2 -c2|2" "--ntasks-per-node=1|1" "--exclusive|4")
	local c args s k=0
	for c in "${cases[@]}"; do
		args=${c%%|*}
		s=${c#*|}
		k=$((k + 1))
		# shellcheck disable=SC2086 # the arguments are words
		alloc $args "$PARRUN" --remote-worker "$PWD/w-$MARK" \
			--results "res$k.jsonl" sh -c "$(task "$s")" \
			::: $(seq 1 $((2 * s + 1))) >/dev/null 2>err
		cat err
		exact "res$k.jsonl" $((2 * s + 1))
		# one worker, never more tasks at once than slots
		[ "$(jq -r .worker "res$k.jsonl" | sort -u)" = 1 ]
		[ "$(conc "res$k.jsonl")" = "$NODE $s" ]
	done
	quiet
}

@test "slurm single: sbatch --wait runs examples/slurm.sbatch on the node" {
	local t
	t=$(task 3)
	for i in $(seq 1 7); do
		jq -n -c --arg id "$i" --arg sh "$t" '{id: $id, sh: $sh}'
	done >tasks.jsonl
	timeout 60 sbatch -Q --wait -N1 --ntasks-per-node=3 -o job.out \
		"$TOP/examples/slurm.sbatch" tasks.jsonl res.jsonl 3>&-
	cat job.out
	exact res.jsonl 7
	[ "$(conc res.jsonl)" = "$NODE 3" ]
	# its `parrun hosts`
	[ "$(awk -v n="$NODE" '$1 == n && NF == 8 { print $4, $5, $6, $7 }' \
		job.out)" = \
		"1 3 3 srun" ]
	grep -q '7 of 7 tasks ok' job.out
	# again, in an allocation of salloc's: the journal knows them all
	alloc -N1 --ntasks-per-node=3 bash "$TOP/examples/slurm.sbatch" \
		tasks.jsonl res2.jsonl >job2.out
	cat job2.out
	[ ! -s res2.jsonl ]
	grep -q 'parrun exit status 0' job2.out
	quiet
}

@test "slurm single: srun -n1 parrun: its workers' step runs beside its own, which holds every CPU" {
	# --whole: parrun's step holds all the allocation's CPUs, so a worker
	# step that waited for them (no --overlap) would never start; tasks
	# come on stdin, through srun
	local t
	t=$(task 2)
	seq 1 5 | alloc -n2 bash -c "
		srun -n1 --whole $PARRUN hosts --json </dev/null >hosts.json &&
		srun -n1 --whole bash -c 'echo \$SLURM_STEP_ID >step &&
			exec \"\$0\" \"\$@\"' $PARRUN \
			--remote-worker $PWD/w-$MARK --results res.jsonl \
			sh -c '$t; echo \$SLURM_STEP_ID >&2' >/dev/null 2>err"
	cat err
	# every line of stdin a task, each once, two at once
	[ "$(jq -r '.hosts[] | "\(.host) \(.slots) \(.cpus)"' hosts.json)" = \
		"$NODE 2 2" ]
	exact res.jsonl 5
	[ "$(conc res.jsonl)" = "$NODE 2" ]
	# in a step that is not parrun's
	[ "$(jq -j .stderr res.jsonl | sort -u | wc -l)" = 1 ]
	[ "$(jq -j .stderr res.jsonl | sort -u)" != "$(cat step)" ]
	quiet
}

@test "slurm single: srun -n2 parrun: each copy would run every task, so none runs" {
	run -255 --separate-stderr alloc -n2 srun "$PARRUN" \
		--remote-worker "$PWD/w-$MARK" --results res.jsonl true ::: 1 2
	echo "$stderr"
	[ "$(grep -c "running as one of 2 tasks of Slurm step [0-9]*\.0, each copy would run every task: start one (srun -n1 parrun ...), or run parrun without srun" <<<"$stderr")" -eq 2 ]
	[[ $stderr == *"Exited with exit code 255"* ]]
	[ ! -s res.jsonl ]
	# --launcher local, or --listen, leave Slurm alone: every copy runs
	# its own tasks on its own node
	run -0 --separate-stderr alloc -n2 srun "$PARRUN" --launcher local \
		-j 1 --results - \
		sh -c 'echo $SLURM_PROCID' ::: 1
	[ "$(jq -j .stdout <<<"$output" | sort | tr '\n' ' ')" = "0 1 " ]
	quiet
}
