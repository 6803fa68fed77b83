#!/usr/bin/env bats
# A slow or vanished reader of parrun's output: memory stays bounded, no
# worker is taken for dead because it was not read, every byte arrives in
# order; a reader that leaves stops the run as SIGPIPE stops a filter.

bats_require_minimum_version 1.5.0
load helpers

teardown() {
	# the spill test's tmpfs, should it have failed before unmounting
	if mountpoint -q "$BATS_TEST_TMPDIR/small" 2>/dev/null; then
		umount "$BATS_TEST_TMPDIR/small"
	fi
	helpers_teardown
}

setup() {
	helpers_setup
	cd "$BATS_TEST_TMPDIR"
	# gen.sh C: 10 MB of the letter C
	cat > gen.sh <<-'EOF'
	head -c 10000000 /dev/zero | tr '\0' "$1"
	EOF
}

@test "a reader that stops for many heartbeats: nothing lost, memory bounded" {
	letters=$(echo {a..t})
	for c in $letters; do bash gen.sh "$c"; done | sha256sum > want
	# the reader takes one read's worth (dd: no more than it passes on),
	# then nothing for 3 s: 15 heartbeat periods of 200 ms, in which
	# parrun must not read its workers (its memory) nor take them for
	# dead (their silence)
	run -0 bash -c "/usr/bin/time -f '%M' -o rss parrun -k -j2 \
		--heartbeat 200 bash gen.sh ::: $letters 2>err 3>&- |
		{ dd bs=1000 count=1 status=none; sleep 3; cat; } | sha256sum > got"
	diff want got
	! grep -E 'lost|no word' err
	# 200 MB went through; a fraction of it was ever in memory (ASan's
	# quarantine keeps freed memory resident: not a measure there)
	[ -n "${PARRUN_SANITIZE:-}" ] || [ "$(cat rss)" -lt 150000 ]
}

@test "the reader goes away: the run stops at once, as SIGPIPE stops a filter" {
	# without the stop, 100000 tasks would run to the end
	run -0 bash -c "seq 100000 | parrun -j2 --results r.jsonl \
		bash -c 'echo \$1; exec -a \"\$0\" sleep 0.01' '$MARK' {} 2>err 3>&- |
		head -1; echo \"\${PIPESTATUS[1]}\" > rc"
	[ "$(cat rc)" -eq 141 ]
	grep -q "the output's reader has gone: stopping" err
	# far fewer tasks finished than were given
	[ "$(wc -l < r.jsonl)" -lt 100000 ]
	assert_no_process "$MARK" 5 || false
}

@test "output to a regular file and to /dev/null is written as before" {
	run -0 bash -c "parrun -k -j2 bash gen.sh ::: x y > out 3>&-"
	[ "$(wc -c < out)" -eq 20000000 ]
	[ "$(head -c 1 out)" = x ]
	[ "$(tail -c 1 out)" = y ]
	run -0 bash -c "parrun -k -j2 --results r.jsonl bash gen.sh ::: x y > /dev/null 3>&-"
	[ "$(jq -r .status r.jsonl | tr '\n' ' ')" = "ok ok " ]
}

@test "a spill that finds its disk full fails those tasks loudly, never silently" {
	[ "$(id -u)" -eq 0 ] || skip "needs root to mount a small tmpfs"
	mkdir small
	mount -t tmpfs -o size=1m tmpfs small
	# -k: task 1 ends only once the spill has filled the tmpfs, so the
	# output of the other 7 (70 MB, past the 64 MiB held in memory) must
	# have been held, then spilled
	cat > task.sh <<-EOF
	if [ "\$1" = 1 ]; then
		i=0
		while [ "\$(stat -f -c %a small)" -gt 0 ] && [ \$i -lt 600 ]
		do sleep 0.05; i=\$((i + 1)); done
		echo one; exit 0
	fi
	bash gen.sh "\$1"
	EOF
	# task 1 placed on worker 1, the others on worker 2, one by one
	for i in $(seq 1 8); do
		printf '{"id":"%d","worker":%d,"argv":["bash","task.sh","%d"]}\n' \
			"$i" "$((i == 1 ? 1 : 2))" "$i"
	done > tasks.jsonl
	status=0
	TMPDIR=$PWD/small parrun -k -j2 --results r.jsonl < tasks.jsonl \
		> out 2> err 3>&- || status=$?
	umount small
	cat err
	jq -c '[.id, .status, .error]' r.jsonl
	[ "$status" -ge 1 ]
	[ "$status" -le 7 ]
	grep -q "output incomplete" err
	# every task has its record; those whose output was cut say so
	[ "$(jq -r .id r.jsonl | sort -n | tr '\n' ' ')" = "1 2 3 4 5 6 7 8 " ]
	[ "$(jq -r 'select(.status == "error") | .error' r.jsonl | sort -u | cut -c1-18)" = "output incomplete:" ]
	[ "$(jq -r 'select(.status == "error") | .id' r.jsonl | wc -l)" -eq "$status" ]
}
