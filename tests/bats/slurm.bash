# shellcheck shell=bash
# slurm.bash - helpers of the Slurm tests (500, 505), loaded after helpers:
#
#	load helpers
#	load slurm

# alloc SALLOC_ARGS... CMD...: CMD inside a new allocation
alloc() {
	timeout 60 salloc -Q "$@" 3>&-
}

# conc RESULTS: "HOST N" lines, N the most tasks that ran at once there
# (an interval is trimmed by 50 ms: start is wall-clock time and elapsed
# monotonic, so back-to-back tasks can seem to overlap a little)
conc() {
	jq -r '[.host, .start, .start + .elapsed - 0.05] | @tsv' "$1" |
		awk '{ print $1, $2, 1; print $1, $3, -1 }' |
		sort -k2,2g -k3,3n |
		awk '{ n[$1] += $3; if (n[$1] > m[$1]) m[$1] = n[$1] }
		    END { for (h in m) print h, m[h] }' | sort
}

# exact RESULTS N: ids 1..N, each once, every one ok, each run where
# its record says (the task printed its host name and SLURMD_NODENAME)
exact() {
	[ "$(jq -r .id "$1" | sort -n | tr '\n' ' ')" = "$(seq 1 "$2" | tr '\n' ' ')" ]
	jq -e -s 'all(.[]; .status == "ok")' "$1"
	jq -e -s 'all(.[]; .stdout == "\(.host) \(.host)\n")' "$1"
}

# meet DIR NODE...: shell code for the start of a task: it marks its node
# in DIR, then waits (up to 20 s) until every NODE has started a task, so
# all nodes take part whichever connects first (a task that gave up
# still runs: the test then fails on the hosts it sees)
meet() {
	local d=$1 n cond=
	shift
	for n in "$@"; do
		cond+="${cond:+ || }[ ! -e $d/on.$n ]"
	done
	echo "touch $d/on.\$SLURMD_NODENAME; i=0;" \
		"while { $cond; } && [ \$i -lt 400 ]; do" \
		"sleep 0.05; i=\$((i + 1)); done;"
}

# wrapper FILE NODE fail|hold: a worker program that does not start on
# NODE (exit 3), or starts there once the file $BATS_TEST_TMPDIR/go
# exists (up to 30 s); elsewhere it is parrun-worker
wrapper() {
	cat >"$1" <<EOF
#!/bin/sh
if [ "\$SLURMD_NODENAME" = "$2" ]; then
	case $3 in
	fail) echo "wrapper: no worker on $2" >&2; exit 3 ;;
	hold)
		i=0
		while [ ! -e "$BATS_TEST_TMPDIR/go" ] && [ \$i -lt 600 ]; do
			sleep 0.05
			i=\$((i + 1))
		done
		;;
	esac
fi
exec "$WORKER" "\$@"
EOF
	chmod +x "$1"
}
