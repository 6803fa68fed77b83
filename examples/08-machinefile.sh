#!/bin/sh
# 08-machinefile.sh [BUILD_DIR] - the notes' machinefile: the hosts to run
# workers on, and how many slots each.
#
# parrun reads the formats people already have files for: a plain list
# (the notes' file, or `srun hostname > machines`), Julia's
# --machine-file, MPI host files, GNU parallel's --sshloginfile and
# disBatch.  `parrun hosts` prints the layout it resolved, without
# contacting any host.  Then a file of local entries only (`:` is this
# machine) runs tasks, so this example runs anywhere.
set -eu
build=${1:-${PARRUN_BUILD:-$(dirname "$0")/../build}}
PATH=$(cd "$build" && pwd):$PATH	# absolute: the script moves to a
export PATH				# temporary directory

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"

cat >cluster <<'MF'
# host                           what it gives
radagast.berkeley.edu            # the notes' file: one line, one slot
radagast.berkeley.edu            # the same host again: 2 slots
gandalf.berkeley.edu slots=2     # MPI hostfile
node07:4                         # disBatch, MPICH: 4 slots
4/bob@far.example.org:2200       # GNU parallel: 4 slots, user, port
2*alice@lab.example.org:2222 10.1.2.3  # Julia: 2 slots, port, bind_addr
[::1]:2222                       # IPv6 loopback, reached over SSH
rack[1-2]n[01-02] slots=8        # a host list: 4 hosts of 8 slots
:                                # this machine, 1 slot
MF
echo "== parrun hosts --machinefile cluster"
parrun hosts --machinefile cluster

cat >local <<'MF'
:             # this machine, 1 slot
2/:           # GNU parallel's form: 2 more slots here
MF
echo "== parrun hosts --machinefile local"
parrun hosts --machinefile local
echo "== 6 tasks on it, in input order"
# shellcheck disable=SC2016 # expanded by the task's shell
seq 6 | parrun --machinefile local -k sh -c \
	'echo "task $0 ran on worker $PARRUN_WORKER of host $(uname -n)"'
