#!/usr/bin/env bash
# netns-down.sh - undo netns-up.sh for one NS_DIR: stop the sshd of each
# host (by its recorded PID), stop whatever else still runs inside these
# namespaces (they are this run's own, so everything in them is ours:
# slurmd, sessions), delete the namespaces, veths and bridge, and remove
# $NS_DIR.  Idempotent.
# Environment: NS_DIR (required); TB_DIR (default: the one netns-up.sh
# recorded).
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/harness/lib.sh
. "$HERE/lib.sh"
h_need_dir NS_DIR
[[ -d $NS_DIR ]] || exit 0
if [[ ! -f $NS_DIR/config ]]; then
	rm -rf "$NS_DIR"
	exit 0
fi
# shellcheck source=/dev/null
. "$NS_DIR/config"
: "${NS_PREFIX:?}" "${NS_BRIDGE:?}"
TB=${TB_DIR:-$(cat "$NS_DIR/tb_dir" 2>/dev/null || true)}

for ns in $(ip netns list 2>/dev/null | awk '{ print $1 }' |
	grep -E "^${NS_PREFIX}h[0-9]+\$"); do
	name=h${ns#"${NS_PREFIX}"h}
	if [[ -n $TB && -d $TB/sshd/$name ]]; then
		TB_DIR=$TB "$HERE/sshd-down.sh" "$name"
	fi
	mapfile -t pids < <(ip netns pids "$ns" 2>/dev/null)
	if [[ ${#pids[@]} -gt 0 ]]; then
		kill -TERM "${pids[@]}" 2>/dev/null
		if ! h_wait_gone 3 "${pids[@]}"; then
			mapfile -t pids < <(ip netns pids "$ns" 2>/dev/null)
			[[ ${#pids[@]} -gt 0 ]] &&
				kill -KILL "${pids[@]}" 2>/dev/null
			h_wait_gone 2 "${pids[@]}"
		fi
	fi
	ip netns del "$ns"
done
for v in $(ip -o link show 2>/dev/null |
	grep -o "${NS_PREFIX}v[0-9]*" | sort -u); do
	ip link del "$v" 2>/dev/null
done
if ip link show "$NS_BRIDGE" >/dev/null 2>&1; then
	ip link del "$NS_BRIDGE"
fi
# a TB_DIR left without instances: drop its keys and files too
if [[ -n $TB && -d $TB/sshd && -z $(ls -A "$TB/sshd") ]]; then
	TB_DIR=$TB "$HERE/sshd-down.sh"
fi
rm -rf "$NS_DIR"
echo "netns-down: ${NS_PREFIX}* removed"
exit 0
