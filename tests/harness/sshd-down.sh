#!/usr/bin/env bash
# sshd-down.sh - stop private sshd instances started by sshd-up.sh.
#
# Usage: sshd-down.sh [NAME...]
#   NAME...  stop these instances and drop their known_hosts/ssh_config
#            entries
#   (none)   stop every instance and remove $TB_DIR
# Environment: TB_DIR (required), as given to sshd-up.sh.
#
# Signals only the PIDs recorded by sshd-up.sh, and only while their command
# line still names this TB_DIR; the connection and session processes forked
# by such an sshd go with it.  Idempotent: stopping what is not running, or
# a TB_DIR that is gone, succeeds.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/harness/lib.sh
. "$HERE/lib.sh"
h_need_dir TB_DIR
[[ -d $TB_DIR ]] || exit 0

stop_one() {
	local d=$TB_DIR/sshd/$1 hk a p
	[[ -d $d ]] || return 0
	if [[ -f $d/pid ]]; then
		h_stop "$(cat "$d/pid")" "$d/sshd_config" tree
	fi
	# forget its known_hosts lines; ssh_config is rebuilt by the caller
	if [[ -f $d/endpoint && -f $TB_DIR/known_hosts ]]; then
		read -r a p _ <"$d/endpoint"
		if [[ $p == 22 ]]; then hk=$a; else hk="[$a]:$p"; fi
		{ grep -v -F "$hk " "$TB_DIR/known_hosts" || true; } \
			>"$TB_DIR/known_hosts.tmp"
		mv "$TB_DIR/known_hosts.tmp" "$TB_DIR/known_hosts"
	fi
	rm -rf "$d"
	echo "sshd-down: $1 stopped"
}

if [[ $# -gt 0 ]]; then
	for n in "$@"; do
		case $n in
		*/*|.*|'') echo "sshd-down: bad instance name '$n'" >&2 ;;
		*) stop_one "$n" ;;
		esac
	done
	"$HERE/sshd-up.sh" --config-only
else
	for d in "$TB_DIR"/sshd/*/; do
		[[ -d $d ]] && stop_one "$(basename "$d")"
	done
	rm -rf "$TB_DIR/sshd" "$TB_DIR/client" "$TB_DIR/known_hosts" \
		"$TB_DIR/ssh_config" "$TB_DIR/.harness-kind"
	rm -f "$TB_DIR"/kh.* "$TB_DIR"/ssh_config.*
	rmdir "$TB_DIR" 2>/dev/null
fi
exit 0
