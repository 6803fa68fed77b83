#!/usr/bin/env bash
# down-all.sh - stop every harness server whose state lives under ROOT.
#
# Usage: down-all.sh ROOT
# Each up-script marks its state directory with a .harness-kind file
# (slurm, netns or sshd); this finds them under ROOT and runs the matching
# down-script on each: Slurm clusters first, then networks (which stop
# their hosts' sshd), then the remaining sshd instances.  Used by
# tests/run-bats and .ci/run on exit, for whatever a killed or failed test
# file left running.  Idempotent; ROOT itself is left in place.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=${1:?usage: down-all.sh ROOT}
[[ -d $ROOT ]] || exit 0

for kind in slurm netns sshd; do
	while IFS= read -r -d '' m; do
		d=$(dirname "$m")
		[[ -f $m && $(cat "$m" 2>/dev/null) == "$kind" ]] || continue
		case $kind in
		slurm) SL_DIR=$d "$HERE/slurm-down.sh" ;;
		netns) NS_DIR=$d "$HERE/netns-down.sh" ;;
		sshd) TB_DIR=$d "$HERE/sshd-down.sh" ;;
		esac
	done < <(find "$ROOT" -maxdepth 5 -name .harness-kind -print0 \
		2>/dev/null)
done
exit 0
