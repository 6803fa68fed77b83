#!/usr/bin/env bash
# slurm-up.sh - a private Slurm cluster for the tests: munged, slurmctld -D
# and slurmd -D in the background, all state under $SL_DIR.
#
# Usage: slurm-up.sh [single | multi N | netns N]
#   single   one node named $(hostname -s) at 127.0.0.1, CPUs=$(nproc)
#   multi N  N nodes n1..nN, all at 127.0.0.1 with their own slurmd ports
#            (several `slurmd -N nI`; `hostname` is the same on all)
#   netns N  N nodes h1..hN; slurmd I runs in namespace hI of netns-up.sh
#            (own address and hostname hI); slurmctld is reached on the
#            bridge address.  Uses $NS_DIR if it holds a network already,
#            else makes one in $SL_DIR/netns and removes it on the way down.
# Environment:
#   SL_DIR    state directory (required; e.g. a mktemp -d)
#   SL_PORT   slurmctld port; slurmd ports follow it (default: a free range
#             drawn at random)
#   SL_CPUS   CPUs per node (default: nproc for single, 1 otherwise; may
#             be more than the machine has)
#   SL_AUTH   munge (default) | none (auth/none, insecure, faster)
#   SL_NOINADDRANY=1   slurmd binds its node address, not 0.0.0.0
#   SL_KEEP_ON_FAIL=1  on failure keep daemons and $SL_DIR for debugging
#   NS_DIR    netns mode: network state directory (see above)
# Then: export SLURM_CONF=$SL_DIR/slurm.conf   (also in $SL_DIR/env)
#
# Daemons are recorded by PID in $SL_DIR/*.pidx; slurm-down.sh stops them.
# A running cluster of the same mode in this SL_DIR is left alone; on any
# failure the logs are printed and everything started is stopped.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/harness/lib.sh
. "$HERE/lib.sh"
h_need_dir SL_DIR

MODE=${1:-single}
N=${2:-1}
case $MODE in
single) N=1 ;;
multi|netns)
	if ! [[ $N =~ ^[0-9]+$ ]] || [[ $N -lt 1 || $N -gt 50 ]]; then
		echo "slurm-up: bad node count '$N'" >&2
		exit 2
	fi
	;;
*)
	echo "usage: slurm-up.sh [single | multi N | netns N]" >&2
	exit 2
	;;
esac
CONF=$SL_DIR/slurm.conf
export SLURM_CONF=$CONF
t0=$(h_now)

for b in munged munge unmunge slurmctld slurmd srun sinfo scancel; do
	if ! command -v "$b" >/dev/null; then
		echo "slurm-up: $b missing: apt-get install slurm-wlm munge" >&2
		exit 1
	fi
done

alive_pidx() { # file: the recorded daemon is running
	[[ -f $1 ]] && h_alive "$(cat "$1")" && h_owns "$(cat "$1")" "$SL_DIR/"
}

if [[ -f $SL_DIR/mode && "$(cat "$SL_DIR/mode")" == "$MODE $N" ]] &&
	alive_pidx "$SL_DIR/slurmctld.pidx"; then
	ok=1
	for f in "$SL_DIR"/slurmd-*.pidx; do
		alive_pidx "$f" || ok=0
	done
	if [[ $ok == 1 ]]; then
		echo "slurm-up: already running ($MODE $N)"
		exit 0
	fi
fi
# stale, or another mode: start over (keeps a caller's NS_DIR)
if [[ -f $SL_DIR/.harness-kind ]]; then
	"$HERE/slurm-down.sh" >/dev/null
fi

