#!/usr/bin/env bats
# A slow or vanished reader of parrun's output: memory stays bounded, no
# worker is taken for dead because it was not read, every byte arrives in
# order; a reader that leaves stops the run as SIGPIPE stops a filter.

bats_require_minimum_version 1.5.0
load helpers

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
