#!/usr/bin/env bats
# Inside a single-node Slurm allocation (tests/harness/slurm-up.sh single:
# this machine as the one node, with its CPUs): salloc, sbatch, parrun run
# as a step of its own, and the slots and threads the allocation gives.

bats_require_minimum_version 1.5.0
load helpers

setup_file() {
	export SL_CPUS=2
	slurm_setup_file single
}

teardown_file() {
	helpers_teardown_file
	slurm_teardown_file
}

setup() {
	helpers_setup
	cd "$BATS_TEST_TMPDIR"
	NODE=$(cat "$SL_DIR/nodes")
	export PARRUN_CONNECT_MS=10000
}

teardown() {
	helpers_teardown
}

alloc() {
	timeout 60 salloc -Q "$@" 3>&-
}

# exact RESULTS N: ids 1..N, each once, every one ok, all on the node
exact() {
	[ "$(jq -r .id "$1" | sort -n | tr '\n' ' ')" = "$(seq 1 "$2" | tr '\n' ' ')" ]
	jq -e -s 'all(.[]; .status == "ok")' "$1"
	[ "$(jq -r .host "$1" | sort -u)" = "$NODE" ]
	[ "$(jq -r '.stdout | rtrimstr("\n")' "$1" | sort -u)" = "$NODE" ]
}

@test "slurm single: salloc gives the node and its slots; every task runs there" {
	run -0 alloc -N1 -n2 bash -c "$PARRUN hosts --json |
		jq -r '.hosts[] | \"\(.host) \(.slots) \(.via)\"'"
	[ "$output" = "$NODE 2 srun" ]
	alloc -N1 -n2 "$PARRUN" --results r.jsonl sh -c 'echo $SLURMD_NODENAME' \
		::: $(seq 1 8) >/dev/null
	exact r.jsonl 8
	[ -z "$(squeue -h -s)" ]
}

@test "slurm single: --cpus-per-task sets the slots and each task's threads" {
	# -n1 -c2: one task of two CPUs, so one slot with two threads
	alloc -N1 -n1 -c2 bash -c "$PARRUN hosts --json >hosts.json &&
		$PARRUN --results r.jsonl sh -c 'echo \$OMP_NUM_THREADS' ::: 1 2" \
		>/dev/null
	[ "$(jq -r '.hosts[0].slots' hosts.json)" = 1 ]
	[ "$(jq -r '.stdout | rtrimstr("\n")' r.jsonl | sort -u)" = 2 ]
}

@test "slurm single: sbatch --wait runs examples/slurm.sbatch" {
	for i in $(seq 1 6); do
		printf '{"id":"%d","sh":"echo $SLURMD_NODENAME"}\n' "$i"
	done >tasks.jsonl
	timeout 60 sbatch -Q --wait -N1 --ntasks-per-node=2 -o job.out \
		"$TOP/examples/slurm.sbatch" tasks.jsonl res.jsonl 3>&-
	cat job.out
	exact res.jsonl 6
	grep -q '6 of 6 tasks ok' job.out
}

@test "slurm single: parrun run as a step (srun parrun) starts its workers beside itself" {
	alloc -N1 -n2 srun -N1 -n1 "$PARRUN" --results r.jsonl \
		sh -c 'echo $SLURMD_NODENAME' ::: $(seq 1 6) >/dev/null
	exact r.jsonl 6
	[ -z "$(squeue -h -s)" ]
}
