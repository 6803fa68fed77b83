#!/usr/bin/env bash
# slurm-down.sh - stop the cluster that slurm-up.sh started in $SL_DIR and
# remove $SL_DIR.  Idempotent.
#
# Cancels the jobs, stops every slurmd, slurmctld and munged by the PIDs
# recorded in $SL_DIR/*.pidx (only while their command line still names
# $SL_DIR), then stops the slurmstepd processes of this cluster: they are
# not children of slurmd, so they are found by the SLURM_CONF in their
# environment, which is $SL_DIR/slurm.conf and so unique to this run.
# A network made by slurm-up.sh netns is removed too; one that the caller
# made (NS_DIR) is left to netns-down.sh.
# Environment: SL_DIR (required).
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/harness/lib.sh
. "$HERE/lib.sh"
h_need_dir SL_DIR
[[ -d $SL_DIR ]] || exit 0
export SLURM_CONF=$SL_DIR/slurm.conf

pidof_x() { # pidx file
	cat "$1" 2>/dev/null || true
}

ctld=$(pidof_x "$SL_DIR/slurmctld.pidx")
if [[ -f $SLURM_CONF ]] && h_alive "$ctld" && command -v scancel >/dev/null
then
	timeout 5 scancel --full --quiet -u root </dev/null 2>/dev/null || true
fi

for f in "$SL_DIR"/slurmd-*.pidx; do
	[[ -f $f ]] && h_stop "$(pidof_x "$f")" "$SLURM_CONF"
done
h_stop "$ctld" "$SLURM_CONF"

# this cluster's step daemons and the tasks under them (only slurmstepd is
# matched: the callers' own shells carry the same SLURM_CONF)
steps=()
for pid in $(pgrep -x slurmstepd); do
	if tr '\0' '\n' 2>/dev/null <"/proc/$pid/environ" |
		grep -qxF "SLURM_CONF=$SLURM_CONF"; then
		mapfile -t -O "${#steps[@]}" steps < <(
			echo "$pid"
			h_descendants "$pid"
		)
	fi
done
if [[ ${#steps[@]} -gt 0 ]]; then
	kill -KILL "${steps[@]}" 2>/dev/null
	h_wait_gone 2 "${steps[@]}"
fi

h_stop "$(pidof_x "$SL_DIR/munged.pidx")" "$SL_DIR/munge"

if [[ -f $SL_DIR/netns-owned ]]; then
	NS_DIR=$(cat "$SL_DIR/netns-owned") "$HERE/netns-down.sh" >/dev/null
fi
rm -rf "$SL_DIR"
echo "slurm-down: done"
exit 0
