# shellcheck shell=bash
# helpers.bash - loaded by every bats file, after its first line:
#
#	bats_require_minimum_version 1.5.0
#	load helpers
#
# Paths (the binaries need not exist yet):
#	TOP		top of the source tree
#	PARRUN_BUILD	build directory (absolute; default $TOP/build), first
#			in PATH
#	PARRUN, WORKER	$PARRUN_BUILD/parrun, $PARRUN_BUILD/parrun-worker
#	HARNESS		tests/harness (the server scripts)
#	MARK		a string unique to this test: put it in the command
#			line of what a test starts, then `assert_no_process`
#			proves it is gone, e.g.
#			    bash -c 'exec -a "$0" sleep 60' "$MARK"
#			runs a sleep whose command line is "$MARK 60"
#
# Per test (bats calls setup/teardown; a file that defines its own must
# call helpers_setup / helpers_teardown from them):
#	run_parrun [-N|!|--separate-stderr]... ARGS...
#			`run` parrun with FD 3 closed
#	run_worker ...	the same for parrun-worker
#	start_bg CMD...	start CMD in the background in its own process group
#			(FD 3 closed, stdin kept); BG_PID is its PID; teardown
#			kills it and its group (from setup_file: call
#			helpers_teardown_file in teardown_file)
#	assert_no_process [PATTERN [SECONDS]]
#			wait up to SECONDS (default 5) until no live process
#			has PATTERN (default $MARK) in its command line, else
#			fail listing them
#	pid_alive PID	true while PID runs (a zombie counts as gone)
#
# Servers, one set per file, started in setup_file and stopped by their
# recorded PIDs in teardown_file.  Each skips every test of the file when
# not root or when a program is missing, except under CI=true, where that
# is a failure.  State lives in a fresh directory per file under
# $PARRUN_HARNESS_ROOT (made by tests/run-bats) or $BATS_RUN_TMPDIR.
#	ssh_setup_file N	sshd n1..nN on 127.0.0.2..(N+1), free ports.
#		Exports SSH_CONFIG (for ssh -F; Host n1..nN, and h1.. below),
#		SSH_KNOWN_HOSTS, SSH_KEY (ed25519), SSH_RSA_KEY (PEM),
#		SSH_HOSTS="n1 n2", SSH_ENDPOINTS="127.0.0.2:P1 127.0.0.3:P2",
#		SSH_ADDR_I, SSH_PORT_I, SSH_PID_I, TB_DIR
#	ssh_teardown_file
#	netns_setup_file N [--no-sshd]	network namespaces with hosts h1..hN
#		(own address, hostname hI, sshd on port 22).  Exports
#		NETNS_HOSTS="h1 h2", NETNS_ADDRS, NETNS_ENDPOINTS, NETNS_ADDR_I,
#		NETNS_NS_I (namespace name), NETNS_GW (the bridge address, the
#		only one in the root namespace the hosts can reach), NETNS_NET
#		(10.200.X), NETNS_DEAD_ADDR (an address of the subnet where
#		nothing answers), NS_DIR, and the SSH_* files above
#	netns_exec I CMD...		run CMD inside host I's namespace
#	netns_link_down I / netns_link_up I
#		cut / restore host I's link: connections to it time out
#	netns_teardown_file
#	slurm_setup_file single | multi N | netns N
#		munged + slurmctld + slurmd (see tests/harness/slurm-up.sh).
#		Exports SLURM_CONF, SL_NODES (node names), SL_DIR.  netns
#		mode uses the namespaces of netns_setup_file when called after
#		it, else makes its own.
#	slurm_teardown_file
#	hosts_exec CMD...	run CMD (FD 3 closed) where /etc/hosts also
#		names the harness hosts: n1..nN (127.0.0.x) and h1..hN, in a
#		private mount namespace (libssh2 reads no ssh_config, and
#		glibc ignores HOSTALIASES outside DNS)

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PARRUN_BUILD=${PARRUN_BUILD:-$TOP/build}
export PARRUN_BUILD
PARRUN=$PARRUN_BUILD/parrun
WORKER=$PARRUN_BUILD/parrun-worker
HARNESS=$TOP/tests/harness
# bats puts its own directory first; the build directory goes before it
[[ ${PATH%%:*} == "$PARRUN_BUILD" ]] || PATH=$PARRUN_BUILD:$PATH
export PATH

# a Slurm allocation around the test run must not leak into parrun
while read -r _v; do
	[[ $_v == SLURM_CONF ]] || unset "$_v"
done < <(compgen -e | grep '^SLURM_' || true)
unset _v

# the file's own setup_file is about to run: forget any state that the
# calling environment may carry under these names
if [[ -z ${BATS_TEST_NUMBER:-} ]]; then
	unset TB_DIR NS_DIR SL_DIR SLURM_CONF HARNESS_FILE_DIR HARNESS_SKIP \
		SSH_HOSTS