on_exit() {
	local rc=$? f
	[[ $rc -eq 0 ]] && return
	for f in "$SL_DIR"/log/*; do
		[[ -f $f ]] || continue
		echo "--- $f" >&2
		grep -v pmix "$f" | tail -8 >&2
	done
	[[ ${SL_KEEP_ON_FAIL:-0} == 1 ]] || "$HERE/slurm-down.sh" >&2
	exit "$rc"
}
trap on_exit EXIT
mkdir -p "$SL_DIR"/{munge,ctld,spool,log}
echo slurm >"$SL_DIR/.harness-kind"
# munged wants a socket directory that everybody may enter, and so every
# directory above it: a mktemp -d parent (mode 0700) must be opened up by
# its owner first (the bats helpers do)
chmod 755 "$SL_DIR" "$SL_DIR/munge"
d=$(cd "$SL_DIR" && pwd -P)
while [[ ${SL_AUTH:-munge} == munge && $d != / ]]; do
	d=$(dirname "$d")
	if [[ $((0$(stat -c %a "$d") & 1)) == 0 ]]; then
		echo "slurm-up: munged needs o+x on every directory above" \
			"$SL_DIR; '$d' lacks it (chmod o+x '$d')" >&2
		exit 1
	fi
done
echo "$MODE $N" >"$SL_DIR/mode"

# ---- ports ------------------------------------------------------------------
# ctld = P, slurmd = P+1, node I of "multi" = P+1+I
if [[ -n ${SL_PORT:-} ]]; then
	PORT=$SL_PORT
else
	PORT=$(h_pick_ports $((N + 2)))
fi
echo "$PORT" >"$SL_DIR/port"

# ---- nodes ------------------------------------------------------------------
H=$(hostname -s)
CTLD_ADDR=127.0.0.1
NODES=()
NODENAMES=()
case $MODE in
single)
	CPUS=${SL_CPUS:-$(nproc)}
	NODES=("NodeName=$H NodeAddr=127.0.0.1 CPUs=$CPUS State=UNKNOWN")
	NODENAMES=("$H")
	;;
multi)
	CPUS=${SL_CPUS:-1}
	for ((i = 1; i <= N; i++)); do
		NODES+=("NodeName=n$i NodeHostname=$H NodeAddr=127.0.0.1")
		NODES[-1]+=" Port=$((PORT + 1 + i)) CPUs=$CPUS State=UNKNOWN"
		NODENAMES+=("n$i")
	done
	;;
netns)
	CPUS=${SL_CPUS:-1}
	if [[ -z ${NS_DIR:-} || ! -f ${NS_DIR:-}/config ]]; then
		export NS_DIR=$SL_DIR/netns
		echo "$NS_DIR" >"$SL_DIR/netns-owned"
	fi
	"$HERE/netns-up.sh" "$N" --no-sshd >/dev/null
	echo "$NS_DIR" >"$SL_DIR/netns-dir"
	# shellcheck source=/dev/null
	. "$NS_DIR/config"
	CTLD_ADDR=$NS_GW
	for ((i = 1; i <= N; i++)); do
		NODES+=("NodeName=h$i NodeAddr=$NS_NET.$((10 + i))")
		NODES[-1]+=" CPUs=$CPUS State=UNKNOWN"
		NODENAMES+=("h$i")
	done
	;;
esac
echo "${NODENAMES[*]}" >"$SL_DIR/nodes"

# ---- munge ------------------------------------------------------------------
if [[ ${SL_AUTH:-munge} == munge ]]; then
	M=$SL_DIR/munge
	dd if=/dev/urandom of="$M/munge.key" bs=1024 count=1 status=none
	chmod 600 "$M/munge.key"
	munged -F --key-file="$M/munge.key" --socket="$M/munge.sock" \
		--pid-file="$M/munged.pid" --log-file="$M/munged.log" \
		--seed-file="$M/munged.seed" \
		</dev/null >"$SL_DIR/log/munged.out" 2>&1 3>&- &
	echo $! >"$SL_DIR/munged.pidx"
	# (a loaded machine has taken over 5 s: wait up to 30)
	for ((i = 0; i < 600; i++)); do
		[[ -S $M/munge.sock ]] && break
		alive_pidx "$SL_DIR/munged.pidx" || break
		sleep 0.05
	done
	if ! munge -S "$M/munge.sock" -n </dev/null |
		unmunge -S "$M/munge.sock" >/dev/null; then
		echo "slurm-up: munged not working" >&2
		tail -20 "$M/munged.log" >&2 2>/dev/null || true
		exit 1
	fi
	AUTHCONF="AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$M/munge.sock"
else
	AUTHCONF="AuthType=auth/none
CredType=cred/none"
fi

COMMPARAM=
if [[ ${SL_NOINADDRANY:-0} == 1 ]]; then
	COMMPARAM=CommunicationParameters=NoInAddrAny
fi

# ---- slurm.conf -------------------------------------------------------------
cat >"$CONF" <<CONF
# generated by slurm-up.sh ($MODE $N)
ClusterName=parrun
SlurmctldHost=$H($CTLD_ADDR)
SlurmctldPort=$PORT
SlurmdPort=$((PORT + 1))
SlurmUser=root
SlurmdUser=root
$AUTHCONF
StateSaveLocation=$SL_DIR/ctld
SlurmdSpoolDir=$SL_DIR/spool/%n
SlurmctldPidFile=$SL_DIR/slurmctld.pid
SlurmdPidFile=$SL_DIR/slurmd-%n.pid
SlurmctldLogFile=$SL_DIR/log/slurmctld.log
SlurmdLogFile=$SL_DIR/log/slurmd-%n.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SwitchType=switch/none
ReturnToService=2
MailProg=/bin/true
KillWait=5
MinJobAge=10
SlurmdTimeout=30
# the nodes have the CPUs given here (SL_CPUS), even more than the machine's
SlurmdParameters=config_overrides
$COMMPARAM
$(printf '%s\n' "${NODES[@]}")
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
CONF
echo "export SLURM_CONF=$CONF" >"$SL_DIR/env"

# ---- daemons ----------------------------------------------------------------
start_slurmctld() {
	slurmctld -D -i -f "$CONF" </dev/null >>"$SL_DIR/log/slurmctld.out" \
		2>&1 3>&- &
	echo $! >"$SL_DIR/slurmctld.pidx"
}
start_slurmctld

start_slurmd() { # name netns
	local run=(slurmd -D -f "$CONF")
	[[ $MODE != single ]] && run+=(-N "$1")
	if [[ -n $2 ]]; then
		# nsenter, not `ip netns exec`: the latter remounts /sys for the
		# namespace, which hides /sys/fs/cgroup, and slurmd dies with
		# "No filesystem mounted on /sys/fs/cgroup"
		# shellcheck disable=SC2016 # expanded by the inner sh
		run=(nsenter --net="/run/netns/$2" unshare --uts -- \
			sh -c 'hostname "$0" && exec "$@"' "$1" "${run[@]}")
	fi
	mkdir -p "$SL_DIR/spool/$1"
	"${run[@]}" </dev/null >"$SL_DIR/log/slurmd-$1.out" 2>&1 3>&- &
	echo $! >"$SL_DIR/slurmd-$1.pidx"
}
case $MODE in
single) start_slurmd "$H" "" ;;
multi)
	for ((i = 1; i <= N; i++)); do
		start_slurmd "n$i" ""
	done
	;;
netns)
	for ((i = 1; i <= N; i++)); do
		start_slurmd "h$i" "${NS_PREFIX}h$i"
	done
	;;
esac

# ---- wait until every node is idle and srun works ---------------------------
want=${#NODES[@]}
idle=0
deadline=$((SECONDS + 30))
while [[ $SECONDS -lt $deadline ]]; do
	# slurmctld has died at start, rarely, with nothing in its logs:
	# say so and start it once more
	if ! alive_pidx "$SL_DIR/slurmctld.pidx" && [[ ${ctld_again:-0} == 0 ]]
	then
		ctld_again=1
		echo "slurm-up: slurmctld exited at start" \
			"($(wait "$(cat "$SL_DIR/slurmctld.pidx")" 2>/dev/null;
			echo "status $?")); starting it again" >&2
		start_slurmctld
	fi
	for f in "$SL_DIR"/*.pidx; do
		if ! alive_pidx "$f"; then
			echo "slurm-up: $(basename "$f" .pidx) died:" >&2
			tail -20 "$SL_DIR/log/$(basename "$f" .pidx).out" >&2
			tail -20 "$SL_DIR/log/$(basename "$f" .pidx).log" \
				2>/dev/null >&2
			exit 1
		fi
	done
	idle=$(sinfo -h -N -t idle -o %N 2>/dev/null | sort -u | wc -l)
	[[ $idle -ge $want ]] && break
	sleep 0.1
done
if [[ $idle -lt $want ]]; then
	echo "slurm-up: only $idle/$want nodes idle after 30 s" >&2
	sinfo -N -l >&2 || true
	exit 1
fi
timeout 30 srun -N"$want" -n"$want" true </dev/null
echo "slurm-up: $MODE $N: ${NODENAMES[*]} ready after $(h_since "$t0") s" \
	"(export SLURM_CONF=$CONF)"
