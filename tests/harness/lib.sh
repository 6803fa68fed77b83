# shellcheck shell=bash
# lib.sh - functions shared by the harness scripts.  Sourced, never run.
#
# Every server the harness starts is recorded by PID in a state directory
# that the caller names through the environment (TB_DIR, NS_DIR, SL_DIR);
# nothing lives at a fixed path, so two runs cannot see each other's files.
# Stopping goes through h_stop, which signals a PID only while its command
# line still names our state directory (a recycled PID is left alone).

# h_alive PID: true while PID exists and is not a zombie.  PID 1 reaps
# orphans lazily here, so a killed daemon can linger in state Z for a moment
# and `kill -0` would still succeed.
h_alive() {
	local stat
	[[ ${1:-} =~ ^[0-9]+$ ]] || return 1
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	[[ ${stat:0:1} != Z && ${stat:0:1} != X ]]
}

# h_owns PID STRING: true if PID's command line contains STRING.
h_owns() {
	local cmd
	cmd=$(tr '\0' ' ' 2>/dev/null <"/proc/$1/cmdline") || return 1
	[[ $cmd == *"$2"* ]]
}

# h_descendants PID: print every descendant of PID (children first order
# does not matter: all of them are signalled together).
h_descendants() {
	local c
	for c in $(pgrep -P "$1"); do
		echo "$c"
		h_descendants "$c"
	done
}

# h_wait_gone SECONDS PID...: wait until no PID is alive; false on timeout.
h_wait_gone() {
	local limit=$1 i p left
	shift
	for ((i = 0; i < limit * 20; i++)); do
		left=0
		for p in "$@"; do
			h_alive "$p" && left=1
		done
		[[ $left == 0 ]] && return 0
		sleep 0.05
	done
	return 1
}

# h_stop PID STRING [tree]: stop PID if it is alive and its command line
# contains STRING: SIGTERM, up to 5 s, then SIGKILL.  With "tree", the
# processes it had forked (for sshd: one per connection, and the sessions
# under them) are collected first and stopped with it.
h_stop() {
	local pid=$1 what=$2 mode=${3:-} kids=() p
	h_alive "$pid" || return 0
	h_owns "$pid" "$what" || return 0
	if [[ $mode == tree ]]; then
		mapfile -t kids < <(h_descendants "$pid")
	fi
	kill -TERM "$pid" "${kids[@]}" 2>/dev/null
	if ! h_wait_gone 5 "$pid" "${kids[@]}"; then
		for p in "$pid" "${kids[@]}"; do
			h_alive "$p" && kill -KILL "$p" 2>/dev/null
		done
		h_wait_gone 2 "$pid" "${kids[@]}"
	fi
	return 0
}

# h_port_free PORT: true if no TCP socket on this machine uses PORT locally.
h_port_free() {
	[[ -z $(ss -Htan "sport = :$1" 2>/dev/null) ]]
}

# h_pick_ports COUNT: print a base port P such that P .. P+COUNT-1 are all
# free.  Ports are drawn at random from 20000-31999, below Linux's
# ephemeral range, so that outgoing connections do not take them.
h_pick_ports() {
	local count=${1:-1} base i ok try
	for ((try = 0; try < 100; try++)); do
		base=$((20000 + RANDOM % (12000 - count)))
		ok=1
		for ((i = 0; i < count; i++)); do
			h_port_free $((base + i)) || { ok=0; break; }
		done
		if [[ $ok == 1 ]]; then
			echo "$base"
			return 0
		fi
	done
	echo "harness: no free port range of $count found" >&2
	return 1
}

# h_need_dir VAR: fail unless the state directory variable VAR is set.
h_need_dir() {
	if [[ -z ${!1:-} ]]; then
		echo "${0##*/}: set $1 to a private state directory" \
			"(e.g. $1=\$(mktemp -d))" >&2
		exit 2
	fi
}

# h_now: seconds since the epoch with microseconds (no bc needed).
h_now() {
	local t=${EPOCHREALTIME:-$(date +%s.%6N)}
	echo "${t/,/.}"
}

# h_since T0: seconds elapsed since T0 (from h_now), two decimals.
h_since() {
	local t1 us
	t1=$(h_now)
	us=$(( (${t1%.*} - ${1%.*}) * 1000000 + 10#${t1#*.} - 10#${1#*.} ))
	printf '%d.%02d' $((us / 1000000)) $((us % 1000000 / 10000))
}