fi

MARK=parrun-mark-${BATS_ROOT_PID:-$$}-${BATS_SUITE_TEST_NUMBER:-0}
MARK+=-$RANDOM$RANDOM

# shellcheck source=tests/harness/lib.sh
. "$HARNESS/lib.sh"

# ---- per test ---------------------------------------------------------------

# BATS_TEST_TIMEOUT (set by tests/run-bats): when it fires, bats 1.8 kills
# only the test's direct children, and a grandchild that holds the output
# pipe of `run` (a hung parrun under `run bash -c ...`) keeps the test
# blocked for good.  This replaces that bats function: the whole tree goes,
# SIGTERM then SIGKILL.  (It takes effect for files that `load helpers` at
# the top, before bats starts the test's watchdog.)
if declare -F bats_kill_childprocesses_of >/dev/null; then
	bats_kill_childprocesses_of() {
		local c tree=()
		for c in $(pgrep -P "$1"); do
			[[ $c == "$BASHPID" ]] && continue
			tree+=("$c")
			mapfile -t -O "${#tree[@]}" tree < <(h_descendants "$c")
		done
		[[ ${#tree[@]} -gt 0 ]] || return 0
		kill -TERM "${tree[@]}" 2>/dev/null
		if ! h_wait_gone 2 "${tree[@]}"; then
			kill -KILL "${tree[@]}" 2>/dev/null
		fi
		return 0
	}
fi

setup() {
	helpers_setup
}

teardown() {
	helpers_teardown
}

helpers_setup() {
	if [[ -n ${HARNESS_SKIP:-} ]]; then
		skip "$HARNESS_SKIP"
	fi
}

pid_alive() {
	h_alive "$1"
}

_run_opts=()
_split_run_opts() {
	_run_opts=()
	while [[ $# -gt 0 ]]; do
		case $1 in
		-[0-9]*|!|--separate-stderr|--keep-empty-lines)
			_run_opts+=("$1")
			shift
			;;
		*) break ;;
		esac
	done
	_run_rest=$#
}

_exec_closed3() {
	"$@" 3>&-
}

run_parrun() {
	_split_run_opts "$@"
	shift $(($# - _run_rest))
	run "${_run_opts[@]}" _exec_closed3 "$PARRUN" "$@"
}

run_worker() {
	_split_run_opts "$@"
	shift $(($# - _run_rest))
	run "${_run_opts[@]}" _exec_closed3 "$WORKER" "$@"
}

_starttime() {
	local s _st
	s=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
	s=${s##*) }
	# field 22 of stat; field 3 (state) is the first after "comm)"
	read -r -a _st <<<"$s"
	echo "${_st[19]}"
}

# the PID list of start_bg: per test, or per file when called from
# setup_file (then teardown_file calls helpers_teardown_file)
_bg_list() {
	if [[ -n ${BATS_TEST_TMPDIR:-} ]]; then
		echo "$BATS_TEST_TMPDIR/.helpers-bg"
	else
		echo "$BATS_FILE_TMPDIR/.helpers-bg-file"
	fi
}

start_bg() {
	# setsid does not fork when its caller is not a group leader (a
	# background job of a shell without job control is not), so $! is
	# CMD's own PID, and it leads a new process group
	setsid "$@" 0<&0 3>&- &
	BG_PID=$!
	echo "$BG_PID $(_starttime "$BG_PID")" >>"$(_bg_list)"
}

# _group_alive PGID: a live (non-zombie) process is left in the group
_group_alive() {
	local p
	for p in $(pgrep -g "$1" 2>/dev/null); do
		h_alive "$p" && return 0
	done
	return 1
}

helpers_teardown_file() {
	_kill_bg "$BATS_FILE_TMPDIR/.helpers-bg-file"
}

helpers_teardown() {
	_kill_bg "$BATS_TEST_TMPDIR/.helpers-bg"
}

# _kill_bg LIST: SIGTERM, then SIGKILL after 2 s, to every recorded PID and
# its process group; a PID is signalled alone only while its start time
# is still the recorded one (not a recycled PID)
_kill_bg() {
	local f=$1 pid st i sig left=0
	local pids=() sts=()
	[[ -f $f ]] || return 0
	while read -r pid st; do
		pids+=("$pid")
		sts+=("$st")
	done <"$f"
	rm -f "$f"
	for sig in TERM KILL; do
		for i in "${!pids[@]}"; do
			pid=${pids[$i]}
			# either may find it gone already (errexit: || true)
			kill -"$sig" -- "-$pid" 2>/dev/null || true
			st=$(_starttime "$pid")
			if [[ -n ${sts[$i]} && $st == "${sts[$i]}" ]]; then
				kill -"$sig" "$pid" 2>/dev/null || true
			fi
		done
		for ((i = 0; i < 40; i++)); do
			left=0
			for pid in "${pids[@]}"; do
				if _group_alive "$pid" || h_alive "$pid"; then
					left=1
				fi
			done
			[[ $left == 0 ]] && break
			sleep 0.05
		done
		[[ $left == 0 ]] && break
	done
	# reap the ones that are our own children (and gone: wait would block)
	for pid in "${pids[@]}"; do
		h_alive "$pid" || wait "$pid" 2>/dev/null || true
	done
	return 0
}

_marked_pids() {
	local p
	for p in $(pgrep -f -- "$1"); do
		[[ $p == "$BASHPID" || $p == "$$" ]] && continue
		h_alive "$p" && echo "$p"
	done
	return 0	# a last match that is a zombie must not fail errexit
}

assert_no_process() {
	local pat=${1:-$MARK} secs=${2:-5} int frac steps i pids
	int=${secs%%.*}
	frac=
	[[ $secs == *.* ]] && frac=${secs#*.}
	frac=${frac}000
	steps=$(((10#${int:-0} * 1000 + 10#${frac:0:3}) / 50))
	for ((i = 0; ; i++)); do
		pids=$(_marked_pids "$pat")
		[[ -z $pids ]] && return 0
		[[ $i -ge $steps ]] && break
		sleep 0.05
	done
	echo "processes still running that match '$pat':"
	# shellcheck disable=SC2086 # one PID per word
	ps -o pid,ppid,pgid,stat,etime,args -p "$(echo $pids | tr ' ' ,)"
	return 1
}

# ---- servers ----------------------------------------------------------------

# _harness_need WHAT PROGRAM...: 0 when the servers can run, 1 (after a
# message) when they cannot and CI=true, 2 after exporting HARNESS_SKIP.
_harness_need() {
	local what=$1 b reason=
	shift
	if [[ $(id -u) != 0 ]]; then
		reason="$what tests need root"
	else
		for b in "$@"; do
			if ! command -v "$b" >/dev/null; then
				reason="$what tests need '$b' (tests/deps test)"
				break
			fi
		done
	fi
	[[ -z $reason ]] && return 0
	if [[ ${CI:-} == true ]]; then
		echo "CI=true: $reason; not skipping" >&2
		return 1
	fi
	export HARNESS_SKIP=${HARNESS_SKIP:-$reason}
	return 2
}

_harness_file_dir() {
	local root=${PARRUN_HARNESS_ROOT:-}
	[[ -n ${HARNESS_FILE_DIR:-} && -d ${HARNESS_FILE_DIR:-} ]] && return 0
	if [[ -z $root ]]; then
		root=$BATS_RUN_TMPDIR
		# munged needs every directory above its socket to be o+x
		chmod 755 "$root"
	fi
	HARNESS_FILE_DIR=$(mktemp -d \
		"$root/$(basename "$BATS_TEST_FILENAME" .bats).XXXXXX")
	chmod 755 "$HARNESS_FILE_DIR"
	export HARNESS_FILE_DIR
}

# one set of client keys for the whole run (RSA key generation is slow)
_harness_client_keys() {
	if [[ -n ${PARRUN_HARNESS_ROOT:-} ]]; then
		export SSHD_CLIENT_KEYS=$PARRUN_HARNESS_ROOT/client-keys
	fi
}

_harness_file_dir_done() {
	if [[ -n ${HARNESS_FILE_DIR:-} && -d $HARNESS_FILE_DIR ]]; then
		rmdir "$HARNESS_FILE_DIR" 2>/dev/null || true
	fi
}

_export_ssh_files() {
	export SSH_CONFIG=$TB_DIR/ssh_config
	export SSH_KNOWN_HOSTS=$TB_DIR/known_hosts
	export SSH_KEY=$TB_DIR/client/id_ed25519
	export SSH_RSA_KEY=$TB_DIR/client/id_rsa
}

ssh_setup_file() {
	local n=${1:-1} i a p rc=0 hosts=() eps=()
	_harness_need ssh /usr/sbin/sshd ssh ssh-keygen unshare ss pgrep ||
		rc=$?
	[[ $rc == 0 ]] || { [[ $rc == 2 ]] && return 0; return 1; }
	_harness_file_dir
	export TB_DIR=$HARNESS_FILE_DIR/ssh
	_harness_client_keys
	for ((i = 1; i <= n; i++)); do
		"$HARNESS/sshd-up.sh" "n$i" "127.0.0.$((i + 1))" auto 3>&- ||
			return 1
		read -r a p _ <"$TB_DIR/sshd/n$i/endpoint"
		export "SSH_ADDR_$i=$a" "SSH_PORT_$i=$p"
		export "SSH_PID_$i=$(cat "$TB_DIR/sshd/n$i/pid")"
		hosts+=("n$i")
		eps+=("$a:$p")
		# exported as they come up, so teardown_file finds them
		export SSH_HOSTS="${hosts[*]}" SSH_ENDPOINTS="${eps[*]}"
	done
	_export_ssh_files
}

ssh_teardown_file() {
	[[ -n ${TB_DIR:-} ]] || return 0
	if [[ -n ${SSH_HOSTS:-} ]]; then
		# shellcheck disable=SC2086 # one name per word
		"$HARNESS/sshd-down.sh" $SSH_HOSTS
	fi
	if [[ ! -d $TB_DIR/sshd || -z $(ls -A "$TB_DIR/sshd" 2>/dev/null) ]]
	then
		"$HARNESS/sshd-down.sh"
	fi
	_harness_file_dir_done
}

netns_setup_file() {
	local n=${1:-2} opt=${2:-} i rc=0 hosts=() addrs=() eps=()
	local need=(ip nsenter unshare pgrep)
	[[ $opt == --no-sshd ]] || need+=(/usr/sbin/sshd ssh ssh-keygen ss)
	_harness_need netns "${need[@]}" || rc=$?
	[[ $rc == 0 ]] || { [[ $rc == 2 ]] && return 0; return 1; }
	_harness_file_dir
	export TB_DIR=$HARNESS_FILE_DIR/ssh
	export NS_DIR=$HARNESS_FILE_DIR/netns
	_harness_client_keys
	"$HARNESS/netns-up.sh" "$n" ${opt:+"$opt"} 3>&- || return 1
	# shellcheck source=/dev/null
	. "$NS_DIR/config"
	for ((i = 1; i <= n; i++)); do
		export "NETNS_ADDR_$i=$NS_NET.$((10 + i))"
		export "NETNS_NS_$i=${NS_PREFIX}h$i"
		hosts+=("h$i")
		addrs+=("$NS_NET.$((10 + i))")
		eps+=("$NS_NET.$((10 + i)):22")
	done
	export NETNS_HOSTS="${hosts[*]}" NETNS_ADDRS="${addrs[*]}"
	export NETNS_ENDPOINTS="${eps[*]}" NETNS_GW=$NS_GW NETNS_NET=$NS_NET
	export NETNS_PREFIX=$NS_PREFIX NETNS_DEAD_ADDR=$NS_NET.250
	[[ $opt == --no-sshd ]] || _export_ssh_files
}

netns_exec() {
	local i=$1
	shift
	nsenter --net="/run/netns/${NETNS_PREFIX}h$i" -- "$@"
}

netns_link_down() {
	ip link set "${NETNS_PREFIX}v$1" down
}

netns_link_up() {
	ip link set "${NETNS_PREFIX}v$1" up
}

netns_teardown_file() {
	[[ -n ${NS_DIR:-} ]] || return 0
	"$HARNESS/netns-down.sh"
	_harness_file_dir_done
}

slurm_setup_file() {
	local mode=${1:-single} n=${2:-1} rc=0
	local need=(munged munge unmunge slurmctld slurmd srun sinfo scancel
		pgrep ss)
	[[ $mode == netns ]] && need+=(ip nsenter unshare)
	_harness_need slurm "${need[@]}" || rc=$?
	[[ $rc == 0 ]] || { [[ $rc == 2 ]] && return 0; return 1; }
	_harness_file_dir
	export SL_DIR=$HARNESS_FILE_DIR/slurm
	"$HARNESS/slurm-up.sh" "$mode" "$n" 3>&- || return 1
	export SLURM_CONF=$SL_DIR/slurm.conf
	SL_NODES=$(cat "$SL_DIR/nodes")
	export SL_NODES
}

hosts_exec() {
	local f=$BATS_TEST_TMPDIR/.hosts h i=0 a
	{
		cat /etc/hosts
		for h in ${SSH_HOSTS:-}; do
			i=$((i + 1))
			a=SSH_ADDR_$i
			echo "${!a} $h"
		done
		i=0
		for h in ${NETNS_HOSTS:-}; do
			i=$((i + 1))
			a=NETNS_ADDR_$i
			echo "${!a} $h"
		done
	} >"$f"
	# shellcheck disable=SC2016 # expanded by the inner sh
	unshare --mount -- sh -c 'mount --bind "$0" /etc/hosts && exec "$@"' \
		"$f" "$@" 3>&-
}

slurm_teardown_file() {
	[[ -n ${SL_DIR:-} ]] || return 0
	"$HARNESS/slurm-down.sh"
	_harness_file_dir_done
}
